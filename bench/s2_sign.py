#!/usr/bin/python3
"""The stride-2 F(3x3) form on the points 0, 1, -1, infinity as a group form (s25-s2f4):
a check of the algebra, not of the runtime (nothing in it is built).

    bench/s2_sign.py        (numpy; exit 1 if a check fails)

Per axis the form is s23-s2's GQ_CONV_WINO3S2: the even taps w0, w2 on x0, x2, x4, x6 as
F(3, 2) on 0, 1, -1, infinity (G's rows w0, (w0 + w2)/2, (w0 - w2)/2, w2), then the odd tap
w1 on x1, x3, x5: 7 positions an axis, 49 a tile. A filter reversed along an axis is its U
with the positions permuted (0 and infinity swap, the odd taps' x1 and x5) AND the point -1
negated ((w2 - w0)/2 = -(w0 - w2)/2), so element g's U is the identity's permuted with a sign
sig_g(p) (s22-wide: "-1 comes back negated and cannot be used"). The sign folds into the
slots: with the identity's bank for input slot b scaled by sig_b at its own positions and
the transformed input V of slot h scaled by sig_h, element a's products

    M_a[p] = sum_(i, b) (sig_b U_e[o][(i, b)])[q] (sig_ab V[(i, a b)])[p],  q = perm_a(p)

are the expanded plan's, since sig_b(perm_a(p)) sig_ab(p) = sig_a(p) for all a, b, p (the
signs compose as the turns do); the output transform and the bias at the point (1, 1) are
untouched. sig_h is -1 on the rows (columns) of the point -1 along each axis h reverses: 52
of p4m's 8 x 49 (slot, position) pairs, 26 of p4's 4 x 49. Checked here on random gconvs
(two input and two output channels, one 7x7 input tile an input plane) against the
expanded stride-2 convolution, p4m and p4.
"""
import itertools
import sys

import numpy as np

rng = np.random.default_rng(1)
G = np.array([[1, 0], [.5, .5], [.5, -.5], [0, 1]])
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]], float)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, 1]], float)
G7 = np.zeros((7, 3))
G7[:4, 0], G7[:4, 2], G7[4:, 1] = G[:, 0], G[:, 1], 1
B7 = np.zeros((7, 7))
B7[:4, [0, 2, 4, 6]] = BT
B7[4, 1] = B7[5, 3] = B7[6, 5] = 1
A7 = np.hstack([AT, np.eye(3)])
ELEMS = [(k, m) for m in (0, 1) for k in range(4)]  # rotation k after mirror m


def U(f):
    return (G7 @ f @ G7.T).ravel()


def V(d):
    return (B7 @ d @ B7.T).ravel()


def conv(f, d):  # one 3x3 output tile of the stride-2 correlation of a 7x7 input tile
    return np.array([[(f * d[2 * i:2 * i + 3, 2 * j:2 * j + 3]).sum() for j in range(3)]
                     for i in range(3)])


def act(g, a):
    return np.rot90(a[:, ::-1] if g[1] else a, g[0])


def mul(g, h):
    a = rng.standard_normal((3, 3))
    return next(x for x in ELEMS if np.allclose(act(x, a), act(g, act(h, a))))


def inv(g):
    return next(x for x in ELEMS if mul(g, x) == (0, 0))


def table(g):
    """perm, sig: U(act(g, f))[p] = sig[p] U(f)[perm[p]], the positions as V moves them."""
    d = rng.standard_normal((7, 7))
    vd, vg = V(d), V(act(g, d))
    perm = [int(np.argmin(np.minimum(abs(vg[p] - vd), abs(vg[p] + vd)))) for p in range(49)]
    f = rng.standard_normal((3, 3))
    sig = U(act(g, f)) / U(f)[perm]
    assert np.allclose(abs(sig), 1)
    return perm, np.sign(sig)


def check(group, cin=2, cout=2):
    n, ix = len(group), {g: i for i, g in enumerate(group)}
    T = {g: table(g) for g in group}
    W = rng.standard_normal((cout, cin, n, 3, 3))
    X = rng.standard_normal((cin, n, 7, 7))
    Y = np.zeros((cout, n, 3, 3))
    for o, a, i, c in itertools.product(range(cout), group, range(cin), group):
        Y[o, ix[a]] += conv(act(a, W[o, i, ix[mul(inv(a), c)]]), X[i, ix[c]])
    Ub = {(o, i, b): U(W[o, i, ix[b]]) * T[b][1] for o in range(cout) for i in range(cin)
          for b in group}
    Vb = {(i, c): V(X[i, ix[c]]) * T[c][1] for i in range(cin) for c in group}
    Yg = np.zeros_like(Y)
    for o, a in itertools.product(range(cout), group):
        perm = T[a][0]
        M = [sum(Ub[o, i, b][perm[p]] * Vb[i, mul(a, b)][p] for i in range(cin) for b in group)
             for p in range(49)]
        Yg[o, ix[a]] = A7 @ np.reshape(M, (7, 7)) @ A7.T
    err = abs(Yg - Y).max() / abs(Y).max()
    neg = sum(int((T[h][1] < 0).sum()) for h in group)
    print(f"{n} elements: group form against expanded {err:.1e} of the largest output, "
          f"{neg} of {49 * n} (slot, position) signs negative")
    return err < 1e-12


sys.exit(0 if check(ELEMS) & check([(k, 0) for k in range(4)]) else 1)
