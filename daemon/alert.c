/*
 * alert.c - building alerts and raising them: the alert id, the JSON every output gets
 * (fields cut to their caps, credentials and unsafe links left out), and the rows written
 * into the caller's store transaction (the alert once, one outbox entry per routed output),
 * the feed-failing alert and the storm notice. Delivery is deliver.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "config.h"
#include "date.h"
#include "item.h"
#include "match.h"
#include "store.h"

#define FW_SUMMARY_SNIPPET       300
#define FW_ALERT_STORM_TITLE_MAX 200 /* bytes of each title in a storm notice */

/* FNV-1a 64 over a NUL-separated tuple, twice with different offsets: 128 bits. */
void fw_alert_id(const char *watchlist, const char *feed, const char *item_id, char *buf)
{
	const char *parts[3] = {watchlist, feed, item_id};
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;

	for (int i = 0; i < 3; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
			h1 = (h1 ^ *p) * 0x100000001b3ULL;
			h2 = (h2 ^ *p) * 0x100000001b3ULL;
			h2 ^= h2 >> 29;
		}
		h1 = (h1 ^ 0xff) * 0x100000001b3ULL;
		h2 = (h2 ^ 0xfe) * 0x100000001b3ULL;
	}
	snprintf(buf, 33, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

static json_t *jdate(int64_t t)
{
	char buf[40];

	if (t == FW_TIME_NONE)
		return json_null();
	return json_string(fw_date_format(t, buf, sizeof(buf)));
}

/* The feed's URL as scheme://host[:port]/path: no user:password@, no query, no fragment.
   Alerts go to third parties (chat services, webhooks), and a credential may hide in any
   of those parts under any name (?pass=, ?jwt=, #access_token=), so none of them travels.
   A URL without "://" keeps only what comes before its query or fragment. */
char *fw_alert_public_url(const char *url)
{
	const char *scheme = strstr(url, "://"), *host, *auth_end, *at, *end;
	char *out;

	if (scheme == NULL || (size_t)(scheme - url) + 1 != strcspn(url, "/?#")) {
		end = url + strcspn(url, "?#");
		return strndup(url, (size_t)(end - url));
	}
	host = scheme + 3;
	auth_end = host + strcspn(host, "/?#");
	/* The last '@' of the authority ends the user info (a password may hold '@'). */
	for (at = auth_end; at > host && at[-1] != '@'; at--)
		;
	if (at > host)
		host = at;
	end = auth_end + strcspn(auth_end, "?#");
	if (asprintf(&out, "%.*s%.*s", (int)(scheme + 3 - url), url, (int)(end - host), host) < 0)
		return NULL;
	return out;
}

/* At most max bytes of s, cut on a UTF-8 boundary, with an ellipsis when cut. */
static json_t *snippet(const char *s, size_t max)
{
	size_t n = strlen(s);
	char *buf;
	json_t *j;

	if (n <= max)
		return json_string(s);
	while (n > max || (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80))
		n--;
	buf = malloc(n + 4);
	if (buf == NULL)
		return NULL;
	memcpy(buf, s, n);
	memcpy(buf + n, "\xe2\x80\xa6", 4);
	j = json_string(buf);
	free(buf);
	return j;
}

/* See alert.h. */
json_t *fw_alert_explain_json(const struct fw_match_explain *e, const char *watchlist)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "watchlist", watchlist ? watchlist : "",
	                 "term", e->term ? e->term : "", "alias", e->alias ? e->alias : "", "field",
	                 e->field ? e->field : "", "text", e->text ? e->text : "", "snippet",
	                 e->snippet ? e->snippet : "");
}

/* The length of an "http://" or "https://" prefix of s, in any case; 0 for any other. */
static size_t web_scheme(const char *s)
{
	static const char *const schemes[] = {"http://", "https://"};

	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(schemes[i]), k = 0;

		while (k < n && tolower((unsigned char)s[k]) == schemes[i][k])
			k++;
		if (k == n)
			return n;
	}
	return 0;
}

/* The item's link as it may leave the daemon: only an http(s) URL with a host, else JSON
   null (javascript:, data:, file: and the like would run or read something wherever a
   receiver makes the link clickable). Spaces and control bytes, never valid in a URL, are
   percent-encoded so that no output can be given a line break or a forged field by it. */
static json_t *link_json(const char *link)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t skip, n = 0;
	char *buf;
	json_t *j;

	if (link == NULL)
		return json_null();
	skip = web_scheme(link);
	if (skip == 0 || link[skip] == 0 || strchr("/?#@", link[skip]))
		return json_null();
	buf = malloc(strlen(link) * 3 + 1);
	if (buf == NULL)
		return json_null();
	for (const unsigned char *p = (const unsigned char *)link; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f) {
			buf[n++] = '%';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		} else {
			buf[n++] = (char)*p;
		}
	}
	buf[n] = 0;
	j = json_string(buf);
	free(buf);
	return j ? j : json_null();
}

/* "priority" (always) and "template" (when the watchlist has one) of the watchlist w (NULL:
   a notice of the daemon's own, priority normal). An output's own keys override both at
   delivery (deliver.c). */
static void set_presentation(json_t *o, const struct fw_config_watchlist *w)
{
	json_t *t;

	json_object_set_new(
	    o, "priority",
	    json_string(fw_config_priority_name(w ? w->priority : FW_PRIORITY_NORMAL)));
	if (w == NULL || (w->title == NULL && w->body == NULL) || (t = json_object()) == NULL)
		return;
	if (w->title)
		json_object_set_new(t, "title", json_string(w->title));
	if (w->body)
		json_object_set_new(t, "body", json_string(w->body));
	json_object_set_new(o, "template", t);
}

/* The alert as JSON: the outbox payload and what plugins receive (docs/plugins.md). story
   (may be NULL; stolen) becomes its "story" member; explain (may be NULL; stolen) replaces
   the explanations of res. */
static char *build_payload(const char *id, const char *watchlist,
                           const struct fw_config_watchlist *w, const struct fw_config_feed *feed,
                           const struct fw_item *item, const struct fw_match_result *res,
                           size_t wl_index, int64_t now, json_t *story, json_t *explain)
{
	json_t *o = json_object(), *f = json_object(), *it = json_object(), *cats = json_array();
	json_t *ex = json_array();
	char *url = fw_alert_public_url(feed->url), *out = NULL;
	const char *sum = item->summary && *item->summary ? item->summary : item->content;

	if (!o || !f || !it || !cats || !ex || !url)
		goto done;
	json_object_set_new(f, "name", json_string(feed->name));
	json_object_set_new(f, "url", json_string(url));
	/* Every field is cut to its cap (a cut link would lead elsewhere: it is dropped), so
	   that no item can make an alert the store or an output refuses: see alert.h. */
	json_object_set_new(it, "id", json_string(item->id));
	json_object_set_new(it, "title",
	                    snippet(item->title ? item->title : "", FW_ALERT_TITLE_MAX));
	json_object_set_new(it, "link",
	                    item->link && strlen(item->link) > FW_ALERT_LINK_MAX
	                        ? json_null()
	                        : link_json(item->link));
	json_object_set_new(it, "published", jdate(item->published));
	json_object_set_new(it, "updated", jdate(item->updated));
	json_object_set_new(it, "author",
	                    item->author ? snippet(item->author, FW_ALERT_FIELD_MAX) : json_null());
	json_object_set_new(it, "summary", snippet(sum ? sum : "", FW_SUMMARY_SNIPPET));
	for (size_t i = 0; i < item->n_categories && i < FW_ALERT_CATEGORIES; i++)
		json_array_append_new(cats, snippet(item->categories[i], FW_ALERT_FIELD_MAX));
	json_object_set_new(it, "categories", cats);
	cats = NULL;
	for (size_t i = 0; res && i < res->n_explain && json_array_size(ex) < FW_ALERT_EXPLAIN;
	     i++) {
		const struct fw_match_explain *e = &res->explain[i];

		if (e->watchlist != wl_index)
			continue;
		json_array_append_new(ex, fw_alert_explain_json(e, watchlist));
	}
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "watchlist", json_string(watchlist));
	json_object_set_new(o, "created", jdate(now));
	json_object_set_new(o, "fetched", jdate(item->fetched > 0 ? item->fetched : FW_TIME_NONE));
	json_object_set_new(o, "pushed", jdate(item->pushed > 0 ? item->pushed : FW_TIME_NONE));
	json_object_set_new(o, "feed", f);
	json_object_set_new(o, "item", it);
	json_object_set_new(o, "explain", explain ? explain : ex);
	if (story)
		json_object_set_new(o, "story", story);
	if (explain)
		json_decref(ex);
	f = it = ex = story = explain = NULL;
	set_presentation(o, w);
	out = json_dumps(o, JSON_COMPACT);
done:
	json_decref(story);
	json_decref(explain);
	json_decref(o);
	json_decref(f);
	json_decref(it);
	json_decref(cats);
	json_decref(ex);
	free(url);
	return out;
}

/* The "story" member of a story's first alert for a watchlist. */
static json_t *story_new_json(const struct fw_alert_story *st, const char *id)
{
	return json_pack("{s:s, s:b, s:I, s:I, s:s, s:o}", "id", st->sid, "new", 1, "items",
	                 (json_int_t)st->items, "feeds", (json_int_t)st->feeds, "first_alert", id,
	                 "title", snippet(st->title ? st->title : "", FW_ALERT_TITLE_MAX));
}

/* Queue payload for each output of w. 0 or a negative errno. */
static int queue(struct fw_store *tx, const struct fw_config *cfg,
                 const struct fw_config_watchlist *w, const char *id, const char *payload,
                 int64_t now)
{
	int r = 0;

	for (size_t k = 0; k < w->n_outputs && r >= 0; k++)
		r = fw_store_outbox_add(tx, id, cfg->outputs[w->outputs[k]].name, payload, now);
	return r < 0 ? r : 0;
}

/* Record the alerts of one matched item. */
int fw_alert_raise(struct fw_store *tx, const struct fw_config *cfg,
                   const struct fw_config_feed *feed, const struct fw_item *item,
                   const struct fw_match_result *res, int64_t now, size_t *raised, uint8_t *fresh,
                   const struct fw_alert_story *story)
{
	for (size_t i = 0; i < res->n_watchlists; i++) {
		const struct fw_config_watchlist *w = &cfg->watchlists[res->watchlists[i]];
		bool by_story = story && w->by_story;
		char id[33], *payload;
		json_t *sj = NULL;
		int r;

		if (by_story && story->hold[i])
			continue; /* the story alerted for this watchlist: an update covers it */
		fw_alert_id(w->name, feed->name, item->id, id);
		r = fw_store_alert_add(tx, id, w->name, feed->name, item->id, now);
		if (r < 0)
			return r;
		if (r == 0)
			continue; /* this item alerted for this watchlist before */
		if (by_story && (sj = story_new_json(story, id)) == NULL)
			return -ENOMEM;
		payload = build_payload(id, w->name, w, feed, item, res, res->watchlists[i], now,
		                        sj, NULL);
		if (payload == NULL)
			return -ENOMEM;
		r = queue(tx, cfg, w, id, payload, now);
		free(payload);
		if (r < 0)
			return r;
		(*raised)++;
		if (fresh)
			fresh[i] = 1;
		if (story)
			memcpy(story->ids[i], id, sizeof(id));
	}
	return 0;
}

/* The "story" member of an update: the counts and the items added since the last alert. */
static json_t *story_update_json(const struct fw_alert_update *u)
{
	json_t *added = json_array(), *o;

	if (added == NULL)
		return NULL;
	for (size_t i = 0; i < u->n_added; i++) {
		const struct fw_story_item_row *r = &u->added[i];

		json_array_append_new(
		    added,
		    json_pack("{s:o, s:s, s:o, s:o}", "title",
		              snippet(r->title ? r->title : "", FW_ALERT_TITLE_MAX), "feed",
		              r->feed ? r->feed : "", "link",
		              r->link && strlen(r->link) <= FW_ALERT_LINK_MAX ? link_json(r->link)
		                                                              : json_null(),
		              "published", jdate(r->published)));
	}
	o = json_pack("{s:s, s:b, s:I, s:I, s:s, s:o, s:o, s:I}", "id", u->sid, "new", 0, "items",
	              (json_int_t)u->items, "feeds", (json_int_t)u->feeds, "first_alert",
	              u->first_alert, "title",
	              snippet(u->title ? u->title : "", FW_ALERT_TITLE_MAX), "added", added, "more",
	              (json_int_t)u->more);
	return o;
}

/* See alert.h. */
int fw_alert_raise_story_update(struct fw_store *tx, const struct fw_config *cfg,
                                const struct fw_config_watchlist *w,
                                const struct fw_alert_update *u, int64_t now, char *id)
{
	const struct fw_story_item_row *last;
	struct fw_config_feed gone = {0};
	const struct fw_config_feed *feed;
	struct fw_item it = {.updated = FW_TIME_NONE};
	char serial[48], *payload;
	json_t *sj, *ex = NULL;
	long fi;
	int r;

	if (u->n_added == 0)
		return 0;
	last = &u->added[u->n_added - 1];
	fi = fw_config_feed_index(cfg, last->feed);
	gone.name = last->feed;
	gone.url = (char *)"";
	feed = fi >= 0 ? &cfg->feeds[fi] : &gone;
	snprintf(serial, sizeof(serial), "story-update:%lld", (long long)u->serial);
	fw_alert_id(w->name, u->sid, serial, id);
	r = fw_store_alert_add(tx, id, w->name, last->feed, serial, now);
	if (r <= 0)
		return r;
	it.id = (char *)serial;
	it.title = last->title;
	it.link = last->link;
	it.published = last->published;
	it.content = (char *)"";
	if (last->explain)
		ex = json_loads(last->explain, 0, NULL);
	if ((sj = story_update_json(u)) == NULL) {
		json_decref(ex);
		return -ENOMEM;
	}
	payload =
	    build_payload(id, w->name, w, feed, &it, NULL, 0, now, sj, ex ? ex : json_array());
	if (payload == NULL)
		return -ENOMEM;
	r = queue(tx, cfg, w, id, payload, now);
	free(payload);
	return r < 0 ? r : 1;
}

/*
 * A notice of the daemon's own (watchlist `kind`, an id of `item_id` under the feed), once:
 * recorded and queued for output `only` (>= 0), or for every output k with to[k]. Returns
 * 1 when queued, 0 when it was raised before, or a negative errno.
 */
static int raise_notice(struct fw_store *tx, const struct fw_config *cfg, const char *kind,
                        const struct fw_config_feed *feed, const char *item_id, const char *title,
                        const char *summary, long only, const bool *to, int64_t now)
{
	struct fw_item it = {.published = now, .updated = FW_TIME_NONE};
	char id[33], *payload;
	int r;

	it.title = (char *)title;
	it.id = (char *)item_id;
	it.summary = (char *)summary;
	it.content = (char *)"";
	fw_alert_id(kind, feed->name, item_id, id);
	r = fw_store_alert_add(tx, id, kind, feed->name, item_id, now);
	if (r <= 0)
		return r;
	payload = build_payload(id, kind, NULL, feed, &it, NULL, 0, now, NULL, NULL);
	if (payload == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < cfg->n_outputs && r >= 0; k++)
		if ((long)k == only || (only < 0 && to && to[k]))
			r = fw_store_outbox_add(tx, id, cfg->outputs[k].name, payload, now);
	free(payload);
	return r < 0 ? r : 1;
}

/* The feed-failing alert: one per error streak, to cfg->feed_failing_output. */
int fw_alert_raise_failing(struct fw_store *tx, const struct fw_config *cfg,
                           const struct fw_config_feed *feed, const char *error, int64_t since,
                           int64_t now)
{
	char item_id[64], date[40], title[512];

	if (cfg->feed_failing_output < 0)
		return 0;
	snprintf(item_id, sizeof(item_id), "feed-failing:%lld", (long long)since);
	snprintf(title, sizeof(title), "Feed '%s' has been failing since %s: %s", feed->name,
	         fw_date_format(since, date, sizeof(date)), error ? error : "unknown error");
	return raise_notice(tx, cfg, FW_ALERT_FEED_FAILING, feed, item_id, title, title,
	                    cfg->feed_failing_output, NULL, now);
}

/* See alert.h. */
int fw_alert_storm_add(struct fw_alert_storm *st, const struct fw_config *cfg,
                       const struct fw_item *item, const struct fw_match_result *res)
{
	const char *title = item->title && *item->title ? item->title : item->id;
	size_t n = strnlen(title, FW_ALERT_STORM_TITLE_MAX);
	char *t;

	if (!st->outputs) {
		st->outputs = calloc(cfg->n_outputs ? cfg->n_outputs : 1, sizeof(*st->outputs));
		if (!st->outputs)
			return -ENOMEM;
		st->n_outputs = cfg->n_outputs;
	}
	for (size_t i = 0; i < res->n_watchlists; i++) {
		const struct fw_config_watchlist *w = &cfg->watchlists[res->watchlists[i]];

		for (size_t k = 0; k < w->n_outputs; k++)
			st->outputs[w->outputs[k]] = true;
	}
	if (st->n_items++ >= FW_ALERT_STORM_TITLES)
		return 0;
	while (n > 0 && ((unsigned char)title[n] & 0xc0) == 0x80)
		n--; /* cut on a UTF-8 boundary */
	t = realloc(st->titles, st->len + n + 3);
	if (!t)
		return -ENOMEM;
	if (st->len > 0) {
		memcpy(t + st->len, "; ", 2);
		st->len += 2;
	}
	memcpy(t + st->len, title, n);
	st->len += n;
	t[st->len] = '\0';
	st->titles = t;
	return 0;
}

/* See alert.h. */
void fw_alert_storm_clear(struct fw_alert_storm *st)
{
	free(st->outputs);
	free(st->titles);
	memset(st, 0, sizeof(*st));
}

/* See alert.h. */
int fw_alert_raise_storm(struct fw_store *tx, const struct fw_config *cfg,
                         const struct fw_config_feed *feed, const struct fw_alert_storm *st,
                         size_t cap, int64_t now)
{
	char item_id[64], title[512], *summary = NULL;
	int r;

	if (st->n_items == 0 || st->n_outputs != cfg->n_outputs)
		return 0;
	snprintf(item_id, sizeof(item_id), "alert-storm:%lld", (long long)now);
	snprintf(title, sizeof(title),
	         "Feed '%s': %zu more matching items in one poll than max_alerts_per_poll (%zu), "
	         "not alerted one by one",
	         feed->name, st->n_items, cap);
	if (asprintf(&summary, "%s%s", st->titles ? st->titles : "",
	             st->n_items > FW_ALERT_STORM_TITLES ? "; …" : "") < 0)
		return -ENOMEM;
	r = raise_notice(tx, cfg, FW_ALERT_STORM, feed, item_id, title, summary, -1, st->outputs,
	                 now);
	free(summary);
	return r;
}
