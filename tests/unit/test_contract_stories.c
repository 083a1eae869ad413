/*
 * test_contract_stories.c - the store contract, stories part (store.h, stories.c and
 * pg_stories.c), on both backends (test_contract.h): items and their stories, public ids,
 * the features kept as bytes, matches and the alert state of a story, updates due,
 * counting and pruning, what a refused item leaves, and the items added after an id. On
 * PostgreSQL only, two stores on one database: a node places items under the story lock
 * and sees what the other added, and a story update is read by one node at a time.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_contract.h"

#define T0 1718744400

/* Add an item of feed to story (0: a new story, public id sid) seen at t, features
   f[0..n) ; returns its id (the story's in *story when story is not NULL). */
static int64_t add(struct fw_store *s, int64_t in, const char *sid, const char *feed,
                   const char *item, const char *title, int64_t t, const uint32_t *f, size_t n,
                   int64_t *story)
{
	struct fw_story_item_row r = {.story = in,
	                              .feed = (char *)feed,
	                              .item = (char *)item,
	                              .title = (char *)title,
	                              .published = INT64_MIN,
	                              .seen = t,
	                              .features = f,
	                              .n_features = n};
	int64_t id = 0, st = 0;

	if (in > 0) {
		r.matched = in;
		r.score = 0.625;
	}
	assert_int_equal(fw_store_story_add_item(s, &r, sid, &id, &st), 0);
	assert_true(id > 0);
	assert_int_equal(st, in > 0 ? in : id);
	if (story)
		*story = st;
	return id;
}

/* Collects the items a reading function hands out. */
struct got {
	struct fw_story_item_row v[16];
	size_t n;
	int stop_at; /* return 7 from this call (1-based), 0 never */
};

static int got_cb(struct fw_story_item_row *r, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < 16);
	g->v[g->n++] = *r;
	memset(r, 0, sizeof(*r)); /* taken: the store clears an empty row */
	return g->stop_at && (int)g->n == g->stop_at ? 7 : 0;
}

static void got_clear(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		fw_store_story_item_clear(&g->v[i]);
	memset(g, 0, sizeof(*g));
}

static void test_add_get_find(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_story_row row;
	int64_t st, i1, i2, i3, other, id = 0;

	i1 = add(s, 0, "s-00000000000000a1", "a", "a-1", "Putin arrives in Pyongyang", T0, NULL, 0,
	         &st);
	i2 = add(s, st, "s-ignored", "b", "b-1", "Putin in Pyongyang", T0 + 60, NULL, 0, NULL);
	i3 = add(s, st, NULL, "a", "a-2", "Путин прибыл в КНДР", T0 + 120, NULL, 0, NULL);
	other = add(s, 0, "s-00000000000000b2", "b", "b-2", "Wildfires", T0 + 30, NULL, 0, NULL);
	assert_int_equal(st, i1);
	assert_true(i1 < i2 && i2 < i3 && i3 < other);

	assert_int_equal(fw_store_story_get(s, st, &row), 0);
	assert_int_equal(row.id, st);
	assert_string_equal(row.sid, "s-00000000000000a1");
	assert_string_equal(row.title, "Putin arrives in Pyongyang");
	assert_int_equal(row.first_seen, T0);
	assert_int_equal(row.last_seen, T0 + 120);
	assert_int_equal(row.n_items, 3);
	assert_int_equal(row.n_feeds, 2);
	fw_story_row_clear(&row);
	/* an item that joined a story is no story; an id that is nothing either */
	assert_int_equal(fw_store_story_get(s, i2, &row), -ENOENT);
	assert_int_equal(fw_store_story_get(s, other + 100, &row), -ENOENT);

	assert_int_equal(fw_store_story_find(s, "s-00000000000000a1", &id), 0);
	assert_int_equal(id, st);
	assert_int_equal(fw_store_story_find(s, "s-00000000000000b2", &id), 0);
	assert_int_equal(id, other);
	assert_int_equal(fw_store_story_find(s, "s-ignored", &id), -ENOENT); /* not a first */
	assert_int_equal(fw_store_story_find(s, "s-0000000000000000", &id), -ENOENT);
	fw_store_close(s);
}

static void test_items_columns(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_story_item_row r = {.feed = (char *)"b",
	                              .item = (char *)"b-1",
	                              .title = (char *)"Kim greets Putin",
	                              .link = (char *)"https://example.org/b/1",
	                              .published = T0 - 3600,
	                              .seen = T0 + 5,
	                              .score = 0.8125,
	                              .entities = (char *)"putin\nnk"};
	char *long_link = malloc(8194);
	struct got g = {.n = 0};
	int64_t st, id, story;

	assert_non_null(long_link);
	memset(long_link, 'x', 8193);
	long_link[8193] = '\0';
	add(s, 0, "s-1", "a", "a-1", "Putin arrives", T0, NULL, 0, &st);
	r.story = st;
	r.matched = st;
	assert_int_equal(fw_store_story_add_item(s, &r, NULL, &id, &story), 0);
	r.item = (char *)"b-2";
	r.title = NULL;     /* kept as "" */
	r.link = long_link; /* longer than the store keeps links: left out */
	r.published = INT64_MIN;
	assert_int_equal(fw_store_story_add_item(s, &r, NULL, &id, &story), 0);
	free(long_link);

	assert_int_equal(fw_store_story_items(s, st, got_cb, &g), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.v[0].feed, "a");
	assert_string_equal(g.v[0].item, "a-1");
	assert_null(g.v[0].link);
	assert_int_equal(g.v[0].published, INT64_MIN);
	assert_int_equal(g.v[0].matched, 0);
	assert_true(g.v[0].score == 0);
	assert_null(g.v[0].entities);
	assert_int_equal(g.v[0].story, st);
	assert_string_equal(g.v[1].item, "b-1");
	assert_string_equal(g.v[1].title, "Kim greets Putin");
	assert_string_equal(g.v[1].link, "https://example.org/b/1");
	assert_int_equal(g.v[1].published, T0 - 3600);
	assert_int_equal(g.v[1].seen, T0 + 5);
	assert_int_equal(g.v[1].matched, st);
	assert_true(g.v[1].score == 0.8125);
	assert_string_equal(g.v[1].entities, "putin\nnk");
	assert_string_equal(g.v[2].title, "");
	assert_null(g.v[2].link);
	assert_int_equal(g.v[2].published, INT64_MIN);
	assert_true(g.v[0].id < g.v[1].id && g.v[1].id < g.v[2].id);
	got_clear(&g);
	/* a callback's return stops and is returned */
	g.stop_at = 2;
	assert_int_equal(fw_store_story_items(s, st, got_cb, &g), 7);
	assert_int_equal(g.n, 2);
	got_clear(&g);
	fw_store_close(s);
}

/* The features come back byte for byte, in arrival order (seen, then id). */
static void test_load_features(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	const uint32_t f1[4] = {0x3, 0xdeadbeef, 0x00000000, 0xffffffff};
	const uint32_t f2[2] = {0x0, 0x5c00005c}; /* bytes \ and NUL */
	struct got g = {.n = 0};
	int64_t st, i1, i2, i3, i4;

	i1 = add(s, 0, "s-1", "a", "a-1", "one", T0 + 10, f1, 4, &st);
	i2 = add(s, 0, "s-2", "a", "a-2", "two", T0, f2, 2, NULL); /* seen earlier */
	i3 = add(s, st, NULL, "b", "b-1", "three", T0 + 10, NULL, 0, NULL);
	i4 = add(s, 0, "s-4", "a", "a-3", "old", T0 - 100, f2, 2, NULL);
	(void)i4;
	assert_int_equal(fw_store_story_load(s, T0, 0, got_cb, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.v[0].id, i2);
	assert_int_equal(g.v[1].id, i1);
	assert_int_equal(g.v[2].id, i3);
	assert_int_equal(g.v[1].story, st);
	assert_int_equal(g.v[2].story, st);
	assert_int_equal(g.v[0].seen, T0);
	assert_int_equal(g.v[1].seen, T0 + 10);
	assert_int_equal(g.v[1].n_features, 4);
	assert_memory_equal(g.v[1].features, f1, sizeof(f1));
	assert_int_equal(g.v[0].n_features, 2);
	assert_memory_equal(g.v[0].features, f2, sizeof(f2));
	assert_int_equal(g.v[2].n_features, 0);
	assert_null(g.v[2].features);
	got_clear(&g);
	/* at most about the newest n: from the second the n-th newest came */
	assert_int_equal(fw_store_story_load(s, T0, 2, got_cb, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.v[0].id, i1);
	assert_int_equal(g.v[1].id, i3);
	got_clear(&g);
	assert_int_equal(fw_store_story_load(s, T0, 1, got_cb, &g), 0);
	assert_int_equal(g.n, 2); /* both of the newest second */
	got_clear(&g);
	assert_int_equal(fw_store_story_load(s, T0, 3, got_cb, &g), 0);
	assert_int_equal(g.n, 3);
	got_clear(&g);
	assert_int_equal(fw_store_story_load(s, T0, 9, got_cb, &g), 0);
	assert_int_equal(g.n, 3);
	got_clear(&g);
	fw_store_close(s);
}

/* The items added after an id (and seen since a time), in id order, with their features. */
static void test_added(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	const uint32_t f[3] = {0x1, 0x11111111, 0x22222222};
	struct got g = {.n = 0};
	int64_t st, i1, i2, i3;

	i1 = add(s, 0, "s-1", "a", "a-1", "one", T0, f, 3, &st);
	i2 = add(s, st, NULL, "b", "b-1", "two", T0 - 500, f, 3, NULL);
	i3 = add(s, 0, "s-3", "b", "b-2", "three", T0 + 1, f, 2, NULL);
	assert_int_equal(fw_store_story_added(s, 0, 0, got_cb, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.v[0].id, i1);
	assert_int_equal(g.v[1].id, i2);
	assert_int_equal(g.v[2].id, i3);
	got_clear(&g);
	assert_int_equal(fw_store_story_added(s, i1, T0 - 100, got_cb, &g), 0);
	assert_int_equal(g.n, 1); /* i2 was seen before since */
	assert_int_equal(g.v[0].id, i3);
	assert_int_equal(g.v[0].story, i3);
	assert_int_equal(g.v[0].seen, T0 + 1);
	assert_int_equal(g.v[0].n_features, 2);
	assert_memory_equal(g.v[0].features, f, 2 * sizeof(f[0]));
	got_clear(&g);
	assert_int_equal(fw_store_story_added(s, i3, 0, got_cb, &g), 0);
	assert_int_equal(g.n, 0);
	/* in a transaction too (where a shared store takes its lock) */
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_story_added(s, i2, 0, got_cb, &g), 0);
	assert_int_equal(g.n, 1);
	add(s, i3, NULL, "a", "a-2", "four", T0 + 2, f, 3, NULL);
	assert_int_equal(fw_store_commit(s), 0);
	got_clear(&g);
	fw_store_close(s);
}

static void test_matches_pending(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct got g = {.n = 0};
	char *wls = NULL;
	int64_t st, i1, i2, i3;

	i1 = add(s, 0, "s-1", "a", "a-1", "one", T0, NULL, 0, &st);
	i2 = add(s, st, NULL, "b", "b-1", "two", T0 + 1, NULL, 0, NULL);
	i3 = add(s, st, NULL, "a", "a-2", "three", T0 + 2, NULL, 0, NULL);
	assert_int_equal(fw_store_story_watchlists(s, st, &wls), 0);
	assert_string_equal(wls, "");
	free(wls);
	assert_int_equal(fw_store_story_match(s, i1, "zeta", "[\"z1\"]"), 0);
	assert_int_equal(fw_store_story_match(s, i1, "Alpha", "[\"a1\"]"), 0);
	assert_int_equal(fw_store_story_match(s, i3, "Alpha", NULL), 0);
	assert_int_equal(fw_store_story_match(s, i2, "beta", "[\"b2\"]"), 0);
	assert_int_equal(fw_store_story_match(s, i1, "Alpha", "[\"again\"]"), 0); /* kept */
	assert_int_equal(fw_store_story_watchlists(s, st, &wls), 0);
	assert_string_equal(wls, "Alpha\nbeta\nzeta"); /* byte order */
	free(wls);

	assert_int_equal(fw_store_story_pending(s, st, "Alpha", 0, got_cb, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.v[0].id, i1);
	assert_string_equal(g.v[0].explain, "[\"a1\"]");
	assert_string_equal(g.v[0].feed, "a");
	assert_string_equal(g.v[0].item, "a-1");
	assert_string_equal(g.v[0].title, "one");
	assert_int_equal(g.v[0].seen, T0);
	assert_int_equal(g.v[1].id, i3);
	assert_null(g.v[1].explain);
	got_clear(&g);
	assert_int_equal(fw_store_story_pending(s, st, "Alpha", i1, got_cb, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].id, i3);
	got_clear(&g);
	assert_int_equal(fw_store_story_pending(s, st, "nobody", 0, got_cb, &g), 0);
	assert_int_equal(g.n, 0);
	fw_store_close(s);
}

static int due_cb(int64_t story, const char *watchlist, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%lld:%s;", (long long)story, watchlist);
	return strcmp(watchlist, "stop") == 0 ? 9 : 0;
}

static void test_watch_due(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_story_watch w = {.last_alert = T0, .last_item = 11, .pending = 0, .updates = 0};
	struct fw_story_watch got;
	char seen[256] = "", want[256];
	int64_t first = 0;

	assert_int_equal(fw_store_story_watch_get(s, 5, "wl", &got), -ENOENT);
	assert_int_equal(fw_store_story_next_due(s, &first), -ENOENT);
	snprintf(w.first_alert, sizeof(w.first_alert), "%032d", 7);
	assert_int_equal(fw_store_story_watch_set(s, 5, "wl", &w), 0);
	assert_int_equal(fw_store_story_watch_get(s, 5, "wl", &got), 0);
	assert_string_equal(got.first_alert, w.first_alert);
	assert_int_equal(got.last_alert, T0);
	assert_int_equal(got.last_item, 11);
	assert_int_equal(got.pending, 0);
	assert_int_equal(got.updates, 0);
	assert_int_equal(fw_store_story_watch_get(s, 5, "other", &got), -ENOENT);
	assert_int_equal(fw_store_story_next_due(s, &first), -ENOENT); /* nothing waits */

	/* replaced whole */
	w.pending = 2;
	w.updates = 3;
	w.last_item = 12;
	assert_int_equal(fw_store_story_watch_set(s, 5, "wl", &w), 0);
	assert_int_equal(fw_store_story_watch_get(s, 5, "wl", &got), 0);
	assert_int_equal(got.pending, 2);
	assert_int_equal(got.updates, 3);
	assert_int_equal(got.last_item, 12);
	w.last_alert = T0 - 50;
	w.pending = 1;
	assert_int_equal(fw_store_story_watch_set(s, 6, "wl", &w), 0);
	w.last_alert = T0 + 50;
	assert_int_equal(fw_store_story_watch_set(s, 7, "late", &w), 0);
	assert_int_equal(fw_store_story_next_due(s, &first), 0);
	assert_int_equal(first, T0 - 50);

	/* due: at or before `before`, oldest first, at most max */
	assert_int_equal(fw_store_story_due(s, T0, 10, due_cb, seen), 0);
	assert_string_equal(seen, "6:wl;5:wl;");
	seen[0] = '\0';
	assert_int_equal(fw_store_story_due(s, T0 + 100, 2, due_cb, seen), 0);
	assert_string_equal(seen, "6:wl;5:wl;");
	seen[0] = '\0';
	assert_int_equal(fw_store_story_due(s, T0 - 51, 10, due_cb, seen), 0);
	assert_string_equal(seen, "");
	/* a callback's return stops and is returned */
	w.last_alert = T0 - 60;
	assert_int_equal(fw_store_story_watch_set(s, 8, "stop", &w), 0);
	assert_int_equal(fw_store_story_due(s, T0 + 100, 10, due_cb, seen), 9);
	assert_string_equal(seen, "8:stop;");
	/* the callback may write the state it is handed (the daemon does) */
	seen[0] = '\0';
	w.pending = 0;
	assert_int_equal(fw_store_story_watch_set(s, 8, "stop", &w), 0);
	assert_int_equal(fw_store_story_due(s, T0 + 100, 10, due_cb, seen), 0);
	snprintf(want, sizeof(want), "6:wl;5:wl;7:late;");
	assert_string_equal(seen, want);
	fw_store_close(s);
}

static void test_count_prune(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_story_watch w = {.last_alert = T0, .pending = 1};
	struct got g = {.n = 0};
	int64_t n = -1, gone = -1, putin, wild, id, w2, w3;

	putin = add(s, 0, "s-1", "a", "a-1", "Putin arrives in Pyongyang", T0, NULL, 0, NULL);
	add(s, putin, NULL, "b", "b-1", "Putin in Pyongyang", T0 + 60, NULL, 0, NULL);
	assert_int_equal(fw_store_story_match(s, putin, "wl", NULL), 0);
	snprintf(w.first_alert, sizeof(w.first_alert), "x");
	assert_int_equal(fw_store_story_watch_set(s, putin, "wl", &w), 0);
	wild = add(s, 0, "s-2", "a", "a-2", "Wildfires", T0 + 3 * 86400, NULL, 0, NULL);
	assert_int_equal(fw_store_story_count(s, 0, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fw_store_story_count(s, T0 + 61, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fw_store_story_count(s, T0 + 60, &n), 0);
	assert_int_equal(n, 2);

	assert_int_equal(fw_store_story_prune(s, T0 + 86400, 0, 0, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_story_count(s, 0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fw_store_story_find(s, "s-1", &id), -ENOENT);
	assert_int_equal(fw_store_story_watch_get(s, putin, "wl", &w), -ENOENT);
	assert_int_equal(fw_store_story_pending(s, putin, "wl", 0, got_cb, &g), 0);
	assert_int_equal(g.n, 0);

	/* a story that goes on keeps its first item and its items younger than the second
	   bound */
	w2 = add(s, wild, NULL, "b", "b-2", "Wildfires, thousands flee", T0 + 3 * 86400 + 3600,
	         NULL, 0, NULL);
	w3 = add(s, wild, NULL, "a", "a-3", "Wildfires as heat returns", T0 + 4 * 86400, NULL, 0,
	         NULL);
	assert_int_equal(fw_store_story_match(s, w2, "wl", NULL), 0);
	assert_int_equal(fw_store_story_match(s, w3, "wl", NULL), 0);
	assert_int_equal(fw_store_story_prune(s, T0 + 86400, 0, T0 + 3 * 86400 + 7200, &gone), 0);
	assert_int_equal(gone, 0);
	assert_int_equal(fw_store_story_count(s, 0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fw_store_story_items(s, wild, got_cb, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.v[0].id, wild);
	assert_int_equal(g.v[1].id, w3);
	got_clear(&g);
	assert_int_equal(fw_store_story_pending(s, wild, "wl", 0, got_cb, &g), 0);
	assert_int_equal(g.n, 1); /* w2's match went with it */
	assert_int_equal(g.v[0].id, w3);
	got_clear(&g);
	/* inside a transaction too; deleted may be NULL */
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_story_prune(s, T0 + 5 * 86400, 0, 0, NULL), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_story_count(s, 0, &n), 0);
	assert_int_equal(n, 0);
	fw_store_close(s);
}

/* A prune given the cut of an earlier one reads only the stories with an item seen since:
   one quiet since then goes, one that goes on stays, and one quiet before the cut (which
   that earlier prune would have taken) is not looked at; without the cut it goes too. */
static void test_prune_since(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	int64_t n = -1, gone = -1, a, b, cs, id;

	a = add(s, 0, "s-a", "f", "a-1", "Harbour strike ends", T0, NULL, 0, NULL);
	add(s, a, NULL, "g", "a-2", "Harbour strike is over", T0 + 100, NULL, 0, NULL);
	b = add(s, 0, "s-b", "f", "b-1", "Comet seen over the Alps", T0 + 3000, NULL, 0, NULL);
	cs = add(s, 0, "s-c", "f", "c-1", "Election count begins", T0 + 3500, NULL, 0, NULL);
	add(s, cs, NULL, "g", "c-2", "Election count goes on", T0 + 9000, NULL, 0, NULL);
	assert_int_equal(fw_store_story_prune(s, T0 + 5000, T0 + 3000, 0, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_story_find(s, "s-b", &id), -ENOENT);
	assert_int_equal(fw_store_story_find(s, "s-a", &id), 0);
	assert_int_equal(id, a);
	assert_int_equal(fw_store_story_find(s, "s-c", &id), 0);
	assert_int_equal(fw_store_story_prune(s, T0 + 5000, 0, 0, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_story_find(s, "s-a", &id), -ENOENT);
	assert_int_equal(fw_store_story_count(s, 0, &n), 0);
	assert_int_equal(n, 1);
	(void)b;
	fw_store_close(s);
}

/* What the store refuses, it refuses before writing, and the transaction goes on (on
   PostgreSQL a failed statement would abort all of it). */
static void test_refused(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_story_item_row r = {.feed = (char *)"a", .item = (char *)"x", .seen = T0};
	char *big = malloc(FW_STORE_KEY_MAX + 2);
	int64_t id, st, n = 0;
	struct fw_story_watch w = {.last_alert = T0};

	assert_non_null(big);
	memset(big, 'k', FW_STORE_KEY_MAX + 1);
	big[FW_STORE_KEY_MAX + 1] = '\0';
	assert_int_equal(fw_store_begin(s), 0);
	add(s, 0, "s-1", "a", "a-1", "one", T0, NULL, 0, NULL);
	r.item = big;
	assert_int_equal(fw_store_story_add_item(s, &r, "s-2", &id, &st), -E2BIG);
	r.item = NULL;
	assert_int_equal(fw_store_story_add_item(s, &r, "s-2", &id, &st), -EINVAL);
	r.item = (char *)"x";
	r.title = big; /* longer than a title may be */
	assert_int_equal(fw_store_story_add_item(s, &r, "s-2", &id, &st), -E2BIG);
	r.title = (char *)"dup";
	/* a public id is one story's */
	assert_int_equal(fw_store_story_add_item(s, &r, "s-1", &id, &st), -EEXIST);
	assert_int_equal(fw_store_story_match(s, 1, big, NULL), -E2BIG);
	assert_int_equal(fw_store_story_watch_set(s, 1, big, &w), -E2BIG);
	assert_int_equal(fw_store_story_find(s, big, &id), -E2BIG);
	add(s, 0, "s-3", "a", "a-3", "three", T0 + 1, NULL, 0, NULL);
	assert_int_equal(fw_store_commit(s), 0);
	free(big);
	assert_int_equal(fw_store_story_count(s, 0, &n), 0);
	assert_int_equal(n, 2);
	fw_store_close(s);
}

/* ---- two nodes on one database (PostgreSQL only) */

/* A second store on the test's database that waits at most 300 ms for a lock. */
static struct fw_store *second(struct contract *c)
{
	struct fw_store *s = NULL;

	assert_int_equal(fw_store_open_timeout(c->where, false, 300, &s, c->err, sizeof(c->err)),
	                 0);
	return s;
}

/* Node a places and adds under the story lock: b can neither read what was added nor add
   until a's transaction ends; then b sees a's item, and a sees b's. */
static void test_shared_added(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	struct fw_story_item_row r = {.feed = (char *)"b", .item = (char *)"b-1", .seen = T0};
	struct got g = {.n = 0};
	int64_t ia, ib, st;

	if (!c->pg) {
		skip();
		return;
	}
	a = contract_open(c);
	b = second(c);
	assert_int_equal(fw_store_begin(a), 0);
	assert_int_equal(fw_store_story_added(a, 0, 0, got_cb, &g), 0);
	assert_int_equal(g.n, 0);
	ia = add(a, 0, "s-a", "a", "a-1", "Putin arrives in Pyongyang", T0, NULL, 0, NULL);

	assert_int_equal(fw_store_begin(b), 0);
	assert_int_equal(fw_store_story_added(b, 0, 0, got_cb, &g), -EBUSY);
	assert_int_equal(fw_store_rollback(b), 0);
	assert_int_equal(fw_store_begin(b), 0);
	assert_int_equal(fw_store_story_add_item(b, &r, "s-b", &ib, &st), -EBUSY);
	assert_int_equal(fw_store_rollback(b), 0);
	assert_int_equal(fw_store_commit(a), 0);

	assert_int_equal(fw_store_begin(b), 0);
	assert_int_equal(fw_store_story_added(b, 0, 0, got_cb, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].id, ia);
	got_clear(&g);
	ib = add(b, ia, NULL, "b", "b-1", "Putin in Pyongyang", T0 + 1, NULL, 0, NULL);
	assert_true(ib > ia);
	assert_int_equal(fw_store_commit(b), 0);

	assert_int_equal(fw_store_begin(a), 0);
	assert_int_equal(fw_store_story_added(a, ia, 0, got_cb, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].id, ib);
	assert_int_equal(g.v[0].story, ia);
	assert_int_equal(fw_store_commit(a), 0);
	got_clear(&g);
	fw_store_close(b);
	fw_store_close(a);
}

/* A story update is read by one node at a time: a holds the due story until its
   transaction, which advances the story's state, ends; then b finds nothing due. */
static void test_shared_due(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	struct fw_story_watch w = {.last_alert = T0, .last_item = 1, .pending = 2};
	char seen[256] = "";

	if (!c->pg) {
		skip();
		return;
	}
	a = contract_open(c);
	b = second(c);
	snprintf(w.first_alert, sizeof(w.first_alert), "first");
	assert_int_equal(fw_store_story_watch_set(a, 1, "wl", &w), 0);

	assert_int_equal(fw_store_begin(a), 0);
	assert_int_equal(fw_store_story_due(a, T0 + 3600, 64, due_cb, seen), 0);
	assert_string_equal(seen, "1:wl;");
	w.last_alert = T0 + 3600;
	w.pending = 0;
	w.updates = 1;
	assert_int_equal(fw_store_story_watch_set(a, 1, "wl", &w), 0);

	seen[0] = '\0';
	assert_int_equal(fw_store_begin(b), 0);
	assert_int_equal(fw_store_story_due(b, T0 + 3600, 64, due_cb, seen), -EBUSY);
	assert_int_equal(fw_store_rollback(b), 0);
	assert_int_equal(fw_store_commit(a), 0);

	assert_int_equal(fw_store_begin(b), 0);
	assert_int_equal(fw_store_story_due(b, T0 + 3600, 64, due_cb, seen), 0);
	assert_string_equal(seen, "");
	assert_int_equal(fw_store_commit(b), 0);
	fw_store_close(b);
	fw_store_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_get_find, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_items_columns, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_load_features, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_added, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_matches_pending, contract_setup,
	                                    contract_teardown),
	    cmocka_unit_test_setup_teardown(test_watch_due, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_count_prune, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_prune_since, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_refused, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_shared_added, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_shared_due, contract_setup, contract_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
