/* sizes.c: `geqc --sizes LO..HI` (SPEC §4.1): the exact elements at every square input
 * size, and the pattern they follow in closed form.
 *
 * Each size is checked and linted afresh, with the model's input replaced and the
 * diagnostics silenced: the same code that answers for one size answers for all, so the
 * sweep cannot disagree with `geqc --input-size NxN`. The pattern is then derived, not
 * guessed: growing the input by the product P of the strides grows every layer's input by
 * a whole number of its stride, so each residue (n + 2p - d(k-1) - 1) mod s, and with it
 * the verdict, is periodic in N with period P once N is large enough for the layers that
 * depend on it. The period reported is the smallest divisor of P that the sweep confirms,
 * with the first N from which it holds if small sizes behave differently.
 *
 * The same silent relint answers the lint's probes (lint_model_probed): whether a size it
 * would suggest, or the source with a layer change applied, lints exact. */
#include <stdlib.h>
#include <string.h>

#include "geqc.h"

enum { PERIOD_CAP = 1 << 20 }; /* beyond this the product of the strides is "huge" */

static bool holds(const SizeVerdict *v, unsigned mask)
{
	return v->ok && (v->exact & mask) == mask;
}

/* The first error of a silenced run, for the size's "error" entry: "line:col: msg". */
static const char *first_error(Arena *a, const DiagLog *log)
{
	for (int i = 0; i < log->n; i++)
		if (log->rec[i].kind == D_ERROR) {
			const DiagRecord *r = &log->rec[i];
			char *s = arena_printf(
			        a, "%d:%d: %s", r->loc.first_line, r->loc.first_column, r->msg);
			for (char *p = s; *p; p++)
				*p = *p == '\n' ? ' ' : *p;
			return s;
		}
	return "the model does not check";
}

bool sizes_set_input(Program *prog, int h, int w)
{
	ModelDecl *md = prog->model;
	if (!md || !md->dims[1] || !md->dims[2] || md->dims[1]->kind != N_INT ||
	        md->dims[2]->kind != N_INT)
		return false;
	md->dims[1]->i = h;
	md->dims[2]->i = w;
	return true;
}

/* Checks and lints the model with an h x w input, silently; keeps the verdict. */
static void run_size(Program *prog, const Diag *d, Arena *keep, int h, int w, SizeVerdict *v)
{
	if (!sizes_set_input(prog, h, w)) {
		*v = (SizeVerdict){.n = h, .error = "the input size is not written as numbers"};
		return;
	}
	Arena *a = arena_new();
	DiagLog log = {0};
	Diag q = {.file = d->file, .src = d->src, .srclen = d->srclen, .out = NULL, .log = &log};
	Model *m = check_program(prog, a, &q);
	Lint *l = m ? lint_model(m, a, &q) : NULL;
	*v = (SizeVerdict){.n = h,
	        .ok = l != NULL,
	        .exact = l ? l->exact | 1u : 0,
	        .all = m ? m->group.mask | 1u : 0};
	if (!v->ok)
		v->error = first_error(keep, &log);
	diag_log_free(&log);
	arena_free(a);
}

bool sizes_exact_at(void *probe, int h, int w)
{
	SizeProbe *p = probe;
	Arena *a = arena_new();
	SizeVerdict v;
	run_size(p->prog, p->d, a, h, w, &v);
	sizes_set_input(p->prog, p->h, p->w);
	bool exact = v.ok && ((v.exact | 1u) & v.all) == v.all;
	arena_free(a);
	return exact;
}

void sizes_relint(const Diag *d, const char *text, size_t len, bool *clean, bool *exact)
{
	Arena *a = arena_new();
	Diag q = {.file = d->file, .src = text, .srclen = len};
	q.no_equiv = d->no_equiv; /* "clean" as the command line counts warnings */
	q.no_align = d->no_align;
	Program *p = parse_program(text, len, a, &q);
	p = p ? expand_program(p, a, &q) : NULL;
	Model *m = p ? check_program(p, a, &q) : NULL;
	Lint *l = m ? lint_model(m, a, &q) : NULL;
	unsigned all = m ? m->group.mask | 1u : 0;
	*clean = l && q.nerrors == 0 && q.nwarnings == 0;
	*exact = l && q.nerrors == 0 && ((l->exact | 1u) & all) == all;
	arena_free(a);
}

bool sizes_exact_with(void *probe, Loc loc, const char *text)
{
	const Diag *d = ((SizeProbe *)probe)->d;
	size_t from = diag_offset(d, loc.first_line, loc.first_column);
	size_t to = diag_offset(d, loc.last_line, loc.last_column + 1), n = strlen(text);
	if (from > to || to > d->srclen)
		return false;
	Arena *a = arena_new(); /* exits 2 when out of memory, as the rest of geqc */
	char *src = arena_alloc(a, d->srclen - (to - from) + n + 1);
	memcpy(src, d->src, from);
	memcpy(src + from, text, n);
	memcpy(src + from + n, d->src + to, d->srclen - to);
	bool clean, exact;
	sizes_relint(d, src, d->srclen - (to - from) + n, &clean, &exact);
	arena_free(a);
	return exact;
}

/* The product of the strides of every sliding layer, capped. */
static long long stride_product(const Model *m)
{
	long long P = 1;
	for (int i = 0; i < m->nlayers && P <= PERIOD_CAP; i++) {
		if (op_has(m->layer[i].op, P_SLIDING))
			P *= m->layer[i].s;
	}
	return P;
}

/* The smallest N0 such that, over the sizes that check in [N0, hi], whether mask is exact
 * depends only on N mod p. cls is scratch of p bytes. */
static int periodic_from(const SizeSweep *s, unsigned mask, int p, signed char *cls)
{
	memset(cls, -1, (size_t)p);
	for (int n = s->hi; n >= s->lo; n--) {
		const SizeVerdict *v = &s->v[n - s->lo];
		if (!v->ok)
			continue;
		signed char c = holds(v, mask), *k = &cls[n % p];
		if (*k >= 0 && *k != c)
			return n + 1;
		*k = c;
	}
	return s->lo;
}

/* The rule for mask: the divisor p of P that holds from the smallest N0 (the smaller p on
 * a tie), and the residues mod p at which mask is exact. */
static SizeRule find_rule(const SizeSweep *s, unsigned mask, Arena *a)
{
	int span = s->hi - s->lo + 1;
	signed char *cls = arena_alloc(a, (size_t)span + 1);
	SizeRule r = {.elems = mask, .period = 1, .from = s->hi};
	for (int p = 1; p <= span && (s->P > PERIOD_CAP || p <= s->P); p++) {
		if (s->P <= PERIOD_CAP && s->P % p != 0)
			continue;
		int from = periodic_from(s, mask, p, cls);
		if (from < r.from) {
			r.period = p;
			r.from = from;
		}
	}
	while (r.from < s->hi && !s->v[r.from - s->lo].ok)
		r.from++; /* from the first size that checks */
	r.res = arena_alloc(a, (size_t)r.period);
	bool *seen = arena_alloc(a, (size_t)r.period);
	for (int n = r.from; n <= s->hi; n++) {
		const SizeVerdict *v = &s->v[n - s->lo];
		if (v->ok) {
			r.res[n % r.period] = holds(v, mask);
			seen[n % r.period] = true;
		}
	}
	r.complete = s->P <= s->hi - r.from + 1;
	for (int i = 0; i < r.period; i++)
		r.complete &= seen[i];
	return r;
}

static bool same_rule(const SizeRule *x, const SizeRule *y)
{
	return x->period == y->period && x->from == y->from &&
	       memcmp(x->res, y->res, (size_t)x->period) == 0;
}

/* rule[0]: the whole group at once; then one rule per class of elements that share one. */
static void find_rules(SizeSweep *s, const Group *G, Arena *a)
{
	s->rule[0] = find_rule(s, G->mask | 1u, a);
	s->nrules = 1;
	for (int i = 0; i < G->n; i++) {
		int g = G->elem[i];
		if (g == 0)
			continue;
		SizeRule r = find_rule(s, 1u << g, a);
		int k = 1;
		while (k < s->nrules && !same_rule(&s->rule[k], &r))
			k++;
		if (k == s->nrules)
			s->rule[s->nrules++] = r;
		else
			s->rule[k].elems |= 1u << g;
	}
}

SizeSweep *sizes_sweep(Program *prog, const Model *m, const Diag *d, int lo, int hi, Arena *a)
{
	SizeSweep *s = arena_alloc(a, sizeof *s);
	*s = (SizeSweep){.lo = lo, .hi = hi, .P = stride_product(m)};
	s->v = arena_alloc(a, (size_t)(hi - lo + 1) * sizeof *s->v);
	int h = m->input.h, w = m->input.w;
	for (int n = lo; n <= hi; n++)
		run_size(prog, d, a, n, n, &s->v[n - lo]);
	sizes_set_input(prog, h, w);
	s->first_ok = lo;
	while (s->first_ok < hi && !s->v[s->first_ok - lo].ok)
		s->first_ok++;
	find_rules(s, &m->group, a);
	return s;
}

/* ---- text ---- */

static void put_elems(FILE *out, unsigned mask)
{
	const char *sep = "";
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (mask >> g & 1) {
			fprintf(out, "%s%s", sep, d4_name[g]);
			sep = ", ";
		}
}

/* "iff N = 1 mod 4", "iff N = 0, 1 or 5 mod 8", "at every size", "at no size". */
static void put_condition(FILE *out, const SizeSweep *s, const SizeRule *r)
{
	int count = 0, seen = 0;
	for (int i = 0; i < r->period; i++)
		count += r->res[i];
	if (count == r->period)
		fputs("at every size", out);
	else if (count == 0)
		fputs("at no size", out);
	else
		fputs("iff N = ", out);
	for (int i = 0; i < r->period && count > 0 && count < r->period; i++) {
		if (!r->res[i])
			continue;
		seen++;
		fprintf(out, "%s%d", seen == 1 ? "" : seen == count ? " or " : ", ", i);
	}
	if (count > 0 && count < r->period)
		fprintf(out, " mod %d", r->period);
	if (r->from > s->first_ok)
		fprintf(out, " (for N >= %d)", r->from);
	if (!r->complete)
		fprintf(out, " (seen in %d..%d only: a longer sweep may refine it)", s->lo, s->hi);
}

static void put_size_line(FILE *out, const SizeVerdict *v, const Group *G)
{
	char buf[GROUP_DESCRIBE_MAX];
	fprintf(out, "  %5dx%-5d ", v->n, v->n);
	if (!v->ok)
		fprintf(out, "error: %s\n", v->error);
	else if ((v->exact & G->mask) == 1u)
		fputs("exact only for e\n", out);
	else
		fprintf(out, "exact for %s\n", group_describe(buf, sizeof buf, G, v->exact));
}

void sizes_text(FILE *out, const SizeSweep *s, const Model *m)
{
	fprintf(out, "%s on %s at every N x N input, N = %d..%d:\n", m->name, m->group.name, s->lo,
	        s->hi);
	for (int n = s->lo; n <= s->hi; n++)
		put_size_line(out, &s->v[n - s->lo], &m->group);
	if (!s->v[s->first_ok - s->lo].ok) {
		fprintf(out, "pattern: none, the model checks at no size in %d..%d\n", s->lo,
		        s->hi);
		return;
	}
	fprintf(out, "pattern: exact for all of %s ", m->group.name);
	put_condition(out, s, &s->rule[0]);
	fputc('\n', out);
	/* one class of elements has the whole group's rule: nothing more to say */
	for (int k = 1; k < s->nrules && s->nrules > 2; k++) {
		fputs("         ", out);
		put_elems(out, s->rule[k].elems);
		fputs(": ", out);
		put_condition(out, s, &s->rule[k]);
		fputc('\n', out);
	}
}

/* ---- JSON ---- */

static void json_elems(FILE *out, unsigned mask)
{
	const char *sep = "";
	fputc('[', out);
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (mask >> g & 1) {
			fprintf(out, "%s\"%s\"", sep, d4_name[g]);
			sep = ", ";
		}
	fputc(']', out);
}

static void json_rule(FILE *out, const SizeRule *r)
{
	fputs("{\"elements\": ", out);
	json_elems(out, r->elems);
	fprintf(out, ", \"period\": %d, \"from\": %d, \"residues\": [", r->period, r->from);
	const char *sep = "";
	for (int i = 0; i < r->period; i++)
		if (r->res[i]) {
			fprintf(out, "%s%d", sep, i);
			sep = ", ";
		}
	fprintf(out, "], \"complete\": %s}", r->complete ? "true" : "false");
}

void sizes_json(FILE *out, const SizeSweep *s, const Model *m)
{
	unsigned all = m->group.mask | 1u;
	fputs(",\n  \"sizes\": [", out);
	for (int n = s->lo; n <= s->hi; n++) {
		const SizeVerdict *v = &s->v[n - s->lo];
		fprintf(out, "%s\n    {\"size\": [%d, %d], ", n > s->lo ? "," : "", n, n);
		if (v->ok) {
			fputs("\"exact\": ", out);
			json_elems(out, v->exact & all);
			fputs(", \"broken\": ", out);
			json_elems(out, all & ~v->exact);
		} else {
			fputs("\"error\": ", out);
			json_put_string(out, v->error);
		}
		fputc('}', out);
	}
	fputs("\n  ],\n  \"pattern\": [", out);
	for (int k = 0; k < s->nrules && s->v[s->first_ok - s->lo].ok; k++) {
		fputs(k ? ",\n    " : "\n    ", out);
		json_rule(out, &s->rule[k]);
	}
	fputs("\n  ]", out);
}
