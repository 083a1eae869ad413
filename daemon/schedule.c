/* schedule.c - per-feed poll timing decisions (pure). */
#include "schedule.h"

/* FNV-1a: stable across runs and machines. */
uint64_t fw_schedule_seed(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * The rules, in order:
 *  - success: the interval, lengthened (never shortened) by the feed's <ttl>, Cache-Control
 *    max-age or Expires, each capped at FW_SCHEDULE_MAX_HINT;
 *  - failure: interval * 2^(streak - 1), capped at max(max_backoff, interval);
 *  - Retry-After (429, 503, or any response) is a lower bound, capped likewise;
 *  - jitter of +-10% (deterministic from seed and now), then the min_interval floor.
 * Recovery is immediate: the first success after errors goes back to the interval.
 */
int64_t fw_schedule_next(const struct fw_schedule_in *in)
{
	int64_t base = max64(in->interval, 1), span, j;

	if (in->ok) {
		if (in->ttl > 0)
			base = max64(base, min64((int64_t)in->ttl * 60, FW_SCHEDULE_MAX_HINT));
		if (in->max_age > 0)
			base = max64(base, min64(in->max_age, FW_SCHEDULE_MAX_HINT));
		if (in->expires > in->now)
			base = max64(base, min64(in->expires - in->now, FW_SCHEDULE_MAX_HINT));
	} else {
		int64_t cap = max64(in->max_backoff, in->interval);

		for (int64_t i = 1; i < in->error_streak && base < cap; i++)
			base *= 2;
		base = min64(base, cap);
	}
	if (in->retry_after > 0)
		base = max64(base, min64(in->retry_after, FW_SCHEDULE_MAX_HINT));
	span = base / 10;
	if (span > 0) {
		j = (int64_t)(mix(in->seed ^ (uint64_t)in->now) % (uint64_t)(2 * span + 1)) - span;
		/* Jitter never undercuts a server's explicit Retry-After. */
		if (!(in->retry_after > 0 && base + j < in->retry_after))
			base += j;
	}
	base = max64(base, in->min_interval);
	return in->now + base;
}

/* Spread of first polls. */
int64_t fw_schedule_first_delay(int64_t interval, uint64_t seed)
{
	int64_t window = min64(interval / 2, 60);

	if (window <= 0)
		return 0;
	return (int64_t)(mix(seed) % (uint64_t)window);
}
