#!/usr/bin/python3
"""Writes the oracle's test models: gen_models.py OUTDIR prints the paths it wrote.

Deterministic (the same files every run). Small channel counts and images keep the float64
measurements quick. Between them the models cover every predeclared group and two declared
ones, odd, even and non-square inputs (non-square only for groups without axis swaps),
padding, dilation, both pools on images and G-maps, stride 2 early and late, conv with
k = 1 and k > 1, linear after gpool + global pool, after a global pool of a G-map and after
flatten, `+` residuals, and every output kind (image, G-map, each kind of vector); models
written with blocks, loops, conditions and compile-time arithmetic (SPEC §2.1), whose
parameter names are paths (basic2.gconv1.weight); and U-Nets and dense loops of the layers
of SPEC §2.2 (concat, upsample, dropout) on images and G-maps.
"""
import os
import random
import sys

ORDER = {"p1": 1, "p2": 2, "pm": 2, "pmm": 4, "cm": 2, "cmm": 4, "p4": 4, "p4m": 8,
         "vflip": 2, "anti": 2}
# Groups the files declare themselves (not predeclared): one mirror each.
DECLARED = {"vflip": "group vflip = <flip_ud>;", "anti": "group anti = <antitranspose>;"}

# Each architecture: a docstring saying what it covers, and its body given the group order.


def pool_then_gconv(n):
    """2x2 max pool between lift and gconv; linear after gpool + global_avgpool"""
    return ["h = relu(bn(lift(x, 3, k=3, p=1)));",
            "h = maxpool(h, 2);",
            "h = relu(bn(gconv(h, 3, k=3, p=1)));",
            "h = gpool(h, max);",
            "return linear(global_avgpool(h), 4);"]


def stride_early(n):
    """stride-2 lift first; gpool mean, global_maxpool, linear"""
    return ["h = relu(lift(x, 3, k=3, s=2, p=1));",
            "h = tanh(gconv(h, 3, k=3, p=1));",
            "h = gpool(h, mean);",
            "return linear(global_maxpool(h), 3);"]


def stride_late(n):
    """stride-2 gconv and a 2x2 avgpool at the end; returns a G-map"""
    return ["h = relu(bn(lift(x, 2, k=3, p=1)));",
            "h = relu(gconv(h, 3, k=3, p=1));",
            "h = gconv(h, 2, k=3, s=2);",
            "return avgpool(h, 2);"]


def group_vector(n):
    """dilated lift, padded 3x3 max pool; returns a global pool of a G-map"""
    return ["h = relu(lift(x, 2, k=3, p=1, d=2));",
            "h = maxpool(h, 3, s=2, p=1);",
            "return global_avgpool(h);"]


def group_vector_linear(n):
    """linear on a global pool of a G-map: breaks every element but e"""
    return ["h = relu(lift(x, 2, k=3));",
            "h = gconv(h, 2, k=3, s=2, p=1);",
            "return linear(global_maxpool(h), 3);"]


def flatten_gmap(n):
    """returns flatten of a G-map: a vector the group moves as that map"""
    return ["h = sigmoid(lift(x, 2, k=3, s=2));",
            "return flatten(gconv(h, 2, k=1));"]


def flatten_linear(n):
    """linear after flatten of a map larger than 1x1: breaks every element but e"""
    return ["h = relu(lift(x, 2, k=3, p=1));",
            "h = avgpool(h, 2);",
            "h = gpool(h, max);",
            "return linear(flatten(h), 3);"]


def flatten_1x1(n):
    """gconv down to 1x1, flatten, linear: invariant if the grids are centred"""
    return ["h = relu(bn(lift(x, 3, k=3)));",
            "h = maxpool(h, 2);",
            "h = gconv(h, 3, k=3);",
            "h = gpool(h, max);",
            "return softmax(linear(flatten(h), 3));"]


def conv_k3(n):
    """a plain 3x3 conv after gpool: breaks every element but e"""
    return ["h = relu(lift(x, 2, k=3, p=1));",
            "h = gpool(h, mean);",
            "h = relu(conv(h, 2, k=3));",
            "return global_avgpool(h);"]


def conv_k1(n):
    """a 1x1 conv on the input image and one after gpool: both equivariant"""
    return ["h = relu(conv(x, 2, k=1));",
            "h = relu(bn(lift(h, 2, k=3, s=2)));",
            "h = gpool(h, max);",
            "return conv(h, 3, k=1, bias=false);"]


def residual(n):
    """`+` of G-maps around a gconv, avgpool, softmax(linear(...))"""
    return ["h = relu(lift(x, 3, k=3, p=1));",
            "a = relu(bn(gconv(h, 3, k=3, p=1)));",
            "h = h + gconv(a, 3, k=1);",
            "h = avgpool(h, 2, s=2);",
            "y = gpool(h, max);",
            "return softmax(linear(global_avgpool(y), 3));"]


def dilated_stride(n):
    """dilation 2 with stride 2 and padding 2, then a strided 2x2 max pool with stride 1"""
    return ["h = relu(lift(x, 2, k=3, s=2, p=2, d=2));",
            "h = maxpool(h, 2, s=1);",
            "h = gconv(h, 2, k=2, p=1);",
            "return gpool(h, mean);"]


def image_pools(n):
    """pools on the input image (avg with padding counts zeros), then lift; image output"""
    return ["h = avgpool(x, 3, s=2, p=1);",
            "h = lift(h, 2, k=3, p=1, bias=false);",
            "h = gconv(sigmoid(h), 2, k=3, bias=false);",
            "return gpool(h, max);"]


def mixed_vector(n):
    """`+` of a group-permuted vector and a trivial one, then linear: only e"""
    return ["h = relu(lift(x, 1, k=3, p=1));",
            "a = global_avgpool(h);",
            f"b = global_avgpool(relu(conv(x, {n}, k=1)));",
            "return linear(a + b, 2);"]


def softmax_group(n):
    """softmax of a global pool of a G-map: still permuted by the group"""
    return ["h = tanh(lift(x, 2, k=2));",
            "h = maxpool(h, 2, s=2);",
            "return softmax(global_avgpool(h));"]


def image_only(n):
    """no G-map at all: 1x1 conv, max pool, global pool"""
    return ["h = relu(conv(x, 2, k=1));",
            "h = maxpool(h, 2);",
            "return global_avgpool(h);"]


def two_strides(n):
    """two stride-2 gconvs; residues can add up"""
    return ["h = relu(bn(lift(x, 2, k=3, p=1)));",
            "h = relu(gconv(h, 2, k=3, s=2, p=1));",
            "h = relu(gconv(h, 2, k=3, s=2, p=1));",
            "y = gpool(h, mean);",
            "return linear(global_avgpool(y), 2);"]


# Blocks the architectures below call, declared before the model.
BLOCKS = {}


def resnet_blocks(n):
    """a ResNet of a residual block: loops, an if for the strided shortcut, ?: strides"""
    return ["h = relu(bn(lift(x, 2, k=3, p=1)));",
            "for i in 0..2 { h = basic(h, 2); }",
            "for i in 0..2 { h = basic(h, 3, s=i == 0 ? 2 : 1); }",
            "return linear(global_avgpool(gpool(h, max)), 3);"]


BLOCKS[resnet_blocks] = """block basic(x, C, s=1) {
    h = relu(bn(gconv(x, C, k=3, s=s, p=1)));
    h = bn(gconv(h, C, k=3, p=1));
    if (s != 1) { x = bn(gconv(x, C, k=1, s=s)); }
    return relu(h + x);
}"""


def nested_blocks(n):
    """nested blocks, a default naming an earlier parameter, arithmetic, a value-valued ?:"""
    return ["h = lift(x, 2, k=3, p=1);",
            "for i in 1..3 { h = unit(h, i + 1, k=2 * i + 1); }",
            "return gpool(h, mean);"]


BLOCKS[nested_blocks] = """block cbr(x, C, k, p=k / 2) {
    return relu(bn(gconv(x, C, k=k, p=p)));
}
block unit(x, C, k=3) {
    h = cbr(x, C, k);
    h = cbr(h, C, 1) + (k > 3 ? cbr(h, C, 3) : h);
    return k > 3 ? maxpool(h, 2) : h;
}"""


def unet_blocks(n):
    """a U-Net of blocks: skip concats, nearest and bilinear upsampling, dropout, a map out"""
    return ["h = relu(lift(x, 2, k=3, p=1));",
            "s1 = enc(h, 2);",
            "s2 = enc(maxpool(s1, 2), 3);",
            "h = enc(maxpool(s2, 2), 3);",
            "h = dec(h, s2, 3, smooth=true);",
            "h = dec(h, s1, 2);",
            "return gpool(gconv(h, 2, k=1), mean);"]


BLOCKS[unet_blocks] = """block enc(x, C) {
    return relu(bn(gconv(x, C, k=3, p=1)));
}
block dec(x, skip, C, smooth=false) {
    if (smooth) { u = upsample(x, 2, mode=bilinear); } else { u = upsample(x, 2); }
    h = concat(dropout(u, p=0.2), skip);
    return relu(bn(gconv(h, C, k=3, p=1)));
}"""


def unet_strided(n):
    """a U-Net whose downsampling is a stride-2 gconv (k=3, p=1): off-centre on even sizes"""
    return ["e = relu(bn(lift(x, 2, k=3, p=1)));",
            "d = relu(gconv(e, 3, k=3, s=2, p=1));",
            "u = upsample(d, 2, mode=bilinear);",
            "h = relu(gconv(concat(e, u), 2, k=3, p=1));",
            "return linear(dropout(global_avgpool(gpool(h, max)), p=0.5), 3);"]


def dense_loop(n):
    """a loop of dense blocks (each concat grows the channels), upsample by 3, dropout"""
    return ["h = lift(x, 2, k=3, p=1);",
            "for i in 0..3 { h = dense(h, i + 1); }",
            "h = upsample(h, 3);",
            "return global_maxpool(dropout(h, p=0.1));"]


BLOCKS[dense_loop] = """block dense(x, G) {
    return concat(x, relu(bn(gconv(x, G, k=3, p=1))));
}"""


def image_concat(n):
    """concat and bilinear upsample of images before the lift; a concat of three operands"""
    return ["a = upsample(x, 2, mode=bilinear);",
            "b = relu(conv(a, 2, k=1));",
            "h = lift(concat(a, b, dropout(a)), 2, k=3, s=2, p=1);",
            "return concat(h, upsample(maxpool(h, 2), 2));"]


# Randomly composed models (seeded: the same files every run): blocks, loops and the
# layers of SPEC §2.2 in an order and with sizes the seed picks, the sizes tracked so
# that every concat's operands agree. Strided layers on odd or even sizes make some of
# them exact and some broken; the oracle checks the lint either way.
RANDOM_BLOCK = """block unit(x, C, up=false) {
    h = relu(bn(gconv(x, C, k=3, p=1)));
    if (up) { h = upsample(maxpool(h, 2), 2, mode=bilinear); }
    return concat(x, dropout(h, p=0.2));
}"""
SWAPPING = {"p4", "p4m", "cm", "cmm", "anti"}  # need a square input


def random_step(rng, n):
    """One random statement on h, an n x n (or n x m) map; returns it and the new size."""
    kind = rng.choice(["block", "loop", "skip", "down", "drop"])
    if kind == "block":
        return f"h = unit(h, {rng.randint(1, 2)}, up={'true' if n % 2 == 0 else 'false'});", n
    if kind == "loop":
        return f"for i in 0..{rng.randint(1, 3)} {{ h = unit(h, 1 + i % 2); }}", n
    if kind == "skip" and n % 2 == 0:
        pool = rng.choice(["maxpool", "avgpool"])
        mode = rng.choice(["nearest", "bilinear"])
        return f"h = concat(upsample({pool}(h, 2), 2, mode={mode}), h);", n
    if kind == "down" and n >= 6:
        if rng.random() < 0.5:
            return "h = maxpool(h, 2);", n // 2
        return f"h = relu(gconv(h, 2, k=3, s=2, p=1));", (n - 1) // 2 + 1
    return f"h = dropout(h, p={rng.choice([0.1, 0.5])});", n


def random_model(seed):
    """(name, text) of random model number seed."""
    rng = random.Random(seed)
    group = rng.choice(sorted(ORDER))
    n = rng.choice([7, 8, 9, 10, 12])
    m = n if group in SWAPPING else n + rng.choice([0, 2])
    size = f"{n}, {m}"
    lines = [f"h = {rng.choice(['relu', 'tanh'])}(lift(x, 2, k=3, p=1));"]
    for _ in range(rng.randint(2, 4)):
        line, n2 = random_step(rng, min(n, m))
        if n2 != min(n, m) and n != m:
            line, n2 = "h = dropout(h);", min(n, m)  # keep non-square sizes simple
        lines.append(line)
        n, m = (n2, n2) if n == m else (n, m)
    lines.append(rng.choice(["return gpool(h, max);",
                             "return linear(dropout(global_avgpool(h), p=0.5), 3);",
                             "return upsample(gpool(h, mean), 2);"]))
    name = f"random{seed}_{group}"
    head = [f"# Generated by tests/torch/gen_models.py: random model {seed}."]
    if group in DECLARED:
        head.append(DECLARED[group])
    head.append(RANDOM_BLOCK)
    body = "".join(f"    {line}\n" for line in lines)
    c = rng.randint(1, 2)
    return name, "\n".join(head) + f"\nmodel {name}(x: [{c}, {size}]) on {group} {{\n{body}}}\n"


RANDOM_SEEDS = range(10)


# (architecture, group, input channels, height, width)
MODELS = [
    (pool_then_gconv, "p4", 1, 10, 10), (pool_then_gconv, "p4", 1, 11, 11),
    (pool_then_gconv, "pmm", 1, 10, 11), (pool_then_gconv, "cmm", 2, 11, 11),
    (stride_early, "p4m", 1, 9, 9), (stride_early, "p4m", 1, 10, 10),
    (stride_early, "pm", 2, 9, 12), (stride_early, "vflip", 1, 12, 9),
    (stride_late, "p2", 1, 10, 10), (stride_late, "p4", 1, 9, 9),
    (stride_late, "pmm", 1, 11, 8), (stride_late, "cm", 1, 10, 10),
    (group_vector, "p4m", 1, 11, 11), (group_vector, "cmm", 1, 10, 10),
    (group_vector, "pm", 1, 10, 13),
    (group_vector_linear, "p4", 1, 11, 11), (group_vector_linear, "pmm", 1, 9, 9),
    (flatten_gmap, "p4m", 1, 7, 7), (flatten_gmap, "pmm", 1, 8, 9),
    (flatten_gmap, "anti", 1, 8, 8),
    (flatten_linear, "p4", 1, 8, 8), (flatten_linear, "cm", 1, 9, 9),
    (flatten_1x1, "p4m", 1, 8, 8), (flatten_1x1, "p4", 1, 9, 9),
    (flatten_1x1, "pmm", 1, 8, 9),
    (conv_k3, "p4", 1, 8, 8), (conv_k3, "p2", 1, 9, 7),
    (conv_k1, "p4m", 3, 9, 9), (conv_k1, "p2", 2, 10, 9), (conv_k1, "p1", 1, 8, 11),
    (residual, "p4", 1, 10, 10), (residual, "p4m", 2, 9, 9), (residual, "pmm", 1, 9, 10),
    (dilated_stride, "p4", 1, 12, 12), (dilated_stride, "p4m", 1, 11, 11),
    (dilated_stride, "pm", 1, 12, 13),
    (image_pools, "p4m", 1, 11, 11), (image_pools, "cmm", 1, 12, 12),
    (image_pools, "pmm", 1, 12, 11),
    (mixed_vector, "p4", 1, 8, 8), (mixed_vector, "pm", 1, 8, 9),
    (softmax_group, "p4m", 1, 9, 9), (softmax_group, "p2", 1, 10, 10),
    (image_only, "p4", 2, 9, 9), (image_only, "pmm", 1, 8, 9),
    (two_strides, "p4m", 1, 13, 13), (two_strides, "cmm", 1, 12, 12),
    (two_strides, "p1", 1, 12, 12), (two_strides, "anti", 1, 13, 13),
    (resnet_blocks, "p4", 1, 9, 9), (resnet_blocks, "p4m", 1, 10, 10),
    (resnet_blocks, "pmm", 1, 9, 10),
    (nested_blocks, "p4", 1, 10, 10), (nested_blocks, "p4m", 1, 9, 9),
    (unet_blocks, "p4m", 1, 8, 8), (unet_blocks, "p4", 1, 12, 12),
    (unet_blocks, "pmm", 1, 8, 12),
    (unet_strided, "p4m", 1, 8, 8), (unet_strided, "p4", 1, 10, 10),
    (unet_strided, "pm", 1, 10, 12),
    (dense_loop, "p4m", 1, 7, 7), (dense_loop, "cmm", 1, 6, 6),
    (image_concat, "p4", 1, 6, 6), (image_concat, "p4m", 2, 8, 8),
    (image_concat, "pmm", 1, 6, 8),
]


def model_text(arch, group, c, h, w):
    name = f"{arch.__name__}_{group}_{h}x{w}"
    head = [f"# Generated by tests/torch/gen_models.py: {arch.__doc__}."]
    if group in DECLARED:
        head.append(DECLARED[group])
    if arch in BLOCKS:
        head.append(BLOCKS[arch])
    body = "".join(f"    {line}\n" for line in arch(ORDER[group]))
    return name, "\n".join(head) + f"\nmodel {name}(x: [{c}, {h}, {w}]) on {group} {{\n{body}}}\n"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_models.py OUTDIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    models = [model_text(*spec) for spec in MODELS]
    for name, text in models + [random_model(seed) for seed in RANDOM_SEEDS]:
        path = os.path.join(sys.argv[1], name + ".geq")
        with open(path, "w") as f:
            f.write(text)
        print(path)


if __name__ == "__main__":
    main()
