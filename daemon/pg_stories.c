/*
 * pg_stories.c - the PostgreSQL store: the stories (store.h), as stories.c keeps them in
 * SQLite: story_items (a story is the items with the same `story`, the id of its first
 * item, which holds the public id), story_matches (the watchlists each item matched, and
 * why), story_watch (per story and watchlist grouped by story, what its alerts covered).
 *
 * Many nodes place items in the same stories. Each keeps an index of the window in memory
 * (story.c) and must see the items the others added before it places its own, or one
 * story polled on two nodes becomes two. So story items are added under one advisory
 * lock per database (FW_PG_STORY_LOCK), held to the end of the adding transaction:
 * nodes place and add one at a time, ids (one sequence, no cache) grow in the order the
 * items commit, and fw_store_story_added taken under the same lock returns every item
 * added since a node last looked. The story updates (fw_store_story_due) are read under
 * the same lock, so that two nodes never raise the same update, nor write a story's
 * state over each other.
 */
#include "pg_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FW_TIME_NONE_ INT64_MIN /* item.h's FW_TIME_NONE; the store includes no item.h */
#define BODY_MAX      4096      /* as stories.c */
#define TITLE_MAX     4096
#define LINK_MAX      8192
#define SID_MAX       64
#define PAGE          "5000" /* rows a query reads of the window... */
#define PAGE_ROWS     5000   /* ... as a number */

/* The advisory lock story items are added under: "FWST". */
#define FW_PG_STORY_LOCK "1180128084"

/* Ids come from their own sequence, without a cache: a cache would hand each session its
   own block, and ids would no longer grow in commit order across nodes. */
const char fw_pg_ddl_stories[] =
    "CREATE SEQUENCE IF NOT EXISTS story_item_ids AS bigint CACHE 1;"
    "CREATE TABLE IF NOT EXISTS story_items ("
    " id bigint PRIMARY KEY DEFAULT nextval('story_item_ids'), story bigint NOT NULL,"
    " sid text, feed text NOT NULL, item text NOT NULL, title text NOT NULL, link text,"
    " published bigint, seen bigint NOT NULL, matched bigint, score double precision,"
    " entities text, features bytea);"
    "ALTER SEQUENCE story_item_ids OWNED BY story_items.id;"
    "CREATE INDEX IF NOT EXISTS story_items_story ON story_items (story);"
    "CREATE INDEX IF NOT EXISTS story_items_seen ON story_items (seen, id);"
    "CREATE UNIQUE INDEX IF NOT EXISTS story_items_sid ON story_items (sid)"
    " WHERE sid IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS story_matches (item bigint NOT NULL, watchlist text NOT NULL,"
    " explain text, PRIMARY KEY (item, watchlist));"
    "CREATE TABLE IF NOT EXISTS story_watch (story bigint NOT NULL, watchlist text NOT NULL,"
    " first_alert text NOT NULL, last_alert bigint NOT NULL, last_item bigint NOT NULL,"
    " pending bigint NOT NULL DEFAULT 0, updates bigint NOT NULL DEFAULT 0,"
    " PRIMARY KEY (story, watchlist));"
    "CREATE INDEX IF NOT EXISTS story_watch_due ON story_watch (last_alert)"
    " WHERE pending > 0;";

/*
 * The statements of a poll (pg_int.h: prepared per connection): the lock of
 * fw_store_story_added (once a poll with new items), each new item's row, and for an item
 * that matches, its watchlists, its story and the story's state per watchlist.
 * fw_store_story_added's read is not prepared: a prepared statement is planned once for any
 * id, and for `id > $1` that plan read the whole table (bench/cluster: 11.7 ms a poll
 * against 1.3 ms), where a plan for the id at hand reads the few rows past it in the key.
 */
static const struct fw_pg_stmt lock_stmt = {
    "fw_story_lock", "SELECT pg_advisory_xact_lock(" FW_PG_STORY_LOCK ")", 0, true};
/* The lock (again: it counts) before the id is drawn, so that even an item added without
   fw_store_story_added first keeps ids in commit order. A sid taken answers no row. */
static const struct fw_pg_stmt add_stmt = {
    "fw_story_add",
    "WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock(" FW_PG_STORY_LOCK ")),"
    " n AS (SELECT nextval('story_item_ids') AS id FROM l) "
    "INSERT INTO story_items (id, story, sid, feed, item, title, link, published, seen,"
    " matched, score, entities, features) "
    "SELECT n.id, coalesce($1::bigint, n.id), $2, $3, $4, $5, $6, $7::bigint, $8::bigint,"
    " $9::bigint, $10::double precision, $11, $12::bytea FROM n "
    "ON CONFLICT (sid) WHERE sid IS NOT NULL DO NOTHING RETURNING id, story",
    12, true};
static const struct fw_pg_stmt match_stmt = {
    "fw_story_match",
    "INSERT INTO story_matches (item, watchlist, explain) VALUES ($1, $2, $3)"
    " ON CONFLICT DO NOTHING",
    3, true};
static const struct fw_pg_stmt get_stmt = {
    "fw_story_get",
    "SELECT f.sid, f.title, f.seen, max(i.seen), count(*), count(DISTINCT i.feed)"
    " FROM story_items f JOIN story_items i ON i.story = f.id WHERE f.id = $1 GROUP BY f.id",
    1, true};
static const struct fw_pg_stmt watch_get_stmt = {
    "fw_story_watch_get",
    "SELECT first_alert, last_alert, last_item, pending, updates FROM story_watch"
    " WHERE story = $1 AND watchlist = $2",
    2, true};
static const struct fw_pg_stmt watch_set_stmt = {
    "fw_story_watch_set",
    "INSERT INTO story_watch (story, watchlist, first_alert, last_alert, last_item, pending,"
    " updates) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (story, watchlist) DO UPDATE"
    " SET first_alert = excluded.first_alert, last_alert = excluded.last_alert,"
    " last_item = excluded.last_item, pending = excluded.pending, updates = excluded.updates",
    7, true};
const struct fw_pg_stmt *const fw_pg_stmts_stories[] = {
    &lock_stmt, &add_stmt, &match_stmt, &get_stmt, &watch_get_stmt, &watch_set_stmt, NULL};

/* Take the story lock until the end of the open transaction (none: nothing to hold). */
static int story_lock(struct fw_pg *p)
{
	if (!p->in_tx)
		return 0;
	return fw_pg_run_cmd(p, &lock_stmt, NULL, NULL);
}

static int check_text(struct fw_pg *p, const char *v, size_t max)
{
	if (v && strnlen(v, max + 1) > max)
		return fw_pg_fail_msg(p, -E2BIG, "string longer than the store accepts");
	return 0;
}

static int check_item(struct fw_pg *p, const struct fw_story_item_row *r, const char *sid)
{
	int ret;

	if ((ret = check_text(p, sid, SID_MAX)) < 0 || (ret = fw_pg_check_key(p, r->feed)) < 0 ||
	    (ret = fw_pg_check_key(p, r->item)) < 0 ||
	    (ret = check_text(p, r->title ? r->title : "", TITLE_MAX)) < 0 ||
	    (ret = check_text(p, r->entities, BODY_MAX)) < 0)
		return ret;
	return 0;
}

int fw_pg_story_add_item(struct fw_store *s, const struct fw_story_item_row *r, const char *sid,
                         int64_t *id, int64_t *story)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[5][24], score[40];
	const char *v[12];
	int len[12] = {0}, fmt[12] = {0};
	PGresult *res;
	int ret;

	if (r->story > 0)
		sid = NULL; /* only a story's first item holds its public id */
	if ((ret = check_item(p, r, sid)) < 0)
		return ret;
	v[0] = r->story > 0 ? fw_pg_i64(b[0], r->story) : NULL;
	v[1] = sid;
	v[2] = r->feed;
	v[3] = r->item;
	v[4] = r->title ? r->title : "";
	v[5] = r->link && strlen(r->link) <= LINK_MAX ? r->link : NULL;
	v[6] = r->published != FW_TIME_NONE_ ? fw_pg_i64(b[1], r->published) : NULL;
	v[7] = fw_pg_i64(b[2], r->seen);
	v[8] = r->matched > 0 ? fw_pg_i64(b[3], r->matched) : NULL;
	snprintf(score, sizeof(score), "%.17g", r->score);
	v[9] = r->matched > 0 ? score : NULL;
	v[10] = r->entities;
	/* the features as bytes (binary format): the names mask, then the hashes */
	v[11] = r->features && r->n_features > 0 ? (const char *)r->features : NULL;
	len[11] = (int)(r->n_features * sizeof(uint32_t));
	fmt[11] = 1;
	res = fw_pg_run(p, &add_stmt, v, len, fmt, &ret);
	if (!res)
		return ret;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return fw_pg_fail_msg(p, -EEXIST, "a story with this public id exists");
	}
	*id = fw_pg_get_i64(res, 0, 0);
	*story = fw_pg_get_i64(res, 0, 1);
	PQclear(res);
	return 0;
}

/* Columns sid, title, first_seen, last_seen, n_items, n_feeds of row from col. */
static int read_story(struct fw_pg *p, const PGresult *r, int row, int col,
                      struct fw_story_row *out)
{
	const char *sid = fw_pg_get_str(r, row, col);

	snprintf(out->sid, sizeof(out->sid), "%s", sid ? sid : "");
	if (!fw_pg_get_dup(r, row, col + 1, &out->title))
		return fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	out->first_seen = fw_pg_get_i64(r, row, col + 2);
	out->last_seen = fw_pg_get_i64(r, row, col + 3);
	out->n_items = fw_pg_get_i64(r, row, col + 4);
	out->n_feeds = fw_pg_get_i64(r, row, col + 5);
	return 0;
}

int fw_pg_story_get(struct fw_store *s, int64_t id, struct fw_story_row *out)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[24];
	const char *v[1] = {fw_pg_i64(b, id)};
	int ret = 0;
	PGresult *r;

	memset(out, 0, sizeof(*out));
	r = fw_pg_run(p, &get_stmt, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	if (PQntuples(r) != 1)
		ret = fw_pg_fail_msg(p, -ENOENT, "no such story");
	else {
		out->id = id;
		ret = read_story(p, r, 0, 0, out);
	}
	PQclear(r);
	return ret;
}

int fw_pg_story_match(struct fw_store *s, int64_t item, const char *watchlist, const char *explain)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[24];
	const char *v[3] = {fw_pg_i64(b, item), watchlist, explain};
	int ret;

	if ((ret = fw_pg_check_key(p, watchlist)) < 0 ||
	    (ret = check_text(p, explain, FW_STORE_PAYLOAD_MAX)) < 0)
		return ret;
	return fw_pg_run_cmd(p, &match_stmt, v, NULL);
}

int fw_pg_story_watch_get(struct fw_store *s, int64_t story, const char *watchlist,
                          struct fw_story_watch *w)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[24];
	const char *v[2] = {fw_pg_i64(b, story), watchlist};
	int ret = 0;
	PGresult *r;

	memset(w, 0, sizeof(*w));
	if ((ret = fw_pg_check_key(p, watchlist)) < 0)
		return ret;
	r = fw_pg_run(p, &watch_get_stmt, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	if (PQntuples(r) != 1)
		ret = -ENOENT;
	else {
		const char *a = fw_pg_get_str(r, 0, 0);

		snprintf(w->first_alert, sizeof(w->first_alert), "%s", a ? a : "");
		w->last_alert = fw_pg_get_i64(r, 0, 1);
		w->last_item = fw_pg_get_i64(r, 0, 2);
		w->pending = fw_pg_get_i64(r, 0, 3);
		w->updates = fw_pg_get_i64(r, 0, 4);
	}
	PQclear(r);
	return ret;
}

int fw_pg_story_watch_set(struct fw_store *s, int64_t story, const char *watchlist,
                          const struct fw_story_watch *w)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[5][24];
	const char *v[7] = {fw_pg_i64(b[0], story),
	                    watchlist,
	                    w->first_alert,
	                    fw_pg_i64(b[1], w->last_alert),
	                    fw_pg_i64(b[2], w->last_item),
	                    fw_pg_i64(b[3], w->pending),
	                    fw_pg_i64(b[4], w->updates)};
	int ret;

	if ((ret = fw_pg_check_key(p, watchlist)) < 0 ||
	    (ret = fw_pg_check_key(p, w->first_alert)) < 0)
		return ret;
	return fw_pg_run_cmd(p, &watch_set_stmt, v, NULL);
}

int fw_pg_story_next_due(struct fw_store *s, int64_t *first)
{
	struct fw_pg *p = fw_pg_of(s);
	int ret = 0;
	PGresult *r = fw_pg_exec(p, "SELECT min(last_alert) FROM story_watch WHERE pending > 0", 0,
	                         NULL, NULL, NULL, &ret);

	if (!r)
		return ret;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
		ret = -ENOENT;
	else
		*first = fw_pg_get_i64(r, 0, 0);
	PQclear(r);
	return ret;
}

/* Under the story lock: a node that raises an update holds it until its transaction
   ends, with the story's state advanced, so another node reads that state, not the one
   before (and the update's alert id, from the story and the update's serial, is the last
   guard: the alerts' key). */
int fw_pg_story_due(struct fw_store *s, int64_t before, size_t max, fw_store_story_due_cb cb,
                    void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[2][24];
	const char *v[2] = {fw_pg_i64(b[0], before),
	                    fw_pg_i64(b[1], max > INT64_MAX ? INT64_MAX : (int64_t)max)};
	int ret = story_lock(p), n;
	PGresult *r;
	int64_t *story;
	char **wl;

	if (ret < 0)
		return ret;
	r = fw_pg_exec(p,
	               "SELECT story, watchlist FROM story_watch WHERE pending > 0 AND last_alert"
	               " <= $1 ORDER BY last_alert, story, watchlist COLLATE \"C\" LIMIT $2",
	               2, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	/* copied out first: the callback runs statements of its own on the connection */
	n = PQntuples(r);
	story = calloc((size_t)n + 1, sizeof(*story));
	wl = calloc((size_t)n + 1, sizeof(*wl));
	for (int i = 0; story && wl && i < n; i++) {
		story[i] = fw_pg_get_i64(r, i, 0);
		if (!fw_pg_get_dup(r, i, 1, &wl[i]) || !wl[i]) {
			n = i;
			ret = fw_pg_fail_msg(p, -ENOMEM, "out of memory");
		}
	}
	PQclear(r);
	if (!story || !wl)
		ret = fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	for (int i = 0; ret == 0 && story && wl && i < n; i++)
		ret = cb(story[i], wl[i], arg);
	for (int i = 0; wl && i < n; i++)
		free(wl[i]);
	free(wl);
	free(story);
	return ret;
}

/* Columns id, feed, item, title, link, published, seen of row from col 0. */
static bool read_item_head(const PGresult *r, int row, struct fw_story_item_row *it)
{
	it->id = fw_pg_get_i64(r, row, 0);
	it->published = PQgetisnull(r, row, 5) ? FW_TIME_NONE_ : fw_pg_get_i64(r, row, 5);
	it->seen = fw_pg_get_i64(r, row, 6);
	return fw_pg_get_dup(r, row, 1, &it->feed) && fw_pg_get_dup(r, row, 2, &it->item) &&
	       fw_pg_get_dup(r, row, 3, &it->title) && fw_pg_get_dup(r, row, 4, &it->link);
}

/* pending: the head, then explain. */
static bool read_pending(const PGresult *r, int row, struct fw_story_item_row *it)
{
	return read_item_head(r, row, it) && fw_pg_get_dup(r, row, 7, &it->explain);
}

/* items: the head, then story, matched, score, entities. */
static bool read_full(const PGresult *r, int row, struct fw_story_item_row *it)
{
	it->story = fw_pg_get_i64(r, row, 7);
	it->matched = fw_pg_get_i64(r, row, 8);
	it->score = PQgetisnull(r, row, 9) ? 0 : strtod(PQgetvalue(r, row, 9), NULL);
	return read_item_head(r, row, it) && fw_pg_get_dup(r, row, 10, &it->entities);
}

/* load and added: id, story, seen, features (bytea, text format). */
static bool read_load(const PGresult *r, int row, struct fw_story_item_row *it)
{
	size_t n = 0;
	unsigned char *raw;
	uint32_t *f;

	it->id = fw_pg_get_i64(r, row, 0);
	it->story = fw_pg_get_i64(r, row, 1);
	it->seen = fw_pg_get_i64(r, row, 2);
	if (PQgetisnull(r, row, 3))
		return true;
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 3), &n);
	if (!raw)
		return false;
	n /= sizeof(uint32_t);
	f = n ? malloc(n * sizeof(*f)) : NULL;
	if (n && !f) {
		PQfreemem(raw);
		return false;
	}
	if (n)
		memcpy(f, raw, n * sizeof(*f));
	PQfreemem(raw);
	it->features = f;
	it->n_features = n;
	return true;
}

typedef bool (*read_fn)(const PGresult *, int, struct fw_story_item_row *);

/* Hand each row of r (read by fill) to cb; *last (may be NULL) gets the last row's. */
static int each_item(struct fw_pg *p, const PGresult *r, read_fn fill, fw_store_story_item_cb cb,
                     void *arg, struct fw_story_item_row *last)
{
	int ret = 0;

	for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
		struct fw_story_item_row it = {0};

		if (!fill(r, i, &it))
			ret = fw_pg_fail_msg(p, -ENOMEM, "out of memory");
		else {
			if (last) {
				last->id = it.id;
				last->seen = it.seen;
			}
			ret = cb(&it, arg);
		}
		fw_store_story_item_clear(&it);
	}
	return ret;
}

int fw_pg_story_pending(struct fw_store *s, int64_t story, const char *watchlist, int64_t after,
                        fw_store_story_item_cb cb, void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[2][24];
	const char *v[3] = {fw_pg_i64(b[0], story), watchlist, fw_pg_i64(b[1], after)};
	int ret = fw_pg_check_key(p, watchlist);
	PGresult *r;

	if (ret < 0)
		return ret;
	r = fw_pg_exec(p,
	               "SELECT i.id, i.feed, i.item, i.title, i.link, i.published, i.seen,"
	               " m.explain FROM story_items i JOIN story_matches m ON m.item = i.id "
	               "WHERE i.story = $1 AND m.watchlist = $2 AND i.id > $3 ORDER BY i.id",
	               3, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	ret = each_item(p, r, read_pending, cb, arg, NULL);
	PQclear(r);
	return ret;
}

/* The window, a page at a time (it may hold a million items), in (seen, id) order. */
int fw_pg_story_load(struct fw_store *s, int64_t since, int64_t limit, fw_store_story_item_cb cb,
                     void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	struct fw_story_item_row last = {.id = 0, .seen = INT64_MIN};
	char b[3][24];
	const char *v[3] = {fw_pg_i64(b[0], since), fw_pg_i64(b[1], limit > 0 ? limit - 1 : 0)};
	int ret = 0, n;

	if (limit > 0) { /* from the second the limit-th newest item was seen */
		PGresult *r = fw_pg_exec(p,
		                         "SELECT seen FROM story_items WHERE seen >= $1"
		                         " ORDER BY seen DESC LIMIT 1 OFFSET $2",
		                         2, v, NULL, NULL, &ret);

		if (!r)
			return ret;
		if (PQntuples(r) == 1 && fw_pg_get_i64(r, 0, 0) > since)
			since = fw_pg_get_i64(r, 0, 0);
		PQclear(r);
	}
	do {
		PGresult *r;

		v[0] = fw_pg_i64(b[0], since);
		v[1] = fw_pg_i64(b[1], last.seen);
		v[2] = fw_pg_i64(b[2], last.id);
		r = fw_pg_exec(p,
		               "SELECT id, story, seen, features FROM story_items WHERE seen >= $1"
		               " AND (seen, id) > ($2::bigint, $3::bigint) ORDER BY seen, id"
		               " LIMIT " PAGE,
		               3, v, NULL, NULL, &ret);
		if (!r)
			return ret;
		n = PQntuples(r);
		ret = each_item(p, r, read_load, cb, arg, &last);
		PQclear(r);
	} while (ret == 0 && n == PAGE_ROWS);
	return ret;
}

int fw_pg_story_added(struct fw_store *s, int64_t after, int64_t since, fw_store_story_item_cb cb,
                      void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	struct fw_story_item_row last = {.id = after};
	char b[2][24];
	const char *v[2];
	int ret = story_lock(p), n = 0;

	/* the lock before the snapshot: each statement reads what committed before it began */
	while (ret == 0) {
		PGresult *r;

		v[0] = fw_pg_i64(b[0], last.id);
		v[1] = fw_pg_i64(b[1], since);
		r = fw_pg_exec(p,
		               "SELECT id, story, seen, features FROM story_items WHERE id > $1 AND"
		               " seen >= $2 ORDER BY id LIMIT " PAGE,
		               2, v, NULL, NULL, &ret);
		if (!r)
			return ret;
		n = PQntuples(r);
		ret = each_item(p, r, read_load, cb, arg, &last);
		PQclear(r);
		if (n < PAGE_ROWS)
			break;
	}
	return ret;
}

int fw_pg_story_items(struct fw_store *s, int64_t story, fw_store_story_item_cb cb, void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[24];
	const char *v[1] = {fw_pg_i64(b, story)};
	int ret = 0;
	PGresult *r = fw_pg_exec(p,
	                         "SELECT id, feed, item, title, link, published, seen, story,"
	                         " matched, score, entities FROM story_items WHERE story = $1 "
	                         "ORDER BY id",
	                         1, v, NULL, NULL, &ret);

	if (!r)
		return ret;
	ret = each_item(p, r, read_full, cb, arg, NULL);
	PQclear(r);
	return ret;
}

int fw_pg_story_list(struct fw_store *s, int64_t since, fw_store_story_cb cb, void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[24];
	const char *v[1] = {fw_pg_i64(b, since)};
	int ret = 0;
	PGresult *r = fw_pg_exec(p,
	                         "SELECT f.id, f.sid, f.title, f.seen, max(i.seen), count(*),"
	                         " count(DISTINCT i.feed) FROM story_items f JOIN story_items i"
	                         " ON i.story = f.id WHERE f.sid IS NOT NULL GROUP BY f.id"
	                         " HAVING max(i.seen) >= $1 ORDER BY 5 DESC, 1 DESC",
	                         1, v, NULL, NULL, &ret);

	if (!r)
		return ret;
	for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
		struct fw_story_row row = {.id = fw_pg_get_i64(r, i, 0)};

		if ((ret = read_story(p, r, i, 1, &row)) == 0)
			ret = cb(&row, arg);
		fw_story_row_clear(&row);
	}
	PQclear(r);
	return ret;
}

int fw_pg_story_find(struct fw_store *s, const char *sid, int64_t *id)
{
	struct fw_pg *p = fw_pg_of(s);
	const char *v[1] = {sid};
	int ret = fw_pg_check_key(p, sid);
	PGresult *r;

	if (ret < 0)
		return ret;
	r = fw_pg_exec(p, "SELECT id FROM story_items WHERE sid = $1", 1, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	if (PQntuples(r) == 1)
		*id = fw_pg_get_i64(r, 0, 0);
	else
		ret = fw_pg_fail_msg(p, -ENOENT, "no such story");
	PQclear(r);
	return ret;
}

int fw_pg_story_watchlists(struct fw_store *s, int64_t story, char **out)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[24];
	const char *v[1] = {fw_pg_i64(b, story)};
	int ret = 0;
	PGresult *r;

	*out = NULL;
	/* byte order, as SQLite's BINARY collation */
	r = fw_pg_exec(p,
	               "SELECT coalesce(string_agg(w, E'\\n' ORDER BY w COLLATE \"C\"), '') FROM"
	               " (SELECT DISTINCT m.watchlist AS w FROM story_matches m JOIN story_items i"
	               " ON i.id = m.item WHERE i.story = $1) x",
	               1, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	if (PQntuples(r) != 1 || !fw_pg_get_dup(r, 0, 0, out) || !*out)
		ret = fw_pg_fail_msg(p, -ENOMEM, "out of memory");
	PQclear(r);
	return ret;
}

int fw_pg_story_count(struct fw_store *s, int64_t since, int64_t *n)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[24];
	const char *v[1] = {fw_pg_i64(b, since)};
	int ret = 0;
	PGresult *r = fw_pg_exec(p,
	                         "SELECT count(*) FROM (SELECT story FROM story_items GROUP BY"
	                         " story HAVING max(seen) >= $1) x",
	                         1, v, NULL, NULL, &ret);

	if (!r)
		return ret;
	*n = PQntuples(r) == 1 ? fw_pg_get_i64(r, 0, 0) : 0;
	PQclear(r);
	return ret;
}

/* One statement (one snapshot) under the story lock, in a transaction of its own when the
   caller has none: the lock waits for a node placing items, so that no item joins a story
   this deletes. The quiet stories go with their items and state; a story that goes on
   loses its items older than items_before but its first (its id and title). */
int fw_pg_story_prune(struct fw_store *s, int64_t before, int64_t since, int64_t items_before,
                      int64_t *deleted)
{
	struct fw_pg *p = fw_pg_of(s);
	char b[3][24];
	const char *v[3] = {fw_pg_i64(b[0], before), fw_pg_i64(b[1], items_before),
	                    fw_pg_i64(b[2], since)};
	bool own = !p->in_tx;
	int ret = 0;
	PGresult *r = NULL;

	if (own && (ret = fw_pg_cmd(p, "BEGIN", 0, NULL, NULL)) < 0)
		return ret;
	if ((ret = fw_pg_cmd(p, "SELECT pg_advisory_xact_lock(" FW_PG_STORY_LOCK ")", 0, NULL,
	                     NULL)) == 0)
		r = fw_pg_exec(
		    p,
		    "WITH quiet AS (SELECT a.story FROM story_items a WHERE a.seen >= $3 AND a.seen"
		    " < $1 GROUP BY a.story HAVING NOT EXISTS (SELECT 1 FROM story_items b WHERE"
		    " b.story = a.story AND b.seen >= $1)), gone AS (SELECT id FROM story_items "
		    "WHERE story IN (SELECT story FROM"
		    " quiet) OR (seen < $2 AND sid IS NULL)), dm AS (DELETE FROM story_matches"
		    " WHERE item IN (SELECT id FROM gone)), dw AS (DELETE FROM story_watch WHERE"
		    " story IN (SELECT story FROM quiet)), di AS (DELETE FROM story_items WHERE id "
		    "IN"
		    " (SELECT id FROM gone)) SELECT count(*) FROM quiet",
		    3, v, NULL, NULL, &ret);
	if (r && deleted)
		*deleted = fw_pg_get_i64(r, 0, 0);
	PQclear(r);
	if (own) {
		if (ret == 0)
			ret = fw_pg_cmd(p, "COMMIT", 0, NULL, NULL);
		if (ret < 0)
			fw_pg_cmd(p, "ROLLBACK", 0, NULL, NULL);
	}
	return ret;
}
