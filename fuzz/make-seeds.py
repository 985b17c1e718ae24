#!/usr/bin/python3
"""Writes the seed corpus of every fuzz target into OUT/TARGET/ (default build/fuzz/seeds):
the project's real files (examples, test inputs, the malformed catalogue of tests/bad) and
valid files of every kind the loaders accept, made here with numpy and zlib: weights for
fuzz/tiny.geq in F32, F16 and BF16, .npy arrays of versions 1-3, PNGs of every colour type,
depth and interlacing, PGMs in both encodings. Deterministic: the same bytes every run.
Usage: /usr/bin/python3 fuzz/make-seeds.py [OUT]"""
import glob
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import numpy.lib.format as npf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("geq", "safetensors", "npy", "png", "pgm")


def copy(out, target, patterns):
    for pattern in patterns:
        for src in sorted(glob.glob(os.path.join(ROOT, pattern))):
            name = os.path.relpath(src, ROOT).replace("/", "_")
            shutil.copyfile(src, os.path.join(out, target, name))


def put(out, target, name, data):
    with open(os.path.join(out, target, "gen-" + name), "wb") as f:
        f.write(data)


# ---- safetensors: fuzz/tiny.geq's parameters, as fuzz/fuzz_safetensors.c lists them ----

TINY = [("lift1.weight", (2, 1, 3, 3)), ("lift1.bias", (2,)), ("bn1.weight", (2,)),
        ("bn1.bias", (2,)), ("bn1.running_mean", (2,)), ("bn1.running_var", (2,)),
        ("gconv1.weight", (2, 2, 4, 3, 3)), ("gconv1.bias", (2,)),
        ("linear1.weight", (3, 2)), ("linear1.bias", (3,))]


def raw(a, dtype):
    a = a.astype(np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    return (a.view(np.uint32) >> 16).astype("<u2").tobytes()  # BF16: the top half


def safetensors(tensors, metadata=None, order=None):
    """tensors: [(name, dtype, shape, bytes)], data laid out in `order` (names)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    by_name = {t[0]: t for t in tensors}
    for name in order or [t[0] for t in tensors]:
        _, dtype, shape, body = by_name[name]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(body)]}
        data += body
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def tiny_weights(rng, special=False):
    w = {}
    for name, shape in TINY:
        a = rng.standard_normal(shape).astype(np.float32)
        if name.endswith("running_var"):
            a = np.abs(a) + 0.5
        if special:
            a.flat[0] = [np.inf, -np.inf, np.nan, 0.0][len(w) % 4]
        w[name] = a
    return w


def safetensors_seeds(out):
    copy(out, "safetensors", ["tests/bad/*.safetensors", "tests/data/*.safetensors"])
    rng = np.random.default_rng(7)
    w = tiny_weights(rng)
    labels = {"labels": "zero\none\ntwo", "format": "pt"}
    for dtype in ("F32", "F16", "BF16"):
        t = [(n, dtype, w[n].shape, raw(w[n], dtype)) for n, _ in TINY]
        put(out, "safetensors", "tiny-%s.safetensors" % dtype.lower(), safetensors(t, labels))
    mixed = [(n, d, w[n].shape, raw(w[n], d))
             for (n, _), d in zip(TINY, ["F32", "F16", "BF16"] * 4)]
    put(out, "safetensors", "tiny-mixed.safetensors",
        safetensors(mixed, None, order=sorted(n for n, _ in TINY)[::-1]))
    s = tiny_weights(rng, special=True)
    t = [(n, "F32", s[n].shape, raw(s[n], "F32")) for n, _ in TINY]
    put(out, "safetensors", "tiny-inf-nan.safetensors", safetensors(t, {}))
    wb = [("w", "F32", (2, 2), raw(np.arange(4.0), "F32")), ("b", "F16", (2,),
                                                               raw(np.ones(2), "F16"))]
    put(out, "safetensors", "wb.safetensors", safetensors(wb, {"labels": "a\nb"}))


# ---- .npy ----

def npy_bytes(a, version):
    import io
    f = io.BytesIO()
    npf.write_array(f, a, version=version)
    return f.getvalue()


def npy_seeds(out):
    copy(out, "npy", ["tests/bad/*.npy", "tests/data/*.npy"])
    rng = np.random.default_rng(11)
    shapes = [(5,), (0,), (2, 3), (1, 2, 3), (2, 1, 4, 3), (3, 0, 2)]
    for i, shape in enumerate(shapes):
        a = rng.standard_normal(shape).astype("<f4")
        put(out, "npy", "shape%d.npy" % i, npy_bytes(a, (1, 0)))
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4e38], dtype="<f4")
    put(out, "npy", "special.npy", npy_bytes(special, (1, 0)))
    put(out, "npy", "v2.npy", npy_bytes(np.ones((2, 2), "<f4"), (2, 0)))
    put(out, "npy", "v3.npy", npy_bytes(np.ones((3,), "<f4"), (3, 0)))
    put(out, "npy", "f8.npy", npy_bytes(np.ones((2,), "<f8"), (1, 0)))
    put(out, "npy", "fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 3), "<f4")), (1, 0)))


# ---- PNG, written chunk by chunk from the specification ----

SIG = b"\x89PNG\r\n\x1a\n"
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]  # x0, y0, dx, dy


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def pack_row(samples, depth):
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in samples)
    if depth == 8:
        return bytes(samples)
    bits = "".join(format(v, "0%db" % depth) for v in samples)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def raster(img, depth, interlace, filt):
    """img: h rows of w pixels, each a tuple of samples. Each row gets filter type `filt`
    only when it is 0 (None) or 1 (Sub, byte-wise for depth >= 8); others stay None."""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    h, w = len(img), len(img[0])
    out = b""
    for x0, y0, dx, dy in passes:
        for y in range(y0, h, dy):
            px = [img[y][x] for x in range(x0, w, dx)]
            if not px:
                continue
            row = pack_row([s for p in px for s in p], depth)
            bpp = max(1, len(img[0][0]) * depth // 8)
            if filt == 1 and depth >= 8:
                row = bytes((row[i] - (row[i - bpp] if i >= bpp else 0)) & 255
                            for i in range(len(row)))
                out += b"\1" + row
            else:
                out += b"\0" + row
    return out


def png(w, h, depth, color, interlace=0, extra=b"", filt=0, split_idat=False):
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    top = (1 << depth) - 1
    img = [[tuple((x * 7 + y * 13 + c * 29) % (top + 1) for c in range(channels))
            for x in range(w)] for y in range(h)]
    data = zlib.compress(raster(img, depth, interlace, filt), 9)
    idat = (chunk(b"IDAT", data[:len(data) // 2]) + chunk(b"IDAT", data[len(data) // 2:])
            if split_idat else chunk(b"IDAT", data))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    return SIG + chunk(b"IHDR", ihdr) + extra + idat + chunk(b"IEND", b"")


def png_seeds(out):
    copy(out, "png", ["examples/*.png", "tests/bad/png-*.png"])
    for depth in (1, 2, 4, 8, 16):
        put(out, "png", "gray%d.png" % depth, png(9, 5, depth, 0))
        pal = chunk(b"PLTE", bytes(i * 5 % 256 for i in range(3 * (1 << min(depth, 8)))))
        trns = chunk(b"tRNS", bytes(i % 256 for i in range(1 << min(depth, 8))))
        if depth <= 8:
            put(out, "png", "palette%d.png" % depth, png(9, 5, depth, 3, extra=pal + trns))
    for depth in (8, 16):
        put(out, "png", "rgb%d.png" % depth, png(7, 6, depth, 2, filt=1))
        put(out, "png", "ga%d.png" % depth, png(7, 6, depth, 4))
        put(out, "png", "rgba%d.png" % depth, png(7, 6, depth, 6, interlace=1))
    put(out, "png", "gray4-adam7.png", png(11, 9, 4, 0, interlace=1))
    put(out, "png", "gray-trns.png",
        png(5, 5, 8, 0, extra=chunk(b"tRNS", b"\0\7") + chunk(b"gAMA", struct.pack(">I", 45455))))
    text = chunk(b"tEXt", b"Comment\0seed") + chunk(b"zTXt", b"Title\0\0" + zlib.compress(b"x"))
    put(out, "png", "chunks-split-idat.png", png(16, 16, 8, 2, extra=text, split_idat=True))


# ---- PGM ----

def pgm_seeds(out):
    copy(out, "pgm", ["examples/*.pgm", "tests/bad/pgm-*.pgm", "tests/bad/img-*.pgm",
                      "tests/data/*.pgm"])
    put(out, "pgm", "p5-8.pgm", b"P5\n4 3\n255\n" + bytes(range(0, 240, 20)))
    put(out, "pgm", "p5-16.pgm", b"P5 2 2 65535\n" + struct.pack(">4H", 0, 1, 65534, 65535))
    put(out, "pgm", "p5-comment.pgm", b"P5\n# made by make-seeds\n2 1\n# maxval\n7\n\x00\x07")
    put(out, "pgm", "p2-16.pgm", b"P2\n3 1\n1000\n0 500 1000\n")
    put(out, "pgm", "p2-maxval1.pgm", b"P2 2 2 1\n0 1\n1 0\n")
    put(out, "pgm", "p2-comments.pgm", b"P2\n2#w\n2 #h\n9#m\n1#a\n2 3\n#b\n4\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "fuzz", "seeds")
    for t in TARGETS:
        shutil.rmtree(os.path.join(out, t), ignore_errors=True)
        os.makedirs(os.path.join(out, t))
    copy(out, "geq", ["examples/*.geq", "tests/errors/*.geq", "tests/lint/*.geq",
                      "tests/native/*.geq", "tests/native/models/*.geq", "fuzz/*.geq"])
    safetensors_seeds(out)
    npy_seeds(out)
    png_seeds(out)
    pgm_seeds(out)
    counts = ", ".join("%s %d" % (t, len(os.listdir(os.path.join(out, t)))) for t in TARGETS)
    print("make-seeds: %s (in %s)" % (counts, out))


if __name__ == "__main__":
    main()
