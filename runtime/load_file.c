/* load_file.c: what every loader shares (load_impl.h): the file being read or written, its
 * "PATH: what is wrong" errors, names and shapes made safe to print, little-endian bytes. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fileno, fseeko, strdup */
#endif
#include "load_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes "PATH: message" (truncated to errlen) and returns -1. */
int ld_fail(ld *l, const char *fmt, ...)
{
	if (!l->err || l->errlen == 0)
		return -1;
	int n = snprintf(l->err, l->errlen, "%s: ", l->path ? l->path : "(no file)");
	if (n >= 0 && (size_t)n < l->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A name that came from a file, safe to print: control bytes escaped, long names cut. */
msg_t ld_show(const char *s)
{
	msg_t t;
	size_t n = 0;
	for (; *s && n + 8 < sizeof t.s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f)
			n += (size_t)snprintf(t.s + n, sizeof t.s - n, "\\x%02x", ch);
		else
			t.s[n++] = (char)ch;
	}
	strcpy(t.s + n, *s ? "..." : "");
	return t;
}

/* "[2, 3]" from the first `shown` of ndim dims (cut with "..." if long). */
msg_t ld_dims(const ull *dim, int shown, int ndim)
{
	msg_t t;
	size_t n = 1;
	strcpy(t.s, "[");
	for (int i = 0; i < ndim; i++) {
		if (i == shown || n + 28 > sizeof t.s) {
			strcpy(t.s + n, ", ...");
			n += 5;
			break;
		}
		n += (size_t)snprintf(t.s + n, sizeof t.s - n, "%s%llu", i ? ", " : "", dim[i]);
	}
	strcpy(t.s + n, "]");
	return t;
}

msg_t ld_param_dims(const gq_param *p)
{
	ull d[5];
	for (int i = 0; i < p->ndim; i++)
		d[i] = (ull)p->dim[i];
	return ld_dims(d, p->ndim, p->ndim);
}

/* Opens a regular file for reading and learns its length. */
int ld_open(ld *l)
{
	if (!l->path)
		return ld_fail(l, "no file name");
	l->f = fopen(l->path, "rb");
	if (!l->f)
		return ld_fail(l, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fileno(l->f), &st) != 0)
		return ld_fail(l, "cannot stat: %s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return ld_fail(l, "is a directory");
	if (!S_ISREG(st.st_mode))
		return ld_fail(l, "not a regular file");
	l->size = (ull)st.st_size;
	return 0;
}

int ld_close(ld *l)
{
	int rc = l->f ? fclose(l->f) : 0;
	l->f = NULL;
	return rc;
}

/* Reads exactly n bytes; the length was checked already, so a short read means the file
 * changed under us or the disk failed. */
int ld_read(ld *l, void *buf, size_t n)
{
	if (fread(buf, 1, n, l->f) == n)
		return 0;
	if (ferror(l->f))
		return ld_fail(l, "read error: %s", strerror(errno));
	return ld_fail(l, "unexpected end of file (did it change while being read?)");
}

int ld_seek(ld *l, ull off)
{
	if (fseeko(l->f, (off_t)off, SEEK_SET) != 0)
		return ld_fail(l, "cannot seek: %s", strerror(errno));
	return 0;
}

int ld_write(ld *l, const void *buf, size_t n)
{
	if (fwrite(buf, 1, n, l->f) != n)
		return ld_fail(l, "write error: %s", strerror(errno));
	return 0;
}

/* Opens for writing; ld_finish closes, and removes the file if anything failed. */
int ld_create(ld *l)
{
	if (!l->path)
		return ld_fail(l, "no file name");
	l->f = fopen(l->path, "wb");
	if (!l->f)
		return ld_fail(l, "cannot create: %s", strerror(errno));
	return 0;
}

int ld_finish(ld *l, int rc)
{
	if (!l->f)
		return rc;
	if (ld_close(l) != 0 && rc == 0)
		rc = ld_fail(l, "write error: %s", strerror(errno));
	if (rc != 0)
		remove(l->path);
	return rc;
}

bool ld_mul_ok(ull a, ull b, ull *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

ull ld_get_le(const unsigned char *p, int n)
{
	ull v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void ld_put_le(unsigned char *p, ull v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* Floats were read as raw little-endian bytes; fix them up on a big-endian host. */
void ld_f32_from_le(float *x, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, x + i, 4);
		u = (uint32_t)ld_get_le((const unsigned char *)&u, 4);
		memcpy(x + i, &u, 4);
	}
#else
	(void)x, (void)n;
#endif
}

/* Writes n floats as little-endian F32. */
int ld_write_f32(ld *l, const float *x, size_t n)
{
	unsigned char buf[4096];
	while (n > 0) {
		size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
		for (size_t i = 0; i < k; i++) {
			uint32_t u;
			memcpy(&u, x + i, 4);
			ld_put_le(buf + 4 * i, u, 4);
		}
		if (ld_write(l, buf, 4 * k))
			return -1;
		x += k, n -= k;
	}
	return 0;
}
