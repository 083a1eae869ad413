/*
 * pg_store.c - the PostgreSQL backend of store.h, for many nodes sharing one database:
 * the connection (open, schema, migrations), the helpers the pg_*.c files share
 * (pg_int.h), and the ops table. libpq from Debian (PostgreSQL 15).
 *
 * The schema is created by the first node that opens an empty database, under an advisory
 * lock, so that nodes starting together do not race; each pg_*.c file owns the DDL of its
 * tables (fw_pg_ddl_*). meta.schema holds the version; an older one is brought up to date
 * by the steps of migrate(), a newer one is refused (-EPROTO).
 */
#include "pg_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"

/* A dropped connection is opened again at most this often (seconds). */
#define FW_PG_RECONNECT_S 5
/* The schema version this code writes (meta k = 'schema'); 2: claims name their host. */
#define FW_PG_SCHEMA 2
/* The advisory lock key migrations hold: "FWDB". */
#define FW_PG_MIGRATE_LOCK "1180124226"
/* The advisory lock key a node's prunes hold, for its session: "FWPR". */
#define FW_PG_PRUNE_LOCK "1180127314"
/* last_seen of an unchanged item is rewritten at most this often (seconds), as in
   store_sqlite.c: retention counts days, and most polls then write nothing. */
#define FW_PG_SEEN_SLACK "3600"

/* Cut msg into dst (size n) on a UTF-8 boundary. */
static void copy_msg(char *dst, size_t n, const char *msg)
{
	size_t len = strlen(msg);

	if (len >= n) {
		len = n - 1;
		while (len > 0 && ((unsigned char)msg[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(dst, msg, len);
	dst[len] = '\0';
	while (len > 0 && (dst[len - 1] == '\n' || dst[len - 1] == ' '))
		dst[--len] = '\0';
}

int fw_pg_fail_msg(struct fw_pg *p, int e, const char *msg)
{
	copy_msg(p->msg, sizeof(p->msg), msg);
	return e;
}

/* The negative errno for a failed result's SQLSTATE (pg_int.h names them). */
static int errno_of(const PGconn *conn, const PGresult *r)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(conn) != CONNECTION_OK)
		return -ECONNRESET;
	if (!st)
		return r ? -EIO : -ENOMEM;
	if (strcmp(st, "23505") == 0)
		return -EEXIST;
	if (strcmp(st, "55P03") == 0 || strcmp(st, "40001") == 0)
		return -EBUSY;
	if (strcmp(st, "40P01") == 0)
		return -EAGAIN;
	if (strcmp(st, "53100") == 0)
		return -ENOSPC;
	if (strcmp(st, "53200") == 0)
		return -ENOMEM;
	if (strncmp(st, "08", 2) == 0)
		return -ECONNRESET;
	if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
		return -EINVAL;
	return -EIO;
}

static int session(struct fw_pg *p);

/*
 * A connection the server dropped (a restart, a failover, a network cut) is opened again
 * before the next statement outside a transaction: at most once every
 * FW_PG_RECONNECT_S seconds, so a server that stays away costs one failed attempt now and
 * then, not one per statement. A transaction open when the connection went is lost with it:
 * its statements fail until the caller rolls back, as after any failed statement. The
 * statement that found the connection gone is not run again (it may have run).
 */
static bool reconnected(struct fw_pg *p)
{
	struct timespec ts;

	if (PQstatus(p->conn) == CONNECTION_OK)
		return true;
	if (p->in_tx)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (p->reset_at && ts.tv_sec - p->reset_at < FW_PG_RECONNECT_S)
		return false;
	p->reset_at = ts.tv_sec;
	/* the session's advisory locks went with it */
	p->prune_holds = 0;
	p->prune_owed = false;
	PQreset(p->conn);
	return PQstatus(p->conn) == CONNECTION_OK && session(p) == 0;
}

/* The statement's result when it succeeded (PGRES_COMMAND_OK or PGRES_TUPLES_OK); else
   NULL, with the message in p->msg and the errno in *ret, r cleared. */
static PGresult *answer(struct fw_pg *p, PGresult *r, int *ret)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	/* success leaves p->msg alone: as in SQLite, fw_store_error names the last failure
	   after the rollback that followed it */
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	*ret = errno_of(p->conn, r);
	copy_msg(p->msg, sizeof(p->msg),
	         r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
	PQclear(r);
	return NULL;
}

/* A command's result to fw_pg_cmd's answer: 0 or -errno, the rows it changed. */
static int command(PGresult *r, int ret, int64_t *changed)
{
	if (!r)
		return ret;
	if (changed)
		*changed = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

/* reconnected(), or -ECONNRESET in *ret with libpq's message. */
static bool ready(struct fw_pg *p, int *ret)
{
	if (reconnected(p))
		return true;
	*ret = -ECONNRESET;
	copy_msg(p->msg, sizeof(p->msg), PQerrorMessage(p->conn));
	return false;
}

PGresult *fw_pg_exec(struct fw_pg *p, const char *sql, int n, const char *const *values,
                     const int *lengths, const int *formats, int *ret)
{
	/* the queued archive rows go first, unless this undoes them (pg_int.h) */
	if (p->n_queued > 0 && strncmp(sql, "ROLLBACK", 8) == 0)
		fw_pg_archive_drop(p);
	else if (p->n_queued > 0 && (*ret = fw_pg_archive_send(p)) < 0)
		return NULL;
	if (!ready(p, ret))
		return NULL;
	/* without parameters, PQexec: it takes several statements (the last one's result) */
	return answer(p,
	              n == 0 ? PQexec(p->conn, sql)
	                     : PQexecParams(p->conn, sql, n, NULL, values, lengths, formats, 0),
	              ret);
}

int fw_pg_cmd(struct fw_pg *p, const char *sql, int n, const char *const *values, int64_t *changed)
{
	int ret = 0;
	PGresult *r = fw_pg_exec(p, sql, n, values, NULL, NULL, &ret);

	return command(r, ret, changed);
}

PGresult *fw_pg_run(struct fw_pg *p, const struct fw_pg_stmt *st, const char *const *values,
                    const int *lengths, const int *formats, int *ret)
{
	if (p->n_queued > 0 && !st->beside_archive && (*ret = fw_pg_archive_send(p)) < 0)
		return NULL;
	/* a new session has none of the statements: reconnected() prepares them again */
	if (!ready(p, ret))
		return NULL;
	return answer(p, PQexecPrepared(p->conn, st->name, st->n, values, lengths, formats, 0),
	              ret);
}

int fw_pg_run_cmd(struct fw_pg *p, const struct fw_pg_stmt *st, const char *const *values,
                  int64_t *changed)
{
	int ret = 0;
	PGresult *r = fw_pg_run(p, st, values, NULL, NULL, &ret);

	return command(r, ret, changed);
}

const char *fw_pg_i64(char *buf, int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

int64_t fw_pg_get_i64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *fw_pg_get_str(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

bool fw_pg_get_dup(const PGresult *r, int row, int col, char **out)
{
	const char *v = fw_pg_get_str(r, row, col);

	*out = v ? strdup(v) : NULL;
	return !v || *out;
}

int fw_pg_check_len(struct fw_pg *p, const char *v, size_t max, const char *what)
{
	char m[128];

	if (!v || strlen(v) <= max)
		return 0;
	snprintf(m, sizeof(m), "%s longer than %zu bytes", what, max);
	return fw_pg_fail_msg(p, -E2BIG, m);
}

/* The URL without its password, for messages: user:secret@ becomes user@. */
static void redact(const char *url, char *out, size_t n)
{
	const char *at = strchr(url, '@'), *scheme = strstr(url, "://");
	const char *colon;

	if (!at || !scheme || at < scheme) {
		copy_msg(out, n, url);
		return;
	}
	colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
	if (!colon) {
		copy_msg(out, n, url);
		return;
	}
	snprintf(out, n, "%.*s%s", (int)(colon - url), url, at);
}

/* Create the schema, or check its version, under the migration lock. */
static int migrate(struct fw_pg *p, bool read_only, const char *where, char *err, size_t errlen)
{
	static const char *const ddl[] = {fw_pg_ddl_store, fw_pg_ddl_outbox, fw_pg_ddl_stories,
	                                  fw_pg_ddl_archive, fw_pg_ddl_cluster};
	/* step[n]: from schema n to n + 1 */
	static const char *const step[FW_PG_SCHEMA] = {[1] = fw_pg_migrate_cluster_2};
	char num[24];
	const char *v[1] = {fw_pg_i64(num, FW_PG_SCHEMA)};
	PGresult *r;
	int64_t version = 0;
	int ret = 0;
	size_t i;

	if (read_only) {
		r = fw_pg_exec(p, "SELECT v FROM meta WHERE k = 'schema'", 0, NULL, NULL, NULL,
		               &ret);
		if (r && PQntuples(r) == 1)
			version = fw_pg_get_i64(r, 0, 0);
		PQclear(r);
		if (version >= 1 && version < FW_PG_SCHEMA) {
			snprintf(err, errlen,
			         "%s: schema %" PRId64
			         " is older than this feedwatch's (%d): the daemon "
			         "brings it up to date when it starts",
			         where, version, FW_PG_SCHEMA);
			return -EPROTO;
		}
		if (version != FW_PG_SCHEMA) {
			snprintf(err, errlen,
			         "%s: not a feedwatch database of schema %d (found %" PRId64 ")",
			         where, FW_PG_SCHEMA, version);
			return -EPROTO;
		}
		return 0;
	}
	if ((ret = fw_pg_cmd(p, "BEGIN", 0, NULL, NULL)) < 0 ||
	    (ret = fw_pg_cmd(p, "SELECT pg_advisory_xact_lock(" FW_PG_MIGRATE_LOCK ")", 0, NULL,
	                     NULL)) < 0 ||
	    (ret = fw_pg_cmd(p,
	                     "CREATE TABLE IF NOT EXISTS meta (k text PRIMARY KEY, v bigint NOT "
	                     "NULL)",
	                     0, NULL, NULL)) < 0)
		goto fail;
	r = fw_pg_exec(p, "SELECT v FROM meta WHERE k = 'schema'", 0, NULL, NULL, NULL, &ret);
	if (!r)
		goto fail;
	if (PQntuples(r) == 1)
		version = fw_pg_get_i64(r, 0, 0);
	PQclear(r);
	if (version > FW_PG_SCHEMA) {
		fw_pg_cmd(p, "ROLLBACK", 0, NULL, NULL);
		snprintf(err, errlen,
		         "%s: schema %" PRId64 " is newer than this feedwatch knows (%d)", where,
		         version, FW_PG_SCHEMA);
		return -EPROTO;
	}
	for (i = 0; version == 0 && i < sizeof(ddl) / sizeof(ddl[0]); i++)
		if (ddl[i][0] && (ret = fw_pg_cmd(p, ddl[i], 0, NULL, NULL)) < 0)
			goto fail;
	if (version == 0 &&
	    (ret = fw_pg_cmd(p, "INSERT INTO meta (k, v) VALUES ('schema', $1)", 1, v, NULL)) < 0)
		goto fail;
	for (i = version > 0 ? (size_t)version : FW_PG_SCHEMA; i < FW_PG_SCHEMA; i++)
		if ((ret = fw_pg_cmd(p, step[i], 0, NULL, NULL)) < 0)
			goto fail;
	if (version > 0 && version < FW_PG_SCHEMA &&
	    (ret = fw_pg_cmd(p, "UPDATE meta SET v = $1 WHERE k = 'schema'", 1, v, NULL)) < 0)
		goto fail;
	if ((ret = fw_pg_cmd(p, "COMMIT", 0, NULL, NULL)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: creating the schema: %s", where, p->msg);
	fw_pg_cmd(p, "ROLLBACK", 0, NULL, NULL);
	return ret;
}

/* Prepare every file's statements (pg_int.h); 0 or -errno. */
static int prepare(struct fw_pg *p)
{
	static const struct fw_pg_stmt *const *const lists[] = {
	    fw_pg_stmts_store, fw_pg_stmts_outbox, fw_pg_stmts_stories, fw_pg_stmts_archive,
	    fw_pg_stmts_cluster};
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < sizeof(lists) / sizeof(lists[0]); i++)
		for (const struct fw_pg_stmt *const *st = lists[i]; ret == 0 && *st; st++)
			PQclear(answer(
			    p, PQprepare(p->conn, (*st)->name, (*st)->sql, (*st)->n, NULL), &ret));
	return ret;
}

/* The connection's settings: the busy timeout is how long a statement waits for another
   node's row lock; the node's lock (pg_cluster.c). Then the prepared statements. 0 or
   -errno. */
static int session(struct fw_pg *p)
{
	char lock[24];
	const char *v[1] = {fw_pg_i64(lock, p->busy_ms)};
	int ret = fw_pg_cmd(p,
	                    "SELECT set_config('lock_timeout', $1, false), "
	                    "set_config('client_min_messages', 'warning', false), "
	                    "set_config('TimeZone', 'UTC', false)",
	                    1, v, NULL);

	if (ret == 0)
		ret = fw_pg_node_lock(p);
	return ret < 0 ? ret : prepare(p);
}

int fw_pg_open(const char *url, bool read_only, int busy_ms, struct fw_store **out, char *err,
               size_t errlen)
{
	/* a server that does not answer is given up after 10 s unless the URL says otherwise
	   (its connect_timeout comes later in the list, and wins) */
	static const char *const keys[] = {"connect_timeout", "dbname", NULL};
	const char *values[] = {"10", url, NULL};
	char where[512];
	struct fw_pg *p;
	int ret;

	if (errlen > 0)
		err[0] = '\0';
	redact(url, where, sizeof(where));
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "%s: out of memory", where);
		return -ENOMEM;
	}
	p->base.ops = &fw_pg_ops;
	p->read_only = read_only;
	p->lease = 60;
	p->busy_ms = busy_ms;
	p->conn = PQconnectdbParams(keys, values, 1);
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
		copy_msg(p->msg, sizeof(p->msg),
		         p->conn ? PQerrorMessage(p->conn) : "cannot allocate a connection");
		snprintf(err, errlen, "%s: cannot connect: %s", where, p->msg);
		PQfinish(p->conn);
		free(p);
		return -ECONNREFUSED;
	}
	/* the schema first: session() prepares statements on its tables */
	ret = fw_pg_cmd(p, "SELECT set_config('client_min_messages', 'warning', false)", 0, NULL,
	                NULL);
	if (ret == 0)
		ret = migrate(p, read_only, where, err, errlen);
	if (ret == 0)
		ret = session(p);
	if (ret < 0 && !err[0])
		snprintf(err, errlen, "%s: %s", where, p->msg);
	if (ret < 0) {
		PQfinish(p->conn);
		free(p);
		return ret;
	}
	*out = &p->base;
	return 0;
}

void fw_pg_close(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);

	if (p->in_tx)
		fw_pg_cmd(p, "ROLLBACK", 0, NULL, NULL);
	fw_pg_archive_drop(p);
	free(p->queued);
	PQfinish(p->conn);
	free(p);
}

const char *fw_pg_error(const struct fw_store *s)
{
	const struct fw_pg *p = (const struct fw_pg *)s;

	return p->msg[0] ? p->msg : PQerrorMessage(p->conn);
}

int fw_pg_set_node(struct fw_store *s, const char *node, int64_t lease)
{
	struct fw_pg *p = fw_pg_of(s);

	if (!node || !*node || strlen(node) >= sizeof(p->node) || lease < 1)
		return fw_pg_fail_msg(p, -EINVAL, "a node name of 1-79 bytes and a lease > 0");
	memcpy(p->node, node, strlen(node) + 1);
	p->lease = lease;
	return fw_pg_node_lock(p);
}

/* ------------------------------------------------------------------ transactions */

/*
 * PostgreSQL aborts a whole transaction at its first failed statement, where SQLite fails
 * the statement alone: every backend function therefore checks what it can before it
 * writes (sizes, states) and decides races with ON CONFLICT and WHERE clauses, so that a
 * refusal is an answer, not an error. What still fails (a lost connection, a full disk)
 * leaves the transaction to be rolled back, as with SQLite.
 */

int fw_pg_set_synchronous(struct fw_store *s, bool full)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	if (p->in_tx)
		return fw_pg_fail_msg(p, -EINVAL, "synchronous cannot change inside a transaction");
	ret = fw_pg_cmd(p, full ? "SET synchronous_commit = on" : "SET synchronous_commit = off", 0,
	                NULL, NULL);
	if (ret == 0)
		p->normal = !full;
	return ret;
}

/* BEGIN, lazily (the commit does not wait for the WAL flush) or not. */
static int tx_begin(struct fw_pg *p, bool lazy)
{
	int ret;

	if (p->in_tx)
		return fw_pg_fail_msg(p, -EINVAL, "a transaction is already open");
	ret = fw_pg_cmd(p, lazy ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN", 0, NULL,
	                NULL);
	if (ret < 0) {
		fw_pg_cmd(p, "ROLLBACK", 0, NULL, NULL);
		return ret;
	}
	p->in_tx = true;
	p->lazy = lazy;
	return 0;
}

int fw_pg_begin(struct fw_store *s)
{
	return tx_begin(fw_pg_of(s), false);
}

int fw_pg_begin_lazy(struct fw_store *s)
{
	return tx_begin(fw_pg_of(s), true);
}

int fw_pg_commit(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	PGresult *r;
	int ret = 0;

	if (!p->in_tx)
		return fw_pg_fail_msg(p, -EINVAL, "no transaction to commit");
	r = fw_pg_exec(p, "COMMIT", 0, NULL, NULL, NULL, &ret);
	/* COMMIT of a transaction a failed statement aborted answers ROLLBACK, not an error */
	if (r && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		ret = fw_pg_fail_msg(p, -EIO,
		                     "the transaction was rolled back by a failed statement");
	PQclear(r);
	if (ret < 0 && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		return ret; /* still open: the caller rolls back */
	p->in_tx = p->in_poll = p->in_item = false;
	if (ret == 0 && p->lazy)
		p->unsynced = true;
	return ret;
}

int fw_pg_rollback(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	if (!p->in_tx && PQtransactionStatus(p->conn) == PQTRANS_IDLE)
		return 0;
	ret = fw_pg_cmd(p, "ROLLBACK", 0, NULL, NULL);
	p->in_tx = p->in_poll = p->in_item = false;
	return ret;
}

int fw_pg_sync(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	if (!p->unsynced || p->normal || p->read_only)
		return 0;
	if (p->in_tx)
		return fw_pg_fail_msg(p, -EINVAL, "sync inside a transaction");
	/* a transaction with an id commits with a WAL record, and a synchronous commit waits
	   for the flush of the WAL up to it: every lazy commit before it is durable too */
	ret =
	    fw_pg_cmd(p, "BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT",
	              0, NULL, NULL);
	if (ret == 0)
		p->unsynced = false;
	else
		fw_pg_cmd(p, "ROLLBACK", 0, NULL, NULL);
	return ret;
}

int fw_pg_poll_begin(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	p->poll_own = !p->in_tx;
	ret = p->poll_own ? tx_begin(p, true) : fw_pg_cmd(p, "SAVEPOINT fw_poll", 0, NULL, NULL);
	p->in_poll = ret == 0;
	return ret;
}

int fw_pg_poll_commit(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	if (!p->in_poll)
		return fw_pg_fail_msg(p, -EINVAL, "no poll to commit");
	if (p->poll_own)
		return fw_pg_commit(s);
	ret = fw_pg_cmd(p, "RELEASE SAVEPOINT fw_poll", 0, NULL, NULL);
	if (ret == 0)
		p->in_poll = p->in_item = false;
	return ret;
}

int fw_pg_poll_rollback(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	if (!p->in_poll)
		return 0;
	if (p->poll_own)
		return fw_pg_rollback(s);
	ret =
	    fw_pg_cmd(p, "ROLLBACK TO SAVEPOINT fw_poll; RELEASE SAVEPOINT fw_poll", 0, NULL, NULL);
	p->in_poll = p->in_item = false;
	return ret;
}

int fw_pg_item_begin(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	if (!p->in_tx)
		return fw_pg_fail_msg(p, -EINVAL, "an item's savepoint needs a transaction");
	ret = fw_pg_cmd(p, "SAVEPOINT fw_item", 0, NULL, NULL);
	p->in_item = ret == 0;
	return ret;
}

int fw_pg_item_end(struct fw_store *s, bool keep)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	if (!p->in_item)
		return fw_pg_fail_msg(p, -EINVAL, "no item savepoint to end");
	ret = fw_pg_cmd(p,
	                keep ? "RELEASE SAVEPOINT fw_item"
	                     : "ROLLBACK TO SAVEPOINT fw_item; RELEASE SAVEPOINT fw_item",
	                0, NULL, NULL);
	p->in_item = false;
	return ret;
}

/* ------------------------------------------------------------------ feeds, items, hosts */

/*
 * The tables of this file: the state of each feed, the items seen per feed, the hosts
 * resting after a 429 or 503 (store_sqlite.c's schema, bigint times). Keys collate "C", so
 * that names sort bytewise as in SQLite and the prune's cursor (feed > $1) walks the
 * primary key in the order it is stored. No index on items.last_seen, which every poll
 * would have to update: the prune reads each feed's items through the primary key.
 */
const char fw_pg_ddl_store[] =
    "CREATE TABLE IF NOT EXISTS feeds ("
    " name text COLLATE \"C\" PRIMARY KEY, url text, etag text, last_modified text,"
    " moved_url text, last_poll bigint NOT NULL DEFAULT 0,"
    " last_success bigint NOT NULL DEFAULT 0, next_poll bigint NOT NULL DEFAULT 0,"
    " http_status bigint NOT NULL DEFAULT 0, error_streak bigint NOT NULL DEFAULT 0,"
    " first_error bigint NOT NULL DEFAULT 0, last_error text,"
    " items_seen bigint NOT NULL DEFAULT 0, alerts bigint NOT NULL DEFAULT 0,"
    " failing_alerted boolean NOT NULL DEFAULT false,"
    " rate_items double precision NOT NULL DEFAULT 0,"
    " rate_seconds double precision NOT NULL DEFAULT 0, rate_at bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS items ("
    " feed text COLLATE \"C\" NOT NULL, id text COLLATE \"C\" NOT NULL, hash bigint NOT NULL,"
    " first_seen bigint NOT NULL, last_seen bigint NOT NULL, PRIMARY KEY (feed, id));"
    "CREATE TABLE IF NOT EXISTS hosts (name text COLLATE \"C\" PRIMARY KEY,"
    " rest_until bigint NOT NULL, http_status bigint NOT NULL);";

/* Is v (n bytes) valid UTF-8, as PostgreSQL's text takes it? */
bool fw_pg_utf8(const char *v, size_t n)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i = 0, k;

	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = fw_text_utf8_len(u + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

/* A key (feed name, item id, host): -EINVAL when NULL, -E2BIG over FW_STORE_KEY_MAX (as
   SQLite's bind_key), -EILSEQ when not UTF-8 (which SQLite keeps and PostgreSQL refuses:
   refused here, before the statement could abort the transaction). */
int fw_pg_check_key(struct fw_pg *p, const char *v)
{
	size_t n;

	if (!v)
		return fw_pg_fail_msg(p, -EINVAL, "missing key");
	n = strnlen(v, FW_STORE_KEY_MAX + 1);
	if (n > FW_STORE_KEY_MAX)
		return fw_pg_fail_msg(p, -E2BIG, "key longer than FW_STORE_KEY_MAX");
	if (!fw_pg_utf8(v, n))
		return fw_pg_fail_msg(p, -EILSEQ, "key not valid UTF-8");
	return 0;
}

/* A feed-state string for PostgreSQL: v itself when valid UTF-8 (at most max bytes, cut
   on a character boundary when cut), else a malloc()ed copy in *own with each invalid
   byte replaced by U+FFFD (an ETag or an error message from a careless server: SQLite
   keeps the bytes, PostgreSQL's text cannot). NULL stays NULL; NULL with -ENOMEM in *ret
   when out of memory. */
static const char *text_of(struct fw_pg *p, const char *v, size_t max, char **own, int *ret)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t n, i = 0, k, o = 0;
	char *out;

	if (!v)
		return NULL;
	n = strnlen(v, max + 1);
	if (n > max) {
		n = max;
		while (n > 0 && (u[n] & 0xC0) == 0x80)
			n--;
	}
	if (n == strlen(v) && fw_pg_utf8(v, n))
		return v;
	if (!(out = *own = malloc(3 * n + 1))) {
		*ret = fw_pg_fail_msg(p, -ENOMEM, "out of memory");
		return NULL;
	}
	while (i < n) {
		k = u[i] < 0x80 ? 1 : fw_text_utf8_len(u + i, n - i);
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, v + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

#define FEED_COLS                                                                                  \
	"url, etag, last_modified, moved_url, last_poll, last_success, next_poll, http_status, "   \
	"error_streak, first_error, last_error, items_seen, alerts, failing_alerted, "             \
	"rate_items, rate_seconds, rate_at"

/* fw_pg_feed_load's: every poll reads its feed's state (twice: when it starts, and when it
   is stored). */
static const struct fw_pg_stmt feed_load_stmt = {
    "fw_feed_load", "SELECT " FEED_COLS " FROM feeds WHERE name = $1", 1, true};

/* Load a feed's state into *st, which is overwritten (not freed first). 0 or -errno; on
   error *st is untouched. */
int fw_pg_feed_load(struct fw_store *s, const char *feed, struct fw_feed_state *st)
{
	struct fw_pg *p = fw_pg_of(s);
	struct fw_feed_state t = {0};
	const char *v[1] = {feed};
	PGresult *r;
	int ret = fw_pg_check_key(p, feed);

	if (ret < 0)
		return ret;
	r = fw_pg_run(p, &feed_load_stmt, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	if (PQntuples(r) == 1) {
		t.exists = true;
		if (!fw_pg_get_dup(r, 0, 0, &t.url) || !fw_pg_get_dup(r, 0, 1, &t.etag) ||
		    !fw_pg_get_dup(r, 0, 2, &t.last_modified) ||
		    !fw_pg_get_dup(r, 0, 3, &t.moved_url) ||
		    !fw_pg_get_dup(r, 0, 10, &t.last_error)) {
			fw_feed_state_clear(&t);
			PQclear(r);
			return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
		}
		t.last_poll = fw_pg_get_i64(r, 0, 4);
		t.last_success = fw_pg_get_i64(r, 0, 5);
		t.next_poll = fw_pg_get_i64(r, 0, 6);
		t.http_status = (long)fw_pg_get_i64(r, 0, 7);
		t.error_streak = fw_pg_get_i64(r, 0, 8);
		t.first_error = fw_pg_get_i64(r, 0, 9);
		t.items_seen = fw_pg_get_i64(r, 0, 11);
		t.alerts = fw_pg_get_i64(r, 0, 12);
		t.failing_alerted = strcmp(PQgetvalue(r, 0, 13), "t") == 0;
		t.rate_items = strtod(PQgetvalue(r, 0, 14), NULL);
		t.rate_seconds = strtod(PQgetvalue(r, 0, 15), NULL);
		t.rate_at = fw_pg_get_i64(r, 0, 16);
	}
	PQclear(r);
	*st = t;
	return 0;
}

/* Check a feed state's strings against the caps (as SQLite does, before anything is
   written): -E2BIG over FW_STORE_TEXT_MAX; the error message is cut, not refused. */
static int feed_check(struct fw_pg *p, const char *feed, const struct fw_feed_state *st)
{
	int ret;

	if (!st)
		return fw_pg_fail_msg(p, -EINVAL, "no feed state");
	if ((ret = fw_pg_check_key(p, feed)) < 0 ||
	    (ret = fw_pg_check_len(p, st->url, FW_STORE_TEXT_MAX, "url")) < 0 ||
	    (ret = fw_pg_check_len(p, st->etag, FW_STORE_TEXT_MAX, "etag")) < 0 ||
	    (ret = fw_pg_check_len(p, st->last_modified, FW_STORE_TEXT_MAX, "last_modified")) < 0 ||
	    (ret = fw_pg_check_len(p, st->moved_url, FW_STORE_TEXT_MAX, "moved_url")) < 0)
		return ret;
	return 0;
}

/* fw_pg_feed_save's: every poll writes its feed's state. */
static const struct fw_pg_stmt feed_save_stmt = {
    "fw_feed_save",
    "INSERT INTO feeds (name, " FEED_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
    "$11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (name) DO UPDATE "
    "SET url = excluded.url, etag = excluded.etag, "
    "last_modified = excluded.last_modified, moved_url = excluded.moved_url, "
    "last_poll = excluded.last_poll, last_success = excluded.last_success, "
    "next_poll = excluded.next_poll, http_status = excluded.http_status, "
    "error_streak = excluded.error_streak, first_error = excluded.first_error, "
    "last_error = excluded.last_error, items_seen = excluded.items_seen, "
    "alerts = excluded.alerts, failing_alerted = excluded.failing_alerted, "
    "rate_items = excluded.rate_items, rate_seconds = excluded.rate_seconds, "
    "rate_at = excluded.rate_at",
    18, true};

/* Insert or replace a feed's state (one upsert: two nodes saving at once both succeed,
   the later wins, as INSERT OR REPLACE does). Strings over FW_STORE_TEXT_MAX: -E2BIG;
   last_error is cut to FW_STORE_ERROR_MAX. */
int fw_pg_feed_save(struct fw_store *s, const char *feed, const struct fw_feed_state *st)
{
	struct fw_pg *p = fw_pg_of(s);
	char num[9][24], rate[2][32], *own[5] = {NULL};
	const char *v[18];
	int ret = feed_check(p, feed, st), i;

	if (ret < 0)
		return ret;
	v[0] = feed;
	v[1] = text_of(p, st->url, FW_STORE_TEXT_MAX, &own[0], &ret);
	v[2] = text_of(p, st->etag, FW_STORE_TEXT_MAX, &own[1], &ret);
	v[3] = text_of(p, st->last_modified, FW_STORE_TEXT_MAX, &own[2], &ret);
	v[4] = text_of(p, st->moved_url, FW_STORE_TEXT_MAX, &own[3], &ret);
	v[11] = text_of(p, st->last_error, FW_STORE_ERROR_MAX, &own[4], &ret);
	v[5] = fw_pg_i64(num[0], st->last_poll);
	v[6] = fw_pg_i64(num[1], st->last_success);
	v[7] = fw_pg_i64(num[2], st->next_poll);
	v[8] = fw_pg_i64(num[3], st->http_status);
	v[9] = fw_pg_i64(num[4], st->error_streak);
	v[10] = fw_pg_i64(num[5], st->first_error);
	v[12] = fw_pg_i64(num[6], st->items_seen);
	v[13] = fw_pg_i64(num[7], st->alerts);
	v[14] = st->failing_alerted ? "true" : "false";
	/* 17 significant digits: the double comes back bit for bit */
	snprintf(rate[0], sizeof(rate[0]), "%.17g", st->rate_items);
	snprintf(rate[1], sizeof(rate[1]), "%.17g", st->rate_seconds);
	v[15] = rate[0];
	v[16] = rate[1];
	v[17] = fw_pg_i64(num[8], st->rate_at);
	if (ret == 0)
		ret = fw_pg_run_cmd(p, &feed_save_stmt, v, NULL);
	for (i = 0; i < 5; i++)
		free(own[i]);
	return ret;
}

/* All feed names, sorted bytewise; *names and each string malloc()ed. */
int fw_pg_feed_names(struct fw_store *s, char ***names, size_t *n)
{
	struct fw_pg *p = fw_pg_of(s);
	char **v;
	int ret = 0, rows, i;
	PGresult *r =
	    fw_pg_exec(p, "SELECT name FROM feeds ORDER BY name", 0, NULL, NULL, NULL, &ret);

	if (!r)
		return ret;
	rows = PQntuples(r);
	v = calloc((size_t)rows + 1, sizeof(*v));
	for (i = 0; v && i < rows; i++)
		if (!fw_pg_get_dup(r, i, 0, &v[i]) || !v[i])
			break;
	PQclear(r);
	if (!v || i < rows) {
		while (v && i-- > 0)
			free(v[i]);
		free(v);
		return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	}
	*names = v;
	*n = (size_t)rows;
	return 0;
}

/* Delete a feed's row and its items: one statement, so all or nothing inside or outside
   a transaction. */
int fw_pg_feed_forget(struct fw_store *s, const char *feed)
{
	struct fw_pg *p = fw_pg_of(s);
	const char *v[1] = {feed};
	int ret = fw_pg_check_key(p, feed);

	if (ret < 0)
		return ret;
	return fw_pg_cmd(p,
	                 "WITH gone AS (DELETE FROM items WHERE feed = $1) "
	                 "DELETE FROM feeds WHERE name = $1",
	                 1, v, NULL);
}

/*
 * fw_pg_item_mark's statement: it runs for every item of every poll, and planning it anew
 * each time cost twice what running it does (pgbench on loopback: 0.48 ms a mark
 * unprepared, 0.19 ms prepared).
 */
static const struct fw_pg_stmt item_mark_stmt = {
    "fw_item_mark",
    "WITH cur AS MATERIALIZED (SELECT hash FROM items WHERE feed = $1::text AND "
    "id = $2::text), "
    "ins AS (INSERT INTO items AS i (feed, id, hash, first_seen, last_seen) "
    "SELECT $1::text, $2::text, $3::bigint, $4::bigint, $4::bigint "
    "WHERE NOT EXISTS (SELECT 1 FROM cur) "
    "ON CONFLICT (feed, id) DO UPDATE SET hash = excluded.hash, "
    "last_seen = greatest(i.last_seen, excluded.last_seen) "
    "WHERE i.hash <> excluded.hash OR excluded.last_seen - i.last_seen >= " FW_PG_SEEN_SLACK
    " RETURNING i.xmax = 0 AS fresh), "
    "upd AS (UPDATE items AS i SET hash = $3::bigint, "
    "last_seen = greatest(i.last_seen, $4::bigint) "
    "WHERE i.feed = $1::text AND i.id = $2::text AND EXISTS (SELECT 1 FROM cur) AND "
    "(i.hash <> $3::bigint OR $4::bigint - i.last_seen >= " FW_PG_SEEN_SLACK ") "
    "RETURNING 1) "
    "SELECT CASE WHEN (SELECT fresh FROM ins) THEN 1 "
    /* another node's row, just committed, and ours differs */
    "WHEN EXISTS (SELECT 1 FROM ins) THEN 2 "
    "WHEN EXISTS (SELECT 1 FROM upd) AND (SELECT hash FROM cur) <> $3::bigint THEN 2 "
    "ELSE 0 END",
    4, true};

/*
 * Upsert an item; see store.h. One statement decides, so that of two nodes marking the
 * same item at once exactly one sees it NEW: `cur` is the row as the statement's snapshot
 * has it. Unknown there: INSERT ... ON CONFLICT, which waits for another node's
 * uncommitted insert of the same key and then finds its row (RETURNING xmax = 0 tells an
 * insert from that update; the update, and so a row returned, only when the hash differs
 * or last_seen is an hour old). Known: an UPDATE under the same condition, which
 * PostgreSQL re-checks on the latest version of the row. An unchanged item seen within
 * the hour is neither written nor locked: the SQLite store's slack rule, and most marks.
 */
int fw_pg_item_mark(struct fw_store *s, const char *feed, const char *id, uint64_t hash,
                    int64_t now)
{
	struct fw_pg *p = fw_pg_of(s);
	char h[24], t[24];
	const char *v[4] = {feed, id, fw_pg_i64(h, (int64_t)hash), fw_pg_i64(t, now)};
	PGresult *r;
	int ret;

	if ((ret = fw_pg_check_key(p, feed)) < 0 || (ret = fw_pg_check_key(p, id)) < 0)
		return ret;
	r = fw_pg_run(p, &item_mark_stmt, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	ret = (int)fw_pg_get_i64(r, 0, 0);
	PQclear(r);
	return ret == 1 ? FW_ITEM_NEW : ret == 2 ? FW_ITEM_CHANGED : FW_ITEM_SAME;
}

/* fw_pg_item_reissued's: every new item that matches asks it. */
static const struct fw_pg_stmt item_reissued_stmt = {
    "fw_item_reissued",
    "SELECT 1 FROM items WHERE feed = $1 AND hash = $2::bigint AND id <> $3 LIMIT 1", 3, true};

/* Does the feed hold another item with this content hash? 1 yes, 0 no, or -errno. Walks
   the feed's part of the primary key, as in SQLite: no index on hash for every poll to
   keep. */
int fw_pg_item_reissued(struct fw_store *s, const char *feed, const char *id, uint64_t hash)
{
	struct fw_pg *p = fw_pg_of(s);
	char h[24];
	const char *v[3] = {feed, fw_pg_i64(h, (int64_t)hash), id};
	PGresult *r;
	int ret;

	if ((ret = fw_pg_check_key(p, feed)) < 0 || (ret = fw_pg_check_key(p, id)) < 0)
		return ret;
	r = fw_pg_run(p, &item_reissued_stmt, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	ret = PQntuples(r) > 0;
	PQclear(r);
	return ret;
}

/* Number of items remembered for feed in *n. */
int fw_pg_item_count(struct fw_store *s, const char *feed, int64_t *n)
{
	struct fw_pg *p = fw_pg_of(s);
	const char *v[1] = {feed};
	PGresult *r;
	int ret = fw_pg_check_key(p, feed);

	if (ret < 0)
		return ret;
	r = fw_pg_exec(p, "SELECT count(*) FROM items WHERE feed = $1", 1, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	*n = fw_pg_get_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/*
 * One step of the items' prune (items.c's contract): the feed of the max_rows-th item
 * after the cursor bounds the step, so a step takes whole feeds; without one, the step
 * takes the rest and is the last. An item goes when it is older than the retention ($3)
 * and gone from its feed: not seen within 2 h of the feed's latest sighting (last_seen of
 * unchanged items is rewritten at most hourly), each feed's latest taken once, not per
 * row. A node marking an item while another prunes it: the DELETE re-checks last_seen on
 * the row's latest version, so an item just seen again stays.
 */
int fw_pg_item_prune_step(struct fw_store *s, struct fw_store_item_pruning *pr, size_t max_rows,
                          bool *done)
{
	struct fw_pg *p = fw_pg_of(s);
	char hi[FW_STORE_KEY_MAX + 1], num[2][24], sql[512];
	const char *lo, *up;
	const char *v[3] = {pr->feed, fw_pg_i64(num[0], max_rows < 1 ? 1 : (int64_t)max_rows)};
	int64_t changed = 0;
	bool found;
	PGresult *r;
	int ret = 0;

	r = pr->started ? fw_pg_exec(p,
	                             "SELECT feed FROM items WHERE feed > $1 ORDER BY feed "
	                             "LIMIT 1 OFFSET $2::bigint - 1",
	                             2, v, NULL, NULL, &ret)
	                : fw_pg_exec(p,
	                             "SELECT feed FROM items ORDER BY feed LIMIT 1 OFFSET "
	                             "$1::bigint - 1",
	                             1, v + 1, NULL, NULL, &ret);
	if (!r)
		return ret;
	found = PQntuples(r) == 1;
	if (found)
		snprintf(hi, sizeof(hi), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	/* $1 the cursor (or nothing), $2 the step's last feed (or the end), $3 the retention */
	v[0] = pr->started ? pr->feed : NULL;
	v[1] = found ? hi : NULL;
	v[2] = fw_pg_i64(num[1], pr->before);
	/* the range on both sides, so that each reads the step's feeds through the key */
	lo = pr->started ? "feed > $1::text" : "$1::text IS NULL";
	up = found ? "feed <= $2::text" : "$2::text IS NULL";
	snprintf(sql, sizeof(sql),
	         "DELETE FROM items AS i USING (SELECT feed, max(last_seen) AS latest FROM items "
	         "WHERE %s AND %s GROUP BY feed) AS f WHERE i.feed = f.feed AND %s%s AND %s%s AND "
	         "i.last_seen < $3::bigint AND i.last_seen < f.latest - 7200",
	         lo, up, pr->started ? "i." : "", lo, found ? "i." : "", up);
	ret = fw_pg_cmd(p, sql, 3, v, &changed);
	if (ret < 0)
		return ret;
	pr->deleted += changed;
	if (found) {
		memcpy(pr->feed, hi, sizeof(hi));
		pr->started = true;
	}
	*done = !found;
	return 0;
}

/*
 * The prune lock (store.h): a session-level advisory lock, tried, never waited for, so a
 * node whose pass finds another's under way skips it. A session lock, not a transaction's:
 * the daemon's pass runs a transaction per batch over many loop turns, and the lock must
 * last from the first to the last. Holds nest on the client side; only the first takes the
 * lock and only the last gives it back (the server would count them too, but a release that
 * failed would then leave one over for good).
 */
int fw_pg_prune_lock(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	PGresult *r;
	int ret = 0;

	if (PQstatus(p->conn) == CONNECTION_OK && p->prune_owed) {
		p->prune_owed = false; /* the lock a failed release kept: this hold's now */
		return 1;
	}
	if (PQstatus(p->conn) == CONNECTION_OK && p->prune_holds > 0) {
		p->prune_holds++;
		return 1;
	}
	r = fw_pg_exec(p, "SELECT pg_try_advisory_lock(" FW_PG_PRUNE_LOCK ")", 0, NULL, NULL, NULL,
	               &ret);
	if (!r)
		return ret;
	ret = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (ret)
		p->prune_holds = 1;
	return ret;
}

/* Give back one hold; the last releases the lock, unless the session that had it is gone. */
int fw_pg_prune_unlock(struct fw_store *s)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret;

	if (p->prune_holds == 0 || --p->prune_holds > 0)
		return 0;
	if (PQstatus(p->conn) != CONNECTION_OK)
		return 0;
	ret = fw_pg_cmd(p, "SELECT pg_advisory_unlock(" FW_PG_PRUNE_LOCK ")", 0, NULL, NULL);
	if (ret < 0 && PQstatus(p->conn) == CONNECTION_OK) {
		p->prune_holds = 1;
		p->prune_owed = true;
	}
	return PQstatus(p->conn) == CONNECTION_OK ? ret : 0;
}

/* Remember that host rests until `until` after answering http_status (one upsert). */
int fw_pg_host_rest(struct fw_store *s, const char *host, int64_t until, long http_status)
{
	struct fw_pg *p = fw_pg_of(s);
	char u[24], h[24];
	const char *v[3] = {host, fw_pg_i64(u, until), fw_pg_i64(h, http_status)};
	int ret = fw_pg_check_key(p, host);

	if (ret < 0)
		return ret;
	return fw_pg_cmd(p,
	                 "INSERT INTO hosts (name, rest_until, http_status) VALUES ($1, $2, $3) "
	                 "ON CONFLICT (name) DO UPDATE SET rest_until = excluded.rest_until, "
	                 "http_status = excluded.http_status",
	                 3, v, NULL);
}

/* Call cb for each host still resting at now, in name order. */
int fw_pg_host_rests(struct fw_store *s, int64_t now, fw_store_host_cb cb, void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	char t[24];
	const char *v[1] = {fw_pg_i64(t, now)};
	int ret = 0, i;
	PGresult *r = fw_pg_exec(p,
	                         "SELECT name, rest_until, http_status FROM hosts "
	                         "WHERE rest_until > $1 ORDER BY name",
	                         1, v, NULL, NULL, &ret);

	if (!r)
		return ret;
	for (i = 0; i < PQntuples(r); i++)
		cb(PQgetvalue(r, i, 0), fw_pg_get_i64(r, i, 1), (long)fw_pg_get_i64(r, i, 2), arg);
	PQclear(r);
	return 0;
}

/* The statements of a poll this file runs, prepared per connection (pg_int.h). */
const struct fw_pg_stmt *const fw_pg_stmts_store[] = {&feed_load_stmt, &feed_save_stmt,
                                                      &item_mark_stmt, &item_reissued_stmt, NULL};

#define FW_STORE_ENTRY_pg(ret, name, params, args) FW_STORE_ENTRY(pg, name)
const struct fw_store_ops fw_pg_ops = {.name = "postgresql",
                                       .close = fw_pg_close,
                                       .error = fw_pg_error,
                                       FW_STORE_OPS(FW_STORE_ENTRY_pg)};
