"""The experiment's table (markdown, also printed) and plot (PNG) from evaluate.py's results.

    report.py --epochs E --train-n N [--aug A] [--seed S] [--model paper|resnet]
              --md OUT.md --png OUT.png
              LINT28.json ACC28.npz LINT29.json ACC29.npz [ACC29_CONTENT.npz]

The legend carries each model's lint verdict from `geqc --lint-json`. The optional last
file holds the 29x29 net on the 28x28 picture rotated and then padded (evaluate.py
--about content), shown as extra points.
"""
import argparse
import json
import sys

import numpy as np


def verdict(lint):
    """ "exact for all of p4" or "broken for r, r2, r3", from a --lint-json object."""
    if not lint["broken"]:
        return f"exact for all of {lint['group']}"
    return f"broken for {', '.join(lint['broken'])}"


def load(lint_path, acc_path):
    with open(lint_path) as f:
        lint = json.load(f)
    acc = np.load(acc_path)
    return verdict(lint), dict(zip(acc["angles"].tolist(), 100 * acc["accuracy"])), len(acc["labels"])


def epochs(n):
    return f"{n} epoch" + ("" if str(n) == "1" else "s")


# How each training regime (train.py --aug) turned the training images, for titles and text.
REGIMES = {
    "upright": ("trained upright", "no augmentation"),
    "rot90": ("trained on quarter turns",
              "each image turned by a random multiple of 90 degrees (numpy.rot90), anew each epoch"),
    "gauss45": ("trained on rotations ~ N(45, 20) degrees",
                "each image turned by an angle ~ N(45, 20) degrees (bilinear, zero fill), anew "
                "each epoch"),
    "uniform": ("trained on uniform rotations",
                "each image turned by an angle drawn uniformly from [0, 360) degrees (bilinear, "
                "zero fill), anew each epoch"),
}
MODELS = {"paper": "the P4CNN", "resnet": "the small p4 ResNet"}


def mean_at(acc, angles):
    vals = [acc[a] for a in angles if a in acc]
    return sum(vals) / len(vals) if vals else float("nan")


def table(v28, a28, v29, a29, content):
    rows = [f"| angle | 28x28: {v28} | 29x29: {v29} |", "|---:|---:|---:|"]
    for a in sorted(a28):
        extra = f" ({content[a]:.1f} turned, then padded)" if a in content and a % 360 else ""
        rows.append(f"| {a} | {a28[a]:.1f} | {a29.get(a, float('nan')):.1f}{extra} |")
    for label, angles in (("mean of 90, 180, 270", (90, 180, 270)),
                          ("mean of all angles", sorted(a28))):
        rows.append(f"| {label} | {mean_at(a28, angles):.1f} | {mean_at(a29, angles):.1f} |")
    return "\n".join(rows)


def markdown(args, v28, a28, v29, a29, content, ntest):
    title, how = REGIMES[args.aug]
    head = (f"# Fashion-MNIST, {MODELS[args.model]} {title} for {epochs(args.epochs)}, "
            f"tested rotated\n\n"
            f"Test accuracy (%) of the native geqc executables on {ntest} test images rotated "
            f"counter-clockwise about the centre of each model's input (multiples of 90 "
            f"degrees: exact `numpy.rot90`; others: bilinear, zero fill). Training: "
            f"{args.train_n} images, Adam (lr 1e-3, cosine decay to 0), batch 64, "
            f"seed {args.seed}, {how}, the same for both nets. The 29x29 input is the 28x28 "
            f"image with one zero row at the bottom and one zero column at the right.\n")
    if content:
        head += ("\nIn brackets: the 29x29 net when the 28x28 picture is rotated first and "
                 "padded after, i.e. turned about the centre of the pool's grid instead of "
                 "the centre of the net's input.\n")
    return head + "\n" + table(v28, a28, v29, a29, content) + "\n"


def plot(path, args, v28, a28, v29, a29, content, ntest):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    for acc, label, style in ((a28, f"28x28 (lint: {v28})", "o-"),
                              (a29, f"29x29 (lint: {v29})", "s-")):
        angles = sorted(acc)
        ax.plot(angles, [acc[a] for a in angles], style, ms=3.5, label=label)
    if content:
        angles = sorted(content)
        ax.plot(angles, [content[a] for a in angles], "^", color="gray", ms=6,
                label="29x29, picture turned then padded")
    for a in (90, 180, 270):
        ax.axvline(a, color="lightgray", lw=0.8, zorder=0)
    ax.set_xlabel("rotation of the test images (degrees, counter-clockwise)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(range(0, 361, 45))
    ax.set_xlim(-5, 355)
    ax.set_ylim(0, 100)
    ax.set_title(f"Fashion-MNIST, {MODELS[args.model]} {REGIMES[args.aug][0]}\n"
                 f"({epochs(args.epochs)}, {args.train_n} images, seed {args.seed}), "
                 f"{ntest} test images")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small")
    ax.grid(alpha=0.3)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", required=True)
    ap.add_argument("--train-n", type=int, required=True)
    ap.add_argument("--aug", choices=sorted(REGIMES), default="upright")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", choices=sorted(MODELS), default="paper")
    ap.add_argument("--md", required=True)
    ap.add_argument("--png", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if len(args.files) not in (4, 5):
        ap.error("expected LINT28 ACC28 LINT29 ACC29 [ACC29_CONTENT]")
    v28, a28, ntest = load(args.files[0], args.files[1])
    v29, a29, _ = load(args.files[2], args.files[3])
    content = {}
    if len(args.files) == 5:
        acc = np.load(args.files[4])
        content = dict(zip(acc["angles"].tolist(), 100 * acc["accuracy"]))
    text = markdown(args, v28, a28, v29, a29, content, ntest)
    with open(args.md, "w") as f:
        f.write(text)
    plot(args.png, args, v28, a28, v29, a29, content, ntest)
    print(text)
    print(f"wrote {args.md} and {args.png}")


if __name__ == "__main__":
    sys.exit(main())
