"""Trains a model emitted by `geqc --emit=pytorch` on upright Fashion-MNIST and saves its
weights as safetensors with the class names in the metadata.

    train.py MODULE.py SIZE OUT.safetensors [--epochs E] [--train-n N] [--seed S]

SIZE is the model's input side, 28 or 29 (29: every image padded as fmnist.pad29).
The schedule is the same for every model: the seed fixes both the initial weights and
the order of the batches, so the 28 and 29 nets start equal and see the same images.
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


def progress(name, epoch, epochs, done, total, loss, correct, start):
    rate = done / max(time.time() - start, 1e-9)
    left = (total * (epochs - epoch) - done) / rate
    print(f"  {name} epoch {epoch + 1}/{epochs} {done:6d}/{total}  loss {loss / done:.3f}  "
          f"train acc {100 * correct / done:5.1f}%  {rate:4.0f} img/s  eta {left:4.0f} s",
          flush=True)


def train_epoch(name, model, opt, sched, x, y, gen, epoch, epochs):
    """One pass over x in a seeded random order; prints progress about ten times."""
    order = torch.randperm(len(x), generator=gen)
    loss_sum, correct, start = 0.0, 0, time.time()
    nbatch = math.ceil(len(x) / BATCH)
    report = max(1, nbatch // 10)
    for b in range(nbatch):
        idx = order[b * BATCH:(b + 1) * BATCH]
        logits = model(x[idx])
        loss = F.cross_entropy(logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        loss_sum += loss.item() * len(idx)
        correct += (logits.argmax(1) == y[idx]).sum().item()
        if (b + 1) % report == 0 or b + 1 == nbatch:
            done = min((b + 1) * BATCH, len(x))
            progress(name, epoch, epochs, done, len(x), loss_sum, correct, start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module")
    ap.add_argument("size", type=int, choices=(28, 29))
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-n", type=int, default=None, help="the first N training images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
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
    gen = torch.Generator().manual_seed(args.seed)
    name = f"{args.size}x{args.size}"
    start = time.time()
    for epoch in range(args.epochs):
        train_epoch(name, model, opt, sched, x, y, gen, epoch, args.epochs)
    model.eval()
    model.save_safetensors(args.out, labels=fmnist.CLASSES)
    print(f"  {name}: trained {args.epochs} epoch(s) on {len(x)} images in "
          f"{time.time() - start:.0f} s -> {args.out}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
