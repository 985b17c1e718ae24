/* fuzz_image.c: gq_load_image on hostile files; built as two targets, png and pgm, that
 * differ only in their seed corpus and dictionary (the loader picks the format from the
 * magic bytes, so either may wander into the other). It asserts the loader's contract
 * (geqrt.h): -1 with "PATH: message" and *data NULL, or 0 with 1 or 3 channels, a size
 * within GQ_MAX_IMAGE_SIDE and GQ_MAX_IMAGE_PIXELS, and every value in [0, 1]. */
#include "geqrt.h"

#include "fuzz.h"

#ifdef FUZZ_PNG_FIX_CRC
#include <zlib.h>
#endif

static FuzzFile in;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_file_open(&in, "in.image");
	return 0;
}

static void assert_image(const float *x, int c, int h, int w)
{
	FUZZ_ASSERT(x);
	FUZZ_ASSERT(c == 1 || c == 3);
	FUZZ_ASSERT(h >= 1 && h <= GQ_MAX_IMAGE_SIDE && w >= 1 && w <= GQ_MAX_IMAGE_SIDE);
	FUZZ_ASSERT((long long)h * w <= GQ_MAX_IMAGE_PIXELS);
	for (size_t i = 0, n = (size_t)c * h * w; i < n; i++)
		FUZZ_ASSERT(x[i] >= 0.0f && x[i] <= 1.0f);
}

#ifdef FUZZ_PNG_FIX_CRC
static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Rewrites the CRC of every whole chunk after a PNG signature to match its type and data. */
static void fix_crcs(uint8_t *p, size_t size)
{
	if (size < 8 || memcmp(p, "\x89PNG\r\n\x1a\n", 8) != 0)
		return;
	for (size_t at = 8; at + 12 <= size;) {
		uint32_t len = get_be32(p + at);
		if (len > size - at - 12)
			break;
		uint32_t crc = (uint32_t)crc32(0, p + at + 4, len + 4);
		for (int i = 0; i < 4; i++)
			p[at + 8 + len + i] = (uint8_t)(crc >> (24 - 8 * i));
		at += 12 + (size_t)len;
	}
}
#endif

/* The file the loader reads: the input itself, or for the png target, with its CRCs mended. */
static const char *input_file(const uint8_t *data, size_t size)
{
#ifdef FUZZ_PNG_FIX_CRC
	uint8_t *copy = malloc(size ? size : 1);
	FUZZ_ASSERT(copy);
	memcpy(copy, data, size);
	fix_crcs(copy, size);
	const char *path = fuzz_file_set(&in, copy, size);
	free(copy);
	return path;
#else
	return fuzz_file_set(&in, data, size);
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	char err[256] = "";
	float *x = (float *)err; /* must be overwritten on every path */
	int c = 0, h = 0, w = 0;
	int rc = gq_load_image(path, &x, &c, &h, &w, err, sizeof err);
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc == 0) {
		assert_image(x, c, h, w);
		free(x);
	} else {
		FUZZ_ASSERT(x == NULL);
		FUZZ_ASSERT(fuzz_error_names(err, path));
	}
	return 0;
}
