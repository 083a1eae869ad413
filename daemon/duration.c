/* duration.c - durations and sizes from the config. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "duration.h"

static int parse_scaled(const char *s, int64_t *out, int64_t (*unit)(char c))
{
	int64_t total = 0;
	int parts = 0;

	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	while (*s) {
		int64_t n = 0, mul;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s)) {
			if (n > (INT64_MAX - 9) / 10)
				return -ERANGE;
			n = n * 10 + (*s++ - '0');
		}
		mul = 1;
		if (*s && !isspace((unsigned char)*s)) {
			mul = unit(*s++);
			if (mul <= 0)
				return -EINVAL;
		} else if (parts > 0) {
			return -EINVAL; /* "1h 30" is ambiguous */
		}
		if (n > INT64_MAX / mul || total > INT64_MAX - n * mul)
			return -ERANGE;
		total += n * mul;
		parts++;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (parts == 0)
		return -EINVAL;
	*out = total;
	return 0;
}

static int64_t duration_unit(char c)
{
	switch (c) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 7 * 86400;
	default:
		return -1;
	}
}

static int64_t size_unit(char c)
{
	switch (c) {
	case 'b':
	case 'B':
		return 1;
	case 'k':
	case 'K':
		return 1024;
	case 'm':
	case 'M':
		return 1024 * 1024;
	case 'g':
	case 'G':
		return 1024 * 1024 * 1024;
	default:
		return -1;
	}
}

/* Parse a duration in seconds. */
int fw_duration_parse(const char *text, int64_t *out)
{
	return parse_scaled(text, out, duration_unit);
}

/* Parse a byte size. */
int fw_size_parse(const char *text, int64_t *out)
{
	return parse_scaled(text, out, size_unit);
}
