/*
 * feeds.h - the feeds at run time: one timer per feed, admission under the global and
 * per-host concurrency limits, host-wide backoff, and the commit of a finished poll (items
 * marked seen, matched, alerts queued, feed state saved) in one store transaction.
 */
#ifndef FW_FEEDS_H
#define FW_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "metrics.h"

struct fw_config;
struct fw_store;
struct fw_net;
struct fw_parsework;
struct fw_feeds;

/* What the feeds are given when they start; they keep a copy. The callbacks run on the
   loop thread. */
struct fw_feeds_env {
	uv_loop_t *loop;
	struct fw_store *store;         /* polls are written here */
	struct fw_net *net;             /* and fetched through this */
	struct fw_parsework *parsework; /* and their bodies parsed on this thread */
	struct fw_metrics *metrics;     /* the counters they add to */
	struct fw_grouper *grouper;     /* each new item is placed in a story here */
	bool once;                      /* poll each feed once, now */
	/* not NULL when the store is shared by many nodes: each poll is claimed first */
	struct fw_cluster *cluster;
	void (*queued)(void *arg); /* a committed poll queued alerts: deliver them */
	void (*failed)(void *arg, const char *feed, const char *error); /* a poll failed */
	void (*done)(void *arg); /* once: every feed has been polled */
	/* a successful poll's WebSub hub and self (topic), each NULL when not found (may be
	   NULL: nobody listens) */
	void (*discovered)(void *arg, const char *feed, const char *hub, const char *self);
	void *arg;
};

/* Start every feed of cfg (which must outlive the feeds, or be replaced by
   fw_feeds_reload first). Returns 0 or -ENOMEM. */
int fw_feeds_start(const struct fw_feeds_env *env, const struct fw_config *cfg,
                   struct fw_feeds **out);

/* Adopt cfg after a reload: feeds are matched by name; unchanged ones keep their timers,
   HTTP state and polls in flight, removed ones stop, new ones start. 0 or -ENOMEM. */
int fw_feeds_reload(struct fw_feeds *f, const struct fw_config *cfg);

/* The name and the last successful poll (Unix seconds, 0 = none known) of each feed, at
   most max of them, into out; the names stay the feeds' (valid until the next reload).
   Returns how many. */
size_t fw_feeds_last_success(const struct fw_feeds *fs, struct fw_metrics_named *out, size_t max);

/*
 * WebSub content distribution: body (a verified push of feed's content, copied) is parsed
 * on the parser thread and its items committed as a poll's are (seen, matched, stories,
 * alerts), with no fetch and no change to the feed's HTTP state. Until safety seconds from
 * now, the feed is polled only once, at the end (a safety poll). 0, -ENOENT (no such
 * feed), -ENOMEM.
 */
int fw_feeds_push(struct fw_feeds *fs, const char *feed, const char *body, size_t len,
                  int64_t safety);

/* The feed's WebSub subscription lapsed (lease ended, hub denied, unsubscribed): it is
   polled at its own schedule again, at the latest one interval from now. */
void fw_feeds_push_lapsed(struct fw_feeds *fs, const char *feed);

/* Cancel every poll and timer; the struct is freed when libuv has closed the timers. */
void fw_feeds_close(struct fw_feeds *f);

/* Store the polls that finished in this loop turn now (before the config they were made
   under goes away); normally done right after the turn's I/O callbacks. */
void fw_feeds_flush(struct fw_feeds *f);

#endif
