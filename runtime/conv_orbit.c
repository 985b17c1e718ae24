/* conv_orbit.c: a lift or gconv run on the identity element's filters only. In the bank
 * that gq_expand_gconv builds, row (o, a) is element g = elem[a] acting on row (o, e):
 * its filters rotated by T_g and its input slots permuted. Where the layer's sampling grid
 * is symmetric, convolution commutes with T_g, so
 *
 *   out[o, a] = T_g( conv(X_a, W_e)[o] ),   X_a[i, b] = T_g^-1( in[i, axis(g elem[b])] )
 *
 * (a lift: X_a = T_g^-1(in)), bias and the folded bn being the same on every element. The
 * ng copies X_a are stacked one above the other in two tall images, half of the copies in
 * each, with enough zero rows between them that no output reads across, and each tall
 * image is one convolution (on its own thread) with the ng-times-smaller bank (any
 * algorithm conv_fast.c has): the bank streams once for all the copies of a half, and the
 * products are ng/2 times wider. The scatter then applies T_g to each copy's output,
 * adding the residual and clamping at 0. */
#include <stdlib.h>
#include <string.h>

#include "conv_orbit.h"

struct gq_orbit {
	int ng, cin, h, w, cout, k, p, oh, ow; /* cin as the expanded conv's; cout the base's */
	int nh;          /* copies stacked in one image: half of them, one image per thread */
	int step, ostep; /* rows from one copy to the next: stacked input, stacked output */
	int th, toh;     /* rows of the stacked input and output */
	bool par;        /* the halves run on two threads when there are two */
	int e_axis;      /* where the identity is on the group axis */
	bool lift, relu;
	bool padded;           /* the base plan takes its input padded (gq_conv_padded) */
	int rows[GQ_D4_ORDER]; /* copy a's rows are its source's: 1 in order, -1 reversed, 0 not */
	int src[GQ_D4_ORDER][GQ_D4_ORDER]; /* gconv: copy a's slot b is the input's src[a][b] */
	int *tin;  /* [ng][h*w]: pixel i of copy a is pixel tin[a*h*w + i] of its source */
	int *tout; /* [ng][oh*ow]: pixel i of out[o, a] is pixel tout[a*oh*ow + i] of copy a */
	gq_conv *base;
};

static int axis_of(const int *elem, int ng, int x)
{
	for (int a = 0; a < ng; a++)
		if (elem[a] == x)
			return a;
	return -1;
}

/* The output grid of an axis of n is symmetric: the last window ends on the padding's
 * last pixel, as the first starts on its first. */
static bool symmetric(int n, int k, int s, int p, int d)
{
	int span = n + 2 * p - d * (k - 1) - 1;
	return span >= 0 && span % s == 0;
}

/* Whether the orbit computes the layer exactly (to float rounding): elem a group with
 * the identity in it whose elements map the grid onto itself, and the channels divide. */
static bool orbit_applies(int cin, int h, int w, int cout, int k, int s, int p, int d, int ng,
        const int *elem, bool lift)
{
	if (cin < 1 || h < 1 || w < 1 || cout < 1 || k < 1 || s < 1 || p < 0 || d < 1 || !elem)
		return false;
	if (ng < 2 || ng > GQ_D4_ORDER || cout % ng || (!lift && cin % ng) ||
	        axis_of(elem, ng, 0) < 0 || !symmetric(h, k, s, p, d) || !symmetric(w, k, s, p, d))
		return false;
	for (int a = 0; a < ng; a++) {
		if (elem[a] < 0 || elem[a] >= GQ_D4_ORDER || (gq_d4_swaps_axes(elem[a]) && h != w))
			return false;
		for (int b = 0; b < ng; b++)
			if (axis_of(elem, ng, gq_d4_mul(elem[a], elem[b])) < 0)
				return false; /* not closed: not a group */
	}
	return true;
}

/* tab[n*a + j] = i where T_g (g = elem[a], or its inverse) sends pixel i to pixel j. */
static void point_tables(int *tab, const int *elem, int ng, int h, int w, bool inverse)
{
	size_t n = (size_t)h * w;
	for (int a = 0; a < ng; a++)
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				int g = inverse ? gq_d4_inv(elem[a]) : elem[a], oy, ox;
				gq_d4_point(g, h, w, y, x, &oy, &ox);
				tab[n * a + (size_t)oy * w + ox] =
				        y * w + x; /* square if g swaps */
			}
}

/* The cost of a half (multiply-adds, as the planner counts them) below which the layer
 * runs on one thread: about conv_fast.c's PAR_COST, where a second thread begins to pay
 * for the hand-off. */
enum { PAR_COST = 1000000 };

static void orbit_shape(gq_orbit *o, int k, int s, int p, int d)
{
	o->oh = (o->h + 2 * p - d * (k - 1) - 1) / s + 1;
	o->ow = (o->w + 2 * p - d * (k - 1) - 1) / s + 1;
	/* copy a + 1's first window starts p rows above it, and must see only zeros there */
	o->step = (o->h + p + s - 1) / s * s;
	o->ostep = o->step / s;
	o->nh = (o->ng + 1) / 2;
	o->th = (o->nh - 1) * o->step + o->h;
	o->toh = (o->nh - 1) * o->ostep + o->oh;
}

static void orbit_tables(gq_orbit *o, const int *elem)
{
	for (int a = 0; a < o->ng; a++)
		for (int b = 0; b < o->ng; b++)
			o->src[a][b] = axis_of(elem, o->ng, gq_d4_mul(elem[a], elem[b]));
	o->e_axis = axis_of(elem, o->ng, 0);
	point_tables(o->tin, elem, o->ng, o->h, o->w, true);
	point_tables(o->tout, elem, o->ng, o->oh, o->ow, false);
	for (int a = 0; a < o->ng; a++) /* T_e and T_r2 m keep rows in order; r2, m reverse */
		o->rows[a] = gq_d4_swaps_axes(elem[a]) ? 0 : elem[a] == 0 || elem[a] == 6 ? 1 : -1;
	int hp, wq;
	float dummy;
	o->padded = gq_conv_padded(o->base, &dummy, &hp, &wq) != NULL;
}

gq_conv *gq_conv_new_orbit(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu,
        int ng, const int *elem, bool lift)
{
	if (!orbit_applies(cin, h, w, cout, k, s, p, d, ng, elem, lift))
		return NULL;
	gq_orbit *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	*o = (gq_orbit){.ng = ng,
	        .cin = cin,
	        .h = h,
	        .w = w,
	        .cout = cout / ng,
	        .k = k,
	        .p = p,
	        .lift = lift,
	        .relu = relu};
	orbit_shape(o, k, s, p, d);
	o->tin = malloc((size_t)ng * h * w * sizeof *o->tin);
	o->tout = malloc((size_t)ng * o->oh * o->ow * sizeof *o->tout);
	o->base = gq_conv_new(cin, o->th, w, o->cout, k, s, p, d, false);
	if (!o->tin || !o->tout || !o->base) {
		gq_orbit_free(o);
		return NULL;
	}
	orbit_tables(o, elem);
	size_t bytes;
	o->par = gq_conv_estimate(cin, o->th, w, o->cout, k, s, p, d, false, &bytes) >= PAR_COST;
	return gq_conv_wrap_orbit(o);
}

void gq_orbit_free(gq_orbit *o)
{
	if (!o)
		return;
	gq_conv_free(o->base);
	free(o->tin);
	free(o->tout);
	free(o);
}

/* The expanded bank's rows (o, e), with their bias: the identity's filters. */
void gq_orbit_set(gq_orbit *o, const float *w, const float *bias)
{
	size_t row = (size_t)o->cin * o->k * o->k;
	gq_conv_set_rows(o->base, w + o->e_axis * row, o->ng * row, bias ? bias + o->e_axis : NULL,
	        (size_t)o->ng);
}

const gq_conv *gq_orbit_base(const gq_orbit *o)
{
	return o->base;
}

int gq_orbit_size(const gq_orbit *o)
{
	return o->ng;
}

/* The stacked input when the base plan does not take it padded (gq_conv_padded). */
static size_t x_floats(const gq_orbit *o)
{
	return o->padded ? 0 : ((size_t)o->cin * o->th * o->w + 15) / 16 * 16;
}

static size_t y_floats(const gq_orbit *o)
{
	return ((size_t)o->cout * o->toh * o->ow + 15) / 16 * 16;
}

/* One half's: its stacked output, input and the base plan's scratch, with 16 floats more
 * for Y to start on a cache line wherever the caller's scratch starts. */
static size_t half_floats(const gq_orbit *o)
{
	return 16 + y_floats(o) + x_floats(o) + gq_conv_scratch(o->base);
}

size_t gq_orbit_scratch(const gq_orbit *o)
{
	return 2 * half_floats(o);
}

/* ---- running it: gather, one convolution, scatter, for each half of the copies ---- */

/* Where the gather writes: plane ci at X + ci*plane, the half's copy a's pixel (y, x) at
 * row row0 + a*step + y, column col0 + x of rows ld floats long. */
typedef struct Stack {
	float *X;
	size_t plane, ld;
	int row0, col0;
} Stack;

typedef struct Job {
	const gq_orbit *o;
	float *out, *scratch;
	const float *in, *add;
} Job;

/* Copy a's plane from src: each row of T_g^-1 is a row of src in order or reversed
 * (elements that keep the axes), or a column (those that swap them). */
static void permute(
        const gq_orbit *o, float *restrict dst, size_t ld, const float *restrict src, int a)
{
	const int *tab = o->tin + (size_t)a * o->h * o->w;
	for (int y = 0; y < o->h; y++, dst += ld, tab += o->w) {
		if (o->rows[a] > 0)
			memcpy(dst, src + tab[0], (size_t)o->w * sizeof *dst);
		else if (o->rows[a] < 0)
			for (int x = 0; x < o->w; x++)
				dst[x] = src[tab[0] - x];
		else
			for (int x = 0; x < o->w; x++)
				dst[x] = src[tab[x]];
	}
}

/* Input channel ci (of the expanded conv: c*ng + b for a gconv) of copies [a0, a1). */
static void gather(const Job *j, const Stack *x, int ci, int a0, int a1)
{
	const gq_orbit *o = j->o;
	size_t hw = (size_t)o->h * o->w;
	float *pl = x->X + ci * x->plane;
	/* the plane zeroed at once, then the copies over it: cheaper than a call for each
	 * row's few zeros on either side (as pad_input) */
	memset(pl, 0, x->plane * sizeof *pl);
	for (int a = a0; a < a1; a++) {
		int from = o->lift ? ci : ci - ci % o->ng + o->src[a][ci % o->ng];
		float *dst = pl + (size_t)(x->row0 + (a - a0) * o->step) * x->ld + x->col0;
		permute(o, dst, x->ld, j->in + (size_t)from * hw, a);
	}
}

/* Output plane (c, a) = T_g of plane c of the stacked output's copy i, + the residual,
 * then the relu; the residual may be out itself (each float is read before it is
 * written). */
static void scatter(const Job *j, const float *Y, int c, int a, int i)
{
	const gq_orbit *o = j->o;
	size_t n = (size_t)o->oh * o->ow, at = ((size_t)c * o->ng + a) * n;
	const float *y = Y + ((size_t)c * o->toh + (size_t)i * o->ostep) * o->ow;
	const int *tab = o->tout + a * n;
	float *dst = j->out + at;
	const float *add = j->add ? j->add + at : NULL;
	for (size_t q = 0; q < n; q++) {
		float v = y[tab[q]] + (add ? add[q] : 0.0f);
		dst[q] = o->relu && !(v > 0.0f) ? 0.0f : v;
	}
}

/* Copies [h*nh, (h+1)*nh) in the half's own scratch. The copies go straight into the
 * padded input of a Winograd base plan (its own copy would be one more pass over them),
 * else into X, the base's input. */
static void run_half(const Job *j, int h)
{
	const gq_orbit *o = j->o;
	float *Y = j->scratch + h * half_floats(o);
	Y = (float *)(((uintptr_t)Y + 63) & ~(uintptr_t)63);
	float *X = Y + y_floats(o), *bs = X + x_floats(o);
	int hp, wq, a0 = h * o->nh, a1 = a0 + o->nh < o->ng ? a0 + o->nh : o->ng;
	float *xp = gq_conv_padded(o->base, bs, &hp, &wq);
	Stack x = xp ? (Stack){xp, (size_t)hp * wq, (size_t)wq, o->p, o->p}
	             : (Stack){X, (size_t)o->th * o->w, (size_t)o->w, 0, 0};
	for (int ci = 0; ci < o->cin; ci++)
		gather(j, &x, ci, a0, a1);
	if (xp)
		gq_conv_run_padded(o->base, Y, NULL, bs);
	else
		gq_conv_run(o->base, Y, X, bs);
	for (int c = 0; c < o->cout; c++)
		for (int a = a0; a < a1; a++)
			scatter(j, Y, c, a, a - a0);
}

static void half_share(void *ctx, int t, int n)
{
	for (int h = t; h < 2; h += n)
		run_half(ctx, h);
}

/* Each thread runs half of the copies from gather to scatter, its bank (ng times smaller
 * than the expanded one) in its own caches: one hand-off for the layer. */
void gq_orbit_run(const gq_orbit *o, float *out, const float *in, const float *add, float *scratch)
{
	Job j = {o, out, scratch, in, add};
	if (o->par)
		gq_parallel(2, half_share, &j);
	else
		half_share(&j, 0, 1);
}

/* ---- the choice ---- */

/* GEQRT_ORBIT: "0" never, "1" wherever the orbit is exact; otherwise (-1) by the memory
 * ceiling. */
static int orbit_mode(void)
{
	const char *m = getenv("GEQRT_ORBIT");
	return m && (!strcmp(m, "0") || !strcmp(m, "1")) ? m[0] - '0' : -1;
}

/* Expanded banks past this many bytes (as the planner would pack them) make a layer an
 * orbit without a ceiling: AVX-512, 2 threads, alternating runs at load 3-4, the orbit ran
 * 1024 channels at 14x14 on p4m and p4 (147 MB banks) at 1.04-1.05x the expanded layer's
 * speed, a model of two 4096-channel p4m layers at 28x28 (2.4 GB banks) at 1.04x with
 * peak resident memory 5.5 GB -> 1.3 GB; smaller banks measured 0.5x-1.2x (a 65 MB one,
 * 1024 channels at 8x8, 0.71x). */
enum { ORBIT_BANK = 128 << 20 };

/* The orbit, whose bank is ng times smaller: where the expanded bank would pass
 * ORBIT_BANK, or under a memory ceiling (gq_set_memory_limit) where the ceiling would make
 * the expanded conv give up its cheapest algorithm (F(4x4) for F(2x2) or direct, up to 4
 * times the multiplies) or fit no bank at all. Elsewhere the expanded conv: at batch 1 on
 * 2 cores the orbit measured no faster on the bench models' layers, since each copy's
 * Winograd input transform is its own (ng times the expanded conv's). */
static bool orbit_wanted(int cin, int h, int w, int cout, int k, int s, int p, int d)
{
	size_t bytes;
	double held = gq_conv_estimate(cin, h, w, cout, k, s, p, d, true, &bytes);
	if (!gq_memory_limit())
		return bytes > ORBIT_BANK;
	return held > gq_conv_estimate(cin, h, w, cout, k, s, p, d, false, &bytes);
}

gq_conv *gq_conv_new_group(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu,
        int ng, const int *elem, bool lift)
{
	int mode = orbit_mode();
	bool want = mode == 1 || (mode < 0 && orbit_wanted(cin, h, w, cout, k, s, p, d));
	gq_conv *c =
	        want ? gq_conv_new_orbit(cin, h, w, cout, k, s, p, d, relu, ng, elem, lift) : NULL;
	return c ? c : gq_conv_new(cin, h, w, cout, k, s, p, d, relu);
}
