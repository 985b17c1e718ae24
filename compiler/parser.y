/* parser.y: the grammar of a .geq file (SPEC §2) into the AST of geqc.h, every node with
 * its location. A pure parser over the reentrant scanner of lexer.l; it stops at the first
 * syntax error, whose message (yyreport_syntax_error) names what was expected and, for the
 * likely mistakes, why: a missing ';', an unclosed bracket, '==' or ':' for '='. */
%define api.pure full
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {yyscan_t scanner} {ParseCtx *ctx}

%code requires {
#include "geqc.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* A token as the scanner saw it: where, and its bytes in the source. */
typedef struct Token {
	Loc loc;
	size_t offset, len;
	bool valid;
} Token;

typedef struct Bracket {
	Loc loc;
	char c; /* ( [ { < */
} Bracket;

/* The state shared by the scanner and the parser of one parse_program call. */
typedef struct ParseCtx {
	Arena *arena;
	Diag *d;
	const char *src;
	Program *prog;
	GroupDecl **group_tail;
	size_t offset;    /* bytes scanned so far */
	int line, col;    /* position of the next byte */
	Token tok, prev;  /* the last token scanned (the lookahead at an error), the one before */
	Bracket open[GEQC_MAX_DEPTH + 8]; /* unclosed brackets, innermost last */
	int nopen;
	int parens;     /* unclosed '(': the nesting depth */
	bool unmatched; /* the last token closes a bracket that is not open */
	int nops;       /* calls and '+' so far */
} ParseCtx;
}

%code provides {
#define YY_DECL                                                                                    \
	int yylex(YYSTYPE *yylval_param, YYLTYPE *yylloc_param, yyscan_t yyscanner, ParseCtx *ctx)
YY_DECL;
}

%code {
#include <string.h>

#include "lexer.h"

static void yyerror(const Loc *loc, yyscan_t scanner, ParseCtx *ctx, const char *msg);
static bool count_op(ParseCtx *ctx, Loc loc);
static Node *leaf(ParseCtx *ctx, NodeKind kind, Loc loc);
static Arg *arg_new(ParseCtx *ctx, const char *kw, Loc loc, Node *val);
static Ident *ident_new(ParseCtx *ctx, const char *name, Loc loc);
static Stmt *stmt_new(ParseCtx *ctx, const char *target, Loc target_loc, Node *expr, Loc loc);
static void group_add(ParseCtx *ctx, const char *name, Loc loc, Ident *gens);
static bool model_unique(ParseCtx *ctx, Loc loc);
static bool model_add(ParseCtx *ctx, ModelDecl *m, const Dims *dims, Loc dims_loc);

/* Lists are built backwards by left recursion, then turned around once. */
#define REVERSE(T, list)                                                                           \
	do {                                                                                       \
		T *rev_ = NULL;                                                                    \
		while (list) {                                                                     \
			T *next_ = (list)->next;                                                   \
			(list)->next = rev_;                                                       \
			rev_ = (list);                                                             \
			(list) = next_;                                                            \
		}                                                                                  \
		(list) = rev_;                                                                     \
	} while (0)
}

%code requires {
/* The input shape as written: up to 3 dimensions kept, all counted. */
typedef struct Dims {
	Node *n[3];
	int count;
} Dims;
}

%union {
	long long i;
	double f;
	const char *str;
	Node *node;
	Arg *arg;
	Stmt *stmt;
	Ident *ident;
	Dims dims;
}

%token T_END 0 "end of file"
%token <str> T_IDENT "identifier"
%token <i> T_INT "integer"
%token <f> T_FLOAT "number"
%token T_GROUP "'group'"
%token T_MODEL "'model'"
%token T_ON "'on'"
%token T_RETURN "'return'"
%token T_TRUE "'true'"
%token T_FALSE "'false'"
%token T_EQEQ "'=='"

%type <node> expr term call
%type <arg> args arg_list arg
%type <stmt> stmts stmt
%type <ident> gens gen_list
%type <dims> dims

%%

program:
	%empty
|	program decl
;

decl:
	group_decl
|	model_decl
;

/* group NAME = <gen, gen, ...>; */
group_decl:
	T_GROUP T_IDENT '=' '<' gens '>' ';'   { REVERSE(Ident, $5); group_add(ctx, $2, @2, $5); }
;

gens:
	%empty                  { $$ = NULL; }
|	gen_list
;

gen_list:
	T_IDENT                 { $$ = ident_new(ctx, $1, @1); }
|	gen_list ',' T_IDENT    { $$ = ident_new(ctx, $3, @3); $$->next = $1; }
;

/* model NAME(INPUT: [C, H, W]) on GROUP { stmt* } */
model_decl:
	T_MODEL T_IDENT { if (!model_unique(ctx, @2)) YYABORT; }
	'(' T_IDENT ':' '[' dims ']' ')' T_ON T_IDENT '{' stmts '}' {
		ModelDecl *m = arena_alloc(ctx->arena, sizeof *m);
		*m = (ModelDecl){.name = $2, .loc = @2, .input = $5};
		m->group = $12;
		m->group_loc = @12;
		m->input_loc = (Loc){@5.first_line, @5.first_column, @9.last_line, @9.last_column};
		REVERSE(Stmt, $14);
		m->body = $14;
		Loc dims_loc = {@7.first_line, @7.first_column, @9.last_line, @9.last_column};
		if (!model_add(ctx, m, &$8, dims_loc))
			YYABORT;
	}
;

dims:
	T_INT                   { $$ = (Dims){{leaf(ctx, N_INT, @1)}, 1}; $$.n[0]->i = $1; }
|	dims ',' T_INT {
		$$ = $1;
		if ($$.count < 3) {
			$$.n[$$.count] = leaf(ctx, N_INT, @3);
			$$.n[$$.count]->i = $3;
		}
		$$.count++;
	}
;

stmts:
	%empty                  { $$ = NULL; }
|	stmts stmt              { $$ = $2; $$->next = $1; }
;

stmt:
	T_IDENT '=' expr ';'    { $$ = stmt_new(ctx, $1, @1, $3, @$); }
|	T_RETURN expr ';'       { $$ = stmt_new(ctx, NULL, (Loc){0}, $2, @$); }
;

/* `+` is the only operator: left associative, spanning both operands. */
expr:
	term
|	expr '+' term {
		if (!count_op(ctx, @2))
			YYABORT;
		$$ = leaf(ctx, N_ADD, @$);
		$$->name_loc = @2;
		$$->lhs = $1;
		$$->rhs = $3;
	}
;

term:
	T_IDENT                 { $$ = leaf(ctx, N_NAME, @1); $$->name = $1; }
|	call
|	T_INT                   { $$ = leaf(ctx, N_INT, @1); $$->i = $1; }
|	T_FLOAT                 { $$ = leaf(ctx, N_FLOAT, @1); $$->f = $1; }
|	T_TRUE                  { $$ = leaf(ctx, N_BOOL, @1); $$->i = 1; }
|	T_FALSE                 { $$ = leaf(ctx, N_BOOL, @1); $$->i = 0; }
|	'(' expr ')'            { $$ = $2; }
;

call:
	T_IDENT '(' args ')' {
		if (!count_op(ctx, @1))
			YYABORT;
		$$ = leaf(ctx, N_CALL, @$);
		$$->name = $1;
		$$->name_loc = @1;
		REVERSE(Arg, $3);
		$$->args = $3;
	}
;

/* Positional and keyword arguments in any order: check.c says what is wrong with them. */
args:
	%empty                  { $$ = NULL; }
|	arg_list
;

arg_list:
	arg
|	arg_list ',' arg        { $$ = $3; $$->next = $1; }
;

arg:
	expr                    { $$ = arg_new(ctx, NULL, @1, $1); }
|	T_IDENT '=' expr        { $$ = arg_new(ctx, $1, @$, $3); }
;

%%

static Node *leaf(ParseCtx *ctx, NodeKind kind, Loc loc)
{
	return ast_node(ctx->arena, kind, loc);
}

static Arg *arg_new(ParseCtx *ctx, const char *kw, Loc loc, Node *val)
{
	Arg *a = arena_alloc(ctx->arena, sizeof *a);
	*a = (Arg){.kw = kw, .loc = loc, .val = val};
	return a;
}

static Ident *ident_new(ParseCtx *ctx, const char *name, Loc loc)
{
	Ident *id = arena_alloc(ctx->arena, sizeof *id);
	*id = (Ident){.name = name, .loc = loc};
	return id;
}

static Stmt *stmt_new(ParseCtx *ctx, const char *target, Loc target_loc, Node *expr, Loc loc)
{
	Stmt *s = arena_alloc(ctx->arena, sizeof *s);
	*s = (Stmt){.loc = loc, .target = target, .target_loc = target_loc, .expr = expr};
	return s;
}

static void group_add(ParseCtx *ctx, const char *name, Loc loc, Ident *gens)
{
	GroupDecl *g = arena_alloc(ctx->arena, sizeof *g);
	*g = (GroupDecl){.name = name, .loc = loc, .gens = gens};
	*ctx->group_tail = g;
	ctx->group_tail = &g->next;
}

/* A bound on the AST's size, so that no later pass recurses without limit on a chain of
 * a thousand '+'. It is the model's layer limit: every call and '+' is one layer. */
static bool count_op(ParseCtx *ctx, Loc loc)
{
	if (++ctx->nops <= GEQC_MAX_LAYERS)
		return true;
	error_at(ctx->d, loc, "the model has more than %d layers, geqc's limit (GEQC_MAX_LAYERS)",
	        GEQC_MAX_LAYERS);
	return false;
}

static bool model_unique(ParseCtx *ctx, Loc loc)
{
	const ModelDecl *first = ctx->prog->model;
	if (!first)
		return true;
	error_at(ctx->d, loc, "only one model per file (the first is at line %d)",
	        first->loc.first_line);
	return false;
}

static bool model_add(ParseCtx *ctx, ModelDecl *m, const Dims *dims, Loc dims_loc)
{
	static const char needs[] = "but it needs 3: [channels, height, width]";
	if (dims->count != 3) {
		error_at(ctx->d, dims_loc, "the input shape has %d dimension%s, %s", dims->count,
		        dims->count == 1 ? "" : "s", needs);
		return false;
	}
	memcpy(m->dims, dims->n, sizeof m->dims);
	ctx->prog->model = m;
	return true;
}

/* ---- syntax errors ---- */

/* The expected tokens of an error, as symbol kinds. */
typedef struct Expected {
	yysymbol_kind_t sym[YYNTOKENS];
	int n;
} Expected;

static bool expects(const Expected *e, int token)
{
	for (int i = 0; i < e->n; i++)
		if (e->sym[i] == YYTRANSLATE(token))
			return true;
	return false;
}

static bool is_token(yysymbol_kind_t sym, int token)
{
	return sym == YYTRANSLATE(token);
}

/* Tokens that cannot continue an unfinished bracket: seeing one means it was left open.
 * A model's '{' holds statements, so only what follows a model shows it unclosed. */
static bool ends_bracket(char open, yysymbol_kind_t sym)
{
	static const int closers[] = {
	        ';', '{', '}', ')', ']', '>', T_END, T_RETURN, T_MODEL, T_GROUP, T_ON};
	static const int after_model[] = {T_END, T_GROUP};
	const int *c = open == '{' ? after_model : closers;
	size_t n = open == '{' ? 2 : sizeof closers / sizeof closers[0];
	for (size_t i = 0; i < n; i++)
		if (is_token(sym, c[i]))
			return true;
	return false;
}

/* Where a missing token belongs: just after the token before the lookahead when the
 * lookahead is on a later line (a missing ';' belongs to the line that lacks it, as in
 * gcc), else at the lookahead. */
static Loc missing_loc(const ParseCtx *ctx, Loc la)
{
	const Loc *p = &ctx->prev.loc;
	if (!ctx->prev.valid || la.first_line <= p->last_line)
		return la;
	return (Loc){p->last_line, p->last_column + 1, p->last_line, p->last_column + 1};
}

/* The lookahead as a message names it: its text in quotes, cut short if long. */
static const char *describe(const ParseCtx *ctx, yysymbol_kind_t la)
{
	if (la == YYSYMBOL_YYEOF)
		return "end of file";
	const Token *t = &ctx->tok;
	int n = t->len > 32 ? 32 : (int)t->len;
	return arena_printf(
	        ctx->arena, "'%.*s%s'", n, ctx->src + t->offset, t->len > 32 ? "..." : "");
}

/* "expected A, B or C": a whole set of expression starters reads as "expression"; end of
 * file is named only when nothing else would do. */
static const char *expected_list(const ParseCtx *ctx, const Expected *e)
{
	static const int starters[] = {T_IDENT, T_INT, T_FLOAT, T_TRUE, T_FALSE, '('};
	bool expr = true;
	for (size_t i = 0; i < sizeof starters / sizeof starters[0]; i++)
		expr = expr && expects(e, starters[i]);
	const char *names[YYNTOKENS];
	int n = 0;
	if (expr)
		names[n++] = "expression";
	for (int i = 0; i < e->n; i++) {
		bool starter = false;
		for (size_t j = 0; j < sizeof starters / sizeof starters[0]; j++)
			starter = starter || is_token(e->sym[i], starters[j]);
		if ((expr && starter) || (e->sym[i] == YYSYMBOL_YYEOF && e->n > 1))
			continue;
		names[n++] = yysymbol_name(e->sym[i]);
	}
	const char *s = n > 0 ? names[0] : "something else";
	for (int i = 1; i < n; i++)
		s = arena_printf(ctx->arena, "%s%s%s", s, i == n - 1 ? " or " : ", ", names[i]);
	return s;
}

/* The unclosed bracket that the lookahead shows was never closed, or NULL. */
static const Bracket *unclosed(const ParseCtx *ctx, const Expected *e, yysymbol_kind_t la)
{
	static const char pairs[] = "()[]{}<>";
	if (ctx->nopen == 0)
		return NULL;
	const Bracket *b = &ctx->open[ctx->nopen - 1];
	if (!ends_bracket(b->c, la))
		return NULL;
	char closer = strchr(pairs, b->c)[1];
	return expects(e, closer) ? b : NULL;
}

/* A hint for the likely mistake behind an error, or "". */
static const char *hint(const ParseCtx *ctx, const Expected *e, yysymbol_kind_t la)
{
	static const int keywords[] = {T_GROUP, T_MODEL, T_ON, T_RETURN, T_TRUE, T_FALSE};
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (is_token(la, keywords[i]) && expects(e, T_IDENT))
			return arena_printf(ctx->arena, " (%s is a keyword)", yysymbol_name(la));
	if (e->n != 1)
		return "";
	if (expects(e, '<'))
		return ": a group lists its generators, as in <rot90, flip>";
	if (expects(e, ':'))
		return ": the input is declared as in 'x: [1, 28, 28]' (channels, height, width)";
	if (expects(e, T_ON))
		return ": a model names its symmetry group, as in 'on p4'";
	if (expects(e, '=') && is_token(la, '('))
		return ": a statement is 'name = expression;' or 'return expression;'";
	return "";
}

static int yyreport_syntax_error(const yypcontext_t *yyctx, yyscan_t scanner, ParseCtx *ctx)
{
	Expected e;
	e.n = yypcontext_expected_tokens(yyctx, e.sym, YYNTOKENS);
	if (e.n < 0)
		return e.n;
	yysymbol_kind_t la = yypcontext_token(yyctx);
	Loc at = *yypcontext_location(yyctx), after = missing_loc(ctx, at);
	if (la == YYSYMBOL_YYEOF)
		at = after;
	const char *what = describe(ctx, la);
	const Bracket *b;
	if ((is_token(la, T_EQEQ) || is_token(la, ':')) && expects(&e, '='))
		error_at(ctx->d, at, "expected '=', not %s", what);
	else if ((b = unclosed(ctx, &e, la)))
		error_at(ctx->d, after,
		        "expected '%c' to close '%c' at line %d, column %d before %s",
		        strchr("()[]{}<>", b->c)[1], b->c, b->loc.first_line, b->loc.first_column,
		        what);
	else if (ctx->unmatched)
		error_at(ctx->d, at, "%s without a matching '%c'", what,
		        strchr("()[]{}<>", ctx->src[ctx->tok.offset])[-1]);
	else if (expects(&e, ';') && expects(&e, '+'))
		error_at(ctx->d, after, "expected ';' after the statement");
	else if (expects(&e, ';') && e.n == 1)
		error_at(ctx->d, after, "expected ';' after the group declaration");
	else
		error_at(ctx->d, at, "expected %s before %s%s", expected_list(ctx, &e), what,
		        hint(ctx, &e, la));
	return 0;
}

static void yyerror(const Loc *loc, yyscan_t scanner, ParseCtx *ctx, const char *msg)
{
	error_at(ctx->d, *loc, "%s", msg);
}

Program *parse_program(const char *src, size_t srclen, Arena *arena, Diag *d)
{
	if (srclen > GEQC_MAX_SOURCE) {
		error_at(d, (Loc){0},
		        "the source is larger than %d bytes, geqc's limit (GEQC_MAX_SOURCE)",
		        GEQC_MAX_SOURCE);
		return NULL;
	}
	ParseCtx ctx = {.arena = arena, .d = d, .src = src, .line = 1, .col = 1};
	ctx.prog = arena_alloc(arena, sizeof *ctx.prog);
	ctx.group_tail = &ctx.prog->groups;
	yyscan_t scanner;
	if (yylex_init(&scanner) != 0) /* out of memory: exit 2, as arena_alloc does */
		out_of_memory();
	YY_BUFFER_STATE buf = yy_scan_bytes(src, (int)srclen, scanner);
	int rc = yyparse(scanner, &ctx);
	yy_delete_buffer(buf, scanner);
	yylex_destroy(scanner);
	return rc == 0 ? ctx.prog : NULL;
}
