/* loop.c - the daemon's loop: start-up order, signals, orderly shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/xmlversion.h>

#include <feedwatch/version.h>

#include "alert.h"
#include "backfill.h"
#include "clock.h"
#include "cluster.h"
#include "config.h"
#include "deliver.h"
#include "feeds.h"
#include "grouper.h"
#include "host.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "notify.h"
#include "parsework.h"
#include "prune.h"
#include "loader.h"
#include "store.h"
#include "websub.h"

#define FW_WATCH_DEBOUNCE_MS 300 /* editors write in several steps */
/* Bytes of feed bodies that may wait for the parser thread (then fetching waits). */
#define FW_PARSE_QUEUE (4u << 20)
#define FW_CONFIG_MAX  (16 * 1024 * 1024)

/* mkdir -p with mode 0700 for what we create. */
static int make_dirs(const char *path)
{
	char *p = strdup(path);
	int r = 0;

	if (p == NULL)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			r = -errno;
		*s = '/';
		if (r < 0)
			break;
	}
	if (r == 0 && mkdir(p, 0700) < 0 && errno != EEXIST)
		r = -errno;
	free(p);
	return r;
}

static void walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		fw_log(FW_LOG_ERR, "internal: a %s handle was left open at shutdown",
		       uv_handle_type_name(h->type));
}

/* The per-watchlist alert counters for cfg, each kept by name from old (may be NULL). 0 or
   -ENOMEM (the counters are then left as they were). */
static int remap_watchlist_alerts(struct fw_metrics *m, const struct fw_config *cfg,
                                  const struct fw_config *old)
{
	uint64_t *v = calloc(cfg->n_watchlists + 1, sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; old && i < cfg->n_watchlists; i++)
		for (size_t k = 0; k < old->n_watchlists && k < m->n_watchlist_alerts; k++)
			if (strcmp(cfg->watchlists[i].name, old->watchlists[k].name) == 0)
				v[i] = m->watchlist_alerts[k];
	free(m->watchlist_alerts);
	m->watchlist_alerts = v;
	m->n_watchlist_alerts = cfg->n_watchlists;
	return 0;
}

/* The metrics file of the current config, from the figures each room hands over. */
static int write_metrics(struct fw_daemon *d)
{
	const struct fw_config *cfg = d->cfg;
	struct fw_metrics_output *outs = calloc(cfg->n_outputs + 1, sizeof(*outs));
	struct fw_metrics_named *feeds = calloc(cfg->n_feeds + 1, sizeof(*feeds));
	struct fw_metrics_named *wls = calloc(cfg->n_watchlists + 1, sizeof(*wls));
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	struct fw_metrics_view v = {.m = &d->metrics,
	                            .n_feeds = cfg->n_feeds,
	                            .n_watchlists = cfg->n_watchlists,
	                            .outputs = outs,
	                            .n_outputs = cfg->n_outputs,
	                            .feeds = feeds,
	                            .watchlists = wls,
	                            .version = FW_VERSION_STRING,
	                            .libcurl = cv->version,
	                            .libuv = uv_version_string(),
	                            .libxml2 = LIBXML_DOTTED_VERSION};
	int r = -ENOMEM;

	if (outs == NULL || feeds == NULL || wls == NULL)
		goto out;
	v.n_feeds = fw_feeds_last_success(d->feeds, feeds, cfg->n_feeds);
	if (d->grouper) {
		v.story_items = fw_grouper_items(d->grouper);
		v.story_bytes = fw_grouper_memory(d->grouper);
		v.story_evicted = fw_grouper_evicted(d->grouper);
	}
	for (size_t i = 0; i < cfg->n_watchlists; i++) {
		wls[i].name = cfg->watchlists[i].name;
		wls[i].value =
		    i < d->metrics.n_watchlist_alerts ? (int64_t)d->metrics.watchlist_alerts[i] : 0;
	}
	for (size_t i = 0; i < cfg->n_outputs; i++) {
		outs[i].name = cfg->outputs[i].name;
		outs[i].delivered = fw_deliver_counter(d->deliver, outs[i].name, 0);
		outs[i].failed = fw_deliver_counter(d->deliver, outs[i].name, 1);
		fw_store_outbox_count(d->store, outs[i].name, &outs[i].pending, &outs[i].dead);
	}
	r = fw_metrics_write(cfg->metrics_file, &v);
out:
	free(outs);
	free(feeds);
	free(wls);
	return r;
}

/* Orderly stop: feeds first (no new work), then transfers, then outputs. */
void fw_loop_stop(struct fw_daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	if (!d->once)
		fw_notify_stopping();
	/* pushes end before the feeds they go to, and hub requests before the multi */
	fw_websub_close(d->websub);
	d->websub = NULL;
	/* a prune under way stops after its last batch (each is committed) */
	fw_prune_close(d->prune);
	d->prune = NULL;
	/* The last figures, while every room still exists, and with the polls finished so far
	   stored: a poll is timed when its fetch ends and counted when it is stored, and a
	   stop in the loop turn between the two counted it in one figure only. */
	fw_feeds_flush(d->feeds);
	if (d->cfg->metrics_file && write_metrics(d) < 0)
		fw_log(FW_LOG_WARNING, "cannot write %s", d->cfg->metrics_file);
	fw_feeds_close(d->feeds);
	d->feeds = NULL;
	/* after the feeds, which give up their claims in flight */
	fw_cluster_close(d->cluster);
	d->cluster = NULL;
	/* Aborting transfers runs plugins' HTTP callbacks, so outputs close after. */
	fw_net_close(d->net, NULL, NULL);
	d->net = NULL;
	/* every fetch is over now: the parser thread may go */
	fw_parsework_close(d->parsework, NULL, NULL);
	d->parsework = NULL;
	fw_deliver_close(d->deliver);
	d->deliver = NULL;
	if (d->watching) {
		uv_fs_event_stop(&d->watch);
		uv_close((uv_handle_t *)&d->watch, NULL);
		uv_close((uv_handle_t *)&d->watch_debounce, NULL);
		d->watching = false;
	}
	if (d->watching_feeds) {
		uv_fs_event_stop(&d->watch_feeds);
		uv_close((uv_handle_t *)&d->watch_feeds, NULL);
		d->watching_feeds = false;
	}
	uv_timer_stop(&d->tick);
	uv_close((uv_handle_t *)&d->tick, NULL);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
}

static void stop_signal_cb(uv_signal_t *s, int signum)
{
	struct fw_daemon *d = s->data;

	fw_log(FW_LOG_NOTICE, "%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	fw_loop_stop(d);
}

#define FW_TICK_MS 1000

/* STATUS= for the service manager (READY=1 too when ready). */
static void report_status(struct fw_daemon *d, bool ready)
{
	char st[FW_NOTIFY_STATUS_MAX + 1];

	snprintf(st, sizeof(st), "%zu feeds (%llu failing), %zu watchlists, %zu outputs%s%s",
	         d->cfg->n_feeds, (unsigned long long)d->metrics.feeds_failing,
	         d->cfg->n_watchlists, d->cfg->n_outputs, d->last_error[0] ? "; last error: " : "",
	         d->last_error);
	if (ready)
		fw_notify_ready(st);
	else
		fw_notify_status("%s", st);
}
#define FW_PRUNE_EVERY 3600 /* seconds between prunes of items gone from their feeds */

#define FW_INDEX_BATCH 256 /* archived items whose words are indexed per second at most */

/* The archive's word index catches up a batch at a time, off the polls' path. */
static void index_archive(struct fw_daemon *d)
{
	size_t n = 0;

	if (d->index_failed || fw_store_archive_index(d->store, FW_INDEX_BATCH, &d->words, &n) == 0)
		return;
	/* said once; a backtest still finds every item (unindexed ones are all candidates) */
	d->index_failed = true;
	fw_log(FW_LOG_WARNING, "cannot index the archive: %s", fw_store_error(d->store));
}

/* once: the archive's items older than `archive` or past archive_max_size go, all before
   the polls; logged. */
static void prune_archive(struct fw_daemon *d, int64_t wall)
{
	int64_t gone = 0;

	if (fw_store_archive_prune(d->store,
	                           d->cfg->archive > 0 ? wall - d->cfg->archive : INT64_MAX,
	                           d->cfg->archive_max_size, &d->words, &gone) < 0)
		fw_log(FW_LOG_WARNING, "cannot prune the archive: %s", fw_store_error(d->store));
	else if (gone > 0)
		fw_log(FW_LOG_INFO,
		       "archive: forgot %lld items older than %llds or past %lld bytes",
		       (long long)gone, (long long)d->cfg->archive,
		       (long long)d->cfg->archive_max_size);
}

/* once (from cron, say) keeps the archive within its bounds too, pruning it before its
   polls when the last prune (once's or the daemon's) is an hour old. */
static void prune_archive_once(struct fw_daemon *d, int64_t wall)
{
	int64_t last = 0;

	if (fw_store_archive_last_prune(d->store, &last) == 0 && wall - last < FW_PRUNE_EVERY &&
	    last <= wall)
		return;
	prune_archive(d, wall);
}

/* The hourly prunes (items, archive, stories), a batch per loop iteration (prune.h); one
   still running goes on to its own targets. */
static void start_prune(struct fw_daemon *d, int64_t wall)
{
	const struct fw_config *c = d->cfg;
	struct fw_prune_targets t = {.items_before = wall - c->retention,
	                             .archive_before =
	                                 c->archive > 0 ? wall - c->archive : INT64_MAX,
	                             .archive_max = c->archive_max_size,
	                             .stories_before = wall - c->story_window,
	                             .story_items = wall - c->retention,
	                             .retention = c->retention,
	                             .archive = c->archive,
	                             .story_window = c->story_window};

	fw_prune_start(d->prune, &t);
}

/* The story index full (story_memory): items leave it before their window ends, and with
   them the chance that later items join their stories. Said when it starts, then at most
   hourly while it goes on. */
static void story_memory_check(struct fw_daemon *d, int64_t wall)
{
	uint64_t evicted = d->grouper ? fw_grouper_evicted(d->grouper) : 0;
	int64_t oldest, now;

	if (evicted <= d->story_evicted || (d->story_said && wall - d->story_said < 3600))
		return;
	oldest = fw_grouper_oldest(d->grouper);
	now = fw_clock_now();
	fw_log(FW_LOG_WARNING,
	       "story index full: story_memory = %.1f MB holds %zu items, the last %.1f h of the "
	       "%.0f h story_window (%llu items left it early: later items no longer join "
	       "their stories); raise story_memory to group over the whole window",
	       (double)d->cfg->story_memory / 1048576.0, fw_grouper_items(d->grouper),
	       oldest > 0 && now > oldest ? (double)(now - oldest) / 3600.0 : 0.0,
	       (double)d->cfg->story_window / 3600.0,
	       (unsigned long long)(evicted - d->story_evicted));
	d->story_evicted = evicted;
	d->story_said = wall;
}

/* Every second: how late the loop runs (lag), and the metrics file when due. */
static void tick_cb(uv_timer_t *t)
{
	struct fw_daemon *d = t->data;
	uint64_t now = uv_now(&d->loop);
	double lag = now > d->tick_expected ? (double)(now - d->tick_expected) / 1000.0 : 0.0;
	int64_t wall = time(NULL);
	int r;

	d->metrics.loop_lag = lag;
	if (lag > d->metrics.loop_lag_max)
		d->metrics.loop_lag_max = lag;
	d->tick_expected = now + FW_TICK_MS;
	if (d->prune && wall - d->last_prune >= FW_PRUNE_EVERY) {
		d->last_prune = wall;
		d->index_failed = false;
		start_prune(d, wall);
	}
	if (!d->once)
		index_archive(d);
	story_memory_check(d, wall);
	if (d->cfg->metrics_file && wall - d->metrics_written >= d->cfg->metrics_interval) {
		d->metrics_written = wall;
		if ((r = write_metrics(d)) < 0)
			fw_log(FW_LOG_WARNING, "cannot write the metrics file %s: %s",
			       d->cfg->metrics_file, strerror(-r));
	}
	if (d->watchdog_ms && now - d->watchdog_last >= d->watchdog_ms) {
		d->watchdog_last = now;
		fw_notify_watchdog();
	}
	if (!d->once && d->metrics.feeds_failing != d->status_failing) {
		d->status_failing = d->metrics.feeds_failing;
		report_status(d, false);
	}
}

/* FNV-1a of the config file's bytes; 0 when unreadable. */
static uint64_t file_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned char buf[8192];
	size_t total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0 && total < FW_CONFIG_MAX) {
		total += (size_t)n;
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
	}
	close(fd);
	return h;
}

/* The config's bytes and its feeds file's (absent: 0) in one hash; 0 when the config is
   unreadable. */
static uint64_t config_hash(const struct fw_config *cfg)
{
	uint64_t h = file_hash(cfg->path);

	if (h == 0 || cfg->feeds_file == NULL)
		return h;
	return h ^ (file_hash(cfg->feeds_file) * 0x9e3779b97f4a7c15ULL);
}

/* The watchlists a reload added, matched against the archive (backfill.h); logged. */
static void backfill(struct fw_daemon *d, const struct fw_config *old)
{
	struct fw_backfill_tally t;
	int r = fw_backfill_run(d->store, old, d->cfg, time(NULL), &t);

	if (r < 0) {
		fw_log(FW_LOG_ERR, "cannot match the new watchlists against the archive: %s",
		       r == -ENOMEM ? "out of memory" : fw_store_error(d->store));
		return;
	}
	if (t.watchlists == 0)
		return;
	d->metrics.matches += t.raised;
	fw_log(FW_LOG_NOTICE,
	       "%zu new watchlists matched against %zu archived items: %zu alerts raised",
	       t.watchlists, t.scanned, t.raised);
	if (t.held > 0)
		fw_log(FW_LOG_WARNING,
		       "%zu more archived items match the new watchlists than max_alerts_per_poll "
		       "allows: not alerted (feedwatch backtest lists them)",
		       t.held);
}

/* Reload the config. */
void fw_loop_reload(struct fw_daemon *d, const char *why)
{
	struct fw_diags diags = {0};
	struct fw_config *cfg = NULL, *old = d->cfg;
	uint64_t hash = config_hash(old);
	char err[256];

	if (d->stopping)
		return;
	fw_notify_reloading();
	fw_log(FW_LOG_NOTICE, "%s: reloading %s", why, old->path);
	if (fw_config_load(old->path, &cfg, &diags) == 0)
		fw_host_check_config(cfg, &diags);
	for (size_t i = 0; i < diags.n; i++)
		fw_log(diags.v[i].warning ? FW_LOG_WARNING : FW_LOG_ERR, "%s:%d: %s",
		       diags.v[i].file, diags.v[i].line, diags.v[i].message);
	if (diags.errors > 0) {
		fw_log(FW_LOG_ERR,
		       "reload failed (%zu errors): still running on the previous config",
		       diags.errors);
		/* The manager saw RELOADING=1: end the reload with READY=1 in any case, and say
		   in STATUS= that the old config still runs. */
		snprintf(d->last_error, sizeof(d->last_error),
		         "reload failed (%zu errors), running on the previous config",
		         diags.errors);
		fw_diags_clear(&diags);
		fw_config_free(cfg);
		report_status(d, true);
		return;
	}
	fw_diags_clear(&diags);
	if (strcmp(cfg->state_dir, old->state_dir) != 0) {
		fw_log(FW_LOG_WARNING,
		       "state_dir changes take effect at the next start; still using %s",
		       old->state_dir);
		free(cfg->state_dir);
		cfg->state_dir = strdup(old->state_dir);
	}
	fw_feeds_flush(d->feeds); /* polls made under the old config are stored under it */
	if (remap_watchlist_alerts(&d->metrics, cfg, old) < 0) {
		fw_log(FW_LOG_ERR, "reload: out of memory");
		fw_config_free(cfg);
		report_status(d, true);
		return;
	}
	d->cfg = cfg;
	fw_grouper_set_limits(d->grouper, cfg->story_window, cfg->story_memory);
	if (d->websub && fw_websub_reload(d->websub, cfg, err, sizeof(err)) < 0)
		fw_log(FW_LOG_ERR, "websub: %s", err); /* the subscriptions go on; pushes wait */
	backfill(d, old); /* while old still exists: the outputs may free it */
	if (fw_feeds_reload(d->feeds, cfg) < 0 || fw_deliver_reload(d->deliver, cfg) < 0) {
		/* Out of memory half-way: the feeds may already point at cfg, so keep it and
		   leak the old one rather than free what may still be used. */
		fw_log(FW_LOG_ERR, "reload: out of memory");
		report_status(d, true);
		return;
	}
	d->config_hash = hash;
	fw_deliver_kick(d->deliver); /* the backfill's alerts, if any */
	if (strncmp(d->last_error, "reload failed", 13) == 0)
		d->last_error[0] = 0;
	fw_log(FW_LOG_NOTICE, "reloaded: %zu feeds, %zu watchlists, %zu outputs", cfg->n_feeds,
	       cfg->n_watchlists, cfg->n_outputs);
	report_status(d, true);
}

static void hup_signal_cb(uv_signal_t *s, int signum)
{
	struct fw_daemon *d = s->data;

	/* SIGHUP is also logrotate's signal: reopen output files in any case. */
	fw_deliver_reopen(d->deliver);
	fw_loop_reload(d, "SIGHUP");
}

static void debounce_cb(uv_timer_t *t)
{
	struct fw_daemon *d = t->data;
	uint64_t h = config_hash(d->cfg);

	/* Only a real change of the files' bytes reloads. */
	if (h != 0 && h != d->config_hash)
		fw_loop_reload(d, "config file changed");
}

/* Is filename (from a directory watch) the base name of path? */
static bool same_base(const char *filename, const char *path)
{
	char *copy = path ? strdup(path) : NULL;
	bool same = copy && strcmp(filename, basename(copy)) == 0;

	free(copy);
	return same;
}

static void watch_cb(uv_fs_event_t *w, const char *filename, int events, int status)
{
	struct fw_daemon *d = w->data;

	(void)events;
	if (status == 0 && (filename == NULL || same_base(filename, d->cfg->path) ||
	                    same_base(filename, d->cfg->feeds_file)))
		uv_timer_start(&d->watch_debounce, debounce_cb, FW_WATCH_DEBOUNCE_MS, 0);
}

/* The feeds file's directory too, when it is not the config's (feeds_file elsewhere). The
   directory is the one of the config the daemon started with. */
static void watch_feeds_file(struct fw_daemon *d, const char *config_dir)
{
	char *copy = d->cfg->feeds_file ? strdup(d->cfg->feeds_file) : NULL;
	const char *dir = copy ? dirname(copy) : NULL;
	int r;

	if (dir && strcmp(dir, config_dir) != 0) {
		uv_fs_event_init(&d->loop, &d->watch_feeds);
		d->watch_feeds.data = d;
		d->watching_feeds = true;
		r = uv_fs_event_start(&d->watch_feeds, watch_cb, dir, 0);
		if (r != 0)
			fw_log(FW_LOG_WARNING,
			       "cannot watch %s for changes (%s): reload with SIGHUP", dir,
			       uv_strerror(r));
	}
	free(copy);
}

/* Watch the config's directory, not the file: editors replace the file. */
static void watch_config(struct fw_daemon *d)
{
	char *copy = strdup(d->cfg->path);
	const char *dir = copy ? dirname(copy) : NULL;
	int r;

	d->config_hash = config_hash(d->cfg);
	if (dir == NULL)
		return;
	watch_feeds_file(d, dir);
	uv_fs_event_init(&d->loop, &d->watch);
	uv_timer_init(&d->loop, &d->watch_debounce);
	d->watch.data = d->watch_debounce.data = d;
	d->watching = true;
	r = uv_fs_event_start(&d->watch, watch_cb, dir, 0);
	if (r != 0)
		fw_log(FW_LOG_WARNING, "cannot watch %s for changes (%s): reload with SIGHUP", dir,
		       uv_strerror(r));
	free(copy);
}

/* once: every feed polled; deliver what is due, then stop when idle. */
static void feeds_done_cb(void *arg)
{
	struct fw_daemon *d = arg;

	d->feeds_done = true;
	fw_deliver_kick(d->deliver);
}

/* A committed poll queued alerts. */
static void feeds_queued_cb(void *arg)
{
	struct fw_daemon *d = arg;

	fw_deliver_kick(d->deliver);
}

/* A poll failed: STATUS= says so; once exits 1. */
static void feed_failed_cb(void *arg, const char *feed, const char *error)
{
	struct fw_daemon *d = arg;

	snprintf(d->last_error, sizeof(d->last_error), "feed '%.40s': %.100s", feed, error);
	if (d->once)
		d->failed_feeds++;
}

/* once: the outbox has nothing more to send now. */
static void alerts_idle_cb(void *arg)
{
	struct fw_daemon *d = arg;

	if (d->once && d->feeds_done && !d->stopping)
		fw_loop_stop(d);
}

/* once's exit status, each reason said on stderr: 3 an output could not start, 4 an alert
   of this run was not delivered (pending or dead), 1 a feed failed, else 0. */
static int once_code(struct fw_daemon *d)
{
	int64_t pending = 0, dead = 0;
	int code = 0;

	if (d->failed_feeds > 0) {
		fprintf(stderr, "feedwatch: %zu of %zu feeds failed (see above)\n", d->failed_feeds,
		        d->cfg->n_feeds);
		code = 1;
	}
	if (d->store && d->outbox_before != INT64_MAX &&
	    fw_store_outbox_count_after(d->store, d->outbox_before, &pending, &dead) == 0 &&
	    pending + dead > 0) {
		fprintf(stderr,
		        "feedwatch: %lld alerts of this run were not delivered (%lld pending, %lld "
		        "dead): see feedwatch outbox list\n",
		        (long long)(pending + dead), (long long)pending, (long long)dead);
		code = 4;
	}
	if (d->outputs_down > 0) {
		fprintf(stderr, "feedwatch: %zu output%s could not start (see above)\n",
		        d->outputs_down, d->outputs_down == 1 ? "" : "s");
		code = 3;
	}
	return code;
}

/* A poll found a WebSub hub and topic. */
static void discovered_cb(void *arg, const char *feed, const char *hub, const char *self)
{
	struct fw_daemon *d = arg;

	fw_websub_discovered(d->websub, feed, hub, self);
}

/* A verified WebSub push: parsed and committed as a poll. */
static int push_cb(void *arg, const char *feed, const char *body, size_t len)
{
	struct fw_daemon *d = arg;

	return fw_feeds_push(d->feeds, feed, body, len, d->cfg->websub.safety_poll);
}

/* A feed's subscription lapsed: it is polled as usual again. */
static void lapsed_cb(void *arg, const char *feed)
{
	struct fw_daemon *d = arg;

	fw_feeds_push_lapsed(d->feeds, feed);
}

/* The WebSub subscriber (not in once: nobody would be there to answer the hub). 0 or
   -errno, logged. */
static int start_websub(struct fw_daemon *d)
{
	struct fw_websub_env we = {.loop = &d->loop,
	                           .store = d->store,
	                           .net = d->net,
	                           .metrics = &d->metrics,
	                           .push = push_cb,
	                           .lapsed = lapsed_cb,
	                           .arg = d};
	char err[256] = "";
	int r;

	if (d->once)
		return 0;
	if ((r = fw_websub_new(&we, d->cfg, &d->websub, err, sizeof(err))) < 0)
		fw_log(FW_LOG_ERR, "websub: %s", err[0] ? err : strerror(-r));
	return r;
}

/* Start the rooms below the loop, each handed what it needs (once: the archive pruned
   first, when due). 0 or -errno (logged when not -ENOMEM). */
static int start_rooms(struct fw_daemon *d)
{
	struct fw_deliver_env de = {.loop = &d->loop,
	                            .store = d->store,
	                            .net = d->net,
	                            .metrics = &d->metrics,
	                            .idle = alerts_idle_cb,
	                            .arg = d};
	struct fw_feeds_env fe = {.loop = &d->loop,
	                          .store = d->store,
	                          .net = d->net,
	                          .parsework = d->parsework,
	                          .metrics = &d->metrics,
	                          .grouper = d->grouper,
	                          .once = d->once,
	                          .queued = feeds_queued_cb,
	                          .failed = feed_failed_cb,
	                          .done = feeds_done_cb,
	                          .discovered = discovered_cb,
	                          .arg = d};
	struct fw_prune_env pe = {.loop = &d->loop, .store = d->store, .words = &d->words};
	int r;

	if (fw_backfill_words_new(&d->words) < 0 || fw_deliver_new(&de, d->cfg, &d->deliver) < 0)
		return -ENOMEM;
	if (d->once)
		prune_archive_once(d, time(NULL));
	else if (fw_prune_new(&pe, &d->prune) < 0)
		return -ENOMEM;
	/* many nodes share the store: each names itself and claims each poll first */
	if (strcmp(fw_store_backend(d->store), "sqlite") != 0 &&
	    (r = fw_cluster_new(&d->loop, d->store, d->cfg, &d->cluster)) < 0)
		return r;
	fe.cluster = d->cluster;
	if ((r = fw_feeds_start(&fe, d->cfg, &d->feeds)) < 0)
		return r;
	return start_websub(d);
}

/* The start's log line. A store URL may hold a password: scheme://host:port/database. */
static void log_start(const struct fw_config *cfg, bool once, const char *db)
{
	bool shared = fw_store_is_shared(db);
	char *shown = shared ? fw_alert_public_url(db) : NULL;
	const char *where = shown ? shown : db;

	if (shared && !shown)
		where = "PostgreSQL";
	fw_log(once ? FW_LOG_INFO : FW_LOG_NOTICE,
	       "%s: %zu feeds, %zu watchlists, %zu outputs, state in %s",
	       once ? "polling once" : "started", cfg->n_feeds, cfg->n_watchlists, cfg->n_outputs,
	       where);
	free(shown);
}

/* Run the daemon. */
int fw_loop_run(struct fw_config *cfg, bool once)
{
	struct fw_daemon d;
	char err[512], *db = NULL;
	int r, code = 0, lock_fd = -1;

	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.once = once;
	if ((r = uv_loop_init(&d.loop)) != 0) {
		fw_log(FW_LOG_ERR, "cannot start the event loop: %s", uv_strerror(r));
		fw_config_free(cfg);
		return 2;
	}
	if ((r = make_dirs(cfg->state_dir)) < 0) {
		fw_log(FW_LOG_ERR, "cannot create the state directory %s: %s", cfg->state_dir,
		       strerror(-r));
		code = 2;
		goto out;
	}
	db = fw_config_db_path(cfg);
	if (db && (r = fw_store_lock(db, &lock_fd, err, sizeof(err))) == -EBUSY) {
		fw_log(FW_LOG_ERR, "%s", err);
		code = 2;
		goto out;
	}
	if (db == NULL || r < 0 || fw_store_open(db, false, &d.store, err, sizeof(err)) < 0) {
		fw_log(FW_LOG_ERR, "cannot open the store: %s", db ? err : "out of memory");
		fw_log(FW_LOG_ERR, "refusing to start rather than forget which items were seen");
		code = 2;
		goto out;
	}
	fw_clock_init();
	/* once loads the stories at its first new item (a round of 304s never reads them) */
	if ((r = fw_grouper_new(cfg->story_window, cfg->story_memory, &d.grouper)) < 0 ||
	    (!d.once && (r = fw_grouper_load(d.grouper, d.store, fw_clock_now())) < 0)) {
		fw_log(FW_LOG_ERR, "cannot load the stories: %s",
		       r == -ENOMEM ? "out of memory" : fw_store_error(d.store));
		code = 2;
		goto out;
	}
	uv_signal_init(&d.loop, &d.sig_term);
	uv_signal_init(&d.loop, &d.sig_int);
	uv_signal_init(&d.loop, &d.sig_hup);
	d.sig_term.data = d.sig_int.data = d.sig_hup.data = &d;
	uv_signal_start(&d.sig_term, stop_signal_cb, SIGTERM);
	uv_signal_start(&d.sig_int, stop_signal_cb, SIGINT);
	uv_signal_start(&d.sig_hup, hup_signal_cb, SIGHUP);
	uv_timer_init(&d.loop, &d.tick);
	d.tick.data = &d;
	d.metrics.started = time(NULL);
	if (remap_watchlist_alerts(&d.metrics, cfg, NULL) < 0) {
		fw_log(FW_LOG_ERR, "out of memory");
		code = 2;
		goto out_loop;
	}
	d.tick_expected = uv_now(&d.loop) + FW_TICK_MS;
	uv_timer_start(&d.tick, tick_cb, FW_TICK_MS, FW_TICK_MS);
	if (fw_net_new(&d.loop, cfg->concurrency + 16, 0, &d.net) < 0 ||
	    fw_parsework_new(&d.loop, FW_PARSE_QUEUE, &d.parsework) < 0) {
		fw_log(FW_LOG_ERR, "out of memory");
		code = 2;
		goto out_loop;
	}
	log_start(cfg, once, db);
	if (!once)
		watch_config(&d);
	if (once && fw_store_outbox_last_rowid(d.store, &d.outbox_before) < 0)
		d.outbox_before = INT64_MAX; /* unknown: judge no alert */
	if ((r = start_rooms(&d)) < 0) {
		if (r == -ENOMEM)
			fw_log(FW_LOG_ERR, "out of memory");
		code = 2;
		fw_loop_stop(&d);
	}
	d.outputs_down = fw_deliver_outputs_down(d.deliver);
	/* Alerts left from an earlier run go out now. */
	fw_deliver_kick(d.deliver);
	if (!once && !d.stopping) {
		uint64_t usec = 0;

		if ((r = fw_notify_watchdog_usec(&usec)) < 0)
			fw_log(FW_LOG_WARNING, "ignoring $WATCHDOG_USEC: %s", strerror(-r));
		/* Half the interval; the 1 s tick needs WatchdogSec > 2 s. */
		d.watchdog_ms = usec / 2000;
		d.watchdog_last = uv_now(&d.loop);
		report_status(&d, true);
	}
out_loop:
	if (!d.stopping && code != 0)
		fw_loop_stop(&d);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	if (once && code == 0)
		code = once_code(&d);
	if (d.store) {
		int64_t pending = 0, dead = 0;

		if (fw_store_outbox_count(d.store, NULL, &pending, &dead) == 0 && once &&
		    (pending > 0 || dead > 0))
			fprintf(stderr, "feedwatch: %lld alerts wait in the outbox, %lld dead\n",
			        (long long)pending, (long long)dead);
	}
out:
	d.grouper = fw_grouper_free(d.grouper);
	d.store = fw_store_close(d.store);
	fw_backfill_words_free(&d.words);
	uv_walk(&d.loop, walk_cb, NULL);
	if ((r = uv_loop_close(&d.loop)) != 0) {
		fw_log(FW_LOG_ERR, "internal: the event loop did not close cleanly: %s",
		       uv_strerror(r));
		if (code == 0)
			code = 2;
	}
	if (lock_fd >= 0)
		close(lock_fd);
	free(db);
	free(d.metrics.watchlist_alerts);
	fw_config_free(d.cfg);
	return code;
}
