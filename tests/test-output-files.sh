#!/usr/bin/env bash
# Where geqc writes: a regular -o file is replaced whole (through a temporary name), but a
# FIFO or a device such as /dev/null is written in place and stays what it is (renaming
# over /dev/null, as root, would replace the device with a regular file).
# Usage, from the repo root: tests/test-output-files.sh GEQC; prints `N passed, N failed`.
set -u
geqc=$1
model=examples/p4cnn.geq
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { # NAME CONDITION...
	local name=$1
	shift
	if "$@"; then passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}

# --emit=KIND -o a FIFO: what a reader of the FIFO gets equals the regular file's bytes.
through_fifo() { # KIND
	rm -f "$tmp/fifo" "$tmp/got"
	mkfifo "$tmp/fifo"
	timeout 120 cat "$tmp/fifo" >"$tmp/got" & # a geqc that never opens it must not hang the test
	local reader=$!
	"$geqc" --emit="$1" "$model" -o "$tmp/fifo" 2>"$tmp/err"
	local rc=$?
	wait "$reader"
	check "$1 to a FIFO exits 0" [ $rc -eq 0 ]
	check "$1: the FIFO is still a FIFO" [ -p "$tmp/fifo" ]
	check "$1: no temporary file left" [ -z "$(ls "$tmp" | grep geqc-tmp)" ]
}
through_fifo pytorch
"$geqc" --emit=pytorch "$model" -o "$tmp/module.py"
# line 1 is the command line, which names the output
check "pytorch through a FIFO = to a file" cmp -s <(tail -n +2 "$tmp/got") <(tail -n +2 "$tmp/module.py")
through_fifo c
check "C through a FIFO is the model's C" grep -q "^#include" "$tmp/got"
through_fifo exe
check "exe through a FIFO is an ELF file" [ "$(head -c 4 "$tmp/got" | tail -c 3)" = "ELF" ]

# /dev/null as the output: accepted, and left a character device.
for kind in pytorch exe; do
	"$geqc" --emit=$kind "$model" -o /dev/null 2>"$tmp/err"
	check "$kind -o /dev/null exits 0" [ $? -eq 0 ]
	check "$kind -o /dev/null leaves /dev/null a device" [ -c /dev/null ]
done

# A regular file is still replaced, not appended to or written through.
echo stale >"$tmp/m.py"
"$geqc" --emit=pytorch "$model" -o "$tmp/m.py"
check "a regular -o file is replaced" cmp -s <(tail -n +2 "$tmp/m.py") <(tail -n +2 "$tmp/module.py")

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
