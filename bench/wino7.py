#!/usr/bin/python3
"""bench/wino7.py: F(7x7, 3x3)'s matrices and its float32 error (s26-f7; docs/batch1.md).

    /usr/bin/python3 bench/wino7.py

Toom-Cook's construction of F(m, 3) on m + 1 finite points and infinity, exact in
fractions: A^T's column j is p_j^i (infinity's e_(m-1)); G's row j is (1, p_j, p_j^2) over
prod_(l != j) (p_j - p_l) (infinity's (0, 0, 1)); B^T's row j the coefficients of
prod_(l != j) (x - p_l) (infinity's of prod_l (x - p_l)); every product A^T G B^T checked to
be the correlation. Then the float32 error of the 2-D form (B^T, A^T and the products in
float32, G in float64 as gq_conv_set does) against a float64 direct correlation on random
data in [-1, 1) (32 input channels, 64 tiles), for F(4x4) and F(6x6) on the runtime's
points and F(7x7) on each candidate set of 8 finite points; and the constants of
conv_fast.c's in_1d7, out_1d7 and G7 for the points chosen, +-1, +-2, +-1/2, +-1/4
(ordered 1/4, 1, -1, 2, -2, 1/2, -1/2, -1/4: the point 1 second, for the bias): B^T's row of
+-p is (x +- p) R_p(x^2), R_p(y) = prod over the other pairs q of (y - q^2).
"""
from fractions import Fraction as F

import numpy as np


def poly(roots):
    """Ascending coefficients of prod (x - r)."""
    c = [F(1)]
    for p in roots:
        c = [F(0)] + c
        for i in range(len(c) - 1):
            c[i] -= p * c[i + 1]
    return c


def mats(pts, m):
    n = m + 2
    assert len(pts) == n - 1
    AT = [[pts[j] ** i for j in range(n - 1)] + [F(int(i == m - 1))] for i in range(m)]
    G = []
    for j in range(n - 1):
        den = F(1)
        for l in range(n - 1):
            if l != j:
                den *= pts[j] - pts[l]
        G.append([pts[j] ** k / den for k in range(3)])
    G.append([F(0), F(0), F(1)])
    BT = []
    for j in range(n - 1):
        c = poly([pts[l] for l in range(n - 1) if l != j])
        BT.append(c + [F(0)] * (n - len(c)))
    BT.append(poly(pts))
    for i in range(m):
        for k in range(3):
            for l in range(n):
                s = sum(AT[i][j] * G[j][k] * BT[j][l] for j in range(n))
                assert s == (1 if l == i + k else 0), (i, k, l, s)
    return AT, G, BT


def err(pts, m, C=32, trials=3, seed=1):
    """Mean |error| and max |error| / max |y| of the 2-D form in float32."""
    AT, G, BT = mats(pts, m)
    a = m + 2
    g = np.array(G, dtype=np.float64)
    at = np.array(AT, dtype=np.float64).astype(np.float32)
    bt = np.array(BT, dtype=np.float64).astype(np.float32)
    rng = np.random.default_rng(seed)
    es, ms = [], []
    for _ in range(trials):
        d = rng.uniform(-1, 1, (C, 64, a, a))
        w = rng.uniform(-1, 1, (C, 3, 3))
        U = np.einsum('ak,ckl,bl->cab', g, w, g).astype(np.float32)
        V = np.einsum('ak,ctkl,bl->ctab', bt, d.astype(np.float32), bt, dtype=np.float32)
        M = np.einsum('cab,ctab->tab', U, V, dtype=np.float32)
        Y = np.einsum('ia,tab,jb->tij', at, M, at, dtype=np.float32)
        ref = np.zeros((64, m, m))
        for ky in range(3):
            for kx in range(3):
                ref += np.einsum('c,cthw->thw', w[:, ky, kx], d[:, :, ky:ky + m, kx:kx + m])
        diff = np.abs(Y.astype(np.float64) - ref)
        es.append(diff.mean())
        ms.append(diff.max() / np.abs(ref).max())
    return np.mean(es), np.max(ms)


def main():
    six = [F(0), F(1), F(-1), F(2), F(-2), F(1, 2), F(-1, 2)]
    print('F(4x4) 0,+-1,+-2: mean %.3g, max/max|y| %.3g' % err(six[:5], 4))
    print('F(6x6) 0,+-1,+-2,+-1/2: mean %.3g, max/max|y| %.3g' % err(six, 6))
    cands = {}
    for x in [F(3, 2), F(-3, 2), F(3), F(-3), F(1, 3), F(-1, 3), F(3, 4), F(-3, 4), F(1, 4),
              F(-1, 4), F(4), F(-4)]:
        cands['0,+-1,+-2,+-1/2,%s' % x] = six + [x]
    for p in [F(3, 2), F(1, 4), F(3), F(1, 3), F(3, 4), F(2, 3)]:
        cands['+-1,+-2,+-1/2,+-%s' % p] = six[1:] + [p, -p]
    res = sorted((err(pts, 7) + (name,)) for name, pts in cands.items())
    for e, mx, name in res:
        print('F(7x7) %-24s mean %.3g, max/max|y| %.3g' % (name, e, mx))
    pts = [F(1, 4), F(1), F(-1), F(2), F(-2), F(1, 2), F(-1, 2), F(-1, 4)]
    AT, G, BT = mats(pts, 7)
    pos = [F(1), F(2), F(1, 2), F(1, 4)]
    for p in pos:
        R = poly([q * q for q in pos if q != p])
        for sign in (1, -1):
            row = [F(0)] * 9
            for k in range(4):
                row[2 * k + 1] += R[k]
                row[2 * k] += sign * p * R[k]
            assert row == BT[pts.index(sign * p)]
        print('in_1d7: p = +-%s, R_p = %s' % (p, ', '.join(map(str, R))))
    M = poly([q * q for q in pos])
    assert BT[8] == [M[k // 2] if k % 2 == 0 else F(0) for k in range(9)]
    print('in_1d7: infinity, %s on d0, d2, .., d8' % ', '.join(map(str, M)))
    print('G7:')
    for r in G:
        print('  {%s},' % ', '.join(str(x) for x in r))


if __name__ == '__main__':
    main()
