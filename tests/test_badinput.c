/* test_badinput.c: the classes of hostile file that tests/bad/ (tests/test_load.c) did not
 * cover yet, found reviewing it against issue 6's list (docs/robustness.md has the whole
 * catalogue). Each file is built here byte by byte from its format's definition; each either
 * loads with the values the definition gives, or fails with an error naming the file. For
 * errors that come from libpng or jansson only the prefix that the loaders add is checked, since
 * their wording is theirs. Among them, the regressions of two bugs fixed in the loaders: a PGM
 * comment right after maxval (netpbm reads the raster after the comment's newline), and a
 * PNG text chunk that claimed 1.6 GB (libpng allocated it all before reading). */
#include "geqrt.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[64];

/* Under ASan, an allocation over 512 MB is an error: no file here needs one, and the PNG
 * that once made libpng allocate 2 GB must fail the test if that comes back. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "max_allocation_size_mb=512";
}

/* A string literal's bytes and length, NULs included. */
#define LIT(s) s, sizeof(s) - 1

/* ---- helpers ---- */

static const char *write_tmp(const char *name, const void *p, size_t n)
{
	static char buf[4][256];
	static int k;
	char *path = buf[k++ % 4];
	snprintf(path, sizeof buf[0], "%s/%s", tmp_dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* err must be "PATH: " followed by text containing want. */
static void assert_error(const char *err, const char *path, const char *want)
{
	size_t n = strlen(path);
	ck_assert_msg(strncmp(err, path, n) == 0 && strncmp(err + n, ": ", 2) == 0,
	        "error does not name %s: %s", path, err);
	ck_assert_msg(strstr(err + n, want) != NULL, "expected '%s' in: %s", want, err);
}

static uint32_t bits_of(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	return u;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_be32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* ---- safetensors, checked against the w [2, 2], b [2] of tests/bad/ ---- */

static const gq_param wb[] = {{"w", 2, {2, 2}}, {"b", 1, {2}}};

/* The 8-byte length, the header padded with spaces to a multiple of 8, then data. */
static const char *st_file(const char *header, const void *data, size_t n)
{
	size_t h = strlen(header), padded = (h + 7) / 8 * 8;
	unsigned char *b = calloc(1, 8 + padded + n);
	put_le(b, padded, 8);
	memcpy(b + 8, header, h);
	memset(b + 8 + h, ' ', padded - h);
	if (n)
		memcpy(b + 8 + padded, data, n);
	const char *path = write_tmp("t.safetensors", b, 8 + padded + n);
	free(b);
	return path;
}

static int load_wb(const char *path, float *w, float *b, char *err, size_t errlen)
{
	float *dst[] = {w, b};
	char *labels = NULL;
	int rc = gq_load_safetensors(path, wb, 2, dst, &labels, err, errlen);
	ck_assert(rc == 0 || labels == NULL);
	free(labels);
	return rc;
}

#define B_ENTRY "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}"

static void assert_st_error(const char *header, const char *want)
{
	char err[512] = "";
	float w[4], b[2];
	static const unsigned char zeros[24];
	const char *path = st_file(header, zeros, sizeof zeros);
	ck_assert_int_eq(load_wb(path, w, b, err, sizeof err), -1);
	assert_error(err, path, want);
}

START_TEST(st_json_values_out_of_range)
{
	/* 2^64 does not fit jansson's integers: a JSON error, not a wrapped offset */
	assert_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,"
	                "18446744073709551616]}," B_ENTRY "}",
	        "header is not valid JSON: too big integer");
	assert_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
	                "\"__metadata__\":{\"labels\":\"\\ud800\"}," B_ENTRY "}",
	        "header is not valid JSON: invalid Unicode '\\uD800'");
}
END_TEST

START_TEST(st_wrong_json_types)
{
	assert_st_error(
	        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0,2],\"data_offsets\":[0,16]}," B_ENTRY "}",
	        "tensor 'w': shape must be a list of non-negative integers");
	assert_st_error(
	        "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\",2],\"data_offsets\":[0,16]}," B_ENTRY
	        "}",
	        "tensor 'w': shape must be a list of non-negative integers");
	assert_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,16]}," B_ENTRY
	                "}",
	        "tensor 'w' has no shape list");
	assert_st_error("{\"w\":{\"dtype\":32,\"shape\":[2,2],\"data_offsets\":[0,16]}," B_ENTRY
	                "}",
	        "tensor 'w' has no dtype string");
	assert_st_error(
	        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16,24]}," B_ENTRY
	        "}",
	        "tensor 'w': data_offsets must be [begin, end], non-negative integers");
	assert_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2]}," B_ENTRY "}",
	        "tensor 'w': data_offsets must be [begin, end], non-negative integers");
}
END_TEST

START_TEST(st_header_not_a_header)
{
	char err[512] = "";
	float w[4], b[2];
	unsigned char zero[8] = {0};
	const char *path = write_tmp("t.safetensors", zero, 8);
	ck_assert_int_eq(load_wb(path, w, b, err, sizeof err), -1);
	assert_error(err, path, "header is not valid JSON");
	assert_st_error(
	        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B_ENTRY "} x",
	        "header is not valid JSON");
}
END_TEST

/* Names from the file are printed with control bytes escaped; shapes with their rank. */
START_TEST(st_names_and_ranks)
{
	assert_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
	                "\"b\\u0001\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
	        "missing tensor 'b' [2]");
	assert_st_error(
	        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
	        "\"c\\u0001\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[24,24]}," B_ENTRY
	        "}",
	        "unexpected tensor 'c\\x01' [0]: the model has no such parameter");
	assert_st_error(
	        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2,1],\"data_offsets\":[0,16]}," B_ENTRY "}",
	        "tensor 'w' has shape [2, 2, 1], the model expects [2, 2]");
}
END_TEST

/* Non-finite F32 values are the user's, kept bit for bit (NaN payloads too). */
START_TEST(st_non_finite_values)
{
	static const uint32_t v[6] = {
	        0x7fc00001, 0xff800000, 0x7f800000, 0x00000001, 0x80000000, 0xffffffff};
	unsigned char data[24];
	for (int i = 0; i < 6; i++)
		put_le(data + 4 * i, v[i], 4);
	char err[512] = "";
	float w[4], b[2];
	const char *path = st_file(
	        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B_ENTRY "}",
	        data, sizeof data);
	ck_assert_msg(load_wb(path, w, b, err, sizeof err) == 0, "%s", err);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(bits_of(w[i]), v[i]);
	for (int i = 0; i < 2; i++)
		ck_assert_uint_eq(bits_of(b[i]), v[4 + i]);
}
END_TEST

/* ---- .npy ---- */

/* Version 1.0: the dict padded with spaces and '\n' to a multiple of 64, then data. */
static const char *npy_file(const char *dict, const void *data, size_t n)
{
	size_t d = strlen(dict), h = (10 + d + 1 + 63) / 64 * 64 - 10;
	unsigned char *b = malloc(10 + h + n);
	memcpy(b, "\x93NUMPY\x01\x00", 8);
	put_le(b + 8, h, 2);
	memset(b + 10, ' ', h);
	memcpy(b + 10, dict, d);
	b[10 + h - 1] = '\n';
	if (n)
		memcpy(b + 10 + h, data, n);
	const char *path = write_tmp("t.npy", b, 10 + h + n);
	free(b);
	return path;
}

static void assert_npy_error(const char *path, const char *want)
{
	char err[512] = "";
	float *x = (float *)err;
	int nd, dim[4];
	ck_assert_int_eq(gq_load_npy(path, &x, &nd, dim, err, sizeof err), -1);
	ck_assert_ptr_null(x);
	assert_error(err, path, want);
}

START_TEST(npy_absurd_header_length)
{
	unsigned char b[16] = "\x93NUMPY\x02\x00";
	put_le(b + 8, 0xffffffffu, 4);
	memcpy(b + 12, "{}  ", 4);
	assert_npy_error(write_tmp("t.npy", b, sizeof b),
	        "header length 4294967295 is over the 65536-byte limit");
}
END_TEST

START_TEST(npy_header_tokens)
{
	static const unsigned char four[4];
	assert_npy_error(
	        npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", four, 4),
	        "malformed .npy header: expected a dimension");
	assert_npy_error(
	        npy_file("{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }", four, 4),
	        "dtype '<u4' is not supported");
	assert_npy_error(npy_file("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }", four, 4),
	        "malformed .npy header: expected True or False");
	assert_npy_error(
	        npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", four, 4),
	        "malformed .npy header: expected ',' or '}'");
}
END_TEST

START_TEST(npy_non_finite_values)
{
	static const uint32_t v[4] = {0x7fc00001, 0xff800000, 0x7f800000, 0x00000001};
	unsigned char data[16];
	for (int i = 0; i < 4; i++)
		put_le(data + 4 * i, v[i], 4);
	const char *path =
	        npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", data, 16);
	char err[512] = "";
	float *x;
	int nd, dim[4];
	ck_assert_msg(gq_load_npy(path, &x, &nd, dim, err, sizeof err) == 0, "%s", err);
	ck_assert(nd == 1 && dim[0] == 4);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(bits_of(x[i]), v[i]);
	free(x);
}
END_TEST

/* ---- images ---- */

static int load_image(const char *path, float **x, int *c, int *h, int *w, char *err)
{
	*x = (float *)err;
	int rc = gq_load_image(path, x, c, h, w, err, 512);
	if (rc)
		ck_assert_ptr_null(*x);
	return rc;
}

static void assert_image(const char *path, int c, int h, int w, const float *want)
{
	char err[512] = "";
	float *x;
	int cc, hh, ww;
	ck_assert_msg(load_image(path, &x, &cc, &hh, &ww, err) == 0, "%s", err);
	ck_assert(cc == c && hh == h && ww == w);
	for (int i = 0; i < c * h * w; i++)
		ck_assert_msg(fabsf(x[i] - want[i]) < 1e-7f, "%s [%d]: %g, want %g", path, i, x[i],
		        want[i]);
	free(x);
}

static void assert_image_error(const char *path, const char *want)
{
	char err[512] = "";
	float *x;
	int c, h, w;
	ck_assert_int_eq(load_image(path, &x, &c, &h, &w, err), -1);
	assert_error(err, path, want);
}

/* netpbm's rule (pm_getuint): '#' to the end of the line is whitespace, even where it
 * touches a number; so in P5 the raster starts after the newline of a comment that ends
 * maxval. */
START_TEST(pgm_comments_touching_numbers)
{
	const float two[] = {0.0f, 1.0f};
	assert_image(write_tmp("t.pgm", LIT("P5 2 1 255#c\n\x00\xff")), 1, 1, 2, two);
	assert_image(write_tmp("t.pgm", LIT("P5#c\n2 1 255\n\x00\xff")), 1, 1, 2, two);
	assert_image(write_tmp("t.pgm", LIT("P5 2#w\n1#h\n255\n\x00\xff")), 1, 1, 2, two);
	const float six[] = {1 / 9.0f, 2 / 9.0f, 3 / 9.0f, 4 / 9.0f, 5 / 9.0f, 6 / 9.0f};
	assert_image(write_tmp("t.pgm", LIT("P2\n2#c\n3\n9\n1 2#x\n3 4\n5 6#end")), 1, 3, 2, six);
	assert_image(write_tmp("t.pgm", LIT("P2\r2\r1\r9\r1 2\r")), 1, 1, 2,
	        (float[]){1 / 9.0f, 2 / 9.0f});
}
END_TEST

START_TEST(pgm_maxval_bounds)
{
	assert_image(write_tmp("t.pgm", LIT("P5 2 1 65535\n\xff\xff\x80\x00")), 1, 1, 2,
	        (float[]){1.0f, 32768 / 65535.0f});
	assert_image(write_tmp("t.pgm", LIT("P2 2 1 1\n1 0\n")), 1, 1, 2, (float[]){1.0f, 0.0f});
	assert_image_error(
	        write_tmp("t.pgm", LIT("P2 2 1 9\n1 -2\n")), "expected the pixel value, found '-'");
}
END_TEST

static size_t png_chunk(unsigned char *out, const char *type, const void *data, uint32_t n)
{
	put_be32(out, n);
	memcpy(out + 4, type, 4);
	if (n)
		memcpy(out + 8, data, n);
	uint32_t crc = 0xffffffffu;
	for (size_t i = 4; i < 8 + (size_t)n; i++) {
		crc ^= out[i];
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
	}
	put_be32(out + 8 + n, ~crc);
	return 12 + (size_t)n;
}

/* zlib stream of one stored block holding raw (at most 65535 bytes). */
static size_t zstored(unsigned char *out, const unsigned char *raw, size_t n)
{
	uint32_t a = 1, b = 0;
	out[0] = 0x78, out[1] = 0x01, out[2] = 1;
	put_le(out + 3, n, 2);
	put_le(out + 5, ~n & 0xffff, 2);
	memcpy(out + 7, raw, n);
	for (size_t i = 0; i < n; i++) {
		a = (a + raw[i]) % 65521;
		b = (b + a) % 65521;
	}
	put_be32(out + 7 + n, b << 16 | a);
	return 11 + n;
}

/* A PNG: IHDR (w, h, depth, colour type, interlace), the extra chunks, IDAT of raw rows. */
static const char *png_file(uint32_t w, uint32_t h, int depth, int color, int interlace,
        const unsigned char *extra, size_t nextra, const unsigned char *rows, size_t nrows)
{
	unsigned char *f = malloc(128 + nextra + nrows), ihdr[13] = {0}, z[256];
	size_t n = 8;
	memcpy(f, "\x89PNG\r\n\x1a\n", 8);
	put_be32(ihdr, w);
	put_be32(ihdr + 4, h);
	ihdr[8] = (unsigned char)depth, ihdr[9] = (unsigned char)color;
	ihdr[12] = (unsigned char)interlace;
	n += png_chunk(f + n, "IHDR", ihdr, 13);
	if (nextra)
		memcpy(f + n, extra, nextra);
	n += nextra;
	n += png_chunk(f + n, "IDAT", z, (uint32_t)zstored(z, rows, nrows));
	n += png_chunk(f + n, "IEND", NULL, 0);
	const char *path = write_tmp("t.png", f, n);
	free(f);
	return path;
}

START_TEST(png_invalid_headers)
{
	const unsigned char rows[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	/* palette images have at most 8 bits; interlace is 0 or 1 */
	assert_image_error(png_file(2, 2, 16, 3, 0, NULL, 0, rows, 10), "invalid PNG: ");
	assert_image_error(png_file(2, 2, 8, 0, 2, NULL, 0, rows, 6), "invalid PNG: ");
	/* a palette image without PLTE */
	assert_image_error(png_file(2, 2, 8, 3, 0, NULL, 0, rows, 6), "invalid PNG: ");
	/* a row filter type past 4 */
	const unsigned char bad_filter[] = {7, 0, 0};
	assert_image_error(png_file(2, 1, 8, 0, 0, NULL, 0, bad_filter, 3), "invalid PNG: ");
}
END_TEST

/* An index past the palette's end is an error in the file, but libpng only warns: it must
 * decode to something in [0, 1], never read outside the palette. */
START_TEST(png_palette_index_out_of_range)
{
	unsigned char plte[32];
	const unsigned char pal[6] = {51, 102, 153, 204, 255, 0};
	size_t n = png_chunk(plte, "PLTE", pal, 6);
	const unsigned char rows[] = {0, 1, 200};
	char err[512] = "";
	float *x;
	int c, h, w;
	const char *path = png_file(2, 1, 8, 3, 0, plte, n, rows, 3);
	ck_assert_msg(load_image(path, &x, &c, &h, &w, err) == 0, "%s", err);
	ck_assert(c == 3 && h == 1 && w == 2);
	for (int i = 0; i < 3; i++)
		ck_assert(fabsf(x[2 * i] - pal[3 + i] / 255.0f) < 1e-7f); /* pixel 0: entry 1 */
	for (int i = 0; i < 6; i++)
		ck_assert(x[i] >= 0.0f && x[i] <= 1.0f);
	free(x);
}
END_TEST

/* Ancillary chunks are skipped unread: a 2 MB tEXt costs nothing, and one that claims
 * 2 GB in a 60-byte file fails as truncated, without allocating it (the fuzz regression
 * tests/fuzz-regressions/png/ztxt-claims-1.6GB.png replays the same under a 512 MB
 * allocation limit). */
START_TEST(png_large_ancillary_chunks)
{
	size_t big = 2000000;
	unsigned char *data = calloc(1, big), *text = malloc(big + 12);
	data[0] = 'k'; /* keyword "k", then zeros */
	size_t n = png_chunk(text, "tEXt", data, (uint32_t)big);
	const unsigned char rows[] = {0, 0, 255};
	assert_image(png_file(2, 1, 8, 0, 0, text, n, rows, 3), 1, 1, 2, (float[]){0.0f, 1.0f});
	free(data);
	free(text);
	unsigned char claim[8];
	put_be32(claim, 0x7ffffff0u);
	memcpy(claim + 4, "zTXt", 4);
	assert_image_error(png_file(2, 1, 8, 0, 0, claim, 8, rows, 3), "invalid PNG: ");
}
END_TEST

static Suite *badinput_suite(void)
{
	Suite *s = suite_create("badinput");
	TCase *st = tcase_create("safetensors");
	tcase_add_test(st, st_json_values_out_of_range);
	tcase_add_test(st, st_wrong_json_types);
	tcase_add_test(st, st_header_not_a_header);
	tcase_add_test(st, st_names_and_ranks);
	tcase_add_test(st, st_non_finite_values);
	suite_add_tcase(s, st);
	TCase *npy = tcase_create("npy");
	tcase_add_test(npy, npy_absurd_header_length);
	tcase_add_test(npy, npy_header_tokens);
	tcase_add_test(npy, npy_non_finite_values);
	suite_add_tcase(s, npy);
	TCase *img = tcase_create("images");
	tcase_add_test(img, pgm_comments_touching_numbers);
	tcase_add_test(img, pgm_maxval_bounds);
	tcase_add_test(img, png_invalid_headers);
	tcase_add_test(img, png_palette_index_out_of_range);
	tcase_add_test(img, png_large_ancillary_chunks);
	suite_add_tcase(s, img);
	return s;
}

int main(void)
{
	strcpy(tmp_dir, "/tmp/geqc-badinput-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return 2;
	SRunner *sr = srunner_create(badinput_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	const char *names[] = {"t.safetensors", "t.npy", "t.pgm", "t.png"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char p[128];
		snprintf(p, sizeof p, "%s/%s", tmp_dir, names[i]);
		unlink(p);
	}
	rmdir(tmp_dir);
	return failed != 0;
}
