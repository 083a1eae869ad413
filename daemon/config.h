/*
 * config.h - the validated configuration: libconfig in, a struct fw_config out, every
 * problem reported as FILE:LINE. Pure: never logs; the caller prints the diagnostics.
 */
#ifndef FW_CONFIG_H
#define FW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

struct fw_matcher;

/* One diagnostic: "FILE:LINE: message" (a warning when warning is true). */
struct fw_diag {
	char *file;
	int line;
	bool warning;
	char *message;
};

struct fw_diags {
	struct fw_diag *v;
	size_t n, cap;
	size_t errors;
};

/* Append a diagnostic (capped at 1000; later ones are counted, not kept). */
void fw_diags_add(struct fw_diags *d, bool warning, const char *file, int line, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
/* Free the diagnostics and zero d. */
void fw_diags_clear(struct fw_diags *d);

/* Defaults of the alert-storm guards: items of one poll that raise alerts (the rest are
   remembered and summed up in one notice), and alerts per output per minute (the rest wait
   and go out as digests). */
#define FW_CONFIG_MAX_ALERTS_PER_POLL 20
#define FW_CONFIG_RATE_LIMIT          20

struct fw_config_feed {
	char *name;
	char *url;
	int64_t interval;     /* seconds */
	int64_t min_interval; /* adaptive polling's bounds, seconds; 0 = the top level's */
	int64_t max_interval;
	int64_t first_poll_max_age;  /* seconds, 0 = no limit */
	int64_t max_alerts_per_poll; /* items of one poll that may alert, 0 = no limit */
	int64_t timeout;             /* seconds, whole transfer */
	bool tls_verify;
	char **headers; /* extra request headers "Name: value" */
	size_t n_headers;
	const char *file; /* config file and line of the feed's group, or feeds_file and line
	                     of its outline */
	int line;
	char **tags; /* from the feeds file's folders and categories (opml.c) */
	size_t n_tags;
};

struct fw_config_entity {
	char *name;
	char **aliases;
	size_t n_aliases;
	int line;
};

/* Alert priorities: the `priority` key of watchlists and outputs, "priority" in alerts. */
enum fw_priority {
	FW_PRIORITY_UNSET = -1, /* an output without its own priority */
	FW_PRIORITY_LOW = 0,
	FW_PRIORITY_NORMAL = 1, /* a watchlist's default */
	FW_PRIORITY_HIGH = 2,
	FW_PRIORITY_URGENT = 3,
};

/* "low", "normal", "high" or "urgent" (an out-of-range p gives "normal"). */
const char *fw_config_priority_name(int p);
/* The enum fw_priority of a name ("low" ... "urgent"), or -1 for NULL or another string. */
int fw_config_priority_parse(const char *name);

struct fw_config_watchlist {
	char *name;
	char *query;
	size_t *outputs; /* indices into cfg->outputs */
	size_t n_outputs;
	bool by_story;    /* group = "story" (default): one alert per story, then updates */
	int priority;     /* enum fw_priority, FW_PRIORITY_NORMAL by default */
	char *title;      /* title template (plugins/common/template.h), or NULL */
	char *body;       /* body template, or NULL */
	int64_t backfill; /* added by a reload: archived items this recent are matched (seconds;
	                     -1: the config's first_poll_max_age; 0: none) */
	int line;
};

struct fw_config_output {
	char *name;
	char *plugin;
	const config_setting_t *setting; /* the output's group: plugin keys live here */
	int64_t rate_limit;              /* alerts per window, 0 = unlimited */
	int64_t rate_window;             /* seconds */
	int64_t max_attempts;            /* then the alert is a dead letter */
	int64_t max_age;                 /* seconds after which a pending alert is dead */
	int64_t retry_base;              /* first retry delay, doubling per attempt */
	int64_t retry_max;               /* cap of the retry delay */
	int priority;                    /* overrides the watchlist's; FW_PRIORITY_UNSET: not */
	char *title;                     /* overrides the watchlist's title template, or NULL */
	char *body;                      /* overrides the watchlist's body template, or NULL */
	const char *file;
	int line;
};

/* The WebSub subscriber (top-level `websub` group); enabled only when the group is there. */
struct fw_config_websub {
	bool enabled;
	char *listen;             /* "ADDRESS:PORT" (IPv6 in brackets) the callback server binds */
	char *callback_url;       /* what hubs are told: http(s) URL, a token path is appended */
	int64_t lease;            /* hub.lease_seconds asked for */
	int64_t safety_poll;      /* while pushes arrive, a feed is polled this often at most */
	int64_t max_conns;        /* callback connections at once */
	int64_t max_conns_per_ip; /* of them from one address */
	int64_t conn_timeout;     /* seconds one callback connection may take */
	bool insecure_hubs;       /* subscribe at http:// hubs too (hub.secret in the clear) */
};

struct fw_config {
	char *path;
	config_t lc; /* kept alive: output settings point into it */

	char *state_dir;
	char *store;      /* NULL: state_dir/feedwatch.db; a postgresql:// URL or a SQLite file */
	char *node;       /* NULL: "<host name>-<pid>": who holds this process's claims */
	int64_t lease;    /* seconds a claim in a shared store lasts unrenewed */
	char *plugin_dir; /* NULL: the default search */
	char *feeds_file; /* the OPML file of `feeds add` and `import`: feeds.opml beside path */
	int64_t first_poll_max_age;
	int64_t interval;     /* default per-feed interval */
	int64_t min_interval; /* floor for every interval */
	int64_t max_interval; /* adaptive polling: default upper bound of an interval */
	bool adaptive;        /* adaptive polling (default true); false: fixed intervals */
	int64_t max_backoff;  /* cap for error backoff */
	int64_t timeout;      /* default total transfer timeout */
	int64_t connect_timeout;
	int64_t max_body;  /* bytes, counted after decompression */
	int64_t max_items; /* items kept per poll of one feed */
	int64_t max_alerts_per_poll;
	int64_t concurrency; /* transfers at once */
	int64_t host_concurrency;
	int64_t retention; /* forget items not seen in a feed for this long */
	char *user_agent;
	char *metrics_file; /* Prometheus text file, or NULL */
	int64_t metrics_interval;
	int64_t feed_failing_after; /* a feed failing this long raises an alert; 0 = never */
	long feed_failing_output;   /* index into outputs, -1 = none */
	int64_t story_window;       /* items are grouped with items this recent */
	int64_t story_memory; /* bytes the story index may hold: beyond, its oldest items leave */
	int64_t story_update_interval; /* at most one story update alert per this; 0 = none */
	int64_t archive;               /* keep each new item's text this long; 0 = no archive */
	int64_t archive_max_size;      /* at most this many bytes of archived text; 0 = no cap */

	struct fw_config_feed *feeds;
	size_t n_feeds;
	struct fw_config_entity *entities;
	size_t n_entities;
	struct fw_config_watchlist *watchlists;
	size_t n_watchlists;
	struct fw_config_output *outputs;
	size_t n_outputs;

	struct fw_matcher *matcher; /* compiled watchlists, index-aligned with watchlists */
	struct fw_config_websub websub;
};

/*
 * Find the config file: explicit (may be NULL), else $FEEDWATCH_CONFIG, else
 * $XDG_CONFIG_HOME/feedwatch/feedwatch.conf (default ~/.config), else
 * SYSCONFDIR/feedwatch/feedwatch.conf. Returns a malloc()ed path (the last candidate when
 * none exists, so the error names it).
 */
char *fw_config_locate(const char *explicit_path);

/*
 * Read and validate path. Every problem goes to diags as FILE:LINE. Returns 0 and a new
 * config in *out when there is no error (warnings allowed), -EINVAL otherwise, -ENOMEM.
 */
int fw_config_load(const char *path, struct fw_config **out, struct fw_diags *diags);

/* Free. Accepts NULL; returns NULL. */
struct fw_config *fw_config_free(struct fw_config *cfg);

/* Longest name of a feed, output or watchlist, in bytes. */
#define FW_CONFIG_NAME_MAX 128

/* Whether n may name a feed, output or watchlist: 1 to FW_CONFIG_NAME_MAX bytes of UTF-8
   (names are store keys: PostgreSQL refuses other bytes), no control character (C0, DEL,
   C1). */
bool fw_config_name_ok(const char *n);

/* Index of the output / feed / watchlist by name, or -1. */
long fw_config_output_index(const struct fw_config *cfg, const char *name);
long fw_config_feed_index(const struct fw_config *cfg, const char *name);

/* Where the store is (malloc()ed): `store` when set, else feedwatch.db in state_dir. */
char *fw_config_db_path(const struct fw_config *cfg);

/* Read a duration setting (int seconds or string). 0, -ENOENT, or -EINVAL. */
int fw_config_setting_duration(const config_setting_t *s, int64_t *out);

#endif
