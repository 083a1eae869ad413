/*
 * test_contract_grouper.c - stories placed by two daemons on one store (grouper.c over
 * test_contract.h's backends): each keeps its own index, and before it places items takes
 * in what the other added (fw_grouper_sync), so that one story told by feeds polled on two
 * nodes stays one story. On PostgreSQL the two nodes are two connections to one
 * database; on SQLite (one writer per file) two indexes over one open store.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "grouper.h"
#include "item.h"
#include "match.h"
#include "test_contract.h"

#define T0 1718744400

struct node {
	struct fw_store *store;
	struct fw_grouper *g;
};

struct fx {
	struct contract *c;
	char dir[64];
	struct fw_config *cfg;
	struct node n[2];
	int n_items;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct fw_diags diags = {0};
	char path[128];
	FILE *cf;

	if (!f || contract_setup((void **)&f->c) < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fw-test-cgrouper-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/feedwatch.conf", f->dir);
	if ((cf = fopen(path, "w")) == NULL)
		return -1;
	fprintf(cf,
	        "state_dir = \"%s\";\n"
	        "story_update_interval = \"1h\";\n"
	        "feeds = ( { name = \"a\"; url = \"https://example.org/a\"; },\n"
	        "          { name = \"b\"; url = \"https://example.org/b\"; } );\n"
	        "entities = { putin = [ \"Putin\", \"Путин*\" ]; nk = [ \"North Korea\", "
	        "\"Pyongyang\", \"КНДР\" ]; };\n"
	        "watchlists = ( { name = \"story\"; match = \"@putin AND @nk\"; } );\n"
	        "outputs = ( { name = \"o\"; plugin = \"log\"; path = \"-\"; } );\n",
	        f->dir);
	fclose(cf);
	if (fw_config_load(path, &f->cfg, &diags) != 0)
		return -1;
	fw_diags_clear(&diags);
	/* two daemons: on SQLite, one store (its one writer) under two indexes */
	f->n[0].store = contract_open(f->c);
	f->n[1].store = f->n[0].store;
	/* the second node waits 300 ms for a lock the first holds */
	if (f->c->pg && fw_store_open_timeout(f->c->where, false, 300, &f->n[1].store, f->c->err,
	                                      sizeof(f->c->err)) < 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (fw_grouper_new(f->cfg->story_window, 0, &f->n[i].g) < 0 ||
		    fw_grouper_load(f->n[i].g, f->n[i].store, T0) < 0)
			return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	void *c = f->c;

	for (int i = 0; i < 2; i++)
		fw_grouper_free(f->n[i].g);
	if (f->n[1].store != f->n[0].store)
		fw_store_close(f->n[1].store);
	fw_store_close(f->n[0].store);
	fw_config_free(f->cfg);
	test_rmtree(f->dir);
	free(f);
	return contract_teardown(&c);
}

/* Node i places an item of feed with title at t in a transaction (a poll's) of its own,
   and raises its alerts when alerts is not NULL (counted there). Returns the story's row
   id. */
static int64_t put_raise(struct fx *f, int i, const char *feed, const char *title, int64_t t,
                         size_t *alerts)
{
	struct node *n = &f->n[i];
	struct fw_item *it = fw_item_new();
	struct fw_match_result mr = {0};
	struct fw_grouper_item gi;
	char id[32];
	int64_t story;

	assert_non_null(it);
	snprintf(id, sizeof(id), "%s-%d", feed, ++f->n_items);
	it->id = strdup(id);
	it->title = strdup(title);
	it->published = t;
	assert_int_equal(fw_match_item(f->cfg->matcher, it, &mr), 0);
	assert_int_equal(fw_store_begin(n->store), 0);
	fw_grouper_begin(n->g);
	assert_int_equal(fw_grouper_sync(n->g, n->store, t), 0);
	assert_int_equal(fw_grouper_place(n->g, n->store, f->cfg, feed, it, &mr, t, &gi), 0);
	if (alerts)
		assert_int_equal(
		    fw_grouper_raise(n->g, n->store, f->cfg,
		                     &f->cfg->feeds[fw_config_feed_index(f->cfg, feed)], it, &mr,
		                     &gi, t, alerts, NULL),
		    0);
	assert_int_equal(fw_store_commit(n->store), 0);
	story = gi.story;
	fw_grouper_item_clear(&gi);
	fw_match_result_clear(&mr);
	fw_item_free(it);
	return story;
}

static int64_t put(struct fx *f, int i, const char *feed, const char *title, int64_t t)
{
	return put_raise(f, i, feed, title, t, NULL);
}

/* Feed a on node 0 and feed b on node 1 tell one story: one story, whichever node places;
   an unrelated item on either is another. */
static void test_one_story_two_nodes(void **state)
{
	struct fx *f = *state;
	int64_t s1 = put(f, 0, "a", "Putin arrives in Pyongyang for talks", T0);
	int64_t s2 = put(f, 1, "b", "Putin arrives in Pyongyang for talks with Kim", T0 + 60);
	int64_t s3 = put(f, 0, "a", "Путин прибыл в КНДР для переговоров", T0 + 120);
	int64_t s4 = put(f, 1, "b", "Wildfires spread across southern Europe", T0 + 180);
	int64_t s5 =
	    put(f, 0, "a", "Wildfires spread across southern Europe, thousands flee", T0 + 240);
	struct fw_story_row row;

	assert_int_equal(s2, s1);
	assert_int_equal(s3, s1);
	assert_true(s4 != s1);
	assert_int_equal(s5, s4);
	/* each index holds every item once: its own and the other's */
	assert_int_equal(fw_grouper_items(f->n[0].g), 5);
	assert_int_equal(fw_grouper_items(f->n[1].g), 4); /* it has not placed since */
	assert_int_equal(fw_store_story_get(f->n[1].store, s1, &row), 0);
	assert_int_equal(row.n_items, 3);
	assert_int_equal(row.n_feeds, 2);
	fw_story_row_clear(&row);
}

/* A poll that is rolled back takes back the node's own items only; the other node's,
   taken in by the same poll, stay in its index (they are in the store). */
static void test_rollback_keeps_others(void **state)
{
	struct fx *f = *state;
	struct node *n = &f->n[1];
	struct fw_item *it = fw_item_new();
	struct fw_match_result mr = {0};
	struct fw_grouper_item gi;
	uint64_t mark;
	int64_t s0 = put(f, 0, "a", "Central bank raises rates by half a point", T0);

	assert_non_null(it);
	it->id = strdup("x");
	it->title = strdup("Central bank raises rates by half a point again");
	assert_int_equal(fw_match_item(f->cfg->matcher, it, &mr), 0);
	mark = fw_grouper_mark(n->g);
	assert_int_equal(fw_store_begin(n->store), 0);
	fw_grouper_begin(n->g);
	assert_int_equal(fw_grouper_place(n->g, n->store, f->cfg, "b", it, &mr, T0 + 1, &gi), 0);
	assert_int_equal(fw_grouper_items(n->g), 2);
	fw_grouper_item_clear(&gi);
	assert_int_equal(fw_store_rollback(n->store), 0);
	fw_grouper_rollback(n->g, mark);
	assert_int_equal(fw_grouper_items(n->g), 1);
	/* placed again, it joins node 0's story */
	assert_int_equal(put(f, 1, "b", "Central bank raises rates by half a point again", T0 + 2),
	                 s0);
	assert_int_equal(fw_grouper_items(n->g), 2);
	assert_int_equal(fw_grouper_items(f->n[0].g), 1);
	assert_int_equal(put(f, 0, "a", "Central bank raises rates by half a point, again", T0 + 3),
	                 s0);
	assert_int_equal(fw_grouper_items(f->n[0].g), 3);
	fw_match_result_clear(&mr);
	fw_item_free(it);
}

/* Items another node placed may wait for an update that node raises: taking them in
   makes the next flush ask the store when one is due (should that node die, this one
   raises it); taking nothing in asks nothing. */
static void test_others_items_ask_due(void **state)
{
	struct fx *f = *state;
	struct node *n = &f->n[1];
	size_t raised = 0;

	assert_true(fw_grouper_due(n->g, f->cfg, T0)); /* not known yet */
	assert_int_equal(fw_store_begin(n->store), 0);
	assert_int_equal(fw_grouper_flush(n->g, n->store, f->cfg, T0, &raised), 0);
	assert_int_equal(fw_store_commit(n->store), 0);
	assert_int_equal(raised, 0);
	assert_false(fw_grouper_due(n->g, f->cfg, T0)); /* none waits */
	put(f, 1, "b", "Putin arrives in Pyongyang for talks", T0);
	assert_false(fw_grouper_due(n->g, f->cfg, T0 + 1));
	put(f, 0, "a", "Putin arrives in Pyongyang for talks with Kim", T0 + 2);
	assert_false(fw_grouper_due(n->g, f->cfg, T0 + 3));
	put(f, 1, "b", "Wildfires spread across southern Europe", T0 + 4);
	assert_true(fw_grouper_due(n->g, f->cfg, T0 + 5));
}

/* Node i raises the story updates due at t in a transaction of its own: 0 and the count,
   or the store's error (the transaction rolled back). */
static int flush(struct fx *f, int i, int64_t t, size_t *raised)
{
	struct node *n = &f->n[i];
	int r;

	*raised = 0;
	assert_int_equal(fw_store_begin(n->store), 0);
	r = fw_grouper_flush(n->g, n->store, f->cfg, t, raised);
	if (r == 0)
		assert_int_equal(fw_store_commit(n->store), 0);
	else
		assert_int_equal(fw_store_rollback(n->store), 0);
	return r;
}

/* One story told on two nodes raises one alert for the cluster, then one update: the
   node that placed a later item holds it (the story has alerted), and of two nodes
   flushing, one raises the update; on PostgreSQL the other waits for it meanwhile (the
   story lock) and then finds nothing due. */
static void test_story_alerts_two_nodes(void **state)
{
	struct fx *f = *state;
	size_t alerts = 0, raised = 0;
	int64_t pending = 0, dead = 0;

	put_raise(f, 0, "a", "Putin arrives in Pyongyang for talks", T0, &alerts);
	assert_int_equal(alerts, 1);
	put_raise(f, 1, "b", "Putin in Pyongyang for talks with Kim", T0 + 60, &alerts);
	put_raise(f, 0, "a", "Путин прибыл в КНДР для переговоров", T0 + 120, &alerts);
	assert_int_equal(alerts, 1);
	assert_int_equal(flush(f, 1, T0 + 600, &raised), 0); /* not yet */
	assert_int_equal(raised, 0);
	if (f->c->pg) {
		struct node *n = &f->n[0];

		assert_int_equal(fw_store_begin(n->store), 0);
		assert_int_equal(fw_grouper_flush(n->g, n->store, f->cfg, T0 + 3600, &raised), 0);
		assert_int_equal(raised, 1);
		assert_int_equal(flush(f, 1, T0 + 3600, &raised), -EBUSY);
		assert_int_equal(fw_store_commit(n->store), 0);
	} else {
		assert_int_equal(flush(f, 0, T0 + 3600, &raised), 0);
		assert_int_equal(raised, 1);
	}
	assert_int_equal(flush(f, 1, T0 + 3600, &raised), 0);
	assert_int_equal(raised, 0);
	assert_int_equal(flush(f, 0, T0 + 3700, &raised), 0);
	assert_int_equal(raised, 0);
	assert_int_equal(fw_store_outbox_count(f->n[1].store, NULL, &pending, &dead), 0);
	assert_int_equal(pending, 2); /* the story's first alert and its one update */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_story_two_nodes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback_keeps_others, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_others_items_ask_due, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_alerts_two_nodes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
