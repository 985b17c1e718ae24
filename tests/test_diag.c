/* test_diag.c: diag_report's output, byte for byte against gcc's format as the brief and
 * SPEC §4 spell it out, and its counting under -Werror and -Wno-equivariance. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"
#include "harness.h"

/* A Diag writing into memory over src, as harness.h's, named model.geq. */
static void sink_src(Sink *s, const char *src, size_t srclen)
{
	sink_open(s, "model.geq", src, srclen);
}

static Loc span(int line, int first, int last)
{
	return (Loc){line, first, line, last, NULL};
}

static const char paper29[] = "model paper29(x: [1, 29, 29]) on p4 {\n"
                              "    h = lift(x, 10, k=3);\n"
                              "    h = relu(bn(h));\n"
                              "    h = gconv(h, 10, k=3);\n"
                              "    h = relu(bn(h));\n"
                              "    h = maxpool(h, 2);\n"
                              "}\n";

START_TEST(test_warning_with_caret_and_note)
{
	Sink s;
	sink_src(&s, paper29, strlen(paper29));
	warn_equiv(&s.d, span(6, 9, 21),
	        "maxpool samples an off-centre grid: not exactly equivariant to %s", "r, r2, r3");
	note_at(&s.d, span(6, 9, 21),
	        "its input is 29x29: (29 + 2*0 - 1*(2-1) - 1) mod 2 = 1 on "
	        "both axes, so the last\nrow and column are never sampled");
	const char *want =
	        "model.geq:6:9: warning: maxpool samples an off-centre grid: not exactly "
	        "equivariant to r, r2, r3 [-Wequivariance]\n"
	        "    6 |     h = maxpool(h, 2);\n"
	        "      |         ^~~~~~~~~~~~~\n"
	        "model.geq:6:9: note: its input is 29x29: (29 + 2*0 - 1*(2-1) - 1) mod 2 = 1 on "
	        "both axes, so the last\n"
	        "      row and column are never sampled\n";
	ck_assert_str_eq(sink_close(&s), want);
	ck_assert_int_eq(s.d.nwarnings, 1);
	ck_assert_int_eq(s.d.nerrors, 0);
	free(s.text);
}
END_TEST

START_TEST(test_error_counts_and_single_caret)
{
	Sink s;
	sink_src(&s, paper29, strlen(paper29));
	error_at(&s.d, span(1, 1, 1), "%s %d", "one", 1);
	const char *want = "model.geq:1:1: error: one 1\n"
	                   "    1 | model paper29(x: [1, 29, 29]) on p4 {\n"
	                   "      | ^\n";
	ck_assert_str_eq(sink_close(&s), want);
	ck_assert_int_eq(s.d.nerrors, 1);
	ck_assert_int_eq(s.d.nwarnings, 0);
	free(s.text);
}
END_TEST

/* The caret line keeps the source's tabs, so it lines up whatever the tab width. */
START_TEST(test_tabs_are_copied)
{
	const char src[] = "model m(x: [1, 4, 4]) on p1 {\n\t\th = \tbad(x);\n}\n";
	Sink s;
	sink_src(&s, src, strlen(src));
	error_at(&s.d, span(2, 8, 13), "x");
	const char *want = "model.geq:2:8: error: x\n"
	                   "    2 | \t\th = \tbad(x);\n"
	                   "      | \t\t    \t^~~~~~\n";
	ck_assert_str_eq(sink_close(&s), want);
	free(s.text);
}
END_TEST

/* A location over several lines underlines to the end of its first line. */
START_TEST(test_multiline_location)
{
	const char src[] = "a = f(x,\n      y);\n";
	Sink s;
	sink_src(&s, src, strlen(src));
	Loc two_lines = {1, 5, 2, 8, NULL};
	error_at(&s.d, two_lines, "call");
	const char *want = "model.geq:1:5: error: call\n"
	                   "    1 | a = f(x,\n"
	                   "      |     ^~~~\n";
	ck_assert_str_eq(sink_close(&s), want);
	free(s.text);
}
END_TEST

/* NUL and bytes >= 0x80 show as '?'; a CR before the newline is not shown. */
START_TEST(test_unprintable_bytes)
{
	const char src[] = "ab\0c\xe9\x01z\r\nnext";
	Sink s;
	sink_src(&s, src, sizeof src - 1);
	error_at(&s.d, span(1, 3, 3), "stray");
	error_at(&s.d, span(2, 1, 4), "last line without a newline");
	const char *want = "model.geq:1:3: error: stray\n"
	                   "    1 | ab?c??z\n"
	                   "      |   ^\n"
	                   "model.geq:2:1: error: last line without a newline\n"
	                   "    2 | next\n"
	                   "      | ^~~~\n";
	ck_assert_str_eq(sink_close(&s), want);
	free(s.text);
}
END_TEST

START_TEST(test_no_location)
{
	Sink s;
	sink_src(&s, paper29, strlen(paper29));
	error_at(&s.d, (Loc){0}, "no model declared");
	ck_assert_str_eq(sink_close(&s), "model.geq: error: no model declared\n");
	ck_assert_int_eq(s.d.nerrors, 1);
	free(s.text);
}
END_TEST

/* A line past the end of the source is not quoted (and nothing is read out of bounds). */
START_TEST(test_line_past_end)
{
	const char src[] = "one\ntwo";
	Sink s;
	sink_src(&s, src, strlen(src));
	error_at(&s.d, span(3, 1, 1), "far");
	error_at(&s.d, span(7, 1, 1), "farther");
	ck_assert_str_eq(
	        sink_close(&s), "model.geq:3:1: error: far\nmodel.geq:7:1: error: farther\n");
	free(s.text);
}
END_TEST

START_TEST(test_werror_promotes)
{
	Sink s;
	sink_src(&s, paper29, strlen(paper29));
	s.d.werror = true;
	warn_equiv(&s.d, span(6, 9, 21), "off-centre");
	note_at(&s.d, span(6, 9, 21), "why");
	const char *want = "model.geq:6:9: error: off-centre [-Werror=equivariance]\n"
	                   "    6 |     h = maxpool(h, 2);\n"
	                   "      |         ^~~~~~~~~~~~~\n"
	                   "model.geq:6:9: note: why\n";
	ck_assert_str_eq(sink_close(&s), want);
	ck_assert_int_eq(s.d.nerrors, 1);
	ck_assert_int_eq(s.d.nwarnings, 0);
	free(s.text);
}
END_TEST

/* -Wno-equivariance drops the warning and its notes, but not the next error's notes. */
START_TEST(test_no_equiv_suppresses_notes)
{
	Sink s;
	sink_src(&s, paper29, strlen(paper29));
	s.d.no_equiv = true;
	warn_equiv(&s.d, span(6, 9, 21), "dropped");
	note_at(&s.d, span(6, 9, 21), "dropped note");
	note_at(&s.d, span(2, 5, 5), "dropped too");
	error_at(&s.d, (Loc){0}, "kept");
	note_at(&s.d, (Loc){0}, "kept note");
	diag_report(&s.d, D_WARNING, (Loc){0}, "-Wother", "other flags stay");
	ck_assert_str_eq(sink_close(&s), "model.geq: error: kept\n"
	                                 "model.geq: note: kept note\n"
	                                 "model.geq: warning: other flags stay [-Wother]\n");
	ck_assert_int_eq(s.d.nerrors, 1);
	ck_assert_int_eq(s.d.nwarnings, 1);
	free(s.text);
}
END_TEST

/* A caret at the column just past the end of the line (where a missing ';' goes). */
START_TEST(test_caret_past_line_end)
{
	const char src[] = "h = f(x)\n";
	Sink s;
	sink_src(&s, src, strlen(src));
	error_at(&s.d, span(1, 9, 9), "expected ';'");
	ck_assert_str_eq(sink_close(&s), "model.geq:1:9: error: expected ';'\n"
	                                 "    1 | h = f(x)\n"
	                                 "      |         ^\n");
	free(s.text);
}
END_TEST

/* ---- the log, fix-its, colour, SARIF and JSON ---- */

/* A warning with two notes and a fix-it, then an error with a note; on a line with a
 * two-byte UTF-8 character before the location, so that SARIF's code-point columns
 * differ from the byte columns. */
static const char utf8_src[] = "model m(x: [1, 29, 29]) on p4 {\n"
                               "    h = maxpool(x, 2); # \xc3\xa9\n"
                               "    y = \"\xc3\xa9\" + maxpool(h, 2);\n"
                               "}\n";

static void report_sample(Diag *d)
{
	warn_equiv(d, span(2, 9, 21), "maxpool samples an off-centre grid: \"%s\"", "r, r2");
	note_at(d, span(2, 9, 21), "its input is 29x29\nso the last row is never sampled");
	diag_fixit(d, span(2, 19, 19), "3, s=2");
	note_at(d, (Loc){0}, "a note without a place");
	error_at(d, span(3, 15, 27), "an error after a UTF-8 string");
	note_at(d, span(3, 9, 12), "its note");
}

static json_t *sarif_of(DiagLog *log, char **buf)
{
	Sink s;
	sink_src(&s, utf8_src, strlen(utf8_src));
	s.d.format = DF_SARIF_STDERR;
	s.d.log = log;
	report_sample(&s.d);
	ck_assert_int_eq(s.d.nwarnings, 1);
	ck_assert_int_eq(s.d.nerrors, 1);
	diag_write_sarif(s.d.out, &s.d, true);
	*buf = sink_close(&s);
	json_error_t err;
	json_t *root = json_loads(*buf, 0, &err);
	ck_assert_msg(root != NULL, "not JSON: %s\n%s", err.text, *buf);
	return root;
}

static json_t *at(json_t *o, const char *path) /* "runs/0/tool" */
{
	char key[64];
	while (o && *path) {
		size_t n = strcspn(path, "/");
		snprintf(key, sizeof key, "%.*s", (int)n, path);
		o = json_is_array(o) ? json_array_get(o, (size_t)atoi(key))
		                     : json_object_get(o, key);
		path += n + (path[n] == '/');
	}
	ck_assert_msg(o != NULL, "no %s", path);
	return o;
}

static json_int_t int_at(json_t *o, const char *path)
{
	json_t *v = at(o, path);
	ck_assert(json_is_integer(v));
	return json_integer_value(v);
}

static const char *str_at(json_t *o, const char *path)
{
	json_t *v = at(o, path);
	ck_assert(json_is_string(v));
	return json_string_value(v);
}

/* A region as GitHub code scanning needs it: startLine, and columns that make a range. */
static void check_region(json_t *region)
{
	ck_assert(int_at(region, "startLine") >= 1);
	ck_assert(int_at(region, "startColumn") >= 1);
	ck_assert(int_at(region, "endLine") >= int_at(region, "startLine"));
	if (int_at(region, "endLine") == int_at(region, "startLine"))
		ck_assert(int_at(region, "endColumn") > int_at(region, "startColumn"));
}

/* The SARIF 2.1.0 properties GitHub's upload documents: version, $schema, the tool's
 * driver with rules, each result's ruleId (a rule of the driver, ruleIndex pointing at
 * it), level, message.text, an artifactLocation.uri and a region. */
START_TEST(test_sarif_has_what_github_reads)
{
	DiagLog log = {0};
	char *buf;
	json_t *root = sarif_of(&log, &buf);
	ck_assert_str_eq(str_at(root, "version"), "2.1.0");
	ck_assert(strstr(str_at(root, "$schema"), "sarif-schema-2.1.0.json") != NULL);
	json_t *run = at(root, "runs/0");
	ck_assert_str_eq(str_at(run, "tool/driver/name"), "geqc");
	json_t *rules = at(run, "tool/driver/rules"), *results = at(run, "results");
	ck_assert_int_eq((int)json_array_size(results), 2);
	const char *want_level[] = {"warning", "error"}, *want_rule[] = {"-Wequivariance", "error"};
	for (int i = 0; i < 2; i++) {
		json_t *r = json_array_get(results, (size_t)i);
		ck_assert_str_eq(str_at(r, "level"), want_level[i]);
		ck_assert_str_eq(str_at(r, "ruleId"), want_rule[i]);
		json_t *rule = json_array_get(rules, (size_t)int_at(r, "ruleIndex"));
		ck_assert_str_eq(str_at(rule, "id"), want_rule[i]);
		ck_assert(*str_at(rule, "shortDescription/text"));
		ck_assert(*str_at(r, "message/text"));
		ck_assert_str_eq(str_at(r, "locations/0/physicalLocation/artifactLocation/uri"),
		        "model.geq");
		check_region(at(r, "locations/0/physicalLocation/region"));
	}
	json_t *w = json_array_get(results, 0), *e = json_array_get(results, 1);
	ck_assert_str_eq(
	        str_at(w, "message/text"), "maxpool samples an off-centre grid: \"r, r2\"");
	/* the notes: the wrapped line joined, the place-less one kept without a location */
	ck_assert_str_eq(str_at(w, "relatedLocations/0/message/text"),
	        "its input is 29x29 so the last row is never sampled");
	check_region(at(w, "relatedLocations/0/physicalLocation/region"));
	ck_assert(json_object_get(at(w, "relatedLocations/1"), "physicalLocation") == NULL);
	/* the fix-it: insert-or-replace "2" (column 19) by "3, s=2" */
	json_t *rep = at(w, "fixes/0/artifactChanges/0/replacements/0");
	ck_assert_int_eq(int_at(rep, "deletedRegion/startColumn"), 19);
	ck_assert_int_eq(int_at(rep, "deletedRegion/endColumn"), 20);
	ck_assert_str_eq(str_at(rep, "insertedContent/text"), "3, s=2");
	/* bytes 15-27 of line 3 follow a two-byte character: code points 14-26 */
	ck_assert_int_eq(int_at(e, "locations/0/physicalLocation/region/startColumn"), 14);
	ck_assert_int_eq(int_at(e, "locations/0/physicalLocation/region/endColumn"), 27);
	ck_assert(json_object_get(e, "fixes") == NULL);
	json_decref(root);
	free(buf);
	diag_log_free(&log);
}
END_TEST

/* gcc's JSON: warnings and errors at the top, notes as children, fix-its half open. */
START_TEST(test_json_is_gccs)
{
	DiagLog log = {0};
	Sink s;
	sink_src(&s, utf8_src, strlen(utf8_src));
	s.d.format = DF_JSON_STDERR;
	s.d.log = &log;
	report_sample(&s.d);
	diag_write_json(s.d.out, &s.d);
	char *buf = sink_close(&s);
	json_t *root = json_loads(buf, 0, NULL);
	ck_assert_msg(root != NULL, "%s", buf);
	ck_assert_int_eq((int)json_array_size(root), 2);
	ck_assert_str_eq(str_at(root, "0/kind"), "warning");
	ck_assert_str_eq(str_at(root, "0/option"), "-Wequivariance");
	ck_assert_int_eq((int)json_array_size(at(root, "0/children")), 2);
	ck_assert_str_eq(str_at(root, "0/children/0/kind"), "note");
	ck_assert_int_eq(int_at(root, "0/locations/0/caret/line"), 2);
	ck_assert_int_eq(int_at(root, "0/locations/0/finish/column"), 21);
	ck_assert_int_eq(int_at(root, "0/fixits/0/start/column"), 19);
	ck_assert_int_eq(int_at(root, "0/fixits/0/next/column"), 20);
	ck_assert_str_eq(str_at(root, "1/kind"), "error");
	ck_assert_int_eq(int_at(root, "1/locations/0/caret/byte-column"), 15);
	ck_assert_int_eq(int_at(root, "1/locations/0/caret/display-column"), 14);
	json_decref(root);
	free(buf);
	diag_log_free(&log);
}
END_TEST

/* Nothing on the text stream while collecting; a fix-it of a dropped warning is dropped. */
START_TEST(test_collecting_prints_nothing)
{
	DiagLog log = {0};
	Sink s;
	sink_src(&s, utf8_src, strlen(utf8_src));
	s.d.format = DF_SARIF_FILE;
	s.d.log = &log;
	s.d.no_equiv = true;
	report_sample(&s.d);
	ck_assert_str_eq(sink_close(&s), "");
	ck_assert_int_eq(log.n, 2); /* the error and its note */
	ck_assert_int_eq(log.rec[0].nfix, 0);
	ck_assert_int_eq(log.rec[1].parent, 0);
	free(s.text);
	diag_log_free(&log);
}
END_TEST

START_TEST(test_parseable_fixits)
{
	Sink s;
	sink_src(&s, paper29, strlen(paper29));
	s.d.parseable_fixits = true;
	warn_equiv(&s.d, span(6, 9, 21), "w");
	diag_fixit(&s.d, span(6, 21, 21), "3, s=2");
	diag_fixit(&s.d, (Loc){6, 22, 6, 21, NULL}, "\"q\"\\");
	ck_assert_str_eq(sink_close(&s), "model.geq:6:9: warning: w [-Wequivariance]\n"
	                                 "    6 |     h = maxpool(h, 2);\n"
	                                 "      |         ^~~~~~~~~~~~~\n"
	                                 "fix-it:\"model.geq\":{6:21-6:22}:\"3, s=2\"\n"
	                                 "fix-it:\"model.geq\":{6:22-6:22}:\"\\\"q\\\"\\\\\"\n");
	free(s.text);
}
END_TEST

/* gcc's SGR sequences: locus bold, kind and caret in the kind's colour; GCC_COLORS
 * overrides a capability, and GCC_COLORS= (set, empty) turns colour off. */
START_TEST(test_colours)
{
	Sink s;
	sink_src(&s, paper29, strlen(paper29));
	unsetenv("GCC_COLORS");
	ck_assert(diag_set_color(&s.d, "always"));
	error_at(&s.d, span(1, 1, 5), "e");
	ck_assert_str_eq(sink_close(&s),
	        "\33[01m\33[Kmodel.geq:1:1:\33[m\33[K \33[01;31m\33[Kerror:\33[m\33[K e\n"
	        "    1 | model paper29(x: [1, 29, 29]) on p4 {\n"
	        "      | \33[01;31m\33[K^~~~~\33[m\33[K\n");
	free(s.text);
	sink_src(&s, paper29, strlen(paper29));
	setenv("GCC_COLORS", "note=04;32:bogus=1:locus=", 1);
	ck_assert(diag_set_color(&s.d, "always"));
	note_at(&s.d, (Loc){0}, "n");
	ck_assert_str_eq(sink_close(&s),
	        "\33[m\33[Kmodel.geq:\33[m\33[K \33[04;32m\33[Knote:\33[m\33[K n\n");
	free(s.text);
	sink_src(&s, paper29, strlen(paper29));
	setenv("GCC_COLORS", "", 1);
	ck_assert(diag_set_color(&s.d, "always"));
	ck_assert(!s.d.color);
	ck_assert(!diag_set_color(&s.d, "sometimes"));
	unsetenv("GCC_COLORS");
	ck_assert(diag_set_color(&s.d, "never"));
	ck_assert(!s.d.color);
	fclose(s.d.out);
	free(s.text);
}
END_TEST

static Suite *diag_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, test_warning_with_caret_and_note);
	tcase_add_test(tc, test_error_counts_and_single_caret);
	tcase_add_test(tc, test_tabs_are_copied);
	tcase_add_test(tc, test_multiline_location);
	tcase_add_test(tc, test_unprintable_bytes);
	tcase_add_test(tc, test_no_location);
	tcase_add_test(tc, test_line_past_end);
	tcase_add_test(tc, test_werror_promotes);
	tcase_add_test(tc, test_no_equiv_suppresses_notes);
	tcase_add_test(tc, test_caret_past_line_end);
	tcase_add_test(tc, test_sarif_has_what_github_reads);
	tcase_add_test(tc, test_json_is_gccs);
	tcase_add_test(tc, test_collecting_prints_nothing);
	tcase_add_test(tc, test_parseable_fixits);
	tcase_add_test(tc, test_colours);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(diag_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
