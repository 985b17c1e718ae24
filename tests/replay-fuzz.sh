#!/usr/bin/env bash
# Replays, without libFuzzer, every input that once crashed or hung a fuzz target
# (tests/fuzz-regressions/TARGET/) and the targets' seed corpora ($B/fuzz/seeds/TARGET/,
# from fuzz/make-seeds.py) through $B/san/fuzz/replay-TARGET: the fuzz target built with
# gcc under ASan/UBSan and fuzz/replay.c's main, one child process per input. An input fails
# on a crash, a sanitizer report (leaks included), a broken FUZZ_ASSERT, more than 10 s, or
# a single allocation over 512 MB (the fuzzers' -malloc_limit_mb). Prints `N passed,
# N failed` last. Usage (from the repo root): tests/replay-fuzz.sh [B]   (default build)
set -u
B=${1:-build}
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:max_allocation_size_mb=512"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0
for t in geq safetensors npy png pgm; do
	bin=$B/san/fuzz/replay-$t
	dirs=()
	for d in "tests/fuzz-regressions/$t" "$B/fuzz/seeds/$t"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	if [ ! -x "$bin" ] || [ ! -d "$B/fuzz/seeds/$t" ]; then
		echo "FAIL $t: $bin or $B/fuzz/seeds/$t is missing (make fuzz-replay builds them)"
		failed=$((failed + 1))
		continue
	fi
	out=$("$bin" "${dirs[@]}" 2>&1)
	line=$(tail -n 1 <<<"$out")
	p=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' <<<"$line")
	f=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' <<<"$line")
	if [ -z "$p" ]; then
		p=0 f=1
	fi
	[ "$f" -ne 0 ] && sed 's/^/    /' <<<"$out" | tail -n 40
	printf '%-12s %4d passed, %d failed\n' "$t" "$p" "$f"
	passed=$((passed + p)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
