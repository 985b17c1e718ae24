/* check.c: names, kinds and shapes. Turns the AST into the checked Model that the lint
 * and the emitters read (geqc.h), or reports every independent error with its location.
 * A value whose operand already failed is poisoned (id -1) and silently propagates, so one
 * mistake gives one message. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"

/* After this many errors the rest of the file is skipped: a hostile file cannot make the
 * checker print (or search for suggestions) without bound. */
enum { CHECK_MAX_ERRORS = 50 };

/* ---- the argument schemas of ops.h, parsed once ---- */

typedef enum { T_MAP, T_INT, T_FLOAT, T_BOOL, T_ENUM } ParamType;
enum { MAX_PARAMS = 8, MAX_ENUM = 4, MAX_WORD = 16 };

typedef struct Param {
	char name[MAX_WORD];
	ParamType type;
	int nenum;
	char enums[MAX_ENUM][MAX_WORD];
	bool has_default;
	int default_ref; /* the earlier argument the default names (`s:int=k`), or -1 */
	long long idefault;
	double fdefault;
} Param;

typedef struct Schema {
	int n;
	Param p[MAX_PARAMS];
	char usage[160]; /* "lift(x, C, k=, s=1, p=0, d=1, bias=true)" */
} Schema;

static Schema schemas[OP_COUNT];

static void schema_bug(const char *schema)
{
	fprintf(stderr, "geqc: internal error: bad schema in ops.h: %s\n", schema);
	abort();
}

/* Copies the run of s up to any character of stop into buf. */
static const char *take(const char *s, const char *stop, char *buf, const char *schema)
{
	size_t n = strcspn(s, stop);
	if (n == 0 || n >= MAX_WORD)
		schema_bug(schema);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return s + n;
}

static int schema_find(const Schema *sc, const char *name)
{
	for (int i = 0; i < sc->n; i++)
		if (strcmp(sc->p[i].name, name) == 0)
			return i;
	return -1;
}

static const char *parse_type(Param *p, const char *s, const char *schema)
{
	char word[MAX_WORD];
	if (strncmp(s, "enum(", 5) == 0) {
		p->type = T_ENUM;
		for (s += 5; *s != ')'; s += *s == '|') {
			if (p->nenum == MAX_ENUM)
				schema_bug(schema);
			s = take(s, "|)", p->enums[p->nenum++], schema);
		}
		return s + 1;
	}
	s = take(s, "= ", word, schema);
	static const char *const types[] = {"map", "int", "float", "bool"};
	for (int t = 0; t < 4; t++)
		if (strcmp(word, types[t]) == 0)
			p->type = (ParamType)t;
	if (strcmp(word, types[p->type]) != 0)
		schema_bug(schema);
	return s;
}

static int enum_index(const Param *p, const char *word)
{
	for (int i = 0; i < p->nenum; i++)
		if (strcmp(word, p->enums[i]) == 0)
			return i;
	return -1;
}

static void parse_default(Param *p, const Schema *sc, const char *word, const char *schema)
{
	p->has_default = true;
	p->default_ref = schema_find(sc, word);
	if (p->default_ref >= 0)
		return;
	if (p->type == T_INT && isdigit((unsigned char)word[0]))
		p->idefault = strtoll(word, NULL, 10);
	else if (p->type == T_FLOAT)
		p->fdefault = strtod(word, NULL);
	else if (p->type == T_BOOL && (!strcmp(word, "true") || !strcmp(word, "false")))
		p->idefault = strcmp(word, "true") == 0;
	else if (p->type == T_ENUM && enum_index(p, word) >= 0)
		p->idefault = enum_index(p, word);
	else
		schema_bug(schema);
}

/* SPEC's examples pass the operand and one more argument by position and the rest by
 * keyword (`lift(x, 10, k=3)`, `maxpool(h, 2)`); messages show them the same way. */
static bool keyword_style(int idx)
{
	return idx >= 2;
}

static void usage_append(Schema *sc, const char *text)
{
	size_t len = strlen(sc->usage);
	snprintf(sc->usage + len, sizeof sc->usage - len, "%s", text);
}

static void schema_parse(Schema *sc, const char *opname, const char *schema)
{
	const char *s = schema;
	usage_append(sc, opname);
	usage_append(sc, "(");
	while (*s) {
		if (sc->n == MAX_PARAMS)
			schema_bug(schema);
		Param *p = &sc->p[sc->n];
		p->default_ref = -1;
		s = take(s, ":", p->name, schema) + 1;
		s = parse_type(p, s, schema);
		const char *def = s;
		if (*s == '=') {
			char word[MAX_WORD];
			s = take(s + 1, " ", word, schema);
			parse_default(p, sc, word, schema);
		}
		usage_append(sc, sc->n ? ", " : "");
		usage_append(sc, p->name);
		if (p->has_default)
			snprintf(sc->usage + strlen(sc->usage),
			        sizeof sc->usage - strlen(sc->usage), "%.*s", (int)(s - def), def);
		else if (keyword_style(sc->n))
			usage_append(sc, "=");
		sc->n++;
		s += strspn(s, " ");
	}
	usage_append(sc, ")");
	if (sc->n == 0 || sc->p[0].type != T_MAP)
		schema_bug(schema);
}

static void schemas_init(void)
{
	static bool ready;
	if (ready)
		return;
	for (int op = 0; op < OP_COUNT; op++) {
		Schema *sc = &schemas[op];
		schema_parse(sc, op_info[op].name, op_info[op].schema);
		if (op_has((Op)op, P_VARIADIC)) /* its one map argument stands for them all */
			snprintf(sc->usage, sizeof sc->usage, "%s(a, b, ...)", op_info[op].name);
	}
	ready = true;
}

/* ---- words for messages ---- */

/* Each argument name in words; a row with an op says it of that op's argument only. */
static const struct {
	const char *op, *name, *noun, *what;
} param_words[] = {
        {"upsample", "s", "scale factor s", "the integer factor of each side"},
        {"dropout", "p", "drop probability p", "the probability of dropping a channel"},
        {"upsample", "mode", "mode", "nearest or bilinear"},
        {NULL, "C", "output channel count C", "the number of output channels"},
        {NULL, "N", "output count N", "the number of outputs"},
        {NULL, "k", "kernel size k", "the kernel size"},
        {NULL, "s", "stride s", "the stride"},
        {NULL, "p", "padding p", "the padding"},
        {NULL, "d", "dilation d", "the dilation"},
        {NULL, "eps", "eps", "added to the variance"},
        {NULL, "bias", "bias", "true or false"},
        {NULL, "mode", "mode", "max or mean"},
};

static int param_word(Op op, const char *name)
{
	for (size_t i = 0; i < sizeof param_words / sizeof *param_words; i++)
		if (strcmp(param_words[i].name, name) == 0 &&
		        (!param_words[i].op || strcmp(param_words[i].op, op_info[op].name) == 0))
			return (int)i;
	return -1;
}

static const char *param_noun(Op op, const char *name)
{
	int i = param_word(op, name);
	return i < 0 ? name : param_words[i].noun;
}

/* Names a PyTorch user reaches for first. */
static const char *const keyword_aliases[][2] = {{"stride", "s"}, {"padding", "p"},
        {"dilation", "d"}, {"kernel_size", "k"}, {"kernel", "k"}, {"out_channels", "C"},
        {"channels", "C"}, {"c", "C"}, {"out_features", "N"}, {"features", "N"}, {"n", "N"},
        {"scale_factor", "s"}};

static const char *const op_aliases[][2] = {{"batchnorm", "bn"}, {"batch_norm", "bn"},
        {"batchnorm2d", "bn"}, {"max_pool2d", "maxpool"}, {"avg_pool2d", "avgpool"},
        {"dense", "linear"}, {"fc", "linear"}, {"group_conv", "gconv"},
        {"adaptive_avg_pool2d", "global_avgpool"}, {"adaptive_max_pool2d", "global_maxpool"},
        {"cat", "concat"}, {"interpolate", "upsample"}, {"dropout2d", "dropout"}};

static const char *alias(const char *const (*table)[2], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i][0], name) == 0)
			return table[i][1];
	return NULL;
}

/* Levenshtein distance, for "did you mean"; names are short (GEQC_MAX_IDENT). */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > GEQC_MAX_IDENT || lb > GEQC_MAX_IDENT)
		return INT_MAX;
	int row[GEQC_MAX_IDENT + 1];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int best = diag + (a[i - 1] != b[j - 1]);
			best = up + 1 < best ? up + 1 : best;
			row[j] = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
			diag = up;
		}
	}
	return row[lb];
}

/* A suggestion is worth making when it is close and not a wholesale replacement. */
static bool close_enough(const char *typed, const char *cand, int *best)
{
	int dist = edit_distance(typed, cand);
	if (dist > 2 || dist >= (int)strlen(typed) || dist >= *best)
		return false;
	*best = dist;
	return true;
}

bool suggest_close(const char *typed, const char *cand, int *best)
{
	return close_enough(typed, cand, best);
}

static const char *kind_phrase(unsigned kinds)
{
	switch (kinds) {
	case K_IMAGE:
		return "an image";
	case K_GMAP:
		return "a G-map";
	case K_VECTOR:
		return "a vector";
	case K_IMAGE | K_GMAP:
		return "an image or a G-map";
	default:
		return "a value";
	}
}

/* ---- a string-keyed hash table: scopes and group names ---- */

typedef struct Entry {
	const char *name; /* NULL: empty slot */
	int val;
	Loc loc;
	const void *ptr;
} Entry;

typedef struct Table {
	Entry *e;
	size_t cap, n;
} Table;

static size_t hash_str(const char *s)
{
	size_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static Entry *table_slot(const Table *t, const char *name)
{
	size_t i = hash_str(name) & (t->cap - 1);
	while (t->e[i].name && strcmp(t->e[i].name, name) != 0)
		i = (i + 1) & (t->cap - 1);
	return &t->e[i];
}

static Entry *table_find(const Table *t, const char *name)
{
	if (!t->cap)
		return NULL;
	Entry *e = table_slot(t, name);
	return e->name ? e : NULL;
}

/* The entry for name, created empty (val 0, ptr NULL) if new. */
static Entry *table_put(Table *t, const char *name)
{
	if (2 * (t->n + 1) > t->cap) {
		Table big = {.cap = t->cap ? 2 * t->cap : 16};
		big.e = xmalloc(big.cap * sizeof *big.e);
		memset(big.e, 0, big.cap * sizeof *big.e);
		for (size_t i = 0; i < t->cap; i++)
			if (t->e[i].name)
				*table_slot(&big, t->e[i].name) = t->e[i];
		free(t->e);
		big.n = t->n;
		*t = big;
	}
	Entry *e = table_slot(t, name);
	if (!e->name) {
		*e = (Entry){.name = name};
		t->n++;
	}
	return e;
}

/* The ptr of names entered only to report an undefined name once. */
static const char undefined_marker;

/* The closest name in t to typed, or NULL. */
static const char *table_suggest(const Table *t, const char *typed)
{
	const char *found = NULL;
	int best = INT_MAX;
	for (size_t i = 0; i < t->cap; i++) {
		const Entry *e = &t->e[i];
		if (e->name && e->ptr != &undefined_marker && close_enough(typed, e->name, &best))
			found = e->name;
	}
	return found;
}

/* ---- the checker's state ---- */

typedef struct Checker {
	Diag *d;
	Arena *arena;
	int base_errors; /* d->nerrors on entry */
	bool stop;       /* too many errors or layers: skip the rest quietly */
	Group group;
	Table names; /* value names in scope -> value id (-1: poisoned) */
	int nlayers, cap;
	Layer *layer;
	int *rank;    /* each layer's position in source order (names count in it) */
	Shape *value; /* nlayers + 1 entries */
	int next_rank;
} Checker;

static void vreport(Checker *c, DiagKind kind, Loc loc, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	diag_report(c->d, kind, loc, NULL, "%s", msg);
}

static void err(Checker *c, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(Checker *c, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void err(Checker *c, Loc loc, const char *fmt, ...)
{
	if (c->stop)
		return;
	if (c->d->nerrors - c->base_errors >= CHECK_MAX_ERRORS) {
		note_at(c->d, (Loc){0},
		        "too many errors (%d); the rest of the file was not checked",
		        CHECK_MAX_ERRORS);
		c->stop = true;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vreport(c, D_ERROR, loc, fmt, ap);
	va_end(ap);
}

/* Notes belong to the error before them, so they stop with the errors. */
static void note(Checker *c, Loc loc, const char *fmt, ...)
{
	if (c->stop)
		return;
	va_list ap;
	va_start(ap, fmt);
	vreport(c, D_NOTE, loc, fmt, ap);
	va_end(ap);
}

/* "the integer 3", "the name 'h'": what the user wrote, for "must be X, not Y". */
static const char *describe_node(Checker *c, const Node *n)
{
	switch (n->kind) {
	case N_INT:
		return arena_printf(c->arena, "the integer %lld", n->i);
	case N_FLOAT:
		return arena_printf(c->arena, "the number %g", n->f);
	case N_BOOL:
		return n->i ? "true" : "false";
	case N_NAME:
		return arena_printf(c->arena, "the name '%s'", n->name);
	case N_CALL:
		return arena_printf(c->arena, "a call of %s", n->name);
	case N_ADD:
		return "a sum";
	case N_UNARY: /* folded by expand.c */
	case N_BINARY:
	case N_COND:
		break;
	}
	return "an expression";
}

static const char *shape_str(Checker *c, Shape s)
{
	char buf[SHAPE_DIMS_MAX];
	return arena_printf(c->arena, "%s [%s]", kind_name(s.kind), shape_dims(s, buf));
}

/* ---- sizes, overflow-safe ---- */

static const char *numel_limit(Checker *c)
{
	return arena_printf(
	        c->arena, "more than geqc's limit of %lld (GEQC_MAX_NUMEL)", GEQC_MAX_NUMEL);
}

/* For messages: exact below 2^53, and no wrap-around above. */
static double tensor_numel_f(const Tensor *t)
{
	double n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->dim[i];
	return n;
}

/* ---- groups ---- */

static const char generators[] = "rot90 rot180 rot270 flip flip_ud transpose antitranspose";

/* Checks one declaration's generators; returns the closure of those that are valid. */
static Group check_group_decl(Checker *c, const GroupDecl *g, bool *ok)
{
	int gens[GQ_D4_ORDER], n = 0;
	unsigned seen = 0;
	*ok = true;
	for (const Ident *id = g->gens; id; id = id->next) {
		int e = d4_generator(id->name);
		if (e < 0) {
			err(c, id->loc,
			        "'%s' is not a symmetry of the square pixel grid (generators: %s)",
			        id->name, generators);
			*ok = false;
		} else if (!(seen >> e & 1)) {
			seen |= 1u << e;
			gens[n++] = e;
		}
	}
	return group_close(g->name, gens, n);
}

/* Every declaration is checked, used or not; groups maps each name to its first one. */
static void check_group_decls(Checker *c, const Program *p, Table *groups)
{
	for (const GroupDecl *g = p->groups; g; g = g->next) {
		Group G;
		bool ok;
		Group closed = check_group_decl(c, g, &ok);
		if (group_predeclared(g->name, &G)) {
			err(c, g->loc,
			        "cannot redefine the predeclared group '%s'; choose another name",
			        g->name);
			continue;
		}
		Entry *e = table_find(groups, g->name);
		if (e) {
			err(c, g->loc, "redefinition of group '%s'", g->name);
			note(c, e->loc, "'%s' was first declared here", g->name);
			continue;
		}
		e = table_put(groups, g->name);
		Group *keep = arena_alloc(c->arena, sizeof *keep);
		*keep = closed;
		e->loc = g->loc;
		e->ptr = keep;
		e->val = ok;
	}
}

/* The wallpaper groups of the hexagonal lattice, which a user of escnn may try. */
static bool hexagonal(const char *name)
{
	static const char *const hex[] = {"p3", "p3m1", "p31m", "p6", "p6m"};
	for (size_t i = 0; i < sizeof hex / sizeof *hex; i++)
		if (strcmp(name, hex[i]) == 0)
			return true;
	return false;
}

static void unknown_group(Checker *c, const ModelDecl *m, const Table *groups)
{
	const char *best = table_suggest(groups, m->group);
	int dist = best ? edit_distance(m->group, best) : INT_MAX;
	for (int i = 0; group_predeclared_names[i]; i++)
		if (close_enough(m->group, group_predeclared_names[i], &dist))
			best = group_predeclared_names[i];
	if (hexagonal(m->group))
		err(c, m->group_loc,
		        "unknown group '%s': it needs a hexagonal lattice, and geqc's groups are "
		        "symmetries of the square pixel grid",
		        m->group);
	else if (best)
		err(c, m->group_loc, "unknown group '%s'; did you mean '%s'?", m->group, best);
	else
		err(c, m->group_loc, "unknown group '%s'", m->group);
	note(c, m->group_loc,
	        "the predeclared groups are p1 p2 pm pmm cm cmm p4 p4m; declare others as\n"
	        "group NAME = <rot90, flip>;");
}

/* The model's group; *ok is false when it could not be resolved (already reported). */
static Group resolve_group(Checker *c, const ModelDecl *m, const Table *groups, bool *ok)
{
	Group G;
	*ok = true;
	if (group_predeclared(m->group, &G))
		return G;
	const Entry *e = table_find(groups, m->group);
	if (e) {
		*ok = e->val;
		return *(const Group *)e->ptr;
	}
	unknown_group(c, m, groups);
	*ok = false;
	return group_close(m->group, NULL, 0);
}

/* ---- the input ---- */

static const char *const dim_words[3] = {"channel count", "height", "width"};

static bool check_input(Checker *c, const ModelDecl *m, Shape *in)
{
	int v[3] = {0, 0, 0};
	bool ok = true;
	for (int i = 0; i < 3; i++) {
		const Node *n = m->dims[i];
		if (!n || n->kind != N_INT || n->i < 1 || n->i > GEQC_MAX_DIM) {
			err(c, n ? n->loc : m->input_loc,
			        "input %s must be between 1 and %d (GEQC_MAX_DIM), not %lld",
			        dim_words[i], GEQC_MAX_DIM, n ? n->i : 0);
			ok = false;
			continue;
		}
		v[i] = (int)n->i;
	}
	*in = (Shape){.kind = K_IMAGE, .act = VA_NONE, .c = v[0], .g = 1, .h = v[1], .w = v[2]};
	if (ok && shape_numel(*in) > GEQC_MAX_NUMEL) {
		err(c, m->input_loc, "the input %s holds %lld floats, %s", shape_str(c, *in),
		        shape_numel(*in), numel_limit(c));
		ok = false;
	}
	return ok;
}

/* The largest predeclared group inside G that keeps the axes (G ∩ pmm). */
static const char *non_swapping_part(const Group *G)
{
	Group P;
	unsigned want = G->mask & 0x55; /* e r2 m mr2 */
	for (int i = 0; group_predeclared_names[i]; i++)
		if (group_predeclared(group_predeclared_names[i], &P) && P.mask == want)
			return group_predeclared_names[i];
	return "p1";
}

/* An element that swaps the axes maps an H x W grid to a W x H one: no symmetry then. */
static void check_square(Checker *c, const ModelDecl *m, const Group *G, Shape in)
{
	if (in.h == in.w)
		return;
	for (int a = 0; a < G->n; a++) {
		int g = G->elem[a];
		if (!gq_d4_swaps_axes(g))
			continue;
		err(c, m->input_loc,
		        "%s contains %s (%s), which needs a square input, but %s is %dx%d", G->name,
		        d4_name[g], d4_describe[g], m->input, in.h, in.w);
		int side = in.h > in.w ? in.h : in.w;
		const char *part = non_swapping_part(G);
		note(c, m->group_loc,
		        "use a square input such as [%d, %d, %d], or the group %s, "
		        "the part of %s that keeps the axes",
		        in.c, side, side, part, G->name);
		return;
	}
}

/* ---- arguments: positional in schema order, then keywords ---- */

typedef struct Bound {
	const Arg *arg[MAX_PARAMS]; /* what the call gave for each argument, or NULL */
	long long ival[MAX_PARAMS]; /* int, bool, enum index */
	double fval[MAX_PARAMS];
} Bound;

static long long bound_int(const Schema *sc, const Bound *b, const char *name)
{
	return b->ival[schema_find(sc, name)];
}

static const char *enum_list(Checker *c, const Param *p)
{
	const char *s = p->enums[0];
	for (int i = 1; i < p->nenum; i++)
		s = arena_printf(
		        c->arena, "%s%s%s", s, i + 1 == p->nenum ? " or " : ", ", p->enums[i]);
	return s;
}

static bool type_error(Checker *c, Op op, const Param *p, const Node *v, const char *expected)
{
	const char *got = v->kind == N_NAME && p->type == T_ENUM
	                          ? arena_printf(c->arena, "'%s'", v->name)
	                          : describe_node(c, v);
	err(c, v->loc, "%s of %s must be %s, not %s", param_noun(op, p->name), op_info[op].name,
	        expected, got);
	return false;
}

static bool range_error(Checker *c, Op op, const Param *p, const Node *v, long long lo)
{
	if (v->i > GEQC_MAX_DIM)
		err(c, v->loc, "%s = %lld exceeds geqc's limit of %d (GEQC_MAX_DIM)",
		        param_noun(op, p->name), v->i, GEQC_MAX_DIM);
	else
		err(c, v->loc, "%s must be at least %lld, not %lld", param_noun(op, p->name), lo,
		        v->i);
	return false;
}

static bool convert_int(Checker *c, Op op, const Param *p, const Node *v, long long *out)
{
	if (v->kind != N_INT)
		return type_error(c, op, p, v, "an integer");
	long long lo = strcmp(p->name, "p") == 0 ? 0 : 1;
	if (v->i < lo || v->i > GEQC_MAX_DIM)
		return range_error(c, op, p, v, lo);
	*out = v->i;
	return true;
}

static bool convert_float(Checker *c, Op op, const Param *p, const Node *v, double *out)
{
	if (v->kind != N_INT && v->kind != N_FLOAT)
		return type_error(c, op, p, v, "a number");
	double f = v->kind == N_INT ? (double)v->i : v->f;
	if (op == OP_DROPOUT) { /* nn.Dropout's p; p = 1 would drop everything */
		if (f >= 0 && f < 1) {
			*out = f;
			return true;
		}
		err(c, v->loc, "%s of %s must be at least 0 and below 1, not %g",
		        param_noun(op, p->name), op_info[op].name, f);
		return false;
	}
	if (!(f > 0 && isfinite(f))) {
		err(c, v->loc, "%s of %s must be positive, not %g", p->name, op_info[op].name, f);
		return false;
	}
	*out = f;
	return true;
}

static bool convert_enum(Checker *c, Op op, const Param *p, const Node *v, long long *out)
{
	const char *expected = enum_list(c, p);
	if (v->kind != N_NAME)
		return type_error(c, op, p, v, expected);
	*out = enum_index(p, v->name);
	return *out >= 0 || type_error(c, op, p, v, expected);
}

/* Converts one given argument to its parameter's type and checks its range. */
static bool convert_arg(Checker *c, Op op, const Param *p, const Node *v, Bound *b, int idx)
{
	switch (p->type) {
	case T_INT:
		return convert_int(c, op, p, v, &b->ival[idx]);
	case T_FLOAT:
		return convert_float(c, op, p, v, &b->fval[idx]);
	case T_BOOL:
		if (v->kind != N_BOOL)
			return type_error(c, op, p, v, "true or false");
		b->ival[idx] = v->i != 0;
		return true;
	case T_ENUM:
		return convert_enum(c, op, p, v, &b->ival[idx]);
	case T_MAP:
		return true; /* evaluated by the caller */
	}
	return false;
}

static const char *keyword_list(Checker *c, const Schema *sc)
{
	const char *s = sc->p[1].name;
	for (int i = 2; i < sc->n; i++)
		s = arena_printf(c->arena, "%s, %s", s, sc->p[i].name);
	return s;
}

/* The map operand is positional only: its name in the schema is not the user's. */
static void unknown_keyword(Checker *c, Op op, const Schema *sc, const Arg *a)
{
	const char *name = op_info[op].name,
	           *best = alias(keyword_aliases, sizeof keyword_aliases / sizeof *keyword_aliases,
	                   a->kw);
	int dist = INT_MAX;
	if (best && schema_find(sc, best) < 1)
		best = NULL;
	for (int i = 1; !best && i < sc->n; i++)
		if (close_enough(a->kw, sc->p[i].name, &dist))
			best = sc->p[i].name;
	if (sc->n == 1)
		err(c, a->loc, "%s takes no keyword arguments, so not '%s'", name, a->kw);
	else if (best)
		err(c, a->loc, "%s has no argument '%s'; did you mean '%s'? (its arguments are %s)",
		        name, a->kw, best, keyword_list(c, sc));
	else
		err(c, a->loc, "%s has no argument '%s' (its arguments are %s)", name, a->kw,
		        keyword_list(c, sc));
}

/* Which parameter argument a binds to, or -1 after reporting why it binds to none. */
static int arg_slot(Checker *c, Op op, const Schema *sc, const Arg *a, int *npos, bool *seen_kw)
{
	if (a->kw) {
		*seen_kw = true;
		int idx = schema_find(sc, a->kw);
		if (idx < 1)
			unknown_keyword(c, op, sc, a);
		return idx < 1 ? -1 : idx;
	}
	if (*seen_kw) {
		err(c, a->loc, "positional argument follows keyword argument");
		return -1;
	}
	if (op_has(op, P_VARIADIC))
		return 0; /* every positional argument is an operand */
	if (*npos == sc->n) {
		err(c, a->loc, "too many arguments to %s", op_info[op].name);
		note(c, a->loc, "usage: %s", schemas[op].usage);
		(*npos)++;
		return -1;
	}
	return *npos > sc->n ? -1 : (*npos)++;
}

static bool missing_arg(Checker *c, Op op, const Node *call, int idx)
{
	const Param *p = &schemas[op].p[idx];
	int w = param_word(op, p->name);
	if (idx == 0)
		err(c, call->loc, "%s needs an operand: %s(h%s)", op_info[op].name,
		        op_info[op].name, schemas[op].n > 1 ? ", ..." : "");
	else
		err(c, call->loc, "%s needs %s%s (%s)", op_info[op].name, p->name,
		        keyword_style(idx) ? "=" : "", w < 0 ? p->name : param_words[w].what);
	note(c, call->name_loc, "usage: %s", schemas[op].usage);
	return false;
}

/* Binds and converts the arguments of call; true if they are all valid. */
static bool bind_args(Checker *c, Op op, const Node *call, Bound *b)
{
	const Schema *sc = &schemas[op];
	int npos = 0;
	bool seen_kw = false, ok = true;
	for (const Arg *a = call->args; a; a = a->next) {
		int idx = arg_slot(c, op, sc, a, &npos, &seen_kw);
		bool more_operands = idx == 0 && op_has(op, P_VARIADIC);
		if (idx >= 0 && b->arg[idx] && !more_operands) {
			err(c, a->loc, "argument %s of %s given twice", sc->p[idx].name,
			        op_info[op].name);
			note(c, b->arg[idx]->loc, "first given here");
			idx = -1;
		}
		if (idx < 0) {
			ok = false;
			continue;
		}
		b->arg[idx] = a;
		ok &= convert_arg(c, op, &sc->p[idx], a->val, b, idx);
	}
	if (!ok)
		return false; /* a misspelt keyword would also read as a missing argument */
	for (int i = 0; i < sc->n; i++) {
		const Param *p = &sc->p[i];
		if (b->arg[i])
			continue;
		if (!p->has_default)
			return missing_arg(c, op, call, i);
		if (p->default_ref >= 0) {
			b->ival[i] = b->ival[p->default_ref];
		} else {
			b->ival[i] = p->idefault;
			b->fval[i] = p->fdefault;
		}
	}
	return true;
}

/* PyTorch's pools refuse a padding larger than half the kernel. */
static bool check_pool_padding(Checker *c, Op op, const Bound *b)
{
	const Schema *sc = &schemas[op];
	int ip = schema_find(sc, "p");
	long long k = bound_int(sc, b, "k"), p = b->ival[ip];
	if (p <= k / 2)
		return true;
	err(c, b->arg[ip]->val->loc,
	        "padding p = %lld of %s must be at most half the kernel size (k = %lld allows "
	        "p <= %lld), as in PyTorch",
	        p, op_info[op].name, k, k / 2);
	return false;
}

/* ---- shapes (SPEC §2) ---- */

/* One axis the window does not fit: the arithmetic, and a padding that would fit it. */
static void window_note(Checker *c, const Layer *L, int n, const char *axes)
{
	long long span = (long long)L->d * (L->k - 1) + 1;
	long long fix = (span - n + 1) / 2;
	bool pool = op_has(L->op, P_POOL);
	const char *hint = "", *spans = arena_printf(c->arena, "%lld", span);
	if (fix <= GEQC_MAX_DIM && (!pool || fix <= L->k / 2))
		hint = arena_printf(c->arena, "; p=%lld would make it fit", fix);
	if (L->d > 1)
		spans = arena_printf(c->arena, "%d*(%d-1)+1 = %lld", L->d, L->k, span);
	note(c, L->loc,
	        "the kernel spans %s pixels, but the padded input only %d + 2*%d = %lld %s%s",
	        spans, n, L->p, (long long)n + 2LL * L->p, axes, hint);
}

/* Reports a sliding window that does not fit its input, with a note per axis. */
static void window_error(Checker *c, const Layer *L)
{
	int h = conv_out_size(L->in_shape.h, L->k, L->s, L->p, L->d);
	int w = conv_out_size(L->in_shape.w, L->k, L->s, L->p, L->d);
	if (op_has(L->op, P_POOL))
		err(c, L->loc, "kernel %d does not fit the %dx%d input with padding %d", L->k,
		        L->in_shape.h, L->in_shape.w, L->p);
	else
		err(c, L->loc,
		        "kernel %d (dilation %d) does not fit the %dx%d input with padding %d",
		        L->k, L->d, L->in_shape.h, L->in_shape.w, L->p);
	bool same = L->in_shape.h == L->in_shape.w;
	if (h <= 0)
		window_note(c, L, L->in_shape.h, same ? "on both axes" : "in height");
	if (w <= 0 && !same)
		window_note(c, L, L->in_shape.w, "in width");
}

/* Sets L's hyperparameters from the bound arguments, by their names in the schema. */
static void bind_layer(Layer *L, const Schema *sc, const Bound *b)
{
	const struct {
		const char *name;
		int *field;
	} ints[] = {
	        {"C", &L->C}, {"N", &L->C}, {"k", &L->k}, {"s", &L->s}, {"p", &L->p}, {"d", &L->d}};
	for (int i = 1; i < sc->n; i++) {
		for (size_t j = 0; sc->p[i].type == T_INT && j < sizeof ints / sizeof *ints; j++)
			if (!strcmp(sc->p[i].name, ints[j].name))
				*ints[j].field = (int)b->ival[i];
		if (sc->p[i].type == T_BOOL)
			L->bias = b->ival[i];
		else if (sc->p[i].type == T_FLOAT)
			*(strcmp(sc->p[i].name, "eps") == 0 ? &L->eps : &L->rate) = b->fval[i];
		else if (sc->p[i].type == T_ENUM)
			L->mode = (int)b->ival[i];
	}
}

/* An upsampled or concatenated size past GEQC_MAX_DIM. */
static void size_error(Checker *c, const Layer *L, const Shape *in)
{
	long long sum = 0;
	for (int j = 0; j < L->nin; j++)
		sum += in[j].c;
	if (L->op == OP_CONCAT)
		err(c, L->loc,
		        "this concat has %lld channels, more than geqc's limit of %d "
		        "(GEQC_MAX_DIM)",
		        sum, GEQC_MAX_DIM);
	else
		err(c, L->loc,
		        "upsampling the %dx%d input by %d makes it %lldx%lld, more than geqc's "
		        "limit of %d (GEQC_MAX_DIM) a side",
		        in[0].h, in[0].w, L->s, (long long)in[0].h * L->s,
		        (long long)in[0].w * L->s, GEQC_MAX_DIM);
}

/* Fills L's hyperparameters, output shape and tensors from its operands' shapes in[];
 * false after reporting an error (a window that does not fit, a size past the limits:
 * operands that disagree were reported before). */
static bool infer(Checker *c, Layer *L, const Bound *b, const Shape *in)
{
	bind_layer(L, &schemas[L->op], b);
	if (!shape_infer(L, in, c->group.n, &L->out_shape)) {
		if (op_has(L->op, P_SLIDING))
			window_error(c, L);
		else
			size_error(c, L, in);
		return false;
	}
	shape_tensors(L, c->group.n);
	return true;
}

/* Every value and tensor must fit GEQC_MAX_NUMEL floats. */
static bool check_sizes(Checker *c, const Layer *L)
{
	bool ok = true;
	long long n = shape_numel(L->out_shape);
	if (n > GEQC_MAX_NUMEL) {
		err(c, L->loc, "the output of this %s, %s, holds %lld floats, %s",
		        op_info[L->op].name, shape_str(c, L->out_shape), n, numel_limit(c));
		ok = false;
	}
	for (int i = 0; i < L->nparams; i++) {
		const Tensor *t = &L->param[i];
		if (tensor_numel(t) <= GEQC_MAX_NUMEL)
			continue;
		const char *dims = "";
		for (int j = 0; j < t->ndim; j++)
			dims = arena_printf(c->arena, "%s%s%d", dims, j ? ", " : "", t->dim[j]);
		err(c, L->loc, "the %s of this %s, [%s], holds %.0f floats, %s", t->name,
		        op_info[L->op].name, dims, tensor_numel_f(t), numel_limit(c));
		ok = false;
	}
	return ok;
}

/* ---- values: names, calls, sums ---- */

static int eval(Checker *c, const Node *n, const char *what);

/* A layer of op on value in, with the defaults of a non-strided layer. */
static Layer new_layer(Checker *c, Op op, Loc loc, int in)
{
	Layer L = {0};
	L.op = op;
	L.loc = loc;
	L.nin = op_info[op].nin;
	L.in[0] = in;
	L.in[1] = -1;
	L.in_shape = c->value[in];
	L.k = L.s = L.d = 1;
	L.p = 0;
	return L;
}

/* Appends L as the next layer, which produces the next value id. */
static int append_layer(Checker *c, Layer *L, int rank)
{
	if (c->nlayers == GEQC_MAX_LAYERS) {
		err(c, L->loc, "the model has more than %d layers, geqc's limit (GEQC_MAX_LAYERS)",
		        GEQC_MAX_LAYERS);
		c->stop = true;
		return -1;
	}
	if (c->nlayers == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->layer = xrealloc(c->layer, (size_t)c->cap * sizeof *c->layer);
		c->rank = xrealloc(c->rank, (size_t)c->cap * sizeof *c->rank);
		c->value = xrealloc(c->value, (size_t)(c->cap + 1) * sizeof *c->value);
	}
	L->out = ++c->nlayers;
	c->layer[L->out - 1] = *L;
	c->rank[L->out - 1] = rank;
	c->value[L->out] = L->out_shape;
	return L->out;
}

static void undefined_name(Checker *c, const Node *n)
{
	const char *best = table_suggest(&c->names, n->name);
	bool is_op = false;
	for (int op = 0; op < OP_COUNT; op++)
		is_op |= strcmp(op_info[op].name, n->name) == 0;
	if (is_op)
		err(c, n->loc, "'%s' is an operation, not a value: call it, as in %s(h)", n->name,
		        n->name);
	else if (best)
		err(c, n->loc, "undefined name '%s'; did you mean '%s'?", n->name, best);
	else
		err(c, n->loc, "undefined name '%s'", n->name);
	Entry *e = table_put(&c->names, n->name); /* report each name once */
	e->val = -1;
	e->loc = n->loc;
	e->ptr = &undefined_marker;
}

static int eval_name(Checker *c, const Node *n)
{
	const Entry *e = table_find(&c->names, n->key ? n->key : n->name);
	if (e)
		return e->val;
	undefined_name(c, n);
	return -1;
}

static const char *operand_words(Checker *c, const Node *n)
{
	if (n->kind == N_NAME)
		return arena_printf(c->arena, "'%s'", n->name);
	if (n->kind == N_CALL)
		return arena_printf(c->arena, "the result of %s", n->name);
	return "the sum";
}

/* What to do instead, for the common kind mistakes. */
static const char *kind_hint(Checker *c, Op op, const Node *arg, Kind got)
{
	const char *name = arg->kind == N_NAME ? arg->name : "...";
	if (got == K_VECTOR)
		return " (a vector has no spatial axes)";
	if (op == OP_GCONV && got == K_IMAGE)
		return arena_printf(c->arena, ": lift it first with lift(%s, C, k=...)", name);
	if (op == OP_GPOOL && got == K_IMAGE)
		return ", which has no group axis to pool";
	if (op == OP_LIFT && got == K_GMAP)
		return " (use gconv)";
	if (op == OP_CONV && got == K_GMAP)
		return " (use gconv, the group convolution, on G-maps)";
	if (op_info[op].kinds == K_VECTOR)
		return ": reduce it first with global_avgpool or flatten";
	return "";
}

static bool check_kind(Checker *c, Op op, const Node *arg, Shape s)
{
	if (op_info[op].kinds & s.kind)
		return true;
	err(c, arg->loc, "%s expects %s, but %s is %s%s", op_info[op].name,
	        kind_phrase(op_info[op].kinds), operand_words(c, arg), kind_phrase(s.kind),
	        kind_hint(c, op, arg, s.kind));
	return false;
}

static int find_op(const char *name)
{
	for (int op = 0; op < OP_COUNT; op++)
		if (!op_has((Op)op, P_INFIX) && strcmp(op_info[op].name, name) == 0)
			return op;
	return -1;
}

/* "the operations are lift gconv ...", the called ops of ops.h in lines of about 80. */
static const char *op_list(Checker *c)
{
	const char *s = "the operations are";
	size_t line = strlen(s);
	for (int op = 0; op < OP_COUNT; op++) {
		if (op_has((Op)op, P_INFIX))
			continue;
		bool wrap = line + 1 + strlen(op_info[op].name) > 80;
		s = arena_printf(c->arena, "%s%c%s", s, wrap ? '\n' : ' ', op_info[op].name);
		line = wrap ? strlen(op_info[op].name) : line + 1 + strlen(op_info[op].name);
	}
	return s;
}

static void unknown_op(Checker *c, const Node *call)
{
	const char *best = alias(op_aliases, sizeof op_aliases / sizeof *op_aliases, call->name);
	int dist = INT_MAX;
	for (int op = 0; !best && op < OP_COUNT; op++)
		if (!op_has((Op)op, P_INFIX) && close_enough(call->name, op_info[op].name, &dist))
			best = op_info[op].name;
	if (best) {
		err(c, call->name_loc, "unknown operation '%s'; did you mean '%s'?", call->name,
		        best);
		return;
	}
	err(c, call->name_loc, "unknown operation '%s'", call->name);
	note(c, call->name_loc, "%s", op_list(c));
}

/* Evaluates the operands of call into in[], arg[]: its first argument if positional, or
 * for a P_VARIADIC op every leading positional argument (op is -1 for an unknown op,
 * whose operand is still checked). Returns their count, or -1 after an error. */
static int eval_operands(Checker *c, int op, const Node *call, int *in, const Node **arg)
{
	const char *what = arena_printf(c->arena, "the operand of %s", call->name);
	bool all = op >= 0 && op_has((Op)op, P_VARIADIC);
	int n = 0;
	for (const Arg *a = call->args; a && !a->kw && (all || n == 0); a = a->next) {
		if (n == GEQC_MAX_OPERANDS) {
			err(c, a->loc, "%s takes at most %d operands (GEQC_MAX_OPERANDS)",
			        call->name, GEQC_MAX_OPERANDS);
			return -1;
		}
		arg[n] = a->val;
		in[n++] = eval(c, a->val, what);
	}
	return n;
}

/* The operands of a concat agree in kind, height and width (SPEC §2.2); else the first
 * that does not is reported against the first operand. */
static bool check_concat(Checker *c, const int *in, const Node **arg, int n)
{
	Shape a = c->value[in[0]];
	for (int j = 1; j < n; j++) {
		Shape b = c->value[in[j]];
		if (b.kind != a.kind) {
			err(c, arg[j]->loc,
			        "concat needs operands of one kind, but %s is %s and %s is %s",
			        operand_words(c, arg[0]), kind_phrase(a.kind),
			        operand_words(c, arg[j]), kind_phrase(b.kind));
			return false;
		}
		if (b.h == a.h && b.w == a.w)
			continue;
		err(c, arg[j]->loc,
		        "concat needs operands of the same height and width, but %s is %dx%d and "
		        "%s "
		        "is %dx%d",
		        operand_words(c, arg[0]), a.h, a.w, operand_words(c, arg[j]), b.h, b.w);
		bool up = a.h % b.h == 0 && a.h / b.h > 1 && a.w == b.w * (a.h / b.h);
		if (up)
			note(c, arg[j]->loc, "upsample(%s, %d) would be %dx%d",
			        arg[j]->kind == N_NAME ? arg[j]->name : "...", a.h / b.h, a.h, a.w);
		return false;
	}
	return true;
}

/* Every operand valid and of a kind the op takes, as many as it needs. */
static bool check_operands(
        Checker *c, Op op, const Node *call, const int *in, const Node **arg, int n)
{
	if (n < 0)
		return false;
	if (n < op_info[op].nin) {
		err(c, call->loc, "%s needs at least %d operands: %s", op_info[op].name,
		        op_info[op].nin, schemas[op].usage);
		return false;
	}
	for (int j = 0; j < n; j++)
		if (in[j] < 0 || !check_kind(c, op, arg[j], c->value[in[j]]))
			return false;
	return op != OP_CONCAT || check_concat(c, in, arg, n);
}

static int eval_call(Checker *c, const Node *call)
{
	int rank = c->next_rank++; /* the op name precedes its arguments in the text */
	int op = find_op(call->name), in[GEQC_MAX_OPERANDS];
	const Node *arg[GEQC_MAX_OPERANDS];
	if (op < 0)
		unknown_op(c, call);
	int n = eval_operands(c, op, call, in, arg);
	if (op < 0)
		return -1;
	Bound b = {0};
	bool ok = bind_args(c, (Op)op, call, &b);
	if (op_has((Op)op, P_POOL) && ok)
		ok = check_pool_padding(c, (Op)op, &b);
	if (!ok || !check_operands(c, (Op)op, call, in, arg, n))
		return -1;
	Layer L = new_layer(c, (Op)op, call->loc, in[0]);
	L.node = call;
	L.nin = n;
	Shape shapes[GEQC_MAX_OPERANDS];
	for (int j = 0; j < n; j++) {
		L.in[j] = in[j];
		shapes[j] = c->value[in[j]];
	}
	if (!infer(c, &L, &b, shapes) || !check_sizes(c, &L))
		return -1;
	L.C = L.out_shape.c;
	return append_layer(c, &L, rank);
}

static int make_add(Checker *c, const Node *n, int a, int b, int rank)
{
	if (a < 0 || b < 0)
		return -1;
	Layer L = new_layer(c, OP_ADD, n->loc, a);
	L.node = n;
	L.in[1] = b;
	Shape in[2] = {c->value[a], c->value[b]};
	if (!shape_infer(&L, in, c->group.n, &L.out_shape)) {
		err(c, n->loc, "+ needs operands of the same shape, but got %s and %s",
		        shape_str(c, c->value[a]), shape_str(c, c->value[b]));
		return -1;
	}
	L.C = L.out_shape.c;
	return append_layer(c, &L, rank);
}

/* a + b + c parses as ((a + b) + c); a file can make that left spine as long as itself,
 * so it is walked with a loop, not recursion. */
static int eval_add(Checker *c, const Node *n)
{
	size_t depth = 0;
	for (const Node *m = n; m->kind == N_ADD; m = m->lhs)
		depth++;
	const Node **spine = xmalloc(depth * sizeof *spine);
	const Node *m = n;
	for (size_t i = depth; i-- > 0; m = m->lhs)
		spine[i] = m;
	int acc = eval(c, m, "each operand of +");
	for (size_t i = 0; i < depth && !c->stop; i++) {
		int rank = c->next_rank++; /* the '+' sits between its operands */
		int rhs = eval(c, spine[i]->rhs, "each operand of +");
		acc = make_add(c, spine[i], acc, rhs, rank);
	}
	free(spine);
	return c->stop ? -1 : acc;
}

/* The value id n computes, or -1 (poisoned) after an error here or in an operand. */
static int eval(Checker *c, const Node *n, const char *what)
{
	if (c->stop)
		return -1;
	switch (n->kind) {
	case N_NAME:
		return eval_name(c, n);
	case N_CALL:
		return eval_call(c, n);
	case N_ADD:
		return eval_add(c, n);
	case N_INT:
	case N_FLOAT:
	case N_BOOL:
	case N_UNARY: /* folded by expand.c */
	case N_BINARY:
	case N_COND:
		break;
	}
	err(c, n->loc, "%s must be a value (an image, G-map or vector), not %s", what,
	        describe_node(c, n));
	return -1;
}

/* ---- the model ---- */

static void bind(Checker *c, const char *name, Loc loc, int value)
{
	Entry *e = table_put(&c->names, name);
	e->val = value;
	e->loc = loc;
	e->ptr = NULL;
}

/* Evaluates the body in order; returns the returned value id (-1: none or poisoned). */
static int check_body(Checker *c, const ModelDecl *m)
{
	const Stmt *ret = NULL;
	int out = -1;
	for (const Stmt *st = m->body; st && !c->stop; st = st->next) {
		if (ret) {
			err(c, st->loc, "code after return is never evaluated");
			note(c, ret->loc, "the model returns here");
			return out;
		}
		if (!st->target) {
			ret = st;
			out = eval(c, st->expr, "the returned expression");
			continue;
		}
		const char *what = arena_printf(c->arena, "the value assigned to '%s'", st->target);
		bind(c, st->target, st->target_loc, eval(c, st->expr, what));
	}
	if (!ret && !c->stop) {
		err(c, m->loc, "model '%s' has no return statement", m->name);
		note(c, m->loc, "end its body with the output, as in: return linear(v, 10);");
	}
	return out;
}

static int cmp_rank(const void *a, const void *b)
{
	const int *x = a, *y = b;
	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The path as a C and Python identifier: basic17.gconv2 -> basic17_gconv2. */
static const char *c_name(Checker *c, const char *path)
{
	char *s = arena_printf(c->arena, "%s", path);
	for (char *p = s; (p = strchr(p, '.')); p++)
		*p = '_';
	return s;
}

/* Two paths can meet in C (a1.b1 and a block a1_b's first call): the emitted code
 * would not compile, so that is an error here. */
static void check_c_name(Checker *c, Table *cnames, const Layer *L)
{
	Entry *e = table_put(cnames, L->name);
	if (!e->ptr) {
		e->ptr = L;
		return;
	}
	const Layer *first = e->ptr;
	err(c, L->loc, "layers '%s' and '%s' would share the C name '%s'; rename a block",
	        first->path, L->path, L->name);
}

/* Names count each op's occurrences in source order: relu(bn(gconv(h))) is relu1 bn1
 * gconv1, though gconv is evaluated first. Inside a call of a block the count restarts
 * under the call's path (SPEC §2.1): basic3.gconv1, basic3.bn1, ... */
static void name_layers(Checker *c, Layer *layer, int n)
{
	Table count = {0}, cnames = {0};
	int *order = xmalloc(2 * (size_t)n * sizeof *order);
	for (int i = 0; i < n; i++) {
		order[2 * i] = c->rank[i];
		order[2 * i + 1] = i;
	}
	qsort(order, (size_t)n, 2 * sizeof *order, cmp_rank);
	for (int i = 0; i < n; i++) {
		Layer *L = &layer[order[2 * i + 1]];
		const char *base = op_info[L->op].layer;
		const char *prefix = L->loc.site ? L->loc.site->path : "";
		Entry *e = table_put(&count, arena_printf(c->arena, "%s%s", prefix, base));
		L->path = arena_printf(c->arena, "%s%d", e->name, ++e->val);
		L->name = c_name(c, L->path);
		check_c_name(c, &cnames, L);
		for (int t = 0; t < L->nparams; t++)
			L->param[t].name =
			        arena_printf(c->arena, "%s.%s", L->path, L->param[t].name);
	}
	free(order);
	free(count.e);
	free(cnames.e);
}

static Model *finish(Checker *c, const ModelDecl *md, Shape input, int out)
{
	Model *m = arena_alloc(c->arena, sizeof *m);
	*m = (Model){.name = md->name,
	        .loc = md->loc,
	        .group = c->group,
	        .group_loc = md->group_loc,
	        .input = input,
	        .input_loc = md->input_loc,
	        .nlayers = c->nlayers,
	        .nvalues = c->nlayers + 1,
	        .output = out};
	m->layer = arena_alloc(c->arena, sizeof *m->layer * (size_t)(c->nlayers + 1));
	m->value = arena_alloc(c->arena, sizeof *m->value * (size_t)(c->nlayers + 1));
	if (c->nlayers)
		memcpy(m->layer, c->layer, sizeof *m->layer * (size_t)c->nlayers);
	m->value[0] = input;
	for (int i = 0; i < c->nlayers; i++)
		m->value[i + 1] = c->layer[i].out_shape;
	name_layers(c, m->layer, m->nlayers);
	return m;
}

static void no_model(Checker *c)
{
	Loc loc = c->d->srclen ? (Loc){1, 1, 1, 1, NULL} : (Loc){0};
	err(c, loc, "no model declared");
	note(c, loc, "a file needs one: model NAME(x: [C, H, W]) on GROUP { ... return ...; }");
}

static Model *check_model(Checker *c, const ModelDecl *md, const Table *groups)
{
	bool group_ok;
	Shape input;
	c->group = resolve_group(c, md, groups, &group_ok);
	bool input_ok = check_input(c, md, &input);
	if (group_ok && input_ok)
		check_square(c, md, &c->group, input);
	c->value = xmalloc(sizeof *c->value);
	c->value[0] = input;
	bind(c, md->input, md->input_loc, input_ok ? 0 : -1);
	int out = check_body(c, md);
	if (c->d->nerrors > c->base_errors || c->stop)
		return NULL;
	return finish(c, md, input, out);
}

Model *check_program(const Program *p, Arena *arena, Diag *d)
{
	schemas_init();
	Checker c = {.d = d, .arena = arena, .base_errors = d->nerrors};
	Table groups = {0};
	check_group_decls(&c, p, &groups);
	Model *m = NULL;
	if (p->model)
		m = check_model(&c, p->model, &groups);
	else
		no_model(&c);
	free(groups.e);
	free(c.names.e);
	free(c.layer);
	free(c.rank);
	free(c.value);
	return d->nerrors > c.base_errors ? NULL : m;
}

/* ---- --dump=model ---- */

/* An argument of L by its schema name: C N k s p d bias eps mode. */
static void dump_arg(FILE *out, const Layer *L, const Param *p)
{
	const struct {
		const char *w;
		int val;
	} ints[] = {{"C", L->C}, {"N", L->C}, {"k", L->k}, {"s", L->s}, {"p", L->p}, {"d", L->d}};
	for (size_t i = 0; p->type == T_INT && i < sizeof ints / sizeof *ints; i++)
		if (!strcmp(p->name, ints[i].w))
			fprintf(out, "%d", ints[i].val);
	if (p->type == T_BOOL)
		fputs(L->bias ? "true" : "false", out);
	else if (p->type == T_FLOAT)
		fprintf(out, "%g", strcmp(p->name, "eps") == 0 ? L->eps : L->rate);
	else if (p->type == T_ENUM)
		fputs(p->enums[L->mode], out);
}

static void dump_layer(FILE *out, const Layer *L)
{
	const Schema *sc = &schemas[L->op];
	char dims[SHAPE_DIMS_MAX];
	fprintf(out, "  v%d = %s: %s(", L->out, L->name, op_info[L->op].name);
	for (int j = 0; j < L->nin; j++)
		fprintf(out, "%sv%d", j ? ", " : "", L->in[j]);
	for (int i = L->nin; i < sc->n; i++) {
		fprintf(out, ", %s=", sc->p[i].name);
		dump_arg(out, L, &sc->p[i]);
	}
	fprintf(out, ") -> %s [%s]  (line %d:%d)\n", kind_name(L->out_shape.kind),
	        shape_dims(L->out_shape, dims), L->loc.first_line, L->loc.first_column);
	for (int t = 0; t < L->nparams; t++) {
		fprintf(out, "        %s [", L->param[t].name);
		for (int d = 0; d < L->param[t].ndim; d++)
			fprintf(out, "%s%d", d ? ", " : "", L->param[t].dim[d]);
		fputs("]\n", out);
	}
}

void model_dump(FILE *out, const Model *m)
{
	schemas_init();
	char dims[SHAPE_DIMS_MAX];
	fprintf(out, "model %s on %s {", m->name, m->group.name);
	for (int a = 0; a < m->group.n; a++)
		fprintf(out, "%s%s", a ? ", " : "", d4_name[m->group.elem[a]]);
	fprintf(out, "}: v0 = the input, image [%s]\n", shape_dims(m->input, dims));
	for (int i = 0; i < m->nlayers; i++)
		dump_layer(out, &m->layer[i]);
	fprintf(out, "  return v%d\n", m->output);
}
