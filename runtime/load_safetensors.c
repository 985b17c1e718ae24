/* load_safetensors.c: safetensors, read strictly against a model's parameters and written
 * as the reference writer does. Every size in the header is checked against the file's real
 * length before anything is allocated. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fileno, fseeko, strdup */
#endif
#include "load_impl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* The reference reader's limit: a larger header is not a safetensors file. */
enum { ST_MAX_HEADER = 100000000 };
enum { ST_F32, ST_F16, ST_BF16, ST_FIRST_INT = 11, ST_LAST_INT = 18 };

/* Every dtype the format defines, with its bits per element; only the first three can be
 * loaded, and the integer ones (U8 to U64) are read past for num_batches_tracked. */
static const char *const st_dtype_names[] = {"F32", "F16", "BF16", "F64", "F8_E5M2", "F8_E4M3",
        "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "BOOL", "U8", "I8", "I16", "U16", "I32", "U32",
        "I64", "U64", "C64"};
static const int st_dtype_bits[] = {
        32, 16, 16, 64, 8, 8, 8, 4, 6, 6, 8, 8, 8, 16, 16, 32, 32, 64, 64, 64};

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
		return ld_fail(&s->l, "header has a \\u0000 in a string (at header byte %d)",
		        je->position);
	case json_error_out_of_memory:
		return ld_fail(&s->l, "out of memory reading the header");
	case json_error_invalid_utf8:
		return ld_fail(
		        &s->l, "header is not valid UTF-8 (at header byte %d)", je->position);
	case json_error_duplicate_key:
		if (near) {
			char key[JSON_ERROR_TEXT_LENGTH];
			snprintf(key, sizeof key, "%s", near + 6);
			key[strlen(key) - (strlen(key) > 0)] = 0; /* drop the closing quote */
			return ld_fail(&s->l, "header has the key %s twice", ld_show(key).s);
		}
		return ld_fail(&s->l, "header has a duplicate key");
	default:
		/* jansson says nothing when its lexer cannot get memory to start */
		if (!je->text[0])
			return ld_fail(&s->l, "out of memory reading the header");
		return ld_fail(&s->l, "header is not valid JSON: %s (at header byte %d)",
		        ld_show(je->text).s, je->position);
	}
}

/* A file of another format given as weights, known by its first bytes: PyTorch's own
 * checkpoints (torch.save: a zip archive, or before PyTorch 1.6 a pickle) and numpy arrays.
 * (As a header length, the zip magic would be a 67 MB header, a pickle's beyond the limit.) */
static int st_foreign(ld *l, const unsigned char *b)
{
	static const char fix[] = "save the weights with Model.save_safetensors(PATH) (the module "
	                          "geqc emits) or safetensors.torch.save_file(model.state_dict(), "
	                          "PATH)";
	if (!memcmp(b, "PK\x03\x04", 4))
		return ld_fail(l,
		        "a zip archive (what torch.save writes), not a safetensors file: %s", fix);
	if (b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
		return ld_fail(l,
		        "a Python pickle (torch.save's legacy format), not a safetensors file: %s",
		        fix);
	if (!memcmp(b, "\x93NUMPY", 6))
		return ld_fail(l, "a .npy array, not a safetensors file: %s", fix);
	return 0;
}

/* The length prefix and the JSON header. */
static int st_open(st_file *s)
{
	ld *l = &s->l;
	unsigned char b[8];
	if (ld_open(l))
		return -1;
	if (l->size < 8)
		return ld_fail(l, "truncated: %llu bytes, too short for the 8-byte header length",
		        l->size);
	if (ld_read(l, b, 8) || st_foreign(l, b))
		return -1;
	s->hlen = ld_get_le(b, 8);
	if (s->hlen > ST_MAX_HEADER)
		return ld_fail(l,
		        "header length %llu is over the %d-byte limit: not a safetensors file?",
		        s->hlen, ST_MAX_HEADER);
	if (s->hlen > l->size - 8)
		return ld_fail(l, "header length %llu runs past the end of the file (%llu bytes)",
		        s->hlen, l->size);
	char *buf = malloc(s->hlen ? s->hlen : 1);
	if (!buf)
		return ld_fail(l, "out of memory for a %llu-byte header", s->hlen);
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
		return ld_fail(l, "header is %s, not a JSON object", json_kind(s->root));
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
		return ld_fail(&s->l, "tensor '%s' has no dtype string", ld_show(name).s);
	int n = (int)(sizeof st_dtype_names / sizeof *st_dtype_names);
	for (int i = 0; i < n; i++) {
		if (strcmp(d, st_dtype_names[i]) != 0)
			continue;
		t->dtype = i; /* whether the model can take it is st_match's question */
		return 0;
	}
	return ld_fail(&s->l, "tensor '%s' has unknown dtype '%s'", ld_show(name).s, ld_show(d).s);
}

static int st_shape(st_file *s, const char *name, json_t *v, st_tensor *t)
{
	json_t *sh = json_object_get(v, "shape"), *x;
	size_t i;
	if (!json_is_array(sh))
		return ld_fail(&s->l, "tensor '%s' has no shape list", ld_show(name).s);
	t->shape = sh;
	t->numel = 1;
	json_array_foreach(sh, i, x)
	{
		ull d;
		if (!json_uint(x, &d))
			return ld_fail(&s->l,
			        "tensor '%s': shape must be a list of non-negative integers",
			        ld_show(name).s);
		if (!ld_mul_ok(t->numel, d, &t->numel))
			return ld_fail(&s->l, "tensor '%s': shape is too large", ld_show(name).s);
	}
	return 0;
}

static int st_offsets(st_file *s, const char *name, json_t *v, st_tensor *t)
{
	json_t *o = json_object_get(v, "data_offsets");
	if (!json_is_array(o) || json_array_size(o) != 2 ||
	        !json_uint(json_array_get(o, 0), &t->begin) ||
	        !json_uint(json_array_get(o, 1), &t->end))
		return ld_fail(&s->l,
		        "tensor '%s': data_offsets must be [begin, end], non-negative integers",
		        ld_show(name).s);
	if (t->end < t->begin)
		return ld_fail(&s->l,
		        "tensor '%s': data_offsets [%llu, %llu] end before they begin",
		        ld_show(name).s, t->begin, t->end);
	return 0;
}

/* The shape in a message: "[2, 3]" from the file's JSON. */
static msg_t st_dims(const st_tensor *t)
{
	ull d[24];
	int n = (int)json_array_size(t->shape), shown = n < 24 ? n : 24;
	for (int i = 0; i < shown; i++)
		d[i] = (ull)json_integer_value(json_array_get(t->shape, (size_t)i));
	return ld_dims(d, shown, n);
}

static int st_bytes(st_file *s, const char *name, st_tensor *t)
{
	ull need;
	const char *dt = st_dtype_names[t->dtype];
	if (!ld_mul_ok(t->numel, (ull)st_dtype_bits[t->dtype], &need) || need > ~0ull - 7)
		return ld_fail(&s->l, "tensor '%s': shape is too large", ld_show(name).s);
	need = (need + 7) / 8; /* F4 and F6 pack their elements */
	if (t->end - t->begin != need)
		return ld_fail(&s->l,
		        "tensor '%s' has %llu bytes of data (data_offsets [%llu, %llu]), but %s %s "
		        "needs %llu",
		        ld_show(name).s, t->end - t->begin, t->begin, t->end, dt, st_dims(t).s,
		        need);
	return 0;
}

static int st_entry(st_file *s, const char *name, json_t *v, st_tensor *t)
{
	const char *k;
	json_t *x;
	t->name = name;
	if (!json_is_object(v))
		return ld_fail(&s->l,
		        "tensor '%s' is %s, not an object with dtype, shape and data_offsets",
		        ld_show(name).s, json_kind(v));
	json_object_foreach(v, k, x)
	{
		if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
			return ld_fail(&s->l, "tensor '%s' has an unknown field '%s'",
			        ld_show(name).s, ld_show(k).s);
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
		return ld_fail(&s->l, "out of memory for %zu tensors", n);
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
			return ld_fail(l,
			        "the data section starts with %llu unused bytes (tensor '%s' "
			        "begins "
			        "at %llu, not 0)",
			        t->begin, ld_show(t->name).s, t->begin);
		if (t->begin > at)
			return ld_fail(l,
			        "%llu unused bytes between tensor '%s' (ends at %llu) and tensor "
			        "'%s' (begins at %llu)",
			        t->begin - at, ld_show(prev->name).s, at, ld_show(t->name).s,
			        t->begin);
		if (t->begin < at)
			return ld_fail(l, "tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
			        ld_show(prev->name).s, prev->begin, prev->end, ld_show(t->name).s,
			        t->begin, t->end);
		at = t->end;
	}
	if (at > have)
		return ld_fail(l,
		        "truncated: tensor '%s' ends at byte %llu of the data, which has only %llu",
		        ld_show(prev->name).s, at, have);
	if (at < have)
		return ld_fail(l, "%llu trailing bytes after the last tensor's data", have - at);
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
		return ld_fail(&s->l, "__metadata__ is %s, not an object of strings", json_kind(m));
	json_object_foreach(m, k, v)
	{
		if (!json_is_string(v))
			return ld_fail(&s->l, "__metadata__ entry '%s' is %s, not a string",
			        ld_show(k).s, json_kind(v));
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

/* What is wrong with a file against the model: every problem, as load_state_dict lists them. */
enum { MISMATCH_SHOWN = 16 };
typedef struct mismatch {
	char text[MISMATCH_SHOWN * 160];
	size_t len;
	int count;
} mismatch;

static void mismatch_add(mismatch *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One more problem, on its own line (the first MISMATCH_SHOWN of them are kept). */
static void mismatch_add(mismatch *m, const char *fmt, ...)
{
	if (m->count++ >= MISMATCH_SHOWN || m->len + 4 >= sizeof m->text)
		return;
	m->len += (size_t)snprintf(m->text + m->len, sizeof m->text - m->len, "\n  ");
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(m->text + m->len, sizeof m->text - m->len, fmt, ap);
	va_end(ap);
	m->len = k < 0                                 ? m->len
	         : m->len + (size_t)k < sizeof m->text ? m->len + (size_t)k
	                                               : sizeof m->text - 1;
}

/* One problem: its line; several: how many, then one line each. */
static int mismatch_report(st_file *s, const mismatch *m)
{
	if (m->count == 0)
		return 0;
	if (m->count == 1)
		return ld_fail(&s->l, "%s", m->text + 3);
	char more[48] = "";
	if (m->count > MISMATCH_SHOWN)
		snprintf(more, sizeof more, "\n  ... and %d more", m->count - MISMATCH_SHOWN);
	return ld_fail(&s->l, "%d problems with the model's tensors, nothing was loaded:%s%s",
	        m->count, m->text, more);
}

static bool st_is_int(const st_tensor *t)
{
	return t->dtype >= ST_FIRST_INT && t->dtype <= ST_LAST_INT;
}

/* PyTorch's batch norm keeps a step counter, PREFIX.num_batches_tracked (I64), in its
 * state_dict; inference never reads it. It is skipped where the model has that batch norm
 * (PREFIX.running_mean), as load_state_dict would load it. */
static bool st_skipped(const st_tensor *t, const gq_param *params, int n)
{
	static const char counter[] = "num_batches_tracked", stat[] = "running_mean";
	size_t len = strlen(t->name), c = sizeof counter - 1;
	if (!st_is_int(t) || len <= c || strcmp(t->name + len - c, counter) != 0 ||
	        t->name[len - c - 1] != '.')
		return false;
	for (int i = 0; i < n; i++) {
		const char *p = params[i].name;
		if (strlen(p) == len - c + sizeof stat - 1 && !strncmp(p, t->name, len - c) &&
		        !strcmp(p + len - c, stat))
			return true;
	}
	return false;
}

/* s->of[i]: the file's tensor named as params[i], or NULL. */
static int st_index(st_file *s, const gq_param *params, int n)
{
	s->of = calloc(n > 0 ? (size_t)n : 1, sizeof *s->of);
	if (!s->of)
		return ld_fail(&s->l, "out of memory");
	for (size_t i = 0; i < s->nt; i++)
		s->byname[i] = &s->t[i];
	qsort(s->byname, s->nt, sizeof *s->byname, by_name);
	for (int i = 0; i < n; i++) {
		st_tensor key = {.name = params[i].name}, *kp = &key, **hit;
		hit = bsearch(&kp, s->byname, s->nt, sizeof *s->byname, by_name);
		if (hit) {
			(*hit)->used = true;
			s->of[i] = *hit;
		}
	}
	return 0;
}

/* Strict, as load_state_dict: every parameter present with its shape and a float dtype,
 * nothing else (but num_batches_tracked). Every problem is reported, in groups. */
static int st_match(st_file *s, const gq_param *params, int n)
{
	mismatch m = {.count = 0};
	if (st_index(s, params, n))
		return -1;
	for (int i = 0; i < n; i++)
		if (!s->of[i])
			mismatch_add(&m, "missing tensor '%s' %s", params[i].name,
			        ld_param_dims(&params[i]).s);
	for (size_t i = 0; i < s->nt; i++)
		if (!s->t[i].used && !st_skipped(&s->t[i], params, n))
			mismatch_add(&m,
			        "unexpected tensor '%s' %s: the model has no such parameter",
			        ld_show(s->t[i].name).s, st_dims(&s->t[i]).s);
	for (int i = 0; i < n; i++)
		if (s->of[i] && !st_same_shape(s->of[i], &params[i]))
			mismatch_add(&m, "tensor '%s' has shape %s, the model expects %s",
			        params[i].name, st_dims(s->of[i]).s, ld_param_dims(&params[i]).s);
	for (int i = 0; i < n; i++)
		if (s->of[i] && s->of[i]->dtype > ST_BF16)
			mismatch_add(&m,
			        "tensor '%s' has dtype %s: only F32, F16 and BF16 can be loaded",
			        params[i].name, st_dtype_names[s->of[i]->dtype]);
	return mismatch_report(s, &m);
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
	ld_f32_from_le(dst, (size_t)t->numel);
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
			unsigned h = (unsigned)ld_get_le(buf + 2 * j, 2);
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
			return ld_fail(&s->l, "no buffer for tensor '%s'", params[i].name);
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
	return *labels ? 0 : ld_fail(&s->l, "out of memory");
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
		return ld_fail(l, "cannot save a tensor named '%s'",
		        p->name ? ld_show(p->name).s : "(null)");
	if (p->ndim < 0 || p->ndim > 5)
		return ld_fail(l, "tensor '%s' has %d dimensions", ld_show(p->name).s, p->ndim);
	o->numel = 1;
	for (int i = 0; i < p->ndim; i++)
		if (p->dim[i] < 0 || !ld_mul_ok(o->numel, (ull)p->dim[i], &o->numel))
			return ld_fail(l, "tensor '%s' has an invalid shape", ld_show(p->name).s);
	if (o->numel > (1ull << 60))
		return ld_fail(l, "tensor '%s' is too large", ld_show(p->name).s);
	if (!o->x && o->numel)
		return ld_fail(l, "tensor '%s' has no data", ld_show(p->name).s);
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
			return ld_fail(l, "tensor '%s' is given twice", ld_show(o[i].p->name).s);
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
		return ld_fail(
		        l, "%s", errno == ENOMEM ? "out of memory" : "labels are not valid UTF-8");
	json_t *meta = json_pack("{s:o}", "labels", v);
	if (!meta || json_object_set_new(root, "__metadata__", meta) != 0)
		return ld_fail(l, "out of memory");
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
		return ld_fail(l, "out of memory"), NULL;
	for (int i = 0; i < n; i++) {
		if (at > (1ull << 62))
			return json_decref(root), ld_fail(l, "the tensors are too large"), NULL;
		json_t *e = st_entry_json(o[i].p, at, at + 4 * o[i].numel);
		if (!e || json_object_set_new(root, o[i].p->name, e) != 0)
			return json_decref(root), ld_fail(l, "out of memory"), NULL;
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
		ld_fail(l, "out of memory");
	}
	json_decref(root);
	return text;
}

static int st_write(ld *l, const char *text, const st_out *o, int n)
{
	size_t len = strlen(text), padded = (len + 7) / 8 * 8;
	unsigned char b[8];
	ld_put_le(b, padded, 8);
	if (ld_write(l, b, 8) || ld_write(l, text, len) || ld_write(l, "        ", padded - len))
		return -1;
	for (int i = 0; i < n; i++)
		if (o[i].numel && ld_write_f32(l, o[i].x, (size_t)o[i].numel))
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
		return ld_fail(&l, "out of memory");
	if (st_outs(&l, o, params, n > 0 ? n : 0, src) == 0 &&
	        (text = st_header_text(&l, o, n > 0 ? n : 0, labels)) && ld_create(&l) == 0)
		rc = ld_finish(&l, st_write(&l, text, o, n > 0 ? n : 0));
	free(text);
	free(o);
	return rc;
}
