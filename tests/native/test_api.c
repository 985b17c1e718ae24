/* test_api.c: the embeddable API of a generated model (SPEC §4), built against the code
 * geqc emits for tests/native/api.geq (crosscheck.py compiles it with -DMODEL=api and
 * -Wl,--wrap=malloc,... so that every allocation by the model and the runtime is counted).
 *
 * What it shows: m_forward never allocates; the batch is a loop over independent images;
 * loading twice gives the same network (folding does not accumulate); m_load reports a
 * missing tensor, a wrong shape and a negative variance by name and leaves the call
 * failing cleanly; forward before load fails. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

/* ---- allocation counting: the linker sends the model's and runtime's calls here ---- */
static long nalloc;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
	nalloc++;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
	nalloc++;
	return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
	nalloc++;
	return __real_realloc(p, n);
}

/* ---- random weights written the way a user's PyTorch would ---- */
static unsigned long long rng = 12345;
static float frand(void) /* uniform in [-1, 1) */
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((rng >> 40) / (double)(1ULL << 24)) * 2 - 1;
}

static size_t numel(const gq_param *p)
{
	size_t n = 1;
	for (int d = 0; d < p->ndim; d++)
		n *= (size_t)p->dim[d];
	return n;
}

static char dir[] = "/tmp/geqc-api-XXXXXX";

/* Writes api_model's tensors (minus skip, with one reshaped or one negative variance if
 * asked) to dir/name and returns the path. */
static const char *write_weights(const char *name, int skip, int reshape, int negvar)
{
	static char path[256];
	const gq_model *m = &api_model;
	gq_param *p = calloc((size_t)m->nparams + 1, sizeof *p);
	float **t = calloc((size_t)m->nparams + 1, sizeof *t);
	int n = 0;
	for (int i = 0; i < m->nparams; i++) {
		if (i == skip)
			continue;
		p[n] = m->params[i];
		if (i == reshape)
			p[n].dim[0]++;
		t[n] = malloc(numel(&p[n]) * sizeof(float));
		for (size_t k = 0; k < numel(&p[n]); k++) {
			bool var = strstr(p[n].name, "running_var") != NULL;
			t[n][k] = var ? (i == negvar ? -1.0f : 1.0f + 0.5f * frand()) : frand();
		}
		n++;
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	char err[256];
	ck_assert_msg(gq_save_safetensors(
	                      path, p, n, (const float *const *)t, NULL, err, sizeof err) == 0,
	        "%s", err);
	for (int i = 0; i < n; i++)
		free(t[i]);
	free(t);
	free(p);
	return path;
}

static int param_index(const char *suffix)
{
	for (int i = 0; i < api_model.nparams; i++)
		if (strstr(api_model.params[i].name, suffix))
			return i;
	return -1;
}

static float *random_input(int batch)
{
	float *x = malloc((size_t)batch * API_IN_SIZE * sizeof *x);
	for (size_t i = 0; i < (size_t)batch * API_IN_SIZE; i++)
		x[i] = frand();
	return x;
}

START_TEST(forward_never_allocates)
{
	api_net *n = api_new();
	ck_assert_ptr_nonnull(n);
	char err[512];
	ck_assert_msg(api_load(n, write_weights("w.safetensors", -1, -1, -1), err, sizeof err) == 0,
	        "%s", err);
	float *x = random_input(4), *y = malloc(4 * API_OUT_SIZE * sizeof *y);
	/* nothing between the counts but the model (Check's asserts allocate); OpenBLAS's own
	 * allocations are not counted: it is a shared library */
	long before = nalloc;
	int rc4 = api_forward(n, x, 4, y), rc1 = api_forward(n, x, 1, y);
	long during = nalloc - before;
	ck_assert_int_eq(rc4, 0);
	ck_assert_int_eq(rc1, 0);
	ck_assert_int_eq(during, 0);
	free(x);
	free(y);
	api_free(n);
}
END_TEST

/* The batch is a loop over images: image b of a batch equals it run alone. */
START_TEST(batch_is_per_image)
{
	api_net *n = api_new();
	char err[512];
	ck_assert_int_eq(
	        api_load(n, write_weights("w.safetensors", -1, -1, -1), err, sizeof err), 0);
	float *x = random_input(3), *y = malloc(3 * API_OUT_SIZE * sizeof *y);
	float one[API_OUT_SIZE];
	ck_assert_int_eq(api_forward(n, x, 3, y), 0);
	for (int b = 0; b < 3; b++) {
		ck_assert_int_eq(api_forward(n, x + b * API_IN_SIZE, 1, one), 0);
		for (int i = 0; i < API_OUT_SIZE; i++)
			ck_assert_float_eq(one[i], y[b * API_OUT_SIZE + i]);
	}
	free(x);
	free(y);
	api_free(n);
}
END_TEST

/* Loading again re-expands and re-folds from the file: nothing accumulates, and two nets
 * with the same weights agree. */
START_TEST(load_twice_is_load_once)
{
	const char *w = write_weights("w.safetensors", -1, -1, -1);
	api_net *a = api_new(), *b = api_new();
	char err[512];
	ck_assert_int_eq(api_load(a, w, err, sizeof err), 0);
	ck_assert_int_eq(api_load(a, w, err, sizeof err), 0);
	ck_assert_int_eq(api_load(b, w, err, sizeof err), 0);
	float *x = random_input(2), ya[2 * API_OUT_SIZE], yb[2 * API_OUT_SIZE];
	ck_assert_int_eq(api_forward(a, x, 2, ya), 0);
	ck_assert_int_eq(api_forward(b, x, 2, yb), 0);
	for (int i = 0; i < 2 * API_OUT_SIZE; i++) {
		ck_assert_float_eq(ya[i], yb[i]);
		ck_assert(isfinite(ya[i]));
	}
	free(x);
	api_free(a);
	api_free(b);
}
END_TEST

START_TEST(forward_before_load_fails)
{
	api_net *n = api_new();
	float x[API_IN_SIZE] = {0}, y[API_OUT_SIZE];
	ck_assert_int_eq(api_forward(n, x, 1, y), -1);
	ck_assert_int_eq(api_forward(NULL, x, 1, y), -1);
	api_free(n);
	api_free(NULL);
}
END_TEST

static void expect_load_error(const char *path, const char *want1, const char *want2)
{
	api_net *n = api_new();
	char err[512] = "";
	ck_assert_int_eq(api_load(n, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, path) && strstr(err, want1) && strstr(err, want2),
	        "error '%s' should name '%s', '%s' and '%s'", err, path, want1, want2);
	float x[API_IN_SIZE] = {0}, y[API_OUT_SIZE];
	ck_assert_int_eq(api_forward(n, x, 1, y), -1); /* still not loaded */
	api_free(n);
}

START_TEST(missing_tensor_is_named)
{
	int i = param_index("gconv1.weight");
	ck_assert_int_ge(i, 0);
	expect_load_error(
	        write_weights("missing.safetensors", i, -1, -1), "missing", "gconv1.weight");
}
END_TEST

START_TEST(wrong_shape_is_named)
{
	int i = param_index("linear1.weight");
	ck_assert_int_ge(i, 0);
	expect_load_error(write_weights("shape.safetensors", -1, i, -1), "linear1.weight", "shape");
}
END_TEST

/* Both bns: the one folded into its conv and the one run as an affine map. */
START_TEST(negative_variance_is_named)
{
	int i = param_index("bn1.running_var"), j = param_index("bn2.running_var");
	ck_assert_int_ge(i, 0);
	ck_assert_int_ge(j, 0);
	expect_load_error(write_weights("var1.safetensors", -1, -1, i), "bn1.running_var", "-1");
	expect_load_error(write_weights("var2.safetensors", -1, -1, j), "bn2.running_var", "-1");
}
END_TEST

START_TEST(unreadable_file_is_named)
{
	expect_load_error("/nonexistent/w.safetensors", "/nonexistent/w.safetensors", "");
}
END_TEST

int main(void)
{
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("api");
	tcase_add_test(tc, forward_never_allocates);
	tcase_add_test(tc, batch_is_per_image);
	tcase_add_test(tc, load_twice_is_load_once);
	tcase_add_test(tc, forward_before_load_fails);
	tcase_add_test(tc, missing_tensor_is_named);
	tcase_add_test(tc, wrong_shape_is_named);
	tcase_add_test(tc, negative_variance_is_named);
	tcase_add_test(tc, unreadable_file_is_named);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		failed++;
	return failed != 0;
}
