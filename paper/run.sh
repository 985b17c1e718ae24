#!/usr/bin/env bash
# `make paper`: the paper's experiment on Fashion-MNIST, end to end through geqc.
# The same P4CNN at 28x28 (the lint: exact) and 29x29 (the lint: broken for r, r2, r3) is
# emitted as PyTorch, trained with the same seed and schedule (upright, or each image
# turned by its own angle: --aug), compiled to native executables, and evaluated on the
# test set rotated by 0, 10, ..., 350 degrees.
# The two nets train and evaluate side by side, one thread each: on two cores that beats
# two threads each in turn, and it degrades gracefully when the machine is busy.
#
# Usage: paper/run.sh BUILD_DIR [--epochs E] [--quick] [--aug A] [--model M] [--seed S]
#                     [--train-n N] [--test-n N] [--out DIR] [--lean]
#   --quick   2000 training images, 1 epoch, 200 test images, still all 36 angles
#   --aug     upright (default), rot90, gauss45 or uniform (paper/train.py)
#   --model   paper (default: examples/paper28.geq and paper29.geq) or resnet
#             (paper/models/resnet28.geq, one pixel off, and resnet29.geq, exact)
#   --lean    only lint, emit, train, compile, evaluate and table (paper/run-all.sh)
# Writes paper/out/[MODEL-][AUG-]eE/ (or paper/out/quick[-AUG]/, or --out); a full run
# with the default sizes and seed also writes paper/results-[MODEL-][AUG-]E.md and
# paper/accuracy-[MODEL-][AUG-]E.png.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
B=${1:?usage: paper/run.sh BUILD_DIR [--epochs E] [--quick] [--aug A] ...}
shift
epochs=2 quick=0 aug=upright model=paper seed=0 train_n=60000 test_n=10000 out='' lean=0
while [ $# -gt 0 ]; do
	case $1 in
	--epochs) epochs=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--aug) aug=$2; shift 2 ;;
	--model) model=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--train-n) train_n=$2; shift 2 ;;
	--test-n) test_n=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--lean) lean=1; shift ;;
	*) echo "paper/run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
case $aug in upright | rot90 | gauss45 | uniform) ;; *)
	echo "paper/run.sh: --aug must be upright, rot90, gauss45 or uniform, not '$aug'" >&2
	exit 2 ;;
esac
case $model in paper | resnet) ;; *)
	echo "paper/run.sh: --model must be paper or resnet, not '$model'" >&2
	exit 2 ;;
esac
# The name of this configuration in paper/out/ and in paper/results-*.md: the defaults
# (the P4CNN, upright) leave no trace, so `make paper` writes where it always did.
tag=$([ "$model" = paper ] || printf '%s-' "$model")$([ "$aug" = upright ] || printf '%s-' "$aug")
src=examples
[ "$model" = paper ] || src=paper/models
if [ "$quick" = 1 ]; then
	epochs=1 train_n=2000 test_n=200
	out=${out:-paper/out/quick${tag:+-${tag%-}}}
fi
publish=0
if [ -z "$out" ]; then
	out=paper/out/${tag}e$epochs
	[ "$train_n" = 60000 ] && [ "$test_n" = 10000 ] && [ "$seed" = 0 ] && [ "$lean" = 0 ] &&
		publish=1
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
	"$geqc" --lint-json "$src/$model$n.geq" >"$out/lint$n.json" 2>/dev/null
	printf '  %s%s.geq: ' "$model" $n
	$PY -c 'import json, sys; sys.path.insert(0, "paper"); import report
print(report.verdict(json.load(open(sys.argv[1]))))' "$out/lint$n.json"
done

stage "Emit both models as PyTorch modules"
for n in 28 29; do
	"$geqc" --emit=pytorch -o "$out/$model$n.py" "$src/$model$n.geq" 2>/dev/null
	echo "  $out/$model$n.py"
done

stage "Train both on $train_n $aug images, $epochs epoch(s), seed $seed (PyTorch)"
train() {
	$PY paper/train.py "$out/$model$1.py" "$1" "$out/fashion$1.safetensors" \
		--epochs "$epochs" --train-n "$train_n" --seed "$seed" --aug "$aug" --threads 1 \
		--save-batch "$out/batch$1.npz"
}
both train

stage "Compile both natively with geqc"
for n in 28 29; do
	"$geqc" "$src/$model$n.geq" -o "$out/fashion$n" || exit 1
	if [ "$lean" = 1 ]; then
		echo "  $out/fashion$n"
	else
		printf '  %s: ' "$out/fashion$n"
		"$out/fashion$n" --bench --batch 64 --threads 1 2>/dev/null
	fi
done

stage "Evaluate the native executables on $test_n test images x 36 angles"
evaluate() {
	$PY paper/evaluate.py "$out/fashion$1" "$out/fashion$1.safetensors" "$1" "$out/acc$1.npz" \
		--test-n "$test_n" --torch "$out/$model$1.py" --threads 1 || return 1
	[ "$1" = 28 ] && [ "$lean" = 0 ] || return 0
	# The 29x29 net once more at the quarter turns, the picture turned before the padding
	# (in the 28x28 net's turn: the 29x29 images take 7% longer).
	$PY paper/evaluate.py "$out/fashion29" "$out/fashion29.safetensors" 29 "$out/acc29c.npz" \
		--test-n "$test_n" --angles 90,180,270 --about content --threads 1
}
both evaluate

stage "Table and plot"
content=()
[ "$lean" = 1 ] || content=("$out/acc29c.npz")
$PY paper/report.py --epochs "$epochs" --train-n "$train_n" --aug "$aug" --seed "$seed" \
	--model "$model" --md "$out/results.md" --png "$out/accuracy.png" \
	"$out/lint28.json" "$out/acc28.npz" "$out/lint29.json" "$out/acc29.npz" "${content[@]}"
if [ "$publish" = 1 ]; then
	cp "$out/results.md" "paper/results-$tag$epochs.md"
	cp "$out/accuracy.png" "paper/accuracy-$tag$epochs.png"
	echo "copied to paper/results-$tag$epochs.md and paper/accuracy-$tag$epochs.png"
fi

if [ "$lean" = 0 ] && [ "$model" = paper ]; then
	stage "Image mode: the exact net on a coat, upright and turned by 90 degrees"
	for img in examples/fashion-coat.png examples/fashion-coat-r90.png; do
		echo "\$ $out/fashion28 --weights $out/fashion28.safetensors $img"
		"$out/fashion28" --weights "$out/fashion28.safetensors" "$img"
	done
fi
stage "Done in $((SECONDS - start)) s: $out/"
