/*
 * fakehost.h - one fake of the daemon's plugin host table (struct fw_host in
 * include/feedwatch/plugin.h), shared by the unit tests and the fuzzers that drive a
 * plugin through its public ABI without a daemon.
 *
 * A test owns one struct fw_fakehost: it fills in the configuration (a libconfig group, or
 * a key/value list), calls fw_fakehost_init, hands fh.host and fw_fakehost_ctx(&fh) to
 * the plugin's init(), then reads what the plugin did: the log lines it wrote, the
 * outcomes it reported with done(), the timers it started and the HTTP requests it made.
 * Timers run on a fake clock (fw_fakehost_advance) and HTTP requests are answered by the
 * test (fw_fakehost_http_reply): nothing here touches a loop, a socket or the clock.
 *
 * log() and done() are thread-safe, as the ABI promises (blocking plugins call them from
 * worker threads); everything else is for the test's own thread.
 */
#ifndef FW_TEST_FAKEHOST_H
#define FW_TEST_FAKEHOST_H

#include <libconfig.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <feedwatch/plugin.h>

/* One configuration entry of a key/value list. Values are text and typed on reading:
   "42" is an int, "true"/"false" a bool, "1.5" a float, "10s" a duration. A key given
   several times is a string list (cfg_strings). A list ends with { NULL }. */
struct fw_fakehost_kv {
	const char *key;
	const char *value;
};

/* One HTTP request a plugin made through host->http, deep-copied. */
struct fw_fakehost_request {
	char *method;
	char *url;
	char **headers;
	size_t n_headers;
	char *body;
	size_t body_len;
	long timeout_ms;
	fw_http_cb cb;
	void *arg;
	bool answered;
};

struct fw_fakehost {
	/* --- set by the test before fw_fakehost_init (all optional) --- */
	const char *name;                     /* instance_name(); "fake" when NULL */
	const config_setting_t *group;        /* the instance's section, or NULL ... */
	const struct fw_fakehost_kv *kv;      /* ... else this list, or no keys at all */
	const struct fw_fakehost_kv *secrets; /* cfg_secret: the key's value (a file name)
					          -> the secret; no file is read */
	const char *dir; /* cfg_path: relative paths are taken from here (else as given) */
	/* Hooks, called before the fake records the event (for a fuzzer's own checks). */
	void (*on_log)(struct fw_fakehost *fh, int level, const char *line);
	void (*on_done)(struct fw_fakehost *fh, uint64_t token, enum fw_result result,
	                int64_t retry_after, const char *message);
	/* Return -errno to make host->http fail (nothing is recorded then), 0 to go on. */
	int (*on_http)(struct fw_fakehost *fh, const struct fw_http_request *req);
	void *user;

	/* --- set by fw_fakehost_init --- */
	const struct fw_host *host; /* hand this to the plugin's init() */

	/* --- what the plugin did; read by the test --- */
	pthread_mutex_t lock; /* guards log and done, which may come from other threads */
	char *log;            /* every log line, "<level> <line>\n", NUL-terminated */
	size_t log_len;
	unsigned log_lines;
	unsigned done_calls;
	uint64_t last_token;
	enum fw_result last_result;
	int64_t last_retry_after;
	char last_message[512];               /* "" when done() had no message */
	struct fw_fakehost_request *requests; /* every host->http call, in order */
	size_t n_requests;
	uint64_t now_ms;         /* the fake clock, moved by fw_fakehost_advance */
	struct fw_timer *timers; /* pending timers */
	unsigned timers_started;
};

/* Make fh ready (its test-set fields are kept, the rest zeroed). Returns 0 or -errno. */
int fw_fakehost_init(struct fw_fakehost *fh);

/* The ctx handle to pass to init() alongside fh->host. */
struct fw_plugin_ctx *fw_fakehost_ctx(struct fw_fakehost *fh);

/* Free what the fake holds (log, requests, pending timers); fh may be initialised again.
   Accepts a fake that was never initialised only if it is zeroed. */
void fw_fakehost_clear(struct fw_fakehost *fh);

/* Whether some log line contains needle. */
bool fw_fakehost_logged(struct fw_fakehost *fh, const char *needle);

/* Move the fake clock on by ms and run every timer that falls due, in order of due time.
   Returns how many ran. */
unsigned fw_fakehost_advance(struct fw_fakehost *fh, uint64_t ms);

/* Timers started and neither run nor stopped. */
size_t fw_fakehost_timers_pending(const struct fw_fakehost *fh);

/* Answer the oldest request not yet answered with res (struct_size is filled in when 0):
   its callback runs now. Returns 0, or -ENOENT when every request has its answer. */
int fw_fakehost_http_reply(struct fw_fakehost *fh, const struct fw_http_response *res);

/* Answer every request not yet answered with a transport error (-ECANCELED), as the
   daemon does when it shuts down first. Returns how many were answered. */
size_t fw_fakehost_http_abort(struct fw_fakehost *fh);

#endif
