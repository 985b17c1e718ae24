#!/usr/bin/python3
"""Cross-checks geqc's native code against its PyTorch module, model by model.

    crosscheck.py --geqc BIN [--jobs N] [--keep DIR] MODEL.geq [MODEL.geq ...]

For each model: `BIN -o exe` (the environment's GEQC_CFLAGS / GEQRT_LIBDIR choose how the
native code is built: crosscheck.sh makes it sanitized) and `BIN --emit=pytorch`; random
weights (every parameter and bn statistic, seeded by the model's name) saved with the
module's own save_safetensors; a random float32 batch of 3; then `exe --weights --input
--output` against the module's forward in float64, once as the runtime plans it and once
with GEQRT_ORBIT=1 (every lift and gconv whose grid allows it run as an orbit on the
identity's filters, runtime/conv_orbit.c) and once with --tune (each layer's plan chosen by
timing its candidates, runtime/model.c's gq_net_tune):

    max |y_native - y_torch| / max |y_torch| <= 1e-4

and `exe --check-equivariance --seed 1` must exit 0 (every element as the lint says).

Then, on tests/native/api.geq: test_api.c against the emitted C of the embeddable API (no
allocation in forward, load errors), and the executable's command line (every mode, output
shapes, image conversion and resizing against torch's, labels, and each bad-input exit).
Prints `PASS name ...` or `FAIL name: why` per model and check, then `N passed, N failed`.
"""
import argparse
import concurrent.futures
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch

TOL = 1e-4
BATCH = 3


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def import_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def randomise(model, rng):
    """Weights N(0, 1/fan_in), biases and bn means N(0, 0.5), bn weights and variances
    U(0.5, 1.5): activations of order one, so a relative error means something."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            layer, field = name.rsplit(".", 1)
            shape = tuple(t.shape)
            bn = layer.rsplit(".", 1)[-1].startswith("bn")  # bn3, basic2.bn1
            if field == "running_var" or (bn and field == "weight"):
                a = rng.uniform(0.5, 1.5, shape)
            elif field in ("running_mean", "bias"):
                a = rng.normal(0, 0.5, shape)
            else:
                a = rng.normal(0, 1, shape) / np.sqrt(np.prod(shape[1:]))
            t.copy_(torch.from_numpy(a))


def build(geqc, geq, work):
    """Compiles the executable and the module; returns (exe, module path) or raises."""
    name = os.path.splitext(os.path.basename(geq))[0]
    exe, py = os.path.join(work, name), os.path.join(work, name + "_torch.py")
    for args in (["-o", exe, geq], ["--emit=pytorch", "-o", py, geq]):
        p = run([geqc] + args)
        if p.returncode != 0:
            raise RuntimeError(f"geqc {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return exe, py


def compare(exe, py, work, name):
    """Native output vs the module's float64 forward; returns the relative error."""
    mod = import_module(py, name + "_torch")
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    model = mod.Model()
    randomise(model, rng)
    model.eval()
    weights = os.path.join(work, name + ".safetensors")
    model.save_safetensors(weights)
    x = rng.normal(0, 1, (BATCH,) + tuple(mod.INPUT_SHAPE)).astype(np.float32)
    xin, yout = os.path.join(work, name + "_x.npy"), os.path.join(work, name + "_y.npy")
    np.save(xin, x)
    with torch.no_grad():
        ref = model.double()(torch.from_numpy(x.astype(np.float64))).numpy()
    scale = np.abs(ref).max()
    err = 0.0
    for how in ("GEQRT_ORBIT=0", "GEQRT_ORBIT=1", "--tune"):
        env, opts = dict(os.environ), []
        if how == "--tune":
            opts = [how]
        else:
            env["GEQRT_ORBIT"] = how[-1]
        p = run([exe, "--weights", weights, "--input", xin, "--output", yout] + opts, env=env)
        if p.returncode != 0:
            raise RuntimeError(f"{name} --input ({how}) exited {p.returncode}:\n{p.stderr}")
        y = np.load(yout)
        if y.shape != ref.shape:
            raise RuntimeError(f"output shape {list(y.shape)}, the module gives "
                               f"{list(ref.shape)}")
        err = max(err, float(np.abs(y - ref).max() / (scale if scale > 0 else 1.0)))
    return err


def check_equivariance(exe):
    p = run([exe, "--check-equivariance", "--seed", "1"])
    if p.returncode != 0:
        raise RuntimeError(f"--check-equivariance exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p.stdout


def check_model(geqc, geq, work):
    name = os.path.splitext(os.path.basename(geq))[0]
    try:
        exe, py = build(geqc, geq, work)
        err = compare(exe, py, work, name)
        if not err <= TOL:
            return False, f"FAIL {name}: native vs torch relative error {err:.2e} > {TOL:g}"
        lines = check_equivariance(exe).splitlines()
        return True, f"PASS {name}: error {err:.1e}; {lines[-1] if lines else ''}"
    except Exception as e:  # one model's failure must not hide the others'
        return False, f"FAIL {name}: {e}"


def trained_resnet(work):
    """A user's loop on the ResNet-44 of examples/ (SPEC §2.1): train the emitted module a
    few steps, save its state_dict, load it into the native executable, and both agree.
    Uses what check_model built; None if examples/resnet44-p4-33.geq was not among them."""
    name = "resnet44-p4-33"
    exe, py = os.path.join(work, name), os.path.join(work, name + "_torch.py")
    if not os.path.exists(exe) or not os.path.exists(py):
        return None
    try:
        mod = import_module(py, "trained_torch")
        torch.manual_seed(0)
        model = mod.Model()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x = torch.randn(6, *mod.INPUT_SHAPE)
        labels = torch.randint(0, 10, (6,))
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), labels)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        weights = os.path.join(work, "trained.safetensors")
        model.save_safetensors(weights)
        xin, yout = os.path.join(work, "trained_x.npy"), os.path.join(work, "trained_y.npy")
        np.save(xin, x[:BATCH].numpy())
        p = run([exe, "--weights", weights, "--input", xin, "--output", yout])
        if p.returncode != 0:
            raise RuntimeError(f"--input exited {p.returncode}:\n{p.stderr}")
        with torch.no_grad():
            ref = model.double()(x[:BATCH].double()).numpy()
        err = float(np.abs(np.load(yout) - ref).max() / np.abs(ref).max())
        if not (err <= TOL and losses[-1] < losses[0]):
            raise RuntimeError(f"losses {losses}, native vs trained module error {err:.2e}")
        return True, f"PASS trained {name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}, " \
                     f"native vs module {err:.1e}"
    except Exception as e:
        return False, f"FAIL trained {name}: {e}"


# ---- the executable's command line on one model (tests/native/api.geq) ----

def write_pgm(path, img):
    """img: [h, w] in [0, 1] -> binary PGM, maxval 255."""
    h, w = img.shape
    data = np.round(img * 255).astype(np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(b"P5\n# made by crosscheck.py\n%d %d\n255\n" % (w, h) + data)


def write_png_rgb(path, img):
    """img: [h, w, 3] in [0, 1] -> 8-bit RGB PNG, written by hand with zlib."""
    h, w, _ = img.shape
    rows = b"".join(b"\0" + np.round(img[y] * 255).astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def top_lines(text):
    """[(label, probability)] from the printed top classes."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((parts[0], float(parts[1])))
    return out


class Cli:
    """Runs the executable and records one PASS/FAIL line per expectation."""

    def __init__(self, exe):
        self.exe, self.lines, self.failed = exe, [], 0

    def expect(self, what, args, status, stderr_has=(), stdout_check=None):
        p = run([self.exe] + args)
        why = []
        if p.returncode != status:
            why.append(f"exit {p.returncode}, expected {status}")
        why += [f"stderr lacks {s!r}" for s in stderr_has if s not in p.stderr]
        if stdout_check and not why:
            try:
                stdout_check(p.stdout)
            except Exception as e:
                why.append(str(e))
        if "ERROR: AddressSanitizer" in p.stderr or "runtime error" in p.stderr:
            why.append("sanitizer report")
        self.failed += bool(why)
        self.lines.append(f"{'FAIL' if why else 'PASS'} cli: {what}"
                          + (": " + "; ".join(why) + f"\n{p.stderr}" if why else ""))
        return p


def save_file(path, tensors):
    """As safetensors.torch.save_file (not packaged in Debian): each tensor in its own dtype
    (a state_dict's num_batches_tracked stays I64, shape []), offsets in name order."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64", torch.int32: "I32"}
    header, blobs, at = {}, [], 0
    for k in sorted(tensors):
        blob = tensors[k].contiguous().numpy().tobytes()
        header[k] = {"dtype": names[tensors[k].dtype], "shape": list(tensors[k].shape),
                     "data_offsets": [at, at + len(blob)]}
        blobs.append(blob)
        at += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def pytorch_files(model, j):
    """What a PyTorch user may pass as weights: the state_dict of a model whose batch norms
    count their steps (as nn.BatchNorm2d does), torch.save's files, and one with four
    problems at once."""
    state = {k: v.float() for k, v in model.state_dict().items()}  # (the model went float64)
    bns = sorted({k.rsplit(".", 1)[0] for k in state if k.endswith(".running_mean")})
    counted = dict(state, **{f"{b}.num_batches_tracked": torch.tensor(937) for b in bns})
    save_file(j("counted.safetensors"), counted)
    torch.save(state, j("zip.pt"))
    torch.save(state, j("legacy.pt"), _use_new_zipfile_serialization=False)
    four = {k: v for k, v in state.items() if k != "gconv1.weight"}  # missing
    four["lift1.wieght"] = four.pop("lift1.weight")  # renamed: missing and unexpected
    four["lift1.bias"] = torch.zeros(four["lift1.bias"].numel() + 1)  # wrong shape
    four["extra"] = torch.zeros(2)  # unexpected
    save_file(j("four.safetensors"), four)
    return bool(bns)


def cli_tests(exe, py, work):
    """Modes, outputs and every bad-input exit of the executable."""
    mod = import_module(py, "api_torch")
    rng = np.random.default_rng(7)
    model = mod.Model()
    randomise(model, rng)
    model.eval()
    j = lambda name: os.path.join(work, "cli_" + name)  # noqa: E731
    w, wl = j("w.safetensors"), j("labelled.safetensors")
    model.save_safetensors(w)
    model.save_safetensors(wl, labels=["cat", "dog", "eel"])
    state = {k: t.numpy() for k, t in model.state_dict().items()}
    missing = {k: a for k, a in state.items() if k != "gconv1.weight"}
    mod.write_safetensors(j("missing.safetensors"), missing)
    c, h, wd = mod.INPUT_SHAPE
    x3 = rng.normal(0, 1, (c, h, wd)).astype(np.float32)
    np.save(j("x3.npy"), x3)
    np.save(j("x4.npy"), rng.normal(0, 1, (2, c, h, wd)).astype(np.float32))
    np.save(j("wrong.npy"), np.zeros((1, c + 1, h, wd), np.float32))
    with open(j("trunc.npy"), "wb") as f:
        f.write(open(j("x3.npy"), "rb").read()[:100])
    with open(j("labels.txt"), "w") as f:
        f.write("ant\nbee\ncow\n")
    img = rng.uniform(0, 1, (h + 3, wd + 3))
    write_pgm(j("img.pgm"), img)
    write_png_rgb(j("img.png"), rng.uniform(0, 1, (h, wd, 3)))
    with torch.no_grad():
        ref3 = model.double()(torch.from_numpy(x3.astype(np.float64))).numpy()
        quant = torch.from_numpy(np.round(img * 255) / 255)[None, None]
        small = torch.nn.functional.interpolate(quant, size=(h, wd), mode="bilinear",
                                                align_corners=False)
        ref_img = model(small.repeat(1, c, 1, 1)).numpy()[0]
        flat = model(torch.full((1, c, h, wd), 0.5, dtype=torch.float64)).numpy()[0]
    if np.abs(ref_img - flat).max() < 1e-2:  # else the image test would show nothing
        return [f"FAIL cli: the test model ignores its image: {ref_img} vs {flat}"], 1

    def shape_is(path, shape):
        def check(_):
            got = np.load(path).shape
            if got != shape:
                raise AssertionError(f"{path} has shape {got}, expected {shape}")
        return check

    def values_match(path, ref):
        def check(_):
            y = np.load(path)
            err = np.abs(y - ref).max() / np.abs(ref).max()
            if not err <= TOL:
                raise AssertionError(f"relative error {err:.2e}")
        return check

    def classes_match(ref, labels=None):
        def check(out):
            got = top_lines(out)
            want = sorted(range(len(ref)), key=lambda i: -ref[i])[:5]
            names = [labels[i] if labels else str(i) for i in want]
            if [g[0] for g in got] != names:
                raise AssertionError(f"printed {got}, expected classes {names}")
            if max(abs(p - ref[i]) for (_, p), i in zip(got, want)) > 1e-3:
                raise AssertionError(f"printed {got}, expected {[ref[i] for i in want]}")
        return check

    def bench_line(out):
        first = out.splitlines()[0] if out else ""
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)? images/s", first):
            raise AssertionError(f"first line {first!r}")

    t = Cli(exe)
    t.expect("--help", ["--help"], 0, stdout_check=lambda o: "--weights" in o or 1 / 0)
    t.expect("no arguments", [], 2, ["nothing to do"])
    t.expect("unknown option", ["--frobnicate"], 2, ["--frobnicate"])
    t.expect("bad --batch", ["--bench", "--batch", "0"], 2, ["--batch"])
    t.expect("--seed without a value", ["--seed"], 2, ["--seed"])
    t.expect("input without weights", ["--input", j("x3.npy")], 2, ["--weights"])
    t.expect("unbatched input: values", ["--weights", w, "--input", j("x3.npy"), "--output",
             j("y3.npy")], 0, stdout_check=values_match(j("y3.npy"), ref3))
    t.expect("unbatched input: output has no batch", ["--seed", "3", "--input", j("x3.npy"),
             "--output", j("y3.npy")], 0, stdout_check=shape_is(j("y3.npy"), ref3.shape))
    t.expect("batched input: output [B, ...]", ["--seed", "3", "--input", j("x4.npy"),
             "--output", j("y4.npy")], 0, stdout_check=shape_is(j("y4.npy"), (2,) + ref3.shape))
    t.expect("printed classes", ["--weights", w, "--input", j("x3.npy")], 0,
             stdout_check=classes_match(ref3))
    t.expect("labels from the weights' metadata", ["--weights", wl, "--input", j("x3.npy")], 0,
             stdout_check=classes_match(ref3, ["cat", "dog", "eel"]))
    t.expect("image: PGM resized bilinearly", ["--weights", w, j("img.pgm"), "--output",
             j("yimg.npy")], 0, ["resized"], stdout_check=values_match(j("yimg.npy"), ref_img))
    t.expect("image: printed classes", ["--weights", w, j("img.pgm")], 0,
             stdout_check=classes_match(ref_img))
    t.expect("images: output [N, ...]", ["--seed", "1", j("img.pgm"), j("img.png"), "--output",
             j("yimg2.npy")], 0, stdout_check=shape_is(j("yimg2.npy"), (2,) + ref3.shape))
    t.expect("image: RGB PNG to gray, --labels", ["--weights", wl, "--labels", j("labels.txt"),
             j("img.png")], 0,
             stdout_check=lambda o: [n for n, _ in top_lines(o)] and
             all(n in ("ant", "bee", "cow") for n, _ in top_lines(o)) or 1 / 0)
    t.expect("missing tensor", ["--weights", j("missing.safetensors"), "--input",
             j("x3.npy")], 2, [j("missing.safetensors"), "gconv1.weight"])
    if not pytorch_files(model, j):
        return [f"FAIL cli: {py} has no batch norm"], 1
    t.expect("state_dict with num_batches_tracked (I64)", ["--weights", j("counted.safetensors"),
             "--input", j("x3.npy"), "--output", j("yc.npy")], 0,
             stdout_check=values_match(j("yc.npy"), ref3))
    fix = "safetensors.torch.save_file(model.state_dict(), PATH)"
    t.expect("torch.save's zip file", ["--weights", j("zip.pt"), "--input", j("x3.npy")], 2,
             [j("zip.pt") + ": a zip archive (what torch.save writes)", fix])
    t.expect("torch.save's legacy pickle", ["--weights", j("legacy.pt"), "--input",
             j("x3.npy")], 2, [j("legacy.pt") + ": a Python pickle", fix])
    t.expect("four problems at once", ["--weights", j("four.safetensors"), "--input",
             j("x3.npy"), "--output", j("y4p.npy")], 2,
             ["5 problems", "missing tensor 'gconv1.weight'", "missing tensor 'lift1.weight'",
              "unexpected tensor 'lift1.wieght'", "unexpected tensor 'extra' [2]",
              "tensor 'lift1.bias' has shape [5], the model expects [4]"],
             stdout_check=lambda _: os.path.exists(j("y4p.npy")) and 1 / 0)
    t.expect("missing weights file", ["--weights", j("none.safetensors"), "--input",
             j("x3.npy")], 2, [j("none.safetensors")])
    t.expect("wrong-shape input", ["--seed", "1", "--input", j("wrong.npy")], 2,
             [j("wrong.npy"), f"[1, {c + 1}, {h}, {wd}]", f"[B, {c}, {h}, {wd}]"])
    t.expect("truncated input", ["--seed", "1", "--input", j("trunc.npy")], 2, [j("trunc.npy")])
    t.expect("missing input", ["--seed", "1", "--input", j("none.npy")], 2, [j("none.npy")])
    t.expect("not an image", ["--seed", "1", j("x3.npy")], 2, [j("x3.npy")])
    t.expect("missing labels file", ["--seed", "1", "--labels", j("none.txt"), j("img.pgm")],
             2, [j("none.txt")])
    t.expect("--check-equivariance on a given input",
             ["--check-equivariance", "--weights", w, "--input", j("x4.npy")], 0)
    t.expect("--bench", ["--bench", "--batch", "2", "--threads", "1"], 0, stdout_check=bench_line)
    cores = len(os.sched_getaffinity(0))

    def threads_line(used, set_to):
        def check(out):
            bench_line(out)
            want = f"{used} threads used ({set_to} set, {cores} cores)"
            if want not in out:
                raise AssertionError(f"no {want!r} in {out!r}")
        return check
    t.expect("--bench says the threads it used", ["--bench", "--batch", "1", "--threads",
             "1"], 0, stdout_check=threads_line(1, 1))
    if cores > 1:
        def placement_line(out):
            bench_line(out)
            if not re.search(r"^vCPUs ((near|far|moved (near|far) -> (near|far)), round trip "
                             r"[0-9]+ ns before the runs, [0-9]+ ns after|not measured .*)$",
                             out, re.M):
                raise AssertionError(f"no placement line in {out!r}")
        t.expect("--bench on two threads names the vCPUs' placement", ["--bench", "--batch",
                 "2", "--threads", "2"], 0, stdout_check=placement_line)
    t.expect("--threads above the cores: a warning", ["--bench", "--batch", "2", "--threads",
             str(cores + 1)], 0, [f"warning: --threads {cores + 1} is more than the {cores} "
             "cores this process may use"], stdout_check=bench_line)

    def profile_lines(out):
        """One line per step, each naming a line of api.geq that holds a call, whose times
        add up to the total and whose shares to 100%."""
        bench_line(out)
        with open(api_geq()) as f:
            src = f.read().splitlines()
        # with 2 threads, steps that shared jobs: "alone" and "waited" columns before the name
        steps = re.findall(r"^ +([0-9.]+) ms +([0-9.]+)% +(?:[0-9.]+ +[0-9.]+ +)?(\w+), line ([0-9]+)",
                           out, re.M)
        total = re.search(r"^ +([0-9.]+) ms +(?:[0-9.]+ +[0-9.]+ +)?all steps$", out, re.M)
        if len(steps) < 2 or not total:
            raise AssertionError(f"no per-step profile in {out!r}")
        for ms, pct, name, line in steps:
            if "(" not in src[int(line) - 1]:
                raise AssertionError(f"step {name} names line {line}: {src[int(line) - 1]!r}")
        if abs(sum(float(s[0]) for s in steps) - float(total.group(1))) > 0.001 * len(steps):
            raise AssertionError(f"steps do not add up to {total.group(1)} ms")
        if abs(sum(float(s[1]) for s in steps) - 100) > 0.1 * len(steps):
            raise AssertionError("shares do not add up to 100%")

    t.expect("--bench --profile", ["--bench", "--profile", "--threads", "2"], 0,
             stdout_check=profile_lines)
    t.expect("--profile without --bench", ["--profile", "--seed", "1", "--input", j("x3.npy")],
             2, ["--profile goes with --bench"])
    return t.lines, t.failed


def api_geq():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "api.geq")


def api_test(geqc, work):
    """test_api.c against the C that geqc emits for api.geq, allocation calls wrapped."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    p = run([geqc, "--emit=c", "-o", os.path.join(work, "api.c"), api_geq()])
    if p.returncode != 0:
        return False, f"FAIL api: geqc --emit=c exited {p.returncode}:\n{p.stderr}"
    inc = os.environ.get("GEQRT_INCDIR", os.path.join(root, "runtime"))
    lib = os.environ.get("GEQRT_LIBDIR", os.path.join(root, "build"))
    pkg = run(["pkg-config", "--cflags", "--libs", "openblas", "jansson", "libpng", "check"])
    exe = os.path.join(work, "test_api")
    cmd = ([os.environ.get("CC", "cc"), "-std=c11", "-D_GNU_SOURCE", "-O1", "-g"]
           + os.environ.get("GEQC_CFLAGS", "").split() + ["-I", work, "-I", inc,
           os.path.join(here, "test_api.c"), os.path.join(work, "api.c"), "-o", exe,
           "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc",
           os.path.join(lib, "libgeqrt.a")] + pkg.stdout.split() + ["-lm"])
    p = run(cmd)
    if p.returncode != 0:
        return False, f"FAIL api: building test_api failed:\n{' '.join(cmd)}\n{p.stderr}"
    p = run([exe])
    if p.returncode != 0:
        return False, f"FAIL api: test_api.c:\n{p.stdout}{p.stderr}"
    return True, "PASS api: " + (p.stdout.strip().splitlines() or [""])[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--geqc", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", help="keep the work files in this directory")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = args.keep or tempfile.mkdtemp(prefix="geqc-crosscheck-")
    os.makedirs(work, exist_ok=True)
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for ok, line in pool.map(lambda g: check_model(args.geqc, g, work), args.models):
            print(line, flush=True)
            passed += ok
            failed += not ok
    for ok, line in filter(None, [trained_resnet(work)]):
        print(line, flush=True)
        passed += ok
        failed += not ok
    ok, line = api_test(args.geqc, work)
    print(line, flush=True)
    passed += ok
    failed += not ok
    try:
        lines, bad = cli_tests(*build(args.geqc, api_geq(), work), work)
    except Exception as e:
        lines, bad = [f"FAIL cli: {e}"], 1
    for line in lines:
        print(line, flush=True)
    passed += len(lines) - bad
    failed += bad
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
