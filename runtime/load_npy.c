/* load_npy.c: numpy's .npy (versions 1-3, '<f4', C order), read and written. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fileno, fseeko, strdup */
#endif
#include "load_impl.h"

#include <stdlib.h>
#include <string.h>

/* numpy itself refuses headers over 10000 bytes; ours hold at most four dimensions. */
enum { NPY_MAX_HEADER = 65536 };

typedef struct npy_head {
	char descr[64];
	bool has_descr;
	int fortran; /* -1 unset, 0, 1 */
	int ndim;    /* -1 unset */
	ull dim[4];
} npy_head;

/* A cursor over the header text, a Python dict literal. */
typedef struct pcur {
	ld *l;
	const char *s, *p, *end;
} pcur;

static int perr(pcur *c, const char *what)
{
	if (c->p >= c->end)
		return ld_fail(c->l, "malformed .npy header: expected %s, found the end", what);
	return ld_fail(c->l, "malformed .npy header: expected %s at column %d, found '%s'", what,
	        (int)(c->p - c->s) + 1, ld_show((char[]){*c->p, 0}).s);
}

static void pskip(pcur *c)
{
	while (c->p < c->end && strchr(" \t\r\n", *c->p) && *c->p)
		c->p++;
}

static bool peat(pcur *c, char ch)
{
	pskip(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

/* 'text' or "text", without escapes (no header numpy writes needs one). */
static int pstr(pcur *c, char *out, size_t cap)
{
	pskip(c);
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return perr(c, "a quoted string");
	char q = *c->p++;
	size_t n = 0;
	for (; c->p < c->end && *c->p != q; c->p++) {
		if (*c->p == '\\' || *c->p == '\n' || *c->p == 0 || n + 1 >= cap)
			return perr(c, "a short string without escapes");
		out[n++] = *c->p;
	}
	out[n] = 0;
	return c->p < c->end ? (c->p++, 0) : perr(c, "a closing quote");
}

/* A dimension: decimal digits (and Python 2's L suffix), at most INT_MAX. */
static int pint(pcur *c, ull *v)
{
	pskip(c);
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return perr(c, "a dimension");
	for (*v = 0; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++)
		if ((*v = *v * 10 + (ull)(*c->p - '0')) > 0x7fffffff)
			return ld_fail(c->l, "the .npy shape has a dimension over 2147483647");
	if (c->p < c->end && *c->p == 'L')
		c->p++;
	return 0;
}

static int pword(pcur *c, int *out)
{
	pskip(c);
	size_t left = (size_t)(c->end - c->p);
	if (left >= 4 && !memcmp(c->p, "True", 4))
		return *out = 1, c->p += 4, 0;
	if (left >= 5 && !memcmp(c->p, "False", 5))
		return *out = 0, c->p += 5, 0;
	return perr(c, "True or False");
}

/* (d0, d1, ...) with an optional trailing comma. */
static int pshape(pcur *c, npy_head *h)
{
	if (!peat(c, '('))
		return perr(c, "a shape tuple");
	h->ndim = 0;
	while (!peat(c, ')')) {
		ull d = 0;
		if (pint(c, &d))
			return -1;
		if (h->ndim < 4)
			h->dim[h->ndim] = d;
		h->ndim++;
		if (!peat(c, ',') && (pskip(c), c->p >= c->end || *c->p != ')'))
			return perr(c, "',' or ')'");
	}
	return 0;
}

static int pitem(pcur *c, npy_head *h)
{
	char key[32];
	if (pstr(c, key, sizeof key))
		return -1;
	if (!peat(c, ':'))
		return perr(c, "':'");
	bool seen = !strcmp(key, "descr")           ? h->has_descr
	            : !strcmp(key, "fortran_order") ? h->fortran >= 0
	            : !strcmp(key, "shape")         ? h->ndim >= 0
	                                            : false;
	if (seen)
		return ld_fail(c->l, "malformed .npy header: '%s' appears twice", key);
	if (!strcmp(key, "descr")) {
		pskip(c);
		if (c->p < c->end && *c->p == '[')
			return ld_fail(
			        c->l, "structured dtypes are not supported: save a float32 array");
		h->has_descr = true;
		return pstr(c, h->descr, sizeof h->descr) ? -1 : 0;
	}
	if (!strcmp(key, "fortran_order"))
		return pword(c, &h->fortran);
	if (!strcmp(key, "shape"))
		return pshape(c, h);
	return ld_fail(c->l, "malformed .npy header: unknown key '%s'", ld_show(key).s);
}

static int pdict(pcur *c, npy_head *h)
{
	if (!peat(c, '{'))
		return perr(c, "'{'");
	while (!peat(c, '}')) {
		if (pitem(c, h))
			return -1;
		if (!peat(c, ',') && (pskip(c), c->p >= c->end || *c->p != '}'))
			return perr(c, "',' or '}'");
	}
	pskip(c);
	if (c->p < c->end)
		return perr(c, "the end of the header");
	return 0;
}

/* What the dict says, checked against what we can load. */
static int npy_check(ld *l, const npy_head *h)
{
	if (!h->has_descr)
		return ld_fail(l, "malformed .npy header: no 'descr'");
	if (h->fortran < 0)
		return ld_fail(l, "malformed .npy header: no 'fortran_order'");
	if (h->ndim < 0)
		return ld_fail(l, "malformed .npy header: no 'shape'");
	if (strcmp(h->descr, "<f4") != 0)
		return ld_fail(l,
		        "dtype '%s' is not supported: save as float32 little-endian ('<f4')",
		        ld_show(h->descr).s);
	if (h->fortran)
		return ld_fail(
		        l, "fortran_order is True: save a C-order array (numpy.ascontiguousarray)");
	if (h->ndim < 1 || h->ndim > 4)
		return ld_fail(l, "the array has %d dimensions: 1 to 4 are supported", h->ndim);
	return 0;
}

/* Magic, version, header length, header. On success *off is where the data starts. */
static int npy_head_read(ld *l, npy_head *h, ull *off)
{
	unsigned char b[12];
	if (l->size < 10)
		return ld_fail(l, "truncated: %llu bytes, too short for a .npy preamble", l->size);
	if (ld_read(l, b, 8))
		return -1;
	if (memcmp(b, "\x93NUMPY", 6) != 0)
		return ld_fail(l, "not a .npy file (no \\x93NUMPY magic)");
	if (b[7] != 0 || b[6] < 1 || b[6] > 3)
		return ld_fail(l, "unsupported .npy version %d.%d", b[6], b[7]);
	int lb = b[6] == 1 ? 2 : 4;
	if (l->size < 8 + (ull)lb)
		return ld_fail(l, "truncated: %llu bytes, too short for a version %d.0 preamble",
		        l->size, b[6]);
	if (ld_read(l, b + 8, (size_t)lb))
		return -1;
	ull hlen = ld_get_le(b + 8, lb);
	*off = 8 + (ull)lb + hlen;
	if (hlen > NPY_MAX_HEADER)
		return ld_fail(
		        l, "header length %llu is over the %d-byte limit", hlen, NPY_MAX_HEADER);
	if (*off > l->size)
		return ld_fail(l, "header length %llu runs past the end of the file (%llu bytes)",
		        hlen, l->size);
	char *buf = malloc(hlen + 1);
	if (!buf)
		return ld_fail(l, "out of memory");
	pcur c = {l, buf, buf, buf + hlen};
	int rc = ld_read(l, buf, hlen) || pdict(&c, h) || npy_check(l, h) ? -1 : 0;
	free(buf);
	return rc;
}

/* The data must be exactly what the shape says: no less, no more. */
static int npy_data(ld *l, const npy_head *h, ull off, float **out)
{
	ull numel = 1, bytes, have = l->size - off;
	for (int i = 0; i < h->ndim; i++)
		if (!ld_mul_ok(numel, h->dim[i], &numel))
			return ld_fail(
			        l, "shape %s is too large", ld_dims(h->dim, h->ndim, h->ndim).s);
	if (!ld_mul_ok(numel, 4, &bytes) || bytes > have)
		return ld_fail(l, "truncated: shape %s needs %llu bytes of data, the file has %llu",
		        ld_dims(h->dim, h->ndim, h->ndim).s, bytes, have);
	if (bytes < have)
		return ld_fail(l, "%llu trailing bytes after the data of shape %s", have - bytes,
		        ld_dims(h->dim, h->ndim, h->ndim).s);
	*out = malloc(bytes ? (size_t)bytes : 4);
	if (!*out)
		return ld_fail(l, "out of memory for %llu bytes", bytes);
	if (ld_read(l, *out, (size_t)bytes))
		return -1;
	ld_f32_from_le(*out, (size_t)numel);
	return 0;
}

int gq_load_npy(const char *path, float **data, int *ndim, int dim[4], char *err, size_t errlen)
{
	ld l = {.path = path, .err = err, .errlen = errlen};
	npy_head h = {.fortran = -1, .ndim = -1};
	float *x = NULL;
	ull off = 0;
	*data = NULL;
	int rc = ld_open(&l) || npy_head_read(&l, &h, &off) || npy_data(&l, &h, off, &x) ? -1 : 0;
	ld_close(&l);
	if (rc) {
		free(x);
		return -1;
	}
	*data = x;
	*ndim = h.ndim;
	for (int i = 0; i < 4; i++)
		dim[i] = i < h.ndim ? (int)h.dim[i] : 0;
	return 0;
}

/* Version 1.0, the dict padded with spaces and a '\n' so the data starts 64-byte aligned. */
int gq_save_npy(
        const char *path, const float *data, int ndim, const int *dim, char *err, size_t errlen)
{
	ld l = {.path = path, .err = err, .errlen = errlen};
	char head[256];
	ull numel = 1;
	if (ndim < 1 || ndim > 5)
		return ld_fail(&l, "cannot save a %d-dimensional array", ndim);
	int n = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
	for (int i = 0; i < ndim; i++) {
		if (dim[i] < 0 || !ld_mul_ok(numel, (ull)dim[i], &numel))
			return ld_fail(&l, "cannot save an array with dimension %d", dim[i]);
		n += snprintf(head + n, sizeof head - (size_t)n, "%d%s", dim[i],
		        ndim == 1 || i + 1 < ndim ? ", " : "");
	}
	if (!data && numel)
		return ld_fail(&l, "no data to save");
	n -= ndim == 1; /* numpy prints a 1-tuple as (5,) */
	n += snprintf(head + n, sizeof head - (size_t)n, "), }");
	int total = (10 + n + 1 + 63) / 64 * 64;
	memset(head + n, ' ', (size_t)(total - 10 - n));
	head[total - 11] = '\n';
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
	ld_put_le(pre + 8, (ull)(total - 10), 2);
	if (ld_create(&l))
		return -1;
	int rc = ld_write(&l, pre, 10) || ld_write(&l, head, (size_t)(total - 10)) ||
	                         ld_write_f32(&l, data, (size_t)numel)
	                 ? -1
	                 : 0;
	return ld_finish(&l, rc);
}
