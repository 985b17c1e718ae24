/* conv_phase_isa.h: conv_phase.c's vector code, included once per instruction set with
 * SUF (the functions' suffix), TGT (their target attribute), VEC (a vector of VL floats),
 * PR (output channels a product call), LOAD, STORE, BCAST, FMA, MAX0 and INTERLEAVE3 (three
 * vectors a, b, c stored as a0 b0 c0 a1 b1 c1 ...) defined. Tiles sit in the lanes: lane t
 * of a vector is tile T0 + t of a band. */

#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)
#define FN(name)   CAT(name, SUF)

/* B^T of F(3, 4) (as of F(4, 3): the points 0, +-1, +-2, infinity) on d[0..5]. */
static inline TGT __attribute__((always_inline)) void FN(bt6)(VEC *o, const VEC *d)
{
	VEC s = d[4] - d[2], t = d[3] - d[1];
	o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
	o[1] = (d[4] + d[3]) - 4.0f * (d[1] + d[2]);
	o[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
	o[3] = s + 2.0f * t;
	o[4] = s - 2.0f * t;
	o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* A^T of F(3, 4) on m[0..5]: three outputs. */
static inline TGT __attribute__((always_inline)) void FN(at6)(VEC *o, const VEC *m)
{
	VEC s = m[1] + m[2], t = m[3] + m[4];
	o[0] = m[0] + s + t;
	o[1] = (m[1] - m[2]) + 2.0f * (m[3] - m[4]);
	o[2] = s + 4.0f * t + m[5];
}

/* One phase channel's 6x6 patches of VL tiles -> their 36 transformed points, point xi at
 * v + xi*vs. The band's split row (c3, u) is at q + (c3*6 + u)*ql: column c3 of each tile's
 * patch row u, so that column v is row (v % 3, u) at the tile v / 3 further on. */
static TGT void FN(in_tf)(const float *q, size_t ql, float *v, size_t vs)
{
	VEC t[6][6], d[6], e[6], o[6];
#pragma GCC unroll 6
	for (int u = 0; u < 6; u++) {
#pragma GCC unroll 6
		for (int c = 0; c < 6; c++)
			d[c] = LOAD(q + (size_t)(c % 3 * 6 + u) * ql + c / 3);
		FN(bt6)(t[u], d);
	}
#pragma GCC unroll 6
	for (int k = 0; k < 6; k++) {
#pragma GCC unroll 6
		for (int u = 0; u < 6; u++)
			e[u] = t[u][k];
		FN(bt6)(o, e);
#pragma GCC unroll 6
		for (int k2 = 0; k2 < 6; k2++)
			STORE(v + (size_t)(k2 * 6 + k) * vs, o[k2]);
	}
}

/* d[t] = s[6t] for t < n: a patch column of n tiles out of an input row. */
static TGT void FN(gather6)(float *d, const float *s, int n)
{
	int t = 0;
	for (; t + VL <= n; t += VL)
		STORE(d + t, GATHER6(s + 6 * t));
	for (; t < n; t++)
		d[t] = s[6 * t];
}

/* m[r*ld + g*VL] = sum over kc of u[ci*PR + r] * v[ci*lanes + g*VL] for PR channels r and ng
 * vectors g (1..3) of tiles. */
#define PACC(r) VEC a##r##0 = ZERO(), a##r##1 = ZERO(), a##r##2 = ZERO();
#define PST1(r) a##r##0 = FMA(BCAST(u + r), v0, a##r##0);
#define PST2(r)                                                                                    \
	{                                                                                          \
		VEC b = BCAST(u + r);                                                              \
		a##r##0 = FMA(b, v0, a##r##0);                                                     \
		a##r##1 = FMA(b, v1, a##r##1);                                                     \
	}
#define PST3(r)                                                                                    \
	{                                                                                          \
		VEC b = BCAST(u + r);                                                              \
		a##r##0 = FMA(b, v0, a##r##0);                                                     \
		a##r##1 = FMA(b, v1, a##r##1);                                                     \
		a##r##2 = FMA(b, v2, a##r##2);                                                     \
	}
#define PSAVE1(r) STORE(m + r * ld, a##r##0);
#define PSAVE2(r) PSAVE1(r) STORE(m + r * ld + VL, a##r##1);
#define PSAVE3(r) PSAVE2(r) STORE(m + r * ld + 2 * VL, a##r##2);

static TGT void FN(prod)(
        int ng, int kc, const float *u, const float *v, size_t lanes, float *m, size_t ld)
{
	PROWS(PACC)
	if (ng == 3) {
		for (int ci = 0; ci < kc; ci++, u += PR, v += lanes) {
			VEC v0 = LOAD(v), v1 = LOAD(v + VL), v2 = LOAD(v + 2 * VL);
			PROWS(PST3)
		}
		PROWS(PSAVE3)
	} else if (ng == 2) {
		for (int ci = 0; ci < kc; ci++, u += PR, v += lanes) {
			VEC v0 = LOAD(v), v1 = LOAD(v + VL);
			PROWS(PST2)
		}
		PROWS(PSAVE2)
	} else {
		for (int ci = 0; ci < kc; ci++, u += PR, v += lanes) {
			VEC v0 = LOAD(v);
			PROWS(PST1)
		}
		PROWS(PSAVE1)
	}
}

#undef PACC
#undef PST1
#undef PST2
#undef PST3
#undef PSAVE1
#undef PSAVE2
#undef PSAVE3

/* One output channel's 36 products of VL tiles (point xi at m + xi*ms) -> their 3x3 outputs
 * plus bias (then the relu if relu), row i of the tiles interleaved at row + i*rs. */
static TGT void FN(out_tf)(const float *m, size_t ms, float bias, bool relu, float *row, size_t rs)
{
	VEC t[6][3], d[6], o[3][3], e[6], r3[3];
#pragma GCC unroll 6
	for (int u = 0; u < 6; u++) {
#pragma GCC unroll 6
		for (int c = 0; c < 6; c++)
			d[c] = LOAD(m + (size_t)(u * 6 + c) * ms);
		FN(at6)(t[u], d);
	}
	VEC b = BCAST(&bias);
#pragma GCC unroll 3
	for (int j = 0; j < 3; j++) {
#pragma GCC unroll 6
		for (int u = 0; u < 6; u++)
			e[u] = t[u][j];
		FN(at6)(r3, e);
#pragma GCC unroll 3
		for (int i = 0; i < 3; i++) {
			o[i][j] = r3[i] + b;
			if (relu)
				o[i][j] = MAX0(o[i][j]);
		}
	}
#pragma GCC unroll 3
	for (int i = 0; i < 3; i++)
		INTERLEAVE3(row + i * rs, o[i][0], o[i][1], o[i][2]);
}

/* the parameters go with the include, so that the next instruction set defines its own */
#undef FN
#undef CAT
#undef CAT_
#undef SUF
#undef TGT
#undef VEC
#undef VL
#undef PR
#undef PROWS
#undef ZERO
#undef LOAD
#undef STORE
#undef BCAST
#undef FMA
#undef MAX0
#undef INTERLEAVE3
#undef GATHER6
