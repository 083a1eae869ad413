/*
 * prune.c - the periodic prunes of the store as a continuation on the loop (prune.h): each
 * idle callback runs one batch, sized to take about FW_PRUNE_SLICE_US, in a transaction of
 * its own, then returns to the loop. Stages: items (fw_store_item_prune_step, a few feeds
 * a batch), the archive (fw_store_archive_prune_step, a few thousand rows at most), then
 * the stories (fw_store_story_prune: stories.c's, one call in a callback of its own).
 * A pass holds the store's prune lock from its start to its last batch: of the nodes that
 * share a store, one prunes at a time, and a node whose pass finds another's under way
 * skips it (the other does the work).
 */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "prune.h"

#define FW_PRUNE_SLICE_US   8000 /* a batch's target time on the loop thread */
#define FW_PRUNE_ROWS_FIRST 4    /* rows of a kind's first batch */
#define FW_PRUNE_ROWS_MAX   FW_STORE_ARCHIVE_PRUNE_BATCH

enum stage { IDLE, ITEMS, ARCHIVE, STORIES };

struct fw_prune {
	uv_idle_t idle;
	struct fw_prune_env env;
	struct fw_prune_targets t;
	struct fw_store_item_pruning items;
	struct fw_store_archive_pruning archive;
	enum stage stage;
	/* rows per batch, adapted to FW_PRUNE_SLICE_US, for each kind of batch: the items, and
	   the archive's by age, its walk back along the size cap, its rows under the cut (an
	   archived row costs its words out of the index: a millisecond or so) */
	size_t rows[4];
	size_t batches;
	int64_t stories_since; /* the cut of the last story prune that ended well (0: none) */
};

static void close_cb(uv_handle_t *h)
{
	free(h->data);
}

/* Rows per batch of kind k after one that took the microseconds since t0: a quarter more
   while under FW_PRUNE_SLICE_US, half as many past twice that (a batch's commit, an fsync,
   costs the same whatever its rows: the batches grow until the rows cost about as much). */
static void adapt(struct fw_prune *p, int k, uint64_t t0)
{
	uint64_t us = (uv_hrtime() - t0) / 1000;
	size_t rows = p->rows[k];

	if (us < FW_PRUNE_SLICE_US)
		rows += rows / 4 > 0 ? rows / 4 : 1;
	else if (us > 2 * FW_PRUNE_SLICE_US)
		rows /= 2;
	p->rows[k] = rows < 1 ? 1 : rows > FW_PRUNE_ROWS_MAX ? FW_PRUNE_ROWS_MAX : rows;
}

/* One batch of the items gone from their feeds past the retention; true when over. */
static bool prune_items(struct fw_prune *p)
{
	uint64_t t0 = uv_hrtime();
	bool done = false;

	if (fw_store_item_prune_step(p->env.store, &p->items, p->rows[0], &done) < 0) {
		fw_log(FW_LOG_WARNING, "cannot prune old items: %s", fw_store_error(p->env.store));
		return true;
	}
	adapt(p, 0, t0);
	if (done && p->items.deleted > 0)
		fw_log(FW_LOG_INFO, "forgot %lld items not seen for %llds",
		       (long long)p->items.deleted, (long long)p->t.retention);
	return done;
}

/* One batch of the archive's prune; true when it is over (done or failed). */
static bool prune_archive(struct fw_prune *p)
{
	uint64_t t0 = uv_hrtime();
	int k = 1 + (p->archive.phase < 2 ? p->archive.phase : 2);
	bool done = false;

	if (fw_store_archive_prune_step(p->env.store, &p->archive, p->rows[k], p->env.words,
	                                &done) < 0) {
		fw_log(FW_LOG_WARNING, "cannot prune the archive: %s",
		       fw_store_error(p->env.store));
		return true;
	}
	adapt(p, k, t0);
	if (done && p->archive.deleted > 0)
		fw_log(
		    FW_LOG_INFO,
		    "archive: forgot %lld items older than %llds or past %lld bytes (%zu batches)",
		    (long long)p->archive.deleted, (long long)p->t.archive,
		    (long long)p->t.archive_max, p->batches);
	return done;
}

/* The stories quiet past the story window. */
static void prune_stories(struct fw_prune *p)
{
	int64_t gone = 0, since = p->stories_since < p->t.stories_before ? p->stories_since : 0;

	if (fw_store_story_prune(p->env.store, p->t.stories_before, since, p->t.story_items,
	                         &gone) < 0) {
		fw_log(FW_LOG_WARNING, "cannot prune old stories: %s",
		       fw_store_error(p->env.store));
		return;
	}
	p->stories_since = p->t.stories_before; /* the next pass reads only what came since */
	if (gone > 0)
		fw_log(FW_LOG_INFO, "closed %lld stories quiet for %llds", (long long)gone,
		       (long long)p->t.story_window);
}

/* The pass is over (done, failed or stopped): the lock goes back. */
static void unlock(struct fw_prune *p)
{
	if (fw_store_prune_unlock(p->env.store) < 0)
		fw_log(FW_LOG_WARNING, "cannot give back the prune lock: %s",
		       fw_store_error(p->env.store));
}

/* One batch, then back to the loop. */
static void idle_cb(uv_idle_t *h)
{
	struct fw_prune *p = h->data;

	p->batches++;
	switch (p->stage) {
	case ITEMS:
		if (prune_items(p))
			p->stage = ARCHIVE;
		return;
	case ARCHIVE:
		if (!prune_archive(p))
			return;
		p->stage = p->t.archive_only ? IDLE : STORIES;
		if (p->stage == STORIES)
			return;
		break;
	case STORIES:
		prune_stories(p);
		p->stage = IDLE;
		break;
	case IDLE:
		break;
	}
	unlock(p);
	uv_idle_stop(h);
	if (p->env.done)
		p->env.done(p->env.arg);
}

int fw_prune_new(const struct fw_prune_env *env, struct fw_prune **out)
{
	struct fw_prune *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->env = *env;
	uv_idle_init(env->loop, &p->idle);
	p->idle.data = p;
	*out = p;
	return 0;
}

int fw_prune_start(struct fw_prune *p, const struct fw_prune_targets *t)
{
	int held;

	if (p->stage != IDLE)
		return 0;
	held = fw_store_prune_lock(p->env.store);
	if (held < 0)
		fw_log(FW_LOG_WARNING, "cannot take the prune lock: %s",
		       fw_store_error(p->env.store));
	else if (held == 0)
		fw_log(FW_LOG_DEBUG, "another node is pruning the store: this pass skipped");
	if (held <= 0)
		return 0;
	p->t = *t;
	p->items.before = t->items_before;
	p->items.deleted = 0;
	p->items.started = false;
	p->archive = (struct fw_store_archive_pruning){.before = t->archive_before,
	                                               .max_bytes = t->archive_max};
	p->stage = t->archive_only ? ARCHIVE : ITEMS;
	p->rows[0] = p->rows[1] = p->rows[3] = FW_PRUNE_ROWS_FIRST;
	p->rows[2] = FW_PRUNE_ROWS_MAX;
	p->batches = 0;
	uv_idle_start(&p->idle, idle_cb);
	return 1;
}

bool fw_prune_busy(const struct fw_prune *p)
{
	return p->stage != IDLE;
}

size_t fw_prune_batches(const struct fw_prune *p)
{
	return p->batches;
}

void fw_prune_close(struct fw_prune *p)
{
	if (p == NULL)
		return;
	uv_idle_stop(&p->idle);
	if (p->stage != IDLE)
		unlock(p);
	p->stage = IDLE;
	uv_close((uv_handle_t *)&p->idle, close_cb);
}
