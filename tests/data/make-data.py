#!/usr/bin/python3
"""Writes the reference files tests/test_load.c reads, with real tools: numpy's own .npy
writer (versions 1.0, 2.0, 3.0), a safetensors file from a small writer that follows the
format's spec (with F16 values converted by numpy and BF16 by torch), and a PGM with
comments. Run from anywhere: /usr/bin/python3 tests/data/make-data.py. The outputs are
committed; rerunning must reproduce them byte for byte."""
import json
import os
import struct

import numpy as np
import numpy.lib.format as npf
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def ramp(shape, scale=0.25, offset=-1.0):
    """Values the C test recomputes from the formula: i * scale + offset."""
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float64) * scale + offset).astype(np.float32).reshape(shape)


def write_npy(name, a, version):
    with open(path(name), "wb") as f:
        npf.write_array(f, a, version=version)


def safetensors_bytes(tensors, metadata):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in the given order, as
    the reference writer does (largest alignment first, then by name)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f16_values():
    """Every kind of half: zeros, subnormals, normals, the extremes, inf and nan."""
    bits = [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00, 0xbc00, 0x3555,
            0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x4248, 0x0200, 0x1234]
    return np.array(bits, dtype=np.uint16).view(np.float16)


def bf16_values():
    vals = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.140625, 1e-40, -1e38, 65504.0, 1e-3,
                         float("inf"), float("-inf"), float("nan")], dtype=torch.float32)
    return vals.to(torch.bfloat16)


def main():
    write_npy("v1.npy", ramp((2, 3, 4)), (1, 0))
    np.save(path("np-save.npy"), ramp((1, 2, 3, 4), 0.5, 3.0))
    write_npy("v2.npy", ramp((3, 5), 0.125, 2.0), (2, 0))
    write_npy("v3.npy", ramp((7,), -1.5, 0.5), (3, 0))

    h = f16_values()
    b = bf16_values()
    w = ramp((2, 3))
    tensors = [("a.weight", "F32", w.shape, w.astype("<f4").tobytes()),
               ("z.half", "F16", h.shape, h.astype("<f2").tobytes()),
               ("m.brain", "BF16", tuple(b.shape), b.view(torch.int16).numpy().astype("<i2").tobytes())]
    meta = {"format": "pt", "labels": "cat\ndog\nbird"}
    with open(path("ref.safetensors"), "wb") as f:
        f.write(safetensors_bytes(tensors, meta))
    # The references are numpy's and torch's own widening to float32.
    np.save(path("ref-f16.npy"), h.astype(np.float32))
    np.save(path("ref-bf16.npy"), b.to(torch.float32).numpy())

    with open(path("comments.pgm"), "wb") as f:
        f.write(b"P2\n# a comment\n3 # width\n2\n# maxval next\n10\n0 1 2\n# mid-raster\n3 4 10\n")


if __name__ == "__main__":
    main()
