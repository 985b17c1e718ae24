#!/usr/bin/python3
"""`geqc --explain=FILE.svg` checked as a structure, against the lint's own JSON.

    tests/test-explain.py GEQC

For each model: the SVG parses; it has one panel (<g class="layer" id=NAME>) per layer
whose grid breaks some element, and none for an exact model; each panel has the layer's
grid as out_h x out_w dots (of a larger one the 12 x 12, or 11 x 11, about its centre) and
as many rings; the rings are the dots moved by one vector,
which is the rotation or mirror named in the panel's text applied to the lint's shift of
the grid's centre (g s - s), never zero, and which the text states; the cross sits on the
image's centre. Prints PASS/FAIL lines, then `N passed, N failed`.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = {"s": "http://www.w3.org/2000/svg"}
MODELS = ["examples/paper29.geq", "examples/p4m-stride2-28.geq", "examples/paper28.geq",
          "tests/lint/explain-two-grids.geq", "tests/lint/input-size-cm-survives.geq",
          "tests/lint/grid-alignment.geq", "tests/lint/explain-large.geq",
          "examples/resnet44-p4-32.geq"]  # layers inside blocks, one panel per call
# How each element moves an offset (dy, dx) from the centre, from SPEC §3: r is
# numpy.rot90 (counter-clockwise: pixel (y, x) to (W-1-x, y)), m numpy.flip(a, -1), and
# m^j r^i applies r i times, then m.
MATRIX = {"r": ((0, -1), (1, 0)), "r2": ((-1, 0), (0, -1)), "r3": ((0, 1), (-1, 0)),
          "m": ((1, 0), (0, -1)), "mr2": ((-1, 0), (0, 1)), "mr3": ((0, 1), (1, 0)),
          "mr": ((0, -1), (-1, 0))}


def check_panel(panel, layer, rect, size):
    H, W = size
    scale = float(rect.get("width")) / W
    dots = [(float(c.get("cy")), float(c.get("cx")))
            for c in panel.find(".//s:g[@class='sampled']", NS)]
    rings = [(float(c.get("cy")), float(c.get("cx")))
             for c in panel.find(".//s:g[@class='image-under-g']", NS)]
    oh, ow = layer["output"][-2:]
    rows, cols = int(panel.get("data-rows")), int(panel.get("data-cols"))
    shown = [n if n <= 12 else 12 - (n - 12) % 2 for n in (oh, ow)]  # symmetric about the centre
    assert [rows, cols] == shown, f"shows {rows}x{cols} of {oh}x{ow}"
    assert len(dots) == rows * cols == len(rings), f"{len(dots)} dots, {len(rings)} rings"
    text = " ".join(t.text for t in panel.findall("s:text", NS))
    m = re.search(r"(\w+) \([^)]*\) moves it by (-?[\d.]+) px down, (-?[\d.]+) px right", text)
    assert m, text
    g, dy, dx = m.group(1), float(m.group(2)), float(m.group(3))
    assert g in layer["breaks"], f"{g} is not among {layer['breaks']}"
    (a, b), (c, d) = MATRIX[g]
    sy, sx = layer["shift"]
    want = (a * sy + b * sx - sy, c * sy + d * sx - sx)
    assert (dy, dx) == want and want != (0, 0), f"moves by {(dy, dx)}, the lint's shift gives {want}"
    for (y0, x0), (y1, x1) in zip(sorted(dots), sorted((y - dy * scale, x - dx * scale)
                                                      for y, x in rings)):
        assert abs(y0 - y1) < 0.02 and abs(x0 - x1) < 0.02, "the rings are not the dots moved"
    cy = float(rect.get("y")) + H * scale / 2
    cx = float(rect.get("x")) + W * scale / 2
    cross = panel.find(".//s:g[@class='centre']", NS).findall("s:line", NS)
    assert abs(float(cross[0].get("y1")) - cy) < 0.1 and abs(float(cross[1].get("x1")) - cx) < 0.1


def check_model(geqc, geq, work):
    svg = os.path.join(work, os.path.basename(geq) + ".svg")
    args = open(geq[:-4] + ".args").read().split() if os.path.exists(geq[:-4] + ".args") else []
    p = subprocess.run([geqc, "--lint-json", f"--explain={svg}"] + args + [geq],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lint = json.loads(p.stdout)
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    want = [L for L in lint["layers"]
            if L["breaks"] and L["reason"] == "grid" and None not in L["shift"]]
    panels = root.findall("s:g[@class='layer']", NS)
    assert [p.get("id") for p in panels] == [L["name"] for L in want], \
        f"panels {[p.get('id') for p in panels]}, breaking layers {[L['name'] for L in want]}"
    if not want:
        assert "nothing breaks" in "".join(t.text for t in root.iter("{%s}text" % NS["s"]))
    for panel, layer in zip(panels, want):
        check_panel(panel, layer, panel.find(".//s:rect[@class='image']", NS), lint["input"][1:])
    return len(panels)


def main():
    geqc = sys.argv[1]
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="geqc-explain-") as work:
        for geq in MODELS:
            try:
                n = check_model(geqc, geq, work)
                print(f"PASS {geq}: {n} panel{'s' if n != 1 else ''}")
                passed += 1
            except Exception as e:  # noqa: BLE001 - one model's failure must not hide others
                print(f"FAIL {geq}: {e}")
                failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
