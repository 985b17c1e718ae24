/* explain.c: `geqc --explain=FILE.svg` (SPEC §4.1), the lint's grid argument as a
 * picture, one panel per layer whose sampled grid breaks some element:
 *
 *   - the input image's pixels (grey lines, the pixel centres at integer positions),
 *   - the window centres of the layer, placed in the input image (blue dots, from the
 *     lint's cumulative shift and stride),
 *   - their image under a broken element, turned about the image centre (red rings),
 *   - the image centre (a black cross).
 *
 * Where the rings sit on the dots the element maps the grid onto itself; where they
 * miss, it does not, and by how much is visible. Plain SVG 1.1, no script, any browser. */
#include <math.h>
#include <stdio.h>

#include "geqc.h"

enum { PANEL = 520, TITLE = 86, GAP = 24, LEGEND = 104, WIDTH = 760 };
#define GREY "#b8b8b8"
#define BLUE "#1f5fbf"
#define RED  "#d62828"

/* How g moves an offset (dy, dx) from the image centre: its integer matrix, read off
 * gq_d4_point on a 3x3 plane about pixel (1, 1). */
static void element_matrix(int g, int M[2][2])
{
	int oy, ox;
	gq_d4_point(g, 3, 3, 2, 1, &oy, &ox); /* the unit step down */
	M[0][0] = oy - 1, M[1][0] = ox - 1;
	gq_d4_point(g, 3, 3, 1, 2, &oy, &ox); /* the unit step right */
	M[0][1] = oy - 1, M[1][1] = ox - 1;
}

/* The element to draw: r if the layer breaks it, else the first broken one. */
static int shown_element(unsigned breaks)
{
	if (breaks & 1u << 1)
		return 1;
	for (int g = 1; g < GQ_D4_ORDER; g++)
		if (breaks & 1u << g)
			return g;
	return 0;
}

/* A panel's mapping from image coordinates (pixels, y down) to the SVG's, and the grid
 * points it shows: all of a small grid; of a large one the MAX_SHOWN x MAX_SHOWN (or one
 * fewer, to stay symmetric) about the centre, enlarged, so that a half-pixel miss is as plain on
 * 225x225 as on 29x29. */
enum { MAX_SHOWN = 12 };
typedef struct View {
	double y0, x0, span, scale, top, left;
	int k0[2], k1[2]; /* the grid indices shown, per axis */
} View;

static double vy(const View *v, double y)
{
	return v->top + (y - v->y0) * v->scale;
}

static double vx(const View *v, double x)
{
	return v->left + (x - v->x0) * v->scale;
}

/* Position k of the layer's grid along one axis, in input pixels. */
static double grid_pos(const Model *m, const LayerLint *ll, int axis, int n, int k)
{
	double c = ((axis == 0 ? m->input.h : m->input.w) - 1) / 2.0;
	return c + ll->shift[axis] + ll->stride[axis] * (k - (n - 1) / 2.0);
}

/* The box that holds the shown points and their images (which may reach into the
 * padding), and the whole image when every point is shown. */
static View fit(const Model *m, const Layer *L, const LayerLint *ll, double top)
{
	int n[2] = {L->out_shape.h, L->out_shape.w}, size[2] = {m->input.h, m->input.w};
	View v = {.top = top, .left = (WIDTH - PANEL) / 2};
	double lo[2], hi[2], reach = 0;
	bool crop = n[0] > MAX_SHOWN || n[1] > MAX_SHOWN;
	for (int a = 0; a < 2; a++) {
		/* a window symmetric about the grid's centre, which g maps onto the same window */
		int shown = n[a] <= MAX_SHOWN ? n[a] : MAX_SHOWN - (n[a] - MAX_SHOWN) % 2;
		v.k0[a] = (n[a] - shown) / 2;
		v.k1[a] = n[a] - 1 - v.k0[a];
		double c = (size[a] - 1) / 2.0;
		reach = fmax(reach, fabs(grid_pos(m, ll, a, n[a], v.k0[a]) - c));
		reach = fmax(reach, fabs(grid_pos(m, ll, a, n[a], v.k1[a]) - c));
	}
	for (int a = 0; a < 2; a++) { /* the turned points stay inside too: reach on both */
		double c = (size[a] - 1) / 2.0, margin = crop ? ll->stride[a] / 2.0 : 0.5;
		lo[a] = (crop ? c - reach : fmin(-0.5, c - reach)) - margin;
		hi[a] = (crop ? c + reach : fmax(size[a] - 0.5, c + reach)) + margin;
	}
	v.span = fmax(hi[0] - lo[0], hi[1] - lo[1]);
	v.y0 = lo[0], v.x0 = lo[1], v.scale = PANEL / v.span;
	return v;
}

static void draw_pixels(FILE *out, const View *v, int H, int W)
{
	double step = v->scale >= 3 ? 1 : ceil(3 / v->scale);
	double y0 = fmax(-0.5, -0.5 + step * floor((v->y0 + 0.5) / step)),
	       y1 = fmin(H - 0.5, v->y0 + v->span);
	double x0 = fmax(-0.5, -0.5 + step * floor((v->x0 + 0.5) / step)),
	       x1 = fmin(W - 0.5, v->x0 + v->span);
	fprintf(out, "<g stroke=\"" GREY "\" stroke-width=\"1\">\n");
	for (double y = y0; y <= y1 + 1e-9; y += step)
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", vx(v, x0),
		        vy(v, y), vx(v, x1), vy(v, y));
	for (double x = x0; x <= x1 + 1e-9; x += step)
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", vx(v, x),
		        vy(v, y0), vx(v, x), vy(v, y1));
	fprintf(out,
	        "</g>\n<rect class=\"image\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
	        "height=\"%.1f\" fill=\"none\" stroke=\"#606060\" stroke-width=\"2\"/>\n",
	        vx(v, -0.5), vy(v, -0.5), W * v->scale, H * v->scale);
}

/* The grid as dots, or its image under g (matrix M about the centre c) as rings. */
static void draw_grid(FILE *out, const View *v, const Model *m, const Layer *L, const LayerLint *ll,
        const int M[2][2], bool turned)
{
	double c[2] = {(m->input.h - 1) / 2.0, (m->input.w - 1) / 2.0};
	double step = fmin(ll->stride[0], ll->stride[1]) * v->scale;
	double r = fmax(1.5, fmin(0.16 * step, 6.0)) * (turned ? 1.6 : 1.0);
	fprintf(out, "<g class=\"%s\" %s>\n", turned ? "image-under-g" : "sampled",
	        turned ? "fill=\"none\" stroke=\"" RED "\" stroke-width=\"1.6\""
	               : "fill=\"" BLUE "\"");
	for (int i = v->k0[0]; i <= v->k1[0]; i++)
		for (int j = v->k0[1]; j <= v->k1[1]; j++) {
			double y = grid_pos(m, ll, 0, L->out_shape.h, i) - c[0];
			double x = grid_pos(m, ll, 1, L->out_shape.w, j) - c[1];
			if (turned) {
				double ty = M[0][0] * y + M[0][1] * x,
				       tx = M[1][0] * y + M[1][1] * x;
				y = ty, x = tx;
			}
			fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\"/>\n",
			        vx(v, x + c[1]), vy(v, y + c[0]), r);
		}
	fprintf(out, "</g>\n");
}

static void draw_centre(FILE *out, const View *v, const Model *m)
{
	double y = vy(v, (m->input.h - 1) / 2.0), x = vx(v, (m->input.w - 1) / 2.0);
	fprintf(out,
	        "<g class=\"centre\" stroke=\"black\" stroke-width=\"2.5\">"
	        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
	        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
	        x - 12, y, x + 12, y, x, y - 12, x, y + 12);
}

/* "0.5 px up and left" (or "centred") from the lint's shift. */
static void put_offset(FILE *out, const double shift[2])
{
	if (shift[0] == 0 && shift[1] == 0)
		fputs("on the image centre", out);
	else if (shift[0] == shift[1])
		fprintf(out, "%.15g px %s and %s of the image centre", fabs(shift[0]),
		        shift[0] < 0 ? "up" : "down", shift[1] < 0 ? "left" : "right");
	else
		fprintf(out, "%.15g px %s, %.15g px %s of the image centre", fabs(shift[0]),
		        shift[0] < 0 ? "up" : "down", fabs(shift[1]),
		        shift[1] < 0 ? "left" : "right");
}

/* Two lines: which layer (and, in a block, which call of it), and its grid. */
static void draw_title(FILE *out, const Layer *L, const LayerLint *ll, double top)
{
	const Site *s = L->loc.site;
	fprintf(out, "<text x=\"%d\" y=\"%.0f\" font-weight=\"bold\">%s, line %d", GAP, top + 20,
	        L->path, L->loc.first_line);
	if (s)
		fprintf(out, " (in block '%s' called at line %d)", s->block, s->call.first_line);
	fprintf(out, "</text>\n<text x=\"%d\" y=\"%.0f\">a %dx%d grid every %.15g px, centred ",
	        GAP, top + 42, L->out_shape.h, L->out_shape.w, ll->stride[0]);
	put_offset(out, ll->shift);
	fputs("</text>\n", out);
}

static void draw_panel(FILE *out, const Model *m, int i, const Lint *l, double top)
{
	const Layer *L = &m->layer[i];
	const LayerLint *ll = &l->layer[i];
	int g = shown_element(ll->breaks & (m->group.mask | 1u)), M[2][2];
	element_matrix(g, M);
	/* g moves the grid's centre s to M s, and the whole lattice with it by M s - s */
	double dy = M[0][0] * ll->shift[0] + M[0][1] * ll->shift[1] - ll->shift[0];
	double dx = M[1][0] * ll->shift[0] + M[1][1] * ll->shift[1] - ll->shift[1];
	View v = fit(m, L, ll, top + TITLE);
	fprintf(out, "<g class=\"layer\" id=\"%s\" data-rows=\"%d\" data-cols=\"%d\">\n", L->path,
	        v.k1[0] - v.k0[0] + 1, v.k1[1] - v.k0[1] + 1);
	draw_title(out, L, ll, top);
	fprintf(out,
	        "<text x=\"%d\" y=\"%.0f\">%s (%s) moves it by %.15g px down, %.15g px "
	        "right%s</text>\n",
	        GAP, top + 64, d4_name[g], d4_describe[g], dy + 0.0, dx + 0.0,
	        v.k1[0] - v.k0[0] + 1 < L->out_shape.h || v.k1[1] - v.k0[1] + 1 < L->out_shape.w
	                ? " (the points about the centre)"
	                : "");
	fprintf(out,
	        "<clipPath id=\"clip-%s\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" "
	        "height=\"%d\"/></clipPath>\n<g clip-path=\"url(#clip-%s)\">\n",
	        L->name, v.left, v.top, PANEL, PANEL, L->name);
	draw_pixels(out, &v, m->input.h, m->input.w);
	draw_grid(out, &v, m, L, ll, M, false);
	draw_grid(out, &v, m, L, ll, M, true);
	draw_centre(out, &v, m);
	fprintf(out, "</g></g>\n");
}

static void draw_legend(FILE *out, const Model *m, int nbreak)
{
	fprintf(out,
	        "<text x=\"%d\" y=\"24\" font-size=\"17\" font-weight=\"bold\">%s on %s, "
	        "%dx%d input: %d layer%s with an off-centre grid</text>\n",
	        GAP, m->name, m->group.name, m->input.h, m->input.w, nbreak,
	        nbreak == 1 ? "" : "s");
	fprintf(out,
	        "<line x1=\"%d\" y1=\"46\" x2=\"%d\" y2=\"46\" stroke=\"" GREY "\" "
	        "stroke-width=\"3\"/><text x=\"%d\" y=\"51\">input pixels</text>\n",
	        GAP, GAP + 18, GAP + 26);
	fprintf(out,
	        "<circle cx=\"%d\" cy=\"46\" r=\"5\" fill=\"" BLUE "\"/>"
	        "<text x=\"%d\" y=\"51\">sampled grid</text>\n",
	        GAP + 140, GAP + 150);
	fprintf(out,
	        "<circle cx=\"%d\" cy=\"46\" r=\"7\" fill=\"none\" stroke=\"" RED "\" "
	        "stroke-width=\"1.6\"/><text x=\"%d\" y=\"51\">its image under g</text>\n",
	        GAP + 270, GAP + 282);
	fprintf(out,
	        "<text x=\"%d\" y=\"74\">The black cross is the image centre, about which g "
	        "turns the grid.</text>\n<text x=\"%d\" y=\"92\">Rings around the dots: g maps "
	        "the grid onto itself; rings beside them: it does not.</text>\n",
	        GAP, GAP);
}

/* A layer to draw: its grid breaks an element and it is a single grid (not one after
 * operands on different grids, which no one picture shows). */
static bool drawn(const Model *m, const LayerLint *ll)
{
	return (ll->breaks & (m->group.mask | 1u)) && !ll->self_break &&
	       isfinite(ll->shift[0] + ll->shift[1]);
}

void explain_svg(FILE *out, const Model *m, const Lint *l)
{
	int nbreak = 0;
	for (int i = 0; i < m->nlayers; i++)
		nbreak += drawn(m, &l->layer[i]);
	int height = LEGEND + (nbreak ? nbreak * (TITLE + PANEL + GAP) : 40);
	fprintf(out,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
	        "font-size=\"14\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
	        WIDTH, height, WIDTH, height);
	draw_legend(out, m, nbreak);
	if (!nbreak)
		fprintf(out,
		        "<text x=\"%d\" y=\"%d\">every grid is centred: nothing breaks</text>\n",
		        GAP, LEGEND + 20);
	double top = LEGEND;
	for (int i = 0; i < m->nlayers; i++)
		if (drawn(m, &l->layer[i])) {
			draw_panel(out, m, i, l, top);
			top += TITLE + PANEL + GAP;
		}
	fputs("</svg>\n", out);
}
