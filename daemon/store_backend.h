/*
 * store_backend.h - what a store backend implements: struct fw_store is the head of each
 * backend's own struct (struct fw_sqlite in store_int.h, struct fw_pg in pg_int.h), and
 * its ops table holds the backend's function for each function of store.h that takes a
 * store. store.c dispatches through it; include this file only from store.c and from the
 * backends' own files. Every other room sees the store through store.h.
 *
 * FW_STORE_OPS is the one list of those functions: X(return type, name, (parameters),
 * (arguments)) for fw_store_<name>. A backend declares and tables its functions
 * fw_<backend>_<name> from it, so a function missing from a backend is a compile error.
 * fw_store_item_prune and fw_store_archive_prune are not in it: store.c runs a backend's
 * prune steps to the end, under its prune lock.
 */
#ifndef FW_STORE_BACKEND_H
#define FW_STORE_BACKEND_H

#include "store.h"

struct fw_store_ops;

struct fw_store {
	const struct fw_store_ops *ops;
};

/* clang-format off */
#define FW_STORE_OPS(X) \
	X(int, set_synchronous, (struct fw_store *s, bool full), (s, full)) \
	X(int, set_node, (struct fw_store *s, const char *node, int64_t lease), (s, node, lease)) \
	X(int, feed_claim, (struct fw_store *s, const char *feed, const char *host, int64_t host_limit, int64_t now, bool early, int64_t *until), (s, feed, host, host_limit, now, early, until)) \
	X(int, feed_hold, (struct fw_store *s, const char *feed, int64_t until), (s, feed, until)) \
	X(int, node_beat, (struct fw_store *s, const char *host, int64_t pid, int64_t started, int64_t now), (s, host, pid, started, now)) \
	X(int, node_each, (struct fw_store *s, int64_t now, fw_store_node_cb cb, void *arg), (s, now, cb, arg)) \
	X(int, claim_each, (struct fw_store *s, int64_t now, fw_store_claim_cb cb, void *arg), (s, now, cb, arg)) \
	X(int, prune_lock, (struct fw_store *s), (s)) \
	X(int, prune_unlock, (struct fw_store *s), (s)) \
	X(int, begin, (struct fw_store *s), (s)) \
	X(int, commit, (struct fw_store *s), (s)) \
	X(int, rollback, (struct fw_store *s), (s)) \
	X(int, begin_lazy, (struct fw_store *s), (s)) \
	X(int, sync, (struct fw_store *s), (s)) \
	X(int, poll_begin, (struct fw_store *s), (s)) \
	X(int, poll_commit, (struct fw_store *s), (s)) \
	X(int, poll_rollback, (struct fw_store *s), (s)) \
	X(int, item_begin, (struct fw_store *s), (s)) \
	X(int, item_end, (struct fw_store *s, bool keep), (s, keep)) \
	X(int, feed_load, (struct fw_store *s, const char *feed, struct fw_feed_state *st), (s, feed, st)) \
	X(int, feed_save, (struct fw_store *s, const char *feed, const struct fw_feed_state *st), (s, feed, st)) \
	X(int, feed_names, (struct fw_store *s, char ***names, size_t *n), (s, names, n)) \
	X(int, feed_forget, (struct fw_store *s, const char *feed), (s, feed)) \
	X(int, item_mark, (struct fw_store *s, const char *feed, const char *id, uint64_t hash, int64_t now), (s, feed, id, hash, now)) \
	X(int, item_reissued, (struct fw_store *s, const char *feed, const char *id, uint64_t hash), (s, feed, id, hash)) \
	X(int, host_rest, (struct fw_store *s, const char *host, int64_t until, long http_status), (s, host, until, http_status)) \
	X(int, host_rests, (struct fw_store *s, int64_t now, fw_store_host_cb cb, void *arg), (s, now, cb, arg)) \
	X(int, item_count, (struct fw_store *s, const char *feed, int64_t *n), (s, feed, n)) \
	X(int, item_prune_step, (struct fw_store *s, struct fw_store_item_pruning *p, size_t max_rows, bool *done), (s, p, max_rows, done)) \
	X(int, alert_add, (struct fw_store *s, const char *alert_id, const char *watchlist, const char *feed, const char *item_id, int64_t now), (s, alert_id, watchlist, feed, item_id, now)) \
	X(int, outbox_add, (struct fw_store *s, const char *alert_id, const char *output, const char *payload, int64_t now), (s, alert_id, output, payload, now)) \
	X(int, outbox_due, (struct fw_store *s, int64_t now, size_t max, const int64_t *busy, size_t n_busy, struct fw_outbox_entry **out, size_t *n), (s, now, max, busy, n_busy, out, n)) \
	X(int, outbox_next_due, (struct fw_store *s, int64_t *when), (s, when)) \
	X(int, outbox_delivered, (struct fw_store *s, int64_t rowid, int64_t now), (s, rowid, now)) \
	X(int, outbox_retry, (struct fw_store *s, int64_t rowid, int64_t next_at, const char *error), (s, rowid, next_at, error)) \
	X(int, outbox_kill, (struct fw_store *s, int64_t rowid, const char *error), (s, rowid, error)) \
	X(int, outbox_hold, (struct fw_store *s, int64_t rowid, int64_t next_at, const char *why), (s, rowid, next_at, why)) \
	X(int, outbox_expire, (struct fw_store *s, int64_t rowid, const char *why), (s, rowid, why)) \
	X(int, outbox_release, (struct fw_store *s, const char *output, int64_t now, int64_t *changed), (s, output, now, changed)) \
	X(int, outbox_list, (struct fw_store *s, int state, const char *output, struct fw_outbox_entry **out, size_t *n), (s, state, output, out, n)) \
	X(int, outbox_revive, (struct fw_store *s, int64_t rowid, const char *output, int64_t now, int64_t *changed), (s, rowid, output, now, changed)) \
	X(int, outbox_drop, (struct fw_store *s, int64_t rowid, const char *output, int64_t *changed), (s, rowid, output, changed)) \
	X(int, outbox_count, (struct fw_store *s, const char *output, int64_t *pending, int64_t *dead), (s, output, pending, dead)) \
	X(int, story_add_item, (struct fw_store *s, const struct fw_story_item_row *r, const char *sid, int64_t *id, int64_t *story), (s, r, sid, id, story)) \
	X(int, story_get, (struct fw_store *s, int64_t id, struct fw_story_row *out), (s, id, out)) \
	X(int, story_match, (struct fw_store *s, int64_t item, const char *watchlist, const char *explain), (s, item, watchlist, explain)) \
	X(int, story_watch_get, (struct fw_store *s, int64_t story, const char *watchlist, struct fw_story_watch *w), (s, story, watchlist, w)) \
	X(int, story_watch_set, (struct fw_store *s, int64_t story, const char *watchlist, const struct fw_story_watch *w), (s, story, watchlist, w)) \
	X(int, story_next_due, (struct fw_store *s, int64_t *first), (s, first)) \
	X(int, story_due, (struct fw_store *s, int64_t before, size_t max, fw_store_story_due_cb cb, void *arg), (s, before, max, cb, arg)) \
	X(int, story_pending, (struct fw_store *s, int64_t story, const char *watchlist, int64_t after, fw_store_story_item_cb cb, void *arg), (s, story, watchlist, after, cb, arg)) \
	X(int, story_load, (struct fw_store *s, int64_t since, int64_t limit, fw_store_story_item_cb cb, void *arg), (s, since, limit, cb, arg)) \
	X(int, story_added, (struct fw_store *s, int64_t after, int64_t since, fw_store_story_item_cb cb, void *arg), (s, after, since, cb, arg)) \
	X(int, story_items, (struct fw_store *s, int64_t story, fw_store_story_item_cb cb, void *arg), (s, story, cb, arg)) \
	X(int, story_list, (struct fw_store *s, int64_t since, fw_store_story_cb cb, void *arg), (s, since, cb, arg)) \
	X(int, story_find, (struct fw_store *s, const char *sid, int64_t *id), (s, sid, id)) \
	X(int, story_watchlists, (struct fw_store *s, int64_t story, char **out), (s, story, out)) \
	X(int, story_count, (struct fw_store *s, int64_t since, int64_t *n), (s, since, n)) \
	X(int, story_prune, (struct fw_store *s, int64_t before, int64_t since, int64_t items_before, int64_t *deleted), (s, before, since, items_before, deleted)) \
	X(int, alert_rows, (struct fw_store *s, int64_t since, const char *watchlist, size_t max, struct fw_alert_row **out, size_t *n), (s, since, watchlist, max, out, n)) \
	X(int, outbox_last_rowid, (struct fw_store *s, int64_t *rowid), (s, rowid)) \
	X(int, outbox_count_after, (struct fw_store *s, int64_t after, int64_t *pending, int64_t *dead), (s, after, pending, dead)) \
	X(int, websub_save, (struct fw_store *s, const struct fw_store_websub *w), (s, w)) \
	X(int, websub_delete, (struct fw_store *s, const char *token), (s, token)) \
	X(int, websub_counts, (struct fw_store *s, const char *token, int64_t last_push, int64_t pushes, int64_t bad_signatures), (s, token, last_push, pushes, bad_signatures)) \
	X(int, websub_each, (struct fw_store *s, fw_store_websub_cb cb, void *arg), (s, cb, arg)) \
	X(int, archive_add, (struct fw_store *s, const struct fw_archive_row *r), (s, r)) \
	X(int, archive_index, (struct fw_store *s, size_t max, const struct fw_store_words *w, size_t *indexed), (s, max, w, indexed)) \
	X(int, archive_each, (struct fw_store *s, int64_t since, const char *words, fw_store_archive_cb cb, void *arg), (s, since, words, cb, arg)) \
	X(int, archive_count, (struct fw_store *s, int64_t since, int64_t *n, int64_t *bytes), (s, since, n, bytes)) \
	X(int, archive_prune_step, (struct fw_store *s, struct fw_store_archive_pruning *p, size_t max_rows, const struct fw_store_words *w, bool *done), (s, p, max_rows, w, done)) \
	X(int, archive_last_prune, (struct fw_store *s, int64_t *when), (s, when))
/* clang-format on */

struct fw_store_ops {
	const char *name; /* "sqlite", "postgresql" */
	void (*close)(struct fw_store *s);
	const char *(*error)(const struct fw_store *s);
#define FW_STORE_OP_MEMBER(ret, name, params, args) ret(*name) params;
	FW_STORE_OPS(FW_STORE_OP_MEMBER)
#undef FW_STORE_OP_MEMBER
};

/* Declare a backend's functions fw_<prefix>_<name>: FW_STORE_OPS(FW_STORE_DECLARE_sqlite)
   after #define FW_STORE_DECLARE_sqlite(r, n, p, a) FW_STORE_DECLARE(sqlite, r, n, p). */
#define FW_STORE_DECLARE(prefix, ret, name, params) ret fw_##prefix##_##name params;

/* An ops table entry: FW_STORE_OPS(FW_STORE_ENTRY_sqlite) inside the initializer after
   #define FW_STORE_ENTRY_sqlite(r, n, p, a) FW_STORE_ENTRY(sqlite, n). */
#define FW_STORE_ENTRY(prefix, name) .name = fw_##prefix##_##name,

/* The length of v cut to at most max bytes on a UTF-8 boundary (0 for NULL), as every
   backend cuts archived text (store.c). */
size_t fw_store_cut_len(const char *v, size_t max);

/* What the archive keeps of r's categories, the same in every backend: '\n'-joined into
   buf (FW_ARCHIVE_CATEGORIES_MAX + 1 bytes), whole categories only, a newline inside one
   made a space (store.c). */
void fw_store_archive_categories(const struct fw_archive_row *r, char *buf);

/* The backends' entry points (see fw_store_open_timeout and fw_store_lock in store.h). */
extern const struct fw_store_ops fw_sqlite_ops;
int fw_sqlite_open(const char *path, bool read_only, int busy_ms, struct fw_store **out, char *err,
                   size_t errlen);
int fw_sqlite_lock(const char *path, int *fd, char *err, size_t errlen);
extern const struct fw_store_ops fw_pg_ops;
int fw_pg_open(const char *url, bool read_only, int busy_ms, struct fw_store **out, char *err,
               size_t errlen);

#endif
