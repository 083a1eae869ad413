/*
 * store.h - the durable state: one SQLite database (WAL) holding per-feed HTTP state, the
 * items seen per feed, the alerts raised, and the alert outbox. Pure of logging: errors come
 * back as negative errno plus a message in the caller's buffer or fw_store_error().
 *
 * This header is the store's whole interface, and it names no SQLite type: struct fw_store
 * is opaque, so a second backend (PostgreSQL) can implement these same functions. Keep it
 * so. The SQLite backend is store.c (database, transactions, feeds, items, hosts, alerts)
 * and outbox.c (the outbox), which share the private store_int.h.
 */
#ifndef FW_STORE_H
#define FW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fw_store;

/*
 * Take the lock that makes one daemon (run or once) the only writer of the database at
 * path: an exclusive flock on "path.lock", which holds the holder's pid. Returns 0 and the
 * lock's descriptor in *fd (the lock lasts until it is closed), -EBUSY with err naming
 * the holder's pid when another process holds it, or another -errno.
 */
int fw_store_lock(const char *path, int *fd, char *err, size_t errlen);

/*
 * Open (creating if need be) the database at path, in WAL mode with a busy timeout, and
 * create or migrate the schema. Refuses, rather than starting from nothing, a file that is
 * not a feedwatch database, is corrupted, or is locked beyond the timeout. read_only opens
 * an existing file without writing (for `feedwatch status`).
 * Returns 0 and *out, or a negative errno with a one-line reason in err.
 */
int fw_store_open(const char *path, bool read_only, struct fw_store **out, char *err,
                  size_t errlen);

/* Caps on what the store accepts: keys (feed names, item and alert ids, outputs,
   watchlists) and feed-state strings longer than these are refused with -E2BIG, as is a
   larger payload; error messages are cut (on a UTF-8 boundary) to FW_STORE_ERROR_MAX. */
#define FW_STORE_KEY_MAX     4096
#define FW_STORE_TEXT_MAX    16384
#define FW_STORE_ERROR_MAX   1024
#define FW_STORE_PAYLOAD_MAX (1024 * 1024)

/* The busy timeout fw_store_open uses, in milliseconds. */
#define FW_STORE_BUSY_MS 5000

/*
 * fw_store_open with an explicit busy timeout (ms, >= 0). Errors, each with a one-line
 * reason naming the path in err:
 *   -ENOENT, -ENOTDIR, -EISDIR, -EACCES, -EROFS  path or its directory unusable (open(2));
 *   -EBADMSG       not a SQLite database, or corrupted (PRAGMA quick_check failed);
 *   -EMEDIUMTYPE   a SQLite database of another application (application_id);
 *   -EPROTO        a schema newer than this build knows (or, read_only, an older one);
 *   -EBUSY         locked by another connection beyond the timeout;
 *   -ENOSPC        the disk is full; -ENOMEM; -EIO anything else.
 */
int fw_store_open_timeout(const char *path, bool read_only, int busy_ms, struct fw_store **out,
                          char *err, size_t errlen);

/*
 * Durability of commits: full (the default) fsyncs the WAL at every commit, so a commit
 * that returned survives a power cut; !full fsyncs only at checkpoints (a power cut may
 * roll back the last commits, never corrupt). Not inside a transaction. For benchmarks and
 * bulk imports. 0 or -errno.
 */
int fw_store_set_synchronous(struct fw_store *s, bool full);

/* Close. Accepts NULL; returns NULL. */
struct fw_store *fw_store_close(struct fw_store *s);

/* The last SQLite error message, for logs. */
const char *fw_store_error(const struct fw_store *s);

/* Transactions; nest-safe only in the sense that begin inside begin is an error (-EINVAL).
   begin takes the write lock at once (BEGIN IMMEDIATE; -EBUSY past the busy timeout).
   commit without begin is -EINVAL; on a failed commit the transaction may still be open:
   rollback, which returns 0 when there is nothing to roll back. */
int fw_store_begin(struct fw_store *s);
int fw_store_commit(struct fw_store *s);
int fw_store_rollback(struct fw_store *s);

/*
 * Lazy transactions, for the polls: begun with fw_store_begin_lazy, ended with
 * fw_store_commit or fw_store_rollback as usual, but the commit does not fsync (a power
 * cut may roll it back, never corrupt the database). fw_store_sync makes every commit so
 * far durable with one small fsynced commit (0 at once when nothing is pending; not inside
 * a transaction: -EINVAL). fw_store_outbox_due and fw_store_close call it first, so no
 * alert is handed to an output before the commit that queued it is durable.
 */
int fw_store_begin_lazy(struct fw_store *s);
int fw_store_sync(struct fw_store *s);

/*
 * One poll's writes: inside an open transaction (a group of polls) a savepoint, so that a
 * failed poll is undone alone; otherwise a lazy transaction of its own. End it with
 * fw_store_poll_commit (-EIO when SQLite rolled the whole group back by itself) or
 * fw_store_poll_rollback.
 */
int fw_store_poll_begin(struct fw_store *s);
int fw_store_poll_commit(struct fw_store *s);
int fw_store_poll_rollback(struct fw_store *s);

/*
 * One item's writes (its alerts and outbox rows) inside an open transaction: a savepoint,
 * so that an item the store refuses is undone alone and its siblings go on. End it with
 * fw_store_item_end(s, true) to keep them, false to undo them. -EINVAL when no
 * transaction is open.
 */
int fw_store_item_begin(struct fw_store *s);
int fw_store_item_end(struct fw_store *s, bool keep);

/* What is remembered of one feed between polls. Strings owned by the struct. */
struct fw_feed_state {
	bool exists; /* false: never polled */
	char *url;   /* the URL last polled (to notice a changed config URL) */
	char *etag;
	char *last_modified;
	char *moved_url;   /* target of a permanent redirect, or NULL */
	int64_t last_poll; /* Unix seconds, 0 = never */
	int64_t last_success;
	int64_t next_poll;
	long http_status;
	int64_t error_streak;
	int64_t first_error; /* start of the current error streak, 0 when none */
	char *last_error;
	int64_t items_seen;   /* total items ever recorded for the feed */
	int64_t alerts;       /* alerts raised for the feed */
	bool failing_alerted; /* the "feed failing" alert was raised for this streak */
	/* adaptive polling's learned rate (struct fw_schedule_rate: decayed items and seconds
	   observed, referred to rate_at; 0 = nothing learned) */
	double rate_items;
	double rate_seconds;
	int64_t rate_at;
};

/* Free what st holds and zero it. */
void fw_feed_state_clear(struct fw_feed_state *st);

/* Load a feed's state (st->exists = false and zeros when unknown). 0 or -errno. *st is
   overwritten, not freed first; on error it is left alone. */
int fw_store_feed_load(struct fw_store *s, const char *feed, struct fw_feed_state *st);

/* Insert or replace a feed's state. 0 or -errno. */
int fw_store_feed_save(struct fw_store *s, const char *feed, const struct fw_feed_state *st);

/* Names of all feeds in the store, for status and pruning; *names is malloc()ed, each
   string too. */
int fw_store_feed_names(struct fw_store *s, char ***names, size_t *n);

/* Forget a feed and its items (not its alerts or outbox). */
int fw_store_feed_forget(struct fw_store *s, const char *feed);

/* Outcome of fw_store_item_mark. */
enum fw_item_mark { FW_ITEM_SAME = 0, FW_ITEM_NEW = 1, FW_ITEM_CHANGED = 2 };

/* Record that item `id` of `feed` was seen now with content hash `hash`. Returns
   FW_ITEM_NEW, FW_ITEM_CHANGED (known, other hash) or FW_ITEM_SAME, or a negative errno. */
int fw_store_item_mark(struct fw_store *s, const char *feed, const char *id, uint64_t hash,
                       int64_t now);

/* Does `feed` remember an item other than `id` with content hash `hash` (one it published
   within the retention, now re-issued under a fresh id)? 1 yes, 0 no, or a negative errno. */
int fw_store_item_reissued(struct fw_store *s, const char *feed, const char *id, uint64_t hash);

/* Remember that `host` (host[:port]) rests until `until` (Unix seconds) after it answered
   http_status (429 or 503). 0 or a negative errno. */
int fw_store_host_rest(struct fw_store *s, const char *host, int64_t until, long http_status);

typedef void (*fw_store_host_cb)(const char *host, int64_t until, long http_status, void *arg);

/* Call cb for every host still resting at `now`, in name order. 0 or a negative errno. */
int fw_store_host_rests(struct fw_store *s, int64_t now, fw_store_host_cb cb, void *arg);

/* Number of items remembered for a feed. */
int fw_store_item_count(struct fw_store *s, const char *feed, int64_t *n);

/* Delete items of every feed not seen since `before` (retention). *deleted gets the count
   (may be NULL). */
int fw_store_item_prune(struct fw_store *s, int64_t before, int64_t *deleted);

/* Record an alert once. Returns 1 when new, 0 when alert_id was already recorded (the
   item alerted before for this watchlist), or a negative errno. */
int fw_store_alert_add(struct fw_store *s, const char *alert_id, const char *watchlist,
                       const char *feed, const char *item_id, int64_t now);

/* Outbox entry states. */
enum fw_outbox_state { FW_OUTBOX_PENDING = 0, FW_OUTBOX_DEAD = 1 };

struct fw_outbox_entry {
	int64_t rowid;
	char *alert_id;
	char *output;
	char *payload; /* the alert as JSON */
	enum fw_outbox_state state;
	int64_t attempts;
	int64_t created;
	int64_t next_at;
	char *last_error; /* or NULL */
};

/* Free the strings of n entries and the array; accepts NULL. */
void fw_outbox_entries_free(struct fw_outbox_entry *e, size_t n);

/* Queue alert_id for output with its JSON payload, due now. Idempotent on
   (alert_id, output): returns 1 when queued, 0 when it already was. */
int fw_store_outbox_add(struct fw_store *s, const char *alert_id, const char *output,
                        const char *payload, int64_t now);

/* Up to max pending entries due at or before now (oldest due first), skipping the rowids
   in `busy` (n_busy of them: deliveries in flight). *out malloc()ed. */
int fw_store_outbox_due(struct fw_store *s, int64_t now, size_t max, const int64_t *busy,
                        size_t n_busy, struct fw_outbox_entry **out, size_t *n);

/* The earliest next_at of pending entries in *when, or -ENOENT when none is pending. */
int fw_store_outbox_next_due(struct fw_store *s, int64_t *when);

/* Delivered at `now` (kept for `feedwatch alerts`): the entry leaves the outbox. -ENOENT
   when it is not there (dropped). */
int fw_store_outbox_delivered(struct fw_store *s, int64_t rowid, int64_t now);

/* A failed attempt: attempts + 1, next try at next_at, error recorded. -ENOENT unless the
   entry exists and is pending. */
int fw_store_outbox_retry(struct fw_store *s, int64_t rowid, int64_t next_at, const char *error);

/* A dead letter (counts as a failed attempt: attempts + 1): kept, never retried until
   fw_store_outbox_revive. -ENOENT unless the entry exists and is pending. */
int fw_store_outbox_kill(struct fw_store *s, int64_t rowid, const char *error);

/* last_error of an entry held back (not attempted) by fw_store_outbox_hold starts with this. */
#define FW_OUTBOX_HELD "held: "

/* Hold a pending entry back until next_at without an attempt (its output is disabled or not
   running): attempts unchanged, last_error = FW_OUTBOX_HELD + why. -ENOENT unless pending. */
int fw_store_outbox_hold(struct fw_store *s, int64_t rowid, int64_t next_at, const char *why);

/* A pending entry that was not attempted becomes dead (max_age): attempts unchanged.
   -ENOENT unless the entry exists and is pending. */
int fw_store_outbox_expire(struct fw_store *s, int64_t rowid, const char *why);

/* The held entries (see fw_store_outbox_hold) of output become due at now: its output is
   running again. *changed gets the count (may be NULL). */
int fw_store_outbox_release(struct fw_store *s, const char *output, int64_t now, int64_t *changed);

/* List entries: state < 0 = all; output NULL = all outputs. */
int fw_store_outbox_list(struct fw_store *s, int state, const char *output,
                         struct fw_outbox_entry **out, size_t *n);

/* Make entries pending again, due now, attempts reset: with rowid > 0 that entry (dead or
   pending), with rowid 0 every dead entry; either way only of output (NULL = any).
   *changed gets the count (may be NULL). */
int fw_store_outbox_revive(struct fw_store *s, int64_t rowid, const char *output, int64_t now,
                           int64_t *changed);

/* Delete entries matching rowid (> 0) or, with rowid 0, every dead entry of output (NULL =
   any). *changed gets the count. */
int fw_store_outbox_drop(struct fw_store *s, int64_t rowid, const char *output, int64_t *changed);

/* Count pending and dead entries for one output (NULL = all outputs). */
int fw_store_outbox_count(struct fw_store *s, const char *output, int64_t *pending, int64_t *dead);

/* ------------------------------------------------------------------ stories (stories.c) */

/* One story as the store keeps it. */
struct fw_story_row {
	int64_t id;   /* rowid */
	char sid[24]; /* public id, "s-" and 16 hex digits */
	char *title;  /* representative title: the first item's */
	int64_t first_seen, last_seen, n_items, n_feeds;
};

/* One item of a story. Strings are malloc()ed by the reading functions (freed by
   fw_store_story_item_clear); the writing function only reads them. */
struct fw_story_item_row {
	int64_t id, story;
	char *feed, *item, *title, *link;
	int64_t published; /* FW_TIME_NONE (INT64_MIN) when unknown */
	int64_t seen;
	int64_t matched; /* the item it resembled most; 0 when it started the story */
	double score;
	char *body;     /* the start of summary or content, for explanations */
	char *entities; /* names of the entities it names, '\n' between */
	char *explain;  /* fw_store_story_pending: why it matched the watchlist (JSON array) */
	const uint32_t *features; /* the names mask, then the feature hashes (story.h) */
	size_t n_features;
};

void fw_story_row_clear(struct fw_story_row *r);
void fw_store_story_item_clear(struct fw_story_item_row *r);

/* A new story started by an item with this title (sid: its public id). 0 and *id, or
   -errno. */
int fw_store_story_new(struct fw_store *s, const char *sid, const char *title, int64_t now,
                       int64_t *id);

/* Add item r to story r->story (counts and last_seen follow). 0 and *id, or -errno. */
int fw_store_story_add_item(struct fw_store *s, const struct fw_story_item_row *r, int64_t *id);

/* Story id into *out (title malloc()ed). -ENOENT when there is none. */
int fw_store_story_get(struct fw_store *s, int64_t id, struct fw_story_row *out);

/* Record that story item `item` matched watchlist, and why (explain: a JSON array, may be
   NULL). 0 or -errno. */
int fw_store_story_match(struct fw_store *s, int64_t item, const char *watchlist,
                         const char *explain);

/* Where a story stands for one watchlist grouped by story. */
struct fw_story_watch {
	char first_alert[33]; /* the alert that opened the story for the watchlist */
	int64_t last_alert;   /* when its last alert (first or update) was raised */
	int64_t last_item;    /* the last story item that alert covered */
	int64_t pending;      /* matching items since */
	int64_t updates;      /* update alerts raised */
};

/* The state of story for watchlist into *w; -ENOENT when the story has not alerted for it. */
int fw_store_story_watch_get(struct fw_store *s, int64_t story, const char *watchlist,
                             struct fw_story_watch *w);
int fw_store_story_watch_set(struct fw_store *s, int64_t story, const char *watchlist,
                             const struct fw_story_watch *w);

typedef int (*fw_store_story_due_cb)(int64_t story, const char *watchlist, void *arg);
/* Each (story, watchlist) with pending items whose last alert was at or before `before`,
   at most max, oldest first. A callback's non-zero return stops and is returned. */
int fw_store_story_due(struct fw_store *s, int64_t before, size_t max, fw_store_story_due_cb cb,
                       void *arg);

/* The callback may take r's strings (and set them to NULL). */
typedef int (*fw_store_story_item_cb)(struct fw_story_item_row *r, void *arg);
/* The items of story that matched watchlist after item `after`, in order. */
int fw_store_story_pending(struct fw_store *s, int64_t story, const char *watchlist, int64_t after,
                           fw_store_story_item_cb cb, void *arg);

/* The items seen since `since`, in arrival order, with their features only (id, story,
   seen, features), to rebuild the index at start. */
int fw_store_story_load(struct fw_store *s, int64_t since, fw_store_story_item_cb cb, void *arg);

/* Every item of story, in arrival order, every column. */
int fw_store_story_items(struct fw_store *s, int64_t story, fw_store_story_item_cb cb, void *arg);

typedef int (*fw_store_story_cb)(const struct fw_story_row *r, void *arg);
/* Stories last seen at or after since, newest first. */
int fw_store_story_list(struct fw_store *s, int64_t since, fw_store_story_cb cb, void *arg);

/* The story whose public id is sid into *id; -ENOENT when none. */
int fw_store_story_find(struct fw_store *s, const char *sid, int64_t *id);

/* The watchlists that matched an item of story, '\n'-joined into *out (malloc()ed; "" when
   none). */
int fw_store_story_watchlists(struct fw_store *s, int64_t story, char **out);

/* Stories last seen at or after since. */
int fw_store_story_count(struct fw_store *s, int64_t since, int64_t *n);

/* Delete the stories last seen before `before`, with their items and state. *deleted
   (may be NULL) counts the stories. */
int fw_store_story_prune(struct fw_store *s, int64_t before, int64_t *deleted);

/* One alert and one output it was queued for, as `feedwatch alerts` shows them. */
#define FW_ALERT_DELIVERED (-1) /* no longer in the outbox: delivered (or dropped) */
struct fw_alert_row {
	char *alert_id, *watchlist, *feed, *item_id;
	int64_t created;
	char *payload;     /* the alert as JSON, or NULL (raised before schema 4) */
	char *output;      /* NULL: the alert was queued for no output */
	int state;         /* FW_ALERT_DELIVERED, FW_OUTBOX_PENDING or FW_OUTBOX_DEAD */
	int64_t attempts;  /* while in the outbox */
	char *last_error;  /* or NULL */
	int64_t delivered; /* when the output delivered it (schema 6 on), 0 = not (known) */
};

/* The alerts raised at or after since (of watchlist only, unless NULL), newest first, at
   most max alerts, one row per alert and output (alerts in a row, outputs by name). Returns
   0 with a malloc()ed array (free with fw_alert_rows_free), or -errno. */
int fw_store_alert_rows(struct fw_store *s, int64_t since, const char *watchlist, size_t max,
                        struct fw_alert_row **out, size_t *n);

/* Free n rows and the array; accepts NULL. */
void fw_alert_rows_free(struct fw_alert_row *r, size_t n);

/* The highest rowid in the outbox now (0 when empty): every entry queued later has a
   higher one (rowids are never reused). 0 or -errno. */
int fw_store_outbox_last_rowid(struct fw_store *s, int64_t *rowid);

/* Pending and dead entries with a rowid above after: what was queued since
   fw_store_outbox_last_rowid gave after and is not delivered. 0 or -errno. */
int fw_store_outbox_count_after(struct fw_store *s, int64_t after, int64_t *pending, int64_t *dead);

#endif
