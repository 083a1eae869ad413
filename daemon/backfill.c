/* backfill.c - archived items made items again, and new watchlists matched against them. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "backfill.h"
#include "config.h"
#include "fold.h"
#include "item.h"
#include "match.h"
#include "store.h"

/* *dst = a copy of src ("" for NULL when empty is true, else NULL). false when out of
   memory. */
static bool dup_field(char **dst, const char *src, bool empty)
{
	free(*dst);
	*dst = src ? strdup(src) : empty ? strdup("") : NULL;
	return *dst != NULL || (src == NULL && !empty);
}

int fw_backfill_item_new(const struct fw_archive_row *r, struct fw_item **out)
{
	struct fw_item *it = fw_item_new();
	bool ok = it != NULL;

	ok = ok && dup_field(&it->id, r->item, true) && dup_field(&it->title, r->title, true) &&
	     dup_field(&it->summary, r->summary, true) &&
	     dup_field(&it->content, r->content, true) && dup_field(&it->link, r->link, false) &&
	     dup_field(&it->author, r->author, false);
	if (ok && r->n_categories > 0) {
		it->categories = calloc(r->n_categories, sizeof(*it->categories));
		ok = it->categories != NULL;
		for (size_t i = 0; ok && i < r->n_categories; i++) {
			it->categories[i] = strdup(r->categories[i]);
			ok = it->categories[i] != NULL;
			it->n_categories += ok;
		}
	}
	if (!ok) {
		fw_item_free(it);
		return -ENOMEM;
	}
	it->published = r->published;
	it->updated = r->updated;
	*out = it;
	return 0;
}

/* The words of the archive's index: every field folded as the matcher folds it. */
struct words {
	struct fw_fold *fold;
	struct fw_fold_buf fb;
};

/* Append the folded text v (fw_fold_text: " word word ") to *s. */
static int add_folded(struct words *w, const char *v, char **s, size_t *len)
{
	char *n;

	if (v == NULL || *v == 0)
		return 0;
	if (fw_fold_text(w->fold, v, strlen(v), &w->fb, 0) < 0 ||
	    (n = realloc(*s, *len + w->fb.len + 1)) == NULL)
		return -ENOMEM;
	memcpy(n + *len, w->fb.s, w->fb.len);
	*len += w->fb.len;
	n[*len] = 0;
	*s = n;
	return 0;
}

static int words_cb(const struct fw_archive_row *r, char **out, void *arg)
{
	const char *f[] = {r->title, r->summary, r->content, r->author};
	char *s = strdup("");
	size_t len = 0;
	int rc = s ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < sizeof(f) / sizeof(f[0]); i++)
		rc = add_folded(arg, f[i], &s, &len);
	for (size_t i = 0; rc == 0 && i < r->n_categories; i++)
		rc = add_folded(arg, r->categories[i], &s, &len);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int fw_backfill_words_new(struct fw_store_words *out)
{
	struct words *w = calloc(1, sizeof(*w));

	if (w == NULL || fw_fold_new(&w->fold) < 0) {
		free(w);
		return -ENOMEM;
	}
	out->fn = words_cb;
	out->arg = w;
	return 0;
}

void fw_backfill_words_free(struct fw_store_words *out)
{
	struct words *w = out->arg;

	if (w) {
		fw_fold_buf_clear(&w->fb);
		fw_fold_free(w->fold);
		free(w);
	}
	out->fn = NULL;
	out->arg = NULL;
}

/* One backfill: the new watchlists of cfg (window[i] >= 0 for watchlist i: its window in
   seconds, 0 = no limit; -1: not new, or no backfill). */
struct run {
	struct fw_store *s;
	const struct fw_config *cfg;
	int64_t now;
	int64_t *window;
	size_t *raised; /* per watchlist */
	size_t *pick;   /* scratch: the watchlists of one match that backfill */
	struct fw_match_result mr;
	struct fw_backfill_tally *t;
};

/* Is the item (dated, else seen at `seen`) within window seconds of now? */
static bool young(const struct fw_item *it, int64_t seen, int64_t window, int64_t now)
{
	int64_t t = it->published != FW_TIME_NONE ? it->published
	            : it->updated != FW_TIME_NONE ? it->updated
	                                          : seen;

	return window == 0 || t >= now - window;
}

/* Raise the alerts of one archived item for the new watchlists it matches. */
static int backfill_cb(const struct fw_archive_row *r, void *arg)
{
	struct run *b = arg;
	const struct fw_config *cfg = b->cfg;
	long fi = fw_config_feed_index(cfg, r->feed);
	struct fw_item *it = NULL;
	struct fw_match_result sub;
	size_t n = 0, before;
	int rc;

	b->t->scanned++;
	if (fi < 0)
		return 0; /* the feed is gone from the config: no alert can name it */
	if ((rc = fw_backfill_item_new(r, &it)) < 0 ||
	    (rc = fw_match_item(cfg->matcher, it, &b->mr)) < 0)
		goto out;
	for (size_t i = 0; i < b->mr.n_watchlists; i++) {
		size_t w = b->mr.watchlists[i];

		if (b->window[w] < 0 || !young(it, r->seen, b->window[w], b->now))
			continue;
		if (cfg->max_alerts_per_poll > 0 &&
		    b->raised[w] >= (size_t)cfg->max_alerts_per_poll) {
			b->t->held++;
			continue;
		}
		b->pick[n++] = w;
	}
	if (n == 0)
		goto out;
	/* the explanations of the other watchlists stay: the alert takes only its own */
	sub = b->mr;
	sub.watchlists = b->pick;
	sub.n_watchlists = n;
	before = b->t->raised;
	if ((rc = fw_store_item_begin(b->s)) < 0)
		goto out;
	rc =
	    fw_alert_raise(b->s, cfg, &cfg->feeds[fi], it, &sub, b->now, &b->t->raised, NULL, NULL);
	if (rc == -E2BIG || rc == -EINVAL) {
		b->t->raised = before; /* this item alone: the store refuses it */
		rc = fw_store_item_end(b->s, false);
	} else if (rc == 0) {
		rc = fw_store_item_end(b->s, true);
		for (size_t i = 0; rc == 0 && i < n && b->t->raised > before; i++)
			b->raised[b->pick[i]]++;
	}
out:
	fw_item_free(it);
	return rc;
}

/* The window of each watchlist of cfg that old lacks into b->window; the smallest `since`
   to read the archive from. false when none backfills. */
static bool windows(struct run *b, const struct fw_config *old, int64_t *since)
{
	const struct fw_config *cfg = b->cfg;
	bool any = false;

	*since = b->now;
	for (size_t i = 0; i < cfg->n_watchlists; i++) {
		const struct fw_config_watchlist *w = &cfg->watchlists[i];
		bool known = false;

		b->window[i] = -1;
		for (size_t k = 0; k < old->n_watchlists && !known; k++)
			known = strcmp(old->watchlists[k].name, w->name) == 0;
		if (known || w->backfill == 0 || (w->backfill < 0 && cfg->first_poll_max_age < 0))
			continue;
		b->window[i] = w->backfill > 0 ? w->backfill : cfg->first_poll_max_age;
		b->t->watchlists++;
		any = true;
		/* read what was seen within the window (an item is seen after it is dated) */
		if (b->window[i] == 0 || b->now - b->window[i] < *since)
			*since = b->window[i] == 0 ? 0 : b->now - b->window[i];
	}
	return any;
}

/* The words that find every item a new watchlist may match: theirs ORed, or NULL (every
   item) when one of them narrows nothing. */
static int candidates(const struct run *b, char **out)
{
	char *all = NULL, *one;

	*out = NULL;
	for (size_t i = 0; i < b->cfg->n_watchlists; i++) {
		char *n;

		if (b->window[i] < 0)
			continue;
		if (fw_match_words(b->cfg->matcher, i, &one) < 0) {
			free(all);
			return -ENOMEM;
		}
		if (one == NULL) {
			free(all);
			return 0;
		}
		n = all ? NULL : one;
		if (all && asprintf(&n, "%s OR %s", all, one) < 0)
			n = NULL;
		if (n != one)
			free(one);
		free(all);
		if ((all = n) == NULL)
			return -ENOMEM;
	}
	*out = all;
	return 0;
}

int fw_backfill_run(struct fw_store *s, const struct fw_config *old, const struct fw_config *cfg,
                    int64_t now, struct fw_backfill_tally *t)
{
	size_t n = cfg->n_watchlists + 1;
	struct run b = {.s = s, .cfg = cfg, .now = now, .t = t};
	char *words = NULL;
	int64_t since;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	b.window = calloc(n, sizeof(*b.window));
	b.raised = calloc(n, sizeof(*b.raised));
	b.pick = calloc(n, sizeof(*b.pick));
	if (b.window == NULL || b.raised == NULL || b.pick == NULL)
		rc = -ENOMEM;
	else if (windows(&b, old, &since) && (rc = candidates(&b, &words)) == 0 &&
	         (rc = fw_store_begin_lazy(s)) == 0) {
		rc = fw_store_archive_each(s, since, words, backfill_cb, &b);
		if (rc == 0)
			rc = fw_store_commit(s);
		if (rc < 0) {
			fw_store_rollback(s);
			t->raised = 0;
		}
	}
	fw_match_result_clear(&b.mr);
	free(words);
	free(b.window);
	free(b.raised);
	free(b.pick);
	return rc;
}
