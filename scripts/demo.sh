#!/usr/bin/env bash
# `make demo`: lint the paper's two models, compile the exact one natively, and run it.
set -euo pipefail
B=${1:-build}
out="$B/demo"
mkdir -p "$out"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "== The lint: one pixel of input size decides exact equivariance =="
step "$B/geqc" examples/paper28.geq
echo "(paper28.geq: no warnings, exact for every element of p4)"
step "$B/geqc" examples/paper29.geq || true
step "$B/geqc" --lint-json examples/paper29.geq

echo; echo "== Native code: compile paper28.geq and run it =="
step "$B/geqc" examples/paper28.geq -o "$out/paper28"
step "$out/paper28" --check-equivariance --seed 7
step "$B/geqc" examples/paper29.geq -Wno-equivariance -o "$out/paper29"
step "$out/paper29" --check-equivariance --seed 7
step "$out/paper28" --bench --batch 1 --threads 2
echo; echo "== The same model as a PyTorch module =="
step "$B/geqc" --emit=pytorch -o "$out/paper28.py" examples/paper28.geq
head -n 12 "$out/paper28.py"
