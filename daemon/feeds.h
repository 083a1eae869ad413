/*
 * feeds.h - the feeds at run time: one timer per feed, admission under the global and
 * per-host concurrency limits, host-wide backoff, and the commit of a finished poll (items
 * marked seen, matched, alerts queued, feed state saved) in one store transaction.
 */
#ifndef FW_FEEDS_H
#define FW_FEEDS_H

#include <stddef.h>

struct fw_daemon;
struct fw_feeds;

/* Start every feed of d->cfg. once: poll each feed now, exactly once, then call
   fw_loop_feeds_done. Returns 0 or -ENOMEM. */
int fw_feeds_start(struct fw_daemon *d, struct fw_feeds **out);

/* Adopt d->cfg after a reload: feeds are matched by name; unchanged ones keep their timers,
   HTTP state and polls in flight, removed ones stop, new ones start. 0 or -ENOMEM. */
int fw_feeds_reload(struct fw_feeds *f);

/* Cancel every poll and timer; the struct is freed when libuv has closed the timers. */
void fw_feeds_close(struct fw_feeds *f);

/* Store the polls that finished in this loop turn now (before the config they were made
   under goes away); normally done right after the turn's I/O callbacks. */
void fw_feeds_flush(struct fw_feeds *f);

#endif
