#!/usr/bin/python3
"""`--check-equivariance` on deep networks: rounding is not a broken symmetry, and a
broken symmetry is not rounding.

    noise-floor.py GEQC LIBDIR

A 300-layer exact p4 net (lift, 298 x relu(bn(gconv 3x3 p=1)), a head) on 9x9 input
measures err_g of 1e-3 and more in float32 for some seeds: pure rounding (the same
network is exact in exact arithmetic), above the 1e-4 a shallow net would be held to. The
executable must say "agrees" for every element and print the noise floor it measured.
The same net with a 2x2 max pool before its head is broken for r, r2, r3: the executable
must agree with the lint that says so, and, built from C whose lint verdict was edited to
"exact", must call every element whose err_g exceeds the printed tolerance a
disagreement (exit 1), which must happen for some seed: a deep network's noise floor does
not excuse a real break. (The numbers depend on the kernels the CPU runs, so the checks
are on the rule, not on fixed values.)
Prints PASS/FAIL lines, then `N passed, N failed`.
"""
import os
import re
import subprocess
import sys
import tempfile

LAYERS, SEEDS = 300, range(1, 7)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def deep_net(broken):
    lines = ["model deep(x: [1, 9, 9]) on p4 {", "    h = relu(bn(lift(x, 8, k=3, p=1)));"]
    lines += ["    h = relu(bn(gconv(h, 8, k=3, p=1)));"] * (LAYERS - 2)
    if broken:
        lines.append("    h = maxpool(h, 2);  # 9x9 -> 4x4 off-centre: r, r2, r3 break")
    lines += ["    return linear(global_avgpool(gpool(h, max)), 10);", "}"]
    return "\n".join(lines) + "\n"


def build(geqc, libdir, work, name, src, claim_exact=False):
    geq, c, exe = (os.path.join(work, name + ext) for ext in (".geq", ".c", ""))
    with open(geq, "w") as f:
        f.write(src)
    p = run([geqc, "-Wno-equivariance", "--emit=c", "-o", c, geq])
    if p.returncode:
        raise RuntimeError(p.stderr)
    if claim_exact:  # the verdict a wrong lint would have given
        text = open(c).read()
        text = re.sub(r"\.lint_exact = 0x[0-9a-f]+u", ".lint_exact = 0xffu", text)
        open(c, "w").write(text)
    pkg = run(["pkg-config", "--libs", "openblas", "jansson", "libpng"]).stdout.split()
    cc = [os.environ.get("CC", "cc"), "-O2", "-std=c11", "-DGEQC_MAIN", "-I", "runtime", c,
          "-o", exe, os.path.join(libdir, "libgeqrt.a")] + pkg + ["-lm"]
    p = run(cc)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return exe


def errors(out):
    """The noise floor, the tolerance for exact elements, and {element: (err_g, verdict,
    agrees)}, from the printed lines."""
    head = re.search(r"^noise floor ([0-9.e+-]+) .*exact: err_g <= ([0-9.e+-]+)", out, re.M)
    rows = re.findall(r"^(e|r|r2|r3)\s+([0-9.e+-]+)\s+(exact|broken)\s+(agrees|DISAGREES)",
                      out, re.M)
    floor, tol = (float(head.group(1)), float(head.group(2))) if head else (None, None)
    return floor, tol, {g: (float(e), v, a == "agrees") for g, e, v, a in rows}


def main():
    geqc, libdir = sys.argv[1], sys.argv[2]
    results = []

    def check(what, ok, detail=""):
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} {what}" + ("" if ok else f": {detail}"), flush=True)

    with tempfile.TemporaryDirectory(prefix="geqc-noise-") as work:
        exact = build(geqc, libdir, work, "exact", deep_net(False))
        broken = build(geqc, libdir, work, "broken", deep_net(True))
        liar = build(geqc, libdir, work, "liar", deep_net(True), claim_exact=True)
        above = caught = 0
        for seed in SEEDS:
            args = ["--check-equivariance", "--seed", str(seed)]
            p = run([exact] + args)
            floor, _, rows = errors(p.stdout)
            above += any(e > 1e-4 for e, _, _ in rows.values())
            check(f"deep exact net, seed {seed}: every element agrees, floor printed",
                  p.returncode == 0 and floor is not None and len(rows) == 4
                  and all(a for _, _, a in rows.values()), p.stdout + p.stderr)
            p = run([broken] + args)
            _, _, rows = errors(p.stdout)
            check(f"deep broken net, seed {seed}: agrees with the lint's 'broken'",
                  p.returncode == 0 and len(rows) == 4 and rows["r"][1] == "broken",
                  p.stdout + p.stderr)
            p = run([liar] + args)
            _, tol, rows = errors(p.stdout)
            over = [g for g in ("r", "r2", "r3") if g in rows and rows[g][0] > tol]
            caught += bool(over)
            check(f"deep broken net claimed exact, seed {seed}: an error above the tolerance "
                  "is a disagreement", len(rows) == 4 and p.returncode == (1 if over else 0)
                  and all(not rows[g][2] for g in over), p.stdout + p.stderr)
        check("the deep exact net's err_g exceeds 1e-4 for some seed (a shallow net's "
              "tolerance)", above > 0, "the test no longer exercises deep rounding")
        check("the broken net claimed exact is caught for some seed", caught > 0,
              "no seed's error exceeded the tolerance")
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
