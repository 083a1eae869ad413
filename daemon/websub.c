/* websub.c - the WebSub subscriber: subscriptions, leases, the callback's answers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "store.h"
#include "websub_int.h"

#define FW_WEBSUB_TICK_MS     1000
#define FW_WEBSUB_VERIFY_WAIT 600         /* seconds a hub may take to verify intent */
#define FW_WEBSUB_RETRY       3600        /* a failed request: subscribe again after this */
#define FW_WEBSUB_DENIED      86400       /* a denial: ask again after this */
#define FW_WEBSUB_URL_MAX     2048        /* hub and topic URLs kept */
#define FW_WEBSUB_HEADER_MAX  (16 * 1024) /* MHD's per-connection buffer: request line, headers */

static const char *const state_names[] = {"subscribing", "active", "denied",  "unsubscribing",
                                          "expired",     "failed", "insecure"};

/* See websub_int.h. */
const char *fw_websub_state_name(enum fw_websub_state st)
{
	return state_names[st];
}

static enum fw_websub_state state_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(*state_names); i++)
		if (strcmp(s, state_names[i]) == 0)
			return (enum fw_websub_state)i;
	return FW_SUB_FAILED;
}

/* n random bytes as 2n hex digits (getrandom: the kernel's CSPRNG). */
static char *random_hex(size_t n)
{
	unsigned char buf[64];
	char *out = n <= sizeof(buf) ? malloc(2 * n + 1) : NULL;

	if (out == NULL || getrandom(buf, n, 0) != (ssize_t)n) {
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", buf[i]);
	return out;
}

static struct fw_websub_sub *sub_free(struct fw_websub_sub *s)
{
	if (s == NULL)
		return NULL;
	free(s->token);
	free(s->feed);
	free(s->hub);
	free(s->topic);
	free(s->secret);
	free(s);
	return NULL;
}

/* Write sub's row; a store that refuses is logged (the subscription lives on in memory). */
static void sub_save(struct fw_websub *ws, struct fw_websub_sub *s)
{
	struct fw_store_websub w = {.token = s->token,
	                            .feed = s->feed,
	                            .hub = s->hub,
	                            .topic = s->topic,
	                            .secret = s->secret,
	                            .state = state_names[s->state],
	                            .lease_end = s->lease_end,
	                            .updated = time(NULL),
	                            .last_push = s->last_push,
	                            .pushes = s->pushes,
	                            .bad_signatures = s->bad_signatures};

	if (ws->env.store && fw_store_websub_save(ws->env.store, &w) < 0)
		fw_log(FW_LOG_WARNING, "websub: cannot store the subscription of feed '%s': %s",
		       s->feed, fw_store_error(ws->env.store));
	else
		s->counts_dirty = false; /* the row has them */
}

/* Write the push figures that changed (each tick and at close: a push does not wait for
   a store write of its own), all in one lazy transaction (the store's next sync makes it
   durable: no fsync per tick). A failed write leaves them dirty: the next tick retries;
   the failure is logged once until a write succeeds again. */
static void counts_save(struct fw_websub *ws)
{
	struct fw_store *st = ws->env.store;
	size_t dirty = 0;
	int r;

	for (size_t i = 0; i < ws->n; i++)
		dirty += ws->v[i]->counts_dirty;
	if (dirty == 0 || st == NULL)
		return;
	r = fw_store_begin_lazy(st);
	for (size_t i = 0; i < ws->n && r == 0; i++) {
		struct fw_websub_sub *s = ws->v[i];

		if (s->counts_dirty)
			r = fw_store_websub_counts(st, s->token, s->last_push, s->pushes,
			                           s->bad_signatures);
	}
	if (r == 0)
		r = fw_store_commit(st);
	if (r < 0) {
		if (!ws->counts_failing)
			fw_log(FW_LOG_WARNING,
			       "websub: cannot store the push figures (retried each second): %s",
			       fw_store_error(st));
		ws->counts_failing = true;
		fw_store_rollback(st);
		return;
	}
	ws->counts_failing = false;
	for (size_t i = 0; i < ws->n; i++)
		ws->v[i]->counts_dirty = false;
}

/* Forget sub: row, memory (a request in flight is cancelled by its own end). */
static void sub_drop(struct fw_websub *ws, size_t i)
{
	struct fw_websub_sub *s = ws->v[i];

	if (ws->env.store && fw_store_websub_delete(ws->env.store, s->token) < 0)
		fw_log(FW_LOG_WARNING, "websub: cannot forget a subscription of feed '%s': %s",
		       s->feed, fw_store_error(ws->env.store));
	if (s->req)
		fw_websub_hub_cancel(ws, s->req);
	ws->v[i] = ws->v[--ws->n];
	sub_free(s);
}

static int sub_add(struct fw_websub *ws, struct fw_websub_sub *s)
{
	if (ws->n == ws->cap) {
		size_t cap = ws->cap ? 2 * ws->cap : 16;
		struct fw_websub_sub **v = realloc(ws->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		ws->v = v;
		ws->cap = cap;
	}
	ws->v[ws->n++] = s;
	return 0;
}

static struct fw_websub_sub *by_token(const struct fw_websub *ws, const char *token, size_t *at)
{
	for (size_t i = 0; i < ws->n; i++)
		if (strcmp(ws->v[i]->token, token) == 0) {
			if (at)
				*at = i;
			return ws->v[i];
		}
	return NULL;
}

/* The feed's subscription that is not being ended, or NULL. */
static struct fw_websub_sub *by_feed(const struct fw_websub *ws, const char *feed)
{
	for (size_t i = 0; i < ws->n; i++)
		if (ws->v[i]->state != FW_SUB_UNSUBSCRIBING && strcmp(ws->v[i]->feed, feed) == 0)
			return ws->v[i];
	return NULL;
}

/* May a subscription (which sends hub.secret) go to hub? https://, or http:// when the
   config's insecure_hubs allows it (WebSub 5.1: hub.secret only over HTTPS). The one test:
   discovery, ask, the store's subscriptions at start and reload, renewals. */
static bool hub_allowed(const struct fw_websub *ws, const char *hub)
{
	return strncmp(hub, "https://", 8) == 0 ||
	       (strncmp(hub, "http://", 7) == 0 && ws->cfg->websub.insecure_hubs);
}

static void log_insecure(const char *feed, const char *hub)
{
	fw_log(FW_LOG_WARNING,
	       "websub: feed '%s': hub %s not used: its URL is http://, and hub.secret is "
	       "only sent over HTTPS (WebSub 5.1); the feed stays polled (websub "
	       "insecure_hubs = true allows it)",
	       feed, hub);
}

/* Ask the hub; a request that cannot leave fails the subscription until retry_at. A
   subscribe (new or renewal) never goes to a hub that hub_allowed refuses: the
   subscription is then marked insecure instead. */
static void ask(struct fw_websub *ws, struct fw_websub_sub *s, const char *mode)
{
	int r;

	if (strcmp(mode, "subscribe") == 0 && !hub_allowed(ws, s->hub)) {
		log_insecure(s->feed, s->hub);
		s->state = FW_SUB_INSECURE;
		s->renewing = false;
		sub_save(ws, s);
		return;
	}
	r = fw_websub_hub_request(ws, s, mode);
	s->asked_at = time(NULL);
	/* -ENOTCONN: no net (fuzzers, unit tests): the request is taken as sent */
	if (r < 0 && r != -EBUSY && r != -ENOTCONN) {
		fw_log(FW_LOG_WARNING, "websub: feed '%s': cannot %s at %s: %s", s->feed, mode,
		       s->hub, strerror(-r));
		if (s->state == FW_SUB_SUBSCRIBING) {
			s->state = FW_SUB_FAILED;
			s->retry_at = s->asked_at + FW_WEBSUB_RETRY;
		}
	}
	sub_save(ws, s);
}

/* A fresh subscription of feed to hub and topic: new token, new secret, asked now; or,
   insecure, only the record that the hub is not asked (for status; logged once). */
static void subscribe_new(struct fw_websub *ws, const char *feed, const char *hub,
                          const char *topic, bool insecure)
{
	struct fw_websub_sub *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->token = random_hex(16)) == NULL ||
	    (s->secret = random_hex(32)) == NULL || (s->feed = strdup(feed)) == NULL ||
	    (s->hub = strdup(hub)) == NULL || (s->topic = strdup(topic)) == NULL ||
	    sub_add(ws, s) < 0) {
		fw_log(FW_LOG_ERR, "websub: feed '%s': out of memory", feed);
		sub_free(s);
		return;
	}
	if (insecure) {
		s->state = FW_SUB_INSECURE;
		log_insecure(feed, hub);
		sub_save(ws, s);
		return;
	}
	s->state = FW_SUB_SUBSCRIBING;
	fw_log(FW_LOG_INFO, "websub: feed '%s': subscribing to %s at hub %s", feed, topic, hub);
	ask(ws, s, "subscribe");
}

/* End s: ask the hub to unsubscribe (the row goes when it verifies), or forget it now
   when it never was verified. */
static void unsubscribe(struct fw_websub *ws, size_t i, bool lapse)
{
	struct fw_websub_sub *s = ws->v[i];

	if (lapse && ws->env.lapsed)
		ws->env.lapsed(ws->env.arg, s->feed);
	if (s->state != FW_SUB_ACTIVE && s->state != FW_SUB_SUBSCRIBING) {
		sub_drop(ws, i);
		return;
	}
	fw_log(FW_LOG_INFO, "websub: feed '%s': unsubscribing from %s", s->feed, s->hub);
	if (s->req)
		fw_websub_hub_cancel(ws, s->req);
	s->state = FW_SUB_UNSUBSCRIBING;
	ask(ws, s, "unsubscribe");
}

/* s (at i) is active or being subscribed at a hub that hub_allowed refuses now (a store
   from before insecure_hubs, or a reload that turned it off): unsubscribe (that request
   carries no secret) and record the feed's hub as insecure, so that status says why the
   feed is polled. s stays at i (unsubscribing); the record is appended. */
static void disallow(struct fw_websub *ws, size_t i)
{
	struct fw_websub_sub *s = ws->v[i];

	unsubscribe(ws, i, true);
	subscribe_new(ws, s->feed, s->hub, s->topic, true);
}

/* Every active or subscribing subscription at a hub no longer allowed: disallow it. */
static void enforce_hubs(struct fw_websub *ws)
{
	size_t n = ws->n; /* the records disallow appends are insecure already */

	for (size_t i = 0; i < n; i++)
		if ((ws->v[i]->state == FW_SUB_ACTIVE || ws->v[i]->state == FW_SUB_SUBSCRIBING) &&
		    !hub_allowed(ws, ws->v[i]->hub))
			disallow(ws, i);
}

/* See websub.h. */
void fw_websub_discovered(struct fw_websub *ws, const char *feed, const char *hub, const char *self)
{
	struct fw_websub_sub *s;
	int64_t now = time(NULL);
	bool insecure;

	if (ws == NULL || !ws->cfg->websub.enabled || ws->closing || hub == NULL || self == NULL ||
	    strlen(hub) > FW_WEBSUB_URL_MAX || strlen(self) > FW_WEBSUB_URL_MAX ||
	    (strncmp(hub, "http://", 7) != 0 && strncmp(hub, "https://", 8) != 0))
		return;
	insecure = !hub_allowed(ws, hub);
	s = by_feed(ws, feed);
	if (s && (strcmp(s->hub, hub) != 0 || strcmp(s->topic, self) != 0 ||
	          (insecure && s->state != FW_SUB_INSECURE))) {
		size_t i = 0;

		by_token(ws, s->token, &i);
		unsubscribe(ws, i, insecure);
		s = NULL;
	}
	if (s &&
	    (s->state == FW_SUB_INSECURE ? insecure
	                                 : s->state == FW_SUB_ACTIVE ||
	                                       s->state == FW_SUB_SUBSCRIBING || now < s->retry_at))
		return;
	if (s) { /* denied, failed, expired or insecure, and due again: a new subscription */
		size_t i = 0;

		by_token(ws, s->token, &i);
		sub_drop(ws, i);
	}
	subscribe_new(ws, feed, hub, self, insecure);
}

/* See websub_int.h. */
void fw_websub_request_done(struct fw_websub *ws, const char *token, bool unsubscribe_req, bool ok,
                            const char *why)
{
	size_t i = 0;
	struct fw_websub_sub *s = by_token(ws, token, &i);

	if (s == NULL)
		return;
	s->req = NULL;
	if (ok) {
		fw_log(FW_LOG_DEBUG, "websub: feed '%s': hub %s accepted (%s)", s->feed, s->hub,
		       why);
		return;
	}
	fw_log(FW_LOG_WARNING, "websub: feed '%s': hub %s refused to %s: %s", s->feed, s->hub,
	       unsubscribe_req ? "unsubscribe" : "subscribe", why);
	if (unsubscribe_req) {
		sub_drop(ws, i); /* its lease ends by itself */
		return;
	}
	/* a refused renewal is not asked again: the lease ends, polling takes over, and the
	   next poll subscribes afresh */
	if (s->state == FW_SUB_SUBSCRIBING) {
		s->state = FW_SUB_FAILED;
		s->retry_at = time(NULL) + FW_WEBSUB_RETRY;
		sub_save(ws, s);
	}
}

/* The last segment of a request path: the subscription's token. */
static const char *path_token(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "";
}

static void reply_text(struct fw_httpserver_reply *rep, unsigned status, const char *text)
{
	rep->status = status;
	rep->body = text ? strdup(text) : NULL;
	rep->body_len = rep->body ? strlen(rep->body) : 0;
}

/* hub.lease_seconds as the hub granted it; the asked lease when absent or nonsense. */
static int64_t granted_lease(const struct fw_websub *ws, const char *v)
{
	char *end;
	long long n = v ? strtoll(v, &end, 10) : -1;

	if (v == NULL || *end || end == v || n <= 0 || n > 10LL * 365 * 86400)
		return ws->cfg->websub.lease;
	return n;
}

/* WebSub 5.3 verification of intent (and 5.2 denial): only what this daemon asked for,
   with its mode and topic, is confirmed; anything else is 404. */
static void verify(struct fw_websub *ws, const struct fw_httpserver_request *req,
                   struct fw_httpserver_reply *rep)
{
	size_t i = 0;
	struct fw_websub_sub *s = by_token(ws, path_token(req->path), &i);
	const char *mode = req->arg(req, "hub.mode"), *topic = req->arg(req, "hub.topic");
	const char *challenge = req->arg(req, "hub.challenge");
	int64_t now = time(NULL);

	if (s == NULL || mode == NULL || topic == NULL || strcmp(topic, s->topic) != 0)
		goto refuse;
	if (strcmp(mode, "denied") == 0 &&
	    (s->state == FW_SUB_SUBSCRIBING || s->state == FW_SUB_ACTIVE)) {
		const char *reason = req->arg(req, "hub.reason");

		fw_log(FW_LOG_WARNING, "websub: feed '%s': hub %s denied the subscription%s%.200s",
		       s->feed, s->hub, reason ? ": " : "", reason ? reason : "");
		s->state = FW_SUB_DENIED;
		s->retry_at = now + FW_WEBSUB_DENIED;
		s->lease_end = 0;
		sub_save(ws, s);
		ws->env.metrics->websub_denied++;
		if (ws->env.lapsed)
			ws->env.lapsed(ws->env.arg, s->feed);
		reply_text(rep, 200, NULL);
		return;
	}
	if (challenge == NULL || challenge[0] == 0)
		goto refuse;
	if (strcmp(mode, "subscribe") == 0 &&
	    (s->state == FW_SUB_SUBSCRIBING || (s->state == FW_SUB_ACTIVE && s->renewing))) {
		s->lease_len = granted_lease(ws, req->arg(req, "hub.lease_seconds"));
		s->lease_end = now + s->lease_len;
		if (s->state == FW_SUB_SUBSCRIBING)
			fw_log(FW_LOG_NOTICE, "websub: feed '%s': subscribed at %s for %llds",
			       s->feed, s->hub, (long long)s->lease_len);
		s->state = FW_SUB_ACTIVE;
		s->renewing = false;
		sub_save(ws, s);
		reply_text(rep, 200, challenge);
		return;
	}
	if (strcmp(mode, "unsubscribe") == 0 && s->state == FW_SUB_UNSUBSCRIBING) {
		fw_log(FW_LOG_INFO, "websub: feed '%s': unsubscribed from %s", s->feed, s->hub);
		reply_text(rep, 200, challenge);
		sub_drop(ws, i);
		return;
	}
refuse:
	ws->env.metrics->websub_refused++;
	reply_text(rep, 404, "no such subscription\n");
}

/* WebSub 7/8 content distribution: a valid signature first, then the body goes to the
   feeds. A bad or missing one is ignored, yet answered 2xx (8: the hub must not learn). */
static void content(struct fw_websub *ws, const struct fw_httpserver_request *req,
                    struct fw_httpserver_reply *rep)
{
	struct fw_websub_sub *s = by_token(ws, path_token(req->path), NULL);
	bool sha1 = false;
	int r;

	if (s == NULL || s->state == FW_SUB_UNSUBSCRIBING || s->state == FW_SUB_INSECURE) {
		reply_text(rep, 410, "no such subscription\n"); /* 8: the hub may drop it */
		return;
	}
	if (!fw_websub_signature_check(s->secret, req->header(req, "X-Hub-Signature"), req->body,
	                               req->body_len, &sha1)) {
		ws->env.metrics->websub_bad_signature++;
		s->bad_signatures++;
		s->counts_dirty = true;
		fw_log(FW_LOG_WARNING, "websub: feed '%s': push with a %s signature ignored",
		       s->feed, req->header(req, "X-Hub-Signature") ? "wrong" : "missing");
		reply_text(rep, 202, NULL);
		return;
	}
	ws->env.metrics->websub_sha1 += sha1;
	ws->env.metrics->websub_pushes++;
	r = ws->env.push ? ws->env.push(ws->env.arg, s->feed, req->body, req->body_len) : 0;
	if (r < 0) { /* not taken: logged, not in the subscription's figures */
		fw_log(FW_LOG_WARNING, "websub: feed '%s': push dropped: %s", s->feed,
		       strerror(-r));
	} else {
		s->pushes++;
		s->last_push = fw_clock_now(); /* the clock the alert's pushed is on */
		s->counts_dirty = true;
	}
	reply_text(rep, 202, NULL);
}

/* See websub.h. */
void fw_websub_handle(struct fw_websub *ws, const struct fw_httpserver_request *req,
                      struct fw_httpserver_reply *rep)
{
	if (strcmp(req->method, "GET") == 0)
		verify(ws, req, rep);
	else if (strcmp(req->method, "POST") == 0)
		content(ws, req, rep);
	else
		reply_text(rep, 405, "GET or POST\n");
}

static void serve_cb(const struct fw_httpserver_request *req, struct fw_httpserver_reply *rep,
                     void *arg)
{
	fw_websub_handle(arg, req, rep);
}

/* See websub.h. */
int fw_websub_signature_check(const char *secret, const char *header, const char *body, size_t len,
                              bool *sha1)
{
	static const struct {
		const char *name;
		const EVP_MD *(*md)(void);
	} algs[] = {{"sha1", EVP_sha1},
	            {"sha256", EVP_sha256},
	            {"sha384", EVP_sha384},
	            {"sha512", EVP_sha512}};
	unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
	unsigned int got_len = 0;
	const char *eq = header ? strchr(header, '=') : NULL, *hex;
	size_t n, k;

	*sha1 = false;
	if (eq == NULL || secret == NULL)
		return 0;
	for (k = 0; k < sizeof(algs) / sizeof(*algs); k++)
		if ((size_t)(eq - header) == strlen(algs[k].name) &&
		    strncmp(header, algs[k].name, (size_t)(eq - header)) == 0)
			break;
	hex = eq + 1;
	n = strlen(hex) / 2;
	if (k == sizeof(algs) / sizeof(*algs) || strlen(hex) % 2 || n > sizeof(want))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
			return 0;
		want[i] = (unsigned char)v;
	}
	if (HMAC(algs[k].md(), secret, (int)strlen(secret), (const unsigned char *)body, len, got,
	         &got_len) == NULL ||
	    got_len != n)
		return 0;
	*sha1 = k == 0;
	return CRYPTO_memcmp(want, got, n) == 0;
}

/* Each second: renew leases that near their end, lapse those that ended, give up on hubs
   that never verified, and copy the server's figures. */
static void tick_cb(uv_timer_t *t)
{
	struct fw_websub *ws = t->data;
	int64_t now = time(NULL);

	for (size_t i = 0; i < ws->n; i++) {
		struct fw_websub_sub *s = ws->v[i];
		int64_t margin = s->lease_len / 4 < 3600 ? s->lease_len / 4 : 3600;

		if (s->state == FW_SUB_ACTIVE && s->lease_end && now >= s->lease_end) {
			fw_log(FW_LOG_WARNING,
			       "websub: feed '%s': lease at %s ended: polling again", s->feed,
			       s->hub);
			s->state = FW_SUB_EXPIRED;
			s->renewing = false;
			s->retry_at = now;
			sub_save(ws, s);
			ws->env.metrics->websub_expired++;
			if (ws->env.lapsed)
				ws->env.lapsed(ws->env.arg, s->feed);
		} else if (s->state == FW_SUB_ACTIVE && s->lease_end && !s->renewing && !s->req &&
		           now >= s->lease_end - (margin > 0 ? margin : 1)) {
			if (!hub_allowed(ws, s->hub)) {
				disallow(ws, i);
				continue;
			}
			s->renewing = true;
			/* 5.1: a renewal is a subscription request again */
			ask(ws, s, "subscribe");
		} else if ((s->state == FW_SUB_SUBSCRIBING || s->state == FW_SUB_UNSUBSCRIBING) &&
		           !s->req && now - s->asked_at > FW_WEBSUB_VERIFY_WAIT) {
			if (s->state == FW_SUB_UNSUBSCRIBING) {
				sub_drop(ws, i--);
				continue;
			}
			s->state = FW_SUB_FAILED;
			s->retry_at = now + FW_WEBSUB_RETRY;
			sub_save(ws, s);
		}
	}
	/* websub left the config: the server stays until every unsubscription is answered */
	if (!ws->cfg->websub.enabled && ws->server && ws->n == 0) {
		fw_httpserver_close(ws->server);
		ws->server = NULL;
		free(ws->listen);
		ws->listen = NULL;
	}
	counts_save(ws);
	ws->env.metrics->websub_active = 0;
	for (size_t i = 0; i < ws->n; i++)
		ws->env.metrics->websub_active += ws->v[i]->state == FW_SUB_ACTIVE;
	if (ws->server) {
		struct fw_httpserver_stats st;

		fw_httpserver_stats(ws->server, &st);
		ws->env.metrics->websub_too_big = st.too_big;
	}
}

static int load_cb(const struct fw_store_websub *w, void *arg)
{
	struct fw_websub *ws = arg;
	struct fw_websub_sub *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->token = strdup(w->token)) == NULL ||
	    (s->feed = strdup(w->feed)) == NULL || (s->hub = strdup(w->hub)) == NULL ||
	    (s->topic = strdup(w->topic)) == NULL || (s->secret = strdup(w->secret)) == NULL ||
	    sub_add(ws, s) < 0) {
		sub_free(s);
		return -ENOMEM;
	}
	s->state = state_parse(w->state);
	s->lease_end = w->lease_end;
	s->lease_len = w->lease_end > w->updated ? w->lease_end - w->updated : 0;
	s->asked_at = w->updated;
	s->retry_at = s->state == FW_SUB_DENIED ? w->updated + FW_WEBSUB_DENIED
	                                        : w->updated + FW_WEBSUB_RETRY;
	s->last_push = w->last_push;
	s->pushes = w->pushes;
	s->bad_signatures = w->bad_signatures;
	return 0;
}

static int start_server(struct fw_websub *ws, const struct fw_config *cfg, char *err, size_t errlen)
{
	struct fw_httpserver_limits lim = {.max_body = (size_t)cfg->max_body,
	                                   .max_header = FW_WEBSUB_HEADER_MAX,
	                                   .max_conns = (unsigned)cfg->websub.max_conns,
	                                   .max_conns_per_ip =
	                                       (unsigned)cfg->websub.max_conns_per_ip,
	                                   .conn_timeout = (unsigned)cfg->websub.conn_timeout};
	int r;

	if (!cfg->websub.enabled || cfg->websub.listen == NULL)
		return 0;
	r = fw_httpserver_new(ws->env.loop, cfg->websub.listen, &lim, serve_cb, ws, &ws->server,
	                      err, errlen);
	if (r == 0 && (ws->listen = strdup(cfg->websub.listen)) == NULL)
		r = -ENOMEM;
	return r;
}

/* See websub.h. */
int fw_websub_new(const struct fw_websub_env *env, const struct fw_config *cfg,
                  struct fw_websub **out, char *err, size_t errlen)
{
	struct fw_websub *ws = calloc(1, sizeof(*ws));
	int r;

	if (ws == NULL)
		return -ENOMEM;
	ws->env = *env;
	ws->cfg = cfg;
	if (cfg->websub.callback_url && (ws->callback = strdup(cfg->websub.callback_url)) == NULL) {
		free(ws);
		return -ENOMEM;
	}
	if (env->store && (r = fw_store_websub_each(env->store, load_cb, ws)) < 0) {
		snprintf(err, errlen, "cannot read the WebSub subscriptions: %s",
		         fw_store_error(env->store));
		goto fail;
	}
	if ((r = start_server(ws, cfg, err, errlen)) < 0)
		goto fail;
	enforce_hubs(ws); /* after the walk of the store: it writes rows */
	uv_timer_init(env->loop, &ws->tick);
	ws->tick.data = ws;
	uv_timer_start(&ws->tick, tick_cb, FW_WEBSUB_TICK_MS, FW_WEBSUB_TICK_MS);
	*out = ws;
	return 0;
fail:
	for (size_t i = 0; i < ws->n; i++)
		sub_free(ws->v[i]);
	free(ws->v);
	free(ws->callback);
	free(ws);
	return r;
}

/* See websub.h. */
int fw_websub_reload(struct fw_websub *ws, const struct fw_config *cfg, char *err, size_t errlen)
{
	const char *want = cfg->websub.enabled ? cfg->websub.listen : NULL;
	char *cb = cfg->websub.callback_url ? strdup(cfg->websub.callback_url) : NULL;
	int r = 0;

	if (cfg->websub.callback_url && cb == NULL)
		return -ENOMEM;
	ws->cfg = cfg;
	if (cb) {
		free(ws->callback);
		ws->callback = cb;
	}
	/* feeds that left, or every feed when websub itself left (the server then stays
	   until the hubs have verified the unsubscriptions: see tick_cb) */
	for (size_t i = ws->n; i-- > 0;)
		if (ws->v[i]->state != FW_SUB_UNSUBSCRIBING &&
		    (!cfg->websub.enabled || fw_config_feed_index(cfg, ws->v[i]->feed) < 0))
			unsubscribe(ws, i, true);
	if (cfg->websub.enabled)
		enforce_hubs(ws); /* insecure_hubs may have been turned off */
	if (want == NULL)
		return 0;
	if (ws->listen == NULL || strcmp(want, ws->listen) != 0) {
		fw_httpserver_close(ws->server);
		ws->server = NULL;
		free(ws->listen);
		ws->listen = NULL;
		r = start_server(ws, cfg, err, errlen);
	}
	return r;
}

/* See websub.h. */
const char *fw_websub_token(const struct fw_websub *ws, const char *feed)
{
	const struct fw_websub_sub *s = ws ? by_feed(ws, feed) : NULL;

	return s ? s->token : NULL;
}

static void tick_close_cb(uv_handle_t *h)
{
	struct fw_websub *ws = h->data;

	for (size_t i = 0; i < ws->n; i++)
		sub_free(ws->v[i]);
	free(ws->v);
	free(ws->listen);
	free(ws->callback);
	free(ws);
}

/* See websub.h. */
void fw_websub_close(struct fw_websub *ws)
{
	if (ws == NULL || ws->closing)
		return;
	ws->closing = true;
	counts_save(ws);
	fw_websub_hub_cancel_all(ws);
	fw_httpserver_close(ws->server);
	ws->server = NULL;
	uv_timer_stop(&ws->tick);
	uv_close((uv_handle_t *)&ws->tick, tick_close_cb);
}
