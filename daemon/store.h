/*
 * store.h - the durable state: per-feed HTTP state, the items seen per feed, the alerts
 * raised, the alert outbox, stories, WebSub subscriptions and the item archive. Pure of
 * logging: errors come back as negative errno plus a message in the caller's buffer or
 * fw_store_error().
 *
 * This header is the store's whole interface, and it names no backend's type: struct
 * fw_store is opaque. Two backends implement it (store_backend.h): SQLite, one file for
 * one node (store_sqlite.c with items.c, outbox.c, stories.c, archive.c and
 * websub_store.c, sharing store_int.h), and PostgreSQL, one database for many nodes
 * (pg_*.c, sharing pg_int.h). store.c picks one by the location's form and dispatches.
 */
#ifndef FW_STORE_H
#define FW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fw_store;

/* Does `where` name a store many nodes share (a postgresql:// or postgres:// URL, served
   by PostgreSQL) rather than a SQLite file? */
bool fw_store_is_shared(const char *where);

/*
 * Take the lock that makes one daemon (run or once) the only writer of the database at
 * path: an exclusive flock on "path.lock", which holds the holder's pid. Returns 0 and the
 * lock's descriptor in *fd (the lock lasts until it is closed), -EBUSY with err naming
 * the holder's pid when another process holds it, or another -errno.
 */
int fw_store_lock(const char *path, int *fd, char *err, size_t errlen);

/*
 * Open (creating if need be) the database at path (a postgresql:// URL: a PostgreSQL
 * database, whose schema is created or migrated the same way), in WAL mode with a busy
 * timeout, and
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
 *   -EBADMSG       not a SQLite database, or corrupted (PRAGMA quick_check failed: run at
 *                  an open when none passed in the last 24 hours);
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

/*
 * Name this process in a store that many nodes share (PostgreSQL): node is who holds the
 * claims it takes (polls, outbox deliveries), lease how long (seconds) a claim lasts
 * unrenewed before another node may take it over. A store of one node (SQLite, locked by
 * fw_store_lock) needs neither and keeps nothing. 0 or -errno.
 */
int fw_store_set_node(struct fw_store *s, const char *node, int64_t lease);

/*
 * Claim the poll of feed, due at now, for this node (fw_store_set_node's name): 1 when
 * this node holds it from now until now + lease, in flight (no other node may poll it
 * meanwhile; fw_store_node_beat renews it while the node lives); 0 when another node holds
 * it (a poll in flight, or, unless early, one done whose next poll is not due yet), with
 * *until the time to ask again; 2 when host_limit (> 0) polls of other feeds of host (the
 * feed's host:port) are in flight on the nodes (host_concurrency for the whole cluster),
 * with *until a second from now; -errno. early (`feedwatch once`): a poll now even if the
 * feed is not due, never beside another node's poll in flight. One node holding the store
 * (SQLite): always 1. Decided by one statement in the database, so of two nodes asking at
 * once exactly one gets 1, and claims of one host are taken one at a time. Claims compare
 * times of different nodes: their clocks must agree (NTP) to well within a lease.
 */
int fw_store_feed_claim(struct fw_store *s, const char *feed, const char *host, int64_t host_limit,
                        int64_t now, bool early, int64_t *until);

/*
 * The poll of feed is done (its writes are in this transaction, if one is open): this node
 * keeps the claim until `until`, the feed's next poll, so no other node polls it before it
 * is due; until 0 lets it go (a poll given up). 1 when this node held the claim, 0 when it
 * did not (it lapsed and another node took it: the poll was made twice), -errno. SQLite: 1.
 */
int fw_store_feed_hold(struct fw_store *s, const char *feed, int64_t until);

/*
 * The heartbeat of this node, every lease / 4 at least: records it (name, host, pid, when
 * it started, now) and renews the claims of its polls in flight to a second short of now +
 * lease, so a poll slower than the lease keeps its claim while the node lives; a node that
 * dies loses them within a lease of its last beat. The first beat of a new process under a
 * known name (another host, pid or start) lets go of the polls the one before had in
 * flight: they are due again for any node. Forgets nodes not seen for a day. SQLite: nothing. 0 or -errno.
 */
int fw_store_node_beat(struct fw_store *s, const char *host, int64_t pid, int64_t started,
                       int64_t now);

/* A node of a shared store, as fw_store_node_each sees it (strings valid during the call). */
struct fw_store_node {
	const char *name, *host;
	int64_t pid, started, last_seen, lease;
	bool alive;      /* beat within its lease of now */
	int64_t feeds;   /* feeds it holds, polled and not due yet */
	int64_t polling; /* polls it has in flight */
	int64_t outbox; /* outbox deliveries it has claimed, -1 when the store has no such claims */
};
typedef int (*fw_store_node_cb)(const struct fw_store_node *n, void *arg);

/* Each node known to the store, by name, judged at now. A non-zero return of cb stops and
   is returned. SQLite: none. 0 or -errno. */
int fw_store_node_each(struct fw_store *s, int64_t now, fw_store_node_cb cb, void *arg);

/* Each claim on a feed still held at now, by feed name: cb(feed, node, until, polling).
   A non-zero return of cb stops and is returned. SQLite: none. 0 or -errno. */
typedef int (*fw_store_claim_cb)(const char *feed, const char *node, int64_t until, bool polling,
                                 void *arg);
int fw_store_claim_each(struct fw_store *s, int64_t now, fw_store_claim_cb cb, void *arg);

/*
 * The prune lock of a store that many nodes share, so that one node at a time prunes (the
 * others skip their pass rather than wait for it or do it again beside it): 1 when this
 * store holds it (taken now, or held already: holds nest), 0 when another node's store
 * holds it, -errno. One node holding the store (SQLite): always 1. fw_store_item_prune and
 * fw_store_archive_prune take it themselves; the daemon's hourly pass (prune.c) holds it
 * from its first batch to its last. PostgreSQL: a session-level advisory lock, so it goes
 * with the connection (a node that dies or loses its connection loses it; another node
 * may then prune beside the rest of its pass: redundant work, not wrong).
 */
int fw_store_prune_lock(struct fw_store *s);

/* Give back one hold of fw_store_prune_lock (the lock goes with the last; nothing when
   none is held). 0 or -errno (the lock is then kept, and goes at the end of this store's
   next hold). */
int fw_store_prune_unlock(struct fw_store *s);

/* The backend's name: "sqlite" or "postgresql". */
const char *fw_store_backend(const struct fw_store *s);

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

/* Delete items of every feed not seen since `before` (retention) and gone from their feed
   (not seen within 2 h of its latest sighting: a feed that answers 304 for months keeps its
   items). *deleted gets the count (may be NULL). Runs fw_store_item_prune_step to the end,
   each step a statement of its own (items.c). Under the prune lock (fw_store_prune_lock): 0
   with nothing deleted while another node holds it. */
int fw_store_item_prune(struct fw_store *s, int64_t before, int64_t *deleted);

/* A prune of the items a batch of feeds at a time: zero it, set before, then call
   fw_store_item_prune_step until *done. The rest is the store's. */
struct fw_store_item_pruning {
	int64_t before;
	int64_t deleted; /* items deleted so far */
	bool started;    /* feed holds the cursor: the last feed done */
	char feed[FW_STORE_KEY_MAX + 1];
};

/* One step: the items of the next feeds, about max_rows items (whole feeds) at most, in one
   statement, so that a caller on the loop can yield between steps. 0 or -errno. */
int fw_store_item_prune_step(struct fw_store *s, struct fw_store_item_pruning *p, size_t max_rows,
                             bool *done);

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
	int64_t id;   /* the id of its first item */
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
	char *entities; /* names of the entities it names, '\n' between */
	char *explain;  /* fw_store_story_pending: why it matched the watchlist (JSON array) */
	const uint32_t *features; /* the names mask, then the feature hashes (story.h), each
	                             little-endian (grouper.c) */
	size_t n_features;
};

void fw_story_row_clear(struct fw_story_row *r);
void fw_store_story_item_clear(struct fw_story_item_row *r);

/* Add item r to story r->story, or (r->story 0) start a story with it, whose public id is
   sid. 0 with the item's id in *id and its story's in *story, or -errno. */
int fw_store_story_add_item(struct fw_store *s, const struct fw_story_item_row *r, const char *sid,
                            int64_t *id, int64_t *story);

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

/* The earliest last alert of a (story, watchlist) with items waiting into *first;
   -ENOENT when none waits. */
int fw_store_story_next_due(struct fw_store *s, int64_t *first);

typedef int (*fw_store_story_due_cb)(int64_t story, const char *watchlist, void *arg);
/* Each (story, watchlist) with pending items whose last alert was at or before `before`,
   at most max, oldest first. A callback's non-zero return stops and is returned. On a
   store many nodes share it reads under the lock of fw_store_story_added (to the end of
   the transaction): a node that raises an update and advances the story's state with
   fw_store_story_watch_set in that transaction is the only one to raise it. */
int fw_store_story_due(struct fw_store *s, int64_t before, size_t max, fw_store_story_due_cb cb,
                       void *arg);

/* The callback may take r's strings (and set them to NULL). */
typedef int (*fw_store_story_item_cb)(struct fw_story_item_row *r, void *arg);
/* The items of story that matched watchlist after item `after`, in order. */
int fw_store_story_pending(struct fw_store *s, int64_t story, const char *watchlist, int64_t after,
                           fw_store_story_item_cb cb, void *arg);

/* The items seen since `since`, in arrival order, with their features only (id, story,
   seen, features), to rebuild the index at start; at most about the newest `limit` (0: no
   limit): those from the second the limit-th newest was seen. */
int fw_store_story_load(struct fw_store *s, int64_t since, int64_t limit, fw_store_story_item_cb cb,
                        void *arg);

/*
 * The story items added after item `after` and seen at or after `since`, in id order, with
 * the columns of fw_store_story_load: what other nodes sharing the store added since a
 * daemon's index last looked. Call it in the transaction that will add the items, before
 * placing them: on a store many nodes share (PostgreSQL) it also takes a lock held to the
 * end of that transaction, under which every story item is added (so nodes place items
 * one at a time, and ids grow in the order items commit: no item below one returned can
 * come later). A SQLite store has one writer: once it has added an item, nothing above the
 * last id it gave can exist, and it answers at once. 0, a callback's non-zero return, or
 * -errno.
 */
int fw_store_story_added(struct fw_store *s, int64_t after, int64_t since,
                         fw_store_story_item_cb cb, void *arg);

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

/* Delete the stories last seen before `before`, with their items and state, and the items
   seen before items_before of the stories that go on (a story that never ends keeps only
   its recent items). since: a cut of an earlier prune that ended well (0: none); the
   stories quiet before it are gone already, so only those with an item seen from since on
   are looked at (an hour of items, not the whole window). *deleted (may be NULL) counts
   the stories. */
int fw_store_story_prune(struct fw_store *s, int64_t before, int64_t since, int64_t items_before,
                         int64_t *deleted);

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

/*
 * WebSub subscriptions (websub_store.c): one row per subscription the daemon asked a hub
 * for, keyed by its callback token. state is the subscriber's word: "subscribing",
 * "active", "denied", "unsubscribing", "expired", "failed", or "insecure" (an http:// hub
 * not asked: websub insecure_hubs is off). lease_end and last_push are Unix seconds
 * (0 = none); pushes counts the valid pushes taken, bad_signatures those ignored.
 */
struct fw_store_websub {
	const char *token;
	const char *feed;
	const char *hub;
	const char *topic;
	const char *secret;
	const char *state;
	int64_t lease_end;
	int64_t updated;
	int64_t last_push;
	int64_t pushes;
	int64_t bad_signatures;
};

/* Insert or replace the row of w->token. 0 or -errno (-E2BIG for an over-long value). */
int fw_store_websub_save(struct fw_store *s, const struct fw_store_websub *w);

/* Delete the row of token (none: 0). 0 or -errno. */
int fw_store_websub_delete(struct fw_store *s, const char *token);

/* Set the push figures (last_push, pushes, bad_signatures) of the row of token, leaving
   the rest (and updated) as it is; no such row: 0. 0 or -errno. */
int fw_store_websub_counts(struct fw_store *s, const char *token, int64_t last_push, int64_t pushes,
                           int64_t bad_signatures);

/* Each row, in feed order; its strings are valid during the call only. A negative return
   of cb stops the walk and is returned. 0 or -errno. */
typedef int (*fw_store_websub_cb)(const struct fw_store_websub *w, void *arg);
int fw_store_websub_each(struct fw_store *s, fw_store_websub_cb cb, void *arg);

/* ------------------------------------------------------------------ archive (archive.c) */

/* What the archive keeps of one item's text, in bytes (cut on a UTF-8 boundary): the title,
   the author, the summary and the start of the content, the categories ('\n'-joined); a
   link longer than FW_ARCHIVE_LINK_MAX is left out. */
#define FW_ARCHIVE_TITLE_MAX      2048
#define FW_ARCHIVE_AUTHOR_MAX     256
#define FW_ARCHIVE_TEXT_MAX       4096
#define FW_ARCHIVE_CATEGORIES_MAX 1024
#define FW_ARCHIVE_LINK_MAX       8192

/*
 * One archived item. To fw_store_archive_add the caller hands its own strings (NULL or ""
 * for absent ones, categories as an array); to a fw_store_archive_each callback the
 * strings belong to the store and live until the callback returns (categories: an array
 * of n_categories strings, as above).
 */
struct fw_archive_row {
	int64_t id; /* rowid (read only) */
	const char *feed, *item, *title, *link, *author, *summary, *content;
	const char *const *categories;
	size_t n_categories;
	int64_t published, updated; /* INT64_MIN when unknown */
	int64_t seen;               /* when the item was first seen */
};

/* Archive one new item: its text cut to the caps above (one row: a value the store
   refuses writes nothing, so it needs no savepoint of its own). Its words are indexed
   later, by fw_store_archive_index. 0, or -EINVAL / -E2BIG (no feed or id, or one too
   long), or -errno. */
int fw_store_archive_add(struct fw_store *s, const struct fw_archive_row *r);

/*
 * The words the index keeps of an archived row: fn puts into *out (malloc()ed; the store
 * frees it) the words of its title, summary, content, author and categories, separated by
 * spaces, as the caller's matcher folds them, so that a lookup by the matcher's own words
 * finds every item the matcher could match. fn must give the same words for the same row
 * every time: the index keeps no text, and a row leaves it only by its words. 0 or -errno.
 */
typedef int (*fw_store_words_cb)(const struct fw_archive_row *r, char **out, void *arg);
struct fw_store_words {
	fw_store_words_cb fn;
	void *arg;
};

/* Index the words of at most max archived rows not indexed yet, oldest first (in a
   transaction of its own unless one is open): the word index is built off the polls' path,
   a batch at a time. *indexed counts them (0: the index is complete). 0 or -errno. */
int fw_store_archive_index(struct fw_store *s, size_t max, const struct fw_store_words *w,
                           size_t *indexed);

/* A non-zero return stops fw_store_archive_each and is returned. */
typedef int (*fw_store_archive_cb)(const struct fw_archive_row *r, void *arg);

/*
 * Each archived item seen at or after since, oldest first. words (may be NULL: every item)
 * is an FTS5 query over the indexed words (fw_store_words: `"a" AND "b"`, `"a" OR "b"`,
 * `"pref"*`; no phrases): the items it names, and every item not indexed yet, are
 * candidates, a superset for the caller's own matcher to decide. The callback may write to
 * other tables of the store, not to the archive. 0, a callback's non-zero return, -EINVAL
 * for a words query FTS5 refuses, or -errno.
 */
int fw_store_archive_each(struct fw_store *s, int64_t since, const char *words,
                          fw_store_archive_cb cb, void *arg);

/* Items archived at or after since, and the bytes of text they hold (either may be NULL). */
int fw_store_archive_count(struct fw_store *s, int64_t since, int64_t *n, int64_t *bytes);

/* Delete archived items seen before `before`, then the oldest ones while the archive holds
   more than max_bytes of text (0: no cap), taking their words (w: as they were indexed) out
   of the index. *deleted (may be NULL) counts them. Runs fw_store_archive_prune_step to the
   end: each step a transaction of its own unless one is open. Under the prune lock
   (fw_store_prune_lock): 0 with nothing deleted while another node holds it. */
int fw_store_archive_prune(struct fw_store *s, int64_t before, int64_t max_bytes,
                           const struct fw_store_words *w, int64_t *deleted);

/* Rows a step of fw_store_archive_prune takes at most. */
#define FW_STORE_ARCHIVE_PRUNE_BATCH 4096

/* A prune of the archive a batch at a time: zero it, set before and max_bytes (as for
   fw_store_archive_prune), then call fw_store_archive_prune_step until *done. The rest is
   the store's. */
struct fw_store_archive_pruning {
	int64_t before, max_bytes;
	int64_t deleted; /* rows deleted so far */
	int phase;       /* 0 by age, 1 walking back the size cap, 2 under the cut, 3 done */
	int64_t pos, sum, cut;
};

/* One step of a prune: reads or deletes at most max_rows rows (taking their words out of
   the index), in a transaction of its own unless one is open, so that a caller on the loop
   can yield between steps. The archive is consistent after each step; new rows added
   between steps are left for the next prune. The last step (*done) records the prune in
   meta.archive_pruned. 0 or -errno (the step is undone: calling it again retries it). */
int fw_store_archive_prune_step(struct fw_store *s, struct fw_store_archive_pruning *p,
                                size_t max_rows, const struct fw_store_words *w, bool *done);

/* When the last complete prune of the archive ended (Unix seconds, the database's clock),
   into *when; 0 when never. 0 or -errno. */
int fw_store_archive_last_prune(struct fw_store *s, int64_t *when);

#endif
