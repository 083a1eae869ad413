/* host.c - plugin instances and the host function table (struct fw_host). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "config.h"
#include "host.h"
#include "log.h"
#include "net.h"
#include "loader.h"

#define FW_HTTP_MAX_RESPONSE (64 * 1024)
#define FW_SECRET_MAX        (64 * 1024)
#define FW_OUTCOME_MAX       2048 /* bytes of an outcome message looked at (alert.c keeps 255) */

struct fw_timer {
	uv_timer_t t;
	struct fw_plugin_ctx *ctx;
	fw_timer_cb cb;
	void *arg;
	struct fw_timer *prev, *next;
};

struct host_http {
	struct fw_plugin_ctx *ctx;
	CURL *easy;
	struct curl_slist *headers;
	char *body; /* request body copy */
	char *resp;
	size_t resp_len;
	int64_t retry_after;
	fw_http_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct host_http *prev, *next;
};

struct fw_plugin_ctx {
	const struct fw_host_env *env;
	const struct fw_config *cfg;
	struct fw_loader_lib *lib;
	const struct fw_config_output *out;
	void *state;
	struct fw_timer *timers;
	struct host_http *https;
	struct fw_diags *diags; /* check only: where log() goes */
	int last_line;          /* the line of the key a getter found last */
	int unchecked_line;     /* check only: a secret that cannot be judged here, or 0 */
	size_t dropped;         /* check only: errors about it, not reported */
};

__attribute__((format(printf, 3, 4))) static void host_log(struct fw_plugin_ctx *ctx, int level,
                                                           const char *fmt, ...)
{
	char buf[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fw_log(level, "output '%s': %s", ctx->out->name, buf);
}

/* The key's setting. Remembers its line, which check's diagnostics name; an absent key
   (a plugin saying it is missing) points them at the output group instead. */
static const config_setting_t *member(struct fw_plugin_ctx *ctx, const char *key)
{
	const config_setting_t *s = config_setting_get_member(ctx->out->setting, key);

	ctx->last_line = s ? config_setting_source_line(s) : 0;
	return s;
}

static int host_cfg_string(struct fw_plugin_ctx *ctx, const char *key, const char **out)
{
	const config_setting_t *s = member(ctx, key);

	if (s == NULL)
		return -ENOENT;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return -EINVAL;
	*out = config_setting_get_string(s);
	return 0;
}

static int host_cfg_int(struct fw_plugin_ctx *ctx, const char *key, int64_t *out)
{
	const config_setting_t *s = member(ctx, key);

	if (s == NULL)
		return -ENOENT;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return -EINVAL;
	*out = config_setting_get_int64(s);
	return 0;
}

static int host_cfg_bool(struct fw_plugin_ctx *ctx, const char *key, int *out)
{
	const config_setting_t *s = member(ctx, key);

	if (s == NULL)
		return -ENOENT;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return -EINVAL;
	*out = config_setting_get_bool(s);
	return 0;
}

static int host_cfg_float(struct fw_plugin_ctx *ctx, const char *key, double *out)
{
	const config_setting_t *s = member(ctx, key);

	if (s == NULL)
		return -ENOENT;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_FLOAT:
		*out = config_setting_get_float(s);
		return 0;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		*out = (double)config_setting_get_int64(s);
		return 0;
	default:
		return -EINVAL;
	}
}

static int host_cfg_duration_ms(struct fw_plugin_ctx *ctx, const char *key, int64_t *out)
{
	const config_setting_t *s = member(ctx, key);
	int64_t secs;

	if (s == NULL)
		return -ENOENT;
	if (fw_config_setting_duration(s, &secs) < 0 || secs > INT64_MAX / 1000)
		return -EINVAL;
	*out = secs * 1000;
	return 0;
}

static int host_cfg_strings(struct fw_plugin_ctx *ctx, const char *key, size_t index,
                            const char **out)
{
	const config_setting_t *s = member(ctx, key), *e;

	if (s == NULL)
		return -ENOENT;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if (index > 0)
			return -ENOENT;
		*out = config_setting_get_string(s);
		return 0;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return -EINVAL;
	if (index >= (size_t)config_setting_length(s))
		return -ENOENT;
	e = config_setting_get_elem(s, (unsigned)index);
	if (config_setting_type(e) != CONFIG_TYPE_STRING)
		return -EINVAL;
	*out = config_setting_get_string(e);
	return 0;
}

static int host_cfg_secret(struct fw_plugin_ctx *ctx, const char *key, char **out)
{
	const char *name, *creds = getenv("CREDENTIALS_DIRECTORY");
	char *path, *buf;
	ssize_t n;
	size_t len = 0;
	int fd, r;

	r = host_cfg_string(ctx, key, &name);
	if (r < 0)
		return r;
	if (name[0] == '/')
		path = strdup(name);
	else if (creds && *creds)
		r = asprintf(&path, "%s/%s", creds, name) < 0 ? -ENOMEM : 0;
	else
		return -ENOENT;
	if (r < 0 || path == NULL)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	free(path);
	if (fd < 0)
		return -errno;
	buf = malloc(FW_SECRET_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf + len, FW_SECRET_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0 || len == FW_SECRET_MAX) {
		free(buf);
		return n < 0 ? -EIO : -EFBIG;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = 0;
	*out = buf;
	return 0;
}

/* Replace every occurrence (in any case) of s[0..n) in buf (len bytes) by "[redacted]";
   what no longer fits is cut. Strings shorter than 4 bytes are left alone; out of
   memory, the message is withheld. */
static void redact_part(char *buf, size_t len, const char *s, size_t n)
{
	static const char mark[] = "[redacted]";
	char *tmp;
	size_t o = 0;

	if (n < 4)
		return;
	tmp = malloc(len);
	if (tmp == NULL) {
		buf[0] = 0;
		return;
	}
	for (const char *p = buf; *p && o + 1 < len;) {
		if (strncasecmp(p, s, n) == 0) {
			size_t m = sizeof(mark) - 1 < len - 1 - o ? sizeof(mark) - 1 : len - 1 - o;

			memcpy(tmp + o, mark, m);
			o += m;
			p += n;
		} else {
			tmp[o++] = *p++;
		}
	}
	tmp[o] = 0;
	memcpy(buf, tmp, o + 1);
	free(tmp);
}

/*
 * The outcome message as it may be logged and stored: when the output has a url key, the
 * URL whole, everything after its host, its path, its query and its user info are
 * redacted. A backstop for any plugin: the webhook plugin itself redacts more (token-like
 * path segments, query values, its access token) before the message reaches the host.
 */
static void redact_outcome(struct fw_plugin_ctx *ctx, const char *message, char *buf, size_t len)
{
	/* Not member(): done() runs on any thread, and must not write ctx->last_line. */
	const config_setting_t *s = config_setting_get_member(ctx->out->setting, "url");
	const char *u = s ? config_setting_get_string(s) : NULL, *host, *end, *at, *q;

	snprintf(buf, len, "%s", message);
	if (u == NULL)
		return;
	host = strstr(u, "://");
	host = host ? host + 3 : u;
	end = host + strcspn(host, "/?#");
	for (at = end; at > host && at[-1] != '@'; at--)
		;
	q = end + strcspn(end, "?#");
	redact_part(buf, len, u, strlen(u));
	redact_part(buf, len, end, strlen(end));
	redact_part(buf, len, end, (size_t)(q - end));
	if (*q == '?')
		redact_part(buf, len, q + 1, strcspn(q + 1, "#"));
	if (at > host)
		redact_part(buf, len, host, (size_t)(at - 1 - host));
}

static void host_done(struct fw_plugin_ctx *ctx, uint64_t token, enum fw_result result,
                      int64_t retry_after, const char *message)
{
	char buf[FW_OUTCOME_MAX];

	if (message)
		redact_outcome(ctx, message, buf, sizeof(buf));
	ctx->env->done(ctx->env->arg, token, result, retry_after, message ? buf : NULL);
}

static void timer_close_cb(uv_handle_t *h)
{
	free(h->data);
}

static void timer_unlink(struct fw_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		t->ctx->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	uv_close((uv_handle_t *)&t->t, timer_close_cb);
}

static void timer_fire_cb(uv_timer_t *h)
{
	struct fw_timer *t = h->data;
	fw_timer_cb cb = t->cb;
	void *arg = t->arg;

	timer_unlink(t);
	cb(arg);
}

static int host_timer_start(struct fw_plugin_ctx *ctx, uint64_t ms, fw_timer_cb cb, void *arg,
                            struct fw_timer **out)
{
	struct fw_timer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	uv_timer_init(ctx->env->loop, &t->t);
	t->t.data = t;
	t->ctx = ctx;
	t->cb = cb;
	t->arg = arg;
	t->next = ctx->timers;
	if (t->next)
		t->next->prev = t;
	ctx->timers = t;
	uv_timer_start(&t->t, timer_fire_cb, ms, 0);
	if (out)
		*out = t;
	return 0;
}

static void host_timer_stop(struct fw_timer *t)
{
	if (t == NULL)
		return;
	uv_timer_stop(&t->t);
	timer_unlink(t);
}

static void http_free(struct host_http *h)
{
	struct fw_plugin_ctx *ctx = h->ctx;

	if (h->prev)
		h->prev->next = h->next;
	else
		ctx->https = h->next;
	if (h->next)
		h->next->prev = h->prev;
	curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->headers);
	free(h->body);
	free(h->resp);
	free(h);
}

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct host_http *h = arg;
	size_t len = size * nmemb, room = FW_HTTP_MAX_RESPONSE - h->resp_len;

	/* Keep the first 64 KiB; read and drop the rest. */
	if (len > room)
		len = room;
	if (len) {
		memcpy(h->resp + h->resp_len, data, len);
		h->resp_len += len;
		h->resp[h->resp_len] = 0;
	}
	return size * nmemb;
}

static size_t http_header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct host_http *h = arg;
	size_t len = size * nitems;

	if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
		char v[128];
		size_t n = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		const char *p = v;

		memcpy(v, buf + 12, n);
		v[n] = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p >= '0' && *p <= '9') {
			h->retry_after = strtoll(p, NULL, 10);
		} else {
			time_t t = curl_getdate(p, NULL);

			if (t > 0)
				h->retry_after = t > time(NULL) ? (int64_t)(t - time(NULL)) : 0;
		}
	} else if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		h->retry_after = -1;
	}
	return len;
}

static void http_done_cb(CURL *easy, CURLcode code, void *arg)
{
	struct host_http *h = arg;
	struct fw_http_response res = {.struct_size = sizeof(res), .retry_after = h->retry_after};

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res.status);
	if (code != CURLE_OK) {
		res.error = code == CURLE_OPERATION_TIMEDOUT    ? -ETIMEDOUT
		            : code == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED
		                                                : -EIO;
		res.error_text = h->errbuf[0] ? h->errbuf : curl_easy_strerror(code);
	} else {
		res.error_text = "";
	}
	res.body = h->resp;
	res.body_len = h->resp_len;
	h->cb(h->arg, &res);
	http_free(h);
}

static int host_http(struct fw_plugin_ctx *ctx, const struct fw_http_request *req, fw_http_cb cb,
                     void *arg)
{
	struct host_http *h;
	int r;

	if (ctx->env->net == NULL)
		return -ESHUTDOWN;
	if (req->url == NULL ||
	    (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->ctx = ctx;
	h->cb = cb;
	h->arg = arg;
	h->retry_after = -1;
	h->resp = malloc(FW_HTTP_MAX_RESPONSE + 1);
	h->easy = curl_easy_init();
	if (h->resp == NULL || h->easy == NULL)
		goto nomem;
	h->resp[0] = 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		struct curl_slist *l = curl_slist_append(h->headers, req->headers[i]);

		if (l == NULL)
			goto nomem;
		h->headers = l;
	}
	if (req->body) {
		h->body = malloc(req->body_len + 1);
		if (h->body == NULL)
			goto nomem;
		memcpy(h->body, req->body, req->body_len);
		h->body[req->body_len] = 0;
		curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, h->body);
	}
	curl_easy_setopt(h->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, req->method ? req->method : "POST");
	curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS,
	                 req->timeout_ms > 0 ? req->timeout_ms : 30000L);
	curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(h->easy, CURLOPT_USERAGENT, ctx->cfg->user_agent);
	curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, h);
	h->next = ctx->https;
	if (h->next)
		h->next->prev = h;
	ctx->https = h;
	r = fw_net_add(ctx->env->net, h->easy, http_done_cb, h);
	if (r < 0) {
		http_free(h);
		return r;
	}
	return 0;
nomem:
	if (h->easy)
		curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->headers);
	free(h->body);
	free(h->resp);
	free(h);
	return -ENOMEM;
}

static const char *host_instance_name(struct fw_plugin_ctx *ctx)
{
	return ctx->out->name;
}

static int host_cfg_path(struct fw_plugin_ctx *ctx, const char *key, char **out)
{
	const char *v, *cfg_path = ctx->cfg->path;
	const char *slash = strrchr(cfg_path, '/');
	int r = host_cfg_string(ctx, key, &v);

	if (r < 0)
		return r;
	if (v[0] == '/' || slash == NULL)
		*out = strdup(v);
	else if (asprintf(out, "%.*s/%s", (int)(slash - cfg_path), cfg_path, v) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

static const struct fw_host host_table = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_host),
    .log = host_log,
    .cfg_string = host_cfg_string,
    .cfg_int = host_cfg_int,
    .cfg_bool = host_cfg_bool,
    .cfg_float = host_cfg_float,
    .cfg_duration_ms = host_cfg_duration_ms,
    .cfg_strings = host_cfg_strings,
    .cfg_secret = host_cfg_secret,
    .done = host_done,
    .timer_start = host_timer_start,
    .timer_stop = host_timer_stop,
    .http = host_http,
    .instance_name = host_instance_name,
    .cfg_path = host_cfg_path,
};

/* The host table. */
const struct fw_host *fw_host_table(void)
{
	return &host_table;
}

/* ---- check: the host table of a check-only instance ---- */

__attribute__((format(printf, 3, 4))) static void check_log(struct fw_plugin_ctx *ctx, int level,
                                                            const char *fmt, ...)
{
	char buf[1536];
	va_list ap;

	if (level > FW_LOG_WARNING)
		return;
	if (level == FW_LOG_ERR && ctx->unchecked_line > 0 &&
	    ctx->last_line == ctx->unchecked_line) {
		ctx->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fw_diags_add(ctx->diags, level != FW_LOG_ERR, ctx->out->file,
	             ctx->last_line > 0 ? ctx->last_line : ctx->out->line, "output '%s': %s",
	             ctx->out->name, buf);
}

static void check_done(struct fw_plugin_ctx *ctx, uint64_t token, enum fw_result result,
                       int64_t retry_after, const char *message)
{
	(void)ctx;
	(void)token;
	(void)result;
	(void)retry_after;
	(void)message;
}

static int check_timer_start(struct fw_plugin_ctx *ctx, uint64_t ms, fw_timer_cb cb, void *arg,
                             struct fw_timer **out)
{
	(void)ctx;
	(void)ms;
	(void)cb;
	(void)arg;
	(void)out;
	return -ENOTSUP;
}

static void check_timer_stop(struct fw_timer *timer)
{
	(void)timer;
}

static int check_http(struct fw_plugin_ctx *ctx, const struct fw_http_request *req, fw_http_cb cb,
                      void *arg)
{
	(void)ctx;
	(void)req;
	(void)cb;
	(void)arg;
	return -ENOTSUP;
}

/*
 * A secret named relative to $CREDENTIALS_DIRECTORY cannot be judged where that is unset
 * (`feedwatch check` from a shell, for a service using LoadCredential=): a warning says so,
 * and the plugin's complaint about that key is not counted. Anything else is read as the
 * daemon would, and a missing or unreadable file is the plugin's error to report.
 */
static int check_cfg_secret(struct fw_plugin_ctx *ctx, const char *key, char **out)
{
	const char *name, *creds = getenv("CREDENTIALS_DIRECTORY");

	if (host_cfg_string(ctx, key, &name) == 0 && name[0] != '/' && (creds == NULL || !*creds)) {
		fw_diags_add(
		    ctx->diags, true, ctx->out->file, ctx->last_line,
		    "output '%s': %s '%s' is a name in $CREDENTIALS_DIRECTORY, which is not "
		    "set here: not checked (the service's reload checks it)",
		    ctx->out->name, key, name);
		ctx->unchecked_line = ctx->last_line;
		return -ENOENT;
	}
	return host_cfg_secret(ctx, key, out);
}

/* The host table of a check-only instance: the daemon's, but logging into the diagnostics
   and refusing to deliver, time or fetch. */
static struct fw_host check_table(void)
{
	struct fw_host t = host_table;

	t.log = check_log;
	t.cfg_secret = check_cfg_secret;
	t.done = check_done;
	t.timer_start = check_timer_start;
	t.timer_stop = check_timer_stop;
	t.http = check_http;
	return t;
}

/* Check one output whose plugin is loaded: key names and types, then its check(). */
static void check_output(const struct fw_config *cfg, struct fw_loader_lib *lib,
                         const struct fw_config_output *o, struct fw_diags *diags)
{
	struct fw_plugin_ctx ctx = {.cfg = cfg, .lib = lib, .out = o, .diags = diags};
	const struct fw_host table = check_table();
	fw_loader_check_fn check = fw_loader_check_fn_of(lib->plugin);
	size_t before = diags->errors;
	int r;

	fw_loader_check_keys(lib, o, diags);
	/* A key of the wrong type would only be reported twice by the plugin. */
	if (check == NULL || diags->errors > before)
		return;
	r = check(&table, &ctx);
	if (r < 0 && diags->errors == before && ctx.dropped == 0)
		fw_diags_add(diags, false, o->file, o->line,
		             "output '%s': plugin '%s' refuses its settings: %s", o->name,
		             o->plugin, strerror(-r));
}

/* Check every output: its plugin loads, its keys, its check(). */
void fw_host_check_config(const struct fw_config *cfg, struct fw_diags *diags)
{
	char *dir = fw_loader_dir(cfg->plugin_dir);

	if (dir == NULL) {
		fw_diags_add(diags, false, cfg->path, 0, "out of memory");
		return;
	}
	for (size_t i = 0; i < cfg->n_outputs; i++) {
		const struct fw_config_output *o = &cfg->outputs[i];
		struct fw_loader_lib *lib = NULL;
		char err[512];

		if (fw_loader_open(dir, o->plugin, &lib, err, sizeof(err)) < 0) {
			fw_diags_add(diags, false, o->file, o->line, "output '%s': %s", o->name,
			             err);
			continue;
		}
		check_output(cfg, lib, o, diags);
		fw_loader_close(lib);
	}
	free(dir);
}

/* Build one instance. */
int fw_host_instance_new(const struct fw_host_env *env, const struct fw_config *cfg,
                         const char *dir, const struct fw_config_output *out,
                         struct fw_plugin_ctx **out_ctx, char *err, size_t errlen)
{
	struct fw_plugin_ctx *ctx = calloc(1, sizeof(*ctx));
	int r;

	if (ctx == NULL)
		return -ENOMEM;
	ctx->env = env;
	ctx->cfg = cfg;
	ctx->out = out;
	r = fw_loader_open(dir, out->plugin, &ctx->lib, err, errlen);
	if (r < 0) {
		free(ctx);
		return r;
	}
	r = ctx->lib->plugin->init(&host_table, ctx, &ctx->state);
	if (r < 0) {
		snprintf(err, errlen, "plugin '%s' failed to start: %s", out->plugin, strerror(-r));
		fw_host_instance_free(ctx);
		return r;
	}
	*out_ctx = ctx;
	return 0;
}

/* Tear one instance down. */
struct fw_plugin_ctx *fw_host_instance_free(struct fw_plugin_ctx *ctx)
{
	if (ctx == NULL)
		return NULL;
	while (ctx->timers)
		host_timer_stop(ctx->timers);
	while (ctx->https) {
		if (ctx->env->net)
			fw_net_cancel(ctx->env->net, ctx->https->easy);
		http_free(ctx->https);
	}
	if (ctx->lib) {
		ctx->lib->plugin->fini(ctx->state);
		fw_loader_close(ctx->lib);
	}
	free(ctx);
	return NULL;
}

const struct fw_plugin *fw_host_plugin(const struct fw_plugin_ctx *ctx)
{
	return ctx->lib->plugin;
}

void *fw_host_state(const struct fw_plugin_ctx *ctx)
{
	return ctx->state;
}

const struct fw_config_output *fw_host_output(const struct fw_plugin_ctx *ctx)
{
	return ctx->out;
}
