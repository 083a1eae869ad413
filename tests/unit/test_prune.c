/* test_prune.c - the daemon's periodic prunes (prune.c) on a real libuv loop and a real
   SQLite file: a large archive is pruned in many short batches with the loop's timers and
   polls running between them, to the same end as a prune in one transaction; closing the
   pruner half-way leaves a consistent store and a loop that closes; the items' retention
   goes a few feeds a step, to the same end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "backfill.h"
#include "prune.h"
#include "store.h"
#include "test_rmtree.h"

#define T0     1700000000
#define N_ROWS 6000
#define N_OLD  1000 /* rows seen before T0 + N_OLD */
#define N_KEEP 2000 /* about the rows the size cap keeps */

struct fx {
	char dir[64];
	char path[2][128]; /* the pruner's store, and the one pruned in one transaction */
	struct fw_store *s[2];
	struct fw_store_words words;
	int64_t max;      /* archive_max_size: the text of the newest N_KEEP rows */
	int64_t keep_min; /* the lowest id a one-shot prune by the old SQL keeps */
};

/* Row i: a common word, a word of its own, and text of a length that varies. */
static void add_rows(struct fw_store *s)
{
	char id[32], title[64], summary[700];

	assert_int_equal(fw_store_begin(s), 0);
	for (int i = 0; i < N_ROWS; i++) {
		struct fw_archive_row r = {.feed = "f",
		                           .item = id,
		                           .title = title,
		                           .summary = summary,
		                           .seen = T0 + i,
		                           .published = INT64_MIN,
		                           .updated = INT64_MIN};
		int len = 100 + (i * 37) % 500;

		snprintf(id, sizeof(id), "i%d", i);
		snprintf(title, sizeof(title), "common word%d", i);
		memset(summary, 'a' + i % 26, (size_t)len);
		summary[len] = 0;
		assert_int_equal(fw_store_archive_add(s, &r), 0);
	}
	assert_int_equal(fw_store_commit(s), 0);
}

static int64_t one_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512], sql[512];
	size_t n;

	snprintf(f->dir, sizeof(f->dir), "/tmp/fw-test-prune-XXXXXX");
	if (!mkdtemp(f->dir) || fw_backfill_words_new(&f->words) < 0)
		return -1;
	for (int k = 0; k < 2; k++) {
		snprintf(f->path[k], sizeof(f->path[k]), "%s/state%d.db", f->dir, k);
		if (fw_store_open(f->path[k], false, &f->s[k], err, sizeof(err)) < 0)
			return -1;
		add_rows(f->s[k]);
		/* every row indexed but the newest 100 */
		if (fw_store_archive_index(f->s[k], N_ROWS - 100, &f->words, &n) < 0)
			return -1;
	}
	f->max = one_int(f->path[0], "SELECT sum(bytes) FROM (SELECT bytes FROM archive ORDER "
	                             "BY id DESC LIMIT 2000)");
	/* the old one-shot prune's cut: its age delete, then its window over what is left */
	snprintf(sql, sizeof(sql),
	         "SELECT min(id) FROM (SELECT id, sum(bytes) OVER (ORDER BY id DESC) AS run FROM "
	         "archive WHERE seen >= %d) WHERE run <= %lld",
	         T0 + N_OLD, (long long)f->max);
	f->keep_min = one_int(f->path[0], sql);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int k = 0; k < 2; k++)
		fw_store_close(f->s[k]);
	fw_backfill_words_free(&f->words);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

/* What the loop saw while the prune ran. */
struct run {
	struct fw_prune *p;
	uv_timer_t timer;
	uv_check_t check;
	size_t ticks, checks, batches, close_after;
	bool done;
};

static void done_cb(void *arg)
{
	struct run *r = arg;

	r->done = true;
	r->batches = fw_prune_batches(r->p);
	uv_close((uv_handle_t *)&r->timer, NULL);
	uv_close((uv_handle_t *)&r->check, NULL);
	fw_prune_close(r->p);
}

/* A timer of the loop's: it must fire while the prune is under way. */
static void timer_cb(uv_timer_t *t)
{
	struct run *r = t->data;

	r->ticks++;
}

/* After each poll phase: counts the iterations, and closes the pruner half-way if told. */
static void check_cb(uv_check_t *c)
{
	struct run *r = c->data;

	r->checks++;
	if (r->close_after && fw_prune_batches(r->p) >= r->close_after) {
		r->batches = fw_prune_batches(r->p);
		uv_close((uv_handle_t *)&r->timer, NULL);
		uv_close((uv_handle_t *)&r->check, NULL);
		fw_prune_close(r->p);
		r->close_after = 0;
	}
}

/* Prune store 0 by the archive's targets on a loop of its own. */
static void run_prune(struct fx *f, struct run *r)
{
	uv_loop_t loop;
	struct fw_prune_env env = {.store = f->s[0], .words = &f->words, .done = done_cb, .arg = r};
	struct fw_prune_targets t = {
	    .archive_before = T0 + N_OLD, .archive_max = f->max, .archive_only = true};

	assert_int_equal(uv_loop_init(&loop), 0);
	env.loop = &loop;
	assert_int_equal(fw_prune_new(&env, &r->p), 0);
	uv_timer_init(&loop, &r->timer);
	uv_check_init(&loop, &r->check);
	r->timer.data = r->check.data = r;
	uv_timer_start(&r->timer, timer_cb, 1, 1);
	uv_check_start(&r->check, check_cb);
	assert_int_equal(fw_prune_start(r->p, &t), 1);
	assert_int_equal(fw_prune_start(r->p, &t), 0); /* one at a time */
	assert_true(fw_prune_busy(r->p));
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The ids of the archive, and of the rows the index finds by the common word. */
static void state_of(const char *path, char *ids, size_t ids_size, char *fts, size_t fts_size)
{
	static const char *const sql[] = {
	    "SELECT group_concat(id) FROM (SELECT id FROM archive ORDER BY id)",
	    "SELECT group_concat(rowid) FROM (SELECT rowid FROM archive_fts WHERE archive_fts "
	    "MATCH 'common' ORDER BY rowid)"};
	char *out[] = {ids, fts};
	size_t size[] = {ids_size, fts_size};
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *q = NULL;

		assert_int_equal(sqlite3_prepare_v2(db, sql[i], -1, &q, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		snprintf(out[i], size[i], "%s",
		         q && sqlite3_column_text(q, 0) ? (const char *)sqlite3_column_text(q, 0)
		                                        : "");
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
}

static void integrity(const char *path)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, "INSERT INTO archive_fts (archive_fts) VALUES ('integrity-check')",
	                 NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("integrity-check: %s", msg);
	sqlite3_close(db);
}

static void test_batches(void **state)
{
	struct fx *f = *state;
	static char ids[2][64 * 1024], fts[2][64 * 1024];
	struct run r = {0};
	int64_t gone = 0, when = 0, n = 0;

	run_prune(f, &r);
	assert_true(r.done);
	/* many batches, with the loop's timer and poll phase running between them */
	printf("# %zu batches, %zu timer ticks, %zu loop iterations\n", r.batches, r.ticks,
	       r.checks);
	assert_true(r.batches > 2);
	assert_true(r.ticks > 0);
	assert_true(r.checks + 1 >= r.batches);
	/* the same end as one prune in one transaction, and as the old SQL's cut */
	assert_int_equal(fw_store_begin(f->s[1]), 0);
	assert_int_equal(fw_store_archive_prune(f->s[1], T0 + N_OLD, f->max, &f->words, &gone), 0);
	assert_int_equal(fw_store_commit(f->s[1]), 0);
	assert_int_equal(gone, f->keep_min - 1);
	state_of(f->path[0], ids[0], sizeof(ids[0]), fts[0], sizeof(fts[0]));
	state_of(f->path[1], ids[1], sizeof(ids[1]), fts[1], sizeof(fts[1]));
	assert_string_equal(ids[0], ids[1]);
	assert_string_equal(fts[0], fts[1]);
	assert_int_equal(one_int(f->path[0], "SELECT min(id) FROM archive"), f->keep_min);
	assert_int_equal(fw_store_archive_count(f->s[0], 0, &n, NULL), 0);
	assert_int_equal(n, N_ROWS - f->keep_min + 1);
	assert_int_equal(fw_store_archive_last_prune(f->s[0], &when), 0);
	assert_true(when > 0);
	integrity(f->path[0]);
}

/* Shut down half-way: every batch so far committed whole, the prune not recorded as done. */
static void test_close_halfway(void **state)
{
	struct fx *f = *state;
	struct run r = {.close_after = 3};
	int64_t when = -1, n = 0;

	run_prune(f, &r);
	assert_false(r.done);
	assert_int_equal(r.batches, 3);
	assert_int_equal(fw_store_archive_last_prune(f->s[0], &when), 0);
	assert_int_equal(when, 0);
	assert_int_equal(fw_store_archive_count(f->s[0], 0, &n, NULL), 0);
	assert_true(n < N_ROWS);
	assert_true(n > N_ROWS - f->keep_min + 1);
	/* the index holds only rows the table holds */
	assert_int_equal(one_int(f->path[0], "SELECT count(*) FROM archive_fts WHERE archive_fts "
	                                     "MATCH 'common' AND rowid NOT IN (SELECT id FROM "
	                                     "archive)"),
	                 0);
	integrity(f->path[0]);
}

/* Items, a step of about one item at a time: whole feeds each step, the same end as the
   one-shot prune of store 1 (feeds whose items all went, a feed that kept them). */
static void test_items_steps(void **state)
{
	struct fx *f = *state;
	struct fw_store_item_pruning p = {.before = T0 + 5 * 86400};
	char feed[16], id[16];
	size_t steps = 0;
	bool done = false;
	int64_t gone = 0, n[2] = {0, 0};

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 30; i++) {
			snprintf(feed, sizeof(feed), "feed%02d", i % 10);
			snprintf(id, sizeof(id), "item%d", i);
			assert_true(fw_store_item_mark(f->s[k], feed, id, 1, T0 + i % 3) >= 0);
			/* the feed's latest sighting: its other items left it */
			if (i % 10 < 7)
				assert_true(fw_store_item_mark(f->s[k], feed, "latest", 1,
				                               T0 + 10 * 86400) >= 0);
		}
	while (!done) {
		assert_int_equal(fw_store_item_prune_step(f->s[0], &p, 1, &done), 0);
		steps++;
	}
	assert_int_equal(fw_store_item_prune(f->s[1], p.before, &gone), 0);
	assert_int_equal(p.deleted, gone);
	assert_int_equal(gone, 21);  /* 3 items of each of the 7 feeds seen again */
	assert_int_equal(steps, 11); /* one feed a step, and the end */
	for (int k = 0; k < 2; k++)
		n[k] = one_int(f->path[k], "SELECT count(*) FROM items");
	assert_int_equal(n[0], n[1]);
	assert_int_equal(n[0], 30 + 7 - 21);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_halfway, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_items_steps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
