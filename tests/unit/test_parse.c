/* test_parse.c - the streaming feed parser: fixtures, chunking, hostile and broken input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"

#define FEEDS FW_TEST_DATA "/feeds/"

/* Output collected from the callback: JSON lines, plus a copy of selected items. */
struct sink {
	char *out;
	size_t len, size;
	size_t n;
	size_t stop_after; /* return -1 from the callback after this many (0: never) */
	size_t max_title;
	size_t max_link, max_id;
	char *last_title;
};

static int sink_cb(struct fw_item *item, void *arg)
{
	struct sink *s = arg;
	char *json;

	assert_int_equal(fw_item_to_json(item, &json), 0);
	size_t n = strlen(json);
	if (s->len + n + 2 > s->size) {
		s->size = (s->len + n + 2) * 2;
		s->out = realloc(s->out, s->size);
		assert_non_null(s->out);
	}
	memcpy(s->out + s->len, json, n);
	s->len += n;
	s->out[s->len++] = '\n';
	s->out[s->len] = '\0';
	free(json);
	if (strlen(item->title) > s->max_title)
		s->max_title = strlen(item->title);
	if (item->link && strlen(item->link) > s->max_link)
		s->max_link = strlen(item->link);
	if (strlen(item->id) > s->max_id)
		s->max_id = strlen(item->id);
	free(s->last_title);
	s->last_title = strdup(item->title);
	s->n++;
	fw_item_free(item);
	return s->stop_after && s->n >= s->stop_after ? -1 : 0;
}

static void sink_free(struct sink *s)
{
	free(s->out);
	free(s->last_title);
	memset(s, 0, sizeof(*s));
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	char *b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Parse buf pushed in chunks of `chunk` bytes (0: one push). Returns fw_parse_end's value;
   the problem line is copied to *problem when asked. */
static int run(const char *buf, size_t len, size_t chunk, const char *base, const char *charset,
               const struct fw_parse_limits *lim, struct sink *s, char **problem)
{
	struct fw_parser *p = fw_parse_new(base, charset, lim, sink_cb, s);
	assert_non_null(p);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		if (fw_parse_push(p, buf + off, n) < 0)
			break;
	}
	int r = fw_parse_end(p);
	if (problem)
		*problem = fw_parse_problem(p) ? strdup(fw_parse_problem(p)) : NULL;
	fw_parse_free(p);
	return r;
}

static const struct fixture {
	const char *file;
	const char *charset;
	const char *format;
	bool clean; /* no problem expected */
} fixtures[] = {
    {"rss2_basic.xml", NULL, "rss2.0", true},
    {"atom10.xml", NULL, "atom1.0", true},
    {"atom03.xml", NULL, "atom0.3", true},
    {"atom03_base64_bad.xml", NULL, "atom0.3", true}, /* found by fuzzing: overflow */
    {"rss10_rdf.xml", NULL, "rss1.0", true},
    {"rss091.xml", NULL, "rss0.9x", true},
    {"latin1.xml", NULL, "rss2.0", true},
    {"cp1251.xml", NULL, "rss2.0", true},
    {"koi8r.xml", NULL, "rss2.0", true},
    {"sjis.xml", NULL, "rss2.0", true},
    {"big5.xml", NULL, "rss2.0", true},
    {"gb2312.xml", NULL, "rss2.0", true},
    {"utf16le_bom.xml", NULL, "rss2.0", true},
    {"utf16be_bom.xml", NULL, "rss2.0", true},
    {"utf8_bom.xml", NULL, "rss2.0", true},
    {"http_charset.xml", "ISO-8859-15", "rss2.0", true},
    {"json11.json", NULL, "json1.1", true},
    {"json10.json", NULL, "json1.0", true},
    {"json_controls.json", NULL, "json1.1", true}, /* found by fuzzing: \f, \v in HTML */
    {"broken_entities.xml", NULL, "rss2.0", false},
    {"broken_ampersand.xml", NULL, "rss2.0", false},
    {"broken_control.xml", NULL, "rss2.0", false},
    {"broken_truncated.xml", NULL, "rss2.0", false},
    {"broken_tags.xml", NULL, "rss2.0", false},
    {"hostile_xxe.xml", NULL, "rss2.0", false},
    {"hostile_dtd_param.xml", NULL, "rss2.0", false},
    {"hostile_billion_laughs.xml", NULL, "rss2.0", false},
    {"hostile_quadratic.xml", NULL, "rss2.0", false},
    /* issue 15: real-world shapes */
    {"rss_userland_ns.xml", NULL, "rss2.0", true},
    {"atom_attr_entities.xml", NULL, "atom1.0", true},
    {"internal_entities.xml", NULL, "rss2.0", false},
    {"cp1252_undeclared.xml", NULL, "rss2.0", false},
    {"php_warning.xml", NULL, "rss2.0", false},
    {"html_wrapped.xml", NULL, "atom1.0", true},
};

/* Every fixture gives its .jsonl, whatever the chunking; problems are one line. */
static void test_fixtures(void **state)
{
	static const size_t chunks[] = {0, 1, 7, 61, 131, 4096};

	(void)state;
	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		char path[512], epath[512];
		size_t len, elen;
		snprintf(path, sizeof(path), FEEDS "%s", fixtures[f].file);
		snprintf(epath, sizeof(epath), FEEDS "%s.jsonl", fixtures[f].file);
		char *buf = slurp(path, &len);
		char *expect = slurp(epath, &elen);
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct sink s = {0};
			char *problem = NULL;
			/* 1-byte pushes of the big quadratic fixture are slow under ASan */
			if (chunks[c] == 1 && len > 100000)
				continue;
			int r = run(buf, len, chunks[c], fixtures[f].file, fixtures[f].charset,
			            NULL, &s, &problem);
			if (r != 0 || !s.out || strcmp(s.out, expect) != 0)
				print_error("%s chunk %zu: r=%d\n got: %s\nwant: %s\n",
				            fixtures[f].file, chunks[c], r,
				            s.out ? s.out : "(none)", expect);
			assert_int_equal(r, 0);
			assert_non_null(s.out);
			assert_string_equal(s.out, expect);
			if (fixtures[f].clean) {
				assert_null(problem);
			} else {
				assert_non_null(problem);
				assert_null(strchr(problem, '\n'));
			}
			free(problem);
			sink_free(&s);
		}
		free(buf);
		free(expect);
	}
}

static void test_format(void **state)
{
	(void)state;
	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		char path[512];
		size_t len;
		struct sink s = {0};
		snprintf(path, sizeof(path), FEEDS "%s", fixtures[f].file);
		char *buf = slurp(path, &len);
		struct fw_parser *p = fw_parse_new(NULL, fixtures[f].charset, NULL, sink_cb, &s);
		assert_int_equal(fw_parse_push(p, buf, len), 0);
		assert_int_equal(fw_parse_end(p), 0);
		assert_string_equal(fw_parse_format(p), fixtures[f].format);
		fw_parse_free(p);
		sink_free(&s);
		free(buf);
	}
}

static void test_feed_level(void **state)
{
	size_t len;
	struct sink s = {0};
	char *buf = slurp(FEEDS "rss2_basic.xml", &len);

	(void)state;
	struct fw_parser *p = fw_parse_new(NULL, NULL, NULL, sink_cb, &s);
	assert_int_equal(fw_parse_ttl(p), -1);
	assert_int_equal(fw_parse_push(p, buf, len), 0);
	assert_int_equal(fw_parse_end(p), 0);
	assert_string_equal(fw_parse_feed_title(p), "World News");
	assert_int_equal(fw_parse_ttl(p), 30);
	fw_parse_free(p);
	sink_free(&s);
	free(buf);
}

/* WebSub discovery in the body: the feed's first atom:link rel="hub" and rel="self" (in an
   Atom feed, and in the Atom namespace inside an RSS channel), resolved; an entry's own
   links and an RSS element named link are not. */
static void test_websub_links(void **state)
{
	static const char *const docs[] = {
	    "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>"
	    "<link rel=\"hub\" href=\"https://hub.example/\"/><link rel=\"self\" href=\"/feed\"/>"
	    "<link rel=\"hub\" href=\"https://second.example/\"/>"
	    "<entry><id>1</id><title>x</title><link rel=\"self\" href=\"/no\"/></entry></feed>",
	    "<rss version=\"2.0\" "
	    "xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>t</title>"
	    "<link>https://site.example/</link><atom:link rel=\"self\" href=\"/feed\"/>"
	    "<atom:link href=\"https://hub.example/\" rel=\"hub\"/>"
	    "<item><title>x</title><atom:link rel=\"hub\" href=\"https://no.example/\"/></item>"
	    "</channel></rss>",
	    "<rss version=\"2.0\"><channel><title>t</title><link>https://site.example/</link>"
	    "</channel></rss>",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++) {
		struct sink s = {0};
		struct fw_parser *p =
		    fw_parse_new("https://site.example/x/", NULL, NULL, sink_cb, &s);

		assert_int_equal(fw_parse_push(p, docs[i], strlen(docs[i])), 0);
		assert_int_equal(fw_parse_end(p), 0);
		if (i < 2) {
			assert_string_equal(fw_parse_hub(p), "https://hub.example/");
			assert_string_equal(fw_parse_self(p), "https://site.example/feed");
		} else {
			assert_null(fw_parse_hub(p));
			assert_null(fw_parse_self(p));
		}
		fw_parse_free(p);
		sink_free(&s);
	}
}

/* Feed paging and archiving (RFC 5005): the feed's rel="next", else its rel="prev-archive",
   resolved; an entry's rel="next" is not the feed's. */
static void test_next_page_link(void **state)
{
	static const struct {
		const char *doc, *want;
	} cases[] = {
	    {"<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>"
	     "<link rel=\"prev-archive\" href=\"/archive/1\"/>"
	     "<link rel=\"next\" href=\"?page=2\"/><link rel=\"next\" href=\"/no\"/>"
	     "<entry><id>1</id><title>x</title></entry></feed>",
	     "https://site.example/x/?page=2"},
	    {"<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel>"
	     "<title>t</title><link>https://site.example/</link>"
	     "<atom:link rel=\"prev-archive\" href=\"https://site.example/2024/05\"/>"
	     "<item><title>x</title><atom:link rel=\"next\" href=\"/no\"/></item>"
	     "</channel></rss>",
	     "https://site.example/2024/05"},
	    {"<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>"
	     "<entry><id>1</id><title>x</title><link rel=\"next\" href=\"/no\"/></entry></feed>",
	     NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct sink s = {0};
		struct fw_parser *p =
		    fw_parse_new("https://site.example/x/", NULL, NULL, sink_cb, &s);

		assert_int_equal(fw_parse_push(p, cases[i].doc, strlen(cases[i].doc)), 0);
		assert_int_equal(fw_parse_end(p), 0);
		if (cases[i].want)
			assert_string_equal(fw_parse_next(p), cases[i].want);
		else
			assert_null(fw_parse_next(p));
		fw_parse_free(p);
		sink_free(&s);
	}
}

/* A relative link is resolved against the document URL; duplicate guids get "#2". */
static void test_base_url(void **state)
{
	size_t len;
	struct sink s = {0};
	char *buf = slurp(FEEDS "rss2_basic.xml", &len);

	(void)state;
	assert_int_equal(
	    run(buf, len, 0, "https://news.example.com/feeds/world.xml", NULL, NULL, &s, NULL), 0);
	assert_non_null(
	    strstr(s.out, "\"link\":\"https://news.example.com/world/2024/06/18/putin-kim\""));
	assert_non_null(strstr(s.out, "\"id\":\"news-4711#2\""));
	sink_free(&s);
	free(buf);
}

static void test_not_a_feed(void **state)
{
	size_t len;
	struct sink s = {0};
	char *problem = NULL;
	char *buf = slurp(FEEDS "notfeed.xml", &len);

	(void)state;
	assert_int_equal(run(buf, len, 0, NULL, NULL, NULL, &s, &problem), -EBADMSG);
	assert_int_equal(s.n, 0);
	assert_non_null(problem);
	free(problem);
	assert_int_equal(run("", 0, 0, NULL, NULL, NULL, &s, NULL), -EBADMSG);
	assert_int_equal(run("garbage", 7, 0, NULL, NULL, NULL, &s, NULL), -EBADMSG);
	assert_int_equal(run("{\"a\":", 5, 0, NULL, NULL, NULL, &s, NULL), -EBADMSG);
	assert_int_equal(run("{\"a\":1}", 7, 0, NULL, NULL, NULL, &s, NULL), -EBADMSG);
	/* a feed with no items is still a feed */
	const char *empty = "<rss version=\"2.0\"><channel><title>x</title></channel></rss>";
	assert_int_equal(run(empty, strlen(empty), 0, NULL, NULL, NULL, &s, NULL), 0);
	assert_int_equal(s.n, 0);
	sink_free(&s);
	free(buf);
}

/* The external entity and the DTD never load: no file content in the output. */
static void test_xxe(void **state)
{
	static const char *const files[] = {"hostile_xxe.xml", "hostile_dtd_param.xml"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char path[512];
		size_t len;
		struct sink s = {0};
		snprintf(path, sizeof(path), FEEDS "%s", files[i]);
		char *buf = slurp(path, &len);
		assert_int_equal(run(buf, len, 0, NULL, NULL, NULL, &s, NULL), 0);
		assert_int_equal(s.n, 1);
		assert_null(strstr(s.out, "root:"));
		assert_null(strstr(s.out, "/bin/"));
		/* internal entities are expanded (issue 15 point 21), external ones never */
		if (i == 0)
			assert_non_null(strstr(s.out, "expanded-internal"));
		sink_free(&s);
		free(buf);
	}
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail, size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *b = malloc(hl + ul * times + tl + 1);

	assert_non_null(b);
	memcpy(b, head, hl);
	for (size_t i = 0; i < times; i++)
		memcpy(b + hl + i * ul, unit, ul);
	memcpy(b + hl + ul * times, tail, tl + 1);
	*len = hl + ul * times + tl;
	return b;
}

/* 10,000 levels: the depth cap stops the parse, items before it are kept. */
static void test_deep_nesting(void **state)
{
	size_t len;
	struct sink s = {0};
	char *problem = NULL;
	char *buf = repeat("<rss version=\"2.0\"><channel><item><title>before</title></item>"
	                   "<item><title>deep</title>",
	                   "<div>", 10000, "x</item></channel></rss>", &len);

	(void)state;
	assert_int_equal(run(buf, len, 4096, NULL, NULL, NULL, &s, &problem), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.last_title, "before");
	assert_non_null(problem);
	free(problem);
	sink_free(&s);
	/* a smaller cap of our own */
	struct fw_parse_limits lim = {.max_depth = 8};
	assert_int_equal(run(buf, len, 0, NULL, NULL, &lim, &s, NULL), 0);
	assert_int_equal(s.n, 1);
	sink_free(&s);
	free(buf);
}

/* 100,000 items: the items cap holds by default, and all come out when raised. */
static void test_many_items(void **state)
{
	size_t len;
	struct sink s = {0};
	char *problem = NULL;
	char *buf = repeat("<rss version=\"2.0\"><channel>", "<item><title>t</title></item>",
	                   100000, "</channel></rss>", &len);

	(void)state;
	assert_int_equal(run(buf, len, 16384, NULL, NULL, NULL, &s, &problem), 0);
	assert_int_equal(s.n, 10000);
	assert_non_null(problem);
	free(problem);
	/* identical items: ids disambiguated, so all distinct */
	assert_non_null(strstr(s.out, "#10000\""));
	sink_free(&s);
	struct fw_parse_limits lim = {.max_items = 200000};
	assert_int_equal(run(buf, len, 16384, NULL, NULL, &lim, &s, NULL), 0);
	assert_int_equal(s.n, 100000);
	sink_free(&s);
	free(buf);
}

/* A 50 MB title is cut at the field cap; the parse goes on to the next item. */
static void test_huge_title(void **state)
{
	size_t len;
	struct sink s = {0};
	char *problem = NULL;
	char *buf =
	    repeat("<rss version=\"2.0\"><channel><item><title>", "xxxxxxxxxxxxxxxxxxxx",
	           50 * 1024 * 1024 / 20,
	           "</title></item><item><title>after</title></item></channel></rss>", &len);

	(void)state;
	assert_int_equal(run(buf, len, 65536, NULL, NULL, NULL, &s, &problem), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.max_title, 256 * 1024);
	assert_string_equal(s.last_title, "after");
	assert_non_null(problem);
	free(problem);
	sink_free(&s);
	struct fw_parse_limits lim = {.max_field = 100, .max_raw_field = 1000};
	assert_int_equal(run(buf, len, 65536, NULL, NULL, &lim, &s, NULL), 0);
	assert_int_equal(s.max_title, 100);
	sink_free(&s);
	free(buf);
}

/* The callback can stop the parse. */
static void test_stop(void **state)
{
	size_t len;
	struct sink s = {.stop_after = 1};
	char *buf = slurp(FEEDS "rss2_basic.xml", &len);

	(void)state;
	struct fw_parser *p = fw_parse_new(NULL, NULL, NULL, sink_cb, &s);
	assert_int_equal(fw_parse_push(p, buf, len), -ECANCELED);
	assert_int_equal(fw_parse_push(p, buf, len), -ECANCELED);
	fw_parse_end(p);
	assert_int_equal(s.n, 1);
	fw_parse_free(p);
	sink_free(&s);
	free(buf);
}

/* JSON Feed over max_json is refused; a truncated JSON document is not a feed. */
static void test_json_limits(void **state)
{
	size_t len;
	struct sink s = {0};
	char *buf = slurp(FEEDS "json11.json", &len);
	struct fw_parse_limits lim = {.max_json = 64};

	(void)state;
	assert_int_equal(run(buf, len, 7, NULL, NULL, &lim, &s, NULL), -EBADMSG);
	assert_int_equal(s.n, 0);
	assert_int_equal(run(buf, len / 2, 7, NULL, NULL, NULL, &s, NULL), -EBADMSG);
	sink_free(&s);
	free(buf);
}

/* Clean input reports no problem; the first problem is reported with its line. */
static void test_problem_line(void **state)
{
	const char *doc = "<rss version=\"2.0\"><channel>\n<item><title>a</title></item>\n"
	                  "<item><title>b & c</title></item></channel></rss>";
	struct sink s = {0};
	char *problem = NULL;

	(void)state;
	assert_int_equal(run(doc, strlen(doc), 0, NULL, NULL, NULL, &s, &problem), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.last_title, "b & c");
	assert_non_null(problem);
	assert_non_null(strstr(problem, "line 3"));
	free(problem);
	sink_free(&s);
	assert_null(fw_parse_free(NULL));
}

/* Parse doc at several chunk sizes; every run must give the same lines. Returns the
   output of the first (malloc()ed) and the item count in *n. */
static char *parse_doc(const char *doc, size_t len, size_t *n)
{
	static const size_t chunks[] = {0, 1, 3, 7, 61, 4096};
	char *first = NULL;

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct sink s = {0};
		assert_int_equal(run(doc, len, chunks[c], NULL, NULL, NULL, &s, NULL), 0);
		if (!first) {
			first = s.out ? strdup(s.out) : strdup("");
			*n = s.n;
		} else {
			if (strcmp(first, s.out ? s.out : "") != 0)
				print_error("chunk %zu:\n got: %s\nwant: %s\n", chunks[c],
				            s.out ? s.out : "", first);
			assert_string_equal(first, s.out ? s.out : "");
		}
		sink_free(&s);
	}
	return first;
}

static void expect_in(const char *doc, size_t want_n, const char *const *want)
{
	size_t n = 0;
	char *out = parse_doc(doc, strlen(doc), &n);

	if (n != want_n)
		print_error("items %zu, want %zu:\n%s\n", n, want_n, out);
	assert_int_equal(n, want_n);
	for (; want && *want; want++) {
		if (!strstr(out, *want))
			print_error("missing %s in:\n%s\n", *want, out);
		assert_non_null(strstr(out, *want));
	}
	free(out);
}

/* Point 2: 200 nested relative xml:base of 4,000 bytes each: the resolved base, link
   and id stay capped, every entry comes out. */
static void test_xml_base_cap(void **state)
{
	size_t hl, len;
	char *unit = malloc(4100);
	(void)state;
	assert_non_null(unit);
	strcpy(unit, "<x xml:base=\"");
	memset(unit + strlen(unit), 'a', 4000);
	strcpy(unit + 13 + 4000, "/\">");
	char *head = repeat("<feed xmlns=\"http://www.w3.org/2005/Atom\" "
	                    "xml:base=\"http://example.com/\">",
	                    unit, 200, "", &hl);
	char *buf = repeat(head,
	                   "<entry><title>t</title><id>rel-id</id><link href=\"rel/link\"/>"
	                   "</entry>",
	                   50, "</feed>", &len);
	struct sink s = {0};
	assert_int_equal(run(buf, len, 65536, NULL, NULL, NULL, &s, NULL), 0);
	assert_int_equal(s.n, 50);
	assert_true(s.max_link > 0);
	assert_true(s.max_link <= 8192);
	assert_true(s.max_id <= 8192);
	assert_non_null(strstr(s.out, "\"link\":\"http://example.com/aaaa"));
	sink_free(&s);
	free(unit);
	free(head);
	free(buf);
}

/* Point 12: bidi controls never reach a title. */
static void test_bidi_title(void **state)
{
	const char *doc = "<rss version=\"2.0\"><channel><item><title>a\xe2\x80\xaeZ"
	                  "\xe2\x80\x8f\xe2\x81\xa6.exe&#x202E;b\xd8\x9c"
	                  "c</title></item></channel></rss>";
	const char *want[] = {"\"title\":\"aZ.exebc\"", NULL};

	(void)state;
	expect_in(doc, 1, want);
}

/* Point 14: an item nested too deep is dropped alone; the items after it come out. */
static void test_deep_item_dropped(void **state)
{
	size_t hl, ml, len;
	char *head = repeat("<rss version=\"2.0\"><channel><item><title>before</title></item>"
	                    "<item><title>deep</title>",
	                    "<div>", 400, "x", &hl);
	char *mid = repeat(head, "</div>", 400, "</item>", &ml);
	char *buf = repeat(mid, "<item><title>after</title></item>", 3, "</channel></rss>", &len);
	struct sink s = {0};
	char *problem = NULL;

	(void)state;
	assert_int_equal(run(buf, len, 4096, NULL, NULL, NULL, &s, &problem), 0);
	assert_int_equal(s.n, 4);
	assert_null(strstr(s.out, "\"deep\""));
	assert_string_equal(s.last_title, "after");
	assert_non_null(problem);
	free(problem);
	sink_free(&s);
	assert_int_equal(run(buf, len, 1, NULL, NULL, NULL, &s, NULL), 0);
	assert_int_equal(s.n, 4);
	sink_free(&s);
	free(head);
	free(mid);
	free(buf);
	/* 10,000 levels left open: the item's end tag closes them, later items come out */
	head = repeat("<rss version=\"2.0\"><channel><item><title>before</title></item>"
	              "<item><title>deep</title>",
	              "<div><p>", 5000, "x</item>", &hl);
	buf = repeat(head, "<item><title>after</title><description><b>b</description></item>", 3,
	             "</channel></rss>", &len);
	assert_int_equal(run(buf, len, 4096, NULL, NULL, NULL, &s, NULL), 0);
	assert_int_equal(s.n, 4);
	assert_null(strstr(s.out, "\"deep\""));
	assert_string_equal(s.last_title, "after");
	sink_free(&s);
	free(head);
	free(buf);
}

/* Point 16: attribute values are unescaped exactly once. */
static void test_attr_entities(void **state)
{
	const char *doc =
	    "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>e1</id>"
	    "<link href=\"http://e.com/?a=1&amp;b=2&#x26;c=3&#38;d=&quot;q&quot;&lt;&amp;amp;\"/>"
	    "<category term=\"A&amp;B\"/><category term=\"t\" label=\"x &lt;y&gt; &#233;\"/>"
	    "</entry></feed>";
	const char *want[] = {"\"link\":\"http://e.com/?a=1&b=2&c=3&d=\\\"q\\\"<&amp;\"",
	                      "\"categories\":[\"A&B\",\"x <y> \xc3\xa9\"]", NULL};

	(void)state;
	expect_in(doc, 1, want);
}

/* Point 17: RSS with a default namespace on <rss>. */
static void test_rss_default_ns(void **state)
{
	const char *doc = "<rss xmlns=\"http://backend.userland.com/rss2\" version=\"2.0\">"
	                  "<channel><title>T</title><item><title>a</title>"
	                  "<link>http://x.example/a</link></item></channel></rss>";
	const char *doc2 = "<rss version=\"2.0\" xmlns=\"urn:anything\"><channel><item>"
	                   "<title>b</title><guid>g</guid></item></channel></rss>";
	const char *want[] = {"\"title\":\"a\"", "\"link\":\"http://x.example/a\"", NULL};
	const char *want2[] = {"\"title\":\"b\"", "\"id\":\"g\"", NULL};

	(void)state;
	expect_in(doc, 1, want);
	expect_in(doc2, 1, want2);
}

/* Point 18: bytes that are not UTF-8 in an undeclared (or UTF-8) document are
   windows-1252; valid UTF-8 beside them stays. */
static void test_cp1252_fallback(void **state)
{
	const char *doc = "<rss version=\"2.0\"><channel><item><title>don\x92t caf\xe9 "
	                  "\x93q\x94 \xc3\xa9t\xc3\xa9 \x80</title></item></channel></rss>";
	const char *doc2 = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\">"
	                   "<channel><item><title>it\x92s \x81x</title></item></channel></rss>";
	const char *want[] = {"\"title\":\"don\xe2\x80\x99t caf\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d "
	                      "\xc3\xa9t\xc3\xa9 \xe2\x82\xac\"",
	                      NULL};
	const char *want2[] = {"\"title\":\"it\xe2\x80\x99s \xef\xbf\xbdx\"", NULL};

	(void)state;
	expect_in(doc, 1, want);
	expect_in(doc2, 1, want2);
}

/* Point 19: junk before <?xml, and a feed wrapped in <html><body>. */
static void test_wrapped_feed(void **state)
{
	const char *php = "<br />\n<b>Warning</b>:  Cannot modify header information in "
	                  "<b>/var/www/feed.php</b> on line <b>3</b><br />\n"
	                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">"
	                  "<channel><item><title>a</title></item></channel></rss>";
	const char *junk = "PHP Notice: x\n\n<?xml version=\"1.0\"?><feed "
	                   "xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>b</title>"
	                   "<id>i</id></entry></feed>";
	const char *html = "<!DOCTYPE html>\n<html><head><title>page</title></head><body>"
	                   "<rss version=\"2.0\"><channel><title>F</title><item><title>c</title>"
	                   "</item></channel></rss></body></html>";
	const char *html2 = "<html><body><feed xmlns=\"http://www.w3.org/2005/Atom\">"
	                    "<title>F</title><entry><title>d</title><id>i</id></entry>"
	                    "<entry><title>e</title><id>j</id></entry></feed></body></html>";
	const char *want[] = {"\"title\":\"a\"", NULL};
	const char *want2[] = {"\"title\":\"b\"", NULL};
	const char *want3[] = {"\"title\":\"c\"", NULL};
	const char *want4[] = {"\"title\":\"d\"", "\"title\":\"e\"", NULL};
	struct sink s = {0};

	(void)state;
	expect_in(php, 1, want);
	expect_in(junk, 1, want2);
	expect_in(html, 1, want3);
	expect_in(html2, 2, want4);
	/* a page that holds no feed is still not a feed */
	const char *page = "<html><body><p>hello</p></body></html>";
	assert_int_equal(run(page, strlen(page), 0, NULL, NULL, NULL, &s, NULL), -EBADMSG);
	sink_free(&s);
}

/* Point 20: an RSS <author> with child elements gives its name. */
static void test_rss_author_children(void **state)
{
	const char *doc = "<rss version=\"2.0\"><channel><item><title>a</title><author>"
	                  "<name>Jane Roe</name><email>jane@example.com</email></author></item>"
	                  "<item><title>b</title><author>jr@example.com (J R)</author></item>"
	                  "</channel></rss>";
	const char *want[] = {"\"author\":\"Jane Roe\"", "\"author\":\"jr@example.com (J R)\"",
	                      NULL};

	(void)state;
	expect_in(doc, 2, want);
}

/* Point 21: itunes:category (nested), media:category, rdf:about, <pubdate>. */
static void test_more_fields(void **state)
{
	const char *doc =
	    "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" "
	    "xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><item><title>a</title>"
	    "<itunes:category text=\"Technology\"><itunes:category text=\"Podcasting &amp; "
	    "Audio\"/></itunes:category><media:category scheme=\"urn:x\">Music</media:category>"
	    "<pubdate>Mon, 01 Jan 2024 10:00:00 GMT</pubdate></item></channel></rss>";
	const char *rdf =
	    "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
	    "xmlns=\"http://purl.org/rss/1.0/\"><channel rdf:about=\"http://x/\">"
	    "<title>F</title></channel><item rdf:about=\"http://x/1\"><title>r</title>"
	    "</item></rdf:RDF>";
	const char *want[] = {"\"categories\":[\"Technology\",\"Podcasting & Audio\",\"Music\"]",
	                      "\"published\":\"2024-01-01T10:00:00Z\"", NULL};
	const char *want2[] = {"\"id\":\"http://x/1\"", NULL};

	(void)state;
	expect_in(doc, 1, want);
	expect_in(rdf, 1, want2);
}

/* Point 21: entities of the internal DTD subset are expanded, bounded; external and
   parameter entities never are, recursion and billion laughs stay bounded. */
static void test_internal_entities(void **state)
{
	const char *doc =
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n"
	    "<!ENTITY who \"Jane &amp; John\">\n"
	    "<!ENTITY greet \"Hi &who;! <b>\">\n"
	    "<!ENTITY ext SYSTEM \"file:///etc/passwd\">\n"
	    "<!ENTITY % pe \"x\">\n"
	    "<!ENTITY a \"&b;\"><!ENTITY b \"&a;\">\n"
	    "<!-- a comment with a \" quote and > -->\n"
	    "<!ENTITY q 'say \"x\"'>\n"
	    "<!ENTITY raw \"1 < 2\">\n"
	    "]>\n<rss version=\"2.0\"><channel><item><title>&greet; &ext; &a;</title>"
	    "<link>http://e.example/?q=&who;</link><category term=\"&q;\">&q;</category>"
	    "<guid>&raw;</guid>"
	    "</item></channel></rss>";
	/* the title is HTML: the <b> from the entity is a tag there, as if written in it */
	const char *want[] = {"\"title\":\"Hi Jane & John! &ext; &a;\"", "\"id\":\"1 < 2\"",
	                      "\"link\":\"http://e.example/?q=Jane & John\"",
	                      "\"categories\":[\"say \\\"x\\\"\"]", NULL};
	size_t len, n;
	char *buf = slurp(FEEDS "hostile_billion_laughs.xml", &len);

	(void)state;
	expect_in(doc, 1, want);
	char *out = parse_doc(buf, len, &n);
	assert_int_equal(n, 1);
	assert_true(strlen(out) < 2 * 1024 * 1024);
	free(out);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixtures),          cmocka_unit_test(test_format),
	    cmocka_unit_test(test_feed_level),        cmocka_unit_test(test_websub_links),
	    cmocka_unit_test(test_next_page_link),    cmocka_unit_test(test_base_url),
	    cmocka_unit_test(test_not_a_feed),        cmocka_unit_test(test_xxe),
	    cmocka_unit_test(test_deep_nesting),      cmocka_unit_test(test_many_items),
	    cmocka_unit_test(test_huge_title),        cmocka_unit_test(test_stop),
	    cmocka_unit_test(test_json_limits),       cmocka_unit_test(test_problem_line),
	    cmocka_unit_test(test_xml_base_cap),      cmocka_unit_test(test_bidi_title),
	    cmocka_unit_test(test_deep_item_dropped), cmocka_unit_test(test_attr_entities),
	    cmocka_unit_test(test_rss_default_ns),    cmocka_unit_test(test_cp1252_fallback),
	    cmocka_unit_test(test_wrapped_feed),      cmocka_unit_test(test_rss_author_children),
	    cmocka_unit_test(test_more_fields),       cmocka_unit_test(test_internal_entities),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
