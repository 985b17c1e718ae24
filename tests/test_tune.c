/* test_tune.c: gq_net_tune (model.c), each layer's plan chosen by measuring its candidates
 * in the model. The model is written here as the generated code would write it: a p4m
 * gconv and a p4 gconv at stride 1 (each with candidates: expanded, orbit, group forms), a
 * 1x1 conv and a strided p4 gconv (no choice); its output against the naive gq_conv2d on
 * the expanded banks, tuned on one thread and on two, at batch 1 and in batches, on every
 * kernel the CPU runs; the test hook GEQRT_TUNE_SLOW that makes one kind of plan slow,
 * which the tuner must leave; and the hostile calls (a NULL or unloaded net, a net
 * without choices or without tuning, batch 0, a second tuning, a second load). The same
 * model with its first two convs as a pair (gq_conv_run_pair; gq_layer parts) tuned and
 * named in --profile as the compiler emits a residual block's. */
#include <stdbool.h>

#include "conv_orbit.h"
#include "harness.h"

static const int P4M[8] = {0, 1, 2, 3, 4, 5, 6, 7}, P4[4] = {0, 1, 2, 3};

/* Each conv: its shape (channels as the expanded bank's) and its base channels. */
enum { C0, C1, C2, C3, NCONVS };
static const gq_conv_shape convs[NCONVS] = {
        {64, 9, 9, 64, 3, 1, 1, 1, true, 8, P4M, false}, /* 8 base channels each side */
        {64, 9, 9, 32, 3, 1, 1, 1, true, 4, P4, false},  /* 16 in, 8 out */
        {32, 9, 9, 16, 1, 1, 0, 1, false, 0, NULL, false},
        {16, 9, 9, 16, 3, 2, 1, 1, true, 4, P4, false}, /* stride 2: 5x5 */
};
enum { IN = 64 * 81, A0 = 0, A1 = A0 + 64 * 81, A2 = A1 + 32 * 81, WS = A2 + 16 * 81 };
enum { OUT = 16 * 25 };

/* Where each conv's weights and bias go in the parameter block. */
static size_t wsize(int i)
{
	const gq_conv_shape *c = &convs[i];
	return (size_t)c->cout * c->cin * c->k * c->k;
}

static size_t woff(int i)
{
	size_t off = 0;
	for (int j = 0; j < i; j++)
		off += wsize(j) + (size_t)convs[j].cout;
	return off;
}

static void layer0(const gq_image *im)
{
	gq_conv_run(im->net->conv[C0], im->ws + A0, im->x, im->scratch);
}
static void layer1(const gq_image *im)
{
	gq_conv_run(im->net->conv[C1], im->ws + A1, im->ws + A0, im->scratch);
}
static void layer2(const gq_image *im)
{
	gq_conv_run(im->net->conv[C2], im->ws + A2, im->ws + A1, im->scratch);
}
static void layer3(const gq_image *im)
{
	gq_conv_run(im->net->conv[C3], im->y, im->ws + A2, im->scratch);
}

static const gq_layer layers[] = {
        {layer0, "gconv p4m", &convs[C0], NULL},
        {layer1, "gconv p4", &convs[C1], NULL},
        {layer2, "conv 1x1", &convs[C2], NULL},
        {layer3, "gconv p4 stride 2", &convs[C3], NULL},
};

/* The same model with its first two convs as a pair (gq_conv_run_pair, as the compiler
 * emits a residual block's, here without the residual): the tuner times its parts apart. */
static const gq_layer parts01[2] = {
        {layer0, "gconv p4m", &convs[C0], NULL},
        {layer1, "gconv p4", &convs[C1], NULL},
};
static void pair01(const gq_image *im)
{
	gq_conv_run_pair(im->net->conv[C0], im->net->conv[C1], im->ws + A1, im->x, im->ws + A0,
	        NULL, im->scratch);
}
static const gq_layer layers_pair[] = {
        {pair01, "gconv p4m + gconv p4", NULL, parts01},
        {layer2, "conv 1x1", &convs[C2], NULL},
        {layer3, "gconv p4 stride 2", &convs[C3], NULL},
};

/* The file's tensors: each conv's base filters ([cout/ng, cin/ng, ng, k, k] for a gconv)
 * and bias; expanded into the parameter block and packed, as the generated load does. */
static const gq_param params[2 * NCONVS] = {{"w0", 1, {8 * 64 * 9}}, {"b0", 1, {8}},
        {"w1", 1, {8 * 64 * 9}}, {"b1", 1, {8}}, {"w2", 1, {16 * 32}}, {"b2", 1, {16}},
        {"w3", 1, {4 * 16 * 9}}, {"b3", 1, {4}}};

static void expand(float *w, float *b, const float *const *t, int i)
{
	const gq_conv_shape *c = &convs[i];
	if (!c->ng) {
		memcpy(w, t[2 * i], wsize(i) * sizeof *w);
		memcpy(b, t[2 * i + 1], (size_t)c->cout * sizeof *b);
		return;
	}
	int ng = c->ng;
	gq_expand_gconv(w, t[2 * i], c->cout / ng, c->cin / ng, c->k, c->elem, ng);
	gq_expand_bias(b, t[2 * i + 1], c->cout / ng, ng);
}

static int load(gq_net *n, const float *const *t, char *err, size_t errlen)
{
	for (int i = 0; i < NCONVS; i++) {
		float *w = n->mem + woff(i), *b = w + wsize(i);
		expand(w, b, t, i);
		gq_conv_set(n->conv[i], w, b);
		gq_release(w, wsize(i) * sizeof *w);
	}
	return 0;
}

#define DESC(steps, n)                                                                             \
	{                                                                                          \
		.layers = steps, .nlayers = n, .convs = convs, .nconvs = NCONVS, .ws_floats = WS,  \
		.param_floats =                                                                    \
		        64 * 64 * 9 + 64 + 32 * 64 * 9 + 32 + 16 * 32 + 16 + 16 * 16 * 9 + 16,     \
		.in_size = IN, .out_size = OUT, .params = params, .nparams = 2 * NCONVS,           \
		.load = load                                                                       \
	}
static const gq_net_desc desc = DESC(layers, 4), desc_pair = DESC(layers_pair, 3);

/* The model as layers, and with a pair. */
static const gq_net_desc *const descs[2] = {&desc, &desc_pair};

static float *tensors[2 * NCONVS];

static void make_tensors(void)
{
	seed(15);
	for (int i = 0; i < 2 * NCONVS; i++)
		tensors[i] = randbuf((size_t)params[i].dim[0]);
}

static void free_tensors(void)
{
	for (int i = 0; i < 2 * NCONVS; i++)
		free(tensors[i]);
}

static gq_net *new_loaded(const gq_net_desc *d)
{
	gq_net *n = gq_net_new(d);
	char err[128];
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(gq_net_load_raw(n, (const float *const *)tensors, err, sizeof err), 0);
	return n;
}

/* y = the model on the batch's images, by the naive conv on the expanded banks. */
static void reference(float *y, const float *x, int batch)
{
	float *a = xbuf(WS, sizeof *a), *s = xbuf(gq_conv2d_scratch(64, 3, 9, 9), sizeof *s);
	for (int im = 0; im < batch; im++) {
		const float *in = x + (size_t)im * IN;
		float *out[NCONVS] = {a + A0, a + A1, a + A2, y + (size_t)im * OUT};
		for (int i = 0; i < NCONVS; i++) {
			const gq_conv_shape *c = &convs[i];
			float *w = xbuf(wsize(i), sizeof *w), *b = xbuf((size_t)c->cout, sizeof *b);
			expand(w, b, (const float *const *)tensors, i);
			int oh = (c->h + 2 * c->p - c->k) / c->s + 1;
			gq_conv2d(out[i], in, w, b, c->cin, c->h, c->w, c->cout, c->k, c->s, c->p,
			        1, s);
			for (size_t q = 0; c->relu && q < (size_t)c->cout * oh * oh; q++)
				out[i][q] = out[i][q] > 0 ? out[i][q] : 0;
			in = out[i];
			free(w);
			free(b);
		}
	}
	free(a);
	free(s);
}

/* The net's output at batch against the reference (inputs and filters in [-1, 1), four
 * layers of up to 576 terms: Winograd's rounding grows with the layers' magnitudes). */
static void expect_model(gq_net *n, int batch, const char *what)
{
	float *x = randbuf((size_t)batch * IN), *y = nanbuf((size_t)batch * OUT),
	      *ref = xbuf((size_t)batch * OUT, sizeof *ref);
	reference(ref, x, batch);
	ck_assert_int_eq(gq_net_forward(n, x, batch, y), 0);
	float big = 1;
	for (size_t i = 0; i < (size_t)batch * OUT; i++)
		big = fmaxf(big, fabsf(ref[i]));
	for (size_t i = 0; i < (size_t)batch * OUT; i++)
		ck_assert_msg(fabsf(y[i] - ref[i]) <= 2e-4f * big,
		        "%s (%s, %d threads, batch %d): y[%zu] = %g, want %g", what,
		        gq_conv_kernel(), gq_threads(), batch, i, y[i], ref[i]);
	free(x);
	free(y);
	free(ref);
}

static const gq_conv *serve_plan(const gq_net *n, int i)
{
	return n->serve ? n->serve->conv[i] : n->conv[i];
}

static const char *const kernel_names[] = {"avx512", "avx2", "c"};

START_TEST(tuned_model_is_the_model)
{
	make_tensors();
	gq_set_tune(true);
	for (int k = 0; k < 3; k++) {
		if (gq_conv_use_kernel(kernel_names[k]))
			continue;
		for (int threads = 1; threads <= 2; threads++) {
			for (int d = 0; d < 2; d++) {
				gq_set_threads(threads);
				gq_net *n = new_loaded(descs[d]);
				ck_assert_int_eq(gq_net_tune(n), 2); /* C0 and C1 had a choice */
				ck_assert_ptr_null(n->tune);
				expect_model(n, 1, d ? "a pair tuned, batch 1" : "tuned, batch 1");
				expect_model(n, 5, d ? "a pair tuned, a batch" : "tuned, a batch");
				gq_net_free(n);
			}
		}
	}
	gq_conv_use_kernel(NULL);
	gq_set_tune(false);
	gq_net *n = new_loaded(&desc); /* untuned: the rules' plans, as before */
	ck_assert_int_eq(gq_net_tune(n), 0);
	ck_assert_ptr_null(n->serve);
	expect_model(n, 1, "untuned");
	gq_net_free(n);
	free_tensors();
}
END_TEST

/* The kind GEQRT_TUNE_SLOW names is left by both modes' choices on both convs with a
 * choice; without the tuner, the rules' plans (expanded on a model this small) stay. */
static void expect_avoided(const char *kind, int threads, const gq_net_desc *d)
{
	setenv("GEQRT_TUNE_SLOW", kind, 1);
	gq_set_threads(threads);
	gq_net *n = new_loaded(d);
	ck_assert_int_eq(gq_net_tune(n), 2);
	for (int i = C0; i <= C1; i++) {
		const gq_conv *one = n->conv[i], *many = serve_plan(n, i);
		bool orbit = !strcmp(kind, "orbit"), group = !strcmp(kind, "group");
		ck_assert_msg(orbit   ? !gq_conv_orbit(one) && !gq_conv_orbit(many)
		              : group ? !gq_conv_wgroup(one) && !gq_conv_wgroup(many)
		                      : (gq_conv_orbit(one) || gq_conv_wgroup(one)) &&
		                                (gq_conv_orbit(many) || gq_conv_wgroup(many)),
		        "conv %d on %d threads kept a slow %s plan%s", i, threads, kind,
		        d == &desc_pair ? " (a pair)" : "");
	}
	expect_model(n, 1, kind);
	expect_model(n, 3, kind);
	gq_net_free(n);
	unsetenv("GEQRT_TUNE_SLOW");
}

START_TEST(tuner_leaves_a_slow_plan)
{
	make_tensors();
	gq_set_tune(true);
	for (int threads = 1; threads <= 2; threads++) {
		for (int d = 0; d < 2; d++) {
			expect_avoided("expanded", threads, descs[d]);
			expect_avoided("orbit", threads, descs[d]);
			expect_avoided("group", threads, descs[d]);
		}
	}
	gq_set_tune(false);
	setenv("GEQRT_TUNE_SLOW", "orbit", 1); /* the rules' plans, untuned: expanded here */
	gq_net *n = new_loaded(&desc);
	ck_assert_int_eq(gq_conv_orbit(n->conv[C0]) + gq_conv_wgroup(n->conv[C0]), 0);
	gq_net_free(n);
	free_tensors();
}
END_TEST

/* --profile names a pair's step after both convs, with each one's tuned plan. */
START_TEST(pair_named_with_both_plans)
{
	make_tensors();
	gq_set_tune(true);
	setenv("GEQRT_TUNE_SLOW", "expanded", 1);
	gq_set_threads(2);
	gq_net *n = new_loaded(&desc_pair);
	ck_assert_int_eq(gq_net_tune(n), 2);
	const char *s = n->names[0], *plans = strstr(s, ", plans ");
	ck_assert_msg(!strncmp(s, "gconv p4m + gconv p4, plans ", 28) && plans &&
	                      strstr(plans + 8, " + ") && !strstr(s, "expanded"),
	        "--profile's name of the pair '%s' does not say both tuned plans", s);
	gq_net_free(n);
	unsetenv("GEQRT_TUNE_SLOW");
	gq_set_tune(false);
	free_tensors();
}
END_TEST

START_TEST(tune_by_environment_at_first_pass)
{
	make_tensors();
	setenv("GEQRT_TUNE", "1", 1);
	setenv("GEQRT_TUNE_SLOW", "expanded", 1);
	gq_set_threads(2);
	gq_net *n = new_loaded(&desc);
	ck_assert_ptr_nonnull(n->tune); /* the candidates, until the first pass */
	expect_model(n, 1, "GEQRT_TUNE=1");
	ck_assert_ptr_null(n->tune);
	ck_assert(gq_conv_orbit(n->conv[C0]) || gq_conv_wgroup(n->conv[C0]));
	ck_assert_msg(strstr(n->names[0], "orbit") || strstr(n->names[0], "group"),
	        "--profile's name '%s' does not say the tuned plan", n->names[0]);
	ck_assert_int_eq(gq_net_tune(n), 0); /* tuned already */
	char err[128];                       /* a second load packs the chosen plans */
	ck_assert_int_eq(gq_net_load_raw(n, (const float *const *)tensors, err, sizeof err), 0);
	expect_model(n, 2, "reloaded");
	gq_net_free(n);
	unsetenv("GEQRT_TUNE_SLOW");
	unsetenv("GEQRT_TUNE");
	free_tensors();
}
END_TEST

/* A model of one gconv (3x3, stride 1, relu) of shape one, its tensors the base filters
 * and bias: the F(6x6) and F(7x7) tuner tests' model. */
static const gq_conv_shape *one;
enum { ONE_B = 2 };

static size_t one_in(void)
{
	return (size_t)one->cin * one->h * one->w;
}

static void one_expand(float *w, float *b, const float *const *t)
{
	gq_expand_gconv(w, t[0], one->cout / one->ng, one->cin / one->ng, 3, one->elem, one->ng);
	gq_expand_bias(b, t[1], one->cout / one->ng, one->ng);
}

static void one_layer(const gq_image *im)
{
	gq_conv_run(im->net->conv[0], im->y, im->x, im->scratch);
}

static int one_load(gq_net *n, const float *const *t, char *err, size_t errlen)
{
	float *w = n->mem, *b = w + (size_t)one->cout * one->cin * 9;
	one_expand(w, b, t);
	gq_conv_set(n->conv[0], w, b);
	return 0;
}

/* ref: the naive conv's (and relu's) output for ONE_B images x; big its largest magnitude. */
static void one_reference(float *ref, const float *x, const float *const *t, float *big)
{
	int ci = one->cin, co = one->cout, h = one->h, w_ = one->w;
	float *w = xbuf((size_t)co * ci * 9, sizeof *w), *b = xbuf(co, sizeof *b),
	      *s = xbuf(gq_conv2d_scratch(ci, 3, h, w_), sizeof *s);
	one_expand(w, b, t);
	for (int im = 0; im < ONE_B; im++)
		gq_conv2d(
		        ref + im * one_in(), x + im * one_in(), w, b, ci, h, w_, co, 3, 1, 1, 1, s);
	*big = 1;
	for (size_t i = 0; i < ONE_B * one_in(); i++)
		*big = fmaxf(*big, fabsf(ref[i] = fmaxf(ref[i], 0)));
	free(w);
	free(b);
	free(s);
}

static void one_expect(gq_net *n, const float *x, const float *ref, float big, int batch)
{
	float *y = nanbuf(batch * one_in());
	ck_assert_int_eq(gq_net_forward(n, x, batch, y), 0);
	for (size_t i = 0; i < batch * one_in(); i++)
		ck_assert_msg(fabsf(y[i] - ref[i]) <= 2e-4f * big,
		        "%s (%s, %d threads, batch %d): y[%zu] = %g, want %g", n->names[0],
		        gq_conv_kernel(), gq_threads(), batch, i, y[i], ref[i]);
	free(y);
}

/* The model of one gconv c, tuned with F(4x4) made slow and the orbit and group left out,
 * runs algo (named form in --profile) in batches and at batch 1 on one thread, algo2 at
 * batch 1 on two, and matches the naive conv, on every kernel (the portable one on one
 * thread). */
static void expect_tuned_one(
        const gq_conv_shape *c, unsigned s, const char *algo, const char *algo2, const char *form)
{
	one = c;
	const gq_layer layer = {one_layer, "gconv", c, NULL};
	const gq_param prm[2] = {
	        {"w", 1, {c->cout * c->cin * 9 / c->ng}}, {"b", 1, {c->cout / c->ng}}};
	const gq_net_desc d = {.layers = &layer,
	        .nlayers = 1,
	        .convs = c,
	        .nconvs = 1,
	        .ws_floats = 16,
	        .param_floats = (size_t)c->cout * c->cin * 9 + c->cout,
	        .in_size = one_in(),
	        .out_size = one_in(),
	        .params = prm,
	        .nparams = 2,
	        .load = one_load};
	seed(s);
	float *t[2] = {randbuf(prm[0].dim[0]), randbuf(prm[1].dim[0])},
	      *x = randbuf(ONE_B * one_in()), *ref = xbuf(ONE_B * one_in(), sizeof *ref), big;
	one_reference(ref, x, (const float *const *)t, &big);
	setenv("GEQRT_ORBIT", "0", 1);
	setenv("GEQRT_WGROUP", "0", 1);
	setenv("GEQRT_TUNE_SLOW", "winograd4", 1);
	gq_set_tune(true);
	for (int k = 0; k < 3; k++) {
		if (gq_conv_use_kernel(kernel_names[k]))
			continue;
		for (int threads = 1; threads <= (k < 2 ? 2 : 1); threads++) { /* c: slow */
			gq_set_threads(threads);
			gq_net *n = gq_net_new(&d);
			char err[128];
			ck_assert_ptr_nonnull(n);
			ck_assert_int_eq(
			        gq_net_load_raw(n, (const float *const *)t, err, sizeof err), 0);
			ck_assert_int_eq(gq_net_tune(n), 1);
			ck_assert_str_eq(gq_conv_algo(n->conv[0]), threads > 1 ? algo2 : algo);
			ck_assert_str_eq(gq_conv_algo(serve_plan(n, 0)), algo);
			ck_assert_msg(
			        strstr(n->names[0], form), "--profile's name '%s'", n->names[0]);
			one_expect(n, x, ref, big, 1);
			one_expect(n, x, ref, big, ONE_B);
			gq_net_free(n);
		}
	}
	gq_conv_use_kernel(NULL);
	gq_set_tune(false);
	unsetenv("GEQRT_TUNE_SLOW");
	unsetenv("GEQRT_WGROUP");
	unsetenv("GEQRT_ORBIT");
	free(t[0]);
	free(t[1]);
	free(x);
	free(ref);
}

/* One p4 gconv, 128 channels at 29x29: the expanded plan's F(6x6) a candidate
 * (conv_orbit.c's wino6_candidate). */
START_TEST(tuned_model_runs_wino6)
{
	static const gq_conv_shape c = {128, 29, 29, 128, 3, 1, 1, 1, true, 4, P4, false};
	expect_tuned_one(&c, 16, "winograd6", "winograd6", "F(6x6)");
}
END_TEST

/* One p4m gconv, 64 channels at 33x33 (ResNet-44 p4m's stage 1): F(7x7) a candidate
 * (conv_orbit.c's wino7_candidate), never at batch 1 on two threads (model.c's
 * one_thread_only), where F(4x4) runs. */
START_TEST(tuned_model_runs_wino7)
{
	static const gq_conv_shape c = {64, 33, 33, 64, 3, 1, 1, 1, true, 8, P4M, false};
	expect_tuned_one(&c, 17, "winograd7", "winograd4", "F(7x7)");
}
END_TEST

START_TEST(hostile_calls)
{
	make_tensors();
	gq_set_tune(true);
	ck_assert_int_eq(gq_net_tune(NULL), -1);
	gq_net *n = gq_net_new(&desc); /* not loaded: refused, freed whole */
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(gq_net_tune(n), -1);
	float x[IN], y[OUT];
	ck_assert_int_eq(gq_net_forward(n, x, 1, y), -1);
	gq_net_free(n);
	n = new_loaded(&desc); /* batch 0 tunes, then does nothing */
	ck_assert_int_eq(gq_net_forward(n, NULL, 0, NULL), 0);
	ck_assert_ptr_null(n->tune);
	ck_assert_int_eq(gq_net_forward(n, x, -1, y), -1);
	gq_net_free(n);
	setenv("GEQRT_ORBIT", "0", 1); /* no conv with a choice */
	setenv("GEQRT_WGROUP", "0", 1);
	n = new_loaded(&desc);
	ck_assert_int_eq(gq_net_tune(n), 0);
	ck_assert_ptr_null(n->serve);
	expect_model(n, 1, "no choice");
	gq_net_free(n);
	unsetenv("GEQRT_WGROUP");
	setenv("GEQRT_ORBIT", "1", 1); /* forced: no choice */
	n = new_loaded(&desc);
	ck_assert_int_eq(gq_net_tune(n), 0);
	ck_assert_int_eq(gq_conv_orbit(n->conv[C0]), 8);
	expect_model(n, 2, "GEQRT_ORBIT=1");
	gq_net_free(n);
	unsetenv("GEQRT_ORBIT");
	gq_set_memory_limit(1 << 20); /* a ceiling: the rules' plans alone */
	n = new_loaded(&desc);
	ck_assert_int_eq(gq_net_tune(n), 0);
	gq_net_free(n);
	gq_set_memory_limit(0);
	gq_set_tune(false);
	free_tensors();
}
END_TEST

static Suite *tune_suite(void)
{
	Suite *s = suite_create("tune");
	TCase *tc = tcase_create("tune");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, tuned_model_is_the_model);
	tcase_add_test(tc, tuner_leaves_a_slow_plan);
	tcase_add_test(tc, pair_named_with_both_plans);
	tcase_add_test(tc, tune_by_environment_at_first_pass);
	tcase_add_test(tc, tuned_model_runs_wino6);
	tcase_add_test(tc, tuned_model_runs_wino7);
	tcase_add_test(tc, hostile_calls);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(tune_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
