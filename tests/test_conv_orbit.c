/* test_conv_orbit.c: lifts and gconvs run as orbits (conv_orbit.c) on the identity
 * element's filters, against the naive gq_conv2d on the bank expanded over the group
 * (gq_expand_lift / gq_expand_gconv) and against the expanded bank's own gq_conv plan: every
 * subgroup of p4m with two elements or more (the identity first or not), odd and non-square
 * shapes, stride 1 and exact stride 2, 1x1 and 3x3 and 5x5, with and without a residual (in
 * place) and relu, on every kernel the CPU runs and on two threads; and the shapes where
 * the orbit is not exact, which get the expanded plan. */
#include <stdbool.h>

#include "conv_orbit.h"
#include "harness.h"

typedef struct Layer {
	int c, h, w, cout, k, s, p; /* c: input channels (a gconv's per element) */
	bool lift;
} Layer;

typedef struct Group {
	int ng;
	int elem[GQ_D4_ORDER];
} Group;

/* Every subgroup of D4 but the trivial one, some with the identity not first. */
static const Group groups[] = {
        {2, {0, 2}},                   /* C2 */
        {2, {4, 0}},                   /* the mirror m, identity second */
        {2, {0, 5}},                   /* mr: a mirror that swaps the axes */
        {2, {0, 6}},                   /* mr2 */
        {2, {0, 7}},                   /* mr3 */
        {4, {0, 1, 2, 3}},             /* p4 */
        {4, {0, 2, 4, 6}},             /* D2: m, mr2 */
        {4, {5, 0, 7, 2}},             /* D2: mr, mr3, shuffled */
        {8, {0, 1, 2, 3, 4, 5, 6, 7}}, /* p4m */
};
enum { NGROUPS = sizeof groups / sizeof groups[0] };

static bool swaps(const Group *G)
{
	for (int a = 0; a < G->ng; a++)
		if (gq_d4_swaps_axes(G->elem[a]))
			return true;
	return false;
}

static int out_len(int n, const Layer *L)
{
	return (n + 2 * L->p - L->k) / L->s + 1;
}

typedef struct Case {
	const Layer *L;
	const Group *G;
	int cin, cout, oh, ow;
	size_t nin, nout, nw;
	float *in, *w, *b, *add, *ref;
} Case;

/* Random base filters and bias, expanded as the generated code expands them; the input;
 * the residual (or NULL); ref = naive conv + bias + residual, relu. */
static void make_case(Case *t, const Layer *L, const Group *G, bool sum, bool relu)
{
	int ng = G->ng, k2 = L->k * L->k;
	*t = (Case){.L = L, .G = G, .cin = L->lift ? L->c : L->c * ng, .cout = L->cout * ng};
	t->oh = out_len(L->h, L);
	t->ow = out_len(L->w, L);
	t->nin = (size_t)t->cin * L->h * L->w;
	t->nout = (size_t)t->cout * t->oh * t->ow;
	t->nw = (size_t)t->cout * t->cin * k2;
	float *base = randbuf((size_t)L->cout * t->cin * k2), *b0 = randbuf((size_t)L->cout);
	t->w = xbuf(t->nw, sizeof(float));
	t->b = xbuf((size_t)t->cout, sizeof(float));
	if (L->lift)
		gq_expand_lift(t->w, base, L->cout, L->c, L->k, G->elem, ng);
	else
		gq_expand_gconv(t->w, base, L->cout, L->c, L->k, G->elem, ng);
	gq_expand_bias(t->b, b0, L->cout, ng);
	t->in = randbuf(t->nin);
	t->add = sum ? randbuf(t->nout) : NULL;
	t->ref = xbuf(t->nout, sizeof(float));
	float *scratch = xbuf(gq_conv2d_scratch(t->cin, L->k, t->oh, t->ow), sizeof(float));
	gq_conv2d(t->ref, t->in, t->w, t->b, t->cin, L->h, L->w, t->cout, L->k, L->s, L->p, 1,
	        scratch);
	for (size_t i = 0; i < t->nout; i++) {
		float v = t->ref[i] + (sum ? t->add[i] : 0.0f);
		t->ref[i] = relu && v < 0.0f ? 0.0f : v;
	}
	free(scratch);
	free(base);
	free(b0);
}

static void free_case(Case *t)
{
	free(t->in);
	free(t->w);
	free(t->b);
	free(t->add);
	free(t->ref);
}

/* out = plan c on the case, the residual added in place (out starts as it). */
static float *run(const Case *t, gq_conv *c)
{
	float *out = nanbuf(t->nout), *scratch = nanbuf(gq_conv_scratch(c));
	gq_conv_set(c, t->w, t->b);
	if (t->add)
		memcpy(out, t->add, t->nout * sizeof *out);
	gq_conv_run_sum(c, out, t->in, t->add ? out : NULL, scratch);
	free(scratch);
	return out;
}

/* Inputs and filters in [-1, 1): a float32 sum of K terms is off by a few K ulps at most;
 * Winograd's transforms add a few times that. A wrong element or pixel is off by O(1). */
static void expect_near(const Case *t, const float *got, const float *want, const char *what)
{
	double tol = 2e-5 * (t->cin * t->L->k * t->L->k + 2);
	for (size_t i = 0; i < t->nout; i++) {
		if (fabs(got[i] - want[i]) <= tol) /* a passing ck_assert: a syscall (s29-ci) */
			continue;
		ck_assert_msg(fabs(got[i] - want[i]) <= tol,
		        "%s (%s, ng=%d elem0=%d, %s c=%d %dx%d cout=%d k=%d s=%d p=%d): out[%zu] = "
		        "%g, want %g",
		        what, gq_conv_kernel(), t->G->ng, t->G->elem[0],
		        t->L->lift ? "lift" : "gconv", t->L->c, t->L->h, t->L->w, t->L->cout,
		        t->L->k, t->L->s, t->L->p, i, got[i], want[i]);
	}
}

static gq_conv *new_orbit(const Case *t, bool relu)
{
	const Layer *L = t->L;
	return gq_conv_new_orbit(t->cin, L->h, L->w, t->cout, L->k, L->s, L->p, 1, relu, t->G->ng,
	        t->G->elem, L->lift);
}

/* The orbit against the naive conv and against the expanded plan. */
static void check_layer(const Layer *L, const Group *G, bool sum, bool relu)
{
	Case t;
	make_case(&t, L, G, sum, relu);
	gq_conv *o = new_orbit(&t, relu);
	ck_assert_msg(o != NULL, "no orbit for ng=%d %dx%d k=%d s=%d p=%d", G->ng, L->h, L->w, L->k,
	        L->s, L->p);
	ck_assert_int_eq(gq_conv_orbit(o), G->ng);
	gq_conv *e = gq_conv_new(t.cin, L->h, L->w, t.cout, L->k, L->s, L->p, 1, relu);
	ck_assert_int_eq(gq_conv_orbit(e), 0);
	float *got = run(&t, o), *exp = run(&t, e);
	expect_near(&t, got, t.ref, "orbit vs naive");
	expect_near(&t, got, exp, "orbit vs expanded plan");
	free(got);
	free(exp);
	gq_conv_free(o);
	gq_conv_free(e);
	free_case(&t);
}

/* Shapes where the grid is symmetric: odd sides at stride 2 with p = (k-1)/2. */
static const Layer layers[] = {
        {3, 7, 7, 2, 3, 1, 1, true},    /* a lift from RGB */
        {1, 9, 9, 3, 5, 2, 2, true},    /* a 5x5 lift, stride 2 */
        {3, 5, 5, 7, 3, 1, 1, false},   /* cout not a multiple of a panel */
        {5, 9, 9, 4, 3, 2, 1, false},   /* exact stride 2 */
        {6, 11, 11, 5, 1, 1, 0, false}, /* 1x1 */
        {4, 9, 9, 3, 1, 2, 0, false},   /* 1x1 stride 2: the shortcut's projection */
        {7, 6, 6, 9, 3, 1, 1, false},   /* even sides at stride 1 */
        {40, 8, 8, 40, 3, 1, 1, false}, /* deep: Winograd on the stacked copies */
        {2, 3, 3, 2, 3, 1, 0, false},   /* a one-pixel output */
        /* the moves' 8x8 blocks (transposed, reversed) and what is left of a side */
        {2, 19, 19, 3, 3, 1, 1, false},
        {3, 17, 17, 2, 3, 2, 1, true},
};
enum { NLAYERS = sizeof layers / sizeof layers[0] };

static const char *const kernel_names[] = {"avx512", "avx2", "c"};

START_TEST(every_subgroup_every_kernel)
{
	seed(14);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (int g = 0; g < NGROUPS; g++)
			for (int i = 0; i < NLAYERS; i++) {
				/* p4m's 8 copies of 40x8 channels: one kernel is enough */
				if (layers[i].c * groups[g].ng > 80 && kn < 2)
					continue;
				int v = (g + i + kn) % 4; /* residual and relu, all four ways */
				check_layer(&layers[i], &groups[g], v & 1, v & 2);
			}
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* Mirror-only groups on non-square maps: no element swaps the axes. */
START_TEST(non_square_mirror)
{
	static const Layer L[] = {{3, 7, 11, 4, 3, 1, 1, false}, {2, 9, 5, 3, 3, 2, 1, true},
	        {4, 5, 13, 3, 3, 2, 1, false}};
	seed(15);
	for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
		for (int g = 0; g < NGROUPS; g++)
			if (!swaps(&groups[g]))
				check_layer(&L[i], &groups[g], i & 1, true);
}
END_TEST

/* Two threads, each running half of the copies, on p4m and p4. */
START_TEST(two_threads)
{
	static const Layer L[] = {{32, 9, 9, 32, 3, 1, 1, false}, {16, 17, 17, 16, 3, 2, 1, false},
	        {3, 33, 33, 8, 3, 1, 1, true}, {16, 25, 25, 16, 3, 1, 1, false}};
	seed(16);
	gq_set_threads(2);
	for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
		check_layer(&L[i], &groups[NGROUPS - 1], true, true);
		check_layer(&L[i], &groups[5], i & 1, true);
	}
	gq_set_threads(1);
}
END_TEST

/* Where the orbit would not be exact there is none, and gq_conv_new_group falls back to
 * the expanded plan (still right). */
START_TEST(falls_back_where_not_exact)
{
	static const Layer L[] = {
	        {3, 8, 8, 2, 3, 2, 1, false},  /* stride 2 on an even side: grid not symmetric */
	        {3, 7, 9, 2, 3, 1, 1, false},  /* non-square under rotations */
	        {2, 10, 10, 2, 1, 2, 0, false} /* 1x1 stride 2, even side */
	};
	const Group *p4 = &groups[5];
	seed(17);
	for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
		Case t;
		make_case(&t, &L[i], p4, true, true);
		ck_assert_ptr_null(new_orbit(&t, true));
		gq_conv *c = gq_conv_new_group(t.cin, L[i].h, L[i].w, t.cout, L[i].k, L[i].s,
		        L[i].p, 1, true, p4->ng, p4->elem, false);
		ck_assert_ptr_nonnull(c);
		ck_assert_int_eq(gq_conv_orbit(c), 0);
		float *got = run(&t, c);
		expect_near(&t, got, t.ref, "fallback vs naive");
		free(got);
		gq_conv_free(c);
		free_case(&t);
	}
	/* not a group: {e, r} is not closed */
	static const int not_closed[] = {0, 1};
	ck_assert_ptr_null(gq_conv_new_orbit(4, 5, 5, 4, 3, 1, 1, 1, false, 2, not_closed, false));
	/* no identity */
	static const int no_e[] = {1, 3};
	ck_assert_ptr_null(gq_conv_new_orbit(4, 5, 5, 4, 3, 1, 1, 1, false, 2, no_e, false));
	/* channels that do not divide over the group */
	ck_assert_ptr_null(gq_conv_new_orbit(5, 5, 5, 4, 3, 1, 1, 1, false, 2, p4->elem, false));
}
END_TEST

/* GEQRT_ORBIT forces the choice either way; without it, the orbit runs where the memory
 * ceiling would cost the expanded conv its best algorithm, or where the expanded bank
 * would be huge; its bank is the identity's rows. */
START_TEST(choice_by_environment_and_memory_ceiling)
{
	const Group *p4m = &groups[NGROUPS - 1];
	setenv("GEQRT_ORBIT", "1", 1);
	gq_conv *o = gq_conv_new_group(16, 5, 5, 16, 3, 1, 1, 1, false, 8, p4m->elem, false);
	setenv("GEQRT_ORBIT", "0", 1);
	gq_set_memory_limit(1 << 20);
	gq_conv *e = gq_conv_new_group(256, 9, 9, 256, 3, 1, 1, 1, false, 8, p4m->elem, false);
	unsetenv("GEQRT_ORBIT");
	ck_assert_int_eq(gq_conv_orbit(o), 8);
	ck_assert_int_eq(gq_conv_orbit(e), 0);
	/* p4m-wide's last layer: 2.4 MB of filters, 9 MB as F(4x4) */
	gq_conv *big = gq_conv_new_group(512, 8, 8, 512, 3, 1, 1, 1, false, 8, p4m->elem, false);
	ck_assert_int_eq(gq_conv_orbit(big), 8);
	/* an eighth of the expanded filters, but for the rows that pad a panel */
	ck_assert_msg(gq_conv_bytes(big) * 7 < (size_t)512 * 512 * 9 * sizeof(float),
	        "orbit bank %zu", gq_conv_bytes(big));
	gq_set_memory_limit(0);
	gq_conv *free_run =
	        gq_conv_new_group(512, 8, 8, 512, 3, 1, 1, 1, false, 8, p4m->elem, false);
	ck_assert_int_eq(gq_conv_orbit(free_run), 0);
	/* without a ceiling, a layer whose expanded bank would pass 128 MB (147 MB as F(4x4)) */
	gq_conv *huge =
	        gq_conv_new_group(1024, 14, 14, 1024, 3, 1, 1, 1, false, 8, p4m->elem, false);
	ck_assert_int_eq(gq_conv_orbit(huge), 8);
	gq_conv_free(huge);
	gq_conv_free(o);
	gq_conv_free(e);
	gq_conv_free(big);
	gq_conv_free(free_run);
}
END_TEST

/* ResNet-44 p4m at 33x33 (widths 8, 16, 32: 64, 128, 256 planes), layer by layer, with
 * its 98 MB of expanded banks: the Winograd group at F(4x4) on the 3x3 layers on 17x17
 * and 9x9 (wino_group.c; its narrow form, ahead of the orbit there); the orbit nowhere:
 * not on 33x33 (1.6 times the work), nor for the stride-2 layers (their copies' gathers
 * and transforms), the 1x1 shortcuts or the lift; in a model whose banks stay in the
 * caches, neither. On every kernel: the rules count the work as the planner does for
 * each. */
START_TEST(orbits_where_banks_stream)
{
	static const struct {
		gq_conv_shape c;
		bool orbit, group;
	} resnet[] = {
	        {{3, 33, 33, 64, 3, 1, 1, 1, true, 8, NULL, true}, false, false},      /* lift */
	        {{64, 33, 33, 64, 3, 1, 1, 1, true, 8, NULL, false}, false, false},    /* stage 1 */
	        {{64, 33, 33, 128, 3, 2, 1, 1, true, 8, NULL, false}, false, false},   /* into 2 */
	        {{64, 33, 33, 128, 1, 2, 0, 1, false, 8, NULL, false}, false, false},  /* 1x1 */
	        {{128, 17, 17, 128, 3, 1, 1, 1, true, 8, NULL, false}, false, true},   /* stage 2 */
	        {{128, 17, 17, 256, 3, 2, 1, 1, true, 8, NULL, false}, false, false},  /* into 3 */
	        {{128, 17, 17, 256, 1, 2, 0, 1, false, 8, NULL, false}, false, false}, /* 1x1 */
	        {{256, 9, 9, 256, 3, 1, 1, 1, true, 8, NULL, false}, false, true},     /* stage 3 */
	};
	const Group *p4m = &groups[NGROUPS - 1];
	setenv("GEQRT_WINO3", "0", 1); /* AVX2's F(3x3) at 9x9: wino3_where_it_may_pay */
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (size_t i = 0; i < sizeof resnet / sizeof resnet[0]; i++) {
			gq_conv_shape c = resnet[i].c;
			c.elem = p4m->elem;
			gq_conv *model = gq_conv_new_in_model(&c, 98 << 20),
			        *cached = gq_conv_new_in_model(&c, 8 << 20);
			bool group = resnet[i].group;
			ck_assert_msg(gq_conv_orbit(model) == (resnet[i].orbit ? 8 : 0),
			        "%s: %d -> %d planes at %dx%d: orbit of %d", kernel_names[kn],
			        c.cin, c.cout, c.h, c.w, gq_conv_orbit(model));
			ck_assert_msg(gq_conv_wgroup(model) == (group ? 8 : 0),
			        "%s: %d -> %d planes at %dx%d: group of %d", kernel_names[kn],
			        c.cin, c.cout, c.h, c.w, gq_conv_wgroup(model));
			ck_assert_int_eq(gq_conv_orbit(cached), 0);
			gq_conv_free(model);
			gq_conv_free(cached);
		}
	}
	unsetenv("GEQRT_WINO3");
	gq_conv_use_kernel(NULL);
	/* a small bank (150 KB: p4's 32 planes at 9x9), even where 300 of them stream */
	gq_conv_shape deep = {32, 9, 9, 32, 3, 1, 1, 1, true, 4, groups[5].elem, false};
	gq_conv *deep_layer = gq_conv_new_in_model(&deep, 44 << 20);
	ck_assert_int_eq(gq_conv_orbit(deep_layer), 0);
	gq_conv_free(deep_layer);
	/* a convolution of no group is never one */
	gq_conv_shape plain = {256, 9, 9, 256, 3, 1, 1, 1, false, 0, NULL, false};
	gq_conv *c = gq_conv_new_in_model(&plain, 98 << 20);
	ck_assert_int_eq(gq_conv_orbit(c), 0);
	gq_conv_free(c);
}
END_TEST

typedef struct Nested {
	const Case *t;
	gq_conv *c;
	float *out;
} Nested;

static void run_on_thread0(void *ctx, int t, int n)
{
	Nested *j = ctx;
	if (t == 0)
		j->out = run(j->t, j->c);
}

/* A layer of p4m that the orbit (or the group at F(4x4)) pays for in a model whose banks
 * stream keeps the expanded plan too: the orbit (group) where two threads run the layer
 * (batch 1), the expanded plan where one does (an image of a serving batch, inside the
 * team; or one thread in all), bit for bit as gq_conv_new's (which rounds unlike the
 * orbit's base plan on its stacked copies, or the group's points). */
static void check_one_thread_plan(const Layer *L, bool group)
{
	const Group *p4m = &groups[NGROUPS - 1];
	Case t;
	make_case(&t, L, p4m, true, true);
	gq_conv_shape s = {t.cin, L->h, L->w, t.cout, 3, 1, 1, 1, true, 8, p4m->elem, false};
	gq_conv *c = gq_conv_new_in_model(&s, 98 << 20),
	        *e = gq_conv_new(t.cin, L->h, L->w, t.cout, 3, 1, 1, 1, true);
	ck_assert_int_eq(group ? gq_conv_wgroup(c) : gq_conv_orbit(c), 8);
	ck_assert_uint_gt(gq_conv_bytes(c), gq_conv_bytes(e));
	gq_set_threads(2);
	float *two = run(&t, c);
	Nested in_team = {&t, c, NULL};
	gq_parallel(2, run_on_thread0, &in_team);
	gq_set_threads(1);
	float *one = run(&t, c), *exp = run(&t, e);
	size_t bytes = t.nout * sizeof(float);
	expect_near(&t, two, t.ref, "orbit or group on two threads vs naive");
	ck_assert_msg(memcmp(two, exp, bytes) != 0, "two threads ran the expanded plan");
	ck_assert_msg(!memcmp(in_team.out, exp, bytes), "inside the team: not the expanded plan");
	ck_assert_msg(!memcmp(one, exp, bytes), "one thread: not the expanded plan");
	free(two);
	free(in_team.out);
	free(one);
	free(exp);
	gq_conv_free(c);
	gq_conv_free(e);
	free_case(&t);
}

/* The orbit where the group is not asked for (GEQRT_WGROUP=0: the group's narrow form
 * runs that layer by default), and the group, narrow, on 16 and 32 base channels (their
 * threads split the elements or the channels). */
START_TEST(expanded_plan_for_one_thread)
{
	static const Layer orbit = {32, 9, 9, 32, 3, 1, 1, false},
	                   group = {16, 17, 17, 16, 3, 1, 1, false};
	setenv("GEQRT_WINO3", "0", 1); /* AVX2's F(3x3) at 9x9: wino3_where_it_may_pay */
	for (int kn = 0; kn < 2; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		seed(18);
		setenv("GEQRT_WGROUP", "0", 1);
		check_one_thread_plan(&orbit, false);
		unsetenv("GEQRT_WGROUP");
		check_one_thread_plan(&group, true);
		check_one_thread_plan(&orbit, true);
	}
	unsetenv("GEQRT_WINO3");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* ---- the group in the Winograd domain (wino_group.c) ---- */

static gq_conv *new_wgroup(const Case *t, bool relu, int algo)
{
	const Layer *L = t->L;
	gq_conv_shape s = {t->cin, L->h, L->w, t->cout, L->k, L->s, L->p, 1, relu, t->G->ng,
	        t->G->elem, L->lift};
	return gq_conv_new_wgroup(&s, algo, false);
}

/* The group plan in form algo against the naive conv, on threads threads; its products on
 * the narrow kernel where GEQRT_WGNARROW is 1. */
static void check_wgroup(const Layer *L, const Group *G, bool sum, bool relu, int threads, int algo)
{
	Case t;
	make_case(&t, L, G, sum, relu);
	gq_conv *c = new_wgroup(&t, relu, algo);
	ck_assert_msg(c != NULL, "no group plan for ng=%d c=%d %dx%d", G->ng, L->c, L->h, L->w);
	ck_assert_int_eq(gq_conv_wgroup(c), G->ng);
	const char *narrow = getenv("GEQRT_WGNARROW");
	if (narrow)
		ck_assert_int_eq(gq_conv_narrow(c), !strcmp(narrow, "1"));
	ck_assert_str_eq(gq_conv_algo(c), algo == GQ_CONV_WINO2     ? "winograd2"
	                                  : algo == GQ_CONV_WINO4R  ? "winograd4r"
	                                  : algo == GQ_CONV_WINO3R  ? "winograd3r"
	                                  : algo == GQ_CONV_WINO5R  ? "winograd5r"
	                                  : algo == GQ_CONV_WINO2S2 ? "winograd2s2"
	                                                            : "winograd6");
	gq_set_threads(threads);
	float *got = run(&t, c);
	gq_set_threads(1);
	expect_near(&t, got, t.ref, "Winograd group vs naive");
	free(got);
	gq_conv_free(c);
	free_case(&t);
}

/* The forms of layer L on group G to check (the first n of algo), x a number that
 * varies with the layer, group and kernel. */
typedef int forms_fn(const Layer *L, const Group *G, int x, int *algo);

/* check_wgroup on every kernel, every subgroup, each of the n layers L in each form that
 * forms gives, residual and relu all four ways, 1-3 threads; the products on the narrow
 * kernel or the wide one. */
static void check_wgroups(const Layer *L, size_t n, bool narrow, forms_fn *forms)
{
	setenv("GEQRT_WGNARROW", narrow ? "1" : "0", 1);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (int g = 0; g < NGROUPS; g++)
			for (size_t i = 0; i < n; i++) {
				int v = (int)(g + i + kn) % 4, algo[5];
				int nf = forms(&L[i], &groups[g], (int)(g + i + kn), algo);
				for (int f = 0; f < nf; f++)
					check_wgroup(&L[i], &groups[g], v & 1, v & 2,
					        1 + (int)(g + i + f) % 3, algo[f]);
			}
	}
	unsetenv("GEQRT_WGNARROW");
	gq_conv_use_kernel(NULL);
}

static int every_form(const Layer *L, const Group *G, int x, int *algo)
{
	algo[0] = GQ_CONV_WINO2;
	algo[1] = GQ_CONV_WINO4R;
	algo[2] = GQ_CONV_WINO6;
	algo[3] = GQ_CONV_WINO3R;
	algo[4] = GQ_CONV_WINO5R;
	return 5;
}

/* Odd shapes: base channels not a multiple of a panel, 5x7 and 7x5 maps (not square: the
 * plan needs no symmetry of the map), a map of one tile, enough tiles for several halves
 * of a vector, several K blocks; every form (F(2x2), F(3x3), F(4x4) and F(5x5) on
 * reciprocal points, F(6x6)), every
 * subgroup, every kernel, 1-3 threads, residual and relu all four ways. */
START_TEST(wgroup_every_subgroup_every_kernel)
{
	static const Layer L[] = {
	        {3, 5, 7, 5, 3, 1, 1, false},
	        {5, 7, 5, 3, 3, 1, 1, false},
	        {7, 2, 2, 7, 3, 1, 1, false},
	        {2, 11, 13, 3, 3, 1, 0, false},
	        {40, 8, 8, 13, 3, 1, 1, false},
	        {70, 6, 6, 9, 3, 1, 1, false},
	};
	seed(19);
	check_wgroups(L, sizeof L / sizeof L[0], false, every_form);
}
END_TEST

/* The wide form's products read B's two halves from the transformed input in place
 * (ggemm_fn), each half at its element's point with its slots permuted: ResNet-18's shapes
 * cut down (16 tiles at 8x8 by F(2x2) and at 15x15 by F(4x4): one element a half on
 * AVX-512, two on AVX2), maps whose elements' halves pair across elements (49 tiles at
 * 13x13 by F(2x2)), a last half alone (gemm1 on a gathered panel: C2's halves of one
 * element), several K blocks (p4m's 320 planes); every kernel, 1 and 2 threads. */
START_TEST(wgroup_wide_halves_in_place)
{
	static const Layer L[] = {
	        {16, 8, 8, 16, 3, 1, 1, false},
	        {16, 15, 15, 12, 3, 1, 1, false},
	        {9, 13, 13, 7, 3, 1, 1, false},
	        {40, 8, 8, 11, 3, 1, 1, false},
	};
	static const int gs[] = {5, 0, NGROUPS - 1, 7};
	seed(23);
	setenv("GEQRT_WGNARROW", "0", 1);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
			for (int g = 0; g < 4; g++)
				for (int th = 1; th <= 2; th++)
					check_wgroup(&L[i], &groups[gs[g]], (g + th) % 2, th == 2,
					        th, L[i].h == 15 ? GQ_CONV_WINO4R : GQ_CONV_WINO2);
	}
	unsetenv("GEQRT_WGNARROW");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* F(4x4) on reciprocal points, F(5x5) on reciprocal points, and F(2x2) or F(6x6) in
 * turn, and F(3x3) on reciprocal points, but at 25x25 (F(4x4) and F(5x5) only, and not on
 * p4m: its block there passes 2 GROUP_M). */
static int narrow_forms(const Layer *L, const Group *G, int x, int *algo)
{
	if (L->h == 25 && G->ng > 4)
		return 0;
	algo[0] = GQ_CONV_WINO4R;
	algo[1] = GQ_CONV_WINO5R;
	algo[2] = x % 2 ? GQ_CONV_WINO6 : GQ_CONV_WINO2;
	algo[3] = GQ_CONV_WINO3R;
	return L->h == 25 ? 2 : 4;
}

/* The narrow form (wino_group_narrow; GEQRT_WGNARROW=1): each element's tiles broadcast
 * in calls of up to the kernel's rows, maps of 1 (4x4, 5x7, 3x3), 9 (9x9), 25 (17x17) and 49
 * (25x25: two panels of tiles on AVX-512, four on AVX2) tiles at F(4x4), base channels
 * below, at and past a panel of 2V (32 on AVX-512, 16 on AVX2 and 32 in C), input
 * channels past KC (40 planes a slot on p4m: 320); every subgroup, every kernel, every
 * form, 1-3 threads (by elements or by base channels), residual and relu. */
START_TEST(wgroup_narrow_every_subgroup_every_kernel)
{
	static const Layer L[] = {
	        {3, 4, 4, 33, 3, 1, 1, false},
	        {5, 7, 5, 16, 3, 1, 1, false},
	        {6, 3, 3, 17, 3, 1, 1, false},
	        {40, 9, 9, 32, 3, 1, 1, false},
	        {6, 17, 17, 7, 3, 1, 1, false},
	        {4, 25, 25, 32, 3, 1, 1, false},
	};
	seed(21);
	check_wgroups(L, sizeof L / sizeof L[0], true, narrow_forms);
}
END_TEST

/* The narrow form with an element and its partner in each vector (group_paired: the
 * base channels fit one vector; the pairs (a, a h) of an element h of order 2 split
 * between the threads, pairs of pairs): against the naive conv on 1-3 threads, and one
 * thread's floats against two's bit for bit, on every kernel and subgroup, at 9 (9x9), 25
 * (17x17: a partial last panel on AVX2), 49 (25x25: two panels on AVX-512) and one (4x4)
 * tile, base channels odd, below and at a vector, in F(4x4) and F(2x2); C2's one pair,
 * which would leave a thread idle, and GEQRT_WGPAIR=0 run unpaired. */
static void check_paired(const Layer *L, const Group *G, int algo, int threads)
{
	Case t;
	make_case(&t, L, G, G->ng == 4, true);
	gq_conv *c = new_wgroup(&t, true, algo);
	ck_assert_ptr_nonnull(c);
	int v = !strcmp(gq_conv_kernel(), "avx2") ? 8 : 16;
	const char *env = getenv("GEQRT_WGPAIR");
	bool paired = L->cout <= v && G->ng >= 4 && !(env && !strcmp(env, "0"));
	ck_assert_msg(gq_conv_wgroup_paired(c) == paired, "%s: paired %d, want %d (ng=%d base=%d)",
	        gq_conv_kernel(), gq_conv_wgroup_paired(c), paired, G->ng, L->cout);
	float *one = run(&t, c);
	expect_near(&t, one, t.ref, "paired Winograd group, one thread, vs naive");
	gq_set_threads(threads);
	float *more = run(&t, c);
	gq_set_threads(1);
	ck_assert_msg(!memcmp(one, more, t.nout * sizeof(float)),
	        "paired: %d threads differ from one (ng=%d c=%d %dx%d)", threads, G->ng, L->c, L->h,
	        L->w);
	free(one);
	free(more);
	gq_conv_free(c);
	free_case(&t);
}

START_TEST(wgroup_paired)
{
	static const Layer L[] = {
	        {3, 9, 9, 16, 3, 1, 1, false},
	        {6, 17, 17, 7, 3, 1, 1, false},
	        {4, 25, 25, 8, 3, 1, 1, false},
	        {5, 4, 4, 5, 3, 1, 1, false},
	        {9, 7, 5, 8, 3, 1, 1, false},
	};
	seed(23);
	setenv("GEQRT_WGNARROW", "1", 1);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (int g = 0; g < NGROUPS; g++)
			for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
				if (L[i].h == 25 && groups[g].ng > 4)
					continue; /* its block passes 2 GROUP_M */
				int x = (int)(g + i + kn);
				check_paired(&L[i], &groups[g],
				        x % 3 == 2 ? GQ_CONV_WINO3R
				        : x % 2    ? GQ_CONV_WINO2
				                   : GQ_CONV_WINO4R,
				        2 + x % 2);
			}
		setenv("GEQRT_WGPAIR", "0", 1);
		check_paired(&L[1], &groups[NGROUPS - 1], GQ_CONV_WINO4R, 2);
		unsetenv("GEQRT_WGPAIR");
	}
	unsetenv("GEQRT_WGNARROW");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The narrow form where an element's tiles fill at most half a vector (4 tiles: 8x8 and
 * 7x7 maps at F(4x4) and F(6x6), 3x3 at F(2x2), 6x6 at F(3x3)): each call's rows several
 * elements' tiles (gq_wgroup_mixed), gathered for each base point into B; against the naive
 * conv on one thread, and two and three threads' floats (with points taken by the other
 * thread) bit for bit one's, base channels odd and past a panel of 2V, residual and relu;
 * every kernel, every subgroup; GEQRT_WGMIXED=0 runs an element a call. */
static void check_mixed(const Layer *L, const Group *G, int algo, bool mixed)
{
	Case t;
	make_case(&t, L, G, G->ng != 2, true);
	gq_conv *c = new_wgroup(&t, true, algo);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(gq_conv_narrow(c), 1);
	gq_conv_shape s = {t.cin, L->h, L->w, t.cout, 3, 1, 1, 1, true, G->ng, G->elem, false};
	ck_assert_msg(gq_wgroup_mixed(&s, algo) == mixed, "%s ng=%d %dx%d: mixed %d, want %d",
	        gq_conv_kernel(), G->ng, L->h, L->w, !mixed, mixed);
	float *one = run(&t, c);
	expect_near(&t, one, t.ref, "mixed Winograd group, one thread, vs naive");
	int a = algo == GQ_CONV_WINO2    ? 4
	        : algo == GQ_CONV_WINO3R ? 5
	        : algo == GQ_CONV_WINO4R ? 6
	        : algo == GQ_CONV_WINO5R ? 7
	                                 : 8;
	for (int threads = 2; threads <= 3; threads++) {
		gq_set_threads(threads);
		gq_conv_wgroup_steal(threads == 2 ? 1 : a * a - 1);
		float *more = run(&t, c);
		ck_assert_msg(!memcmp(one, more, t.nout * sizeof(float)),
		        "mixed: %d threads differ from one (%s ng=%d c=%d %dx%d)", threads,
		        gq_conv_kernel(), G->ng, L->c, L->h, L->w);
		free(more);
	}
	gq_conv_wgroup_steal(0);
	gq_set_threads(1);
	free(one);
	gq_conv_free(c);
	free_case(&t);
}

START_TEST(wgroup_mixed)
{
	static const Layer L[] = {
	        {9, 8, 8, 17, 3, 1, 1, false},
	        {5, 7, 7, 40, 3, 1, 1, false},
	        {6, 3, 3, 33, 3, 1, 1, false},
	        {3, 8, 8, 18, 3, 1, 1, false},
	        {4, 6, 6, 33, 3, 1, 1, false},
	};
	static const int algo[] = {
	        GQ_CONV_WINO4R, GQ_CONV_WINO6, GQ_CONV_WINO2, GQ_CONV_WINO4R, GQ_CONV_WINO3R};
	seed(24);
	setenv("GEQRT_WGNARROW", "1", 1);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (int g = 0; g < NGROUPS; g++)
			for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
				check_mixed(&L[i], &groups[g], algo[i], true);
		setenv("GEQRT_WGMIXED", "0", 1);
		check_mixed(&L[0], &groups[NGROUPS - 1], GQ_CONV_WINO4R, false);
		check_mixed(&L[1], &groups[5], GQ_CONV_WINO6, false);
		unsetenv("GEQRT_WGMIXED");
	}
	unsetenv("GEQRT_WGNARROW");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The narrow form where an element's tiles fill more than half a vector but run calls
 * shorter than the kernel's (9 at 9x9 by F(3x3) and F(4x4)): calls on the tiles of two
 * elements in place (gq_conv_wgroup_packed; by default where an element's tiles took two
 * calls, AVX2's, GEQRT_WGPACK=1 on every kernel), the same sums as an element a call:
 * against the naive conv on one thread, GEQRT_WGPACK=0's floats bit for bit, and two and
 * three threads' (with points taken by the other thread) bit for bit one's; base channels
 * odd and past a panel of 2V (by elements and by base channels), residual and relu; every
 * kernel, every subgroup (packed on p4m; elsewhere where the calls are fewer), and 6x6 and
 * 3x3 maps, which run mixed, not packed. */
static void check_packed(const Layer *L, const Group *G, int algo, bool sum)
{
	Case t;
	make_case(&t, L, G, sum, true);
	gq_conv *d = new_wgroup(&t, true, algo);
	ck_assert_ptr_nonnull(d);
	bool avx2 = !strcmp(gq_conv_kernel(), "avx2");
	if (G->ng == 8)
		ck_assert_msg(gq_conv_wgroup_packed(d) == (L->h == 9 && avx2),
		        "%s ng=%d c=%d %dx%d: packed %d by default", gq_conv_kernel(), G->ng,
		        L->cout, L->h, L->w, gq_conv_wgroup_packed(d));
	gq_conv_free(d);
	setenv("GEQRT_WGPACK", "1", 1);
	gq_conv *c = new_wgroup(&t, true, algo);
	unsetenv("GEQRT_WGPACK");
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(gq_conv_narrow(c), 1);
	if (G->ng == 8)
		ck_assert_msg(gq_conv_wgroup_packed(c) == (L->h == 9),
		        "%s ng=%d c=%d %dx%d: packed %d", gq_conv_kernel(), G->ng, L->cout, L->h,
		        L->w, gq_conv_wgroup_packed(c));
	float *one = run(&t, c);
	expect_near(&t, one, t.ref, "packed Winograd group, one thread, vs naive");
	setenv("GEQRT_WGPACK", "0", 1);
	gq_conv *u = new_wgroup(&t, true, algo);
	unsetenv("GEQRT_WGPACK");
	ck_assert_int_eq(gq_conv_wgroup_packed(u), 0);
	float *unpacked = run(&t, u);
	ck_assert_msg(!memcmp(one, unpacked, t.nout * sizeof(float)),
	        "packed: not the floats of an element a call (%s ng=%d c=%d %dx%d)",
	        gq_conv_kernel(), G->ng, L->cout, L->h, L->w);
	int a = algo == GQ_CONV_WINO3R ? 5 : 6;
	for (int threads = 2; threads <= 3; threads++) {
		gq_set_threads(threads);
		gq_conv_wgroup_steal(threads == 2 ? 1 : a * a - 1);
		float *more = run(&t, c);
		ck_assert_msg(!memcmp(one, more, t.nout * sizeof(float)),
		        "packed: %d threads differ from one (%s ng=%d c=%d %dx%d)", threads,
		        gq_conv_kernel(), G->ng, L->cout, L->h, L->w);
		free(more);
	}
	gq_conv_wgroup_steal(0);
	gq_set_threads(1);
	free(one);
	free(unpacked);
	gq_conv_free(c);
	gq_conv_free(u);
	free_case(&t);
}

START_TEST(wgroup_packed)
{
	static const Layer L[] = {
	        {7, 9, 9, 17, 3, 1, 1, false},
	        {5, 9, 9, 33, 3, 1, 1, false},
	        {3, 9, 9, 17, 3, 1, 1, false},
	        {5, 6, 6, 17, 3, 1, 1, false},
	        {3, 3, 3, 19, 3, 1, 1, false},
	};
	static const int algo[] = {
	        GQ_CONV_WINO3R, GQ_CONV_WINO3R, GQ_CONV_WINO4R, GQ_CONV_WINO3R, GQ_CONV_WINO3R};
	seed(25);
	setenv("GEQRT_WGNARROW", "1", 1);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (int g = 0; g < NGROUPS; g++)
			for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
				check_packed(&L[i], &groups[g], algo[i], (g + i) % 2);
	}
	unsetenv("GEQRT_WGNARROW");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The narrow form's two threads each on all the elements of a range of tiles
 * (gq_conv_wgroup_tiles; by default where they would split the elements and the tiles fill
 * two panels of 2V, GEQRT_WGTILES=1 wherever they split the elements): each pads and
 * transforms its own tiles, and a thread done with its range takes the other's last points
 * from the other's transformed input (GEQRT_WGSTEAL=1; by default only the points taken
 * first, gq_conv_wgroup_steal). Against the naive conv on one thread, the floats of
 * the elements' halves (GEQRT_WGTILES=0) bit for bit, and two and three threads' (none,
 * one, all but one and every point taken) bit for bit one's; 49 tiles at 25x25 (the
 * default there on AVX-512 and C; on AVX2 its base channels split the panels), odd tile
 * counts and odd maps, several panels of tiles, base channels odd, below and at a panel,
 * residual and relu; every kernel, every subgroup, every form. */
static void check_tiles(const Layer *L, const Group *G, int algo, bool sum)
{
	Case t;
	make_case(&t, L, G, sum, true);
	gq_conv *d = new_wgroup(&t, true, algo);
	ck_assert_ptr_nonnull(d);
	bool wide = strcmp(gq_conv_kernel(), "avx2");
	if (L->h == 25 && L->cout == 32 && (algo == GQ_CONV_WINO4R || algo == GQ_CONV_WINO5R))
		ck_assert_msg(gq_conv_wgroup_tiles(d) == wide, "%s ng=%d 25x25: by tiles %d",
		        gq_conv_kernel(), G->ng, gq_conv_wgroup_tiles(d));
	setenv("GEQRT_WGTILES", "1", 1);
	gq_conv *c = new_wgroup(&t, true, algo);
	setenv("GEQRT_WGSTEAL", "1", 1);
	gq_conv *st = new_wgroup(&t, true, algo);
	unsetenv("GEQRT_WGSTEAL");
	setenv("GEQRT_WGTILES", "0", 1);
	gq_conv *u = new_wgroup(&t, true, algo);
	unsetenv("GEQRT_WGTILES");
	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(gq_conv_wgroup_tiles(u), 0);
	bool tiles = gq_conv_wgroup_tiles(c);
	float *one = run(&t, c);
	expect_near(&t, one, t.ref, "Winograd group by tiles, one thread, vs naive");
	gq_set_threads(2);
	float *halves = run(&t, u);
	ck_assert_msg(!memcmp(one, halves, t.nout * sizeof(float)),
	        "by tiles (%d): not the floats of the elements' halves (%s ng=%d c=%d %dx%d)",
	        tiles, gq_conv_kernel(), G->ng, L->cout, L->h, L->w);
	int a = algo == GQ_CONV_WINO2    ? 4
	        : algo == GQ_CONV_WINO3R ? 5
	        : algo == GQ_CONV_WINO4R ? 6
	        : algo == GQ_CONV_WINO5R ? 7
	                                 : 8;
	const int steals[] = {0, 1, a * a - 1, a * a};
	for (int i = 0; i < 5; i++) {
		gq_set_threads(i < 4 ? 2 : 3);
		gq_conv_wgroup_steal(steals[i % 4]);
		/* by tiles a thread done first takes none of the other's points after its own
		 * (group_steals), unless GEQRT_WGSTEAL=1 (st) */
		for (int p = 0; p < 2; p++) {
			float *more = run(&t, p ? st : c);
			ck_assert_msg(!memcmp(one, more, t.nout * sizeof(float)),
			        "by tiles (%d)%s: %d threads, %d points taken first, differ from "
			        "one (%s ng=%d c=%d %dx%d)",
			        tiles, p ? ", steals after its points" : "", i < 4 ? 2 : 3,
			        steals[i % 4], gq_conv_kernel(), G->ng, L->cout, L->h, L->w);
			free(more);
		}
	}
	gq_conv_wgroup_steal(0);
	gq_set_threads(1);
	free(one);
	free(halves);
	gq_conv_free(st);
	gq_conv_free(c);
	gq_conv_free(u);
	gq_conv_free(d);
	free_case(&t);
}

/* Thread 1's part of scratch in its own buffer (gq_conv_wgroup_own) where it fits, in the
 * caller's scratch after thread 0's where it does not or GEQRT_WGOWN=0: two threads' floats
 * bit for bit the same either way, with none, one and all but one of the other half's
 * points taken first, and near the naive conv; the wide form (256 planes of p4m at 15x15,
 * F(4x4), two K blocks), the narrow one paired (17x17), packed or not (9x9, F(3x3)), by
 * tiles (25x25, p4), stride 2 (15x15 to 8x8), and 384 planes of p4m at 15x15, whose part
 * passes the worker's buffer on AVX-512 and C (panels of 32 tiles); every kernel, residual
 * and relu. */
static void check_own(const Layer *L, const Group *G, int algo, bool narrow, bool fits)
{
	Case t;
	make_case(&t, L, G, L->h % 2, true);
	setenv("GEQRT_WGNARROW", narrow ? "1" : "0", 1);
	gq_conv *c = new_wgroup(&t, true, algo);
	setenv("GEQRT_WGOWN", "0", 1);
	gq_conv *u = new_wgroup(&t, true, algo);
	unsetenv("GEQRT_WGOWN");
	unsetenv("GEQRT_WGNARROW");
	ck_assert_msg(c && u, "%s c=%d %dx%d: no plan", gq_conv_kernel(), L->c, L->h, L->w);
	ck_assert_msg(gq_conv_wgroup_own(c) == fits, "%s c=%d %dx%d: own part %d", gq_conv_kernel(),
	        L->c, L->h, L->w, gq_conv_wgroup_own(c));
	ck_assert(!gq_conv_wgroup_own(u));
	int a = algo == GQ_CONV_WINO3R ? 5 : algo == GQ_CONV_WINO2S2 ? 5 : 6;
	const int steals[] = {0, 1, a * a - 1};
	gq_set_threads(2);
	for (int i = 0; i < 3; i++) {
		gq_conv_wgroup_steal(steals[i]);
		float *own = run(&t, c), *shared = run(&t, u);
		expect_near(&t, own, t.ref, "Winograd group, thread 1's own part, vs naive");
		ck_assert_msg(!memcmp(own, shared, t.nout * sizeof(float)),
		        "own part: differs from the caller's scratch (%s c=%d %dx%d, %d taken)",
		        gq_conv_kernel(), L->c, L->h, L->w, steals[i]);
		free(own);
		free(shared);
	}
	gq_conv_wgroup_steal(0);
	gq_set_threads(1);
	gq_conv_free(c);
	gq_conv_free(u);
	free_case(&t);
}

START_TEST(wgroup_own_part)
{
	static const Layer L[] = {
	        {32, 15, 15, 32, 3, 1, 1, false}, /* wide */
	        {16, 17, 17, 16, 3, 1, 1, false}, /* narrow, paired */
	        {32, 9, 9, 32, 3, 1, 1, false},   /* narrow, F(3x3) */
	        {4, 25, 25, 32, 3, 1, 1, false},  /* narrow by tiles (p4) */
	        {32, 15, 15, 64, 3, 2, 1, false}, /* stride 2 */
	        {48, 15, 15, 48, 3, 1, 1, false}, /* its part passes the worker's buffer */
	};
	static const int algo[] = {GQ_CONV_WINO4R, GQ_CONV_WINO4R, GQ_CONV_WINO3R, GQ_CONV_WINO4R,
	        GQ_CONV_WINO2S2, GQ_CONV_WINO4R};
	static const bool narrow[] = {false, true, true, true, false, false};
	seed(31);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
			bool fits =
			        i + 1 < sizeof L / sizeof L[0] || !strcmp(gq_conv_kernel(), "avx2");
			check_own(
			        &L[i], &groups[i == 3 ? 5 : NGROUPS - 1], algo[i], narrow[i], fits);
		}
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

START_TEST(wgroup_tiles)
{
	static const Layer L[] = {
	        {4, 25, 25, 32, 3, 1, 1, false},
	        {3, 25, 25, 9, 3, 1, 1, false},
	        {5, 13, 11, 9, 3, 1, 1, false},
	        {6, 9, 9, 17, 3, 1, 1, false},
	        {3, 5, 8, 7, 3, 1, 1, false},
	        {2, 11, 13, 16, 3, 1, 0, false},
	};
	static const int forms[] = {
	        GQ_CONV_WINO4R, GQ_CONV_WINO2, GQ_CONV_WINO6, GQ_CONV_WINO3R, GQ_CONV_WINO5R};
	seed(26);
	setenv("GEQRT_WGNARROW", "1", 1);
	setenv("GEQRT_WGPAIR", "0", 1);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (int g = 0; g < NGROUPS; g++)
			for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
				if (L[i].h == 25 && groups[g].ng > 4)
					continue; /* its block passes 2 GROUP_M */
				int f = i < 2 ? (int)(g + kn) % 2 * 4 : (int)(g + i + kn) % 5;
				check_tiles(&L[i], &groups[g], forms[f], (g + i) % 2);
			}
	}
	unsetenv("GEQRT_WGPAIR");
	unsetenv("GEQRT_WGNARROW");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* A thread done with its half takes the other half's last Winograd points
 * (gq_conv_wgroup_steal forces it: each thread first takes that many): on two threads the
 * same floats as on one, bit for bit, whether one point, all but one (the owner computes a
 * range of one; a thread never takes the last one), or none is taken; wide and narrow, by elements
 * (few base channels) and by base channels, odd channel counts, several K blocks, every form. */
static void check_steals(const Layer *L, const Group *G, bool narrow, int algo)
{
	int a = algo == GQ_CONV_WINO2    ? 4
	        : algo == GQ_CONV_WINO3R ? 5
	        : algo == GQ_CONV_WINO4R ? 6
	        : algo == GQ_CONV_WINO5R ? 7
	                                 : 8;
	const int steals[] = {1, a * a - 1, a * a, 0};
	Case t;
	setenv("GEQRT_WGNARROW", narrow ? "1" : "0", 1);
	make_case(&t, L, G, true, true);
	gq_conv *c = new_wgroup(&t, true, algo);
	ck_assert_ptr_nonnull(c);
	float *one = run(&t, c);
	expect_near(&t, one, t.ref, "Winograd group, one thread, vs naive");
	gq_set_threads(2);
	for (int i = 0; i < 4; i++) {
		gq_conv_wgroup_steal(steals[i]);
		float *two = run(&t, c);
		ck_assert_msg(!memcmp(one, two, t.nout * sizeof(float)),
		        "%d points taken: two threads differ from one (ng=%d c=%d %dx%d)",
		        steals[i], G->ng, L->c, L->h, L->w);
		free(two);
	}
	gq_conv_wgroup_steal(0);
	gq_set_threads(1);
	unsetenv("GEQRT_WGNARROW");
	free(one);
	gq_conv_free(c);
	free_case(&t);
}

START_TEST(wgroup_steal_points)
{
	static const Layer L[] = {
	        {5, 7, 5, 3, 3, 1, 1, false},   /* one panel: by elements */
	        {3, 9, 9, 17, 3, 1, 1, false},  /* 17 base channels */
	        {40, 8, 8, 13, 3, 1, 1, false}, /* several K blocks on p4m */
	        {6, 17, 17, 7, 3, 1, 1, false},
	        {7, 6, 6, 50, 3, 1, 1, false}, /* 9 panels (2 narrow): by channels */
	};
	static const int forms[] = {
	        GQ_CONV_WINO2, GQ_CONV_WINO4R, GQ_CONV_WINO6, GQ_CONV_WINO3R, GQ_CONV_WINO5R};
	seed(22);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (size_t i = 0; i < sizeof L / sizeof L[0]; i++)
			for (int narrow = 0; narrow < 2; narrow++) {
				const Group *G = &groups[(i + kn) % 2 ? NGROUPS - 1 : 5];
				check_steals(&L[i], G, narrow, forms[(i + narrow + kn) % 5]);
			}
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* One thread runs both halves of the base channels that two threads share: the same
 * floats, bit for bit. Stride 2, a lift, 1x1 filters, channels that do not divide over
 * the group and a group without its identity get no group plan. */
START_TEST(wgroup_threads_and_where_it_applies)
{
	static const Layer L = {24, 9, 9, 24, 3, 1, 1, false};
	const Group *p4 = &groups[5];
	Case t;
	seed(20);
	make_case(&t, &L, p4, true, true);
	gq_conv *c = new_wgroup(&t, true, GQ_CONV_AUTO);
	float *one = run(&t, c);
	gq_set_threads(2);
	float *two = run(&t, c);
	gq_set_threads(1);
	ck_assert_msg(!memcmp(one, two, t.nout * sizeof(float)), "two threads differ from one");
	expect_near(&t, two, t.ref, "Winograd group on two threads vs naive");
	free(one);
	free(two);
	gq_conv_free(c);
	free_case(&t);
	static const int no_e[] = {1, 3};
	gq_conv_shape no[] = {
	        {16, 9, 9, 16, 3, 3, 1, 1, false, 4, p4->elem, false}, /* stride 3 */
	        {3, 9, 9, 16, 3, 1, 1, 1, false, 4, p4->elem, true},   /* a lift */
	        {16, 9, 9, 16, 1, 1, 0, 1, false, 4, p4->elem, false}, /* 1x1 */
	        {18, 9, 9, 16, 3, 1, 1, 1, false, 4, p4->elem, false}, /* 18 planes on p4 */
	        {16, 9, 9, 16, 3, 1, 1, 1, false, 2, no_e, false},     /* no identity */
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_ptr_null(gq_conv_new_wgroup(&no[i], GQ_CONV_AUTO, false));
}
END_TEST

/* The choice (wino_group.c's FORMS), in a model whose banks stream: F(2x2) where the
 * expanded plan runs F(2x2) too (the same multiply-adds) on a bank of 4 MB or more (the
 * wide p4m model's last layer, ResNet-18 p4's stage 4); F(4x4) on reciprocal points where
 * its work is within 15% of the expanded plan's on a bank of 2 MB or more (ResNet-18's
 * stage 3, ResNet-44 p4m's stage 2, the wide model's 256 planes at 15x15), and in its
 * narrow form where an element's tiles leave its vectors part empty (ResNet-44 p4m's
 * stages 2 and 3 at 17x17 and 9x9, ResNet-44 p4's stage 3 at 25x25); neither where the
 * banks stay in the caches; the stride-2 F(2x2) form on a stride-2 layer whose expanded
 * bank is 4 MB or more (ResNet-18 p4's 256 -> 512 planes at 15x15; not on AVX2). Its bank: the
 * identity's rows of the form's, padded to panels of 6 (of 8 on AVX-512, the base channels being
 * multiples of 8; narrow, of 2V), with the expanded bank beside it where it keeps the expanded plan
 * for one thread. GEQRT_WGROUP=1 wherever it applies, 0 never. */
static const int p4m[] = {0, 1, 2, 3, 4, 5, 6, 7}, p4[] = {0, 1, 2, 3};
static const struct {
	gq_conv_shape c;
	int ng;
	const char *algo;
	bool narrow;
} wshapes[] = {
        {{512, 8, 8, 512, 3, 1, 1, 1, true, 8, p4m, false}, 8, "winograd2", false},
        {{512, 8, 8, 512, 3, 1, 1, 1, false, 4, p4, false}, 4, "winograd2", false},
        {{256, 15, 15, 256, 3, 1, 1, 1, true, 4, p4, false}, 4, "winograd4r", false},
        {{256, 15, 15, 256, 3, 1, 1, 1, true, 8, p4m, false}, 8, "winograd4r", false},
        {{128, 17, 17, 128, 3, 1, 1, 1, true, 8, p4m, false}, 8, "winograd4r", true},
        {{256, 9, 9, 256, 3, 1, 1, 1, true, 8, p4m, false}, 8, "winograd4r", true},
        {{128, 25, 25, 128, 3, 1, 1, 1, true, 4, p4, false}, 4, "winograd4r", true},
        {{256, 15, 15, 512, 3, 2, 1, 1, true, 4, p4, false}, 4, "winograd2s2", false}, /* s=2 */
        {{128, 8, 8, 128, 3, 1, 1, 1, true, 4, p4, false}, 0, NULL, false},            /* 1 MB */
};

static void check_wgroup_choices(void)
{
	for (size_t i = 0; i < sizeof wshapes / sizeof wshapes[0]; i++) {
		const gq_conv_shape *c = &wshapes[i].c;
		gq_conv *model = gq_conv_new_in_model(c, 100 << 20),
		        *cached = gq_conv_new_in_model(c, 8 << 20);
		int ng = wshapes[i].ng;
		if (c->s == 2 && !strcmp(gq_conv_kernel(), "avx2")) /* not on AVX2 */
			ng = 0;
		ck_assert_msg(gq_conv_wgroup(model) == ng,
		        "%s: %d -> %d planes at %dx%d, s=%d, ng=%d: group of %d", gq_conv_kernel(),
		        c->cin, c->cout, c->h, c->w, c->s, c->ng, gq_conv_wgroup(model));
		ck_assert_int_eq(gq_conv_wgroup(cached), 0);
		if (ng) {
			bool avx512 = !strcmp(gq_conv_kernel(), "avx512");
			int v = strcmp(gq_conv_kernel(), "avx2") ? 16 : 8,
			    mr = wshapes[i].narrow ? 2 * v
			         : avx512          ? 8
			                           : 6,
			    base = c->cout / ng;
			ck_assert_int_eq(gq_conv_narrow(model), wshapes[i].narrow);
			ck_assert_int_eq(gq_conv_panel(model), mr);
			ck_assert_str_eq(gq_conv_algo(model), wshapes[i].algo);
			size_t points = !strcmp(wshapes[i].algo, "winograd2")     ? 16
			                : !strcmp(wshapes[i].algo, "winograd2s2") ? 25
			                                                          : 36;
			size_t own = points * (size_t)((base + mr - 1) / mr * mr) * c->cin *
			             sizeof(float);
			size_t bytes = gq_conv_bytes(model);
			ck_assert(bytes == own || bytes == own + gq_conv_expanded_bytes(c));
		}
		gq_conv_free(model);
		gq_conv_free(cached);
	}
}

START_TEST(wgroup_choice)
{
	setenv("GEQRT_WINO3", "0", 1); /* AVX2's F(3x3) at 9x9: wino3_where_it_may_pay */
	setenv("GEQRT_WINO5", "0", 1); /* F(5x5) at 25x25 and 15x15: group5_where_it_may_pay */
	for (int kn = 0; kn < 3; kn++)
		if (!gq_conv_use_kernel(kernel_names[kn]))
			check_wgroup_choices();
	unsetenv("GEQRT_WINO5");
	unsetenv("GEQRT_WINO3");
	gq_conv_use_kernel(NULL);
	gq_conv_shape small = {32, 5, 7, 32, 3, 1, 1, 1, false, 4, p4, false};
	setenv("GEQRT_WGROUP", "1", 1);
	gq_conv *forced = gq_conv_new_in_model(&small, 0);
	/* also where the rule would not take it (a bank of 1 MB) */
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		gq_conv *c = gq_conv_new_in_model(&wshapes[8].c, 100 << 20);
		ck_assert_int_eq(gq_conv_wgroup(c), 4);
		gq_conv_free(c);
	}
	gq_conv_use_kernel(NULL);
	setenv("GEQRT_WGROUP", "0", 1);
	gq_conv *never = gq_conv_new_in_model(&wshapes[0].c, 100 << 20);
	unsetenv("GEQRT_WGROUP");
	ck_assert_int_eq(gq_conv_wgroup(forced), 4);
	ck_assert_int_eq(gq_conv_wgroup(never), 0);
	gq_conv_free(forced);
	gq_conv_free(never);
}
END_TEST

/* ---- F(6x6) as a tuning candidate (gq_conv_candidates) ---- */

/* How many of c's candidates run F(6x6), and of those how many are group plans. */
static int wino6_candidates(const gq_conv_shape *c, int *group)
{
	gq_conv *out[GQ_CANDIDATES];
	int def[2], n = gq_conv_candidates(c, 100 << 20, out, def), six = 0;
	ck_assert_int_gt(n, 1);
	*group = 0;
	for (int i = 0; i < n; i++) {
		if (!strcmp(gq_conv_algo(out[i]), "winograd6")) {
			six++;
			*group += gq_conv_wgroup(out[i]) > 0;
			ck_assert(gq_conv_narrow(out[i]));
		}
		gq_conv_free(out[i]);
	}
	return six;
}

/* The expanded F(6x6) plan where it runs narrow and F(4x4) wide on 128 channels (p4 and p4m
 * at 29x29, on every kernel; not on 64), the group's F(6x6) form where it counts at most
 * GROUP6_WORK of the F(4x4) form's (128 planes of p4m at 17x17 on AVX2: 8-float vectors),
 * neither at 9x9 nor where GEQRT_WINO6=0 leaves them out. */
START_TEST(wino6_where_it_may_pay)
{
	const gq_conv_shape p4m_29_64 = {64, 29, 29, 64, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4m_29 = {128, 29, 29, 128, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4_29w = {128, 29, 29, 128, 3, 1, 1, 1, true, 4, p4, false},
	                    p4m_17 = {128, 17, 17, 128, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4m_9 = {256, 9, 9, 256, 3, 1, 1, 1, true, 8, p4m, false};
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		int group;
		ck_assert_int_eq(wino6_candidates(&p4m_29_64, &group), 0);
		ck_assert_int_eq(wino6_candidates(&p4m_29, &group) - group, 1); /* expanded */
		ck_assert_int_eq(wino6_candidates(&p4_29w, &group) - group, 1);
		ck_assert_int_eq(wino6_candidates(&p4m_9, &group), 0);
		int six = wino6_candidates(&p4m_17, &group);
		bool avx2 = !strcmp(kernel_names[kn], "avx2");
		ck_assert_msg(six == avx2 && group == avx2, "%s: %d F(6x6) candidates at 17x17",
		        kernel_names[kn], six);
		setenv("GEQRT_WINO6", "0", 1);
		ck_assert_int_eq(wino6_candidates(&p4_29w, &group), 0);
		ck_assert_int_eq(wino6_candidates(&p4m_17, &group), 0);
		unsetenv("GEQRT_WINO6");
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The expanded F(7x7) plan (s26-f7) where it runs narrow and F(4x4) wide: 64 planes of
 * p4m at 33x33 (ResNet-44 p4m's stage 1) on every kernel; not at 49x49 or 97x97 (both
 * wide), 25x25 (both narrow) nor 29x29 (more work), nor where GEQRT_WINO7=0 leaves it out. */
static int wino7_candidates(const gq_conv_shape *c)
{
	gq_conv *out[GQ_CANDIDATES];
	int def[2], n = gq_conv_candidates(c, 100 << 20, out, def), seven = 0;
	ck_assert_int_gt(n, 1);
	for (int k = 0; k < 2; k++) /* never the rules' plan */
		ck_assert_str_ne(gq_conv_algo(out[def[k]]), "winograd7");
	for (int i = 0; i < n; i++) {
		if (!strcmp(gq_conv_algo(out[i]), "winograd7")) {
			seven++;
			ck_assert(gq_conv_narrow(out[i]) && !gq_conv_wgroup(out[i]));
		}
		gq_conv_free(out[i]);
	}
	return seven;
}

START_TEST(wino7_where_it_may_pay)
{
	const gq_conv_shape p4m_33 = {64, 33, 33, 64, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4_49 = {64, 49, 49, 64, 3, 1, 1, 1, true, 4, p4, false},
	                    p4_97 = {32, 97, 97, 32, 3, 1, 1, 1, true, 4, p4, false},
	                    p4_25 = {128, 25, 25, 128, 3, 1, 1, 1, true, 4, p4, false},
	                    p4_29 = {128, 29, 29, 128, 3, 1, 1, 1, true, 4, p4, false};
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		ck_assert_msg(wino7_candidates(&p4m_33) == 1, "%s", kernel_names[kn]);
		ck_assert_int_eq(wino7_candidates(&p4_49), 0);
		ck_assert_int_eq(wino7_candidates(&p4_97), 0);
		ck_assert_int_eq(wino7_candidates(&p4_25), 0);
		ck_assert_int_eq(wino7_candidates(&p4_29), 0);
		setenv("GEQRT_WINO7", "0", 1);
		ck_assert_int_eq(wino7_candidates(&p4m_33), 0);
		unsetenv("GEQRT_WINO7");
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The untuned rules take the expanded F(6x6) plan where wino6_candidate offers it (128
 * channels of p4 at 29x29, ResNet-18 p4's stage 2, on every kernel; exact against the naive
 * conv), F(4x4) where GEQRT_WINO6=0; the candidates keep the expanded F(4x4) plan beside
 * it, with def[] on the rules' F(6x6). */
START_TEST(wino6_by_the_rules)
{
	static const Layer L = {32, 29, 29, 32, 3, 1, 1, false};
	const Group *G = &groups[5]; /* p4 */
	const gq_conv_shape c = {128, 29, 29, 128, 3, 1, 1, 1, true, 4, p4, false};
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		Case t;
		make_case(&t, &L, G, true, true);
		gq_conv *six = gq_conv_new_group(
		        t.cin, L.h, L.w, t.cout, L.k, L.s, L.p, 1, true, G->ng, G->elem, false);
		ck_assert_str_eq(gq_conv_algo(six), "winograd6");
		ck_assert_int_eq(gq_conv_wgroup(six) + gq_conv_orbit(six), 0);
		float *got = run(&t, six);
		expect_near(&t, got, t.ref, "the rules' F(6x6) vs naive");
		free(got);
		gq_conv_free(six);
		setenv("GEQRT_WINO6", "0", 1);
		gq_conv *four = gq_conv_new_group(
		        t.cin, L.h, L.w, t.cout, L.k, L.s, L.p, 1, true, G->ng, G->elem, false);
		unsetenv("GEQRT_WINO6");
		ck_assert_str_eq(gq_conv_algo(four), "winograd4");
		gq_conv_free(four);
		free_case(&t);

		gq_conv *out[GQ_CANDIDATES];
		int def[2], n = gq_conv_candidates(&c, gq_conv_expanded_bytes(&c), out, def);
		ck_assert_int_gt(n, 1);
		ck_assert_str_eq(gq_conv_algo(out[0]), "winograd4");
		ck_assert_int_eq(gq_conv_wgroup(out[0]) + gq_conv_orbit(out[0]), 0);
		ck_assert_str_eq(gq_conv_algo(out[def[0]]), "winograd6");
		ck_assert_int_eq(def[1], def[0]);
		while (n > 0)
			gq_conv_free(out[--n]);
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* ---- F(3x3) as a tuning candidate ---- */

/* c's candidates that run F(3x3): the expanded plan (*expanded) and the orbit's base
 * (*orbit), each exact against the naive conv on t (one thread and two) where t is not
 * NULL. */
static void wino3_candidates(const gq_conv_shape *c, const Case *t, int *expanded, int *orbit)
{
	gq_conv *out[GQ_CANDIDATES];
	int def[2], n = gq_conv_candidates(c, 100 << 20, out, def);
	ck_assert_int_gt(n, 1);
	*expanded = *orbit = 0;
	for (int i = 0; i < n; i++) {
		if (!strcmp(gq_conv_algo(out[i]), "winograd3")) {
			ck_assert_int_eq(gq_conv_wgroup(out[i]), 0);
			/* not the rules' plan: where the banks stream (here) the group's F(3x3)
			 * form takes the rule (group3_where_it_may_pay) */
			ck_assert_int_ne(def[0], i);
			ck_assert_int_ne(def[1], i);
			*orbit += gq_conv_orbit(out[i]) > 0;
			*expanded += gq_conv_orbit(out[i]) == 0;
			for (int th = 1; th <= 2 && t; th++) {
				gq_set_threads(th);
				float *got = run(t, out[i]);
				expect_near(t, got, t->ref,
				        gq_conv_orbit(out[i]) ? "orbit of F(3x3)" : "F(3x3)");
				free(got);
			}
			gq_set_threads(1);
		}
		gq_conv_free(out[i]);
	}
}

/* The expanded F(3x3) plan and the orbit on an F(3x3) base where the map's sides are
 * multiples of 3 and it counts at most WINO3_WORK of the rules' expanded plan (128 planes of
 * p4m at 9x9, on every kernel, exact with the residual and relu); not at 17x17, not on 64
 * planes, not where GEQRT_WINO3=0. The untuned rules' plan there on AVX2 only (exact),
 * nowhere where GEQRT_WINO3=0. */
START_TEST(wino3_where_it_may_pay)
{
	static const Layer L = {16, 9, 9, 16, 3, 1, 1, false};
	const Group *G = &groups[NGROUPS - 1]; /* p4m */
	const gq_conv_shape p4m_9 = {128, 9, 9, 128, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4m_9_64 = {64, 9, 9, 64, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4m_17 = {128, 17, 17, 128, 3, 1, 1, 1, true, 8, p4m, false};
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		Case t;
		make_case(&t, &L, G, true, true);
		int e, o;
		wino3_candidates(&p4m_9, &t, &e, &o);
		ck_assert_msg(e == 1 && o == 1, "%s: %d expanded, %d orbits in F(3x3)",
		        kernel_names[kn], e, o);
		wino3_candidates(&p4m_9_64, NULL, &e, &o);
		ck_assert_int_eq(e + o, 0);
		wino3_candidates(&p4m_17, NULL, &e, &o);
		ck_assert_int_eq(e + o, 0);
		bool avx2 = !strcmp(kernel_names[kn], "avx2");
		gq_conv *rules = gq_conv_new_group(
		        t.cin, L.h, L.w, t.cout, L.k, L.s, L.p, 1, true, G->ng, G->elem, false);
		ck_assert_int_eq(!strcmp(gq_conv_algo(rules), "winograd3"), avx2);
		if (avx2) {
			ck_assert_int_eq(gq_conv_orbit(rules) + gq_conv_wgroup(rules), 0);
			float *got = run(&t, rules);
			expect_near(&t, got, t.ref, "the rules' F(3x3)");
			free(got);
		}
		gq_conv_free(rules);
		setenv("GEQRT_WINO3", "0", 1);
		wino3_candidates(&p4m_9, NULL, &e, &o);
		rules = gq_conv_new_group(
		        t.cin, L.h, L.w, t.cout, L.k, L.s, L.p, 1, true, G->ng, G->elem, false);
		unsetenv("GEQRT_WINO3");
		ck_assert_int_eq(e + o, 0);
		ck_assert_str_ne(gq_conv_algo(rules), "winograd3");
		gq_conv_free(rules);
		free_case(&t);
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The group's F(3x3) form (GQ_CONV_WINO3R) as a candidate and the rules' plan where the
 * banks stream: ResNet-44 p4m's stage 3 shape (256 planes of p4m at 9x9) and 128 planes of
 * p4 at 9x9, exact against the naive conv on 1-3 threads with the residual and relu, on
 * every kernel; not at 15x15 (25 tiles of 25 products against F(4x4)'s 16 of 36), not at
 * 17x17 nor 25x25 (not multiples of 3), not on 64 planes, not where GEQRT_WINO3=0 or
 * GEQRT_WGROUP=0. Not the rules' plan where the banks stay in the caches. */
static int group3_candidates(const gq_conv_shape *c, const Case *t)
{
	gq_conv *out[GQ_CANDIDATES];
	int def[2], n = gq_conv_candidates(c, 100 << 20, out, def), found = 0;
	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n; i++) {
		if (!strcmp(gq_conv_algo(out[i]), "winograd3r")) {
			ck_assert_int_eq(gq_conv_wgroup(out[i]), c->ng);
			ck_assert_int_eq(def[0], i);
			ck_assert_int_eq(def[1], i);
			found++;
			for (int th = 1; th <= 3 && t; th++) {
				gq_set_threads(th);
				float *got = run(t, out[i]);
				expect_near(t, got, t->ref, "the group's F(3x3)");
				free(got);
			}
			gq_set_threads(1);
		}
		gq_conv_free(out[i]);
	}
	return found;
}

START_TEST(group3_where_it_may_pay)
{
	static const Layer L9 = {32, 9, 9, 32, 3, 1, 1, false},
	                   L9p4 = {32, 9, 9, 32, 3, 1, 1, false};
	const Group *G = &groups[NGROUPS - 1], *P4 = &groups[5];
	const gq_conv_shape p4m_9 = {256, 9, 9, 256, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4_15 = {128, 15, 15, 128, 3, 1, 1, 1, true, 4, p4, false},
	                    p4m_9_64 = {64, 9, 9, 64, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4m_17 = {128, 17, 17, 128, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4_25 = {128, 25, 25, 128, 3, 1, 1, 1, true, 4, p4, false};
	seed(25);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		Case t, t15;
		make_case(&t, &L9, G, true, true);
		make_case(&t15, &L9p4, P4, true, true);
		ck_assert_int_eq(group3_candidates(&p4_15, NULL), 0);
		gq_conv_shape s9p4 = {t15.cin, 9, 9, t15.cout, 3, 1, 1, 1, true, 4, p4, false};
		ck_assert_int_eq(group3_candidates(&p4m_9, &t), 1);
		ck_assert_int_eq(group3_candidates(&s9p4, &t15), 1);
		ck_assert_int_eq(group3_candidates(&p4m_9_64, NULL), 0);
		ck_assert_int_eq(group3_candidates(&p4m_17, NULL), 0);
		ck_assert_int_eq(group3_candidates(&p4_25, NULL), 0);
		setenv("GEQRT_WINO3", "0", 1);
		ck_assert_int_eq(group3_candidates(&p4m_9, NULL), 0);
		unsetenv("GEQRT_WINO3");
		setenv("GEQRT_WGROUP", "0", 1);
		ck_assert_int_eq(group3_candidates(&p4m_9, NULL), 0);
		unsetenv("GEQRT_WGROUP");
		gq_conv *rules = gq_conv_new_in_model(&p4m_9, 100 << 20);
		ck_assert_str_eq(gq_conv_algo(rules), "winograd3r");
		ck_assert_int_eq(gq_conv_wgroup(rules), 8);
		gq_conv_free(rules);
		rules = gq_conv_new_in_model(&p4m_9, 8 << 20); /* banks in the L3 */
		ck_assert_str_ne(gq_conv_algo(rules), "winograd3r");
		gq_conv_free(rules);
		setenv("GEQRT_WINO3", "0", 1);
		rules = gq_conv_new_in_model(&p4m_9, 100 << 20);
		unsetenv("GEQRT_WINO3");
		ck_assert_str_ne(gq_conv_algo(rules), "winograd3r");
		gq_conv_free(rules);
		free_case(&t);
		free_case(&t15);
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The group's F(5x5) form (GQ_CONV_WINO5R) as a candidate where the output's sides are
 * multiples of 5: 128 planes of p4 at 25x25 (ResNet-44 p4 97's stage 3) and at 15x15, 256
 * of p4m at 15x15, exact against the naive conv on 1-3 threads with the residual and relu,
 * on every kernel; the rules' plan where the banks stream and an element's tiles fill a
 * vector (25x25 everywhere, 15x15 on AVX2 only); not at 9x9 nor 17x17, not on 64 planes,
 * not where GEQRT_WINO5=0 or GEQRT_WGROUP=0, not the rules' plan where the banks stay in
 * the caches. */
static int group5_candidates(const gq_conv_shape *c, const Case *t, bool rule)
{
	gq_conv *out[GQ_CANDIDATES];
	int def[2], n = gq_conv_candidates(c, 100 << 20, out, def), found = 0;
	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n; i++) {
		if (!strcmp(gq_conv_algo(out[i]), "winograd5r")) {
			ck_assert_int_eq(gq_conv_wgroup(out[i]), c->ng);
			ck_assert_int_eq(def[0] == i, rule);
			ck_assert_int_eq(def[1] == i, rule);
			found++;
			for (int th = 1; th <= 3 && t; th++) {
				gq_set_threads(th);
				float *got = run(t, out[i]);
				expect_near(t, got, t->ref, "the group's F(5x5)");
				free(got);
			}
			gq_set_threads(1);
		}
		gq_conv_free(out[i]);
	}
	return found;
}

START_TEST(group5_where_it_may_pay)
{
	static const Layer L25 = {32, 25, 25, 32, 3, 1, 1, false};
	const Group *P4 = &groups[5];
	const gq_conv_shape p4_15 = {128, 15, 15, 128, 3, 1, 1, 1, true, 4, p4, false},
	                    p4m_15 = {256, 15, 15, 256, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4m_9 = {256, 9, 9, 256, 3, 1, 1, 1, true, 8, p4m, false},
	                    p4_25_64 = {64, 25, 25, 64, 3, 1, 1, 1, true, 4, p4, false},
	                    p4m_17 = {128, 17, 17, 128, 3, 1, 1, 1, true, 8, p4m, false};
	seed(27);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		bool avx2 = !strcmp(gq_conv_kernel(), "avx2");
		Case t;
		make_case(&t, &L25, P4, true, true);
		gq_conv_shape p4_25 = {t.cin, 25, 25, t.cout, 3, 1, 1, 1, true, 4, p4, false};
		ck_assert_int_eq(group5_candidates(&p4_25, &t, true), 1);
		ck_assert_int_eq(group5_candidates(&p4_15, NULL, avx2), 1);
		ck_assert_int_eq(group5_candidates(&p4m_15, NULL, avx2), 1);
		ck_assert_int_eq(group5_candidates(&p4m_9, NULL, false), 0);
		ck_assert_int_eq(group5_candidates(&p4_25_64, NULL, false), 0);
		ck_assert_int_eq(group5_candidates(&p4m_17, NULL, false), 0);
		setenv("GEQRT_WINO5", "0", 1);
		ck_assert_int_eq(group5_candidates(&p4_25, NULL, false), 0);
		unsetenv("GEQRT_WINO5");
		setenv("GEQRT_WGROUP", "0", 1);
		ck_assert_int_eq(group5_candidates(&p4_25, NULL, false), 0);
		unsetenv("GEQRT_WGROUP");
		gq_conv *rules = gq_conv_new_in_model(&p4_25, 100 << 20);
		ck_assert_str_eq(gq_conv_algo(rules), "winograd5r");
		ck_assert_int_eq(gq_conv_wgroup(rules), 4);
		ck_assert_int_eq(gq_conv_wgroup_tiles(rules), !avx2);
		gq_conv_free(rules);
		rules = gq_conv_new_in_model(&p4_25, 8 << 20); /* banks in the L3 */
		ck_assert_str_ne(gq_conv_algo(rules), "winograd5r");
		gq_conv_free(rules);
		setenv("GEQRT_WINO5", "0", 1);
		rules = gq_conv_new_in_model(&p4_25, 100 << 20);
		unsetenv("GEQRT_WINO5");
		ck_assert_str_ne(gq_conv_algo(rules), "winograd5r");
		gq_conv_free(rules);
		free_case(&t);
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The group's stride-2 F(2x2) form (GQ_CONV_WINO2S2, s22-wide) against the naive conv:
 * odd maps (15x15, 29x29, 9x9, 7x7, 11x11 without padding, 9x7 not square), 40 and 128
 * input planes on p4m, base channels below and past a panel, every subgroup, every
 * kernel, wide and narrow products and the plan's own choice, 1-3 threads, residual and
 * relu all four ways. */
START_TEST(wgroup_stride2_every_subgroup_every_kernel)
{
	static const Layer L[] = {
	        {5, 15, 15, 6, 3, 2, 1, false},
	        {16, 29, 29, 4, 3, 2, 1, false},
	        {3, 9, 9, 7, 3, 2, 1, false},
	        {7, 7, 7, 5, 3, 2, 1, false},
	        {4, 9, 7, 3, 3, 2, 1, false},
	        {3, 11, 11, 4, 3, 2, 0, false},
	        {16, 15, 15, 40, 3, 2, 1, false},
	};
	static const char *const narrow[] = {"0", "1", NULL};
	seed(26);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		for (int nw = 0; nw < 3; nw++) {
			if (narrow[nw])
				setenv("GEQRT_WGNARROW", narrow[nw], 1);
			else
				unsetenv("GEQRT_WGNARROW");
			for (int g = 0; g < NGROUPS; g++)
				for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
					int v = (int)(g + i + kn + nw) % 4;
					if (L[i].c * groups[g].ng > 128 && g != NGROUPS - 1)
						continue;
					check_wgroup(&L[i], &groups[g], v & 1, v & 2,
					        1 + (int)(g + i + nw) % 3, GQ_CONV_WINO2S2);
				}
		}
	}
	unsetenv("GEQRT_WGNARROW");
	gq_conv_use_kernel(NULL);
}
END_TEST

/* The stride-2 group form's candidates: gq_conv_candidates' count of it (def its index
 * where the rules take it), checked against the naive conv where t is given. */
static int group_s2_candidates(const gq_conv_shape *c, const Case *t, bool rule)
{
	gq_conv *out[GQ_CANDIDATES];
	int def[2], n = gq_conv_candidates(c, 100 << 20, out, def), found = 0;
	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n; i++) {
		if (!strcmp(gq_conv_algo(out[i]), "winograd2s2") && gq_conv_wgroup(out[i])) {
			ck_assert_int_eq(gq_conv_wgroup(out[i]), c->ng);
			ck_assert_int_eq(def[0] == i, rule);
			found++;
			for (int th = 1; th <= 3 && t; th++) {
				gq_set_threads(th);
				float *got = run(t, out[i]);
				expect_near(t, got, t->ref, "the group's stride-2 F(2x2)");
				free(got);
			}
			gq_set_threads(1);
		}
		gq_conv_free(out[i]);
	}
	return found;
}

/* Where the stride-2 group form is a candidate (every stride-2 3x3 gconv it fits, but on
 * AVX2) and the rules' plan (the banks stream, the expanded bank 4 MB or more: the wide
 * p4m model's 256 -> 512 planes at 15x15, not its 128 -> 256 at 29x29); GEQRT_WGS2=0 and
 * GEQRT_WGROUP=0 leave it out, GEQRT_WGS2=1 takes it wherever it fits, AVX2 too. */
START_TEST(group_s2_where_it_may_pay)
{
	static const Layer L15 = {32, 15, 15, 64, 3, 2, 1, false};
	const Group *G = &groups[NGROUPS - 1];
	const gq_conv_shape p4m_15 = {256, 15, 15, 512, 3, 2, 1, 1, true, 8, p4m, false},
	                    p4m_29 = {128, 29, 29, 256, 3, 2, 1, 1, true, 8, p4m, false},
	                    p4_97 = {32, 97, 97, 64, 3, 2, 1, 1, true, 4, p4, false},
	                    p4m_15s1 = {256, 15, 15, 256, 3, 1, 1, 1, true, 8, p4m, false};
	seed(27);
	for (int kn = 0; kn < 3; kn++) {
		if (gq_conv_use_kernel(kernel_names[kn]))
			continue;
		Case t;
		make_case(&t, &L15, G, true, true);
		int on = strcmp(gq_conv_kernel(), "avx2") != 0;
		ck_assert_int_eq(group_s2_candidates(&p4m_15, &t, true), on);
		ck_assert_int_eq(group_s2_candidates(&p4m_29, NULL, false), on);
		ck_assert_int_eq(group_s2_candidates(&p4_97, NULL, false), 0);
		ck_assert_int_eq(group_s2_candidates(&p4m_15s1, NULL, false), 0);
		setenv("GEQRT_WGS2", "0", 1);
		ck_assert_int_eq(group_s2_candidates(&p4m_15, NULL, false), 0);
		gq_conv *rules = gq_conv_new_in_model(&p4m_15, 100 << 20);
		ck_assert_int_eq(gq_conv_wgroup(rules), 0);
		gq_conv_free(rules);
		setenv("GEQRT_WGS2", "1", 1);
		rules = gq_conv_new_in_model(&p4m_29, 100 << 20);
		ck_assert_str_eq(gq_conv_algo(rules), "winograd2s2");
		ck_assert_int_eq(gq_conv_wgroup(rules), 8);
		gq_conv_free(rules);
		unsetenv("GEQRT_WGS2");
		setenv("GEQRT_WGROUP", "0", 1);
		ck_assert_int_eq(group_s2_candidates(&p4m_15, NULL, false), 0);
		unsetenv("GEQRT_WGROUP");
		rules = gq_conv_new_in_model(&p4m_15, 100 << 20);
		ck_assert_int_eq(gq_conv_wgroup(rules), on ? 8 : 0);
		gq_conv_free(rules);
		rules = gq_conv_new_in_model(&p4m_15, 8 << 20); /* banks in the L3 */
		ck_assert_int_eq(gq_conv_wgroup(rules), 0);
		gq_conv_free(rules);
		rules = gq_conv_new_in_model(&p4m_29, 100 << 20);
		ck_assert_int_eq(gq_conv_wgroup(rules), 0);
		gq_conv_free(rules);
		free_case(&t);
	}
	gq_conv_use_kernel(NULL);
}
END_TEST

static Suite *orbit_suite(void)
{
	Suite *s = suite_create("conv_orbit");
	TCase *tc = tcase_create("orbit");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, every_subgroup_every_kernel);
	tcase_add_test(tc, non_square_mirror);
	tcase_add_test(tc, two_threads);
	tcase_add_test(tc, falls_back_where_not_exact);
	tcase_add_test(tc, choice_by_environment_and_memory_ceiling);
	tcase_add_test(tc, orbits_where_banks_stream);
	tcase_add_test(tc, expanded_plan_for_one_thread);
	tcase_add_test(tc, wgroup_every_subgroup_every_kernel);
	tcase_add_test(tc, wgroup_wide_halves_in_place);
	tcase_add_test(tc, wgroup_steal_points);
	tcase_add_test(tc, wgroup_paired);
	tcase_add_test(tc, wgroup_threads_and_where_it_applies);
	tcase_add_test(tc, wgroup_choice);
	tcase_add_test(tc, wino6_where_it_may_pay);
	tcase_add_test(tc, wino7_where_it_may_pay);
	tcase_add_test(tc, wino6_by_the_rules);
	tcase_add_test(tc, wino3_where_it_may_pay);
	tcase_add_test(tc, group3_where_it_may_pay);
	tcase_add_test(tc, group5_where_it_may_pay);
	tcase_add_test(tc, wgroup_stride2_every_subgroup_every_kernel);
	tcase_add_test(tc, group_s2_where_it_may_pay);
	suite_add_tcase(s, tc);
	/* About half the suite's time (s29-ci): tests/run-all.sh runs the test cases tagged
	 * half2 and the rest as two processes side by side. */
	TCase *half2 = tcase_create("orbit-half2");
	tcase_set_tags(half2, "half2");
	tcase_set_timeout(half2, 300);
	tcase_add_test(half2, wgroup_narrow_every_subgroup_every_kernel);
	tcase_add_test(half2, wgroup_mixed);
	tcase_add_test(half2, wgroup_packed);
	tcase_add_test(half2, wgroup_tiles);
	tcase_add_test(half2, wgroup_own_part);
	suite_add_tcase(s, half2);
	return s;
}

int main(void)
{
	gq_set_threads(1);
	SRunner *r = srunner_create(orbit_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
