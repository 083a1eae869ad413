/*
 * test_subject.c - the nats output's subject helpers (plugins/nats/subject.c), pure
 * functions: a pattern checked, rendered for hostile watchlist names (always one token,
 * never a wildcard, never cut inside a character), the stream subject that covers it, and
 * NATS wildcard matching.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugins/nats/nats_int.h"

static void check_patterns(void **state)
{
	const char *why = NULL;

	(void)state;
	assert_int_equal(fw_subject_check(FW_SUBJECT_DEFAULT, &why), 0);
	assert_int_equal(fw_subject_check("alerts", &why), 0);
	assert_int_equal(fw_subject_check("a.wl-{watchlist}.x", &why), 0);
	assert_int_equal(fw_subject_check("a.{feed}", &why), -EINVAL);
	assert_non_null(strstr(why, "{watchlist}"));
	assert_int_equal(fw_subject_check("a.{watchlist", &why), -EINVAL);
	assert_int_equal(fw_subject_check("a.watchlist}", &why), -EINVAL);
	assert_int_equal(fw_subject_check("a.*.{watchlist}", &why), -EINVAL);
	assert_int_equal(fw_subject_check("a.>", &why), -EINVAL);
	assert_int_equal(fw_subject_check("a..b", &why), -EINVAL);
	assert_int_equal(fw_subject_check(".a", &why), -EINVAL);
	assert_int_equal(fw_subject_check("a.", &why), -EINVAL);
	assert_int_equal(fw_subject_check("", &why), -EINVAL);
	assert_int_equal(fw_subject_check("a b", &why), -EINVAL);
	assert_int_equal(fw_subject_check("a\tb", &why), -EINVAL);
}

static void render(void **state)
{
	char out[FW_SUBJECT_MAX], longname[400];

	(void)state;
	assert_int_equal(fw_subject_render(FW_SUBJECT_DEFAULT, "putin", out, sizeof(out)), 0);
	assert_string_equal(out, "feedwatch.alerts.putin");
	assert_int_equal(fw_subject_render(FW_SUBJECT_DEFAULT, "a.b *> c\r\n", out, sizeof(out)),
	                 0);
	assert_string_equal(out, "feedwatch.alerts.a_b____c__");
	assert_int_equal(fw_subject_render("x.{watchlist}", "", out, sizeof(out)), 0);
	assert_string_equal(out, "x._");
	assert_int_equal(fw_subject_render("x.{watchlist}", "Путин-news_1", out, sizeof(out)), 0);
	assert_string_equal(out, "x.Путин-news_1");
	assert_int_equal(fw_subject_render("{watchlist}.{watchlist}", "w", out, sizeof(out)), 0);
	assert_string_equal(out, "w.w");
	/* A long name is cut at FW_SUBJECT_TOKEN bytes, never inside a character. */
	memset(longname, 'a', 199);
	strcpy(longname + 199, "ППП");
	assert_int_equal(fw_subject_render("{watchlist}", longname, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 199);
	assert_int_equal(fw_subject_render("{watchlist}", "abc", out, 3), -ENAMETOOLONG);
	assert_int_equal(fw_subject_render("abc", "x", out, 3), -ENAMETOOLONG);
}

static void cover(void **state)
{
	char out[FW_SUBJECT_MAX];

	(void)state;
	assert_int_equal(fw_subject_cover(FW_SUBJECT_DEFAULT, out, sizeof(out)), 0);
	assert_string_equal(out, "feedwatch.alerts.>");
	assert_int_equal(fw_subject_cover("a.wl-{watchlist}.x", out, sizeof(out)), 0);
	assert_string_equal(out, "a.>");
	assert_int_equal(fw_subject_cover("alerts.all", out, sizeof(out)), 0);
	assert_string_equal(out, "alerts.all");
	assert_int_equal(fw_subject_cover("{watchlist}", out, sizeof(out)), 0);
	assert_string_equal(out, ">");
	assert_int_equal(fw_subject_cover("alerts.all", out, 5), -ENAMETOOLONG);
}

static void matches(void **state)
{
	(void)state;
	assert_true(fw_subject_matches("feedwatch.alerts.>", "feedwatch.alerts.putin"));
	assert_true(fw_subject_matches("feedwatch.alerts.>", "feedwatch.alerts.a.b"));
	assert_false(fw_subject_matches("feedwatch.alerts.>", "feedwatch.alerts"));
	assert_false(fw_subject_matches("feedwatch.alerts.>", "feedwatch.alertsx.a"));
	assert_true(fw_subject_matches("a.*.c", "a.b.c"));
	assert_false(fw_subject_matches("a.*.c", "a.b.c.d"));
	assert_false(fw_subject_matches("a.*", "a"));
	assert_true(fw_subject_matches("a.b", "a.b"));
	assert_false(fw_subject_matches("a.b", "a.bc"));
	assert_false(fw_subject_matches("a.bc", "a.b"));
	assert_true(fw_subject_matches(">", "x"));
}

static void stream_names(void **state)
{
	char big[300];

	(void)state;
	assert_true(fw_subject_stream_ok("FEEDWATCH_ALERTS"));
	assert_true(fw_subject_stream_ok("alerts-1"));
	assert_false(fw_subject_stream_ok(""));
	assert_false(fw_subject_stream_ok("a.b"));
	assert_false(fw_subject_stream_ok("a*"));
	assert_false(fw_subject_stream_ok("a>"));
	assert_false(fw_subject_stream_ok("a/b"));
	assert_false(fw_subject_stream_ok("a\\b"));
	assert_false(fw_subject_stream_ok("a b"));
	memset(big, 'a', 256);
	big[256] = 0;
	assert_false(fw_subject_stream_ok(big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(check_patterns), cmocka_unit_test(render),
	    cmocka_unit_test(cover),          cmocka_unit_test(matches),
	    cmocka_unit_test(stream_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
