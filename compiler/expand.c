/* expand.c: runs the compile-time part of a .geq program (SPEC §2.1) and leaves the flat
 * model the checker reads: assignments and one return, ops and sums of values only.
 *
 *   block basic(x, C, s=1) { h = relu(bn(gconv(x, C, k=3, s=s, p=1))); ... return h; }
 *   for i in 0..3 { h = basic(h, 16, s=i == 0 ? 2 : 1); }
 *
 * becomes `basic1.h = relu(bn(gconv(h, 16, k=3, s=2, p=1)))` ... `h = basic1.return`,
 * three times over. A call of a block gets a Site (geqc.h): every node copied from its
 * body carries it in its locations, so a diagnostic there names the call chain and the
 * checker names the layers after it (basic1.gconv1). Loops unroll, conditions pick a
 * branch, and arithmetic on compile-time numbers folds to literals; nothing of them
 * survives. Values inside a block get keys prefixed by the call's path, so one call's
 * names never meet another's. The first error stops the expansion (the checker then
 * has nothing consistent to check). */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "geqc.h"

typedef enum { V_INT, V_FLOAT, V_BOOL, V_VALUE } VKind;

/* What an expression stands for at compile time: a number, or a value of the model
 * (node computes it or names it, already rewritten). */
typedef struct Val {
	VKind kind;
	long long i; /* V_INT, V_BOOL */
	double f;    /* V_FLOAT */
	Node *node;  /* V_VALUE */
} Val;

typedef struct Binding {
	const char *name;
	Loc loc;
	Val val; /* a value is an N_NAME with its key */
	bool loop;
	struct Binding *next; /* in its hash bucket */
} Binding;

/* Bounds that keep every search of the expansion short on a hostile file (each has an
 * error that names it): names per body (hashed into NBUCKETS lists), parameters per
 * block, blocks per file. */
enum { MAX_NAMES = GEQC_MAX_LAYERS, NBUCKETS = 256, MAX_PARAMS = 64, MAX_BLOCKS = 1024 };

/* Calls of one block name made by one body, to number them (basic1, basic2, ...). */
typedef struct Count {
	const char *block;
	int n;
	struct Count *next;
} Count;

/* One running body: the model's, or one call of a block. */
typedef struct Frame {
	const BlockDecl *block; /* NULL: the model */
	const Site *site;       /* NULL: the model */
	const char *path;       /* "" in the model, else site->path */
	int order;              /* the body's declaration: blocks it calls come before */
	Binding *names[NBUCKETS];
	int nnames;
	Count *calls;
	const struct Frame *caller;
	int depth;
} Frame;

typedef struct Expander {
	const Program *p;
	Arena *a;
	Diag *d;
	bool failed;
	Stmt **tail; /* where the next flat statement goes */
	int nlayers; /* op calls and sums of values so far */
	long steps;  /* statements run and loop turns */
} Expander;

static bool fail(Expander *E, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reports the expansion's one error; always false, so callers can return it. */
static bool fail(Expander *E, Loc loc, const char *fmt, ...)
{
	if (E->failed)
		return false;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	error_at(E->d, loc, "%s", msg);
	E->failed = true;
	return false;
}

/* ---- the blocks' declarations ---- */

static const BlockDecl *find_block(const Program *p, const char *name)
{
	for (const BlockDecl *b = p->blocks; b; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

static bool is_op(const char *name)
{
	for (int op = 0; op < OP_ADD; op++)
		if (strcmp(op_info[op].name, name) == 0)
			return true;
	return false;
}

/* A default as written, if it is a literal: "1", "true", "1e-05"; else "...". */
static const char *default_text(Expander *E, const Node *n)
{
	switch (n->kind) {
	case N_INT:
		return arena_printf(E->a, "%lld", n->i);
	case N_FLOAT:
		return arena_printf(E->a, "%g", n->f);
	case N_BOOL:
		return n->i ? "true" : "false";
	default:
		return "...";
	}
}

/* "x, C, s=1", for messages. */
static const char *param_list(Expander *E, const BlockDecl *b)
{
	const char *s = "";
	for (const BlockParam *q = b->params; q; q = q->next)
		s = arena_printf(E->a, "%s%s%s%s%s", s, s[0] ? ", " : "", q->name,
		        q->def ? "=" : "", q->def ? default_text(E, q->def) : "");
	return s;
}

/* A block's name is the stem of its calls' names (basic1, basic2): it must not be an
 * op's, the sums' ("add"), nor end in a digit (res2's 11th call would read res211). */
static bool check_block_name(Expander *E, const BlockDecl *b)
{
	const BlockDecl *first = find_block(E->p, b->name);
	size_t n = strlen(b->name);
	if (first != b) {
		fail(E, b->loc, "redefinition of block '%s'", b->name);
		note_at(E->d, first->loc, "'%s' was first declared here", b->name);
		return false;
	}
	if (is_op(b->name) || strcmp(b->name, "add") == 0)
		return fail(E, b->loc, "a block cannot be named '%s', the name of an operation%s",
		        b->name,
		        b->name[0] == 'a' ? " ('+' layers are named add1, add2, ...)" : "");
	if (b->name[n - 1] >= '0' && b->name[n - 1] <= '9')
		return fail(E, b->loc,
		        "a block's name cannot end in a digit: its calls are named by a number "
		        "after it ('%s' would make %s1, %s2, ...)",
		        b->name, b->name, b->name);
	return true;
}

static bool check_params(Expander *E, const BlockDecl *b)
{
	int n = 0;
	for (const BlockParam *q = b->params; q; q = q->next)
		if (++n > MAX_PARAMS)
			return fail(E, q->loc,
			        "block '%s' has more than %d parameters, geqc's limit", b->name,
			        MAX_PARAMS);
	for (const BlockParam *q = b->params; q; q = q->next)
		for (const BlockParam *r = b->params; r != q; r = r->next)
			if (strcmp(r->name, q->name) == 0)
				return fail(E, q->loc, "block '%s' has two parameters named '%s'",
				        b->name, q->name);
	return true;
}

/* A return inside `for` or `if` would make a body's end depend on the arithmetic. */
static bool check_nested_returns(Expander *E, const char *owner, const Stmt *s)
{
	for (; s; s = s->next) {
		if (s->kind == S_RETURN)
			return fail(E, s->loc,
			        "return inside 'for' or 'if': %s returns at the end of "
			        "its body",
			        owner);
		if ((s->kind == S_FOR || s->kind == S_IF) &&
		        (!check_nested_returns(E, owner, s->body) ||
		                !check_nested_returns(E, owner, s->alt)))
			return false;
	}
	return true;
}

static bool check_returns(Expander *E, const char *owner, Loc loc, const Stmt *body, bool block)
{
	const Stmt *ret = NULL;
	for (const Stmt *s = body; s; s = s->next) {
		if (ret && block) {
			fail(E, s->loc, "code after return is never evaluated");
			note_at(E->d, ret->loc, "%s returns here", owner);
			return false;
		}
		if (s->kind == S_RETURN)
			ret = s;
		else if ((s->kind == S_FOR || s->kind == S_IF) &&
		         (!check_nested_returns(E, owner, s->body) ||
		                 !check_nested_returns(E, owner, s->alt)))
			return false;
	}
	if (ret || !block)
		return true;
	fail(E, loc, "%s has no return statement", owner);
	note_at(E->d, loc, "end its body with the block's output, as in: return relu(h + x);");
	return false;
}

static bool check_blocks(Expander *E)
{
	int n = 0;
	for (const BlockDecl *b = E->p->blocks; b; b = b->next)
		if (++n > MAX_BLOCKS)
			return fail(E, b->loc, "more than %d blocks in one file, geqc's limit",
			        MAX_BLOCKS);
	for (const BlockDecl *b = E->p->blocks; b; b = b->next) {
		const char *owner = arena_printf(E->a, "block '%s'", b->name);
		if (!check_block_name(E, b) || !check_params(E, b) ||
		        !check_returns(E, owner, b->loc, b->body, true))
			return false;
	}
	const ModelDecl *m = E->p->model;
	return !m || check_returns(E, "the model", m->loc, m->body, false);
}

/* ---- names ---- */

static Binding **bucket(Frame *F, const char *name)
{
	unsigned h = 2166136261u;
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return &F->names[h % NBUCKETS];
}

static Binding *lookup(Frame *F, const char *name)
{
	for (Binding *b = *bucket(F, name); b; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

/* Binds name in F (NULL past MAX_NAMES, after reporting it). */
static Binding *bind(Expander *E, Frame *F, const char *name, Loc loc, Val v)
{
	Binding *b = lookup(F, name);
	if (!b && ++F->nnames > MAX_NAMES) {
		fail(E, loc, "more than %d names in one body, geqc's limit", MAX_NAMES);
		return NULL;
	}
	if (!b) {
		b = arena_alloc(E->a, sizeof *b);
		b->name = name;
		b->next = *bucket(F, name);
		*bucket(F, name) = b;
	}
	b->loc = loc;
	b->val = v;
	return b;
}

static void unbind(Frame *F, const Binding *gone)
{
	for (Binding **b = bucket(F, gone->name); *b; b = &(*b)->next) {
		if (*b == gone) {
			*b = gone->next;
			return;
		}
	}
}

/* ---- nodes: copies that carry the frame's call site ---- */

static Loc at(const Frame *F, Loc loc)
{
	loc.site = F->site;
	return loc;
}

static Node *clone(Expander *E, const Frame *F, const Node *n)
{
	Node *c = arena_alloc(E->a, sizeof *c);
	*c = *n;
	c->loc = at(F, n->loc);
	c->name_loc = at(F, n->name_loc);
	return c;
}

/* A compile-time number as the literal the checker reads, located where it was written. */
static Node *literal(Expander *E, Val v, Loc loc)
{
	Node *n = ast_node(E->a,
	        v.kind == V_FLOAT  ? N_FLOAT
	        : v.kind == V_BOOL ? N_BOOL
	                           : N_INT,
	        loc);
	n->i = v.i;
	n->f = v.f;
	return n;
}

static Node *as_node(Expander *E, Val v, Loc loc)
{
	return v.kind == V_VALUE ? v.node : literal(E, v, loc);
}

/* A reference to the value with key, shown to the user as name. */
static Node *name_ref(Expander *E, const char *name, const char *key, Loc loc)
{
	Node *n = ast_node(E->a, N_NAME, loc);
	n->name = name;
	n->key = key;
	return n;
}

/* "the integer 3", "true", "'h', a value": what a message says the user gave. */
static const char *describe(Expander *E, Val v)
{
	switch (v.kind) {
	case V_INT:
		return arena_printf(E->a, "the integer %lld", v.i);
	case V_FLOAT:
		return arena_printf(E->a, "the number %g", v.f);
	case V_BOOL:
		return v.i ? "true" : "false";
	case V_VALUE:
		break;
	}
	if (v.node->kind == N_NAME)
		return arena_printf(E->a, "'%s', a value", v.node->name);
	if (v.node->kind == N_CALL)
		return arena_printf(E->a, "the result of %s, a value", v.node->name);
	return "a sum of values";
}

static void emit(Expander *E, Stmt *s)
{
	*E->tail = s;
	E->tail = &s->next;
}

/* `key = node;` in the flat model. */
static void emit_assign(Expander *E, const char *key, Loc loc, Loc target_loc, Node *node)
{
	Stmt *s = arena_alloc(E->a, sizeof *s);
	*s = (Stmt){.kind = S_ASSIGN,
	        .loc = loc,
	        .target = key,
	        .target_loc = target_loc,
	        .expr = node};
	emit(E, s);
}

static bool count_layer(Expander *E, Loc loc)
{
	if (++E->nlayers <= GEQC_MAX_LAYERS)
		return true;
	return fail(E, loc,
	        "the blocks and loops expand to more than %d layers, geqc's limit "
	        "(GEQC_MAX_LAYERS)",
	        GEQC_MAX_LAYERS);
}

static bool count_step(Expander *E, Loc loc)
{
	if (++E->steps <= GEQC_MAX_STEPS)
		return true;
	return fail(E, loc,
	        "the expansion runs more than %d statements and loop turns, geqc's limit "
	        "(GEQC_MAX_STEPS)",
	        GEQC_MAX_STEPS);
}

/* ---- compile-time arithmetic ---- */

static bool rewrite(Expander *E, Frame *F, const Node *n, bool enum_ok, Val *out);

static bool is_number(Val v)
{
	return v.kind == V_INT || v.kind == V_FLOAT;
}

static double as_float(Val v)
{
	return v.kind == V_FLOAT ? v.f : (double)v.i;
}

/* An operand of the wrong kind: a value in arithmetic, a truth value in a sum, ... */
static bool operand_error(
        Expander *E, const Frame *F, const Node *n, const char *op, Val v, const char *needs)
{
	bool logic = !strcmp(op, "if") || !strcmp(op, "?:") || !strcmp(op, "!") ||
	             !strcmp(op, "&&") || !strcmp(op, "||");
	return fail(E, at(F, n->loc), "'%s' needs %s, but this is %s%s", op, needs, describe(E, v),
	        v.kind == V_VALUE && !logic ? " (only '+' works on values, adding them)" : "");
}

static bool int_arith(
        Expander *E, const Frame *F, const Node *n, long long a, long long b, long long *r)
{
	bool overflow = false;
	switch (n->op) {
	case '+':
		overflow = __builtin_add_overflow(a, b, r);
		break;
	case '-':
		overflow = __builtin_sub_overflow(a, b, r);
		break;
	case '*':
		overflow = __builtin_mul_overflow(a, b, r);
		break;
	default: /* '/' '%': integer division truncates toward zero, as in C */
		if (b == 0)
			return fail(E, at(F, n->loc), "division by zero ('%s' by 0)",
			        ast_op_spelling(n->op));
		overflow = a == LLONG_MIN && b == -1;
		if (!overflow)
			*r = n->op == '/' ? a / b : a % b;
	}
	if (overflow)
		return fail(E, at(F, n->loc), "integer overflow in '%s'", ast_op_spelling(n->op));
	return true;
}

static bool float_arith(Expander *E, const Frame *F, const Node *n, double a, double b, double *r)
{
	if (n->op == '%')
		return fail(E, at(F, n->loc), "'%%' needs integers, but an operand is a number");
	*r = n->op == '+' ? a + b : n->op == '-' ? a - b : n->op == '*' ? a * b : a / b;
	if (!isfinite(*r))
		return fail(E, at(F, n->loc), "'%s' gives %g", ast_op_spelling(n->op), *r);
	return true;
}

/* + - * / % of two compile-time numbers. */
static bool arith(Expander *E, const Frame *F, const Node *n, Val a, Val b, Val *out)
{
	const char *needs = n->op == '%' ? "integers" : "numbers";
	if (!is_number(a))
		return operand_error(E, F, n->lhs, ast_op_spelling(n->op), a, needs);
	if (!is_number(b))
		return operand_error(E, F, n->rhs, ast_op_spelling(n->op), b, needs);
	if (a.kind == V_INT && b.kind == V_INT) {
		*out = (Val){.kind = V_INT};
		return int_arith(E, F, n, a.i, b.i, &out->i);
	}
	*out = (Val){.kind = V_FLOAT};
	return float_arith(E, F, n, as_float(a), as_float(b), &out->f);
}

static bool compare(Expander *E, const Frame *F, const Node *n, Val a, Val b, Val *out)
{
	bool eq = n->op == OP2_EQ || n->op == OP2_NE;
	bool bools = eq && a.kind == V_BOOL && b.kind == V_BOOL;
	const char *needs = eq ? "two numbers or two truth values" : "numbers";
	if (!bools && !is_number(a))
		return operand_error(E, F, n->lhs, ast_op_spelling(n->op), a, needs);
	if (!bools && !is_number(b))
		return operand_error(E, F, n->rhs, ast_op_spelling(n->op), b, needs);
	bool ints = bools || (a.kind == V_INT && b.kind == V_INT);
	int c = ints ? (a.i > b.i) - (a.i < b.i)
	             : (as_float(a) > as_float(b)) - (as_float(a) < as_float(b));
	bool r = n->op == '<'      ? c < 0
	         : n->op == '>'    ? c > 0
	         : n->op == OP2_LE ? c <= 0
	         : n->op == OP2_GE ? c >= 0
	         : n->op == OP2_EQ ? c == 0
	                           : c != 0;
	*out = (Val){.kind = V_BOOL, .i = r};
	return true;
}

/* A condition: true or false, or an integer (non-zero is true), as in C. */
static bool truth(Expander *E, Frame *F, const Node *n, const char *op, bool *t)
{
	Val v;
	if (!rewrite(E, F, n, false, &v))
		return false;
	if (v.kind != V_BOOL && v.kind != V_INT)
		return operand_error(E, F, n, op, v, "true or false (or an integer)");
	*t = v.i != 0;
	return true;
}

/* && and || decide from the left operand when they can, as in C. */
static bool logic(Expander *E, Frame *F, const Node *n, Val *out)
{
	bool a, b = false;
	if (!truth(E, F, n->lhs, ast_op_spelling(n->op), &a))
		return false;
	bool decided = n->op == OP2_AND ? !a : a;
	if (!decided && !truth(E, F, n->rhs, ast_op_spelling(n->op), &b))
		return false;
	*out = (Val){.kind = V_BOOL, .i = decided ? a : b};
	return true;
}

static bool fold_binary(Expander *E, Frame *F, const Node *n, Val *out)
{
	if (n->op == OP2_AND || n->op == OP2_OR)
		return logic(E, F, n, out);
	Val a, b;
	if (!rewrite(E, F, n->lhs, false, &a) || !rewrite(E, F, n->rhs, false, &b))
		return false;
	bool arithmetic = n->op == '-' || n->op == '*' || n->op == '/' || n->op == '%';
	if (arithmetic)
		return arith(E, F, n, a, b, out);
	return compare(E, F, n, a, b, out);
}

static bool fold_unary(Expander *E, Frame *F, const Node *n, Val *out)
{
	if (n->op == '!') {
		bool t;
		*out = (Val){.kind = V_BOOL};
		if (!truth(E, F, n->lhs, "!", &t))
			return false;
		out->i = !t;
		return true;
	}
	Val v;
	if (!rewrite(E, F, n->lhs, false, &v))
		return false;
	if (!is_number(v))
		return operand_error(E, F, n->lhs, "-", v, "a number");
	if (v.kind == V_INT && v.i == LLONG_MIN)
		return fail(E, at(F, n->loc), "integer overflow in '-'");
	v.i = -v.i;
	v.f = -v.f;
	*out = v;
	return true;
}

/* c ? a : b evaluates only the branch it takes: the other may hold layers that must
 * not exist (s == 1 ? x : bn(gconv(x, C, k=1, s=s))). */
static bool fold_cond(Expander *E, Frame *F, const Node *n, Val *out)
{
	bool t;
	return truth(E, F, n->cond, "?:", &t) && rewrite(E, F, t ? n->lhs : n->rhs, false, out);
}

/* `+` adds numbers at compile time and values at run time (a layer). */
static bool fold_add(Expander *E, Frame *F, const Node *n, Val *out)
{
	Val a, b;
	if (!rewrite(E, F, n->lhs, false, &a) || !rewrite(E, F, n->rhs, false, &b))
		return false;
	if (a.kind != V_VALUE && b.kind != V_VALUE)
		return arith(E, F, n, a, b, out);
	Node *c = clone(E, F, n);
	c->lhs = as_node(E, a, at(F, n->lhs->loc));
	c->rhs = as_node(E, b, at(F, n->rhs->loc));
	*out = (Val){.kind = V_VALUE, .node = c};
	return count_layer(E, c->loc);
}

/* ---- names and calls ---- */

/* A name: a number, a value (by its key), or (in the model, or an op's argument that
 * may be an enum word such as max) left for the checker to resolve. */
static bool rewrite_name(Expander *E, Frame *F, const Node *n, bool enum_ok, Val *out)
{
	const Binding *b = lookup(F, n->name);
	if (b && b->val.kind != V_VALUE) {
		*out = b->val;
		return true;
	}
	if (!b && F->block && !enum_ok)
		return fail(E, at(F, n->loc),
		        "undefined name '%s' in block '%s' (its parameters are %s)", n->name,
		        F->block->name, param_list(E, F->block));
	Node *c = b ? name_ref(E, n->name, b->val.node->key, at(F, n->loc)) : clone(E, F, n);
	*out = (Val){.kind = V_VALUE, .node = c};
	return true;
}

static bool call_block(Expander *E, Frame *F, const Node *n, const BlockDecl *b, Val *out);

/* An op call stays a call, its arguments rewritten; a block call is inlined. */
static bool rewrite_call(Expander *E, Frame *F, const Node *n, Val *out)
{
	const BlockDecl *b = find_block(E->p, n->name);
	if (b)
		return call_block(E, F, n, b, out);
	int best = INT_MAX;
	for (const BlockDecl *x = E->p->blocks; x && !is_op(n->name); x = x->next)
		if (suggest_close(n->name, x->name, &best))
			b = x;
	if (b)
		return fail(E, at(F, n->name_loc),
		        "unknown operation or block '%s'; did you mean block "
		        "'%s'?",
		        n->name, b->name);
	Node *c = clone(E, F, n);
	Arg **tail = &c->args;
	for (const Arg *a = n->args; a; a = a->next) {
		Val v;
		if (!rewrite(E, F, a->val, a != n->args || a->kw, &v))
			return false;
		Arg *x = arena_alloc(E->a, sizeof *x);
		*x = (Arg){.kw = a->kw,
		        .loc = at(F, a->loc),
		        .val = as_node(E, v, at(F, a->val->loc))};
		*tail = x;
		tail = &x->next;
	}
	*out = (Val){.kind = V_VALUE, .node = c};
	return count_layer(E, c->loc);
}

static bool rewrite(Expander *E, Frame *F, const Node *n, bool enum_ok, Val *out)
{
	if (E->failed)
		return false;
	switch (n->kind) {
	case N_INT:
		*out = (Val){.kind = V_INT, .i = n->i};
		return true;
	case N_FLOAT:
		*out = (Val){.kind = V_FLOAT, .f = n->f};
		return true;
	case N_BOOL:
		*out = (Val){.kind = V_BOOL, .i = n->i};
		return true;
	case N_NAME:
		return rewrite_name(E, F, n, enum_ok, out);
	case N_CALL:
		return rewrite_call(E, F, n, out);
	case N_ADD:
		return fold_add(E, F, n, out);
	case N_UNARY:
		return fold_unary(E, F, n, out);
	case N_BINARY:
		return fold_binary(E, F, n, out);
	case N_COND:
		return fold_cond(E, F, n, out);
	}
	return false;
}

/* ---- calls of blocks ---- */

/* A call of b from F is allowed if b was declared before F's body and is not running. */
static bool check_callable(Expander *E, const Frame *F, const Node *n, const BlockDecl *b)
{
	const Frame *g = F;
	while (g && g->block != b)
		g = g->caller;
	if (g) {
		const char *cycle = b->name;
		for (const Frame *h = F; h != g->caller; h = h->caller)
			cycle = arena_printf(E->a, "%s -> %s", h->block->name, cycle);
		return fail(E, at(F, n->name_loc),
		        "block '%s' calls itself (%s): blocks are expanded at compile time, so "
		        "they cannot recurse",
		        b->name, cycle);
	}
	if (b->order > F->order)
		return fail(E, at(F, n->name_loc),
		        "block '%s' is used before its declaration at line %d; declare it first",
		        b->name, b->loc.first_line);
	if (F->depth + 1 > GEQC_MAX_DEPTH)
		return fail(E, at(F, n->name_loc),
		        "block calls nest more than %d deep, geqc's limit (GEQC_MAX_DEPTH)",
		        GEQC_MAX_DEPTH);
	return true;
}

/* The call's place in F: basic1, basic2, ... per block name, in execution order. */
static Site *new_site(Expander *E, Frame *F, const Node *n, const BlockDecl *b)
{
	Count *c = F->calls;
	while (c && strcmp(c->block, b->name) != 0)
		c = c->next;
	if (!c) {
		c = arena_alloc(E->a, sizeof *c);
		*c = (Count){.block = b->name, .next = F->calls};
		F->calls = c;
	}
	Site *s = arena_alloc(E->a, sizeof *s);
	*s = (Site){.block = b->name, .decl = b->loc, .call = at(F, n->loc)};
	s->path = arena_printf(E->a, "%s%s%d.", F->path, b->name, ++c->n);
	return s;
}

static int param_index(const BlockDecl *b, const char *name)
{
	int i = 0;
	for (const BlockParam *q = b->params; q; q = q->next, i++)
		if (strcmp(q->name, name) == 0)
			return i;
	return -1;
}

/* Which parameter each argument gives, as Python binds them. */
static bool match_args(
        Expander *E, const Frame *F, const Node *n, const BlockDecl *b, const Arg **given, int npar)
{
	int pos = 0;
	bool keywords = false;
	for (const Arg *a = n->args; a; a = a->next) {
		int i = a->kw ? param_index(b, a->kw) : pos++;
		if (a->kw && i < 0)
			return fail(E, at(F, a->loc),
			        "block '%s' has no parameter '%s' (its parameters are %s)", b->name,
			        a->kw, param_list(E, b));
		if (!a->kw && keywords)
			return fail(
			        E, at(F, a->loc), "positional argument follows keyword argument");
		if (i >= npar)
			return fail(E, at(F, a->loc),
			        "too many arguments to block '%s' (its parameters are %s)", b->name,
			        param_list(E, b));
		if (given[i])
			return fail(E, at(F, a->loc), "argument %s of block '%s' given twice",
			        a->kw ? a->kw : "", b->name);
		keywords |= a->kw != NULL;
		given[i] = a;
	}
	return true;
}

/* Binds parameter q of G to v; a value that is not simply a name gets a key of its own. */
static void bind_param(Expander *E, Frame *G, const BlockParam *q, Val v, Loc loc)
{
	if (v.kind == V_VALUE && !(v.node->kind == N_NAME && v.node->key)) {
		const char *key = arena_printf(E->a, "%s%s", G->path, q->name);
		emit_assign(E, key, loc, loc, v.node);
		v.node = name_ref(E, q->name, key, loc);
	} else if (v.kind == V_VALUE) {
		v.node = name_ref(E, q->name, v.node->key, loc);
	}
	bind(E, G, q->name, loc, v);
}

/* Arguments are evaluated in the caller, in the order written; defaults in the callee,
 * after every given argument (so a default may name an earlier parameter). */
static bool bind_args(Expander *E, Frame *F, Frame *G, const Node *n, const BlockDecl *b)
{
	int npar = 0;
	for (const BlockParam *q = b->params; q; q = q->next)
		npar++;
	const Arg **given = arena_alloc(E->a, sizeof *given * (size_t)(npar + 1));
	if (!match_args(E, F, n, b, given, npar))
		return false;
	for (const Arg *a = n->args; a; a = a->next) {
		Val v;
		const BlockParam *q = b->params;
		for (int i = 0; given[i] != a; i++)
			q = q->next;
		if (!rewrite(E, F, a->val, false, &v))
			return false;
		bind_param(E, G, q, v, at(F, a->val->loc));
	}
	int i = 0;
	for (const BlockParam *q = b->params; q; q = q->next, i++) {
		Val v;
		if (given[i])
			continue;
		if (!q->def)
			return fail(E, at(F, n->loc),
			        "block '%s' is missing its argument '%s' (its parameters are %s)",
			        b->name, q->name, param_list(E, b));
		if (!rewrite(E, G, q->def, false, &v))
			return false;
		bind_param(E, G, q, v, at(G, q->def->loc));
	}
	return true;
}

static bool expand_stmts(Expander *E, Frame *F, const Stmt *s, Val *ret);

/* Inlines one call of b: its arguments, then its body, under a Site of its own. */
static bool call_block(Expander *E, Frame *F, const Node *n, const BlockDecl *b, Val *out)
{
	if (!check_callable(E, F, n, b))
		return false;
	Site *site = new_site(E, F, n, b);
	Frame G = {.block = b,
	        .site = site,
	        .path = site->path,
	        .order = b->order,
	        .caller = F,
	        .depth = F->depth + 1};
	Val ret = {.kind = V_VALUE};
	if (!bind_args(E, F, &G, n, b) || !expand_stmts(E, &G, b->body, &ret))
		return false;
	*out = (Val){.kind = V_VALUE,
	        .node = name_ref(
	                E, arena_printf(E->a, "%s(...)", b->name), ret.node->key, at(F, n->loc))};
	return true;
}

/* ---- statements ---- */

static bool assign(Expander *E, Frame *F, const Stmt *s)
{
	const Binding *old = lookup(F, s->target);
	Loc loc = at(F, s->target_loc);
	if (old && old->loop)
		return fail(E, loc, "cannot assign to the loop variable '%s'", s->target);
	Val v;
	if (!rewrite(E, F, s->expr, false, &v))
		return false;
	if (v.kind == V_VALUE) {
		const char *key =
		        F->block ? arena_printf(E->a, "%s%s", F->path, s->target) : s->target;
		emit_assign(E, key, at(F, s->loc), loc, v.node);
		v.node = name_ref(E, s->target, key, loc);
	}
	return bind(E, F, s->target, loc, v) != NULL;
}

/* A block's return: its value gets a key, which the caller's expression names. */
static bool block_return(Expander *E, Frame *F, const Stmt *s, Val *ret)
{
	Val v;
	if (!rewrite(E, F, s->expr, false, &v))
		return false;
	if (v.kind != V_VALUE)
		return fail(E, at(F, s->expr->loc),
		        "block '%s' returns %s, but a block returns a value (an image, G-map or "
		        "vector)",
		        F->block->name, describe(E, v));
	if (v.node->kind != N_NAME || !v.node->key) {
		const char *key = arena_printf(E->a, "%sreturn", F->path);
		emit_assign(E, key, at(F, s->loc), at(F, s->expr->loc), v.node);
		v.node = name_ref(E, "return", key, at(F, s->expr->loc));
	}
	*ret = v;
	return true;
}

static bool model_return(Expander *E, Frame *F, const Stmt *s)
{
	Val v;
	if (!rewrite(E, F, s->expr, false, &v))
		return false;
	Stmt *r = arena_alloc(E->a, sizeof *r);
	*r = *s;
	r->expr = as_node(E, v, s->expr->loc);
	r->next = NULL;
	emit(E, r);
	return true;
}

static bool loop_bound(Expander *E, Frame *F, const Node *n, long long *out)
{
	Val v;
	if (!rewrite(E, F, n, false, &v))
		return false;
	if (v.kind != V_INT)
		return fail(E, at(F, n->loc),
		        "a loop's bounds must be compile-time integers, but this "
		        "is %s",
		        describe(E, v));
	*out = v.i;
	return true;
}

static bool check_range(Expander *E, Frame *F, const Stmt *s, long long lo, long long hi)
{
	Loc range = at(F, s->expr->loc);
	range.last_line = s->hi->loc.last_line;
	range.last_column = s->hi->loc.last_column;
	long long turns;
	if (hi < lo)
		return fail(E, range,
		        "the range %lld..%lld runs backwards: A..B counts up from A to "
		        "B-1",
		        lo, hi);
	if (__builtin_sub_overflow(hi, lo, &turns) || turns > GEQC_MAX_LAYERS)
		return fail(E, range,
		        "the range %lld..%lld has more than %d turns, geqc's limit on "
		        "layers (GEQC_MAX_LAYERS)",
		        lo, hi, GEQC_MAX_LAYERS);
	const Binding *b = lookup(F, s->target);
	if (b)
		return fail(E, at(F, s->target_loc),
		        "the loop variable '%s' would hide the name '%s' of line %d; choose "
		        "another",
		        s->target, s->target, b->loc.first_line);
	return true;
}

/* `for i in lo..hi { body }`: the body once per i, i from lo up to hi - 1. */
static bool expand_for(Expander *E, Frame *F, const Stmt *s)
{
	long long lo, hi;
	if (!loop_bound(E, F, s->expr, &lo) || !loop_bound(E, F, s->hi, &hi) ||
	        !check_range(E, F, s, lo, hi))
		return false;
	Binding *var = bind(E, F, s->target, at(F, s->target_loc), (Val){.kind = V_INT, .i = lo});
	if (!var)
		return false;
	var->loop = true;
	for (long long i = lo; i < hi && !E->failed; i++) {
		var->val.i = i;
		if (count_step(E, s->loc))
			expand_stmts(E, F, s->body, NULL);
	}
	unbind(F, var);
	return !E->failed;
}

static bool expand_stmt(Expander *E, Frame *F, const Stmt *s, Val *ret)
{
	bool t;
	if (!count_step(E, s->loc))
		return false;
	switch (s->kind) {
	case S_ASSIGN:
		return assign(E, F, s);
	case S_RETURN:
		return F->block ? block_return(E, F, s, ret) : model_return(E, F, s);
	case S_FOR:
		return expand_for(E, F, s);
	case S_IF:
		return truth(E, F, s->expr, "if", &t) &&
		       expand_stmts(E, F, t ? s->body : s->alt, ret);
	}
	return false;
}

static bool expand_stmts(Expander *E, Frame *F, const Stmt *s, Val *ret)
{
	for (; s && !E->failed; s = s->next)
		expand_stmt(E, F, s, ret);
	return !E->failed;
}

Program *expand_program(const Program *p, Arena *arena, Diag *d)
{
	Expander E = {.p = p, .a = arena, .d = d};
	if (!check_blocks(&E))
		return NULL;
	Program *q = arena_alloc(arena, sizeof *q);
	*q = *p;
	if (!p->model)
		return q;
	ModelDecl *m = arena_alloc(arena, sizeof *m);
	*m = *p->model;
	m->body = NULL;
	E.tail = &m->body;
	Frame F = {.path = "", .order = p->model_order};
	bind(&E, &F, m->input, m->input_loc,
	        (Val){.kind = V_VALUE, .node = name_ref(&E, m->input, m->input, m->input_loc)});
	if (!expand_stmts(&E, &F, p->model->body, NULL))
		return NULL;
	q->model = m;
	return q;
}
