#!/usr/bin/env bash
# Part of `make check`: runs `make paper QUICK=1 AUG=rot90`'s pipeline (a small subset,
# trained on quarter turns, all 36 angles) and checks what it produced: the training batch
# really is turned, the exact net's predictions on the test images turned by 90, 180, 270
# degrees equal its upright predictions image for image, the table and plot exist, the
# image mode works; plus the geometry (rotations, padding, the regimes' angles).
# Usage: paper/test-quick.sh [BUILD_DIR]   (from anywhere; the plain geqc must be built)
# The last line is "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
out=paper/out/quick-rot90
passed=0 failed=0
mkdir -p paper/out

if paper/run.sh "$B" --quick --aug rot90 >"$out.log" 2>&1; then
	echo "PASS the quick pipeline (log: $out.log)"
	passed=$((passed + 1))
else
	echo "FAIL the quick pipeline; the end of $out.log:"
	tail -n 30 "$out.log" | sed 's/^/    /'
	failed=$((failed + 1))
fi

results=$(/usr/bin/python3 paper/test_paper.py "$out" examples 2>&1)
rc=$?
echo "$results"
p=$(grep -c '^PASS' <<<"$results") f=$(grep -c '^FAIL' <<<"$results")
# A crash of the checker itself counts as one more failure.
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
passed=$((passed + p)) failed=$((failed + f))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
