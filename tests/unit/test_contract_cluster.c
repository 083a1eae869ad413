/* test_contract_cluster.c - the store contract, cluster part: claims on feeds, the
   heartbeat, the nodes and the prune lock (test_contract.h). A store of one node (SQLite) grants every
   claim; the cases with two stores on one database run on PostgreSQL only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_contract.h"

#define LEASE 5
/* a claim in flight lasts a second short of the lease (whole-second clock, pg_cluster.c) */
#define HELD (LEASE - 1)

static struct fw_store *open_node(struct contract *c, const char *node)
{
	struct fw_store *s = contract_open(c);

	assert_int_equal(fw_store_set_node(s, node, LEASE), 0);
	return s;
}

/* One node: every claim is its own, and it keeps no nodes. */
static int count_node(const struct fw_store_node *n, void *arg)
{
	(void)n;
	++*(int *)arg;
	return 0;
}

static void test_one_node(void **state)
{
	struct contract *c = *state;
	struct fw_store *s = open_node(c, "solo");
	int64_t until = 0;
	int n = 0;

	assert_int_equal(fw_store_feed_claim(s, "f", NULL, 0, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_hold(s, "f", 1300), 1);
	assert_int_equal(fw_store_node_beat(s, "host", 42, 990, 1001), 0);
	assert_int_equal(fw_store_node_each(s, 1001, count_node, &n), 0);
	assert_int_equal(n, c->pg ? 1 : 0);
	fw_store_close(s);
}

/* Two nodes: a feed held by one is refused to the other, with the time to ask again; a
   claim in flight that is not renewed lapses after the lease. */
static void test_claims_disjoint(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	int64_t until = 0;

	if (!c->pg)
		skip();
	a = open_node(c, "a");
	b = open_node(c, "b");
	assert_int_equal(fw_store_feed_claim(a, "f1", NULL, 0, 1000, false, &until), 1);
	assert_int_equal(until, 1000 + HELD);
	assert_int_equal(fw_store_feed_claim(b, "f1", NULL, 0, 1000, false, &until), 0);
	assert_int_equal(until, 1000 + HELD);
	assert_int_equal(fw_store_feed_claim(b, "f2", NULL, 0, 1001, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(a, "f2", NULL, 0, 1004, false, &until), 0);
	assert_int_equal(until, 1001 + HELD);
	/* a's poll of f1 is never renewed: b takes it over within the lease */
	assert_int_equal(fw_store_feed_claim(b, "f1", NULL, 0, 1003, false, &until), 0);
	assert_int_equal(fw_store_feed_claim(b, "f1", NULL, 0, 1004, false, &until), 1);
	/* a's late poll finds its claim gone */
	assert_int_equal(fw_store_feed_hold(a, "f1", 1300), 0);
	assert_int_equal(fw_store_feed_hold(b, "f1", 1300), 1);
	/* kept until the next poll: not due for anyone before, due for anyone then */
	assert_int_equal(fw_store_feed_claim(a, "f1", NULL, 0, 1200, false, &until), 0);
	assert_int_equal(until, 1300);
	assert_int_equal(fw_store_feed_claim(a, "f1", NULL, 0, 1300, false, &until), 1);
	/* until 0 lets a claim go at once */
	assert_int_equal(fw_store_feed_hold(a, "f1", 0), 1);
	assert_int_equal(fw_store_feed_claim(b, "f1", NULL, 0, 1301, false, &until), 1);
	/* the same node (a restart under its name) gets its own claim back */
	fw_store_close(b);
	b = open_node(c, "b");
	assert_int_equal(fw_store_feed_claim(b, "f1", NULL, 0, 1302, false, &until), 1);
	/* a new process under the name lets go of the old one's polls in flight at its
	   first beat; its held claims stay */
	assert_int_equal(fw_store_feed_claim(b, "f2", NULL, 0, 1400, false, &until), 1);
	assert_int_equal(fw_store_feed_hold(b, "f2", 1500), 1);
	assert_int_equal(fw_store_node_beat(b, "hb", 22, 1300, 1401), 0);
	assert_int_equal(fw_store_feed_claim(a, "f1", NULL, 0, 1402, false, &until), 0);
	assert_int_equal(fw_store_node_beat(b, "hb", 23, 1403, 1403), 0);
	assert_int_equal(fw_store_feed_claim(a, "f1", NULL, 0, 1403, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(a, "f2", NULL, 0, 1403, false, &until), 0);
	assert_int_equal(until, 1500);
	fw_store_close(a);
	fw_store_close(b);
}

/* The hold is written in the poll's transaction: a poll rolled back leaves the claim in
   flight (it lapses after the lease), a committed one keeps it until the next poll. */
static void test_hold_in_poll(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	int64_t until = 0;

	if (!c->pg)
		skip();
	a = open_node(c, "a");
	b = open_node(c, "b");
	assert_int_equal(fw_store_feed_claim(a, "f", NULL, 0, 1000, false, &until), 1);
	assert_int_equal(fw_store_poll_begin(a), 0);
	assert_int_equal(fw_store_feed_hold(a, "f", 2000), 1);
	assert_int_equal(fw_store_poll_rollback(a), 0);
	assert_int_equal(fw_store_feed_claim(b, "f", NULL, 0, 1005, false, &until), 1);
	assert_int_equal(fw_store_begin_lazy(b), 0);
	assert_int_equal(fw_store_poll_begin(b), 0);
	assert_int_equal(fw_store_feed_hold(b, "f", 2000), 1);
	assert_int_equal(fw_store_poll_commit(b), 0);
	assert_int_equal(fw_store_commit(b), 0);
	assert_int_equal(fw_store_feed_claim(a, "f", NULL, 0, 1500, false, &until), 0);
	assert_int_equal(until, 2000);
	fw_store_close(a);
	fw_store_close(b);
}

/* early (once): a feed not due yet is polled now, but never beside a poll in flight */
static void test_early(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	int64_t until = 0;

	if (!c->pg)
		skip();
	a = open_node(c, "a");
	b = open_node(c, "b");
	assert_int_equal(fw_store_feed_claim(a, "f", NULL, 0, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(b, "f", NULL, 0, 1001, true, &until), 0);
	assert_int_equal(until, 1000 + HELD);
	assert_int_equal(fw_store_feed_hold(a, "f", 1300), 1);
	assert_int_equal(fw_store_feed_claim(b, "f", NULL, 0, 1002, false, &until), 0);
	assert_int_equal(until, 1300);
	assert_int_equal(fw_store_feed_claim(b, "f", NULL, 0, 1002, true, &until), 1);
	assert_int_equal(until, 1002 + HELD);
	assert_int_equal(fw_store_feed_claim(a, "f", NULL, 0, 1003, true, &until), 0);
	fw_store_close(a);
	fw_store_close(b);
}

struct seen {
	int n, alive, feeds, polling, outbox;
	char names[4][16];
};

static int note_node(const struct fw_store_node *n, void *arg)
{
	struct seen *s = arg;

	snprintf(s->names[s->n++ % 4], sizeof(s->names[0]), "%s", n->name);
	s->alive += n->alive;
	s->feeds += (int)n->feeds;
	s->polling += (int)n->polling;
	assert_true(n->outbox >= 0);
	s->outbox += (int)n->outbox;
	return 0;
}

static int note_claim(const char *feed, const char *node, int64_t until, bool polling, void *arg)
{
	(void)until;
	(void)polling;
	if (strcmp(feed, "slow") == 0)
		assert_string_equal(node, "a");
	++*(int *)arg;
	return 0;
}

/* A poll slower than the lease keeps its claim while its node beats; a held claim is not
   extended by the beat; a node that stops beating loses the poll in flight a second short of
   a lease after its last beat. */
static void test_heartbeat(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	struct seen seen = {0};
	struct fw_outbox_entry *out = NULL;
	size_t n_out = 0;
	int64_t until = 0;
	int claims = 0;

	if (!c->pg)
		skip();
	a = open_node(c, "a");
	b = open_node(c, "b");
	assert_int_equal(fw_store_node_beat(a, "ha", 11, 990, 1000), 0);
	assert_int_equal(fw_store_node_beat(b, "hb", 22, 990, 1000), 0);
	assert_int_equal(fw_store_feed_claim(a, "slow", NULL, 0, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(a, "done", NULL, 0, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_hold(a, "done", 1020), 1);
	for (int64_t t = 1001; t <= 1013; t += 2) {
		assert_int_equal(fw_store_node_beat(a, "ha", 11, 990, t), 0);
		assert_int_equal(fw_store_feed_claim(b, "slow", NULL, 0, t + 1, false, &until), 0);
		assert_int_equal(until, t + HELD);
	}
	/* a delivery a claimed (pg_outbox.c) counts as its own */
	assert_int_equal(fw_store_outbox_add(a, "al1", "log", "{}", 1000), 1);
	assert_int_equal(fw_store_outbox_due(a, 1012, 10, NULL, 0, &out, &n_out), 0);
	assert_int_equal(n_out, 1);
	fw_outbox_entries_free(out, n_out);
	assert_int_equal(fw_store_claim_each(b, 1014, note_claim, &claims), 0);
	assert_int_equal(claims, 2);
	/* the held claim was not renewed: it ends at the next poll */
	assert_int_equal(fw_store_feed_claim(b, "done", NULL, 0, 1019, false, &until), 0);
	assert_int_equal(until, 1020);
	assert_int_equal(fw_store_node_each(b, 1014, note_node, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "a");
	assert_string_equal(seen.names[1], "b");
	assert_int_equal(seen.alive, 1); /* b last beat at 1000 */
	assert_int_equal(seen.feeds, 1);
	assert_int_equal(seen.polling, 1);
	assert_int_equal(seen.outbox, 1);
	/* a dies after its beat at 1013: b takes the poll over at 1017, not before */
	assert_int_equal(fw_store_feed_claim(b, "slow", NULL, 0, 1016, false, &until), 0);
	assert_int_equal(fw_store_feed_claim(b, "slow", NULL, 0, 1017, false, &until), 1);
	assert_int_equal(fw_store_feed_hold(a, "slow", 1100), 0);
	fw_store_close(a);
	fw_store_close(b);
}

#define RACE_FEEDS 200

/* The counts the three racing processes wrote to their pipes, each in got[k]; then release
   them (close release, unless -1) and reap them (each must have exited 0). Returns the
   counts' sum. */
static int reap_racers(int fds[3][2], const pid_t pids[3], int got[3], int release)
{
	int total = 0;

	for (int k = 0; k < 3; k++) {
		assert_int_equal(read(fds[k][0], &got[k], sizeof(got[k])), sizeof(got[k]));
		close(fds[k][0]);
		total += got[k];
	}
	if (release >= 0)
		close(release);
	for (int k = 0; k < 3; k++) {
		int st = 0;

		assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
		assert_int_equal(st, 0);
	}
	return total;
}

/* Three processes, each its own connection, claim the same feeds at the same time: each
   feed is granted exactly once, and the claims the database holds are those granted. */
static void test_claim_race(void **state)
{
	struct contract *c = *state;
	int fds[3][2], got[3] = {0}, held[3] = {0};
	pid_t pids[3];
	struct fw_store *s;

	if (!c->pg)
		skip();
	fw_store_close(open_node(c, "x")); /* the schema, before the racers */
	for (int k = 0; k < 3; k++) {
		assert_int_equal(pipe(fds[k]), 0);
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			char node[8];
			int n = 0;

			snprintf(node, sizeof(node), "n%d", k);
			s = open_node(c, node);
			for (int i = 0; i < RACE_FEEDS; i++) {
				char feed[16];
				int64_t until;
				int j = k == 1 ? RACE_FEEDS - 1 - i : i;
				int r;

				snprintf(feed, sizeof(feed), "feed%d", j);
				r = fw_store_feed_claim(s, feed, NULL, 0, 5000, false, &until);
				if (r < 0)
					_exit(2);
				n += r;
			}
			fw_store_close(s);
			if (write(fds[k][1], &n, sizeof(n)) != sizeof(n))
				_exit(3);
			_exit(0);
		}
		close(fds[k][1]);
	}
	assert_int_equal(reap_racers(fds, pids, got, -1), RACE_FEEDS);
	s = contract_open(c);
	for (int k = 0; k < 3; k++) {
		char node[8];

		snprintf(node, sizeof(node), "n%d", k);
		assert_int_equal(fw_store_set_node(s, node, LEASE), 0);
		for (int i = 0; i < RACE_FEEDS; i++) {
			char feed[16];

			snprintf(feed, sizeof(feed), "feed%d", i);
			held[k] += fw_store_feed_hold(s, feed, 6000);
		}
		assert_int_equal(held[k], got[k]);
	}
	fw_store_close(s);
}

/* host_concurrency across the cluster: a claim is refused with 2 (ask again in a second)
   while the limit of the host's other polls are in flight on any node; a poll done, or a
   claim in flight that lapsed, makes room; other hosts, and a limit of 0, are not held. */
static void test_host_limit(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	int64_t until = 0;

	if (!c->pg) {
		a = contract_open(c);
		assert_int_equal(fw_store_feed_claim(a, "f", "h:80", 1, 1000, false, &until), 1);
		assert_int_equal(fw_store_feed_claim(a, "g", "h:80", 1, 1000, false, &until), 1);
		fw_store_close(a);
		return;
	}
	a = open_node(c, "a");
	b = open_node(c, "b");
	assert_int_equal(fw_store_feed_claim(a, "f1", "h:80", 2, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(b, "f2", "h:80", 2, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(a, "f3", "h:80", 2, 1001, false, &until), 2);
	assert_int_equal(until, 1002);
	assert_int_equal(fw_store_feed_claim(b, "f3", "h:80", 2, 1001, false, &until), 2);
	/* a feed held by another node says so, busy host or not */
	assert_int_equal(fw_store_feed_claim(b, "f1", "h:80", 2, 1001, false, &until), 0);
	assert_int_equal(until, 1000 + HELD);
	assert_int_equal(fw_store_feed_claim(a, "g1", "g:80", 2, 1001, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(a, "f4", "h:80", 0, 1001, false, &until), 1);
	assert_int_equal(fw_store_feed_hold(a, "f4", 1300), 1);
	/* b's poll is done: its slot is free */
	assert_int_equal(fw_store_feed_hold(b, "f2", 1300), 1);
	assert_int_equal(fw_store_feed_claim(b, "f3", "h:80", 2, 1002, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(b, "f5", "h:80", 2, 1002, false, &until), 2);
	/* a's f1 is not renewed and lapses after the lease */
	assert_int_equal(fw_store_feed_claim(b, "f5", "h:80", 2, 1000 + HELD, false, &until), 1);
	fw_store_close(a);
	fw_store_close(b);
}

/* A node gone from the database (its connection ended, as at kill -9) no longer holds its
   hosts' slots, though its claims in flight still wait for the lease. */
static void test_host_slot_freed(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b;
	int64_t until = 0;
	int r = 0;

	if (!c->pg)
		skip();
	a = open_node(c, "a");
	b = open_node(c, "b");
	assert_int_equal(fw_store_feed_claim(a, "f1", "h:80", 1, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(b, "f2", "h:80", 1, 1000, false, &until), 2);
	fw_store_close(a);
	/* the server ends a's session a moment after the connection closes */
	for (int i = 0; i < 100 && r != 1; i++) {
		r = fw_store_feed_claim(b, "f2", "h:80", 1, 1001, false, &until);
		if (r != 1)
			usleep(20000);
	}
	assert_int_equal(r, 1);
	assert_int_equal(fw_store_feed_claim(b, "f1", "h:80", 2, 1001, false, &until), 0);
	assert_int_equal(until, 1000 + HELD);
	fw_store_close(b);
}

/* Nodes logged in as different roles see each other's slots: a node's liveness is its
   session's advisory lock, which pg_locks shows to every role (pg_stat_activity hides
   the sessions of other roles, and of a superuser, from a plain role). */
static void test_host_slot_other_role(void **state)
{
	struct contract *c = *state;
	struct fw_store *a, *b = NULL;
	char url[sizeof(c->where) + 16];
	const char *at = strstr(c->where, "//feedwatch@");
	int64_t until = 0;

	if (!c->pg || at == NULL)
		skip();
	a = open_node(c, "a");
	assert_int_equal(
	    contract_pg_exec(c->where,
	                     "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
	                     "'fw_other') THEN CREATE ROLE fw_other LOGIN; END IF; END $$;"
	                     "GRANT USAGE, CREATE ON SCHEMA public TO fw_other;"
	                     "GRANT ALL ON ALL TABLES IN SCHEMA public TO fw_other;"
	                     "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO fw_other;"
	                     "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO fw_other"),
	    0);
	snprintf(url, sizeof(url), "%.*s//fw_other@%s", (int)(at - c->where), c->where,
	         at + strlen("//feedwatch@"));
	assert_int_equal(fw_store_open(url, false, &b, c->err, sizeof(c->err)), 0);
	assert_int_equal(fw_store_set_node(b, "b", LEASE), 0);
	assert_int_equal(fw_store_feed_claim(a, "f1", "h:80", 1, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(b, "f2", "h:80", 1, 1000, false, &until), 2);
	fw_store_close(b);
	fw_store_close(a);
}

#define HOST_LIMIT 3
#define HOSTS      40

/* Three connections, released together, claim 10 feeds each of 40 hosts in the same
   order, none done, and stay connected: each host grants exactly its limit, however the
   claims interleave. */
static void test_host_race(void **state)
{
	struct contract *c = *state;
	int fds[3][2], ready[2], go[2], done[2], got[3] = {0};
	pid_t pids[3];
	char byte;

	if (!c->pg)
		skip();
	fw_store_close(open_node(c, "x")); /* the schema, before the racers */
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(pipe(fds[k]), 0);
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			char node[8];
			int n = 0;
			struct fw_store *s;

			snprintf(node, sizeof(node), "n%d", k);
			s = open_node(c, node);
			close(go[1]);
			if (write(ready[1], "r", 1) != 1 || read(go[0], &byte, 1) != 0)
				_exit(4);
			for (int h = 0; h < HOSTS; h++)
				for (int i = 0; i < 10; i++) {
					char feed[32], host[32];
					int64_t until;
					int r;

					snprintf(feed, sizeof(feed), "h%d-n%d-f%d", h, k, i);
					snprintf(host, sizeof(host), "host%d.example:443", h);
					r = fw_store_feed_claim(s, feed, host, HOST_LIMIT, 5000,
					                        false, &until);
					if (r != 1 && r != 2)
						_exit(2);
					n += r == 1;
				}
			/* connected until every racer is done: a node gone frees its slots */
			close(done[1]);
			if (write(fds[k][1], &n, sizeof(n)) != sizeof(n) ||
			    read(done[0], &byte, 1) != 0)
				_exit(3);
			fw_store_close(s);
			_exit(0);
		}
		close(fds[k][1]);
	}
	close(ready[1]);
	close(go[0]);
	for (int k = 0; k < 3; k++)
		assert_int_equal(read(ready[0], &byte, 1), 1);
	close(go[1]); /* all connected: go */
	close(ready[0]);
	close(done[0]);
	assert_int_equal(reap_racers(fds, pids, got, done[1]), HOSTS * HOST_LIMIT);
}

/* A database of schema 1 (claims without their host) is brought up to date by the first
   writer that opens it; a reader opening it first is told why it cannot. */
static void test_schema_upgrade(void **state)
{
	struct contract *c = *state;
	struct fw_store *s;
	int64_t until = 0;

	if (!c->pg)
		skip();
	fw_store_close(open_node(c, "a"));
	assert_int_equal(contract_pg_exec(c->where, "DROP INDEX feed_claims_host;"
	                                            "ALTER TABLE feed_claims DROP COLUMN host;"
	                                            "UPDATE meta SET v = 1 WHERE k = 'schema'"),
	                 0);
	assert_true(fw_store_open(c->where, true, &s, c->err, sizeof(c->err)) < 0);
	assert_non_null(strstr(c->err, "older"));
	s = open_node(c, "a");
	assert_int_equal(fw_store_feed_claim(s, "f1", "h:80", 1, 1000, false, &until), 1);
	assert_int_equal(fw_store_feed_claim(s, "f2", "h:80", 1, 1000, false, &until), 2);
	fw_store_close(s);
	assert_int_equal(fw_store_open(c->where, true, &s, c->err, sizeof(c->err)), 0);
	fw_store_close(s);
}

/* The items and the archive row a prune by PRUNE_BEFORE deletes one of each of. */
#define PRUNE_BEFORE 5000
static void add_prunable(struct fw_store *s)
{
	struct fw_archive_row r = {.feed = "f",
	                           .item = "old",
	                           .title = "old",
	                           .seen = 1000,
	                           .published = INT64_MIN,
	                           .updated = INT64_MIN};

	assert_int_equal(fw_store_item_mark(s, "f", "old", 1, 1000), FW_ITEM_NEW);
	assert_int_equal(fw_store_item_mark(s, "f", "new", 1, 20000), FW_ITEM_NEW);
	assert_int_equal(fw_store_archive_add(s, &r), 0);
}

/* The prunes by PRUNE_BEFORE on s: items and archive rows deleted (-1: error). */
static int64_t prune_all(struct fw_store *s)
{
	int64_t items = -1, rows = -1;

	if (fw_store_item_prune(s, PRUNE_BEFORE, &items) < 0 ||
	    fw_store_archive_prune(s, PRUNE_BEFORE, 0, NULL, &rows) < 0)
		return -1;
	return items + rows;
}

/* Items and archive rows left. */
static int64_t left(struct fw_store *s)
{
	int64_t items = -1, rows = -1;

	assert_int_equal(fw_store_item_count(s, "f", &items), 0);
	assert_int_equal(fw_store_archive_count(s, 0, &rows, NULL), 0);
	return items + rows;
}

/*
 * One node prunes a shared store at a time (the prune lock): while a holds it (its pass
 * under way), b's prunes skip, doing nothing and succeeding; once a gives it back, b's
 * prune does the work. Holds nest; a node whose connection goes loses the lock with it.
 * One node (SQLite): the lock is always its own.
 */
static void test_prune_lock(void **state)
{
	struct contract *c = *state;
	struct fw_store *a = open_node(c, "a"), *b;
	int64_t n = 0;

	add_prunable(a);
	assert_int_equal(fw_store_prune_lock(a), 1);
	assert_int_equal(fw_store_prune_lock(a), 1); /* nested */
	assert_int_equal(fw_store_prune_unlock(a), 0);
	if (!c->pg) {
		assert_int_equal(fw_store_prune_unlock(a), 0);
		fw_store_close(a);
		skip();
	}
	b = open_node(c, "b");
	assert_int_equal(fw_store_prune_lock(b), 0);
	assert_int_equal(prune_all(b), 0);
	assert_int_equal(left(b), 3);
	/* a's last hold goes: b prunes */
	assert_int_equal(fw_store_prune_unlock(a), 0);
	assert_int_equal(fw_store_prune_unlock(a), 0); /* none held: nothing */
	assert_int_equal(prune_all(b), 2);
	assert_int_equal(left(b), 1);
	/* b's prunes gave it back; b holds it, and its connection goes: a may take it */
	assert_int_equal(fw_store_prune_lock(a), 1);
	assert_int_equal(fw_store_prune_unlock(a), 0);
	assert_int_equal(fw_store_prune_lock(b), 1);
	assert_int_equal(fw_store_prune_lock(a), 0);
	/* b's backend ends (waited for: its locks go as it exits); the holder of the prune
	   lock ("FWPR", one-key form), not of the nodes' own session locks */
	assert_int_equal(contract_pg_exec(c->where,
	                                  "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks "
	                                  "WHERE locktype = 'advisory' AND granted AND "
	                                  "objsubid = 1 AND objid = 1180127314"),
	                 0);
	assert_int_equal(fw_store_prune_lock(a), 1);
	/* b's next statement finds its connection gone; connected again, b finds the lock a's,
	   and its hold from before gives back nothing */
	assert_true(fw_store_item_count(b, "f", &n) < 0);
	assert_int_equal(fw_store_prune_lock(b), 0);
	assert_int_equal(fw_store_prune_unlock(b), 0);
	assert_int_equal(fw_store_prune_lock(b), 0);
	assert_int_equal(fw_store_prune_unlock(a), 0);
	assert_int_equal(fw_store_prune_lock(b), 1);
	assert_int_equal(fw_store_prune_unlock(b), 0);
	fw_store_close(b);
	fw_store_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_node, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_claims_disjoint, contract_setup,
	                                    contract_teardown),
	    cmocka_unit_test_setup_teardown(test_hold_in_poll, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_early, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_heartbeat, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_claim_race, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_host_limit, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_host_slot_freed, contract_setup,
	                                    contract_teardown),
	    cmocka_unit_test_setup_teardown(test_host_slot_other_role, contract_setup,
	                                    contract_teardown),
	    cmocka_unit_test_setup_teardown(test_host_race, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_schema_upgrade, contract_setup, contract_teardown),
	    cmocka_unit_test_setup_teardown(test_prune_lock, contract_setup, contract_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
