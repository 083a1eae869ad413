/*
 * alert.h - alerts: built from a matched item and raised, that is written into the caller's
 * store transaction (the alert once, one outbox entry per routed output) before any
 * delivery. Delivery is deliver.h's. Pure of I/O but the store rows it is handed.
 */
#ifndef FW_ALERT_H
#define FW_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fw_store;
struct fw_config;
struct fw_config_feed;
struct fw_item;
struct fw_match_result;
struct fw_match_explain;
struct json_t;

/*
 * Caps of an alert's fields, in bytes (cut on a UTF-8 boundary, with an ellipsis): the
 * title, the author and each category; at most FW_ALERT_CATEGORIES categories and
 * FW_ALERT_EXPLAIN explanations; a link longer than FW_ALERT_LINK_MAX is left out (cut, it
 * would lead elsewhere). With ids capped (FW_ITEM_ID_MAX), an alert stays far below the
 * store's FW_STORE_PAYLOAD_MAX whatever the item.
 */
#define FW_ALERT_TITLE_MAX  2048
#define FW_ALERT_FIELD_MAX  256
#define FW_ALERT_LINK_MAX   8192
#define FW_ALERT_CATEGORIES 32
#define FW_ALERT_EXPLAIN    64

/*
 * The story of a matched item (group.c), for fw_alert_raise: a watchlist grouped by story
 * whose story alerted before (hold[i] for watchlist i of the match result) raises nothing
 * now; the others raise the story's first alert, with a "story" member. ids[i] gets the
 * alert id raised for watchlist i.
 */
struct fw_alert_story {
	const char *sid, *title;
	int64_t items, feeds;
	const uint8_t *hold;
	char (*ids)[33];
};

/*
 * Record the alerts of one matched item: for each matching watchlist, the alert id
 * (watchlist + feed + item id) once, and one outbox entry per routed output. Runs inside the
 * caller's store transaction tx; delivery starts after fw_deliver_kick. *raised counts new
 * alerts; fresh (may be NULL; res->n_watchlists entries) gets 1 for each watchlist of res
 * that raised one. Returns 0 or a negative errno from the store.
 */
int fw_alert_raise(struct fw_store *tx, const struct fw_config *cfg,
                   const struct fw_config_feed *feed, const struct fw_item *item,
                   const struct fw_match_result *res, int64_t now, size_t *raised, uint8_t *fresh,
                   const struct fw_alert_story *story);

/*
 * A story update for watchlist w: the items of the story that matched w since its last
 * alert (added, oldest first, the newest last; more: how many more there were), the counts,
 * the first alert. The alert describes the newest item, with its explanations. id gets its
 * alert id (serial numbers the story's updates). Returns 1 when queued, 0 when raised
 * before, or a negative errno.
 */
struct fw_story_item_row;
struct fw_config_watchlist;
struct fw_alert_update {
	const char *sid, *title, *first_alert;
	int64_t items, feeds, serial;
	const struct fw_story_item_row *added;
	size_t n_added, more;
};
int fw_alert_raise_story_update(struct fw_store *tx, const struct fw_config *cfg,
                                const struct fw_config_watchlist *w,
                                const struct fw_alert_update *u, int64_t now, char *id);

/* One explanation as alerts carry it (and `feedwatch match` prints it): a new JSON object
   {watchlist, term, alias, field, text, snippet}, or NULL when out of memory. */
struct json_t *fw_alert_explain_json(const struct fw_match_explain *e, const char *watchlist);

/* url as scheme://host[:port]/path, the form that may leave the daemon (no user info,
   query or fragment: a credential may hide in any of them); malloc()ed, NULL when out of
   memory. */
char *fw_alert_public_url(const char *url);

/* The watchlist name of feed-failing alerts. */
#define FW_ALERT_FEED_FAILING "feedwatch:feed-failing"

/* Queue the one alert of a feed that has been failing since `since` (in the caller's
   transaction) to the configured feed_failing_output. Returns 1 when queued, 0 when it was
   already raised for this streak or no output is configured, or a negative errno. */
int fw_alert_raise_failing(struct fw_store *tx, const struct fw_config *cfg,
                           const struct fw_config_feed *feed, const char *error, int64_t since,
                           int64_t now);

/* The watchlist name of the notice that sums up a poll's matching items past the feed's
   max_alerts_per_poll. */
#define FW_ALERT_STORM "feedwatch:alert-storm"

/* What the held items of one poll add up to: the outputs their watchlists route to, and
   the first titles. Zero-initialise; free with fw_alert_storm_clear. */
struct fw_alert_storm {
	bool *outputs; /* per cfg output: an item held for it */
	size_t n_outputs;
	size_t n_items;
	char *titles; /* "title; title; ..." of the first FW_ALERT_STORM_TITLES items */
	size_t len;
};
#define FW_ALERT_STORM_TITLES 10

/* Add one held item (matched as res says) to st. 0 or -ENOMEM. */
int fw_alert_storm_add(struct fw_alert_storm *st, const struct fw_config *cfg,
                       const struct fw_item *item, const struct fw_match_result *res);

/* Free what st holds and zero it. */
void fw_alert_storm_clear(struct fw_alert_storm *st);

/* Queue the one notice of a poll whose matching items went past max_alerts_per_poll (`cap`)
   to every output a held item was routed to, in the caller's transaction. Returns 1 when
   queued, 0 when st holds nothing, or a negative errno. */
int fw_alert_raise_storm(struct fw_store *tx, const struct fw_config *cfg,
                         const struct fw_config_feed *feed, const struct fw_alert_storm *st,
                         size_t cap, int64_t now);

/* The stable alert id: 32 hex characters in buf (at least 33 bytes). */
void fw_alert_id(const char *watchlist, const char *feed, const char *item_id, char *buf);

#endif
