/*
 * poll_items.h - the items of one finished poll (or push), written in the poll's store
 * transaction: each marked seen; a new one archived and placed in its story; a new or
 * edited one matched, and its alerts raised by its watchlists' rules, or, past the feed's
 * max_alerts_per_poll, held for the poll's one notice. What the poll did is counted in a
 * tally for the feed's state, the metrics and the log.
 */
#ifndef FW_POLL_ITEMS_H
#define FW_POLL_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"

struct fw_config;
struct fw_config_feed;
struct fw_fetch_result;
struct fw_grouper;
struct fw_metrics;
struct fw_store;

/* What the items of one poll did; fw_poll_tally_clear frees it. */
struct fw_poll_tally {
	size_t n_new;        /* items new to the store */
	size_t n_alerts;     /* alerts raised */
	size_t n_alerting;   /* items that raised an alert */
	size_t n_held;       /* matching items past max_alerts_per_poll */
	size_t n_skipped;    /* items the store refused */
	int64_t *times;      /* dates of the new items (fw_item_date, n_new of them) */
	uint64_t *wl_alerts; /* alerts raised per watchlist index (allocated when one is) */
	struct fw_alert_storm storm;
};

/* Free what a tally holds and zero it. */
void fw_poll_tally_clear(struct fw_poll_tally *t);

/* What the items are written with: the config, the feed they came from, the stories
   (NULL: none) and the metrics (detection delays). */
struct fw_poll_items_env {
	const struct fw_config *cfg;
	const struct fw_config_feed *feed;
	struct fw_grouper *grouper;
	struct fw_metrics *metrics;
};

/*
 * The items of r, in order, in tx (first_poll: the feed's first poll, whose back catalogue
 * older than first_poll_max_age raises nothing), then the notice for those held past the
 * cap. An item the store refuses (a value too long) is skipped alone, and logged. Counts
 * into t. 0, or a negative errno that fails the poll.
 */
int fw_poll_items_commit(struct fw_store *tx, const struct fw_poll_items_env *e,
                         struct fw_fetch_result *r, bool first_poll, int64_t now,
                         struct fw_poll_tally *t);

#endif
