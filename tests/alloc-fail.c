/* alloc-fail.c: the allocation-failure test, as SQLite runs it. Every allocation an
 * operation makes is made to fail in turn (N = 1, 2, ... until the operation makes fewer
 * than N), once alone and once with every later allocation failing too; each failure must
 * end cleanly:
 *
 *   the compiler (geqc's whole main, in a child process per N, since its out-of-memory
 *   path exits): exit status 2 with "out of memory" on stderr, or the status and outputs of
 *   the run without failures; never a signal or a sanitizer report (LeakSanitizer checks
 *   each child as it exits); no output file, and no temporary one, left by a failed run;
 *
 *   the loaders and savers of runtime/load_*.c (in this process): -1 with "PATH: ..." saying
 *   "memory" (or the file's own error), every output NULL, the heap exactly as before
 *   (ASan's count of allocated bytes); or 0 with the same result as without failures; a
 *   failed save leaves no file.
 *
 * The Makefile (fuzz/fuzz.mk) links this with -Wl,--wrap=malloc,calloc,realloc,strdup,
 * vasprintf, and libpng, jansson and zlib statically, so that their allocations fail too.
 * Usage: alloc-fail FILE|DIR... (.geq: the compiler; .safetensors .npy .png .pgm: the
 * loaders). Prints one line per failing case and `N passed, N failed` last. */
#include "geqrt.h"

#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int geqc_main(int argc, char **argv); /* compiler/main.c, built with -Dmain=geqc_main */
size_t __sanitizer_get_current_allocated_bytes(void);

/* ---- the failing allocator ---- */

static long count;   /* allocations since the operation began */
static long fail_at; /* 0: none fails */
static bool persist; /* every allocation from fail_at on fails, not only that one */

static bool trace;   /* ALLOC_FAIL_TRACE set: print where each failing allocation is */
static bool verbose; /* ALLOC_FAIL_VERBOSE set: print each case's count of allocations */
void __sanitizer_print_stack_trace(void);

static bool fail_now(void)
{
	count++;
	if (fail_at > 0 && (count == fail_at || (persist && count > fail_at))) {
		if (trace && count == fail_at) {
			fprintf(stderr, "allocation %ld fails here:\n", count);
			__sanitizer_print_stack_trace();
		}
		errno = ENOMEM;
		return true;
	}
	return false;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
int __real_vasprintf(char **s, const char *fmt, va_list ap);

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

int __wrap_vasprintf(char **s, const char *fmt, va_list ap)
{
	return fail_now() ? -1 : __real_vasprintf(s, fmt, ap);
}

/* jansson 2.14's parser does not survive a failed allocation inside its lexer: lex_save()
 * drops the failure and the string scanner then reads past its buffer (SEGV), or an assert
 * fires (akheron/jansson#362, open upstream). Until that is fixed there, json_loadb runs
 * here with its allocations counted but none failing, and when one of them was to fail,
 * the call fails as a correct jansson would: NULL, json_error_out_of_memory, "out of memory".
 * What is tested is then the loaders' handling of that. */
json_t *__real_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);

json_t *__wrap_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	long first = count + 1, saved = fail_at;
	fail_at = 0;
	json_t *v = __real_json_loadb(buf, len, flags, err);
	fail_at = saved;
	if (fail_at > 0 && (persist ? fail_at <= count : fail_at >= first && fail_at <= count)) {
		json_decref(v);
		if (err) {
			snprintf(err->text, sizeof err->text, "out of memory");
			err->text[JSON_ERROR_TEXT_LENGTH - 1] = json_error_out_of_memory;
		}
		return NULL;
	}
	return v;
}

/* Starts counting an operation's allocations, failing the at-th (0: none). */
static void arm(long at, bool all_after)
{
	count = 0;
	fail_at = at;
	persist = all_after;
}

static void disarm(void)
{
	fail_at = 0;
}

/* ---- bookkeeping ---- */

static int passed, failed;
static char tmp_dir[64];

/* A case fails with its first complaint; the rest of its runs are skipped. */
typedef struct Case {
	char name[512];
	bool bad;
} Case;

static void complain(Case *c, long at, bool all_after, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void complain(Case *c, long at, bool all_after, const char *fmt, ...)
{
	if (c->bad)
		return;
	c->bad = true;
	printf("FAIL %s, allocation %ld%s fails: ", c->name, at, all_after ? " and on" : "");
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void finish(Case *c)
{
	if (c->bad)
		failed++;
	else
		passed++;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The whole file (NUL-terminated, malloc'd), or NULL if it does not exist. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	do {
		if (n + 4096 + 1 > cap) {
			cap = 2 * cap + 4096 + 1;
			buf = realloc(buf, cap);
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static bool same_file(const char *a, const char *b)
{
	size_t na, nb;
	char *x = slurp(a, &na), *y = slurp(b, &nb);
	bool same = x && y && na == nb && memcmp(x, y, na) == 0;
	free(x);
	free(y);
	return same;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char p[600];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
}

/* ---- the compiler: geqc's whole main, in a child per failing allocation ---- */

typedef struct Mode {
	const char *name;
	const char *flags[3]; /* before the file; "-o" is followed by OUT/output */
	const char *output;
} Mode;

static const Mode modes[] = {
        {"check", {NULL}, NULL},
        {"--lint-json", {"--lint-json"}, NULL},
        {"--dump-ast", {"--dump-ast"}, NULL},
        {"--emit=c", {"--emit=c", "-o"}, "m.c"},
        {"--emit=pytorch", {"--emit=pytorch", "-o"}, "m.py"},
};

typedef struct Outcome {
	int status; /* exit status, or -signal */
	char *out, *err;
	long allocs;
} Outcome;

static long *child_count; /* shared with the children: how many allocations they made */
static char out_dir[96], base_dir[96], out_path[128], err_path[128];

static void save_count(void)
{
	*child_count = count;
}

static void redirect(int fd, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f || dup2(fileno(f), fd) < 0) {
		perror(path);
		_exit(99);
	}
	fclose(f);
}

static Outcome run_geqc(int argc, char **argv, long at, bool all_after)
{
	Outcome o = {0};
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		redirect(1, out_path);
		redirect(2, err_path);
		atexit(save_count);
		arm(at, all_after);
		exit(geqc_main(argc, argv));
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		perror("fork");
		exit(2);
	}
	o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
	o.out = slurp(out_path, NULL);
	o.err = slurp(err_path, NULL);
	o.allocs = *child_count;
	return o;
}

static void outcome_free(Outcome *o)
{
	free(o->out);
	free(o->err);
}

/* The outputs in out_dir are those of the run without failures (kept in base_dir). */
static bool same_outputs(void)
{
	if (count_entries(out_dir) != count_entries(base_dir))
		return false;
	DIR *d = opendir(base_dir);
	bool same = d != NULL;
	for (struct dirent *e; same && (e = readdir(d));) {
		char a[512], b[512];
		if (e->d_name[0] == '.')
			continue;
		snprintf(a, sizeof a, "%s/%s", base_dir, e->d_name);
		snprintf(b, sizeof b, "%s/%s", out_dir, e->d_name);
		same = same_file(a, b);
	}
	if (d)
		closedir(d);
	return same;
}

static void judge_geqc(Case *c, const Outcome *base, const Outcome *o, long at, bool all_after)
{
	if (strstr(o->err, "Sanitizer") || strstr(o->err, "runtime error"))
		complain(c, at, all_after, "a sanitizer report:\n%s", o->err);
	else if (o->status < 0)
		complain(c, at, all_after, "killed by signal %d", -o->status);
	else if (o->status == base->status) {
		if (strcmp(o->out, base->out) != 0 || !same_outputs())
			complain(c, at, all_after,
			        "exit status %d as without failures, but other "
			        "output",
			        o->status);
	} else if (o->status != 2 || !strstr(o->err, "out of memory"))
		complain(c, at, all_after, "exit status %d (without failures: %d), stderr:\n%s",
		        o->status, base->status, o->err);
	else if (count_entries(out_dir) != 0)
		complain(c, at, all_after,
		        "exit status 2, but files were left in the output "
		        "directory");
}

static void move_outputs_to_base(void)
{
	clear_dir(base_dir);
	DIR *d = opendir(out_dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		char a[512], b[512];
		if (e->d_name[0] == '.')
			continue;
		snprintf(a, sizeof a, "%s/%s", out_dir, e->d_name);
		snprintf(b, sizeof b, "%s/%s", base_dir, e->d_name);
		rename(a, b);
	}
	if (d)
		closedir(d);
}

static void compiler_case(const char *file, const Mode *mo)
{
	Case c = {0};
	snprintf(c.name, sizeof c.name, "geqc %s %s", mo->name, file);
	char output[256], *argv[8] = {"geqc"};
	int argc = 1;
	for (int i = 0; i < 3 && mo->flags[i]; i++)
		argv[argc++] = (char *)mo->flags[i];
	if (mo->output) {
		snprintf(output, sizeof output, "%s/%s", out_dir, mo->output);
		argv[argc++] = output;
	}
	argv[argc++] = (char *)file;
	argv[argc] = NULL;
	clear_dir(out_dir);
	Outcome base = run_geqc(argc, argv, 0, false);
	move_outputs_to_base();
	if (verbose)
		printf("%s: %ld allocations\n", c.name, base.allocs);
	if (base.status < 0 || base.status == 2 || strstr(base.err, "Sanitizer"))
		complain(&c, 0, false, "fails without failures (status %d):\n%s", base.status,
		        base.err);
	for (int all_after = 0; all_after < 2; all_after++)
		for (long at = 1; at <= base.allocs && !c.bad; at++) {
			Outcome o = run_geqc(argc, argv, at, all_after);
			judge_geqc(&c, &base, &o, at, all_after);
			outcome_free(&o);
			clear_dir(out_dir);
		}
	outcome_free(&base);
	finish(&c);
}

/* ---- the loaders and savers, in this process ---- */

static const gq_param wb[] = {{"w", 2, {2, 2}}, {"b", 1, {2}}};
static const gq_param ref[] = {{"a.weight", 2, {2, 3}}, {"z.half", 1, {18}}, {"m.brain", 1, {12}}};
static const gq_param tiny[] = {
        {"lift1.weight", 4, {2, 1, 3, 3}},
        {"lift1.bias", 1, {2}},
        {"bn1.weight", 1, {2}},
        {"bn1.bias", 1, {2}},
        {"bn1.running_mean", 1, {2}},
        {"bn1.running_var", 1, {2}},
        {"gconv1.weight", 5, {2, 2, 4, 3, 3}},
        {"gconv1.bias", 1, {2}},
        {"linear1.weight", 2, {3, 2}},
        {"linear1.bias", 1, {3}},
};
enum { MAX_PARAMS = 10, MAX_FLOATS = 4096 };

/* What one call produced. */
typedef struct Result {
	int rc;
	char err[512];
	float *data; /* npy and image: the loader's; safetensors: ours, every tensor in turn */
	size_t n;    /* floats */
	int dims[4];
	char *labels;
} Result;

/* One operation on one file: run it armed, then release what it returned. */
typedef struct Op {
	const char *name;
	void (*run)(const struct Op *op, Result *r);
	const char *path; /* the file read, or written */
	const gq_param *params;
	int nparams;
	const Result *src; /* what a save writes */
} Op;

static float st_buf[MAX_FLOATS];

static size_t param_numel(const gq_param *p)
{
	size_t n = 1;
	for (int i = 0; i < p->ndim; i++)
		n *= (size_t)p->dim[i];
	return n;
}

static void run_st_load(const Op *op, Result *r)
{
	float *dst[MAX_PARAMS];
	size_t at = 0;
	for (int i = 0; i < op->nparams; i++) {
		dst[i] = st_buf + at;
		at += param_numel(&op->params[i]);
	}
	memset(st_buf, 0, sizeof st_buf);
	r->rc = gq_load_safetensors(
	        op->path, op->params, op->nparams, dst, &r->labels, r->err, sizeof r->err);
	r->data = st_buf;
	r->n = at;
}

static void run_st_save(const Op *op, Result *r)
{
	const float *src[MAX_PARAMS];
	size_t at = 0;
	for (int i = 0; i < op->nparams; i++) {
		src[i] = op->src->data + at;
		at += param_numel(&op->params[i]);
	}
	r->rc = gq_save_safetensors(
	        op->path, op->params, op->nparams, src, op->src->labels, r->err, sizeof r->err);
}

static void run_npy_load(const Op *op, Result *r)
{
	int ndim = 0;
	r->rc = gq_load_npy(op->path, &r->data, &ndim, r->dims, r->err, sizeof r->err);
	r->n = 1;
	for (int i = 0; r->rc == 0 && i < ndim; i++)
		r->n *= (size_t)r->dims[i];
}

static void run_npy_save(const Op *op, Result *r)
{
	int ndim = 0;
	while (ndim < 4 && op->src->dims[ndim] > 0)
		ndim++;
	r->rc = gq_save_npy(op->path, op->src->data, ndim, op->src->dims, r->err, sizeof r->err);
}

static void run_image_load(const Op *op, Result *r)
{
	r->rc = gq_load_image(
	        op->path, &r->data, &r->dims[0], &r->dims[1], &r->dims[2], r->err, sizeof r->err);
	r->n = (size_t)r->dims[0] * r->dims[1] * r->dims[2];
}

static bool is_save(const Op *op)
{
	return op->run == run_st_save || op->run == run_npy_save;
}

/* Runs op with allocation `at` failing; the heap must be as it was once the results are
 * released. Returns the bytes leaked; r keeps a copy of the data (caller frees). */
static long run_op(const Op *op, Result *r, long at, bool all_after, long *allocs)
{
	*r = (Result){0};
	if (is_save(op))
		unlink(op->path);
	size_t before = __sanitizer_get_current_allocated_bytes();
	arm(at, all_after);
	op->run(op, r);
	disarm();
	*allocs = count;
	float *copy = NULL;
	if (r->rc == 0 && r->n > 0 && r->data) {
		copy = malloc(r->n * sizeof *copy);
		memcpy(copy, r->data, r->n * sizeof *copy);
	}
	if (r->data != st_buf)
		free(r->data);
	r->data = copy;
	char *labels = r->labels ? strdup(r->labels) : NULL;
	free(r->labels);
	size_t after = __sanitizer_get_current_allocated_bytes();
	r->labels = labels;
	return (long)after - (long)before - (copy ? (long)(r->n * sizeof *copy) : 0) -
	       (labels ? (long)strlen(labels) + 1 : 0);
}

static void result_free(Result *r)
{
	free(r->data);
	free(r->labels);
}

static bool same_result(const Result *a, const Result *b)
{
	return a->n == b->n && memcmp(a->dims, b->dims, sizeof a->dims) == 0 &&
	       (a->n == 0 || memcmp(a->data, b->data, a->n * sizeof(float)) == 0) &&
	       !a->labels == !b->labels && (!a->labels || strcmp(a->labels, b->labels) == 0);
}

static void judge_op(Case *c, const Op *op, const Result *base, const Result *r, long leaked,
        long at, bool all_after, const char *saved)
{
	size_t n = strlen(op->path);
	if (leaked != 0)
		complain(c, at, all_after, "%ld bytes leaked (rc %d: %s)", leaked, r->rc, r->err);
	else if (r->rc != 0 && r->rc != -1)
		complain(c, at, all_after, "returned %d", r->rc);
	else if (r->rc == 0 && base->rc != 0)
		complain(c, at, all_after, "succeeded where it fails without failures");
	else if (r->rc == 0 && !is_save(op) && !same_result(r, base))
		complain(c, at, all_after, "succeeded with a different result");
	else if (r->rc == 0 && is_save(op) && !same_file(op->path, saved))
		complain(c, at, all_after, "succeeded but wrote a different file");
	else if (r->rc == 0)
		return;
	else if (r->data || r->labels)
		complain(c, at, all_after, "failed but returned data");
	else if (strncmp(r->err, op->path, n) != 0 || strncmp(r->err + n, ": ", 2) != 0)
		complain(c, at, all_after, "error does not name the file: %s", r->err);
	else if (!strcasestr(r->err, "memory") && strcmp(r->err, base->err) != 0)
		complain(c, at, all_after, "error does not say out of memory: %s", r->err);
	else if (is_save(op) && access(op->path, F_OK) == 0)
		complain(c, at, all_after, "failed but left the file");
}

/* Every failure of op, single and persistent; base is the run without failures. */
static void op_case(const Op *op, const Result *base, long allocs, const char *saved)
{
	Case c = {0};
	snprintf(c.name, sizeof c.name, "%s %s", op->name, op->path);
	if (verbose)
		printf("%s: %ld allocations\n", c.name, allocs);
	for (int all_after = 0; all_after < 2; all_after++)
		for (long at = 1; at <= allocs && !c.bad; at++) {
			Result r;
			long n, leaked = run_op(op, &r, at, all_after, &n);
			judge_op(&c, op, base, &r, leaked, at, all_after, saved);
			result_free(&r);
		}
	finish(&c);
}

/* The loader, then (if it loads) the matching saver with what it loaded. */
static void loader_cases(Op *load, Op *save)
{
	Result base, saved;
	long allocs, save_allocs;
	Case c = {0};
	snprintf(c.name, sizeof c.name, "%s %s", load->name, load->path);
	if (run_op(load, &base, 0, false, &allocs) != 0) {
		complain(&c, 0, false, "leaks without failures");
		finish(&c);
	} else
		op_case(load, &base, allocs, NULL);
	if (save && base.rc == 0) {
		char kept[160];
		snprintf(kept, sizeof kept, "%s/saved-base", tmp_dir);
		save->src = &base;
		run_op(save, &saved, 0, false, &save_allocs);
		rename(save->path, kept);
		op_case(save, &saved, save_allocs, kept);
		result_free(&saved);
		unlink(kept);
		unlink(save->path);
	}
	result_free(&base);
}

/* ---- which cases a file gets ---- */

static void st_params(const char *path, Op *op)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (strstr(base, "tiny"))
		op->params = tiny, op->nparams = MAX_PARAMS;
	else if (strstr(base, "ref"))
		op->params = ref, op->nparams = 3;
	else
		op->params = wb, op->nparams = 2;
}

static void file_cases(const char *path)
{
	char saved[160];
	if (has_suffix(path, ".geq")) {
		for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
			compiler_case(path, &modes[i]);
	} else if (has_suffix(path, ".safetensors")) {
		snprintf(saved, sizeof saved, "%s/save.safetensors", tmp_dir);
		Op load = {.name = "gq_load_safetensors", .run = run_st_load, .path = path};
		st_params(path, &load);
		Op save = load;
		save.name = "gq_save_safetensors", save.run = run_st_save, save.path = saved;
		loader_cases(&load, &save);
	} else if (has_suffix(path, ".npy")) {
		snprintf(saved, sizeof saved, "%s/save.npy", tmp_dir);
		Op load = {.name = "gq_load_npy", .run = run_npy_load, .path = path};
		Op save = {.name = "gq_save_npy", .run = run_npy_save, .path = saved};
		loader_cases(&load, &save);
	} else if (has_suffix(path, ".png") || has_suffix(path, ".pgm")) {
		Op load = {.name = "gq_load_image", .run = run_image_load, .path = path};
		loader_cases(&load, NULL);
	}
}

static int visible(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static void path_cases(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("FAIL %s: %s\n", path, strerror(errno));
		failed++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		file_cases(path);
		return;
	}
	struct dirent **list;
	int n = scandir(path, &list, visible, alphasort);
	for (int i = 0; i < n; i++) {
		char sub[1024];
		snprintf(sub, sizeof sub, "%s/%s", path, list[i]->d_name);
		file_cases(sub);
		free(list[i]);
	}
	if (n >= 0)
		free(list);
}

static void make_dirs(void)
{
	strcpy(tmp_dir, "/tmp/geqc-alloc-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(out_dir, sizeof out_dir, "%s/out", tmp_dir);
	snprintf(base_dir, sizeof base_dir, "%s/base", tmp_dir);
	snprintf(out_path, sizeof out_path, "%s/stdout", tmp_dir);
	snprintf(err_path, sizeof err_path, "%s/stderr", tmp_dir);
	mkdir(out_dir, 0777);
	mkdir(base_dir, 0777);
	child_count = mmap(NULL, sizeof *child_count, PROT_READ | PROT_WRITE,
	        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (child_count == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
}

static void remove_dirs(void)
{
	clear_dir(out_dir);
	clear_dir(base_dir);
	rmdir(out_dir);
	rmdir(base_dir);
	clear_dir(tmp_dir);
	rmdir(tmp_dir);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: alloc-fail FILE|DIR...\n", stderr);
		return 2;
	}
	trace = getenv("ALLOC_FAIL_TRACE") != NULL;
	verbose = getenv("ALLOC_FAIL_VERBOSE") != NULL;
	make_dirs();
	for (int i = 1; i < argc; i++)
		path_cases(argv[i]);
	remove_dirs();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
