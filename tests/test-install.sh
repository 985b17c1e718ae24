#!/usr/bin/env bash
# `make install` into a scratch prefix, then build the README's embedding example from the
# installed files only (geqc from PREFIX/bin, flags from pkg-config) and run it on weights
# the generated executable saved. Its output must match the executable's own.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

make --no-print-directory install PREFIX="$tmp/prefix" >"$tmp/install.log" 2>&1 \
	&& ok "make install" || { bad "make install"; cat "$tmp/install.log"; }
export PATH="$tmp/prefix/bin:$PATH" PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cp examples/embed.c examples/paper28.geq "$tmp/"
cd "$tmp" || exit 1
geqc --emit=c -o paper28.c paper28.geq && ok "installed geqc emits C" || bad "installed geqc emits C"
cc -std=c11 embed.c paper28.c $(pkg-config --cflags --libs geqrt) -o embed \
	&& ok "embed.c builds with pkg-config geqrt" || bad "embed.c builds with pkg-config geqrt"
geqc paper28.geq -o paper28 && ./paper28 --seed 5 --save-weights w.safetensors \
	&& ok "installed geqc builds an executable" || bad "installed geqc builds an executable"
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
