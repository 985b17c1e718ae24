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

/* Step s of one image: the batch runner's view of layer s. */
static void run_layer(void *net, int s, float *ws, float *scratch, const float *x, float *y)
{
	const gq_net *n = net;
	n->desc->layers[s].run(&(gq_image){n, ws, scratch, x, y});
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
	for (int i = 0; i < d->nconvs; i++) {
		n->conv[i] = gq_conv_new_in_model(&d->convs[i], streamed);
		if (!n->conv[i])
			return false;
		if (gq_conv_scratch(n->conv[i]) > *scratch)
			*scratch = gq_conv_scratch(n->conv[i]);
	}
	return true;
}

/* Layer i's name for --profile: the generated one, and ", orbit of N" if its convolution
 * runs as an orbit, ", Winograd group of N, F(4x4)" (or F(2x2)) if as a group plan
 * (wino_group.c; both chosen now, at run time); NULL if out of memory. */
static char *layer_name(const gq_net *n, int i)
{
	const gq_layer *l = &n->desc->layers[i];
	const gq_conv *c = l->conv ? n->conv[l->conv - n->desc->convs] : NULL;
	int ng = c ? gq_conv_orbit(c) : 0, wg = c ? gq_conv_wgroup(c) : 0;
	size_t len = strlen(l->name) + 48;
	char *s = malloc(len);
	if (s && ng)
		snprintf(s, len, "%s, orbit of %d", l->name, ng);
	else if (s && wg)
		snprintf(s, len, "%s, Winograd group of %d, %s", l->name, wg,
		        strcmp(gq_conv_algo(c), "winograd2") ? "F(4x4)" : "F(2x2)");
	else if (s)
		memcpy(s, l->name, strlen(l->name) + 1);
	return s;
}

static bool name_layers(gq_net *n)
{
	for (int i = 0; i < n->desc->nlayers; i++)
		if (!(n->names[i] = layer_name(n, i)))
			return false;
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

gq_net *gq_net_new(const gq_net_desc *d)
{
	gq_net *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->desc = d;
	n->conv = calloc((size_t)d->nconvs + 1, sizeof *n->conv);
	n->names = calloc((size_t)d->nlayers + 1, sizeof *n->names);
	size_t scratch;
	if (!n->conv || !n->names || !new_convs(n, &scratch) || !name_layers(n)) {
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
	return n;
}

void gq_net_free(void *net)
{
	gq_net *n = net;
	if (!n)
		return;
	for (int i = 0; n->conv && i < n->desc->nconvs; i++)
		gq_conv_free(n->conv[i]);
	free(n->conv);
	for (int i = 0; n->names && i < n->desc->nlayers; i++)
		free((char *)n->names[i]);
	free(n->names);
	free(n->run.ws);
	free(n->run.scratch);
	free(n->mem);
	free(n);
}

int gq_net_load_raw(void *net, const float *const *t, char *err, size_t errlen)
{
	gq_net *n = net;
	if (n->desc->load(n, t, err, errlen))
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

int gq_net_forward(void *net, const float *x, int batch, float *y)
{
	gq_net *n = net;
	if (!n || !n->loaded || batch < 0 || (batch > 0 && (!x || !y)))
		return -1;
	return gq_run_batch(&n->run, x, batch, y); /* 0, or GQ_EBUSY */
}
