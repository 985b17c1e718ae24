#!/usr/bin/python3
"""`make bench`: geqc's native code against the PyTorch baseline (SPEC §5).

    bench/run.py --build BUILD [--threads 2] [--rounds 5] [--out docs] [--isa avx2]
                 [--only NAME,...]

For each benchmark model (examples/p4cnn.geq and examples/p4m-wide.geq at batch 1 and 64;
the three ResNets of bench/models, written by bench/resnets.py, at batch 1 and 16): the
generated executable's `--bench --tune --batch B --threads T` and bench/baseline.py (the same
model deployed the best way a PyTorch user can, saved once and timed in fresh processes),
alternated over several rounds in this one run so that both see the same machine, with
each process's peak resident memory; the machine's FMA peak from bench/peak.c and the
micro-kernel geqc ran (bench/kernel.c); each model's GFLOP/s and fraction of peak. Prints
a table and whether issue 14's targets are met, and writes OUT/performance.md and
OUT/performance.png (with --isa avx2: OUT/performance-avx2.*, both sides held to AVX2).
Targets are reported, never a failure: the exit status is 0 unless something could not be
measured.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

PY = "/usr/bin/python3"
# (model, batches, most rounds): the ResNets take seconds a run, so fewer rounds of them
# keep `make bench` within ten minutes.
MODELS = [("examples/p4cnn.geq", [1, 64], None), ("examples/p4m-wide.geq", [1, 64], None),
          ("bench/models/resnet44-p4m-33.geq", [1, 16], 3),
          ("bench/models/resnet44-p4-97.geq", [1, 16], 3),
          ("bench/models/resnet18-p4-225.geq", [1, 16], 3)]
TARGET_RATIO = {1: 2.0}  # geqc / PyTorch at batch 1; serving batches: TARGET_SERVING
TARGET_SERVING = 1.5
TARGET_PEAK = 0.5  # of the two cores' FMA peak, on the wide model
WIDE = "examples/p4m-wide.geq"


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}{r.stdout}")
    return r.stdout


def run_peak(cmd, env):
    """(stdout, peak resident KB) of cmd, from the kernel's accounting of that process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}):\n{err.read()}")
        return out.read(), usage.ru_maxrss


def isa_env(isa):
    """The environment that holds geqc's runtime and oneDNN to isa (None: the best)."""
    env = dict(os.environ)
    if isa == "avx2":
        env.update(GEQRT_KERNEL="avx2", ONEDNN_MAX_CPU_ISA="AVX2", DNNL_MAX_CPU_ISA="AVX2")
    return env


PLACEMENT = re.compile(r"^vCPUs .*round trip ([0-9]+) ns before the runs, ([0-9]+) ns after$",
                       re.M)


def geqc_rate(exe, batch, threads, env):
    """The executable's median images/s (its first output line: `N images/s`), its peak
    resident KB, and the cache-line round trips (ns) between its two CPUs before and after
    its runs (none on one thread): two threads at batch 1 scale with that placement."""
    out, rss = run_peak([exe, "--bench", "--tune", "--batch", str(batch), "--threads",
                         str(threads)], env)
    m = PLACEMENT.search(out)
    return float(out.split()[0]), rss, [float(x) for x in m.groups()] if m else []


def far(ns):
    """The VM's placement of two CPUs whose round trip is ns (runtime/geqrt.h's GQ_FAR_NS)."""
    return "far" if ns > 280 else "near"


def placement(ns):
    """`near, round trip 66-72 ns` (or `near/far, ...` where the probes disagree)."""
    if not ns:
        return "not probed (one thread)"
    states = "/".join(sorted({far(x) for x in ns}, reverse=True))
    return f"{states}, round trip {min(ns):.0f}-{max(ns):.0f} ns"


def layer_profile(exe, threads, env):
    """The executable's `--bench --profile` table at batch 1: each layer's time per image."""
    out = run([exe, "--bench", "--tune", "--profile", "--batch", "1", "--threads",
               str(threads)], env)
    lines = out.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("per image"))
    return lines[start:]


def torch_save(geqc, model, batch, path):
    """The PyTorch deployment, frozen and saved once for batches up to batch."""
    run([PY, "bench/baseline.py", "--geqc", geqc, model, "--batch", str(batch), "--save",
         path])


def torch_rate(saved, batch, threads, env):
    """A fresh process's JSON (images_per_s, peak_rss_kb, ...) for the saved model."""
    out = run([PY, "bench/baseline.py", "--load", saved, "--batch", str(batch), "--threads",
               str(threads)], env)
    return json.loads(out)


def peak(build, threads):
    """{threads: GFLOP/s measured} and the ISA bench/peak.c used."""
    exe = os.path.join(build, "bench", "peak")
    out = run([exe, "1", str(threads)])
    rows = [line.split() for line in out.splitlines()]
    return {int(r[1]): float(r[2]) for r in rows}, rows[0][3]


def cores_peak(pk, threads):
    """The FMA peak of `threads` cores: threads times one core's. Measured with all threads
    at once it is the same on an idle machine, and less on a busy one, where it would
    flatter the fraction of peak."""
    return max(pk[threads], threads * pk[1])


def measure(a, tmp):
    """One row per (model, batch): medians over the rounds of each side's median, and of
    the ratio each round measured. A round times geqc, then PyTorch, then geqc again, and
    compares PyTorch with the geometric mean of the two geqc runs, which sit on either side
    of it in time: the machine's speed drifts within a round as well as between rounds, and
    a steady drift cancels out of that ratio, where it biased one taken from two runs one
    after the other. Peak memory: the largest of the rounds' processes."""
    rows = []
    env = isa_env(a.isa)
    for model, batches, most in MODELS:
        name = os.path.basename(model)[:-4]
        if a.only and name not in a.only.split(","):
            continue
        exe, saved = os.path.join(tmp, name), os.path.join(tmp, name + ".pt")
        run([a.geqc, "-Wno-equivariance", model, "-o", exe])
        torch_save(a.geqc, model, max(batches), saved)
        for batch in batches:
            g, t, info, grss, trss, ns = [], [], None, 0, 0, []
            ratios = []
            for _ in range(min(a.rounds, most or a.rounds)):  # alternate: the same load
                before, rss0, ns0 = geqc_rate(exe, batch, a.threads, env)
                info = torch_rate(saved, batch, a.threads, env)
                after, rss1, ns1 = geqc_rate(exe, batch, a.threads, env)
                ns += ns0 + ns1
                g += [before, after]
                t.append(info["images_per_s"])
                grss = max(grss, rss0, rss1)
                trss = max(trss, info["peak_rss_kb"])
                ratios.append((before * after) ** 0.5 / t[-1])
            rows.append({"model": name, "batch": batch, "geqc": statistics.median(g),
                         "torch": statistics.median(t), "flops": info["flops_per_image"],
                         "torch_ops": info["ops"], "ratio": statistics.median(ratios),
                         "ratio_lo": min(ratios), "ratio_hi": max(ratios),
                         "rounds": len(ratios), "geqc_mb": grss / 1024,
                         "torch_mb": trss / 1024, "vcpu_ns": ns})
            r = rows[-1]
            if batch == 1:
                r["profile"] = layer_profile(exe, a.threads, env)
            print(f"  {name} batch {batch}: geqc {r['geqc']:.1f}, PyTorch {r['torch']:.1f} "
                  f"images/s; peak {r['geqc_mb']:.0f} / {r['torch_mb']:.0f} MB; "
                  f"vCPUs {placement(ns)}",
                  file=sys.stderr)
    return rows


def annotate(rows, peak2):
    for r in rows:
        r["gflops"] = r["geqc"] * r["flops"] * 1e-9
        r["torch_gflops"] = r["torch"] * r["flops"] * 1e-9
        r["peak_frac"] = r["gflops"] / peak2


def targets(rows):
    """(description, met) for each of issue 14's targets (and issue 5's peak fraction)."""
    out = []
    for r in rows:
        want = TARGET_RATIO.get(r["batch"], TARGET_SERVING)
        out.append((f"{r['model']} batch {r['batch']}: geqc >= {want}x PyTorch "
                    f"(measured {r['ratio']:.2f}x)", r["ratio"] >= want))
        out.append((f"{r['model']} batch {r['batch']}: geqc's peak memory <= PyTorch's "
                    f"(measured {r['geqc_mb']:.0f} MB / {r['torch_mb']:.0f} MB)",
                    r["geqc_mb"] <= r["torch_mb"]))
    wide = [r for r in rows if r["model"] == os.path.basename(WIDE)[:-4]]
    if not wide:
        return out
    best = max(wide, key=lambda r: r["peak_frac"])
    out.append((f"{best['model']}: >= {TARGET_PEAK:.0%} of the two cores' FMA peak (measured "
                 f"{best['peak_frac']:.1%} at batch {best['batch']})",
                 best["peak_frac"] >= TARGET_PEAK))
    return out


HEAD = ("| model | batch | geqc images/s | PyTorch images/s | geqc / PyTorch (range, rounds) "
        "| MFLOP/image | geqc GFLOP/s | PyTorch GFLOP/s | geqc % of peak "
        "| peak MB geqc / PyTorch |")


def table(rows):
    lines = [HEAD, "|" + "---|" * (HEAD.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['batch']} | {r['geqc']:.1f} | {r['torch']:.1f} | "
                     f"{r['ratio']:.2f}x ({r['ratio_lo']:.2f}-{r['ratio_hi']:.2f}, "
                     f"{r['rounds']}) | {r['flops'] / 1e6:.1f} | {r['gflops']:.1f} | "
                     f"{r['torch_gflops']:.1f} | {100 * r['peak_frac']:.1f}% | "
                     f"{r['geqc_mb']:.0f} / {r['torch_mb']:.0f} |")
    return "\n".join(lines)


def placements(rows):
    """Where the VM put the two CPUs during geqc's runs: over the whole run, then per row."""
    ns = [x for r in rows for x in r["vcpu_ns"]]
    per = "; ".join(f"{r['model']} b{r['batch']} {placement(r['vcpu_ns'])}" for r in rows)
    return f"vCPUs {placement(ns)}", per


def plot(rows, path, peak2):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = [f"{r['model']}\nb{r['batch']}" for r in rows]
    xs = range(len(rows))
    fig, ax = plt.subplots(3, 1, figsize=(12, 11))
    w = 0.38

    def pair(a, key, tkey, ylabel, title):
        a.bar([x - w / 2 for x in xs], [r[key] for r in rows], w, label="geqc (native)")
        a.bar([x + w / 2 for x in xs], [r[tkey] for r in rows], w,
              label="PyTorch (jit, frozen, oneDNN)")
        a.set_ylabel(ylabel)
        a.set_xticks(list(xs), labels, fontsize=7)
        a.set_title(title)

    pair(ax[0], "geqc", "torch", "images/s (log)", "throughput, same machine, same run")
    for x, r in zip(xs, rows):
        ax[0].annotate(f"{r['ratio']:.2f}x", (x, max(r["geqc"], r["torch"])),
                       ha="center", va="bottom", fontsize=8)
    ax[0].set_yscale("log")
    ax[0].legend(fontsize=8)
    pair(ax[1], "gflops", "torch_gflops", "GFLOP/s", "useful arithmetic rate")
    ax[1].axhline(peak2, color="k", ls="--", lw=1, label="FMA peak, 2 cores")
    ax[1].axhline(peak2 * TARGET_PEAK, color="gray", ls=":", lw=1, label="half the peak")
    # Winograd's fewer multiplications let the useful rate pass the peak: keep every bar
    ax[1].set_ylim(0, max([peak2 * 1.25] + [1.08 * r["gflops"] for r in rows]))
    ax[1].legend(fontsize=8, loc="upper left")
    pair(ax[2], "geqc_mb", "torch_mb", "MB", "peak resident memory of the process")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return cpu, os.cpu_count(), load


def kernel(build, env):
    """The micro-kernel geqc's runtime runs here (bench/kernel.c), in words."""
    k = run([os.path.join(build, "bench", "kernel")], env).strip()
    return {"avx512": "AVX-512 micro-kernels and Winograd transforms (16 tiles at a time)",
            "avx2": "AVX2+FMA micro-kernels and Winograd transforms",
            "c": "portable C kernels"}.get(k, k)


def isa_note(a):
    if a.isa != "avx2":
        return ("Both sides use the best instructions the CPU has (oneDNN picks its own; "
                "geqc's runtime dispatches at run time).")
    return ("Both sides were held to AVX2 (`make bench BENCH_ISA=avx2`: GEQRT_KERNEL=avx2 "
            "for geqc, ONEDNN_MAX_CPU_ISA=AVX2 for PyTorch), as on a machine without "
            "AVX-512; the FMA peak below is still the machine's own.")


def report(a, rows, pk, peak_t, isa, goals, load_before, kern):
    import torch
    cpu, ncpu, _ = machine()
    lines = [
        "# Performance" + (" (AVX2 only)" if a.isa == "avx2" else ""),
        "",
        "Generated by `make bench` (bench/run.py); do not edit, rerun it. "
        f"{datetime.date.today().isoformat()}, {cpu}, {ncpu} CPUs, {platform.system()}; "
        f"torch {torch.__version__}; {a.threads} threads on both sides; geqc ran {kern}. "
        + isa_note(a) + f" Load average before the run: {load_before:.2f}"
        + (" (other work shared the cores: both sides ran slower than the machine can, and "
           "multi-threaded PyTorch, whose OpenMP barriers wait for every thread, far slower; "
           "rerun on an idle machine for numbers to quote)." if load_before > 1.0 else "."),
        "",
        "What is compared (SPEC §5): the executable `geqc model.geq -o model` builds, timed "
        f"by `model --bench --tune --batch B --threads {a.threads}` (--tune: each layer's "
        "plan, expanded, orbit or Winograd group, chosen by timing them in the model on "
        "these threads, at batch 1 and at batches, before the timed runs and not timed; "
        "runtime/geqrt.h's gq_net_tune), against the same model "
        "deployed the best way a PyTorch user can on a CPU (bench/baseline.py): geqc's "
        "`--emit=pytorch` module with random weights, filters expanded once into plain "
        "Conv2d layers, then `torch.jit.trace` + `torch.jit.freeze`, saved, and in a fresh "
        "process loaded, `torch.jit.optimize_for_inference` (conv-bn folding, oneDNN "
        "convolutions) and checked against the module's output to 1e-4 before timing. "
        "Both report the median images/s of 7 runs of >= 0.2 s after a warm-up; the table "
        "gives the median over the rounds (5 for the small models, 3 for the ResNets), each "
        "timing geqc, PyTorch, then geqc again, and the ratio is the median of the rounds' "
        "ratios (PyTorch against the geometric mean of the geqc runs either side of it), "
        "their range in parentheses: on a shared virtual machine the speed of both sides "
        "drifts by tens of percent from minute to minute, and a steady drift within a round "
        "cancels out of its ratio. Peak memory is each process's peak resident set (the "
        "kernel's ru_maxrss), the largest over the rounds: for geqc the executable with its "
        "weights, for PyTorch the process that loads the saved model, optimises and runs it "
        "(the Python interpreter and torch's libraries included, some 250 MB).",
        "",
        "The ResNets (bench/models, written by bench/resnets.py) are SPEC §5's: ResNet-44 "
        "on p4m at 33x33 and on p4 at 97x97 (widths 8/16/32, basic blocks, a strided 1x1 "
        "shortcut where the shape changes), ResNet-18 on p4 at 225x225 (7x7 stride-2 lift, "
        "3x3 stride-2 max pool, four stages of two blocks, widths 16-128).",
        "",
        table(rows),
        "",
        "FLOPs count 2*Cout*Cin*k*k*OH*OW per expanded convolution plus 2*N*Nin per "
        "linear layer: the work of the model as written, whatever the algorithm (geqc's "
        "Winograd convolutions do fewer multiplications, so its GFLOP/s can pass the peak). "
        f"FMA peak (bench/peak.c, {isa}, best of 60 short runs): {pk[1]:.1f} GFLOP/s on one "
        f"core; % of peak is against {a.threads} times that, {peak_t:.1f} GFLOP/s "
        f"({pk[a.threads]:.1f} measured with {a.threads} threads at once).",
        "",
        f"{placements(rows)[0]} (geqc's two CPUs, probed before and after each of its "
        "timings: a cache line there and back, `near` under 280 ns; two threads at batch 1 "
        "scale well only near). Per row: " + placements(rows)[1] + ".",
        "",
        f"![images/s, GFLOP/s and peak memory]({os.path.basename(a.png)})",
        "",
        "## Where the time goes",
        "",
        f"Each model's layers at batch 1, {a.threads} threads "
        "(`model --bench --tune --profile`, in the same run; each layer's name says its "
        "tuned plan, and its plan for batches where that differs):",
        "",
    ]
    for r in rows:
        if "profile" in r:
            lines += ["<details>", f"<summary>{r['model']}</summary>", "", "```"]
            lines += r["profile"] + ["```", "", "</details>", ""]
    lines += [
        "How to read it: the 3x3 group convolutions run as Winograd F(4x4,3x3) or "
        "F(2x2,3x3) at stride 1 and their stride-2 forms (81 products per 4x4 tile instead "
        "of 144, 25 per 2x2 instead of 36) at stride 2, with fewer multiplications than the "
        "FLOPs counted above; the rest as a direct kernel or im2col panels, whichever "
        "costs least; a Winograd layer with several panels of tiles runs in blocks of one "
        "panel, each transforming its own tiles' input and running their products while it "
        "is in L2. A layer of more than about 2e6 multiply-adds splits over both threads "
        "at batch 1 (max pools from 256K floats, linear layers from 128K weights); smaller "
        "ones stay on one, which is faster than splitting them.",
        "",
        "## Targets (issue 14)",
        "",
    ]
    lines += [f"- [{'x' if ok else ' '}] {text}" for text, ok in goals]
    lines += ["", "PyTorch graph ops as timed: " + ", ".join(rows[-1]["torch_ops"]) + ".", ""]
    with open(a.md, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="docs")
    ap.add_argument("--isa", choices=["avx2"], help="hold both sides to AVX2")
    ap.add_argument("--only", help="these models only (names without .geq, commas)")
    a = ap.parse_args()
    a.geqc = os.path.join(a.build, "geqc")
    stem = os.path.join(a.out, "performance" + ("-avx2" if a.isa else ""))
    a.md, a.png = stem + ".md", stem + ".png"
    load_before = machine()[2]
    pk, isa = peak(a.build, a.threads)
    kern = kernel(a.build, isa_env(a.isa))
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(a, tmp)
    peak_t = cores_peak(pk, a.threads)
    annotate(rows, peak_t)
    goals = targets(rows)
    print(table(rows))
    print(f"\ngeqc ran {kern}. FMA peak ({isa}): {pk[1]:.1f} GFLOP/s on 1 thread; "
          f"{a.threads} cores: {peak_t:.1f} ({pk[a.threads]:.1f} measured with {a.threads} "
          "threads at once)")
    print(placements(rows)[0])
    if load_before > 0.5:
        print(f"note: load average {load_before:.2f} before the run: other work shares the "
              "cores, so both sides ran slower than the machine can, and multi-threaded "
              "PyTorch (OpenMP barriers) far slower")
    for text, ok in goals:
        print(f"target {'met' if ok else 'NOT met'}: {text}")
    os.makedirs(a.out, exist_ok=True)
    plot(rows, a.png, peak_t)
    report(a, rows, pk, peak_t, isa, goals, load_before, kern)
    print(f"wrote {a.md} and {a.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
