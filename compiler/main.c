/* main.c: the command line (SPEC §4) and the pipeline, one pass after another:
 *
 *   read -> parse_program -> expand_program -> check_program -> lint_model -> plan_model -> lint
 * JSON, PyTorch, C, or a native executable (C through the system's C compiler)
 *
 * --dump=ast|model|plan prints the AST, the checked model or the plan and stops.
 *
 * Exit status: 0 success (warnings allowed), 1 errors in the model (or warnings under
 * -Werror), 2 usage or I/O errors. Output files appear only for a model without errors,
 * and whole: each is written under a temporary name and renamed into place. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "geqc.h"

/* Where `geqc -o` finds the runtime when neither the environment nor an installation
 * beside the executable says (the Makefile sets these for the build tree). */
#ifndef GEQC_BUILD_INC
#define GEQC_BUILD_INC "/usr/local/include/geqrt"
#endif
#ifndef GEQC_BUILD_LIB
#define GEQC_BUILD_LIB "/usr/local/lib"
#endif
#ifndef GEQC_LINK_LIBS
#define GEQC_LINK_LIBS "-lopenblas -ljansson -lpng -lm"
#endif

extern char **environ;

typedef enum { EMIT_NONE, EMIT_C, EMIT_TORCH, EMIT_EXE } EmitKind;
/* --dump=: an intermediate form on stdout, then stop (QBE's -d). */
typedef enum { DUMP_NONE, DUMP_AST, DUMP_MODEL, DUMP_PLAN } Dump;

typedef struct Options {
	const char *input, *output;
	EmitKind emit;
	Dump dump;
	bool emit_given, lint_json, werror, no_equiv, no_align, syntax_only, parseable_fixits;
	bool fix; /* --fix */
	DiagFormat format;
	const char *color;   /* -fdiagnostics-color's word */
	int input_size[2];   /* --input-size H x W, or 0 */
	int sizes[2];        /* --sizes LO..HI, or 0 */
	const char *explain; /* --explain=FILE.svg */
	const char *cmdline; /* for the emitted files' header comment */
} Options;

static const char usage[] =
        "usage: geqc [options] model.geq\n"
        "\n"
        "Checks a G-CNN model, lints its equivariance, and compiles it.\n"
        "\n"
        "  (no -o)               check and lint only; diagnostics on stderr\n"
        "  -o FILE               write the output to FILE (a native executable unless\n"
        "                        --emit says otherwise)\n"
        "  --emit=exe            a native executable (needs -o)\n"
        "  --emit=c              C source; -o model.c also writes model.h (needs -o)\n"
        "  --emit=pytorch        a torch.nn.Module (to stdout without -o)\n"
        "  --lint-json           the equivariance lint as JSON on stdout\n"
        "  --input-size HxW      check and lint as if the input were H x W\n"
        "  --sizes LO..HI        the exact elements at every square size N x N, LO <= N <=\n"
        "                        HI (at most 4096 sizes), and their pattern in N\n"
        "  --explain=FILE.svg    draw every breaking layer's sampled grid and its image\n"
        "                        under a broken element (SVG)\n"
        "  --fix                 apply the warnings' fix-its to model.geq in place, if\n"
        "                        together they make it lint clean (else nothing changes)\n"
        "  -fsyntax-only         check and lint only, even with -o\n"
        "  -Werror               treat warnings as errors\n"
        "  -Wequivariance        warn about inexact equivariance (the default)\n"
        "  -Wno-equivariance     do not\n"
        "  -Wgrid-alignment      warn about a + of maps sampled on different grids (the\n"
        "                        default); -Wno-grid-alignment: do not\n"
        "  -Wall, -Wextra        every warning (the default)\n"
        "  -fdiagnostics-format=text|sarif-stderr|sarif-file|json-stderr\n"
        "                        diagnostics as gcc's text, SARIF 2.1.0 (sarif-file writes\n"
        "                        model.geq.sarif in the current directory) or gcc's JSON\n"
        "  -fdiagnostics-color[=auto|always|never]\n"
        "                        colour (auto, the default: when stderr is a terminal;\n"
        "                        GCC_COLORS as gcc's)\n"
        "  -fdiagnostics-parseable-fixits\n"
        "                        print fix-its as gcc does: fix-it:\"file\":{l:c-l:c}:\"text\"\n"
        "  --dump=ast|model|plan print an intermediate form and stop: the syntax tree,\n"
        "                        the checked model, or the plan of the emitted C\n"
        "  --version             print the version\n"
        "  --help                print this help\n"
        "\n"
        "Environment: CC (default cc), GEQC_CFLAGS (extra flags for the C compiler),\n"
        "GEQC_LINK_LIBS, GEQRT_INCDIR and GEQRT_LIBDIR (where the runtime is).\n"
        "Exit status: 0 success, 1 errors in the model (or warnings with -Werror),\n"
        "2 usage or I/O errors.\n";

/* Errors that are not about the model: `geqc: error: ...`. */
static Diag sys_diag = {.file = "geqc"};

#define sys_error(...) (sys_diag.out = stderr, error_at(&sys_diag, (Loc){0}, __VA_ARGS__))

/* ---- the command line ---- */

/* An argument as the header comment quotes it: printable, shell-quoted if need be, and
 * unable to end a C comment. */
static const char *quote_arg(Arena *a, const char *arg)
{
	size_t n = strlen(arg);
	char *s = arena_alloc(a, 4 * n + 3), *p = s;
	bool plain = n > 0 && strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                  "0123456789_./=+,:@%-") == n;
	if (!plain)
		*p++ = '\'';
	for (const char *c = arg; *c; c++) {
		if (*c == '\'')
			p = stpcpy(p, "'\\''");
		else if (*c == '/' && c > arg && c[-1] == '*')
			p = stpcpy(p, "\\/");
		else
			*p++ = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
	}
	if (!plain)
		*p++ = '\'';
	*p = '\0';
	return s;
}

static const char *join_args(Arena *a, int argc, char **argv)
{
	const char *s = "geqc";
	for (int i = 1; i < argc; i++)
		s = arena_printf(a, "%s %s", s, quote_arg(a, argv[i]));
	return s;
}

static bool set_emit(Options *o, const char *v)
{
	static const struct {
		const char *name;
		EmitKind emit;
	} kinds[] = {{"c", EMIT_C}, {"pytorch", EMIT_TORCH}, {"exe", EMIT_EXE}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strcmp(v, kinds[i].name) == 0) {
			o->emit = kinds[i].emit;
			o->emit_given = true;
			return true;
		}
	}
	sys_error("unknown output kind '--emit=%s' (use c, pytorch or exe)", v);
	return false;
}

static bool set_dump(Options *o, const char *v)
{
	static const char *const forms[] = {
	        [DUMP_AST] = "ast", [DUMP_MODEL] = "model", [DUMP_PLAN] = "plan"};
	for (int i = DUMP_AST; i <= DUMP_PLAN; i++) {
		if (strcmp(v, forms[i]) == 0) {
			o->dump = (Dump)i;
			return true;
		}
	}
	sys_error("unknown form '--dump=%s' (use ast, model or plan)", v);
	return false;
}

/* The flag-only options; false if arg is none of them. */
static bool flag_option(Options *o, const char *arg)
{
	if (strcmp(arg, "-Werror") == 0 || strcmp(arg, "-Werror=equivariance") == 0 ||
	        strcmp(arg, "-Werror=grid-alignment") == 0)
		o->werror = true;
	else if (strcmp(arg, "-Wno-error") == 0)
		o->werror = false;
	else if (strcmp(arg, "-Wequivariance") == 0)
		o->no_equiv = false;
	else if (strcmp(arg, "-Wno-equivariance") == 0)
		o->no_equiv = true;
	else if (strcmp(arg, "-Wgrid-alignment") == 0)
		o->no_align = false;
	else if (strcmp(arg, "-Wno-grid-alignment") == 0)
		o->no_align = true;
	else if (strcmp(arg, "--fix") == 0)
		o->fix = true;
	else if (strcmp(arg, "--lint-json") == 0)
		o->lint_json = true;
	else if (strcmp(arg, "--dump-ast") == 0) /* the spelling before --dump= */
		o->dump = DUMP_AST;
	else if (strcmp(arg, "-fsyntax-only") == 0)
		o->syntax_only = true;
	else if (strcmp(arg, "-fdiagnostics-parseable-fixits") == 0)
		o->parseable_fixits = true;
	else if (strcmp(arg, "-fdiagnostics-color") == 0)
		o->color = "always";
	else if (strcmp(arg, "-fno-diagnostics-color") == 0)
		o->color = "never";
	else if (strcmp(arg, "-Wall") != 0 && strcmp(arg, "-Wextra") != 0)
		return false; /* -Wall and -Wextra: every warning is on already */
	return true;
}

static bool set_format(Options *o, const char *v)
{
	static const struct {
		const char *name;
		DiagFormat format;
	} formats[] = {{"text", DF_TEXT}, {"sarif-stderr", DF_SARIF_STDERR},
	        {"sarif-file", DF_SARIF_FILE}, {"json-stderr", DF_JSON_STDERR},
	        {"json", DF_JSON_STDERR}};
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		if (strcmp(v, formats[i].name) == 0) {
			o->format = formats[i].format;
			return true;
		}
	}
	sys_error("unknown diagnostics format '-fdiagnostics-format=%s' (use text, sarif-stderr, "
	          "sarif-file or json-stderr)",
	        v);
	return false;
}

static bool set_color(Options *o, const char *v)
{
	if (strcmp(v, "auto") != 0 && strcmp(v, "always") != 0 && strcmp(v, "never") != 0) {
		sys_error("unknown colour setting '-fdiagnostics-color=%s' (use auto, always or "
		          "never)",
		        v);
		return false;
	}
	o->color = v;
	return true;
}

/* A dimension of --input-size or --sizes: digits only, 1 to GEQC_MAX_DIM; *end after it. */
static bool parse_dim(const char *s, const char **end, int *out)
{
	long long v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9' && v <= GEQC_MAX_DIM; p++)
		v = 10 * v + (*p - '0');
	*end = p;
	*out = (int)v;
	return p > s && v >= 1 && v <= GEQC_MAX_DIM;
}

static bool set_input_size(Options *o, const char *v)
{
	const char *p;
	if (!v) {
		sys_error("missing HxW after '--input-size'");
		return false;
	}
	if (!parse_dim(v, &p, &o->input_size[0]) || (*p != 'x' && *p != 'X') ||
	        !parse_dim(p + 1, &p, &o->input_size[1]) || *p) {
		sys_error("--input-size needs HxW, two whole numbers from 1 to %d such as 29x29, "
		          "not '%s'",
		        GEQC_MAX_DIM, v);
		return false;
	}
	return true;
}

static bool set_sizes(Options *o, const char *v)
{
	const char *p;
	if (!v) {
		sys_error("missing LO..HI after '--sizes'");
		return false;
	}
	if (!parse_dim(v, &p, &o->sizes[0]) || strncmp(p, "..", 2) != 0 ||
	        !parse_dim(p + 2, &p, &o->sizes[1]) || *p) {
		sys_error("--sizes needs LO..HI, two whole numbers from 1 to %d such as 21..64, "
		          "not '%s'",
		        GEQC_MAX_DIM, v);
		return false;
	}
	if (o->sizes[0] > o->sizes[1]) {
		sys_error("--sizes %s: LO is greater than HI", v);
		return false;
	}
	if (o->sizes[1] - o->sizes[0] >= GEQC_MAX_SIZES) {
		sys_error("--sizes %s asks for %d sizes; geqc sweeps at most %d at once "
		          "(GEQC_MAX_SIZES)",
		        v, o->sizes[1] - o->sizes[0] + 1, GEQC_MAX_SIZES);
		return false;
	}
	return true;
}

/* `--opt VALUE` or `--opt=VALUE`: the value, or NULL if arg is not opt (*is_opt false) or
 * the value is missing. */
static const char *opt_value(const char *opt, int argc, char **argv, int *i, bool *is_opt)
{
	size_t n = strlen(opt);
	const char *arg = argv[*i];
	*is_opt = strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
	if (!*is_opt)
		return NULL;
	if (arg[n] == '=')
		return arg + n + 1;
	return ++*i < argc ? argv[*i] : NULL;
}

/* The options that take a value; false if arg is none of them (*done false). */
static bool value_option(Options *o, int argc, char **argv, int *i, bool *done)
{
	const char *arg = argv[*i], *v;
	*done = true;
	if (strncmp(arg, "--emit=", 7) == 0)
		return set_emit(o, arg + 7);
	if (strncmp(arg, "--dump=", 7) == 0)
		return set_dump(o, arg + 7);
	if (strncmp(arg, "-fdiagnostics-format=", 21) == 0)
		return set_format(o, arg + 21);
	if (strncmp(arg, "-fdiagnostics-color=", 20) == 0)
		return set_color(o, arg + 20);
	v = opt_value("--input-size", argc, argv, i, done);
	if (*done)
		return set_input_size(o, v);
	v = opt_value("--sizes", argc, argv, i, done);
	if (*done)
		return set_sizes(o, v);
	v = opt_value("--explain", argc, argv, i, done);
	if (*done && !v)
		sys_error("missing file name after '--explain'");
	if (*done)
		return (o->explain = v) != NULL;
	return false;
}

static bool set_input(Options *o, const char *arg)
{
	if (o->input) {
		sys_error("more than one input file ('%s' and '%s')", o->input, arg);
		return false;
	}
	o->input = arg;
	return true;
}

static bool set_output(Options *o, const char *arg)
{
	if (!arg) {
		sys_error("missing file name after '-o'");
		return false;
	}
	if (o->output) {
		sys_error("more than one output file ('%s' and '%s')", o->output, arg);
		return false;
	}
	o->output = arg;
	return true;
}

/* One argument at *i (which it may advance); false on a usage error. */
static bool parse_arg(Options *o, int argc, char **argv, int *i, bool *only_files)
{
	const char *arg = argv[*i];
	if (*only_files || arg[0] != '-' || arg[1] == '\0')
		return set_input(o, arg);
	if (strcmp(arg, "--") == 0)
		return (*only_files = true);
	if (strcmp(arg, "-o") == 0)
		return set_output(o, ++*i < argc ? argv[*i] : NULL);
	if (strncmp(arg, "-o", 2) == 0)
		return set_output(o, arg + 2);
	bool done;
	bool ok = value_option(o, argc, argv, i, &done);
	if (done)
		return ok;
	if (flag_option(o, arg))
		return true;
	sys_error("unrecognized command-line option '%s' (see 'geqc --help')", arg);
	return false;
}

/* The combinations that make sense, and the default output kind. */
static bool settle_options(Options *o)
{
	if (!o->input) {
		sys_error("no input file (usage: geqc [options] model.geq; see 'geqc --help')");
		return false;
	}
	if (o->dump && (o->output || o->emit_given || o->lint_json)) {
		sys_error("--dump prints to stdout: it cannot be combined with -o, --emit or "
		          "--lint-json");
		return false;
	}
	if (o->lint_json && (o->output || o->emit_given)) {
		sys_error("--lint-json prints to stdout: it cannot be combined with -o or --emit");
		return false;
	}
	if (o->sizes[0] && (o->output || o->emit_given)) {
		sys_error("--sizes prints to stdout: it cannot be combined with -o or --emit");
		return false;
	}
	if (o->fix && (o->output || o->emit_given || o->lint_json || o->sizes[0] || o->dump)) {
		sys_error("--fix rewrites the model: it cannot be combined with -o, --emit, "
		          "--lint-json, --sizes or --dump");
		return false;
	}
	if (o->explain && strcmp(o->explain, o->input) == 0) {
		sys_error("--explain=%s would overwrite the model: give the picture another name "
		          "(e.g. --explain=grid.svg)",
		        o->explain);
		return false;
	}
	if (o->sizes[0] && o->input_size[0]) {
		sys_error("--sizes and --input-size both set the input size: give one");
		return false;
	}
	if (!o->emit_given)
		o->emit = o->output ? EMIT_EXE : EMIT_NONE;
	if (o->syntax_only) {
		o->emit = EMIT_NONE;
		return true;
	}
	if ((o->emit == EMIT_C || o->emit == EMIT_EXE) && !o->output) {
		sys_error(
		        "--emit=%s needs an output file: -o FILE", o->emit == EMIT_C ? "c" : "exe");
		return false;
	}
	return true;
}

/* Returns -1 to go on compiling, else the exit status (--help, --version, usage errors). */
static int parse_options(Options *o, int argc, char **argv)
{
	bool only_files = false;
	for (int i = 1; i < argc; i++) {
		if (!only_files && strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (!only_files && strcmp(argv[i], "--version") == 0) {
			puts("geqc " GEQC_VERSION);
			return 0;
		}
		if (!parse_arg(o, argc, argv, &i, &only_files))
			return 2;
	}
	return settle_options(o) ? -1 : 2;
}

/* ---- files ---- */

/* The whole file, or NULL after an error; *len excludes the terminating NUL added for
 * convenience. */
static char *read_source(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		sys_error("cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	char *buf = xmalloc(GEQC_MAX_SOURCE + 2);
	*len = fread(buf, 1, GEQC_MAX_SOURCE + 1, f);
	int err = ferror(f) ? errno : 0;
	fclose(f);
	if (err)
		sys_error("cannot read '%s': %s", path, strerror(err));
	else if (*len > GEQC_MAX_SOURCE)
		sys_error("'%s' is larger than %d bytes, geqc's limit (GEQC_MAX_SOURCE)", path,
		        GEQC_MAX_SOURCE);
	else {
		buf[*len] = '\0';
		return buf;
	}
	free(buf);
	return NULL;
}

/* Temporary files and directories in use. Running out of memory exits from deep inside a
 * pass (exit 2, see arena_alloc), past every out_close: this exit handler removes them then,
 * so that a failed run leaves nothing behind. */
enum { MAX_PENDING = 8 };
static const char *pending[MAX_PENDING];

static void remove_pending(void)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending[i])
			unlink(pending[i]);
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending[i])
			rmdir(pending[i]);
}

static void pending_add(const char *path)
{
	static bool registered;
	if (!registered)
		registered = atexit(remove_pending) == 0;
	for (int i = 0; i < MAX_PENDING; i++)
		if (!pending[i]) {
			pending[i] = path;
			return;
		}
}

static void pending_drop(const char *path)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending[i] == path)
			pending[i] = NULL;
}

/* An output file being written: a temporary name beside the final one, renamed on
 * success (rename within a directory is atomic) and removed on failure. A device or a
 * FIFO (`-o /dev/null`, `-o >(...)`) is written in place instead (tmp is NULL): renaming
 * over it would replace the device with a regular file. */
typedef struct OutFile {
	const char *path, *tmp;
	FILE *f;
} OutFile;

/* A target that must be written where it is, not replaced. */
static bool is_stream(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode));
}

static bool out_open(OutFile *o, Arena *a, const char *path)
{
	o->path = path;
	o->tmp = is_stream(path) ? NULL : arena_printf(a, "%s.geqc-tmp%ld", path, (long)getpid());
	o->f = NULL;
	int fd = o->tmp ? open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, 0666)
	                : open(path, O_WRONLY);
	if (fd >= 0 && !(o->f = fdopen(fd, "w")))
		close(fd);
	if (!o->f) {
		sys_error("cannot write '%s': %s", path, strerror(errno));
		if (fd >= 0 && o->tmp)
			unlink(o->tmp);
		return false;
	}
	if (o->tmp)
		pending_add(o->tmp);
	return true;
}

/* Closes the file; renames it into place if ok and everything was written. */
static bool out_close(OutFile *o, bool ok)
{
	if (!o->f)
		return false;
	bool written = !ferror(o->f);
	int err = written ? 0 : errno;
	if (fclose(o->f) != 0 && written) {
		written = false;
		err = errno;
	}
	o->f = NULL;
	if (!o->tmp) {
		if (ok && !written)
			sys_error("cannot write '%s': %s", o->path, strerror(err ? err : EIO));
		return ok && written;
	}
	pending_drop(o->tmp);
	if (ok && written && rename(o->tmp, o->path) == 0)
		return true;
	if (ok && written)
		err = errno;
	if (ok)
		sys_error("cannot write '%s': %s", o->path, strerror(err ? err : EIO));
	unlink(o->tmp);
	return false;
}

/* model.c -> model.h; anything else gets ".h" appended. */
static const char *header_path(Arena *a, const char *cpath)
{
	size_t n = strlen(cpath);
	if (n > 2 && strcmp(cpath + n - 2, ".c") == 0)
		n -= 2;
	return arena_printf(a, "%.*s.h", (int)n, cpath);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* ---- the outputs ---- */

static int write_torch(const Options *o, Arena *a, const Emit *e)
{
	if (!o->output) {
		emit_torch(stdout, e);
		return fflush(stdout) == 0 ? 0 : 2;
	}
	OutFile out;
	if (!out_open(&out, a, o->output))
		return 2;
	emit_torch(out.f, e);
	return out_close(&out, true) ? 0 : 2;
}

/* Writes cpath and its header; both or neither. */
static bool write_c_files(Arena *a, const char *cpath, const char *hpath, const Emit *e)
{
	OutFile c, h;
	if (!out_open(&c, a, cpath))
		return false;
	if (!out_open(&h, a, hpath)) {
		out_close(&c, false);
		return false;
	}
	emit_c(c.f, h.f, base_name(hpath), e);
	bool ok = out_close(&h, true);
	return out_close(&c, ok) && ok;
}

static int write_c(const Options *o, Arena *a, const Emit *e)
{
	const char *h = header_path(a, o->output);
	return write_c_files(a, o->output, h, e) ? 0 : 2;
}

/* ---- the native executable: the emitted C through the system's C compiler ---- */

typedef struct Argv {
	const char **v;
	int n, cap;
} Argv;

static void argv_push(Arena *a, Argv *av, const char *s)
{
	if (av->n + 2 > av->cap) {
		int cap = av->cap ? 2 * av->cap : 32;
		const char **v = arena_alloc(a, (size_t)cap * sizeof *v);
		if (av->n)
			memcpy(v, av->v, (size_t)av->n * sizeof *v);
		av->v = v;
		av->cap = cap;
	}
	av->v[av->n++] = s;
	av->v[av->n] = NULL;
}

/* Pushes the words of s, split on blanks (no quoting: as make splits CFLAGS). */
static void argv_split(Arena *a, Argv *av, const char *s)
{
	while (s && *s) {
		size_t skip = strspn(s, " \t\n"), len = strcspn(s + skip, " \t\n");
		if (len > 0)
			argv_push(a, av, arena_strndup(a, s + skip, len));
		s += skip + len;
	}
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The runtime's headers and library: the environment, else an installation beside this
 * executable (bin/../include/geqrt, bin/../lib), else the build tree it was built in. */
static void runtime_dirs(Arena *a, const char **inc, const char **lib)
{
	*inc = GEQC_BUILD_INC;
	*lib = GEQC_BUILD_LIB;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		const char *prefix = arena_printf(a, "%s/..", exe);
		if (is_file(arena_printf(a, "%s/include/geqrt/geqrt.h", prefix))) {
			*inc = arena_printf(a, "%s/include/geqrt", prefix);
			*lib = arena_printf(a, "%s/lib", prefix);
		}
	}
	if (getenv("GEQRT_INCDIR") && *getenv("GEQRT_INCDIR"))
		*inc = getenv("GEQRT_INCDIR");
	if (getenv("GEQRT_LIBDIR") && *getenv("GEQRT_LIBDIR"))
		*lib = getenv("GEQRT_LIBDIR");
}

static Argv cc_command(Arena *a, const char *csrc, const char *out)
{
	const char *inc, *lib;
	runtime_dirs(a, &inc, &lib);
	const char *cc = getenv("CC"), *libs = getenv("GEQC_LINK_LIBS");
	Argv av = {0};
	argv_split(a, &av, cc && *cc ? cc : "cc");
	const char *flags[] = {"-O3", "-march=native", "-std=c11", "-DGEQC_MAIN"};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		argv_push(a, &av, flags[i]);
	argv_push(a, &av, arena_printf(a, "-I%s", inc));
	argv_split(a, &av, getenv("GEQC_CFLAGS"));
	argv_push(a, &av, csrc);
	argv_push(a, &av, "-o");
	argv_push(a, &av, out);
	argv_push(a, &av, arena_printf(a, "%s/libgeqrt.a", lib));
	argv_split(a, &av, libs && *libs ? libs : GEQC_LINK_LIBS);
	argv_push(a, &av, "-lm");
	return av;
}

/* Runs a command without a shell; its diagnostics go straight to our stderr. */
static bool run(const Argv *av)
{
	if (av->n == 0) {
		sys_error("CC is empty");
		return false;
	}
	pid_t pid;
	int err = posix_spawnp(&pid, av->v[0], NULL, NULL, (char *const *)av->v, environ);
	if (err) {
		sys_error("cannot run the C compiler '%s': %s", av->v[0], strerror(err));
		return false;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			sys_error("cannot wait for the C compiler: %s", strerror(errno));
			return false;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFEXITED(status))
		sys_error("the C compiler '%s' failed (exit status %d)", av->v[0],
		        WEXITSTATUS(status));
	else
		sys_error(
		        "the C compiler '%s' was killed by signal %d", av->v[0], WTERMSIG(status));
	return false;
}

/* Copies the built executable into a device or FIFO output, which must stay what it is. */
static bool copy_to_stream(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	FILE *out = in ? fopen(to, "wb") : NULL;
	char buf[65536];
	size_t n;
	bool ok = out != NULL;
	while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	ok = ok && !ferror(in);
	if (out)
		ok = (fclose(out) == 0) && ok;
	if (in)
		fclose(in);
	if (!ok)
		sys_error("cannot write '%s': %s", to, strerror(errno ? errno : EIO));
	return ok;
}

/* Compiles dir/model.c to the output, through a temporary name beside it (or, for a
 * device or FIFO output, in the temporary directory). */
static bool compile_exe(const Options *o, Arena *a, const char *csrc)
{
	bool stream = is_stream(o->output);
	const char *tmp = stream ? arena_printf(a, "%s.exe", csrc)
	                         : arena_printf(a, "%s.geqc-tmp%ld", o->output, (long)getpid());
	Argv av = cc_command(a, csrc, tmp);
	bool ok = run(&av);
	if (ok && stream)
		ok = copy_to_stream(tmp, o->output);
	else if (ok && rename(tmp, o->output) != 0) {
		sys_error("cannot write '%s': %s", o->output, strerror(errno));
		ok = false;
	}
	if (!ok || stream)
		unlink(tmp);
	return ok;
}

static int build_exe(const Options *o, Arena *a, const Emit *e)
{
	const char *tmpdir = getenv("TMPDIR");
	char *dir = arena_printf(a, "%s/geqc-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(dir)) {
		sys_error("cannot create a temporary directory '%s': %s", dir, strerror(errno));
		return 2;
	}
	pending_add(dir);
	const char *csrc = arena_printf(a, "%s/model.c", dir);
	const char *hsrc = arena_printf(a, "%s/model.h", dir);
	pending_add(csrc);
	pending_add(hsrc);
	bool ok = write_c_files(a, csrc, hsrc, e) && compile_exe(o, a, csrc);
	remove_pending();
	pending_drop(csrc);
	pending_drop(hsrc);
	pending_drop(dir);
	return ok ? 0 : 2;
}

/* ---- the pipeline ---- */

/* After errors at an --input-size: where the size came from. */
static void note_input_size(const Program *prog, Diag *d, const int hw[2])
{
	if (prog->model)
		note_at(d, prog->model->input_loc, "the input is %dx%d by --input-size %dx%d",
		        hw[0], hw[1], hw[0], hw[1]);
}

/* The lint JSON and the --sizes sweep, on stdout. */
static void report_lint(
        const Options *o, Arena *arena, Program *prog, Diag *d, const Model *m, const Lint *l)
{
	SizeSweep *sw = NULL;
	if (o->sizes[0])
		sw = sizes_sweep(prog, m, d, o->sizes[0], o->sizes[1], arena);
	if (o->lint_json) {
		lint_json_members(stdout, m, l);
		fputs(",\n  \"warnings\": ", stdout); /* gcc's JSON, with the fix-its */
		diag_write_json(stdout, d);
		if (sw)
			sizes_json(stdout, sw, m);
		fputs("\n}\n", stdout);
	} else if (sw) {
		sizes_text(stdout, sw, m);
	}
}

static bool write_explain(const Options *o, Arena *a, const Model *m, const Lint *l)
{
	OutFile out;
	if (!out_open(&out, a, o->explain))
		return false;
	explain_svg(out.f, m, l);
	return out_close(&out, true);
}

static int write_output(const Options *o, Arena *arena, const Emit *e)
{
	switch (o->emit) {
	case EMIT_NONE:
		return 0;
	case EMIT_TORCH:
		return write_torch(o, arena, e);
	case EMIT_C:
		return write_c(o, arena, e);
	case EMIT_EXE:
		return build_exe(o, arena, e);
	}
	return 2;
}

/* The passes in order; each --dump=FORM stops after the pass that makes FORM. */
static int compile(const Options *o, Arena *arena, Diag *d)
{
	Program *prog = parse_program(d->src, d->srclen, arena, d);
	if (!prog)
		return 1;
	if (o->dump == DUMP_AST)
		return ast_dump(stdout, prog), 0;
	if (o->input_size[0] && !sizes_set_input(prog, o->input_size[0], o->input_size[1])) {
		sys_error("--input-size: %s declares no input size written as numbers", d->file);
		return 2;
	}
	prog = expand_program(prog, arena, d);
	if (!prog)
		return 1;
	Model *m = check_program(prog, arena, d);
	if (!m && o->input_size[0])
		note_input_size(prog, d, o->input_size);
	if (!m)
		return 1;
	if (o->dump == DUMP_MODEL)
		return model_dump(stdout, m), 0;
	SizeProbe sp = {prog, d, m->input.h, m->input.w};
	LintProbe probe = {sizes_exact_at, sizes_exact_with, &sp};
	Lint *l = lint_model_probed(m, arena, d, &probe);
	report_lint(o, arena, prog, d, m, l);
	if (o->explain && !write_explain(o, arena, m, l))
		return 2;
	if (d->nerrors > 0)
		return 1;
	Plan *plan = plan_model(m, arena);
	if (o->dump == DUMP_PLAN)
		return plan_dump(stdout, plan), 0;
	Emit e = {.m = m, .lint = l, .plan = plan, .src = d, .cmdline = o->cmdline};
	return write_output(o, arena, &e);
}

/* ---- --fix ---- */

typedef struct Edit {
	size_t from, to; /* the bytes replaced: [from, to) */
	const char *text;
} Edit;

static int by_offset(const void *x, const void *y)
{
	const Edit *a = x, *b = y;
	return (a->from > b->from) - (a->from < b->from);
}

/* Why a warning has no fix-it, for --fix's refusal. */
static void no_fixit(const Diag *d, const DiagRecord *r)
{
	const Site *s = r->loc.site;
	if (s)
		sys_error(
		        "--fix: the warning at %s:%d:%d is inside block '%s' (called at line %d), "
		        "whose body serves every call: no fix-it is offered there (change the "
		        "block, or the input size, by hand); nothing written",
		        d->file, r->loc.first_line, r->loc.first_column, s->block,
		        s->call.first_line);
	else
		sys_error("--fix: the warning at %s:%d:%d has no fix-it, so the file cannot be "
		          "made to lint clean; nothing written",
		        d->file, r->loc.first_line, r->loc.first_column);
}

/* Every warning's fix-its as edits in source order, duplicates merged; false (after
 * saying why) if some warning has none or two overlap. */
static bool collect_edits(const Diag *d, Arena *a, Edit **out, int *n)
{
	const DiagLog *log = d->log;
	int cap = 0;
	for (int i = 0; i < log->n; i++)
		cap += log->rec[i].nfix;
	Edit *e = arena_alloc(a, (size_t)(cap + 1) * sizeof *e);
	*n = 0;
	for (int i = 0; i < log->n; i++) {
		const DiagRecord *r = &log->rec[i];
		if (r->kind != D_NOTE && r->nfix == 0)
			return no_fixit(d, r), false;
		for (int f = 0; f < r->nfix; f++) {
			Loc l = r->fix[f].loc;
			e[(*n)++] = (Edit){diag_offset(d, l.first_line, l.first_column),
			        diag_offset(d, l.last_line, l.last_column + 1), r->fix[f].text};
		}
	}
	qsort(e, (size_t)*n, sizeof *e, by_offset);
	int k = 0;
	for (int i = 0; i < *n; i++) {
		if (k && e[i].from == e[k - 1].from && e[i].to == e[k - 1].to &&
		        strcmp(e[i].text, e[k - 1].text) == 0)
			continue; /* two warnings, one fix */
		if (k && e[i].from < e[k - 1].to) {
			sys_error("--fix: two fix-its overlap at byte %zu of %s; nothing written",
			        e[i].from, d->file);
			return false;
		}
		e[k++] = e[i];
	}
	*n = k;
	*out = e;
	return true;
}

/* The source with the edits (sorted, apart) applied; every other byte as it was. */
static char *apply_edits(Arena *a, const Diag *d, const Edit *e, int n, size_t *len)
{
	size_t total = d->srclen;
	for (int i = 0; i < n; i++)
		total += strlen(e[i].text) - (e[i].to - e[i].from);
	char *t = arena_alloc(a, total + 1), *p = t;
	size_t at = 0;
	for (int i = 0; i < n; i++) {
		memcpy(p, d->src + at, e[i].from - at);
		p = stpcpy(p + (e[i].from - at), e[i].text);
		at = e[i].to;
	}
	memcpy(p, d->src + at, d->srclen - at);
	*len = total;
	return t;
}

/* How many warnings the run reported; -1 (after saying so) if it reported an error. */
static int count_warnings(const Diag *d)
{
	int warnings = 0;
	for (int i = 0; i < d->log->n; i++) {
		const DiagRecord *r = &d->log->rec[i];
		if (r->kind == D_ERROR && !r->promoted) {
			sys_error("--fix: %s has errors; nothing written", d->file);
			return -1;
		}
		warnings += r->kind != D_NOTE;
	}
	return warnings;
}

/* --fix: the fix-its applied at once, written only if the model had no error and the
 * result lints clean (parsed, expanded, checked and linted again first); 0 written (or
 * nothing to fix), 1 not, 2 the file could not be written. */
static int fix_file(const Options *o, Arena *a, const Diag *d, int status)
{
	Edit *e;
	int n, warnings = count_warnings(d);
	size_t len;
	if (warnings <= 0)
		return warnings < 0 ? 1 : status;
	if (!collect_edits(d, a, &e, &n))
		return 1;
	char *text = apply_edits(a, d, e, n, &len);
	bool clean, exact;
	sizes_relint(d, text, len, &clean, &exact);
	if (!clean) {
		sys_error("--fix: with its %d fix-it%s applied %s still does not lint clean; "
		          "nothing written",
		        n, n == 1 ? "" : "s", d->file);
		return 1;
	}
	OutFile out;
	if (!out_open(&out, a, o->input))
		return 2;
	fwrite(text, 1, len, out.f);
	if (!out_close(&out, true))
		return 2;
	fprintf(stderr, "geqc: --fix: %d fix-it%s applied to %s; it lints clean\n", n,
	        n == 1 ? "" : "s", o->input);
	return 0;
}

/* -fdiagnostics-format=sarif-*|json-*: what diag.c collected, written at the end. */
static int write_diagnostics(const Options *o, Arena *a, const Diag *d, int status)
{
	if (o->format == DF_SARIF_STDERR)
		diag_write_sarif(stderr, d, status != 2);
	if (o->format == DF_JSON_STDERR) {
		diag_write_json(stderr, d);
		fputc('\n', stderr);
	}
	if (o->format != DF_SARIF_FILE)
		return status;
	OutFile out;
	if (!out_open(&out, a, arena_printf(a, "%s.sarif", base_name(o->input))))
		return 2;
	diag_write_sarif(out.f, d, status != 2);
	return out_close(&out, true) ? status : 2;
}

int main(int argc, char **argv)
{
	Options o = {.color = "auto"};
	int status = parse_options(&o, argc, argv);
	if (status >= 0)
		return status;
	size_t len;
	char *src = read_source(o.input, &len);
	if (!src)
		return 2;
	Arena *arena = arena_new();
	o.cmdline = join_args(arena, argc, argv);
	DiagLog log = {0};
	Diag d = {.file = o.input, .src = src, .srclen = len, .out = stderr};
	d.werror = o.werror;
	d.no_equiv = o.no_equiv;
	d.no_align = o.no_align;
	d.format = o.format;
	d.parseable_fixits = o.parseable_fixits;
	d.log = o.format != DF_TEXT || o.fix || o.lint_json ? &log : NULL;
	diag_set_color(&d, o.color);
	status = compile(&o, arena, &d);
	if (o.fix && status != 2)
		status = fix_file(&o, arena, &d, status);
	else if (status == 0 && d.nerrors > 0)
		status = 1;
	status = write_diagnostics(&o, arena, &d, status);
	diag_log_free(&log);
	arena_free(arena);
	free(src);
	return status;
}
