"""Evaluates a NATIVE geqc executable on the Fashion-MNIST test set rotated by every angle.

    evaluate.py EXE WEIGHTS SIZE OUT.npz [--test-n N] [--step 10] [--about image|content]
                [--angles A,B,...] [--threads T] [--torch MODULE.py --torch-n K]

For each angle the rotated test images go to the executable as one .npy
(`EXE --weights W --input x.npy --output y.npy`); its logits' argmax is the prediction.
OUT.npz holds angles [A], predictions [A, N], labels [N] and accuracy [A].
With --torch, the first K upright images also go through the PyTorch module in eval mode,
and the script fails unless both give the same logits (to 1e-3 of their scale).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import fmnist


def run_native(exe, weights, x, tmp, threads):
    """[N, 10] logits of the executable on x [N, C, H, W]."""
    xin, yout = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(xin, np.ascontiguousarray(x, np.float32))
    cmd = [exe, "--weights", weights, "--input", xin, "--output", yout, "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"evaluate: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    y = np.load(yout)
    if y.shape != (len(x), 10):
        sys.exit(f"evaluate: {exe} wrote logits of shape {y.shape}, expected {(len(x), 10)}")
    return y


def crosscheck(module_path, weights, x, y_native, threads):
    """Fails unless the PyTorch module agrees with the native logits on x."""
    import torch
    from train import load_module
    torch.set_num_threads(threads)
    model = load_module(module_path).Model()
    model.load_safetensors(weights)
    model.eval()
    with torch.no_grad():
        y_torch = model(torch.from_numpy(x)).numpy()
    diff = np.abs(y_torch - y_native).max() / max(np.abs(y_torch).max(), 1e-12)
    same = (y_torch.argmax(1) == y_native.argmax(1)).mean()
    print(f"  {x.shape[-1]}x{x.shape[-1]} cross-check on {len(x)} upright images: PyTorch vs native max relative "
          f"difference {diff:.1e}, same prediction for {100 * same:.1f}%", flush=True)
    if diff > 1e-3:
        sys.exit("evaluate: the native executable disagrees with the PyTorch module")


def angle_list(args):
    if args.angles:
        return [int(a) for a in args.angles.split(",")]
    return list(range(0, 360, args.step))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("exe")
    ap.add_argument("weights")
    ap.add_argument("size", type=int, choices=(28, 29))
    ap.add_argument("out")
    ap.add_argument("--test-n", type=int, default=None, help="the first N test images")
    ap.add_argument("--step", type=int, default=10)
    ap.add_argument("--angles", default=None, help="comma-separated degrees (overrides --step)")
    ap.add_argument("--about", choices=("image", "content"), default="image")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--torch", default=None, help="the emitted PyTorch module to cross-check")
    ap.add_argument("--torch-n", type=int, default=500)
    args = ap.parse_args()
    images, labels = fmnist.load("test", args.test_n)
    angles = angle_list(args)
    preds = np.zeros((len(angles), len(images)), np.int64)
    name = f"{args.size}x{args.size}" + (" (content turned)" if args.about == "content" else "")
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="geqc-paper-") as tmp:
        for i, deg in enumerate(angles):
            x = fmnist.model_input(images, args.size, deg, args.about)
            logits = run_native(args.exe, args.weights, x, tmp, args.threads)
            if args.torch and deg == 0:
                k = min(args.torch_n, len(x))
                crosscheck(args.torch, args.weights, x[:k], logits[:k], args.threads)
            preds[i] = logits.argmax(1)
            acc = 100 * (preds[i] == labels).mean()
            rate = (i + 1) * len(images) / (time.time() - start)
            print(f"  {name} {deg:3d} deg: {acc:5.1f}%   ({rate:4.0f} img/s, "
                  f"{i + 1}/{len(angles)} angles)", flush=True)
    accuracy = (preds == labels[None]).mean(1)
    np.savez(args.out, angles=np.array(angles), preds=preds, labels=labels, accuracy=accuracy)


if __name__ == "__main__":
    sys.exit(main())
