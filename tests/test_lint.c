/* test_lint.c: the equivariance lint against brute force.
 *
 * References, written independently of lint.c: window positions counted one by one;
 * every layer's sampled grid enumerated as explicit lists of positions in the ORIGINAL
 * image (after all earlier strides) and mapped point by point with gq_d4_point about
 * the image centre; the action of an element on a plane checked on an array with
 * gq_d4_plane. The lint works in each layer's own input coordinates instead, so the two
 * must agree only if the geometry is right. Models are built by hand (no parser). */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"
#include "harness.h"

enum { MAXL = 16, MAXN = 1200, ALL = 0xff, PMM = 1u << 0 | 1u << 2 | 1u << 4 | 1u << 6 };

/* ---- hand-built models ---- */

typedef struct TB {
	Model m;
	Layer layer[MAXL];
	Shape value[MAXL + 1];
	int count[OP_COUNT];
	char names[MAXL][24];
} TB;

static Group group_of(unsigned mask)
{
	Group g = {.name = "testgroup", .mask = mask | 1u};
	for (int e = 0; e < GQ_D4_ORDER; e++)
		if (g.mask & 1u << e)
			g.elem[g.n++] = e;
	return g;
}

static void tb_init(TB *t, int C, int H, int W, unsigned mask)
{
	memset(t, 0, sizeof *t);
	t->m.name = "t";
	t->m.group = group_of(mask);
	t->m.input = (Shape){K_IMAGE, VA_NONE, C, 1, H, W};
	t->m.input_loc = (Loc){1, 9, 1, 20, NULL};
	t->m.layer = t->layer;
	t->m.value = t->value;
	t->value[0] = t->m.input;
	t->m.nvalues = 1;
}

/* Appends a layer reading value `in` (and `in2` for `+`); its output shape is set by the
 * caller. Non-sliding layers carry k=s=d=1, p=0 as check.c gives them. */
static Layer *tb_layer(TB *t, Op op, int in, int in2)
{
	int i = t->m.nlayers++;
	Layer *L = &t->layer[i];
	*L = (Layer){.op = op, .nin = in2 >= 0 ? 2 : 1, .in = {in, in2}, .out = i + 1};
	snprintf(t->names[i], sizeof t->names[i], "%s%d", op_info[op].name, ++t->count[op]);
	L->name = t->names[i];
	L->loc = (Loc){i + 2, 5, i + 2, 20, NULL};
	L->in_shape = t->value[in];
	L->k = L->s = L->d = 1;
	L->bias = true;
	t->m.nvalues = i + 2;
	t->m.output = i + 1;
	return L;
}

/* The layer's output shape from shape.c, as check.c gets it; -1 (and the layer taken
 * back) if it has none: a window that does not fit, operands of + that disagree. */
static int tb_done(TB *t, Layer *L)
{
	Shape in[2] = {t->value[L->in[0]], t->value[L->in[L->nin - 1]]};
	if (!shape_infer(L, in, t->m.group.n, &L->out_shape)) {
		t->count[L->op]--;
		t->m.nlayers--;
		t->m.nvalues--;
		t->m.output = t->m.nlayers;
		return -1;
	}
	t->value[L->out] = L->out_shape;
	return L->out;
}

/* lift, gconv, conv, pools: returns the value, or -1 if the window does not fit. */
static int tb_slide(TB *t, Op op, int in, int C, int k, int s, int p, int d)
{
	Layer *L = tb_layer(t, op, in, -1);
	L->k = k, L->s = s, L->p = p, L->d = d, L->C = C;
	return tb_done(t, L);
}

/* Any other op of one operand; N is a linear's output count. */
static int tb_op(TB *t, Op op, int in, int N)
{
	Layer *L = tb_layer(t, op, in, -1);
	L->C = N;
	return tb_done(t, L);
}

static int tb_add(TB *t, int a, int b)
{
	return tb_done(t, tb_layer(t, OP_ADD, a, b));
}

/* The output size from the formula, or 0: the brute-force fixes' own, not shape.c's. */
static int out_size(int n, int k, int s, int p, int d)
{
	int span = n + 2 * p - d * (k - 1) - 1;
	return span < 0 ? 0 : span / s + 1;
}

/* Joins the continuation lines of notes back into one line each. */
static void unwrap(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (strncmp(s, "\n      ", 7) == 0) {
			*o++ = ' ';
			s += 6;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* Runs the lint; the diagnostics land in *text (caller frees), notes unwrapped. */
static Lint *run_lint(TB *t, Arena *a, char **text, int *nwarn)
{
	Sink s;
	sink_open(&s, "t.geq", NULL, 0);
	Lint *l = lint_model(&t->m, a, &s.d);
	*text = sink_close(&s);
	unwrap(*text);
	if (nwarn)
		*nwarn = s.d.nwarnings;
	return l;
}

static unsigned lint_exact(TB *t)
{
	Arena *a = arena_new();
	char *text;
	unsigned e = run_lint(t, a, &text, NULL)->exact;
	free(text);
	arena_free(a);
	return e;
}

/* ---- (1) one sliding layer: residue and shift by counting windows ---- */

typedef struct Windows {
	int m;         /* number of windows */
	int unused;    /* padded-input positions after the last window */
	double centre; /* mean of the first and last window centre */
} Windows;

static Windows count_windows(int n, int k, int s, int p, int d)
{
	Windows w = {0};
	double first = 0, last = 0;
	for (int o = 0; o * s + d * (k - 1) <= n + 2 * p - 1; o++) {
		double c = o * s - p + d * (k - 1) / 2.0;
		if (o == 0)
			first = c;
		last = c;
		w.m++;
		w.unused = n + 2 * p - 1 - (o * s + d * (k - 1));
	}
	w.centre = (first + last) / 2;
	return w;
}

START_TEST(single_layer_residue_and_shift)
{
	int tested = 0;
	while (tested < 3000) {
		int H = irand(1, 40), W = irand(0, 1) ? H : irand(1, 40);
		int k = irand(1, 6), s = irand(1, 4), d = irand(1, 3), p = irand(0, 3);
		bool pool = irand(0, 2) == 0;
		if (pool)
			d = 1, p = p > k / 2 ? k / 2 : p;
		Windows wy = count_windows(H, k, s, p, d), wx = count_windows(W, k, s, p, d);
		if (wy.m == 0 || wx.m == 0)
			continue;
		TB t;
		tb_init(&t, 1, H, W, H == W ? ALL : PMM);
		int v = tb_slide(&t, pool ? OP_MAXPOOL : OP_LIFT, 0, 2, k, s, p, d);
		ck_assert_int_eq(t.value[v].h, wy.m);
		Arena *a = arena_new();
		char *text;
		Lint *l = run_lint(&t, a, &text, NULL);
		LayerLint *ll = &l->layer[0];
		ck_assert_int_eq(ll->res[0], wy.unused);
		ck_assert_int_eq(ll->res[1], wx.unused);
		ck_assert(ll->shift[0] == wy.centre - (H - 1) / 2.0);
		ck_assert(ll->shift[1] == wx.centre - (W - 1) / 2.0);
		ck_assert(ll->stride[0] == s && ll->stride[1] == s);
		/* the half-turn r2 needs the grid centred on both axes, and centred means R = 0 */
		bool centred = wy.centre == (H - 1) / 2.0 && wx.centre == (W - 1) / 2.0;
		ck_assert_int_eq(centred, wy.unused == 0 && wx.unused == 0);
		ck_assert_int_eq(!!(l->exact & 1u << 2), centred);
		ck_assert_int_eq(text[0] == 0, centred);
		free(text);
		arena_free(a);
		tested++;
	}
}
END_TEST

/* ---- (2) chains: the lint against every layer's grid, enumerated in the image ---- */

typedef struct Step {
	Op op;
	int k, s, p, d;
} Step;

/* Builds input -> steps on H x W; false if some window does not fit. */
static bool build_chain(TB *t, int H, int W, unsigned mask, const Step *st, int n)
{
	tb_init(t, 1, H, W, mask);
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (st[i].k)
			v = tb_slide(t, st[i].op, v, 2, st[i].k, st[i].s, st[i].p, st[i].d);
		else
			v = tb_op(t, st[i].op, v, 0);
		if (v < 0)
			return false;
	}
	return true;
}

/* A random chain of ops that commute with the group: only the grids can break it. */
static int random_chain(Step *st)
{
	int n = irand(1, 5);
	bool gmap = false;
	for (int i = 0; i < n; i++) {
		Step x = {0};
		int pick = irand(0, 5);
		if (pick <= 1) {
			x.op = gmap ? OP_GCONV : irand(0, 1) ? OP_LIFT : OP_CONV;
			x.k = x.op == OP_CONV ? 1 : irand(1, 4);
			x.s = irand(1, 3), x.p = irand(0, 2), x.d = irand(1, 2);
			gmap |= x.op != OP_CONV;
		} else if (pick <= 3) {
			x.op = irand(0, 1) ? OP_MAXPOOL : OP_AVGPOOL;
			x.k = irand(1, 4), x.s = irand(1, 3), x.p = irand(0, x.k / 2), x.d = 1;
		} else if (pick == 4) {
			x.op = gmap ? OP_GPOOL : OP_BN;
			gmap = false;
		} else {
			x.op = OP_RELU;
		}
		st[i] = x;
	}
	return n;
}

/* One axis of a grid in the original image, in half pixels: explicit positions. */
typedef struct Line {
	int n;
	long long pos[MAXN];
	long long step; /* between neighbours, kept for grids of a single position */
} Line;

/* The positions a sliding layer samples: window centre c = os - p + d(k-1)/2 of the
 * input, placed in the image by extending the input's own lattice. */
static void sample_line(Line *out, const Line *in, const Step *st, int n_in)
{
	Line o = {.step = in->step * st->s};
	for (int i = 0; i * st->s + st->d * (st->k - 1) <= n_in + 2 * st->p - 1; i++) {
		long long c2 = 2LL * i * st->s - 2LL * st->p + (long long)st->d * (st->k - 1);
		o.pos[o.n++] = in->pos[0] + c2 * in->step / 2;
	}
	*out = o;
}

static bool on_line(const Line *l, long long v)
{
	for (int i = 0; i < l->n; i++)
		if (l->pos[i] == v)
			return true;
	return false;
}

/* Does g map the set lines[0] x lines[1] onto itself about the centre of the H x W image?
 * Half pixels on a plane grown by a margin so that positions in the padding fit. */
static bool maps_onto_itself(int g, const Line *ly, const Line *lx, int H, int W)
{
	long long mg = 0;
	const Line *ls[2] = {ly, lx};
	int n[2] = {H, W};
	for (int a = 0; a < 2; a++)
		for (int i = 0; i < ls[a]->n; i++) {
			long long v = ls[a]->pos[i];
			mg = -v > mg ? -v : mg;
			mg = v - (2LL * n[a] - 2) > mg ? v - (2LL * n[a] - 2) : mg;
		}
	int ph = (int)(2LL * H - 1 + 2 * mg), pw = (int)(2LL * W - 1 + 2 * mg);
	for (int i = 0; i < ly->n; i++)
		for (int j = 0; j < lx->n; j++) {
			int oy, ox;
			gq_d4_point(g, ph, pw, (int)(ly->pos[i] + mg), (int)(lx->pos[j] + mg), &oy,
			        &ox);
			if (!on_line(ly, oy - mg) || !on_line(lx, ox - mg))
				return false; /* g is injective, so inclusion is equality */
		}
	return true;
}

/* Elements exact by brute force, and each layer's cumulative shift and stride. */
static unsigned brute_exact(
        const TB *t, const Step *st, int n, double (*shift)[2], int (*stride)[2])
{
	int H = t->m.input.h, W = t->m.input.w;
	static Line y, x;
	y = (Line){.n = H, .step = 2};
	x = (Line){.n = W, .step = 2};
	for (int i = 0; i < H; i++)
		y.pos[i] = 2 * i;
	for (int i = 0; i < W; i++)
		x.pos[i] = 2 * i;
	unsigned exact = t->m.group.mask;
	for (int i = 0; i < n; i++) {
		if (st[i].k) {
			sample_line(&y, &y, &st[i], t->layer[i].in_shape.h);
			sample_line(&x, &x, &st[i], t->layer[i].in_shape.w);
			for (int g = 1; g < GQ_D4_ORDER; g++)
				if (exact & 1u << g && !maps_onto_itself(g, &y, &x, H, W))
					exact &= ~(1u << g);
		}
		shift[i][0] = (y.pos[0] + y.pos[y.n - 1]) / 4.0 - (H - 1) / 2.0;
		shift[i][1] = (x.pos[0] + x.pos[x.n - 1]) / 4.0 - (W - 1) / 2.0;
		stride[i][0] = (int)(y.step / 2), stride[i][1] = (int)(x.step / 2);
	}
	return exact;
}

START_TEST(chains_match_brute_force)
{
	static TB t;
	int tested = 0, broken = 0, partial = 0;
	while (tested < 1500) {
		Step st[MAXL];
		int n = random_chain(st);
		int H = irand(1, 36), W = irand(0, 1) ? H : irand(1, 36);
		unsigned mask = H == W ? ALL : PMM;
		if (!build_chain(&t, H, W, mask, st, n))
			continue;
		double shift[MAXL][2];
		int stride[MAXL][2];
		unsigned want = brute_exact(&t, st, n, shift, stride);
		Arena *a = arena_new();
		char *text;
		Lint *l = run_lint(&t, a, &text, NULL);
		ck_assert_msg(
		        l->exact == want, "%dx%d: lint %#x, brute force %#x", H, W, l->exact, want);
		for (int i = 0; i < n; i++) {
			ck_assert(l->layer[i].shift[0] == shift[i][0]);
			ck_assert(l->layer[i].shift[1] == shift[i][1]);
			ck_assert_int_eq(l->layer[i].stride[0], stride[i][0]);
			ck_assert_int_eq(l->layer[i].stride[1], stride[i][1]);
		}
		broken += want != t.m.group.mask;
		partial += want != t.m.group.mask && want != 1u;
		free(text);
		arena_free(a);
		tested++;
	}
	/* the sample must exercise all three outcomes */
	ck_assert_int_gt(broken, 100);
	ck_assert_int_gt(partial, 50);
	ck_assert_int_gt(tested - broken, 100);
}
END_TEST

/* Transposes survive any grid on a square input; on a non-square one a mirror survives
 * when its axis is centred (SPEC §1). */
START_TEST(survivors)
{
	static TB t;
	tb_init(&t, 1, 29, 29, ALL);
	tb_slide(&t, OP_MAXPOOL, 0, 0, 2, 2, 0, 1);
	ck_assert_uint_eq(lint_exact(&t), 1u | 1u << 7); /* e, mr3 */
	tb_init(&t, 1, 28, 29, PMM);
	tb_slide(&t, OP_MAXPOOL, 0, 0, 2, 2, 0, 1);
	ck_assert_uint_eq(lint_exact(&t), 1u | 1u << 6); /* e, mr2 */
}
END_TEST

/* ---- SPEC §1 (a): layers that do not commute ---- */

/* Elements that act trivially on an h x w plane, from gq_d4_plane on distinct values. */
static unsigned plane_fixers(int h, int w)
{
	float in[64], out[64];
	unsigned fix = 0;
	for (int i = 0; i < h * w; i++)
		in[i] = (float)i;
	for (int g = 0; g < GQ_D4_ORDER; g++) {
		if (gq_d4_swaps_axes(g) && h != w)
			continue;
		gq_d4_plane(g, out, in, h, w);
		if (memcmp(in, out, sizeof(float) * (size_t)(h * w)) == 0)
			fix |= 1u << g;
	}
	return fix;
}

START_TEST(conv_breaks_all_but_e)
{
	static TB t;
	tb_init(&t, 1, 28, 28, ALL);
	tb_slide(&t, OP_CONV, 0, 4, 3, 1, 1, 1);
	ck_assert_uint_eq(lint_exact(&t), 1u);
	tb_init(&t, 1, 28, 28, ALL);
	tb_slide(&t, OP_CONV, 0, 4, 1, 1, 0, 1);
	ck_assert_uint_eq(lint_exact(&t), ALL);
}
END_TEST

START_TEST(linear_needs_an_invariant_vector)
{
	static TB t;
	/* global pool of a G-map: permuted by every element but e */
	tb_init(&t, 1, 9, 9, ALL);
	int v = tb_slide(&t, OP_LIFT, 0, 3, 3, 1, 0, 1);
	tb_op(&t, OP_LINEAR, tb_op(&t, OP_GLOBAL_AVGPOOL, v, 0), 5);
	ck_assert_uint_eq(lint_exact(&t), 1u);
	/* gpool first makes it invariant */
	tb_init(&t, 1, 9, 9, ALL);
	v = tb_slide(&t, OP_LIFT, 0, 3, 3, 1, 0, 1);
	v = tb_op(&t, OP_GLOBAL_MAXPOOL, tb_op(&t, OP_GPOOL, v, 0), 0);
	tb_op(&t, OP_LINEAR, tb_op(&t, OP_RELU, v, 0), 5);
	ck_assert_uint_eq(lint_exact(&t), ALL);
	/* returning the permuted vector itself is equivariant */
	tb_init(&t, 1, 9, 9, ALL);
	tb_op(&t, OP_GLOBAL_AVGPOOL, tb_slide(&t, OP_LIFT, 0, 3, 3, 1, 0, 1), 0);
	ck_assert_uint_eq(lint_exact(&t), ALL);
}
END_TEST

/* T_g leaves a 1x1 filter alone, so a 1x1 lift gives equal planes along the group axis
 * and a 1x1 gconv sums over the whole group: the permutation of such a G-map's group axis
 * changes nothing, and a linear layer on its global pool is invariant. */
START_TEST(one_by_one_lift_is_flat_along_the_group)
{
	static TB t;
	for (int k2 = 1; k2 <= 3; k2++) {
		tb_init(&t, 1, 9, 9, ALL);
		int v = tb_slide(&t, OP_LIFT, 0, 3, 1, 1, 0, 1);
		v = tb_slide(&t, OP_GCONV, tb_op(&t, OP_RELU, v, 0), 3, k2, 1, k2 / 2, 1);
		tb_op(&t, OP_LINEAR, tb_op(&t, OP_GLOBAL_AVGPOOL, v, 0), 5);
		ck_assert_uint_eq(lint_exact(&t), k2 == 1 ? ALL : 1u);
	}
}
END_TEST

START_TEST(flatten_then_linear)
{
	static TB t;
	for (int h = 1; h <= 4; h++)
		for (int w = 1; w <= 4; w++) {
			unsigned mask = h == w ? ALL : PMM;
			tb_init(&t, 2, h, w, mask);
			tb_op(&t, OP_LINEAR, tb_op(&t, OP_FLATTEN, 0, 0), 3);
			unsigned want = plane_fixers(h, w) & group_of(mask).mask;
			ck_assert_uint_eq(lint_exact(&t), want);
		}
	/* a flattened G-map is permuted along its group axis even at 1x1 */
	tb_init(&t, 1, 3, 3, ALL);
	int v = tb_slide(&t, OP_LIFT, 0, 2, 3, 1, 0, 1);
	tb_op(&t, OP_LINEAR, tb_op(&t, OP_FLATTEN, v, 0), 3);
	ck_assert_uint_eq(lint_exact(&t), 1u);
}
END_TEST

START_TEST(add_of_vectors_and_branches)
{
	static TB t;
	/* invariant + permuted vector: nothing but e survives */
	tb_init(&t, 1, 9, 9, ALL);
	int v = tb_slide(&t, OP_LIFT, 0, 3, 3, 1, 0, 1);
	int a = tb_op(&t, OP_GLOBAL_AVGPOOL, v, 0);
	int b = tb_op(&t, OP_GLOBAL_AVGPOOL, tb_op(&t, OP_GPOOL, v, 0), 0);
	b = tb_op(&t, OP_LINEAR, b, 24); /* a's length, as `+` needs */
	ck_assert_int_gt(tb_add(&t, a, b), 0);
	ck_assert_int_eq(t.value[t.m.output].act, VA_MIXED);
	ck_assert_uint_eq(lint_exact(&t), 1u);
	/* two centred branches with different grids: the sum is exact */
	tb_init(&t, 1, 29, 29, ALL);
	a = tb_slide(&t, OP_MAXPOOL, 0, 0, 3, 2, 0, 1);  /* 14, stride 2 */
	b = tb_slide(&t, OP_AVGPOOL, 0, 0, 16, 1, 0, 1); /* 14, stride 1 */
	tb_add(&t, a, b);
	ck_assert_uint_eq(lint_exact(&t), ALL);
	/* one off-centre branch breaks the sum */
	tb_init(&t, 1, 28, 28, ALL);
	a = tb_slide(&t, OP_MAXPOOL, 0, 0, 3, 2, 1, 1); /* 14, R = 1 */
	b = tb_slide(&t, OP_MAXPOOL, 0, 0, 2, 2, 0, 1); /* 14, R = 0 */
	tb_add(&t, a, b);
	ck_assert_uint_eq(lint_exact(&t), 1u | 1u << 7);
}
END_TEST

START_TEST(p1_has_nothing_to_warn_about)
{
	static TB t;
	tb_init(&t, 1, 29, 29, 1u);
	int v = tb_slide(&t, OP_CONV, 0, 4, 3, 2, 0, 1);
	v = tb_slide(&t, OP_MAXPOOL, v, 0, 2, 2, 0, 1);
	tb_op(&t, OP_LINEAR, tb_op(&t, OP_FLATTEN, v, 0), 3);
	Arena *a = arena_new();
	char *text;
	int nwarn;
	Lint *l = run_lint(&t, a, &text, &nwarn);
	ck_assert_str_eq(text, "");
	ck_assert_int_eq(nwarn, 0);
	ck_assert_uint_eq(l->exact, 1u);
	free(text);
	arena_free(a);
}
END_TEST

/* ---- the notes: their arithmetic and their fixes must hold ---- */

START_TEST(note_shows_the_arithmetic)
{
	static TB t;
	for (int i = 0; i < 200; i++) {
		int n = irand(8, 40), k = irand(1, 5), s = irand(2, 3), p = irand(0, k / 2);
		tb_init(&t, 1, n, n, 0xf);
		tb_slide(&t, OP_MAXPOOL, 0, 0, k, s, p, 1);
		int r = (n + 2 * p - (k - 1) - 1) % s;
		Arena *a = arena_new();
		char *text, want[128];
		int nwarn;
		run_lint(&t, a, &text, &nwarn);
		ck_assert_int_eq(nwarn, r != 0);
		snprintf(want, sizeof want, "(%d + 2*%d - 1*(%d-1) - 1) mod %d = %d on both axes",
		        n, p, k, s, r);
		ck_assert(r == 0 || strstr(text, want));
		snprintf(want, sizeof want, "moves %g px up and left", r / 2.0);
		ck_assert(r == 0 || strstr(text, want));
		ck_assert(r == 0 ||
		          strstr(text, "not exactly equivariant to r, r2, r3 [-Wequivariance]"));
		free(text);
		arena_free(a);
	}
}
END_TEST

/* Reads "nearest input sizes ...: 28x28, 30x30" (either side may be missing). */
static int parse_sizes(const char *text, int sz[2][2])
{
	const char *s = strstr(text, "nearest input sizes");
	if (!s)
		return 0;
	s = strchr(s, ':') + 1;
	int n = 0;
	while (n < 2 && sscanf(s, " %dx%d", &sz[n][0], &sz[n][1]) == 2) {
		n++;
		s = strchr(s, ',');
		if (!s)
			break;
		s++;
	}
	return n;
}

/* Elements that some layer's grid breaks. */
static unsigned grid_breaks(const Lint *l, const TB *t)
{
	unsigned b = 0;
	for (int i = 0; i < t->m.nlayers; i++)
		if (!l->layer[i].self_break)
			b |= l->layer[i].breaks;
	return b;
}

static bool sizes_work(const Step *st, int n, unsigned mask, int H, int W)
{
	static TB t;
	if (!build_chain(&t, H, W, mask, st, n))
		return false;
	Arena *a = arena_new();
	char *text;
	Lint *l = run_lint(&t, a, &text, NULL);
	bool ok = grid_breaks(l, &t) == 0;
	free(text);
	arena_free(a);
	return ok;
}

/* Whether every sliding layer of the chain has residue 0 on the axes in `axes` at H x W
 * (and the chain fits), from the formula applied to the sizes the chain really has. */
static bool chain_centred(const Step *st, int n, unsigned mask, int H, int W, unsigned axes)
{
	static TB t;
	if (!build_chain(&t, H, W, mask, st, n))
		return false;
	for (int i = 0; i < n; i++) {
		const Layer *L = &t.layer[i];
		int size[2] = {L->in_shape.h, L->in_shape.w};
		for (int a = 0; a < 2; a++)
			if (st[i].k && axes & 1u << a &&
			        (size[a] + 2 * L->p - L->d * (L->k - 1) - 1) % L->s != 0)
				return false;
	}
	return true;
}

/* The nearest size below (dir -1) or above (dir +1) by trying every size, or 0. */
static int brute_nearest(const Step *st, int n, unsigned mask, int H, int W, int axis, int dir)
{
	bool square = mask == ALL || mask == 0xf;
	int from = axis ? W : H;
	for (int u = from + dir; u >= 1 && u <= from + 200; u += dir) {
		int h = square || axis == 0 ? u : H, w = square || axis == 1 ? u : W;
		if (chain_centred(st, n, mask, h, w, square ? 3u : 1u << axis))
			return u;
	}
	return 0;
}

START_TEST(suggested_sizes_are_nearest_and_exact)
{
	static TB t;
	int checked = 0;
	while (checked < 300) {
		Step st[MAXL];
		int n = random_chain(st);
		int H = irand(4, 36), W = irand(0, 1) ? H : irand(4, 36);
		unsigned mask = H == W ? (irand(0, 1) ? ALL : 0xf) : PMM;
		if (!build_chain(&t, H, W, mask, st, n))
			continue;
		Arena *a = arena_new();
		char *text;
		Lint *l = run_lint(&t, a, &text, NULL);
		int sz[2][2], ns = parse_sizes(text, sz);
		bool broken = grid_breaks(l, &t) != 0;
		ck_assert(ns == 0 || broken);
		if (broken) {
			/* per axis: the nearest sizes, or the current one if that axis is fine */
			int want[2][2], found = 0;
			for (int side = 0; side < 2; side++) {
				int dir = side ? 1 : -1, ok = 1;
				for (int ax = 0; ax < 2; ax++) {
					int cur = ax ? W : H;
					bool fine = chain_centred(st, n, mask, H, W, 1u << ax);
					want[side][ax] =
					        fine && mask == PMM
					                ? cur
					                : brute_nearest(st, n, mask, H, W, ax, dir);
					ok &= want[side][ax] != 0;
				}
				if (ok)
					memcpy(want[found++], want[side], sizeof want[side]);
			}
			ck_assert_int_eq(ns, found);
			for (int i = 0; i < ns; i++) {
				ck_assert_int_eq(sz[i][0], want[i][0]);
				ck_assert_int_eq(sz[i][1], want[i][1]);
				ck_assert(sizes_work(st, n, mask, sz[i][0], sz[i][1]));
			}
			checked += ns > 0;
		}
		free(text);
		arena_free(a);
	}
}
END_TEST

/* Reads "...: maxpool(h, 3, s=2)" or "lift(x, C, k=3, s=2, p=1)" into k, s, p. */
static bool parse_fix(const char *text, int *k, int *s, int *p)
{
	const char *f = strstr(text, "samples a centred grid");
	if (!f)
		return false;
	const char *c = f;
	while (c > text && *c != '(')
		c--;
	const char *kw = strstr(c, "k=");
	*p = 0;
	if (kw && kw < f) {
		sscanf(kw, "k=%d", k);
		*s = 1;
	} else {
		const char *comma = strchr(c, ',');
		sscanf(comma + 1, " %d", k);
		*s = *k;
	}
	const char *ss = strstr(c, "s="), *ps = strstr(c, "p=");
	if (ss && ss < f)
		sscanf(ss, "s=%d", s);
	if (ps && ps < f)
		sscanf(ps, "p=%d", p);
	return true;
}

/* Every change of padding, or of the kernel by at most 2 with any valid padding, that
 * centres a one-layer model's grid: whether any exists, any keeps the output size, and
 * any changes only the padding while keeping it. */
typedef struct Fixes {
	bool any, same_out, pad_same_out;
} Fixes;

static Fixes brute_fixes(int n, int k, int s, int p, bool pool)
{
	Fixes f = {0};
	int out = out_size(n, k, s, p, 1);
	for (int k2 = k - 2; k2 <= k + 2; k2++)
		for (int p2 = 0; k2 >= 1 && p2 <= (pool ? k2 / 2 : k2 - 1); p2++) {
			int o = out_size(n, k2, s, p2, 1);
			if ((k2 == k && p2 == p) || o <= 0 || (n + 2 * p2 - k2) % s != 0)
				continue;
			f.any = true;
			f.same_out |= o == out;
			f.pad_same_out |= o == out && k2 == k;
		}
	return f;
}

START_TEST(suggested_layer_change_centres_it)
{
	static TB t;
	int checked = 0;
	for (int i = 0; i < 600; i++) {
		int n = irand(6, 40), k = irand(1, 5), s = irand(2, 4);
		bool pool = irand(0, 1);
		int p = irand(0, pool ? k / 2 : 2);
		tb_init(&t, 1, n, n, ALL);
		if (tb_slide(&t, pool ? OP_AVGPOOL : OP_LIFT, 0, 3, k, s, p, 1) < 0)
			continue;
		Arena *a = arena_new();
		char *text;
		run_lint(&t, a, &text, NULL);
		Fixes want = brute_fixes(n, k, s, p, pool);
		int k2, s2, p2;
		bool said = parse_fix(text, &k2, &s2, &p2);
		ck_assert_int_eq(said, want.any && (n + 2 * p - k) % s != 0);
		if (said) {
			ck_assert_int_eq(s2, s);
			ck_assert(k2 != k || p2 != p);
			ck_assert(abs(k2 - k) <= 2 && (!pool || p2 <= k2 / 2));
			int o2 = out_size(n, k2, s, p2, 1), o = out_size(n, k, s, p, 1);
			ck_assert(!want.same_out || o2 == o);
			ck_assert(!want.pad_same_out || k2 == k);
			tb_init(&t, 1, n, n, ALL);
			ck_assert(
			        tb_slide(&t, pool ? OP_AVGPOOL : OP_LIFT, 0, 3, k2, s, p2, 1) > 0);
			ck_assert_uint_eq(lint_exact(&t), ALL);
			checked++;
		}
		free(text);
		arena_free(a);
	}
	ck_assert_int_gt(checked, 100);
}
END_TEST

/* The example of SPEC §4, line by line. */
START_TEST(spec_example)
{
	static TB t;
	tb_init(&t, 1, 29, 29, 0xf);
	tb_slide(&t, OP_MAXPOOL, 0, 0, 2, 2, 0, 1);
	Arena *a = arena_new();
	char *text;
	run_lint(&t, a, &text, NULL);
	ck_assert(strstr(text, "t.geq:2:5: warning: maxpool samples an off-centre grid: not "
	                       "exactly equivariant to r, r2, r3 [-Wequivariance]\n"));
	ck_assert(strstr(text, "mod 2 = 1 on both axes, so the last row and column are never "
	                       "sampled"));
	ck_assert(strstr(text, "t.geq:1:9: note: nearest input sizes that make every layer exact: "
	                       "28x28, 30x30\n"));
	ck_assert(strstr(text, "t.geq:2:5: note: or keep 29x29: maxpool(..., 3, s=2) samples a "
	                       "centred grid\n"));
	free(text);
	arena_free(a);
}
END_TEST

/* ---- --lint-json ---- */

static json_t *names_json(unsigned mask)
{
	json_t *a = json_array();
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (mask & 1u << g)
			json_array_append_new(a, json_string(d4_name[g]));
	return a;
}

START_TEST(json_is_valid_and_agrees)
{
	static TB t;
	for (int i = 0; i < 200; i++) {
		Step st[MAXL];
		int n = random_chain(st);
		int H = irand(4, 30), W = irand(0, 1) ? H : irand(4, 30);
		unsigned mask = H == W ? ALL : PMM;
		if (!build_chain(&t, H, W, mask, st, n))
			continue;
		t.m.name = "odd \"name\"\\\n\x01";
		Arena *a = arena_new();
		char *text, *js;
		size_t len;
		Lint *l = run_lint(&t, a, &text, NULL);
		FILE *f = open_memstream(&js, &len);
		lint_json(f, &t.m, l);
		fclose(f);
		json_error_t err;
		json_t *root = json_loads(js, 0, &err);
		ck_assert_msg(root != NULL, "%s: %s", err.text, js);
		ck_assert_str_eq(json_string_value(json_object_get(root, "model")), t.m.name);
		json_t *want = names_json(t.m.group.mask);
		ck_assert(json_equal(json_object_get(root, "elements"), want));
		json_decref(want);
		want = names_json(l->exact);
		ck_assert(json_equal(json_object_get(root, "exact"), want));
		json_decref(want);
		want = names_json(t.m.group.mask & ~l->exact);
		ck_assert(json_equal(json_object_get(root, "broken"), want));
		json_decref(want);
		json_t *layers = json_object_get(root, "layers");
		ck_assert_int_eq((int)json_array_size(layers), t.m.nlayers);
		for (int j = 0; j < t.m.nlayers; j++) {
			json_t *L = json_array_get(layers, j);
			json_t *res = json_object_get(L, "residue");
			ck_assert_int_eq(json_is_null(res), !(st[j].k && st[j].s > 1));
			if (!json_is_null(res))
				ck_assert_int_eq(json_integer_value(json_array_get(res, 1)),
				        l->layer[j].res[1]);
			json_t *sh = json_array_get(json_object_get(L, "shift"), 0);
			ck_assert(json_number_value(sh) == l->layer[j].shift[0]);
			int in_dims = t.layer[j].in_shape.kind == K_GMAP ? 4 : 3;
			ck_assert_int_eq(
			        (int)json_array_size(json_object_get(L, "input")), in_dims);
			want = names_json(l->layer[j].breaks);
			ck_assert(json_equal(json_object_get(L, "breaks"), want));
			json_decref(want);
		}
		json_decref(root);
		free(js);
		free(text);
		arena_free(a);
	}
}
END_TEST

/* ---- --sizes: the sweep against brute force, and its pattern as a prediction ---- */

/* The chain as .geq source on an N x N input (N is replaced by the sweep), then a head:
 * 0 none, 1 an invariant one (global pool, linear), 2 linear on a flattened map (a break
 * by itself unless the map is 1x1). */
static char *chain_source_head(const Step *st, int n, int head, int N)
{
	char *src;
	size_t len;
	FILE *f = open_memstream(&src, &len);
	fprintf(f, "model t(x: [1, %d, %d]) on p4m {\n    h = x;\n", N, N);
	for (int i = 0; i < n; i++) {
		const char *op = op_info[st[i].op].name;
		bool pool = st[i].op == OP_MAXPOOL || st[i].op == OP_AVGPOOL;
		if (st[i].op == OP_GPOOL)
			fputs("    h = gpool(h, max);\n", f);
		else if (!st[i].k)
			fprintf(f, "    h = %s(h);\n", op);
		else if (pool)
			fprintf(f, "    h = %s(h, %d, s=%d, p=%d);\n", op, st[i].k, st[i].s,
			        st[i].p);
		else
			fprintf(f, "    h = %s(h, 2, k=%d, s=%d, p=%d, d=%d);\n", op, st[i].k,
			        st[i].s, st[i].p, st[i].d);
	}
	if (head == 1)
		fputs("    h = linear(global_avgpool(h), 3);\n", f);
	if (head == 2)
		fputs("    h = linear(flatten(h), 3);\n", f);
	fputs("    return h;\n}\n", f);
	fclose(f);
	return src;
}

static char *chain_source(const Step *st, int n)
{
	return chain_source_head(st, n, 0, 8);
}

/* The brute-force verdict at N x N, or -1 if some window does not fit. */
static int brute_at(TB *t, const Step *st, int n, int N)
{
	double shift[MAXL][2];
	int stride[MAXL][2];
	if (!build_chain(t, N, N, ALL, st, n))
		return -1;
	return (int)brute_exact(t, st, n, shift, stride);
}

static bool sweep_case(const Step *st, int n, int lo, int hi)
{
	static TB t;
	char *src = chain_source(st, n);
	Arena *a = arena_new();
	Diag d = {.file = "t.geq", .src = src, .srclen = strlen(src)};
	Program *p = parse_program(src, d.srclen, a, &d);
	ck_assert_msg(p != NULL, "%s", src);
	int N0 = lo;
	while (N0 <= hi && brute_at(&t, st, n, N0) < 0)
		N0++;
	bool tested = N0 <= hi;
	Model *m =
	        tested ? (p->model->dims[1]->i = p->model->dims[2]->i = N0, check_program(p, a, &d))
	               : NULL;
	ck_assert_msg(!tested || m, "%s at %d: %d errors", src, N0, d.nerrors);
	SizeSweep *sw = m ? sizes_sweep(p, m, &d, lo, hi, a) : NULL;
	for (int N = lo; sw && N <= hi; N++) {
		const SizeVerdict *v = &sw->v[N - lo];
		int want = brute_at(&t, st, n, N);
		ck_assert_msg(v->ok == (want >= 0), "%s at %d: checks %d", src, N, v->ok);
		ck_assert_msg(!v->ok || v->exact == (unsigned)want,
		        "%s at %d: sweep %#x, brute %#x", src, N, v->exact, want);
	}
	/* a complete rule predicts every size past the sweep */
	const SizeRule *r = sw ? &sw->rule[0] : NULL;
	for (int N = hi + 1; r && r->complete && N <= hi + 2 * r->period; N++) {
		int want = brute_at(&t, st, n, N);
		ck_assert_msg(want >= 0 && (want == ALL) == r->res[N % r->period],
		        "%s: the rule (period %d) mispredicts %d", src, r->period, N);
	}
	arena_free(a);
	free(src);
	return tested;
}

START_TEST(sizes_match_brute_force)
{
	int tested = 0;
	while (tested < 150) {
		Step st[MAXL];
		int n = random_chain(st);
		int lo = irand(1, 12), hi = lo + irand(8, 40);
		tested += sweep_case(st, n, lo, hi);
	}
}
END_TEST

/* ---- suggested sizes are verified: each lints exact, and "no size" means none does ---- */

/* The lint of src with main's probe; checks every size it suggests, and that a "no input
 * size within W px" note is true of every square size within W. */
static void check_suggestions(const char *src, int N, int *suggested, int *none, int *tested)
{
	char *text;
	size_t len;
	Arena *a = arena_new();
	FILE *f = open_memstream(&text, &len);
	Diag d = {.file = "t.geq", .src = src, .srclen = strlen(src), .out = f};
	Program *p = parse_program(src, d.srclen, a, &d);
	p = p ? expand_program(p, a, &d) : NULL;
	Model *m = p ? check_program(p, a, &d) : NULL;
	SizeProbe sp = {p, &d, N, N};
	LintProbe probe = {sizes_exact_at, sizes_exact_with, &sp};
	if (m)
		lint_model_probed(m, a, &d, &probe);
	fclose(f);
	unwrap(text);
	int sz[2][2], ns = m ? parse_sizes(text, sz) : 0;
	for (int i = 0; i < ns; i++)
		ck_assert_msg(sizes_exact_at(&sp, sz[i][0], sz[i][1]),
		        "%s suggests %dx%d, which does not lint exact:\n%s", src, sz[i][0],
		        sz[i][1], text);
	const char *at = m ? strstr(text, "no input size within") : NULL;
	int window;
	if (at) {
		ck_assert(sscanf(at, "no input size within %d px", &window) == 1);
		for (int t = N - window; t <= N + window; t++)
			ck_assert_msg(t < 1 || t == N || !sizes_exact_at(&sp, t, t),
			        "%s: no size, but %dx%d lints exact", src, t, t);
		(*none)++;
	}
	*suggested += ns > 0;
	*tested += m != NULL;
	free(text);
	arena_free(a);
}

START_TEST(suggested_sizes_lint_exact)
{
	int tested = 0, suggested = 0, none = 0;
	while (tested < 120) {
		Step st[MAXL];
		int n = random_chain(st), N = irand(4, 30);
		char *src = chain_source_head(st, n, irand(0, 2), N);
		check_suggestions(src, N, &suggested, &none, &tested);
		free(src);
	}
	ck_assert_msg(suggested > 10 && none > 3, "%d suggested, %d none", suggested, none);
}
END_TEST

/* ---- -Wgrid-alignment: against the grids' formula, and free of the operands' order ---- */

/* A pool of the input, b = {k, s, p, avg}: its grid on each axis starts at (k-1)/2 - p
 * with step s. */
static int pool_branch(TB *t, const int *b)
{
	return tb_slide(t, b[3] ? OP_AVGPOOL : OP_MAXPOOL, 0, 0, b[0], b[1], b[2], 1);
}

/* The lint of `x + y` (or `y + x`) of two pools of an n x n input, then a 2x2 max pool;
 * NULL if the model does not check. */
static Lint *lint_sum(TB *t, Arena *a, int n, const int *x, const int *y, bool swap, char **text)
{
	tb_init(t, 1, n, n, ALL);
	int u = pool_branch(t, swap ? y : x), v = pool_branch(t, swap ? x : y);
	if (u < 0 || v < 0 || tb_add(t, u, v) < 0 || tb_slide(t, OP_MAXPOOL, 3, 0, 2, 2, 0, 1) < 0)
		return NULL;
	return run_lint(t, a, text, NULL);
}

static bool same_number(double x, double y)
{
	return x == y || (isnan(x) && isnan(y));
}

START_TEST(grid_alignment_is_order_free)
{
	static TB t;
	int warned = 0, quiet = 0;
	for (int round = 0; round < 100000 && (warned < 40 || quiet < 40); round++) {
		int n = irand(8, 30), x[4], y[4];
		for (int *b = x; b; b = b == x ? y : NULL) {
			b[0] = irand(1, 4), b[1] = irand(1, 3), b[2] = irand(0, b[0] / 2);
			b[3] = irand(0, 1);
		}
		Arena *a = arena_new();
		char *t1 = NULL, *t2 = NULL;
		Lint *l1 = lint_sum(&t, a, n, x, y, false, &t1);
		Lint *l2 = l1 ? lint_sum(&t, a, n, x, y, true, &t2) : NULL;
		if (l2) {
			bool differ =
			        (x[0] - 1) / 2.0 - x[2] != (y[0] - 1) / 2.0 - y[2] || x[1] != y[1];
			ck_assert_int_eq(strstr(t1, "[-Wgrid-alignment]") != NULL, differ);
			ck_assert_int_eq(strstr(t2, "[-Wgrid-alignment]") != NULL, differ);
			ck_assert_uint_eq(l1->exact, l2->exact);
			for (int i = 2; i < 4; i++) /* the sum and the pool after it */
				for (int ax = 0; ax < 2; ax++) {
					ck_assert(same_number(
					        l1->layer[i].shift[ax], l2->layer[i].shift[ax]));
					ck_assert(same_number(
					        l1->layer[i].stride[ax], l2->layer[i].stride[ax]));
					ck_assert(isnan(l1->layer[i].shift[ax]) == differ);
				}
			ck_assert_uint_eq(l1->layer[3].breaks, l2->layer[3].breaks);
			warned += differ;
			quiet += !differ;
		}
		free(t1);
		free(t2);
		arena_free(a);
	}
	ck_assert_msg(warned >= 40 && quiet >= 40, "%d warned, %d quiet", warned, quiet);
}
END_TEST

static Suite *lint_suite(void)
{
	Suite *s = suite_create("lint");
	TCase *tc = tcase_create("lint");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, single_layer_residue_and_shift);
	tcase_add_test(tc, chains_match_brute_force);
	tcase_add_test(tc, survivors);
	tcase_add_test(tc, conv_breaks_all_but_e);
	tcase_add_test(tc, linear_needs_an_invariant_vector);
	tcase_add_test(tc, one_by_one_lift_is_flat_along_the_group);
	tcase_add_test(tc, flatten_then_linear);
	tcase_add_test(tc, add_of_vectors_and_branches);
	tcase_add_test(tc, p1_has_nothing_to_warn_about);
	tcase_add_test(tc, note_shows_the_arithmetic);
	tcase_add_test(tc, suggested_sizes_are_nearest_and_exact);
	tcase_add_test(tc, suggested_layer_change_centres_it);
	tcase_add_test(tc, spec_example);
	tcase_add_test(tc, json_is_valid_and_agrees);
	tcase_add_test(tc, sizes_match_brute_force);
	tcase_add_test(tc, suggested_sizes_lint_exact);
	tcase_add_test(tc, grid_alignment_is_order_free);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lint_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
