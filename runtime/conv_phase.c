/* conv_phase.c: a stride-2 KxK convolution of few input channels (ResNet's 7x7 lift) as a
 * stride-1 4x4 convolution of its input's four phases, in Winograd F(3x3, 4x4).
 *
 * Output (y, x) of tap (ky, kx) = (2i + a, 2j + b) reads padded input (2(y + i) + a,
 * 2(x + j) + b): phase plane (a, b) at (y + i, x + j). Each phase channel cip = 4c + 2a + b
 * has a 4x4 kernel w[2i+a][2j+b] (zeros past K), and the output is their stride-1 sum.
 * Tiles of 3x3 outputs read 6x6 patches of the phase planes; the 36 products per tile and
 * phase channel replace 144 multiply-adds (ResNet-18's lift: 48 a pixel instead of 147).
 *
 * A band (a unit of work) is nty rows of tiles, its tiles numbered T = row*S + column with
 * S = tw + 1 (one dummy tile a row, so that a patch's columns 3..5, read from the next
 * tile's place, stay in its row), in vectors of VL tiles. For each phase channel the band's
 * patches are copied out of the input (split) in rows of stride 6 (column c3 of each tile,
 * c3 < 3), transformed (V), multiplied with the transformed filters (U) for PR output
 * channels and up to three vectors of tiles at a time (M), and each output channel's 36
 * points transformed back, interleaved into rows and copied to the output. */
#if !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE
#endif
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GQ_X86 1
#endif

#include "conv_phase.h"

enum { NPTS = 36 };                              /* 6x6 points */
enum { NG = 3 };                                 /* vectors of tiles a product call, at most */
enum { MAX_NTY = 4 };                            /* tile rows a band, at most */
enum { MAX_BANDS = 1024, MAX_POOL_ROWS = 2048 }; /* past these the pool runs after */
enum { LINE = 16 };                              /* floats a cache line */
enum { MAX_POOL_K = 8 };                         /* pool_own's windows, at most */

typedef struct Isa {
	const char *name;
	int vl, pr; /* floats a vector; output channels a product call */
	void (*gather6)(float *d, const float *s, int n);
	void (*in_tf)(const float *q, size_t ql, float *v, size_t vs);
	void (*prod)(
	        int ng, int kc, const float *u, const float *v, size_t lanes, float *m, size_t ld);
	void (*out_tf)(const float *m, size_t ms, float bias, bool relu, float *row, size_t rs);
} Isa;

struct gq_phase {
	int cin, h, w, cout, k, p, oh, ow;
	bool relu;
	int kc;        /* phase channels, 4*cin */
	int th, tw, S; /* tile rows, tiles a row, tiles a band's row (tw + 1) */
	int nty;       /* tile rows a band */
	int lanes, ql; /* a band's tiles rounded up to vectors; a split row's floats */
	int cop;       /* cout rounded up to pr */
	const Isa *isa;
	float *U;    /* [36][cop/pr][kc][pr] */
	float *bias; /* [cop] */
};

/* ---- the instruction sets ---- */

static inline float max0(float x)
{
	return x > 0 ? x : 0;
}

#ifdef GQ_X86
#define SUF         _avx512
#define TGT         __attribute__((target("avx512f,avx2,fma")))
#define VEC         __m512
#define VL          16
#define PR          8
#define PROWS(X)    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define ZERO        _mm512_setzero_ps
#define LOAD        _mm512_loadu_ps
#define STORE       _mm512_storeu_ps
#define BCAST(p)    _mm512_set1_ps(*(p))
#define FMA         _mm512_fmadd_ps
#define MAX0(x)     _mm512_max_ps(x, _mm512_setzero_ps())
#define INTERLEAVE3 interleave3_avx512
#define GATHER6(p)                                                                                 \
	_mm512_i32gather_ps(                                                                       \
	        _mm512_setr_epi32(0, 6, 12, 18, 24, 30, 36, 42, 48, 54, 60, 66, 72, 78, 84, 90),   \
	        p, 4)
/* lanes 16k..16k+15 of a0 b0 c0 a1 ...: a and b by one two-source permute, c's over them */
static inline TGT __attribute__((always_inline)) void interleave3_avx512(
        float *o, __m512 a, __m512 b, __m512 c)
{
	const __m512i ab0 = _mm512_setr_epi32(0, 16, 0, 1, 17, 1, 2, 18, 2, 3, 19, 3, 4, 20, 4, 5);
	const __m512i ab1 =
	        _mm512_setr_epi32(21, 5, 6, 22, 6, 7, 23, 7, 8, 24, 8, 9, 25, 9, 10, 26);
	const __m512i ab2 =
	        _mm512_setr_epi32(10, 11, 27, 11, 12, 28, 12, 13, 29, 13, 14, 30, 14, 15, 31, 15);
	const __m512i t0 = _mm512_setr_epi32(0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5);
	const __m512i t1 = _mm512_setr_epi32(5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10);
	const __m512i t2 =
	        _mm512_setr_epi32(10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15);
	_mm512_storeu_ps(
	        o, _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(a, ab0, b), 0x4924, t0, c));
	_mm512_storeu_ps(o + 16,
	        _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(a, ab1, b), 0x2492, t1, c));
	_mm512_storeu_ps(o + 32,
	        _mm512_mask_permutexvar_ps(_mm512_permutex2var_ps(a, ab2, b), 0x9249, t2, c));
}
#include "conv_phase_isa.h"

#define SUF         _avx2
#define TGT         __attribute__((target("avx2,fma")))
#define VEC         __m256
#define VL          8
#define PR          4
#define PROWS(X)    X(0) X(1) X(2) X(3)
#define ZERO        _mm256_setzero_ps
#define LOAD        _mm256_loadu_ps
#define STORE       _mm256_storeu_ps
#define BCAST       _mm256_broadcast_ss
#define FMA         _mm256_fmadd_ps
#define MAX0(x)     _mm256_max_ps(x, _mm256_setzero_ps())
#define INTERLEAVE3 interleave3_avx2
#define GATHER6(p)  _mm256_i32gather_ps(p, _mm256_setr_epi32(0, 6, 12, 18, 24, 30, 36, 42), 4)
/* each source permuted to its tile's lane, then the three blended by column */
static inline TGT __attribute__((always_inline)) void interleave3_avx2(
        float *o, __m256 a, __m256 b, __m256 c)
{
	const __m256i t0 = _mm256_setr_epi32(0, 0, 0, 1, 1, 1, 2, 2);
	const __m256i t1 = _mm256_setr_epi32(2, 3, 3, 3, 4, 4, 4, 5);
	const __m256i t2 = _mm256_setr_epi32(5, 5, 6, 6, 6, 7, 7, 7);
#define PERM(x, t) _mm256_permutevar8x32_ps(x, t)
	_mm256_storeu_ps(o, _mm256_blend_ps(_mm256_blend_ps(PERM(a, t0), PERM(b, t0), 0x92),
	                            PERM(c, t0), 0x24));
	_mm256_storeu_ps(o + 8, _mm256_blend_ps(_mm256_blend_ps(PERM(a, t1), PERM(b, t1), 0x24),
	                                PERM(c, t1), 0x49));
	_mm256_storeu_ps(o + 16, _mm256_blend_ps(_mm256_blend_ps(PERM(a, t2), PERM(b, t2), 0x49),
	                                 PERM(c, t2), 0x92));
#undef PERM
}
#include "conv_phase_isa.h"
#endif

/* the portable one: GCC vectors of 4 (any target's, or pairs of floats) */
typedef float Vc __attribute__((vector_size(4 * sizeof(float))));
static inline Vc load_c(const float *p)
{
	Vc v;
	memcpy(&v, p, sizeof v);
	return v;
}
static inline void store_c(float *p, Vc v)
{
	memcpy(p, &v, sizeof v);
}
static inline Vc bcast_c(const float *p)
{
	return (Vc){0} + *p;
}
static inline Vc max0_c(Vc x)
{
	for (int i = 0; i < 4; i++)
		x[i] = max0(x[i]);
	return x;
}
static inline void interleave3_c(float *o, Vc a, Vc b, Vc c)
{
	for (int t = 0; t < 4; t++) {
		o[3 * t] = a[t];
		o[3 * t + 1] = b[t];
		o[3 * t + 2] = c[t];
	}
}
#define SUF _c
#define TGT
#define VEC          Vc
#define VL           4
#define PR           4
#define PROWS(X)     X(0) X(1) X(2) X(3)
#define ZERO()       ((Vc){0})
#define LOAD         load_c
#define STORE        store_c
#define BCAST        bcast_c
#define FMA(a, b, c) ((a) * (b) + (c))
#define MAX0         max0_c
#define INTERLEAVE3  interleave3_c
#define GATHER6(p)   ((Vc){(p)[0], (p)[6], (p)[12], (p)[18]})
#include "conv_phase_isa.h"

static const Isa isas[] = {
#ifdef GQ_X86
        {"avx512", 16, 8, gather6_avx512, in_tf_avx512, prod_avx512, out_tf_avx512},
        {"avx2", 8, 4, gather6_avx2, in_tf_avx2, prod_avx2, out_tf_avx2},
#endif
        {"c", 4, 4, gather6_c, in_tf_c, prod_c, out_tf_c},
};

/* conv_fast.c's kernel's. */
static const Isa *current_isa(void)
{
	const char *name = gq_conv_kernel();
	for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
		if (!strcmp(isas[i].name, name))
			return &isas[i];
	return &isas[sizeof isas / sizeof isas[0] - 1];
}

/* ---- the plan ---- */

static int round_up(int n, int m)
{
	return (n + m - 1) / m * m;
}

static int min_int(int a, int b)
{
	return a < b ? a : b;
}

/* Floats of a thread's part: V, the split rows, M, three interleaved rows; from a line. */
static size_t part_floats(const gq_phase *f)
{
	int vl = f->isa->vl;
	return LINE + (size_t)NPTS * f->kc * f->lanes + (size_t)18 * f->ql +
	       (size_t)NPTS * f->isa->pr * NG * vl + (size_t)9 * NG * vl;
}

/* The geometry on isa with nty tile rows a band. */
static void plan_bands(gq_phase *f, int nty)
{
	f->nty = nty;
	f->lanes = round_up(nty * f->S, f->isa->vl);
	f->ql = f->lanes + f->isa->vl;
}

/* The shape's plan on the current kernel, without its bank; false if it does not apply.
 * A band's tile rows: those of 1..MAX_NTY whose vectors waste the fewest lanes (ResNet-18's
 * lift, 38 tiles a row and the dummy: 2 rows, 80 lanes for 78, on AVX-512; 1 row, 40, on
 * AVX2), fitting a worker's scratch. */
static bool plan(gq_phase *f, int cin, int h, int w, int cout, int k, int p, bool relu)
{
	if (cin < 1 || cin > 16 || cout < 1 || k < 5 || k > 8 || p < 0 || h + 2 * p < k ||
	        w + 2 * p < k)
		return false;
	*f = (gq_phase){.cin = cin, .h = h, .w = w, .cout = cout, .k = k, .p = p, .relu = relu};
	f->oh = (h + 2 * p - k) / 2 + 1;
	f->ow = (w + 2 * p - k) / 2 + 1;
	f->kc = 4 * cin;
	f->th = (f->oh + 2) / 3;
	f->tw = (f->ow + 2) / 3;
	f->S = f->tw + 1;
	f->isa = current_isa();
	f->cop = round_up(cout, f->isa->pr);
	int best = 0;
	double waste = 0;
	for (int n = 1; n <= MAX_NTY && n <= f->th; n++) {
		plan_bands(f, n);
		double x = (double)f->lanes / (n * f->S);
		if (part_floats(f) <= GQ_TEAM_SCRATCH && (!best || x < waste - 1e-9)) {
			best = n;
			waste = x;
		}
	}
	if (!best)
		return false;
	plan_bands(f, best);
	return true;
}

bool gq_phase_applies(int cin, int h, int w, int cout, int k, int s, int p, int d)
{
	gq_phase f;
	return s == 2 && d == 1 && plan(&f, cin, h, w, cout, k, p, false);
}

/* The products (lanes computed) and the transforms (four multiply-adds a value moved), 1.5
 * times: so counted, the plan took 1.5-1.6 times the narrow direct plan's time per counted
 * multiply-add on AVX-512 (one thread, 7x7 lifts from RGB with their pool: 64 channels at
 * 225x225 0.67x direct's time, 32 at 97x97 0.98x, 64 at 45x45 1.06x; AVX2 0.52x, 0.70x,
 * 0.76x; 5x5 at 113x113 1.03x, AVX2 0.97x). */
double gq_phase_cost(int cin, int h, int w, int cout, int k, int p)
{
	gq_phase f;
	if (!plan(&f, cin, h, w, cout, k, p, false))
		return -1;
	double tiles = (double)f.lanes * ((f.th + f.nty - 1) / f.nty);
	return 1.5 * tiles * NPTS * (f.cop * (double)f.kc + 4 * (f.kc + f.cop));
}

gq_phase *gq_phase_new(int cin, int h, int w, int cout, int k, int p, bool relu)
{
	gq_phase *f = calloc(1, sizeof *f);
	if (!f || !plan(f, cin, h, w, cout, k, p, relu)) {
		free(f);
		return NULL;
	}
	f->U = calloc((size_t)NPTS * f->cop * f->kc, sizeof *f->U);
	f->bias = calloc((size_t)f->cop, sizeof *f->bias);
	if (!f->U || !f->bias) {
		gq_phase_free(f);
		return NULL;
	}
	return f;
}

void gq_phase_free(gq_phase *f)
{
	if (!f)
		return;
	free(f->U);
	free(f->bias);
	free(f);
}

const float *gq_phase_bank(const gq_phase *f)
{
	return f->U;
}

size_t gq_phase_bytes(const gq_phase *f)
{
	return (size_t)NPTS * f->cop * f->kc * sizeof(float);
}

size_t gq_phase_scratch(const gq_phase *f)
{
	return part_floats(f);
}

/* G of F(3, 4): the points 0, 1, -1, 2, -2 (row p^j / prod_q (p - q)), infinity. */
static const double G[6][4] = {{0.25, 0, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
        {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3},
        {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3}, {0, 0, 0, 1}};

/* U = G g G^T for each output channel and phase channel, g its 4x4 phase kernel. */
void gq_phase_set(gq_phase *f, const float *w, size_t ld, const float *bias, size_t bstride)
{
	int k = f->k, pr = f->isa->pr, ncb = f->cop / pr;
	for (int co = 0; co < f->cout; co++) {
		f->bias[co] = bias ? bias[co * bstride] : 0.0f;
		for (int cip = 0; cip < f->kc; cip++) {
			int c = cip / 4, a = cip / 2 % 2, b = cip % 2;
			double g[4][4] = {{0}}, t[6][4];
			for (int i = 0; 2 * i + a < k; i++)
				for (int j = 0; 2 * j + b < k; j++)
					g[i][j] = w[co * ld + ((size_t)c * k + 2 * i + a) * k +
					            2 * j + b];
			for (int y = 0; y < 6; y++)
				for (int j = 0; j < 4; j++)
					t[y][j] = G[y][0] * g[0][j] + G[y][1] * g[1][j] +
					          G[y][2] * g[2][j] + G[y][3] * g[3][j];
			for (int y = 0; y < 6; y++)
				for (int x = 0; x < 6; x++) {
					double s = 0;
					for (int j = 0; j < 4; j++)
						s += t[y][j] * G[x][j];
					f->U[(((size_t)(y * 6 + x) * ncb + co / pr) * f->kc + cip) *
					                pr +
					        co % pr] = (float)s;
				}
		}
	}
}

/* ---- running it ---- */

typedef struct Run {
	const gq_phase *f;
	float *out;
	const float *in, *add;
	float *scratch; /* thread 0's */
	float *pooled;  /* or NULL */
	int pk, ps, pp, poh, pw;
	/* only the pool is read (gq_conv_run_pool_only): thread t writes each band's rows into
	 * a band buffer of its own, out + t*region, and pools them from there (pool_own) */
	bool own;
	size_t region;
	_Atomic int done[MAX_BANDS];
	atomic_bool claimed[MAX_POOL_ROWS]; /* own: a part of the pool row is in pooled */
	atomic_bool lock[MAX_POOL_ROWS];    /* own: a band is merging its part of the pool row */
} Run;

/* Where a band's output goes: channel co's row y at p + co*cs + (y - y0)*ow (the whole out,
 * or a thread's band buffer). */
typedef struct Dst {
	float *p;
	size_t cs;
	int y0;
} Dst;

static inline float *dst_at(const gq_phase *f, const Dst *d, int co, int y, int x)
{
	return d->p + co * d->cs + (size_t)(y - d->y0) * f->ow + x;
}

/* Phase channel cip's patches of the band from tile row ty0 (see the top): split row
 * (c3, u) holds, for tile T = row*S + tx, the input's pixel (6ty + 2u + a - p,
 * 6tx + 2c3 + b - p), zero outside it and past the band's tiles. */
static void split(const gq_phase *f, const float *x, int cip, int ty0, float *q)
{
	int c = cip / 4, a = cip / 2 % 2, b = cip % 2, S = f->S;
	const float *plane = x + (size_t)c * f->h * f->w;
	for (int c3 = 0; c3 < 3; c3++)
		for (int u = 0; u < 6; u++) {
			float *row = q + (size_t)(c3 * 6 + u) * f->ql;
			for (int r = 0; r < f->nty; r++) {
				float *d = row + r * S;
				int ty = ty0 + r, y = 6 * ty + 2 * u + a - f->p;
				if (ty >= f->th || y < 0 || y >= f->h) {
					memset(d, 0, (size_t)S * sizeof *d);
					continue;
				}
				/* tiles [lo, hi) read inside the row */
				int x0 = 2 * c3 + b - f->p, lo = x0 < 0 ? (5 - x0) / 6 : 0;
				int hi = x0 < f->w ? min_int((f->w - x0 + 5) / 6, S) : 0;
				const float *s = plane + (size_t)y * f->w;
				lo = min_int(lo, hi);
				for (int tx = 0; tx < lo; tx++)
					d[tx] = 0.0f;
				f->isa->gather6(d + lo, s + x0 + 6 * lo, hi - lo);
				for (int tx = hi; tx < S; tx++)
					d[tx] = 0.0f;
			}
			memset(row + f->nty * S, 0, (size_t)(f->ql - f->nty * S) * sizeof *row);
		}
}

/* Output channel co's rows of tiles [T0, T1) of the band from tile row ty0, interleaved at
 * rb (row i at rb + i*rs; tile T at 3*(T - T0)), into the output, adding the residual (and
 * then the relu) if there is one. */
static void emit(
        const Run *j, const Dst *d, int co, int ty0, int T0, int T1, const float *rb, size_t rs)
{
	const gq_phase *f = j->f;
	for (int r = T0 / f->S; r < f->nty && r * f->S < T1; r++) {
		int lo = T0 > r * f->S ? T0 : r * f->S, hi = min_int(T1, r * f->S + f->tw);
		int x0 = 3 * (lo - r * f->S), x1 = min_int(3 * (hi - r * f->S), f->ow);
		for (int i = 0; i < 3 && x0 < x1; i++) {
			int y = 3 * (ty0 + r) + i;
			if (y >= f->oh)
				break;
			size_t at = ((size_t)co * f->oh + y) * f->ow + x0;
			const float *s = rb + i * rs + 3 * (lo - T0);
			float *o = dst_at(f, d, co, y, x0);
			if (!j->add) {
				memcpy(o, s, (size_t)(x1 - x0) * sizeof *s);
				continue;
			}
			for (int x = 0; x < x1 - x0; x++) {
				float v = s[x] + j->add[at + x];
				o[x] = f->relu ? max0(v) : v;
			}
		}
	}
}

/* Output channel co's ng vectors of tiles from T0 of the band from tile row ty0 (their
 * products at m, point xi at m + xi*ms) transformed into the output: a vector of tiles
 * inside one row of tiles and of the output straight there, others through rb (emit). */
static void out_rows(const Run *j, const Dst *d, int co, int ty0, int T0, int ng, const float *m,
        size_t ms, float *rb)
{
	const gq_phase *f = j->f;
	const Isa *isa = f->isa;
	int vl = isa->vl, T1 = T0 + ng * vl;
	size_t rs = 3 * (size_t)NG * vl;
	bool relu = f->relu && !j->add;
	for (int T = T0; T < T1; T += vl, m += vl) {
		int r = T / f->S, x = 3 * (T - r * f->S), y = 3 * (ty0 + r);
		if (!j->add && r == (T + vl - 1) / f->S && x + 3 * vl <= f->ow && y + 3 <= f->oh) {
			isa->out_tf(
			        m, ms, f->bias[co], relu, dst_at(f, d, co, y, x), (size_t)f->ow);
			continue;
		}
		isa->out_tf(m, ms, f->bias[co], relu, rb, rs);
		emit(j, d, co, ty0, T, T + vl, rb, rs);
	}
}

/* The input rows that the band from tile row ty0 reads, fetched into the cache: a model's
 * input is in no cache, and the patches' strided reads (gather6) wait for each line. */
static void fetch_rows(const gq_phase *f, const float *x, int ty0)
{
	int y0 = 6 * ty0 - f->p, y1 = min_int(6 * (ty0 + f->nty) + 6 - f->p, f->h);
	for (int c = 0; c < f->cin; c++)
		for (int y = y0 < 0 ? 0 : y0; y < y1; y++)
			for (int i = 0; i < f->w; i += LINE)
				__builtin_prefetch(x + ((size_t)c * f->h + y) * f->w + i);
}

/* Output channels [c0, c1)'s rows of the band from tile row ty0, fetched into the cache
 * for writing while their products run: in a model the output (ResNet-18's 3.3 MB) is in no
 * cache when the lift writes it, and each line's read for ownership otherwise waits at
 * its first store. */
static void fetch_out(const Run *j, int ty0, int c0, int c1)
{
	const gq_phase *f = j->f;
	size_t y0 = 3 * (size_t)ty0, y1 = (size_t)min_int(3 * (ty0 + f->nty), f->oh);
	for (int co = c0; co < c1; co++) {
		float *row = j->out + (size_t)co * f->oh * f->ow;
		for (size_t i = y0 * f->ow; i < y1 * f->ow; i += LINE)
			__builtin_prefetch(row + i, 1, 3);
	}
}

/* The band from tile row ty0, every output channel, in part (a thread's scratch). */
static void band(const Run *j, const Dst *d, int ty0, float *part)
{
	const gq_phase *f = j->f;
	const Isa *isa = f->isa;
	int vl = isa->vl, pr = isa->pr, ncb = f->cop / pr, kc = f->kc;
	int used = min_int(f->nty, f->th - ty0) * f->S, nv = (used + vl - 1) / vl;
	size_t lanes = (size_t)f->lanes, ld = (size_t)NG * vl, ms = pr * ld;
	float *V = part, *Q = V + NPTS * kc * lanes, *M = Q + 18 * (size_t)f->ql;
	float *rb = M + NPTS * ms;
	fetch_rows(f, j->in, ty0 + f->nty); /* the next band's, while this one runs */
	for (int cip = 0; cip < kc; cip++) {
		split(f, j->in, cip, ty0, Q);
		for (int g = 0; g < nv; g++)
			isa->in_tf(Q + g * vl, (size_t)f->ql, V + cip * lanes + g * vl, kc * lanes);
	}
	for (int g0 = 0; g0 < nv; g0 += NG) {
		int ng = min_int(NG, nv - g0), T0 = g0 * vl;
		for (int cb = 0; cb < ncb; cb++) {
			if (g0 == 0 && !j->own)
				fetch_out(j, ty0, cb * pr, min_int((cb + 1) * pr, f->cout));
			for (int xi = 0; xi < NPTS; xi++)
				isa->prod(ng, kc, f->U + ((size_t)xi * ncb + cb) * kc * pr,
				        V + xi * kc * lanes + T0, lanes, M + xi * ms, ld);
			for (int r = 0; r < pr && cb * pr + r < f->cout; r++)
				out_rows(j, d, cb * pr + r, ty0, T0, ng, M + r * ld, ms, rb);
		}
	}
}

/* Band b is written: pools the pool's rows whose windows' rows are now all written and that
 * no thread has taken yet. */
static void pool_band(Run *j, int b)
{
	const gq_phase *f = j->f;
	int rows = 3 * f->nty, y0 = b * rows, y1 = min_int(y0 + rows, f->oh);
	atomic_store(&j->done[b], 1);
	int lo = y0 + j->pp - j->pk + 1, py = lo <= 0 ? 0 : (lo + j->ps - 1) / j->ps;
	int py1 = min_int(j->poh, (y1 - 1 + j->pp) / j->ps + 1);
	for (; py < py1; py++) {
		int w0 = py * j->ps - j->pp, w1 = min_int(w0 + j->pk, f->oh);
		bool ready = true;
		for (int c = (w0 < 0 ? 0 : w0) / rows; c <= (w1 - 1) / rows && ready; c++)
			ready = atomic_load(&j->done[c]);
		if (ready && !atomic_exchange(&j->claimed[py], true))
			gq_maxpool2d_rows(j->pooled, j->out, f->cout, f->oh, f->ow, j->pk, j->ps,
			        j->pp, py, py + 1);
	}
}

/* Band b's rows, at d (a thread's band buffer), pooled: a pool row whose window's rows in
 * the map are all the band's straight into pooled, one whose window other bands share by
 * parts (the max over the band's rows of the window), under the row's lock: the first part
 * written, the others' max taken with it. Max is exact in any order, so the pool's floats
 * are pool_band's. */
static void pool_own(Run *j, int b, const Dst *d)
{
	const gq_phase *f = j->f;
	int rows = 3 * f->nty, y0 = b * rows, y1 = min_int(y0 + rows, f->oh);
	int lo = y0 + j->pp - j->pk + 1, py = lo <= 0 ? 0 : (lo + j->ps - 1) / j->ps;
	int py1 = min_int(j->poh, (y1 - 1 + j->pp) / j->ps + 1);
	for (; py < py1; py++) {
		int w0 = py * j->ps - j->pp, w1 = min_int(w0 + j->pk, f->oh);
		w0 = w0 < 0 ? 0 : w0;
		int r0 = w0 > y0 ? w0 : y0, r1 = min_int(w1, y1);
		bool whole = r0 == w0 && r1 == w1, first = true;
		if (!whole) {
			for (int i = 0;
			        atomic_exchange_explicit(&j->lock[py], true, memory_order_acquire);
			        i++) {
				if (i % 1024 == 1023)
					sched_yield();
#ifdef GQ_X86
				_mm_pause();
#endif
			}
			first = !atomic_load_explicit(&j->claimed[py], memory_order_relaxed);
		}
		const float *r[MAX_POOL_K];
		for (int y = r0; y < r1; y++)
			r[y - r0] = dst_at(f, d, 0, y, 0);
		gq_maxpool2d_row(j->pooled + (size_t)py * j->pw, (size_t)j->poh * j->pw, r, d->cs,
		        r1 - r0, f->cout, f->ow, j->pk, j->ps, j->pp, !first);
		if (!whole) {
			atomic_store_explicit(&j->claimed[py], true, memory_order_relaxed);
			atomic_store_explicit(&j->lock[py], false, memory_order_release);
		}
	}
}

static void bands(void *ctx, int b0, int b1, int t)
{
	Run *j = ctx;
	const gq_phase *f = j->f;
	float *part = t ? gq_team_scratch(t) : j->scratch;
	part = (float *)(((uintptr_t)part + LINE * sizeof(float) - 1) &
	                 ~(uintptr_t)(LINE * sizeof(float) - 1));
	for (int b = b0; b < b1; b++) {
		int rows = 3 * f->nty;
		Dst d = j->own ? (Dst){j->out + t * j->region, (size_t)rows * f->ow, b * rows}
		               : (Dst){j->out, (size_t)f->oh * f->ow, 0};
		band(j, &d, b * f->nty, part);
		if (j->own)
			pool_own(j, b, &d);
		else if (j->pooled)
			pool_band(j, b);
	}
}

/* Multiply-adds below which a layer runs on its caller alone (conv_fast.c's PAR_COST
 * twice). */
enum { PHASE_PAR = 1800000 };

void gq_phase_run(const gq_phase *f, float *out, const float *in, const float *add, float *pooled,
        int k, int s, int p, bool only, float *scratch)
{
	int nb = (f->th + f->nty - 1) / f->nty;
	Run *j = &(Run){.f = f, .out = out, .in = in, .add = add, .scratch = scratch};
	bool fuse = pooled && nb <= MAX_BANDS &&
	            gq_maxpool2d_rows(pooled, out, 0, f->oh, f->ow, k, s, p, 0, 0) &&
	            (f->oh + 2 * p - k) / s + 1 <= MAX_POOL_ROWS;
	if (fuse) {
		j->pooled = pooled;
		j->pk = k;
		j->ps = s;
		j->pp = p;
		j->poh = (f->oh + 2 * p - k) / s + 1;
		j->pw = (f->ow + 2 * p - k) / s + 1;
		/* a band buffer a thread, inside out; the residual may be out itself */
		j->region = (size_t)round_up(f->cout * 3 * f->nty * f->ow, 512);
		j->own = only && !add && k <= MAX_POOL_K &&
		         (size_t)gq_threads() * j->region <= (size_t)f->cout * f->oh * f->ow;
	}
	double work = (double)nb * f->lanes * NPTS * f->cop * f->kc;
	if (work < PHASE_PAR)
		bands(j, 0, nb, 0);
	else
		gq_parallel_for(nb, 1, bands, j);
	if (pooled && !fuse)
		gq_maxpool2d(pooled, out, f->cout, f->oh, f->ow, k, s, p);
}
