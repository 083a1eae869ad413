/* test_item.c - item JSON in/out, content hash, stable ids. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "item.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_to_json),   cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_from_json), cmocka_unit_test(test_ensure_id),
	    cmocka_unit_test(test_sha256),    cmocka_unit_test(test_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
