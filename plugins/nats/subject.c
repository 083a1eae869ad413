/*
 * subject.c - NATS subjects for the nats output: the configured pattern checked, rendered
 * for one watchlist, the stream subject that covers it, wildcard matching. Pure: no I/O,
 * no logging, no libnats.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "nats_int.h"

#define PLACEHOLDER     "{watchlist}"
#define PLACEHOLDER_LEN (sizeof(PLACEHOLDER) - 1)

/* A byte kept as is in a watchlist token: ASCII letters and digits, '-', '_', and every
   byte of a UTF-8 sequence (NATS subjects are UTF-8). */
static bool token_byte(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/* Append the sanitised watchlist to out at *len; -ENAMETOOLONG when it does not fit. */
static int put_watchlist(const char *w, char *out, size_t n, size_t *len)
{
	size_t i, m = strlen(w);

	if (m > FW_SUBJECT_TOKEN) {
		m = FW_SUBJECT_TOKEN;
		while (m > 0 && ((unsigned char)w[m] & 0xC0) == 0x80)
			m--; /* never cut inside a UTF-8 sequence */
	}
	if (m == 0)
		w = "_", m = 1;
	if (*len + m >= n)
		return -ENAMETOOLONG;
	for (i = 0; i < m; i++)
		out[(*len)++] = token_byte((unsigned char)w[i]) ? w[i] : '_';
	return 0;
}

int fw_subject_render(const char *pattern, const char *watchlist, char *out, size_t n)
{
	size_t len = 0;
	const char *p = pattern;

	while (*p) {
		if (strncmp(p, PLACEHOLDER, PLACEHOLDER_LEN) == 0) {
			if (put_watchlist(watchlist, out, n, &len) < 0)
				return -ENAMETOOLONG;
			p += PLACEHOLDER_LEN;
			continue;
		}
		if (len + 1 >= n)
			return -ENAMETOOLONG;
		out[len++] = *p++;
	}
	if (len >= n)
		return -ENAMETOOLONG;
	out[len] = 0;
	return 0;
}

/* A literal publish subject: non-empty dot-separated tokens, no wildcard, no space. */
static const char *literal_why(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	bool empty = true;

	if (*p == 0)
		return "subject is empty";
	for (; *p; p++) {
		if (*p <= ' ' || *p == 0x7F)
			return "subject must not hold spaces or control characters";
		if (*p == '*' || *p == '>')
			return "subject must not hold the wildcards * or > (it is published to)";
		if (*p == '.') {
			if (empty)
				return "subject has an empty token (\"..\", or a dot at an end)";
			empty = true;
		} else {
			empty = false;
		}
	}
	return empty ? "subject has an empty token (\"..\", or a dot at an end)" : NULL;
}

int fw_subject_check(const char *pattern, const char **why)
{
	char out[FW_SUBJECT_MAX];
	const char *p;

	for (p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
		if (strncmp(p, PLACEHOLDER, PLACEHOLDER_LEN) != 0) {
			*why = "subject: the only placeholder is {watchlist}";
			return -EINVAL;
		}
	}
	if (strchr(pattern, '}') && !strstr(pattern, PLACEHOLDER)) {
		*why = "subject: the only placeholder is {watchlist}";
		return -EINVAL;
	}
	if (strlen(pattern) > FW_SUBJECT_MAX / 2 ||
	    fw_subject_render(pattern, "x", out, sizeof(out)) < 0) {
		*why = "subject is too long";
		return -EINVAL;
	}
	*why = literal_why(out);
	return *why ? -EINVAL : 0;
}

int fw_subject_cover(const char *pattern, char *out, size_t n)
{
	const char *ph = strstr(pattern, PLACEHOLDER);
	size_t keep;

	if (ph == NULL) {
		if (strlen(pattern) >= n)
			return -ENAMETOOLONG;
		strcpy(out, pattern);
		return 0;
	}
	/* Keep the tokens before the one holding the placeholder, with their dots. */
	keep = (size_t)(ph - pattern);
	while (keep > 0 && pattern[keep - 1] != '.')
		keep--;
	if (keep + 2 > n)
		return -ENAMETOOLONG;
	memcpy(out, pattern, keep);
	out[keep] = '>';
	out[keep + 1] = 0;
	return 0;
}

/* The length of the token at s (up to the next dot or the end). */
static size_t token_len(const char *s)
{
	const char *d = strchr(s, '.');

	return d ? (size_t)(d - s) : strlen(s);
}

bool fw_subject_matches(const char *filter, const char *subject)
{
	const char *f = filter, *s = subject;

	for (;;) {
		size_t fl = token_len(f), sl = token_len(s);

		if (fl == 1 && f[0] == '>')
			return *s != 0;
		if (*s == 0 || !((fl == 1 && f[0] == '*') || (fl == sl && memcmp(f, s, fl) == 0)))
			return false;
		f += fl;
		s += sl;
		if (*f == 0 || *s == 0)
			return *f == 0 && *s == 0;
		f++, s++;
	}
}

bool fw_subject_stream_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n = strlen(name);

	if (n == 0 || n > 255)
		return false;
	for (; *p; p++) {
		if (*p <= ' ' || *p == 0x7F || *p == '.' || *p == '*' || *p == '>' || *p == '/' ||
		    *p == '\\')
			return false;
	}
	return true;
}
