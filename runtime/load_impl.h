/* load_impl.h: private to the loaders (load_file.c, load_safetensors.c, load_npy.c,
 * load_image.c). Every file is treated as hostile: each size is checked against the file's
 * real length before anything is allocated, size arithmetic is overflow-checked, and every
 * problem is an error "PATH: what is wrong". Only regular files are read (their length is
 * known up front). Non-finite values in weights or arrays are kept as they are: they are
 * the user's choice, not a format error. */
#ifndef GEQRT_LOAD_IMPL_H
#define GEQRT_LOAD_IMPL_H
#include "geqrt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef unsigned long long ull;

/* A file being read or written, and where its error goes. */
typedef struct ld {
	const char *path;
	char *err;
	size_t errlen;
	FILE *f;
	ull size; /* the file's length, when reading */
} ld;

/* Writes "PATH: message" (truncated to errlen) and returns -1. */
int ld_fail(ld *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Text for a message, returned by value so that several fit in one printf. */
typedef struct msg_t {
	char s[128];
} msg_t;
/* A name that came from a file, safe to print: control bytes escaped, long names cut. */
msg_t ld_show(const char *s);
/* "[2, 3]" from the first `shown` of ndim dims (cut with "..." if long). */
msg_t ld_dims(const ull *dim, int shown, int ndim);
msg_t ld_param_dims(const gq_param *p);

/* Opens a regular file for reading and learns its length. */
int ld_open(ld *l);
int ld_close(ld *l);
/* Reads exactly n bytes (a short read is an error). */
int ld_read(ld *l, void *buf, size_t n);
int ld_seek(ld *l, ull off);
int ld_write(ld *l, const void *buf, size_t n);
/* Opens for writing; ld_finish closes, and removes the file if anything failed (rc != 0). */
int ld_create(ld *l);
int ld_finish(ld *l, int rc);

bool ld_mul_ok(ull a, ull b, ull *out);
ull ld_get_le(const unsigned char *p, int n);
void ld_put_le(unsigned char *p, ull v, int n);
/* Floats read as raw little-endian bytes, fixed up on a big-endian host. */
void ld_f32_from_le(float *x, size_t n);
/* Writes n floats as little-endian F32. */
int ld_write_f32(ld *l, const float *x, size_t n);

#endif
