/*
 * httpserver.h - a small HTTP/1.1 server (libmicrohttpd) driven by the daemon's libuv loop:
 * no thread of its own. MHD's one epoll descriptor is watched with a uv_poll_t and its
 * timeout with a uv_timer_t; every callback runs on the loop thread. Bounded: body bytes
 * (one request's, and all connections' together), header bytes (MHD's per-connection
 * memory), connections at once (and from one address), seconds a connection may idle and
 * seconds one request may take whatever its pace (FW_HTTPSERVER_DEADLINE), and bytes of an
 * oversized body read and dropped. Knows nothing of WebSub: one callback answers each
 * complete request.
 */
#ifndef FW_HTTPSERVER_H
#define FW_HTTPSERVER_H

#include <stddef.h>

#include <uv.h>

/* One complete request, valid during the callback only. */
struct fw_httpserver_request {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* the request target without its query */
	const char *body;   /* the whole body (at most max_body bytes), "" when none */
	size_t body_len;
	/* A query argument ("hub.mode") or a request header ("X-Hub-Signature", any case),
	   URL-decoded; NULL when absent. */
	const char *(*arg)(const struct fw_httpserver_request *r, const char *key);
	const char *(*header)(const struct fw_httpserver_request *r, const char *name);
	void *impl; /* for arg and header */
};

/* The answer: status, and a body the server frees (malloc()ed, or NULL for none). */
struct fw_httpserver_reply {
	unsigned status;
	char *body;
	size_t body_len;
	const char *content_type; /* static string, or NULL for text/plain */
};

typedef void (*fw_httpserver_cb)(const struct fw_httpserver_request *req,
                                 struct fw_httpserver_reply *rep, void *arg);

struct fw_httpserver_limits {
	size_t max_body;    /* bytes of one request body: more is answered 413 (said up front
	                          by Content-Length, or found while a chunked body arrives) */
	size_t max_header;  /* bytes of MHD's buffer per connection (request line and headers) */
	unsigned max_conns; /* connections at once (more are refused) */
	unsigned max_conns_per_ip; /* of them from one address (0: max_conns) */
	unsigned conn_timeout;     /* seconds a connection may stay idle; a request (request
	                              line, headers, body) must be complete within
	                              FW_HTTPSERVER_DEADLINE times it, counted from the
	                              connection's start or the end of its previous request */
};

struct fw_httpserver;

/* Bodies of max_body bytes that all connections together may hold (more: 503). */
#define FW_HTTPSERVER_BODIES 4

/* A body found too big while it arrives (chunked: no Content-Length said it up front) is
   read on and dropped, never kept, and answered 413 (or 503) when it ends; past this many
   max_body bytes dropped (FW_HTTPSERVER_DISCARD_MAX at most) the connection is closed
   unanswered. */
#define FW_HTTPSERVER_DISCARD     16
#define FW_HTTPSERVER_DISCARD_MAX ((size_t)64 << 20)

/* A request past this many conn_timeouts is closed unanswered, however it trickles in. */
#define FW_HTTPSERVER_DEADLINE 3

/* Counters since start. */
struct fw_httpserver_stats {
	unsigned long long requests;
	unsigned long long too_big;  /* bodies refused for max_body */
	unsigned long long busy;     /* refused while FW_HTTPSERVER_BODIES bodies were held */
	unsigned long long too_slow; /* connections closed past FW_HTTPSERVER_DEADLINE */
};

/* Listen on "ADDRESS:PORT" (IPv4 or [IPv6]) and answer through cb on loop. Returns 0 and
   *out, -EINVAL for a bad address, -EADDRINUSE / -errno when MHD cannot start (err says
   why), -ENOMEM. */
int fw_httpserver_new(uv_loop_t *loop, const char *listen, const struct fw_httpserver_limits *lim,
                      fw_httpserver_cb cb, void *arg, struct fw_httpserver **out, char *err,
                      size_t errlen);

/* The counters. */
void fw_httpserver_stats(const struct fw_httpserver *s, struct fw_httpserver_stats *out);

/* Stop listening, drop every connection, close the handles; the struct is freed once libuv
   has closed them. Accepts NULL. */
void fw_httpserver_close(struct fw_httpserver *s);

#endif
