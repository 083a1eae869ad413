/*
 * clock.h - the daemon's wall clock, which benchmarks may speed up.
 *
 * FEEDWATCH_TIME_SCALE (a number > 1, read once at start; for benchmarks only) makes the
 * daemon's time run that many times faster than the real one from FEEDWATCH_TIME_ORIGIN
 * (Unix seconds, default the start): now = origin + (real - origin) * scale. Poll and
 * delivery timers shrink by the same factor, so a replay server that serves each feed's
 * items published up to the same accelerated "now" sees the daemon as it would be over
 * hours. Unset (the normal case), the clock is time(2).
 */
#ifndef FW_CLOCK_H
#define FW_CLOCK_H

#include <stdint.h>

/* Read the environment (once; later calls do nothing). */
void fw_clock_init(void);

/* Now, Unix seconds, on the (possibly accelerated) clock. */
int64_t fw_clock_now(void);

/* Now with sub-second precision, Unix seconds. */
double fw_clock_now_f(void);

/* Real milliseconds of a timer that must last `seconds` on the clock. */
uint64_t fw_clock_timer_ms(int64_t seconds);

/* Real milliseconds until the clock reads the whole second `when` (0 if it has): unlike
   fw_clock_timer_ms(when - fw_clock_now()), not late by the fraction of the second now is
   into. */
uint64_t fw_clock_timer_until(int64_t when);

/* The time scale (1 when not accelerated). */
double fw_clock_scale(void);

#endif
