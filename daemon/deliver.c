/*
 * deliver.c - delivering alerts: the outbox pump, plugin instances per config generation
 * (a reload retires the old ones once their deliveries end), deliveries on the loop or a
 * worker thread for blocking plugins, completions back through an async handle, retries
 * with backoff and jitter, rate limits folding the rest of a window into digests, dead
 * letters, and outcomes the store could not record kept and written again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "clock.h"
#include "config.h"
#include "deliver.h"
#include "host.h"
#include "log.h"
#include "loader.h"
#include "metrics.h"
#include "store.h"

#define FW_PUMP_BATCH       128 /* outbox rows looked at per pass */
#define FW_OUTPUT_IN_FLIGHT 8   /* deliveries at once per output */
#define FW_RETRY_AFTER_CAP  86400
#define FW_DOWN_RETRY       300 /* an output that is not running: look again then */
#define FW_PUMP_IDLE        60  /* longest outbox sleep: `outbox retry` runs elsewhere */
#define FW_DIGEST_MAX       FW_PUMP_BATCH

/* The outputs of one config. A reload makes a new generation; the old one retires and is
   freed, with its config, once its last delivery has completed. */
struct gen {
	struct fw_config *cfg; /* owned once retired (the daemon owns the current one) */
	struct output_rt *outs;
	size_t n_outs;
	struct gen *next; /* retired list */
};

struct output_rt {
	struct fw_deliver *a;
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

struct fw_deliver {
	struct fw_deliver_env env;
	struct fw_host_env host;       /* handed to every plugin instance; net NULL once closed */
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

/* Delivered (which 0) or failed (1) counts of an output, for the metrics file. */
uint64_t fw_deliver_counter(const struct fw_deliver *a, const char *output, int which)
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

/* The output's own priority, title and body keys over the watchlist's, in one alert's JSON
   (the outbox row keeps the watchlist's: a reload that changes an output changes what its
   pending alerts look like). Returns the alert's priority. */
static int apply_output_keys(const struct fw_config_output *oc, json_t *a)
{
	json_t *t;
	int prio;

	if (oc->priority != FW_PRIORITY_UNSET)
		json_object_set_new(a, "priority",
		                    json_string(fw_config_priority_name(oc->priority)));
	if (oc->title || oc->body) {
		t = json_object_get(a, "template");
		if (!json_is_object(t)) {
			t = json_object();
			json_object_set_new(a, "template", t);
		}
		if (oc->title)
			json_object_set_new(t, "title", json_string(oc->title));
		if (oc->body)
			json_object_set_new(t, "body", json_string(oc->body));
	}
	prio = fw_config_priority_parse(jget(a, "priority"));
	return prio < 0 ? FW_PRIORITY_NORMAL : prio;
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
		if (json_is_object(first))
			apply_output_keys(out->cfg, first);
	} else {
		int prio = FW_PRIORITY_LOW;

		json_t *arr = json_array();

		d->payload = json_object();
		if (arr == NULL || d->payload == NULL) {
			json_decref(arr);
			return delivery_free(d);
		}
		for (size_t i = 0; i < n; i++) {
			json_t *p = json_loads(e[i].payload, 0, NULL);
			int pr;

			if (p == NULL)
				continue;
			pr = json_is_object(p) ? apply_output_keys(out->cfg, p) : FW_PRIORITY_LOW;
			prio = pr > prio ? pr : prio;
			json_array_append_new(arr, p);
		}
		/* A digest is as urgent as the most urgent alert it folds in. */
		json_object_set_new(d->payload, "priority",
		                    json_string(fw_config_priority_name(prio)));
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

static void flying_add(struct fw_deliver *a, struct delivery *d)
{
	d->next = a->flying;
	a->flying = d;
	d->out->in_flight++;
}

static struct delivery *flying_take(struct fw_deliver *a, uint64_t token)
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

static void push_completion(struct fw_deliver *a, uint64_t token, enum fw_result result,
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
void fw_deliver_done(struct fw_deliver *a, uint64_t token, enum fw_result result,
                     int64_t retry_after, const char *message)
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
	if (uv_queue_work(out->a->env.loop, &out->work, work_cb, after_work_cb) != 0)
		out->working = false;
}

/* Hand one delivery to its plugin. */
static void dispatch(struct fw_deliver *a, struct delivery *d)
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
		r = fw_store_outbox_delivered(s, rowid, fw_clock_now());
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
static void remember_unrecorded(struct fw_deliver *a, int64_t rowid, enum fw_result result,
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
static void flush_unrecorded(struct fw_deliver *a)
{
	struct fw_store *s = a->env.store;
	size_t n = a->n_unrecorded;
	bool tx;
	int r = 0;

	/* A retry whose time has come needs no record: its row is still due in the store
	   (only the attempt count misses it). Only final outcomes must hold rows back. */
	for (struct unrecorded **pp = &a->unrecorded; *pp;) {
		struct unrecorded *u = *pp;

		if (u->result == FW_RETRY && u->next_at >= 0 && u->next_at <= fw_clock_now()) {
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

static void free_unrecorded(struct fw_deliver *a)
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

static void handle_completion(struct fw_deliver *a, struct completion *c)
{
	struct delivery *d = flying_take(a, c->token);
	int64_t now = fw_clock_now();

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
		for (size_t i = 0; i < d->n; i++)
			fw_metrics_observe_delivery(a->env.metrics,
			                            fw_clock_now_f() - (double)d->created[i]);
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

static void pump(struct fw_deliver *a);
static void reap_retired(struct fw_deliver *a);

/* A blocking plugin may call done() inside deliver(), before after_work_cb() has moved the
   delivery to the flying list: its completion must wait for that. */
static bool still_working(struct fw_deliver *a, uint64_t token)
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
	struct fw_deliver *a = h->data;
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

static struct output_rt *find_output(struct fw_deliver *a, const char *name)
{
	for (size_t i = 0; i < a->cur->n_outs; i++)
		if (strcmp(a->cur->outs[i].cfg->name, name) == 0)
			return &a->cur->outs[i];
	return NULL;
}

/* Dispatch the due rows of one output (all of e[0..n) belong to it). */
static size_t pump_output(struct fw_deliver *a, struct output_rt *out, struct fw_outbox_entry *e,
                          size_t n, int64_t now)
{
	struct fw_store *s = a->env.store;
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

static void arm_timer(struct fw_deliver *a, int64_t now)
{
	int64_t when, delay = FW_PUMP_IDLE;

	if (fw_store_outbox_next_due(a->env.store, &when) == 0)
		delay = when > now ? when - now : 1;
	if (delay > FW_PUMP_IDLE)
		delay = FW_PUMP_IDLE;
	if (a->n_unrecorded > 0 && delay > 5)
		delay = 5; /* write the kept outcomes again soon */
	uv_timer_start(&a->timer, timer_cb, fw_clock_timer_ms(delay), 0);
}

/* Look at the outbox and dispatch what is due. */
static void pump(struct fw_deliver *a)
{
	struct fw_outbox_entry *e = NULL;
	int64_t *busy = NULL, now = fw_clock_now();
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
	r = fw_store_outbox_due(a->env.store, now, FW_PUMP_BATCH, busy, nb, &e, &n);
	if (r < 0) {
		fw_log(FW_LOG_ERR, "outbox: cannot read: %s", fw_store_error(a->env.store));
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
	if (sent == 0 && fw_deliver_in_flight(a) == 0 && a->env.idle)
		a->env.idle(a->env.arg);
}

/* Look at the outbox now. */
void fw_deliver_kick(struct fw_deliver *a)
{
	/* Through the async handle, so a kick from deep inside a callback never re-enters. */
	if (a && !a->closing)
		uv_async_send(&a->async);
}

/* Deliveries in flight. */
size_t fw_deliver_in_flight(const struct fw_deliver *a)
{
	size_t n = 0;

	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		for (size_t i = 0; i < g->n_outs; i++)
			n += g->outs[i].in_flight;
	return n;
}

/* Start the outputs of cfg as a new generation. NULL on allocation failure. */
static struct gen *gen_new(struct fw_deliver *a, struct fw_config *cfg, const struct gen *prev)
{
	struct gen *g = calloc(1, sizeof(*g));
	char *dir = fw_loader_dir(cfg->plugin_dir);

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
		if (fw_host_instance_new(&a->host, cfg, dir, o->cfg, &o->ctx, err, sizeof(err)) <
		    0) {
			fw_log(FW_LOG_ERR, "output '%s' is down: %s; its alerts wait in the outbox",
			       o->cfg->name, err);
			o->ctx = NULL;
			continue;
		}
		o->blocking = (fw_host_plugin(o->ctx)->flags & FW_PLUGIN_BLOCKING) != 0;
		/* Running (again): what was held for it while it was disabled or down is due
		   now. The caller kicks the pump. */
		if (fw_store_outbox_release(a->env.store, o->cfg->name, fw_clock_now(), NULL) < 0)
			fw_log(FW_LOG_ERR, "output '%s': cannot release its held alerts: %s",
			       o->cfg->name, fw_store_error(a->env.store));
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
static void reap_retired(struct fw_deliver *a)
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

/* A plugin's completion, through the host's done(): any thread. */
static void host_done_cb(void *arg, uint64_t token, enum fw_result result, int64_t retry_after,
                         const char *message)
{
	fw_deliver_done(arg, token, result, retry_after, message);
}

/* Start the outputs. */
int fw_deliver_new(const struct fw_deliver_env *env, struct fw_config *cfg, struct fw_deliver **out)
{
	struct fw_deliver *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return -ENOMEM;
	a->env = *env;
	a->host = (struct fw_host_env){
	    .loop = env->loop, .net = env->net, .done = host_done_cb, .arg = a};
	pthread_mutex_init(&a->lock, NULL);
	uv_timer_init(env->loop, &a->timer);
	a->timer.data = a;
	uv_async_init(env->loop, &a->async, async_cb);
	a->async.data = a;
	a->open_handles = 2;
	a->cur = gen_new(a, cfg, NULL); /* plugins may call done() from init: a is ready */
	if (a->cur == NULL) {
		fw_deliver_close(a);
		return -ENOMEM;
	}
	*out = a;
	return 0;
}

/* A new config: new output instances; the old ones finish what they carry, then go, and
   take the old config with them. */
int fw_deliver_reload(struct fw_deliver *a, struct fw_config *cfg)
{
	struct gen *g = gen_new(a, cfg, a->cur);

	if (g == NULL)
		return -ENOMEM;
	a->cur->next = a->retired;
	a->retired = a->cur;
	a->cur = g;
	reap_retired(a);
	fw_deliver_kick(a);
	return 0;
}

/* SIGHUP. */
void fw_deliver_reopen(struct fw_deliver *a)
{
	for (size_t i = 0; a && a->cur && i < a->cur->n_outs; i++) {
		struct output_rt *o = &a->cur->outs[i];

		if (o->ctx && fw_host_plugin(o->ctx)->reopen)
			fw_host_plugin(o->ctx)->reopen(fw_host_state(o->ctx));
	}
}

static void close_cb(uv_handle_t *h)
{
	struct fw_deliver *a = h->data;

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

static bool work_running(struct fw_deliver *a)
{
	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		for (size_t i = 0; i < g->n_outs; i++)
			if (g->outs[i].working)
				return true;
	return false;
}

static void finish_close(struct fw_deliver *a);

static void close_wait_cb(uv_timer_t *t)
{
	finish_close(t->data);
}

/* Once no plugin call runs on the thread pool: finalise plugins, close handles. */
static void finish_close(struct fw_deliver *a)
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
void fw_deliver_close(struct fw_deliver *a)
{
	if (a == NULL || a->closing)
		return;
	a->closing = true;
	a->host.net = NULL; /* closed before the outputs: their HTTP is gone with it */
	uv_timer_stop(&a->timer);
	flush_unrecorded(a);
	free_unrecorded(a);
	for (struct gen *g = a->cur; g; g = g == a->cur ? a->retired : g->next)
		drop_queued(g);
	finish_close(a);
}

/* Outputs of the current config that could not start or that their plugin disabled. */
size_t fw_deliver_outputs_down(const struct fw_deliver *a)
{
	size_t n = 0;

	for (size_t i = 0; a && a->cur && i < a->cur->n_outs; i++)
		n += a->cur->outs[i].ctx == NULL || a->cur->outs[i].disabled;
	return n;
}
