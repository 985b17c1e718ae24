#!/usr/bin/env bash
# generated/ must be what the current geqc emits for examples/: regenerate every file in a
# scratch copy (same relative paths, so the header comments match) and compare.
# Usage: tests/check-generated.sh GEQC   (from the repo root)
set -u
geqc=$(realpath "$1")
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/examples" "$tmp/generated"
cp examples/*.geq "$tmp/examples/"
passed=0 failed=0
for src in examples/*.geq; do
	name=$(basename "$src" .geq)
	(cd "$tmp" && "$geqc" -Wno-equivariance --emit=c -o "generated/$name.c" "examples/$name.geq")
	for f in "generated/$name.c" "generated/$name.h"; do
		if cmp -s "$tmp/$f" "$root/$f"; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			echo "FAIL $f is not what geqc emits now (run 'make generated')"
			diff -u "$root/$f" "$tmp/$f" 2>&1 | head -n 20
		fi
	done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
