/* test_opml.c - OPML in and out (opml.c): real readers' exports from tests/data/opml,
   hostile documents (entities, depth, size), the writer's escaping and round trip, and the
   atomic save. */
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

#include "opml.h"

static struct fw_opml *read_data(const char *name)
{
	char path[512], err[512];
	struct fw_opml *o = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/opml/%s", FW_TEST_DATA, name);
	r = fw_opml_read_file(path, &o, err, sizeof(err));
	if (r != 0)
		fail_msg("%s: %d %s", name, r, err);
	return o;
}

static const struct fw_opml_feed *by_url(const struct fw_opml *o, const char *url)
{
	long i = fw_opml_find(o, NULL, url);

	assert_true(i >= 0);
	return &o->feeds[i];
}

static void test_exports(void **state)
{
	struct fw_opml *o;
	const struct fw_opml_feed *f;

	(void)state;
	o = read_data("feedly.opml");
	assert_int_equal(o->n, 4);
	assert_string_equal(o->title, "Jane subscriptions in feedly Cloud");
	f = by_url(o, "https://www.aljazeera.com/xml/rss/all.xml");
	assert_string_equal(f->name, "Al Jazeera \u2013 Breaking News");
	assert_string_equal(f->html_url, "https://www.aljazeera.com");
	assert_int_equal(f->n_tags, 1);
	assert_string_equal(f->tags[0], "World News");
	assert_int_equal(f->line, 10);
	o = fw_opml_free(o);

	o = read_data("newsblur.opml");
	f = by_url(o, "https://www.koreaherald.com/common/rss_xml.php?ct=102");
	assert_int_equal(f->n_tags, 2);
	assert_string_equal(f->tags[0], "Asia");
	assert_string_equal(f->tags[1], "Korea");
	assert_int_equal(by_url(o, "https://www.theguardian.com/world/rss")->n_tags, 0);
	o = fw_opml_free(o);

	o = read_data("freshrss.opml.xml");
	f = by_url(o, "https://www.lemonde.fr/international/rss_full.xml");
	assert_string_equal(f->name, "Le Monde \u2014 International"); /* text, no title */
	assert_int_equal(f->n_tags, 3);
	assert_string_equal(f->tags[0], "S\u00e9curit\u00e9 & D\u00e9fense");
	assert_string_equal(f->tags[1], "Europe");
	assert_string_equal(f->tags[2], "Press");
	o = fw_opml_free(o);

	o = read_data("inoreader.xml");
	assert_int_equal(o->n, 4);
	o = fw_opml_free(o);
	o = read_data("miniflux.opml");
	assert_int_equal(o->n, 3);
	fw_opml_free(o);
}

static int parse(const char *doc, struct fw_opml **o, char *err, size_t n)
{
	return fw_opml_parse(doc, strlen(doc), "t.opml", o, err, n);
}

static void test_hostile(void **state)
{
	struct fw_opml *o = NULL;
	char err[512], *big;
	int r;

	(void)state;
	/* an external entity is not fetched nor substituted */
	r = parse("<?xml version='1.0'?><!DOCTYPE opml [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
	          "<opml><body><outline text='&x;' xmlUrl='https://a.example/f'/></body></opml>",
	          &o, err, sizeof(err));
	if (r == 0) {
		assert_null(strstr(o->feeds[0].name, "root"));
		o = fw_opml_free(o);
	}
	/* a billion laughs is refused or bounded by libxml2's defaults */
	r = parse("<?xml version='1.0'?><!DOCTYPE opml [<!ENTITY a 'aaaaaaaaaa'>"
	          "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;"
	          "&b;&b;'><!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'><!ENTITY e '&d;&d;&d;&d;&d;"
	          "&d;&d;&d;&d;&d;'><!ENTITY f '&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;'>]>"
	          "<opml><body><outline text='&f;' xmlUrl='https://a.example/f'/></body></opml>",
	          &o, err, sizeof(err));
	if (r == 0) {
		assert_true(strlen(o->feeds[0].name) <= 128);
		o = fw_opml_free(o);
	}
	/* not OPML, not XML, too deep, too big */
	assert_int_equal(parse("<rss/>", &o, err, sizeof(err)), -EBADMSG);
	assert_int_equal(parse("<opml><body><outline", &o, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "t.opml:1: not well-formed XML"));
	big = calloc(1, 40 * 64 + 200);
	assert_non_null(big);
	strcpy(big, "<opml><body>");
	for (int i = 0; i < 40; i++)
		strcat(big, "<outline text='x'>");
	strcat(big, "<outline xmlUrl='https://a.example/f'/>");
	for (int i = 0; i < 40; i++)
		strcat(big, "</outline>");
	strcat(big, "</body></opml>");
	assert_int_equal(parse(big, &o, err, sizeof(err)), -EFBIG);
	free(big);
	assert_int_equal(fw_opml_parse("x", FW_OPML_MAX_BYTES + 1, "t", &o, err, sizeof(err)),
	                 -EFBIG);
	/* a name with control characters, over 128 bytes, no title: cleaned, cut, the host */
	assert_int_equal(parse("<opml><body><outline text='a&#9;b' xmlUrl='https://a.example/1'/>"
	                       "<outline xmlUrl=' https://b.example:8080/f '/></body></opml>",
	                       &o, err, sizeof(err)),
	                 0);
	assert_string_equal(o->feeds[0].name, "a b");
	assert_string_equal(o->feeds[1].name, "b.example");
	assert_string_equal(o->feeds[1].url, "https://b.example:8080/f");
	fw_opml_free(o);
}

static void test_round_trip(void **state)
{
	struct fw_opml *o = fw_opml_new("t <&> \"q\""), *back = NULL;
	struct fw_opml_feed f = {.name = (char *)"A & <B> \"c\" 'd'",
	                         .url = (char *)"https://a.example/?x=1&y=<2>",
	                         .html_url = (char *)"https://a.example/",
	                         .interval = 1800};
	char *text = NULL, err[256];
	size_t len = 0;

	(void)state;
	assert_int_equal(fw_opml_feed_tag(&f, "News, World"), 0);
	assert_int_equal(fw_opml_feed_tag(&f, "Asia/Korea"), 0);
	assert_int_equal(fw_opml_add(o, &f), 0);
	for (size_t i = 0; i < f.n_tags; i++)
		free(f.tags[i]);
	free(f.tags);
	f = (struct fw_opml_feed){.name = (char *)"plain", .url = (char *)"https://b.example/"};
	assert_int_equal(fw_opml_add(o, &f), 0);
	assert_int_equal(fw_opml_format(o, &text, &len), 0);
	assert_non_null(strstr(text, "<opml xmlns:fw=\"" FW_OPML_NS "\" version=\"2.0\">"));
	assert_int_equal(fw_opml_parse(text, len, "back", &back, err, sizeof(err)), 0);
	assert_int_equal(back->n, 2);
	assert_string_equal(back->title, "t <&> \"q\"");
	assert_string_equal(back->feeds[0].name, "A & <B> \"c\" 'd'");
	assert_string_equal(back->feeds[0].url, "https://a.example/?x=1&y=<2>");
	assert_int_equal(back->feeds[0].interval, 1800);
	assert_int_equal(back->feeds[0].n_tags, 2);
	assert_string_equal(back->feeds[0].tags[0], "News  World"); /* a comma is no tag */
	assert_string_equal(back->feeds[0].tags[1], "Asia/Korea");
	assert_int_equal(back->feeds[1].n_tags, 0);
	free(text);
	fw_opml_free(back);
	fw_opml_free(o);
}

static void test_save(void **state)
{
	char dir[] = "/tmp/fwtest-opml-XXXXXX", path[128], err[256];
	struct fw_opml *o = fw_opml_new(NULL), *back = NULL;
	struct fw_opml_feed f = {.name = (char *)"x", .url = (char *)"https://x.example/"};
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/feeds.opml", dir);
	assert_int_equal(fw_opml_add(o, &f), 0);
	assert_int_equal(fw_opml_save(o, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fw_opml_read_file(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back->n, 1);
	fw_opml_remove(back, 0);
	assert_int_equal(back->n, 0);
	assert_int_equal(fw_opml_save(back, path), 0);
	fw_opml_free(back);
	assert_int_equal(fw_opml_read_file(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back->n, 0);
	fw_opml_free(back);
	fw_opml_free(o);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0); /* no temporary file was left */
	assert_int_equal(fw_opml_read_file(path, &back, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exports),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_save),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
