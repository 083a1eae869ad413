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

static const double poll_bounds[FW_METRICS_POLL_BUCKETS] = FW_METRICS_POLL_BOUNDS;

/* See metrics.h. */
void fw_metrics_observe_poll(struct fw_metrics *m, double seconds)
{
	size_t b = 0;

	while (b < FW_METRICS_POLL_BUCKETS && seconds > poll_bounds[b])
		b++;
	m->poll_seconds[b]++;
	m->poll_seconds_sum += seconds;
}

static const double delay_bounds[FW_METRICS_DELAY_BUCKETS] = FW_METRICS_DELAY_BOUNDS;

/* See metrics.h. */
void fw_metrics_observe_delay(struct fw_metrics_delay *h, double seconds)
{
	size_t b = 0;

	if (!(seconds > 0))
		seconds = 0;
	while (b < FW_METRICS_DELAY_BUCKETS && seconds > delay_bounds[b])
		b++;
	h->n[b]++;
	h->sum += seconds;
}

/* See metrics.h. */
void fw_metrics_observe_detection(struct fw_metrics *m, double seconds)
{
	if (m)
		fw_metrics_observe_delay(&m->detection, seconds);
}

/* See metrics.h. */
void fw_metrics_observe_delivery(struct fw_metrics *m, double seconds)
{
	if (m)
		fw_metrics_observe_delay(&m->delivery, seconds);
}

static void family(FILE *f, const char *name, const char *help, const char *type)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	family(f, name, help, "counter");
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

/* A gauge; %.15g keeps every digit of a Unix time in seconds (%.6g was off by up to 5,000 s). */
static void gauge(FILE *f, const char *name, const char *help, double v)
{
	family(f, name, help, "gauge");
	fprintf(f, "%s %.15g\n", name, v);
}

/* The WebSub subscriber's figures (websub.c). */
static void websub_metrics(FILE *f, const struct fw_metrics *m)
{
	counter(f, "feedwatch_websub_pushes_total", "WebSub pushes with a valid signature.",
	        m->websub_pushes);
	counter(f, "feedwatch_websub_bad_signature_total",
	        "WebSub pushes ignored for a missing or wrong X-Hub-Signature.",
	        m->websub_bad_signature);
	counter(f, "feedwatch_websub_sha1_total", "WebSub pushes signed with sha1 (accepted).",
	        m->websub_sha1);
	counter(f, "feedwatch_websub_too_big_total", "WebSub pushes refused for max_body (413).",
	        m->websub_too_big);
	counter(f, "feedwatch_websub_refused_total",
	        "Verifications of intent refused (404): not a subscription asked for.",
	        m->websub_refused);
	counter(f, "feedwatch_websub_denied_total", "Subscriptions denied by their hub.",
	        m->websub_denied);
	counter(f, "feedwatch_websub_expired_total", "WebSub leases that ended unrenewed.",
	        m->websub_expired);
	gauge(f, "feedwatch_websub_subscriptions", "WebSub subscriptions verified and active.",
	      (double)m->websub_active);
}

/* One sample per name: name{label="..."} value. */
static void labelled(FILE *f, const char *name, const char *label, const char *value, long long v)
{
	fprintf(f, "%s{%s=\"", name, label);
	put_label(f, value);
	fprintf(f, "\"} %lld\n", v);
}

/* A family of one sample per output: which figure is picked by pick. */
static void per_output(FILE *f, const struct fw_metrics_view *v, const char *name, const char *help,
                       const char *type, int pick)
{
	family(f, name, help, type);
	for (size_t i = 0; i < v->n_outputs; i++) {
		const struct fw_metrics_output *o = &v->outputs[i];
		long long x = pick == 0   ? (long long)o->delivered
		              : pick == 1 ? (long long)o->failed
		              : pick == 2 ? (long long)o->pending
		                          : (long long)o->dead;

		labelled(f, name, "output", o->name, x);
	}
}

static void per_name(FILE *f, const char *name, const char *help, const char *type,
                     const char *label, const struct fw_metrics_named *v, size_t n)
{
	family(f, name, help, type);
	for (size_t i = 0; v && i < n; i++)
		labelled(f, name, label, v[i].name, (long long)v[i].value);
}

static void poll_histogram(FILE *f, const struct fw_metrics *m)
{
	const char *name = "feedwatch_poll_duration_seconds";
	uint64_t cum = 0;

	family(f, name, "Time from the start of a poll's transfer to its end.", "histogram");
	for (size_t b = 0; b < FW_METRICS_POLL_BUCKETS; b++) {
		cum += m->poll_seconds[b];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, poll_bounds[b],
		        (unsigned long long)cum);
	}
	cum += m->poll_seconds[FW_METRICS_POLL_BUCKETS];
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.15g\n%s_count %llu\n", name,
	        (unsigned long long)cum, name, m->poll_seconds_sum, name, (unsigned long long)cum);
}

static void delay_histogram(FILE *f, const char *name, const char *help,
                            const struct fw_metrics_delay *h)
{
	uint64_t cum = 0;

	family(f, name, help, "histogram");
	for (size_t b = 0; b < FW_METRICS_DELAY_BUCKETS; b++) {
		cum += h->n[b];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, delay_bounds[b],
		        (unsigned long long)cum);
	}
	cum += h->n[FW_METRICS_DELAY_BUCKETS];
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.15g\n%s_count %llu\n", name,
	        (unsigned long long)cum, name, h->sum, name, (unsigned long long)cum);
}

static void build_info(FILE *f, const struct fw_metrics_view *v)
{
	family(f, "feedwatch_build_info", "Versions of feedwatch and its libraries; always 1.",
	       "gauge");
	fputs("feedwatch_build_info{version=\"", f);
	put_label(f, v->version ? v->version : "");
	fputs("\",libcurl=\"", f);
	put_label(f, v->libcurl ? v->libcurl : "");
	fputs("\",libuv=\"", f);
	put_label(f, v->libuv ? v->libuv : "");
	fputs("\",libxml2=\"", f);
	put_label(f, v->libxml2 ? v->libxml2 : "");
	fputs("\"} 1\n", f);
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
	counter(f, "feedwatch_feed_gaps_total",
	        "Polls that found every item of the feed fresh (new, dated since the previous "
	        "poll): older ones may have scrolled off.",
	        m->feed_gaps);
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
	gauge(f, "feedwatch_story_index_items", "Items in the story index (the story window).",
	      (double)v->story_items);
	gauge(f, "feedwatch_story_index_bytes",
	      "Bytes the story index holds (story_memory bounds it).", (double)v->story_bytes);
	counter(f, "feedwatch_story_index_evicted_total",
	        "Items that left the story index for story_memory before their window ended.",
	        v->story_evicted);
	poll_histogram(f, m);
	websub_metrics(f, m);
	delay_histogram(f, "feedwatch_detection_delay_seconds",
	                "From a new item's publication date to the end of the poll that found it "
	                "(dated items, not in the future, first polls excluded).",
	                &m->detection);
	delay_histogram(f, "feedwatch_delivery_delay_seconds",
	                "From an alert's raising to its delivery by an output (1 s resolution).",
	                &m->delivery);
	per_name(f, "feedwatch_feed_last_success_timestamp_seconds",
	         "Unix time of the feed's last successful poll (0: none yet).", "gauge", "feed",
	         v->feeds, v->n_feeds);
	per_name(f, "feedwatch_watchlist_alerts_total", "Alerts raised per watchlist since start.",
	         "counter", "watchlist", v->watchlists, v->n_watchlists);
	per_output(f, v, "feedwatch_alerts_delivered_total", "Alerts delivered, per output.",
	           "counter", 0);
	per_output(f, v, "feedwatch_alerts_failed_total", "Failed delivery attempts, per output.",
	           "counter", 1);
	per_output(f, v, "feedwatch_alerts_pending", "Alerts waiting in the outbox, per output.",
	           "gauge", 2);
	per_output(f, v, "feedwatch_alerts_dead", "Dead letters in the outbox, per output.",
	           "gauge", 3);
	build_info(f, v);
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
