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
 * shuffles and mask blends cost more there than they save). On this Intel Xeon (s22-big) the
 * rows' and columns' passes in 16-float vectors, with plain maxes and the NaN lanes kept in a
 * mask (no blend a max), took 0.79x the 8-float passes' time on that map (0.213 against 0.270
 * ms, one thread), and ResNet-18's lift with its fused pool 0.93-0.97x; so AVX-512 takes
 * them (GEQRT_POOL8=1: the 8-float ones). Other windows take the max of k shifted
 * copies of the row and keep every s-th. The generic loop of ops.c tested every tap against the
 * plane's bounds and branched on every comparison (random data mispredicts half of them): 5.7 ms of
 * ResNet-18's 32 ms went to its 3x3 pool. NaN propagates as in torch: a window holding one has NaN
 * as its max. Large pools split their planes over the team. */
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

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

/* 16 floats (AVX-512), for the rows and the columns at stride 2: plain vmaxps (x > y ? x :
 * y, y where either is NaN) and, beside it, a mask of the lanes that saw a NaN (a compare
 * unordered of each pair of operands), those lanes set to NaN at the end; shorter rows to
 * the 8-float ops. ResNet-18's pool (64 x 113 x 113, 3x3 stride 2, padding 1) on one
 * thread: see s22-big in docs/batch1.md. */
#define NAN512 _mm512_set1_ps(NAN)
__attribute__((target("avx512f"))) static void rows_avx512(
        float *o, const float *const *x, int nx, int n)
{
	if (n < 16) {
		rows_avx2(o, x, nx, n);
		return;
	}
	for (int i = 0; i < n; i += 16) {
		i = i + 16 > n ? n - 16 : i;
		__m512 m = _mm512_loadu_ps(x[0] + i);
		__mmask16 bad = 0;
		for (int y = 1; y < nx; y++) {
			__m512 v = _mm512_loadu_ps(x[y] + i);
			bad |= _mm512_cmp_ps_mask(m, v, _CMP_UNORD_Q);
			m = _mm512_max_ps(v, m);
		}
		if (nx == 1)
			bad = _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q);
		_mm512_storeu_ps(o + i, _mm512_mask_mov_ps(m, bad, NAN512));
	}
}

__attribute__((target("avx512f"))) static void cols_avx512(float *o, const float *r, int n, int k)
{
	if (n < 16) {
		cols_avx2(o, r, n, k);
		return;
	}
	const __m512i even =
	        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	for (int j = 0; j < n; j += 16) {
		j = j + 16 > n ? n - 16 : j;
		const float *q = r + 2 * j;
		__m512 a = _mm512_loadu_ps(q), b = _mm512_loadu_ps(q + 16);
		__m512 e = _mm512_permutex2var_ps(a, even, b),
		       f = _mm512_permutex2var_ps(a, odd, b);
		__mmask16 bad = _mm512_cmp_ps_mask(e, f, _CMP_UNORD_Q);
		__m512 m = _mm512_max_ps(f, e);
		if (k == 3) { /* the next window's first column, every window's third */
			__m512 g = _mm512_permutex2var_ps(
			        _mm512_loadu_ps(q + 2), even, _mm512_loadu_ps(q + 18));
			bad |= _mm512_cmp_ps_mask(g, g, _CMP_UNORD_Q);
			m = _mm512_max_ps(g, m);
		}
		_mm512_storeu_ps(o + j, _mm512_mask_mov_ps(m, bad, NAN512));
	}
}

static const RowOps ops_avx512 = {rows_avx512, cols_avx512, pool2_avx2};
#endif

/* 16 floats where the convolutions use AVX-512, 8 where AVX2 (GEQRT_KERNEL=c holds the
 * pools to 4-float vectors too), each where n is at least that, else 4. GEQRT_POOL8=1 keeps
 * AVX-512 to the 8-float ops (to compare). */
static const RowOps *row_ops(int n)
{
#if defined(__x86_64__) || defined(__i386__)
	const char *k = gq_conv_kernel();
	static _Atomic int pool8 = -1;
	int p8 = atomic_load_explicit(&pool8, memory_order_relaxed);
	if (p8 < 0) {
		const char *e = getenv("GEQRT_POOL8");
		p8 = e && *e == '1';
		atomic_store_explicit(&pool8, p8, memory_order_relaxed);
	}
	if (!strcmp(k, "avx512") && n >= 16 && !p8)
		return &ops_avx512;
	if ((!strcmp(k, "avx512") || !strcmp(k, "avx2")) && n >= 8)
		return &ops_avx2;
#endif
	return &ops_base;
}

/* Output columns per pass of pool_rows, and the row buffer's floats: a window's columns
 * for CHUNK outputs at the widest stride and window it takes, with a vector's tail. */
enum { CHUNK = 256, MAX_KS = 8 };
enum { ROWBUF = CHUNK * MAX_KS + MAX_KS + 16 };

/* Output columns [ox0, ox1) of the row whose window's rows inside the plane are rows[0 ..
 * nrows) (each from its column 0, w floats), at o (column ox0's): r holds the max over those
 * rows of input columns ox0*s - p .., -inf outside the plane (and one float past them, which
 * cols' last vector reads); then, for each window, the max over its k columns of r (acc:
 * the max of k shifted copies, at each window's first column). ops: NULL but at stride 2. */
static void pool_chunk(const RowOps *ops, float *o, const float *const *rows, int nrows, int w,
        int ox0, int ox1, int k, int s, int p, float *r, float *acc)
{
	int x0 = ox0 * s - p, n = (ox1 - 1 - ox0) * s + k; /* input columns [x0, x0 + n) */
	int lo = x0 < 0 ? -x0 : 0, hi = x0 + n > w ? w - x0 : n;
	for (int i = 0; i < lo; i++)
		r[i] = -INFINITY;
	for (int i = hi; i <= n; i++)
		r[i] = -INFINITY;
	/* no window is padding only (p <= k/2): nrows > 0 and lo < hi. The window's rows in
	 * one pass: a copy of the first, then a max into it for each other row (each reading
	 * back the stores of the one before), took a fifth longer. */
	const float *at[MAX_KS];
	for (int y = 0; y < nrows; y++)
		at[y] = rows[y] + x0 + lo;
	(ops ? ops : &ops_base)->rows(r + lo, at, nrows, hi - lo);
	if (ops) {
		ops->cols(o, r, ox1 - ox0, k);
		return;
	}
	int m = (ox1 - 1 - ox0) * s + 1;
	memcpy(acc, r, (size_t)m * sizeof *acc);
	for (int kx = 1; kx < k; kx++)
		max_into_base(acc, r + kx, m);
	for (int ox = ox0; ox < ox1; ox++)
		o[ox - ox0] = acc[(ox - ox0) * s];
}

/* Output row o (ow floats) from its window's rows inside the plane, in chunks; with merge,
 * the max of o and that row (through part, CHUNK floats). */
static void pool_row(const RowOps *ops, float *o, const float *const *rows, int nrows, int w,
        int ow, int k, int s, int p, float *r, float *acc, float *part)
{
	if (!part && ops && k == 2 && p == 0 && nrows == 2) {
		ops->pool2(o, rows[0], rows[1], ow);
		return;
	}
	for (int ox0 = 0; ox0 < ow; ox0 += CHUNK) {
		int ox1 = ox0 + CHUNK < ow ? ox0 + CHUNK : ow;
		pool_chunk(ops, part ? part : o + ox0, rows, nrows, w, ox0, ox1, k, s, p, r, acc);
		if (part)
			max_into_base(o + ox0, part, ox1 - ox0);
	}
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
			int y0 = oy * j->s - j->p < 0 ? 0 : oy * j->s - j->p;
			int y1 = oy * j->s - j->p + j->k < j->h ? oy * j->s - j->p + j->k : j->h;
			const float *rows[MAX_KS];
			for (int y = y0; y < y1; y++)
				rows[y - y0] = plane + (size_t)y * j->w;
			pool_row(j->ops, o, rows, y1 - y0, j->w, j->ow, j->k, j->s, j->p, r, acc,
			        NULL);
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

bool gq_maxpool2d_row(float *o, size_t os, const float *const *rows, size_t rs, int nrows, int n,
        int w, int k, int s, int p, bool merge)
{
	Pool j;
	if (nrows < 1 || nrows > k || !pool_init(&j, o, rows[0], 1, k, w, k, s, p))
		return false;
	float r[ROWBUF], acc[ROWBUF], part[CHUNK];
	for (int c = 0; c < n; c++) {
		const float *at[MAX_KS];
		for (int y = 0; y < nrows; y++)
			at[y] = rows[y] + c * rs;
		pool_row(j.ops, o + c * os, at, nrows, w, j.ow, k, s, p, r, acc,
		        merge ? part : NULL);
	}
	return true;
}
