#!/usr/bin/env bash
# The README's install-and-embed block, extracted from README.md (the ```sh block after the
# line `<!-- tests/test-install.sh runs this block -->`) and run as written, with HOME a
# scratch directory and no PKG_CONFIG_PATH: `make install PREFIX=$HOME/.local`, then
# geqc and pkg-config from what was installed. The embedding example's output must then
# match the executable's own on the same image.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

block=$(awk '/^<!-- tests\/test-install.sh runs this block -->$/ { marked = 1; next }
	marked && /^```sh$/ { inside = 1; next }
	inside && /^```$/ { exit }
	inside' README.md)
[ -n "$block" ] && ok "README.md has the install block" || bad "README.md has the install block"
mkdir "$tmp/home"
# A fresh shell: only what the block itself sets.
if env -u PKG_CONFIG_PATH HOME="$tmp/home" bash -e -c "$block" >"$tmp/block.log" 2>&1; then
	ok "the README's install and embed commands run as written"
else
	bad "the README's install and embed commands run as written"
	tail -n 30 "$tmp/block.log"
fi
demo="$tmp/home/embed-demo"
[ -x "$tmp/home/.local/bin/geqc" ] && [ -f "$tmp/home/.local/lib/pkgconfig/geqrt.pc" ] &&
	[ -f "$tmp/home/.local/include/geqrt/geqrt.h" ] && [ -f "$tmp/home/.local/lib/libgeqrt.a" ] \
	&& ok "installed: geqc, geqrt.pc, geqrt.h, libgeqrt.a" || bad "installed: geqc, geqrt.pc, geqrt.h, libgeqrt.a"
cd "$demo" 2>/dev/null || { echo "$passed passed, $((failed + 1)) failed"; exit 1; }
./embed w.safetensors >embed.out && ok "embed runs" || bad "embed runs"
# The same image through the executable: 28 rows of the vertical bar embed.c draws.
/usr/bin/python3 -c '
import numpy as np
x = np.zeros((1, 1, 28, 28), np.float32); x[..., 11:18] = 1
np.save("bar.npy", x)'
./paper28 --weights w.safetensors --input bar.npy --output y.npy
/usr/bin/python3 - <<'PY' && ok "embed output equals the executable's" || bad "embed output equals the executable's"
import numpy as np
y = np.load("y.npy").reshape(-1)
e = np.array([float(l.split(":")[1]) for l in open("embed.out")])
assert len(e) == 10 and np.allclose(e, y, rtol=1e-4, atol=1e-4), (e, y)
PY
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
