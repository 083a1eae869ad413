/*
 * net.h - libcurl's multi socket interface driven by the daemon's libuv loop. This file is
 * glue only (shaped like curl's docs/examples/multi-uv.c): it knows nothing of feeds.
 */
#ifndef FW_NET_H
#define FW_NET_H

#include <curl/curl.h>
#include <uv.h>

struct fw_net;

/* Called once when a transfer ends (also with CURLE_ABORTED_BY_CALLBACK on shutdown). The
   easy handle is already removed from the multi and belongs to the caller again. */
typedef void (*fw_net_done_cb)(CURL *easy, CURLcode result, void *arg);

/* A new multi handle on loop. max_total / max_host: connection caps (0 = none).
   Returns 0 and *out, or -ENOMEM. */
int fw_net_new(uv_loop_t *loop, long max_total, long max_host, struct fw_net **out);

/* Start a transfer. The easy handle's CURLOPT_PRIVATE is used by this file.
   Returns 0, or -EIO when curl refuses. */
int fw_net_add(struct fw_net *net, CURL *easy, fw_net_done_cb cb, void *arg);

/* Abort a transfer without calling its callback. The easy handle is the caller's again. */
void fw_net_cancel(struct fw_net *net, CURL *easy);

/* Transfers in flight. */
size_t fw_net_active(const struct fw_net *net);

/* Abort every transfer (each callback runs with CURLE_ABORTED_BY_CALLBACK), then close
   the handles. The struct is freed once libuv has closed them; closed_cb (may be NULL) runs then. */
void fw_net_close(struct fw_net *net, void (*closed_cb)(void *arg), void *arg);

#endif
