/* test_item.c - item JSON in/out, content hash, stable ids. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "date.h"
#include "item.h"
#include "text.h"

static struct fw_item *sample(void)
{
	struct fw_item *it = fw_item_new();

	assert_non_null(it);
	it->title = strdup("Putin visits North Korea");
	it->link = strdup("https://example.com/a");
	it->id = strdup("guid-1");
	it->author = strdup("Jane \"JD\" Doe");
	it->summary = strdup("Summary \xc3\xa9");
	it->content = strdup("");
	it->published = 1718747040;
	it->categories = calloc(2, sizeof(char *));
	it->categories[0] = strdup("World");
	it->categories[1] = strdup("Asia");
	it->n_categories = 2;
	return it;
}

static void test_to_json(void **state)
{
	struct fw_item *it = sample();
	char *s;

	(void)state;
	assert_int_equal(fw_item_to_json(it, &s), 0);
	assert_string_equal(
	    s, "{\"title\":\"Putin visits North Korea\",\"link\":\"https://example.com/a\","
	       "\"id\":\"guid-1\",\"published\":\"2024-06-18T21:44:00Z\",\"updated\":null,"
	       "\"author\":\"Jane \\\"JD\\\" Doe\",\"summary\":\"Summary \xc3\xa9\","
	       "\"content\":\"\",\"categories\":[\"World\",\"Asia\"]}");
	free(s);
	fw_item_free(it);

	/* absent fields: nulls and empty strings as the contract says */
	it = fw_item_new();
	assert_int_equal(fw_item_to_json(it, &s), 0);
	assert_string_equal(s, "{\"title\":\"\",\"link\":null,\"id\":null,\"published\":null,"
	                       "\"updated\":null,\"author\":null,\"summary\":\"\",\"content\":\"\","
	                       "\"categories\":[]}");
	free(s);
	/* invalid UTF-8 never reaches the output */
	it->title = strdup("bad\xff");
	assert_int_equal(fw_item_to_json(it, &s), 0);
	assert_non_null(strstr(s, "\"title\":\"bad\xef\xbf\xbd\""));
	free(s);
	fw_item_free(it);
}

static void test_round_trip(void **state)
{
	struct fw_item *it = sample(), *back;
	char *s, *s2;

	(void)state;
	assert_int_equal(fw_item_to_json(it, &s), 0);
	assert_int_equal(fw_item_from_json(s, strlen(s), &back), 0);
	assert_int_equal(fw_item_to_json(back, &s2), 0);
	assert_string_equal(s, s2);
	assert_true(fw_item_hash(it) == fw_item_hash(back));
	free(s);
	free(s2);
	fw_item_free(it);
	fw_item_free(back);
}

static void test_from_json(void **state)
{
	struct fw_item *it;

	(void)state;
	const char *minimal = "{\"title\":\"t\",\"link\":\"https://x/\"}";
	assert_int_equal(fw_item_from_json(minimal, strlen(minimal), &it), 0);
	assert_string_equal(it->id, "https://x/"); /* ensure_id: the link */
	assert_string_equal(it->summary, "");
	assert_null(it->author);
	assert_true(it->published == FW_TIME_NONE);
	fw_item_free(it);
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{",
	    "{\"title\":1}",
	    "{\"published\":\"not a date\"}",
	    "{\"categories\":\"x\"}",
	    "{\"categories\":[1]}",
	    "{\"a\":1,\"a\":2}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		it = NULL;
		assert_int_equal(fw_item_from_json(bad[i], strlen(bad[i]), &it), -EINVAL);
		assert_null(it);
	}
}

static void test_ensure_id(void **state)
{
	struct fw_item *a = fw_item_new(), *b = fw_item_new();

	(void)state;
	a->title = strdup("Same");
	b->title = strdup("Same");
	a->published = b->published = 1718747040;
	assert_int_equal(fw_item_ensure_id(a), 0);
	assert_int_equal(fw_item_ensure_id(b), 0);
	assert_string_equal(a->id, b->id); /* same item, same id, every poll */
	assert_int_equal(strncmp(a->id, "sha:", 4), 0);
	assert_int_equal(strlen(a->id), 4 + 64);
	/* pinned: deterministic across runs and machines */
	assert_string_equal(a->id,
	                    "sha:"
	                    "39ebcc12ff42aab928acd16b57b6e3ac9345b9ef78ed98d509c5ef5653c5a58b");
	fw_item_free(b);
	b = fw_item_new();
	b->title = strdup("Same");
	b->published = 1718747041; /* another date: another item */
	assert_int_equal(fw_item_ensure_id(b), 0);
	assert_string_not_equal(a->id, b->id);
	/* content-only items differ by content */
	struct fw_item *c = fw_item_new(), *d = fw_item_new();
	c->content = strdup("one");
	d->content = strdup("two");
	assert_int_equal(fw_item_ensure_id(c), 0);
	assert_int_equal(fw_item_ensure_id(d), 0);
	assert_string_not_equal(c->id, d->id);
	/* an id is kept; the link comes before the hash */
	struct fw_item *e = fw_item_new();
	e->link = strdup("https://l/");
	assert_int_equal(fw_item_ensure_id(e), 0);
	assert_string_equal(e->id, "https://l/");
	free(e->link);
	e->link = strdup("https://other/");
	assert_int_equal(fw_item_ensure_id(e), 0);
	assert_string_equal(e->id, "https://l/");
	fw_item_free(a);
	fw_item_free(b);
	fw_item_free(c);
	fw_item_free(d);
	fw_item_free(e);
}

static void test_sha256(void **state)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	char out[65];

	(void)state;
	/* FIPS 180-2 test vectors */
	struct {
		const char *in;
		const char *want;
	} v[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	for (size_t i = 0; i < 3; i++) {
		fw_item_sha256(v[i].in, strlen(v[i].in), d);
		for (int k = 0; k < 32; k++) {
			out[2 * k] = hex[d[k] >> 4];
			out[2 * k + 1] = hex[d[k] & 15];
		}
		out[64] = '\0';
		assert_string_equal(out, v[i].want);
	}
}

static void test_hash(void **state)
{
	struct fw_item *a = sample(), *b = sample();

	(void)state;
	assert_true(fw_item_hash(a) == fw_item_hash(b));
	free(b->summary);
	b->summary = strdup("Summary edited");
	assert_true(fw_item_hash(a) != fw_item_hash(b));
	fw_item_free(b);
	b = sample();
	b->updated = 1;
	assert_true(fw_item_hash(a) != fw_item_hash(b));
	fw_item_free(b);
	b = sample();
	free(b->categories[1]);
	b->categories[1] = strdup("Europe");
	assert_true(fw_item_hash(a) != fw_item_hash(b));
	fw_item_free(a);
	fw_item_free(b);
	assert_null(fw_item_free(NULL));
}

/* ---- fw_item_to_json against jansson (what it was built with before) ---- */

static json_t *ref_str(const char *s, bool nullable)
{
	if (!s)
		return nullable ? json_null() : json_string("");
	json_t *j = json_string(s);
	if (j)
		return j;
	char *fixed = fw_text_plain(s, strlen(s), strlen(s) * 3);
	assert_non_null(fixed);
	j = json_string(fixed);
	free(fixed);
	return j;
}

static json_t *ref_date(int64_t t)
{
	char buf[32];

	return t == FW_TIME_NONE ? json_null() : json_string(fw_date_format(t, buf, sizeof(buf)));
}

/* The jansson serialisation of item (the former fw_item_to_json). */
static char *ref_json(const struct fw_item *item)
{
	json_t *o = json_object(), *cats = json_array();

	for (size_t i = 0; i < item->n_categories; i++)
		json_array_append_new(cats, ref_str(item->categories[i], false));
	json_object_set_new(o, "title", ref_str(item->title, false));
	json_object_set_new(o, "link", ref_str(item->link, true));
	json_object_set_new(o, "id", ref_str(item->id, true));
	json_object_set_new(o, "published", ref_date(item->published));
	json_object_set_new(o, "updated", ref_date(item->updated));
	json_object_set_new(o, "author", ref_str(item->author, true));
	json_object_set_new(o, "summary", ref_str(item->summary, false));
	json_object_set_new(o, "content", ref_str(item->content, false));
	json_object_set_new(o, "categories", cats);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	assert_non_null(s);
	return s;
}

static void same_json(const struct fw_item *item)
{
	char *got = NULL, *want = ref_json(item);

	assert_int_equal(fw_item_to_json(item, &got), 0);
	if (strcmp(got, want) != 0)
		print_error("jansson: %s\nours:    %s\n", want, got);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A random NUL-terminated string: ASCII, controls, quotes, backslashes, UTF-8 (valid and
   not), or NULL. */
static char *random_str(uint32_t *seed)
{
	static const char *const pieces[] = {"a",
	                                     "Z",
	                                     " ",
	                                     "\"",
	                                     "\\",
	                                     "/",
	                                     "\n",
	                                     "\r",
	                                     "\t",
	                                     "\b",
	                                     "\f",
	                                     "\x01",
	                                     "\x1f",
	                                     "\x7f",
	                                     "\xc3\xa9",
	                                     "\xd0\x96",
	                                     "\xe2\x80\xa8",
	                                     "\xe4\xb8\xad",
	                                     "\xf0\x9f\x98\x80",
	                                     "\xef\xbf\xbe",
	                                     "\xff",
	                                     "\xc3",
	                                     "\xe0\x80\x80",
	                                     "\xed\xa0\x80",
	                                     "\xf4\x90\x80\x80",
	                                     "\xc0\xaf",
	                                     "\x80",
	                                     "<b>",
	                                     "&amp;",
	                                     "\xe2\x80\x83"};
	if (rnd(seed) % 16 == 0)
		return NULL;
	char buf[256];
	size_t len = 0;
	int n = (int)(rnd(seed) % 24);
	for (int i = 0; i < n; i++) {
		const char *p = pieces[rnd(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t pl = strlen(p);
		if (len + pl >= sizeof(buf))
			break;
		memcpy(buf + len, p, pl);
		len += pl;
	}
	buf[len] = '\0';
	char *s = strdup(buf);
	assert_non_null(s);
	return s;
}

static void test_to_json_random(void **state)
{
	uint32_t seed = 88172645u;

	(void)state;
	for (int i = 0; i < 5000; i++) {
		struct fw_item *it = fw_item_new();
		assert_non_null(it);
		it->title = random_str(&seed);
		it->link = random_str(&seed);
		it->id = random_str(&seed);
		it->author = random_str(&seed);
		it->summary = random_str(&seed);
		it->content = random_str(&seed);
		it->published = rnd(&seed) % 3 ? (int64_t)(rnd(&seed) % 2000000000u) : FW_TIME_NONE;
		it->updated = rnd(&seed) % 3 ? -(int64_t)(rnd(&seed) % 2000000000u) : FW_TIME_NONE;
		size_t nc = rnd(&seed) % 4;
		if (nc) {
			it->categories = calloc(nc, sizeof(char *));
			assert_non_null(it->categories);
			for (size_t k = 0; k < nc; k++)
				it->categories[k] = random_str(&seed);
			it->n_categories = nc;
		}
		same_json(it);
		fw_item_free(it);
	}
}

/* Every item of the fixtures' expected output: read back, written again, the same as
   jansson writes it, and the same as the line itself. */
static void test_to_json_fixtures(void **state)
{
	DIR *d = opendir(FW_TEST_DATA "/feeds");
	size_t lines = 0;

	(void)state;
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name);
		if (nl < 6 || strcmp(e->d_name + nl - 6, ".jsonl") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/feeds/%s", FW_TEST_DATA, e->d_name);
		FILE *f = fopen(path, "re");
		assert_non_null(f);
		char *line = NULL;
		size_t size = 0;
		ssize_t n;
		while ((n = getline(&line, &size, f)) > 0) {
			if (line[n - 1] == '\n')
				line[--n] = '\0';
			struct fw_item *it = NULL;
			assert_int_equal(fw_item_from_json(line, (size_t)n, &it), 0);
			same_json(it);
			char *again = NULL;
			assert_int_equal(fw_item_to_json(it, &again), 0);
			assert_string_equal(again, line);
			free(again);
			fw_item_free(it);
			lines++;
		}
		free(line);
		fclose(f);
	}
	closedir(d);
	assert_true(lines >= 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_to_json),        cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_from_json),      cmocka_unit_test(test_ensure_id),
	    cmocka_unit_test(test_sha256),         cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_to_json_random), cmocka_unit_test(test_to_json_fixtures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
