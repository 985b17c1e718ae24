#!/usr/bin/env bash
# geqc --fix round trips, on a copy of every tests/fix/NAME.geq:
#   NAME.fixed  the file --fix must write (byte for byte); then the fixed file lints
#               clean (exit 0, nothing on stderr) and a second --fix changes nothing
#   NAME.why    for a file --fix must leave alone: exit 1, the file unchanged, and this
#               text on stderr
# Usage, from the repo root: tests/test-fix.sh GEQC; prints `N passed, N failed` last.
set -u
geqc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}
for geq in tests/fix/*.geq; do
	base=${geq%.geq} name=$(basename "$geq" .geq) f="$tmp/$(basename "$geq")"
	cp "$geq" "$f"
	"$geqc" --fix "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ -f "$base.fixed" ]; then
		if [ $rc -ne 0 ]; then fail "$name" "exit $rc: $(tail -n 3 "$tmp/err")"; continue; fi
		if ! cmp -s "$f" "$base.fixed"; then fail "$name" "not as $base.fixed:"; diff -u "$base.fixed" "$f"; continue; fi
		"$geqc" "$f" 2>"$tmp/err2"
		if [ $? -ne 0 ] || [ -s "$tmp/err2" ]; then fail "$name" "the fixed file does not lint clean:"; cat "$tmp/err2"; continue; fi
		"$geqc" --fix "$f" 2>/dev/null
		if ! cmp -s "$f" "$base.fixed"; then fail "$name" "a second --fix changed the file"; continue; fi
	else
		if [ $rc -ne 1 ]; then fail "$name" "exit $rc, expected 1"; continue; fi
		if ! cmp -s "$f" "$geq"; then fail "$name" "the file changed"; continue; fi
		if ! grep -qF "$(cat "$base.why")" "$tmp/err"; then fail "$name" "stderr lacks '$(cat "$base.why")':"; cat "$tmp/err"; continue; fi
	fi
	passed=$((passed + 1))
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
