/*
 * cluster.c - this daemon as one node of many sharing a store: its name, its heartbeat,
 * and the claim of each due poll (cluster.h). The decisions are the store's (one statement
 * each, see pg_cluster.c); this file times the heartbeat and logs what goes wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "config.h"
#include "log.h"
#include "store.h"

struct fw_cluster {
	uv_timer_t beat;
	struct fw_store *store;
	char node[80];
	char host[256];
	int64_t started;
	bool failing;        /* the last beat failed: said once, and when it works again */
	bool claims_failing; /* the last claim failed in the store: likewise */
};

/* Record the node and renew its polls in flight. */
static void beat(struct fw_cluster *c)
{
	int r =
	    fw_store_node_beat(c->store, c->host, (int64_t)getpid(), c->started, fw_clock_now());

	if (r < 0 && !c->failing)
		fw_log(FW_LOG_WARNING,
		       "node '%s': cannot renew its claims (its polls in flight lapse a lease "
		       "after the last renewal): %s",
		       c->node, fw_store_error(c->store));
	else if (r == 0 && c->failing)
		fw_log(FW_LOG_NOTICE, "node '%s': claims renewed again", c->node);
	c->failing = r < 0;
}

static void beat_cb(uv_timer_t *t)
{
	beat(t->data);
}

/* See cluster.h. */
int fw_cluster_new(uv_loop_t *loop, struct fw_store *s, const struct fw_config *cfg,
                   struct fw_cluster **out)
{
	struct fw_cluster *c = calloc(1, sizeof(*c));
	uint64_t ms;
	int r;

	if (c == NULL)
		return -ENOMEM;
	c->store = s;
	c->started = fw_clock_now();
	if (gethostname(c->host, sizeof(c->host) - 1) < 0)
		snprintf(c->host, sizeof(c->host), "localhost");
	if (cfg->node)
		snprintf(c->node, sizeof(c->node), "%s", cfg->node);
	else
		snprintf(c->node, sizeof(c->node), "%.64s-%ld", c->host, (long)getpid());
	if ((r = fw_store_set_node(s, c->node, cfg->lease)) < 0 ||
	    (r = fw_store_node_beat(s, c->host, (int64_t)getpid(), c->started, c->started)) < 0) {
		fw_log(FW_LOG_ERR, "node '%s': cannot join the shared store: %s", c->node,
		       fw_store_error(s));
		free(c);
		return r;
	}
	/* four beats a lease: a claim renewed to a second short of it (pg_cluster.c) still has
	   3/4 lease - 2 s to spare for a beat that comes late */
	ms = fw_clock_timer_ms(cfg->lease) / 4; /* the clock may run fast (clock.h) */
	uv_timer_init(loop, &c->beat);
	c->beat.data = c;
	uv_timer_start(&c->beat, beat_cb, ms, ms);
	fw_log(FW_LOG_INFO, "node '%s': polls claimed in the shared store, lease %llds", c->node,
	       (long long)cfg->lease);
	*out = c;
	return 0;
}

/* See cluster.h. */
const char *fw_cluster_node(const struct fw_cluster *c)
{
	return c->node;
}

static void close_cb(uv_handle_t *h)
{
	free(h->data);
}

/* See cluster.h. */
void fw_cluster_close(struct fw_cluster *c)
{
	if (c == NULL)
		return;
	uv_timer_stop(&c->beat);
	uv_close((uv_handle_t *)&c->beat, close_cb);
}

/* See cluster.h. */
enum fw_cluster_claim fw_cluster_claim(struct fw_cluster *c, const char *feed, const char *host,
                                       int64_t host_limit, int64_t now, bool early, int64_t *when)
{
	int64_t until = now;
	int r = fw_store_feed_claim(c->store, feed, host, host_limit, now, early, &until);

	if (r < 0 && !c->claims_failing)
		fw_log(FW_LOG_WARNING,
		       "node '%s': cannot claim polls, feed '%s' the first (each is tried again "
		       "within 10 s; said once until a claim works): %s",
		       c->node, feed, fw_store_error(c->store));
	else if (r >= 0 && c->claims_failing)
		fw_log(FW_LOG_NOTICE, "node '%s': polls claimed again", c->node);
	c->claims_failing = r < 0;
	if (r == 1)
		return FW_CLAIM_TAKEN;
	if (r < 0) {
		*when = now + 5 + rand() % 5;
		return FW_CLAIM_REFUSED;
	}
	/* ask again the second it ends (nodes asking at once are decided by the database) */
	*when = until > now ? until : now + 1;
	return r == 2 ? FW_CLAIM_HOST_BUSY : FW_CLAIM_REFUSED;
}

/* See cluster.h. */
int fw_cluster_hold(struct fw_store *s, const char *feed, int64_t next)
{
	/* a second past the next poll: the owner's timer fires within the second after it
	   (feeds.c: schedule_at), a node refused the claim asks again the moment it ends
	   (schedule_exact), and a live owner should keep its feed (its known items, its
	   connection) rather than lose it to the other node at every poll */
	int r = fw_store_feed_hold(s, feed, next > 0 ? next + 1 : 0);

	if (r == 0)
		fw_log(FW_LOG_WARNING,
		       "feed '%s': its claim lapsed before the poll was stored (another node may "
		       "have polled it too)",
		       feed);
	return r < 0 ? r : 0;
}
