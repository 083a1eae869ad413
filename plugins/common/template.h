/*
 * template.h - the alert templates of watchlists and outputs ("{watchlist}: {title}"),
 * checked and rendered the same way by the daemon (config check) and by every plugin.
 * Header-only and pure (no logging, no I/O), like textbuf.h: a plugin links no daemon code,
 * so each compiles its own copy of these static functions.
 *
 * Syntax: literal text with fields in braces; "{{" and "}}" are a literal brace. Fields:
 *   {title} {link} {feed} {watchlist} {why} {snippet} {published} {author} {categories}
 *   {priority} {story.id} {story.items} {story.feeds} {story.title}
 * A template is plain text, the same for every format: the renderer passes the literal
 * text AND each field's text through the output's escape function (HTML, Markdown, none),
 * so no template can break an output's markup. An absent value renders as "".
 *
 * Values, from the alert JSON (docs/plugins.md): title, link, published, author = item.*;
 * feed = feed.name; categories = item.categories joined with ", "; why = the explain
 * entries as the log plugin writes them: `@putin "Putin" in title; @kim "Kim" in summary`;
 * snippet = the snippet of the first match outside the title, else item.summary; priority = "priority" (default
 * "normal"); story.* = the "story" object (items and feeds as decimal numbers).
 *
 * Caps: a template is at most FW_TEMPLATE_MAX bytes (fw_template_check refuses a longer
 * one); each field's text is cut at FW_TEMPLATE_FIELD_MAX bytes on a character boundary
 * with "..." (U+2026); the output stops at the textbuf's max, on a character boundary and
 * never inside one escaped character, with out->full set.
 */
#ifndef FW_PLUGIN_TEMPLATE_H
#define FW_PLUGIN_TEMPLATE_H

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "textbuf.h"

#define FW_TEMPLATE_MAX       1024
#define FW_TEMPLATE_FIELD_MAX 2048

/* Append the escaped form of s[0..n) (one UTF-8 character, or a run of them) to out. */
typedef void (*fw_template_escape_fn)(struct fw_textbuf *out, const char *s, size_t n, void *ctx);

/* The fields, in the order of fw_template_fields. */
enum fw_template_field {
	FW_TF_TITLE,
	FW_TF_LINK,
	FW_TF_FEED,
	FW_TF_WATCHLIST,
	FW_TF_WHY,
	FW_TF_SNIPPET,
	FW_TF_PUBLISHED,
	FW_TF_AUTHOR,
	FW_TF_CATEGORIES,
	FW_TF_PRIORITY,
	FW_TF_STORY_ID,
	FW_TF_STORY_ITEMS,
	FW_TF_STORY_FEEDS,
	FW_TF_STORY_TITLE,
};

static const char *const fw_template_fields[] = {
    "title",  "link",       "feed",     "watchlist", "why",         "snippet",     "published",
    "author", "categories", "priority", "story.id",  "story.items", "story.feeds", "story.title",
};
#define FW_TEMPLATE_NFIELDS (sizeof(fw_template_fields) / sizeof(fw_template_fields[0]))

/* The index of the field s[0..n) in fw_template_fields, or -1. */
static inline int fw_template_lookup(const char *s, size_t n)
{
	for (size_t i = 0; i < FW_TEMPLATE_NFIELDS; i++)
		if (strlen(fw_template_fields[i]) == n && memcmp(fw_template_fields[i], s, n) == 0)
			return (int)i;
	return -1;
}

/* Edit distance of a[0..an) and b (short strings only: both under 64 bytes). */
static inline size_t fw_template_distance(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b), row[64], prev, tmp;

	if (an >= 64 || bn >= 64)
		return 64;
	for (size_t j = 0; j <= bn; j++)
		row[j] = j;
	for (size_t i = 1; i <= an; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= bn; j++) {
			size_t best = prev + ((a[i - 1] | 0x20) == (b[j - 1] | 0x20) ? 0 : 1);

			tmp = row[j];
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			prev = tmp;
			row[j] = best;
		}
	}
	return row[bn];
}

/* The known field closest to s[0..n), within two edits, or NULL. */
static inline const char *fw_template_suggest(const char *s, size_t n)
{
	const char *best = NULL;
	size_t bd = 3;

	for (size_t i = 0; i < FW_TEMPLATE_NFIELDS; i++) {
		size_t d = fw_template_distance(s, n, fw_template_fields[i]);

		if (d < bd) {
			bd = d;
			best = fw_template_fields[i];
		}
	}
	return best;
}

/*
 * Walk tpl: call lit(s, n) for each run of literal text and field(index) for each field.
 * Either may be NULL (checking only). Returns 0, or -EINVAL with a message in err (which
 * names the column and the unknown field, with a "did you mean" when one is close).
 */
static inline int fw_template_walk(const char *tpl, char *err, size_t errlen,
                                   void (*lit)(void *, const char *, size_t),
                                   void (*field)(void *, int), void *arg)
{
	const char *p = tpl, *run = tpl;

	if (strlen(tpl) > FW_TEMPLATE_MAX) {
		snprintf(err, errlen, "template longer than %d bytes", FW_TEMPLATE_MAX);
		return -EINVAL;
	}
	while (*p) {
		const char *end, *hint;
		size_t col = (size_t)(p - tpl) + 1;
		int f;

		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			if (lit)
				lit(arg, run, (size_t)(p - run) + 1); /* up to one brace */
			p += 2;
			run = p;
			continue;
		}
		if (*p == '}') {
			snprintf(err, errlen,
			         "unbalanced '}' at column %zu (write '}}' for a brace)", col);
			return -EINVAL;
		}
		if (*p != '{') {
			p++;
			continue;
		}
		end = p + 1 + strcspn(p + 1, "{}");
		if (*end != '}') {
			snprintf(err, errlen, "unclosed '{' at column %zu (write '{{' for a brace)",
			         col);
			return -EINVAL;
		}
		f = fw_template_lookup(p + 1, (size_t)(end - p - 1));
		if (f < 0) {
			int n = (int)(end - p - 1 > 40 ? 40 : end - p - 1);

			hint = fw_template_suggest(p + 1, (size_t)(end - p - 1));
			snprintf(err, errlen, "unknown template field {%.*s} at column %zu%s%s%s",
			         n, p + 1, col, hint ? " (did you mean {" : "", hint ? hint : "",
			         hint ? "}?)" : "");
			return -EINVAL;
		}
		if (lit && p > run)
			lit(arg, run, (size_t)(p - run));
		if (field)
			field(arg, f);
		p = end + 1;
		run = p;
	}
	if (lit && p > run)
		lit(arg, run, (size_t)(p - run));
	return 0;
}

/*
 * Check a template: 0, or -EINVAL with a one-line message in err ("unknown template field
 * {titel} at column 1 (did you mean {title}?)", "unbalanced '}' at column 7", ...).
 */
static inline int fw_template_check(const char *tpl, char *err, size_t errlen)
{
	return fw_template_walk(tpl, err, errlen, NULL, NULL, NULL);
}

/* The alert's priority: 0 low, 1 normal (also when absent or unknown), 2 high, 3 urgent. */
static inline int fw_template_priority(json_t *alert)
{
	static const char *const names[] = {"low", "normal", "high", "urgent"};
	const char *p = json_string_value(json_object_get(alert, "priority"));

	for (int i = 0; p && i < 4; i++)
		if (strcmp(p, names[i]) == 0)
			return i;
	return 1;
}

/* The alert's "title" or "body" template (which), or NULL when it has none. */
static inline const char *fw_template_get(json_t *alert, const char *which)
{
	const char *s =
	    json_string_value(json_object_get(json_object_get(alert, "template"), which));

	return s && *s ? s : NULL;
}

struct fw_template_run {
	json_t *alert;
	fw_template_escape_fn esc;
	void *ctx;
	struct fw_textbuf *out;
	struct fw_textbuf tmp; /* a computed value (why, categories, numbers) */
};

/* The bytes of the UTF-8 character at s (1 for a stray or truncated byte). */
static inline size_t fw_template_charlen(const char *s, size_t left)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

	if (n > left)
		return 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

/* Append s[0..n) escaped, one character at a time, stopping whole at the cap. */
static inline void fw_template_put(struct fw_template_run *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !r->out->full && !r->out->oom;) {
		size_t k = fw_template_charlen(s + i, n - i), before = r->out->len;

		if (r->esc)
			r->esc(r->out, s + i, k, r->ctx);
		else
			fw_textbuf_add(r->out, s + i, k);
		if (r->out->full) { /* drop a half-appended escape */
			r->out->len = before;
			if (r->out->p)
				r->out->p[before] = 0;
		}
		i += k;
	}
}

static inline void fw_template_lit_cb(void *arg, const char *s, size_t n)
{
	fw_template_put(arg, s, n);
}

/* Append a field's value, cut at FW_TEMPLATE_FIELD_MAX on a character boundary. */
static inline void fw_template_value(struct fw_template_run *r, const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n <= FW_TEMPLATE_FIELD_MAX) {
		fw_template_put(r, v ? v : "", n);
		return;
	}
	n = FW_TEMPLATE_FIELD_MAX;
	while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
		n--;
	fw_template_put(r, v, n);
	fw_template_put(r, "\xe2\x80\xa6", 3);
}

static inline const char *fw_template_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The feeds of a story update's added items ("+3 items from 2 feeds"): how many differ. */
static inline size_t fw_template_added_feeds(json_t *story)
{
	json_t *added = json_object_get(story, "added");
	size_t n = json_array_size(added), feeds = 0;

	for (size_t i = 0; i < n; i++) {
		const char *f = fw_template_jstr(json_array_get(added, i), "feed");
		size_t k = 0;

		while (k < i &&
		       !(f && fw_template_jstr(json_array_get(added, k), "feed") &&
		         strcmp(f, fw_template_jstr(json_array_get(added, k), "feed")) == 0))
			k++;
		feeds += k == i;
	}
	return feeds;
}

/* why: `term "text" in field; ...`, as the log plugin writes it. */
static inline const char *fw_template_why(struct fw_template_run *r)
{
	json_t *ex = json_object_get(r->alert, "explain");

	for (size_t i = 0; i < json_array_size(ex); i++) {
		json_t *x = json_array_get(ex, i);
		const char *t = fw_template_jstr(x, "text");

		fw_textbuf_puts(&r->tmp, i ? "; " : "");
		fw_textbuf_puts(&r->tmp,
		                fw_template_jstr(x, "term") ? fw_template_jstr(x, "term") : "");
		if (t && *t) {
			fw_textbuf_puts(&r->tmp, " \"");
			fw_textbuf_puts(&r->tmp, t);
			fw_textbuf_puts(&r->tmp, "\"");
		}
		if (fw_template_jstr(x, "field")) {
			fw_textbuf_puts(&r->tmp, " in ");
			fw_textbuf_puts(&r->tmp, fw_template_jstr(x, "field"));
		}
	}
	return r->tmp.p;
}

/* snippet: around the first match outside the title (a title hit's snippet is the title
   again), else the summary. */
static inline const char *fw_template_snippet(json_t *alert)
{
	json_t *ex = json_object_get(alert, "explain");

	for (size_t i = 0; i < json_array_size(ex); i++) {
		json_t *x = json_array_get(ex, i);
		const char *f = fw_template_jstr(x, "field"), *s = fw_template_jstr(x, "snippet");

		if (s && *s && (f == NULL || strcmp(f, "title") != 0))
			return s;
	}
	return fw_template_jstr(json_object_get(alert, "item"), "summary");
}

static inline const char *fw_template_categories(struct fw_template_run *r)
{
	json_t *c = json_object_get(json_object_get(r->alert, "item"), "categories");

	for (size_t i = 0; i < json_array_size(c); i++) {
		const char *s = json_string_value(json_array_get(c, i));

		if (s) {
			fw_textbuf_puts(&r->tmp, r->tmp.len ? ", " : "");
			fw_textbuf_puts(&r->tmp, s);
		}
	}
	return r->tmp.p;
}

static inline const char *fw_template_number(struct fw_template_run *r, json_t *v)
{
	char num[32];

	if (!json_is_integer(v))
		return NULL;
	snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	fw_textbuf_puts(&r->tmp, num);
	return r->tmp.p;
}

static inline void fw_template_field_cb(void *arg, int f)
{
	struct fw_template_run *r = arg;
	json_t *a = r->alert, *item = json_object_get(a, "item"), *st = json_object_get(a, "story");
	const char *v = NULL;

	r->tmp.len = 0;
	if (r->tmp.p)
		r->tmp.p[0] = 0;
	switch (f) {
	case FW_TF_TITLE:
		v = fw_template_jstr(item, "title");
		break;
	case FW_TF_LINK:
		v = fw_template_jstr(item, "link");
		break;
	case FW_TF_FEED:
		v = fw_template_jstr(json_object_get(a, "feed"), "name");
		break;
	case FW_TF_WATCHLIST:
		v = fw_template_jstr(a, "watchlist");
		break;
	case FW_TF_WHY:
		v = fw_template_why(r);
		break;
	case FW_TF_SNIPPET:
		v = fw_template_snippet(a);
		break;
	case FW_TF_PUBLISHED:
		v = fw_template_jstr(item, "published");
		break;
	case FW_TF_AUTHOR:
		v = fw_template_jstr(item, "author");
		break;
	case FW_TF_CATEGORIES:
		v = fw_template_categories(r);
		break;
	case FW_TF_PRIORITY:
		v = fw_template_jstr(a, "priority") ? fw_template_jstr(a, "priority") : "normal";
		break;
	case FW_TF_STORY_ID:
		v = fw_template_jstr(st, "id");
		break;
	case FW_TF_STORY_ITEMS:
		v = fw_template_number(r, json_object_get(st, "items"));
		break;
	case FW_TF_STORY_FEEDS:
		v = fw_template_number(r, json_object_get(st, "feeds"));
		break;
	case FW_TF_STORY_TITLE:
		v = fw_template_jstr(st, "title");
		break;
	default:
		break;
	}
	fw_template_value(r, v);
}

/*
 * Render tpl for one alert (an alert object, or one element of a digest's "alerts") into
 * out (appended; out->max is the cap), passing literal text and field values through esc
 * (NULL: copied as they are) with ctx. Returns 0 (out->full set when the cap cut the
 * text), -EINVAL for a template fw_template_check refuses (out untouched), -ENOMEM.
 */
static inline int fw_template_render(const char *tpl, json_t *alert, fw_template_escape_fn esc,
                                     void *ctx, struct fw_textbuf *out)
{
	struct fw_template_run r = {alert, esc, ctx, out, {.max = 16 * FW_TEMPLATE_FIELD_MAX}};
	char err[160];
	int rc = fw_template_check(tpl, err, sizeof(err));

	if (rc == 0)
		rc = fw_template_walk(tpl, err, sizeof(err), fw_template_lit_cb,
		                      fw_template_field_cb, &r);
	if (rc == 0 && (out->oom || r.tmp.oom))
		rc = -ENOMEM;
	free(r.tmp.p);
	return rc;
}

/* An escape function for HTML text and attribute values: & < > " ' as entities. */
static inline void fw_template_escape_html(struct fw_textbuf *out, const char *s, size_t n,
                                           void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			fw_textbuf_puts(out, "&amp;");
			break;
		case '<':
			fw_textbuf_puts(out, "&lt;");
			break;
		case '>':
			fw_textbuf_puts(out, "&gt;");
			break;
		case '"':
			fw_textbuf_puts(out, "&quot;");
			break;
		case '\'':
			fw_textbuf_puts(out, "&#39;");
			break;
		default:
			fw_textbuf_add(out, s + i, 1);
			break;
		}
	}
}

#endif
