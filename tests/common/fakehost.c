/* fakehost.c - a fake plugin host table for unit tests and fuzzers (see fakehost.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "fakehost.h"

/* One timer on the fake clock; kept after it ran or was stopped (until clear), so that a
   plugin that stops a timer twice, or after its callback, is caught instead of freeing. */
struct fw_timer {
	struct fw_fakehost *fh;
	uint64_t due;
	uint64_t seq;
	fw_timer_cb cb;
	void *arg;
	bool over; /* ran or stopped */
	struct fw_timer *next;
};

static struct fw_fakehost *fake(struct fw_plugin_ctx *ctx)
{
	return (struct fw_fakehost *)(void *)ctx;
}

/* The first kv entry for key, or the index-th one. */
static const char *kv_get(const struct fw_fakehost *fh, const char *key, size_t index)
{
	for (const struct fw_fakehost_kv *e = fh->kv; e && e->key; e++)
		if (strcmp(e->key, key) == 0 && index-- == 0)
			return e->value;
	return NULL;
}

static const config_setting_t *member(const struct fw_fakehost *fh, const char *key)
{
	return fh->group ? config_setting_get_member(fh->group, key) : NULL;
}

static void fake_log(struct fw_plugin_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fake_log(struct fw_plugin_ctx *ctx, int level, const char *fmt, ...)
{
	struct fw_fakehost *fh = fake(ctx);
	char line[2048];
	va_list ap;
	size_t n;
	char *grown;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (fh->on_log)
		fh->on_log(fh, level, line);
	pthread_mutex_lock(&fh->lock);
	n = strlen(line) + 8;
	grown = realloc(fh->log, fh->log_len + n + 1);
	if (grown) {
		fh->log = grown;
		fh->log_len += (size_t)snprintf(grown + fh->log_len, n + 1, "%d %s\n", level, line);
		fh->log_lines++;
	}
	pthread_mutex_unlock(&fh->lock);
}

static int fake_cfg_string(struct fw_plugin_ctx *ctx, const char *key, const char **out)
{
	struct fw_fakehost *fh = fake(ctx);
	const config_setting_t *s = member(fh, key);
	const char *v;

	if (s) {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return -EINVAL;
		*out = config_setting_get_string(s);
		return 0;
	}
	v = kv_get(fh, key, 0);
	if (v == NULL)
		return -ENOENT;
	*out = v;
	return 0;
}

static int fake_cfg_int(struct fw_plugin_ctx *ctx, const char *key, int64_t *out)
{
	struct fw_fakehost *fh = fake(ctx);
	const config_setting_t *s = member(fh, key);
	const char *v;
	char *end;
	long long n;

	if (s) {
		if (config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64)
			return -EINVAL;
		*out = config_setting_get_int64(s);
		return 0;
	}
	v = kv_get(fh, key, 0);
	if (v == NULL)
		return -ENOENT;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || *end || errno)
		return -EINVAL;
	*out = n;
	return 0;
}

static int fake_cfg_bool(struct fw_plugin_ctx *ctx, const char *key, int *out)
{
	struct fw_fakehost *fh = fake(ctx);
	const config_setting_t *s = member(fh, key);
	const char *v;

	if (s) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return -EINVAL;
		*out = config_setting_get_bool(s);
		return 0;
	}
	v = kv_get(fh, key, 0);
	if (v == NULL)
		return -ENOENT;
	if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
		return -EINVAL;
	*out = strcmp(v, "true") == 0;
	return 0;
}

static int fake_cfg_float(struct fw_plugin_ctx *ctx, const char *key, double *out)
{
	struct fw_fakehost *fh = fake(ctx);
	const config_setting_t *s = member(fh, key);
	const char *v;
	char *end;
	double d;

	if (s) {
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
	v = kv_get(fh, key, 0);
	if (v == NULL)
		return -ENOENT;
	d = strtod(v, &end);
	if (end == v || *end)
		return -EINVAL;
	*out = d;
	return 0;
}

static int fake_cfg_duration_ms(struct fw_plugin_ctx *ctx, const char *key, int64_t *out)
{
	struct fw_fakehost *fh = fake(ctx);
	const config_setting_t *s = member(fh, key);
	const char *v = NULL;
	int64_t secs = 0;

	if (s) {
		switch (config_setting_type(s)) {
		case CONFIG_TYPE_INT:
		case CONFIG_TYPE_INT64:
			secs = config_setting_get_int64(s);
			if (secs < 0)
				return -EINVAL;
			break;
		case CONFIG_TYPE_STRING:
			v = config_setting_get_string(s);
			break;
		default:
			return -EINVAL;
		}
	} else {
		v = kv_get(fh, key, 0);
		if (v == NULL)
			return -ENOENT;
	}
	if (v && fw_duration_parse(v, &secs) < 0)
		return -EINVAL;
	if (secs > INT64_MAX / 1000)
		return -EINVAL;
	*out = secs * 1000;
	return 0;
}

static int fake_cfg_strings(struct fw_plugin_ctx *ctx, const char *key, size_t index,
                            const char **out)
{
	struct fw_fakehost *fh = fake(ctx);
	const config_setting_t *s = member(fh, key), *e;
	const char *v;

	if (s) {
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
	v = kv_get(fh, key, index);
	if (v == NULL)
		return -ENOENT;
	*out = v;
	return 0;
}

static int fake_cfg_secret(struct fw_plugin_ctx *ctx, const char *key, char **out)
{
	struct fw_fakehost *fh = fake(ctx);
	const char *name;
	int r = fake_cfg_string(ctx, key, &name);

	if (r < 0)
		return r;
	for (const struct fw_fakehost_kv *e = fh->secrets; e && e->key; e++) {
		if (strcmp(e->key, name) == 0) {
			*out = strdup(e->value);
			return *out ? 0 : -ENOMEM;
		}
	}
	return -ENOENT; /* as the host does for a file that is not there */
}

static int fake_cfg_path(struct fw_plugin_ctx *ctx, const char *key, char **out)
{
	struct fw_fakehost *fh = fake(ctx);
	const char *v;
	int r = fake_cfg_string(ctx, key, &v);

	if (r < 0)
		return r;
	if (v[0] == '/' || fh->dir == NULL)
		*out = strdup(v);
	else if (asprintf(out, "%s/%s", fh->dir, v) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

static void fake_done(struct fw_plugin_ctx *ctx, uint64_t token, enum fw_result result,
                      int64_t retry_after, const char *message)
{
	struct fw_fakehost *fh = fake(ctx);

	if (fh->on_done)
		fh->on_done(fh, token, result, retry_after, message);
	pthread_mutex_lock(&fh->lock);
	fh->done_calls++;
	fh->last_token = token;
	fh->last_result = result;
	fh->last_retry_after = retry_after;
	snprintf(fh->last_message, sizeof(fh->last_message), "%s", message ? message : "");
	pthread_mutex_unlock(&fh->lock);
}

static int fake_timer_start(struct fw_plugin_ctx *ctx, uint64_t ms, fw_timer_cb cb, void *arg,
                            struct fw_timer **out)
{
	struct fw_fakehost *fh = fake(ctx);
	struct fw_timer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->fh = fh;
	t->due = fh->now_ms + ms;
	t->seq = fh->timers_started++;
	t->cb = cb;
	t->arg = arg;
	t->next = fh->timers;
	fh->timers = t;
	*out = t;
	return 0;
}

static void fake_timer_stop(struct fw_timer *t)
{
	if (t == NULL)
		return;
	if (t->over) {
		/* the real host has freed it: this would be a use after free there */
		fprintf(stderr,
		        "fakehost: timer_stop on a timer that already ran or was stopped\n");
		abort();
	}
	t->over = true;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int fake_http(struct fw_plugin_ctx *ctx, const struct fw_http_request *req, fw_http_cb cb,
                     void *arg)
{
	struct fw_fakehost *fh = fake(ctx);
	struct fw_fakehost_request *v, *q;
	int r;

	if (fh->on_http && (r = fh->on_http(fh, req)) < 0)
		return r;
	v = realloc(fh->requests, (fh->n_requests + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	fh->requests = v;
	q = &v[fh->n_requests];
	memset(q, 0, sizeof(*q));
	q->method = dup_or_empty(req->method);
	q->url = dup_or_empty(req->url);
	q->headers = calloc(req->n_headers + 1, sizeof(*q->headers));
	q->body = malloc(req->body_len + 1);
	if (q->method == NULL || q->url == NULL || q->headers == NULL || q->body == NULL)
		goto fail;
	for (size_t i = 0; i < req->n_headers; i++) {
		q->headers[i] = strdup(req->headers[i]);
		if (q->headers[i] == NULL)
			goto fail;
		q->n_headers++;
	}
	if (req->body_len)
		memcpy(q->body, req->body, req->body_len);
	q->body[req->body_len] = 0;
	q->body_len = req->body_len;
	q->timeout_ms = req->timeout_ms;
	q->cb = cb;
	q->arg = arg;
	fh->n_requests++;
	return 0;
fail:
	for (size_t i = 0; i < q->n_headers; i++)
		free(q->headers[i]);
	free(q->headers);
	free(q->method);
	free(q->url);
	free(q->body);
	return -ENOMEM;
}

static const char *fake_instance_name(struct fw_plugin_ctx *ctx)
{
	struct fw_fakehost *fh = fake(ctx);

	return fh->name ? fh->name : "fake";
}

static const struct fw_host fake_table = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_host),
    .log = fake_log,
    .cfg_string = fake_cfg_string,
    .cfg_int = fake_cfg_int,
    .cfg_bool = fake_cfg_bool,
    .cfg_float = fake_cfg_float,
    .cfg_duration_ms = fake_cfg_duration_ms,
    .cfg_strings = fake_cfg_strings,
    .cfg_secret = fake_cfg_secret,
    .done = fake_done,
    .timer_start = fake_timer_start,
    .timer_stop = fake_timer_stop,
    .http = fake_http,
    .instance_name = fake_instance_name,
    .cfg_path = fake_cfg_path,
};

/* Zero what the fake records, keep what the test set. */
int fw_fakehost_init(struct fw_fakehost *fh)
{
	size_t off = offsetof(struct fw_fakehost, host);

	memset((char *)fh + off, 0, sizeof(*fh) - off);
	fh->host = &fake_table;
	fh->last_retry_after = -1;
	return -pthread_mutex_init(&fh->lock, NULL);
}

/* The fake is its own ctx. */
struct fw_plugin_ctx *fw_fakehost_ctx(struct fw_fakehost *fh)
{
	return (struct fw_plugin_ctx *)(void *)fh;
}

/* Free what was recorded. */
void fw_fakehost_clear(struct fw_fakehost *fh)
{
	size_t off = offsetof(struct fw_fakehost, host);

	if (fh->host == NULL)
		return;
	free(fh->log);
	for (size_t i = 0; i < fh->n_requests; i++) {
		struct fw_fakehost_request *q = &fh->requests[i];

		for (size_t k = 0; k < q->n_headers; k++)
			free(q->headers[k]);
		free(q->headers);
		free(q->method);
		free(q->url);
		free(q->body);
	}
	free(fh->requests);
	while (fh->timers) {
		struct fw_timer *t = fh->timers;

		fh->timers = t->next;
		free(t);
	}
	pthread_mutex_destroy(&fh->lock);
	memset((char *)fh + off, 0, sizeof(*fh) - off);
}

/* Search the captured log. */
bool fw_fakehost_logged(struct fw_fakehost *fh, const char *needle)
{
	bool found;

	pthread_mutex_lock(&fh->lock);
	found = fh->log && strstr(fh->log, needle) != NULL;
	pthread_mutex_unlock(&fh->lock);
	return found;
}

/* The pending timer due first (ties: started first) at or before limit, or NULL. */
static struct fw_timer *next_due(struct fw_fakehost *fh, uint64_t limit)
{
	struct fw_timer *best = NULL;

	for (struct fw_timer *t = fh->timers; t; t = t->next)
		if (!t->over && t->due <= limit &&
		    (best == NULL || t->due < best->due ||
		     (t->due == best->due && t->seq < best->seq)))
			best = t;
	return best;
}

/* Run the fake clock forward. */
unsigned fw_fakehost_advance(struct fw_fakehost *fh, uint64_t ms)
{
	uint64_t target = fh->now_ms + ms;
	struct fw_timer *t;
	unsigned ran = 0;

	while ((t = next_due(fh, target))) {
		if (t->due > fh->now_ms)
			fh->now_ms = t->due;
		t->over = true;
		t->cb(t->arg);
		ran++;
	}
	fh->now_ms = target;
	return ran;
}

/* Count the live timers. */
size_t fw_fakehost_timers_pending(const struct fw_fakehost *fh)
{
	size_t n = 0;

	for (const struct fw_timer *t = fh->timers; t; t = t->next)
		n += !t->over;
	return n;
}

/* Answer the oldest open request. */
int fw_fakehost_http_reply(struct fw_fakehost *fh, const struct fw_http_response *res)
{
	struct fw_http_response copy = *res;

	if (copy.struct_size == 0)
		copy.struct_size = sizeof(copy);
	if (copy.error_text == NULL)
		copy.error_text = "";
	if (copy.body == NULL)
		copy.body = "";
	for (size_t i = 0; i < fh->n_requests; i++) {
		if (!fh->requests[i].answered) {
			fw_http_cb cb = fh->requests[i].cb;
			void *arg = fh->requests[i].arg;

			/* first: the callback may make a request (and move the array) */
			fh->requests[i].answered = true;
			cb(arg, &copy);
			return 0;
		}
	}
	return -ENOENT;
}

/* Fail every open request, as at shutdown. */
size_t fw_fakehost_http_abort(struct fw_fakehost *fh)
{
	struct fw_http_response res = {.struct_size = sizeof(res),
	                               .error = -ECANCELED,
	                               .error_text = "shutting down",
	                               .body = "",
	                               .retry_after = -1};
	size_t n = 0;

	while (fw_fakehost_http_reply(fh, &res) == 0)
		n++;
	return n;
}
