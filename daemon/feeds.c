/* feeds.c - per-feed timers, admission, and storing a finished poll (its items: poll_items.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <uv.h>

#include "alert.h"
#include "clock.h"
#include "cluster.h"
#include "config.h"
#include "feeds.h"
#include "fetch.h"
#include "grouper.h"
#include "item.h"
#include "log.h"
#include "poll_items.h"
#include "pushwork.h"
#include "schedule.h"
#include "store.h"
#include "text.h"

#define FW_HOST_BACKOFF_DEFAULT 60    /* 429/503 without Retry-After: the host rests this long */
#define FW_HOST_REST_MAX        86400 /* the longest rest a host may ask for */
#define FW_ADMIT_SCAN           256   /* queued feeds looked at per free slot */
#define FW_RESTS_EVERY          5     /* shared store: seconds between reads of the hosts' rests */
#define FW_PAGES_MAX            8     /* older pages (RFC 5005) read after one gap */
/* Polls stored in one transaction at most: a fast server can finish hundreds in one loop
   turn, and each waiting poll holds its items in memory. */
#define FW_GROUP_MAX 32

struct host_rt {
	char *name;
	size_t active;
	int64_t blocked_until;
	int64_t busy_until; /* shared store: host_concurrency polls of it in flight on the nodes;
	                       its feeds wait in the queue, asked for again from then */
};

struct feed_rt {
	struct fw_feeds *owner;
	const struct fw_config_feed *cfg;
	uv_timer_t timer;
	struct fw_fetch *fetch; /* in flight */
	size_t host;            /* index into owner->hosts */
	uint64_t seed;
	uint64_t refused_seen; /* hash of the last move refusal logged, so it is logged once */
	int64_t last_success;  /* Unix time of the last successful poll, 0 = none */
	int64_t push_until;    /* WebSub: pushes arrive, only a safety poll until then */
	uint64_t started_ms;   /* uv_now when the poll in flight started */
	struct fw_schedule_rate rate;     /* learned publication rate (adaptive polling) */
	struct fw_schedule_history hist;  /* newest item dates, in memory (schedule.h part 3) */
	struct fw_schedule_bursts bursts; /* fitted to hist at the last successful poll */
	int64_t fill;     /* ceiling on the interval after a gap (schedule.h part 4), 0 = none */
	int64_t gap_said; /* when a gap at the floor was last logged (once an hour) */
	bool gap;         /* the poll being stored found a gap (check_fill) */
	/* After a gap, the feed's older pages (RFC 5005) are read until one holds an item seen
	   before: the next page's URL (NULL: none; while set, the feed's fetch is that page),
	   older pages asked for (the document is page 1), when the gap's wait began (older
	   items were seen then), the regular poll after them */
	char *page;
	int pages;
	int64_t page_since, resume;
	uint32_t *known; /* the items of the last stored poll (fetch.h opts.known) */
	size_t n_known;
	bool queued;
	bool removed; /* dropped by a reload: closing */
	struct feed_rt *qnext;
};

struct done_poll {
	struct feed_rt *f;
	struct fw_fetch_result r; /* moved out of the fetch */
	bool push;                /* WebSub content, not a poll: no feed state changes */
};

/* A pushed document on the parser thread; the feed is found again by name when it is
   parsed (a reload may have dropped it meanwhile). */
struct push_job {
	struct fw_feeds *owner;
	char *feed;
	int64_t received; /* when the push came (clock.h) */
	struct fw_pushwork *work;
	struct push_job *next;
};

struct fw_feeds {
	struct fw_feeds_env env;
	const struct fw_config *cfg; /* the current one (fw_feeds_reload) */
	struct feed_rt **v;          /* each allocated alone: its timer must not move */
	size_t n;
	struct host_rt *hosts;
	size_t n_hosts;
	size_t *host_slots; /* open-addressing index into hosts by name */
	size_t n_slots;
	size_t active;
	struct feed_rt *qhead, *qtail;
	size_t done; /* once: feeds finished */
	/*
	 * Polls finished in this loop turn, stored together by flush_cb (a uv_check, so right
	 * after the turn's I/O callbacks): one transaction instead of one each, which was most
	 * of the cost of a round of 304s (SQLite's locking and WAL writes per commit).
	 */
	struct done_poll pend[FW_GROUP_MAX];
	size_t n_pend;
	uv_check_t flush;
	uv_idle_t wake;          /* active while polls wait: the loop's poll phase must not block */
	uv_timer_t busy;         /* admits again when a host busy on the nodes may have room */
	struct push_job *pushes; /* pushed documents being parsed */
	double price;       /* adaptive polling's constant c (fw_schedule_budget), 0 = none yet */
	uint64_t price_ms;  /* uv_now when it was computed */
	size_t price_known; /* over this many learned feeds */
	size_t n_known;     /* learned feeds now */
	int64_t rests_read; /* shared store: when the hosts' rests were last read from it */
	int open_handles;
	bool closing;
};

static void poll_now(struct feed_rt *f);
static void admit(struct fw_feeds *fs);

/* host[:port] of an http(s) URL, lower-cased; "" for file URLs and URLs without "://". */
static char *url_host(const char *url)
{
	if (strstr(url, "://") == NULL || strncasecmp(url, "file:", 5) == 0)
		return strdup("");
	return fw_text_url_host(url, true);
}

/* The slot of host name h in fs->host_slots: its own, or the empty one it would take. */
static size_t host_slot(const struct fw_feeds *fs, const char *h)
{
	size_t slot = (size_t)(fw_schedule_seed(h) % fs->n_slots);

	while (fs->host_slots[slot] != SIZE_MAX &&
	       strcmp(fs->hosts[fs->host_slots[slot]].name, h) != 0)
		slot = (slot + 1) % fs->n_slots;
	return slot;
}

/* The index of url's host in fs->hosts, added when new. hosts and host_slots are sized
   for every feed up front, so this never grows them. */
static size_t intern_host(struct fw_feeds *fs, const char *url)
{
	char *h = url_host(url);
	size_t slot;

	if (h == NULL)
		h = strdup("");
	slot = host_slot(fs, h ? h : "");
	if (fs->host_slots[slot] != SIZE_MAX) {
		free(h);
		return fs->host_slots[slot];
	}
	fs->hosts[fs->n_hosts].name = h;
	fs->host_slots[slot] = fs->n_hosts;
	return fs->n_hosts++;
}

/* A host rest remembered by the store (a restart keeps it). */
static void host_rest_cb(const char *host, int64_t until, long http_status, void *arg)
{
	struct fw_feeds *fs = arg;
	size_t slot = host_slot(fs, host);

	(void)http_status;
	if (fs->host_slots[slot] != SIZE_MAX &&
	    until > fs->hosts[fs->host_slots[slot]].blocked_until)
		fs->hosts[fs->host_slots[slot]].blocked_until = until;
}

/* Fresh host tables for n feeds. */
static int hosts_alloc(struct fw_feeds *fs, size_t n)
{
	fs->n_slots = 2 * n + 1;
	fs->hosts = calloc(n + 1, sizeof(*fs->hosts));
	fs->host_slots = malloc(fs->n_slots * sizeof(size_t));
	fs->n_hosts = 0;
	if (fs->hosts == NULL || fs->host_slots == NULL)
		return -ENOMEM;
	memset(fs->host_slots, 0xff, fs->n_slots * sizeof(size_t));
	return 0;
}

static void hosts_free(struct host_rt *hosts, size_t n, size_t *slots)
{
	for (size_t i = 0; i < n; i++)
		free(hosts[i].name);
	free(hosts);
	free(slots);
}

static void timer_cb(uv_timer_t *t)
{
	struct feed_rt *f = t->data;

	poll_now(f);
}

/* Start t to fire as the clock reaches the second `when`, not a moment before and not up
   to a second after. The timer counts from the loop's time, which lags the clock by this
   turn's work so far. */
static void timer_until(uv_timer_t *t, uv_timer_cb cb, int64_t when)
{
	uv_update_time(t->loop);
	uv_timer_start(t, cb, fw_clock_timer_until(when), 0);
}

/* Poll at the whole second `when` or within the second after it (`now` is whole seconds). */
static void schedule_at(struct feed_rt *f, int64_t when, int64_t now)
{
	if (f->owner->env.once || f->owner->closing)
		return;
	uv_timer_start(&f->timer, timer_cb, fw_clock_timer_ms(when > now ? when - now : 0), 0);
}

/* Poll as the clock reaches `when`: a claim another node holds ends then, and a takeover
   must come within a lease of its last renewal (pg_cluster.c), not a second later. */
static void schedule_exact(struct feed_rt *f, int64_t when)
{
	if (f->owner->env.once || f->owner->closing)
		return;
	timer_until(&f->timer, timer_cb, when);
}

static void enqueue(struct feed_rt *f)
{
	struct fw_feeds *fs = f->owner;

	if (f->queued || f->fetch)
		return;
	f->queued = true;
	f->qnext = NULL;
	if (fs->qtail)
		fs->qtail->qnext = f;
	else
		fs->qhead = f;
	fs->qtail = f;
}

static void poll_now(struct feed_rt *f)
{
	enqueue(f);
	admit(f->owner);
}

static void once_progress(struct fw_feeds *fs)
{
	if (fs->env.once && fs->done == fs->n && fs->env.done)
		fs->env.done(fs->env.arg);
}

/*
 * WebSub: while pushes arrive (push_until ahead), a feed is polled only as a safety net, at
 * push_until; when pushes stop for that long, or the subscription lapses
 * (fw_feeds_push_lapsed), its own schedule holds again. The one place that knows.
 */
static int64_t push_floor(const struct feed_rt *f, int64_t next, int64_t now)
{
	return f->push_until > now && f->push_until > next ? f->push_until : next;
}

/* A feed's adaptive bounds: lo <= interval <= hi (config.c checks the explicit ones). */
static struct fw_schedule_feed sched_feed(const struct feed_rt *f)
{
	const struct fw_config *cfg = f->owner->cfg;
	struct fw_schedule_feed v = {
	    .rate = fw_schedule_rate_value(&f->rate),
	    .interval = f->cfg->interval,
	    .lo = f->cfg->min_interval ? f->cfg->min_interval : cfg->min_interval,
	    .hi = f->cfg->max_interval ? f->cfg->max_interval : cfg->max_interval,
	    .bursts = &f->bursts};

	v.lo = v.lo < cfg->min_interval ? cfg->min_interval : v.lo;
	v.lo = v.lo > v.interval ? v.interval : v.lo;
	v.hi = v.hi < v.interval ? v.interval : v.hi;
	return v;
}

/*
 * Adaptive polling: the interval of f under the request budget of fixed polling (see
 * schedule.h), 0 when it keeps its configured interval (adaptive off, nothing learned).
 * The constant of the allocation is recomputed over the learned feeds at most every 10 s
 * of real time: rates move slowly, and the bisection costs O(feeds).
 */
static int64_t adaptive_interval(struct feed_rt *f)
{
	struct fw_feeds *fs = f->owner;
	struct fw_schedule_feed me;
	uint64_t ms = uv_now(fs->env.loop);

	if (!fs->cfg->adaptive || !fw_schedule_rate_known(&f->rate))
		return 0;
	/* ... or at once when an eighth more feeds have learned (the first round). */
	if (fs->price <= 0 || ms - fs->price_ms >= 10000 ||
	    fs->n_known > fs->price_known + fs->price_known / 8) {
		struct fw_schedule_feed *v = calloc(fs->n + 1, sizeof(*v));
		size_t n = 0;

		for (size_t i = 0; v && i < fs->n; i++)
			if (fw_schedule_rate_known(&fs->v[i]->rate))
				v[n++] = sched_feed(fs->v[i]);
		if (v) {
			fs->price = fw_schedule_budget(v, n);
			fs->price_ms = ms;
			fs->price_known = fs->n_known = n;
		}
		free(v);
	}
	me = sched_feed(f);
	return fw_schedule_adaptive(&me, fs->price);
}

/* The longest a feed may wait for its next poll after a restart or reload: its interval,
   or with adaptive polling its upper bound (a changed interval or bound counts at once). */
static int64_t longest_wait(const struct feed_rt *f)
{
	if (f->owner->cfg->adaptive && fw_schedule_rate_known(&f->rate))
		return sched_feed(f).hi;
	return f->cfg->interval;
}

/* 429 and 503 rest the whole host: every feed on it waits (at most a day, as any
   Retry-After, and remembered across restarts). For a poll and a gap's page alike. */
static void rest_host(struct feed_rt *f, const struct fw_fetch_result *r, int64_t now)
{
	struct host_rt *h = &f->owner->hosts[f->host];
	int64_t rest = r->retry_after > 0 ? r->retry_after : FW_HOST_BACKOFF_DEFAULT;
	int64_t until = now + (rest < FW_HOST_REST_MAX ? rest : FW_HOST_REST_MAX);

	if ((r->status != 429 && r->status != 503) || h->name[0] == 0 || until <= h->blocked_until)
		return;
	h->blocked_until = until;
	/* best effort: the rest holds in memory even if the store refuses it */
	fw_store_host_rest(f->owner->env.store, h->name, until, r->status);
}

/* The decision about the next poll, from what this poll said. */
static int64_t reschedule(struct feed_rt *f, const struct fw_fetch_result *r,
                          const struct fw_feed_state *st, int64_t now)
{
	const struct fw_config *cfg = f->owner->cfg;
	struct fw_schedule_in in = {
	    .now = now,
	    .interval = f->cfg->interval,
	    .min_interval = cfg->min_interval,
	    .max_backoff = cfg->max_backoff,
	    .ok = r->error == 0,
	    .error_streak = st->error_streak,
	    .retry_after = r->retry_after,
	    .max_age = r->max_age,
	    .expires = r->expires,
	    .ttl = r->ttl,
	    .seed = f->seed,
	    .adaptive = r->error == 0 ? adaptive_interval(f) : 0,
	    .push_until = 0, /* WebSub: the feed's live push lease, when it has one */
	    .fill = f->fill,
	};
	int64_t next = push_floor(f, fw_schedule_next(&in), now);

	rest_host(f, r, now);
	if (f->page) /* a gap's pages come first (a push meanwhile): this poll after them */
		f->resume = next;
	else
		schedule_at(f, next, now);
	return next;
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? strdup(src) : NULL;
}

/* The feed's state after a poll with result r (validators, error streak); url NULL keeps
   the one stored. */
static void apply_result(struct fw_feed_state *st, const struct fw_fetch_result *r, const char *url,
                         bool first_poll, int64_t now)
{
	if (first_poll && st->exists) {
		/* The config points the feed elsewhere now: forget the old URL's HTTP state. */
		set_str(&st->etag, NULL);
		set_str(&st->last_modified, NULL);
		set_str(&st->moved_url, NULL);
		st->rate_items = st->rate_seconds = 0; /* and what it taught of the old feed */
		st->rate_at = 0;
	}
	st->exists = true;
	if (url)
		set_str(&st->url, url);
	st->last_poll = now;
	st->http_status = r->status;
	if (r->error == 0 || r->error == -EFBIG) {
		/* A 200 replaces the validators (dropping ones the server no longer sends);
		   a 304 may refresh them. */
		if (!r->not_modified || r->etag)
			set_str(&st->etag, r->etag);
		if (!r->not_modified || r->last_modified)
			set_str(&st->last_modified, r->last_modified);
		if (r->moved_url)
			set_str(&st->moved_url, r->moved_url);
		else if (r->move_dropped) /* a stored move off the configured origin */
			set_str(&st->moved_url, NULL);
	}
	if (r->error == 0) {
		st->error_streak = 0;
		st->first_error = 0;
		st->last_success = now;
		st->failing_alerted = false;
		set_str(&st->last_error, NULL);
	} else {
		if (st->error_streak++ == 0)
			st->first_error = now;
		set_str(&st->last_error, r->error_text);
	}
}

/* In the poll's transaction: the feed-failing alert, once per error streak. */
static int raise_failing(struct fw_store *tx, struct feed_rt *f, const struct fw_fetch_result *r,
                         struct fw_feed_state *st, int64_t now, size_t *n_alerts)
{
	struct fw_feeds *fs = f->owner;
	int rc;

	if (r->error == 0 || st->failing_alerted || fs->cfg->feed_failing_after <= 0 ||
	    now - st->first_error < fs->cfg->feed_failing_after)
		return 0;
	rc = fw_alert_raise_failing(tx, fs->cfg, f->cfg, r->error_text, st->first_error, now);
	if (rc > 0)
		(*n_alerts)++;
	if (rc >= 0)
		st->failing_alerted = true;
	return rc < 0 ? rc : 0;
}

/* A successful poll teaches the feed's rate (schedule.h); kept in st for the store. */
static void learn_rate(struct feed_rt *f, const struct fw_fetch_result *r, struct fw_feed_state *st,
                       int64_t now, const struct fw_poll_tally *t)
{
	struct fw_schedule_rate rate = {st->rate_items, st->rate_seconds, st->rate_at};
	int64_t *all = NULL;

	if (r->error != 0)
		return;
	/* Nothing learned yet (a new feed, or one stored before schema 8), or no dates in
	   memory (a restart): every item's date tells, not only the new ones'. */
	if ((rate.at == 0 || f->hist.n == 0) && r->n_items > 0 &&
	    (all = calloc(r->n_items, sizeof(*all))) != NULL)
		for (size_t i = 0; i < r->n_items; i++)
			all[i] = fw_item_date(r->items[i]);
	if (all && rate.at == 0)
		fw_schedule_rate_observe(&rate, now, all, r->n_items);
	else
		fw_schedule_rate_observe(&rate, now, t->times, t->times ? t->n_new : 0);
	if (all)
		fw_schedule_history_add(&f->hist, now, all, r->n_items);
	else if (t->times)
		fw_schedule_history_add(&f->hist, now, t->times, t->n_new);
	fw_schedule_bursts_fit(&f->bursts, &f->hist, now);
	free(all);
	st->rate_items = rate.items;
	st->rate_seconds = rate.seconds;
	st->rate_at = rate.at;
	if (fw_schedule_rate_known(&rate) && !fw_schedule_rate_known(&f->rate))
		f->owner->n_known++;
	f->rate = rate;
}

/* The new items of a poll dated at or after `since` (schedule.h part 4: fresh). */
static size_t count_fresh(const struct fw_poll_tally *t, int64_t since)
{
	size_t n = 0;

	for (size_t i = 0; t->times && i < t->n_new; i++)
		n += t->times[i] != FW_TIME_NONE && t->times[i] >= since;
	return n;
}

/* A stored poll that found its whole document fresh (new, dated at or after the previous
   poll) may have missed items that scrolled off (schedule.h part 4): said, counted, and
   the feed's interval capped until its polls find little fresh again. */
static void check_fill(struct feed_rt *f, const struct fw_fetch_result *r, bool first_poll,
                       int64_t now, const struct fw_poll_tally *t)
{
	int64_t waited = f->last_success > 0 ? now - f->last_success : 0, before = f->fill;
	struct fw_schedule_feed b = sched_feed(f);
	size_t fresh;
	bool gap;

	f->gap = false;
	if (r->error != 0 || r->pushed || r->paged || r->not_modified || first_poll || waited <= 0)
		return;
	fresh = count_fresh(t, now - waited);
	gap = fw_schedule_gap(r->n_items, fresh);
	fw_schedule_fill_update(&f->fill, waited, r->n_items, fresh, gap, b.lo, b.hi);
	if (!gap)
		return;
	f->gap = true;
	f->page_since = now - waited;
	f->owner->env.metrics->feed_gaps++;
	if (f->fill != before)
		fw_log(FW_LOG_WARNING,
		       "feed '%s': all %zu items new %llds after the last poll: items published "
		       "between may have scrolled off unseen; its polls wait at most %llds now",
		       f->cfg->name, r->n_items, (long long)waited, (long long)f->fill);
	else if (now - f->gap_said >= 3600) {
		f->gap_said = now;
		fw_log(
		    FW_LOG_WARNING,
		    "feed '%s': all %zu items new again at its min_interval (%llds): it publishes "
		    "faster than its feed shows, items are likely missed (said once an hour)",
		    f->cfg->name, r->n_items, (long long)f->fill);
	}
}

/* Write one poll in its own savepoint: items (unless with_items is false), alerts, the
   feed's state. 0, or a negative errno after which nothing of it is kept (its items count
   as unseen and come again). */
static int write_poll(struct feed_rt *f, struct fw_fetch_result *r, struct fw_feed_state *st,
                      bool with_items, bool first_poll, int64_t now, struct fw_poll_tally *t)
{
	struct fw_store *tx = f->owner->env.store;
	struct fw_grouper *g = f->owner->env.grouper;
	uint64_t mark = g ? fw_grouper_mark(g) : 0;
	int64_t fill = f->fill;
	int rc = fw_store_poll_begin(tx);

	if (g)
		fw_grouper_begin(g); /* its first new item looks for other nodes' first */

	if (rc == 0 && with_items) {
		const struct fw_poll_items_env e = {f->owner->cfg, f->cfg, g,
		                                    f->owner->env.metrics};

		rc = fw_poll_items_commit(tx, &e, r, first_poll, now, t);
	}
	if (rc == 0 && with_items)
		check_fill(f, r, first_poll, now, t);
	if (rc == 0)
		rc = raise_failing(tx, f, r, st, now, &t->n_alerts);
	st->items_seen += (int64_t)t->n_new;
	st->alerts += (int64_t)t->n_alerts;
	if (!r->paged) { /* a page teaches nothing of the feed's rate and moves no poll */
		learn_rate(f, r, st, now, t);
		st->next_poll = reschedule(f, r, st, now);
	}
	if (rc == 0)
		rc = fw_store_feed_save(tx, f->cfg->name, st);
	if (rc == 0 && f->owner->env.cluster && !r->pushed) /* kept until the next poll */
		rc = fw_cluster_hold(tx, f->cfg->name, st->next_poll);
	if (rc == 0)
		rc = fw_store_poll_commit(tx);
	if (rc < 0) {
		fw_store_poll_rollback(tx);
		if (g)
			fw_grouper_rollback(g, mark); /* its items come again */
		f->fill = fill;                       /* and tell again */
		f->gap = false;
	}
	return rc;
}

/*
 * A poll the store refused is a failed poll like any other: its error replaces the
 * result's, and the feed's old state (validators kept, so the items come again) is saved
 * with the error streak, with a feed-failing alert when one is due. Best effort: the
 * store may refuse this too (a full disk), and the in-memory accounting still counts it.
 */
static void poll_unstored(struct feed_rt *f, struct fw_fetch_result *r, struct fw_feed_state *st,
                          int64_t now, size_t *n_alerts)
{
	struct fw_store *s = f->owner->env.store;
	struct fw_poll_tally none = {0};

	snprintf(r->error_text, sizeof(r->error_text), "cannot store the poll: %s",
	         fw_store_error(s));
	r->error = -EIO;
	fw_feed_state_clear(st);
	if (fw_store_feed_load(s, f->cfg->name, st) < 0)
		return;
	/* keep the stored validators and URL: a 304 or a "not the first poll" would hide the
	   items that were not stored */
	apply_result(st, r, NULL, false, now);
	if (write_poll(f, r, st, false, false, now, &none) == 0)
		*n_alerts = none.n_alerts;
	fw_poll_tally_clear(&none);
}

/* Count a finished poll in the metrics. */
static void count_poll(struct fw_metrics *m, const struct fw_fetch_result *r, int64_t streak_before,
                       const struct fw_poll_tally *t)
{
	m->polls++;
	m->bytes += (uint64_t)r->bytes;
	m->items += r->n_items;
	m->not_modified += r->not_modified;
	if (r->error != 0) {
		m->poll_errors++;
		if (streak_before == 0)
			m->feeds_failing++;
	} else {
		if (streak_before > 0 && m->feeds_failing > 0)
			m->feeds_failing--;
		m->items_new += t->n_new;
	}
	m->matches += t->n_alerts;
	for (size_t i = 0; t->wl_alerts && i < m->n_watchlist_alerts; i++)
		m->watchlist_alerts[i] += t->wl_alerts[i];
}

/* Log a finished poll: one line for a failure, else what it brought. */
static void log_poll(struct feed_rt *f, const struct fw_fetch_result *r,
                     const struct fw_feed_state *st, const struct fw_poll_tally *t)
{
	struct fw_feeds *fs = f->owner;

	/* A redirect off the configured origin: said once (it comes back at every poll). */
	if (r->moved_refused && fw_schedule_seed(r->moved_refused) != f->refused_seen) {
		f->refused_seen = fw_schedule_seed(r->moved_refused);
		fw_log(FW_LOG_WARNING, "feed '%s': %s", f->cfg->name, r->moved_refused);
	}
	if (r->error != 0) {
		fw_log(FW_LOG_WARNING, "feed '%s': %s (failure %lld in a row)", f->cfg->name,
		       r->error_text, (long long)st->error_streak);
		if (fs->env.failed)
			fs->env.failed(fs->env.arg, f->cfg->name, r->error_text);
		return;
	}
	if (r->problem)
		fw_log(FW_LOG_WARNING, "feed '%s': damaged feed, %zu items read: %s", f->cfg->name,
		       r->n_items, r->problem);
	if (r->dropped)
		fw_log(FW_LOG_WARNING,
		       "feed '%s': more than %lld items (max_items): the rest ignored",
		       f->cfg->name, (long long)fs->cfg->max_items);
	if (t->n_held)
		fw_log(FW_LOG_WARNING,
		       "feed '%s': %zu more matching items than max_alerts_per_poll (%lld): "
		       "remembered, summed up in one notice",
		       f->cfg->name, t->n_held, (long long)f->cfg->max_alerts_per_poll);
	fw_log(FW_LOG_DEBUG, "feed '%s': HTTP %ld, %zu items, %zu new, %zu alerts", f->cfg->name,
	       r->status, r->n_items, t->n_new, t->n_alerts);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The items of a stored poll, whose story features the next poll's parser thread need not
   compute (a 200 repeats most of them). Without memory, it computes them all. */
static void remember_items(struct feed_rt *f, const struct fw_fetch_result *r)
{
	uint32_t *v;

	if (r->n_items == 0 || f->owner->env.grouper == NULL)
		return; /* a failed poll has no items, but one over max_body keeps those it read */
	v = realloc(f->known, r->n_items * sizeof(*v));
	if (v == NULL) {
		free(f->known);
		f->known = NULL;
		f->n_known = 0;
		return;
	}
	for (size_t i = 0; i < r->n_items; i++)
		v[i] = (uint32_t)r->hashes[i];
	qsort(v, r->n_items, sizeof(*v), cmp_u32);
	f->known = v;
	f->n_known = r->n_items;
}

/* Count the items of a push or a page, which are no polls. */
static void count_items(struct fw_metrics *m, const struct fw_fetch_result *r,
                        const struct fw_poll_tally *t)
{
	m->bytes += (uint64_t)r->bytes;
	m->items += r->n_items;
	m->items_new += t->n_new;
	m->matches += t->n_alerts;
	for (size_t i = 0; t->wl_alerts && i < m->n_watchlist_alerts; i++)
		m->watchlist_alerts[i] += t->wl_alerts[i];
}

/*
 * After a gap, the feed's older page (RFC 5005 rel="next" or "prev-archive") is read at
 * once, on the feed's own origin only, up to FW_PAGES_MAX pages; resume is the regular
 * poll that comes after them. Not on a shared store, where nodes claim a feed's due polls
 * and a page is none. Returns whether a page is on its way.
 */
static bool chase_pages(struct feed_rt *f, const char *next, int64_t resume)
{
	struct fw_feeds *fs = f->owner;

	free(f->page);
	f->page = NULL;
	if (next && f->pages >= FW_PAGES_MAX)
		fw_log(FW_LOG_WARNING,
		       "feed '%s': %d older pages read after a gap, all new: stopped there, older "
		       "items may be lost",
		       f->cfg->name, FW_PAGES_MAX);
	if (next == NULL || fs->env.cluster || fs->closing || f->pages >= FW_PAGES_MAX ||
	    !fw_fetch_same_origin(f->cfg->url, next) || (f->page = strdup(next)) == NULL) {
		f->pages = 0;
		return false;
	}
	if (f->pages++ == 0)
		f->resume = resume;
	uv_timer_start(&f->timer, timer_cb, 0, 0);
	return true;
}

/*
 * Store a page read for a gap: its items as a poll's (marked, matched, placed, alerted), the
 * feed's state and schedule untouched. While every item of a page is new and none is
 * dated before the gap began, the next page follows; then the regular poll.
 */
static void store_page(struct feed_rt *f, struct fw_fetch_result *r)
{
	struct fw_feeds *fs = f->owner;
	struct fw_feed_state st = {0};
	struct fw_poll_tally t = {0};
	int64_t now = fw_clock_now();
	bool more = false;

	rest_host(f, r, now);
	if (r->error != 0) {
		fw_log(FW_LOG_WARNING, "feed '%s': cannot read its older page %d after a gap: %s",
		       f->cfg->name, f->pages + 1, r->error_text);
	} else if (fw_store_feed_load(fs->env.store, f->cfg->name, &st) < 0 ||
	           write_poll(f, r, &st, true, false, now, &t) < 0) {
		fw_log(FW_LOG_ERR, "feed '%s': cannot store its older page %d after a gap: %s",
		       f->cfg->name, f->pages + 1, fw_store_error(fs->env.store));
	} else {
		count_items(fs->env.metrics, r, &t);
		fw_log(FW_LOG_INFO,
		       "feed '%s': older page %d after a gap: %zu items, %zu new, %zu alerts",
		       f->cfg->name, f->pages + 1, r->n_items, t.n_new, t.n_alerts);
		if (t.n_alerts > 0)
			fs->env.queued(fs->env.arg);
		more = fw_schedule_gap(r->n_items, count_fresh(&t, f->page_since));
	}
	if (!(more && chase_pages(f, r->next, f->resume))) {
		free(f->page);
		f->page = NULL;
		f->pages = 0;
		schedule_at(f, f->resume, now);
		fs->done++;
		once_progress(fs);
	}
	fw_poll_tally_clear(&t);
	fw_feed_state_clear(&st);
}

/*
 * Store one finished poll, in order: the feed's state, its items (mark, match, alerts),
 * the feed-failing alert, the commit; a poll the store refuses becomes a failed poll.
 * Then count, log and kick delivery.
 */
static void store_poll(struct feed_rt *f, struct fw_fetch_result *r)
{
	struct fw_feeds *fs = f->owner;
	struct fw_feed_state st = {0};
	struct fw_poll_tally t = {0};
	int64_t now = fw_clock_now(), streak_before = 0;
	bool first_poll, chase = false;

	if (r->paged) {
		store_page(f, r);
		return;
	}
	if (fw_store_feed_load(fs->env.store, f->cfg->name, &st) < 0) {
		snprintf(r->error_text, sizeof(r->error_text), "cannot read its state: %s",
		         fw_store_error(fs->env.store));
		r->error = -EIO;
		if (fs->env.cluster) /* nothing stored: the next poll is anybody's */
			fw_cluster_hold(fs->env.store, f->cfg->name, 0);
		reschedule(f, r, &st, now);
	} else {
		streak_before = st.error_streak;
		first_poll = !st.exists || st.url == NULL || strcmp(st.url, f->cfg->url) != 0;
		apply_result(&st, r, f->cfg->url, first_poll, now);
		if (write_poll(f, r, &st, true, first_poll, now, &t) < 0) {
			fw_poll_tally_clear(&t);
			poll_unstored(f, r, &st, now, &t.n_alerts);
		} else {
			remember_items(f, r);
			chase = f->gap && chase_pages(f, r->next, st.next_poll);
		}
		if (r->error == 0)
			f->last_success = now;
	}
	if (r->error == 0 && !r->not_modified && fs->env.discovered)
		fs->env.discovered(fs->env.arg, f->cfg->name, r->hub, r->self);
	count_poll(fs->env.metrics, r, streak_before, &t);
	log_poll(f, r, &st, &t);
	if (t.n_alerts > 0)
		fs->env.queued(fs->env.arg); /* async: the pump runs after the group's commit */
	fw_poll_tally_clear(&t);
	fw_feed_state_clear(&st);
	if (!chase) { /* else when its pages are read */
		fs->done++;
		once_progress(fs);
	}
}

/* Raise the story updates that are due, in a transaction of their own. */
static void flush_updates(struct fw_feeds *fs)
{
	struct fw_store *s = fs->env.store;
	size_t raised = 0;
	int rc;

	if (fs->env.grouper == NULL || !fw_grouper_due(fs->env.grouper, fs->cfg, fw_clock_now()))
		return;
	if ((rc = fw_store_begin_lazy(s)) == 0 &&
	    (rc = fw_grouper_flush(fs->env.grouper, s, fs->cfg, fw_clock_now(), &raised)) == 0)
		rc = fw_store_commit(s);
	if (rc < 0) {
		fw_log(FW_LOG_ERR, "cannot raise story updates (they come later): %s",
		       fw_store_error(s));
		fw_store_rollback(s);
	} else if (raised > 0) {
		fs->env.metrics->matches += raised;
		fs->env.queued(fs->env.arg);
	}
}

/*
 * Store one pushed document (WebSub) as a poll's items are stored: marked seen, matched,
 * placed in stories, alerts raised, in the turn's transaction; the feed's HTTP state
 * (validators, error streak, last success) stays as its last poll left it.
 */
static void store_push(struct feed_rt *f, struct fw_fetch_result *r)
{
	struct fw_feeds *fs = f->owner;
	struct fw_feed_state st = {0};
	struct fw_poll_tally t = {0};
	int64_t now = time(NULL);

	if (r->error != 0) {
		fw_log(FW_LOG_WARNING, "feed '%s': %s", f->cfg->name, r->error_text);
		return;
	}
	if (fw_store_feed_load(fs->env.store, f->cfg->name, &st) < 0 ||
	    write_poll(f, r, &st, true, !st.exists, now, &t) < 0) {
		fw_log(FW_LOG_ERR, "feed '%s': cannot store pushed content (polling brings it): %s",
		       f->cfg->name, fw_store_error(fs->env.store));
		fw_poll_tally_clear(&t);
		fw_feed_state_clear(&st);
		return;
	}
	count_items(fs->env.metrics, r, &t);
	fw_log(FW_LOG_DEBUG, "feed '%s': pushed, %zu items, %zu new, %zu alerts", f->cfg->name,
	       r->n_items, t.n_new, t.n_alerts);
	if (t.n_alerts > 0)
		fs->env.queued(fs->env.arg);
	fw_poll_tally_clear(&t);
	fw_feed_state_clear(&st);
}

/* Store the polls of this loop turn, in one transaction when there are several. */
static void flush_polls(struct fw_feeds *fs)
{
	struct fw_store *s = fs->env.store;
	size_t n = fs->n_pend;
	uint64_t mark;
	bool group;

	uv_check_stop(&fs->flush);
	uv_idle_stop(&fs->wake);
	if (n == 0)
		return;
	/* storing a poll finishes no fetch, so nothing is added to the list meanwhile */
	group = n > 1 && fw_store_begin_lazy(s) == 0;
	mark = fs->env.grouper ? fw_grouper_mark(fs->env.grouper) : 0;
	for (size_t i = 0; i < n; i++) {
		if (fs->pend[i].push)
			store_push(fs->pend[i].f, &fs->pend[i].r);
		else
			store_poll(fs->pend[i].f, &fs->pend[i].r);
		fw_fetch_result_clear(&fs->pend[i].r);
	}
	fs->n_pend = 0;
	if (group && fw_store_commit(s) < 0) {
		/* None of them is kept: their items are unseen and come again. */
		fw_log(FW_LOG_ERR, "cannot store the last %zu polls (they come again): %s", n,
		       fw_store_error(s));
		fw_store_rollback(s);
		if (fs->env.grouper)
			fw_grouper_rollback(fs->env.grouper, mark);
	}
	flush_updates(fs);
}

static void wake_cb(uv_idle_t *h)
{
	(void)h; /* the check that follows does the work */
}

static void flush_cb(uv_check_t *h)
{
	flush_polls(h->data);
}

/* See feeds.h. */
void fw_feeds_flush(struct fw_feeds *fs)
{
	if (fs)
		flush_polls(fs);
}

/* A finished fetch or push joins the turn's group, stored right after the turn's I/O. */
static void pend_add(struct fw_feeds *fs, struct feed_rt *f, struct fw_fetch_result *r, bool push)
{
	fs->pend[fs->n_pend].f = f;
	fs->pend[fs->n_pend].r = *r;
	fs->pend[fs->n_pend].push = push;
	fs->n_pend++;
	memset(r, 0, sizeof(*r)); /* moved: the fetch frees nothing of it */
	if (fs->n_pend >= FW_GROUP_MAX)
		flush_polls(fs);
	else {
		uv_check_start(&fs->flush, flush_cb);
		/* a poll that ended outside the I/O phase (a timer) must not wait for the next
		   event to be stored: an active idle handle makes the poll phase return at once */
		uv_idle_start(&fs->wake, wake_cb);
	}
}

static void fetch_done_cb(struct fw_fetch_result *r, void *arg)
{
	struct feed_rt *f = arg;
	struct fw_feeds *fs = f->owner;

	f->fetch = NULL;
	fs->active--;
	fs->hosts[f->host].active--;
	r->paged = f->page != NULL;
	if (r->error == -ECANCELED)
		return;
	r->finished = fw_clock_now();
	fw_metrics_observe_poll(fs->env.metrics,
	                        (double)(uv_now(fs->env.loop) - f->started_ms) / 1000.0);
	pend_add(fs, f, r, false);
	admit(fs);
}

static struct feed_rt *feed_by_name(struct fw_feeds *fs, const char *name)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i]->cfg->name, name) == 0)
			return fs->v[i];
	return NULL;
}

static void push_unlink(struct push_job *j)
{
	struct push_job **pp = &j->owner->pushes;

	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
	free(j->feed);
	free(j);
}

static void push_done_cb(struct fw_fetch_result *r, void *arg)
{
	struct push_job *j = arg;
	struct fw_feeds *fs = j->owner;
	struct feed_rt *f = feed_by_name(fs, j->feed);

	r->pushed = true;
	r->finished = j->received;
	if (f && !f->removed)
		pend_add(fs, f, r, true);
	push_unlink(j);
}

/* See feeds.h. */
int fw_feeds_push(struct fw_feeds *fs, const char *feed, const char *body, size_t len,
                  int64_t safety)
{
	struct feed_rt *f = fs && !fs->closing ? feed_by_name(fs, feed) : NULL;
	struct push_job *j;
	int64_t now = time(NULL);
	int r;

	if (f == NULL)
		return -ENOENT;
	if ((j = calloc(1, sizeof(*j))) == NULL || (j->feed = strdup(feed)) == NULL) {
		free(j);
		return -ENOMEM;
	}
	j->owner = fs;
	j->received = fw_clock_now();
	r = fw_pushwork_start(fs->env.parsework, body, len, f->cfg->url, (size_t)fs->cfg->max_items,
	                      push_done_cb, j, &j->work);
	if (r < 0) {
		free(j->feed);
		free(j);
		return r;
	}
	j->next = fs->pushes;
	fs->pushes = j;
	/* pushes arrive: the next poll is only a safety net */
	f->push_until = now + safety;
	if (uv_is_active((uv_handle_t *)&f->timer) && !f->fetch && !f->queued && !f->page &&
	    uv_timer_get_due_in(&f->timer) < (uint64_t)safety * 1000)
		schedule_at(f, f->push_until, now);
	return 0;
}

/* See feeds.h. */
void fw_feeds_push_lapsed(struct fw_feeds *fs, const char *feed)
{
	struct feed_rt *f = fs && !fs->closing ? feed_by_name(fs, feed) : NULL;
	int64_t now = time(NULL);

	if (f == NULL || f->push_until == 0)
		return;
	f->push_until = 0;
	if (uv_is_active((uv_handle_t *)&f->timer) &&
	    uv_timer_get_due_in(&f->timer) > (uint64_t)f->cfg->interval * 1000)
		schedule_at(f, now + fw_schedule_first_delay(f->cfg->interval, f->seed), now);
}

static void start_fetch(struct feed_rt *f)
{
	struct fw_feeds *fs = f->owner;
	struct fw_feed_state st = {0};
	struct fw_fetch_opts o = {0};
	int r;

	if (fw_store_feed_load(fs->env.store, f->cfg->name, &st) < 0)
		memset(&st, 0, sizeof(st));
	/* HTTP state belongs to the URL it came from. */
	if (st.url && strcmp(st.url, f->cfg->url) != 0) {
		fw_feed_state_clear(&st);
		memset(&st, 0, sizeof(st));
	} else if (st.exists) { /* once has not read it yet; another node may have polled it */
		if (fs->env.cluster)
			f->rate =
			    (struct fw_schedule_rate){st.rate_items, st.rate_seconds, st.rate_at};
		f->last_success = st.last_success;
	}
	/* an older page after a gap: no validators */
	o.url = f->page ? f->page : st.moved_url ? st.moved_url : f->cfg->url;
	o.config_url = f->cfg->url;
	o.etag = f->page ? NULL : st.etag;
	o.last_modified = f->page ? NULL : st.last_modified;
	o.user_agent = fs->cfg->user_agent;
	o.timeout = (long)f->cfg->timeout;
	o.connect_timeout = (long)fs->cfg->connect_timeout;
	o.max_body = fs->cfg->max_body;
	o.max_items = (size_t)fs->cfg->max_items;
	o.tls_verify = f->cfg->tls_verify;
	o.headers = (const char *const *)f->cfg->headers;
	o.n_headers = f->cfg->n_headers;
	o.story_features = fs->env.grouper != NULL; /* the parser thread computes them */
	o.known = f->page ? NULL : f->known;        /* but not for the items seen last time */
	o.n_known = f->page ? 0 : f->n_known;
	fs->active++;
	fs->hosts[f->host].active++;
	f->started_ms = uv_now(fs->env.loop);
	r = fw_fetch_start(fs->env.net, fs->env.parsework, &o, fetch_done_cb, f, &f->fetch);
	fw_feed_state_clear(&st);
	if (r < 0) {
		struct fw_fetch_result res = {
		    .error = r, .retry_after = -1, .max_age = -1, .expires = -1, .ttl = -1};

		snprintf(res.error_text, sizeof(res.error_text), "cannot start the poll: %s",
		         strerror(-r));
		f->fetch = NULL;
		fetch_done_cb(&res, f);
	}
}

static void busy_cb(uv_timer_t *t)
{
	admit(t->data);
}

/* Start queued polls while the global and per-host limits allow (on a shared store, the
   per-host limit of all nodes together too). */
static void admit(struct fw_feeds *fs)
{
	const struct fw_config *cfg = fs->cfg;
	int64_t now = fw_clock_now(), when = now;
	struct feed_rt **pp = &fs->qhead, *prev = NULL;
	size_t scanned = 0;

	/* a host another node was told to rest (429, 503) rests here too, from its next read */
	if (fs->env.cluster && fs->qhead && now - fs->rests_read >= FW_RESTS_EVERY) {
		fs->rests_read = now;
		fw_store_host_rests(fs->env.store, now, host_rest_cb, fs); /* best effort */
	}

	while (*pp && fs->active < (size_t)cfg->concurrency && scanned++ < FW_ADMIT_SCAN) {
		struct feed_rt *f = *pp;
		struct host_rt *h = &fs->hosts[f->host];
		bool rests = h->blocked_until > now && !fs->env.once;
		enum fw_cluster_claim claim = FW_CLAIM_TAKEN;

		if (h->active >= (size_t)cfg->host_concurrency || h->busy_until > now) {
			prev = f;
			pp = &f->qnext;
			continue;
		}
		if (fs->env.cluster && !rests)
			claim = fw_cluster_claim(fs->env.cluster, f->cfg->name, h->name,
			                         cfg->host_concurrency, now, fs->env.once, &when);
		if (claim == FW_CLAIM_HOST_BUSY) {
			/* the host's feeds stay queued, and are asked for again when it may have room */
			h->busy_until = when;
			if (!uv_is_active((uv_handle_t *)&fs->busy))
				timer_until(&fs->busy, busy_cb, when);
			prev = f;
			pp = &f->qnext;
			continue;
		}
		*pp = f->qnext;
		if (fs->qtail == f)
			fs->qtail = prev;
		f->queued = false;
		f->qnext = NULL;
		if (rests) {
			/* The host asked us to rest: try again when it said. */
			schedule_at(f, h->blocked_until + (int64_t)(f->seed % 10), now);
			continue;
		}
		if (claim == FW_CLAIM_REFUSED) {
			schedule_exact(f, when);  /* another node polls it: ask again then */
			fs->done += fs->env.once; /* once: the other node polls it */
			once_progress(fs);
			continue;
		}
		start_fetch(f);
	}
}

static void close_cb(uv_handle_t *h);

/* A new feed's runtime: timer initialised, not scheduled. */
static struct feed_rt *feed_new(struct fw_feeds *fs, const struct fw_config_feed *cfg)
{
	struct feed_rt *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->owner = fs;
	f->cfg = cfg;
	f->seed = fw_schedule_seed(cfg->name);
	uv_timer_init(fs->env.loop, &f->timer);
	f->timer.data = f;
	fs->open_handles++;
	return f;
}

/* First poll: after a restart a feed keeps the schedule its last poll decided (backoff,
   Retry-After and ttl included, but never later than longest_wait() from now, so that a
   changed interval counts); a new feed is polled soon, spread so that feeds do not fire
   at once. */
static void schedule_first(struct feed_rt *f, int64_t now)
{
	struct fw_feeds *fs = f->owner;
	struct fw_feed_state st = {0};

	if (fw_store_feed_load(fs->env.store, f->cfg->name, &st) == 0 && st.exists && st.url &&
	    strcmp(st.url, f->cfg->url) == 0 && st.error_streak > 0)
		fs->env.metrics->feeds_failing++;
	f->last_success = st.last_success;
	if (st.exists && st.url && strcmp(st.url, f->cfg->url) == 0) {
		f->rate = (struct fw_schedule_rate){st.rate_items, st.rate_seconds, st.rate_at};
		fs->n_known += fw_schedule_rate_known(&f->rate);
	}
	if (st.exists && st.url && strcmp(st.url, f->cfg->url) == 0 && st.next_poll > now)
		schedule_at(f,
		            st.error_streak > 0 || st.next_poll < now + longest_wait(f)
		                ? st.next_poll
		                : now + longest_wait(f),
		            now);
	else
		schedule_at(f, now + fw_schedule_first_delay(f->cfg->interval, f->seed), now);
	fw_feed_state_clear(&st);
}

/* Stop one feed for good; freed in its close callback. */
static void feed_drop(struct feed_rt *f)
{
	struct fw_feeds *fs = f->owner;

	f->removed = true;
	if (f->fetch) {
		if (fs->env.cluster) /* given up: the poll is anybody's */
			fw_cluster_hold(fs->env.store, f->cfg->name, 0);
		fw_fetch_cancel(f->fetch);
		f->fetch = NULL;
		fs->active--;
		if (f->host < fs->n_hosts)
			fs->hosts[f->host].active--;
	}
	uv_timer_stop(&f->timer);
	uv_close((uv_handle_t *)&f->timer, close_cb);
}

/* Start every feed. */
int fw_feeds_start(const struct fw_feeds_env *env, const struct fw_config *cfg,
                   struct fw_feeds **out)
{
	struct fw_feeds *fs = calloc(1, sizeof(*fs));
	int64_t now = fw_clock_now();

	if (fs == NULL)
		return -ENOMEM;
	fs->env = *env;
	fs->cfg = cfg;
	fs->v = calloc(cfg->n_feeds + 1, sizeof(*fs->v));
	if (fs->v == NULL || hosts_alloc(fs, cfg->n_feeds) < 0) {
		free(fs->v);
		hosts_free(fs->hosts, 0, fs->host_slots);
		free(fs);
		return -ENOMEM;
	}
	*out = fs;
	uv_check_init(env->loop, &fs->flush);
	fs->flush.data = fs;
	uv_idle_init(env->loop, &fs->wake);
	fs->wake.data = fs;
	uv_timer_init(env->loop, &fs->busy);
	fs->busy.data = fs;
	fs->open_handles += 3;
	for (size_t i = 0; i < cfg->n_feeds; i++) {
		struct feed_rt *f = feed_new(fs, &cfg->feeds[i]);

		if (f == NULL)
			return -ENOMEM; /* the caller stops the daemon; close frees what exists */
		f->host = intern_host(fs, f->cfg->url);
		fs->v[fs->n++] = f;
	}
	if (fw_store_host_rests(env->store, now, host_rest_cb, fs) < 0)
		fw_log(FW_LOG_WARNING, "cannot read the hosts that rest: %s",
		       fw_store_error(fs->env.store));
	for (size_t i = 0; i < fs->n; i++) {
		if (env->once)
			enqueue(fs->v[i]);
		else
			schedule_first(fs->v[i], now);
	}
	if (env->once) {
		admit(fs);
		once_progress(fs);
	}
	return 0;
}

/* After a reload: a learned feed waiting longer than its adaptive interval under the new
   config (a shorter interval, a lower bound, a new budget) is polled soon. */
static void reload_adaptive(struct fw_feeds *fs, int64_t now)
{
	for (size_t i = 0; fs->cfg->adaptive && i < fs->n; i++) {
		struct feed_rt *f = fs->v[i];
		int64_t iv;

		if (!uv_is_active((uv_handle_t *)&f->timer) || !fw_schedule_rate_known(&f->rate))
			continue;
		iv = adaptive_interval(f);
		if (uv_timer_get_due_in(&f->timer) > fw_clock_timer_ms(iv + iv / 10))
			schedule_at(f, now + fw_schedule_first_delay(iv, f->seed), now);
	}
}

static int cmp_feed_name(const void *x, const void *y)
{
	const struct feed_rt *a = *(struct feed_rt *const *)x, *b = *(struct feed_rt *const *)y;

	return strcmp(a->cfg->name, b->cfg->name);
}

/* Adopt cfg: unchanged feeds keep their timers and in-flight polls, removed ones stop,
   new ones start. */
int fw_feeds_reload(struct fw_feeds *fs, const struct fw_config *cfg)
{
	struct feed_rt **old = fs->v, **v, **sorted;
	struct host_rt *old_hosts = fs->hosts;
	size_t n_old = fs->n, n_old_hosts = fs->n_hosts, *old_slots = fs->host_slots;
	int64_t now = fw_clock_now();

	v = calloc(cfg->n_feeds + 1, sizeof(*v));
	sorted = malloc((n_old + 1) * sizeof(*sorted));
	if (v == NULL || sorted == NULL || hosts_alloc(fs, cfg->n_feeds) < 0) {
		free(v);
		free(sorted);
		if (fs->hosts != old_hosts)
			hosts_free(fs->hosts, 0, fs->host_slots);
		fs->hosts = old_hosts;
		fs->host_slots = old_slots;
		fs->n_hosts = n_old_hosts;
		return -ENOMEM;
	}
	fs->cfg = cfg;
	fs->price = 0; /* bounds and intervals may have changed */
	memcpy(sorted, old, n_old * sizeof(*old));
	qsort(sorted, n_old, sizeof(*sorted), cmp_feed_name);
	/* Old names must be compared before their config goes: mark the kept ones first. */
	for (size_t i = 0; i < cfg->n_feeds; i++) {
		struct feed_rt key_rt = {.cfg = &cfg->feeds[i]}, *key = &key_rt, **hit;
		struct feed_rt *f;

		hit = bsearch(&key, sorted, n_old, sizeof(*sorted), cmp_feed_name);
		if (hit && !(*hit)->removed) {
			f = *hit;
			if (strcmp(f->cfg->url, cfg->feeds[i].url) != 0 && f->fetch) {
				/* The feed points elsewhere now: the poll in flight is of the old URL. */
				fw_fetch_cancel(f->fetch);
				f->fetch = NULL;
				fs->active--;
				uv_timer_stop(&f->timer);
			}
			if (strcmp(f->cfg->url, cfg->feeds[i].url) != 0) { /* another feed now */
				f->rate = (struct fw_schedule_rate){0};
				f->hist = (struct fw_schedule_history){0};
				f->bursts = (struct fw_schedule_bursts){0};
				f->fill = 0;
				free(f->page); /* a page of the old feed, due at once */
				f->page = NULL;
				f->pages = 0;
				uv_timer_stop(&f->timer);
			}
			f->cfg = &cfg->feeds[i];
			f->removed = true; /* taken: reset below */
			f->seed = fw_schedule_seed(f->cfg->name);
		} else {
			f = feed_new(fs, &cfg->feeds[i]);
			if (f == NULL)
				break;
			f->removed = true;
		}
		v[i] = f;
	}
	/* Feeds not taken are gone; taken ones get their flag back. */
	for (size_t i = 0; i < n_old; i++)
		if (!old[i]->removed)
			feed_drop(old[i]);
	fs->v = v;
	fs->n = 0;
	for (size_t i = 0; i < cfg->n_feeds && v[i]; i++) {
		struct feed_rt *f = v[i];
		bool fresh = !uv_is_active((uv_handle_t *)&f->timer) && !f->fetch && !f->queued;

		f->removed = false;
		f->host = intern_host(fs, f->cfg->url);
		fs->n++;
		if (f->fetch)
			fs->hosts[f->host].active++;
		if (fresh) {
			schedule_first(f, now);
		} else if (uv_is_active((uv_handle_t *)&f->timer) &&
		           uv_timer_get_due_in(&f->timer) > fw_clock_timer_ms(longest_wait(f))) {
			/* A shorter interval takes effect now, not after the old one. */
			schedule_at(f, now + fw_schedule_first_delay(f->cfg->interval, f->seed),
			            now);
		}
	}
	reload_adaptive(fs, now);
	/* Host backoff survives a reload. */
	for (size_t i = 0; i < n_old_hosts; i++)
		for (size_t k = 0; k < fs->n_hosts; k++)
			if (strcmp(old_hosts[i].name, fs->hosts[k].name) == 0)
				fs->hosts[k].blocked_until = old_hosts[i].blocked_until;
	/* The admission queue keeps only live feeds. */
	{
		struct feed_rt *q = fs->qhead;

		fs->qhead = fs->qtail = NULL;
		while (q) {
			struct feed_rt *next = q->qnext;

			q->queued = false;
			if (!q->removed)
				enqueue(q);
			q = next;
		}
	}
	hosts_free(old_hosts, n_old_hosts, old_slots);
	free(old);
	free(sorted);
	admit(fs);
	return 0;
}

static void closed_one(struct fw_feeds *fs)
{
	if (--fs->open_handles > 0 || !fs->closing)
		return;
	hosts_free(fs->hosts, fs->n_hosts, fs->host_slots);
	free(fs->v);
	free(fs);
}

static void close_cb(uv_handle_t *h)
{
	struct feed_rt *f = h->data;
	struct fw_feeds *fs = f->owner;

	free(f->known);
	free(f->page);
	free(f);
	closed_one(fs);
}

static void flush_close_cb(uv_handle_t *h)
{
	closed_one(h->data);
}

/* See feeds.h. */
size_t fw_feeds_last_success(const struct fw_feeds *fs, struct fw_metrics_named *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; fs && i < fs->n && n < max; i++, n++) {
		out[n].name = fs->v[i]->cfg->name;
		out[n].value = fs->v[i]->last_success;
	}
	return n;
}

/* Cancel everything. */
void fw_feeds_close(struct fw_feeds *fs)
{
	if (fs == NULL)
		return;
	flush_polls(fs);
	fs->closing = true;
	while (fs->pushes) {
		fw_pushwork_cancel(fs->pushes->work);
		push_unlink(fs->pushes);
	}
	if (fs->open_handles == 0) {
		hosts_free(fs->hosts, fs->n_hosts, fs->host_slots);
		free(fs->v);
		free(fs);
		return;
	}
	for (size_t i = 0; i < fs->n; i++)
		feed_drop(fs->v[i]);
	uv_close((uv_handle_t *)&fs->flush, flush_close_cb);
	uv_close((uv_handle_t *)&fs->wake, flush_close_cb);
	uv_close((uv_handle_t *)&fs->busy, flush_close_cb);
}
