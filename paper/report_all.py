"""The combined table (markdown) and plots of `make paper-all` (paper/run-all.sh).

    report_all.py --epochs E --train-n N --md OUT.md --png OUT.png --png-resnet OUT2.png
                  RUN_DIR...

Each RUN_DIR is MODEL-AUG-sSEED/ as paper/run.sh --lean leaves it (lint28.json,
acc28.npz, lint29.json, acc29.npz, seconds). Runs of the same model and regime are the
seeds of one row: accuracies are given as mean +- sample standard deviation over them,
and the gap (the net the lint calls broken minus the exact one) is taken seed by seed, since
both nets of a seed start from the same weights (their parameters' shapes do not depend on
the input size) and see the same batches turned the same way.
"""
import argparse
import os
import re
import sys

import numpy as np

import report

AUGS = ("upright", "rot90", "gauss45", "uniform")
DATA = {"upright": "upright", "rot90": "quarter turns",
        "gauss45": "rotations ~ N(45°, 20°)", "uniform": "uniform rotations"}
COLUMNS = (0, 90, 180, 270)


def load_run(path):
    """{size: (verdict, accuracy [36] in %)}, seconds, load average of one run directory."""
    nets = {}
    for n in (28, 29):
        verdict, acc, ntest = report.load(os.path.join(path, f"lint{n}.json"),
                                          os.path.join(path, f"acc{n}.npz"))
        angles = sorted(acc)
        if angles != list(range(0, 360, 10)):
            sys.exit(f"report_all: {path}: angles {angles}, expected 0, 10, ..., 350")
        nets[n] = (verdict, np.array([acc[a] for a in angles]))
    with open(os.path.join(path, "seconds")) as f:
        fields = f.read().split()
    return nets, ntest, int(fields[0]), float(fields[1])


def collect(dirs):
    """{(model, aug): [run, ...]} ordered by seed; run = (seed, nets, ntest, seconds, load)."""
    groups = {}
    for d in dirs:
        m = re.fullmatch(r"(\w+)-(\w+)-s(\d+)", os.path.basename(os.path.normpath(d)))
        if not m:
            sys.exit(f"report_all: {d}: not a MODEL-AUG-sSEED directory")
        nets, ntest, seconds, load = load_run(d)
        groups.setdefault((m[1], m[2]), []).append((int(m[3]), nets, ntest, seconds, load))
    for runs in groups.values():
        runs.sort(key=lambda r: r[0])
    return groups


def stat(values):
    """mean +- std (sample) of a list of numbers; just the number for one seed."""
    v = np.asarray(values, float)
    if len(v) == 1:
        return f"{v[0]:.1f}"
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"


def columns(acc):
    """accuracy [seeds, 36] -> [seeds, 5]: at 0, 90, 180, 270 and the mean of 36 angles."""
    return np.concatenate([acc[:, [a // 10 for a in COLUMNS]], acc.mean(1, keepdims=True)], 1)


def rows(model, aug, runs):
    """The table rows of one model and regime: the two nets, then the gap (the net the lint
    calls broken minus the exact one, seed by seed)."""
    out, cols = [], {}
    for n in (28, 29):
        verdict = runs[0][1][n][0]
        cols[verdict.startswith("broken")] = columns(np.stack([r[1][n][1] for r in runs]))
        cells = " | ".join(stat(c) for c in cols[verdict.startswith("broken")].T)
        out.append(f"| {DATA[aug]} | {model}{n} ({verdict}) | {cells} |")
    gap = cols[True] - cols[False]
    cells = " | ".join(signed(g) for g in gap.T)
    out.append(f"| {DATA[aug]} | gap: one pixel off − exact | {cells} |")
    return out


def signed(values):
    v = np.asarray(values, float)
    s = f"{v.mean():+.1f}"
    return s if len(v) == 1 else f"{s} ± {v.std(ddof=1):.1f}"


def table(groups):
    head = ["| training data | net (lint) | 0 | 90 | 180 | 270 | mean of 36 angles |",
            "|---|---|---:|---:|---:|---:|---:|"]
    body = []
    for model in ("paper", "resnet"):
        for aug in AUGS:
            if (model, aug) in groups:
                body += rows(model, aug, groups[(model, aug)])
    return "\n".join(head + body)


def timing(groups):
    lines = ["| model, regime | seeds | wall-clock per seed (s) | 1-min load at its end |",
             "|---|---|---|---|"]
    total = 0
    for (model, aug), runs in sorted(groups.items()):
        secs = [r[3] for r in runs]
        total += sum(secs)
        lines.append(f"| {model}, {aug} | {', '.join(str(r[0]) for r in runs)} | "
                     f"{', '.join(map(str, secs))} | {', '.join(f'{r[4]:.1f}' for r in runs)} |")
    return "\n".join(lines), total


def markdown(args, groups):
    ntest = next(iter(groups.values()))[0][2]
    nseeds = sorted({len(r) for r in groups.values()})
    times, total = timing(groups)
    return (f"# Fashion-MNIST: both claims, {report.epochs(args.epochs)} on {args.train_n} "
            f"training images, {ntest} test images x 36 angles\n\n"
            f"Made by `make paper-all` (paper/run-all.sh). Test accuracy (%) of the native geqc "
            f"executables, mean ± standard deviation over {'/'.join(map(str, nseeds))} seeds "
            f"(the seed fixes the initial weights, the batches and the training angles; both "
            f"nets of a seed share them). Each net's own input is turned about its centre "
            f"(multiples of 90 degrees: exact `numpy.rot90`; others: bilinear, zero fill); the "
            f"29x29 input is the 28x28 image with one zero row at the bottom and one zero "
            f"column at the right. Training: the first {args.train_n} training images, Adam "
            f"(lr 1e-3, cosine decay to 0), batch 64, each image turned anew each epoch as "
            f"its regime says. The gap rows are the net the lint calls broken minus the exact "
            f"one, seed by seed. paper28 is exact for all of p4 and paper29 one pixel off "
            f"(its 2x2 pool); "
            f"for the ResNet it is the other way round (its stride-2 convolutions are centred "
            f"on 29x29).\n\n"
            f"{table(groups)}\n\n"
            f"Wall-clock time of each run (lint, emit, training and evaluation of both nets, "
            f"side by side, one thread each, under `nice`, on a machine shared with other "
            f"jobs): {total} s summed over the runs ({total / 60:.0f} min).\n\n{times}\n")


def curves(ax, runs, title):
    angles = np.arange(0, 360, 10)
    for n, style in ((28, "o-"), (29, "s-")):
        acc = np.stack([r[1][n][1] for r in runs])
        mean, std = acc.mean(0), acc.std(0, ddof=1) if len(acc) > 1 else np.zeros(36)
        line, = ax.plot(angles, mean, style, ms=3, label=f"{n}x{n} ({runs[0][1][n][0]})")
        ax.fill_between(angles, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    for a in (90, 180, 270):
        ax.axvline(a, color="lightgray", lw=0.8, zorder=0)
    ax.set_xticks(range(0, 361, 90))
    ax.set_xlim(-5, 355)
    ax.set_ylim(0, 100)
    ax.set_title(f"{title} ({len(runs)} seed{'' if len(runs) == 1 else 's'})", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower center", fontsize="x-small")


def plots(args, groups):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), dpi=110, sharex=True, sharey=True)
    for ax, aug in zip(axes.flat, AUGS):
        if ("paper", aug) in groups:
            curves(ax, groups[("paper", aug)], f"P4CNN, trained on {DATA[aug]}")
    for ax in axes[1]:
        ax.set_xlabel("rotation of the test images (degrees)")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    fig.suptitle(f"Fashion-MNIST, {report.epochs(args.epochs)} on {args.train_n} images; "
                 f"mean and ± std over seeds")
    fig.tight_layout()
    fig.savefig(args.png)
    plt.close(fig)
    augs = [a for a in AUGS if ("resnet", a) in groups]
    if augs:
        fig, axes = plt.subplots(1, len(augs), figsize=(5 * len(augs), 4), dpi=110,
                                 sharey=True, squeeze=False)
        for ax, aug in zip(axes[0], augs):
            curves(ax, groups[("resnet", aug)], f"p4 ResNet, trained on {DATA[aug]}")
            ax.set_xlabel("rotation of the test images (degrees)")
        axes[0, 0].set_ylabel("test accuracy (%)")
        fig.tight_layout()
        fig.savefig(args.png_resnet)
        plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", required=True)
    ap.add_argument("--train-n", type=int, required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--png", required=True)
    ap.add_argument("--png-resnet", required=True)
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    groups = collect(args.dirs)
    text = markdown(args, groups)
    with open(args.md, "w") as f:
        f.write(text)
    plots(args, groups)
    print(text)
    print(f"wrote {args.md}, {args.png} and {args.png_resnet}")


if __name__ == "__main__":
    sys.exit(main())
