/*
 * websub.h - the WebSub subscriber (W3C Recommendation, 23 January 2018): subscriptions
 * to the hubs that feeds name (discovery is the fetch's and the parser's: they hand the
 * hub and self URLs up with a poll's result), verification of intent answered only for a
 * subscription this daemon asked for, leases renewed before they end, unsubscription
 * when a feed leaves the config, and content distribution: a push whose X-Hub-Signature
 * (HMAC with the subscription's own secret) is valid goes to the feeds as a poll's body
 * would. The callback server (httpserver.c) listens where the config's websub group
 * says. Subscriptions persist in the store (websub_store.c). Runs on the loop thread.
 */
#ifndef FW_WEBSUB_H
#define FW_WEBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "httpserver.h"
#include "metrics.h"

struct fw_config;
struct fw_store;
struct fw_net;
struct fw_websub;

/* What the subscriber is given; it keeps a copy. Callbacks run on the loop thread. */
struct fw_websub_env {
	uv_loop_t *loop;
	struct fw_store *store;     /* subscriptions are kept here (NULL: in memory only) */
	struct fw_net *net;         /* requests to hubs go out here (NULL: none are sent) */
	struct fw_metrics *metrics; /* the websub_* counters */
	/* a verified push of feed's content (body valid during the call); 0 or -errno */
	int (*push)(void *arg, const char *feed, const char *body, size_t len);
	/* feed's subscription lapsed (lease over, denied, unsubscribed): poll it again */
	void (*lapsed)(void *arg, const char *feed);
	void *arg;
};

/* Start the subscriber on cfg (which must outlive it, or be replaced by fw_websub_reload):
   the subscriptions of the store, and the callback server when cfg->websub.enabled.
   Returns 0 and *out, or -errno with a one-line reason in err (an address in use). */
int fw_websub_new(const struct fw_websub_env *env, const struct fw_config *cfg,
                  struct fw_websub **out, char *err, size_t errlen);

/* A poll of feed found hub and self (either may be NULL): subscribe when there is no
   subscription of that feed to that hub and topic yet (or a denied or lapsed one is due
   again); a changed hub or topic unsubscribes the old one first. */
void fw_websub_discovered(struct fw_websub *ws, const char *feed, const char *hub,
                          const char *self);

/* Adopt cfg after a reload: subscriptions of feeds no longer in it are unsubscribed; a
   changed listen address restarts the server. 0 or -errno (err says why; the old server
   is kept). */
int fw_websub_reload(struct fw_websub *ws, const struct fw_config *cfg, char *err, size_t errlen);

/* Answer one request to the callback URL (the server's callback; also the fuzzers'):
   GET is a verification of intent (or a denial), POST is content. rep->body is
   malloc()ed (the caller frees it). */
void fw_websub_handle(struct fw_websub *ws, const struct fw_httpserver_request *req,
                      struct fw_httpserver_reply *rep);

/* X-Hub-Signature check (WebSub 8): header is "method=hexdigest" with method sha1,
   sha256, sha384 or sha512; the digest is HMAC(secret, body), compared in constant time.
   1 valid, 0 missing, malformed or wrong. *sha1 tells whether sha1 was used. Pure. */
int fw_websub_signature_check(const char *secret, const char *header, const char *body, size_t len,
                              bool *sha1);

/* The callback token of feed's subscription, or NULL (tests and fuzzers). */
const char *fw_websub_token(const struct fw_websub *ws, const char *feed);

/* Cancel requests in flight, stop the server and the timer; freed once libuv has closed
   the handles. Accepts NULL. */
void fw_websub_close(struct fw_websub *ws);

#endif
