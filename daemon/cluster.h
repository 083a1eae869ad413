/*
 * cluster.h - this daemon as one node of many sharing a store (PostgreSQL, see store.h):
 * its name in the store, its heartbeat every lease / 4 (which keeps its polls in flight
 * claimed), and the claim each due poll takes first, so that exactly one node polls it.
 * A store of one node (SQLite) needs none of it: the daemon does not call these.
 */
#ifndef FW_CLUSTER_H
#define FW_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct fw_config;
struct fw_store;
struct fw_cluster;

/*
 * Name this process in store s (cfg->node, or "<host name>-<pid>"), beat once, and beat
 * every cfg->lease / 4 on loop from now on. 0 and *out, or -errno (logged): a node that
 * cannot say it is alive must not take claims.
 */
int fw_cluster_new(uv_loop_t *loop, struct fw_store *s, const struct fw_config *cfg,
                   struct fw_cluster **out);

/* The node's name (valid while c is). */
const char *fw_cluster_node(const struct fw_cluster *c);

/* Stop beating; freed when libuv has closed the timer. Accepts NULL. */
void fw_cluster_close(struct fw_cluster *c);

/* What fw_cluster_claim says. */
enum fw_cluster_claim {
	FW_CLAIM_REFUSED,   /* another node holds the feed, or the store failed */
	FW_CLAIM_TAKEN,     /* this node may poll it */
	FW_CLAIM_HOST_BUSY, /* host_limit polls of its host are in flight on the nodes */
};

/*
 * Claim the poll of feed (on host, the feed's host:port), due now, for this node. When
 * not taken, *when is the time to ask again: the end of another node's claim; a second
 * from now when the host is busy; after a store error, a few seconds from now (logged
 * once until a claim works again, not once per feed). early: `feedwatch once`, which
 * polls a feed not due yet, but never beside another node's poll in flight.
 */
enum fw_cluster_claim fw_cluster_claim(struct fw_cluster *c, const char *feed, const char *host,
                                       int64_t host_limit, int64_t now, bool early, int64_t *when);

/* The poll of feed is stored (call inside its transaction): keep the claim until a second
   past next, its next poll; next 0 gives it up. A claim found lost is logged (it lapsed before the
   poll was stored: another node may have polled it too) and is no error. 0 or -errno. */
int fw_cluster_hold(struct fw_store *s, const char *feed, int64_t next);

#endif
