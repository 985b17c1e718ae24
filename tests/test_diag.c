/* test_diag.c: diag_report's output, byte for byte against gcc's format as the brief and
 * SPEC §4 spell it out, and its counting under -Werror and -Wno-equivariance. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "geqc.h"

/* A Diag writing into memory, over a given source. */
typedef struct Sink {
	Diag d;
	char *buf;
	size_t len;
} Sink;

static void sink_open(Sink *s, const char *src, size_t srclen)
{
	memset(s, 0, sizeof *s);
	s->d.file = "model.geq";
	s->d.src = src;
	s->d.srclen = srclen;
	s->d.out = open_memstream(&s->buf, &s->len);
	ck_assert_ptr_nonnull(s->d.out);
}

/* Everything printed so far; the sink is closed. */
static char *sink_text(Sink *s)
{
	fclose(s->d.out);
	return s->buf;
}

static Loc span(int line, int first, int last)
{
	return (Loc){line, first, line, last};
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
	sink_open(&s, paper29, strlen(paper29));
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
	ck_assert_str_eq(sink_text(&s), want);
	ck_assert_int_eq(s.d.nwarnings, 1);
	ck_assert_int_eq(s.d.nerrors, 0);
	free(s.buf);
}
END_TEST

START_TEST(test_error_counts_and_single_caret)
{
	Sink s;
	sink_open(&s, paper29, strlen(paper29));
	error_at(&s.d, span(1, 1, 1), "%s %d", "one", 1);
	const char *want = "model.geq:1:1: error: one 1\n"
	                   "    1 | model paper29(x: [1, 29, 29]) on p4 {\n"
	                   "      | ^\n";
	ck_assert_str_eq(sink_text(&s), want);
	ck_assert_int_eq(s.d.nerrors, 1);
	ck_assert_int_eq(s.d.nwarnings, 0);
	free(s.buf);
}
END_TEST

/* The caret line keeps the source's tabs, so it lines up whatever the tab width. */
START_TEST(test_tabs_are_copied)
{
	const char src[] = "model m(x: [1, 4, 4]) on p1 {\n\t\th = \tbad(x);\n}\n";
	Sink s;
	sink_open(&s, src, strlen(src));
	error_at(&s.d, span(2, 8, 13), "x");
	const char *want = "model.geq:2:8: error: x\n"
	                   "    2 | \t\th = \tbad(x);\n"
	                   "      | \t\t    \t^~~~~~\n";
	ck_assert_str_eq(sink_text(&s), want);
	free(s.buf);
}
END_TEST

/* A location over several lines underlines to the end of its first line. */
START_TEST(test_multiline_location)
{
	const char src[] = "a = f(x,\n      y);\n";
	Sink s;
	sink_open(&s, src, strlen(src));
	Loc two_lines = {1, 5, 2, 8};
	error_at(&s.d, two_lines, "call");
	const char *want = "model.geq:1:5: error: call\n"
	                   "    1 | a = f(x,\n"
	                   "      |     ^~~~\n";
	ck_assert_str_eq(sink_text(&s), want);
	free(s.buf);
}
END_TEST

/* NUL and bytes >= 0x80 show as '?'; a CR before the newline is not shown. */
START_TEST(test_unprintable_bytes)
{
	const char src[] = "ab\0c\xe9\x01z\r\nnext";
	Sink s;
	sink_open(&s, src, sizeof src - 1);
	error_at(&s.d, span(1, 3, 3), "stray");
	error_at(&s.d, span(2, 1, 4), "last line without a newline");
	const char *want = "model.geq:1:3: error: stray\n"
	                   "    1 | ab?c??z\n"
	                   "      |   ^\n"
	                   "model.geq:2:1: error: last line without a newline\n"
	                   "    2 | next\n"
	                   "      | ^~~~\n";
	ck_assert_str_eq(sink_text(&s), want);
	free(s.buf);
}
END_TEST

START_TEST(test_no_location)
{
	Sink s;
	sink_open(&s, paper29, strlen(paper29));
	error_at(&s.d, (Loc){0}, "no model declared");
	ck_assert_str_eq(sink_text(&s), "model.geq: error: no model declared\n");
	ck_assert_int_eq(s.d.nerrors, 1);
	free(s.buf);
}
END_TEST

/* A line past the end of the source is not quoted (and nothing is read out of bounds). */
START_TEST(test_line_past_end)
{
	const char src[] = "one\ntwo";
	Sink s;
	sink_open(&s, src, strlen(src));
	error_at(&s.d, span(3, 1, 1), "far");
	error_at(&s.d, span(7, 1, 1), "farther");
	ck_assert_str_eq(
	        sink_text(&s), "model.geq:3:1: error: far\nmodel.geq:7:1: error: farther\n");
	free(s.buf);
}
END_TEST

START_TEST(test_werror_promotes)
{
	Sink s;
	sink_open(&s, paper29, strlen(paper29));
	s.d.werror = true;
	warn_equiv(&s.d, span(6, 9, 21), "off-centre");
	note_at(&s.d, span(6, 9, 21), "why");
	const char *want = "model.geq:6:9: error: off-centre [-Werror=equivariance]\n"
	                   "    6 |     h = maxpool(h, 2);\n"
	                   "      |         ^~~~~~~~~~~~~\n"
	                   "model.geq:6:9: note: why\n";
	ck_assert_str_eq(sink_text(&s), want);
	ck_assert_int_eq(s.d.nerrors, 1);
	ck_assert_int_eq(s.d.nwarnings, 0);
	free(s.buf);
}
END_TEST

/* -Wno-equivariance drops the warning and its notes, but not the next error's notes. */
START_TEST(test_no_equiv_suppresses_notes)
{
	Sink s;
	sink_open(&s, paper29, strlen(paper29));
	s.d.no_equiv = true;
	warn_equiv(&s.d, span(6, 9, 21), "dropped");
	note_at(&s.d, span(6, 9, 21), "dropped note");
	note_at(&s.d, span(2, 5, 5), "dropped too");
	error_at(&s.d, (Loc){0}, "kept");
	note_at(&s.d, (Loc){0}, "kept note");
	diag_report(&s.d, D_WARNING, (Loc){0}, "-Wother", "other flags stay");
	ck_assert_str_eq(sink_text(&s), "model.geq: error: kept\n"
	                                "model.geq: note: kept note\n"
	                                "model.geq: warning: other flags stay [-Wother]\n");
	ck_assert_int_eq(s.d.nerrors, 1);
	ck_assert_int_eq(s.d.nwarnings, 1);
	free(s.buf);
}
END_TEST

/* A caret at the column just past the end of the line (where a missing ';' goes). */
START_TEST(test_caret_past_line_end)
{
	const char src[] = "h = f(x)\n";
	Sink s;
	sink_open(&s, src, strlen(src));
	error_at(&s.d, span(1, 9, 9), "expected ';'");
	ck_assert_str_eq(sink_text(&s), "model.geq:1:9: error: expected ';'\n"
	                                "    1 | h = f(x)\n"
	                                "      |         ^\n");
	free(s.buf);
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
