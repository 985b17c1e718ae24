/* diag.c: the one reporting function, in gcc's format:
 *
 *   model.geq:6:9: warning: maxpool samples an off-centre grid ... [-Wequivariance]
 *       6 |     h = maxpool(h, 2);
 *         |         ^~~~~~~~~~~~~
 *   model.geq:6:9: note: its input is 29x29: ... so the last
 *         row and column are never sampled
 *
 * Columns count bytes; the caret line copies the source line's tabs so that it lines up
 * in any terminal. Output is always text: non-printable bytes of a quoted line show as '?'. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"

static const char *const kind_label[] = {"error", "warning", "note"};

/* Decides whether this diagnostic is shown, and counts it. */
static bool diag_admit(Diag *d, DiagKind kind, const char *flag)
{
	if (kind == D_NOTE)
		return !d->suppressing;
	d->suppressing =
	        kind == D_WARNING && flag && d->no_equiv && strcmp(flag, "-Wequivariance") == 0;
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

/* Line `line` (1-based) of the source: start and length without the newline (nor a CR
 * before it). False if the source has no such line. */
static bool find_line(const Diag *d, int line, const char **start, size_t *len)
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

static bool printable(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c < 0x7f);
}

/* The quoted line, then the caret: `^` at the first column, `~` to the last (to the end
 * of the line if the location runs onto later lines). */
static void put_source(const Diag *d, Loc loc)
{
	const char *s;
	size_t len;
	if (!find_line(d, loc.first_line, &s, &len))
		return;
	fprintf(d->out, "%5d | ", loc.first_line);
	for (size_t i = 0; i < len; i++)
		fputc(printable((unsigned char)s[i]) ? s[i] : '?', d->out);
	fputs("\n      | ", d->out);
	long first = loc.first_column < 1 ? 1 : loc.first_column;
	long last = loc.last_line == loc.first_line ? loc.last_column : (long)len;
	for (long c = 1; c < first; c++)
		fputc(c <= (long)len && s[c - 1] == '\t' ? '\t' : ' ', d->out);
	fputc('^', d->out);
	for (long c = first + 1; c <= last; c++)
		fputc('~', d->out);
	fputc('\n', d->out);
}

void diag_report(Diag *d, DiagKind kind, Loc loc, const char *flag, const char *fmt, ...)
{
	if (!diag_admit(d, kind, flag))
		return;
	bool promoted = kind == D_WARNING && d->werror;
	fputs(d->file, d->out);
	if (loc.first_line > 0)
		fprintf(d->out, ":%d:%d", loc.first_line, loc.first_column);
	fprintf(d->out, ": %s: ", promoted ? "error" : kind_label[kind]);

	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	put_message(d->out, msg ? msg : fmt);
	free(msg);

	if (flag && promoted && strncmp(flag, "-W", 2) == 0)
		fprintf(d->out, " [-Werror=%s]", flag + 2);
	else if (flag)
		fprintf(d->out, " [%s]", flag);
	fputc('\n', d->out);
	if (kind != D_NOTE && loc.first_line > 0)
		put_source(d, loc);
}
