/* test_archive.c - the item archive (archive.c) on a real SQLite file in a fresh temporary
   directory per test: add, read back, caps, word lookup, count, prune by age and by size. */
#include <ctype.h>
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
#include <sqlite3.h>

#include "store.h"
#include "test_rmtree.h"

#define T0   1700000000
#define NONE INT64_MIN

struct fx {
	char dir[64];
	char path[128];
	struct fw_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fw-test-archive-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
	if (fw_store_open(f->path, false, &f->s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fw_store_close(f->s);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

/* What each() saw: the rows' item ids joined by spaces, and the last row's copy. */
struct seen {
	char ids[1024];
	size_t n;
	char title[8192], content[8192], cats[256], link[64];
	int64_t published, updated, seen;
	int stop_after; /* return 7 after this many rows (0: never) */
};

static int seen_cb(const struct fw_archive_row *r, void *arg)
{
	struct seen *v = arg;
	size_t len = strlen(v->ids);

	snprintf(v->ids + len, sizeof(v->ids) - len, "%s%s", len ? " " : "", r->item);
	snprintf(v->title, sizeof(v->title), "%s", r->title ? r->title : "(null)");
	snprintf(v->content, sizeof(v->content), "%s", r->content ? r->content : "(null)");
	snprintf(v->link, sizeof(v->link), "%s", r->link ? r->link : "(null)");
	v->cats[0] = 0;
	for (size_t i = 0; i < r->n_categories; i++) {
		len = strlen(v->cats);
		snprintf(v->cats + len, sizeof(v->cats) - len, "%s[%s]", i ? "," : "",
		         r->categories[i]);
	}
	v->published = r->published;
	v->updated = r->updated;
	v->seen = r->seen;
	v->n++;
	return v->stop_after && (int)v->n >= v->stop_after ? 7 : 0;
}

static void add(struct fw_store *s, const char *id, const char *title, const char *summary,
                int64_t seen)
{
	static const char *const cats[] = {"World", "Asia"};
	struct fw_archive_row r = {.feed = "world",
	                           .item = id,
	                           .title = title,
	                           .summary = summary,
	                           .link = "https://example.org/x",
	                           .categories = cats,
	                           .n_categories = 2,
	                           .published = seen - 60,
	                           .updated = NONE,
	                           .seen = seen};

	assert_int_equal(fw_store_archive_add(s, &r), 0);
}

static void fill(struct fx *f)
{
	assert_int_equal(fw_store_begin(f->s), 0);
	add(f->s, "a", "Putin arrives in Pjöngjang", "A visit to North Korea", T0);
	add(f->s, "b", "Weather report", "Rain in the north", T0 + 10);
	add(f->s, "c", "Путин и КНДР", "Северной Кореи", T0 + 20);
	assert_int_equal(fw_store_commit(f->s), 0);
}

/* FTS5's integrity check of the index (its checksum of every word of every row: a row
   taken out with other words than it went in with fails it), on a second connection. */
static void integrity(struct fx *f)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	if (sqlite3_exec(db, "INSERT INTO archive_fts (archive_fts) VALUES ('integrity-check')",
	                 NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("integrity-check: %s", msg);
	sqlite3_close(db);
}

/* The test's words: each field with ASCII letters lower-cased and ASCII punctuation made
   spaces (the daemon folds as its matcher does: backfill.c). */
static void add_words(const char *v, char **s, size_t *len)
{
	size_t n = v ? strlen(v) : 0;

	*s = realloc(*s, *len + n + 2);
	assert_non_null(*s);
	(*s)[(*len)++] = ' ';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		(*s)[(*len)++] = c >= 'A' && c <= 'Z'     ? (char)(c + 32)
		                 : c < 128 && !isalnum(c) ? ' '
		                                          : (char)c;
	}
	(*s)[*len] = 0;
}

static int words_cb(const struct fw_archive_row *r, char **out, void *arg)
{
	char *s = NULL;
	size_t len = 0;

	(void)arg;
	add_words(r->title, &s, &len);
	add_words(r->summary, &s, &len);
	add_words(r->content, &s, &len);
	add_words(r->author, &s, &len);
	for (size_t i = 0; i < r->n_categories; i++)
		add_words(r->categories[i], &s, &len);
	*out = s;
	return 0;
}

static const struct fw_store_words words = {words_cb, NULL};

/* Index every row not indexed yet; returns how many were. */
static size_t index_all(struct fx *f)
{
	size_t n = 0, total = 0;

	do {
		assert_int_equal(fw_store_archive_index(f->s, 2, &words, &n), 0);
		total += n;
	} while (n > 0);
	return total;
}

static void test_add_and_read(void **state)
{
	struct fx *f = *state;
	struct seen v = {0};
	int64_t n = -1, bytes = -1;

	fill(f);
	assert_int_equal(fw_store_archive_each(f->s, 0, NULL, seen_cb, &v), 0);
	assert_string_equal(v.ids, "a b c");
	assert_string_equal(v.title, "Путин и КНДР");
	assert_string_equal(v.cats, "[World],[Asia]");
	assert_string_equal(v.link, "https://example.org/x");
	assert_string_equal(v.content, "(null)");
	assert_true(v.published == T0 + 20 - 60);
	assert_true(v.updated == NONE);
	assert_true(v.seen == T0 + 20);
	assert_int_equal(fw_store_archive_count(f->s, 0, &n, &bytes), 0);
	assert_int_equal(n, 3);
	assert_true(bytes > 50);
	/* since: seen at or after */
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(f->s, T0 + 10, NULL, seen_cb, &v), 0);
	assert_string_equal(v.ids, "b c");
	assert_int_equal(fw_store_archive_count(f->s, T0 + 11, &n, NULL), 0);
	assert_int_equal(n, 1);
	/* a callback's non-zero return stops and is returned */
	memset(&v, 0, sizeof(v));
	v.stop_after = 1;
	assert_int_equal(fw_store_archive_each(f->s, 0, NULL, seen_cb, &v), 7);
	assert_int_equal(v.n, 1);
}

static void test_words(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *words, *ids;
	} cases[] = {
	    {"putin", "a"},
	    {"PUTIN", "a"},     /* the query's ASCII is lower-cased too */
	    {"pjöngjang", "a"}, /* the words as the callback made them */
	    {"\"Путин\"", "c"},
	    {"\"Север\"*", "c"}, /* prefixes */
	    {"north", "a b"},    /* summaries */
	    {"asia", "a b c"},   /* categories */
	    {"putin OR weather", "a b"},
	    {"north AND rain", "b"},
	    {"volcano", ""},
	};

	fill(f);
	/* not indexed yet: every row is a candidate */
	{
		struct seen v = {0};

		assert_int_equal(fw_store_archive_each(f->s, 0, "volcano", seen_cb, &v), 0);
		assert_string_equal(v.ids, "a b c");
	}
	assert_int_equal(index_all(f), 3);
	assert_int_equal(index_all(f), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen v = {0};

		assert_int_equal(fw_store_archive_each(f->s, 0, cases[i].words, seen_cb, &v), 0);
		if (strcmp(v.ids, cases[i].ids) != 0)
			fail_msg("words '%s': got '%s', want '%s'", cases[i].words, v.ids,
			         cases[i].ids);
	}
	{
		struct seen v = {0};

		assert_int_equal(fw_store_archive_each(f->s, T0 + 5, "north", seen_cb, &v), 0);
		assert_string_equal(v.ids, "b");
		assert_int_equal(fw_store_archive_each(f->s, 0, "\"unclosed", seen_cb, &v),
		                 -EINVAL);
	}
}

/* Text is cut to its caps on a UTF-8 boundary; an over-long link is left out; a missing
   key is refused. */
static void test_caps(void **state)
{
	struct fx *f = *state;
	char *content = malloc(FW_ARCHIVE_TEXT_MAX * 2), *link = malloc(FW_ARCHIVE_LINK_MAX + 10);
	struct fw_archive_row r = {
	    .feed = "world", .item = "long", .published = NONE, .updated = NONE, .seen = T0};
	struct seen v = {0};

	assert_non_null(content);
	assert_non_null(link);
	/* "é" (2 bytes) throughout, shifted by one byte: the cap falls inside a character */
	content[0] = 'x';
	for (size_t i = 1; i + 2 < FW_ARCHIVE_TEXT_MAX * 2; i += 2)
		memcpy(content + i, "\xc3\xa9", 2), content[i + 2] = 0;
	memset(link, 'l', FW_ARCHIVE_LINK_MAX + 9);
	link[FW_ARCHIVE_LINK_MAX + 9] = 0;
	r.content = content;
	r.link = link;
	assert_int_equal(fw_store_archive_add(f->s, &r), 0);
	assert_int_equal(fw_store_archive_each(f->s, 0, NULL, seen_cb, &v), 0);
	assert_int_equal(strlen(v.content), FW_ARCHIVE_TEXT_MAX - 1);
	assert_string_equal(v.link, "(null)");
	assert_string_equal(v.title, "");
	r.item = NULL;
	assert_int_equal(fw_store_archive_add(f->s, &r), -EINVAL);
	free(content);
	free(link);
}

static void test_prune(void **state)
{
	struct fx *f = *state;
	struct seen v = {0};
	int64_t gone = -1, n = 0, bytes = 0, one = 0;

	fill(f);
	assert_int_equal(index_all(f), 3);
	/* by age: seen before T0 + 10 */
	assert_int_equal(fw_store_archive_prune(f->s, T0 + 10, 0, &words, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_archive_each(f->s, 0, "putin OR weather OR asia", seen_cb, &v),
	                 0);
	assert_string_equal(v.ids, "b c"); /* the index forgot "a" too */
	/* by size: the newest rows that fit */
	assert_int_equal(fw_store_archive_count(f->s, T0 + 20, NULL, &one), 0);
	assert_int_equal(fw_store_archive_count(f->s, 0, &n, &bytes), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fw_store_archive_prune(f->s, 0, one, &words, &gone), 0);
	assert_int_equal(gone, 1);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(f->s, 0, "asia", seen_cb, &v), 0);
	assert_string_equal(v.ids, "c");
	/* a cap below the newest row empties it */
	assert_int_equal(fw_store_archive_prune(f->s, 0, 1, &words, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_archive_count(f->s, 0, &n, NULL), 0);
	assert_int_equal(n, 0);
	/* a row pruned before it was indexed leaves the index alone */
	assert_int_equal(fw_store_begin(f->s), 0);
	add(f->s, "d", "Putin again", "", T0 + 30);
	assert_int_equal(fw_store_commit(f->s), 0);
	assert_int_equal(fw_store_archive_prune(f->s, T0 + 31, 0, &words, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(index_all(f), 0);
	/* the index stays consistent with the table */
	assert_int_equal(fw_store_begin(f->s), 0);
	add(f->s, "e", "Putin once more", "", T0 + 40);
	add(f->s, "f", "Weather", "", T0 + 40);
	assert_int_equal(fw_store_commit(f->s), 0);
	assert_int_equal(index_all(f), 2);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(f->s, 0, "putin", seen_cb, &v), 0);
	assert_string_equal(v.ids, "e");
	/* FTS5's own check of an external-content index against its table */
	integrity(f);
	/* emptied, the ids start again at 1: the index's mark follows */
	assert_int_equal(fw_store_archive_prune(f->s, T0 + 100, 0, &words, &gone), 0);
	assert_int_equal(gone, 2);
	assert_int_equal(fw_store_begin(f->s), 0);
	add(f->s, "g", "Putin returns", "", T0 + 200);
	assert_int_equal(fw_store_commit(f->s), 0);
	assert_int_equal(index_all(f), 1);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(f->s, 0, "putin", seen_cb, &v), 0);
	assert_string_equal(v.ids, "g");
	integrity(f);
}

/* A rolled-back item savepoint takes its archive row and its words with it. */
static void test_savepoint(void **state)
{
	struct fx *f = *state;
	struct seen v = {0};

	assert_int_equal(fw_store_begin_lazy(f->s), 0);
	assert_int_equal(fw_store_item_begin(f->s), 0);
	add(f->s, "kept", "Putin kept", "", T0);
	assert_int_equal(fw_store_item_end(f->s, true), 0);
	assert_int_equal(fw_store_item_begin(f->s), 0);
	add(f->s, "undone", "Putin undone", "", T0);
	assert_int_equal(fw_store_item_end(f->s, false), 0);
	assert_int_equal(fw_store_commit(f->s), 0);
	assert_int_equal(index_all(f), 1);
	assert_int_equal(fw_store_archive_each(f->s, 0, "putin", seen_cb, &v), 0);
	assert_string_equal(v.ids, "kept");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_and_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_words, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_savepoint, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
