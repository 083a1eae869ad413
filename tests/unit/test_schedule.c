/* test_schedule.c - poll timing decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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

#define HOUR 3600
#define T0   1700000000

/* A first poll of 21 items an hour apart (the newest just now): 20 arrived in 20 hours. */
static void test_rate_from_back_catalogue(void **state)
{
	struct fw_schedule_rate r = {0};
	int64_t times[21];
	double h;

	for (int i = 0; i < 21; i++)
		times[i] = T0 - (int64_t)i * HOUR;
	fw_schedule_rate_observe(&r, T0, times, 21);
	assert_true(fw_schedule_rate_known(&r));
	h = fw_schedule_rate_value(&r) * HOUR;
	assert_true(h > 0.8 && h < 1.1);
}

/* Undated items (a back catalogue of 500 with no dates) teach nothing: no fake rate. */
static void test_undated_back_catalogue_teaches_nothing(void **state)
{
	struct fw_schedule_rate r = {0};
	int64_t times[500];

	for (int i = 0; i < 500; i++)
		times[i] = INT64_MIN;
	fw_schedule_rate_observe(&r, T0, times, 500);
	assert_false(fw_schedule_rate_known(&r));
	/* the next poll, an hour later, with nothing new: a low rate, not 500 an hour */
	fw_schedule_rate_observe(&r, T0 + HOUR, NULL, 0);
	assert_true(fw_schedule_rate_known(&r));
	assert_true(fw_schedule_rate_value(&r) * HOUR < 0.1);
}

/* Items dated before the window (a back-dated item, a slow publisher) count inside it,
   and one poll counts at most FW_SCHEDULE_BURST new items. */
static void test_burst_is_capped(void **state)
{
	struct fw_schedule_rate r = {.items = 1, .seconds = 10 * HOUR, .at = T0};
	int64_t times[300];
	double before, after;

	before = fw_schedule_rate_value(&r);
	for (int i = 0; i < 300; i++)
		times[i] = T0 - 100 * HOUR; /* dated long before the window */
	fw_schedule_rate_observe(&r, T0 + 60, times, 300);
	after = fw_schedule_rate_value(&r);
	assert_true(r.items <= 1 + FW_SCHEDULE_BURST + 1e-9);
	assert_true(after > before);
	assert_true(after * HOUR < (1.0 + FW_SCHEDULE_BURST + 0.2) / (10.0 + 1 / 60.0 + 1) + 1e-9);
}

/* A feed publishing hourly, then silent for five days: the rate falls smoothly; when it
   publishes again, it rises. */
static void test_silence_lowers_rate(void **state)
{
	struct fw_schedule_rate r = {0};
	int64_t t = T0, one;
	double busy, silent, back;

	fw_schedule_rate_observe(&r, t, NULL, 0); /* first poll: nothing dated */
	for (int i = 0; i < 72; i++) {
		t += HOUR;
		one = t - 600;
		fw_schedule_rate_observe(&r, t, &one, 1);
	}
	busy = fw_schedule_rate_value(&r) * HOUR;
	assert_true(busy > 0.8 && busy < 1.1);
	for (int i = 0; i < 5 * 24; i++) {
		t += HOUR;
		fw_schedule_rate_observe(&r, t, NULL, 0);
	}
	silent = fw_schedule_rate_value(&r) * HOUR;
	assert_true(silent < busy / 5);
	assert_true(silent > 0);
	for (int i = 0; i < 6; i++) {
		t += HOUR;
		one = t - 60;
		fw_schedule_rate_observe(&r, t, &one, 1);
	}
	back = fw_schedule_rate_value(&r) * HOUR;
	assert_true(back > silent * 2);
}

/* The square-root allocation spends exactly the budget of fixed polling, and a feed
   publishing 100 times as often is polled 10 times as often. */
static void test_allocation_budget_and_sqrt(void **state)
{
	struct fw_schedule_feed v[3] = {
	    {.rate = 100.0 / 3600, .interval = 900, .lo = 1, .hi = 1000000},
	    {.rate = 1.0 / 3600, .interval = 900, .lo = 1, .hi = 1000000},
	    {.rate = 1.0 / 3600, .interval = 900, .lo = 1, .hi = 1000000},
	};
	double c = fw_schedule_budget(v, 3), spent = 0;
	int64_t t[3];

	for (int i = 0; i < 3; i++) {
		t[i] = fw_schedule_adaptive(&v[i], c);
		spent += 1.0 / (double)t[i];
	}
	assert_true(fabs(spent - 3.0 / 900) < 0.01 * 3.0 / 900);
	assert_true(t[1] == t[2]);
	assert_true(t[1] >= 9 * t[0] && t[1] <= 11 * t[0]);
	/* and the mean delay per item falls: sum(r T) / sum(r) against the fixed 900 s */
	assert_true((v[0].rate * t[0] + v[1].rate * t[1] + v[2].rate * t[2]) /
	                (v[0].rate + v[1].rate + v[2].rate) <
	            0.5 * 900);
}

/* Bounds hold, and the budget is still spent exactly: what a bounded feed cannot take goes
   to the others. */
static void test_allocation_bounds(void **state)
{
	struct fw_schedule_feed v[4] = {
	    {.rate = 1000.0 / 3600, .interval = 900, .lo = 300, .hi = 3600},
	    {.rate = 1e-9, .interval = 900, .lo = 60, .hi = 6 * 3600},
	    {.rate = 1.0 / 3600, .interval = 900, .lo = 60, .hi = 6 * 3600},
	    {.rate = 2.0 / 3600, .interval = 900, .lo = 60, .hi = 6 * 3600},
	};
	double c = fw_schedule_budget(v, 4), spent = 0;

	for (int i = 0; i < 4; i++) {
		int64_t t = fw_schedule_adaptive(&v[i], c);

		assert_true(t >= v[i].lo && t <= v[i].hi);
		spent += 1.0 / (double)t;
	}
	assert_int_equal(fw_schedule_adaptive(&v[0], c), 300);
	assert_int_equal(fw_schedule_adaptive(&v[1], c), 6 * 3600);
	assert_true(fabs(spent - 4.0 / 900) < 0.01 * 4.0 / 900);
	/* no constant: the configured interval */
	assert_int_equal(fw_schedule_adaptive(&v[2], 0), 900);
	assert_true(fw_schedule_budget(v, 0) == 0);
}

/* The adaptive interval replaces the configured one on success; hints and the floor stay
   floors; errors back off from the configured interval; push_until is a floor. */
static void test_next_with_adaptive(void **state)
{
	struct fw_schedule_in in = base();

	in.adaptive = 120;
	within(fw_schedule_next(&in) - in.now, 120, 10);
	in.ttl = 30; /* minutes: a floor */
	within(fw_schedule_next(&in) - in.now, 1800, 10);
	in.ttl = -1;
	in.min_interval = 300;
	assert_true(fw_schedule_next(&in) - in.now >= 300);
	in.min_interval = 60;
	in.ok = false;
	in.error_streak = 1;
	within(fw_schedule_next(&in) - in.now, 600, 10);
	in.ok = true;
	in.push_until = in.now + 5000;
	assert_int_equal(fw_schedule_next(&in), in.now + 5000);
}

/* The history keeps the newest FW_SCHEDULE_HISTORY distinct dates, ascending; undated and
   future ones are left out. */
static void test_history_keeps_newest(void **state)
{
	struct fw_schedule_history h = {0};
	int64_t t[3] = {T0 - 10, INT64_MIN, T0 + 100}, many[100];

	assert_int_equal(fw_schedule_history_add(&h, T0, t, 3), 1);
	assert_int_equal(fw_schedule_history_add(&h, T0, t, 1), 0); /* already there */
	for (int i = 0; i < 100; i++)
		many[i] = T0 - 1000 + i * 7 % 100 * 10; /* 100 dates, out of order */
	fw_schedule_history_add(&h, T0, many, 100);
	assert_int_equal(h.n, FW_SCHEDULE_HISTORY);
	assert_int_equal(h.t[h.n - 1], T0 - 10);
	for (size_t i = 1; i < h.n; i++)
		assert_true(h.t[i] > h.t[i - 1]);
	assert_int_equal(h.t[0], T0 - 1000 + (100 - FW_SCHEDULE_HISTORY) * 10);
	/* older than all kept: no room */
	t[0] = T0 - 5000;
	assert_int_equal(fw_schedule_history_add(&h, T0, t, 1), 0);
}

/* Reproducible exponential gaps (mean m) for Poisson feeds. */
static double expo(uint64_t *s, double m)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return -m * log(((double)(*s >> 11) + 0.5) / 9007199254740992.0);
}

/* A Poisson feed's gaps are not bursty: the rate alone decides (part 2 unchanged). */
static void test_poisson_is_not_bursty(void **state)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct fw_schedule_history h = {0};
		struct fw_schedule_bursts b;
		uint64_t s = seed;
		int64_t t = T0 - 100 * HOUR;

		for (int i = 0; i < FW_SCHEDULE_HISTORY; i++) {
			t += (int64_t)expo(&s, 1800) + 1;
			fw_schedule_history_add(&h, t, &t, 1);
		}
		fw_schedule_bursts_fit(&b, &h, t + 600);
		assert_false(b.on);
	}
}

/* Bursts of 8 items two minutes apart, every 10 to 14 hours; the newest item at `last`. */
static void bursty_history(struct fw_schedule_history *h, int64_t last)
{
	int64_t t = last - 7 * 120;

	for (int k = 0; k < 6; k++, t -= (10 + 2 * (k % 3)) * HOUR)
		for (int i = 0; i < 8; i++) {
			int64_t d = t + i * 120;

			fw_schedule_history_add(h, last, &d, 1);
		}
}

/* After a burst's items the next poll comes much sooner than the square-root rule at the
   feed's long-run rate would give; hours into a silence, no sooner; the model's long-run
   rate is the feed's; with nothing bursty (or no model) the interval is the old one. */
static void test_burst_brings_next_poll_forward(void **state)
{
	struct fw_schedule_history h = {0};
	struct fw_schedule_bursts b;
	struct fw_schedule_feed f = {.interval = 3600, .lo = 60, .hi = 6 * 3600, .bursts = &b};
	double c = 30, rate = 8.0 / (12 * HOUR), steady;
	int64_t soon, later;

	bursty_history(&h, T0);
	fw_schedule_bursts_fit(&b, &h, T0 + 60); /* a poll a minute after the newest item */
	assert_true(b.on);
	assert_true(b.ms > 60 && b.ms < 300);
	assert_true(b.ml > 8 * HOUR && b.ml < 16 * HOUR);
	assert_true(fabs(1 / (b.p * b.ms + (1 - b.p) * b.ml) - rate) < 0.2 * rate);
	f.rate = rate;
	steady = c / sqrt(rate);
	soon = fw_schedule_adaptive(&f, c);
	assert_true(soon < steady / 4);
	assert_true(soon >= 60);
	/* a poll three hours into the silence */
	fw_schedule_bursts_fit(&b, &h, T0 + 3 * HOUR);
	later = fw_schedule_adaptive(&f, c);
	assert_true(later >= steady);
	assert_true(later <= 6 * 3600);
	/* the threshold rule is the square-root rule when nothing is bursty */
	f.bursts = NULL;
	assert_true(llabs(fw_schedule_adaptive(&f, c) - llround(steady)) <= 1);
}

/*
 * Thirty days of one bursty feed and three Poisson feeds, polled by the allocation with its
 * constant recomputed every hour over the feeds' states at their last polls: the requests
 * stay within 3% of the budget of fixed polling, and the mean delay from publication to
 * detection is lower with the burst model than with the rate alone, most for the bursty
 * feed's items.
 */
struct simfeed {
	int64_t pub[2000];
	size_t n, seen;
	int64_t next;
	struct fw_schedule_rate rate;
	struct fw_schedule_history hist;
	struct fw_schedule_bursts bursts;
};

static void sim_feeds(struct simfeed *v)
{
	uint64_t s = 7;
	double means[3] = {1800, 7200, 6 * HOUR};
	int64_t t = T0 - 3 * 86400;

	memset(v, 0, 4 * sizeof(*v));
	while (t < T0 + 31 * 86400) {
		t += (int64_t)expo(&s, 12 * HOUR);
		for (int i = 0; i < 8 && v[0].n < 2000; i++)
			v[0].pub[v[0].n++] = t + i * 150;
		t += 7 * 150;
	}
	for (int k = 1; k < 4; k++)
		for (t = T0 - 3 * 86400; v[k].n < 2000;)
			v[k].pub[v[k].n++] = t += (int64_t)expo(&s, means[k - 1]) + 1;
}

/* One poll of feed f at now; the delays of the items it finds after `from` go to *sum. */
static void sim_poll(struct simfeed *f, int64_t now, int64_t from, double *sum, size_t *n)
{
	int64_t dates[2000];
	size_t k = 0;
	bool first = f->rate.at == 0;

	while (f->seen < f->n && f->pub[f->seen] <= now) {
		if (f->pub[f->seen] >= from && !first) {
			*sum += (double)(now - f->pub[f->seen]);
			(*n)++;
		}
		dates[k++] = f->pub[f->seen++];
	}
	fw_schedule_rate_observe(&f->rate, now, dates, k);
	fw_schedule_history_add(&f->hist, now, dates, k);
	fw_schedule_bursts_fit(&f->bursts, &f->hist, now);
}

static double sim_run(bool model, size_t *polls, double *bursty)
{
	static struct simfeed v[4];
	struct fw_schedule_feed sf[4];
	double c = 0, sum = 0, sum0 = 0;
	size_t n = 0, n0 = 0;
	int64_t recompute = T0, end = T0 + 30 * 86400;

	sim_feeds(v);
	*polls = 0;
	for (;;) {
		size_t i = 0;

		for (size_t k = 1; k < 4; k++)
			i = v[k].next < v[i].next ? k : i;
		if (v[i].next == 0)
			v[i].next = T0;
		if (v[i].next >= end)
			break;
		sim_poll(&v[i], v[i].next, T0 + 2 * 86400, i == 0 ? &sum0 : &sum,
		         i == 0 ? &n0 : &n);
		(*polls)++;
		for (size_t k = 0; k < 4; k++)
			sf[k] = (struct fw_schedule_feed){
			    .rate = fw_schedule_rate_value(&v[k].rate),
			    .interval = 3600,
			    .lo = 60,
			    .hi = 6 * 3600,
			    .bursts = model && v[k].rate.at ? &v[k].bursts : NULL};
		if (v[i].next >= recompute || c == 0) {
			size_t known = 0;

			while (known < 4 && v[known].rate.at)
				known++;
			c = known == 4 ? fw_schedule_budget(sf, 4) : 0;
			recompute = v[i].next + HOUR;
		}
		v[i].next += c > 0 ? fw_schedule_adaptive(&sf[i], c) : 3600;
	}
	*bursty = sum0 / (double)n0;
	return (sum + sum0) / (double)(n + n0);
}

/* A gap: every item of at least two fresh (new and dated at or after the previous poll,
   feeds.c counts them). */
static void test_gap_detection(void **state)
{
	(void)state;
	assert_true(fw_schedule_gap(20, 20));
	assert_true(fw_schedule_gap(2, 2));
	assert_false(fw_schedule_gap(20, 19)); /* one was seen, or dated before: covered */
	assert_false(fw_schedule_gap(20, 0));  /* re-keyed old items, or undated ones */
	assert_false(fw_schedule_gap(1, 1));   /* one item tells nothing */
	assert_false(fw_schedule_gap(0, 0));
}

/* The ceiling: half the wait that overflowed, halved again while it overflows, never below
   lo; three quarters of the wait that filled more than half the document; a quiet poll
   raises it by a quarter, and past hi it is gone. */
static void test_fill_ceiling(void **state)
{
	int64_t fill = 0;

	fw_schedule_fill_update(&fill, 3600, 20, 20, true, 60, 6 * 3600);
	assert_int_equal(fill, 1800);
	fw_schedule_fill_update(&fill, 1800, 20, 20, true, 60, 6 * 3600);
	assert_int_equal(fill, 900);
	/* a wait longer than the ceiling (a server hint): the ceiling is what is cut */
	fw_schedule_fill_update(&fill, 3000, 20, 20, true, 60, 6 * 3600);
	assert_int_equal(fill, 450);
	for (int i = 0; i < 10; i++)
		fw_schedule_fill_update(&fill, fill, 20, 20, true, 60, 6 * 3600);
	assert_int_equal(fill, 60);
	/* from a quarter to half new: unchanged */
	fw_schedule_fill_update(&fill, 60, 20, 10, false, 60, 6 * 3600);
	assert_int_equal(fill, 60);
	fw_schedule_fill_update(&fill, 60, 20, 6, false, 60, 6 * 3600);
	assert_int_equal(fill, 60);
	fw_schedule_fill_update(&fill, 60, 20, 5, false, 60, 6 * 3600);
	assert_int_equal(fill, 76);
	for (int i = 0; i < 100 && fill > 0; i++)
		fw_schedule_fill_update(&fill, fill, 20, 0, false, 60, 6 * 3600);
	assert_int_equal(fill, 0);
	/* no ceiling stays none while polls find at most half their document new */
	fw_schedule_fill_update(&fill, 600, 20, 10, false, 60, 6 * 3600);
	assert_int_equal(fill, 0);
	/* more than half: three quarters of the wait, before a gap */
	fw_schedule_fill_update(&fill, 600, 20, 11, false, 60, 6 * 3600);
	assert_int_equal(fill, 450);
	fw_schedule_fill_update(&fill, 400, 20, 15, false, 60, 6 * 3600);
	assert_int_equal(fill, 300);
	/* a poll with no known wait changes nothing */
	fw_schedule_fill_update(&fill, 0, 20, 20, false, 60, 6 * 3600);
	assert_int_equal(fill, 300);
}

/* The ceiling bounds the configured or adaptive interval after a success; the server's
   hints and min_interval stay floors, and a failure's backoff ignores it. */
static void test_next_with_fill(void **state)
{
	struct fw_schedule_in in = base();

	in.fill = 200;
	within(fw_schedule_next(&in) - in.now, 200, 10);
	in.adaptive = 1200;
	within(fw_schedule_next(&in) - in.now, 200, 10);
	in.adaptive = 100;
	within(fw_schedule_next(&in) - in.now, 100, 10);
	in.adaptive = 0;
	in.max_age = 500;
	within(fw_schedule_next(&in) - in.now, 500, 10);
	in.max_age = -1;
	in.fill = 10;
	assert_int_equal(fw_schedule_next(&in) - in.now, 60);
	in.ok = false;
	in.error_streak = 2;
	within(fw_schedule_next(&in) - in.now, 1200, 10);
}

/* Next Poisson arrival after t at `per_hour` (a fixed LCG: the test is deterministic). */
static double next_arrival(uint64_t *rng, double t, double per_hour)
{
	double u;

	*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
	u = ((double)(*rng >> 11) + 0.5) / 9007199254740992.0;
	return t - log(u) * 3600 / per_hour;
}

/* A feed that shows its newest 20 items and publishes 60 an hour, polled at a 1 h interval:
   without the ceiling, two thirds of its items scroll off; with it, the polls come down to
   where a poll finds a quarter to half of the document new, nothing is missed after the
   first hours, and the feed is not polled far more often than that needs. */
static void test_fill_catches_up_with_a_fast_feed(void **state)
{
	uint64_t rng = 7;
	int64_t now = 1000000, prev = now, fill = 0;
	double next = next_arrival(&rng, (double)now, 60);
	size_t published = 0, missed = 0, polls = 0, late_missed = 0, late_published = 0;

	for (int k = 0; k < 48 * 60 && now < 1000000 + 48 * 3600; k++) {
		struct fw_schedule_in in = base();
		size_t n = 0, shown;
		bool gap;

		in.now = now;
		in.interval = 3600;
		in.fill = fill;
		now = fw_schedule_next(&in);
		while (next <= (double)now) {
			n++;
			next = next_arrival(&rng, next, 60);
		}
		shown = n < 20 ? n : 20;
		published += n;
		missed += n - shown;
		if (now > 1000000 + 6 * 3600) {
			late_published += n;
			late_missed += n - shown;
		}
		gap = fw_schedule_gap(20, shown); /* every item dated when published: all fresh */
		fw_schedule_fill_update(&fill, now - prev, 20, shown, gap, 60, 6 * 3600);
		prev = now;
		polls++;
	}
	print_message("published %zu missed %zu late %zu/%zu polls %zu\n", published, missed,
	              late_missed, late_published, polls);
	assert_true(published > 2500);
	assert_int_equal(late_missed, 0); /* none once caught up */
	assert_true(missed * 20 < published);
	/* and about 8 items a poll (60 an hour at most every 6 minutes) */
	assert_true(polls < 48 * 10);
}

static void test_bursty_within_budget_and_faster(void **state)
{
	size_t with_polls, without_polls;
	double with_b, without_b;
	double with = sim_run(true, &with_polls, &with_b);
	double without = sim_run(false, &without_polls, &without_b);
	double budget = 4.0 * 30 * 24; /* four feeds at 1 h for 30 days */

	assert_true(fabs((double)with_polls - budget) < 0.03 * budget);
	assert_true(fabs((double)without_polls - budget) < 0.03 * budget);
	/* (with: 1,476 s, the bursty feed's items 1,899 s; without: 1,518 s and 2,040 s) */
	assert_true(with < 0.98 * without);
	assert_true(with_b < 0.95 * without_b);
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
	    cmocka_unit_test(test_rate_from_back_catalogue),
	    cmocka_unit_test(test_undated_back_catalogue_teaches_nothing),
	    cmocka_unit_test(test_burst_is_capped),
	    cmocka_unit_test(test_silence_lowers_rate),
	    cmocka_unit_test(test_allocation_budget_and_sqrt),
	    cmocka_unit_test(test_allocation_bounds),
	    cmocka_unit_test(test_next_with_adaptive),
	    cmocka_unit_test(test_history_keeps_newest),
	    cmocka_unit_test(test_poisson_is_not_bursty),
	    cmocka_unit_test(test_burst_brings_next_poll_forward),
	    cmocka_unit_test(test_bursty_within_budget_and_faster),
	    cmocka_unit_test(test_gap_detection),
	    cmocka_unit_test(test_fill_ceiling),
	    cmocka_unit_test(test_next_with_fill),
	    cmocka_unit_test(test_fill_catches_up_with_a_fast_feed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
