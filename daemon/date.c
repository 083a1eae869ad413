/* date.c - feed dates: RFC 822/1123 and RFC 3339/ISO 8601 in, RFC 3339 UTC out. Pure. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "date.h"

/* Cursor over the date text; all helpers are locale-free. */
struct cur {
	const char *s;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void skip_space(struct cur *c)
{
	while (is_space(*c->s))
		c->s++;
}

/* Read exactly n digits (n <= 9); -1 when they are not there. */
static int digits(struct cur *c, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(c->s[i]))
			return -1;
		v = v * 10 + (c->s[i] - '0');
	}
	c->s += n;
	return v;
}

/* Read 1..max digits; -1 when none. */
static int some_digits(struct cur *c, int max, int *count)
{
	int v = 0, n = 0;

	while (n < max && is_digit(c->s[n])) {
		v = v * 10 + (c->s[n] - '0');
		n++;
	}
	if (n == 0)
		return -1;
	c->s += n;
	if (count)
		*count = n;
	return v;
}

/* Read an alphabetic word (lower-cased, at most size-1 letters kept); its length. */
static size_t word(struct cur *c, char *buf, size_t size)
{
	size_t n = 0;

	while (is_alpha(c->s[n])) {
		if (n + 1 < size)
			buf[n] = lower(c->s[n]);
		n++;
	}
	buf[n < size ? n : size - 1] = '\0';
	c->s += n;
	return n;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap(y) ? 29 : dim[m - 1];
}

/* Broken-down time plus zone offset in seconds east of UTC. */
struct tm_utc {
	int year, mon, day, hour, min, sec;
	int off;
};

#define DATE_MIN (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define DATE_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

static int finish(const struct tm_utc *t, int64_t *out)
{
	if (t->year < 1 || t->year > 9999 || t->mon < 1 || t->mon > 12 || t->day < 1 ||
	    t->day > days_in_month(t->year, t->mon) || t->hour < 0 || t->hour > 23 || t->min < 0 ||
	    t->min > 59 || t->sec < 0 || t->sec > 60)
		return -EINVAL;
	int64_t v = days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 +
	            t->min * 60 + t->sec - t->off;

	/* the zone (or a leap second) must not carry it out of years 0001..9999 UTC */
	if (v < DATE_MIN || v > DATE_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Numeric zone after the sign: "hh:mm", "hhmm" or "hh". Offset in seconds, or -1. */
static int numeric_zone(struct cur *c)
{
	int h = digits(c, 2), m = 0;

	if (h < 0)
		return -1;
	if (*c->s == ':')
		c->s++;
	if (is_digit(*c->s)) {
		m = digits(c, 2);
		if (m < 0)
			return -1;
	}
	if (h > 23 || m > 59)
		return -1;
	return h * 3600 + m * 60;
}

/* Zone abbreviations met in feeds, minutes east of UTC. Where one is ambiguous the reading
   feeds use wins (IST is India's, CST the US's, BST British Summer Time); AST, one of two
   continents' with nine hours between, is left out. */
static const struct {
	const char *name;
	int minutes;
} zone_names[] = {
    {"ut", 0},      {"utc", 0},     {"gmt", 0},    {"z", 0},      {"est", -300}, {"edt", -240},
    {"cst", -360},  {"cdt", -300},  {"mst", -420}, {"mdt", -360}, {"pst", -480}, {"pdt", -420},
    {"akst", -540}, {"akdt", -480}, {"hst", -600}, {"hdt", -540}, {"nst", -210}, {"ndt", -150},
    {"brt", -180},  {"art", -180},  {"wet", 0},    {"west", 60},  {"bst", 60},   {"ist", 330},
    {"cet", 60},    {"cest", 120},  {"met", 60},   {"mest", 120}, {"wat", 60},   {"cat", 120},
    {"sast", 120},  {"eet", 120},   {"eest", 180}, {"idt", 180},  {"eat", 180},  {"msk", 180},
    {"msd", 240},   {"pkt", 300},   {"npt", 345},  {"ict", 420},  {"wib", 420},  {"hkt", 480},
    {"sgt", 480},   {"pht", 480},   {"awst", 480}, {"wita", 480}, {"jst", 540},  {"kst", 540},
    {"wit", 540},   {"acst", 570},  {"acdt", 630}, {"aest", 600}, {"aedt", 660}, {"chst", 600},
    {"nzst", 720},  {"nzdt", 780},
};

/* The offset after "GMT+" or "UTC-": "8", "08", "5:30", "05:30" or "0530" (hours alone may
   have one digit here, as people write them). Offset in seconds, or -1. */
static int loose_zone(struct cur *c)
{
	int n, h = some_digits(c, 4, &n), m = 0;

	if (h < 0 || n == 3)
		return -1;
	if (n == 4) {
		m = h % 100;
		h /= 100;
	} else if (*c->s == ':') {
		c->s++;
		if ((m = digits(c, 2)) < 0)
			return -1;
	}
	if (h > 23 || m > 59)
		return -1;
	return h * 3600 + m * 60;
}

static int zone_index(const char *w, size_t n)
{
	for (size_t i = 0; i < sizeof(zone_names) / sizeof(zone_names[0]); i++)
		if (n < 8 && strcmp(w, zone_names[i].name) == 0)
			return (int)i;
	return -1;
}

/* A zone at c (after optional space): numeric, named, military, or none (UTC).
   Returns 0 and *off, or -1 on something that is not a zone. */
static int zone(struct cur *c, int *off)
{
	char w[8];

	skip_space(c);
	*off = 0;
	if (*c->s == '+' || *c->s == '-') {
		int sign = *c->s == '-' ? -1 : 1;
		c->s++;
		int v = numeric_zone(c);
		if (v < 0)
			return -1;
		*off = sign * v;
		/* "-0800 PST": the offset rules, a known name after it is redundant */
		struct cur z = *c;
		skip_space(&z);
		if (is_alpha(*z.s)) {
			size_t zn = word(&z, w, sizeof(w));
			if (zone_index(w, zn) >= 0)
				*c = z;
		}
		return 0;
	}
	if (!is_alpha(*c->s))
		return 0;
	size_t n = word(c, w, sizeof(w));
	int i = zone_index(w, n);
	if (i >= 0) {
		*off = zone_names[i].minutes * 60;
		/* "GMT+0200", "UTC-05:00" and "GMT+8" are seen in the wild. */
		if ((*c->s == '+' || *c->s == '-') && zone_names[i].minutes == 0) {
			int sign = *c->s == '-' ? -1 : 1;
			c->s++;
			int v = loose_zone(c);
			if (v < 0)
				return -1;
			*off = sign * v;
		}
		return 0;
	}
	/* RFC 822 military zones as written there: A..M (no J) east, N..Y west, Z = UT. */
	if (n == 1 && w[0] != 'j') {
		char z = w[0];
		if (z >= 'a' && z <= 'i')
			*off = (z - 'a' + 1) * 3600;
		else if (z >= 'k' && z <= 'm')
			*off = (z - 'k' + 10) * 3600;
		else if (z >= 'n' && z <= 'y')
			*off = -(z - 'n' + 1) * 3600;
		return 0;
	}
	return -1;
}

/* Only spaces and an optional parenthesised comment ("(PDT)") may follow a date. */
static bool at_end(struct cur *c)
{
	skip_space(c);
	if (*c->s == '(') {
		const char *e = strchr(c->s, ')');
		if (!e)
			return false;
		c->s = e + 1;
		skip_space(c);
	}
	return *c->s == '\0';
}

/* A 12-hour clock's "am"/"pm" ("AM", "a.m.") after optional space: 1 for pm, 0 for am
   (c moved past it), -1 when there is none (c untouched). */
static int meridiem(struct cur *c)
{
	const char *p = c->s;
	int pm;

	while (is_space(*p))
		p++;
	if (lower(*p) != 'a' && lower(*p) != 'p')
		return -1;
	pm = lower(*p) == 'p';
	p++;
	if (*p == '.')
		p++;
	if (lower(*p) != 'm')
		return -1;
	p++;
	if (*p == '.')
		p++;
	if (is_alpha(*p))
		return -1;
	c->s = p;
	return pm;
}

/* hh:mm[:ss[.frac]] [am|pm]; fractions are dropped (the contract is to the second). */
static int clock_time(struct cur *c, struct tm_utc *t)
{
	int n, pm;

	t->hour = some_digits(c, 2, &n);
	if (t->hour < 0 || *c->s != ':')
		return -1;
	c->s++;
	t->min = digits(c, 2);
	if (t->min < 0)
		return -1;
	t->sec = 0;
	if (*c->s == ':') {
		c->s++;
		t->sec = digits(c, 2);
		if (t->sec < 0)
			return -1;
		if (*c->s == '.' || *c->s == ',') {
			c->s++;
			if (!is_digit(*c->s))
				return -1;
			while (is_digit(*c->s))
				c->s++;
		}
	}
	pm = meridiem(c);
	if (pm >= 0) {
		/* "12:30 am" is half past midnight, "12:30 pm" half past noon */
		if (t->hour < 1 || t->hour > 12)
			return -1;
		t->hour = t->hour % 12 + (pm ? 12 : 0);
	}
	return 0;
}

/* RFC 3339 / ISO 8601 / W3C-DTF: YYYY-MM-DD[(T| )hh:mm[:ss[.f]][ am|pm][zone]], or the
   basic form YYYYMMDDThhmmss[zone]. Year first, the month and day may have one digit and
   be set off by '/' or '.' instead ("2020/1/10 14:33:00"): year-first is never read
   day-first. No zone means UTC. */
static int parse_iso(const char *s, int64_t *out)
{
	struct cur c = {s};
	struct tm_utc t = {0};
	char sep = 0;

	t.year = digits(&c, 4);
	if (t.year < 0)
		return -EINVAL;
	if (*c.s == '-' || *c.s == '/' || *c.s == '.')
		sep = *c.s++;
	bool basic = sep == 0;
	t.mon = basic ? digits(&c, 2) : some_digits(&c, 2, NULL);
	if (t.mon < 0)
		return -EINVAL;
	if (!basic) {
		if (*c.s != sep)
			return -EINVAL;
		c.s++;
	}
	t.day = basic ? digits(&c, 2) : some_digits(&c, 2, NULL);
	if (t.day < 0 || (!basic && is_digit(*c.s)))
		return -EINVAL;
	if (*c.s == 'T' || *c.s == 't' || (*c.s == ' ' && is_digit(c.s[1]))) {
		c.s++;
		if (basic) {
			if ((t.hour = digits(&c, 2)) < 0 || (t.min = digits(&c, 2)) < 0)
				return -EINVAL;
			if (is_digit(*c.s) && (t.sec = digits(&c, 2)) < 0)
				return -EINVAL;
		} else if (clock_time(&c, &t) < 0) {
			return -EINVAL;
		}
		if (zone(&c, &t.off) < 0)
			return -EINVAL;
	} else if (basic) {
		return -EINVAL; /* a bare 8-digit number is not a date we are sure of */
	}
	if (!at_end(&c))
		return -EINVAL;
	return finish(&t, out);
}

static int month_from_word(const char *w, size_t n)
{
	static const char *const months[12] = {"jan", "feb", "mar", "apr", "may", "jun",
	                                       "jul", "aug", "sep", "oct", "nov", "dec"};
	static const char *const full[12] = {"january",   "february", "march",    "april",
	                                     "may",       "june",     "july",     "august",
	                                     "september", "october",  "november", "december"};

	for (int i = 0; i < 12; i++) {
		if ((n == 3 && strcmp(w, months[i]) == 0) || strcmp(w, full[i]) == 0 ||
		    (i == 8 && strcmp(w, "sept") == 0))
			return i + 1;
	}
	return -1;
}

/* "April 24, 2025 at 8:56 AM": the word "at" may part the date from the time. */
static void skip_at(struct cur *c)
{
	if (lower(c->s[0]) == 'a' && lower(c->s[1]) == 't' && is_space(c->s[2])) {
		c->s += 2;
		skip_space(c);
	}
}

static int year_fix(int y, int ndigits)
{
	/* RFC 2822 4.3: two-digit years below 50 are 20xx, others 19xx. */
	if (ndigits == 2)
		return y < 50 ? 2000 + y : 1900 + y;
	if (ndigits == 4)
		return y;
	return -1;
}

/* RFC 822/1123/2822 and kin: [Day[,]] DD Mon YYYY [hh:mm[:ss]] [zone], also
   "Mon DD, YYYY ..." and asctime "Day Mon DD hh:mm:ss YYYY". Day names are skipped
   unchecked (feeds often get them wrong). */
static int parse_822(const char *s, int64_t *out)
{
	struct cur c = {s};
	struct tm_utc t = {0};
	char w[16];
	size_t n;
	int nd;

	skip_space(&c);
	if (is_alpha(*c.s)) {
		const char *save = c.s;
		n = word(&c, w, sizeof(w));
		if (month_from_word(w, n) > 0) {
			c.s = save; /* no day name: "Jun 18 2024" */
		} else {
			if (*c.s == '.')
				c.s++;
			skip_space(&c);
			if (*c.s == ',')
				c.s++;
		}
		skip_space(&c);
	}
	if (is_digit(*c.s)) {
		/* DD Mon YYYY */
		t.day = some_digits(&c, 2, NULL);
		skip_space(&c);
		if (*c.s == '-')
			c.s++;
		n = word(&c, w, sizeof(w));
		if ((t.mon = month_from_word(w, n)) < 0)
			return -EINVAL;
		if (*c.s == '.')
			c.s++;
		if (*c.s == '-')
			c.s++;
		skip_space(&c);
		int y = some_digits(&c, 4, &nd);
		if (y < 0 || (t.year = year_fix(y, nd)) < 0)
			return -EINVAL;
		if (*c.s == ',' && c.s[1] != '\0') /* "10 Jan 2020, 14:33" */
			c.s++;
		skip_space(&c);
		if (*c.s == '\0')
			return finish(&t, out);
		skip_at(&c);
		if (clock_time(&c, &t) < 0)
			return -EINVAL;
	} else if (is_alpha(*c.s)) {
		n = word(&c, w, sizeof(w));
		if ((t.mon = month_from_word(w, n)) < 0)
			return -EINVAL;
		if (*c.s == '.')
			c.s++;
		skip_space(&c);
		if ((t.day = some_digits(&c, 2, NULL)) < 0)
			return -EINVAL;
		if (*c.s == ',') {
			/* "Jun 18, 2024 [hh:mm[:ss]] [zone]" */
			c.s++;
			skip_space(&c);
			int y = some_digits(&c, 4, &nd);
			if (y < 0 || nd != 4)
				return -EINVAL;
			t.year = y;
			if (*c.s == ',' && c.s[1] != '\0') /* "January 10, 2020, 2:41 PM" */
				c.s++;
			skip_space(&c);
			if (*c.s == '\0')
				return finish(&t, out);
			skip_at(&c);
			if (clock_time(&c, &t) < 0)
				return -EINVAL;
		} else {
			skip_space(&c);
			if (is_digit(*c.s) && is_digit(c.s[1]) && is_digit(c.s[2])) {
				/* "Jun 18 2024 ..." */
				if ((t.year = digits(&c, 4)) < 0)
					return -EINVAL;
				skip_space(&c);
				if (*c.s != '\0' && clock_time(&c, &t) < 0)
					return -EINVAL;
			} else {
				/* asctime: "Jun 18 21:44:00 [zone] 2024" */
				if (clock_time(&c, &t) < 0)
					return -EINVAL;
				struct cur z = c;
				skip_space(&z);
				if (is_alpha(*z.s) && zone(&z, &t.off) == 0)
					c = z;
				skip_space(&c);
				if ((t.year = digits(&c, 4)) < 0)
					return -EINVAL;
				if (!at_end(&c))
					return -EINVAL;
				return finish(&t, out);
			}
		}
	} else {
		return -EINVAL;
	}
	if (zone(&c, &t.off) < 0 || !at_end(&c))
		return -EINVAL;
	return finish(&t, out);
}

/*
 * Parse a date as found in feeds: RFC 3339 / ISO 8601 (no zone = UTC, fractions dropped)
 * or RFC 822/1123/2822 with the variants seen in the wild. Returns 0 and Unix seconds in
 * *out, or -EINVAL (out untouched) when unsure.
 */
int fw_date_parse(const char *text, int64_t *out)
{
	char buf[128];
	int64_t t;
	int r;

	if (!text)
		return -EINVAL;
	while (is_space(*text))
		text++;
	size_t n = strlen(text);
	while (n > 0 && is_space(text[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (n >= 8 && is_digit(buf[0]) && is_digit(buf[1]) && is_digit(buf[2]) && is_digit(buf[3]))
		r = parse_iso(buf, &t);
	else
		r = parse_822(buf, &t);
	if (r < 0)
		return r;
	*out = t;
	return 0;
}

/*
 * Format t as RFC 3339 UTC into buf (size >= 32 recommended). Times outside years
 * 0000..9999 are clamped to the nearest end. Returns buf.
 */
char *fw_date_format(int64_t t, char *buf, size_t size)
{
	const int64_t lo = -62167219200LL; /* 0000-01-01T00:00:00Z */
	const int64_t hi = DATE_MAX;

	if (t < lo)
		t = lo;
	if (t > hi)
		t = hi;
	int64_t days = t / 86400, secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	/* civil_from_days (H. Hinnant) */
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(buf, size,
	         "%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64
	         "Z",
	         y, m, d, secs / 3600, secs / 60 % 60, secs % 60);
	return buf;
}
