/*
 * fuzz_websub.c - libFuzzer target for the WebSub callback's request handling
 * (fw_websub_handle, websub.c): verification of intent (query arguments hub.mode,
 * hub.topic, hub.challenge, hub.lease_seconds, hub.reason), denials, and content
 * distribution with X-Hub-Signature parsing and checking; and fw_websub_signature_check on
 * its own. The HTTP layer itself is libmicrohttpd's.
 *
 * Input, split at the first four newlines: method ("G..." GET, "P..." POST, else as is),
 * path (the text TOKEN is replaced by the subscription's callback token), the query
 * ("k=v&k=v", %XX decoded as MHD does), the X-Hub-Signature value ("-" for none), then the
 * body. Each input meets a fresh subscriber with one subscription waiting for
 * verification, of feed "f" to topic http://t/ at hub http://h/ (no network: no request
 * leaves).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "config.h"
#include "websub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 16

struct fuzz_req {
	char *keys[MAX_ARGS], *vals[MAX_ARGS];
	size_t n;
	const char *sig;
};

static int push_cb(void *arg, const char *feed, const char *body, size_t len)
{
	(void)arg;
	(void)feed;
	(void)body;
	(void)len;
	return 0;
}

static const char *arg_of(const struct fw_httpserver_request *r, const char *key)
{
	const struct fuzz_req *q = r->impl;

	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->keys[i], key) == 0)
			return q->vals[i];
	return NULL;
}

static const char *header_of(const struct fw_httpserver_request *r, const char *name)
{
	const struct fuzz_req *q = r->impl;

	return strcasecmp(name, "X-Hub-Signature") == 0 ? q->sig : NULL;
}

/* %XX and '+' decoded in place, as MHD_http_unescape does. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '%' && s[1] && s[2] && strchr("0123456789abcdefABCDEF", s[1]) &&
		    strchr("0123456789abcdefABCDEF", s[2])) {
			char hex[3] = {s[1], s[2], 0};

			*w++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*w++ = *s == '+' ? ' ' : *s;
		}
	}
	*w = 0;
}

static void parse_query(struct fuzz_req *q, char *query)
{
	char *save = NULL;

	for (char *kv = strtok_r(query, "&", &save); kv && q->n < MAX_ARGS;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq++ = 0;
		unescape(kv);
		if (eq)
			unescape(eq);
		q->keys[q->n] = kv;
		q->vals[q->n++] = eq ? eq : (char *)"";
	}
}

/* Split at the next newline (or the end). */
static char *field(char **p, char *end)
{
	char *s = *p, *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;

	if (nl == NULL) {
		*p = end;
		return s;
	}
	*nl = 0;
	*p = nl + 1;
	return s;
}

/* path with TOKEN replaced by token (malloc()ed). */
static char *with_token(const char *path, const char *token)
{
	const char *t = strstr(path, "TOKEN");
	size_t n = strlen(path) + (token ? strlen(token) : 0) + 1;
	char *out = malloc(n);

	if (out == NULL)
		return NULL;
	if (t == NULL || token == NULL) {
		memcpy(out, path, strlen(path) + 1);
		return out;
	}
	memcpy(out, path, (size_t)(t - path));
	strcpy(out + (t - path), token);
	strcat(out, t + 5);
	return out;
}

static void run_one(char *buf, size_t size)
{
	static struct fw_config cfg; /* only the keys the subscriber reads */
	struct fw_metrics m = {0};
	uv_loop_t loop;
	struct fw_websub_env env = {.loop = &loop, .metrics = &m, .push = push_cb};
	struct fw_websub *ws = NULL;
	struct fuzz_req q = {0};
	struct fw_httpserver_reply rep = {0};
	char err[128], *p = buf, *end = buf + size, *method, *path, *query, *sig, *full;
	bool sha1;

	cfg.websub.enabled = true;
	cfg.websub.callback_url = (char *)"http://127.0.0.1:1/websub";
	cfg.websub.lease = 3600;
	cfg.websub.insecure_hubs = true; /* the hub below is http://: asked, so reachable */
	cfg.max_body = 1 << 20;
	cfg.user_agent = (char *)"fuzz";
	method = field(&p, end);
	path = field(&p, end);
	query = field(&p, end);
	sig = field(&p, end);
	*end = 0;
	if (uv_loop_init(&loop) != 0)
		return;
	if (fw_websub_new(&env, &cfg, &ws, err, sizeof(err)) == 0) {
		struct fw_httpserver_request req = {.arg = arg_of, .header = header_of, .impl = &q};

		fw_websub_discovered(ws, "f", "http://h/", "http://t/");
		full = with_token(path, fw_websub_token(ws, "f"));
		parse_query(&q, query);
		q.sig = strcmp(sig, "-") == 0 ? NULL : sig;
		req.method = method[0] == 'G' ? "GET" : method[0] == 'P' ? "POST" : method;
		req.path = full ? full : path;
		req.body = p;
		req.body_len = (size_t)(end - p);
		fw_websub_handle(ws, &req, &rep);
		free(rep.body);
		/* a second request after the first changed the state (verified, denied, ...) */
		rep = (struct fw_httpserver_reply){0};
		req.method = "POST";
		fw_websub_handle(ws, &req, &rep);
		free(rep.body);
		free(full);
		fw_websub_close(ws);
	}
	fw_websub_signature_check("secret", sig, p, (size_t)(end - p), &sha1);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	run_one(buf, size);
	free(buf);
	return 0;
}
