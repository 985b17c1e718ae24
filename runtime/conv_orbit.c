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
 * adding the residual and clamping at 0. Both move whole rows, reversed rows or (for the
 * elements that swap the axes) 8x8 blocks transposed in vectors. Where the orbit is
 * chosen for speed at batch 1 (gq_conv_new_in_model), the expanded plan is kept beside
 * it for the runs on one thread. */
#include <stdlib.h>
#include <string.h>

#include "conv_orbit.h"

#if defined(__x86_64__) || defined(__i386__)
#define GQ_X86 1
#endif

/* Pixel (y, x) of a plane moved by T_g is pixel at + y*dy + x*dx of the plane it comes
 * from: a row in order (dx = 1), a row reversed (dx = -1), or a column (dx = +-width,
 * dy = +-1, for the elements that swap the axes). */
typedef struct Affine {
	long at, dy, dx;
} Affine;

struct gq_orbit {
	int ng, cin, h, w, cout, k, p, oh, ow; /* cin as the expanded conv's; cout the base's */
	int nh;          /* copies stacked in one image: half of them, one image per thread */
	int gc;          /* copies side by side in a row of the image (nh / gc rows of them) */
	int step, ostep; /* rows (and columns) from one copy to the next: input, output */
	int th, tw;      /* rows and columns of the stacked input */
	int toh, tow;    /* and of the stacked output */
	bool par;        /* the halves run on two threads when there are two */
	int e_axis;      /* where the identity is on the group axis */
	bool lift, relu;
	bool padded; /* the base plan takes its input padded (gq_conv_padded) */
	bool vec;    /* the moves in AVX2 vectors (the kernel is avx2 or avx512) */
	int src[GQ_D4_ORDER][GQ_D4_ORDER]; /* gconv: copy a's slot b is the input's src[a][b] */
	Affine tin[GQ_D4_ORDER];  /* copy a's pixels in its source plane: T_g, g = elem[a] */
	Affine tout[GQ_D4_ORDER]; /* out[o, a]'s pixels in copy a's output: T_g^-1 */
	gq_conv *base;
	gq_conv *full; /* or NULL: the expanded plan, run where one thread runs the layer */
};

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
	        gq_d4_axis(elem, ng, 0) < 0 || !symmetric(h, k, s, p, d) ||
	        !symmetric(w, k, s, p, d))
		return false;
	for (int a = 0; a < ng; a++) {
		if (elem[a] < 0 || elem[a] >= GQ_D4_ORDER || (gq_d4_swaps_axes(elem[a]) && h != w))
			return false;
		for (int b = 0; b < ng; b++)
			if (gq_d4_axis(elem, ng, gq_d4_mul(elem[a], elem[b])) < 0)
				return false; /* not closed: not a group */
	}
	return true;
}

/* Pixel (y, x) of T_g^-1 of an h x w plane (a square one if g swaps the axes) is pixel
 * T_g (y, x) of the plane, whose rows are ld floats apart: gq_d4_point is affine in (y,
 * x), so three points give it. */
static Affine affine_of(int g, int h, int w, long ld)
{
	int y0, x0, y1, x1, y2, x2;
	gq_d4_point(g, h, w, 0, 0, &y0, &x0);
	gq_d4_point(g, h, w, 0, 1, &y1, &x1);
	gq_d4_point(g, h, w, 1, 0, &y2, &x2);
	long at = (long)y0 * ld + x0;
	return (Affine){at, (long)y2 * ld + x2 - at, (long)y1 * ld + x1 - at};
}

/* The cost of a half (multiply-adds, as the planner counts them) below which the layer
 * runs on one thread: about conv_fast.c's PAR_COST, where a second thread begins to pay
 * for the hand-off. */
enum { PAR_COST = 1000000 };

/* The stacked image of gc copies a row (nh / gc rows of them). */
static void orbit_grid(gq_orbit *o, int gc)
{
	int gr = (o->nh + gc - 1) / gc;
	o->gc = gc;
	o->th = (gr - 1) * o->step + o->h;
	o->tw = (gc - 1) * o->step + o->w;
	o->toh = (gr - 1) * o->ostep + o->oh;
	o->tow = (gc - 1) * o->ostep + o->ow;
}

/* Output tiles of 4x4 (F(4x4)'s) that cover the stacked output. */
static long tiles4(const gq_orbit *o)
{
	return (long)((o->toh + 3) / 4) * ((o->tow + 3) / 4);
}

/* A half's copies one above the other, or in a grid (square maps) where the planner
 * counts the base plan no dearer and it covers fewer 4x4 tiles: p4m's four copies of a
 * 9x9 map as 19x19 (25 tiles of F(4x4)) rather than 39x9 (30). The planner counts a
 * Winograd plan's tiles in whole vectors (32 either way), but its narrow products take
 * them one by one, and the padded copy is smaller: the base plan of 19x19 took 0.81-0.85x
 * the time of 39x9's (256 planes to 32, one thread, AVX-512), and the orbit of 256 planes
 * at 9x9 0.93x on two threads and on one (AVX-512), 0.89x (AVX2); of 128 planes at 17x17
 * 0.95x (AVX2; 40 distinct layers, the layouts alternating in one process, under chrt). */
static double orbit_estimate(
        const gq_orbit *o, int cin, int cout, int k, int s, int p, int d, int algo)
{
	size_t bytes;
	return algo == GQ_CONV_AUTO
	               ? gq_conv_estimate(cin, o->th, o->tw, cout, k, s, p, d, false, &bytes)
	               : gq_conv_estimate_algo(cin, o->th, o->tw, cout, k, s, p, d, algo, &bytes);
}

static void orbit_shape(gq_orbit *o, int cin, int cout, int k, int s, int p, int d, int algo)
{
	o->oh = (o->h + 2 * p - d * (k - 1) - 1) / s + 1;
	o->ow = (o->w + 2 * p - d * (k - 1) - 1) / s + 1;
	/* copy a + 1's first window starts p rows (or columns) before it, and must see only
	 * zeros there */
	o->step = (o->h + p + s - 1) / s * s;
	o->ostep = o->step / s;
	o->nh = (o->ng + 1) / 2;
	orbit_grid(o, 1);
	double best = orbit_estimate(o, cin, cout, k, s, p, d, algo);
	long tiles = tiles4(o);
	int gc = 1;
	for (int g = 2; g <= o->nh && o->h == o->w; g++) {
		orbit_grid(o, g);
		double cost = orbit_estimate(o, cin, cout, k, s, p, d, algo);
		if (cost <= best && tiles4(o) < tiles) {
			best = cost;
			tiles = tiles4(o);
			gc = g;
		}
	}
	orbit_grid(o, gc);
}

static void orbit_tables(gq_orbit *o, const int *elem)
{
	for (int a = 0; a < o->ng; a++)
		for (int b = 0; b < o->ng; b++)
			o->src[a][b] = gq_d4_axis(elem, o->ng, gq_d4_mul(elem[a], elem[b]));
	o->e_axis = gq_d4_axis(elem, o->ng, 0);
	for (int a = 0; a < o->ng; a++) {
		o->tin[a] = affine_of(elem[a], o->h, o->w, o->w);
		o->tout[a] = affine_of(gq_d4_inv(elem[a]), o->oh, o->ow, o->tow);
	}
	o->vec = strcmp(gq_conv_kernel(), "c") != 0;
	int hp, wq;
	float dummy;
	o->padded = gq_conv_padded(o->base, &dummy, &hp, &wq) != NULL;
}

/* algo: the base plan's (GQ_CONV_AUTO: the planner's choice). */
static gq_orbit *make_orbit(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu,
        int ng, const int *elem, bool lift, int algo)
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
	orbit_shape(o, cin, o->cout, k, s, p, d, algo);
	o->par = orbit_estimate(o, cin, o->cout, k, s, p, d, algo) >= PAR_COST;
	o->base = gq_conv_new_algo(cin, o->th, o->tw, o->cout, k, s, p, d, false, algo);
	if (!o->base) {
		gq_orbit_free(o);
		return NULL;
	}
	orbit_tables(o, elem);
	return o;
}

/* The orbit plan (its base plan in algo; GQ_CONV_AUTO: the planner's), with the expanded
 * plan beside it if full. */
static gq_conv *new_orbit_algo(const gq_conv_shape *c, bool full, int algo)
{
	gq_orbit *o = make_orbit(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, c->relu,
	        c->ng, c->elem, c->lift, algo);
	if (o && full &&
	        !(o->full = gq_conv_new(
	                  c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, c->relu))) {
		gq_orbit_free(o);
		return NULL;
	}
	return o ? gq_conv_wrap_orbit(o) : NULL;
}

static gq_conv *new_orbit(const gq_conv_shape *c, bool full)
{
	return new_orbit_algo(c, full, GQ_CONV_AUTO);
}

gq_conv *gq_conv_new_orbit(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu,
        int ng, const int *elem, bool lift)
{
	gq_conv_shape c = {cin, h, w, cout, k, s, p, d, relu, ng, elem, lift};
	return new_orbit(&c, false);
}

void gq_orbit_free(gq_orbit *o)
{
	if (!o)
		return;
	gq_conv_free(o->base);
	gq_conv_free(o->full);
	free(o);
}

/* The expanded bank's rows (o, e), with their bias: the identity's filters. */
void gq_orbit_set(gq_orbit *o, const float *w, const float *bias)
{
	size_t row = (size_t)o->cin * o->k * o->k;
	gq_conv_set_rows(o->base, w + o->e_axis * row, o->ng * row, bias ? bias + o->e_axis : NULL,
	        (size_t)o->ng);
	if (o->full)
		gq_conv_set(o->full, w, bias);
}

const gq_conv *gq_orbit_base(const gq_orbit *o)
{
	return o->base;
}

size_t gq_orbit_bytes(const gq_orbit *o)
{
	return gq_conv_bytes(o->base) + (o->full ? gq_conv_bytes(o->full) : 0);
}

int gq_orbit_size(const gq_orbit *o)
{
	return o->ng;
}

/* The stacked input when the base plan does not take it padded (gq_conv_padded). */
static size_t x_floats(const gq_orbit *o)
{
	return o->padded ? 0 : ((size_t)o->cin * o->th * o->tw + 15) / 16 * 16;
}

static size_t y_floats(const gq_orbit *o)
{
	return ((size_t)o->cout * o->toh * o->tow + 15) / 16 * 16;
}

/* The scatter's plane moved before the residual is added. */
static size_t t_floats(const gq_orbit *o)
{
	return ((size_t)o->oh * o->ow + 15) / 16 * 16;
}

/* One image's: its stacked output, the scatter's plane, the stacked input and the base
 * plan's scratch, with 16 floats more for Y to start on a cache line wherever the
 * caller's scratch starts. */
static size_t image_floats(const gq_orbit *o)
{
	return 16 + y_floats(o) + t_floats(o) + x_floats(o) + gq_conv_scratch(o->base);
}

size_t gq_orbit_scratch(const gq_orbit *o)
{
	size_t full = o->full ? gq_conv_scratch(o->full) : 0;
	return 2 * image_floats(o) > full ? 2 * image_floats(o) : full;
}

/* ---- moving a plane by T_g: row copies, reversed rows, or 8x8 transposes ---- */

/* (The helpers taking and returning F8 are always inlined: no call passes one, so GCC's
 * note that such calls pass it differently with and without AVX does not apply.) */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float F8 __attribute__((vector_size(8 * sizeof(float))));
typedef int I8 __attribute__((vector_size(8 * sizeof(int))));

static inline __attribute__((always_inline)) F8 load8(const float *p)
{
	F8 v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline __attribute__((always_inline)) F8 reverse8(F8 v)
{
	return __builtin_shuffle(v, (I8){7, 6, 5, 4, 3, 2, 1, 0});
}

/* r[j] := column j of the 8x8 block whose rows are r[0..7] (AVX's unpack, shuffle and
 * lane permutes, as GCC lowers them). */
static inline __attribute__((always_inline)) void transpose8(F8 r[8])
{
	F8 t[8], u[8];
#pragma GCC unroll 8
	for (int i = 0; i < 8; i += 2) {
		t[i] = __builtin_shuffle(r[i], r[i + 1], (I8){0, 8, 1, 9, 4, 12, 5, 13});
		t[i + 1] = __builtin_shuffle(r[i], r[i + 1], (I8){2, 10, 3, 11, 6, 14, 7, 15});
	}
#pragma GCC unroll 8
	for (int i = 0; i < 8; i += 4)
#pragma GCC unroll 8
		for (int k = 0; k < 2; k++) {
			u[i + 2 * k] = __builtin_shuffle(
			        t[i + k], t[i + k + 2], (I8){0, 1, 8, 9, 4, 5, 12, 13});
			u[i + 2 * k + 1] = __builtin_shuffle(
			        t[i + k], t[i + k + 2], (I8){2, 3, 10, 11, 6, 7, 14, 15});
		}
#pragma GCC unroll 8
	for (int i = 0; i < 4; i++) {
		r[i] = __builtin_shuffle(u[i], u[i + 4], (I8){0, 1, 2, 3, 8, 9, 10, 11});
		r[i + 4] = __builtin_shuffle(u[i], u[i + 4], (I8){4, 5, 6, 7, 12, 13, 14, 15});
	}
}

/* dst (y, x) = src[m(y, x)] one float at a time, for y in [y0, y1), x in [x0, x1). */
static inline __attribute__((always_inline)) void move_scalar(float *restrict dst, size_t ld,
        const float *restrict src, Affine m, int y0, int y1, int x0, int x1)
{
	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			dst[(size_t)y * ld + x] = src[m.at + y * m.dy + x * m.dx];
}

/* Rows of src reversed: 8 floats loaded from the row's other end, reversed in a register. */
static inline __attribute__((always_inline)) void move_reversed(
        float *restrict dst, size_t ld, const float *restrict src, Affine m, int h, int w)
{
	for (int y = 0; y < h; y++) {
		const float *s = src + m.at + y * m.dy;
		int x = 0;
		for (; x + 8 <= w; x += 8) {
			F8 v = reverse8(load8(s - x - 7));
			memcpy(dst + (size_t)y * ld + x, &v, sizeof v);
		}
		move_scalar(dst, ld, src, m, y, y + 1, x, w);
	}
}

/* Columns of src (dy = +-1): block (y0, x0) is 8 runs of 8 floats of src, one for each
 * x (reversed where dy = -1), transposed into 8 rows of dst. */
static inline __attribute__((always_inline)) void move_columns(
        float *restrict dst, size_t ld, const float *restrict src, Affine m, int h, int w)
{
	int hb = h / 8 * 8, wb = w / 8 * 8;
	for (int y0 = 0; y0 < hb; y0 += 8)
		for (int x0 = 0; x0 < wb; x0 += 8) {
			F8 r[8];
#pragma GCC unroll 8
			for (int j = 0; j < 8; j++) {
				const float *s = src + m.at + y0 * m.dy + (x0 + j) * m.dx;
				r[j] = m.dy > 0 ? load8(s) : reverse8(load8(s - 7));
			}
			transpose8(r);
#pragma GCC unroll 8
			for (int i = 0; i < 8; i++)
				memcpy(dst + (size_t)(y0 + i) * ld + x0, &r[i], sizeof r[i]);
		}
	move_scalar(dst, ld, src, m, 0, hb, wb, w);
	move_scalar(dst, ld, src, m, hb, h, 0, w);
}

/* dst (y, x) = src[m(y, x)] for the h x w plane dst, rows ld floats apart. */
static inline __attribute__((always_inline)) void move_plane(
        float *restrict dst, size_t ld, const float *restrict src, Affine m, int h, int w)
{
	if (m.dx == 1)
		for (int y = 0; y < h; y++)
			memcpy(dst + (size_t)y * ld, src + m.at + y * m.dy,
			        (size_t)w * sizeof *dst);
	else if (m.dx == -1)
		move_reversed(dst, ld, src, m, h, w);
	else
		move_columns(dst, ld, src, m, h, w);
}

/* dst = add + t (add: NULL for none), clamped at 0 with relu; add may be dst. */
static inline __attribute__((always_inline)) void finish(
        float *dst, const float *add, const float *t, size_t n, bool relu)
{
	size_t q = 0;
	for (; q + 8 <= n; q += 8) {
		F8 v = load8(t + q);
		if (add)
			v += load8(add + q);
		if (relu)
			v = (F8)((I8)v & (v > (F8){0})); /* NaN to 0, as below */
		memcpy(dst + q, &v, sizeof v);
	}
	for (; q < n; q++) {
		float v = t[q] + (add ? add[q] : 0.0f);
		dst[q] = relu && !(v > 0.0f) ? 0.0f : v;
	}
}

/* move_plane and finish in portable C (SSE on x86-64), and in AVX2 where the kernel is
 * avx2 or avx512: the same code, two instruction sets. */
static void move_c(
        float *restrict dst, size_t ld, const float *restrict src, Affine m, int h, int w)
{
	move_plane(dst, ld, src, m, h, w);
}

static void finish_c(float *dst, const float *add, const float *t, size_t n, bool relu)
{
	finish(dst, add, t, n, relu);
}

#ifdef GQ_X86
__attribute__((target("avx2"))) static void move_avx2(
        float *restrict dst, size_t ld, const float *restrict src, Affine m, int h, int w)
{
	move_plane(dst, ld, src, m, h, w);
}

__attribute__((target("avx2"))) static void finish_avx2(
        float *dst, const float *add, const float *t, size_t n, bool relu)
{
	finish(dst, add, t, n, relu);
}
#else
#define move_avx2   move_c
#define finish_avx2 finish_c
#endif

/* ---- running it: gather, one convolution, scatter, for each half of the copies ---- */

/* Where the gather writes: plane ci at X + ci*plane, pixel (y, x) of the half's copy a
 * (row a / gc, column a % gc of the grid) at row row0 + (a / gc)*step + y, column col0 +
 * (a % gc)*step + x of rows ld floats long. */
typedef struct Stack {
	float *X;
	size_t plane, ld;
	int row0, col0;
} Stack;

/* One image of stacked copies, [a0, a1), and where it goes in scratch: Y its output, T
 * the scatter's planes, bs the base plan's scratch, x the stacked input. */
typedef struct Job {
	const gq_orbit *o;
	float *out, *scratch;
	const float *in, *add;
	int a0, a1;
	float *Y, *T, *bs;
	Stack x;
} Job;

/* Input channel ci (of the expanded conv: c*ng + b for a gconv) of the job's copies. */
static void gather(const Job *j, int ci)
{
	const gq_orbit *o = j->o;
	const Stack *x = &j->x;
	size_t hw = (size_t)o->h * o->w;
	float *pl = x->X + ci * x->plane;
	/* the plane zeroed at once, then the copies over it: cheaper than a call for each
	 * row's few zeros on either side (as pad_input) */
	memset(pl, 0, x->plane * sizeof *pl);
	for (int a = j->a0; a < j->a1; a++) {
		int from = o->lift ? ci : ci - ci % o->ng + o->src[a][ci % o->ng];
		int r = (a - j->a0) / o->gc, q = (a - j->a0) % o->gc;
		float *dst = pl + (size_t)(x->row0 + r * o->step) * x->ld + x->col0 + q * o->step;
		const float *src = j->in + (size_t)from * hw;
		(o->vec ? move_avx2 : move_c)(dst, x->ld, src, o->tin[a], o->h, o->w);
	}
}

/* Output plane (c, a) = T_g of plane c of copy a in the stacked output, + the residual,
 * then the relu. With a residual, T_g goes to T first: the residual may be out itself. */
static void scatter(const Job *j, int c, int a)
{
	const gq_orbit *o = j->o;
	size_t n = (size_t)o->oh * o->ow, at = ((size_t)c * o->ng + a) * n;
	int r = (a - j->a0) / o->gc, q = (a - j->a0) % o->gc;
	const float *y =
	        j->Y + ((size_t)c * o->toh + (size_t)r * o->ostep) * o->tow + (size_t)q * o->ostep;
	float *dst = j->out + at, *t = j->T;
	const float *add = j->add ? j->add + at : NULL;
	if (!add)
		t = dst;
	(o->vec ? move_avx2 : move_c)(t, (size_t)o->ow, y, o->tout[a], o->oh, o->ow);
	if (add || o->relu)
		(o->vec ? finish_avx2 : finish_c)(dst, add, t, n, o->relu);
}

/* Image i's copies and its place in scratch. The copies go straight into the padded input
 * of a Winograd base plan (its own copy would be one more pass over them), else into X,
 * the base's input. */
static void place(Job *j, int i)
{
	const gq_orbit *o = j->o;
	float *Y = j->scratch + i * image_floats(o);
	j->Y = Y = (float *)(((uintptr_t)Y + 63) & ~(uintptr_t)63);
	j->T = Y + y_floats(o);
	float *X = j->T + t_floats(o);
	j->bs = X + x_floats(o);
	j->a0 = i * o->nh;
	j->a1 = j->a0 + o->nh < o->ng ? j->a0 + o->nh : o->ng;
	int hp, wq;
	float *xp = gq_conv_padded(o->base, j->bs, &hp, &wq);
	j->x = xp ? (Stack){xp, (size_t)hp * wq, (size_t)wq, o->p, o->p}
	          : (Stack){X, (size_t)o->th * o->tw, (size_t)o->tw, 0, 0};
}

/* Every input channel, each with a slice of the base's bank fetched to the L2 meanwhile:
 * the products next read it all, and streamed from memory as they ran, a bank of 1.3 MB
 * (p4m's 256 channels at 9x9, 12 distinct layers in turn) made them a quarter slower. */
static void gather_all(const Job *j)
{
	const gq_orbit *o = j->o;
	const char *bank = (const char *)gq_conv_bank(o->base);
	size_t bytes = gq_conv_bytes(o->base), slice = (bytes / o->cin + 63) / 64 * 64;
	for (int ci = 0; ci < o->cin; ci++) {
		gather(j, ci);
		for (size_t b = ci * slice; b < (ci + 1) * slice && b < bytes; b += 64)
			__builtin_prefetch(bank + b, 0, 2);
	}
}

static void convolve(const Job *j)
{
	if (j->o->padded)
		gq_conv_run_padded(j->o->base, j->Y, NULL, j->bs);
	else
		gq_conv_run(j->o->base, j->Y, j->x.X, j->bs);
}

static void half_share(void *ctx, int t, int n)
{
	for (int h = t; h < 2; h += n) {
		Job j = *(const Job *)ctx;
		place(&j, h);
		gather_all(&j);
		convolve(&j);
		for (int c = 0; c < j.o->cout; c++)
			for (int a = j.a0; a < j.a1; a++)
				scatter(&j, c, a);
	}
}

/* With the expanded plan beside the orbit: the orbit where two threads run the layer (at
 * batch 1), the expanded plan where one does (an image of a serving batch on each
 * thread, or one thread in all), as the orbit on one thread ran ResNet-44 p4m's layers on
 * 17x17 1.5x slower than the expanded conv, its bank read once for the batch's images. */
static void full_or_halves(void *ctx, int t, int n)
{
	const Job *j = ctx;
	if (n == 1)
		gq_conv_run_sum(j->o->full, j->out, j->in, j->add, j->scratch);
	else
		half_share(ctx, t, n);
}

/* Each thread runs half of the copies from gather to scatter, its bank (ng times smaller
 * than the expanded one) in its own caches: one hand-off for the layer. (Where the bank
 * passes a core's L2 the threads could instead share one image of all the copies, each
 * reading half of the bank; with AVX-512 on 2 threads that ran 1.2-1.6x slower, but for
 * p4's 512 channels at 8x8, 1.25x faster.) */
void gq_orbit_run(const gq_orbit *o, float *out, const float *in, const float *add, float *scratch)
{
	Job j = {.o = o, .out = out, .scratch = scratch, .in = in, .add = add};
	if (o->full)
		gq_parallel(2, full_or_halves, &j);
	else if (o->par)
		gq_parallel(2, half_share, &j);
	else
		half_share(&j, 0, 1);
}

/* ---- the choice ---- */

/* GEQRT_ORBIT: "0" never, "1" wherever the orbit is exact; otherwise (-1) by the rules
 * below. */
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

/* A model whose expanded banks pass this many bytes in all streams them from memory at
 * batch 1, image after image: 12 distinct layers of p4m's 256 channels at 9x9 (51 MB)
 * ran 1.6x slower than one layer repeated, 4 of them (17 MB) 1.15x, 2 not measurably
 * (AVX-512, 2 threads; the L3 is 32 MB, shared with whatever else runs). */
enum { STREAMS = 16 << 20 };

/* An expanded bank under this many bytes saves too little for the orbit's gathers,
 * scatters and transforms: a 300-layer p4 net of 32 planes at 9x9 (150 KB banks, 44 MB in
 * all) ran 0.6-0.75x as fast with its layers as orbits (AVX-512, 2 threads). */
enum { ORBIT_MIN = 1 << 20 };

/* An orbit bank (that both threads read whole) past this many bytes costs more than it
 * saves: p4's and p4m's 512 channels at 8x8 (orbit banks of 9.7 and 4.9 MB) ran
 * 0.7-0.9x the expanded layer's speed where 9.5 MB expanded banks whose orbit banks were
 * 1.3-2.4 MB ran 1.2-1.5x (AVX-512, 2 threads). A core's L2 is 1 MB (Zen 5), so the
 * banks that paid did not stay in it either: they come from the shared 32 MB L3 each
 * image, where the expanded banks of the model (past 16 MB in all) do not stay; the
 * bound is measured, not a cache's size. */
enum { ORBIT_BANK_MAX = 2 << 20 };

/* Bytes of bank the orbit must save for each multiply-add (as the planner counts them) it
 * adds. Memory's 12 GB/s against some 5e10 multiply-adds a second on two AVX-512 cores is
 * 0.25 where a model's banks all stream (12 distinct layers of p4m's 256 channels at
 * 15x15, 0.95 saved: the orbit 1.5x faster), but in models of 40-100 MB of banks part of
 * them stays in the L3: there the orbit of that layer (0.85, the wide p4m model) ran
 * 0.9-1.0x, and all the layers of the wide model and ResNet-18 p4 as orbits 0.8-0.95x,
 * while ResNet-44's layers where the orbit does no more work (or less) than the expanded
 * conv ran 1.1-1.2x (AVX-512 and AVX2, 2 threads). */
#define BYTES_PER_MADD 1.0

/* The orbit's cost as the planner counts it, its two halves' and two multiply-adds' worth
 * for each float gathered or scattered, and its base plan's bank. */
static double orbit_cost(const gq_conv_shape *c, size_t *bytes)
{
	gq_orbit o = {.ng = c->ng, .h = c->h, .w = c->w};
	orbit_shape(&o, c->cin, c->cout / c->ng, c->k, c->s, c->p, c->d, GQ_CONV_AUTO);
	double moved = (double)c->ng * c->cin * c->h * c->w + (double)c->cout * o.oh * o.ow;
	return 2 * gq_conv_estimate(c->cin, o.th, o.tw, c->cout / c->ng, c->k, c->s, c->p, c->d,
	                   false, bytes) +
	       2 * moved;
}

/* At batch 1, in a model whose banks stream (streamed bytes in all), for a layer of stride
 * 1 whose bank is not small, where the orbit's bank is at most ORBIT_BANK_MAX and what it
 * saves in bank is worth what it adds in work. A strided layer's copies are its input,
 * s^2 times its output, each transformed on its own (at stride 2 by F(4x4)'s 9x9
 * patches), which the planner's count misses: ResNet-44 p4m's stride-2 layer from 128
 * planes at 17x17, counted 0.92 times the expanded conv's work, ran as an orbit on two
 * threads 1.25x the expanded plan's time there (AVX-512; 1.28x AVX2; 40 distinct layers in
 * turn, under chrt), and no faster than one thread in the model. */
static bool orbit_pays(const gq_conv_shape *c, size_t streamed)
{
	if (streamed <= STREAMS || c->s != 1 ||
	        !orbit_applies(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, c->ng, c->elem,
	                c->lift))
		return false;
	size_t be, bo;
	double ce = gq_conv_estimate(
	               c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &be),
	       co = orbit_cost(c, &bo);
	return be >= ORBIT_MIN && bo <= ORBIT_BANK_MAX &&
	       (double)be - (double)bo >= BYTES_PER_MADD * (co - ce);
}

/* Where the orbit, whose bank is ng times smaller, runs for memory's sake: where the
 * expanded bank would pass ORBIT_BANK; under a memory ceiling (gq_set_memory_limit), where
 * the ceiling would make the expanded conv give up its cheapest algorithm (F(4x4) for
 * F(2x2) or direct, up to 4 times the multiplies) or fit no bank at all. */
static bool orbit_needed(const gq_conv_shape *c)
{
	size_t bytes;
	double held =
	        gq_conv_estimate(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, true, &bytes);
	if (!gq_memory_limit())
		return bytes > ORBIT_BANK;
	return held >
	       gq_conv_estimate(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &bytes);
}

size_t gq_conv_expanded_bytes(const gq_conv_shape *c)
{
	size_t bytes;
	gq_conv_estimate(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &bytes);
	return bytes;
}

/* The plan the rules choose for c (the layer of a model whose expanded banks are streamed
 * bytes in all): the orbit alone where memory asks for it (or GEQRT_ORBIT=1; forced); a
 * group form where it pays; the orbit where it pays at batch 1, with the expanded plan
 * beside it for one thread (keep: the banks then 1 + 1/ng times the expanded one), but
 * under a memory ceiling alone; else the expanded plan (in F(6x6) where wino6_candidate
 * offers it: new_rules_expanded). The group's F(3x3) form before all but the forced orbit
 * where group3_candidate offers it and the banks stream, the group's F(5x5) form next where
 * group5_rule takes it; on AVX2, the expanded plan in F(3x3) next where wino3_rule takes
 * it. */
typedef struct Rule {
	enum { EXPANDED, ORBIT, GROUP } kind;
	int form; /* GROUP: GQ_CONV_WINO4R, GQ_CONV_WINO2, GQ_CONV_WINO3R, GQ_CONV_WINO5R or
	           * GQ_CONV_AUTO */
	bool keep, forced;
} Rule;

static bool wino3_rule(const gq_conv_shape *c);
static bool group3_candidate(const gq_conv_shape *c);
static bool group5_rule(const gq_conv_shape *c, size_t streamed);
static bool group_s2_candidate(const gq_conv_shape *c);
static bool group_s2_rule(const gq_conv_shape *c, size_t streamed);

static Rule rule_of(const gq_conv_shape *c, size_t streamed)
{
	int mode = c->ng ? orbit_mode() : 0;
	if (mode == 1 || (mode < 0 && c->ng && orbit_needed(c)))
		return (Rule){ORBIT, 0, false, true};
	/* the group's F(3x3) form where group3_candidate offers it in a model whose banks
	 * stream, on one thread and two, at batch 1 and in batches (the tuner took it on each
	 * of ResNet-44 p4m's 13 stage-3 layers, AVX-512 and AVX2: docs/batch1.md, s21-g3) */
	if (c->ng && mode < 0 && gq_wgroup_mode() < 0 && streamed > STREAMS && group3_candidate(c))
		return (Rule){GROUP, GQ_CONV_WINO3R, false, false};
	if (c->ng && mode < 0 && gq_wgroup_mode() < 0 && group5_rule(c, streamed))
		return (Rule){GROUP, GQ_CONV_WINO5R, false, false};
	if (c->ng && mode < 0 && gq_wgroup_mode() < 0 && group_s2_rule(c, streamed))
		return (Rule){GROUP, GQ_CONV_WINO2S2, false, false};
	if (c->ng && mode < 0 && gq_wgroup_mode() != 1 && wino3_rule(c))
		return (Rule){EXPANDED, 0, false, false}; /* in F(3x3): new_rules_expanded */
	/* GEQRT_ORBIT=0 keeps the expanded plan unless GEQRT_WGROUP=1 */
	int form = !c->ng || (mode == 0 && gq_wgroup_mode() < 0) ? -1 : gq_wgroup_form(c, streamed);
	/* F(4x4)'s group on few base channels keeps the expanded plan for one thread, as the
	 * orbit does (without it, ResNet-44 p4m ran 0.84x main's images/s at batch 16,
	 * AVX-512: the expanded bank, read once for four images, beat the group's gathers) */
	if (form >= 0)
		return (Rule){GROUP, form, form == GQ_CONV_WINO4R && !gq_memory_limit(), false};
	if (mode < 0 && orbit_pays(c, streamed))
		return (Rule){ORBIT, 0, !gq_memory_limit(), false};
	return (Rule){EXPANDED, 0, false, false};
}

static gq_conv *new_expanded(const gq_conv_shape *c)
{
	return gq_conv_new(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, c->relu);
}

static gq_conv *new_rules_expanded(const gq_conv_shape *c);

static gq_conv *new_plan(const gq_conv_shape *c, Rule r)
{
	gq_conv *o = r.kind == ORBIT   ? new_orbit(c, r.keep)
	             : r.kind == GROUP ? gq_conv_new_wgroup(c, r.form, r.keep)
	                               : NULL;
	return o ? o : new_rules_expanded(c);
}

gq_conv *gq_conv_new_in_model(const gq_conv_shape *c, size_t streamed)
{
	return new_plan(c, rule_of(c, streamed));
}

/* A group form is a candidate where it does no more work than FORMS allows (wino_group.c:
 * past it, the form ran slower on every layer measured); whether its bank pays is the
 * tuner's to measure. */
static bool form_candidate(const gq_conv_shape *c, int form)
{
	size_t bytes;
	double expanded = gq_conv_estimate(
	               c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &bytes),
	       group = gq_wgroup_estimate(c, form, &bytes);
	return group >= 0 && group <= gq_wgroup_work(form) * expanded;
}

/* The orbit is a candidate where it is exact at stride 1 (strided, its copies' transforms
 * cost more than the planner counts: orbit_pays). */
static bool orbit_candidate(const gq_conv_shape *c)
{
	return c->s == 1 && orbit_applies(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d,
	                            c->ng, c->elem, c->lift);
}

/* F(6x6) (GQ_CONV_WINO6) as a candidate. Offered on every 3x3 stride-1 gconv of the four
 * bench models (2026-12-06, s19-f6: the tuner's own timings, AVX-512 and AVX2, one and two
 * threads), it lost wherever its tiles leave the vectors part empty or its bank is large:
 * 256 planes of p4m at 9x9 (4 tiles an element) 1.9-2.1x the best plan's time on AVX-512
 * (its narrow kernel's 4 rows, and the transforms' vectors of 16 tiles three quarters
 * empty), 1.0-1.1x AVX2; 15x15 and 8x8 1.2-3.4x; 49x49, 57x57 and 97x97 (wide) 1.0-1.4x;
 * 25x25 and 17x17 (where F(4x4) runs narrow too) 1.0-1.1x on AVX-512. It won where it
 * runs narrow and F(4x4) wide: 128 channels at 29x29 (25 tiles against 64) 0.63-0.76x the
 * time on AVX-512, 0.77-0.82x on AVX2, one and two threads, at batch 1 and in batches; at
 * 33x33 (64 channels, 36 tiles against 81) level (0.88-1.1x; on two threads 1.07-1.14x in
 * a second run, where the tuner still took it on 3 of 14 layers by the noise, its stage
 * 1.0-1.17x the time). So the expanded plan's F(6x6) is a candidate where it runs on the
 * narrow kernel, the rules' plan on the wide one, it counts at most WINO6_WORK of that
 * plan's work (not 9x9: 2.0), and the layer has at least WINO6_COUT output channels. */
#define WINO6_WORK 0.9
enum { WINO6_COUT = 128 };

/* The expanded plan in the Winograd form algo as a candidate (F(6x6), F(7x7)): only where
 * it runs narrow and the rules' expanded plan wide, the layer has at least min_cout output
 * channels and the form counts at most work of the expanded plan's multiply-adds. */
static gq_conv *narrow_form_candidate(
        const gq_conv_shape *c, const gq_conv *expanded, int algo, int min_cout, double work)
{
	size_t bytes;
	if (c->cout < min_cout || gq_conv_narrow(expanded))
		return NULL;
	double e = gq_conv_estimate(
	               c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &bytes),
	       ef = gq_conv_estimate_algo(
	               c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, algo, &bytes);
	if (ef < 0 || ef > work * e)
		return NULL;
	gq_conv *p = gq_conv_new_algo(
	        c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, c->relu, algo);
	if (p && !gq_conv_narrow(p)) {
		gq_conv_free(p);
		return NULL;
	}
	return p;
}

static gq_conv *wino6_candidate(const gq_conv_shape *c, const gq_conv *expanded)
{
	return narrow_form_candidate(c, expanded, GQ_CONV_WINO6, WINO6_COUT, WINO6_WORK);
}

/* F(7x7) (GQ_CONV_WINO7, s26-f7) as a candidate, on the pattern of F(6x6)'s: 12-14
 * distinct residual blocks in turn (bench/formab, AVX-512, one thread), against the rules'
 * expanded F(4x4) plan, it won only where it runs narrow and F(4x4) wide: 64 channels at
 * 33x33 (25 tiles against 81) 0.82-0.85x the time, AVX2 0.93x; but two threads there
 * 1.05x (AVX2 1.16x: its one panel of tiles is split by channels, not fused). Lost:
 * 32 at 97x97 and 64 at 49x49 (both wide) 1.03-1.2x, 64 at 57x57 1.6x, 128 at 25x25 (both
 * narrow) 1.16x, 17x17 and 15x15 2.4x. So a tuning candidate (the tuner takes it for one
 * thread and serving batches, where it wins) where it runs narrow, the rules' expanded
 * plan wide, it counts at most WINO7_WORK of that plan's work and the layer has at least
 * WINO7_COUT output channels; GEQRT_WINO7=0 leaves it out. */
#define WINO7_WORK 0.9
enum { WINO7_COUT = 64 };

static int wino7_mode(void)
{
	const char *m = getenv("GEQRT_WINO7");
	return m && !strcmp(m, "0") ? 0 : -1;
}

static gq_conv *wino7_candidate(const gq_conv_shape *c, const gq_conv *expanded)
{
	if (wino7_mode() == 0)
		return NULL;
	return narrow_form_candidate(c, expanded, GQ_CONV_WINO7, WINO7_COUT, WINO7_WORK);
}

/* The rules' expanded plan: F(6x6) where wino6_candidate offers it (s19-rule6), but not
 * under a memory ceiling (its bank is 64/36 of F(4x4)'s) nor where GEQRT_WINO6=0. */
static int wino6_mode(void);

static gq_conv *new_rules_expanded(const gq_conv_shape *c)
{
	if (wino3_rule(c)) {
		gq_conv *three = gq_conv_new_algo(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p,
		        c->d, c->relu, GQ_CONV_WINO3);
		if (three)
			return three;
	}
	gq_conv *e = new_expanded(c), *six;
	if (e && wino6_mode() != 0 && !gq_memory_limit() && (six = wino6_candidate(c, e))) {
		gq_conv_free(e);
		return six;
	}
	return e;
}

/* The group's F(6x6) form lost to its F(4x4) form (and to the expanded plan) on AVX-512
 * everywhere above (17x17 with 16 base channels, paired: 1.08-1.14x), but won on AVX2 at
 * 17x17 (ResNet-44 p4m's stage 2, 9 tiles against 25: 0.75-0.89x the best plan's time
 * on one thread and in batches, 0.78-0.92x on two threads at batch 1, in one run of two
 * 0.84-1.25x), where it counts 0.66 of the
 * F(4x4) form's work (0.80-0.91 where it lost): a candidate where it counts at most
 * GROUP6_WORK of the cheaper other form's and runs on the narrow kernel. */
#define GROUP6_WORK 0.75

/* The work of the cheaper of the group's F(4x4) and F(2x2) forms (-1: neither fits), the
 * yardstick for the group's other forms. */
static double group_work(const gq_conv_shape *c)
{
	size_t bytes;
	double g4 = gq_wgroup_estimate(c, GQ_CONV_WINO4R, &bytes),
	       g2 = gq_wgroup_estimate(c, GQ_CONV_WINO2, &bytes);
	return g4 < 0 ? g2 : g2 < 0 || g4 < g2 ? g4 : g2;
}

static bool group6_candidate(const gq_conv_shape *c)
{
	size_t bytes;
	double g6 = gq_wgroup_estimate(c, GQ_CONV_WINO6, &bytes), other = group_work(c);
	return g6 >= 0 && other >= 0 && g6 <= GROUP6_WORK * other;
}

/* F(3x3) (GQ_CONV_WINO3): its tiles cover a map of 3k pixels exactly, 25 products for 9
 * outputs, where F(4x4) covers 9x9 with 9 tiles of 36 (12x12) and F(2x2) with 25 of 16:
 * 0.69x and 0.56x their products (s20-f3). Its points (0, +-1, 2, infinity) are not closed
 * under p -> 1/p, so its group form takes other points (group3_candidate); it is offered as the
 * expanded plan and as the orbit's base (the orbit's copies, 10 rows apart at 9x9, do not fall on
 * its tiles: 39 tiles for 4 copies where 36 would do) where the output's sides are multiples of 3,
 * the layer has at least WINO3_COUT output channels, and the expanded plan in F(3x3) counts at most
 * WINO3_WORK of the rules' expanded plan's work. GEQRT_WINO3=0 leaves them out. */
#define WINO3_WORK 0.8
enum { WINO3_COUT = 128 };

static int wino3_mode(void)
{
	const char *m = getenv("GEQRT_WINO3");
	return m && !strcmp(m, "0") ? 0 : -1;
}

/* Where an F(3x3) form may be offered: not left out, WINO3_COUT output channels or more,
 * stride 1, the output's sides multiples of 3. */
static bool wino3_shape(const gq_conv_shape *c)
{
	int oh = c->h + 2 * c->p - c->d * (c->k - 1), ow = c->w + 2 * c->p - c->d * (c->k - 1);
	return wino3_mode() != 0 && c->cout >= WINO3_COUT && c->s == 1 && oh % 3 == 0 &&
	       ow % 3 == 0;
}

static bool wino3_candidate(const gq_conv_shape *c)
{
	size_t bytes;
	if (!wino3_shape(c))
		return false;
	double e = gq_conv_estimate(
	               c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &bytes),
	       e3 = gq_conv_estimate_algo(
	               c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, GQ_CONV_WINO3, &bytes);
	return e3 >= 0 && e3 <= WINO3_WORK * e;
}

/* F(3x3)'s stride-2 form (GQ_CONV_WINO3S2, s23-s2): a candidate on a stride-2 3x3 layer where
 * it counts at most WINO3S2_WORK of F(2x2)'s stride-2 form's work and the expanded plan is
 * not it already (gq_conv_new takes it on 25 tiles or more): the 9x9 outputs, where it ran
 * 0.85x F(2x2)'s time on AVX2 and 1.03-1.2x on AVX-512 (128 -> 256 channels 17x17, 16
 * layers in turn, bench/s2). */
#define WINO3S2_WORK 0.8

static bool wino3s2_candidate(const gq_conv_shape *c, const gq_conv *expanded)
{
	size_t bytes;
	if (c->k != 3 || c->s != 2 || c->d != 1 || !strcmp(gq_conv_algo(expanded), "winograd3s2"))
		return false;
	double e2 = gq_conv_estimate_algo(
	               c->cin, c->h, c->w, c->cout, 3, 2, c->p, 1, GQ_CONV_WINO2S2, &bytes),
	       e3 = gq_conv_estimate_algo(
	               c->cin, c->h, c->w, c->cout, 3, 2, c->p, 1, GQ_CONV_WINO3S2, &bytes);
	return e2 >= 0 && e3 >= 0 && e3 <= WINO3S2_WORK * e2;
}

/* The group's F(3x3) form (GQ_CONV_WINO3R, on the points 0, 1, -2, -1/2, infinity, closed
 * under p -> 1/p): 225 products an element at 9x9 against the F(2x2) form's 400 and the
 * F(4x4) form's 324, from a bank 25/16 of F(2x2)'s (1/8 of the expanded F(3x3) plan's on
 * p4m). A candidate where the output's sides are multiples of 3, the layer has at least
 * WINO3_COUT output channels and the form counts at most GROUP3_WORK of the cheaper other
 * group form's work; GEQRT_WINO3=0 leaves it out. */
#define GROUP3_WORK 0.9

static bool group3_candidate(const gq_conv_shape *c)
{
	size_t bytes;
	if (!wino3_shape(c))
		return false;
	double g3 = gq_wgroup_estimate(c, GQ_CONV_WINO3R, &bytes), other = group_work(c);
	return g3 >= 0 && other >= 0 && g3 <= GROUP3_WORK * other;
}

/* The group's F(5x5) form (GQ_CONV_WINO5R, on the points 0, 1, 2, 1/2, -2, -1/2, infinity,
 * closed under p -> 1/p): its tiles cover maps of 5k pixels exactly, 49 products for 25
 * outputs: 1225 an element at 25x25 against the F(4x4) form's 1764, 441 at 15x15 against
 * 576, from a bank 49/36 of F(4x4)'s. A candidate where the output's sides are multiples
 * of 5, the layer has at least WINO3_COUT output channels and the form counts at most
 * GROUP5_WORK of the cheaper other group form's work; GEQRT_WINO5=0 leaves it out. The
 * rules' plan where the model's banks stream and an element's tiles fill a vector of the
 * kernel (25 tiles at 25x25 on AVX-512's 16 floats, 9 at 15x15 on AVX2's 8): 13 such
 * layers chained (bench/g8, G8_CHAIN, 128 planes of p4 at 25x25, vCPUs near), AVX-512
 * 0.385 ms a layer against the F(4x4) form's 0.434 (two threads) and 0.532 against the
 * expanded plan's 0.613 (one); AVX2 0.452 against 0.619 (two) and 0.788 against 1.096
 * (one); 256 planes at 15x15 on AVX2 0.79-0.88x the F(4x4) form's time on p4 and 0.80x on
 * p4m, on AVX-512 (9 tiles in one 9-row call) 1.0-1.16x (docs/batch1.md, s26-f5). */
#define GROUP5_WORK 0.9

static int wino5_mode(void)
{
	const char *m = getenv("GEQRT_WINO5");
	return m && !strcmp(m, "0") ? 0 : -1;
}

static bool group5_candidate(const gq_conv_shape *c)
{
	size_t bytes;
	int oh = c->h + 2 * c->p - c->d * (c->k - 1), ow = c->w + 2 * c->p - c->d * (c->k - 1);
	if (wino5_mode() == 0 || c->cout < WINO3_COUT || c->s != 1 || c->k != 3 || c->d != 1 ||
	        oh % 5 || ow % 5)
		return false;
	double g5 = gq_wgroup_estimate(c, GQ_CONV_WINO5R, &bytes), other = group_work(c);
	return g5 >= 0 && other >= 0 && g5 <= GROUP5_WORK * other;
}

static bool group5_rule(const gq_conv_shape *c, size_t streamed)
{
	int oh = c->h + 2 * c->p - c->d * (c->k - 1), ow = c->w + 2 * c->p - c->d * (c->k - 1);
	int v = strcmp(gq_conv_kernel(), "avx2") ? 16 : 8;
	return streamed > STREAMS && !gq_memory_limit() && group5_candidate(c) &&
	       (oh / 5) * (ow / 5) >= v;
}

/* The untuned rules' plan where wino3_candidate offers F(3x3), on AVX2 only. There (8-float
 * vectors: the products take twice AVX-512's time against the same memory) the expanded
 * F(3x3) plan on ResNet-44 p4m's 256 planes at 9x9 ran a median 0.90-0.91x the best other
 * candidate's time on two threads at batch 1 (the tuner's own timings, three runs; the best
 * the group's F(4x4) form), 0.86-1.01x in batches, level on one thread (0.98-1.11x, but
 * 0.8x the expanded plan the group keeps for one thread); on AVX-512, where its 6.5 MB bank
 * streams from memory at batch 1, 1.19-1.36x (docs/batch1.md, s20-f3). Not under a memory
 * ceiling; GEQRT_WINO3=0 leaves it out. */
static bool wino3_rule(const gq_conv_shape *c)
{
	return !gq_memory_limit() && !strcmp(gq_conv_kernel(), "avx2") && wino3_candidate(c);
}

/* The group's stride-2 F(2x2) form (GQ_CONV_WINO2S2, s22-wide): the expanded plan's 25
 * products a 2x2 tile (the even taps as F(2, 2) on 0, 1, infinity, the odd tap as it is)
 * from one bank of the identity's rows, each element's products reading it at its own
 * points (wino_group.c's gq_wgroup_tables_s2): the multiply-adds of the expanded F(2x2)
 * stride-2 plan, the bank ng times smaller (but 25/16 for its points). A candidate on
 * every stride-2 3x3 gconv it fits (its products per thread within the group plan's
 * bound: not the 57x57 and 97x97 maps) whose expanded bank is GROUP_S2_BYTES / 4 or more
 * (what it saves is the bank's stream), but on AVX2; the rules' plan where the model's
 * banks stream and the expanded bank is at least GROUP_S2_BYTES (docs/batch1.md,
 * s22-wide). The wide p4m model's 256 -> 512 planes at 15x15 (8 MB expanded) took 0.72x
 * the time alone (16 layers in turn, AVX-512, one thread and two), its 128 -> 256 at 29x29
 * (2 MB) 0.98-1.01x; on AVX2 the first 0.84-0.91x alone but 1.04-1.28x in the model on two
 * threads (images/s 0.985x; tuned 0.97x). GEQRT_WGS2=0 leaves it out, =1 takes it wherever
 * it fits (AVX2 too). */
enum { GROUP_S2_BYTES = 4 << 20 };

static int group_s2_mode(void)
{
	const char *m = getenv("GEQRT_WGS2");
	return m && (!strcmp(m, "0") || !strcmp(m, "1")) ? m[0] - '0' : -1;
}

static bool group_s2_candidate(const gq_conv_shape *c)
{
	size_t bytes;
	return group_s2_mode() != 0 && (group_s2_mode() == 1 || strcmp(gq_conv_kernel(), "avx2")) &&
	       c->s == 2 && c->k == 3 && c->d == 1 && !c->lift &&
	       gq_wgroup_estimate(c, GQ_CONV_WINO2S2, &bytes) >= 0 &&
	       gq_conv_expanded_bytes(c) >= GROUP_S2_BYTES / 4;
}

static bool group_s2_rule(const gq_conv_shape *c, size_t streamed)
{
	if (!group_s2_candidate(c) || gq_memory_limit())
		return false;
	return group_s2_mode() == 1 ||
	       (streamed > STREAMS && gq_conv_expanded_bytes(c) >= GROUP_S2_BYTES);
}

/* -1 by the rules above, 0 never (GEQRT_WINO6): F(6x6) as a tuning candidate. */
static int wino6_mode(void)
{
	const char *m = getenv("GEQRT_WINO6");
	return m && !strcmp(m, "0") ? 0 : -1;
}

/* Where the rule's choice is not forced (by memory, GEQRT_ORBIT=1 or GEQRT_WGROUP=1): the
 * expanded plan, the orbit and the group's forms where they apply, F(6x6) and F(7x7) where
 * they may pay (GEQRT_ORBIT=0, GEQRT_WGROUP=0, GEQRT_WINO6=0 and GEQRT_WINO7=0 leave theirs
 * out), each alone; def[0] the rule's plan where two threads share the layer, def[1] where
 * one runs it. */
int gq_conv_candidates(
        const gq_conv_shape *c, size_t streamed, gq_conv *out[GQ_CANDIDATES], int def[2])
{
	Rule r = rule_of(c, streamed);
	def[0] = def[1] = 0;
	if (r.forced || !c->ng || gq_memory_limit() || gq_wgroup_mode() == 1)
		return (out[0] = new_plan(c, r)) ? 1 : -1;
	static const int forms[] = {GQ_CONV_WINO4R, GQ_CONV_WINO2};
	int n = 0;
	bool ok = (out[n++] = new_expanded(c)) != NULL;
	if (ok && orbit_mode() != 0 && orbit_candidate(c)) {
		if (r.kind == ORBIT)
			def[0] = def[1] = n;
		ok = (out[n++] = new_orbit(c, false)) != NULL;
	}
	for (size_t i = 0; ok && i < sizeof forms / sizeof *forms && gq_wgroup_mode() != 0; i++) {
		if (!form_candidate(c, forms[i]))
			continue;
		if (r.kind == GROUP && r.form == forms[i])
			def[0] = def[1] = n;
		ok = (out[n++] = gq_conv_new_wgroup(c, forms[i], false)) != NULL;
	}
	if (ok && wino6_mode() != 0 && gq_wgroup_mode() != 0 && group6_candidate(c)) {
		ok = (out[n++] = gq_conv_new_wgroup(c, GQ_CONV_WINO6, false)) != NULL;
		if (ok && !gq_conv_narrow(out[n - 1])) /* measured only narrow */
			gq_conv_free(out[--n]);
	}
	if (ok && wino6_mode() != 0 && (out[n] = wino6_candidate(c, out[0]))) {
		if (r.kind == EXPANDED) /* the rules' plan (new_rules_expanded); F(4x4) at out[0] */
			def[0] = def[1] = n;
		n++;
	}
	if (ok && (out[n] = wino7_candidate(c, out[0])))
		n++;
	if (ok && gq_wgroup_mode() != 0 && group3_candidate(c)) {
		if (r.kind == GROUP && r.form == GQ_CONV_WINO3R)
			def[0] = def[1] = n;
		ok = (out[n++] = gq_conv_new_wgroup(c, GQ_CONV_WINO3R, false)) != NULL;
	}
	if (ok && gq_wgroup_mode() != 0 && group5_candidate(c)) {
		if (r.kind == GROUP && r.form == GQ_CONV_WINO5R)
			def[0] = def[1] = n;
		ok = (out[n++] = gq_conv_new_wgroup(c, GQ_CONV_WINO5R, false)) != NULL;
	}
	if (ok && gq_wgroup_mode() != 0 && group_s2_candidate(c)) {
		if (r.kind == GROUP && r.form == GQ_CONV_WINO2S2)
			def[0] = def[1] = n;
		ok = (out[n++] = gq_conv_new_wgroup(c, GQ_CONV_WINO2S2, false)) != NULL;
	}
	if (ok && wino3s2_candidate(c, out[0]))
		ok = (out[n++] = gq_conv_new_algo(c->cin, c->h, c->w, c->cout, 3, 2, c->p, 1,
		              c->relu, GQ_CONV_WINO3S2)) != NULL;
	if (ok && wino3_candidate(c)) {
		if (r.kind == EXPANDED &&
		        wino3_rule(c)) /* the rules' plan; F(2x2)/F(4x4) at out[0] */
			def[0] = def[1] = n;
		ok = (out[n++] = gq_conv_new_algo(c->cin, c->h, c->w, c->cout, c->k, c->s, c->p,
		              c->d, c->relu, GQ_CONV_WINO3)) != NULL;
		if (ok && orbit_mode() != 0 && orbit_candidate(c))
			ok = (out[n++] = new_orbit_algo(c, false, GQ_CONV_WINO3)) != NULL;
	}
	if (r.keep)
		def[1] = 0;
	while (!ok && n > 0)
		gq_conv_free(out[--n]);
	return ok ? n : -1;
}

gq_conv *gq_conv_new_group(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu,
        int ng, const int *elem, bool lift)
{
	gq_conv_shape c = {cin, h, w, cout, k, s, p, d, relu, ng, elem, lift};
	return gq_conv_new_in_model(&c, gq_conv_expanded_bytes(&c));
}
