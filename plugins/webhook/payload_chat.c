/*
 * payload_chat.c - the chat formats of the webhook output: Slack (blocks in a coloured
 * attachment), Discord (an embed), Mattermost (an attachment) and Matrix (m.notice with
 * plain and HTML bodies). Each meets its platform's documented limits, counted the way
 * the platform counts them. Pure: no I/O, no logging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook_int.h"

#define SLACK_SECTION  3000 /* characters of a section's text */
#define SLACK_BLOCKS   50   /* blocks in a message */
#define SLACK_FALLBACK 300  /* characters of the notification text */
#define DISCORD_TITLE  256
#define DISCORD_DESC   4096
#define DISCORD_URL    2048
#define MM_TITLE       256
#define MM_TEXT        4000  /* our cap: Mattermost posts hold 16383 characters */
#define MATRIX_BODY    24000 /* bytes of body and of formatted_body: events are <= 64 KiB */
#define CHAT_TITLE     256

static void colour_hex(int prio, char *buf, size_t len)
{
	snprintf(buf, len, "#%06x", fw_payload_colour(prio));
}

static json_t *mrkdwn(const char *type, const char *text)
{
	return json_pack("{s:s, s:{s:s, s:s}}", "type", type, "text", "type", "mrkdwn", "text",
	                 text);
}

/* Slack blocks of a list: a section for the headline, one per item, "… and N more". */
static int slack_list(const struct wh_msg *m, const struct wh_style *st, json_t *blocks)
{
	size_t total = m->n + m->more;
	/* The headline, a section per item, and a context block when some are left out. */
	size_t max = total + 1 <= SLACK_BLOCKS && m->more == 0 ? total : SLACK_BLOCKS - 2;
	size_t listed = 0;
	char *text = fw_payload_clip(m->head, SLACK_SECTION - 2, WH_MRKDWN, WH_CHARS);
	struct fw_textbuf b = {.max = 1u << 20};

	if (text == NULL)
		return -ENOMEM;
	fw_textbuf_puts(&b, "*");
	fw_textbuf_puts(&b, text);
	fw_textbuf_puts(&b, "*");
	free(text);
	text = fw_payload_take(&b);
	if (text == NULL || json_array_append_new(blocks, mrkdwn("section", text)) < 0) {
		free(text);
		return -ENOMEM;
	}
	free(text);
	for (size_t i = 0; i < m->n && listed < max; i++, listed++) {
		static const size_t caps[] = {1000, 100, 100};
		struct wh_item it;
		struct fw_textbuf l = {.max = 1u << 20};

		fw_payload_list_item(m, i, &it);
		/* A link longer than a section: the line goes without it. */
		for (int k = 0; k < 3; k++) {
			free(l.p);
			l = (struct fw_textbuf){.max = 1u << 20};
			fw_payload_line(&l, &it, st, caps[k], k < 2);
			if (l.oom || fw_payload_len(l.p, l.len, WH_CHARS) <= SLACK_SECTION)
				break;
		}
		text = fw_payload_take(&l);
		if (text == NULL || json_array_append_new(blocks, mrkdwn("section", text)) < 0) {
			free(text);
			return -ENOMEM;
		}
		free(text);
	}
	if (listed < total) {
		struct fw_textbuf t = {.max = 256};

		fw_payload_more(&t, total - listed);
		text = fw_payload_take(&t);
		if (text == NULL ||
		    json_array_append_new(blocks, json_pack("{s:s, s:[{s:s, s:s}]}", "type",
		                                            "context", "elements", "type", "mrkdwn",
		                                            "text", text)) < 0) {
			free(text);
			return -ENOMEM;
		}
		free(text);
	}
	return 0;
}

int fw_payload_chat_slack(const struct wh_msg *m, struct fw_payload *out)
{
	static const struct wh_style st = {WH_MRKDWN, WH_CHARS, "\n", "\xe2\x80\xa2 "};
	json_t *blocks = json_array();
	char colour[16], *fallback, *text = NULL;
	int r = -ENOMEM;

	fallback = fw_payload_clip(m->kind == WH_ONE ? m->one.title : m->head, SLACK_FALLBACK,
	                           WH_MRKDWN, WH_CHARS);
	if (blocks == NULL || fallback == NULL)
		goto done;
	if (m->kind == WH_ONE) {
		text = fw_payload_fit(m, fw_payload_render_one, &st, CHAT_TITLE, SLACK_SECTION,
		                      WH_CHARS);
		if (text == NULL || json_array_append_new(blocks, mrkdwn("section", text)) < 0)
			goto done;
	} else if (slack_list(m, &st, blocks) < 0) {
		goto done;
	}
	colour_hex(m->prio, colour, sizeof(colour));
	/* "text" is the notification's fallback; a colour exists only on an attachment. */
	out->body =
	    fw_payload_dump(json_pack("{s:s, s:[{s:s, s:s, s:O}]}", "text", fallback, "attachments",
	                              "color", colour, "fallback", fallback, "blocks", blocks));
	r = fw_payload_header(out, "Content-Type: application/json");
done:
	json_decref(blocks);
	free(fallback);
	free(text);
	return r;
}

int fw_payload_chat_discord(const struct wh_msg *m, struct fw_payload *out)
{
	static const struct wh_style st = {WH_MD, WH_CHARS, "\n", "- "};
	const char *ts = m->one.published && m->kind == WH_ONE ? m->one.published : m->created;
	char *title, *desc, *url = NULL;
	json_t *embed;
	int r = -ENOMEM;

	title = fw_payload_clip(m->kind == WH_ONE ? (*m->one.title ? m->one.title : "(no title)")
	                                          : m->head,
	                        DISCORD_TITLE, WH_MD, WH_CHARS);
	if (m->kind == WH_ONE)
		desc = fw_payload_fit(m, fw_payload_render_desc, &st, 0, DISCORD_DESC, WH_CHARS);
	else
		desc = fw_payload_list(m, &st, DISCORD_DESC, false, (size_t)-1);
	embed = json_pack("{s:s?, s:s, s:I}", "title", title, "description", desc ? desc : "",
	                  "color", (json_int_t)fw_payload_colour(m->prio));
	if (title == NULL || desc == NULL || embed == NULL)
		goto done;
	if (m->kind == WH_ONE && m->one.link) {
		url = fw_payload_url_dup(m->one.link);
		if (url && strlen(url) <= DISCORD_URL)
			json_object_set_new(embed, "url", json_string(url));
	}
	if (ts)
		json_object_set_new(embed, "timestamp", json_string(ts));
	/* Mentions in an embed never ping; allowed_mentions says so for the whole message. */
	out->body = fw_payload_dump(
	    json_pack("{s:[O], s:{s:[]}}", "embeds", embed, "allowed_mentions", "parse"));
	r = fw_payload_header(out, "Content-Type: application/json");
done:
	json_decref(embed);
	free(title);
	free(desc);
	free(url);
	return r;
}

int fw_payload_chat_mattermost(const struct wh_msg *m, struct fw_payload *out)
{
	static const struct wh_style st = {WH_MD, WH_CHARS, "\n", "- "};
	char colour[16], *title, *text, *url = NULL;
	json_t *att;
	int r = -ENOMEM;

	title = fw_payload_clip(m->kind == WH_ONE ? m->one.title : m->head, MM_TITLE, WH_PLAIN,
	                        WH_CHARS);
	if (m->kind == WH_ONE)
		text = fw_payload_fit(m, fw_payload_render_desc, &st, 0, MM_TEXT, WH_CHARS);
	else
		text = fw_payload_list(m, &st, MM_TEXT, false, (size_t)-1);
	colour_hex(m->prio, colour, sizeof(colour));
	att = json_pack("{s:s?, s:s, s:s?, s:s?}", "fallback", title, "color", colour, "title",
	                title, "text", text);
	if (title == NULL || text == NULL || att == NULL)
		goto done;
	if (m->kind == WH_ONE && m->one.link) {
		url = fw_payload_url_dup(m->one.link);
		if (url)
			json_object_set_new(att, "title_link", json_string(url));
	}
	out->body = fw_payload_dump(json_pack("{s:[O]}", "attachments", att));
	r = fw_payload_header(out, "Content-Type: application/json");
done:
	json_decref(att);
	free(title);
	free(text);
	free(url);
	return r;
}

/* Matrix's plain body of one alert: title, meta, link, snippet. */
static void one_plain(struct fw_textbuf *b, const struct wh_msg *m, const struct wh_caps *c,
                      const void *arg)
{
	char meta[WH_HEAD_MAX];

	(void)arg;
	fw_payload_meta(&m->one, meta, sizeof(meta));
	fw_payload_text(b, *m->one.title ? m->one.title : "(no title)", c->title, WH_PLAIN,
	                WH_BYTES);
	if (*meta && c->meta) {
		fw_textbuf_puts(b, "\n");
		fw_payload_text(b, meta, c->meta, WH_PLAIN, WH_BYTES);
	}
	if (m->one.link && !c->no_link) {
		fw_textbuf_puts(b, "\n");
		fw_payload_url(b, m->one.link, WH_PLAIN);
	}
	if (*m->one.summary && c->summary) {
		fw_textbuf_puts(b, "\n\n");
		fw_payload_lines(b, m->one.summary, c->summary, WH_PLAIN, WH_BYTES, "\n");
	}
}

int fw_payload_chat_matrix(const struct wh_msg *m, struct fw_payload *out)
{
	static const struct wh_style plain = {WH_PLAIN, WH_BYTES, "\n", "- "};
	static const struct wh_style html = {WH_HTML, WH_BYTES, "<br>", "\xe2\x80\xa2 "};
	char *text, *marked;
	int r = -ENOMEM;

	if (m->kind == WH_ONE) {
		text = fw_payload_fit(m, one_plain, NULL, 4096, MATRIX_BODY, WH_BYTES);
		marked =
		    fw_payload_fit(m, fw_payload_render_one, &html, 4096, MATRIX_BODY, WH_BYTES);
	} else {
		text = fw_payload_list(m, &plain, MATRIX_BODY, true, (size_t)-1);
		marked = fw_payload_list(m, &html, MATRIX_BODY, true, (size_t)-1);
	}
	if (text && marked) {
		/* m.notice: the convention for bots (clients do not notify, bots do not answer).
		   An empty m.mentions: "@room" or a member's name in a title pings nobody. */
		out->body = fw_payload_dump(json_pack(
		    "{s:s, s:s, s:s, s:s, s:{}}", "msgtype", "m.notice", "body", text, "format",
		    "org.matrix.custom.html", "formatted_body", marked, "m.mentions"));
		r = fw_payload_header(out, "Content-Type: application/json");
	}
	free(text);
	free(marked);
	return r;
}
