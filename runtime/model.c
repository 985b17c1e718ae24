/* model.c: the part of a generated model that is the same in every one: creating the net
 * (its convolution plans, workspaces and parameter block), loading a weights file,
 * running a batch. The generated code describes its model in a gq_net_desc (its layers
 * in order, its convolutions' shapes, its sizes) and keeps only what differs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_orbit.h"

/* Images a thread runs through one layer before the next (gq_batch.group), so that the
 * layer's filters are read once per IMAGES_PER_STEP images. */
enum { IMAGES_PER_STEP = 4 };

/* n floats rounded up to whole 64-byte lines, and never 0: calloc(0) may return NULL,
 * which would read as out of memory. */
static size_t lines_of(size_t n)
{
	return (n / 16 + 1) * 16;
}

/* A net created while tuning is on keeps, for each lift and gconv, every plan that may run
 * it (gq_conv_candidates), all packed at load, until gq_net_tune measures them in the
 * model and keeps the fastest: one for batch 1 (in n->conv) and one for batches (in the
 * view n->serve, where they differ). */
struct gq_tune {
	int *n;                          /* [nconvs]: conv i's candidates */
	gq_conv *(*cand)[GQ_CANDIDATES]; /* [nconvs] */
	int (*def)[2]; /* the rules' plan: two threads share the layer, one runs it */
	double *t;     /* [nthreads][nconvs]: seconds of each conv's layer in the pass */
	bool timing;
	const char *slow; /* GEQRT_TUNE_SLOW: the kind of plan the tests make slow */
};

/* GEQRT_TUNE_SLOW's delay: far more than any plan of the tests' small layers takes, under
 * the sanitizers too; a slow plan also takes SLOW_TIMES its own time (the tests' 128-channel
 * 29x29 layer takes more than SLOW_S under the sanitizers). */
#define SLOW_S     0.02
#define SLOW_TIMES 5

/* Set on the thread that calls gq_net_forward at batch 1, while it runs: its layers run
 * the plans for batch 1, where the team shares each layer; any other thread's, one image
 * on one thread, those for batches. */
static _Thread_local bool one_image;

/* "orbit", "group" or "expanded": what GEQRT_TUNE_SLOW names (or an algorithm,
 * gq_conv_algo's name: "winograd4" makes the expanded plan and orbit in F(4x4) slow). */
static const char *plan_kind(const gq_conv *c)
{
	return gq_conv_orbit(c) ? "orbit" : gq_conv_wgroup(c) ? "group" : "expanded";
}

/* Layer l of one image while tuning: timed as its conv's, on the thread whose workspace ws
 * is; a layer running a plan of the kind GEQRT_TUNE_SLOW names takes SLOW_S more, and
 * SLOW_TIMES its own time at least. */
static void run_timed_layer(const gq_net *n, const gq_net *v, const gq_layer *l, const gq_image *im)
{
	struct gq_tune *tu = n->tune;
	double t0 = gq_now();
	l->run(im);
	double ran = gq_now() - t0;
	ptrdiff_t ci = l->conv ? l->conv - n->desc->convs : -1;
	const gq_conv *c = ci >= 0 ? v->conv[ci] : NULL;
	if (tu->slow && c &&
	        (!strcmp(plan_kind(c), tu->slow) || !strcmp(gq_conv_algo(c), tu->slow)))
		while (gq_now() - t0 < SLOW_S + (SLOW_TIMES - 1) * ran)
			;
	size_t t = (size_t)(im->ws - n->run.ws) / (n->run.group * n->run.vstride);
	if (ci >= 0)
		tu->t[t * (size_t)n->desc->nconvs + (size_t)ci] += gq_now() - t0;
}

/* Layer s of one image while tuning: a pair of convs (gq_layer's parts) runs as its two
 * parts, each timed as its own conv's. */
static void run_timed(const gq_net *n, const gq_net *v, int s, const gq_image *im)
{
	const gq_layer *l = &n->desc->layers[s];
	for (int k = 0; l->parts && k < 2; k++)
		run_timed_layer(n, v, &l->parts[k], im);
	if (!l->parts)
		run_timed_layer(n, v, l, im);
}

/* Step s of one image: the batch runner's view of layer s. */
static void run_layer(void *net, int s, float *ws, float *scratch, const float *x, float *y)
{
	const gq_net *n = net;
	const gq_net *v = n->serve && !one_image ? n->serve : n;
	gq_image im = {v, ws, scratch, x, y};
	if (n->tune && n->tune->timing)
		run_timed(n, v, s, &im);
	else
		n->desc->layers[s].run(&im);
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

static int tuning = -1; /* gq_set_tune's; -1: GEQRT_TUNE */

void gq_set_tune(bool on)
{
	tuning = on;
}

static bool tune_on(void)
{
	const char *t = getenv("GEQRT_TUNE");
	return tuning >= 0 ? tuning : t && !strcmp(t, "1");
}

static struct gq_tune *new_tune(int nconvs, int nthreads)
{
	struct gq_tune *tu = calloc(1, sizeof *tu);
	size_t nc = (size_t)nconvs + 1;
	if (tu && (!(tu->n = calloc(nc, sizeof *tu->n)) ||
	                  !(tu->cand = calloc(nc, sizeof *tu->cand)) ||
	                  !(tu->def = calloc(nc, sizeof *tu->def)) ||
	                  !(tu->t = calloc((size_t)nthreads * nc, sizeof *tu->t)))) {
		free(tu->n);
		free(tu->cand);
		free(tu->def);
		free(tu);
		return NULL;
	}
	return tu;
}

/* Conv i's plan for batches (n->conv[i] where there is no view for them). */
static gq_conv *serve_plan(const gq_net *n, int i)
{
	return n->serve && n->serve->conv ? n->serve->conv[i] : n->conv[i];
}

/* Frees the candidates that run neither at batch 1 nor in batches, and the rest. */
static void free_tune(gq_net *n)
{
	struct gq_tune *tu = n->tune;
	if (!tu)
		return;
	for (int i = 0; i < n->desc->nconvs; i++)
		for (int k = 0; k < tu->n[i]; k++)
			if (tu->cand[i][k] != n->conv[i] && tu->cand[i][k] != serve_plan(n, i))
				gq_conv_free(tu->cand[i][k]);
	free(tu->n);
	free(tu->cand);
	free(tu->def);
	free(tu->t);
	free(tu);
	n->tune = NULL;
}

/* Conv i's plan, or with tuning its candidates, the rules' choice for two threads first
 * in n->conv and for one in n->serve; false if out of memory. */
static bool new_conv(gq_net *n, int i, size_t streamed, size_t *scratch)
{
	const gq_conv_shape *c = &n->desc->convs[i];
	struct gq_tune *tu = n->tune;
	if (!tu) {
		n->conv[i] = gq_conv_new_in_model(c, streamed);
		if (n->conv[i])
			*scratch = max_size(*scratch, gq_conv_scratch(n->conv[i]));
		return n->conv[i] != NULL;
	}
	if ((tu->n[i] = gq_conv_candidates(c, streamed, tu->cand[i], tu->def[i])) < 0) {
		tu->n[i] = 0;
		return false;
	}
	for (int k = 0; k < tu->n[i]; k++)
		*scratch = max_size(*scratch, gq_conv_scratch(tu->cand[i][k]));
	n->conv[i] = tu->cand[i][tu->def[i][0]];
	n->serve->conv[i] = tu->cand[i][tu->def[i][1]];
	return true;
}

/* The scratch a pair of convs (layer l's parts, if any) needs, for any of their plans (the
 * tuner's candidates): gq_conv_pair_scratch, which may hold the second's padded copy and the
 * first's scratch at once. */
static void pair_scratch(const gq_net *n, const gq_layer *l, size_t *scratch)
{
	if (!l->parts || !l->parts[0].conv || !l->parts[1].conv)
		return;
	int ci[2];
	for (int k = 0; k < 2; k++)
		ci[k] = (int)(l->parts[k].conv - n->desc->convs);
	const struct gq_tune *tu = n->tune;
	int na = tu ? tu->n[ci[0]] : 1, nb = tu ? tu->n[ci[1]] : 1;
	for (int x = 0; x < na; x++)
		for (int y = 0; y < nb; y++)
			*scratch = max_size(*scratch,
			        gq_conv_pair_scratch(tu ? tu->cand[ci[0]][x] : n->conv[ci[0]],
			                tu ? tu->cand[ci[1]][y] : n->conv[ci[1]]));
}

/* The convolutions' plans; the scratch the largest needs, or false if out of memory. A
 * lift or gconv may run as an orbit where the model's banks, expanded, would stream from
 * memory (gq_conv_new_in_model). */
static bool new_convs(gq_net *n, size_t *scratch)
{
	const gq_net_desc *d = n->desc;
	size_t streamed = 0;
	for (int i = 0; i < d->nconvs; i++)
		streamed += gq_conv_expanded_bytes(&d->convs[i]);
	*scratch = 0;
	for (int i = 0; i < d->nconvs; i++)
		if (!new_conv(n, i, streamed, scratch))
			return false;
	for (int s = 0; s < d->nlayers; s++)
		pair_scratch(n, &d->layers[s], scratch);
	return true;
}

/* What plan c is, after a layer's name: ", orbit of N" (", F(3x3)" after it for an F(3x3)
 * base), ", Winograd group of N, F(4x4)" (or F(2x2), F(3x3), F(5x5), F(6x6), F(2x2) stride 2),
 * ", F(6x6)", ", F(7x7)" or ", F(3x3)" for the expanded plan in F(6x6), F(7x7) or F(3x3) (a
 * tuner's choice), ", F(3x3) stride 2" for F(3x3)'s stride-2 form, or nothing for the expanded
 * plan. */
static void plan_name(char *s, size_t len, const gq_conv *c)
{
	int ng = gq_conv_orbit(c), wg = gq_conv_wgroup(c);
	const char *algo = gq_conv_algo(c);
	bool six = !strcmp(algo, "winograd6"), three = !strcmp(algo, "winograd3");
	if (ng)
		snprintf(s, len, ", orbit of %d%s", ng, three ? ", F(3x3)" : "");
	else if (wg)
		snprintf(s, len, ", Winograd group of %d, %s", wg,
		        six                            ? "F(6x6)"
		        : !strcmp(algo, "winograd3r")  ? "F(3x3)"
		        : !strcmp(algo, "winograd5r")  ? "F(5x5)"
		        : !strcmp(algo, "winograd2s2") ? "F(2x2) stride 2"
		        : strcmp(algo, "winograd2")    ? "F(4x4)"
		                                       : "F(2x2)");
	else
		snprintf(s, len, "%s",
		        six                            ? ", F(6x6)"
		        : !strcmp(algo, "winograd7")   ? ", F(7x7)"
		        : three                        ? ", F(3x3)"
		        : !strcmp(algo, "winograd3s2") ? ", F(3x3) stride 2"
		                                       : "");
}

/* The plans of a pair's two convs (gq_layer's parts), at batch 1 or (batches) for
 * batches: "orbit of 4 + F(6x6)", "expanded" for the expanded plan; "" for convs without a
 * shape in convs. */
static void pair_plans(char *s, size_t len, const gq_net *n, const gq_layer *l, bool batches)
{
	char p[2][48];
	s[0] = '\0';
	for (int k = 0; k < 2; k++) {
		if (!l->parts[k].conv)
			return;
		int ci = (int)(l->parts[k].conv - n->desc->convs);
		plan_name(p[k], sizeof p[k], batches ? serve_plan(n, ci) : n->conv[ci]);
	}
	snprintf(s, len, "%s + %s", *p[0] ? p[0] + 2 : "expanded", *p[1] ? p[1] + 2 : "expanded");
}

/* A pair's name for --profile: the generated one ("basic1_gconv1 + basic1_gconv2, lines
 * 5-6, ..."), then ", plans " and its two convs' plans at batch 1, with those for batches
 * where they differ. */
static void pair_name(char *s, size_t len, const gq_net *n, const gq_layer *l)
{
	char one[160], many[160]; /* two plan names of up to 47 and " + " */
	pair_plans(one, sizeof one, n, l, false);
	pair_plans(many, sizeof many, n, l, true);
	if (!*one)
		snprintf(s, len, "%s", l->name);
	else if (strcmp(one, many))
		snprintf(s, len, "%s, plans %s (batches: %s)", l->name, one, many);
	else
		snprintf(s, len, "%s, plans %s", l->name, one);
}

/* Layer i's name for --profile: the generated one, and its plan at batch 1 (both chosen
 * at run time, by the rules or by gq_net_tune), with the plan for batches where it
 * differs; NULL if out of memory. */
static char *layer_name(const gq_net *n, int i)
{
	const gq_layer *l = &n->desc->layers[i];
	ptrdiff_t ci = l->conv ? l->conv - n->desc->convs : -1;
	size_t len = strlen(l->name) + 384;
	char *s = malloc(len), one[48] = "", many[48] = "";
	if (!s)
		return NULL;
	if (l->parts) {
		pair_name(s, len, n, l);
		return s;
	}
	if (ci >= 0)
		plan_name(one, sizeof one, n->conv[ci]);
	if (ci >= 0 && n->serve && n->serve->conv[ci] != n->conv[ci]) {
		plan_name(many, sizeof many, n->serve->conv[ci]);
		snprintf(s, len, "%s%s (batches: %s)", l->name, one, *many ? many + 2 : "expanded");
	} else {
		snprintf(s, len, "%s%s", l->name, one);
	}
	return s;
}

static bool name_layers(gq_net *n)
{
	for (int i = 0; i < n->desc->nlayers; i++) {
		char *s = layer_name(n, i);
		if (!s)
			return false;
		free((char *)n->names[i]);
		n->names[i] = s;
	}
	return true;
}

/* Multiply-adds per image (and their equivalent, as the planner counts them) below which a
 * batch of one runs on the caller alone, none of its layers split over the team: a split
 * hands off twice a layer, and a layer after it reads its input from the other core's
 * cache. Measured at batch 1 on two threads against one (AVX-512, alternating runs under
 * `chrt -f 1` at load 3-4): P4CNN (6.8e6) and paper28 (9.6e6) split ran 0.85-0.95x one
 * thread's images/s, p4m-stride2-28 (1.5e7) 0.87-0.90x; unet-p4m (2.2e8) 1.02-1.27x,
 * the wide p4m model (2.5e8) 1.35x. */
#define SOLO_COST 5e7

/* The cost of a forward pass of one image: the sum of its convolutions' (their expanded
 * plans', as gq_conv_new would make them). */
static double model_cost(const gq_net_desc *d)
{
	double sum = 0;
	for (int i = 0; i < d->nconvs; i++) {
		const gq_conv_shape *c = &d->convs[i];
		size_t bytes;
		double e = gq_conv_estimate(
		        c->cin, c->h, c->w, c->cout, c->k, c->s, c->p, c->d, false, &bytes);
		sum += e > 0 ? e : 0;
	}
	return sum;
}

static void init_batch(gq_net *n, size_t scratch)
{
	const gq_net_desc *d = n->desc;
	n->run = (gq_batch){.net = n,
	        .step = run_layer,
	        .step_names = n->names,
	        .nsteps = d->nlayers,
	        .group = IMAGES_PER_STEP,
	        .nthreads = gq_max_threads(),
	        .vstride = lines_of(d->ws_floats),
	        .sstride = lines_of(scratch),
	        .in_size = d->in_size,
	        .out_size = d->out_size,
	        .solo = model_cost(d) < SOLO_COST};
}

/* With tuning: the candidates' table, and the view of the net that runs batches (its
 * plans apart, n itself; n->run never runs it). */
static bool start_tune(gq_net *n)
{
	const gq_net_desc *d = n->desc;
	if (!tune_on())
		return true;
	n->tune = new_tune(d->nconvs, gq_max_threads());
	n->serve = calloc(1, sizeof *n->serve);
	if (!n->tune || !n->serve ||
	        !(n->serve->conv = calloc((size_t)d->nconvs + 1, sizeof *n->conv)))
		return false;
	n->serve->desc = d;
	return true;
}

gq_net *gq_net_new(const gq_net_desc *d)
{
	gq_net *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->desc = d;
	n->conv = calloc((size_t)d->nconvs + 1, sizeof *n->conv);
	n->names = calloc((size_t)d->nlayers + 1, sizeof *n->names);
	size_t scratch;
	if (!n->conv || !n->names || !start_tune(n) || !new_convs(n, &scratch) || !name_layers(n)) {
		gq_net_free(n);
		return NULL;
	}
	init_batch(n, scratch);
	gq_batch *r = &n->run;
	r->ws = calloc((size_t)r->nthreads * IMAGES_PER_STEP * r->vstride, sizeof(float));
	r->scratch = calloc((size_t)r->nthreads * r->sstride, sizeof(float));
	n->mem = calloc(lines_of(d->param_floats), sizeof(float));
	if (!r->ws || !r->scratch || !n->mem) {
		gq_net_free(n);
		return NULL;
	}
	if (n->serve)
		n->serve->mem = n->mem;
	return n;
}

/* The view for batches, once its plans are all those for batch 1. */
static void drop_serve(gq_net *n)
{
	for (int i = 0; i < n->desc->nconvs; i++)
		if (serve_plan(n, i) != n->conv[i])
			return;
	if (n->serve)
		free(n->serve->conv);
	free(n->serve);
	n->serve = NULL;
}

void gq_net_free(void *net)
{
	gq_net *n = net;
	if (!n)
		return;
	free_tune(n); /* the candidates that run in neither mode */
	for (int i = 0; n->conv && i < n->desc->nconvs; i++) {
		if (serve_plan(n, i) != n->conv[i])
			gq_conv_free(serve_plan(n, i));
		gq_conv_free(n->conv[i]);
	}
	if (n->serve)
		free(n->serve->conv);
	free(n->serve);
	free(n->conv);
	for (int i = 0; n->names && i < n->desc->nlayers; i++)
		free((char *)n->names[i]);
	free(n->names);
	free(n->run.ws);
	free(n->run.scratch);
	free(n->mem);
	free(n);
}

/* desc->load packs the plans in n->conv; with candidates, it runs once for each k, the
 * k-th candidate of every conv in n->conv (its last where it has fewer). (Each load is
 * the same: it expands the tensors t anew.) */
static int load_all(gq_net *n, const float *const *t, char *err, size_t errlen)
{
	const gq_net_desc *d = n->desc;
	struct gq_tune *tu = n->tune;
	if (!tu)
		return d->load(n, t, err, errlen);
	int most = 1, rc = 0;
	for (int i = 0; i < d->nconvs; i++)
		most = tu->n[i] > most ? tu->n[i] : most;
	gq_conv **keep = n->conv, **conv = malloc(((size_t)d->nconvs + 1) * sizeof *conv);
	if (!conv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int k = 0; rc == 0 && k < most; k++) {
		for (int i = 0; i < d->nconvs; i++)
			conv[i] = tu->n[i] ? tu->cand[i][k < tu->n[i] ? k : tu->n[i] - 1] : keep[i];
		n->conv = conv;
		rc = d->load(n, t, err, errlen);
		n->conv = keep;
	}
	free(conv);
	return rc;
}

int gq_net_load_raw(void *net, const float *const *t, char *err, size_t errlen)
{
	gq_net *n = net;
	if (load_all(n, t, err, errlen))
		return -1;
	n->loaded = true;
	return 0;
}

static size_t param_floats(const gq_param *p)
{
	size_t numel = 1;
	for (int d = 0; d < p->ndim; d++)
		numel *= (size_t)p->dim[d];
	return numel;
}

int gq_net_load(gq_net *n, const char *path, char *err, size_t errlen)
{
	const gq_net_desc *d = n->desc;
	size_t total = 0;
	for (int i = 0; i < d->nparams; i++)
		total += param_floats(&d->params[i]);
	float **t = calloc((size_t)d->nparams + 1, sizeof *t),
	      *raw = malloc(lines_of(total) * sizeof *raw);
	int rc = -1;
	if (!t || !raw)
		snprintf(err, errlen, "%s: out of memory", path);
	for (size_t off = 0, i = 0; t && raw && i < (size_t)d->nparams; i++) {
		t[i] = raw + off;
		off += param_floats(&d->params[i]);
	}
	if (t && raw)
		rc = gq_load_safetensors(path, d->params, d->nparams, t, NULL, err, errlen);
	char why[256];
	if (rc == 0 && (rc = gq_net_load_raw(n, (const float *const *)t, why, sizeof why)))
		snprintf(err, errlen, "%s: %s", path, why);
	free(t);
	free(raw);
	return rc;
}

/* ---- gq_net_tune: each conv's plan by measuring its candidates in the model ---- */

/* Rounds of passes: in a round every candidate of every conv runs once, each conv's in an
 * order of its own (so that no two convs' candidates always run together). A conv is
 * settled once its fastest candidate's time stands SEPARATE below the others': it then
 * runs that one in the rounds left, which take as many passes as the unsettled convs have
 * candidates at most. At least MIN_ROUNDS, then until all are settled, the rounds pass
 * BUDGET seconds or MAX_ROUNDS. A candidate replaces the rules' plan where its time is
 * below theirs by MARGIN. A candidate's time is the lower quartile of its samples (the
 * least of three or fewer): another process on the core, or the hypervisor, only ever
 * adds time, and under load (another helper's build on the two cores) the medians of
 * ResNet-44 p4m's layers took 2 ms samples of 0.3 ms layers. */
enum { MIN_ROUNDS = 2, MAX_ROUNDS = 12 };
#define SEPARATE 0.97
#define BUDGET   0.25
#define MARGIN   0.02
/* Images a thread runs in a pass measuring batches: two, a bank read once for both, as
 * for the IMAGES_PER_STEP of a serving batch, in half the time of four. */
enum { SERVE_IMAGES = 2 };

typedef struct Samples {
	int n;
	double t[MAX_ROUNDS * GQ_CANDIDATES];
} Samples;

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double quartile(const Samples *s)
{
	double t[MAX_ROUNDS * GQ_CANDIDATES];
	memcpy(t, s->t, (size_t)s->n * sizeof *t);
	qsort(t, (size_t)s->n, sizeof *t, by_value);
	return s->n ? t[(s->n - 1) / 4] : 1e30;
}

/* A small generator for the rounds' orders (xorshift). */
static unsigned next_rand(unsigned *r)
{
	*r ^= *r << 13;
	*r ^= *r >> 17;
	*r ^= *r << 5;
	return *r;
}

/* What one mode measures: batch images a pass (1: the team on each layer; else
 * SERVE_IMAGES a thread, one thread on each), the plans it sets (n->conv or
 * n->serve->conv), the rules' choice (def[][k]); per conv its samples, its layer (or -1)
 * and, once settled, its best candidate (else -1). */
typedef struct Mode {
	gq_net *n;
	gq_conv **plan;
	int batch, k;
	const float *x;
	float *y;
	Samples (*s)[GQ_CANDIDATES];
	const int *step;
	int *settled;
	int (*order)[GQ_CANDIDATES];
} Mode;

static int run_pass(const Mode *m)
{
	gq_net *n = m->n;
	size_t nt = (size_t)n->run.nthreads, nc = (size_t)n->desc->nconvs;
	memset(n->tune->t, 0, nt * nc * sizeof *n->tune->t);
	n->tune->timing = true;
	one_image = m->batch == 1;
	int rc = gq_run_batch(&n->run, m->x, m->batch, m->y);
	one_image = false;
	n->tune->timing = false;
	return rc;
}

/* Conv i's candidate in pass p of a round: its settled one, or the p-th of its order. */
static int candidate(const Mode *m, int i, int p)
{
	return m->settled[i] >= 0 ? m->settled[i] : m->order[i][p % m->n->tune->n[i]];
}

/* One pass, p of a round; its layers' times per image added to the samples (record). */
static int pass(const Mode *m, int p, bool record)
{
	gq_net *n = m->n;
	struct gq_tune *tu = n->tune;
	const gq_net_desc *d = n->desc;
	for (int i = 0; i < d->nconvs; i++)
		if (tu->n[i] > 1)
			m->plan[i] = tu->cand[i][candidate(m, i, p)];
	int rc = run_pass(m);
	for (int i = 0; record && rc == 0 && i < d->nconvs; i++) {
		if (tu->n[i] < 2 || m->step[i] < 0 || m->settled[i] >= 0)
			continue;
		double sec = 0;
		for (int t = 0; t < n->run.nthreads; t++)
			sec += tu->t[(size_t)t * d->nconvs + i];
		Samples *s = &m->s[i][candidate(m, i, p)];
		if (s->n < MAX_ROUNDS * GQ_CANDIDATES)
			s->t[s->n++] = sec / m->batch;
	}
	return rc;
}

/* Conv i's fastest candidate, or -1 while it does not stand SEPARATE below the others. */
static int fastest(const Mode *m, int i)
{
	int nc = m->n->tune->n[i], best = 0;
	double q[GQ_CANDIDATES];
	for (int k = 0; k < nc; k++)
		if ((q[k] = quartile(&m->s[i][k])) < q[best])
			best = k;
	for (int k = 0; k < nc; k++)
		if (k != best && q[best] > SEPARATE * q[k])
			return -1;
	return best;
}

/* GEQRT_TUNE_LOG=1: each conv's candidates and their times (lower quartiles, us an image)
 * on stderr, the one the mode keeps starred, "n" after a plan on the narrow kernel. */
static void log_choice(const Mode *m, int i, int best)
{
	struct gq_tune *tu = m->n->tune;
	const gq_conv_shape *c = &m->n->desc->convs[i];
	fprintf(stderr,
	        "tune %s conv %d %dx%d cin %d cout %d:", m->batch == 1 ? "batch1" : "batches", i,
	        c->h, c->w, c->cin, c->cout);
	for (int k = 0; k < tu->n[i]; k++) {
		const gq_conv *p = tu->cand[i][k];
		fprintf(stderr, " [%s%s%s%s %.1f]", k == best ? "*" : "",
		        gq_conv_orbit(p)    ? "orbit-"
		        : gq_conv_wgroup(p) ? "group-"
		                            : "",
		        gq_conv_algo(p), gq_conv_narrow(p) ? "n" : "", 1e6 * quartile(&m->s[i][k]));
	}
	fputc('\n', stderr);
}

/* The expanded F(7x7) plan only where one thread runs the layer (mode k 1): on two, at
 * 33x33, it ran 1.05x F(4x4)'s time on AVX-512 and 1.16x on AVX2 (its one panel of tiles
 * split by channels, not fused), yet the tuner took it on 3 of ResNet-44 p4m's 14 such
 * layers by the noise (docs/batch1.md, s26-f7). */
static bool one_thread_only(const gq_conv *p)
{
	return !strcmp(gq_conv_algo(p), "winograd7");
}

/* The candidate each conv keeps in this mode: the rules' unless another's time is below
 * theirs by MARGIN. */
static void choose(const Mode *m)
{
	struct gq_tune *tu = m->n->tune;
	for (int i = 0; i < m->n->desc->nconvs; i++) {
		if (tu->n[i] < 2)
			continue;
		int def = tu->def[i][m->k], best = def;
		for (int k = 0; k < tu->n[i]; k++)
			if (!(m->k == 0 && one_thread_only(tu->cand[i][k])) &&
			        quartile(&m->s[i][k]) < quartile(&m->s[i][best]))
				best = k;
		if (m->step[i] < 0 ||
		        quartile(&m->s[i][best]) > (1 - MARGIN) * quartile(&m->s[i][def]))
			best = def;
		m->plan[i] = tu->cand[i][best];
		if (getenv("GEQRT_TUNE_LOG"))
			log_choice(m, i, best);
	}
}

/* Each conv's candidates in a new order (Fisher-Yates). */
static void shuffle(const Mode *m, unsigned *r)
{
	for (int i = 0; i < m->n->desc->nconvs; i++)
		for (int k = m->n->tune->n[i] - 1; k > 0; k--) {
			int j = (int)(next_rand(r) % (unsigned)(k + 1)), o = m->order[i][k];
			m->order[i][k] = m->order[i][j];
			m->order[i][j] = o;
		}
}

/* The passes a round takes: the most candidates of a conv not settled (0: all are). */
static int passes(const Mode *m, int round)
{
	int most = 0;
	for (int i = 0; i < m->n->desc->nconvs; i++) {
		struct gq_tune *tu = m->n->tune;
		if (round >= MIN_ROUNDS && m->settled[i] < 0 && tu->n[i] > 1 && m->step[i] >= 0)
			m->settled[i] = fastest(m, i);
		if (m->settled[i] < 0 && tu->n[i] > 1 && m->step[i] >= 0 && tu->n[i] > most)
			most = tu->n[i];
	}
	return most;
}

static int measure(const Mode *m)
{
	int rc = 0, most = passes(m, 0);
	unsigned r = 0x9e3779b9u;
	for (int p = 0; rc == 0 && m->batch == 1 && p < most; p++) /* warm-up: each once */
		rc = pass(m, p, false);
	double t0 = gq_now();
	for (int round = 0; rc == 0 && round < MAX_ROUNDS && most > 0; round++) {
		shuffle(m, &r);
		for (int p = 0; rc == 0 && p < most; p++)
			rc = pass(m, p, true);
		most = passes(m, round + 1);
		if (round + 1 >= MIN_ROUNDS && gq_now() - t0 > BUDGET)
			break;
	}
	if (rc == 0)
		choose(m);
	return rc;
}

/* Inputs for the passes: batch images of values in [-1, 1). */
static float *tune_input(size_t n)
{
	float *x = malloc(n * sizeof *x);
	unsigned r = 12345;
	for (size_t i = 0; x && i < n; i++)
		x[i] = (float)(next_rand(&r) % 65536) / 32768.0f - 1.0f;
	return x;
}

static int tune_modes(gq_net *n, const int *step)
{
	const gq_net_desc *d = n->desc;
	size_t nc = (size_t)d->nconvs + 1;
	int threads = gq_threads() < n->run.nthreads ? gq_threads() : n->run.nthreads;
	int batch = threads * SERVE_IMAGES;
	float *x = tune_input((size_t)batch * d->in_size);
	float *y = malloc((size_t)batch * d->out_size * sizeof *y + 1);
	Samples(*s)[GQ_CANDIDATES] = calloc(nc, sizeof *s);
	int *settled = malloc(nc * sizeof *settled);
	int(*order)[GQ_CANDIDATES] = malloc(nc * sizeof *order);
	int rc = x && y && s && settled && order ? 0 : -1;
	/* batch 1 on the team (the rules' plan for two threads where there are two), then
	 * batches on n->serve, one image a thread (the rules' plan for one thread) */
	Mode modes[2] = {{n, n->conv, 1, threads > 1 ? 0 : 1, x, y, s, step, settled, order},
	        {n, n->serve->conv, batch, 1, x, y, s, step, settled, order}};
	for (int k = 0; rc == 0 && k < 2; k++) {
		memset(s, 0, nc * sizeof *s);
		for (size_t i = 0; i < nc; i++) {
			settled[i] = -1;
			for (int c = 0; c < GQ_CANDIDATES; c++)
				order[i][c] = c;
		}
		rc = measure(&modes[k]);
	}
	free(x);
	free(y);
	free(s);
	free(settled);
	free(order);
	return rc;
}

int gq_net_tune(void *net)
{
	gq_net *n = net;
	if (!n || !n->loaded)
		return -1;
	if (!n->tune)
		return 0;
	const gq_net_desc *d = n->desc;
	int tuned = 0, rc = 0;
	int *step = malloc(((size_t)d->nconvs + 1) * sizeof *step);
	if (!step)
		return -1;
	for (int i = 0; i < d->nconvs; i++) {
		step[i] = -1;
		tuned += n->tune->n[i] > 1;
	}
	for (int s = 0; s < d->nlayers; s++) {
		const gq_layer *l = &d->layers[s];
		for (int k = 0; l->parts && k < 2; k++)
			if (l->parts[k].conv)
				step[l->parts[k].conv - d->convs] = s;
		if (l->conv)
			step[l->conv - d->convs] = s;
	}
	n->tune->slow = getenv("GEQRT_TUNE_SLOW");
	if (tuned)
		rc = tune_modes(n, step);
	free(step);
	if (rc)
		return rc == GQ_EBUSY ? GQ_EBUSY : -1;
	free_tune(n);
	drop_serve(n);
	return name_layers(n) ? tuned : -1;
}

int gq_net_forward(void *net, const float *x, int batch, float *y)
{
	gq_net *n = net;
	if (!n || !n->loaded || batch < 0 || (batch > 0 && (!x || !y)))
		return -1;
	int rc = n->tune ? gq_net_tune(n) : 0;
	if (rc < 0)
		return rc == GQ_EBUSY ? rc : -1;
	one_image = batch == 1;
	rc = gq_run_batch(&n->run, x, batch, y); /* 0, or GQ_EBUSY */
	one_image = false;
	return rc;
}
