/* test_parser.c: lexer.l + parser.y. The AST of SPEC §2's example, checked field by field,
 * with every location computed independently from the source text (the n-th occurrence of
 * a substring, its line and column counted here); the limits; the syntax error messages;
 * and that any input, whole or cut or mutated, gives either an AST and no error or NULL
 * and exactly one error. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"
#include "harness.h"

/* ---- harness ---- */

typedef struct Parse {
	Arena *arena;
	Sink s; /* s.text: the diagnostics printed */
	Program *prog;
} Parse;

static void parse_bytes(Parse *p, const char *src, size_t len)
{
	memset(p, 0, sizeof *p);
	p->arena = arena_new();
	sink_open(&p->s, "t.geq", src, len);
	p->prog = parse_program(src, len, p->arena, &p->s.d);
	sink_close(&p->s);
}

static void parse(Parse *p, const char *src)
{
	parse_bytes(p, src, strlen(src));
}

static void done(Parse *p)
{
	arena_free(p->arena);
	free(p->s.text);
}

/* The location of the n-th (from 0) occurrence of needle in src, counted directly. */
static Loc where(const char *src, const char *needle, int n)
{
	const char *hit = src;
	for (int i = 0; i <= n; i++) {
		hit = strstr(i ? hit + 1 : hit, needle);
		ck_assert_msg(hit != NULL, "'%s' occurs fewer than %d times", needle, n + 1);
	}
	int line = 1, col = 1;
	for (const char *c = src; c < hit; c++) {
		line += *c == '\n';
		col = *c == '\n' ? 1 : col + 1;
	}
	return (Loc){line, col, line, col + (int)strlen(needle) - 1, NULL};
}

/* len columns of a one-line location, from its column off (0-based). */
static Loc part(Loc l, int off, int len)
{
	return (Loc){l.first_line, l.first_column + off, l.first_line,
	        l.first_column + off + len - 1, NULL};
}

#define ck_assert_loc(got, want)                                                                   \
	do {                                                                                       \
		Loc g_ = (got), w_ = (want);                                                       \
		ck_assert_msg(memcmp(&g_, &w_, sizeof g_) == 0,                                    \
		        "%s: got %d:%d-%d:%d, want %d:%d-%d:%d", #got, g_.first_line,              \
		        g_.first_column, g_.last_line, g_.last_column, w_.first_line,              \
		        w_.first_column, w_.last_line, w_.last_column);                            \
	} while (0)

static const Stmt *stmt_at(const Program *p, int i)
{
	const Stmt *s = p->model->body;
	while (s && i-- > 0)
		s = s->next;
	ck_assert_ptr_nonnull(s);
	return s;
}

static const Arg *arg_at(const Node *call, int i)
{
	ck_assert_int_eq(call->kind, N_CALL);
	const Arg *a = call->args;
	while (a && i-- > 0)
		a = a->next;
	ck_assert_ptr_nonnull(a);
	return a;
}

static int count_args(const Node *call)
{
	int n = 0;
	for (const Arg *a = call->args; a; a = a->next)
		n++;
	return n;
}

/* ---- the example of SPEC §2 ---- */

static const char example[] =
        "# comments run from '#' (or '//') to the end of the line\n"
        "group c4 = <rot90>;               # a group\n"
        "model p4cnn(x: [1, 28, 28]) on c4 {   // one input: channels, height, width\n"
        "    h = lift(x, 10, k=3);         # Z2 -> G   (weights lift1.*)\n"
        "    h = relu(bn(h));              #           (bn1.*)\n"
        "    h = gconv(h, 10, k=3);        # G -> G    (gconv1.*)\n"
        "    h = relu(bn(h));\n"
        "    h = maxpool(h, 2);            # k=2, s defaults to k\n"
        "    h = relu(bn(gconv(h, 10, k=3)));\n"
        "    y = gpool(h, max);            # G -> Z2: invariant over the group axis\n"
        "    return linear(global_avgpool(y), 10);\n"
        "}\n";

START_TEST(test_example_declarations)
{
	Parse p;
	parse(&p, example);
	ck_assert_ptr_nonnull(p.prog);
	ck_assert_int_eq(p.s.d.nerrors, 0);
	ck_assert_uint_eq(p.s.len, 0);

	const GroupDecl *g = p.prog->groups;
	ck_assert_ptr_nonnull(g);
	ck_assert_str_eq(g->name, "c4");
	ck_assert_loc(g->loc, where(example, "c4", 0));
	ck_assert_str_eq(g->gens->name, "rot90");
	ck_assert_loc(g->gens->loc, where(example, "rot90", 0));
	ck_assert_ptr_null(g->gens->next);
	ck_assert_ptr_null(g->next);

	const ModelDecl *m = p.prog->model;
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->name, "p4cnn");
	ck_assert_loc(m->loc, where(example, "p4cnn", 0));
	ck_assert_str_eq(m->input, "x");
	ck_assert_loc(m->input_loc, where(example, "x: [1, 28, 28]", 0));
	const int dims[3] = {1, 28, 28};
	const Loc dim_locs[3] = {
	        where(example, "1", 0), where(example, "28", 0), where(example, "28", 1)};
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(m->dims[i]->kind, N_INT);
		ck_assert_int_eq(m->dims[i]->i, dims[i]);
		ck_assert_loc(m->dims[i]->loc, dim_locs[i]);
	}
	ck_assert_str_eq(m->group, "c4");
	ck_assert_loc(m->group_loc, where(example, "c4", 1));
	done(&p);
}
END_TEST

START_TEST(test_example_statements)
{
	Parse p;
	parse(&p, example);
	ck_assert_ptr_nonnull(p.prog);
	const char *targets[] = {"h", "h", "h", "h", "h", "h", "y", NULL};
	int n = 0;
	for (const Stmt *s = p.prog->model->body; s; s = s->next, n++) {
		ck_assert_int_lt(n, 8);
		if (targets[n])
			ck_assert_str_eq(s->target, targets[n]);
		else
			ck_assert_ptr_null(s->target);
	}
	ck_assert_int_eq(n, 8);

	/* h = lift(x, 10, k=3); */
	const Stmt *s = stmt_at(p.prog, 0);
	ck_assert_loc(s->loc, where(example, "h = lift(x, 10, k=3);", 0));
	ck_assert_loc(s->target_loc, part(where(example, "h = lift", 0), 0, 1));
	const Node *lift = s->expr;
	ck_assert_int_eq(lift->kind, N_CALL);
	ck_assert_str_eq(lift->name, "lift");
	ck_assert_loc(lift->loc, where(example, "lift(x, 10, k=3)", 0));
	ck_assert_loc(lift->name_loc, where(example, "lift", 0));
	ck_assert_int_eq(count_args(lift), 3);
	ck_assert_ptr_null(arg_at(lift, 0)->kw);
	ck_assert_int_eq(arg_at(lift, 0)->val->kind, N_NAME);
	ck_assert_str_eq(arg_at(lift, 0)->val->name, "x");
	ck_assert_int_eq(arg_at(lift, 1)->val->kind, N_INT);
	ck_assert_int_eq(arg_at(lift, 1)->val->i, 10);
	ck_assert_loc(arg_at(lift, 1)->loc, where(example, "10", 0));
	ck_assert_str_eq(arg_at(lift, 2)->kw, "k");
	ck_assert_int_eq(arg_at(lift, 2)->val->i, 3);
	ck_assert_loc(arg_at(lift, 2)->loc, where(example, "k=3", 0));
	ck_assert_loc(arg_at(lift, 2)->val->loc, part(where(example, "k=3", 0), 2, 1));

	/* h = relu(bn(gconv(h, 10, k=3))); calls nest, each spanning to its own ')' */
	const Node *relu = stmt_at(p.prog, 5)->expr;
	ck_assert_str_eq(relu->name, "relu");
	ck_assert_loc(relu->loc, where(example, "relu(bn(gconv(h, 10, k=3)))", 0));
	const Node *bn = arg_at(relu, 0)->val;
	ck_assert_str_eq(bn->name, "bn");
	ck_assert_loc(bn->loc, where(example, "bn(gconv(h, 10, k=3))", 0));
	const Node *gconv = arg_at(bn, 0)->val;
	ck_assert_loc(gconv->loc, where(example, "gconv(h, 10, k=3)", 1));
	ck_assert_loc(gconv->name_loc, where(example, "gconv", 2));

	/* y = gpool(h, max); the mode is a name */
	const Node *gpool = stmt_at(p.prog, 6)->expr;
	ck_assert_int_eq(arg_at(gpool, 1)->val->kind, N_NAME);
	ck_assert_str_eq(arg_at(gpool, 1)->val->name, "max");

	/* return linear(global_avgpool(y), 10); */
	const Stmt *ret = stmt_at(p.prog, 7);
	ck_assert_loc(ret->loc, where(example, "return linear(global_avgpool(y), 10);", 0));
	ck_assert_str_eq(ret->expr->name, "linear");
	ck_assert_str_eq(arg_at(ret->expr, 0)->val->name, "global_avgpool");
	done(&p);
}
END_TEST

/* ---- expressions ---- */

START_TEST(test_add_is_left_associative)
{
	const char *src = "model m(x: [1, 4, 4]) on p1 {\n"
	                  "    y = a + b + (c + d);\n"
	                  "}\n";
	Parse p;
	parse(&p, src);
	ck_assert_ptr_nonnull(p.prog);
	const Node *top = stmt_at(p.prog, 0)->expr;
	ck_assert_int_eq(top->kind, N_ADD);
	ck_assert_loc(top->loc, where(src, "a + b + (c + d)", 0));
	ck_assert_loc(top->name_loc, where(src, "+", 1));
	const Node *ab = top->lhs;
	ck_assert_int_eq(ab->kind, N_ADD);
	ck_assert_loc(ab->loc, where(src, "a + b", 0));
	ck_assert_loc(ab->name_loc, where(src, "+", 0));
	ck_assert_str_eq(ab->lhs->name, "a");
	ck_assert_str_eq(ab->rhs->name, "b");
	const Node *cd = top->rhs;
	ck_assert_int_eq(cd->kind, N_ADD);
	ck_assert_loc(cd->loc, where(src, "c + d", 0));
	ck_assert_str_eq(cd->lhs->name, "c");
	ck_assert_str_eq(cd->rhs->name, "d");
	done(&p);
}
END_TEST

START_TEST(test_literals)
{
	const char *src = "model m(x: [0, 7, 2147483647]) on p1 {\n"
	                  "    y = f(1e-5, 0.001, 1.5e3, .5, 2., 7E+2, true, false, k=false);\n"
	                  "}\n";
	Parse p;
	parse(&p, src);
	ck_assert_ptr_nonnull(p.prog);
	ck_assert_int_eq(p.prog->model->dims[2]->i, INT_MAX);
	const Node *f = stmt_at(p.prog, 0)->expr;
	const double floats[] = {1e-5, 0.001, 1.5e3, 0.5, 2.0, 700.0};
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(arg_at(f, i)->val->kind, N_FLOAT);
		ck_assert_double_eq(arg_at(f, i)->val->f, floats[i]);
	}
	ck_assert_loc(arg_at(f, 0)->val->loc, where(src, "1e-5", 0));
	ck_assert_int_eq(arg_at(f, 6)->val->kind, N_BOOL);
	ck_assert_int_eq(arg_at(f, 6)->val->i, 1);
	ck_assert_int_eq(arg_at(f, 7)->val->i, 0);
	ck_assert_str_eq(arg_at(f, 8)->kw, "k");
	ck_assert_int_eq(arg_at(f, 8)->val->kind, N_BOOL);
	ck_assert_int_eq(arg_at(f, 8)->val->i, 0);
	done(&p);
}
END_TEST

/* Comments, CRLF line ends and tabs (one column each) do not disturb locations. */
START_TEST(test_blanks_and_comments)
{
	const char *src = "// header\r\n"
	                  "group g = <flip, rot180>; # trailing\r\n"
	                  "\tmodel m(x: [1, 4, 4]) on g {\r\n"
	                  "\t\treturn\tx;\r\n"
	                  "}";
	Parse p;
	parse(&p, src);
	ck_assert_ptr_nonnull(p.prog);
	ck_assert_loc(p.prog->model->loc, part(where(src, "m(", 0), 0, 1));
	ck_assert_loc(stmt_at(p.prog, 0)->expr->loc, part(where(src, "x;", 0), 0, 1));
	ck_assert_loc(stmt_at(p.prog, 0)->loc, where(src, "return\tx;", 0));
	const Ident *gen = p.prog->groups->gens;
	ck_assert_str_eq(gen->name, "flip");
	ck_assert_str_eq(gen->next->name, "rot180");
	ck_assert_loc(gen->next->loc, where(src, "rot180", 0));
	done(&p);
}
END_TEST

START_TEST(test_empty_and_comment_only)
{
	const char *srcs[] = {"", "# nothing\n", "\n\n  \t\n", "// a\n// b"};
	for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
		Parse p;
		parse(&p, srcs[i]);
		ck_assert_ptr_nonnull(p.prog);
		ck_assert_ptr_null(p.prog->model);
		ck_assert_ptr_null(p.prog->groups);
		ck_assert_int_eq(p.s.d.nerrors, 0);
		done(&p);
	}
}
END_TEST

START_TEST(test_groups_in_source_order)
{
	const char *src = "group a = <>;\n"
	                  "group b = <flip>;\n"
	                  "model m(x: [1, 4, 4]) on b { return x; }\n"
	                  "group c = <rot90, flip, transpose>;\n";
	Parse p;
	parse(&p, src);
	ck_assert_ptr_nonnull(p.prog);
	const GroupDecl *g = p.prog->groups;
	ck_assert_str_eq(g->name, "a");
	ck_assert_ptr_null(g->gens);
	ck_assert_str_eq(g->next->name, "b");
	const GroupDecl *c = g->next->next;
	ck_assert_str_eq(c->name, "c");
	ck_assert_ptr_null(c->next);
	const char *gens[] = {"rot90", "flip", "transpose"};
	const Ident *id = c->gens;
	for (int i = 0; i < 3; i++, id = id->next)
		ck_assert_str_eq(id->name, gens[i]);
	ck_assert_ptr_null(id);
	ck_assert_ptr_null(p.prog->model->body->next);
	done(&p);
}
END_TEST

/* ---- limits ---- */

/* `model m(x: [1, 4, 4]) on p1 { y = <prefix>x<suffix>; }` with the parts repeated. */
static char *repeat_model(const char *prefix, const char *mid, const char *suffix, int n)
{
	size_t len = 64 + n * (strlen(prefix) + strlen(suffix)) + strlen(mid);
	char *s = malloc(len), *p = s;
	p = stpcpy(p, "model m(x: [1, 4, 4]) on p1 { y = ");
	for (int i = 0; i < n; i++)
		p = stpcpy(p, prefix);
	p = stpcpy(p, mid);
	for (int i = 0; i < n; i++)
		p = stpcpy(p, suffix);
	strcpy(p, "; }");
	return s;
}

START_TEST(test_nesting_limit)
{
	const char *opens[] = {"f(", "("};
	for (int k = 0; k < 2; k++) {
		for (int n = GEQC_MAX_DEPTH; n <= GEQC_MAX_DEPTH + 1; n++) {
			char *src = repeat_model(opens[k], "x", ")", n);
			Parse p;
			parse(&p, src);
			if (n <= GEQC_MAX_DEPTH) {
				ck_assert_ptr_nonnull(p.prog);
			} else {
				ck_assert_ptr_null(p.prog);
				ck_assert_ptr_nonnull(strstr(p.s.text, "more than 64 nested"));
			}
			done(&p);
			free(src);
		}
	}
}
END_TEST

START_TEST(test_identifier_limit)
{
	char name[GEQC_MAX_IDENT + 2];
	memset(name, 'a', sizeof name);
	name[GEQC_MAX_IDENT] = '\0';
	char *ok = repeat_model("", name, "", 0);
	name[GEQC_MAX_IDENT] = 'a';
	name[GEQC_MAX_IDENT + 1] = '\0';
	char *bad = repeat_model("", name, "", 0);
	Parse p;
	parse(&p, ok);
	ck_assert_ptr_nonnull(p.prog);
	ck_assert_uint_eq(strlen(stmt_at(p.prog, 0)->expr->name), GEQC_MAX_IDENT);
	done(&p);
	parse(&p, bad);
	ck_assert_ptr_null(p.prog);
	Loc at = where(bad, name, 0);
	char want[128];
	snprintf(want, sizeof want,
	        "t.geq:1:%d: error: identifier 'aaaaaaaaaaaaaaaa...' is longer than 64 characters",
	        at.first_column);
	ck_assert_ptr_nonnull(strstr(p.s.text, want));
	done(&p);
	free(ok);
	free(bad);
}
END_TEST

START_TEST(test_integer_limit)
{
	Parse p;
	parse(&p, "model m(x: [1, 4, 2147483648]) on p1 { return x; }");
	ck_assert_ptr_null(p.prog);
	ck_assert_str_eq(p.s.text, "t.geq:1:19: error: integer constant '2147483648' is too large\n"
	                           "    1 | model m(x: [1, 4, 2147483648]) on p1 { return x; }\n"
	                           "      |                   ^~~~~~~~~~\n");
	done(&p);
}
END_TEST

/* Every call and '+' is a layer; the parser stops at GEQC_MAX_LAYERS + 1. */
START_TEST(test_layer_limit)
{
	for (int n = GEQC_MAX_LAYERS; n <= GEQC_MAX_LAYERS + 1; n++) {
		char *src = repeat_model("", "x", " + x", n);
		Parse p;
		parse(&p, src);
		if (n <= GEQC_MAX_LAYERS) {
			ck_assert_ptr_nonnull(p.prog);
		} else {
			ck_assert_ptr_null(p.prog);
			ck_assert_ptr_nonnull(strstr(p.s.text, "more than 4096 layers"));
		}
		done(&p);
		free(src);
	}
}
END_TEST

/* ---- syntax errors: the first line of the message, location included ---- */

static const struct {
	const char *src, *first_line;
} errors[] = {
        {"model m(x: [1, 4, 4]) on p1 {\n  y = f(x)\n  return y;\n}",
                "t.geq:2:11: error: expected ';' after the statement"},
        {"model m(x: [1, 4, 4]) on p1 {\n  y = f(x;\n}",
                "t.geq:2:10: error: expected ')' to close '(' at line 2, column 8 before ';'"},
        {"model m(x: [1, 4, 4]) on p1 {\n  return x;\n",
                "t.geq:2:12: error: expected '}' to close '{' at line 1, column 29 before end of "
                "file"},
        {"model m(x: [1, 4, 4]) on p1 { y == x; }", "t.geq:1:33: error: expected '=', not '=='"},
        {"model m(x: [1, 4, 4]) on p1 { y = f(x, k: 3); }",
                "t.geq:1:41: error: expected '=', not ':'"},
        {"model m(x: [1, 4, 4]) on p1 { y = f(x)); }",
                "t.geq:1:39: error: ')' without a matching '('"},
        {"model m(x: [1, 4]) on p1 { }", "t.geq:1:12: error: the input shape has 2 dimensions, "
                                         "but it needs 3: [channels, height, width]"},
        {"model m(x: [1, 4, 4]) on p1 { }\nmodel n(x: [1, 4, 4]) on p1 { }",
                "t.geq:2:7: error: only one model per file (the first is at line 1)"},
        {"group g = <rot90 flip>;", "t.geq:1:18: error: expected '>' or ',' before 'flip'"},
        {"model m(x: [1, 4, 4]) on p1 { y = ; }",
                "t.geq:1:35: error: expected expression before ';'"},
        {"model m(x: [1, 4, 4]) on p1 { y = x @ x; }", "t.geq:1:37: error: stray '@' in program"},
        {"model m(x: [1, 4, 4]) on p1 { y = \x80; }",
                "t.geq:1:35: error: stray '\\200' in program"},
        {"model m(x: [1, 4, 4]) on p1 { y = 3px; }",
                "t.geq:1:35: error: invalid suffix 'px' on integer constant"},
        {"return x;", "t.geq:1:1: error: expected 'group', 'model' or 'block' before 'return'"},
};

START_TEST(test_syntax_error)
{
	Parse p;
	parse(&p, errors[_i].src);
	ck_assert_ptr_null(p.prog);
	ck_assert_int_eq(p.s.d.nerrors, 1);
	size_t n = strcspn(p.s.text, "\n");
	ck_assert_msg(strlen(errors[_i].first_line) == n &&
	                      strncmp(p.s.text, errors[_i].first_line, n) == 0,
	        "got:  %.*s\nwant: %s", (int)n, p.s.text, errors[_i].first_line);
	done(&p);
}
END_TEST

START_TEST(test_nul_byte)
{
	const char src[] = "model m(x: [1, 4, 4]) on p1 { y = \0; }";
	Parse p;
	parse_bytes(&p, src, sizeof src - 1);
	ck_assert_ptr_null(p.prog);
	ck_assert_str_eq(p.s.text, "t.geq:1:35: error: stray '\\000' in program\n"
	                           "    1 | model m(x: [1, 4, 4]) on p1 { y = ?; }\n"
	                           "      |                                   ^\n");
	done(&p);
}
END_TEST

/* ---- robustness ---- */

/* The contract: an AST and no error, or NULL and exactly one error. */
static void check_contract(const char *src, size_t len)
{
	Parse p;
	parse_bytes(&p, src, len);
	if (p.prog)
		ck_assert_int_eq(p.s.d.nerrors, 0);
	else
		ck_assert_msg(
		        p.s.d.nerrors == 1, "%d errors for %.*s", p.s.d.nerrors, (int)len, src);
	done(&p);
}

START_TEST(test_every_prefix)
{
	for (size_t n = 0; n <= strlen(example); n++)
		check_contract(example, n);
}
END_TEST

/* Deterministic mutations of the example: bytes replaced, deleted, duplicated. */
START_TEST(test_mutations)
{
	static const char alphabet[] = "()[]{}<>=;,:+#/-.0123456789eEkx_ \n\t\0\x80\xff";
	unsigned seed = 12345;
	char buf[sizeof example * 2];
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = sizeof example - 1;
		memcpy(buf, example, len);
		int edits = 1 + iter % 4;
		for (int e = 0; e < edits; e++) {
			seed = seed * 1103515245 + 12345;
			size_t at = (seed >> 8) % len;
			char c = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
			switch ((seed >> 4) % 3) {
			case 0:
				buf[at] = c;
				break;
			case 1:
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			default:
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = c;
				len++;
				break;
			}
		}
		check_contract(buf, len);
	}
}
END_TEST

/* ---- blocks, loops, conditions and compile-time expressions (SPEC §2.1) ---- */

/* The AST dump of src, which must parse without a message. */
static char *dump_of(const char *src)
{
	Parse p;
	parse(&p, src);
	ck_assert_msg(p.prog != NULL, "did not parse: %s", p.s.text);
	ck_assert_uint_eq(p.s.len, 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ast_dump(f, p.prog);
	fclose(f);
	done(&p);
	return text;
}

static void assert_dump_has(const char *src, const char *line)
{
	char *text = dump_of(src);
	ck_assert_msg(strstr(text, line) != NULL, "no '%s' in the dump:\n%s", line, text);
	free(text);
}

START_TEST(test_precedence_as_c)
{
	assert_dump_has("model m(x: [1, 8, 8]) on p4 { a = 1 + 2 * 3 == 7 && !false ? -1 : 2 % 3;"
	                " return x; }",
	        "a (?: (&& (== (+ 1 (* 2 3)) 7) (! false)) (- 1) (% 2 3))");
	assert_dump_has("model m(x: [1, 8, 8]) on p4 { a = 1 - 2 - 3 < 4 || 5 >= 6 != 7 <= 8;"
	                " return x; }",
	        "a (|| (< (- (- 1 2) 3) 4) (!= (>= 5 6) (<= 7 8)))");
}
END_TEST

/* `0..7` is two integers and '..', not the float `0.` and `.7`. */
START_TEST(test_range_lexes_as_integers)
{
	assert_dump_has("model m(x: [1, 8, 8]) on p4 { for i in 0..7 { x = relu(x); } return x; }",
	        "for i 0 7");
	assert_dump_has("model m(x: [1, 8, 8]) on p4 { for i in 1 .. n+1 { x = relu(x); } "
	                "return x; }",
	        "for i 1 (+ n 1)");
}
END_TEST

START_TEST(test_if_else_chain_and_block)
{
	char *text = dump_of("block b(x, C, s=1) {\n"
	                     "    if (s == 1) { h = x; } else if (C > 2) { h = relu(x); } else {"
	                     " h = tanh(x); }\n"
	                     "    return h;\n"
	                     "}\n"
	                     "model m(x: [1, 8, 8]) on p4 { return b(x, 2); }\n");
	const char *want = "1:7 block b (x C s=1)\n"
	                   "2:5   if (== s 1)\n"
	                   "2:19     h x\n"
	                   "2:5   else\n"
	                   "2:33     if (> C 2)\n"
	                   "2:46       h (relu x)\n"
	                   "2:33     else\n"
	                   "2:68       h (tanh x)\n"
	                   "3:5   return h\n";
	ck_assert_msg(strstr(text, want) != NULL, "dump:\n%s", text);
	free(text);
}
END_TEST

/* '<' and '>' bracket a group's generators only: a hundred comparisons leave nothing open
 * (the nesting limit counts open brackets). */
START_TEST(test_comparisons_are_not_brackets)
{
	char src[8192] = "group g = <rot90>;\nmodel m(x: [1, 8, 8]) on g {\n";
	for (int i = 0; i < 100; i++)
		strcat(src, "    if (1 < 2) { x = relu(x); }\n");
	strcat(src, "    return x;\n}\n");
	char *text = dump_of(src);
	free(text);
}
END_TEST

/* A parsed location belongs to no block call: its Site is NULL (diag.c follows it). */
START_TEST(test_parsed_locations_have_no_site)
{
	Parse p;
	parse(&p, "model m(x: [1, 8, 8]) on p4 { h = relu(x + x); return h; }");
	ck_assert_ptr_nonnull(p.prog);
	const Stmt *st = p.prog->model->body;
	ck_assert_ptr_null(st->loc.site);
	ck_assert_ptr_null(st->expr->loc.site);
	ck_assert_ptr_null(st->expr->args->loc.site);
	ck_assert_ptr_null(st->expr->args->val->loc.site);
	ck_assert_ptr_null(st->next->loc.site);
	done(&p);
}
END_TEST

static Suite *parser_suite(void)
{
	Suite *s = suite_create("parser");
	TCase *ast = tcase_create("ast");
	tcase_add_test(ast, test_example_declarations);
	tcase_add_test(ast, test_example_statements);
	tcase_add_test(ast, test_add_is_left_associative);
	tcase_add_test(ast, test_literals);
	tcase_add_test(ast, test_blanks_and_comments);
	tcase_add_test(ast, test_empty_and_comment_only);
	tcase_add_test(ast, test_groups_in_source_order);
	suite_add_tcase(s, ast);
	TCase *control = tcase_create("control");
	tcase_add_test(control, test_precedence_as_c);
	tcase_add_test(control, test_range_lexes_as_integers);
	tcase_add_test(control, test_if_else_chain_and_block);
	tcase_add_test(control, test_comparisons_are_not_brackets);
	tcase_add_test(control, test_parsed_locations_have_no_site);
	suite_add_tcase(s, control);
	TCase *limits = tcase_create("limits");
	tcase_add_test(limits, test_nesting_limit);
	tcase_add_test(limits, test_identifier_limit);
	tcase_add_test(limits, test_integer_limit);
	tcase_add_test(limits, test_layer_limit);
	suite_add_tcase(s, limits);
	TCase *errs = tcase_create("errors");
	tcase_add_loop_test(errs, test_syntax_error, 0, sizeof errors / sizeof errors[0]);
	tcase_add_test(errs, test_nul_byte);
	tcase_add_test(errs, test_every_prefix);
	tcase_add_test(errs, test_mutations);
	tcase_set_timeout(errs, 60);
	suite_add_tcase(s, errs);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(parser_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
