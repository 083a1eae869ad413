/* test_duration.c - durations and sizes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "duration.h"

static void test_durations(void **state)
{
	int64_t v;

	assert_int_equal(fw_duration_parse("30", &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(fw_duration_parse("30s", &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(fw_duration_parse("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(fw_duration_parse("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(fw_duration_parse("1d", &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(fw_duration_parse("1h30m", &v), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(fw_duration_parse(" 1h 30m ", &v), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(fw_duration_parse("1w", &v), 0);
	assert_int_equal(v, 604800);
}

static void test_bad_durations(void **state)
{
	int64_t v = 7;

	assert_int_equal(fw_duration_parse("", &v), -EINVAL);
	assert_int_equal(fw_duration_parse("m", &v), -EINVAL);
	assert_int_equal(fw_duration_parse("5x", &v), -EINVAL);
	assert_int_equal(fw_duration_parse("-5s", &v), -EINVAL);
	assert_int_equal(fw_duration_parse("1h 30", &v), -EINVAL);
	assert_int_equal(fw_duration_parse("99999999999999999999d", &v), -ERANGE);
	assert_int_equal(fw_duration_parse("9999999999999999d", &v), -ERANGE);
	assert_int_equal(v, 7); /* untouched on error */
}

static void test_sizes(void **state)
{
	int64_t v;

	assert_int_equal(fw_size_parse("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(fw_size_parse("512k", &v), 0);
	assert_int_equal(v, 512 * 1024);
	assert_int_equal(fw_size_parse("16M", &v), 0);
	assert_int_equal(v, 16 * 1024 * 1024);
	assert_int_equal(fw_size_parse("1G", &v), 0);
	assert_int_equal(v, 1024LL * 1024 * 1024);
	assert_int_equal(fw_size_parse("1q", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_bad_durations),
	    cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
