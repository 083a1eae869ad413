/*
 * test_grouper.c - stories in the daemon (grouper.c) on a real SQLite store in a temporary
 * directory: placing items, taking them back with a rolled-back poll, the index rebuilt
 * from the store, the alert rules of group = "story" (first alert, held items, the update
 * once the interval has passed), pruning, and the stored features' byte order.
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
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "config.h"
#include "grouper.h"
#include "item.h"
#include "match.h"
#include "store.h"
#include "test_rmtree.h"

#define T0 1718744400

struct fx {
	char dir[64];
	struct fw_config *cfg;
	struct fw_store *store;
	struct fw_grouper *g;
	int n_items;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct fw_diags diags = {0};
	char path[128], err[512];
	FILE *c;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fw-test-grouper-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/feedwatch.conf", f->dir);
	c = fopen(path, "w");
	if (!c)
		return -1;
	fprintf(c,
	        "state_dir = \"%s/state\";\n"
	        "story_update_interval = \"1h\";\n"
	        "feeds = ( { name = \"a\"; url = \"https://example.org/a\"; },\n"
	        "          { name = \"b\"; url = \"https://example.org/b\"; } );\n"
	        "entities = { putin = [ \"Putin\", \"Путин*\" ]; nk = [ \"North Korea\", "
	        "\"Pyongyang\", \"КНДР\" ]; };\n"
	        "watchlists = ( { name = \"story\"; match = \"@putin AND @nk\"; },\n"
	        "               { name = \"each\"; match = \"@putin AND @nk\"; group = \"item\"; } "
	        ");\n"
	        "outputs = ( { name = \"o\"; plugin = \"log\"; path = \"-\"; } );\n",
	        f->dir);
	fclose(c);
	if (fw_config_load(path, &f->cfg, &diags) != 0)
		return -1;
	fw_diags_clear(&diags);
	snprintf(path, sizeof(path), "%s/state", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/state/feedwatch.db", f->dir);
	if (fw_store_open(path, false, &f->store, err, sizeof(err)) < 0)
		return -1;
	if (fw_grouper_new(f->cfg->story_window, 0, &f->g) < 0 ||
	    fw_grouper_load(f->g, f->store, T0) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fw_grouper_free(f->g);
	fw_store_close(f->store);
	fw_config_free(f->cfg);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

/* An item of feed with title, placed (and its alerts raised when raise) at t. Returns
   the story's row id; *alerts counts the alerts raised. */
static int64_t put(struct fx *f, const char *feed, const char *title, int64_t t, bool raise,
                   size_t *alerts, struct fw_grouper_item *out)
{
	struct fw_item *it = fw_item_new();
	struct fw_match_result mr = {0};
	struct fw_grouper_item gi;
	char id[32];
	long fi = fw_config_feed_index(f->cfg, feed);
	int64_t story;

	assert_non_null(it);
	snprintf(id, sizeof(id), "%s-%d", feed, ++f->n_items);
	it->id = strdup(id);
	it->title = strdup(title);
	it->published = t;
	assert_int_equal(fw_match_item(f->cfg->matcher, it, &mr), 0);
	assert_int_equal(fw_store_begin(f->store), 0);
	assert_int_equal(fw_grouper_place(f->g, f->store, f->cfg, feed, it, &mr, t, &gi), 0);
	if (raise)
		assert_int_equal(fw_grouper_raise(f->g, f->store, f->cfg, &f->cfg->feeds[fi], it,
		                                  &mr, &gi, t, alerts, NULL),
		                 0);
	assert_int_equal(fw_store_commit(f->store), 0);
	story = gi.story;
	if (out)
		*out = gi;
	else
		fw_grouper_item_clear(&gi);
	fw_match_result_clear(&mr);
	fw_item_free(it);
	return story;
}

static void test_place_and_rows(void **state)
{
	struct fx *f = *state;
	struct fw_grouper_item gi;
	int64_t s1 = put(f, "a", "Putin arrives in Pyongyang for talks", T0, false, NULL, NULL);
	int64_t s2 =
	    put(f, "b", "Putin arrives in Pyongyang for talks with Kim", T0 + 60, false, NULL, &gi);
	int64_t s3 =
	    put(f, "b", "Wildfires spread across southern Europe", T0 + 120, false, NULL, NULL);

	assert_int_equal(s2, s1);
	assert_true(s3 != s1);
	assert_int_equal(gi.items, 2);
	assert_int_equal(gi.feeds, 2);
	assert_true(gi.place.score >= FW_STORY_JOIN);
	assert_string_equal(gi.title, "Putin arrives in Pyongyang for talks");
	fw_grouper_item_clear(&gi);
	assert_int_equal(fw_grouper_items(f->g), 3);
}

static void test_rollback(void **state)
{
	struct fx *f = *state;
	struct fw_item *it = fw_item_new();
	struct fw_match_result mr = {0};
	struct fw_grouper_item gi;
	uint64_t mark;

	put(f, "a", "Central bank raises rates by half a point", T0, false, NULL, NULL);
	it->id = strdup("x");
	it->title = strdup("Central bank raises rates by half a point again");
	assert_int_equal(fw_match_item(f->cfg->matcher, it, &mr), 0);
	mark = fw_grouper_mark(f->g);
	assert_int_equal(fw_store_begin(f->store), 0);
	assert_int_equal(fw_grouper_place(f->g, f->store, f->cfg, "b", it, &mr, T0 + 1, &gi), 0);
	assert_int_equal(fw_grouper_items(f->g), 2);
	assert_int_equal(fw_store_rollback(f->store), 0);
	fw_grouper_rollback(f->g, mark);
	assert_int_equal(fw_grouper_items(f->g), 1);
	fw_grouper_item_clear(&gi);
	/* the store and the index agree: a rebuilt index holds the same one item */
	fw_grouper_free(f->g);
	assert_int_equal(fw_grouper_new(f->cfg->story_window, 0, &f->g), 0);
	assert_int_equal(fw_grouper_load(f->g, f->store, T0 + 2), 0);
	assert_int_equal(fw_grouper_items(f->g), 1);
	fw_match_result_clear(&mr);
	fw_item_free(it);
}

static void test_survives_restart(void **state)
{
	struct fx *f = *state;
	int64_t s1 = put(f, "a", "Putin arrives in Pyongyang for talks", T0, false, NULL, NULL), s2;

	fw_grouper_free(f->g);
	/* not loaded: the first placement reads the stories in (as `once` does) */
	assert_int_equal(fw_grouper_new(f->cfg->story_window, 0, &f->g), 0);
	assert_int_equal(fw_grouper_items(f->g), 0);
	s2 = put(f, "b", "Putin in Pyongyang for talks with Kim", T0 + 20, false, NULL, NULL);
	assert_int_equal(s2, s1);
	assert_int_equal(fw_grouper_items(f->g), 2);
	/* loaded once: a load asked for again takes nothing in twice */
	assert_int_equal(fw_grouper_load(f->g, f->store, T0 + 20), 0);
	assert_int_equal(fw_grouper_items(f->g), 2);
}

/* story_memory at start: the index is rebuilt from the newest items the cap holds, not
   from every item of the window (of which it would evict most), and a story among them
   is joined as before the restart. */
static void test_restart_capped(void **state)
{
	struct fx *f = *state;
	char title[96], feed[16];
	int64_t s9 = 0;

	for (int i = 0; i < 10; i++) {
		snprintf(title, sizeof(title), "Bulletin %d about matter%d in town%d", i, i, i);
		snprintf(feed, sizeof(feed), "f%d", i);
		s9 = put(f, feed, title, T0 + i, false, NULL, NULL);
	}
	fw_grouper_free(f->g);
	/* 3 * 256 bytes: room for 4 items */
	assert_int_equal(fw_grouper_new(f->cfg->story_window, 3 * 256, &f->g), 0);
	assert_int_equal(fw_grouper_load(f->g, f->store, T0 + 20), 0);
	assert_int_equal(fw_grouper_items(f->g), 4);
	assert_int_equal(fw_grouper_evicted(f->g), 0);
	assert_int_equal(fw_grouper_oldest(f->g), T0 + 6);
	assert_int_equal(
	    put(f, "g", "Bulletin 9 about matter9 in town9", T0 + 21, false, NULL, NULL), s9);
}

/* The payloads queued for output o, oldest first. */
static size_t queued(struct fx *f, json_t **out, size_t max)
{
	struct fw_outbox_entry *e = NULL;
	size_t n = 0;

	assert_int_equal(fw_store_outbox_due(f->store, INT64_MAX, 64, NULL, 0, &e, &n), 0);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = json_loads(e[i].payload, 0, NULL);
	fw_outbox_entries_free(e, n);
	return n;
}

static void test_story_alerts(void **state)
{
	struct fx *f = *state;
	json_t *p[16] = {0};
	size_t alerts = 0, raised = 0, n;
	const char *titles[] = {"Putin arrives in Pyongyang for talks",
	                        "Putin in Pyongyang for talks with Kim",
	                        "Путин прибыл в КНДР для переговоров"};

	for (int i = 0; i < 3; i++)
		put(f, i == 1 ? "b" : "a", titles[i], T0 + i * 60, true, &alerts, NULL);
	/* watchlist "story": one alert; watchlist "each": one per item */
	assert_int_equal(alerts, 4);
	n = queued(f, p, 16);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		const char *wl = json_string_value(json_object_get(p[i], "watchlist"));
		json_t *st = json_object_get(p[i], "story");

		if (strcmp(wl, "each") == 0) {
			assert_null(st);
		} else {
			assert_true(json_is_true(json_object_get(st, "new")));
			assert_int_equal(json_integer_value(json_object_get(st, "items")), 1);
		}
		json_decref(p[i]);
	}
	/* before the interval: nothing; after it: one update listing the two held items */
	assert_int_equal(fw_store_begin(f->store), 0);
	assert_int_equal(fw_grouper_flush(f->g, f->store, f->cfg, T0 + 600, &raised), 0);
	assert_int_equal(raised, 0);
	assert_int_equal(fw_grouper_flush(f->g, f->store, f->cfg, T0 + 3600, &raised), 0);
	assert_int_equal(fw_store_commit(f->store), 0);
	assert_int_equal(raised, 1);
	n = queued(f, p, 16);
	assert_int_equal(n, 5);
	{
		json_t *st = json_object_get(p[4], "story"), *added = json_object_get(st, "added");

		assert_true(json_is_false(json_object_get(st, "new")));
		assert_int_equal(json_array_size(added), 2);
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(added, 1), "title")),
		    titles[2]);
		assert_int_equal(json_integer_value(json_object_get(st, "items")), 3);
		assert_int_equal(json_integer_value(json_object_get(st, "feeds")), 2);
	}
	for (size_t i = 0; i < n; i++)
		json_decref(p[i]);
	/* nothing waits now */
	raised = 0;
	assert_int_equal(fw_store_begin(f->store), 0);
	assert_int_equal(fw_grouper_flush(f->g, f->store, f->cfg, T0 + 9000, &raised), 0);
	assert_int_equal(fw_store_commit(f->store), 0);
	assert_int_equal(raised, 0);
}

static int count_cb(struct fw_story_item_row *r, void *arg)
{
	(void)r;
	(*(size_t *)arg)++;
	return 0;
}

static void test_prune(void **state)
{
	struct fx *f = *state;
	int64_t n = -1, gone = 0;

	int64_t wild;

	put(f, "a", "Putin arrives in Pyongyang for talks", T0, false, NULL, NULL);
	wild = put(f, "a", "Wildfires spread across southern Europe", T0 + 3 * 86400, false, NULL,
	           NULL);
	assert_int_equal(fw_store_story_count(f->store, 0, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fw_store_story_prune(f->store, T0 + 86400, 0, 0, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_story_count(f->store, 0, &n), 0);
	assert_int_equal(n, 1);
	/* a story that goes on keeps its first item (its id and title) and its items younger
	   than the second bound */
	assert_int_equal(put(f, "b", "Wildfires spread across southern Europe, thousands flee",
	                     T0 + 3 * 86400 + 3600, false, NULL, NULL),
	                 wild);
	assert_int_equal(put(f, "a", "Wildfires spread across southern Europe as heat returns",
	                     T0 + 4 * 86400, false, NULL, NULL),
	                 wild);
	assert_int_equal(
	    fw_store_story_prune(f->store, T0 + 86400, 0, T0 + 3 * 86400 + 7200, &gone), 0);
	assert_int_equal(gone, 0);
	assert_int_equal(fw_store_story_count(f->store, 0, &n), 0);
	assert_int_equal(n, 1);
	{
		size_t items = 0;

		assert_int_equal(fw_store_story_items(f->store, wild, count_cb, &items), 0);
		assert_int_equal(items, 2);
	}
}

/* The features blob is little-endian on every machine (a store shared by nodes of both
   byte orders reads the same features), and a restart reads back what was stored: the
   same features again join their item as its copy. */
static void test_features_bytes(void **state)
{
	static const unsigned char want[] = {0x05, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11,
	                                     0xd4, 0xc3, 0xb2, 0xa1, 0x7c, 0x00, 0x00, 0x80};
	struct fx *f = *state;
	struct fw_story_features pre = {
	    .h = {0x11223344u, 0xa1b2c3d4u, 0x8000007cu}, .n = 3, .names = 5};
	struct fw_match_result mr = {0};
	struct fw_grouper_item gi;
	struct fw_item *it[2] = {fw_item_new(), fw_item_new()};
	int64_t story[2];
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *q;

	for (int i = 0; i < 2; i++) {
		assert_non_null(it[i]);
		it[i]->id = strdup(i ? "y" : "x");
		it[i]->title = strdup("Anything at all");
		assert_int_equal(fw_store_begin(f->store), 0);
		assert_int_equal(fw_grouper_place_pre(f->g, f->store, f->cfg, i ? "b" : "a", it[i],
		                                      &mr, &pre, T0 + i, &gi),
		                 0);
		assert_int_equal(fw_store_commit(f->store), 0);
		story[i] = gi.story;
		fw_grouper_item_clear(&gi);
		if (i == 0) {
			fw_grouper_free(f->g);
			assert_int_equal(fw_grouper_new(f->cfg->story_window, 0, &f->g), 0);
			assert_int_equal(fw_grouper_load(f->g, f->store, T0), 0);
		}
		fw_item_free(it[i]);
	}
	assert_int_equal(story[1], story[0]);
	snprintf(path, sizeof(path), "%s/state/feedwatch.db", f->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT features FROM story_items WHERE item = 'x'",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(q, 0), sizeof(want));
	assert_memory_equal(sqlite3_column_blob(q, 0), want, sizeof(want));
	sqlite3_finalize(q);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_place_and_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_survives_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_alerts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_features_bytes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
