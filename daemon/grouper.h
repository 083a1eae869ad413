/*
 * grouper.h - stories in the daemon: each new item placed in a story (story.h) and kept in
 * the store (stories.c), and per watchlist grouped by story (`group = "story"`, the
 * default) the alerts a story raises: its first matching item alerts at once; later ones
 * wait, and at most once per story_update_interval one update alert lists them.
 *
 * Runs on the loop thread, in the caller's store transaction; logs nothing.
 */
#ifndef FW_GROUPER_H
#define FW_GROUPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "story.h"

struct fw_store;
struct fw_config;
struct fw_config_feed;
struct fw_item;
struct fw_match_result;
struct fw_grouper;

/*
 * The story state of a daemon (or of a command that reads it): an empty index of the
 * items of the last `window` seconds, in at most memory bytes (story_memory; 0: no
 * bound). 0 and *out, or -ENOMEM.
 */
int fw_grouper_new(int64_t window, int64_t memory, struct fw_grouper **out);

/*
 * Rebuild the index from the items s holds of the last window before now, once: later
 * calls do nothing. fw_grouper_sync calls it before the first item is placed, so a round
 * with nothing new (`once` on feeds that answer 304) never reads the stories; a long-running
 * daemon calls it at start, to fail there on a store it cannot read. 0, or -errno (the
 * store's message in fw_store_error).
 */
int fw_grouper_load(struct fw_grouper *g, struct fw_store *s, int64_t now);

/* Free. Accepts NULL; returns NULL. */
struct fw_grouper *fw_grouper_free(struct fw_grouper *g);

/* A reloaded config's story_window and story_memory: when the index holds more items than
   memory bytes allow, the oldest leave it before their window ends (fw_grouper_evicted). */
void fw_grouper_set_limits(struct fw_grouper *g, int64_t window, int64_t memory);

/*
 * Many nodes on one store: before a node places items it takes in the items the others
 * added since it last looked (fw_store_story_added, which on a shared store also holds
 * the store's story lock to the end of tx, so that nodes place one at a time), or a story
 * told by feeds polled on two nodes would become two. fw_grouper_sync does it once per
 * transaction, in tx before the first item is placed (fw_grouper_place does it when not
 * done yet; call it outside an item's savepoint, whose rollback would take the lock back);
 * fw_grouper_begin says a new transaction (or a poll's savepoint) begins. On a SQLite
 * store, one writer, it costs a comparison. 0 or a negative errno from the store.
 */
void fw_grouper_begin(struct fw_grouper *g);
int fw_grouper_sync(struct fw_grouper *g, struct fw_store *tx, int64_t now);

/* A mark before a poll is written; fw_grouper_rollback takes back what was placed since
   when the poll's writes are rolled back. */
uint64_t fw_grouper_mark(const struct fw_grouper *g);
void fw_grouper_rollback(struct fw_grouper *g, uint64_t mark);

/* The features of an item matched as mr says (entities by their config names). terms may
   be NULL. 0 or -ENOMEM. */
int fw_grouper_features(const struct fw_grouper *g, const struct fw_config *cfg,
                        const struct fw_item *it, const struct fw_match_result *mr,
                        struct fw_story_features *f, struct fw_story_terms *terms);

/* Where an item would go, placing nothing. 0 or -ENOMEM. */
int fw_grouper_peek(struct fw_grouper *g, const struct fw_config *cfg, const struct fw_item *it,
                    const struct fw_match_result *mr, int64_t now, struct fw_story_place *p);

/* Where an item went. */
struct fw_grouper_item {
	int64_t story, item; /* store rows */
	char sid[24];
	char *title; /* the story's (malloc()ed); sid, title, items and feeds are read only
	                for an item that a watchlist grouped by story matched, and only while
	                the story has not alerted for each such watchlist (no alert of the
	                item tells them else) */
	int64_t items, feeds;
	struct fw_story_place place;
};
void fw_grouper_item_clear(struct fw_grouper_item *gi);

/*
 * Place the new item `it` of feed (matched as mr says; its id set) in a story, in the
 * store transaction tx, and record the watchlists it matched. 0, or a negative errno
 * (-E2BIG / -EINVAL: the store refuses this item).
 */
int fw_grouper_place(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                     const char *feed, const struct fw_item *it, const struct fw_match_result *mr,
                     int64_t now, struct fw_grouper_item *gi);

/*
 * fw_grouper_place with the item's features computed ahead: pre (may be NULL) is
 * fw_story_features of its title, summary and content without entities (the parser thread
 * computes it, fetch.h), used when the item names no watchlist entity; an item that names
 * one is featured here. Returns as fw_grouper_place.
 */
int fw_grouper_place_pre(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                         const char *feed, const struct fw_item *it,
                         const struct fw_match_result *mr, const struct fw_story_features *pre,
                         int64_t now, struct fw_grouper_item *gi);

/*
 * Raise the alerts of a placed, matched item: like fw_alert_raise (raised, fresh), except
 * that a watchlist grouped by story whose story alerted before raises no alert of its own:
 * the item waits for the story's next update, raised now when the interval has passed.
 * 0 or a negative errno from the store.
 */
int fw_grouper_raise(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                     const struct fw_config_feed *feed, const struct fw_item *it,
                     const struct fw_match_result *mr, const struct fw_grouper_item *gi,
                     int64_t now, size_t *raised, uint8_t *fresh);

/* Whether a story update may be due by now (the store is asked only then). */
bool fw_grouper_due(const struct fw_grouper *g, const struct fw_config *cfg, int64_t now);

/* Raise the story updates that are due (items waiting, the interval passed since the
   story's last alert), at most 64 a call. *raised counts them. 0 or a negative errno. */
int fw_grouper_flush(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                     int64_t now, size_t *raised);

/* Items in the window, and the bytes the index holds. */
size_t fw_grouper_items(const struct fw_grouper *g);
size_t fw_grouper_memory(const struct fw_grouper *g);

/* Items that left the index for story_memory before their window ended, since start; and
   when the oldest item it holds came (0: none), which is where its window really begins. */
uint64_t fw_grouper_evicted(const struct fw_grouper *g);
int64_t fw_grouper_oldest(const struct fw_grouper *g);

#endif
