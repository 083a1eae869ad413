/* websub_hub.c - (un)subscription requests to hubs (WebSub 5.1), on the daemon's curl multi. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "net.h"
#include "websub_int.h"

#define FW_HUB_TIMEOUT  30   /* seconds for the hub to answer a request */
#define FW_HUB_BODY_MAX 4096 /* bytes of the hub's answer kept for the log */

struct fw_websub_req {
	struct fw_websub *ws;
	char *token;
	bool unsubscribe;
	CURL *easy;
	char *post;
	char body[FW_HUB_BODY_MAX + 1];
	size_t body_len;
	char errbuf[CURL_ERROR_SIZE];
	struct fw_websub_req *next;
};

static void req_free(struct fw_websub_req *r)
{
	struct fw_websub_req **pp = &r->ws->reqs;

	while (*pp && *pp != r)
		pp = &(*pp)->next;
	if (*pp)
		*pp = r->next;
	for (size_t i = 0; i < r->ws->n; i++)
		if (r->ws->v[i]->req == r)
			r->ws->v[i]->req = NULL;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	free(r->post);
	free(r->token);
	free(r);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fw_websub_req *r = arg;
	size_t len = size * nmemb, room = FW_HUB_BODY_MAX - r->body_len;

	memcpy(r->body + r->body_len, data, len < room ? len : room);
	r->body_len += len < room ? len : room;
	r->body[r->body_len] = 0;
	return len;
}

static void done_cb(CURL *easy, CURLcode code, void *arg)
{
	struct fw_websub_req *r = arg;
	char why[512];
	long status = 0;
	bool ok;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	ok = code == CURLE_OK && status >= 200 && status <= 299;
	if (code != CURLE_OK)
		snprintf(why, sizeof(why), "%s%s%s", curl_easy_strerror(code),
		         r->errbuf[0] ? ": " : "", r->errbuf);
	else
		snprintf(why, sizeof(why), "HTTP %ld%s%.200s", status, r->body_len ? ": " : "",
		         r->body);
	if (code != CURLE_ABORTED_BY_CALLBACK)
		fw_websub_request_done(r->ws, r->token, r->unsubscribe, ok, why);
	req_free(r);
}

/* "key=value" URL-encoded, appended with '&'. false on allocation failure. */
static bool form_add(CURL *easy, char **post, const char *key, const char *value)
{
	char *v = curl_easy_escape(easy, value, 0), *n = NULL;
	bool ok = v && asprintf(&n, "%s%s%s=%s", *post ? *post : "", *post ? "&" : "", key, v) >= 0;

	curl_free(v);
	if (!ok)
		return false;
	free(*post);
	*post = n;
	return true;
}

/* The form of WebSub 5.1: callback (callback_url/token), mode, topic, lease, secret. */
static int build_form(struct fw_websub *ws, struct fw_websub_req *r, struct fw_websub_sub *sub,
                      const char *mode)
{
	const char *base = ws->callback;
	size_t bl = strlen(base);
	char *callback = NULL, lease[32];
	int ok;

	if (asprintf(&callback, "%.*s/%s", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base,
	             sub->token) < 0)
		return -ENOMEM;
	snprintf(lease, sizeof(lease), "%lld", (long long)ws->cfg->websub.lease);
	ok = form_add(r->easy, &r->post, "hub.callback", callback) &&
	     form_add(r->easy, &r->post, "hub.mode", mode) &&
	     form_add(r->easy, &r->post, "hub.topic", sub->topic) &&
	     (r->unsubscribe || (form_add(r->easy, &r->post, "hub.lease_seconds", lease) &&
	                         form_add(r->easy, &r->post, "hub.secret", sub->secret)));
	free(callback);
	return ok ? 0 : -ENOMEM;
}

/* See websub_int.h. */
int fw_websub_hub_request(struct fw_websub *ws, struct fw_websub_sub *sub, const char *mode)
{
	struct fw_websub_req *r;
	int rc;

	if (ws->env.net == NULL || ws->callback == NULL)
		return -ENOTCONN;
	if (sub->req)
		return -EBUSY;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->ws = ws;
	r->unsubscribe = strcmp(mode, "unsubscribe") == 0;
	r->token = strdup(sub->token);
	r->easy = curl_easy_init();
	r->next = ws->reqs;
	ws->reqs = r;
	if (r->token == NULL || r->easy == NULL || (rc = build_form(ws, r, sub, mode)) < 0) {
		req_free(r);
		return -ENOMEM;
	}
	curl_easy_setopt(r->easy, CURLOPT_URL, sub->hub);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->post);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, ws->cfg->user_agent);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, (long)FW_HUB_TIMEOUT);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, (long)ws->cfg->connect_timeout);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	/* a hub may move: follow a few redirects, the POST staying a POST */
	curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(r->easy, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(r->easy, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	if ((rc = fw_net_add(ws->env.net, r->easy, done_cb, r)) < 0) {
		req_free(r);
		return rc;
	}
	sub->req = r;
	return 0;
}

/* See websub_int.h. */
void fw_websub_hub_cancel(struct fw_websub *ws, struct fw_websub_req *r)
{
	fw_net_cancel(ws->env.net, r->easy);
	req_free(r);
}

/* See websub_int.h. */
void fw_websub_hub_cancel_all(struct fw_websub *ws)
{
	while (ws->reqs) {
		fw_net_cancel(ws->env.net, ws->reqs->easy);
		req_free(ws->reqs);
	}
}
