/*
 * pg_cluster.c - the PostgreSQL store: the nodes sharing the database and their claims on
 * feeds, so that each due poll is made by exactly one node.
 *
 * A feed's claim is one row of feed_claims: the node holding it, until when, and whether
 * its poll is in flight. A node takes a feed only by one call of fw_feed_claim: an INSERT
 * ... ON CONFLICT DO UPDATE ... WHERE held_until <= now (the row lock decides between
 * nodes asking at once: no read then write). After the poll is stored, in the poll's own
 * transaction, the node keeps the claim until a second past the feed's next poll
 * (fw_cluster_hold), so the shared schedule is the claim itself: another node that asks
 * earlier (its own timer, a restart) is told when to ask again. A claim in
 * flight is renewed by the node's heartbeat (nodes.last_seen) to a second short of a lease
 * (held_for): the clock is whole seconds, so a node killed with -9 loses it within a lease
 * of the kill, and another node asking at that whole second takes it within the lease; its
 * held claims end a second after each feed's next poll, when any node may take the feed.
 *
 * host_concurrency holds for the whole cluster: a claim names the feed's host, and is
 * taken only while fewer than the limit of that host's other claims are in flight, not
 * lapsed, and held by a node connected to the database: each node's session holds a
 * session-level advisory lock of its name ("FWNO", the name's hash; pg_locks shows it to
 * every role, where pg_stat_activity hides other roles' sessions), so a node killed with
 * -9 frees its hosts' slots when its connection ends, not a lease later (its feeds'
 * claims still wait for the lease). The claims of one host are taken one at a time,
 * under a transaction-scoped advisory lock of the host (two-key form, apart from the
 * one-key locks of the other files), so two nodes cannot both take the last slot.
 */
#include "pg_int.h"

#include <errno.h>
#include <string.h>

/* The advisory lock class a node's session holds while connected: "FWNO". */
#define FW_PG_NODE_LOCK "1180126799"

/* The claim (see claim_stmt), a function so that the host's lock is taken before the
   count of its polls in flight: each statement of a PL/pgSQL function sees what committed
   before it began, one statement would count in a snapshot taken before its wait. A feed
   another node holds is answered first, without the host's lock (the INSERT's WHERE still
   decides); the nodes' session locks are read only when the count alone finds no room. */
#define FW_PG_CLAIM_FN                                                                             \
	"CREATE OR REPLACE FUNCTION fw_feed_claim(p_feed text, p_node text, p_now bigint, "        \
	"p_held bigint, p_early boolean, p_host text, p_limit bigint, OUT o_taken int, "           \
	"OUT o_until bigint, OUT o_room boolean) LANGUAGE plpgsql AS $fn$ "                        \
	"DECLARE n bigint; BEGIN "                                                                 \
	"o_room := true; o_taken := 0; "                                                           \
	"SELECT c.held_until INTO o_until FROM feed_claims c WHERE c.feed = p_feed "               \
	"AND c.held_until > p_now AND c.node <> p_node AND NOT (p_early AND NOT c.polling); "      \
	"IF FOUND THEN RETURN; END IF; "                                                           \
	"IF p_limit > 0 THEN "                                                                     \
	"PERFORM pg_advisory_xact_lock(1180125251, hashtext(p_host)); "                            \
	"SELECT count(*) INTO n FROM feed_claims c WHERE c.host = p_host AND c.polling "           \
	"AND c.held_until > p_now AND c.feed <> p_feed; "                                          \
	"IF n >= p_limit THEN "                                                                    \
	"SELECT count(*) INTO n FROM feed_claims c WHERE c.host = p_host AND c.polling "           \
	"AND c.held_until > p_now AND c.feed <> p_feed AND hashtext(c.node)::oid = ANY (ARRAY("    \
	"SELECT l.objid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid "              \
	"= " FW_PG_NODE_LOCK " AND l.objsubid = 2 AND l.granted)); "                               \
	"END IF; "                                                                                 \
	"o_room := n < p_limit; "                                                                  \
	"END IF; "                                                                                 \
	"IF o_room THEN "                                                                          \
	"INSERT INTO feed_claims AS c (feed, node, held_until, polling, host) "                    \
	"VALUES (p_feed, p_node, p_now + p_held, true, p_host) "                                   \
	"ON CONFLICT (feed) DO UPDATE SET node = excluded.node, "                                  \
	"held_until = excluded.held_until, polling = true, host = excluded.host "                  \
	"WHERE c.held_until <= p_now OR c.node = excluded.node OR (p_early AND NOT c.polling) "    \
	"RETURNING c.held_until INTO o_until; "                                                    \
	"IF FOUND THEN o_taken := 1; RETURN; END IF; "                                             \
	"END IF; "                                                                                 \
	"SELECT c.held_until INTO o_until FROM feed_claims c WHERE c.feed = p_feed; "              \
	"o_until := coalesce(o_until, 0); "                                                        \
	"END $fn$;"

/* What schema 2 added beside the claims' host column: its index, and the claim. */
#define FW_PG_CLAIMS_HOST                                                                          \
	"CREATE INDEX IF NOT EXISTS feed_claims_host ON feed_claims (host) WHERE "                 \
	"polling;" FW_PG_CLAIM_FN

const char fw_pg_ddl_cluster[] =
    "CREATE TABLE IF NOT EXISTS nodes (name text PRIMARY KEY, host text NOT NULL DEFAULT '', "
    "pid bigint NOT NULL DEFAULT 0, started bigint NOT NULL DEFAULT 0, "
    "last_seen bigint NOT NULL DEFAULT 0, lease bigint NOT NULL DEFAULT 60);"
    "CREATE TABLE IF NOT EXISTS feed_claims (feed text PRIMARY KEY, node text NOT NULL, "
    "held_until bigint NOT NULL, polling boolean NOT NULL DEFAULT false, "
    "host text NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS feed_claims_node ON feed_claims (node, polling);" FW_PG_CLAIMS_HOST;

/* Schema 1 to 2: claims name their host (host_concurrency across the cluster). */
const char fw_pg_migrate_cluster_2[] = "ALTER TABLE feed_claims ADD COLUMN IF NOT EXISTS host text "
                                       "NOT NULL DEFAULT '';" FW_PG_CLAIMS_HOST;

/* How long a claim in flight is held past a whole-second now: a lease less the second now
   may lag the real time by, so the claim ends within a lease of the last renewal. */
static int64_t held_for(const struct fw_pg *p)
{
	return p->lease > 1 ? p->lease - 1 : 1;
}

/* See pg_int.h. Tried, never waited for: a second process under the same name leaves it
   to the first, and takes it at a beat once the first is gone. */
int fw_pg_node_lock(struct fw_pg *p)
{
	const char *v[1] = {p->node};

	if (!p->node[0])
		return 0;
	return fw_pg_cmd(p,
	                 "SELECT pg_try_advisory_lock(" FW_PG_NODE_LOCK ", hashtext($1)) "
	                 "WHERE NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
	                 "AND classid = " FW_PG_NODE_LOCK " AND objid = hashtext($1)::oid "
	                 "AND objsubid = 2 AND pid = pg_backend_pid())",
	                 1, v, NULL);
}

/* -EINVAL unless fw_store_set_node named this node. */
static int need_node(struct fw_pg *p)
{
	if (!p->node[0])
		return fw_pg_fail_msg(p, -EINVAL, "no node name: fw_store_set_node first");
	return 0;
}

/* the node asking again for its own claim gets it: a restart under the same name, or its
   own timer a second early; early takes a claim whose poll is done. With a host limit
   ($7 > 0) the host's lock ("FWHC", the host's hash) is taken, then its room counted. Says
   whether taken, the claim's end (0: no claim seen) and whether the host had room. */
static const struct fw_pg_stmt claim_stmt = {
    "fw_feed_claim",
    "SELECT o_taken, o_until, o_room FROM fw_feed_claim($1, $2, $3, $4, $5, $6, $7)", 7, true};

static const struct fw_pg_stmt hold_stmt = {
    "fw_feed_hold",
    "UPDATE feed_claims SET held_until = $3::bigint, polling = false "
    "WHERE feed = $1 AND node = $2",
    3, true};

const struct fw_pg_stmt *const fw_pg_stmts_cluster[] = {&claim_stmt, &hold_stmt, NULL};

int fw_pg_feed_claim(struct fw_store *s, const char *feed, const char *host, int64_t host_limit,
                     int64_t now, bool early, int64_t *until)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], b[24], c[24];
	const char *v[7] = {feed,
	                    p->node,
	                    fw_pg_i64(a, now),
	                    fw_pg_i64(b, held_for(p)),
	                    early ? "t" : "f",
	                    host ? host : "",
	                    fw_pg_i64(c, host ? host_limit : 0)};
	PGresult *r;
	int ret;

	if ((ret = need_node(p)) < 0 ||
	    (ret = fw_pg_check_len(p, feed, FW_STORE_KEY_MAX, "a feed name")) < 0 ||
	    (ret = fw_pg_check_len(p, v[5], FW_STORE_KEY_MAX, "a host name")) < 0)
		return ret;
	r = fw_pg_run(p, &claim_stmt, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	ret = (int)fw_pg_get_i64(r, 0, 0);
	*until = fw_pg_get_i64(r, 0, 1);
	if (ret == 0 && *until <= now) {
		/* not held by another node: its host is busy, or the node that holds it has not
		   committed its claim yet; ask again in a second */
		if (strcmp(PQgetvalue(r, 0, 2), "f") == 0)
			ret = 2;
		*until = now + 1;
	}
	PQclear(r);
	return ret;
}

int fw_pg_feed_hold(struct fw_store *s, const char *feed, int64_t until)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24];
	const char *v[3] = {feed, p->node, fw_pg_i64(a, until)};
	int64_t changed = 0;
	int ret;

	if ((ret = need_node(p)) < 0 ||
	    (ret = fw_pg_check_len(p, feed, FW_STORE_KEY_MAX, "a feed name")) < 0)
		return ret;
	ret = fw_pg_run_cmd(p, &hold_stmt, v, &changed);
	return ret < 0 ? ret : changed > 0;
}

int fw_pg_node_beat(struct fw_store *s, const char *host, int64_t pid, int64_t started, int64_t now)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24], b[24], c[24], d[24], e[24];
	const char *v[6] = {p->node,           host ? host : "",
	                    fw_pg_i64(a, pid), fw_pg_i64(b, started),
	                    fw_pg_i64(c, now), fw_pg_i64(d, p->lease)};
	const char *w[2] = {v[0], fw_pg_i64(e, now + held_for(p))};
	int ret;

	if ((ret = need_node(p)) < 0 ||
	    (ret = fw_pg_check_len(p, host, FW_STORE_KEY_MAX, "a host name")) < 0)
		return ret;
	/* a new process under the name: the polls of the one before are not in flight here */
	ret = fw_pg_cmd(p,
	                "UPDATE feed_claims SET polling = false, held_until = $5::bigint "
	                "WHERE node = $1 AND polling AND EXISTS (SELECT 1 FROM nodes WHERE name = "
	                "$1 AND (host <> $2 OR pid <> $3::bigint OR started <> $4::bigint))",
	                5, v, NULL);
	if (ret == 0)
		ret = fw_pg_cmd(
		    p,
		    "INSERT INTO nodes (name, host, pid, started, last_seen, lease) "
		    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET "
		    "host = excluded.host, pid = excluded.pid, started = excluded.started, "
		    "last_seen = excluded.last_seen, lease = excluded.lease",
		    6, v, NULL);
	if (ret == 0)
		ret = fw_pg_cmd(p,
		                "UPDATE feed_claims SET held_until = $2::bigint "
		                "WHERE node = $1 AND polling AND held_until < $2::bigint",
		                2, w, NULL);
	if (ret == 0)
		ret = fw_pg_cmd(p, "DELETE FROM nodes WHERE last_seen < $1::bigint - 86400", 1,
		                v + 4, NULL);
	if (ret == 0)
		ret = fw_pg_node_lock(p);
	return ret;
}

/* Does the outbox have claims of its own (claimed_by, claim_until)? 1, 0 or -errno. */
static int outbox_claims(struct fw_pg *p)
{
	PGresult *r;
	int ret = 0;

	r = fw_pg_exec(p,
	               "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
	               "current_schema() AND table_name = 'outbox' AND column_name IN "
	               "('claimed_by', 'claim_until')",
	               0, NULL, NULL, NULL, &ret);
	if (!r)
		return ret;
	ret = fw_pg_get_i64(r, 0, 0) == 2;
	PQclear(r);
	return ret;
}

int fw_pg_node_each(struct fw_store *s, int64_t now, fw_store_node_cb cb, void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24];
	const char *v[1] = {fw_pg_i64(a, now)};
	PGresult *r;
	int ret = 0, outbox = outbox_claims(p);

	if (outbox < 0)
		return outbox;
	r = fw_pg_exec(
	    p,
	    outbox ? "SELECT n.name, n.host, n.pid, n.started, n.last_seen, n.lease, "
	             "(SELECT count(*) FROM feed_claims c WHERE c.node = n.name AND NOT c.polling "
	             "AND c.held_until > $1::bigint), "
	             "(SELECT count(*) FROM feed_claims c WHERE c.node = n.name AND c.polling "
	             "AND c.held_until > $1::bigint), "
	             "(SELECT count(*) FROM outbox o WHERE o.claimed_by = n.name "
	             "AND o.claim_until > $1::bigint) FROM nodes n ORDER BY n.name"
	           : "SELECT n.name, n.host, n.pid, n.started, n.last_seen, n.lease, "
	             "(SELECT count(*) FROM feed_claims c WHERE c.node = n.name AND NOT c.polling "
	             "AND c.held_until > $1::bigint), "
	             "(SELECT count(*) FROM feed_claims c WHERE c.node = n.name AND c.polling "
	             "AND c.held_until > $1::bigint), -1 FROM nodes n ORDER BY n.name",
	    1, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	for (int i = 0; ret == 0 && i < PQntuples(r); i++) {
		struct fw_store_node n = {.name = fw_pg_get_str(r, i, 0),
		                          .host = fw_pg_get_str(r, i, 1),
		                          .pid = fw_pg_get_i64(r, i, 2),
		                          .started = fw_pg_get_i64(r, i, 3),
		                          .last_seen = fw_pg_get_i64(r, i, 4),
		                          .lease = fw_pg_get_i64(r, i, 5),
		                          .feeds = fw_pg_get_i64(r, i, 6),
		                          .polling = fw_pg_get_i64(r, i, 7),
		                          .outbox = fw_pg_get_i64(r, i, 8)};

		n.alive = n.last_seen + n.lease > now;
		ret = cb(&n, arg);
	}
	PQclear(r);
	return ret;
}

int fw_pg_claim_each(struct fw_store *s, int64_t now, fw_store_claim_cb cb, void *arg)
{
	struct fw_pg *p = fw_pg_of(s);
	char a[24];
	const char *v[1] = {fw_pg_i64(a, now)};
	PGresult *r;
	int ret = 0;

	r = fw_pg_exec(p,
	               "SELECT feed, node, held_until, polling FROM feed_claims "
	               "WHERE held_until > $1::bigint ORDER BY feed",
	               1, v, NULL, NULL, &ret);
	if (!r)
		return ret;
	for (int i = 0; ret == 0 && i < PQntuples(r); i++)
		ret = cb(fw_pg_get_str(r, i, 0), fw_pg_get_str(r, i, 1), fw_pg_get_i64(r, i, 2),
		         strcmp(PQgetvalue(r, i, 3), "t") == 0, arg);
	PQclear(r);
	return ret;
}
