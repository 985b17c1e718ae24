#!/usr/bin/env bash
# Runs every test suite of `make check` and sums their counts into one closing line.
# Usage: tests/run-all.sh BUILD_DIR   (from the repo root; the sanitized binaries must exist)
# CHECK_JOBS=N runs N suites at a time (default: the number of CPUs). Each suite's output
# goes to its own file; the suites are reported in the order listed below, each with its
# seconds, whatever order they finish in.
set -u
B=${1:-build}
J=${CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$J" -ge 1 ] 2>/dev/null || J=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Check's time limit per test is there to catch a hang; suites side by side (or beside
# other work) take longer than alone, so the limits are tripled.
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-3}
passed=0 failed=0 broken_suites=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# A suite's counts come from its own closing line: Check's "Checks: N, Failures: F,
# Errors: E" or our runners' "N passed, N failed". A suite that crashes or prints neither
# counts as one failure.
tally() {
	local name=$1 out=$2 rc=$3 secs=$4 line p f
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
	printf '%-24s %4d passed, %d failed %6ss\n' "$name" "$p" "$f" "$secs"
	if [ "$f" -ne 0 ]; then
		broken_suites+=("$name")
		sed 's/^/    /' "$out" | tail -n 60
	fi
}

# The suites, in the order they are reported: name and command line, each in its own
# file under $log (so a suite's command may be any words, quoted as given).
names=()
run() {
	local name=$1; shift
	local n=${#names[@]}
	names+=("$name")
	printf '%q ' "$@" >"$log/$n.cmd"
}

# A suite that must be there: missing or not executable is a failure, never a skip.
run_required() {
	local name=$1 script=$2
	if [ ! -x "$script" ]; then
		run "$name" sh -c "echo '$script is missing or not executable'; exit 1"
		return
	fi
	run "$@"
}

# The longest Check suites run as two processes side by side: the test cases tagged
# "half2" (tcase_set_tags) and the rest, so together they run every test once.
HALVES="test_conv_fast test_conv_orbit"
for t in "$B"/san/tests/test_*; do
	n=$(basename "$t")
	case " $HALVES " in
	*" $n "*)
		run "$n" env CK_EXCLUDE_TAGS=half2 "$t"
		run "$n-half2" env CK_INCLUDE_TAGS=half2 "$t"
		;;
	*) run "$n" "$t" ;;
	esac
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

# Started longest first (seconds on the 2-vCPU machine, session 29's landing run at load
# 3-6: native-crosscheck 727, pytorch-oracle 637, alloc-fail 416, the conv halves 240-315,
# test_tune 191), so that the last suite to finish is a short one; the rest follow in the
# order above.
LONG_FIRST="native-crosscheck pytorch-oracle alloc-fail test_conv_fast-half2 test_conv_fast
	test_tune test_conv_orbit test_conv_orbit-half2"

start() {
	local n=$1
	(
		t0=$(date +%s.%N)
		eval "$(cat "$log/$n.cmd")" >"$log/$n.out" 2>&1
		rc=$?
		awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }' >"$log/$n.secs"
		echo $rc >"$log/$n.rc.tmp" && mv "$log/$n.rc.tmp" "$log/$n.rc"
	) &
}

# Reports, in order, every suite that has finished and has no unfinished one before it.
next=0
report() {
	while [ $next -lt ${#names[@]} ] && [ -f "$log/$next.rc" ]; do
		tally "${names[$next]}" "$log/$next.out" "$(cat "$log/$next.rc")" "$(cat "$log/$next.secs")"
		next=$((next + 1))
	done
}

order=()
for l in $LONG_FIRST; do
	for i in "${!names[@]}"; do [ "${names[$i]}" = "$l" ] && order+=("$i"); done
done
for i in "${!names[@]}"; do
	case " ${order[*]} " in *" $i "*) ;; *) order+=("$i") ;; esac
done

t0=$(date +%s)
for i in "${order[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$J" ]; do
		wait -n
		report
	done
	start "$i"
done
wait
report

echo
echo "${#names[@]} suites, $J at a time: $(($(date +%s) - t0)) s"
[ ${#broken_suites[@]} -gt 0 ] && echo "failing suites: ${broken_suites[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
