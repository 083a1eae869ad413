/*
 * backfill.h - the item archive (store.h, archive.c) seen from the daemon: an archived
 * item made an item again, and the watchlists a reload added matched against the items
 * already archived, so that a new watchlist catches a story already in the feeds. Runs on
 * the loop thread; logs nothing (the caller logs the counts).
 */
#ifndef FW_BACKFILL_H
#define FW_BACKFILL_H

#include <stddef.h>
#include <stdint.h>

struct fw_archive_row;
struct fw_store_words;
struct fw_config;
struct fw_item;
struct fw_store;

/* A new item with the text of archived row r (its id, dates, categories). 0 and *out
   (the caller frees it with fw_item_free), or -ENOMEM. */
int fw_backfill_item_new(const struct fw_archive_row *r, struct fw_item **out);

/* The words of the archive's index (store.h's fw_store_words), folded by the matcher's
   folding (fold.h): *w gets the function and its state. 0 or -ENOMEM. */
int fw_backfill_words_new(struct fw_store_words *w);

/* Free what fw_backfill_words_new gave w and zero it. Accepts a zeroed w. */
void fw_backfill_words_free(struct fw_store_words *w);

/* What fw_backfill_run did. */
struct fw_backfill_tally {
	size_t watchlists; /* watchlists new in cfg with a backfill window */
	size_t scanned;    /* archived items looked at */
	size_t raised;     /* alerts raised */
	size_t held;       /* matches past the cap (max_alerts_per_poll per watchlist) */
};

/*
 * Match each watchlist of cfg that old (the config before a reload) did not have against
 * the archived items younger than its window (its `backfill`, else cfg's
 * first_poll_max_age, 0 meaning the whole archive; an item's age is its date, else when
 * it was seen; candidates looked up by word: fw_match_words), and raise their alerts per item with fw_alert_raise, whatever the
 * watchlist's `group` (in one store transaction of its own, each item in a savepoint; an
 * item whose feed is no longer configured is left out). An alert id is the one a live
 * alert would have had, so an item never alerts twice for a watchlist. At most
 * max_alerts_per_poll alerts per watchlist (0: no cap); the rest are counted in held.
 * 0 or a negative errno (nothing kept).
 */
int fw_backfill_run(struct fw_store *s, const struct fw_config *old, const struct fw_config *cfg,
                    int64_t now, struct fw_backfill_tally *t);

#endif
