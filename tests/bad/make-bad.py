#!/usr/bin/python3
"""Writes the catalogue of malformed files tests/test_load.c feeds to the loaders, one file
per way of being wrong. Each is small and made by hand from the format's definition; the
expected error text for each lives in the C test. The outputs are committed; rerunning
must reproduce them byte for byte: /usr/bin/python3 tests/bad/make-bad.py"""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


# ---- safetensors: the model expects w [2, 2] and b [2], both F32 ----

def st_raw(header_text, data, hlen=None):
    text = header_text.encode() if isinstance(header_text, str) else header_text
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text) if hlen is None else hlen) + text + data


def st(entries, data=None, meta=None):
    """entries: {name: (dtype, shape, [begin, end])} or any JSON value for the entry."""
    header = {} if meta is None else {"__metadata__": meta}
    for name, e in entries.items():
        header[name] = ({"dtype": e[0], "shape": e[1], "data_offsets": e[2]}
                        if isinstance(e, tuple) else e)
    if data is None:
        data = bytes(max([e[2][1] for e in entries.values() if isinstance(e, tuple)] + [0]))
    return st_raw(json.dumps(header), data)


GOOD = {"w": ("F32", [2, 2], [0, 16]), "b": ("F32", [2], [16, 24])}


def safetensors():
    good = st(GOOD)
    put("st-short.safetensors", good[:5])
    put("st-header-past-end.safetensors", struct.pack("<Q", 1000) + good[8:100])
    put("st-header-absurd.safetensors", struct.pack("<Q", 1 << 40) + good[8:])
    put("st-cut-in-header.safetensors", good[:40])
    put("st-cut-in-data.safetensors", good[:-14])
    put("st-bad-json.safetensors", st_raw('{"w": {"dtype": "F32",', b""))
    put("st-bad-utf8.safetensors", st_raw(b'{"w\xff": 1}', b""))
    put("st-duplicate-key.safetensors",
        st_raw('{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, '
               '"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}', bytes(16)))
    put("st-not-object.safetensors", st_raw("[1, 2]", b""))
    put("st-overlap.safetensors", st({"w": ("F32", [2, 2], [0, 16]), "b": ("F32", [2], [8, 16])}))
    put("st-gap.safetensors", st({"w": ("F32", [2, 2], [0, 16]), "b": ("F32", [2], [20, 28])}))
    put("st-not-from-zero.safetensors",
        st({"w": ("F32", [2, 2], [4, 20]), "b": ("F32", [2], [20, 28])}))
    put("st-out-of-range.safetensors", st(GOOD, bytes(16)))
    put("st-end-before-begin.safetensors",
        st({"w": ("F32", [2, 2], [16, 0]), "b": ("F32", [2], [16, 24])}, bytes(24)))
    put("st-dtype-unknown.safetensors", st({"w": ("F31", [2, 2], [0, 16]), "b": GOOD["b"]}))
    put("st-dtype-f64.safetensors", st({"w": ("F64", [2, 2], [0, 32]), "b": ("F32", [2], [32, 40])}))
    put("st-dtype-mismatch.safetensors", st({"w": ("F16", [2, 2], [0, 16]), "b": GOOD["b"]}))
    put("st-shape-bytes.safetensors", st({"w": ("F32", [3, 3], [0, 16]), "b": GOOD["b"]}))
    put("st-trailing.safetensors", st(GOOD, bytes(28)))
    put("st-missing.safetensors", st({"w": GOOD["w"]}))
    put("st-unexpected.safetensors", st(dict(GOOD, c=("F32", [1], [24, 28]))))
    put("st-wrong-shape.safetensors", st({"w": ("F32", [4], [0, 16]), "b": GOOD["b"]}))
    put("st-meta-number.safetensors", st(GOOD, meta={"labels": 3}))
    put("st-meta-not-object.safetensors", st(GOOD, meta="cat"))
    put("st-unknown-field.safetensors",
        st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16], "foo": 1},
            "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}}, bytes(24)))
    put("st-negative-dim.safetensors", st({"w": ("F32", [-1, 2], [0, 16]), "b": GOOD["b"]}))
    put("st-real-offsets.safetensors", st({"w": ("F32", [2, 2], [0.0, 16.0]), "b": GOOD["b"]}))
    put("st-entry-number.safetensors", st({"w": 5, "b": GOOD["b"]}, bytes(8)))
    put("st-shape-overflow.safetensors",
        st({"w": ("F32", [1 << 31, 1 << 31, 1 << 31], [0, 16]), "b": GOOD["b"]}))
    put("st-nul-in-string.safetensors", st(GOOD, meta={"labels": "a\u0000b"}))


# ---- .npy: headers written by hand ----

def npy(header, data, version=(1, 0), hlen=None):
    text = header.encode()
    lb = 2 if version[0] == 1 else 4
    text += b" " * (-(8 + lb + len(text) + 1) % 64) + b"\n"
    n = len(text) if hlen is None else hlen
    return (b"\x93NUMPY" + bytes(version) + n.to_bytes(lb, "little") + text + data)


def npy_dict(descr="'<f4'", fortran="False", shape="(2, 3)"):
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def npys():
    good = npy(npy_dict(), bytes(24))
    put("npy-magic.npy", b"\x93NUMPX" + good[6:])
    put("npy-version.npy", npy(npy_dict(), bytes(24), version=(4, 0)))
    put("npy-header-past-end.npy", npy(npy_dict(), bytes(24), hlen=500))
    put("npy-big-endian.npy", npy(npy_dict(descr="'>f4'"), bytes(24)))
    put("npy-fortran.npy", npy(npy_dict(fortran="True"), bytes(24)))
    put("npy-f8.npy", npy(npy_dict(descr="'<f8'"), bytes(48)))
    put("npy-short-data.npy", npy(npy_dict(), bytes(20)))
    put("npy-long-data.npy", npy(npy_dict(), bytes(28)))
    put("npy-cut-in-header.npy", good[:40])
    put("npy-cut-in-preamble.npy", good[:7])
    put("npy-unknown-key.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
                                   bytes(24)))
    put("npy-structured.npy", npy(npy_dict(descr="[('a', '<f4')]"), bytes(24)))
    put("npy-5d.npy", npy(npy_dict(shape="(1, 1, 1, 2, 3)"), bytes(24)))
    put("npy-0d.npy", npy(npy_dict(shape="()"), bytes(4)))
    put("npy-no-colon.npy", npy("{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3), }", bytes(24)))
    put("npy-twice.npy", npy("{'descr': '<f4', 'descr': '<f4', 'shape': (2, 3), }", bytes(24)))
    put("npy-no-shape.npy", npy("{'descr': '<f4', 'fortran_order': False}", bytes(24)))
    put("npy-huge-dim.npy", npy(npy_dict(shape="(99999999999,)"), bytes(24)))
    put("npy-shape-overflow.npy",
        npy(npy_dict(shape="(2147483647, 2147483647, 2147483647, 2147483647)"), bytes(24)))
    put("npy-trailing-text.npy", npy(npy_dict() + " x", bytes(24)))


# ---- PNG, chunk by chunk ----

def chunk(kind, body, crc=None):
    c = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", c)


SIG = b"\x89PNG\r\n\x1a\n"


def png(w, h, depth=8, color=0, rows=None, ihdr_crc=None, idat_crc=None):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    if rows is None:
        rows = b"".join(b"\0" + bytes(range(w)) for _ in range(h))
    return (SIG + chunk(b"IHDR", ihdr, ihdr_crc) + chunk(b"IDAT", zlib.compress(rows, 9), idat_crc)
            + chunk(b"IEND", b""))


def pngs():
    good = png(16, 4)
    put("png-cut.png", good[:60])
    put("png-ihdr-crc.png", png(16, 4, ihdr_crc=0x12345678))
    put("png-idat-crc.png", png(16, 4, idat_crc=0x12345678))
    put("png-huge.png", png(100000, 100000, rows=b""))
    put("png-too-many-pixels.png", png(8192, 8192, rows=b""))
    put("png-bomb.png", png(16000, 2000, rows=b""))
    put("png-signature-only.png", SIG)
    put("png-zero-width.png", png(0, 4, rows=b""))
    put("png-not-png.png", b"GIF89a this is not a png at all\n")
    put("png-short-rows.png", png(16, 4, rows=b"\0" * 17))


# ---- PGM ----

def pgms():
    put("pgm-maxval-0.pgm", b"P5\n2 2\n0\n" + bytes(4))
    put("pgm-maxval-65536.pgm", b"P5\n2 2\n65536\n" + bytes(8))
    put("pgm-cut.pgm", b"P5\n4 4\n255\n" + bytes(10))
    put("pgm-cut-16bit.pgm", b"P5\n2 2\n1000\n" + bytes(6))
    put("pgm-cut-ascii.pgm", b"P2\n3 3\n255\n1 2 3 4 5 6 7 8\n")
    put("pgm-cut-header.pgm", b"P5\n4 ")
    put("pgm-huge.pgm", b"P5\n100000 100000\n255\n")
    put("pgm-too-many-pixels.pgm", b"P5 8192 8192 255\n")
    put("pgm-p6.pgm", b"P6\n2 2\n255\n" + bytes(12))
    put("pgm-over-maxval.pgm", b"P2\n2 1\n10\n3 11\n")
    put("pgm-trailing.pgm", b"P5\n2 2\n255\n" + bytes(6))
    put("pgm-extra-values.pgm", b"P2\n2 1\n10\n3 4 5\n")
    put("pgm-bad-token.pgm", b"P5\n2x 2\n255\n" + bytes(4))
    put("pgm-zero-width.pgm", b"P5\n0 2\n255\n")
    put("pgm-over-maxval-16bit.pgm", b"P5\n1 1\n1000\n\x03\xe9")
    put("pgm-no-space.pgm", b"P52 2 255\n" + bytes(4))
    put("img-empty.pgm", b"")
    put("png-cut-signature.png", SIG[:5])


if __name__ == "__main__":
    safetensors()
    npys()
    pngs()
    pgms()
