/*
 * feedwatch/plugin.h - the one public ABI of feedwatch: output plugins.
 *
 * A plugin is a shared object that exports exactly one symbol, FW_PLUGIN_SYMBOL, a
 * `const struct fw_plugin`. The daemon dlopen()s it with RTLD_NOW | RTLD_LOCAL, checks
 * abi_major == FW_PLUGIN_ABI_MAJOR and struct_size, and refuses it otherwise. Plugins never
 * link against daemon symbols: everything they need from the host arrives in the
 * `struct fw_host` function table handed to init().
 *
 * Rules of the road:
 *  - Instances, not globals. Each configured output is one instance: init() returns its
 *    state, fini() frees it (and must cope with a half-built one). Two webhook outputs are
 *    two instances of one plugin.
 *  - Delivery is asynchronous. The host calls deliver() with an alert and a token; the plugin
 *    reports the outcome exactly once per token with host->done(), from deliver() itself or
 *    later. done() may be called from any thread.
 *  - The loop never blocks. A plugin whose work blocks sets FW_PLUGIN_BLOCKING: the host then
 *    calls deliver() on a worker thread, one alert at a time per instance, and such a
 *    deliver() may use only log() and done() from the host table.
 *  - Every alert has a stable id (alert->id) that is the same on every retry and across
 *    restarts: send it as an idempotency key where the receiver supports one. Delivery is at
 *    least once.
 *  - Strings handed to a plugin are valid until done() is called for that token (alerts) or
 *    until fini() (configuration). UTF-8, NUL-terminated, never NULL unless documented.
 *
 * Compatibility: within one ABI major, structs only grow at the end and the host table is
 * append-only. A plugin built against minor N runs on a host of minor >= N; check
 * host->abi_minor before calling a function added after minor 0.
 *
 * The size rule for struct fw_plugin: the host accepts a plugin whose struct_size covers
 * every member of the ABI minor it declares (FW_PLUGIN_SIZE_1_0 for abi_minor 0,
 * FW_PLUGIN_SIZE_1_1 for 1 and later), and reads a member added after minor 0 only when
 * abi_minor and struct_size both say it is there. A plugin built against ABI 1.0 therefore
 * keeps loading on a 1.1 host; it just has no check().
 *
 * ABI history: 1.0 the first; 1.1 added fw_plugin.check (validate one instance's settings
 * for `feedwatch check` and for a reload, without side effects).
 */
#ifndef FEEDWATCH_PLUGIN_H
#define FEEDWATCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FW_PLUGIN_ABI_MAJOR 1
#define FW_PLUGIN_ABI_MINOR 1

/* The name of the one symbol a plugin exports. */
#define FW_PLUGIN_SYMBOL "feedwatch_plugin"

/* Mark the exported struct; build the plugin with -fvisibility=hidden. */
#define FW_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Opaque per-instance handle owned by the host; pass it back to host functions. */
struct fw_plugin_ctx;
/* Opaque timer handle owned by the host. */
struct fw_timer;

/* syslog(3) levels. */
enum fw_log_level {
	FW_LOG_ERR = 3,
	FW_LOG_WARNING = 4,
	FW_LOG_NOTICE = 5,
	FW_LOG_INFO = 6,
	FW_LOG_DEBUG = 7,
};

/* The outcome of one delivery, reported with host->done(). */
enum fw_result {
	FW_DELIVERED = 0, /* the receiver has it; the alert leaves the outbox */
	FW_RETRY = 1,     /* temporary failure: retried with backoff (or after retry_after) */
	FW_FAILED = 2,    /* permanent failure: the alert becomes a dead letter at once */
	FW_DISABLE = 3,   /* the output is gone for good (HTTP 410): the alert and the output
			     stop; alerts stay queued until the config changes */
};

/*
 * Why a watchlist matched: one entry per term that made the query true.
 * term    the query term as written ("@putin", "\"north korea\"", "kim*")
 * alias   the alias of the entity that hit ("Путин*"), or the term's own text
 * field   "title", "summary", "content", "author" or "category"
 * text    the matched text as written in the item ("Путина")
 * snippet about 100 characters of plain text around the match
 */
struct fw_explain {
	const char *watchlist;
	const char *term;
	const char *alias;
	const char *field;
	const char *text;
	const char *snippet;
};

/*
 * One alert for one output. Every pointer is valid until done() for its token.
 * Optional strings (link, published, updated, author) may be NULL.
 */
struct fw_alert {
	size_t struct_size;    /* sizeof(struct fw_alert) of the host: check before reading
				    a member added after ABI minor 0 */
	const char *id;        /* stable alert id: hash of watchlist + feed + item id */
	const char *watchlist; /* watchlist name */
	const char *output;    /* the output (instance) name */
	const char *feed_name; /* feed name from the config */
	const char *feed_url;  /* feed URL (credentials stripped) */
	const char *title;     /* item title, plain text ("" when absent) */
	const char *link;      /* absolute item link, or NULL */
	const char *item_id;   /* the item's identity within its feed */
	const char *published; /* RFC 3339 UTC, or NULL */
	const char *updated;   /* RFC 3339 UTC, or NULL */
	const char *author;    /* or NULL */
	const char *summary;   /* plain-text snippet of the item, at most ~300 bytes */
	const char *const *categories;
	size_t n_categories;
	const struct fw_explain *explain;
	size_t n_explain;
	const char *json; /* the whole alert as one JSON object (see docs/plugins.md) */
	unsigned attempt; /* 1 on the first try, 2 on the first retry, ... */
	int64_t created;  /* when the alert was queued, Unix seconds */
	size_t n_digest;  /* 0 for one alert; > 0: a digest folding this many alerts
				    that exceeded the output's rate limit. json then holds
				    {"digest":n,"alerts":[...]} and the per-item members
				    describe the first of them */
};

/* Types of plugin configuration keys, for validation by `feedwatch check`. */
enum fw_key_type {
	FW_KEY_STRING = 1,
	FW_KEY_INT = 2,
	FW_KEY_BOOL = 3,
	FW_KEY_DURATION = 4, /* seconds or "30s", "5m", "2h", "1d" */
	FW_KEY_STRINGS = 5,  /* an array or list of strings */
	FW_KEY_FLOAT = 6,
};

/* One accepted configuration key; a plugin's list ends with { NULL }. */
struct fw_plugin_key {
	const char *name;
	enum fw_key_type type;
	const char *help;
};

typedef void (*fw_timer_cb)(void *arg);

/* An HTTP request run on the daemon's own curl multi handle (host->http). */
struct fw_http_request {
	size_t struct_size;         /* sizeof(struct fw_http_request) */
	const char *method;         /* "POST", "PUT", "GET" */
	const char *url;            /* http:// or https:// only */
	const char *const *headers; /* "Name: value" strings */
	size_t n_headers;
	const char *body;
	size_t body_len;
	long timeout_ms; /* total timeout; 0 = host default (30 s) */
};

/* The outcome of host->http. body is capped (64 KiB) and NUL-terminated. */
struct fw_http_response {
	size_t struct_size;
	long status;            /* HTTP status, 0 when no response arrived */
	int error;              /* 0, or a negative errno-style code for transport errors */
	const char *error_text; /* human-readable transport error, "" when none */
	const char *body;
	size_t body_len;
	int64_t retry_after; /* seconds from a Retry-After header, or -1 */
};

typedef void (*fw_http_cb)(void *arg, const struct fw_http_response *res);

/*
 * The host function table, handed to init(). Valid until fini() returns.
 * All functions except log() and done() must be called on the loop thread, i.e. from
 * init(), deliver() of a non-blocking plugin, or a timer or http callback.
 */
struct fw_host {
	uint32_t abi_major;
	uint32_t abi_minor;
	size_t struct_size;

	/* Log a line tagged with the instance name. Thread-safe. */
	void (*log)(struct fw_plugin_ctx *ctx, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

	/* Typed configuration getters on the instance's own section. Return 0 and set *out,
	   -ENOENT when the key is absent (out untouched), -EINVAL when of another type. */
	int (*cfg_string)(struct fw_plugin_ctx *ctx, const char *key, const char **out);
	int (*cfg_int)(struct fw_plugin_ctx *ctx, const char *key, int64_t *out);
	int (*cfg_bool)(struct fw_plugin_ctx *ctx, const char *key, int *out);
	int (*cfg_float)(struct fw_plugin_ctx *ctx, const char *key, double *out);
	/* A duration key in milliseconds (accepts 10, "10s", "5m", "2h", "1d"). */
	int (*cfg_duration_ms)(struct fw_plugin_ctx *ctx, const char *key, int64_t *out);
	/* Element `index` of a string array/list key; -ENOENT past the end. */
	int (*cfg_strings)(struct fw_plugin_ctx *ctx, const char *key, size_t index,
	                   const char **out);
	/* Read a secret: the key's value names a file (absolute, or relative to
	   $CREDENTIALS_DIRECTORY when that is set). Returns 0 and a malloc()ed string with
	   trailing newlines removed in *out (caller frees), or -errno. Never logs the value. */
	int (*cfg_secret)(struct fw_plugin_ctx *ctx, const char *key, char **out);

	/* Report the outcome of deliver(token). retry_after: seconds the receiver asked for,
	   or -1. message: short reason for the log and the outbox (no secrets), or NULL.
	   Thread-safe; call exactly once per token. */
	void (*done)(struct fw_plugin_ctx *ctx, uint64_t token, enum fw_result result,
	             int64_t retry_after, const char *message);

	/* A one-shot timer on the daemon's loop. Returns 0 and a handle, or -errno. The
	   handle is freed by the host after the callback runs or on timer_stop(). */
	int (*timer_start)(struct fw_plugin_ctx *ctx, uint64_t ms, fw_timer_cb cb, void *arg,
	                   struct fw_timer **out);
	void (*timer_stop)(struct fw_timer *timer);

	/* Start an HTTP request on the daemon's curl multi; cb runs once on the loop thread
	   (also with an error when the daemon shuts down first). Returns 0 or -errno. */
	int (*http)(struct fw_plugin_ctx *ctx, const struct fw_http_request *req, fw_http_cb cb,
	            void *arg);

	/* The output (instance) name, as configured. */
	const char *(*instance_name)(struct fw_plugin_ctx *ctx);

	/* A file path key: relative paths are taken from the config file's directory (the
	   daemon's working directory is "/" under systemd). Returns 0 and a malloc()ed
	   absolute path in *out (caller frees), -ENOENT, -EINVAL or -ENOMEM. */
	int (*cfg_path)(struct fw_plugin_ctx *ctx, const char *key, char **out);
};

/* Plugin flags. */
#define FW_PLUGIN_BLOCKING 0x1u /* deliver() blocks: run it on a worker thread */

/* The one exported symbol: `FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin`.
   Members after fini are read only when abi_minor and struct_size say they are there (see
   "the size rule" at the top). */
struct fw_plugin {
	uint32_t abi_major;  /* FW_PLUGIN_ABI_MAJOR */
	uint32_t abi_minor;  /* FW_PLUGIN_ABI_MINOR */
	size_t struct_size;  /* sizeof(struct fw_plugin) */
	const char *name;    /* must equal the file's base name: "webhook" in webhook.so */
	const char *version; /* the plugin's own version string */
	const char *description;
	uint32_t flags;                   /* FW_PLUGIN_* */
	const struct fw_plugin_key *keys; /* accepted config keys, ending with { NULL };
					      "name", "plugin" and the host's routing keys
					      (rate_limit, rate_window, max_attempts, max_age,
					      retry_base, retry_max)
					      are always accepted */

	/* Build one instance. Read config through host; return 0 and *state, or -errno after
	   logging why. fini() is called with whatever *state holds even when init fails. */
	int (*init)(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state);

	/* Start delivering one alert. Return 0 once started (outcome via host->done), or
	   -errno to report an immediate temporary failure (then done() must not be called). */
	int (*deliver)(void *state, const struct fw_alert *alert, uint64_t token);

	/* SIGHUP: reopen files (log rotation). May be NULL. */
	void (*reopen)(void *state);

	/* Free the instance. No deliver() is in flight when it is called; outstanding tokens
	   are void and their alerts are retried by the host later. Accepts NULL. */
	void (*fini)(void *state);

	/* ---- ABI 1.1 ---- */

	/* Validate one instance's settings without side effects, for `feedwatch check`, a
	   SIGHUP reload and the reload on a config file change: a config that check() refuses
	   is never applied, the running one stays. May be NULL (then only key names and types
	   are checked, as for an ABI 1.0 plugin).
	   Read the settings through host exactly as init() does (share one validation
	   function between init() and check(), so that the two can never disagree) and report
	   each problem with host->log(ctx, FW_LOG_ERR, ...) for an error or FW_LOG_WARNING for
	   a warning: the host prints it as "FILE:LINE: output 'NAME': message", LINE being the
	   line of the key the plugin read last before logging. No side effects: open no file
	   for writing, touch no network, start no thread, no D-Bus; host->timer_start and
	   host->http return -ENOTSUP here, host->done must not be called, and cfg_secret reads
	   the secret (a missing file is an error worth reporting). Runs on the caller's thread,
	   possibly while other instances of the plugin deliver. Returns 0 when the settings
	   are usable (warnings allowed), -EINVAL otherwise. */
	int (*check)(const struct fw_host *host, struct fw_plugin_ctx *ctx);
};

/* sizeof(struct fw_plugin) of each ABI minor: what struct_size must at least be. */
#define FW_PLUGIN_SIZE_1_0 offsetof(struct fw_plugin, check)
#define FW_PLUGIN_SIZE_1_1 (offsetof(struct fw_plugin, check) + sizeof(void (*)(void)))

#ifdef __cplusplus
}
#endif

#endif
