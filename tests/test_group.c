/* test_group.c: D4 and its subgroups against independent references: the element maps
 * written as explicit array loops (numpy's rot90 and flip), and a brute-force search of
 * all 256 subsets of D4 for subgroups. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"
#include "harness.h"

enum { MAXS = 8 };

/* A small array with its dims: the reference maps change dims as numpy does. */
typedef struct Arr {
	int h, w;
	float v[MAXS * MAXS];
} Arr;

static float at(const Arr *a, int y, int x)
{
	return a->v[y * a->w + x];
}

/* numpy.rot90(a, 1, axes=(-2,-1)): out[i][j] = a[j][w-1-i], dims (w, h). */
static Arr rot90(Arr a)
{
	Arr o = {.h = a.w, .w = a.h};
	for (int i = 0; i < o.h; i++)
		for (int j = 0; j < o.w; j++)
			o.v[i * o.w + j] = at(&a, j, a.w - 1 - i);
	return o;
}

/* numpy.flip(a, -1) */
static Arr flip_lr(Arr a)
{
	Arr o = {.h = a.h, .w = a.w};
	for (int i = 0; i < a.h; i++)
		for (int j = 0; j < a.w; j++)
			o.v[i * o.w + j] = at(&a, i, a.w - 1 - j);
	return o;
}

/* numpy.flip(a, -2) */
static Arr flip_ud(Arr a)
{
	Arr o = {.h = a.h, .w = a.w};
	for (int i = 0; i < a.h; i++)
		for (int j = 0; j < a.w; j++)
			o.v[i * o.w + j] = at(&a, a.h - 1 - i, j);
	return o;
}

static Arr transpose(Arr a)
{
	Arr o = {.h = a.w, .w = a.h};
	for (int i = 0; i < o.h; i++)
		for (int j = 0; j < o.w; j++)
			o.v[i * o.w + j] = at(&a, j, i);
	return o;
}

/* The other diagonal: a[::-1, ::-1].T, out[i][j] = a[h-1-j][w-1-i]. */
static Arr antitranspose(Arr a)
{
	Arr o = {.h = a.w, .w = a.h};
	for (int i = 0; i < o.h; i++)
		for (int j = 0; j < o.w; j++)
			o.v[i * o.w + j] = at(&a, a.h - 1 - j, a.w - 1 - i);
	return o;
}

/* SPEC §3: m^j r^i applies r i times, then m j times. */
static Arr ref_map(int g, Arr a)
{
	for (int t = 0; t < g % 4; t++)
		a = rot90(a);
	return g / 4 ? flip_lr(a) : a;
}

/* Distinct values so that every map is visible. */
static Arr random_arr(int h, int w)
{
	Arr a = {.h = h, .w = w};
	for (int i = 0; i < h * w; i++)
		a.v[i] = (float)i + (float)irand(0, 999) / 1000.0f;
	return a;
}

static Arr plane(int g, Arr a)
{
	Arr o = {.h = gq_d4_swaps_axes(g) ? a.w : a.h, .w = gq_d4_swaps_axes(g) ? a.h : a.w};
	gq_d4_plane(g, o.v, a.v, a.h, a.w);
	return o;
}

static void assert_same(Arr a, Arr b)
{
	ck_assert_int_eq(a.h, b.h);
	ck_assert_int_eq(a.w, b.w);
	ck_assert(memcmp(a.v, b.v, sizeof(float) * (size_t)(a.h * a.w)) == 0);
}

START_TEST(plane_matches_numpy_definition)
{
	for (int h = 1; h <= 5; h++)
		for (int w = 1; w <= 5; w++)
			for (int g = 0; g < GQ_D4_ORDER; g++) {
				Arr a = random_arr(h, w);
				assert_same(plane(g, a), ref_map(g, a));
			}
}
END_TEST

/* The table must be the composition of the array maps: T_{a*b} = T_a after T_b. */
START_TEST(mul_is_composition)
{
	for (int a = 0; a < GQ_D4_ORDER; a++)
		for (int b = 0; b < GQ_D4_ORDER; b++) {
			Arr x = random_arr(4, 4);
			assert_same(ref_map(gq_d4_mul(a, b), x), ref_map(a, ref_map(b, x)));
			Arr y = random_arr(3, 5);
			assert_same(ref_map(gq_d4_mul(a, b), y), ref_map(a, ref_map(b, y)));
		}
}
END_TEST

START_TEST(inverses)
{
	for (int a = 0; a < GQ_D4_ORDER; a++) {
		ck_assert_int_eq(gq_d4_mul(a, gq_d4_inv(a)), 0);
		ck_assert_int_eq(gq_d4_mul(gq_d4_inv(a), a), 0);
		Arr x = random_arr(3, 4);
		assert_same(ref_map(gq_d4_inv(a), ref_map(a, x)), x);
	}
}
END_TEST

START_TEST(swaps_axes_iff_dims_swap)
{
	Arr x = random_arr(2, 3);
	for (int g = 0; g < GQ_D4_ORDER; g++)
		ck_assert_int_eq(gq_d4_swaps_axes(g), ref_map(g, x).h == 3);
}
END_TEST

/* d4_point must say where each pixel lands in the plane d4_plane builds. */
START_TEST(point_matches_plane)
{
	for (int h = 1; h <= 6; h++)
		for (int w = 1; w <= 6; w++)
			for (int g = 0; g < GQ_D4_ORDER; g++) {
				Arr a = random_arr(h, w), o = ref_map(g, a);
				for (int y = 0; y < h; y++)
					for (int x = 0; x < w; x++) {
						int oy, ox;
						gq_d4_point(g, h, w, y, x, &oy, &ox);
						ck_assert(
						        oy >= 0 && oy < o.h && ox >= 0 && ox < o.w);
						ck_assert(at(&o, oy, ox) == at(&a, y, x));
					}
			}
}
END_TEST

START_TEST(generator_spellings)
{
	Arr x = random_arr(5, 5);
	assert_same(ref_map(d4_generator("rot90"), x), rot90(x));
	assert_same(ref_map(d4_generator("rot180"), x), rot90(rot90(x)));
	assert_same(ref_map(d4_generator("rot270"), x), rot90(rot90(rot90(x))));
	assert_same(ref_map(d4_generator("flip"), x), flip_lr(x));
	assert_same(ref_map(d4_generator("flip_ud"), x), flip_ud(x));
	assert_same(ref_map(d4_generator("transpose"), x), transpose(x));
	assert_same(ref_map(d4_generator("antitranspose"), x), antitranspose(x));
	const char *bad[] = {"rot45", "", "e", "r", "identity", "Flip", "rot90 "};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_int_eq(d4_generator(bad[i]), -1);
	for (int g = 1; g < GQ_D4_ORDER; g++)
		ck_assert_int_eq(d4_generator(d4_spelling[g]), g);
}
END_TEST

static bool is_subgroup(unsigned mask)
{
	if (!(mask & 1))
		return false;
	for (int a = 0; a < GQ_D4_ORDER; a++)
		for (int b = 0; b < GQ_D4_ORDER; b++)
			if ((mask >> a & 1) && (mask >> b & 1) && !(mask >> gq_d4_mul(a, b) & 1))
				return false;
	return true;
}

/* The generated subgroup is the intersection of every subgroup holding the generators. */
static unsigned brute_generated(unsigned gens)
{
	unsigned m = 0xff;
	for (unsigned s = 0; s < 256; s++)
		if (is_subgroup(s) && (s & gens) == gens)
			m &= s;
	return m;
}

static void assert_group_consistent(const Group *G, unsigned expect)
{
	ck_assert_uint_eq(G->mask, expect);
	ck_assert_int_eq(G->n, __builtin_popcount(expect));
	for (int a = 0; a < G->n; a++) {
		ck_assert(expect >> G->elem[a] & 1);
		ck_assert(a == 0 || G->elem[a - 1] < G->elem[a]);
		ck_assert_int_eq(group_axis(G, G->elem[a]), a);
	}
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (!(expect >> g & 1))
			ck_assert_int_eq(group_axis(G, g), -1);
}

START_TEST(close_matches_brute_force)
{
	for (unsigned gens = 0; gens < 256; gens++) {
		int list[GQ_D4_ORDER], n = 0;
		for (int g = 0; g < GQ_D4_ORDER; g++)
			if (gens >> g & 1)
				list[n++] = g;
		Group G = group_close("t", list, n);
		assert_group_consistent(&G, brute_generated(gens));
		ck_assert(is_subgroup(G.mask));
	}
}
END_TEST

START_TEST(predeclared_groups)
{
	static const struct {
		const char *name, *gens[2];
		int order;
	} want[] = {{"p1", {NULL}, 1}, {"p2", {"rot180"}, 2}, {"pm", {"flip"}, 2},
	        {"pmm", {"flip", "flip_ud"}, 4}, {"cm", {"transpose"}, 2},
	        {"cmm", {"transpose", "antitranspose"}, 4}, {"p4", {"rot90"}, 4},
	        {"p4m", {"rot90", "flip"}, 8}};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		unsigned gens = 0;
		for (int j = 0; j < 2 && want[i].gens[j]; j++)
			gens |= 1u << d4_generator(want[i].gens[j]);
		Group G;
		ck_assert(group_predeclared(want[i].name, &G));
		ck_assert_str_eq(G.name, want[i].name);
		ck_assert_int_eq(G.n, want[i].order);
		assert_group_consistent(&G, brute_generated(gens));
		ck_assert_str_eq(group_predeclared_names[i], want[i].name);
	}
	ck_assert_ptr_null(group_predeclared_names[8]);
	Group G;
	ck_assert(!group_predeclared("p3", &G));
	ck_assert(!group_predeclared("P4", &G));
	ck_assert(!group_predeclared("", &G));
}
END_TEST

START_TEST(names)
{
	const char *want[] = {"e", "r", "r2", "r3", "m", "mr", "mr2", "mr3"};
	for (int g = 0; g < GQ_D4_ORDER; g++) {
		ck_assert_str_eq(d4_name[g], want[g]);
		ck_assert_ptr_nonnull(d4_describe[g]);
	}
}
END_TEST

static Suite *group_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("d4");
	tcase_add_test(tc, plane_matches_numpy_definition);
	tcase_add_test(tc, mul_is_composition);
	tcase_add_test(tc, inverses);
	tcase_add_test(tc, swaps_axes_iff_dims_swap);
	tcase_add_test(tc, point_matches_plane);
	tcase_add_test(tc, generator_spellings);
	tcase_add_test(tc, close_matches_brute_force);
	tcase_add_test(tc, predeclared_groups);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	seed(12345);
	SRunner *sr = srunner_create(group_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
