#!/usr/bin/python3
"""Writes the three ResNets of SPEC §5 that `make bench` times, as flat .geq files:

    bench/resnets.py [OUTDIR]   (default bench/models)

- resnet44-p4m-33: CIFAR-style ResNet-44 on p4m at 33x33, widths 8/16/32;
- resnet44-p4-97: PCam-style ResNet-44 on p4 at 97x97, widths 8/16/32;
- resnet18-p4-225: ImageNet-style ResNet-18 on p4 at 225x225 (7x7 stride-2 lift, 3x3
  stride-2 max pool, four stages of two blocks, widths 16-128).

The sizes are odd so that every stride-2 layer samples a centred grid and the lint proves
the whole group exact. Each residual block is written out (the language's `block`/`for`
would say it in a few lines; these files are generated so that they need neither).
"""
import os
import sys


def basic(out, c, s, shortcut):
    """A basic block: two 3x3 group convolutions, the shortcut a strided 1x1 where the
    shape changes, relu(h + x)."""
    out.append(f"    h = relu(bn(gconv(x, {c}, k=3, s={s}, p=1)));")
    out.append(f"    h = bn(gconv(h, {c}, k=3, p=1));")
    if shortcut:
        out.append(f"    x = bn(gconv(x, {c}, k=1, s={s}));")
    out.append("    x = relu(h + x);")


def stages(out, widths, blocks, first_stride):
    cin = None
    for i, c in enumerate(widths):
        for b in range(blocks):
            s = 2 if b == 0 and (i > 0 or first_stride) else 1
            basic(out, c, s, s != 1 or (cin is not None and cin != c))
            cin = c


def resnet44(name, group, side, classes):
    out = [f"# {name}: written by bench/resnets.py (do not edit)",
           f"model {name.replace('-', '_')}(x: [3, {side}, {side}]) on {group} {{",
           "    x = relu(bn(lift(x, 8, k=3, p=1)));"]
    stages(out, [8, 16, 32], 7, False)
    out.append(f"    return linear(global_avgpool(gpool(x, max)), {classes});")
    return out + ["}"]


def resnet18(name, group, side, classes):
    out = [f"# {name}: written by bench/resnets.py (do not edit)",
           f"model {name.replace('-', '_')}(x: [3, {side}, {side}]) on {group} {{",
           "    x = relu(bn(lift(x, 16, k=7, s=2, p=3)));",
           "    x = maxpool(x, 3, s=2, p=1);"]
    stages(out, [16, 32, 64, 128], 2, False)
    out.append(f"    return linear(global_avgpool(gpool(x, max)), {classes});")
    return out + ["}"]


MODELS = {
    "resnet44-p4m-33": lambda n: resnet44(n, "p4m", 33, 10),
    "resnet44-p4-97": lambda n: resnet44(n, "p4", 97, 2),
    "resnet18-p4-225": lambda n: resnet18(n, "p4", 225, 1000),
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                                 "models")
    os.makedirs(outdir, exist_ok=True)
    for name, make in MODELS.items():
        with open(os.path.join(outdir, name + ".geq"), "w") as f:
            f.write("\n".join(make(name)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
