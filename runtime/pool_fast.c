/* pool_fast.c: max pooling as tight loops, an output row at a time. A 2x2 pool at stride 2
 * without padding (the common case of a G-CNN) reads its windows in place; other windows
 * (ResNet's 3x3, stride 2, padding 1) go as two passes: the max over the window's rows,
 * column by column, in one pass into a row buffer with -inf for the padding either side,
 * then the max over each window's columns of that row. At stride 2 (windows of 2 or 3) the
 * columns' pass takes the even and odd floats apart by two-source shuffles, a vector of
 * outputs at a time, in 8-float vectors where the convolutions run AVX2 or AVX-512
 * (gq_conv_kernel), else 4 floats. 4-float vectors and a scalar gather of every second
 * float took 0.51 ms of one thread for ResNet-18's 64 x 113 x 113 map; AVX-512 shuffles
 * 0.19-0.25 ms; 8-float vectors, the rows' pass in one and a row's last vector overlapping
 * the one before, 0.14 ms (AMD EPYC with AVX-512, one thread, alternating runs: the 16-float
 * shuffles and mask blends cost more there than they save). Other windows take the max of k shifted
 * copies of the row and keep every s-th. The generic loop of ops.c tested every tap against the
 * plane's bounds and branched on every comparison (random data mispredicts half of them): 5.7 ms of
 * ResNet-18's 32 ms went to its 3x3 pool. NaN propagates as in torch: a window holding one has NaN
 * as its max. Large pools split their planes over the team. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "geqrt.h"

/* torch's max, NaN winning: b if a > b fails (b larger, or either NaN), unless a is the
 * NaN. Written as two selects, which compile to maxss and a blend, not to branches that
 * random data mispredicts. */
static inline float nan_max(float a, float b)
{
	float m = a > b ? a : b;
	return a != a ? a : m;
}

/* The row passes at stride 2 of one vector width. */
typedef struct RowOps {
	/* o[i] = the max of x[0][i] .. x[nx - 1][i] for i < n */
	void (*rows)(float *o, const float *const *x, int nx, int n);
	/* o[j] = max(r[2j], .., r[2j + k - 1]) for j < n, k = 2 or 3; reads r[0 .. 2n + 1] */
	void (*cols)(float *o, const float *r, int n, int k);
	/* 2x2: o[j] = the max of r0[2j], r0[2j + 1], r1[2j], r1[2j + 1] for j < n */
	void (*pool2)(float *o, const float *r0, const float *r1, int n);
} RowOps;

static inline void scalar_max(float *o, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		o[i] = nan_max(o[i], x[i]);
}

static inline void scalar_rows(float *o, const float *const *x, int nx, int n)
{
	for (int i = 0; i < n; i++) {
		float m = x[0][i];
		for (int y = 1; y < nx; y++)
			m = nan_max(m, x[y][i]);
		o[i] = m;
	}
}

static inline void scalar_cols(float *o, const float *r, int n, int k)
{
	for (int j = 0; j < n; j++) {
		float m = nan_max(r[2 * j], r[2 * j + 1]);
		o[j] = k == 3 ? nan_max(m, r[2 * j + 2]) : m;
	}
}

static inline void scalar_pool2(float *o, const float *r0, const float *r1, int n)
{
	for (int j = 0; j < n; j++)
		o[j] = nan_max(
		        nan_max(r0[2 * j], r0[2 * j + 1]), nan_max(r1[2 * j], r1[2 * j + 1]));
}

/* Defines ops##S, the row passes on vectors of W floats, in functions with attribute ATTR
 * (a target, or nothing): a row of n >= W floats in whole vectors, the last one overlapping
 * the one before where W does not divide n (it writes the same floats again: where the
 * rest went to narrower vectors and scalars, those took as long as the whole vectors on
 * ResNet-18's rows of 57 pools); a shorter row by TAIL##_max, _rows, _cols and _pool2. nan_max on
 * vectors: a where a > b or a is NaN, else b; the loads and stores unaligned (memcpy). */
#define ROW_OPS(S, ATTR, W, TAIL)                                                                  \
	typedef float Vec##S __attribute__((vector_size((W) * sizeof(float))));                    \
	typedef int Mask##S __attribute__((vector_size((W) * sizeof(float))));                     \
	ATTR static inline Vec##S vmax##S(Vec##S a, Vec##S b)                                      \
	{                                                                                          \
		Mask##S pick_a = (a > b) | (a != a);                                               \
		return (Vec##S)(((Mask##S)a & pick_a) | ((Mask##S)b & ~pick_a));                   \
	}                                                                                          \
	ATTR static inline Vec##S load##S(const float *p)                                          \
	{                                                                                          \
		Vec##S v;                                                                          \
		memcpy(&v, p, sizeof v);                                                           \
		return v;                                                                          \
	}                                                                                          \
	/* the even (odd: + 1) floats of a then b */                                               \
	ATTR static inline Vec##S half##S(Vec##S a, Vec##S b, int odd)                             \
	{                                                                                          \
		Mask##S idx;                                                                       \
		for (int i = 0; i < (W); i++)                                                      \
			idx[i] = 2 * i + odd;                                                      \
		return __builtin_shuffle(a, b, idx);                                               \
	}                                                                                          \
	ATTR static inline void max_into##S(float *o, const float *x, int n)                       \
	{                                                                                          \
		for (int i = 0; i < n; i += (W)) {                                                 \
			if (n < (W)) {                                                             \
				TAIL##_max(o, x, n);                                               \
				break;                                                             \
			}                                                                          \
			i = i + (W) > n ? n - (W) : i; /* the last overlaps the one before */      \
			Vec##S m = vmax##S(load##S(o + i), load##S(x + i));                        \
			memcpy(o + i, &m, sizeof m);                                               \
		}                                                                                  \
	}                                                                                          \
	ATTR static inline void rows##S(float *o, const float *const *x, int nx, int n)            \
	{                                                                                          \
		for (int i = 0; i < n; i += (W)) {                                                 \
			if (n < (W)) {                                                             \
				TAIL##_rows(o, x, nx, n);                                          \
				break;                                                             \
			}                                                                          \
			i = i + (W) > n ? n - (W) : i;                                             \
			Vec##S m = load##S(x[0] + i);                                              \
			for (int y = 1; y < nx; y++)                                               \
				m = vmax##S(m, load##S(x[y] + i));                                 \
			memcpy(o + i, &m, sizeof m);                                               \
		}                                                                                  \
	}                                                                                          \
	ATTR static inline void cols##S(float *o, const float *r, int n, int k)                    \
	{                                                                                          \
		for (int j = 0; j < n; j += (W)) {                                                 \
			if (n < (W)) {                                                             \
				TAIL##_cols(o, r, n, k);                                           \
				break;                                                             \
			}                                                                          \
			j = j + (W) > n ? n - (W) : j;                                             \
			const float *q = r + 2 * j;                                                \
			Vec##S a = load##S(q), b = load##S(q + (W));                               \
			Vec##S m = vmax##S(half##S(a, b, 0), half##S(a, b, 1));                    \
			if (k == 3) /* the next window's first column, every window's third */     \
				m = vmax##S(m, half##S(load##S(q + 2), load##S(q + 2 + (W)), 0));  \
			memcpy(o + j, &m, sizeof m);                                               \
		}                                                                                  \
	}                                                                                          \
	ATTR static inline void pool2##S(float *o, const float *r0, const float *r1, int n)        \
	{                                                                                          \
		for (int j = 0; j < n; j += (W)) {                                                 \
			if (n < (W)) {                                                             \
				TAIL##_pool2(o, r0, r1, n);                                        \
				break;                                                             \
			}                                                                          \
			j = j + (W) > n ? n - (W) : j;                                             \
			Vec##S a = vmax##S(load##S(r0 + 2 * j), load##S(r1 + 2 * j));              \
			Vec##S b = vmax##S(load##S(r0 + 2 * j + (W)), load##S(r1 + 2 * j + (W)));  \
			Vec##S m = vmax##S(half##S(a, b, 0), half##S(a, b, 1));                    \
			memcpy(o + j, &m, sizeof m);                                               \
		}                                                                                  \
	}                                                                                          \
	static const RowOps ops##S = {rows##S, cols##S, pool2##S};

/* 4 floats: SSE2, which every x86-64 has (GCC lowers them to scalars elsewhere); wider
 * vectors leave the rest of a row to these, so that a short row (P4CNN's 13 outputs) is
 * not left to the scalar loop. */
ROW_OPS(_base, , 4, scalar)
#if defined(__x86_64__) || defined(__i386__)
#define base_max   max_into_base
#define base_rows  rows_base
#define base_cols  cols_base
#define base_pool2 pool2_base
ROW_OPS(_avx2, __attribute__((target("avx2"))), 8, base)
#endif

/* 8 floats where the convolutions use AVX2 or AVX-512 (GEQRT_KERNEL=c holds the pools to
 * 4-float vectors too) and n >= 8, else 4. */
static const RowOps *row_ops(int n)
{
#if defined(__x86_64__) || defined(__i386__)
	const char *k = gq_conv_kernel();
	if ((!strcmp(k, "avx512") || !strcmp(k, "avx2")) && n >= 8)
		return &ops_avx2;
#endif
	return &ops_base;
}

/* Output columns per pass of pool_rows, and the row buffer's floats: a window's columns
 * for CHUNK outputs at the widest stride and window it takes, with a vector's tail. */
enum { CHUNK = 256, MAX_KS = 8 };
enum { ROWBUF = CHUNK * MAX_KS + MAX_KS + 16 };

/* Output row oy, columns [ox0, ox1): r holds the max over the window's rows of input
 * columns ox0*s - p .., -inf outside the plane (and one float past them, which cols' last
 * vector reads); then, for each window, the max over its k columns of r (acc: the max of k
 * shifted copies, at each window's first column). ops: NULL but at stride 2. */
static void pool_chunk(const RowOps *ops, float *o, const float *plane, int h, int w, int oy,
        int ox0, int ox1, int k, int s, int p, float *r, float *acc)
{
	int x0 = ox0 * s - p, n = (ox1 - 1 - ox0) * s + k; /* input columns [x0, x0 + n) */
	int lo = x0 < 0 ? -x0 : 0, hi = x0 + n > w ? w - x0 : n;
	int y0 = oy * s - p < 0 ? 0 : oy * s - p, y1 = oy * s - p + k < h ? oy * s - p + k : h;
	for (int i = 0; i < lo; i++)
		r[i] = -INFINITY;
	for (int i = hi; i <= n; i++)
		r[i] = -INFINITY;
	/* no window is padding only (p <= k/2): y0 < y1 and lo < hi. The window's rows in one
	 * pass: a copy of the first, then a max into it for each other row (each reading back
	 * the stores of the one before), took a fifth longer. */
	const float *rows[MAX_KS];
	for (int y = y0; y < y1; y++)
		rows[y - y0] = plane + (size_t)y * w + x0 + lo;
	(ops ? ops : &ops_base)->rows(r + lo, rows, y1 - y0, hi - lo);
	if (ops) {
		ops->cols(o + ox0, r, ox1 - ox0, k);
		return;
	}
	int m = (ox1 - 1 - ox0) * s + 1;
	memcpy(acc, r, (size_t)m * sizeof *acc);
	for (int kx = 1; kx < k; kx++)
		max_into_base(acc, r + kx, m);
	for (int ox = ox0; ox < ox1; ox++)
		o[ox] = acc[(ox - ox0) * s];
}

typedef struct Pool {
	float *out;
	const float *in;
	int n, h, w, k, s, p, oh, ow;
	const RowOps *ops; /* stride 2, windows of 2 or 3; else NULL */
} Pool;

/* Output rows [oy0, oy1) of planes [i0, i1). */
static void pool_rows(const Pool *j, int i0, int i1, int oy0, int oy1)
{
	float r[ROWBUF], acc[ROWBUF];
	for (int i = i0; i < i1; i++) {
		const float *plane = j->in + (size_t)i * j->h * j->w;
		float *o = j->out + ((size_t)i * j->oh + oy0) * j->ow;
		for (int oy = oy0; oy < oy1; oy++, o += j->ow) {
			const float *r0 = plane + (size_t)2 * oy * j->w;
			if (j->ops && j->k == 2 && j->p == 0) {
				j->ops->pool2(o, r0, r0 + j->w, j->ow);
				continue;
			}
			for (int ox0 = 0; ox0 < j->ow; ox0 += CHUNK)
				pool_chunk(j->ops, o, plane, j->h, j->w, oy, ox0,
				        ox0 + CHUNK < j->ow ? ox0 + CHUNK : j->ow, j->k, j->s, j->p,
				        r, acc);
		}
	}
}

/* Planes [n0, n1), in grains a thread done first takes over from the other (in fixed
 * halves, a thread that another process kept off its core held the other up). */
static void pool_planes(void *ctx, int n0, int n1, int t)
{
	pool_rows(ctx, n0, n1, 0, ((const Pool *)ctx)->oh);
}

/* The pool of n planes, or false for the shapes pool_rows does not handle. */
static bool pool_init(
        Pool *j, float *out, const float *in, int n, int h, int w, int k, int s, int p)
{
	/* torch's bounds (p <= k/2), so that no window is padding only */
	if (k < 1 || s < 1 || p < 0 || 2 * p > k || k > MAX_KS || s > MAX_KS || h + 2 * p < k ||
	        w + 2 * p < k)
		return false;
	*j = (Pool){
	        out, in, n, h, w, k, s, p, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1, NULL};
	if (s == 2 && (k == 2 || k == 3))
		j->ops = row_ops(j->ow);
	return true;
}

/* Floats read below which a pool stays on one thread (about 20 us of it): handing planes
 * to another core costs more than it saves. */
enum { PAR_FLOATS = 256 * 1024 };

bool gq_maxpool2d_fast(float *out, const float *in, int n, int h, int w, int k, int s, int p)
{
	Pool j;
	if (!pool_init(&j, out, in, n, h, w, k, s, p))
		return false;
	if ((double)n * h * w >= PAR_FLOATS)
		gq_parallel_for(n, 1, pool_planes, &j);
	else
		pool_planes(&j, 0, n, 0);
	return true;
}

bool gq_maxpool2d_rows(
        float *out, const float *in, int n, int h, int w, int k, int s, int p, int oy0, int oy1)
{
	Pool j;
	if (!pool_init(&j, out, in, n, h, w, k, s, p))
		return false;
	pool_rows(&j, 0, n, oy0, oy1);
	return true;
}
