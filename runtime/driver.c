/* driver.c: the command line of every generated executable (SPEC §4): run a model on a
 * .npy or an image, measure its equivariance error per group element against the lint's
 * prediction, or benchmark it. The model is known only through its gq_model descriptor,
 * so the same driver serves every generated model. Unlike the generated forward, the
 * driver allocates freely (inputs, outputs, random weights). */
#include "geqrt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_MISMATCH = 1, EXIT_USAGE = 2 };
enum { MAX_BATCH = 1 << 16, MAX_THREADS = 1024, TOP_K = 5 };
#define EXACT_TOL  1e-4 /* SPEC §3: exact means err_g <= 1e-4 in float32 */
#define BROKEN_TOL 1e-6 /* below this, an element the lint calls broken looks exact */

static const char *const elem_name[GQ_D4_ORDER] = {"e", "r", "r2", "r3", "m", "mr", "mr2", "mr3"};

typedef struct Opts {
	const char *weights, *input, *output, *labels, *save_weights;
	const char **images;
	int nimages;
	unsigned long long seed;
	bool has_seed, check, bench, profile, tune, help;
	int batch, threads;
} Opts;

/* The state of one run: what the cleanup frees. */
typedef struct Run {
	const gq_model *m;
	const char *prog;
	void *net;
	char *labels; /* newline-separated, or NULL */
	float *raw;   /* the weights as loaded, kept for --check-equivariance's noise floor */
	float **t;    /* t[i]: tensor i inside raw */
	size_t nraw;
	int tuned;     /* --tune: the convolutions that had a choice */
	double tune_s; /* and the seconds tuning took */
} Run;

static void fail(const Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(const Run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", r->prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void *xmalloc(const Run *r, size_t n, size_t size)
{
	if (n && size > SIZE_MAX / n) {
		fail(r, "out of memory");
		return NULL;
	}
	void *p = malloc(n && size ? n * size : 1);
	if (!p)
		fail(r, "out of memory");
	return p;
}

/* ---- the PRNG: splitmix64, Box-Muller; the same seed gives the same weights anywhere ---- */

typedef struct Rng {
	unsigned long long s;
	bool have; /* a spare normal deviate */
	double spare;
} Rng;

static unsigned long long rng_next(Rng *g)
{
	unsigned long long z = (g->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_uniform(Rng *g) /* in (0, 1) */
{
	return ((double)(rng_next(g) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(Rng *g)
{
	if (g->have) {
		g->have = false;
		return g->spare;
	}
	double u = rng_uniform(g), v = rng_uniform(g);
	double r = sqrt(-2 * log(u)), a = 6.283185307179586 * v;
	g->spare = r * sin(a);
	g->have = true;
	return r * cos(a);
}

static Rng rng_seeded(unsigned long long seed, unsigned long long stream)
{
	Rng g = {seed ^ (stream * 0xd1342543de82ef95ULL), false, 0};
	rng_next(&g);
	return g;
}

static size_t param_numel(const gq_param *p)
{
	size_t n = 1;
	for (int d = 0; d < p->ndim; d++)
		n *= (size_t)p->dim[d];
	return n;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Whether the tensor belongs to a bn: its layer, the last part of its path before the
 * field, is bnN ("bn2.weight", "basic3.bn1.running_var"). */
static bool is_bn(const char *name)
{
	const char *field = strrchr(name, '.'), *layer = name;
	for (const char *p = name; field && p < field; p++)
		if (*p == '.')
			layer = p + 1;
	return strncmp(layer, "bn", 2) == 0;
}

/* He initialisation by the tensor's SPEC name: weights N(0, 2/fan_in), biases N(0, 0.1);
 * a bn's weight and running_var U(0.5, 1.5), its bias and running_mean N(0, 0.1). */
static void fill_param(const gq_param *p, float *x, Rng *g)
{
	size_t n = param_numel(p), fan_in = n / (size_t)(p->dim[0] ? p->dim[0] : 1);
	bool bn = is_bn(p->name);
	bool uniform = bn && (ends_with(p->name, ".weight") || ends_with(p->name, ".running_var"));
	double sd = !bn && ends_with(p->name, ".weight") ? sqrt(2.0 / (double)(fan_in ? fan_in : 1))
	                                                 : 0.1;
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(uniform ? 0.5 + rng_uniform(g) : sd * rng_normal(g));
}

/* Fills every tensor in params order, one contiguous block; t[i] points into it. */
static float *alloc_tensors(Run *r, float **t)
{
	size_t total = 0;
	for (int i = 0; i < r->m->nparams; i++)
		total += param_numel(&r->m->params[i]);
	float *raw = xmalloc(r, total, sizeof *raw);
	r->nraw = total;
	for (size_t off = 0, i = 0; raw && i < (size_t)r->m->nparams; i++) {
		t[i] = raw + off;
		off += param_numel(&r->m->params[i]);
	}
	return raw;
}

static int load_weights(Run *r, const Opts *o)
{
	const gq_model *m = r->m;
	float **t = xmalloc(r, (size_t)m->nparams + 1, sizeof *t);
	float *raw = t ? alloc_tensors(r, t) : NULL;
	char err[4096] = "", why[400] = "";
	int rc = -1;
	if (!raw)
		goto out;
	if (o->weights) {
		if (gq_load_safetensors(
		            o->weights, m->params, m->nparams, t, &r->labels, err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			goto out;
		}
	} else {
		Rng g = rng_seeded(o->seed, 1);
		for (int i = 0; i < m->nparams; i++)
			fill_param(&m->params[i], t[i], &g);
	}
	if (o->save_weights && gq_save_safetensors(o->save_weights, m->params, m->nparams,
	                               (const float *const *)t, r->labels, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	rc = m->load_raw(r->net, (const float *const *)t, why, sizeof why);
	if (rc)
		fprintf(stderr, "%s: %s\n", o->weights ? o->weights : "random weights", why);
	else if (o->check) { /* kept for the noise floor */
		r->raw = raw;
		r->t = t;
		return 0;
	}
out:
	free(raw);
	free(t);
	return rc;
}

/* ---- the command line ---- */

static void usage(FILE *f, const gq_model *m)
{
	fprintf(f,
	        "usage: %s [options] [image.png|image.pgm ...]\n"
	        "The G-CNN %s: input [%d, %d, %d], lint: %s.\n\n"
	        "  --weights W.safetensors  the weights (F32, F16 or BF16; names as the .geq)\n"
	        "  --seed S                 random (He) weights instead, from seed S\n"
	        "  --save-weights W         write the weights in use to W.safetensors\n"
	        "  --input x.npy            run on x: float32 [B, C, H, W] or [C, H, W]\n"
	        "  --output y.npy           write the outputs (else print them): [B, ...] for a\n"
	        "                           batch or several images, else without the batch\n"
	        "  image.png|image.pgm      classify images (converted and resized to the input)\n"
	        "  --labels FILE            class names, one per line (else the weights'\n"
	        "                           __metadata__ labels, else class indices)\n"
	        "  --check-equivariance     measure err_g = max|f(T_g x) - T_g f(x)| / max|f(x)|\n"
	        "                           for every group element against the lint\n"
	        "                           (random input and seed 1 unless given)\n"
	        "  --bench                  time the forward pass: prints `N images/s`\n"
	        "  --batch B                images per forward pass for --bench (default 1)\n"
	        "  --profile                with --bench: the time per image of each layer\n"
	        "  --threads T              threads for the runtime (OpenBLAS)\n"
	        "  --tune                   first choose each layer's plan by timing its\n"
	        "                           candidates, at batch 1 and at batches\n"
	        "                           (gq_net_tune; --bench prints the time, untimed)\n"
	        "  --help                   this text\n\n"
	        "Exit status: 0 ok; 1 an element disagrees with the lint; 2 bad usage or file.\n",
	        m->name, m->name, m->input.c, m->input.h, m->input.w, m->lint_verdict);
}

static int parse_int(const Run *r, const char *opt, const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fail(r, "%s needs an integer from %d to %d, not '%s'", opt, lo, hi, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_seed(const Run *r, const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-') {
		fail(r, "--seed needs a non-negative integer, not '%s'", s);
		return -1;
	}
	return 0;
}

/* The value of option argv[*i] (`--opt V` or `--opt=V`), or NULL after an error. */
static const char *opt_value(const Run *r, int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (*i + 1 >= argc) {
		fail(r, "%s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

static bool is_opt(const char *arg, const char *name)
{
	size_t n = strlen(name);
	return strncmp(arg, name, n) == 0 && (arg[n] == 0 || arg[n] == '=');
}

static int parse_value_opt(const Run *r, Opts *o, const char *name, const char *v)
{
	if (!strcmp(name, "--weights"))
		o->weights = v;
	else if (!strcmp(name, "--input"))
		o->input = v;
	else if (!strcmp(name, "--output"))
		o->output = v;
	else if (!strcmp(name, "--labels"))
		o->labels = v;
	else if (!strcmp(name, "--save-weights"))
		o->save_weights = v;
	else if (!strcmp(name, "--batch"))
		return parse_int(r, name, v, 1, MAX_BATCH, &o->batch);
	else if (!strcmp(name, "--threads"))
		return parse_int(r, name, v, 1, MAX_THREADS, &o->threads);
	else {
		o->has_seed = true;
		return parse_seed(r, v, &o->seed);
	}
	return 0;
}

static int parse_args(const Run *r, Opts *o, int argc, char **argv)
{
	static const char *const valued[] = {"--weights", "--input", "--output", "--labels",
	        "--batch", "--threads", "--seed", "--save-weights"};
	o->batch = 1;
	o->images = xmalloc(r, (size_t)argc + 1, sizeof *o->images);
	if (!o->images)
		return -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool done = false;
		for (size_t k = 0; !done && k < sizeof valued / sizeof *valued; k++) {
			if (!is_opt(a, valued[k]))
				continue;
			const char *v = opt_value(r, argc, argv, &i, valued[k]);
			if (!v || parse_value_opt(r, o, valued[k], v))
				return -1;
			done = true;
		}
		if (done)
			continue;
		if (!strcmp(a, "--check-equivariance"))
			o->check = true;
		else if (!strcmp(a, "--bench"))
			o->bench = true;
		else if (!strcmp(a, "--profile"))
			o->profile = true;
		else if (!strcmp(a, "--tune"))
			o->tune = true;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			o->help = true;
		else if (a[0] == '-' && a[1]) {
			fail(r, "unknown option '%s' (see --help)", a);
			return -1;
		} else
			o->images[o->nimages++] = a;
	}
	return 0;
}

/* Combinations that mean nothing are usage errors rather than silently ignored. */
static int check_args(const Run *r, const Opts *o)
{
	int modes = o->check + o->bench + (o->input != NULL) + (o->nimages > 0);
	if (modes == 0 && !o->save_weights) {
		fail(r, "nothing to do: give --input x.npy, an image, --check-equivariance, "
		        "--bench or --save-weights (see --help)");
		return -1;
	}
	if (modes > 1 && !(o->check && o->input && modes == 2)) {
		fail(r, "choose one of --input, images, --check-equivariance and --bench");
		return -1;
	}
	if (o->output && (o->check || o->bench)) {
		fail(r, "--output goes with --input or images, not %s",
		        o->check ? "--check-equivariance" : "--bench");
		return -1;
	}
	if (o->profile && !o->bench) {
		fail(r, "--profile goes with --bench");
		return -1;
	}
	if (!o->check && !o->bench && !o->weights && !o->has_seed) {
		fail(r, "no weights: give --weights W.safetensors or --seed S");
		return -1;
	}
	return 0;
}

/* ---- inputs ---- */

static void put_dims(char *buf, size_t n, int ndim, const int *dim, bool batch)
{
	int k = snprintf(buf, n, "[%s", batch ? "B, " : "");
	for (int d = 0; d < ndim && k > 0 && (size_t)k < n; d++)
		k += snprintf(buf + k, n - (size_t)k, "%s%d", d ? ", " : "", dim[d]);
	if (k > 0 && (size_t)k < n)
		snprintf(buf + k, n - (size_t)k, "]");
}

/* Loads x.npy and checks it against the model's input; *batch is 0 if unbatched. */
static float *load_input(const Run *r, const char *path, int *batch, bool *batched)
{
	float *x = NULL;
	int ndim, dim[4];
	char err[512];
	if (gq_load_npy(path, &x, &ndim, dim, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	const gq_shape *in = &r->m->input;
	int want[3] = {in->c, in->h, in->w};
	const int *got = ndim == 4 ? dim + 1 : dim;
	if ((ndim == 3 || ndim == 4) && !memcmp(got, want, sizeof want)) {
		*batched = ndim == 4;
		*batch = ndim == 4 ? dim[0] : 1;
		return x;
	}
	char gs[96], ws[96];
	put_dims(gs, sizeof gs, ndim, dim, false);
	put_dims(ws, sizeof ws, 3, want, true);
	fprintf(stderr, "%s: shape %s does not match the model's input %s\n", path, gs, ws);
	free(x);
	return NULL;
}

static void random_input(float *x, size_t n, unsigned long long seed)
{
	Rng g = rng_seeded(seed, 2);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)rng_normal(&g);
}

/* ---- output ---- */

/* The output's dims as a user sees them: [C,H,W] image, [C,G,H,W] G-map, [N] vector. */
static int out_dims(const gq_shape *s, int *dim)
{
	if (s->kind == GQ_VECTOR) {
		dim[0] = (int)gq_numel(*s);
		return 1;
	}
	int k = 0;
	dim[k++] = s->c;
	if (s->kind == GQ_GMAP)
		dim[k++] = s->g;
	dim[k++] = s->h;
	dim[k++] = s->w;
	return k;
}

static int save_output(const Run *r, const char *path, const float *y, int batch, bool batched)
{
	int dim[5], k = 0;
	if (batched)
		dim[k++] = batch;
	k += out_dims(&r->m->output, dim + k);
	char err[512];
	if (gq_save_npy(path, y, k, dim, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

/* The label of class i: the i-th line of labels, else its index. */
static void label_of(const char *labels, int i, char *buf, size_t n)
{
	const char *s = labels;
	for (int k = 0; s && k < i; k++) {
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	if (!s || !*s) {
		snprintf(buf, n, "%d", i);
		return;
	}
	size_t len = strcspn(s, "\r\n");
	snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), s);
}

/* The top classes of one output vector, probabilities by softmax unless already one. */
static void print_top(const Run *r, const float *y, int n)
{
	double mx = -INFINITY, sum = 0;
	for (int i = 0; i < n; i++)
		mx = y[i] > mx ? y[i] : mx;
	for (int i = 0; i < n && !r->m->ends_softmax; i++)
		sum += exp(y[i] - mx);
	bool *used = calloc((size_t)n + 1, sizeof *used);
	if (!used)
		return;
	for (int k = 0; k < TOP_K && k < n; k++) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (!used[i] && (best < 0 || y[i] > y[best]))
				best = i;
		used[best] = true;
		double p = r->m->ends_softmax ? y[best] : exp(y[best] - mx) / sum;
		char label[256];
		label_of(r->labels, best, label, sizeof label);
		printf("%-20s  %.4f\n", label, p);
	}
	free(used);
}

static void print_output(const Run *r, const float *y, int batch)
{
	const gq_shape *s = &r->m->output;
	size_t n = gq_numel(*s);
	bool classes = s->kind == GQ_VECTOR && (r->m->ends_softmax || r->labels);
	for (int b = 0; b < batch; b++) {
		const float *v = y + (size_t)b * n;
		if (classes) {
			if (batch > 1)
				printf("image %d:\n", b);
			print_top(r, v, (int)n);
		} else if (s->kind == GQ_VECTOR) {
			for (size_t i = 0; i < n; i++)
				printf("%s%.6g", i ? " " : "", v[i]);
			printf("\n");
		} else {
			double lo = INFINITY, hi = -INFINITY, sum = 0;
			for (size_t i = 0; i < n; i++) {
				lo = v[i] < lo ? v[i] : lo;
				hi = v[i] > hi ? v[i] : hi;
				sum += v[i];
			}
			int dim[4], k = out_dims(s, dim);
			char ds[96];
			put_dims(ds, sizeof ds, k, dim, false);
			printf("image %d: %s min %.6g max %.6g mean %.6g\n", b, ds, lo, hi,
			        sum / (double)n);
		}
	}
}

static int run_forward(const Run *r, const float *x, int batch, float *y)
{
	if (r->m->forward(r->net, x, batch, y)) {
		fail(r, "the forward pass failed (no weights loaded?)");
		return -1;
	}
	return 0;
}

static int run_input(const Run *r, const Opts *o)
{
	int batch;
	bool batched;
	float *x = load_input(r, o->input, &batch, &batched), *y = NULL;
	int rc = EXIT_USAGE;
	if (!x)
		return rc;
	y = xmalloc(r, (size_t)batch, gq_numel(r->m->output) * sizeof *y);
	if (y && !run_forward(r, x, batch, y)) {
		if (o->output)
			rc = save_output(r, o->output, y, batch, batched) ? EXIT_USAGE : 0;
		else {
			print_output(r, y, batch);
			rc = 0;
		}
	}
	free(x);
	free(y);
	return rc;
}

/* ---- images ---- */

/* To the model's channels: gray -> RGB repeats, RGB -> gray by ITU-R BT.601 luma. */
static float *convert_channels(const Run *r, const char *path, float *img, int c, int hw)
{
	int want = r->m->input.c;
	if (c == want)
		return img;
	if ((want != 1 && want != 3) || (c != 1 && c != 3)) {
		fprintf(stderr, "%s: the image has %d channels; the model takes %d\n", path, c,
		        want);
		free(img);
		return NULL;
	}
	float *out = xmalloc(r, (size_t)want * (size_t)hw, sizeof *out);
	for (int i = 0; out && i < hw; i++) {
		if (want == 1)
			out[i] = 0.299f * img[i] + 0.587f * img[hw + i] + 0.114f * img[2 * hw + i];
		else
			out[i] = out[hw + i] = out[2 * hw + i] = img[i];
	}
	free(img);
	return out;
}

/* Bilinear resize with half-pixel centres, as torch's interpolate(align_corners=False). */
static void resize_plane(float *out, int oh, int ow, const float *in, int h, int w)
{
	for (int y = 0; y < oh; y++) {
		double sy = ((double)y + 0.5) * h / oh - 0.5;
		sy = sy < 0 ? 0 : sy;
		int y0 = (int)sy, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
		double fy = sy - y0;
		for (int x = 0; x < ow; x++) {
			double sx = ((double)x + 0.5) * w / ow - 0.5;
			sx = sx < 0 ? 0 : sx;
			int x0 = (int)sx, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
			double fx = sx - x0;
			double top = in[y0 * w + x0] * (1 - fx) + in[y0 * w + x1] * fx;
			double bot = in[y1 * w + x0] * (1 - fx) + in[y1 * w + x1] * fx;
			out[y * ow + x] = (float)(top * (1 - fy) + bot * fy);
		}
	}
}

static float *load_model_image(const Run *r, const char *path)
{
	float *img;
	int c, h, w;
	char err[512];
	if (gq_load_image(path, &img, &c, &h, &w, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	img = convert_channels(r, path, img, c, h * w);
	const gq_shape *in = &r->m->input;
	if (!img || (h == in->h && w == in->w))
		return img;
	fprintf(stderr, "%s: resized %dx%d -> %dx%d\n", path, w, h, in->w, in->h);
	float *out = xmalloc(r, gq_numel(*in), sizeof *out);
	for (int k = 0; out && k < in->c; k++)
		resize_plane(out + (size_t)k * in->h * in->w, in->h, in->w,
		        img + (size_t)k * (size_t)h * (size_t)w, h, w);
	free(img);
	return out;
}

/* Each image prints its top classes (or a summary of a map); with --output, the outputs
 * of all images go to one .npy ([N, ...] for several images, as a batch). */
static int run_images(const Run *r, const Opts *o)
{
	size_t no = gq_numel(r->m->output);
	float *y = xmalloc(r, (size_t)o->nimages, no * sizeof *y);
	int rc = y ? 0 : EXIT_USAGE;
	for (int i = 0; i < o->nimages && rc == 0; i++) {
		float *x = load_model_image(r, o->images[i]), *yi = y + (size_t)i * no;
		if (!x || run_forward(r, x, 1, yi)) {
			rc = EXIT_USAGE;
		} else if (!o->output) {
			if (o->nimages > 1)
				printf("%s:\n", o->images[i]);
			if (r->m->output.kind == GQ_VECTOR)
				print_top(r, yi, (int)no);
			else
				print_output(r, yi, 1);
		}
		free(x);
	}
	if (rc == 0 && o->output)
		rc = save_output(r, o->output, y, o->nimages, o->nimages > 1) ? EXIT_USAGE : 0;
	free(y);
	return rc;
}

/* ---- --check-equivariance ---- */

typedef struct Bufs {
	float *x, *tx, *fx, *ftx, *tfx;
} Bufs;

/* max|a - ref| / max|ref| (max|a - ref| if ref is all zero); NaN counts as broken. */
static double rel_error(const float *a, const float *ref, size_t n)
{
	double diff = 0, scale = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - ref[i]), s = fabs((double)ref[i]);
		diff = d > diff || d != d ? d : diff;
		scale = s > scale ? s : scale;
	}
	return scale > 0 ? diff / scale : diff;
}

/* err_g = max|f(T_g x) - T_g f(x)| / max|f(x)| over the batch (SPEC §3). */
static int equiv_error(const Run *r, int g, const Bufs *B, int batch, double *err)
{
	const gq_model *m = r->m;
	size_t ni = gq_numel(m->input), no = gq_numel(m->output);
	for (int b = 0; b < batch; b++)
		gq_act(g, B->tx + b * ni, B->x + b * ni, m->input, m->elem);
	if (run_forward(r, B->tx, batch, B->ftx))
		return -1;
	for (int b = 0; b < batch; b++)
		gq_act(g, B->tfx + b * no, B->fx + b * no, m->output, m->elem);
	*err = rel_error(B->ftx, B->tfx, (size_t)batch * no);
	return 0;
}

/* ---- the network's own float32 noise ---- */

enum { NOISE_TRIALS = 3 };
/* err_g of an exact element is float32 rounding taken through the network in another
 * order. On 300-layer exact p4 nets it stayed below the floor below (0.1 to 1.0 times
 * it); a grid break at their end gave 5 to 150 times it, on shallow nets 1e5 times. */
#define NOISE_FACTOR 3.0

/* Each value moved one ulp up or down at random: the size of one float32 rounding. */
static void nudge(float *dst, const float *src, size_t n, Rng *g)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = nextafterf(src[i], rng_next(g) & 1 ? INFINITY : -INFINITY);
}

/* The noise floor: how far f(x) moves, relative to max|f(x)|, when every weight and every
 * input value moves by one ulp (the largest of NOISE_TRIALS draws). Rounding perturbs
 * every layer by about as much, so the floor grows with depth as an exact element's
 * err_g does. The weights as loaded are restored after. */
static int noise_floor(const Run *r, const Bufs *B, int batch, double *floor)
{
	const gq_model *m = r->m;
	size_t ni = (size_t)batch * gq_numel(m->input), no = (size_t)batch * gq_numel(m->output);
	float *w = xmalloc(r, r->nraw, sizeof *w), *y = xmalloc(r, no, sizeof *y);
	float **t = xmalloc(r, (size_t)m->nparams + 1, sizeof *t);
	char why[400];
	int rc = w && y && t ? 0 : -1;
	*floor = 0;
	for (int i = 0; rc == 0 && i < m->nparams; i++)
		t[i] = w + (r->t[i] - r->raw);
	for (int k = 0; rc == 0 && k < NOISE_TRIALS; k++) {
		Rng g = rng_seeded((unsigned long long)k, 3);
		nudge(w, r->raw, r->nraw, &g);
		nudge(B->tx, B->x, ni, &g);
		rc = m->load_raw(r->net, (const float *const *)t, why, sizeof why) ||
		     run_forward(r, B->tx, batch, y);
		double e = rc ? 0 : rel_error(y, B->fx, no);
		*floor = e > *floor || e != e ? e : *floor;
	}
	if (m->load_raw(r->net, (const float *const *)r->t, why, sizeof why))
		rc = -1;
	free(w);
	free(y);
	free(t);
	return rc;
}

/* One line per element: name, err_g, the lint's verdict, and whether they agree: an
 * exact element within max(1e-4, NOISE_FACTOR x floor), a broken one above max(1e-6,
 * NOISE_FACTOR x floor), so that rounding is never taken for a broken element nor a
 * broken element for rounding. */
static int check_elements(const Run *r, const Bufs *B, int batch)
{
	const gq_model *m = r->m;
	double floor;
	if (noise_floor(r, B, batch, &floor))
		return EXIT_USAGE;
	double noise = NOISE_FACTOR * floor;
	double exact_tol = noise > EXACT_TOL ? noise : EXACT_TOL;
	double broken_tol = noise > BROKEN_TOL ? noise : BROKEN_TOL;
	printf("noise floor %.1e (float32 rounding, measured: f(x)'s change when every weight "
	       "and input value moves one ulp); exact: err_g <= %.1e, broken: err_g >= %.1e\n",
	        floor, exact_tol, broken_tol);
	int bad = 0;
	for (int a = 0; a < m->ngroup; a++) {
		int g = m->elem[a];
		double err;
		if (equiv_error(r, g, B, batch, &err))
			return EXIT_USAGE;
		bool lint_exact = m->lint_exact >> g & 1;
		bool agree = lint_exact ? err <= exact_tol : err >= broken_tol;
		printf("%-4s %.1e  %-6s  ", elem_name[g], err, lint_exact ? "exact" : "broken");
		if (agree)
			printf("agrees\n");
		else
			printf("DISAGREES: the error is %s %.1e\n", lint_exact ? "above" : "below",
			        lint_exact ? exact_tol : broken_tol);
		bad += !agree;
	}
	if (bad)
		printf("%d of %d elements disagree with the lint\n", bad, m->ngroup);
	else
		printf("%s %d element%s agree%s with the lint (%s)\n",
		        m->ngroup > 1 ? "all" : "the", m->ngroup, m->ngroup > 1 ? "s" : "",
		        m->ngroup > 1 ? "" : "s", m->lint_verdict);
	return bad ? EXIT_MISMATCH : 0;
}

static int run_check(const Run *r, const Opts *o)
{
	const gq_model *m = r->m;
	int batch = 1, rc = EXIT_USAGE;
	bool batched;
	Bufs B = {0};
	if (o->input)
		B.x = load_input(r, o->input, &batch, &batched);
	else if ((B.x = xmalloc(r, gq_numel(m->input), sizeof *B.x)))
		random_input(B.x, gq_numel(m->input), o->seed);
	size_t ni = (size_t)batch * gq_numel(m->input), no = (size_t)batch * gq_numel(m->output);
	if (!B.x || !(B.tx = xmalloc(r, ni, sizeof(float))) ||
	        !(B.fx = xmalloc(r, no, sizeof(float))) ||
	        !(B.ftx = xmalloc(r, no, sizeof(float))) ||
	        !(B.tfx = xmalloc(r, no, sizeof(float))))
		goto out;
	if (!run_forward(r, B.x, batch, B.fx))
		rc = check_elements(r, &B, batch);
out:
	free(B.x);
	free(B.tx);
	free(B.fx);
	free(B.ftx);
	free(B.tfx);
	return rc;
}

/* ---- --bench ---- */

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

enum { BENCH_RUNS = 7 };
#define BENCH_RUN_SECONDS 0.2

/* Forward passes for at least BENCH_RUN_SECONDS; returns images per second. */
static double timed_run(const Run *r, const float *x, int batch, float *y)
{
	long iters = 0;
	double t0 = gq_now(), t;
	do {
		r->m->forward(r->net, x, batch, y);
		iters++;
	} while ((t = gq_now() - t0) < BENCH_RUN_SECONDS);
	return (double)iters * batch / t;
}

static const char *placement(double ns)
{
	return ns > GQ_FAR_NS ? "far" : "near";
}

/* Where the VM put the CPUs the threads ran on, before and after the timed runs: two
 * threads at batch 1 share a layer well only when they are near. */
static void print_placement(double before, double after)
{
	if (before < 0 || after < 0) {
		printf("vCPUs not measured (other processes held the CPUs)\n");
		return;
	}
	if (strcmp(placement(before), placement(after)))
		printf("vCPUs moved %s -> %s", placement(before), placement(after));
	else
		printf("vCPUs %s", placement(before));
	printf(", round trip %.0f ns before the runs, %.0f ns after\n", before, after);
}

static int run_bench(const Run *r, const Opts *o)
{
	const gq_model *m = r->m;
	float *x = xmalloc(r, (size_t)o->batch, gq_numel(m->input) * sizeof *x);
	float *y = xmalloc(r, (size_t)o->batch, gq_numel(m->output) * sizeof *y);
	int rc = EXIT_USAGE;
	if (x && y) {
		random_input(x, (size_t)o->batch * gq_numel(m->input), o->seed);
		double before = gq_threads() > 1 ? gq_round_trip_ns() : -1;
		if (!run_forward(r, x, o->batch, y)) { /* the warm-up */
			double rate[BENCH_RUNS];
			timed_run(r, x, o->batch, y);
			gq_threads_used(true);
			gq_profile(o->profile);
			for (int i = 0; i < BENCH_RUNS; i++)
				rate[i] = timed_run(r, x, o->batch, y);
			qsort(rate, BENCH_RUNS, sizeof *rate, by_value);
			double med = rate[BENCH_RUNS / 2];
			printf("%.1f images/s\n", med);
			printf("model %s, batch %d, %d threads used (%d set, %d cores), %d runs of "
			       ">= "
			       "%.1f s: min %.1f, median %.1f, max %.1f images/s; %.3f ms per "
			       "batch\n",
			        m->name, o->batch, gq_threads_used(false), gq_threads(), gq_cores(),
			        BENCH_RUNS, BENCH_RUN_SECONDS, rate[0], med, rate[BENCH_RUNS - 1],
			        1e3 * o->batch / med);
			if (gq_threads_used(false) > 1)
				print_placement(before, gq_round_trip_ns());
			if (o->tune)
				printf("tuned %d convolutions in %.3f s before the runs\n",
				        r->tuned, r->tune_s);
			gq_profile_report(stdout);
			gq_profile(false);
			rc = 0;
		}
	}
	free(x);
	free(y);
	return rc;
}

/* ---- main ---- */

enum { MAX_LABELS_BYTES = 64 << 20 };

static char *read_labels(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0, k;
	char *s = malloc(cap);
	const char *why = s ? NULL : "out of memory";
	while (!why && (k = fread(s + n, 1, cap - n - 1, f)) > 0) {
		n += k;
		if (n + 1 < cap)
			continue;
		char *t = cap < MAX_LABELS_BYTES ? realloc(s, cap *= 2) : NULL;
		if (t)
			s = t;
		else
			why = cap < MAX_LABELS_BYTES ? "out of memory" : "larger than 64 MB";
	}
	if (!why && ferror(f))
		why = strerror(errno);
	fclose(f);
	if (why) {
		fprintf(stderr, "%s: %s\n", path, why);
		free(s);
		return NULL;
	}
	s[n] = 0;
	return s;
}

/* More threads than cores take turns on them, each waiting for the others at every
 * layer: 64 threads on 2 cores ran 75 times slower than 2. Allowed, but said. */
static void set_threads(const Run *r, int threads)
{
	int cores = gq_cores();
	if (threads > cores)
		fprintf(stderr,
		        "%s: warning: --threads %d is more than the %d cores this process may use: "
		        "threads beyond them only take turns, and slow each other down\n",
		        r->prog, threads, cores);
	gq_set_threads(threads);
}

static int run_mode(Run *r, const Opts *o)
{
	if (o->labels) {
		free(r->labels);
		if (!(r->labels = read_labels(o->labels)))
			return EXIT_USAGE;
	}
	if (o->threads)
		set_threads(r, o->threads);
	if (o->tune) { /* on the threads just set */
		double t0 = gq_now();
		if ((r->tuned = gq_net_tune(r->net)) < 0) {
			fail(r, "tuning failed: out of memory");
			return EXIT_USAGE;
		}
		r->tune_s = gq_now() - t0;
	}
	if (o->check)
		return run_check(r, o);
	if (o->bench)
		return run_bench(r, o);
	if (o->input)
		return run_input(r, o);
	if (o->nimages)
		return run_images(r, o);
	return 0; /* only --save-weights */
}

int gq_main(const gq_model *m, int argc, char **argv)
{
	Run r = {.m = m, .prog = m->name};
	Opts o = {0};
	int rc = EXIT_USAGE;
	if (parse_args(&r, &o, argc, argv))
		goto out;
	if (o.help) {
		usage(stdout, m);
		rc = 0;
		goto out;
	}
	if (check_args(&r, &o))
		goto out;
	if (!o.weights && !o.has_seed)
		o.seed = 1;
	if (o.tune)
		gq_set_tune(true);
	if (!(r.net = m->create())) {
		fail(&r, "out of memory");
		goto out;
	}
	if (load_weights(&r, &o) == 0)
		rc = run_mode(&r, &o);
out:
	if (r.net)
		m->destroy(r.net);
	free(r.labels);
	free(r.raw);
	free(r.t);
	free(o.images);
	return rc;
}
