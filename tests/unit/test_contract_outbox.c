/*
 * test_contract_outbox.c - the store contract, alerts and outbox part: alert_add, every
 * fw_store_outbox_* function, the alert rows of `feedwatch alerts`, on both backends
 * (test_contract.h; the cases of test_store.c about alerts and the outbox, moved here). The
 * cases of many nodes (two stores on one PostgreSQL database: claims, leases, races) run
 * on PostgreSQL only.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_contract.h"

#define T0 1700000000

static void test_alert_add_once(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);

	assert_int_equal(fw_store_alert_add(s, "A", "wl", "feed", "item", T0), 1);
	assert_int_equal(fw_store_alert_add(s, "A", "wl", "feed", "item", T0 + 5), 0);
	assert_int_equal(fw_store_alert_add(s, "B", "wl", "feed", "item", T0), 1);
	assert_int_equal(fw_store_alert_add(s, NULL, "wl", "feed", "item", T0), -EINVAL);
	fw_store_close(s);
}

/* Alerts and queued entries survive a reopen; a second add finds them. */
static void test_reopen_keeps_alerts(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_outbox_entry *e = NULL;
	size_t n = 0;

	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_alert_add(s, "al1", "wl", "a", "i1", T0), 1);
	assert_int_equal(fw_store_outbox_add(s, "al1", "log", "{\"x\":1}", T0), 1);
	assert_int_equal(fw_store_commit(s), 0);
	s = fw_store_close(s);

	s = contract_open(c);
	assert_int_equal(fw_store_alert_add(s, "al1", "wl", "a", "i1", T0), 0);
	assert_int_equal(fw_store_outbox_add(s, "al1", "log", "{\"x\":1}", T0), 0);
	assert_int_equal(fw_store_outbox_due(s, T0, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].payload, "{\"x\":1}");
	fw_outbox_entries_free(e, n);
	fw_store_close(s);
}

/* The alert history: per output delivered (the row left the outbox), pending or dead, the
   payload kept after delivery; newest first; since and watchlist narrow it. */
static void test_alert_rows(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_outbox_entry *e = NULL;
	struct fw_alert_row *r = NULL;
	size_t n = 0;

	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_alert_add(s, "A", "wl", "feed", "i1", T0), 1);
	assert_int_equal(fw_store_outbox_add(s, "A", "x", "{\"a\":1}", T0), 1);
	assert_int_equal(fw_store_outbox_add(s, "A", "y", "{\"a\":1}", T0), 1);
	/* outputs come in name order, bytewise (not by a locale's collation) */
	assert_int_equal(fw_store_outbox_add(s, "A", "Z", "{\"a\":1}", T0), 1);
	assert_int_equal(fw_store_alert_add(s, "B", "other", "feed", "i2", T0 + 10), 1);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_outbox_list(s, -1, NULL, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(fw_store_outbox_delivered(s, e[0].rowid, T0 + 20), 0);
	assert_int_equal(fw_store_outbox_kill(s, e[2].rowid, "HTTP 400"), 0);
	fw_outbox_entries_free(e, n);

	assert_int_equal(fw_store_alert_rows(s, 0, NULL, 100, &r, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(r[0].alert_id, "B"); /* newest first, no output */
	assert_string_equal(r[0].watchlist, "other");
	assert_string_equal(r[0].feed, "feed");
	assert_string_equal(r[0].item_id, "i2");
	assert_int_equal(r[0].created, T0 + 10);
	assert_null(r[0].output);
	assert_null(r[0].payload);
	assert_int_equal(r[0].state, FW_ALERT_DELIVERED);
	assert_string_equal(r[1].output, "Z");
	assert_int_equal(r[1].state, FW_OUTBOX_DEAD);
	assert_int_equal(r[1].attempts, 1);
	assert_string_equal(r[1].last_error, "HTTP 400");
	assert_int_equal(r[1].delivered, 0);
	assert_string_equal(r[2].output, "x");
	assert_int_equal(r[2].state, FW_ALERT_DELIVERED);
	assert_int_equal(r[2].delivered, T0 + 20);
	assert_string_equal(r[2].payload, "{\"a\":1}");
	assert_null(r[2].last_error);
	assert_string_equal(r[3].output, "y");
	assert_int_equal(r[3].state, FW_OUTBOX_PENDING);
	fw_alert_rows_free(r, n);

	assert_int_equal(fw_store_alert_rows(s, T0 + 5, NULL, 100, &r, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].alert_id, "B");
	fw_alert_rows_free(r, n);
	assert_int_equal(fw_store_alert_rows(s, 0, "wl", 100, &r, &n), 0);
	assert_int_equal(n, 3);
	fw_alert_rows_free(r, n);
	assert_int_equal(fw_store_alert_rows(s, 0, NULL, 1, &r, &n), 0);
	assert_int_equal(n, 1); /* at most one alert: the newest */
	fw_alert_rows_free(r, n);
	fw_store_close(s);
}

static void test_outbox_add_idempotent(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	int64_t p = -1, d = -1;

	assert_int_equal(fw_store_outbox_add(s, "A", "log", "{}", T0), 1);
	assert_int_equal(fw_store_outbox_add(s, "A", "log", "{\"other\":1}", T0 + 1), 0);
	assert_int_equal(fw_store_outbox_add(s, "A", "webhook", "{}", T0), 1);
	assert_int_equal(fw_store_outbox_add(s, "A", "log", NULL, T0), -EINVAL);
	assert_int_equal(fw_store_outbox_add(s, NULL, "log", "{}", T0), -EINVAL);
	assert_int_equal(fw_store_outbox_count(s, "log", &p, &d), 0);
	assert_int_equal(p, 1);
	assert_int_equal(d, 0);
	assert_int_equal(fw_store_outbox_count(s, NULL, &p, &d), 0);
	assert_int_equal(p, 2);
	assert_int_equal(fw_store_outbox_count(s, "none", &p, NULL), 0);
	assert_int_equal(p, 0);
	fw_store_close(s);
}

/* Queue n entries <output>-0.. for output, all due at T0; returns their rowids in ids. */
static void queue(struct fw_store *s, const char *output, int n, int64_t *ids)
{
	struct fw_outbox_entry *e = NULL;
	size_t got = 0;
	char id[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s-%d", output, i);
		assert_int_equal(fw_store_outbox_add(s, id, output, "{}", T0), 1);
	}
	assert_int_equal(fw_store_outbox_list(s, -1, output, &e, &got), 0);
	assert_int_equal(got, (size_t)n);
	for (i = 0; i < n; i++) {
		ids[i] = e[i].rowid;
		if (i)
			assert_true(ids[i] > ids[i - 1]);
	}
	fw_outbox_entries_free(e, got);
}

static void test_outbox_due(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_outbox_entry *e = NULL;
	int64_t ids[4], busy[1], when = 0;
	size_t n = 0;

	assert_int_equal(fw_store_outbox_next_due(s, &when), -ENOENT);
	assert_int_equal(fw_store_outbox_due(s, T0, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	assert_int_equal(fw_store_outbox_due(s, T0, 10, NULL, 1, &e, &n), -EINVAL);

	queue(s, "log", 4, ids);
	/* ids[0] is pushed back, ids[2] forward: due order 2 (T0-5), 1, 3 (T0), 0 (T0+100). */
	assert_int_equal(fw_store_outbox_retry(s, ids[0], T0 + 100, "later"), 0);
	assert_int_equal(fw_store_outbox_retry(s, ids[2], T0 - 5, "sooner"), 0);
	assert_int_equal(fw_store_outbox_next_due(s, &when), 0);
	assert_int_equal(when, T0 - 5);

	assert_int_equal(fw_store_outbox_due(s, T0, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].rowid, ids[2]);
	assert_int_equal(e[1].rowid, ids[1]);
	assert_int_equal(e[2].rowid, ids[3]);
	assert_int_equal(e[0].attempts, 1);
	assert_string_equal(e[0].last_error, "sooner");
	assert_null(e[1].last_error);
	assert_string_equal(e[1].output, "log");
	assert_string_equal(e[1].alert_id, "log-1");
	assert_string_equal(e[1].payload, "{}");
	assert_int_equal(e[1].created, T0);
	assert_int_equal(e[1].next_at, T0);
	assert_int_equal(e[1].state, FW_OUTBOX_PENDING);
	fw_outbox_entries_free(e, n);

	/* max caps the answer; busy rowids are skipped and do not count against max. */
	assert_int_equal(fw_store_outbox_due(s, T0, 1, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].rowid, ids[2]);
	fw_outbox_entries_free(e, n);
	busy[0] = ids[2];
	assert_int_equal(fw_store_outbox_due(s, T0, 2, busy, 1, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].rowid, ids[1]);
	assert_int_equal(e[1].rowid, ids[3]);
	fw_outbox_entries_free(e, n);

	/* Later on, the pushed-back one is due too, last. */
	assert_int_equal(fw_store_outbox_due(s, T0 + 100, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(e[3].rowid, ids[0]);
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_due(s, T0 - 6, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);

	/* a lazy commit is made durable before its entry is handed out (both backends sync
	   first; the entry is there either way) */
	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_outbox_add(s, "lazy", "log", "{}", T0 - 50), 1);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_outbox_due(s, T0 - 50, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].alert_id, "lazy");
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_sync(s), 0);
	fw_store_close(s);
}

static void test_outbox_lifecycle(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_outbox_entry *e = NULL;
	int64_t ids[3], wid[2], p, d, ch = -1, when;
	size_t n = 0;

	queue(s, "log", 3, ids);
	queue(s, "web", 2, wid);

	/* Delivered: gone, and a second delivery report finds nothing. */
	assert_int_equal(fw_store_outbox_delivered(s, ids[0], 1), 0);
	assert_int_equal(fw_store_outbox_delivered(s, ids[0], 1), -ENOENT);
	assert_int_equal(fw_store_outbox_retry(s, 999999, T0, "x"), -ENOENT);

	/* Retry counts attempts; kill makes a dead letter that is never due. */
	assert_int_equal(fw_store_outbox_retry(s, ids[1], T0 + 10, "e1"), 0);
	assert_int_equal(fw_store_outbox_retry(s, ids[1], T0 + 20, "e2"), 0);
	assert_int_equal(fw_store_outbox_kill(s, ids[1], "gave up"), 0);
	assert_int_equal(fw_store_outbox_kill(s, ids[1], "again"), -ENOENT);
	assert_int_equal(fw_store_outbox_retry(s, ids[1], T0, "dead"), -ENOENT);
	assert_int_equal(fw_store_outbox_kill(s, wid[0], "http 400"), 0);
	assert_int_equal(fw_store_outbox_count(s, "log", &p, &d), 0);
	assert_int_equal(p, 1);
	assert_int_equal(d, 1);
	assert_int_equal(fw_store_outbox_count(s, "web", &p, &d), 0);
	assert_int_equal(p, 1);
	assert_int_equal(d, 1);
	assert_int_equal(fw_store_outbox_due(s, T0 + 1000, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].rowid, ids[2]);
	assert_int_equal(e[1].rowid, wid[1]);
	fw_outbox_entries_free(e, n);

	/* list: by state and output. */
	assert_int_equal(fw_store_outbox_list(s, FW_OUTBOX_DEAD, NULL, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].rowid, ids[1]);
	assert_int_equal(e[0].state, FW_OUTBOX_DEAD);
	assert_int_equal(e[0].attempts, 3);
	assert_string_equal(e[0].last_error, "gave up");
	assert_int_equal(e[1].rowid, wid[0]);
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_list(s, FW_OUTBOX_DEAD, "web", &e, &n), 0);
	assert_int_equal(n, 1);
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_list(s, -1, NULL, &e, &n), 0);
	assert_int_equal(n, 4);
	fw_outbox_entries_free(e, n);

	/* Revive the dead of one output: pending, due now, attempts reset. */
	assert_int_equal(fw_store_outbox_revive(s, 0, "log", T0 + 500, &ch), 0);
	assert_int_equal(ch, 1);
	assert_int_equal(fw_store_outbox_list(s, -1, "log", &e, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].rowid, ids[1]);
	assert_int_equal(e[0].state, FW_OUTBOX_PENDING);
	assert_int_equal(e[0].attempts, 0);
	assert_int_equal(e[0].next_at, T0 + 500);
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_count(s, "web", &p, &d), 0);
	assert_int_equal(d, 1);

	/* Revive one rowid; a pending one can be made due now too. */
	assert_int_equal(fw_store_outbox_retry(s, ids[2], T0 + 9999, "slow"), 0);
	assert_int_equal(fw_store_outbox_revive(s, ids[2], NULL, T0 + 1, &ch), 0);
	assert_int_equal(ch, 1);
	assert_int_equal(fw_store_outbox_next_due(s, &when), 0);
	assert_int_equal(when, T0);
	assert_int_equal(fw_store_outbox_revive(s, wid[0], "log", T0, &ch), 0);
	assert_int_equal(ch, 0);
	assert_int_equal(fw_store_outbox_revive(s, -1, NULL, T0, &ch), -EINVAL);

	/* Drop: every dead of an output, or one rowid. */
	assert_int_equal(fw_store_outbox_drop(s, 0, "log", &ch), 0);
	assert_int_equal(ch, 0);
	assert_int_equal(fw_store_outbox_drop(s, 0, NULL, &ch), 0);
	assert_int_equal(ch, 1);
	assert_int_equal(fw_store_outbox_count(s, NULL, &p, &d), 0);
	assert_int_equal(p, 3);
	assert_int_equal(d, 0);
	assert_int_equal(fw_store_outbox_drop(s, ids[1], NULL, &ch), 0);
	assert_int_equal(ch, 1);
	assert_int_equal(fw_store_outbox_count(s, "log", &p, &d), 0);
	assert_int_equal(p, 1);
	assert_int_equal(fw_store_outbox_drop(s, -1, NULL, &ch), -EINVAL);

	/* Rowids are never reused, even after the highest one was deleted. */
	assert_int_equal(fw_store_outbox_delivered(s, wid[1], 1), 0);
	assert_int_equal(fw_store_outbox_add(s, "new", "web", "{}", T0), 1);
	assert_int_equal(fw_store_outbox_list(s, -1, "web", &e, &n), 0);
	assert_int_equal(n, 1);
	assert_true(e[0].rowid > wid[1]);
	fw_outbox_entries_free(e, n);
	fw_store_close(s);
}

/* Hold (an output down: no attempt counted), release (it is back), expire (max_age). */
static void test_outbox_hold_release_expire(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_outbox_entry *e = NULL;
	int64_t ids[3], wid[1], ch = -1, p, d;
	size_t n = 0;

	queue(s, "log", 3, ids);
	queue(s, "web", 1, wid);
	assert_int_equal(fw_store_outbox_hold(s, ids[0], T0 + 600, "output down"), 0);
	assert_int_equal(fw_store_outbox_hold(s, ids[1], T0 + 600, "output down"), 0);
	assert_int_equal(fw_store_outbox_hold(s, wid[0], T0 + 600, "output down"), 0);
	assert_int_equal(fw_store_outbox_hold(s, 999999, T0, "x"), -ENOENT);
	assert_int_equal(fw_store_outbox_list(s, -1, "log", &e, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].last_error, FW_OUTBOX_HELD "output down");
	assert_int_equal(e[0].attempts, 0);
	assert_int_equal(e[0].next_at, T0 + 600);
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_due(s, T0, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].rowid, ids[2]);
	fw_outbox_entries_free(e, n);

	/* release: the held entries of that output only become due now */
	assert_int_equal(fw_store_outbox_release(s, "log", T0 + 10, &ch), 0);
	assert_int_equal(ch, 2);
	assert_int_equal(fw_store_outbox_release(s, "log", T0 + 10, NULL), 0);
	assert_int_equal(fw_store_outbox_release(s, NULL, T0, &ch), -EINVAL);
	assert_int_equal(fw_store_outbox_due(s, T0 + 10, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].rowid, ids[2]);
	assert_int_equal(e[1].rowid, ids[0]);
	assert_int_equal(e[1].next_at, T0 + 10);
	assert_int_equal(e[2].rowid, ids[1]);
	fw_outbox_entries_free(e, n);

	/* expire: dead without an attempt; only a pending entry */
	assert_int_equal(fw_store_outbox_expire(s, ids[0], "expired (max_age)"), 0);
	assert_int_equal(fw_store_outbox_expire(s, ids[0], "again"), -ENOENT);
	assert_int_equal(fw_store_outbox_hold(s, ids[0], T0, "dead"), -ENOENT);
	assert_int_equal(fw_store_outbox_list(s, FW_OUTBOX_DEAD, NULL, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].attempts, 0);
	assert_string_equal(e[0].last_error, "expired (max_age)");
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_count(s, NULL, &p, &d), 0);
	assert_int_equal(p, 3);
	assert_int_equal(d, 1);
	fw_store_close(s);
}

/* What `feedwatch run --once` counts: entries queued after a mark, not delivered. */
static void test_outbox_count_after(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	int64_t mark = -1, ids[2], more[3], p = -1, d = -1;

	assert_int_equal(fw_store_outbox_last_rowid(s, &mark), 0);
	assert_int_equal(mark, 0);
	queue(s, "old", 2, ids);
	assert_int_equal(fw_store_outbox_last_rowid(s, &mark), 0);
	assert_int_equal(mark, ids[1]);
	queue(s, "new", 3, more);
	assert_int_equal(fw_store_outbox_delivered(s, more[0], T0), 0);
	assert_int_equal(fw_store_outbox_kill(s, more[1], "no"), 0);
	assert_int_equal(fw_store_outbox_count_after(s, mark, &p, &d), 0);
	assert_int_equal(p, 1);
	assert_int_equal(d, 1);
	assert_int_equal(fw_store_outbox_count_after(s, 0, &p, &d), 0);
	assert_int_equal(p, 3);
	assert_int_equal(d, 1);
	fw_store_close(s);
}

/* Caps: a too large payload or key is refused, a long error cut on a character boundary;
   a refusal inside a transaction leaves the transaction usable (PostgreSQL aborts a
   transaction at a failed statement: the store checks before it writes). */
static void test_outbox_caps(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_outbox_entry *e = NULL;
	size_t n = 0, len;
	char *big = malloc(FW_STORE_PAYLOAD_MAX + 2);
	int64_t ids[1], p = -1;

	assert_non_null(big);
	assert_int_equal(fw_store_begin(s), 0);
	memset(big, 'k', FW_STORE_KEY_MAX + 1);
	big[FW_STORE_KEY_MAX + 1] = 0;
	assert_int_equal(fw_store_alert_add(s, big, "wl", "f", "i", T0), -E2BIG);
	assert_int_equal(fw_store_alert_add(s, "A", "wl", "f", big, T0), -E2BIG);
	assert_int_equal(fw_store_outbox_add(s, "A", big, "{}", T0), -E2BIG);
	assert_int_equal(fw_store_outbox_count(s, big, &p, NULL), -E2BIG);
	big[FW_STORE_KEY_MAX] = 0;
	assert_int_equal(fw_store_alert_add(s, big, "wl", "f", "i", T0), 1);

	memset(big, 'p', FW_STORE_PAYLOAD_MAX + 1);
	big[FW_STORE_PAYLOAD_MAX + 1] = 0;
	assert_int_equal(fw_store_outbox_add(s, "A", "log", big, T0), -E2BIG);
	big[FW_STORE_PAYLOAD_MAX] = 0;
	assert_int_equal(fw_store_outbox_add(s, "A", "log", big, T0), 1);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_outbox_count(s, "log", &p, NULL), 0);
	assert_int_equal(p, 1);

	/* A long error is cut on a character boundary: 'é' is 2 bytes and straddles the cap. */
	memset(big, 'e', FW_STORE_ERROR_MAX + 100);
	big[FW_STORE_ERROR_MAX - 1] = (char)0xc3;
	big[FW_STORE_ERROR_MAX] = (char)0xa9;
	big[FW_STORE_ERROR_MAX + 100] = 0;
	queue(s, "x", 1, ids);
	assert_int_equal(fw_store_outbox_retry(s, ids[0], T0, big), 0);
	assert_int_equal(fw_store_outbox_list(s, -1, "x", &e, &n), 0);
	assert_int_equal(n, 1);
	len = strlen(e[0].last_error);
	assert_int_equal(len, FW_STORE_ERROR_MAX - 1);
	fw_outbox_entries_free(e, n);

	/* An error that is not UTF-8 (a server's reason phrase) is kept, not refused, and the
	   transaction it was written in goes on (PostgreSQL keeps '?' for the bad bytes). */
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_outbox_retry(s, ids[0], T0, "bad \xff\xfe end"), 0);
	assert_int_equal(fw_store_outbox_hold(s, ids[0], T0, "\xc3"), 0);
	assert_int_equal(fw_store_outbox_add(s, "after", "x", "{}", T0), 1);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_outbox_list(s, -1, "x", &e, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(strlen(e[0].last_error), strlen(FW_OUTBOX_HELD) + 1);
	assert_int_equal(e[0].attempts, 2);
	fw_outbox_entries_free(e, n);
	free(big);
	fw_store_close(s);
}

/* ---------------------------------------------------------------- many nodes (PostgreSQL) */

/* A second store on the test's database, as node `node` with lease `lease`. */
static struct fw_store *open_node(struct contract *c, const char *node, int64_t lease)
{
	struct fw_store *s = contract_open(c);

	assert_int_equal(fw_store_set_node(s, node, lease), 0);
	return s;
}

/* True when rowid is among the n entries of e. */
static bool has_rowid(const struct fw_outbox_entry *e, size_t n, int64_t rowid)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].rowid == rowid)
			return true;
	return false;
}

/* Two nodes asking for due entries get disjoint ones; each gets its own back (renewed),
   never the other's while its claim lasts. */
static void test_claims_disjoint(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	struct fw_outbox_entry *ea = NULL, *eb = NULL;
	size_t na = 0, nb = 0;
	int64_t ids[6], when = 0;

	if (!c->pg)
		skip();
	a = open_node(c, "node-a", 30);
	b = open_node(c, "node-b", 30);
	queue(a, "log", 6, ids);
	assert_int_equal(fw_store_outbox_due(a, T0, 4, NULL, 0, &ea, &na), 0);
	assert_int_equal(na, 4);
	assert_int_equal(ea[0].rowid, ids[0]);
	assert_int_equal(fw_store_outbox_due(b, T0, 10, NULL, 0, &eb, &nb), 0);
	assert_int_equal(nb, 2);
	assert_int_equal(eb[0].rowid, ids[4]);
	assert_int_equal(eb[1].rowid, ids[5]);
	for (size_t i = 0; i < nb; i++)
		assert_false(has_rowid(ea, na, eb[i].rowid));
	fw_outbox_entries_free(ea, na);
	fw_outbox_entries_free(eb, nb);

	/* a node's own claims come back to it (a restart under the same name), not to b */
	assert_int_equal(fw_store_outbox_due(a, T0 + 10, 10, NULL, 0, &ea, &na), 0);
	assert_int_equal(na, 4);
	fw_outbox_entries_free(ea, na);
	assert_int_equal(fw_store_outbox_due(b, T0 + 10, 10, NULL, 0, &eb, &nb), 0);
	assert_int_equal(nb, 2);
	fw_outbox_entries_free(eb, nb);
	/* for b, a's entries are due when a's claim (renewed at T0 + 10) ends */
	assert_int_equal(fw_store_outbox_delivered(b, ids[4], T0 + 11), 0);
	assert_int_equal(fw_store_outbox_delivered(b, ids[5], T0 + 11), 0);
	assert_int_equal(fw_store_outbox_next_due(b, &when), 0);
	assert_int_equal(when, T0 + 40);
	assert_int_equal(fw_store_outbox_next_due(a, &when), 0);
	assert_int_equal(when, T0);

	/* a node that lost no claim writes the outcome; another node's claim is not its to end */
	assert_int_equal(fw_store_outbox_retry(b, ids[0], T0 + 100, "not mine"), -ENOENT);
	assert_int_equal(fw_store_outbox_hold(b, ids[0], T0 + 100, "not mine"), -ENOENT);
	assert_int_equal(fw_store_outbox_kill(b, ids[0], "not mine"), -ENOENT);
	assert_int_equal(fw_store_outbox_expire(b, ids[0], "not mine"), -ENOENT);
	/* a retry ends a's claim: the entry is b's to take when it is due again */
	assert_int_equal(fw_store_outbox_retry(a, ids[0], T0 + 20, "e1"), 0);
	assert_int_equal(fw_store_outbox_due(b, T0 + 20, 10, NULL, 0, &eb, &nb), 0);
	assert_int_equal(nb, 1);
	assert_int_equal(eb[0].rowid, ids[0]);
	assert_int_equal(eb[0].attempts, 1);
	fw_outbox_entries_free(eb, nb);
	fw_store_close(a);
	fw_store_close(b);
}

/* A node that dies holding claims (closed without an outcome) loses them after its lease,
   not before; what another node delivered never comes back. */
static void test_claim_dead_node(void **state)
{
	struct contract *c = *state;
	struct fw_store *dead, *live;
	struct fw_outbox_entry *e = NULL;
	size_t n = 0;
	int64_t ids[3], when = 0, busy[1];

	if (!c->pg)
		skip();
	dead = open_node(c, "dead", 10);
	queue(dead, "log", 3, ids);
	assert_int_equal(fw_store_outbox_due(dead, T0, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 3);
	fw_outbox_entries_free(e, n);
	fw_store_close(dead);

	live = open_node(c, "live", 10);
	assert_int_equal(fw_store_outbox_due(live, T0 + 9, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	assert_int_equal(fw_store_outbox_next_due(live, &when), 0);
	assert_int_equal(when, T0 + 10);
	assert_int_equal(fw_store_outbox_due(live, T0 + 10, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].rowid, ids[0]);
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_delivered(live, ids[0], T0 + 11), 0);

	/* the dead node comes back under its name: live's claims hold until T0 + 20, except
	   ids[1], which live keeps in flight (busy: its claim renewed by each due) */
	dead = open_node(c, "dead", 10);
	assert_int_equal(fw_store_outbox_due(dead, T0 + 19, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	busy[0] = ids[1];
	assert_int_equal(fw_store_outbox_due(live, T0 + 15, 10, busy, 1, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].rowid, ids[2]);
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_due(dead, T0 + 24, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	assert_int_equal(fw_store_outbox_due(dead, T0 + 25, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 2);
	assert_false(has_rowid(e, n, ids[0])); /* delivered by live: never again */
	fw_outbox_entries_free(e, n);
	assert_int_equal(fw_store_outbox_delivered(dead, ids[1], T0 + 26), 0);
	assert_int_equal(fw_store_outbox_delivered(dead, ids[2], T0 + 26), 0);
	assert_int_equal(fw_store_outbox_due(live, T0 + 1000, 10, NULL, 0, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	assert_int_equal(fw_store_outbox_next_due(live, &when), -ENOENT);
	fw_store_close(dead);
	fw_store_close(live);
}

/* A node of the race below: its own connection, raising the same alerts as the others
   and delivering what it claims. */
#define RACE_NODES  3
#define RACE_ALERTS 60
struct racer {
	struct contract *c;
	char node[16];
	int raised; /* alert_add answered 1 */
	int queued; /* outbox_add answered 1 */
	int delivered[RACE_ALERTS];
	int errors;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct fw_store *s = contract_open(r->c);
	struct fw_outbox_entry *e = NULL;
	size_t n = 0;
	char id[16];
	int ret;

	if (fw_store_set_node(s, r->node, 60) < 0)
		r->errors++;
	for (int i = 0; i < RACE_ALERTS; i++) {
		snprintf(id, sizeof(id), "al-%d", i);
		ret = fw_store_alert_add(s, id, "wl", "feed", id, T0);
		if (ret < 0)
			r->errors++;
		r->raised += ret == 1;
		if (ret == 1) {
			ret = fw_store_outbox_add(s, id, "log", "{}", T0);
			if (ret < 0)
				r->errors++;
			r->queued += ret == 1;
		}
		/* deliver as it goes, a few at a time, while the others still queue */
		if (i % 7 == 0 && fw_store_outbox_due(s, T0, 3, NULL, 0, &e, &n) == 0) {
			for (size_t k = 0; k < n; k++)
				if (fw_store_outbox_delivered(s, e[k].rowid, T0) == 0)
					r->delivered[atoi(e[k].alert_id + 3)]++;
				else
					r->errors++;
			fw_outbox_entries_free(e, n);
		}
	}
	while ((ret = fw_store_outbox_due(s, T0, 5, NULL, 0, &e, &n)) == 0 && n > 0) {
		for (size_t k = 0; k < n; k++)
			if (fw_store_outbox_delivered(s, e[k].rowid, T0) == 0)
				r->delivered[atoi(e[k].alert_id + 3)]++;
			else
				r->errors++;
		fw_outbox_entries_free(e, n);
	}
	if (ret < 0)
		r->errors++;
	free(e);
	fw_store_close(s);
	return NULL;
}

/* Nodes racing on the same alerts: each alert raised once for the cluster, each entry
   delivered by exactly one node (a delivered that finds no row would be a second). */
static void test_claims_race(void **state)
{
	struct contract *c = *state;
	struct racer r[RACE_NODES];
	pthread_t t[RACE_NODES];
	int raised = 0, queued = 0;

	if (!c->pg)
		skip();
	memset(r, 0, sizeof(r));
	for (int i = 0; i < RACE_NODES; i++) {
		r[i].c = c;
		snprintf(r[i].node, sizeof(r[i].node), "racer-%d", i);
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < RACE_NODES; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].errors, 0);
		raised += r[i].raised;
		queued += r[i].queued;
	}
	assert_int_equal(raised, RACE_ALERTS);
	assert_int_equal(queued, RACE_ALERTS);
	for (int a = 0; a < RACE_ALERTS; a++) {
		int got = 0;

		for (int i = 0; i < RACE_NODES; i++)
			got += r[i].delivered[a];
		assert_int_equal(got, 1);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, contract_setup, contract_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_alert_add_once),
	    T(test_reopen_keeps_alerts),
	    T(test_alert_rows),
	    T(test_outbox_add_idempotent),
	    T(test_outbox_due),
	    T(test_outbox_lifecycle),
	    T(test_outbox_hold_release_expire),
	    T(test_outbox_count_after),
	    T(test_outbox_caps),
	    T(test_claims_disjoint),
	    T(test_claim_dead_node),
	    T(test_claims_race),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
