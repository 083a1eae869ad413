/*
 * payload_push.c - the push formats of the webhook output: ntfy (Markdown body, the rest
 * in headers), Telegram (sendMessage, HTML parse mode), Pushover (messages API, HTML) and
 * Gotify (POST /message, Markdown extras). Each follows its API's documented limits and
 * escaping. Pure: no I/O, no logging.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook_int.h"

#define NTFY_BODY      4000 /* bytes: ntfy turns a longer message into an attachment */
#define NTFY_TITLE     250  /* bytes of the Title header (before RFC 2047) */
#define NTFY_TAG       100  /* bytes of the Tags header (before RFC 2047) */
#define NTFY_CLICK     2000 /* bytes of the Click header */
#define TG_TEXT        4096 /* UTF-16 code units of sendMessage's text */
#define PO_MESSAGE     1024 /* characters */
#define PO_TITLE       250
#define PO_URL         512
#define PO_URL_TITLE   100
#define GOTIFY_TITLE   250  /* our cap: Gotify documents none */
#define GOTIFY_MESSAGE 4000 /* our cap */
#define PUSH_TITLE     1024

static const struct wh_style md_one = {WH_MD, WH_BYTES, "\n\n", "- "};
static const struct wh_style md_list = {WH_MD, WH_BYTES, "\n", "- "};

static void b64(const unsigned char *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
		v |= i + 2 < n ? in[i + 2] : 0;
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = 0;
}

/* "Name: value", value cut to max bytes on a character boundary, RFC 2047 encoded
   ("=?UTF-8?B?...?=") unless it is plain printable ASCII. */
static int header_text(struct fw_payload *p, const char *name, const char *value, size_t max)
{
	size_t n = fw_payload_prefix(value, max, WH_BYTES);
	bool plain = true;
	char *line, *enc;
	int r;

	for (size_t i = 0; i < n; i++)
		plain = plain && (unsigned char)value[i] >= 0x20 && (unsigned char)value[i] < 0x7f;
	enc = malloc(4 * ((n + 2) / 3) + 1);
	if (enc == NULL)
		return -ENOMEM;
	b64((const unsigned char *)value, n, enc);
	if (plain)
		r = asprintf(&line, "%s: %.*s", name, (int)n, value);
	else
		r = asprintf(&line, "%s: =?UTF-8?B?%s?=", name, enc);
	free(enc);
	if (r < 0)
		return -ENOMEM;
	r = fw_payload_header(p, line);
	free(line);
	return r;
}

/* The link a push notification opens: one alert's, or the newest item of a story update;
   percent-encoded, NULL when none (or longer than max). */
static char *click_url(const struct wh_msg *m, size_t max)
{
	char *u;

	if (m->one.link == NULL || (m->kind == WH_LIST && !m->story))
		return NULL;
	u = fw_payload_url_dup(m->one.link);
	if (u && strlen(u) > max) {
		free(u);
		u = NULL;
	}
	return u;
}

static const char *title_of(const struct wh_msg *m)
{
	if (m->kind == WH_LIST)
		return m->head;
	return *m->one.title ? m->one.title : "(no title)";
}

/* ntfy Tags: the watchlist as one tag (a comma, ntfy's separator, shown as a full-width
   comma "，" so that it cannot split the tag). */
static int ntfy_tags(struct fw_payload *out, const char *watchlist)
{
	struct fw_textbuf b = {.max = 4096};
	char *v;
	int r;

	for (const char *p = watchlist; *p; p++)
		if (*p == ',')
			fw_textbuf_puts(&b, "\xef\xbc\x8c");
		else
			fw_textbuf_add(&b, p, 1);
	v = fw_payload_take(&b);
	if (v == NULL)
		return -ENOMEM;
	r = *v ? header_text(out, "Tags", v, NTFY_TAG) : 0;
	free(v);
	return r;
}

int fw_payload_push_ntfy(const struct wh_msg *m, struct fw_payload *out)
{
	char prio[32], *click = click_url(m, NTFY_CLICK), *line = NULL;
	int r;

	if (m->kind == WH_ONE)
		out->body =
		    fw_payload_fit(m, fw_payload_render_desc, &md_one, 0, NTFY_BODY, WH_BYTES);
	else
		out->body = fw_payload_list(m, &md_list, NTFY_BODY, false, (size_t)-1);
	snprintf(prio, sizeof(prio), "Priority: %d", 2 + m->prio);
	r = fw_payload_header(out, "Content-Type: text/plain; charset=utf-8");
	r = r < 0 ? r : fw_payload_header(out, "Markdown: yes");
	r = r < 0 ? r : fw_payload_header(out, prio);
	r = r < 0 ? r : header_text(out, "Title", title_of(m), NTFY_TITLE);
	r = r < 0 ? r : ntfy_tags(out, m->one.watchlist);
	if (r == 0 && click) {
		r = asprintf(&line, "Click: %s", click) < 0 ? -ENOMEM : 0;
		r = r < 0 ? r : fw_payload_header(out, line);
	}
	free(line);
	free(click);
	return r;
}

int fw_payload_push_telegram(const struct wh_msg *m, const struct fw_payload_opts *o,
                             struct fw_payload *out)
{
	static const struct wh_style html = {WH_HTML, WH_UTF16, "\n", "\xe2\x80\xa2 "};
	char *text;

	/* HTML parse mode: only <, > and & are entities in text ("&quot;" in an href);
	   <b> and <a href> are among the tags it allows. The limit is 4096 characters after
	   entities are parsed; the marked-up text itself is kept within it. */
	if (m->kind == WH_ONE)
		text =
		    fw_payload_fit(m, fw_payload_render_one, &html, PUSH_TITLE, TG_TEXT, WH_UTF16);
	else
		text = fw_payload_list(m, &html, TG_TEXT, true, (size_t)-1);
	if (text == NULL)
		return -ENOMEM;
	out->body = fw_payload_dump(
	    json_pack("{s:s, s:s, s:s, s:b, s:{s:b}}", "chat_id", o->chat_id ? o->chat_id : "",
	              "text", text, "parse_mode", "HTML", "disable_notification", m->prio == 0,
	              "link_preview_options", "is_disabled", m->kind == WH_LIST));
	free(text);
	return fw_payload_header(out, "Content-Type: application/json");
}

/* Pushover's message of one alert: the meta line and the snippet (title and link travel
   in their own fields), with the link as <a> when it is too long for "url". */
static void po_one(struct fw_textbuf *b, const struct wh_msg *m, const struct wh_caps *c,
                   const void *arg)
{
	static const struct wh_style html = {WH_HTML, WH_CHARS, "\n", ""};
	const bool *link_inline = arg;

	if (*link_inline && !c->no_link) {
		fw_textbuf_puts(b, "<a href=\"");
		fw_payload_url(b, m->one.link, WH_HTML);
		fw_textbuf_puts(b, "\">link</a>\n");
	}
	fw_payload_render_desc(b, m, c, &html);
}

int fw_payload_push_pushover(const struct wh_msg *m, const struct fw_payload_opts *o,
                             struct fw_payload *out)
{
	static const struct wh_style html = {WH_HTML, WH_CHARS, "\n", "\xe2\x80\xa2 "};
	static const int prio[] = {-1, 0, 1, 2};
	char *url = click_url(m, PO_URL), *text, *title, *url_title = NULL;
	bool link_inline = m->one.link && url == NULL;
	json_t *o_json;
	int r = -ENOMEM;

	if (m->kind == WH_ONE)
		text = fw_payload_fit(m, po_one, &link_inline, 0, PO_MESSAGE, WH_CHARS);
	else
		text = fw_payload_list(m, &html, PO_MESSAGE, false, (size_t)-1);
	title = fw_payload_clip(title_of(m), PO_TITLE, WH_PLAIN, WH_CHARS);
	if (url)
		url_title = fw_payload_clip(*m->one.title ? m->one.title : "link", PO_URL_TITLE,
		                            WH_PLAIN, WH_CHARS);
	o_json = json_pack("{s:s, s:s, s:s?, s:s?, s:i, s:i}", "token",
	                   o->app_key ? o->app_key : "", "user", o->user ? o->user : "", "title",
	                   title, "message", text, "html", 1, "priority", prio[m->prio]);
	if (text == NULL || title == NULL || o_json == NULL || (url && url_title == NULL))
		goto done;
	if (url) {
		json_object_set_new(o_json, "url", json_string(url));
		json_object_set_new(o_json, "url_title", json_string(url_title));
	}
	if (prio[m->prio] == 2) {
		/* Emergency priority is repeated until acknowledged: retry and expire are
		   required (retry >= 30 s, expire <= 10800 s). */
		json_object_set_new(o_json, "retry", json_integer(o->pushover_retry));
		json_object_set_new(o_json, "expire", json_integer(o->pushover_expire));
	}
	out->body = fw_payload_dump(o_json);
	o_json = NULL;
	r = fw_payload_header(out, "Content-Type: application/json");
done:
	json_decref(o_json);
	free(url);
	free(text);
	free(title);
	free(url_title);
	return r;
}

int fw_payload_push_gotify(const struct wh_msg *m, struct fw_payload *out)
{
	static const int prio[] = {2, 5, 8, 10};
	static const struct wh_style md = {WH_MD, WH_CHARS, "\n\n", "- "};
	static const struct wh_style md_lines = {WH_MD, WH_CHARS, "\n", "- "};
	char *url = click_url(m, 4096), *text, *title;
	json_t *extras, *root = NULL;
	int r = -ENOMEM;

	if (m->kind == WH_ONE)
		text = fw_payload_fit(m, fw_payload_render_one, &md, PUSH_TITLE, GOTIFY_MESSAGE,
		                      WH_CHARS);
	else
		text = fw_payload_list(m, &md_lines, GOTIFY_MESSAGE, false, (size_t)-1);
	title = fw_payload_clip(title_of(m), GOTIFY_TITLE, WH_PLAIN, WH_CHARS);
	extras = json_pack("{s:{s:s}}", "client::display", "contentType", "text/markdown");
	if (text == NULL || title == NULL || extras == NULL)
		goto done;
	if (url)
		json_object_set_new(extras, "client::notification",
		                    json_pack("{s:{s:s}}", "click", "url", url));
	root = json_pack("{s:s, s:s, s:i, s:O}", "title", title, "message", text, "priority",
	                 prio[m->prio], "extras", extras);
	out->body = fw_payload_dump(root);
	r = fw_payload_header(out, "Content-Type: application/json");
done:
	json_decref(extras);
	free(url);
	free(text);
	free(title);
	return r;
}
