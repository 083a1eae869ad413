/*
 * test_feeds.c - the feeds room (daemon/feeds.c) on its own, as loop.c creates it: a real
 * loop, net, parser thread and SQLite store in a temporary directory, a config loaded from
 * a file, the scripted loopback server of tests/common/httpd.h, and the callbacks of its
 * env recorded. Once mode: every feed polled once, items marked seen, matching items
 * queued as alerts (outbox rows), the done, queued and failed callbacks, the metrics; a
 * second round stores nothing twice; a 503 rests its host (stored, shown to status).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include <uv.h>

#include "config.h"
#include "feeds.h"
#include "httpd.h"
#include "metrics.h"
#include "net.h"
#include "parsework.h"
#include "store.h"

#define FEED                                                                                       \
	"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>"                    \
	"<item><title>Putin in Pyongyang</title><guid>p1</guid></item>"                            \
	"<item><title>Weather</title><guid>w1</guid></item>"                                       \
	"<item><title>Putin again</title><guid>p2</guid></item></channel></rss>"

struct fx {
	char dir[64];
	uv_loop_t loop;
	struct fw_config *cfg;
	struct fw_store *store;
	struct fw_net *net;
	struct fw_parsework *pw;
	struct fw_httpd *srv;
	struct fw_feeds *feeds;
	struct fw_metrics metrics;
	int done, queued, failed;
	char last_failed[256];
};

static void guard_cb(uv_timer_t *t)
{
	(void)t;
}

static void done_cb(void *arg)
{
	((struct fx *)arg)->done++;
}

static void queued_cb(void *arg)
{
	((struct fx *)arg)->queued++;
}

static void failed_cb(void *arg, const char *feed, const char *error)
{
	struct fx *f = arg;

	f->failed++;
	snprintf(f->last_failed, sizeof(f->last_failed), "%s: %s", feed, error);
}

static const struct fw_httpd_route routes[] = {
    {.path = "/good", .body = FEED, .etag = "\"v1\""},
    {.path = "/busy", .status = 503, .headers = "Retry-After: 30000000\r\n", .body = "busy"},
};

static void open_world(struct fx *f, bool with_busy)
{
	struct fw_diags diags = {0};
	char path[128], url1[96], url2[96], err[256];
	FILE *c;

	assert_int_equal(fw_httpd_start(routes, 2, &f->srv), 0);
	snprintf(path, sizeof(path), "%s/feedwatch.conf", f->dir);
	c = fopen(path, "w");
	assert_non_null(c);
	fprintf(c,
	        "state_dir = \"%s/state\";\n"
	        "first_poll_max_age = 0;\n"
	        "feeds = ( { name = \"good\"; url = \"%s\"; }%s%s%s );\n"
	        "entities = { putin = [ \"Putin\" ]; };\n"
	        "watchlists = ( { name = \"w\"; match = \"@putin\"; outputs = [ \"o\" ]; } );\n"
	        "outputs = ( { name = \"o\"; plugin = \"log\"; path = \"-\"; } );\n",
	        f->dir, fw_httpd_url(f->srv, "/good", url1, sizeof(url1)),
	        with_busy ? ", { name = \"busy\"; url = \"" : "",
	        with_busy ? fw_httpd_url(f->srv, "/busy", url2, sizeof(url2)) : "",
	        with_busy ? "\"; }" : "");
	assert_int_equal(fclose(c), 0);
	assert_int_equal(fw_config_load(path, &f->cfg, &diags), 0);
	fw_diags_clear(&diags);
	snprintf(path, sizeof(path), "%s/state", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/state/feedwatch.db", f->dir);
	assert_int_equal(fw_store_open(path, false, &f->store, err, sizeof(err)), 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(fw_net_new(&f->loop, 16, 0, &f->net), 0);
	assert_int_equal(fw_parsework_new(&f->loop, 1u << 20, &f->pw), 0);
}

/* One round of `once`: start the feeds, run until every feed is done, close them. */
static void round_once(struct fx *f)
{
	struct fw_feeds_env env = {.loop = &f->loop,
	                           .store = f->store,
	                           .net = f->net,
	                           .parsework = f->pw,
	                           .metrics = &f->metrics,
	                           .once = true,
	                           .queued = queued_cb,
	                           .failed = failed_cb,
	                           .done = done_cb,
	                           .arg = f};
	int before = f->done;
	uint64_t end = uv_hrtime() + 20000 * 1000000ull;
	uv_timer_t guard; /* wakes the loop, so that the time limit holds */

	assert_int_equal(uv_timer_init(&f->loop, &guard), 0);
	uv_timer_start(&guard, guard_cb, 20, 20);
	assert_int_equal(fw_feeds_start(&env, f->cfg, &f->feeds), 0);
	while (f->done == before && uv_hrtime() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	assert_int_equal(f->done, before + 1);
	fw_feeds_close(f->feeds);
	f->feeds = NULL;
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(fw_store_sync(f->store), 0);
}

static void close_world(struct fx *f)
{
	fw_net_close(f->net, NULL, NULL);
	fw_parsework_close(f->pw, NULL, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	fw_store_close(f->store);
	fw_config_free(f->cfg);
	f->srv = fw_httpd_stop(f->srv);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/fwtest-feeds-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The alerts queued in the outbox. */
static int64_t pending(struct fx *f)
{
	int64_t p = 0, d = 0;

	assert_int_equal(fw_store_outbox_count(f->store, NULL, &p, &d), 0);
	return p;
}

static void test_once_round(void **state)
{
	struct fx *f = *state;
	struct fw_feed_state st = {0};
	int64_t n = 0;

	open_world(f, false);
	round_once(f);
	/* three items remembered, two matching alerts queued, the kick asked for once */
	assert_int_equal(fw_store_item_count(f->store, "good", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pending(f), 2);
	assert_int_equal(f->queued, 1);
	assert_int_equal(f->failed, 0);
	assert_int_equal(f->metrics.polls, 1);
	assert_int_equal(f->metrics.items_new, 3);
	assert_int_equal(f->metrics.matches, 2);
	assert_int_equal(f->metrics.poll_seconds[0] + f->metrics.poll_seconds[1] +
	                     f->metrics.poll_seconds[2] + f->metrics.poll_seconds[3] +
	                     f->metrics.poll_seconds[4],
	                 1);
	assert_int_equal(fw_store_feed_load(f->store, "good", &st), 0);
	assert_string_equal(st.etag, "\"v1\"");
	assert_int_equal(st.items_seen, 3);
	assert_int_equal(st.alerts, 2);
	assert_true(st.last_success > 0);
	fw_feed_state_clear(&st);

	/* the second round is a conditional GET answered 304: nothing new, no kick */
	round_once(f);
	assert_int_equal(fw_httpd_hits(f->srv, "/good"), 2);
	assert_int_equal(f->metrics.not_modified, 1);
	assert_int_equal(pending(f), 2);
	assert_int_equal(f->queued, 1);
	close_world(f);
}

static void host_cb(const char *host, int64_t until, long http_status, void *arg)
{
	int64_t *got = arg;

	(void)host;
	got[0] = until;
	got[1] = http_status;
}

static void test_failed_and_resting_host(void **state)
{
	struct fx *f = *state;
	struct fw_feed_state st = {0};
	int64_t got[2] = {0, 0}, now = time(NULL);

	open_world(f, true);
	round_once(f);
	/* the 503 fails its feed (the callback says which), the good feed goes on */
	assert_int_equal(f->failed, 1);
	assert_non_null(strstr(f->last_failed, "busy"));
	assert_int_equal(f->metrics.poll_errors, 1);
	assert_int_equal(pending(f), 2);
	assert_int_equal(fw_store_feed_load(f->store, "busy", &st), 0);
	assert_int_equal(st.error_streak, 1);
	assert_int_equal(st.http_status, 503);
	fw_feed_state_clear(&st);
	/* its host rests, at most a day however long the server asked, and the store says so */
	assert_int_equal(fw_store_host_rests(f->store, now, host_cb, got), 0);
	assert_int_equal(got[1], 503);
	assert_true(got[0] > now && got[0] <= now + 86400 + 5);
	close_world(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_once_round, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_and_resting_host, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
