/* cli_alerts.c - `feedwatch alerts`: the alerts raised, newest first, each with its title,
   link, why, and what became of it per output (delivered, pending or dead). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "store.h"

#define FW_ALERTS_MAX 10000 /* alerts shown at most (the newest) */

const char fw_cli_alerts_help[] =
    "usage: feedwatch alerts [--since DURATION] [--watchlist NAME] [--json] [-c FILE]\n"
    "The alerts raised, newest first: when, watchlist, feed, title, link, why (the terms\n"
    "found), and per output: delivered, pending (with attempts and the last error) or\n"
    "dead. --since 2h: only the last two hours; --watchlist: only its alerts. --json: one\n"
    "object per line with id, created, watchlist, feed, item_id, title, link, explain,\n"
    "outputs [{output, state, attempts, last_error, delivered}]. Exit 1 when there is no "
    "database.\n";

static const char *state_name(int state)
{
	return state == FW_ALERT_DELIVERED ? "delivered"
	       : state == FW_OUTBOX_DEAD   ? "dead"
	                                   : "pending";
}

/* A string member of an object, or NULL. */
static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Print s on one line, control characters as spaces. */
static void put_line(const char *s)
{
	for (; s && *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

/* "why: @putin "Putin" in title; ..." from the payload's explain. */
static void put_why(json_t *explain)
{
	size_t i;
	json_t *e;

	fputs("  why: ", stdout);
	json_array_foreach(explain, i, e)
	{
		fputs(i ? "; " : "", stdout);
		put_line(jstr(e, "term"));
		fputs(" \"", stdout);
		put_line(jstr(e, "text"));
		fputs("\" in ", stdout);
		put_line(jstr(e, "field"));
	}
	if (json_array_size(explain) == 0)
		fputs("-", stdout);
	putchar('\n');
}

/* One alert readable: its rows r[0..n) (one per output). */
static void print_text(const struct fw_alert_row *r, size_t n, json_t *payload)
{
	json_t *item = json_object_get(payload, "item");
	char when[40];

	fw_cli_fmt_time(r->created, when, sizeof(when));
	printf("%s  %s  %s: ", when, r->watchlist, r->feed);
	if (payload)
		put_line(jstr(item, "title") && *jstr(item, "title") ? jstr(item, "title")
		                                                     : "(no title)");
	else
		printf("item %s (its text was not kept: raised before this version)", r->item_id);
	putchar('\n');
	if (jstr(item, "link") && *jstr(item, "link")) {
		fputs("  ", stdout);
		put_line(jstr(item, "link"));
		putchar('\n');
	}
	if (payload)
		put_why(json_object_get(payload, "explain"));
	fputs("  outputs: ", stdout);
	for (size_t k = 0; k < n; k++) {
		if (r[k].output == NULL) {
			fputs("none", stdout);
			continue;
		}
		printf("%s%s %s", k ? "; " : "", r[k].output, state_name(r[k].state));
		if (r[k].state != FW_ALERT_DELIVERED && (r[k].attempts || r[k].last_error)) {
			printf(" (%lld attempts", (long long)r[k].attempts);
			if (r[k].last_error) {
				fputs(": ", stdout);
				put_line(r[k].last_error);
			}
			putchar(')');
		}
	}
	putchar('\n');
}

/* One alert as a JSON line. */
static void print_json(const struct fw_alert_row *r, size_t n, json_t *payload)
{
	json_t *item = json_object_get(payload, "item"), *outs = json_array(), *o;
	char when[40], *line;

	fw_cli_fmt_time(r->created, when, sizeof(when));
	for (size_t k = 0; k < n; k++) {
		char at[40];

		fw_cli_fmt_time(r[k].delivered, at, sizeof(at));
		if (r[k].output)
			json_array_append_new(
			    outs,
			    json_pack("{s:s, s:s, s:I, s:s?, s:s?}", "output", r[k].output, "state",
			              state_name(r[k].state), "attempts", (json_int_t)r[k].attempts,
			              "last_error", r[k].last_error, "delivered",
			              r[k].delivered > 0 ? at : NULL));
	}
	o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:O, s:o}", "id", r->alert_id, "created", when,
	    "watchlist", r->watchlist, "feed", r->feed, "item_id", r->item_id, "title",
	    jstr(item, "title"), "link", jstr(item, "link"), "explain",
	    json_object_get(payload, "explain") ? json_object_get(payload, "explain") : json_null(),
	    "outputs", outs);
	line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (line)
		puts(line);
	free(line);
	json_decref(o);
}

int fw_cli_alerts_cmd(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg;
	struct fw_store *s = NULL;
	struct fw_alert_row *rows = NULL;
	size_t n = 0, alerts = 0;
	int64_t since;
	int code = 2;

	(void)args;
	(void)nargs;
	if (fw_cli_since(c, (int64_t)time(NULL), &since) != 0)
		return 2;
	if ((cfg = fw_cli_load_config(c->config, true)) == NULL)
		return 2;
	if ((s = fw_cli_open_store(cfg, c, true, &code)) == NULL)
		goto done;
	if (fw_store_alert_rows(s, since, c->watchlist, FW_ALERTS_MAX, &rows, &n) < 0) {
		fprintf(stderr, "feedwatch: alerts: %s\n", fw_store_error(s));
		code = 2;
		goto done;
	}
	for (size_t i = 0, k; i < n; i = k) {
		json_t *payload = rows[i].payload ? json_loads(rows[i].payload, 0, NULL) : NULL;

		for (k = i + 1; k < n && strcmp(rows[k].alert_id, rows[i].alert_id) == 0; k++)
			;
		if (c->json)
			print_json(&rows[i], k - i, payload);
		else
			print_text(&rows[i], k - i, payload);
		json_decref(payload);
		alerts++;
	}
	if (alerts == 0)
		fprintf(stderr, "feedwatch: no alerts%s%s%s%s\n", c->since ? " in the last " : "",
		        c->since ? c->since : "", c->watchlist ? " of watchlist " : "",
		        c->watchlist ? c->watchlist : "");
	else if (alerts == FW_ALERTS_MAX)
		fprintf(stderr, "feedwatch: the newest %d alerts shown (narrow with --since)\n",
		        FW_ALERTS_MAX);
	code = 0;
done:
	fw_alert_rows_free(rows, n);
	fw_store_close(s);
	fw_config_free(cfg);
	return code;
}
