/* alert.c - build alerts, route them to outputs through the outbox, deliver and retry. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "alert.h"
#include "config.h"
#include "date.h"
#include "host.h"
#include "item.h"
#include "log.h"
#include "loop.h"
#include "match.h"
#include "plugin.h"
#include "store.h"

#define FW_PUMP_BATCH            128 /* outbox rows looked at per pass */
#define FW_OUTPUT_IN_FLIGHT      8   /* deliveries at once per output */
#define FW_RETRY_AFTER_CAP       86400
#define FW_DOWN_RETRY            300 /* an output that is not running: look again then */
#define FW_PUMP_IDLE             60  /* longest outbox sleep: `outbox retry` runs elsewhere */
#define FW_SUMMARY_SNIPPET       300
#define FW_ALERT_STORM_TITLE_MAX 200 /* bytes of each title in a storm notice */
#define FW_DIGEST_MAX            FW_PUMP_BATCH

/* The outputs of one config. A reload makes a new generation; the old one retires and is
   freed, with its config, once its last delivery has completed. */
struct gen {
	struct fw_config *cfg; /* owned once retired (the daemon owns the current one) */
	struct output_rt *outs;
	size_t n_outs;
	struct gen *next; /* retired list */
};

struct output_rt {
	struct fw_alerter *a;
	struct gen *gen;
	const struct fw_config_output *cfg;
	struct fw_plugin_ctx *ctx; /* NULL: the output could not start */
	bool blocking;
	bool disabled; /* the plugin said FW_DISABLE */
	size_t in_flight;
	uint64_t delivered; /* counters for the metrics file, kept across reloads */
	uint64_t failed;
	int64_t window_start;
	int64_t sent_in_window;
	struct delivery *work_head, *work_tail; /* blocking: queued deliveries */
	bool working;                           /* blocking: one on the thread pool */
	uv_work_t work;
};

struct delivery {
	uint64_t token;
	struct output_rt *out;
	int64_t *rowids;
	int64_t *attempts;
	int64_t *created;
	size_t n;
	json_t *payload;
	struct fw_alert alert;
	const char **categories;
	struct fw_explain *explain;
	char *json;
	int start_error;       /* blocking: deliver() returned this on the worker */
	struct delivery *next; /* in-flight list / work queue */
};

struct completion {
	uint64_t token;
	enum fw_result result;
	int64_t retry_after;
	char message[256];
	struct completion *next;
};

/* A delivery outcome the store could not record (disk full, I/O error): kept here and
   written again at each pass, and its row is not handed to a plugin meanwhile -- without
   this, a row whose DELETE fails stays due and is delivered again at every pass. */
struct unrecorded {
	int64_t rowid;
	enum fw_result result;
	int64_t next_at; /* FW_RETRY, FW_DISABLE */
	char message[256];
	struct unrecorded *next;
};

#define FW_UNRECORDED_MAX 100000 /* beyond this, outcomes are dropped (and re-delivered) */

struct fw_alerter {
	struct fw_daemon *d;
	struct unrecorded *unrecorded; /* outcomes not yet written to the store */
	size_t n_unrecorded;
	bool unrecorded_logged;
	struct gen *cur;
	struct gen *retired;
	struct delivery *flying; /* every delivery handed to a plugin */
	uint64_t next_token;
	uv_timer_t timer;
	uv_async_t async;
	pthread_mutex_t lock; /* guards completions */
	struct completion *completions, *completions_tail;
	int open_handles;
	bool closing;
	bool pumping;
};

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
static char *strip_credentials(const char *url)
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

/* The alert as JSON: the outbox payload and what plugins receive (docs/plugins.md). */
static char *build_payload(const char *id, const char *watchlist, const struct fw_config_feed *feed,
                           const struct fw_item *item, const struct fw_match_result *res,
                           size_t wl_index, int64_t now)
{
	json_t *o = json_object(), *f = json_object(), *it = json_object(), *cats = json_array();
	json_t *ex = json_array();
	char *url = strip_credentials(feed->url), *out = NULL;
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
	json_object_set_new(o, "feed", f);
	json_object_set_new(o, "item", it);
	json_object_set_new(o, "explain", ex);
	f = it = ex = NULL;
	out = json_dumps(o, JSON_COMPACT);
done:
	json_decref(o);
	json_decref(f);
	json_decref(it);
	json_decref(cats);
	json_decref(ex);
	free(url);
	return out;
}

/* Record the alerts of one matched item. */
int fw_alert_raise(struct fw_alerter *a, const struct fw_config_feed *feed,
                   const struct fw_item *item, const struct fw_match_result *res, int64_t now,
                   size_t *raised)
{
	const struct fw_config *cfg = a->d->cfg;

	for (size_t i = 0; i < res->n_watchlists; i++) {
		const struct fw_config_watchlist *w = &cfg->watchlists[res->watchlists[i]];
		char id[33], *payload;
		int r;

		fw_alert_id(w->name, feed->name, item->id, id);
		r = fw_store_alert_add(a->d->store, id, w->name, feed->name, item->id, now);
		if (r < 0)
			return r;
		if (r == 0)
			continue; /* this item alerted for this watchlist before */
		payload = build_payload(id, w->name, feed, item, res, res->watchlists[i], now);
		if (payload == NULL)
			return -ENOMEM;
		for (size_t k = 0; k < w->n_outputs; k++) {
			r = fw_store_outbox_add(a->d->store, id, cfg->outputs[w->outputs[k]].name,
			                        payload, now);
			if (r < 0) {
				free(payload);
				return r;
			}
		}
		free(payload);
		(*raised)++;
	}
	return 0;
}

/* The feed-failing alert: one per error streak, to cfg->feed_failing_output. */
int fw_alert_raise_failing(struct fw_alerter *a, const struct fw_config_feed *feed,
                           const char *error, int64_t since, int64_t now)
{
	const struct fw_config *cfg = a->d->cfg;
	struct fw_item it = {.published = now, .updated = FW_TIME_NONE};
	char id[33], item_id[64], date[40], title[512], *payload;
	int r;

	if (cfg->feed_failing_output < 0)
		return 0;
	snprintf(item_id, sizeof(item_id), "feed-failing:%lld", (long long)since);
	snprintf(title, sizeof(title), "Feed '%s' has been failing since %s: %s", feed->name,
	         fw_date_format(since, date, sizeof(date)), error ? error : "unknown error");
	it.title = title;
	it.id = item_id;
	it.summary = title;
	it.content = (char *)"";
	fw_alert_id(FW_ALERT_FEED_FAILING, feed->name, item_id, id);
	r = fw_store_alert_add(a->d->store, id, FW_ALERT_FEED_FAILING, feed->name, item_id, now);
	if (r <= 0)
		return r;
	payload = build_payload(id, FW_ALERT_FEED_FAILING, feed, &it, NULL, 0, now);
	if (payload == NULL)
		return -ENOMEM;
	r = fw_store_outbox_add(a->d->store, id, cfg->outputs[cfg->feed_failing_output].name,
	                        payload, now);
	free(payload);
	return r < 0 ? r : 1;
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
int fw_alert_raise_storm(struct fw_alerter *a, const struct fw_config_feed *feed,
                         const struct fw_alert_storm *st, size_t cap, int64_t now)
{
	const struct fw_config *cfg = a->d->cfg;
	struct fw_item it = {.published = now, .updated = FW_TIME_NONE};
	char id[33], item_id[64], title[512], *summary = NULL, *payload;
	int r;

	if (st->n_items == 0)
		return 0;
	snprintf(item_id, sizeof(item_id), "alert-storm:%lld", (long long)now);
	snprintf(title, sizeof(title),
	         "Feed '%s': %zu more matching items in one poll than max_alerts_per_poll (%zu), "
	         "not alerted one by one",
	         feed->name, st->n_items, cap);
	if (asprintf(&summary, "%s%s", st->titles ? st->titles : "",
	             st->n_items > FW_ALERT_STORM_TITLES ? "; …" : "") < 0)
		return -ENOMEM;
	it.title = title;
	it.id = item_id;
	it.summary = summary;
	it.content = (char *)"";
	fw_alert_id(FW_ALERT_STORM, feed->name, item_id, id);
	r = fw_store_alert_add(a->d->store, id, FW_ALERT_STORM, feed->name, item_id, now);
	if (r <= 0) {
		free(summary);
		return r;
	}
	payload = build_payload(id, FW_ALERT_STORM, feed, &it, NULL, 0, now);
	free(summary);
	if (payload == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < st->n_outputs && k < cfg->n_outputs && r >= 0; k++)
		if (st->outputs[k])
			r = fw_store_outbox_add(a->d->store, id, cfg->outputs[k].name, payload,
			                        now);
	free(payload);
	return r < 0 ? r : 1;
}

/* Delivered (which 0) or failed (1) counts of an output, for the metrics file. */
uint64_t fw_alert_counter(const struct fw_alerter *a, const char *output, int which)
{
	for (size_t i = 0; a && a->cur && i < a->cur->n_outs; i++)
		if (strcmp(a->cur->outs[i].cfg->name, output) == 0)
			return which ? a->cur->outs[i].failed : a->cur->outs[i].delivered;
	return 0;
}

static const char *jget(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Fill d->alert from the payload of its first row. */
static int delivery_fill(struct delivery *d, json_t *first, const char *output)
{
	json_t *feed = json_object_get(first, "feed"), *item = json_object_get(first, "item");
	json_t *cats = json_object_get(item, "categories"), *ex = json_object_get(first, "explain");
	struct fw_alert *al = &d->alert;

	al->struct_size = sizeof(*al);
	al->id = jget(first, "id");
	al->watchlist = jget(first, "watchlist");
	al->output = output;
	al->feed_name = jget(feed, "name");
	al->feed_url = jget(feed, "url");
	al->title = jget(item, "title");
	al->link = jget(item, "link");
	al->item_id = jget(item, "id");
	al->published = jget(item, "published");
	al->updated = jget(item, "updated");
	al->author = jget(item, "author");
	al->summary = jget(item, "summary");
	if (!al->id || !al->watchlist || !al->feed_name || !al->title || !al->item_id)
		return -EBADMSG;
	if (!al->feed_url)
		al->feed_url = "";
	if (!al->summary)
		al->summary = "";
	d->categories = calloc(json_array_size(cats) + 1, sizeof(char *));
	d->explain = calloc(json_array_size(ex) + 1, sizeof(*d->explain));
	if (!d->categories || !d->explain)
		return -ENOMEM;
	for (size_t i = 0; i < json_array_size(cats); i++)
		if (json_string_value(json_array_get(cats, i)))
			d->categories[al->n_categories++] =
			    json_string_value(json_array_get(cats, i));
	for (size_t i = 0; i < json_array_size(ex); i++) {
		json_t *e = json_array_get(ex, i);
		struct fw_explain *x = &d->explain[al->n_explain];

		x->watchlist = jget(e, "watchlist");
		x->term = jget(e, "term");
		x->alias = jget(e, "alias");
		x->field = jget(e, "field");
		x->text = jget(e, "text");
		x->snippet = jget(e, "snippet");
		if (x->watchlist && x->term && x->alias && x->field && x->text && x->snippet)
			al->n_explain++;
	}
	al->categories = d->categories;
	al->explain = d->explain;
	return 0;
}

static struct delivery *delivery_free(struct delivery *d)
{
	if (d == NULL)
		return NULL;
	json_decref(d->payload);
	free(d->rowids);
	free(d->attempts);
	free(d->created);
	free(d->categories);
	free(d->explain);
	free(d->json);
	free(d);
	return NULL;
}

/* One delivery of n outbox rows (n > 1: a digest). */
static struct delivery *delivery_new(struct output_rt *out, const struct fw_outbox_entry *e,
                                     size_t n)
{
	struct delivery *d = calloc(1, sizeof(*d));
	json_t *first = NULL;
	int64_t created = INT64_MAX;

	if (d == NULL)
		return NULL;
	d->out = out;
	d->n = n;
	d->rowids = calloc(n, sizeof(int64_t));
	d->attempts = calloc(n, sizeof(int64_t));
	d->created = calloc(n, sizeof(int64_t));
	if (!d->rowids || !d->attempts || !d->created)
		return delivery_free(d);
	if (n == 1) {
		d->payload = json_loads(e[0].payload, 0, NULL);
		first = d->payload;
	} else {
		json_t *arr = json_array();

		d->payload = json_object();
		if (arr == NULL || d->payload == NULL) {
			json_decref(arr);
			return delivery_free(d);
		}
		for (size_t i = 0; i < n; i++) {
			json_t *p = json_loads(e[i].payload, 0, NULL);

			if (p)
				json_array_append_new(arr, p);
		}
		json_object_set_new(d->payload, "digest", json_integer((json_int_t)n));
		json_object_set_new(d->payload, "alerts", arr);
		first = json_array_get(arr, 0);
	}
	for (size_t i = 0; i < n; i++) {
		d->rowids[i] = e[i].rowid;
		d->attempts[i] = e[i].attempts;
		d->created[i] = e[i].created;
		if (e[i].created < created)
			created = e[i].created;
	}
	if (first == NULL || delivery_fill(d, first, out->cfg->name) < 0)
		return delivery_free(d);
	d->json = json_dumps(d->payload, JSON_COMPACT);
	if (d->json == NULL)
		return delivery_free(d);
	d->alert.json = d->json;
	d->alert.attempt = (unsigned)e[0].attempts + 1;
	d->alert.created = created;
	d->alert.n_digest = n > 1 ? n : 0;
	return d;
}

static void flying_add(struct fw_alerter *a, struct delivery *d)
{
	d->next = a->flying;
	a->flying = d;
	d->out->in_flight++;
}

static struct delivery *flying_take(struct fw_alerter *a, uint64_t token)
{
	for (struct delivery **p = &a->flying; *p; p = &(*p)->next) {
		if ((*p)->token == token) {
			struct delivery *d = *p;

			*p = d->next;
			d->next = NULL;
			d->out->in_flight--;
			return d;
		}
	}
	return NULL;
}

static void push_completion(struct fw_alerter *a, uint64_t token, enum fw_result result,
                            int64_t retry_after, const char *message)
{
	struct completion *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return; /* the row stays pending and is retried after a restart */
	c->token = token;
	c->result = result;
	c->retry_after = retry_after;
	snprintf(c->message, sizeof(c->message), "%s", message ? message : "");
	pthread_mutex_lock(&a->lock);
	if (a->completions_tail)
		a->completions_tail->next = c;
	else
		a->completions = c;
	a->completions_tail = c;
	pthread_mutex_unlock(&a->lock);
	uv_async_send(&a->async);
}

/* A plugin's completion: queued, handled on the loop thread. */
void fw_alert_done(struct fw_alerter *a, uint64_t token, enum fw_result result, int64_t retry_after,
                   const char *message)
{
	if (a == NULL || a->closing)
		return;
	push_completion(a, token, result, retry_after, message);
}

static void work_cb(uv_work_t *w)
{
	struct output_rt *out = w->data;
	struct delivery *d = out->work_head;

	d->start_error =
	    fw_host_plugin(out->ctx)->deliver(fw_host_state(out->ctx), &d->alert, d->token);
}

static void start_work(struct output_rt *out);

static void after_work_cb(uv_work_t *w, int status)
{
	struct output_rt *out = w->data;
	struct delivery *d = out->work_head;

	out->working = false;
	out->work_head = d->next;
	if (out->work_head == NULL)
		out->work_tail = NULL;
	d->next = NULL;
	if (status < 0 || d->start_error < 0)
		push_completion(out->a, d->token, FW_RETRY, -1,
		                status < 0 ? "cancelled" : strerror(-d->start_error));
	/* Already counted in out->in_flight by dispatch(). */
	d->next = out->a->flying;
	out->a->flying = d;
	/* A done() from inside deliver() may be waiting for this (see still_working). */
	uv_async_send(&out->a->async);
	if (!out->a->closing)
		start_work(out);
}

static void start_work(struct output_rt *out)
{
	if (out->working || out->work_head == NULL)
		return;
	out->working = true;
	out->work.data = out;
	if (uv_queue_work(&out->a->d->loop, &out->work, work_cb, after_work_cb) != 0)
		out->working = false;
}

/* Hand one delivery to its plugin. */
static void dispatch(struct fw_alerter *a, struct delivery *d)
{
	struct output_rt *out = d->out;
	int r;

	d->token = ++a->next_token;
	if (out->blocking) {
		/* In flight from now on; after_work moves it to the flying list. */
		out->in_flight++;
		if (out->work_tail)
			out->work_tail->next = d;
		else
			out->work_head = d;
		out->work_tail = d;
		start_work(out);
		return;
	}
	flying_add(a, d);
	r = fw_host_plugin(out->ctx)->deliver(fw_host_state(out->ctx), &d->alert, d->token);
	if (r < 0)
		push_completion(a, d->token, FW_RETRY, -1, strerror(-r));
}

static int64_t backoff(const struct fw_config_output *oc, int64_t attempts, int64_t retry_after)
{
	int64_t delay = oc->retry_base;

	for (int64_t i = 1; i < attempts && delay < oc->retry_max; i++)
		delay *= 2;
	if (delay > oc->retry_max)
		delay = oc->retry_max;
	/* +-20% jitter so that a recovering receiver is not hit by every alert at once. */
	delay = delay * (80 + (int64_t)(rand() % 41)) / 100;
	if (retry_after > 0)
		delay = retry_after > FW_RETRY_AFTER_CAP ? FW_RETRY_AFTER_CAP : retry_after;
	return delay > 0 ? delay : 1;
}

/* Write one outcome; 0 or -errno. A row that is gone (dropped with `feedwatch outbox`, or
   written before) counts as written. */
static int record_outcome(struct fw_store *s, int64_t rowid, enum fw_result result, int64_t next_at,
                          const char *message)
{
	int r;

	switch (result) {
	case FW_DELIVERED:
		r = fw_store_outbox_delivered(s, rowid);
		break;
	case FW_FAILED:
		r = fw_store_outbox_kill(s, rowid, message);
		break;
	case FW_DISABLE:
		/* An attempt was made: count it; then held until the output is back. */
		r = fw_store_outbox_retry(s, rowid, next_at, message);
		if (r == 0)
			r = fw_store_outbox_hold(s, rowid, next_at, message);
		break;
	default:
		if (next_at < 0)
			r = fw_store_outbox_kill(s, rowid, message);
		else
			r = fw_store_outbox_retry(s, rowid, next_at, message);
		break;
	}
	return r == -ENOENT ? 0 : r;
}

/* Queue one outcome for flush_unrecorded(); its row stays out of the due set meanwhile. */
static void remember_unrecorded(struct fw_alerter *a, int64_t rowid, enum fw_result result,
                                int64_t next_at, const char *message)
{
	struct unrecorded *u;

	if (a->n_unrecorded >= FW_UNRECORDED_MAX || (u = calloc(1, sizeof(*u))) == NULL)
		return; /* the row stays pending: delivered again later (at least once) */
	u->rowid = rowid;
	u->result = result;
	u->next_at = next_at;
	snprintf(u->message, sizeof(u->message), "%s", message ? message : "");
	u->next = a->unrecorded;
	a->unrecorded = u;
	a->n_unrecorded++;
}

/*
 * Write every outcome not yet in the store, in one transaction: one fsync per wake-up, not
 * one per delivery. When the store refuses (disk full, I/O error) the outcomes stay in
 * memory and are written at the next pass; their rows are not handed to a plugin again
 * meanwhile, so a full disk does not turn into a storm of duplicates.
 */
static void flush_unrecorded(struct fw_alerter *a)
{
	struct fw_store *s = a->d->store;
	size_t n = a->n_unrecorded;
	bool tx;
	int r = 0;

	/* A retry whose time has come needs no record: its row is still due in the store
	   (only the attempt count misses it). Only final outcomes must hold rows back. */
	for (struct unrecorded **pp = &a->unrecorded; *pp;) {
		struct unrecorded *u = *pp;

		if (u->result == FW_RETRY && u->next_at >= 0 && u->next_at <= time(NULL)) {
			*pp = u->next;
			free(u);
			a->n_unrecorded--;
			continue;
		}
		pp = &u->next;
	}
	n = a->n_unrecorded;
	if (a->unrecorded == NULL)
		return;
	tx = fw_store_begin(s) == 0;
	for (struct unrecorded *u = a->unrecorded; u && r == 0; u = u->next)
		r = record_outcome(s, u->rowid, u->result, u->next_at, u->message);
	if (r == 0 && tx)
		r = fw_store_commit(s);
	if (r < 0) {
		if (tx)
			fw_store_rollback(s);
		if (!a->unrecorded_logged)
			fw_log(
			    FW_LOG_ERR,
			    "outbox: cannot record %zu delivery outcomes (kept in memory, written "
			    "again later): %s",
			    n, fw_store_error(s));
		a->unrecorded_logged = true;
		return;
	}
	if (a->unrecorded_logged)
		fw_log(FW_LOG_NOTICE, "outbox: %zu delivery outcomes recorded late", n);
	a->unrecorded_logged = false;
	while (a->unrecorded) {
		struct unrecorded *u = a->unrecorded;

		a->unrecorded = u->next;
		free(u);
	}
	a->n_unrecorded = 0;
}

static void free_unrecorded(struct fw_alerter *a)
{
	if (a->n_unrecorded > 0)
		fw_log(FW_LOG_WARNING,
		       "outbox: %zu delivery outcomes could not be recorded: those alerts will be "
		       "sent again",
		       a->n_unrecorded);
	while (a->unrecorded) {
		struct unrecorded *u = a->unrecorded;

		a->unrecorded = u->next;
		free(u);
	}
	a->n_unrecorded = 0;
}

static void handle_completion(struct fw_alerter *a, struct completion *c)
{
	struct delivery *d = flying_take(a, c->token);
	int64_t now = time(NULL);

	if (d == NULL)
		return; /* late or duplicate done(): ignored */
	for (size_t i = 0; i < d->n; i++) {
		int64_t attempts = d->attempts[i] + 1;
		const struct fw_config_output *oc = d->out->cfg;
		int64_t next_at = -1; /* a retry's time; -1 = dead letter */

		if (c->result == FW_DISABLE)
			next_at = now + FW_DOWN_RETRY;
		else if (c->result != FW_DELIVERED && c->result != FW_FAILED &&
		         attempts < oc->max_attempts && now - d->created[i] < oc->max_age)
			next_at = now + backoff(oc, attempts, c->retry_after);
		remember_unrecorded(a, d->rowids[i], c->result, next_at, c->message);
	}
	if (c->result == FW_DELIVERED)
		d->out->delivered += d->n;
	else
		d->out->failed++;
	switch (c->result) {
	case FW_DELIVERED:
		fw_log(FW_LOG_INFO, "output '%s': delivered alert %s%s", d->out->cfg->name,
		       d->alert.id, d->n > 1 ? " (digest)" : "");
		break;
	case FW_FAILED:
		fw_log(FW_LOG_ERR, "output '%s': alert %s failed for good: %s", d->out->cfg->name,
		       d->alert.id, c->message);
		break;
	case FW_DISABLE:
		d->out->disabled = true;
		fw_log(FW_LOG_ERR, "output '%s': disabled (%s); alerts stay queued",
		       d->out->cfg->name, c->message);
		break;
	default:
		fw_log(FW_LOG_WARNING, "output '%s': alert %s not delivered (attempt %u): %s",
		       d->out->cfg->name, d->alert.id, d->alert.attempt, c->message);
	}
	delivery_free(d);
}

static void pump(struct fw_alerter *a);
static void reap_retired(struct fw_alerter *a);

/* A blocking plugin may call done() inside deliver(), before after_work_cb() has moved the
   delivery to the flying list: its completion must wait for that. */
static bool still_working(struct fw_alerter *a, uint64_t token)
{
	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		for (size_t i = 0; i < g->n_outs; i++)
			for (struct delivery *d = g->outs[i].work_head; d; d = d->next)
				if (d->token == token)
					return true;
	return false;
}

static void async_cb(uv_async_t *h)
{
	struct fw_alerter *a = h->data;
	struct completion *c, *wait_head = NULL, *wait_tail = NULL;

	pthread_mutex_lock(&a->lock);
	c = a->completions;
	a->completions = a->completions_tail = NULL;
	pthread_mutex_unlock(&a->lock);
	while (c) {
		struct completion *next = c->next;

		if (!a->closing && still_working(a, c->token)) {
			c->next = NULL;
			if (wait_tail)
				wait_tail->next = c;
			else
				wait_head = c;
			wait_tail = c;
			c = next;
			continue;
		}
		if (!a->closing)
			handle_completion(a, c);
		free(c);
		c = next;
	}
	if (!a->closing)
		flush_unrecorded(a);
	if (wait_head) {
		/* Back in front of the queue; after_work_cb() sends the async again. */
		pthread_mutex_lock(&a->lock);
		wait_tail->next = a->completions;
		a->completions = wait_head;
		if (a->completions_tail == NULL)
			a->completions_tail = wait_tail;
		pthread_mutex_unlock(&a->lock);
	}
	if (!a->closing)
		reap_retired(a);
	pump(a);
}

static void timer_cb(uv_timer_t *t)
{
	pump(t->data);
}

static struct output_rt *find_output(struct fw_alerter *a, const char *name)
{
	for (size_t i = 0; i < a->cur->n_outs; i++)
		if (strcmp(a->cur->outs[i].cfg->name, name) == 0)
			return &a->cur->outs[i];
	return NULL;
}

/* Dispatch the due rows of one output (all of e[0..n) belong to it). */
static size_t pump_output(struct fw_alerter *a, struct output_rt *out, struct fw_outbox_entry *e,
                          size_t n, int64_t now)
{
	struct fw_store *s = a->d->store;
	size_t sent = 0, i = 0, slots;
	int64_t budget = INT64_MAX;

	if (out == NULL || out->ctx == NULL || out->disabled) {
		for (size_t k = 0; k < n; k++)
			fw_store_outbox_hold(s, e[k].rowid, now + FW_DOWN_RETRY,
			                     out == NULL        ? "output not configured"
			                     : out->ctx == NULL ? "output not running"
			                                        : "output disabled");
		return 0;
	}
	/* Expired rows become dead letters before anything is sent. */
	for (size_t k = 0; k < n; k++) {
		if (now - e[k].created >= out->cfg->max_age) {
			fw_store_outbox_expire(s, e[k].rowid, "expired (max_age)");
			e[k].rowid = 0;
		}
	}
	slots = out->in_flight < FW_OUTPUT_IN_FLIGHT ? FW_OUTPUT_IN_FLIGHT - out->in_flight : 0;
	if (out->cfg->rate_limit > 0) {
		if (now >= out->window_start + out->cfg->rate_window) {
			out->window_start = now;
			out->sent_in_window = 0;
		}
		budget = out->cfg->rate_limit - out->sent_in_window;
	}
	while (i < n && slots > 0 && budget > 0) {
		struct delivery *d;
		size_t live = 0, take = 1;

		if (e[i].rowid == 0) {
			i++;
			continue;
		}
		for (size_t k = i; k < n; k++)
			live += e[k].rowid != 0;
		/* Over the rate limit: the last alert of the window folds in all the rest. */
		if (budget == 1 && live > 1) {
			size_t w = 0;

			/* Swap, not copy: every entry owns its strings and is freed once, by
			   the caller, whatever its place in e[]. */
			for (size_t k = i; k < n; k++) {
				if (e[k].rowid != 0) {
					struct fw_outbox_entry t = e[i + w];

					e[i + w++] = e[k];
					e[k] = t;
				}
			}
			take = w > FW_DIGEST_MAX ? FW_DIGEST_MAX : w;
		}
		d = delivery_new(out, &e[i], take);
		if (d == NULL) {
			for (size_t k = i; k < i + take; k++)
				fw_store_outbox_kill(s, e[k].rowid, "unreadable outbox payload");
		} else {
			dispatch(a, d);
			sent++;
		}
		i += take;
		slots--;
		budget--;
		out->sent_in_window++;
	}
	return sent;
}

static int cmp_output(const void *x, const void *y)
{
	const struct fw_outbox_entry *a = x, *b = y;
	int c = strcmp(a->output, b->output);

	if (c)
		return c;
	return a->next_at < b->next_at   ? -1
	       : a->next_at > b->next_at ? 1
	                                 : (a->rowid > b->rowid) - (a->rowid < b->rowid);
}

static void arm_timer(struct fw_alerter *a, int64_t now)
{
	int64_t when, delay = FW_PUMP_IDLE;

	if (fw_store_outbox_next_due(a->d->store, &when) == 0)
		delay = when > now ? when - now : 1;
	if (delay > FW_PUMP_IDLE)
		delay = FW_PUMP_IDLE;
	if (a->n_unrecorded > 0 && delay > 5)
		delay = 5; /* write the kept outcomes again soon */
	uv_timer_start(&a->timer, timer_cb, (uint64_t)delay * 1000, 0);
}

/* Look at the outbox and dispatch what is due. */
static void pump(struct fw_alerter *a)
{
	struct fw_outbox_entry *e = NULL;
	int64_t *busy = NULL, now = time(NULL);
	size_t n = 0, nb = 0, sent = 0;
	int r;

	if (a->closing || a->pumping)
		return;
	a->pumping = true;
	flush_unrecorded(a);
	nb = a->n_unrecorded;
	for (struct delivery *d = a->flying; d; d = d->next)
		nb += d->n;
	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		for (size_t i = 0; i < g->n_outs; i++)
			for (struct delivery *d = g->outs[i].work_head; d; d = d->next)
				nb += d->n;
	busy = calloc(nb + 1, sizeof(*busy));
	if (busy == NULL)
		goto out;
	nb = 0;
	for (struct unrecorded *u = a->unrecorded; u; u = u->next)
		busy[nb++] = u->rowid;
	for (struct delivery *d = a->flying; d; d = d->next)
		for (size_t i = 0; i < d->n; i++)
			busy[nb++] = d->rowids[i];
	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		for (size_t o = 0; o < g->n_outs; o++)
			for (struct delivery *d = g->outs[o].work_head; d; d = d->next)
				for (size_t i = 0; i < d->n; i++)
					busy[nb++] = d->rowids[i];
	r = fw_store_outbox_due(a->d->store, now, FW_PUMP_BATCH, busy, nb, &e, &n);
	if (r < 0) {
		fw_log(FW_LOG_ERR, "outbox: cannot read: %s", fw_store_error(a->d->store));
		goto out;
	}
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_output);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && strcmp(e[j].output, e[i].output) == 0)
			j++;
		sent += pump_output(a, find_output(a, e[i].output), &e[i], j - i, now);
		i = j;
	}
out:
	fw_outbox_entries_free(e, n);
	free(busy);
	a->pumping = false;
	if (a->closing)
		return;
	arm_timer(a, now);
	if (sent == 0 && fw_alert_in_flight(a) == 0)
		fw_loop_alerts_idle(a->d);
}

/* Look at the outbox now. */
void fw_alert_kick(struct fw_alerter *a)
{
	/* Through the async handle, so a kick from deep inside a callback never re-enters. */
	if (a && !a->closing)
		uv_async_send(&a->async);
}

/* Deliveries in flight. */
size_t fw_alert_in_flight(const struct fw_alerter *a)
{
	size_t n = 0;

	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		for (size_t i = 0; i < g->n_outs; i++)
			n += g->outs[i].in_flight;
	return n;
}

/* Start the outputs of cfg as a new generation. NULL on allocation failure. */
static struct gen *gen_new(struct fw_alerter *a, struct fw_config *cfg, const struct gen *prev)
{
	struct gen *g = calloc(1, sizeof(*g));
	char *dir = fw_plugin_dir(cfg->plugin_dir);

	if (g == NULL || dir == NULL) {
		free(g);
		free(dir);
		return NULL;
	}
	g->cfg = cfg;
	g->outs = calloc(cfg->n_outputs + 1, sizeof(*g->outs));
	if (g->outs == NULL) {
		free(g);
		free(dir);
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_outputs; i++) {
		struct output_rt *o = &g->outs[g->n_outs++];
		char err[512];

		o->a = a;
		o->gen = g;
		o->cfg = &cfg->outputs[i];
		/* A reloaded output keeps its rate-limit window: a reload is no reason to burst. */
		for (size_t k = 0; prev && k < prev->n_outs; k++) {
			if (strcmp(prev->outs[k].cfg->name, o->cfg->name) == 0) {
				o->window_start = prev->outs[k].window_start;
				o->sent_in_window = prev->outs[k].sent_in_window;
				o->delivered = prev->outs[k].delivered;
				o->failed = prev->outs[k].failed;
			}
		}
		if (fw_host_instance_new(a->d, dir, o->cfg, &o->ctx, err, sizeof(err)) < 0) {
			fw_log(FW_LOG_ERR, "output '%s' is down: %s; its alerts wait in the outbox",
			       o->cfg->name, err);
			o->ctx = NULL;
			continue;
		}
		o->blocking = (fw_host_plugin(o->ctx)->flags & FW_PLUGIN_BLOCKING) != 0;
		/* Running (again): what was held for it while it was disabled or down is due
		   now. The caller kicks the pump. */
		if (fw_store_outbox_release(a->d->store, o->cfg->name, time(NULL), NULL) < 0)
			fw_log(FW_LOG_ERR, "output '%s': cannot release its held alerts: %s",
			       o->cfg->name, fw_store_error(a->d->store));
	}
	free(dir);
	return g;
}

static bool gen_busy(const struct gen *g)
{
	for (size_t i = 0; i < g->n_outs; i++)
		if (g->outs[i].in_flight > 0 || g->outs[i].working || g->outs[i].work_head)
			return true;
	return false;
}

/* Finalise a generation's plugins and free it (its config too when own_cfg). */
static void gen_free(struct gen *g, bool own_cfg)
{
	for (size_t i = 0; i < g->n_outs; i++) {
		struct output_rt *o = &g->outs[i];

		while (o->work_head) {
			struct delivery *d = o->work_head;

			o->work_head = d->next;
			delivery_free(d);
		}
		o->ctx = fw_host_instance_free(o->ctx);
	}
	free(g->outs);
	if (own_cfg)
		fw_config_free(g->cfg);
	free(g);
}

/* Free retired generations whose last delivery has completed. */
static void reap_retired(struct fw_alerter *a)
{
	for (struct gen **p = &a->retired; *p;) {
		struct gen *g = *p;

		if (gen_busy(g)) {
			p = &g->next;
			continue;
		}
		*p = g->next;
		gen_free(g, true);
	}
}

/* Start the outputs. */
int fw_alert_new(struct fw_daemon *d, struct fw_alerter **out)
{
	struct fw_alerter *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return -ENOMEM;
	a->d = d;
	pthread_mutex_init(&a->lock, NULL);
	uv_timer_init(&d->loop, &a->timer);
	a->timer.data = a;
	uv_async_init(&d->loop, &a->async, async_cb);
	a->async.data = a;
	a->open_handles = 2;
	d->alerter = a; /* plugins may call done() from init */
	a->cur = gen_new(a, d->cfg, NULL);
	if (a->cur == NULL) {
		fw_alert_close(a);
		return -ENOMEM;
	}
	*out = a;
	return 0;
}

/* A new config: new output instances; the old ones finish what they carry, then go, and
   take old_cfg with them. */
int fw_alert_reload(struct fw_alerter *a)
{
	struct gen *g = gen_new(a, a->d->cfg, a->cur);

	if (g == NULL)
		return -ENOMEM;
	a->cur->next = a->retired;
	a->retired = a->cur;
	a->cur = g;
	reap_retired(a);
	fw_alert_kick(a);
	return 0;
}

/* SIGHUP. */
void fw_alert_reopen(struct fw_alerter *a)
{
	for (size_t i = 0; a && a->cur && i < a->cur->n_outs; i++) {
		struct output_rt *o = &a->cur->outs[i];

		if (o->ctx && fw_host_plugin(o->ctx)->reopen)
			fw_host_plugin(o->ctx)->reopen(fw_host_state(o->ctx));
	}
}

static void close_cb(uv_handle_t *h)
{
	struct fw_alerter *a = h->data;

	if (--a->open_handles > 0)
		return;
	pthread_mutex_destroy(&a->lock);
	while (a->completions) {
		struct completion *c = a->completions;

		a->completions = c->next;
		free(c);
	}
	free(a);
}

static bool work_running(struct fw_alerter *a)
{
	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		for (size_t i = 0; i < g->n_outs; i++)
			if (g->outs[i].working)
				return true;
	return false;
}

static void finish_close(struct fw_alerter *a);

static void close_wait_cb(uv_timer_t *t)
{
	finish_close(t->data);
}

/* Once no plugin call runs on the thread pool: finalise plugins, close handles. */
static void finish_close(struct fw_alerter *a)
{
	if (work_running(a)) {
		uv_timer_start(&a->timer, close_wait_cb, 10, 0);
		return;
	}
	while (a->flying) {
		struct delivery *d = a->flying;

		a->flying = d->next;
		delivery_free(d);
	}
	while (a->retired) {
		struct gen *g = a->retired;

		a->retired = g->next;
		gen_free(g, true);
	}
	if (a->cur)
		gen_free(a->cur, false); /* the daemon frees its current config */
	a->cur = NULL;
	a->d->alerter = NULL;
	uv_close((uv_handle_t *)&a->timer, close_cb);
	uv_close((uv_handle_t *)&a->async, close_cb);
}

/* Drop queued, not started work of one generation (the rows stay pending). */
static void drop_queued(struct gen *g)
{
	for (size_t i = 0; i < g->n_outs; i++) {
		struct output_rt *o = &g->outs[i];
		struct delivery *keep = o->working ? o->work_head : NULL;
		struct delivery *rest = keep ? keep->next : o->work_head;

		if (keep)
			keep->next = NULL;
		o->work_head = o->work_tail = keep;
		while (rest) {
			struct delivery *next = rest->next;

			delivery_free(rest);
			rest = next;
		}
	}
}

/* Stop delivering; what is in flight stays in the outbox for the next start. */
void fw_alert_close(struct fw_alerter *a)
{
	if (a == NULL || a->closing)
		return;
	a->closing = true;
	uv_timer_stop(&a->timer);
	flush_unrecorded(a);
	free_unrecorded(a);
	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		drop_queued(g);
	finish_close(a);
}
