#!/usr/bin/env bash
# The README's round trip (train in PyTorch, safetensors, the native executable,
# TorchScript and ONNX), extracted from README.md (the ```sh block after the line
# `<!-- tests/test-roundtrip.sh runs this block -->`) and run as written in a scratch
# directory that looks like the repository's root (build/ and examples/ linked), with
# python3 the interpreter that has torch. Then checks what it wrote.
# Usage: tests/test-roundtrip.sh BUILD_DIR   (from the repo root)
set -u
B=$(cd "${1:-build}" && pwd)
repo=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

block=$(awk '/^<!-- tests\/test-roundtrip.sh runs this block -->$/ { marked = 1; next }
	marked && /^```sh$/ { inside = 1; next }
	inside && /^```$/ { exit }
	inside' README.md)
[ -n "$block" ] && ok "README.md has the round-trip block" || bad "README.md has the round-trip block"
mkdir "$tmp/bin" "$tmp/run"
ln -s /usr/bin/python3 "$tmp/bin/python3"
ln -s "$B" "$tmp/run/build"
ln -s "$repo/examples" "$tmp/run/examples"
cd "$tmp/run" || exit 1
if PATH="$tmp/bin:$PATH" bash -e -c "$block" >"$tmp/block.log" 2>&1; then
	ok "the README's round trip runs as written"
else
	bad "the README's round trip runs as written"
	tail -n 30 "$tmp/block.log"
fi
/usr/bin/python3 - <<'PY' && ok "native = PyTorch = TorchScript, and onnx.checker passes" || bad "native = PyTorch = TorchScript, and onnx.checker passes"
import numpy as np
import onnx
import torch

y, ref = np.load("y.npy"), np.load("y_torch.npy")
assert y.shape == ref.shape == (4, 10), (y.shape, ref.shape)
assert np.abs(y - ref).max() <= 1e-4 * np.abs(ref).max(), np.abs(y - ref).max()
scripted = torch.jit.load("model_script.pt")
with torch.no_grad():
    got = scripted(torch.from_numpy(np.load("x.npy"))).numpy()
assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max(), np.abs(got - ref).max()
graph = onnx.load("model.onnx")
onnx.checker.check_model(graph, full_check=True)
assert graph.opset_import[0].version >= 13
assert [i.name for i in graph.graph.input] == ["x"], [i.name for i in graph.graph.input]
PY
grep -q "max |native - torch|" "$tmp/block.log" && ok "the block prints the native/PyTorch difference" \
	|| bad "the block prints the native/PyTorch difference"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
