/* diag.c: the one reporting function, in gcc's format:
 *
 *   model.geq:6:9: warning: maxpool samples an off-centre grid ... [-Wequivariance]
 *       6 |     h = maxpool(h, 2);
 *         |         ^~~~~~~~~~~~~
 *   model.geq:6:9: note: its input is 29x29: ... so the last
 *         row and column are never sampled
 *
 * Columns count bytes; the caret line copies the source line's tabs so that it lines up
 * in any terminal. Output is always text: non-printable bytes of a quoted line show as '?'.
 * With -fdiagnostics-color the locus, kind, flag and caret are coloured as gcc colours them
 * (GCC_COLORS); with a log every shown diagnostic is also recorded, for the SARIF and JSON
 * writers (diag_sarif.c) and --fix. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geqc.h"

static const char *const kind_label[] = {"error", "warning", "note"};

/* ---- colour (gcc's GCC_COLORS capabilities and defaults) ---- */

enum { C_ERROR, C_WARNING, C_NOTE, C_LOCUS, NCOLORS, COLOR_MAX = 32 };
static const char *const color_cap[NCOLORS] = {"error", "warning", "note", "locus"};
static char color_sgr[NCOLORS][COLOR_MAX] = {"01;31", "01;35", "01;36", "01"};

/* Overrides the defaults by GCC_COLORS's `cap=SGR:cap=SGR` entries we use. */
static void read_gcc_colors(const char *env)
{
	for (const char *p = env; p && *p; p += *p == ':') {
		size_t len = strcspn(p, ":"), eq = strcspn(p, "=:");
		for (int c = 0; c < NCOLORS && eq < len; c++)
			if (strlen(color_cap[c]) == eq && strncmp(p, color_cap[c], eq) == 0 &&
			        len - eq - 1 < COLOR_MAX &&
			        strspn(p + eq + 1, "0123456789;") >= len - eq - 1)
				snprintf(color_sgr[c], COLOR_MAX, "%.*s", (int)(len - eq - 1),
				        p + eq + 1);
		p += len;
	}
}

bool diag_set_color(Diag *d, const char *when)
{
	const char *env = getenv("GCC_COLORS"), *term = getenv("TERM");
	if (strcmp(when, "always") == 0)
		d->color = true;
	else if (strcmp(when, "never") == 0)
		d->color = false;
	else if (strcmp(when, "auto") == 0)
		d->color = isatty(STDERR_FILENO) && term && strcmp(term, "dumb") != 0;
	else
		return false;
	if (env && !*env)
		d->color = false;
	read_gcc_colors(env);
	return true;
}

static void color_on(const Diag *d, int c)
{
	if (d->color)
		fprintf(d->out, "\33[%sm\33[K", color_sgr[c]);
}

static void color_off(const Diag *d)
{
	if (d->color)
		fputs("\33[m\33[K", d->out);
}

/* Decides whether this diagnostic is shown, and counts it. */
static bool diag_admit(Diag *d, DiagKind kind, const char *flag)
{
	if (kind == D_NOTE)
		return !d->suppressing;
	d->suppressing = kind == D_WARNING && flag &&
	                 ((d->no_equiv && strcmp(flag, "-Wequivariance") == 0) ||
	                         (d->no_align && strcmp(flag, "-Wgrid-alignment") == 0));
	if (d->suppressing)
		return false;
	if (kind == D_ERROR || d->werror)
		d->nerrors++;
	else
		d->nwarnings++;
	return true;
}

/* The message, each embedded newline continuing on a line indented by 6 spaces. */
static void put_message(FILE *out, const char *msg)
{
	for (const char *p = msg; *p; p++) {
		fputc(*p, out);
		if (*p == '\n')
			fputs("      ", out);
	}
}

/* The length excludes the newline and a CR before it. */
bool diag_line(const Diag *d, int line, const char **start, size_t *len)
{
	if (!d->src || line < 1)
		return false;
	const char *p = d->src, *end = d->src + d->srclen;
	for (int l = 1; l < line; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return false;
		p = nl + 1;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	*start = p;
	*len = (size_t)((nl ? nl : end) - p);
	if (*len > 0 && p[*len - 1] == '\r')
		(*len)--;
	return true;
}

size_t diag_offset(const Diag *d, int line, int col)
{
	const char *s;
	size_t len;
	return diag_line(d, line, &s, &len) ? (size_t)(s - d->src) + (size_t)col - 1 : d->srclen;
}

static bool printable(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c < 0x7f);
}

/* The quoted line, then the caret (in the kind's colour): `^` at the first column, `~` to
 * the last (to the end of the line if the location runs onto later lines). */
static void put_source(const Diag *d, Loc loc, int color)
{
	const char *s;
	size_t len;
	if (!diag_line(d, loc.first_line, &s, &len))
		return;
	fprintf(d->out, "%5d | ", loc.first_line);
	for (size_t i = 0; i < len; i++)
		fputc(printable((unsigned char)s[i]) ? s[i] : '?', d->out);
	fputs("\n      | ", d->out);
	long first = loc.first_column < 1 ? 1 : loc.first_column;
	long last = loc.last_line == loc.first_line ? loc.last_column : (long)len;
	for (long c = 1; c < first; c++)
		fputc(c <= (long)len && s[c - 1] == '\t' ? '\t' : ' ', d->out);
	color_on(d, color);
	fputc('^', d->out);
	for (long c = first + 1; c <= last; c++)
		fputc('~', d->out);
	color_off(d);
	fputc('\n', d->out);
}

/* ---- the log ---- */

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

static void record(
        Diag *d, DiagKind kind, bool promoted, Loc loc, const char *flag, const char *msg)
{
	DiagLog *log = d->log;
	if (log->n == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 16;
		log->rec = xrealloc(log->rec, (size_t)log->cap * sizeof *log->rec);
	}
	int parent = -1;
	for (int i = log->n - 1; kind == D_NOTE && i >= 0 && parent < 0; i--)
		if (log->rec[i].kind != D_NOTE)
			parent = i;
	log->rec[log->n++] = (DiagRecord){.kind = promoted ? D_ERROR : kind,
	        .promoted = promoted,
	        .loc = loc,
	        .flag = flag,
	        .msg = xstrdup(msg),
	        .parent = parent};
}

void diag_log_free(DiagLog *log)
{
	for (int i = 0; log && i < log->n; i++) {
		for (int f = 0; f < log->rec[i].nfix; f++)
			free(log->rec[i].fix[f].text);
		free(log->rec[i].fix);
		free(log->rec[i].msg);
	}
	if (log)
		free(log->rec);
}

/* gcc's -fdiagnostics-parseable-fixits: the replaced range is half-open, [first, last+1). */
static void put_parseable_fixit(const Diag *d, Loc loc, const char *text)
{
	fprintf(d->out, "fix-it:\"%s\":{%d:%d-%d:%d}:\"", d->file, loc.first_line, loc.first_column,
	        loc.last_line, loc.last_column + 1);
	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			fprintf(d->out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(d->out, "\\%03o", c);
		else
			fputc(c, d->out);
	}
	fputs("\"\n", d->out);
}

void diag_fixit(Diag *d, Loc loc, const char *text)
{
	/* Code inside a block serves every call of it: a fix computed for one call (with
	 * its arguments written in) would break the others, so none is offered there. */
	if (d->suppressing || loc.site)
		return;
	if (d->out && d->format == DF_TEXT && d->parseable_fixits)
		put_parseable_fixit(d, loc, text);
	int i = d->log ? d->log->n - 1 : -1;
	while (i >= 0 && d->log->rec[i].kind == D_NOTE)
		i--;
	if (i < 0)
		return;
	DiagRecord *r = &d->log->rec[i];
	r->fix = xrealloc(r->fix, (size_t)(r->nfix + 1) * sizeof *r->fix);
	r->fix[r->nfix++] = (DiagFixit){loc, xstrdup(text)};
}

/* ---- the reporting function ---- */

static void put_text(
        const Diag *d, DiagKind kind, bool promoted, Loc loc, const char *flag, const char *msg)
{
	int color = promoted ? C_ERROR : (int)kind;
	color_on(d, C_LOCUS);
	fputs(d->file, d->out);
	if (loc.first_line > 0)
		fprintf(d->out, ":%d:%d", loc.first_line, loc.first_column);
	fputc(':', d->out);
	color_off(d);
	fputc(' ', d->out);
	color_on(d, color);
	fprintf(d->out, "%s:", promoted ? "error" : kind_label[kind]);
	color_off(d);
	fputc(' ', d->out);
	put_message(d->out, msg);
	if (flag) {
		fputs(" [", d->out);
		color_on(d, color);
		if (promoted && strncmp(flag, "-W", 2) == 0)
			fprintf(d->out, "-Werror=%s", flag + 2);
		else
			fputs(flag, d->out);
		color_off(d);
		fputc(']', d->out);
	}
	fputc('\n', d->out);
	if (kind != D_NOTE && loc.first_line > 0)
		put_source(d, loc, color);
}

/* Where a location inside a block comes from, innermost call first, as gcc says where
 * inlined code was inlined: one note per call, at the block's declaration. */
static void put_call_chain(Diag *d, const Site *s)
{
	for (; s; s = s->call.site) {
		Loc decl = s->decl;
		decl.site = NULL; /* a note prints no chain of its own */
		diag_report(d, D_NOTE, decl, NULL, "in block '%s' called at %s:%d:%d", s->block,
		        d->file, s->call.first_line, s->call.first_column);
	}
}

void diag_report(Diag *d, DiagKind kind, Loc loc, const char *flag, const char *fmt, ...)
{
	if (!diag_admit(d, kind, flag))
		return;
	bool promoted = kind == D_WARNING && d->werror;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		out_of_memory(); /* a message cut short would print a different one */
	va_end(ap);
	if (d->log)
		record(d, kind, promoted, loc, flag, msg);
	if (d->out && d->format == DF_TEXT)
		put_text(d, kind, promoted, loc, flag, msg);
	free(msg);
	if (kind != D_NOTE)
		put_call_chain(d, loc.site);
}
