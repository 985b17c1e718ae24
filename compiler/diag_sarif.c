/* diag_sarif.c: the diagnostics diag.c collected, written once at the end of a run
 * (-fdiagnostics-format=sarif-stderr|sarif-file|json-stderr, gcc 13's spellings).
 *
 * SARIF 2.1.0 as GitHub code scanning reads it: one result per error or warning, with a
 * ruleId ("-Wequivariance", or "error" for an error without a flag, as gcc names them),
 * a level, a region (1-based lines; columns in Unicode code points, endColumn one past
 * the last character), its notes as relatedLocations and its fix-its as fixes. The JSON
 * is gcc's -fdiagnostics-format=json: an array of diagnostics with children (the notes),
 * locations (caret and finish) and fixits (start and next, half open). Messages lose the
 * line breaks diag.c's text wraps them at. */
#include <string.h>

#include "geqc.h"

#define SARIF_SCHEMA                                                                               \
	"https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"                      \
	"sarif-schema-2.1.0.json"

/* The rules geqc reports under; each result's ruleIndex points here. */
static const struct {
	const char *id, *name, *level, *text;
} rules[] = {
        {"error", "error", "error",
                "The model is not valid geqc: a syntax, name, kind or shape error (SPEC §2)."},
        {"-Wequivariance", "equivariance", "warning",
                "A layer is not exactly equivariant to some elements of the declared group: "
                "an off-centre sampled grid, or an op that does not commute with the group "
                "(SPEC §1)."},
        {"-Wgrid-alignment", "grid-alignment", "warning",
                "The operands of + or concat sit on different sampling grids (SPEC §4.1)."},
};
enum { NRULES = sizeof rules / sizeof rules[0] };

static int rule_index(const DiagRecord *r)
{
	const char *id = r->flag ? r->flag : "error";
	for (int i = 0; i < NRULES; i++)
		if (strcmp(rules[i].id, id) == 0)
			return i;
	return -1;
}

/* Bytes of the well-formed UTF-8 sequence at s (2 to 4), or 0. */
static int utf8_length(const unsigned char *s)
{
	int n = s[0] >= 0xf0 && s[0] < 0xf5 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void json_put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		int n = *p >= 0x80 ? utf8_length(p) : 0;
		if (*p == '\n')
			fputc(' ', out);
		else if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (n) {
			fwrite(p, 1, (size_t)n, out);
			p += n - 1;
		} else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else if (*p > 0x7f)
			fputs("\\ufffd", out); /* not UTF-8: the replacement character */
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* The file as a URI reference: relative paths stay relative (GitHub resolves them against
 * the checkout), absolute ones become file:// URIs; reserved bytes are percent-encoded. */
static void put_uri(FILE *out, const char *path)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                            "0123456789-._~/";
	fputc('"', out);
	if (path[0] == '/')
		fputs("file://", out);
	for (const char *p = path; *p; p++) {
		if (strchr(plain, *p))
			fputc(*p, out);
		else
			fprintf(out, "%%%02X", (unsigned char)*p);
	}
	fputc('"', out);
}

/* Byte column col (1-based) of a line as a column in code points: UTF-8 continuation
 * bytes before it do not count. */
static int code_point_column(const Diag *d, int line, int col)
{
	const char *s;
	size_t len;
	if (!diag_line(d, line, &s, &len))
		return col;
	int cp = 1;
	for (int i = 0; i < col - 1; i++)
		cp += (size_t)i >= len || ((unsigned char)s[i] & 0xc0) != 0x80;
	return cp;
}

/* A SARIF region: startColumn inclusive, endColumn exclusive. */
static void put_region(FILE *out, const Diag *d, Loc loc)
{
	int last_line = loc.last_line > 0 ? loc.last_line : loc.first_line;
	fprintf(out, "\"region\": {\"startLine\": %d", loc.first_line);
	if (loc.first_column > 0)
		fprintf(out, ", \"startColumn\": %d, \"endLine\": %d, \"endColumn\": %d",
		        code_point_column(d, loc.first_line, loc.first_column), last_line,
		        code_point_column(d, last_line, loc.last_column + 1));
	fputc('}', out);
}

static void put_physical(FILE *out, const Diag *d, Loc loc)
{
	fputs("\"physicalLocation\": {\"artifactLocation\": {\"uri\": ", out);
	put_uri(out, d->file);
	fputs(", \"index\": 0}", out);
	if (loc.first_line > 0) {
		fputs(", ", out);
		put_region(out, d, loc);
	}
	fputc('}', out);
}

static void put_fixes(FILE *out, const Diag *d, const DiagRecord *r)
{
	fputs(",\n       \"fixes\": [{\"description\": {\"text\": \"apply geqc's fix-it\"}, "
	      "\"artifactChanges\": [{\"artifactLocation\": {\"uri\": ",
	        out);
	put_uri(out, d->file);
	fputs(", \"index\": 0}, \"replacements\": [", out);
	for (int f = 0; f < r->nfix; f++) {
		fputs(f ? ", {\"deletedRegion\": {" : "{\"deletedRegion\": {", out);
		const Loc *l = &r->fix[f].loc;
		fprintf(out,
		        "\"startLine\": %d, \"startColumn\": %d, \"endLine\": %d, \"endColumn\": "
		        "%d}",
		        l->first_line, code_point_column(d, l->first_line, l->first_column),
		        l->last_line, code_point_column(d, l->last_line, l->last_column + 1));
		fputs(", \"insertedContent\": {\"text\": ", out);
		json_put_string(out, r->fix[f].text);
		fputs("}}", out);
	}
	fputs("]}]}]", out);
}

/* The notes of result i, as relatedLocations. */
static void put_related(FILE *out, const Diag *d, int i)
{
	const DiagLog *log = d->log;
	int id = 0;
	for (int j = i + 1; j < log->n && log->rec[j].parent == i; j++) {
		fputs(id ? ",\n         {" : ",\n       \"relatedLocations\": [\n         {", out);
		fprintf(out, "\"id\": %d, ", id++);
		if (log->rec[j].loc.first_line > 0) {
			put_physical(out, d, log->rec[j].loc);
			fputs(", ", out);
		}
		fputs("\"message\": {\"text\": ", out);
		json_put_string(out, log->rec[j].msg);
		fputs("}}", out);
	}
	if (id)
		fputc(']', out);
}

static void put_result(FILE *out, const Diag *d, int i, bool first)
{
	const DiagRecord *r = &d->log->rec[i];
	int rule = rule_index(r);
	fputs(first ? "\n      {" : ",\n      {", out);
	fputs("\"ruleId\": ", out);
	json_put_string(out, r->flag ? r->flag : "error");
	if (rule >= 0)
		fprintf(out, ", \"ruleIndex\": %d", rule);
	fprintf(out, ", \"level\": \"%s\",\n       \"message\": {\"text\": ",
	        r->kind == D_ERROR ? "error" : "warning");
	json_put_string(out, r->msg);
	fputs("},\n       \"locations\": [{", out);
	put_physical(out, d, r->loc);
	fputs("}]", out);
	put_related(out, d, i);
	if (r->nfix)
		put_fixes(out, d, r);
	fputc('}', out);
}

static void put_rules(FILE *out)
{
	fputs("\"rules\": [", out);
	for (int i = 0; i < NRULES; i++) {
		fprintf(out, "%s\n        {\"id\": ", i ? "," : "");
		json_put_string(out, rules[i].id);
		fputs(", \"name\": ", out);
		json_put_string(out, rules[i].name);
		fputs(", \"shortDescription\": {\"text\": ", out);
		json_put_string(out, rules[i].text);
		fprintf(out, "}, \"defaultConfiguration\": {\"level\": \"%s\"}}", rules[i].level);
	}
	fputs("]", out);
}

void diag_write_sarif(FILE *out, const Diag *d, bool tool_ok)
{
	fputs("{\"$schema\": \"" SARIF_SCHEMA "\",\n \"version\": \"2.1.0\",\n \"runs\": [{\n"
	      "  \"tool\": {\"driver\": {\"name\": \"geqc\", \"version\": \"" GEQC_VERSION "\", ",
	        out);
	put_rules(out);
	fprintf(out, "}},\n  \"invocations\": [{\"executionSuccessful\": %s}],\n",
	        tool_ok ? "true" : "false");
	fputs("  \"artifacts\": [{\"location\": {\"uri\": ", out);
	put_uri(out, d->file);
	fputs("}, \"sourceLanguage\": \"geq\"}],\n  \"columnKind\": \"unicodeCodePoints\",\n"
	      "  \"results\": [",
	        out);
	bool first = true;
	for (int i = 0; d->log && i < d->log->n; i++)
		if (d->log->rec[i].kind != D_NOTE) {
			put_result(out, d, i, first);
			first = false;
		}
	fputs(first ? "]\n }]\n}\n" : "\n  ]\n }]\n}\n", out);
}

/* ---- gcc's JSON ---- */

static void put_json_point(FILE *out, const Diag *d, int line, int col)
{
	fputs("{\"file\": ", out);
	json_put_string(out, d->file);
	fprintf(out, ", \"line\": %d, \"display-column\": %d, \"byte-column\": %d, \"column\": %d}",
	        line, code_point_column(d, line, col), col, col);
}

static void put_json_locations(FILE *out, const Diag *d, Loc loc)
{
	fputs(", \"locations\": [", out);
	if (loc.first_line > 0) {
		fputs("{\"caret\": ", out);
		put_json_point(out, d, loc.first_line, loc.first_column);
		fputs(", \"finish\": ", out);
		put_json_point(out, d, loc.last_line, loc.last_column);
		fputc('}', out);
	}
	fputc(']', out);
}

static void put_json_fixits(FILE *out, const Diag *d, const DiagRecord *r)
{
	fputs(", \"fixits\": [", out);
	for (int f = 0; f < r->nfix; f++) {
		const Loc *l = &r->fix[f].loc;
		fputs(f ? ", {\"start\": " : "{\"start\": ", out);
		put_json_point(out, d, l->first_line, l->first_column);
		fputs(", \"next\": ", out);
		put_json_point(out, d, l->last_line, l->last_column + 1);
		fputs(", \"string\": ", out);
		json_put_string(out, r->fix[f].text);
		fputc('}', out);
	}
	fputc(']', out);
}

static void put_json_diag(FILE *out, const Diag *d, int i)
{
	const DiagRecord *r = &d->log->rec[i];
	fputs("{\"kind\": ", out);
	json_put_string(out, r->kind == D_ERROR     ? "error"
	                     : r->kind == D_WARNING ? "warning"
	                                            : "note");
	fputs(", \"message\": ", out);
	json_put_string(out, r->msg);
	if (r->flag) {
		fputs(", \"option\": ", out);
		json_put_string(out, r->flag);
	}
	put_json_locations(out, d, r->loc);
	if (r->nfix)
		put_json_fixits(out, d, r);
	if (r->kind == D_NOTE)
		return (void)fputc('}', out);
	fputs(", \"children\": [", out);
	bool first = true;
	for (int j = i + 1; j < d->log->n && d->log->rec[j].parent == i; j++) {
		fputs(first ? "" : ", ", out);
		put_json_diag(out, d, j);
		first = false;
	}
	fputs("], \"column-origin\": 1, \"escape-source\": false}", out);
}

void diag_write_json(FILE *out, const Diag *d)
{
	fputc('[', out);
	bool first = true;
	for (int i = 0; d->log && i < d->log->n; i++)
		if (d->log->rec[i].kind != D_NOTE) {
			fputs(first ? "" : ",\n ", out);
			put_json_diag(out, d, i);
			first = false;
		}
	fputc(']', out);
}
