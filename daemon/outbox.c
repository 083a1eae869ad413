/*
 * outbox.c - the alert outbox of the SQLite store: one row per (alert, output) waiting for
 * delivery. Queueing (inside the poll's transaction), the due list the delivery pump reads,
 * the outcome of each attempt (delivered, retry, dead, held, expired, released), and what
 * `feedwatch outbox` does by hand (list, revive, drop, count).
 *
 * The connection, the statement cache and its SQL (stmt_sql in store.c) and the bind/step
 * helpers are store.c's, shared through store_int.h. Rowids never come back (AUTOINCREMENT,
 * see the schema in store.c): the daemon holds the rowids of deliveries in flight while
 * `feedwatch outbox drop` may delete rows. Durability: fw_store_outbox_due syncs the lazy
 * poll commits first, so that no alert goes out before the commit that queued it is
 * durable (the comment at the top of store.c). One thread; never logs.
 */
#include "store_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Free n outbox entries and the array. */
void fw_outbox_entries_free(struct fw_outbox_entry *e, size_t n)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < n; i++) {
		free(e[i].alert_id);
		free(e[i].output);
		free(e[i].payload);
		free(e[i].last_error);
	}
	free(e);
}

/* Queue an alert for an output: 1 queued, 0 already queued, or -errno. */
int fw_sqlite_outbox_add(struct fw_store *base, const char *alert_id, const char *output,
                         const char *payload, int64_t now)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	if (!payload)
		return fw_store_fail_msg(s, -EINVAL, "no payload");
	q = fw_store_prepare(s, ST_OUTBOX_ADD, &ret);
	if (!q)
		return ret;
	if ((ret = fw_store_bind_key(s, q, 1, alert_id)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 2, output)) < 0 ||
	    (ret = fw_store_bind_text(s, q, 3, payload, FW_STORE_PAYLOAD_MAX)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 4, now);
	ret = fw_store_step_done(s, q);
	return ret < 0 ? ret : sqlite3_changes(s->db) > 0;
}

/* Fill e from the current row of an FW_STORE_OUTBOX_COLS statement; false on allocation failure
   (e then holds nothing to free). */
static bool row_entry(sqlite3_stmt *q, struct fw_outbox_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (!fw_store_col_dup(q, 1, &e->alert_id) || !fw_store_col_dup(q, 2, &e->output) ||
	    !fw_store_col_dup(q, 3, &e->payload) || !fw_store_col_dup(q, 8, &e->last_error) ||
	    !e->alert_id || !e->output || !e->payload) {
		free(e->alert_id);
		free(e->output);
		free(e->payload);
		free(e->last_error);
		memset(e, 0, sizeof(*e));
		return false;
	}
	e->rowid = sqlite3_column_int64(q, 0);
	e->state = sqlite3_column_int(q, 4) == FW_OUTBOX_DEAD ? FW_OUTBOX_DEAD : FW_OUTBOX_PENDING;
	e->attempts = sqlite3_column_int64(q, 5);
	e->created = sqlite3_column_int64(q, 6);
	e->next_at = sqlite3_column_int64(q, 7);
	return true;
}

/* Collect up to max rows of a stepped FW_STORE_OUTBOX_COLS statement, skipping busy rowids. */
static int collect(struct fw_sqlite *s, sqlite3_stmt *q, size_t max, const int64_t *busy,
                   size_t n_busy, struct fw_outbox_entry **out, size_t *n)
{
	struct fw_outbox_entry *v = NULL, *nv;
	size_t len = 0, cap = 0, i;
	int64_t rowid;
	int rc = SQLITE_DONE, ret = 0;

	while (len < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		rowid = sqlite3_column_int64(q, 0);
		for (i = 0; i < n_busy && busy[i] != rowid; i++)
			;
		if (i < n_busy)
			continue;
		if (len == cap) {
			cap = cap ? 2 * cap : 8;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv) {
				ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		if (!row_entry(q, &v[len])) {
			ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
			goto out;
		}
		len++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = fw_store_fail(s, rc);
out:
	fw_store_stmt_done(q);
	if (ret < 0) {
		fw_outbox_entries_free(v, len);
		return ret;
	}
	*out = v;
	*n = len;
	return 0;
}

/* Up to max pending entries due by now, next_at then rowid order, skipping busy rowids. */
int fw_sqlite_outbox_due(struct fw_store *base, int64_t now, size_t max, const int64_t *busy,
                         size_t n_busy, struct fw_outbox_entry **out, size_t *n)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	if (n_busy && !busy)
		return fw_store_fail_msg(s, -EINVAL, "busy list missing");
	/*
	 * Nothing goes out before the commit that queued it is durable. When the sync fails
	 * (a full disk) the rows are still committed, only not yet fsynced: a process crash
	 * keeps them, a power cut could roll the poll back and its item would alert again
	 * (a duplicate, never a loss), so they are handed out all the same.
	 */
	if (sqlite3_get_autocommit(s->db))
		fw_sqlite_sync(&s->base);
	q = fw_store_prepare(s, ST_OUTBOX_DUE, &ret);
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, now);
	return collect(s, q, max, busy, n_busy, out, n);
}

/* Earliest next_at of the pending entries, or -ENOENT. */
int fw_sqlite_outbox_next_due(struct fw_store *base, int64_t *when)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int rc, ret = 0;

	q = fw_store_prepare(s, ST_OUTBOX_NEXT, &ret);
	if (!q)
		return ret;
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW)
		ret = fw_store_fail(s, rc);
	else if (sqlite3_column_type(q, 0) == SQLITE_NULL)
		ret = fw_store_fail_msg(s, -ENOENT, "no pending outbox entry");
	else
		*when = sqlite3_column_int64(q, 0);
	fw_store_stmt_done(q);
	return ret;
}

/* Run an UPDATE/DELETE on one rowid; -ENOENT when it touched no row. */
static int change_one(struct fw_sqlite *s, sqlite3_stmt *q)
{
	int ret = fw_store_step_done(s, q);

	if (ret == 0 && sqlite3_changes(s->db) == 0)
		ret = fw_store_fail_msg(s, -ENOENT, "no such outbox entry");
	return ret;
}

/* Delete a delivered entry; -ENOENT when it is gone already. */
int fw_sqlite_outbox_delivered(struct fw_store *base, int64_t rowid, int64_t now)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	q = fw_store_prepare(s, ST_ROUTE_DELIVERED, &ret);
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, rowid);
	sqlite3_bind_int64(q, 2, now);
	if ((ret = fw_store_step_done(s, q)) < 0)
		return ret;
	q = fw_store_prepare(s, ST_OUTBOX_DELIVERED, &ret);
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, rowid);
	return change_one(s, q);
}

/* A failed attempt of a pending entry; -ENOENT when no such pending entry. */
int fw_sqlite_outbox_retry(struct fw_store *base, int64_t rowid, int64_t next_at, const char *error)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	q = fw_store_prepare(s, ST_OUTBOX_RETRY, &ret);
	if (!q)
		return ret;
	ret = fw_store_bind_error(s, q, 3, error);
	if (ret < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 1, rowid);
	sqlite3_bind_int64(q, 2, next_at);
	return change_one(s, q);
}

/* The last failed attempt of a pending entry (attempts + 1): it becomes dead. -ENOENT when
   no such pending entry. */
int fw_sqlite_outbox_kill(struct fw_store *base, int64_t rowid, const char *error)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	q = fw_store_prepare(s, ST_OUTBOX_KILL, &ret);
	if (!q)
		return ret;
	ret = fw_store_bind_error(s, q, 2, error);
	if (ret < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 1, rowid);
	return change_one(s, q);
}

/* Every entry of state (< 0: all) and output (NULL: all), in rowid order. */
int fw_sqlite_outbox_list(struct fw_store *base, int state, const char *output,
                          struct fw_outbox_entry **out, size_t *n)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int ret = 0;

	q = fw_store_prepare(s, ST_OUTBOX_LIST, &ret);
	if (!q)
		return ret;
	sqlite3_bind_int(q, 1, state < 0 ? -1 : state);
	if (output && (ret = fw_store_bind_key(s, q, 2, output)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	return collect(s, q, SIZE_MAX, NULL, 0, out, n);
}

/* Run revive or drop: rowid >= 0, output NULL = any; *changed gets the count. */
static int change_many(struct fw_sqlite *s, enum fw_store_stmt id, int64_t rowid,
                       const char *output, int64_t now, int64_t *changed)
{
	sqlite3_stmt *q;
	int ret = 0;

	if (rowid < 0)
		return fw_store_fail_msg(s, -EINVAL, "negative rowid");
	q = fw_store_prepare(s, id, &ret);
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, rowid);
	if (output && (ret = fw_store_bind_key(s, q, 2, output)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	if (id == ST_OUTBOX_REVIVE || id == ST_OUTBOX_RELEASE)
		sqlite3_bind_int64(q, 3, now);
	ret = fw_store_step_done(s, q);
	if (ret == 0 && changed)
		*changed = sqlite3_changes64(s->db);
	return ret;
}

/* Make entries pending again; see store.h. */
int fw_sqlite_outbox_revive(struct fw_store *base, int64_t rowid, const char *output, int64_t now,
                            int64_t *changed)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	return change_many(s, ST_OUTBOX_REVIVE, rowid, output, now, changed);
}

/* Delete entries; see store.h. */
int fw_sqlite_outbox_drop(struct fw_store *base, int64_t rowid, const char *output,
                          int64_t *changed)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	return change_many(s, ST_OUTBOX_DROP, rowid, output, 0, changed);
}

/* Run one of the single-row statements HOLD (with next_at) or EXPIRE; see store.h. */
static int set_one(struct fw_sqlite *s, enum fw_store_stmt id, int64_t rowid, int64_t next_at,
                   const char *error)
{
	sqlite3_stmt *q;
	int ret = 0, err_col = id == ST_OUTBOX_HOLD ? 3 : 2;

	q = fw_store_prepare(s, id, &ret);
	if (!q)
		return ret;
	ret = fw_store_bind_error(s, q, err_col, error);
	if (ret < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 1, rowid);
	if (id == ST_OUTBOX_HOLD)
		sqlite3_bind_int64(q, 2, next_at);
	return change_one(s, q);
}

/* Hold a pending entry until next_at without counting an attempt; see store.h. */
int fw_sqlite_outbox_hold(struct fw_store *base, int64_t rowid, int64_t next_at, const char *why)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	return set_one(s, ST_OUTBOX_HOLD, rowid, next_at, why);
}

/* A pending entry becomes dead without an attempt; see store.h. */
int fw_sqlite_outbox_expire(struct fw_store *base, int64_t rowid, const char *why)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	return set_one(s, ST_OUTBOX_EXPIRE, rowid, 0, why);
}

/* Held entries of output become due at now; see store.h. */
int fw_sqlite_outbox_release(struct fw_store *base, const char *output, int64_t now,
                             int64_t *changed)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	if (output == NULL)
		return fw_store_fail_msg(s, -EINVAL, "no output");
	return change_many(s, ST_OUTBOX_RELEASE, 0, output, now, changed);
}

/* Pending and dead counts of output (NULL: all outputs); either pointer may be NULL. */
int fw_sqlite_outbox_count(struct fw_store *base, const char *output, int64_t *pending,
                           int64_t *dead)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q;
	int rc, ret = 0;

	q = fw_store_prepare(s, ST_OUTBOX_COUNT, &ret);
	if (!q)
		return ret;
	if (output && (ret = fw_store_bind_key(s, q, 1, output)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (pending)
			*pending = sqlite3_column_int64(q, 0);
		if (dead)
			*dead = sqlite3_column_int64(q, 1);
	} else
		ret = fw_store_fail(s, rc);
	fw_store_stmt_done(q);
	return ret;
}

void fw_alert_rows_free(struct fw_alert_row *r, size_t n)
{
	for (size_t i = 0; r && i < n; i++) {
		free(r[i].alert_id);
		free(r[i].watchlist);
		free(r[i].feed);
		free(r[i].item_id);
		free(r[i].payload);
		free(r[i].output);
		free(r[i].last_error);
	}
	free(r);
}

/* The alert history of `feedwatch alerts`: one statement run once per command, so it is
   prepared here rather than cached in stmt_sql. */
static const char alert_rows_sql[] =
    "SELECT a.id, a.watchlist, a.feed, a.item_id, a.created, t.payload, r.output,"
    " o.state, o.attempts, o.last_error, r.delivered FROM"
    " (SELECT * FROM alerts WHERE created >= ?1 AND (?2 IS NULL OR watchlist = ?2)"
    "  ORDER BY created DESC, id LIMIT ?3) a"
    " LEFT JOIN alert_texts t ON t.alert_id = a.id"
    " LEFT JOIN alert_routes r ON r.alert_id = a.id"
    " LEFT JOIN outbox o ON o.alert_id = a.id AND o.output = r.output"
    " ORDER BY a.created DESC, a.id, r.output";

/* One result row into r. false when out of memory. */
static bool alert_row(sqlite3_stmt *q, struct fw_alert_row *r)
{
	memset(r, 0, sizeof(*r));
	r->created = sqlite3_column_int64(q, 4);
	r->state = sqlite3_column_type(q, 7) == SQLITE_NULL ? FW_ALERT_DELIVERED
	                                                    : sqlite3_column_int(q, 7);
	r->attempts = sqlite3_column_int64(q, 8);
	r->delivered = sqlite3_column_int64(q, 10); /* NULL: 0 */
	return fw_store_col_dup(q, 0, &r->alert_id) && fw_store_col_dup(q, 1, &r->watchlist) &&
	       fw_store_col_dup(q, 2, &r->feed) && fw_store_col_dup(q, 3, &r->item_id) &&
	       fw_store_col_dup(q, 5, &r->payload) && fw_store_col_dup(q, 6, &r->output) &&
	       fw_store_col_dup(q, 9, &r->last_error);
}

int fw_sqlite_alert_rows(struct fw_store *base, int64_t since, const char *watchlist, size_t max,
                         struct fw_alert_row **out, size_t *n)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	struct fw_alert_row *v = NULL;
	size_t len = 0, cap = 0;
	int rc, ret = 0;
	sqlite3_stmt *q = fw_store_prepare_once(s, alert_rows_sql, &ret);

	if (q == NULL)
		return ret;
	sqlite3_bind_int64(q, 1, since);
	if (watchlist)
		sqlite3_bind_text(q, 2, watchlist, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (len == cap) {
			struct fw_alert_row *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (nv == NULL) {
				ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
				break;
			}
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		if (!alert_row(q, &v[len++])) {
			ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
	sqlite3_finalize(q);
	if (ret < 0) {
		fw_alert_rows_free(v, len);
		return ret;
	}
	*out = v;
	*n = len;
	return 0;
}

/* One row of two integers from sql with ?1 bound to arg (once per `once`: not cached). */
static int two_ints(struct fw_sqlite *s, const char *sql, int64_t arg, int64_t *a, int64_t *b)
{
	int rc = 0;
	sqlite3_stmt *q = fw_store_prepare_once(s, sql, &rc);

	if (q == NULL)
		return rc;
	sqlite3_bind_int64(q, 1, arg);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*a = sqlite3_column_int64(q, 0);
		if (b)
			*b = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : fw_store_fail(s, rc);
}

int fw_sqlite_outbox_last_rowid(struct fw_store *base, int64_t *rowid)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	return two_ints(s, "SELECT coalesce(max(rowid), 0) FROM outbox WHERE ?1 = ?1", 0, rowid,
	                NULL);
}

int fw_sqlite_outbox_count_after(struct fw_store *base, int64_t after, int64_t *pending,
                                 int64_t *dead)
{
	struct fw_sqlite *s = fw_sqlite_of(base);

	return two_ints(s,
	                "SELECT coalesce(sum(state = 0), 0), coalesce(sum(state = 1), 0) FROM "
	                "outbox WHERE rowid > ?1",
	                after, pending, dead);
}
