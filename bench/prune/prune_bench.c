/*
 * prune_bench.c - the longest loop stall of the archive's prune (bench/prune/README.md).
 * Builds a store of `rows` archived items (title, summary, 4 KiB of content, words indexed
 * with the daemon's own folding), copies it, then prunes it to keep_pct of its text:
 *   oneshot: fw_store_archive_prune in one transaction, as the daemon's tick did it (the
 *            loop polls nothing until it returns: the stall is its whole time);
 *   batched: the daemon's continuation (prune.c) on a libuv loop with a 1 ms timer: the
 *            stall is the longest loop iteration (uv_check to uv_check).
 * Usage: prune_bench DIR ROWS KEEP_PCT [oneshot|batched|both|baseline]
 * (baseline: the longest of 300 one-row commits to the store: its fsync and checkpoint floor)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "backfill.h"
#include "store.h"
#ifndef PRUNE_BENCH_ONESHOT_ONLY
#include "prune.h"
#endif

#define T0 1700000000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const vocab[] = {
    "market", "election",  "storm",  "minister",  "talks",   "border",   "energy",  "prices",
    "report", "court",     "ruling", "strike",    "union",   "summit",   "trade",   "deal",
    "police", "protest",   "budget", "vote",      "climate", "flood",    "drought", "bank",
    "rates",  "inflation", "war",    "ceasefire", "aid",     "refugees", "health",  "vaccine"};

/* n bytes of words into buf, seeded by i. */
static void text(char *buf, size_t n, unsigned i)
{
	size_t len = 0;

	while (len + 24 < n) {
		i = i * 1103515245u + 12345u;
		len += (size_t)snprintf(buf + len, n - len, "%s%u ", vocab[(i >> 8) % 32],
		                        (i >> 16) % 5000);
	}
	buf[len] = 0;
}

static int make(const char *path, long rows, struct fw_store_words *w)
{
	static char title[100], summary[400], content[4097];
	char err[512], id[48];
	struct fw_store *s;
	size_t n;

	if (fw_store_open(path, false, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	for (long i = 0; i < rows; i++) {
		struct fw_archive_row r = {.feed = "feed",
		                           .item = id,
		                           .title = title,
		                           .summary = summary,
		                           .content = content,
		                           .seen = T0 + i,
		                           .published = INT64_MIN,
		                           .updated = INT64_MIN};

		if (i % 1000 == 0 && fw_store_begin(s) < 0)
			return -1;
		snprintf(id, sizeof(id), "https://example.org/%ld", i);
		text(title, sizeof(title), (unsigned)i);
		text(summary, sizeof(summary), (unsigned)i * 7u);
		text(content, sizeof(content), (unsigned)i * 13u);
		if (fw_store_archive_add(s, &r) < 0)
			return -1;
		if ((i % 1000 == 999 || i == rows - 1) && fw_store_commit(s) < 0)
			return -1;
	}
	do {
		if (fw_store_archive_index(s, 5000, w, &n) < 0)
			return -1;
	} while (n > 0);
	fw_store_close(s);
	return 0;
}

static struct fw_store *open_store(const char *path)
{
	char err[512];
	struct fw_store *s = NULL;

	if (fw_store_open(path, false, &s, err, sizeof(err)) < 0)
		fprintf(stderr, "%s\n", err);
	return s;
}

static void oneshot(const char *path, int64_t max, struct fw_store_words *w)
{
	struct fw_store *s = open_store(path);
	int64_t gone = 0, n = 0;
	double t0 = now_s();

	if (!s || fw_store_begin(s) < 0 ||
	    fw_store_archive_prune(s, INT64_MIN, max, w, &gone) < 0 || fw_store_commit(s) < 0) {
		fprintf(stderr, "oneshot: %s\n", s ? fw_store_error(s) : "cannot open");
		exit(1);
	}
	fw_store_archive_count(s, 0, &n, NULL);
	printf("oneshot: %lld rows deleted, %lld left, longest stall %.3f s (the whole prune)\n",
	       (long long)gone, (long long)n, now_s() - t0);
	fw_store_close(s);
}

/* The store's own floor: the longest of 300 one-row commits (a poll's transaction is one),
   fsync and WAL checkpoints included. */
static void baseline(const char *path)
{
	struct fw_store *s = open_store(path);
	double worst = 0, sum = 0;
	char id[32];

	for (int i = 0; s && i < 300; i++) {
		struct fw_archive_row r = {.feed = "base",
		                           .item = id,
		                           .title = "baseline",
		                           .seen = T0,
		                           .published = INT64_MIN,
		                           .updated = INT64_MIN};
		double t0 = now_s(), t;

		snprintf(id, sizeof(id), "b%d", i);
		if (fw_store_begin(s) < 0 || fw_store_archive_add(s, &r) < 0 ||
		    fw_store_commit(s) < 0)
			exit(1);
		t = now_s() - t0;
		sum += t;
		worst = t > worst ? t : worst;
	}
	printf("baseline: one-row commits: mean %.1f ms, longest %.1f ms\n", sum / 300 * 1000,
	       worst * 1000);
	fw_store_close(s);
}

#ifndef PRUNE_BENCH_ONESHOT_ONLY
struct run {
	struct fw_prune *p;
	uv_timer_t timer;
	uv_check_t check;
	double last, worst, t0;
	size_t ticks, over10, over50, iterations;
};

static void done_cb(void *arg)
{
	struct run *r = arg;

	printf("batched: %zu batches in %.3f s, %zu timer ticks meanwhile, ",
	       fw_prune_batches(r->p), now_s() - r->t0, r->ticks);
	uv_close((uv_handle_t *)&r->timer, NULL);
	uv_close((uv_handle_t *)&r->check, NULL);
	fw_prune_close(r->p);
}

static void timer_cb(uv_timer_t *t)
{
	((struct run *)t->data)->ticks++;
}

static void check_cb(uv_check_t *c)
{
	struct run *r = c->data;
	double t = now_s();

	if (t - r->last > r->worst)
		r->worst = t - r->last;
	r->iterations++;
	r->over10 += t - r->last > 0.010;
	r->over50 += t - r->last > 0.050;
	r->last = t;
}

static void batched(const char *path, int64_t max, struct fw_store_words *w)
{
	struct run r = {0};
	uv_loop_t loop;
	struct fw_store *s = open_store(path);
	struct fw_prune_env env = {
	    .loop = &loop, .store = s, .words = w, .done = done_cb, .arg = &r};
	struct fw_prune_targets t = {
	    .archive_before = INT64_MIN, .archive_max = max, .archive_only = true};
	int64_t n = 0;

	if (!s || uv_loop_init(&loop) != 0 || fw_prune_new(&env, &r.p) < 0)
		exit(1);
	uv_timer_init(&loop, &r.timer);
	uv_check_init(&loop, &r.check);
	r.timer.data = r.check.data = &r;
	uv_timer_start(&r.timer, timer_cb, 1, 1);
	uv_check_start(&r.check, check_cb);
	r.t0 = r.last = now_s();
	fw_prune_start(r.p, &t);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	fw_store_archive_count(s, 0, &n, NULL);
	printf("%lld left, longest stall %.1f ms (one loop iteration); %zu of %zu iterations over "
	       "10 ms, %zu over 50 ms\n",
	       (long long)n, r.worst * 1000, r.over10, r.iterations, r.over50);
	fw_store_close(s);
}
#endif

int main(int argc, char **argv)
{
	struct fw_store_words w;
	char a[4096], b[4096], cmd[9000];
	long rows = argc > 2 ? atol(argv[2]) : 100000;
	int pct = argc > 3 ? atoi(argv[3]) : 20;
	const char *mode = argc > 4 ? argv[4] : "both";
	struct fw_store *s;
	int64_t bytes = 0;
	double t0 = now_s();

	if (argc < 2 || fw_backfill_words_new(&w) < 0)
		return 2;
	snprintf(a, sizeof(a), "%s/prune-a.db", argv[1]);
	snprintf(b, sizeof(b), "%s/prune-b.db", argv[1]);
	snprintf(cmd, sizeof(cmd), "rm -f %s* %s*", a, b);
	if (system(cmd) != 0 || make(a, rows, &w) < 0)
		return 1;
	snprintf(cmd, sizeof(cmd), "cp %s %s", a, b);
	if (system(cmd) != 0 || (s = open_store(a)) == NULL)
		return 1;
	fw_store_archive_count(s, 0, NULL, &bytes);
	fw_store_close(s);
	printf("store: %ld rows, %lld bytes of text, built in %.1f s; keep %d%%\n", rows,
	       (long long)bytes, now_s() - t0, pct);
	if (strcmp(mode, "baseline") == 0) {
		baseline(b);
		return 0;
	}
	if (strcmp(mode, "batched") != 0)
		oneshot(b, bytes * pct / 100, &w);
#ifndef PRUNE_BENCH_ONESHOT_ONLY
	if (strcmp(mode, "oneshot") != 0)
		batched(a, bytes * pct / 100, &w);
#endif
	fw_backfill_words_free(&w);
	return 0;
}
