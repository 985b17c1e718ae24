#!/bin/sh
# tests/native/crosscheck.sh GEQC: the native code against the PyTorch module, run from the
# repository root (make check). Models: examples/*.geq, tests/native/models/*.geq (the memory
# planner's edge cases) and those of tests/torch/gen_models.py.
# The executables are built sanitized against $GEQRT_LIBDIR/libgeqrt.a (default build/san,
# as `make build/san/libgeqrt.a` makes it), so every run is also a sanitizer test. Then the
# embeddable API (test_api.c: no allocation in forward, load errors) and the command line.
# Prints a line per model and check, then `N passed, N failed`; exits 1 on any failure.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: tests/native/crosscheck.sh GEQC" >&2
	exit 2
fi
GEQC=$1
export GEQC_CFLAGS="${GEQC_CFLAGS--fsanitize=address,undefined -fno-sanitize-recover=all -g}"
export GEQRT_LIBDIR="${GEQRT_LIBDIR-build/san}"
export ASAN_OPTIONS="${ASAN_OPTIONS-detect_leaks=1}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS-1}" # the tests run two models at a time
work=$(mktemp -d "${TMPDIR:-/tmp}/geqc-native-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
/usr/bin/python3 tests/torch/gen_models.py "$work/gen" >"$work/models"
exec /usr/bin/python3 tests/native/crosscheck.py --geqc "$GEQC" --keep "$work/run" \
	examples/*.geq tests/native/models/*.geq $(cat "$work/models")
