"""Writes a handful of Fashion-MNIST test images to examples/ as PNG and PGM, for the
executables' image mode (`./fashion28 --weights W examples/fashion-coat.png`).

    paper/examples.py [OUT_DIR]        (default: examples)

Each picture is the first test image of its class; "-r90" / "-r180" files are the same
picture turned counter-clockwise by numpy.rot90, so the exact net must print the same
classes and probabilities for them.
"""
import os
import struct
import sys
import zlib

import numpy as np

import fmnist

# (class, quarter turns, format)
PICTURES = [("coat", 0, "png"), ("coat", 1, "png"), ("coat", 0, "pgm"),
            ("sneaker", 0, "png"), ("sneaker", 2, "png"), ("trouser", 0, "pgm"),
            ("bag", 0, "png")]
CLASS_OF = {"coat": 4, "sneaker": 7, "trouser": 1, "bag": 8}


def png_bytes(img):
    """An 8-bit grayscale PNG of img uint8 [H, W] (every row with filter type 0)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def pgm_bytes(img):
    """A binary (P5) PGM of img uint8 [H, W]."""
    h, w = img.shape
    return f"P5\n{w} {h}\n255\n".encode() + img.tobytes()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "examples"
    images, labels = fmnist.load("test")
    for name, turns, fmt in PICTURES:
        index = int(np.flatnonzero(labels == CLASS_OF[name])[0])
        img = np.ascontiguousarray(np.rot90(images[index], turns))
        suffix = f"-r{90 * turns}" if turns else ""
        path = os.path.join(out, f"fashion-{name}{suffix}.{fmt}")
        with open(path, "wb") as f:
            f.write(png_bytes(img) if fmt == "png" else pgm_bytes(img))
        print(f"{path}: test image {index} ({fmnist.CLASSES[CLASS_OF[name]]})")


if __name__ == "__main__":
    sys.exit(main())
