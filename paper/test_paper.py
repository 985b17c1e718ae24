"""Checks of the experiment's geometry and of a finished quick run; run by test-quick.sh.

    test_paper.py OUT_DIR [EXAMPLES_DIR] [CHECK...]

OUT_DIR is a quick run trained on quarter turns (paper/run.sh --quick --aug rot90).
Prints one `PASS name` or `FAIL name: why` line per check. The references are the maths
(numpy.rot90, centres of mass of rotated blobs) and the dataset's published layout, never
outputs of the code under test.
"""
import os
import subprocess
import sys

import numpy as np

import fmnist

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def idx_files_have_the_published_layout():
    """60,000 training and 10,000 test images of 28x28, 1,000 test images per class."""
    train, ytrain = fmnist.load("train")
    test, ytest = fmnist.load("test")
    assert train.shape == (60000, 28, 28) and ytrain.shape == (60000,), train.shape
    assert test.shape == (10000, 28, 28), test.shape
    assert (np.bincount(ytest, minlength=10) == 1000).all(), np.bincount(ytest)
    assert (np.bincount(ytrain, minlength=10) == 6000).all(), np.bincount(ytrain)


@check
def bilinear_rotation_by_quarter_turns_is_rot90():
    rng = np.random.default_rng(1)
    for side in (28, 29):
        x = rng.random((3, 1, side, side), dtype=np.float32)
        for k in range(4):
            got = fmnist._rotate_bilinear(x, np.pi / 2 * k)
            want = np.rot90(x, k, axes=(-2, -1))
            assert np.abs(got - want).max() < 1e-5, (side, k, np.abs(got - want).max())


def blob(side, cy, cx, sigma=1.5):
    r, c = np.mgrid[:side, :side]
    return np.exp(-((r - cy) ** 2 + (c - cx) ** 2) / (2 * sigma ** 2)).astype(np.float32)


def centre_of_mass(img):
    r, c = np.mgrid[:img.shape[0], :img.shape[1]]
    return (img * r).sum() / img.sum(), (img * c).sum() / img.sum()


@check
def bilinear_rotation_turns_counter_clockwise_about_the_centre():
    """A blob 6 px right of the centre, turned by t, sits at (-6 sin t, 6 cos t) from it
    (rows grow downwards, so counter-clockwise on screen moves it up)."""
    for side in (28, 29):
        c = (side - 1) / 2
        x = blob(side, c, c + 6)
        for deg in (30, 130, 200, 315):
            t = np.deg2rad(deg)
            got = centre_of_mass(fmnist.rotate(x, deg))
            want = (c - 6 * np.sin(t), c + 6 * np.cos(t))
            assert np.hypot(got[0] - want[0], got[1] - want[1]) < 0.05, (side, deg, got, want)


@check
def rotation_fills_with_zeros():
    x = np.ones((28, 28), np.float32)
    y = fmnist.rotate(x, 45)
    assert y[0, 0] == 0 and y[-1, -1] == 0 and abs(y[14, 14] - 1) < 1e-6


@check
def pad29_adds_a_zero_row_at_the_bottom_and_a_zero_column_at_the_right():
    x = np.random.default_rng(2).random((2, 1, 28, 28), dtype=np.float32) + 1
    y = fmnist.pad29(x)
    assert y.shape == (2, 1, 29, 29)
    assert (y[..., :28, :28] == x).all() and (y[..., 28, :] == 0).all() and (y[..., :, 28] == 0).all()


@check
def model_inputs_turn_each_models_own_image():
    images, _ = fmnist.load("test", 4)
    x = fmnist.to_input(images)
    assert (fmnist.model_input(images, 28, 90) == np.rot90(x, 1, axes=(2, 3))).all()
    padded = np.rot90(fmnist.pad29(x), 2, axes=(2, 3))
    assert (fmnist.model_input(images, 29, 180) == padded).all()
    assert (padded[..., 0, :] == 0).all()  # the pad is now the top row
    turned_first = fmnist.pad29(np.rot90(x, 2, axes=(2, 3)))
    assert (fmnist.model_input(images, 29, 180, "content") == turned_first).all()


@check
def example_pictures_are_test_images():
    from PIL import Image  # an independent decoder (matplotlib's dependency)
    images, labels = fmnist.load("test")
    coat = images[np.flatnonzero(labels == 4)[0]]
    d = EXAMPLES
    assert (np.array(Image.open(os.path.join(d, "fashion-coat.png"))) == coat).all()
    assert (np.array(Image.open(os.path.join(d, "fashion-coat.pgm"))) == coat).all()
    assert (np.array(Image.open(os.path.join(d, "fashion-coat-r90.png"))) == np.rot90(coat)).all()


def training_inputs(size, index):
    """The model inputs of the training images index, upright (train.py's dataset)."""
    images, _ = fmnist.load("train", int(index.max()) + 1)
    x = fmnist.to_input(images[index])
    return fmnist.pad29(x) if size == 29 else x


@check
def quick_runs_training_batch_is_turned_by_quarter_turns():
    """What train.py fed the nets first: each image its upright input under numpy.rot90 by
    its own drawn turn, not all the same turn; the 28 and 29 nets got the same turns."""
    b28, b29 = results("batch28.npz"), results("batch29.npz")
    assert (b28["index"] == b29["index"]).all() and (b28["degrees"] == b29["degrees"]).all()
    deg = b28["degrees"]
    assert set(np.unique(deg)) <= {0, 90, 180, 270} and len(np.unique(deg)) >= 3, deg
    for size, b in ((28, b28), (29, b29)):
        upright = training_inputs(size, b["index"])
        want = np.stack([np.rot90(u, int(d) // 90, axes=(-2, -1)) for u, d in zip(upright, deg)])
        assert b["x"].shape == want.shape and (b["x"] == want).all(), size


@check
def bilinear_regimes_turn_each_image_as_the_test_images_turn():
    """train.py's batched rotation against fmnist.rotate, image by image (the evaluation's
    rotation, checked above against numpy.rot90 and the centres of mass)."""
    import torch
    from train import augment
    x = np.random.default_rng(3).random((16, 1, 29, 29), dtype=np.float32)
    for aug in ("gauss45", "uniform"):
        got, deg = augment(torch.from_numpy(x), aug, np.random.default_rng(4))
        want = np.stack([fmnist.rotate(img, d) for img, d in zip(x, deg)])
        assert np.abs(got.numpy() - want).max() < 1e-4, (aug, np.abs(got.numpy() - want).max())
        assert len(np.unique(deg)) == len(x), deg  # an angle per image


@check
def regimes_draw_the_angles_they_promise():
    from train import angles
    rng = np.random.default_rng(5)
    n = 40000
    assert (angles("upright", n, rng) == 0).all()
    quarter = np.bincount((angles("rot90", n, rng) // 90).astype(int), minlength=4) / n
    assert len(quarter) == 4 and np.abs(quarter - 0.25).max() < 0.01, quarter
    g = angles("gauss45", n, rng)
    assert abs(g.mean() - 45) < 0.5 and abs(g.std() - 20) < 0.5, (g.mean(), g.std())
    u = angles("uniform", n, rng)
    assert u.min() >= 0 and u.max() < 360, (u.min(), u.max())
    assert abs(u.mean() - 180) < 2 and abs(u.std() - 360 / np.sqrt(12)) < 2, (u.mean(), u.std())


@check
def upright_regime_leaves_the_batch_alone():
    import torch
    from train import augment
    x = torch.rand(8, 1, 28, 28)
    got, deg = augment(x, "upright", np.random.default_rng(6))
    assert got is x and (deg == 0).all()


def results(name):
    return np.load(os.path.join(OUT, name))


@check
def exact_net_predicts_the_same_at_90_180_270_as_upright():
    r = results("acc28.npz")
    angles = r["angles"].tolist()
    assert angles == list(range(0, 360, 10)), angles
    upright = r["preds"][angles.index(0)]
    for deg in (90, 180, 270):
        same = r["preds"][angles.index(deg)] == upright
        assert same.all(), f"{deg} deg: {np.count_nonzero(~same)} of {len(same)} differ"


@check
def broken_net_predicts_differently_at_180():
    """The lint calls r2 broken; trained weights must show it on some image."""
    r = results("acc29.npz")
    angles = r["angles"].tolist()
    assert len(angles) == 36
    differ = np.count_nonzero(r["preds"][angles.index(180)] != r["preds"][0])
    assert differ > 0, "the 29x29 net predicts every image the same at 180 degrees"


@check
def lint_verdicts_are_the_papers():
    import json
    with open(os.path.join(OUT, "lint28.json")) as f:
        l28 = json.load(f)
    with open(os.path.join(OUT, "lint29.json")) as f:
        l29 = json.load(f)
    assert l28["broken"] == [] and l28["exact"] == ["e", "r", "r2", "r3"], l28
    assert l29["broken"] == ["r", "r2", "r3"] and l29["exact"] == ["e"], l29


@check
def table_and_plot_exist():
    from PIL import Image
    with open(os.path.join(OUT, "results.md")) as f:
        text = f.read()
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert len(rows) == 36, f"{len(rows)} angle rows"
    assert "exact for all of p4" in text and "broken for r, r2, r3" in text
    assert "trained on quarter turns" in text, text.splitlines()[0]
    with Image.open(os.path.join(OUT, "accuracy.png")) as img:
        assert img.format == "PNG" and img.size[0] >= 400, (img.format, img.size)


def image_mode(path):
    """[(class name, probability)] as printed by `fashion28 --weights W path`."""
    exe = os.path.join(OUT, "fashion28")
    w = os.path.join(OUT, "fashion28.safetensors")
    p = subprocess.run([exe, "--weights", w, path], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = []
    for line in p.stdout.splitlines():
        name, _, prob = line.strip().rpartition(" ")
        rows.append((name.strip(), float(prob.rstrip("%")) / (100 if "%" in prob else 1)))
    assert rows, p.stdout
    return rows


def torch_probabilities(path):
    """The reference: the emitted PyTorch module on the picture's pixels / 255, softmaxed."""
    import torch
    from PIL import Image
    from train import load_module
    model = load_module(os.path.join(OUT, "paper28.py")).Model()
    model.load_safetensors(os.path.join(OUT, "fashion28.safetensors"))
    model.eval()
    x = np.asarray(Image.open(path), np.float32)[None, None] / 255
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(x))[0].double(), 0).numpy()


@check
def image_mode_prints_the_top_classes_and_ignores_quarter_turns():
    ref = torch_probabilities(os.path.join(EXAMPLES, "fashion-coat.png"))
    for name in ("fashion-coat.png", "fashion-coat-r90.png", "fashion-coat.pgm"):
        rows = image_mode(os.path.join(EXAMPLES, name))
        names = [n for n, _ in rows]
        assert names == [fmnist.CLASSES[i] for i in np.argsort(-ref)[:len(rows)]], (name, rows)
        for n, prob in rows:
            want = ref[fmnist.CLASSES.index(n)]
            assert abs(prob - want) < 1e-3, (name, n, prob, want)


def main():
    global OUT, EXAMPLES
    OUT = sys.argv[1]
    EXAMPLES = sys.argv[2] if len(sys.argv) > 2 else "examples"
    only = sys.argv[3:]  # names to run (default: all)
    failed = 0
    for fn in CHECKS:
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
            print(f"PASS {fn.__name__}")
        except Exception as e:  # an assertion, or a missing output of the run
            failed += 1
            print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
