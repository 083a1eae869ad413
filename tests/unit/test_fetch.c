/* test_fetch.c - one poll (daemon/fetch.c) through the real net and parser thread against
   a loopback server the test starts (tests/common/httpd.h): a 200 parsed into items, the
   conditional GET and its 304, the max_body cap (also on gzip-decoded bytes), a timeout,
   Retry-After, a permanent redirect, cut-off and error responses, cancel and shutdown.
   Only the public API of fetch.h and net.h is used. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fetch.h"
#include "fold.h"
#include "httpd.h"

#define ITEM(n)                                                                                    \
	"<item><title>Story " #n "</title><link>https://example.org/" #n "</link>"                 \
	"<guid>g" #n "</guid></item>"
#define FEED3                                                                                      \
	"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><ttl>30</ttl>" ITEM( \
	    1) ITEM(2) ITEM(3) "</channel></rss>"
#define FEED5                                                                                      \
	"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>" ITEM(1) ITEM(2)    \
	    ITEM(3) ITEM(4) ITEM(5) "</channel></rss>"

/* One test's world: a loop with a net, a server with the test's routes, one poll. */
struct fx {
	uv_loop_t loop;
	uv_timer_t guard; /* wakes the loop while a test waits for a condition */
	struct fw_net *net;
	struct fw_parsework *pw;
	struct fw_httpd *srv;
	int closed;
	/* the poll's outcome, moved out of the callback as the daemon does */
	int calls;
	bool on_loop;
	uv_thread_t loop_thread;
	struct fw_fetch_result res;
};

static void guard_cb(uv_timer_t *t)
{
	(void)t;
}

static void fx_open(struct fx *f, const struct fw_httpd_route *routes, size_t n)
{
	memset(f, 0, sizeof(*f));
	f->loop_thread = uv_thread_self();
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
	assert_int_equal(fw_net_new(&f->loop, 0, 0, &f->net), 0);
	assert_int_equal(fw_parsework_new(&f->loop, 4u << 20, &f->pw), 0);
	assert_int_equal(fw_httpd_start(routes, n, &f->srv), 0);
}

static void closed_cb(void *arg)
{
	((struct fx *)arg)->closed++;
}

/* Close everything: the loop must end by itself with no handle left. */
static void fx_close(struct fx *f)
{
	fw_net_close(f->net, closed_cb, f);
	fw_parsework_close(f->pw, NULL, NULL); /* after the net: every fetch is over */
	uv_close((uv_handle_t *)&f->guard, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(f->closed, 1);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	f->srv = fw_httpd_stop(f->srv);
	fw_fetch_result_clear(&f->res);
}

static void fetch_cb(struct fw_fetch_result *res, void *arg)
{
	struct fx *f = arg;
	uv_thread_t self = uv_thread_self();

	f->calls++;
	f->on_loop = uv_thread_equal(&self, &f->loop_thread);
	fw_fetch_result_clear(&f->res);
	f->res = *res;
	memset(res, 0, sizeof(*res)); /* moved: the fetch frees nothing of it */
}

static void run_until_done(struct fx *f, unsigned ms)
{
	uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;

	uv_timer_start(&f->guard, guard_cb, 20, 20);
	while (f->calls == 0 && uv_hrtime() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->guard);
	assert_int_equal(f->calls, 1);
	assert_true(f->on_loop);
}

static void run_for(struct fx *f, unsigned ms)
{
	uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;

	uv_timer_start(&f->guard, guard_cb, 20, 20);
	while (uv_hrtime() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->guard);
}

/* Run the loop until the server has had n requests for path (at most 10 s), then ms more. */
static void run_until_hits(struct fx *f, const char *path, unsigned n, unsigned ms)
{
	uint64_t end = uv_hrtime() + 10000 * 1000000ull;

	uv_timer_start(&f->guard, guard_cb, 20, 20);
	while (fw_httpd_hits(f->srv, path) < n && uv_hrtime() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->guard);
	assert_int_equal(fw_httpd_hits(f->srv, path), n);
	run_for(f, ms);
}

static struct fw_fetch_opts opts_for(struct fx *f, const char *path, char *url, size_t size)
{
	return (struct fw_fetch_opts){.url = fw_httpd_url(f->srv, path, url, size),
	                              .user_agent = "feedwatch-test/1",
	                              .timeout = 20,
	                              .connect_timeout = 5};
}

/* Start a poll of path with o and wait for its one callback. */
static void poll_once(struct fx *f, const struct fw_fetch_opts *o)
{
	struct fw_fetch *h = NULL;

	assert_int_equal(fw_fetch_start(f->net, f->pw, o, fetch_cb, f, &h), 0);
	assert_non_null(h);
	run_until_done(f, 30000);
}

/* A 200: the items are parsed (on the parser thread, each with its hash) in document
   order; the validators, cache hints and <ttl> are read; the request carries the
   User-Agent, the Accept list and the extra headers, and no validators on a first poll. */
static void test_200_items(void **state)
{
	static const struct fw_httpd_route routes[] = {
	    {.path = "/feed",
	     .body = FEED3,
	     .etag = "\"v1\"",
	     .headers = "Last-Modified: Tue, 18 Jun 2024 19:44:00 GMT\r\n"
	                "Cache-Control: public, max-age=300\r\n"
	                "Content-Type: application/rss+xml\r\n"},
	};
	static const char *const extra[] = {"X-Extra: yes"};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128], h[512];

	(void)state;
	fx_open(&f, routes, 1);
	o = opts_for(&f, "/feed", url, sizeof(url));
	o.headers = extra;
	o.n_headers = 1;
	poll_once(&f, &o);
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.status, 200);
	assert_false(f.res.not_modified);
	assert_int_equal(f.res.n_items, 3);
	for (size_t i = 0; i < 3; i++) {
		char want[32];

		snprintf(want, sizeof(want), "Story %zu", i + 1);
		assert_string_equal(f.res.items[i]->title, want);
		assert_true(f.res.hashes[i] == fw_item_hash(f.res.items[i]));
	}
	assert_string_equal(f.res.items[0]->id, "g1");
	assert_string_equal(f.res.format, "rss2.0");
	assert_string_equal(f.res.etag, "\"v1\"");
	assert_string_equal(f.res.last_modified, "Tue, 18 Jun 2024 19:44:00 GMT");
	assert_int_equal(f.res.max_age, 300);
	assert_int_equal(f.res.ttl, 30);
	assert_int_equal(f.res.retry_after, -1);
	assert_int_equal(f.res.dropped, 0);
	assert_int_equal(f.res.bytes, (int64_t)strlen(FEED3));
	assert_null(f.res.moved_url);
	assert_null(f.res.problem);
	assert_int_equal(fw_httpd_header(f.srv, "/feed", "User-Agent", h, sizeof(h)), 0);
	assert_string_equal(h, "feedwatch-test/1");
	assert_int_equal(fw_httpd_header(f.srv, "/feed", "X-Extra", h, sizeof(h)), 0);
	assert_string_equal(h, "yes");
	assert_int_equal(fw_httpd_header(f.srv, "/feed", "Accept", h, sizeof(h)), 0);
	assert_non_null(strstr(h, "application/rss+xml"));
	assert_int_equal(fw_httpd_header(f.srv, "/feed", "If-None-Match", h, sizeof(h)), -ENOENT);
	assert_int_equal(fw_httpd_header(f.srv, "/feed", "If-Modified-Since", h, sizeof(h)),
	                 -ENOENT);
	fx_close(&f);
}

/* WebSub discovery (W3C WebSub 4): Link headers (RFC 8288, several links in one header or
   several headers, rel lists, relative URLs resolved) come before the body's atom:link;
   the body fills what the headers lack. */
static void test_websub_link(void **state)
{
	static const struct fw_httpd_route routes[] = {
	    {.path = "/both",
	     .body = FEED3,
	     .headers =
	         "Link: <https://pub.example/>; rel=\"alternate\", </topic>; rel=\"self\"\r\n"
	         "Link: <https://hub.example/x>;rel=\"first hub\", <https://hub2.example/>; "
	         "rel=hub\r\n"},
	    {.path = "/self-only",
	     .body = "<?xml version=\"1.0\"?><rss version=\"2.0\" "
	             "xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>t</title>"
	             "<atom:link rel=\"hub\" href=\"https://body-hub.example/\"/>"
	             "<atom:link rel=\"self\" href=\"https://body-self.example/\"/>"
	             "</channel></rss>",
	     .headers = "Link: <https://self.example/feed>; rel=self; title=\"hub\"\r\n"},
	};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128], want[160];

	(void)state;
	fx_open(&f, routes, 2);
	o = opts_for(&f, "/both", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, 0);
	assert_string_equal(f.res.hub, "https://hub.example/x");
	fw_httpd_url(f.srv, "/topic", want, sizeof(want));
	assert_string_equal(f.res.self, want);
	f.calls = 0;
	o = opts_for(&f, "/self-only", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, 0);
	assert_string_equal(f.res.self, "https://self.example/feed");
	assert_string_equal(f.res.hub, "https://body-hub.example/");
	fx_close(&f);
}

/* The validators of the last 200 go back as If-None-Match and If-Modified-Since; the 304
   is not_modified (no error, no items) and keeps the ETag it carries. */
static void test_conditional_get(void **state)
{
	static const struct fw_httpd_route routes[] = {
	    {.path = "/feed", .body = FEED3, .etag = "\"v1\""},
	};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128], h[512];

	(void)state;
	fx_open(&f, routes, 1);
	o = opts_for(&f, "/feed", url, sizeof(url));
	o.etag = "\"v1\"";
	o.last_modified = "Tue, 18 Jun 2024 19:44:00 GMT";
	poll_once(&f, &o);
	assert_int_equal(fw_httpd_header(f.srv, "/feed", "If-None-Match", h, sizeof(h)), 0);
	assert_string_equal(h, "\"v1\"");
	assert_int_equal(fw_httpd_header(f.srv, "/feed", "If-Modified-Since", h, sizeof(h)), 0);
	assert_string_equal(h, "Tue, 18 Jun 2024 19:44:00 GMT");
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.status, 304);
	assert_true(f.res.not_modified);
	assert_int_equal(f.res.n_items, 0);
	assert_string_equal(f.res.etag, "\"v1\"");

	/* a stale ETag gets the full body again */
	f.calls = 0;
	o.etag = "\"v0\"";
	poll_once(&f, &o);
	assert_int_equal(f.res.status, 200);
	assert_false(f.res.not_modified);
	assert_int_equal(f.res.n_items, 3);
	fx_close(&f);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *b = malloc(hl + ul * n + tl + 1), *p = b;

	assert_non_null(b);
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return b;
}

/* max_body is counted on the bytes after decoding: a streamed body (no Content-Length) over
   it and a small gzip body that inflates past it both end in -EFBIG, cut off near the
   cap; a small gzip feed is asked for (Accept-Encoding) and decoded. */
static void test_max_body_and_gzip(void **state)
{
	char *big = repeat("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>",
	                   "<item><title>padding padding</title></item>", 5000, "</channel></rss>");
	char *bomb = repeat("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>", "x",
	                    8u << 20, "</title></channel></rss>");
	const struct fw_httpd_route routes[] = {
	    {.path = "/big", .body = big, .no_length = true},
	    {.path = "/bomb", .body = bomb, .gzip = true},
	    {.path = "/gz", .body = FEED3, .gzip = true},
	};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128], h[512];

	(void)state;
	fx_open(&f, routes, 3);
	o = opts_for(&f, "/big", url, sizeof(url));
	o.max_body = 64 * 1024;
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EFBIG);
	assert_non_null(strstr(f.res.error_text, "max_body"));
	assert_true(f.res.bytes > 64 * 1024 && f.res.bytes < 1024 * 1024);

	f.calls = 0;
	o = opts_for(&f, "/bomb", url, sizeof(url));
	o.max_body = 64 * 1024;
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EFBIG);
	assert_true(f.res.bytes > 64 * 1024 && f.res.bytes < 1024 * 1024);

	f.calls = 0;
	o = opts_for(&f, "/gz", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(fw_httpd_header(f.srv, "/gz", "Accept-Encoding", h, sizeof(h)), 0);
	assert_non_null(strstr(h, "gzip"));
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.n_items, 3);
	assert_int_equal(f.res.bytes, (int64_t)strlen(FEED3));
	fx_close(&f);
	free(big);
	free(bomb);
}

/* A body that stalls past the whole-transfer timeout (1 s) fails with -EIO, in about
   that time, and commits none of the items that came before the stall. */
static void test_timeout(void **state)
{
	static const struct fw_httpd_route routes[] = {
	    {.path = "/hang", .body = FEED5, .stall_ms = 60000},
	};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128];
	uint64_t t0;

	(void)state;
	fx_open(&f, routes, 1);
	o = opts_for(&f, "/hang", url, sizeof(url));
	o.timeout = 1;
	t0 = uv_hrtime();
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EIO);
	assert_non_null(strcasestr(f.res.error_text, "timeout"));
	assert_int_equal(f.res.n_items, 0);
	assert_true(uv_hrtime() - t0 >= 900 * 1000000ull);
	assert_true(uv_hrtime() - t0 < 10000 * 1000000ull);
	fx_close(&f);
}

/* Retry-After on a 503, in seconds and as an HTTP date; the status is an -EPROTO error
   and the error page is not parsed. */
static void test_retry_after(void **state)
{
	char date_hdr[128];
	time_t later = time(NULL) + 3600;
	struct tm tm;
	struct fw_httpd_route routes[] = {
	    {.path = "/busy",
	     .status = 503,
	     .headers = "Retry-After: 120\r\n",
	     .body = "<html>busy</html>"},
	    {.path = "/busy-date", .status = 503, .headers = date_hdr, .body = FEED3},
	};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128];

	(void)state;
	gmtime_r(&later, &tm);
	strftime(date_hdr, sizeof(date_hdr), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	fx_open(&f, routes, 2);
	o = opts_for(&f, "/busy", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EPROTO);
	assert_int_equal(f.res.status, 503);
	assert_non_null(strstr(f.res.error_text, "503"));
	assert_int_equal(f.res.retry_after, 120);
	assert_int_equal(f.res.n_items, 0);

	f.calls = 0;
	o = opts_for(&f, "/busy-date", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EPROTO);
	assert_true(f.res.retry_after >= 3500 && f.res.retry_after <= 3600);
	assert_int_equal(f.res.n_items, 0); /* a feed on an error status is not committed */
	fx_close(&f);
}

/* A 301 to the same origin is followed; the final URL is reported in moved_url so that
   the feed's URL can be updated. */
static void test_permanent_redirect(void **state)
{
	static const struct fw_httpd_route routes[] = {
	    {.path = "/old", .status = 301, .headers = "Location: /feed\r\n"},
	    {.path = "/feed", .body = FEED3},
	};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128], want[128];

	(void)state;
	fx_open(&f, routes, 2);
	o = opts_for(&f, "/old", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.status, 200);
	assert_int_equal(f.res.n_items, 3);
	assert_non_null(f.res.moved_url);
	assert_string_equal(f.res.moved_url, fw_httpd_url(f.srv, "/feed", want, sizeof(want)));
	assert_int_equal(fw_httpd_hits(f.srv, "/old"), 1);
	assert_int_equal(fw_httpd_hits(f.srv, "/feed"), 1);
	fx_close(&f);
}

/* What is not a complete feed commits nothing: a body cut off mid-way (-EIO), an HTML page
   (-EBADMSG), an empty 200 (-EBADMSG), a 500 (-EPROTO); max_items keeps the first items
   and counts the rest as dropped. */
static void test_incomplete_and_caps(void **state)
{
	static const struct fw_httpd_route routes[] = {
	    {.path = "/cut", .body = FEED5, .cut = true},
	    {.path = "/html", .body = "<!doctype html><html><body><p>hello</p></body></html>"},
	    {.path = "/empty", .body = NULL},
	    {.path = "/e500", .status = 500, .body = FEED3},
	    {.path = "/five", .body = FEED5},
	};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128];

	(void)state;
	fx_open(&f, routes, 5);
	o = opts_for(&f, "/cut", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EIO);
	assert_int_equal(f.res.n_items, 0);

	f.calls = 0;
	o = opts_for(&f, "/html", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EBADMSG);
	assert_non_null(strstr(f.res.error_text, "not a feed"));

	f.calls = 0;
	o = opts_for(&f, "/empty", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EBADMSG);

	f.calls = 0;
	o = opts_for(&f, "/e500", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, -EPROTO);
	assert_int_equal(f.res.status, 500);
	assert_int_equal(f.res.n_items, 0);

	f.calls = 0;
	o = opts_for(&f, "/five", url, sizeof(url));
	o.max_items = 2;
	poll_once(&f, &o);
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.n_items, 2);
	assert_true(f.res.dropped > 0); /* the parser stops at max_items + 1: "some" */
	assert_string_equal(f.res.items[1]->title, "Story 2");
	fx_close(&f);
}

/* The Content-Type charset reaches the parser (a Latin-9 body with no XML declaration). */
static void test_http_charset(void **state)
{
	static const struct fw_httpd_route routes[] = {
	    {.path = "/latin",
	     .headers = "Content-Type: application/rss+xml; charset=ISO-8859-15\r\n",
	     .body = "<rss version=\"2.0\"><channel><item><title>Euro \xa4</title>"
	             "<guid>e1</guid></item></channel></rss>"},
	};
	struct fx f;
	struct fw_fetch_opts o;
	char url[128];

	(void)state;
	fx_open(&f, routes, 1);
	o = opts_for(&f, "/latin", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.n_items, 1);
	assert_string_equal(f.res.items[0]->title, "Euro \xe2\x82\xac");
	fx_close(&f);
}

/* A file:// feed (where the config names a local file): status 200 and its items. */
static void test_file_url(void **state)
{
	static const struct fw_httpd_route routes[] = {{.path = "/unused"}};
	struct fx f;
	struct fw_fetch_opts o = {.user_agent = "feedwatch-test/1", .timeout = 10};
	char url[1024];

	(void)state;
	fx_open(&f, routes, 1);
	snprintf(url, sizeof(url), "file://%s/feeds/rss2_basic.xml", FW_TEST_DATA);
	o.url = url;
	poll_once(&f, &o);
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.status, 200);
	assert_true(f.res.n_items > 0);
	fx_close(&f);
}

/* With story_features, each item's story features (story.h, without entities) come
   computed on the parser thread, equal to fw_story_features of the item; the items named
   in known (the feed's last poll) come without (FW_FETCH_UNFEATURED); without
   story_features, none. */
static void test_story_features(void **state)
{
	static const struct fw_httpd_route routes[] = {{.path = "/f", .body = FEED3}};
	struct fw_fold *fold = NULL;
	struct fx f;
	char url[256];
	struct fw_fetch_opts o;
	uint32_t known;

	(void)state;
	assert_int_equal(fw_fold_new(&fold), 0);
	fx_open(&f, routes, 1);
	o = opts_for(&f, "/f", url, sizeof(url));
	poll_once(&f, &o);
	assert_int_equal(f.res.n_items, 3);
	assert_null(f.res.features);
	o.story_features = true;
	f.calls = 0;
	poll_once(&f, &o);
	assert_int_equal(f.res.n_items, 3);
	assert_non_null(f.res.features);
	for (size_t i = 0; i < f.res.n_items; i++) {
		const struct fw_item *it = f.res.items[i];
		struct fw_story_features want;

		assert_int_equal(fw_story_features(fold, it->title, it->summary, it->content, NULL,
		                                   0, &want, NULL),
		                 0);
		assert_true(want.n > 0);
		assert_int_equal(f.res.features[i].n, want.n);
		assert_int_equal(f.res.features[i].names, want.names);
		assert_memory_equal(f.res.features[i].h, want.h, want.n * sizeof(want.h[0]));
	}
	known = (uint32_t)f.res.hashes[1];
	o.known = &known;
	o.n_known = 1;
	f.calls = 0;
	poll_once(&f, &o);
	assert_int_equal(f.res.n_items, 3);
	assert_true(f.res.features[0].n > 0 && f.res.features[0].n <= FW_STORY_FEATURES);
	assert_true(f.res.features[1].n == FW_FETCH_UNFEATURED);
	assert_true(f.res.features[2].n > 0 && f.res.features[2].n <= FW_STORY_FEATURES);
	fx_close(&f);
	fw_fold_free(fold);
}

/* A document of many items: the parser thread computes the features of the first
   FW_FETCH_FEATURES_MAX only (the loop computes those of the others that are new). */
static void test_story_features_cap(void **state)
{
	char *many = repeat("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>",
	                    "<item><title>Central bank raises rates again</title></item>", 300,
	                    "</channel></rss>");
	const struct fw_httpd_route routes[] = {{.path = "/many", .body = many}};
	struct fx f;
	char url[256];
	struct fw_fetch_opts o;

	(void)state;
	fx_open(&f, routes, 1);
	o = opts_for(&f, "/many", url, sizeof(url));
	o.story_features = true;
	poll_once(&f, &o);
	assert_int_equal(f.res.error, 0);
	assert_int_equal(f.res.n_items, 300);
	assert_int_equal(f.res.n_features, FW_FETCH_FEATURES_MAX);
	assert_true(f.res.features[FW_FETCH_FEATURES_MAX - 1].n > 0);
	fx_close(&f);
	free(many);
}

/* A cancelled poll never calls back; a poll still in flight at shutdown calls back once
   with -ECANCELED; the loop then closes cleanly. */
static void test_cancel_and_shutdown(void **state)
{
	static const struct fw_httpd_route routes[] = {
	    {.path = "/hang", .body = FEED5, .stall_ms = 60000},
	};
	struct fx f;
	struct fw_fetch_opts o;
	struct fw_fetch *h = NULL;
	char url[128];

	(void)state;
	fx_open(&f, routes, 1);
	o = opts_for(&f, "/hang", url, sizeof(url));
	assert_int_equal(fw_fetch_start(f.net, f.pw, &o, fetch_cb, &f, &h), 0);
	run_until_hits(&f, "/hang", 1, 200); /* half the body is in: the parser has started */
	fw_fetch_cancel(h);
	run_for(&f, 200);
	assert_int_equal(f.calls, 0);
	assert_int_equal(fw_net_active(f.net), 0);

	assert_int_equal(fw_fetch_start(f.net, f.pw, &o, fetch_cb, &f, &h), 0);
	run_until_hits(&f, "/hang", 2, 200);
	assert_int_equal(f.calls, 0);
	fw_net_close(f.net, closed_cb, &f);
	fw_parsework_close(f.pw, NULL, NULL);
	assert_int_equal(f.calls, 1);
	assert_int_equal(f.res.error, -ECANCELED);
	assert_int_equal(f.res.n_items, 0);
	uv_close((uv_handle_t *)&f.guard, NULL);
	assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(f.closed, 1);
	assert_int_equal(uv_loop_close(&f.loop), 0);
	f.srv = fw_httpd_stop(f.srv);
	fw_fetch_result_clear(&f.res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_200_items),
	    cmocka_unit_test(test_websub_link),
	    cmocka_unit_test(test_conditional_get),
	    cmocka_unit_test(test_max_body_and_gzip),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_permanent_redirect),
	    cmocka_unit_test(test_incomplete_and_caps),
	    cmocka_unit_test(test_http_charset),
	    cmocka_unit_test(test_file_url),
	    cmocka_unit_test(test_story_features),
	    cmocka_unit_test(test_story_features_cap),
	    cmocka_unit_test(test_cancel_and_shutdown),
	};
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
