"""Trains a model emitted by `geqc --emit=pytorch` on Fashion-MNIST, upright or rotated,
and saves its weights as safetensors with the class names in the metadata.

    train.py MODULE.py SIZE OUT.safetensors [--epochs E] [--train-n N] [--seed S]
             [--aug upright|rot90|gauss45|uniform] [--save-batch B.npz]

SIZE is the model's input side, 28 or 29 (29: every image padded as fmnist.pad29).
--aug turns every training image by its own angle, drawn anew each epoch, about the
centre of the model's input (for 29, the padded image: as evaluate.py turns the test
images): rot90 by a uniformly drawn quarter turn (numpy.rot90, exact), gauss45 by an
angle ~ N(45, 20) degrees and uniform by one in [0, 360) (both bilinear, zero fill).
The schedule is the same for every model: the seed fixes the initial weights, the order
of the batches and the angles, so the 28 and 29 nets start equal and see the same images
turned the same way. --save-batch writes the first batch as the model saw it (x), the
indices of its images (index) and their angles (degrees), for the tests.
"""
import argparse
import importlib.util
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import fmnist

BATCH = 64
LR = 1e-3
AUGS = ("upright", "rot90", "gauss45", "uniform")


def load_module(path):
    spec = importlib.util.spec_from_file_location("geqc_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dataset(size, n):
    images, labels = fmnist.load("train", n)
    x = fmnist.to_input(images)
    if size == 29:
        x = fmnist.pad29(x)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(labels)


def angles(aug, n, rng):
    """n angles in degrees for the regime aug, drawn from the numpy Generator rng."""
    if aug == "upright":
        return np.zeros(n)
    if aug == "rot90":
        return 90.0 * rng.integers(0, 4, n)
    if aug == "gauss45":
        return rng.normal(45.0, 20.0, n)
    return rng.uniform(0.0, 360.0, n)


def rotate_each(x, deg):
    """The square images x [B, C, H, W], image i turned counter-clockwise by deg[i] about
    its centre, bilinear with zero fill: fmnist.rotate's pixels (to float rounding) at a
    hundredth of the cost, which matters here (a numpy batch costs as much as a step).
    With align_corners, -1 and 1 are the centres of the corner pixels, so the centre is
    (H-1)/2; rows grow downwards, so the output at (u, v) samples the input at
    (u cos t - v sin t, u sin t + v cos t) in grid_sample's (x, y) order."""
    t = torch.deg2rad(torch.as_tensor(deg, dtype=torch.float64))
    c, s, zero = torch.cos(t), torch.sin(t), torch.zeros_like(t)
    theta = torch.stack([torch.stack([c, -s, zero], 1), torch.stack([s, c, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def augment(x, aug, rng):
    """(the batch x [B, C, H, W] turned as the regime aug says, the angles in degrees)."""
    deg = angles(aug, len(x), rng)
    if aug == "upright":
        return x, deg
    if aug == "rot90":
        turned = [torch.rot90(img, int(d) // 90, dims=(-2, -1)) for img, d in zip(x, deg)]
        return torch.stack(turned).contiguous(), deg
    return rotate_each(x, deg), deg


def progress(name, epoch, epochs, done, total, loss, correct, start):
    rate = done / max(time.time() - start, 1e-9)
    left = (total * (epochs - epoch) - done) / rate
    print(f"  {name} epoch {epoch + 1}/{epochs} {done:6d}/{total}  loss {loss / done:.3f}  "
          f"train acc {100 * correct / done:5.1f}%  {rate:4.0f} img/s  eta {left:4.0f} s",
          flush=True)


def train_epoch(run, model, opt, sched, x, y, epoch):
    """One pass over x in a seeded random order; prints progress about ten times."""
    order = torch.randperm(len(x), generator=run.gen)
    loss_sum, correct, start = 0.0, 0, time.time()
    nbatch = math.ceil(len(x) / BATCH)
    report = max(1, nbatch // 10)
    for b in range(nbatch):
        idx = order[b * BATCH:(b + 1) * BATCH]
        xb, deg = augment(x[idx], run.aug, run.rng)
        if run.save_batch and epoch == 0 and b == 0:
            np.savez(run.save_batch, x=xb.numpy(), index=idx.numpy(), degrees=deg)
        logits = model(xb)
        loss = F.cross_entropy(logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        loss_sum += loss.item() * len(idx)
        correct += (logits.argmax(1) == y[idx]).sum().item()
        if (b + 1) % report == 0 or b + 1 == nbatch:
            done = min((b + 1) * BATCH, len(x))
            progress(run.name, epoch, run.epochs, done, len(x), loss_sum, correct, start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module")
    ap.add_argument("size", type=int, choices=(28, 29))
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-n", type=int, default=None, help="the first N training images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--aug", choices=AUGS, default="upright")
    ap.add_argument("--save-batch", default=None, help="write the first batch here (.npz)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    module = load_module(args.module)
    x, y = dataset(args.size, args.train_n)
    torch.manual_seed(args.seed)
    model = module.Model()
    model.train()
    # Adam with a cosine decay of the step size to 0 over the whole run.
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps = args.epochs * math.ceil(len(x) / BATCH)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    # The batch order and the angles have their own generators, so that the upright run
    # sees the same batches as before the augmentation existed.
    run = argparse.Namespace(gen=torch.Generator().manual_seed(args.seed),
                             rng=np.random.default_rng(args.seed), aug=args.aug,
                             name=f"{args.size}x{args.size}", epochs=args.epochs,
                             save_batch=args.save_batch)
    start = time.time()
    for epoch in range(args.epochs):
        train_epoch(run, model, opt, sched, x, y, epoch)
    model.eval()
    model.save_safetensors(args.out, labels=fmnist.CLASSES)
    print(f"  {run.name}: trained {args.epochs} epoch(s) on {len(x)} {args.aug} images in "
          f"{time.time() - start:.0f} s -> {args.out}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
