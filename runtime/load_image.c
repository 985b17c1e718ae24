/* load_image.c: PNG (through libpng) and PGM (P5, P2) images as floats in [0, 1]. The
 * format comes from the magic bytes; the header's claims are checked before any pixel is
 * allocated. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fileno, fseeko, strdup */
#endif
#include "load_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct image {
	float *data;
	int c, h, w;
} image;

/* Size limits, checked on the header before any pixel is allocated. */
static int image_dims(ld *l, ull w, ull h)
{
	if (w == 0 || h == 0)
		return ld_fail(l, "image is %llu x %llu: it has no pixels", w, h);
	if (w > GQ_MAX_IMAGE_SIDE || h > GQ_MAX_IMAGE_SIDE)
		return ld_fail(l, "image is %llu x %llu: more than %d pixels on a side", w, h,
		        GQ_MAX_IMAGE_SIDE);
	if (w * h > GQ_MAX_IMAGE_PIXELS)
		return ld_fail(
		        l, "image is %llu x %llu: more than %d pixels", w, h, GQ_MAX_IMAGE_PIXELS);
	return 0;
}

static int image_alloc(ld *l, image *im)
{
	im->data = malloc((size_t)im->c * (size_t)im->h * (size_t)im->w * sizeof(float));
	return im->data ? 0 : ld_fail(l, "out of memory for a %d x %d image", im->w, im->h);
}

/* ---- PNG, through libpng ---- */

/* Deflate turns at most 2 bits into 258 bytes: a file cannot hold more pixel bytes than this
 * many times its own length, whatever its header claims. */
enum { DEFLATE_MAX_RATIO = 1032 };

typedef struct png_job {
	ld *l;
	png_structp png;
	png_infop info;
	char msg[160]; /* libpng's complaint, or ours */
	unsigned char *pix;
	png_bytep *rows;
	image *im;
	int bps; /* bytes per sample: 1 or 2 */
} png_job;

static void png_on_error(png_structp png, png_const_charp msg)
{
	png_job *j = png_get_error_ptr(png);
	snprintf(j->msg, sizeof j->msg, "%s", msg);
	png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	(void)png, (void)msg; /* ancillary trouble (bad CRC on a text chunk...) is not ours */
}

static void png_on_read(png_structp png, png_bytep buf, size_t n)
{
	png_job *j = png_get_io_ptr(png);
	if (fread(buf, 1, n, j->l->f) != n)
		png_error(png, ferror(j->l->f) ? "read error" : "the file is truncated");
}

/* The header's claims, checked before a single row is allocated. */
static int png_check_header(png_job *j)
{
	png_uint_32 w, h;
	int depth, type;
	png_get_IHDR(j->png, j->info, &w, &h, &depth, &type, NULL, NULL, NULL);
	if (image_dims(j->l, w, h))
		return -1;
	ull packed = ((ull)w * png_get_channels(j->png, j->info) * (ull)depth + 7) / 8 * h;
	if (packed > j->l->size * DEFLATE_MAX_RATIO)
		return ld_fail(j->l,
		        "PNG header claims %u x %u pixels, more than a %llu-byte file can hold",
		        (unsigned)w, (unsigned)h, j->l->size);
	j->bps = depth == 16 ? 2 : 1;
	return 0;
}

/* Palette, low bit depths and transparency expand to 8-bit gray or RGB; alpha is dropped;
 * 16-bit samples stay 16-bit (big-endian) for their precision. */
static void png_set_transforms(png_job *j)
{
	png_set_expand(j->png);
	png_set_strip_alpha(j->png);
	png_set_interlace_handling(j->png);
	png_read_update_info(j->png, j->info);
}

/* Limits, transforms, then the buffers. */
static int png_prepare(png_job *j)
{
	image *im = j->im;
	if (png_check_header(j))
		return -1;
	png_set_transforms(j);
	im->c = png_get_channels(j->png, j->info);
	im->w = (int)png_get_image_width(j->png, j->info);
	im->h = (int)png_get_image_height(j->png, j->info);
	size_t rowbytes = png_get_rowbytes(j->png, j->info);
	if ((im->c != 1 && im->c != 3) || rowbytes != (size_t)im->w * im->c * j->bps)
		return ld_fail(j->l, "invalid PNG: unexpected pixel layout after decoding");
	j->pix = malloc(rowbytes * im->h);
	j->rows = malloc(im->h * sizeof *j->rows);
	if (!j->pix || !j->rows || image_alloc(j->l, im))
		return ld_fail(j->l, "out of memory for a %d x %d image", im->w, im->h);
	for (int y = 0; y < im->h; y++)
		j->rows[y] = j->pix + y * rowbytes;
	return 0;
}

static void png_to_float(png_job *j)
{
	image *im = j->im;
	size_t plane = (size_t)im->h * (size_t)im->w, bps = (size_t)j->bps;
	float scale = bps == 2 ? 65535.0f : 255.0f;
	for (int y = 0; y < im->h; y++)
		for (int x = 0; x < im->w; x++)
			for (int c = 0; c < im->c; c++) {
				const unsigned char *p = j->rows[y] + ((size_t)x * im->c + c) * bps;
				unsigned v = bps == 2 ? (unsigned)p[0] << 8 | p[1] : p[0];
				im->data[c * plane + (size_t)y * im->w + x] = (float)v / scale;
			}
}

/* Ancillary chunks change nothing we decode (no gamma or colour management; alpha is
 * dropped), and libpng allocates the whole claimed length of several (tEXt, zTXt, iCCP, sPLT,
 * eXIf...) before reading them: a 600-byte file claiming a 1.6 GB zTXt cost 1.6 GB and
 * seconds of memset. So all of them but tRNS are skipped unread, as unknown chunks are. */
static void png_skip_ancillary(png_structp png)
{
	static const png_byte names[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0"
	                                "pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0zTXt";
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, names, (int)sizeof names / 5);
}

/* Everything libpng may longjmp out of (to here: no local of this function changes after
 * setjmp). -1: libpng's error in j->msg; -2: ours, already reported. */
static int png_decode(png_job *j)
{
	if (setjmp(png_jmpbuf(j->png)))
		return -1;
	png_set_read_fn(j->png, j, png_on_read);
	png_set_sig_bytes(j->png, 8);
	png_set_user_limits(j->png, 0x7fffffff, 0x7fffffff); /* ours are stricter, and clearer */
	png_skip_ancillary(j->png);
	png_read_info(j->png, j->info);
	if (png_prepare(j))
		return -2;
	png_read_image(j->png, j->rows);
	png_read_end(j->png, NULL);
	png_to_float(j);
	return 0;
}

static int png_load(ld *l, image *im)
{
	png_job j = {.l = l, .im = im};
	j.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &j, png_on_error, png_on_warning);
	j.info = j.png ? png_create_info_struct(j.png) : NULL;
	int rc = j.info ? png_decode(&j) : -1;
	if (rc == -1)
		ld_fail(l, "invalid PNG: %s", j.msg[0] ? ld_show(j.msg).s : "out of memory");
	png_destroy_read_struct(&j.png, &j.info, NULL);
	free(j.pix);
	free(j.rows);
	if (rc) {
		free(im->data);
		im->data = NULL;
	}
	return rc ? -1 : 0;
}

/* ---- PGM (P5 binary, P2 ASCII) ---- */

static bool pnm_space(int ch)
{
	return ch != 0 && ch != EOF && strchr(" \t\n\v\f\r", ch);
}

/* Skips whitespace and '#' comments (to the end of the line); returns the next char. */
static int pnm_next(FILE *f)
{
	int ch;
	while ((ch = getc(f)) != EOF) {
		if (ch == '#')
			while ((ch = getc(f)) != EOF && ch != '\n' && ch != '\r')
				;
		else if (!pnm_space(ch))
			return ch;
	}
	return EOF;
}

/* A decimal number and the one character after it, which must end it. */
static int pnm_uint(ld *l, const char *what, ull *v)
{
	int ch = pnm_next(l->f);
	if (ch == EOF)
		return ld_fail(l, "truncated: the file ends before the %s", what);
	if (ch < '0' || ch > '9')
		return ld_fail(
		        l, "expected the %s, found '%s'", what, ld_show((char[]){(char)ch, 0}).s);
	for (*v = 0; ch >= '0' && ch <= '9'; ch = getc(l->f))
		if ((*v = *v * 10 + (ull)(ch - '0')) > 1000000000)
			return ld_fail(l, "the %s is too large", what);
	if (ch != EOF && ch != '#' && !pnm_space(ch))
		return ld_fail(l, "expected whitespace after the %s, found '%s'", what,
		        ld_show((char[]){(char)ch, 0}).s);
	/* As netpbm's pm_getuint: a comment ends the number like the whitespace it stands for,
	 * newline included, so in P5 `255#c\n` the raster starts after the newline. */
	if (ch == '#')
		while ((ch = getc(l->f)) != EOF && ch != '\n' && ch != '\r')
			;
	return 0;
}

typedef struct pgm_head {
	ull w, h, maxval;
} pgm_head;

static int pgm_header(ld *l, pgm_head *p)
{
	if (pnm_uint(l, "width", &p->w) || pnm_uint(l, "height", &p->h) ||
	        pnm_uint(l, "maxval", &p->maxval))
		return -1;
	if (p->maxval == 0 || p->maxval > 65535)
		return ld_fail(l, "maxval %llu is out of range (1 to 65535)", p->maxval);
	return image_dims(l, p->w, p->h);
}

static int pgm_sample(ld *l, const pgm_head *p, ull v, float *out)
{
	if (v > p->maxval)
		return ld_fail(l, "pixel value %llu is larger than maxval %llu", v, p->maxval);
	*out = (float)v / (float)p->maxval;
	return 0;
}

/* P5: w*h samples, 1 byte each, or 2 bytes big-endian when maxval > 255. */
static int pgm_binary(ld *l, const pgm_head *p, image *im)
{
	ull bps = p->maxval > 255 ? 2 : 1, n = p->w * p->h, need = n * bps;
	off_t pos = ftello(l->f);
	ull have = pos < 0 || (ull)pos > l->size ? 0 : l->size - (ull)pos;
	if (need > have)
		return ld_fail(
		        l, "truncated: %llu bytes of pixel data, the image needs %llu", have, need);
	if (need < have)
		return ld_fail(l, "%llu trailing bytes after the pixel data", have - need);
	if (image_alloc(l, im))
		return -1;
	unsigned char buf[8192];
	for (ull i = 0; i < n;) {
		size_t k = n - i < sizeof buf / bps ? (size_t)(n - i) : sizeof buf / bps;
		if (ld_read(l, buf, k * bps))
			return -1;
		for (size_t j = 0; j < k; j++, i++) {
			ull v = bps == 2 ? (ull)buf[2 * j] << 8 | buf[2 * j + 1] : buf[j];
			if (pgm_sample(l, p, v, &im->data[i]))
				return -1;
		}
	}
	return 0;
}

/* P2: w*h decimal samples separated by whitespace (comments allowed), nothing after. */
static int pgm_ascii(ld *l, const pgm_head *p, image *im)
{
	ull n = p->w * p->h, v;
	off_t pos = ftello(l->f);
	ull have = pos < 0 || (ull)pos > l->size ? 0 : l->size - (ull)pos;
	if (2 * n - 1 > have)
		return ld_fail(l, "truncated: %llu bytes cannot hold %llu pixel values", have, n);
	if (image_alloc(l, im))
		return -1;
	for (ull i = 0; i < n; i++) {
		int ch = pnm_next(l->f);
		if (ch == EOF)
			return ld_fail(l, "truncated: %llu of %llu pixel values", i, n);
		ungetc(ch, l->f);
		if (pnm_uint(l, "pixel value", &v) || pgm_sample(l, p, v, &im->data[i]))
			return -1;
	}
	if (pnm_next(l->f) != EOF)
		return ld_fail(l, "more than %llu x %llu pixel values", p->w, p->h);
	return 0;
}

static int pgm_load(ld *l, int kind, image *im)
{
	pgm_head p;
	if (fseeko(l->f, 2, SEEK_SET) != 0)
		return ld_fail(l, "cannot seek: %s", strerror(errno));
	if (pgm_header(l, &p))
		return -1;
	im->c = 1, im->h = (int)p.h, im->w = (int)p.w;
	if ((kind == '5' ? pgm_binary : pgm_ascii)(l, &p, im) == 0)
		return 0;
	free(im->data);
	im->data = NULL;
	return -1;
}

/* The format comes from the magic bytes, never from the file name. */
static int image_dispatch(ld *l, image *im)
{
	static const char png_sig[] = "\x89PNG\r\n\x1a\n";
	static const char *const pnm[] = {
	        "PBM (P1)", "PGM (P2)", "PPM (P3)", "PBM (P4)", "PGM (P5)", "PPM (P6)", "PAM (P7)"};
	unsigned char m[8];
	size_t got = fread(m, 1, 8, l->f);
	if (got == 8 && !memcmp(m, png_sig, 8))
		return png_load(l, im);
	if (got == 0)
		return ld_fail(l, "empty file: not an image");
	if (got < 8 && !memcmp(m, png_sig, got))
		return ld_fail(l, "invalid PNG: the file is truncated");
	bool pnm_magic = got >= 2 && m[0] == 'P' && m[1] >= '1' && m[1] <= '7' &&
	                 (got == 2 || m[2] == '#' || pnm_space(m[2]));
	if (pnm_magic && (m[1] == '2' || m[1] == '5'))
		return pgm_load(l, m[1], im);
	if (pnm_magic)
		return ld_fail(l, "%s images are not supported: convert to PNG or PGM (P5)",
		        pnm[m[1] - '1']);
	return ld_fail(l, "not a PNG or PGM image");
}

int gq_load_image(const char *path, float **data, int *c, int *h, int *w, char *err, size_t errlen)
{
	ld l = {.path = path, .err = err, .errlen = errlen};
	image im = {0};
	*data = NULL;
	int rc = ld_open(&l) || image_dispatch(&l, &im) ? -1 : 0;
	ld_close(&l);
	if (rc)
		return -1;
	*data = im.data;
	*c = im.c, *h = im.h, *w = im.w;
	return 0;
}
