#!/bin/sh
# The PyTorch oracle (make check): tests/torch/run.sh GEQC, from the repo root.
# Every generated model and examples/*.geq through equiv.py (the lint's verdict against
# measured equivariance errors), then the module's own tests. Prints one line per model
# and test (with the error table of any model that fails), then `N passed, N failed`.
set -u
[ $# -eq 1 ] || { echo "usage: tests/torch/run.sh GEQC" >&2; exit 2; }
case $1 in /*) geqc=$1 ;; *) geqc=$PWD/$1 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs one script into the log; a script that dies without saying FAIL still fails.
suite() {
	"$@" >"$tmp/one" 2>&1
	rc=$?
	cat "$tmp/one"
	cat "$tmp/one" >>"$tmp/out"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$tmp/one"; then
		echo "FAIL $(basename "$2") exited with status $rc" | tee -a "$tmp/out"
	fi
}

: >"$tmp/out"
suite $py "$here/gen_models.py" "$tmp/models" >/dev/null
# shellcheck disable=SC2046
suite $py "$here/equiv.py" --quiet --geqc "$geqc" "$here"/../../examples/*.geq \
	$(ls "$tmp"/models/*.geq)
suite $py "$here/test_module.py" --geqc "$geqc"
passed=$(grep -c '^PASS ' "$tmp/out")
failed=$(grep -c '^FAIL ' "$tmp/out")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
