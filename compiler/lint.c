/* lint.c: which elements of the group the model is exactly equivariant to (SPEC §1).
 *
 * Element g is exact iff every layer commutes with g and maps its sampled grid onto
 * itself under g. A sliding layer (lift, gconv, conv, pools) puts its window centres at
 * o*s - p + d(k-1)/2 in its input; with R = (n + 2p - d(k-1) - 1) mod s the last R
 * positions of the padded input are never covered and the centres sit R/2 pixels
 * up/left of the input's centre. Which elements survive that is not tabulated here: it
 * is asked of gq_d4_point, on the window centres in half pixels (exact integers).
 *
 * The verdict is carried per value, not per chain: a value is exact for g iff its
 * operands are and its layer breaks nothing for g. For a chain this is the same as asking
 * whether g maps every layer's grid, placed in the original image, onto itself (the
 * shifts only accumulate); for `+` of branches it stays right when the branches sample
 * different grids. Separately each value's grid is tracked in original image
 * coordinates, position(i) = a + b*i, for the shifts the notes and JSON report, and for
 * -Wgrid-alignment: operands of `+` sampled on different grids of the image. */
#include "geqc.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { AXIS_Y, AXIS_X };
enum { NOTE_WIDTH = 80, SEARCH_STEPS = 4096 };

/* A value's sampling grid in the original image, per axis. */
typedef struct Grid {
	double a[2], b[2]; /* pixel i of the value sits at a + b*i of the input image */
	int n[2];          /* pixels along the axis (those of the map it came from, for vectors) */
} Grid;

typedef struct Ctx {
	const Model *m;
	Diag *d;
	Lint *l;
	unsigned all;     /* the model's group */
	unsigned non_e;   /* the group without e */
	Grid *grid;       /* per value */
	unsigned *exact;  /* per value: elements for which it is exactly equivariant */
	unsigned *moved;  /* per vector value: elements that act on it non-trivially */
	bool *flat;       /* per G-map value: its planes are equal along the group axis */
	unsigned *gridbr; /* per layer: elements its own grid breaks */
	unsigned *selfbr; /* per layer: elements it breaks by not commuting (SPEC §1 (a)) */
	bool *misaligned; /* per layer: its operands sit on different grids */
	bool sizes_noted;
	const LintProbe *probe; /* lints the model afresh at another size, or NULL */
} Ctx;

/* ---- a small string builder for messages ---- */

typedef struct Buf {
	char s[1024];
	size_t n;
} Buf;

static void bprintf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(Buf *b, const char *fmt, ...)
{
	if (b->n >= sizeof b->s - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		b->n = b->n + (size_t)k < sizeof b->s ? b->n + (size_t)k : sizeof b->s - 1;
}

/* A space that wrap() must not break at: it keeps arithmetic such as
 * (29 + 2*0 - 1*(2-1) - 1) mod 2 = 1 on one line. */
#define KEEP '\x1f'

/* Breaks a note into lines of about NOTE_WIDTH at its spaces. */
static void wrap(Buf *b)
{
	size_t line = 0, last_space = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (b->s[i] == '\n') {
			line = i + 1;
			last_space = 0;
			continue;
		}
		if (b->s[i] == ' ')
			last_space = i;
		if (i - line >= NOTE_WIDTH && last_space > line) {
			b->s[last_space] = '\n';
			line = last_space + 1;
			last_space = 0;
		}
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->s[i] == KEEP)
			b->s[i] = ' ';
}

/* Marks the spaces written to b since `from` as ones wrap() keeps. */
static void keep_together(Buf *b, size_t from)
{
	for (size_t i = from; i < b->n; i++)
		if (b->s[i] == ' ')
			b->s[i] = KEEP;
}

/* "r, r2, r3": the members of mask in canonical order. */
static void put_elements(Buf *b, unsigned mask)
{
	const char *sep = "";
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (mask & 1u << g) {
			bprintf(b, "%s%s", sep, d4_name[g]);
			sep = ", ";
		}
}

static int popcount(unsigned x)
{
	int n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}

/* ---- the geometry ---- */

static int residue(int n, int k, int s, int p, int d)
{
	long long span = (long long)n + 2LL * p - (long long)d * (k - 1) - 1;
	return span < 0 || s < 1 ? 0 : (int)(span % s);
}

/* Maps the box [lo, hi] (half-pixel coordinates on a plane of size[0] x size[1]) by g
 * and says whether it lands on itself. */
static bool box_fixed(int g, const long long size[2], const long long lo[2], const long long hi[2])
{
	if (size[0] > INT_MAX || size[1] > INT_MAX)
		return false;
	if (gq_d4_swaps_axes(g) && size[0] != size[1])
		return false;
	int y0, x0, y1, x1;
	gq_d4_point(g, (int)size[0], (int)size[1], (int)lo[0], (int)lo[1], &y0, &x0);
	gq_d4_point(g, (int)size[0], (int)size[1], (int)hi[0], (int)hi[1], &y1, &x1);
	return (y0 < y1 ? y0 : y1) == lo[0] && (y0 > y1 ? y0 : y1) == hi[0] &&
	       (x0 < x1 ? x0 : x1) == lo[1] && (x0 > x1 ? x0 : x1) == hi[1];
}

/* The elements of D4 that map the window centres of a sliding layer onto themselves
 * about the centre of its n[0] x n[1] input. In half pixels the centres are
 * 2os - 2p + d(k-1) and the input's pixels 0, 2, .., 2n-2, exact integers; a margin keeps
 * centres that reach into the padding on the plane. The centres are the box of a lattice
 * with the same step on both axes, and g moves such a lattice to another, so g maps the
 * centres onto themselves iff it maps the box's corners onto its corners. */
static unsigned window_symmetries(const int n[2], int k, int s, int p, int d)
{
	long long lo[2], hi[2], size[2], margin = 0;
	for (int a = 0; a < 2; a++) {
		int m = conv_out_size(n[a], k, s, p, d);
		if (m <= 0)
			return 1u; /* an unchecked model: claim nothing but e */
		lo[a] = (long long)d * (k - 1) - 2LL * p;
		hi[a] = lo[a] + 2LL * s * (m - 1);
		long long over = hi[a] - (2LL * n[a] - 2);
		margin = -lo[a] > margin ? -lo[a] : margin;
		margin = over > margin ? over : margin;
	}
	unsigned ok = 0;
	for (int a = 0; a < 2; a++) {
		lo[a] += margin;
		hi[a] += margin;
		size[a] = 2LL * n[a] - 1 + 2 * margin;
	}
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (box_fixed(g, size, lo, hi))
			ok |= 1u << g;
	return ok;
}

/* Elements that move some pixel of an h x w plane (all but e, unless it is degenerate). */
static unsigned plane_movers(int h, int w)
{
	unsigned moved = 0;
	for (int g = 1; g < GQ_D4_ORDER; g++) {
		if (gq_d4_swaps_axes(g) && h != w) {
			moved |= 1u << g;
			continue;
		}
		int ys[2] = {0, h - 1}, xs[2] = {0, w - 1};
		for (int i = 0; i < 4; i++) {
			int oy, ox;
			gq_d4_point(g, h, w, ys[i / 2], xs[i % 2], &oy, &ox);
			if (oy != ys[i / 2] || ox != xs[i % 2])
				moved |= 1u << g;
		}
	}
	return moved;
}

/* Axes an element reverses: bit AXIS_Y for a flip of the rows (only asked of elements
 * that keep the axes, i.e. those of groups allowed on non-square inputs). */
static unsigned flipped_axes(int g)
{
	if (gq_d4_swaps_axes(g))
		return 3u;
	int oy, ox;
	gq_d4_point(g, 2, 2, 0, 0, &oy, &ox);
	return (oy != 0 ? 1u << AXIS_Y : 0) | (ox != 0 ? 1u << AXIS_X : 0);
}

static bool group_has_swapper(unsigned mask)
{
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (mask & 1u << g && gq_d4_swaps_axes(g))
			return true;
	return false;
}

static double grid_shift(const Grid *gr, int axis, int image_n)
{
	return gr->a[axis] + gr->b[axis] * (gr->n[axis] - 1) / 2.0 - (image_n - 1) / 2.0;
}

/* The sliding layer L moves its input's grid: a' = a + b(d(k-1)/2 - p), b' = b*s. */
static void slide_grid(Grid *gr, const Layer *L)
{
	int out[2] = {L->out_shape.h, L->out_shape.w};
	for (int a = 0; a < 2; a++) {
		gr->a[a] += gr->b[a] * (L->d * (L->k - 1) / 2.0 - L->p);
		gr->b[a] *= L->s;
		gr->n[a] = out[a];
	}
}

/* An upsampling by s keeps the grid's centre and divides its step: the s x s pixels
 * made of input pixel i sit at a + b*i - b(s-1)/2s + (b/s)*j, j < s. */
static void upsample_grid(Grid *gr, const Layer *L)
{
	for (int a = 0; a < 2; a++) {
		gr->a[a] -= gr->b[a] * (L->s - 1) / (2.0 * L->s);
		gr->b[a] /= L->s;
		gr->n[a] *= L->s;
	}
}

/* ---- the per-layer verdict ---- */

static bool same_vector_action(Shape x, Shape y)
{
	return x.act == y.act && x.c == y.c && x.g == y.g && x.h == y.h && x.w == y.w;
}

/* Elements for which the layer does not commute with the group (SPEC §1 (a)); updates
 * *moved, the action on the output when it is a vector. */
static unsigned self_breaks(Ctx *c, const Layer *L, unsigned *moved)
{
	const Shape *in = &L->in_shape;
	switch (L->op) {
	case OP_CONV:
		return L->k > 1 ? c->non_e : 0;
	case OP_GLOBAL_AVGPOOL:
	case OP_GLOBAL_MAXPOOL:
		*moved = in->kind == K_GMAP && !c->flat[L->in[0]] ? c->non_e : 0;
		return 0;
	case OP_FLATTEN:
		if (in->kind == K_GMAP && !c->flat[L->in[0]])
			*moved = c->non_e;
		else
			*moved = plane_movers(in->h, in->w) & c->all;
		return 0;
	case OP_LINEAR:
		*moved = 0;
		return c->moved[L->in[0]];
	case OP_ADD: {
		if (in->kind != K_VECTOR)
			return 0;
		unsigned ma = c->moved[L->in[0]], mb = c->moved[L->in[1]];
		Shape sa = c->m->value[L->in[0]], sb = c->m->value[L->in[1]];
		*moved = ma | mb;
		if (sa.act == VA_MIXED || sb.act == VA_MIXED)
			return 0; /* reported where it was mixed */
		if (L->out_shape.act == VA_MIXED)
			return c->non_e; /* the group has no action on the sum (SPEC §3) */
		return same_vector_action(sa, sb) ? 0 : ma | mb;
	}
	case OP_LIFT:
	case OP_GCONV:
	case OP_MAXPOOL:
	case OP_AVGPOOL:
	case OP_BN:
	case OP_RELU:
	case OP_SIGMOID:
	case OP_TANH:
	case OP_GPOOL:
	case OP_SOFTMAX:
	case OP_CONCAT:
	case OP_UPSAMPLE: /* nearest and bilinear alike are symmetric about the plane's centre */
	case OP_DROPOUT:  /* the identity at inference */
	case OP_COUNT:
		return 0;
	}
	return 0;
}

/* Whether the output is a G-map whose planes are equal along the group axis: a lift with
 * a 1x1 filter makes one (T_g leaves a 1x1 filter alone), and a 1x1 gconv sums its input
 * over the whole group for every output element, so it keeps one. The group's
 * permutation of such a map's group axis changes nothing. */
static bool flat_output(const Ctx *c, const Layer *L)
{
	bool in = true;
	for (int j = 0; j < L->nin; j++)
		in &= c->flat[L->in[j]];
	if (L->op == OP_LIFT)
		return L->k == 1;
	if (L->op == OP_GCONV)
		return in && L->k == 1;
	return in && op_has(L->op, P_PLANEWISE);
}

/* The grid of a layer that puts its operands' features together place by place (`+`,
 * and concat, which calls this too): the operands' common grid where they agree; where
 * they do not, no single grid (NaN), whatever the operands' order. Returns whether they
 * disagree here and had not already (a NaN operand was reported where it arose). */
static bool join_operand_grids(const Ctx *c, const int *in, int nin, Grid *out)
{
	bool differ = false;
	*out = c->grid[in[0]];
	for (int j = 1; j < nin; j++) {
		const Grid *o = &c->grid[in[j]];
		for (int a = 0; a < 2; a++) {
			differ |=
			        (isfinite(out->a[a]) && isfinite(o->a[a]) &&
			                out->a[a] != o->a[a]) ||
			        (isfinite(out->b[a]) && isfinite(o->b[a]) && out->b[a] != o->b[a]);
			out->a[a] = out->a[a] == o->a[a] ? out->a[a] : NAN;
			out->b[a] = out->b[a] == o->b[a] ? out->b[a] : NAN;
		}
	}
	return differ;
}

static void lint_layer(Ctx *c, int i)
{
	const Layer *L = &c->m->layer[i];
	LayerLint *ll = &c->l->layer[i];
	int v = L->out, in = L->in[0];
	unsigned exact = c->exact[in], moved = c->moved[in];
	for (int j = 1; j < L->nin; j++) /* a + or concat keeps what every operand keeps */
		exact &= c->exact[L->in[j]];
	c->grid[v] = c->grid[in];
	if (L->op == OP_UPSAMPLE)
		upsample_grid(&c->grid[v], L);
	if (L->nin > 1 && L->in_shape.kind != K_VECTOR) /* a vector's entries have no place */
		c->misaligned[i] = join_operand_grids(c, L->in, L->nin, &c->grid[v]);
	if (op_has(L->op, P_SLIDING)) {
		int n[2] = {L->in_shape.h, L->in_shape.w};
		ll->res[AXIS_Y] = residue(n[0], L->k, L->s, L->p, L->d);
		ll->res[AXIS_X] = residue(n[1], L->k, L->s, L->p, L->d);
		c->gridbr[i] = c->all & ~window_symmetries(n, L->k, L->s, L->p, L->d);
		slide_grid(&c->grid[v], L);
	}
	c->selfbr[i] = self_breaks(c, L, &moved) & c->all;
	c->exact[v] = exact & ~c->gridbr[i] & ~c->selfbr[i];
	c->moved[v] = moved;
	c->flat[v] = flat_output(c, L);
	ll->breaks = c->gridbr[i] | c->selfbr[i];
	ll->self_break = c->selfbr[i] != 0;
	for (int a = 0; a < 2; a++) {
		int image_n = a == AXIS_Y ? c->m->input.h : c->m->input.w;
		ll->shift[a] = grid_shift(&c->grid[v], a, image_n);
		ll->stride[a] = c->grid[v].b[a];
	}
}

/* ---- the operand of a call, for fixes written in .geq syntax ---- */

/* The first operand of L's call if it is written as a plain name, else "...". */
static const char *operand_name(const Layer *L)
{
	const Node *n = L->node;
	if (n && n->kind == N_CALL && n->args && !n->args->kw && n->args->val->kind == N_NAME)
		return n->args->val->name;
	return "...";
}

/* ---- the grid warning and its notes ---- */

static void put_arith(Buf *b, int n, const Layer *L, int r)
{
	size_t from = b->n;
	bprintf(b, "(%d + 2*%d - %d*(%d-1) - 1) mod %d = %d", n, L->p, L->d, L->k, L->s, r);
	keep_together(b, from);
}

static void put_lines(Buf *b, int r, const char *one, const char *many)
{
	if (r == 1)
		bprintf(b, "%s", one);
	else
		bprintf(b, "%d %s", r, many);
}

/* "the last row and column are never sampled" and friends. */
static void put_unsampled(Buf *b, const int r[2], int p)
{
	bprintf(b, "the last ");
	if (r[0] && r[1] && r[0] == r[1]) {
		put_lines(b, r[0], "row and column", "rows and columns");
	} else {
		if (r[0])
			put_lines(b, r[0], "row", "rows");
		if (r[0] && r[1])
			bprintf(b, " and the last ");
		if (r[1])
			put_lines(b, r[1], "column", "columns");
	}
	bool plural = (r[0] && r[1]) || r[0] > 1 || r[1] > 1;
	bprintf(b, "%s %s never sampled", p ? " of the padded input" : "", plural ? "are" : "is");
}

/* "moves 0.5 px up and left", with each axis's shift in pixels of the input image; when
 * earlier layers already moved the grid, also where it ends up. */
static void put_move(Buf *b, const int r[2], const double bstep[2], const double total[2])
{
	double dy = bstep[0] * r[0] / 2, dx = bstep[1] * r[1] / 2;
	bprintf(b, "the grid's centre moves ");
	if (r[0] && r[1] && dy == dx)
		bprintf(b, "%.15g px up and left", dy);
	else if (r[0] && r[1])
		bprintf(b, "%.15g px up and %.15g px left", dy, dx);
	else if (r[0])
		bprintf(b, "%.15g px up", dy);
	else
		bprintf(b, "%.15g px left", dx);
	if (bstep[0] > 1 || bstep[1] > 1)
		bprintf(b, " in the input image");
	if ((-total[0] == dy && -total[1] == dx) || !isfinite(total[0] + total[1]))
		return;
	if (-total[0] == -total[1])
		bprintf(b, ", %.15g px up and left in all", -total[0]);
	else
		bprintf(b, ", %.15g px up and %.15g px left in all", -total[0], -total[1]);
}

static void note_arith(Ctx *c, int i)
{
	const Layer *L = &c->m->layer[i];
	const LayerLint *ll = &c->l->layer[i];
	const Grid *gin = &c->grid[L->in[0]];
	int h = L->in_shape.h, w = L->in_shape.w;
	Buf b = {.n = 0};
	bprintf(&b, "its input is %dx%d", h, w);
	if (gin->b[0] > 1 || gin->b[1] > 1)
		bprintf(&b, " (a grid of stride %.15g in the input image)", gin->b[0]);
	bprintf(&b, ": ");
	if (h == w) {
		put_arith(&b, h, L, ll->res[0]);
		bprintf(&b, " on both axes");
	} else {
		bprintf(&b, "on the y axis (height %d) ", h);
		put_arith(&b, h, L, ll->res[0]);
		bprintf(&b, "; on the x axis (width %d) ", w);
		put_arith(&b, w, L, ll->res[1]);
	}
	bprintf(&b, ", so ");
	put_unsampled(&b, ll->res, L->p);
	bprintf(&b, " and ");
	put_move(&b, ll->res, gin->b, ll->shift);
	unsigned survive = c->non_e & c->exact[L->out]; /* still exact after this layer */
	if (survive) {
		bprintf(&b, "; ");
		const char *sep = "";
		for (int g = 1; g < GQ_D4_ORDER; g++)
			if (survive & 1u << g) {
				bprintf(&b, "%s%s (%s)", sep, d4_spelling[g], d4_name[g]);
				sep = " and ";
			}
		bprintf(&b, " still %s the grid onto itself",
		        popcount(survive) > 1 ? "map" : "maps");
	}
	wrap(&b);
	note_at(c->d, L->loc, "%s", b.s);
}

/* ---- input sizes that centre every grid ---- */

/* Whether an H x W input fits every layer with residue 0 on the axes in mask: every
 * value's shape inferred again into val[] (shape.c), stopping at the first layer that
 * fails (a window that no longer fits, operands of a `+` that no longer agree, an
 * off-centre grid), so that the search below costs little per rejected size even on a
 * deep model. */
static bool centred_at(const Model *m, Shape *val, int H, int W, unsigned axes)
{
	val[0] = m->input;
	val[0].h = H;
	val[0].w = W;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		Shape in[GEQC_MAX_OPERANDS];
		shape_operands(L, val, in);
		if (!shape_infer(L, in, m->group.n, &val[L->out]))
			return false;
		int n[2] = {in[0].h, in[0].w};
		for (int a = 0; op_has(L->op, P_SLIDING) && a < 2; a++)
			if (axes & 1u << a && residue(n[a], L->k, L->s, L->p, L->d))
				return false;
	}
	return true;
}

/* The steps worth searching: every residue is periodic in the input size with period the
 * product of the strides (growing the input by it grows each value by a whole number of
 * its layer's strides), and a larger input only fits windows better, so a size not found
 * within one period above or below is not found further away either. */
static int search_steps(const Model *m)
{
	long long period = 1;
	for (int i = 0; i < m->nlayers && period < SEARCH_STEPS; i++)
		if (op_has(m->layer[i].op, P_SLIDING))
			period *= m->layer[i].s;
	return period < SEARCH_STEPS ? (int)period : SEARCH_STEPS;
}

/* Whether the whole model lints exact at h x w, asked of the probe (true without one). */
static bool probe_exact(const LintProbe *probe, int h, int w)
{
	return !probe || probe->exact_at(probe->arg, h, w);
}

/* Nearest size below (dir -1) or above (dir +1) n on the axes in mask, or 0. For both
 * axes at once (a group that swaps them) the input stays square. A probe, if given,
 * must also find the model exact there: a centred grid is not enough when some layer
 * breaks the group by itself at that size (a linear on a flattened map that is 1x1 at
 * some sizes only, say). */
static int nearest(
        const Model *m, Shape *val, int H, int W, unsigned axes, int dir, const LintProbe *probe)
{
	int n = axes & 1u << AXIS_Y ? H : W;
	for (int step = 1, steps = search_steps(m); step <= steps; step++) {
		int t = n + dir * step;
		if (t < 1 || t > GEQC_MAX_DIM)
			return 0;
		int h = axes & 1u << AXIS_Y ? t : H, w = axes & 1u << AXIS_X ? t : W;
		if (centred_at(m, val, h, w, axes) && probe_exact(probe, h, w))
			return t;
	}
	return 0;
}

/* The axes whose grids the group needs centred, among those some layer breaks. */
static unsigned axes_to_fix(Ctx *c)
{
	unsigned off = 0, need = 0;
	for (int i = 0; i < c->m->nlayers; i++)
		for (int a = 0; a < 2; a++)
			if (c->l->layer[i].res[a])
				off |= 1u << a;
	for (int g = 1; g < GQ_D4_ORDER; g++)
		if (c->all & 1u << g)
			need |= flipped_axes(g);
	return off & need;
}

/* The first layer that breaks some element by itself (SPEC §1 (a)), or -1. */
static int first_self_break(const Ctx *c)
{
	for (int i = 0; i < c->m->nlayers; i++)
		if (c->selfbr[i])
			return i;
	return -1;
}

/* With a probe, when no size near the current one lints exact: says so, and names the
 * layer that breaks the group by itself if there is one. */
static void note_no_size(Ctx *c)
{
	const Model *m = c->m;
	Buf b = {.n = 0};
	bprintf(&b, "no input size within %d px of %dx%d makes every layer exact (each was linted)",
	        search_steps(m), m->input.h, m->input.w);
	int i = first_self_break(c);
	if (i >= 0) {
		bprintf(&b, ": %s breaks ", m->layer[i].path);
		put_elements(&b, c->selfbr[i]);
		bprintf(&b, " by itself");
	}
	wrap(&b);
	note_at(c->d, m->input_loc, "%s", b.s);
}

/* Returns whether it printed the note. */
static bool note_sizes(Ctx *c)
{
	const Model *m = c->m;
	Shape *val = xcalloc((size_t)m->nvalues, sizeof *val);
	int H = m->input.h, W = m->input.w, lo[2] = {H, W}, hi[2] = {H, W};
	unsigned fix = axes_to_fix(c);
	bool ok = fix != 0;
	if (ok && group_has_swapper(c->all)) {
		lo[0] = lo[1] = nearest(m, val, H, W, 3u, -1, c->probe);
		hi[0] = hi[1] = nearest(m, val, H, W, 3u, +1, c->probe);
	} else if (ok) {
		for (int a = 0; a < 2; a++)
			if (fix & 1u << a) {
				/* one axis alone can be probed only if it is the only one to fix */
				const LintProbe *probe = fix == 1u << a ? c->probe : NULL;
				lo[a] = nearest(m, val, H, W, 1u << a, -1, probe);
				hi[a] = nearest(m, val, H, W, 1u << a, +1, probe);
			}
	}
	/* per-axis answers must also hold together */
	bool has_lo = ok && lo[0] && lo[1] && centred_at(m, val, lo[0], lo[1], fix) &&
	              probe_exact(c->probe, lo[0], lo[1]);
	bool has_hi = ok && hi[0] && hi[1] && centred_at(m, val, hi[0], hi[1], fix) &&
	              probe_exact(c->probe, hi[0], hi[1]);
	free(val);
	if (!has_lo && !has_hi && ok && c->probe)
		note_no_size(c);
	if (!has_lo && !has_hi)
		return false;
	for (int k = 0; k < 2 && c->probe; k++)
		if (k ? has_hi : has_lo) {
			int *to = c->l->nearest[c->l->nnearest++];
			to[0] = k ? hi[0] : lo[0];
			to[1] = k ? hi[1] : lo[1];
		}
	bool any_self = !c->probe && first_self_break(c) >= 0;
	Buf b = {.n = 0};
	bprintf(&b, "nearest input sizes that %s: ",
	        any_self ? "centre every layer's grid" : "make every layer exact");
	if (has_lo)
		bprintf(&b, "%dx%d%s", lo[0], lo[1], has_hi ? ", " : "");
	if (has_hi)
		bprintf(&b, "%dx%d", hi[0], hi[1]);
	note_at(c->d, m->input_loc, "%s", b.s);
	return true;
}

/* ---- a change to one layer that centres its grid at the current size ---- */

typedef struct Fix {
	int k, p;
	int rank[4]; /* compared in order, smaller first */
} Fix;

static bool fix_better(const Fix *x, const Fix *y)
{
	for (int i = 0; i < 4; i++)
		if (x->rank[i] != y->rank[i])
			return x->rank[i] < y->rank[i];
	return false;
}

/* Paddings worth trying with kernel k: valid ones (pools: p <= k/2 as PyTorch requires;
 * convs: every window still touches the image), within a stride of the current one
 * (2p mod s takes every value there, and the output size cannot stay the same beyond). */
static void padding_range(const Layer *L, int k, int *lo, int *hi)
{
	long long top = op_has(L->op, P_POOL) ? k / 2 : (long long)L->d * (k - 1);
	int reach = L->s < 32 ? L->s : 32;
	*lo = L->p > reach ? L->p - reach : 0;
	*hi = top < (long long)L->p + reach ? (int)top : L->p + reach;
}

/* Tries kernel k with every valid padding; keeps the best candidate in *best. */
static void try_kernel(Ctx *c, const Layer *L, int k, int dk_rank, Fix *best, bool *found)
{
	int n[2] = {L->in_shape.h, L->in_shape.w};
	if (k < 1 || k > GEQC_MAX_DIM)
		return;
	int plo, phi;
	padding_range(L, k, &plo, &phi);
	for (int p = plo; p <= phi; p++) {
		if (k == L->k && p == L->p)
			continue;
		int oy = conv_out_size(n[0], k, L->s, p, L->d);
		int ox = conv_out_size(n[1], k, L->s, p, L->d);
		if (oy <= 0 || ox <= 0)
			continue;
		if (c->all & ~window_symmetries(n, k, L->s, p, L->d))
			continue;
		bool same = oy == L->out_shape.h && ox == L->out_shape.w;
		Fix f = {k, p, {!same, dk_rank, abs(p - L->p), p}};
		if (!*found || fix_better(&f, best)) {
			*best = f;
			*found = true;
		}
	}
}

static void put_call(Buf *b, const Layer *L, const char *operand, int k, int p)
{
	const char *op = op_info[L->op].name;
	if (op_has(L->op, P_POOL)) {
		bprintf(b, "%s(%s, %d", op, operand, k);
		if (L->s != k)
			bprintf(b, ", s=%d", L->s);
	} else {
		bprintf(b, "%s(%s, %d, k=%d", op, operand, L->C, k);
		if (L->s != 1)
			bprintf(b, ", s=%d", L->s);
	}
	if (p)
		bprintf(b, ", p=%d", p);
	if (L->d != 1)
		bprintf(b, ", d=%d", L->d);
	if (!op_has(L->op, P_POOL) && !L->bias)
		bprintf(b, ", bias=false");
	bprintf(b, ")");
}

/* Whether L's source text made L alone: not a body that a block call or a for loop
 * expands more than once (where one rewrite would change every instance, which
 * differ), and not inside a block body at all (diag_fixit drops those too). */
static bool sole_instance(const Ctx *c, const Layer *L)
{
	if (L->loc.site)
		return false;
	for (int i = 0; i < c->m->nlayers; i++) {
		Loc o = c->m->layer[i].loc;
		if (&c->m->layer[i] != L && o.first_line == L->loc.first_line &&
		        o.first_column == L->loc.first_column)
			return false;
	}
	return true;
}

/* The call with kernel k and padding p; whether it may replace L's source as a fix-it:
 * its operand is a plain name (else the text reads `...`) and L is the sole instance of
 * its source. */
static bool put_fix_call(Buf *b, const Ctx *c, const Layer *L, int k, int p)
{
	const char *operand = operand_name(L);
	put_call(b, L, operand, k, p);
	return strcmp(operand, "...") != 0 && sole_instance(c, L);
}

static void note_layer_fix(Ctx *c, int i, bool after_sizes)
{
	const Layer *L = &c->m->layer[i];
	Fix best = {0};
	bool found = false;
	static const int dks[] = {0, 1, -1, 2, -2};
	for (size_t j = 0; j < sizeof dks / sizeof dks[0]; j++)
		try_kernel(c, L, L->k + dks[j], abs(dks[j]), &best, &found);
	if (!found)
		return;
	Buf b = {.n = 0}, call = {.n = 0};
	bool fixable = put_fix_call(&call, c, L, best.k, best.p);
	/* exactness is claimed only when the changed model lints exact */
	bool exact = fixable && c->probe && c->probe->exact_with(c->probe->arg, L->loc, call.s);
	bprintf(&b, "%s %dx%d: %s %s", after_sizes ? "or keep" : "keeping", c->m->input.h,
	        c->m->input.w, call.s,
	        exact ? "makes every layer exact" : "samples a centred grid");
	note_at(c->d, L->loc, "%s", b.s);
	if (fixable)
		diag_fixit(c->d, L->loc, call.s);
}

static void warn_grid(Ctx *c, int i)
{
	const Layer *L = &c->m->layer[i];
	Buf b = {.n = 0};
	put_elements(&b, c->gridbr[i]);
	warn_equiv(c->d, L->loc, "%s samples an off-centre grid: not exactly equivariant to %s",
	        op_info[L->op].name, b.s);
	note_arith(c, i);
	bool sizes = !c->sizes_noted && note_sizes(c);
	c->sizes_noted = true;
	note_layer_fix(c, i, sizes);
}

/* ---- warnings for layers that do not commute with the group ---- */

/* The layer that produced value v, looking through ops that keep a vector's action. */
static const Layer *vector_source(const Model *m, int v)
{
	while (v > 0) {
		const Layer *L = &m->layer[v - 1];
		if (!op_has(L->op, P_KEEPS_ACT))
			return L;
		v = L->in[0];
	}
	return NULL;
}

static void warn_conv(Ctx *c, const Layer *L, const char *elems)
{
	warn_equiv(c->d, L->loc,
	        "conv with a %dx%d kernel is not equivariant to %s (a plain filter is not "
	        "rotated or mirrored with its input)",
	        L->k, L->k, elems);
	note_at(c->d, L->loc, "use lift (image -> G-map) and gconv, or a 1x1 conv");
}

/* A linear layer on a vector the group moves; the message names where the vector came
 * from (through relu and friends) and the note how to make it invariant. */
static void warn_linear(Ctx *c, const Layer *L, const char *elems)
{
	const Layer *src = vector_source(c->m, L->in[0]);
	const char *x = src ? operand_name(src) : "...";
	bool pooled = src && (src->op == OP_GLOBAL_AVGPOOL || src->op == OP_GLOBAL_MAXPOOL);
	bool flattened = src && src->op == OP_FLATTEN;
	switch (c->m->value[L->in[0]].act) {
	case VA_GROUP:
		warn_equiv(c->d, L->loc,
		        "linear on a vector that the group permutes (%s of a G-map) is not "
		        "invariant to %s",
		        pooled ? op_info[src->op].name : "a global pool", elems);
		note_at(c->d, L->loc, "pool over the group first: %s(gpool(%s, max))",
		        pooled ? op_info[src->op].name : "global_avgpool", pooled ? x : "...");
		return;
	case VA_MAP:
		if (!flattened)
			break;
		warn_equiv(c->d, L->loc,
		        "linear on a flattened %dx%d %s, which the group moves, is not invariant "
		        "to %s",
		        src->in_shape.h, src->in_shape.w, kind_name(src->in_shape.kind), elems);
		if (src->in_shape.kind == K_GMAP)
			note_at(c->d, L->loc,
			        "pool first: global_avgpool(gpool(%s, max)) is invariant", x);
		else
			note_at(c->d, L->loc, "pool first: global_avgpool(%s) is invariant", x);
		return;
	case VA_MIXED:
		warn_equiv(c->d, L->loc,
		        "linear on a sum of vectors that the group moves differently is not "
		        "invariant to %s",
		        elems);
		return;
	case VA_TRIVIAL:
	case VA_NONE:
		break;
	}
	warn_equiv(c->d, L->loc, "linear on a vector that the group moves is not invariant to %s",
	        elems);
}

static const char *vector_action(const Ctx *c, int v)
{
	switch (c->m->value[v].act) {
	case VA_GROUP:
		return "that the group permutes (a global pool of a G-map)";
	case VA_MAP:
		return "that moves with the map it was flattened from";
	case VA_MIXED:
		return "that already mixes two actions";
	case VA_TRIVIAL:
	case VA_NONE:
		break;
	}
	return c->moved[v] ? "that the group moves" : "that the group leaves alone";
}

static void warn_add(Ctx *c, const Layer *L, const char *elems)
{
	warn_equiv(c->d, L->loc,
	        "'+' of vectors that the group moves differently is not equivariant to %s", elems);
	Buf b = {.n = 0};
	bprintf(&b, "its left operand is a vector %s, its right one a vector %s",
	        vector_action(c, L->in[0]), vector_action(c, L->in[1]));
	wrap(&b);
	note_at(c->d, L->loc, "%s", b.s);
}

static void warn_self(Ctx *c, int i)
{
	const Layer *L = &c->m->layer[i];
	Buf b = {.n = 0};
	put_elements(&b, c->selfbr[i]);
	if (L->op == OP_CONV)
		warn_conv(c, L, b.s);
	else if (L->op == OP_LINEAR)
		warn_linear(c, L, b.s);
	else
		warn_add(c, L, b.s);
}

/* ---- -Wgrid-alignment: operands sampled on different grids ---- */

/* "gconv3's grid, centred 0.5 px up and 0.5 px left of the image's centre, step 2 px". */
static void put_grid(Buf *b, const Ctx *c, int v)
{
	const Grid *g = &c->grid[v];
	double dy = grid_shift(g, AXIS_Y, c->m->input.h), dx = grid_shift(g, AXIS_X, c->m->input.w);
	bprintf(b, "%s's grid, ", v > 0 ? c->m->layer[v - 1].path : "the input");
	if (!isfinite(dy + dx))
		bprintf(b, "no single grid (an earlier + or concat joined different ones)");
	else if (dy == 0 && dx == 0)
		bprintf(b, "centred on the image's centre");
	else
		bprintf(b, "centred %.15g px %s and %.15g px %s of the image's centre", fabs(dy),
		        dy <= 0 ? "up" : "down", fabs(dx), dx <= 0 ? "left" : "right");
	if (!isfinite(g->b[0] + g->b[1]))
		return;
	size_t from = b->n + 2;
	if (g->b[0] == g->b[1])
		bprintf(b, ", step %.15g px", g->b[0]);
	else
		bprintf(b, ", steps %.15g px down and %.15g px across", g->b[0], g->b[1]);
	keep_together(b, from);
}

static bool same_grid(const Grid *x, const Grid *y)
{
	return x->a[0] == y->a[0] && x->a[1] == y->a[1] && x->b[0] == y->b[0] && x->b[1] == y->b[1];
}

/* A kernel and padding for the sliding layer that produced value v, keeping its output
 * size, that put v on the grid want; false if there is none. */
static bool align_layer(const Ctx *c, int v, const Grid *want, Fix *best)
{
	const Layer *L = v > 0 ? &c->m->layer[v - 1] : NULL;
	if (!L || !op_has(L->op, P_SLIDING))
		return false;
	const Grid *in = &c->grid[L->in[0]];
	bool found = false;
	for (int dk = -2; dk <= 2; dk++) {
		int k = L->k + dk, plo, phi;
		if (k < 1)
			continue;
		padding_range(L, k, &plo, &phi);
		for (int p = plo; p <= phi; p++) {
			bool same =
			        conv_out_size(L->in_shape.h, k, L->s, p, L->d) == L->out_shape.h &&
			        conv_out_size(L->in_shape.w, k, L->s, p, L->d) == L->out_shape.w;
			for (int a = 0; a < 2 && same; a++)
				same = in->a[a] + in->b[a] * (L->d * (k - 1) / 2.0 - p) ==
				               want->a[a] &&
				       in->b[a] * L->s == want->b[a];
			Fix f = {k, p, {0, abs(dk), abs(p - L->p), p}};
			if (same && (!found || fix_better(&f, best))) {
				*best = f;
				found = true;
			}
		}
	}
	return found;
}

/* How far v's grid is from the image's centre (infinite if it has no single grid). */
static double off_centre(const Ctx *c, int v)
{
	double off = fabs(grid_shift(&c->grid[v], AXIS_Y, c->m->input.h)) +
	             fabs(grid_shift(&c->grid[v], AXIS_X, c->m->input.w));
	return isfinite(off) ? off : INFINITY;
}

/* Whether every operand of L not on ref's grid can be moved onto it by changing the
 * layer that made it; with say, the notes and fix-its that do so. */
static bool align_to(Ctx *c, const Layer *L, int ref, bool say)
{
	for (int j = 0; j < L->nin; j++) {
		int v = L->in[j];
		Fix f;
		if (same_grid(&c->grid[v], &c->grid[ref]))
			continue;
		if (!align_layer(c, v, &c->grid[ref], &f))
			return false;
		if (!say)
			continue;
		const Layer *src = &c->m->layer[v - 1];
		Buf b = {.n = 0}, call = {.n = 0};
		bool fixable = put_fix_call(&call, c, src, f.k, f.p);
		bprintf(&b, "%s (line %d) as %s samples %s's grid", src->path, src->loc.first_line,
		        call.s, ref > 0 ? c->m->layer[ref - 1].path : "the input");
		note_at(c->d, src->loc, "%s", b.s);
		if (fixable)
			diag_fixit(c->d, src->loc, call.s);
	}
	return true;
}

/* Puts the operands on one grid: the most centred operand's among those onto which every
 * other can be moved (a centred grid also mends their equivariance); nothing if none. */
static void note_align_fix(Ctx *c, const Layer *L)
{
	int ref = -1;
	for (int j = 0; j < L->nin; j++)
		if ((ref < 0 || off_centre(c, L->in[j]) < off_centre(c, L->in[ref])) &&
		        align_to(c, L, L->in[j], false))
			ref = j;
	if (ref >= 0)
		align_to(c, L, L->in[ref], true);
}

/* Operands of L on different grids (join_operand_grids said so): each one's grid in a
 * note, then a fix. `+` calls it, and concat, which puts its operands' channels side by
 * side place by place, the same way. */
static void warn_align(Ctx *c, int i)
{
	const Layer *L = &c->m->layer[i];
	if (op_has(L->op, P_INFIX))
		diag_report(c->d, D_WARNING, L->loc, "-Wgrid-alignment",
		        "'%s' adds maps sampled on different grids: each feature is summed with "
		        "one from another place",
		        op_info[L->op].name);
	else
		diag_report(c->d, D_WARNING, L->loc, "-Wgrid-alignment",
		        "%s stacks maps sampled on different grids: the channels at one pixel come "
		        "from different places of the image",
		        op_info[L->op].name);
	Buf b = {.n = 0};
	for (int j = 0; j < L->nin; j++) {
		if (op_has(L->op, P_INFIX))
			bprintf(&b, j ? "; the right one is " : "the left operand is ");
		else
			bprintf(&b, "%soperand %d is ", j ? "; " : "", j + 1);
		put_grid(&b, c, L->in[j]);
	}
	wrap(&b);
	note_at(c->d, L->loc, "%s", b.s);
	note_align_fix(c, L);
}

/* ---- the pass ---- */

static void init_ctx(Ctx *c, const Model *m, Lint *l, Diag *d, const LintProbe *probe)
{
	int nv = m->nvalues > 0 ? m->nvalues : 1, nl = m->nlayers > 0 ? m->nlayers : 1;
	*c = (Ctx){.m = m, .d = d, .l = l, .all = m->group.mask | 1u, .probe = probe};
	c->non_e = c->all & ~1u;
	c->grid = xcalloc((size_t)nv, sizeof *c->grid);
	c->exact = xcalloc((size_t)nv, sizeof *c->exact);
	c->moved = xcalloc((size_t)nv, sizeof *c->moved);
	c->flat = xcalloc((size_t)nv, sizeof *c->flat);
	c->gridbr = xcalloc((size_t)nl, sizeof *c->gridbr);
	c->selfbr = xcalloc((size_t)nl, sizeof *c->selfbr);
	c->misaligned = xcalloc((size_t)nl, sizeof *c->misaligned);
	c->grid[0] = (Grid){{0, 0}, {1, 1}, {m->input.h, m->input.w}};
	c->exact[0] = c->all;
}

static void free_ctx(Ctx *c)
{
	free(c->grid);
	free(c->exact);
	free(c->moved);
	free(c->flat);
	free(c->gridbr);
	free(c->selfbr);
	free(c->misaligned);
}

/* Names the elements that stay exact when only some break, as a subgroup where they are
 * one (SPEC §4.1). */
static void note_verdict(Ctx *c, unsigned exact)
{
	exact = (exact & c->all) | 1u;
	if (exact == c->all || exact == 1u)
		return;
	char buf[GROUP_DESCRIBE_MAX];
	note_at(c->d, c->m->group_loc, "the model is exact for %s of %s",
	        group_describe(buf, sizeof buf, &c->m->group, exact), c->m->group.name);
}

Lint *lint_model(const Model *m, Arena *arena, Diag *d)
{
	return lint_model_probed(m, arena, d, NULL);
}

Lint *lint_model_probed(const Model *m, Arena *arena, Diag *d, const LintProbe *probe)
{
	Lint *l = arena_alloc(arena, sizeof *l);
	l->layer = arena_alloc(arena, sizeof *l->layer * (size_t)(m->nlayers > 0 ? m->nlayers : 1));
	Ctx c;
	init_ctx(&c, m, l, d, probe);
	for (int i = 0; i < m->nlayers; i++)
		lint_layer(&c, i);
	for (int i = 0; i < m->nlayers; i++) {
		if (c.selfbr[i])
			warn_self(&c, i);
		if (c.gridbr[i])
			warn_grid(&c, i);
		if (c.misaligned[i])
			warn_align(&c, i);
	}
	l->exact = c.exact[m->output >= 0 && m->output < m->nvalues ? m->output : 0] | 1u;
	note_verdict(&c, l->exact);
	free_ctx(&c);
	return l;
}

/* ---- --lint-json ---- */

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void json_names(FILE *out, unsigned mask)
{
	const char *sep = "";
	fputc('[', out);
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (mask & 1u << g) {
			fprintf(out, "%s", sep);
			json_str(out, d4_name[g]);
			sep = ", ";
		}
	fputc(']', out);
}

static void json_shape(FILE *out, Shape s)
{
	char buf[SHAPE_DIMS_MAX];
	fprintf(out, "[%s]", shape_dims(s, buf));
}

static void json_num(FILE *out, double x)
{
	if (isfinite(x))
		fprintf(out, "%.17g", x == 0 ? 0.0 : x); /* no "-0" */
	else
		fputs("null", out);
}

/* The block calls a layer sits in, outermost first (SPEC §2.1): each the block's name
 * and where it was called. */
static void json_call_path(FILE *out, const Site *s, bool last)
{
	if (!s) {
		fputc('[', out);
		return;
	}
	json_call_path(out, s->call.site, false);
	fputs("{\"block\": ", out);
	json_str(out, s->block);
	fprintf(out, ", \"line\": %d, \"column\": %d}%s", s->call.first_line, s->call.first_column,
	        last ? "" : ", ");
}

static void json_layer(FILE *out, const Layer *L, const LayerLint *ll, unsigned all)
{
	fputs("    {\"name\": ", out);
	json_str(out, L->path);
	fputs(", \"op\": ", out);
	json_str(out, op_info[L->op].name);
	fprintf(out, ", \"line\": %d, \"column\": %d, \"call_path\": ", L->loc.first_line,
	        L->loc.first_column);
	json_call_path(out, L->loc.site, true);
	fputs("], \"input\": ", out);
	json_shape(out, L->in_shape);
	fputs(", \"output\": ", out);
	json_shape(out, L->out_shape);
	if (op_has(L->op, P_SLIDING) && L->s > 1)
		fprintf(out, ", \"residue\": [%d, %d]", ll->res[0], ll->res[1]);
	else
		fputs(", \"residue\": null", out);
	fputs(", \"shift\": [", out);
	json_num(out, ll->shift[0]);
	fputs(", ", out);
	json_num(out, ll->shift[1]);
	fputs("], \"stride\": [", out);
	json_num(out, ll->stride[0]);
	fputs(", ", out);
	json_num(out, ll->stride[1]);
	fputs("], \"breaks\": ", out);
	json_names(out, ll->breaks & all);
	const char *reason = !(ll->breaks & all) ? NULL : ll->self_break ? "layer" : "grid";
	fputs(", \"reason\": ", out);
	if (reason)
		json_str(out, reason);
	else
		fputs("null", out);
	fputc('}', out);
}

void lint_json_members(FILE *out, const Model *m, const Lint *l)
{
	unsigned all = m->group.mask | 1u;
	fputs("{\n  \"model\": ", out);
	json_str(out, m->name);
	fputs(",\n  \"group\": ", out);
	json_str(out, m->group.name);
	fputs(",\n  \"elements\": ", out);
	json_names(out, all);
	fputs(",\n  \"exact\": ", out);
	json_names(out, l->exact & all);
	fputs(",\n  \"broken\": ", out);
	json_names(out, all & ~l->exact);
	fprintf(out, ",\n  \"input\": [%d, %d, %d],\n  \"nearest_exact_sizes\": [", m->input.c,
	        m->input.h, m->input.w);
	if ((l->exact | 1u) == all)
		fprintf(out, "[%d, %d]", m->input.h, m->input.w);
	for (int k = 0; (l->exact | 1u) != all && k < l->nnearest; k++)
		fprintf(out, "%s[%d, %d]", k ? ", " : "", l->nearest[k][0], l->nearest[k][1]);
	fputs("],\n  \"layers\": [", out);
	for (int i = 0; i < m->nlayers; i++) {
		fputs(i ? ",\n" : "\n", out);
		json_layer(out, &m->layer[i], &l->layer[i], all);
	}
	fputs(m->nlayers ? "\n  ]" : "]", out);
}

void lint_json(FILE *out, const Model *m, const Lint *l)
{
	lint_json_members(out, m, l);
	fputs("\n}\n", out);
}
