/* test_load.c: the loaders of runtime/load_*.c against files written by real tools (numpy,
 * torch, libpng), round trips, conversions checked against the bit formulas, and the
 * catalogue of malformed files in tests/bad/, each with its exact error text.
 * Usage: test_load [TESTS_DIR] (default "tests"). */
#include "geqrt.h"

#include <check.h>
#include <ftw.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *tests_dir = "tests";
static char tmp_dir[64];

/* ---- helpers ---- */

/* A path under the tests directory or the scratch directory (rotating static buffers). */
static const char *path_in(const char *dir, const char *sub, const char *name)
{
	static char buf[8][512];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s%s%s", dir, sub, *sub ? "/" : "", name);
	return p;
}

static const char *data_path(const char *name)
{
	return path_in(tests_dir, "data", name);
}

static const char *bad_path(const char *name)
{
	return path_in(tests_dir, "bad", name);
}

static const char *tmp_path(const char *name)
{
	return path_in(tmp_dir, "", name);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole file, malloc'd. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	unsigned char *p = malloc(*n + 1);
	ck_assert_uint_eq(fread(p, 1, *n, f), *n);
	fclose(f);
	return p;
}

/* A small deterministic generator, so failures reproduce. */
static unsigned rng(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static uint32_t bits_of(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	return u;
}

static float float_of(uint32_t u)
{
	float x;
	memcpy(&x, &u, 4);
	return x;
}

/* "PATH: message", as the loaders write errors. */
static void assert_error(const char *err, const char *path, const char *msg)
{
	char want[2048];
	snprintf(want, sizeof want, "%s: %s", path, msg);
	ck_assert_str_eq(err, want);
}

/* The model most bad safetensors files are checked against: w [2, 2] and b [2]. */
static const gq_param wb[] = {{"w", 2, {2, 2, 0, 0, 0}}, {"b", 1, {2, 0, 0, 0, 0}}};

static int load_wb(const char *path, char *err, size_t errlen, char **labels)
{
	float w[4], b[2];
	float *dst[] = {w, b};
	return gq_load_safetensors(path, wb, 2, dst, labels, err, errlen);
}

/* ---- safetensors ---- */

static size_t param_numel(const gq_param *p)
{
	size_t n = 1;
	for (int i = 0; i < p->ndim; i++)
		n *= (size_t)p->dim[i];
	return n;
}

START_TEST(st_round_trip)
{
	static const gq_param ps[] = {{"lift1.weight", 4, {3, 1, 3, 3}}, {"lift1.bias", 1, {3}},
	        {"gconv1.weight", 5, {2, 3, 4, 3, 3}}, {"bn1.running_var", 1, {2}},
	        {"empty", 2, {0, 5}}, {"scalar", 0, {0}}};
	enum { N = sizeof ps / sizeof *ps };
	float *src[N], *dst[N];
	unsigned seed = 7;
	for (int i = 0; i < N; i++) {
		size_t n = param_numel(&ps[i]);
		src[i] = malloc((n + 1) * sizeof(float));
		dst[i] = calloc(n + 1, sizeof(float));
		for (size_t j = 0; j < n; j++)
			src[i][j] = float_of(
			        rng(&seed) * 2654435761u); /* any bits: nan, inf, subnormal */
	}
	src[0][0] = INFINITY, src[0][1] = NAN, src[0][2] = -0.0f, src[0][3] = 1e-45f;
	char err[256] = "", *labels = (char *)"unset";
	const char *path = tmp_path("rt.safetensors");
	ck_assert_int_eq(gq_save_safetensors(path, ps, N, (const float *const *)src,
	                         "zero\none\nthé", err, sizeof err),
	        0);
	ck_assert_int_eq(gq_load_safetensors(path, ps, N, dst, &labels, err, sizeof err), 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(labels, "zero\none\nthé");
	for (int i = 0; i < N; i++) {
		ck_assert_mem_eq(src[i], dst[i], param_numel(&ps[i]) * sizeof(float));
		free(src[i]);
		free(dst[i]);
	}
	free(labels);
}
END_TEST

/* The saved file, read back by hand: the layout the format and the brief ask for. */
START_TEST(st_saved_layout)
{
	static const gq_param ps[] = {{"zeta", 1, {3}}, {"alpha", 2, {2, 2}}, {"mid", 1, {1}}};
	const float z[] = {1, 2, 3}, a[] = {4, 5, 6, 7}, m[] = {8};
	const float *src[] = {z, a, m};
	char err[256] = "";
	const char *path = tmp_path("layout.safetensors");
	ck_assert_int_eq(gq_save_safetensors(path, ps, 3, src, NULL, err, sizeof err), 0);
	size_t n;
	unsigned char *b = read_bytes(path, &n);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | b[i];
	ck_assert_uint_eq(hlen % 8, 0);
	ck_assert_uint_eq(8 + hlen + 4 * 8, n); /* 8 floats, no trailing bytes */
	b[8 + hlen] = 0;
	const char *h = (const char *)b + 8;
	/* Keys in sorted order with contiguous offsets; no metadata without labels. */
	const char *pa = strstr(h, "\"alpha\":{\"data_offsets\":[0,16],\"dtype\":\"F32\","
	                           "\"shape\":[2,2]}");
	const char *pm =
	        strstr(h, "\"mid\":{\"data_offsets\":[16,20],\"dtype\":\"F32\",\"shape\":[1]}");
	const char *pz =
	        strstr(h, "\"zeta\":{\"data_offsets\":[20,32],\"dtype\":\"F32\",\"shape\":[3]}");
	ck_assert(pa && pm && pz && pa < pm && pm < pz);
	ck_assert_ptr_null(strstr(h, "__metadata__"));
	for (size_t i = strlen(h); i < hlen; i++)
		ck_assert_int_eq(h[i], ' ');
	const unsigned char *d = b + 8 + hlen;
	const float want[] = {4, 5, 6, 7, 8, 1, 2, 3};
	for (int i = 0; i < 8; i++) {
		uint32_t u = (uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 |
		             (uint32_t)d[4 * i + 2] << 16 | (uint32_t)d[4 * i + 3] << 24;
		ck_assert_float_eq(float_of(u), want[i]);
	}
	free(b);
}
END_TEST

/* A file written by tests/data/make-data.py: F32, F16 (numpy's halves) and BF16 (torch's),
 * offsets in a different order from the names, metadata with labels. */
START_TEST(st_reference_file)
{
	static const gq_param ps[] = {
	        {"a.weight", 2, {2, 3}}, {"z.half", 1, {18}}, {"m.brain", 1, {12}}};
	float a[6], z[18], m[12], *f16, *bf16;
	float *dst[] = {a, z, m};
	char err[256] = "", *labels = NULL;
	int nd, dim[4];
	ck_assert_int_eq(gq_load_safetensors(data_path("ref.safetensors"), ps, 3, dst, &labels, err,
	                         sizeof err),
	        0);
	ck_assert_str_eq(labels, "cat\ndog\nbird");
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq(a[i], i * 0.25f - 1.0f);
	ck_assert_int_eq(gq_load_npy(data_path("ref-f16.npy"), &f16, &nd, dim, err, sizeof err), 0);
	ck_assert_int_eq(
	        gq_load_npy(data_path("ref-bf16.npy"), &bf16, &nd, dim, err, sizeof err), 0);
	for (int i = 0; i < 18; i++)
		ck_assert(isnan(f16[i]) ? isnan(z[i]) : bits_of(z[i]) == bits_of(f16[i]));
	for (int i = 0; i < 12; i++)
		ck_assert(isnan(bf16[i]) ? isnan(m[i]) : bits_of(m[i]) == bits_of(bf16[i]));
	free(labels);
	free(f16);
	free(bf16);
}
END_TEST

/* A safetensors file holding one 16-bit tensor [65536] of every bit pattern. */
static void write_all_halves(const char *path, const char *dtype)
{
	char head[128];
	int n = snprintf(head, sizeof head,
	        "{\"t\":{\"dtype\":\"%s\",\"shape\":[65536],\"data_offsets\":[0,131072]}}", dtype);
	while (n % 8)
		head[n++] = ' ';
	size_t total = 8 + (size_t)n + 131072;
	unsigned char *b = malloc(total);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)n >> (8 * i));
	memcpy(b + 8, head, (size_t)n);
	for (unsigned h = 0; h < 65536; h++)
		b[8 + n + 2 * h] = (unsigned char)h, b[8 + n + 2 * h + 1] = (unsigned char)(h >> 8);
	write_bytes(path, b, total);
	free(b);
}

/* IEEE binary16 from its definition: (-1)^s 2^(e-15) (1 + m/1024), subnormal 2^-14 m/1024. */
static double half_ref(unsigned h)
{
	int s = h >> 15, e = h >> 10 & 31, m = h & 1023;
	double v = e == 31  ? (m ? NAN : INFINITY)
	           : e == 0 ? ldexp(m / 1024.0, -14)
	                    : ldexp(1 + m / 1024.0, e - 15);
	return s ? -v : v;
}

/* bfloat16: the top half of a binary32, (-1)^s 2^(e-127) (1 + m/128), subnormal 2^-126 m/128. */
static double bfloat_ref(unsigned h)
{
	int s = h >> 15, e = h >> 7 & 255, m = h & 127;
	double v = e == 255 ? (m ? NAN : INFINITY)
	           : e == 0 ? ldexp(m / 128.0, -126)
	                    : ldexp(1 + m / 128.0, e - 127);
	return s ? -v : v;
}

static void check_all_halves(const char *dtype, double (*ref)(unsigned))
{
	static const gq_param p[] = {{"t", 1, {65536}}};
	float *x = malloc(65536 * sizeof(float));
	char err[256] = "";
	const char *path = tmp_path("halves.safetensors");
	write_all_halves(path, dtype);
	ck_assert_int_eq(gq_load_safetensors(path, p, 1, &x, NULL, err, sizeof err), 0);
	for (unsigned h = 0; h < 65536; h++) {
		double want = ref(h);
		if (isnan(want))
			ck_assert_msg(isnan(x[h]), "%s %04x: %g is not nan", dtype, h, x[h]);
		else
			ck_assert_msg((double)x[h] == want && !signbit(x[h]) == !signbit(want),
			        "%s %04x: got %a, want %a", dtype, h, x[h], want);
	}
	free(x);
}

START_TEST(st_f16_every_value)
{
	check_all_halves("F16", half_ref);
}
END_TEST

START_TEST(st_bf16_every_value)
{
	check_all_halves("BF16", bfloat_ref);
}
END_TEST

typedef struct bad_case {
	const char *file, *msg;
} bad_case;

static const bad_case st_bad[] = {
        {"st-short.safetensors", "truncated: 5 bytes, too short for the 8-byte header length"},
        {"st-header-past-end.safetensors",
                "header length 1000 runs past the end of the file (100 bytes)"},
        {"st-header-absurd.safetensors",
                "header length 1099511627776 is over the 100000000-byte limit: not a "
                "safetensors file?"},
        {"st-cut-in-header.safetensors",
                "header length 128 runs past the end of the file (40 bytes)"},
        {"st-cut-in-data.safetensors",
                "truncated: tensor 'b' ends at byte 24 of the data, which has only 10"},
        {"st-out-of-range.safetensors",
                "truncated: tensor 'b' ends at byte 24 of the data, which has only 16"},
        {"st-bad-json.safetensors",
                "header is not valid JSON: string or '}' expected near end of file (at header "
                "byte 24)"},
        {"st-bad-utf8.safetensors", "header is not valid UTF-8 (at header byte 3)"},
        {"st-nul-in-string.safetensors", "header has a \\u0000 in a string (at header byte 38)"},
        {"st-duplicate-key.safetensors", "header has the key \"w\" twice"},
        {"st-not-object.safetensors", "header is an array, not a JSON object"},
        {"st-overlap.safetensors", "tensors 'w' [0, 16] and 'b' [8, 16] overlap"},
        {"st-gap.safetensors",
                "4 unused bytes between tensor 'w' (ends at 16) and tensor 'b' (begins at 20)"},
        {"st-not-from-zero.safetensors",
                "the data section starts with 4 unused bytes (tensor 'w' begins at 4, not 0)"},
        {"st-end-before-begin.safetensors",
                "tensor 'w': data_offsets [16, 0] end before they begin"},
        {"st-dtype-unknown.safetensors", "tensor 'w' has unknown dtype 'F31'"},
        {"st-dtype-f64.safetensors",
                "tensor 'w' has dtype F64: only F32, F16 and BF16 can be loaded"},
        {"st-dtype-mismatch.safetensors",
                "tensor 'w' has 16 bytes of data (data_offsets [0, 16]), but F16 [2, 2] needs 8"},
        {"st-shape-bytes.safetensors",
                "tensor 'w' has 16 bytes of data (data_offsets [0, 16]), but F32 [3, 3] needs 36"},
        {"st-shape-overflow.safetensors", "tensor 'w': shape is too large"},
        {"st-negative-dim.safetensors",
                "tensor 'w': shape must be a list of non-negative integers"},
        {"st-real-offsets.safetensors",
                "tensor 'w': data_offsets must be [begin, end], non-negative integers"},
        {"st-entry-number.safetensors",
                "tensor 'w' is a number, not an object with dtype, shape and data_offsets"},
        {"st-unknown-field.safetensors", "tensor 'w' has an unknown field 'foo'"},
        {"st-trailing.safetensors", "4 trailing bytes after the last tensor's data"},
        {"st-missing.safetensors", "missing tensor 'b' [2]"},
        {"st-unexpected.safetensors", "unexpected tensor 'c' [1]: the model has no such parameter"},
        {"st-wrong-shape.safetensors", "tensor 'w' has shape [4], the model expects [2, 2]"},
        {"st-meta-number.safetensors", "__metadata__ entry 'labels' is a number, not a string"},
        {"st-meta-not-object.safetensors", "__metadata__ is a string, not an object of strings"},
};

START_TEST(st_bad_file)
{
	const bad_case *c = &st_bad[_i];
	char err[512] = "", *labels = (char *)"unset";
	const char *path = bad_path(c->file);
	ck_assert_int_eq(load_wb(path, err, sizeof err, &labels), -1);
	assert_error(err, path, c->msg);
	ck_assert_ptr_null(labels);
}
END_TEST

/* Errors the catalogue's files cannot show: names from the model, long and hostile names. */
START_TEST(st_model_errors)
{
	static const gq_param model[] = {
	        {"gconv1.weight", 5, {10, 10, 4, 3, 3}}, {"lift1.weight", 4, {10, 1, 3, 3}}};
	static const gq_param file[] = {{"lift1.weight", 4, {10, 1, 5, 5}}};
	float *x = calloc(10 * 10 * 4 * 9 + 250, sizeof(float));
	const float *src[] = {x};
	float *dst[] = {x, x};
	char err[512];
	const char *path = tmp_path("model.safetensors");
	ck_assert_int_eq(gq_save_safetensors(path, file, 1, src, NULL, err, sizeof err), 0);
	ck_assert_int_eq(gq_load_safetensors(path, model, 2, dst, NULL, err, sizeof err), -1);
	assert_error(err, path,
	        "2 problems with the model's tensors, nothing was loaded:\n"
	        "  missing tensor 'gconv1.weight' [10, 10, 4, 3, 3]\n"
	        "  tensor 'lift1.weight' has shape [10, 1, 5, 5], the model expects [10, 1, 3, 3]");
	ck_assert_int_eq(gq_load_safetensors(path, model + 1, 1, dst, NULL, err, sizeof err), -1);
	assert_error(err, path,
	        "tensor 'lift1.weight' has shape [10, 1, 5, 5], the model expects "
	        "[10, 1, 3, 3]");
	/* A name with an escape sequence is printed harmlessly. */
	static const gq_param evil[] = {{"\x1b[31mred", 1, {1}}};
	ck_assert_int_eq(gq_save_safetensors(path, evil, 1, src, NULL, err, sizeof err), 0);
	ck_assert_int_eq(gq_load_safetensors(path, model, 0, dst, NULL, err, sizeof err), -1);
	assert_error(
	        err, path, "unexpected tensor '\\x1b[31mred' [1]: the model has no such parameter");
	free(x);
}
END_TEST

START_TEST(st_open_errors)
{
	char err[512];
	const char *path = tmp_path("no-such.safetensors");
	ck_assert_int_eq(load_wb(path, err, sizeof err, NULL), -1);
	assert_error(err, path, "cannot open: No such file or directory");
	ck_assert_int_eq(load_wb(tmp_dir, err, sizeof err, NULL), -1);
	assert_error(err, tmp_dir, "is a directory");
	ck_assert_int_eq(load_wb("/dev/null", err, sizeof err, NULL), -1);
	assert_error(err, "/dev/null", "not a regular file");
}
END_TEST

/* A safetensors file of the given entries, offsets contiguous, data zero. */
typedef struct raw_tensor {
	const char *name, *dtype, *shape; /* shape as JSON: "[2, 2]" */
	size_t bytes;
} raw_tensor;

static void write_raw_st(const char *path, const raw_tensor *t, int n)
{
	char head[2048];
	size_t len = 1, at = 0;
	strcpy(head, "{");
	for (int i = 0; i < n; i++, at += t[i - 1].bytes)
		len += (size_t)snprintf(head + len, sizeof head - len,
		        "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
		        i ? "," : "", t[i].name, t[i].dtype, t[i].shape, at, at + t[i].bytes);
	len += (size_t)snprintf(head + len, sizeof head - len, "}");
	while (len % 8)
		head[len++] = ' ';
	unsigned char *b = calloc(8 + len + at, 1);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)len >> (8 * i));
	memcpy(b + 8, head, len);
	write_bytes(path, b, 8 + len + at);
	free(b);
}

/* Every problem at once, grouped as load_state_dict groups them; a batch norm's step
 * counter (any integer dtype) is skipped where the model has that batch norm. */
START_TEST(st_every_problem)
{
	static const gq_param model[] = {{"lift1.weight", 4, {2, 1, 3, 3}}, {"lift1.bias", 1, {2}},
	        {"bn1.running_mean", 1, {2}}, {"bn1.running_var", 1, {2}},
	        {"fc.weight", 2, {3, 2}}};
	static const raw_tensor file[] = {{"lift1.wieght", "F32", "[2, 1, 3, 3]", 72},
	        {"lift1.bias", "F32", "[3]", 12}, {"bn1.running_mean", "F32", "[2]", 8},
	        {"bn1.running_var", "I64", "[2]", 16}, {"bn1.num_batches_tracked", "I64", "[]", 8},
	        {"bn2.num_batches_tracked", "U8", "[]", 1}, {"extra", "F16", "[1]", 2}};
	float *dst[5], buf[64];
	for (int i = 0; i < 5; i++)
		dst[i] = buf;
	char err[2048];
	const char *path = tmp_path("problems.safetensors");
	write_raw_st(path, file, 7);
	ck_assert_int_eq(gq_load_safetensors(path, model, 5, dst, NULL, err, sizeof err), -1);
	assert_error(err, path,
	        "7 problems with the model's tensors, nothing was loaded:\n"
	        "  missing tensor 'lift1.weight' [2, 1, 3, 3]\n"
	        "  missing tensor 'fc.weight' [3, 2]\n"
	        "  unexpected tensor 'lift1.wieght' [2, 1, 3, 3]: the model has no such parameter\n"
	        "  unexpected tensor 'bn2.num_batches_tracked' []: the model has no such "
	        "parameter\n"
	        "  unexpected tensor 'extra' [1]: the model has no such parameter\n"
	        "  tensor 'lift1.bias' has shape [3], the model expects [2]\n"
	        "  tensor 'bn1.running_var' has dtype I64: only F32, F16 and BF16 can be loaded");
}
END_TEST

/* What PyTorch's state_dict() of a model with batch norm holds: loads, the counter (I64,
 * or any integer dtype) skipped. */
START_TEST(st_num_batches_tracked)
{
	static const gq_param model[] = {{"bn1.running_mean", 1, {2}}, {"bn1.running_var", 1, {2}}};
	static const char *const ints[] = {"I64", "I32", "U8", "I8", "I16", "U16", "U32", "U64"};
	static const int size[] = {8, 4, 1, 1, 2, 2, 4, 8};
	float m[2] = {7, 7}, v[2] = {7, 7}, *dst[] = {m, v};
	char err[512] = "";
	const char *path = tmp_path("bn.safetensors");
	for (int i = 0; i < 8; i++) {
		raw_tensor file[] = {{"bn1.num_batches_tracked", ints[i], "[]", (size_t)size[i]},
		        {"bn1.running_mean", "F32", "[2]", 8},
		        {"bn1.running_var", "F32", "[2]", 8}};
		write_raw_st(path, file, 3);
		ck_assert_msg(gq_load_safetensors(path, model, 2, dst, NULL, err, sizeof err) == 0,
		        "%s: %s", ints[i], err);
		ck_assert(m[0] == 0 && m[1] == 0 && v[0] == 0 && v[1] == 0);
	}
	/* a float counter is not PyTorch's: unexpected */
	raw_tensor f32[] = {{"bn1.num_batches_tracked", "F32", "[]", 4},
	        {"bn1.running_mean", "F32", "[2]", 8}, {"bn1.running_var", "F32", "[2]", 8}};
	write_raw_st(path, f32, 3);
	ck_assert_int_eq(gq_load_safetensors(path, model, 2, dst, NULL, err, sizeof err), -1);
	assert_error(err, path,
	        "unexpected tensor 'bn1.num_batches_tracked' []: the model has no such parameter");
}
END_TEST

/* torch.save's formats (a zip archive; a pickle before PyTorch 1.6) and .npy, named with the
 * fix. (tests/native/crosscheck.py gives the executable files torch.save really wrote.) */
START_TEST(st_foreign_formats)
{
	static const char fix[] = ", not a safetensors file: save the weights with "
	                          "Model.save_safetensors(PATH) (the module geqc emits) or "
	                          "safetensors.torch.save_file(model.state_dict(), PATH)";
	static const struct {
		const char *bytes, *what;
	} cases[] = {
	        {"PK\x03\x04\x00\x00\x08\x00\x00\x00", "a zip archive (what torch.save writes)"},
	        {"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20",
	                "a Python pickle (torch.save's legacy format)"},
	        {"\x93NUMPY\x01\x00\x76\x00", "a .npy array"}};
	char err[512], want[512];
	const char *path = tmp_path("foreign.safetensors");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		write_bytes(path, cases[i].bytes, 10);
		ck_assert_int_eq(load_wb(path, err, sizeof err, NULL), -1);
		snprintf(want, sizeof want, "%s%s", cases[i].what, fix);
		assert_error(err, path, want);
	}
}
END_TEST

/* err is always a NUL-terminated prefix of the message, whatever errlen. */
START_TEST(st_error_truncation)
{
	char full[512], small[12];
	const char *path = bad_path("st-missing.safetensors");
	ck_assert_int_eq(load_wb(path, full, sizeof full, NULL), -1);
	memset(small, 'x', sizeof small);
	ck_assert_int_eq(load_wb(path, small, 8, NULL), -1);
	ck_assert_uint_eq(strlen(small), 7);
	ck_assert_int_eq(strncmp(small, full, 7), 0);
	ck_assert_int_eq(small[9], 'x');
	ck_assert_int_eq(load_wb(path, small, 0, NULL), -1);
	ck_assert_int_eq(load_wb(path, NULL, 0, NULL), -1);
}
END_TEST

/* The limit is the reference reader's: 100000000 bytes is allowed, one more is not. */
START_TEST(st_header_limit)
{
	unsigned char b[16] = {0};
	char err[512];
	const char *path = tmp_path("limit.safetensors");
	uint64_t n = 100000001;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
	write_bytes(path, b, sizeof b);
	ck_assert_int_eq(load_wb(path, err, sizeof err, NULL), -1);
	assert_error(err, path,
	        "header length 100000001 is over the 100000000-byte limit: not a safetensors "
	        "file?");
	b[0]--;
	write_bytes(path, b, sizeof b);
	ck_assert_int_eq(load_wb(path, err, sizeof err, NULL), -1);
	assert_error(err, path, "header length 100000000 runs past the end of the file (16 bytes)");
}
END_TEST

START_TEST(st_empty)
{
	char err[512] = "";
	const char *path = tmp_path("empty.safetensors");
	ck_assert_int_eq(gq_save_safetensors(path, NULL, 0, NULL, NULL, err, sizeof err), 0);
	ck_assert_int_eq(gq_load_safetensors(path, NULL, 0, NULL, NULL, err, sizeof err), 0);
	size_t n;
	unsigned char *b = read_bytes(path, &n);
	ck_assert_uint_eq(n, 16); /* "{}" padded to 8 */
	ck_assert_mem_eq(b + 8, "{}      ", 8);
	free(b);
}
END_TEST

START_TEST(st_save_errors)
{
	static const gq_param twice[] = {{"a", 1, {1}}, {"a", 1, {1}}};
	static const gq_param dims[] = {{"a", 6, {1, 1, 1, 1, 1}}};
	static const gq_param neg[] = {{"a", 2, {2, -1}}};
	static const gq_param meta[] = {{"__metadata__", 1, {1}}};
	const float x[] = {1}, *src[] = {x, x}, *none[] = {NULL};
	char err[512];
	const char *path = tmp_path("save-bad.safetensors");
	ck_assert_int_eq(gq_save_safetensors(path, twice, 2, src, NULL, err, sizeof err), -1);
	assert_error(err, path, "tensor 'a' is given twice");
	ck_assert_int_eq(gq_save_safetensors(path, dims, 1, src, NULL, err, sizeof err), -1);
	assert_error(err, path, "tensor 'a' has 6 dimensions");
	ck_assert_int_eq(gq_save_safetensors(path, neg, 1, src, NULL, err, sizeof err), -1);
	assert_error(err, path, "tensor 'a' has an invalid shape");
	ck_assert_int_eq(gq_save_safetensors(path, meta, 1, src, NULL, err, sizeof err), -1);
	assert_error(err, path, "cannot save a tensor named '__metadata__'");
	ck_assert_int_eq(gq_save_safetensors(path, twice, 1, none, NULL, err, sizeof err), -1);
	assert_error(err, path, "tensor 'a' has no data");
	ck_assert_int_eq(gq_save_safetensors(path, twice, 1, src, "\xff", err, sizeof err), -1);
	assert_error(err, path, "labels are not valid UTF-8");
	ck_assert_int_eq(access(path, F_OK), -1); /* nothing half-written is left */
	const char *nodir = tmp_path("no-dir/x.safetensors");
	ck_assert_int_eq(gq_save_safetensors(nodir, twice, 1, src, NULL, err, sizeof err), -1);
	assert_error(err, nodir, "cannot create: No such file or directory");
}
END_TEST

/* Every prefix of a valid file is an error, never a crash or a leak. */
static void sweep_prefixes(const char *good, const char *name, int (*load)(const char *, char *))
{
	size_t n;
	unsigned char *b = read_bytes(good, &n);
	const char *path = tmp_path(name);
	char err[512];
	for (size_t k = 0; k < n; k++) {
		write_bytes(path, b, k);
		err[0] = 0;
		ck_assert_msg(load(path, err) == -1, "a %zu-byte prefix of %s loaded", k, good);
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
		        "prefix %zu: bad error '%s'", k, err);
	}
	free(b);
}

/* c = b with 1 to 4 bytes of [lo, hi) changed (at least one really changed). */
static void mutate(
        unsigned char *c, const unsigned char *b, size_t n, size_t lo, size_t hi, unsigned *seed)
{
	memcpy(c, b, n);
	for (int k = 1 + (int)(rng(seed) % 4); k > 0 || !memcmp(c, b, n); k--)
		c[lo + rng(seed) % (hi - lo)] = (unsigned char)rng(seed);
}

/* The bits of the floats a data section holds: n bytes -> *count values. */
typedef void data_decoder(const unsigned char *d, size_t n, uint32_t *bits, size_t *count);

/* Little-endian F32, as safetensors and .npy store it. */
static void le_floats(const unsigned char *d, size_t n, uint32_t *bits, size_t *count)
{
	*count = n / 4;
	for (size_t i = 0; i < n / 4; i++)
		bits[i] = (uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 |
		          (uint32_t)d[4 * i + 2] << 16 | (uint32_t)d[4 * i + 3] << 24;
}

/* A loader under fuzzing: 0 and the bits of the floats loaded (*n of them), or -1. */
typedef int mutant_loader(const char *path, char *err, uint32_t *bits, size_t *n);

enum { FUZZ_MAX_VALUES = 256 };

/* Loads a mutant: rejected with a "PATH: ..." error (-1), or loaded (0) with its values. */
static int load_mutant(const char *path, const unsigned char *c, size_t n, mutant_loader *load,
        uint32_t *bits, size_t *nbits)
{
	char err[512] = "";
	write_bytes(path, c, n);
	if (load(path, err, bits, nbits) == 0)
		return 0;
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && strlen(err) > strlen(path) + 2,
	        "bad error '%s'", err);
	return -1;
}

/* A file to fuzz: its raw values start at byte `data` and run to the end (data = the file's
 * length: no such section, as in a PNG); decode says what those bytes mean. */
typedef struct fuzz_spec {
	const char *good, *name;
	size_t data;
	mutant_loader *load;
	data_decoder *decode;
	bool numbers_in_text; /* a changed digit in the header may still be a valid file */
} fuzz_spec;

/* A mutant of the preamble and header: almost every change breaks the file or its match
 * with what is loaded, so it is rejected, or (a change of padding, a comment, metadata)
 * loaded with the original values (unless the header has numbers as text: a PGM's maxval
 * 255 changed to 250 is another valid image). Returns whether it was rejected. */
static bool fuzz_header(const fuzz_spec *s, const char *path, const unsigned char *c, size_t n,
        const uint32_t *orig, size_t values)
{
	uint32_t got[FUZZ_MAX_VALUES];
	size_t got_n;
	if (load_mutant(path, c, n, s->load, got, &got_n) == -1)
		return true;
	ck_assert_msg(s->numbers_in_text || (got_n == values && !memcmp(got, orig, values * 4)),
	        "%s: a header mutant loaded other values", s->name);
	return false;
}

/* A mutant of the raw data: it loads, with exactly the values its bytes say. */
static void fuzz_data(const fuzz_spec *s, const char *path, const unsigned char *c, size_t n)
{
	uint32_t got[FUZZ_MAX_VALUES], want[FUZZ_MAX_VALUES];
	size_t got_n, values;
	s->decode(c + s->data, n - s->data, want, &values);
	ck_assert_int_eq(load_mutant(path, c, n, s->load, got, &got_n), 0);
	for (size_t i = 0; i < values; i++)
		ck_assert_msg(got[i] == want[i], "%s: value %zu is %08x, the bytes say %08x",
		        s->good, i, got[i], want[i]);
	ck_assert_uint_eq(got_n, values);
}

/* Random byte changes (1 to 4 per mutant) in the header and in the data. A loader that
 * accepted everything, or lost or moved a value, fails; at least `reject` percent of the
 * header mutants must be rejected. */
static void fuzz_file(const fuzz_spec *s, int rounds, int reject)
{
	size_t n, values, rejected = 0;
	unsigned char *b = read_bytes(s->good, &n), *c = malloc(n);
	const char *path = tmp_path(s->name); /* (s->good is used before this reuses its buffer) */
	unsigned seed = 12345;
	uint32_t orig[FUZZ_MAX_VALUES];
	ck_assert(s->data > 0 && s->data <= n);
	ck_assert_int_eq(s->load(s->good, (char[512]){0}, orig, &values), 0);
	ck_assert(values <= FUZZ_MAX_VALUES);
	for (int r = 0; r < rounds; r++) {
		mutate(c, b, n, 0, s->data, &seed);
		rejected += fuzz_header(s, path, c, n, orig, values);
		if (s->decode) {
			mutate(c, b, n, s->data, n, &seed);
			fuzz_data(s, path, c, n);
		}
	}
	ck_assert_msg(rejected * 100 >= (size_t)rounds * (size_t)reject,
	        "%s: only %zu of %d header mutants rejected", s->name, rejected, rounds);
	free(b);
	free(c);
}

static int load_wb_bits(const char *path, char *err, uint32_t *bits, size_t *n)
{
	float w[4], b[2], *dst[] = {w, b};
	char *labels = NULL;
	int rc = gq_load_safetensors(path, wb, 2, dst, &labels, err, 512);
	free(labels);
	for (int i = 0; i < 6 && rc == 0; i++) /* in the file's order: b, then w */
		bits[i] = bits_of(i < 2 ? b[i] : w[i - 2]);
	*n = 6;
	return rc;
}

static int load_wb_err(const char *path, char *err)
{
	char *labels = NULL;
	int rc = load_wb(path, err, 512, &labels);
	free(labels);
	return rc;
}

static const char *saved_wb(void)
{
	const float w[] = {1, 2, 3, 4}, b[] = {5, 6}, *src[] = {w, b};
	char err[512];
	const char *path = tmp_path("wb.safetensors");
	ck_assert_int_eq(gq_save_safetensors(path, wb, 2, src, "a\nb", err, sizeof err), 0);
	return path;
}

START_TEST(st_every_prefix)
{
	sweep_prefixes(saved_wb(), "prefix.safetensors", load_wb_err);
}
END_TEST

START_TEST(st_fuzz)
{
	const char *good = saved_wb();
	size_t n;
	unsigned char *b = read_bytes(good, &n);
	size_t data = 8 + (size_t)b[0] + ((size_t)b[1] << 8); /* the header is short */
	free(b);
	fuzz_file(&(fuzz_spec){good, "fuzz.safetensors", data, load_wb_bits, le_floats, false}, 400,
	        95);
}
END_TEST

/* ---- .npy ---- */

static void check_npy_ramp(const char *name, int ndim, const int *dim, float scale, float offset)
{
	float *x;
	int nd, d[4];
	char err[512] = "";
	ck_assert_int_eq(gq_load_npy(data_path(name), &x, &nd, d, err, sizeof err), 0);
	ck_assert_int_eq(nd, ndim);
	size_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= (size_t)dim[i];
	ck_assert_mem_eq(d, dim, (size_t)ndim * sizeof(int));
	for (size_t i = 0; i < n; i++)
		ck_assert_float_eq(x[i], (float)((double)i * scale + offset));
	free(x);
}

/* Written by numpy (tests/data/make-data.py): values i * scale + offset. */
START_TEST(npy_numpy_files)
{
	check_npy_ramp("v1.npy", 3, (int[]){2, 3, 4}, 0.25f, -1.0f);
	check_npy_ramp("np-save.npy", 4, (int[]){1, 2, 3, 4}, 0.5f, 3.0f);
	check_npy_ramp("v2.npy", 2, (int[]){3, 5}, 0.125f, 2.0f);
	check_npy_ramp("v3.npy", 1, (int[]){7}, -1.5f, 0.5f);
}
END_TEST

START_TEST(npy_round_trip)
{
	static const int shapes[][5] = {
	        {1, 5}, {2, 3, 4}, {3, 2, 1, 7}, {4, 1, 2, 3, 4}, {2, 0, 3}};
	unsigned seed = 99;
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		int ndim = shapes[s][0], nd, d[4];
		const int *dim = shapes[s] + 1;
		size_t n = 1;
		for (int i = 0; i < ndim; i++)
			n *= (size_t)dim[i];
		float *x = malloc((n + 1) * sizeof(float)), *y;
		for (size_t i = 0; i < n; i++)
			x[i] = float_of(rng(&seed) * 2654435761u);
		char err[512] = "";
		const char *path = tmp_path("rt.npy");
		ck_assert_int_eq(gq_save_npy(path, x, ndim, dim, err, sizeof err), 0);
		ck_assert_int_eq(gq_load_npy(path, &y, &nd, d, err, sizeof err), 0);
		ck_assert_int_eq(nd, ndim);
		ck_assert_mem_eq(d, dim, (size_t)ndim * sizeof(int));
		ck_assert_mem_eq(x, y, n * sizeof(float));
		free(x);
		free(y);
	}
}
END_TEST

/* Version 1.0, numpy's dict text, data 64-byte aligned after a '\n'-terminated header. */
START_TEST(npy_saved_layout)
{
	const float x[3] = {1, 2, 3};
	char err[512];
	const char *path = tmp_path("layout.npy");
	ck_assert_int_eq(gq_save_npy(path, x, 1, (int[]){3}, err, sizeof err), 0);
	size_t n;
	unsigned char *b = read_bytes(path, &n);
	ck_assert_mem_eq(b, "\x93NUMPY\x01\x00", 8);
	size_t hlen = b[8] | (size_t)b[9] << 8;
	ck_assert_uint_eq((10 + hlen) % 64, 0);
	ck_assert_uint_eq(n, 10 + hlen + 12);
	ck_assert_int_eq(b[10 + hlen - 1], '\n');
	const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
	ck_assert_mem_eq(b + 10, dict, strlen(dict));
	ck_assert_int_eq(gq_save_npy(path, x, 2, (int[]){1, 3}, err, sizeof err), 0);
	free(b);
	b = read_bytes(path, &n);
	dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }";
	ck_assert_mem_eq(b + 10, dict, strlen(dict));
	free(b);
}
END_TEST

static const bad_case npy_bad[] = {
        {"npy-magic.npy", "not a .npy file (no \\x93NUMPY magic)"},
        {"npy-version.npy", "unsupported .npy version 4.0"},
        {"npy-header-past-end.npy", "header length 500 runs past the end of the file (152 bytes)"},
        {"npy-cut-in-header.npy", "header length 118 runs past the end of the file (40 bytes)"},
        {"npy-cut-in-preamble.npy", "truncated: 7 bytes, too short for a .npy preamble"},
        {"npy-big-endian.npy",
                "dtype '>f4' is not supported: save as float32 little-endian ('<f4')"},
        {"npy-f8.npy", "dtype '<f8' is not supported: save as float32 little-endian ('<f4')"},
        {"npy-structured.npy", "structured dtypes are not supported: save a float32 array"},
        {"npy-fortran.npy",
                "fortran_order is True: save a C-order array (numpy.ascontiguousarray)"},
        {"npy-short-data.npy", "truncated: shape [2, 3] needs 24 bytes of data, the file has 20"},
        {"npy-long-data.npy", "4 trailing bytes after the data of shape [2, 3]"},
        {"npy-0d.npy", "the array has 0 dimensions: 1 to 4 are supported"},
        {"npy-5d.npy", "the array has 5 dimensions: 1 to 4 are supported"},
        {"npy-huge-dim.npy", "the .npy shape has a dimension over 2147483647"},
        {"npy-shape-overflow.npy",
                "shape [2147483647, 2147483647, 2147483647, 2147483647] is too large"},
        {"npy-unknown-key.npy", "malformed .npy header: unknown key 'x'"},
        {"npy-no-colon.npy", "malformed .npy header: expected ':' at column 10, found '''"},
        {"npy-twice.npy", "malformed .npy header: 'descr' appears twice"},
        {"npy-no-shape.npy", "malformed .npy header: no 'shape'"},
        {"npy-trailing-text.npy",
                "malformed .npy header: expected the end of the header at column 61, found 'x'"},
};

START_TEST(npy_bad_file)
{
	const bad_case *c = &npy_bad[_i];
	float *x = (float *)&x;
	int nd, d[4];
	char err[512] = "";
	const char *path = bad_path(c->file);
	ck_assert_int_eq(gq_load_npy(path, &x, &nd, d, err, sizeof err), -1);
	assert_error(err, path, c->msg);
	ck_assert_ptr_null(x);
}
END_TEST

static int load_npy_err(const char *path, char *err)
{
	float *x;
	int nd, d[4];
	int rc = gq_load_npy(path, &x, &nd, d, err, 512);
	free(x);
	return rc;
}

static int load_npy_bits(const char *path, char *err, uint32_t *bits, size_t *n)
{
	float *x;
	int nd, d[4];
	if (gq_load_npy(path, &x, &nd, d, err, 512))
		return -1;
	*n = 1;
	for (int i = 0; i < nd; i++)
		*n *= (size_t)d[i];
	for (size_t i = 0; i < *n && i < FUZZ_MAX_VALUES; i++)
		bits[i] = bits_of(x[i]);
	free(x);
	return 0;
}

START_TEST(npy_every_prefix)
{
	sweep_prefixes(data_path("v2.npy"), "prefix.npy", load_npy_err);
}
END_TEST

START_TEST(npy_fuzz)
{
	size_t n;
	unsigned char *b = read_bytes(data_path("v1.npy"), &n);
	ck_assert_int_eq(b[6], 1); /* version 1.0: a 2-byte header length */
	size_t data = 10 + (size_t)b[8] + ((size_t)b[9] << 8);
	free(b);
	fuzz_file(&(fuzz_spec){data_path("v1.npy"), "fuzz.npy", data, load_npy_bits, le_floats,
	                  false},
	        400, 90);
}
END_TEST

START_TEST(npy_save_errors)
{
	const float x[] = {1};
	char err[512];
	const char *path = tmp_path("bad-save.npy");
	ck_assert_int_eq(gq_save_npy(path, x, 6, (int[]){1, 1, 1, 1, 1, 1}, err, sizeof err), -1);
	assert_error(err, path, "cannot save a 6-dimensional array");
	ck_assert_int_eq(gq_save_npy(path, x, 1, (int[]){-2}, err, sizeof err), -1);
	assert_error(err, path, "cannot save an array with dimension -2");
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

/* ---- images: a tiny PNG writer through libpng ---- */

typedef struct png_spec {
	int w, h, depth, color, interlace;
	const png_color *palette;
	int npalette;
	const unsigned char *trns;
	int ntrns;
} png_spec;

/* samples: h rows of w * channels values, each < 2^depth; packed here as PNG wants. */
static void write_png(const char *path, const png_spec *s, const unsigned *samples)
{
	FILE *f = fopen(path, "wb");
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	ck_assert(f && png && info);
	int ch = s->color == PNG_COLOR_TYPE_RGB    ? 3
	         : s->color == PNG_COLOR_TYPE_RGBA ? 4
	         : s->color == PNG_COLOR_TYPE_GA   ? 2
	                                           : 1;
	size_t rowbytes = ((size_t)s->w * ch * s->depth + 7) / 8;
	unsigned char *rows = calloc((size_t)s->h, rowbytes);
	for (int y = 0; y < s->h; y++)
		for (int i = 0; i < s->w * ch; i++) {
			unsigned v = samples[(size_t)y * s->w * ch + i];
			unsigned char *r = rows + (size_t)y * rowbytes;
			if (s->depth == 16)
				r[2 * i] = (unsigned char)(v >> 8), r[2 * i + 1] = (unsigned char)v;
			else if (s->depth == 8)
				r[i] = (unsigned char)v;
			else
				r[i * s->depth / 8] |=
				        (unsigned char)(v << (8 - s->depth - i * s->depth % 8));
		}
	if (setjmp(png_jmpbuf(png)))
		ck_abort_msg("libpng could not write %s", path);
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->color,
	        s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (s->palette)
		png_set_PLTE(png, info, s->palette, s->npalette);
	if (s->trns)
		png_set_tRNS(png, info, s->trns, s->ntrns, NULL);
	png_write_info(png, info);
	png_bytep *rp = malloc((size_t)s->h * sizeof *rp);
	for (int y = 0; y < s->h; y++)
		rp[y] = rows + (size_t)y * rowbytes;
	png_write_image(png, rp);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	fclose(f);
	free(rp);
	free(rows);
}

/* Test samples: a pattern that uses the whole range of the depth. */
static unsigned *pattern(int w, int h, int ch, int depth)
{
	unsigned *v = malloc((size_t)w * h * ch * sizeof *v), max = (1u << depth) - 1;
	for (int i = 0; i < w * h * ch; i++)
		v[i] = i == 0 ? max : (unsigned)(i * 37 + i / 3) % (max + 1);
	return v;
}

/* Loads path and compares it with want[c][y][x] in [0, 1]. */
static void check_image(const char *path, int c, int h, int w, const float *want)
{
	float *x;
	int cc, hh, ww;
	char err[512] = "";
	ck_assert_msg(gq_load_image(path, &x, &cc, &hh, &ww, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(cc, c);
	ck_assert_int_eq(hh, h);
	ck_assert_int_eq(ww, w);
	for (int i = 0; i < c * h * w; i++)
		ck_assert_msg(fabsf(x[i] - want[i]) <= 1e-6f, "%s [%d]: %g, want %g", path, i, x[i],
		        want[i]);
	free(x);
}

/* Interleaved samples [h][w][ch] -> planes [c][h][w] of v / max, keeping the first c. */
static float *planes(const unsigned *v, int w, int h, int ch, int c, unsigned max)
{
	float *p = malloc((size_t)c * h * w * sizeof *p);
	for (int k = 0; k < c; k++)
		for (int i = 0; i < h * w; i++)
			p[(size_t)k * h * w + i] = (float)((double)v[(size_t)i * ch + k] / max);
	return p;
}

static void check_png(int color, int ch, int c, int depth, int interlace)
{
	const int w = 13, h = 7;
	png_spec s = {w, h, depth, color, interlace, NULL, 0, NULL, 0};
	unsigned *v = pattern(w, h, ch, depth);
	float *want = planes(v, w, h, ch, c, (1u << depth) - 1);
	const char *path = tmp_path("t.png");
	write_png(path, &s, v);
	check_image(path, c, h, w, want);
	free(v);
	free(want);
}

START_TEST(png_gray_depths)
{
	for (int depth = 1; depth <= 16; depth *= 2)
		check_png(PNG_COLOR_TYPE_GRAY, 1, 1, depth, PNG_INTERLACE_NONE);
}
END_TEST

START_TEST(png_colour_types)
{
	check_png(PNG_COLOR_TYPE_RGB, 3, 3, 8, PNG_INTERLACE_NONE);
	check_png(PNG_COLOR_TYPE_RGB, 3, 3, 16, PNG_INTERLACE_NONE);
	check_png(PNG_COLOR_TYPE_RGBA, 4, 3, 8, PNG_INTERLACE_NONE); /* alpha dropped */
	check_png(PNG_COLOR_TYPE_RGBA, 4, 3, 16, PNG_INTERLACE_NONE);
	check_png(PNG_COLOR_TYPE_GA, 2, 1, 8, PNG_INTERLACE_NONE);
	check_png(PNG_COLOR_TYPE_RGB, 3, 3, 8, PNG_INTERLACE_ADAM7);
	check_png(PNG_COLOR_TYPE_GRAY, 1, 1, 4, PNG_INTERLACE_ADAM7);
}
END_TEST

/* Palette images decode to the palette's RGB; transparency (tRNS) is dropped with alpha. */
START_TEST(png_palette)
{
	static const png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {10, 200, 30}, {1, 2, 255}};
	static const unsigned char trns[2] = {0, 128};
	const int w = 9, h = 5;
	for (int t = 0; t < 2; t++) {
		png_spec s = {w, h, 2, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, pal, 4,
		        t ? trns : NULL, 2};
		unsigned *idx = pattern(w, h, 1, 2), *rgb = malloc((size_t)w * h * 3 * sizeof *rgb);
		for (int i = 0; i < w * h; i++)
			rgb[3 * i] = pal[idx[i]].red, rgb[3 * i + 1] = pal[idx[i]].green,
			        rgb[3 * i + 2] = pal[idx[i]].blue;
		float *want = planes(rgb, w, h, 3, 3, 255);
		write_png(tmp_path("pal.png"), &s, idx);
		check_image(tmp_path("pal.png"), 3, h, w, want);
		free(idx);
		free(rgb);
		free(want);
	}
}
END_TEST

/* ---- images: PGM ---- */

START_TEST(pgm_binary)
{
	/* 8-bit, and 16-bit big-endian when maxval > 255; comments between header tokens. */
	const unsigned char p8[] =
	        "P5\n# made by hand\n3 2 # size\n# maxval:\n200\n\x00\x64\xc8\x01\x02\x03";
	const float w8[] = {0, 100 / 200.f, 1, 1 / 200.f, 2 / 200.f, 3 / 200.f};
	write_bytes(tmp_path("a.pgm"), p8, sizeof p8 - 1);
	check_image(tmp_path("a.pgm"), 1, 2, 3, w8);
	const unsigned char p16[] = "P5 2 1 65535\n\xff\xff\x01\x02";
	const float w16[] = {1, 258 / 65535.f};
	write_bytes(tmp_path("b.pgm"), p16, sizeof p16 - 1);
	check_image(tmp_path("b.pgm"), 1, 1, 2, w16);
	const unsigned char p1000[] = "P5\n1 2\n1000\n\x03\xe8\x00\x01";
	const float w1000[] = {1, 1 / 1000.f};
	write_bytes(tmp_path("c.pgm"), p1000, sizeof p1000 - 1);
	check_image(tmp_path("c.pgm"), 1, 2, 1, w1000);
}
END_TEST

START_TEST(pgm_ascii)
{
	const float want[] = {0, .1f, .2f, .3f, .4f, 1};
	check_image(data_path("comments.pgm"), 1, 2, 3, want);
}
END_TEST

/* The format comes from the magic bytes: the name's extension means nothing. */
START_TEST(image_magic_not_name)
{
	const unsigned char p[] = "P5 1 1 255\n\xff";
	const float one[] = {1};
	write_bytes(tmp_path("gray.png"), p, sizeof p - 1);
	check_image(tmp_path("gray.png"), 1, 1, 1, one);
	png_spec s = {1, 1, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, NULL, 0, NULL, 0};
	write_png(tmp_path("img.pgm"), &s, (unsigned[]){255});
	check_image(tmp_path("img.pgm"), 1, 1, 1, one);
}
END_TEST

static const bad_case image_bad[] = {
        {"png-cut.png", "invalid PNG: the file is truncated"},
        {"png-signature-only.png", "invalid PNG: the file is truncated"},
        {"png-ihdr-crc.png", "invalid PNG: IHDR: CRC error"},
        {"png-idat-crc.png", "invalid PNG: IDAT: CRC error"},
        {"png-short-rows.png", "invalid PNG: Not enough image data"},
        {"png-zero-width.png", "invalid PNG: Invalid IHDR data"},
        {"png-huge.png", "image is 100000 x 100000: more than 16384 pixels on a side"},
        {"png-too-many-pixels.png", "image is 8192 x 8192: more than 33554432 pixels"},
        {"png-bomb.png",
                "PNG header claims 16000 x 2000 pixels, more than a 65-byte file can hold"},
        {"png-not-png.png", "not a PNG or PGM image"},
        {"pgm-maxval-0.pgm", "maxval 0 is out of range (1 to 65535)"},
        {"pgm-maxval-65536.pgm", "maxval 65536 is out of range (1 to 65535)"},
        {"pgm-cut.pgm", "truncated: 10 bytes of pixel data, the image needs 16"},
        {"pgm-cut-16bit.pgm", "truncated: 6 bytes of pixel data, the image needs 8"},
        {"pgm-cut-ascii.pgm", "truncated: 16 bytes cannot hold 9 pixel values"},
        {"pgm-cut-header.pgm", "truncated: the file ends before the height"},
        {"pgm-huge.pgm", "image is 100000 x 100000: more than 16384 pixels on a side"},
        {"pgm-too-many-pixels.pgm", "image is 8192 x 8192: more than 33554432 pixels"},
        {"pgm-zero-width.pgm", "image is 0 x 2: it has no pixels"},
        {"pgm-p6.pgm", "PPM (P6) images are not supported: convert to PNG or PGM (P5)"},
        {"pgm-over-maxval.pgm", "pixel value 11 is larger than maxval 10"},
        {"pgm-over-maxval-16bit.pgm", "pixel value 1001 is larger than maxval 1000"},
        {"pgm-trailing.pgm", "2 trailing bytes after the pixel data"},
        {"pgm-extra-values.pgm", "more than 2 x 1 pixel values"},
        {"pgm-bad-token.pgm", "expected whitespace after the width, found 'x'"},
        {"pgm-no-space.pgm", "not a PNG or PGM image"},
        {"img-empty.pgm", "empty file: not an image"},
        {"png-cut-signature.png", "invalid PNG: the file is truncated"},
};

START_TEST(image_bad_file)
{
	const bad_case *c = &image_bad[_i];
	float *x = (float *)&x;
	int ch, h, w;
	char err[512] = "";
	const char *path = bad_path(c->file);
	ck_assert_int_eq(gq_load_image(path, &x, &ch, &h, &w, err, sizeof err), -1);
	assert_error(err, path, c->msg);
	ck_assert_ptr_null(x);
}
END_TEST

static int load_image_err(const char *path, char *err)
{
	float *x;
	int c, h, w;
	int rc = gq_load_image(path, &x, &c, &h, &w, err, 512);
	free(x);
	return rc;
}

static int load_image_bits(const char *path, char *err, uint32_t *bits, size_t *n)
{
	float *x;
	int c, h, w;
	if (gq_load_image(path, &x, &c, &h, &w, err, 512))
		return -1;
	*n = (size_t)c * (size_t)h * (size_t)w;
	for (size_t i = 0; i < *n && i < FUZZ_MAX_VALUES; i++)
		bits[i] = bits_of(x[i]);
	free(x);
	return 0;
}

/* P5 with maxval 255: one byte a sample. */
static void p5_samples(const unsigned char *d, size_t n, uint32_t *bits, size_t *count)
{
	*count = n;
	for (size_t i = 0; i < n; i++)
		bits[i] = bits_of((float)d[i] / 255.0f);
}

static const char *small_png(void)
{
	png_spec s = {5, 4, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, NULL, 0, NULL, 0};
	unsigned *v = pattern(5, 4, 3, 8);
	const char *path = tmp_path("small.png");
	write_png(path, &s, v);
	free(v);
	return path;
}

START_TEST(png_every_prefix)
{
	sweep_prefixes(small_png(), "prefix.png", load_image_err);
}
END_TEST

START_TEST(png_fuzz)
{
	const char *good = small_png();
	size_t n;
	free(read_bytes(good, &n));
	fuzz_file(&(fuzz_spec){good, "fuzz.png", n, load_image_bits, NULL, false}, 400, 95);
}
END_TEST

START_TEST(pgm_every_prefix)
{
	const unsigned char p[] = "P5\n# c\n3 2\n255\n\x01\x02\x03\x04\x05\x06";
	write_bytes(tmp_path("small.pgm"), p, sizeof p - 1);
	sweep_prefixes(tmp_path("small.pgm"), "prefix.pgm", load_image_err);
	/* (Not P2: a prefix that ends after a whole number is a valid image.) */
}
END_TEST

START_TEST(pgm_fuzz)
{
	/* P5, where every byte of the raster is a sample (in P2 a changed digit is often
	 * another valid value). */
	const unsigned char p5[] = "P5\n# c\n3 2\n255\n\x01\x02\x03\x04\x05\x06";
	write_bytes(tmp_path("small5.pgm"), p5, sizeof p5 - 1);
	fuzz_file(&(fuzz_spec){tmp_path("small5.pgm"), "fuzz.pgm", 15, load_image_bits, p5_samples,
	                  true},
	        400, 80);
}
END_TEST

/* ---- the suite ---- */

static Suite *load_suite(void)
{
	Suite *s = suite_create("load");
	TCase *st = tcase_create("safetensors"), *npy = tcase_create("npy"),
	      *img = tcase_create("image");
	tcase_add_test(st, st_round_trip);
	tcase_add_test(st, st_saved_layout);
	tcase_add_test(st, st_reference_file);
	tcase_add_test(st, st_f16_every_value);
	tcase_add_test(st, st_bf16_every_value);
	tcase_add_loop_test(st, st_bad_file, 0, sizeof st_bad / sizeof *st_bad);
	tcase_add_test(st, st_model_errors);
	tcase_add_test(st, st_open_errors);
	tcase_add_test(st, st_every_problem);
	tcase_add_test(st, st_num_batches_tracked);
	tcase_add_test(st, st_foreign_formats);
	tcase_add_test(st, st_error_truncation);
	tcase_add_test(st, st_header_limit);
	tcase_add_test(st, st_empty);
	tcase_add_test(st, st_save_errors);
	tcase_add_test(st, st_every_prefix);
	tcase_add_test(st, st_fuzz);
	tcase_add_test(npy, npy_numpy_files);
	tcase_add_test(npy, npy_round_trip);
	tcase_add_test(npy, npy_saved_layout);
	tcase_add_loop_test(npy, npy_bad_file, 0, sizeof npy_bad / sizeof *npy_bad);
	tcase_add_test(npy, npy_every_prefix);
	tcase_add_test(npy, npy_fuzz);
	tcase_add_test(npy, npy_save_errors);
	tcase_add_test(img, png_gray_depths);
	tcase_add_test(img, png_colour_types);
	tcase_add_test(img, png_palette);
	tcase_add_test(img, pgm_binary);
	tcase_add_test(img, pgm_ascii);
	tcase_add_test(img, image_magic_not_name);
	tcase_add_loop_test(img, image_bad_file, 0, sizeof image_bad / sizeof *image_bad);
	tcase_add_test(img, png_every_prefix);
	tcase_add_test(img, png_fuzz);
	tcase_add_test(img, pgm_every_prefix);
	tcase_add_test(img, pgm_fuzz);
	TCase *all[] = {st, npy, img};
	for (int i = 0; i < 3; i++) {
		tcase_set_timeout(all[i], 60);
		suite_add_tcase(s, all[i]);
	}
	return s;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tests_dir = argv[1];
	snprintf(tmp_dir, sizeof tmp_dir, "/tmp/geqc-test-load-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	SRunner *r = srunner_create(load_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	nftw(tmp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	return failed != 0;
}
