/* plan.c: the planner, the pass between the lint and the emitters. It decides what the
 * emitted C computes where, at compile time: which layers run (those the output needs),
 * which bn folds into the conv before it (P_FOLDS), which relu runs in a conv's epilogue
 * (P_FUSES), which max pool runs on a conv's rows as it writes them (P_ROWS), which two
 * 3x3 convs of a residual block run in one call (plan_pair), and one
 * workspace in which a value's buffer is reused once its last reader
 * ran (an op that may overwrite (P_OVERWRITE) writes over an operand that dies there),
 * packed first-fit; then where each layer's parameters sit in one parameter block.
 * `geqc --dump=plan` prints it (plan_dump). */
#include "geqc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum { ALIGN = 16 }; /* floats: buffers start on 64-byte boundaries */

size_t plan_align(size_t n)
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
int conv_cin(const Layer *L)
{
	return L->in_shape.c * L->in_shape.g;
}

int conv_cout(const Layer *L)
{
	return L->out_shape.c * L->out_shape.g;
}

size_t tensor_size(const Tensor *t)
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
	bool *need = xcalloc((size_t)m->nvalues, sizeof *need);
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
int model_producer(const Model *m, int v)
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
		int c = model_producer(m, v);
		if (c >= 0 && P->live[c] && op_has(m->layer[c].op, P_CONV)) {
			P->fold[i] = c;
			P->fold[c] = i;
		}
	}
}

/* The conv that writes value v, directly or through the bn folded into it or the `+`
 * fused into it, or -1. */
static int conv_writing(const Plan *P, int v)
{
	int c = v > 0 ? model_producer(P->m, v) : -1;
	if (c >= 0 && op_has(P->m->layer[c].op, P_FOLDS) && P->fold[c] >= 0)
		c = P->fold[c];
	if (c >= 0 && P->m->layer[c].op == OP_ADD && P->sum[c] >= 0)
		c = P->sum[c];
	return c >= 0 && P->live[c] && op_has(P->m->layer[c].op, P_CONV) ? c : -1;
}

int plan_sum_operand(const Plan *P, int c)
{
	const Layer *A = &P->m->layer[P->sum[c]];
	return conv_writing(P, A->in[0]) == c ? A->in[1] : A->in[0];
}

/* Whether a live layer in (c, i) reads value v. */
static bool read_between(const Plan *P, int v, int c, int i)
{
	for (int k = c + 1; k < i; k++)
		for (int j = 0; P->live[k] && j < P->m->layer[k].nin; j++)
			if (P->m->layer[k].in[j] == v)
				return true;
	return false;
}

/* A residual `a + b` whose operand a only it reads and a conv writes (directly or through
 * its folded bn) runs in that conv's epilogue (gq_conv_run_sum: oneDNN's "sum" post-op)
 * when b exists before the conv runs: the conv stores conv + bias + b, where it would
 * have stored a, in one pass over memory instead of three (conv, `+`, relu); a relu
 * after the `+` then fuses into the same epilogue (plan_fuse). Measured on ResNet-44 p4
 * at 97x97, each separate `+` and relu took as long as a convolution of the block. */
static void plan_sum(Plan *P)
{
	const Model *m = P->m;
	for (int i = 0; i < m->nlayers; i++)
		P->sum[i] = -1;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		for (int j = 0; P->live[i] && L->op == OP_ADD && j < 2; j++) {
			int a = L->in[j], b = L->in[1 - j], c = conv_writing(P, a);
			if (c < 0 || P->nread[a] != 1 || P->sum[c] >= 0 ||
			        (b != 0 && model_producer(m, b) > c))
				continue;
			P->sum[i] = c;
			P->sum[c] = i;
			break;
		}
	}
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

/* The conv whose epilogue ends in value v: through its folded bn, fused `+` and fused
 * relu; or -1. */
static int conv_ending(const Plan *P, int v)
{
	int r = v > 0 ? model_producer(P->m, v) : -1;
	if (r >= 0 && op_has(P->m->layer[r].op, P_FUSES) && P->fuse[r] >= 0)
		return P->fuse[r];
	return conv_writing(P, v);
}

/* A max pool that reads only the value a conv's epilogue ends in runs inside that conv
 * (gq_conv_run_pool), on the rows the conv has just written, while they are in cache:
 * ResNet-18's pool read back the 3.3 MB its lift had just written, in a pass of its own.
 * Its output is then written while the conv runs, so its buffer lives from the conv on
 * (no buffer that dies between them may share its place). */
static void plan_pool(Plan *P)
{
	const Model *m = P->m;
	for (int i = 0; i < m->nlayers; i++)
		P->pool[i] = -1;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		int v = L->in[0], c = op_has(L->op, P_ROWS) ? conv_ending(P, v) : -1;
		if (!P->live[i] || c < 0 || P->nread[v] != 1 || P->pool[c] >= 0)
			continue;
		P->pool[i] = c;
		P->pool[c] = i;
		for (int s = P->slot[L->out]; s >= 0; s = P->slots[s].parent)
			if (P->slots[s].from > c)
				P->slots[s].from = c;
	}
}

/* Whether L is a conv 3x3, stride 1, pad 1, dilation 1: its output the size of its input. */
static bool same_3x3(const Layer *L)
{
	return op_has(L->op, P_CONV) && L->k == 3 && L->s == 1 && L->p == 1 && L->d == 1 &&
	       L->in_shape.h == L->out_shape.h && L->in_shape.w == L->out_shape.w;
}

/* Whether a live layer strictly between a and b runs code of its own. */
static bool code_between(const Plan *P, int a, int b)
{
	for (int k = a + 1; k < b; k++)
		if (plan_has_code(P, k))
			return true;
	return false;
}

/* A residual block's two convolutions run in one call (gq_conv_run_pair), where the first
 * may store straight into the second's padded copy of its input (no copy of the middle
 * map; runtime/conv_fast.c): conv b, 3x3
 * stride 1 with the block's `+` fused (plan_sum) and no pool, reads only what conv a's
 * epilogue ends in (its folded bn, fused relu), a the same 3x3 on a map of the same size
 * with no pool fused, and nothing runs between them. The middle buffer is live from a to
 * b, so it shares no place with the block's input, output or residual. */
static void plan_pair(Plan *P)
{
	const Model *m = P->m;
	for (int i = 0; i < m->nlayers; i++)
		P->pair[i] = -1;
	for (int b = 0; b < m->nlayers; b++) {
		const Layer *B = &m->layer[b];
		int v = B->in[0], a = P->live[b] && same_3x3(B) ? conv_ending(P, v) : -1;
		if (a < 0 || v == m->output || P->sum[b] < 0 || P->pool[b] >= 0 ||
		        P->nread[v] != 1 || !same_3x3(&m->layer[a]) || P->pool[a] >= 0 ||
		        P->pair[a] >= 0 || code_between(P, a, b))
			continue;
		P->pair[a] = b;
		P->pair[b] = a;
	}
}

static int new_slot(Plan *P, int start, size_t n)
{
	Slot *s = &P->slots[P->nslots];
	s->start = s->end = s->from = start;
	s->size = plan_align(n);
	s->parent = -1;
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

/* The buffer of a conv that adds b = plan_sum_operand in its epilogue: b's own when b
 * dies at the `+` and nothing between reads it (nor the conv itself: its input must not be
 * its output), else a new one. */
static int sum_slot(Plan *P, int c)
{
	int i = P->sum[c], b = plan_sum_operand(P, c);
	if (dies_at(P, b, i) && b != P->m->layer[c].in[0] && !read_between(P, b, c, i))
		return P->slot[b];
	return new_slot(P, c, numel(P->m->layer[c].out_shape));
}

/* Gives every value a buffer: its operand's when it overwrites it, else a new one. */
static void plan_slots(Plan *P)
{
	const Model *m = P->m;
	P->slot[0] = SLOT_IN;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		P->over[i] = -1;
		if (!P->live[i])
			continue;
		if (op_has(L->op, P_FOLDS) && P->fold[i] >= 0) {
			join(P, L->out, P->slot[L->in[0]]);
			continue;
		}
		if (op_has(L->op, P_CONV) && P->sum[i] >= 0) {
			join(P, L->out, sum_slot(P, i));
			continue;
		}
		if (L->op == OP_ADD && P->sum[i] >= 0) { /* the conv wrote it */
			int a = L->in[L->in[0] == plan_sum_operand(P, P->sum[i])];
			join(P, L->out, P->slot[a]);
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
			P->slot[v] = SLOT_OUT;
}

/* Why concat i copies its operand j rather than have it written in its slice, or NULL.
 * The slice must hold the operand's buffer (the chain of values written over each other
 * that ends in the operand) for the buffer's whole life, and nothing may read the
 * operand after the concat, whose value may in turn be written over. */
static const char *concat_copy_reason(const Plan *P, int i, int j)
{
	const Layer *L = &P->m->layer[i];
	int v = L->in[j];
	if (v == 0)
		return "the model's input";
	if (P->slot[L->out] < 0)
		return "the concat is the model's output";
	for (int k = 0; k < j; k++)
		if (L->in[k] == v)
			return "given twice";
	if (P->slot[v] < 0 || P->slots[P->slot[v]].end != i)
		return "read after the concat";
	return NULL;
}

/* A concat does not copy (U-Net skips would double their memory traffic): the buffer of
 * each operand it reads last becomes that operand's slice of the concat's buffer, so its
 * producer, and every layer that wrote over it, writes there directly. The concat's
 * buffer then lives from the first of them; a slice is placed with its buffer. */
static void plan_concat(Plan *P)
{
	const Model *m = P->m;
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		if (!P->live[i] || L->op != OP_CONCAT)
			continue;
		size_t off = 0;
		for (int j = 0; j < L->nin; j++) {
			if (!concat_copy_reason(P, i, j)) {
				int t = P->slot[L->out];
				Slot *s = &P->slots[P->slot[L->in[j]]];
				s->parent = t;
				s->rel = off;
				if (s->from < P->slots[t].from)
					P->slots[t].from = s->from;
				P->slice[i] |= 1u << j;
			}
			off += numel(m->value[L->in[j]]);
		}
	}
}

static bool overlap(const Slot *a, const Slot *b)
{
	return a->from <= b->end && b->from <= a->end;
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
		if (!P->slots[t].out && P->slots[t].parent < 0 &&
		        overlap(&P->slots[t], &P->slots[s]))
			busy[n++] = &P->slots[t];
	qsort(busy, n, sizeof *busy, by_offset);
	size_t off = 0;
	for (int t = 0; t < n && off + P->slots[s].size > busy[t]->off; t++)
		off = max_size(off, busy[t]->off + busy[t]->size);
	return off;
}

static void plan_pack(Plan *P)
{
	const Slot **busy = xcalloc((size_t)P->nslots, sizeof *busy);
	for (int s = 0; s < P->nslots; s++) {
		if (P->slots[s].out || P->slots[s].parent >= 0)
			continue;
		P->slots[s].off = first_fit(P, s, busy);
		P->values = max_size(P->values, P->slots[s].off + P->slots[s].size);
	}
	free(busy);
	for (int s = P->nslots - 1; s >= 0; s--) /* a concat's buffer comes after its slices */
		if (P->slots[s].parent >= 0)
			P->slots[s].off = P->slots[P->slots[s].parent].off + P->slots[s].rel;
	P->ws = P->values;
}

static size_t take(size_t *top, size_t n)
{
	size_t off = *top;
	*top += plan_align(n);
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
			P->raw += tensor_size(&L->param[t]);
		P->woff[i] = P->boff[i] = PLAN_NONE;
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
			P->woff[i] = take(&P->params, tensor_size(&L->param[0]));
			if (L->bias)
				P->boff[i] = take(&P->params, L->C);
		}
	}
}

bool plan_concat_in_place(const Plan *P, int i, int j)
{
	return P->slice[i] >> j & 1u;
}

/* Whether layer i gets a function: folded bns, fused relus, overwriting flattens and
 * dropouts, and concats whose operands were all written in place are no code. */
bool plan_has_code(const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	if (!P->live[i] || (op_has(L->op, P_FOLDS) && P->fold[i] >= 0))
		return false;
	if (L->op == OP_CONCAT)
		return P->slice[i] != (1u << L->nin) - 1;
	if ((op_has(L->op, P_FUSES) && P->fuse[i] >= 0) || (L->op == OP_ADD && P->sum[i] >= 0) ||
	        (op_has(L->op, P_ROWS) && P->pool[i] >= 0))
		return false;
	return !(!*op_info[L->op].c && P->over[i] >= 0);
}

/* Arrays of the plan: per layer or per value, never empty. */
static void *plan_array(Arena *a, int n, size_t size)
{
	return arena_alloc(a, (size_t)(n > 0 ? n : 1) * size);
}

Plan *plan_model(const Model *m, Arena *a)
{
	Plan *P = arena_alloc(a, sizeof *P);
	P->m = m;
	P->pfx = m->name;
	char *up = arena_strndup(a, m->name, strlen(m->name));
	for (char *u = up; *u; u++)
		*u = (char)toupper((unsigned char)*u);
	P->up = up;
	int nl = m->nlayers, nv = m->nvalues;
	P->live = plan_array(a, nl, sizeof *P->live);
	P->fold = plan_array(a, nl, sizeof *P->fold);
	P->fuse = plan_array(a, nl, sizeof *P->fuse);
	P->sum = plan_array(a, nl, sizeof *P->sum);
	P->pool = plan_array(a, nl, sizeof *P->pool);
	P->pair = plan_array(a, nl, sizeof *P->pair);
	P->over = plan_array(a, nl, sizeof *P->over);
	P->slice = plan_array(a, nl, sizeof *P->slice);
	P->param0 = plan_array(a, nl, sizeof *P->param0);
	P->woff = plan_array(a, nl, sizeof *P->woff);
	P->boff = plan_array(a, nl, sizeof *P->boff);
	P->slots = plan_array(a, nl, sizeof *P->slots);
	P->nread = plan_array(a, nv, sizeof *P->nread);
	P->last = plan_array(a, nv, sizeof *P->last);
	P->slot = plan_array(a, nv, sizeof *P->slot);
	plan_live(P);
	plan_fold(P);
	plan_sum(P);
	plan_slots(P);
	plan_concat(P);
	plan_fuse(P);
	plan_pool(P);
	plan_pair(P);
	plan_pack(P);
	plan_params(P);
	return P;
}

/* ---- --dump=plan ---- */

static void dump_buf(FILE *out, const Plan *P, int v)
{
	int s = P->slot[v];
	if (s == SLOT_IN)
		fprintf(out, "v%d (x)", v);
	else if (s == SLOT_OUT)
		fprintf(out, "v%d (y)", v);
	else
		fprintf(out, "v%d (buffer %d)", v, s);
}

/* What became of a layer that runs no code of its own, or NULL. */
static const char *merged_into(const Plan *P, int i, const char **other)
{
	const Layer *L = &P->m->layer[i];
	*other = NULL;
	if (op_has(L->op, P_FOLDS) && P->fold[i] >= 0)
		*other = P->m->layer[P->fold[i]].name;
	if (op_has(L->op, P_FUSES) && P->fuse[i] >= 0)
		*other = P->m->layer[P->fuse[i]].name;
	if (L->op == OP_ADD && P->sum[i] >= 0)
		*other = P->m->layer[P->sum[i]].name;
	if (op_has(L->op, P_ROWS) && P->pool[i] >= 0)
		*other = P->m->layer[P->pool[i]].name;
	if (*other)
		return op_has(L->op, P_FOLDS) ? "folded into" : "fused into";
	return NULL;
}

static void dump_layer(FILE *out, const Plan *P, int i)
{
	const Layer *L = &P->m->layer[i];
	const char *other, *how = merged_into(P, i, &other);
	fprintf(out, "  %-16s ", L->name);
	if (!P->live[i]) {
		fprintf(out, "v%d: not run, the output does not need it\n", L->out);
		return;
	}
	for (int j = 0; j < L->nin; j++) {
		fputs(j == 0 ? "" : L->op == OP_ADD ? " + " : ", ", out);
		dump_buf(out, P, L->in[j]);
	}
	fputs(" -> ", out);
	dump_buf(out, P, L->out);
	if (how)
		fprintf(out, "; %s %s", how, other);
	else if (P->over[i] >= 0)
		fprintf(out, "; overwrites v%d", L->in[P->over[i]]);
	if (op_has(L->op, P_CONV) && P->fold[i] >= 0)
		fprintf(out, "; %s folded in", P->m->layer[P->fold[i]].name);
	if (op_has(L->op, P_CONV) && P->sum[i] >= 0)
		fprintf(out, "; %s fused (+ v%d)", P->m->layer[P->sum[i]].name,
		        plan_sum_operand(P, i));
	if (op_has(L->op, P_CONV) && P->fuse[i] >= 0)
		fprintf(out, "; %s fused", P->m->layer[P->fuse[i]].name);
	if (op_has(L->op, P_CONV) && P->pool[i] >= 0)
		fprintf(out, "; %s fused", P->m->layer[P->pool[i]].name);
	if (P->pair[i] >= 0)
		fprintf(out, "; %s with %s in one call (pair)", P->pair[i] > i ? "first" : "second",
		        P->m->layer[P->pair[i]].name);
	for (int j = 0; L->op == OP_CONCAT && j < L->nin; j++)
		if (plan_concat_in_place(P, i, j))
			fprintf(out, "; v%d written in its slice", L->in[j]);
		else
			fprintf(out, "; v%d copied (%s)", L->in[j], concat_copy_reason(P, i, j));
	if (P->woff[i] != PLAN_NONE)
		fprintf(out, "; weights at %zu", P->woff[i]);
	if (P->boff[i] != PLAN_NONE)
		fprintf(out, ", bias at %zu", P->boff[i]);
	fputc('\n', out);
}

void plan_dump(FILE *out, const Plan *P)
{
	const Model *m = P->m;
	fprintf(out, "plan %s: %d layers, values v0 (the input) to v%d, output v%d\n", m->name,
	        m->nlayers, m->nvalues - 1, m->output);
	for (int i = 0; i < m->nlayers; i++)
		dump_layer(out, P, i);
	fputs("buffers (a value, or the values that overwrote it, in the workspace):\n", out);
	for (int s = 0; s < P->nslots; s++) {
		const Slot *b = &P->slots[s];
		fprintf(out, "  buffer %d: written by %s, last read by %s, %zu floats", s,
		        m->layer[b->start].name, m->layer[b->end].name, b->size);
		if (b->out)
			fputs(", the caller's y\n", out);
		else if (b->parent >= 0)
			fprintf(out, " at %zu, a slice of buffer %d\n", b->off, b->parent);
		else
			fprintf(out, " at %zu\n", b->off);
	}
	fprintf(out,
	        "workspace %zu floats; parameter block %zu floats; the file %d tensors, %zu "
	        "floats\n",
	        P->ws, P->params, P->nparams, P->raw);
}
