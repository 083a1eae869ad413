/* test_discover.c - feed autodiscovery in HTML pages (discover.c): link types, rel lists,
   relative hrefs against the page and <base>, entities, duplicates, caps, broken HTML. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "discover.h"

static struct fw_discover *find(const char *html, const char *url)
{
	struct fw_discover *d = NULL;

	assert_int_equal(fw_discover_html(html, strlen(html), url, &d), 0);
	assert_non_null(d);
	return d;
}

static void test_links(void **state)
{
	struct fw_discover *d;

	(void)state;
	d = find(
	    "<!doctype html><html><head><title>Caf&eacute; &amp; co</title>"
	    "<link rel=\"alternate\" type=\"application/rss+xml\" href=\"/rss\" title=\"RSS &amp; "
	    "more\">"
	    "<link rel=\"alternate nofollow\" type=\"APPLICATION/ATOM+XML\" href=\"atom.xml\">"
	    "<link rel=alternate type=\"application/feed+json; charset=utf-8\" "
	    "href=\"//cdn.example/f.json\">"
	    "<link rel=\"alternate\" type=\"application/json\" href=\"https://x.example/j\">"
	    "<link rel=\"alternate\" type=\"application/rss+xml\" href=\"/rss\">"
	    "<link rel=\"alternate\" type=\"text/html\" href=\"/fr\">"
	    "<link rel=\"stylesheet\" type=\"application/rss+xml\" href=\"/no\">"
	    "<link rel=\"alternate\" type=\"application/rss+xml\">"
	    "</head><body></body></html>",
	    "https://www.example.org/blog/post?id=1");
	assert_int_equal(d->n, 4);
	assert_string_equal(d->page_title, "Caf\u00e9 & co");
	assert_string_equal(d->v[0].url, "https://www.example.org/rss");
	assert_string_equal(d->v[0].type, "application/rss+xml");
	assert_string_equal(d->v[0].title, "RSS & more");
	assert_string_equal(d->v[1].url, "https://www.example.org/blog/atom.xml");
	assert_string_equal(d->v[1].type, "application/atom+xml");
	assert_null(d->v[1].title);
	assert_string_equal(d->v[2].url, "https://cdn.example/f.json");
	assert_string_equal(d->v[2].type, "application/feed+json");
	assert_string_equal(d->v[3].url, "https://x.example/j");
	fw_discover_free(d);
}

static void test_base(void **state)
{
	struct fw_discover *d;

	(void)state;
	/* the first <base href> counts, even after the link; it is relative to the page */
	d = find("<html><head>"
	         "<link rel=alternate type=application/rss+xml href=\"feed?a=1&amp;b=2\">"
	         "<base href=\"/sub/dir/\"><base href=\"https://other.example/\">"
	         "</head></html>",
	         "http://127.0.0.1:8080/index.html");
	assert_int_equal(d->n, 1);
	assert_string_equal(d->v[0].url, "http://127.0.0.1:8080/sub/dir/feed?a=1&b=2");
	fw_discover_free(d);
}

static void test_broken(void **state)
{
	struct fw_discover *d;
	char *big;
	size_t n = 0;

	(void)state;
	/* recovery: no <head>, unclosed tags, a link in the body, stray bytes */
	d = find("<p>hello <b>world<link rel=alternate type=application/atom+xml href=a.xml>"
	         "\xff\xfe<div>",
	         "https://e.example/x/");
	assert_int_equal(d->n, 1);
	assert_string_equal(d->v[0].url, "https://e.example/x/a.xml");
	fw_discover_free(d);
	d = find("", NULL);
	assert_int_equal(d->n, 0);
	fw_discover_free(d);
	/* capped: FW_DISCOVER_MAX_LINKS */
	big = malloc(200 * 100);
	assert_non_null(big);
	big[0] = 0;
	for (int i = 0; i < 200; i++)
		n += (size_t)sprintf(big + n,
		                     "<link rel=alternate type=application/rss+xml href=/f%d>", i);
	d = find(big, "https://e.example/");
	assert_int_equal(d->n, FW_DISCOVER_MAX_LINKS);
	fw_discover_free(d);
	free(big);
	assert_int_equal(fw_discover_html("", FW_DISCOVER_MAX_BYTES + 1, NULL, &d), -EFBIG);
}

static void test_looks_html(void **state)
{
	(void)state;
	assert_true(fw_discover_looks_html("\n<!DOCTYPE html>", 16));
	assert_true(fw_discover_looks_html("<HTML lang=en>", 14));
	assert_false(fw_discover_looks_html("<?xml version='1.0'?><rss/>", 27));
	assert_false(fw_discover_looks_html("<feed xmlns='http://www.w3.org/2005/Atom'>", 42));
	assert_false(
	    fw_discover_looks_html("{\"version\":\"https://jsonfeed.org/version/1\"}", 44));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_links),
	    cmocka_unit_test(test_base),
	    cmocka_unit_test(test_broken),
	    cmocka_unit_test(test_looks_html),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
