/*
 * store_bench.c - load figures for daemon/store.c: a cold first cycle of many feeds, the
 * steady-state cost of a poll cycle, the open-time quick_check, and a simulated month of
 * polling with daily pruning. Driven by bench/store/run.sh; prints plain figures.
 *
 * usage: store_bench DIR [cold_feeds] [items_per_feed] [sim_feeds] [sim_days]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#define T0          1700000000
#define DAY         86400
#define POLL        1800
#define RETENTION   (30 * DAY)
#define NEW_PER_DAY 2

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int r, struct fw_store *s)
{
	fprintf(stderr, "store_bench: %s: %s (%s)\n", what, strerror(-r),
	        s ? fw_store_error(s) : "");
	exit(1);
}

static long long fsize(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Database plus WAL on disk. */
static long long dbsize(const char *path)
{
	char wal[4096];

	snprintf(wal, sizeof(wal), "%s-wal", path);
	return fsize(path) + fsize(wal);
}

/* Bytes in use (pages minus free pages), as a reader sees the last commit: the main file
   lags behind the WAL by up to a checkpoint, so its size alone is noisy at small scale. */
static long long live_bytes(sqlite3 *db)
{
	const char *q[3] = {"PRAGMA page_count", "PRAGMA freelist_count", "PRAGMA page_size"};
	long long v[3] = {0, 0, 0};
	sqlite3_stmt *st;
	int i;

	for (i = 0; i < 3; i++) {
		if (sqlite3_prepare_v2(db, q[i], -1, &st, NULL) != SQLITE_OK)
			return -1;
		if (sqlite3_step(st) == SQLITE_ROW)
			v[i] = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return (v[0] - v[1]) * v[2];
}

static void rm_db(const char *path)
{
	char p[4096];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static struct fw_store *open_db(const char *path)
{
	struct fw_store *s = NULL;
	char err[512];
	int r = fw_store_open(path, false, &s, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "store_bench: %s\n", err);
		exit(1);
	}
	return s;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void feed_name(char *buf, size_t len, int f)
{
	snprintf(buf, len, "feed-%05d", f);
}

static void item_id(char *buf, size_t len, int f, long k)
{
	/* A typical permalink-style guid. */
	snprintf(buf, len, "https://blog%05d.example.com/posts/%08ld-some-title-slug", f, k);
}

/* Mark items [first, first + n) of feed f; returns how many were new. */
static int poll_feed(struct fw_store *s, int f, long first, int n, int64_t now)
{
	char feed[32], id[128];
	int i, r, fresh = 0;

	feed_name(feed, sizeof(feed), f);
	for (i = 0; i < n; i++) {
		item_id(id, sizeof(id), f, first + i);
		r = fw_store_item_mark(s, feed, id, mix((uint64_t)(first + i) * 31 + (uint64_t)f),
		                       now);
		if (r < 0)
			die("item_mark", r, s);
		fresh += r == FW_ITEM_NEW;
	}
	return fresh;
}

static void save_state(struct fw_store *s, int f, int64_t now)
{
	struct fw_feed_state st = {0};
	char feed[32], url[96];
	int r;

	feed_name(feed, sizeof(feed), f);
	snprintf(url, sizeof(url), "https://blog%05d.example.com/feed.xml", f);
	st.url = url;
	st.etag = (char *)"\"5f3c-61a2b9d0c4e80\"";
	st.last_modified = (char *)"Tue, 14 Nov 2023 22:13:20 GMT";
	st.last_poll = now;
	st.last_success = now;
	st.next_poll = now + POLL;
	st.http_status = 200;
	r = fw_store_feed_save(s, feed, &st);
	if (r < 0)
		die("feed_save", r, s);
}

/* One cold cycle: feeds x items all new, committing every `batch` feeds. */
static void cold(const char *path, int feeds, int items, int batch, bool full, const char *label)
{
	struct fw_store *s;
	double t0, t;
	int f, r;

	rm_db(path);
	s = open_db(path);
	if (!full && (r = fw_store_set_synchronous(s, false)) < 0)
		die("synchronous", r, s);
	t0 = now_s();
	for (f = 0; f < feeds; f++) {
		if (f % batch == 0 && (r = fw_store_begin(s)) < 0)
			die("begin", r, s);
		if (poll_feed(s, f, 0, items, T0) != items)
			die("cold: not all new", -EIO, s);
		save_state(s, f, T0);
		if ((f % batch == batch - 1 || f == feeds - 1) && (r = fw_store_commit(s)) < 0)
			die("commit", r, s);
	}
	t = now_s() - t0;
	printf("cold %-34s %6d feeds x %d items: %7.2f s  %8.0f items/s  %6.0f commits/s  "
	       "db+wal %6.1f MiB",
	       label, feeds, items, t, feeds * (double)items / t, (feeds + batch - 1) / batch / t,
	       dbsize(path) / 1048576.0);
	fw_store_close(s);
	printf("  after close %6.1f MiB (%.0f B/item)\n", fsize(path) / 1048576.0,
	       fsize(path) / ((double)feeds * items));
	fflush(stdout);
}

/* Reopen (quick_check) and one steady poll cycle over a cold database. */
static void steady(const char *path, int feeds, int items)
{
	struct fw_store *s;
	double t0, t;
	int f, r, pass;
	int64_t now;

	t0 = now_s();
	s = open_db(path);
	printf("open with quick_check of %d items: %.2f s\n", feeds * items, now_s() - t0);
	/* Pass 0 is within the last_seen slack (selects only), pass 1 past it (updates). */
	for (pass = 0; pass < 2; pass++) {
		now = T0 + (pass ? 2 * POLL + 60 : POLL);
		t0 = now_s();
		for (f = 0; f < feeds; f++) {
			if ((r = fw_store_begin(s)) < 0)
				die("begin", r, s);
			if (poll_feed(s, f, 0, items, now) != 0)
				die("steady: new items", -EIO, s);
			save_state(s, f, now);
			if ((r = fw_store_commit(s)) < 0)
				die("commit", r, s);
		}
		t = now_s() - t0;
		printf("steady poll cycle, %s: %d feeds in %.2f s (%.2f ms/feed)\n",
		       pass ? "last_seen refreshed" : "within slack (read only)", feeds, t,
		       t * 1e3 / feeds);
	}
	fw_store_close(s);
	fflush(stdout);
}

/* Index of the newest item of feed f at time t: 49 at T0, then NEW_PER_DAY a day. */
static long newest(int f, int items, int64_t t)
{
	int64_t every = DAY / NEW_PER_DAY, offset = (int64_t)(f * 977) % every;
	int64_t since = t - T0 - offset;

	return items - 1 + (since < 0 ? 0 : since / every + 1);
}

static void month(const char *path, int feeds, int items, int days, bool full)
{
	struct fw_store *s;
	sqlite3 *raw = NULL;
	double t0, prune_t, prune_max = 0;
	int64_t t, deleted, total_deleted = 0, n;
	long long live, live_day1 = 0, live_day30 = 0, live_last = 0, live_steady = 0;
	long new_items = 0, polls = 0;
	int f, r, day = 0;
	char feed[32];

	rm_db(path);
	s = open_db(path);
	if (!full && (r = fw_store_set_synchronous(s, false)) < 0)
		die("synchronous", r, s);
	if (sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("raw open", -EIO, s);
	t0 = now_s();
	printf("month: %d feeds, poll every %d min, %d items in the feed, %d new/day, "
	       "retention %d days, prune daily, %d days, %s\n",
	       feeds, POLL / 60, items, NEW_PER_DAY, RETENTION / DAY, days,
	       full ? "synchronous=FULL" : "synchronous=NORMAL");
	for (t = T0; t < T0 + (int64_t)days * DAY; t += POLL) {
		for (f = 0; f < feeds; f++) {
			long last = newest(f, items, t);

			if ((r = fw_store_begin(s)) < 0)
				die("begin", r, s);
			new_items += poll_feed(s, f, last - items + 1, items, t);
			save_state(s, f, t);
			if ((r = fw_store_commit(s)) < 0)
				die("commit", r, s);
			polls++;
		}
		if ((t - T0 + POLL) % DAY != 0)
			continue;
		day++;
		prune_t = now_s();
		r = fw_store_item_prune(s, t - RETENTION, &deleted);
		if (r < 0)
			die("prune", r, s);
		prune_t = now_s() - prune_t;
		if (prune_t > prune_max)
			prune_max = prune_t;
		total_deleted += deleted;
		live = live_bytes(raw);
		if (day == 1)
			live_day1 = live;
		if (day == 30)
			live_day30 = live;
		if (day == days - 5)
			live_steady = live;
		live_last = live;
		feed_name(feed, sizeof(feed), 0);
		fw_store_item_count(s, feed, &n);
		if (day == 1 || day % 5 == 0 || day == days)
			printf("  day %3d: live %7.2f MiB (%5.1f KiB/feed), file %6.2f MiB + wal "
			       "%5.2f MiB, items of feed 0: %3lld, pruned %5lld (%.3f s), "
			       "elapsed %3.0f s\n",
			       day, live / 1048576.0, live / 1024.0 / feeds,
			       fsize(path) / 1048576.0, (dbsize(path) - fsize(path)) / 1048576.0,
			       (long long)n, (long long)deleted, prune_t, now_s() - t0);
		fflush(stdout);
	}
	sqlite3_close(raw);
	fw_store_close(s);
	printf("month: %ld feed polls (%ld item marks), %ld new items, %lld pruned, in %.1f s "
	       "(%.0f polls/s); longest prune %.3f s\n",
	       polls, polls * items, new_items, (long long)total_deleted, now_s() - t0,
	       polls / (now_s() - t0), prune_max);
	printf("month: db file after close %.2f MiB = %.1f KiB/feed\n", fsize(path) / 1048576.0,
	       fsize(path) / 1024.0 / feeds);
	if (live_day30 && live_day1)
		printf("month: growth day 1 -> 30: %.0f B/feed/day\n",
		       (double)(live_day30 - live_day1) / feeds / 29.0);
	/* Items that left the feed on day d are pruned on day d + 30: steady from day 31. */
	if (live_steady && days >= 40)
		printf("month: growth in steady state (day %d -> %d): %.0f B/feed/day\n", days - 5,
		       days, (double)(live_last - live_steady) / feeds / 5.0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char path[4096];
	int cold_feeds = argc > 2 ? atoi(argv[2]) : 10000;
	int items = argc > 3 ? atoi(argv[3]) : 50;
	int sim_feeds = argc > 4 ? atoi(argv[4]) : 200;
	int sim_days = argc > 5 ? atoi(argv[5]) : 40;
	const char *only = getenv("STORE_BENCH_ONLY");

	if (argc < 2 || cold_feeds <= 0 || items <= 0 || sim_feeds <= 0 || sim_days <= 0) {
		fprintf(stderr, "usage: store_bench DIR [cold_feeds] [items] [sim_feeds] "
		                "[sim_days]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/bench.db", argv[1]);
	if (!only || strstr(only, "cold")) {
		cold(path, cold_feeds, items, 1, true, "1 tx/feed, synchronous=FULL");
		cold(path, cold_feeds, items, 100, true, "1 tx/100 feeds, synchronous=FULL");
		cold(path, cold_feeds, items, 1, false, "1 tx/feed, synchronous=NORMAL");
		steady(path, cold_feeds, items);
	}
	if (!only || strstr(only, "month"))
		month(path, sim_feeds, items, sim_days, getenv("STORE_BENCH_FULL") != NULL);
	rm_db(path);
	return 0;
}
