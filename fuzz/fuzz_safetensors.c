/* fuzz_safetensors.c: gq_load_safetensors on hostile files, checked against the tensors of
 * three models: the w/b pair of tests/bad/, the F32/F16/BF16 file of tests/data/, and
 * fuzz/tiny.geq (whose real weights fuzz/make-seeds.py writes). It asserts the loader's
 * contract (geqrt.h): -1 with "PATH: message" and *labels NULL, or 0 with every tensor read;
 * and that what loaded survives gq_save_safetensors and a second load bit for bit. */
#include "geqrt.h"

#include "fuzz.h"

static const gq_param wb[] = {{"w", 2, {2, 2}}, {"b", 1, {2}}};
static const gq_param ref[] = {{"a.weight", 2, {2, 3}}, {"z.half", 1, {18}}, {"m.brain", 1, {12}}};
static const gq_param tiny[] = {
        {"lift1.weight", 4, {2, 1, 3, 3}},
        {"lift1.bias", 1, {2}},
        {"bn1.weight", 1, {2}},
        {"bn1.bias", 1, {2}},
        {"bn1.running_mean", 1, {2}},
        {"bn1.running_var", 1, {2}},
        {"gconv1.weight", 5, {2, 2, 4, 3, 3}},
        {"gconv1.bias", 1, {2}},
        {"linear1.weight", 2, {3, 2}},
        {"linear1.bias", 1, {3}},
};
enum { MAX_PARAMS = 10 };

static const struct {
	const gq_param *p;
	int n;
} models[] = {{wb, 2}, {ref, 3}, {tiny, MAX_PARAMS}};

static FuzzFile in, out;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_file_open(&in, "in.safetensors");
	fuzz_file_open(&out, "out.safetensors");
	return 0;
}

static size_t numel(const gq_param *p)
{
	size_t n = 1;
	for (int i = 0; i < p->ndim; i++)
		n *= (size_t)p->dim[i];
	return n;
}

typedef struct Weights {
	float *t[MAX_PARAMS];
	char *labels;
} Weights;

static void weights_alloc(Weights *w, const gq_param *p, int n)
{
	*w = (Weights){0};
	for (int i = 0; i < n; i++) {
		w->t[i] = malloc(numel(&p[i]) * sizeof(float));
		FUZZ_ASSERT(w->t[i]);
	}
}

static void weights_free(Weights *w, int n)
{
	for (int i = 0; i < n; i++)
		free(w->t[i]);
	free(w->labels);
}

static int load(const char *path, const gq_param *p, int n, Weights *w)
{
	char err[256] = "";
	w->labels = (char *)err; /* must be overwritten on every path */
	int rc = gq_load_safetensors(path, p, n, w->t, &w->labels, err, sizeof err);
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc != 0) {
		FUZZ_ASSERT(w->labels == NULL);
		FUZZ_ASSERT(fuzz_error_names(err, path));
	}
	FUZZ_ASSERT(w->labels != err);
	return rc;
}

/* What loaded is saved as F32 and loaded again: the same bits, the same labels. */
static void round_trip(const gq_param *p, int n, const Weights *w)
{
	char err[256] = "";
	Weights again;
	int rc = gq_save_safetensors(
	        out.path, p, n, (const float *const *)w->t, w->labels, err, sizeof err);
	FUZZ_ASSERT(rc == 0);
	weights_alloc(&again, p, n);
	FUZZ_ASSERT(load(out.path, p, n, &again) == 0);
	for (int i = 0; i < n; i++)
		FUZZ_ASSERT(memcmp(w->t[i], again.t[i], numel(&p[i]) * sizeof(float)) == 0);
	FUZZ_ASSERT(!w->labels == !again.labels);
	FUZZ_ASSERT(!w->labels || strcmp(w->labels, again.labels) == 0);
	weights_free(&again, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file_set(&in, data, size);
	for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
		Weights w;
		weights_alloc(&w, models[m].p, models[m].n);
		if (load(path, models[m].p, models[m].n, &w) == 0)
			round_trip(models[m].p, models[m].n, &w);
		weights_free(&w, models[m].n);
	}
	return 0;
}
