/*
 * prune.h - the daemon's periodic prunes of the store (items gone from their feeds past
 * `retention`, the archive past `archive` and `archive_max_size`, stories past
 * `story_window`), a batch at a time on the loop thread: a uv_idle_t of its own runs one
 * short batch per loop iteration, so that polls, deliveries and WebSub pushes go on between
 * batches, and a prune that is not over yet resumes at the next iteration.
 */
#ifndef FW_PRUNE_H
#define FW_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "store.h"

struct fw_prune;

/* What one prune removes (Unix seconds; see fw_store_item_prune, fw_store_archive_prune
   and fw_store_story_prune), and the settings its log lines name. */
struct fw_prune_targets {
	int64_t items_before;   /* items not seen since (retention) */
	int64_t archive_before; /* archived items seen before (INT64_MIN: none by age) */
	int64_t archive_max;    /* bytes of archived text at most, 0: no cap */
	int64_t stories_before; /* stories quiet since (story_window) */
	int64_t story_items;    /* items of stories that go on, seen before */
	int64_t retention, archive, story_window; /* the settings, for the log */
	bool archive_only;                        /* the archive alone (no items, no stories) */
};

/* The loop, the store and the archive's words (all outlive the prune); done (may be NULL)
   runs on the loop when a prune is over. */
struct fw_prune_env {
	uv_loop_t *loop;
	struct fw_store *store;
	const struct fw_store_words *words;
	void (*done)(void *arg);
	void *arg;
};

/* A pruner on env's loop (idle until fw_prune_start). 0 and *out, or -ENOMEM. */
int fw_prune_new(const struct fw_prune_env *env, struct fw_prune **out);

/* Start a prune to t: 1 started, 0 when one is still running (it goes on to its own
   targets) or when the store's prune lock is another node's (fw_store_prune_lock: this
   pass is skipped; logged) or cannot be taken (logged). The first batch runs at the next
   loop iteration; the pass holds the lock until its last. */
int fw_prune_start(struct fw_prune *p, const struct fw_prune_targets *t);

/* Is a prune running? */
bool fw_prune_busy(const struct fw_prune *p);

/* Batches of the running prune, or of the last one. */
size_t fw_prune_batches(const struct fw_prune *p);

/* Stop (a prune under way stops after its last whole batch: each is committed; the lock
   goes back) and free once the loop has closed the handle. Accepts NULL. */
void fw_prune_close(struct fw_prune *p);

#endif
