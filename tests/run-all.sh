#!/usr/bin/env bash
# Runs every test suite of `make check` and sums their counts into one closing line.
# Usage: tests/run-all.sh BUILD_DIR   (from the repo root; the sanitized binaries must exist)
set -u
B=${1:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0 broken_suites=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# A suite's counts come from its own closing line: Check's "Checks: N, Failures: F,
# Errors: E" or our runners' "N passed, N failed". A suite that crashes or prints neither
# counts as one failure.
tally() {
	local name=$1 out=$2 rc=$3 line p f
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$out" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		f=$(sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1+\2/' <<<"$line")
		f=$((f)); p=$((p - f))
	else
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
		p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	fi
	if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; }; then
		f=$(( ${f:-0} + 1 )); p=${p:-0}
	fi
	passed=$((passed + p)); failed=$((failed + f))
	printf '%-24s %4d passed, %d failed\n' "$name" "$p" "$f"
	if [ "$f" -ne 0 ]; then
		broken_suites+=("$name")
		sed 's/^/    /' "$out" | tail -n 60
	fi
}

run() {
	local name=$1; shift
	local out="$log/$name.out"
	"$@" >"$out" 2>&1
	tally "$name" "$out" $?
}

# A suite that must be there: missing or not executable is a failure, never a skip.
run_required() {
	local name=$1 script=$2
	if [ ! -x "$script" ]; then
		echo "$script is missing or not executable" >"$log/$name.out"
		tally "$name" "$log/$name.out" 1
		return
	fi
	run "$@"
}

for t in "$B"/san/tests/test_*; do
	run "$(basename "$t")" "$t"
done
run diagnostics tests/run-diag-tests.sh "$B/san/geqc"
run_required explain tests/test-explain.py "$B/san/geqc"
run_required fix tests/test-fix.sh "$B/san/geqc"
run output-files tests/test-output-files.sh "$B/san/geqc"
run_required pytorch-oracle tests/torch/run.sh "$B/san/geqc"
run_required native-crosscheck tests/native/crosscheck.sh "$B/san/geqc"
run threads-tsan env TSAN_OPTIONS=halt_on_error=1 "$B/tsan/test_threads"
run noise-floor tests/native/noise-floor.py "$B/geqc" "$B"
run install tests/test-install.sh
run roundtrip tests/test-roundtrip.sh "$B"
run fuzz-replay tests/replay-fuzz.sh "$B"
run alloc-fail tests/alloc-fail.sh "$B"
run paper-quick paper/test-quick.sh "$B"
run_required generated-current tests/check-generated.sh "$B/geqc"

echo
[ ${#broken_suites[@]} -gt 0 ] && echo "failing suites: ${broken_suites[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
