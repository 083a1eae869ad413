/*
 * store_int.h - private to the SQLite store: what store.c and outbox.c share, as libuv's
 * src/uv-common.h is shared by its source files and by nobody else. Include it only from
 * the store's own files; every other room sees the store through store.h, which holds no
 * SQLite type (a second backend implements store.h, not this file).
 *
 * store.c owns the connection and everything around it: open, schema, transactions,
 * feed state, items, hosts, alerts, and the one table of statement SQL (stmt_sql, indexed
 * by enum fw_store_stmt). outbox.c holds the alert outbox, stories.c the stories, archive.c
 * the item archive; they reach SQLite only through the helpers below.
 *
 * Threading: one thread, like the store itself (SQLITE_OPEN_NOMUTEX).
 */
#ifndef FW_STORE_INT_H
#define FW_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "store_backend.h"

/* The cached statements; their SQL is stmt_sql[] in store.c, in this order. */
enum fw_store_stmt {
	ST_BEGIN,
	ST_BEGIN_RO,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SYNC_NORMAL,
	ST_SYNC_FULL,
	ST_SYNC_MARK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_SAVEPOINT_ITEM,
	ST_RELEASE_ITEM,
	ST_ROLLBACK_TO_ITEM,
	ST_FEED_LOAD,
	ST_FEED_SAVE,
	ST_FEED_NAMES,
	ST_FEED_FORGET_ITEMS,
	ST_FEED_FORGET,
	ST_ITEM_GET,
	ST_ITEM_INSERT,
	ST_ITEM_UPDATE,
	ST_ITEM_COUNT,
	ST_ITEM_REISSUED,
	ST_HOST_REST,
	ST_HOST_RESTS,
	ST_ALERT_ADD,
	ST_OUTBOX_ADD,
	ST_OUTBOX_DUE,
	ST_OUTBOX_NEXT,
	ST_OUTBOX_DELIVERED,
	ST_ROUTE_DELIVERED,
	ST_OUTBOX_RETRY,
	ST_OUTBOX_KILL,
	ST_OUTBOX_HOLD,
	ST_OUTBOX_EXPIRE,
	ST_OUTBOX_RELEASE,
	ST_OUTBOX_LIST,
	ST_OUTBOX_REVIVE,
	ST_OUTBOX_DROP,
	ST_OUTBOX_COUNT,
	ST_STORY_ITEM_ADD,
	ST_STORY_NEXT_ID,
	ST_STORY_GET,
	ST_STORY_MATCH,
	ST_STORY_WATCH_GET,
	ST_STORY_WATCH_SET,
	ST_STORY_DUE,
	ST_STORY_PENDING,
	ST_STORY_LOAD,
	ST_ARCHIVE_ADD,
	ST_WEBSUB_SAVE,
	ST_WEBSUB_COUNTS,
	ST_COUNT
};

/* The columns of an outbox row as ST_OUTBOX_DUE and ST_OUTBOX_LIST select them; outbox.c
   reads them by position (0 rowid ... 8 last_error). */
#define FW_STORE_OUTBOX_COLS                                                                       \
	"rowid, alert_id, output, payload, state, attempts, created, next_at, last_error"

struct fw_sqlite {
	struct fw_store base; /* first: a struct fw_store * is one of these */
	sqlite3 *db;
	bool read_only;
	char msg[256];
	bool normal;                 /* fw_store_set_synchronous(false): every commit is lazy */
	bool lazy;                   /* the open transaction was begun by fw_store_begin_lazy */
	bool unsynced;               /* a lazy commit is not known durable yet: fw_store_sync */
	sqlite3_int64 begin_changes; /* rows changed before the open FULL transaction */
	bool in_poll;                /* fw_store_poll_begin opened a savepoint */
	bool corrupt;                /* a statement met SQLITE_CORRUPT: the next open checks */
	sqlite3_int64 story_next;    /* the id the next story item gets (0: not read yet) */
	sqlite3_stmt *st[ST_COUNT];
};

static inline struct fw_sqlite *fw_sqlite_of(struct fw_store *s)
{
	return (struct fw_sqlite *)s;
}

/* The backend's functions (store.c dispatches to them through fw_sqlite_ops). */
#define FW_STORE_DECLARE_sqlite(ret, name, params, args) FW_STORE_DECLARE(sqlite, ret, name, params)
FW_STORE_OPS(FW_STORE_DECLARE_sqlite)
void fw_sqlite_close(struct fw_store *s);
const char *fw_sqlite_error(const struct fw_store *s);

/* Record SQLite's message for the result code rc in s->msg; returns it as a negative
   errno. */
int fw_store_fail(struct fw_sqlite *s, int rc);

/* Record msg in s->msg; returns e. */
int fw_store_fail_msg(struct fw_sqlite *s, int e, const char *msg);

/* The cached statement id, prepared on first use; owned by s (finalized by
   fw_store_close). NULL with *rc set to a negative errno on failure. */
sqlite3_stmt *fw_store_prepare(struct fw_sqlite *s, enum fw_store_stmt id, int *rc);

/* Prepare sql for one use (not cached: commands, daily and hourly prunes); the caller
   finalizes it. NULL with *ret set to a negative errno on failure. */
sqlite3_stmt *fw_store_prepare_once(struct fw_sqlite *s, const char *sql, int *ret);

/* Reset a cached statement and clear its bindings, ready for its next use. */
void fw_store_stmt_done(sqlite3_stmt *st);

/* Bind parameter i to a required key: -EINVAL when v is NULL, -E2BIG past
   FW_STORE_KEY_MAX. v must outlive the step (bound SQLITE_STATIC). 0 or -errno. */
int fw_store_bind_key(struct fw_sqlite *s, sqlite3_stmt *st, int i, const char *v);

/* Bind an optional string of at most max bytes (NULL binds NULL; longer: -E2BIG). */
int fw_store_bind_text(struct fw_sqlite *s, sqlite3_stmt *st, int i, const char *v, size_t max);

/* Bind an error message, cut to FW_STORE_ERROR_MAX bytes on a UTF-8 boundary. */
int fw_store_bind_error(struct fw_sqlite *s, sqlite3_stmt *st, int i, const char *v);

/* Step a statement that returns no row and reset it either way. 0 or -errno. */
int fw_store_step_done(struct fw_sqlite *s, sqlite3_stmt *st);

/* Copy text column col into *out (malloc()ed, caller frees; a NULL column gives NULL).
   false on allocation failure. */
bool fw_store_col_dup(sqlite3_stmt *st, int col, char **out);

#endif
