/* cli_store.c - the commands that read and act on the store: outbox, status. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>

#include "alert.h"
#include "cli.h"
#include "config.h"
#include "date.h"
#include "schedule.h"
#include "store.h"

const char fw_cli_store_outbox_help[] =
    "usage: feedwatch outbox list [--pending|--dead] [--output NAME] [--json] [-c FILE]\n"
    "       feedwatch outbox retry ROWID | --all [--output NAME] [-c FILE]\n"
    "       feedwatch outbox drop ROWID | --dead [--output NAME] [-c FILE]\n"
    "Show queued (pending) and dead alerts; make dead ones pending again; delete.\n"
    "An unknown ROWID is an error (exit 1); an empty list is said on stderr.\n";

static void print_outbox_entry(const struct cli *c, const struct fw_outbox_entry *e)
{
	char next[40];

	fw_cli_fmt_time(e->next_at, next, sizeof(next));
	if (c->json) {
		json_t *j = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s?, s:o?}", "rowid",
		                      (json_int_t)e->rowid, "state",
		                      e->state == FW_OUTBOX_DEAD ? "dead" : "pending", "attempts",
		                      (json_int_t)e->attempts, "output", e->output, "next", next,
		                      "alert_id", e->alert_id, "last_error", e->last_error, "alert",
		                      json_loads(e->payload, 0, NULL));
		char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (line)
			puts(line);
		free(line);
		json_decref(j);
	} else {
		printf("%-8lld %-7s %-8lld %-16s %-20s %-32s %s\n", (long long)e->rowid,
		       e->state == FW_OUTBOX_DEAD ? "dead" : "pending", (long long)e->attempts,
		       e->output, next, e->alert_id, e->last_error ? e->last_error : "");
	}
}

static int outbox_list(const struct cli *c, struct fw_store *s)
{
	struct fw_outbox_entry *e = NULL;
	size_t n = 0;
	int state = c->dead ? FW_OUTBOX_DEAD : c->pending ? FW_OUTBOX_PENDING : -1;

	if (c->dead && c->pending)
		state = -1; /* both states: all of them */
	if (fw_store_outbox_list(s, state, c->output, &e, &n) < 0) {
		fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
		return 1;
	}
	if (n == 0) /* on stderr: stdout stays a table or JSON Lines, here empty */
		fprintf(stderr, "feedwatch: the outbox has no %salerts%s%s\n",
		        state == FW_OUTBOX_DEAD      ? "dead "
		        : state == FW_OUTBOX_PENDING ? "pending "
		                                     : "",
		        c->output ? " of output " : "", c->output ? c->output : "");
	else if (!c->json)
		printf("%-8s %-7s %-8s %-16s %-20s %-32s %s\n", "ROWID", "STATE", "ATTEMPTS",
		       "OUTPUT", "NEXT", "ALERT", "LAST ERROR");
	for (size_t k = 0; k < n; k++)
		print_outbox_entry(c, &e[k]);
	fw_outbox_entries_free(e, n);
	return 0;
}

/* Why `retry ROWID` or `drop ROWID` changed nothing: no such row, or another output's.
   Returns 1 (the exit status). */
static int outbox_row_missing(const struct cli *c, struct fw_store *s, int64_t rowid)
{
	struct fw_outbox_entry *e = NULL;
	size_t n = 0, k = 0;

	if (fw_store_outbox_list(s, -1, NULL, &e, &n) < 0) {
		fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
		return 1;
	}
	while (k < n && e[k].rowid != rowid)
		k++;
	if (k < n && c->output && strcmp(e[k].output, c->output) != 0)
		fprintf(stderr, "feedwatch: outbox: row %lld is an alert of output %s, not %s\n",
		        (long long)rowid, e[k].output, c->output);
	else
		fprintf(stderr,
		        "feedwatch: outbox: no alert with row id %lld (`feedwatch outbox list` "
		        "shows the row ids)\n",
		        (long long)rowid);
	fw_outbox_entries_free(e, n);
	return 1;
}

/* ROWID or the flag that means "every dead one" (`--all`, `--dead`), never both. Returns 0
   and *rowid (0 for the flag), or 2 after saying what is wrong. */
static int outbox_target(const char *verb, char **args, int nargs, bool flag, const char *flag_name,
                         int64_t *rowid)
{
	char *end;

	*rowid = 0;
	if (nargs == 0 && !flag) {
		fprintf(stderr, "feedwatch: outbox %s needs a ROWID or %s\n%s", verb, flag_name,
		        fw_cli_store_outbox_help);
		return 2;
	}
	if (nargs == 0)
		return 0;
	if (flag) {
		fprintf(stderr, "feedwatch: outbox %s: give a ROWID or %s, not both\n", verb,
		        flag_name);
		return 2;
	}
	errno = 0;
	*rowid = strtoll(args[0], &end, 10);
	if (errno || end == args[0] || *end || *rowid <= 0) {
		fprintf(stderr, "feedwatch: outbox %s: '%s' is not a row id\n", verb, args[0]);
		return 2;
	}
	return 0;
}

/* An outbox verb: load the config, open the store (read only for list), run it. */
static int outbox_run(const struct cli *c, const char *verb, int64_t rowid)
{
	struct fw_config *cfg = fw_cli_load_config(c->config, true);
	struct fw_store *s;
	int64_t changed = 0;
	int code;

	if (cfg == NULL)
		return 2;
	s = fw_cli_open_store(cfg, c, strcmp(verb, "list") == 0, &code);
	if (s == NULL) {
		fw_config_free(cfg);
		return code;
	}
	code = 0;
	if (strcmp(verb, "list") == 0) {
		code = outbox_list(c, s);
	} else if (strcmp(verb, "retry") == 0) {
		if (fw_store_outbox_revive(s, rowid, c->output, time(NULL), &changed) < 0) {
			fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
			code = 1;
		} else if (rowid > 0 && changed == 0) {
			code = outbox_row_missing(c, s, rowid);
		} else {
			printf("%lld alerts queued again (a running daemon sends them at its next "
			       "outbox pass)\n",
			       (long long)changed);
		}
	} else if (fw_store_outbox_drop(s, rowid, c->output, &changed) < 0) {
		fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
		code = 1;
	} else if (rowid > 0 && changed == 0) {
		code = outbox_row_missing(c, s, rowid);
	} else {
		printf("%lld alerts dropped\n", (long long)changed);
	}
	fw_store_close(s);
	fw_config_free(cfg);
	return code;
}

int fw_cli_store_outbox_list(const struct cli *c, char **args, int nargs)
{
	(void)args;
	(void)nargs;
	return outbox_run(c, "list", 0);
}

int fw_cli_store_outbox_retry(const struct cli *c, char **args, int nargs)
{
	int64_t rowid;
	int r = outbox_target("retry", args, nargs, c->all, "--all", &rowid);

	return r ? r : outbox_run(c, "retry", rowid);
}

int fw_cli_store_outbox_drop(const struct cli *c, char **args, int nargs)
{
	int64_t rowid;
	int r = outbox_target("drop", args, nargs, c->dead, "--dead", &rowid);

	return r ? r : outbox_run(c, "drop", rowid);
}

/* A feed's learned publication rate (adaptive polling), items per hour, or null when
   nothing is learned yet. */
static json_t *rate_json(const struct fw_feed_state *st)
{
	struct fw_schedule_rate r = {st->rate_items, st->rate_seconds, st->rate_at};

	if (!fw_schedule_rate_known(&r))
		return json_null();
	return json_real(fw_schedule_rate_value(&r) * 3600.0);
}

/* The same as text: "-" when nothing is learned. */
static const char *rate_text(const struct fw_feed_state *st, char *buf, size_t len)
{
	struct fw_schedule_rate r = {st->rate_items, st->rate_seconds, st->rate_at};

	if (!fw_schedule_rate_known(&r))
		return "-";
	snprintf(buf, len, "%.3g", fw_schedule_rate_value(&r) * 3600.0);
	return buf;
}

/* One host resting after a 429 or 503: a line, or an object of the JSON array arg. */
static void status_host_cb(const char *host, int64_t until, long http_status, void *arg)
{
	char when[40];

	fw_cli_fmt_time(until, when, sizeof(when));
	if (arg)
		json_array_append_new(arg, json_pack("{s:s, s:s, s:I}", "host", host, "until", when,
		                                     "http_status", (json_int_t)http_status));
	else
		printf("%-32s %-20s %ld\n", host, when, http_status);
}

/* Why a subscription in state is not (or no longer) taking pushes, or NULL. */
static const char *websub_reason(const char *state)
{
	if (strcmp(state, "insecure") == 0)
		return "not subscribed: the hub's URL is http:// and hub.secret is only sent over "
		       "HTTPS; the feed is polled (websub insecure_hubs = true allows it)";
	if (strcmp(state, "denied") == 0)
		return "the hub denied the subscription; the feed is polled";
	if (strcmp(state, "expired") == 0)
		return "the lease ended unrenewed; the feed is polled";
	if (strcmp(state, "failed") == 0)
		return "the hub refused or never verified the request; the feed is polled";
	return NULL;
}

/* One websub_subs row into the object arg (feed name -> its subscription): a feed's row
   being unsubscribed gives way to its other one. */
static int status_websub_cb(const struct fw_store_websub *w, void *arg)
{
	json_t *old = json_object_get(arg, w->feed);
	char lease[40], push[40];

	if (old && strcmp(w->state, "unsubscribing") == 0)
		return 0;
	fw_cli_fmt_time(w->lease_end, lease, sizeof(lease));
	fw_cli_fmt_time(w->last_push, push, sizeof(push));
	json_object_set_new(
	    arg, w->feed,
	    json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I, s:I, s:s?}", "hub", w->hub, "topic",
	              w->topic, "state", w->state, "lease_expires", w->lease_end > 0 ? lease : NULL,
	              "last_push", w->last_push > 0 ? push : NULL, "pushes", (json_int_t)w->pushes,
	              "bad_signatures", (json_int_t)w->bad_signatures, "reason",
	              websub_reason(w->state)));
	return 0;
}

/* Each configured feed's WebSub subscription (rows: feed name -> object), as text. */
static void print_websub(const struct fw_config *cfg, json_t *rows)
{
	if (json_object_size(rows) == 0)
		return;
	printf("\n%-24s %-13s %-20s %-20s %-8s %-8s %s\n", "WEBSUB", "STATE", "LEASE UNTIL",
	       "LAST PUSH", "PUSHES", "BAD SIG", "HUB / TOPIC");
	for (size_t k = 0; k < cfg->n_feeds; k++) {
		json_t *w = json_object_get(rows, cfg->feeds[k].name);
		const char *lease = json_string_value(json_object_get(w, "lease_expires"));
		const char *push = json_string_value(json_object_get(w, "last_push"));
		const char *reason = json_string_value(json_object_get(w, "reason"));

		if (w == NULL)
			continue;
		printf("%-24s %-13s %-20s %-20s %-8lld %-8lld %s %s\n", cfg->feeds[k].name,
		       json_string_value(json_object_get(w, "state")), lease ? lease : "-",
		       push ? push : "-",
		       (long long)json_integer_value(json_object_get(w, "pushes")),
		       (long long)json_integer_value(json_object_get(w, "bad_signatures")),
		       json_string_value(json_object_get(w, "hub")),
		       json_string_value(json_object_get(w, "topic")));
		if (reason)
			printf("%-24s %s\n", "", reason);
	}
}

/* One node of a shared store: a line, or an object of the JSON array arg. */
static int status_node_cb(const struct fw_store_node *n, void *arg)
{
	char started[40], seen[40], outbox[24] = "-";

	fw_cli_fmt_time(n->started, started, sizeof(started));
	fw_cli_fmt_time(n->last_seen, seen, sizeof(seen));
	if (n->outbox >= 0)
		snprintf(outbox, sizeof(outbox), "%lld", (long long)n->outbox);
	if (arg)
		json_array_append_new(
		    arg, json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:I, s:I, s:o}", "name", n->name,
		                   "host", n->host ? n->host : "", "pid", (json_int_t)n->pid,
		                   "started", started, "last_seen", seen, "alive", n->alive,
		                   "feeds_held", (json_int_t)n->feeds, "polling",
		                   (json_int_t)n->polling, "outbox_claimed",
		                   n->outbox >= 0 ? json_integer(n->outbox) : json_null()));
	else
		printf("%-24s %-5s %-20s %-8lld %-20s %-20s %-6lld %-7lld %s\n", n->name,
		       n->alive ? "alive" : "dead", n->host ? n->host : "", (long long)n->pid,
		       started, seen, (long long)n->feeds, (long long)n->polling, outbox);
	return 0;
}

/* One claim on a feed into the object arg (feed name -> its claim). */
static int status_claim_cb(const char *feed, const char *node, int64_t until, bool polling,
                           void *arg)
{
	char when[40];

	fw_cli_fmt_time(until, when, sizeof(when));
	json_object_set_new(arg, feed,
	                    json_pack("{s:s, s:s, s:s}", "node", node, "until", when, "state",
	                              polling ? "polling" : "held"));
	return 0;
}

/* A shared store: its nodes (into root's "nodes", or printed) and who holds each feed's
   poll (returned: feed name -> claim; empty for a store of one node). */
static json_t *status_nodes(const struct cli *c, struct fw_store *s, json_t *root)
{
	json_t *nodes = json_array(), *claims = json_object();

	if (strcmp(fw_store_backend(s), "sqlite") == 0) {
		json_decref(nodes);
		return claims;
	}
	if (!c->json)
		printf("%-24s %-5s %-20s %-8s %-20s %-20s %-6s %-7s %s\n", "NODE", "STATE", "HOST",
		       "PID", "STARTED", "LAST SEEN", "FEEDS", "POLLING", "OUTBOX");
	if (fw_store_node_each(s, time(NULL), status_node_cb, c->json ? (void *)nodes : NULL) < 0 ||
	    fw_store_claim_each(s, time(NULL), status_claim_cb, claims) < 0)
		fprintf(stderr, "feedwatch: cannot read the nodes: %s\n", fw_store_error(s));
	json_object_set_new(root, "nodes", nodes);
	if (!c->json)
		printf("\n");
	return claims;
}

int fw_cli_store_status(const struct cli *c, char **args, int nargs)
{
	int64_t open_stories = 0;
	struct fw_config *cfg;
	struct fw_store *s;
	json_t *root, *feeds, *outs, *hosts, *claims, *subs = json_object();
	int code;

	(void)args;
	(void)nargs;
	cfg = fw_cli_load_config(c->config, true);
	if (cfg == NULL)
		return 2;
	s = fw_cli_open_store(cfg, c, true, &code);
	if (s == NULL) {
		json_decref(subs);
		fw_config_free(cfg);
		return code;
	}
	fw_store_websub_each(s, status_websub_cb, subs); /* none readable: none shown */
	root = json_object();
	claims = status_nodes(c, s, root);
	feeds = json_array();
	outs = json_array();
	hosts = json_array();
	if (!c->json)
		printf("%-24s %-20s %-5s %-6s %-20s %-8s %-8s %-6s %s%s\n", "FEED", "LAST POLL",
		       "HTTP", "ERRORS", "NEXT POLL", "RATE/H", "ITEMS", "ALERTS", "LAST ERROR",
		       json_object_size(claims) ? " / HELD BY" : "");
	for (size_t k = 0; k < cfg->n_feeds; k++) {
		struct fw_feed_state st = {0};
		char last[40], next[40], rate[32];
		json_t *claim = json_object_get(claims, cfg->feeds[k].name);

		fw_store_feed_load(s, cfg->feeds[k].name, &st);
		if (st.moved_url) { /* it may carry the configured user:password */
			char *pub = fw_alert_public_url(st.moved_url);

			free(st.moved_url);
			st.moved_url = pub;
		}
		fw_cli_fmt_time(st.last_poll, last, sizeof(last));
		fw_cli_fmt_time(st.next_poll, next, sizeof(next));
		if (c->json)
			json_array_append_new(
			    feeds,
			    json_pack(
			        "{s:s, s:s, s:I, s:I, s:s, s:o, s:I, s:I, s:s?, s:s?, s:O?, s:O?}",
			        "name", cfg->feeds[k].name, "last_poll", last, "http_status",
			        (json_int_t)st.http_status, "error_streak",
			        (json_int_t)st.error_streak, "next_poll", next, "rate_per_hour",
			        rate_json(&st), "items_seen", (json_int_t)st.items_seen, "alerts",
			        (json_int_t)st.alerts, "last_error", st.last_error, "moved_to",
			        st.moved_url, "websub", json_object_get(subs, cfg->feeds[k].name),
			        "claim", claim));
		else
			printf("%-24s %-20s %-5ld %-6lld %-20s %-8s %-8lld %-6lld %s%s%s%s%s\n",
			       cfg->feeds[k].name, last, st.http_status, (long long)st.error_streak,
			       next, rate_text(&st, rate, sizeof(rate)), (long long)st.items_seen,
			       (long long)st.alerts, st.last_error ? st.last_error : "",
			       st.moved_url ? "moved to " : "", st.moved_url ? st.moved_url : "",
			       claim ? " held by " : "",
			       claim ? json_string_value(json_object_get(claim, "node")) : "");
		fw_feed_state_clear(&st);
	}
	if (!c->json) {
		print_websub(cfg, subs);
		printf("\n%-32s %-20s %s\n", "HOST RESTING", "UNTIL", "HTTP");
	}
	fw_store_host_rests(s, time(NULL), status_host_cb, c->json ? (void *)hosts : NULL);
	if (!c->json)
		printf("\n%-24s %-8s %s\n", "OUTPUT", "PENDING", "DEAD");
	for (size_t k = 0; k < cfg->n_outputs; k++) {
		int64_t pending = 0, dead = 0;

		fw_store_outbox_count(s, cfg->outputs[k].name, &pending, &dead);
		if (c->json)
			json_array_append_new(outs, json_pack("{s:s, s:I, s:I}", "name",
			                                      cfg->outputs[k].name, "pending",
			                                      (json_int_t)pending, "dead",
			                                      (json_int_t)dead));
		else
			printf("%-24s %-8lld %lld\n", cfg->outputs[k].name, (long long)pending,
			       (long long)dead);
	}
	json_object_set_new(root, "feeds", feeds);
	json_object_set_new(root, "hosts_resting", hosts);
	json_object_set_new(root, "outputs", outs);
	if (fw_store_story_count(s, time(NULL) - cfg->story_window, &open_stories) == 0) {
		json_object_set_new(root, "stories_open", json_integer((json_int_t)open_stories));
		if (!c->json)
			printf("\nstories: %lld open (items of the last %llds are grouped; "
			       "feedwatch stories lists them)\n",
			       (long long)open_stories, (long long)cfg->story_window);
	}
	if (c->json) {
		char *line = json_dumps(root, JSON_COMPACT);

		if (line)
			puts(line);
		free(line);
	}
	json_decref(root);
	json_decref(subs);
	json_decref(claims);
	fw_store_close(s);
	fw_config_free(cfg);
	return 0;
}
