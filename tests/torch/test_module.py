#!/usr/bin/python3
"""Tests of the PyTorch module geqc emits: test_module.py --geqc BIN

The forward pass against naive numpy loops written from SPEC §3's formulas, parameter
names, PyTorch's default initialisation, training (loss falls, bn running statistics
update as nn.BatchNorm's), safetensors save/load (format checked byte by byte, strict
errors, F16/BF16), input handling, and a deterministic, self-describing file. Prints
`PASS name` or `FAIL name: why` per test; exits 1 if any failed.
"""
import argparse
import importlib.util
import json
import os
import struct
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from equiv import INV, MUL, act_array  # noqa: E402  (the harness's own D4)

GEQC = None
TMP = None


def emit(name, text):
    """Writes NAME.geq, compiles it with --emit=pytorch, imports it; returns the module."""
    src = os.path.join(TMP, name + ".geq")
    with open(src, "w") as f:
        f.write(text)
    py = os.path.join(TMP, name + ".py")
    p = subprocess.run([GEQC, "--emit=pytorch", "-o", py, src], capture_output=True, text=True)
    assert p.returncode == 0, f"geqc failed on {name}.geq:\n{p.stderr}"
    spec = importlib.util.spec_from_file_location("m_" + name, py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def randomise(model, seed):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            a = rng.uniform(0.5, 1.5, t.shape) if name.endswith("running_var") else \
                rng.normal(0, 0.5, t.shape)
            t.copy_(torch.from_numpy(a))
    return {k: v.double().numpy().copy() for k, v in model.state_dict().items()}


def close(a, b, tol=1e-10):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f"shapes {a.shape} and {b.shape}"
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
    assert err < tol, f"relative difference {err:.2e}"


# ---- naive reference implementations, from the formulas ----

def corr(x, w, s=1, p=0, d=1):
    """Cross-correlation of x [Cin, H, W] with w [Cout, Cin, k, k] (zero padding)."""
    k = w.shape[-1]
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    oh = (x.shape[1] + 2 * p - d * (k - 1) - 1) // s + 1
    ow = (x.shape[2] + 2 * p - d * (k - 1) - 1) // s + 1
    out = np.zeros((w.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * s:i * s + d * (k - 1) + 1:d, j * s:j * s + d * (k - 1) + 1:d]
            out[:, i, j] = np.tensordot(w, patch, axes=3)
    return out


def ref_lift(x, W, b, elems, **kw):
    """out[c, g] = bias[c] + sum_c' corr(in[c'], T_g W[c, c'])"""
    return np.stack([corr(x, act_array(g, W), **kw) for g in elems], 1) + b[:, None, None, None]


def ref_gconv(x, W, b, elems, **kw):
    """out[c, g] = bias[c] + sum_{c', h} corr(in[c', h], T_g W[c, c', g^-1 h])"""
    axis = {h: i for i, h in enumerate(elems)}
    out = []
    for g in elems:
        terms = [corr(x[:, bi], act_array(g, W[:, :, axis[MUL[INV[g]][h]]]), **kw)
                 for bi, h in enumerate(elems)]
        out.append(sum(terms))
    return np.stack(out, 1) + b[:, None, None, None]


def ref_bn(x, sd, name, eps=1e-5):
    shape = (-1,) + (1,) * (x.ndim - 1)
    m, v, w, b = (sd[f"{name}.{f}"].reshape(shape) for f in
                  ("running_mean", "running_var", "weight", "bias"))
    return (x - m) / np.sqrt(v + eps) * w + b


def ref_pool(x, k, s, p, mode):
    """On the last two axes; max pads with -inf, avg with zeros counted (as PyTorch)."""
    pad = [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]
    xp = np.pad(x, pad, constant_values=-np.inf if mode == "max" else 0)
    oh = (x.shape[-2] + 2 * p - k) // s + 1
    ow = (x.shape[-1] + 2 * p - k) // s + 1
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[..., i * s:i * s + k, j * s:j * s + k]
            out[..., i, j] = win.max((-2, -1)) if mode == "max" else win.sum((-2, -1)) / (k * k)
    return out


# ---- the tests ----

CHAIN = """
model chain(x: [2, 9, 9]) on p4m {
    h = lift(x, 3, k=3, s=2, p=1);
    h = relu(bn(h, eps=0.001));
    h = gconv(h, 2, k=2, p=2, d=2);
    return maxpool(h, 3, s=2, p=1);
}
"""


def test_lift_gconv_bn_pool_match_formulas():
    mod = emit("chain", CHAIN)
    model = mod.Model().double().eval()
    sd = randomise(model, 1)
    x = np.random.default_rng(2).normal(size=(2, 2, 9, 9))
    y = model(torch.from_numpy(x)).detach().numpy()
    elems = list(range(8))
    for n in range(2):
        h = ref_lift(x[n], sd["lift1.weight"], sd["lift1.bias"], elems, s=2, p=1)
        h = np.maximum(ref_bn(h, sd, "bn1", eps=0.001), 0)
        h = ref_gconv(h, sd["gconv1.weight"], sd["gconv1.bias"], elems, p=2, d=2)
        close(y[n], ref_pool(h, 3, 2, 1, "max"))


SUBGROUP = """
model sub(x: [1, 8, 7]) on pmm {
    h = gconv(lift(x, 2, k=3, bias=false), 2, k=3, p=1, bias=false);
    return avgpool(h, 3, s=2, p=1);
}
"""


def test_subgroup_axis_and_avgpool():
    """pmm's axis is e r2 m mr2 (canonical order); the g^-1 h index uses that axis."""
    mod = emit("sub", SUBGROUP)
    assert mod.ELEMENTS == (0, 2, 4, 6), mod.ELEMENTS
    assert mod.ELEMENT_NAMES == ("e", "r2", "m", "mr2")
    model = mod.Model().double().eval()
    sd = randomise(model, 3)
    assert set(sd) == {"lift1.weight", "gconv1.weight"}, sorted(sd)
    x = np.random.default_rng(4).normal(size=(1, 1, 8, 7))
    y = model(torch.from_numpy(x)).detach().numpy()
    elems, zero = [0, 2, 4, 6], np.zeros(2)
    h = ref_lift(x[0], sd["lift1.weight"], zero, elems)
    h = ref_gconv(h, sd["gconv1.weight"], zero, elems, p=1)
    close(y[0], ref_pool(h, 3, 2, 1, "avg"))


VECTORS = """
model vec(x: [1, 6, 6]) on p4 {
    h = tanh(lift(x, 2, k=3));
    a = global_maxpool(h) + global_avgpool(h);
    f = flatten(sigmoid(h));
    g = gpool(h, mean);
    v = linear(global_avgpool(g), 8) + a;
    return softmax(linear(f, 3, bias=false) + linear(v, 3));
}
"""


def test_vector_layouts():
    """global pools of a G-map are channel-major (c*G + g); flatten is row-major."""
    mod = emit("vec", VECTORS)
    model = mod.Model().double().eval()
    sd = randomise(model, 5)
    x = np.random.default_rng(6).normal(size=(1, 1, 6, 6))
    y = model(torch.from_numpy(x)).detach().numpy()[0]
    h = np.tanh(ref_lift(x[0], sd["lift1.weight"], sd["lift1.bias"], [0, 1, 2, 3]))
    a = np.array([h[c, g].max() + h[c, g].mean() for c in range(2) for g in range(4)])
    f = (1 / (1 + np.exp(-h))).reshape(-1)
    gm = h.mean(1)
    v = sd["linear1.weight"] @ gm.mean((1, 2)) + sd["linear1.bias"] + a
    z = sd["linear2.weight"] @ f + sd["linear3.weight"] @ v + sd["linear3.bias"]
    close(y, np.exp(z) / np.exp(z).sum())


NEW_LAYERS = """
model skip(x: [1, 5, 7]) on pmm {
    e = tanh(lift(x, 2, k=3, p=1));
    u = upsample(gconv(e, 3, k=1), 2, mode=bilinear);
    n = upsample(dropout(e, p=0.3), 2);
    h = concat(e, avgpool(u, 2), e);
    return concat(maxpool(n, 2), h);
}
"""


def interp_matrix(n, s):
    """[n*s, n]: torch's 1-D bilinear upsampling (align_corners=False), from its formula:
    output o reads source (o + 0.5)/s - 0.5, clamped at 0, between floor and the next."""
    A = np.zeros((n * s, n))
    for o in range(n * s):
        src = max((o + 0.5) / s - 0.5, 0.0)
        i0 = int(np.floor(src))
        i1, t = min(i0 + 1, n - 1), src - i0
        A[o, i0] += 1 - t
        A[o, i1] += t
    return A


def test_concat_upsample_dropout_match_formulas():
    """concat stacks channels keeping the group axis; upsample is np.repeat (nearest) and
    A_h X A_w^T (bilinear) on every plane; dropout is the identity in eval mode."""
    mod = emit("skip", NEW_LAYERS)
    model = mod.Model().double().eval()
    sd = randomise(model, 21)
    x = np.random.default_rng(22).normal(size=(2, 1, 5, 7))
    y = model(torch.from_numpy(x)).detach().numpy()
    elems = [0, 2, 4, 6]
    for b in range(2):
        e = np.tanh(ref_lift(x[b], sd["lift1.weight"], sd["lift1.bias"], elems, p=1))
        d = ref_gconv(e, sd["gconv1.weight"], sd["gconv1.bias"], elems)
        u = np.einsum("yh,cghw,xw->cgyx", interp_matrix(5, 2), d, interp_matrix(7, 2))
        n = e.repeat(2, -2).repeat(2, -1)
        h = np.concatenate([e, ref_pool(u, 2, 2, 0, "avg"), e], 0)
        close(y[b], np.concatenate([ref_pool(n, 2, 2, 0, "max"), h], 0))
    scripted = torch.jit.script(model)
    with torch.no_grad():
        close(scripted(torch.from_numpy(x)), y, 1e-12)


def test_dropout_keeps_group_orbits():
    """In training a dropped channel of a G-map is zero on all its |G| planes and pixels, a
    kept one scaled by 1/(1-p); a vector from a global pool of a G-map drops the |G| entries
    of a channel together; an image drops whole channels. Eval mode is the identity."""
    cases = [("gmap", "dropout(relu(lift(x, 64, k=3)), p=0.5)", 0.5),
             ("vector", "dropout(global_avgpool(relu(lift(x, 64, k=3))), 0.25)", 0.25),
             ("image", "dropout(gpool(relu(lift(x, 64, k=3)), max), p=0.5)", 0.5)]
    for kind, expr, p in cases:
        mod = emit("drop_" + kind, "model drop(x: [1, 6, 6]) on p4m {\n    return %s;\n}\n" % expr)
        model = mod.Model().double()
        randomise(model, 23)
        x = torch.from_numpy(np.random.default_rng(24).uniform(1, 2, size=(3, 1, 6, 6)))
        with torch.no_grad():
            ref = model.eval()(x)
            torch.manual_seed(25)
            y = model.train()(x)
            assert torch.equal(model.eval()(x), ref), f"{kind}: eval mode is not the identity"
        orbit = ref.reshape(3, 64, -1)  # the last axis: one channel's orbit
        live = (orbit != 0).any(-1)     # a channel the relu zeroed tells nothing
        ratio = (y.reshape(3, 64, -1) / torch.where(orbit == 0, 1.0, orbit)).numpy()
        ratio[(orbit == 0).numpy()] = np.nan
        kept = np.all(np.isclose(ratio, 1 / (1 - p)) | np.isnan(ratio), -1)
        dropped = np.all((ratio == 0) | np.isnan(ratio), -1)
        assert (kept | dropped).all(), f"{kind}: a channel partly dropped"
        frac = dropped[live.numpy()].mean()
        assert abs(frac - p) < 0.12, f"{kind}: dropped {frac:.2f} of the channels, p = {p}"
        scripted = torch.jit.script(model.train())
        torch.manual_seed(25)
        with torch.no_grad():
            close(scripted(x), y, 1e-12)


NAMING = """
model names(x: [1, 8, 8]) on p2 {
    h = relu(bn(lift(x, 4, k=3)));
    h = relu(bn(gconv(h, 5, k=3, bias=false)));
    h = conv(gpool(h, max), 6, k=1);
    return linear(global_avgpool(h), 7);
}
"""


def test_state_dict_names_and_default_init():
    mod = emit("names", NAMING)
    torch.manual_seed(0)
    model = mod.Model()
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    want = {"lift1.weight": [4, 1, 3, 3], "lift1.bias": [4], "gconv1.weight": [5, 4, 2, 3, 3],
            "conv1.weight": [6, 5, 1, 1], "conv1.bias": [6], "linear1.weight": [7, 6],
            "linear1.bias": [7]}
    for bn, c in (("bn1", 4), ("bn2", 5)):
        for f in ("weight", "bias", "running_mean", "running_var"):
            want[f"{bn}.{f}"] = [c]
    assert shapes == want, f"state_dict {shapes}"
    assert sorted(k for k, _ in model.named_parameters()) == sorted(
        k for k in want if "running" not in k)
    # kaiming_uniform_(a=sqrt(5)) gives U(+-1/sqrt(fan_in)), fan_in of the unexpanded weight
    for name, fan_in in (("lift1", 9), ("gconv1", 4 * 2 * 9), ("conv1", 5), ("linear1", 6)):
        w = getattr(model, name).weight.detach().numpy()
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound, (name, bound)
        b = getattr(model, name).bias
        assert b is None or np.abs(b.detach().numpy()).max() <= bound
    assert model.gconv1.bias is None
    for f, v in (("weight", 1), ("bias", 0), ("running_mean", 0), ("running_var", 1)):
        assert (getattr(model.bn1, f) == v).all()


BLOCKS = """
block cbn(x, C) {
    return bn(gconv(x, C, k=1));
}
block res(x, C) {
    h = relu(cbn(x, C));
    return relu(cbn(h, C) + x);
}
model paths(x: [1, 6, 6]) on p2 {
    h = lift(x, 3, k=1);
    for i in 0..2 { h = res(h, 3); }
    return gpool(bn(h), max);
}
"""


def test_block_paths_nest_modules():
    """SPEC §2.1: names are call paths, and the module nests nn.Modules along them, so
    state_dict() keys are those names; the layers outside blocks keep flat names."""
    mod = emit("paths", BLOCKS)
    model = mod.Model()
    want = {"lift1.weight", "lift1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean",
            "bn1.running_var"}
    for r in ("res1", "res2"):
        for c in ("cbn1", "cbn2"):
            want |= {f"{r}.{c}.gconv1.weight", f"{r}.{c}.gconv1.bias"}
            want |= {f"{r}.{c}.bn1.{f}" for f in ("weight", "bias", "running_mean", "running_var")}
    assert set(model.state_dict()) == want, sorted(set(model.state_dict()) ^ want)
    assert isinstance(model.res2.cbn1, torch.nn.Module) and model.res2.cbn1.gconv1.weight.shape \
        == (3, 3, 2, 1, 1)
    x = torch.randn(2, 1, 6, 6)
    model.eval()
    with torch.no_grad():
        y = model(x)
        h = model.lift1(x)
        for r in (model.res1, model.res2):
            a = torch.relu(r.cbn1.bn1(r.cbn1.gconv1(h)))
            h = torch.relu(r.cbn2.bn1(r.cbn2.gconv1(a)) + h)
        close(y.numpy(), model.bn1(h).amax(2).numpy())


def test_training_and_bn_statistics():
    mod = emit("names", NAMING)
    torch.manual_seed(1)
    model = mod.Model().train()
    x, t = torch.randn(6, 1, 8, 8), torch.randint(0, 7, (6,))
    with torch.no_grad():  # the expected first running_mean/var update of bn1
        lift = model.lift1(x)
        mean = lift.mean((0, 2, 3, 4))
        var = lift.var((0, 2, 3, 4), unbiased=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    losses = []
    for step in range(12):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), t)
        loss.backward()
        if step == 0:
            close(model.bn1.running_mean, 0.1 * mean, 1e-5)
            close(model.bn1.running_var, 0.9 + 0.1 * var, 1e-5)
            missing = [k for k, p in model.named_parameters() if p.grad is None]
            assert not missing, f"no gradient for {missing}"
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"losses {losses}"
    # train mode normalises with batch statistics: per channel mean 0 over (B, G, H, W)
    with torch.no_grad():
        out = model.bn1(model.lift1(x))
        w, b = model.bn1.weight[:, None], model.bn1.bias[:, None]
        z = (out.transpose(0, 1).reshape(4, -1) - b) / w
    assert z.mean(1).abs().max() < 1e-5 and (z.var(1, unbiased=False) - 1).abs().max() < 1e-3


def read_raw(path):
    """The safetensors file split by hand: (header length, header text, data)."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    return n, data[8:8 + n], data[8 + n:]


def test_save_load_roundtrip():
    mod = emit("names", NAMING)
    model = mod.Model().double().eval()
    sd = randomise(model, 7)
    path = os.path.join(TMP, "w.safetensors")
    model.save_safetensors(path, labels=["cat", "dog", "zebra é"])
    n, text, data = read_raw(path)
    assert n % 8 == 0 and len(text) - len(text.rstrip(b" ")) < 8, "header padding"
    header = json.loads(text)
    assert header.pop("__metadata__") == {"labels": "cat\ndog\nzebra é"}
    assert list(header) == sorted(sd), list(header)
    offset = 0
    for k in sorted(sd):
        e = header[k]
        assert e["dtype"] == "F32" and e["shape"] == list(sd[k].shape)
        assert e["data_offsets"] == [offset, offset + 4 * sd[k].size], (k, e)
        got = np.frombuffer(data[offset:e["data_offsets"][1]], "<f4").reshape(sd[k].shape)
        assert np.array_equal(got, sd[k].astype(np.float32)), k
        offset = e["data_offsets"][1]
    assert offset == len(data)
    fresh = mod.Model().double().eval()
    assert fresh.load_safetensors(path) == ["cat", "dog", "zebra é"]
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32).astype(np.float64))
                           for k, v in sd.items()})
    assert torch.equal(fresh(x), model(x))
    fresh.save_safetensors(path)  # keeps the loaded labels
    assert json.loads(read_raw(path)[1])["__metadata__"]["labels"] == "cat\ndog\nzebra é"


def write_raw(path, tensors, meta=None):
    """A safetensors writer independent of the module: {name: (dtype, shape, bytes)}."""
    header, blobs, off = ({"__metadata__": meta} if meta else {}), b"", 0
    for k, (dt, shape, blob) in tensors.items():
        header[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs += blob
        off += len(blob)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blobs)


def model_tensors(model, dtype="F32"):
    out = {}
    for k, v in model.state_dict().items():
        a = v.detach().float().numpy()
        blob = {"F32": lambda: a.astype("<f4").tobytes(),
                "F16": lambda: a.astype("<f2").tobytes(),
                "BF16": lambda: (a.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()}
        out[k] = (dtype, list(a.shape), blob[dtype]())
    return out


def expect_error(fn, kind, *parts):
    try:
        fn()
    except kind as e:
        msg = str(e)
        missing = [p for p in parts if p not in msg]
        assert not missing, f"message {msg!r} lacks {missing}"
        return
    raise AssertionError(f"no {kind.__name__} raised")


def test_strict_loading_errors():
    mod = emit("names", NAMING)
    model = mod.Model()
    path = os.path.join(TMP, "bad.safetensors")
    good = model_tensors(model)

    t = dict(good)
    del t["gconv1.weight"]
    write_raw(path, t)
    expect_error(lambda: model.load_safetensors(path), RuntimeError, path,
                 "missing tensor 'gconv1.weight' [5, 4, 2, 3, 3]")
    t = dict(good, extra=("F32", [2], b"\0" * 8))
    write_raw(path, t)
    expect_error(lambda: model.load_safetensors(path), RuntimeError,
                 "unexpected tensor 'extra' [2]")
    t = dict(good)
    t["lift1.weight"] = ("F32", [4, 1, 5, 5], b"\0" * 400)
    write_raw(path, t)
    expect_error(lambda: model.load_safetensors(path), RuntimeError,
                 "tensor 'lift1.weight' has shape [4, 1, 5, 5], the model expects [4, 1, 3, 3]")
    before = model.lift1.weight.detach().clone()
    assert torch.equal(model.lift1.weight, before), "a failed load changed the weights"
    t = dict(good)
    t["lift1.bias"] = ("I64", [4], b"\0" * 32)
    write_raw(path, t)
    expect_error(lambda: model.load_safetensors(path), ValueError, "'lift1.bias'", "I64")


def test_malformed_files():
    mod = emit("names", NAMING)
    model = mod.Model()
    path = os.path.join(TMP, "junk.safetensors")
    good = model_tensors(model)
    cases = [(b"abc", "too short"),
             (struct.pack("<Q", 1 << 40) + b"{}", "exceeds"),
             (struct.pack("<Q", 4) + b"{no}", "not valid JSON"),
             (struct.pack("<Q", 2) + b"[]", "not a JSON object")]
    for blob, what in cases:
        with open(path, "wb") as f:
            f.write(blob)
        expect_error(lambda: model.load_safetensors(path), ValueError, path, what)
    write_raw(path, good)
    with open(path, "ab") as f:
        f.write(b"trailing")
    expect_error(lambda: model.load_safetensors(path), ValueError, "gaps or overlaps")
    t = dict(good)
    t["lift1.bias"] = ("F32", [4], b"\0" * 12)
    write_raw(path, t)
    expect_error(lambda: model.load_safetensors(path), ValueError, "'lift1.bias'",
                 "data_offsets")


def test_f16_bf16_loading():
    mod = emit("names", NAMING)
    src = mod.Model()
    randomise(src, 9)
    for dtype, rounded in (("F16", lambda a: a.astype(np.float16).astype(np.float32)),
                           ("BF16", lambda a: (a.view(np.uint32) & 0xFFFF0000).view(np.float32))):
        path = os.path.join(TMP, f"w_{dtype}.safetensors")
        write_raw(path, model_tensors(src, dtype), {"labels": "a\nb"})
        dst = mod.Model()
        assert dst.load_safetensors(path) == ["a", "b"]
        for k, v in src.state_dict().items():
            want = rounded(v.detach().numpy().astype(np.float32))
            got = dst.state_dict()[k].numpy()
            assert got.dtype == np.float32 and np.array_equal(got, want), (dtype, k)


def test_input_shapes():
    mod = emit("names", NAMING)
    model = mod.Model().eval()
    x = torch.randn(3, 1, 8, 8)
    y = model(x)
    assert y.shape == (3, 7)
    assert torch.allclose(model(x[1]), y[1], atol=1e-6) and model(x[1]).shape == (7,)
    expect_error(lambda: model(torch.randn(2, 1, 8, 9)), ValueError, "[2, 1, 8, 9]",
                 "[B, 1, 8, 8]")


def test_jit_trace_freeze():
    """SPEC §5's baseline: torch.jit.trace + freeze + optimize_for_inference, no warnings."""
    import warnings
    mod = emit("chain", CHAIN)
    model = mod.Model().eval()
    randomise(model, 11)
    x = torch.randn(3, 2, 9, 9)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
        close(fast(x), model(x), 1e-5)


def test_torchscript_and_onnx():
    """Every example's module scripts (torch.jit.script, equal to eager, batched and single
    images; frozen too, as export_onnx exports it) and exports to ONNX (export_onnx, opset
    13) as a graph onnx.checker accepts, with no ATen fallback; where onnxruntime is
    installed, its outputs equal eager's."""
    import onnx
    try:
        import onnxruntime
    except ImportError:
        onnxruntime = None
        print("note: onnxruntime is not installed: ONNX outputs are not compared")
    examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
    for geq in sorted(os.listdir(examples)):
        if not geq.endswith(".geq"):
            continue
        with open(os.path.join(examples, geq)) as f:
            mod = emit(geq[:-4], f.read())
        model = mod.Model()
        randomise(model, 5)
        model.eval()
        x = torch.randn(2, *mod.INPUT_SHAPE)
        scripted = torch.jit.script(model)
        frozen = torch.jit.freeze(torch.jit.script(model))  # what export_onnx exports
        with torch.no_grad():
            close(scripted(x), model(x), 1e-6)
            close(scripted(x[1]), model(x[1]), 1e-6)
            close(frozen(x), model(x), 1e-6)
        path = os.path.join(TMP, geq[:-4] + ".onnx")
        model.export_onnx(path)
        graph = onnx.load(path)
        onnx.checker.check_model(graph, full_check=True)
        ops = {n.op_type for n in graph.graph.node}
        assert "ATen" not in ops and graph.opset_import[0].version >= 13, (geq, ops)
        if onnxruntime:
            run = onnxruntime.InferenceSession(path).run
            with torch.no_grad():
                close(run(None, {"x": x.numpy()})[0], model(x).numpy(), 1e-5)


def test_emitted_file_is_deterministic_and_describes_itself():
    emit("names", NAMING)
    src = os.path.join(TMP, "names.geq")
    outs, py = [], os.path.join(TMP, "det.py")
    for _ in range(2):
        subprocess.run([GEQC, "--emit=pytorch", "-o", py, src], check=True, capture_output=True)
        outs.append(open(py).read())
    assert outs[0] == outs[1], "two runs differ"
    text = outs[0]
    head = text.split("\n\n")[0]
    version = subprocess.run([GEQC, "--version"], capture_output=True, text=True).stdout.split()
    assert version and version[-1] in head, head
    assert "--emit=pytorch" in head and "names.geq" in head, head
    lint = json.loads(subprocess.run([GEQC, "--lint-json", src], capture_output=True,
                                     text=True).stdout)
    assert f"exactly equivariant to all of p2: {', '.join(lint['exact'])}." in head, head
    assert "num_batches_tracked" not in text
    # one forward line per layer, each pointing at its .geq line
    fwd = text[text.rindex("    def forward(self, x):"):text.index("    def load_safetensors")]
    assert len([l for l in fwd.splitlines() if "# " + src + ":" in l]) == len(lint["layers"])


def main():
    global GEQC, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--geqc", required=True)
    ap.add_argument("tests", nargs="*", help="run only these")
    args = ap.parse_args()
    GEQC = args.geqc
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_")]
    failed = 0
    with tempfile.TemporaryDirectory() as TMP:
        for name, fn in tests:
            if args.tests and name not in args.tests:
                continue
            try:
                fn()
                print(f"PASS {name}")
            except Exception as e:
                failed += 1
                where = traceback.extract_tb(e.__traceback__)[-1]
                print(f"FAIL {name}: {type(e).__name__}: {e} (line {where.lineno})")
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
