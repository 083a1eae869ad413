/*
 * test_payload.c - the webhook's payload builders (plugins/webhook/payload*.c), pure
 * functions driven with alert JSON directly: the members the story layer and per-watchlist
 * settings add (priority, story updates), which the daemon of this branch does not raise
 * yet; ntfy tags; cuts at every length never splitting a character nor passing a limit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../plugins/webhook/webhook_int.h"

static const char *const prios[] = {"low", "normal", "high", "urgent"};

/* An alert (json_t, caller decrefs) with title, link, watchlist and, when set, priority. */
static json_t *alert(const char *title, const char *link, const char *watchlist,
                     const char *priority)
{
	json_t *a =
	    json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s?, s:s, s:s}, s:[{s:s}]}", "id",
	              "0123456789abcdef", "watchlist", watchlist, "created", "2026-12-06T10:00:00Z",
	              "feed", "name", "world", "url", "https://example.org/f", "item", "title",
	              title, "link", link, "summary", "A summary.", "published",
	              "2026-12-06T09:59:00Z", "explain", "term", "@putin");

	if (priority)
		json_object_set_new(a, "priority", json_string(priority));
	return a;
}

/* Build fmt from a (decref'd); the payload is returned, its body parsed into *body when
   the format's body is JSON. */
static struct fw_payload build(enum wh_format fmt, json_t *a, json_t **body)
{
	struct fw_payload_opts o = {.format = fmt,
	                            .chat_id = "42",
	                            .user = "user-key",
	                            .app_key = "app-token",
	                            .pushover_retry = 60,
	                            .pushover_expire = 3600};
	struct fw_payload p;
	char *json = json_dumps(a, JSON_COMPACT);

	json_decref(a);
	assert_non_null(json);
	assert_int_equal(fw_payload_build(&o, json, &p), 0);
	free(json);
	if (body) {
		*body = json_loads(p.body, 0, NULL);
		assert_non_null(*body);
	}
	return p;
}

static const char *header(const struct fw_payload *p, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < p->n_headers; i++)
		if (strncmp(p->headers[i], name, n) == 0 && p->headers[i][n] == ':')
			return p->headers[i] + n + 2;
	return NULL;
}

static void priority_maps(void **state)
{
	static const char *const ntfy[] = {"2", "3", "4", "5"};
	static const int pushover[] = {-1, 0, 1, 2}, gotify[] = {2, 5, 8, 10};
	static const unsigned colour[] = {0x95a5a6, 0x3498db, 0xe67e22, 0xe74c3c};

	(void)state;
	for (int i = 0; i < 5; i++) {
		const char *pr = i < 4 ? prios[i] : NULL; /* absent = normal */
		int k = i < 4 ? i : 1;
		char hex[16];
		json_t *b;
		struct fw_payload p = build(WH_NTFY, alert("Putin", NULL, "w", pr), NULL);

		assert_string_equal(header(&p, "Priority"), ntfy[k]);
		fw_payload_free(&p);
		p = build(WH_PUSHOVER, alert("Putin", NULL, "w", pr), &b);
		assert_int_equal(json_integer_value(json_object_get(b, "priority")), pushover[k]);
		/* Emergency priority needs retry and expire; the others carry neither. */
		assert_int_equal(json_object_get(b, "retry") != NULL, k == 3);
		assert_int_equal(json_integer_value(json_object_get(b, "expire")),
		                 k == 3 ? 3600 : 0);
		json_decref(b);
		fw_payload_free(&p);
		p = build(WH_GOTIFY, alert("Putin", NULL, "w", pr), &b);
		assert_int_equal(json_integer_value(json_object_get(b, "priority")), gotify[k]);
		json_decref(b);
		fw_payload_free(&p);
		p = build(WH_DISCORD, alert("Putin", NULL, "w", pr), &b);
		assert_int_equal(json_integer_value(json_object_get(
		                     json_array_get(json_object_get(b, "embeds"), 0), "color")),
		                 colour[k]);
		json_decref(b);
		fw_payload_free(&p);
		snprintf(hex, sizeof(hex), "#%06x", colour[k]);
		p = build(WH_SLACK, alert("Putin", NULL, "w", pr), &b);
		assert_string_equal(
		    json_string_value(json_object_get(
		        json_array_get(json_object_get(b, "attachments"), 0), "color")),
		    hex);
		json_decref(b);
		fw_payload_free(&p);
		p = build(WH_MATTERMOST, alert("Putin", NULL, "w", pr), &b);
		assert_string_equal(
		    json_string_value(json_object_get(
		        json_array_get(json_object_get(b, "attachments"), 0), "color")),
		    hex);
		json_decref(b);
		fw_payload_free(&p);
		p = build(WH_TELEGRAM, alert("Putin", NULL, "w", pr), &b);
		assert_int_equal(json_is_true(json_object_get(b, "disable_notification")), k == 0);
		json_decref(b);
		fw_payload_free(&p);
	}
}

/* A digest takes the highest priority among its alerts. */
static void digest_priority(void **state)
{
	json_t *d = json_pack("{s:i, s:[o, o]}", "digest", 2, "alerts",
	                      alert("a", NULL, "w", "low"), alert("b", NULL, "w", "high"));
	struct fw_payload p = build(WH_NTFY, d, NULL);

	(void)state;
	assert_string_equal(header(&p, "Priority"), "4");
	assert_string_equal(header(&p, "Title"), "2 alerts (digest)");
	fw_payload_free(&p);
}

/* An update: story.new false, 3 added from 2 feeds, more beyond the list. */
static json_t *update(size_t more)
{
	json_t *a = alert("Newest item", "https://example.org/3", "w", NULL);

	json_object_set_new(
	    a, "story",
	    json_pack("{s:s, s:b, s:i, s:i, s:s, s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:n}, "
	              "{s:s, s:s, s:s}], s:I}",
	              "id", "s-0123456789abcdef", "new", 0, "items", 9, "feeds", 3, "first_alert",
	              "fedcba9876543210", "title", "Putin in Pyongyang", "added", "title",
	              "Newest item", "feed", "world", "link", "https://example.org/3", "title",
	              "Second <item>", "feed", "asia", "link", "title", "Third item", "feed",
	              "world", "link", "https://example.org/w/Putin_(x)", "more",
	              (json_int_t)more));
	return a;
}

static void story_updates(void **state)
{
	static const enum wh_format fmts[] = {WH_SLACK, WH_DISCORD,  WH_MATTERMOST, WH_MATRIX,
	                                      WH_NTFY,  WH_TELEGRAM, WH_PUSHOVER,   WH_GOTIFY};

	(void)state;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct fw_payload p = build(fmts[i], update(0), NULL);
		const char *head = "Putin in Pyongyang +3 items from 2 feeds";

		/* The headline ("story: " + head, the colon escaped in Markdown) is in the
		   body, or (ntfy) in the Title header. */
		if (fmts[i] == WH_NTFY)
			assert_string_equal(header(&p, "Title"), "story: Putin in Pyongyang +3 "
			                                         "items from 2 feeds");
		else
			assert_non_null(strstr(p.body, head));
		assert_non_null(strstr(fmts[i] == WH_NTFY ? header(&p, "Title") : p.body, "story"));
		assert_non_null(strstr(p.body, "Newest item"));
		assert_non_null(strstr(p.body, "Third item"));
		assert_non_null(strstr(p.body, "https://example.org/w/Putin_%28x%29"));
		assert_null(strstr(p.body, "more"));
		fw_payload_free(&p);
		p = build(fmts[i], update(25), NULL);
		assert_non_null(strstr(fmts[i] == WH_NTFY ? header(&p, "Title") : p.body,
		                       "+28 items from 2 feeds"));
		assert_non_null(strstr(p.body, "\xe2\x80\xa6 and 25 more"));
		fw_payload_free(&p);
	}
	/* story.new true: an ordinary alert. */
	{
		json_t *a = update(0), *b;
		struct fw_payload p;

		json_object_set_new(json_object_get(a, "story"), "new", json_true());
		p = build(WH_DISCORD, a, &b);
		assert_string_equal(json_string_value(json_object_get(
		                        json_array_get(json_object_get(b, "embeds"), 0), "title")),
		                    "Newest item");
		json_decref(b);
		fw_payload_free(&p);
	}
}

static void ntfy_tags(void **state)
{
	struct fw_payload p =
	    build(WH_NTFY, alert("Putin", "https://e.org/a b", "war, peace", NULL), NULL);

	(void)state;
	/* RFC 2047: the full-width comma is not ASCII; the value decodes to one tag. */
	assert_string_equal(header(&p, "Tags"), "=?UTF-8?B?d2Fy77yMIHBlYWNl?=");
	assert_string_equal(header(&p, "Click"), "https://e.org/a%20b");
	assert_string_equal(header(&p, "Markdown"), "yes");
	fw_payload_free(&p);
}

/* Titles of every length up to 1,500 characters of 1- to 4-byte characters: each format
   builds (jansson refuses a string cut inside a UTF-8 sequence) within its limits. */
static void every_length(void **state)
{
	static const char *const chars[] = {"a", "<", "\xd0\x9f", "\xe6\x99\xae",
	                                    "\xf0\x9f\x9a\x80"};
	char title[8192];

	(void)state;
	for (size_t len = 0; len < 1500; len += 37) {
		size_t o = 0;

		for (size_t k = 0; k < len; k++) {
			const char *c = chars[(k * 7 + len) % 5];

			memcpy(title + o, c, strlen(c));
			o += strlen(c);
		}
		title[o] = 0;
		for (int f = WH_SLACK; f < WH_N_FORMATS; f++) {
			json_t *b = NULL;
			struct fw_payload p =
			    build((enum wh_format)f, alert(title, NULL, "w", NULL),
			          f == WH_NTFY ? NULL : &b);

			if (f == WH_PUSHOVER) {
				const char *t = json_string_value(json_object_get(b, "title"));

				assert_true(json_string_length(json_object_get(b, "title")) <=
				            4 * 250);
				assert_true(fw_payload_len(t, strlen(t), WH_CHARS) <= 250);
			}
			if (f == WH_TELEGRAM) {
				const char *t = json_string_value(json_object_get(b, "text"));

				assert_true(fw_payload_len(t, strlen(t), WH_UTF16) <= 4096);
			}
			json_decref(b);
			fw_payload_free(&p);
		}
	}
}

/* Title and body templates: rendered, escaped for each format, within its limits. */
static void templates(void **state)
{
	json_t *a = alert("Putin <b>visits</b>", "https://example.org/a_(b)", "war", "high"), *b;
	struct fw_payload p;
	const char *text;

	(void)state;
	json_object_set_new(a, "template",
	                    json_pack("{s:s, s:s}", "title", "[{watchlist}] {title} *{priority}*",
	                              "body", "{feed}: {why}\n<i>{link}</i>"));
	p = build(WH_TELEGRAM, json_incref(a), &b);
	text = json_string_value(json_object_get(b, "text"));
	assert_non_null(strstr(text, ">[war] Putin &lt;b&gt;visits&lt;/b&gt; *high*</a></b>\n"));
	assert_non_null(
	    strstr(text, "\nworld: @putin\n&lt;i&gt;https://example.org/a_(b)&lt;/i&gt;"));
	assert_null(strstr(text, "world \xc2\xb7 war")); /* the meta line gave way */
	json_decref(b);
	fw_payload_free(&p);
	p = build(WH_DISCORD, json_incref(a), &b);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(b, "embeds"), 0), "title")),
	                    "\\[war\\] Putin \\<b\\>visits\\</b\\> \\*high\\*");
	json_decref(b);
	fw_payload_free(&p);
	p = build(WH_NTFY, json_incref(a), NULL);
	assert_string_equal(header(&p, "Title"), "[war] Putin <b>visits</b> *high*");
	fw_payload_free(&p);
	/* A template whose output is far longer than the limit is cut like any text. */
	json_object_set_new(
	    json_object_get(a, "template"), "body",
	    json_string("{snippet}{snippet}{snippet}{snippet}{snippet}{snippet}"
	                "{title}{title}{title}{title}{title}{title}{title}{title}"
	                "{title}{title}{title}{title}{title}{title}{title}{title}"
	                "{title}{title}{title}{title}{title}{title}{title}{title}"
	                "{title}{title}{title}{title}{title}{title}{title}{title}"
	                "{title}{title}{title}{title}{title}{title}{title}{title}"
	                "{title}{title}{title}{title}{title}{title}{title}{title}"));
	p = build(WH_PUSHOVER, a, &b);
	text = json_string_value(json_object_get(b, "message"));
	assert_true(fw_payload_len(text, strlen(text), WH_CHARS) <= 1024);
	assert_non_null(strstr(text, "\xe2\x80\xa6"));
	json_decref(b);
	fw_payload_free(&p);
}

static void bad_input(void **state)
{
	struct fw_payload_opts o = {.format = WH_SLACK};
	struct fw_payload p;

	(void)state;
	assert_int_equal(fw_payload_build(&o, "[1]", &p), -EBADMSG);
	assert_int_equal(fw_payload_build(&o, "{", &p), -EBADMSG);
	/* An empty digest and an alert with no members still build. */
	assert_int_equal(fw_payload_build(&o, "{\"digest\":0,\"alerts\":[]}", &p), 0);
	fw_payload_free(&p);
	o.format = WH_PUSHOVER;
	assert_int_equal(fw_payload_build(&o, "{}", &p), 0);
	fw_payload_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(priority_maps), cmocka_unit_test(digest_priority),
	    cmocka_unit_test(story_updates), cmocka_unit_test(ntfy_tags),
	    cmocka_unit_test(every_length),  cmocka_unit_test(templates),
	    cmocka_unit_test(bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
