/*
 * exec.c - the exec output: run a command per alert, without a shell.
 *
 * Keys: command  (required) the argv as an array: [ "/usr/local/bin/page", "--urgent" ];
 *                argv[0] is looked up in PATH when it holds no "/"
 *       timeout  how long one run may take (duration, default 30s); then its process group
 *                gets SIGTERM and, a second later, SIGKILL, and the alert is retried
 *
 * The command gets the alert JSON (docs/plugins.md) on stdin and FEEDWATCH_ALERT_ID,
 * FEEDWATCH_WATCHLIST, FEEDWATCH_FEED, FEEDWATCH_TITLE, FEEDWATCH_LINK, FEEDWATCH_ITEM_ID,
 * FEEDWATCH_OUTPUT, FEEDWATCH_ATTEMPT, FEEDWATCH_DIGEST and FEEDWATCH_PRIORITY ("low",
 * "normal", "high" or "urgent") in its environment, plus PATH,
 * HOME, LANG, LC_ALL and TZ from the daemon's. Nothing else is inherited. Exit 0: delivered;
 * 75 (EX_TEMPFAIL), a signal or the timeout: retried; anything else: failed for good.
 *
 * The plugin is FW_PLUGIN_BLOCKING: each delivery runs on a worker thread with a private
 * uv loop (spawn, pipes, timer) that is closed before deliver() returns.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include <feedwatch/plugin.h>
#include <jansson.h>

#define EX_MAX_ARGS      64
#define EX_STDERR_KEEP   1024 /* bytes of stderr kept for the log */
#define EX_READ_BUF      4096
#define EX_ENV_VALUE_MAX 4096 /* a title longer than this is cut in FEEDWATCH_TITLE */
#define EX_KILL_GRACE_MS 1000 /* SIGTERM, then SIGKILL this much later */
#define EX_DRAIN_MS      200  /* after exit, wait this long for the pipes to reach EOF */
#define EX_DEFAULT_MS    30000
#define EX_TEMPFAIL      75

struct exec_out {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	const char *argv[EX_MAX_ARGS + 1]; /* owned by the host's config */
	int64_t timeout_ms;
};

/* One run of the command, on the worker thread's private loop. */
struct exec_run {
	uv_loop_t loop;
	uv_process_t proc;
	uv_pipe_t in, out, err;
	uv_timer_t timer;
	uv_write_t wr;
	char rbuf[EX_READ_BUF];
	char errtext[EX_STDERR_KEEP + 1];
	size_t errlen;
	size_t outlen;
	int open_pipes; /* of out, err: still reading */
	bool exited;
	int64_t exit_status;
	int term_signal;
	int kill_stage; /* 0: running; 1: SIGTERM sent; 2: SIGKILL sent */
	bool timed_out;
	int64_t timeout_ms;
};

/*
 * The settings of one instance, validated into e (shared by init and check, so that they
 * never disagree). Logs each problem (a warning for a program that is not executable yet);
 * returns 0, -EINVAL or -E2BIG. The strings are the host's.
 */
static int exec_settings(const struct fw_host *host, struct fw_plugin_ctx *ctx, struct exec_out *e)
{
	const char *arg;
	size_t i;
	int64_t ms;
	int r;

	e->timeout_ms = EX_DEFAULT_MS;
	for (i = 0; (r = host->cfg_strings(ctx, "command", i, &arg)) == 0; i++) {
		if (i >= EX_MAX_ARGS) {
			host->log(ctx, FW_LOG_ERR, "command: at most %d arguments", EX_MAX_ARGS);
			return -E2BIG;
		}
		e->argv[i] = arg;
	}
	if (r == -EINVAL || i == 0 || e->argv[0][0] == 0) {
		host->log(ctx, FW_LOG_ERR,
		          "%s: needs command = [ \"/path/to/program\", \"arg\", ... ] (run without "
		          "a shell)",
		          r == -EINVAL ? "command is not an array of strings"
		          : i == 0     ? "no command"
		                       : "the command is empty");
		return -EINVAL;
	}
	r = host->cfg_duration_ms(ctx, "timeout", &ms);
	if (r == 0 && (ms <= 0 || ms > 86400 * 1000)) {
		host->log(ctx, FW_LOG_ERR, "timeout must be between 1s and 1d");
		return -EINVAL;
	} else if (r == 0) {
		e->timeout_ms = ms;
	} else if (r != -ENOENT) {
		host->log(ctx, FW_LOG_ERR, "timeout must be a duration like \"30s\"");
		return r;
	}
	if (strchr(e->argv[0], '/') && access(e->argv[0], X_OK) < 0) {
		int err = errno;

		host->cfg_strings(ctx, "command", 0, &arg); /* reported at command's line */
		host->log(ctx, FW_LOG_WARNING, "%s is not executable (yet?): %s", e->argv[0],
		          strerror(err));
	}
	return 0;
}

/* Check: the settings only (nothing is run). */
static int exec_check(const struct fw_host *host, struct fw_plugin_ctx *ctx)
{
	struct exec_out e = {0};

	return exec_settings(host, ctx, &e) < 0 ? -EINVAL : 0;
}

static int exec_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct exec_out *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -ENOMEM;
	*state = e;
	e->host = host;
	e->ctx = ctx;
	return exec_settings(host, ctx, e);
}

static void close_noop_cb(uv_handle_t *h)
{
	(void)h;
}

static void close_if_open(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, close_noop_cb);
}

/* The run is over when the process has exited and both pipes are at EOF (or drained). */
static void maybe_finish(struct exec_run *x)
{
	if (!x->exited || x->open_pipes > 0)
		return;
	uv_timer_stop(&x->timer);
	close_if_open((uv_handle_t *)&x->timer);
	close_if_open((uv_handle_t *)&x->in);
	close_if_open((uv_handle_t *)&x->proc);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct exec_run *x = h->data;

	(void)hint;
	*buf = uv_buf_init(x->rbuf, sizeof(x->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct exec_run *x = s->data;

	if (n > 0 && s == (uv_stream_t *)&x->err) {
		size_t keep = EX_STDERR_KEEP - x->errlen;

		if ((size_t)n < keep)
			keep = (size_t)n;
		memcpy(x->errtext + x->errlen, buf->base, keep);
		x->errlen += keep;
		x->errtext[x->errlen] = 0;
	} else if (n > 0) {
		x->outlen += (size_t)n; /* stdout is read and dropped */
	}
	if (n < 0) {
		uv_close((uv_handle_t *)s, close_noop_cb);
		x->open_pipes--;
		maybe_finish(x);
	}
}

static void drain_cb(uv_timer_t *t)
{
	struct exec_run *x = t->data;

	/* A grandchild keeps the pipes open: stop reading. */
	if (!uv_is_closing((uv_handle_t *)&x->out)) {
		uv_close((uv_handle_t *)&x->out, close_noop_cb);
		x->open_pipes--;
	}
	if (!uv_is_closing((uv_handle_t *)&x->err)) {
		uv_close((uv_handle_t *)&x->err, close_noop_cb);
		x->open_pipes--;
	}
	maybe_finish(x);
}

static void exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct exec_run *x = p->data;

	x->exited = true;
	x->exit_status = status;
	x->term_signal = sig;
	if (x->open_pipes > 0) {
		uv_timer_stop(&x->timer);
		uv_timer_start(&x->timer, drain_cb, EX_DRAIN_MS, 0);
	}
	maybe_finish(x);
}

static void timeout_cb(uv_timer_t *t)
{
	struct exec_run *x = t->data;

	if (x->exited) {
		drain_cb(t);
		return;
	}
	x->timed_out = true;
	/* The child leads its own process group (UV_PROCESS_DETACHED = setsid). */
	if (x->kill_stage == 0) {
		x->kill_stage = 1;
		kill(-x->proc.pid, SIGTERM);
		uv_timer_start(&x->timer, timeout_cb, EX_KILL_GRACE_MS, 0);
	} else {
		x->kill_stage = 2;
		kill(-x->proc.pid, SIGKILL);
		uv_timer_start(&x->timer, timeout_cb, EX_KILL_GRACE_MS, 0);
	}
}

static void write_cb(uv_write_t *w, int status)
{
	struct exec_run *x = w->data;

	(void)status; /* EPIPE: the command did not read its stdin; that is its business */
	close_if_open((uv_handle_t *)&x->in);
}

/* "NAME=value" with value cut to EX_ENV_VALUE_MAX bytes on a UTF-8 boundary. */
static char *env_pair(const char *name, const char *value)
{
	size_t n = value ? strlen(value) : 0;
	char *s;

	if (value == NULL)
		value = "";
	if (n > EX_ENV_VALUE_MAX) {
		n = EX_ENV_VALUE_MAX;
		while (n > 0 && ((unsigned char)value[n] & 0xc0) == 0x80)
			n--;
	}
	if (asprintf(&s, "%s=%.*s", name, (int)n, value) < 0)
		return NULL;
	return s;
}

/* The alert's priority (a digest's: the highest of its alerts'); "normal" when it has none
   (queued by an older version). */
static void priority_of(const char *json, char *buf, size_t n)
{
	static const char *const names[] = {"low", "normal", "high", "urgent"};
	json_t *root = json_loads(json, 0, NULL);
	const char *p = json_string_value(json_object_get(root, "priority"));

	snprintf(buf, n, "normal");
	for (size_t i = 0; p && i < 4; i++)
		if (strcmp(p, names[i]) == 0)
			snprintf(buf, n, "%s", names[i]);
	json_decref(root);
}

static char **build_env(const struct fw_alert *a)
{
	static const char *const pass[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ"};
	char **env = calloc(32, sizeof(char *)), num[32];
	size_t n = 0;
	bool ok = true;

	if (env == NULL)
		return NULL;
	env[n++] = env_pair("FEEDWATCH_ALERT_ID", a->id);
	env[n++] = env_pair("FEEDWATCH_WATCHLIST", a->watchlist);
	env[n++] = env_pair("FEEDWATCH_FEED", a->feed_name);
	env[n++] = env_pair("FEEDWATCH_TITLE", a->title);
	env[n++] = env_pair("FEEDWATCH_LINK", a->link);
	env[n++] = env_pair("FEEDWATCH_ITEM_ID", a->item_id);
	env[n++] = env_pair("FEEDWATCH_OUTPUT", a->output);
	snprintf(num, sizeof(num), "%u", a->attempt);
	env[n++] = env_pair("FEEDWATCH_ATTEMPT", num);
	snprintf(num, sizeof(num), "%zu", a->n_digest);
	env[n++] = env_pair("FEEDWATCH_DIGEST", num);
	priority_of(a->json, num, sizeof(num));
	env[n++] = env_pair("FEEDWATCH_PRIORITY", num);
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		/* getenv on a worker thread: the daemon never changes its environment. */
		const char *v = getenv(pass[i]);

		if (v == NULL && strcmp(pass[i], "PATH") == 0)
			v = "/usr/local/bin:/usr/bin:/bin";
		if (v)
			env[n++] = env_pair(pass[i], v);
	}
	for (size_t i = 0; i < n; i++)
		ok = ok && env[i] != NULL;
	if (!ok) {
		for (size_t i = 0; i < n; i++)
			free(env[i]);
		free(env);
		return NULL;
	}
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* The first line of what the command wrote to stderr, printable bytes only. */
static const char *first_line(struct exec_run *x)
{
	char *p = x->errtext;

	while (*p == '\n' || *p == '\r' || *p == ' ')
		p++;
	p[strcspn(p, "\r\n")] = 0;
	for (char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	return p;
}

/* Run the command once; the outcome goes to host->done. */
static void run_command(struct exec_out *e, const struct fw_alert *a, uint64_t token, char **env)
{
	struct exec_run *x = calloc(1, sizeof(*x));
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	uv_buf_t buf;
	enum fw_result res = FW_RETRY;
	char msg[256];
	int r;

	if (x == NULL) {
		e->host->done(e->ctx, token, FW_RETRY, -1, "out of memory");
		return;
	}
	r = uv_loop_init(&x->loop);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "cannot start a loop: %s", uv_strerror(r));
		free(x);
		e->host->done(e->ctx, token, FW_RETRY, -1, msg);
		return;
	}
	x->timeout_ms = e->timeout_ms;
	uv_pipe_init(&x->loop, &x->in, 0);
	uv_pipe_init(&x->loop, &x->out, 0);
	uv_pipe_init(&x->loop, &x->err, 0);
	uv_timer_init(&x->loop, &x->timer);
	x->in.data = x->out.data = x->err.data = x->timer.data = x->proc.data = x->wr.data = x;
	memset(&opt, 0, sizeof(opt));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&x->in;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&x->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&x->err;
	opt.exit_cb = exit_cb;
	opt.file = e->argv[0];
	opt.args = (char **)e->argv;
	opt.env = env;
	opt.stdio = stdio;
	opt.stdio_count = 3;
	/* Its own session and process group, so that a timeout can kill all of it. */
	opt.flags = UV_PROCESS_DETACHED;
	r = uv_spawn(&x->loop, &x->proc, &opt);
	if (r < 0) {
		res = r == UV_ENOENT || r == UV_EACCES || r == -ENOEXEC ? FW_FAILED : FW_RETRY;
		snprintf(msg, sizeof(msg), "cannot run %s: %s", e->argv[0], uv_strerror(r));
		uv_close((uv_handle_t *)&x->proc, close_noop_cb);
		uv_close((uv_handle_t *)&x->in, close_noop_cb);
		uv_close((uv_handle_t *)&x->out, close_noop_cb);
		uv_close((uv_handle_t *)&x->err, close_noop_cb);
		uv_close((uv_handle_t *)&x->timer, close_noop_cb);
		uv_run(&x->loop, UV_RUN_DEFAULT);
		goto out;
	}
	x->open_pipes = 2;
	uv_read_start((uv_stream_t *)&x->out, alloc_cb, read_cb);
	uv_read_start((uv_stream_t *)&x->err, alloc_cb, read_cb);
	uv_timer_start(&x->timer, timeout_cb, (uint64_t)x->timeout_ms, 0);
	buf = uv_buf_init((char *)a->json, (unsigned)strlen(a->json));
	if (uv_write(&x->wr, (uv_stream_t *)&x->in, &buf, 1, write_cb) < 0)
		uv_close((uv_handle_t *)&x->in, close_noop_cb);
	uv_run(&x->loop, UV_RUN_DEFAULT);
	if (x->timed_out) {
		res = FW_RETRY;
		snprintf(msg, sizeof(msg), "%.100s timed out after %" PRId64 " ms (killed)",
		         e->argv[0], x->timeout_ms);
	} else if (x->term_signal) {
		res = FW_RETRY;
		snprintf(msg, sizeof(msg), "%.100s killed by signal %d%s%.100s", e->argv[0],
		         x->term_signal, x->errlen ? ": " : "", first_line(x));
	} else if (x->exit_status == 0) {
		res = FW_DELIVERED;
		snprintf(msg, sizeof(msg), "exit 0");
	} else {
		res = x->exit_status == EX_TEMPFAIL ? FW_RETRY : FW_FAILED;
		snprintf(msg, sizeof(msg), "%.100s exited with %" PRId64 "%s%.100s", e->argv[0],
		         x->exit_status, x->errlen ? ": " : "", first_line(x));
	}
out:
	r = uv_loop_close(&x->loop);
	if (r != 0)
		e->host->log(e->ctx, FW_LOG_ERR, "internal: the run's loop did not close: %s",
		             uv_strerror(r));
	free(x);
	e->host->done(e->ctx, token, res, -1, msg);
}

static int exec_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct exec_out *e = state;
	char **env = build_env(a);
	sigset_t pipe_set, old;
	struct timespec zero = {0, 0};

	if (env == NULL)
		return -ENOMEM;
	/* A command that exits without reading stdin makes write() raise SIGPIPE on this
	   thread: keep it blocked here and discard it afterwards. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	run_command(e, a, token, env);
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free_env(env);
	return 0;
}

static void exec_fini(void *state)
{
	free(state);
}

static const struct fw_plugin_key exec_keys[] = {
    {"command", FW_KEY_STRINGS,
     "the program and its arguments, [ \"/path/to/program\", \"arg\" ] (no shell)"},
    {"timeout", FW_KEY_DURATION, "time one run may take (default 30s); then it is killed"},
    {NULL, 0, NULL},
};

FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_plugin),
    .name = "exec",
    .version = "1.0",
    .description = "run a command per alert (no shell), the alert JSON on stdin",
    .flags = FW_PLUGIN_BLOCKING,
    .keys = exec_keys,
    .init = exec_init,
    .deliver = exec_deliver,
    .reopen = NULL,
    .fini = exec_fini,
    .check = exec_check,
};
