/* test_conv_fast.c: the fast convolution (conv_fast.c) and the thread team (par.c). Every
 * algorithm (direct, packed, Winograd F(2x2,3x3), F(4x4,3x3) and their stride-2 forms) on
 * every micro-kernel the CPU runs (AVX-512, AVX2, portable C), on one thread and on two,
 * against a naive loop written here from torch.nn.functional.conv2d's formula, accumulated
 * in double. Buffers are exactly as large as the API says (ASan flags a byte more), and
 * outputs start as NaN, so a pixel the kernel forgets shows up. Also the max pool
 * (pool_fast.c) on every vector width. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geqrt.h"

/* ---- helpers ---- */

static uint64_t rng_state;

static void seed(uint64_t s)
{
	rng_state = s * 0x9e3779b97f4a7c15ull + 1;
}

static uint64_t rnd(void) /* xorshift64*: a failure reproduces */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int irand(int lo, int hi) /* inclusive */
{
	return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static float frand(void) /* uniform in [-1, 1) */
{
	return (float)((rnd() >> 40) * (2.0 / (double)(1ull << 24)) - 1.0);
}

static float *buf(size_t n, bool random)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = random ? frand() : NAN;
	return p;
}

typedef struct Shape {
	int cin, h, w, cout, k, s, p, d;
} Shape;

/* Pixels out along an axis of n, as torch (0 if the kernel does not fit). */
static int out_size(int n, const Shape *S)
{
	int span = n + 2 * S->p - S->d * (S->k - 1) - 1;
	return span < 0 ? 0 : span / S->s + 1;
}

/* ref = bias + cross-correlation with zero padding (+ add, unless NULL), then relu; mag =
 * the sum of the magnitudes of the terms, the scale of a float32 sum's rounding. Optimized
 * and not sanitized (the reference, not the code under test: a quarter of the sanitized
 * run's time at -O1, s29-ci). */
#define REFERENCE __attribute__((optimize("O2"), no_sanitize("address", "undefined")))
static REFERENCE void naive(double *ref, double *mag, const float *in, const float *w,
        const float *b, const float *add, const Shape *S, bool relu)
{
	int oh = out_size(S->h, S), ow = out_size(S->w, S);
	for (int co = 0; co < S->cout; co++)
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++) {
				double acc = b ? b[co] : 0.0, m = b ? fabs(b[co]) : 0.0;
				for (int ci = 0; ci < S->cin; ci++)
					for (int ky = 0; ky < S->k; ky++)
						for (int kx = 0; kx < S->k; kx++) {
							int y = oy * S->s - S->p + ky * S->d;
							int x = ox * S->s - S->p + kx * S->d;
							if (y < 0 || y >= S->h || x < 0 ||
							        x >= S->w)
								continue;
							double t = (double)
							                   w[((co * S->cin + ci) *
							                                     S->k +
							                             ky) * S->k +
							                           kx] *
							           in[(ci * S->h + y) * S->w + x];
							acc += t;
							m += fabs(t);
						}
				size_t i = ((size_t)co * oh + oy) * ow + ox;
				acc += add ? add[i] : 0.0;
				m += add ? fabs(add[i]) : 0.0;
				ref[i] = relu && acc < 0 ? 0.0 : acc;
				mag[i] = m;
			}
}

/* How a residual is added (gq_conv_run_sum): none, from its own buffer, or in place. */
enum { NO_SUM, SUM, SUM_IN_PLACE };

/* Shape S's inputs, filters, bias, residual and the naive loop's output on them. */
typedef struct Case {
	Shape S;
	bool relu;
	int sum;
	size_t nin, nout;
	float *in, *w, *b, *add;
	double *ref, *mag;
} Case;

static Case case_new(const Shape *S, bool relu, bool bias, int sum)
{
	Case k = {.S = *S, .relu = relu, .sum = sum};
	k.nin = (size_t)S->cin * S->h * S->w;
	k.nout = (size_t)S->cout * out_size(S->h, S) * out_size(S->w, S);
	k.in = buf(k.nin, true);
	k.w = buf((size_t)S->cout * S->cin * S->k * S->k, true);
	k.b = bias ? buf(S->cout, true) : NULL;
	k.add = sum == NO_SUM ? NULL : buf(k.nout, true);
	k.ref = malloc(k.nout * sizeof *k.ref);
	k.mag = malloc(k.nout * sizeof *k.mag);
	naive(k.ref, k.mag, k.in, k.w, k.b, k.add, S, relu);
	return k;
}

static void case_free(Case *k)
{
	free(k->in);
	free(k->w);
	free(k->b);
	free(k->add);
	free(k->ref);
	free(k->mag);
}

/* Runs case k with algorithm algo on the current kernel; returns NULL if the algorithm
 * does not apply (after checking that it really does not), else how it ran: "narrow"
 * (the narrow Winograd product) or "wide". */
static const char *case_run(const Case *k, int algo)
{
	const Shape *S = &k->S;
	gq_conv *c = gq_conv_new_algo(
	        S->cin, S->h, S->w, S->cout, S->k, S->s, S->p, S->d, k->relu, algo);
	bool wino = algo == GQ_CONV_WINO2 || algo == GQ_CONV_WINO4 || algo == GQ_CONV_WINO4R ||
	            algo == GQ_CONV_WINO6 || algo == GQ_CONV_WINO3 || algo == GQ_CONV_WINO7;
	bool s2 = algo == GQ_CONV_WINO2S2 || algo == GQ_CONV_WINO3S2 || algo == GQ_CONV_WINO4S2;
	bool applies = s2 ? S->k == 3 && S->s == 2 && S->d == 1
	                  : !wino || (S->k == 3 && S->s == 1 && S->d == 1);
	if (algo == GQ_CONV_PHASE)
		applies = S->k >= 5 && S->k <= 8 && S->s == 2 && S->d == 1 && S->cin <= 16;
	ck_assert_msg((c != NULL) == applies, "algo %d on k=%d s=%d d=%d: plan %p", algo, S->k,
	        S->s, S->d, (void *)c);
	if (!c)
		return NULL;
	float *out = buf(k->nout, false), *scratch = buf(gq_conv_scratch(c), false);
	gq_conv_set(c, k->w, k->b);
	if (k->sum == SUM_IN_PLACE)
		memcpy(out, k->add, k->nout * sizeof *out);
	gq_conv_run_sum(c, out, k->in, k->sum == SUM_IN_PLACE ? out : k->add, scratch);
	/* F(7x7) rounds 8-10x F(6x6)'s (its largest error 7-8e-5 of the output's largest, 2e-5
	 * of the largest sum of magnitudes, on 32-64 channels): beside a wide padding, where a
	 * pixel's own sum is small, the error of the rest of its tile shows */
	double lo = 1e-3, tol = 1e-4;
	for (size_t i = 0; algo == GQ_CONV_WINO7 && i < k->nout; i++)
		lo = fmax(lo, 0.25 * k->mag[i]);
	tol = algo == GQ_CONV_WINO7 ? 2e-4 : tol;
	for (size_t i = 0; i < k->nout; i++) {
		/* a passing ck_assert writes its line to Check's pipe: a syscall per element,
		 * a fifth of the sanitized run (s29-ci) */
		if (fabs(out[i] - k->ref[i]) <= tol * fmax(k->mag[i], lo))
			continue;
		ck_assert_msg(fabs(out[i] - k->ref[i]) <= tol * fmax(k->mag[i], lo),
		        "%s/%s%s cin=%d %dx%d cout=%d k=%d s=%d p=%d d=%d relu=%d sum=%d: out[%zu] "
		        "= "
		        "%g, want %g",
		        gq_conv_kernel(), gq_conv_algo(c), gq_conv_narrow(c) ? " narrow" : "",
		        S->cin, S->h, S->w, S->cout, S->k, S->s, S->p, S->d, k->relu, k->sum, i,
		        out[i], k->ref[i]);
	}
	const char *how = gq_conv_narrow(c) ? "narrow" : "wide";
	gq_conv_free(c);
	free(out);
	free(scratch);
	return how;
}

/* Runs shape S with algorithm algo on the current kernel; returns false if the algorithm
 * does not apply. */
static bool check_one(const Shape *S, int algo, bool relu, bool bias, int sum)
{
	/* The last few cases, reused where S, relu, bias and sum are the same (the naive loop
	 * is most of the sanitized run's time, s29-ci); still reachable at exit, no leak. */
	enum { NCACHED = 4 };
	static Case cached[NCACHED];
	static int used, oldest;
	int i = 0;
	while (i < used && !(!memcmp(&cached[i].S, S, sizeof *S) && cached[i].relu == relu &&
	                           (cached[i].b != NULL) == bias && cached[i].sum == sum))
		i++;
	if (i == used) {
		if (used < NCACHED)
			used++;
		else
			case_free(&cached[i = oldest]), oldest = (oldest + 1) % NCACHED;
		cached[i] = case_new(S, relu, bias, sum);
	}
	return case_run(&cached[i], algo) != NULL;
}

static const char *const kernel_names[] = {"avx512", "avx2", "c"};
static const int algos[] = {GQ_CONV_AUTO, GQ_CONV_DIRECT, GQ_CONV_PACKED, GQ_CONV_WINO2,
        GQ_CONV_WINO4, GQ_CONV_WINO2S2, GQ_CONV_WINO4S2, GQ_CONV_WINO4R, GQ_CONV_WINO6,
        GQ_CONV_PHASE, GQ_CONV_WINO3, GQ_CONV_WINO3S2};
enum { NALGOS = sizeof algos / sizeof algos[0] };

/* S under every algorithm and every kernel this CPU runs. */
static void check_all(const Shape *S, bool relu, bool bias, int sum)
{
	for (int k = 0; k < 3; k++) {
		if (gq_conv_use_kernel(kernel_names[k]))
			continue;
		for (int a = 0; a < NALGOS; a++)
			check_one(S, algos[a], relu, bias, sum);
	}
	gq_conv_use_kernel(NULL);
}

/* ---- the convolution ---- */

/* Shapes chosen for the edges of the blocking (each without a residual and with one, in
 * place for every other shape): channels not a multiple of the 6 of a
 * panel (and fewer than 6), K past one block of 256 rows, more pixels than a packed block
 * (384), outputs narrower than a vector, 1x1 outputs, padding wider than the kernel's
 * reach, dilation, strides 2 and 3, non-square, even and large kernels. */
static const Shape edge_shapes[] = {
        {1, 5, 5, 1, 3, 1, 1, 1},     /* one channel each way */
        {3, 8, 8, 5, 3, 1, 1, 1},     /* cout < 6 */
        {2, 7, 9, 7, 3, 1, 0, 1},     /* non-square, cout = 6 + 1 */
        {30, 10, 10, 13, 3, 1, 1, 1}, /* K = 270 > 256 */
        {300, 6, 6, 4, 3, 1, 1, 1},   /* Winograd: cin > 256 */
        {2, 29, 29, 3, 3, 1, 1, 1},   /* 841 pixels: three packed blocks */
        {4, 3, 3, 6, 3, 1, 0, 1},     /* a 1x1 output */
        {3, 4, 4, 6, 3, 1, 2, 1},     /* padding 2: whole rows of zeros */
        {2, 9, 9, 6, 3, 1, 2, 2},     /* dilation */
        {5, 15, 15, 8, 3, 2, 1, 1},   /* stride 2 */
        {7, 16, 14, 13, 3, 2, 1, 1},  /* stride 2, even sides: the last tile's half */
        {3, 6, 5, 4, 3, 2, 0, 1},     /* stride 2, no padding: 2x2 out */
        {300, 8, 8, 7, 3, 2, 1, 1},   /* stride 2, cin > 256 */
        {3, 11, 8, 7, 3, 3, 1, 1},    /* stride 3, non-square */
        {4, 6, 6, 5, 4, 1, 0, 1},     /* an even kernel: 4x4 -> 3x3 */
        {3, 9, 9, 4, 5, 1, 2, 1},     /* 5x5 */
        {6, 7, 7, 9, 1, 1, 0, 1},     /* 1x1 */
        {6, 9, 7, 9, 1, 2, 0, 1},     /* 1x1 stride 2: direct reads one phase of four */
        {3, 11, 10, 5, 3, 2, 2, 2},   /* stride 2, dilation 2: every tap in phase (0, 0) */
        {2, 2, 2, 3, 3, 1, 1, 1},     /* the image smaller than a Winograd tile */
        {8, 13, 13, 12, 3, 1, 0, 1},  /* 11x11 out: partial tiles on both edges */
        {40, 26, 26, 40, 3, 1, 0, 1}, /* F4's 36 tiles: the last panel's second half empty */
        {3, 37, 37, 5, 3, 1, 1, 1},   /* 100 (F4) or 361 (F2) tiles: groups of 16 that
                                       * straddle tile rows, a last panel of 4 or 9 */
        {3, 37, 35, 5, 3, 2, 1, 1},   /* stride 2, 19x18 out: 25 (F4S2) or 90 (F2S2) tiles */
        {5, 50, 47, 7, 3, 1, 1, 1},   /* F6: 9 x 8 tiles, the last of a row 5 columns, pairs
                                       * of them stored as 16 floats only inside the row */
        {5, 14, 16, 6, 3, 1, 1, 1},   /* 16 wide: every vector of F4's or F2's tiles whole
                                       * in a row; 14 tall: the last tile row cut below */
        {40, 4, 4, 40, 4, 1, 0, 1},   /* one output pixel, K = 640: direct as dot products */
        {2, 17, 17, 7, 17, 1, 0, 1},  /* one pixel, but 17x17 taps outgrow a K block */
        /* stride-2 5x5 to 8x8 (the phase plan: F(3x3, 4x4) on the input's phases) */
        {3, 17, 15, 5, 7, 2, 3, 1},  /* 9x8 out: partial tiles, cout < a product's 8 */
        {2, 13, 12, 9, 5, 2, 2, 1},  /* 5x5 */
        {1, 9, 11, 4, 7, 2, 0, 1},   /* no padding: 2x3 out, one tile */
        {3, 7, 40, 6, 7, 2, 0, 1},   /* one output row of 17 */
        {4, 8, 8, 3, 6, 2, 1, 1},    /* an even kernel */
        {16, 11, 9, 10, 5, 2, 1, 1}, /* 16 input channels: 64 phase channels */
        {3, 5, 5, 2, 7, 2, 3, 1},    /* the image within the kernel's reach */
};

START_TEST(edge_shapes_every_algorithm)
{
	seed(1);
	for (size_t i = 0; i < sizeof edge_shapes / sizeof edge_shapes[0]; i++)
		for (int sum = NO_SUM; sum <= SUM; sum++)
			check_all(&edge_shapes[i], (i + sum) % 2 == 0, i % 3 != 0,
			        sum && i % 2 ? SUM_IN_PLACE : sum);
}
END_TEST

/* Channels in eights, which AVX-512 packs in panels of 8 (wide_mr), and beside them counts
 * it keeps in panels of 6: one panel, a last panel partial for 6 (40, 66), K past one
 * block, one tile and one pixel, odd maps, strides 1 and 2, 1x1. */
static const Shape eights[] = {
        {8, 9, 7, 8, 3, 1, 1, 1},     /* one panel of 8 */
        {16, 6, 6, 16, 3, 1, 1, 1},   /* one F(6x6) tile, four of F(4x4) */
        {24, 11, 13, 24, 3, 1, 1, 1}, /* 24: panels of 6 */
        {32, 13, 11, 32, 3, 1, 0, 1}, /* 11x9 out */
        {40, 7, 9, 40, 3, 2, 1, 1},   /* stride 2; for 6, a last panel of 4 */
        {64, 15, 13, 64, 3, 1, 1, 1}, /* 64: 66 in panels of 6 */
        {66, 9, 11, 66, 3, 1, 1, 1},  /* 66: panels of 6 */
        {300, 6, 5, 16, 3, 1, 1, 1},  /* K past one block */
        {32, 17, 19, 40, 1, 1, 0, 1}, /* 1x1 */
        {16, 5, 5, 32, 5, 1, 0, 1},   /* one output pixel: dot products */
        {24, 35, 33, 48, 3, 1, 1, 1}, /* several panels of tiles (fused Winograd) */
};

START_TEST(panels_of_eight_every_algorithm)
{
	seed(5);
	for (size_t i = 0; i < sizeof eights / sizeof eights[0]; i++)
		check_all(&eights[i], i % 2 == 0, i % 3 != 0, (int)i % 3);
}
END_TEST

/* The wide plans of every algorithm take panels of 8 on AVX-512 where 8 compute fewer
 * channels past the output's than 6 (multiples of 8 but 24; 7), of 6 elsewhere and on the
 * other kernels; narrow plans 2V. */
START_TEST(panels_of_eight_where_channels_are)
{
	static const struct {
		int cout, avx512; /* the panel on AVX-512 */
	} P[] = {{8, 8}, {16, 8}, {24, 6}, {32, 8}, {40, 8}, {64, 8}, {66, 6}, {12, 6}, {7, 8},
	        {5, 6}};
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		int eight = 0, v = kn == 1 ? 8 : 16; /* AVX2 8, the C kernel as AVX-512 */
		for (size_t i = 0; i < sizeof P / sizeof P[0]; i++)
			for (int a = 0; a < NALGOS; a++) {
				if (algos[a] == GQ_CONV_PHASE) /* not for 3x3 */
					continue;
				bool s2 = algos[a] == GQ_CONV_WINO2S2 ||
				          algos[a] == GQ_CONV_WINO3S2 ||
				          algos[a] == GQ_CONV_WINO4S2;
				gq_conv *c = gq_conv_new_algo(
				        16, 41, 39, P[i].cout, 3, s2 ? 2 : 1, 1, 1, true, algos[a]);
				ck_assert_ptr_nonnull(c);
				int want = gq_conv_narrow(c) ? 2 * v : kn == 0 ? P[i].avx512 : 6;
				ck_assert_msg(gq_conv_panel(c) == want,
				        "%s/%s, %d channels: panels of %d", kernel_names[kn],
				        gq_conv_algo(c), P[i].cout, gq_conv_panel(c));
				eight += gq_conv_panel(c) == 8;
				gq_conv_free(c);
			}
		ck_assert_int_ge(eight, kn == 0 ? 5 * (NALGOS - 1) : 0);
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

START_TEST(random_shapes_every_algorithm)
{
	seed(2);
	for (int n = 0; n < 40; n++) {
		Shape S;
		do {
			S = (Shape){irand(1, 12), irand(1, 14), irand(1, 14), irand(1, 15),
			        irand(1, 5), irand(1, 3), irand(0, 2), irand(1, 2)};
		} while (out_size(S.h, &S) < 1 || out_size(S.w, &S) < 1);
		check_all(&S, n % 2, n % 3 != 1, n % 3);
	}
}
END_TEST

/* The narrow Winograd product, which the plan picks for maps of few tiles: F(2x2) on maps
 * of 1 to 40 tiles (F(4x4) on the same maps: a quarter as many; 14, 25 and 28 tiles take
 * AVX-512's 14-row, 13-row and, split in two, 14-row calls), strides 1 and 2 (at stride 2
 * F(3x3)'s form too), 129 input channels and 90 output (not whole panels of 16 or 32), relu,
 * with and without a residual (also in place), on every kernel the CPU runs, each against the naive
 * loop. Each kernel must have taken the narrow product where the wide one computes most of its
 * columns for tiles that do not exist: F(4x4) on 8x8 (4 tiles). */
START_TEST(narrow_products_every_kernel)
{
	static const int counts[] = {
	        1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 16, 17, 20, 23, 25, 28, 30, 36, 40};
	int narrow[3] = {0}, narrow8x8[3] = {0};
	seed(5);
	for (int i = 0; i < (int)(sizeof counts / sizeof counts[0]); i++) {
		int t = counts[i], a = 1, s = i % 3 == 2 ? 2 : 1;
		for (int d = 1; d * d <= t; d++)
			a = t % d ? a : d; /* a x t/a tiles */
		int oh = 2 * a - (t & 1), ow = 2 * (t / a);
		Shape S = {129, s * oh - (s - 1) * (i & 1), s * ow - (s - 1), 90, 3, s, 1, 1};
		Case k = case_new(&S, true, i % 2, i % 3);
		for (int kern = 0; kern < 3; kern++) {
			if (gq_conv_use_kernel(kernel_names[kern]))
				continue;
			for (int m = 0; m < 2 + (s == 2); m++) {
				int algo = s == 1   ? (m ? GQ_CONV_WINO4 : GQ_CONV_WINO2)
				           : m == 2 ? GQ_CONV_WINO3S2
				                    : (m ? GQ_CONV_WINO4S2 : GQ_CONV_WINO2S2);
				bool nw = !strcmp(case_run(&k, algo), "narrow");
				narrow[kern] += nw;
				narrow8x8[kern] += nw && m == 1 && oh == 8 && ow == 8;
			}
		}
		case_free(&k);
	}
	gq_conv_use_kernel(NULL);
	for (int kern = 0; kern < 3; kern++)
		if (!gq_conv_use_kernel(kernel_names[kern]))
			ck_assert_msg(narrow[kern] >= 8 && narrow8x8[kern] == 1,
			        "%s: %d narrow plans, %d of F(4x4) on 8x8", kernel_names[kern],
			        narrow[kern], narrow8x8[kern]);
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The narrow direct kernel (output channels in the vectors, runs of up to nrows pixels of
 * an output row), which a direct plan takes where the wide kernel's runs of a vector would
 * compute many pixels past the row's end: ResNet-18's 7x7 stride-2 lift on rows of 1 to 22
 * pixels and of 25 (runs of 1, of 5 to 14, whole rows of 12 and 14), output channels not
 * whole panels (70: 32 + 32 + 6 on AVX-512, 16-channel panels on AVX2), a 1x1 stride-2
 * shortcut and a 3x3 stride-2 layer (K = 40 and 72), each with relu and without, with a
 * residual (also in place) and without, on every kernel the CPU runs, against the naive
 * loop. Each kernel must have taken the narrow kernel on all of them. */
START_TEST(narrow_direct_every_kernel)
{
	static const Shape shapes[] = {
	        {3, 45, 43, 64, 7, 2, 3, 1}, /* 23x22 out */
	        {3, 35, 33, 70, 7, 2, 3, 1}, /* 18x17 out, 70 channels */
	        {3, 25, 1, 64, 7, 2, 3, 1},  /* 13x1 out: runs of one pixel */
	        {3, 23, 23, 64, 7, 2, 3, 1}, /* 12x12 out: a row in one run (AVX-512) */
	        {3, 27, 27, 64, 7, 2, 3, 1}, /* 14x14 out: a row in one run (AVX-512) */
	        {3, 27, 49, 64, 7, 2, 3, 1}, /* 14x25 out: runs of 12 and 13 (AVX-512) */
	        {40, 9, 9, 100, 1, 2, 0, 1}, /* a 1x1 shortcut, 5x5 out */
	        {8, 9, 10, 40, 3, 2, 1, 1},  /* 3x3 stride 2, 5x5 out */
	};
	seed(7);
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (int sum = NO_SUM; sum <= SUM_IN_PLACE; sum++) {
			Case k = case_new(&shapes[i], (i + sum) % 2 == 0, true, sum);
			for (int kern = 0; kern < 3; kern++)
				if (!gq_conv_use_kernel(kernel_names[kern]))
					ck_assert_str_eq(case_run(&k, GQ_CONV_DIRECT), "narrow");
			case_free(&k);
		}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The phase plan (a stride-2 5x5 to 8x8 convolution as Winograd F(3x3, 4x4) on its
 * input's four phases) on every kernel the CPU runs, one and two threads, with relu and
 * without, with a residual (also in place) and without: bands of one to four rows of
 * tiles whose vectors of tiles straddle two rows or end past the output's last column
 * (stored through a row of their own), one output row, output channels not whole product
 * blocks, 1 to 16 input channels, both padding 0 and past the kernel's half. */
START_TEST(phase_every_kernel)
{
	static const Shape shapes[] = {
	        {3, 101, 99, 64, 7, 2, 3, 1}, /* 51x50 out: splits over two threads */
	        {3, 61, 77, 20, 5, 2, 2, 1},  /* 31x39 out */
	        {1, 45, 47, 9, 7, 2, 0, 1},   /* 20x21 out, no padding */
	        {2, 29, 31, 13, 7, 2, 4, 1},  /* padding 4: whole tiles of zeros */
	        {4, 3, 63, 8, 5, 2, 2, 1},    /* one output row of 32 */
	        {16, 19, 21, 7, 8, 2, 3, 1},  /* 8x8 taps, 16 input channels */
	        {3, 49, 33, 64, 6, 2, 2, 1},  /* 24x16 out */
	};
	seed(8);
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (int sum = NO_SUM; sum <= SUM_IN_PLACE; sum++) {
			Case k = case_new(&shapes[i], (i + sum) % 2 == 0, sum != SUM, sum);
			for (int kern = 0; kern < 3; kern++) {
				if (gq_conv_use_kernel(kernel_names[kern]))
					continue;
				for (int nt = 1; nt <= 2; nt++) {
					gq_set_threads(nt);
					case_run(&k, GQ_CONV_PHASE);
				}
			}
			case_free(&k);
		}
	gq_set_threads(1);
	gq_conv_use_kernel(NULL);
}
END_TEST

/* Layers large enough (cost >= 2 PAR_COST, 1.8e6 multiply-adds, for every algorithm)
 * that gq_conv_run splits them over two threads. */
START_TEST(two_threads)
{
	static const Shape big[] = {
	        {128, 24, 24, 128, 3, 1, 1, 1}, /* split over pixels, tiles or blocks */
	        {128, 29, 29, 128, 3, 2, 1, 1}, /* stride 2: direct splits its filters */
	        {256, 15, 15, 512, 3, 2, 1, 1}, /* stride 2, one panel of tiles */
	        {320, 8, 8, 256, 3, 1, 1, 1},   /* few tiles, many channels */
	        {40, 26, 26, 40, 3, 1, 0, 1},   /* P4CNN's largest: F4's last panel half empty */
	        {96, 29, 27, 96, 1, 2, 0, 1},   /* 1x1 stride 2 (a ResNet's shortcut): one phase */
	};
	seed(3);
	gq_set_threads(2);
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
		for (int a = 0; a < NALGOS; a++)
			check_one(&big[i], algos[a], true, true, (int)(i + a) % 3);
	gq_set_threads(1);
}
END_TEST

/* Layers that split over the threads (cost >= 2 PAR_COST) by rows of tiles, by runs of
 * pixels or by output channels, with sides that no share divides evenly. */
static const Shape split_shapes[] = {
        {16, 61, 59, 16, 3, 1, 1, 1},  /* Winograd in blocks of a panel of tiles: by rows */
        {5, 97, 91, 12, 3, 1, 1, 1},   /* the same, fewer input channels than the first
                                        * transform's slices (transform_fetching) */
        {8, 99, 97, 8, 3, 1, 0, 1},    /* no padding; a lift's 3 channels next */
        {4, 81, 79, 16, 3, 1, 1, 1},   /* direct by tiles (runs of pixels) */
        {16, 63, 61, 16, 3, 2, 1, 1},  /* stride 2 */
        {16, 97, 95, 16, 3, 1, 2, 1},  /* 590 KB (FOLD_BYTES): split, each thread pads its
                                        * rows into a copy of its own (own_rows) */
        {24, 95, 97, 24, 3, 2, 1, 1},  /* the same at stride 2 */
        {13, 101, 103, 8, 3, 1, 1, 1}, /* 541 KB, a copy of its own: a last panel of 4 tiles */
        {64, 97, 97, 8, 3, 1, 2, 1},   /* 2.4 MB, a padded copy past a worker's scratch
                                        * (GQ_TEAM_PADDED): each transform reads the input
                                        * itself, padding 2 masked off, the next channels'
                                        * patch rows fetched (fetch_patches) */
        {3, 101, 99, 16, 7, 2, 3, 1},  /* 7x7 stride 2: direct's phase planes */
        {3, 57, 43, 64, 7, 2, 3, 1},   /* the same, 64 channels: narrow direct */
        {96, 13, 15, 96, 3, 1, 1, 1},  /* few tiles: by output channels */
        {64, 33, 33, 64, 3, 1, 1, 1},  /* by ranges of tiles (plan_ranges) ending inside a
                                        * panel: 81 tiles, 3 panels on AVX-512 */
        {24, 45, 37, 24, 3, 1, 1, 1},  /* 120 tiles: ranges of unequal lengths on 3 threads */
        {96, 25, 27, 96, 3, 1, 1, 1},  /* 49 tiles for 96 channels: fused (FUSED_TILES) */
        /* unfused narrow, each thread a V of its own (dup_pays; GEQRT_DUP=0: not,
         * shared_v_on_request): 17x17; 11x13 and 72 channels in; 40 channels out, too few
         * units for it */
        {128, 17, 17, 128, 3, 1, 1, 1},
        {72, 11, 13, 128, 3, 1, 1, 1},
        {128, 13, 13, 40, 3, 1, 1, 1},
};

/* S with algorithm algo on 1, 2 and 3 threads: every output the same float, bit for bit,
 * since each is computed whole by one thread, the same way whichever thread that is (and
 * right, against the naive loop, on 3). */
static void same_on_any_threads(const Shape *S, int algo, int sum)
{
	gq_conv *c =
	        gq_conv_new_algo(S->cin, S->h, S->w, S->cout, S->k, S->s, S->p, S->d, true, algo);
	if (!c)
		return;
	size_t nin = (size_t)S->cin * S->h * S->w,
	       nout = (size_t)S->cout * out_size(S->h, S) * out_size(S->w, S);
	float *in = buf(nin, true), *w = buf((size_t)S->cout * S->cin * S->k * S->k, true);
	float *b = buf(S->cout, true), *add = buf(nout, true), *one = buf(nout, false);
	float *out = buf(nout, false), *scratch = buf(gq_conv_scratch(c), false);
	gq_conv_set(c, w, b);
	for (int nt = 1; nt <= 3; nt++) {
		gq_set_threads(nt);
		gq_threads_used(true);
		if (sum == SUM_IN_PLACE)
			memcpy(out, add, nout * sizeof *out);
		gq_conv_run_sum(c, out, in, sum == NO_SUM ? NULL : sum == SUM ? add : out, scratch);
		ck_assert_msg(gq_threads_used(false) == nt, "%s cin=%d %dx%d k=%d s=%d: not split",
		        gq_conv_algo(c), S->cin, S->h, S->w, S->k, S->s);
		if (nt == 1)
			memcpy(one, out, nout * sizeof *out);
		ck_assert_msg(!memcmp(one, out, nout * sizeof *out),
		        "%s/%s cin=%d %dx%d k=%d s=%d: %d threads differ from 1", gq_conv_kernel(),
		        gq_conv_algo(c), S->cin, S->h, S->w, S->k, S->s, nt);
	}
	gq_conv_free(c);
	free(in);
	free(w);
	free(b);
	free(add);
	free(one);
	free(out);
	free(scratch);
	check_one(S, algo, true, true, sum); /* on 3 threads */
	gq_set_threads(1);
}

/* On kernel _i (a loop test: each kernel the CPU runs in its own time limit), since each
 * splits its work its own way (the tile's width). */
START_TEST(threads_agree_bit_for_bit)
{
	seed(4);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof split_shapes / sizeof split_shapes[0]; i++)
		for (int a = 0; a < NALGOS; a++)
			if (algos[a] != GQ_CONV_WINO3S2) /* stride2_f3_odd_shapes' */
				same_on_any_threads(&split_shapes[i], algos[a], (int)(i + a) % 3);
	gq_conv_use_kernel(NULL);
}
END_TEST

/* GEQRT_DUP=0 (=s1, =s2: at that stride): unfused narrow Winograd on several threads
 * transforms the input into the V both read, split by channels, where dup_pays would give
 * each thread a V of its own (17x17 and 11x13 at stride 1; the wide p4m model's 29x29 ->
 * 15x15 and 15x13 at stride 2): every Winograd plan, 1-3 threads bit for bit and right
 * against the naive loop, on kernel _i. Only Winograd: a packed plan of the 15x13 shape has
 * too few pixels to split over 3 threads. */
START_TEST(shared_v_on_request)
{
	static const Shape S[] = {{128, 17, 17, 128, 3, 1, 1, 1}, {72, 11, 13, 128, 3, 1, 1, 1},
	        {128, 29, 29, 256, 3, 2, 1, 1}, {72, 15, 13, 256, 3, 2, 1, 1}};
	static const char *const how[] = {"0", "s1", "s2"};
	seed(28);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
		setenv("GEQRT_DUP", how[i % 3], 1);
		for (int a = 0; a < NALGOS; a++)
			if (algos[a] != GQ_CONV_AUTO && algos[a] != GQ_CONV_DIRECT &&
			        algos[a] != GQ_CONV_PACKED && algos[a] != GQ_CONV_PHASE)
				same_on_any_threads(&S[i], algos[a], (int)(i + a) % 3);
	}
	unsetenv("GEQRT_DUP");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* Direct layers that cost between PAR_COST and twice it split over the threads (s26-wide:
 * the wide p4m model's lift, 1 -> 128 planes at 29x29), and odd ones near it: 1-3 threads
 * bit for bit and right against the naive loop, with and without a residual, on kernel _i. */
START_TEST(small_direct_layers_split)
{
	static const Shape S[] = {{1, 29, 29, 128, 3, 1, 1, 1}, {1, 31, 27, 112, 3, 1, 1, 1},
	        {2, 23, 25, 96, 3, 1, 1, 1}, {1, 30, 29, 120, 3, 1, 0, 1}};
	seed(26);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof S / sizeof S[0]; i++)
		same_on_any_threads(&S[i], GQ_CONV_DIRECT, (int)i % 3);
	gq_conv_use_kernel(NULL);
}
END_TEST

/* Fused layers whose two threads' ranges second_range cuts at a row of tiles (33x33 at
 * F(4x4) on AVX-512: 45/36 tiles; 29x27, 56 tiles, 7 a row: 28/28 on AVX-512 and AVX2), and
 * one where it keeps the vectors' cut (49x49 at F(4x4): 80/89, 88/81), with no residual, one and
 * one added in place, stride 1 and 2: 1-3 threads bit for bit, right against the naive loop on 3
 * (so on 2), on kernel _i. */
static const Shape row_cut_shapes[] = {
        {64, 33, 33, 64, 3, 1, 1, 1}, {32, 29, 27, 32, 3, 1, 1, 1}, {32, 49, 49, 32, 3, 1, 1, 1},
        {64, 33, 33, 64, 3, 2, 1, 1}, /* stride 2 (F(2x2)): 81 tiles, 9 a row */
};

START_TEST(ranges_at_a_row_of_tiles)
{
	static const int wino[] = {GQ_CONV_WINO2, GQ_CONV_WINO4, GQ_CONV_WINO4R, GQ_CONV_WINO6,
	        GQ_CONV_WINO3, GQ_CONV_WINO2S2, GQ_CONV_WINO4S2, GQ_CONV_WINO3S2};
	seed(5);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof row_cut_shapes / sizeof row_cut_shapes[0]; i++)
		for (size_t a = 0; a < sizeof wino / sizeof wino[0]; a++)
			for (int sum = NO_SUM; sum <= SUM_IN_PLACE; sum++)
				same_on_any_threads(&row_cut_shapes[i], wino[a], sum);
	gq_conv_use_kernel(NULL);
}
END_TEST

/* F(3x3)'s stride-2 form (GQ_CONV_WINO3S2, s23-s2) on odd and even sizes (outputs of 3k
 * and not: 15x15 from 29x29 and 30x30, 11x10, 6x6, 1x1), padding 0, 1, 2, wide and narrow
 * products, bias, relu, a residual (also in place): against the naive loop on every kernel
 * the CPU runs, and 1-3 threads bit for bit (kernel _i). */
START_TEST(stride2_f3_odd_shapes)
{
	static const Shape S[] = {{13, 29, 29, 17, 3, 2, 1, 1}, {40, 30, 30, 33, 3, 2, 1, 1},
	        {129, 21, 19, 90, 3, 2, 1, 1}, {7, 11, 12, 5, 3, 2, 0, 1},
	        {9, 8, 9, 11, 3, 2, 2, 1}, {3, 3, 3, 4, 3, 2, 0, 1}, {64, 29, 29, 64, 3, 2, 1, 1}};
	seed(23);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
		for (int sum = NO_SUM; sum <= SUM_IN_PLACE; sum++)
			for (int relu = 0; relu < 2; relu++)
				ck_assert(check_one(&S[i], GQ_CONV_WINO3S2, relu, sum != SUM, sum));
		if (S[i].cin >= 40) /* split over the threads */
			same_on_any_threads(&S[i], GQ_CONV_WINO3S2, (int)i % 3);
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* F(7x7) (GQ_CONV_WINO7, s26-f7) on odd shapes: the bench models' 97x97, 49x49 and 33x33
 * (ResNet-44 p4 and p4m), 9x50, 130x11, 3x3 (one partial tile), cin != cout, padding 0, 1,
 * 2, wide and narrow products, bias, relu, a residual (own, in place): against the naive
 * loop on every kernel the CPU runs, and 1-3 threads bit for bit (kernel _i). */
START_TEST(f7_odd_shapes)
{
	static const Shape S[] = {{32, 97, 97, 32, 3, 1, 1, 1}, {64, 49, 49, 64, 3, 1, 1, 1},
	        {64, 33, 33, 64, 3, 1, 1, 1}, {5, 9, 50, 7, 3, 1, 1, 1},
	        {6, 130, 11, 9, 3, 1, 2, 1}, {3, 3, 3, 4, 3, 1, 1, 1}, {13, 23, 21, 17, 3, 1, 0, 1},
	        {40, 30, 29, 33, 3, 1, 2, 1}};
	seed(26);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
		for (int sum = NO_SUM; sum <= SUM_IN_PLACE; sum++)
			for (int relu = 0; relu < 2; relu++)
				if (S[i].h * S[i].w < 2000 || relu == sum % 2)
					ck_assert(check_one(
					        &S[i], GQ_CONV_WINO7, relu, sum != SUM, sum));
		if (S[i].cin >= 32) /* split over the threads */
			same_on_any_threads(&S[i], GQ_CONV_WINO7, (int)i % 3);
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* F(7x7) on the edge shapes of every algorithm (each with no residual, its own and in
 * place) on every kernel, and the row cuts of ranges_at_a_row_of_tiles on kernel _i (in
 * the f7 case: under the sanitizers these outlast the conv case's timeout). */
START_TEST(f7_edge_shapes)
{
	seed(27);
	for (size_t i = 0; _i == 0 && i < sizeof edge_shapes / sizeof edge_shapes[0]; i++)
		for (int sum = NO_SUM; sum <= SUM_IN_PLACE; sum++)
			for (int k = 0; k < 3; k++)
				if (!gq_conv_use_kernel(kernel_names[k]))
					check_one(&edge_shapes[i], GQ_CONV_WINO7, (i + sum) % 2,
					        sum != SUM, sum);
	gq_conv_use_kernel(NULL);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof row_cut_shapes / sizeof row_cut_shapes[0]; i++)
		for (int sum = NO_SUM; sum <= SUM_IN_PLACE; sum++)
			if (row_cut_shapes[i].s == 1)
				same_on_any_threads(&row_cut_shapes[i], GQ_CONV_WINO7, sum);
	gq_conv_use_kernel(NULL);
}
END_TEST

START_TEST(auto_picks_winograd_for_wide_3x3)
{
	gq_conv *c = gq_conv_new(128, 29, 29, 128, 3, 1, 1, 1, true);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(gq_conv_algo(c), "winograd4");
	gq_conv_free(c);
	/* stride 2: F(3x3)'s form where it saves a fifth of F(2x2)'s products on 25 tiles or
	 * more (15x15 and 21x21 outputs), F(2x2)'s elsewhere (s23-s2) */
	static const struct {
		int cin, hw, cout;
		const char *algo;
	} S2[] = {{128, 29, 256, "winograd3s2"}, {40, 41, 48, "winograd3s2"},
	        {64, 57, 128, "winograd2s2"}, {256, 15, 512, "winograd2s2"},
	        {128, 17, 256, "winograd2s2"}, {32, 97, 64, "winograd2s2"},
	        {64, 49, 128, "winograd2s2"}};
	for (size_t i = 0; i < sizeof S2 / sizeof S2[0]; i++) {
		c = gq_conv_new(S2[i].cin, S2[i].hw, S2[i].hw, S2[i].cout, 3, 2, 1, 1, true);
		ck_assert_ptr_nonnull(c);
		ck_assert_msg(!strcmp(gq_conv_algo(c), S2[i].algo), "%d -> %d at %dx%d: %s",
		        S2[i].cin, S2[i].cout, S2[i].hw, S2[i].hw, gq_conv_algo(c));
		gq_conv_free(c);
	}
	c = gq_conv_new(128, 29, 29, 256, 3, 3, 1, 1, true);
	ck_assert_msg(strncmp(gq_conv_algo(c), "winograd", 8), "%s for stride 3", gq_conv_algo(c));
	gq_conv_free(c);
	/* a lift from RGB: K = 27 or 147 is too short for Winograd's or im2col's overheads */
	c = gq_conv_new(3, 97, 97, 32, 3, 1, 1, 1, true);
	ck_assert_str_eq(gq_conv_algo(c), "direct");
	gq_conv_free(c);
	/* ResNet-18's 7x7 stride-2 lift: its phases in F(3x3, 4x4), 48 multiply-adds a pixel
	 * instead of 147; a small one stays direct */
	c = gq_conv_new(3, 225, 225, 64, 7, 2, 3, 1, true);
	ck_assert_str_eq(gq_conv_algo(c), "phase");
	gq_conv_free(c);
	c = gq_conv_new(3, 25, 25, 12, 7, 2, 3, 1, true);
	ck_assert_str_eq(gq_conv_algo(c), "direct");
	gq_conv_free(c);
}
END_TEST

/* The memory ceiling: a 128 -> 132 channel layer on 29x29 (whole panels of 6) has an
 * F(4x4) bank 4 times its 608 KB of filters, F(2x2)'s 16/9 times, direct's 1; each plan
 * alive counts against the ceiling. */
START_TEST(memory_limit_picks_smaller_banks)
{
	size_t filters = 132 * 128 * 9 * sizeof(float), base = gq_conv_banks_alive();
	gq_conv *c = gq_conv_new(128, 29, 29, 132, 3, 1, 1, 1, true);
	ck_assert_str_eq(gq_conv_algo(c), "winograd4");
	ck_assert_uint_eq(gq_conv_bytes(c), 4 * filters);
	ck_assert_uint_eq(gq_conv_banks_alive(), base + 4 * filters);
	gq_set_memory_limit(base + 6 * filters); /* 2 left beside c: F(2x2)'s 16/9 fits */
	gq_conv *d = gq_conv_new(128, 29, 29, 132, 3, 1, 1, 1, true);
	ck_assert_str_eq(gq_conv_algo(d), "winograd2");
	ck_assert_uint_eq(gq_conv_bytes(d), 16 * filters / 9);
	gq_conv *e = gq_conv_new(128, 29, 29, 132, 3, 1, 1, 1, true); /* none fits: smallest */
	ck_assert_uint_eq(gq_conv_bytes(e), filters);
	gq_conv_free(c);
	gq_conv_free(d);
	gq_conv_free(e);
	ck_assert_uint_eq(gq_conv_banks_alive(), base);
	gq_set_memory_limit(0);
	setenv("GEQRT_MEMORY_LIMIT_MB", "4", 1); /* F(4x4): 2.4 MB, then F(2x2): 1.1 */
	ck_assert_uint_eq(gq_memory_limit(), 4u << 20);
	c = gq_conv_new(128, 29, 29, 132, 3, 1, 1, 1, true);
	d = gq_conv_new(128, 29, 29, 132, 3, 1, 1, 1, true);
	ck_assert_str_eq(gq_conv_algo(c), "winograd4");
	ck_assert_str_eq(gq_conv_algo(d), "winograd2");
	setenv("GEQRT_MEMORY_LIMIT_MB", "3x", 1); /* not a number: no ceiling */
	ck_assert_uint_eq(gq_memory_limit(), 0);
	unsetenv("GEQRT_MEMORY_LIMIT_MB");
	gq_conv_free(c);
	gq_conv_free(d);
}
END_TEST

/* gq_release gives back the whole pages inside the range (they read as zeros after) and
 * keeps the partial pages at either end as they were. */
START_TEST(release_keeps_partial_pages)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 3 * page / sizeof(float) + 7;
	float *x = aligned_alloc(page, 4 * page);
	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < n + 100; i++)
		x[i] = 1.0f;
	gq_release(x + 5, n * sizeof(float)); /* from 20 bytes in: pages 1 and 2 whole */
	size_t first = page / sizeof(float), end = 3 * page / sizeof(float);
	for (size_t i = 0; i < n + 100; i++)
		ck_assert_msg(
		        x[i] == (i >= first && i < end ? 0.0f : 1.0f), "x[%zu] = %g", i, x[i]);
	gq_release(x, 0); /* nothing to do */
	free(x);
}
END_TEST

START_TEST(bad_shapes_have_no_plan)
{
	ck_assert_ptr_null(gq_conv_new(0, 5, 5, 1, 3, 1, 0, 1, false));
	ck_assert_ptr_null(gq_conv_new(1, 2, 5, 1, 3, 1, 0, 1, false)); /* kernel taller */
	ck_assert_ptr_null(gq_conv_new(1, 5, 5, 1, 3, 0, 0, 1, false)); /* stride 0 */
	ck_assert_ptr_null(gq_conv_new(1, 5, 5, 1, 3, 1, -1, 1, false));
	ck_assert_ptr_null(gq_conv_new_algo(1, 9, 9, 1, 5, 1, 0, 1, false, GQ_CONV_WINO4));
	ck_assert_ptr_null(gq_conv_new_algo(1, 9, 9, 1, 3, 1, 0, 2, false, GQ_CONV_WINO2));
	ck_assert_ptr_null(gq_conv_new_algo(1, 9, 9, 1, 3, 1, 0, 1, false, GQ_CONV_WINO2S2));
	ck_assert_ptr_null(gq_conv_new_algo(1, 9, 9, 1, 5, 2, 0, 1, false, GQ_CONV_WINO2S2));
	ck_assert_ptr_null(gq_conv_new_algo(1, 9, 9, 1, 3, 3, 0, 1, false, GQ_CONV_WINO4S2));
	ck_assert_ptr_null(gq_conv_new_algo(1, 9, 9, 1, 3, 1, 0, 1, false, GQ_CONV_WINO3S2));
	gq_conv_free(NULL);
}
END_TEST

START_TEST(kernel_choice)
{
	unsetenv("GEQRT_KERNEL"); /* the CPU's best, even in a run that set one */
	ck_assert_int_eq(gq_conv_use_kernel("c"), 0);
	ck_assert_str_eq(gq_conv_kernel(), "c");
	ck_assert_int_eq(gq_conv_use_kernel("sse9"), -1);
	ck_assert_str_eq(gq_conv_kernel(), "c"); /* a failed choice changes nothing */
	ck_assert_int_eq(gq_conv_use_kernel(NULL), 0);
	const char *best = gq_conv_kernel();
	ck_assert(!strcmp(best, "avx512") || !strcmp(best, "avx2") || !strcmp(best, "c"));
	/* GEQRT_KERNEL picks the default where the CPU runs it, and is ignored where not */
	setenv("GEQRT_KERNEL", "c", 1);
	ck_assert_str_eq(gq_conv_kernel(), "c");
	setenv("GEQRT_KERNEL", "sse9", 1);
	ck_assert_str_eq(gq_conv_kernel(), best);
	ck_assert_int_eq(gq_conv_use_kernel("c"), 0); /* a choice in code wins */
	setenv("GEQRT_KERNEL", best, 1);
	ck_assert_str_eq(gq_conv_kernel(), "c");
	unsetenv("GEQRT_KERNEL");
	ck_assert_int_eq(gq_conv_use_kernel(NULL), 0);
}
END_TEST

/* NaN in the input reaches the outputs that read it, as in torch; Winograd spreads it over
 * the rest of its output tile too (0 * NaN is NaN in the transforms), but no further. */
START_TEST(nan_propagates)
{
	for (int a = 1; a < 5; a++) {
		gq_conv *c = gq_conv_new_algo(2, 6, 6, 7, 3, 1, 1, 1, false, algos[a]);
		float *in = buf(72, true), *w = buf(7 * 2 * 9, true), *out = buf(7 * 36, false);
		float *scratch = buf(gq_conv_scratch(c), false);
		in[0] = NAN; /* pixel (0, 0) of channel 0: outputs (0..1, 0..1) read it */
		gq_conv_set(c, w, NULL);
		gq_conv_run(c, out, in, scratch);
		ck_assert_msg(isnan(out[0]) && isnan(out[7]), "%s", gq_conv_algo(c));
		ck_assert_msg(!isnan(out[5 * 6 + 5]), "%s: NaN spread", gq_conv_algo(c));
		gq_conv_free(c);
		free(in);
		free(w);
		free(out);
		free(scratch);
	}
}
END_TEST

/* ---- max pooling (pool_fast.c) ---- */

/* torch's max_pool2d, NaN winning: a window holding a NaN has NaN as its max; the padding
 * (the window's part outside the plane) is never the max. */
static float naive_max(const float *plane, int h, int w, int y0, int x0, int k)
{
	float m = -INFINITY;
	for (int y = y0 > 0 ? y0 : 0; y < y0 + k && y < h; y++)
		for (int x = x0 > 0 ? x0 : 0; x < x0 + k && x < w; x++) {
			float v = plane[y * w + x];
			if (isnan(v))
				return v;
			m = v > m ? v : m;
		}
	return m;
}

/* Every window and stride pool_fast.c treats apart (2x2 and 3x3 at stride 2 by shuffles,
 * others by shifted copies), with padding, on odd widths, one-pixel-wide planes, rows of
 * more outputs than a pass (256) and of fewer than a vector, on every vector width. */
START_TEST(maxpool_fast_matches_torch)
{
	static const int cases[][6] = {
	        /* h w k s n p */
	        {24, 24, 2, 2, 3, 0},
	        {7, 9, 2, 2, 2, 0},
	        {9, 9, 3, 2, 2, 0},
	        {5, 8, 3, 1, 1, 0},
	        {4, 4, 4, 4, 1, 0},
	        {1, 1, 1, 1, 2, 0},
	        {113, 113, 3, 2, 2, 1}, /* ResNet-18's, after its lift */
	        {9, 37, 3, 2, 2, 1},
	        {6, 601, 3, 2, 1, 1}, /* 301 outputs a row: two passes */
	        {5, 33, 2, 2, 2, 0},
	        {4, 34, 2, 2, 1, 1},
	        {3, 1, 3, 2, 1, 1},
	        {8, 40, 3, 3, 1, 1},
	        {5, 19, 3, 1, 1, 1},
	        {6, 70, 5, 2, 1, 2},
	};
	seed(5);
	for (int kern = 0; kern < 3; kern++) {
		if (gq_conv_use_kernel(kernel_names[kern]))
			continue;
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			int h = cases[i][0], w = cases[i][1], k = cases[i][2], s = cases[i][3];
			int n = cases[i][4], p = cases[i][5];
			int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
			float *in = buf((size_t)n * h * w, true);
			float *out = buf((size_t)n * oh * ow, false);
			for (int j = 0; j < n * h * w; j += 7) /* NaN, infinities in some windows */
				in[j] = j % 3 == 0 ? NAN : j % 3 == 1 ? INFINITY : -INFINITY;
			ck_assert(gq_maxpool2d_fast(out, in, n, h, w, k, s, p));
			for (int c = 0; c < n; c++)
				for (int oy = 0; oy < oh; oy++)
					for (int ox = 0; ox < ow; ox++) {
						float want = naive_max(in + c * h * w, h, w,
						        oy * s - p, ox * s - p, k);
						float got = out[(c * oh + oy) * ow + ox];
						ck_assert_msg(
						        isnan(want) ? isnan(got) : got == want,
						        "%s: %dx%d k=%d s=%d p=%d: (%d, %d) = %g, "
						        "want %g",
						        kernel_names[kern], h, w, k, s, p, oy, ox,
						        got, want);
					}
			free(in);
			free(out);
		}
	}
	gq_conv_use_kernel(NULL);
	float x[81] = {0};
	ck_assert(!gq_maxpool2d_fast(x, x, 1, 2, 2, 2, 2, 2)); /* p > k/2: torch refuses it */
	ck_assert(!gq_maxpool2d_fast(x, x, 1, 2, 2, 3, 1, 0)); /* window larger than the plane */
	ck_assert(!gq_maxpool2d_fast(x, x, 1, 9, 9, 9, 1, 0)); /* wider than its row buffer */
}
END_TEST

/* ---- a max pool fused into its conv (gq_conv_run_pool) ---- */

typedef struct PoolShape {
	Shape S;
	int k, s, p; /* the pool's */
} PoolShape;

/* Plan c of shape P->S, then the pool, as two calls and fused, on nt threads: the same
 * floats, bit for bit, in the conv's output and in the pool's; the pool's against the naive
 * max; and the pool alone (gq_conv_run_pool_only, whose out is its workspace) the same
 * floats. Frees c. */
static void pool_check(gq_conv *c, const PoolShape *P, int nt, int sum)
{
	const Shape *S = &P->S;
	ck_assert_ptr_nonnull(c);
	int oh = out_size(S->h, S), ow = out_size(S->w, S);
	int ph = (oh + 2 * P->p - P->k) / P->s + 1, pw = (ow + 2 * P->p - P->k) / P->s + 1;
	size_t nout = (size_t)S->cout * oh * ow, npool = (size_t)S->cout * ph * pw;
	float *in = buf((size_t)S->cin * S->h * S->w, true);
	float *w = buf((size_t)S->cout * S->cin * S->k * S->k, true), *b = buf(S->cout, true);
	float *add = sum ? buf(nout, true) : NULL, *out1 = buf(nout, false);
	float *out2 = buf(nout, false), *pool1 = buf(npool, false), *pool2 = buf(npool, false);
	float *out3 = buf(nout, false), *pool3 = buf(npool, false);
	float *scratch = buf(gq_conv_scratch(c), false);
	gq_conv_set(c, w, b);
	gq_set_threads(nt);
	gq_conv_run_sum(c, out1, in, add, scratch);
	gq_maxpool2d(pool1, out1, S->cout, oh, ow, P->k, P->s, P->p);
	gq_conv_run_pool(c, out2, in, add, pool2, S->cout, oh, ow, P->k, P->s, P->p, scratch);
	gq_conv_run_pool_only(c, out3, in, add, pool3, S->cout, oh, ow, P->k, P->s, P->p, scratch);
	gq_set_threads(1);
	ck_assert_msg(!memcmp(pool1, pool3, npool * sizeof *pool1),
	        "%s/%s cin=%d %dx%d k=%d s=%d, pool k=%d s=%d p=%d, %d threads: pool only differs",
	        gq_conv_kernel(), gq_conv_algo(c), S->cin, S->h, S->w, S->k, S->s, P->k, P->s, P->p,
	        nt);
	ck_assert_msg(!memcmp(out1, out2, nout * sizeof *out1) &&
	                      !memcmp(pool1, pool2, npool * sizeof *pool1),
	        "%s/%s cin=%d %dx%d k=%d s=%d, pool k=%d s=%d p=%d, %d threads: fused differs",
	        gq_conv_kernel(), gq_conv_algo(c), S->cin, S->h, S->w, S->k, S->s, P->k, P->s, P->p,
	        nt);
	for (int co = 0; co < S->cout; co++)
		for (int y = 0; y < ph; y++)
			for (int x = 0; x < pw; x++) {
				float want = naive_max(out1 + (size_t)co * oh * ow, oh, ow,
				        y * P->s - P->p, x * P->s - P->p, P->k);
				if (pool2[((size_t)co * ph + y) * pw + x] != want) /* as case_run */
					ck_assert(pool2[((size_t)co * ph + y) * pw + x] == want);
			}
	gq_conv_free(c);
	free(in);
	free(w);
	free(b);
	free(add);
	free(out1);
	free(out2);
	free(pool1);
	free(pool2);
	free(out3);
	free(pool3);
	free(scratch);
}

static void pool_one(const PoolShape *P, int algo, int nt, int sum)
{
	const Shape *S = &P->S;
	gq_conv *c =
	        gq_conv_new_algo(S->cin, S->h, S->w, S->cout, S->k, S->s, S->p, S->d, true, algo);
	if (c)
		pool_check(c, P, nt, sum);
}

/* ResNet's stem (a 7x7 stride-2 lift, then a 3x3 stride-2 pool with padding) on odd sides,
 * small and large enough to split by rows; 2x2 pools; a stride-1 pool; direct by output
 * channels; a pool wider than the fast pool takes (run after the conv); on every algorithm
 * (direct and phase pool as they go) and 1-3 threads, with a residual and without. */
START_TEST(fused_pool_matches_conv_then_pool)
{
	static const PoolShape shapes[] = {
	        {{3, 45, 43, 16, 7, 2, 3, 1}, 3, 2, 1},
	        {{3, 45, 43, 64, 7, 2, 3, 1}, 3, 2, 1}, /* narrow direct (by rows) */
	        {{3, 101, 99, 16, 7, 2, 3, 1}, 3, 2, 1},
	        /* the phase plan's pool from a band buffer a thread: windows of 2 in one band,
	         * of 5 across up to three, a pool of stride 1 */
	        {{3, 61, 57, 8, 7, 2, 3, 1}, 2, 2, 0},
	        {{2, 61, 57, 12, 5, 2, 2, 1}, 5, 3, 2},
	        {{2, 71, 69, 20, 7, 2, 3, 1}, 3, 1, 1},
	        {{4, 77, 75, 16, 3, 1, 1, 1}, 2, 2, 0},
	        {{5, 31, 30, 13, 3, 1, 1, 1}, 3, 1, 1},
	        {{96, 13, 15, 96, 3, 1, 1, 1}, 2, 2, 0},
	        {{5, 20, 21, 7, 1, 1, 0, 1}, 5, 3, 2},
	        {{6, 11, 11, 6, 3, 1, 1, 1}, 9, 1, 0},
	};
	seed(6);
	if (gq_conv_use_kernel(kernel_names[_i])) /* kernel _i, as threads_agree_bit_for_bit */
		return;
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (int a = 0; a < NALGOS; a++)
			for (int nt = 1; nt <= 3; nt++)
				pool_one(&shapes[i], algos[a], nt, (int)(i + a + nt) % 2);
	/* a lift run as an orbit (conv_orbit.c), whose plan has no shape of its own: the
	 * pool after it takes the conv's output shape from the call */
	static const int p4[] = {0, 1, 2, 3};
	static const PoolShape stem = {{3, 25, 25, 12, 7, 2, 3, 1}, 3, 2, 1};
	for (int nt = 1; nt <= 2; nt++)
		pool_check(gq_conv_new_orbit(3, 25, 25, 12, 7, 2, 3, 1, true, 4, p4, true), &stem,
		        nt, nt - 1);
	gq_conv_use_kernel(NULL);
}
END_TEST

/* ---- the team ---- */

static atomic_int runs[GQ_MAX_THREADS];
static atomic_int seen_n;

static void count(void *ctx, int t, int n)
{
	(void)ctx;
	atomic_fetch_add(&runs[t], 1);
	atomic_store(&seen_n, n);
}

static void nested(void *ctx, int t, int n)
{
	int *inner = ctx;
	/* a job inside a job runs on its caller alone */
	inner[t] = gq_parallel(4, count, NULL);
	(void)n;
}

START_TEST(parallel_runs_each_share_once)
{
	gq_set_threads(2);
	ck_assert_int_eq(gq_threads(), 2);
	ck_assert_int_ge(gq_max_threads(), 2);
	for (int rep = 0; rep < 100; rep++) {
		memset(runs, 0, sizeof runs);
		int n = gq_parallel(5, count, NULL);
		ck_assert_int_eq(n, 2);
		ck_assert_int_eq(atomic_load(&seen_n), 2);
		ck_assert_int_eq(atomic_load(&runs[0]), 1);
		ck_assert_int_eq(atomic_load(&runs[1]), 1);
	}
	ck_assert_int_eq(gq_parallel(1, count, NULL), 1); /* want 1: no team */
	int inner[2] = {0, 0};
	ck_assert_int_eq(gq_parallel(2, nested, inner), 2);
	ck_assert_int_eq(inner[0], 1);
	ck_assert_int_eq(inner[1], 1);
	ck_assert_ptr_nonnull(gq_team_scratch(1));
	ck_assert_ptr_null(gq_team_scratch(0));
	gq_set_threads(1);
	ck_assert_int_eq(gq_threads(), 1);
	ck_assert_int_eq(gq_parallel(2, count, NULL), 1);
}
END_TEST

/* Which thread ran each share of a job, and how often. */
static atomic_int share_runs[2];
static pthread_t share_thread[2];

static void note_share(void *ctx, int t, int n)
{
	atomic_fetch_add(&share_runs[t], 1);
	share_thread[t] = pthread_self();
}

/* A worker that comes to a job after the caller has finished its own share (here: asleep,
 * its spin over, as a worker that another process keeps off its core) does not join it:
 * the caller runs its share, once, rather than wait for it. An empty share is done long
 * before a sleeping worker wakes, so in 20 tries the caller runs the worker's at least once. */
START_TEST(late_worker_share_run_by_caller)
{
	gq_set_threads(2);
	int by_caller = 0;
	for (int rep = 0; rep < 20; rep++) {
		usleep(5000);
		memset(share_runs, 0, sizeof share_runs);
		ck_assert_int_eq(gq_parallel(2, note_share, NULL), 2);
		ck_assert_int_eq(atomic_load(&share_runs[0]), 1);
		ck_assert_int_eq(atomic_load(&share_runs[1]), 1);
		by_caller += pthread_equal(share_thread[1], pthread_self()) != 0;
	}
	ck_assert_int_ge(by_caller, 1);
	gq_set_threads(1);
}
END_TEST

/* gq_parallel_for's record: which thread ran each unit, how often, and empty calls. */
static atomic_int unit_runs[256], unit_thread[256], slow_thread, empty_calls;

/* Thread slow_thread sleeps 5 ms after each grain: long enough that the other thread is
 * through its own share first, even on a busy machine. */
static void mark(void *ctx, int u0, int u1, int t)
{
	(void)ctx;
	if (u0 >= u1)
		atomic_fetch_add(&empty_calls, 1);
	for (int u = u0; u < u1; u++) {
		atomic_fetch_add(&unit_runs[u], 1);
		atomic_store(&unit_thread[u], t);
	}
	if (t == atomic_load(&slow_thread))
		usleep(5000);
}

/* Runs units [0, units) on nt threads, thread slow sleeping after each grain; returns
 * how many units thread 0 ran, having checked that each ran once. */
static int units_on_thread0(int units, int grain, int nt, int slow)
{
	memset(unit_runs, 0, sizeof unit_runs);
	atomic_store(&slow_thread, slow);
	gq_set_threads(nt);
	ck_assert_int_eq(gq_parallel_for(units, grain, mark, NULL), units < nt ? units : nt);
	int mine = 0;
	ck_assert_int_eq(atomic_load(&empty_calls), 0);
	for (int u = 0; u < units; u++) {
		ck_assert_msg(atomic_load(&unit_runs[u]) == 1, "unit %d of %d ran %d times", u,
		        units, atomic_load(&unit_runs[u]));
		mine += atomic_load(&unit_thread[u]) == 0;
	}
	gq_set_threads(1);
	return mine;
}

START_TEST(parallel_for_runs_each_unit_once)
{
	static const int units[] = {1, 2, 3, 7, 17, 64, 255};
	for (int nt = 1; nt <= 3; nt++)
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			for (int grain = 1; grain <= 12; grain += 11)
				units_on_thread0(units[i], grain, nt, -1);
	/* shares start as the static split did: the first units on thread 0 */
	ck_assert_int_eq(gq_share_first(100, 1, 0, 2), 0);
	ck_assert_int_eq(gq_share_first(100, 1, 1, 2), 50);
	ck_assert_int_eq(gq_share_first(100, 1, 2, 2), 100);
	ck_assert_int_eq(gq_share_first(10, 1, 1, 3), 3);
	/* a thread that falls behind has its last grains taken over: of 64 units in 16
	 * grains, thread 0 runs more than its own 32 while thread 1 sleeps after each */
	ck_assert_int_gt(units_on_thread0(64, 1, 2, 1), 32);
	/* and thread 0 behind, the worker takes over */
	ck_assert_int_lt(units_on_thread0(64, 1, 2, 0), 32);
}
END_TEST

/* Steps of a profiled batch: step 0 a job the team shares, on which the worker sleeps
 * 20 ms and thread 0 only waits for it to have joined (else thread 0 would run the
 * worker's share itself); step 1 20 ms on thread 0 alone. */
static atomic_int sleeper_joined;

static void sleeper(void *ctx, int t, int n)
{
	(void)ctx;
	(void)n;
	if (t == 1) {
		atomic_store(&sleeper_joined, 1);
		usleep(20000);
	} else {
		while (!atomic_load(&sleeper_joined))
			sched_yield();
		atomic_store(&sleeper_joined, 0);
	}
}

static void profiled_step(void *net, int s, float *ws, float *scratch, const float *in, float *out)
{
	(void)net, (void)ws, (void)scratch, (void)in, (void)out;
	if (s == 0)
		gq_parallel(2, sleeper, NULL);
	else
		usleep(20000);
}

/* The numbers of one line of the profile, but for its percentage, up to the name. */
static int profile_numbers(const char *line, double *v, int max)
{
	int n = 0;
	for (const char *p = line; *p && *p != '\n' && n < max;) {
		char *end;
		double x = strtod(p, &end);
		if (end == p) {
			p += strspn(p, " ");
			if (strncmp(p, "ms ", 3))
				break;
			p += 3;
		} else if (*end == '%') {
			p = end + 1;
		} else {
			v[n++] = x;
			p = end;
		}
	}
	return n;
}

/* --profile's columns on two threads: a step's time thread 0 ran alone, and the time it
 * waited for the others at the end of a shared job, each per image; their totals. */
START_TEST(profile_shows_alone_and_waiting)
{
	static const char *names[] = {"shared, line 1", "alone, line 2"};
	static float dummy[16];
	gq_batch b = {.step = profiled_step,
	        .step_names = names,
	        .nsteps = 2,
	        .group = 1,
	        .nthreads = 2,
	        .ws = dummy,
	        .scratch = dummy};
	gq_set_threads(2);
	gq_profile(true);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(gq_run_batch(&b, dummy, 1, dummy), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	gq_profile_report(f);
	fclose(f);
	gq_profile(false);
	gq_set_threads(1);
	double v[3][3]; /* per line: ms, alone, waited */
	static const char *const lines[] = {"  shared, line 1", "  alone, line 2", "  all steps"};
	for (int i = 0; i < 3; i++) {
		const char *at = strstr(text, lines[i]);
		ck_assert_msg(at, "%s", text);
		while (at > text && at[-1] != '\n')
			at--;
		ck_assert_msg(profile_numbers(at, v[i], 3) == 3, "%s", text);
	}
	/* 20 ms per image each; on step 0 thread 0 waits for the worker inside its share,
	 * so it is alone only between the steps (the bound: half the sleep). Its wait starts
	 * when thread 0 reaches the join, late by however long a loaded machine held it. */
	ck_assert_msg(v[0][0] >= 19 && v[0][2] >= 10 && v[0][1] < 10, "%s", text);
	ck_assert_msg(v[1][0] >= 19 && v[1][1] >= 19 && v[1][2] == 0, "%s", text);
	for (int k = 1; k < 3; k++)
		ck_assert_msg(fabs(v[2][k] - v[0][k] - v[1][k]) < 0.01, "%s", text);
	free(text);
}
END_TEST

/* A step that asks for two threads, and notes how many it got. */
static _Atomic int step_threads;

static void count_one(void *ctx, int t, int n)
{
	if (t == 0)
		step_threads = n;
}

static void splitting_step(void *net, int s, float *ws, float *scratch, const float *in, float *out)
{
	gq_parallel(2, count_one, NULL);
}

/* A solo batch (model.c: a model too small for the split to pay) runs a batch of one on the
 * caller alone, its steps' jobs too; other batches of one split their jobs, and a solo
 * batch of two still splits its images. */
START_TEST(solo_batch_runs_alone)
{
	static float dummy[16];
	gq_batch b = {.step = splitting_step,
	        .nsteps = 1,
	        .group = 1,
	        .nthreads = 2,
	        .ws = dummy,
	        .scratch = dummy};
	gq_set_threads(2);
	for (int solo = 0; solo <= 1; solo++) {
		b.solo = solo;
		gq_threads_used(true);
		ck_assert_int_eq(gq_run_batch(&b, dummy, 1, dummy), 0);
		ck_assert_int_eq(step_threads, solo ? 1 : 2);
		ck_assert_int_eq(gq_threads_used(false), solo ? 1 : 2);
		gq_threads_used(true);
		ck_assert_int_eq(gq_run_batch(&b, dummy, 2, dummy), 0);
		ck_assert_int_eq(step_threads, 1); /* inside a share of the batch: alone */
		ck_assert_int_eq(gq_threads_used(false), 2);
	}
	/* and the next caller's jobs split again */
	ck_assert_int_eq(gq_parallel(2, count_one, NULL), 2);
	gq_set_threads(1);
}
END_TEST

/* ---- a residual block's two convolutions in one call ---- */

enum { PAIR_NO_ADD, PAIR_ADD, PAIR_IN_PLACE }; /* add NULL, its own, add == out == in */

/* gq_conv_run_pair(a, b, ...) against gq_conv_run(a) then gq_conv_run_sum(b) on nt threads,
 * bit for bit (the same tiles and transforms), with the residual as mode says; the pair's
 * scratch (gq_conv_pair_scratch) starts as NaNs, so that a border the second conv reads
 * unzeroed shows, and the check runs twice, the second time over what the two calls left
 * there. */
static void pair_check(gq_conv *a, gq_conv *b, int cin, int c, int h, int w, int nt, int mode)
{
	size_t nx = (size_t)cin * h * w, ny = (size_t)c * h * w, nw = (size_t)c * cin * 9;
	size_t ns = gq_conv_pair_scratch(a, b);
	ck_assert(ns >= gq_conv_scratch(a) && ns >= gq_conv_scratch(b));
	float *wa = buf(nw, true), *wb = buf((size_t)c * c * 9, true), *ba = buf(c, true);
	float *bb = buf(c, true), *x = buf(mode == PAIR_IN_PLACE ? ny : nx, true);
	float *r = buf(ny, false), *q = buf(ny, false), *add = buf(ny, true);
	float *mid = buf(ny, false), *mid2 = buf(ny, false), *scratch = buf(ns, false);
	gq_conv_set(a, wa, ba);
	gq_conv_set(b, wb, bb);
	gq_set_threads(nt);
	for (int k = 0; k < 2; k++) {
		if (mode == PAIR_IN_PLACE) {
			memcpy(r, x, ny * sizeof *r);
			memcpy(q, x, ny * sizeof *q);
			gq_conv_run(a, mid, r, scratch);
			gq_conv_run_sum(b, r, mid, r, scratch);
			gq_conv_run_pair(a, b, q, q, mid2, q, scratch);
		} else {
			const float *s = mode == PAIR_ADD ? add : NULL;
			gq_conv_run(a, mid, x, scratch);
			gq_conv_run_sum(b, r, mid, s, scratch);
			gq_conv_run_pair(a, b, q, x, mid2, s, scratch);
		}
		for (size_t i = 0; i < ny; i++)
			if (memcmp(&r[i], &q[i], sizeof *r))
				ck_abort_msg("%s %s + %s %dx%dx%d -> %d, %d threads, residual %d, "
				             "run %d: pixel %zu %g, not %g",
				        gq_conv_kernel(), gq_conv_algo(a), gq_conv_algo(b), cin, h,
				        w, c, nt, mode, k, i, q[i], r[i]);
	}
	gq_set_threads(1);
	free(wa), free(wb), free(ba), free(bb), free(x), free(r), free(q), free(add);
	free(mid), free(mid2), free(scratch);
}

/* The pair on odd sides (not multiples of a tile), a map shorter than a block of tiles, 97x97
 * (ResNet-44 p4 97's stage: two threads' ranges cut inside a row of tiles), 49x49 and 33x33
 * (ResNet-44 p4 and p4m's), a first layer changing the channels; every Winograd form for
 * either, the two's forms alike and apart, relu on and off, the residual none, its own or
 * in place, 1-3 threads, on kernel _i; plans that are not plain Winograd run the two calls. */
START_TEST(pair_matches_two_calls)
{
	static const int shapes[][4] = {/* cin, channels, h, w */
	        {8, 8, 23, 21}, {5, 7, 37, 70}, {12, 12, 9, 50}, {16, 16, 45, 43}, {24, 24, 61, 13},
	        {32, 32, 97, 97}, {64, 64, 49, 49}, {64, 64, 33, 33}, {6, 6, 130, 11},
	        {16, 12, 50, 99}};
	static const int wino[] = {
	        GQ_CONV_WINO4, GQ_CONV_WINO2, GQ_CONV_WINO6, GQ_CONV_WINO3, GQ_CONV_WINO7};
	enum { NF = sizeof wino / sizeof *wino };
	seed(7);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (int f = 0; f < NF; f++)
			for (int nt = 1; nt <= 3; nt++) {
				int cin = shapes[i][0], c = shapes[i][1], h = shapes[i][2];
				int w = shapes[i][3], fb = nt == 2 ? (f + 1 + (int)i) % NF : f;
				if (h * w > 2000 && f && nt != 2) /* the large maps: fewer */
					continue;
				bool relu = (i + f + nt) % 2;
				gq_conv *a =
				        gq_conv_new_algo(cin, h, w, c, 3, 1, 1, 1, relu, wino[f]);
				gq_conv *b =
				        gq_conv_new_algo(c, h, w, c, 3, 1, 1, 1, !relu, wino[fb]);
				int mode = (int)(i + f + nt) % 3;
				if (mode == PAIR_IN_PLACE && cin != c)
					mode = PAIR_ADD;
				if (a && b)
					pair_check(a, b, cin, c, h, w, nt, mode);
				gq_conv_free(a);
				gq_conv_free(b);
			}
	/* the rules' plans, and plans that are not Winograd (direct, packed) */
	static const int other[][2] = {{GQ_CONV_AUTO, GQ_CONV_AUTO},
	        {GQ_CONV_DIRECT, GQ_CONV_WINO4}, {GQ_CONV_WINO4, GQ_CONV_PACKED}};
	for (size_t f = 0; f < sizeof other / sizeof other[0]; f++)
		for (int nt = 1; nt <= 2; nt++) {
			gq_conv *a = gq_conv_new_algo(8, 23, 21, 8, 3, 1, 1, 1, true, other[f][0]);
			gq_conv *b = gq_conv_new_algo(8, 23, 21, 8, 3, 1, 1, 1, true, other[f][1]);
			if (a && b)
				pair_check(a, b, 8, 8, 23, 21, nt, PAIR_IN_PLACE);
			gq_conv_free(a);
			gq_conv_free(b);
		}
	/* GEQRT_PAIR=0: the two calls */
	setenv("GEQRT_PAIR", "0", 1);
	gq_conv *a = gq_conv_new_algo(8, 23, 21, 8, 3, 1, 1, 1, true, GQ_CONV_WINO4);
	gq_conv *b = gq_conv_new_algo(8, 23, 21, 8, 3, 1, 1, 1, true, GQ_CONV_WINO4);
	if (a && b)
		pair_check(a, b, 8, 8, 23, 21, 2, PAIR_ADD);
	gq_conv_free(a);
	gq_conv_free(b);
	unsetenv("GEQRT_PAIR");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* A pair on two threads whose rows of tiles are wide (two_copies in conv_fast.c): range 1
 * of the first conv stores into a padded copy of its own, its blocks whose rows range 0 of
 * the second reads into the shared copy too, and the second's range 1 copies the rows above
 * its first whole row of tiles before it reads its own: bit for bit the two calls, with
 * the ranges cut inside a row of tiles (97x97 at F(4x4): 320/305) and at one, both forms
 * alike (the rule's condition), on kernel _i; the pair's scratch grows by the copy only
 * where the rule holds (GEQRT_HALVES=0: not), and it holds for at least one shape. */
START_TEST(pair_halves_match_two_calls)
{
	static const int shapes[][4] = {/* cin, channels, h, w */
	        {32, 32, 97, 97}, {8, 8, 41, 90}, {6, 6, 130, 81}, {12, 8, 64, 88},
	        {5, 5, 23, 170}};
	static const int wino[] = {GQ_CONV_WINO4, GQ_CONV_WINO2, GQ_CONV_WINO3};
	int held = 0;
	seed(11);
	if (gq_conv_use_kernel(kernel_names[_i]))
		return;
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		for (size_t f = 0; f < sizeof wino / sizeof wino[0]; f++) {
			int cin = shapes[i][0], c = shapes[i][1], h = shapes[i][2],
			    w = shapes[i][3];
			gq_conv *a = gq_conv_new_algo(cin, h, w, c, 3, 1, 1, 1, true, wino[f]);
			gq_conv *b = gq_conv_new_algo(c, h, w, c, 3, 1, 1, 1, (i + f) % 2, wino[f]);
			if (!a || !b) {
				gq_conv_free(a);
				gq_conv_free(b);
				continue;
			}
			/* the switch is read when a plan is made */
			setenv("GEQRT_HALVES", "0", 1);
			gq_conv *a0 = gq_conv_new_algo(cin, h, w, c, 3, 1, 1, 1, true, wino[f]);
			gq_conv *b0 =
			        gq_conv_new_algo(c, h, w, c, 3, 1, 1, 1, (i + f) % 2, wino[f]);
			unsetenv("GEQRT_HALVES");
			ck_assert(a0 && b0);
			size_t off = gq_conv_pair_scratch(a0, b0);
			/* one plan made with it off: the pair off */
			ck_assert(gq_conv_pair_scratch(a0, b) == off);
			gq_conv_free(a0);
			gq_conv_free(b0);
			held += gq_conv_pair_scratch(a, b) > off;
			for (int mode = 0; mode < 3; mode++)
				pair_check(a, b, cin, c, h, w, 2,
				        mode == PAIR_IN_PLACE && cin != c ? PAIR_ADD : mode);
			gq_conv_free(a);
			gq_conv_free(b);
		}
	ck_assert_msg(held > 0, "%s: no pair kept two copies", kernel_names[_i]);
	gq_conv_use_kernel(NULL);
}
END_TEST

static Suite *conv_fast_suite(void)
{
	Suite *s = suite_create("conv_fast");
	TCase *tc = tcase_create("conv");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, edge_shapes_every_algorithm);
	tcase_add_test(tc, random_shapes_every_algorithm);
	tcase_add_test(tc, panels_of_eight_every_algorithm);
	tcase_add_test(tc, panels_of_eight_where_channels_are);
	tcase_add_test(tc, narrow_products_every_kernel);
	tcase_add_test(tc, narrow_direct_every_kernel);
	tcase_add_test(tc, phase_every_kernel);
	tcase_add_test(tc, two_threads);
	tcase_add_loop_test(tc, shared_v_on_request, 0, 3);
	tcase_add_loop_test(tc, small_direct_layers_split, 0, 3);
	tcase_add_loop_test(tc, ranges_at_a_row_of_tiles, 0, 3);
	tcase_add_loop_test(tc, stride2_f3_odd_shapes, 0, 3);
	tcase_add_test(tc, auto_picks_winograd_for_wide_3x3);
	tcase_add_test(tc, memory_limit_picks_smaller_banks);
	tcase_add_test(tc, release_keeps_partial_pages);
	tcase_add_test(tc, bad_shapes_have_no_plan);
	tcase_add_test(tc, kernel_choice);
	tcase_add_test(tc, nan_propagates);
	tcase_add_test(tc, maxpool_fast_matches_torch);
	suite_add_tcase(s, tc);
	/* About half the suite's time with the pair case (s29-ci): tests/run-all.sh runs the
	 * test cases tagged half2 and the rest as two processes side by side. */
	TCase *half2 = tcase_create("conv-half2");
	tcase_set_tags(half2, "half2");
	tcase_set_timeout(half2, 120);
	tcase_add_loop_test(half2, threads_agree_bit_for_bit, 0, 3);
	tcase_add_loop_test(half2, fused_pool_matches_conv_then_pool, 0, 3);
	suite_add_tcase(s, half2);
	TCase *pair = tcase_create("pair");
	tcase_set_tags(pair, "half2");
	tcase_set_timeout(pair, 300);
	tcase_add_loop_test(pair, pair_matches_two_calls, 0, 3);
	tcase_add_loop_test(pair, pair_halves_match_two_calls, 0, 3);
	suite_add_tcase(s, pair);
	TCase *f7 = tcase_create("f7");
	tcase_set_timeout(f7, 300);
	tcase_add_loop_test(f7, f7_odd_shapes, 0, 3);
	tcase_add_loop_test(f7, f7_edge_shapes, 0, 3);
	suite_add_tcase(s, f7);
	TCase *team = tcase_create("team");
	tcase_add_test(team, parallel_runs_each_share_once);
	tcase_add_test(team, parallel_for_runs_each_unit_once);
	tcase_add_test(team, profile_shows_alone_and_waiting);
	tcase_add_test(team, solo_batch_runs_alone);
	tcase_add_test(team, late_worker_share_run_by_caller);
	suite_add_tcase(s, team);
	return s;
}

int main(void)
{
	gq_set_threads(1);
	SRunner *sr = srunner_create(conv_fast_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
