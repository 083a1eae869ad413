/* schedule.h - when to poll a feed next: interval, floor, jitter, backoff, server hints.
   Pure: no I/O, no clock (now is an input). */
#ifndef FW_SCHEDULE_H
#define FW_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fw_schedule_in {
	int64_t now;
	int64_t interval;     /* the feed's configured interval, seconds */
	int64_t min_interval; /* floor */
	int64_t max_backoff;  /* cap for error backoff */
	bool ok;              /* the poll succeeded (200 or 304) */
	int64_t error_streak; /* failures in a row, this one included */
	int64_t retry_after;  /* Retry-After seconds, or -1 */
	int64_t max_age;      /* Cache-Control max-age, or -1 */
	int64_t expires;      /* Expires, Unix time, or -1 */
	int ttl;              /* RSS <ttl> minutes, or -1 */
	uint64_t seed;        /* per-feed jitter seed (hash of the name) */
	/* Adaptive polling: the interval to use after a success instead of `interval` (from
	   fw_schedule_adaptive), 0 = the configured interval. Server hints still lengthen it. */
	int64_t adaptive;
	/* WebSub: the feed's pushes are live until then (Unix seconds): a floor on the next
	   poll, 0 = no push subscription. Filled by the push side; polling knows nothing else
	   of it. */
	int64_t push_until;
};

/* Longest delay a server hint (ttl, max-age, Expires, Retry-After) may impose. */
#define FW_SCHEDULE_MAX_HINT (24 * 3600)

/* The next poll time (Unix seconds): see schedule.c for the rules. */
int64_t fw_schedule_next(const struct fw_schedule_in *in);

/* Delay of the first poll of a feed whose stored next poll is past or unknown, spread
   over min(interval / 2, 60 s) by the seed so feeds do not fire at once. */
int64_t fw_schedule_first_delay(int64_t interval, uint64_t seed);

/*
 * Adaptive polling, part 1: the learned publication rate of a feed.
 *
 * An exponentially decayed estimate (time constant FW_SCHEDULE_TAU): `items` is the
 * decayed count of new items seen, `seconds` the decayed length of time observed, both
 * referred to the time `at`; the rate is (items + prior) / (seconds + prior time). Each
 * successful poll observes the window from the previous one (`at`) to now; its new items
 * count at their publication dates bounded to that window (an item dated before the
 * window counts at its start, an undated or future one at its end), at most
 * FW_SCHEDULE_BURST of them (a burst of hundreds, a re-published archive, counts as that
 * many: what matters for detection is how often something new appears). The first poll has
 * no previous one: its dated items span their own window (the oldest item's date to now,
 * at most FW_SCHEDULE_HORIZON), and the items after the oldest count (the feed shows its
 * last N items: N - 1 arrived in that span); undated items teach nothing, so a back
 * catalogue cannot fake a high rate. A feed silent for days sees `seconds` grow and its rate
 * fall, smoothly.
 */
struct fw_schedule_rate {
	double items;   /* decayed count of new items */
	double seconds; /* decayed observed time; 0 = nothing learned yet */
	int64_t at;     /* Unix seconds the two refer to (the last observation), 0 = never */
};

#define FW_SCHEDULE_TAU          (2 * 86400.0) /* decay time constant, seconds */
#define FW_SCHEDULE_HORIZON      (7 * 86400)   /* longest window a first poll may claim */
#define FW_SCHEDULE_BURST        10            /* new items one poll may count */
#define FW_SCHEDULE_PRIOR_ITEMS  0.1           /* prior: 0.1 item ... */
#define FW_SCHEDULE_PRIOR_SECOND 3600.0        /* ... per hour, weighing as one hour seen */

/* Fold one successful poll at now that found n new items with dates times[] (Unix seconds,
   or INT64_MIN when undated) into r. */
void fw_schedule_rate_observe(struct fw_schedule_rate *r, int64_t now, const int64_t *times,
                              size_t n);

/* The rate of r in new items per second (the prior when nothing is learned). */
double fw_schedule_rate_value(const struct fw_schedule_rate *r);

/* Whether r has learned anything (a window was observed). */
bool fw_schedule_rate_known(const struct fw_schedule_rate *r);

/*
 * Adaptive polling, part 2: intervals under a request budget.
 *
 * A feed publishing as a Poisson process of rate r_i and polled every T_i finds an item
 * T_i / 2 after publication on average, so the mean delay over all items is
 * sum(r_i T_i / 2) / sum(r_i). Fixed-interval polling spends the budget
 * B = sum(1 / I_i) requests per second (I_i the configured intervals). Minimising
 * sum(r_i T_i) subject to sum(1 / T_i) = B (Lagrange: r_i / 2 = mu / T_i^2) gives
 * T_i = c / sqrt(r_i): poll each feed in proportion to the square root of its rate. With
 * the bounds lo_i <= T_i <= hi_i (lo_i <= I_i <= hi_i) it becomes
 * T_i = clamp(c / sqrt(r_i), lo_i, hi_i), and c is the one value (found by bisection:
 * sum(1 / T_i) falls as c grows, from sum(1 / lo_i) >= B to sum(1 / hi_i) <= B) that
 * spends exactly B. Feeds with nothing learned keep their configured interval and their
 * share of the budget, and are left out.
 */
struct fw_schedule_feed {
	double rate;      /* new items per second (fw_schedule_rate_value) */
	int64_t interval; /* configured */
	int64_t lo, hi;   /* bounds (min_interval, max_interval), lo <= interval <= hi */
};

/* The constant c of the square-root allocation for the n feeds of v (all learned). Returns
   0 when n is 0. */
double fw_schedule_budget(const struct fw_schedule_feed *v, size_t n);

/* One feed's interval under c: clamp(c / sqrt(rate), lo, hi); interval when c <= 0. */
int64_t fw_schedule_adaptive(const struct fw_schedule_feed *f, double c);

/* 64-bit FNV-1a of a string, for seeds. */
uint64_t fw_schedule_seed(const char *name);

#endif
