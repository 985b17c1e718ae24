/* parser.y: the grammar of a .geq file (SPEC §2) into the AST of geqc.h, every node with
 * its location. A pure parser over the reentrant scanner of lexer.l; it stops at the first
 * syntax error, whose message (yyreport_syntax_error) names what was expected and, for the
 * likely mistakes, why: a missing ';', an unclosed bracket, '==' or ':' for '=', a loop or
 * a function written as in C or Python. */
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

/* Bison's rule for a rule's location, which also clears the Site (a parsed location is
 * in no block call yet): bison's own leaves fields it does not know uninitialised. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                                        \
	do {                                                                                       \
		if (N) {                                                                           \
			(Cur).first_line = YYRHSLOC(Rhs, 1).first_line;                            \
			(Cur).first_column = YYRHSLOC(Rhs, 1).first_column;                        \
			(Cur).last_line = YYRHSLOC(Rhs, N).last_line;                              \
			(Cur).last_column = YYRHSLOC(Rhs, N).last_column;                          \
		} else {                                                                           \
			(Cur).first_line = (Cur).last_line = YYRHSLOC(Rhs, 0).last_line;           \
			(Cur).first_column = (Cur).last_column = YYRHSLOC(Rhs, 0).last_column;     \
		}                                                                                  \
		(Cur).site = NULL;                                                                 \
	} while (0)

/* The state shared by the scanner and the parser of one parse_program call. */
typedef struct ParseCtx {
	Arena *arena;
	Diag *d;
	const char *src;
	Program *prog;
	GroupDecl **group_tail;
	BlockDecl **block_tail;
	int ndecls;       /* blocks and models so far */
	size_t offset;    /* bytes scanned so far */
	int line, col;    /* position of the next byte */
	Token tok, prev;  /* the last token scanned (the lookahead at an error), the one before */
	Bracket open[GEQC_MAX_DEPTH + 8]; /* unclosed brackets, innermost last */
	int nopen;
	int parens;     /* unclosed '(': the nesting depth */
	int braces;     /* unclosed '{': the nesting depth */
	bool in_group;  /* inside a group declaration, where '<' and '>' are brackets */
	bool unmatched; /* the last token closes a bracket that is not open */
	int nops;       /* calls and '+' so far */
	int narith;     /* other operators so far */
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
static Node *arith(ParseCtx *ctx, NodeKind kind, int op, Loc loc, Loc op_loc, Node *l, Node *r);
static Stmt *control(ParseCtx *ctx, StmtKind kind, Loc loc, Node *expr, Stmt *body, Stmt *alt);
static void block_add(ParseCtx *ctx, const char *name, Loc loc, BlockParam *params, Stmt *body);
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
	BlockParam *param;
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
%token T_BLOCK "'block'"
%token T_FOR "'for'"
%token T_IN "'in'"
%token T_IF "'if'"
%token T_ELSE "'else'"
%token T_NE "'!='"
%token T_LE "'<='"
%token T_GE "'>='"
%token T_AND "'&&'"
%token T_OR "'||'"
%token T_DOTDOT "'..'"

/* C's precedence and associativity. */
%right '?' ':'
%left T_OR
%left T_AND
%left T_EQEQ T_NE
%left '<' '>' T_LE T_GE
%left '+' '-'
%left '*' '/' '%'
%precedence '!' UNARY

%type <node> expr term call
%type <arg> args arg_list arg
%type <stmt> stmts stmt if_stmt body
%type <param> params param_list param
%type <ident> gens gen_list
%type <dims> dims

%%

program:
	%empty
|	program decl
;

decl:
	group_decl
|	block_decl
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
	'(' T_IDENT ':' '[' dims ']' ')' T_ON T_IDENT body {
		ModelDecl *m = arena_alloc(ctx->arena, sizeof *m);
		*m = (ModelDecl){.name = $2, .loc = @2, .input = $5};
		m->group = $12;
		m->group_loc = @12;
		m->input_loc = (Loc){@5.first_line, @5.first_column, @9.last_line, @9.last_column, NULL};
		m->body = $13;
		Loc dims_loc = {@7.first_line, @7.first_column, @9.last_line, @9.last_column, NULL};
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

/* block NAME(x, C, s=1) { stmt* } */
block_decl:
	T_BLOCK T_IDENT '(' params ')' body {
		REVERSE(BlockParam, $4);
		block_add(ctx, $2, @2, $4, $6);
	}
;

params:
	%empty                  { $$ = NULL; }
|	param_list
;

param_list:
	param
|	param_list ',' param    { $$ = $3; $$->next = $1; }
;

param:
	T_IDENT {
		$$ = arena_alloc(ctx->arena, sizeof *$$);
		*$$ = (BlockParam){.name = $1, .loc = @1};
	}
|	T_IDENT '=' expr {
		$$ = arena_alloc(ctx->arena, sizeof *$$);
		*$$ = (BlockParam){.name = $1, .loc = @1, .def = $3};
	}
;

body:
	'{' stmts '}'           { $$ = $2; REVERSE(Stmt, $$); }
;

stmts:
	%empty                  { $$ = NULL; }
|	stmts stmt              { $$ = $2; $$->next = $1; }
;

stmt:
	T_IDENT '=' expr ';'    { $$ = stmt_new(ctx, $1, @1, $3, @$); }
|	T_RETURN expr ';'       { $$ = stmt_new(ctx, NULL, (Loc){0}, $2, @$); $$->kind = S_RETURN; }
|	T_FOR T_IDENT T_IN expr T_DOTDOT expr body {
		$$ = control(ctx, S_FOR, @$, $4, $7, NULL);
		$$->target = $2;
		$$->target_loc = @2;
		$$->hi = $6;
	}
|	if_stmt
;

/* Braces are required, so an `else` always belongs to the nearest `if`. */
if_stmt:
	T_IF '(' expr ')' body  { $$ = control(ctx, S_IF, @$, $3, $5, NULL); }
|	T_IF '(' expr ')' body T_ELSE body      { $$ = control(ctx, S_IF, @$, $3, $5, $7); }
|	T_IF '(' expr ')' body T_ELSE if_stmt   { $$ = control(ctx, S_IF, @$, $3, $5, $7); }
;

/* `+` adds values or numbers; the rest are compile-time arithmetic (expand.c). */
expr:
	term
|	expr '+' expr {
		if (!count_op(ctx, @2))
			YYABORT;
		$$ = arith(ctx, N_ADD, '+', @$, @2, $1, $3);
	}
|	expr '-' expr           { if (!($$ = arith(ctx, N_BINARY, '-', @$, @2, $1, $3))) YYABORT; }
|	expr '*' expr           { if (!($$ = arith(ctx, N_BINARY, '*', @$, @2, $1, $3))) YYABORT; }
|	expr '/' expr           { if (!($$ = arith(ctx, N_BINARY, '/', @$, @2, $1, $3))) YYABORT; }
|	expr '%' expr           { if (!($$ = arith(ctx, N_BINARY, '%', @$, @2, $1, $3))) YYABORT; }
|	expr '<' expr           { if (!($$ = arith(ctx, N_BINARY, '<', @$, @2, $1, $3))) YYABORT; }
|	expr '>' expr           { if (!($$ = arith(ctx, N_BINARY, '>', @$, @2, $1, $3))) YYABORT; }
|	expr T_LE expr          { if (!($$ = arith(ctx, N_BINARY, OP2_LE, @$, @2, $1, $3))) YYABORT; }
|	expr T_GE expr          { if (!($$ = arith(ctx, N_BINARY, OP2_GE, @$, @2, $1, $3))) YYABORT; }
|	expr T_EQEQ expr        { if (!($$ = arith(ctx, N_BINARY, OP2_EQ, @$, @2, $1, $3))) YYABORT; }
|	expr T_NE expr          { if (!($$ = arith(ctx, N_BINARY, OP2_NE, @$, @2, $1, $3))) YYABORT; }
|	expr T_AND expr         { if (!($$ = arith(ctx, N_BINARY, OP2_AND, @$, @2, $1, $3))) YYABORT; }
|	expr T_OR expr          { if (!($$ = arith(ctx, N_BINARY, OP2_OR, @$, @2, $1, $3))) YYABORT; }
|	'-' expr %prec UNARY    { if (!($$ = arith(ctx, N_UNARY, '-', @$, @1, $2, NULL))) YYABORT; }
|	'!' expr                { if (!($$ = arith(ctx, N_UNARY, '!', @$, @1, $2, NULL))) YYABORT; }
|	expr '?' expr ':' expr {
		if (!($$ = arith(ctx, N_COND, '?', @$, @2, $3, $5)))
			YYABORT;
		$$->cond = $1;
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

/* An operator node; false (NULL) past the limit on the AST's size. */
static Node *arith(ParseCtx *ctx, NodeKind kind, int op, Loc loc, Loc op_loc, Node *l, Node *r)
{
	if (kind != N_ADD && ++ctx->narith > GEQC_MAX_LAYERS) {
		error_at(ctx->d, op_loc,
		        "more than %d operators in the file, geqc's limit (GEQC_MAX_LAYERS)",
		        GEQC_MAX_LAYERS);
		return NULL;
	}
	Node *n = leaf(ctx, kind, loc);
	n->op = op;
	n->name_loc = op_loc;
	n->lhs = l;
	n->rhs = r;
	return n;
}

static Stmt *control(ParseCtx *ctx, StmtKind kind, Loc loc, Node *expr, Stmt *body, Stmt *alt)
{
	Stmt *s = arena_alloc(ctx->arena, sizeof *s);
	*s = (Stmt){.kind = kind, .loc = loc, .expr = expr, .body = body, .alt = alt};
	return s;
}

static void block_add(ParseCtx *ctx, const char *name, Loc loc, BlockParam *params, Stmt *body)
{
	BlockDecl *b = arena_alloc(ctx->arena, sizeof *b);
	*b = (BlockDecl){.name = name, .loc = loc, .params = params, .body = body};
	b->order = ctx->ndecls++;
	*ctx->block_tail = b;
	ctx->block_tail = &b->next;
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
	ctx->prog->model_order = ctx->ndecls++;
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
	static const int after_body[] = {T_END, T_GROUP, T_BLOCK, T_MODEL};
	const int *c = open == '{' ? after_body : closers;
	size_t n = open == '{' ? 4 : sizeof closers / sizeof closers[0];
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
	return (Loc){p->last_line, p->last_column + 1, p->last_line, p->last_column + 1, NULL};
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

static bool among(yysymbol_kind_t sym, const int *tokens, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_token(sym, tokens[i]))
			return true;
	return false;
}

/* "expected A, B or C": a whole set of expression starters reads as "expression", the
 * binary operators as "an operator"; end of file is named only when nothing else would. */
static const char *expected_list(const ParseCtx *ctx, const Expected *e)
{
	static const int starters[] = {T_IDENT, T_INT, T_FLOAT, T_TRUE, T_FALSE, '(', '-', '!'};
	static const int binary[] = {'+', '-', '*', '/', '%', '<', '>', T_LE, T_GE, T_EQEQ, T_NE,
	        T_AND, T_OR, '?'};
	const size_t nstart = sizeof starters / sizeof starters[0];
	bool expr = true;
	for (size_t i = 0; i < nstart; i++)
		expr = expr && expects(e, starters[i]);
	bool op = expects(e, '+') && expects(e, '*');
	const char *names[YYNTOKENS + 2];
	int n = 0;
	if (expr)
		names[n++] = "expression";
	for (int i = 0; i < e->n; i++) {
		if ((expr && among(e->sym[i], starters, nstart)) ||
		        (op && among(e->sym[i], binary, sizeof binary / sizeof binary[0])) ||
		        (e->sym[i] == YYSYMBOL_YYEOF && e->n > 1))
			continue;
		names[n++] = yysymbol_name(e->sym[i]);
	}
	if (op)
		names[n++] = "an operator";
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

/* Whether token t (the lookahead or the one before) is the identifier word. */
static bool token_is(const ParseCtx *ctx, const Token *t, const char *word)
{
	size_t n = strlen(word);
	return t->valid && t->len == n && memcmp(ctx->src + t->offset, word, n) == 0;
}

/* Loops and functions as C and Python spell them. */
static const char *hint_control(const ParseCtx *ctx, const Expected *e, yysymbol_kind_t la)
{
	static const char loop[] = ": a loop is written 'for i in 0..7 { ... }' (from 0 up to 6, "
	                           "as Python's range(0, 7)); it runs at compile time";
	static const char *const defs[] = {"def", "function", "func", "fn", "void"};
	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
		if (expects(e, T_BLOCK) && token_is(ctx, &ctx->tok, defs[i]))
			return ": a new operation is declared as 'block NAME(x, C, s=1) { ... return "
			       "...; }'";
	if (expects(e, '=') && is_token(la, '(') && token_is(ctx, &ctx->prev, "while"))
		return loop;
	if (expects(e, '=') && is_token(la, '(') && token_is(ctx, &ctx->prev, "elif"))
		return ": write 'else if (...) { ... }'";
	if (expects(e, T_IN) || (token_is(ctx, &ctx->prev, "for") && is_token(la, '(')))
		return loop;
	if (expects(e, T_DOTDOT))
		return ": a range is written 'A..B', from A up to B-1 (as Python's range(A, B))";
	if (expects(e, '(') && e->n == 1 && token_is(ctx, &ctx->prev, "if"))
		return ": the condition goes in parentheses, as in C: if (s != 1) { ... }";
	if (expects(e, '{') && is_token(la, ':'))
		return ": a body goes in braces, as in C: { ... }";
	return "";
}

/* A hint for the likely mistake behind an error, or "". */
static const char *hint(const ParseCtx *ctx, const Expected *e, yysymbol_kind_t la)
{
	static const int keywords[] = {T_GROUP, T_MODEL, T_ON, T_RETURN, T_TRUE, T_FALSE, T_BLOCK,
	        T_FOR, T_IN, T_IF, T_ELSE};
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (is_token(la, keywords[i]) && expects(e, T_IDENT))
			return arena_printf(ctx->arena, " (%s is a keyword)", yysymbol_name(la));
	const char *h = hint_control(ctx, e, la);
	if (*h || e->n != 1)
		return h;
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
	ctx.block_tail = &ctx.prog->blocks;
	yyscan_t scanner;
	if (yylex_init(&scanner) != 0) /* out of memory: exit 2, as arena_alloc does */
		out_of_memory();
	YY_BUFFER_STATE buf = yy_scan_bytes(src, (int)srclen, scanner);
	int rc = yyparse(scanner, &ctx);
	yy_delete_buffer(buf, scanner);
	yylex_destroy(scanner);
	return rc == 0 ? ctx.prog : NULL;
}
