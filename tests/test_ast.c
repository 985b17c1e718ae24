/* test_ast.c: the arena (zeroed, aligned, never overlapping, freed in one call: ASan's
 * leak check holds it to that) and the AST helpers of ast.c. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"

/* Sizes around the arena's chunk and big-block thresholds, and odd ones. */
static size_t size_of(int i)
{
	static const size_t sizes[] = {
	        1, 3, 8, 15, 16, 17, 100, 1000, 4095, 16384, 16385, 65536, 70000, 200000, 0};
	return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

static bool all_bytes(const unsigned char *p, size_t n, int value)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != value)
			return false;
	return true;
}

START_TEST(test_alloc_zeroed_aligned_disjoint)
{
	enum { N = 300 };
	Arena *a = arena_new();
	unsigned char *p[N];
	for (int i = 0; i < N; i++) {
		size_t n = size_of(i);
		p[i] = arena_alloc(a, n);
		ck_assert_ptr_nonnull(p[i]);
		ck_assert_uint_eq((uintptr_t)p[i] % _Alignof(max_align_t), 0);
		ck_assert(all_bytes(p[i], n, 0));
		memset(p[i], i & 0xff, n);
	}
	/* Nothing written later clobbered anything written earlier. */
	for (int i = 0; i < N; i++)
		ck_assert_msg(all_bytes(p[i], size_of(i), i & 0xff), "block %d was overwritten", i);
	arena_free(a);
}
END_TEST

START_TEST(test_strndup)
{
	Arena *a = arena_new();
	const char src[] = "lift\0gconv";
	char *s = arena_strndup(a, src, 4);
	ck_assert_str_eq(s, "lift");
	ck_assert_ptr_ne(s, src);
	char *empty = arena_strndup(a, "xyz", 0);
	ck_assert_str_eq(empty, "");
	arena_free(a);
}
END_TEST

START_TEST(test_printf_matches_snprintf)
{
	Arena *a = arena_new();
	ck_assert_str_eq(arena_printf(a, "%s%d.%s", "gconv", 3, "weight"), "gconv3.weight");
	/* longer than a chunk */
	enum { LONG = 100000 };
	char *want = malloc(LONG + 1);
	memset(want, 'q', LONG);
	want[LONG] = '\0';
	char *got = arena_printf(a, "%s", want);
	ck_assert_str_eq(got, want);
	free(want);
	ck_assert_str_eq(arena_printf(a, "%s", ""), "");
	arena_free(a);
}
END_TEST

/* arena_free(NULL) is a no-op, as free(NULL); a fresh arena hands out memory at once, even
 * for 0 bytes; an arena freed with its blocks leaves nothing (ASan's leak check). */
START_TEST(test_free_null_and_empty)
{
	arena_free(NULL);
	Arena *a = arena_new();
	ck_assert_ptr_nonnull(a);
	arena_free(a);
	a = arena_new();
	ck_assert_ptr_nonnull(arena_alloc(a, 0));
	unsigned char *big = arena_alloc(a, 1 << 20); /* a block of its own */
	ck_assert(all_bytes(big, 1 << 20, 0));
	arena_free(a);
}
END_TEST

/* The allocator beside the arena: zeroed where it says so, contents kept by xrealloc, and
 * never NULL, not even for 0 bytes. */
START_TEST(test_xalloc)
{
	int *z = xcalloc(1000, sizeof *z);
	ck_assert(all_bytes((unsigned char *)z, 1000 * sizeof *z, 0));
	for (int i = 0; i < 1000; i++)
		z[i] = i;
	z = xrealloc(z, 100000 * sizeof *z);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(z[i], i);
	free(z);
	void *p = xmalloc(0), *q = xcalloc(0, 8), *r = xrealloc(NULL, 0);
	ck_assert(p && q && r);
	free(p), free(q), free(r);
}
END_TEST

START_TEST(test_ast_node)
{
	Arena *a = arena_new();
	Loc loc = {3, 9, 3, 21, NULL};
	Node *n = ast_node(a, N_CALL, loc);
	ck_assert_int_eq(n->kind, N_CALL);
	ck_assert_int_eq(n->loc.first_line, 3);
	ck_assert_int_eq(n->loc.first_column, 9);
	ck_assert_int_eq(n->loc.last_column, 21);
	ck_assert_ptr_null(n->name);
	ck_assert_ptr_null(n->args);
	ck_assert_ptr_null(n->lhs);
	ck_assert_int_eq(n->i, 0);
	arena_free(a);
}
END_TEST

/* The dump's format, one line per declaration and statement, on a tree built by hand. */
START_TEST(test_dump)
{
	Arena *a = arena_new();
	Loc l = {2, 5, 2, 5, NULL};
	Node *x = ast_node(a, N_NAME, l), *y = ast_node(a, N_NAME, l);
	x->name = "x";
	y->name = "y";
	Node *add = ast_node(a, N_ADD, l);
	add->lhs = x;
	add->rhs = y;
	Node *k = ast_node(a, N_INT, l), *eps = ast_node(a, N_FLOAT, l),
	     *b = ast_node(a, N_BOOL, l);
	k->i = 3;
	eps->f = 1e-5;
	Arg args[3] = {{.val = add}, {.kw = "k", .val = k}, {.kw = "bias", .val = b}};
	args[0].next = &args[1];
	args[1].next = &args[2];
	Node *call = ast_node(a, N_CALL, l);
	call->name = "lift";
	call->args = args;
	Stmt ret = {.loc = {4, 5, 4, 14}, .expr = eps};
	Stmt st = {.loc = {3, 5, 3, 20}, .target = "h", .expr = call, .next = &ret};
	Node *dims[3] = {ast_node(a, N_INT, l), ast_node(a, N_INT, l), ast_node(a, N_INT, l)};
	dims[0]->i = 1;
	dims[1]->i = 28;
	dims[2]->i = 29;
	ModelDecl m = {.name = "m", .loc = {2, 7, 2, 7}, .input = "x", .group = "g", .body = &st};
	memcpy(m.dims, dims, sizeof dims);
	Ident flip = {.name = "flip"}, rot = {.name = "rot90", .next = &flip};
	GroupDecl g = {.name = "g", .loc = {1, 7, 1, 7}, .gens = &rot};
	Program p = {.groups = &g, .model = &m};

	char *buf;
	size_t len;
	FILE *out = open_memstream(&buf, &len);
	ast_dump(out, &p);
	fclose(out);
	ck_assert_str_eq(buf, "1:7 group g <rot90 flip>\n"
	                      "2:7 model m (x [1 28 29]) on g\n"
	                      "3:5   h (lift (+ x y) k=3 bias=false)\n"
	                      "4:5   return 1e-05\n");
	free(buf);
	arena_free(a);
}
END_TEST

static Suite *ast_suite(void)
{
	Suite *s = suite_create("ast");
	TCase *tc = tcase_create("arena");
	tcase_add_test(tc, test_alloc_zeroed_aligned_disjoint);
	tcase_add_test(tc, test_strndup);
	tcase_add_test(tc, test_printf_matches_snprintf);
	tcase_add_test(tc, test_free_null_and_empty);
	tcase_add_test(tc, test_xalloc);
	tcase_add_test(tc, test_ast_node);
	tcase_add_test(tc, test_dump);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ast_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
