/*
 * pg_outbox.c - the PostgreSQL store: the alerts raised, the alert outbox (one row per
 * alert and output waiting for delivery), and the alert rows of `feedwatch alerts`. The
 * same contract as the SQLite store's (store_sqlite.c's alerts, outbox.c), for many nodes
 * on one database:
 *
 * - An alert id is raised once for the whole cluster: its primary key decides (INSERT ...
 *   ON CONFLICT DO NOTHING answers 0 to every node but the first).
 * - Each delivery is claimed by exactly one node: fw_store_outbox_due marks the entries it
 *   hands out as this node's (claimed_by, the node of fw_store_set_node) until now + lease
 *   (claim_until), taking only entries whose claim is free, its own, or expired, under
 *   FOR UPDATE SKIP LOCKED, so that nodes asking at once get disjoint entries. A node that
 *   dies holding claims loses them when its lease ends; the rowids it passes as busy (in
 *   flight) have their claims renewed by each call. An outcome (retry, kill, hold, expire)
 *   ends the claim and is refused (-ENOENT, "not there") on an entry another node holds;
 *   delivered is taken from any node (the alert went out: the row goes).
 * - alert_texts and alert_routes keep each alert's payload and outputs after delivery
 *   deleted its outbox row; fw_store_outbox_add writes them in the same statement (SQLite
 *   does it with a trigger).
 *
 * Every refusal the contract names (sizes, states) is decided before or by the statement,
 * never by a failed statement: PostgreSQL would abort the caller's transaction. One
 * thread per connection; never logs.
 */
#include "pg_int.h"
#include "text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* rowid is never reused (an identity): the daemon holds the rowids of deliveries in flight
   while `feedwatch outbox drop` may delete rows. Text sorts bytewise (COLLATE "C") where
   SQLite's order is observable. */
const char fw_pg_ddl_outbox[] =
    "CREATE TABLE IF NOT EXISTS alerts (id text PRIMARY KEY, watchlist text NOT NULL,"
    " feed text NOT NULL, item_id text NOT NULL, created bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS alerts_created ON alerts (created);"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " rowid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, alert_id text NOT NULL,"
    " output text NOT NULL, payload text NOT NULL, state integer NOT NULL DEFAULT 0,"
    " attempts bigint NOT NULL DEFAULT 0, created bigint NOT NULL, next_at bigint NOT NULL,"
    " last_error text, claimed_by text, claim_until bigint NOT NULL DEFAULT 0,"
    " UNIQUE (alert_id, output));"
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);"
    "CREATE TABLE IF NOT EXISTS alert_texts (alert_id text PRIMARY KEY,"
    " payload text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alert_routes (alert_id text NOT NULL, output text NOT NULL,"
    " delivered bigint, PRIMARY KEY (alert_id, output));";

/* The columns of an outbox entry, in the order row_entry reads them. */
#define OUTBOX_COLS                                                                                \
	"rowid, alert_id, output, payload, state, attempts, created, next_at, last_error"

/* An optional key (NULL: any): check_key unless NULL. */
static int check_opt_key(struct fw_pg *p, const char *v)
{
	return v ? fw_pg_check_key(p, v) : 0;
}

/* An error message into buf (FW_STORE_ERROR_MAX + 1 bytes) as SQLite keeps it: cut on a
   character boundary; bytes that are not UTF-8 (a server's reason phrase may carry any)
   become '?' rather than a refused statement. Returns buf, or NULL for NULL. */
static const char *error_text(const char *v, char *buf)
{
	size_t n, i = 0, k;

	if (!v)
		return NULL;
	n = strnlen(v, FW_STORE_ERROR_MAX + 1);
	if (n > FW_STORE_ERROR_MAX) {
		n = FW_STORE_ERROR_MAX;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(buf, v, n);
	buf[n] = '\0';
	while (i < n) {
		k = fw_text_utf8_len((const unsigned char *)buf + i, n - i);
		if (k == 0)
			buf[i++] = '?';
		else
			i += k;
	}
	return buf;
}

/* Who holds this process's claims: the node of fw_store_set_node, else "<host>-<pid>"
   (the daemon's own default). */
static const char *node_of(struct fw_pg *p)
{
	char host[64];

	if (!p->node[0]) {
		if (gethostname(host, sizeof(host)) < 0 || !host[0] ||
		    !fw_pg_utf8(host, strlen(host)))
			snprintf(host, sizeof(host), "pid");
		host[sizeof(host) - 1] = '\0';
		snprintf(p->node, sizeof(p->node), "%s-%ld", host, (long)getpid());
	}
	return p->node;
}

/* Run a statement expecting one changed row: -ENOENT (with msg) when it changed none. */
static int change_one(struct fw_pg *p, const char *sql, int n, const char *const *v,
                      const char *msg)
{
	int64_t changed = 0;
	int ret = fw_pg_cmd(p, sql, n, v, &changed);

	if (ret == 0 && changed == 0)
		ret = fw_pg_fail_msg(p, -ENOENT, msg);
	return ret;
}

/* The statements of a poll that raises alerts (pg_int.h: prepared per connection):
   fw_pg_alert_add's, and fw_pg_outbox_add's (the row, its text and its route in one). */
static const struct fw_pg_stmt alert_add_stmt = {
    "fw_alert_add",
    "INSERT INTO alerts (id, watchlist, feed, item_id, created) "
    "VALUES ($1, $2, $3, $4, $5::bigint) ON CONFLICT (id) DO NOTHING",
    5, true};
static const struct fw_pg_stmt outbox_add_stmt = {
    "fw_outbox_add",
    "WITH o AS (INSERT INTO outbox (alert_id, output, payload, created, next_at)"
    " VALUES ($1, $2, $3, $4::bigint, $4::bigint)"
    " ON CONFLICT (alert_id, output) DO NOTHING RETURNING alert_id, output),"
    " t AS (INSERT INTO alert_texts (alert_id, payload) SELECT alert_id, $3"
    " FROM o ON CONFLICT (alert_id) DO NOTHING),"
    " k AS (INSERT INTO alert_routes (alert_id, output) SELECT alert_id, output"
    " FROM o ON CONFLICT (alert_id, output) DO NOTHING)"
    " SELECT count(*) FROM o",
    4, true};
const struct fw_pg_stmt *const fw_pg_stmts_outbox[] = {&alert_add_stmt, &outbox_add_stmt, NULL};

/* Record an alert once: 1 new, 0 already raised (by any node), or -errno. */
int fw_pg_alert_add(struct fw_store *s, const char *alert_id, const char *watchlist,
                    const char *feed, const char *item_id, int64_t now)
{
	struct fw_pg *p = fw_pg_of(s);
	char t[24];
	const char *v[5] = {alert_id, watchlist, feed, item_id, fw_pg_i64(t, now)};
	int64_t changed = 0;
	int ret;

	if ((ret = fw_pg_check_key(p, alert_id)) < 0 || (ret = fw_pg_check_key(p, watchlist)) < 0 ||
	    (ret = fw_pg_check_key(p, feed)) < 0 || (ret = fw_pg_check_key(p, item_id)) < 0)
		return ret;
	ret = fw_pg_run_cmd(p, &alert_add_stmt, v, &changed);
	return ret < 0 ? ret : changed > 0;
}

/* Queue an alert for an output (and keep its text and route): 1 queued, 0 already, -errno. */
int fw_pg_outbox_add(struct fw_store *s, const char *alert_id, const char *output,
                     const char *payload, int64_t now)
{
	struct fw_pg *p = fw_pg_of(s);
	char t[24];
	const char *v[4] = {alert_id, output, payload, fw_pg_i64(t, now)};
	PGresult *r;
	int ret = 0;
	size_t n;

	if (!payload)
		return fw_pg_fail_msg(p, -EINVAL, "no payload");
	if ((ret = fw_pg_check_key(p, alert_id)) < 0 || (ret = fw_pg_check_key(p, output)) < 0)
		return ret;
	n = strnlen(payload, FW_STORE_PAYLOAD_MAX + 1);
	if (n > FW_STORE_PAYLOAD_MAX)
		return fw_pg_fail_msg(p, -E2BIG, "string longer than the store accepts");
	if (!fw_pg_utf8(payload, n))
		return fw_pg_fail_msg(p, -EINVAL, "payload not valid UTF-8");
	r = fw_pg_run(p, &outbox_add_stmt, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	ret = fw_pg_get_i64(r, 0, 0) > 0;
	PQclear(r);
	return ret;
}

/* Fill e from row i of an OUTBOX_COLS result; false on allocation failure (e then holds
   nothing to free). */
static bool row_entry(const PGresult *r, int i, struct fw_outbox_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (!fw_pg_get_dup(r, i, 1, &e->alert_id) || !fw_pg_get_dup(r, i, 2, &e->output) ||
	    !fw_pg_get_dup(r, i, 3, &e->payload) || !fw_pg_get_dup(r, i, 8, &e->last_error) ||
	    !e->alert_id || !e->output || !e->payload) {
		free(e->alert_id);
		free(e->output);
		free(e->payload);
		free(e->last_error);
		memset(e, 0, sizeof(*e));
		return false;
	}
	e->rowid = fw_pg_get_i64(r, i, 0);
	e->state = fw_pg_get_i64(r, i, 4) == FW_OUTBOX_DEAD ? FW_OUTBOX_DEAD : FW_OUTBOX_PENDING;
	e->attempts = fw_pg_get_i64(r, i, 5);
	e->created = fw_pg_get_i64(r, i, 6);
	e->next_at = fw_pg_get_i64(r, i, 7);
	return true;
}

/* Every row of an OUTBOX_COLS result into *out and *n; frees r. 0 or -ENOMEM. */
static int collect(struct fw_pg *p, PGresult *r, struct fw_outbox_entry **out, size_t *n)
{
	int rows = PQntuples(r), i;
	struct fw_outbox_entry *v = NULL;

	if (rows > 0 && !(v = calloc((size_t)rows, sizeof(*v)))) {
		PQclear(r);
		return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	}
	for (i = 0; i < rows; i++)
		if (!row_entry(r, i, &v[i])) {
			PQclear(r);
			fw_outbox_entries_free(v, (size_t)i);
			return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
		}
	PQclear(r);
	*out = v;
	*n = (size_t)rows;
	return 0;
}

/* The busy rowids as a PostgreSQL array literal ("{1,2}"), malloc()ed; NULL when out of
   memory. */
static char *busy_array(const int64_t *busy, size_t n_busy)
{
	char *a = malloc(n_busy * 21 + 3), *w = a;

	if (!a)
		return NULL;
	*w++ = '{';
	for (size_t i = 0; i < n_busy; i++)
		w += sprintf(w, "%s%" PRId64, i ? "," : "", busy[i]);
	*w++ = '}';
	*w = '\0';
	return a;
}

/*
 * Claim and return up to max pending entries due by now, next_at then rowid order, that no
 * other node holds (its claim ended or expired), skipping the busy rowids (this node's
 * deliveries in flight, whose claims are renewed).
 */
int fw_pg_outbox_due(struct fw_store *s, int64_t now, size_t max, const int64_t *busy,
                     size_t n_busy, struct fw_outbox_entry **out, size_t *n)
{
	struct fw_pg *p = fw_pg_of(s);
	char t[24], l[24], m[24], *b;
	const char *v[5];
	PGresult *r;
	int ret = 0;

	if (n_busy && !busy)
		return fw_pg_fail_msg(p, -EINVAL, "busy list missing");
	/* Nothing goes out before the commit that queued it is durable. When the sync fails
	   the rows are committed all the same, only perhaps not flushed: a crash of the server
	   could roll the poll back and its item alert again (a duplicate, never a loss). */
	if (!p->in_tx)
		fw_pg_sync(s);
	b = busy_array(busy, n_busy);
	if (!b)
		return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	v[0] = fw_pg_i64(t, now);
	v[1] = node_of(p);
	v[2] = fw_pg_i64(l, p->lease);
	v[3] = b;
	v[4] = fw_pg_i64(m, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	r = fw_pg_exec(
	    p,
	    "WITH c AS (SELECT rowid FROM outbox WHERE state = 0 AND next_at <= $1::bigint"
	    " AND (claimed_by IS NULL OR claimed_by = $2 OR claim_until <= $1::bigint)"
	    " AND rowid <> ALL ($4::bigint[]) ORDER BY next_at, rowid"
	    " LIMIT $5::bigint FOR UPDATE SKIP LOCKED),"
	    " renew AS (UPDATE outbox SET claim_until = $1::bigint + $3::bigint"
	    " WHERE rowid = ANY ($4::bigint[]) AND state = 0 AND claimed_by = $2),"
	    " u AS (UPDATE outbox o SET claimed_by = $2,"
	    " claim_until = $1::bigint + $3::bigint FROM c WHERE o.rowid = c.rowid"
	    " RETURNING o." OUTBOX_COLS ")"
	    " SELECT * FROM u ORDER BY next_at, rowid",
	    5, v, NULL, NULL, &ret);
	free(b);
	if (!r)
		return ret;
	return collect(p, r, out, n);
}

/* The earliest time an entry is due for this node: its next_at, or the end of another
   node's claim on it when later. -ENOENT when none is pending. */
int fw_pg_outbox_next_due(struct fw_store *s, int64_t *when)
{
	struct fw_pg *p = fw_pg_of(s);
	const char *v[1] = {node_of(p)};
	PGresult *r;
	int ret = 0;

	r = fw_pg_exec(p,
	               "SELECT min(CASE WHEN claimed_by IS NULL OR claimed_by = $1 THEN next_at"
	               " ELSE greatest(next_at, claim_until) END) FROM outbox WHERE state = 0",
	               1, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	if (PQgetisnull(r, 0, 0))
		ret = fw_pg_fail_msg(p, -ENOENT, "no pending outbox entry");
	else
		*when = fw_pg_get_i64(r, 0, 0);
	PQclear(r);
	return ret;
}

/* Delete a delivered entry (from whichever node) and record when its route was
   delivered; -ENOENT when it is gone already. */
int fw_pg_outbox_delivered(struct fw_store *s, int64_t rowid, int64_t now)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], b[24];
	const char *v[2] = {fw_pg_i64(a, rowid), fw_pg_i64(b, now)};
	PGresult *r;
	int ret = 0;

	r = fw_pg_exec(p,
	               "WITH d AS (DELETE FROM outbox WHERE rowid = $1::bigint"
	               " RETURNING alert_id, output),"
	               " k AS (UPDATE alert_routes k SET delivered = $2::bigint FROM d"
	               " WHERE k.alert_id = d.alert_id AND k.output = d.output)"
	               " SELECT count(*) FROM d",
	               2, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	if (fw_pg_get_i64(r, 0, 0) == 0)
		ret = fw_pg_fail_msg(p, -ENOENT, "no such outbox entry");
	PQclear(r);
	return ret;
}

/* The condition of an outcome: the pending entry $1, not held by another node ($2). */
#define MINE "rowid = $1::bigint AND state = 0 AND (claimed_by IS NULL OR claimed_by = $2)"
/* ... and what every outcome does to the claim. */
#define UNCLAIM  "claimed_by = NULL, claim_until = 0"
#define NOT_MINE "no such pending outbox entry (or another node holds it)"

/* A failed attempt of a pending entry; ends the claim. */
int fw_pg_outbox_retry(struct fw_store *s, int64_t rowid, int64_t next_at, const char *error)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], b[24], e[FW_STORE_ERROR_MAX + 1];
	const char *v[4] = {fw_pg_i64(a, rowid), node_of(p), fw_pg_i64(b, next_at),
	                    error_text(error, e)};

	return change_one(p,
	                  "UPDATE outbox SET attempts = attempts + 1, next_at = $3::bigint,"
	                  " last_error = $4, " UNCLAIM " WHERE " MINE,
	                  4, v, NOT_MINE);
}

/* The last failed attempt of a pending entry: dead, attempts + 1; ends the claim. */
int fw_pg_outbox_kill(struct fw_store *s, int64_t rowid, const char *error)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], e[FW_STORE_ERROR_MAX + 1];
	const char *v[3] = {fw_pg_i64(a, rowid), node_of(p), error_text(error, e)};

	return change_one(p,
	                  "UPDATE outbox SET state = 1, attempts = attempts + 1, last_error = $3,"
	                  " " UNCLAIM " WHERE " MINE,
	                  3, v, NOT_MINE);
}

/* Hold a pending entry until next_at without an attempt; ends the claim. */
int fw_pg_outbox_hold(struct fw_store *s, int64_t rowid, int64_t next_at, const char *why)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], b[24], e[FW_STORE_ERROR_MAX + 1];
	const char *v[4] = {fw_pg_i64(a, rowid), node_of(p), fw_pg_i64(b, next_at),
	                    error_text(why, e)};

	return change_one(p,
	                  "UPDATE outbox SET next_at = $3::bigint,"
	                  " last_error = '" FW_OUTBOX_HELD "' || $4, " UNCLAIM " WHERE " MINE,
	                  4, v, NOT_MINE);
}

/* A pending entry becomes dead without an attempt; ends the claim. */
int fw_pg_outbox_expire(struct fw_store *s, int64_t rowid, const char *why)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], e[FW_STORE_ERROR_MAX + 1];
	const char *v[3] = {fw_pg_i64(a, rowid), node_of(p), error_text(why, e)};

	return change_one(p,
	                  "UPDATE outbox SET state = 1, last_error = $3, " UNCLAIM " WHERE " MINE,
	                  3, v, NOT_MINE);
}

/* Held entries of output become due at now (the output runs again). */
int fw_pg_outbox_release(struct fw_store *s, const char *output, int64_t now, int64_t *changed)
{
	struct fw_pg *p = fw_pg_of(s);
	char t[24];
	const char *v[2] = {output, fw_pg_i64(t, now)};
	int ret;

	if (output == NULL)
		return fw_pg_fail_msg(p, -EINVAL, "no output");
	if ((ret = fw_pg_check_key(p, output)) < 0)
		return ret;
	return fw_pg_cmd(p,
	                 "UPDATE outbox SET next_at = $2::bigint WHERE state = 0 AND output = $1"
	                 " AND next_at > $2::bigint AND last_error LIKE '" FW_OUTBOX_HELD "%'",
	                 2, v, changed);
}

/* Every entry of state (< 0: all) and output (NULL: all), in rowid order. */
int fw_pg_outbox_list(struct fw_store *s, int state, const char *output,
                      struct fw_outbox_entry **out, size_t *n)
{
	struct fw_pg *p = fw_pg_of(s);
	char st[24];
	const char *v[2] = {fw_pg_i64(st, state < 0 ? -1 : state), output};
	PGresult *r;
	int ret;

	if ((ret = check_opt_key(p, output)) < 0)
		return ret;
	r = fw_pg_exec(p,
	               "SELECT " OUTBOX_COLS " FROM outbox WHERE ($1::integer < 0 OR state ="
	               " $1::integer) AND ($2::text IS NULL OR output = $2) ORDER BY rowid",
	               2, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	return collect(p, r, out, n);
}

/* Make entries pending again, due now, attempts reset, claims ended; see store.h. */
int fw_pg_outbox_revive(struct fw_store *s, int64_t rowid, const char *output, int64_t now,
                        int64_t *changed)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], t[24];
	const char *v[3] = {fw_pg_i64(a, rowid), output, fw_pg_i64(t, now)};
	int ret;

	if (rowid < 0)
		return fw_pg_fail_msg(p, -EINVAL, "negative rowid");
	if ((ret = check_opt_key(p, output)) < 0)
		return ret;
	return fw_pg_cmd(p,
	                 "UPDATE outbox SET state = 0, attempts = 0, next_at = $3::bigint, " UNCLAIM
	                 " WHERE (($1::bigint > 0 AND rowid = $1::bigint) OR ($1::bigint = 0 AND"
	                 " state = 1)) AND ($2::text IS NULL OR output = $2)",
	                 3, v, changed);
}

/* Delete entries; see store.h. */
int fw_pg_outbox_drop(struct fw_store *s, int64_t rowid, const char *output, int64_t *changed)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24];
	const char *v[2] = {fw_pg_i64(a, rowid), output};
	int ret;

	if (rowid < 0)
		return fw_pg_fail_msg(p, -EINVAL, "negative rowid");
	if ((ret = check_opt_key(p, output)) < 0)
		return ret;
	return fw_pg_cmd(p,
	                 "DELETE FROM outbox WHERE (($1::bigint > 0 AND rowid = $1::bigint) OR"
	                 " ($1::bigint = 0 AND state = 1)) AND ($2::text IS NULL OR output = $2)",
	                 2, v, changed);
}

/* Two counts from sql (one row of two bigints) with its parameters; either pointer may be
   NULL. */
static int two_counts(struct fw_pg *p, const char *sql, int n, const char *const *v, int64_t *a,
                      int64_t *b)
{
	int ret = 0;
	PGresult *r = fw_pg_exec(p, sql, n, v, NULL, NULL, &ret);

	if (!r)
		return ret;
	if (a)
		*a = fw_pg_get_i64(r, 0, 0);
	if (b)
		*b = fw_pg_get_i64(r, 0, 1);
	PQclear(r);
	return 0;
}

/* Pending and dead counts of output (NULL: all outputs); either pointer may be NULL. */
int fw_pg_outbox_count(struct fw_store *s, const char *output, int64_t *pending, int64_t *dead)
{
	struct fw_pg *p = fw_pg_of(s);
	const char *v[1] = {output};
	int ret;

	if ((ret = check_opt_key(p, output)) < 0)
		return ret;
	return two_counts(p,
	                  "SELECT count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state"
	                  " = 1) FROM outbox WHERE $1::text IS NULL OR output = $1",
	                  1, v, pending, dead);
}

/* One result row of alert_rows into a; false when out of memory. */
static bool alert_row(const PGresult *r, int i, struct fw_alert_row *a)
{
	memset(a, 0, sizeof(*a));
	a->created = fw_pg_get_i64(r, i, 4);
	a->state = PQgetisnull(r, i, 7) ? FW_ALERT_DELIVERED : (int)fw_pg_get_i64(r, i, 7);
	a->attempts = fw_pg_get_i64(r, i, 8);
	a->delivered = fw_pg_get_i64(r, i, 10); /* NULL: 0 */
	return fw_pg_get_dup(r, i, 0, &a->alert_id) && fw_pg_get_dup(r, i, 1, &a->watchlist) &&
	       fw_pg_get_dup(r, i, 2, &a->feed) && fw_pg_get_dup(r, i, 3, &a->item_id) &&
	       fw_pg_get_dup(r, i, 5, &a->payload) && fw_pg_get_dup(r, i, 6, &a->output) &&
	       fw_pg_get_dup(r, i, 9, &a->last_error);
}

/* The alert history of `feedwatch alerts`; see store.h. */
int fw_pg_alert_rows(struct fw_store *s, int64_t since, const char *watchlist, size_t max,
                     struct fw_alert_row **out, size_t *n)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], m[24];
	const char *v[3] = {fw_pg_i64(a, since), watchlist,
	                    fw_pg_i64(m, max > INT64_MAX ? INT64_MAX : (int64_t)max)};
	struct fw_alert_row *rows = NULL;
	PGresult *r;
	int ret = 0, i, len;

	if (watchlist && !fw_pg_utf8(watchlist, strlen(watchlist)))
		return fw_pg_fail_msg(p, -EINVAL, "watchlist not valid UTF-8");
	r = fw_pg_exec(
	    p,
	    "SELECT a.id, a.watchlist, a.feed, a.item_id, a.created, t.payload, r.output,"
	    " o.state, o.attempts, o.last_error, r.delivered FROM"
	    " (SELECT * FROM alerts WHERE created >= $1::bigint AND ($2::text IS NULL"
	    "  OR watchlist = $2) ORDER BY created DESC, id COLLATE \"C\""
	    "  LIMIT $3::bigint) a"
	    " LEFT JOIN alert_texts t ON t.alert_id = a.id"
	    " LEFT JOIN alert_routes r ON r.alert_id = a.id"
	    " LEFT JOIN outbox o ON o.alert_id = a.id AND o.output = r.output"
	    " ORDER BY a.created DESC, a.id COLLATE \"C\", r.output COLLATE \"C\"",
	    3, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	len = PQntuples(r);
	if (len > 0 && !(rows = calloc((size_t)len, sizeof(*rows)))) {
		PQclear(r);
		return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	}
	for (i = 0; i < len; i++)
		if (!alert_row(r, i, &rows[i])) {
			PQclear(r);
			fw_alert_rows_free(rows, (size_t)i + 1);
			return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
		}
	PQclear(r);
	*out = rows;
	*n = (size_t)len;
	return 0;
}

/* The highest rowid in the outbox now (0 when empty). */
int fw_pg_outbox_last_rowid(struct fw_store *s, int64_t *rowid)
{
	return two_counts(fw_pg_of(s), "SELECT coalesce(max(rowid), 0), 0 FROM outbox", 0, NULL,
	                  rowid, NULL);
}

/* Pending and dead entries with a rowid above after. */
int fw_pg_outbox_count_after(struct fw_store *s, int64_t after, int64_t *pending, int64_t *dead)
{
	char a[24];
	const char *v[1] = {fw_pg_i64(a, after)};

	return two_counts(fw_pg_of(s),
	                  "SELECT count(*) FILTER (WHERE state = 0), count(*) FILTER (WHERE state"
	                  " = 1) FROM outbox WHERE rowid > $1::bigint",
	                  1, v, pending, dead);
}
