/* test_story.c - the story index (story.c): grouping, entities across languages, the
   window, taking items back, stories' profiles and cooling, and the labelled slice of
   tests/data/stories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fold.h"
#include "story.h"

#define T0     1718700000
#define WINDOW (48 * 3600)

struct fx {
	struct fw_fold *fold;
	struct fw_story_index *x;
	int64_t next_story, next_item;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || fw_fold_new(&f->fold) < 0 || fw_story_index_new(WINDOW, &f->x) < 0)
		return -1;
	f->next_story = 1;
	f->next_item = 1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fw_story_index_free(f->x);
	fw_fold_free(f->fold);
	free(f);
	return 0;
}

/* Place an item as the daemon does; returns its story. */
static int64_t place_at(struct fx *f, const char *title, const char *summary,
                        const char *const *ents, size_t n_ents, int64_t t,
                        struct fw_story_place *out)
{
	struct fw_story_features feat;
	struct fw_story_place p;
	int64_t story;

	assert_int_equal(
	    fw_story_features(f->fold, title, summary, NULL, ents, n_ents, &feat, NULL), 0);
	assert_int_equal(fw_story_index_find(f->x, &feat, t, &p), 0);
	story = p.story ? p.story : f->next_story++;
	assert_int_equal(fw_story_index_add(f->x, &feat, f->next_item++, story, t), 0);
	if (out)
		*out = p;
	return story;
}

static int64_t place(struct fx *f, const char *title, int64_t t)
{
	return place_at(f, title, NULL, NULL, 0, t, NULL);
}

static void test_features(void **state)
{
	struct fx *f = *state;
	struct fw_story_features a, b;
	struct fw_story_terms ta;
	const char *ents[] = {"putin", "north_korea"};

	assert_int_equal(fw_story_features(f->fold, "The Sterilisation of the Nominees", NULL, NULL,
	                                   ents, 2, &a, &ta),
	                 0);
	/* function words go, words are cut to 7 characters, entities and their pair come in */
	assert_string_equal(ta.text[0], "sterili");
	assert_string_equal(ta.text[1], "nominee");
	assert_string_equal(ta.text[2], "@north_korea");
	assert_string_equal(ta.text[3], "@putin");
	assert_string_equal(ta.text[4], "@north_korea+@putin");
	assert_int_equal(
	    fw_story_features(f->fold, "sterilization nominees", NULL, NULL, NULL, 0, &b, NULL), 0);
	assert_int_equal(a.h[0], b.h[0]);
	assert_int_equal(a.h[1], b.h[1]);
	/* Han text is cut into character pairs */
	assert_int_equal(fw_story_features(f->fold, "普京访问朝鲜", NULL, NULL, NULL, 0, &a, &ta),
	                 0);
	assert_true(a.n >= 5);
	assert_string_equal(ta.text[0], "普京");
	assert_string_equal(ta.text[1], "京访");
}

static void test_near_duplicates_group(void **state)
{
	struct fx *f = *state;
	int64_t s1 = place(f, "EBay rejects Icahn board nominees, asks investors to do same", T0);
	int64_t other = place(f, "Fed official says weak data caused by weather", T0 + 10);
	int64_t s2 =
	    place(f, "EBay rejects Carl Icahn board nominees, asks investors to do same", T0 + 60);
	int64_t s3 = place(f, "EBay rejects Icahn board nominees, asks investors to do same",
	                   T0 + 3600); /* a syndicated copy */

	assert_int_equal(s2, s1);
	assert_int_equal(s3, s1);
	assert_true(other != s1);
	assert_int_equal(fw_story_index_items(f->x), 4);
}

static void test_entities_cross_language(void **state)
{
	struct fx *f = *state;
	const char *both[] = {"putin", "north_korea"}, *putin[] = {"putin"};
	struct fw_story_place p;
	int64_t en =
	    place_at(f, "Putin arrives in Pyongyang for talks with Kim", NULL, both, 2, T0, NULL);
	int64_t ru = place_at(f, "Путин прибыл в КНДР", NULL, both, 2, T0 + 600, &p);
	int64_t de = place_at(f, "Putin in Pjöngjang eingetroffen", NULL, both, 2, T0 + 1200, NULL);
	int64_t uk = place_at(f, "Putin says Ukraine talks must reflect realities on the ground",
	                      NULL, putin, 1, T0 + 1800, NULL);

	assert_int_equal(ru, en);
	assert_true(p.score >= FW_STORY_JOIN);
	assert_int_equal(de, en);
	assert_true(uk != en); /* one shared entity is not one story */
}

static void test_unrelated_stay_apart(void **state)
{
	struct fx *f = *state;
	int64_t a = place(f, "Sbarro files for bankruptcy protection for the second time", T0);
	int64_t b = place(f, "Mt. Gox files for US bankruptcy protection", T0 + 60);
	int64_t c = place(f, "Apple unveils new iPhone at event in Cupertino", T0 + 120);

	assert_true(a != b);
	assert_true(c != a && c != b);
}

static void test_window(void **state)
{
	struct fx *f = *state;
	int64_t a = place(f, "Volcano erupts on Iceland's Reykjanes peninsula", T0);
	int64_t b = place(f, "Volcano erupts on Iceland's Reykjanes peninsula", T0 + WINDOW + 60);

	assert_true(a != b); /* the first one left the window: a new story */
	assert_int_equal(fw_story_index_items(f->x), 1);
	fw_story_index_prune(f->x, T0 + 3 * WINDOW);
	assert_int_equal(fw_story_index_items(f->x), 0);
}

static void test_pop(void **state)
{
	struct fx *f = *state;
	struct fw_story_place p;
	int64_t a = place(f, "Central bank raises interest rates by half a point", T0);
	struct fw_story_features feat;

	place(f, "Central bank raises interest rates by half a point again", T0 + 1);
	fw_story_index_pop(f->x, 1);
	assert_int_equal(fw_story_index_items(f->x), 1);
	fw_story_index_pop(f->x, 1);
	assert_int_equal(fw_story_index_items(f->x), 0);
	/* nothing left to find: the feature table was taken back too */
	assert_int_equal(fw_story_features(f->fold,
	                                   "Central bank raises interest rates by half a point",
	                                   NULL, NULL, NULL, 0, &feat, NULL),
	                 0);
	assert_int_equal(fw_story_index_find(f->x, &feat, T0 + 2, &p), 0);
	assert_int_equal(p.matched, 0);
	(void)a;
}

static void test_many_items_bounded(void **state)
{
	struct fx *f = *state;
	char title[128];
	size_t mem;

	/* 200,000 distinct items over twice the window: the window keeps about half */
	for (int i = 0; i < 200000; i++) {
		snprintf(title, sizeof(title), "Headline number %d about topic%d and thing%d", i,
		         i % 977, i % 131);
		place(f, title, T0 + (int64_t)i * 2 * WINDOW / 200000);
	}
	assert_true(fw_story_index_items(f->x) <= 100001);
	assert_true(fw_story_index_items(f->x) >= 99000);
	mem = fw_story_index_memory(f->x);
	assert_true(mem / fw_story_index_items(f->x) < 400);
}

/* A cap of items (story_memory): the oldest leave before their window ends, counted; an
   item whose twin left starts a story, one whose twin is held joins it; the memory stops
   growing; lifting the cap keeps what is held. */
static void test_cap(void **state)
{
	struct fx *f = *state;
	char title[128];
	int64_t first, later;
	size_t mem;

	fw_story_index_set_cap(f->x, 1000);
	for (int i = 0; i < 5000; i++) {
		snprintf(title, sizeof(title), "Bulletin %d on matter%d and place%d", i, i % 977,
		         i % 131);
		if (i == 0)
			first = place(f, title, T0 + i);
		else if (i == 4500)
			later = place(f, title, T0 + i);
		else
			place(f, title, T0 + i);
		assert_true(fw_story_index_items(f->x) <= 1000);
		if (i == 2000)
			mem = fw_story_index_memory(f->x);
	}
	assert_int_equal(fw_story_index_items(f->x), 1000);
	assert_int_equal(fw_story_index_evicted(f->x), 4000);
	assert_int_equal(fw_story_index_oldest(f->x), T0 + 4000);
	assert_true(fw_story_index_memory(f->x) <= mem); /* blocks are freed as they empty */
	/* all 5000 are within the window (48 h): only the cap let them go */
	assert_true(place(f, "Bulletin 0 on matter0 and place0", T0 + 5000) != first);
	assert_int_equal(place(f, "Bulletin 4500 on matter592 and place46", T0 + 5001), later);
	fw_story_index_set_cap(f->x, 0);
	place(f, "Something else entirely happened today", T0 + 5002);
	assert_int_equal(fw_story_index_items(f->x), 1001);
}

static void test_dates_are_no_features(void **state)
{
	struct fx *f = *state;
	struct fw_story_features a;
	struct fw_story_terms ta;

	/* page furniture of a day: "March 10, 2014" is no evidence of one story */
	assert_int_equal(fw_story_features(f->fold, "Stock Market News for March 10, 2014", NULL,
	                                   NULL, NULL, 0, &a, &ta),
	                 0);
	assert_int_equal(a.n, 4); /* three words and the whole title */
	assert_string_equal(ta.text[0], "stock");
	assert_string_equal(ta.text[1], "market");
	assert_string_equal(ta.text[2], "news");
	/* other numbers stay */
	assert_int_equal(fw_story_features(f->fold, "Mt. Gox faced 150000 attacks per second", NULL,
	                                   NULL, NULL, 0, &a, &ta),
	                 0);
	assert_string_equal(ta.text[3], "150000");
}

/* The first 15 rows of the labelled slice, as story_place reads them. */
static size_t slice_rows(char titles[][256], int64_t *t, size_t max)
{
	FILE *in = fopen(FW_TEST_DATA "/stories/uci-slice.tsv", "r");
	char line[2048];
	size_t n = 0;

	assert_non_null(in);
	while (n < max && fgets(line, sizeof(line), in)) {
		char *ts = strtok(line, "\t"), *pub = strtok(NULL, "\t"), *lab = strtok(NULL, "\t"),
		     *title = strtok(NULL, "\n");

		if (!ts || !pub || !lab || !title)
			continue;
		snprintf(titles[n], sizeof(titles[n]), "%s", title);
		t[n++] = strtoll(ts, NULL, 10) / 1000;
	}
	fclose(in);
	return n;
}

static void test_story_profile(void **state)
{
	struct fx *f = *state;
	char titles[15][256];
	int64_t t[15], story[15];
	struct fw_story_place p;
	struct fw_story_index *rebuilt;
	struct fw_story_features feat;

	assert_int_equal(slice_rows(titles, t, 15), 15);
	for (size_t i = 0; i < 14; i++)
		story[i] = place_at(f, titles[i], NULL, NULL, 0, t[i], NULL);
	/* "EBay rejects Icahn slate of directors" (6) and "Icahn Targets Ebay Chief Donahoe
	   After Company Rejects Board Slate" (10) are one story */
	assert_int_equal(story[9], story[5]);
	/* "EBay Rejects Icahn Board Picks As Activist Strikes Again" resembles no one item of
	   it enough, but the story's key terms (ebay, icahn, rejects, board) */
	story[14] = place_at(f, titles[14], NULL, NULL, 0, t[14], &p);
	assert_int_equal(story[14], story[5]);
	assert_true(p.score >= FW_STORY_JOIN);
	assert_true(p.matched == 6 || p.matched == 10); /* explained by an item of the story */
	assert_true(p.shared >= 2);

	/* the index rebuilt from the stored items (adds alone, as at a restart) decides alike */
	assert_int_equal(fw_story_index_new(WINDOW, &rebuilt), 0);
	for (size_t i = 0; i < 14; i++) {
		assert_int_equal(
		    fw_story_features(f->fold, titles[i], NULL, NULL, NULL, 0, &feat, NULL), 0);
		assert_int_equal(fw_story_index_add(rebuilt, &feat, (int64_t)i + 1, story[i], t[i]),
		                 0);
	}
	assert_int_equal(fw_story_features(f->fold, titles[14], NULL, NULL, NULL, 0, &feat, NULL),
	                 0);
	assert_int_equal(fw_story_index_find(rebuilt, &feat, t[14], &p), 0);
	assert_int_equal(p.story, story[5]);
	/* taking items back keeps the stories' chains whole */
	fw_story_index_pop(rebuilt, 5);
	assert_int_equal(fw_story_index_find(rebuilt, &feat, t[14], &p), 0);
	assert_true(p.story != story[5]); /* "... Rejects Board Slate" (10) is gone */
	fw_story_index_free(rebuilt);
}

static void test_cooling(void **state)
{
	struct fx *f = *state;
	const char *first = "Volcano erupts near Grindavik on Iceland's Reykjanes peninsula",
	           *loose = "Iceland volcano: lava flows toward Grindavik";
	int64_t a = place(f, first, T0);
	int64_t b = place(f, loose, T0 + 4 * 3600);
	int64_t c = place(f, first, T0 + 20 * 3600);
	int64_t d = place(f, "Central bank raises interest rates by half a point", T0 + 21 * 3600);
	int64_t e = place(f, "Central bank lifts rates half a point", T0 + 21 * 3600 + 60);

	/* the story has been quiet for 4 h: a loose likeness starts a story of its own */
	assert_true(b != a);
	/* a copy joins its original at any age in the window */
	assert_int_equal(c, a);
	/* while a story breaks, a loose likeness joins it */
	assert_int_equal(e, d);
}

static void test_no_black_hole(void **state)
{
	struct fx *f = *state;
	struct fw_story_features feat;
	struct fw_story_place p;
	char title[64];

	/* a story that holds every item naming one word (as one that took them all in would) */
	for (int i = 0; i < 60; i++) {
		snprintf(title, sizeof(title), "Ukraine q%06x z%06x", i, i * 7 + 3);
		assert_int_equal(
		    fw_story_features(f->fold, title, NULL, NULL, NULL, 0, &feat, NULL), 0);
		assert_int_equal(fw_story_index_add(f->x, &feat, i + 1, 1, T0 + i), 0);
	}
	/* that word alone does not make the next item one of it: a profile needs two shared
	   features, and a word 60 items hold is common whatever story holds them */
	assert_int_equal(
	    fw_story_features(f->fold, "Ukraine qabcdef zabcdef", NULL, NULL, NULL, 0, &feat, NULL),
	    0);
	assert_int_equal(fw_story_index_find(f->x, &feat, T0 + 61, &p), 0);
	assert_int_equal(p.story, 0);
}

/* The labelled slice: B-cubed precision of the placement against the labels. */
static void test_labelled_slice(void **state)
{
	struct fx *f = *state;
	FILE *in = fopen(FW_TEST_DATA "/stories/uci-slice.tsv", "r");
	char line[2048], labels[400][40];
	int64_t pred[400];
	size_t n = 0;
	double prec = 0, rec = 0;

	assert_non_null(in);
	while (n < 400 && fgets(line, sizeof(line), in)) {
		char *ts = strtok(line, "\t"), *pub = strtok(NULL, "\t"), *lab = strtok(NULL, "\t"),
		     *title = strtok(NULL, "\n");

		if (!ts || !pub || !lab || !title)
			continue;
		snprintf(labels[n], sizeof(labels[n]), "%s", lab);
		pred[n] = place(f, title, strtoll(ts, NULL, 10) / 1000);
		n++;
	}
	fclose(in);
	assert_true(n > 200);
	for (size_t i = 0; i < n; i++) {
		size_t same = 0, both = 0;

		size_t gold = 0;

		for (size_t j = 0; j < n; j++) {
			if (pred[j] == pred[i]) {
				same++;
				both += strcmp(labels[j], labels[i]) == 0;
			}
			gold += strcmp(labels[j], labels[i]) == 0;
		}
		prec += (double)both / (double)same;
		rec += (double)both / (double)gold;
	}
	prec /= (double)n;
	rec /= (double)n;
	print_message("B-cubed precision on the slice: %.3f, recall %.3f\n", prec, rec);
	assert_true(prec >= 0.9);
	assert_true(rec >= 0.28); /* stories' profiles: 0.24 when only single items were compared */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_near_duplicates_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_entities_cross_language, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unrelated_stay_apart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_items_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dates_are_no_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_story_profile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cooling, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_black_hole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_labelled_slice, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
