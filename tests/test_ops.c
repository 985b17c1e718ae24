/* test_ops.c: the runtime kernels (ops.c) and the group machinery on values (filters.c),
 * each against a naive loop written here from its formula (torch.nn.functional semantics,
 * SPEC §3), and the property that makes a G-CNN: the expanded lift/gconv filters commute
 * with the group action, conv(T_g x) == T_g conv(x). References accumulate in double. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geqrt.h"
#include "harness.h"

/* ---- helpers ---- */

/* Index of the first element off by more than 1e-4 relative (floor 1 for small
 * values), or -1 when all agree. */
static long mismatch(const float *got, const double *ref, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double tol = 1e-4 * fmax(fabs(ref[i]), 1.0);
		if ((double)got[i] == ref[i])
			continue; /* also equal infinities, whose difference is NaN */
		if (!(fabs((double)got[i] - ref[i]) <= tol))
			return (long)i;
	}
	return -1;
}

#define ASSERT_CLOSE(got, ref, n, ...)                                                             \
	do {                                                                                       \
		long bad_ = mismatch(got, ref, n);                                                 \
		if (bad_ >= 0) {                                                                   \
			char ctx_[256];                                                            \
			snprintf(ctx_, sizeof ctx_, __VA_ARGS__);                                  \
			ck_abort_msg("%s: element %ld is %.8g, want %.8g", ctx_, bad_,             \
			        (double)(got)[bad_], (ref)[bad_]);                                 \
		}                                                                                  \
	} while (0)

static void to_double(double *d, const float *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = f[i];
}

/* ---- the subgroups of D4 used below, each axis in increasing canonical index ---- */

typedef struct {
	const char *name;
	int n;
	int elem[8];
} TestGroup;

static const TestGroup groups[] = {
        {"p1", 1, {0}},
        {"p2", 2, {0, 2}},
        {"pm", 2, {0, 4}},
        {"flip_ud", 2, {0, 6}},
        {"cm", 2, {0, 7}},
        {"pmm", 4, {0, 2, 4, 6}},
        {"cmm", 4, {0, 2, 5, 7}},
        {"p4", 4, {0, 1, 2, 3}},
        {"p4m", 8, {0, 1, 2, 3, 4, 5, 6, 7}},
};
enum { NGROUPS = sizeof groups / sizeof groups[0] };

static int axis_of(const TestGroup *G, int x)
{
	for (int a = 0; a < G->n; a++)
		if (G->elem[a] == x)
			return a;
	ck_abort_msg("%s is not closed: element %d missing", G->name, x);
	return -1;
}

/* ref = T_g plane (h x w) via gq_d4_point, in double. */
static void point_plane(int g, double *ref, const float *in, int h, int w)
{
	int ow = gq_d4_swaps_axes(g) ? h : w;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int oy, ox;
			gq_d4_point(g, h, w, y, x, &oy, &ox);
			ref[oy * ow + ox] = in[y * w + x];
		}
}

/* ---- conv2d ---- */

static int conv_out(int n, int k, int s, int p, int d)
{
	return (n + 2 * p - d * (k - 1) - 1) / s + 1;
}

/* out[co, oy, ox] = bias[co] + sum in[ci, oy*s-p+ky*d, ox*s-p+kx*d] w[co, ci, ky, kx],
 * taps outside the input reading zero. */
static void naive_conv(double *out, const float *in, const float *w, const float *bias, int cin,
        int h, int wd, int cout, int k, int s, int p, int d)
{
	int oh = conv_out(h, k, s, p, d), ow = conv_out(wd, k, s, p, d);
	for (int co = 0; co < cout; co++)
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++) {
				double acc = bias ? bias[co] : 0.0;
				for (int ci = 0; ci < cin; ci++)
					for (int ky = 0; ky < k; ky++)
						for (int kx = 0; kx < k; kx++) {
							int iy = oy * s - p + ky * d;
							int ix = ox * s - p + kx * d;
							if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
								continue;
							acc += (double)in[(ci * h + iy) * wd + ix] *
							       w[((co * cin + ci) * k + ky) * k +
							               kx];
						}
				out[(co * oh + oy) * ow + ox] = acc;
			}
}

static void check_conv(int cin, int cout, int h, int w, int k, int s, int p, int d, bool bias)
{
	int oh = conv_out(h, k, s, p, d), ow = conv_out(w, k, s, p, d);
	ck_assert_int_gt(oh, 0);
	ck_assert_int_gt(ow, 0);
	size_t nout = (size_t)cout * oh * ow;
	float *in = randbuf((size_t)cin * h * w), *wt = randbuf((size_t)cout * cin * k * k);
	float *b = bias ? randbuf(cout) : NULL, *out = nanbuf(nout);
	float *scratch = nanbuf(gq_conv2d_scratch(cin, k, oh, ow));
	double *ref = dbuf(nout);
	naive_conv(ref, in, wt, b, cin, h, w, cout, k, s, p, d);
	gq_conv2d(out, in, wt, b, cin, h, w, cout, k, s, p, d, scratch);
	ASSERT_CLOSE(out, ref, nout, "conv cin=%d cout=%d %dx%d k=%d s=%d p=%d d=%d bias=%d", cin,
	        cout, h, w, k, s, p, d, bias);
	free(in), free(wt), free(b), free(out), free(scratch), free(ref);
}

START_TEST(conv2d_listed)
{
	/* cin cout h w k s p d: odd/even/non-square, k > input with padding, 1x1 both paths */
	static const int cases[][8] = {
	        {1, 1, 5, 5, 3, 1, 0, 1},
	        {3, 4, 7, 7, 3, 1, 1, 1},
	        {2, 3, 8, 8, 3, 2, 1, 1},
	        {2, 3, 28, 28, 3, 2, 1, 1},
	        {2, 2, 29, 29, 3, 2, 1, 1},
	        {3, 5, 6, 9, 3, 1, 1, 1},
	        {3, 5, 9, 6, 2, 2, 0, 1},
	        {2, 2, 10, 7, 4, 3, 2, 1},
	        {1, 2, 2, 2, 5, 1, 2, 1},  /* k > input, padding makes it fit */
	        {2, 3, 3, 4, 7, 2, 3, 1},  /* k > input, strided */
	        {2, 2, 9, 9, 3, 1, 2, 2},  /* dilation */
	        {3, 2, 11, 8, 3, 2, 1, 3}, /* dilation + stride, non-square */
	        {4, 6, 5, 7, 1, 1, 0, 1},  /* 1x1 direct path */
	        {4, 6, 5, 7, 1, 2, 0, 1},  /* 1x1 strided: im2col */
	        {4, 6, 5, 7, 1, 1, 1, 1},  /* 1x1 padded: borders are bias only */
	        {4, 3, 4, 4, 1, 1, 0, 3},  /* 1x1 with a dilation that does not matter */
	        {1, 1, 1, 1, 1, 1, 0, 1},
	        {1, 1, 1, 1, 3, 1, 1, 1},
	        {16, 8, 12, 12, 3, 1, 1, 1},
	};
	seed(1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const int *c = cases[i];
		check_conv(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], true);
		check_conv(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], false);
	}
}
END_TEST

START_TEST(conv2d_random)
{
	seed(2);
	for (int t = 0; t < 300; t++) {
		int cin = irand(1, 4), cout = irand(1, 5), h = irand(1, 13), w = irand(1, 13);
		int k = irand(1, 6), s = irand(1, 3), p = irand(0, 3), d = irand(1, 3);
		if (conv_out(h, k, s, p, d) < 1 || conv_out(w, k, s, p, d) < 1)
			continue;
		check_conv(cin, cout, h, w, k, s, p, d, irand(0, 1));
	}
}
END_TEST

/* ---- pools ---- */

/* torch max_pool2d: padded taps are -inf. avg_pool2d(count_include_pad=True): padded taps
 * are zeros and the divisor is the whole window, k*k. */
static void naive_pool(
        double *out, const float *in, int n, int h, int w, int k, int s, int p, bool avg)
{
	int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
	for (int i = 0; i < n; i++)
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++) {
				double m = -INFINITY, sum = 0;
				for (int ky = 0; ky < k; ky++)
					for (int kx = 0; kx < k; kx++) {
						int y = oy * s - p + ky, x = ox * s - p + kx;
						bool pad = y < 0 || y >= h || x < 0 || x >= w;
						double v =
						        pad ? -INFINITY : in[(i * h + y) * w + x];
						m = fmax(m, v);
						sum += pad ? 0.0 : v;
					}
				out[(i * oh + oy) * ow + ox] = avg ? sum / (k * k) : m;
			}
}

static void check_pool(int n, int h, int w, int k, int s, int p, bool avg, bool negative)
{
	int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
	size_t nin = (size_t)n * h * w, nout = (size_t)n * oh * ow;
	float *in = randbuf(nin), *out = nanbuf(nout);
	double *ref = dbuf(nout);
	if (negative) /* all below zero: a zero-padded max would be visibly wrong */
		for (size_t i = 0; i < nin; i++)
			in[i] = -2.0f + 0.5f * in[i];
	naive_pool(ref, in, n, h, w, k, s, p, avg);
	if (avg)
		gq_avgpool2d(out, in, n, h, w, k, s, p);
	else
		gq_maxpool2d(out, in, n, h, w, k, s, p);
	ASSERT_CLOSE(out, ref, nout, "%s n=%d %dx%d k=%d s=%d p=%d", avg ? "avgpool" : "maxpool", n,
	        h, w, k, s, p);
	free(in), free(out), free(ref);
}

START_TEST(pools)
{
	static const int cases[][6] = {
	        /* n h w k s p */
	        {3, 28, 28, 2, 2, 0},
	        {2, 29, 29, 2, 2, 0},
	        {2, 29, 29, 3, 2, 1},
	        {2, 7, 5, 3, 1, 1},
	        {1, 4, 4, 4, 4, 2},
	        {2, 6, 9, 5, 3, 2},
	        {1, 1, 1, 1, 1, 0},
	        {1, 3, 3, 3, 3, 1},
	};
	seed(3);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (int mode = 0; mode < 4; mode++) {
			const int *c = cases[i];
			check_pool(c[0], c[1], c[2], c[3], c[4], c[5], mode & 1, mode & 2);
		}
	for (int t = 0; t < 200; t++) {
		int k = irand(1, 5), s = irand(1, 4), p = irand(0, k / 2); /* torch: p <= k/2 */
		int h = irand(1, 12), w = irand(1, 12);
		if (h + 2 * p < k || w + 2 * p < k)
			continue;
		check_pool(irand(1, 3), h, w, k, s, p, irand(0, 1), irand(0, 1));
	}
	/* rows of more than one chunk of outputs (pool_fast's 256), odd sizes; and ResNet-18's
	 * pool, large enough to split its planes over two threads */
	check_pool(2, 7, 601, 3, 2, 1, false, false);
	check_pool(1, 5, 1030, 4, 4, 2, false, true);
	check_pool(3, 9, 533, 8, 1, 4, false, false);
	gq_set_threads(2);
	check_pool(64, 113, 113, 3, 2, 1, false, true);
	gq_set_threads(1);
}
END_TEST

/* A NaN anywhere in a window makes its max NaN, as torch's; the other windows keep theirs. */
START_TEST(maxpool_nan)
{
	static const int cases[][4] = {/* h=w k s p */ {9, 2, 2, 0}, {9, 3, 2, 1}, {20, 3, 1, 1}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int n = cases[i][0], k = cases[i][1], s = cases[i][2], p = cases[i][3];
		int o = (n + 2 * p - k) / s + 1;
		float *in = randbuf((size_t)n * n), *out = nanbuf((size_t)o * o);
		in[4 * n + 5] = NAN;
		gq_maxpool2d(out, in, 1, n, n, k, s, p);
		for (int oy = 0; oy < o; oy++)
			for (int ox = 0; ox < o; ox++) {
				int dy = 4 - (oy * s - p), dx = 5 - (ox * s - p);
				bool has = dy >= 0 && dy < k && dx >= 0 && dx < k;
				ck_assert_msg(has == (bool)isnan(out[oy * o + ox]),
				        "k=%d s=%d p=%d at (%d, %d)", k, s, p, oy, ox);
			}
		free(in), free(out);
	}
}
END_TEST

/* ---- elementwise and small ops ---- */

START_TEST(affine_and_bn_fold)
{
	enum { C = 3, G = 4, HW = 5 };
	seed(4);
	float *x = randbuf(C * G * HW), *y = malloc(sizeof(float) * C * G * HW);
	float wt[C], bias[C], mean[C], var[C], scale[C], shift[C];
	double ref[C * G * HW];
	const float eps = 1e-3f;
	for (int c = 0; c < C; c++) {
		wt[c] = 2 * frand(), bias[c] = frand(), mean[c] = frand();
		var[c] = 0.1f + fabsf(frand());
	}
	memcpy(y, x, sizeof(float) * C * G * HW);
	/* bn: (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c], c shared over g */
	for (int c = 0; c < C; c++)
		for (int i = 0; i < G * HW; i++) {
			double v = x[c * G * HW + i];
			ref[c * G * HW + i] =
			        (v - mean[c]) / sqrt((double)var[c] + eps) * wt[c] + bias[c];
		}
	gq_bn_fold(scale, shift, wt, bias, mean, var, C, eps);
	gq_affine(y, C, G, HW, scale, shift);
	ASSERT_CLOSE(y, ref, C * G * HW, "bn fold + affine");
	free(x), free(y);
}
END_TEST

/* The bn folded into the conv before it equals the conv followed by the bn: each of the
 * c*ng output rows scaled by its channel's factor, the bias moved to match. */
START_TEST(bn_fold_into_conv)
{
	enum { C = 3, NG = 4, CIN = 2, K = 3, H = 6, W = 5 };
	seed(9);
	const size_t row = (size_t)CIN * K * K;
	float *w = randbuf(C * NG * row), *b = randbuf(C * NG), *x = randbuf(CIN * H * W);
	float wt[C], bias[C], mean[C], var[C], scale[C], shift[C];
	const float eps = 1e-5f;
	for (int c = 0; c < C; c++) {
		wt[c] = 2 * frand(), bias[c] = frand(), mean[c] = frand();
		var[c] = 0.1f + fabsf(frand());
	}
	int oh = conv_out(H, K, 1, 1, 1), ow = conv_out(W, K, 1, 1, 1);
	size_t n = (size_t)C * NG * oh * ow;
	double *ref = dbuf(n);
	float *y = malloc(n * sizeof *y);
	naive_conv(ref, x, w, b, CIN, H, W, C * NG, K, 1, 1, 1);
	gq_bn_fold(scale, shift, wt, bias, mean, var, C, eps);
	for (size_t i = 0; i < n; i++) {
		int c = (int)(i / ((size_t)oh * ow)) / NG;
		ref[i] = ref[i] * scale[c] + shift[c];
	}
	const float *bn[4] = {wt, bias, mean, var};
	char err[160] = "";
	ck_assert_int_eq(
	        gq_bn_fold_into_conv(w, b, row, C, NG, bn, eps, "bn1", err, sizeof err), 0);
	float *scratch = malloc(gq_conv2d_scratch(CIN, K, oh, ow) * sizeof *scratch);
	gq_conv2d(y, x, w, b, CIN, H, W, C * NG, K, 1, 1, 1, scratch);
	ASSERT_CLOSE(y, ref, n, "conv with the bn folded in");
	free(scratch);
	var[1] = -1.0f; /* a variance that would make the fold NaN is refused by name */
	ck_assert_int_eq(
	        gq_bn_fold_into_conv(w, b, row, C, NG, bn, eps, "bn1", err, sizeof err), -1);
	ck_assert_str_eq(err, "tensor 'bn1.running_var' has -1 at [1]: a variance must be >= 0");
	float bias_out[C * NG];
	gq_expand_bias(bias_out, bias, C, NG);
	for (int i = 0; i < C * NG; i++)
		ck_assert_float_eq(bias_out[i], bias[i / NG]);
	gq_expand_bias(bias_out, NULL, C, NG);
	for (int i = 0; i < C * NG; i++)
		ck_assert_float_eq(bias_out[i], 0.0f);
	free(w), free(b), free(x), free(ref), free(y);
}
END_TEST

/* gq_run_batch: a toy model of 3 steps whose step s adds s + 1 to its image's workspace
 * value and the last writes it out, so y[b] = x[b] + 6 exactly when every image ran every
 * step once, in order, in a workspace of its own; for every batch and thread count. */
enum { TOY_STEPS = 3, TOY_GROUP = 4, TOY_THREADS = 2 };
static void toy_step(void *net, int s, float *ws, float *scratch, const float *in, float *out)
{
	(void)net;
	ck_assert_ptr_nonnull(scratch);
	if (s == 0)
		ws[0] = in[0];
	ck_assert_float_eq(ws[1], (float)s); /* the steps before ran, in order */
	ws[0] += (float)(s + 1);
	ws[1] = (float)(s + 1);
	if (s == TOY_STEPS - 1) {
		out[0] = ws[0];
		ws[1] = 0.0f;
	}
}

START_TEST(run_batch)
{
	float ws[TOY_THREADS * TOY_GROUP * 2] = {0}, scratch[TOY_THREADS] = {0};
	gq_batch b = {.step = toy_step,
	        .nsteps = TOY_STEPS,
	        .group = TOY_GROUP,
	        .nthreads = TOY_THREADS,
	        .ws = ws,
	        .scratch = scratch,
	        .vstride = 2,
	        .sstride = 1,
	        .in_size = 1,
	        .out_size = 1};
	float x[19], y[19];
	for (int i = 0; i < 19; i++)
		x[i] = (float)(10 * i);
	for (int t = 1; t <= 3; t++) { /* 3: more threads than the net has workspaces */
		gq_set_threads(t);
		for (int batch = 0; batch <= 19; batch++) {
			for (int i = 0; i < 19; i++)
				y[i] = -1.0f;
			gq_run_batch(&b, x, batch, y);
			for (int i = 0; i < 19; i++)
				ck_assert_float_eq(y[i], i < batch ? x[i] + 6.0f : -1.0f);
		}
	}
	gq_set_threads(1);
}
END_TEST

START_TEST(activations)
{
	enum { N = 64 };
	static const float extremes[] = {0.0f, -0.0f, 1e-8f, -1e-8f, 20.0f, -20.0f, 88.0f, -88.0f,
	        100.0f, -100.0f, 1e4f, -1e4f, 1e30f, -1e30f, INFINITY, -INFINITY};
	enum { NE = sizeof extremes / sizeof extremes[0] };
	float x[N + NE], r[N + NE], sg[N + NE], th[N + NE];
	double rr[N + NE], rs[N + NE], rt[N + NE];
	seed(5);
	for (int i = 0; i < N; i++)
		x[i] = 8 * frand();
	memcpy(x + N, extremes, sizeof extremes);
	for (int i = 0; i < N + NE; i++) {
		rr[i] = x[i] > 0 ? x[i] : 0.0;
		rs[i] = 1.0 / (1.0 + exp(-(double)x[i])); /* double: no overflow to worry about */
		rt[i] = tanh((double)x[i]);
	}
	memcpy(r, x, sizeof x), memcpy(sg, x, sizeof x), memcpy(th, x, sizeof x);
	gq_relu(r, N + NE);
	gq_sigmoid(sg, N + NE);
	gq_tanh(th, N + NE);
	ASSERT_CLOSE(r, rr, N + NE, "relu");
	ASSERT_CLOSE(sg, rs, N + NE, "sigmoid");
	ASSERT_CLOSE(th, rt, N + NE, "tanh");
	for (int i = 0; i < N + NE; i++)
		ck_assert_msg(sg[i] >= 0.0f && sg[i] <= 1.0f, "sigmoid(%g) = %g", x[i], sg[i]);
}
END_TEST

START_TEST(group_and_global_pools)
{
	enum { C = 3, G = 8, HW = 10 };
	seed(6);
	float *in = randbuf(C * G * HW), *out = nanbuf(C * HW), *gout = nanbuf(C * G);
	double ref[C * G * HW];
	for (int mean = 0; mean <= 1; mean++) {
		/* gpool: out[c, i] = max / mean over g of in[c, g, i] */
		for (int c = 0; c < C; c++)
			for (int i = 0; i < HW; i++) {
				double m = -INFINITY, s = 0;
				for (int g = 0; g < G; g++) {
					double v = in[(c * G + g) * HW + i];
					m = fmax(m, v), s += v;
				}
				ref[c * HW + i] = mean ? s / G : m;
			}
		gq_gpool(out, in, C, G, HW, mean);
		ASSERT_CLOSE(out, ref, C * HW, "gpool mean=%d", mean);
		/* global pool: one value per plane of the [C*G, HW] stack */
		for (int n = 0; n < C * G; n++) {
			double m = -INFINITY, s = 0;
			for (int i = 0; i < HW; i++)
				m = fmax(m, in[n * HW + i]), s += in[n * HW + i];
			ref[n] = mean ? s / HW : m;
		}
		gq_global_pool(gout, in, C * G, HW, mean);
		ASSERT_CLOSE(gout, ref, C * G, "global pool mean=%d", mean);
	}
	gq_gpool(out, in, C, 1, HW, false); /* a one-element group axis is the identity */
	to_double(ref, in, C * HW);
	ASSERT_CLOSE(out, ref, C * HW, "gpool over a trivial group");
	/* a NaN on any element (the first, or a later one; in a vector's lanes or the tail)
	 * comes out as NaN, and only there */
	in[(1 * G + 3) * HW + 1] = NAN;
	in[(2 * G + 0) * HW + 9] = NAN;
	for (int mean = 0; mean <= 1; mean++) {
		gq_gpool(out, in, C, G, HW, mean);
		for (int i = 0; i < C * HW; i++)
			ck_assert_msg(isnan(out[i]) == (i == 1 * HW + 1 || i == 2 * HW + 9),
			        "gpool mean=%d: NaN at %d: %g", mean, i, out[i]);
	}
	free(in), free(out), free(gout);
}
END_TEST

START_TEST(linear)
{
	/* rows and inputs not multiples of the four a pass takes; the last, ResNet-18's layer
	 * with odd sizes, split over two threads */
	static const int sizes[][2] = {{1, 1}, {10, 7}, {3, 128}, {64, 33}, {1001, 131}};
	seed(7);
	gq_set_threads(2);
	for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
		int nout = sizes[t][0], nin = sizes[t][1];
		float *w = randbuf((size_t)nout * nin), *b = randbuf(nout), *x = randbuf(nin);
		float *y = nanbuf(nout);
		double *ref = dbuf(nout);
		for (int withb = 0; withb <= 1; withb++) {
			for (int o = 0; o < nout; o++) {
				ref[o] = withb ? b[o] : 0.0;
				for (int i = 0; i < nin; i++)
					ref[o] += (double)w[o * nin + i] * x[i];
			}
			for (int o = 0; o < nout; o++)
				y[o] = NAN; /* stale NaN must not leak through a zero beta */
			gq_linear(y, x, w, withb ? b : NULL, nout, nin);
			ASSERT_CLOSE(y, ref, nout, "linear %dx%d bias=%d", nout, nin, withb);
		}
		free(w), free(b), free(x), free(y), free(ref);
	}
	gq_set_threads(1);
}
END_TEST

START_TEST(softmax_and_add)
{
	enum { N = 12 };
	float x[N], y[N], z[N];
	double ref[N];
	seed(8);
	for (int scale = 1; scale <= 1000; scale *= 10) {
		/* large logits: a softmax without max subtraction overflows expf */
		double m = -INFINITY, s = 0;
		for (int i = 0; i < N; i++)
			x[i] = (float)scale * 10 * frand() + (scale == 1000 ? 1000.0f : 0.0f);
		for (int i = 0; i < N; i++)
			m = fmax(m, x[i]);
		for (int i = 0; i < N; i++)
			s += exp((double)x[i] - m);
		for (int i = 0; i < N; i++)
			ref[i] = exp((double)x[i] - m) / s;
		memcpy(y, x, sizeof x);
		gq_softmax(y, N);
		ASSERT_CLOSE(y, ref, N, "softmax scale %d", scale);
	}
	for (int i = 0; i < N; i++)
		x[i] = frand(), y[i] = frand(), ref[i] = (double)x[i] + y[i];
	gq_add(z, x, y, N);
	ASSERT_CLOSE(z, ref, N, "add");
	gq_add(x, x, y, N); /* in place, as the generated code may reuse a buffer */
	ASSERT_CLOSE(x, ref, N, "add in place");
}
END_TEST

/* The 1-D interpolation matrix [n*s, n] of torch's bilinear upsampling by s
 * (align_corners=False), from the definition of each output's source coordinate. */
static void bilinear_matrix(double *A, int n, int s)
{
	memset(A, 0, sizeof *A * (size_t)n * n * s);
	for (int o = 0; o < n * s; o++) {
		double src = fmax(0.0, (o + 0.5) / s - 0.5);
		int i0 = (int)floor(src);
		double t = src - i0;
		A[o * n + i0] += 1 - t;
		A[o * n + (i0 + 1 < n ? i0 + 1 : n - 1)] += t;
	}
}

START_TEST(upsample)
{
	enum { MAXN = 3, MAXHW = 8, MAXS = 4 };
	static const int shapes[][4] = {{1, 1, 1, 2}, {2, 3, 5, 2}, {3, 4, 4, 3}, {1, 7, 2, 4}};
	static float in[MAXN * MAXHW * MAXHW], out[MAXN * MAXHW * MAXHW * MAXS * MAXS];
	static double ref[MAXN * MAXHW * MAXHW * MAXS * MAXS];
	static double Ah[MAXHW * MAXS * MAXHW], Aw[MAXHW * MAXS * MAXHW];
	seed(21);
	for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
		int n = shapes[t][0], h = shapes[t][1], w = shapes[t][2], s = shapes[t][3];
		int oh = h * s, ow = w * s;
		for (int i = 0; i < n * h * w; i++)
			in[i] = frand();
		/* nearest: every output pixel copies the input pixel whose s x s block holds it */
		gq_upsample(out, in, n, h, w, s, false);
		for (int c = 0; c < n; c++)
			for (int y = 0; y < oh; y++)
				for (int x = 0; x < ow; x++)
					ref[(c * oh + y) * ow + x] =
					        in[(c * h + y / s) * w + x / s];
		ASSERT_CLOSE(out, ref, n * oh * ow, "nearest n=%d %dx%d s=%d", n, h, w, s);
		/* bilinear: out = A_h in A_w^T, plane by plane */
		bilinear_matrix(Ah, h, s);
		bilinear_matrix(Aw, w, s);
		for (int c = 0; c < n; c++)
			for (int y = 0; y < oh; y++)
				for (int x = 0; x < ow; x++) {
					double acc = 0;
					for (int i = 0; i < h; i++)
						for (int j = 0; j < w; j++)
							acc += Ah[y * h + i] *
							       in[(c * h + i) * w + j] *
							       Aw[x * w + j];
					ref[(c * oh + y) * ow + x] = acc;
				}
		gq_upsample(out, in, n, h, w, s, true);
		ASSERT_CLOSE(out, ref, n * oh * ow, "bilinear n=%d %dx%d s=%d", n, h, w, s);
	}
}
END_TEST

START_TEST(numel_and_threads)
{
	gq_shape s = {GQ_GMAP, GQ_VA_NONE, 3, 8, 5, 7};
	ck_assert_uint_eq(gq_numel(s), 3 * 8 * 5 * 7);
	gq_shape big = {GQ_GMAP, GQ_VA_NONE, 4096, 8, 1024, 1024}; /* past INT_MAX */
	ck_assert_uint_eq(gq_numel(big), (size_t)4096 * 8 * 1024 * 1024);
	gq_set_threads(1);
	check_conv(2, 3, 9, 9, 3, 1, 1, 1, true);
	gq_set_threads(2);
	check_conv(2, 3, 9, 9, 3, 1, 1, 1, true);
}
END_TEST

/* ---- filter expansion against its definition ---- */

START_TEST(expand_lift_direct)
{
	enum { COUT = 3, CIN = 2 };
	seed(9);
	for (int gi = 0; gi < NGROUPS; gi++)
		for (int k = 1; k <= 4; k++) {
			const TestGroup *G = &groups[gi];
			int ng = G->n;
			size_t kk = (size_t)k * k, n = (size_t)COUT * ng * CIN * kk;
			float *w = randbuf(COUT * CIN * kk), *out = nanbuf(n);
			double *ref = dbuf(n);
			/* out[c*ng + a, ci] = T_{elem[a]} w[c, ci] */
			for (int c = 0; c < COUT; c++)
				for (int a = 0; a < ng; a++)
					for (int ci = 0; ci < CIN; ci++)
						point_plane(G->elem[a],
						        ref + ((c * ng + a) * CIN + ci) * kk,
						        w + (c * CIN + ci) * kk, k, k);
			gq_expand_lift(out, w, COUT, CIN, k, G->elem, ng);
			for (size_t i = 0; i < n; i++)
				ck_assert_msg(out[i] == ref[i], "lift %s k=%d: element %zu",
				        G->name, k, i);
			free(w), free(out), free(ref);
		}
}
END_TEST

START_TEST(expand_gconv_direct)
{
	enum { COUT = 2, CIN = 3 };
	seed(10);
	for (int gi = 0; gi < NGROUPS; gi++)
		for (int k = 1; k <= 4; k++) {
			const TestGroup *G = &groups[gi];
			int ng = G->n;
			size_t kk = (size_t)k * k, n = (size_t)COUT * ng * CIN * ng * kk;
			float *w = randbuf(COUT * CIN * ng * kk), *out = nanbuf(n);
			double *ref = dbuf(n);
			/* out[c*ng + a, ci*ng + b] = T_g w[c, ci, axis(g^-1 h)], g = elem[a], h =
			 * elem[b] */
			for (int c = 0; c < COUT; c++)
				for (int a = 0; a < ng; a++)
					for (int ci = 0; ci < CIN; ci++)
						for (int b = 0; b < ng; b++) {
							int g = G->elem[a], h = G->elem[b];
							int src = axis_of(
							        G, gq_d4_mul(gq_d4_inv(g), h));
							point_plane(g,
							        ref + (((c * ng + a) * CIN + ci) *
							                              ng +
							                      b) *
							                        kk,
							        w + ((c * CIN + ci) * ng + src) *
							                        kk,
							        k, k);
						}
			gq_expand_gconv(out, w, COUT, CIN, k, G->elem, ng);
			for (size_t i = 0; i < n; i++)
				ck_assert_msg(out[i] == ref[i], "gconv %s k=%d: element %zu",
				        G->name, k, i);
			free(w), free(out), free(ref);
		}
}
END_TEST

/* ---- the group action on values ---- */

/* (T_g F)[c, a] = T_g F[c, axis(g^-1 elem[a])], with the spatial part only if spatial. */
static void naive_act(int g, double *ref, const float *x, int c, const TestGroup *G, int ng, int h,
        int w, bool spatial)
{
	size_t hw = (size_t)h * w;
	for (int ci = 0; ci < c; ci++)
		for (int a = 0; a < ng; a++) {
			int src = ng == 1 ? 0 : axis_of(G, gq_d4_mul(gq_d4_inv(g), G->elem[a]));
			const float *p = x + (ci * ng + src) * hw;
			if (spatial)
				point_plane(g, ref + (ci * ng + a) * hw, p, h, w);
			else
				to_double(ref + (ci * ng + a) * hw, p, hw);
		}
}

static void check_act(const TestGroup *G, gq_shape s, bool spatial)
{
	size_t n = gq_numel(s);
	float *x = randbuf(n), *out = nanbuf(n), *tmp = nanbuf(n), *out2 = nanbuf(n);
	double *ref = dbuf(n);
	for (int a = 0; a < G->n; a++) {
		int g = G->elem[a];
		gq_act(g, out, x, s, G->elem);
		if (s.kind == GQ_VECTOR && (s.act == GQ_VA_TRIVIAL || s.act == GQ_VA_MIXED))
			to_double(ref, x, n);
		else
			naive_act(g, ref, x, s.c, G, s.g, s.h, s.w, spatial);
		ASSERT_CLOSE(out, ref, n, "act %s g=%d kind=%d act=%d", G->name, g, s.kind, s.act);
		/* an action: T_g T_h = T_{gh} */
		for (int b = 0; b < G->n; b++) {
			int h = G->elem[b];
			gq_act(h, tmp, x, s, G->elem);
			gq_act(g, out, tmp, s, G->elem);
			gq_act(gq_d4_mul(g, h), out2, x, s, G->elem);
			to_double(ref, out2, n);
			ASSERT_CLOSE(
			        out, ref, n, "T_%d T_%d != T_%d*%d on %s", g, h, g, h, G->name);
		}
	}
	free(x), free(out), free(tmp), free(out2), free(ref);
}

START_TEST(act_on_values)
{
	seed(11);
	for (int gi = 0; gi < NGROUPS; gi++) {
		const TestGroup *G = &groups[gi];
		bool square_only = false;
		for (int a = 0; a < G->n; a++)
			square_only |= gq_d4_swaps_axes(G->elem[a]);
		int h = 5, w = square_only ? 5 : 6;
		check_act(G, (gq_shape){GQ_IMAGE, GQ_VA_NONE, 3, 1, h, w}, true);
		check_act(G, (gq_shape){GQ_IMAGE, GQ_VA_NONE, 2, 1, 4, square_only ? 4 : 3}, true);
		check_act(G, (gq_shape){GQ_GMAP, GQ_VA_NONE, 3, G->n, h, w}, true);
		check_act(G, (gq_shape){GQ_VECTOR, GQ_VA_GROUP, 4, G->n, 1, 1}, false);
		check_act(G, (gq_shape){GQ_VECTOR, GQ_VA_MAP, 2, G->n, h, w}, true);
		check_act(G, (gq_shape){GQ_VECTOR, GQ_VA_MAP, 2, 1, h, w}, true);
		check_act(G, (gq_shape){GQ_VECTOR, GQ_VA_TRIVIAL, 7, 1, 1, 1}, false);
		check_act(G, (gq_shape){GQ_VECTOR, GQ_VA_MIXED, 3, G->n, 1, 1}, false);
	}
}
END_TEST

/* ---- equivariance of the expanded filters ---- */

typedef struct {
	int cin, c1, c2, n;                 /* input channels, layer widths, input side */
	int k1, s1, p1, d1, k2, s2, p2, d2; /* lift, gconv */
	int pool;                           /* maxpool size after gconv, 0 for none */
} Stack;

typedef struct {
	int c, g, h, w;
} Dims;

/* lift -> bn -> relu -> gconv (-> maxpool) with weights wl, wg on x; returns the G-map
 * dims and writes it to y (malloc'd). The bn is a random affine map per channel. */
static float *run_stack(const Stack *S, const TestGroup *G, const float *x, const float *wl,
        const float *bl, const float *wg, const float *bg, const float *sc, const float *sh,
        Dims *dims)
{
	int ng = G->n;
	int h1 = conv_out(S->n, S->k1, S->s1, S->p1, S->d1);
	int h2 = conv_out(h1, S->k2, S->s2, S->p2, S->d2);
	float *el = malloc(sizeof(float) * S->c1 * ng * S->cin * S->k1 * S->k1);
	float *eg = malloc(sizeof(float) * S->c2 * ng * S->c1 * ng * S->k2 * S->k2);
	float *ebl = malloc(sizeof(float) * S->c1 * ng), *ebg = malloc(sizeof(float) * S->c2 * ng);
	float *a1 = malloc(sizeof(float) * S->c1 * ng * h1 * h1);
	float *a2 = malloc(sizeof(float) * S->c2 * ng * h2 * h2);
	size_t ns = gq_conv2d_scratch(S->cin, S->k1, h1, h1);
	size_t ns2 = gq_conv2d_scratch(S->c1 * ng, S->k2, h2, h2);
	float *scratch = malloc(sizeof(float) * (ns > ns2 ? ns : ns2));
	for (int c = 0; c < S->c1 * ng; c++)
		ebl[c] = bl[c / ng]; /* one bias per channel, shared over the group axis */
	for (int c = 0; c < S->c2 * ng; c++)
		ebg[c] = bg[c / ng];
	gq_expand_lift(el, wl, S->c1, S->cin, S->k1, G->elem, ng);
	gq_expand_gconv(eg, wg, S->c2, S->c1, S->k2, G->elem, ng);
	gq_conv2d(a1, x, el, ebl, S->cin, S->n, S->n, S->c1 * ng, S->k1, S->s1, S->p1, S->d1,
	        scratch);
	gq_affine(a1, S->c1, ng, h1 * h1, sc, sh);
	gq_relu(a1, (size_t)S->c1 * ng * h1 * h1);
	gq_conv2d(a2, a1, eg, ebg, S->c1 * ng, h1, h1, S->c2 * ng, S->k2, S->s2, S->p2, S->d2,
	        scratch);
	*dims = (Dims){S->c2, ng, h2, h2};
	if (S->pool) {
		int h3 = (h2 - S->pool) / S->pool + 1;
		float *a3 = malloc(sizeof(float) * S->c2 * ng * h3 * h3);
		gq_maxpool2d(a3, a2, S->c2 * ng, h2, h2, S->pool, S->pool, 0);
		free(a2);
		a2 = a3;
		dims->h = dims->w = h3;
	}
	free(el), free(eg), free(ebl), free(ebg), free(a1), free(scratch);
	return a2;
}

/* max |a - b| / max |b|: SPEC's err_g */
static double rel_err(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		num = fmax(num, fabs((double)a[i] - b[i]));
		den = fmax(den, fabs((double)b[i]));
	}
	return den > 0 ? num / den : num;
}

/* err_g of every element of G for the stack, on the G-map itself and after each readout
 * (gpool -> image, global pool -> group vector, flatten -> map vector). */
static void stack_errors(const Stack *S, const TestGroup *G, double err[8])
{
	int ng = G->n;
	size_t nx = (size_t)S->cin * S->n * S->n;
	float *wl = randbuf(S->c1 * S->cin * S->k1 * S->k1), *bl = randbuf(S->c1);
	float *wg = randbuf(S->c2 * S->c1 * ng * S->k2 * S->k2), *bg = randbuf(S->c2);
	float *sc = randbuf(S->c1), *sh = randbuf(S->c1), *x = randbuf(nx), *tx = nanbuf(nx);
	Dims d;
	float *y = run_stack(S, G, x, wl, bl, wg, bg, sc, sh, &d);
	gq_shape img = {GQ_IMAGE, GQ_VA_NONE, S->cin, 1, S->n, S->n};
	gq_shape gm = {GQ_GMAP, GQ_VA_NONE, d.c, d.g, d.h, d.w};
	size_t ny = gq_numel(gm), hw = (size_t)d.h * d.w;
	float *ty = nanbuf(ny), *p = nanbuf(d.c * hw), *tp = nanbuf(d.c * hw);
	float *v = nanbuf(d.c * ng), *tv = nanbuf(d.c * ng);
	for (int a = 0; a < ng; a++) {
		int g = G->elem[a];
		Dims d2;
		gq_act(g, tx, x, img, G->elem);
		float *yt = run_stack(S, G, tx, wl, bl, wg, bg, sc, sh, &d2);
		gq_act(g, ty, y, gm, G->elem);
		double e = rel_err(yt, ty, ny);
		/* flatten: the vector acts as the map it came from */
		gq_shape fl = {GQ_VECTOR, GQ_VA_MAP, d.c, d.g, d.h, d.w};
		gq_act(g, ty, y, fl, G->elem);
		e = fmax(e, rel_err(yt, ty, ny));
		/* gpool: an image, acted on by T_g alone */
		gq_shape pim = {GQ_IMAGE, GQ_VA_NONE, d.c, 1, d.h, d.w};
		gq_gpool(p, y, d.c, ng, (int)hw, false);
		gq_act(g, tp, p, pim, G->elem);
		gq_gpool(p, yt, d.c, ng, (int)hw, false);
		e = fmax(e, rel_err(p, tp, d.c * hw));
		/* global pool of the G-map: the group axis permutes */
		gq_shape gv = {GQ_VECTOR, GQ_VA_GROUP, d.c, ng, 1, 1};
		gq_global_pool(v, y, d.c * ng, (int)hw, true);
		gq_act(g, tv, v, gv, G->elem);
		gq_global_pool(v, yt, d.c * ng, (int)hw, true);
		e = fmax(e, rel_err(v, tv, d.c * ng));
		err[a] = e;
		free(yt);
	}
	free(wl), free(bl), free(wg), free(bg), free(sc), free(sh), free(x), free(tx), free(y);
	free(ty), free(p), free(tp), free(v), free(tv);
}

START_TEST(equivariance_exact)
{
	/* every grid centred: stride 1 anywhere; (n + 2p - d(k-1) - 1) mod s == 0 otherwise */
	static const Stack stacks[] = {
	        {2, 3, 2, 7, 3, 1, 1, 1, 3, 1, 1, 1, 0},
	        {1, 2, 3, 11, 3, 1, 1, 1, 3, 2, 1, 1, 2}, /* 11 -> 11 -> 6 -> pool 3 */
	        {2, 2, 2, 9, 3, 2, 0, 1, 3, 1, 2, 2, 0},  /* strided lift, dilated gconv */
	        {1, 2, 2, 8, 4, 1, 0, 1, 1, 1, 0, 1, 0},  /* even kernel, 1x1 gconv */
	        {3, 2, 2, 10, 5, 1, 3, 1, 2, 2, 0, 1, 0}, /* k > ... padding, even stride */
	};
	seed(12);
	for (size_t si = 0; si < sizeof stacks / sizeof stacks[0]; si++)
		for (int gi = 0; gi < NGROUPS; gi++) {
			double err[8];
			stack_errors(&stacks[si], &groups[gi], err);
			for (int a = 0; a < groups[gi].n; a++)
				ck_assert_msg(err[a] <= 1e-4,
				        "stack %zu on %s: err of element %d = %g", si,
				        groups[gi].name, groups[gi].elem[a], err[a]);
		}
}
END_TEST

/* Does T_g map the grid {(a*s + off, b*s + off) : a, b < m} of an n x n plane onto
 * itself? The geometry the lint decides, worked out pixel by pixel. */
static bool grid_preserved(int g, int n, int m, int s, int off)
{
	for (int a = 0; a < m; a++)
		for (int b = 0; b < m; b++) {
			int oy, ox;
			gq_d4_point(g, n, n, a * s + off, b * s + off, &oy, &ox);
			if ((oy - off) % s || (ox - off) % s || oy < off || ox < off ||
			        (oy - off) / s >= m || (ox - off) / s >= m)
				return false;
		}
	return true;
}

START_TEST(equivariance_broken_is_detected)
{
	/* 10 -> gconv k3 s2 p1: (10 + 2 - 2 - 1) mod 2 = 1, so the window centres sit at
	 * 0, 2, ..., 8 of 0..9. Elements that move that grid must show a large error (the
	 * check above can fail); the transpose maps it onto itself and stays exact. */
	static const Stack broken = {1, 3, 3, 10, 3, 1, 1, 1, 3, 2, 1, 1, 0};
	seed(13);
	for (int gi = 0; gi < NGROUPS; gi++) {
		const TestGroup *G = &groups[gi];
		double err[8];
		stack_errors(&broken, G, err);
		for (int a = 0; a < G->n; a++) {
			int g = G->elem[a];
			if (grid_preserved(g, 10, 5, 2, 0))
				ck_assert_msg(err[a] <= 1e-4,
				        "%s: element %d keeps the grid, err %g", G->name, g,
				        err[a]);
			else
				ck_assert_msg(err[a] >= 1e-2,
				        "%s: element %d moves the grid, err %g", G->name, g,
				        err[a]);
		}
	}
	ck_assert(grid_preserved(7, 10, 5, 2, 0));  /* transpose: (y, x) -> (x, y) */
	ck_assert(!grid_preserved(5, 10, 5, 2, 0)); /* antitranspose sends evens to odds */
	ck_assert(!grid_preserved(1, 10, 5, 2, 0));
}
END_TEST

static Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *t = tcase_create("kernels");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, conv2d_listed);
	tcase_add_test(t, conv2d_random);
	tcase_add_test(t, pools);
	tcase_add_test(t, maxpool_nan);
	tcase_add_test(t, affine_and_bn_fold);
	tcase_add_test(t, bn_fold_into_conv);
	tcase_add_test(t, run_batch);
	tcase_add_test(t, activations);
	tcase_add_test(t, group_and_global_pools);
	tcase_add_test(t, linear);
	tcase_add_test(t, softmax_and_add);
	tcase_add_test(t, upsample);
	tcase_add_test(t, numel_and_threads);
	suite_add_tcase(s, t);
	TCase *f = tcase_create("group");
	tcase_set_timeout(f, 60);
	tcase_add_test(f, expand_lift_direct);
	tcase_add_test(f, expand_gconv_direct);
	tcase_add_test(f, act_on_values);
	tcase_add_test(f, equivariance_exact);
	tcase_add_test(f, equivariance_broken_is_detected);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(ops_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed != 0;
}
