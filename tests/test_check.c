/* test_check.c: the checker against independent references: window sizes counted by
 * brute force, tensor shapes and names from SPEC §2, and error reporting on sources
 * parsed with the real front end (ASTs built by hand where the parser refuses). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"
#include "harness.h"

typedef struct Run {
	Arena *arena;
	Sink s; /* s.text: everything the diagnostics printed */
	Model *m;
} Run;

static Run *run_check(const char *src)
{
	Run *r = calloc(1, sizeof *r);
	r->arena = arena_new();
	sink_open(&r->s, "t.geq", src, strlen(src));
	Program *p = parse_program(src, strlen(src), r->arena, &r->s.d);
	ck_assert_msg(p != NULL, "syntax error in test source:\n%s", src);
	r->m = check_program(p, r->arena, &r->s.d);
	fflush(r->s.d.out);
	return r;
}

static void run_free(Run *r)
{
	free(sink_close(&r->s));
	arena_free(r->arena);
	free(r);
}

/* A model on group G with input [C, H, W] whose body is `body`. */
static Run *run_body(const char *group, int c, int h, int w, const char *body)
{
	static char src[4096];
	snprintf(
	        src, sizeof src, "model t(x: [%d, %d, %d]) on %s {\n%s\n}\n", c, h, w, group, body);
	return run_check(src);
}

static Run *run_ok(const char *group, int c, int h, int w, const char *body)
{
	Run *r = run_body(group, c, h, w, body);
	ck_assert_msg(r->m != NULL, "unexpected errors:\n%s", r->s.text);
	ck_assert_int_eq(r->s.d.nerrors, 0);
	return r;
}

static Run *run_err(const char *group, int c, int h, int w, const char *body, int nerrors)
{
	Run *r = run_body(group, c, h, w, body);
	ck_assert_ptr_null(r->m);
	ck_assert_msg(r->s.d.nerrors == nerrors, "expected %d errors, got %d:\n%s", nerrors,
	        r->s.d.nerrors, r->s.text);
	return r;
}

static void assert_has(const Run *r, const char *text)
{
	ck_assert_msg(strstr(r->s.text, text) != NULL, "expected '%s' in:\n%s", text, r->s.text);
}

/* The number of window positions: starts 0, s, 2s, ... in the padded input of n + 2p
 * pixels while the dilated window's last tap d(k-1) stays inside. */
static int brute_windows(int n, int k, int s, int p, int d)
{
	int count = 0;
	for (int start = 0; start + d * (k - 1) <= n + 2 * p - 1; start += s)
		count++;
	return count;
}

static void assert_shape(Shape s, Kind kind, VecAction act, int c, int g, int h, int w)
{
	ck_assert_int_eq(s.kind, kind);
	ck_assert_int_eq(s.act, act);
	ck_assert_int_eq(s.c, c);
	ck_assert_int_eq(s.g, g);
	ck_assert_int_eq(s.h, h);
	ck_assert_int_eq(s.w, w);
}

static void assert_tensor(const Tensor *t, const char *name, int ndim, const int *dim)
{
	ck_assert_str_eq(t->name, name);
	ck_assert_int_eq(t->ndim, ndim);
	for (int i = 0; i < ndim; i++)
		ck_assert_int_eq(t->dim[i], dim[i]);
}

START_TEST(conv_out_size_counts_windows)
{
	for (int n = 1; n <= 24; n++)
		for (int k = 1; k <= 7; k++)
			for (int s = 1; s <= 4; s++)
				for (int p = 0; p <= 3; p++)
					for (int d = 1; d <= 3; d++) {
						int got = conv_out_size(n, k, s, p, d);
						int want = brute_windows(n, k, s, p, d);
						ck_assert_int_eq(got > 0 ? got : 0, want);
					}
	ck_assert_int_le(conv_out_size(5, 3, 0, 0, 1), 0);
	ck_assert_int_eq(conv_out_size(GEQC_MAX_DIM, 1, 1, GEQC_MAX_DIM, 1), 3 * GEQC_MAX_DIM);
	ck_assert_int_le(conv_out_size(1, GEQC_MAX_DIM, 1, 0, GEQC_MAX_DIM), 0);
}
END_TEST

/* Random sliding layers: the checked output size is the brute-force count, and a window
 * that fits nowhere is an error. */
START_TEST(sliding_layer_shapes)
{
	seed(7);
	for (int t = 0; t < 300; t++) {
		int h = irand(1, 12), w = irand(1, 12), k = irand(1, 5);
		int s = irand(1, 3), p = irand(0, 2), d = irand(1, 2);
		bool pool = t % 2;
		char body[256];
		if (pool) {
			p = p > k / 2 ? k / 2 : p;
			d = 1;
			snprintf(body, sizeof body, "return avgpool(x, %d, s=%d, p=%d);", k, s, p);
		} else {
			snprintf(body, sizeof body, "return lift(x, 3, k=%d, s=%d, p=%d, d=%d);", k,
			        s, p, d);
		}
		int oh = brute_windows(h, k, s, p, d), ow = brute_windows(w, k, s, p, d);
		Run *r = run_body("pmm", 2, h, w, body);
		if (oh > 0 && ow > 0) {
			ck_assert_msg(r->m != NULL, "%s on %dx%d:\n%s", body, h, w, r->s.text);
			const Layer *L = &r->m->layer[0];
			assert_shape(L->out_shape, pool ? K_IMAGE : K_GMAP, VA_NONE, pool ? 2 : 3,
			        pool ? 1 : 4, oh, ow);
			ck_assert(L->k == k && L->s == s && L->p == p && L->d == d);
		} else {
			ck_assert_ptr_null(r->m);
			assert_has(r, "does not fit");
		}
		run_free(r);
	}
}
END_TEST

START_TEST(names_count_in_source_order)
{
	Run *r = run_ok("p4", 1, 12, 12,
	        "h = relu(bn(lift(x, 4, k=3)));\n"
	        "h = relu(relu(gconv(h, 4, k=3)));\n"
	        "a = (h + h) + (h + h);\n"
	        "return a;");
	/* evaluation order, with the name each gets from the op's position in the text */
	const char *want[] = {
	        "lift1", "bn1", "relu1", "gconv1", "relu3", "relu2", "add1", "add3", "add2"};
	ck_assert_int_eq(r->m->nlayers, 9);
	for (int i = 0; i < 9; i++)
		ck_assert_str_eq(r->m->layer[i].name, want[i]);
	ck_assert_str_eq(r->m->layer[0].param[0].name, "lift1.weight");
	ck_assert_str_eq(r->m->layer[1].param[3].name, "bn1.running_var");
	run_free(r);
}
END_TEST

START_TEST(values_and_operands)
{
	Run *r = run_ok("p4", 1, 10, 10,
	        "h = lift(x, 4, k=3);\n"
	        "g = relu(h);\n"
	        "h = h + g;\n"
	        "return gpool(h, mean);");
	const Model *m = r->m;
	ck_assert_int_eq(m->nlayers, 4);
	ck_assert_int_eq(m->nvalues, 5);
	for (int i = 0; i < m->nlayers; i++) {
		ck_assert_int_eq(m->layer[i].out, i + 1);
		ck_assert(memcmp(&m->value[i + 1], &m->layer[i].out_shape, sizeof(Shape)) == 0);
	}
	assert_shape(m->value[0], K_IMAGE, VA_NONE, 1, 1, 10, 10);
	assert_shape(m->input, K_IMAGE, VA_NONE, 1, 1, 10, 10);
	ck_assert_int_eq(m->layer[0].in[0], 0);
	ck_assert_int_eq(m->layer[1].in[0], 1);
	ck_assert_int_eq(m->layer[2].nin, 2);
	ck_assert(m->layer[2].in[0] == 1 && m->layer[2].in[1] == 2);
	ck_assert_int_eq(m->layer[3].in[0], 3);
	ck_assert_int_eq(m->layer[3].mode, GPOOL_MEAN);
	assert_shape(m->layer[3].out_shape, K_IMAGE, VA_NONE, 4, 1, 8, 8);
	ck_assert_int_eq(m->output, 4);
	ck_assert_str_eq(m->group.name, "p4");
	ck_assert_int_eq(m->group.n, 4);
	run_free(r);
}
END_TEST

START_TEST(tensors_follow_the_spec)
{
	Run *r = run_ok("p4m", 3, 9, 9,
	        "h = lift(x, 5, k=3);\n"
	        "h = bn(gconv(h, 6, k=2, bias=false), eps=0.001);\n"
	        "v = flatten(conv(gpool(h, max), 2, k=3, p=1));\n"
	        "return linear(v, 7);");
	const Model *m = r->m;
	const Layer *L = m->layer;
	ck_assert_int_eq(L[0].nparams, 2);
	assert_tensor(&L[0].param[0], "lift1.weight", 4, (int[]){5, 3, 3, 3});
	assert_tensor(&L[0].param[1], "lift1.bias", 1, (int[]){5});
	ck_assert_int_eq(L[1].nparams, 1);
	assert_tensor(&L[1].param[0], "gconv1.weight", 5, (int[]){6, 5, 8, 2, 2});
	ck_assert(!L[1].bias);
	assert_shape(L[1].out_shape, K_GMAP, VA_NONE, 6, 8, 6, 6);
	ck_assert_int_eq(L[2].nparams, 4);
	const char *bn[] = {"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"};
	for (int i = 0; i < 4; i++)
		assert_tensor(&L[2].param[i], bn[i], 1, (int[]){6});
	ck_assert(L[2].eps == 0.001);
	assert_tensor(&L[4].param[0], "conv1.weight", 4, (int[]){2, 6, 3, 3});
	assert_shape(L[5].out_shape, K_VECTOR, VA_MAP, 2, 1, 6, 6);
	assert_tensor(&L[6].param[0], "linear1.weight", 2, (int[]){7, 2 * 6 * 6});
	assert_tensor(&L[6].param[1], "linear1.bias", 1, (int[]){7});
	assert_shape(L[6].out_shape, K_VECTOR, VA_TRIVIAL, 7, 1, 1, 1);
	ck_assert_int_eq(L[6].C, 7);
	for (int i = 0; i < m->nlayers; i++)
		if (!op_has(L[i].op, P_CONV))
			ck_assert(L[i].k == 1 && L[i].s == 1 && L[i].p == 0 && L[i].d == 1);
	run_free(r);
}
END_TEST

START_TEST(vector_actions)
{
	Run *r = run_ok("p4", 2, 8, 8,
	        "h = lift(x, 3, k=3);\n"
	        "a = global_avgpool(h);\n"                  /* 1: G-map -> GROUP [3, 4] */
	        "b = global_maxpool(gpool(h, max));\n"      /* 3: image -> TRIVIAL [3] */
	        "c = flatten(maxpool(gpool(h, max), 6));\n" /* 6: 1x1 image -> TRIVIAL */
	        "d = flatten(h);\n"                         /* 7: G-map -> MAP */
	        "e = linear(d, 12);\n"                      /* 8: TRIVIAL [12] */
	        "f = relu(a);\n"                            /* 9: keeps GROUP */
	        "s = f + e;\n"                              /* 10: GROUP + TRIVIAL: MIXED */
	        "t = a + f;\n"                              /* 11: GROUP + GROUP */
	        "u = b + c;\n"                              /* 12: TRIVIAL + TRIVIAL */
	        "return softmax(s);");
	const Layer *L = r->m->layer;
	assert_shape(L[1].out_shape, K_VECTOR, VA_GROUP, 3, 4, 1, 1);
	assert_shape(L[3].out_shape, K_VECTOR, VA_TRIVIAL, 3, 1, 1, 1);
	assert_shape(L[6].out_shape, K_VECTOR, VA_TRIVIAL, 3, 1, 1, 1);
	assert_shape(L[7].out_shape, K_VECTOR, VA_MAP, 3, 4, 6, 6);
	assert_shape(L[8].out_shape, K_VECTOR, VA_TRIVIAL, 12, 1, 1, 1);
	assert_shape(L[9].out_shape, K_VECTOR, VA_GROUP, 3, 4, 1, 1);
	assert_shape(L[10].out_shape, K_VECTOR, VA_MIXED, 12, 1, 1, 1);
	assert_shape(L[11].out_shape, K_VECTOR, VA_GROUP, 3, 4, 1, 1);
	assert_shape(L[12].out_shape, K_VECTOR, VA_TRIVIAL, 3, 1, 1, 1);
	assert_shape(L[13].out_shape, K_VECTOR, VA_MIXED, 12, 1, 1, 1);
	ck_assert_int_eq(L[5].k, 6);
	ck_assert_int_eq(L[5].s, 6); /* s defaults to k */
	run_free(r);
}
END_TEST

START_TEST(flatten_of_image_map)
{
	Run *r = run_ok("p1", 2, 3, 4, "return flatten(x);");
	assert_shape(r->m->layer[0].out_shape, K_VECTOR, VA_MAP, 2, 1, 3, 4);
	run_free(r);
}
END_TEST

START_TEST(groups_resolve)
{
	Run *r = run_check("group c4 = <rot90>;\ngroup d2 = <flip, rot180>;\n"
	                   "model t(x: [1, 5, 5]) on d2 { return lift(x, 1, k=1); }");
	ck_assert_ptr_nonnull(r->m);
	Group pmm;
	group_predeclared("pmm", &pmm);
	ck_assert_uint_eq(r->m->group.mask, pmm.mask);
	ck_assert_str_eq(r->m->group.name, "d2");
	ck_assert_int_eq(r->m->layer[0].out_shape.g, 4);
	run_free(r);
	r = run_check("group c4 = <rot90>;\nmodel t(x: [1, 5, 5]) on c4 { return x; }");
	Group p4;
	group_predeclared("p4", &p4);
	ck_assert_uint_eq(r->m->group.mask, p4.mask);
	ck_assert_int_eq(r->m->nlayers, 0);
	ck_assert_int_eq(r->m->output, 0);
	run_free(r);
}
END_TEST

/* Axis swappers need H == W; the other elements do not. */
START_TEST(square_inputs)
{
	const char *groups[] = {"p1", "p2", "pm", "pmm", "cm", "cmm", "p4", "p4m"};
	for (int i = 0; i < 8; i++) {
		Group G;
		group_predeclared(groups[i], &G);
		bool swaps = false;
		for (int a = 0; a < G.n; a++)
			swaps |= gq_d4_swaps_axes(G.elem[a]);
		Run *r = run_body(groups[i], 1, 6, 7, "return x;");
		ck_assert_int_eq(r->m == NULL, swaps);
		if (swaps)
			assert_has(r, "which needs a square input, but x is 6x7");
		run_free(r);
	}
}
END_TEST

START_TEST(independent_errors_without_cascades)
{
	Run *r = run_err("p4", 1, 28, 28,
	        "h = lift(x, 8, k=3, stride=2);\n"        /* 1 */
	        "h = relu(bn(gconv(h, 8, k=3)));\n"       /* poisoned h: silent */
	        "g = gconv(x, 8, k=3);\n"                 /* 2 */
	        "q = relu(y) + relu(y);\n"                /* 3: y reported once */
	        "return linear(global_avgpool(hh), 10);", /* 4 */
	        4);
	assert_has(r, "did you mean 's'?");
	assert_has(r, "lift it first");
	assert_has(r, "undefined name 'y'");
	assert_has(r, "undefined name 'hh'; did you mean 'h'?");
	run_free(r);
}
END_TEST

START_TEST(argument_errors)
{
	struct {
		const char *body, *msg;
	} cases[] = {
	        {"return lift(x, 8);", "lift needs k= (the kernel size)"},
	        {"return lift(x, k=3);", "lift needs C (the number of output channels)"},
	        {"return maxpool(x);", "maxpool needs k (the kernel size)"},
	        {"return lift(x, 8, 3, k=3);", "argument k of lift given twice"},
	        {"return lift(x, 8, k=3, p=1, p=2);", "argument p of lift given twice"},
	        {"return relu(x, 2);", "too many arguments to relu"},
	        {"return lift(x, k=3, 8);", "positional argument follows keyword argument"},
	        {"return lift(x, 8, k=h);",
	                "kernel size k of lift must be an integer, not the name 'h'"},
	        {"return lift(x, 8, k=1.5);", "must be an integer, not the number 1.5"},
	        {"return lift(x, 8, k=3, bias=1);", "bias of lift must be true or false"},
	        {"return gpool(lift(x, 8, k=3), avg);",
	                "mode of gpool must be max or mean, not 'avg'"},
	        {"return gpool(lift(x, 8, k=3), 1);", "must be max or mean, not the integer 1"},
	        {"return bn(x, eps=0);", "eps of bn must be positive"},
	        {"return lift(x, 8, k=3, x=x);", "lift has no argument 'x'"},
	        {"return relu(h=x);", "relu takes no keyword arguments"},
	        {"return lift(x, 8, kernel_size=3);", "did you mean 'k'?"},
	        {"return relu(3);", "the operand of relu must be a value"},
	        {"return 3;", "the returned expression must be a value"},
	        {"return x + 1;", "each operand of + must be a value"},
	        {"return conv3d(x, 8, k=3);", "unknown operation 'conv3d'; did you mean 'conv'?"},
	        {"return relu;", "'relu' is an operation, not a value"},
	        {"return lift(x, 0, k=3);", "output channel count C must be at least 1, not 0"},
	        {"return lift(x, 8, k=0);", "kernel size k must be at least 1, not 0"},
	        {"return lift(x, 8, k=3, s=0);", "stride s must be at least 1, not 0"},
	        {"return lift(x, 8, k=3, d=0);", "dilation d must be at least 1, not 0"},
	        {"return linear(flatten(x), 0);", "output count N must be at least 1, not 0"},
	        {"return lift(x, 8, k=70000);",
	                "kernel size k = 70000 exceeds geqc's limit of 65536"},
	        {"return maxpool(x, 2, p=2);", "must be at most half the kernel size"},
	        {"return lift(x, 8, k=29);", "kernel 29 (dilation 1) does not fit the 28x28 input"},
	        {"return lift(x, 8, k=3, d=14);", "the kernel spans 14*(3-1)+1 = 29 pixels"},
	        {"return linear(x, 10);", "linear expects a vector, but 'x' is an image"},
	        {"return softmax(lift(x, 2, k=1));",
	                "softmax expects a vector, but the result of lift is a G-map"},
	        {"return lift(lift(x, 2, k=1), 2, k=1);",
	                "lift expects an image, but the result of lift is a G-map (use gconv)"},
	        {"return gpool(x, max);", "gpool expects a G-map, but 'x' is an image"},
	        {"return bn(flatten(x));",
	                "bn expects an image or a G-map, but the result of flatten is a vector"},
	        {"return x + flatten(x);", "+ needs operands of the same shape, but got image [1, "
	                                   "28, 28] and vector [784]"},
	        {"return flatten(x) + linear(flatten(x), 10);",
	                "but got vector [784] and vector [10]"},
	        {"h = x;", "model 't' has no return statement"},
	        {"return x; return x;", "code after return"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		Run *r = run_err("p4", 1, 28, 28, cases[i].body, 1);
		assert_has(r, cases[i].msg);
		run_free(r);
	}
}
END_TEST

START_TEST(group_errors)
{
	Run *r = run_check("group a = <rot90, rot45, flip, shear>;\n"
	                   "group p4 = <rot90>;\ngroup b = <flip>;\ngroup b = <rot90>;\n"
	                   "model t(x: [1, 4, 4]) on a { return x; }");
	ck_assert_int_eq(r->s.d.nerrors, 4);
	assert_has(r, "'rot45' is not a symmetry of the square pixel grid");
	assert_has(r, "'shear' is not a symmetry");
	assert_has(r, "cannot redefine the predeclared group 'p4'");
	assert_has(r, "t.geq:4:7: error: redefinition of group 'b'");
	assert_has(r, "t.geq:3:7: note: 'b' was first declared here");
	run_free(r);
	r = run_body("c44", 1, 4, 4, "return x;");
	assert_has(r, "unknown group 'c44'");
	run_free(r);
	r = run_check("group c4 = <rot90>;\nmodel t(x: [1, 4, 4]) on c44 { return x; }");
	assert_has(r, "unknown group 'c44'; did you mean 'c4'?");
	run_free(r);
	r = run_body("p4", 1, 28, 32, "return x;");
	assert_has(r, "p4 contains r (rotation by 90 degrees), which needs a square input, but x "
	              "is 28x32");
	assert_has(r, "or the group p2");
	run_free(r);
}
END_TEST

START_TEST(input_and_size_limits)
{
	Run *r = run_err("p1", 0, 28, 70000, "return x;", 2);
	assert_has(r, "input channel count must be between 1 and 65536 (GEQC_MAX_DIM), not 0");
	assert_has(r, "input width must be between 1 and 65536 (GEQC_MAX_DIM), not 70000");
	run_free(r);
	r = run_err("p1", 1, 20000, 20000, "return x;", 1);
	assert_has(r, "holds 400000000 floats, more than geqc's limit of 268435456");
	run_free(r);
	/* 2^16 * 2^16 * 8 * 2^8 * 2^8 overflows 32 bits and more: no wrap-around */
	r = run_err("p4m", 1, 512, 512,
	        "h = lift(x, 65536, k=1, s=512);\nreturn gconv(h, 65536, k=256, p=128);", 1);
	assert_has(r, "the weight of this gconv, [65536, 65536, 8, 256, 256], holds "
	              "2251799813685248 floats");
	run_free(r);
	r = run_check("");
	assert_has(r, "t.geq: error: no model declared");
	run_free(r);
}
END_TEST

static Node *node(Arena *a, NodeKind kind, const char *name)
{
	Node *n = ast_node(a, kind, (Loc){1, 1, 1, 1, NULL});
	n->name = name;
	return n;
}

/* The parser caps operations too, so the checker's own limit is reached by hand; the
 * left spine of additions is as long as the model, and must not recurse. */
START_TEST(layer_limit)
{
	Arena *a = arena_new();
	Node *sum = node(a, N_NAME, "x");
	for (int i = 0; i < 200000; i++) {
		Node *add = node(a, N_ADD, NULL);
		add->lhs = sum;
		add->rhs = node(a, N_NAME, "x");
		sum = add;
	}
	Stmt ret = {.expr = sum};
	Node dims[3] = {{.kind = N_INT, .i = 1}, {.kind = N_INT, .i = 2}, {.kind = N_INT, .i = 2}};
	ModelDecl md = {.name = "t",
	        .input = "x",
	        .dims = {&dims[0], &dims[1], &dims[2]},
	        .group = "p1",
	        .body = &ret};
	Program p = {.model = &md};
	Sink sk;
	sink_open(&sk, "t.geq", "", 0);
	ck_assert_ptr_null(check_program(&p, a, &sk.d));
	char *buf = sink_close(&sk);
	ck_assert_int_eq(sk.d.nerrors, 1);
	ck_assert_msg(strstr(buf, "more than 4096 layers") != NULL, "%s", buf);
	free(buf);
	arena_free(a);
}
END_TEST

START_TEST(error_limit)
{
	char body[8192] = "";
	for (int i = 0; i < 80; i++)
		snprintf(body + strlen(body), sizeof body - strlen(body), "a%d = relu(u%d);\n", i,
		        i);
	strcat(body, "return x;");
	Run *r = run_body("p1", 1, 4, 4, body);
	ck_assert_int_eq(r->s.d.nerrors, 50);
	assert_has(r, "too many errors");
	run_free(r);
}
END_TEST

static Suite *check_suite(void)
{
	Suite *s = suite_create("check");
	TCase *tc = tcase_create("check");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, conv_out_size_counts_windows);
	tcase_add_test(tc, sliding_layer_shapes);
	tcase_add_test(tc, names_count_in_source_order);
	tcase_add_test(tc, values_and_operands);
	tcase_add_test(tc, tensors_follow_the_spec);
	tcase_add_test(tc, vector_actions);
	tcase_add_test(tc, flatten_of_image_map);
	tcase_add_test(tc, groups_resolve);
	tcase_add_test(tc, square_inputs);
	tcase_add_test(tc, independent_errors_without_cascades);
	tcase_add_test(tc, argument_errors);
	tcase_add_test(tc, group_errors);
	tcase_add_test(tc, input_and_size_limits);
	tcase_add_test(tc, layer_limit);
	tcase_add_test(tc, error_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(check_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
