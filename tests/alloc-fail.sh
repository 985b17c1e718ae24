#!/usr/bin/env bash
# The allocation-failure test (tests/alloc-fail.c) over the compiler and the loaders:
# every allocation made to fail in turn; prints `N passed, N failed` last.
#   compiler: examples/p4cnn.geq (a clean model), examples/paper29.geq (warnings) and
#             tests/errors/independent-errors.geq (errors), each in five modes;
#             ALLOC_FAIL_ALL=1 runs every example and fuzz/tiny.geq too (slower)
#   loaders:  tests/bad, tests/data, the example images, and the valid files that
#             fuzz/make-seeds.py generates (weights, arrays, PNGs of every kind)
# Debugging: ALLOC_FAIL_VERBOSE=1 prints each case's count of allocations, and
# ALLOC_FAIL_TRACE=1 the stack of each failing allocation.
# Usage (from the repo root, after `make B=... FUZZ_CHECK_PREREQS`): tests/alloc-fail.sh [B]
set -u
B=${1:-build}
bin=$B/san/tests/alloc-fail
seeds=$B/fuzz/seeds
for need in "$bin" "$seeds/png"; do
	if [ ! -e "$need" ]; then
		echo "alloc-fail: $need is missing (make alloc-fail builds it)" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
models=(examples/p4cnn.geq examples/paper29.geq tests/errors/independent-errors.geq)
[ -n "${ALLOC_FAIL_ALL:-}" ] && models=(examples/*.geq fuzz/tiny.geq tests/errors/independent-errors.geq)
exec "$bin" "${models[@]}" tests/bad tests/data examples/*.png examples/*.pgm "$seeds"/*/gen-*
