/* emit_c.c: the model as specialised C, model.c + model.h, calling the runtime geqrt.h.
 * Everything is planned here, at compile time: which layers run (those the output
 * needs), which bn folds into the conv before it, and one workspace in which a value's
 * buffer is reused once its last reader ran (elementwise ops overwrite an input that
 * dies there). The generated forward is a flat list of runtime calls on constant shapes
 * and offsets; only m_new and m_load allocate. Convolutions run as gq_conv plans (packed
 * filters, a relu that reads only the conv's output fused into it), and a batch is split
 * over the runtime's threads, each with its own workspace. */
#include "geqc.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { ALIGN = 16 };                  /* floats: buffers start on 64-byte boundaries */
enum { GROUP = 4 };                   /* images a thread runs layer by layer together */
enum { IN_SLOT = -1, OUT_SLOT = -2 }; /* the caller's x and y, outside the workspace */
#define NONE SIZE_MAX

/* A buffer of the workspace: holds one value, or a chain of values that elementwise
 * ops wrote over each other. Live from the layer that first writes it to its last read. */
typedef struct Slot {
	int start, end;
	size_t size, off;
	bool out; /* holds the model's output: lives in the caller's y instead */
} Slot;

typedef struct Plan {
	const Model *m;
	const char *pfx; /* the model's name: every external symbol starts with it */
	char *up;        /* the same in upper case, for macros */
	bool *live;      /* per layer: the output depends on it */
	int *nread;      /* per value: reads by live layers */
	int *last;       /* per value: the last live layer reading it, or -1 */
	int *slot;       /* per value: its Slot, IN_SLOT or OUT_SLOT */
	int *fold;       /* per layer: a conv's folded bn, a folded bn's conv, or -1 */
	int *fuse;       /* per layer: a conv's fused relu, a fused relu's conv, or -1 */
	int *over;       /* per layer: the operand an elementwise op overwrites, or -1 */
	int *param0;     /* per layer: its first tensor in the parameter table */
	size_t *woff;    /* per layer: its weights (bn: scale) in the parameter block */
	size_t *boff;    /* per layer: its bias (bn: shift), or NONE */
	Slot *slots;
	int nslots;
	size_t values;  /* floats of the value buffers */
	size_t ws;      /* floats of the workspace before the conv scratch */
	size_t params;  /* floats of the parameter block */
	size_t raw;     /* floats of every tensor as the file holds them */
	int nparams;    /* tensors in the file */
	bool need_elem; /* a lift or gconv expands its filters over the group */
	int nconv;      /* live convolutions: each needs scratch */
} Plan;

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

static size_t numel(Shape s)
{
	return (size_t)shape_numel(s);
}

/* A conv's channel counts as the runtime sees them: a G-map is c*g planes. */
static int conv_cin(const Layer *L)
{
	return L->in_shape.c * L->in_shape.g;
}

static int conv_cout(const Layer *L)
{
	return L->out_shape.c * L->out_shape.g;
}

static size_t tensor_numel(const Tensor *t)
{
	size_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= (size_t)t->dim[i];
	return n;
}

/* ---- planning ---- */

/* Layers the output does not depend on are never run (their weights are still loaded,
 * strictly, as the PyTorch module has them). */
static void plan_live(Plan *P)
{
	const Model *m = P->m;
	bool *need = xcalloc(m->nvalues, sizeof *need);
	need[m->output] = true;
	for (int i = m->nlayers - 1; i >= 0; i--) {
		const Layer *L = &m->layer[i];
		if (!need[L->out])
			continue;
		P->live[i] = true;
		for (int j = 0; j < L->nin; j++)
			need[L->in[j]] = true;
	}
	free(need);
	for (int v = 0; v < m->nvalues; v++)
		P->last[v] = -1;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		for (int j = 0; P->live[i] && j < L->nin; j++) {
			P->nread[L->in[j]]++;
			P->last[L->in[j]] = i;
		}
	}
}

/* The layer that produces value v (> 0). */
static int producer(const Model *m, int v)
{
	for (int i = v - 1; i >= 0 && i < m->nlayers; i--)
		if (m->layer[i].out == v)
			return i;
	return -1;
}

/* A bn folds into the conv whose output only it reads: the conv then writes the bn's
 * value directly, with scaled filters and a shifted bias. */
static void plan_fold(Plan *P)
{
	const Model *m = P->m;
	for (int i = 0; i < m->nlayers; i++)
		P->fold[i] = -1;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		int v = L->in[0];
		if (!P->live[i] || !op_has(L->op, P_FOLDS) || v == 0 || v == m->output ||
		        P->nread[v] != 1)
			continue;
		int c = producer(m, v);
		if (c >= 0 && P->live[c] && op_has(m->layer[c].op, P_CONV)) {
			P->fold[i] = c;
			P->fold[c] = i;
		}
	}
}

/* The conv that writes value v, directly or through the bn folded into it, or -1. */
static int conv_writing(const Plan *P, int v)
{
	int c = v > 0 ? producer(P->m, v) : -1;
	if (c >= 0 && op_has(P->m->layer[c].op, P_FOLDS) && P->fold[c] >= 0)
		c = P->fold[c];
	return c >= 0 && P->live[c] && op_has(P->m->layer[c].op, P_CONV) ? c : -1;
}

/* A relu that overwrites the output of a conv, its only reader, runs in the conv's
 * epilogue: the value is clamped in registers before it is ever stored. */
static void plan_fuse(Plan *P)
{
	const Model *m = P->m;
	for (int i = 0; i < m->nlayers; i++)
		P->fuse[i] = -1;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		int v = L->in[0], c = op_has(L->op, P_FUSES) ? conv_writing(P, v) : -1;
		if (!P->live[i] || c < 0 || P->over[i] < 0 || P->nread[v] != 1 || P->fuse[c] >= 0)
			continue;
		P->fuse[i] = c;
		P->fuse[c] = i;
	}
}

static int new_slot(Plan *P, int start, size_t n)
{
	Slot *s = &P->slots[P->nslots];
	s->start = s->end = start;
	s->size = align_up(n);
	return P->nslots++;
}

static void join(Plan *P, int v, int s)
{
	P->slot[v] = s;
	if (P->last[v] > P->slots[s].end)
		P->slots[s].end = P->last[v];
}

/* Whether operand v's buffer is free once layer i has read it. */
static bool dies_at(const Plan *P, int v, int i)
{
	return v != 0 && P->slots[P->slot[v]].end == i;
}

/* The operand an elementwise layer may overwrite (its buffer dies there), or -1. */
static int overwritable(const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	for (int j = 0; op_has(L->op, P_OVERWRITE) && j < L->nin; j++)
		if (dies_at(P, L->in[j], i))
			return j;
	return -1;
}

/* Gives every value a buffer: its operand's when it overwrites it, else a new one. */
static void plan_slots(Plan *P)
{
	const Model *m = P->m;
	P->slot[0] = IN_SLOT;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		P->over[i] = -1;
		if (!P->live[i])
			continue;
		if (op_has(L->op, P_FOLDS) && P->fold[i] >= 0) {
			join(P, L->out, P->slot[L->in[0]]);
			continue;
		}
		P->over[i] = overwritable(P, i);
		if (P->over[i] >= 0)
			join(P, L->out, P->slot[L->in[P->over[i]]]);
		else
			join(P, L->out, new_slot(P, i, numel(L->out_shape)));
	}
	if (m->output == 0)
		return;
	int s = P->slot[m->output];
	P->slots[s].out = true;
	for (int v = 1; v < m->nvalues; v++)
		if (P->slot[v] == s)
			P->slot[v] = OUT_SLOT;
}

static bool overlap(const Slot *a, const Slot *b)
{
	return a->start <= b->end && b->start <= a->end;
}

static int by_offset(const void *a, const void *b)
{
	const Slot *x = *(const Slot *const *)a, *y = *(const Slot *const *)b;
	return (x->off > y->off) - (x->off < y->off);
}

/* The lowest offset where slot s fits beside every placed slot live at the same time. */
static size_t first_fit(const Plan *P, int s, const Slot **busy)
{
	int n = 0;
	for (int t = 0; t < s; t++)
		if (!P->slots[t].out && overlap(&P->slots[t], &P->slots[s]))
			busy[n++] = &P->slots[t];
	qsort(busy, n, sizeof *busy, by_offset);
	size_t off = 0;
	for (int t = 0; t < n && off + P->slots[s].size > busy[t]->off; t++)
		off = max_size(off, busy[t]->off + busy[t]->size);
	return off;
}

static void plan_pack(Plan *P)
{
	const Slot **busy = xcalloc(P->nslots, sizeof *busy);
	for (int s = 0; s < P->nslots; s++) {
		if (P->slots[s].out)
			continue;
		P->slots[s].off = first_fit(P, s, busy);
		P->values = max_size(P->values, P->slots[s].off + P->slots[s].size);
	}
	free(busy);
	P->ws = P->values;
}

static size_t take(size_t *top, size_t n)
{
	size_t off = *top;
	*top += align_up(n);
	return off;
}

/* Where each live layer keeps what it needs from the file: expanded (and folded) conv
 * filters and biases, a bn's folded scale and shift, a linear's weights. */
static void plan_params(Plan *P)
{
	const Model *m = P->m;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		P->param0[i] = P->nparams;
		P->nparams += L->nparams;
		for (int t = 0; t < L->nparams; t++)
			P->raw += tensor_numel(&L->param[t]);
		P->woff[i] = P->boff[i] = NONE;
		if (!P->live[i])
			continue;
		if (op_has(L->op, P_CONV)) {
			size_t k2 = (size_t)L->k * L->k;
			P->woff[i] = take(&P->params, (size_t)conv_cout(L) * conv_cin(L) * k2);
			if (L->bias || P->fold[i] >= 0)
				P->boff[i] = take(&P->params, conv_cout(L));
			P->need_elem |= L->out_shape.kind == K_GMAP;
			P->nconv++;
		} else if (L->op == OP_BN && P->fold[i] < 0) {
			P->woff[i] = take(&P->params, L->in_shape.c);
			P->boff[i] = take(&P->params, L->in_shape.c);
		} else if (L->op == OP_LINEAR) {
			P->woff[i] = take(&P->params, tensor_numel(&L->param[0]));
			if (L->bias)
				P->boff[i] = take(&P->params, L->C);
		}
	}
}

static void plan_init(Plan *P, const Model *m)
{
	memset(P, 0, sizeof *P);
	P->m = m;
	P->pfx = m->name;
	size_t n = strlen(m->name);
	P->up = xcalloc(n + 1, 1);
	for (size_t i = 0; i < n; i++)
		P->up[i] = (char)toupper((unsigned char)m->name[i]);
	int nl = m->nlayers, nv = m->nvalues;
	P->live = xcalloc(nl, sizeof *P->live);
	P->fold = xcalloc(nl, sizeof *P->fold);
	P->fuse = xcalloc(nl, sizeof *P->fuse);
	P->over = xcalloc(nl, sizeof *P->over);
	P->param0 = xcalloc(nl, sizeof *P->param0);
	P->woff = xcalloc(nl, sizeof *P->woff);
	P->boff = xcalloc(nl, sizeof *P->boff);
	P->slots = xcalloc(nl, sizeof *P->slots);
	P->nread = xcalloc(nv, sizeof *P->nread);
	P->last = xcalloc(nv, sizeof *P->last);
	P->slot = xcalloc(nv, sizeof *P->slot);
	plan_live(P);
	plan_fold(P);
	plan_slots(P);
	plan_fuse(P);
	plan_pack(P);
	plan_params(P);
}

static void plan_free(Plan *P)
{
	free(P->up);
	free(P->live);
	free(P->fold);
	free(P->fuse);
	free(P->over);
	free(P->param0);
	free(P->woff);
	free(P->boff);
	free(P->slots);
	free(P->nread);
	free(P->last);
	free(P->slot);
}

/* ---- text helpers ---- */

/* Text from outside (the command line, the .geq source) made safe inside a C comment. */
static void put_comment_text(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i] && s[i] != '\n'; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\t')
			ch = ' ';
		else if (ch < 0x20 || ch >= 0x7f)
			ch = '?';
		fputc(ch, f);
		/* neither end nor open a comment */
		if ((ch == '*' || ch == '/') && i + 1 < n && (s[i + 1] == '/' || s[i + 1] == '*'))
			fputc(' ', f);
	}
}

static void put_shape(FILE *f, Shape s)
{
	char buf[SHAPE_DIMS_MAX];
	fprintf(f, "[%s] %s", shape_dims(s, buf), kind_name(s.kind));
}

static void put_elements(FILE *f, const Group *G, unsigned mask)
{
	const char *sep = "";
	for (int a = 0; a < G->n; a++) {
		if (mask & (1u << G->elem[a])) {
			fprintf(f, "%s%s", sep, d4_name[G->elem[a]]);
			sep = ", ";
		}
	}
}

static unsigned exact_mask(const Model *m, const Lint *l)
{
	return (l ? l->exact : 1u) & m->group.mask;
}

static void put_verdict(FILE *f, const Model *m, const Lint *l)
{
	unsigned exact = exact_mask(m, l), broken = m->group.mask & ~exact;
	fputs("exact for ", f);
	put_elements(f, &m->group, exact);
	if (!broken) {
		fputs(" (the whole group)", f);
		return;
	}
	fputs("; broken for ", f);
	put_elements(f, &m->group, broken);
}

/* The buffer expression of value v inside m_forward. */
static void put_buf(FILE *f, const Plan *P, int v)
{
	int s = P->slot[v];
	if (s == IN_SLOT)
		fputs("in", f);
	else if (s == OUT_SLOT)
		fputs("out", f);
	else
		fprintf(f, "ws + %zu", P->slots[s].off);
}

/* ---- model.h ---- */

static void emit_size_macros(FILE *h, const Plan *P, const char *io, Shape s)
{
	fprintf(h, "#define %s_%s_C    %d\n", P->up, io, s.c);
	if (s.kind != K_IMAGE)
		fprintf(h, "#define %s_%s_G    %d\n", P->up, io, s.g);
	fprintf(h, "#define %s_%s_H    %d\n", P->up, io, s.h);
	fprintf(h, "#define %s_%s_W    %d\n", P->up, io, s.w);
	fprintf(h, "#define %s_%s_SIZE %lld\n", P->up, io, shape_numel(s));
}

static void emit_header(FILE *h, const Plan *P, const char *hname, const char *cmdline)
{
	const Model *m = P->m;
	const char *p = P->pfx;
	fprintf(h, "/* The embeddable API of the G-CNN %s, generated by geqc %s from\n * `", p,
	        GEQC_VERSION);
	put_comment_text(h, cmdline, strlen(cmdline));
	/* model.c beside model.h */
	int stem = (int)(strlen(hname) > 2 ? strlen(hname) - 2 : strlen(hname));
	fputs("`. Do not edit: regenerate it.\n * Link with the runtime: cc app.c ", h);
	put_comment_text(h, hname, (size_t)stem);
	fputs(".c $(pkg-config --cflags --libs geqrt) */\n", h);
	fprintf(h, "#ifndef GEQC_%s_H\n#define GEQC_%s_H\n\n", P->up, P->up);
	fputs("#include <stddef.h>\n\n#include \"geqrt.h\"\n\n", h);
	fputs("#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n", h);
	fputs("/* The input of one batch element: float32 [C, H, W]. */\n", h);
	emit_size_macros(h, P, "IN", m->input);
	fputs("/* The output of one batch element: ", h);
	put_shape(h, m->value[m->output]);
	fputs(",\n * laid out [C, G, H, W] row-major. */\n", h);
	emit_size_macros(h, P, "OUT", m->value[m->output]);
	fprintf(h, "\ntypedef struct %s_net %s_net;\n\n", p, p);
	fprintf(h, "/* Allocates the network and its planned workspace, or returns NULL. */\n");
	fprintf(h, "%s_net *%s_new(void);\n", p, p);
	fprintf(h,
	        "/* Loads weights from a safetensors file, strictly: every tensor with its shape,\n"
	        " * no other. Returns 0, or -1 with the reason in err. */\n");
	fprintf(h,
	        "int %s_load(%s_net *n, const char *safetensors_path, char *err, size_t errlen);\n",
	        p, p);
	fprintf(h,
	        "/* y[b] = model(x[b]) for b < batch (%s_IN_SIZE and %s_OUT_SIZE floats each).\n"
	        " * Never allocates. Several nets may run on several threads at once; one net\n"
	        " * runs one call at a time (its workspace is its own). Returns 0; -1 if no\n"
	        " * weights were loaded; GQ_EBUSY (-2), having done nothing, if another thread\n"
	        " * is running this net. */\n",
	        P->up, P->up);
	fprintf(h, "int %s_forward(%s_net *n, const float *x, int batch, float *y);\n", p, p);
	fprintf(h, "void %s_free(%s_net *n);\n\n", p, p);
	fprintf(h, "/* The model as the runtime's driver (gq_main) sees it. */\n");
	fprintf(h, "extern const gq_model %s_model;\n\n", p);
	fprintf(h, "#ifdef __cplusplus\n}\n#endif\n#endif\n");
}

/* ---- model.c: tables and the net ---- */

static void emit_banner(FILE *c, const Plan *P, const Lint *l, const char *cmdline)
{
	const Model *m = P->m;
	fprintf(c, "/* The G-CNN %s on %s (", P->pfx, m->group.name);
	put_elements(c, &m->group, m->group.mask);
	fprintf(c, "), generated by geqc %s from\n * `", GEQC_VERSION);
	put_comment_text(c, cmdline, strlen(cmdline));
	fputs("`. Do not edit: regenerate it.\n * Lint: ", c);
	put_verdict(c, m, l);
	fputs(".\n * Input ", c);
	put_shape(c, m->input);
	fputs(", output ", c);
	put_shape(c, m->value[m->output]);
	int nvals = 0;
	for (int v = 1; v < m->nvalues; v++)
		nvals += P->slot[v] >= 0;
	int nbufs = P->nslots - (m->output != 0);
	fprintf(c,
	        ".\n * Workspace: %zu floats for %d value%s in %d buffer%s (a buffer is reused "
	        "once "
	        "its\n * value's last reader ran), then the conv scratch. */\n",
	        P->values, nvals, nvals == 1 ? "" : "s", nbufs, nbufs == 1 ? "" : "s");
	if (strcmp(P->pfx, "gq") == 0)
		fputs("#error \"a model named gq clashes with the runtime's gq_ names\"\n", c);
}

static void emit_tables(FILE *c, const Plan *P)
{
	const Model *m = P->m;
	fputs("/* The tensors of the weights file (SPEC names and shapes), in layer order. */\n",
	        c);
	fprintf(c, "enum { NPARAMS = %d };\n", P->nparams);
	fputs("static const gq_param params[NPARAMS + 1] = {\n", c);
	for (int i = 0; i < m->nlayers; i++) {
		for (int t = 0; t < m->layer[i].nparams; t++) {
			const Tensor *T = &m->layer[i].param[t];
			fprintf(c, "\t{\"%s\", %d, {", T->name, T->ndim);
			for (int d = 0; d < T->ndim; d++)
				fprintf(c, "%s%d", d ? ", " : "", T->dim[d]);
			fputs("}},\n", c);
		}
	}
	fputs("\t{NULL, 0, {0}},\n};\n\n", c);
	fputs("/* The group axis: ", c);
	put_elements(c, &m->group, m->group.mask);
	fprintf(c, " */\nenum { NG = %d };\n", m->group.n);
	if (P->need_elem) {
		fputs("static const int elem[NG] = {", c);
		for (int a = 0; a < m->group.n; a++)
			fprintf(c, "%s%d", a ? ", " : "", m->group.elem[a]);
		fputs("};\n", c);
	}
	fputs("\n", c);
	if (!P->need_elem)
		fputs("/* (no lift or gconv: nothing is expanded over the group) */\n\n", c);
	fprintf(c, "enum { WS_FLOATS = %zu, PARAM_FLOATS = %zu, RAW_FLOATS = %zu };\n", P->ws,
	        P->params, P->raw);
	fprintf(c,
	        "/* Images a thread runs together (gq_run_batch), WS_FLOATS of value buffers "
	        "each. */\n"
	        "enum { GROUP = %d, VSTRIDE = %zu };\n\n",
	        GROUP, align_up(P->ws + 1));
}

static void emit_member(FILE *c, const Layer *L, const char *suffix, const char *what)
{
	fprintf(c, "\tfloat *%s_%s; /* %s */\n", L->name, suffix, what);
}

static void emit_struct(FILE *c, const Plan *P)
{
	const Model *m = P->m;
	fprintf(c, "struct %s_net {\n", P->pfx);
	fputs("\tgq_batch run; /* the steps, and each thread's workspace and scratch */\n"
	      "\tfloat *mem;   /* the parameter block; the pointers below point into it */\n"
	      "\tint loaded;\n",
	        c);
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		if (P->woff[i] == NONE)
			continue;
		if (op_has(L->op, P_CONV)) {
			char what[160];
			snprintf(what, sizeof what, "[%d, %d, %d, %d]%s%s%s", conv_cout(L),
			        conv_cin(L), L->k, L->k,
			        L->out_shape.kind == K_GMAP ? ", expanded over the group" : "",
			        P->fold[i] >= 0 ? ", folded with " : "",
			        P->fold[i] >= 0 ? m->layer[P->fold[i]].name : "");
			emit_member(c, L, "w", what);
			fprintf(c,
			        "\tgq_conv *%s_conv; /* the same, packed for the kernel%s%s */\n",
			        L->name, P->fuse[i] >= 0 ? "; relu fused: " : "",
			        P->fuse[i] >= 0 ? m->layer[P->fuse[i]].name : "");
		} else {
			char what[64];
			if (L->op == OP_BN)
				snprintf(what, sizeof what, "[%d]: batch norm as x*scale + shift",
				        L->in_shape.c);
			else
				snprintf(what, sizeof what, "[%d, %lld]", L->C,
				        shape_numel(L->in_shape));
			emit_member(c, L, L->op == OP_BN ? "scale" : "w", what);
		}
		char what[64];
		snprintf(what, sizeof what, "[%d]",
		        op_has(L->op, P_CONV) ? conv_cout(L)
		        : L->op == OP_BN      ? L->in_shape.c
		                              : L->C);
		if (P->boff[i] != NONE)
			emit_member(c, L, L->op == OP_BN ? "shift" : "b", what);
	}
	fputs("};\n\n", c);
}

/* ---- model.c: one function per layer ---- */

/* The call as written in the source: its first line if it spans several. */
static void quote_source(FILE *c, const Diag *src, Loc loc)
{
	const char *s = src->src, *end = s + src->srclen;
	for (int line = 1; s < end && line < loc.first_line; s++)
		line += *s == '\n';
	if (loc.first_line < 1 || loc.first_column < 1 || loc.first_column > end - s)
		return;
	const char *from = s + (loc.first_column - 1);
	size_t n = (size_t)(end - from);
	if (loc.last_line == loc.first_line && loc.last_column >= loc.first_column &&
	        (size_t)(loc.last_column - loc.first_column + 1) < n)
		n = (size_t)(loc.last_column - loc.first_column + 1);
	fputs(": ", c);
	put_comment_text(c, from, n);
}

/* What a conv absorbed, each part after sep: "; bn1 folded in; relu1 fused". */
static void put_merged(FILE *c, const Plan *P, int i, const char *sep)
{
	if (op_has(P->m->layer[i].op, P_CONV) && P->fold[i] >= 0)
		fprintf(c, "%s%s folded in", sep, P->m->layer[P->fold[i]].name);
	if (op_has(P->m->layer[i].op, P_CONV) && P->fuse[i] >= 0)
		fprintf(c, "%s%s fused", sep, P->m->layer[P->fuse[i]].name);
}

/* The layer's origin: its name, where it is in the .geq file and (given the source) the
 * call as written; then its shapes. */
static void emit_origin(FILE *c, const Plan *P, int i, const Diag *src)
{
	const Layer *L = &P->m->layer[i];
	fprintf(c, "/* %s, ", L->name);
	if (src && src->file) {
		put_comment_text(c, src->file, strlen(src->file));
		fprintf(c, ":%d:%d", L->loc.first_line, L->loc.first_column);
	} else {
		fprintf(c, "line %d:%d", L->loc.first_line, L->loc.first_column);
	}
	if (src && src->src)
		quote_source(c, src, L->loc);
	fputs("\n * ", c);
	for (int j = 0; j < L->nin; j++) {
		fputs(j ? " + " : "", c);
		put_shape(c, P->m->value[L->in[j]]);
	}
	fputs(" -> ", c);
	put_shape(c, L->out_shape);
	if (op_has(L->op, P_CONV))
		fprintf(c, "; k=%d s=%d p=%d d=%d", L->k, L->s, L->p, L->d);
	else if (op_has(L->op, P_POOL))
		fprintf(c, "; k=%d s=%d p=%d", L->k, L->s, L->p);
	put_merged(c, P, i, "; ");
	fputs(" */\n", c);
}

/* The $words of ops.h's C column: the buffers the layer function names, and the layer's
 * sizes and hyperparameters. */
typedef struct CallVars {
	const Layer *L;
	const char *x, *y, *out;
} CallVars;

static bool c_var(FILE *f, const char *w, const void *ctx)
{
	const CallVars *v = ctx;
	const Layer *L = v->L;
	Shape a = L->in_shape;
	const struct {
		const char *w, *s;
	} strs[] = {{"x", v->x}, {"y", v->y}, {"out", v->out}, {"name", L->name},
	        {"mean", L->mode == GPOOL_MEAN ? "true" : "false"}};
	const struct {
		const char *w;
		int val;
	} ints[] = {{"planes", a.c * a.g}, {"h", a.h}, {"w", a.w}, {"hw", a.h * a.w}, {"c", a.c},
	        {"g", a.g}, {"k", L->k}, {"s", L->s}, {"p", L->p}, {"C", L->C}};
	for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
		if (!strcmp(w, strs[i].w) && strs[i].s) {
			fputs(strs[i].s, f);
			return true;
		}
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
		if (!strcmp(w, ints[i].w)) {
			fprintf(f, "%d", ints[i].val);
			return true;
		}
	if (!strcmp(w, "numel"))
		fprintf(f, "%lld", shape_numel(a));
	else if (!strcmp(w, "bias") && L->bias)
		fprintf(f, "n->%s_b", L->name);
	else if (!strcmp(w, "bias"))
		fputs("NULL", f);
	else
		return false;
	return true;
}

/* The layer's runtime call (ops.h's C column) on the buffers x, y and out, if it has one. */
static void emit_call(FILE *c, const Layer *L, const char *x, const char *y, const char *out)
{
	const char *t = op_info[L->op].c;
	if (!*t)
		return;
	fputc('\t', c);
	op_template(c, t, c_var, &(CallVars){L, x, y, out});
	fputs(";\n", c);
}

static void emit_conv(FILE *c, const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	fprintf(c,
	        "static void layer_%s(%s_net *n, const float *in, float *out, float *scratch)\n"
	        "{\n",
	        L->name, P->pfx);
	emit_call(c, L, "in", NULL, "out");
	fputs("}\n\n", c);
}

static void emit_unary(FILE *c, const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	char npar[80] = "";
	if (op_has(L->op, P_PARAMS))
		snprintf(npar, sizeof npar, "%s_net *n, ", P->pfx);
	if (P->over[i] >= 0) {
		fprintf(c, "static void layer_%s(%sfloat *x)\n{\n", L->name, npar);
		emit_call(c, L, "x", NULL, "x");
	} else {
		fprintf(c, "static void layer_%s(%sconst float *in, float *out)\n{\n", L->name,
		        npar);
		if (op_has(L->op, P_INPLACE)) /* the input is still needed: work on a copy */
			fprintf(c, "\tmemcpy(out, in, %lld * sizeof(float));\n",
			        shape_numel(L->in_shape));
		emit_call(c, L, "in", NULL, "out");
	}
	fputs("}\n\n", c);
}

static void emit_add(FILE *c, const Layer *L)
{
	fprintf(c, "static void layer_%s(const float *a, const float *b, float *out)\n{\n",
	        L->name);
	emit_call(c, L, "a", "b", "out");
	fputs("}\n\n", c);
}

/* Whether layer i gets a function: folded bns, fused relus and overwriting flattens are no
 * code. */
static bool has_code(const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	if (!P->live[i] || (op_has(L->op, P_FOLDS) && P->fold[i] >= 0))
		return false;
	if (op_has(L->op, P_FUSES) && P->fuse[i] >= 0)
		return false;
	return !(!*op_info[L->op].c && P->over[i] >= 0);
}

static void emit_layers(FILE *c, const Plan *P, const Diag *src)
{
	for (int i = 0; i < P->m->nlayers; i++) {
		const Layer *L = &P->m->layer[i];
		if (!has_code(P, i))
			continue;
		emit_origin(c, P, i, src);
		if (op_has(L->op, P_CONV))
			emit_conv(c, P, i);
		else if (L->nin == 2)
			emit_add(c, L);
		else
			emit_unary(c, P, i);
	}
}

/* ---- model.c: new, free, load, forward ---- */

static void emit_new(FILE *c, const Plan *P)
{
	const Model *m = P->m;
	const char *p = P->pfx;
	fprintf(c, "%s_net *%s_new(void)\n{\n", p, p);
	fprintf(c, "\t%s_net *n = calloc(1, sizeof *n);\n\tif (!n)\n\t\treturn NULL;\n", p);
	fputs("\tsize_t scratch = 0;\n", c);
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		if (!P->live[i] || !op_has(L->op, P_CONV))
			continue;
		fprintf(c,
		        "\tif (!(n->%s_conv = gq_conv_new(%d, %d, %d, %d, %d, %d, %d, %d, %s))) {\n"
		        "\t\t%s_free(n);\n\t\treturn NULL;\n\t}\n",
		        L->name, conv_cin(L), L->in_shape.h, L->in_shape.w, conv_cout(L), L->k,
		        L->s, L->p, L->d, P->fuse[i] >= 0 ? "true" : "false", p);
		fprintf(c,
		        "\tif (gq_conv_scratch(n->%s_conv) > scratch)\n"
		        "\t\tscratch = gq_conv_scratch(n->%s_conv);\n",
		        L->name, L->name);
	}
	fprintf(c,
	        "\tgq_batch *r = &n->run;\n"
	        "\t*r = (gq_batch){.net = n, .step = step, .step_names = step_names,\n"
	        "\t        .nsteps = NSTEPS, .group = GROUP,\n"
	        "\t        .nthreads = gq_max_threads(), .vstride = VSTRIDE,\n"
	        "\t        .sstride = (scratch + 16) / 16 * 16, .in_size = %s_IN_SIZE,\n"
	        "\t        .out_size = %s_OUT_SIZE};\n"
	        "\tr->ws = calloc((size_t)r->nthreads * GROUP * VSTRIDE, sizeof(float));\n"
	        "\tr->scratch = calloc((size_t)r->nthreads * r->sstride, sizeof(float));\n"
	        "\tn->mem = calloc(PARAM_FLOATS + 1, sizeof(float));\n"
	        "\tif (!r->ws || !r->scratch || !n->mem) {\n\t\t%s_free(n);\n\t\treturn "
	        "NULL;\n\t}\n",
	        P->up, P->up, p);
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		bool bn = L->op == OP_BN;
		if (P->woff[i] != NONE)
			fprintf(c, "\tn->%s_%s = n->mem + %zu;\n", L->name, bn ? "scale" : "w",
			        P->woff[i]);
		if (P->boff[i] != NONE)
			fprintf(c, "\tn->%s_%s = n->mem + %zu;\n", L->name, bn ? "shift" : "b",
			        P->boff[i]);
	}
	fputs("\treturn n;\n}\n\n", c);
	fprintf(c, "void %s_free(%s_net *n)\n{\n\tif (!n)\n\t\treturn;\n", p, p);
	for (int i = 0; i < m->nlayers; i++)
		if (P->live[i] && op_has(m->layer[i].op, P_CONV))
			fprintf(c, "\tgq_conv_free(n->%s_conv);\n", m->layer[i].name);
	fputs("\tfree(n->run.ws);\n\tfree(n->run.scratch);\n\tfree(n->mem);\n\tfree(n);\n}\n\n", c);
}

static void emit_load_conv_weights(FILE *c, const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	int t = P->param0[i], C = L->C, cin = L->in_shape.c;
	if (L->op == OP_CONV) {
		fprintf(c, "\tmemcpy(n->%s_w, t[%d], %zu * sizeof(float));\n", L->name, t,
		        tensor_numel(&L->param[0]));
		if (L->bias)
			fprintf(c, "\tmemcpy(n->%s_b, t[%d], %d * sizeof(float));\n", L->name,
			        t + 1, C);
		else if (P->boff[i] != NONE)
			fprintf(c, "\tmemset(n->%s_b, 0, %d * sizeof(float));\n", L->name, C);
	} else {
		fprintf(c, "\tgq_expand_%s(n->%s_w, t[%d], %d, %d, %d, elem, NG);\n",
		        L->op == OP_LIFT ? "lift" : "gconv", L->name, t, C, cin, L->k);
		if (P->boff[i] != NONE) {
			fprintf(c, "\tgq_expand_bias(n->%s_b, ", L->name);
			if (L->bias)
				fprintf(c, "t[%d]", t + 1);
			else
				fputs("NULL", c);
			fprintf(c, ", %d, NG);\n", C);
		}
	}
	int b = P->fold[i];
	if (b < 0)
		return;
	const Layer *B = &P->m->layer[b];
	fprintf(c,
	        "\tif (gq_bn_fold_into_conv(n->%s_w, n->%s_b, %zu, %d, %d, t + %d, %.9gf, \"%s\", "
	        "err,\n\t        errlen))\n\t\treturn -1;\n",
	        L->name, L->name, (size_t)conv_cin(L) * L->k * L->k, C, L->out_shape.g,
	        P->param0[b], B->eps, B->name);
}

/* The filters expanded (and folded), then packed for the kernel. */
static void emit_load_conv(FILE *c, const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	emit_load_conv_weights(c, P, i);
	fprintf(c, "\tgq_conv_set(n->%s_conv, n->%s_w, ", L->name, L->name);
	if (P->boff[i] != NONE)
		fprintf(c, "n->%s_b);\n", L->name);
	else
		fputs("NULL);\n", c);
}

static void emit_load_layer(FILE *c, const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	int t = P->param0[i];
	if (op_has(L->op, P_CONV)) {
		emit_load_conv(c, P, i);
	} else if (L->op == OP_BN) {
		fprintf(c,
		        "\tif (gq_bn_check_var(t[%d], %d, %.9gf, \"%s\", err, errlen))\n"
		        "\t\treturn -1;\n",
		        t + 3, L->in_shape.c, L->eps, L->name);
		fprintf(c,
		        "\tgq_bn_fold(n->%s_scale, n->%s_shift, t[%d], t[%d], t[%d], t[%d], %d, "
		        "%.9gf);\n",
		        L->name, L->name, t, t + 1, t + 2, t + 3, L->in_shape.c, L->eps);
	} else if (L->op == OP_LINEAR) {
		fprintf(c, "\tmemcpy(n->%s_w, t[%d], %zu * sizeof(float));\n", L->name, t,
		        tensor_numel(&L->param[0]));
		if (L->bias)
			fprintf(c, "\tmemcpy(n->%s_b, t[%d], %d * sizeof(float));\n", L->name,
			        t + 1, L->C);
	}
}

static void emit_load(FILE *c, const Plan *P)
{
	const Model *m = P->m;
	const char *p = P->pfx;
	fputs("/* Takes the file's tensors (params order) and keeps them as the layers use them:\n"
	      " * expanded over the group, batch norms folded. */\n",
	        c);
	fputs("static int load_raw(void *net, const float *const *t, char *err, size_t "
	      "errlen)\n{\n",
	        c);
	fprintf(c, "\t%s_net *n = net;\n", p);
	bool any = false;
	for (int i = 0; i < m->nlayers; i++) {
		if (P->woff[i] != NONE) {
			emit_load_layer(c, P, i);
			any = true;
		}
	}
	if (!any)
		fputs("\t(void)t;\n", c);
	fputs("\t(void)err;\n\t(void)errlen;\n\tn->loaded = 1;\n\treturn 0;\n}\n\n", c);

	fprintf(c,
	        "int %s_load(%s_net *n, const char *safetensors_path, char *err, size_t errlen)\n"
	        "{\n",
	        p, p);
	fputs("\tfloat *t[NPARAMS + 1] = {0}, *raw = malloc((RAW_FLOATS + 1) * sizeof(float));\n"
	      "\tif (!raw) {\n"
	      "\t\tsnprintf(err, errlen, \"%s: out of memory\", safetensors_path);\n"
	      "\t\treturn -1;\n"
	      "\t}\n"
	      "\tsize_t off = 0;\n"
	      "\tfor (int i = 0; i < NPARAMS; i++) {\n"
	      "\t\tt[i] = raw + off;\n"
	      "\t\tsize_t numel = 1;\n"
	      "\t\tfor (int d = 0; d < params[i].ndim; d++)\n"
	      "\t\t\tnumel *= (size_t)params[i].dim[d];\n"
	      "\t\toff += numel;\n"
	      "\t}\n"
	      "\tint rc = gq_load_safetensors(safetensors_path, params, NPARAMS, t, NULL, err, "
	      "errlen);\n"
	      "\tchar why[256];\n"
	      "\tif (rc == 0 && (rc = load_raw(n, (const float *const *)t, why, sizeof why)))\n"
	      "\t\tsnprintf(err, errlen, \"%s: %s\", safetensors_path, why);\n"
	      "\tfree(raw);\n"
	      "\treturn rc;\n"
	      "}\n\n",
	        c);
}

static void emit_forward_step(FILE *c, const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	if (op_has(L->op, P_FOLDS) && P->fold[i] >= 0) {
		fprintf(c, "\t/* %s: folded into %s */\n", L->name, P->m->layer[P->fold[i]].name);
		return;
	}
	if (op_has(L->op, P_FUSES) && P->fuse[i] >= 0) {
		fprintf(c, "\t/* %s: fused into %s */\n", L->name, P->m->layer[P->fuse[i]].name);
		return;
	}
	if (!has_code(P, i)) {
		fprintf(c, "\t/* %s: the same floats, now a vector */\n", L->name);
		return;
	}
	fprintf(c, "\tlayer_%s(", L->name);
	if (op_has(L->op, P_PARAMS))
		fputs("n, ", c);
	if (L->nin == 2) {
		put_buf(c, P, L->in[0]);
		fputs(", ", c);
		put_buf(c, P, L->in[1]);
		fputs(", ", c);
	} else if (P->over[i] < 0) {
		put_buf(c, P, L->in[0]);
		fputs(", ", c);
	}
	put_buf(c, P, L->out);
	fputs(op_has(L->op, P_CONV) ? ", scratch);\n" : ");\n", c);
}

/* What each step runs, for the executable's --profile: the layer and its .geq line. */
static void emit_step_names(FILE *c, const Plan *P)
{
	const Model *m = P->m;
	fputs("static const char *const step_names[] = {\n", c);
	if (m->output == 0)
		fputs("\t\"copy the input\",\n", c);
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		if (!has_code(P, i))
			continue;
		fprintf(c, "\t\"%s, line %d", L->name, L->loc.first_line);
		put_merged(c, P, i, ", ");
		fputs("\",\n", c);
	}
	fputs("\tNULL,\n};\n\n", c);
}

/* The steps of the forward pass: each live layer with code, and the no-code layers after
 * it as comments. step(s) runs step s of one image whose value buffers are at ws. */
static void emit_steps(FILE *c, const Plan *P)
{
	const Model *m = P->m;
	fprintf(c,
	        "/* Step s of one image: its value buffers at ws, scratch for the convolutions. "
	        "*/\n"
	        "static void step(void *net, int s, float *ws, float *scratch, const float *in,\n"
	        "        float *out)\n{\n"
	        "\t%s_net *n = net;\n",
	        P->pfx);
	fputs("\t(void)n, (void)ws, (void)scratch, (void)in, (void)out; /* not all steps use all "
	      "*/\n"
	      "\tswitch (s) {\n",
	        c);
	int n = 0;
	if (m->output == 0)
		fprintf(c, "\tcase %d:\n\t\tmemcpy(out, in, %s_IN_SIZE * sizeof(float));\n", n++,
		        P->up);
	for (int i = 0; i < m->nlayers; i++) {
		if (!P->live[i])
			continue;
		if (has_code(P, i)) {
			fprintf(c, "%s\tcase %d:\n", n ? "\t\tbreak;\n" : "", n);
			n++;
		}
		fputs("\t", c);
		emit_forward_step(c, P, i);
	}
	fputs(n ? "\t\tbreak;\n\t}\n}\n\n" : "\t}\n}\n\n", c);
	fprintf(c, "enum { NSTEPS = %d };\n\n", n);
	emit_step_names(c, P);
}

static void emit_forward(FILE *c, const Plan *P)
{
	const char *p = P->pfx;
	fprintf(c, "int %s_forward(%s_net *n, const float *x, int batch, float *y)\n{\n", p, p);
	fputs("\tif (!n || !n->loaded || batch < 0 || (batch > 0 && (!x || !y)))\n"
	      "\t\treturn -1;\n"
	      "\treturn gq_run_batch(&n->run, x, batch, y);\n}\n\n",
	        c);
}

static void emit_shape_init(FILE *c, const char *field, Shape s)
{
	static const char *const kinds[] = {"0", "GQ_IMAGE", "GQ_GMAP", "0", "GQ_VECTOR"};
	static const char *const acts[] = {
	        "GQ_VA_NONE", "GQ_VA_TRIVIAL", "GQ_VA_GROUP", "GQ_VA_MAP", "GQ_VA_MIXED"};
	fprintf(c, "\t.%s = {%s, %s, %d, %d, %d, %d},\n", field, kinds[s.kind], acts[s.act], s.c,
	        s.g, s.h, s.w);
}

static void emit_descriptor(FILE *c, const Plan *P, const Lint *l)
{
	const Model *m = P->m;
	const char *p = P->pfx;
	fprintf(c, "static void *create(void)\n{\n\treturn %s_new();\n}\n\n", p);
	fprintf(c,
	        "static int forward(void *n, const float *x, int batch, float *y)\n{\n"
	        "\treturn %s_forward(n, x, batch, y);\n}\n\n",
	        p);
	fprintf(c, "static void destroy(void *n)\n{\n\t%s_free(n);\n}\n\n", p);
	fprintf(c, "const gq_model %s_model = {\n\t.name = \"%s\",\n\t.lint_verdict = \"", p, p);
	put_verdict(c, m, l);
	fputs("\",\n", c);
	emit_shape_init(c, "input", m->input);
	emit_shape_init(c, "output", m->value[m->output]);
	fputs("\t.ngroup = NG,\n\t.elem = {", c);
	for (int a = 0; a < m->group.n; a++)
		fprintf(c, "%s%d", a ? ", " : "", m->group.elem[a]);
	fprintf(c, "},\n\t.lint_exact = 0x%02xu,\n", exact_mask(m, l));
	fputs("\t.nparams = NPARAMS,\n\t.params = params,\n\t.create = create,\n"
	      "\t.load_raw = load_raw,\n\t.forward = forward,\n\t.destroy = destroy,\n",
	        c);
	int prod = m->output ? producer(m, m->output) : -1;
	fprintf(c, "\t.ends_softmax = %s,\n};\n\n",
	        prod >= 0 && m->layer[prod].op == OP_SOFTMAX ? "true" : "false");
	fprintf(c,
	        "#ifdef GEQC_MAIN\nint main(int argc, char **argv)\n{\n"
	        "\treturn gq_main(&%s_model, argc, argv);\n}\n#endif\n",
	        p);
}

void emit_c(FILE *c, FILE *h, const char *hname, const Model *m, const Lint *l, const char *cmdline,
        const Diag *src)
{
	Plan P;
	plan_init(&P, m);
	if (!cmdline)
		cmdline = "";
	emit_header(h, &P, hname, cmdline);
	emit_banner(c, &P, l, cmdline);
	fputs("#include <stdbool.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
	      "#include <string.h>\n\n",
	        c);
	fprintf(c, "#include \"%s\"\n\n", hname);
	emit_tables(c, &P);
	emit_struct(c, &P);
	emit_layers(c, &P, src);
	emit_steps(c, &P);
	emit_new(c, &P);
	emit_load(c, &P);
	emit_forward(c, &P);
	emit_descriptor(c, &P, l);
	plan_free(&P);
}
