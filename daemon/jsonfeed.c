/*
 * jsonfeed.c - JSON Feed (https://jsonfeed.org/version/1.1, and 1.0): a document whose
 * first byte is '{' is held whole, up to max_json, and read with jansson at the end; its
 * items go out through fw_parse_deliver like those of XML feeds. Pure: never logs.
 * Private to the parser room (parse_int.h); the interface is parse.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "date.h"
#include "parse_int.h"
#include "text.h"

static char *json_text(json_t *o, const char *key, bool html, size_t cap)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	char *s = html ? fw_text_from_html(json_string_value(v), json_string_length(v), cap)
	               : fw_text_plain(json_string_value(v), json_string_length(v), cap);
	if (s && !s[0]) {
		free(s);
		s = NULL;
	}
	return s;
}

static int64_t json_date(json_t *o, const char *key)
{
	int64_t t;
	json_t *v = json_object_get(o, key);

	if (json_is_string(v) && fw_date_parse(json_string_value(v), &t) == 0)
		return t;
	return FW_TIME_NONE;
}

static char *json_author(struct fw_parser *p, json_t *o)
{
	json_t *a = json_object_get(o, "authors");

	if (json_is_array(a) && json_array_size(a) > 0)
		a = json_array_get(a, 0);
	else
		a = json_object_get(o, "author");
	if (json_is_object(a)) {
		char *s = json_text(a, "name", false, p->lim.max_field);
		return s ? s : json_text(a, "url", false, p->lim.max_field);
	}
	return NULL;
}

static int json_item(struct fw_parser *p, json_t *o, const char *feed_author)
{
	size_t cap = p->lim.max_field;
	struct fw_item *item = fw_item_new();

	if (!item)
		return -ENOMEM;
	item->title = json_text(o, "title", false, cap);
	item->link = json_text(o, "url", false, cap);
	if (!item->link)
		item->link = json_text(o, "external_url", false, cap);
	json_t *id = json_object_get(o, "id");
	if (json_is_integer(id)) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		item->id = strdup(buf);
	} else {
		item->id = json_text(o, "id", false, cap);
	}
	item->summary = json_text(o, "summary", false, cap);
	item->content = json_text(o, "content_html", true, cap);
	if (!item->content)
		item->content = json_text(o, "content_text", false, cap);
	item->published = json_date(o, "date_published");
	item->updated = json_date(o, "date_modified");
	item->author = json_author(p, o);
	if (!item->author && feed_author)
		item->author = strdup(feed_author);
	json_t *tags = json_object_get(o, "tags");
	if (json_is_array(tags) && json_array_size(tags) > 0) {
		size_t n = json_array_size(tags);
		if (n > p->lim.max_categories)
			n = p->lim.max_categories;
		item->categories = calloc(n, sizeof(char *));
		for (size_t i = 0; item->categories && i < n; i++) {
			json_t *t = json_array_get(tags, i);
			if (!json_is_string(t))
				continue;
			char *c = fw_text_plain(json_string_value(t), json_string_length(t), cap);
			if (c && c[0])
				item->categories[item->n_categories++] = c;
			else
				free(c);
		}
	}
	return fw_parse_deliver(p, item);
}

/*
 * Read the JSON Feed document held in p and deliver its items. Returns 0, or -EBADMSG
 * when it is not valid JSON or not a JSON Feed (p->problem says why).
 */
int fw_jsonfeed_finish(struct fw_parser *p)
{
	json_error_t jerr;
	json_t *doc = json_loadb(p->json ? p->json : "", p->json_len, 0, &jerr);

	if (!doc) {
		fw_parse_problemf(p, "not valid JSON at line %d: %s", jerr.line, jerr.text);
		return -EBADMSG;
	}
	json_t *items = json_object_get(doc, "items");
	const char *v = json_string_value(json_object_get(doc, "version"));
	/* the version should be "https://jsonfeed.org/version/1[.1]"; feeds in the wild
	   write "1.0" and worse: an object with an items array is enough */
	if (!json_is_object(doc) || !json_is_array(items)) {
		fw_parse_problemf(p, "JSON document is not a JSON Feed (no items array)");
		json_decref(doc);
		return -EBADMSG;
	}
	p->is_feed = true;
	p->format = v && strstr(v, "1.1") ? "json1.1" : "json1.0";
	p->feed_title = json_text(doc, "title", false, FEED_LIMIT_TEXT);
	char *feed_author = json_author(p, doc);
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		if (p->stop)
			break;
		if (json_is_object(it) && json_item(p, it, feed_author) < 0)
			break;
	}
	free(feed_author);
	json_decref(doc);
	return 0;
}

/*
 * Hold the next len bytes of a JSON Feed document. Over max_json: a problem and
 * p->err = -EFBIG; allocation failure: p->err = -ENOMEM. p owns the copy.
 */
void fw_jsonfeed_push(struct fw_parser *p, const char *data, size_t len)
{
	if (len > p->lim.max_json - p->json_len) {
		fw_parse_problemf(p, "JSON Feed larger than %zu bytes", p->lim.max_json);
		p->err = -EFBIG;
		return;
	}
	if (p->json_len + len + 1 > p->json_size) {
		size_t n = p->json_size ? p->json_size : 16384;
		while (n < p->json_len + len + 1)
			n *= 2;
		char *b = realloc(p->json, n);
		if (!b) {
			p->err = -ENOMEM;
			return;
		}
		p->json = b;
		p->json_size = n;
	}
	memcpy(p->json + p->json_len, data, len);
	p->json_len += len;
}
