/* load.c: weights, arrays and images written by others. Every file is treated as hostile:
 * each size is checked against the file's real length before anything is allocated, size
 * arithmetic is overflow-checked, and every problem is an error "PATH: what is wrong".
 * Only regular files are read (their length is known up front). Non-finite values in
 * weights or arrays are kept as they are: they are the user's choice, not a format error. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fileno, fseeko, strdup */
#endif
#include "geqrt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <png.h>

typedef unsigned long long ull;

/* ---- errors and files ---- */

/* A file being read or written, and where its error goes. */
typedef struct ld {
	const char *path;
	char *err;
	size_t errlen;
	FILE *f;
	ull size; /* the file's length, when reading */
} ld;

static int fail(ld *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "PATH: message" (truncated to errlen) and returns -1. */
static int fail(ld *l, const char *fmt, ...)
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

/* Text for a message, returned by value so that several fit in one printf. */
typedef struct msg_t {
	char s[128];
} msg_t;

/* A name that came from a file, safe to print: control bytes escaped, long names cut. */
static msg_t show(const char *s)
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
static msg_t dims_text(const ull *dim, int shown, int ndim)
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

static msg_t param_dims(const gq_param *p)
{
	ull d[5];
	for (int i = 0; i < p->ndim; i++)
		d[i] = (ull)p->dim[i];
	return dims_text(d, p->ndim, p->ndim);
}

/* Opens a regular file for reading and learns its length. */
static int ld_open(ld *l)
{
	if (!l->path)
		return fail(l, "no file name");
	l->f = fopen(l->path, "rb");
	if (!l->f)
		return fail(l, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fileno(l->f), &st) != 0)
		return fail(l, "cannot stat: %s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return fail(l, "is a directory");
	if (!S_ISREG(st.st_mode))
		return fail(l, "not a regular file");
	l->size = (ull)st.st_size;
	return 0;
}

static int ld_close(ld *l)
{
	int rc = l->f ? fclose(l->f) : 0;
	l->f = NULL;
	return rc;
}

/* Reads exactly n bytes; the length was checked already, so a short read means the file
 * changed under us or the disk failed. */
static int ld_read(ld *l, void *buf, size_t n)
{
	if (fread(buf, 1, n, l->f) == n)
		return 0;
	if (ferror(l->f))
		return fail(l, "read error: %s", strerror(errno));
	return fail(l, "unexpected end of file (did it change while being read?)");
}

static int ld_seek(ld *l, ull off)
{
	if (fseeko(l->f, (off_t)off, SEEK_SET) != 0)
		return fail(l, "cannot seek: %s", strerror(errno));
	return 0;
}

static int ld_write(ld *l, const void *buf, size_t n)
{
	if (fwrite(buf, 1, n, l->f) != n)
		return fail(l, "write error: %s", strerror(errno));
	return 0;
}

/* Opens for writing; ld_finish closes, and removes the file if anything failed. */
static int ld_create(ld *l)
{
	if (!l->path)
		return fail(l, "no file name");
	l->f = fopen(l->path, "wb");
	if (!l->f)
		return fail(l, "cannot create: %s", strerror(errno));
	return 0;
}

static int ld_finish(ld *l, int rc)
{
	if (!l->f)
		return rc;
	if (ld_close(l) != 0 && rc == 0)
		rc = fail(l, "write error: %s", strerror(errno));
	if (rc != 0)
		remove(l->path);
	return rc;
}

static bool mul_ok(ull a, ull b, ull *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

static ull get_le(const unsigned char *p, int n)
{
	ull v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le(unsigned char *p, ull v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* Floats were read as raw little-endian bytes; fix them up on a big-endian host. */
static void f32_from_le(float *x, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, x + i, 4);
		u = (uint32_t)get_le((const unsigned char *)&u, 4);
		memcpy(x + i, &u, 4);
	}
#else
	(void)x, (void)n;
#endif
}

/* Writes n floats as little-endian F32. */
static int write_f32(ld *l, const float *x, size_t n)
{
	unsigned char buf[4096];
	while (n > 0) {
		size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
		for (size_t i = 0; i < k; i++) {
			uint32_t u;
			memcpy(&u, x + i, 4);
			put_le(buf + 4 * i, u, 4);
		}
		if (ld_write(l, buf, 4 * k))
			return -1;
		x += k, n -= k;
	}
	return 0;
}

/* ---- safetensors ---- */

/* The reference reader's limit: a larger header is not a safetensors file. */
enum { ST_MAX_HEADER = 100000000 };
enum { ST_F32, ST_F16, ST_BF16 };

/* Every dtype the format defines; only the first three can be loaded. */
static const char *const st_dtype_names[] = {"F32", "F16", "BF16", "F64", "F8_E5M2", "F8_E4M3",
        "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "BOOL", "U8", "I8", "I16", "U16", "I32", "U32",
        "I64", "U64", "C64"};
static const int st_dtype_size[] = {4, 2, 2};

typedef struct st_tensor {
	const char *name; /* owned by the JSON root */
	int dtype;
	json_t *shape;
	ull numel, begin, end;
	bool used;
} st_tensor;

typedef struct st_file {
	ld l;
	ull hlen;
	json_t *root;
	st_tensor *t;       /* sorted by data offsets after st_layout */
	st_tensor **byname; /* the same, sorted by name */
	st_tensor **of;     /* of[i]: the tensor for params[i] */
	size_t nt;
	const char *labels;
} st_file;

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "null";
	}
}

/* jansson says "... near 'TOKEN'": the token is the useful part for a duplicate key. */
static int st_json_error(st_file *s, const json_error_t *je)
{
	const char *near = strstr(je->text, "near '");
	switch (json_error_code(je)) {
	case json_error_null_character:
		return fail(&s->l, "header has a \\u0000 in a string (at header byte %d)",
		        je->position);
	case json_error_out_of_memory:
		return fail(&s->l, "out of memory reading the header");
	case json_error_invalid_utf8:
		return fail(&s->l, "header is not valid UTF-8 (at header byte %d)", je->position);
	case json_error_duplicate_key:
		if (near) {
			char key[JSON_ERROR_TEXT_LENGTH];
			snprintf(key, sizeof key, "%s", near + 6);
			key[strlen(key) - (strlen(key) > 0)] = 0; /* drop the closing quote */
			return fail(&s->l, "header has the key %s twice", show(key).s);
		}
		return fail(&s->l, "header has a duplicate key");
	default:
		/* jansson says nothing when its lexer cannot get memory to start */
		if (!je->text[0])
			return fail(&s->l, "out of memory reading the header");
		return fail(&s->l, "header is not valid JSON: %s (at header byte %d)",
		        show(je->text).s, je->position);
	}
}

/* The length prefix and the JSON header. */
static int st_open(st_file *s)
{
	ld *l = &s->l;
	unsigned char b[8];
	if (ld_open(l))
		return -1;
	if (l->size < 8)
		return fail(l, "truncated: %llu bytes, too short for the 8-byte header length",
		        l->size);
	if (ld_read(l, b, 8))
		return -1;
	s->hlen = get_le(b, 8);
	if (s->hlen > ST_MAX_HEADER)
		return fail(l,
		        "header length %llu is over the %d-byte limit: not a safetensors file?",
		        s->hlen, ST_MAX_HEADER);
	if (s->hlen > l->size - 8)
		return fail(l, "header length %llu runs past the end of the file (%llu bytes)",
		        s->hlen, l->size);
	char *buf = malloc(s->hlen ? s->hlen : 1);
	if (!buf)
		return fail(l, "out of memory for a %llu-byte header", s->hlen);
	json_error_t je;
	if (ld_read(l, buf, s->hlen)) {
		free(buf);
		return -1;
	}
	s->root = json_loadb(buf, s->hlen, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!s->root)
		return st_json_error(s, &je);
	if (!json_is_object(s->root))
		return fail(l, "header is %s, not a JSON object", json_kind(s->root));
	return 0;
}

static bool json_uint(const json_t *v, ull *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (ull)json_integer_value(v);
	return true;
}

static int st_dtype(st_file *s, const char *name, json_t *v, st_tensor *t)
{
	const char *d = json_string_value(json_object_get(v, "dtype"));
	if (!d)
		return fail(&s->l, "tensor '%s' has no dtype string", show(name).s);
	int n = (int)(sizeof st_dtype_names / sizeof *st_dtype_names);
	for (int i = 0; i < n; i++) {
		if (strcmp(d, st_dtype_names[i]) != 0)
			continue;
		if (i > ST_BF16)
			return fail(&s->l,
			        "tensor '%s' has dtype %s: only F32, F16 and BF16 can be loaded",
			        show(name).s, d);
		t->dtype = i;
		return 0;
	}
	return fail(&s->l, "tensor '%s' has unknown dtype '%s'", show(name).s, show(d).s);
}

static int st_shape(st_file *s, const char *name, json_t *v, st_tensor *t)
{
	json_t *sh = json_object_get(v, "shape"), *x;
	size_t i;
	if (!json_is_array(sh))
		return fail(&s->l, "tensor '%s' has no shape list", show(name).s);
	t->shape = sh;
	t->numel = 1;
	json_array_foreach(sh, i, x)
	{
		ull d;
		if (!json_uint(x, &d))
			return fail(&s->l,
			        "tensor '%s': shape must be a list of non-negative integers",
			        show(name).s);
		if (!mul_ok(t->numel, d, &t->numel))
			return fail(&s->l, "tensor '%s': shape is too large", show(name).s);
	}
	return 0;
}

static int st_offsets(st_file *s, const char *name, json_t *v, st_tensor *t)
{
	json_t *o = json_object_get(v, "data_offsets");
	if (!json_is_array(o) || json_array_size(o) != 2 ||
	        !json_uint(json_array_get(o, 0), &t->begin) ||
	        !json_uint(json_array_get(o, 1), &t->end))
		return fail(&s->l,
		        "tensor '%s': data_offsets must be [begin, end], non-negative integers",
		        show(name).s);
	if (t->end < t->begin)
		return fail(&s->l, "tensor '%s': data_offsets [%llu, %llu] end before they begin",
		        show(name).s, t->begin, t->end);
	return 0;
}

/* The shape in a message: "[2, 3]" from the file's JSON. */
static msg_t st_dims(const st_tensor *t)
{
	ull d[24];
	int n = (int)json_array_size(t->shape), shown = n < 24 ? n : 24;
	for (int i = 0; i < shown; i++)
		d[i] = (ull)json_integer_value(json_array_get(t->shape, (size_t)i));
	return dims_text(d, shown, n);
}

static int st_bytes(st_file *s, const char *name, st_tensor *t)
{
	ull need;
	const char *dt = st_dtype_names[t->dtype];
	if (!mul_ok(t->numel, (ull)st_dtype_size[t->dtype], &need))
		return fail(&s->l, "tensor '%s': shape is too large", show(name).s);
	if (t->end - t->begin != need)
		return fail(&s->l,
		        "tensor '%s' has %llu bytes of data (data_offsets [%llu, %llu]), but %s %s "
		        "needs %llu",
		        show(name).s, t->end - t->begin, t->begin, t->end, dt, st_dims(t).s, need);
	return 0;
}

static int st_entry(st_file *s, const char *name, json_t *v, st_tensor *t)
{
	const char *k;
	json_t *x;
	t->name = name;
	if (!json_is_object(v))
		return fail(&s->l,
		        "tensor '%s' is %s, not an object with dtype, shape and data_offsets",
		        show(name).s, json_kind(v));
	json_object_foreach(v, k, x)
	{
		if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
			return fail(&s->l, "tensor '%s' has an unknown field '%s'", show(name).s,
			        show(k).s);
	}
	return st_dtype(s, name, v, t) || st_shape(s, name, v, t) || st_offsets(s, name, v, t) ||
	                       st_bytes(s, name, t)
	               ? -1
	               : 0;
}

/* Every tensor entry of the header, each checked on its own. */
static int st_entries(st_file *s)
{
	const char *k;
	json_t *v;
	size_t n = json_object_size(s->root);
	s->t = calloc(n ? n : 1, sizeof *s->t);
	s->byname = calloc(n ? n : 1, sizeof *s->byname);
	if (!s->t || !s->byname)
		return fail(&s->l, "out of memory for %zu tensors", n);
	json_object_foreach(s->root, k, v)
	{
		if (strcmp(k, "__metadata__") == 0)
			continue;
		if (st_entry(s, k, v, &s->t[s->nt]))
			return -1;
		s->nt++;
	}
	return 0;
}

static int by_offsets(const void *a, const void *b)
{
	const st_tensor *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(st_tensor *const *)a)->name, (*(st_tensor *const *)b)->name);
}

/* Sorted by offsets, the tensors must tile the data section from 0 to the end of the file. */
static int st_layout(st_file *s)
{
	ld *l = &s->l;
	ull at = 0, have = l->size - 8 - s->hlen;
	const st_tensor *prev = NULL;
	qsort(s->t, s->nt, sizeof *s->t, by_offsets);
	for (size_t i = 0; i < s->nt; prev = &s->t[i++]) {
		const st_tensor *t = &s->t[i];
		if (t->begin > at && !prev)
			return fail(l,
			        "the data section starts with %llu unused bytes (tensor '%s' "
			        "begins "
			        "at %llu, not 0)",
			        t->begin, show(t->name).s, t->begin);
		if (t->begin > at)
			return fail(l,
			        "%llu unused bytes between tensor '%s' (ends at %llu) and tensor "
			        "'%s' (begins at %llu)",
			        t->begin - at, show(prev->name).s, at, show(t->name).s, t->begin);
		if (t->begin < at)
			return fail(l, "tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
			        show(prev->name).s, prev->begin, prev->end, show(t->name).s,
			        t->begin, t->end);
		at = t->end;
	}
	if (at > have)
		return fail(l,
		        "truncated: tensor '%s' ends at byte %llu of the data, which has only %llu",
		        show(prev->name).s, at, have);
	if (at < have)
		return fail(l, "%llu trailing bytes after the last tensor's data", have - at);
	return 0;
}

/* __metadata__ is optional, and an object of strings; "labels" is ours. */
static int st_metadata(st_file *s)
{
	json_t *m = json_object_get(s->root, "__metadata__"), *v;
	const char *k;
	if (!m)
		return 0;
	if (!json_is_object(m))
		return fail(&s->l, "__metadata__ is %s, not an object of strings", json_kind(m));
	json_object_foreach(m, k, v)
	{
		if (!json_is_string(v))
			return fail(&s->l, "__metadata__ entry '%s' is %s, not a string", show(k).s,
			        json_kind(v));
	}
	s->labels = json_string_value(json_object_get(m, "labels"));
	return 0;
}

static bool st_same_shape(const st_tensor *t, const gq_param *p)
{
	if (json_array_size(t->shape) != (size_t)p->ndim)
		return false;
	for (int i = 0; i < p->ndim; i++)
		if (json_integer_value(json_array_get(t->shape, (size_t)i)) != p->dim[i])
			return false;
	return true;
}

/* Strict, as load_state_dict: every parameter present with its shape, nothing else. */
static int st_match(st_file *s, const gq_param *params, int n)
{
	s->of = calloc(n > 0 ? (size_t)n : 1, sizeof *s->of);
	if (!s->of)
		return fail(&s->l, "out of memory");
	for (size_t i = 0; i < s->nt; i++)
		s->byname[i] = &s->t[i];
	qsort(s->byname, s->nt, sizeof *s->byname, by_name);
	for (int i = 0; i < n; i++) {
		st_tensor key = {.name = params[i].name}, *kp = &key, **hit;
		hit = bsearch(&kp, s->byname, s->nt, sizeof *s->byname, by_name);
		if (!hit)
			return fail(&s->l, "missing tensor '%s' %s", params[i].name,
			        param_dims(&params[i]).s);
		if (!st_same_shape(*hit, &params[i]))
			return fail(&s->l, "tensor '%s' has shape %s, the model expects %s",
			        params[i].name, st_dims(*hit).s, param_dims(&params[i]).s);
		(*hit)->used = true;
		s->of[i] = *hit;
	}
	for (size_t i = 0; i < s->nt; i++)
		if (!s->t[i].used)
			return fail(&s->l,
			        "unexpected tensor '%s' %s: the model has no such parameter",
			        show(s->t[i].name).s, st_dims(&s->t[i]).s);
	return 0;
}

/* IEEE half: zero and subnormals are man * 2^-24; inf and nan keep sign and payload. */
static float f16_to_f32(unsigned h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = h >> 10 & 31, man = h & 1023, bits;
	if (exp == 0) {
		float v = ldexpf((float)man, -24);
		return sign ? -v : v;
	}
	bits = sign | (exp == 31 ? 0x7f800000u : (exp + 112) << 23) | man << 13;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

static float bf16_to_f32(unsigned h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

static int st_read_f32(st_file *s, const st_tensor *t, float *dst)
{
	if (ld_read(&s->l, dst, (size_t)t->numel * 4))
		return -1;
	f32_from_le(dst, (size_t)t->numel);
	return 0;
}

/* 16-bit dtypes are read a chunk at a time and widened. */
static int st_read_half(st_file *s, const st_tensor *t, float *dst)
{
	unsigned char buf[8192];
	for (ull i = 0; i < t->numel;) {
		size_t k = t->numel - i < sizeof buf / 2 ? (size_t)(t->numel - i) : sizeof buf / 2;
		if (ld_read(&s->l, buf, 2 * k))
			return -1;
		for (size_t j = 0; j < k; j++, i++) {
			unsigned h = (unsigned)get_le(buf + 2 * j, 2);
			dst[i] = t->dtype == ST_F16 ? f16_to_f32(h) : bf16_to_f32(h);
		}
	}
	return 0;
}

static int st_read(st_file *s, const gq_param *params, int n, float *const *dst)
{
	for (int i = 0; i < n; i++) {
		const st_tensor *t = s->of[i];
		if (t->numel == 0)
			continue;
		if (!dst || !dst[i])
			return fail(&s->l, "no buffer for tensor '%s'", params[i].name);
		if (ld_seek(&s->l, 8 + s->hlen + t->begin))
			return -1;
		if ((t->dtype == ST_F32 ? st_read_f32 : st_read_half)(s, t, dst[i]))
			return -1;
	}
	return 0;
}

static int st_labels(st_file *s, char **labels)
{
	if (!labels || !s->labels)
		return 0;
	*labels = strdup(s->labels);
	return *labels ? 0 : fail(&s->l, "out of memory");
}

int gq_load_safetensors(const char *path, const gq_param *params, int n, float *const *dst,
        char **labels, char *err, size_t errlen)
{
	st_file s = {.l = {.path = path, .err = err, .errlen = errlen}};
	if (labels)
		*labels = NULL;
	int rc = st_open(&s) || st_entries(&s) || st_layout(&s) || st_metadata(&s) ||
	                         st_match(&s, params, n) || st_read(&s, params, n, dst) ||
	                         st_labels(&s, labels)
	                 ? -1
	                 : 0;
	json_decref(s.root);
	free(s.t);
	free(s.byname);
	free(s.of);
	ld_close(&s.l);
	return rc;
}

/* ---- writing safetensors ---- */

/* A tensor to write, with its data. */
typedef struct st_out {
	const gq_param *p;
	const float *x;
	ull numel;
} st_out;

static int by_out_name(const void *a, const void *b)
{
	return strcmp(((const st_out *)a)->p->name, ((const st_out *)b)->p->name);
}

static int check_param(ld *l, st_out *o)
{
	const gq_param *p = o->p;
	if (!p->name || !*p->name || strcmp(p->name, "__metadata__") == 0)
		return fail(
		        l, "cannot save a tensor named '%s'", p->name ? show(p->name).s : "(null)");
	if (p->ndim < 0 || p->ndim > 5)
		return fail(l, "tensor '%s' has %d dimensions", show(p->name).s, p->ndim);
	o->numel = 1;
	for (int i = 0; i < p->ndim; i++)
		if (p->dim[i] < 0 || !mul_ok(o->numel, (ull)p->dim[i], &o->numel))
			return fail(l, "tensor '%s' has an invalid shape", show(p->name).s);
	if (o->numel > (1ull << 60))
		return fail(l, "tensor '%s' is too large", show(p->name).s);
	if (!o->x && o->numel)
		return fail(l, "tensor '%s' has no data", show(p->name).s);
	return 0;
}

/* Checks every tensor and sorts them by name, the order JSON_SORT_KEYS prints them in. */
static int st_outs(ld *l, st_out *o, const gq_param *params, int n, const float *const *src)
{
	for (int i = 0; i < n; i++) {
		o[i] = (st_out){&params[i], src ? src[i] : NULL, 0};
		if (check_param(l, &o[i]))
			return -1;
	}
	qsort(o, (size_t)n, sizeof *o, by_out_name);
	for (int i = 1; i < n; i++)
		if (strcmp(o[i].p->name, o[i - 1].p->name) == 0)
			return fail(l, "tensor '%s' is given twice", show(o[i].p->name).s);
	return 0;
}

/* One tensor's header entry, or NULL when out of memory. */
static json_t *st_entry_json(const gq_param *p, ull begin, ull end)
{
	json_t *shape = json_array();
	for (int i = 0; shape && i < p->ndim; i++) {
		if (json_array_append_new(shape, json_integer(p->dim[i])) != 0) {
			json_decref(shape);
			shape = NULL;
		}
	}
	if (!shape)
		return NULL;
	return json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape, "data_offsets",
	        (json_int_t)begin, (json_int_t)end);
}

/* __metadata__ with the labels; jansson's NULL means bad UTF-8 or no memory (ENOMEM). */
static int st_labels_json(ld *l, json_t *root, const char *labels)
{
	errno = 0;
	json_t *v = json_string(labels);
	if (!v)
		return fail(
		        l, "%s", errno == ENOMEM ? "out of memory" : "labels are not valid UTF-8");
	json_t *meta = json_pack("{s:o}", "labels", v);
	if (!meta || json_object_set_new(root, "__metadata__", meta) != 0)
		return fail(l, "out of memory");
	return 0;
}

/* json_dumps' output, grown here: jansson ignores a failed write of an object key (it
 * would drop the key from the text and still succeed), so a failure is remembered here. */
typedef struct textbuf {
	char *s;
	size_t len, cap;
	bool failed;
} textbuf;

static int textbuf_put(const char *p, size_t n, void *data)
{
	textbuf *b = data;
	if (!b->failed && b->len + n + 1 > b->cap) {
		size_t cap = 2 * (b->len + n + 1);
		char *s = realloc(b->s, cap);
		b->failed = !s;
		b->s = s ? s : b->s;
		b->cap = s ? cap : b->cap;
	}
	if (b->failed)
		return -1;
	memcpy(b->s + b->len, p, n);
	b->s[b->len += n] = '\0';
	return 0;
}

/* The header as JSON text, offsets contiguous in name order. Every jansson call is checked:
 * one that runs out of memory must not leave an entry out of a file that gets written. */
static char *st_header_text(ld *l, const st_out *o, int n, const char *labels)
{
	json_t *root = json_object();
	char *text = NULL;
	ull at = 0;
	if (!root)
		return fail(l, "out of memory"), NULL;
	for (int i = 0; i < n; i++) {
		if (at > (1ull << 62))
			return json_decref(root), fail(l, "the tensors are too large"), NULL;
		json_t *e = st_entry_json(o[i].p, at, at + 4 * o[i].numel);
		if (!e || json_object_set_new(root, o[i].p->name, e) != 0)
			return json_decref(root), fail(l, "out of memory"), NULL;
		at += 4 * o[i].numel;
	}
	if (labels && st_labels_json(l, root, labels))
		return json_decref(root), NULL;
	textbuf b = {0};
	if (json_dump_callback(root, textbuf_put, &b, JSON_COMPACT | JSON_SORT_KEYS) == 0 &&
	        !b.failed && b.s)
		text = b.s;
	else {
		free(b.s);
		fail(l, "out of memory");
	}
	json_decref(root);
	return text;
}

static int st_write(ld *l, const char *text, const st_out *o, int n)
{
	size_t len = strlen(text), padded = (len + 7) / 8 * 8;
	unsigned char b[8];
	put_le(b, padded, 8);
	if (ld_write(l, b, 8) || ld_write(l, text, len) || ld_write(l, "        ", padded - len))
		return -1;
	for (int i = 0; i < n; i++)
		if (o[i].numel && write_f32(l, o[i].x, (size_t)o[i].numel))
			return -1;
	return 0;
}

int gq_save_safetensors(const char *path, const gq_param *params, int n, const float *const *src,
        const char *labels, char *err, size_t errlen)
{
	ld l = {.path = path, .err = err, .errlen = errlen};
	st_out *o = malloc(n > 0 ? (size_t)n * sizeof *o : 1);
	char *text = NULL;
	int rc = -1;
	if (!o)
		return fail(&l, "out of memory");
	if (st_outs(&l, o, params, n > 0 ? n : 0, src) == 0 &&
	        (text = st_header_text(&l, o, n > 0 ? n : 0, labels)) && ld_create(&l) == 0)
		rc = ld_finish(&l, st_write(&l, text, o, n > 0 ? n : 0));
	free(text);
	free(o);
	return rc;
}

/* ---- .npy ---- */

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
		return fail(c->l, "malformed .npy header: expected %s, found the end", what);
	return fail(c->l, "malformed .npy header: expected %s at column %d, found '%s'", what,
	        (int)(c->p - c->s) + 1, show((char[]){*c->p, 0}).s);
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
			return fail(c->l, "the .npy shape has a dimension over 2147483647");
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
		return fail(c->l, "malformed .npy header: '%s' appears twice", key);
	if (!strcmp(key, "descr")) {
		pskip(c);
		if (c->p < c->end && *c->p == '[')
			return fail(
			        c->l, "structured dtypes are not supported: save a float32 array");
		h->has_descr = true;
		return pstr(c, h->descr, sizeof h->descr) ? -1 : 0;
	}
	if (!strcmp(key, "fortran_order"))
		return pword(c, &h->fortran);
	if (!strcmp(key, "shape"))
		return pshape(c, h);
	return fail(c->l, "malformed .npy header: unknown key '%s'", show(key).s);
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
		return fail(l, "malformed .npy header: no 'descr'");
	if (h->fortran < 0)
		return fail(l, "malformed .npy header: no 'fortran_order'");
	if (h->ndim < 0)
		return fail(l, "malformed .npy header: no 'shape'");
	if (strcmp(h->descr, "<f4") != 0)
		return fail(l, "dtype '%s' is not supported: save as float32 little-endian ('<f4')",
		        show(h->descr).s);
	if (h->fortran)
		return fail(
		        l, "fortran_order is True: save a C-order array (numpy.ascontiguousarray)");
	if (h->ndim < 1 || h->ndim > 4)
		return fail(l, "the array has %d dimensions: 1 to 4 are supported", h->ndim);
	return 0;
}

/* Magic, version, header length, header. On success *off is where the data starts. */
static int npy_head_read(ld *l, npy_head *h, ull *off)
{
	unsigned char b[12];
	if (l->size < 10)
		return fail(l, "truncated: %llu bytes, too short for a .npy preamble", l->size);
	if (ld_read(l, b, 8))
		return -1;
	if (memcmp(b, "\x93NUMPY", 6) != 0)
		return fail(l, "not a .npy file (no \\x93NUMPY magic)");
	if (b[7] != 0 || b[6] < 1 || b[6] > 3)
		return fail(l, "unsupported .npy version %d.%d", b[6], b[7]);
	int lb = b[6] == 1 ? 2 : 4;
	if (l->size < 8 + (ull)lb)
		return fail(l, "truncated: %llu bytes, too short for a version %d.0 preamble",
		        l->size, b[6]);
	if (ld_read(l, b + 8, (size_t)lb))
		return -1;
	ull hlen = get_le(b + 8, lb);
	*off = 8 + (ull)lb + hlen;
	if (hlen > NPY_MAX_HEADER)
		return fail(
		        l, "header length %llu is over the %d-byte limit", hlen, NPY_MAX_HEADER);
	if (*off > l->size)
		return fail(l, "header length %llu runs past the end of the file (%llu bytes)",
		        hlen, l->size);
	char *buf = malloc(hlen + 1);
	if (!buf)
		return fail(l, "out of memory");
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
		if (!mul_ok(numel, h->dim[i], &numel))
			return fail(
			        l, "shape %s is too large", dims_text(h->dim, h->ndim, h->ndim).s);
	if (!mul_ok(numel, 4, &bytes) || bytes > have)
		return fail(l, "truncated: shape %s needs %llu bytes of data, the file has %llu",
		        dims_text(h->dim, h->ndim, h->ndim).s, bytes, have);
	if (bytes < have)
		return fail(l, "%llu trailing bytes after the data of shape %s", have - bytes,
		        dims_text(h->dim, h->ndim, h->ndim).s);
	*out = malloc(bytes ? (size_t)bytes : 4);
	if (!*out)
		return fail(l, "out of memory for %llu bytes", bytes);
	if (ld_read(l, *out, (size_t)bytes))
		return -1;
	f32_from_le(*out, (size_t)numel);
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
		return fail(&l, "cannot save a %d-dimensional array", ndim);
	int n = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
	for (int i = 0; i < ndim; i++) {
		if (dim[i] < 0 || !mul_ok(numel, (ull)dim[i], &numel))
			return fail(&l, "cannot save an array with dimension %d", dim[i]);
		n += snprintf(head + n, sizeof head - (size_t)n, "%d%s", dim[i],
		        ndim == 1 || i + 1 < ndim ? ", " : "");
	}
	if (!data && numel)
		return fail(&l, "no data to save");
	n -= ndim == 1; /* numpy prints a 1-tuple as (5,) */
	n += snprintf(head + n, sizeof head - (size_t)n, "), }");
	int total = (10 + n + 1 + 63) / 64 * 64;
	memset(head + n, ' ', (size_t)(total - 10 - n));
	head[total - 11] = '\n';
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
	put_le(pre + 8, (ull)(total - 10), 2);
	if (ld_create(&l))
		return -1;
	int rc = ld_write(&l, pre, 10) || ld_write(&l, head, (size_t)(total - 10)) ||
	                         write_f32(&l, data, (size_t)numel)
	                 ? -1
	                 : 0;
	return ld_finish(&l, rc);
}

/* ---- images ---- */

typedef struct image {
	float *data;
	int c, h, w;
} image;

/* Size limits, checked on the header before any pixel is allocated. */
static int image_dims(ld *l, ull w, ull h)
{
	if (w == 0 || h == 0)
		return fail(l, "image is %llu x %llu: it has no pixels", w, h);
	if (w > GQ_MAX_IMAGE_SIDE || h > GQ_MAX_IMAGE_SIDE)
		return fail(l, "image is %llu x %llu: more than %d pixels on a side", w, h,
		        GQ_MAX_IMAGE_SIDE);
	if (w * h > GQ_MAX_IMAGE_PIXELS)
		return fail(
		        l, "image is %llu x %llu: more than %d pixels", w, h, GQ_MAX_IMAGE_PIXELS);
	return 0;
}

static int image_alloc(ld *l, image *im)
{
	im->data = malloc((size_t)im->c * (size_t)im->h * (size_t)im->w * sizeof(float));
	return im->data ? 0 : fail(l, "out of memory for a %d x %d image", im->w, im->h);
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
		return fail(j->l,
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
		return fail(j->l, "invalid PNG: unexpected pixel layout after decoding");
	j->pix = malloc(rowbytes * im->h);
	j->rows = malloc(im->h * sizeof *j->rows);
	if (!j->pix || !j->rows || image_alloc(j->l, im))
		return fail(j->l, "out of memory for a %d x %d image", im->w, im->h);
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
		fail(l, "invalid PNG: %s", j.msg[0] ? show(j.msg).s : "out of memory");
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
		return fail(l, "truncated: the file ends before the %s", what);
	if (ch < '0' || ch > '9')
		return fail(l, "expected the %s, found '%s'", what, show((char[]){(char)ch, 0}).s);
	for (*v = 0; ch >= '0' && ch <= '9'; ch = getc(l->f))
		if ((*v = *v * 10 + (ull)(ch - '0')) > 1000000000)
			return fail(l, "the %s is too large", what);
	if (ch != EOF && ch != '#' && !pnm_space(ch))
		return fail(l, "expected whitespace after the %s, found '%s'", what,
		        show((char[]){(char)ch, 0}).s);
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
		return fail(l, "maxval %llu is out of range (1 to 65535)", p->maxval);
	return image_dims(l, p->w, p->h);
}

static int pgm_sample(ld *l, const pgm_head *p, ull v, float *out)
{
	if (v > p->maxval)
		return fail(l, "pixel value %llu is larger than maxval %llu", v, p->maxval);
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
		return fail(
		        l, "truncated: %llu bytes of pixel data, the image needs %llu", have, need);
	if (need < have)
		return fail(l, "%llu trailing bytes after the pixel data", have - need);
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
		return fail(l, "truncated: %llu bytes cannot hold %llu pixel values", have, n);
	if (image_alloc(l, im))
		return -1;
	for (ull i = 0; i < n; i++) {
		int ch = pnm_next(l->f);
		if (ch == EOF)
			return fail(l, "truncated: %llu of %llu pixel values", i, n);
		ungetc(ch, l->f);
		if (pnm_uint(l, "pixel value", &v) || pgm_sample(l, p, v, &im->data[i]))
			return -1;
	}
	if (pnm_next(l->f) != EOF)
		return fail(l, "more than %llu x %llu pixel values", p->w, p->h);
	return 0;
}

static int pgm_load(ld *l, int kind, image *im)
{
	pgm_head p;
	if (fseeko(l->f, 2, SEEK_SET) != 0)
		return fail(l, "cannot seek: %s", strerror(errno));
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
		return fail(l, "empty file: not an image");
	if (got < 8 && !memcmp(m, png_sig, got))
		return fail(l, "invalid PNG: the file is truncated");
	bool pnm_magic = got >= 2 && m[0] == 'P' && m[1] >= '1' && m[1] <= '7' &&
	                 (got == 2 || m[2] == '#' || pnm_space(m[2]));
	if (pnm_magic && (m[1] == '2' || m[1] == '5'))
		return pgm_load(l, m[1], im);
	if (pnm_magic)
		return fail(l, "%s images are not supported: convert to PNG or PGM (P5)",
		        pnm[m[1] - '1']);
	return fail(l, "not a PNG or PGM image");
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
