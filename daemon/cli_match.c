/* cli_match.c - `feedwatch match`: which watchlists an item or a text matches, why, and
   which story it would join (when the store holds stories). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alert.h"
#include "cli.h"
#include "config.h"
#include "grouper.h"
#include "item.h"
#include "match.h"
#include "store.h"

#define FW_MATCH_LINE_MAX (64 * 1024 * 1024) /* one item of `match` input */

/* The stories of the store, when there is one, to say which story an item would join. */
struct peek {
	const struct fw_config *cfg;
	struct fw_store *store;
	struct fw_grouper *g;
};

static void peek_open(struct peek *p, const struct fw_config *cfg)
{
	char *db = fw_config_db_path(cfg), err[256];

	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	if (db && access(db, R_OK) == 0 &&
	    fw_store_open(db, true, &p->store, err, sizeof(err)) == 0 &&
	    (fw_grouper_new(cfg->story_window, cfg->story_memory, &p->g) < 0 ||
	     fw_grouper_load(p->g, p->store, time(NULL)) < 0))
		p->g = fw_grouper_free(p->g);
	free(db);
}

static void peek_close(struct peek *p)
{
	p->g = fw_grouper_free(p->g);
	p->store = fw_store_close(p->store);
}

/* The story item would join: {"id", "title", "score"}, JSON null when it would start one,
   NULL when there are no stories to look at. */
static json_t *peek_story(struct peek *p, const struct fw_item *item,
                          const struct fw_match_result *res)
{
	struct fw_story_place pl;
	struct fw_story_row row;
	json_t *o;

	if (p->g == NULL || fw_grouper_peek(p->g, p->cfg, item, res, time(NULL), &pl) < 0)
		return NULL;
	if (pl.story == 0 || fw_store_story_get(p->store, pl.story, &row) < 0)
		return json_null();
	o = json_pack("{s:s, s:s, s:f}", "id", row.sid, "title", row.title ? row.title : "",
	              "score", pl.score);
	fw_story_row_clear(&row);
	return o ? o : json_null();
}

static void print_match(const struct fw_matcher *m, const struct fw_item *item,
                        const struct fw_match_result *res, json_t *story)
{
	json_t *o = json_object(), *wl = json_array(), *ex = json_array();
	char *line;

	for (size_t i = 0; i < res->n_watchlists; i++)
		json_array_append_new(
		    wl, json_string(fw_matcher_watchlist_name(m, res->watchlists[i])));
	for (size_t i = 0; i < res->n_explain; i++) {
		const struct fw_match_explain *e = &res->explain[i];

		json_array_append_new(
		    ex, fw_alert_explain_json(e, fw_matcher_watchlist_name(m, e->watchlist)));
	}
	json_object_set_new(o, "id", json_string(item->id ? item->id : ""));
	json_object_set_new(o, "watchlists", wl);
	json_object_set_new(o, "explain", ex);
	if (story)
		json_object_set_new(o, "story", story);
	line = json_dumps(o, JSON_COMPACT);
	if (line) {
		puts(line);
		free(line);
	}
	json_decref(o);
}

static int match_one(struct peek *p, const struct fw_matcher *m, struct fw_item *item)
{
	struct fw_match_result res = {0};
	int r = fw_match_item(m, item, &res);

	if (r == 0)
		print_match(m, item, &res, peek_story(p, item, &res));
	fw_match_result_clear(&res);
	return r;
}

/* Print s on the current line, control characters as spaces. */
static void put_clean(const char *s)
{
	for (; s && *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

/* The readable answer of `match --text`: each watchlist that matched, then why. */
static void print_match_text(const struct fw_matcher *m, const struct fw_match_result *res)
{
	if (res->n_watchlists == 0) {
		puts("no watchlist matched");
		return;
	}
	for (size_t i = 0; i < res->n_watchlists; i++) {
		printf("%s: matched\n", fw_matcher_watchlist_name(m, res->watchlists[i]));
		for (size_t k = 0; k < res->n_explain; k++) {
			const struct fw_match_explain *e = &res->explain[k];

			if (e->watchlist != res->watchlists[i])
				continue;
			fputs("  ", stdout);
			put_clean(e->term);
			if (e->alias && e->term && strcmp(e->alias, e->term) != 0) {
				fputs(": alias \"", stdout);
				put_clean(e->alias);
				fputs("\" found", stdout);
			} else {
				fputs(": found", stdout);
			}
			fputs(" \"", stdout);
			put_clean(e->text);
			printf("\" in %s: \"", e->field ? e->field : "?");
			put_clean(e->snippet);
			fputs("\"\n", stdout);
		}
	}
}

/* The story line of the readable answer. */
static void print_story_text(json_t *story)
{
	if (story == NULL)
		return;
	if (json_is_null(story)) {
		puts("story: would start a new story");
	} else {
		fputs("story: would join ", stdout);
		put_clean(json_string_value(json_object_get(story, "id")));
		fputs(" \"", stdout);
		put_clean(json_string_value(json_object_get(story, "title")));
		printf("\" (score %.2f)\n", json_real_value(json_object_get(story, "score")));
	}
	json_decref(story);
}

/* `match --text T`: grep's exit status (0 matched, 1 not, 2 trouble). */
static int match_text(const struct cli *c, struct peek *p, const struct fw_matcher *m)
{
	struct fw_item *item = fw_item_new(),
	               story = {.published = FW_TIME_NONE, .updated = FW_TIME_NONE};
	struct fw_match_result res = {0};
	int code = 2;

	if (item == NULL)
		goto done;
	free(item->summary);
	item->summary = strdup(c->text);
	free(item->id);
	item->id = strdup("text");
	if (item->summary == NULL || item->id == NULL || fw_match_item(m, item, &res) < 0)
		goto done;
	story.title = (char *)c->text; /* a text is placed in a story as a title */
	story.id = item->id;
	if (c->json) {
		print_match(m, item, &res, peek_story(p, &story, &res));
	} else {
		print_match_text(m, &res);
		print_story_text(peek_story(p, &story, &res));
	}
	code = res.n_watchlists > 0 ? 0 : 1;
done:
	if (code == 2)
		fprintf(stderr, "feedwatch: match: out of memory\n");
	fw_match_result_clear(&res);
	fw_item_free(item);
	return code;
}

int fw_cli_match_cmd(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg;
	struct peek p;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int code = 0;

	(void)args;
	(void)nargs;
	cfg = fw_cli_load_config(c->config, true);
	if (cfg == NULL)
		return 2;
	peek_open(&p, cfg);
	if (c->text) {
		code = match_text(c, &p, cfg->matcher);
		peek_close(&p);
		fw_config_free(cfg);
		return code;
	}
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "feedwatch: reading items in the parse format from stdin (Ctrl-D "
		                "ends; --text T matches one text)\n");
	while ((n = getline(&line, &cap, stdin)) > 0) {
		struct fw_item *item = NULL;

		lineno++;
		if (n > FW_MATCH_LINE_MAX || fw_item_from_json(line, (size_t)n, &item) < 0) {
			bool blank = strspn(line, " \t\r\n") == (size_t)n;

			if (!blank) {
				fprintf(stderr,
				        "feedwatch: stdin:%ld: not an item in the parse format\n",
				        lineno);
				code = 1;
			}
			continue;
		}
		if (match_one(&p, cfg->matcher, item) < 0)
			code = 1;
		fw_item_free(item);
	}
	free(line);
	peek_close(&p);
	fw_config_free(cfg);
	return code;
}
