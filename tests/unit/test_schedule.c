/* test_schedule.c - poll timing decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "schedule.h"

static struct fw_schedule_in base(void)
{
	struct fw_schedule_in in = {.now = 1000000,
	                            .interval = 600,
	                            .min_interval = 60,
	                            .max_backoff = 6 * 3600,
	                            .ok = true,
	                            .error_streak = 0,
	                            .retry_after = -1,
	                            .max_age = -1,
	                            .expires = -1,
	                            .ttl = -1,
	                            .seed = 42};
	return in;
}

static void within(int64_t got, int64_t want, int64_t pct)
{
	int64_t slack = want * pct / 100;

	assert_true(got >= want - slack);
	assert_true(got <= want + slack);
}

static void test_interval_with_jitter(void **state)
{
	struct fw_schedule_in in = base();

	within(fw_schedule_next(&in) - in.now, 600, 10);
}

static void test_jitter_differs_by_feed(void **state)
{
	struct fw_schedule_in a = base(), b = base();
	int differ = 0;

	for (uint64_t s = 1; s < 20; s++) {
		a.seed = s;
		b.seed = s + 1000;
		differ += fw_schedule_next(&a) != fw_schedule_next(&b);
	}
	assert_true(differ > 10);
}

static void test_ttl_lengthens_never_shortens(void **state)
{
	struct fw_schedule_in in = base();

	in.ttl = 60; /* minutes */
	within(fw_schedule_next(&in) - in.now, 3600, 10);
	in.ttl = 1;
	within(fw_schedule_next(&in) - in.now, 600, 10);
}

static void test_hints_are_capped(void **state)
{
	struct fw_schedule_in in = base();

	in.max_age = 30 * 86400;
	assert_true(fw_schedule_next(&in) - in.now <= FW_SCHEDULE_MAX_HINT * 11 / 10);
	in = base();
	in.expires = in.now + 7200;
	within(fw_schedule_next(&in) - in.now, 7200, 10);
}

static void test_backoff_doubles_and_caps(void **state)
{
	struct fw_schedule_in in = base();

	in.ok = false;
	in.error_streak = 1;
	within(fw_schedule_next(&in) - in.now, 600, 10);
	in.error_streak = 3;
	within(fw_schedule_next(&in) - in.now, 2400, 10);
	in.error_streak = 40;
	within(fw_schedule_next(&in) - in.now, 6 * 3600, 10);
}

static void test_recovery_is_immediate(void **state)
{
	struct fw_schedule_in in = base();

	in.ok = true;
	in.error_streak = 0;
	within(fw_schedule_next(&in) - in.now, 600, 10);
}

static void test_retry_after_is_a_floor(void **state)
{
	struct fw_schedule_in in = base();

	in.ok = false;
	in.error_streak = 1;
	in.retry_after = 5000;
	assert_true(fw_schedule_next(&in) - in.now >= 5000);
	in.retry_after = 10 * 86400;
	assert_true(fw_schedule_next(&in) - in.now <= FW_SCHEDULE_MAX_HINT * 11 / 10);
}

static void test_floor(void **state)
{
	struct fw_schedule_in in = base();

	in.interval = 1;
	in.min_interval = 120;
	assert_true(fw_schedule_next(&in) - in.now >= 120);
}

static void test_first_delay_spread(void **state)
{
	int64_t seen[60] = {0};
	int distinct = 0;

	for (uint64_t s = 0; s < 1000; s++) {
		int64_t d = fw_schedule_first_delay(
		    3600, fw_schedule_seed((char[]){(char)('a' + s % 26), (char)('a' + s / 26 % 26),
		                                    (char)('0' + s / 676), 0}));

		assert_true(d >= 0 && d < 60);
		seen[d]++;
	}
	for (int i = 0; i < 60; i++)
		distinct += seen[i] > 0;
	assert_true(distinct > 50);
	assert_int_equal(fw_schedule_first_delay(1, 5), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_interval_with_jitter),
	    cmocka_unit_test(test_jitter_differs_by_feed),
	    cmocka_unit_test(test_ttl_lengthens_never_shortens),
	    cmocka_unit_test(test_hints_are_capped),
	    cmocka_unit_test(test_backoff_doubles_and_caps),
	    cmocka_unit_test(test_recovery_is_immediate),
	    cmocka_unit_test(test_retry_after_is_a_floor),
	    cmocka_unit_test(test_floor),
	    cmocka_unit_test(test_first_delay_spread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
