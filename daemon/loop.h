/*
 * loop.h - the daemon: owns the uv_loop_t, the signals, the store, the curl multi, the
 * feeds and the outputs, and their orderly start and shutdown.
 */
#ifndef FW_LOOP_H
#define FW_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "metrics.h"
#include "store.h"

struct fw_config;
struct fw_store;
struct fw_net;
struct fw_parsework;
struct fw_feeds;
struct fw_deliver;
struct fw_websub;
struct fw_prune;

struct fw_daemon {
	uv_loop_t loop;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_fs_event_t watch;       /* the config file's directory (editors replace files) */
	uv_fs_event_t watch_feeds; /* the feeds file's directory, when not the config's */
	uv_timer_t watch_debounce;
	bool watching, watching_feeds;
	uint64_t config_hash; /* of the config and feeds files' bytes, to skip no-op reloads */
	struct fw_config *cfg;
	struct fw_store *store;
	struct fw_net *net;
	struct fw_parsework *parsework; /* the parser thread of the fetches */
	struct fw_feeds *feeds;
	struct fw_deliver *deliver;
	struct fw_grouper *grouper; /* stories: the index of the window, fed by the feeds */
	struct fw_websub *websub;   /* WebSub subscriber and callback server (not in once) */
	struct fw_prune *prune;     /* the hourly prunes, a batch at a time (not in once) */
	struct fw_cluster *cluster; /* a node of many sharing the store, or NULL (SQLite) */
	uv_timer_t tick;            /* 1 s: loop lag, metrics file, watchdog, archive index */
	uint64_t tick_expected;     /* uv_now at which the tick should run */
	int64_t metrics_written;
	int64_t last_prune;
	bool index_failed;      /* the archive's word index failed: retried at the next prune */
	uint64_t story_evicted; /* story items evicted for story_memory when last said */
	int64_t story_said;     /* when that was said (at most hourly) */
	struct fw_store_words words; /* the archive's words, folded as the matcher folds */
	uint64_t watchdog_ms;        /* ping the service manager this often, 0 = no watchdog */
	uint64_t watchdog_last;      /* uv_now of the last ping */
	uint64_t status_failing;     /* feeds_failing last shown in STATUS= */
	char last_error[160];        /* for STATUS=; "" when none */
	struct fw_metrics metrics;
	bool once; /* poll every feed once, deliver, stop */
	bool stopping;
	bool feeds_done;       /* once: every feed has been polled */
	size_t failed_feeds;   /* once: feeds whose poll failed */
	size_t outputs_down;   /* once: outputs that could not start */
	int64_t outbox_before; /* once: the outbox's last rowid before this run */
	int exit_code;
};

/* Run the daemon on cfg (which it takes over). once: `feedwatch once`. Returns the exit
   code: 0, 1 (once: a feed failed), or 2 (could not start). */
int fw_loop_run(struct fw_config *cfg, bool once);

/* Begin an orderly stop (signals, once mode finishing). */
void fw_loop_stop(struct fw_daemon *d);

/* Reload the config (SIGHUP, or a change in its directory): parse and validate into a new
   structure, swap only if valid, else keep the running one and log every error. */
void fw_loop_reload(struct fw_daemon *d, const char *why);

#endif
