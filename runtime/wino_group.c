/* wino_group.c: a gconv's group in the Winograd domain, F(2x2, 3x3), F(3x3, 3x3), F(4x4, 3x3),
 * F(5x5, 3x3) or F(6x6, 3x3). In
 * the bank that gq_expand_gconv builds, row (o, a) is element g = elem[a] acting on row
 * (o, e): its filters turned by T_g about their centres and its input slots permuted.
 * F(2x2)'s filter transform U = G f G^T has the points 0, 1, -1, infinity, a set that
 * p -> 1/p maps onto itself, and with G's rows as conv_fast.c has them, G J = P G (J
 * reverses the 3 taps, P swaps points 0 and infinity): a filter reversed along an axis is
 * its U with that axis's points 0 and infinity swapped, a filter transposed is its U
 * transposed. The same holds for F(4x4) on the points 0, 1, -1, 2, 1/2, infinity
 * (GQ_CONV_WINO4R; P also swaps 2 and 1/2, whose rows of G conv_fast.c scales to be each
 * other's reverse, so that no scale is left over), and for F(6x6) on 0, +-1, +-2, +-1/2,
 * infinity (GQ_CONV_WINO6, G6: P swaps 2 and 1/2, -2 and -1/2), and for F(3x3) on 0, 1, -2,
 * -1/2, infinity (GQ_CONV_WINO3R, G3R: P swaps -2 and -1/2), and for F(5x5) on 0, 1, 2, 1/2,
 * -2, -1/2, infinity (GQ_CONV_WINO5R, G5R: P swaps 2 and 1/2, -2 and -1/2); the usual F(4x4)'s 0,
 * +-1, +-2, infinity are not closed under p -> 1/p. So for every element g, U(T_g f) is U(f) with
 * its alpha^2 points permuted, and
 *
 *   M[(o, a)][pt_a(q)][t] = sum_(i, b) U_e[o][(i, b)][q] V[(i, src[a][b])][pt_a(q)][t]
 *
 * (pt_a: T_g's move of the points, src[a][b] = axis(g elem[b])): for each base point q,
 * ONE product of the identity's bank U_e[q] (cout/ng rows) with a B whose columns are the
 * ng elements' tiles, each element's block read at its own point with its slots
 * permuted. The multiply-adds are the expanded product's; the bank is ng times smaller
 * and the product ng times wider, and the input is transformed once, as for any plan (no
 * rotated copies, no symmetry of the map needed: only the 3x3 filter turns). The
 * products themselves are conv_fast.c's: on the gemm micro-kernels, B gathered in panels
 * (wino_group_block), or where an element's tiles leave its vectors part empty on the
 * narrow kernels, the base channels in the vectors and the tiles broadcast from V in place
 * (wino_group_narrow); here are the tables, the B panels' gather and the choice. */
#include <stdlib.h>
#include <string.h>

#include "conv_orbit.h"

/* Point q of an alpha x alpha block turned by g, P the reversal of an axis: rotations
 * swap the axes and reverse one, the mirror (g >> 2) reverses x. */
static int turn(int g, int q, int alpha, const int *P)
{
	int y = q / alpha, x = q % alpha;
	for (int t = 0; t < (g & 3); t++) {
		int ny = P[x];
		x = y;
		y = ny;
	}
	if (g >> 2)
		x = P[x];
	return y * alpha + x;
}

/* Where T_g moves Winograd point (y, x) of an alpha x alpha block: gq_d4_point's moves
 * with each reversal of an axis (i -> 3 - i on pixels) replaced by the swap of each point
 * with its reciprocal: F(2x2)'s points 0, 1, -1, infinity (rows of conv_fast.c's G2),
 * F(4x4)'s 0, 1, -1, 2, 1/2, infinity (G4R), F(6x6)'s 0, 1, -1, 2, -2, 1/2, -1/2,
 * infinity (G6), F(3x3)'s 0, 1, -2, -1/2, infinity (G3R), F(5x5)'s 0, 1, 2, 1/2, -2, -1/2,
 * infinity (G5R). */
static int move_point(int g, int q, int alpha)
{
	static const int P4[4] = {3, 1, 2, 0}, P5[5] = {4, 1, 3, 2, 0}, P6[6] = {5, 1, 2, 4, 3, 0},
	                 P7[7] = {6, 1, 3, 2, 5, 4, 0}, P8[8] = {7, 1, 2, 5, 6, 3, 4, 0};
	return turn(g, q, alpha,
	        alpha == 4   ? P4
	        : alpha == 5 ? P5
	        : alpha == 6 ? P6
	        : alpha == 7 ? P7
	                     : P8);
}

/* perm[i] = the index of from[i] in to (a permutation of from's n values); where not first,
 * whether it equals the perm already there (every pair must permute alike). */
static bool same_perm(const int *from, const int *to, int n, bool first, int *perm)
{
	for (int i = 0; i < n; i++) {
		int j = 0;
		while (to[j] != from[i])
			j++;
		if (!first && perm[i] != j)
			return false;
		perm[i] = j;
	}
	return true;
}

/* Pairs the elements as (a, a h) for the element h = elem[hi] where that is an involution
 * with no fixed point and the partner's filters are the same permutation of a's points and
 * slots for every pair (g->pairs stays 0 where not). Element a's products at base point q
 * read slot src[a][b] of the input at point pt[a][q] against row (o, e)'s slot b; its
 * partner p's products at the same input point and slot need row (o, e) at the point q'
 * with pt[p][q'] = pt[a][q], slot b' with src[p][b'] = src[a][b]. */
static void pair_by(gq_wgroup *g, const int *elem, int hi, int points)
{
	int ng = g->ng, np = 0;
	for (int a = 0; a < ng; a++)
		if ((g->partner[a] = gq_d4_axis(elem, ng, gq_d4_mul(elem[a], elem[hi]))) == a)
			return;
	for (int a = 0; a < ng; a++) {
		if (g->partner[g->partner[a]] != a)
			return; /* h is not of order 2 */
		if (a < g->partner[a])
			g->lower[np++] = a;
	}
	for (int i = 0; i < np; i++) {
		int a = g->lower[i], p = g->partner[a];
		if (!same_perm(g->src[a], g->src[p], ng, i == 0, g->pair_slot) ||
		        !same_perm(g->pt[a], g->pt[p], points, i == 0, g->pair_pt))
			return;
	}
	g->pairs = np;
}

bool gq_wgroup_tables(gq_wgroup *g, int ng, const int *elem, int alpha)
{
	if (alpha < 4 || alpha > 8 || ng < 2 || ng > GQ_D4_ORDER || !elem ||
	        gq_d4_axis(elem, ng, 0) < 0)
		return false;
	g->ng = ng;
	g->e_axis = gq_d4_axis(elem, ng, 0);
	for (int a = 0; a < ng; a++) {
		if (elem[a] < 0 || elem[a] >= GQ_D4_ORDER)
			return false;
		for (int b = 0; b < ng; b++)
			if ((g->src[a][b] = gq_d4_axis(elem, ng, gq_d4_mul(elem[a], elem[b]))) < 0)
				return false; /* not closed: not a group */
		for (int q = 0; q < alpha * alpha; q++)
			g->pt[a][q] = move_point(elem[a], q, alpha);
	}
	g->pairs = 0;
	for (int h = 0; h < ng && !g->pairs; h++)
		pair_by(g, elem, h, alpha * alpha);
	return true;
}

/* The stride-2 F(2x2) form's tables (GQ_CONV_WINO2S2, s22-wide): its 5 x 5 products per
 * axis are the even taps' F(2, 2) on the points 0, 1, infinity (G2S2's rows w0, w0 + w2, w2:
 * 0 and infinity each other's reverse, 1 its own) and the odd tap's two (w1, its own
 * reverse), so a filter reversed along an axis is its U with positions 0 and 2 swapped:
 * P = 2, 1, 0, 3, 4, turned as move_point turns the others. The group maps the products of
 * the expanded plan onto each other exactly (no scale: G2S2's entries are 0 and 1). */
static int move_point_s2(int g, int q)
{
	static const int P[5] = {2, 1, 0, 3, 4};
	return turn(g, q, 5, P);
}

bool gq_wgroup_tables_s2(gq_wgroup *g, int ng, const int *elem)
{
	if (!gq_wgroup_tables(g, ng, elem, 5))
		return false;
	for (int a = 0; a < ng; a++)
		for (int q = 0; q < 25; q++)
			g->pt[a][q] = move_point_s2(elem[a], q);
	g->pairs = 0;
	for (int h = 0; h < ng && !g->pairs; h++)
		pair_by(g, elem, h, 25);
	return true;
}

/* One half of a B panel: kc rows of v floats, 2v apart (the panel's rows), row k from
 * input channel pc + k's slot permuted, at the element's point (pc and kc are multiples
 * of ng: K blocks hold whole slot groups). Inlined with v constant into a function for
 * each vector width, so that each row is one vector load and store: with SSE's four of
 * each, 64-byte rows, the gathers took a fifth of a 512-plane layer's time. */
static inline __attribute__((always_inline)) void pack_half(
        float *B, const float *src, const int *perm, int ng, const int v, int pc, int kc)
{
	for (int k = 0; k < kc; k += ng)
		for (int b = 0; b < ng; b++)
			memcpy(B + (size_t)(k + b) * 2 * v,
			        src + (size_t)(pc + k + perm[b]) * 2 * v, (size_t)v * sizeof *B);
}

typedef void pack_fn(float *B, const float *src, const int *perm, int ng, int pc, int kc);

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) static void pack16_avx512(
        float *B, const float *src, const int *perm, int ng, int pc, int kc)
{
	pack_half(B, src, perm, ng, 16, pc, kc);
}

__attribute__((target("avx2"))) static void pack8_avx2(
        float *B, const float *src, const int *perm, int ng, int pc, int kc)
{
	pack_half(B, src, perm, ng, 8, pc, kc);
}
#endif

static void pack16_c(float *B, const float *src, const int *perm, int ng, int pc, int kc)
{
	pack_half(B, src, perm, ng, 16, pc, kc);
}

/* The gather for halves of v floats: AVX-512's 16 where the CPU has it (the portable
 * kernel's vectors are 16 floats too), AVX2's 8 (only the avx2 kernel has them). */
static pack_fn *pack_for(int v)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	if (v == 8)
		return pack8_avx2;
	if (__builtin_cpu_supports("avx512f"))
		return pack16_avx512;
#endif
	return pack16_c;
}

void gq_wgroup_pack(const gq_wgroup *g, float *B, const float *V, size_t vstride, int cin, int v,
        int q, int pc, int kc, const int a[2], const int t[2], int halves)
{
	int nr = 2 * v;
	pack_fn *pack = pack_for(v);
	for (int e = 0; e < halves; e++) {
		const float *src = V + (size_t)g->pt[a[e]][q] * vstride +
		                   (size_t)(t[e] / nr) * cin * nr + t[e] % nr;
		pack(B + e * v, src, g->src[a[e]], g->ng, pc, kc);
	}
}

/* ---- the choice ---- */

int gq_wgroup_mode(void)
{
	const char *m = getenv("GEQRT_WGROUP");
	return m && (!strcmp(m, "0") || !strcmp(m, "1")) ? m[0] - '0' : -1;
}

/* A model whose expanded banks pass this many bytes in all streams them from memory at
 * batch 1 (conv_orbit.c's STREAMS: the L3 is 32 MB, shared). */
enum { STREAMS = 16 << 20 };

/* Where each form pays (its work the cheaper of its wide and narrow forms', conv_fast.c's
 * gq_wgroup_estimate), measured on 12 distinct layers run in turn (AVX-512, alternating
 * runs under chrt, two threads at batch 1, load 3-4): the expanded bank's bytes at least
 * (under them it stays in the caches between images, or streams in less time than the
 * gathers take), and the work (cost, as the planner counts it) it may add over the
 * expanded plan's. F(2x2) adds none but for rounding: where the expanded plan runs F(4x4)
 * it does 16/9 the multiply-adds, and 256 planes at 15x15 ran 1.8-2x slower on one thread,
 * more than the smaller bank gave back on two; 256 planes of p4m at 9x9 (1.12 of the
 * expanded work) 1.4x the orbit's time. F(4x4) on reciprocal points adds its rounding of
 * the base channels to panels of 6 (16 and 32 base channels on p4m: 1.12): 128 planes of
 * p4m at 17x17 ran 0.207 ms against the orbit's 0.247 and the expanded plan's 0.258, 256
 * of p4m at 15x15 0.46 against 0.62 and 0.93, 256 of p4 at 15x15 level with the orbit
 * (0.43) and 0.9x the expanded plan's time; on one thread level with the expanded plan
 * or faster. The narrow form (2026-12-06, AVX-512, two threads far, 12 distinct layers,
 * alternating) counts 0.6 of the expanded work on 256 planes of p4m at 9x9 and ran 0.20
 * ms against the orbit's 0.22 (AVX2 0.33 against 0.34), 128 of p4 at 25x25 0.32 against
 * 0.355 (0.49 against 0.54). Not a form whose narrow calls take several elements' tiles
 * (gq_wgroup_mixed: 8x8 maps at F(4x4)), which does 0.56x F(2x2)'s multiply-adds there
 * but streams a bank 2.25x as large: on AVX-512 1.0-1.16x F(2x2)'s time at batch 1, on AVX2
 * 0.83-1.04x (bench/g8.c); the tuner measures it (2026-12-06, s20-g8). */
static const struct {
	int algo;
	size_t min_bytes;
	double work;
} FORMS[] = {{GQ_CONV_WINO4R, 2 << 20, 1.13}, {GQ_CONV_WINO2, 4 << 20, 1.05}};

double gq_wgroup_work(int algo)
{
	for (size_t i = 0; i < sizeof FORMS / sizeof FORMS[0]; i++)
		if (FORMS[i].algo == algo)
			return FORMS[i].work;
	return 0;
}

int gq_wgroup_form(const gq_conv_shape *c, size_t streamed)
{
	int mode = gq_wgroup_mode();
	size_t group_bytes, bytes;
	if (mode >= 0) /* GEQRT_WGROUP=1: the cheaper form wherever one applies */
		return mode ? GQ_CONV_AUTO : -1;
	double expanded = gq_conv_estimate(
	        c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &bytes);
	for (size_t i = 0; streamed > STREAMS && i < sizeof FORMS / sizeof FORMS[0]; i++) {
		double group = gq_wgroup_estimate(c, FORMS[i].algo, &group_bytes);
		if (group >= 0 && bytes >= FORMS[i].min_bytes &&
		        group <= FORMS[i].work * expanded && !gq_wgroup_mixed(c, FORMS[i].algo))
			return FORMS[i].algo;
	}
	return -1;
}
