/* wino_group.c: a gconv's group in the Winograd domain, F(2x2, 3x3). In the bank that
 * gq_expand_gconv builds, row (o, a) is element g = elem[a] acting on row (o, e): its
 * filters turned by T_g about their centres and its input slots permuted. F(2x2)'s filter
 * transform U = G f G^T has the points 0, 1, -1, infinity, a set that p -> 1/p maps onto
 * itself, and with G's rows as conv_fast.c has them, G J = P G (J reverses the 3 taps, P
 * swaps points 0 and infinity): a filter reversed along an axis is its U with that axis's
 * points 0 and infinity swapped, a filter transposed is its U transposed. So for every
 * element g, U(T_g f) is U(f) with its 16 points permuted, and
 *
 *   M[(o, a)][pt_a(q)][t] = sum_(i, b) U_e[o][(i, b)][q] V[(i, src[a][b])][pt_a(q)][t]
 *
 * (pt_a: T_g's move of the points, src[a][b] = axis(g elem[b])): for each base point q,
 * ONE product of the identity's bank U_e[q] (cout/ng rows) with a B whose columns are the
 * ng elements' tiles, each element's block read at its own point with its slots
 * permuted. The multiply-adds are the expanded product's; the bank is ng times smaller
 * and the product ng times wider, and the input is transformed once, as for any plan (no
 * rotated copies, no symmetry of the map needed: only the 3x3 filter turns). The
 * products themselves, on the gemm micro-kernels, are conv_fast.c's (wino_group_block);
 * here are the tables, the B panels' gather and the choice. F(4x4)'s points 0, +-1, +-2,
 * infinity are not closed under p -> 1/p: there the elements do not permute U. */
#include <stdlib.h>
#include <string.h>

#include "conv_orbit.h"

/* Where T_g moves Winograd point (y, x) of F(2x2)'s 4 x 4: gq_d4_point's moves with each
 * reversal of an axis (i -> 3 - i on pixels) replaced by P, which swaps points 0 and
 * infinity (rows 0 and 3 of G) and keeps 1 and -1. */
static int move_point(int g, int q)
{
	static const int P[4] = {3, 1, 2, 0};
	int y = q / 4, x = q % 4;
	for (int t = 0; t < (g & 3); t++) {
		int ny = P[x];
		x = y;
		y = ny;
	}
	if (g >> 2)
		x = P[x];
	return y * 4 + x;
}

bool gq_wgroup_tables(gq_wgroup *g, int ng, const int *elem)
{
	if (ng < 2 || ng > GQ_D4_ORDER || !elem || gq_d4_axis(elem, ng, 0) < 0)
		return false;
	g->ng = ng;
	g->e_axis = gq_d4_axis(elem, ng, 0);
	for (int a = 0; a < ng; a++) {
		if (elem[a] < 0 || elem[a] >= GQ_D4_ORDER)
			return false;
		for (int b = 0; b < ng; b++)
			if ((g->src[a][b] = gq_d4_axis(elem, ng, gq_d4_mul(elem[a], elem[b]))) < 0)
				return false; /* not closed: not a group */
		for (int q = 0; q < 16; q++)
			g->pt[a][q] = move_point(elem[a], q);
	}
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

/* An expanded bank under this many bytes stays in the caches between images, or
 * streams in less time than the gathers take. */
enum { GROUP_MIN = 4 << 20 };

/* The work the group plan may add over the expanded plan's (cost as the planner counts
 * it): none, but for rounding. The group's F(2x2) does 16/9 the multiply-adds of an
 * F(4x4), and where the expanded plan runs F(4x4) (15x15 maps of 256 planes) the group
 * plan ran 1.8-2x slower on one thread (AVX-512), more than its smaller bank gave back on
 * two. On 8x8 and 9x9 maps the planner picks F(2x2) for both. */
#define GROUP_WORK 1.05

bool gq_wgroup_pays(const gq_conv_shape *c, size_t streamed)
{
	int mode = gq_wgroup_mode();
	size_t group_bytes, bytes;
	double group = gq_wgroup_estimate(c, &group_bytes);
	if (mode == 0 || group < 0)
		return false;
	if (mode == 1)
		return true;
	double expanded = gq_conv_estimate(
	        c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &bytes);
	return streamed > STREAMS && bytes >= GROUP_MIN && group <= GROUP_WORK * expanded;
}
