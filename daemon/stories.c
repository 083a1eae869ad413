/*
 * stories.c - the stories in the SQLite store (store.h, schema version 4): stories, their
 * items with what rebuilds the index at start, the watchlists each item matched, and per
 * story and watchlist the state of its alerts. Reaches SQLite through store_int.h only;
 * the hot path (one new item) uses cached statements, the commands' listings prepare
 * their own.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define FW_TIME_NONE_ INT64_MIN /* item.h's FW_TIME_NONE; the store includes no item.h */
#define BODY_MAX      4096
#define TITLE_MAX     4096
#define LINK_MAX      8192

void fw_story_row_clear(struct fw_story_row *r)
{
	free(r->title);
	memset(r, 0, sizeof(*r));
}

void fw_store_story_item_clear(struct fw_story_item_row *r)
{
	free(r->feed);
	free(r->item);
	free(r->title);
	free(r->link);
	free(r->entities);
	free(r->explain);
	free((void *)r->features);
	memset(r, 0, sizeof(*r));
}

static int step_row(struct fw_sqlite *s, sqlite3_stmt *q, bool *row)
{
	int rc = sqlite3_step(q);

	*row = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fw_store_fail(s, rc);
}

/* The id the next story item gets: read once, then counted here (one writer per store). */
static int next_id(struct fw_sqlite *s, sqlite3_int64 *id)
{
	int ret = 0;
	sqlite3_stmt *q;
	bool row;

	if (s->story_next == 0) {
		if ((q = fw_store_prepare(s, ST_STORY_NEXT_ID, &ret)) == NULL)
			return ret;
		if ((ret = step_row(s, q, &row)) == 0)
			s->story_next = row ? sqlite3_column_int64(q, 0) : 1;
		fw_store_stmt_done(q);
		if (ret < 0)
			return ret;
	}
	*id = s->story_next++;
	return 0;
}

static int bind_item(struct fw_sqlite *s, sqlite3_stmt *q, const struct fw_story_item_row *r,
                     const char *sid)
{
	int ret;

	if ((ret = fw_store_bind_text(s, q, 3, sid, 64)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 4, r->feed)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 5, r->item)) < 0 ||
	    (ret = fw_store_bind_text(s, q, 6, r->title ? r->title : "", TITLE_MAX)) < 0 ||
	    (ret = fw_store_bind_text(
	         s, q, 7, r->link && strlen(r->link) <= LINK_MAX ? r->link : NULL, LINK_MAX)) < 0 ||
	    (ret = fw_store_bind_text(s, q, 12, r->entities, BODY_MAX)) < 0)
		return ret;
	if (r->published != FW_TIME_NONE_)
		sqlite3_bind_int64(q, 8, r->published);
	sqlite3_bind_int64(q, 9, r->seen);
	if (r->matched > 0) {
		sqlite3_bind_int64(q, 10, r->matched);
		sqlite3_bind_double(q, 11, r->score);
	}
	sqlite3_bind_blob(q, 13, r->features, (int)(r->n_features * sizeof(uint32_t)),
	                  SQLITE_STATIC);
	return 0;
}

int fw_sqlite_story_add_item(struct fw_store *base, const struct fw_story_item_row *r,
                             const char *sid, int64_t *id, int64_t *story)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	sqlite3_int64 n = 0;
	sqlite3_stmt *q;
	int ret = next_id(s, &n);

	if (ret < 0)
		return ret;
	q = fw_store_prepare(s, ST_STORY_ITEM_ADD, &ret);
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, n);
	sqlite3_bind_int64(q, 2, r->story > 0 ? r->story : n); /* a first item is its story */
	if ((ret = bind_item(s, q, r, r->story > 0 ? NULL : sid)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	if ((ret = fw_store_step_done(s, q)) < 0)
		return ret;
	*id = n;
	*story = r->story > 0 ? r->story : n;
	return 0;
}

/* Columns sid, title, first_seen, last_seen, n_items, n_feeds from col 1 (col 0: id). */
static int read_story(struct fw_sqlite *s, sqlite3_stmt *q, int col, struct fw_story_row *out)
{
	const unsigned char *sid = sqlite3_column_text(q, col);

	snprintf(out->sid, sizeof(out->sid), "%s", sid ? (const char *)sid : "");
	if (!fw_store_col_dup(q, col + 1, &out->title))
		return fw_store_fail_msg(s, -ENOMEM, "out of memory");
	out->first_seen = sqlite3_column_int64(q, col + 2);
	out->last_seen = sqlite3_column_int64(q, col + 3);
	out->n_items = sqlite3_column_int64(q, col + 4);
	out->n_feeds = sqlite3_column_int64(q, col + 5);
	return 0;
}

int fw_sqlite_story_get(struct fw_store *base, int64_t id, struct fw_story_row *out)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_STORY_GET, &ret);
	bool row;

	memset(out, 0, sizeof(*out));
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, id);
	if ((ret = step_row(s, q, &row)) == 0 && (!row || sqlite3_column_type(q, 0) == SQLITE_NULL))
		ret = fw_store_fail_msg(s, -ENOENT, "no such story");
	if (ret == 0) {
		out->id = id;
		ret = read_story(s, q, 0, out);
	}
	fw_store_stmt_done(q);
	return ret;
}

int fw_sqlite_story_match(struct fw_store *base, int64_t item, const char *watchlist,
                          const char *explain)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_STORY_MATCH, &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, item);
	if ((ret = fw_store_bind_key(s, q, 2, watchlist)) < 0 ||
	    (ret = fw_store_bind_text(s, q, 3, explain, FW_STORE_PAYLOAD_MAX)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	return fw_store_step_done(s, q);
}

int fw_sqlite_story_watch_get(struct fw_store *base, int64_t story, const char *watchlist,
                              struct fw_story_watch *w)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_STORY_WATCH_GET, &ret);
	bool row;

	memset(w, 0, sizeof(*w));
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, story);
	if ((ret = fw_store_bind_key(s, q, 2, watchlist)) == 0 &&
	    (ret = step_row(s, q, &row)) == 0 && !row)
		ret = -ENOENT;
	if (ret == 0) {
		const unsigned char *a = sqlite3_column_text(q, 0);

		snprintf(w->first_alert, sizeof(w->first_alert), "%s", a ? (const char *)a : "");
		w->last_alert = sqlite3_column_int64(q, 1);
		w->last_item = sqlite3_column_int64(q, 2);
		w->pending = sqlite3_column_int64(q, 3);
		w->updates = sqlite3_column_int64(q, 4);
	}
	fw_store_stmt_done(q);
	return ret;
}

int fw_sqlite_story_watch_set(struct fw_store *base, int64_t story, const char *watchlist,
                              const struct fw_story_watch *w)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_STORY_WATCH_SET, &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, story);
	if ((ret = fw_store_bind_key(s, q, 2, watchlist)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 3, w->first_alert)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	sqlite3_bind_int64(q, 4, w->last_alert);
	sqlite3_bind_int64(q, 5, w->last_item);
	sqlite3_bind_int64(q, 6, w->pending);
	sqlite3_bind_int64(q, 7, w->updates);
	return fw_store_step_done(s, q);
}

int fw_sqlite_story_due(struct fw_store *base, int64_t before, size_t max, fw_store_story_due_cb cb,
                        void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0, rc = SQLITE_DONE;
	sqlite3_stmt *q = fw_store_prepare(s, ST_STORY_DUE, &ret);
	size_t n = 0;
	struct due {
		int64_t story;
		char *wl;
	} *v = NULL;

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, before);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)max);
	v = calloc(max + 1, sizeof(*v));
	if (v == NULL) {
		fw_store_stmt_done(q);
		return fw_store_fail_msg(s, -ENOMEM, "out of memory");
	}
	/* Collected first: the callback writes to the tables the statement reads. */
	while (n < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		v[n].story = sqlite3_column_int64(q, 0);
		if (!fw_store_col_dup(q, 1, &v[n].wl) || v[n].wl == NULL) {
			ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc); /* a read that failed is no "none due" */
	fw_store_stmt_done(q);
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = cb(v[i].story, v[i].wl, arg);
	for (size_t i = 0; i < n; i++)
		free(v[i].wl);
	free(v);
	return ret;
}

/* Read the item columns (id, feed, item, title, link, published, seen) from col 0. */
static bool read_item_head(sqlite3_stmt *q, struct fw_story_item_row *r)
{
	r->id = sqlite3_column_int64(q, 0);
	r->published =
	    sqlite3_column_type(q, 5) == SQLITE_NULL ? FW_TIME_NONE_ : sqlite3_column_int64(q, 5);
	r->seen = sqlite3_column_int64(q, 6);
	return fw_store_col_dup(q, 1, &r->feed) && fw_store_col_dup(q, 2, &r->item) &&
	       fw_store_col_dup(q, 3, &r->title) && fw_store_col_dup(q, 4, &r->link);
}

/* Step q, hand each row (read by fill) to cb. */
static int each_item(struct fw_sqlite *s, sqlite3_stmt *q,
                     bool (*fill)(sqlite3_stmt *, struct fw_story_item_row *),
                     fw_store_story_item_cb cb, void *arg)
{
	int rc = SQLITE_DONE, ret = 0;

	while (ret == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct fw_story_item_row r = {0};

		if (!fill(q, &r))
			ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
		else
			ret = cb(&r, arg);
		fw_store_story_item_clear(&r);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
	return ret;
}

static bool read_pending(sqlite3_stmt *q, struct fw_story_item_row *r)
{
	return read_item_head(q, r) && fw_store_col_dup(q, 7, &r->explain);
}

int fw_sqlite_story_pending(struct fw_store *base, int64_t story, const char *watchlist,
                            int64_t after, fw_store_story_item_cb cb, void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_STORY_PENDING, &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, story);
	if ((ret = fw_store_bind_key(s, q, 2, watchlist)) == 0) {
		sqlite3_bind_int64(q, 3, after);
		ret = each_item(s, q, read_pending, cb, arg);
	}
	fw_store_stmt_done(q);
	return ret;
}

/* id, story, seen, features. */
static bool read_load(sqlite3_stmt *q, struct fw_story_item_row *r)
{
	const void *blob = sqlite3_column_blob(q, 3);
	size_t n = (size_t)sqlite3_column_bytes(q, 3) / sizeof(uint32_t);
	uint32_t *f;

	r->id = sqlite3_column_int64(q, 0);
	r->story = sqlite3_column_int64(q, 1);
	r->seen = sqlite3_column_int64(q, 2);
	if (n == 0 || blob == NULL)
		return true;
	f = malloc(n * sizeof(*f));
	if (f == NULL)
		return false;
	memcpy(f, blob, n * sizeof(*f));
	r->features = f;
	r->n_features = n;
	return true;
}

int fw_sqlite_story_load(struct fw_store *base, int64_t since, int64_t limit,
                         fw_store_story_item_cb cb, void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_STORY_LOAD, &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, since);
	sqlite3_bind_int64(q, 2, limit > 0 ? limit - 1 : -1); /* -1: no limit, no search */
	ret = each_item(s, q, read_load, cb, arg);
	fw_store_stmt_done(q);
	return ret;
}

/* One writer per SQLite store (the daemon's lock): once this store has counted its ids,
   nothing above the last one it gave exists, and the answer costs no statement. */
int fw_sqlite_story_added(struct fw_store *base, int64_t after, int64_t since,
                          fw_store_story_item_cb cb, void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q;

	if (s->story_next != 0 && after >= s->story_next - 1)
		return 0;
	q = fw_store_prepare_once(s,
	                          "SELECT id, story, seen, features FROM story_items WHERE id > ?1"
	                          " AND seen >= ?2 ORDER BY id",
	                          &ret);
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, after);
	sqlite3_bind_int64(q, 2, since);
	ret = each_item(s, q, read_load, cb, arg);
	sqlite3_finalize(q);
	return ret;
}

/* id, feed, item, title, link, published, seen, story, matched, score, entities. */
static bool read_full(sqlite3_stmt *q, struct fw_story_item_row *r)
{
	r->story = sqlite3_column_int64(q, 7);
	r->matched = sqlite3_column_int64(q, 8);
	r->score = sqlite3_column_double(q, 9);
	return read_item_head(q, r) && fw_store_col_dup(q, 10, &r->entities);
}

int fw_sqlite_story_items(struct fw_store *base, int64_t story, fw_store_story_item_cb cb,
                          void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q =
	    fw_store_prepare_once(s,
	                          "SELECT id, feed, item, title, link, published, seen, story,"
	                          " matched, score, entities FROM story_items "
	                          "WHERE story = ?1 ORDER BY id",
	                          &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, story);
	ret = each_item(s, q, read_full, cb, arg);
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_story_list(struct fw_store *base, int64_t since, fw_store_story_cb cb, void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0, rc = SQLITE_DONE;
	sqlite3_stmt *q =
	    fw_store_prepare_once(s,
	                          "SELECT f.id, f.sid, f.title, f.seen, max(i.seen), count(*),"
	                          " count(DISTINCT i.feed) FROM story_items f JOIN story_items"
	                          " i ON i.story = f.id WHERE f.sid IS NOT NULL GROUP BY f.id"
	                          " HAVING max(i.seen) >= ?1 ORDER BY 5 DESC, 1 DESC",
	                          &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, since);
	while (ret == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct fw_story_row r = {.id = sqlite3_column_int64(q, 0)};

		if ((ret = read_story(s, q, 1, &r)) == 0)
			ret = cb(&r, arg);
		fw_story_row_clear(&r);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_story_find(struct fw_store *base, const char *sid, int64_t *id)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q =
	    fw_store_prepare_once(s, "SELECT id FROM story_items WHERE sid = ?1", &ret);
	bool row;

	if (!q)
		return ret;
	if ((ret = fw_store_bind_key(s, q, 1, sid)) == 0 && (ret = step_row(s, q, &row)) == 0) {
		if (row)
			*id = sqlite3_column_int64(q, 0);
		else
			ret = fw_store_fail_msg(s, -ENOENT, "no such story");
	}
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_story_watchlists(struct fw_store *base, int64_t story, char **out)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare_once(
	    s,
	    "SELECT coalesce(group_concat(w, char(10)), '') FROM (SELECT DISTINCT "
	    "m.watchlist AS w FROM story_matches m JOIN story_items i ON i.id = "
	    "m.item WHERE i.story = ?1 ORDER BY 1)",
	    &ret);
	bool row;

	*out = NULL;
	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, story);
	if ((ret = step_row(s, q, &row)) == 0 && (!row || !fw_store_col_dup(q, 0, out)))
		ret = fw_store_fail_msg(s, -ENOMEM, "out of memory");
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_story_next_due(struct fw_store *base, int64_t *first)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare_once(
	    s, "SELECT min(last_alert) FROM story_watch WHERE pending > 0", &ret);
	bool row;

	if (!q)
		return ret;
	if ((ret = step_row(s, q, &row)) == 0) {
		if (!row || sqlite3_column_type(q, 0) == SQLITE_NULL)
			ret = -ENOENT;
		else
			*first = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_story_count(struct fw_store *base, int64_t since, int64_t *n)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0;
	sqlite3_stmt *q =
	    fw_store_prepare_once(s,
	                          "SELECT count(*) FROM (SELECT story FROM story_items "
	                          "GROUP BY story HAVING max(seen) >= ?1)",
	                          &ret);
	bool row;

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, since);
	if ((ret = step_row(s, q, &row)) == 0)
		*n = row ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_story_prune(struct fw_store *base, int64_t before, int64_t since,
                          int64_t items_before, int64_t *deleted)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	/* quiet: the stories with an item seen from ?3 on whose last item is older than ?1 (the
	   seen index reads those items; each story's own items its last); a story that goes on
	   loses its items older than ?2 but its first (which holds its id and title) */
	static const char *const sql[] = {
	    "CREATE TEMP TABLE IF NOT EXISTS quiet (story INTEGER PRIMARY KEY)",
	    "DELETE FROM temp.quiet",
	    ("INSERT INTO temp.quiet SELECT a.story FROM story_items a WHERE a.seen >= ?3 AND "
	     "a.seen < ?1 GROUP BY a.story HAVING (SELECT max(b.seen) FROM story_items b "
	     "WHERE b.story = a.story) < ?1"),
	    ("DELETE FROM story_matches WHERE item IN (SELECT id FROM story_items WHERE story IN "
	     "(SELECT story FROM temp.quiet) OR (seen < ?2 AND sid IS NULL))"),
	    "DELETE FROM story_watch WHERE story IN (SELECT story FROM temp.quiet)",
	    ("DELETE FROM story_items WHERE story IN (SELECT story FROM temp.quiet) OR "
	     "(seen < ?2 AND sid IS NULL)"),
	};
	int ret = 0;

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]) && ret == 0; i++) {
		sqlite3_stmt *q = fw_store_prepare_once(s, sql[i], &ret);

		if (!q)
			break;
		if (sqlite3_bind_parameter_count(q) >= 1)
			sqlite3_bind_int64(q, 1, before);
		if (sqlite3_bind_parameter_count(q) >= 2)
			sqlite3_bind_int64(q, 2, items_before);
		if (sqlite3_bind_parameter_count(q) >= 3)
			sqlite3_bind_int64(q, 3, since);
		ret = fw_store_step_done(s, q);
		if (ret == 0 && deleted && i == 2)
			*deleted = sqlite3_changes(s->db);
		sqlite3_finalize(q);
	}
	return ret;
}
