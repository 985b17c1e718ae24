#!/usr/bin/env bash
# Runs geqc on every tests/errors/NAME.geq and tests/lint/NAME.geq and compares what it
# says with what it should say:
#   NAME.err   stderr, byte for byte
#   NAME.exit  the exit status (default: 1 in errors/, 0 in lint/)
#   NAME.args  extra arguments, before the file name (split on blanks)
#   NAME.json  if present, stdout of `geqc --lint-json` (compared after json.tool)
#   NAME.out   if present, stdout, byte for byte (--sizes; tests/dump/: --dump=FORM)
# and tests/dump/NAME.geq the same way (exit status 0 by default).
# Usage, from the repo root:
#   tests/run-diag-tests.sh GEQC            run them; prints `N passed, N failed` last
#   tests/run-diag-tests.sh --update GEQC   rewrite every .err (and .out) from GEQC and
#                                           check only the exit status (review the diff)
set -u
update=0
if [ "${1:-}" = "--update" ]; then
	update=1
	shift
fi
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: tests/run-diag-tests.sh [--update] GEQC_BINARY" >&2
	exit 2
fi
geqc=$1
py=/usr/bin/python3
unset GCC_COLORS # colour cases expect gcc's default colours
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

# The lint JSON of one case, both sides normalised by json.tool; true if equal.
json_matches() {
	local geq=$1 json=$2 args=$3
	# shellcheck disable=SC2086
	"$geqc" --lint-json $args "$geq" >"$tmp/out.json" 2>/dev/null
	$py -m json.tool "$tmp/out.json" >"$tmp/got.json" 2>&1 &&
		$py -m json.tool "$json" >"$tmp/want.json" 2>&1 &&
		cmp -s "$tmp/got.json" "$tmp/want.json"
}

check_exit() {
	[ "$2" = "$3" ] && return 0
	fail "$1" "exit status $2, expected $3"
	return 1
}

run_case() {
	local geq=$1
	local base=${geq%.geq} name args="" want_exit=$2 rc
	name=${base#tests/}
	[ -f "$base.args" ] && args=$(cat "$base.args")
	[ -f "$base.exit" ] && want_exit=$(tr -d ' \n' <"$base.exit")
	# shellcheck disable=SC2086
	"$geqc" $args "$geq" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
	rc=$?
	if [ $update -eq 1 ]; then
		# nothing to compare with: what was just written is what GEQC says
		cp "$tmp/stderr" "$base.err"
		{ [ -f "$base.out" ] || [ "${base#tests/dump/}" != "$base" ]; } &&
			cp "$tmp/stdout" "$base.out"
		check_exit "$name" "$rc" "$want_exit" && passed=$((passed + 1))
		return
	fi
	if [ ! -f "$base.err" ]; then
		fail "$name" "no $base.err (create it with --update and review it)"
		return
	fi
	if ! cmp -s "$tmp/stderr" "$base.err"; then
		fail "$name" "stderr differs from $base.err:"
		diff -u "$base.err" "$tmp/stderr" | head -n 40
		return
	fi
	if [ -f "$base.out" ] && ! cmp -s "$tmp/stdout" "$base.out"; then
		fail "$name" "stdout differs from $base.out:"
		diff -u "$base.out" "$tmp/stdout" | head -n 40
		return
	fi
	check_exit "$name" "$rc" "$want_exit" || return
	if [ -f "$base.json" ] && ! json_matches "$geq" "$base.json" "$args"; then
		fail "$name" "--lint-json output differs from $base.json:"
		diff -u "$tmp/want.json" "$tmp/got.json" | head -n 40
		return
	fi
	passed=$((passed + 1))
}

shopt -s nullglob
for geq in tests/errors/*.geq; do
	run_case "$geq" 1
done
for geq in tests/lint/*.geq tests/dump/*.geq; do
	run_case "$geq" 0
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
