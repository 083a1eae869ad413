/* test_parsework.c - the parser thread: order, backpressure, ends back on the loop, forget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "item.h"
#include "parsework.h"

#define N_ITEMS   300
#define N_STREAMS 3

struct doc {
	struct fw_pstream ps;
	int items;    /* counted on the parser thread */
	int in_order; /* every title was "item <its index>" */
	int done;     /* done calls, on the loop */
	uv_thread_t loop_thread;
	int done_on_loop;
};

static int item_cb(struct fw_item *item, void *arg)
{
	struct doc *d = arg;
	char want[32];

	snprintf(want, sizeof(want), "item %d", d->items);
	if (item->title == NULL || strcmp(item->title, want) != 0)
		d->in_order = 0;
	d->items++;
	fw_item_free(item);
	return 0;
}

static void done_cb(struct fw_pstream *s, void *arg)
{
	struct doc *d = arg;
	uv_thread_t self = uv_thread_self();

	(void)s;
	d->done++;
	d->done_on_loop = uv_thread_equal(&self, &d->loop_thread);
}

static char *make_feed(size_t *len)
{
	size_t cap = 64 * N_ITEMS + 256, n = 0;
	char *b = malloc(cap);

	assert_non_null(b);
	n += (size_t)snprintf(b + n, cap - n,
	                      "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>"
	                      "<title>t</title>");
	for (int i = 0; i < N_ITEMS; i++)
		n += (size_t)snprintf(b + n, cap - n,
		                      "<item><title>item %d</title><guid>g%d</guid></item>", i, i);
	n += (size_t)snprintf(b + n, cap - n, "</channel></rss>");
	*len = n;
	return b;
}

static void doc_init(struct doc *d)
{
	memset(d, 0, sizeof(*d));
	d->in_order = 1;
	d->loop_thread = uv_thread_self();
	d->ps.parser = fw_parse_new(NULL, NULL, NULL, item_cb, d);
	assert_non_null(d->ps.parser);
	d->ps.done = done_cb;
	d->ps.arg = d;
}

static void closed_cb(void *arg)
{
	*(int *)arg = 1;
}

static void close_worker(uv_loop_t *loop, struct fw_parsework *pw)
{
	int closed = 0;

	fw_parsework_close(pw, closed_cb, &closed);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(closed, 1);
}

/* Three documents interleaved in 7-byte chunks through a 64-byte queue: each parser sees
   its bytes in order, each done runs once, on the loop, and the loop then ends by itself. */
static void test_order_and_done(void **state)
{
	uv_loop_t loop;
	struct fw_parsework *pw;
	struct doc d[N_STREAMS];
	size_t len;
	char *feed = make_feed(&len);

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(fw_parsework_new(&loop, 64, &pw), 0);
	for (int k = 0; k < N_STREAMS; k++)
		doc_init(&d[k]);
	for (size_t off = 0; off < len; off += 7)
		for (int k = 0; k < N_STREAMS; k++)
			assert_int_equal(fw_parsework_push(pw, &d[k].ps, feed + off,
			                                   len - off < 7 ? len - off : 7),
			                 0);
	for (int k = 0; k < N_STREAMS; k++)
		assert_int_equal(fw_parsework_end(pw, &d[k].ps), 0);
	uv_run(&loop, UV_RUN_DEFAULT); /* returns once every done ran */
	for (int k = 0; k < N_STREAMS; k++) {
		assert_int_equal(d[k].done, 1);
		assert_int_equal(d[k].done_on_loop, 1);
		assert_int_equal(d[k].ps.end_rc, 0);
		assert_int_equal(d[k].items, N_ITEMS);
		assert_int_equal(d[k].in_order, 1);
		fw_parsework_forget(pw, &d[k].ps); /* after done: nothing to do */
		fw_parse_free(d[k].ps.parser);
	}
	close_worker(&loop, pw);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(feed);
}

/* A forgotten stream's done never runs, its queued bytes are dropped, and the loop does
   not wait for it; its parser is the caller's again. */
static void test_forget(void **state)
{
	uv_loop_t loop;
	struct fw_parsework *pw;
	struct doc keep, drop;
	size_t len;
	char *feed = make_feed(&len);

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(fw_parsework_new(&loop, 1 << 20, &pw), 0);
	doc_init(&keep);
	doc_init(&drop);
	for (size_t off = 0; off < len; off += 100) {
		size_t n = len - off < 100 ? len - off : 100;

		assert_int_equal(fw_parsework_push(pw, &drop.ps, feed + off, n), 0);
		assert_int_equal(fw_parsework_push(pw, &keep.ps, feed + off, n), 0);
	}
	assert_int_equal(fw_parsework_end(pw, &drop.ps), 0);
	assert_int_equal(fw_parsework_end(pw, &keep.ps), 0);
	fw_parsework_forget(pw, &drop.ps);
	int seen = drop.items; /* the thread no longer touches drop */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(drop.done, 0);
	assert_int_equal(drop.items, seen);
	assert_true(drop.items <= N_ITEMS);
	assert_int_equal(keep.done, 1);
	assert_int_equal(keep.items, N_ITEMS);
	fw_parse_end(drop.ps.parser); /* on this thread now */
	fw_parse_free(drop.ps.parser);
	fw_parse_free(keep.ps.parser);
	close_worker(&loop, pw);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(feed);
}

/* With nothing ending, the worker's handle keeps no loop alive. */
static void test_idle_loop_ends(void **state)
{
	uv_loop_t loop;
	struct fw_parsework *pw;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(fw_parsework_new(&loop, 1024, &pw), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	close_worker(&loop, pw);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_done),
	    cmocka_unit_test(test_forget),
	    cmocka_unit_test(test_idle_loop_ends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
