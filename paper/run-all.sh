#!/usr/bin/env bash
# `make paper-all`: both of the paper's claims in one reduced run. For every seed, the
# P4CNN pair (paper28 exact, paper29 one pixel off) is trained in each of the four regimes
# (upright, rot90, gauss45, uniform) and the ResNet pair (resnet29 exact, resnet28 one
# pixel off) upright, on N(45, 20) and on uniform rotations, each with paper/run.sh
# --lean; then paper/report_all.py writes one table of mean +- std over the seeds and
# the plots.
# A run whose directory holds a finished result of the same configuration is not redone,
# so an interrupted paper-all resumes where it stopped.
#
# Usage: paper/run-all.sh BUILD_DIR [--seeds 0,1,2] [--epochs E] [--train-n N] [--test-n N]
# Writes paper/out/all/MODEL-AUG-sSEED/, paper/results-all.md, paper/accuracy-all.png and
# paper/accuracy-resnet.png.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:?usage: paper/run-all.sh BUILD_DIR [--seeds 0,1,2] [--epochs E] [--train-n N] [--test-n N]}
shift
seeds=0,1,2 epochs=2 train_n=10000 test_n=1000
while [ $# -gt 0 ]; do
	case $1 in
	--seeds) seeds=$2; shift 2 ;;
	--epochs) epochs=$2; shift 2 ;;
	--train-n) train_n=$2; shift 2 ;;
	--test-n) test_n=$2; shift 2 ;;
	*) echo "paper/run-all.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
all=paper/out/all
mkdir -p "$all"
start=$SECONDS
dirs=()

# one MODEL AUG SEED: one pair, its log and wall-clock time in its directory.
one() {
	local dir=$all/$1-$2-s$3 config="epochs=$epochs train_n=$train_n test_n=$test_n"
	dirs+=("$dir")
	if [ -f "$dir/done" ] && [ "$(cat "$dir/done")" = "$config" ]; then
		echo "  $dir: done before ($config)"
		return 0
	fi
	mkdir -p "$dir"
	rm -f "$dir/done"
	local t0=$SECONDS
	paper/run.sh "$B" --model "$1" --aug "$2" --seed "$3" --epochs "$epochs" \
		--train-n "$train_n" --test-n "$test_n" --out "$dir" --lean >"$dir/log" 2>&1 || {
		echo "paper/run-all.sh: $dir failed; the end of $dir/log:" >&2
		tail -n 20 "$dir/log" >&2
		return 1
	}
	# The time and the machine's load while it ran (other jobs slow it down).
	echo "$((SECONDS - t0)) $(cut -d' ' -f1-3 /proc/loadavg)" >"$dir/seconds"
	echo "$config" >"$dir/done"
	echo "  $dir: $((SECONDS - t0)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
}

echo "paper-all: seeds $seeds, $epochs epochs on $train_n training images," \
	"$test_n test images x 36 angles"
for seed in ${seeds//,/ }; do
	for aug in upright rot90 gauss45 uniform; do
		one paper "$aug" "$seed"
	done
	for aug in upright gauss45 uniform; do
		one resnet "$aug" "$seed"
	done
done
/usr/bin/python3 paper/report_all.py --epochs "$epochs" --train-n "$train_n" \
	--md paper/results-all.md --png paper/accuracy-all.png --png-resnet paper/accuracy-resnet.png \
	"${dirs[@]}"
echo "paper-all: done in $((SECONDS - start)) s"
