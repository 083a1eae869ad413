/*
 * metrics.h - counters of the running daemon, written as a Prometheus text-format file
 * (node_exporter's textfile collector) atomically at an interval. metrics.c writes only
 * the figures it is handed: the rooms that count them own them.
 */
#ifndef FW_METRICS_H
#define FW_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds (seconds) of the poll-duration histogram's buckets; +Inf follows. */
#define FW_METRICS_POLL_BOUNDS                                                                     \
	{                                                                                          \
		0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60                                        \
	}
#define FW_METRICS_POLL_BUCKETS 10

/* Upper bounds (seconds) of the delay histograms' buckets (detection: publication to the
   end of the poll that found the item; delivery: alert raised to delivered); +Inf follows. */
#define FW_METRICS_DELAY_BOUNDS                                                                    \
	{                                                                                          \
		0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400       \
	}
#define FW_METRICS_DELAY_BUCKETS 16

/* A histogram of delays: per bucket (not cumulative), the rest past the last bound, sum. */
struct fw_metrics_delay {
	uint64_t n[FW_METRICS_DELAY_BUCKETS + 1];
	double sum;
};

struct fw_metrics {
	uint64_t polls;
	uint64_t poll_errors;
	uint64_t not_modified;
	uint64_t bytes;
	uint64_t items;
	uint64_t items_new;
	uint64_t feed_gaps; /* polls that found a whole document fresh (schedule.h part 4) */
	uint64_t matches;   /* alerts raised (one per watchlist and item) */
	uint64_t feeds_failing;
	double loop_lag; /* seconds, the last measured delay of a 1 s loop timer */
	double loop_lag_max;
	int64_t started;
	/* poll durations: per bucket (not cumulative), the rest past the last bound, sum */
	uint64_t poll_seconds[FW_METRICS_POLL_BUCKETS + 1];
	double poll_seconds_sum;
	/* WebSub (websub.c): verified pushes, pushes ignored for a bad or missing signature,
	   pushes signed with sha1, bodies refused for max_body, verifications refused (404),
	   denials, leases that ended; subscriptions active now */
	uint64_t websub_pushes, websub_bad_signature, websub_sha1, websub_too_big;
	uint64_t websub_refused, websub_denied, websub_expired, websub_active;
	struct fw_metrics_delay detection; /* new items: published -> found by a poll */
	struct fw_metrics_delay delivery;  /* alerts: raised -> delivered (1 s resolution) */
	/* alerts raised per watchlist of the current config, by index (the daemon keeps the
	   figures of a watchlist across a reload by its name) */
	uint64_t *watchlist_alerts;
	size_t n_watchlist_alerts;
};

/* Count one poll of `seconds` (start of the transfer to its end) in the histogram. */
void fw_metrics_observe_poll(struct fw_metrics *m, double seconds);

/* Count one delay (seconds; a negative one counts as 0) in h. */
void fw_metrics_observe_delay(struct fw_metrics_delay *h, double seconds);

/* Count a new item's detection delay, or an alert's delivery delay. m may be NULL. */
void fw_metrics_observe_detection(struct fw_metrics *m, double seconds);
void fw_metrics_observe_delivery(struct fw_metrics *m, double seconds);

/* The figures of one output, as the daemon hands them over. */
struct fw_metrics_output {
	const char *name;
	uint64_t delivered; /* since start */
	uint64_t failed;    /* failed attempts since start */
	int64_t pending;    /* in the outbox now */
	int64_t dead;
};

/* A name and a figure: a feed's last successful poll (Unix seconds, 0 = never), or a
   watchlist's alerts raised since start. */
struct fw_metrics_named {
	const char *name;
	int64_t value;
};

/* What one metrics file shows. */
struct fw_metrics_view {
	const struct fw_metrics *m;
	size_t n_feeds;
	size_t n_watchlists;
	const struct fw_metrics_output *outputs;
	size_t n_outputs;
	const struct fw_metrics_named *feeds;      /* last success per feed, n_feeds of them */
	const struct fw_metrics_named *watchlists; /* raised per watchlist, n_watchlists */
	size_t story_items, story_bytes; /* the story index: items in the window, its bytes */
	uint64_t story_evicted;          /* items it let go early for story_memory */
	const char *version;             /* for feedwatch_build_info */
	const char *libcurl, *libuv, *libxml2;
};

/* Write the figures of v to path now (temp file + rename). 0 or -errno. */
int fw_metrics_write(const char *path, const struct fw_metrics_view *v);

#endif
