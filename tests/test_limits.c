/* test_limits.c: the limits a user can rely on (docs/robustness.md), each on both sides of
 * its bound: the largest value is accepted, one more is refused with an error that names
 * the limit. The limits tested elsewhere are listed in docs/robustness.md; this file holds
 * the sides that were missing: GEQC_MAX_SOURCE (parser and geqc's main), GEQC_MAX_LAYERS in
 * the checker, GEQC_MAX_DIM, GEQC_MAX_NUMEL, the .npy header and dimension limits, and the
 * image side and pixel limits. Usage: test_limits (from the repo root; the sanitized geqc
 * must sit beside the tests directory, as the Makefile builds it). */
#include <check.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "geqc.h"
#include "harness.h"

extern char **environ;

static char tmp_dir[64];

/* ---- harness ---- */

typedef struct Run {
	Arena *arena;
	Sink s; /* s.text: the diagnostics */
	Program *prog;
	Model *model;
} Run;

/* Parses and checks len bytes of source; diagnostics go to r->s.text. */
static Run *compile_bytes(const char *src, size_t len)
{
	Run *r = calloc(1, sizeof *r);
	r->arena = arena_new();
	sink_open(&r->s, "t.geq", src, len);
	r->prog = parse_program(src, len, r->arena, &r->s.d);
	if (r->prog)
		r->model = check_program(r->prog, r->arena, &r->s.d);
	sink_close(&r->s);
	return r;
}

static Run *compile(const char *src)
{
	return compile_bytes(src, strlen(src));
}

static void run_free(Run *r)
{
	arena_free(r->arena);
	free(r->s.text);
	free(r);
}

static void assert_ok(const Run *r)
{
	ck_assert_msg(r->model != NULL, "refused:\n%s", r->s.text);
	ck_assert_int_eq(r->s.d.nerrors, 0);
}

static void assert_refused(const Run *r, const char *text)
{
	ck_assert_msg(r->model == NULL, "accepted, but should say '%s'", text);
	ck_assert_msg(strstr(r->s.text, text) != NULL, "expected '%s' in:\n%s", text, r->s.text);
}

/* `model m(x: [C, H, W]) on p1 { BODY }` */
static Run *model(long c, long h, long w, const char *body)
{
	static char src[1024];
	snprintf(src, sizeof src, "model m(x: [%ld, %ld, %ld]) on p1 {\n%s\n}\n", c, h, w, body);
	return compile(src);
}

/* A valid model padded with a comment to exactly len bytes. */
static char *source_of_size(size_t len)
{
	const char *m = "model m(x: [1, 4, 4]) on p1 { return relu(x); }\n#";
	char *s = malloc(len + 1);
	ck_assert_uint_ge(len, strlen(m));
	memset(s, 'a', len);
	memcpy(s, m, strlen(m));
	s[len] = '\0';
	return s;
}

/* ---- the .geq source ---- */

START_TEST(source_size_in_the_parser)
{
	char *s = source_of_size(GEQC_MAX_SOURCE + 1);
	Run *r = compile_bytes(s, GEQC_MAX_SOURCE);
	assert_ok(r);
	run_free(r);
	r = compile_bytes(s, GEQC_MAX_SOURCE + 1);
	assert_refused(
	        r, "the source is larger than 1048576 bytes, geqc's limit (GEQC_MAX_SOURCE)");
	run_free(r);
	free(s);
}
END_TEST

/* geqc beside this test: BUILD/san/tests/test_limits -> BUILD/san/geqc. */
static void geqc_path(char *buf, size_t len)
{
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(buf, len, "%s/../geqc", self);
	ck_assert_msg(access(buf, X_OK) == 0, "%s is missing: build it first", buf);
}

/* Runs geqc on a file of len bytes; returns its exit status, its stderr in err. */
static int run_geqc_on(size_t len, char *err, size_t errlen)
{
	char geqc[600], src[128], errpath[128];
	geqc_path(geqc, sizeof geqc);
	snprintf(src, sizeof src, "%s/big.geq", tmp_dir);
	snprintf(errpath, sizeof errpath, "%s/stderr", tmp_dir);
	char *s = source_of_size(len);
	FILE *f = fopen(src, "wb");
	ck_assert(f && fwrite(s, 1, len, f) == len && fclose(f) == 0);
	free(s);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char *argv[] = {geqc, src, NULL};
	pid_t pid;
	int st;
	ck_assert_int_eq(posix_spawn(&pid, geqc, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	f = fopen(errpath, "r");
	size_t n = fread(err, 1, errlen - 1, f);
	err[n] = '\0';
	fclose(f);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(source_size_in_geqc)
{
	char err[4096];
	ck_assert_int_eq(run_geqc_on(GEQC_MAX_SOURCE, err, sizeof err), 0);
	ck_assert_int_eq(run_geqc_on(GEQC_MAX_SOURCE + 1, err, sizeof err), 2);
	ck_assert_msg(strstr(err, "is larger than 1048576 bytes, geqc's limit (GEQC_MAX_SOURCE)"),
	        "%s", err);
}
END_TEST

/* ---- the model ---- */

static Node *name_node(Arena *a, const char *name)
{
	Node *n = ast_node(a, N_NAME, (Loc){1, 1, 1, 1, NULL});
	n->name = name;
	return n;
}

/* x + x + ... (n additions), built by hand since the parser caps layers first: whether
 * the checker accepts it whole. */
static bool check_adds(int n, char **out)
{
	Arena *a = arena_new();
	Node *sum = name_node(a, "x");
	for (int i = 0; i < n; i++) {
		Node *add = ast_node(a, N_ADD, (Loc){1, 1, 1, 1, NULL});
		add->lhs = sum;
		add->rhs = name_node(a, "x");
		sum = add;
	}
	Stmt ret = {.expr = sum};
	Node dims[3] = {{.kind = N_INT, .i = 1}, {.kind = N_INT, .i = 2}, {.kind = N_INT, .i = 2}};
	ModelDecl md = {.name = "t",
	        .input = "x",
	        .dims = {&dims[0], &dims[1], &dims[2]},
	        .group = "p1",
	        .body = &ret};
	Program p = {.model = &md};
	Sink sk;
	sink_open(&sk, "t.geq", "", 0);
	Model *m = check_program(&p, a, &sk.d);
	int nlayers = m ? m->nlayers : -1;
	*out = sink_close(&sk);
	arena_free(a);
	return nlayers == n;
}

START_TEST(layers_in_the_checker)
{
	char *out = NULL;
	ck_assert_msg(check_adds(GEQC_MAX_LAYERS, &out), "%s", out);
	free(out);
	out = NULL;
	ck_assert(!check_adds(GEQC_MAX_LAYERS + 1, &out));
	ck_assert_msg(strstr(out, "the model has more than 4096 layers, geqc's limit "
	                          "(GEQC_MAX_LAYERS)"),
	        "%s", out);
	free(out);
}
END_TEST

START_TEST(input_dims)
{
	Run *r = model(1, 1, GEQC_MAX_DIM, "return x;");
	assert_ok(r);
	run_free(r);
	r = model(GEQC_MAX_DIM, 1, 1, "return x;");
	assert_ok(r);
	run_free(r);
	r = model(1, 1, GEQC_MAX_DIM + 1, "return x;");
	assert_refused(r, "input width must be between 1 and 65536 (GEQC_MAX_DIM), not 65537");
	run_free(r);
	r = model(1, GEQC_MAX_DIM + 1, 1, "return x;");
	assert_refused(r, "input height must be between 1 and 65536 (GEQC_MAX_DIM), not 65537");
	run_free(r);
}
END_TEST

START_TEST(op_arguments)
{
	Run *r = model(1, 1, 1, "return conv(x, 65536, k=1, s=65536);");
	assert_ok(r);
	ck_assert_int_eq(r->model->layer[0].C, GEQC_MAX_DIM);
	ck_assert_int_eq(r->model->layer[0].s, GEQC_MAX_DIM);
	run_free(r);
	r = model(1, 1, 1, "return conv(x, 65537, k=1);");
	assert_refused(r, "65537 exceeds geqc's limit of 65536 (GEQC_MAX_DIM)");
	run_free(r);
	r = model(1, 1, 1, "return conv(x, 1, k=1, s=65537);");
	assert_refused(r, "65537 exceeds geqc's limit of 65536 (GEQC_MAX_DIM)");
	run_free(r);
}
END_TEST

/* The lexer's bound on integer constants is INT_MAX: the largest is read (and then judged
 * by the checker), one more is a lexical error. */
START_TEST(integer_constants)
{
	Run *r = model(1, 1, 1, "return conv(x, 1, k=1, s=2147483647);");
	assert_refused(r, "2147483647 exceeds geqc's limit of 65536 (GEQC_MAX_DIM)");
	run_free(r);
	r = model(1, 1, 1, "return conv(x, 1, k=1, s=2147483648);");
	assert_refused(r, "integer constant '2147483648' is too large");
	run_free(r);
}
END_TEST

/* 2^28 floats exactly: 16384 x 16384 pixels, or a linear weight of 16384 x 16384. */
START_TEST(numel)
{
	Run *r = model(1, 16384, 16384, "return x;");
	assert_ok(r);
	ck_assert_int_eq(shape_numel(r->model->input), GEQC_MAX_NUMEL);
	run_free(r);
	r = model(1, 16384, 16385, "return x;");
	assert_refused(r, "holds 268451840 floats, more than geqc's limit of 268435456");
	run_free(r);
	r = model(1, 1, 16384, "return linear(flatten(x), 16384);");
	assert_ok(r);
	run_free(r);
	r = model(1, 1, 16384, "return linear(flatten(x), 16385);");
	assert_refused(r, "268451840 floats");
	assert_refused(r, "GEQC_MAX_NUMEL");
	run_free(r);
}
END_TEST

/* ---- files ---- */

static const char *tmp_file(const char *name)
{
	static char buf[4][256];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
	return p;
}

static void write_file(const char *path, const void *head, size_t hlen, size_t zeros)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(head, 1, hlen, f), hlen);
	static const char z[4096];
	for (size_t n; zeros > 0; zeros -= n) {
		n = zeros < sizeof z ? zeros : sizeof z;
		ck_assert_uint_eq(fwrite(z, 1, n, f), n);
	}
	ck_assert_int_eq(fclose(f), 0);
}

/* A version 2.0 .npy whose header (dict, padding, '\n') is hlen bytes, data zeroed. */
static const char *npy_file(const char *dict, size_t hlen, size_t data)
{
	size_t n = 12 + hlen;
	char *b = malloc(n);
	memcpy(b, "\x93NUMPY\x02\x00", 8);
	for (int i = 0; i < 4; i++)
		b[8 + i] = (char)(hlen >> (8 * i));
	memset(b + 12, ' ', hlen);
	memcpy(b + 12, dict, strlen(dict));
	b[n - 1] = '\n';
	const char *path = tmp_file("t.npy");
	write_file(path, b, n, data);
	free(b);
	return path;
}

static int load_npy(const char *path, char *err, size_t errlen, int *dim)
{
	float *x = NULL;
	int ndim;
	int rc = gq_load_npy(path, &x, &ndim, dim, err, errlen);
	free(x);
	return rc;
}

/* The loader's header limit, NPY_MAX_HEADER in load_npy.c: 65536 bytes. */
START_TEST(npy_header_size)
{
	const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
	char err[512] = "";
	int dim[4];
	ck_assert_msg(load_npy(npy_file(dict, 65536, 8), err, sizeof err, dim) == 0, "%s", err);
	const char *path = npy_file(dict, 65537, 8);
	ck_assert_int_eq(load_npy(path, err, sizeof err, dim), -1);
	ck_assert_msg(strstr(err, "header length 65537 is over the 65536-byte limit"), "%s", err);
}
END_TEST

/* A dimension is at most INT_MAX (the shape of an empty array can say so). */
START_TEST(npy_dimension)
{
	char err[512] = "";
	int dim[4];
	const char *ok = npy_file(
	        "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 0), }", 118, 0);
	ck_assert_msg(load_npy(ok, err, sizeof err, dim) == 0, "%s", err);
	ck_assert_int_eq(dim[0], 2147483647);
	ck_assert_int_eq(dim[1], 0);
	const char *bad = npy_file(
	        "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 0), }", 118, 0);
	ck_assert_int_eq(load_npy(bad, err, sizeof err, dim), -1);
	ck_assert_msg(strstr(err, "the .npy shape has a dimension over 2147483647"), "%s", err);
}
END_TEST

static int load_image(const char *path, int *c, int *h, int *w, char *err, size_t errlen)
{
	float *x = NULL;
	int rc = gq_load_image(path, &x, c, h, w, err, errlen);
	free(x);
	return rc;
}

/* A binary PGM of w x h zero pixels. */
static const char *pgm(long w, long h)
{
	char head[64];
	int n = snprintf(head, sizeof head, "P5\n%ld %ld\n255\n", w, h);
	const char *path = tmp_file("t.pgm");
	write_file(path, head, (size_t)n, (size_t)(w * h));
	return path;
}

START_TEST(pgm_side_and_pixels)
{
	char err[512] = "";
	int c, h, w;
	/* 16384 x 2048 = 2^25: both limits met exactly */
	ck_assert_msg(load_image(pgm(GQ_MAX_IMAGE_SIDE, 2048), &c, &h, &w, err, sizeof err) == 0,
	        "%s", err);
	ck_assert(c == 1 && h == 2048 && w == GQ_MAX_IMAGE_SIDE);
	ck_assert_int_eq(
	        load_image(pgm(GQ_MAX_IMAGE_SIDE + 1, 1), &c, &h, &w, err, sizeof err), -1);
	ck_assert_msg(
	        strstr(err, "image is 16385 x 1: more than 16384 pixels on a side"), "%s", err);
	ck_assert_int_eq(
	        load_image(pgm(1, GQ_MAX_IMAGE_SIDE + 1), &c, &h, &w, err, sizeof err), -1);
	ck_assert_msg(
	        strstr(err, "image is 1 x 16385: more than 16384 pixels on a side"), "%s", err);
	/* 2761 x 12153 = 2^25 + 1, both sides within the side limit */
	ck_assert_int_eq(load_image(pgm(2761, 12153), &c, &h, &w, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "image is 2761 x 12153: more than 33554432 pixels"), "%s", err);
}
END_TEST

/* PGM numbers are read up to 10^9: that one is judged (as a width), the next refused. */
START_TEST(pgm_numbers)
{
	char err[512] = "";
	int c, h, w;
	const char *path = tmp_file("t.pgm");
	write_file(path, "P5 1000000000 1 255\n", 20, 0);
	ck_assert_int_eq(load_image(path, &c, &h, &w, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "image is 1000000000 x 1: more than 16384 pixels on a side"),
	        "%s", err);
	write_file(path, "P5 1000000001 1 255\n", 20, 0);
	ck_assert_int_eq(load_image(path, &c, &h, &w, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "the width is too large"), "%s", err);
}
END_TEST

static void put_be32(unsigned char *p, unsigned long v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* A PNG chunk: length, type, data, CRC (computed here from the definition). */
static size_t png_chunk(unsigned char *out, const char *type, const unsigned char *data, size_t n)
{
	put_be32(out, n);
	memcpy(out + 4, type, 4);
	if (n)
		memcpy(out + 8, data, n);
	unsigned long crc = 0xffffffffUL;
	for (size_t i = 4; i < 8 + n; i++) {
		crc ^= out[i];
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0xedb88320UL : crc >> 1;
	}
	put_be32(out + 8 + n, crc ^ 0xffffffffUL);
	return 12 + n;
}

/* An 8-bit gray PNG of w x h zero pixels, the rows as stored deflate blocks; or with
 * pixels false, an empty IDAT (the size limits are checked before any pixel is read). */
static const char *png(unsigned long w, unsigned long h, bool pixels)
{
	size_t raw = pixels ? (w + 1) * h : 0, nblocks = (raw + 65534) / 65535;
	size_t zlen = 2 + raw + 5 * nblocks + 4;
	unsigned char *z = calloc(1, zlen), *p = z, *file = malloc(zlen + 128);
	*p++ = 0x78, *p++ = 0x01;
	for (size_t left = raw; left > 0;) {
		size_t n = left < 65535 ? left : 65535;
		left -= n;
		*p++ = left == 0; /* BFINAL, BTYPE 00: stored */
		*p++ = (unsigned char)n, *p++ = (unsigned char)(n >> 8);
		*p++ = (unsigned char)~n, *p++ = (unsigned char)(~n >> 8);
		p += n; /* filter bytes and pixels: all zero */
	}
	put_be32(p, (raw % 65521) << 16 | 1); /* Adler-32 of zeros: a = 1, b = 1 per byte */
	unsigned char ihdr[13] = {0};
	put_be32(ihdr, w);
	put_be32(ihdr + 4, h);
	ihdr[8] = 8;
	size_t n = 8;
	memcpy(file, "\x89PNG\r\n\x1a\n", 8);
	n += png_chunk(file + n, "IHDR", ihdr, 13);
	n += png_chunk(file + n, "IDAT", z, zlen);
	n += png_chunk(file + n, "IEND", NULL, 0);
	const char *path = tmp_file("t.png");
	write_file(path, file, n, 0);
	free(z);
	free(file);
	return path;
}

START_TEST(png_side_and_pixels)
{
	char err[512] = "";
	int c, h, w;
	const char *path = png(GQ_MAX_IMAGE_SIDE, 1, true);
	ck_assert_msg(load_image(path, &c, &h, &w, err, sizeof err) == 0, "%s", err);
	ck_assert(c == 1 && h == 1 && w == GQ_MAX_IMAGE_SIDE);
	path = png(1, GQ_MAX_IMAGE_SIDE, true);
	ck_assert_msg(load_image(path, &c, &h, &w, err, sizeof err) == 0, "%s", err);
	ck_assert(c == 1 && h == GQ_MAX_IMAGE_SIDE && w == 1);
	path = png(GQ_MAX_IMAGE_SIDE + 1, 1, false);
	ck_assert_int_eq(load_image(path, &c, &h, &w, err, sizeof err), -1);
	ck_assert_msg(
	        strstr(err, "image is 16385 x 1: more than 16384 pixels on a side"), "%s", err);
	ck_assert_int_eq(load_image(png(2761, 12153, false), &c, &h, &w, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "image is 2761 x 12153: more than 33554432 pixels"), "%s", err);
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *src = tcase_create("source");
	tcase_set_timeout(src, 60);
	tcase_add_test(src, source_size_in_the_parser);
	tcase_add_test(src, source_size_in_geqc);
	suite_add_tcase(s, src);
	TCase *m = tcase_create("model");
	tcase_set_timeout(m, 60);
	tcase_add_test(m, layers_in_the_checker);
	tcase_add_test(m, input_dims);
	tcase_add_test(m, op_arguments);
	tcase_add_test(m, integer_constants);
	tcase_add_test(m, numel);
	suite_add_tcase(s, m);
	TCase *f = tcase_create("files");
	tcase_set_timeout(f, 60);
	tcase_add_test(f, npy_header_size);
	tcase_add_test(f, npy_dimension);
	tcase_add_test(f, pgm_side_and_pixels);
	tcase_add_test(f, pgm_numbers);
	tcase_add_test(f, png_side_and_pixels);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	strcpy(tmp_dir, "/tmp/geqc-limits-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return 2;
	SRunner *sr = srunner_create(limits_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	const char *names[] = {"big.geq", "stderr", "t.npy", "t.pgm", "t.png"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		unlink(tmp_file(names[i]));
	rmdir(tmp_dir);
	return failed != 0;
}
