/*
 * store_nodes.c - the SQLite backend's part of the cluster functions of store.h: one node
 * holds the database by its lock (fw_store_lock), so it has no claims to take or keep,
 * every poll it asks for is its own, and so is the prune lock.
 */
#include "store_int.h"

int fw_sqlite_set_node(struct fw_store *base, const char *node, int64_t lease)
{
	(void)base;
	(void)node;
	(void)lease;
	return 0;
}

int fw_sqlite_feed_claim(struct fw_store *base, const char *feed, const char *host,
                         int64_t host_limit, int64_t now, bool early, int64_t *until)
{
	(void)base;
	(void)feed;
	(void)host;
	(void)host_limit;
	(void)early;
	*until = now;
	return 1;
}

int fw_sqlite_feed_hold(struct fw_store *base, const char *feed, int64_t until)
{
	(void)base;
	(void)feed;
	(void)until;
	return 1;
}

int fw_sqlite_node_beat(struct fw_store *base, const char *host, int64_t pid, int64_t started,
                        int64_t now)
{
	(void)base;
	(void)host;
	(void)pid;
	(void)started;
	(void)now;
	return 0;
}

int fw_sqlite_node_each(struct fw_store *base, int64_t now, fw_store_node_cb cb, void *arg)
{
	(void)base;
	(void)now;
	(void)cb;
	(void)arg;
	return 0;
}

int fw_sqlite_claim_each(struct fw_store *base, int64_t now, fw_store_claim_cb cb, void *arg)
{
	(void)base;
	(void)now;
	(void)cb;
	(void)arg;
	return 0;
}

int fw_sqlite_prune_lock(struct fw_store *base)
{
	(void)base;
	return 1;
}

int fw_sqlite_prune_unlock(struct fw_store *base)
{
	(void)base;
	return 0;
}
