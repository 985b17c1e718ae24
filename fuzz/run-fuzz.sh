#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS on its corpus ($B/fuzz/corpus/T, grown across
# runs), its seeds ($B/fuzz/seeds/T), its regressions (tests/fuzz-regressions/T) and its
# dictionary (fuzz/T.dict), then prints per target the executions, the coverage (cov: and
# ft: of libFuzzer's last status line) and the crashes it saved to $B/fuzz/crashes/T/
# (crash-, leak-, timeout- and oom- files). Logs: $B/fuzz/logs/T.log. Exit 1 on a crash.
# FUZZ_TIMEOUT (seconds, default 10) is the wall time after which an input counts as a hang:
# raise it when the fuzzer runs niced beside other work.
# Usage (from the repo root, `make fuzz` builds first): fuzz/run-fuzz.sh B SECONDS TARGET...
set -u
if [ $# -lt 3 ]; then
	echo "usage: fuzz/run-fuzz.sh BUILD_DIR SECONDS TARGET..." >&2
	exit 2
fi
B=$1 seconds=$2
shift 2

# Inputs larger than this teach nothing a smaller one does not, and cost time (4 KB of .geq
# is a hundred layers, more than any model; tests/test_limits.c covers the deep ones).
max_len() {
	case $1 in
	safetensors | png) echo 32768 ;;
	*) echo 4096 ;;
	esac
}

# One target: runs it, then prints its line.
fuzz_one() {
	local t=$1 bin=$B/fuzz/fuzz-$1 log=$B/fuzz/logs/$1.log
	local corpus=$B/fuzz/corpus/$t crashes=$B/fuzz/crashes/$t dirs=()
	mkdir -p "$corpus" "$crashes" "$B/fuzz/logs"
	dirs=("$corpus" "$B/fuzz/seeds/$t")
	[ -d "tests/fuzz-regressions/$t" ] && dirs+=("tests/fuzz-regressions/$t")
	local before
	before=$(ls "$crashes" | wc -l)
	"$bin" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -malloc_limit_mb=512 \
		-max_len="$(max_len "$t")" -dict="fuzz/$t.dict" -print_final_stats=1 \
		-artifact_prefix="$crashes/" "${dirs[@]}" >"$log" 2>&1
	local rc=$? execs cov ft units found
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	units=$(ls "$corpus" | wc -l)
	found=$(($(ls "$crashes" | wc -l) - before))
	printf '%-12s %12s execs %7s cov %7s ft %6s corpus  %d crashes' "$t" "${execs:-?}" \
		"${cov:-?}" "${ft:-?}" "$units" "$found"
	if [ "$found" -gt 0 ] || [ "$rc" -ne 0 ]; then
		printf '  (exit %d; see %s)\n' "$rc" "$log"
		ls -t "$crashes" | head -n "$((found > 0 ? found : 1))" | sed "s|^|    $crashes/|"
		return 1
	fi
	echo
}

status=0
echo "fuzzing each target for $seconds s"
for t in "$@"; do
	fuzz_one "$t" || status=1
done
exit $status
