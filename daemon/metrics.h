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

struct fw_daemon;

/* Write the metrics file of d->cfg now (temp file + rename). 0 or -errno. */
int fw_metrics_write(struct fw_daemon *d);

#endif
