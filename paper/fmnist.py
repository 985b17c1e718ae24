"""Fashion-MNIST from Debian's dataset-fashion-mnist, and the geometry of the experiment:
the one-pixel pad that makes 29x29 inputs, and rotations about an image's centre.

Everything here is numpy only, so that the training, the evaluation and the tests agree
on exactly the same pixels.
"""
import gzip
import os

import numpy as np

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# IDX: two zero bytes, a type code, the number of dimensions, then each dimension as a
# big-endian uint32, then the data in C order.
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """The array stored in a (gzip-compressed) IDX file."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    start = 4 + 4 * ndim
    if len(raw) - start != dtype.itemsize * int(np.prod(dims)):
        raise ValueError(f"{path}: {len(raw) - start} data bytes for dimensions {dims}")
    return np.frombuffer(raw, dtype, offset=start).reshape(dims)


def load(split, n=None):
    """(images uint8 [N, 28, 28], labels int64 [N]) of split "train" or "test", the first n."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(f"{split}: {images.shape} images for {labels.shape} labels")
    return images[:n], labels[:n].astype(np.int64)


def to_input(images):
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [0, 1], as the native image mode reads
    a PNG or PGM: no other normalisation, so a picture file and the tensor agree."""
    return (images.astype(np.float32) / 255.0)[:, None]


def pad29(x):
    """[..., 28, 28] -> [..., 29, 29]: one zero row at the bottom and one zero column at the
    right. Upright, the 2x2 pool of the 29 model then pairs the same content pixels as the
    28 model's (it drops the padding), so the two nets differ only off the upright pose."""
    pad = [(0, 0)] * (x.ndim - 2) + [(0, 1), (0, 1)]
    return np.pad(x, pad)


def rotate(x, degrees):
    """x [..., H, W] rotated counter-clockwise about the centre of its own H x W grid.
    Multiples of 90 are exact pixel permutations (numpy.rot90, the SPEC's r); other angles
    are bilinear interpolation with zero fill outside the image."""
    if degrees % 90 == 0:
        return np.ascontiguousarray(np.rot90(x, (degrees // 90) % 4, axes=(-2, -1)))
    return _rotate_bilinear(x, np.deg2rad(degrees))


def _rotate_bilinear(x, theta):
    h, w = x.shape[-2:]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    u, v = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    # The source of output pixel (u, v), rotated back by -theta. At 90 degrees this is
    # (v, -u): numpy.rot90's out[i, j] = in[j, W-1-i].
    sy = cy + u * np.cos(theta) + v * np.sin(theta)
    sx = cx - u * np.sin(theta) + v * np.cos(theta)
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = (sy - y0).astype(np.float32), (sx - x0).astype(np.float32)
    out = np.zeros(x.shape, np.float32)
    for dy, dx, wt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                       (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yy, xx = y0 + dy, x0 + dx
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        src = x[..., np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
        out += src * (wt * inside)
    return out.astype(x.dtype, copy=False)


def model_input(images, size, degrees, about="image"):
    """What a model of input size 28 or 29 sees of the test images rotated by degrees.

    about="image": the model's own input rotated about its centre (for 29, the padded
    image: pad, then rotate). That is the rotation the lint reasons about (SPEC section 1).
    about="content": the 28x28 picture rotated, then padded. It turns about (13.5, 13.5) of
    the 29x29 grid, the centre of the 2x2 pool's sampled grid, so a multiple of 90 degrees
    maps that grid onto itself; what still breaks the symmetry is the zero border, which
    stays at the bottom and right while the picture turns (a trained net uses it too)."""
    x = to_input(images)
    if size == 28:
        return rotate(x, degrees)
    if about == "content":
        return pad29(rotate(x, degrees))
    return rotate(pad29(x), degrees)
