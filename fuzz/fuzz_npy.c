/* fuzz_npy.c: gq_load_npy on hostile files. It asserts the loader's contract (geqrt.h):
 * -1 with "PATH: message" and *data NULL, or 0 with 1 to 4 dimensions; and that an array
 * that loaded survives gq_save_npy and a second load bit for bit. */
#include "geqrt.h"

#include "fuzz.h"

static FuzzFile in, out;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_file_open(&in, "in.npy");
	fuzz_file_open(&out, "out.npy");
	return 0;
}

typedef struct Array {
	float *data;
	int ndim, dim[4];
	size_t numel;
} Array;

static int load(const char *path, Array *a)
{
	char err[256] = "";
	a->data = (float *)err; /* must be overwritten on every path */
	int rc = gq_load_npy(path, &a->data, &a->ndim, a->dim, err, sizeof err);
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc != 0) {
		FUZZ_ASSERT(a->data == NULL);
		FUZZ_ASSERT(fuzz_error_names(err, path));
		return -1;
	}
	FUZZ_ASSERT(a->data && a->data != (float *)err);
	FUZZ_ASSERT(a->ndim >= 1 && a->ndim <= 4);
	a->numel = 1;
	for (int i = 0; i < a->ndim; i++) {
		FUZZ_ASSERT(a->dim[i] >= 0);
		a->numel *= (size_t)a->dim[i];
	}
	return 0;
}

static void round_trip(const Array *a)
{
	char err[256] = "";
	Array b;
	FUZZ_ASSERT(gq_save_npy(out.path, a->data, a->ndim, a->dim, err, sizeof err) == 0);
	FUZZ_ASSERT(load(out.path, &b) == 0);
	FUZZ_ASSERT(b.ndim == a->ndim && memcmp(b.dim, a->dim, sizeof b.dim) == 0);
	FUZZ_ASSERT(memcmp(a->data, b.data, a->numel * sizeof(float)) == 0);
	free(b.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Array a;
	if (load(fuzz_file_set(&in, data, size), &a) == 0) {
		round_trip(&a);
		free(a.data);
	}
	return 0;
}
