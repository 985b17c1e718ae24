#!/usr/bin/python3
"""The numerical oracle: checks geqc's lint verdict against the network itself.

    equiv.py MODEL.geq [MODEL.geq ...] --geqc BIN [--seed S] [--keep DIR] [--quiet]

For each model: runs `BIN --lint-json` and `BIN --emit=pytorch`, imports the module,
randomises every parameter and batch-norm statistic (seeded), and measures in float64 for
every element g of the model's group

    err_g = max |f(T_g x) - T_g f(x)| / max |f(x)|        (SPEC §3)

on a random batch of two images. The group's action is implemented here from SPEC §3 with
numpy alone (rot90 and flip, composition found by composing those array maps), never
taken from the emitted code; only the output's kind and [c, g, h, w] structure come from
the module (OUTPUT_*, the checker's shape), checked against the forward pass and, for a
flattened map, against the lint JSON's flatten layer. An element is measured exact if
err_g <= 1e-6, broken if err_g >= 1e-4; anything between is a failure (ambiguous). An
element the lint calls broken that measures below 1e-4 is measured again on up to three
fresh models and batches of 8 (a clipping relu or a max can hide a broken grid for two
images), keeping the worst err_g. The model passes if the lint's "exact" set equals the
measured exact set. Prints a table per model, then `PASS name` or `FAIL name: why`;
exits 1 if any model failed.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch

EXACT, BROKEN = 1e-6, 1e-4

# ---- D4 from the definitions of SPEC §3, independent of geqc ----
NAMES = ("e", "r", "r2", "r3", "m", "mr", "mr2", "mr3")
GENERATORS = {"rot90": 1, "rot180": 2, "rot270": 3, "flip": 4, "antitranspose": 5,
              "flip_ud": 6, "transpose": 7}
PREDECLARED = {"p1": [], "p2": ["rot180"], "pm": ["flip"], "pmm": ["flip", "flip_ud"],
               "cm": ["transpose"], "cmm": ["transpose", "antitranspose"], "p4": ["rot90"],
               "p4m": ["rot90", "flip"]}


def act_array(g, a):
    """T_g on the last two axes of a numpy array: m^j r^i applies r i times, then m j times."""
    j, i = divmod(g, 4)
    for _ in range(i):
        a = np.rot90(a, 1, axes=(-2, -1))
    for _ in range(j):
        a = np.flip(a, -1)
    return a


def _compose_table():
    """MUL[a][b] = the element whose map is 'apply b, then a', found on a generic array."""
    probe = np.arange(25.0).reshape(5, 5)
    images = [act_array(g, probe) for g in range(8)]
    table = [[None] * 8 for _ in range(8)]
    for a in range(8):
        for b in range(8):
            ab = act_array(a, act_array(b, probe))
            table[a][b] = next(c for c in range(8) if np.array_equal(images[c], ab))
    return table


MUL = _compose_table()
INV = [next(b for b in range(8) if MUL[a][b] == 0) for a in range(8)]


def closure(gens):
    members = {0}
    while True:
        more = members | {MUL[a][b] for a in members for b in gens}
        if more == members:
            return sorted(members)
        members = more


# ---- the group's action on values (SPEC §3) ----

def act_gmap(g, f, elems):
    """(T_g F)[c, h] = T_g F[c, g^-1 h] on [B, C, G, H, W] (or [B, C, G] without space)."""
    axis = {h: i for i, h in enumerate(elems)}
    src = [axis[MUL[INV[g]][h]] for h in elems]
    f = f[:, :, src]
    return act_array(g, f) if f.ndim == 5 else f


def act_output(g, y, kind, action, structure, elems):
    """T_g on a batch of model outputs, by the output's kind (SPEC §3)."""
    c, ng, h, w = structure
    b = y.shape[0]
    if kind == "image":
        return act_array(g, y)
    if kind == "gmap":
        return act_gmap(g, y, elems)
    if action == "trivial":
        return y
    if action == "group":
        return act_gmap(g, y.reshape(b, c, ng), elems).reshape(b, -1)
    if action == "map":
        if ng == 1:  # a flattened image
            return act_array(g, y.reshape(b, c, h, w)).reshape(b, -1)
        return act_gmap(g, y.reshape(b, c, ng, h, w), elems).reshape(b, -1)
    return None  # a mixed vector: the group has no action on it


# ---- running geqc and the module ----

def run_geqc(geqc, args):
    p = subprocess.run([geqc] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join([geqc] + args)} exited {p.returncode}:\n{p.stderr}")
    return p.stdout


def import_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def randomise(model, rng):
    """Every parameter and bn statistic random; bn variances positive. Weights scaled by
    1/sqrt(fan_in) keep activations of order one through the network, and biases and means
    are small beside them, so that the output depends on the input and not mostly on the
    biases (which would hide a broken element's error in err_g's denominator)."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            layer, field = name.rsplit(".", 1)
            shape = tuple(t.shape)
            if field == "running_var" or (layer.startswith("bn") and field == "weight"):
                a = rng.uniform(0.5, 1.5, shape)
            elif field in ("running_mean", "bias"):
                a = rng.normal(0, 0.1, shape)
            else:
                a = rng.normal(0, 1, shape) / np.sqrt(np.prod(shape[1:]))
            t.copy_(torch.from_numpy(a))


# ---- one model ----

def check_lint(lint):
    """The lint JSON's group against SPEC's; returns (elements, exact set)."""
    elems = [NAMES.index(e) for e in lint["elements"]]
    if elems != sorted(elems):
        raise AssertionError(f"lint elements {lint['elements']} are not in canonical order")
    group = lint["group"]
    if group in PREDECLARED:
        want = closure([GENERATORS[s] for s in PREDECLARED[group]])
        if elems != want:
            raise AssertionError(f"group {group} has elements {lint['elements']}, SPEC says "
                                 f"{[NAMES[g] for g in want]}")
    exact = {NAMES.index(e) for e in lint["exact"]}
    broken = {NAMES.index(e) for e in lint["broken"]}
    if exact | broken != set(elems) or exact & broken or 0 not in exact:
        raise AssertionError(f"lint exact {lint['exact']} / broken {lint['broken']} do not "
                             f"partition the elements {lint['elements']} with e exact")
    return elems, exact


def check_output_structure(mod, lint, y):
    """The emitted output description agrees with the forward pass and the lint's layers."""
    c, ng, h, w = mod.OUTPUT_STRUCTURE
    numel = c * ng * h * w
    expect = {"image": (c, h, w), "gmap": (c, ng, h, w), "vector": (numel,)}[mod.OUTPUT_KIND]
    if tuple(y.shape[1:]) != expect:
        raise AssertionError(f"forward returned {list(y.shape[1:])} per image, the module "
                             f"describes {list(expect)}")
    if mod.OUTPUT_ACTION == "map":
        flat = [l for l in lint["layers"] if l["op"] == "flatten"]
        dims = [[c, ng, h, w]] + ([[c, h, w]] if ng == 1 else [])  # p1's G-maps have g = 1
        if mod.OUTPUT_KIND == "vector" and not any(l["input"] in dims for l in flat):
            raise AssertionError(f"no flatten layer in the lint JSON takes the map {dims[0]} "
                                 f"that the output vector is said to come from")


def measure(mod, lint, elems, seed, batch=2):
    """{g: err_g} for one random model and one random batch, or None where the group has
    no action on the output."""
    rng = np.random.default_rng(seed)
    model = mod.Model().double().eval()
    randomise(model, rng)
    c, h, w = lint["input"]
    x = rng.normal(0, 1, (batch, c, h, w))
    with torch.no_grad():
        y = model(as_tensor(x)).numpy()
        check_output_structure(mod, lint, torch.from_numpy(y))
        scale = np.abs(y).max()
        other = model(as_tensor(rng.normal(0, 1, x.shape))).numpy()
        if not np.abs(other - y).max() > 1e-9 * scale:
            raise AssertionError("the output does not depend on the input: cannot measure")
        errs = {}
        for g in elems:
            ty = act_output(g, y, mod.OUTPUT_KIND, mod.OUTPUT_ACTION, mod.OUTPUT_STRUCTURE,
                            elems)
            if ty is None:
                errs[g] = None if g else 0.0
                continue
            yg = model(as_tensor(act_array(g, x))).numpy()
            errs[g] = float(np.abs(yg - ty).max() / scale)
    return errs


def as_tensor(a):
    return torch.from_numpy(np.array(a, copy=True))  # numpy views may have negative strides


def verdict(err):
    if err is None:
        return "no action"
    return "exact" if err <= EXACT else "broken" if err >= BROKEN else "AMBIGUOUS"


def check_model(path, args, workdir, index):
    name = os.path.splitext(os.path.basename(path))[0]
    lint = json.loads(run_geqc(args.geqc, ["--lint-json", path]))
    elems, lint_exact = check_lint(lint)
    py = os.path.join(workdir, f"{name}.py")
    run_geqc(args.geqc, ["--emit=pytorch", "-o", py, path])
    mod = import_module(py, f"geqc_model_{index}")
    if list(mod.LINT_EXACT) != lint["exact"] or list(mod.ELEMENT_NAMES) != lint["elements"]:
        raise AssertionError(f"the module says {mod.ELEMENT_NAMES} with {mod.LINT_EXACT} exact, "
                             f"--lint-json says {lint['elements']} with {lint['exact']}")
    seed = args.seed + zlib.crc32(name.encode())
    errs = measure(mod, lint, elems, seed)
    # A broken element can measure exact by chance: a relu that clips, or a max that falls
    # where the two grids overlap, in both images. Before calling that a disagreement,
    # measure again with fresh weights and larger batches, keeping the worst err_g.
    retries = 0
    while retries < 3 and any(g not in lint_exact and errs[g] is not None and errs[g] < BROKEN
                              for g in elems):
        retries += 1
        more = measure(mod, lint, elems, seed + 7919 * retries, batch=8)
        errs = {g: None if errs[g] is None else max(errs[g], more[g]) for g in elems}
    table = [f"{name}: group {lint['group']}, input {lint['input']}",
             f"    {'element':8}{'err_g':>10}  {'measured':10}lint"]
    if retries:
        table.append(f"    (worst of 2 images and {retries} more models on 8 images each)")
    bad = []
    for g in elems:
        v = verdict(errs[g])
        said = "exact" if g in lint_exact else "broken"
        mark = "" if v == said or (v == "no action" and said == "broken") else "  <-- disagrees"
        if mark:
            bad.append(f"{NAMES[g]} measured {v}, lint says {said}")
        err = "-" if errs[g] is None else f"{errs[g]:.1e}"
        table.append(f"    {NAMES[g]:8}{err:>10}  {v:10}{said}{mark}")
    return bad, table


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--geqc", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="write the emitted modules here instead of a temp dir")
    ap.add_argument("--quiet", action="store_true", help="tables of failing models only")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or tmp
        os.makedirs(workdir, exist_ok=True)
        for i, path in enumerate(args.models):
            name = os.path.splitext(os.path.basename(path))[0]
            try:
                bad, table = check_model(path, args, workdir, i)
            except Exception as e:  # one model's trouble must not hide the others
                bad, table = [f"{type(e).__name__}: {e}"], []
            if bad or not args.quiet:
                print("\n".join(table))
            if bad:
                failed += 1
                print(f"FAIL {name}: " + "; ".join(bad))
            else:
                print(f"PASS {name}")
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
