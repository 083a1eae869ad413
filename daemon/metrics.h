/*
 * metrics.h - counters of the running daemon, written as a Prometheus text-format file
 * (node_exporter's textfile collector) atomically at an interval.
 */
#ifndef FW_METRICS_H
#define FW_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct fw_metrics {
	uint64_t polls;
	uint64_t poll_errors;
	uint64_t not_modified;
	uint64_t bytes;
	uint64_t items;
	uint64_t items_new;
	uint64_t matches; /* alerts raised (one per watchlist and item) */
	uint64_t feeds_failing;
	double loop_lag; /* seconds, the last measured delay of a 1 s loop timer */
	double loop_lag_max;
	int64_t started;
};

/* The figures of one output, as the daemon hands them over. */
struct fw_metrics_output {
	const char *name;
	uint64_t delivered; /* since start */
	uint64_t failed;    /* failed attempts since start */
	int64_t pending;    /* in the outbox now */
	int64_t dead;
};

/* What one metrics file shows: the counters, the config's sizes, the outputs. */
struct fw_metrics_view {
	const struct fw_metrics *m;
	size_t n_feeds;
	size_t n_watchlists;
	const struct fw_metrics_output *outputs;
	size_t n_outputs;
};

/* Write the figures of v to path now (temp file + rename). 0 or -errno. */
int fw_metrics_write(const char *path, const struct fw_metrics_view *v);

#endif
