/* schedule.c - per-feed poll timing decisions (pure). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
 * On success the interval is the adaptive one when given, at most the fill ceiling; the
 * server hints stay floors on it, and a WebSub push_until is a floor on the whole.
 */
int64_t fw_schedule_next(const struct fw_schedule_in *in)
{
	int64_t base = max64(in->interval, 1), span, j;

	if (in->ok) {
		if (in->adaptive > 0)
			base = in->adaptive;
		if (in->fill > 0)
			base = min64(base, in->fill);
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
	/* While pushes are live, polling waits for them (the push side decides how long). */
	if (in->push_until > in->now + base)
		base = in->push_until - in->now;
	return in->now + base;
}

/* See schedule.h. */
bool fw_schedule_gap(size_t n_items, size_t n_fresh)
{
	return n_items >= 2 && n_fresh >= n_items;
}

/* See schedule.h. */
void fw_schedule_fill_update(int64_t *fill, int64_t waited, size_t n_items, size_t n_fresh,
                             bool gap, int64_t lo, int64_t hi)
{
	int64_t f = *fill;
	/* the wait that filled the document, or the ceiling when the wait was longer (a hint) */
	int64_t over = f > 0 && f < waited ? f : waited;

	if (waited <= 0)
		return;
	if (gap)
		*fill = max64(over / 2, max64(lo, 1));
	else if (n_items >= 2 && n_fresh * 2 > n_items)
		*fill = max64(over - over / 4, max64(lo, 1));
	else if (f > 0 && n_fresh * FW_SCHEDULE_FILL_QUIET <= n_items) {
		f += f / FW_SCHEDULE_FILL_GROW + 1;
		*fill = f > hi ? 0 : f;
	}
}

/* Spread of first polls. */
int64_t fw_schedule_first_delay(int64_t interval, uint64_t seed)
{
	int64_t window = min64(interval / 2, 60);

	if (window <= 0)
		return 0;
	return (int64_t)(mix(seed) % (uint64_t)window);
}

/* Decay r to time t (t >= r->at). */
static void decay_to(struct fw_schedule_rate *r, int64_t t)
{
	double d;

	if (r->at == 0 || t <= r->at) {
		r->at = r->at ? r->at : t;
		return;
	}
	d = exp(-(double)(t - r->at) / FW_SCHEDULE_TAU);
	r->items *= d;
	r->seconds *= d;
	r->at = t;
}

/* Decayed weight, at `to`, of an item at t. */
static double weight(int64_t t, int64_t to)
{
	return exp(-(double)(to - t) / FW_SCHEDULE_TAU);
}

/* The first poll: the dated items span their own window. */
static void observe_first(struct fw_schedule_rate *r, int64_t now, const int64_t *times, size_t n)
{
	int64_t oldest = INT64_MAX, from;
	size_t counted = 0;

	for (size_t i = 0; i < n; i++)
		if (times[i] != INT64_MIN && times[i] <= now && times[i] < oldest)
			oldest = times[i];
	r->at = now;
	if (oldest == INT64_MAX)
		return; /* nothing dated: nothing learned */
	from = max64(oldest, now - FW_SCHEDULE_HORIZON);
	for (size_t i = 0; i < n; i++)
		if (times[i] != INT64_MIN && times[i] > from && times[i] <= now &&
		    counted < FW_SCHEDULE_BURST * 10) {
			r->items += weight(times[i], now);
			counted++;
		}
	/* integral of the decay over [from, now] */
	r->seconds += FW_SCHEDULE_TAU * (1 - exp(-(double)(now - from) / FW_SCHEDULE_TAU));
}

/* See schedule.h. */
void fw_schedule_rate_observe(struct fw_schedule_rate *r, int64_t now, const int64_t *times,
                              size_t n)
{
	int64_t from = r->at;

	if (r->at == 0) {
		observe_first(r, now, times, n);
		return;
	}
	if (now < from)
		return; /* the clock went back: wait for it */
	decay_to(r, now);
	r->seconds += FW_SCHEDULE_TAU * (1 - exp(-(double)(now - from) / FW_SCHEDULE_TAU));
	for (size_t i = 0; i < n && i < FW_SCHEDULE_BURST; i++) {
		int64_t t = times[i] == INT64_MIN ? now : min64(max64(times[i], from), now);

		r->items += weight(t, now);
	}
}

/* See schedule.h. */
double fw_schedule_rate_value(const struct fw_schedule_rate *r)
{
	double items = r->items > 0 ? r->items : 0, secs = r->seconds > 0 ? r->seconds : 0;

	return (items + FW_SCHEDULE_PRIOR_ITEMS) / (secs + FW_SCHEDULE_PRIOR_SECOND);
}

/* See schedule.h. */
bool fw_schedule_rate_known(const struct fw_schedule_rate *r)
{
	return r->seconds > 0;
}

/* The bursty feed's interval under c: W(T) = c^2 / 2 by bisection on log T in [lo, hi]. */
static double alloc_bursty(const struct fw_schedule_bursts *b, double c, double lo, double hi)
{
	double price = c * c / 2;

	if (fw_schedule_bursts_wait(b, lo) >= price)
		return lo;
	if (fw_schedule_bursts_wait(b, hi) <= price)
		return hi;
	for (int k = 0; k < 40; k++) {
		double mid = sqrt(lo * hi);

		if (fw_schedule_bursts_wait(b, mid) < price)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* clamp(c / sqrt(rate), lo, hi) as a double, or the threshold rule for a bursty feed. */
static double alloc_one(const struct fw_schedule_feed *f, double c)
{
	double lo = (double)max64(f->lo, 1), hi = (double)max64(f->hi, f->lo), t;

	if (f->bursts && f->bursts->on)
		return alloc_bursty(f->bursts, c, lo, hi);
	t = f->rate > 0 ? c / sqrt(f->rate) : hi;
	return t < lo ? lo : t > hi ? hi : t;
}

/* See schedule.h. */
int64_t fw_schedule_adaptive(const struct fw_schedule_feed *f, double c)
{
	if (c <= 0)
		return f->interval;
	return (int64_t)llround(alloc_one(f, c));
}

/* Requests per second the feeds of v spend under c. */
static double spend(const struct fw_schedule_feed *v, size_t n, double c)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += 1.0 / alloc_one(&v[i], c);
	return s;
}

/* See schedule.h. Bisection on log c: spend() falls as c grows. */
double fw_schedule_budget(const struct fw_schedule_feed *v, size_t n)
{
	double budget = 0, lo = 1e-6, hi = 1e9;

	for (size_t i = 0; i < n; i++)
		budget += 1.0 / (double)max64(v[i].interval, 1);
	if (n == 0)
		return 0;
	for (int k = 0; k < 60; k++) {
		double mid = sqrt(lo * hi);

		if (spend(v, n, mid) > budget)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* See schedule.h. Insertion into the ascending, distinct dates; the oldest go first. */
size_t fw_schedule_history_add(struct fw_schedule_history *h, int64_t now, const int64_t *times,
                               size_t n)
{
	size_t added = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t t = times[i];
		size_t at = h->n;

		if (t < 0 || t > now || t > (int64_t)UINT32_MAX)
			continue;
		while (at > 0 && h->t[at - 1] > t)
			at--;
		if (at > 0 && h->t[at - 1] == t)
			continue;
		if (h->n == FW_SCHEDULE_HISTORY) {
			if (at == 0)
				continue; /* older than all kept */
			memmove(h->t, h->t + 1, (at - 1) * sizeof(*h->t));
			h->t[at - 1] = (uint32_t)t;
		} else {
			memmove(h->t + at + 1, h->t + at, (h->n - at) * sizeof(*h->t));
			h->t[at] = (uint32_t)t;
			h->n++;
		}
		added++;
	}
	return added;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* EM for the mixture p Exp(ms) + (1 - p) Exp(ml) over the n sorted gaps of g. */
static void fit_mixture(struct fw_schedule_bursts *b, const double *g, size_t n)
{
	double ms = 0, ml = 0, p = 0.5;
	size_t half = n / 2;

	for (size_t i = 0; i < n; i++)
		*(i < half ? &ms : &ml) += g[i];
	ms = fmax(ms / (double)half, 1);
	ml = fmax(ml / (double)(n - half), 2 * ms);
	for (int it = 0; it < 60; it++) {
		double sw = 0, swx = 0, lw = 0, lwx = 0;

		for (size_t i = 0; i < n; i++) {
			/* responsibility of the short component, in logs: no underflow */
			double x = log(p / ms) - g[i] / ms, y = log((1 - p) / ml) - g[i] / ml;
			double w = 1 / (1 + exp(y - x));

			sw += w;
			swx += w * g[i];
			lw += 1 - w;
			lwx += (1 - w) * g[i];
		}
		p = fmin(fmax(sw / (double)n, 1e-3), 1 - 1e-3);
		ms = fmax(swx / fmax(sw, 1e-9), 1);
		ml = fmax(lwx / fmax(lw, 1e-9), 1);
		if (ms > ml) {
			double t = ms;

			ms = ml;
			ml = t;
			p = 1 - p;
		}
	}
	b->p = p;
	b->ms = ms;
	b->ml = ml;
}

/* See schedule.h. */
void fw_schedule_bursts_fit(struct fw_schedule_bursts *b, const struct fw_schedule_history *h,
                            int64_t now)
{
	double g[FW_SCHEDULE_HISTORY], mean = 0, var = 0;
	size_t n = h->n > 1 ? h->n - 1 : 0;

	*b = (struct fw_schedule_bursts){0};
	if (n < FW_SCHEDULE_MIN_GAPS)
		return;
	for (size_t i = 0; i < n; i++) {
		g[i] = fmax((double)(h->t[i + 1] - h->t[i]), 1);
		mean += g[i];
	}
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		var += (g[i] - mean) * (g[i] - mean);
	if (sqrt(var / (double)n) <= FW_SCHEDULE_BURSTY * mean)
		return; /* as regular as Poisson, or more: the rate alone says it */
	qsort(g, n, sizeof(*g), cmp_double);
	fit_mixture(b, g, n);
	b->age = fmax((double)(now - h->t[h->n - 1]), 0);
	b->on = true;
}

/* See schedule.h. */
double fw_schedule_bursts_wait(const struct fw_schedule_bursts *b, double t)
{
	double a = 1 / b->ms, g = 1 / b->ml, p = b->p;
	double x = log(p) - b->age / b->ms, y = log(1 - p) - b->age / b->ml;
	double a0 = 1 / (1 + exp(y - x)), k = g * p + a * (1 - p), as = g * p / k;
	double l = g + (a - g) * as, d = (a - g) * (a0 - as);

	/* T / k - (1 - e^(-kT)) / k^2, with expm1 for a small k T */
	return l * t * t / 2 + d * (t / k + expm1(-k * t) / (k * k));
}
