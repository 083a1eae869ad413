/*
 * items.c - the retention of the seen items (store.h): the items gone from their feeds and
 * older than the retention are deleted a batch of feeds at a time, walking the primary key
 * (feed, id) in order, so that the daemon's loop can yield between batches. There is
 * deliberately no index on last_seen, which every poll would have to update. Reaches
 * SQLite through store_int.h only.
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* Gone from its feed (not seen within 2 h of the feed's latest sighting: last_seen of
   unchanged items is rewritten at most hourly) and older than the retention (?3), among
   the feeds after ?1 up to ?2. A feed that answers 304 for months keeps its items. */
#define GONE                                                                                       \
	" AND last_seen < ?3 AND last_seen < (SELECT MAX(i2.last_seen) FROM items i2 WHERE "       \
	"i2.feed = items.feed) - 7200"

/* The feed of the n-th item after the cursor into p->feed; *found is false past the end. */
static int next_feed(struct fw_sqlite *s, struct fw_store_item_pruning *p, int64_t n, char *hi,
                     bool *found)
{
	int ret = 0, rc;
	sqlite3_stmt *q = fw_store_prepare_once(
	    s,
	    p->started ? "SELECT feed FROM items WHERE feed > ?1 ORDER BY feed LIMIT 1 OFFSET ?2"
	               : "SELECT feed FROM items WHERE ?1 IS NULL ORDER BY feed LIMIT 1 OFFSET ?2",
	    &ret);

	if (!q)
		return ret;
	if (p->started)
		sqlite3_bind_text(q, 1, p->feed, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, n - 1);
	rc = sqlite3_step(q);
	*found = rc == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL;
	if (*found)
		snprintf(hi, FW_STORE_KEY_MAX + 1, "%s", (const char *)sqlite3_column_text(q, 0));
	else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = fw_store_fail(s, rc);
	sqlite3_finalize(q);
	return ret;
}

int fw_sqlite_item_prune_step(struct fw_store *base, struct fw_store_item_pruning *p,
                              size_t max_rows, bool *done)
{
	struct fw_sqlite *s = fw_sqlite_of(base);
	char hi[FW_STORE_KEY_MAX + 1], sql[512];
	int64_t n = max_rows < 1 ? 1 : (int64_t)max_rows;
	bool found = false;
	int ret = next_feed(s, p, n, hi, &found);
	sqlite3_stmt *q;

	if (ret < 0)
		return ret;
	snprintf(sql, sizeof(sql), "DELETE FROM items WHERE %s AND %s" GONE,
	         p->started ? "feed > ?1" : "?1 IS NULL", found ? "feed <= ?2" : "?2 IS NULL");
	if ((q = fw_store_prepare_once(s, sql, &ret)) == NULL)
		return ret;
	if (p->started)
		sqlite3_bind_text(q, 1, p->feed, -1, SQLITE_STATIC);
	if (found)
		sqlite3_bind_text(q, 2, hi, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, p->before);
	ret = fw_store_step_done(s, q);
	if (ret == 0)
		p->deleted += sqlite3_changes64(s->db);
	sqlite3_finalize(q);
	if (ret == 0 && found) {
		memcpy(p->feed, hi, sizeof(hi));
		p->started = true;
	}
	*done = ret == 0 && !found;
	return ret;
}
