/* test_net.c - the libcurl multi <-> libuv glue (daemon/net.c) against a loopback server
   the test starts (tests/common/httpd.h): transfers complete once each, a cancelled one
   never calls back, close aborts what is in flight, caps hold, curl's timer drives
   timeouts, and every handle is closed at the end (uv_loop_close() == 0). */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "httpd.h"
#include "net.h"

#define BODY "<rss version=\"2.0\"><channel><title>t</title></channel></rss>"

static const struct fw_httpd_route routes[] = {
    {.path = "/feed", .body = BODY},
    {.path = "/slow", .body = BODY, .stall_ms = 300},
    {.path = "/hang", .body = BODY, .stall_ms = 60000},
    {.path = "/gone", .status = 404, .body = "no"},
};

/* One test's world: a loop, a net on it, a server, and a guard timer that wakes the loop
   so that waiting for a condition never blocks forever. */
struct fx {
	uv_loop_t loop;
	uv_timer_t guard;
	struct fw_net *net;
	struct fw_httpd *srv;
	int closed;
};

/* One transfer: its easy handle, the body it got, and its completions. */
struct xfer {
	CURL *easy;
	char body[4096];
	size_t len;
	int calls;
	CURLcode result;
	long status;
	uv_thread_t loop_thread;
	bool on_loop;
};

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (x->len + len < sizeof(x->body)) {
		memcpy(x->body + x->len, data, len);
		x->len += len;
	}
	return len;
}

static void done_cb(CURL *easy, CURLcode result, void *arg)
{
	struct xfer *x = arg;
	uv_thread_t self = uv_thread_self();

	assert_ptr_equal(easy, x->easy);
	x->calls++;
	x->result = result;
	x->on_loop = uv_thread_equal(&self, &x->loop_thread);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
}

static void xfer_init(struct xfer *x, const char *url, long timeout_ms)
{
	memset(x, 0, sizeof(*x));
	x->loop_thread = uv_thread_self();
	x->easy = curl_easy_init();
	assert_non_null(x->easy);
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	if (timeout_ms > 0)
		curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
}

static void guard_cb(uv_timer_t *t)
{
	(void)t;
}

static void fx_open(struct fx *f, long max_total, long max_host)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
	assert_int_equal(fw_net_new(&f->loop, max_total, max_host, &f->net), 0);
	assert_int_equal(fw_httpd_start(routes, sizeof(routes) / sizeof(routes[0]), &f->srv), 0);
}

static void closed_cb(void *arg)
{
	((struct fx *)arg)->closed++;
}

/* Close the net and the guard: the loop must end by itself with nothing left open. */
static void fx_close(struct fx *f)
{
	fw_net_close(f->net, closed_cb, f);
	uv_close((uv_handle_t *)&f->guard, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(f->closed, 1);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	f->srv = fw_httpd_stop(f->srv);
}

/* Run the loop until pred(arg) holds or ms pass; whether it held. */
static bool run_until(struct fx *f, bool (*pred)(void *), void *arg, unsigned ms)
{
	uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
	bool ok;

	uv_timer_start(&f->guard, guard_cb, 20, 20);
	while (!(ok = pred(arg)) && uv_hrtime() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->guard);
	return ok;
}

static bool called(void *arg)
{
	return ((struct xfer *)arg)->calls > 0;
}

struct all {
	struct xfer *x;
	size_t n;
};

static bool all_called(void *arg)
{
	struct all *a = arg;

	for (size_t i = 0; i < a->n; i++)
		if (a->x[i].calls == 0)
			return false;
	return true;
}

struct hits {
	struct fw_httpd *srv;
	const char *path;
	unsigned want;
};

static bool hit(void *arg)
{
	struct hits *h = arg;

	return fw_httpd_hits(h->srv, h->path) >= h->want;
}

/* One transfer: its callback runs once, on the loop thread, with the whole body; the easy
   handle is the caller's again (out of the multi) and can be reused. */
static void test_one_transfer(void **state)
{
	struct fx f;
	struct xfer x;
	char url[128];

	(void)state;
	fx_open(&f, 0, 0);
	xfer_init(&x, fw_httpd_url(f.srv, "/feed", url, sizeof(url)), 0);
	assert_int_equal(fw_net_add(f.net, x.easy, done_cb, &x), 0);
	assert_int_equal(fw_net_active(f.net), 1);
	assert_true(run_until(&f, called, &x, 10000));
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.result, CURLE_OK);
	assert_true(x.on_loop);
	assert_int_equal(x.status, 200);
	assert_int_equal(x.len, strlen(BODY));
	assert_memory_equal(x.body, BODY, x.len);
	assert_int_equal(fw_net_active(f.net), 0);
	/* nothing runs it twice */
	run_until(&f, called, &(struct xfer){0}, 100);
	assert_int_equal(x.calls, 1);

	/* the same handle, added again after it came back: a 404 is a complete transfer */
	fw_httpd_url(f.srv, "/gone", url, sizeof(url));
	curl_easy_setopt(x.easy, CURLOPT_URL, url);
	x.calls = 0;
	x.len = 0;
	assert_int_equal(fw_net_add(f.net, x.easy, done_cb, &x), 0);
	assert_true(run_until(&f, called, &x, 10000));
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.result, CURLE_OK);
	assert_int_equal(x.status, 404);
	fx_close(&f);
	curl_easy_cleanup(x.easy);
}

/* Many transfers under connection caps: each completes exactly once, and the server
   never answers more requests at once than the per-host cap allows. */
static void test_many_under_caps(void **state)
{
	enum { N = 8 };
	struct fx f;
	struct xfer x[N];
	struct all a = {x, N};
	char url[128];

	(void)state;
	fx_open(&f, 4, 2);
	fw_httpd_url(f.srv, "/slow", url, sizeof(url));
	for (int i = 0; i < N; i++) {
		xfer_init(&x[i], url, 0);
		assert_int_equal(fw_net_add(f.net, x[i].easy, done_cb, &x[i]), 0);
	}
	assert_int_equal(fw_net_active(f.net), N);
	assert_true(run_until(&f, all_called, &a, 20000));
	for (int i = 0; i < N; i++) {
		assert_int_equal(x[i].calls, 1);
		assert_int_equal(x[i].result, CURLE_OK);
		assert_int_equal(x[i].len, strlen(BODY));
	}
	assert_int_equal(fw_net_active(f.net), 0);
	assert_int_equal(fw_httpd_hits(f.srv, "/slow"), N);
	fprintf(stderr, "requests answered at once: %u (cap 2)\n", fw_httpd_max_busy(f.srv));
	assert_true(fw_httpd_max_busy(f.srv) <= 2);
	assert_true(fw_httpd_max_busy(f.srv) >= 2); /* they do run in parallel */
	fx_close(&f);
	for (int i = 0; i < N; i++)
		curl_easy_cleanup(x[i].easy);
}

/* A cancelled transfer never calls back, leaves the count, and its handle is the
   caller's again; the transfer beside it is not disturbed. */
static void test_cancel(void **state)
{
	struct fx f;
	struct xfer hang, ok;
	struct hits h;
	char url[128];

	(void)state;
	fx_open(&f, 0, 0);
	xfer_init(&hang, fw_httpd_url(f.srv, "/hang", url, sizeof(url)), 0);
	xfer_init(&ok, fw_httpd_url(f.srv, "/slow", url, sizeof(url)), 0);
	assert_int_equal(fw_net_add(f.net, hang.easy, done_cb, &hang), 0);
	assert_int_equal(fw_net_add(f.net, ok.easy, done_cb, &ok), 0);
	h = (struct hits){f.srv, "/hang", 1};
	assert_true(run_until(&f, hit, &h, 10000)); /* in flight for real */
	fw_net_cancel(f.net, hang.easy);
	assert_int_equal(fw_net_active(f.net), 1);
	fw_net_cancel(f.net, hang.easy); /* a second cancel is harmless */
	assert_int_equal(fw_net_active(f.net), 1);
	assert_true(run_until(&f, called, &ok, 10000));
	assert_int_equal(ok.result, CURLE_OK);
	run_until(&f, called, &hang, 300);
	assert_int_equal(hang.calls, 0);
	assert_int_equal(fw_net_active(f.net), 0);

	/* the cancelled handle, reused: completes normally */
	fw_httpd_url(f.srv, "/feed", url, sizeof(url));
	curl_easy_setopt(hang.easy, CURLOPT_URL, url);
	assert_int_equal(fw_net_add(f.net, hang.easy, done_cb, &hang), 0);
	assert_true(run_until(&f, called, &hang, 10000));
	assert_int_equal(hang.calls, 1);
	assert_int_equal(hang.result, CURLE_OK);
	fx_close(&f);
	curl_easy_cleanup(hang.easy);
	curl_easy_cleanup(ok.easy);
}

/* Closing with transfers in flight: each callback runs exactly once, during the close,
   with CURLE_ABORTED_BY_CALLBACK; then every handle closes and the loop ends by itself. */
static void test_close_aborts_in_flight(void **state)
{
	enum { N = 3 };
	struct fx f;
	struct xfer x[N];
	struct hits h;
	char url[128];

	(void)state;
	fx_open(&f, 0, 0);
	fw_httpd_url(f.srv, "/hang", url, sizeof(url));
	for (int i = 0; i < N; i++) {
		xfer_init(&x[i], url, 0);
		assert_int_equal(fw_net_add(f.net, x[i].easy, done_cb, &x[i]), 0);
	}
	h = (struct hits){f.srv, "/hang", N};
	assert_true(run_until(&f, hit, &h, 10000));
	fw_net_close(f.net, closed_cb, &f);
	for (int i = 0; i < N; i++) {
		assert_int_equal(x[i].calls, 1);
		assert_int_equal(x[i].result, CURLE_ABORTED_BY_CALLBACK);
	}
	assert_int_equal(f.closed, 0); /* freed only once libuv has closed the handles */
	uv_close((uv_handle_t *)&f.guard, NULL);
	assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(f.closed, 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(x[i].calls, 1);
	assert_int_equal(uv_loop_close(&f.loop), 0);
	f.srv = fw_httpd_stop(f.srv);
	for (int i = 0; i < N; i++)
		curl_easy_cleanup(x[i].easy);
}

/* Closing an idle net (no transfer ever) closes everything too. */
static void test_close_idle(void **state)
{
	struct fx f;

	(void)state;
	fx_open(&f, 0, 0);
	fx_close(&f);
}

/* Transport failures complete once with curl's code: a refused connection, and a stalled
   body past CURLOPT_TIMEOUT_MS (driven by curl's timer through the loop's timer). */
static void test_failures(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	struct fx f;
	struct xfer refused, slow;
	char url[128];
	uint64_t t0;
	int fd;

	(void)state;
	fx_open(&f, 0, 0);
	/* a port nobody listens on: bound, never listened on, closed after the test */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)ntohs(a.sin_port));
	xfer_init(&refused, url, 0);
	xfer_init(&slow, fw_httpd_url(f.srv, "/hang", url, sizeof(url)), 300);
	t0 = uv_hrtime();
	assert_int_equal(fw_net_add(f.net, refused.easy, done_cb, &refused), 0);
	assert_int_equal(fw_net_add(f.net, slow.easy, done_cb, &slow), 0);
	assert_true(run_until(&f, called, &refused, 10000));
	assert_int_equal(refused.result, CURLE_COULDNT_CONNECT);
	assert_true(run_until(&f, called, &slow, 10000));
	assert_int_equal(slow.result, CURLE_OPERATION_TIMEDOUT);
	assert_true(uv_hrtime() - t0 >= 250 * 1000000ull);
	assert_true(uv_hrtime() - t0 < 5000 * 1000000ull);
	assert_int_equal(slow.len, strlen(BODY) / 2); /* the half that came */
	run_until(&f, called, &(struct xfer){0}, 100);
	assert_int_equal(refused.calls, 1);
	assert_int_equal(slow.calls, 1);
	fx_close(&f);
	close(fd);
	curl_easy_cleanup(refused.easy);
	curl_easy_cleanup(slow.easy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_transfer), cmocka_unit_test(test_many_under_caps),
	    cmocka_unit_test(test_cancel),       cmocka_unit_test(test_close_aborts_in_flight),
	    cmocka_unit_test(test_close_idle),   cmocka_unit_test(test_failures),
	};
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
