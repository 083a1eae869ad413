/*
 * test_websub.c - the WebSub subscriber (websub.c) against a real SQLite store, with no
 * network (no request leaves: env.net is NULL): pushes and their figures, which count
 * only what env.push took; the figures' store writes retried after a failure; a
 * subscription at an http:// hub unsubscribed, never renewed, and recorded insecure when
 * a reload turns insecure_hubs off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <uv.h>

#include "clock.h"
#include "config.h"
#include "store.h"
#include "websub_int.h"

struct fixture {
	char dir[64], path[96];
	struct fw_config cfg; /* only the keys the subscriber reads */
	struct fw_config_feed feed;
	struct fw_metrics m;
	uv_loop_t loop;
	struct fw_store *store;
	struct fw_websub *ws;
	int push_ret; /* what env.push answers */
	int pushed;   /* env.push calls */
};

struct fake_req {
	const char *keys[4], *vals[4];
	const char *sig;
};

static int push_cb(void *arg, const char *feed, const char *body, size_t len)
{
	struct fixture *f = arg;

	(void)feed;
	(void)body;
	(void)len;
	f->pushed++;
	return f->push_ret;
}

static const char *arg_of(const struct fw_httpserver_request *r, const char *key)
{
	const struct fake_req *q = r->impl;

	for (size_t i = 0; i < 4 && q->keys[i]; i++)
		if (strcmp(q->keys[i], key) == 0)
			return q->vals[i];
	return NULL;
}

static const char *header_of(const struct fw_httpserver_request *r, const char *name)
{
	const struct fake_req *q = r->impl;

	return strcasecmp(name, "X-Hub-Signature") == 0 ? q->sig : NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fw_websub_env env = {.metrics = &f->m, .push = push_cb, .arg = f};
	char err[256];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/fw-test-websub-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
	assert_int_equal(fw_store_open(f->path, false, &f->store, err, sizeof(err)), 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->feed.name = (char *)"f";
	f->cfg.feeds = &f->feed;
	f->cfg.n_feeds = 1;
	f->cfg.websub.enabled = true;
	f->cfg.websub.callback_url = (char *)"http://127.0.0.1:1/websub";
	f->cfg.websub.lease = 3600;
	f->cfg.websub.insecure_hubs = true;
	f->cfg.max_body = 1 << 20;
	f->cfg.user_agent = (char *)"test";
	env.loop = &f->loop;
	env.store = f->store;
	assert_int_equal(fw_websub_new(&env, &f->cfg, &f->ws, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	fw_websub_close(f->ws);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	fw_store_close(f->store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static unsigned handle(struct fixture *f, const char *method, const char *token, struct fake_req *q,
                       const char *body)
{
	char path[128];
	struct fw_httpserver_request req = {.method = method,
	                                    .path = path,
	                                    .body = body ? body : "",
	                                    .body_len = body ? strlen(body) : 0,
	                                    .arg = arg_of,
	                                    .header = header_of,
	                                    .impl = q};
	struct fw_httpserver_reply rep = {0};

	snprintf(path, sizeof(path), "/websub/%s", token);
	fw_websub_handle(f->ws, &req, &rep);
	free(rep.body);
	return rep.status;
}

/* feed f subscribed at hub (asked, then verified): its subscription. */
static struct fw_websub_sub *subscribe(struct fixture *f, const char *hub)
{
	const char *token;
	struct fake_req q = {.keys = {"hub.mode", "hub.topic", "hub.challenge"},
	                     .vals = {"subscribe", "http://t/", "c123"}};

	fw_websub_discovered(f->ws, "f", hub, "http://t/");
	token = fw_websub_token(f->ws, "f");
	assert_non_null(token);
	assert_int_equal(handle(f, "GET", token, &q, NULL), 200);
	assert_int_equal(f->ws->n, 1);
	assert_int_equal(f->ws->v[0]->state, FW_SUB_ACTIVE);
	return f->ws->v[0];
}

/* POST body to s's callback, signed with its secret. */
static unsigned push(struct fixture *f, struct fw_websub_sub *s, const char *body)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char sig[8 + 2 * EVP_MAX_MD_SIZE + 1] = "sha256=";
	struct fake_req q = {.sig = sig};

	HMAC(EVP_sha256(), s->secret, (int)strlen(s->secret), (const unsigned char *)body,
	     strlen(body), mac, &n);
	for (unsigned int i = 0; i < n; i++)
		snprintf(sig + 7 + 2 * i, 3, "%02x", mac[i]);
	return handle(f, "POST", s->token, &q, body);
}

static int row_cb(const struct fw_store_websub *w, void *arg)
{
	struct fw_store_websub *out = arg;

	if (strcmp(w->state, "active") == 0) {
		out->pushes = w->pushes;
		out->last_push = w->last_push;
	}
	return 0;
}

/* A push env.push refuses is not counted in the subscription's figures; one taken is,
   with last_push on fw_clock_now's clock. */
static void test_dropped_push_not_counted(void **state)
{
	struct fixture *f = *state;
	struct fw_websub_sub *s = subscribe(f, "https://h/");

	f->push_ret = -12; /* -ENOMEM */
	assert_int_equal(push(f, s, "<rss/>"), 202);
	assert_int_equal(f->pushed, 1);
	assert_int_equal(s->pushes, 0);
	assert_int_equal(s->last_push, 0);
	f->push_ret = 0;
	assert_int_equal(push(f, s, "<rss/>"), 202);
	assert_int_equal(s->pushes, 1);
	assert_true(s->last_push >= fw_clock_now() - 1 && s->last_push <= fw_clock_now());
}

/* The figures' write fails (a transaction is open: the write cannot be its own): they
   stay dirty and the next tick writes them. */
static void test_counts_retried(void **state)
{
	struct fixture *f = *state;
	struct fw_websub_sub *s = subscribe(f, "https://h/");
	struct fw_store_websub got = {0};

	assert_int_equal(push(f, s, "<rss/>"), 202);
	assert_int_equal(fw_store_begin(f->store), 0);
	uv_run(&f->loop, UV_RUN_ONCE); /* a tick: its write fails */
	assert_int_equal(fw_store_rollback(f->store), 0);
	uv_run(&f->loop, UV_RUN_ONCE); /* the next one */
	assert_int_equal(fw_store_websub_each(f->store, row_cb, &got), 0);
	assert_int_equal(got.pushes, 1);
	assert_int_equal(got.last_push, s->last_push);
}

/* insecure_hubs turned off by a reload: the active subscription at the http:// hub is
   being unsubscribed, an insecure record says why, and no renewal is ever asked. */
static void test_reload_insecure(void **state)
{
	struct fixture *f = *state;
	struct fw_websub_sub *s = subscribe(f, "http://h/");
	char err[128];

	f->cfg.websub.insecure_hubs = false;
	assert_int_equal(fw_websub_reload(f->ws, &f->cfg, err, sizeof(err)), 0);
	assert_int_equal(f->ws->n, 2);
	assert_int_equal(s->state, FW_SUB_UNSUBSCRIBING);
	assert_int_equal(f->ws->v[1]->state, FW_SUB_INSECURE);
	assert_string_equal(fw_websub_token(f->ws, "f"), f->ws->v[1]->token);
	/* a pushed one is no longer taken */
	assert_int_equal(push(f, s, "<rss/>"), 410);
	assert_int_equal(f->pushed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dropped_push_not_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_counts_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_insecure, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
