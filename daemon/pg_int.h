/*
 * pg_int.h - private to the PostgreSQL store: what its files share (pg_store.c owns the
 * connection, the schema, transactions, feeds, items and hosts; pg_outbox.c the alerts,
 * the outbox and the alert rows; pg_stories.c the stories; pg_archive.c the archive and the
 * WebSub subscriptions; pg_cluster.c the nodes and their claims). Include it only from
 * those files.
 *
 * One database, many nodes: every write that two nodes could race on is decided by a key
 * or a row lock in the database (INSERT ... ON CONFLICT, UPDATE ... WHERE, SELECT ... FOR
 * UPDATE SKIP LOCKED), never by a read followed by a write. Times are the daemon's Unix
 * seconds, as everywhere in store.h. One thread per connection; the store never logs.
 */
#ifndef FW_PG_INT_H
#define FW_PG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_backend.h"

struct fw_pg {
	struct fw_store base; /* first: a struct fw_store * is one of these */
	PGconn *conn;
	bool read_only;
	char msg[FW_STORE_ERROR_MAX + 1];
	char node[80];    /* fw_store_set_node: who holds this process's claims */
	int64_t lease;    /* seconds a claim lasts unrenewed */
	int busy_ms;      /* lock_timeout: how long a statement waits for another node's lock */
	int64_t reset_at; /* CLOCK_MONOTONIC seconds of the last reconnection attempt */
	bool in_tx;       /* a transaction is open (fw_store_begin, begin_lazy, or a poll's own) */
	bool lazy;        /* ... begun lazily: its commit does not wait for the WAL flush */
	bool unsynced;    /* a lazy commit is not known durable yet: fw_store_sync */
	bool normal;      /* fw_store_set_synchronous(false): every commit is lazy */
	bool in_poll;     /* fw_store_poll_begin opened a savepoint or a transaction */
	bool poll_own;    /* ... a transaction of its own */
	bool in_item;     /* fw_store_item_begin opened a savepoint */
	int prune_holds;  /* fw_store_prune_lock's holds: the session has the advisory lock */
	bool prune_owed;  /* the last hold's release failed: the session still has the lock */
	struct fw_pg_archived *queued; /* archive rows of the open transaction not sent yet */
	size_t n_queued, queued_cap;
};

static inline struct fw_pg *fw_pg_of(struct fw_store *s)
{
	return (struct fw_pg *)s;
}

/* The backend's functions (store.c dispatches to them through fw_pg_ops). */
#define FW_STORE_DECLARE_pg(ret, name, params, args) FW_STORE_DECLARE(pg, ret, name, params)
FW_STORE_OPS(FW_STORE_DECLARE_pg)
void fw_pg_close(struct fw_store *s);
const char *fw_pg_error(const struct fw_store *s);

/* The tables and indexes of each file, run in order by the first open of a database (see
   pg_store.c's migrate): SQL of several statements, each CREATE ... IF NOT EXISTS. */
extern const char fw_pg_ddl_store[];
extern const char fw_pg_ddl_outbox[];
extern const char fw_pg_ddl_stories[];
extern const char fw_pg_ddl_archive[];
extern const char fw_pg_ddl_cluster[];
/* What brings a database of schema N - 1 to N (after the tables above were created at an
   older version): SQL of several statements, each ... IF NOT EXISTS. */
extern const char fw_pg_migrate_cluster_2[];

/* Hold this node's session lock (pg_cluster.c) unless already held; 0 without a node
   name. 0 or -errno. */
int fw_pg_node_lock(struct fw_pg *p);

/*
 * Archive rows added inside a transaction are queued (pg_archive.c) and sent as one
 * INSERT of many rows: before any statement but one marked beside_archive, when the queue
 * is full, and at the commit; a rollback (to any savepoint: the queue is sent before each
 * savepoint is made) drops them. fw_pg_exec and fw_pg_run do this.
 * fw_pg_archive_send: 0 or -errno (the transaction then fails, as after any failed
 * statement). fw_pg_archive_drop forgets them.
 */
int fw_pg_archive_send(struct fw_pg *p);
void fw_pg_archive_drop(struct fw_pg *p);

/* Record msg in p->msg (cut on a UTF-8 boundary); returns e. */
int fw_pg_fail_msg(struct fw_pg *p, int e, const char *msg);

/*
 * Run sql with n parameters (text, NULL for SQL NULL; lengths and formats may be NULL for
 * text, as PQexecParams takes them); with none, sql may be several statements. Returns the result, which the caller PQclear()s, when
 * the statement succeeded (PGRES_COMMAND_OK or PGRES_TUPLES_OK); otherwise NULL with the
 * server's message in p->msg and *ret set to a negative errno from its SQLSTATE:
 * -EEXIST unique violation, -EBUSY lock not available or serialization failure,
 * -EAGAIN deadlock, -ENOSPC disk full, -ENOMEM out of memory, -ECONNRESET connection
 * lost, -EINVAL a value refused, -EIO anything else.
 */
PGresult *fw_pg_exec(struct fw_pg *p, const char *sql, int n, const char *const *values,
                     const int *lengths, const int *formats, int *ret);

/* fw_pg_exec for a statement whose rows are not wanted: 0 or -errno; *changed (may be
   NULL) gets the number of rows it changed. */
int fw_pg_cmd(struct fw_pg *p, const char *sql, int n, const char *const *values, int64_t *changed);

/*
 * A statement of the hot path (run for every item or every poll), prepared once per
 * connection under its name (pg_store.c: at open, and again after a reconnect, which
 * starts a new session without them) and run with fw_pg_run: the server then neither
 * parses nor plans it at each run. Each file lists its own in fw_pg_stmts_<part>
 * (NULL-terminated), as it lists its tables in fw_pg_ddl_<part>.
 */
struct fw_pg_stmt {
	const char *name; /* "fw_<what>": unique among every file's */
	const char *sql;
	int n;               /* parameters */
	bool beside_archive; /* reads and writes no archive row: may run before the archive
	                        rows queued in the transaction are sent (fw_pg_archive_send) */
};
extern const struct fw_pg_stmt *const fw_pg_stmts_store[];
extern const struct fw_pg_stmt *const fw_pg_stmts_outbox[];
extern const struct fw_pg_stmt *const fw_pg_stmts_stories[];
extern const struct fw_pg_stmt *const fw_pg_stmts_archive[];
extern const struct fw_pg_stmt *const fw_pg_stmts_cluster[];

/* fw_pg_exec (never several statements) and fw_pg_cmd for a statement of the
   fw_pg_stmts_* lists: the same results, errors and ownership. */
PGresult *fw_pg_run(struct fw_pg *p, const struct fw_pg_stmt *st, const char *const *values,
                    const int *lengths, const int *formats, int *ret);
int fw_pg_run_cmd(struct fw_pg *p, const struct fw_pg_stmt *st, const char *const *values,
                  int64_t *changed);

/* A signed 64-bit integer as text into buf (at least 24 bytes); returns buf. */
const char *fw_pg_i64(char *buf, int64_t v);

/* The value at (row, col) of r as an integer (0 when NULL), as a string (NULL when NULL;
   valid while r is), and as a malloc()ed copy (*out NULL when NULL; false when out of
   memory). */
int64_t fw_pg_get_i64(const PGresult *r, int row, int col);
const char *fw_pg_get_str(const PGresult *r, int row, int col);
bool fw_pg_get_dup(const PGresult *r, int row, int col, char **out);

/* Is v (n bytes) valid UTF-8? PostgreSQL's text refuses anything else, and with the
   statement the whole transaction. */
bool fw_pg_utf8(const char *v, size_t n);

/* A key (feed name, item or alert id, output, watchlist, token) as store.h takes them:
   -EINVAL when NULL, -E2BIG past FW_STORE_KEY_MAX (as SQLite binds one), -EILSEQ when not
   UTF-8 (SQLite keeps such bytes; refused here, before a statement could abort the
   transaction). 0 when fine. */
int fw_pg_check_key(struct fw_pg *p, const char *v);

/* -E2BIG with a message unless v is NULL or at most max bytes. */
int fw_pg_check_len(struct fw_pg *p, const char *v, size_t max, const char *what);

#endif
