/* schedule.h - when to poll a feed next: interval, floor, jitter, backoff, server hints.
   Pure: no I/O, no clock (now is an input). */
#ifndef FW_SCHEDULE_H
#define FW_SCHEDULE_H

#include <stdbool.h>
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
};

/* Longest delay a server hint (ttl, max-age, Expires, Retry-After) may impose. */
#define FW_SCHEDULE_MAX_HINT (24 * 3600)

/* The next poll time (Unix seconds): see schedule.c for the rules. */
int64_t fw_schedule_next(const struct fw_schedule_in *in);

/* Delay of the first poll of a feed whose stored next poll is past or unknown, spread
   over min(interval / 2, 60 s) by the seed so feeds do not fire at once. */
int64_t fw_schedule_first_delay(int64_t interval, uint64_t seed);

/* 64-bit FNV-1a of a string, for seeds. */
uint64_t fw_schedule_seed(const char *name);

#endif
