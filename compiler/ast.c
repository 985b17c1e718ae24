/* ast.c: the arena that owns one compilation's memory, and the AST's small helpers.
 * Everything a pass allocates lives until arena_free, in one call (as QBE's pools), so
 * no pass frees nodes and an error path never leaks. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"

enum { CHUNK = 64 * 1024 };

/* Blocks of memory handed out front to back; a request larger than a chunk gets a block
 * of its own. */
typedef struct Block {
	struct Block *next;
	size_t used, size;
	max_align_t data[]; /* aligned for anything */
} Block;

struct Arena {
	Block *head;
};

_Noreturn void out_of_memory(void)
{
	fputs("geqc: error: out of memory\n", stderr);
	exit(2);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

Arena *arena_new(void)
{
	return xcalloc(1, sizeof(Arena));
}

static Block *block_new(size_t size, Block *next)
{
	if (size > SIZE_MAX - sizeof(Block))
		out_of_memory();
	Block *b = xmalloc(sizeof(Block) + size);
	*b = (Block){.next = next, .size = size};
	return b;
}

void *arena_alloc(Arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	if (n > SIZE_MAX - align)
		out_of_memory();
	n = (n + align - 1) / align * align;
	Block *b = a->head;
	if (!b || b->size - b->used < n) {
		if (n > CHUNK / 4) {
			/* Big requests get a block of their own behind the current one, so the
			 * current block's free space is not wasted. */
			Block *own = block_new(n, b ? b->next : NULL);
			own->used = n;
			if (b)
				b->next = own;
			else
				a->head = own;
			return memset(own->data, 0, n);
		}
		b = a->head = block_new(CHUNK, a->head);
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return memset(p, 0, n);
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory(); /* only an encoding error or EOVERFLOW: neither is ours to fix */
	char *p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void arena_free(Arena *a)
{
	if (!a)
		return;
	for (Block *b = a->head, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

/* ---- the AST ---- */

Node *ast_node(Arena *a, NodeKind kind, Loc loc)
{
	Node *n = arena_alloc(a, sizeof *n);
	n->kind = kind;
	n->loc = loc;
	return n;
}

static void dump_node(FILE *out, const Node *n);

const char *ast_op_spelling(int op)
{
	static const char *const two[] = {"==", "!=", "<=", ">=", "&&", "||"};
	static const char *const one[] = {"+", "-", "*", "/", "%", "<", ">", "!"};
	if (op >= OP2_EQ && op <= OP2_OR)
		return two[op - OP2_EQ];
	const char *p = op > 0 && op < 128 ? strchr("+-*/%<>!", op) : NULL;
	return p ? one[p - "+-*/%<>!"] : "?:";
}

static void dump_args(FILE *out, const Arg *a)
{
	for (; a; a = a->next) {
		fputc(' ', out);
		if (a->kw)
			fprintf(out, "%s=", a->kw);
		dump_node(out, a->val);
	}
}

static void dump_node(FILE *out, const Node *n)
{
	switch (n->kind) {
	case N_INT:
		fprintf(out, "%lld", n->i);
		break;
	case N_FLOAT:
		fprintf(out, "%g", n->f);
		break;
	case N_BOOL:
		fputs(n->i ? "true" : "false", out);
		break;
	case N_NAME:
		fputs(n->name, out);
		break;
	case N_CALL:
		fprintf(out, "(%s", n->name);
		dump_args(out, n->args);
		fputc(')', out);
		break;
	case N_ADD:
	case N_BINARY:
		fprintf(out, "(%s ", ast_op_spelling(n->kind == N_ADD ? '+' : n->op));
		dump_node(out, n->lhs);
		fputc(' ', out);
		dump_node(out, n->rhs);
		fputc(')', out);
		break;
	case N_UNARY:
		fprintf(out, "(%c ", n->op);
		dump_node(out, n->lhs);
		fputc(')', out);
		break;
	case N_COND:
		fputs("(?: ", out);
		dump_node(out, n->cond);
		fputc(' ', out);
		dump_node(out, n->lhs);
		fputc(' ', out);
		dump_node(out, n->rhs);
		fputc(')', out);
		break;
	}
}

/* One statement a line, indented by nesting: `3:5   h (relu h)`, `4:5   for i 0 7`. */
static void dump_stmts(FILE *out, const Stmt *s, int indent)
{
	static const char *const word[] = {"", "return", "for", "if"};
	for (; s; s = s->next) {
		/* as in check.c, a statement without a target is a return */
		const char *what = s->kind != S_ASSIGN ? word[s->kind]
		                   : s->target         ? s->target
		                                       : "return";
		fprintf(out, "%d:%d %*s%s ", s->loc.first_line, s->loc.first_column, 2 * indent, "",
		        what);
		if (s->kind == S_FOR)
			fprintf(out, "%s ", s->target);
		dump_node(out, s->expr);
		if (s->kind == S_FOR) {
			fputc(' ', out);
			dump_node(out, s->hi);
		}
		fputc('\n', out);
		dump_stmts(out, s->body, indent + 1);
		if (s->alt)
			fprintf(out, "%d:%d %*selse\n", s->loc.first_line, s->loc.first_column,
			        2 * indent, "");
		dump_stmts(out, s->alt, indent + 1);
	}
}

static void dump_model(FILE *out, const ModelDecl *m)
{
	fprintf(out, "%d:%d model %s (%s [%lld %lld %lld]) on %s\n", m->loc.first_line,
	        m->loc.first_column, m->name, m->input, m->dims[0]->i, m->dims[1]->i, m->dims[2]->i,
	        m->group);
	dump_stmts(out, m->body, 1);
}

static void dump_block(FILE *out, const BlockDecl *b)
{
	fprintf(out, "%d:%d block %s (", b->loc.first_line, b->loc.first_column, b->name);
	for (const BlockParam *q = b->params; q; q = q->next) {
		fputs(q->name, out);
		if (q->def) {
			fputc('=', out);
			dump_node(out, q->def);
		}
		fputs(q->next ? " " : "", out);
	}
	fputs(")\n", out);
	dump_stmts(out, b->body, 1);
}

void ast_dump(FILE *out, const Program *p)
{
	for (const GroupDecl *g = p->groups; g; g = g->next) {
		fprintf(out, "%d:%d group %s <", g->loc.first_line, g->loc.first_column, g->name);
		for (const Ident *id = g->gens; id; id = id->next)
			fprintf(out, "%s%s", id->name, id->next ? " " : "");
		fputs(">\n", out);
	}
	for (const BlockDecl *b = p->blocks; b; b = b->next)
		dump_block(out, b);
	if (p->model)
		dump_model(out, p->model);
}
