/*
 * archive.c - the item archive in the SQLite store (store.h, schema version 7): the text
 * of each new item, cut to fixed caps, kept for `archive` and at most `archive_max_size`
 * bytes of text, for `feedwatch backtest` and for watchlists added by a reload. An FTS5
 * index (contentless: the words the caller makes of each row, fw_store_words, no
 * positions), built behind a mark a batch at a time, finds candidates by word; the caller's
 * matcher decides. Reaches SQLite through store_int.h only; the hot path (one new item: one
 * insert) uses a cached statement, the rest prepare their own.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define FW_TIME_NONE_ INT64_MIN /* item.h's FW_TIME_NONE; the store includes no item.h */
/* The last row the word index holds: rows are indexed in order, by fw_store_archive_index. */
#define INDEXED "(SELECT v FROM meta WHERE k = 'archive_indexed')"
/*
 * Rows seen at or after ?1, and rows seen before ?1, without an index on seen (which every
 * new item would have to update): rows are added in the order they are seen, so the ids
 * say it. SINCE walks back from the newest row, OLDER forward from the oldest: each reads
 * only the rows it selects, and one more. (A clock set back may misplace the rows of that
 * hour by as much.)
 */
#define SINCE "id > coalesce((SELECT id FROM archive WHERE seen < ?1 ORDER BY id DESC LIMIT 1), 0)"
#define OLDER                                                                                      \
	"id < coalesce((SELECT id FROM archive WHERE seen >= ?1 ORDER BY id LIMIT 1), 1 << 62)"

/* The columns each_row reads, for a WHERE clause to follow. */
static const char cols[] =
    "SELECT id, feed, item, seen, published, updated, title, link, author, summary, content, "
    "categories FROM archive WHERE ";

/* Bind v cut to max bytes (NULL or "" binds NULL); adds its length to *bytes. */
static int bind_cut(struct fw_sqlite *s, sqlite3_stmt *q, int i, const char *v, size_t max,
                    int64_t *bytes)
{
	size_t n = fw_store_cut_len(v, max);
	int rc =
	    n == 0 ? sqlite3_bind_null(q, i) : sqlite3_bind_text(q, i, v, (int)n, SQLITE_STATIC);

	*bytes += (int64_t)n;
	return rc == SQLITE_OK ? 0 : fw_store_fail(s, rc);
}

int fw_sqlite_archive_add(struct fw_store *base, const struct fw_archive_row *r)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	char cats[FW_ARCHIVE_CATEGORIES_MAX + 1];
	const char *link = r->link && strlen(r->link) <= FW_ARCHIVE_LINK_MAX ? r->link : NULL;
	int64_t bytes = 0;
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare(s, ST_ARCHIVE_ADD, &ret);

	if (!q)
		return ret;
	fw_store_archive_categories(r, cats);
	/* title, link, author, summary, content, categories: ?6 ... ?11 */
	if ((ret = fw_store_bind_key(s, q, 1, r->feed)) < 0 ||
	    (ret = fw_store_bind_key(s, q, 2, r->item)) < 0 ||
	    (ret = bind_cut(s, q, 6, r->title ? r->title : "", FW_ARCHIVE_TITLE_MAX, &bytes)) < 0 ||
	    (ret = bind_cut(s, q, 7, link, FW_ARCHIVE_LINK_MAX, &bytes)) < 0 ||
	    (ret = bind_cut(s, q, 8, r->author, FW_ARCHIVE_AUTHOR_MAX, &bytes)) < 0 ||
	    (ret = bind_cut(s, q, 9, r->summary, FW_ARCHIVE_TEXT_MAX, &bytes)) < 0 ||
	    (ret = bind_cut(s, q, 10, r->content, FW_ARCHIVE_TEXT_MAX, &bytes)) < 0 ||
	    (ret = bind_cut(s, q, 11, cats, FW_ARCHIVE_CATEGORIES_MAX, &bytes)) < 0) {
		fw_store_stmt_done(q);
		return ret;
	}
	/* the title column is NOT NULL: bind_cut binds "" as NULL */
	if (fw_store_cut_len(r->title, FW_ARCHIVE_TITLE_MAX) == 0)
		sqlite3_bind_text(q, 6, "", 0, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, r->seen);
	if (r->published != FW_TIME_NONE_)
		sqlite3_bind_int64(q, 4, r->published);
	if (r->updated != FW_TIME_NONE_)
		sqlite3_bind_int64(q, 5, r->updated);
	sqlite3_bind_int64(q, 12, bytes + (int64_t)strlen(r->item));
	/* one statement: refused (a bad key) before it writes, or written whole */
	return fw_store_step_done(s, q);
}

/* A text column, or NULL. */
static const char *col_text(sqlite3_stmt *q, int col)
{
	return (const char *)sqlite3_column_text(q, col);
}

/* Columns: id, feed, item, seen, published, updated, title, link, author, summary,
   content, categories. Hand one row to cb; the categories are split into an array. */
static int each_row(struct fw_sqlite *s, sqlite3_stmt *q, fw_store_archive_cb cb, void *arg)
{
	const char *cats = col_text(q, 11);
	struct fw_archive_row r = {
	    .id = sqlite3_column_int64(q, 0),
	    .feed = col_text(q, 1),
	    .item = col_text(q, 2),
	    .seen = sqlite3_column_int64(q, 3),
	    .published = sqlite3_column_type(q, 4) == SQLITE_NULL ? FW_TIME_NONE_
	                                                          : sqlite3_column_int64(q, 4),
	    .updated = sqlite3_column_type(q, 5) == SQLITE_NULL ? FW_TIME_NONE_
	                                                        : sqlite3_column_int64(q, 5),
	    .title = col_text(q, 6),
	    .link = col_text(q, 7),
	    .author = col_text(q, 8),
	    .summary = col_text(q, 9),
	    .content = col_text(q, 10),
	};
	char *copy = NULL, **v = NULL;
	size_t n = 0;
	int ret;

	if (r.feed == NULL || r.item == NULL)
		return 0; /* not a row this code wrote */
	if (cats && *cats) {
		copy = strdup(cats);
		v = calloc(strlen(cats) / 2 + 2, sizeof(*v));
		if (copy == NULL || v == NULL) {
			free(copy);
			free(v);
			return fw_store_fail_msg(s, -ENOMEM, "out of memory");
		}
		for (char *p = copy, *nl; p; p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			if (nl)
				*nl = 0;
			if (*p)
				v[n++] = p;
		}
	}
	r.categories = (const char *const *)v;
	r.n_categories = n;
	ret = cb(&r, arg);
	free(v);
	free(copy);
	return ret;
}

int fw_sqlite_archive_each(struct fw_store *base, int64_t since, const char *words,
                           fw_store_archive_cb cb, void *arg)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	char sql[640];
	int ret = 0, rc = SQLITE_DONE;
	sqlite3_stmt *q;

	/* rows past the index's mark are candidates whatever their words */
	snprintf(sql, sizeof(sql), "%s" SINCE "%s ORDER BY id", cols,
	         words ? " AND (id > " INDEXED " OR id IN (SELECT rowid FROM archive_fts WHERE "
	                 "archive_fts MATCH ?2))"
	               : "");
	if ((q = fw_store_prepare_once(s, sql, &ret)) == NULL)
		return ret;
	sqlite3_bind_int64(q, 1, since);
	if (words && (ret = fw_store_bind_text(s, q, 2, words, FW_STORE_TEXT_MAX)) < 0)
		goto out;
	while (ret == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
		ret = each_row(s, q, cb, arg);
	if (ret == 0 && rc != SQLITE_DONE) {
		ret = fw_store_fail(s, rc);
		/* a words query FTS5 cannot parse is the caller's mistake, not the store's */
		if (words && (rc & 0xff) == SQLITE_ERROR)
			ret = -EINVAL;
	}
out:
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_archive_count(struct fw_store *base, int64_t since, int64_t *n, int64_t *bytes)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0, rc;
	sqlite3_stmt *q = fw_store_prepare_once(
	    s, "SELECT count(*), coalesce(sum(bytes), 0) FROM archive WHERE " SINCE, &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, since);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (n)
			*n = sqlite3_column_int64(q, 0);
		if (bytes)
			*bytes = sqlite3_column_int64(q, 1);
	} else {
		ret = fw_store_fail(s, rc);
	}
	sqlite3_finalize(q);
	return ret;
}

/* One change of the word index: a row's words in, or out. */
struct fts_op {
	struct fw_sqlite *s;
	sqlite3_stmt *q;
	const struct fw_store_words *w;
};

static int fts_row_cb(const struct fw_archive_row *r, void *arg)
{
	struct fts_op *o = arg;
	char *words = NULL;
	int ret = o->w->fn(r, &words, o->w->arg);

	if (ret < 0)
		return fw_store_fail_msg(o->s, ret, "cannot make the words of an archived item");
	sqlite3_bind_int64(o->q, 1, r->id);
	sqlite3_bind_text(o->q, 2, words ? words : "", -1, SQLITE_STATIC);
	ret = fw_store_step_done(o->s, o->q);
	free(words);
	return ret;
}

/* Put the words of the rows `where` selects (?1 = a, ?2 = b) into the index, or (out) take
   them out: the index keeps no text, so a row leaves it only when told its words again. */
static int fts_apply(struct fw_sqlite *s, const char *where, int64_t a, int64_t b,
                     const struct fw_store_words *w, bool out)
{
	char sql[640];
	struct fts_op o = {.s = s, .w = w};
	sqlite3_stmt *sel;
	int ret = 0, rc = SQLITE_DONE;

	snprintf(sql, sizeof(sql), "%s%s", cols, where);
	o.q = fw_store_prepare_once(s,
	                            out ? "INSERT INTO archive_fts (archive_fts, rowid, words) "
	                                  "VALUES ('delete', ?1, ?2)"
	                                : "INSERT INTO archive_fts (rowid, words) VALUES (?1, ?2)",
	                            &ret);
	if (o.q == NULL)
		return ret;
	if ((sel = fw_store_prepare_once(s, sql, &ret)) != NULL) {
		sqlite3_bind_int64(sel, 1, a);
		sqlite3_bind_int64(sel, 2, b);
		while (ret == 0 && (rc = sqlite3_step(sel)) == SQLITE_ROW)
			ret = each_row(s, sel, fts_row_cb, &o);
		if (ret == 0 && rc != SQLITE_DONE)
			ret = fw_store_fail(s, rc);
		sqlite3_finalize(sel);
	}
	sqlite3_finalize(o.q);
	return ret;
}

/* Delete the rows `where` selects (with ?1 bound to v), from the index first. */
static int delete_where(struct fw_sqlite *s, const char *where, int64_t v,
                        const struct fw_store_words *w, int64_t *deleted)
{
	char sql[512];
	sqlite3_stmt *q;
	int ret;

	snprintf(sql, sizeof(sql), "(%s) AND id <= " INDEXED, where);
	if ((ret = fts_apply(s, sql, v, 0, w, true)) < 0)
		return ret;
	snprintf(sql, sizeof(sql), "DELETE FROM archive WHERE %s", where);
	if ((q = fw_store_prepare_once(s, sql, &ret)) == NULL)
		return ret;
	sqlite3_bind_int64(q, 1, v);
	ret = fw_store_step_done(s, q);
	if (ret == 0 && deleted)
		*deleted += sqlite3_changes64(s->db);
	sqlite3_finalize(q);
	return ret;
}

/* Run one statement of sql that takes no value and returns no row. 0 or -errno. */
static int exec_once(struct fw_sqlite *s, const char *sql)
{
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare_once(s, sql, &ret);

	if (!q)
		return ret;
	ret = fw_store_step_done(s, q);
	sqlite3_finalize(q);
	return ret;
}

/* The index's mark back to 0 when the archive is empty. */
static int reset_mark(struct fw_sqlite *s)
{
	return exec_once(s, "UPDATE meta SET v = 0 WHERE k = 'archive_indexed' AND NOT EXISTS "
	                    "(SELECT 1 FROM archive)");
}

/* Remember when the archive was pruned (meta.archive_pruned). */
static int set_last_prune(struct fw_sqlite *s)
{
	return exec_once(
	    s, "INSERT OR REPLACE INTO meta (k, v) VALUES ('archive_pruned', unixepoch())");
}

int fw_sqlite_archive_last_prune(struct fw_store *base, int64_t *when)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int ret = 0, rc;
	sqlite3_stmt *q = fw_store_prepare_once(
	    s, "SELECT coalesce((SELECT v FROM meta WHERE k = 'archive_pruned'), 0)", &ret);

	if (!q)
		return ret;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*when = sqlite3_column_int64(q, 0);
	else
		ret = fw_store_fail(s, rc);
	sqlite3_finalize(q);
	return ret;
}

/* One value of a query that binds ?1 = a and ?2 = b into *v; *found says whether a row came
   (may be NULL when the query always returns one). */
static int one_value(struct fw_sqlite *s, const char *sql, int64_t a, int64_t b, int64_t *v,
                     bool *found)
{
	int ret = 0, rc;
	sqlite3_stmt *q = fw_store_prepare_once(s, sql, &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, a);
	sqlite3_bind_int64(q, 2, b);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(q, 0);
	else if (rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
	if (found)
		*found = rc == SQLITE_ROW;
	sqlite3_finalize(q);
	return ret;
}

/* By age: the oldest rows, up to n, while they were seen before p->before. */
static int step_age(struct fw_sqlite *s, struct fw_store_archive_pruning *p, int64_t n,
                    const struct fw_store_words *w)
{
	int64_t last = 0, rows = 0, old = 0;
	int ret = 0, rc;
	sqlite3_stmt *q =
	    fw_store_prepare_once(s, "SELECT id, seen FROM archive ORDER BY id LIMIT ?1", &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, n);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		rows++;
		if (sqlite3_column_int64(q, 1) >= p->before)
			break;
		old++;
		last = sqlite3_column_int64(q, 0);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
	sqlite3_finalize(q);
	if (ret == 0 && old > 0)
		ret = delete_where(s, "id <= ?1", last, w, &p->deleted);
	/* a row young enough, or the end of the table: the age is done */
	if (ret == 0 && (old < rows || rows < n)) {
		p->phase = p->max_bytes > 0 ? 1 : 3;
		ret = one_value(s, "SELECT coalesce(max(id), 0) + 1 FROM archive", 0, 0, &p->pos,
		                NULL);
		p->cut = p->pos; /* nothing fits yet: every row up to the newest goes */
	}
	return ret;
}

/* By size: walk up to n rows back from p->pos, adding their bytes, until they pass the cap:
   the rows below the last one that fits go. */
static int step_size(struct fw_sqlite *s, struct fw_store_archive_pruning *p, int64_t n)
{
	int64_t rows = 0;
	int ret = 0, rc;
	sqlite3_stmt *q = fw_store_prepare_once(
	    s, "SELECT id, bytes FROM archive WHERE id < ?1 ORDER BY id DESC LIMIT ?2", &ret);

	if (!q)
		return ret;
	sqlite3_bind_int64(q, 1, p->pos);
	sqlite3_bind_int64(q, 2, n);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t bytes = sqlite3_column_int64(q, 1);

		rows++;
		if (p->sum + bytes > p->max_bytes) {
			p->cut = p->pos; /* the last row that fits (or the snapshot's end) */
			p->phase = 2;
			break;
		}
		p->sum += bytes;
		p->pos = sqlite3_column_int64(q, 0);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = fw_store_fail(s, rc);
	sqlite3_finalize(q);
	if (ret == 0 && p->phase == 1 && rows < n)
		p->phase = 3; /* every row fits */
	return ret;
}

/* The rows below p->cut, the oldest n of them at most. */
static int step_cut(struct fw_sqlite *s, struct fw_store_archive_pruning *p, int64_t n,
                    const struct fw_store_words *w)
{
	int64_t hi = 0;
	bool more = false;
	int ret = one_value(s, "SELECT id FROM archive WHERE id < ?1 ORDER BY id LIMIT 1 OFFSET ?2",
	                    p->cut, n - 1, &hi, &more);

	if (ret == 0)
		ret = delete_where(s, "id <= ?1", more ? hi : p->cut - 1, w, &p->deleted);
	if (ret == 0 && !more)
		p->phase = 3;
	return ret;
}

/* End the transaction a function of this file began when none was open (own): commit on
   success, roll back on failure. Returns ret, or the commit's error. */
static int own_end(struct fw_sqlite *s, bool own, int ret)
{
	if (own && ret == 0)
		ret = fw_sqlite_commit(&s->base);
	if (own && ret < 0)
		fw_sqlite_rollback(&s->base);
	return ret;
}

int fw_sqlite_archive_prune_step(struct fw_store *base, struct fw_store_archive_pruning *p,
                                 size_t max_rows, const struct fw_store_words *w, bool *done)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int64_t n = max_rows < 1 ? 1 : max_rows > (1 << 20) ? (1 << 20) : (int64_t)max_rows;
	struct fw_store_archive_pruning was = *p;
	bool own = sqlite3_get_autocommit(s->db) != 0;
	int ret = own ? fw_sqlite_begin(&s->base) : 0;

	if (ret == 0 && p->phase == 0)
		ret = step_age(s, p, n, w);
	else if (ret == 0 && p->phase == 1)
		ret = step_size(s, p, n);
	else if (ret == 0 && p->phase == 2)
		ret = step_cut(s, p, n, w);
	/* emptied, the table gives out ids from 1 again: none of them is indexed */
	if (ret == 0 && p->deleted > was.deleted)
		ret = reset_mark(s);
	if (ret == 0 && p->phase == 3)
		ret = set_last_prune(s);
	ret = own_end(s, own, ret);
	if (ret < 0)
		*p = was; /* rolled back: the same step again next time */
	*done = ret == 0 && p->phase == 3;
	return ret;
}

/* The index's mark and the last row into *mark and *last. */
static int index_state(struct fw_sqlite *s, int64_t *mark, int64_t *last)
{
	int ret = 0;
	sqlite3_stmt *q = fw_store_prepare_once(
	    s, "SELECT " INDEXED ", coalesce((SELECT max(id) FROM archive), 0)", &ret);

	if (!q)
		return ret;
	if (sqlite3_step(q) == SQLITE_ROW) {
		*mark = sqlite3_column_int64(q, 0);
		*last = sqlite3_column_int64(q, 1);
	} else {
		ret = fw_store_fail(s, sqlite3_errcode(s->db));
	}
	sqlite3_finalize(q);
	return ret;
}

/* Index rows mark < id <= upto and move the mark. */
static int index_rows(struct fw_sqlite *s, int64_t mark, int64_t upto,
                      const struct fw_store_words *w)
{
	int ret = fts_apply(s, "id > ?1 AND id <= ?2", mark, upto, w, false);
	sqlite3_stmt *q;

	if (ret < 0 || (q = fw_store_prepare_once(
	                    s, "UPDATE meta SET v = ?1 WHERE k = 'archive_indexed'", &ret)) == NULL)
		return ret;
	sqlite3_bind_int64(q, 1, upto);
	ret = fw_store_step_done(s, q);
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_archive_index(struct fw_store *base, size_t max, const struct fw_store_words *w,
                            size_t *indexed)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	int64_t mark = 0, last = 0, upto;
	bool own;
	int ret;

	*indexed = 0;
	if ((ret = index_state(s, &mark, &last)) < 0 || last <= mark || max == 0)
		return ret;
	own = sqlite3_get_autocommit(s->db) != 0;
	if (own && (ret = fw_sqlite_begin_lazy(&s->base)) < 0)
		return ret;
	/* read again inside the transaction: another writer may have indexed meanwhile */
	if ((ret = index_state(s, &mark, &last)) == 0 && last > mark) {
		/* ids are dense but for pruned and rolled-back rows: max rows at most */
		upto = last - mark > (int64_t)max ? mark + (int64_t)max : last;
		ret = index_rows(s, mark, upto, w);
		if (ret == 0)
			*indexed = (size_t)(upto - mark);
	}
	ret = own_end(s, own, ret);
	if (ret < 0)
		*indexed = 0;
	return ret;
}
