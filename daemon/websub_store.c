/* websub_store.c - the store's WebSub subscriptions (table websub_subs, schema 6; push
   figures since schema 9). */
#include <errno.h>

#include "store_int.h"

/* Bind w to q, its parameters numbered as ST_WEBSUB_SAVE numbers them (?1 token ... ?11
   bad_signatures), and step it. row false: only the key and the push figures (?1, ?9 to
   ?11: ST_WEBSUB_COUNTS). 0 or -errno. */
static int row_step(struct fw_sqlite *s, sqlite3_stmt *q, const struct fw_store_websub *w, bool row)
{
	const char *keys[] = {w->feed, w->hub, w->topic, w->secret, w->state};
	int ret = fw_store_bind_key(s, q, 1, w->token);

	for (int i = 0; row && ret == 0 && i < 5; i++)
		ret = fw_store_bind_key(s, q, i + 2, keys[i]);
	if (ret < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	if (row) {
		sqlite3_bind_int64(q, 7, w->lease_end);
		sqlite3_bind_int64(q, 8, w->updated);
	}
	sqlite3_bind_int64(q, 9, w->last_push);
	sqlite3_bind_int64(q, 10, w->pushes);
	sqlite3_bind_int64(q, 11, w->bad_signatures);
	return fw_store_step_done(s, q);
}

/* See store.h. */
int fw_sqlite_websub_save(struct fw_store *base, const struct fw_store_websub *w)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_WEBSUB_SAVE, &ret);

	return q ? row_step(s, q, w, true) : ret;
}

/* See store.h. */
int fw_sqlite_websub_delete(struct fw_store *base, const char *token)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_stmt *q = NULL;
	int rc =
	    sqlite3_prepare_v2(s->db, "DELETE FROM websub_subs WHERE token = ?1", -1, &q, NULL);
	int ret;

	if (rc != SQLITE_OK)
		return fw_store_fail(s, rc);
	if ((ret = fw_store_bind_key(s, q, 1, token)) < 0) {
		sqlite3_finalize(q);
		return ret;
	}
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : fw_store_fail(s, rc);
}

/* See store.h. */
int fw_sqlite_websub_counts(struct fw_store *base, const char *token, int64_t last_push,
                            int64_t pushes, int64_t bad_signatures)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	struct fw_store_websub w = {.token = token,
	                            .last_push = last_push,
	                            .pushes = pushes,
	                            .bad_signatures = bad_signatures};
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_WEBSUB_COUNTS, &ret);

	return q ? row_step(s, q, &w, false) : ret;
}

static const char *col(sqlite3_stmt *q, int i)
{
	const char *v = (const char *)sqlite3_column_text(q, i);

	return v ? v : "";
}

/* See store.h. */
int fw_sqlite_websub_each(struct fw_store *base, fw_store_websub_cb cb, void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	static const char sql[] =
	    "SELECT token, feed, hub, topic, secret, state, lease_end, updated, last_push,"
	    " pushes, bad_signatures FROM websub_subs ORDER BY feed, token";
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL), ret = 0;

	if (rc != SQLITE_OK)
		return fw_store_fail(s, rc);
	while (ret == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct fw_store_websub w = {.token = col(q, 0),
		                            .feed = col(q, 1),
		                            .hub = col(q, 2),
		                            .topic = col(q, 3),
		                            .secret = col(q, 4),
		                            .state = col(q, 5),
		                            .lease_end = sqlite3_column_int64(q, 6),
		                            .updated = sqlite3_column_int64(q, 7),
		                            .last_push = sqlite3_column_int64(q, 8),
		                            .pushes = sqlite3_column_int64(q, 9),
		                            .bad_signatures = sqlite3_column_int64(q, 10)};

		ret = cb(&w, arg);
	}
	if (ret == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = fw_store_fail(s, rc);
	sqlite3_finalize(q);
	return ret;
}
