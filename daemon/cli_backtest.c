/* cli_backtest.c - `feedwatch backtest`: a watchlist of the config, or a query, run over the
   item archive (store.h) with the daemon's own matcher; every match with its explanation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alert.h"
#include "backfill.h"
#include "cli.h"
#include "config.h"
#include "date.h"
#include "item.h"
#include "match.h"
#include "store.h"

#define FW_BACKTEST_QUERY "query" /* the watchlist name of --query's matches */

const char fw_cli_backtest_help[] =
    "usage: feedwatch backtest [-c FILE] (WATCHLIST | --query Q) [--since DURATION] [--json]\n"
    "Run a watchlist of the config, or the query Q (with the config's entities), over the\n"
    "item archive (`archive` in the config: the text of every item seen in the last 30 days\n"
    "by default) with the daemon's own matcher, and print every match with why it matched,\n"
    "then \"N of M archived items matched\" (on stderr with --json). --since: only items seen\n"
    "in that last DURATION (like 2h, 7d). --json: one object per match with feed, id,\n"
    "title, link, published, watchlist, explain. Exit 0 when an item matched, 1 when none\n"
    "did, 2 on trouble.\n";

struct backtest {
	const struct cli *c;
	const struct fw_matcher *m;
	size_t wl; /* the watchlist's index in m */
	const char *name;
	struct fw_match_result mr;
	size_t scanned, matched; /* candidates looked at, items matched */
};

/* Print s on the current line, control characters as spaces. */
static void put_clean(const char *s)
{
	for (; s && *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static void print_json(struct backtest *b, const struct fw_archive_row *r)
{
	json_t *o, *ex = json_array();
	char date[40], *line;

	for (size_t i = 0; ex && i < b->mr.n_explain; i++)
		if (b->mr.explain[i].watchlist == b->wl)
			json_array_append_new(ex,
			                      fw_alert_explain_json(&b->mr.explain[i], b->name));
	o = json_pack(
	    "{s:s, s:s, s:s, s:s?, s:s?, s:s, s:o*}", "feed", r->feed, "id", r->item, "title",
	    r->title ? r->title : "", "link", r->link, "published",
	    r->published != FW_TIME_NONE ? fw_date_format(r->published, date, sizeof(date)) : NULL,
	    "watchlist", b->name, "explain", ex);
	line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (line)
		puts(line);
	free(line);
	json_decref(o);
}

/* "[watchlist] feed: title <link> (date)" then one "  why: ..." line per explanation. */
static void print_text(struct backtest *b, const struct fw_archive_row *r)
{
	char date[40];

	printf("[%s] ", b->name);
	put_clean(r->feed);
	fputs(": ", stdout);
	put_clean(r->title && *r->title ? r->title : r->item);
	if (r->link) {
		fputs(" <", stdout);
		put_clean(r->link);
		putchar('>');
	}
	if (r->published != FW_TIME_NONE)
		printf(" (%s)", fw_date_format(r->published, date, sizeof(date)));
	putchar('\n');
	for (size_t i = 0; i < b->mr.n_explain; i++) {
		const struct fw_match_explain *e = &b->mr.explain[i];

		if (e->watchlist != b->wl)
			continue;
		fputs("  why: ", stdout);
		put_clean(e->term);
		fputs(" \"", stdout);
		put_clean(e->text);
		printf("\" in %s: \"", e->field ? e->field : "?");
		put_clean(e->snippet);
		fputs("\"\n", stdout);
	}
}

static int item_cb(const struct fw_archive_row *r, void *arg)
{
	struct backtest *b = arg;
	struct fw_item *it = NULL;
	bool hit = false;
	int rc;

	b->scanned++;
	if ((rc = fw_backfill_item_new(r, &it)) < 0 || (rc = fw_match_item(b->m, it, &b->mr)) < 0) {
		fw_item_free(it);
		return rc;
	}
	for (size_t i = 0; i < b->mr.n_watchlists && !hit; i++)
		hit = b->mr.watchlists[i] == b->wl;
	if (hit) {
		b->matched++;
		if (b->c->json)
			print_json(b, r);
		else
			print_text(b, r);
	}
	fw_item_free(it);
	return 0;
}

/* --query Q compiled with the config's entities; errors printed. NULL on error. */
static struct fw_matcher *compile_query(const struct fw_config *cfg, const char *q)
{
	struct fw_match_entity *me = calloc(cfg->n_entities + 1, sizeof(*me));
	struct fw_match_watchlist w = {.name = FW_BACKTEST_QUERY, .query = q};
	struct fw_match_diag d[16];
	struct fw_matcher *m = NULL;
	size_t nd = 0;
	int r = -ENOMEM;

	for (size_t i = 0; me && i < cfg->n_entities; i++) {
		me[i].name = cfg->entities[i].name;
		me[i].aliases = (const char *const *)cfg->entities[i].aliases;
		me[i].n_aliases = cfg->entities[i].n_aliases;
	}
	if (me) {
		struct fw_match_spec spec = {.entities = me,
		                             .n_entities = cfg->n_entities,
		                             .watchlists = &w,
		                             .n_watchlists = 1};

		r = fw_match_compile(&spec, &m, d, sizeof(d) / sizeof(d[0]), &nd);
	}
	for (size_t i = 0; i < nd && i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i].where == FW_MATCH_IN_WATCHLIST)
			fprintf(stderr, "feedwatch: backtest: --query%s%.0zu: %s%s\n",
			        d[i].column ? ", column " : "", d[i].column,
			        d[i].severity == FW_MATCH_WARNING ? "warning: " : "", d[i].message);
	if (r < 0 && nd == 0)
		fprintf(stderr, "feedwatch: backtest: cannot compile --query: %s\n", strerror(-r));
	free(me);
	return r < 0 ? fw_matcher_free(m) : m;
}

/* The watchlist named on the line, as an index of cfg's matcher; 2 after a message. */
static int find_watchlist(const struct fw_config *cfg, const char *name, size_t *wl)
{
	for (size_t i = 0; i < cfg->n_watchlists; i++)
		if (strcmp(cfg->watchlists[i].name, name) == 0) {
			*wl = i;
			return 0;
		}
	fprintf(stderr, "feedwatch: backtest: no watchlist '%s' in the config; there are:", name);
	for (size_t i = 0; i < cfg->n_watchlists; i++)
		fprintf(stderr, "%s %s", i ? "," : "", cfg->watchlists[i].name);
	fputs(cfg->n_watchlists ? "\n" : " none\n", stderr);
	return 2;
}

/* See cli.h. */
int fw_cli_backtest(const struct cli *c, char **args, int nargs)
{
	struct backtest b = {.c = c};
	struct fw_matcher *own = NULL;
	struct fw_config *cfg;
	struct fw_store *s = NULL;
	char *words = NULL;
	int64_t since, total = 0;
	int code = 2, r;

	if ((nargs == 1) == (c->query != NULL)) {
		fprintf(stderr,
		        "feedwatch: backtest: name a WATCHLIST or give --query Q (one of "
		        "them)\n%s",
		        fw_cli_backtest_help);
		return 2;
	}
	if (fw_cli_since(c, time(NULL), &since) != 0)
		return 2;
	if ((cfg = fw_cli_load_config(c->config, true)) == NULL)
		return 2;
	if (c->query) {
		b.m = own = compile_query(cfg, c->query);
		b.name = FW_BACKTEST_QUERY;
	} else if (find_watchlist(cfg, args[0], &b.wl) == 0) {
		b.m = cfg->matcher;
		b.name = cfg->watchlists[b.wl].name;
	}
	if (b.m == NULL || (s = fw_cli_open_store(cfg, c, true, &code)) == NULL)
		goto out;
	/* candidates by word (every item the watchlist may match), then the matcher decides */
	r = fw_match_words(b.m, b.wl, &words);
	if (r == 0)
		r = fw_store_archive_count(s, since, &total, NULL);
	if (r == 0)
		r = fw_store_archive_each(s, since, words, item_cb, &b);
	if (r < 0) {
		fprintf(stderr, "feedwatch: backtest: %s\n",
		        r == -ENOMEM ? "out of memory" : fw_store_error(s));
		code = 2;
		goto out;
	}
	fprintf(c->json ? stderr : stdout, "%zu of %lld archived items matched\n", b.matched,
	        (long long)total);
	if (total == 0 && cfg->archive <= 0)
		fprintf(stderr, "feedwatch: backtest: the archive is off (archive = 0)\n");
	code = b.matched > 0 ? 0 : 1;
out:
	fw_match_result_clear(&b.mr);
	free(words);
	fw_matcher_free(own);
	fw_store_close(s);
	fw_config_free(cfg);
	return code;
}
