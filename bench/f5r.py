#!/usr/bin/python3
"""bench/f5r.py (s26-f5): F(5, 3) on the points 0, 1, 2, 1/2, -2, -1/2, infinity, closed under
p -> 1/p (conv_fast.c's G5R, in_1d5r, out_1d5r; wino_group.c's P7), derived exactly and
checked, then its float32 rounding against the group's F(3x3) and F(4x4) forms.

Toom-Cook: y = A^T [(G g) * (B^T d)], A^T[i][j] = p_j^i (infinity: e_4), G's row of p
[1, p, p^2] / prod_(q != p) (p - q) (infinity: [0, 0, 1]), B^T solved from the identity in
fractions (sympy). Then A^T's columns of 1/2 and -1/2 times 16 (integers), G's rows scaled so
that the rows of p and 1/p are each other's reverse (G J = P G: a filter reversed along an
axis has its transform with the points swapped, no scale left over), B^T's rows by the
inverse scales (integers and 4.25). The float32 simulation: the transforms as matrices,
the products summed over the input channels in float32, against float64 on the same float32
data; relu'd N(0, 1) inputs, He weights; error relative to the output's largest |y|.
`/usr/bin/python3 bench/f5r.py` (sympy, numpy)."""
import numpy as np
import sympy as sp

R = sp.Rational
PTS = [0, 1, 2, R(1, 2), -2, R(-1, 2)]  # then infinity
A_SCALE = [1, 1, 1, 16, 1, 16, 1]
G_SCALE = [-1, R(1, 4), R(1, 8), R(1, 4), R(1, 8), R(-1, 4), 1]


def toom_cook(pts, ascale, m=5, r=3):
    n = len(pts) + 1
    AT = sp.zeros(m, n)
    G = sp.zeros(n, r)
    for j, p in enumerate(pts):
        N = sp.prod([p - q for q in pts if q != p])
        for i in range(m):
            AT[i, j] = p**i * ascale[j]
        for k in range(r):
            G[j, k] = p**k / N / ascale[j]
    AT[m - 1, n - 1] = 1
    G[n - 1, r - 1] = 1
    BT = sp.Matrix(n, n, lambda i, j: sp.Symbol('b%d_%d' % (i, j)))
    d, g = sp.symbols('d0:%d' % n), sp.symbols('g0:%d' % r)
    y = AT * sp.Matrix([(G * sp.Matrix(g))[j] * (BT * sp.Matrix(d))[j] for j in range(n)])
    eqs = []
    for i in range(m):
        e = sp.expand(y[i] - sum(g[k] * d[i + k] for k in range(r)))
        eqs += sp.Poly(e, *(g + d)).coeffs()
    BT = BT.subs(sp.solve(eqs, list(BT), dict=True)[0])
    return AT, G, BT


def exact(AT, G, BT, m=5, r=3):
    n = G.shape[0]
    d, g = sp.Matrix(sp.symbols('d0:%d' % n)), sp.Matrix(sp.symbols('g0:%d' % r))
    y = AT * sp.Matrix([(G * g)[j] * (BT * d)[j] for j in range(n)])
    return all(sp.expand(y[i] - sum(g[k] * d[i + k] for k in range(r))) == 0 for i in range(m))


AT5, G5, BT5 = toom_cook(PTS, A_SCALE)
s = [sp.Integer(x) if isinstance(x, int) else x for x in G_SCALE]
G5 = sp.diag(*s) * G5
BT5 = sp.diag(*[1 / x for x in s]) * BT5
P7 = [6, 1, 3, 2, 5, 4, 0]
J = sp.Matrix([[0, 0, 1], [0, 1, 0], [1, 0, 0]])
Pm = sp.zeros(7, 7)
for i, j in enumerate(P7):
    Pm[i, j] = 1
print('A^T =', AT5.tolist())
print('G =', G5.tolist())
print('B^T =', BT5.tolist())
print('exact:', exact(AT5, G5, BT5), ' G J == P G:', G5 * J == Pm * G5)
# conv_fast.c's in_1d5r and out_1d5r, as written, against B^T and A^T
d = sp.symbols('d0:7')
e, o, f, q = d[1] + d[5], d[1] - d[5], d[2] + d[4], d[2] - d[4]
S, D = 3 * (2 * e + f - 6 * d[3]), 5 * q + 2 * o
T, E = 14 * d[3] + 2 * e - 9 * f, 2 * o - 5 * q
x = [R(17, 4) * (d[3] - d[2]) + d[0] + d[4] - e, 4 * e - 17 * d[3], S - D, S + D, T - 3 * E,
     T + 3 * E, R(17, 4) * (d[3] - d[4]) + d[6] + d[2] - e]
print('in_1d5r == B^T:', all(sp.expand(x[i] - (BT5 * sp.Matrix(d))[i]) == 0 for i in range(7)))
mm = sp.symbols('m0:7')
sp_, dp, sh, dh = mm[2] + mm[4], mm[2] - mm[4], mm[3] + mm[5], mm[3] - mm[5]
y = [16 * sh + mm[0] + mm[1] + sp_, mm[1] + 2 * dp + 8 * dh, mm[1] + 4 * (sp_ + sh),
     mm[1] + 8 * dp + 2 * dh, mm[1] + 16 * sp_ + sh + mm[6]]
print('out_1d5r == A^T:', all(sp.expand(y[i] - (AT5 * sp.Matrix(mm))[i]) == 0 for i in range(5)))

# the group's F(4x4) (G4R, in_1d4r, out_1d4r) and F(3x3) (G3R, in_1d3r, out_1d3r) forms
F4 = (np.array([[1, 1, 1, 1, 8, 0], [0, 1, -1, 2, 4, 0], [0, 1, 1, 4, 2, 0], [0, 1, -1, 8, 1, 1]], float),
      np.array([[1, 0, 0], [1, 1, 1], [1 / 18, -1 / 18, 1 / 18], [1 / 18, 1 / 9, 2 / 9], [2 / 9, 1 / 9, 1 / 18], [0, 0, 1]]),
      np.array([[1, -2.5, 0, 2.5, -1, 0], [0, -1, 1.5, 1.5, -1, 0], [0, -2, 7, -7, 2, 0],
                [0, 1, -2, -1, 2, 0], [0, 2, -1, -2, 1, 0], [0, -1, 2.5, 0, -2.5, 1]]))
F3 = (np.array([[1, 1, 1, 4, 0], [0, 1, -2, -2, 0], [0, 1, 4, 1, 1]], float),
      np.array([[0.5, 0, 0], [1 / 9, 1 / 9, 1 / 9], [1 / 18, -1 / 9, 2 / 9], [2 / 9, -1 / 9, 1 / 18], [0, 0, 0.5]]),
      np.array([[2, 3, -3, -2, 0], [0, 2, 5, 2, 0], [0, 1, 1, -2, 0], [0, -2, 1, 1, 0], [0, -2, -3, 3, 2]], float))
F5 = tuple(np.array(M.tolist(), dtype=float) for M in (AT5, G5, BT5))
FORMS = {'F(3x3) G3R': F3, 'F(4x4) G4R': F4, 'F(5x5) G5R': F5}


def conv_ref(x, w):
    ci, H, W = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    y = np.zeros((w.shape[0], H, W))
    for i in range(3):
        for j in range(3):
            y += np.einsum('oc,chw->ohw', w[:, :, i, j], xp[:, i:i + H, j:j + W])
    return y


def conv_wino(x, w, form):
    AT, G, BT = form
    m, a = AT.shape
    ci, H, W = x.shape
    th, tw = -(-H // m), -(-W // m)
    xp = np.zeros((ci, th * m + 2, tw * m + 2), np.float32)
    xp[:, 1:H + 1, 1:W + 1] = x
    U = np.einsum('ik,ockl,jl->ijoc', G, w.astype(np.float64), G).astype(np.float32)
    BT32, AT32 = BT.astype(np.float32), AT.astype(np.float32)
    y = np.zeros((w.shape[0], th * m, tw * m), np.float32)
    for ty in range(th):
        for tx in range(tw):
            dd = xp[:, ty * m:ty * m + a, tx * m:tx * m + a]
            V = np.einsum('ik,ckl,jl->ijc', BT32, dd, BT32).astype(np.float32)
            M = np.einsum('ijoc,ijc->ijo', U, V).astype(np.float32)
            y[:, ty * m:ty * m + m, tx * m:tx * m + m] = np.einsum('ki,ijo,lj->okl', AT32, M, AT32)
    return y[:, :H, :W]


rng = np.random.default_rng(1)
for C, H in ((128, 25), (256, 15)):
    x = np.maximum(rng.standard_normal((C, H, H)), 0).astype(np.float32)
    w = (rng.standard_normal((C, C, 3, 3)) * np.sqrt(2 / (C * 9))).astype(np.float32)
    ref = conv_ref(x.astype(np.float64), w.astype(np.float64))
    for name, form in FORMS.items():
        e = np.abs(conv_wino(x, w, form) - ref) / np.abs(ref).max()
        print(f'{C} planes {H}x{H} {name}: max {e.max():.2e} mean {e.mean():.2e}', flush=True)
