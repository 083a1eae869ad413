/* cli_stories.c - `feedwatch stories` (the stories of the store, newest first) and
   `feedwatch explain-story ID` (why each item joined its story). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "date.h"
#include "fold.h"
#include "item.h"
#include "store.h"
#include "story.h"

/* RFC 3339 UTC of t, or JSON null when unknown. */
static json_t *jtime(int64_t t)
{
	char buf[40];

	if (t == FW_TIME_NONE || t <= 0)
		return json_null();
	return json_string(fw_date_format(t, buf, sizeof(buf)));
}

/* s on f, control characters as spaces, at most max bytes (cut on a character). */
static void put_clean(FILE *f, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i], f);
}

static int item_json_cb(struct fw_story_item_row *r, void *arg)
{
	json_t *items = arg;

	return json_array_append_new(
	    items, json_pack("{s:s, s:s, s:s, s:o, s:o}", "feed", r->feed ? r->feed : "", "id",
	                     r->item ? r->item : "", "title", r->title ? r->title : "", "link",
	                     r->link ? json_string(r->link) : json_null(), "published",
	                     jtime(r->published)));
}

/* The watchlists of a story as a JSON array; *has: whether `want` is among them. */
static json_t *watchlists_json(struct fw_store *s, int64_t story, const char *want, bool *has)
{
	json_t *a = json_array();
	char *names = NULL, *p, *save = NULL;

	*has = want == NULL;
	if (a == NULL || fw_store_story_watchlists(s, story, &names) < 0) {
		free(names);
		return a;
	}
	for (p = strtok_r(names, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		json_array_append_new(a, json_string(p));
		*has |= want && strcmp(p, want) == 0;
	}
	free(names);
	return a;
}

struct list_ctx {
	const struct cli *c;
	struct fw_store *s;
	size_t shown;
};

static void print_story_text(const struct fw_story_row *r, json_t *items, json_t *wls)
{
	char first[40], last[40];
	size_t i;
	json_t *v;

	fw_cli_fmt_time(r->first_seen, first, sizeof(first));
	fw_cli_fmt_time(r->last_seen, last, sizeof(last));
	printf("%s  %s .. %s  %lld items, %lld feeds", r->sid, first, last, (long long)r->n_items,
	       (long long)r->n_feeds);
	json_array_foreach(wls, i, v) printf("%s%s", i ? ", " : "  [", json_string_value(v));
	puts(json_array_size(wls) ? "]" : "");
	fputs("  ", stdout);
	put_clean(stdout, r->title, 160);
	putchar('\n');
	json_array_foreach(items, i, v)
	{
		fputs("    - ", stdout);
		put_clean(stdout, json_string_value(json_object_get(v, "feed")), 40);
		fputs(": ", stdout);
		put_clean(stdout, json_string_value(json_object_get(v, "title")), 120);
		putchar('\n');
	}
}

static int story_cb(const struct fw_story_row *r, void *arg)
{
	struct list_ctx *x = arg;
	json_t *items = json_array(), *wls;
	bool has;
	int ret;

	if (items == NULL)
		return -ENOMEM;
	wls = watchlists_json(x->s, r->id, x->c->watchlist, &has);
	if (!has || (ret = fw_store_story_items(x->s, r->id, item_json_cb, items)) < 0) {
		json_decref(items);
		json_decref(wls);
		return has ? ret : 0;
	}
	x->shown++;
	if (x->c->json) {
		json_t *o =
		    json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "id", r->sid, "title",
		              r->title ? r->title : "", "first_seen", jtime(r->first_seen),
		              "last_seen", jtime(r->last_seen), "items", items, "watchlists", wls);
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (line)
			puts(line);
		free(line);
		json_decref(o);
		return line ? 0 : -ENOMEM;
	}
	print_story_text(r, items, wls);
	json_decref(items);
	json_decref(wls);
	return 0;
}

int fw_cli_stories_cmd(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg = fw_cli_load_config(c->config, true);
	struct list_ctx x = {.c = c};
	int64_t since;
	int code = 2;

	(void)args;
	(void)nargs;
	if (cfg == NULL)
		return 2;
	if ((code = fw_cli_since(c, time(NULL), &since)) != 0 ||
	    (x.s = fw_cli_open_store(cfg, c, true, &code)) == NULL) {
		fw_config_free(cfg);
		return code;
	}
	code = 0;
	if (fw_store_story_list(x.s, since, story_cb, &x) < 0) {
		fprintf(stderr, "feedwatch: stories: %s\n", fw_store_error(x.s));
		code = 2;
	} else if (x.shown == 0 && !c->json) {
		fprintf(stderr, "feedwatch: no stories%s%s%s\n", c->since ? " in the last " : "",
		        c->since ? c->since : "", c->watchlist ? " for that watchlist" : "");
	}
	fw_store_close(x.s);
	fw_config_free(cfg);
	return code;
}

/* ------------------------------------------------------------------ explain-story */

/* Items of a story, kept for explaining, and each one's features with their text. */
struct items {
	struct fw_story_item_row *v;
	size_t n, cap;
	struct fw_story_features *f;
	struct fw_story_terms *t;
};

static int keep_cb(struct fw_story_item_row *r, void *arg)
{
	struct items *it = arg;

	if (it->n == it->cap) {
		size_t cap = it->cap ? 2 * it->cap : 16;
		struct fw_story_item_row *v = realloc(it->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		it->v = v;
		it->cap = cap;
	}
	it->v[it->n++] = *r;
	memset(r, 0, sizeof(*r)); /* taken */
	return 0;
}

/* The features of a stored item, with their text. */
static void features_of(const struct fw_fold *fold, const struct fw_story_item_row *r,
                        struct fw_story_features *f, struct fw_story_terms *t)
{
	const char *ents[8];
	char *copy = r->entities ? strdup(r->entities) : NULL, *save = NULL, *p;
	size_t n = 0;

	for (p = copy ? strtok_r(copy, "\n", &save) : NULL; p && n < 8;
	     p = strtok_r(NULL, "\n", &save))
		ents[n++] = p;
	if (fw_story_features(fold, r->title, NULL, NULL, ents, n, f, t) < 0)
		f->n = 0;
	free(copy);
}

/* The features of every item of it, once. 0 or -ENOMEM. */
static int features_all(const struct fw_fold *fold, struct items *it)
{
	it->f = calloc(it->n + 1, sizeof(*it->f));
	it->t = calloc(it->n + 1, sizeof(*it->t));
	if (it->f == NULL || it->t == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < it->n; i++)
		features_of(fold, &it->v[i], &it->f[i], &it->t[i]);
	return 0;
}

/* Does f hold the feature h? */
static bool holds(const struct fw_story_features *f, uint32_t h)
{
	for (size_t k = 0; k < f->n; k++)
		if (f->h[k] == h)
			return true;
	return false;
}

/* The terms items a and b of it share, as a JSON array of strings. */
static json_t *shared_terms(const struct items *it, size_t a, size_t b)
{
	json_t *out = json_array();

	for (size_t i = 0; out && i < it->f[a].n; i++)
		if (holds(&it->f[b], it->f[a].h[i]))
			json_array_append_new(out, json_string(it->t[a].text[i]));
	return out;
}

/* The terms item i shares with the profile its story had when it came (story.h): the
   newest FW_STORY_PROFILE_ITEMS items before it, each term with how many of them hold it;
   an empty array when fewer than two came before (a story of one item is no profile). */
static json_t *profile_terms(const struct items *it, size_t i)
{
	size_t from = i > FW_STORY_PROFILE_ITEMS ? i - FW_STORY_PROFILE_ITEMS : 0;
	const struct fw_story_features *f = &it->f[i];
	unsigned held[FW_STORY_FEATURES] = {0};
	json_t *out = json_array();

	if (out == NULL || i - from < 2)
		return out;
	for (size_t j = from; j < i; j++)
		for (size_t a = 0; a < f->n; a++)
			held[a] += holds(&it->f[j], f->h[a]);
	for (size_t a = 0; a < f->n; a++)
		if (held[a] > 0)
			json_array_append_new(out, json_pack("{s:s, s:i, s:i}", "term",
			                                     it->t[i].text[a], "items",
			                                     (int)held[a], "of", (int)(i - from)));
	return out;
}

/* The index in it of the item of store id `id`; it->n when none. */
static size_t find_item(const struct items *it, int64_t id)
{
	size_t i = 0;

	while (i < it->n && it->v[i].id != id)
		i++;
	return i;
}

/* One item's line of explain-story: JSON, or text. */
static json_t *explain_item(const struct items *it, size_t i)
{
	const struct fw_story_item_row *r = &it->v[i];
	size_t k = find_item(it, r->matched);
	const struct fw_story_item_row *m = k < it->n ? &it->v[k] : NULL;
	json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "feed", r->feed ? r->feed : "", "id",
	                      r->item ? r->item : "", "title", r->title ? r->title : "", "seen",
	                      jtime(r->seen));

	if (o == NULL)
		return NULL;
	if (i == 0 || r->matched == 0) {
		json_object_set_new(o, "joined", json_false());
	} else {
		json_object_set_new(o, "joined", json_true());
		json_object_set_new(o, "score", json_real(r->score));
		json_object_set_new(o, "matched",
		                    m ? json_pack("{s:s, s:s, s:s}", "feed", m->feed, "id", m->item,
		                                  "title", m->title ? m->title : "")
		                      : json_null());
		json_object_set_new(o, "shared", m ? shared_terms(it, i, k) : json_array());
		json_object_set_new(o, "story_shared", profile_terms(it, i));
	}
	return o;
}

static void print_explained(size_t i, json_t *o)
{
	json_t *m = json_object_get(o, "matched"), *sh = json_object_get(o, "shared"), *v;
	size_t k;

	printf("%3zu. ", i + 1);
	put_clean(stdout, json_string_value(json_object_get(o, "feed")), 40);
	fputs(": ", stdout);
	put_clean(stdout, json_string_value(json_object_get(o, "title")), 140);
	putchar('\n');
	if (!json_is_true(json_object_get(o, "joined"))) {
		puts("     started the story");
		return;
	}
	printf("     joined with score %.2f (needs %.2f), resembling ",
	       json_real_value(json_object_get(o, "score")), FW_STORY_JOIN);
	if (json_is_object(m)) {
		put_clean(stdout, json_string_value(json_object_get(m, "feed")), 40);
		fputs(": \"", stdout);
		put_clean(stdout, json_string_value(json_object_get(m, "title")), 100);
		puts("\"");
	} else {
		puts("an item no longer in the story");
	}
	fputs("     shared:", stdout);
	json_array_foreach(sh, k, v)
	{
		fputs(k ? ", " : " ", stdout);
		put_clean(stdout, json_string_value(v), 60);
	}
	putchar('\n');
	sh = json_object_get(o, "story_shared");
	if (json_array_size(sh) == 0)
		return;
	printf("     with the story's %d newest items before it:",
	       (int)json_integer_value(json_object_get(json_array_get(sh, 0), "of")));
	json_array_foreach(sh, k, v)
	{
		fputs(k ? ", " : " ", stdout);
		put_clean(stdout, json_string_value(json_object_get(v, "term")), 60);
		printf(" (%d)", (int)json_integer_value(json_object_get(v, "items")));
	}
	putchar('\n');
}

int fw_cli_stories_explain(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg = fw_cli_load_config(c->config, true);
	struct items it = {0};
	struct fw_story_row row = {0};
	struct fw_fold *fold = NULL;
	struct fw_store *s = NULL;
	int64_t id;
	int code = 2;

	(void)nargs;
	if (cfg == NULL || (s = fw_cli_open_store(cfg, c, true, &code)) == NULL)
		goto done;
	code = 1;
	if (fw_store_story_find(s, args[0], &id) < 0) {
		fprintf(stderr, "feedwatch: explain-story: no story '%s' (see feedwatch stories)\n",
		        args[0]);
		goto done;
	}
	code = 2;
	if (fw_fold_new(&fold) < 0 || fw_store_story_get(s, id, &row) < 0 ||
	    fw_store_story_items(s, id, keep_cb, &it) < 0 || features_all(fold, &it) < 0) {
		fprintf(stderr, "feedwatch: explain-story: %s\n", fw_store_error(s));
		goto done;
	}
	if (!c->json)
		printf("%s: %s (%zu items)\n", row.sid, row.title ? row.title : "", it.n);
	for (size_t i = 0; i < it.n; i++) {
		json_t *o = explain_item(&it, i);
		char *line;

		if (o == NULL)
			goto done;
		if (c->json) {
			json_object_set_new(o, "story", json_string(row.sid));
			if ((line = json_dumps(o, JSON_COMPACT)) != NULL)
				puts(line);
			free(line);
		} else {
			print_explained(i, o);
		}
		json_decref(o);
	}
	code = 0;
done:
	for (size_t i = 0; i < it.n; i++)
		fw_store_story_item_clear(&it.v[i]);
	free(it.v);
	free(it.f);
	free(it.t);
	fw_story_row_clear(&row);
	fw_fold_free(fold);
	fw_store_close(s);
	fw_config_free(cfg);
	return code;
}
