/*
 * alert.h - alerts: built from a matched item, written to the outbox once per output
 * before any delivery, delivered through the output plugins, retried with backoff and
 * jitter, rate limited into digests, and dead-lettered after max_attempts or max_age.
 */
#ifndef FW_ALERT_H
#define FW_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <feedwatch/plugin.h>

struct fw_daemon;
struct fw_config_feed;
struct fw_item;
struct fw_match_result;
struct fw_match_explain;
struct fw_alerter;
struct json_t;

/* Start the outputs of d->cfg (loading their plugins). An output that cannot start is
   logged and treated as down: its alerts wait in the outbox. Returns 0 or -ENOMEM. */
int fw_alert_new(struct fw_daemon *d, struct fw_alerter **out);

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
 * Record the alerts of one matched item: for each matching watchlist, the alert id
 * (watchlist + feed + item id) once, and one outbox entry per routed output. Runs inside the
 * caller's store transaction; delivery starts after fw_alert_kick. *raised counts new
 * alerts. Returns 0 or a negative errno from the store.
 */
int fw_alert_raise(struct fw_alerter *a, const struct fw_config_feed *feed,
                   const struct fw_item *item, const struct fw_match_result *res, int64_t now,
                   size_t *raised);

/* One explanation as alerts carry it (and `feedwatch match` prints it): a new JSON object
   {watchlist, term, alias, field, text, snippet}, or NULL when out of memory. */
struct json_t *fw_alert_explain_json(const struct fw_match_explain *e, const char *watchlist);

/* The watchlist name of feed-failing alerts. */
#define FW_ALERT_FEED_FAILING "feedwatch:feed-failing"

/* Queue the one alert of a feed that has been failing since `since` (in the caller's
   transaction) to the configured feed_failing_output. Returns 1 when queued, 0 when it was
   already raised for this streak or no output is configured, or a negative errno. */
int fw_alert_raise_failing(struct fw_alerter *a, const struct fw_config_feed *feed,
                           const char *error, int64_t since, int64_t now);

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

struct fw_config;

/* Add one held item (matched as res says) to st. 0 or -ENOMEM. */
int fw_alert_storm_add(struct fw_alert_storm *st, const struct fw_config *cfg,
                       const struct fw_item *item, const struct fw_match_result *res);

/* Free what st holds and zero it. */
void fw_alert_storm_clear(struct fw_alert_storm *st);

/* Queue the one notice of a poll whose matching items went past max_alerts_per_poll (`cap`)
   to every output a held item was routed to, in the caller's transaction. Returns 1 when
   queued, 0 when st holds nothing, or a negative errno. */
int fw_alert_raise_storm(struct fw_alerter *a, const struct fw_config_feed *feed,
                         const struct fw_alert_storm *st, size_t cap, int64_t now);

/* Delivered (which = 0) or failed-attempt (which = 1) count of an output since start. */
uint64_t fw_alert_counter(const struct fw_alerter *a, const char *output, int which);

/* Look at the outbox now (after a commit that queued alerts). */
void fw_alert_kick(struct fw_alerter *a);

/* A plugin's completion; thread-safe (host->done). */
void fw_alert_done(struct fw_alerter *a, uint64_t token, enum fw_result result, int64_t retry_after,
                   const char *message);

/* After a reload (d->cfg is already the new config): start the new outputs; the old
   instances finish their deliveries, then are finalised, and the previous config is freed
   with them (the alerter owns it from this call on). Returns 0 or -ENOMEM (nothing
   changed then). */
int fw_alert_reload(struct fw_alerter *a);

/* SIGHUP: let every output reopen its files. */
void fw_alert_reopen(struct fw_alerter *a);

/* Deliveries in flight. */
size_t fw_alert_in_flight(const struct fw_alerter *a);

/* Stop: outstanding deliveries are abandoned (they stay in the outbox), plugins are
   finalised, handles closed; the struct is freed in the close callbacks. */
void fw_alert_close(struct fw_alerter *a);

/* The stable alert id: 32 hex characters in buf (at least 33 bytes). */
void fw_alert_id(const char *watchlist, const char *feed, const char *item_id, char *buf);

#endif
