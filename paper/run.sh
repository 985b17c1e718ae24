#!/usr/bin/env bash
# `make paper`: the paper's experiment on Fashion-MNIST, end to end through geqc.
# The same P4CNN at 28x28 (the lint: exact) and 29x29 (the lint: broken for r, r2, r3) is
# emitted as PyTorch, trained upright with the same seed and schedule, compiled to native
# executables, and evaluated on the test set rotated by 0, 10, ..., 350 degrees.
# The two nets train and evaluate side by side, one thread each: on two cores that beats
# two threads each in turn, and it degrades gracefully when the machine is busy.
#
# Usage: paper/run.sh BUILD_DIR [--epochs E] [--quick]
#   --quick   2000 training images, 1 epoch, 200 test images, still all 36 angles
# Writes paper/out/eE/ (or paper/out/quick/); a full run also writes paper/results-E.md
# and paper/accuracy-E.png.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
B=${1:?usage: paper/run.sh BUILD_DIR [--epochs E] [--quick]}
shift
epochs=2 quick=0
while [ $# -gt 0 ]; do
	case $1 in
	--epochs) epochs=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	*) echo "paper/run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
if [ "$quick" = 1 ]; then
	epochs=1 train_n=2000 test_n=200 out=paper/out/quick
else
	train_n=60000 test_n=10000 out=paper/out/e$epochs
fi
geqc=$B/geqc
mkdir -p "$out"
start=$SECONDS
stage() { printf '\n\033[1m== [%4ds] %s ==\033[0m\n' $((SECONDS - start)) "$*"; }
# both CMD...: CMD 28 and CMD 29 side by side (a function or program taking the size);
# fails if either fails.
both() {
	local pids=() n rc=0
	for n in 28 29; do
		"$@" $n &
		pids+=($!)
	done
	for n in "${pids[@]}"; do
		wait "$n" || rc=1
	done
	return $rc
}
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

stage "The lint of the two models"
for n in 28 29; do
	"$geqc" --lint-json "examples/paper$n.geq" >"$out/lint$n.json" 2>/dev/null
	printf '  paper%s.geq: ' $n
	$PY -c 'import json, sys; sys.path.insert(0, "paper"); import report
print(report.verdict(json.load(open(sys.argv[1]))))' "$out/lint$n.json"
done

stage "Emit both models as PyTorch modules"
for n in 28 29; do
	"$geqc" --emit=pytorch -o "$out/paper$n.py" "examples/paper$n.geq" 2>/dev/null
	echo "  $out/paper$n.py"
done

stage "Train both on $train_n upright images, $epochs epoch(s), seed 0 (PyTorch)"
train() {
	$PY paper/train.py "$out/paper$1.py" "$1" "$out/fashion$1.safetensors" \
		--epochs "$epochs" --train-n "$train_n" --seed 0 --threads 1
}
both train

stage "Compile both natively with geqc"
for n in 28 29; do
	"$geqc" "examples/paper$n.geq" -o "$out/fashion$n" || exit 1
	printf '  %s: ' "$out/fashion$n"
	"$out/fashion$n" --bench --batch 64 --threads 1 2>/dev/null
done

stage "Evaluate the native executables on $test_n test images x 36 angles"
evaluate() {
	$PY paper/evaluate.py "$out/fashion$1" "$out/fashion$1.safetensors" "$1" "$out/acc$1.npz" \
		--test-n "$test_n" --torch "$out/paper$1.py" --threads 1 || return 1
	[ "$1" = 28 ] || return 0
	# The 29x29 net once more at the quarter turns, the picture turned before the padding
	# (in the 28x28 net's turn: the 29x29 images take 7% longer).
	$PY paper/evaluate.py "$out/fashion29" "$out/fashion29.safetensors" 29 "$out/acc29c.npz" \
		--test-n "$test_n" --angles 90,180,270 --about content --threads 1
}
both evaluate

stage "Table and plot"
$PY paper/report.py --epochs "$epochs" --train-n "$train_n" \
	--md "$out/results.md" --png "$out/accuracy.png" \
	"$out/lint28.json" "$out/acc28.npz" "$out/lint29.json" "$out/acc29.npz" "$out/acc29c.npz"
if [ "$quick" = 0 ]; then
	cp "$out/results.md" "paper/results-$epochs.md"
	cp "$out/accuracy.png" "paper/accuracy-$epochs.png"
	echo "copied to paper/results-$epochs.md and paper/accuracy-$epochs.png"
fi

stage "Image mode: the exact net on a coat, upright and turned by 90 degrees"
for img in examples/fashion-coat.png examples/fashion-coat-r90.png; do
	echo "\$ $out/fashion28 --weights $out/fashion28.safetensors $img"
	"$out/fashion28" --weights "$out/fashion28.safetensors" "$img"
done
stage "Done in $((SECONDS - start)) s: $out/"
