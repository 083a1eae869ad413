/*
 * grouper.c - stories in the daemon (grouper.h): the index of story.c fed with each new
 * item and kept consistent with the store (rebuilt from it at start, taken back when a
 * poll's writes are), and the alert rules of watchlists grouped by story.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "config.h"
#include "fold.h"
#include "grouper.h"
#include "item.h"
#include "match.h"
#include "store.h"

#define FLUSH_MAX   64 /* due updates raised per flush */
#define ADDED_SHOWN 20 /* items listed in one update */
/* The most an item costs the index (story.c: 242 B measured when no two items share a
   word, about 160 B in news), so that story_memory bounds it. */
#define ITEM_BYTES 256

/* The items memory bytes hold (story_memory), 0 for 0: no bound. */
static size_t cap_items(int64_t memory)
{
	return memory > 0 ? (size_t)(memory / ITEM_BYTES + 1) : 0;
}

struct fw_grouper {
	struct fw_story_index *x;
	struct fw_fold *fold;
	uint64_t added;   /* items placed since start, for marks */
	int64_t window;   /* story_window */
	size_t cap;       /* the items story_memory holds, 0: no bound */
	int64_t last_id;  /* the highest store id of an item the index has taken in */
	bool loaded;      /* fw_grouper_load done */
	bool synced;      /* ... and it has looked for other nodes' items in this transaction */
	int64_t next_due; /* when the next story update may be due: 0 unknown (ask the store),
	                     INT64_MAX none waits */
};

/* A word of the features blob as stored (little-endian, whatever the machine, so that
   nodes of other byte orders share a store) from the host's, and back: the same swap. */
static uint32_t blob_word(uint32_t v)
{
	const unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
	                            (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
	uint32_t w;

	memcpy(&w, b, sizeof(w));
	return w;
}

static int load_cb(struct fw_story_item_row *r, void *arg)
{
	struct fw_grouper *g = arg;
	struct fw_story_features f = {0};

	/* the blob: the names mask, then the feature hashes */
	if (r->n_features > 0) {
		f.names = blob_word(r->features[0]);
		f.n = r->n_features - 1 < FW_STORY_FEATURES ? r->n_features - 1 : FW_STORY_FEATURES;
		for (size_t i = 0; i < f.n; i++)
			f.h[i] = blob_word(r->features[1 + i]);
	}
	if (r->id > g->last_id)
		g->last_id = r->id;
	return fw_story_index_add(g->x, &f, r->id, r->story, r->seen);
}

int fw_grouper_new(int64_t window, int64_t memory, struct fw_grouper **out)
{
	struct fw_grouper *g = calloc(1, sizeof(*g));
	int r;

	if (g == NULL)
		return -ENOMEM;
	g->window = window;
	r = fw_fold_new(&g->fold);
	if (r == 0)
		r = fw_story_index_new(window, &g->x);
	if (r < 0) {
		fw_grouper_free(g);
		return r;
	}
	fw_grouper_set_limits(g, window, memory);
	*out = g;
	return 0;
}

int fw_grouper_load(struct fw_grouper *g, struct fw_store *s, int64_t now)
{
	int r;

	if (g->loaded)
		return 0;
	/* the newest items the cap holds, not all to evict most */
	r = fw_store_story_load(s, now - g->window, (int64_t)g->cap, load_cb, g);
	g->loaded = r == 0;
	if (r < 0) {
		/* what a load that failed midway took in goes: the next load reads it again,
		   and nothing was placed before the first load */
		struct fw_story_index *x;

		if (fw_story_index_new(g->window, &x) == 0) {
			fw_story_index_free(g->x);
			g->x = x;
			fw_story_index_set_cap(x, g->cap);
		} else
			fw_story_index_pop(g->x, fw_story_index_items(g->x));
		g->last_id = 0;
	}
	return r;
}

struct fw_grouper *fw_grouper_free(struct fw_grouper *g)
{
	if (g) {
		fw_story_index_free(g->x);
		fw_fold_free(g->fold);
		free(g);
	}
	return NULL;
}

void fw_grouper_set_limits(struct fw_grouper *g, int64_t window, int64_t memory)
{
	g->window = window;
	g->cap = cap_items(memory);
	fw_story_index_set_window(g->x, window);
	fw_story_index_set_cap(g->x, g->cap);
}

void fw_grouper_begin(struct fw_grouper *g)
{
	g->synced = false;
}

int fw_grouper_sync(struct fw_grouper *g, struct fw_store *tx, int64_t now)
{
	int64_t was = g->last_id;
	int r;

	if (g->synced)
		return 0;
	if ((r = fw_grouper_load(g, tx, now)) < 0)
		return r;
	/* taken in as loaded, not counted in `added`: a rollback takes back this node's items
	   only, placed after these */
	r = fw_store_story_added(tx, g->last_id, now - g->window, load_cb, g);
	g->synced = r == 0;
	/* their stories may hold items for an update that the node which placed them raises;
	   should it die, this one does: the next flush asks the store when one is due */
	if (g->last_id != was)
		g->next_due = 0;
	return r;
}

uint64_t fw_grouper_mark(const struct fw_grouper *g)
{
	return g->added;
}

void fw_grouper_rollback(struct fw_grouper *g, uint64_t mark)
{
	if (g->added > mark) {
		fw_story_index_pop(g->x, (size_t)(g->added - mark));
		g->added = mark;
	}
	g->synced = false; /* a shared store's lock may have gone with the writes */
}

int fw_grouper_features(const struct fw_grouper *g, const struct fw_config *cfg,
                        const struct fw_item *it, const struct fw_match_result *mr,
                        struct fw_story_features *f, struct fw_story_terms *terms)
{
	const char *names[8];
	size_t n = 0;

	for (size_t i = 0; mr && i < mr->n_entities && n < 8; i++)
		if (mr->entities[i] < cfg->n_entities)
			names[n++] = cfg->entities[mr->entities[i]].name;
	return fw_story_features(g->fold, it->title, it->summary, it->content, names, n, f, terms);
}

int fw_grouper_peek(struct fw_grouper *g, const struct fw_config *cfg, const struct fw_item *it,
                    const struct fw_match_result *mr, int64_t now, struct fw_story_place *p)
{
	struct fw_story_features f;
	int r = fw_grouper_features(g, cfg, it, mr, &f, NULL);

	return r < 0 ? r : fw_story_index_find(g->x, &f, now, p);
}

void fw_grouper_item_clear(struct fw_grouper_item *gi)
{
	free(gi->title);
	memset(gi, 0, sizeof(*gi));
}

/* "s-" and 16 hex digits of FNV-1a 64 over feed NUL item id: stable, and the same on every
   node that places the item. */
static void story_sid(const char *feed, const char *item, char *buf, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)feed; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h *= 0x100000001b3ULL;
	for (const unsigned char *p = (const unsigned char *)item; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	snprintf(buf, n, "s-%016llx", (unsigned long long)h);
}

/* The entity names of mr, '\n' between (malloc()ed; NULL when none). */
static char *entities_of(const struct fw_config *cfg, const struct fw_match_result *mr)
{
	size_t len = 0, n = 0;
	char *out;

	for (size_t i = 0; i < mr->n_entities; i++)
		if (mr->entities[i] < cfg->n_entities)
			len += strlen(cfg->entities[mr->entities[i]].name) + 1;
	if (len == 0 || (out = malloc(len)) == NULL)
		return NULL;
	for (size_t i = 0; i < mr->n_entities; i++) {
		const char *e;

		if (mr->entities[i] >= cfg->n_entities)
			continue;
		e = cfg->entities[mr->entities[i]].name;
		if (n)
			out[n++] = '\n';
		memcpy(out + n, e, strlen(e));
		n += strlen(e);
	}
	out[n] = 0;
	return out;
}

/* The explanations of watchlist index wl in mr as a JSON array (malloc()ed text). */
static char *explain_of(const struct fw_config *cfg, const struct fw_match_result *mr, size_t wl)
{
	json_t *a = json_array();
	char *out;

	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < mr->n_explain && json_array_size(a) < FW_ALERT_EXPLAIN; i++)
		if (mr->explain[i].watchlist == wl)
			json_array_append_new(
			    a, fw_alert_explain_json(&mr->explain[i], cfg->watchlists[wl].name));
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

/* Store the item's row and the watchlists it matched. */
static int store_item(struct fw_store *tx, const struct fw_config *cfg, const char *feed,
                      const struct fw_item *it, const struct fw_match_result *mr,
                      const struct fw_story_features *f, int64_t now, struct fw_grouper_item *gi)
{
	uint32_t blob[FW_STORY_FEATURES + 1];
	struct fw_story_item_row row = {.story = gi->story,
	                                .feed = (char *)feed,
	                                .item = it->id,
	                                .title = it->title,
	                                .link = it->link,
	                                .published = it->published,
	                                .seen = now,
	                                .matched = gi->place.story ? gi->place.matched : 0,
	                                .score = gi->place.score,
	                                .features = blob,
	                                .n_features = f->n + 1};
	int r;

	blob[0] = blob_word(f->names);
	for (size_t i = 0; i < f->n; i++)
		blob[1 + i] = blob_word(f->h[i]);
	row.entities = entities_of(cfg, mr);
	r = fw_store_story_add_item(tx, &row, gi->sid, &gi->item, &gi->story);
	free(row.entities);
	for (size_t i = 0; r == 0 && i < mr->n_watchlists; i++) {
		char *ex = explain_of(cfg, mr, mr->watchlists[i]);

		r = ex ? fw_store_story_match(tx, gi->item, cfg->watchlists[mr->watchlists[i]].name,
		                              ex)
		       : -ENOMEM;
		free(ex);
	}
	return r;
}

/* The features of an item: pre (computed ahead without entities; may be NULL) when the
   item names no entity, which is what fw_grouper_features would compute; else computed
   here. 0 or -ENOMEM. */
static int features_of(const struct fw_grouper *g, const struct fw_config *cfg,
                       const struct fw_item *it, const struct fw_match_result *mr,
                       const struct fw_story_features *pre, struct fw_story_features *f)
{
	bool named = false;

	for (size_t i = 0; mr && i < mr->n_entities && !named; i++)
		named = mr->entities[i] < cfg->n_entities;
	if (pre && !named) {
		*f = *pre;
		return 0;
	}
	return fw_grouper_features(g, cfg, it, mr, f, NULL);
}

/* Whether an alert of this item may tell its story: a watchlist grouped by story matched it
   and the story has not alerted for that watchlist yet (else the item waits for an update,
   which reads the story itself). Only then are the story's counts read: they are an
   aggregate over its items. 1, 0 or a negative errno. */
static int story_told(struct fw_store *tx, const struct fw_config *cfg,
                      const struct fw_match_result *mr, int64_t story, bool is_new)
{
	for (size_t i = 0; i < mr->n_watchlists; i++) {
		const struct fw_config_watchlist *w = &cfg->watchlists[mr->watchlists[i]];
		struct fw_story_watch ws;
		int r;

		if (!w->by_story)
			continue;
		if (is_new)
			return 1;
		r = fw_store_story_watch_get(tx, story, w->name, &ws);
		if (r != 0)
			return r == -ENOENT ? 1 : r;
	}
	return 0;
}

int fw_grouper_place(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                     const char *feed, const struct fw_item *it, const struct fw_match_result *mr,
                     int64_t now, struct fw_grouper_item *gi)
{
	return fw_grouper_place_pre(g, tx, cfg, feed, it, mr, NULL, now, gi);
}

int fw_grouper_place_pre(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                         const char *feed, const struct fw_item *it,
                         const struct fw_match_result *mr, const struct fw_story_features *pre,
                         int64_t now, struct fw_grouper_item *gi)
{
	struct fw_story_features f;
	struct fw_story_row srow;
	int r;

	memset(gi, 0, sizeof(*gi));
	if ((r = fw_grouper_sync(g, tx, now)) < 0 ||
	    (r = features_of(g, cfg, it, mr, pre, &f)) < 0 ||
	    (r = fw_story_index_find(g->x, &f, now, &gi->place)) < 0)
		return r;
	gi->story = gi->place.story;
	if (gi->story == 0)
		story_sid(feed, it->id, gi->sid, sizeof(gi->sid));
	r = store_item(tx, cfg, feed, it, mr, &f, now, gi);
	/* what an alert says of its story (an item that no alert tells it with needs none) */
	if (r == 0)
		r = story_told(tx, cfg, mr, gi->story, gi->place.story == 0);
	if (r > 0 && (r = fw_store_story_get(tx, gi->story, &srow)) == 0) {
		memcpy(gi->sid, srow.sid, sizeof(gi->sid));
		gi->title = srow.title;
		gi->items = srow.n_items;
		gi->feeds = srow.n_feeds;
	}
	if (r < 0)
		return r;
	if ((r = fw_story_index_add(g->x, &f, gi->item, gi->story, now)) == 0)
		g->added++;
	if (gi->item > g->last_id)
		g->last_id = gi->item;
	return r;
}

/* The items waiting for an update: the newest ADDED_SHOWN kept, the others counted. */
struct waiting {
	struct fw_story_item_row v[ADDED_SHOWN];
	size_t n, total;
};

static int waiting_cb(struct fw_story_item_row *r, void *arg)
{
	struct waiting *w = arg;
	struct fw_story_item_row *slot = &w->v[w->total % ADDED_SHOWN];

	if (w->total >= ADDED_SHOWN)
		fw_store_story_item_clear(slot);
	*slot = *r;
	memset(r, 0, sizeof(*r)); /* moved: the store clears an empty row */
	w->total++;
	w->n = w->total < ADDED_SHOWN ? w->total : ADDED_SHOWN;
	return 0;
}

/* The update of story for watchlist w (state ws) with the items waiting; ws is advanced
   and stored. 0 or a negative errno. */
static int raise_update(struct fw_store *tx, const struct fw_config *cfg, int64_t story,
                        const struct fw_config_watchlist *w, struct fw_story_watch *ws, int64_t now,
                        size_t *raised)
{
	struct waiting wt = {.n = 0};
	struct fw_story_item_row ordered[ADDED_SHOWN];
	struct fw_story_row srow = {0};
	struct fw_alert_update u;
	char id[33];
	int r = fw_store_story_pending(tx, story, w->name, ws->last_item, waiting_cb, &wt);

	if (r == 0 && wt.n > 0)
		r = fw_store_story_get(tx, story, &srow);
	if (r == 0 && wt.n > 0) {
		size_t first = wt.total > ADDED_SHOWN ? wt.total % ADDED_SHOWN : 0;

		for (size_t i = 0; i < wt.n; i++) /* oldest first, the newest last */
			ordered[i] = wt.v[(first + i) % ADDED_SHOWN];
		u = (struct fw_alert_update){.sid = srow.sid,
		                             .title = srow.title,
		                             .first_alert = ws->first_alert,
		                             .items = srow.n_items,
		                             .feeds = srow.n_feeds,
		                             .serial = ws->updates + 1,
		                             .added = ordered,
		                             .n_added = wt.n,
		                             .more = wt.total - wt.n};
		r = fw_alert_raise_story_update(tx, cfg, w, &u, now, id);
		if (r > 0)
			(*raised)++;
		ws->last_item = ordered[wt.n - 1].id;
		ws->updates++;
	}
	if (r >= 0) {
		ws->last_alert = now;
		ws->pending = 0;
		r = fw_store_story_watch_set(tx, story, w->name, ws);
	}
	for (size_t i = 0; i < wt.n; i++)
		fw_store_story_item_clear(&wt.v[i]);
	fw_story_row_clear(&srow);
	return r < 0 ? r : 0;
}

/* After the alerts of an item of story gi: a first alert opens the story for its
   watchlist; an item held waits, or is in an update raised now when one is due. */
static int after_raise(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                       const struct fw_grouper_item *gi, const struct fw_config_watchlist *w,
                       bool held, bool fresh, const char *id, int64_t now, size_t *raised)
{
	struct fw_story_watch ws = {0};
	int r;

	if (!held) {
		if (!fresh)
			return 0;
		snprintf(ws.first_alert, sizeof(ws.first_alert), "%s", id);
		ws.last_alert = now;
		ws.last_item = gi->item;
		return fw_store_story_watch_set(tx, gi->story, w->name, &ws);
	}
	if ((r = fw_store_story_watch_get(tx, gi->story, w->name, &ws)) < 0)
		return r;
	ws.pending++;
	if (cfg->story_update_interval > 0 && now - ws.last_alert >= cfg->story_update_interval)
		return raise_update(tx, cfg, gi->story, w, &ws, now, raised);
	if (cfg->story_update_interval > 0 &&
	    g->next_due > ws.last_alert + cfg->story_update_interval)
		g->next_due = ws.last_alert + cfg->story_update_interval;
	return fw_store_story_watch_set(tx, gi->story, w->name, &ws);
}

int fw_grouper_raise(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                     const struct fw_config_feed *feed, const struct fw_item *it,
                     const struct fw_match_result *mr, const struct fw_grouper_item *gi,
                     int64_t now, size_t *raised, uint8_t *fresh)
{
	size_t n = mr->n_watchlists;
	uint8_t *hold = calloc(n + 1, 2);
	char(*ids)[33] = calloc(n + 1, sizeof(*ids));
	struct fw_alert_story st = {.sid = gi->sid,
	                            .title = gi->title,
	                            .items = gi->items,
	                            .feeds = gi->feeds,
	                            .hold = hold,
	                            .ids = ids};
	uint8_t *own = hold + n + 1;
	int r = hold && ids ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct fw_config_watchlist *w = &cfg->watchlists[mr->watchlists[i]];
		struct fw_story_watch ws;

		if (!w->by_story)
			continue;
		r = fw_store_story_watch_get(tx, gi->story, w->name, &ws);
		hold[i] = r == 0;
		r = r == -ENOENT ? 0 : r;
	}
	if (r == 0)
		r = fw_alert_raise(tx, cfg, feed, it, mr, now, raised, own, &st);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct fw_config_watchlist *w = &cfg->watchlists[mr->watchlists[i]];

		if (fresh)
			fresh[i] = own[i];
		if (w->by_story)
			r = after_raise(g, tx, cfg, gi, w, hold[i], own[i], ids[i], now, raised);
	}
	free(hold);
	free(ids);
	return r;
}

struct flush_ctx {
	struct fw_store *tx;
	const struct fw_config *cfg;
	int64_t now;
	size_t *raised;
};

static int due_cb(int64_t story, const char *watchlist, void *arg)
{
	struct flush_ctx *c = arg;
	long wi = -1;
	struct fw_story_watch ws;
	int r;

	for (size_t i = 0; i < c->cfg->n_watchlists && wi < 0; i++)
		if (strcmp(c->cfg->watchlists[i].name, watchlist) == 0)
			wi = (long)i;
	if ((r = fw_store_story_watch_get(c->tx, story, watchlist, &ws)) < 0)
		return r == -ENOENT ? 0 : r;
	if (wi < 0 || !c->cfg->watchlists[wi].by_story) {
		ws.pending = 0; /* the watchlist is gone, or alerts per item now */
		return fw_store_story_watch_set(c->tx, story, watchlist, &ws);
	}
	return raise_update(c->tx, c->cfg, story, &c->cfg->watchlists[wi], &ws, c->now, c->raised);
}

int fw_grouper_flush(struct fw_grouper *g, struct fw_store *tx, const struct fw_config *cfg,
                     int64_t now, size_t *raised)
{
	struct flush_ctx c = {tx, cfg, now, raised};
	int64_t first;
	int r;

	if (!fw_grouper_due(g, cfg, now))
		return 0;
	r = fw_store_story_due(tx, now - cfg->story_update_interval, FLUSH_MAX, due_cb, &c);
	if (r < 0)
		return r;
	r = fw_store_story_next_due(tx, &first);
	g->next_due = r == 0 ? first + cfg->story_update_interval : INT64_MAX;
	return r == -ENOENT ? 0 : r;
}

bool fw_grouper_due(const struct fw_grouper *g, const struct fw_config *cfg, int64_t now)
{
	return cfg->story_update_interval > 0 && now >= g->next_due;
}

size_t fw_grouper_items(const struct fw_grouper *g)
{
	return fw_story_index_items(g->x);
}

size_t fw_grouper_memory(const struct fw_grouper *g)
{
	return fw_story_index_memory(g->x);
}

uint64_t fw_grouper_evicted(const struct fw_grouper *g)
{
	return fw_story_index_evicted(g->x);
}

int64_t fw_grouper_oldest(const struct fw_grouper *g)
{
	return fw_story_index_oldest(g->x);
}
