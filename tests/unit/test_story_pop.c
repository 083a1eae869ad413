/* test_story_pop.c - taking items back (fw_story_index_pop) is an exact inverse of adding
   them: after random adds, pops and further adds, every placement equals that of an index
   that only ever saw the items that stayed. */
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

#define ROWS 400

struct rows {
	char title[ROWS][256];
	int64_t t[ROWS];
	size_t n;
};

static void read_rows(struct rows *r)
{
	FILE *in = fopen(FW_TEST_DATA "/stories/uci-slice.tsv", "r");
	char line[2048];

	assert_non_null(in);
	r->n = 0;
	while (r->n < ROWS && fgets(line, sizeof(line), in)) {
		char *ts = strtok(line, "\t"), *pub = strtok(NULL, "\t"), *lab = strtok(NULL, "\t"),
		     *title = strtok(NULL, "\n");

		if (!ts || !pub || !lab || !title)
			continue;
		snprintf(r->title[r->n], sizeof(r->title[0]), "%s", title);
		r->t[r->n++] = strtoll(ts, NULL, 10) / 1000;
	}
	fclose(in);
	assert_true(r->n > 200);
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* The features of row i, naming entities now and then (so that names are compared). */
static void features(const struct fw_fold *fold, const struct rows *r, size_t i,
                     struct fw_story_features *f)
{
	static const char *const ents[] = {"putin", "north_korea", "kim"};
	size_t n = i % 7 == 0 ? 2 : i % 5 == 0 ? 1 : 0;

	assert_int_equal(
	    fw_story_features(fold, r->title[i], NULL, NULL, ents + (i % 2), n, f, NULL), 0);
}

/* One run: window and seed; the rolled-back items are other rows of the slice (so they
   share words and stories with the kept ones), placed and added, then taken back. */
static size_t run(const struct rows *r, struct fw_fold *fold, int64_t window, uint32_t seed)
{
	struct fw_story_index *a, *b;
	int64_t story = 1, item = 1, t = r->t[0];
	size_t placed = 0;

	assert_int_equal(fw_story_index_new(window, &a), 0);
	assert_int_equal(fw_story_index_new(window, &b), 0);
	for (size_t i = 0; i < r->n; i++) {
		struct fw_story_features f;
		struct fw_story_place pa, pb;
		int64_t s;

		if (rnd(&seed) % 3 == 0) {
			size_t k = 1 + rnd(&seed) % 4;

			for (size_t j = 0; j < k; j++) {
				size_t row = rnd(&seed) % r->n;

				/* the window may move on while the items to be taken back are in it */
				t += rnd(&seed) % 4 == 0 ? (int64_t)(rnd(&seed) % 1800) : 0;
				features(fold, r, row, &f);
				assert_int_equal(fw_story_index_find(a, &f, t, &pa), 0);
				assert_int_equal(fw_story_index_add(a, &f, 100000 + item++,
				                                    pa.story ? pa.story : story++,
				                                    t),
				                 0);
			}
			fw_story_index_pop(a, k);
		}
		if (r->t[i] > t)
			t = r->t[i];
		features(fold, r, i, &f);
		assert_int_equal(fw_story_index_find(a, &f, t, &pa), 0);
		assert_int_equal(fw_story_index_find(b, &f, t, &pb), 0);
		assert_int_equal(pa.story, pb.story);
		assert_int_equal(pa.matched, pb.matched);
		assert_int_equal(pa.shared, pb.shared);
		assert_memory_equal(&pa.score, &pb.score, sizeof(pa.score));
		s = pa.story ? pa.story : story++;
		assert_int_equal(fw_story_index_add(a, &f, (int64_t)i + 1, s, t), 0);
		assert_int_equal(fw_story_index_add(b, &f, (int64_t)i + 1, s, t), 0);
		assert_int_equal(fw_story_index_items(a), fw_story_index_items(b));
		placed++;
	}
	fw_story_index_free(a);
	fw_story_index_free(b);
	return placed;
}

static void test_pop_is_exact(void **state)
{
	struct rows *r = malloc(sizeof(*r));
	struct fw_fold *fold;
	size_t placed = 0;

	(void)state;
	assert_non_null(r);
	read_rows(r);
	assert_int_equal(fw_fold_new(&fold), 0);
	/* a window longer than the slice (no pruning) and short ones (pruning while the items
	   to be taken back are in the window) */
	for (uint32_t seed = 1; seed <= 6; seed++)
		placed +=
		    run(r, fold, seed <= 2 ? 48 * 3600 : (int64_t)seed * 1200, seed * 2654435761u);
	assert_true(placed >= 6 * 200);
	fw_fold_free(fold);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pop_is_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
