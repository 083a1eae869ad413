/*
 * fuzz_webhook.c - libFuzzer target for the webhook output: the built plugin (webhook.so,
 * dlopen()ed through its public ABI, as the daemon does) runs against a fake host. One
 * input drives one delivery: the format, a secret or not, the alert JSON the plugin renders
 * (hostile titles, links, digests), then the receiver's answer it classifies (status,
 * transport error, Retry-After, body).
 *
 * Input: byte 0 format (mod 9), byte 1 flags (1: transport error, 2: a secret, 4: digest),
 * bytes 2-3 status (big endian, mod 1000), bytes 4-5 Retry-After (0xffff: none), then the
 * alert JSON, "\n--\n", and the response body.
 *
 * The host is the shared fake (tests/common/fakehost.h). Beyond sanitizer reports, this
 * target and its hooks on the fake abort when: done() is not called exactly once for a
 * started delivery; a result is out of range or a Retry-After comes with a non-retry; a request header holds CR or LF (header injection); the URL's token or the
 * secret reaches a log line or an outcome message (the URL's token and the access token
 * even when the receiver's body echoes them); a JSON format's body is not JSON.
 *
 * The plugin is found in $FEEDWATCH_PLUGIN_DIR, else ../../plugins beside this binary
 * (build-dir/tests/fuzz/fuzz_webhook -> build-dir/plugins/webhook.so): build the
 * `webhook` target first.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <feedwatch/plugin.h>

#include "fakehost.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define URL_TOKEN "T0KENxyz"
#define SECRET    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" /* 27 bytes decoded */
#define TOKEN     "syt_bearer_S3CRETtoken"

static const char *const formats[] = {"generic",    "slack",    "discord",  "ntfy",  "matrix",
                                      "mattermost", "telegram", "pushover", "gotify"};

static const struct fw_plugin *plugin;

/* What one input's run brings; the fake host (tests/common/fakehost.h) records the rest. */
static struct {
	const char *format;
	int with_secret;
	const char *json; /* the alert */
	const char *body; /* the response body */
	size_t body_len;
} run;

/* Does the input itself hold one of our secret words (then output may quote it)? */
static bool quoted(const char *p, size_t n)
{
	return memmem(p, n, URL_TOKEN, strlen(URL_TOKEN)) || memmem(p, n, "S3CRET", 6) ||
	       memmem(p, n, "MfKQ9r8", 7);
}

static void leak_check(const char *s)
{
	if (s && (strstr(s, URL_TOKEN) || strstr(s, "S3CRET") || strstr(s, "MfKQ9r8")))
		abort();
}

static void on_log(struct fw_fakehost *fh, int level, const char *line)
{
	(void)fh;
	(void)level;
	leak_check(line);
}

static void on_done(struct fw_fakehost *fh, uint64_t token, enum fw_result result,
                    int64_t retry_after, const char *message)
{
	(void)fh;
	if (token != 42 || result < FW_DELIVERED || result > FW_DISABLE)
		abort();
	if (retry_after >= 0 && result != FW_RETRY)
		abort();
	/* The receiver's body may echo the request (its path, the Authorization header): the
	   URL's token and the access token must be redacted whatever it holds. Other pieces
	   of our secrets count only when the input did not bring them itself. */
	if (message && strcasestr(message, URL_TOKEN))
		abort();
	if (message && run.with_secret && strcmp(run.format, "generic") != 0 &&
	    strcasestr(message, TOKEN))
		abort(); /* the plugin was given TOKEN (matrix, ntfy, telegram, pushover, gotify;
		            the others refuse a secret) */
	if (!quoted(run.body, run.body_len) && !quoted(run.json, strlen(run.json)))
		leak_check(message);
}

static int on_http(struct fw_fakehost *fh, const struct fw_http_request *req)
{
	(void)fh;
	if (req->url == NULL || req->method == NULL || req->body == NULL ||
	    strlen(req->body) != req->body_len)
		abort();
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strpbrk(req->headers[i], "\r\n") != NULL)
			abort(); /* a header line that smuggles another */
		/* Our secrets only in their own headers (unless the alert itself holds them). */
		if (!quoted(run.json, strlen(run.json)))
			leak_check(strncmp(req->headers[i], "Authorization:", 14) == 0 ||
			                   strncmp(req->headers[i], "X-Gotify-Key:", 13) == 0 ||
			                   strncmp(req->headers[i], "webhook-signature:", 18) == 0
			               ? NULL
			               : req->headers[i]);
	}
	if (strcmp(run.format, "ntfy") != 0) {
		json_t *j = json_loadb(req->body, req->body_len, 0, NULL);

		if (j == NULL)
			abort(); /* every format but ntfy posts JSON */
		json_decref(j);
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *env = getenv("FEEDWATCH_PLUGIN_DIR");
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n;
	void *dl;

	(void)argc;
	(void)argv;
	if (env && *env) {
		snprintf(path, sizeof(path), "%s/webhook.so", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			abort();
		exe[n] = 0;
		*strrchr(exe, '/') = 0;
		snprintf(path, sizeof(path), "%s/../../plugins/webhook.so", exe);
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "fuzz_webhook: %s (build the webhook target first)\n", dlerror());
		exit(1);
	}
	plugin = dlsym(dl, FW_PLUGIN_SYMBOL);
	if (plugin == NULL || plugin->abi_major != FW_PLUGIN_ABI_MAJOR) {
		fprintf(stderr, "fuzz_webhook: %s is not a feedwatch plugin\n", path);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_alert a = {.struct_size = sizeof(a)};
	struct fw_http_response res = {.struct_size = sizeof(res)};
	/* url, format, headers, then secret (when the input asks for one): the hook file names
	   a secret that the fake hands out without reading a file */
	struct fw_fakehost_kv cfg[] = {{"url", "https://hooks.example.org/services/" URL_TOKEN},
	                               {"format", NULL},
	                               {"headers", "X-Fuzz: 1"},
	                               {NULL, "/run/credentials/feedwatch/secret"},
	                               {NULL, "-100123"},
	                               {NULL, NULL}};
	struct fw_fakehost_kv secrets[] = {{"/run/credentials/feedwatch/secret", NULL},
	                                   {NULL, NULL}};
	struct fw_fakehost fh = {.name = "fuzz",
	                         .kv = cfg,
	                         .secrets = secrets,
	                         .on_log = on_log,
	                         .on_done = on_done,
	                         .on_http = on_http};
	const uint8_t *sep;
	char *json = NULL, *body = NULL;
	void *state = NULL;
	size_t json_len, body_len;
	unsigned ra, flags;
	int r;

	if (size < 6 || size > 256 * 1024)
		return 0;
	memset(&run, 0, sizeof(run));
	flags = data[1];
	run.format = formats[data[0] % (sizeof(formats) / sizeof(formats[0]))];
	run.with_secret = (flags & 2) != 0;
	res.status = (long)(((unsigned)data[2] << 8 | data[3]) % 1000);
	ra = (unsigned)data[4] << 8 | data[5];
	res.retry_after = ra == 0xffff ? -1 : (int64_t)ra;
	res.error = (flags & 1) ? -ECONNRESET : 0;
	res.error_text = (flags & 1) ? "Connection reset by peer" : "";
	data += 6;
	size -= 6;
	sep = memmem(data, size, "\n--\n", 4);
	json_len = sep ? (size_t)(sep - data) : size;
	body_len = sep ? size - json_len - 4 : 0;
	/* not strndup: the input has no NUL, and ASan's strict_string_checks (scripts/test.sh)
	   rightly wants one inside the buffer */
	json = malloc(json_len + 1);
	body = malloc(body_len + 1);
	if (json == NULL || body == NULL)
		goto out;
	memcpy(json, data, json_len);
	json[json_len] = 0;
	if (body_len)
		memcpy(body, sep + 4, body_len);
	body[body_len] = 0;
	res.body = body;
	res.body_len = body_len;
	run.body = body;
	run.json = json;
	run.body_len = body_len;

	cfg[1].value = run.format;
	cfg[3].key = run.with_secret ? "secret" : NULL;
	/* telegram needs its chat, pushover its user key */
	cfg[4].key = strcmp(run.format, "telegram") == 0   ? "chat_id"
	             : strcmp(run.format, "pushover") == 0 ? "user"
	                                                   : NULL;
	secrets[0].value = strcmp(run.format, "generic") == 0 ? SECRET : TOKEN;
	if (fw_fakehost_init(&fh) < 0)
		abort();
	r = plugin->init(fh.host, fw_fakehost_ctx(&fh), &state);
	if (r < 0)
		goto out;
	a.id = "5f2b0c1d9e8a7b6c";
	a.watchlist = "putin";
	a.output = "fuzz";
	a.feed_name = "world";
	a.feed_url = "https://example.org/feed";
	a.title = "";
	a.item_id = "x";
	a.summary = "";
	a.json = json;
	a.attempt = 1;
	a.created = 1718740000;
	a.n_digest = (flags & 4) ? 3 : 0;
	r = plugin->deliver(state, &a, 42);
	if (r == 0) {
		if (fh.n_requests != 1)
			abort(); /* started, so exactly one request */
		if (fw_fakehost_http_reply(&fh, &res) < 0 || fh.done_calls != 1)
			abort();
	} else if (fh.done_calls != 0) {
		abort(); /* an immediate failure must not also report an outcome */
	}
out:
	if (plugin && state)
		plugin->fini(state);
	fw_fakehost_clear(&fh);
	free(json);
	free(body);
	return 0;
}
