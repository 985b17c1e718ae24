#!/usr/bin/python3
"""The PyTorch baseline of `make bench` (SPEC §5): a .geq model deployed the best way a
PyTorch user can on a CPU, timed.

    bench/baseline.py --geqc build/geqc MODEL.geq [--batch B] [--threads T] [--json]
    bench/baseline.py --geqc build/geqc MODEL.geq --batch B --save FILE
    bench/baseline.py --load FILE [--batch B] [--threads T]

The model is geqc's own --emit=pytorch module with random weights (and random batch-norm
statistics, so that folding them changes something). Its filters are expanded ONCE into
plain convolutions, and every G-map is kept as the [B, C*G, H, W] tensor it is in memory,
so the graph is conv2d / batch_norm / relu / max_pool2d / ... on 4-D tensors; then
torch.jit.trace + torch.jit.freeze + torch.jit.optimize_for_inference (conv-bn folding,
oneDNN kernels). The deployed graph must compute what the module computes (to 1e-4)
before it is timed. Prints `N images/s` (the median of several timed runs) like the
generated executable's --bench, or one JSON object with --json.

`make bench` deploys each model once (--save: the frozen graph, before
optimize_for_inference, whose oneDNN constants cannot be saved, with a batch of inputs
and the module's outputs for them) and times it in fresh processes (--load: load,
optimize, check on the first B images, time batches of B; always JSON), as a service would start from a saved model: such a process's peak
resident memory (`peak_rss_kb`) is what the deployment needs, without the module, its
unexpanded filters or the tracing.
"""
import argparse
import importlib.util
import json
import operator
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

RUNS = 7  # timed runs; the median is reported
RUN_SECONDS = 0.2  # each run repeats the forward pass for at least this long


def load_module(geqc, model, tmp):
    """geqc --emit=pytorch MODEL, imported."""
    path = os.path.join(tmp, "model_torch.py")
    subprocess.run([geqc, "-Wno-equivariance", "--emit=pytorch", "-o", path, model],
                   check=True)
    spec = importlib.util.spec_from_file_location("model_torch", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def randomise(net, seed):
    """Default (He-uniform) weights from the module; random bn statistics and affine."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("running_mean"):
                t.copy_(torch.randn_like(t) * 0.1)
            elif name.endswith("running_var"):
                t.copy_(torch.rand_like(t) + 0.5)
            elif name.endswith(".weight") and t.dim() == 1:  # bn scale
                t.copy_(torch.rand_like(t) + 0.5)
            elif name.endswith(".bias") and t.dim() == 1 and "bn" in name:
                t.copy_(torch.randn_like(t) * 0.1)
    return net.eval()


class Tracer(torch.fx.Tracer):
    """The module's layers (Lift, GConv, BN, Linear, Conv...) stay single nodes."""

    def is_leaf_module(self, m, qualname):
        return "weight" in m._parameters or super().is_leaf_module(m, qualname)


def maxpool(x, k, s, p):
    """The module's pool(..., avg=False), as one traced node."""
    y = F.max_pool2d(x.flatten(1, -3), k, s, p)
    return y.view(x.shape[:-2] + y.shape[-2:])


def avgpool(x, k, s, p):
    y = F.avg_pool2d(x.flatten(1, -3), k, s, p)
    return y.view(x.shape[:-2] + y.shape[-2:])


POOLS = {maxpool: F.max_pool2d, avgpool: F.avg_pool2d}
torch.fx.wrap("maxpool")  # fx records a call of these, not what they do
torch.fx.wrap("avgpool")


def pool(x, k, s, p, avg):
    """Stands in for the module's pool(): one node per pool in the traced graph."""
    return (avgpool if avg else maxpool)(x, k, s, p)


def trace_layers(mod, net, example):
    """The module's forward as an fx graph with each node's output shape."""
    saved = mod.batched, mod.pool
    mod.batched = lambda x, shape: (x, False)  # the shape checks are Python: not traceable
    mod.pool = pool
    try:
        graph = Tracer().trace(net)
    finally:
        mod.batched, mod.pool = saved
    gm = torch.fx.GraphModule(net, graph)
    from torch.fx.passes.shape_prop import ShapeProp
    ShapeProp(gm).propagate(example)
    return gm


def expanded_conv(layer):
    """A Lift/GConv/Conv layer as one plain nn.Conv2d with its filters expanded once."""
    w = layer.filters() if hasattr(layer, "filters") else layer.weight
    ng = w.shape[0] // layer.weight.shape[0]
    conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[-1], layer.s, layer.p, layer.d,
                     bias=layer.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(w)
        if layer.bias is not None:
            conv.bias.copy_(layer.bias.repeat_interleave(ng))
    return conv


def expanded_bn(layer, ng):
    """BN shared over the group axis as nn.BatchNorm2d over the C*G planes."""
    c = layer.weight.shape[0]
    bn = nn.BatchNorm2d(c * ng, eps=layer.eps).eval()
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(bn, name).copy_(getattr(layer, name).repeat_interleave(ng))
    return bn


ELEMENTWISE = {F.relu, torch.relu, torch.sigmoid, torch.tanh, operator.add}


class Plain:
    """Rewrites the traced module so every G-map [B, C, G, H, W] travels as the
    [B, C*G, H, W] tensor of the same memory: convs, bns, pools and elementwise ops run
    on it directly; the few group-axis ops (gpool, global pools of G-maps, flatten) see
    the 5-D view they were written for."""

    def __init__(self, gm):
        self.src = gm
        self.graph = torch.fx.Graph()
        self.root = nn.Module()
        self.env = {}  # old node -> new node (G-maps as their 4-D view)

    @staticmethod
    def shape(node):
        return tuple(node.meta["tensor_meta"].shape)

    def arg(self, a, flat):
        """An argument of the rewritten graph: a G-map as 4-D (flat) or as its 5-D view."""
        if not isinstance(a, torch.fx.Node):
            return a
        new = self.env[a]
        if not flat and a.op != "placeholder" and len(self.shape(a)) == 5:
            return self.graph.call_method("unflatten", (new, 1, self.shape(a)[1:3]))
        return new

    def add_module(self, node, m):
        name = node.target.replace(".", "_")
        self.root.add_module(name, m)
        return self.graph.call_module(name, (self.arg(node.args[0], True),))

    def module_node(self, node):
        layer = self.src.get_submodule(node.target)
        cls = type(layer).__name__
        if hasattr(layer, "running_var"):  # BN
            s = self.shape(node)
            return self.add_module(node, expanded_bn(layer, s[2] if len(s) == 5 else 1))
        if layer.weight.dim() >= 4:  # Lift, GConv, Conv
            return self.add_module(node, expanded_conv(layer))
        if cls == "Linear" or isinstance(layer, nn.Linear):
            return self.add_module(node, layer)
        raise SystemExit(f"baseline.py: no plain form for layer {node.target} ({cls})")

    def function_node(self, node):
        flat = node.target in ELEMENTWISE or node.target in POOLS
        args = tuple(self.arg(a, flat) for a in node.args)
        kwargs = {k: self.arg(v, flat) for k, v in node.kwargs.items()}
        if node.target in POOLS:  # planes are independent: pool the 4-D tensor itself
            return self.graph.call_function(POOLS[node.target], args, kwargs)
        return self.graph.call_function(node.target, args, kwargs)

    def rewrite(self):
        for node in self.src.graph.nodes:
            if node.op == "get_attr" and not node.users:
                continue
            if node.op == "placeholder":
                new = self.graph.placeholder(node.target)
            elif node.op == "call_module":
                new = self.module_node(node)
            elif node.op == "call_function":
                new = self.function_node(node)
            elif node.op == "call_method":
                args = tuple(self.arg(a, False) for a in node.args)
                new = self.graph.call_method(node.target, args, dict(node.kwargs))
            elif node.op == "output":
                self.graph.output(self.arg(node.args[0], False))
                continue
            else:
                raise SystemExit(f"baseline.py: unexpected fx node {node.op} {node.target}")
            if node.op != "placeholder" and len(self.shape(node)) == 5 and not (
                    node.op == "call_module" or node.target in ELEMENTWISE
                    or node.target in POOLS):
                new = self.graph.call_method("flatten", (new, 1, 2))
            self.env[node] = new
        return torch.fx.GraphModule(self.root, self.graph).eval()


def flops_per_image(plain, x):
    """2*Cout*Cin*k*k*OH*OW for every expanded conv plus 2*N*Nin for every linear:
    the multiply-adds the model needs, whatever the implementation."""
    total = 0

    def count(m, inp, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += 2 * out[0].numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear) or type(m).__name__ == "Linear":
            total += 2 * out[0].numel() * m.weight.shape[1]

    hooks = [m.register_forward_hook(count) for m in plain.modules()]
    with torch.no_grad():
        plain(x[:1])
    for h in hooks:
        h.remove()
    return total


def freeze(mod, net, x):
    """The model traced and frozen, checked against the module on x; the module's output
    and the FLOPs of one image."""
    gm = trace_layers(mod, net, x)
    plain = Plain(gm).rewrite()
    flops = flops_per_image(plain, x)
    with torch.no_grad():
        ref = net(x)
        check(plain(x), ref, "the expanded graph")
        return torch.jit.freeze(torch.jit.trace(plain, x)), ref, flops


def optimise(frozen, x, ref):
    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(frozen)
        check(frozen(x), ref, "the frozen, optimised graph")
    return frozen


def deploy(mod, net, x, threads):
    """The model as a PyTorch user deploys it, checked against the module on x, and the
    FLOPs of one image."""
    frozen, ref, flops = freeze(mod, net, x)
    return optimise(frozen, x, ref), flops


def check(y, ref, what):
    err = (y - ref).abs().max().item()
    scale = max(ref.abs().max().item(), 1e-30)
    if not err <= 1e-4 * max(scale, 1.0):
        raise SystemExit(f"baseline.py: {what} differs from the module: max |diff| {err:.3g} "
                         f"(max |y| {scale:.3g})")


def timed_run(f, x, batch):
    """Forward passes for at least RUN_SECONDS; images per second."""
    iters, t0 = 0, time.perf_counter()
    while True:
        f(x)
        iters += 1
        t = time.perf_counter() - t0
        if t >= RUN_SECONDS:
            return iters * batch / t


def ops_of(frozen):
    """The distinct ops of the deployed graph, to show what is being timed."""
    skip = {"Constant", "ListConstruct", "TupleConstruct", "GetAttr", "TupleUnpack"}
    kinds = sorted({n.kind().split("::")[-1] for n in frozen.graph.nodes()} - skip)
    return kinds


def time_it(frozen, x, batch):
    """The median and range of RUNS timed runs after a warm-up, images/s."""
    with torch.no_grad():
        for _ in range(3):  # warm-up: oneDNN picks and caches its kernels
            frozen(x)
        timed_run(frozen, x, batch)
        rates = sorted(timed_run(frozen, x, batch) for _ in range(RUNS))
    return statistics.median(rates), rates[0], rates[-1]


def save(a):
    """--save: the frozen model, an input and the module's output for it, in one file."""
    with tempfile.TemporaryDirectory() as tmp:
        mod = load_module(a.geqc, a.model, tmp)
        net = randomise(mod.Model(), a.seed)
        x = torch.rand((a.batch,) + tuple(mod.INPUT_SHAPE))
        frozen, ref, flops = freeze(mod, net, x)
        extra = {"x": x, "ref": ref, "flops": flops, "batch": a.batch, "model": a.model}
        path = a.save + ".frozen"
        torch.jit.save(frozen, path)
        torch.save({"frozen": open(path, "rb").read(), **extra}, a.save)
        os.unlink(path)
    print(json.dumps({"model": a.model, "batch": a.batch, "flops_per_image": flops}))


def load(a):
    """--load: what a service does with the saved model; JSON with the peak memory."""
    import io
    saved = torch.load(a.load)
    batch = a.batch or saved["batch"]
    if not 1 <= batch <= saved["batch"]:
        raise SystemExit(f"baseline.py: --batch {batch}: {a.load} holds {saved['batch']} images")
    x, ref = saved["x"][:batch], saved["ref"][:batch]
    frozen = optimise(torch.jit.load(io.BytesIO(saved.pop("frozen"))), x, ref)
    med, lo, hi = time_it(frozen, x, batch)
    print(json.dumps({"model": saved["model"], "batch": batch,
                      "threads": a.threads, "images_per_s": med, "min": lo, "max": hi,
                      "flops_per_image": saved["flops"], "ops": ops_of(frozen),
                      "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--geqc", default="build/geqc")
    ap.add_argument("--batch", type=int, default=0, help="images per pass (default 1; "
                    "with --load, as many as were saved)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save", metavar="FILE", help="deploy and save, do not time")
    ap.add_argument("--load", metavar="FILE", help="time a model --save wrote (JSON)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.load:
        return load(a)
    if not a.model:
        ap.error("a model, or --load FILE")
    a.batch = a.batch or 1
    if a.save:
        return save(a)
    with tempfile.TemporaryDirectory() as tmp:
        mod = load_module(a.geqc, a.model, tmp)
        net = randomise(mod.Model(), a.seed)
        x = torch.rand((a.batch,) + tuple(mod.INPUT_SHAPE))
        frozen, flops = deploy(mod, net, x, a.threads)
    med, lo, hi = time_it(frozen, x, a.batch)
    if a.json:
        print(json.dumps({"model": a.model, "batch": a.batch, "threads": a.threads,
                          "images_per_s": med, "min": lo, "max": hi,
                          "flops_per_image": flops,
                          "ops": ops_of(frozen)}))
    else:
        print(f"{med:.1f} images/s")
        print(f"torch {torch.__version__}, batch {a.batch}, {a.threads} threads, {RUNS} runs "
              f"of >= {RUN_SECONDS} s: min {lo:.1f}, median {med:.1f}, max "
              f"{hi:.1f} images/s; {flops / 1e6:.1f} MFLOP per image; graph ops: "
              f"{', '.join(ops_of(frozen))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
