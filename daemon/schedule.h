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
	/* The feed's fill ceiling (part 4): after a success, the interval (adaptive or
	   configured) is at most this; the server hints stay floors. 0 = none. */
	int64_t fill;
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
	/* the feed's burst model (part 3), NULL or not `on`: the rate alone */
	const struct fw_schedule_bursts *bursts;
};

/* The constant c of the square-root allocation for the n feeds of v (all learned). Returns
   0 when n is 0. */
double fw_schedule_budget(const struct fw_schedule_feed *v, size_t n);

/* One feed's interval under c: clamp(c / sqrt(rate), lo, hi), or for a bursty feed the
   threshold rule of part 3, clamped alike; interval when c <= 0. */
int64_t fw_schedule_adaptive(const struct fw_schedule_feed *f, double c);

/*
 * Adaptive polling, part 3: bursty feeds.
 *
 * News does not arrive as a Poisson process: a story breaks and several items follow
 * within minutes; a blog is active for a day, then silent. After such a feed publishes, the
 * next item is likelier soon than its average rate says; after a long silence, less likely.
 * Each feed keeps the dates of its newest FW_SCHEDULE_HISTORY items (in memory; refilled
 * from a document after a restart). When the gaps between them vary more than a Poisson
 * process's do (coefficient of variation above FW_SCHEDULE_BURSTY; it is 1 for Poisson),
 * the gaps are fitted (EM) with a mixture of two exponentials: a share p of short gaps of
 * mean ms (within a burst) and long ones of mean ml (between bursts). Read as a two-state
 * process, "active" publishes at a = 1/ms and turns quiet after an item with probability
 * 1 - p; "quiet" publishes its next item at g = 1/ml, and turns active after it with
 * probability p. Given that nothing was published for the `age` since the newest item, the
 * chance of being active is A0 = p e^(-age/ms) / (p e^(-age/ms) + (1-p) e^(-age/ml)), and
 * the expected publication rate x seconds later is
 *     lambda(x) = L + D e^(-k x),  k = g p + a (1-p),  A* = g p / k,
 *     L = g + (a - g) A* (= 1 / (p ms + (1-p) ml), the long-run rate),  D = (a - g)(A0 - A*).
 * Items published during the wait for the next poll T accrue the expected delay
 *     W(T) = integral_0^T lambda(x) (T - x) dx = L T^2 / 2 + D (T / k - (1 - e^(-k T)) / k^2),
 * and the next poll comes when W(T) = c^2 / 2, c being the constant of part 2: for a Poisson
 * feed (D = 0) that is T = c / sqrt(L), the square-root rule itself, so bursty and Poisson
 * feeds share one price per poll and one budget. Just after a burst's items, D > 0 and the
 * next poll comes sooner; after a long silence, D < 0 and it comes later. W grows with T
 * (its derivative is the expected count of items by T), so T is found by bisection. The
 * budget counts each feed at the interval its state at its last poll gives: the request
 * rate at any moment is the sum of the feeds' current 1 / T, which the constant keeps at the
 * budget.
 */
#define FW_SCHEDULE_HISTORY  64  /* newest item dates kept per feed */
#define FW_SCHEDULE_BURSTY   1.5 /* coefficient of variation of the gaps above which ... */
#define FW_SCHEDULE_MIN_GAPS 5   /* ... over at least this many gaps, a feed is bursty */

/* Dates as 32-bit Unix seconds (to 2106): 256 bytes a feed, not 512 (26 MB at 100,000
   feeds, bench/RESULTS.md Run M). */
struct fw_schedule_history {
	uint32_t t[FW_SCHEDULE_HISTORY]; /* publication dates, ascending, distinct */
	size_t n;
};

struct fw_schedule_bursts {
	bool on;          /* the gaps are bursty and the model below is fitted */
	double p, ms, ml; /* share of short gaps, mean short and long gap (seconds) */
	double age;       /* seconds from the newest item to the last poll */
};

/* Add the n dates of times[] (Unix seconds; INT64_MIN undated, dates before 1970 and dates
   after now are left out) to h, keeping the newest FW_SCHEDULE_HISTORY distinct ones.
   Returns how many were added. */
size_t fw_schedule_history_add(struct fw_schedule_history *h, int64_t now, const int64_t *times,
                               size_t n);

/* Fit b to the gaps of h, or turn it off when they are not bursty (or too few); the age is
   taken at now, the time of the poll. */
void fw_schedule_bursts_fit(struct fw_schedule_bursts *b, const struct fw_schedule_history *h,
                            int64_t now);

/* The expected delay W(T) that items published within t seconds of a poll accrue by then,
   under b (on) at its age: see above. */
double fw_schedule_bursts_wait(const struct fw_schedule_bursts *b, double t);

/*
 * Adaptive polling, part 4: a feed that outruns its polls.
 *
 * A feed document shows only its newest items. A poll's fresh items are its new ones
 * dated at or after the previous poll: an undated item, or one dated before (a feed that
 * re-keys or re-publishes old items), tells nothing of how fast the feed fills. When every
 * item of the document is fresh, items published in between may have scrolled off unseen:
 * a gap. Each feed keeps a fill ceiling on its interval, in fixed and adaptive polling
 * alike, set by how much of its document a poll finds fresh:
 *  - all of it, a gap: half the wait that overflowed (or half the ceiling, when the wait
 *    was longer);
 *  - more than half: three quarters of it, before it overflows;
 *  - at most a quarter: a quarter more, and past the feed's longest interval none;
 * never below the feed's min_interval. A Poisson feed that shows 20 items settles where a
 * poll finds about 8 fresh, at which a document overflows about once in 10^4 polls; a
 * ceiling set by one burst goes once the feed's polls find a quarter of it or less.
 */
#define FW_SCHEDULE_FILL_QUIET 4 /* a poll finding at most 1/4 of its items fresh: ... */
#define FW_SCHEDULE_FILL_GROW  4 /* ... the ceiling grows by 1/4 */

/* Whether a poll of n_items items, n_fresh of them fresh, found a gap (two items or more,
   all fresh). */
bool fw_schedule_gap(size_t n_items, size_t n_fresh);

/* The fill ceiling after a successful poll `waited` seconds after the previous one (0 =
   none known: unchanged) that found n_fresh of its n_items fresh (*fill, 0 = none): see
   above; lo and hi are the feed's shortest and longest intervals. */
void fw_schedule_fill_update(int64_t *fill, int64_t waited, size_t n_items, size_t n_fresh,
                             bool gap, int64_t lo, int64_t hi);

/* 64-bit FNV-1a of a string, for seeds. */
uint64_t fw_schedule_seed(const char *name);

#endif
