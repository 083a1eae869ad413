/*
 * websub_int.h - private to the WebSub subscriber: what websub.c (subscriptions, the
 * callback) and websub_hub.c (requests to hubs) share, as libuv's uv-common.h.
 */
#ifndef FW_WEBSUB_INT_H
#define FW_WEBSUB_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "websub.h"

enum fw_websub_state {
	FW_SUB_SUBSCRIBING,   /* asked; waiting for the hub's verification of intent */
	FW_SUB_ACTIVE,        /* verified: lease_end says until when */
	FW_SUB_DENIED,        /* the hub said hub.mode=denied: retry_at */
	FW_SUB_UNSUBSCRIBING, /* asked to end; the row goes when the hub verifies */
	FW_SUB_EXPIRED,       /* the lease ended without renewal */
	FW_SUB_FAILED,        /* the hub refused the request or never verified: retry_at */
	FW_SUB_INSECURE,      /* an http:// hub, never asked: insecure_hubs is off (WebSub 5.1:
	                         hub.secret only over HTTPS); the feed stays polled */
};

struct fw_websub_req;

/* One subscription this daemon asked a hub for. */
struct fw_websub_sub {
	char *token; /* the last path segment of its callback URL: unguessable */
	char *feed, *hub, *topic, *secret;
	enum fw_websub_state state;
	int64_t lease_end;         /* Unix seconds, 0 = none */
	int64_t lease_len;         /* seconds the hub granted */
	int64_t retry_at;          /* denied or failed: subscribe again from then on */
	int64_t asked_at;          /* when the last request went out */
	bool renewing;             /* a renewal is asked and not yet verified */
	int64_t last_push;         /* when the last push taken came (fw_clock_now), 0 = none */
	int64_t pushes;            /* valid pushes taken (one env.push refused is not counted) */
	int64_t bad_signatures;    /* pushes ignored for a wrong or missing signature */
	bool counts_dirty;         /* the three above changed since the store last had them */
	struct fw_websub_req *req; /* the request in flight, or NULL */
};

struct fw_websub {
	struct fw_websub_env env;
	const struct fw_config *cfg;
	struct fw_httpserver *server;
	char *listen;   /* the server's address */
	char *callback; /* callback_url of the config that last enabled websub */
	uv_timer_t tick;
	struct fw_websub_sub **v;
	size_t n, cap;
	struct fw_websub_req *reqs; /* requests in flight */
	bool counts_failing;        /* the last write of the push figures failed (logged) */
	bool closing;
};

/* Send sub's (un)subscription request (mode "subscribe" or "unsubscribe") to its hub,
   with the callback URL, topic, lease and secret. 0, or -errno (the caller records it). */
int fw_websub_hub_request(struct fw_websub *ws, struct fw_websub_sub *sub, const char *mode);

/* Cancel one request in flight (its completion does not run; sub->req is cleared). */
void fw_websub_hub_cancel(struct fw_websub *ws, struct fw_websub_req *r);

/* Cancel every request in flight (their completions do not run). */
void fw_websub_hub_cancel_all(struct fw_websub *ws);

/* A request to a hub finished: ok when the hub answered 2xx (202 Accepted), else why. */
void fw_websub_request_done(struct fw_websub *ws, const char *token, bool unsubscribe, bool ok,
                            const char *why);

/* "subscribing", "active", ... (the store's word). */
const char *fw_websub_state_name(enum fw_websub_state st);

#endif
