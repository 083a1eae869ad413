/*
 * store.c - the durable state in one SQLite database: the connection (open, schema,
 * migrations), transactions and savepoints, feed HTTP state, items seen, resting hosts and
 * alerts raised. The alert outbox is outbox.c; the two share store_int.h (struct fw_store,
 * the statement ids and the bind/step/fail helpers defined here). The SQL of every cached
 * statement, the outbox's included, is the one table stmt_sql below.
 *
 * Durability. The database runs in WAL mode with synchronous=FULL: a commit fsyncs the WAL,
 * which makes it and every commit before it survive a power cut. The polls are the
 * exception (fw_store_begin_lazy): one per feed, they commit without an fsync
 * (synchronous=NORMAL for that commit: a power cut may roll it back, never corrupt), and
 * the store remembers it. Before fw_store_outbox_due hands out any alert, and on close, one
 * small commit with an fsync (fw_store_sync) makes all of them durable at once. So an
 * alert never goes out before the commit that queued it is durable, as with FULL
 * everywhere, while the polls of a loop turn share one fsync instead of paying one each
 * (bench/RESULTS.md: the fsync per poll was most of a warm round of 304s). A poll lost to
 * a power cut before any sync only comes again: its items are new again, and one that
 * matched queues its alert again, which had not gone out. Delivery outcomes and every
 * other write commit with FULL.
 *
 * No foreign keys: items and outbox rows may precede their feeds/alerts rows (the daemon's
 * order of calls is its own business) and the store deletes dependants explicitly.
 *
 * One thread: the connection is opened SQLITE_OPEN_NOMUTEX; statements are prepared once
 * (lazily, SQLITE_PREPARE_PERSISTENT) and reset after each use. The store never logs.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* PRAGMA application_id of a feedwatch database: "FWDB". */
#define FW_STORE_APP_ID 0x46574442
/* The schema version this code writes (PRAGMA user_version). */
#define FW_STORE_SCHEMA 9
/* last_seen of an unchanged item is refreshed at most this often (seconds): retention is
   counted in days, and skipping the rewrite halves the WAL traffic of a 30 min poll. */
#define FW_STORE_SEEN_SLACK 3600
/* The WAL is truncated back to this size after a checkpoint. */
#define FW_STORE_WAL_LIMIT 16777216
/* quick_check reads every page: run at open when none passed for this long (s), as fsck's
   interval; between checks corruption is the error of the statement that meets it. */
#define FW_STORE_CHECK_EVERY 86400
#define FW_STORE_XSTR(x)     #x
#define FW_STORE_STR(x)      FW_STORE_XSTR(x)
/* No single value read back may exceed this (a corrupt or foreign row cannot make us
   allocate more): a payload plus slack. */
#define FW_STORE_VALUE_MAX (2 * FW_STORE_PAYLOAD_MAX)

/* The SQL of each cached statement, by enum fw_store_stmt (store_int.h). */
static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_RO] = "BEGIN DEFERRED",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
    [ST_SYNC_FULL] = "PRAGMA synchronous = FULL",
    /* a real change, so that the commit writes (and fsyncs) the WAL */
    [ST_SYNC_MARK] = "UPDATE meta SET v = v + 1 WHERE k = 'syncs'",
    [ST_SAVEPOINT] = "SAVEPOINT fw_poll",
    [ST_RELEASE] = "RELEASE fw_poll",
    [ST_ROLLBACK_TO] = "ROLLBACK TO fw_poll",
    [ST_SAVEPOINT_ITEM] = "SAVEPOINT fw_item",
    [ST_RELEASE_ITEM] = "RELEASE fw_item",
    [ST_ROLLBACK_TO_ITEM] = "ROLLBACK TO fw_item",
    [ST_FEED_LOAD] = "SELECT url, etag, last_modified, moved_url, last_poll, last_success, "
                     "next_poll, http_status, error_streak, first_error, last_error, "
                     "items_seen, alerts, failing_alerted, rate_items, rate_seconds, rate_at "
                     "FROM feeds WHERE name = ?1",
    [ST_FEED_SAVE] = "INSERT OR REPLACE INTO feeds (name, url, etag, last_modified, "
                     "moved_url, last_poll, last_success, next_poll, http_status, "
                     "error_streak, first_error, last_error, items_seen, alerts, "
                     "failing_alerted, rate_items, rate_seconds, rate_at) VALUES (?1, ?2, "
                     "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    [ST_FEED_NAMES] = "SELECT name FROM feeds ORDER BY name",
    [ST_FEED_FORGET_ITEMS] = "DELETE FROM items WHERE feed = ?1",
    [ST_FEED_FORGET] = "DELETE FROM feeds WHERE name = ?1",
    [ST_ITEM_GET] = "SELECT hash, last_seen FROM items WHERE feed = ?1 AND id = ?2",
    [ST_ITEM_INSERT] = "INSERT INTO items (feed, id, hash, first_seen, last_seen) "
                       "VALUES (?1, ?2, ?3, ?4, ?4)",
    [ST_ITEM_UPDATE] = "UPDATE items SET hash = ?3, last_seen = max(last_seen, ?4) "
                       "WHERE feed = ?1 AND id = ?2",
    [ST_ITEM_COUNT] = "SELECT count(*) FROM items WHERE feed = ?1",
    /* walks the feed's part of the primary key: no index on hash for every poll to keep */
    [ST_ITEM_REISSUED] = "SELECT 1 FROM items WHERE feed = ?1 AND hash = ?2 AND id <> ?3 LIMIT 1",
    [ST_HOST_REST] = "INSERT OR REPLACE INTO hosts (name, rest_until, http_status) "
                     "VALUES (?1, ?2, ?3)",
    [ST_HOST_RESTS] = "SELECT name, rest_until, http_status FROM hosts WHERE rest_until > ?1 "
                      "ORDER BY name",
    [ST_ALERT_ADD] = "INSERT INTO alerts (id, watchlist, feed, item_id, created) "
                     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING",
    [ST_OUTBOX_ADD] = "INSERT INTO outbox (alert_id, output, payload, created, next_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (alert_id, output) DO NOTHING",
    [ST_OUTBOX_DUE] =
        "SELECT " FW_STORE_OUTBOX_COLS " FROM outbox WHERE state = 0 AND next_at <= ?1 "
        "ORDER BY next_at, rowid",
    [ST_OUTBOX_NEXT] = "SELECT min(next_at) FROM outbox WHERE state = 0",
    [ST_OUTBOX_DELIVERED] = "DELETE FROM outbox WHERE rowid = ?1",
    [ST_ROUTE_DELIVERED] = "UPDATE alert_routes SET delivered = ?2 WHERE (alert_id, output) IN "
                           "(SELECT alert_id, output FROM outbox WHERE rowid = ?1)",
    [ST_OUTBOX_RETRY] = "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, "
                        "last_error = ?3 WHERE rowid = ?1 AND state = 0",
    [ST_OUTBOX_KILL] = "UPDATE outbox SET state = 1, attempts = attempts + 1, "
                       "last_error = ?2 WHERE rowid = ?1 AND state = 0",
    [ST_OUTBOX_HOLD] = "UPDATE outbox SET next_at = ?2, last_error = '" FW_OUTBOX_HELD "' || ?3 "
                       "WHERE rowid = ?1 AND state = 0",
    [ST_OUTBOX_EXPIRE] = "UPDATE outbox SET state = 1, last_error = ?2 "
                         "WHERE rowid = ?1 AND state = 0",
    [ST_OUTBOX_RELEASE] = "UPDATE outbox SET next_at = ?3 WHERE state = 0 AND output = ?2 "
                          "AND next_at > ?3 AND last_error LIKE '" FW_OUTBOX_HELD "%'",
    [ST_OUTBOX_LIST] = "SELECT " FW_STORE_OUTBOX_COLS " FROM outbox WHERE (?1 < 0 OR state = ?1) "
                       "AND (?2 IS NULL OR output = ?2) ORDER BY rowid",
    [ST_OUTBOX_REVIVE] = "UPDATE outbox SET state = 0, attempts = 0, next_at = ?3 "
                         "WHERE ((?1 > 0 AND rowid = ?1) OR (?1 = 0 AND state = 1)) "
                         "AND (?2 IS NULL OR output = ?2)",
    [ST_OUTBOX_DROP] = "DELETE FROM outbox WHERE ((?1 > 0 AND rowid = ?1) OR "
                       "(?1 = 0 AND state = 1)) AND (?2 IS NULL OR output = ?2)",
    [ST_OUTBOX_COUNT] = "SELECT coalesce(sum(state = 0), 0), coalesce(sum(state = 1), 0) "
                        "FROM outbox WHERE ?1 IS NULL OR output = ?1",
    [ST_STORY_ITEM_ADD] = "INSERT INTO story_items (id, story, sid, feed, item, title, link,"
                          " published, seen, matched, score, entities, features) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_STORY_NEXT_ID] = "SELECT coalesce(max(id), 0) + 1 FROM story_items",
    [ST_STORY_GET] = "SELECT f.sid, f.title, f.seen, max(i.seen), count(*),"
                     " count(DISTINCT i.feed) FROM story_items f JOIN story_items i"
                     " ON i.story = f.id WHERE f.id = ?1",
    [ST_STORY_MATCH] = "INSERT OR IGNORE INTO story_matches (item, watchlist, explain) "
                       "VALUES (?1, ?2, ?3)",
    [ST_STORY_WATCH_GET] = "SELECT first_alert, last_alert, last_item, pending, updates "
                           "FROM story_watch WHERE story = ?1 AND watchlist = ?2",
    [ST_STORY_WATCH_SET] = "INSERT OR REPLACE INTO story_watch (story, watchlist, first_alert,"
                           " last_alert, last_item, pending, updates) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_STORY_DUE] = "SELECT story, watchlist FROM story_watch WHERE pending > 0 AND "
                     "last_alert <= ?1 ORDER BY last_alert LIMIT ?2",
    [ST_STORY_PENDING] = "SELECT i.id, i.feed, i.item, i.title, i.link, i.published, i.seen,"
                         " m.explain FROM story_items i JOIN story_matches m ON m.item = i.id "
                         "WHERE i.story = ?1 AND m.watchlist = ?2 AND i.id > ?3 ORDER BY i.id",
    [ST_STORY_LOAD] = "SELECT id, story, seen, features FROM story_items WHERE seen >= "
                      "CASE WHEN ?2 < 0 THEN ?1 ELSE max(?1, coalesce((SELECT seen FROM "
                      "story_items WHERE seen >= ?1 ORDER BY seen DESC LIMIT 1 OFFSET ?2), "
                      "?1)) END ORDER BY seen, id",
    [ST_ARCHIVE_ADD] = "INSERT INTO archive (feed, item, seen, published, updated, title, link,"
                       " author, summary, content, categories, bytes) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_WEBSUB_SAVE] = "INSERT OR REPLACE INTO websub_subs (token, feed, hub, topic, secret,"
                       " state, lease_end, updated, last_push, pushes, bad_signatures)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    /* numbered as ST_WEBSUB_SAVE: one binding for both (websub_store.c) */
    [ST_WEBSUB_COUNTS] = "UPDATE websub_subs SET last_push = ?9, pushes = ?10,"
                         " bad_signatures = ?11 WHERE token = ?1",
};

/*
 * Schema version 1. The outbox rowid is AUTOINCREMENT so that a rowid is never reused: the
 * daemon holds rowids of deliveries in flight while `feedwatch outbox drop` may delete rows.
 */
static const char schema_v1[] =
    "CREATE TABLE feeds ("
    " name TEXT PRIMARY KEY NOT NULL, url TEXT, etag TEXT, last_modified TEXT,"
    " moved_url TEXT, last_poll INTEGER NOT NULL DEFAULT 0,"
    " last_success INTEGER NOT NULL DEFAULT 0, next_poll INTEGER NOT NULL DEFAULT 0,"
    " http_status INTEGER NOT NULL DEFAULT 0, error_streak INTEGER NOT NULL DEFAULT 0,"
    " first_error INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    " items_seen INTEGER NOT NULL DEFAULT 0, alerts INTEGER NOT NULL DEFAULT 0,"
    " failing_alerted INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE items ("
    " feed TEXT NOT NULL, id TEXT NOT NULL, hash INTEGER NOT NULL,"
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    " PRIMARY KEY (feed, id)) WITHOUT ROWID;"
    "CREATE TABLE alerts ("
    " id TEXT PRIMARY KEY NOT NULL, watchlist TEXT NOT NULL, feed TEXT NOT NULL,"
    " item_id TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE outbox ("
    " rowid INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL,"
    " output TEXT NOT NULL, payload TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
    " next_at INTEGER NOT NULL, last_error TEXT, UNIQUE (alert_id, output));"
    "CREATE INDEX outbox_due ON outbox (state, next_at);";

/* Version 2: a counter that fw_store_sync increments (a write that makes its commit fsync). */
static const char schema_v2[] =
    "CREATE TABLE meta (k TEXT PRIMARY KEY NOT NULL, v INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta (k, v) VALUES ('syncs', 0);";

/* Version 3: hosts resting after a 429 or 503 (so that a restart keeps the rest, and
   `status` can show it). */
static const char schema_v3[] =
    "CREATE TABLE hosts (name TEXT PRIMARY KEY NOT NULL, rest_until INTEGER NOT NULL,"
    " http_status INTEGER NOT NULL) WITHOUT ROWID;";

/* Version 4: stories (story.h). A story is the set of story_items with the same `story`:
   the id of its first item, which also holds the story's public id (sid), so that placing
   an item is one INSERT; counts and times are aggregates over the items. story_matches
   keeps the watchlists each item matched (and why); story_watch, per story and watchlist
   grouped by story, the first alert and what the last alert covered. */
static const char schema_v4[] =
    "CREATE TABLE story_items (id INTEGER PRIMARY KEY, story INTEGER NOT NULL,"
    " sid TEXT, feed TEXT NOT NULL, item TEXT NOT NULL, title TEXT NOT NULL, link TEXT,"
    " published INTEGER, seen INTEGER NOT NULL, matched INTEGER, score REAL,"
    " entities TEXT, features BLOB);"
    "CREATE INDEX story_items_story ON story_items (story);"
    "CREATE INDEX story_items_seen ON story_items (seen);"
    "CREATE UNIQUE INDEX story_items_sid ON story_items (sid) WHERE sid IS NOT NULL;"
    "CREATE TABLE story_matches (item INTEGER NOT NULL, watchlist TEXT NOT NULL,"
    " explain TEXT, PRIMARY KEY (item, watchlist)) WITHOUT ROWID;"
    "CREATE TABLE story_watch (story INTEGER NOT NULL, watchlist TEXT NOT NULL,"
    " first_alert TEXT NOT NULL, last_alert INTEGER NOT NULL, last_item INTEGER NOT NULL,"
    " pending INTEGER NOT NULL DEFAULT 0, updates INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (story, watchlist)) WITHOUT ROWID;"
    "CREATE INDEX story_watch_due ON story_watch (last_alert) WHERE pending > 0;";

/* Version 5: what `feedwatch alerts` shows after delivery deleted the outbox row: each
   alert's payload and the outputs it was queued for, kept by a trigger on the outbox (so
   that no writer changes), the rows already queued copied in. */
static const char schema_v5[] =
    "CREATE TABLE alert_texts (alert_id TEXT PRIMARY KEY NOT NULL, payload TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE alert_routes (alert_id TEXT NOT NULL, output TEXT NOT NULL,"
    " PRIMARY KEY (alert_id, output)) WITHOUT ROWID;"
    "CREATE TRIGGER alert_kept AFTER INSERT ON outbox BEGIN"
    " INSERT OR IGNORE INTO alert_texts (alert_id, payload) VALUES (NEW.alert_id, NEW.payload);"
    " INSERT OR IGNORE INTO alert_routes (alert_id, output) VALUES (NEW.alert_id, NEW.output);"
    " END;"
    "INSERT OR IGNORE INTO alert_texts SELECT alert_id, payload FROM outbox;"
    "INSERT OR IGNORE INTO alert_routes SELECT alert_id, output FROM outbox;";

/* Version 6: WebSub subscriptions (websub_store.c), one row per subscription asked for,
   found by its callback token. */
static const char schema_v6[] =
    "CREATE TABLE websub_subs (token TEXT PRIMARY KEY NOT NULL, feed TEXT NOT NULL,"
    " hub TEXT NOT NULL, topic TEXT NOT NULL, secret TEXT NOT NULL, state TEXT NOT NULL,"
    " lease_end INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX websub_subs_feed ON websub_subs (feed);";

/* Version 7: the item archive (archive.c; seen and bytes first, so that the prune reads
   them without the text): the text of each new item, capped, for
   `feedwatch backtest` and for watchlists added by a reload; archive_fts indexes its words
   as the caller folds them (FTS5, contentless, no positions: words split at spaces, a
   lookup of candidates, the matcher decides) up to the row meta.archive_indexed, off the
   polls' path. */
static const char schema_v7[] =
    "CREATE TABLE archive (id INTEGER PRIMARY KEY, seen INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL, feed TEXT NOT NULL, item TEXT NOT NULL, published INTEGER,"
    " updated INTEGER, title TEXT NOT NULL, link TEXT, author TEXT, summary TEXT,"
    " content TEXT, categories TEXT);"
    "CREATE VIRTUAL TABLE archive_fts USING fts5(words, content = '', detail = 'none',"
    " tokenize = 'ascii');"
    "INSERT INTO meta (k, v) VALUES ('archive_indexed', 0);";

/* Version 8: adaptive polling's learned publication rate per feed (schedule.h: decayed
   items and seconds observed, and the time they refer to), and when each alert was
   delivered to each output. */
static const char schema_v8[] = "ALTER TABLE feeds ADD COLUMN rate_items REAL NOT NULL DEFAULT 0;"
                                "ALTER TABLE feeds ADD COLUMN rate_seconds REAL NOT NULL DEFAULT 0;"
                                "ALTER TABLE feeds ADD COLUMN rate_at INTEGER NOT NULL DEFAULT 0;"
                                "ALTER TABLE alert_routes ADD COLUMN delivered INTEGER;";

/* Version 9: per WebSub subscription, when the last valid push came and how many pushes
   were taken and ignored for a bad signature (`feedwatch status` reads them). */
static const char schema_v9[] =
    "ALTER TABLE websub_subs ADD COLUMN last_push INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE websub_subs ADD COLUMN pushes INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE websub_subs ADD COLUMN bad_signatures INTEGER NOT NULL DEFAULT 0;";

/* migrations[v] takes a database from user_version v to v + 1; [0] creates it. */
static const char *const migrations[FW_STORE_SCHEMA] = {schema_v1, schema_v2, schema_v3,
                                                        schema_v4, schema_v5, schema_v6,
                                                        schema_v7, schema_v8, schema_v9};

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt,
                                                         ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* One line, whatever SQLite's messages hold (quick_check lists problems by line). */
	for (; *err; err++)
		if ((unsigned char)*err < 0x20)
			*err = ' ';
}

/* SQLite result code (primary or extended) to a negative errno. */
static int map_rc(sqlite3 *db, int rc)
{
	int sys = db ? sqlite3_system_errno(db) : 0;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CANTOPEN:
		return sys == ENOENT || sys == ENOTDIR ? -ENOENT : -EACCES;
	case SQLITE_IOERR:
		return sys == ENOSPC ? -ENOSPC : -EIO;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* Record SQLite's message for rc and return the errno; see store_int.h. */
int fw_store_fail(struct fw_sqlite *s, int rc)
{
	int se = sqlite3_system_errno(s->db);

	s->corrupt |= (rc & 0xff) == SQLITE_CORRUPT;
	if ((rc & 0xff) == SQLITE_IOERR && se != 0)
		snprintf(s->msg, sizeof(s->msg), "%s (%s)", sqlite3_errmsg(s->db), strerror(se));
	else
		snprintf(s->msg, sizeof(s->msg), "%s", sqlite3_errmsg(s->db));
	return map_rc(s->db, rc);
}

/* Record our own message and return e; see store_int.h. */
int fw_store_fail_msg(struct fw_sqlite *s, int e, const char *msg)
{
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
	return e;
}

/* The cached statement id, prepared on first use (owned by s); NULL with *rc set on failure.
   See store_int.h. */
sqlite3_stmt *fw_store_prepare(struct fw_sqlite *s, enum fw_store_stmt id, int *rc)
{
	int r;

	if (s->st[id])
		return s->st[id];
	r = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id],
	                       NULL);
	if (r != SQLITE_OK) {
		*rc = fw_store_fail(s, r);
		s->st[id] = NULL;
		return NULL;
	}
	return s->st[id];
}

/* Ready a cached statement for its next use; see store_int.h. */
void fw_store_stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Bind a required key (non-NULL, at most FW_STORE_KEY_MAX bytes); see store_int.h. */
int fw_store_bind_key(struct fw_sqlite *s, sqlite3_stmt *st, int i, const char *v)
{
	size_t n;

	if (!v)
		return fw_store_fail_msg(s, -EINVAL, "missing key");
	n = strnlen(v, FW_STORE_KEY_MAX + 1);
	if (n > FW_STORE_KEY_MAX)
		return fw_store_fail_msg(s, -E2BIG, "key longer than FW_STORE_KEY_MAX");
	if (sqlite3_bind_text(st, i, v, (int)n, SQLITE_STATIC) != SQLITE_OK)
		return fw_store_fail(s, SQLITE_RANGE);
	return 0;
}

/* Bind an optional string of at most max bytes (NULL binds NULL); see store_int.h. */
int fw_store_bind_text(struct fw_sqlite *s, sqlite3_stmt *st, int i, const char *v, size_t max)
{
	size_t n;
	int rc;

	if (!v)
		rc = sqlite3_bind_null(st, i);
	else {
		n = strnlen(v, max + 1);
		if (n > max)
			return fw_store_fail_msg(s, -E2BIG, "string longer than the store accepts");
		rc = sqlite3_bind_text(st, i, v, (int)n, SQLITE_STATIC);
	}
	return rc == SQLITE_OK ? 0 : fw_store_fail(s, rc);
}

/* Bind an error message, cut to FW_STORE_ERROR_MAX bytes on a UTF-8 boundary; see
   store_int.h. */
int fw_store_bind_error(struct fw_sqlite *s, sqlite3_stmt *st, int i, const char *v)
{
	size_t n;
	int rc;

	if (!v)
		rc = sqlite3_bind_null(st, i);
	else {
		n = strnlen(v, FW_STORE_ERROR_MAX + 1);
		if (n > FW_STORE_ERROR_MAX) {
			n = FW_STORE_ERROR_MAX;
			while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
				n--;
		}
		rc = sqlite3_bind_text(st, i, v, (int)n, SQLITE_STATIC);
	}
	return rc == SQLITE_OK ? 0 : fw_store_fail(s, rc);
}

/* Step a statement that returns no row; reset it either way. See store_int.h. */
int fw_store_step_done(struct fw_sqlite *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	int ret = rc == SQLITE_DONE ? 0 : fw_store_fail(s, rc);

	fw_store_stmt_done(st);
	return ret;
}

/* Copy a text column (NULL stays NULL; the copy is the caller's); false on allocation
   failure. See store_int.h. */
sqlite3_stmt *fw_store_prepare_once(struct fw_sqlite *s, const char *sql, int *ret)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

	if (rc != SQLITE_OK) {
		*ret = fw_store_fail(s, rc);
		return NULL;
	}
	return q;
}

bool fw_store_col_dup(sqlite3_stmt *st, int col, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	*out = NULL;
	if (!t)
		return sqlite3_column_type(st, col) == SQLITE_NULL;
	*out = strdup((const char *)t);
	return *out != NULL;
}

/* Run one statement of SQL that yields at most one integer (pragmas); sqlite rc. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*v = 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The failure of an SQLite call during open, as errno and a line in err. */
static int open_fail(sqlite3 *db, int rc, const char *path, const char *what, int busy_ms,
                     char *err, size_t errlen)
{
	int e = map_rc(db, rc);

	if (e == -EBUSY)
		seterr(err, errlen, "%s: locked by another process (waited %d ms)", path, busy_ms);
	else if ((rc & 0xff) == SQLITE_NOTADB)
		seterr(err, errlen, "%s: not a SQLite database", path);
	else if ((rc & 0xff) == SQLITE_CORRUPT)
		seterr(err, errlen, "%s: corrupted database (%s)", path,
		       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	else if (db && sqlite3_system_errno(db) != 0)
		/* "disk I/O error" alone hides ENOSPC, EROFS, EACCES: name the OS error too. */
		seterr(err, errlen, "%s: %s: %s (%s)", path, what, sqlite3_errmsg(db),
		       strerror(sqlite3_system_errno(db)));
	else
		seterr(err, errlen, "%s: %s: %s", path, what,
		       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return e;
}

/*
 * Check the file with plain syscalls before SQLite sees it, for precise errors: SQLite
 * silently falls back to read-only on a file it cannot write, and treats a short file of
 * garbage, or an empty one, as an empty database it would then overwrite. *missing is set
 * when there is no file yet (and a writer may create one).
 */
static int check_dir(const char *path, char *err, size_t errlen);

static int precheck(const char *path, bool read_only, bool *missing, char *err, size_t errlen)
{
	char hdr[100];
	struct stat sb;
	ssize_t got;
	int fd, e;

	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT && !read_only) {
		*missing = true;
		return check_dir(path, err, errlen);
	}
	if (fd < 0) {
		e = errno;
		seterr(err, errlen, "%s: cannot %s database: %s", path,
		       read_only ? "open" : "open or create", strerror(e));
		return -e;
	}
	if (fstat(fd, &sb) < 0) {
		e = errno;
		close(fd);
		seterr(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		seterr(err, errlen, "%s: not a regular file", path);
		return S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
	}
	if (sb.st_size == 0) {
		/* feedwatch creates its database whole (create_fresh): an empty file is damage,
		   and taking it as new would send every delivered alert again */
		close(fd);
		seterr(err, errlen,
		       "%s: empty file (0 bytes), not a database feedwatch wrote; move it away to "
		       "start afresh (every item then counts as new)",
		       path);
		return -EBADMSG;
	}
	{
		got = pread(fd, hdr, sizeof(hdr), 0);
		if (got < 0) {
			e = errno;
			close(fd);
			seterr(err, errlen, "%s: cannot read: %s", path, strerror(e));
			return -e;
		}
		if ((size_t)got < sizeof(hdr) || memcmp(hdr, "SQLite format 3", 16) != 0) {
			close(fd);
			seterr(err, errlen, "%s: not a SQLite database (bad header)", path);
			return -EBADMSG;
		}
	}
	close(fd);
	return read_only ? 0 : check_dir(path, err, errlen);
}

/* The directory of path must be writable: WAL mode creates path-wal and path-shm there. */
static int check_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int e;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else {
		seterr(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
		e = errno;
		seterr(err, errlen,
		       "%s: directory %s is not writable (needed for the -wal and "
		       "-shm files): %s",
		       path, dir, strerror(e));
		return -e;
	}
	return 0;
}

/*
 * Is this a feedwatch database we can use? Sets *version (0 = fresh, empty file). Reads
 * only. 0 or -errno with err set.
 */
static int classify(sqlite3 *db, const char *path, bool read_only, int busy_ms, int64_t *version,
                    char *err, size_t errlen)
{
	int64_t app = 0, ver = 0, objects = 0;
	int rc;

	rc = query_int(db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = query_int(db, "PRAGMA user_version", &ver);
	if (rc == SQLITE_OK)
		rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objects);
	if (rc != SQLITE_OK && read_only && (rc & 0xff) == SQLITE_READONLY) {
		/* SQLITE_READONLY_CANTINIT and kin: a reader of a WAL database needs the -shm
		   file, which exists only while a writer runs, or a directory to create it. */
		seterr(err, errlen,
		       "%s: cannot read: no -shm file and its directory is not writable (%s)", path,
		       sqlite3_errmsg(db));
		return -EROFS;
	}
	if (rc != SQLITE_OK)
		return open_fail(db, rc, path, "reading the header", busy_ms, err, errlen);

	if (app == 0 && ver == 0 && objects == 0) {
		if (read_only) {
			seterr(err, errlen, "%s: empty, not (yet) a feedwatch database", path);
			return -EMEDIUMTYPE;
		}
		*version = 0;
		return 0;
	}
	if (app != FW_STORE_APP_ID) {
		seterr(err, errlen,
		       "%s: not a feedwatch database (a SQLite database of another application: "
		       "application_id 0x%08x)",
		       path, (unsigned)app);
		return -EMEDIUMTYPE;
	}
	if (ver <= 0) {
		seterr(err, errlen, "%s: corrupted database (feedwatch header, user_version %lld)",
		       path, (long long)ver);
		return -EBADMSG;
	}
	if (ver > FW_STORE_SCHEMA) {
		seterr(err, errlen,
		       "%s: written by a newer feedwatch (schema %lld; this build knows up to %d)",
		       path, (long long)ver, FW_STORE_SCHEMA);
		return -EPROTO;
	}
	if (read_only && ver < FW_STORE_SCHEMA) {
		seterr(err, errlen,
		       "%s: older schema %lld (this build uses %d); start the daemon once to "
		       "upgrade it",
		       path, (long long)ver, FW_STORE_SCHEMA);
		return -EPROTO;
	}
	*version = ver;
	return 0;
}

/* PRAGMA quick_check when due, that is when none passed in the last FW_STORE_CHECK_EVERY
   seconds (meta 'checked') or that cannot be read; *done says whether it ran. 0 or
   -EBADMSG (or another -errno) with err set. */
static int quick_check(sqlite3 *db, const char *path, int busy_ms, int64_t now, bool *done,
                       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int64_t at = 0;
	int rc, ret = 0;

	rc = query_int(db, "SELECT v FROM meta WHERE k = 'checked'", &at);
	*done = rc != SQLITE_OK || at <= 0 || at > now || now - at >= FW_STORE_CHECK_EVERY;
	if (!*done)
		return 0;
	rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return open_fail(db, rc, path, "quick_check", busy_ms, err, errlen);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		if (!t || strcmp((const char *)t, "ok") != 0) {
			seterr(err, errlen, "%s: corrupted database (quick_check: %.120s)", path,
			       t ? (const char *)t : "no answer");
			ret = -EBADMSG;
		}
	} else
		ret = open_fail(db, rc, path, "quick_check", busy_ms, err, errlen);
	sqlite3_finalize(st);
	return ret;
}

/* Create or migrate the schema in one write transaction (which also proves that no other
   process holds the write lock beyond the timeout). */
static int migrate(sqlite3 *db, const char *path, int busy_ms, char *err, size_t errlen)
{
	char sql[96];
	int64_t v, from;
	int rc, ret;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return open_fail(db, rc, path, "starting a transaction", busy_ms, err, errlen);
	/* Another process may have created or migrated the file since we looked. */
	ret = classify(db, path, false, busy_ms, &from, err, errlen);
	if (ret < 0)
		goto out;
	for (v = from, rc = SQLITE_OK; v < FW_STORE_SCHEMA && rc == SQLITE_OK; v++)
		rc = sqlite3_exec(db, migrations[v], NULL, NULL, NULL);
	if (rc == SQLITE_OK && from < FW_STORE_SCHEMA) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
		         FW_STORE_APP_ID, FW_STORE_SCHEMA);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		ret = open_fail(db, rc, path, "writing the schema", busy_ms, err, errlen);
out:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/*
 * Create the database whole: schema and WAL header written to "path.new", synced, then
 * renamed to path. A crash leaves no file or a whole one, never an empty file that a later
 * start could not tell from damage.
 */
static int create_fresh(const char *path, int busy_ms, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	sqlite3 *db = NULL;
	int rc, ret, fd;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp)) {
		seterr(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	unlink(tmp); /* left by a crash during an earlier creation */
	rc = sqlite3_open_v2(tmp, &db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
	                         SQLITE_OPEN_EXRESCODE,
	                     NULL);
	if (rc != SQLITE_OK) {
		ret = open_fail(db, rc, tmp, "cannot create", busy_ms, err, errlen);
		goto out;
	}
	rc = sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
	ret = rc == SQLITE_OK ? migrate(db, tmp, busy_ms, err, errlen)
	                      : open_fail(db, rc, tmp, "setting pragmas", busy_ms, err, errlen);
	if (ret == 0 &&
	    (rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) != SQLITE_OK)
		ret = open_fail(db, rc, tmp, "setting WAL mode", busy_ms, err, errlen);
	rc = sqlite3_close(db);
	db = NULL;
	if (ret == 0 && rc != SQLITE_OK) {
		seterr(err, errlen, "%s: cannot close: %s", tmp, sqlite3_errstr(rc));
		ret = -EIO;
	}
	if (ret == 0 && (fd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) < 0)
			ret = -errno;
		close(fd);
	}
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0 && !err[0])
		seterr(err, errlen, "%s: cannot create the database: %s", path, strerror(-ret));
out:
	sqlite3_close(db);
	if (ret < 0)
		unlink(tmp);
	return ret;
}

/* Open with an explicit busy timeout; see store.h (fw_store_open_timeout). */
int fw_sqlite_open(const char *path, bool read_only, int busy_ms, struct fw_store **out, char *err,
                   size_t errlen)
{
	struct fw_sqlite *s = NULL;
	sqlite3 *db = NULL;
	const unsigned char *mode;
	sqlite3_stmt *st = NULL;
	int64_t version = 0, now = (int64_t)time(NULL);
	bool missing = false, checked = false;
	int flags, rc, ret;

	if (!path || !*path || !out || busy_ms < 0) {
		seterr(err, errlen, "invalid arguments to fw_store_open");
		return -EINVAL;
	}
	if (errlen > 0)
		err[0] = '\0';
	ret = precheck(path, read_only, &missing, err, errlen);
	if (ret == 0 && missing)
		ret = create_fresh(path, busy_ms, err, errlen);
	if (ret < 0)
		return ret;

	flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
	        SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		ret = open_fail(db, rc, path, "cannot open", busy_ms, err, errlen);
		goto fail;
	}
	sqlite3_busy_timeout(db, busy_ms);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, FW_STORE_VALUE_MAX);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

	/* Look before writing anything: never turn another application's file to WAL. */
	ret = classify(db, path, read_only, busy_ms, &version, err, errlen);
	if (ret < 0)
		goto fail;
	if (version > 0) {
		ret = quick_check(db, path, busy_ms, now, &checked, err, errlen);
		if (ret < 0)
			goto fail;
	}

	if (!read_only) {
		rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			ret = open_fail(db, rc, path, "setting WAL mode", busy_ms, err, errlen);
			goto fail;
		}
		mode = sqlite3_column_text(st, 0);
		if (!mode || strcmp((const char *)mode, "wal") != 0) {
			seterr(err, errlen, "%s: cannot switch to WAL mode (journal_mode %s)", path,
			       mode ? (const char *)mode : "unknown");
			ret = -EIO;
			goto fail;
		}
		sqlite3_finalize(st);
		st = NULL;
		rc = sqlite3_exec(db,
		                  "PRAGMA synchronous = FULL;"
		                  "PRAGMA foreign_keys = OFF;"
		                  /* a savepoint's journal in memory: a poll's savepoint journals
		                     every page its items change (their rows, index entries, story
		                     rows), which SQLite's 64 KiB in memory before a temporary file
		                     sent to disk at nearly every poll */
		                  "PRAGMA temp_store = MEMORY;"
		                  "PRAGMA journal_size_limit = " FW_STORE_STR(FW_STORE_WAL_LIMIT),
		                  NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			ret = open_fail(db, rc, path, "setting pragmas", busy_ms, err, errlen);
			goto fail;
		}
		ret = migrate(db, path, busy_ms, err, errlen);
		if (ret < 0)
			goto fail;
		if (checked || version == 0) /* best effort: unstamped, the next open checks */
			sqlite3_exec(db,
			             "INSERT OR REPLACE INTO meta VALUES ('checked', unixepoch())",
			             NULL, NULL, NULL);
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		seterr(err, errlen, "%s: out of memory", path);
		ret = -ENOMEM;
		goto fail;
	}
	s->base.ops = &fw_sqlite_ops;
	s->db = db;
	s->read_only = read_only;
	*out = &s->base;
	return 0;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

/* Take the daemon's lock beside the database; see store.h (fw_store_lock). */
int fw_sqlite_lock(const char *path, int *fd_out, char *err, size_t errlen)
{
	char lock[PATH_MAX], pid[32] = "";
	ssize_t got;
	int fd, e;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
		seterr(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
	if (fd < 0) {
		e = errno;
		seterr(err, errlen, "%s: cannot open: %s", lock, strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		got = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[got > 0 ? got : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			seterr(err, errlen,
			       "another feedwatch (pid %s) is running on %s; two would deliver "
			       "alerts twice",
			       pid[0] ? pid : "unknown", path);
		else
			seterr(err, errlen, "%s: cannot lock: %s", lock, strerror(e));
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		/* the lock holds all the same; only the pid in the message is lost */
	}
	*fd_out = fd;
	return 0;
}

/* Finalize the statements and close; an open transaction is rolled back. */
void fw_sqlite_close(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	size_t i;

	fw_sqlite_rollback(&s->base);
	fw_sqlite_sync(&s->base);
	/* corruption met between two checks: the next open checks (best effort: the row may
	   be on a page that is gone) */
	if (s->corrupt && !s->read_only)
		sqlite3_exec(s->db, "DELETE FROM meta WHERE k = 'checked'", NULL, NULL, NULL);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

/* The last error: the store's own message or SQLite's. Never NULL. */
const char *fw_sqlite_error(const struct fw_store *base)
{
	const struct fw_sqlite *s = (const struct fw_sqlite *)base;

	return s->msg[0] ? s->msg : sqlite3_errmsg(s->db);
}

/* Set synchronous FULL or NORMAL; see store.h. */
int fw_sqlite_set_synchronous(struct fw_store *base, bool full)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int rc;

	if (!sqlite3_get_autocommit(s->db))
		return fw_store_fail_msg(s, -EINVAL,
		                         "synchronous cannot change inside a transaction");
	rc = sqlite3_exec(s->db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
	                  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fw_store_fail(s, rc);
	s->normal = !full;
	return 0;
}

/* Run one of the transaction statements. */
static int tx_step(struct fw_sqlite *s, enum fw_store_stmt id)
{
	sqlite3_stmt *st;
	int ret = 0;

	st = fw_store_prepare(s, id, &ret);
	if (!st)
		return ret;
	return fw_store_step_done(s, st);
}

/* BEGIN (IMMEDIATE for a writer: take the write lock now, not mid-transaction). 0, -EINVAL
   when a transaction is open, -EBUSY past the busy timeout, or -errno. */
int fw_sqlite_begin(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	if (!sqlite3_get_autocommit(s->db))
		return fw_store_fail_msg(s, -EINVAL, "transaction already open");
	s->begin_changes = sqlite3_total_changes64(s->db);
	return tx_step(s, s->read_only ? ST_BEGIN_RO : ST_BEGIN);
}

/* After a lazy transaction ended (committed or rolled back): FULL again. */
static void lazy_end(struct fw_sqlite *s)
{
	if (!s->lazy || !sqlite3_get_autocommit(s->db))
		return;
	s->lazy = false;
	if (!s->normal)
		tx_step(s, ST_SYNC_FULL);
}

/* BEGIN a transaction whose commit does not fsync; see store.h. */
int fw_sqlite_begin_lazy(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int r;

	if (!sqlite3_get_autocommit(s->db))
		return fw_store_fail_msg(s, -EINVAL, "transaction already open");
	if (s->read_only)
		return fw_sqlite_begin(&s->base);
	if (!s->normal && (r = tx_step(s, ST_SYNC_NORMAL)) < 0)
		return r;
	s->lazy = true;
	r = tx_step(s, ST_BEGIN);
	if (r < 0)
		lazy_end(s);
	return r;
}

/* COMMIT. -EINVAL without a transaction; on -EBUSY the transaction stays open (retry or
   roll back). */
int fw_sqlite_commit(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int r;

	if (sqlite3_get_autocommit(s->db))
		return fw_store_fail_msg(s, -EINVAL, "no transaction open");
	r = tx_step(s, ST_COMMIT);
	if (r == 0 && (s->lazy || s->normal))
		s->unsynced = true;
	else if (r == 0 && sqlite3_total_changes64(s->db) != s->begin_changes)
		/* a FULL commit that wrote fsyncs the WAL, and with it every commit before it */
		s->unsynced = false;
	lazy_end(s);
	return r;
}

/* ROLLBACK. 0 also when no transaction is open (SQLite may have rolled back by itself after
   an I/O error or a full disk), so cleanup paths can call it unconditionally. */
int fw_sqlite_rollback(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int r = 0;

	if (!sqlite3_get_autocommit(s->db))
		r = tx_step(s, ST_ROLLBACK);
	lazy_end(s);
	return r;
}

/* One poll: a savepoint inside an open transaction, else a lazy transaction; see store.h. */
int fw_sqlite_poll_begin(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int r;

	if (sqlite3_get_autocommit(s->db)) {
		s->in_poll = false;
		return fw_sqlite_begin_lazy(&s->base);
	}
	r = tx_step(s, ST_SAVEPOINT);
	s->in_poll = r == 0;
	return r;
}

/* End a poll begun by fw_store_poll_begin: release its savepoint, or commit. */
int fw_sqlite_poll_commit(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	if (!s->in_poll)
		return fw_sqlite_commit(&s->base);
	s->in_poll = false;
	/* SQLite rolls a transaction back by itself on some errors (a full disk) */
	if (sqlite3_get_autocommit(s->db))
		return fw_store_fail_msg(s, -EIO, "the transaction was rolled back");
	return tx_step(s, ST_RELEASE);
}

/* Undo a poll begun by fw_store_poll_begin; the rest of an open transaction stays. */
int fw_sqlite_poll_rollback(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int r;

	if (!s->in_poll)
		return fw_sqlite_rollback(&s->base);
	s->in_poll = false;
	if (sqlite3_get_autocommit(s->db))
		return 0;
	r = tx_step(s, ST_ROLLBACK_TO);
	return r < 0 ? r : tx_step(s, ST_RELEASE);
}

/* One item's writes inside an open transaction: a savepoint; see store.h. */
int fw_sqlite_item_begin(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	if (sqlite3_get_autocommit(s->db))
		return fw_store_fail_msg(s, -EINVAL, "no transaction open");
	return tx_step(s, ST_SAVEPOINT_ITEM);
}

/* Keep (release) or undo an item's savepoint; see store.h. */
int fw_sqlite_item_end(struct fw_store *base, bool keep)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int r;

	/* SQLite rolls a transaction back by itself on some errors (a full disk) */
	if (sqlite3_get_autocommit(s->db))
		return keep ? fw_store_fail_msg(s, -EIO, "the transaction was rolled back") : 0;
	if (keep)
		return tx_step(s, ST_RELEASE_ITEM);
	r = tx_step(s, ST_ROLLBACK_TO_ITEM);
	return r < 0 ? r : tx_step(s, ST_RELEASE_ITEM);
}

/* Make every commit so far durable; see store.h. */
int fw_sqlite_sync(struct fw_store *base)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int r;

	if (!s->unsynced || s->read_only || s->normal)
		return 0;
	if (!sqlite3_get_autocommit(s->db))
		return fw_store_fail_msg(s, -EINVAL, "transaction open");
	r = tx_step(s, ST_BEGIN);
	if (r == 0)
		r = tx_step(s, ST_SYNC_MARK);
	if (r == 0)
		r = tx_step(s, ST_COMMIT);
	if (r < 0) {
		char msg[sizeof(s->msg)];

		/* keep the failure's message (e.g. "database or disk is full") */
		memcpy(msg, s->msg, sizeof(msg));
		fw_sqlite_rollback(&s->base);
		memcpy(s->msg, msg, sizeof(msg));
		return r;
	}
	s->unsynced = false;
	return 0;
}

/* Free the strings of st and zero it. */
void fw_feed_state_clear(struct fw_feed_state *st)
{
	if (!st)
		return;
	free(st->url);
	free(st->etag);
	free(st->last_modified);
	free(st->moved_url);
	free(st->last_error);
	memset(st, 0, sizeof(*st));
}

/* Load a feed's state into *st, which is overwritten (not freed first). 0 or -errno; on
   error *st is untouched. */
int fw_sqlite_feed_load(struct fw_store *base, const char *feed, struct fw_feed_state *st)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	struct fw_feed_state t = {0};
	sqlite3_stmt *q;
	int rc, ret = 0;

	q = fw_store_prepare(s, ST_FEED_LOAD, &ret);
	if (!q)
		return ret;
	ret = fw_store_bind_key(s, q, 1, feed);
	if (ret < 0)
		goto out;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		t.exists = true;
		if (!fw_store_col_dup(q, 0, &t.url) || !fw_store_col_dup(q, 1, &t.etag) ||
		    !fw_store_col_dup(q, 2, &t.last_modified) ||
		    !fw_store_col_dup(q, 3, &t.moved_url) ||
		    !fw_store_col_dup(q, 10, &t.last_error)) {
			fw_feed_state_clear(&t);
			ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
			goto out;
		}
		t.last_poll = sqlite3_column_int64(q, 4);
		t.last_success = sqlite3_column_int64(q, 5);
		t.next_poll = sqlite3_column_int64(q, 6);
		t.http_status = (long)sqlite3_column_int64(q, 7);
		t.error_streak = sqlite3_column_int64(q, 8);
		t.first_error = sqlite3_column_int64(q, 9);
		t.items_seen = sqlite3_column_int64(q, 11);
		t.alerts = sqlite3_column_int64(q, 12);
		t.failing_alerted = sqlite3_column_int64(q, 13) != 0;
		t.rate_items = sqlite3_column_double(q, 14);
		t.rate_seconds = sqlite3_column_double(q, 15);
		t.rate_at = sqlite3_column_int64(q, 16);
	} else if (rc != SQLITE_DONE) {
		ret = fw_store_fail(s, rc);
		goto out;
	}
	*st = t;
out:
	fw_store_stmt_done(q);
	return ret;
}

/* Insert or replace a feed's state. Strings over FW_STORE_TEXT_MAX: -E2BIG; last_error is
   cut to FW_STORE_ERROR_MAX. */
int fw_sqlite_feed_save(struct fw_store *base, const char *feed, const struct fw_feed_state *st)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	if (!st)
		return fw_store_fail_msg(s, -EINVAL, "no feed state");
	q = fw_store_prepare(s, ST_FEED_SAVE, &ret);
	if (!q)
		return ret;
	if ((ret = fw_store_bind_key(s, q, 1, feed)) < 0 ||
	    (ret = fw_store_bind_text(s, q, 2, st->url, FW_STORE_TEXT_MAX)) < 0 ||
	    (ret = fw_store_bind_text(s, q, 3, st->etag, FW_STORE_TEXT_MAX)) < 0 ||
	    (ret = fw_store_bind_text(s, q, 4, st->last_modified, FW_STORE_TEXT_MAX)) < 0 ||
	    (ret = fw_store_bind_text(s, q, 5, st->moved_url, FW_STORE_TEXT_MAX)) < 0 ||
	    (ret = fw_store_bind_error(s, q, 12, st->last_error)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 6, st->last_poll);
	sqlite3_bind_int64(q, 7, st->last_success);
	sqlite3_bind_int64(q, 8, st->next_poll);
	sqlite3_bind_int64(q, 9, st->http_status);
	sqlite3_bind_int64(q, 10, st->error_streak);
	sqlite3_bind_int64(q, 11, st->first_error);
	sqlite3_bind_int64(q, 13, st->items_seen);
	sqlite3_bind_int64(q, 14, st->alerts);
	sqlite3_bind_int(q, 15, st->failing_alerted);
	sqlite3_bind_double(q, 16, st->rate_items);
	sqlite3_bind_double(q, 17, st->rate_seconds);
	sqlite3_bind_int64(q, 18, st->rate_at);
	return fw_store_step_done(s, q);
}

/* All feed names, sorted; *names and each string malloc()ed (free each, then the array). */
int fw_sqlite_feed_names(struct fw_store *base, char ***names, size_t *n)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	char **v = NULL, **nv;
	size_t len = 0, cap = 0, i;
	sqlite3_stmt *q;
	int rc, ret = 0;

	q = fw_store_prepare(s, ST_FEED_NAMES, &ret);
	if (!q)
		return ret;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? 2 * cap : 16;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv) {
				ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		if (!fw_store_col_dup(q, 0, &v[len]) || !v[len]) {
			free(v[len]);
			ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
			goto out;
		}
		len++;
	}
	if (rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
out:
	fw_store_stmt_done(q);
	if (ret < 0) {
		for (i = 0; i < len; i++)
			free(v[i]);
		free(v);
		return ret;
	}
	*names = v;
	*n = len;
	return 0;
}

/* Delete a feed's row and its items in one savepoint (inside or outside a transaction). */
int fw_sqlite_feed_forget(struct fw_store *base, const char *feed)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int rc, ret = 0;

	rc = sqlite3_exec(s->db, "SAVEPOINT fw_forget", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fw_store_fail(s, rc);
	q = fw_store_prepare(s, ST_FEED_FORGET_ITEMS, &ret);
	if (q && (ret = fw_store_bind_key(s, q, 1, feed)) == 0)
		ret = fw_store_step_done(s, q);
	else if (q)
		fw_store_stmt_done(q);
	if (ret == 0) {
		q = fw_store_prepare(s, ST_FEED_FORGET, &ret);
		if (q && (ret = fw_store_bind_key(s, q, 1, feed)) == 0)
			ret = fw_store_step_done(s, q);
		else if (q)
			fw_store_stmt_done(q);
	}
	if (ret < 0) {
		sqlite3_exec(s->db, "ROLLBACK TO fw_forget; RELEASE fw_forget", NULL, NULL, NULL);
		return ret;
	}
	rc = sqlite3_exec(s->db, "RELEASE fw_forget", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		ret = fw_store_fail(s, rc);
		sqlite3_exec(s->db, "ROLLBACK TO fw_forget; RELEASE fw_forget", NULL, NULL, NULL);
	}
	return ret;
}

/* Upsert an item; see store.h. last_seen of an unchanged item is refreshed at most every
   FW_STORE_SEEN_SLACK seconds. */
int fw_sqlite_item_mark(struct fw_store *base, const char *feed, const char *id, uint64_t hash,
                        int64_t now)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int64_t h = (int64_t)hash, old_hash = 0, last_seen = 0;
	bool found = false;
	int rc, ret = 0, outcome;

	q = fw_store_prepare(s, ST_ITEM_GET, &ret);
	if (!q)
		return ret;
	if ((ret = fw_store_bind_key(s, q, 1, feed)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 2, id)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		found = true;
		old_hash = sqlite3_column_int64(q, 0);
		last_seen = sqlite3_column_int64(q, 1);
	} else if (rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
	fw_store_stmt_done(q);
	if (ret < 0)
		return ret;

	if (!found)
		outcome = FW_ITEM_NEW;
	else if (old_hash != h)
		outcome = FW_ITEM_CHANGED;
	else if (now - last_seen >= FW_STORE_SEEN_SLACK)
		outcome = FW_ITEM_SAME;
	else
		return FW_ITEM_SAME;

	q = fw_store_prepare(s, found ? ST_ITEM_UPDATE : ST_ITEM_INSERT, &ret);
	if (!q)
		return ret;
	if ((ret = fw_store_bind_key(s, q, 1, feed)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 2, id)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 3, h);
	sqlite3_bind_int64(q, 4, now);
	ret = fw_store_step_done(s, q);
	return ret < 0 ? ret : outcome;
}

/* Does the feed hold another item with this content hash? 1 yes, 0 no, or -errno. */
int fw_sqlite_item_reissued(struct fw_store *base, const char *feed, const char *id, uint64_t hash)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int rc, ret = 0;

	q = fw_store_prepare(s, ST_ITEM_REISSUED, &ret);
	if (!q)
		return ret;
	if ((ret = fw_store_bind_key(s, q, 1, feed)) == 0 &&
	    (ret = fw_store_bind_key(s, q, 3, id)) == 0) {
		sqlite3_bind_int64(q, 2, (int64_t)hash);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW)
			ret = 1;
		else if (rc != SQLITE_DONE)
			ret = fw_store_fail(s, rc);
	}
	fw_store_stmt_done(q);
	return ret;
}

/* Number of items remembered for feed in *n. */
int fw_sqlite_item_count(struct fw_store *base, const char *feed, int64_t *n)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int rc, ret = 0;

	q = fw_store_prepare(s, ST_ITEM_COUNT, &ret);
	if (!q)
		return ret;
	ret = fw_store_bind_key(s, q, 1, feed);
	if (ret == 0) {
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW)
			*n = sqlite3_column_int64(q, 0);
		else
			ret = fw_store_fail(s, rc);
	}
	fw_store_stmt_done(q);
	return ret;
}

/* Remember that host rests until `until` after answering http_status. */
int fw_sqlite_host_rest(struct fw_store *base, const char *host, int64_t until, long http_status)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	q = fw_store_prepare(s, ST_HOST_REST, &ret);
	if (!q)
		return ret;
	if ((ret = fw_store_bind_key(s, q, 1, host)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 2, until);
	sqlite3_bind_int64(q, 3, http_status);
	return fw_store_step_done(s, q);
}

/* Call cb for each host still resting at now, in name order. */
int fw_sqlite_host_rests(struct fw_store *base, int64_t now, fw_store_host_cb cb, void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int rc, ret = 0;

	q = fw_store_prepare(s, ST_HOST_RESTS, &ret);
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, now);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);

		if (name)
			cb(name, sqlite3_column_int64(q, 1), (long)sqlite3_column_int64(q, 2), arg);
	}
	if (rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
	fw_store_stmt_done(q);
	return ret;
}

/* Record an alert once: 1 new, 0 already there, or -errno. */
int fw_sqlite_alert_add(struct fw_store *base, const char *alert_id, const char *watchlist,
                        const char *feed, const char *item_id, int64_t now)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	q = fw_store_prepare(s, ST_ALERT_ADD, &ret);
	if (!q)
		return ret;
	if ((ret = fw_store_bind_key(s, q, 1, alert_id)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 2, watchlist)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 3, feed)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 4, item_id)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 5, now);
	ret = fw_store_step_done(s, q);
	return ret < 0 ? ret : sqlite3_changes(s->db) > 0;
}

#define FW_STORE_ENTRY_sqlite(ret, name, params, args) FW_STORE_ENTRY(sqlite, name)
const struct fw_store_ops fw_sqlite_ops = {.name = "sqlite",
                                           .close = fw_sqlite_close,
                                           .error = fw_sqlite_error,
                                           FW_STORE_OPS(FW_STORE_ENTRY_sqlite)};
