/*
 * test_alert.c - raising, routing, rate limits, digests and the storm notice of alert.c,
 * against a real SQLite store in a temporary directory, the real event loop and the real
 * log plugin (dlopen of the built plugin), with its output files read back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <uv.h>

#include "alert.h"
#include "config.h"
#include "item.h"
#include "deliver.h"
#include "match.h"
#include "net.h"
#include "store.h"

struct fx {
	char dir[64];
	uv_loop_t loop;
	struct fw_config *cfg;
	struct fw_store *store;
	struct fw_net *net;
	struct fw_deliver *deliver;
	bool net_closed;
};

/* Write the config: two watchlists, outputs a (rate limit as given) and b; w1 routes to
   a, w2 to a and b. */
static void write_config(struct fx *f, int rate_limit)
{
	char path[128];
	FILE *c;

	snprintf(path, sizeof(path), "%s/feedwatch.conf", f->dir);
	c = fopen(path, "w");
	assert_non_null(c);
	fprintf(
	    c,
	    "state_dir = \"%s/state\";\n"
	    "plugin_dir = \"%s\";\n"
	    "feeds = ( { name = \"world\"; url = \"https://user:pw@example.org/feed?token=t\"; } "
	    ");\n"
	    "entities = { putin = [ \"Putin\" ]; kim = [ \"Kim Jong Un\" ]; };\n"
	    "watchlists = ( { name = \"w1\"; match = \"@putin\"; outputs = [ \"a\" ]; },\n"
	    "               { name = \"w2\"; match = \"@kim\"; outputs = [ \"a\", \"b\" ]; } );\n"
	    "outputs = ( { name = \"a\"; plugin = \"log\"; path = \"%s/a.jsonl\"; "
	    "rate_limit = %d; rate_window = \"1h\"; },\n"
	    "            { name = \"b\"; plugin = \"log\"; path = \"%s/b.jsonl\"; "
	    "rate_limit = 0; } );\n",
	    f->dir, FW_PLUGIN_BUILD_DIR, f->dir, rate_limit, f->dir);
	assert_int_equal(fclose(c), 0);
}

static void start(struct fx *f, int rate_limit)
{
	struct fw_diags diags = {0};
	char path[128], err[512];

	write_config(f, rate_limit);
	snprintf(path, sizeof(path), "%s/feedwatch.conf", f->dir);
	if (fw_config_load(path, &f->cfg, &diags) != 0)
		for (size_t i = 0; i < diags.n; i++)
			fprintf(stderr, "%s:%d: %s\n", diags.v[i].file, diags.v[i].line,
			        diags.v[i].message);
	fw_diags_clear(&diags);
	assert_non_null(f->cfg);
	snprintf(path, sizeof(path), "%s/state", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/state/feedwatch.db", f->dir);
	assert_int_equal(fw_store_open(path, false, &f->store, err, sizeof(err)), 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(fw_net_new(&f->loop, 16, 0, &f->net), 0);
	{
		struct fw_deliver_env env = {.loop = &f->loop, .store = f->store, .net = f->net};

		assert_int_equal(fw_deliver_new(&env, f->cfg, &f->deliver), 0);
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/fwtest-alert-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static void net_closed_cb(void *arg)
{
	((struct fx *)arg)->net_closed = true;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (f->deliver) {
		/* the daemon's order: the net first, then the outputs */
		fw_net_close(f->net, net_closed_cb, f);
		fw_deliver_close(f->deliver);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		assert_true(f->net_closed);
		assert_int_equal(uv_loop_close(&f->loop), 0);
	}
	fw_store_close(f->store);
	fw_config_free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The JSON lines of an output's file. */
static size_t read_lines(struct fx *f, const char *name, json_t **out, size_t max)
{
	char path[128], line[1 << 16];
	size_t n = 0;
	FILE *in;

	snprintf(path, sizeof(path), "%s/%s.jsonl", f->dir, name);
	in = fopen(path, "r");
	if (!in)
		return 0;
	while (n < max && fgets(line, sizeof(line), in)) {
		out[n] = json_loads(line, 0, NULL);
		assert_non_null(out[n]);
		n++;
	}
	fclose(in);
	return n;
}

static size_t count_lines(struct fx *f, const char *name)
{
	json_t *v[64];
	size_t n = read_lines(f, name, v, 64);

	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	return n;
}

static void stop_cb(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Run the loop (deliveries, their completions) until the outbox is empty or 10 s pass. */
static void deliver(struct fx *f)
{
	uv_timer_t t;
	int64_t pending = 1, dead = 0;

	fw_deliver_kick(f->deliver);
	uv_timer_init(&f->loop, &t);
	for (int i = 0; i < 200 && pending > 0; i++) {
		uv_timer_start(&t, stop_cb, 50, 0);
		uv_run(&f->loop, UV_RUN_DEFAULT);
		assert_int_equal(fw_store_outbox_count(f->store, NULL, &pending, &dead), 0);
	}
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(pending, 0);
	assert_int_equal(dead, 0);
}

/* Match an item with this title and raise its alerts in one transaction; the count. */
static size_t raise_item(struct fx *f, const char *id, const char *title)
{
	struct fw_item *it = fw_item_new();
	struct fw_match_result mr = {0};
	size_t raised = 0;

	assert_non_null(it);
	it->id = strdup(id);
	it->title = strdup(title);
	it->link = strdup("https://example.org/x");
	it->summary = strdup("s");
	it->content = strdup("");
	assert_int_equal(fw_match_item(f->cfg->matcher, it, &mr), 0);
	assert_int_equal(fw_store_begin(f->store), 0);
	assert_int_equal(fw_alert_raise(f->store, f->cfg, &f->cfg->feeds[0], it, &mr, time(NULL),
	                                &raised, NULL, NULL),
	                 0);
	assert_int_equal(fw_store_commit(f->store), 0);
	fw_match_result_clear(&mr);
	fw_item_free(it);
	return raised;
}

static void test_raise_and_route(void **state)
{
	struct fx *f = *state;
	json_t *v[8];
	size_t n;

	start(f, 0);
	assert_int_equal(raise_item(f, "p1", "Putin speaks"), 1);
	assert_int_equal(raise_item(f, "k1", "Kim Jong Un speaks"), 1);
	assert_int_equal(raise_item(f, "x1", "Weather"), 0);
	/* the same item never alerts twice for a watchlist */
	assert_int_equal(raise_item(f, "p1", "Putin speaks"), 0);
	deliver(f);
	n = read_lines(f, "a", v, 8);
	assert_int_equal(n, 2);
	assert_string_equal(json_string_value(json_object_get(v[0], "watchlist")), "w1");
	assert_string_equal(json_string_value(json_object_get(v[1], "watchlist")), "w2");
	/* why it fired, and no credential of the feed's URL */
	assert_true(json_array_size(json_object_get(v[0], "explain")) >= 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(v[0], "feed"), "url")),
	    "https://example.org/feed");
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	/* w2 routes to b too; w1 does not */
	n = read_lines(f, "b", v, 8);
	assert_int_equal(n, 1);
	assert_string_equal(json_string_value(json_object_get(v[0], "watchlist")), "w2");
	json_decref(v[0]);
}

static void test_rate_limit_digest(void **state)
{
	struct fx *f = *state;
	json_t *v[8];
	char id[16];
	size_t n;

	start(f, 2);
	for (int i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		assert_int_equal(raise_item(f, id, "Putin again"), 1);
	}
	deliver(f);
	/* two alerts in the window, then one digest folds in the other five */
	n = read_lines(f, "a", v, 8);
	assert_int_equal(n, 2);
	assert_null(json_object_get(v[0], "digest"));
	assert_int_equal(json_integer_value(json_object_get(v[1], "digest")), 6);
	assert_int_equal(json_array_size(json_object_get(v[1], "alerts")), 6);
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	/* b had no part in it */
	assert_int_equal(count_lines(f, "b"), 0);
}

static void test_storm_notice(void **state)
{
	struct fx *f = *state;
	struct fw_alert_storm st = {0};
	struct fw_match_result mr = {0};
	struct fw_item *it = fw_item_new();
	json_t *v[4];
	size_t n;

	start(f, 0);
	it->id = strdup("k9");
	it->title = strdup("Kim Jong Un held");
	it->summary = strdup("");
	it->content = strdup("");
	assert_int_equal(fw_match_item(f->cfg->matcher, it, &mr), 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(fw_alert_storm_add(&st, f->cfg, it, &mr), 0);
	assert_int_equal(fw_store_begin(f->store), 0);
	assert_int_equal(
	    fw_alert_raise_storm(f->store, f->cfg, &f->cfg->feeds[0], &st, 5, time(NULL)), 1);
	assert_int_equal(fw_store_commit(f->store), 0);
	deliver(f);
	/* one notice, to every output the held items were routed to (w2: a and b) */
	n = read_lines(f, "a", v, 4);
	assert_int_equal(n, 1);
	assert_string_equal(json_string_value(json_object_get(v[0], "watchlist")), FW_ALERT_STORM);
	assert_non_null(strstr(
	    json_string_value(json_object_get(json_object_get(v[0], "item"), "title")), "12 more"));
	json_decref(v[0]);
	assert_int_equal(count_lines(f, "b"), 1);
	fw_alert_storm_clear(&st);
	fw_match_result_clear(&mr);
	fw_item_free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_raise_and_route, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_limit_digest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_storm_notice, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
