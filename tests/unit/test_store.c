/* test_store.c - what is the SQLite store's own, on real files in a fresh temporary
   directory per test: the file (schema, WAL, refusals, locks, permissions, read-only
   opens), its migrations, its fsyncs, and what its transactions leave in the file. What
   every backend must do is in the contract tests (test_contract_*.c), on both backends. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "test_rmtree.h"

#define T0 1700000000

struct fx {
	char dir[64];
	char path[128];
	char err[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fw-test-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	chmod(f->dir, 0700);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

static struct fw_store *open_rw(struct fx *f)
{
	struct fw_store *s = NULL;
	int r = fw_store_open(f->path, false, &s, f->err, sizeof(f->err));

	if (r != 0)
		print_error("open: %d %s\n", r, f->err);
	assert_int_equal(r, 0);
	assert_non_null(s);
	return s;
}

/* Run one pragma/query on a raw connection and return its integer. */
static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The whole file, for checking that a refused file was left alone. */
static char *slurp(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)sb.st_size), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

static void expect_refusal(struct fx *f, bool read_only, int want, const char *needle)
{
	struct fw_store *s = NULL;
	int r;

	f->err[0] = 0;
	r = fw_store_open_timeout(f->path, read_only, 100, &s, f->err, sizeof(f->err));
	if (r != want)
		print_error("open: got %d want %d: %s\n", r, want, f->err);
	assert_int_equal(r, want);
	assert_null(s);
	assert_non_null(strstr(f->err, f->path));
	assert_null(strchr(f->err, '\n'));
	if (needle && !strstr(f->err, needle))
		fail_msg("error '%s' lacks '%s'", f->err, needle);
}

static void test_create_schema(void **state)
{
	struct fx *f = *state;
	struct fw_store *s = open_rw(f);

	assert_int_equal(raw_int(f->path, "PRAGMA application_id"), 0x46574442);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 9);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
	                                  "AND name IN ('feeds', 'items', 'alerts', 'outbox')"),
	                 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE "
	                                  "name = 'outbox_due'"),
	                 1);
	/* WAL is a property of the file: a fresh connection sees it. */
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;

		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
		                 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	s = fw_store_close(s);
	assert_null(s);
	assert_null(fw_store_close(NULL));
	/* Reopening an existing database does not migrate or fail. */
	s = open_rw(f);
	fw_store_close(s);
}

static void test_reopen_keeps_data(void **state)
{
	struct fx *f = *state;
	struct fw_store *s = open_rw(f);
	struct fw_feed_state st = {.url = (char *)"http://a.example/feed", .last_poll = T0};
	struct fw_feed_state got = {0};
	struct fw_outbox_entry *e = NULL;
	size_t n = 0;
	int64_t cnt = 0;

	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_feed_save(s, "a", &st), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "i1", 11, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_alert_add(s, "al1", "wl", "a", "i1", T0), 1);
	assert_int_equal(fw_store_outbox_add(s, "al1", "log", "{\"x\":1}", T0), 1);
	assert_int_equal(fw_store_commit(s), 0);
	s = fw_store_close(s);
	assert_int_equal(access(f->path, F_OK), 0);

	s = open_rw(f);
	assert_int_equal(fw_store_feed_load(s, "a", &got), 0);
	assert_true(got.exists);
	assert_string_equal(got.url, "http://a.example/feed");
	assert_int_equal(got.last_poll, T0);
	fw_feed_state_clear(&got);
	assert_int_equal(fw_store_item_mark(s, "a", "i1", 11, T0 + 60), FW_ITEM_SAME);
	assert_int_equal(fw_store_item_count(s, "a", &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(fw_store_alert_add(s, "al1", "wl", "a", "i1", T0), 0);
	assert_int_equal(fw_store_outbox_add(s, "al1", "log", "{\"x\":1}", T0), 0);
	assert_int_equal(fw_store_outbox_due(s, T0, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].payload, "{\"x\":1}");
	fw_outbox_entries_free(e, n);
	fw_store_close(s);
}

static void test_feed_state(void **state)
{
	struct fx *f = *state;
	struct fw_store *s = open_rw(f);
	struct fw_feed_state in = {
	    .exists = true,
	    .url = (char *)"https://example.org/atom.xml",
	    .etag = (char *)"W/\"abc\"",
	    .last_modified = NULL,
	    .moved_url = NULL,
	    .last_poll = T0,
	    .last_success = T0 - 60,
	    .next_poll = T0 + 1800,
	    .http_status = 304,
	    .error_streak = 3,
	    .first_error = T0 - 3600,
	    .last_error = NULL,
	    .items_seen = 123456789012LL,
	    .alerts = 7,
	    .failing_alerted = true,
	    .rate_items = 12.5,
	    .rate_seconds = 86400.25,
	    .rate_at = T0 - 30,
	};
	struct fw_feed_state out = {0};
	char **names = NULL;
	size_t n = 0, i;
	int64_t cnt;

	assert_int_equal(fw_store_feed_load(s, "unknown", &out), 0);
	assert_false(out.exists);
	assert_null(out.url);
	assert_int_equal(out.last_poll, 0);

	assert_int_equal(fw_store_feed_save(s, "f1", &in), 0);
	assert_int_equal(fw_store_feed_load(s, "f1", &out), 0);
	assert_true(out.exists);
	assert_string_equal(out.url, in.url);
	assert_string_equal(out.etag, in.etag);
	assert_null(out.last_modified);
	assert_null(out.moved_url);
	assert_null(out.last_error);
	assert_int_equal(out.last_poll, in.last_poll);
	assert_int_equal(out.last_success, in.last_success);
	assert_int_equal(out.next_poll, in.next_poll);
	assert_int_equal(out.http_status, 304);
	assert_int_equal(out.error_streak, 3);
	assert_int_equal(out.first_error, in.first_error);
	assert_int_equal(out.items_seen, in.items_seen);
	assert_int_equal(out.alerts, 7);
	assert_true(out.failing_alerted);
	assert_true(out.rate_items == 12.5 && out.rate_seconds == 86400.25);
	assert_int_equal(out.rate_at, T0 - 30);
	fw_feed_state_clear(&out);
	assert_null(out.url);
	assert_false(out.exists);

	/* Replace: the other strings set, the old ones cleared. */
	in.etag = NULL;
	in.last_modified = (char *)"Tue, 14 Nov 2023 22:13:20 GMT";
	in.moved_url = (char *)"https://new.example.org/atom.xml";
	in.last_error = (char *)"HTTP 503";
	in.failing_alerted = false;
	assert_int_equal(fw_store_feed_save(s, "f1", &in), 0);
	assert_int_equal(fw_store_feed_load(s, "f1", &out), 0);
	assert_null(out.etag);
	assert_string_equal(out.last_modified, in.last_modified);
	assert_string_equal(out.moved_url, in.moved_url);
	assert_string_equal(out.last_error, "HTTP 503");
	assert_false(out.failing_alerted);
	fw_feed_state_clear(&out);
	fw_feed_state_clear(NULL);

	/* Names, sorted; forget drops the feed and its items, not its alerts or outbox. */
	assert_int_equal(fw_store_feed_save(s, "f0", &in), 0);
	assert_int_equal(fw_store_item_mark(s, "f1", "i", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "f0", "i", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_alert_add(s, "al", "wl", "f1", "i", T0), 1);
	assert_int_equal(fw_store_outbox_add(s, "al", "log", "{}", T0), 1);
	assert_int_equal(fw_store_feed_names(s, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "f0");
	assert_string_equal(names[1], "f1");
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	assert_int_equal(fw_store_feed_forget(s, "f1"), 0);
	assert_int_equal(fw_store_feed_load(s, "f1", &out), 0);
	assert_false(out.exists);
	assert_int_equal(fw_store_item_count(s, "f1", &cnt), 0);
	assert_int_equal(cnt, 0);
	assert_int_equal(fw_store_item_count(s, "f0", &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(fw_store_alert_add(s, "al", "wl", "f1", "i", T0), 0);
	assert_int_equal(fw_store_outbox_count(s, "log", &cnt, NULL), 0);
	assert_int_equal(cnt, 1);
	/* Forget works inside a transaction too, and rolls back with it. */
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_feed_forget(s, "f0"), 0);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(fw_store_feed_names(s, &names, &n), 0);
	assert_int_equal(n, 1);
	free(names[0]);
	free(names);
	fw_store_close(s);
}

/*
 * A VFS in front of the default one that counts the fsyncs of WAL files: what makes a
 * commit durable. Registered as the default for one test, so the store uses it.
 */
struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;
	int wal;
};

static sqlite3_vfs *shim_real;
static int shim_wal_syncs;

#define SHIM_REAL(f) (((struct shim_file *)(f))->real)
static int shim_close(sqlite3_file *f)
{
	return SHIM_REAL(f)->pMethods->xClose(SHIM_REAL(f));
}
static int shim_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return SHIM_REAL(f)->pMethods->xRead(SHIM_REAL(f), b, n, o);
}
static int shim_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return SHIM_REAL(f)->pMethods->xWrite(SHIM_REAL(f), b, n, o);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return SHIM_REAL(f)->pMethods->xTruncate(SHIM_REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
	if (((struct shim_file *)f)->wal)
		shim_wal_syncs++;
	return SHIM_REAL(f)->pMethods->xSync(SHIM_REAL(f), flags);
}
static int shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return SHIM_REAL(f)->pMethods->xFileSize(SHIM_REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int l)
{
	return SHIM_REAL(f)->pMethods->xLock(SHIM_REAL(f), l);
}
static int shim_unlock(sqlite3_file *f, int l)
{
	return SHIM_REAL(f)->pMethods->xUnlock(SHIM_REAL(f), l);
}
static int shim_reserved(sqlite3_file *f, int *out)
{
	return SHIM_REAL(f)->pMethods->xCheckReservedLock(SHIM_REAL(f), out);
}
static int shim_fcntl(sqlite3_file *f, int op, void *arg)
{
	return SHIM_REAL(f)->pMethods->xFileControl(SHIM_REAL(f), op, arg);
}
static int shim_sector(sqlite3_file *f)
{
	return SHIM_REAL(f)->pMethods->xSectorSize(SHIM_REAL(f));
}
static int shim_devchar(sqlite3_file *f)
{
	return SHIM_REAL(f)->pMethods->xDeviceCharacteristics(SHIM_REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return SHIM_REAL(f)->pMethods->xShmMap(SHIM_REAL(f), pg, sz, extend, pp);
}
static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return SHIM_REAL(f)->pMethods->xShmLock(SHIM_REAL(f), off, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
	SHIM_REAL(f)->pMethods->xShmBarrier(SHIM_REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
	return SHIM_REAL(f)->pMethods->xShmUnmap(SHIM_REAL(f), del);
}

static const sqlite3_io_methods shim_io = {
    2,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_size,
    shim_lock,
    shim_unlock,
    shim_reserved,
    shim_fcntl,
    shim_sector,
    shim_devchar,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    NULL,
    NULL,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct shim_file *sf = (struct shim_file *)f;
	int rc;

	(void)vfs;
	sf->real = (sqlite3_file *)(sf + 1);
	sf->wal = (flags & SQLITE_OPEN_WAL) != 0;
	rc = shim_real->xOpen(shim_real, name, sf->real, flags, out);
	f->pMethods = rc == SQLITE_OK && sf->real->pMethods ? &shim_io : NULL;
	return rc;
}
static int shim_delete(sqlite3_vfs *v, const char *n, int sync)
{
	(void)v;
	return shim_real->xDelete(shim_real, n, sync);
}
static int shim_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
	(void)v;
	return shim_real->xAccess(shim_real, n, flags, out);
}
static int shim_fullpath(sqlite3_vfs *v, const char *n, int size, char *out)
{
	(void)v;
	return shim_real->xFullPathname(shim_real, n, size, out);
}
static int shim_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return shim_real->xRandomness(shim_real, n, out);
}
static int shim_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return shim_real->xSleep(shim_real, us);
}
static int shim_time(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return shim_real->xCurrentTimeInt64(shim_real, out);
}
static int shim_lasterr(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return shim_real->xGetLastError(shim_real, n, out);
}

/*
 * Polls commit without an fsync (fw_store_begin_lazy); one sync makes them all durable, and
 * it comes before any alert is handed out and at close. Counted at the VFS.
 */
static void test_lazy_sync(void **state)
{
	struct fx *f = *state;
	static sqlite3_vfs shim;
	struct fw_outbox_entry *e = NULL;
	struct fw_store *s;
	size_t n = 0;
	int base;

	shim_real = sqlite3_vfs_find(NULL);
	assert_non_null(shim_real);
	shim = (sqlite3_vfs){
	    .iVersion = 2,
	    .szOsFile = (int)sizeof(struct shim_file) + shim_real->szOsFile,
	    .mxPathname = shim_real->mxPathname,
	    .zName = "fwshim",
	    .xOpen = shim_open,
	    .xDelete = shim_delete,
	    .xAccess = shim_access,
	    .xFullPathname = shim_fullpath,
	    .xRandomness = shim_random,
	    .xSleep = shim_sleep,
	    .xCurrentTimeInt64 = shim_time,
	    .xGetLastError = shim_lasterr,
	};
	assert_int_equal(sqlite3_vfs_register(&shim, 1), SQLITE_OK);
	s = open_rw(f);

	/* lazy commits: no fsync (after the first write to a fresh WAL, whose header SQLite
	   syncs once) */
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "first", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	base = shim_wal_syncs;
	for (int i = 0; i < 5; i++) {
		char id[8];

		snprintf(id, sizeof(id), "%d", i);
		assert_int_equal(fw_store_begin_lazy(s), 0);
		assert_int_equal(fw_store_begin_lazy(s), -EINVAL);
		assert_int_equal(fw_store_item_mark(s, "a", id, 1, T0), FW_ITEM_NEW);
		assert_int_equal(fw_store_commit(s), 0);
	}
	assert_int_equal(shim_wal_syncs, base);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM items"), 6);

	/* one sync for all of them; nothing left for a second one */
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(shim_wal_syncs, base + 1);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(shim_wal_syncs, base + 1);
	assert_int_equal(raw_int(f->path, "SELECT v FROM meta WHERE k = 'syncs'"), 1);

	/* an alert queued lazily is made durable before it is handed out */
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_outbox_add(s, "al1", "log", "{}", T0), 1);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(shim_wal_syncs, base + 1);
	assert_int_equal(fw_store_outbox_due(s, T0, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(shim_wal_syncs, base + 2);
	fw_outbox_entries_free(e, n);

	/* a lazy transaction rolled back leaves nothing to sync; other writes are FULL */
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "y", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(shim_wal_syncs, base + 3);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(shim_wal_syncs, base + 3);

	/* a group of polls: one lazy transaction, a savepoint each; a failed poll alone undone */
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "g", "1", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_poll_commit(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "g", "2", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_poll_rollback(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "g", "3", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_poll_commit(s), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM items WHERE feed = 'g'"), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM items WHERE feed = 'g' AND "
	                                  "id IN ('1', '3')"),
	                 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM items WHERE feed = 'g'"), 2);
	/* without a group a poll is a lazy transaction of its own */
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "g", "4", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_poll_commit(s), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM items WHERE feed = 'g'"), 3);
	assert_int_equal(shim_wal_syncs, base + 3);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(shim_wal_syncs, base + 4);

	/* a FULL commit that writes syncs the WAL, and so every lazy commit before it: no
	   sync is left to do; one that writes nothing syncs nothing, and the sync still runs */
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_item_mark(s, "h", "1", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "h", "2", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(shim_wal_syncs, base + 5);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(shim_wal_syncs, base + 5);
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_item_mark(s, "h", "3", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(shim_wal_syncs, base + 5);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(shim_wal_syncs, base + 6);

	/* close syncs what is pending (then SQLite's own checkpoint at close syncs too) */
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "z", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(shim_wal_syncs, base + 6);
	fw_store_close(s);
	assert_true(shim_wal_syncs >= base + 7);
	assert_int_equal(raw_int(f->path, "SELECT v FROM meta WHERE k = 'syncs'"), 5);
	assert_int_equal(sqlite3_vfs_unregister(&shim), SQLITE_OK);
}

/* A schema 1 database (before the meta table) is upgraded in place, its rows kept. */
static void test_migrate_v1(void **state)
{
	struct fx *f = *state;
	struct fw_store *s;
	int64_t n = 0;

	raw_exec(
	    f->path,
	    "CREATE TABLE feeds (name TEXT PRIMARY KEY NOT NULL, url TEXT, etag TEXT,"
	    " last_modified TEXT, moved_url TEXT, last_poll INTEGER NOT NULL DEFAULT 0,"
	    " last_success INTEGER NOT NULL DEFAULT 0, next_poll INTEGER NOT NULL DEFAULT 0,"
	    " http_status INTEGER NOT NULL DEFAULT 0, error_streak INTEGER NOT NULL DEFAULT 0,"
	    " first_error INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
	    " items_seen INTEGER NOT NULL DEFAULT 0, alerts INTEGER NOT NULL DEFAULT 0,"
	    " failing_alerted INTEGER NOT NULL DEFAULT 0);"
	    "CREATE TABLE items (feed TEXT NOT NULL, id TEXT NOT NULL, hash INTEGER NOT NULL,"
	    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	    " PRIMARY KEY (feed, id)) WITHOUT ROWID;"
	    "CREATE TABLE alerts (id TEXT PRIMARY KEY NOT NULL, watchlist TEXT NOT NULL,"
	    " feed TEXT NOT NULL, item_id TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;"
	    "CREATE TABLE outbox (rowid INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL,"
	    " output TEXT NOT NULL, payload TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
	    " attempts INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
	    " next_at INTEGER NOT NULL, last_error TEXT, UNIQUE (alert_id, output));"
	    "CREATE INDEX outbox_due ON outbox (state, next_at);"
	    "INSERT INTO items VALUES ('a', '1', 7, 1, 1);"
	    "INSERT INTO outbox (alert_id, output, payload, created, next_at)"
	    " VALUES ('old', 'log', '{}', 1, 1);"
	    "PRAGMA application_id = 1180124226; PRAGMA user_version = 1;");
	s = open_rw(f);
	assert_int_equal(fw_store_item_count(s, "a", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "2", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_sync(s), 0);
	fw_store_close(s);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 9);
	assert_int_equal(raw_int(f->path, "SELECT v FROM meta WHERE k = 'syncs'"), 1);
	/* version 6: no rate learned yet, no delivery time known */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM feeds WHERE rate_at <> 0"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM alert_routes WHERE delivered "
	                                  "IS NOT NULL"),
	                 0);
	/* version 4 keeps the texts of alerts queued before it */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM alert_texts WHERE alert_id = "
	                                  "'old' AND payload = '{}'"),
	                 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM alert_routes WHERE alert_id = "
	                                  "'old' AND output = 'log'"),
	                 1);
}

static void test_transactions(void **state)
{
	struct fx *f = *state;
	struct fw_store *s = open_rw(f);
	int64_t n;

	assert_int_equal(fw_store_commit(s), -EINVAL);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_begin(s), -EINVAL);
	assert_non_null(strstr(fw_store_error(s), "transaction"));
	assert_int_equal(fw_store_set_synchronous(s, false), -EINVAL);
	assert_int_equal(fw_store_item_mark(s, "a", "1", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(fw_store_item_count(s, "a", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "1", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_item_count(s, "a", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fw_store_set_synchronous(s, false), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM items"), 1);
	assert_int_equal(fw_store_set_synchronous(s, true), 0);
	assert_string_equal(fw_store_error(NULL), "no store");
	fw_store_close(s);
}

static void test_refuse_garbage(void **state)
{
	struct fx *f = *state;
	char junk[8192];
	size_t i, len;
	char *after;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(f->path, junk, sizeof(junk));
	expect_refusal(f, false, -EBADMSG, "not a SQLite database");
	expect_refusal(f, true, -EBADMSG, "not a SQLite database");
	after = slurp(f->path, &len);
	assert_int_equal(len, sizeof(junk));
	assert_memory_equal(after, junk, sizeof(junk));
	free(after);

	/* A short file: SQLite itself would take it for an empty database and overwrite it. */
	write_file(f->path, "hello\n", 6);
	expect_refusal(f, false, -EBADMSG, "not a SQLite database");
	after = slurp(f->path, &len);
	assert_int_equal(len, 6);
	free(after);

	/* A SQLite header on garbage pages: SQLite's own check answers. */
	memcpy(junk, "SQLite format 3", 16);
	write_file(f->path, junk, sizeof(junk));
	expect_refusal(f, false, -EBADMSG, NULL);
}

/* A store of 3000 marked items, checked when made (its stamp moved back a day when
   day_old), then 16 KiB of junk written over its middle pages. */
static void damaged_store(struct fx *f, bool day_old)
{
	struct fw_store *s = open_rw(f);
	char id[64], junk[4096 * 4];
	struct stat sb;
	int fd;

	assert_int_equal(fw_store_begin(s), 0);
	for (size_t i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "https://example.com/item/%zu", i);
		assert_int_equal(fw_store_item_mark(s, "feed", id, (int64_t)i, T0), FW_ITEM_NEW);
	}
	assert_int_equal(fw_store_commit(s), 0);
	fw_store_close(s);
	/* The last close checkpointed the WAL into the file and removed it. */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(sb.st_size >= 20 * 4096);
	/* made and checked at once: no check is due */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM meta WHERE k = 'checked' AND "
	                                  "v > CAST(strftime('%s', 'now') AS INTEGER) - 60"),
	                 1);
	if (day_old)
		raw_exec(f->path, "UPDATE meta SET v = v - 86400 WHERE k = 'checked'");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 13 + 5);
	fd = open(f->path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), (sb.st_size / 2) & ~(off_t)4095),
	                 (ssize_t)sizeof(junk));
	close(fd);
}

/* Between two checks the store opens; the statement that meets the damage fails, and the
   next open checks. */
static void test_refuse_corrupt(void **state)
{
	struct fx *f = *state;
	struct fw_store *s;
	char id[64];
	int r = 0;

	damaged_store(f, false);
	s = open_rw(f);
	for (size_t i = 0; i < 3000 && r == 0; i++) {
		snprintf(id, sizeof(id), "https://example.com/item/%zu", i);
		r = fw_store_item_mark(s, "feed", id, (int64_t)i, T0 + 10);
		r = r < 0 ? r : 0;
	}
	assert_int_equal(r, -EBADMSG);
	fw_store_close(s);
	expect_refusal(f, false, -EBADMSG, "corrupt");
	expect_refusal(f, true, -EBADMSG, "corrupt");
}

/* The last check a day old: the damage is found at open, by a reader too. */
static void test_refuse_corrupt_due(void **state)
{
	struct fx *f = *state;

	damaged_store(f, true);
	expect_refusal(f, true, -EBADMSG, "corrupt");
	expect_refusal(f, false, -EBADMSG, "corrupt");
}

static void test_refuse_other_app(void **state)
{
	struct fx *f = *state;

	/* No application_id but tables: someone else's database. */
	raw_exec(f->path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
	expect_refusal(f, false, -EMEDIUMTYPE, "another application");
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM t"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema"), 1);
	/* Not turned into WAL either. */
	{
		size_t len;
		char *hdr = slurp(f->path, &len);

		/* Header bytes 18-19: file format versions, 1 = rollback journal, 2 = WAL. */
		assert_true(len >= 100);
		assert_int_equal(hdr[18], 1);
		assert_int_equal(hdr[19], 1);
		free(hdr);
	}
	remove(f->path);

	raw_exec(f->path, "PRAGMA application_id = 1234");
	expect_refusal(f, false, -EMEDIUMTYPE, "application_id");
	expect_refusal(f, true, -EMEDIUMTYPE, NULL);
	assert_int_equal(raw_int(f->path, "PRAGMA application_id"), 1234);
}

static void test_refuse_future_version(void **state)
{
	struct fx *f = *state;
	struct fw_store *s = open_rw(f);

	fw_store_close(s);
	raw_exec(f->path, "PRAGMA user_version = 99");
	expect_refusal(f, false, -EPROTO, "newer");
	expect_refusal(f, true, -EPROTO, "newer");
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
}

static void test_refuse_paths(void **state)
{
	struct fx *f = *state;
	char file[160];

	/* Under a directory that does not exist. */
	snprintf(f->path, sizeof(f->path), "%s/nope/state.db", f->dir);
	expect_refusal(f, false, -ENOENT, "No such file");
	/* A file where a directory is expected. */
	snprintf(file, sizeof(file), "%s/plain", f->dir);
	write_file(file, "x", 1);
	snprintf(f->path, sizeof(f->path), "%s/plain/state.db", f->dir);
	expect_refusal(f, false, -ENOTDIR, NULL);
	/* A directory where the database is expected. */
	snprintf(f->path, sizeof(f->path), "%s", f->dir);
	expect_refusal(f, false, -EISDIR, NULL);
	expect_refusal(f, true, -EISDIR, NULL);
	/* read_only never creates. */
	snprintf(f->path, sizeof(f->path), "%s/absent.db", f->dir);
	expect_refusal(f, true, -ENOENT, NULL);
	assert_int_equal(access(f->path, F_OK), -1);
	/* An empty file is damage (feedwatch creates its database whole), for the daemon and
	   for status: taken as new, it sent every delivered alert again. */
	write_file(f->path, "", 0);
	expect_refusal(f, true, -EBADMSG, "empty");
	expect_refusal(f, false, -EBADMSG, "empty file");
	/* A database is created whole: no empty file, no temporary one left. */
	snprintf(f->path, sizeof(f->path), "%s/fresh.db", f->dir);
	{
		struct fw_store *s = NULL;
		struct stat sb;

		assert_int_equal(fw_store_open(f->path, false, &s, f->err, sizeof(f->err)), 0);
		fw_store_close(s);
		assert_int_equal(stat(f->path, &sb), 0);
		assert_true(sb.st_size > 0);
		snprintf(file, sizeof(file), "%s/fresh.db.new", f->dir);
		assert_int_equal(access(file, F_OK), -1);
	}
}

/*
 * A read-only directory. Root passes permission checks, so as root the check runs in a
 * child that drops to nobody (uid/gid 65534); otherwise in this process.
 */
static int ro_dir_check(struct fx *f, const char *fresh, const char *existing)
{
	struct fw_store *s = NULL;
	char err[512];
	int r;

	r = fw_store_open_timeout(fresh, false, 100, &s, err, sizeof(err));
	if (r != -EACCES || s || !strstr(err, fresh))
		return 1;
	r = fw_store_open_timeout(existing, false, 100, &s, err, sizeof(err));
	if (r != -EACCES || s || !strstr(err, "not writable"))
		return 2;
	/* A reader needs the -shm file that a running writer makes, or a directory to make it
	   in: with neither it says so. */
	r = fw_store_open_timeout(existing, true, 100, &s, err, sizeof(err));
	if (r != -EROFS || s || !strstr(err, "-shm"))
		return 3;
	(void)f;
	return 0;
}

/* While a writer runs, another user's read-only open works in the read-only directory. */
static int ro_dir_reader(const char *existing)
{
	struct fw_store *s = NULL;
	char err[512];
	int64_t n = -1;
	int r;

	r = fw_store_open_timeout(existing, true, 100, &s, err, sizeof(err));
	if (r != 0)
		return 4;
	r = fw_store_item_count(s, "a", &n);
	fw_store_close(s);
	return r == 0 && n == 1 ? 0 : 5;
}

static void test_refuse_readonly_dir(void **state)
{
	struct fx *f = *state;
	char ro[96], fresh[128], existing[128], wal[160];
	struct fw_store *s;
	pid_t pid;
	int status;

	snprintf(ro, sizeof(ro), "%s/ro", f->dir);
	snprintf(fresh, sizeof(fresh), "%s/new.db", ro);
	snprintf(existing, sizeof(existing), "%s/old.db", ro);
	assert_int_equal(mkdir(ro, 0755), 0);
	snprintf(f->path, sizeof(f->path), "%s", existing);
	s = open_rw(f);
	fw_store_close(s);
	snprintf(wal, sizeof(wal), "%s-wal", existing);
	assert_int_equal(access(wal, F_OK), -1);
	assert_int_equal(chmod(existing, 0666), 0);
	assert_int_equal(chmod(ro, 0555), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);

	if (geteuid() != 0) {
		assert_int_equal(ro_dir_check(f, fresh, existing), 0);
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(10);
		_exit(ro_dir_check(f, fresh, existing));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(fresh, F_OK), -1);

	/* The daemon (root here passes the directory check) runs; status as nobody reads. */
	s = open_rw(f);
	assert_int_equal(fw_store_item_mark(s, "a", "1", 1, T0), FW_ITEM_NEW);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(10);
		_exit(ro_dir_reader(existing));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fw_store_close(s);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_refuse_locked(void **state)
{
	struct fx *f = *state;
	struct fw_store *s = open_rw(f);
	sqlite3 *other = NULL;
	double t0, waited;
	int r;

	fw_store_close(s);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);

	s = NULL;
	t0 = now_ms();
	r = fw_store_open_timeout(f->path, false, 300, &s, f->err, sizeof(f->err));
	waited = now_ms() - t0;
	assert_int_equal(r, -EBUSY);
	assert_null(s);
	assert_non_null(strstr(f->err, "locked"));
	assert_non_null(strstr(f->err, f->path));
	assert_true(waited >= 250 && waited < 5000);

	/* Readers are not blocked by a writer in WAL mode. */
	r = fw_store_open_timeout(f->path, true, 300, &s, f->err, sizeof(f->err));
	assert_int_equal(r, 0);
	s = fw_store_close(s);

	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fw_store_open_timeout(f->path, false, 300, &s, f->err, sizeof(f->err)), 0);
	/* And the other way round: our transaction waits for the lock, then gives up. */
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	t0 = now_ms();
	assert_int_equal(fw_store_begin(s), -EBUSY);
	assert_true(now_ms() - t0 >= 250);
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_commit(s), 0);
	fw_store_close(s);
	sqlite3_close(other);
}

static void test_read_only_with_writer(void **state)
{
	struct fx *f = *state;
	struct fw_store *w = open_rw(f), *r = NULL;
	struct fw_feed_state st = {.url = (char *)"u"};
	int64_t n = -1;

	assert_int_equal(fw_store_begin(w), 0);
	assert_int_equal(fw_store_feed_save(w, "a", &st), 0);
	assert_int_equal(fw_store_item_mark(w, "a", "1", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(w, "a", "2", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(w), 0);
	/* The writer holds an open write transaction while status reads. */
	assert_int_equal(fw_store_begin(w), 0);
	assert_int_equal(fw_store_item_mark(w, "a", "3", 1, T0), FW_ITEM_NEW);

	assert_int_equal(fw_store_open_timeout(f->path, true, 300, &r, f->err, sizeof(f->err)), 0);
	assert_int_equal(fw_store_item_count(r, "a", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fw_store_item_mark(r, "a", "4", 1, T0), -EROFS);
	assert_int_equal(fw_store_alert_add(r, "x", "w", "a", "1", T0), -EROFS);
	assert_non_null(fw_store_error(r));
	assert_int_equal(fw_store_begin(r), 0);
	assert_int_equal(fw_store_item_count(r, "a", &n), 0);
	assert_int_equal(fw_store_rollback(r), 0);

	assert_int_equal(fw_store_commit(w), 0);
	assert_int_equal(fw_store_item_count(r, "a", &n), 0);
	assert_int_equal(n, 3);
	fw_store_close(r);
	fw_store_close(w);

	/* Status with no daemon running (no -wal or -shm yet) works too. */
	assert_int_equal(fw_store_open_timeout(f->path, true, 300, &r, f->err, sizeof(f->err)), 0);
	assert_int_equal(fw_store_item_count(r, "a", &n), 0);
	assert_int_equal(n, 3);
	fw_store_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_feed_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lazy_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_corrupt_due, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_other_app, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_future_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_readonly_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuse_locked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_with_writer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
