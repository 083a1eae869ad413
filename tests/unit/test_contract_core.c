/* test_contract_core.c - the store contract, core part: open, reopen, the backend's name,
   transactions, feed state, items seen (mark, reissued, count, prune), resting hosts and
   the caps, on both backends (test_contract.h); and, PostgreSQL only, two nodes marking
   the same items at once, and the statements prepared again after a reconnection. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_contract.h"

static void test_open_reopen(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);

	assert_string_equal(fw_store_backend(s), c->pg ? "postgresql" : "sqlite");
	fw_store_close(s);
	s = contract_open(c); /* the schema is there: opened again, not created again */
	fw_store_close(s);
}

/* The transaction calls' states, the same on both backends. */
static void test_transactions(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);

	assert_int_equal(fw_store_commit(s), -EINVAL);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(fw_store_item_begin(s), -EINVAL);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_begin(s), -EINVAL);
	assert_int_equal(fw_store_set_synchronous(s, false), -EINVAL);
	assert_int_equal(fw_store_sync(s), 0); /* nothing to make durable */
	assert_int_equal(fw_store_item_begin(s), 0);
	assert_int_equal(fw_store_item_end(s, false), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_commit(s), -EINVAL);

	/* a poll alone is a lazy transaction of its own; inside a group, a savepoint */
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_begin(s), -EINVAL);
	assert_int_equal(fw_store_poll_commit(s), 0);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_poll_rollback(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_item_begin(s), 0);
	assert_int_equal(fw_store_item_end(s, true), 0);
	assert_int_equal(fw_store_poll_commit(s), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_sync(s), 0);
	assert_int_equal(fw_store_set_synchronous(s, false), 0);
	assert_int_equal(fw_store_set_synchronous(s, true), 0);
	fw_store_close(s);
}

#define T0  1700000000
#define DAY 86400

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int64_t count_of(struct fw_store *s, const char *feed)
{
	int64_t n = -1;

	assert_int_equal(fw_store_item_count(s, feed, &n), 0);
	return n;
}

/* A feed's state round-trips, is replaced whole, and is listed and forgotten with its
   items (ported from test_store.c's test_feed_state). */
static void test_feed_state(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_feed_state in = {
	    .exists = true,
	    .url = (char *)"https://example.org/atom.xml",
	    .etag = (char *)"W/\"abc\"",
	    .last_poll = T0,
	    .last_success = T0 - 60,
	    .next_poll = T0 + 1800,
	    .http_status = 304,
	    .error_streak = 3,
	    .first_error = T0 - 3600,
	    .items_seen = 123456789012LL,
	    .alerts = 7,
	    .failing_alerted = true,
	    .rate_items = 12.5,
	    .rate_seconds = 86400.25,
	    .rate_at = T0 - 30,
	};
	struct fw_feed_state out = {0};
	char **names = NULL;
	size_t n = 0;

	assert_int_equal(fw_store_feed_load(s, "unknown", &out), 0);
	assert_false(out.exists);
	assert_null(out.url);
	assert_int_equal(out.last_poll, 0);
	assert_int_equal(fw_store_feed_names(s, &names, &n), 0);
	assert_int_equal(n, 0);
	free(names);

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

	/* Replace: the other strings set, the old ones cleared; a rate that needs all 17
	   digits of a double comes back the same. */
	in.etag = NULL;
	in.last_modified = (char *)"Tue, 14 Nov 2023 22:13:20 GMT";
	in.moved_url = (char *)"https://new.example.org/atom.xml";
	in.last_error = (char *)"HTTP 503";
	in.failing_alerted = false;
	in.rate_items = 0.1 + 0.2;
	in.rate_seconds = -1e-300;
	assert_int_equal(fw_store_feed_save(s, "f1", &in), 0);
	assert_int_equal(fw_store_feed_load(s, "f1", &out), 0);
	assert_null(out.etag);
	assert_string_equal(out.last_modified, in.last_modified);
	assert_string_equal(out.moved_url, in.moved_url);
	assert_string_equal(out.last_error, "HTTP 503");
	assert_false(out.failing_alerted);
	assert_true(out.rate_items == 0.1 + 0.2 && out.rate_seconds == -1e-300);
	fw_feed_state_clear(&out);

	/* Names, sorted bytewise; forget drops the feed and its items. */
	assert_int_equal(fw_store_feed_save(s, "f0", &in), 0);
	assert_int_equal(fw_store_feed_save(s, "F2", &in), 0);
	assert_int_equal(fw_store_feed_save(s, "\xc3\xa9t\xc3\xa9", &in), 0);
	assert_int_equal(fw_store_item_mark(s, "f1", "i", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "f0", "i", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_feed_names(s, &names, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "F2");
	assert_string_equal(names[1], "f0");
	assert_string_equal(names[2], "f1");
	assert_string_equal(names[3], "\xc3\xa9t\xc3\xa9");
	free_names(names, n);
	assert_int_equal(fw_store_feed_forget(s, "f1"), 0);
	assert_int_equal(fw_store_feed_load(s, "f1", &out), 0);
	assert_false(out.exists);
	assert_int_equal(count_of(s, "f1"), 0);
	assert_int_equal(count_of(s, "f0"), 1);
	assert_int_equal(fw_store_feed_forget(s, "never"), 0);
	/* Forget works inside a transaction too, and rolls back with it. */
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_feed_forget(s, "f0"), 0);
	assert_int_equal(count_of(s, "f0"), 0);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(count_of(s, "f0"), 1);
	assert_int_equal(fw_store_feed_names(s, &names, &n), 0);
	assert_int_equal(n, 3);
	free_names(names, n);

	/* What a store holds is still there when it is opened again. */
	fw_store_close(s);
	s = contract_open(c);
	assert_int_equal(fw_store_feed_load(s, "f0", &out), 0);
	assert_true(out.exists);
	assert_string_equal(out.moved_url, in.moved_url);
	fw_feed_state_clear(&out);
	assert_int_equal(fw_store_item_mark(s, "f0", "i", 1, T0 + 60), FW_ITEM_SAME);
	assert_int_equal(count_of(s, "f0"), 1);
	fw_store_close(s);
}

/* New, changed, same (moved here from test_store.c). */
static void test_item_mark(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);

	assert_int_equal(count_of(s, "a"), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1, T0 + 10), FW_ITEM_SAME);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 2, T0 + 20), FW_ITEM_CHANGED);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 2, T0 + 30), FW_ITEM_SAME);
	/* The full 64 bits of the hash count, the top bit included. */
	assert_int_equal(fw_store_item_mark(s, "a", "x", UINT64_MAX, T0), FW_ITEM_CHANGED);
	assert_int_equal(fw_store_item_mark(s, "a", "x", UINT64_MAX, T0), FW_ITEM_SAME);
	assert_int_equal(fw_store_item_mark(s, "a", "x", UINT64_MAX - 1, T0), FW_ITEM_CHANGED);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1ULL << 63, T0), FW_ITEM_CHANGED);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1ULL << 63, T0), FW_ITEM_SAME);
	/* Same id in another feed is another item. */
	assert_int_equal(fw_store_item_mark(s, "b", "x", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "a", "y", 1, T0), FW_ITEM_NEW);
	assert_int_equal(count_of(s, "a"), 2);
	assert_int_equal(count_of(s, "b"), 1);
	/* Inside a transaction, and undone with it. */
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "z", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "a", "z", 1, T0), FW_ITEM_SAME);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "z", 1, T0), FW_ITEM_NEW);
	fw_store_close(s);
}

/* last_seen of an unchanged item is rewritten at most hourly; the prune shows it. */
static void test_item_seen_slack(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	int64_t del = -1;

	assert_int_equal(fw_store_item_mark(s, "a", "x", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "a", "w", 1, T0), FW_ITEM_NEW);
	/* x within the hour: last_seen stays T0; w after an hour: T0 + 3600 */
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1, T0 + 3000), FW_ITEM_SAME);
	assert_int_equal(fw_store_item_mark(s, "a", "w", 1, T0 + 3600), FW_ITEM_SAME);
	/* an earlier sighting never moves last_seen back */
	assert_int_equal(fw_store_item_mark(s, "a", "w", 2, T0 - 9000), FW_ITEM_CHANGED);
	assert_int_equal(fw_store_item_mark(s, "a", "z", 1, T0 + 10000), FW_ITEM_NEW);
	/* gone: before T0 + 4000 and 2 h before the feed's latest (T0 + 2800) */
	assert_int_equal(fw_store_item_prune(s, T0 + 4000, &del), 0);
	assert_int_equal(del, 1);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1, T0 + 10001), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "a", "w", 2, T0 + 10001), FW_ITEM_SAME);
	fw_store_close(s);
}

/* Another id with the same content hash in the same feed. */
static void test_item_reissued(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);

	assert_int_equal(fw_store_item_reissued(s, "a", "y", 5), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 5, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "b", "q", UINT64_MAX, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_reissued(s, "a", "y", 5), 1);
	assert_int_equal(fw_store_item_reissued(s, "a", "x", 5), 0);
	assert_int_equal(fw_store_item_reissued(s, "a", "y", 6), 0);
	assert_int_equal(fw_store_item_reissued(s, "b", "y", 5), 0);
	assert_int_equal(fw_store_item_reissued(s, "b", "r", UINT64_MAX), 1);
	fw_store_close(s);
}

/* Retention: only items gone from their feed and older than it (moved here from
   test_store.c). */
static void test_item_prune(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	int64_t del = -1;

	assert_int_equal(fw_store_item_mark(s, "a", "old", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "a", "kept", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "b", "old", 1, T0), FW_ITEM_NEW);
	/* Seen again ten days later: last_seen moves on. */
	assert_int_equal(fw_store_item_mark(s, "a", "kept", 1, T0 + 10 * DAY), FW_ITEM_SAME);
	assert_int_equal(fw_store_item_prune(s, T0 + 5 * DAY, &del), 0);
	assert_int_equal(del, 1);
	assert_int_equal(count_of(s, "a"), 1);
	/* Feed b's items were all in its latest sighting (a feed answering 304 for months):
	   nothing says they left the feed, so they stay. */
	assert_int_equal(count_of(s, "b"), 1);
	/* A pruned item that comes back is new again. */
	assert_int_equal(fw_store_item_mark(s, "a", "old", 1, T0 + 11 * DAY), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_prune(s, T0, NULL), 0);
	assert_int_equal(count_of(s, "a"), 2);
	fw_store_close(s);
}

/* Steps of about one item: whole feeds each step, in feed order (ported from
   test_prune.c's test_items_steps); bigger steps end sooner with the same result. */
static void test_item_prune_steps(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	char feed[16], id[16];
	int64_t total;

	for (size_t max = 1; max <= 64; max *= 8) {
		struct fw_store_item_pruning p = {.before = T0 + 5 * DAY};
		size_t steps = 0;
		bool done = false;

		for (int i = 0; i < 30; i++) {
			snprintf(feed, sizeof(feed), "feed%02d", i % 10);
			snprintf(id, sizeof(id), "item%d", i);
			assert_int_equal(fw_store_item_mark(s, feed, id, 1, T0 + i % 3),
			                 FW_ITEM_NEW);
			/* the feed's latest sighting: its other items left it */
			if (i % 10 < 7)
				assert_true(
				    fw_store_item_mark(s, feed, "latest", 1, T0 + 10 * DAY) >= 0);
		}
		while (!done) {
			assert_int_equal(fw_store_item_prune_step(s, &p, max, &done), 0);
			steps++;
			assert_true(steps < 100);
		}
		assert_int_equal(p.deleted, 21); /* 3 items of each of the 7 feeds seen again */
		/* one feed a step, and the end; 8 rows: 2 feeds a step (the 8th row's feed
		   whole), the last step the rest; 64: all at once */
		assert_int_equal(steps, max == 1 ? 11 : max == 8 ? 5 : 1);
		total = 0;
		for (int i = 0; i < 10; i++) {
			snprintf(feed, sizeof(feed), "feed%02d", i);
			total += count_of(s, feed);
			assert_int_equal(count_of(s, feed), i < 7 ? 1 : 3);
		}
		assert_int_equal(total, 30 + 7 - 21);
		for (int i = 0; i < 10; i++) {
			snprintf(feed, sizeof(feed), "feed%02d", i);
			assert_int_equal(fw_store_feed_forget(s, feed), 0);
		}
	}
	fw_store_close(s);
}

static void host_cb(const char *host, int64_t until, long http_status, void *arg)
{
	char *out = arg;
	size_t len = strlen(out);

	snprintf(out + len, 256 - len, "%s=%lld/%ld;", host, (long long)(until - T0), http_status);
}

/* Resting hosts: replaced, listed in name order while they rest. */
static void test_hosts(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	char got[256] = "";

	assert_int_equal(fw_store_host_rests(s, T0, host_cb, got), 0);
	assert_string_equal(got, "");
	assert_int_equal(fw_store_host_rest(s, "h.example:8080", T0 + 100, 503), 0);
	assert_int_equal(fw_store_host_rest(s, "a.example", T0 + 50, 429), 0);
	assert_int_equal(fw_store_host_rest(s, "old.example", T0, 503), 0);
	assert_int_equal(fw_store_host_rests(s, T0, host_cb, got), 0);
	assert_string_equal(got, "a.example=50/429;h.example:8080=100/503;");
	got[0] = '\0';
	assert_int_equal(fw_store_host_rest(s, "a.example", T0 + 7, 503), 0);
	assert_int_equal(fw_store_host_rest(s, "h.example:8080", T0 - 1, 429), 0);
	assert_int_equal(fw_store_host_rests(s, T0, host_cb, got), 0);
	assert_string_equal(got, "a.example=7/503;");
	got[0] = '\0';
	assert_int_equal(fw_store_host_rests(s, T0 - 2, host_cb, got), 0);
	assert_string_equal(got, "a.example=7/503;h.example:8080=-1/429;old.example=0/503;");
	fw_store_close(s);
}

/* Caps, checked before anything is written: a refusal leaves an open transaction
   usable (test_store.c's test_caps moved here, its outbox part to test_contract_outbox.c's
   test_outbox_caps). */
static void test_caps(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_feed_state st = {0}, out = {0};
	char *big = malloc(FW_STORE_TEXT_MAX + 2);
	char got[256] = "";
	int64_t n = -1;
	size_t len;

	assert_non_null(big);
	assert_int_equal(fw_store_begin(s), 0);
	memset(big, 'k', FW_STORE_KEY_MAX + 1);
	big[FW_STORE_KEY_MAX + 1] = 0;
	assert_int_equal(fw_store_item_mark(s, "a", big, 1, T0), -E2BIG);
	assert_int_equal(fw_store_item_mark(s, big, "x", 1, T0), -E2BIG);
	assert_int_equal(fw_store_item_reissued(s, big, "x", 1), -E2BIG);
	assert_int_equal(fw_store_item_count(s, big, &n), -E2BIG);
	assert_int_equal(fw_store_feed_save(s, big, &st), -E2BIG);
	assert_int_equal(fw_store_feed_load(s, big, &out), -E2BIG);
	assert_int_equal(fw_store_feed_forget(s, big), -E2BIG);
	assert_int_equal(fw_store_host_rest(s, big, T0 + 1, 503), -E2BIG);
	big[FW_STORE_KEY_MAX] = 0;
	assert_int_equal(fw_store_item_mark(s, "a", big, 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_host_rest(s, big, T0 + 1, 503), 0);
	assert_int_equal(fw_store_item_mark(s, NULL, "x", 1, T0), -EINVAL);
	assert_int_equal(fw_store_item_mark(s, "a", NULL, 1, T0), -EINVAL);
	assert_int_equal(fw_store_host_rest(s, NULL, T0 + 1, 503), -EINVAL);

	memset(big, 'u', FW_STORE_TEXT_MAX + 1);
	big[FW_STORE_TEXT_MAX + 1] = 0;
	st.url = big;
	assert_int_equal(fw_store_feed_save(s, "a", &st), -E2BIG);
	st.url = NULL;
	st.etag = big;
	assert_int_equal(fw_store_feed_save(s, "a", &st), -E2BIG);
	st.etag = NULL;
	st.moved_url = big;
	assert_int_equal(fw_store_feed_save(s, "a", &st), -E2BIG);
	st.moved_url = NULL;
	st.last_modified = big;
	assert_int_equal(fw_store_feed_save(s, "a", &st), -E2BIG);
	big[FW_STORE_TEXT_MAX] = 0;
	assert_int_equal(fw_store_feed_save(s, "a", &st), 0);
	st.last_modified = NULL;
	assert_int_equal(fw_store_feed_save(s, "a", NULL), -EINVAL);

	/* A long error is cut on a character boundary: 'é' is 2 bytes and straddles the cap. */
	memset(big, 'e', FW_STORE_ERROR_MAX + 100);
	big[FW_STORE_ERROR_MAX - 1] = (char)0xc3;
	big[FW_STORE_ERROR_MAX] = (char)0xa9;
	big[FW_STORE_ERROR_MAX + 100] = 0;
	st.last_error = big;
	assert_int_equal(fw_store_feed_save(s, "b", &st), 0);
	/* every refusal above was an answer: the transaction commits what was accepted */
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_feed_load(s, "b", &out), 0);
	len = strlen(out.last_error);
	assert_int_equal(len, FW_STORE_ERROR_MAX - 1);
	fw_feed_state_clear(&out);
	assert_int_equal(fw_store_feed_load(s, "a", &out), 0);
	assert_true(out.exists);
	assert_int_equal(strlen(out.last_modified), FW_STORE_TEXT_MAX);
	fw_feed_state_clear(&out);
	assert_int_equal(count_of(s, "a"), 1);
	assert_int_equal(fw_store_host_rests(s, T0, host_cb, got), 0);
	assert_int_equal(strlen(got), 255); /* the long host, cut by host_cb */
	free(big);
	fw_store_close(s);
}

/* The last failure's message outlives the statements after it (the poll's rollback), so
   that the caller can log why the poll was not stored. */
static void test_error_kept(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);

	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, NULL, "x", 1, T0), -EINVAL);
	assert_int_equal(fw_store_poll_rollback(s), 0);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_non_null(strstr(fw_store_error(s), "missing key"));
	assert_int_equal(count_of(s, "a"), 0);
	fw_store_close(s);
}

/* Bytes that are not UTF-8 (an ETag from a careless server): the feed state is saved and
   the transaction goes on; PostgreSQL, whose text is UTF-8, keeps U+FFFD in their place.
   A key that is not UTF-8 is refused there (-EILSEQ), before anything is written. */
static void test_not_utf8(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_feed_state st = {.etag = (char *)"\"caf\xe9\"", .last_error = (char *)"\xff"};
	struct fw_feed_state out = {0};

	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_feed_save(s, "a", &st), 0);
	assert_int_equal(fw_store_item_mark(s, "a", "x\xc3", 1, T0), c->pg ? -EILSEQ : FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "a", "x", 1, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_feed_load(s, "a", &out), 0);
	assert_string_equal(out.etag, c->pg ? "\"caf\xef\xbf\xbd\"" : st.etag);
	assert_string_equal(out.last_error, c->pg ? "\xef\xbf\xbd" : st.last_error);
	fw_feed_state_clear(&out);
	assert_int_equal(count_of(s, "a"), c->pg ? 1 : 2);
	fw_store_close(s);
}

struct racer {
	struct contract *c;
	struct fw_store *s;
	uint64_t hash;
	int news, changed, errors, last;
};

/* Mark items i0..i199 of feed "race" in the store of one node. */
static void *race_cb(void *arg)
{
	struct racer *r = arg;
	char id[16];

	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "i%d", i);
		r->last = fw_store_item_mark(r->s, "race", id, r->hash, T0);
		r->news += r->last == FW_ITEM_NEW;
		r->changed += r->last == FW_ITEM_CHANGED;
		r->errors += r->last < 0;
	}
	return NULL;
}

/* One mark on its own thread (blocked behind the other node's open transaction). */
static void *mark_one_cb(void *arg)
{
	struct racer *r = arg;

	r->last = fw_store_item_mark(r->s, "race", "held", r->hash, T0);
	return NULL;
}

/* Two nodes on one database mark the same items at once: each item is new to exactly one
   of them, and a node waiting on the other's uncommitted insert sees it as known. */
static void test_two_nodes_mark(void **state)
{
	struct contract *c = *state;
	struct racer r[2] = {{.c = c, .hash = 1}, {.c = c, .hash = 1}};
	pthread_t t[2];

	if (!c->pg)
		skip();
	r[0].s = contract_open(c);
	r[1].s = contract_open(c);
	for (int k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&t[k], NULL, race_cb, &r[k]), 0);
	for (int k = 0; k < 2; k++)
		assert_int_equal(pthread_join(t[k], NULL), 0);
	assert_int_equal(r[0].errors + r[1].errors, 0);
	assert_int_equal(r[0].news + r[1].news, 200);
	assert_int_equal(r[0].changed + r[1].changed, 0);
	assert_int_equal(count_of(r[0].s, "race"), 200);

	/* node 0 inserts in an open transaction; node 1's mark waits for it */
	for (int h = 1; h <= 2; h++) {
		r[1].hash = (uint64_t)h;
		r[1].last = -1;
		assert_int_equal(fw_store_begin(r[0].s), 0);
		assert_int_equal(fw_store_item_mark(r[0].s, "race", "held", 1, T0), FW_ITEM_NEW);
		assert_int_equal(pthread_create(&t[1], NULL, mark_one_cb, &r[1]), 0);
		usleep(300000);
		assert_int_equal(r[1].last, -1); /* still waiting */
		assert_int_equal(fw_store_commit(r[0].s), 0);
		assert_int_equal(pthread_join(t[1], NULL), 0);
		assert_int_equal(r[1].last, h == 1 ? FW_ITEM_SAME : FW_ITEM_CHANGED);
		assert_int_equal(fw_store_item_mark(r[0].s, "race", "held", (uint64_t)h, T0),
		                 FW_ITEM_SAME);
		assert_int_equal(fw_store_feed_forget(r[0].s, "race"), 0);
	}
	fw_store_close(r[0].s);
	fw_store_close(r[1].s);
}

/* PostgreSQL only: a connection the server drops is opened again. The statement that finds
   it gone fails (it may have run); the next one, outside a transaction, reconnects; a
   transaction open when it went fails until it is rolled back. */
static void test_reconnect(void **state)
{
	struct contract *c = *state;
	struct fw_store *s;
	int64_t n = -1;
	int r;

	if (!c->pg)
		skip();
	s = contract_open(c);
	assert_int_equal(fw_store_item_mark(s, "f", "a", 1, T0), FW_ITEM_NEW);
	assert_int_equal(contract_pg_exec(c->where,
	                                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	                                  "WHERE datname = current_database() AND pid <> "
	                                  "pg_backend_pid()"),
	                 0);
	r = fw_store_item_count(s, "f", &n);
	assert_true(r == -ECONNRESET || r == -EIO);
	assert_int_equal(fw_store_item_count(s, "f", &n), 0);
	assert_int_equal(n, 1);
	/* the prepared statement is there again */
	assert_int_equal(fw_store_item_mark(s, "f", "b", 1, T0), FW_ITEM_NEW);

	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_item_mark(s, "f", "c", 1, T0), FW_ITEM_NEW);
	assert_int_equal(contract_pg_exec(c->where,
	                                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	                                  "WHERE datname = current_database() AND pid <> "
	                                  "pg_backend_pid()"),
	                 0);
	assert_true(fw_store_item_mark(s, "f", "d", 1, T0) < 0);
	assert_true(fw_store_commit(s) < 0);
	fw_store_rollback(s);
	/* within the reconnect's rest: refused at once, then after it, connected again */
	r = fw_store_item_count(s, "f", &n);
	if (r < 0) {
		sleep(6);
		r = fw_store_item_count(s, "f", &n);
	}
	assert_int_equal(r, 0);
	assert_int_equal(n, 2); /* c went with its transaction */
	fw_store_close(s);
}

static int count_cb(struct fw_story_item_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

/* Cut every other session of the test's database (the store's backend among them). */
static void terminate_others(const struct contract *c)
{
	assert_int_equal(contract_pg_exec(c->where,
	                                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	                                  "WHERE datname = current_database() AND pid <> "
	                                  "pg_backend_pid()"),
	                 0);
}

/* PostgreSQL: the statements a poll runs are prepared once per connection; a reconnection
   is a new session without them, which prepares every one of them again (each file's). */
static void test_reconnect_prepared(void **state)
{
	static const uint32_t features[3] = {1, 2, 3};
	struct contract *c = *state;
	struct fw_feed_state st = {
	    .url = (char *)"http://x/", .etag = (char *)"e", .last_poll = T0};
	struct fw_feed_state got = {0};
	struct fw_archive_row ar = {.feed = "f",
	                            .item = "a",
	                            .title = "t",
	                            .published = INT64_MIN,
	                            .updated = INT64_MIN,
	                            .seen = T0};
	struct fw_story_item_row row = {.feed = (char *)"f",
	                                .item = (char *)"a",
	                                .title = (char *)"t",
	                                .published = INT64_MIN,
	                                .seen = T0,
	                                .features = features,
	                                .n_features = 3};
	struct fw_story_watch w = {.first_alert = "x1", .last_alert = T0, .pending = 1};
	struct fw_story_watch wgot;
	struct fw_story_row story = {0};
	struct fw_store *s;
	int64_t n = -1, id = 0, sid = 0, rows = 0, bytes = 0, until = 0;
	int seen = 0;

	if (!c->pg)
		skip();
	s = contract_open(c);
	assert_int_equal(fw_store_set_node(s, "n", 60), 0);
	terminate_others(c);
	/* the first statement finds the connection gone, the next one opens it again */
	assert_true(fw_store_item_count(s, "f", &n) < 0);
	assert_int_equal(fw_store_item_count(s, "f", &n), 0);

	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_feed_save(s, "f", &st), 0);
	assert_int_equal(fw_store_feed_load(s, "f", &got), 0);
	assert_true(got.exists);
	assert_string_equal(got.etag, "e");
	fw_feed_state_clear(&got);
	assert_int_equal(fw_store_item_mark(s, "f", "a", 7, T0), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_reissued(s, "f", "b", 7), 1);
	assert_int_equal(fw_store_archive_add(s, &ar), 0);
	assert_int_equal(fw_store_story_added(s, 0, 0, count_cb, &seen), 0);
	assert_int_equal(fw_store_story_add_item(s, &row, "s-1", &id, &sid), 0);
	assert_int_equal(fw_store_story_match(s, id, "w", "[]"), 0);
	assert_int_equal(fw_store_story_get(s, sid, &story), 0);
	assert_string_equal(story.sid, "s-1");
	fw_story_row_clear(&story);
	assert_int_equal(fw_store_story_watch_set(s, sid, "w", &w), 0);
	assert_int_equal(fw_store_story_watch_get(s, sid, "w", &wgot), 0);
	assert_string_equal(wgot.first_alert, "x1");
	assert_int_equal(fw_store_alert_add(s, "x1", "w", "f", "a", T0), 1);
	assert_int_equal(fw_store_outbox_add(s, "x1", "log", "{}", T0), 1);
	assert_int_equal(fw_store_feed_claim(s, "f", NULL, 0, T0, false, &until), 1);
	assert_int_equal(fw_store_feed_hold(s, "f", T0 + 300), 1);
	assert_int_equal(fw_store_commit(s), 0);

	assert_int_equal(fw_store_story_added(s, 0, 0, count_cb, &seen), 0);
	assert_int_equal(seen, 1);
	assert_int_equal(fw_store_archive_count(s, 0, &rows, &bytes), 0);
	assert_int_equal(rows, 1);
	fw_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_reopen, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_feed_state, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_item_mark, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_item_seen_slack, contract_setup,
	                                    contract_teardown),
	    cmocka_unit_test_setup_teardown(test_item_reissued, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_item_prune, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_item_prune_steps, contract_setup,
	                                    contract_teardown),
	    cmocka_unit_test_setup_teardown(test_hosts, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_caps, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_error_kept, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_not_utf8, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_two_nodes_mark, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_reconnect, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_reconnect_prepared, contract_setup,
	                                    contract_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
