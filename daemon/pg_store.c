/*
 * pg_store.c - the PostgreSQL backend of store.h, for many nodes sharing one database:
 * the connection (open, schema, migrations), the helpers the pg_*.c files share
 * (pg_int.h), and the ops table. libpq from Debian (PostgreSQL 15).
 *
 * The schema is created by the first node that opens an empty database, under an advisory
 * lock, so that nodes starting together do not race; each pg_*.c file owns the DDL of its
 * tables (fw_pg_ddl_*). meta.schema holds the version; a newer one is refused (-EPROTO).
 */
#include "pg_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The schema version this code writes (meta k = 'schema'). */
#define FW_PG_SCHEMA 1
/* The advisory lock key migrations hold: "FWDB". */
#define FW_PG_MIGRATE_LOCK "1180124226"

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

PGresult *fw_pg_exec(struct fw_pg *p, const char *sql, int n, const char *const *values,
                     const int *lengths, const int *formats, int *ret)
{
	/* without parameters, PQexec: it takes several statements (the last one's result) */
	PGresult *r = n == 0 ? PQexec(p->conn, sql)
	                     : PQexecParams(p->conn, sql, n, NULL, values, lengths, formats, 0);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		p->msg[0] = '\0';
		return r;
	}
	*ret = errno_of(p->conn, r);
	copy_msg(p->msg, sizeof(p->msg),
	         r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
	PQclear(r);
	return NULL;
}

int fw_pg_cmd(struct fw_pg *p, const char *sql, int n, const char *const *values, int64_t *changed)
{
	int ret = 0;
	PGresult *r = fw_pg_exec(p, sql, n, values, NULL, NULL, &ret);

	if (!r)
		return ret;
	if (changed)
		*changed = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
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
	if ((ret = fw_pg_cmd(p, "COMMIT", 0, NULL, NULL)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: creating the schema: %s", where, p->msg);
	fw_pg_cmd(p, "ROLLBACK", 0, NULL, NULL);
	return ret;
}

int fw_pg_open(const char *url, bool read_only, int busy_ms, struct fw_store **out, char *err,
               size_t errlen)
{
	char where[512], lock[64];
	const char *v[1] = {lock};
	struct fw_pg *p;
	int ret;

	redact(url, where, sizeof(where));
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "%s: out of memory", where);
		return -ENOMEM;
	}
	p->base.ops = &fw_pg_ops;
	p->read_only = read_only;
	p->lease = 60;
	p->conn = PQconnectdb(url);
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
		copy_msg(p->msg, sizeof(p->msg),
		         p->conn ? PQerrorMessage(p->conn) : "cannot allocate a connection");
		snprintf(err, errlen, "%s: cannot connect: %s", where, p->msg);
		PQfinish(p->conn);
		free(p);
		return -ECONNREFUSED;
	}
	/* the busy timeout is how long a statement waits for another node's row lock */
	snprintf(lock, sizeof(lock), "%d", busy_ms);
	ret = fw_pg_cmd(p,
	                "SELECT set_config('lock_timeout', $1, false), "
	                "set_config('client_min_messages', 'warning', false), "
	                "set_config('TimeZone', 'UTC', false)",
	                1, v, NULL);
	if (ret < 0)
		snprintf(err, errlen, "%s: %s", where, p->msg);
	else
		ret = migrate(p, read_only, where, err, errlen);
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
	return 0;
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

const char fw_pg_ddl_store[] = "";

/* ---- not built yet: the rest of this file's part of store.h */

int fw_pg_feed_load(struct fw_store *s, const char *feed, struct fw_feed_state *st)
{
	(void)feed;
	(void)st;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_feed_load: not built for PostgreSQL yet");
}

int fw_pg_feed_save(struct fw_store *s, const char *feed, const struct fw_feed_state *st)
{
	(void)feed;
	(void)st;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_feed_save: not built for PostgreSQL yet");
}

int fw_pg_feed_names(struct fw_store *s, char ***names, size_t *n)
{
	(void)names;
	(void)n;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_feed_names: not built for PostgreSQL yet");
}

int fw_pg_feed_forget(struct fw_store *s, const char *feed)
{
	(void)feed;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_feed_forget: not built for PostgreSQL yet");
}

int fw_pg_item_mark(struct fw_store *s, const char *feed, const char *id, uint64_t hash,
                    int64_t now)
{
	(void)feed;
	(void)id;
	(void)hash;
	(void)now;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_item_mark: not built for PostgreSQL yet");
}

int fw_pg_item_reissued(struct fw_store *s, const char *feed, const char *id, uint64_t hash)
{
	(void)feed;
	(void)id;
	(void)hash;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_item_reissued: not built for PostgreSQL yet");
}

int fw_pg_host_rest(struct fw_store *s, const char *host, int64_t until, long http_status)
{
	(void)host;
	(void)until;
	(void)http_status;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_host_rest: not built for PostgreSQL yet");
}

int fw_pg_host_rests(struct fw_store *s, int64_t now, fw_store_host_cb cb, void *arg)
{
	(void)now;
	(void)cb;
	(void)arg;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_host_rests: not built for PostgreSQL yet");
}

int fw_pg_item_count(struct fw_store *s, const char *feed, int64_t *n)
{
	(void)feed;
	(void)n;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_item_count: not built for PostgreSQL yet");
}

int fw_pg_item_prune_step(struct fw_store *s, struct fw_store_item_pruning *p, size_t max_rows,
                          bool *done)
{
	(void)p;
	(void)max_rows;
	(void)done;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_item_prune_step: not built for PostgreSQL yet");
}

#define FW_STORE_ENTRY_pg(ret, name, params, args) FW_STORE_ENTRY(pg, name)
const struct fw_store_ops fw_pg_ops = {.name = "postgresql",
                                       .close = fw_pg_close,
                                       .error = fw_pg_error,
                                       FW_STORE_OPS(FW_STORE_ENTRY_pg)};
