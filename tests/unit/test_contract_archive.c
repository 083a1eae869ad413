/*
 * test_contract_archive.c - the store contract, archive and WebSub part, on both backends
 * (test_contract.h): the item archive (add, read back, caps, word lookup with its query
 * language and its "superset" contract, count, prune by age and by size a step at a time,
 * the last prune) and the WebSub subscription rows. The store-level cases of the former
 * test_archive.c (all of them, moved here), of test_store.c (moved here) and of
 * test_websub.c, with the same assertions; the cases of several nodes sharing one
 * database (two stores open on it) run on PostgreSQL only.
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "test_contract.h"

#define T0   1700000000
#define NONE INT64_MIN

/* What each() saw: the rows' item ids joined by spaces, and the last row's copy. */
struct seen {
	char ids[8192];
	size_t n;
	char title[8192], content[8192], cats[256], link[64];
	int64_t published, updated, seen;
	int stop_after;            /* return 7 after this many rows (0: never) */
	struct fw_store *write_to; /* write a WebSub row per archived row (another table) */
	bool savepoints;           /* ... each in an item savepoint, every other one undone */
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
	if (v->write_to) {
		char token[64];
		struct fw_store_websub w = {.token = token,
		                            .feed = r->feed,
		                            .hub = "https://hub/",
		                            .topic = "https://t/",
		                            .secret = "k",
		                            .state = "active"};

		snprintf(token, sizeof(token), "%s%s", v->savepoints ? "s" : "", r->item);
		if (v->savepoints)
			assert_int_equal(fw_store_item_begin(v->write_to), 0);
		assert_int_equal(fw_store_websub_save(v->write_to, &w), 0);
		if (v->savepoints)
			assert_int_equal(fw_store_item_end(v->write_to, v->n % 2 == 1), 0);
	}
	return v->stop_after && (int)v->n >= v->stop_after ? 7 : 0;
}

static void add_to(struct fw_store *s, const char *feed, const char *id, const char *title,
                   const char *summary, int64_t seen)
{
	static const char *const cats[] = {"World", "Asia"};
	struct fw_archive_row r = {.feed = feed,
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

static void add(struct fw_store *s, const char *id, const char *title, const char *summary,
                int64_t seen)
{
	add_to(s, "world", id, title, summary, seen);
}

static void fill(struct fw_store *s)
{
	assert_int_equal(fw_store_begin(s), 0);
	add(s, "a", "Putin arrives in Pjöngjang", "A visit to North Korea", T0);
	add(s, "b", "Weather report", "Rain in the north", T0 + 10);
	add(s, "c", "Путин и КНДР", "Северной Кореи", T0 + 20);
	assert_int_equal(fw_store_commit(s), 0);
}

/* SQLite only: FTS5's integrity check of the index (its checksum of every word of every
   row: a row taken out with other words than it went in with fails it). PostgreSQL keeps
   a row's words in the row itself: nothing to check. */
static void integrity(struct contract *c)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	if (c->pg)
		return;
	assert_int_equal(sqlite3_open(c->where, &db), SQLITE_OK);
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
	int *fail_on = arg;

	if (fail_on && *fail_on > 0 && --*fail_on == 0)
		return -ENOMEM;
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

/* Index every row not indexed yet, two at a time; returns how many were. */
static size_t index_all(struct fw_store *s)
{
	size_t n = 0, total = 0;

	do {
		assert_int_equal(fw_store_archive_index(s, 2, &words, &n), 0);
		total += n;
	} while (n > 0);
	return total;
}

/* The ids the words query finds (since 0), or fails the test. */
static void expect(struct fw_store *s, const char *q, const char *ids)
{
	struct seen v = {0};
	int rc = fw_store_archive_each(s, 0, q, seen_cb, &v);

	if (rc != 0)
		fail_msg("words '%s': %d (%s)", q, rc, fw_store_error(s));
	if (strcmp(v.ids, ids) != 0)
		fail_msg("words '%s': got '%s', want '%s'", q, v.ids, ids);
}

static void test_add_and_read(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct seen v = {0};
	int64_t n = -1, bytes = -1;

	fill(s);
	assert_int_equal(fw_store_archive_each(s, 0, NULL, seen_cb, &v), 0);
	assert_string_equal(v.ids, "a b c");
	assert_string_equal(v.title, "Путин и КНДР");
	assert_string_equal(v.cats, "[World],[Asia]");
	assert_string_equal(v.link, "https://example.org/x");
	assert_string_equal(v.content, "(null)");
	assert_true(v.published == T0 + 20 - 60);
	assert_true(v.updated == NONE);
	assert_true(v.seen == T0 + 20);
	assert_int_equal(fw_store_archive_count(s, 0, &n, &bytes), 0);
	assert_int_equal(n, 3);
	assert_true(bytes > 50);
	/* since: seen at or after */
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(s, T0 + 10, NULL, seen_cb, &v), 0);
	assert_string_equal(v.ids, "b c");
	assert_int_equal(fw_store_archive_count(s, T0 + 11, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fw_store_archive_count(s, T0 + 21, &n, &bytes), 0);
	assert_int_equal(n, 0);
	assert_int_equal(bytes, 0);
	/* a callback's non-zero return stops and is returned */
	memset(&v, 0, sizeof(v));
	v.stop_after = 1;
	assert_int_equal(fw_store_archive_each(s, 0, NULL, seen_cb, &v), 7);
	assert_int_equal(v.n, 1);
	fw_store_close(s);
}

/* The bytes a row counts: its text as kept, and its item id. A category with a newline
   becomes one with a space; one that does not fit in FW_ARCHIVE_CATEGORIES_MAX is left
   out whole; "" for a title is kept as "". */
static void test_bytes_and_categories(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	char big[FW_ARCHIVE_CATEGORIES_MAX];
	const char *cats[] = {"one\ntwo", "", big, "three"};
	struct fw_archive_row r = {.feed = "f",
	                           .item = "id1",
	                           .title = "héllo",
	                           .categories = cats,
	                           .n_categories = 4,
	                           .published = NONE,
	                           .updated = T0,
	                           .seen = T0};
	struct seen v = {0};
	int64_t n = 0, bytes = 0;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(fw_store_archive_add(s, &r), 0);
	assert_int_equal(fw_store_archive_count(s, 0, &n, &bytes), 0);
	assert_int_equal(n, 1);
	/* "id1" 3, "héllo" 6, "one two\nthree" 13 */
	assert_int_equal(bytes, 3 + 6 + 13);
	assert_int_equal(fw_store_archive_each(s, 0, NULL, seen_cb, &v), 0);
	assert_string_equal(v.cats, "[one two],[three]");
	assert_true(v.published == NONE);
	assert_true(v.updated == T0);
	assert_string_equal(v.link, "(null)");
	r.item = "id2";
	r.title = NULL;
	r.n_categories = 0;
	assert_int_equal(fw_store_archive_add(s, &r), 0);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(s, 0, NULL, seen_cb, &v), 0);
	assert_string_equal(v.ids, "id1 id2");
	assert_string_equal(v.title, "");
	assert_string_equal(v.cats, "");
	fw_store_close(s);
}

static void test_words(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	static const struct {
		const char *words, *ids;
	} cases[] = {
	    {"putin", "a"},
	    {"PUTIN", "a"},     /* the query's ASCII is lower-cased too */
	    {"pjöngjang", "a"}, /* the words as the callback made them */
	    {"\"Путин\"", "c"},
	    {"\"путин\"", ""},   /* beyond ASCII, the caller folds: not the store */
	    {"\"Север\"*", "c"}, /* prefixes */
	    {"north", "a b"},    /* summaries */
	    {"asia", "a b c"},   /* categories */
	    {"putin OR weather", "a b"},
	    {"north AND rain", "b"},
	    {"volcano", ""},
	};

	fill(s);
	/* not indexed yet: every row is a candidate */
	expect(s, "volcano", "a b c");
	assert_int_equal(index_all(s), 3);
	assert_int_equal(index_all(s), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect(s, cases[i].words, cases[i].ids);
	{
		struct seen v = {0};

		assert_int_equal(fw_store_archive_each(s, T0 + 5, "north", seen_cb, &v), 0);
		assert_string_equal(v.ids, "b");
		assert_int_equal(fw_store_archive_each(s, 0, "\"unclosed", seen_cb, &v), -EINVAL);
	}
	fw_store_close(s);
}

/* The query language as the matcher writes it (match.h: `"w" AND ("x" OR "y"*)`) and as
   FTS5 reads it: barewords, implicit AND, NOT, parentheses, an empty string; what it
   refuses (phrases, NEAR, column filters, syntax errors) is -EINVAL, whatever the words
   hold: a word is a word, never an operator. */
static void test_query_language(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	static const struct {
		const char *words, *ids;
	} cases[] = {
	    {"(\"putin\" OR (\"rain\" AND \"north\")) AND \"asia\"", "a b"},
	    {"\"put\"*", "a"},
	    {"\"put\" *", "a"},
	    {"put*", "a"},
	    {"\"pu\"* AND \"pj\"*", "a"},
	    {"putin north", "a"}, /* implicit AND */
	    {"putin weather", ""},
	    {"north NOT rain", "a"},
	    {"asia NOT putin NOT rain", "c"},
	    {"rain NOT north OR putin", "a"},
	    {"x putin NOT rain", ""},
	    {"or", ""}, /* lower case: a word */
	    {"NEAR", ""},
	    {"\"OR\"", ""},
	    {"\"\"", ""}, /* an empty string names nothing ... */
	    {"\"...\"", ""},
	    {"putin \"\"", "a"},    /* ... and is left out of an implicit AND */
	    {"putin OR \"\"", "a"}, /* ... is no alternative */
	    {"putin AND \"\"", ""}, /* ... and fails an AND */
	    {"putin NOT \"...\"", "a"},
	    {"\"\" NOT putin", ""},
	    {"\"put:*\"", ""}, /* the word "put": no prefix */
	    {"\"put'\"", ""},  /* quotes and backslashes are separators */
	    {"\"put\\\"", ""},
	    {"\"putin&\"", "a"}, /* "putin" */
	    {"\"!putin\"", "a"},
	    {"\"put\"\"\"", ""},  /* the word put"": put */
	    {"NEAR(putin)", "a"}, /* NEAR of one word is the word */
	    {"NEAR(putin, 5) north", "a"},
	    {"NEAR(\"\" putin \"...\")", "a"},
	    {"rain NEAR(\"\")", "b"},
	};
	static const char *const refused[] = {
	    "",
	    "   ",
	    "putin AND",
	    "AND",
	    "putin OR",
	    "()",
	    "(putin) x",
	    "putin (x)",
	    "a-b",
	    "putin:",
	    "x_y",
	    "\"rain north\"",
	    "\"a'b\"",
	    "NEAR(a b)",
	    "put**",
	    "*",
	    "^putin",
	    "a + b",
	    "{words}: a",
	    "{nope}: a",
	    "words : putin",
	    "putin AND OR",
	    "\"a\"\"b\"",
	    "putin)",
	    "(putin",
	    "a,b",
	};

	fill(s);
	assert_int_equal(index_all(s), 3);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect(s, cases[i].words, cases[i].ids);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct seen v = {0};
		int rc = fw_store_archive_each(s, 0, refused[i], seen_cb, &v);

		if (rc != -EINVAL)
			fail_msg("words '%s': %d, want -EINVAL", refused[i], rc);
	}
	/* a refused query leaves the store usable, inside a transaction too */
	assert_int_equal(fw_store_begin(s), 0);
	{
		struct seen v = {0};

		assert_int_equal(fw_store_archive_each(s, 0, "a-b", seen_cb, &v), -EINVAL);
	}
	expect(s, "putin", "a");
	assert_int_equal(fw_store_commit(s), 0);
	fw_store_close(s);
}

/* Words of other scripts: Cyrillic and CJK, exact and by prefix, byte for byte; a word
   longer than any index keeps whole. */
static void test_words_other_scripts(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	char *longw = malloc(3001), *q = malloc(3010);

	assert_non_null(longw);
	assert_non_null(q);
	memset(longw, 'a', 3000);
	longw[3000] = 0;
	assert_int_equal(fw_store_begin(s), 0);
	add(s, "jp", "東京 大阪", "地震", T0);
	add(s, "ru", "Москва", "северный ветер", T0 + 1);
	add(s, "zh", "北京欢迎你", "", T0 + 2);
	add(s, "long", "", longw, T0 + 3); /* the summary: a title is cut shorter */
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(index_all(s), 4);
	expect(s, "\"東京\"", "jp");
	expect(s, "\"東\"*", "jp");
	expect(s, "\"東\"", "");
	expect(s, "\"地震\" AND \"大阪\"", "jp");
	expect(s, "\"北京\"*", "zh");
	expect(s, "\"北京欢迎你\"", "zh");
	expect(s, "\"москва\"", "");
	expect(s, "\"Москва\" OR \"地震\"", "jp ru");
	expect(s, "\"север\"* AND \"ветер\"", "ru");
	expect(s, "\"северный\"*", "ru");
	expect(s, "север*", "ru");
	snprintf(q, 3010, "\"%s\"", longw);
	expect(s, q, "long");
	snprintf(q, 3010, "\"%.2500s\"*", longw);
	expect(s, q, "long");
	snprintf(q, 3010, "\"%.100s\"", longw);
	expect(s, q, "");
	expect(s, "\"aaa\"*", "long");
	free(longw);
	free(q);
	fw_store_close(s);
}

/* Text is cut to its caps on a UTF-8 boundary; an over-long link is left out; a missing
   or over-long key is refused. */
static void test_caps(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	char *content = malloc(FW_ARCHIVE_TEXT_MAX * 2), *link = malloc(FW_ARCHIVE_LINK_MAX + 10);
	char *key = malloc(FW_STORE_KEY_MAX + 2);
	struct fw_archive_row r = {
	    .feed = "world", .item = "long", .published = NONE, .updated = NONE, .seen = T0};
	struct seen v = {0};
	int64_t n = -1;

	assert_non_null(content);
	assert_non_null(link);
	assert_non_null(key);
	/* "é" (2 bytes) throughout, shifted by one byte: the cap falls inside a character */
	content[0] = 'x';
	for (size_t i = 1; i + 2 < FW_ARCHIVE_TEXT_MAX * 2; i += 2)
		memcpy(content + i, "\xc3\xa9", 2), content[i + 2] = 0;
	memset(link, 'l', FW_ARCHIVE_LINK_MAX + 9);
	link[FW_ARCHIVE_LINK_MAX + 9] = 0;
	r.content = content;
	r.link = link;
	assert_int_equal(fw_store_archive_add(s, &r), 0);
	assert_int_equal(fw_store_archive_each(s, 0, NULL, seen_cb, &v), 0);
	assert_int_equal(strlen(v.content), FW_ARCHIVE_TEXT_MAX - 1);
	assert_string_equal(v.link, "(null)");
	assert_string_equal(v.title, "");
	r.item = NULL;
	assert_int_equal(fw_store_archive_add(s, &r), -EINVAL);
	memset(key, 'k', FW_STORE_KEY_MAX + 1);
	key[FW_STORE_KEY_MAX + 1] = 0;
	r.item = key;
	assert_int_equal(fw_store_archive_add(s, &r), -E2BIG);
	r.item = "ok";
	r.feed = key;
	assert_int_equal(fw_store_archive_add(s, &r), -E2BIG);
	/* refused inside a transaction: nothing written, the transaction goes on */
	assert_int_equal(fw_store_begin(s), 0);
	r.feed = NULL;
	assert_int_equal(fw_store_archive_add(s, &r), -EINVAL);
	r.feed = "world";
	assert_int_equal(fw_store_archive_add(s, &r), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_archive_count(s, 0, &n, NULL), 0);
	assert_int_equal(n, 2);
	/* a words query longer than the store takes */
	{
		char *big = malloc(FW_STORE_TEXT_MAX + 2);

		assert_non_null(big);
		memset(big, 'w', FW_STORE_TEXT_MAX + 1);
		big[FW_STORE_TEXT_MAX + 1] = 0;
		assert_int_equal(fw_store_archive_each(s, 0, big, seen_cb, &v), -E2BIG);
		free(big);
	}
	free(content);
	free(link);
	free(key);
	fw_store_close(s);
}

static void test_prune(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct seen v = {0};
	int64_t gone = -1, n = 0, bytes = 0, one = 0, when = -1;

	assert_int_equal(fw_store_archive_last_prune(s, &when), 0);
	assert_int_equal(when, 0);
	fill(s);
	assert_int_equal(index_all(s), 3);
	/* by age: seen before T0 + 10 */
	assert_int_equal(fw_store_archive_prune(s, T0 + 10, 0, &words, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_archive_last_prune(s, &when), 0);
	assert_true(when >= (int64_t)time(NULL) - 60 && when <= (int64_t)time(NULL) + 60);
	assert_int_equal(fw_store_archive_each(s, 0, "putin OR weather OR asia", seen_cb, &v), 0);
	assert_string_equal(v.ids, "b c"); /* the index forgot "a" too */
	/* by size: the newest rows that fit */
	assert_int_equal(fw_store_archive_count(s, T0 + 20, NULL, &one), 0);
	assert_int_equal(fw_store_archive_count(s, 0, &n, &bytes), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fw_store_archive_prune(s, 0, one, &words, &gone), 0);
	assert_int_equal(gone, 1);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(s, 0, "asia", seen_cb, &v), 0);
	assert_string_equal(v.ids, "c");
	/* a cap below the newest row empties it */
	assert_int_equal(fw_store_archive_prune(s, 0, 1, &words, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_archive_count(s, 0, &n, NULL), 0);
	assert_int_equal(n, 0);
	/* a row pruned before it was indexed leaves the index alone */
	assert_int_equal(fw_store_begin(s), 0);
	add(s, "d", "Putin again", "", T0 + 30);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_archive_prune(s, T0 + 31, 0, &words, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(index_all(s), 0);
	/* the index stays consistent with the table */
	assert_int_equal(fw_store_begin(s), 0);
	add(s, "e", "Putin once more", "", T0 + 40);
	add(s, "f", "Weather", "", T0 + 40);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(index_all(s), 2);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(s, 0, "putin", seen_cb, &v), 0);
	assert_string_equal(v.ids, "e");
	integrity(c);
	/* emptied, the ids may start again: the index follows */
	assert_int_equal(fw_store_archive_prune(s, T0 + 100, 0, &words, &gone), 0);
	assert_int_equal(gone, 2);
	assert_int_equal(fw_store_begin(s), 0);
	add(s, "g", "Putin returns", "", T0 + 200);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(index_all(s), 1);
	memset(&v, 0, sizeof(v));
	assert_int_equal(fw_store_archive_each(s, 0, "putin", seen_cb, &v), 0);
	assert_string_equal(v.ids, "g");
	integrity(c);
	fw_store_close(s);
}

/* The prune a step at a time: each step reads or deletes at most max_rows rows, the phases
   follow each other (age, the size cap walked back, the cut), the last step records the
   prune; inside an open transaction the steps are the caller's to commit, or to undo. */
static void test_prune_steps(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_store_archive_pruning p = {.before = T0 + 3, .max_bytes = 0};
	int64_t n = 0, bytes = 0, row = 0, when = -1;
	int steps = 0;
	bool done = false;
	char id[16];

	assert_int_equal(fw_store_begin(s), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "i%d", i);
		add(s, id, "Same size", "", T0 + i); /* "iN": every row the same bytes */
	}
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(index_all(s), 10);
	assert_int_equal(fw_store_archive_count(s, T0 + 9, NULL, &row), 0);
	/* by age (3 rows) then keep the 4 newest by size: 6 gone, in steps of 2 rows */
	p.max_bytes = 4 * row;
	while (!done) {
		assert_int_equal(fw_store_archive_prune_step(s, &p, 2, &words, &done), 0);
		assert_true(++steps < 50);
		if (!done) {
			assert_int_equal(fw_store_archive_last_prune(s, &when), 0);
			assert_int_equal(when, 0);
		}
	}
	assert_true(steps >= 4);
	assert_int_equal(p.deleted, 6);
	assert_int_equal(p.phase, 3);
	assert_int_equal(fw_store_archive_count(s, 0, &n, &bytes), 0);
	assert_int_equal(n, 4);
	assert_int_equal(bytes, 4 * row);
	expect(s, "same", "i6 i7 i8 i9");
	assert_int_equal(fw_store_archive_last_prune(s, &when), 0);
	assert_true(when > 0);
	/* inside a transaction the caller rolls back: nothing gone */
	memset(&p, 0, sizeof(p));
	p.before = T0 + 100;
	done = false;
	assert_int_equal(fw_store_begin(s), 0);
	while (!done)
		assert_int_equal(fw_store_archive_prune_step(s, &p, 3, &words, &done), 0);
	assert_int_equal(p.deleted, 4);
	assert_int_equal(fw_store_archive_count(s, 0, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fw_store_rollback(s), 0);
	assert_int_equal(fw_store_archive_count(s, 0, &n, NULL), 0);
	assert_int_equal(n, 4);
	expect(s, "same", "i6 i7 i8 i9");
	integrity(c);
	fw_store_close(s);
}

/* A rolled-back item savepoint takes its archive row and its words with it. */
static void test_savepoint(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct seen v = {0};

	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_item_begin(s), 0);
	add(s, "kept", "Putin kept", "", T0);
	assert_int_equal(fw_store_item_end(s, true), 0);
	assert_int_equal(fw_store_item_begin(s), 0);
	add(s, "undone", "Putin undone", "", T0);
	assert_int_equal(fw_store_item_end(s, false), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(index_all(s), 1);
	assert_int_equal(fw_store_archive_each(s, 0, "putin", seen_cb, &v), 0);
	assert_string_equal(v.ids, "kept");
	fw_store_close(s);
}

/* Rows added in a transaction (the PostgreSQL store sends them many to a statement, pg_int.h)
   are there for every read in it, in the order they came, across polls of one grouped
   transaction and past a batch; an item's or a poll's rollback takes back only what came
   after its savepoint, with marks and other statements between the rows; a rollback of
   the whole takes back all. */
static void test_rows_of_a_transaction(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct seen v = {0};
	char id[16], want[8192] = "p1a p1b p2a";
	int64_t n = -1;

	assert_int_equal(fw_store_begin_lazy(s), 0);
	assert_int_equal(fw_store_poll_begin(s), 0);
	add(s, "p1a", "Putin one", "", T0);
	assert_true(fw_store_item_mark(s, "world", "p1a", 1, T0) > 0);
	add(s, "p1b", "Putin two", "", T0);
	assert_int_equal(fw_store_archive_count(s, 0, &n, NULL), 0);
	assert_int_equal(n, 2); /* a read in the transaction sees them */
	assert_int_equal(fw_store_poll_commit(s), 0);
	/* a poll: one row kept, one undone in its item's savepoint, one after it */
	assert_int_equal(fw_store_poll_begin(s), 0);
	add(s, "p2a", "Putin three", "", T0 + 1);
	assert_int_equal(fw_store_item_begin(s), 0);
	add(s, "p2i", "Putin undone", "", T0 + 1);
	assert_int_equal(fw_store_item_end(s, false), 0);
	assert_true(fw_store_item_mark(s, "world", "p2b", 2, T0 + 1) > 0);
	add(s, "p2b", "Putin four", "", T0 + 1);
	assert_int_equal(fw_store_poll_commit(s), 0);
	/* a poll undone: its rows go, the earlier polls' stay */
	assert_int_equal(fw_store_poll_begin(s), 0);
	add(s, "p3a", "Putin gone", "", T0 + 2);
	assert_true(fw_store_item_mark(s, "world", "p3a", 3, T0 + 2) > 0);
	add(s, "p3b", "Putin gone too", "", T0 + 2);
	assert_int_equal(fw_store_poll_rollback(s), 0);
	/* a poll of 300 rows, marks between them: more than one statement's worth */
	strcat(want, " p2b");
	assert_int_equal(fw_store_poll_begin(s), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "r%03d", i);
		add(s, id, "Putin many", "", T0 + 3);
		assert_true(fw_store_item_mark(s, "world", id, 100 + (uint64_t)i, T0 + 3) > 0);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), " %s", id);
	}
	assert_int_equal(fw_store_poll_commit(s), 0);
	assert_int_equal(fw_store_commit(s), 0);
	assert_int_equal(fw_store_archive_each(s, 0, NULL, seen_cb, &v), 0);
	assert_string_equal(v.ids, want);
	/* a transaction rolled back whole keeps none of its rows */
	assert_int_equal(fw_store_begin(s), 0);
	add(s, "never", "Putin never", "", T0 + 4);
	assert_int_equal(fw_store_rollback(s), 0);
	/* outside a transaction, a row is there at once */
	add(s, "solo", "Putin solo", "", T0 + 5);
	assert_int_equal(fw_store_archive_count(s, 0, &n, NULL), 0);
	assert_int_equal(n, 304 + 1);
	fw_store_close(s);
}

/* The index a batch at a time: oldest first, at most max rows; the rows past it stay
   candidates of every query; inside an open transaction, the caller's to keep or undo; a
   words callback that fails indexes nothing of its batch. */
static void test_index_batches(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	int fail_on = 2;
	struct fw_store_words failing = {words_cb, &fail_on};
	size_t n = 9;

	fill(s);
	assert_int_equal(fw_store_archive_index(s, 0, &words, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fw_store_archive_index(s, 2, &failing, &n), -ENOMEM);
	assert_int_equal(n, 0);
	expect(s, "volcano", "a b c");
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_archive_index(s, 2, &words, &n), 0);
	assert_int_equal(n, 2);
	expect(s, "volcano", "c");
	assert_int_equal(fw_store_rollback(s), 0);
	expect(s, "volcano", "a b c");
	assert_int_equal(fw_store_archive_index(s, 2, &words, &n), 0);
	assert_int_equal(n, 2);
	expect(s, "volcano", "c"); /* the oldest two are indexed: the third is a candidate */
	expect(s, "weather", "b c");
	assert_int_equal(fw_store_archive_index(s, 2, &words, &n), 0);
	assert_int_equal(n, 1);
	expect(s, "volcano", "");
	assert_int_equal(fw_store_archive_index(s, 2, &words, &n), 0);
	assert_int_equal(n, 0);
	fw_store_close(s);
}

static int count_cb(const struct fw_store_websub *w, void *arg)
{
	(void)w;
	++*(int *)arg;
	return 0;
}

/* Many rows, read back in order in one walk whose callback writes to another table of the
   store, with and without a transaction open. */
static void test_each_many(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct seen v = {0};
	char id[16], want[8192] = "";
	size_t len = 0;
	int rows = 0, subs = 0;

	assert_int_equal(fw_store_begin(s), 0);
	for (int i = 0; i < 700; i++) {
		snprintf(id, sizeof(id), "%d", i);
		add(s, id, i % 7 ? "Weather" : "Putin", "", T0 + i);
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%d", i ? " " : "", i);
	}
	assert_int_equal(fw_store_commit(s), 0);
	v.write_to = s;
	assert_int_equal(fw_store_archive_each(s, 0, NULL, seen_cb, &v), 0);
	assert_string_equal(v.ids, want);
	assert_int_equal(fw_store_websub_each(s, count_cb, &subs), 0);
	assert_int_equal(subs, 700);
	/* inside a transaction, each write in a savepoint, every other one rolled back (as the
	   backfill does with an alert the store refuses) */
	memset(&v, 0, sizeof(v));
	v.write_to = s;
	v.savepoints = true;
	assert_int_equal(index_all(s) > 0, 1);
	assert_int_equal(fw_store_begin(s), 0);
	assert_int_equal(fw_store_archive_each(s, T0 + 350, "putin", seen_cb, &v), 0);
	assert_int_equal(fw_store_commit(s), 0);
	for (int i = 350; i < 700; i++)
		rows += i % 7 == 0;
	assert_int_equal(v.n, rows);
	assert_true(strncmp(v.ids, "350 357 364", 11) == 0);
	subs = 0;
	assert_int_equal(fw_store_websub_each(s, count_cb, &subs), 0);
	assert_int_equal(subs, 700 + (rows + 1) / 2);
	fw_store_close(s);
}

/* ---- several nodes on one database (PostgreSQL only) */

/* Two nodes index at once: a row another node is indexing is skipped, not waited for,
   not indexed twice; a node that rolls back leaves its rows to the next batch. */
static void test_index_two_nodes(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	size_t n = 0;
	char id[16];

	if (!c->pg)
		skip();
	a = contract_open(c);
	b = contract_open(c);
	assert_int_equal(fw_store_begin(a), 0);
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		add(a, id, "Putin", "", T0 + i);
	}
	assert_int_equal(fw_store_commit(a), 0);
	assert_int_equal(fw_store_begin(a), 0);
	assert_int_equal(fw_store_archive_index(a, 2, &words, &n), 0);
	assert_int_equal(n, 2); /* r0 r1, held until a commits */
	assert_int_equal(fw_store_archive_index(b, 3, &words, &n), 0);
	assert_int_equal(n, 3); /* r2 r3 r4 */
	assert_int_equal(fw_store_archive_index(b, 3, &words, &n), 0);
	assert_int_equal(n, 1); /* r5 */
	assert_int_equal(fw_store_archive_index(b, 3, &words, &n), 0);
	assert_int_equal(n, 0);
	expect(b, "volcano", "r0 r1"); /* not indexed as b sees it */
	assert_int_equal(fw_store_rollback(a), 0);
	expect(b, "volcano", "r0 r1");
	assert_int_equal(fw_store_archive_index(b, 10, &words, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fw_store_archive_index(a, 10, &words, &n), 0);
	assert_int_equal(n, 0);
	expect(a, "volcano", "");
	expect(a, "putin", "r0 r1 r2 r3 r4 r5");
	fw_store_close(a);
	fw_store_close(b);
}

/* One node's archive is every node's: rows another node added are read, counted and
   pruned by this one. */
static void test_shared_archive(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	int64_t n = 0, gone = 0, when = 0;

	if (!c->pg)
		skip();
	a = contract_open(c);
	b = contract_open(c);
	add_to(a, "fa", "x1", "Putin", "", T0);
	add_to(b, "fb", "x2", "Rain", "", T0 + 1);
	add_to(a, "fa", "x3", "Putin", "", T0 + 2);
	expect(b, "putin", "x1 x2 x3");
	assert_int_equal(index_all(b), 3);
	expect(a, "putin", "x1 x3");
	assert_int_equal(fw_store_archive_count(a, T0 + 1, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fw_store_archive_prune(a, T0 + 1, 0, &words, &gone), 0);
	assert_int_equal(gone, 1);
	assert_int_equal(fw_store_archive_last_prune(b, &when), 0);
	assert_true(when > 0);
	expect(b, "putin OR rain", "x2 x3");
	fw_store_close(a);
	fw_store_close(b);
}

/* The same archive on a SQLite file and on PostgreSQL, and the same random words queries
   (fragments of the language, valid or not, in random order) on both: the same answer
   from both, rows or -EINVAL (PostgreSQL only: it needs both). */
static void test_query_both_backends(void **state)
{
	struct contract *c = *state;
	static const char *const voc[] = {"alpha", "alp", "Beta",  "be",  "gamma", "Δelta", "δelta",
	                                  "東京",  "東",  "north", "nor", "x",     "y1",    "z_z"};
	static const char *const parts[] = {
	    "alpha", "alp*",          "\"be\"*", "\"\"", "(",        ")",     "*",
	    " AND ", " OR ",          " NOT ",   " ",    "north",    "nor*",  "\"Δelta\"",
	    "δ*",    "\"東\"*",       "東京",    "NEAR", "x",        "y1",    "gamma",
	    "z_z",   "\"x\"",         "Alpha",   "ALP*", "\"...\"",  "NEAR(", ",",
	    "5",     "NEAR(x)",       "-",       ":",    "\"NEAR\"", "near(", "\"a\"\"b\"",
	    "beta",  "NEAR(alpha, 3)"};
	struct contract lite = {0};
	struct fw_store *s[2];
	int refused = 0;
	char id[16], title[256], q[256];
	unsigned seed = 7;

	if (!c->pg)
		skip();
	snprintf(lite.dir, sizeof(lite.dir), "/tmp/fw-test-contract-XXXXXX");
	assert_non_null(mkdtemp(lite.dir));
	snprintf(lite.where, sizeof(lite.where), "%s/state.db", lite.dir);
	s[0] = contract_open(&lite);
	s[1] = contract_open(c);
	for (int k = 0; k < 2; k++) {
		seed = 7;
		assert_int_equal(fw_store_begin(s[k]), 0);
		for (int i = 0; i < 60; i++) {
			int n = (int)(rand_r(&seed) % 5);

			title[0] = 0;
			for (int w = 0; w < n; w++) {
				strcat(title, voc[rand_r(&seed) % 14]);
				strcat(title, rand_r(&seed) % 3 ? " " : "-");
			}
			snprintf(id, sizeof(id), "r%d", i);
			add(s[k], id, title, "", T0 + i);
		}
		assert_int_equal(fw_store_commit(s[k]), 0);
		index_all(s[k]);
	}
	for (int it = 0; it < 3000; it++) {
		struct seen v[2];
		int rc[2], n = 1 + (int)(rand_r(&seed) % 8);

		memset(v, 0, sizeof(v));
		q[0] = 0;
		for (int k = 0; k < n; k++)
			strcat(q, parts[rand_r(&seed) % (sizeof(parts) / sizeof(parts[0]))]);
		for (int k = 0; k < 2; k++)
			rc[k] = fw_store_archive_each(s[k], 0, q, seen_cb, &v[k]);
		if (rc[0] != rc[1] || strcmp(v[0].ids, v[1].ids) != 0)
			fail_msg("words '%s': SQLite %d '%s', PostgreSQL %d '%s'", q, rc[0],
			         v[0].ids, rc[1], v[1].ids);
		refused += rc[0] != 0;
	}
	assert_true(refused > 100 && refused < 2900); /* both kinds were asked */
	fw_store_close(s[0]);
	fw_store_close(s[1]);
	test_rmtree(lite.dir);
}

/* ---- WebSub subscriptions (websub_store.c) */

struct subs {
	char list[1024];
	struct fw_store_websub last;
	char secret[64], hub[64];
	int stop_after, n;
};

static int subs_cb(const struct fw_store_websub *w, void *arg)
{
	struct subs *v = arg;
	size_t len = strlen(v->list);

	snprintf(v->list + len, sizeof(v->list) - len, "%s%s/%s/%s", len ? " " : "", w->feed,
	         w->token, w->state);
	v->last = *w;
	snprintf(v->secret, sizeof(v->secret), "%s", w->secret);
	snprintf(v->hub, sizeof(v->hub), "%s", w->hub);
	v->last.secret = v->secret;
	v->last.hub = v->hub;
	v->last.token = v->last.feed = v->last.topic = v->last.state = NULL;
	return v->stop_after && ++v->n >= v->stop_after ? -EINTR : 0;
}

static void save_sub(struct fw_store *s, const char *token, const char *feed, const char *state)
{
	struct fw_store_websub w = {.token = token,
	                            .feed = feed,
	                            .hub = "https://hub/",
	                            .topic = "https://t/",
	                            .secret = "k",
	                            .state = state,
	                            .lease_end = T0 + 100,
	                            .updated = T0};

	assert_int_equal(fw_store_websub_save(s, &w), 0);
}

/* A WebSub subscription's push figures (schema 9): written by counts without touching
   updated, kept by the next save of the whole row. */
static void test_websub_counts(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct fw_store_websub w = {.token = "tok",
	                            .feed = "a",
	                            .hub = "https://hub/",
	                            .topic = "https://t/",
	                            .secret = "k",
	                            .state = "active",
	                            .lease_end = T0 + 100,
	                            .updated = T0};
	struct subs got = {0};

	assert_int_equal(fw_store_websub_save(s, &w), 0);
	assert_int_equal(fw_store_websub_each(s, subs_cb, &got), 0);
	assert_string_equal(got.list, "a/tok/active");
	assert_int_equal(got.last.pushes, 0);
	assert_int_equal(got.last.last_push, 0);
	assert_int_equal(fw_store_websub_counts(s, "tok", T0 + 5, 4, 3), 0);
	assert_int_equal(fw_store_websub_counts(s, "nope", T0, 1, 1), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(fw_store_websub_each(s, subs_cb, &got), 0);
	assert_string_equal(got.list, "a/tok/active");
	assert_int_equal(got.last.last_push, T0 + 5);
	assert_int_equal(got.last.pushes, 4);
	assert_int_equal(got.last.bad_signatures, 3);
	assert_int_equal(got.last.updated, T0);
	assert_int_equal(got.last.lease_end, T0 + 100);
	w.last_push = T0 + 6;
	w.pushes = 5;
	w.bad_signatures = 3;
	assert_int_equal(fw_store_websub_save(s, &w), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(fw_store_websub_each(s, subs_cb, &got), 0);
	assert_int_equal(got.last.pushes, 5);
	assert_int_equal(got.last.last_push, T0 + 6);
	fw_store_close(s);
}

/* Rows in feed order (then token, byte order), replaced whole by a save of their token,
   deleted by token (none: 0); keys missing or too long refused. */
static void test_websub_rows(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = contract_open(c);
	struct subs got = {0};
	char *key = malloc(FW_STORE_KEY_MAX + 2);
	struct fw_store_websub w = {.token = "t9",
	                            .feed = "b",
	                            .hub = "https://other/",
	                            .topic = "https://t/",
	                            .secret = "s2",
	                            .state = "denied",
	                            .lease_end = 7,
	                            .updated = 8,
	                            .last_push = 9,
	                            .pushes = 10,
	                            .bad_signatures = 11};

	assert_non_null(key);
	save_sub(s, "t1", "b", "active");
	save_sub(s, "t2", "a", "subscribing");
	save_sub(s, "T3", "b", "active");
	save_sub(s, "t4", "B", "expired");
	save_sub(s, "t5", "a-b", "failed");
	assert_int_equal(fw_store_websub_each(s, subs_cb, &got), 0);
	assert_string_equal(got.list,
	                    "B/t4/expired a/t2/subscribing a-b/t5/failed b/T3/active b/t1/active");
	/* replaced whole */
	w.token = "t1";
	assert_int_equal(fw_store_websub_save(s, &w), 0);
	assert_int_equal(fw_store_websub_delete(s, "t2"), 0);
	assert_int_equal(fw_store_websub_delete(s, "t2"), 0);
	assert_int_equal(fw_store_websub_delete(s, "none"), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(fw_store_websub_each(s, subs_cb, &got), 0);
	assert_string_equal(got.list, "B/t4/expired a-b/t5/failed b/T3/active b/t1/denied");
	assert_string_equal(got.hub, "https://other/");
	assert_string_equal(got.secret, "s2");
	assert_int_equal(got.last.lease_end, 7);
	assert_int_equal(got.last.updated, 8);
	assert_int_equal(got.last.last_push, 9);
	assert_int_equal(got.last.pushes, 10);
	assert_int_equal(got.last.bad_signatures, 11);
	/* a callback's negative return stops the walk and is returned */
	memset(&got, 0, sizeof(got));
	got.stop_after = 2;
	assert_int_equal(fw_store_websub_each(s, subs_cb, &got), -EINTR);
	assert_string_equal(got.list, "B/t4/expired a-b/t5/failed");
	/* refused keys write nothing, inside a transaction too */
	assert_int_equal(fw_store_begin(s), 0);
	w.token = NULL;
	assert_int_equal(fw_store_websub_save(s, &w), -EINVAL);
	memset(key, 'k', FW_STORE_KEY_MAX + 1);
	key[FW_STORE_KEY_MAX + 1] = 0;
	w.token = key;
	assert_int_equal(fw_store_websub_save(s, &w), -E2BIG);
	w.token = "t6";
	w.secret = key;
	assert_int_equal(fw_store_websub_save(s, &w), -E2BIG);
	w.secret = NULL;
	assert_int_equal(fw_store_websub_save(s, &w), -EINVAL);
	assert_int_equal(fw_store_websub_delete(s, key), -E2BIG);
	assert_int_equal(fw_store_websub_delete(s, NULL), -EINVAL);
	assert_int_equal(fw_store_websub_counts(s, key, 1, 1, 1), -E2BIG);
	assert_int_equal(fw_store_websub_delete(s, "t4"), 0);
	assert_int_equal(fw_store_commit(s), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(fw_store_websub_each(s, subs_cb, &got), 0);
	assert_string_equal(got.list, "a-b/t5/failed b/T3/active b/t1/denied");
	free(key);
	fw_store_close(s);
}

int main(void)
{
#define CASE(f) cmocka_unit_test_setup_teardown(f, contract_setup, contract_teardown)
	const struct CMUnitTest tests[] = {
	    CASE(test_add_and_read),
	    CASE(test_bytes_and_categories),
	    CASE(test_words),
	    CASE(test_query_language),
	    CASE(test_words_other_scripts),
	    CASE(test_caps),
	    CASE(test_prune),
	    CASE(test_prune_steps),
	    CASE(test_savepoint),
	    CASE(test_rows_of_a_transaction),
	    CASE(test_index_batches),
	    CASE(test_each_many),
	    CASE(test_index_two_nodes),
	    CASE(test_shared_archive),
	    CASE(test_query_both_backends),
	    CASE(test_websub_counts),
	    CASE(test_websub_rows),
	};
#undef CASE

	return cmocka_run_group_tests(tests, NULL, NULL);
}
