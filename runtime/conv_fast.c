/* conv_fast.c: convolution as a register-blocked matrix product,
 * out[co, p] = bias[co] + sum_kk A[co, kk] B[kk, p], kk = (ci, ky, kx), p = an output pixel.
 * A (the filters) is packed once, at load, into panels of mr = 6 output channels (8 on
 * AVX-512 where the channels come in eights: wide_mr). A micro-kernel keeps an mr x 2V tile
 * of out in registers (V floats a vector: AVX-512, AVX2+FMA or portable C, picked at run
 * time; gemm1, mr x V, for a last panel half empty),
 * runs down a block of K, and on the last block adds the bias (the folded bn) and applies
 * the relu before its one store.
 *
 * Three algorithms, chosen per layer at plan time by their cost in multiply-adds:
 * - direct: no im2col. The input is copied once into a zero-padded buffer (split into
 *   s x s phase planes at stride s), and the tile's two vectors are two runs of V
 *   consecutive output pixels of an output row, so B's row (ci, ky, kx) for a run is V
 *   consecutive floats of that buffer, loaded in place. A one-pixel output (a last
 *   layer over the whole map) runs as dot products (dot_panels).
 * - packed (any stride): im2col straight into panels of 2V pixels, KC rows at a time.
 * - Winograd F(m x m, 3 x 3), m = 2 or 4 (3x3, stride 1): the input in (m+2)^2 tiles
 *   transformed (B^T d B), one product per transformed position (the same micro-kernel, K =
 *   cin), then A^T M A + bias and relu per m x m output tile: 36 multiplies instead of 144
 *   per 4x4 tile (16 instead of 36 per 2x2), the transforms vectorised across tiles (16 at
 *   a time on AVX-512, 8 on AVX2 and in portable C, every form both ways). Their
 *   stride-2 forms (in_1ds2, in_1d4s2) take 25 instead of 36 per 2x2 tile and 81 instead of
 *   144 per 4x4. Where the map has several panels of tiles, each block of work transforms
 *   its own panel's input and runs its products while that is in L2 (plan_fused). Where it
 *   has few tiles (small maps), the products run on a narrow kernel, output channels in the
 *   vectors and up to 14 tiles broadcast (AVX2: 6), the bank packed in panels of 2V
 *   channels for it (plan_narrow).
 * All block K so that what a tile reads stays in L1 while the panels of A stream from L2,
 * as BLIS blocks a GEMM. Large layers split their work over the team (par.c). F(6x6)
 * (GQ_CONV_WINO6) runs only where a caller asks for it (docs/batch1.md, s12-f6). */
#if !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* posix_memalign, madvise */
#endif
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GQ_X86 1
#endif

#include "conv_orbit.h"
#include "conv_phase.h"

enum { MR = 6 };         /* output channels per wide tile */
enum { MR8 = 8 };        /* per AVX-512's taller wide tile (wide_mr) */
enum { VMAX = 16 };      /* floats per vector, widest kernel */
enum { KC = 256 };       /* rows of K per block */
enum { NC = 384 };       /* pixels per packed block (a multiple of every 2V) */
enum { MC_PANELS = 16 }; /* panels of A swept per tile of B: 96 x KC floats in L2 */
/* Below this cost per parallel phase (multiply-adds or their equivalent, about 25 us) a
 * layer runs on one thread: a helper that must first fetch the layer's input and filters
 * into its own caches gains less than the split costs. Winograd layers hand off twice (the
 * padded input, then the products), im2col once. Measured at batch 1 (`--bench`,
 * alternating runs of the executables): splitting P4CNN's 26x26 Winograd layer (cost
 * 3.5e6) gave 17% more images/s, its 12x12 one (1.0e6) no more and far more variance;
 * splitting the wide model's im2col lift (1.0e6) 4% more. Direct layers split at PAR_COST
 * too (once, as im2col): the wide model's lift, direct now (1 -> 128 planes at 29x29, cost
 * 1.07e6), took 0.066-0.077 ms on thread 0 alone and 0.043-0.052 split (AVX-512, two
 * threads, near; s26-wide in docs/batch1.md); no other direct layer of the bench models
 * costs between PAR_COST and twice it. */
enum { PAR_COST = 900000 };

_Static_assert(GQ_TEAM_SCRATCH >= KC * NC + 2 * MR8 * VMAX, "team scratch too small");

/* The epilogue: start from the bias; clamp at 0; add the residual s0/s1 (with FIRST). */
enum { FIRST = 1, RELU = 2, SUM = 4 };

/* The tile's two halves: V pixels each, stored at c0 and c1 (channel i at + i*ldc); with
 * SUM, the residual added to them is at s0 and s1, laid out as c0 and c1 (it may be they:
 * each float is read before it is written). */
typedef struct Out {
	float *c0, *c1;
	size_t ld0, ld1;
	const float *s0, *s1;
} Out;

/* Packed: b holds kc rows of 2V floats. */
typedef void gemm_fn(int kc, const float *a, const float *b, Out o, const float *bias, int flags);
/* As gemm_fn, B's two halves read where they lie (the group plan's transformed input): row
 * i*ng + s of half h at g_h + i*ldg + off_h[s] (kc a multiple of ng). */
typedef void ggemm_fn(int kc, const float *a, const float *g0, const float *g1, const int *off0,
        const int *off1, int ng, size_t ldg, Out o, const float *bias, int flags);
/* Direct: B row (ci, tap) of half h is x_h[ci*plane + tapoff[tap]]. */
typedef struct Src {
	const float *x0, *x1;
	size_t plane;
	const int *tapoff;
	int nci, ntap;
} Src;
typedef void direct_fn(const float *a, Src s, Out o, const float *bias, int flags);
/* Narrow: acc[r][j] = sum over k < kc of b[k*ldb + r] a[k*2V + j], for the rows r < R of the
 * function's entry R - 1 and 2V output channels j (a: kc rows of 2V), stored row by row;
 * meanwhile the x86 kernels fetch into L2 a line (16 floats) at pa and at pb per row of K,
 * the next product's filters and input. */
typedef void narrow_fn(int kc, const float *a, const float *b, size_t ldb, float *acc,
        const float *pa, const float *pb);
/* Its results into C transposed: channel j's rows at C + j*ldc, for j < nco; with add (not
 * NULL), plus add's rows (laid out as C's; it may be C), then max(0, .) with relu. */
typedef void narrow_out_fn(
        float *C, size_t ldc, const float *acc, int rows, int nco, const float *add, bool relu);
/* Narrow on a group plan's transformed input (wino_group_narrow): as narrow_fn, b's row k
 * (k = i*ng + s) at b + i*ldg + off[s], an element's input slots permuted in place of a
 * gathered copy; kc a multiple of ng. */
typedef void gnarrow_fn(int kc, const float *a, const float *b, const int *off, int ng, size_t ldg,
        float *acc, const float *pa);
/* As gnarrow_fn on the tiles of two elements (wino_group_packed): rows r < r1 (the
 * function's) from b1 by off1, rows r1 + r from b2 + r by off2. */
typedef void gnarrow2_fn(int kc, const float *a, const float *b1, const float *b2, const int *off1,
        const int *off2, int ng, size_t ldg, float *acc, const float *pa);
/* As narrow_out_fn without add, rows r < split to C1 + r, the others to C2 + r - split. */
typedef void narrow_out2_fn(
        float *C1, float *C2, size_t ldc, const float *acc, int rows, int split, int nco);
enum { NROWS = 14 };   /* rows of the widest narrow kernel (AVX-512's) */
enum { NROWS_C = 12 }; /* rows of the portable C one's */
/* Narrow direct: acc[r][j] = bias[j] + sum over (ci, tap) of x[ci*plane + tapoff[tap] + r]
 * a[(ci*ntap + tap)*2V + j] (x: s.x0), then max(0, .) with relu, for the R rows (output
 * pixels) of the function's entry R - 1 and 2V output channels j, stored row by row. */
typedef void dnarrow_fn(const float *a, Src s, const float *bias, bool relu, float *acc);

typedef struct Input Input; /* what a Winograd input transform reads */

/* A wide kernel: tiles of mr output channels (panels of A) by 2V pixels. */
typedef struct Wide {
	int mr; /* 0: none */
	gemm_fn *gemm;
	gemm_fn *gemm1; /* as gemm, the first half only (b still 2V floats a row) */
	direct_fn *direct;
	ggemm_fn *ggemm;
} Wide;

typedef struct Kernel {
	const char *name;
	int v;                    /* floats a vector */
	Wide wide[2];             /* MR rows; MR8 rows (AVX-512 only) */
	narrow_fn *const *narrow; /* narrow[R - 1] for R rows, R <= nrows */
	int nrows;
	narrow_out_fn *narrow_out;
	dnarrow_fn *const *dnarrow; /* dnarrow[R - 1] for R rows, R <= nrows */
	gnarrow_fn *const *gnarrow; /* gnarrow[R - 1] for R rows, R <= nrows */
	/* Winograd's input and output transforms */
	void (*wino_in)(const gq_conv *c, float *V, size_t vstride, const Input *x, int ci0,
	        int ci1, int t0, int t1);
	void (*wino_out)(const gq_conv *c, float *out, const float *add, const float *Mb,
	        size_t mstride, size_t cols, int co0, int co1, int t0, int t1);
	bool (*available)(void);
} Kernel;

struct gq_conv {
	int cin, h, w, cout, k, s, p, d, oh, ow;
	int algo; /* GQ_CONV_DIRECT, ... */
	int kdim, mpanels;
	int mr;         /* output channels a panel: MR or MR8 (wide), or the narrow kernels' 2V */
	const Wide *wk; /* the wide kernel of mr rows */
	int cib;        /* input channels per K block: kc = cib*k*k (Winograd: kc = cib) */
	bool relu;
	int hp, wq;      /* direct and Winograd: the padded input plane, hp x wq */
	int runs, tiles; /* direct: runs of V output pixels, and tiles of two runs;
	                  * Winograd: m x m output tiles */
	int m, alpha;    /* Winograd: F(m x m, 3 x 3), alpha = m + 2 */
	int tw, tpanels; /* Winograd: tiles per row, panels of 2V tiles */
	int *tapoff;     /* direct: where tap ky*k + kx reads, from a run's first input */
	int cop, tcp;    /* Winograd: co panels and tile panels per output block */
	bool fused;      /* Winograd: each output block transforms its own tiles' input */
	bool narrow;     /* Winograd: products by the narrow kernel (few tiles); direct: output
	                  * channels in the vectors, runs of up to nrows pixels broadcast */
	const Kernel *kern;
	float *a;         /* [alpha^2 or 1][K blocks][mpanels][kc][mr] */
	float *bias;      /* [mpanels * mr], zero-padded */
	gq_orbit *orbit;  /* not NULL: the plan runs this instead (conv_orbit.c) */
	gq_wgroup *grp;   /* not NULL: F(2x2), F(4x4) or F(6x6) on its bank (wino_group.c) */
	bool by_elements; /* group plan: its threads split the elements, not the base channels */
	bool paired;      /* narrow group plan: an element and its partner in each vector */
	bool mixed;       /* narrow group plan: each call's rows the tiles of several elements */
	bool packed;      /* narrow group plan: calls on the tiles of two elements in place */
	bool by_tiles;    /* narrow group plan on two threads: each all the elements of a range
	                   * of tiles (group_by_tiles) */
	bool steals;      /* group plan on two threads: a thread done with its points takes the
	                   * other's last ones (group_steals) */
	bool own_part;    /* group plan on two threads: thread 1's part of scratch in its own
	                   * buffer (group_own) */
	bool no_dup;      /* GEQRT_DUP, read when the plan is made, turns dup_pays off here */
	bool no_halves;   /* GEQRT_HALVES=0 when the plan was made: two_copies never */
	gq_conv *full;    /* or NULL: a group plan's expanded plan, where one thread runs it */
	gq_phase *phase;  /* not NULL: the plan runs this instead (conv_phase.c) */
	/* Winograd's output (0, 0, 0: ow and oh*ow floats a row and a plane, no border): in
	 * gq_conv_run_pair, a copy of its first conv stores into the second's padded copy, its
	 * rows ldo floats apart and its planes plo, each plane inside a zero border of opad
	 * floats, rows and columns, which the stores' blocks write too (out_border) */
	int ldo, opad;
	size_t plo;
};

static const float zeros[MR8];

static int min_int(int a, int b)
{
	return a < b ? a : b;
}

/* Where the Winograd output transforms store row y of channel co: out + co*out_plane +
 * y*out_ld (the residual add, laid out as out; a pair's first conv has none). */
static inline ptrdiff_t out_ld(const gq_conv *c)
{
	return c->ldo ? c->ldo : c->ow;
}

static inline size_t out_plane(const gq_conv *c)
{
	return c->plo ? c->plo : (size_t)c->oh * c->ow;
}

static int round_up(int n, int m)
{
	return (n + m - 1) / m * m;
}

enum { HUGE_PAGE = 2 << 20 };
enum { LINE_FLOATS = 16 }; /* a 64-byte cache line */

/* At batch 1 each image reads every layer's packed filters whole, from memory (the wide
 * model's are 40 MB), and on 4 KiB pages that stream misses the TLB every 4 KiB. Banks of a
 * megabyte or more go on 2 MiB pages where the system gives them for the asking (Linux's
 * transparent huge pages in "madvise" mode): 5-9% less time per image on the wide model,
 * measured. Zeroed, as calloc; released with free. */
static float *alloc_filters(size_t floats)
{
	size_t bytes = floats * sizeof(float);
	if (floats > SIZE_MAX / sizeof(float) || bytes < HUGE_PAGE / 2)
		return calloc(floats, sizeof(float));
	size_t n = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	void *p;
	if (n < bytes || posix_memalign(&p, HUGE_PAGE, n))
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, n, MADV_HUGEPAGE); /* only a hint: 4 KiB pages if it fails */
#endif
	return memset(p, 0, n);
}

void gq_release(void *p, size_t bytes)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p;
	uintptr_t lo = (a + page - 1) / page * page, hi = (a + bytes) / page * page;
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED); /* only a hint: kept if it fails */
}

/* ---- micro-kernels ---- */

/* The epilogue of one output row of V floats (s: the residual's row, read with SUM). */
static void store_c(float *c, const float *acc, int v, float bias, const float *s, int flags)
{
	for (int j = 0; j < v; j++) {
		float x = acc[j] + (flags & FIRST ? bias : c[j]);
		x += flags & SUM ? s[j] : 0.0f;
		c[j] = flags & RELU ? (x > 0.0f ? x : 0.0f) : x;
	}
}

/* The portable kernel's "vector": as wide as AVX-512's, so that the tests run the layout
 * code of 16-float vectors on any machine. */
enum { VC = 16 };

static void gemm_c(int kc, const float *a, const float *b, Out o, const float *bias, int flags)
{
	float acc[MR][2 * VC] = {{0}};
	for (int k = 0; k < kc; k++, a += MR, b += 2 * VC)
		for (int i = 0; i < MR; i++)
			for (int j = 0; j < 2 * VC; j++)
				acc[i][j] += a[i] * b[j];
	for (int i = 0; i < MR; i++) {
		store_c(o.c0 + i * o.ld0, acc[i], VC, bias[i], o.s0 + i * o.ld0, flags);
		store_c(o.c1 + i * o.ld1, acc[i] + VC, VC, bias[i], o.s1 + i * o.ld1, flags);
	}
}

static void gemm1_c(int kc, const float *a, const float *b, Out o, const float *bias, int flags)
{
	float acc[MR][VC] = {{0}};
	for (int k = 0; k < kc; k++, a += MR, b += 2 * VC)
		for (int i = 0; i < MR; i++)
			for (int j = 0; j < VC; j++)
				acc[i][j] += a[i] * b[j];
	for (int i = 0; i < MR; i++)
		store_c(o.c0 + i * o.ld0, acc[i], VC, bias[i], o.s0 + i * o.ld0, flags);
}

static void ggemm_c(int kc, const float *a, const float *g0, const float *g1, const int *off0,
        const int *off1, int ng, size_t ldg, Out o, const float *bias, int flags)
{
	float acc[MR][2 * VC] = {{0}};
	for (int k = 0; k < kc; k += ng, g0 += ldg, g1 += ldg)
		for (int s = 0; s < ng; s++, a += MR)
			for (int i = 0; i < MR; i++)
				for (int j = 0; j < VC; j++) {
					acc[i][j] += a[i] * g0[off0[s] + j];
					acc[i][VC + j] += a[i] * g1[off1[s] + j];
				}
	for (int i = 0; i < MR; i++) {
		store_c(o.c0 + i * o.ld0, acc[i], VC, bias[i], o.s0 + i * o.ld0, flags);
		store_c(o.c1 + i * o.ld1, acc[i] + VC, VC, bias[i], o.s1 + i * o.ld1, flags);
	}
}

static void direct_c(const float *a, Src s, Out o, const float *bias, int flags)
{
	float acc[MR][2 * VC] = {{0}};
	for (int ci = 0; ci < s.nci; ci++)
		for (int tap = 0; tap < s.ntap; tap++, a += MR) {
			size_t off = ci * s.plane + (size_t)s.tapoff[tap];
			for (int i = 0; i < MR; i++)
				for (int j = 0; j < VC; j++) {
					acc[i][j] += a[i] * s.x0[off + j];
					acc[i][VC + j] += a[i] * s.x1[off + j];
				}
		}
	for (int i = 0; i < MR; i++) {
		store_c(o.c0 + i * o.ld0, acc[i], VC, bias[i], o.s0 + i * o.ld0, flags);
		store_c(o.c1 + i * o.ld1, acc[i] + VC, VC, bias[i], o.s1 + i * o.ld1, flags);
	}
}

/* Any rows up to NROWS_C, 2 VC channels; the caller passes R as its entry's. */
static void narrow_rows_c(int kc, const float *a, const float *b, size_t ldb, float *acc, int R)
{
	float s[NROWS_C][2 * VC] = {{0}};
	for (int k = 0; k < kc; k++, a += 2 * VC, b += ldb)
		for (int r = 0; r < R; r++)
			for (int j = 0; j < 2 * VC; j++)
				s[r][j] += b[r] * a[j];
	memcpy(acc, s, (size_t)R * sizeof s[0]);
}

#define NARROW_C(R)                                                                                \
	static void narrow_c##R(int kc, const float *a, const float *b, size_t ldb, float *acc,    \
	        const float *pa, const float *pb)                                                  \
	{                                                                                          \
		narrow_rows_c(kc, a, b, ldb, acc, R);                                              \
	}
NARROW_C(1)
NARROW_C(2)
NARROW_C(3)
NARROW_C(4)
NARROW_C(5)
NARROW_C(6)
NARROW_C(7)
NARROW_C(8)
NARROW_C(9)
NARROW_C(10)
NARROW_C(11)
NARROW_C(12)
static void dnarrow_rows_c(const float *a, Src s, const float *bias, bool relu, float *acc, int R)
{
	float t[NROWS_C][2 * VC];
	for (int r = 0; r < R; r++)
		memcpy(t[r], bias, sizeof t[r]);
	for (int ci = 0; ci < s.nci; ci++)
		for (int tap = 0; tap < s.ntap; tap++, a += 2 * VC) {
			const float *x = s.x0 + ci * s.plane + s.tapoff[tap];
			for (int r = 0; r < R; r++)
				for (int j = 0; j < 2 * VC; j++)
					t[r][j] += x[r] * a[j];
		}
	for (int r = 0; r < R; r++)
		for (int j = 0; j < 2 * VC; j++)
			acc[r * 2 * VC + j] = relu && !(t[r][j] > 0.0f) ? 0.0f : t[r][j];
}

#define DNARROW_C(R)                                                                               \
	static void dnarrow_c##R(const float *a, Src s, const float *bias, bool relu, float *acc)  \
	{                                                                                          \
		dnarrow_rows_c(a, s, bias, relu, acc, R);                                          \
	}
DNARROW_C(1)
DNARROW_C(2)
DNARROW_C(3)
DNARROW_C(4)
DNARROW_C(5)
DNARROW_C(6)
DNARROW_C(7)
DNARROW_C(8)
DNARROW_C(9)
DNARROW_C(10)
DNARROW_C(11)
DNARROW_C(12)
static dnarrow_fn *const dnarrow_c[] = {dnarrow_c1, dnarrow_c2, dnarrow_c3, dnarrow_c4, dnarrow_c5,
        dnarrow_c6, dnarrow_c7, dnarrow_c8, dnarrow_c9, dnarrow_c10, dnarrow_c11, dnarrow_c12};

static void narrow_out_c(
        float *C, size_t ldc, const float *acc, int rows, int nco, const float *add, bool relu)
{
	for (int j = 0; j < nco; j++)
		for (int r = 0; r < rows; r++) {
			float x = acc[r * 2 * VC + j];
			if (add) {
				x += add[j * ldc + r];
				x = relu && !(x > 0.0f) ? 0.0f : x;
			}
			C[j * ldc + r] = x;
		}
}

static narrow_fn *const narrow_c[] = {narrow_c1, narrow_c2, narrow_c3, narrow_c4, narrow_c5,
        narrow_c6, narrow_c7, narrow_c8, narrow_c9, narrow_c10, narrow_c11, narrow_c12};

static void gnarrow_rows_c(int kc, const float *a, const float *bg, const int *off, int ng,
        size_t ldg, float *acc, int R)
{
	float s[NROWS_C][2 * VC] = {{0}};
	for (int k = 0; k < kc; k += ng, bg += ldg)
		for (int i = 0; i < ng; i++, a += 2 * VC)
			for (int r = 0; r < R; r++)
				for (int j = 0; j < 2 * VC; j++)
					s[r][j] += bg[off[i] + r] * a[j];
	memcpy(acc, s, (size_t)R * sizeof s[0]);
}

#define GNARROW_C(R)                                                                               \
	static void gnarrow_c##R(int kc, const float *a, const float *b, const int *off, int ng,   \
	        size_t ldg, float *acc, const float *pa)                                           \
	{                                                                                          \
		gnarrow_rows_c(kc, a, b, off, ng, ldg, acc, R);                                    \
	}
GNARROW_C(1)
GNARROW_C(2)
GNARROW_C(3)
GNARROW_C(4)
GNARROW_C(5)
GNARROW_C(6)
GNARROW_C(7)
GNARROW_C(8)
GNARROW_C(9)
GNARROW_C(10)
GNARROW_C(11)
GNARROW_C(12)
static gnarrow_fn *const gnarrow_c[] = {gnarrow_c1, gnarrow_c2, gnarrow_c3, gnarrow_c4, gnarrow_c5,
        gnarrow_c6, gnarrow_c7, gnarrow_c8, gnarrow_c9, gnarrow_c10, gnarrow_c11, gnarrow_c12};

static void gnarrow2_rows_c(int kc, const float *a, const float *b1, const float *b2,
        const int *off1, const int *off2, int ng, size_t ldg, float *acc, int R, int R1)
{
	float s[NROWS_C][2 * VC] = {{0}};
	for (int k = 0; k < kc; k += ng, b1 += ldg, b2 += ldg)
		for (int i = 0; i < ng; i++, a += 2 * VC)
			for (int r = 0; r < R; r++)
				for (int j = 0; j < 2 * VC; j++)
					s[r][j] +=
					        (r < R1 ? b1[off1[i] + r] : b2[off2[i] + r - R1]) *
					        a[j];
	memcpy(acc, s, (size_t)R * sizeof s[0]);
}

#define GNARROW2_C(R, R1)                                                                          \
	static void gnarrow2_c##R##_##R1(int kc, const float *a, const float *b1, const float *b2, \
	        const int *off1, const int *off2, int ng, size_t ldg, float *acc, const float *pa) \
	{                                                                                          \
		gnarrow2_rows_c(kc, a, b1, b2, off1, off2, ng, ldg, acc, R, R1);                   \
	}
GNARROW2_C(12, 3)
GNARROW2_C(12, 6)
GNARROW2_C(12, 9)

static void narrow_out2_c(
        float *C1, float *C2, size_t ldc, const float *acc, int rows, int split, int nco)
{
	narrow_out_c(C1, ldc, acc, split, nco, NULL, false);
	narrow_out_c(C2, ldc, acc + split * 2 * VC, rows - split, nco, NULL, false);
}

static bool always(void)
{
	return true;
}

#ifdef GQ_X86
/* Accumulators c<row><half> for the R rows of a wide tile (NR<R>: 6, or 8 on AVX-512).
 * Each ISA defines V (its vector type), VW (floats in it), BCAST, FMA, LOADU, STOREU, ADD,
 * MAX, ZERO, then expands KERNELS(gemm_name, gemm1_name, direct_name, R, target). */
#define DECL(i) V c##i##0 = ZERO(), c##i##1 = ZERO();
#define STEP(i)                                                                                    \
	{                                                                                          \
		V ai = BCAST(a + i);                                                               \
		c##i##0 = FMA(ai, b0, c##i##0);                                                    \
		c##i##1 = FMA(ai, b1, c##i##1);                                                    \
	}
#define STORE_HALF(c, s, acc, i)                                                                   \
	{                                                                                          \
		V t = flags & FIRST ? BCAST(bias + i) : LOADU(c);                                  \
		t = ADD(t, acc);                                                                   \
		t = flags & SUM ? ADD(t, LOADU(s)) : t;                                            \
		STOREU(c, (flags & RELU) ? MAX(t, ZERO()) : t);                                    \
	}
#define STORE(i)                                                                                   \
	STORE_HALF(o.c0 + i * o.ld0, o.s0 + i * o.ld0, c##i##0, i)                                 \
	STORE_HALF(o.c1 + i * o.ld1, o.s1 + i * o.ld1, c##i##1, i)
/* The narrow kernels: R rows of two vectors (2 R accumulators; AVX-512's 14 rows take 28 of
 * its 32 registers, AVX2's 6 rows 12 of 16), a[k] loaded, b[k*ldb + r] broadcast. Each call
 * streams its 2V channels' filters for its rows alone, so the fewer calls a panel of tiles
 * takes the better: 25 tiles (a 17x17 map or the orbit's 19x19 grid at F(4x4)) in two calls
 * of 12 and 13 rows ran 1.08-1.11x the multiply-adds per second of three of 8, 8 and 9. */
#define NR1(X)  X(0)
#define NR2(X)  NR1(X) X(1)
#define NR3(X)  NR2(X) X(2)
#define NR4(X)  NR3(X) X(3)
#define NR5(X)  NR4(X) X(4)
#define NR6(X)  NR5(X) X(5)
#define NR7(X)  NR6(X) X(6)
#define NR8(X)  NR7(X) X(7)
#define NR9(X)  NR8(X) X(8)
#define NR10(X) NR9(X) X(9)
#define NR11(X) NR10(X) X(10)
#define NR12(X) NR11(X) X(11)
#define NR13(X) NR12(X) X(12)
#define NR14(X) NR13(X) X(13)
#define NSTEP(r)                                                                                   \
	{                                                                                          \
		V br = BCAST(b + r);                                                               \
		c##r##0 = FMA(br, a0, c##r##0);                                                    \
		c##r##1 = FMA(br, a1, c##r##1);                                                    \
	}
#define NSTORE(r)                                                                                  \
	STOREU(acc + r * 2 * VW, c##r##0);                                                         \
	STOREU(acc + r * 2 * VW + VW, c##r##1);
#define NARROW(NAME, R, TARGET)                                                                    \
	__attribute__((target(TARGET))) static void NAME##R(int kc, const float *a,                \
	        const float *b, size_t ldb, float *acc, const float *pa, const float *pb)          \
	{                                                                                          \
		NR##R(DECL);                                                                       \
		for (int k = 0; k < kc; k++, a += 2 * VW, b += ldb, pa += 16, pb += 16) {          \
			_mm_prefetch((const char *)pa, _MM_HINT_T1);                               \
			_mm_prefetch((const char *)pb, _MM_HINT_T1);                               \
			V a0 = LOADU(a), a1 = LOADU(a + VW);                                       \
			NR##R(NSTEP)                                                               \
		}                                                                                  \
		NR##R(NSTORE)                                                                      \
	}

/* As NARROW, row (i, s) of K read at bg + i*ldg + off[s] (gnarrow_fn). */
#define GNARROW(NAME, R, TARGET)                                                                   \
	__attribute__((target(TARGET))) static void NAME##R(int kc, const float *a,                \
	        const float *bg, const int *off, int ng, size_t ldg, float *acc, const float *pa)  \
	{                                                                                          \
		NR##R(DECL);                                                                       \
		for (int k = 0; k < kc; k += ng, bg += ldg)                                        \
			for (int i = 0; i < ng; i++, a += 2 * VW, pa += 16) {                      \
				_mm_prefetch((const char *)pa, _MM_HINT_T1);                       \
				const float *b = bg + off[i];                                      \
				V a0 = LOADU(a), a1 = LOADU(a + VW);                               \
				NR##R(NSTEP)                                                       \
			}                                                                          \
		NR##R(NSTORE)                                                                      \
	}

/* As GNARROW on two elements' tiles (gnarrow2_fn), its first R1 rows from b1. */
#define NSTEP2(r)                                                                                  \
	{                                                                                          \
		V br = BCAST((r) < R1_ ? b1 + (r) : b2 + ((r)-R1_));                               \
		c##r##0 = FMA(br, a0, c##r##0);                                                    \
		c##r##1 = FMA(br, a1, c##r##1);                                                    \
	}
#define GNARROW2(NAME, R, R1, TARGET)                                                              \
	__attribute__((target(TARGET))) static void NAME##R##_##R1(int kc, const float *a,         \
	        const float *bg1, const float *bg2, const int *off1, const int *off2, int ng,      \
	        size_t ldg, float *acc, const float *pa)                                           \
	{                                                                                          \
		enum { R1_ = R1 };                                                                 \
		NR##R(DECL);                                                                       \
		for (int k = 0; k < kc; k += ng, bg1 += ldg, bg2 += ldg)                           \
			for (int i = 0; i < ng; i++, a += 2 * VW, pa += 16) {                      \
				_mm_prefetch((const char *)pa, _MM_HINT_T1);                       \
				const float *b1 = bg1 + off1[i], *b2 = bg2 + off2[i];              \
				V a0 = LOADU(a), a1 = LOADU(a + VW);                               \
				NR##R(NSTEP2)                                                      \
			}                                                                          \
		NR##R(NSTORE)                                                                      \
	}

/* The narrow direct kernels: as NARROW, row r of tap (ci, tap) broadcast from the input
 * plane's run, the accumulators starting from the bias and clamped at 0 with relu. */
#define DINIT(r) V c##r##0 = b0, c##r##1 = b1;
#define DRELU(r)                                                                                   \
	c##r##0 = MAX(c##r##0, ZERO());                                                            \
	c##r##1 = MAX(c##r##1, ZERO());
#define DNARROW(NAME, R, TARGET)                                                                   \
	__attribute__((target(TARGET))) static void NAME##R(                                       \
	        const float *a, Src s, const float *bias, bool relu, float *acc)                   \
	{                                                                                          \
		V b0 = LOADU(bias), b1 = LOADU(bias + VW);                                         \
		NR##R(DINIT);                                                                      \
		for (int ci = 0; ci < s.nci; ci++) {                                               \
			const float *x = s.x0 + ci * s.plane;                                      \
			for (int tap = 0; tap < s.ntap; tap++, a += 2 * VW) {                      \
				const float *b = x + s.tapoff[tap];                                \
				V a0 = LOADU(a), a1 = LOADU(a + VW);                               \
				NR##R(NSTEP)                                                       \
			}                                                                          \
		}                                                                                  \
		if (relu) {                                                                        \
			NR##R(DRELU)                                                               \
		}                                                                                  \
		NR##R(NSTORE)                                                                      \
	}

/* The narrow kernels' results, R rows of 2 VW channels (R <= VW), into C transposed:
 * channel j's R rows at C + j*ldc, for the nco channels that exist. Each half of the
 * channels as a VW x VW block (rows past R repeat row 0 and are not stored), transposed
 * in log2(VW) butterflies, each swapping one bit of the row with that bit of the column,
 * the loops unrolled whole (_Pragma) so that x stays in registers; scalar, the stores took
 * as long as 64 rows of K. */
#define NARROW_TRANSPOSE(x, h)                                                                     \
	_Pragma("GCC unroll 16") for (int r = 0; r < VW; r++)                                      \
	        memcpy(&x[r], acc + (r < rows ? r : 0) * 2 * VW + (h)*VW, sizeof(F));              \
	_Pragma("GCC unroll 4") for (int k = VW / 2; k; k >>= 1)                                   \
	        _Pragma("GCC unroll 16") for (int i = 0; i < VW; i++)                              \
	{                                                                                          \
		if (i & k)                                                                         \
			continue;                                                                  \
		F a = x[i], b = x[i + k];                                                          \
		I up = ((p & k) != 0) & (VW - k);                                                  \
		x[i] = __builtin_shuffle(a, b, p + up);                                            \
		x[i + k] = __builtin_shuffle(a, b, p + k + up);                                    \
	}
#define NARROW_OUT(NAME, VW, TARGET)                                                               \
	__attribute__((target(TARGET))) static void NAME(float *C, size_t ldc, const float *acc,   \
	        int rows, int nco, const float *add, bool relu)                                    \
	{                                                                                          \
		typedef float F __attribute__((vector_size(VW * sizeof(float))));                  \
		typedef int I __attribute__((vector_size(VW * sizeof(int))));                      \
		I p, keep;                                                                         \
		for (int l = 0; l < VW; l++) {                                                     \
			p[l] = l;                                                                  \
			keep[l] = l < rows ? -1 : 0;                                               \
		}                                                                                  \
		for (int h = 0; h < 2; h++) {                                                      \
			F x[VW];                                                                   \
			NARROW_TRANSPOSE(x, h);                                                    \
			for (int j = 0; j < VW && h * VW + j < nco; j++) {                         \
				size_t at = (h * VW + j) * ldc;                                    \
				V y = (V)x[j];                                                     \
				if (add) {                                                         \
					y = ADD(y, MASKLOAD(add + at, rows, keep));                \
					y = relu ? MAX(y, ZERO()) : y;                             \
				}                                                                  \
				MASKSTORE(C + at, rows, keep, y);                                  \
			}                                                                          \
		}                                                                                  \
	}

/* As NARROW_OUT without add (narrow_out2_fn): each channel's lanes [0, split) stored at C1,
 * [split, rows) at C2 - split, one transpose for both. */
#define NARROW_OUT2(NAME, VW, TARGET)                                                              \
	__attribute__((target(TARGET))) static void NAME(                                          \
	        float *C1, float *C2, size_t ldc, const float *acc, int rows, int split, int nco)  \
	{                                                                                          \
		typedef float F __attribute__((vector_size(VW * sizeof(float))));                  \
		typedef int I __attribute__((vector_size(VW * sizeof(int))));                      \
		I p, keep1, keep2;                                                                 \
		for (int l = 0; l < VW; l++) {                                                     \
			p[l] = l;                                                                  \
			keep1[l] = l < split ? -1 : 0;                                             \
			keep2[l] = l >= split && l < rows ? -1 : 0;                                \
		}                                                                                  \
		float *C2s = C2 - split;                                                           \
		for (int h = 0; h < 2; h++) {                                                      \
			F x[VW];                                                                   \
			NARROW_TRANSPOSE(x, h);                                                    \
			for (int j = 0; j < VW && h * VW + j < nco; j++) {                         \
				size_t at = (h * VW + j) * ldc;                                    \
				MASKSTORE_LANES(C1 + at, 0, split, keep1, (V)x[j]);                \
				MASKSTORE_LANES(C2s + at, split, rows, keep2, (V)x[j]);            \
			}                                                                          \
		}                                                                                  \
	}

#define DECL1(i)  V c##i##0 = ZERO();
#define STEP1(i)  c##i##0 = FMA(BCAST(a + i), b0, c##i##0);
#define STORE1(i) STORE_HALF(o.c0 + i * o.ld0, o.s0 + i * o.ld0, c##i##0, i)

#define KERNELS(GEMM, GEMM1, DIRECT, R, TARGET)                                                    \
	__attribute__((target(TARGET))) static void GEMM(                                          \
	        int kc, const float *a, const float *b, Out o, const float *bias, int flags)       \
	{                                                                                          \
		NR##R(DECL);                                                                       \
		for (int k = 0; k < kc; k++, a += R, b += 2 * VW) {                                \
			V b0 = LOADU(b), b1 = LOADU(b + VW);                                       \
			NR##R(STEP)                                                                \
		}                                                                                  \
		NR##R(STORE)                                                                       \
	}                                                                                          \
	__attribute__((target(TARGET))) static void GEMM1(                                         \
	        int kc, const float *a, const float *b, Out o, const float *bias, int flags)       \
	{                                                                                          \
		NR##R(DECL1);                                                                      \
		for (int k = 0; k < kc; k++, a += R, b += 2 * VW) {                                \
			V b0 = LOADU(b);                                                           \
			NR##R(STEP1)                                                               \
		}                                                                                  \
		NR##R(STORE1)                                                                      \
	}                                                                                          \
	__attribute__((target(TARGET))) static void DIRECT(                                        \
	        const float *a, Src s, Out o, const float *bias, int flags)                        \
	{                                                                                          \
		NR##R(DECL);                                                                       \
		for (int ci = 0; ci < s.nci; ci++) {                                               \
			const float *r0 = s.x0 + ci * s.plane, *r1 = s.x1 + ci * s.plane;          \
			for (int tap = 0; tap < s.ntap; tap++, a += R) {                           \
				V b0 = LOADU(r0 + s.tapoff[tap]), b1 = LOADU(r1 + s.tapoff[tap]);  \
				NR##R(STEP)                                                        \
			}                                                                          \
		}                                                                                  \
		NR##R(STORE)                                                                       \
	}

/* The gathered wide kernel (ggemm_fn): gemm's tile, B's rows loaded from the two halves'
 * sources by their offsets, in gemm's order of k (the same sums). */
#define GGEMM(NAME, R, TARGET)                                                                     \
	__attribute__((target(TARGET))) static void NAME(int kc, const float *a, const float *g0,  \
	        const float *g1, const int *off0, const int *off1, int ng, size_t ldg, Out o,      \
	        const float *bias, int flags)                                                      \
	{                                                                                          \
		NR##R(DECL);                                                                       \
		for (int k = 0; k < kc; k += ng, g0 += ldg, g1 += ldg)                             \
			for (int s = 0; s < ng; s++, a += R) {                                     \
				V b0 = LOADU(g0 + off0[s]), b1 = LOADU(g1 + off1[s]);              \
				NR##R(STEP)                                                        \
			}                                                                          \
		NR##R(STORE)                                                                       \
	}

#define V      __m256
#define VW     8
#define ZERO   _mm256_setzero_ps
#define BCAST  _mm256_broadcast_ss
#define FMA    _mm256_fmadd_ps
#define LOADU  _mm256_loadu_ps
#define STOREU _mm256_storeu_ps
#define ADD    _mm256_add_ps
#define MAX    _mm256_max_ps

#define MASKSTORE(c, rows, keep, x) _mm256_maskstore_ps(c, (__m256i)(keep), (__m256)(x))
#define MASKLOAD(c, rows, keep)     _mm256_maskload_ps(c, (__m256i)(keep))
KERNELS(gemm_avx2, gemm1_avx2, direct_avx2, 6, "avx2,fma")
GGEMM(ggemm_avx2, 6, "avx2,fma")
NARROW(narrow_avx2_, 1, "avx2,fma")
NARROW(narrow_avx2_, 2, "avx2,fma")
NARROW(narrow_avx2_, 3, "avx2,fma")
NARROW(narrow_avx2_, 4, "avx2,fma")
NARROW(narrow_avx2_, 5, "avx2,fma")
NARROW(narrow_avx2_, 6, "avx2,fma")
NARROW_OUT(narrow_out_avx2, 8, "avx2,fma")
static narrow_fn *const narrow_avx2[] = {
        narrow_avx2_1, narrow_avx2_2, narrow_avx2_3, narrow_avx2_4, narrow_avx2_5, narrow_avx2_6};
GNARROW(gnarrow_avx2_, 1, "avx2,fma")
GNARROW(gnarrow_avx2_, 2, "avx2,fma")
GNARROW(gnarrow_avx2_, 3, "avx2,fma")
GNARROW(gnarrow_avx2_, 4, "avx2,fma")
GNARROW(gnarrow_avx2_, 5, "avx2,fma")
GNARROW(gnarrow_avx2_, 6, "avx2,fma")
static gnarrow_fn *const gnarrow_avx2[] = {gnarrow_avx2_1, gnarrow_avx2_2, gnarrow_avx2_3,
        gnarrow_avx2_4, gnarrow_avx2_5, gnarrow_avx2_6};
GNARROW2(gnarrow2_avx2_, 6, 3, "avx2,fma")
#define MASKSTORE_LANES(c, lo, hi, keep, x) _mm256_maskstore_ps(c, (__m256i)(keep), x)
NARROW_OUT2(narrow_out2_avx2, 8, "avx2,fma")
#undef MASKSTORE_LANES
DNARROW(dnarrow_avx2_, 1, "avx2,fma")
DNARROW(dnarrow_avx2_, 2, "avx2,fma")
DNARROW(dnarrow_avx2_, 3, "avx2,fma")
DNARROW(dnarrow_avx2_, 4, "avx2,fma")
DNARROW(dnarrow_avx2_, 5, "avx2,fma")
DNARROW(dnarrow_avx2_, 6, "avx2,fma")
static dnarrow_fn *const dnarrow_avx2[] = {dnarrow_avx2_1, dnarrow_avx2_2, dnarrow_avx2_3,
        dnarrow_avx2_4, dnarrow_avx2_5, dnarrow_avx2_6};
#undef V
#undef VW
#undef ZERO
#undef BCAST
#undef FMA
#undef LOADU
#undef STOREU
#undef ADD
#undef MAX
#undef MASKSTORE
#undef MASKLOAD

#define V        __m512
#define VW       16
#define ZERO     _mm512_setzero_ps
#define BCAST(p) _mm512_set1_ps(*(p))
#define FMA      _mm512_fmadd_ps
#define LOADU    _mm512_loadu_ps
#define STOREU   _mm512_storeu_ps
#define ADD      _mm512_add_ps
#define MAX      _mm512_max_ps
#define MASKSTORE(c, rows, keep, x)                                                                \
	((void)(keep), _mm512_mask_storeu_ps(c, (1u << (rows)) - 1, (__m512)(x)))
#define MASKLOAD(c, rows, keep) ((void)(keep), _mm512_maskz_loadu_ps((1u << (rows)) - 1, c))
KERNELS(gemm_avx512, gemm1_avx512, direct_avx512, 6, "avx512f")
KERNELS(gemm8_avx512, gemm1_8_avx512, direct8_avx512, 8, "avx512f")
GGEMM(ggemm_avx512, 6, "avx512f")
GGEMM(ggemm8_avx512, 8, "avx512f")
NARROW(narrow_avx512_, 1, "avx512f")
NARROW(narrow_avx512_, 2, "avx512f")
NARROW(narrow_avx512_, 3, "avx512f")
NARROW(narrow_avx512_, 4, "avx512f")
NARROW(narrow_avx512_, 5, "avx512f")
NARROW(narrow_avx512_, 6, "avx512f")
NARROW(narrow_avx512_, 7, "avx512f")
NARROW(narrow_avx512_, 8, "avx512f")
NARROW(narrow_avx512_, 9, "avx512f")
NARROW(narrow_avx512_, 10, "avx512f")
NARROW(narrow_avx512_, 11, "avx512f")
NARROW(narrow_avx512_, 12, "avx512f")
NARROW(narrow_avx512_, 13, "avx512f")
NARROW(narrow_avx512_, 14, "avx512f")
NARROW_OUT(narrow_out_avx512, 16, "avx512f")
static narrow_fn *const narrow_avx512[] = {narrow_avx512_1, narrow_avx512_2, narrow_avx512_3,
        narrow_avx512_4, narrow_avx512_5, narrow_avx512_6, narrow_avx512_7, narrow_avx512_8,
        narrow_avx512_9, narrow_avx512_10, narrow_avx512_11, narrow_avx512_12, narrow_avx512_13,
        narrow_avx512_14};
GNARROW(gnarrow_avx512_, 1, "avx512f")
GNARROW(gnarrow_avx512_, 2, "avx512f")
GNARROW(gnarrow_avx512_, 3, "avx512f")
GNARROW(gnarrow_avx512_, 4, "avx512f")
GNARROW(gnarrow_avx512_, 5, "avx512f")
GNARROW(gnarrow_avx512_, 6, "avx512f")
GNARROW(gnarrow_avx512_, 7, "avx512f")
GNARROW(gnarrow_avx512_, 8, "avx512f")
GNARROW(gnarrow_avx512_, 9, "avx512f")
GNARROW(gnarrow_avx512_, 10, "avx512f")
GNARROW(gnarrow_avx512_, 11, "avx512f")
GNARROW(gnarrow_avx512_, 12, "avx512f")
GNARROW(gnarrow_avx512_, 13, "avx512f")
GNARROW(gnarrow_avx512_, 14, "avx512f")
static gnarrow_fn *const gnarrow_avx512[] = {gnarrow_avx512_1, gnarrow_avx512_2, gnarrow_avx512_3,
        gnarrow_avx512_4, gnarrow_avx512_5, gnarrow_avx512_6, gnarrow_avx512_7, gnarrow_avx512_8,
        gnarrow_avx512_9, gnarrow_avx512_10, gnarrow_avx512_11, gnarrow_avx512_12,
        gnarrow_avx512_13, gnarrow_avx512_14};
GNARROW2(gnarrow2_avx512_, 12, 3, "avx512f")
GNARROW2(gnarrow2_avx512_, 12, 6, "avx512f")
GNARROW2(gnarrow2_avx512_, 12, 9, "avx512f")
#define MASKSTORE_LANES(c, lo, hi, keep, x)                                                        \
	((void)(keep), _mm512_mask_storeu_ps(c, ((1u << (hi)) - 1) & ~((1u << (lo)) - 1), x))
NARROW_OUT2(narrow_out2_avx512, 16, "avx512f")
#undef MASKSTORE_LANES
DNARROW(dnarrow_avx512_, 1, "avx512f")
DNARROW(dnarrow_avx512_, 2, "avx512f")
DNARROW(dnarrow_avx512_, 3, "avx512f")
DNARROW(dnarrow_avx512_, 4, "avx512f")
DNARROW(dnarrow_avx512_, 5, "avx512f")
DNARROW(dnarrow_avx512_, 6, "avx512f")
DNARROW(dnarrow_avx512_, 7, "avx512f")
DNARROW(dnarrow_avx512_, 8, "avx512f")
DNARROW(dnarrow_avx512_, 9, "avx512f")
DNARROW(dnarrow_avx512_, 10, "avx512f")
DNARROW(dnarrow_avx512_, 11, "avx512f")
DNARROW(dnarrow_avx512_, 12, "avx512f")
DNARROW(dnarrow_avx512_, 13, "avx512f")
DNARROW(dnarrow_avx512_, 14, "avx512f")
static dnarrow_fn *const dnarrow_avx512[] = {dnarrow_avx512_1, dnarrow_avx512_2, dnarrow_avx512_3,
        dnarrow_avx512_4, dnarrow_avx512_5, dnarrow_avx512_6, dnarrow_avx512_7, dnarrow_avx512_8,
        dnarrow_avx512_9, dnarrow_avx512_10, dnarrow_avx512_11, dnarrow_avx512_12,
        dnarrow_avx512_13, dnarrow_avx512_14};
#undef V
#undef VW
#undef ZERO
#undef BCAST
#undef FMA
#undef LOADU
#undef STOREU
#undef ADD
#undef MAX
#undef MASKSTORE
#undef MASKLOAD

static bool has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static bool has_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f");
}
#endif

enum { LANES = 8 }; /* tiles a transform works on at once, as one (GCC) vector */
typedef float Lane __attribute__((vector_size(LANES * sizeof(float))));

/* AVX-512's lanes: the transforms on 16 tiles at once. */
typedef float Lane16 __attribute__((vector_size(16 * sizeof(float))));

/* The 1-D transforms of each form, in place along one axis of an alpha x alpha block of
 * lanes (x[i*st] for i < alpha), for lanes of type L (Lane or Lane16), named with suffix S:
 * - in_1d4, in_1d2: B^T of F(4, 3) and F(2, 3); out_1d4, out_1d2: A^T, alpha values in, m
 *   out (in the first m places).
 * - in_1ds2, out_1ds2, stride 2: two outputs of a 3-tap filter read x0..x4; the even taps
 *   (w0, w2 on x0, x2, x4) are an F(2, 2) and the odd one (w1 on x1, x3) is taken as it
 *   is, five products instead of six: (x0 - x2) w0, x2 (w0 + w2), (x4 - x2) w2, x1 w1,
 *   x3 w1.
 * - in_1d4s2, out_1d4s2, stride 2, four outputs from x0..x8: the even taps on e = x0, x2,
 *   .., x8 as F(4, 2) (points 0, 1, -1, 2, infinity; rows scaled so that the fractions sit
 *   in the filter transform, G4S2), then the odd tap's four products x1 w1 .. x7 w1: nine
 *   products instead of twelve.
 * - in_1d3s2, out_1d3s2, stride 2, three outputs from x0..x6: the even taps on e = x0, x2,
 *   x4, x6 as F(3, 2) (points 0, 1, -1, infinity; F(2, 3)'s B^T with its last row negated,
 *   the halves in G3S2), then the odd tap's three products x1 w1, x3 w1, x5 w1: seven
 *   products instead of nine (49 a 3x3 tile where F(2x2)'s form takes 56.25).
 * - in_1d6, out_1d6: B^T and A^T of F(6, 3) (G6's points), the rows of each pair of points
 *   +-p from their even and odd parts.
 * - in_1d3, out_1d3: B^T and A^T of F(3, 3) on the points 0, 1, -1, 2, infinity (G3), the
 *   rows of B^T sharing d3 - d1.
 * - in_1d3r, out_1d3r: B^T and A^T of F(3, 3) on the points 0, 1, -2, -1/2, infinity (G3R,
 *   closed under p -> 1/p for the group plans), the fractions in G3R, B^T's rows sharing
 *   d1 + d2 + d3.
 * - in_1d7, out_1d7: B^T and A^T of F(7, 3) (G7's points +-1, +-2, +-1/2, +-1/4): each
 *   pair's two rows of B^T from the even and the odd taps' sums (x +- p) R_p(x^2), A^T's
 *   rows from each pair's sum and difference.
 * - in_1d5r, out_1d5r: B^T and A^T of F(5, 3) on the points 0, 1, 2, 1/2, -2, -1/2,
 *   infinity (G5R, closed under p -> 1/p for the group plans), B^T's rows of each pair
 *   p, 1/p from the parts of d1 .. d5 even and odd about d3 (bench/f5r.py derives them).
 * - in_1d, out_1d: form f's (GQ_CONV_WINO2, _WINO3, _WINO3R, _WINO4, _WINO4R, _WINO5R,
 *   _WINO6, _WINO7, _WINO2S2, _WINO3S2 or _WINO4S2).
 * Every out_1d's outputs take x[st] (the point 1) with weight 1, so a bias added to M's
 * point (1, 1) alone reaches every pixel of the tile: the vector kernels add it there, one
 * add a tile where the pixels' rows took m^2 / 16 (AVX-512: 16 tiles' 4x4 pixels in 16).
 * in_1d4 shares its differences: 18 operations where it took 24 (no FMA contraction in
 * ISO C), the input transform 5-8% faster (AVX-512, one thread, 32 channels at 97x97).
 * ATTR: the functions' attributes (a target); MAD(k, x, y) = k x + y, NMAD = y - k x, for
 * in_1d4's constants (the vector kernels' in one FMA). */
#define FORMS_1D(L, S, ATTR, MAD, NMAD)                                                            \
	ATTR void in_1d4##S(L *x, int st)                                                          \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st], d4 = x[4 * st];           \
		L d5 = x[5 * st];                                                                  \
		L a = NMAD(4.0f, d2, d4), b = NMAD(4.0f, d1, d3), e = d4 - d2, g = d3 - d1;        \
		x[0] = MAD(4.0f, d0 - d2, e);                                                      \
		x[st] = a + b;                                                                     \
		x[2 * st] = a - b;                                                                 \
		x[3 * st] = MAD(2.0f, g, e);                                                       \
		x[4 * st] = NMAD(2.0f, g, e);                                                      \
		x[5 * st] = NMAD(4.0f, g, d5 - d3);                                                \
	}                                                                                          \
	ATTR void in_1d2##S(L *x, int st)                                                          \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st];                           \
		x[0] = d0 - d2;                                                                    \
		x[st] = d1 + d2;                                                                   \
		x[2 * st] = d2 - d1;                                                               \
		x[3 * st] = d1 - d3;                                                               \
	}                                                                                          \
	ATTR void out_1d4##S(L *x, int st)                                                         \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		L s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4, m5 = x[5 * st];      \
		x[0] = m0 + s12 + s34;                                                             \
		x[st] = d12 + 2.0f * d34;                                                          \
		x[2 * st] = s12 + 4.0f * s34;                                                      \
		x[3 * st] = d12 + 8.0f * d34 + m5;                                                 \
	}                                                                                          \
	ATTR void out_1d2##S(L *x, int st)                                                         \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st];                           \
		x[0] = m0 + m1 + m2;                                                               \
		x[st] = m1 - m2 - m3;                                                              \
	}                                                                                          \
	ATTR void in_1ds2##S(L *x, int st)                                                         \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st], d4 = x[4 * st];           \
		x[0] = d0 - d2;                                                                    \
		x[st] = d2;                                                                        \
		x[2 * st] = d4 - d2;                                                               \
		x[3 * st] = d1;                                                                    \
		x[4 * st] = d3;                                                                    \
	}                                                                                          \
	ATTR void out_1ds2##S(L *x, int st)                                                        \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		x[0] = m0 + m1 + m3;                                                               \
		x[st] = m1 + m2 + m4;                                                              \
	}                                                                                          \
	ATTR void in_1d4s2##S(L *x, int st)                                                        \
	{                                                                                          \
		L e0 = x[0], o0 = x[st], e1 = x[2 * st], o1 = x[3 * st], e2 = x[4 * st];           \
		L o2 = x[5 * st], e3 = x[6 * st], o3 = x[7 * st], e4 = x[8 * st];                  \
		x[0] = 2.0f * (e0 - e2) - e1 + e3;                                                 \
		x[st] = 2.0f * e1 + e2 - e3;                                                       \
		x[2 * st] = 3.0f * e2 - 2.0f * e1 - e3;                                            \
		x[3 * st] = e3 - e1;                                                               \
		x[4 * st] = 2.0f * (e1 - e3) - e2 + e4;                                            \
		x[5 * st] = o0;                                                                    \
		x[6 * st] = o1;                                                                    \
		x[7 * st] = o2;                                                                    \
		x[8 * st] = o3;                                                                    \
	}                                                                                          \
	ATTR void out_1d4s2##S(L *x, int st)                                                       \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		L s12 = m1 + m2, d12 = m1 - m2;                                                    \
		x[0] = m0 + s12 + m3 + x[5 * st];                                                  \
		x[st] = d12 + 2.0f * m3 + x[6 * st];                                               \
		x[2 * st] = s12 + 4.0f * m3 + x[7 * st];                                           \
		x[3 * st] = d12 + 8.0f * m3 + m4 + x[8 * st];                                      \
	}                                                                                          \
	ATTR void in_1d3s2##S(L *x, int st)                                                        \
	{                                                                                          \
		L e0 = x[0], o0 = x[st], e1 = x[2 * st], o1 = x[3 * st], e2 = x[4 * st];           \
		L o2 = x[5 * st], e3 = x[6 * st];                                                  \
		x[0] = e0 - e2;                                                                    \
		x[st] = e1 + e2;                                                                   \
		x[2 * st] = e2 - e1;                                                               \
		x[3 * st] = e3 - e1;                                                               \
		x[4 * st] = o0;                                                                    \
		x[5 * st] = o1;                                                                    \
		x[6 * st] = o2;                                                                    \
	}                                                                                          \
	ATTR void out_1d3s2##S(L *x, int st)                                                       \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st];                           \
		L s12 = m1 + m2;                                                                   \
		x[0] = m0 + s12 + x[4 * st];                                                       \
		x[st] = m1 - m2 + x[5 * st];                                                       \
		x[2 * st] = s12 + m3 + x[6 * st];                                                  \
	}                                                                                          \
	ATTR void in_1d4r##S(L *x, int st)                                                         \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st], d4 = x[4 * st];           \
		L d5 = x[5 * st], d13 = d1 - d3, d42 = d4 - d2;                                    \
		x[0] = d0 - d4 + 2.5f * (d3 - d1);                                                 \
		x[st] = 1.5f * (d2 + d3) - d1 - d4;                                                \
		x[2 * st] = 7.0f * (d2 - d3) - 2.0f * (d1 - d4);                                   \
		x[3 * st] = d13 + 2.0f * d42;                                                      \
		x[4 * st] = 2.0f * d13 + d42;                                                      \
		x[5 * st] = d5 - d1 - 2.5f * d42;                                                  \
	}                                                                                          \
	ATTR void out_1d4r##S(L *x, int st)                                                        \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		L s12 = m1 + m2, d12 = m1 - m2, m5 = x[5 * st];                                    \
		x[0] = m0 + s12 + m3 + 8.0f * m4;                                                  \
		x[st] = d12 + 2.0f * m3 + 4.0f * m4;                                               \
		x[2 * st] = s12 + 4.0f * m3 + 2.0f * m4;                                           \
		x[3 * st] = d12 + 8.0f * m3 + m4 + m5;                                             \
	}                                                                                          \
	ATTR void in_1d6##S(L *x, int st)                                                          \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st], d4 = x[4 * st];           \
		L d5 = x[5 * st], d6 = x[6 * st], d7 = x[7 * st];                                  \
		L e1 = d2 + d6 - 4.25f * d4, o1 = d1 + d5 - 4.25f * d3;                            \
		L e2 = 0.25f * d2 - 1.25f * d4 + d6, o2 = 0.5f * d1 - 2.5f * d3 + 2.0f * d5;       \
		L eh = 2.0f * d2 - 2.5f * d4 + 0.5f * d6, oh = d1 - 1.25f * d3 + 0.25f * d5;       \
		x[0] = d0 - d6 + 5.25f * (d4 - d2);                                                \
		x[st] = e1 + o1;                                                                   \
		x[2 * st] = e1 - o1;                                                               \
		x[3 * st] = e2 + o2;                                                               \
		x[4 * st] = e2 - o2;                                                               \
		x[5 * st] = eh + oh;                                                               \
		x[6 * st] = eh - oh;                                                               \
		x[7 * st] = d7 - d1 + 5.25f * (d3 - d5);                                           \
	}                                                                                          \
	ATTR void out_1d6##S(L *x, int st)                                                         \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		L m5 = x[5 * st], m6 = x[6 * st], m7 = x[7 * st];                                  \
		L s1 = m1 + m2, d1 = m1 - m2, s2 = m3 + m4, d2 = m3 - m4, sh = m5 + m6;            \
		L dh = m5 - m6;                                                                    \
		x[0] = m0 + s1 + s2 + 32.0f * sh;                                                  \
		x[st] = d1 + 2.0f * d2 + 16.0f * dh;                                               \
		x[2 * st] = s1 + 4.0f * s2 + 8.0f * sh;                                            \
		x[3 * st] = d1 + 8.0f * d2 + 4.0f * dh;                                            \
		x[4 * st] = s1 + 16.0f * s2 + 2.0f * sh;                                           \
		x[5 * st] = d1 + 32.0f * d2 + dh + m7;                                             \
	}                                                                                          \
	ATTR void in_1d3##S(L *x, int st)                                                          \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st], d4 = x[4 * st];           \
		L g = d3 - d1;                                                                     \
		x[0] = MAD(2.0f, d0 - d2, g);                                                      \
		x[st] = g - (d1 + d2);                                                             \
		x[2 * st] = MAD(3.0f, d1 - d2, g);                                                 \
		x[3 * st] = g;                                                                     \
		x[4 * st] = NMAD(2.0f, g, d4 - d2);                                                \
	}                                                                                          \
	ATTR void out_1d3##S(L *x, int st)                                                         \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		L s12 = m1 + m2;                                                                   \
		x[0] = m0 + s12 + m3;                                                              \
		x[st] = MAD(2.0f, m3, m1 - m2);                                                    \
		x[2 * st] = MAD(4.0f, m3, s12 + m4);                                               \
	}                                                                                          \
	ATTR void in_1d3r##S(L *x, int st)                                                         \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st], d4 = x[4 * st];           \
		L s = d1 + d2 + d3;                                                                \
		x[0] = MAD(3.0f, d1 - d2, 2.0f * (d0 - d3));                                       \
		x[st] = MAD(3.0f, d2, 2.0f * s);                                                   \
		x[2 * st] = NMAD(3.0f, d3, s);                                                     \
		x[3 * st] = NMAD(3.0f, d1, s);                                                     \
		x[4 * st] = MAD(3.0f, d3 - d2, 2.0f * (d4 - d1));                                  \
	}                                                                                          \
	ATTR void out_1d3r##S(L *x, int st)                                                        \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		x[0] = MAD(4.0f, m3, m0 + m1 + m2);                                                \
		x[st] = NMAD(2.0f, m2 + m3, m1);                                                   \
		x[2 * st] = MAD(4.0f, m2, m1 + m3 + m4);                                           \
	}                                                                                          \
	ATTR void in_1d7##S(L *x, int st)                                                          \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st], d4 = x[4 * st];           \
		L d5 = x[5 * st], d6 = x[6 * st], d7 = x[7 * st], d8 = x[8 * st];                  \
		L e1 = MAD(-0.0625f, d0, MAD(1.265625f, d2, MAD(-4.3125f, d4, d6)));               \
		L o1 = MAD(-0.0625f, d1, MAD(1.265625f, d3, MAD(-4.3125f, d5, d7)));               \
		L e2 = MAD(-0.015625f, d0, MAD(0.328125f, d2, MAD(-1.3125f, d4, d6)));             \
		L o2 = MAD(-0.015625f, d1, MAD(0.328125f, d3, MAD(-1.3125f, d5, d7)));             \
		L eh = MAD(-0.25f, d0, MAD(4.3125f, d2, MAD(-5.0625f, d4, d6)));                   \
		L oh = MAD(-0.25f, d1, MAD(4.3125f, d3, MAD(-5.0625f, d5, d7)));                   \
		L eq = d6 - d0 + 5.25f * (d2 - d4), oq = d7 - d1 + 5.25f * (d3 - d5);              \
		x[0] = MAD(0.25f, eq, oq);                                                         \
		x[st] = o1 + e1;                                                                   \
		x[2 * st] = o1 - e1;                                                               \
		x[3 * st] = MAD(2.0f, e2, o2);                                                     \
		x[4 * st] = NMAD(2.0f, e2, o2);                                                    \
		x[5 * st] = MAD(0.5f, eh, oh);                                                     \
		x[6 * st] = NMAD(0.5f, eh, oh);                                                    \
		x[7 * st] = NMAD(0.25f, eq, oq);                                                   \
		x[8 * st] = MAD(0.0625f, d0,                                                       \
		        MAD(-1.328125f, d2, MAD(5.578125f, d4, MAD(-5.3125f, d6, d8))));           \
	}                                                                                          \
	ATTR void out_1d7##S(L *x, int st)                                                         \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		L m5 = x[5 * st], m6 = x[6 * st], m7 = x[7 * st], m8 = x[8 * st];                  \
		L s1 = m1 + m2, t1 = m1 - m2, s2 = m3 + m4, t2 = m3 - m4, sh = m5 + m6;            \
		L th = m5 - m6, sq = m0 + m7, tq = m0 - m7;                                        \
		x[0] = s1 + s2 + sh + sq;                                                          \
		x[st] = MAD(0.25f, tq, MAD(0.5f, th, MAD(2.0f, t2, t1)));                          \
		x[2 * st] = MAD(0.0625f, sq, MAD(0.25f, sh, MAD(4.0f, s2, s1)));                   \
		x[3 * st] = MAD(0.015625f, tq, MAD(0.125f, th, MAD(8.0f, t2, t1)));                \
		x[4 * st] = MAD(0.00390625f, sq, MAD(0.0625f, sh, MAD(16.0f, s2, s1)));            \
		x[5 * st] = MAD(0.0009765625f, tq, MAD(0.03125f, th, MAD(32.0f, t2, t1)));         \
		x[6 * st] = MAD(0.000244140625f, sq, MAD(0.015625f, sh, MAD(64.0f, s2, s1))) + m8; \
	}                                                                                          \
	ATTR void in_1d5r##S(L *x, int st)                                                         \
	{                                                                                          \
		L d0 = x[0], d1 = x[st], d2 = x[2 * st], d3 = x[3 * st], d4 = x[4 * st];           \
		L d5 = x[5 * st], d6 = x[6 * st];                                                  \
		L e = d1 + d5, o = d1 - d5, f = d2 + d4, q = d2 - d4, e2 = 2.0f * e,               \
		  o2 = 2.0f * o;                                                                   \
		L s = 3.0f * NMAD(6.0f, d3, e2 + f), dd = MAD(5.0f, q, o2);                        \
		L t = MAD(14.0f, d3, NMAD(9.0f, f, e2)), ee = NMAD(5.0f, q, o2);                   \
		x[0] = MAD(4.25f, d3 - d2, d0 + d4 - e);                                           \
		x[st] = NMAD(17.0f, d3, 2.0f * e2);                                                \
		x[2 * st] = s - dd;                                                                \
		x[3 * st] = s + dd;                                                                \
		x[4 * st] = NMAD(3.0f, ee, t);                                                     \
		x[5 * st] = MAD(3.0f, ee, t);                                                      \
		x[6 * st] = MAD(4.25f, d3 - d4, d6 + d2 - e);                                      \
	}                                                                                          \
	ATTR void out_1d5r##S(L *x, int st)                                                        \
	{                                                                                          \
		L m0 = x[0], m1 = x[st], m2 = x[2 * st], m3 = x[3 * st], m4 = x[4 * st];           \
		L m5 = x[5 * st], m6 = x[6 * st];                                                  \
		L sp = m2 + m4, dp = m2 - m4, sh = m3 + m5, dh = m3 - m5;                          \
		x[0] = MAD(16.0f, sh, m0 + m1 + sp);                                               \
		x[st] = MAD(8.0f, dh, MAD(2.0f, dp, m1));                                          \
		x[2 * st] = MAD(4.0f, sp + sh, m1);                                                \
		x[3 * st] = MAD(8.0f, dp, MAD(2.0f, dh, m1));                                      \
		x[4 * st] = MAD(16.0f, sp, m1 + sh + m6);                                          \
	}                                                                                          \
	ATTR void in_1d##S(int f, L *x, int st)                                                    \
	{                                                                                          \
		f == GQ_CONV_WINO2     ? in_1d2##S(x, st)                                          \
		: f == GQ_CONV_WINO3   ? in_1d3##S(x, st)                                          \
		: f == GQ_CONV_WINO3R  ? in_1d3r##S(x, st)                                         \
		: f == GQ_CONV_WINO4   ? in_1d4##S(x, st)                                          \
		: f == GQ_CONV_WINO4R  ? in_1d4r##S(x, st)                                         \
		: f == GQ_CONV_WINO5R  ? in_1d5r##S(x, st)                                         \
		: f == GQ_CONV_WINO6   ? in_1d6##S(x, st)                                          \
		: f == GQ_CONV_WINO7   ? in_1d7##S(x, st)                                          \
		: f == GQ_CONV_WINO2S2 ? in_1ds2##S(x, st)                                         \
		: f == GQ_CONV_WINO3S2 ? in_1d3s2##S(x, st)                                        \
		                       : in_1d4s2##S(x, st);                                       \
	}                                                                                          \
	ATTR void out_1d##S(int f, L *x, int st)                                                   \
	{                                                                                          \
		f == GQ_CONV_WINO2     ? out_1d2##S(x, st)                                         \
		: f == GQ_CONV_WINO3   ? out_1d3##S(x, st)                                         \
		: f == GQ_CONV_WINO3R  ? out_1d3r##S(x, st)                                        \
		: f == GQ_CONV_WINO4   ? out_1d4##S(x, st)                                         \
		: f == GQ_CONV_WINO4R  ? out_1d4r##S(x, st)                                        \
		: f == GQ_CONV_WINO5R  ? out_1d5r##S(x, st)                                        \
		: f == GQ_CONV_WINO6   ? out_1d6##S(x, st)                                         \
		: f == GQ_CONV_WINO7   ? out_1d7##S(x, st)                                         \
		: f == GQ_CONV_WINO2S2 ? out_1ds2##S(x, st)                                        \
		: f == GQ_CONV_WINO3S2 ? out_1d3s2##S(x, st)                                       \
		                       : out_1d4s2##S(x, st);                                      \
	}
/* Portable: k * x + y as written (ISO C contracts nothing). */
#define MUL_ADD(k, x, y) ((k) * (x) + (y))
#define MUL_SUB(k, x, y) ((y) - (k) * (x))
#define FORMS_PLAIN      static inline __attribute__((always_inline))
FORMS_1D(Lane, , FORMS_PLAIN, MUL_ADD, MUL_SUB)
#ifdef GQ_X86
/* The vector kernels' in_1d4 multiplies and adds in one FMA where a constant scales a term:
 * 6 additions and 6 FMAs where it took 13 additions and 5 multiplications, the FMAs on
 * their own pipes. Its input transform (F(4x4), 32 channels at 97x97, a block of 32 tiles,
 * in-process alternation) took 4-6% less time on AVX-512 and 5% on AVX2; out_1d4 the same
 * way took 5-8% more on AVX-512 (6.1-6.2k -> 6.5-6.7k TSC cycles a block): not kept. */
#define FMA16(k, x, y)  ((Lane16)_mm512_fmadd_ps(_mm512_set1_ps(k), (__m512)(x), (__m512)(y)))
#define FNMA16(k, x, y) ((Lane16)_mm512_fnmadd_ps(_mm512_set1_ps(k), (__m512)(x), (__m512)(y)))
#define FMA8(k, x, y)   ((Lane)_mm256_fmadd_ps(_mm256_set1_ps(k), (__m256)(x), (__m256)(y)))
#define FNMA8(k, x, y)  ((Lane)_mm256_fnmadd_ps(_mm256_set1_ps(k), (__m256)(x), (__m256)(y)))
FORMS_1D(
        Lane16, _16, static inline __attribute__((always_inline, target("avx512f"))), FMA16, FNMA16)
FORMS_1D(Lane, _8, static inline __attribute__((always_inline, target("avx2,fma"))), FMA8, FNMA8)
#endif

/* A Winograd form f (GQ_CONV_WINO2, _WINO3, _WINO3R, _WINO4, _WINO4R, _WINO5R, _WINO6, _WINO7,
 * _WINO2S2, _WINO3S2 or _WINO4S2): the side of its patches (alpha) and of its output tiles
 * (m). */
static inline __attribute__((always_inline)) int form_alpha(int f)
{
	return f == GQ_CONV_WINO2                            ? 4
	       : f == GQ_CONV_WINO4 || f == GQ_CONV_WINO4R   ? 6
	       : f == GQ_CONV_WINO6                          ? 8
	       : f == GQ_CONV_WINO7                          ? 9
	       : f == GQ_CONV_WINO2S2 || f == GQ_CONV_WINO3  ? 5
	       : f == GQ_CONV_WINO3R                         ? 5
	       : f == GQ_CONV_WINO3S2 || f == GQ_CONV_WINO5R ? 7
	                                                     : 9;
}

static inline __attribute__((always_inline)) int form_m(int f)
{
	return f == GQ_CONV_WINO2 || f == GQ_CONV_WINO2S2  ? 2
	       : f == GQ_CONV_WINO3 || f == GQ_CONV_WINO3R ? 3
	       : f == GQ_CONV_WINO3S2                      ? 3
	       : f == GQ_CONV_WINO5R                       ? 5
	       : f == GQ_CONV_WINO6                        ? 6
	       : f == GQ_CONV_WINO7                        ? 7
	                                                   : 4;
}

/* B^T d B on LANES patches of alpha x alpha, in place; inlined into each ISA's caller. */
static inline __attribute__((always_inline)) void in_tf(int f, Lane *d)
{
	int a = form_alpha(f);
	for (int y = 0; y < a; y++)
		in_1d(f, d + y * a, 1);
	for (int x = 0; x < a; x++)
		in_1d(f, d + x, a);
}

/* A^T M A on LANES tiles, in place: the m x m result at d[i*alpha + j]. */
static inline __attribute__((always_inline)) void out_tf(int f, Lane *d)
{
	int a = form_alpha(f);
	for (int y = 0; y < a; y++)
		out_1d(f, d + y * a, 1);
	for (int x = 0; x < form_m(f); x++)
		out_1d(f, d + x, a);
}

/* Tiles t0 .. t0 + LANES - 1: the n of them that exist, and each one's first output pixel
 * (one division for them all). */
typedef struct Chunk {
	int n;
	int oy[LANES], ox[LANES];
} Chunk;

/* The LANES tiles from t0 on of a block ending at end (lanes from end or the layer's last
 * tile on: none, k->n counts those before). */
static void chunk_at(const gq_conv *c, int t0, int end, Chunk *k)
{
	int y = t0 / c->tw, x = t0 % c->tw;
	end = min_int(end, c->tiles);
	k->n = end - t0 < LANES ? (end > t0 ? end - t0 : 0) : LANES;
	for (int l = 0; l < LANES; l++) {
		k->oy[l] = y * c->m;
		k->ox[l] = x * c->m;
		if (++x == c->tw) {
			x = 0;
			y++;
		}
	}
}

/* Floats from one of V's alpha^2 planes to the next: a line more than the plane, since
 * the input transform writes all alpha^2 of them at once and, whole planes apart (a
 * multiple of 4 KiB), those writes all fell in one set of L1 and evicted each other:
 * 2-4x the transform's time, measured. */
static size_t wino_vstride(const gq_conv *c)
{
	int panels = c->fused ? c->tcp : c->tpanels;
	return (size_t)panels * c->cin * 2 * c->kern->v + LINE_FLOATS;
}

/* What a Winograd input transform reads: row y, col x of channel ci's padded plane is
 * x[ci*plane + (y - off)*ld + x - off] where 0 <= y - off < h and 0 <= x - off < w, and zero
 * elsewhere. Either the layer's input itself (off = p), its zeros the masked-off lanes of
 * the transform's loads, so that no padded copy is written and read back; or a padded copy
 * that a caller wrote (gq_conv_run_padded: off = 0). */
struct Input {
	const float *x;
	size_t plane;
	int ld, h, w, off;
	bool whole; /* the padded copy: every patch, and the 8 floats from each of its rows'
	             * starts, lie in the plane (plain loads, no masks) */
};

/* Where chunk k's patches lie in an Input: patch l's row y starts at at[l] + y*ld of its
 * channel's plane (outside the plane where padding is), and bit j of mask[y][l] says whether
 * its float j (j < 16) there exists: 0 for a row outside the input or a tile that does not
 * exist. Worked out once for all the channels. */
typedef struct Patches {
	int n; /* tiles that exist */
	ptrdiff_t at[LANES];
	uint16_t mask[9][LANES];
} Patches;

static void patches_at(const gq_conv *c, const Chunk *k, const Input *x, Patches *q)
{
	q->n = k->n;
	for (int l = 0; l < LANES; l++) {
		int y0 = k->oy[l] * c->s - x->off, x0 = k->ox[l] * c->s - x->off;
		int lo = x0 < 0 ? -x0 : 0, hi = min_int(16, x->w - x0); /* floats [lo, hi) */
		unsigned cols = l < k->n && lo < hi ? (1u << hi) - (1u << lo) : 0;
		q->at[l] = (ptrdiff_t)y0 * x->ld + x0;
		for (int y = 0; y < c->alpha; y++)
			q->mask[y][l] = (uint16_t)(y0 + y >= 0 && y0 + y < x->h ? cols : 0);
	}
}

/* Columns of V that the products read: whole vectors of tiles, since a last panel with no
 * tile in its second half runs gemm1 (on P4CNN's 24x24 maps, 36 tiles of 48 columns:
 * 40 are read). */
static int wino_live(const gq_conv *c)
{
	return round_up(c->tiles, c->kern->v);
}

/* The end of the columns of V that the products read of a block of tiles [t0, t1): its
 * vectors from t0 on that hold a tile (wino_live where t0 is a multiple of V). */
static int wino_end(const gq_conv *c, int t0, int t1)
{
	int last = min_int(t1, c->tiles);
	return last > t0 ? min_int(t1, t0 + round_up(last - t0, c->kern->v)) : t0;
}

/* Input channels [ci0, ci1) of tiles [t0, t1) (any t0 and t1, the vectors from t0 on to the
 * last): each patch, transformed, into V in panels of 2V tiles from t0 on (vstride floats
 * from one of the alpha^2 planes to the next; portable). */
static void wino_input_c(const gq_conv *c, float *V, size_t vstride, const Input *x, int ci0,
        int ci1, int t0, int t1)
{
	int a = c->alpha, nr = 2 * c->kern->v;
	Lane d[81];
	Chunk k;
	Patches q;
	for (int t = t0; t < wino_end(c, t0, t1); t += LANES) {
		chunk_at(c, t, t1, &k);
		patches_at(c, &k, x, &q);
		for (int ci = ci0; ci < ci1; ci++) {
			const float *xc = x->x + ci * x->plane;
			/* padding and a panel's tail: zeros */
			for (int l = 0; l < LANES; l++)
				for (int y = 0; y < a; y++)
					for (int z = 0; z < a; z++)
						d[y * a + z][l] =
						        q.mask[y][l] >> z & 1
						                ? xc[q.at[l] + y * x->ld + z]
						                : 0.0f;
			in_tf(c->algo, d);
			float *dst =
			        V + ((size_t)((t - t0) / nr) * c->cin + ci) * nr + (t - t0) % nr;
			for (int xi = 0; xi < a * a; xi++)
				memcpy(dst + (size_t)xi * vstride, &d[xi], sizeof(Lane));
		}
	}
}

/* Channels [co0, co1) of an output block (channel co's alpha^2 products at
 * Mb + (co - co0)*cols, xi*mstride apart): tiles [t0, t1) back to pixels, + bias, + the
 * residual add (laid out as out; NULL: none), relu (portable). */
static void wino_output_c(const gq_conv *c, float *out, const float *add, const float *Mb,
        size_t mstride, size_t cols, int co0, int co1, int t0, int t1)
{
	int a = c->alpha, m = c->m;
	Lane d[81];
	Chunk k;
	for (int u = t0; u < t1; u += LANES) {
		chunk_at(c, u, t1, &k);
		for (int co = co0; co < co1; co++) {
			const float *Mc = Mb + (co - co0) * cols + (u - t0);
			for (int xi = 0; xi < a * a; xi++)
				memcpy(&d[xi], Mc + xi * mstride, sizeof(Lane));
			out_tf(c->algo, d);
			size_t plane = (size_t)co * out_plane(c);
			for (int l = 0; l < k.n; l++)
				for (int i = 0; i < m && k.oy[l] + i < c->oh; i++)
					for (int j = 0; j < m && k.ox[l] + j < c->ow; j++) {
						size_t at = plane +
						            (size_t)(k.oy[l] + i) * out_ld(c) +
						            k.ox[l] + j;
						float v = d[i * a + j][l] + c->bias[co] +
						          (add ? add[at] : 0.0f);
						out[at] = c->relu && !(v > 0.0f) ? 0.0f : v;
					}
		}
	}
}

#ifdef GQ_X86
/* r[i][j] = r[j][i] for eight vectors of eight. */
__attribute__((target("avx2,fma"), always_inline)) static inline void transpose8(__m256 r[8])
{
	__m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
	__m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
	__m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
	__m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
	__m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
	__m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
	__m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
	__m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
	__m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
	__m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
	__m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
	__m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
	r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
	r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
	r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
	r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
	r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
	r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
	r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
	r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* The floats j < 8 of p whose bit j of mask is set, zeros elsewhere (the others are not
 * read: they may lie outside the input). */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 load8_masked(
        const float *p, unsigned mask)
{
	const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
	__m256i m = _mm256_and_si256(_mm256_set1_epi32((int)mask), bit);
	return _mm256_maskload_ps(p, _mm256_cmpeq_epi32(m, bit));
}

/* As wino_input_c on one chunk (q: its patches in channel plane x, ld floats a row), but
 * each patch row of eight tiles is eight vector loads and a transpose, not 8 x alpha scalar
 * copies; where a patch crosses the input's edge, masked loads (zeros for the padding).
 * Inlined with the form f constant, so that every loop below unrolls. */
__attribute__((target("avx2,fma"), always_inline)) static inline void input_lanes(const gq_conv *c,
        float *dst, size_t xstride, const float *x, int ld, const Patches *q, const int f,
        const bool whole)
{
	const int a = form_alpha(f);
	Lane d[81];
#pragma GCC unroll 9
	for (int y = 0; y < a; y++) {
		__m256 r[8];
#pragma GCC unroll 8
		for (int l = 0; l < LANES; l++) {
			const float *p = x + q->at[l] + (ptrdiff_t)y * ld;
			r[l] = !whole     ? load8_masked(p, q->mask[y][l])
			       : l < q->n ? _mm256_loadu_ps(p)
			                  : _mm256_setzero_ps();
		}
		transpose8(r);
#pragma GCC unroll 8
		for (int z = 0; z < a && z < 8; z++)
			d[y * a + z] = (Lane)r[z];
		if (a > 8) /* a ninth column: one float of each patch row */
			for (int l = 0; l < LANES; l++)
				d[y * a + 8][l] = q->mask[y][l] >> 8 & 1
				                          ? x[q->at[l] + (ptrdiff_t)y * ld + 8]
				                          : 0.0f;
		in_1d_8(f, d + y * a, 1);
	}
#pragma GCC unroll 9
	for (int z = 0; z < a; z++) {
		in_1d_8(f, d + z, a);
#pragma GCC unroll 9
		for (int y = 0; y < a; y++)
			_mm256_storeu_ps(dst + (y * a + z) * xstride, (__m256)d[y * a + z]);
	}
}

/* Runs CALL(f) with the Winograd form f (c->algo) a constant, so that the loops of what
 * CALL inlines unroll. */
#define BY_FORM(c, CALL)                                                                           \
	switch ((c)->algo) {                                                                       \
	case GQ_CONV_WINO2:                                                                        \
		CALL(GQ_CONV_WINO2);                                                               \
		break;                                                                             \
	case GQ_CONV_WINO4:                                                                        \
		CALL(GQ_CONV_WINO4);                                                               \
		break;                                                                             \
	case GQ_CONV_WINO4R:                                                                       \
		CALL(GQ_CONV_WINO4R);                                                              \
		break;                                                                             \
	case GQ_CONV_WINO6:                                                                        \
		CALL(GQ_CONV_WINO6);                                                               \
		break;                                                                             \
	case GQ_CONV_WINO7:                                                                        \
		CALL(GQ_CONV_WINO7);                                                               \
		break;                                                                             \
	case GQ_CONV_WINO3:                                                                        \
		CALL(GQ_CONV_WINO3);                                                               \
		break;                                                                             \
	case GQ_CONV_WINO3R:                                                                       \
		CALL(GQ_CONV_WINO3R);                                                              \
		break;                                                                             \
	case GQ_CONV_WINO2S2:                                                                      \
		CALL(GQ_CONV_WINO2S2);                                                             \
		break;                                                                             \
	case GQ_CONV_WINO3S2:                                                                      \
		CALL(GQ_CONV_WINO3S2);                                                             \
		break;                                                                             \
	case GQ_CONV_WINO5R:                                                                       \
		CALL(GQ_CONV_WINO5R);                                                              \
		break;                                                                             \
	default:                                                                                   \
		CALL(GQ_CONV_WINO4S2);                                                             \
	}

/* A folded input transform (its patches read from the layer's input, not from a padded
 * copy) fetches the patch rows of the channel FOLD_AHEAD ahead of the one it transforms:
 * its loads jump from plane to plane, which the hardware's prefetchers do not follow.
 * Two threads fold on large maps (wino_units); there, 8 distinct layers in turn (their
 * data cold, as in a model), AVX-512, far vCPUs: 32 channels at 97x97 0.42-0.47 -> 0.37-0.41
 * ms, 64 at 57x57 0.45-0.48 -> 0.40-0.42; one thread, folded, level (hot: the input in
 * L2, where the prefetches only cost). */
enum { FOLD_AHEAD = 2 };

/* Prefetches the rows of channel ci's patches of chunks q[0 .. n), as far as they lie in
 * the plane. */
static inline __attribute__((always_inline)) void fetch_patches(
        const gq_conv *c, const Input *x, int ci, const Patches *q, int n)
{
	const char *plane = (const char *)(x->x + (size_t)ci * x->plane);
	for (int k = 0; k < n; k++) {
		if (q[k].n == 0)
			continue;
		for (int y = 0; y < c->alpha; y++) {
			ptrdiff_t lo = q[k].at[0] + (ptrdiff_t)y * x->ld;
			ptrdiff_t hi = q[k].at[q[k].n - 1] + (ptrdiff_t)y * x->ld + c->alpha;
			lo = lo < 0 ? 0 : lo;
			hi = hi > (ptrdiff_t)x->plane ? (ptrdiff_t)x->plane : hi;
			for (ptrdiff_t b = lo * (ptrdiff_t)sizeof(float) / 64 * 64;
			        b < hi * (ptrdiff_t)sizeof(float); b += 64)
				__builtin_prefetch(plane + b, 0, 3);
		}
	}
}

/* An ISA's input transform NAME (as wino_input_c): a panel's groups of G tiles (G / LANES
 * chunks, each transformed by GROUP) one after the other for each channel, so that each
 * line of V is written whole while it is in L1, not half now and half after every other
 * channel. */
#define WINO_INPUT(NAME, TARGET, G, GROUP)                                                         \
	__attribute__((target(TARGET), always_inline)) static inline void NAME##_f(                \
	        const gq_conv *c, float *V, size_t vstride, const Input *x, int ci0, int ci1,      \
	        int t0, int t1, const int f, const bool whole)                                     \
	{                                                                                          \
		int nr = 2 * c->kern->v, end = wino_end(c, t0, t1);                                \
		Chunk k;                                                                           \
		Patches q[VMAX * 2 / LANES];                                                       \
		for (int t = t0; t < end; t += nr) {                                               \
			int groups = (min_int(nr, end - t) + (G)-1) / (G);                         \
			for (int g = 0; g < groups * (G) / LANES; g++) {                           \
				chunk_at(c, t + g * LANES, t1, &k);                                \
				patches_at(c, &k, x, &q[g]);                                       \
			}                                                                          \
			for (int ci = ci0; ci < ci1; ci++) {                                       \
				float *dst = V + ((size_t)((t - t0) / nr) * c->cin + ci) * nr;     \
				if (!whole && ci + FOLD_AHEAD < c->cin)                            \
					fetch_patches(                                             \
					        c, x, ci + FOLD_AHEAD, q, groups * (G) / LANES);   \
				for (int g = 0; g < groups; g++)                                   \
					GROUP(c, dst + g * (G), vstride, x->x + ci * x->plane,     \
					        x->ld, &q[g * (G) / LANES], f, whole);             \
			}                                                                          \
		}                                                                                  \
	}                                                                                          \
	__attribute__((target(TARGET))) static void NAME(const gq_conv *c, float *V,               \
	        size_t vstride, const Input *x, int ci0, int ci1, int t0, int t1)                  \
	{                                                                                          \
		if (x->whole)                                                                      \
			BY_FORM(c, NAME##_WHOLE)                                                   \
		else                                                                               \
			BY_FORM(c, NAME##_MASKED)                                                  \
	}
#define wino_input_avx2_WHOLE(f)  wino_input_avx2_f(c, V, vstride, x, ci0, ci1, t0, t1, f, true)
#define wino_input_avx2_MASKED(f) wino_input_avx2_f(c, V, vstride, x, ci0, ci1, t0, t1, f, false)
WINO_INPUT(wino_input_avx2, "avx2,fma", LANES, input_lanes)

/* One output row of a tile: m pixels (+ the residual's at s, unless NULL; then the relu),
 * one load and one store unless the image's edge cuts it. */
__attribute__((target("avx2,fma"), always_inline)) static inline void store_row(
        float *p, const float *s, __m256 r, int m, int valid, bool relu)
{
	__m128 x = _mm256_castps256_ps128(r), zero = _mm_setzero_ps();
	if (valid >= m && m == 4) {
		x = s ? _mm_add_ps(x, _mm_loadu_ps(s)) : x;
		_mm_storeu_ps(p, relu ? _mm_max_ps(x, zero) : x);
	} else if (valid >= m && m == 2) {
		x = s ? _mm_add_ps(x, _mm_loadl_pi(zero, (const __m64 *)s)) : x;
		_mm_storel_pi((__m64 *)p, relu ? _mm_max_ps(x, zero) : x);
	} else if (valid >= m && m == 3) { /* two floats, then one */
		x = s ? _mm_add_ps(x, _mm_loadl_pi(zero, (const __m64 *)s)) : x;
		__m128 y = s ? _mm_add_ss(_mm_movehl_ps(x, x), _mm_load_ss(s + 2))
		             : _mm_movehl_ps(x, x);
		_mm_storel_pi((__m64 *)p, relu ? _mm_max_ps(x, zero) : x);
		_mm_store_ss(p + 2, relu ? _mm_max_ss(y, zero) : y);
	} else if (valid >= m && m == 5) { /* four floats, then one */
		__m128 y = _mm256_extractf128_ps(r, 1);
		x = s ? _mm_add_ps(x, _mm_loadu_ps(s)) : x;
		y = s ? _mm_add_ss(y, _mm_load_ss(s + 4)) : y;
		_mm_storeu_ps(p, relu ? _mm_max_ps(x, zero) : x);
		_mm_store_ss(p + 4, relu ? _mm_max_ss(y, zero) : y);
	} else if (valid >= m && m == 6) { /* four floats, then two */
		__m128 y = _mm256_extractf128_ps(r, 1);
		x = s ? _mm_add_ps(x, _mm_loadu_ps(s)) : x;
		y = s ? _mm_add_ps(y, _mm_loadl_pi(zero, (const __m64 *)(s + 4))) : y;
		_mm_storeu_ps(p, relu ? _mm_max_ps(x, zero) : x);
		_mm_storel_pi((__m64 *)(p + 4), relu ? _mm_max_ps(y, zero) : y);
	} else if (valid >= m && m == 7) { /* seven floats under a mask */
		const __m256i m7 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
		r = s ? _mm256_add_ps(r, _mm256_maskload_ps(s, m7)) : r;
		_mm256_maskstore_ps(p, m7, relu ? _mm256_max_ps(r, _mm256_setzero_ps()) : r);
	} else {
		float v[8];
		_mm256_storeu_ps(v, r);
		for (int j = 0; j < valid && j < m; j++) {
			float y = v[j] + (s ? s[j] : 0.0f);
			p[j] = relu && !(y > 0.0f) ? 0.0f : y;
		}
	}
}

/* Output row i of eight tiles, from their m pixel vectors r: w[q] holds the rows
 * of tiles q*8/m .. side by side (12 shuffles for 4x4 tiles, 4 for 2x2, where transpose8
 * took 24 and left each tile's row in a vector of its own). */
__attribute__((target("avx2,fma"), always_inline)) static inline void rows_avx2(
        const __m256 r[4], __m256 w[4], const int m)
{
	__m256 e0 = _mm256_unpacklo_ps(r[0], r[1]), e1 = _mm256_unpackhi_ps(r[0], r[1]);
	if (m == 2) { /* e0: tiles 0, 1 | 4, 5; e1: 2, 3 | 6, 7 */
		w[0] = _mm256_permute2f128_ps(e0, e1, 0x20);
		w[1] = _mm256_permute2f128_ps(e0, e1, 0x31);
		return;
	}
	__m256 e2 = _mm256_unpacklo_ps(r[2], r[3]), e3 = _mm256_unpackhi_ps(r[2], r[3]);
	/* u_p: tile p's row | tile p + 4's */
	__m256 u0 = _mm256_shuffle_ps(e0, e2, 0x44), u1 = _mm256_shuffle_ps(e0, e2, 0xee);
	__m256 u2 = _mm256_shuffle_ps(e1, e3, 0x44), u3 = _mm256_shuffle_ps(e1, e3, 0xee);
	w[0] = _mm256_permute2f128_ps(u0, u1, 0x20);
	w[1] = _mm256_permute2f128_ps(u2, u3, 0x20);
	w[2] = _mm256_permute2f128_ps(u0, u1, 0x31);
	w[3] = _mm256_permute2f128_ps(u2, u3, 0x31);
}

/* Output row i of the 8/m tiles of vector q of chunk k (w: their rows side by side): where
 * they lie side by side inside the image, all m rows of them (plain, at[q]: where row 0
 * goes), one store at a fixed offset with no test; else each tile's row apart (store_row,
 * cut at the image's edge). s: the residual, laid out as out (NULL: none); ow, relu: the
 * layer's, as values (c's would be read again after every store). */
__attribute__((target("avx2,fma"), always_inline)) static inline void store_tiles8(const gq_conv *c,
        float *out, const float *s, const Chunk *k, int q, bool plain, ptrdiff_t at, int i,
        __m256 w, const int m, ptrdiff_t ow, bool relu)
{
	int per = 8 / m, l0 = q * per;
	if (plain) {
		at += i * ow;
		w = s ? _mm256_add_ps(w, _mm256_loadu_ps(s + at)) : w;
		_mm256_storeu_ps(out + at, relu ? _mm256_max_ps(w, _mm256_setzero_ps()) : w);
		return;
	}
	for (int t = 0; t < per && l0 + t < k->n; t++) {
		int l = l0 + t;
		if (k->oy[l] + i >= c->oh)
			continue;
		__m128 x = t * m >= 4 ? _mm256_extractf128_ps(w, 1) : _mm256_castps256_ps128(w);
		x = m == 2 && t % 2 ? _mm_movehl_ps(x, x) : x;
		ptrdiff_t a = (ptrdiff_t)(k->oy[l] + i) * ow + k->ox[l];
		store_row(out + a, s ? s + a : NULL, _mm256_castps128_ps256(x), m, c->ow - k->ox[l],
		        relu);
	}
}

/* Output row i of the eight m x m tiles of chunk k (m 7, 6, 5 or 3), from its m pixel vectors
 * row (+ the residual s laid out as out, or NULL; relu): transposed (tile l's row in vector
 * l), each tile's row stored as four floats and two (m 6), four and one (m 5) or two and one
 * (m 3), cut at the image's edge (no vector holds a whole number of such rows, so each tile is
 * stored apart). */
__attribute__((target("avx2,fma"), always_inline)) static inline void tiles_avx2(
        const gq_conv *c, float *out, const float *s, const Chunk *k, const Lane *row, int i, int m)
{
	__m256 r[8];
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++)
		r[j] = j < m ? (__m256)row[j] : _mm256_setzero_ps();
	transpose8(r);
#pragma GCC unroll 8
	for (int l = 0; l < LANES; l++) {
		if (l >= k->n || k->oy[l] + i >= c->oh)
			continue;
		size_t at = (size_t)(k->oy[l] + i) * out_ld(c) + k->ox[l];
		store_row(out + at, s ? s + at : NULL, r[l], m, c->ow - k->ox[l], c->relu);
	}
}

/* As wino_output_c, with bias, residual and relu on vectors and the tiles' output rows
 * interleaved (rows_avx2; 6x6 and 3x3 tiles: tiles_avx2), written a vector of tiles at a
 * time where they lie side by side in the image (whether they do: once for all channels and rows of
 * the chunk); f constant as above. */
__attribute__((target("avx2,fma"), always_inline)) static inline void wino_output_avx2_f(
        const gq_conv *c, float *out, const float *add, const float *Mb, size_t mstride,
        size_t cols, int co0, int co1, int t0, int t1, const int f)
{
	const int a = form_alpha(f), m = form_m(f), per = 8 / m;
	Lane d[81];
	Chunk k;
	const ptrdiff_t ow = out_ld(c);
	const bool relu = c->relu;
	bool plain[4];
	ptrdiff_t at[4];
	for (int u = t0; u < t1; u += LANES) {
		chunk_at(c, u, t1, &k);
		for (int q = 0; q < m && m <= 4; q++) { /* once for all channels and rows */
			int l = q * per + per - 1, oy = k.oy[q * per];
			plain[q] =
			        l < k.n && k.oy[l] == oy && k.ox[l] + m <= c->ow && oy + m <= c->oh;
			at[q] = oy * ow + k.ox[q * per];
		}
		for (int co = co0; co < co1; co++) {
			const float *Mc = Mb + (co - co0) * cols + (u - t0);
			__m256 bias = _mm256_set1_ps(c->bias[co]);
			size_t plane = (size_t)co * out_plane(c);
#pragma GCC unroll 9
			for (int y = 0; y < a; y++) {
#pragma GCC unroll 9
				for (int z = 0; z < a; z++)
					d[y * a + z] =
					        (Lane)_mm256_loadu_ps(Mc + (y * a + z) * mstride);
				if (y == 1) /* the bias, to every pixel (out_1d) */
					d[a + 1] += (Lane)bias;
				out_1d_8(f, d + y * a, 1);
			}
#pragma GCC unroll 7
			for (int x = 0; x < m; x++)
				out_1d_8(f, d + x, a);
#pragma GCC unroll 7
			for (int i = 0; i < m; i++) {
				if (m >= 6 || m == 5 || m == 3) {
					tiles_avx2(c, out + plane, add ? add + plane : NULL, &k,
					        d + i * a, i, m);
					continue;
				}
				__m256 r[4], w[4];
#pragma GCC unroll 4
				for (int j = 0; j < m; j++)
					r[j] = (__m256)d[i * a + j];
				rows_avx2(r, w, m);
#pragma GCC unroll 4
				for (int q = 0; q < m; q++)
					store_tiles8(c, out + plane, add ? add + plane : NULL, &k,
					        q, plain[q], at[q], i, w[q], m, ow, relu);
			}
		}
	}
}

__attribute__((target("avx2,fma"))) static void wino_output_avx2(const gq_conv *c, float *out,
        const float *add, const float *Mb, size_t mstride, size_t cols, int co0, int co1, int t0,
        int t1)
{
#define WINO_OUT(f) wino_output_avx2_f(c, out, add, Mb, mstride, cols, co0, co1, t0, t1, f)
	BY_FORM(c, WINO_OUT)
#undef WINO_OUT
}

/* The first two of transpose8's three steps on eight AVX-512 rows, in each 128-bit lane:
 * u[j + 4 q]'s lane holds float j of rows 4 q .. 4 q + 3. */
__attribute__((target("avx512f"), always_inline)) static inline void interleave4(
        const __m512 r[8], __m512 u[8])
{
	__m512 t[8];
#pragma GCC unroll 4
	for (int j = 0; j < 8; j += 2) {
		t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
		t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
	}
#pragma GCC unroll 2
	for (int j = 0; j < 8; j += 4) {
		u[j] = _mm512_shuffle_ps(t[j], t[j + 2], 0x44);
		u[j + 1] = _mm512_shuffle_ps(t[j], t[j + 2], 0xee);
		u[j + 2] = _mm512_shuffle_ps(t[j + 1], t[j + 3], 0x44);
		u[j + 3] = _mm512_shuffle_ps(t[j + 1], t[j + 3], 0xee);
	}
}

/* Floats z = z0..z0 + 7 of row y of sixteen tiles' patches (q[0] and q[1], in channel plane
 * x, ld floats a row; zeros for padding and tiles that do not exist): col[z] lane l is tile
 * l's float z0 + z. Each 16-float vector takes two tiles' eight floats (a load into each
 * half: masked unless whole) and the eight vectors are transposed as transpose8 does, in each
 * 256-bit half, the last step across the halves: 24 shuffles for sixteen tiles, where AVX2
 * takes 48. Vector j holds tile A_j (A = 0..3, 8..11) in its low half and A_j + 4 in its high half,
 * so that the 128-bit lanes come out in tile order. */
__attribute__((target("avx512f"), always_inline)) static inline void load_cols16(
        const float *x, int ld, const Patches q[2], int y, int z0, __m512 col[8], const bool whole)
{
	__m512 r[8], u[8];
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++) {
		int ta = j < 4 ? j : j + 4, tb = ta + 4, la = ta % LANES, lb = tb % LANES;
		const Patches *qa = &q[ta / LANES], *qb = &q[tb / LANES];
		const float *pa = x + qa->at[la] + (ptrdiff_t)y * ld + z0;
		const float *pb = x + qb->at[lb] + (ptrdiff_t)y * ld + z0;
		if (whole) { /* plain loads, as two halves */
			__m256 lo = la < qa->n ? _mm256_loadu_ps(pa) : _mm256_setzero_ps();
			__m256 hi = lb < qb->n ? _mm256_loadu_ps(pb) : _mm256_setzero_ps();
			r[j] = _mm512_castpd_ps(
			        _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
			                _mm256_castps_pd(hi), 1));
			continue;
		}
		__mmask16 ma = (qa->mask[y][la] >> z0) & 0xff, mb = (qb->mask[y][lb] >> z0 & 0xff)
		                                                    << 8;
		/* tile tb's floats into the high half: pb - 8's lanes 8..15 */
		r[j] = _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(ma, pa), mb, pb - 8);
	}
	interleave4(r, u);
#pragma GCC unroll 4
	for (int z = 0; z < 4; z++) { /* u[z]: rows 0..3's floats z, z + 4; u[z + 4]: rows 4..7's */
		col[z] = _mm512_shuffle_f32x4(u[z], u[z + 4], 0x88);
		col[z + 4] = _mm512_shuffle_f32x4(u[z], u[z + 4], 0xdd);
	}
}

/* Columns 0..5 of row p of sixteen 6x6 patches that lie side by side in one row (tile l's
 * at p + 4l): 66 consecutive floats, as two windows of 32 for each half (a second one 2
 * floats on, for columns 4 and 5), one two-source permute a half and column and a blend:
 * 8 loads, 12 permutes and 6 blends where load_cols16 takes 16 loads, 8 inserts, 24
 * shuffles and the scalar work of sixteen tile pointers. */
__attribute__((target("avx512f"), always_inline)) static inline void row_cols16(
        const float *p, __m512 col[6])
{
	__m512i idx[4];
#pragma GCC unroll 4
	for (int z = 0; z < 4; z++)
		idx[z] = _mm512_add_epi32(
		        _mm512_set_epi32(28, 24, 20, 16, 12, 8, 4, 0, 28, 24, 20, 16, 12, 8, 4, 0),
		        _mm512_set1_epi32(z));
	__m512 a0 = _mm512_loadu_ps(p), a1 = _mm512_loadu_ps(p + 16);
	__m512 b0 = _mm512_loadu_ps(p + 2), b1 = _mm512_loadu_ps(p + 18);
	__m512 c0 = _mm512_loadu_ps(p + 32), c1 = _mm512_loadu_ps(p + 48);
	__m512 e0 = _mm512_loadu_ps(p + 34), e1 = _mm512_loadu_ps(p + 50);
#pragma GCC unroll 6
	for (int z = 0; z < 6; z++) {
		__m512 lo = z < 4 ? _mm512_permutex2var_ps(a0, idx[z], a1)
		                  : _mm512_permutex2var_ps(b0, idx[z - 2], b1);
		__m512 hi = z < 4 ? _mm512_permutex2var_ps(c0, idx[z], c1)
		                  : _mm512_permutex2var_ps(e0, idx[z - 2], e1);
		col[z] = _mm512_mask_blend_ps(0xff00, lo, hi);
	}
}

/* As input_lanes, on the sixteen tiles of q[0] and q[1]: the transform on 16-float
 * vectors, the transpose as load_cols16 (a ninth column: the first of the next eight). */
__attribute__((target("avx512f"), always_inline)) static inline void input_lanes16(const gq_conv *c,
        float *dst, size_t xstride, const float *x, int ld, const Patches q[2], const int f,
        const bool whole)
{
	const int a = form_alpha(f);
	Lane16 d[81];
	/* All sixteen 4x4 tiles in one row of the padded copy, whose reads (row_cols16's 66
	 * floats) lie inside load_cols16's: tile 15's patch 60 floats on from tile 0's (where
	 * the vector wraps to the next row of tiles, 4 (ld - tw) floats more). The F(4x4)
	 * input transform of a 32-channel 97x97 layer (40% of its vectors in one row) took
	 * 7-8% less time (AVX-512, one thread, per block). */
	bool row = a == 6 && c->s == 1 && whole && q[0].n == LANES && q[1].n == LANES &&
	           q[1].at[LANES - 1] - q[0].at[0] == 60;
#pragma GCC unroll 9
	for (int y = 0; y < a; y++) {
		__m512 col[8];
		if (row)
			row_cols16(x + q[0].at[0] + (ptrdiff_t)y * ld, col);
		else
			load_cols16(x, ld, q, y, 0, col, whole);
#pragma GCC unroll 8
		for (int z = 0; z < a && z < 8; z++)
			d[y * a + z] = (Lane16)col[z];
		if (a > 8) {
			load_cols16(x, ld, q, y, 8, col, false);
			d[y * a + 8] = (Lane16)col[0];
		}
		in_1d_16(f, d + y * a, 1);
	}
#pragma GCC unroll 9
	for (int z = 0; z < a; z++) {
		in_1d_16(f, d + z, a);
#pragma GCC unroll 9
		for (int y = 0; y < a; y++)
			_mm512_storeu_ps(dst + (y * a + z) * xstride, (__m512)d[y * a + z]);
	}
}

#define wino_input_avx512_WHOLE(f) wino_input_avx512_f(c, V, vstride, x, ci0, ci1, t0, t1, f, true)
#define wino_input_avx512_MASKED(f)                                                                \
	wino_input_avx512_f(c, V, vstride, x, ci0, ci1, t0, t1, f, false)
WINO_INPUT(wino_input_avx512, "avx512f", 2 * LANES, input_lanes16)

/* Where a vector of 16/m tiles' output rows (its tiles' rows one after the other) goes in
 * an output plane: a masked store for each run of its tiles that lie side by side in one
 * tile row, their pixels cut at the image's edge (the masked-off floats are not touched);
 * at: where the vector would start, for row 0 of the tiles, for the run's lanes to land on
 * its pixels. A vector of tiles inside one row is one store, one that wraps to the next
 * row two, where a store for each tile took four. */
typedef struct Segment {
	ptrdiff_t at;
	int oy;
	__mmask16 mask;
} Segment;

typedef struct Stores {
	int n[4];        /* segments of vector g */
	bool plain[4];   /* vector g: one segment of all 16 floats, all m rows inside the image */
	Segment s[4][8]; /* [vector][segment] */
} Stores;

/* The stores of the sixteen tiles of chunks k[0] and k[1], m vectors of them: once for all
 * the output channels and rows of the group. */
static void plan_stores(const gq_conv *c, const Chunk k[2], int m, Stores *st)
{
	int per = 16 / m;
	for (int g = 0; g < (16 + per - 1) / per; g++) { /* m = 3: 5, 5, 5 and 1 tiles */
		st->n[g] = 0;
		for (int t = 0, e; t < per; t = e) {
			int l = g * per + t;
			const Chunk *ch = &k[l / LANES];
			if (l >= 16 || l % LANES >= ch->n)
				break;
			int oy = ch->oy[l % LANES], ox = ch->ox[l % LANES];
			for (e = t + 1; e < per; e++) {
				const Chunk *ce = &k[(l + e - t) / LANES];
				int le = (l + e - t) % LANES;
				if (l + e - t >= 16 || le >= ce->n || ce->oy[le] != oy)
					break;
			}
			int cols = min_int(m * (e - t), c->ow - ox);
			st->s[g][st->n[g]++] = (Segment){(ptrdiff_t)oy * out_ld(c) + ox - m * t, oy,
			        (__mmask16)(((1u << cols) - 1) << (m * t))};
		}
		st->plain[g] =
		        st->n[g] == 1 && st->s[g][0].mask == 0xffff && st->s[g][0].oy + m <= c->oh;
	}
}

/* Rows 0 .. m - 1 of vector g of the group (w[i][g]: row i's, its tiles' rows side by side),
 * + the residual s (laid out as out; NULL: none), relu; ow, relu: the layer's, as values
 * (c's would be read again after every store). A plain vector (most) is m plain loads and
 * stores a row apart, with no test a row; the others a masked store for each segment and
 * row inside the image. */
__attribute__((target("avx512f"), always_inline)) static inline void store_tiles(const gq_conv *c,
        float *out, const float *s, const Stores *st, int g, const __m512 w[4][4], const int m,
        ptrdiff_t ow, bool relu)
{
	if (st->plain[g]) {
		ptrdiff_t at = st->s[g][0].at;
#pragma GCC unroll 4
		for (int i = 0; i < m; i++, at += ow) {
			__m512 v = s ? _mm512_add_ps(w[i][g], _mm512_loadu_ps(s + at)) : w[i][g];
			_mm512_storeu_ps(
			        out + at, relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v);
		}
		return;
	}
#pragma GCC unroll 4
	for (int i = 0; i < m; i++)
		for (int j = 0; j < st->n[g]; j++) {
			const Segment *sg = &st->s[g][j];
			if (sg->oy + i >= c->oh)
				continue;
			ptrdiff_t at = sg->at + i * ow;
			__m512 v =
			        s ? _mm512_add_ps(w[i][g], _mm512_maskz_loadu_ps(sg->mask, s + at))
			          : w[i][g];
			_mm512_mask_storeu_ps(out + at, sg->mask,
			        relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v);
		}
}

/* Output row i of sixteen 4x4 tiles, from its four pixel vectors r: pixels 0, 1 and 2, 3
 * of each tile side by side (t), then the tiles' rows (w[q] holding tiles 4q .. 4q + 3), each
 * vector by one two-source permute: 8 where unpacks and lane shuffles took 16. */
__attribute__((target("avx512f"), always_inline)) static inline void rows_of4(
        const __m512 r[4], __m512 w[4])
{
	const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
	const __m512i hi =
	        _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
	const __m512i q0 = _mm512_set_epi32(23, 22, 7, 6, 21, 20, 5, 4, 19, 18, 3, 2, 17, 16, 1, 0);
	const __m512i q1 =
	        _mm512_set_epi32(31, 30, 15, 14, 29, 28, 13, 12, 27, 26, 11, 10, 25, 24, 9, 8);
	/* t0: tiles 0..7's pixels 0, 1; t1: tiles 8..15's; t2, t3: pixels 2, 3 */
	__m512 t0 = _mm512_permutex2var_ps(r[0], lo, r[1]);
	__m512 t1 = _mm512_permutex2var_ps(r[0], hi, r[1]);
	__m512 t2 = _mm512_permutex2var_ps(r[2], lo, r[3]);
	__m512 t3 = _mm512_permutex2var_ps(r[2], hi, r[3]);
	w[0] = _mm512_permutex2var_ps(t0, q0, t2);
	w[1] = _mm512_permutex2var_ps(t0, q1, t2);
	w[2] = _mm512_permutex2var_ps(t1, q0, t3);
	w[3] = _mm512_permutex2var_ps(t1, q1, t3);
}

/* rows_of3's permutes: [vector][r[0] and r[1], r[2]][float] */
static const int32_t ROWS3[4][2][16] __attribute__((aligned(64))) = {
        {{0, 16, 0, 1, 17, 1, 2, 18, 2, 3, 19, 3, 4, 20, 4, 5},
                {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5}},
        {{5, 21, 5, 6, 22, 6, 7, 23, 7, 8, 24, 8, 9, 25, 9, 10},
                {5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10}},
        {{10, 26, 10, 11, 27, 11, 12, 28, 12, 13, 29, 13, 14, 30, 14, 15},
                {10, 10, 10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15}},
        {{15, 31, 15, 15, 31, 15, 15, 31, 15, 15, 31, 15, 15, 31, 15, 15},
                {15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15}},
};

/* Output row i of sixteen 3x3 tiles, from its three pixel vectors r: the rows of tiles
 * 5g .. 5g + 4 side by side in floats 0..14 of w[g] (w[3]: tile 15's in 0..2), each vector
 * from r[0], r[1] by one two-source permute and r[2]'s floats merged by a masked one. */
__attribute__((target("avx512f"), always_inline)) static inline void rows_of3(
        const __m512 r[3], __m512 w[4])
{
#pragma GCC unroll 4
	for (int g = 0; g < 4; g++)
		w[g] = _mm512_mask_permutexvar_ps(
		        _mm512_permutex2var_ps(r[0], _mm512_load_si512(ROWS3[g][0]), r[1]), 0x4924,
		        _mm512_load_si512(ROWS3[g][1]), r[2]);
}

/* Where the rows of sixteen 6x6 (or 7x7: m) tiles go, as eight pairs of tiles (2p, 2p + 1),
 * a pair's two rows side by side in the floats 0..11 (0..13) of a vector: one masked store
 * where the two lie side by side in the image, else one for each (at: where the vector
 * would start, for row 0 of the tiles; mask: the floats that exist, cut at the image's
 * edge); where the next pair follows it in the image (wide), a plain store of all 16
 * floats, whose last 4 (2) the next pair's store then overwrites: with partial masks, the
 * stores took half the output transform's time (AVX-512, Zen 5). Once for all the output
 * channels and rows. */
typedef struct Stores6 {
	int n[8];
	bool wide[8];
	Segment s[8][2];
} Stores6;

static void plan_stores6(const gq_conv *c, const Chunk k[2], int m, Stores6 *st)
{
	for (int p = 0; p < 8; p++) {
		const Chunk *ch = &k[p / 4];
		int l = 2 * p % LANES, oy = ch->oy[l], ox = ch->ox[l];
		st->n[p] = 0;
		if (l >= ch->n)
			continue;
		bool both = l + 1 < ch->n, beside = both && ch->oy[l + 1] == oy;
		int cols = min_int(beside ? 2 * m : m, c->ow - ox);
		st->s[p][st->n[p]++] = (Segment){
		        (ptrdiff_t)oy * out_ld(c) + ox, oy, (__mmask16)((1u << cols) - 1)};
		if (both && !beside) {
			int y1 = ch->oy[l + 1], x1 = ch->ox[l + 1];
			st->s[p][st->n[p]++] = (Segment){(ptrdiff_t)y1 * out_ld(c) + x1 - m, y1,
			        (__mmask16)(((1u << min_int(m, c->ow - x1)) - 1) << m)};
		}
	}
	unsigned pair = (1u << 2 * m) - 1, over = (1u << (16 - 2 * m)) - 1;
	for (int p = 0; p < 7; p++) /* the 4 (m 7: 2) floats over: in the next pair's store */
		st->wide[p] = st->n[p] == 1 && st->s[p][0].mask == pair && st->n[p + 1] &&
		              st->s[p + 1][0].oy == st->s[p][0].oy &&
		              st->s[p + 1][0].at == st->s[p][0].at + 2 * m &&
		              (st->s[p + 1][0].mask & over) == over;
	st->wide[7] = false;
}

/* Output row i of sixteen 6x6 (mt 6) or 7x7 (mt 7) tiles, from its mt pixel vectors row (+ the
 * residual s laid out as out, or NULL; relu): transposed in each 256-bit half as transpose8 does
 * (tile l's row in the low half of vector l, tile l + 8's in the high half), then paired
 * (plan_stores6). All the residual's floats are read before any store, for the plain
 * stores' overrun (into the next pair's floats) where the residual is out itself. */
__attribute__((target("avx512f"), always_inline)) static inline void tiles6_avx512(const gq_conv *c,
        float *out, const float *s, const Stores6 *st, const Lane16 *row, int i, const int mt)
{
	const __m512i lo =
	        _mm512_set_epi32(27, 26, 25, 24, 11, 10, 9, 8, 19, 18, 17, 16, 3, 2, 1, 0);
	const __m512i hi =
	        _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 23, 22, 21, 20, 7, 6, 5, 4);
	const __m512i pair_lo =
	        mt == 6 ? _mm512_set_epi32(0, 0, 0, 0, 21, 20, 19, 18, 17, 16, 5, 4, 3, 2, 1, 0)
	                : _mm512_set_epi32(0, 0, 22, 21, 20, 19, 18, 17, 16, 6, 5, 4, 3, 2, 1, 0);
	const __m512i pair_hi =
	        mt == 6 ? _mm512_set_epi32(0, 0, 0, 0, 29, 28, 27, 26, 25, 24, 13, 12, 11, 10, 9, 8)
	                : _mm512_set_epi32(
	                          0, 0, 30, 29, 28, 27, 26, 25, 24, 14, 13, 12, 11, 10, 9, 8);
	__m512 r[8], u[8];
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++)
		r[j] = j < mt ? (__m512)row[j] : _mm512_setzero_ps();
	interleave4(r, u);
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		r[j] = _mm512_permutex2var_ps(u[j], lo, u[j + 4]);
		r[j + 4] = _mm512_permutex2var_ps(u[j], hi, u[j + 4]);
	}
	__m512 v[8];
	__mmask16 m[8][2];
	ptrdiff_t at[8][2];
#pragma GCC unroll 8
	for (int p = 0; p < 8; p++) {
		int l = 2 * p % LANES, n = st->n[p];
		v[p] = _mm512_permutex2var_ps(r[l], p < 4 ? pair_lo : pair_hi, r[l + 1]);
		m[p][0] = n && st->s[p][0].oy + i < c->oh ? st->s[p][0].mask : 0;
		m[p][1] = n > 1 && st->s[p][1].oy + i < c->oh ? st->s[p][1].mask : 0;
		at[p][0] = n ? st->s[p][0].at + (ptrdiff_t)i * out_ld(c) : 0;
		at[p][1] = n ? st->s[p][n - 1].at + (ptrdiff_t)i * out_ld(c) : 0;
		if (!(m[p][0] | m[p][1]))
			continue;
		if (s && st->wide[p] && m[p][0])
			v[p] = _mm512_add_ps(v[p], _mm512_loadu_ps(s + at[p][0]));
		else if (s)
			v[p] = _mm512_add_ps(v[p],
			        _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(m[p][0], s + at[p][0]),
			                m[p][1], s + at[p][1]));
		v[p] = c->relu ? _mm512_max_ps(v[p], _mm512_setzero_ps()) : v[p];
	}
#pragma GCC unroll 8
	for (int p = 0; p < 8; p++) {
		if (st->wide[p] && m[p][0]) {
			_mm512_storeu_ps(out + at[p][0], v[p]);
			continue;
		}
		if (m[p][0])
			_mm512_mask_storeu_ps(out + at[p][0], m[p][0], v[p]);
		if (m[p][1])
			_mm512_mask_storeu_ps(out + at[p][1], m[p][1], v[p]);
	}
}

/* Output row i of sixteen 5x5 tiles (chunks k[0], k[1]), from its five pixel vectors row
 * (+ the residual s laid out as out, or NULL; relu): transposed in each 256-bit half as
 * tiles6_avx512 does, then each tile's row one masked store of five floats, cut at the
 * image's edge. */
__attribute__((target("avx512f"), always_inline)) static inline void tiles5_avx512(
        const gq_conv *c, float *out, const float *s, const Chunk k[2], const Lane16 *row, int i)
{
	const __m512i lo =
	        _mm512_set_epi32(27, 26, 25, 24, 11, 10, 9, 8, 19, 18, 17, 16, 3, 2, 1, 0);
	const __m512i hi =
	        _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 23, 22, 21, 20, 7, 6, 5, 4);
	__m512 r[8], u[8];
#pragma GCC unroll 5
	for (int j = 0; j < 5; j++)
		r[j] = (__m512)row[j];
	r[5] = r[6] = r[7] = _mm512_setzero_ps();
	interleave4(r, u);
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++) {
		r[j] = _mm512_permutex2var_ps(u[j], lo, u[j + 4]);
		r[j + 4] = _mm512_permutex2var_ps(u[j], hi, u[j + 4]);
	}
	const ptrdiff_t ld = out_ld(c);
#pragma GCC unroll 2
	for (int h = 0; h < 2; h++) {
		const Chunk *ch = &k[h];
#pragma GCC unroll 8
		for (int l = 0; l < LANES; l++) {
			if (l >= ch->n || ch->oy[l] + i >= c->oh)
				continue;
			__m512 v = h ? _mm512_shuffle_f32x4(r[l], r[l], 0xee) : r[l];
			ptrdiff_t at = (ptrdiff_t)(ch->oy[l] + i) * ld + ch->ox[l];
			__mmask16 m = (__mmask16)((1u << min_int(5, c->ow - ch->ox[l])) - 1);
			v = s ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, s + at)) : v;
			v = c->relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v;
			_mm512_mask_storeu_ps(out + at, m, v);
		}
	}
}

/* As wino_output_avx2, on sixteen tiles at once: the transform in 16-float vectors, and each
 * output row of the sixteen tiles interleaved from the m pixel vectors into 16m floats, 16/m
 * tiles to a vector (rows_of4; for 2x2 tiles, two permutes). Eight tiles at a time, the
 * output transform was 18% of ResNet-44's time on AVX-512. f constant. */
__attribute__((target("avx512f"), always_inline)) static inline void wino_output_avx512_f(
        const gq_conv *c, float *out, const float *add, const float *Mb, size_t mstride,
        size_t cols, int co0, int co1, int t0, int t1, const int f)
{
	const int a = form_alpha(f), m = form_m(f), nv = m == 3 ? 4 : m; /* vectors of rows */
	/* pairs: (r0, r1)[j] for the tiles j of the first and of the last eight */
	const __m512i pair0 =
	        _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
	const __m512i pair1 =
	        _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
	Lane16 d[81];
	Chunk k[2];
	Stores st;
	Stores6 st6;
	const ptrdiff_t ow = out_ld(c);
	const bool relu = c->relu;
	for (int u = t0; u < t1; u += 16) {
		chunk_at(c, u, t1, &k[0]);
		chunk_at(c, u + LANES, t1, &k[1]); /* sixteen tiles, as two chunks of eight */
		if (m >= 6)
			plan_stores6(c, k, m, &st6);
		else if (m != 5) /* 5x5: each tile's row apart (tiles5_avx512) */
			plan_stores(c, k, m, &st);
		for (int co = co0; co < co1; co++) {
			const float *Mc = Mb + (co - co0) * cols + (u - t0);
			__m512 bias = _mm512_set1_ps(c->bias[co]);
			size_t plane = (size_t)co * out_plane(c);
			float *o = out + plane;
			const float *s = add ? add + plane : NULL;
#pragma GCC unroll 9
			for (int y = 0; y < a; y++) {
#pragma GCC unroll 9
				for (int z = 0; z < a; z++)
					d[y * a + z] =
					        (Lane16)_mm512_loadu_ps(Mc + (y * a + z) * mstride);
				if (y == 1) /* the bias, to every pixel (out_1d) */
					d[a + 1] += (Lane16)bias;
				out_1d_16(f, d + y * a, 1);
			}
#pragma GCC unroll 7
			for (int x = 0; x < m; x++)
				out_1d_16(f, d + x, a);
			if (m >= 6) {
#pragma GCC unroll 7
				for (int i = 0; i < m; i++)
					tiles6_avx512(c, o, s, &st6, d + i * a, i, m);
				continue;
			}
			if (m == 5) {
#pragma GCC unroll 5
				for (int i = 0; i < m; i++)
					tiles5_avx512(c, o, s, k, d + i * a, i);
				continue;
			}
			__m512 w[4][4]; /* [row][vector]: all m rows, then each vector's stores */
#pragma GCC unroll 4
			for (int i = 0; i < m; i++) {
				__m512 r[4];
#pragma GCC unroll 4
				for (int j = 0; j < m; j++)
					r[j] = (__m512)d[i * a + j];
				if (m == 4) {
					rows_of4(r, w[i]);
				} else if (m == 3) {
					rows_of3(r, w[i]);
				} else {
					w[i][0] = _mm512_permutex2var_ps(r[0], pair0, r[1]);
					w[i][1] = _mm512_permutex2var_ps(r[0], pair1, r[1]);
				}
			}
#pragma GCC unroll 4
			for (int g = 0; g < nv; g++)
				store_tiles(c, o, s, &st, g, w, m, ow, relu);
		}
	}
}

__attribute__((target("avx512f"))) static void wino_output_avx512(const gq_conv *c, float *out,
        const float *add, const float *Mb, size_t mstride, size_t cols, int co0, int co1, int t0,
        int t1)
{
#define WINO_OUT(f) wino_output_avx512_f(c, out, add, Mb, mstride, cols, co0, co1, t0, t1, f)
	BY_FORM(c, WINO_OUT)
#undef WINO_OUT
}
#endif

/* Best first. */
static const Kernel kernels[] = {
#ifdef GQ_X86
        {"avx512", 16,
                {{MR, gemm_avx512, gemm1_avx512, direct_avx512, ggemm_avx512},
                        {MR8, gemm8_avx512, gemm1_8_avx512, direct8_avx512, ggemm8_avx512}},
                narrow_avx512, NROWS, narrow_out_avx512, dnarrow_avx512, gnarrow_avx512,
                wino_input_avx512, wino_output_avx512, has_avx512},
        {"avx2", 8, {{MR, gemm_avx2, gemm1_avx2, direct_avx2, ggemm_avx2}}, narrow_avx2, 6,
                narrow_out_avx2, dnarrow_avx2, gnarrow_avx2, wino_input_avx2, wino_output_avx2,
                has_avx2},
#endif
        {"c", VC, {{MR, gemm_c, gemm1_c, direct_c, ggemm_c}}, narrow_c, NROWS_C, narrow_out_c,
                dnarrow_c, gnarrow_c, wino_input_c, wino_output_c, always},
};
enum { NKERNELS = sizeof kernels / sizeof kernels[0] };

/* The kernels of a packed group plan's calls on two elements' tiles (wino_group_packed):
 * those of 9-tile elements (9x9 maps by F(3x3) or F(4x4)) in calls of 12 rows (AVX-512,
 * c) or 6 (AVX2). */
static const struct {
	const char *isa;
	int r1, r2;
	gnarrow2_fn *fn;
} gnarrow2s[] = {
#ifdef GQ_X86
        {"avx512", 3, 9, gnarrow2_avx512_12_3},
        {"avx512", 6, 6, gnarrow2_avx512_12_6},
        {"avx512", 9, 3, gnarrow2_avx512_12_9},
        {"avx2", 3, 3, gnarrow2_avx2_6_3},
#endif
        {"c", 3, 9, gnarrow2_c12_3},
        {"c", 6, 6, gnarrow2_c12_6},
        {"c", 9, 3, gnarrow2_c12_9},
};

static gnarrow2_fn *gnarrow2_for(const Kernel *k, int r1, int r2)
{
	for (size_t i = 0; i < sizeof gnarrow2s / sizeof gnarrow2s[0]; i++)
		if (!strcmp(gnarrow2s[i].isa, k->name) && gnarrow2s[i].r1 == r1 &&
		        gnarrow2s[i].r2 == r2)
			return gnarrow2s[i].fn;
	return NULL;
}

static narrow_out2_fn *narrow_out2_for(const Kernel *k)
{
#ifdef GQ_X86
	if (!strcmp(k->name, "avx512"))
		return narrow_out2_avx512;
	if (!strcmp(k->name, "avx2"))
		return narrow_out2_avx2;
#endif
	return narrow_out2_c;
}

static const Kernel *chosen; /* NULL: the best the CPU runs, or GEQRT_KERNEL's */

/* The environment's GEQRT_KERNEL, if the CPU runs it: an AVX-512 machine can time and test
 * its AVX2 path in any executable (`make bench BENCH_ISA=avx2`). */
static const Kernel *env_kernel(void)
{
	const char *name = getenv("GEQRT_KERNEL");
	for (int i = 0; i < NKERNELS && name; i++)
		if (!strcmp(name, kernels[i].name) && kernels[i].available())
			return &kernels[i];
	return NULL;
}

static const Kernel *current_kernel(void)
{
	const Kernel *k = chosen ? chosen : env_kernel();
	for (int i = 0; i < NKERNELS && !k; i++)
		if (kernels[i].available())
			k = &kernels[i];
	return k;
}

const char *gq_conv_kernel(void)
{
	return current_kernel()->name;
}

int gq_conv_use_kernel(const char *name)
{
	for (int i = 0; i < NKERNELS; i++)
		if ((!name || !strcmp(name, kernels[i].name)) && kernels[i].available()) {
			chosen = name ? &kernels[i] : NULL;
			return 0;
		}
	return -1;
}

/* ---- the plan ---- */

static void set_panels(gq_conv *c, int mr);
static void set_wide(gq_conv *c, int ch);
static int wide_mr(const gq_conv *c, int ch);

/* What a narrow direct run costs beyond its multiply-adds, in rows of K: its results stored
 * transposed (narrow_out), as NARROW_STORE for Winograd's narrow products. */
enum { DNARROW_STORE = 16 };

/* Bytes of filters up to which a direct plan may run narrow: every run of up to nrows
 * pixels reads all of them, which must stay in L1 (48 KB) or close to it. */
enum { DNARROW_BANK = 64 * 1024 };

/* Whether the direct path runs narrow (output channels in the vectors, up to nrows pixels
 * of an output row broadcast, all of K in one call): the wide kernel's runs of V pixels
 * end past the row (ResNet-18's 7x7 lift, 113 pixels a row: 128 computed on AVX-512, the
 * last run of each through a scratch tile), the narrow one's stop at its end, at the
 * price of the transposed stores. Only where K is one block (kdim <= KC), the bank small
 * (DNARROW_BANK: a 1x1 stride-2 shortcut of 256 -> 512 channels at 8x8, its 512 KB bank
 * read once a row, took 1.3x packed's time) and the output more than a pixel
 * (dot_panels). */
static bool narrow_direct_pays(const gq_conv *c, int per_row)
{
	int v = c->kern->v, co = round_up(c->cout, 2 * v);
	if (c->kdim > KC || c->oh * c->ow == 1 ||
	        (size_t)co * c->kdim * sizeof(float) > DNARROW_BANK)
		return false;
	double wide = (double)round_up(c->cout, wide_mr(c, c->cout)) * c->kdim * per_row * v;
	return (double)co * (c->kdim + DNARROW_STORE) * c->ow < wide;
}

/* The direct path's geometry: runs of V pixels on each output row, paired into tiles. The
 * padded input is split into s x s phase planes of hp x wq, phase (a, b) holding padded
 * pixels (r*s + a, col*s + b): tap (ky, kx) of output (oy, ox) reads phase
 * (ky*d % s, kx*d % s) at (oy + ky*d/s, ox + kx*d/s), so a run's inputs are V consecutive
 * floats at any stride. The planes are wide enough that every load of every run (even past
 * the row's end, for pixels computed and dropped) stays inside. */
static void plan_direct(gq_conv *c)
{
	int v = c->kern->v, per_row = (c->ow + v - 1) / v, reach = (c->k - 1) * c->d / c->s;
	c->hp = c->oh + reach;
	c->wq = per_row * v + reach;
	if (narrow_direct_pays(c, per_row)) {
		c->narrow = true;
		set_panels(c, 2 * v);
		c->cib = c->cin;
		per_row = (c->ow + c->kern->nrows - 1) / c->kern->nrows;
	}
	c->runs = c->oh * per_row;
	c->tiles = (c->runs + 1) / 2;
}

/* tapoff[ky*k + kx], given the phase planes (one input channel is s*s of them). */
static void direct_taps(gq_conv *c)
{
	for (int ky = 0; ky < c->k; ky++)
		for (int kx = 0; kx < c->k; kx++) {
			int a = ky * c->d % c->s, b = kx * c->d % c->s;
			c->tapoff[ky * c->k + kx] =
			        ((a * c->s + b) * c->hp + ky * c->d / c->s) * c->wq +
			        kx * c->d / c->s;
		}
}

/* Floats of a thread's transformed-output block (products, in L2). A core's L2 is 1 MB on
 * the Zen 5 measured (lscpu's 2 MiB is both cores'): a fused 64-channel F(4x4) block on
 * AVX-512 (its panel's 295 KB of transformed input, 138-192 KB of products) leaves less room
 * than the layer's 590 KB bank, which transform_fetching prefetches. Halving this (smaller
 * blocks of output channels) was level at batch 1 on two threads (AVX-512, 16 distinct
 * layers of 64 channels at 33x33 and 57x57 run in turn, alternating in one process under
 * chrt at load 5-8); without the prefetch, the 64-channel layers took 5-17% more time. */
enum { WINO_BLOCK = 48 * 1024 };

static size_t wino_v_floats(const gq_conv *c);
static size_t wino_m_floats(const gq_conv *c);

/* A group plan's columns of each element in its products: its tiles in whole vectors. */
static int group_cols(const gq_conv *c)
{
	return round_up(c->tiles, c->kern->v);
}

static bool is_wino(int algo)
{
	return algo == GQ_CONV_WINO2 || algo == GQ_CONV_WINO4 || algo == GQ_CONV_WINO2S2 ||
	       algo == GQ_CONV_WINO4S2 || algo == GQ_CONV_WINO4R || algo == GQ_CONV_WINO6 ||
	       algo == GQ_CONV_WINO3 || algo == GQ_CONV_WINO3R || algo == GQ_CONV_WINO3S2 ||
	       algo == GQ_CONV_WINO7 || algo == GQ_CONV_WINO5R;
}

/* Winograd, fused: a block is one panel of tiles (split over threads, up to one: see
 * plan_ranges), whose input it transforms itself, by
 * all the output channels of cop panels (as many as fit WINO_BLOCK and, beside the panel's
 * transformed input, a worker's scratch; fewer if that leaves under 8 blocks to share
 * among threads). The transformed input of a panel (alpha^2 x cin x 2V) then stays in the
 * thread's L2 between the transform and the products, where the whole layer's (2.9 MB on
 * a 32-channel 97x97 map) went to L3 and back once for each block of output channels, and
 * the threads' halves of it crossed between their caches: two threads ran such a layer no
 * faster than one. Applies where there are at least two panels of tiles, more than a
 * quarter as many tiles as output channels (FUSED_TILES), and a panel's transformed input
 * fits a worker's scratch (at F(4x4) on AVX-512, up to 128 input channels). Each thread's
 * blocks read all of the filters; with fewer tiles (ResNet-44 p4m's 128 channels at 17x17,
 * 25 tiles) the layer keeps one V for the layer and splits the filters by channels, each
 * read once: fused there, AVX2 at batch 1 on two threads once ran ResNet-44 p4m 15% slower
 * (the filters stream from memory once per image). */
/* A layer whose tiles fill two panels is fused where FUSED_TILES times its tiles outnumber
 * its output channels. It was "where its tiles outnumber them", with a core's L2 assumed 2
 * MB; the L2 is 1 MB, and the whole layer's V of the unfused plan, 1.18 MB for 128
 * channels and 64 tiles, does not fit it. Fused instead, on 16 distinct layers run in turn
 * (alternating with the unfused plan in one process, chrt, load 6-8; one thread, then two):
 * 128 channels at 29x29 on AVX-512 0.81x the time and 0.95-1.02x, on AVX2 0.84x and 0.83x;
 * at 25x25 AVX-512 level, AVX2 0.86x and 0.84x; at 21x21 (36 tiles) AVX-512 level, AVX2
 * 0.80x and 0.87x; 96 channels at 29x29 0.77x and 0.85x (AVX-512), 0.86x and 0.81x (AVX2);
 * 128 channels at 17x17 (25 tiles: not fused) level either way. */
enum { FUSED_TILES = 4 };
static bool plan_fused(gq_conv *c)
{
	int nr = 2 * c->kern->v, a2 = c->alpha * c->alpha;
	int cop = min_int(c->mpanels, WINO_BLOCK / (a2 * c->mr * nr));
	c->fused = true;
	c->tcp = 1;
	c->cop = cop < 1 ? 1 : cop;
	while (c->cop > 1 && (c->tpanels * ((c->mpanels + c->cop - 1) / c->cop) < 8 ||
	                             wino_v_floats(c) + wino_m_floats(c) > GQ_TEAM_SCRATCH))
		c->cop--;
	if (c->tpanels >= 2 && FUSED_TILES * c->tiles > c->cout &&
	        wino_v_floats(c) + wino_m_floats(c) <= GQ_TEAM_SCRATCH)
		return true;
	c->fused = false;
	return false;
}

/* Output channels in panels of mr: wide_mr's for the wide kernels, 2V for the narrow one. */
static void set_panels(gq_conv *c, int mr)
{
	c->mr = mr;
	c->mpanels = (c->cout + mr - 1) / mr;
}

/* The wide kernel's panels for ch channels a panel computes (the output channels, or a
 * group plan's base channels): MR8 rows where the kernel has them (AVX-512: 16 of its 32
 * registers) and they compute fewer channels past ch than MR's do, i.e. for multiples of 8
 * but 24: 64 of 64 instead of 66, 32 of 32 instead of 36. In cache the two tiles run level
 * (docs/batch1.md, s12-tile), so the channels saved are the gain. */
static int wide_mr(const gq_conv *c, int ch)
{
	int mr8 = c->kern->wide[1].mr;
	return mr8 && round_up(ch, mr8) < round_up(ch, MR) ? mr8 : MR;
}

static void set_wide(gq_conv *c, int ch)
{
	int mr = wide_mr(c, ch);
	set_panels(c, mr);
	c->wk = &c->kern->wide[mr == MR ? 0 : 1];
}

/* What a narrow product's call costs beyond its multiply-adds, in input channels (rows of
 * K): its R x 2V results stored transposed (narrow_out). */
enum { NARROW_STORE = 16 };

/* Input channels (K) below which a product is too short for the narrow kernel's calls to
 * pay: P4CNN's 40-channel layer on a 4x4 output (4 tiles) ran 9-10 us wide and 13-14 us
 * narrow in the model (AVX-512, --profile), though alone, repeated, narrow was as fast. */
enum { NARROW_MIN_CIN = 64 };

/* Whether the narrow kernel does a Winograd product faster than the wide one, which
 * computes whole vectors of tiles (gemm1's half panel, one vector of B to six broadcasts,
 * at 7/6 the cost of a multiply-add, being bound by its loads). Fitted to one thread,
 * AVX-512 and AVX2, alternating runs under chrt (load 4-8): with 4 or 9 tiles (8x8 or 9x9
 * maps by F(4x4)) the narrow kernel took half the time or less; 512 channels at 8x8 by
 * F(2x2) (16 tiles) 35-50% less on AVX-512, 256 channels 5-15% less, 256 at 15x15 by
 * F(4x4) (16 tiles) 5-25% less, 128 at 13x13 3% less, 128 at 17x17 (25 tiles) level; on
 * AVX2 a full panel of 16 tiles is 10-25% slower narrow (the wide kernel wastes nothing
 * there), 25 tiles (256 at 9x9 by F(2x2), 128 at 17x17 by F(4x4)) 12% and 5% faster. With
 * the stores one float at a time they cost about 64 rows of K. */
static bool narrow_pays(const gq_conv *c)
{
	int v = c->kern->v, nr = 2 * v, rest = c->tiles % nr;
	if (c->tiles > 2 * nr) /* large maps: fused blocks of tiles (plan_fused) */
		return false;
	if (c->cin < NARROW_MIN_CIN)
		return false;
	double wide = (double)(c->tiles - rest) + (rest > v ? nr : rest ? v * 7.0 / 6 : 0);
	double co_wide = round_up(c->cout, wide_mr(c, c->cout)), co_narrow = round_up(c->cout, nr);
	return co_narrow * c->tiles * (c->cin + NARROW_STORE) < co_wide * c->cin * wide;
}

/* Winograd, narrow, where it pays: output channels in the vectors, 2V of them a panel
 * (the bank packed so), and tiles broadcast, up to the kernel's nrows at a time, so that
 * nothing is computed for tiles that do not exist: on 8x8 and 9x9 maps a product has 4 to
 * 25 tiles, and the wide kernel, 2V tiles in its vectors, computed up to 4 times as many
 * (a 32-tile panel on AVX-512). Every block reads all the tiles' transformed input (a few
 * KB a channel) and its own channels' filters: the threads split the bank, each streaming
 * its share once. Needs a block of one panel of channels to fit a worker's scratch. */
static bool plan_narrow(gq_conv *c)
{
	int nr = 2 * c->kern->v, a2 = c->alpha * c->alpha;
	if (!narrow_pays(c))
		return false;
	c->narrow = true;
	set_panels(c, nr);
	c->cib = c->cin;
	c->tcp = c->tpanels;
	c->cop = WINO_BLOCK / (a2 * nr * c->tcp * nr);
	c->cop = min_int(c->cop < 1 ? 1 : c->cop, (c->mpanels + 3) / 4);
	if (wino_m_floats(c) <= GQ_TEAM_SCRATCH)
		return true;
	c->narrow = false;
	set_wide(c, c->cout);
	c->cib = min_int(c->cin, KC);
	return false;
}

/* Winograd's geometry: m x m output tiles over the output, each reading an alpha x alpha
 * patch (m*s apart) of the plane padded so that every patch is inside it; output blocks of
 * cop panels of channels by tcp panels of tiles whose alpha^2 products fit WINO_BLOCK, at
 * least 8 of them across the channels so that threads share the work evenly. */
static void plan_wino(gq_conv *c)
{
	int m = form_m(c->algo), nr = 2 * c->kern->v, th = (c->oh + m - 1) / m;
	c->m = m;
	c->alpha = form_alpha(c->algo);
	c->tw = (c->ow + m - 1) / m;
	c->tiles = th * c->tw;
	c->tpanels = (c->tiles + nr - 1) / nr;
	int hp = (th - 1) * m * c->s + c->alpha, wq = (c->tw - 1) * m * c->s + c->alpha;
	/* + 1 row: input_lanes' 8-float loads run up to 8 - alpha floats past a patch row, and
	 * past the last row they would read the next channel, which another thread of
	 * the input phase may be padding at that moment (a data race, though the floats read are
	 * never used) */
	c->hp = (hp > c->h + 2 * c->p ? hp : c->h + 2 * c->p) + 1;
	c->wq = wq > c->w + 2 * c->p ? wq : c->w + 2 * c->p;
	c->cib = min_int(c->cin, KC);
	if (plan_narrow(c) || plan_fused(c))
		return;
	c->tcp = min_int(c->tpanels, 4);
	int a2 = c->alpha * c->alpha;
	while (c->tcp > 1 && a2 * c->mr * c->tcp * nr > WINO_BLOCK)
		c->tcp--;
	c->cop = WINO_BLOCK / (a2 * c->mr * c->tcp * nr);
	c->cop = min_int(c->cop < 1 ? 1 : c->cop, (c->mpanels + 7) / 8);
}

/* Multiply-adds (with what the tiles waste), and for Winograd the transforms and im2col
 * the packing, roughly: a float packed, one by one, costs about as much as four
 * multiply-adds done eight at a time. */
static double cost(const gq_conv *c)
{
	double co = (double)c->mpanels * c->mr * (c->grp ? c->grp->ng : 1), nr = 2 * c->kern->v;
	switch (c->algo) {
	case GQ_CONV_DIRECT:
		if (c->narrow)
			return co * (c->kdim + DNARROW_STORE) * c->oh * c->ow;
		return co * c->kdim * c->runs * c->kern->v;
	case GQ_CONV_PACKED:
		return (co + 4) * c->kdim * round_up(c->oh * c->ow, (int)nr);
	case GQ_CONV_PHASE:
		return gq_phase_cost(c->cin, c->h, c->w, c->cout, c->k, c->p);
	default: {
		double t = wino_live(c), a2 = c->alpha * c->alpha;
		return a2 * co * c->cin * t + (c->cin + co) * t * a2 * 4;
	}
	}
}

static bool applies(const gq_conv *c, int algo)
{
	if (algo == GQ_CONV_DIRECT)
		return true;
	if (algo == GQ_CONV_WINO2 || algo == GQ_CONV_WINO4 || algo == GQ_CONV_WINO4R ||
	        algo == GQ_CONV_WINO6 || algo == GQ_CONV_WINO3 || algo == GQ_CONV_WINO3R ||
	        algo == GQ_CONV_WINO7 || algo == GQ_CONV_WINO5R)
		return c->k == 3 && c->s == 1 && c->d == 1;
	if (algo == GQ_CONV_WINO2S2 || algo == GQ_CONV_WINO3S2 || algo == GQ_CONV_WINO4S2)
		return c->k == 3 && c->s == 2 && c->d == 1;
	if (algo == GQ_CONV_PHASE)
		return gq_phase_applies(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d);
	return algo == GQ_CONV_PACKED;
}

static void plan_algo(gq_conv *c, int algo)
{
	c->algo = algo;
	c->fused = false; /* (plan_wino's, for this algorithm only) */
	c->narrow = false;
	set_wide(c, c->cout);
	c->cib = KC / (c->k * c->k) > 0 ? KC / (c->k * c->k) : 1;
	if (algo == GQ_CONV_DIRECT)
		plan_direct(c);
	else if (is_wino(algo))
		plan_wino(c);
}

static size_t packed_a_floats(const gq_conv *c);

/* ---- memory: the packed banks of the plans alive, against the embedder's ceiling ---- */

static _Atomic size_t banks_alive; /* bytes */
static size_t memory_limit;        /* bytes; 0: GEQRT_MEMORY_LIMIT_MB's, or none */

void gq_set_memory_limit(size_t bytes)
{
	memory_limit = bytes;
}

size_t gq_memory_limit(void)
{
	const char *mb = getenv("GEQRT_MEMORY_LIMIT_MB");
	if (memory_limit || !mb)
		return memory_limit;
	char *end;
	unsigned long long n = strtoull(mb, &end, 10);
	return *end || n > SIZE_MAX >> 20 ? 0 : (size_t)n << 20;
}

size_t gq_conv_bytes(const gq_conv *c)
{
	if (c->orbit)
		return gq_orbit_bytes(c->orbit);
	if (c->phase)
		return gq_phase_bytes(c->phase);
	return packed_a_floats(c) * sizeof(float) + (c->full ? gq_conv_bytes(c->full) : 0);
}

size_t gq_conv_banks_alive(void)
{
	return atomic_load(&banks_alive);
}

/* Input channels up to which a layer (a lift from a gray or RGB image) runs direct: with
 * K = cin*k*k so small, what the others pay per element of the product (im2col's packing,
 * Winograd's stores and transforms), which cost() prices for deep layers, is most of their
 * time. One thread, AVX-512, direct against the choice of cost(): 3 -> 32 channels at 97x97
 * 0.17 against 0.25 ms (Winograd), 3 -> 64 7x7 stride 2 at 225x225 1.48 against 2.22 ms
 * (packed), within 5% on the 28-33 pixel lifts. */
enum { LIFT_CIN = 4 };

/* Output pixels from which such a lift (stride 2, K 5..8) may run as a phase plan, where
 * cost() counts it cheaper: its bands' input work is about the same whatever the output
 * channels, and on 23x23 outputs it took 1.06-1.19x direct's time on AVX-512 (one thread,
 * 64 and 16 channels), 0.76-1.14x on AVX2; from 49x49 on, 0.67-0.98x (AVX2 0.52-0.80x). */
enum { PHASE_PIXELS = 32 * 32 };

/* The cheapest algorithm that applies and whose packed bank fits under the ceiling limit
 * (0: none) beside the banks alive (Winograd's is 16/9 or 4 times the filters' size); if
 * none fits, the one with the smallest bank. A lift runs direct, whose bank is the
 * smallest, or where it pays (stride 2, K 5..8, PHASE_PIXELS) the phase plan
 * (conv_phase.c; ResNet-18's lift's bank 110 KB against direct's 37 KB).
 * Stride 2 takes the F(2x2) form, never F(4x4)'s: with 19% fewer multiply-adds
 * than F(2x2)'s, the F(4x4) form (81 products a tile, a bank of 36 transforms against 9,
 * each panel's transformed input 3.2 times as large, past half the 1 MB L2 at 64
 * channels) ran slower on every shape measured: one thread, 16 distinct layers in turn,
 * AVX-512, F(2x2)'s time 0.88x at 64 -> 128 channels 57x57, 0.79x at 128 -> 256 29x29,
 * 0.90x at 32 -> 64 97x97, 0.82x at 128 -> 256 33x33, 0.57x at 256 -> 512 17x17; AVX2
 * 0.96x, 1.02x, 0.92x, 0.77x, 0.65x; one layer repeated (its bank in cache, as an image
 * of a batch finds it) AVX-512 0.79-0.92x, AVX2 0.99-1.01x on the first two, 0.77-0.93x
 * on the others.
 * F(3x3)'s stride-2 form (49 products a 3x3 tile) where it takes at most 0.8x the
 * products of F(2x2)'s (25 a 2x2 tile) on 25 tiles or more (wino3s2_pays): 15x15 outputs
 * (25 tiles against 64, 0.77x), 21x21, 27x27... 128 -> 256 channels 29x29 -> 15x15, 16
 * distinct layers in turn (bench/s2), AVX-512 0.75x the time on two threads and 0.80x on
 * one, AVX2 0.80x and 0.91x. Not on fewer tiles, whose products read the larger bank (25/16)
 * for fewer tiles: 256 -> 512 channels 15x15 -> 8x8 (9 tiles against 16, 1.1x the
 * products) 1.75x the time, 128 -> 256 17x17 -> 9x9 (0.71x the products) 1.03-1.2x on
 * AVX-512 (0.85x on AVX2); nor at 0.87x the products or more (57x57 -> 29x29, 97x97 ->
 * 49x49, 49x49 -> 25x25, 33x33 -> 17x17: 0.97-1.12x). */
static bool wino3s2_pays(const gq_conv *c)
{
	long t3 = (long)((c->oh + 2) / 3) * ((c->ow + 2) / 3);
	long t2 = (long)((c->oh + 1) / 2) * ((c->ow + 1) / 2);
	return t3 >= 25 && 5 * 49 * t3 <= 4 * 25 * t2;
}

static void choose_algo(gq_conv *c, size_t limit)
{
	if (c->cin <= LIFT_CIN) {
		plan_algo(c, GQ_CONV_DIRECT);
		if (applies(c, GQ_CONV_PHASE) && c->oh * c->ow >= PHASE_PIXELS) {
			double direct = cost(c);
			plan_algo(c, GQ_CONV_PHASE);
			if (cost(c) >= direct)
				plan_algo(c, GQ_CONV_DIRECT);
		}
		return;
	}
	static const int order[] = {GQ_CONV_WINO4, GQ_CONV_WINO2, GQ_CONV_WINO2S2, GQ_CONV_WINO3S2,
	        GQ_CONV_DIRECT, GQ_CONV_PACKED};
	size_t alive = gq_conv_banks_alive();
	size_t room = limit > alive ? limit - alive : 0, best_bytes = SIZE_MAX;
	int best = GQ_CONV_PACKED;
	double best_cost = 0;
	for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++) {
		if (!applies(c, order[i]) || (order[i] == GQ_CONV_WINO3S2 && !wino3s2_pays(c)))
			continue;
		plan_algo(c, order[i]);
		double x = cost(c);
		size_t bytes = gq_conv_bytes(c);
		bool fits = !limit || bytes <= room, best_fits = !limit || best_bytes <= room;
		if (best_bytes == SIZE_MAX || (fits && (!best_fits || x < best_cost)) ||
		        (!fits && !best_fits && bytes < best_bytes)) {
			best = order[i];
			best_cost = x;
			best_bytes = bytes;
		}
	}
	plan_algo(c, best);
}

/* Winograd's distinct filter transforms: side^2 of them, where position xi of the alpha^2
 * products takes number wino_mat(xi). A stride-2 form's odd-tap products (the last m of
 * each axis) share one, but in a group plan, whose products read the bank by point. */
static int wino_side(const gq_conv *c)
{
	bool s2 = !c->grp && (c->algo == GQ_CONV_WINO2S2 || c->algo == GQ_CONV_WINO3S2 ||
	                             c->algo == GQ_CONV_WINO4S2);
	return s2 ? c->alpha - c->m + 1 : c->alpha;
}

static int wino_mat(const gq_conv *c, int xi)
{
	int side = wino_side(c), y = xi / c->alpha, x = xi % c->alpha;
	return (y < side ? y : side - 1) * side + (x < side ? x : side - 1);
}

static int wino_mats(const gq_conv *c)
{
	return wino_side(c) * wino_side(c);
}

static size_t packed_a_floats(const gq_conv *c)
{
	return (size_t)c->mpanels * c->mr *
	       (is_wino(c->algo) ? (size_t)wino_mats(c) * c->cin : (size_t)c->kdim);
}

/* The plan's shape, before an algorithm is chosen; false for an empty one. */
static bool plan_shape(
        gq_conv *c, int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu)
{
	if (cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || s < 1 || p < 0 || d < 1)
		return false;
	if ((h + 2 * p - d * (k - 1) - 1) < 0 || (w + 2 * p - d * (k - 1) - 1) < 0)
		return false;
	*c = (gq_conv){.cin = cin, .h = h, .w = w, .cout = cout, .k = k, .s = s, .p = p, .d = d};
	c->oh = (h + 2 * p - d * (k - 1) - 1) / s + 1;
	c->ow = (w + 2 * p - d * (k - 1) - 1) / s + 1;
	c->kdim = cin * k * k;
	c->relu = relu;
	c->kern = current_kernel();
	set_wide(c, cout);
	return true;
}

double gq_conv_estimate(
        int cin, int h, int w, int cout, int k, int s, int p, int d, bool ceiling, size_t *bytes)
{
	gq_conv c;
	*bytes = 0;
	if (!plan_shape(&c, cin, h, w, cout, k, s, p, d, false))
		return -1;
	choose_algo(&c, ceiling ? gq_memory_limit() : 0);
	*bytes = gq_conv_bytes(&c);
	return cost(&c);
}

double gq_conv_estimate_algo(
        int cin, int h, int w, int cout, int k, int s, int p, int d, int algo, size_t *bytes)
{
	gq_conv c;
	*bytes = 0;
	if (!plan_shape(&c, cin, h, w, cout, k, s, p, d, false) || !applies(&c, algo))
		return -1;
	plan_algo(&c, algo);
	*bytes = gq_conv_bytes(&c);
	return cost(&c);
}

/* Whether GEQRT_DUP turns dup_pays off for plan c (its stride set), read once, when the
 * plan is made: =0 never, =s1, =s2 not at that stride (A/B runs, s27-wide, s28-wide). */
static bool dup_off(const gq_conv *c)
{
	const char *e = getenv("GEQRT_DUP");
	return e && (!strcmp(e, "0") || (e[0] == 's' && e[1] - '0' == c->s && !e[2]));
}

gq_conv *gq_conv_new_algo(
        int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu, int algo)
{
	gq_conv *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	if (!plan_shape(c, cin, h, w, cout, k, s, p, d, relu)) {
		free(c);
		return NULL;
	}
	c->no_dup = dup_off(c);
	const char *halves = getenv("GEQRT_HALVES");
	c->no_halves = halves && !strcmp(halves, "0");
	if (algo == GQ_CONV_AUTO)
		choose_algo(c, gq_memory_limit());
	else if (applies(c, algo))
		plan_algo(c, algo);
	else
		algo = -1;
	if (algo >= 0 && c->algo == GQ_CONV_PHASE) {
		if (!(c->phase = gq_phase_new(cin, h, w, cout, k, p, relu))) {
			gq_conv_free(c);
			return NULL;
		}
		atomic_fetch_add(&banks_alive, gq_phase_bytes(c->phase));
		return c;
	}
	if (algo >= 0) {
		c->a = alloc_filters(packed_a_floats(c));
		if (c->a) /* gq_conv_free takes it off */
			atomic_fetch_add(&banks_alive, gq_conv_bytes(c));
		c->bias = calloc((size_t)c->mpanels * c->mr, sizeof *c->bias);
		c->tapoff = calloc((size_t)k * k, sizeof *c->tapoff);
	}
	if (!c->a || !c->bias || !c->tapoff) {
		gq_conv_free(c);
		return NULL;
	}
	if (c->algo == GQ_CONV_DIRECT)
		direct_taps(c);
	return c;
}

gq_conv *gq_conv_new(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu)
{
	return gq_conv_new_algo(cin, h, w, cout, k, s, p, d, relu, GQ_CONV_AUTO);
}

/* A group plan's block: base channels of panels [i0, i1), elements [a0, a1), tiles
 * [t0, t1). */
typedef struct GroupBlock {
	int i0, i1, a0, a1, t0, t1;
} GroupBlock;

/* A group plan's transformed outputs per thread past which it does not apply: half of a
 * core's 1 MB L2, beside the transformed input's slices and the bank. 8x8 and 9x9 maps of
 * 512 planes pass it at F(2x2) (1 MB); 128 planes of p4 at 25x25 at F(4x4) (663 KB) ran
 * 1.3x the expanded plan's time on one thread and 1.15x the orbit's on two (AVX-512). */
enum { GROUP_M = 128 * 1024 };
/* The narrow form writes each product once, not once per K block, and may take twice
 * that: 128 planes of p4 at 25x25 (590 KB a thread) ran 0.32 ms against the orbit's 0.355
 * (AVX-512, two threads far), 0.49 against 0.54 (AVX2). */

/* A group plan's K blocks: input channels whose transformed input (16 points of 64 bytes
 * a channel on AVX-512) the gathers of a block read, 128 KB, in the L2 beside the
 * products. */
enum { GROUP_KC = 128 };

/* A group plan's blocks, one per thread (group_share): half of the base channels'
 * panels each (all elements, all tiles), each thread reading half of the bank; or, where
 * the panels are few and odd in number, half of the elements each (all panels): 16 base
 * channels (ResNet-44 p4m's 128 planes on p4m) are 3 panels, which split 2:1 left one
 * thread idle a third of the layer (0.35 ms, by elements 0.21; AVX-512). False where a
 * block passes GROUP_M. */
/* Whether a narrow group plan's calls take the tiles of several elements (wino_group_mixed):
 * where an element's tiles fill at most half a vector (8x8 maps at F(4x4): 4 tiles), so that
 * the narrow kernel's calls of one element's tiles would run 4 rows. At 512 planes 8x8
 * F(4x4) does 0.56x F(2x2)'s multiply-adds from a bank 2.25x as large (9.4 MB on p4): 16
 * such layers in turn, banks streaming, alternating in one process (bench/g8.c), p4 (128
 * base channels) took 0.83x and 0.90x F(2x2)'s time on AVX2 (one thread, two), 1.00x and
 * 1.01x on AVX-512 (an element a call: 0.92-0.93x on AVX2, 1.4-1.5x on AVX-512); p4m (64)
 * 0.89x and 0.99-1.04x on AVX2, 1.10x and 1.12-1.16x on AVX-512. So the group's form here is
 * a tuning candidate only (gq_wgroup_mixed). GEQRT_WGMIXED=0 never. */
static bool group_mixed(const gq_conv *c)
{
	const char *m = getenv("GEQRT_WGMIXED");
	return 2 * c->tiles <= c->kern->v && c->tiles * c->grp->ng >= 8 && !(m && !strcmp(m, "0"));
}

/* Whether a group plan's products run on the narrow kernel (wino_group_narrow): where the
 * base channels fill at least half of its 2V and an element's tiles leave part of their
 * vectors empty (9x9, 17x17 and 25x25 maps at F(4x4)) but fill more than half of one.
 * Against the wide kernel on its gathered panels, one thread, alternating in one process
 * (AVX-512; AVX2): 256 planes of p4m at 9x9 (32 base channels, 9 tiles in 16 columns)
 * 0.33 ms against 0.70 (0.60 against 1.26), 128 of p4m at 17x17 (16 base channels: half
 * a panel) 0.40 against 0.44 (0.45 against 0.63). Where the tiles fill the vectors it ran
 * faster alone too (256 of p4 at 15x15 0.70 against 0.80, 512 of p4m at 8x8 by F(2x2)
 * 0.93 against 1.16), but not in ResNet-18 p4 on two threads; and 4 tiles (8x8 by F(4x4))
 * would take F(4x4)'s bank, 2.25 times F(2x2)'s, from a layer whose bank streams.
 * GEQRT_WGNARROW=0 never, =1 always. */
static bool group_narrow(const gq_conv *c)
{
	const char *m = getenv("GEQRT_WGNARROW");
	if (m && (!strcmp(m, "0") || !strcmp(m, "1")))
		return m[0] == '1';
	int v = c->kern->v;
	return 2 * (c->cout / c->grp->ng) >= 2 * v && c->tiles % v &&
	       (2 * c->tiles > v || group_mixed(c));
}

/* Whether a narrow group plan puts an element's base channels in the first vector of each
 * 2V and its partner's (gq_wgroup's pairs) in the second: where the base channels fit in
 * one vector (ResNet-44 p4m's 16 at 17x17 on AVX-512), which otherwise leaves the second
 * vector's multiply-adds on zeros. Pairs of pairs, so that each thread's half has whole
 * pairs. GEQRT_WGPAIR=0 never. */
static bool group_paired(const gq_conv *c)
{
	const char *m = getenv("GEQRT_WGPAIR");
	return c->narrow && c->cout / c->grp->ng <= c->kern->v && c->grp->pairs % 2 == 0 &&
	       c->grp->pairs > 0 && !(m && !strcmp(m, "0"));
}

/* Whether a narrow group plan's calls on a block of E elements' tiles in turn (the tiles of
 * element a0, then a0 + 1's...) in nearly equal calls of up to nrows rows take fewer calls
 * than an element's tiles a call or two, each call on the tiles of one element or two
 * (a kernel for its rows of each, gnarrow2_for). */
static bool packs(const gq_conv *c, int E)
{
	int R = c->kern->nrows, T = c->tiles, n = E * T, nb = (n + R - 1) / R;
	if (nb >= E * ((T + R - 1) / R))
		return false;
	for (int r = 0; r < nb; r++) {
		int r0 = n * r / nb, r1 = n * (r + 1) / nb, t = r0 % T;
		int m1 = min_int(T - t, r1 - r0), m2 = r1 - r0 - m1;
		if (m2 > T || (m2 && !gnarrow2_for(c->kern, m1, m2)))
			return false;
	}
	return true;
}

static GroupBlock group_block(const gq_conv *c, int h);

/* Whether a narrow group plan's products take the tiles of two elements a call where an
 * element's tiles fill more than half a vector but take more than one call of the kernel's
 * rows (wino_group_packed; GEQRT_WGPACK=1: where they run a call shorter than the kernel's,
 * =0: never). ResNet-44 p4m's 9x9 stage by F(3x3) (9 tiles; rdtsc per thread, near): on
 * AVX2 calls of 6 rows instead of 4 and 5, the products 0.83-0.92x the time on two threads
 * and 0.90-0.93x on one; on AVX-512 calls of 12 rows instead of one of 9 were level (the
 * products stream the bank; alone, from L2, 9-row calls ran at 92% of the FMA peak), so
 * not there. Reading each element's rows from V in place, as wino_group_narrow, no gather. */
static bool group_packed(const gq_conv *c)
{
	const char *m = getenv("GEQRT_WGPACK");
	int mode = m && (!strcmp(m, "0") || !strcmp(m, "1")) ? m[0] - '0' : -1;
	if (!c->narrow || c->paired || c->mixed || c->tpanels != 1 || !mode ||
	        (mode < 0 && c->tiles <= c->kern->nrows))
		return false;
	for (int h = 0; h < 2; h++) {
		GroupBlock b = group_block(c, h);
		if (!packs(c, b.a1 - b.a0))
			return false;
	}
	return true;
}

/* Whether a narrow group plan's two threads each run all the elements on a range of tiles
 * (group_block) instead of half of the elements on all of them: where the threads would
 * split the elements and the tiles fill two panels of 2V or more (25x25 maps by F(4x4) on
 * AVX-512: 49 tiles, 25 and 24 a thread), or more than a panel in F(5x5) (25x25: 25 tiles,
 * 13 and 12 a thread; 13 such layers chained, two threads, AVX-512, near: 0.307-0.312 ms a
 * layer against 0.320-0.324 by elements, s26-f5). By elements each thread pads and transforms the
 * whole input (206 of a call's ~900 kcycles a thread, ResNet-44 p4 97's 25x25 layers on
 * two threads, AVX-512, near: docs/batch1.md s23-g25) and reads the half of it that the
 * other core wrote in the layer before; by tiles each transforms its own tiles and reads
 * mostly the rows it wrote. Both read the whole bank. GEQRT_WGTILES=0 never, =1 wherever
 * the threads split the elements of an unpaired narrow plan on one element's tiles a call
 * (stride 1). */
static bool group_by_tiles(const gq_conv *c)
{
	const char *m = getenv("GEQRT_WGTILES");
	int mode = m && (!strcmp(m, "0") || !strcmp(m, "1")) ? m[0] - '0' : -1;
	if (!c->narrow || !c->by_elements || c->paired || c->mixed || c->packed || !mode ||
	        c->tiles < 2 || c->s != 1)
		return false;
	return mode == 1 ||
	       (c->kern->v >= 16 && (c->tiles > 2 * c->kern->v ||
	                                    (c->algo == GQ_CONV_WINO5R && c->tiles > c->kern->v)));
}

/* Whether a group plan's thread done with its own points takes the other's last ones: not
 * by tiles, where a stolen point's products read the owner's V from the other core and are
 * written to the owner's products, which it reads back, at the end of the layer: 13 of
 * ResNet-44 p4 97's 25x25 layers chained (bench/g8, G8_CHAIN, F(5x5), AVX-512, two threads,
 * vCPUs far, 5 runs alternating in one process) took 0.89-0.94x the time without those
 * steals (0.284-0.298 ms a layer against 0.303-0.330); by elements, F(4x4) on 15x15 and
 * 17x17 and F(3x3) on 9x9 level with or without (s27-g25). GEQRT_WGSTEAL=0 never, =1
 * wherever the threads split the layer. */
static bool group_steals(const gq_conv *c)
{
	const char *m = getenv("GEQRT_WGSTEAL");
	if (m && (!strcmp(m, "0") || !strcmp(m, "1")))
		return m[0] == '1';
	return !c->by_tiles;
}

static bool plan_group(gq_conv *c)
{
	int base = c->cout / c->grp->ng;
	c->fused = false;
	set_wide(c, base);
	if ((c->narrow = group_narrow(c)))
		c->mr = 2 * c->kern->v;
	c->paired = group_paired(c);
	c->mixed = c->narrow && !c->paired && group_mixed(c);
	c->mpanels = (base + c->mr - 1) / c->mr;
	c->cib = c->narrow ? c->cin : min_int(c->cin, GROUP_KC);
	c->tcp = c->tpanels;
	/* a mixed plan's threads each gather B for all the elements they run: on p4m's 64
	 * base channels (two panels) by elements 0.85x the time of one panel each (AVX2, two
	 * threads), 0.86x on AVX-512; by elements on p4's four panels 1.17x and 1.52x (each
	 * thread then reads the whole bank) */
	c->by_elements = (c->mpanels % 2 && c->mpanels < 8) || (c->mixed && c->mpanels <= 2);
	c->cop = c->by_elements ? c->mpanels : (c->mpanels + 1) / 2;
	c->packed = group_packed(c);
	c->by_tiles = group_by_tiles(c);
	c->steals = group_steals(c);
	return wino_m_floats(c) / (c->by_elements ? 2 : 1) <=
	       (c->narrow || c->algo == GQ_CONV_WINO2S2 ? 2 * GROUP_M : GROUP_M);
}

/* The group plan's shape and blocks in form algo (F(2x2) or F(4x4) on reciprocal
 * points), without its bank; false where it does not apply. */
static bool shape_form(gq_conv *c, const gq_conv_shape *s, gq_wgroup *g, int algo)
{
	bool s2 = algo == GQ_CONV_WINO2S2; /* stride 2 (s22-wide) */
	if (s->lift || s->k != 3 || s->s != (s2 ? 2 : 1) || s->d != 1 || s->ng < 2 ||
	        s->cin % s->ng || s->cout % s->ng ||
	        !(s2 ? gq_wgroup_tables_s2(g, s->ng, s->elem)
	             : gq_wgroup_tables(g, s->ng, s->elem, form_alpha(algo))) ||
	        !plan_shape(c, s->cin, s->h, s->w, s->cout, 3, s->s, s->p, 1, s->relu))
		return false;
	c->grp = g;
	plan_algo(c, algo);
	return plan_group(c);
}

/* As shape_form, algo GQ_CONV_AUTO the cheaper form (cost) of those that apply. */
static bool shape_group(gq_conv *c, const gq_conv_shape *s, gq_wgroup *g, int algo)
{
	if (algo != GQ_CONV_AUTO)
		return (algo == GQ_CONV_WINO2 || algo == GQ_CONV_WINO4R || algo == GQ_CONV_WINO6 ||
		               algo == GQ_CONV_WINO3R || algo == GQ_CONV_WINO2S2 ||
		               algo == GQ_CONV_WINO5R) &&
		       shape_form(c, s, g, algo);
	if (s->s == 2)
		return shape_form(c, s, g, GQ_CONV_WINO2S2);
	gq_conv c2;
	gq_wgroup g2;
	bool four = shape_form(c, s, g, GQ_CONV_WINO4R),
	     two = shape_form(&c2, s, &g2, GQ_CONV_WINO2);
	if (two && (!four || cost(&c2) < cost(c))) {
		*c = c2;
		*g = g2;
		c->grp = g;
	}
	return four || two;
}

/* The narrow form's cost as cost() counts the wide form's: its channels in panels of 2V,
 * the tiles one by one, each call's stores as NARROW_STORE rows of K. */
static double group_narrow_cost(const gq_conv *c)
{
	double co = (double)c->mpanels * c->mr * c->grp->ng, a2 = c->alpha * c->alpha;
	return a2 * co * c->tiles * (c->cin + NARROW_STORE) + (c->cin + co) * wino_live(c) * a2 * 4;
}

double gq_wgroup_estimate(const gq_conv_shape *s, int algo, size_t *bytes)
{
	gq_conv c;
	gq_wgroup g;
	*bytes = 0;
	if (!shape_group(&c, s, &g, algo))
		return -1;
	/* measured slower than the orbit (1.12x its time on AVX2 at 17x17 on p4m, where the
	 * elements split into halves of 8 tiles), which cost() does not see */
	if (!c.narrow && c.by_elements && c.algo == GQ_CONV_WINO4R && c.kern->v < 16)
		return -1;
	*bytes = packed_a_floats(&c) * sizeof(float);
	double narrow = c.narrow ? group_narrow_cost(&c) : -1;
	/* wino_group.c's FORMS were measured with the base channels in panels of MR, and are
	 * kept so where AVX-512 packs them in eights: counted 1.0 of the expanded work in
	 * eights (1.12 in sixes), the group at F(4x4) on ResNet-44 p4m's 256 planes at 9x9 ran
	 * 1.7-2.2x the orbit's time (AVX-512, one thread) */
	c.mr = MR;
	c.mpanels = (c.cout / g.ng + MR - 1) / MR;
	c.narrow = false;
	return narrow >= 0 && narrow < cost(&c) ? narrow : cost(&c);
}

bool gq_wgroup_mixed(const gq_conv_shape *s, int algo)
{
	gq_conv c;
	gq_wgroup g;
	return shape_group(&c, s, &g, algo) && c.mixed;
}

static size_t group_floats(const gq_conv *c);

/* Whether thread 1 of a group plan on two threads keeps its part (padded input, V,
 * products) in its own buffer (gq_team_scratch) rather than in the caller's scratch after
 * thread 0's, where it fits. The caller's scratch after thread 0's part is the rest of the
 * layers' too (thread 0's V and products elsewhere, the other layers' buffers), so thread
 * 1's padded copy and V were written to lines thread 0's core held: rdtsc per thread (the
 * wide p4m model, AVX-512, two threads far) put thread 1's input phase of gconv4 at 100-120
 * kcycles against thread 0's 50-70, 53-63 in its own buffer; alternating every two images
 * in one process, the layers took 0.93-0.975x (gconv3), 0.94-0.97x (gconv4), 0.99x (gconv5)
 * the time, ResNet-44 p4m's group layers 0.977-0.988x in all. GEQRT_WGOWN=0 never. */
static bool group_own(const gq_conv *c)
{
	const char *m = getenv("GEQRT_WGOWN");
	return !(m && !strcmp(m, "0")) && group_floats(c) <= GQ_TEAM_SCRATCH + GQ_TEAM_PADDED;
}

gq_conv *gq_conv_new_wgroup(const gq_conv_shape *s, int algo, bool full)
{
	gq_conv *c = calloc(1, sizeof *c);
	gq_wgroup *g = malloc(sizeof *g);
	if (!c || !g || !shape_group(c, s, g, algo)) {
		free(c);
		free(g);
		return NULL;
	}
	/* (where the threads split the base channels, one thread ran the group faster than
	 * the expanded plan: 256 planes at 15x15, AVX-512 and AVX2; 16 base channels split by
	 * elements in panels of 6 and by channels in two of 8, where it stays beside them, as
	 * beside the narrow form, which took the orbit's layers and its expanded plan) */
	full = full && (c->by_elements || c->narrow || (c->mr == MR8 && c->mpanels <= 2));
	if (full &&
	        !(c->full = gq_conv_new(s->cin, s->h, s->w, s->cout, 3, s->s, s->p, 1, s->relu))) {
		free(c);
		free(g);
		return NULL;
	}
	c->own_part = group_own(c);
	c->a = alloc_filters(packed_a_floats(c));
	if (c->a)
		atomic_fetch_add(&banks_alive, packed_a_floats(c) * sizeof(float));
	c->bias = calloc((size_t)c->cout, sizeof *c->bias);
	c->tapoff = calloc(9, sizeof *c->tapoff);
	if (!c->a || !c->bias || !c->tapoff) {
		gq_conv_free(c);
		return NULL;
	}
	return c;
}

int gq_conv_wgroup(const gq_conv *c)
{
	return c->grp ? c->grp->ng : 0;
}

gq_conv *gq_conv_wrap_orbit(gq_orbit *o)
{
	gq_conv *c = calloc(1, sizeof *c);
	if (!c) {
		gq_orbit_free(o);
		return NULL;
	}
	c->orbit = o;
	return c;
}

const float *gq_conv_bank(const gq_conv *c)
{
	if (c->phase)
		return gq_phase_bank(c->phase);
	return c->a;
}

int gq_conv_orbit(const gq_conv *c)
{
	return c->orbit ? gq_orbit_size(c->orbit) : 0;
}

const char *gq_conv_algo(const gq_conv *c)
{
	if (c->orbit)
		return gq_conv_algo(gq_orbit_base(c->orbit));
	static const char *const names[] = {"auto", "direct", "packed", "winograd2", "winograd4",
	        "winograd2s2", "winograd4s2", "winograd4r", "winograd6", "phase", "winograd3",
	        "winograd3r", "winograd3s2", "winograd7", "winograd5r"};
	return names[c->algo];
}

bool gq_conv_narrow(const gq_conv *c)
{
	return c->orbit ? gq_conv_narrow(gq_orbit_base(c->orbit)) : c->narrow;
}

bool gq_conv_wgroup_paired(const gq_conv *c)
{
	return c->paired;
}

bool gq_conv_wgroup_packed(const gq_conv *c)
{
	return c->packed;
}

bool gq_conv_wgroup_tiles(const gq_conv *c)
{
	return c->by_tiles;
}

bool gq_conv_wgroup_own(const gq_conv *c)
{
	return c->grp && c->own_part;
}

int gq_conv_panel(const gq_conv *c)
{
	return c->orbit ? gq_conv_panel(gq_orbit_base(c->orbit)) : c->mr;
}

void gq_conv_free(gq_conv *c)
{
	if (!c)
		return;
	if (c->a)
		atomic_fetch_sub(&banks_alive, packed_a_floats(c) * sizeof(float));
	if (c->phase)
		atomic_fetch_sub(&banks_alive, gq_phase_bytes(c->phase));
	gq_phase_free(c->phase);
	gq_orbit_free(c->orbit);
	gq_conv_free(c->full);
	free(c->grp);
	free(c->a);
	free(c->bias);
	free(c->tapoff);
	free(c);
}

/* K block b: rows [b*kc0, ...) of kc rows, where kc0 = cib*k*k. */
static int block_rows(const gq_conv *c, int pc)
{
	return min_int(c->cib * c->k * c->k, c->kdim - pc);
}

/* Packed A: for each K block starting at row pc, for each panel, kc rows of mr channels;
 * row kk of K is w[co][kk], i.e. input channel kk / (k*k), tap kk % (k*k). Channels past
 * cout are zero. */
static void wino_set(gq_conv *c, const float *w, size_t ld);

void gq_conv_set(gq_conv *c, const float *w, const float *bias)
{
	if (c->orbit) {
		gq_orbit_set(c->orbit, w, bias);
	} else if (c->grp) { /* the bank from the identity's rows, the bias of every row */
		size_t row = (size_t)c->kdim;
		gq_conv_set_rows(c, w + c->grp->e_axis * row, c->grp->ng * row, bias, 1);
		if (c->full)
			gq_conv_set(c->full, w, bias);
	} else {
		gq_conv_set_rows(c, w, (size_t)c->kdim, bias, 1);
	}
}

void gq_conv_set_rows(gq_conv *c, const float *w, size_t ld, const float *bias, size_t bstride)
{
	int K = c->kdim;
	if (c->phase) {
		gq_phase_set(c->phase, w, ld, bias, bstride);
		return;
	}
	for (int co = 0; co < c->cout; co++)
		c->bias[co] = bias ? bias[co * bstride] : 0.0f;
	if (is_wino(c->algo)) {
		wino_set(c, w, ld);
		return;
	}
	for (int pc = 0; pc < K; pc += block_rows(c, pc)) {
		int kc = block_rows(c, pc);
		for (int i = 0; i < c->mpanels; i++) {
			float *dst = c->a + ((size_t)pc * c->mpanels + (size_t)i * kc) * c->mr;
			for (int kk = pc; kk < pc + kc; kk++)
				for (int r = 0; r < c->mr; r++) {
					int co = i * c->mr + r;
					*dst++ = co < c->cout ? w[co * ld + kk] : 0.0f;
				}
		}
	}
}

static const float *a_panel(const gq_conv *c, int pc, int kc, int i)
{
	return c->a + ((size_t)pc * c->mpanels + (size_t)i * kc) * c->mr;
}

/* Floats per thread for edge tiles: two halves of mr x V. */
static size_t tmp_floats(void)
{
	return 2 * MR8 * VMAX;
}

/* Direct: the phase planes of one input channel. */
static size_t phase_floats(const gq_conv *c)
{
	return (size_t)c->s * c->s * c->hp * c->wq;
}

/* The padded input (direct: split into phases), and room for wino_input_avx2's 8-float
 * loads past the last patch; a whole number of cache lines, so that what follows it in
 * scratch (Winograd's V and M) starts on one too. */
static size_t padded_floats(const gq_conv *c)
{
	size_t plane = c->algo == GQ_CONV_DIRECT ? phase_floats(c) : (size_t)c->hp * c->wq;
	return ((size_t)c->cin * plane + 8 + LINE_FLOATS - 1) / LINE_FLOATS * LINE_FLOATS;
}

static size_t pack_floats(const gq_conv *c)
{
	size_t n = (size_t)c->oh * c->ow, kc = (size_t)block_rows(c, 0);
	return kc * (n < NC ? (size_t)round_up((int)n, 2 * VMAX) : NC);
}

/* Winograd: the transformed input, alpha^2 x tpanels panels of cin x 2V. */
static size_t wino_v_floats(const gq_conv *c)
{
	return (size_t)c->alpha * c->alpha * wino_vstride(c);
}

/* Winograd: one thread's block of transformed outputs, alpha^2 x cop*mr x tcp*2V. */
static size_t wino_m_floats(const gq_conv *c)
{
	if (c->grp)
		return (size_t)c->alpha * c->alpha * c->cop * c->mr * c->grp->ng * group_cols(c);
	return (size_t)c->alpha * c->alpha * c->cop * c->mr * c->tcp * 2 * c->kern->v;
}

/* n floats (n < 2V), inlined: 4 at 8x8 by F(4x4) as one 16-byte move (a call to memcpy
 * for each took most of a mixed plan's gathers). */
static inline void copy_tiles(float *dst, const float *src, int n)
{
	if (n == 4) {
		memcpy(dst, src, 4 * sizeof *dst);
		return;
	}
	for (int t = 0; t < n; t++)
		dst[t] = src[t];
}

/* A mixed group plan's (wino_group_mixed) rows of B for one base point: every element's
 * tiles for each input channel, in whole cache lines. */
static size_t group_vc_floats(const gq_conv *c)
{
	return (size_t)round_up(c->alpha * c->alpha * c->cin * c->tiles, LINE_FLOATS);
}

static size_t group_b_floats(const gq_conv *c)
{
	size_t n = (size_t)c->cin * c->grp->ng * c->tiles;
	return c->mixed ? group_vc_floats(c) + round_up((int)n, LINE_FLOATS) : 0;
}

/* A mixed plan's input transform: the input channels MIXED_CH at a time into a small V at
 * buf (rows of 2V floats, in L1), and from there its tiles only into Vc, point p's row of
 * channel ci at Vc + (p*cin + ci)*tiles; the whole layer's V in rows of 2V (2.4 MB at 512
 * planes by F(4x4) on AVX-512, for 4 tiles a row) is never written. */
enum { MIXED_CH = 8 };

static void group_in_mixed(const gq_conv *c, float *Vc, float *buf, const Input *x)
{
	int a2 = c->alpha * c->alpha, T = c->tiles, nr = 2 * c->kern->v, cin = c->cin;
	size_t vs = (size_t)min_int(MIXED_CH, cin) * nr + LINE_FLOATS; /* within V's floats */
	for (int ci0 = 0; ci0 < cin; ci0 += MIXED_CH) {
		int n = min_int(MIXED_CH, cin - ci0);
		Input xc = *x;
		xc.x += ci0 * x->plane;
		c->kern->wino_in(c, buf, vs, &xc, 0, n, 0, wino_live(c));
		for (int p = 0; p < a2; p++)
			for (int ci = 0; ci < n; ci++)
				copy_tiles(Vc + ((size_t)p * cin + ci0 + ci) * T,
				        buf + p * vs + (size_t)ci * nr, T);
	}
}

/* A group plan's thread's part of scratch: the padded input, V, a mixed plan's B, the
 * products; from a cache line. */
static size_t group_floats(const gq_conv *c)
{
	return LINE_FLOATS + padded_floats(c) + wino_v_floats(c) + group_b_floats(c) +
	       wino_m_floats(c);
}

/* With LINE_FLOATS more, for gq_conv_run to start on a cache line wherever the caller's
 * scratch starts. */
size_t gq_conv_scratch(const gq_conv *c)
{
	if (c->orbit)
		return gq_orbit_scratch(c->orbit);
	if (c->phase)
		return gq_phase_scratch(c->phase);
	if (c->grp) {
		size_t full = c->full ? gq_conv_scratch(c->full) : 0;
		return 2 * group_floats(c) > full ? 2 * group_floats(c) : full;
	}
	switch (c->algo) {
	case GQ_CONV_DIRECT:
		return LINE_FLOATS + padded_floats(c) + tmp_floats();
	case GQ_CONV_PACKED:
		return LINE_FLOATS + pack_floats(c) + tmp_floats();
	default:
		return LINE_FLOATS + padded_floats(c) + wino_v_floats(c) + wino_m_floats(c);
	}
}

/* ---- one tile ---- */

/* V output pixels of channel 0 of a panel (channel r at + r*oh*ow): valid of them exist
 * (0 for the dummy second half of an odd last tile); the residual's at add (read with
 * SUM). */
typedef struct Half {
	float *dst;
	int valid;
	const float *add;
} Half;

static void copy_rows(float *dst, size_t ldd, const float *src, size_t lds, int rows, int cols)
{
	for (int r = 0; cols > 0 && r < rows; r++)
		memcpy(dst + r * ldd, src + r * lds, (size_t)cols * sizeof *dst);
}

/* The kernel on panel i (its filters a) and halves h: a half with pixels or channels that
 * do not exist goes through tmp (two mr x V blocks), so nothing outside out is written. */
static void tile(const gq_conv *c, int i, const Half h[2], float *tmp, const float *a,
        const void *src, int kc, int flags)
{
	int mr = c->mr, rows = min_int(mr, c->cout - i * mr), v = c->kern->v;
	size_t n = (size_t)c->oh * c->ow, ld[2];
	float *dst[2];
	const float *add[2];
	bool via[2];
	for (int e = 0; e < 2; e++) {
		via[e] = h[e].valid < v || rows < mr;
		dst[e] = via[e] ? tmp + e * mr * v : h[e].dst;
		ld[e] = via[e] ? (size_t)v : n;
		add[e] = flags & SUM && !via[e] ? h[e].add : dst[e];
		/* through tmp, what the kernel reads, the sum so far or the residual, is there */
		if (via[e] && (flags & (FIRST | SUM)) != FIRST)
			copy_rows(dst[e], ld[e], flags & FIRST ? h[e].add : h[e].dst, n, rows,
			        h[e].valid);
	}
	Out o = {dst[0], dst[1], ld[0], ld[1], add[0], add[1]};
	const float *bias = c->bias + i * mr;
	if (c->algo == GQ_CONV_DIRECT)
		c->wk->direct(a, *(const Src *)src, o, bias, flags);
	else
		c->wk->gemm(kc, a, src, o, bias, flags);
	for (int e = 0; e < 2; e++)
		if (via[e])
			copy_rows(h[e].dst, n, dst[e], ld[e], rows, h[e].valid);
}

/* The flags of K block [pc, pc + kc), given whether there is a residual to add. */
static int epilogue(const gq_conv *c, int pc, int kc, bool sum)
{
	return (pc == 0 ? FIRST | (sum ? SUM : 0) : 0) | (pc + kc == c->kdim && c->relu ? RELU : 0);
}

/* ---- direct: B read in place from the padded input's phase planes ---- */

/* First and one-past-last col in [0, n) with 0 <= col*s + off < lim. */
static void inside(int off, int s, int lim, int n, int *lo, int *hi)
{
	int a = off >= 0 ? 0 : (-off + s - 1) / s;
	int b = lim - off <= 0 ? 0 : (lim - off + s - 1) / s;
	*lo = min_int(a, n);
	*hi = b < *lo ? *lo : min_int(b, n);
}

/* o[x] = src[2x] for x < n, four at a time (two loads and a shuffle: SSE2's shufps, on
 * any machine), where one at a time ResNet-18's stride-2 lift spent a seventh of its time
 * splitting its input. Reads src[0 .. 2n - 2] only. */
static void copy_even(float *o, const float *src, int n)
{
	typedef float F4 __attribute__((vector_size(4 * sizeof(float))));
	typedef int I4 __attribute__((vector_size(4 * sizeof(int))));
	const I4 even = {0, 2, 4, 6};
	int x = 0;
	for (; x + 4 < n; x += 4) { /* the last load ends at src[2x + 7] <= src[2n - 2] */
		F4 a, b, e;
		memcpy(&a, src + 2 * x, sizeof a);
		memcpy(&b, src + 2 * x + 4, sizeof b);
		e = __builtin_shuffle(a, b, even);
		memcpy(o + x, &e, sizeof e);
	}
	for (; x < n; x++)
		o[x] = src[2 * (size_t)x];
}

/* Whether some tap reads phase a of an axis (ky*d % s == a for some ky < k): a 1x1
 * stride-2 layer (a ResNet's shortcut) reads one phase of four, and splitting the other
 * three, never read, took most of its time. */
static bool phase_read(const gq_conv *c, int a)
{
	for (int ky = 0; ky < c->k && ky < c->s; ky++)
		if (ky * c->d % c->s == a)
			return true;
	return false;
}

/* xs [cin][s*s phases][hp][wq]: phase (a, b) row r, col x is the padded input at
 * (r*s + a, x*s + b), zero outside the image; channels [ci0, ci1), rows [r0, r1). Phases
 * no tap reads are left as they are. */
static void split_input(
        const gq_conv *c, float *xs, const float *in, int ci0, int ci1, int r0, int r1)
{
	for (int ci = ci0; ci < ci1; ci++)
		for (int a = 0; a < c->s; a++)
			for (int b = 0; b < c->s; b++) {
				if (!phase_read(c, a) || !phase_read(c, b))
					continue;
				float *o = xs + ci * phase_floats(c) +
				           ((size_t)(a * c->s + b) * c->hp + r0) * c->wq;
				int x0, x1;
				inside(b - c->p, c->s, c->w, c->wq, &x0, &x1);
				for (int r = r0; r < r1; r++, o += c->wq) {
					int y = r * c->s + a - c->p;
					if (y < 0 || y >= c->h) {
						memset(o, 0, (size_t)c->wq * sizeof *o);
						continue;
					}
					const float *src =
					        in + ((size_t)ci * c->h + y) * c->w + b - c->p;
					memset(o, 0, (size_t)x0 * sizeof *o);
					if (c->s == 1)
						memcpy(o + x0, src + x0,
						        (size_t)(x1 - x0) * sizeof *o);
					else if (c->s == 2)
						copy_even(o + x0, src + (size_t)x0 * 2, x1 - x0);
					else
						for (int x = x0; x < x1; x++)
							o[x] = src[(size_t)x * c->s];
					memset(o + x1, 0, (size_t)(c->wq - x1) * sizeof *o);
				}
			}
}

/* Winograd: xp [cin, hp, wq] = in with p zeros above, below and left, zeros to the right;
 * channels [ci0, ci1), rows [r0, r1). */
static void pad_input(
        const gq_conv *c, float *xp, const float *in, int ci0, int ci1, int r0, int r1)
{
	size_t plane = (size_t)c->hp * c->wq, hw = (size_t)c->h * c->w;
	int y0 = r0 - c->p > 0 ? r0 - c->p : 0, y1 = min_int(r1 - c->p, c->h);
	for (int ci = ci0; ci < ci1; ci++) {
		float *o = xp + ci * plane;
		const float *x = in + ci * hw;
		if (c->p == 0 && c->wq == c->w) { /* rows already in place: one copy, not h */
			size_t n = y1 > y0 ? (size_t)(y1 - y0) * c->w : 0;
			memcpy(o + (size_t)r0 * c->wq, x + (size_t)r0 * c->w, n * sizeof *o);
			memset(o + (size_t)r0 * c->wq + n, 0,
			        ((size_t)(r1 - r0) * c->wq - n) * sizeof *o);
			continue;
		}
		/* the rows zeroed at once, then the image over them: cheaper than a call for
		 * each row's few zeros on either side */
		memset(o + (size_t)r0 * c->wq, 0, (size_t)(r1 - r0) * c->wq * sizeof *o);
		for (int y = y0; y < y1; y++)
			memcpy(o + (size_t)(y + c->p) * c->wq + c->p, x + (size_t)y * c->w,
			        (size_t)c->w * sizeof *o);
	}
}

/* Run r: output row oy, pixels ox0.. of it; its inputs start at xp + oy*wq + ox0. Narrow,
 * a row's runs are as even as they can be, up to nrows pixels each (run_len). */
static void run_at(const gq_conv *c, int r, int *oy, int *ox0)
{
	int per_row = c->runs / c->oh;
	*oy = r / per_row;
	*ox0 = c->narrow ? c->ow * (r % per_row) / per_row : r % per_row * c->kern->v;
}

static int run_len(const gq_conv *c, int r)
{
	int per_row = c->runs / c->oh, g = r % per_row;
	return c->ow * (g + 1) / per_row - c->ow * g / per_row;
}

/* The lines of out that tile t's stores of the channels of panels [i0, i1) will write,
 * fetched ahead for writing. Without, the stores of a lift (ResNet-18's writes 64 planes at
 * once, 3.3 MB, not in any cache) missed one line after another and stalled the next
 * tile: fetched a tile ahead, the lift takes about 7% less time (perf, AVX-512, one thread).
 * Inlined: GCC takes a function that only prefetches for one without effects, and drops
 * its calls. */
static inline __attribute__((always_inline)) void prefetch_tile(
        const gq_conv *c, float *out, int t, int i0, int i1)
{
	size_t n = (size_t)c->oh * c->ow;
	for (int e = 0; e < 2 && 2 * t + e < c->runs; e++) {
		int oy, ox0;
		run_at(c, 2 * t + e, &oy, &ox0);
		const float *q = out + (size_t)oy * c->ow + ox0;
		for (int co = i0 * c->mr; co < min_int(i1 * c->mr, c->cout); co++) {
			__builtin_prefetch(q + co * n, 1);
			__builtin_prefetch(q + co * n + c->kern->v - 1, 1);
		}
	}
}

/* Narrow direct: runs [r0, r1) of the output channels of panels [p0, p1) (2V channels
 * each), plus add (NULL: nothing). */
static void narrow_runs(const gq_conv *c, float *out, const float *add, const float *xp, int r0,
        int r1, int p0, int p1)
{
	size_t n = (size_t)c->oh * c->ow;
	int nr = 2 * c->kern->v;
	_Alignas(64) float acc[NROWS * 2 * VMAX];
	Src s = {.plane = phase_floats(c), .tapoff = c->tapoff, .nci = c->cin, .ntap = c->k * c->k};
	for (int r = r0; r < r1; r++) {
		int oy, ox0, len = run_len(c, r);
		run_at(c, r, &oy, &ox0);
		s.x0 = xp + (size_t)oy * c->wq + ox0;
		size_t at = (size_t)oy * c->ow + ox0;
		if (r % 2 == 0 && r + 2 < r1)
			prefetch_tile(c, out, r / 2 + 1, p0, p1);
		for (int i = p0; i < p1; i++) {
			int co0 = i * nr, nco = min_int(nr, c->cout - co0);
			c->kern->dnarrow[len - 1](
			        a_panel(c, 0, c->kdim, i), s, c->bias + co0, c->relu && !add, acc);
			c->kern->narrow_out(out + co0 * n + at, n, acc, len, nco,
			        add ? add + co0 * n + at : NULL, c->relu);
		}
	}
}

/* Tiles [t0, t1) of the output channels of panels [p0, p1), plus add (NULL: nothing). */
static void direct_tiles(const gq_conv *c, float *out, const float *add, const float *xp, int t0,
        int t1, int p0, int p1, float *tmp)
{
	if (c->narrow) {
		narrow_runs(c, out, add, xp, 2 * t0, min_int(2 * t1, c->runs), p0, p1);
		return;
	}
	size_t n = (size_t)c->oh * c->ow, plane = phase_floats(c);
	int k2 = c->k * c->k, v = c->kern->v;
	for (int ci0 = 0; ci0 < c->cin; ci0 += c->cib) {
		int nci = min_int(c->cib, c->cin - ci0), pc = ci0 * k2, kc = nci * k2;
		int flags = epilogue(c, pc, kc, add);
		for (int ic = p0; ic < p1; ic += MC_PANELS) {
			int ie = min_int(ic + MC_PANELS, p1);
			for (int t = t0; t < t1; t++) {
				Src s = {.plane = plane,
				        .tapoff = c->tapoff,
				        .nci = nci,
				        .ntap = k2};
				size_t at[2];
				int valid[2];
				for (int e = 0; e < 2; e++) {
					int r = 2 * t + e < c->runs ? 2 * t + e : 2 * t, oy, ox0;
					run_at(c, r, &oy, &ox0);
					at[e] = (size_t)oy * c->ow + ox0;
					valid[e] =
					        2 * t + e < c->runs ? min_int(v, c->ow - ox0) : 0;
					*(e ? &s.x1 : &s.x0) =
					        xp + ci0 * plane + (size_t)oy * c->wq + ox0;
				}
				if (t + 1 < t1)
					prefetch_tile(c, out, t + 1, ic, ie);
				for (int i = ic; i < ie; i++) {
					size_t o0 = i * c->mr * n + at[0],
					       o1 = i * c->mr * n + at[1];
					Half h[2] = {{out + o0, valid[0], add ? add + o0 : NULL},
					        {out + o1, valid[1], add ? add + o1 : NULL}};
					tile(c, i, h, tmp, a_panel(c, pc, kc, i), &s, kc, flags);
				}
			}
		}
	}
}

/* A one-pixel output (a last convolution over the whole map, as P4CNN's): there the
 * direct kernel spends 15 of its 16 lanes on pixels that do not exist, so out[co] is
 * taken as a dot product instead. A panel is [kc][mr]; with the inputs repeated mr times,
 * xx[kk*mr + r] = x[kk], panel times xx runs in whole vectors, and of every DOT floats
 * (mr and LANES both divide it) the float at q belongs to output channel q % mr. Panels
 * [p0, p1). */
enum { DOT = 3 * LANES };
_Static_assert(DOT % MR == 0 && DOT % MR8 == 0, "a row of DOT floats must hold whole K rows");

static bool by_dot(const gq_conv *c)
{
	return c->algo == GQ_CONV_DIRECT && c->oh * c->ow == 1 && c->k * c->k <= KC;
}

static void dot_panels(
        const gq_conv *c, float *out, const float *add, const float *xp, int p0, int p1)
{
	float xx[KC * MR8]; /* kc <= KC: by_dot */
	size_t plane = phase_floats(c);
	int k2 = c->k * c->k, mr = c->mr;
	for (int pc = 0; pc < c->kdim; pc += block_rows(c, pc)) {
		int kc = block_rows(c, pc), flags = epilogue(c, pc, kc, add), n = kc * mr;
		for (int kk = 0; kk < kc; kk++) {
			int ci = (pc + kk) / k2, tap = (pc + kk) % k2;
			for (int r = 0; r < mr; r++)
				xx[kk * mr + r] = xp[ci * plane + c->tapoff[tap]];
		}
		for (int i = p0; i < p1; i++) {
			const float *a = a_panel(c, pc, kc, i);
			Lane acc[DOT / LANES] = {{0}};
			int q = 0;
			for (; q + DOT <= n; q += DOT)
				for (int m = 0; m < DOT / LANES; m++) {
					Lane va, vx;
					memcpy(&va, a + q + m * LANES, sizeof va);
					memcpy(&vx, xx + q + m * LANES, sizeof vx);
					acc[m] += va * vx;
				}
			float sum[MR8] = {0};
			for (int m = 0; m < DOT / LANES; m++)
				for (int l = 0; l < LANES; l++)
					sum[(m * LANES + l) % mr] += acc[m][l];
			for (; q < n; q++)
				sum[q % mr] += a[q] * xx[q];
			for (int r = 0, co = i * mr; r < min_int(mr, c->cout - i * mr); r++, co++)
				store_c(out + co, &sum[r], 1, c->bias[co], add ? add + co : NULL,
				        flags);
		}
	}
}

/* ---- packed: im2col into panels of 2V pixels ---- */

/* A run of output pixels on one output row, and for one tap where its inputs are:
 * zl zeros, then cn inputs from src (stride s), then zr zeros; src < 0: all padding. */
typedef struct Seg {
	int j, len; /* first slot in the panel, pixels */
	int oy, ox;
	int zl, cn, zr;
	long src;
} Seg;

static int panel_segments(const gq_conv *c, Seg *seg, int p0, int pn)
{
	int n = 0;
	for (int j = 0; j < pn;) {
		int p = p0 + j, oy = p / c->ow, ox = p % c->ow;
		int len = min_int(c->ow - ox, pn - j);
		seg[n++] = (Seg){.j = j, .len = len, .oy = oy, .ox = ox};
		j += len;
	}
	return n;
}

static void seg_tap(const gq_conv *c, Seg *g, int ky, int kx)
{
	int iy = g->oy * c->s - c->p + ky * c->d, off = kx * c->d - c->p;
	if (iy < 0 || iy >= c->h) {
		g->src = -1;
		return;
	}
	int lo = g->ox, hi = g->ox + g->len;
	while (lo < hi && lo * c->s + off < 0)
		lo++;
	while (hi > lo && (hi - 1) * c->s + off >= c->w)
		hi--;
	g->zl = lo - g->ox;
	g->cn = hi - lo;
	g->zr = g->ox + g->len - hi;
	g->src = (long)iy * c->w + (long)lo * c->s + off;
}

static void fill_row(float *o, const float *plane, const Seg *g, int s)
{
	if (g->src < 0) {
		memset(o, 0, (size_t)g->len * sizeof *o);
		return;
	}
	const float *x = plane + g->src;
	for (int i = 0; i < g->zl; i++)
		*o++ = 0.0f;
	for (int i = 0; i < g->cn; i++)
		*o++ = x[(size_t)i * s];
	for (int i = 0; i < g->zr; i++)
		*o++ = 0.0f;
}

/* One panel: rows pc..pc+kc of B for pixels p0..p0+pn (pn <= nr; the rest zero). */
static void pack_panel(
        const gq_conv *c, float *dst, const float *in, int pc, int kc, int p0, int pn, int nr)
{
	Seg seg[2 * VMAX + 2];
	int nseg = panel_segments(c, seg, p0, pn), k2 = c->k * c->k;
	size_t hw = (size_t)c->h * c->w;
	for (int kk = pc; kk < pc + kc; kk++) {
		int ci = kk / k2, tap = kk % k2;
		float *row = dst + (size_t)(kk - pc) * nr;
		for (int g = 0; g < nseg; g++) {
			seg_tap(c, &seg[g], tap / c->k, tap % c->k);
			fill_row(row + seg[g].j, in + ci * hw, &seg[g], c->s);
		}
		memset(row + pn, 0, (size_t)(nr - pn) * sizeof *row);
	}
}

/* Pixels [p0, p1) of every output channel, plus add (NULL: nothing), packing into buf. */
static void packed_pixels(const gq_conv *c, float *out, const float *add, const float *in, int p0,
        int p1, float *buf, float *tmp)
{
	int K = c->kdim, v = c->kern->v, nr = 2 * v;
	size_t n = (size_t)c->oh * c->ow;
	for (int nc0 = p0; nc0 < p1; nc0 += NC) {
		int np = (min_int(NC, p1 - nc0) + nr - 1) / nr;
		for (int pc = 0; pc < K; pc += block_rows(c, pc)) {
			int kc = block_rows(c, pc), flags = epilogue(c, pc, kc, add);
			for (int j = 0; j < np; j++) {
				int q = nc0 + j * nr;
				pack_panel(c, buf + (size_t)j * kc * nr, in, pc, kc, q,
				        min_int(nr, p1 - q), nr);
			}
			for (int ic = 0; ic < c->mpanels; ic += MC_PANELS) {
				int ie = min_int(ic + MC_PANELS, c->mpanels);
				for (int j = 0; j < np; j++) {
					int q = nc0 + j * nr;
					for (int i = ic; i < ie; i++) {
						size_t at = i * c->mr * n + q;
						const float *s = add ? add + at : NULL;
						Half h[2] = {{out + at, min_int(v, p1 - q), s},
						        {out + at + v, min_int(v, p1 - q - v),
						                s ? s + v : NULL}};
						tile(c, i, h, tmp, a_panel(c, pc, kc, i),
						        buf + (size_t)j * kc * nr, kc, flags);
					}
				}
			}
		}
	}
}

/* ---- Winograd F(m x m, 3 x 3) ---- */

/* The filter transforms u = G g G^T (Lavin and Gray, 2016: points 0, 1, -1 for m = 2;
 * 0, 1, -1, 2, -2 for m = 4; and infinity). */
static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double G4[6][3] = {{0.25, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6},
        {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
        {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
/* F(4x4) on the points 0, 1, -1, 2, 1/2, infinity (in_1d4r), closed under p -> 1/p: with
 * the rows of 2 and 1/2 each other's reverse (as 0's and infinity's are, and 1's and -1's
 * their own), a filter reversed along an axis has the transform with those points swapped,
 * no scale (wino_group.c). The fractions of B and A sit here. */
static const double G4R[6][3] = {{1, 0, 0}, {1, 1, 1}, {1.0 / 18, -1.0 / 18, 1.0 / 18},
        {1.0 / 18, 1.0 / 9, 2.0 / 9}, {2.0 / 9, 1.0 / 9, 1.0 / 18}, {0, 0, 1}};
/* F(6x6) (in_1d6) on the points 0, 1, -1, 2, -2, 1/2, -1/2, infinity: Lavin and Gray's
 * (as NNPACK's) but for powers of 2 moved between G, B and A (no change to the rounding),
 * so that the rows of 2 and 1/2, and of -2 and -1/2, are each other's reverse: closed
 * under p -> 1/p as G4R (wino_group.c). */
static const double G6[8][3] = {{1, 0, 0}, {-2.0 / 9, -2.0 / 9, -2.0 / 9},
        {-2.0 / 9, 2.0 / 9, -2.0 / 9}, {1.0 / 90, 1.0 / 45, 2.0 / 45},
        {1.0 / 90, -1.0 / 45, 2.0 / 45}, {2.0 / 45, 1.0 / 45, 1.0 / 90},
        {2.0 / 45, -1.0 / 45, 1.0 / 90}, {0, 0, 1}};
/* F(7x7) (in_1d7) on the points 1/4, 1, -1, 2, -2, 1/2, -1/2, -1/4, infinity (in this
 * order: the point 1 second, for the bias), Toom-Cook's construction with the Lagrange
 * denominators here: B^T's row of +-p is (x +- p) R_p(x^2), R_p(y) = prod over
 * the other pairs q of (y - q^2), so in_1d7 takes the even and odd taps' sums once a pair;
 * infinity's row prod (x^2 - q^2); A^T p^i. Derived and checked exactly (fractions) by
 * bench/wino7.py, which also gives the float32 error of these points against others. */
static const double G7[9][3] = {{-8192.0 / 2835, -2048.0 / 2835, -512.0 / 2835},
        {-32.0 / 135, -32.0 / 135, -32.0 / 135}, {32.0 / 135, -32.0 / 135, 32.0 / 135},
        {16.0 / 2835, 32.0 / 2835, 64.0 / 2835}, {-16.0 / 2835, 32.0 / 2835, -64.0 / 2835},
        {256.0 / 135, 128.0 / 135, 64.0 / 135}, {-256.0 / 135, 128.0 / 135, -64.0 / 135},
        {8192.0 / 2835, -2048.0 / 2835, 512.0 / 2835}, {0, 0, 1}};
/* F(3x3) (in_1d3) on the points 0, 1, -1, 2, infinity (Lavin and Gray's construction; B^T's
 * entries integers, the fractions here). */
static const double G3[5][3] = {{0.5, 0, 0}, {-0.5, -0.5, -0.5}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
        {1.0 / 6, 1.0 / 3, 2.0 / 3}, {0, 0, 1}};
/* F(3x3) on the points 0, 1, -2, -1/2, infinity (in_1d3r), closed under p -> 1/p as G4R:
 * the rows of -2 and -1/2 each other's reverse, as 0's and infinity's are (wino_group.c).
 * A^T's entries integers (the point -1/2's column 4, -2, 1), B^T's too (the fractions
 * here). Not 0, 1, 2, 1/2, infinity: in a float32 simulation (numpy, 256 planes at 9x9,
 * He weights, a chain of 14 layers with relu and residual against float64) those rounded
 * 2.3e-5 of the output's largest, these 1.3e-6, G3's 1.9e-6, G4R's 5.1e-6. */
static const double G3R[5][3] = {{0.5, 0, 0}, {1.0 / 9, 1.0 / 9, 1.0 / 9},
        {1.0 / 18, -1.0 / 9, 2.0 / 9}, {2.0 / 9, -1.0 / 9, 1.0 / 18}, {0, 0, 0.5}};
/* F(5x5) on the points 0, 1, 2, 1/2, -2, -1/2, infinity (in_1d5r), closed under p -> 1/p:
 * the rows of 2 and 1/2, and of -2 and -1/2, each other's reverse, as 0's and infinity's
 * are (wino_group.c). Toom-Cook's construction (bench/f5r.py, exact in fractions), A^T's
 * columns of 1/2 and -1/2 times 16 (A^T's entries integers, up to 16), B^T's rows scaled to
 * integers and 4.25 (the fractions here). In a float32 simulation (one layer of 128 planes
 * at 25x25 and of 256 at 15x15, relu'd N(0, 1) inputs, He weights, against float64) it
 * rounds 5.6e-6 - 5.9e-6 of the output's largest at most, 3.5e-7 - 4.1e-7 on average, G4R
 * 3.7e-6 - 3.9e-6 and the same average. */
static const double G5R[7][3] = {{1, 0, 0}, {-1.0 / 9, -1.0 / 9, -1.0 / 9},
        {1.0 / 240, 1.0 / 120, 1.0 / 60}, {1.0 / 60, 1.0 / 120, 1.0 / 240},
        {-1.0 / 720, 1.0 / 360, -1.0 / 180}, {-1.0 / 180, 1.0 / 360, -1.0 / 720}, {0, 0, 1}};
/* Stride 2 (in_1ds2): w0, w0 + w2, w2, w1 (the fifth product's, w1 again, is stored only
 * by the group plan, whose bank holds every point: wino_side). */
static const double G2S2[5][3] = {{1, 0, 0}, {1, 0, 1}, {0, 0, 1}, {0, 1, 0}, {0, 1, 0}};
/* Stride 2 (in_1d3s2): F(3, 2)'s on w0, w2 (points 0, 1, -1, infinity), then w1 for the
 * three odd products. */
static const double G3S2[5][3] = {{1, 0, 0}, {0.5, 0, 0.5}, {0.5, 0, -0.5}, {0, 0, 1}, {0, 1, 0}};
/* Stride 2 (in_1d4s2): F(4, 2)'s on w0, w2, then w1 for the four odd products. */
static const double G4S2[6][3] = {{0.5, 0, 0}, {0.5, 0, 0.5}, {1.0 / 6, 0, -1.0 / 6},
        {1.0 / 6, 0, 1.0 / 3}, {0, 0, 1}, {0, 1, 0}};

/* A paired plan's (group_paired) filter u of base channel co, input channel ci, point xi
 * where the partner's products read it: second vector, the slot and point it moves to. */
static void set_partner(gq_conv *c, float u, int co, int ci, int xi)
{
	const gq_wgroup *g = c->grp;
	int b = 0, q = 0, slot = ci % g->ng;
	while (g->pair_slot[b] != slot)
		b++;
	while (g->pair_pt[q] != xi)
		q++;
	size_t row = (size_t)ci - slot + b;
	c->a[(size_t)q * c->cin * c->mr + row * c->mr + c->kern->v + co] = u;
}

/* U[xi] (xi = one of the side^2 distinct filter transforms) packed as A with K = cin:
 * [xi][K blocks of cib][mpanels][kc][mr]. */
static void wino_set(gq_conv *c, const float *w, size_t ld)
{
	int a = wino_side(c), cin = c->cin;
	const double(*G)[3] = c->algo == GQ_CONV_WINO2     ? G2
	                      : c->algo == GQ_CONV_WINO4   ? G4
	                      : c->algo == GQ_CONV_WINO4R  ? G4R
	                      : c->algo == GQ_CONV_WINO6   ? G6
	                      : c->algo == GQ_CONV_WINO7   ? G7
	                      : c->algo == GQ_CONV_WINO3   ? G3
	                      : c->algo == GQ_CONV_WINO3R  ? G3R
	                      : c->algo == GQ_CONV_WINO2S2 ? G2S2
	                      : c->algo == GQ_CONV_WINO3S2 ? G3S2
	                      : c->algo == GQ_CONV_WINO5R  ? G5R
	                                                   : G4S2;
	int rows = c->grp ? c->cout / c->grp->ng : c->cout; /* a group plan: the identity's */
	for (int co = 0; co < rows; co++)
		for (int ci = 0; ci < cin; ci++) {
			const float *g = w + co * ld + (size_t)ci * 9;
			double gt[9][3]; /* G g */
			for (int i = 0; i < a; i++)
				for (int j = 0; j < 3; j++)
					gt[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] +
					           G[i][2] * g[6 + j];
			int pc = ci / c->cib * c->cib, kc = min_int(c->cib, cin - pc), mr = c->mr;
			size_t at = ((size_t)pc * c->mpanels + (size_t)(co / mr) * kc) * mr +
			            (size_t)(ci - pc) * mr + co % mr;
			for (int i = 0; i < a; i++)
				for (int j = 0; j < a; j++) {
					double u = gt[i][0] * G[j][0] + gt[i][1] * G[j][1] +
					           gt[i][2] * G[j][2];
					size_t xi = (size_t)i * a + j;
					c->a[xi * cin * c->mpanels * mr + at] = (float)u;
					if (c->paired)
						set_partner(c, (float)u, co, ci, (int)xi);
				}
		}
}

/* n zeros at o: up to 16 as two stores of a constant size that overlap where n is not a
 * power of two (a memset call, or a loop of float stores, for the 1 to 7 floats of a
 * row's border took a pair's first conv 4-8% more time at 97x97, AVX-512). */
static inline void zero_few(float *o, int n)
{
	if (n > 16)
		memset(o, 0, (size_t)n * sizeof *o);
	else if (n >= 8)
		memset(o, 0, 8 * sizeof *o), memset(o + n - 8, 0, 8 * sizeof *o);
	else if (n >= 4)
		memset(o, 0, 4 * sizeof *o), memset(o + n - 4, 0, 4 * sizeof *o);
	else if (n >= 2)
		memset(o, 0, 2 * sizeof *o), memset(o + n - 2, 0, 2 * sizeof *o);
	else if (n == 1)
		o[0] = 0.0f;
}

/* Where the output is another conv's padded copy (opad: gq_conv_run_pair), the zeros around
 * channels [co0, co1)'s planes that tiles [t0, t1) own: each tile at the end of a row of
 * tiles its rows' right border and the next rows' left (one run of floats a row), tile 0
 * the rows above and the first row's left border, the last tile the rows below, to the
 * plane's end; so that each float is written once, by the thread that writes the tile
 * beside it. */
static void out_border(const gq_conv *c, float *out, int co0, int co1, int t0, int t1)
{
	ptrdiff_t ld = out_ld(c), p = c->opad;
	if (!p)
		return;
	size_t plane = out_plane(c);
	for (int t = t0; t < min_int(t1, c->tiles); t++) {
		int y0 = t / c->tw * c->m, y1 = min_int(y0 + c->m, c->oh);
		if (t % c->tw + 1 < c->tw && t)
			continue;
		for (int co = co0; co < co1; co++) {
			float *o = out + (size_t)co * plane - p * ld - p; /* the plane */
			if (t == 0)
				memset(o, 0, (size_t)(p * ld + p) * sizeof *o);
			if (t + 1 == c->tiles)
				memset(o + (p + c->oh) * ld + p, 0,
				        (plane - (size_t)((p + c->oh) * ld + p)) * sizeof *o);
			for (int y = y0; t % c->tw + 1 == c->tw && y < y1; y++)
				zero_few(o + (p + y) * ld + p + c->ow, (int)(ld - c->ow));
		}
	}
}

/* Narrow Winograd: output channels of panels [i0, i1) (2V each) for all the tiles: the
 * alpha^2 products into Mb, R tiles (rows) at a time, then back to pixels. Mb's columns
 * past the last tile keep what the scratch held: the output transform, a vector of tiles
 * at a time, transforms them too and drops them (zeroing them, 16 short memsets a row of
 * channels, made a 40-channel 4x4 layer half again slower). */
static void wino_narrow(
        const gq_conv *c, float *out, const float *add, const float *V, int i0, int i1, float *Mb)
{
	int nr = 2 * c->kern->v, cin = c->cin, R = c->kern->nrows, a2 = c->alpha * c->alpha;
	size_t rows = (size_t)(i1 - i0) * nr, cols = (size_t)c->tpanels * nr,
	       panel = (size_t)cin * nr;
	float acc[NROWS * 2 * VMAX];
	for (int xi = 0; xi < a2; xi++) {
		int xn = xi + 1 < a2 ? xi + 1 : xi;
		const float *U = c->a + (size_t)wino_mat(c, xi) * cin * c->mpanels * nr;
		const float *Un = c->a + (size_t)wino_mat(c, xn) * cin * c->mpanels * nr;
		float *Mx = Mb + xi * rows * cols;
		for (int j = 0; j < c->tpanels; j++) {
			int n = min_int(nr, c->tiles - j * nr), nb = (n + R - 1) / R;
			for (int q = 0; q < nb; q++) {
				int t0 = n * q / nb, t1 = n * (q + 1) / nb;
				const float *b = V + xi * wino_vstride(c) + j * panel + t0;
				/* Each call fetches its share of the next point's panels, cin
				 * lines of each (AVX-512's panels are 2 cin lines), from L3 or
				 * memory: alone, with banks and inputs in neither L2 nor L1, 25
				 * tiles of 256 -> 32 channels at F(4x4) ran 1.2-1.3x the rate. */
				size_t pq = panel * q / nb / LINE_FLOATS * LINE_FLOATS;
				pq = pq < panel - (size_t)cin * LINE_FLOATS
				             ? pq
				             : panel - (size_t)cin * LINE_FLOATS;
				const float *bn = V + xn * wino_vstride(c) + j * panel + pq;
				for (int i = i0; i < i1; i++) {
					c->kern->narrow[t1 - t0 - 1](cin, U + i * panel, b, nr, acc,
					        Un + i * panel + pq, bn);
					c->kern->narrow_out(Mx + (i - i0) * nr * cols + j * nr + t0,
					        cols, acc, t1 - t0, min_int(nr, c->cout - i * nr),
					        NULL, false);
				}
			}
		}
	}
	c->kern->wino_out(c, out, add, Mb, rows * cols, cols, i0 * nr, min_int(i1 * nr, c->cout), 0,
	        c->tiles);
	out_border(c, out, i0 * nr, min_int(i1 * nr, c->cout), 0, c->tiles);
}

/* group_points' products on the narrow kernel (c->narrow): the base channels in the
 * vectors, 2V a panel (the bank packed so), and each element's tiles broadcast, up to the
 * kernel's nrows at a time, so that no lane computes a tile that does not exist (at 9x9 by
 * F(4x4) an element's 9 tiles filled 16 columns of the wide kernel). The kernel reads each
 * row of K from V itself, at the element's point with its slots permuted (gnarrow_fn):
 * gathered into a panel first, as the wide kernel's B, the copies took a sixth of a
 * 256-plane 9x9 layer's time. One call per R tiles covers all of K (the bank's one K
 * block), its R x 2V results going to the element's rows at its point. */
static void wino_group_narrow(
        const gq_conv *c, const float *V, int i0, int i1, int a0, int a1, int T, int q, float *Mb)
{
	const gq_wgroup *g = c->grp;
	int nr = 2 * c->kern->v, cin = c->cin, ng = g->ng, R = c->kern->nrows;
	int a2 = c->alpha * c->alpha, base = c->cout / ng;
	size_t cols = (size_t)group_cols(c), ld = ng * cols, rows = (size_t)(i1 - i0) * nr * ng;
	float acc[NROWS * 2 * VMAX];
	const float *U = c->a + (size_t)q * cin * c->mpanels * nr,
	            *Un = q + 1 < a2 ? U + (size_t)cin * c->mpanels * nr : U;
	/* paired: [a0, a1) are pairs, each pair's partner in channels V.. of its first element
	 * (group_row) */
	int nco = c->paired ? nr : base;
	for (int e = a0; e < a1; e++) {
		int a = c->paired ? g->lower[e] : e, off[GQ_D4_ORDER];
		for (int s = 0; s < ng; s++)
			off[s] = g->src[a][s] * nr;
		const float *Vq = V + g->pt[a][q] * wino_vstride(c);
		float *Mq = Mb + g->pt[a][q] * rows * cols + a * cols;
		for (int j = 0; j * nr < T; j++) {
			/* the panel's tiles in calls of nearly equal rows */
			int n = min_int(nr, T - j * nr), nb = (n + R - 1) / R;
			for (int r = 0; r < nb; r++) {
				int t0 = n * r / nb, t1 = n * (r + 1) / nb;
				const float *b = Vq + (size_t)j * cin * nr + t0;
				for (int i = i0; i < i1; i++) {
					size_t at = (size_t)i * cin * nr;
					float *C = Mq + (size_t)(i - i0) * nr * ld + j * nr + t0;
					/* the next point's panel, a half per element */
					c->kern->gnarrow[t1 - t0 - 1](cin, U + at, b, off, ng,
					        (size_t)ng * nr, acc,
					        Un + at + (size_t)(e & 1) * cin * LINE_FLOATS);
					c->kern->narrow_out(C, ld, acc, t1 - t0,
					        min_int(nr, nco - i * nr), NULL, false);
				}
			}
		}
	}
}

/* group_points' products on the narrow kernel where an element's tiles fill more than half
 * a vector but fewer than the kernel's rows (c->packed: 9 at 9x9 by F(3x3) or F(4x4)): the
 * block's elements' tiles in turn in calls of nearly equal rows, each on the tiles of one
 * element or two (gnarrow2_fn, each read from V in place at its element's point with its
 * slots permuted), so that every call but a few runs the kernel's rows nearly whole and
 * streams each panel of filters for more tiles; each element's rows to its own point's
 * products, with one transpose a call (narrow_out2_fn). */
static void wino_group_packed(
        const gq_conv *c, const float *V, int i0, int i1, int a0, int a1, int q, float *Mb)
{
	const gq_wgroup *g = c->grp;
	int nr = 2 * c->kern->v, cin = c->cin, ng = g->ng, R = c->kern->nrows, T = c->tiles;
	int a2 = c->alpha * c->alpha, base = c->cout / ng, n = (a1 - a0) * T, nb = (n + R - 1) / R;
	size_t cols = (size_t)group_cols(c), ld = ng * cols, rows = (size_t)(i1 - i0) * nr * ng,
	       vs = wino_vstride(c), ldg = (size_t)ng * nr;
	float acc[NROWS * 2 * VMAX];
	const float *U = c->a + (size_t)q * cin * c->mpanels * nr,
	            *Un = q + 1 < a2 ? U + (size_t)cin * c->mpanels * nr : U;
	int off[GQ_D4_ORDER][GQ_D4_ORDER];
	for (int a = a0; a < a1; a++)
		for (int s = 0; s < ng; s++)
			off[a][s] = g->src[a][s] * nr;
	narrow_out2_fn *out2 = narrow_out2_for(c->kern);
	for (int r = 0; r < nb; r++) {
		int r0 = n * r / nb, r1 = n * (r + 1) / nb, a = a0 + r0 / T, t = r0 % T;
		int m1 = min_int(T - t, r1 - r0), m2 = r1 - r0 - m1, p1 = g->pt[a][q];
		int p2 = m2 ? g->pt[a + 1][q] : p1;
		gnarrow2_fn *k2 = m2 ? gnarrow2_for(c->kern, m1, m2) : NULL;
		const float *b1 = V + p1 * vs + t, *b2 = V + p2 * vs;
		float *C1 = Mb + p1 * rows * cols + a * cols + t,
		      *C2 = Mb + p2 * rows * cols + (a + (m2 > 0)) * cols;
		for (int i = i0; i < i1; i++) {
			size_t at = (size_t)i * cin * nr, oc = (size_t)(i - i0) * nr * ld;
			const float *pa = Un + at + (size_t)(r & 1) * cin * LINE_FLOATS;
			int nco = min_int(nr, base - i * nr);
			if (m2) {
				k2(cin, U + at, b1, b2, off[a], off[a + 1], ng, ldg, acc, pa);
				out2(C1 + oc, C2 + oc, ld, acc, m1 + m2, m1, nco);
			} else {
				c->kern->gnarrow[m1 - 1](cin, U + at, b1, off[a], ng, ldg, acc, pa);
				c->kern->narrow_out(C1 + oc, ld, acc, m1, nco, NULL, false);
			}
		}
	}
}

/* An element's rows of a mixed plan's B (wino_group_mixed): row k at B + k*n, its T tiles
 * from its point's packed V, row i*ng + s from slot src[s] of slot group i. T = 4 (8x8 by
 * F(4x4)) by its own loop of 16-byte moves: with T a variable each took 4-5 cycles. */
static void gather_mixed(float *B, int n, const float *Vq, const int *src, int ng, int cin, int T)
{
	int off[GQ_D4_ORDER];
	for (int s = 0; s < ng; s++)
		off[s] = src[s] * T;
	if (T == 4) {
		for (int k = 0; k < cin; k += ng, Vq += ng * 4)
			for (int s = 0; s < ng; s++, B += n)
				memcpy(B, Vq + off[s], 4 * sizeof *B);
		return;
	}
	for (int k = 0; k < cin; k += ng, Vq += ng * T)
		for (int s = 0; s < ng; s++, B += n)
			copy_tiles(B, Vq + off[s], T);
}

/* group_points' products on the narrow kernel where an element's tiles are few (c->mixed:
 * 4 at 8x8 by F(4x4)): the rows of each call the tiles of several elements, gathered for
 * base point q into B (row k of K: elements [a0, a1)'s tiles in turn, each at its own point
 * with its slots permuted), so that the calls run up to the kernel's nrows rows and read each
 * panel of filters for all of them; each element's rows go to its own point's products. */
static void wino_group_mixed(const gq_conv *c, const float *V, int i0, int i1, int a0, int a1,
        int q, float *B, float *Mb)
{
	const gq_wgroup *g = c->grp;
	int nr = 2 * c->kern->v, cin = c->cin, ng = g->ng, R = c->kern->nrows, T = c->tiles;
	int a2 = c->alpha * c->alpha, base = c->cout / ng, n = (a1 - a0) * T, nb = (n + R - 1) / R;
	size_t cols = (size_t)group_cols(c), ld = ng * cols, rows = (size_t)(i1 - i0) * nr * ng;
	float acc[NROWS * 2 * VMAX];
	const float *U = c->a + (size_t)q * cin * c->mpanels * nr,
	            *Un = q + 1 < a2 ? U + (size_t)cin * c->mpanels * nr : U;
	for (int a = a0; a < a1; a++)
		gather_mixed(B + (a - a0) * T, n, V + (size_t)g->pt[a][q] * cin * T, g->src[a], ng,
		        cin, T);
	for (int r = 0; r < nb; r++) {
		int r0 = n * r / nb, r1 = n * (r + 1) / nb;
		for (int i = i0; i < i1; i++) {
			size_t at = (size_t)i * cin * nr;
			const float *pa = Un + at + (size_t)(r & 1) * cin * LINE_FLOATS;
			c->kern->narrow[r1 - r0 - 1](cin, U + at, B + r0, n, acc, pa, pa);
			for (int x = r0; x < r1;) { /* each element's rows to its point */
				int a = a0 + x / T, t = x % T, m = min_int(T - t, r1 - x);
				float *C = Mb + g->pt[a][q] * rows * cols + a * cols +
				           (size_t)(i - i0) * nr * ld + t;
				c->kern->narrow_out(C, ld, acc + (x - r0) * nr, m,
				        min_int(nr, base - i * nr), NULL, false);
				x += m;
			}
		}
	}
}

/* A group plan's products on the wide kernel for the output channels (o, a) of base
 * channels o in panels [i0, i1), elements a in [a0, a1), all the tiles, at base points
 * [q0, q1): for each K block and point q, B's two halves of v columns (an element's v
 * tiles each, in turn over the elements and their tiles) read from V at the elements'
 * points with their slots permuted (ggemm_fn), times every base panel's filters, each
 * half's results going to its element's rows (o, a) at its point; a last half alone is
 * gathered into a panel (gq_wgroup_pack) for gemm1. Reading V in place, instead of
 * gathering each pair of halves into a panel first, the 256-plane p4 15x15 layers (F(4x4))
 * ran 0.91x the time on one thread and 0.92x on two (AVX-512; AVX2 one thread 0.92x), the
 * 512-plane 8x8 ones (F(2x2)) 0.97x: the first call's loads from V overlap its multiply-adds,
 * the later ones find the lines in L1. Mb: channel (o, a) of the block at
 * ((o - i0*mr)*ng + a)*cols. The K blocks outside the points keep a block's V in the L2
 * while every element reads it at each of its points: with the points outside, 512 planes
 * at 8x8 by F(2x2) (4 K blocks) ran 1.08x the time on one thread (AVX-512). */
static void wino_group_wide(
        const gq_conv *c, const float *V, int i0, int i1, int a0, int a1, int q0, int q1, float *Mb)
{
	const gq_wgroup *g = c->grp;
	int v = c->kern->v, nr = 2 * v, cin = c->cin, ng = g->ng, hpe = group_cols(c) / v,
	    halves = a1 * hpe, mr = c->mr;
	size_t cols = (size_t)group_cols(c), ld = ng * cols, rows = (size_t)(i1 - i0) * mr * ng;
	_Alignas(64) float B[KC * 2 * VMAX];
	int off[GQ_D4_ORDER][GQ_D4_ORDER]; /* element a's slot s at off[a][s] floats (ggemm_fn) */
	for (int a = a0; a < a1; a++)
		for (int s = 0; s < ng; s++)
			off[a][s] = g->src[a][s] * nr;
	for (int pc = 0; pc < cin; pc += c->cib) {
		int kc = min_int(c->cib, cin - pc);
		for (int q = q0; q < q1; q++) {
			const float *U = c->a + (size_t)q * cin * c->mpanels * mr;
			for (int h = a0 * hpe; h < halves; h += 2) {
				int n = min_int(2, halves - h), a[2], t[2];
				float *C[2];
				const float *src[2];
				for (int e = 0; e < 2; e++) {
					int he = h + (e < n ? e : 0);
					a[e] = he / hpe;
					t[e] = he % hpe * v;
					C[e] = Mb + g->pt[a[e]][q] * rows * cols + a[e] * cols +
					       t[e];
					src[e] = V + (size_t)g->pt[a[e]][q] * wino_vstride(c) +
					         ((size_t)t[e] / nr * cin + pc) * nr + t[e] % nr;
				}
				if (n == 1)
					gq_wgroup_pack(g, B, V, wino_vstride(c), cin, v, q, pc, kc,
					        a, t, n);
				for (int i = i0; i < i1; i++) {
					size_t off_c = (size_t)(i - i0) * mr * ld;
					Out o = {C[0] + off_c, C[1] + off_c, ld, ld, C[0] + off_c,
					        C[1] + off_c};
					const float *Ui =
					        U + ((size_t)pc * c->mpanels + (size_t)i * kc) * mr;
					int first = pc == 0 ? FIRST : 0;
					if (n == 2)
						c->wk->ggemm(kc, Ui, src[0], src[1], off[a[0]],
						        off[a[1]], ng, (size_t)ng * nr, o, zeros,
						        first);
					else
						c->wk->gemm1(kc, Ui, B, o, zeros, first);
				}
			}
		}
	}
}

/* A group plan's block, base channels of panels [i0, i1) and elements [a0, a1) (one
 * thread's half, plan_group): the products at base points [q0, q1) (narrow or wide) into
 * Mb. */
static void group_points(const gq_conv *c, float *V, const GroupBlock *b, int q0, int q1, float *Mb)
{
	if (!c->narrow) {
		wino_group_wide(c, V, b->i0, b->i1, b->a0, b->a1, q0, q1, Mb);
		return;
	}
	for (int q = q0; q < q1; q++)
		if (c->mixed) /* its V's tiles packed, then B, follow V (group_floats) */
			wino_group_mixed(c, V + wino_v_floats(c), b->i0, b->i1, b->a0, b->a1, q,
			        V + wino_v_floats(c) + group_vc_floats(c), Mb);
		else if (c->packed)
			wino_group_packed(c, V, b->i0, b->i1, b->a0, b->a1, q, Mb);
		else
			wino_group_narrow(c, V, b->i0, b->i1, b->a0, b->a1, b->t1 - b->t0, q, Mb);
}

/* Where a paired block (group_paired) keeps channel (o, a) in Mb: its row (o, a) where a
 * is the first of its pair, else its pair's first's row (o + V, .); -1 where a is not one
 * of the block's pairs [p0, p1). */
static int group_row(const gq_conv *c, int o, int a, int p0, int p1)
{
	const gq_wgroup *g = c->grp;
	for (int p = p0; p < p1; p++) {
		int lo = g->lower[p];
		if (lo == a || g->partner[lo] == a)
			return ((lo == a ? o : o + c->kern->v) * g->ng + lo);
	}
	return -1;
}

/* A paired block back to pixels: each base channel's elements in runs of channels whose
 * rows follow each other in Mb (for p4m's pairs (e, r2) and (r, r3), all four). */
static void group_out_paired(
        const gq_conv *c, float *out, const float *add, const GroupBlock *b, float *Mb)
{
	int ng = c->grp->ng;
	size_t cols = (size_t)group_cols(c), rows = (size_t)c->mr * ng;
	for (int o = 0; o < c->cout / ng; o++)
		for (int a = 0; a < ng; a++) {
			int r = group_row(c, o, a, b->a0, b->a1), n = 1;
			if (r < 0)
				continue;
			while (a + n < ng && group_row(c, o, a + n, b->a0, b->a1) == r + n)
				n++;
			c->kern->wino_out(c, out, add, Mb + r * cols, rows * cols, cols, o * ng + a,
			        o * ng + a + n, 0, c->tiles);
			a += n - 1;
		}
}

/* A group plan's block back to pixels, from its products in Mb. */
static void group_out(
        const gq_conv *c, float *out, const float *add, const GroupBlock *b, float *Mb)
{
	int mr = c->mr, ng = c->grp->ng, i0 = b->i0, i1 = b->i1, a0 = b->a0, a1 = b->a1;
	size_t cols = (size_t)group_cols(c), rows = (size_t)(i1 - i0) * mr * ng;
	if (c->paired) {
		group_out_paired(c, out, add, b, Mb);
		return;
	}
	if (a0 == 0 && a1 == ng) {
		c->kern->wino_out(c, out, add, Mb, rows * cols, cols, i0 * mr * ng,
		        min_int(i1 * mr * ng, c->cout), b->t0, b->t1);
		return;
	}
	for (int o = i0 * mr; o < min_int(i1 * mr, c->cout / ng); o++) /* channels (o, a0..a1) */
		c->kern->wino_out(c, out, add, Mb + ((size_t)(o - i0 * mr) * ng + a0) * cols,
		        rows * cols, cols, o * ng + a0, o * ng + a1, b->t0, b->t1);
}

/* Output channels of panels [i0, i1) for tiles [t0, t1) (t0 a multiple of V, t1 too or the
 * layer's wino_live): the alpha^2 products into Mb, then back to pixels. V holds the
 * transformed input in panels of 2V tiles from tile tv on. */
static void wino_block(const gq_conv *c, float *out, const float *add, const float *V, int tv,
        int i0, int i1, int t0, int t1, float *Mb, float *out2)
{
	if (c->narrow) {
		wino_narrow(c, out, add, V, i0, i1, Mb);
		return;
	}
	int v = c->kern->v, nr = 2 * v, cin = c->cin, last = min_int(t1, c->tiles), mr = c->mr;
	size_t rows = (size_t)(i1 - i0) * mr, cols = (size_t)round_up(t1 - t0, nr);
	for (int xi = 0; xi < c->alpha * c->alpha; xi++) {
		const float *U = c->a + (size_t)wino_mat(c, xi) * cin * c->mpanels * mr;
		float *Mx = Mb + xi * rows * cols;
		for (int pc = 0; pc < cin; pc += c->cib) {
			int kc = min_int(c->cib, cin - pc);
			for (int t = t0; t < t1; t += nr) {
				const float *b = V + xi * wino_vstride(c) +
				                 ((size_t)((t - tv) / nr) * cin + pc) * nr;
				/* a panel's second half may hold no tile of the block */
				gemm_fn *gemm = last - t > v ? c->wk->gemm : c->wk->gemm1;
				for (int i = i0; i < i1; i++) {
					float *C = Mx + (i - i0) * mr * cols + (t - t0);
					Out o = {C, C + v, cols, cols, C, C + v};
					gemm(kc,
					        U + ((size_t)pc * c->mpanels + (size_t)i * kc) * mr,
					        b, o, zeros, pc == 0 ? FIRST : 0);
				}
			}
		}
	}
	c->kern->wino_out(
	        c, out, add, Mb, rows * cols, cols, i0 * mr, min_int(i1 * mr, c->cout), t0, last);
	out_border(c, out, i0 * mr, min_int(i1 * mr, c->cout), t0, last);
	if (out2) { /* the block's rows in the other copy too (Halves) */
		c->kern->wino_out(c, out2, add, Mb, rows * cols, cols, i0 * mr,
		        min_int(i1 * mr, c->cout), t0, last);
		out_border(c, out2, i0 * mr, min_int(i1 * mr, c->cout), t0, last);
	}
}

static float *line_aligned(float *scratch);
static Input padded_input(const gq_conv *c, const float *xp);
static inline void spin_pause(int i);

/* A group plan's run on n threads (two at most): each pads and transforms the whole input
 * (a few percent of the products' work) into its own part of scratch, so that neither
 * waits for the other (a barrier between the phases, with the machine shared, ran the
 * 512-plane 8x8 layer several times slower), then runs the products of its half of the
 * base channels (reading its half of the bank, each pair of B's halves read for all of
 * them) or of the elements (plan_group), in ranges of base points, and back to pixels;
 * one thread runs the wide form's panels and elements as one block, the narrow form's
 * halves in turn. The two cores run at different speeds, and which is faster
 * changes with the placement and the load (rdtsc in ResNet-44 p4m's stage 2 and 3 at batch
 * 1: thread 0's products 10-25% slower in one run, thread 1's 5-15% in the next, whichever
 * half each ran): a thread done with its own points takes the other half's last ones, one
 * at a time, computing them from its own transformed input (the same numbers) into the
 * owner's products, and the owner goes back to pixels once the points it lost are done. A
 * stolen point costs a point's gathers and bank, 1/16 or 1/36 of the half's, not a pass
 * over them (s14-gsplit's smaller calls cost 45-100 us each). By tiles (group_by_tiles) each
 * thread pads and transforms only its range's rows and tiles, and a thief computes the
 * points it takes from the owner's transformed input, once the owner has written it; there
 * only the points gq_conv_wgroup_steal asks for are taken, none after a thread's own points
 * (group_steals). */
typedef struct GroupHalf {
	/* the half's points not yet claimed, [lo, hi) (lo in the low 32 bits): its owner
	 * claims them from lo up, the other thread from hi down, each a compare-and-swap on
	 * the pair; on a line of its own */
	_Alignas(64) _Atomic uint64_t lohi;
	_Atomic int stolen_done; /* points the other thread claimed and finished */
	_Atomic int ready;       /* by tiles: its owner's V holds the half's tiles */
} GroupHalf;

typedef struct GroupJob {
	const gq_conv *c;
	float *out, *scratch;
	const float *in, *add;
	GroupHalf half[2];
} GroupJob;

static int steal_first;      /* gq_conv_wgroup_steal's */
enum { STEAL_SPINS = 4096 }; /* its pauses for the owner's V by tiles (steal_points) */

void gq_conv_wgroup_steal(int points)
{
	steal_first = points;
}

/* Half h's block (plan_group's halves). */
static GroupBlock group_block(const gq_conv *c, int h)
{
	int ng = c->paired ? c->grp->pairs : c->grp->ng, T = c->tiles; /* paired: pairs */
	if (c->by_tiles)
		return (GroupBlock){0, c->mpanels, 0, ng, h ? (T + 1) / 2 : 0, h ? T : (T + 1) / 2};
	if (c->by_elements)
		return (GroupBlock){0, c->mpanels, h * ng / 2, (h + 1) * ng / 2, 0, T};
	return (GroupBlock){h ? c->cop : 0, h ? c->mpanels : c->cop, 0, ng, 0, T};
}

/* Thread t's part of scratch: its padded input, then V, then its half's products; thread
 * 1's in its own buffer where group_own says so. */
static float *group_part(const GroupJob *j, int t)
{
	if (t && j->c->own_part)
		return line_aligned(gq_team_scratch(t));
	return line_aligned(j->scratch + t * group_floats(j->c));
}

static float *group_products(const GroupJob *j, int t)
{
	return group_part(j, t) + padded_floats(j->c) + wino_v_floats(j->c) + group_b_floats(j->c);
}

/* Claims half h's points [*q0, *q1): the owner one from the first up, or where its plan has
 * several K blocks (ranged) three quarters of those left; the other thread the last one
 * but where it is the only one left (the owner's own costs less: a stolen point's products
 * are written to lines the owner holds, and read back from the thief's); false where none
 * is. The ranges keep most of the owner's points in one of wino_group_wide's passes over the
 * K blocks (point by point, ResNet-18 p4 on two threads ran 0.92-0.99x the images/s on
 * AVX2, its 512 planes at 8x8 having 4 K blocks); elsewhere a range the owner has claimed
 * cannot be stolen (3/4 on the narrow form left ResNet-44 p4 97's group layers 1.01-1.11x
 * the time of equal halves, AVX-512). */
static bool claim_points(GroupHalf *h, bool owner, bool ranged, int *q0, int *q1)
{
	uint64_t s = atomic_load_explicit(&h->lohi, memory_order_relaxed);
	for (;;) {
		uint32_t lo = (uint32_t)s, hi = (uint32_t)(s >> 32);
		if (lo >= hi || (!owner && hi - lo < 2))
			return false;
		uint32_t n = owner && ranged && hi - lo > 1 ? (hi - lo) * 3 / 4 : 1;
		uint64_t next = owner ? s + n : s - ((uint64_t)1 << 32);
		if (atomic_compare_exchange_weak_explicit(
		            &h->lohi, &s, next, memory_order_relaxed, memory_order_relaxed)) {
			*q0 = owner ? (int)lo : (int)hi - 1;
			*q1 = owner ? (int)(lo + n) : (int)hi;
			return true;
		}
	}
}

/* Up to most of half h's last points, computed from this thread's V into the owner's
 * products. By tiles, from the owner's V, and none before the owner has written it: this
 * waits for that at most spins pauses (0 but for gq_conv_wgroup_steal's first points), as
 * the other half's share may not have started, or may run after this one on this thread
 * (par.c's close_job runs the shares no worker joined). */
static void steal_points(GroupJob *j, float *V, int h, int most, int spins)
{
	GroupBlock b = group_block(j->c, h);
	float *Mb = group_products(j, h);
	int q0, q1;
	if (j->c->by_tiles && most > 0) {
		for (int i = 0; !atomic_load_explicit(&j->half[h].ready, memory_order_acquire); i++)
			if (i >= spins)
				return;
			else
				spin_pause(i);
		V = group_part(j, h) + padded_floats(j->c);
	}
	for (int k = 0; k < most && claim_points(&j->half[h], false, false, &q0, &q1); k++) {
		group_points(j->c, V, &b, q0, q1, Mb);
		atomic_fetch_add_explicit(&j->half[h].stolen_done, 1, memory_order_release);
	}
}

/* Half h's points that are left, from the first up. */
static void own_points(GroupJob *j, float *V, int h, float *Mb)
{
	GroupBlock b = group_block(j->c, h);
	bool ranged = !j->c->narrow && j->c->cib < j->c->cin;
	int q0, q1;
	while (claim_points(&j->half[h], true, ranged, &q0, &q1))
		group_points(j->c, V, &b, q0, q1, Mb);
}

/* Half h back to pixels, once its owner has claimed all it could and the points the other
 * thread took are done (none is left: hi is final, the points past it the other's). */
static void half_out(GroupJob *j, int h, float *Mb)
{
	const gq_conv *c = j->c;
	GroupBlock b = group_block(c, h);
	GroupHalf *half = &j->half[h];
	int lost = c->alpha * c->alpha -
	           (int)(atomic_load_explicit(&half->lohi, memory_order_relaxed) >> 32);
	for (int i = 0; atomic_load_explicit(&half->stolen_done, memory_order_acquire) < lost; i++)
		spin_pause(i);
	group_out(c, j->out, j->add, &b, Mb);
}

static void group_share(void *ctx, int t, int n)
{
	GroupJob *j = ctx;
	const gq_conv *c = j->c;
	if (n == 1 && c->full) {
		gq_conv_run_sum(c->full, j->out, j->in, j->add, j->scratch);
		return;
	}
	float *xp = group_part(j, t), *V = xp + padded_floats(c), *Mb = group_products(j, t);
	Input x = padded_input(c, xp);
	/* by tiles, the padded rows and the tiles of this thread's range only */
	GroupBlock mine = group_block(c, t);
	bool tiles = c->by_tiles && n == 2;
	int r0 = tiles ? mine.t0 / c->tw * c->m : 0,
	    r1 = tiles ? min_int(c->hp, (mine.t1 - 1) / c->tw * c->m + c->alpha) : c->hp;
	pad_input(c, xp, j->in, 0, c->cin, r0, r1);
	if (c->mixed) /* its V packed after V, which holds the chunks */
		group_in_mixed(c, V + wino_v_floats(c), V, &x);
	else
		c->kern->wino_in(c, V, wino_vstride(c), &x, 0, c->cin, tiles ? mine.t0 : 0,
		        tiles ? mine.t1 : wino_live(c));
	if (tiles)
		atomic_store_explicit(&j->half[t].ready, 1, memory_order_release);
	int a2 = c->alpha * c->alpha;
	/* One thread, the wide form: every panel and element in one block, so that each pair
	 * of B's halves serves all the panels' filters while its lines are in L1 and V is read
	 * once, not once a half; its products (all of M, twice a half's at most) fit the
	 * scratch of both threads' parts. 256 planes of p4 at 15x15 by F(4x4) ran 0.88-0.90x
	 * the time of the two halves in turn, 512 at 8x8 by F(2x2) 0.89-0.93x (AVX-512; AVX2
	 * 0.91-1.01x and 0.92-0.96x). The same floats: each output's sums in the same order.
	 * A plan by tiles too: one thread's V holds all the tiles, in one range. */
	if (n == 1 && (!c->narrow || c->mixed || c->by_tiles)) {
		GroupBlock all = {0, c->mpanels, 0, c->grp->ng, 0, c->tiles};
		group_points(c, V, &all, 0, a2, Mb);
		group_out(c, j->out, j->add, &all, Mb);
		return;
	}
	for (int h = t; h < 2; h += n) {
		GroupBlock b = group_block(c, h);
		if (n == 1) { /* all the points in one range */
			group_points(c, V, &b, 0, a2, Mb);
		} else {
			steal_points(j, V, 1 - h, steal_first, STEAL_SPINS);
			own_points(j, V, h, Mb);
			if (c->steals)
				steal_points(j, V, 1 - h, a2, 0);
		}
		half_out(j, h, Mb);
	}
}

static void group_run(
        const gq_conv *c, float *out, const float *in, const float *add, float *scratch)
{
	GroupJob j = {.c = c, .out = out, .scratch = scratch, .in = in, .add = add};
	uint64_t all = (uint64_t)(c->alpha * c->alpha) << 32;
	for (int h = 0; h < 2; h++) {
		atomic_init(&j.half[h].lohi, all);
		atomic_init(&j.half[h].ready, 0);
	}
	gq_parallel(2, group_share, &j);
}

/* ---- running it ---- */

/* A max pool fused after a direct conv (gq_conv_run_pool), run on the conv's output rows
 * as they are written: rows[y] counts the runs of output row y written (of every channel),
 * claimed[py] whether a thread has taken the pool's output row py. */
enum { POOL_ROWS = 2048 };
enum { LAZY_ROWS = 1024 };
/* padded rows at most of a fused Winograd plan without input phase */ /* output rows at
                                                                          most, else the
                                                                          pool runs after
                                                                          the conv */
typedef struct Pooled {
	float *out;
	int k, s, p, oh, ow; /* the pool's window, stride, padding; its output's rows, cols */
	_Atomic int rows[POOL_ROWS];
	atomic_bool claimed[POOL_ROWS];
} Pooled;

/* A fused pair on two ranges whose second range keeps b's padded copy of its own
 * (two_copies): the first conv's range 1 stores into out1 (and, for its blocks above
 * out_rows, into the shared copy too: the rows range 0 of b reads); the second's range 1
 * reads in1, into which its first block copies the rows above its own from the shared copy
 * (halo: 0 not yet, 1 being copied, 2 copied). */
typedef struct Halves {
	float *out1;
	int out_rows;
	const float *in1;
	_Atomic int halo;
} Halves;

typedef struct Job {
	const gq_conv *c;
	float *out;
	const float *add; /* the residual, or NULL */
	const float *x;   /* the input */
	const float *in;  /* direct and Winograd: its padded copy */
	float *scratch;   /* the caller's */
	float *V;         /* Winograd: the transformed input */
	int units;        /* direct: tiles (by_panel: panels of MR output channels);
	                   * packed: panels of 2V pixels; Winograd: blocks */
	bool by_panel;
	bool padded;  /* Winograd: the caller wrote the padded copy (gq_conv_run_padded) */
	Pooled *pool; /* direct: the max pool fused after it, or NULL */
	/* fused Winograd: no input phase, a block pads the rows it reads (pad_rows) as it
	 * comes to them; row[r] says whether padded row r is: 0 not yet, 1 being padded,
	 * 2 padded. NULL: the input phase padded it all. */
	_Atomic unsigned char *row;
	int ranges, per;          /* fused Winograd: ranges of tiles, and blocks of tiles in each
	                           * (fused_block) */
	int held[GQ_MAX_THREADS]; /* fused Winograd: 1 + the first tile of the block whose
	                           * transformed input thread t's V holds (0: none yet) */
	bool own_rows;            /* fused Winograd on several threads: each pads the rows its
	                           * blocks read into a copy of its own (pad_own), not row[] */
	int lo[GQ_MAX_THREADS], hi[GQ_MAX_THREADS]; /* own_rows: the padded rows [lo, hi) that
	                                             * thread t's copy holds */
	bool dup;    /* unfused narrow Winograd on several threads: each transforms the whole
	              * input into a V of its own (dup_input), no input phase */
	Halves *two; /* a pair's halves on two ranges (two_copies), or NULL */
} Job;

/* Poll i of a wait for a row the other thread pads: a pause, and past the first 2048 (some
 * 35 us) a sched_yield every 64, as par.c's waits: a wait that long means the other thread
 * is not running, and both threads of the team may then share one core, where pauses alone
 * kept the padding thread off it for a whole time slice, row after row. */
static inline void spin_pause(int i)
{
	if (i >= 2048 && i % 64 == 0) {
		sched_yield();
		return;
	}
#ifdef GQ_X86
	_mm_pause();
#endif
}

/* Padded rows [r0, r1) of every channel (direct: phase-plane rows), as a block of a run
 * phase without an input phase (fused Winograd, direct by tiles) comes to the tiles that
 * read them: each row padded by the first thread to claim it, just before its tiles read
 * it (in cache), then waited for where the other thread has claimed it. A thread pads all it
 * claimed before it waits: none waits while holding a row. Instead of an input phase of its own
 * (the whole map padded, a hand-over to the team and back, before any block starts), ResNet-44 p4
 * 97x97 at batch 1 on two threads ran 5-6% more images/s on AVX-512 (median ratios of three sets of
 * alternating runs on a loaded machine), on AVX2 +14% in one set and even in two; ResNet-18 p4
 * 225x225 within the noise. */
static void pad_rows(const Job *j, int r0, int r1)
{
	const gq_conv *c = j->c;
	for (int r = r0; r < r1;) {
		int e = r;
		unsigned char zero = 0;
		while (e < r1 && atomic_compare_exchange_strong(&j->row[e], &zero, 1)) {
			e++;
			zero = 0;
		}
		if (e == r) {
			r++;
			continue;
		}
		(c->algo == GQ_CONV_DIRECT ? split_input : pad_input)(
		        c, (float *)j->in, j->x, 0, c->cin, r, e);
		for (; r < e; r++)
			atomic_store_explicit(&j->row[r], 2, memory_order_release);
	}
	for (int r = r0; r < r1; r++)
		for (int i = 0; atomic_load_explicit(&j->row[r], memory_order_acquire) != 2; i++)
			spin_pause(i);
}

/* The padded rows [*r0, *r1) that the transform of tiles [t0, t1) reads: each tile's alpha
 * rows from m*s times its row of tiles, and the row after the last, into which the
 * transform's 8-float loads of a patch row's end run over; false if there is no tile. */
static bool tile_rows(const gq_conv *c, int t0, int t1, int *r0, int *r1)
{
	int last = min_int(t1, c->tiles) - 1;
	*r0 = t0 / c->tw * c->m * c->s;
	*r1 = min_int(c->hp, last / c->tw * c->m * c->s + c->alpha + 1);
	return last >= t0;
}

static void pad_tiles(const Job *j, int t0, int t1)
{
	int r0, r1;
	if (tile_rows(j->c, t0, t1, &r0, &r1))
		pad_rows(j, r0, r1);
}

/* The rows that the transform of tiles [t0, t1) on thread t reads, padded into thread t's
 * own copy xp (own_rows): those its copy does not hold yet, where they follow the rows it
 * holds (the next block of its range), else all of them. Each thread pads the halo rows it
 * shares with the other itself, reading the other's input rows once, instead of reading
 * the other's padded rows (up to 8 of every channel) in its transform: where the VM's two
 * CPUs sat far apart (a line's round trip 420-490 ns), 16 distinct 64-channel 33x33 layers
 * in a ResNet chain took 0.81-0.93x the time on two threads on AVX-512 (10 alternating
 * pairs of runs), 0.94-0.99x on AVX2, and ResNet-44 p4m ran 1.02-1.07x the images/s; near
 * (110 ns), level (0.87-1.07x, median 0.97x, 14 pairs). */
static void pad_own(const Job *j, float *xp, int t0, int t1, int t)
{
	const gq_conv *c = j->c;
	int r0, r1, *lo = (int *)&j->lo[t], *hi = (int *)&j->hi[t];
	if (!tile_rows(c, t0, t1, &r0, &r1))
		return;
	if (r0 < *lo || r0 > *hi)
		*lo = *hi = r0;
	if (r1 > *hi) {
		pad_input(c, xp, j->x, 0, c->cin, *hi, r1);
		*hi = r1;
	}
}

/* The phase-plane rows that direct runs [r0, r1) read: from their first output row to
 * their last's, plus the taps' reach below it. */
static void pad_runs(const Job *j, int r0, int r1)
{
	const gq_conv *c = j->c;
	int per_row = c->runs / c->oh;
	if (r0 < r1)
		pad_rows(j, r0 / per_row, (r1 - 1) / per_row + (c->k - 1) * c->d / c->s + 1);
}

/* Bytes of input from which a fused Winograd layer split over the threads reads its input
 * in place (wino_units) where a worker's scratch cannot hold its own padded copy: a smaller
 * map's padded copy is cheap, in a core's cache, and the masked loads cost more than it
 * saves (P4CNN's 40-channel 26x26 layers, 108 KB: 2-3% fewer images/s at batch 1, AVX-512,
 * medians of 6 and 10 rounds). */
enum { FOLD_BYTES = 512 * 1024 };

/* Floats of the padded copy of its own (pad_own) that a worker keeps for a map under
 * FOLD_BYTES: with larger copies of such maps, the wide p4m model's 128-channel 29x29 layers
 * (stride 1 and 2) ran level or up to 1.2x slower on two threads than with the padded copy
 * both share (AVX-512, far, three pairs of runs). */
enum { OWN_PADDED_SMALL = 64 * 1024 };

/* Whether a fused layer split over the threads pads the rows each thread reads into a copy
 * of its own (own_rows), as a worker's scratch has room for after its V and M: a map under
 * FOLD_BYTES if its copy is small; a larger one, else read in place (wino_units), if it
 * fits GQ_TEAM_PADDED. */
static bool pads_own(const gq_conv *c)
{
	size_t need = wino_v_floats(c) + wino_m_floats(c) + padded_floats(c) + LINE_FLOATS;
	bool large = (size_t)c->cin * c->h * c->w * sizeof(float) >= FOLD_BYTES;
	return need <= GQ_TEAM_SCRATCH + (large ? GQ_TEAM_PADDED : OWN_PADDED_SMALL);
}

/* A padded copy xp [cin, hp, wq] as the Winograd transforms read it. */
static Input padded_input(const gq_conv *c, const float *xp)
{
	return (Input){xp, (size_t)c->hp * c->wq, c->wq, c->hp, c->wq, 0, true};
}

/* What the Winograd transforms of job j read: the layer's input itself (fold), its zeros
 * the transform's masked-off lanes, or the padded copy (the input phase's or pad_rows', or
 * the one gq_conv_run_padded's caller wrote). */
static Input wino_input(const Job *j, bool fold)
{
	const gq_conv *c = j->c;
	if (fold)
		return (Input){j->x, (size_t)c->h * c->w, c->w, c->h, c->w, c->p, false};
	return padded_input(c, j->in);
}

/* Slices of input channels a thread's first transform of a fused layer is cut into, each
 * followed by the prefetch of a slice of the bank. */
enum { FETCH_SLICES = 8 };

/* The transform of tiles [t0, t1); on a thread's first block of the layer (first),
 * slice by slice, each slice followed by the prefetch into L2 of as large a part of the
 * bank, which all of the thread's blocks then read: at batch 1 a model's banks come from
 * L3 or memory, and the products' own loads fetch them at a fraction of the stream's
 * speed. Run one after the other on one core, the second of two threads' shares of a
 * 64-channel 49x49 layer of ResNet-44 p4 (its 590 KB bank in L2 from the first) took 0.20
 * ms against the first's 0.33. Measured (before the input was read in place, 41bc021)
 * on 16 distinct layers run in turn (banks cold in
 * L2, as in a model), AVX-512, two threads, alternating runs under chrt at load 2-5,
 * medians of 8-12: 64 channels at 57x57 (ResNet-18 p4's first stage) 0.91x the time,
 * at 49x49 0.94-0.95x, 32 channels at 97x97 0.99x; one thread 0.98x; AVX2 0.98-0.99x. */
static void transform_fetching(const Job *j, float *V, const Input *x, int t0, int t1, bool first)
{
	const gq_conv *c = j->c;
	const char *bank = (const char *)c->a;
	size_t bytes = packed_a_floats(c) * sizeof(float);
	int slices = first ? min_int(FETCH_SLICES, c->cin) : 1;
	for (int k = 0; k < slices; k++) {
		c->kern->wino_in(c, V, wino_vstride(c), x, c->cin * k / slices,
		        c->cin * (k + 1) / slices, t0, t1);
		for (size_t b = bytes * k / slices / 64 * 64; first && b < bytes * (k + 1) / slices;
		        b += 64)
			__builtin_prefetch(bank + b, 0, 2);
	}
}

/* Blocks of output channels of a Winograd layer: of at most cop panels, as even as they can
 * be (wino_units), so that the threads' shares differ by a panel at most, not by cop - 1. */
static int channel_blocks(const gq_conv *c)
{
	return (c->mpanels + c->cop - 1) / c->cop;
}

/* Where two threads' second range of a fused layer starts: at the even cut of whole vectors
 * of tiles, or at a row of tiles (thread 0 the extra row of an odd count) where that cuts the
 * tiles more evenly and neither range then takes more vectors (a range's blocks start at
 * its first tile). ResNet-44 p4m's 33x33 maps at F(4x4) on AVX-512 (81 tiles, 9 a row): 45/36,
 * where the vectors cut 48/33 and thread 0 transformed and stored 15 tiles more; 64 channels,
 * two threads near, bench/plane (s21-plane): 0.925-0.969x a layer's time. Where the vectors
 * cut as evenly, main's cut (AVX2 there: 40/41; 49x49: 80/89, 97x97: 320/305, 57x57:
 * 112/113); at 49x49 (78/91) and 97x97 (325/300) the row cut measured 1.007x and 1.029x. */
static int second_range(const gq_conv *c)
{
	int v = c->kern->v, e = wino_live(c) / v / 2 * v, rows = (c->tiles + c->tw - 1) / c->tw;
	int r = (rows + 1) / 2 * c->tw, most = (wino_live(c) - e) / v;
	if (!c->fused || c->narrow || r >= c->tiles ||
	        abs(2 * r - c->tiles) >= abs(2 * min_int(e, c->tiles) - c->tiles) ||
	        (r + v - 1) / v > most || (c->tiles - r + v - 1) / v > most)
		return e;
	return r;
}

/* Where tile range r of n starts (n = 1: the whole layer): ranges of whole vectors of
 * tiles, as even as they can be, the last ending at wino_live; two threads' second at
 * second_range. */
static int range_start(const gq_conv *c, int r, int n)
{
	int v = c->kern->v;
	if (n == 2 && r == 1)
		return second_range(c);
	return (int)((long)wino_live(c) / v * r / n) * v;
}

/* A fused layer split over n threads takes one range of tiles a thread, cut into blocks of
 * up to 2V tiles from the range's start (an n-th of the units, as gq_parallel_for shares
 * them): its transform and the padded rows it reads are its own, where blocks of whole
 * panels from tile 0 on left a panel between the threads' shares (33x33 maps at F(4x4)
 * on AVX-512: 81 tiles, 3 panels), transformed by both, and the rows of its output and
 * input between their caches. Sets j's ranges and blocks a range (per). */
static void plan_ranges(Job *j, int n)
{
	const gq_conv *c = j->c;
	int v = c->kern->v, halves = wino_live(c) / v;
	j->ranges = n < 1 ? 1 : n > halves ? halves : n;
	j->per = 1; /* the longest range's blocks */
	for (int r = 0; r < j->ranges; r++) {
		int len = range_start(c, r + 1, j->ranges) - range_start(c, r, j->ranges);
		int b = (len + 2 * v - 1) / (2 * v);
		j->per = b > j->per ? b : j->per;
	}
	j->units = j->ranges * j->per * channel_blocks(c);
}

/* Fused unit u: output channel block *cb of the tiles [*t0, *t1), block u / ncb of the
 * ranges' blocks; false where the unit's range has fewer blocks than per. */
static bool fused_block(const Job *j, long u, int *t0, int *t1, int *cb)
{
	const gq_conv *c = j->c;
	int ncb = channel_blocks(c), r = (int)(u / ncb / j->per), b = (int)(u / ncb % j->per);
	*cb = (int)(u % ncb);
	*t0 = range_start(c, r, j->ranges) + b * 2 * c->kern->v;
	*t1 = min_int(*t0 + 2 * c->kern->v, range_start(c, r + 1, j->ranges));
	return *t0 < *t1;
}

/* Unfused narrow Winograd split over the threads: each thread pads (into xp, unless the
 * caller did) and transforms the whole input into a V of its own, rather than half of it
 * into the V both read. Split, each thread's half took 0.8x one thread's whole (36 of 46 us,
 * 128 channels at 17x17 by F(4x4), AVX-512, near): its stores to V meet the lines the other
 * thread read in the layer before, and each thread's products then read half of V from the
 * other core, besides the input phase's join. With a V of its own each, ResNet-44 p4m's
 * 17x17 layers (tuned) took 0.90-0.92x the time, the wide p4m's 29x29 F(6x6) 0.94-0.97x
 * (AVX-512, two threads, near; s21-n17 in docs/batch1.md). Not on AVX2, where the same
 * layer took 1.03x; nor with fewer than two units a thread. On the EPYC VM (far) the V both
 * read took 0.74-0.83x the wide model's 29x29 F(6x6) layer's time at load 3-5, but the whole
 * forward pass 0.96-1.07x (s27-wide) and 0.97-1.05x (s28-wide): no robust gain, so the rule
 * stays; GEQRT_DUP turns it off for such A/B runs. */
static bool dup_pays(const gq_conv *c, int units)
{
	size_t need = wino_v_floats(c) + wino_m_floats(c) + padded_floats(c) + 2 * LINE_FLOATS;
	return is_wino(c->algo) && !c->fused && c->narrow && !c->grp && c->kern->v >= 16 &&
	       units >= 2 * gq_threads() && need <= GQ_TEAM_SCRATCH + GQ_TEAM_PADDED && !c->no_dup;
}

static void dup_input(const Job *j, float *V, float *xp)
{
	const gq_conv *c = j->c;
	if (j->padded)
		xp = (float *)j->in;
	else
		pad_input(c, xp, j->x, 0, c->cin, 0, c->hp);
	Input x = padded_input(c, xp);
	c->kern->wino_in(c, V, wino_vstride(c), &x, 0, c->cin, 0, wino_live(c));
}

/* The second conv of a pair's halves (Job.two), before its range 1 reads its own copy: the
 * padded rows of that range's first row of tiles and above, and the next row's left border,
 * from the shared copy (where range 0 of the first conv stored them, and range 1 its blocks
 * there too), by the first thread to come to it; the other waits. */
static void halo_copy(const Job *j)
{
	const gq_conv *c = j->c;
	Halves *h = j->two;
	int zero = 0, t0 = range_start(c, 1, 2), r0, r1;
	if (atomic_load_explicit(&h->halo, memory_order_acquire) == 2)
		return;
	if (atomic_compare_exchange_strong(&h->halo, &zero, 1)) {
		size_t plane = (size_t)c->hp * c->wq;
		int e = min_int((t0 + c->tw - 1) / c->tw * c->m + c->p, c->hp);
		tile_rows(c, t0, c->tiles, &r0, &r1);
		/* and the left border of row e, which the tile ending the row above writes */
		size_t n = (size_t)(e - r0) * c->wq + (e < c->hp ? c->p : 0);
		for (int ci = 0; r0 < e && ci < c->cin; ci++)
			memcpy((float *)h->in1 + ci * plane + (size_t)r0 * c->wq,
			        j->in + ci * plane + (size_t)r0 * c->wq, n * sizeof(float));
		atomic_store_explicit(&h->halo, 2, memory_order_release);
		return;
	}
	for (int i = 0; atomic_load_explicit(&h->halo, memory_order_acquire) != 2; i++)
		spin_pause(i);
}

/* Winograd blocks [u0, u1), with a worker's own scratch (NULL: the caller's, in the job):
 * fused, block of tiles by block (fused_block), each transformed once for its blocks of
 * output channels (*held: 1 + the first tile of the block V holds from the thread's last
 * call); else channel block by channel block, reading the layer's V. */
static void wino_units(const Job *j, int u0, int u1, float *own, int *held)
{
	const gq_conv *c = j->c;
	float *V = (c->fused || j->dup) && own ? own : j->V;
	float *Mb = own && !c->fused && !j->dup ? own : V + wino_v_floats(c);
	int ntb = (c->tpanels + c->tcp - 1) / c->tcp, ncb = channel_blocks(c);
	int nt = c->tcp * 2 * c->kern->v;
	/* Split over the threads (a worker's, or a share of the units), a fused block of a large
	 * map whose padded rows no thread can keep a copy of its own of (own_rows) reads the
	 * layer's input itself: no rows padded by one thread for the other to wait for (a
	 * 32-channel 97x97 layer on two threads took 10% less time than with the shared padded
	 * copy, AVX-512). A padded copy of its own pays wherever a thread has one: its sequential
	 * reads stream the input in, where the transform's own loads jump from plane to plane
	 * (folded, a 97x97 layer took 1.16x the time on one thread, and a thread's half of it
	 * 1.2x with the other thread idle; s18-split in docs/batch1.md). */
	bool fold = c->fused && j->row && !j->own_rows && (own || u1 - u0 < j->units) &&
	            (size_t)c->cin * c->h * c->w * sizeof(float) >= FOLD_BYTES;
	if (j->dup && u0 < u1 && !*held) {
		dup_input(j, V, own ? line_aligned(Mb + wino_m_floats(c)) : (float *)j->in);
		*held = 1;
	}
	for (int u = u0; u < u1; u++) {
		int t0 = u % ntb * nt, t1 = min_int(t0 + nt, wino_live(c)), cb = u / ntb;
		if (c->fused && !fused_block(j, u, &t0, &t1, &cb))
			continue;
		bool r1 = j->two && u / ncb / j->per == 1; /* range 1 of a pair's halves */
		if (c->fused && t0 + 1 != *held) {
			/* the caller's copy is the job's; a worker's follows its V and Mb */
			float *xp = own ? line_aligned(own + wino_v_floats(c) + wino_m_floats(c))
			                : (float *)j->in;
			Input x = wino_input(j, fold);
			if (r1 && j->padded) {
				halo_copy(j);
				x = padded_input(c, j->two->in1);
			}
			if (j->own_rows) {
				pad_own(j, xp, t0, t1, (int)(held - j->held));
				x = padded_input(c, xp);
			} else if (j->row && !fold) {
				pad_tiles(j, t0, t1);
			}
			transform_fetching(j, V, &x, t0, t1, *held == 0);
			*held = t0 + 1;
		}
		float *out = r1 && !j->padded ? j->two->out1 : j->out, *out2 = NULL;
		if (r1 && !j->padded && t0 / c->tw * c->m < j->two->out_rows)
			out2 = j->out;
		wino_block(c, out, j->add, V, c->fused ? t0 : 0, c->mpanels * cb / ncb,
		        c->mpanels * (cb + 1) / ncb, t0, t1, Mb, out2);
	}
}

/* The fused pool of output channels [co0, co1), done (direct by panels). */
static void pool_channels(const Job *j, int co0, int co1)
{
	const gq_conv *c = j->c;
	const Pooled *q = j->pool;
	co1 = min_int(co1, c->cout);
	if (co0 < co1)
		gq_maxpool2d_rows(q->out + (size_t)co0 * q->oh * q->ow,
		        j->out + (size_t)co0 * c->oh * c->ow, co1 - co0, c->oh, c->ow, q->k, q->s,
		        q->p, 0, q->oh);
}

/* Whether every run of the pool's output row py's window rows is written, and this thread
 * is the first to find it so. */
static bool pool_row_ready(const Job *j, int py)
{
	const gq_conv *c = j->c;
	Pooled *q = j->pool;
	int per_row = c->runs / c->oh, y0 = py * q->s - q->p;
	for (int y = y0 < 0 ? 0 : y0; y < min_int(y0 + q->k, c->oh); y++)
		if (atomic_load(&q->rows[y]) < per_row)
			return false;
	return !atomic_exchange(&q->claimed[py], true);
}

/* Runs [r0, r1) of every channel are written (direct by rows): counts them to their rows,
 * then pools the output rows whose windows meet those rows and are now whole, while the
 * rows are in cache. The counts' atomics order the other thread's stores of a row before
 * the reads of the thread that pools it. */
static void pool_runs(const Job *j, int r0, int r1)
{
	const gq_conv *c = j->c;
	Pooled *q = j->pool;
	int per_row = c->runs / c->oh;
	if (r0 >= r1)
		return;
	int y0 = r0 / per_row, y1 = (r1 - 1) / per_row + 1;
	for (int y = y0; y < y1; y++)
		atomic_fetch_add(&q->rows[y],
		        min_int(r1, (y + 1) * per_row) - (r0 > y * per_row ? r0 : y * per_row));
	/* output rows py with window rows [py*s - p, py*s - p + k) meeting [y0, y1) */
	int lo = y0 + q->p - q->k + 1, py = lo <= 0 ? 0 : (lo + q->s - 1) / q->s;
	int py1 = min_int(q->oh, (y1 - 1 + q->p) / q->s + 1);
	while (py < py1) {
		int a = py;
		while (py < py1 && pool_row_ready(j, py))
			py++;
		if (a < py)
			gq_maxpool2d_rows(
			        q->out, j->out, c->cout, c->oh, c->ow, q->k, q->s, q->p, a, py);
		else
			py++;
	}
}

/* Rows of output a direct conv with a pool fused writes before it pools what they
 * complete: small enough to be in L2 still (ResNet-18's lift: 4 rows of 64 channels are
 * 113 KB), large enough that the A panels are read seldom. */
enum { BAND_ROWS = 4 };

/* Direct tiles [t0, t1) of every channel; with a pool fused, in bands of BAND_ROWS rows,
 * each pooled as soon as its windows' rows are all written. */
static void direct_rows(const Job *j, int t0, int t1, float *tmp)
{
	const gq_conv *c = j->c;
	int band = j->pool ? BAND_ROWS * c->tiles / c->oh : t1 - t0;
	band = band < 1 ? 1 : band;
	for (int t = t0; t < t1; t += band) {
		int e = min_int(t + band, t1);
		if (j->row)
			pad_runs(j, 2 * t, min_int(2 * e, c->runs));
		direct_tiles(c, j->out, j->add, j->in, t, e, 0, c->mpanels, tmp);
		if (j->pool)
			pool_runs(j, 2 * t, min_int(2 * e, c->runs));
	}
}

/* Units [u0, u1) of the run phase, on thread t. */
static void run_units(void *ctx, int u0, int u1, int t)
{
	Job *j = ctx;
	const gq_conv *c = j->c;
	float *buf = t ? gq_team_scratch(t) : j->scratch;
	if (c->algo == GQ_CONV_DIRECT) {
		float *tmp = t ? buf : j->scratch + padded_floats(c);
		if (by_dot(c))
			dot_panels(c, j->out, j->add, j->in, u0, u1);
		else if (j->by_panel)
			direct_tiles(c, j->out, j->add, j->in, 0, c->tiles, u0, u1, tmp);
		else
			direct_rows(j, u0, u1, tmp);
		if (j->pool && j->by_panel)
			pool_channels(j, u0 * c->mr, u1 * c->mr);
	} else if (c->algo == GQ_CONV_PACKED) {
		int nr = 2 * c->kern->v, total = c->oh * c->ow;
		float *tmp = buf + (t ? (size_t)KC * NC : pack_floats(c));
		if (u0 < u1)
			packed_pixels(c, j->out, j->add, j->in, u0 * nr, min_int(u1 * nr, total),
			        buf, tmp);
	} else {
		/* one thread after all (an image of a batch, or the team busy): whole panels */
		if (c->fused && j->ranges > 1 && !(j->two && j->padded) && u0 == 0 &&
		        u1 == j->units) {
			/* a pair's first conv then keeps one copy, the second reads it */
			plan_ranges(j, 1);
			j->two = NULL;
			u1 = j->units;
		}
		wino_units(j, u0, u1, t ? buf : NULL, &j->held[t]);
	}
}

/* The fewest units worth a call of run_units: a packed block's pixels (NC), so that a
 * share packs whole blocks and runs each against all the filters once. */
static int grain(const Job *j)
{
	return j->c->algo == GQ_CONV_PACKED ? NC / (2 * j->c->kern->v) : 1;
}

/* The output row where the rows of units from u on start: the first row of a direct
 * layer's tile u; for fused Winograd, that of u's block of tiles, or, where the threads
 * share that block (u within it), the middle of its rows, as both read them all. */
static int unit_row(const Job *j, long u)
{
	const gq_conv *c = j->c;
	if (c->algo == GQ_CONV_DIRECT)
		return (int)(2 * u / (c->runs / c->oh));
	int t0, t1, cb;
	fused_block(j, u, &t0, &t1, &cb);
	int row = min_int(t0 / c->tw * c->m, c->oh);
	return cb == 0 ? row : (row + min_int(t1 / c->tw * c->m, c->oh)) / 2;
}

/* Whether the run phase splits the output by rows (tiles), not channels. */
static bool by_rows(const Job *j)
{
	return j->c->algo == GQ_CONV_DIRECT ? !j->by_panel : j->c->fused;
}

/* The first padded (direct: phase-plane) row that thread t of n pads when the run phase
 * splits by rows: where its first output row reads from, so that the rows a thread pads
 * are (but for a tile's halo) the rows it reads next, and were written by it in the
 * layer before, when that split by rows too. */
static int pad_row(const Job *j, int t, int n)
{
	const gq_conv *c = j->c;
	if (t == 0)
		return 0;
	if (t == n)
		return c->hp;
	int r = unit_row(j, gq_share_first(j->units, grain(j), t, n)) *
	        (c->algo == GQ_CONV_DIRECT ? 1 : c->s);
	return min_int(r, c->hp);
}

/* The first phase of direct and Winograd, on input channels [ci0, ci1) and padded rows
 * [r0, r1): the padded copy (Winograd: and its transform). */
static void input_part(const Job *j, int ci0, int ci1, int r0, int r1)
{
	const gq_conv *c = j->c;
	float *xp = (float *)j->in;
	if (c->algo == GQ_CONV_DIRECT) {
		split_input(c, xp, j->x, ci0, ci1, r0, r1);
		return;
	}
	if (!j->padded)
		pad_input(c, xp, j->x, ci0, ci1, r0, r1);
	Input x = wino_input(j, false);
	if (!c->fused)
		c->kern->wino_in(c, j->V, wino_vstride(c), &x, ci0, ci1, 0, wino_live(c));
}

/* Split over the threads as the run phase splits the output: by rows, each thread the
 * rows its own output rows read (serial, it left the other thread idle for several
 * percent of a layer; split by channels under a run phase split by rows, each thread read
 * half of its rows from the other's cache), */
static void input_rows(void *ctx, int t, int n)
{
	const Job *j = ctx;
	input_part(j, 0, j->c->cin, pad_row(j, t, n), pad_row(j, t + 1, n));
}

/* or by channels, in grains that a thread done first takes over from the other: in
 * fixed halves, a thread that the system left waiting (another process on its core) held
 * the other up for its whole half. */
static void input_channels(void *ctx, int ci0, int ci1, int t)
{
	const Job *j = ctx;
	input_part(j, ci0, ci1, 0, j->c->hp);
}

/* Vector loads of V that straddle two cache lines cost two: 2-3% of the wide model. */
static float *line_aligned(float *scratch)
{
	return (float *)(((uintptr_t)scratch + LINE_FLOATS * sizeof(float) - 1) &
	                 ~(uintptr_t)(LINE_FLOATS * sizeof(float) - 1));
}

float *gq_conv_padded(const gq_conv *c, float *scratch, int *hp, int *wq)
{
	if (!is_wino(c->algo))
		return NULL;
	*hp = c->hp;
	*wq = c->wq;
	return line_aligned(scratch);
}

static bool run(const gq_conv *c, float *out, const float *in, const float *add, float *scratch,
        bool padded, Pooled *pool, Halves *two)
{
	scratch = line_aligned(scratch);
	int n = c->oh * c->ow, nr = 2 * c->kern->v;
	bool once = c->algo == GQ_CONV_PACKED || c->algo == GQ_CONV_DIRECT;
	bool par = cost(c) >= (once ? 1 : 2) * (double)PAR_COST;
	Job j = {.c = c,
	        .out = out,
	        .add = add,
	        .x = in,
	        .in = in,
	        .scratch = scratch,
	        .units = (n + nr - 1) / nr,
	        .padded = padded,
	        .pool = pool};
	if (c->algo != GQ_CONV_PACKED) {
		j.in = scratch;
		j.units = c->tiles;
	}
	/* Every thread reads all of what is not split among them: split the filters when they
	 * are the bigger part (deep layers on small maps), so that each is read once. */
	if (c->algo == GQ_CONV_DIRECT &&
	        (packed_a_floats(c) > (size_t)c->cin * phase_floats(c) || by_dot(c))) {
		j.by_panel = true;
		j.units = c->mpanels;
	}
	if (is_wino(c->algo)) {
		j.V = scratch + padded_floats(c);
		j.units = channel_blocks(c) * ((c->tpanels + c->tcp - 1) / c->tcp);
	}
	if (c->fused)
		plan_ranges(&j, two && padded ? 2 : par ? gq_threads() : 1);
	/* the first conv of a pair's halves on two ranges (the second then on two as well) */
	j.two = two && c->fused && j.ranges == 2 ? two : NULL;
	/* No input phase where the run phase splits by rows (fused Winograd, direct by tiles):
	 * each block pads the rows it reads as it comes to them (pad_rows), unless the padded
	 * input is taller than row[]; nor where the caller padded it (gq_conv_run_padded) and
	 * fused Winograd transforms in its blocks */
	_Atomic unsigned char row[LAZY_ROWS];
	if ((c->fused || (c->algo == GQ_CONV_DIRECT && !j.by_panel)) && !padded &&
	        c->hp <= LAZY_ROWS) {
		memset(row, 0, (size_t)c->hp);
		j.row = row;
		j.own_rows = c->fused && j.ranges > 1 && pads_own(c);
	}
	j.dup = par && gq_threads() > 1 && dup_pays(c, j.units);
	if (c->algo != GQ_CONV_PACKED && !j.row && !(c->fused && padded) && !j.dup) {
		if (!par)
			input_part(&j, 0, c->cin, 0, c->hp);
		else if (by_rows(&j))
			gq_parallel(c->hp, input_rows, &j);
		else
			gq_parallel_for(c->cin, 1, input_channels, &j);
	}
	if (!par)
		run_units(&j, 0, j.units, 0);
	else
		gq_parallel_for(j.units, grain(&j), run_units, &j);
	return j.two != NULL;
}

void gq_conv_run_padded(const gq_conv *c, float *out, const float *add, float *scratch)
{
	run(c, out, NULL, add, scratch, true, NULL, NULL);
}

void gq_conv_run_sum(
        const gq_conv *c, float *out, const float *in, const float *add, float *scratch)
{
	if (c->orbit)
		gq_orbit_run(c->orbit, out, in, add, scratch);
	else if (c->phase)
		gq_phase_run(c->phase, out, in, add, NULL, 0, 0, 0, false, scratch);
	else if (c->grp)
		group_run(c, out, in, add, scratch);
	else
		run(c, out, in, add, scratch, false, NULL, NULL);
}

void gq_conv_run(const gq_conv *c, float *out, const float *in, float *scratch)
{
	gq_conv_run_sum(c, out, in, NULL, scratch);
}

/* Whether gq_conv_run_pair's first conv a can write the second's (b's) padded copy itself:
 * both plain Winograd plans (no orbit, group or phase plan), a of stride 1 onto b's input. */
static bool pair_fits(const gq_conv *a, const gq_conv *b)
{
	return !a->orbit && !a->phase && !a->grp && !b->orbit && !b->phase && !b->grp &&
	       is_wino(a->algo) && is_wino(b->algo) && a->s == 1 && a->oh == b->h &&
	       a->ow == b->w && a->cout == b->cin && b->p > 0;
}

/* GEQRT_PAIR=0: never (the two calls in turn). */
static bool pair_rows(const gq_conv *a, const gq_conv *b)
{
	const char *e = getenv("GEQRT_PAIR");
	return !(e && !strcmp(e, "0")) && pair_fits(a, b);
}

/* Rows of tiles a row at least where a pair on two threads keeps a copy of the second's
 * padded input for each range (two_copies). */
enum { HALVES_TW = 20 };

/* Whether a pair on two threads keeps b's padded copy in two, one a range (Halves): the
 * first conv's range 1 stores into a copy of its own, and the blocks of it whose rows range
 * 0 of the second reads into the shared copy as well; the second's range 1 reads its own,
 * after copying the rows above its first whole row of tiles from the shared one. Where the
 * two vCPUs sat far apart (a line's round trip 420-470 ns), ResNet-44 p4 97's 32-plane
 * 97x97 pairs (F(4x4), 25 tiles a row, ranges 320/305) took 0.90-0.91x the time (rdtsc of
 * the pair's wall, medians of ~300 pairs a side alternating in one process, AVX-512), near
 * 1.00-1.02x; its 64-plane 49x49 pairs (13 a row) 0.99x far and 1.03-1.06x near, the
 * 33x33 ones (9 a row) 0.99x far and 1.01-1.03x near (the blocks stored twice are a larger
 * part of a range there): hence only wide rows of tiles (s29-halo in docs/batch1.md).
 * GEQRT_HALVES=0 when a plan is made: never (read then, so that the scratch sized for a
 * pair stays the one its runs use). */
static bool two_copies(const gq_conv *a, const gq_conv *b)
{
	return !a->no_halves && !b->no_halves && pair_fits(a, b) && a->fused && b->fused &&
	       !a->narrow && !b->narrow && a->kern == b->kern && a->m == b->m && a->tw == b->tw &&
	       a->tiles == b->tiles && b->tw >= HALVES_TW && second_range(a) == second_range(b);
}

/* Where the range 1 copy of two_copies starts, in floats from the scratch's start. */
static size_t halves_at(const gq_conv *a, const gq_conv *b)
{
	size_t sa = gq_conv_scratch(a), sb = gq_conv_scratch(b);
	size_t rows = LINE_FLOATS + padded_floats(b) + sa;
	return (rows > sb ? rows : sb) + LINE_FLOATS;
}

size_t gq_conv_pair_scratch(const gq_conv *a, const gq_conv *b)
{
	size_t sa = gq_conv_scratch(a), sb = gq_conv_scratch(b), two = sa > sb ? sa : sb;
	size_t rows = LINE_FLOATS + padded_floats(b) + sa;
	if (two_copies(a, b))
		return halves_at(a, b) + padded_floats(b);
	return pair_fits(a, b) && rows > two ? rows : two;
}

/* Where both are plain Winograd plans (pair_rows), a stores its output straight into b's
 * padded copy, border and all (a copy of a with b's wq, hp*wq and p as ldo, plo and opad),
 * and b runs on that copy as gq_conv_run_padded's caller had written it: no pad_input of
 * mid into it (14-15% of a 32-plane 97x97 layer on AVX-512, s23-fused), no rows claimed or
 * copied by each thread. The copy lives in the caller's scratch (gq_conv_pair_scratch: b's
 * padded copy, then a's scratch), where b's run reads it, not in mid: the emitter sizes mid
 * when it compiles, and the copy's hp and wq depend on the plan chosen at run time (F(2x2)
 * .. F(6x6), the tuner's). mid is not written. */
void gq_conv_run_pair(const gq_conv *a, const gq_conv *b, float *out, const float *in, float *mid,
        const float *add, float *scratch)
{
	if (!pair_rows(a, b)) {
		gq_conv_run(a, mid, in, scratch);
		gq_conv_run_sum(b, out, mid, add, scratch);
		return;
	}
	int hp = b->hp, wq = b->wq;
	float *xp = line_aligned(scratch); /* gq_conv_run_padded's copy */
	gq_conv to_rows = *a;
	to_rows.ldo = wq;
	to_rows.plo = (size_t)hp * wq;
	to_rows.opad = b->p;
	Halves h = {0}, *two = NULL;
	if (gq_threads() == 2 && two_copies(a, b)) {
		int r0, r1;
		float *in1 = line_aligned(scratch + halves_at(a, b) - LINE_FLOATS);
		tile_rows(b, 0, second_range(b), &r0, &r1);
		h.out1 = in1 + (size_t)b->p * wq + b->p;
		h.out_rows = r1 - b->p;
		h.in1 = in1;
		atomic_init(&h.halo, 0);
		two = &h;
	}
	bool halves = run(&to_rows, xp + (size_t)b->p * wq + b->p, in, NULL, xp + padded_floats(b),
	        false, NULL, two);
	run(b, out, NULL, add, scratch, true, NULL, halves ? two : NULL);
}

/* Only a direct plan pools as it goes (ResNet's lift, 7x7 stride 2, runs direct); others
 * (an orbit's plan has no shape of its own: hence n, h, w) pool after the conv, as the
 * unfused pair would. */
void gq_conv_run_pool(const gq_conv *c, float *out, const float *in, const float *add,
        float *pooled, int n, int h, int w, int k, int s, int p, float *scratch)
{
	if (c->phase) {
		gq_phase_run(c->phase, out, in, add, pooled, k, s, p, false, scratch);
		return;
	}
	if (c->orbit || c->algo != GQ_CONV_DIRECT || c->oh > POOL_ROWS ||
	        !gq_maxpool2d_rows(pooled, out, 0, c->oh, c->ow, k, s, p, 0, 0)) {
		gq_conv_run_sum(c, out, in, add, scratch);
		gq_maxpool2d(pooled, out, n, h, w, k, s, p);
		return;
	}
	Pooled *q = &(Pooled){pooled, k, s, p, (c->oh + 2 * p - k) / s + 1,
	        (c->ow + 2 * p - k) / s + 1, {0}, {0}};
	run(c, out, in, add, scratch, false, q, NULL);
}

/* The phase plan pools its bands from a buffer a thread (out holds no result); the others as
 * gq_conv_run_pool. */
void gq_conv_run_pool_only(const gq_conv *c, float *out, const float *in, const float *add,
        float *pooled, int n, int h, int w, int k, int s, int p, float *scratch)
{
	if (c->phase) {
		gq_phase_run(c->phase, out, in, add, pooled, k, s, p, true, scratch);
		return;
	}
	gq_conv_run_pool(c, out, in, add, pooled, n, h, w, k, s, p, scratch);
}
