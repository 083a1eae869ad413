/* clock.c - the daemon's wall clock (accelerated for benchmarks: clock.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

static double scale = 1;
static double origin;
static bool ready;

/* See clock.h. */
void fw_clock_init(void)
{
	const char *s = getenv("FEEDWATCH_TIME_SCALE"), *o = getenv("FEEDWATCH_TIME_ORIGIN");
	struct timespec ts;

	if (ready)
		return;
	ready = true;
	clock_gettime(CLOCK_REALTIME, &ts);
	origin = (double)ts.tv_sec;
	if (s == NULL || *s == '\0')
		return;
	scale = strtod(s, NULL);
	if (!(scale >= 1 && scale <= 1e6))
		scale = 1;
	if (o && *o)
		origin = strtod(o, NULL);
}

static double real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* See clock.h. */
double fw_clock_now_f(void)
{
	if (scale == 1)
		return real_now();
	return origin + (real_now() - origin) * scale;
}

/* See clock.h. */
int64_t fw_clock_now(void)
{
	/* Not time(2): glibc reads the coarse clock, up to a tick behind CLOCK_REALTIME, so
	   an item dated by a server a moment ago could look fetched before it was published. */
	return (int64_t)fw_clock_now_f();
}

/* ms as a timer's milliseconds: at most about 30 years (a date read from a store or a
   feed cannot overflow the conversion). */
static uint64_t fw_clock_ms(double ms)
{
	return ms < 1e12 ? (uint64_t)ms : (uint64_t)1e12;
}

/* See clock.h. */
uint64_t fw_clock_timer_ms(int64_t seconds)
{
	if (seconds <= 0)
		return 0;
	return fw_clock_ms((double)seconds * 1000.0 / scale);
}

/* See clock.h. */
uint64_t fw_clock_timer_until(int64_t when)
{
	double ms = ((double)when - fw_clock_now_f()) * 1000.0 / scale;

	/* 2 ms more: libuv counts from its whole-millisecond loop time, so a timer of exactly
	   the real milliseconds left may fire a fraction of one early */
	return ms > 0 ? fw_clock_ms(ms) + 2 : 0;
}

/* See clock.h. */
double fw_clock_scale(void)
{
	return scale;
}
