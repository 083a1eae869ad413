/*
 * store.c - the store's front: picks the backend a location names (a postgresql:// or
 * postgres:// URL: PostgreSQL, shared by many nodes; anything else: a SQLite file) and
 * hands each call of store.h to it through its ops table (store_backend.h). What is the
 * same for every backend lives here: running a prune's steps to the end under the prune
 * lock (one node at a time prunes a shared store), and what the archive keeps of an item's
 * text (cut on a UTF-8 boundary, categories joined).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store_backend.h"

bool fw_store_is_shared(const char *where)
{
	return where &&
	       (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0);
}

int fw_store_lock(const char *path, int *fd, char *err, size_t errlen)
{
	if (fw_store_is_shared(path)) {
		*fd = -1; /* many nodes share it: each claim is locked in the database */
		return 0;
	}
	return fw_sqlite_lock(path, fd, err, errlen);
}

int fw_store_open_timeout(const char *path, bool read_only, int busy_ms, struct fw_store **out,
                          char *err, size_t errlen)
{
	if (!path || !*path || !out || busy_ms < 0) {
		snprintf(err, errlen, "invalid arguments to fw_store_open");
		return -EINVAL;
	}
	if (fw_store_is_shared(path))
		return fw_pg_open(path, read_only, busy_ms, out, err, errlen);
	return fw_sqlite_open(path, read_only, busy_ms, out, err, errlen);
}

int fw_store_open(const char *path, bool read_only, struct fw_store **out, char *err, size_t errlen)
{
	return fw_store_open_timeout(path, read_only, FW_STORE_BUSY_MS, out, err, errlen);
}

struct fw_store *fw_store_close(struct fw_store *s)
{
	if (s)
		s->ops->close(s);
	return NULL;
}

const char *fw_store_error(const struct fw_store *s)
{
	return s ? s->ops->error(s) : "no store";
}

const char *fw_store_backend(const struct fw_store *s)
{
	return s->ops->name;
}

#define FW_STORE_DISPATCH(ret, name, params, args)                                                 \
	ret fw_store_##name params                                                                 \
	{                                                                                          \
		return s->ops->name args;                                                          \
	}
FW_STORE_OPS(FW_STORE_DISPATCH)
#undef FW_STORE_DISPATCH

size_t fw_store_cut_len(const char *v, size_t max)
{
	size_t n = v ? strnlen(v, max + 1) : 0;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
			n--;
	}
	return n;
}

void fw_store_archive_categories(const struct fw_archive_row *r, char *buf)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < r->n_categories; i++) {
		const char *c = r->categories[i];
		size_t n = c ? strlen(c) : 0;

		if (n == 0 || len + n + (len > 0) > FW_ARCHIVE_CATEGORIES_MAX)
			continue;
		if (len > 0)
			buf[len++] = '\n';
		for (size_t k = 0; k < n; k++)
			buf[len++] = c[k] == '\n' ? ' ' : c[k];
		buf[len] = 0;
	}
}

/* The start of a prune run: 1 when this store holds the prune lock, 0 (with *deleted 0)
   when another node's does, whose pass does this one's work, or -errno. */
static int lock_or_skip(struct fw_store *s, int64_t *deleted)
{
	int ret = fw_store_prune_lock(s);

	if (ret == 0 && deleted)
		*deleted = 0;
	return ret;
}

/* The end of a prune run under the lock: gives the hold back; the run's result first. */
static int unlock_after(struct fw_store *s, int ret)
{
	int r = fw_store_prune_unlock(s);

	return ret < 0 ? ret : r;
}

int fw_store_item_prune(struct fw_store *s, int64_t before, int64_t *deleted)
{
	struct fw_store_item_pruning p = {.before = before};
	bool done = false;
	int ret = lock_or_skip(s, deleted);

	if (ret <= 0)
		return ret;
	ret = 0;
	while (ret == 0 && !done)
		ret = fw_store_item_prune_step(s, &p, FW_STORE_ARCHIVE_PRUNE_BATCH, &done);
	ret = unlock_after(s, ret);
	if (ret == 0 && deleted)
		*deleted = p.deleted;
	return ret;
}

int fw_store_archive_prune(struct fw_store *s, int64_t before, int64_t max_bytes,
                           const struct fw_store_words *w, int64_t *deleted)
{
	struct fw_store_archive_pruning p = {.before = before, .max_bytes = max_bytes};
	bool done = false;
	int ret = lock_or_skip(s, deleted);

	if (ret <= 0)
		return ret;
	ret = 0;
	while (ret == 0 && !done)
		ret = fw_store_archive_prune_step(s, &p, FW_STORE_ARCHIVE_PRUNE_BATCH, w, &done);
	ret = unlock_after(s, ret);
	if (ret == 0 && deleted)
		*deleted = p.deleted;
	return ret;
}
