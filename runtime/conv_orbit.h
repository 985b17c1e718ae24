/* conv_orbit.h: what conv_fast.c and conv_orbit.c share beyond geqrt.h (private to the
 * runtime, not installed). */
#ifndef GEQRT_CONV_ORBIT_H
#define GEQRT_CONV_ORBIT_H

#include "geqrt.h"

typedef struct gq_orbit gq_orbit;

/* ---- conv_fast.c ---- */
/* As gq_conv_set, row co of the filters at w + co*ld and its bias at bias[co*bstride]. */
void gq_conv_set_rows(gq_conv *c, const float *w, size_t ld, const float *bias, size_t bstride);
/* The cost (multiply-adds and their equivalent, as the planner counts them) of the plan
 * gq_conv_new would make (under the memory ceiling, or as if there were none), and its
 * packed bank's bytes; nothing is allocated. -1 if the shape is empty. */
double gq_conv_estimate(
        int cin, int h, int w, int cout, int k, int s, int p, int d, bool ceiling, size_t *bytes);
/* As gq_conv_estimate, the plan in algorithm algo (gq_conv_new_algo's); -1 where it does
 * not apply. */
double gq_conv_estimate_algo(
        int cin, int h, int w, int cout, int k, int s, int p, int d, int algo, size_t *bytes);
/* Winograd plans run on a zero-padded copy of their input, which a caller may write
 * itself: returns where it goes in scratch (NULL for other algorithms), [cin][hp][wq],
 * pixel (y, x) of channel ci at ci*hp*wq + (y + p)*wq + x + p, zeros around. */
float *gq_conv_padded(const gq_conv *c, float *scratch, int *hp, int *wq);
/* gq_conv_run_sum once that copy is written (in: not read). */
void gq_conv_run_padded(const gq_conv *c, float *out, const float *add, float *scratch);
/* c's packed bank (gq_conv_bytes of it). */
const float *gq_conv_bank(const gq_conv *c);
/* A plan that runs the orbit o (owning it), or NULL (o freed) if out of memory. */
gq_conv *gq_conv_wrap_orbit(gq_orbit *o);

/* ---- wino_group.c: a gconv's group in the Winograd domain ---- */
/* The tables that let the products of F(2x2), of F(3x3), F(4x4) or F(5x5) on reciprocal
 * points (GQ_CONV_WINO3R, GQ_CONV_WINO4R, GQ_CONV_WINO5R) or of F(6x6) (GQ_CONV_WINO6)
 * read one bank for all the
 * group's elements: row (o, a) of the expanded bank at Winograd point pt[a][q] is row (o, e) at
 * point q with its input slots permuted, slot b read from the input's slot src[a][b]. */
typedef struct gq_wgroup {
	int ng, e_axis;
	int src[GQ_D4_ORDER][GQ_D4_ORDER];
	int pt[GQ_D4_ORDER][64];
	/* The elements in pairs (a, partner[a]) whose products share one vector of base
	 * channels (wino_group.c's pair_by): pairs of them, lower[p] the first of pair p; the
	 * partner's filters are row (o, e) at point pair_pt[q] with slot pair_slot[b] where
	 * element a's are at point q with slot b, for every pair alike. 0 pairs: none. */
	int pairs, lower[GQ_D4_ORDER / 2], partner[GQ_D4_ORDER];
	int pair_slot[GQ_D4_ORDER], pair_pt[64];
} gq_wgroup;
/* The tables of the group elem[0..ng) for alpha x alpha points (4: F(2x2), 5, 6 and 7:
 * F(3x3), F(4x4) and F(5x5) on reciprocal points, 8: F(6x6)); false if it is not a group (no
 * identity, not closed). */
bool gq_wgroup_tables(gq_wgroup *g, int ng, const int *elem, int alpha);
/* As gq_wgroup_tables, for the stride-2 F(2x2) form (GQ_CONV_WINO2S2: 5 x 5 products, the
 * even taps' F(2, 2) on 0, 1, infinity and the odd tap's two a side). */
bool gq_wgroup_tables_s2(gq_wgroup *g, int ng, const int *elem);
/* Rows [pc, pc + kc) of a B panel of 2v columns for base point q: half e (of the two, or
 * of the first only) is element a_e's tiles [t_e, t_e + v), from the transformed input V
 * (Winograd point p's plane at p*vstride, tile panels of cin rows of 2v). */
void gq_wgroup_pack(const gq_wgroup *g, float *B, const float *V, size_t vstride, int cin, int v,
        int q, int pc, int kc, const int a[2], const int t[2], int halves);
/* The form in which c, a stride-1 3x3 gconv of a model whose expanded banks are streamed
 * bytes in all, runs faster at batch 1 as a Winograd-domain group plan (GQ_CONV_WINO4R or
 * GQ_CONV_WINO2), or -1 where it does not; GEQRT_WGROUP=0: never, =1: GQ_CONV_AUTO (the
 * cheaper form) wherever one applies. */
int gq_wgroup_form(const gq_conv_shape *c, size_t streamed);
/* -1 by the rule, 0 never, 1 always (GEQRT_WGROUP). */
int gq_wgroup_mode(void);
/* The work (as a multiple of the expanded plan's) past which form algo never paid. */
double gq_wgroup_work(int algo);

/* ---- conv_fast.c: the group plan ---- */
/* c (a stride-1 3x3 gconv, channels divisible by ng) as Winograd products on the
 * identity's filters only (wino_group.c's tables), in form algo: GQ_CONV_WINO2,
 * GQ_CONV_WINO4R, GQ_CONV_WINO6, GQ_CONV_WINO3R, or GQ_CONV_AUTO for the cheaper of the
 * first two; with the expanded plan beside it if full and its threads split the elements (few base
 * channels), which runs where one thread runs the layer (gq_conv_bytes counts both banks); NULL
 * where it does not apply or out of memory. */
gq_conv *gq_conv_new_wgroup(const gq_conv_shape *c, int algo, bool full);
/* Whether a group plan's narrow products run an element and its partner in each vector
 * (the base channels fit one: gq_wgroup's pairs). */
bool gq_conv_wgroup_paired(const gq_conv *c);
/* Whether a group plan's narrow products run calls on the tiles of two elements in place
 * (an element's tiles fill more than half a vector but take more than one call of the
 * kernel's rows: 9 at 9x9 by F(3x3) or F(4x4) on AVX2; GEQRT_WGPACK=1 also on AVX-512). */
bool gq_conv_wgroup_packed(const gq_conv *c);
/* Whether a narrow group plan's two threads each run all the elements on a range of tiles
 * (group_by_tiles), not half of the elements on all of them. */
bool gq_conv_wgroup_tiles(const gq_conv *c);
/* Whether a group plan's thread 1, on two threads, keeps its padded input, V and products in
 * its own buffer (gq_team_scratch), not in the caller's scratch (GEQRT_WGOWN=0: never). */
bool gq_conv_wgroup_own(const gq_conv *c);
/* Whether c's group plan in form algo would run its narrow products on several elements'
 * tiles a call (few tiles an element: 8x8 maps at F(4x4)); the rules leave that form to the
 * tuner (wino_group.c's FORMS). */
bool gq_wgroup_mixed(const gq_conv_shape *c, int algo);
/* ng if c is a group plan, else 0. */
int gq_conv_wgroup(const gq_conv *c);
/* Tests: each of a group plan's two threads first takes up to points of the other half's
 * last Winograd points, as a thread done first takes the rest (0, the default: none). */
void gq_conv_wgroup_steal(int points);
/* The cost and bank bytes of c's group plan in form algo (as gq_conv_estimate); -1 if it
 * does not apply or is not to be chosen (a split measured slow). */
double gq_wgroup_estimate(const gq_conv_shape *c, int algo, size_t *bytes);

/* ---- conv_orbit.c ---- */
void gq_orbit_set(gq_orbit *o, const float *w, const float *bias);
void gq_orbit_run(const gq_orbit *o, float *out, const float *in, const float *add, float *scratch);
size_t gq_orbit_scratch(const gq_orbit *o);
/* The plan of the identity element's filters on the stacked copies. */
const gq_conv *gq_orbit_base(const gq_orbit *o);
/* The bytes of its banks: the base plan's, and the expanded plan's if it keeps one. */
size_t gq_orbit_bytes(const gq_orbit *o);
int gq_orbit_size(const gq_orbit *o);
void gq_orbit_free(gq_orbit *o);
/* The bytes of c's bank expanded (as gq_conv_new would pack it, without a ceiling). */
size_t gq_conv_expanded_bytes(const gq_conv_shape *c);
/* c's plan as gq_conv_new_group's, c a layer of a model whose expanded banks would be
 * streamed bytes in all (gq_conv_new_group: the layer's own), which tells whether they
 * stream from memory at batch 1. A convolution of no group (ng = 0): gq_conv_new's. */
gq_conv *gq_conv_new_in_model(const gq_conv_shape *c, size_t streamed);
/* The plans a tuner may choose among for c (gq_net_tune): out[0..n), n returned (-1 if out
 * of memory, nothing left allocated), each without a second plan beside it (the expanded
 * plan, the orbit, the group's forms, F(6x6) expanded or as the group's form, F(7x7) expanded, and
 * F(3x3) expanded and as the orbit's base, where they may pay); def[0] the one
 * gq_conv_new_in_model's rules run where two threads share the layer, def[1] where one runs it. One
 * plan (n = 1) where there is no choice: no group, or the plan is forced by memory (a ceiling,
 * ORBIT_BANK) or by GEQRT_ORBIT=1 or GEQRT_WGROUP=1. */
/* No fewer than the places gq_conv_candidates adds a plan (13): it never checks n. */
enum { GQ_CANDIDATES = 16 };
int gq_conv_candidates(
        const gq_conv_shape *c, size_t streamed, gq_conv *out[GQ_CANDIDATES], int def[2]);

#endif
