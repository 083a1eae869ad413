/* metrics.c - the Prometheus text-format metrics file, from the figures handed to it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"

/* Label values: backslash, quote and newline escaped (exposition format). */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	        (unsigned long long)v);
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %.6g\n", name, help, name, name, v);
}

/* One counter per output: delivered (which = 0) or failed attempts (1). */
static void output_counter(FILE *f, const struct fw_metrics_view *v, const char *name,
                           const char *help, int which)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (size_t i = 0; i < v->n_outputs; i++) {
		fprintf(f, "%s{output=\"", name);
		put_label(f, v->outputs[i].name);
		fprintf(
		    f, "\"} %llu\n",
		    (unsigned long long)(which ? v->outputs[i].failed : v->outputs[i].delivered));
	}
}

/* Write the metrics file. */
int fw_metrics_write(const char *path, const struct fw_metrics_view *v)
{
	const struct fw_metrics *m = v->m;
	char *tmp;
	FILE *f;
	int fd, r = 0;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		free(tmp);
		return r;
	}
	counter(f, "feedwatch_polls_total", "Feed polls finished.", m->polls);
	counter(f, "feedwatch_poll_errors_total", "Feed polls that failed.", m->poll_errors);
	counter(f, "feedwatch_not_modified_total", "Polls answered 304 Not Modified.",
	        m->not_modified);
	counter(f, "feedwatch_bytes_total", "Feed body bytes received (decoded).", m->bytes);
	counter(f, "feedwatch_items_total", "Items read from feeds.", m->items);
	counter(f, "feedwatch_items_new_total", "Items seen for the first time.", m->items_new);
	counter(f, "feedwatch_matches_total", "Alerts raised (item and watchlist).", m->matches);
	gauge(f, "feedwatch_feeds", "Feeds configured.", (double)v->n_feeds);
	gauge(f, "feedwatch_watchlists", "Watchlists configured.", (double)v->n_watchlists);
	gauge(f, "feedwatch_feeds_failing", "Feeds whose last poll failed.",
	      (double)m->feeds_failing);
	gauge(f, "feedwatch_loop_lag_seconds", "Delay of the loop's 1 s timer at its last tick.",
	      m->loop_lag);
	gauge(f, "feedwatch_loop_lag_max_seconds", "Largest loop timer delay since start.",
	      m->loop_lag_max);
	gauge(f, "feedwatch_start_time_seconds", "Start time, Unix seconds.", (double)m->started);
	output_counter(f, v, "feedwatch_alerts_delivered_total", "Alerts delivered, per output.",
	               0);
	output_counter(f, v, "feedwatch_alerts_failed_total",
	               "Failed delivery attempts, per output.", 1);
	fputs("# HELP feedwatch_alerts_pending Alerts waiting in the outbox, per output.\n"
	      "# TYPE feedwatch_alerts_pending gauge\n"
	      "# HELP feedwatch_alerts_dead Dead letters in the outbox, per output.\n"
	      "# TYPE feedwatch_alerts_dead gauge\n",
	      f);
	for (size_t i = 0; i < v->n_outputs; i++) {
		fputs("feedwatch_alerts_pending{output=\"", f);
		put_label(f, v->outputs[i].name);
		fprintf(f, "\"} %lld\nfeedwatch_alerts_dead{output=\"",
		        (long long)v->outputs[i].pending);
		put_label(f, v->outputs[i].name);
		fprintf(f, "\"} %lld\n", (long long)v->outputs[i].dead);
	}
	if (fflush(f) != 0 || ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}
