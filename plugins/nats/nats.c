/*
 * nats.c - the nats output: each alert published to NATS JetStream (libnats), acknowledged
 * by the stream before it counts as delivered.
 *
 * Keys: url           (required) nats://host:port; no user info (TLS is not offered yet)
 *       subject       the subject to publish to; {watchlist} becomes the watchlist name as
 *                     one token (default "feedwatch.alerts.{watchlist}")
 *       stream        the JetStream stream (default "FEEDWATCH_ALERTS"); created when
 *                     missing, with the subject that covers `subject`
 *                     ("feedwatch.alerts.>") and a duplicate window of `dedup_window`
 *       dedup_window  the duplicate window of a stream the plugin creates (default 1d)
 *       secret        a file holding a NATS credentials file's content (user JWT and NKey
 *                     seed, as `nsc` writes it) or a token; absolute, or relative to
 *                     $CREDENTIALS_DIRECTORY
 *       timeout       connecting, and waiting for one acknowledgement (default 10s)
 *
 * Each alert is published with Nats-Msg-Id = the alert id, so the server's duplicate
 * window drops a publish that is retried after its acknowledgement was lost; a duplicate
 * acknowledgement counts as delivered. A digest is published as one message per alert
 * (each with its own id and subject) and is delivered when every one is acknowledged.
 *
 * Outcome: the PubAck = delivered; no connection, a timeout, no responders (the stream
 * gone, JetStream starting) = retried; a refused login = the output disabled (its alerts
 * wait for a config change); no stream that takes the subject and none can be created, a
 * permission violation, any other JetStream API error = a dead letter.
 *
 * libnats blocks, so the plugin is FW_PLUGIN_BLOCKING: the connection is made lazily by
 * the first deliver() on the host's worker thread (init never blocks the loop), kept,
 * reconnected by libnats, and destroyed in fini(). init() opens the library (nats_Open:
 * its timer and callback threads start there, and OpenSSL's random state belongs to the
 * loop thread, which frees it at exit); the connection's reader and flusher threads start
 * on the worker. None of libnats's threads touches the host: they run only a flag-setting
 * error handler and the credential callbacks; done() and log() are called from deliver()
 * only. The module is linked with -z nodelete, so that a dlclose() never unmaps libnats
 * under its threads. check() reads and judges the settings only: no libnats call, no
 * network.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nats/nats.h>

#include <feedwatch/plugin.h>

#include "nats_int.h"

#define NO_DEFAULT_STREAM  "FEEDWATCH_ALERTS"
#define NO_DEFAULT_TIMEOUT 10000
#define NO_DEFAULT_DEDUP   (24LL * 3600 * 1000)
#define NO_MAX_URL         2048
#define NO_MAX_SUBJECTS    64 /* stream subjects kept to check a subject against */
#define NO_MSG_MAX         300

struct natsout {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	const char *url; /* owned by the host's config; holds no credentials */
	const char *subject;
	const char *stream;
	char cover[FW_SUBJECT_MAX];
	char *secret; /* the secret file's content, or NULL */
	char *jwt;    /* from a credentials file, or NULL (then secret is a token) */
	char *seed;   /* idem */
	int64_t timeout_ms;
	int64_t dedup_ms;
	/* Worker thread only, from the first deliver() to fini(). */
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	bool stream_ok;                  /* the stream exists: subjects[] are its subjects */
	char *subjects[NO_MAX_SUBJECTS]; /* the stream's subjects */
	int n_subjects;
	atomic_bool denied; /* set by libnats's error handler on a permissions violation */
};

/* One publish's outcome: the result for done() and why. */
struct outcome {
	enum fw_result result;
	char msg[NO_MSG_MAX];
};

static void set_outcome(struct outcome *o, enum fw_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_outcome(struct outcome *o, enum fw_result r, const char *fmt, ...)
{
	va_list ap;

	o->result = r;
	va_start(ap, fmt);
	vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
	va_end(ap);
}

/* ---- settings (init and check) ---- */

/* One nats://host:port. TLS (tls://, CA and client certificates) is not offered yet. */
static int check_url(const char *url, const char **why)
{
	const char *host = url + 7;

	if (strncmp(url, "nats://", 7) != 0) {
		*why = "url must be nats://host:port";
		return -EINVAL;
	}
	if (strlen(url) > NO_MAX_URL || host[0] == 0 || strpbrk(url, " \t\r\n,")) {
		*why = "url must be one nats://host:port";
		return -EINVAL;
	}
	if (strchr(host, '@')) {
		*why = "url must not hold a user, password or token: use secret = \"FILE\"";
		return -EINVAL;
	}
	return 0;
}

/* Split a credentials file's content into its user JWT and NKey seed (both malloc()ed);
   -ENOENT when it is not a credentials file (then it is a token). */
static int parse_creds(const char *s, char **jwt, char **seed)
{
	static const char *const marks[2] = {"-----BEGIN NATS USER JWT-----",
	                                     "-----BEGIN USER NKEY SEED-----"};
	char **outs[2] = {jwt, seed};
	int i;

	if (strstr(s, marks[0]) == NULL)
		return -ENOENT;
	for (i = 0; i < 2; i++) {
		const char *b = strstr(s, marks[i]), *e;

		if (b == NULL)
			return -EINVAL;
		b += strlen(marks[i]);
		b += strspn(b, " \t\r\n");
		e = b + strcspn(b, " \t\r\n-");
		if (e == b)
			return -EINVAL;
		*outs[i] = strndup(b, (size_t)(e - b));
		if (*outs[i] == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int read_secret(struct natsout *n)
{
	const struct fw_host *host = n->host;
	const char *s;
	int r = host->cfg_secret(n->ctx, "secret", &n->secret);

	if (r == -ENOENT && host->cfg_string(n->ctx, "secret", &s) == -ENOENT)
		return 0;
	if (r < 0) {
		host->log(n->ctx, FW_LOG_ERR,
		          "cannot read the secret file (absolute, or relative to "
		          "$CREDENTIALS_DIRECTORY): %s",
		          strerror(-r));
		return r;
	}
	r = parse_creds(n->secret, &n->jwt, &n->seed);
	if (r == -EINVAL) {
		host->log(n->ctx, FW_LOG_ERR,
		          "secret: a credentials file needs a user JWT and an NKey seed");
		return r;
	}
	if (r == -ENOENT && n->secret[0] == 0) {
		host->log(n->ctx, FW_LOG_ERR, "secret: the token file is empty");
		return -EINVAL;
	}
	return r == -ENOENT ? 0 : r;
}

static int get_duration(struct natsout *n, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t ms;
	int r = n->host->cfg_duration_ms(n->ctx, key, &ms);

	if (r == -ENOENT)
		return 0;
	if (r < 0 || ms < lo || ms > hi) {
		n->host->log(n->ctx, FW_LOG_ERR, "%s must be a duration from %llds to %llds", key,
		             (long long)(lo / 1000), (long long)(hi / 1000));
		return -EINVAL;
	}
	*out = ms;
	return 0;
}

/*
 * The settings of one instance, validated into n (n->host and n->ctx set; shared by init
 * and check, so that they never disagree). Logs each problem, never the secret; returns 0
 * or -errno. What it allocates, nats_fini frees.
 */
static int nats_settings(struct natsout *n)
{
	const struct fw_host *host = n->host;
	struct fw_plugin_ctx *ctx = n->ctx;
	const char *why;
	int r;

	n->timeout_ms = NO_DEFAULT_TIMEOUT;
	n->dedup_ms = NO_DEFAULT_DEDUP;
	n->subject = FW_SUBJECT_DEFAULT;
	n->stream = NO_DEFAULT_STREAM;
	if (host->cfg_string(ctx, "url", &n->url) < 0) {
		host->log(ctx, FW_LOG_ERR, "needs url = \"nats://host:4222\"");
		return -EINVAL;
	}
	if (check_url(n->url, &why) < 0) {
		host->log(ctx, FW_LOG_ERR, "%s", why);
		return -EINVAL;
	}
	r = host->cfg_string(ctx, "subject", &n->subject);
	if ((r < 0 && r != -ENOENT) || fw_subject_check(n->subject, &why) < 0 ||
	    fw_subject_cover(n->subject, n->cover, sizeof(n->cover)) < 0) {
		host->log(ctx, FW_LOG_ERR, "%s",
		          r < 0 && r != -ENOENT ? "subject must be a string" : why);
		return -EINVAL;
	}
	r = host->cfg_string(ctx, "stream", &n->stream);
	if ((r < 0 && r != -ENOENT) || !fw_subject_stream_ok(n->stream)) {
		host->log(ctx, FW_LOG_ERR,
		          "stream must be a name without '.', '*', '>', '/', '\\' or spaces");
		return -EINVAL;
	}
	if (get_duration(n, "timeout", 1000, 300 * 1000, &n->timeout_ms) < 0 ||
	    get_duration(n, "dedup_window", 1000, 30LL * 86400 * 1000, &n->dedup_ms) < 0)
		return -EINVAL;
	return read_secret(n);
}

static void nats_fini(void *state);
static const char *nats_why(natsStatus s);

/* Check: the settings only (no libnats call, no connection). */
static int nats_check(const struct fw_host *host, struct fw_plugin_ctx *ctx)
{
	struct natsout *n = calloc(1, sizeof(*n));
	int r;

	if (n == NULL)
		return -ENOMEM;
	n->host = host;
	n->ctx = ctx;
	r = nats_settings(n);
	nats_fini(n);
	return r == -ENOMEM ? r : r < 0 ? -EINVAL : 0;
}

/* Init: the settings only; the connection is made by the first deliver(), on the worker
   thread, so that init never blocks the loop. */
static int nats_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct natsout *n = calloc(1, sizeof(*n));
	int r;

	if (n == NULL)
		return -ENOMEM;
	*state = n;
	n->host = host;
	n->ctx = ctx;
	r = nats_settings(n);
	if (r < 0)
		return r;
	/* Open the library here, on the loop thread: its random seed comes from OpenSSL,
	   whose per-thread state OpenSSL frees at exit only for the thread that exits (the
	   loop's), never for the host's worker threads. No connection is made. */
	if (nats_Open(-1) != NATS_OK) {
		host->log(ctx, FW_LOG_ERR, "cannot start libnats: %s", nats_why(NATS_ERR));
		return -ENOMEM;
	}
	host->log(ctx, FW_LOG_DEBUG, "JetStream stream %s, subject %s, at %s", n->stream,
	          n->subject, n->url);
	return 0;
}

/* ---- the connection (worker thread) ---- */

/* libnats's threads: these three only read the instance's settings or set a flag. */
static void err_cb(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	struct natsout *n = closure;

	(void)nc, (void)sub;
	if (err == NATS_NOT_PERMITTED)
		atomic_store(&n->denied, true);
}

static natsStatus jwt_cb(char **jwt, char **err_text, void *closure)
{
	struct natsout *n = closure;

	(void)err_text;
	*jwt = strdup(n->jwt);
	return *jwt ? NATS_OK : NATS_NO_MEMORY;
}

static natsStatus sig_cb(char **err_text, unsigned char **sig, int *sig_len, const char *nonce,
                         void *closure)
{
	struct natsout *n = closure;

	(void)err_text;
	return nats_Sign(n->seed, nonce, sig, sig_len);
}

static natsStatus make_options(struct natsout *n)
{
	natsStatus s = natsOptions_Create(&n->opts);

	if (s == NATS_OK)
		s = natsOptions_SetURL(n->opts, n->url);
	if (s == NATS_OK)
		s = natsOptions_SetName(n->opts, "feedwatch");
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(n->opts, n->timeout_ms);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(n->opts, -1); /* forever: we never give up */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(n->opts, 1000);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(n->opts, 20000);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(n->opts, err_cb, n);
	if (s == NATS_OK && n->jwt)
		s = natsOptions_SetUserCredentialsCallbacks(n->opts, jwt_cb, n, sig_cb, n);
	else if (s == NATS_OK && n->secret)
		s = natsOptions_SetToken(n->opts, n->secret);
	if (s != NATS_OK) {
		natsOptions_Destroy(n->opts);
		n->opts = NULL;
	}
	return s;
}

static void free_subjects(struct natsout *n)
{
	while (n->n_subjects > 0)
		free(n->subjects[--n->n_subjects]);
	n->stream_ok = false;
}

static void drop_conn(struct natsout *n)
{
	jsCtx_Destroy(n->js);
	n->js = NULL;
	natsConnection_Destroy(n->nc);
	n->nc = NULL;
	free_subjects(n);
}

/* The last error text of libnats on this thread, else the status's text. */
static const char *nats_why(natsStatus s)
{
	const char *t = nats_GetLastError(NULL), *p;

	if (t == NULL || t[0] == 0)
		return natsStatus_GetText(s);
	/* "(conn.c:2088): No server available": the source position is not for users. */
	p = t[0] == '(' ? strstr(t, "): ") : NULL;
	return p ? p + 3 : t;
}

/* Connected (made now if need be) and not reconnecting: true, else false and o says why. */
static bool ensure_conn(struct natsout *n, struct outcome *o)
{
	jsOptions jo;
	natsStatus s = NATS_OK;

	if (n->nc && natsConnection_IsClosed(n->nc))
		drop_conn(n);
	if (n->opts == NULL)
		s = make_options(n);
	if (s == NATS_OK && n->nc == NULL) {
		s = natsConnection_Connect(&n->nc, n->opts);
		if (s == NATS_CONNECTION_AUTH_FAILED) {
			n->nc = NULL;
			set_outcome(o, FW_DISABLE, "the server refused the login (%s): fix secret",
			            nats_why(s));
			return false;
		}
		if (s == NATS_OK)
			s = jsOptions_Init(&jo);
		jo.Wait = n->timeout_ms;
		if (s == NATS_OK)
			s = natsConnection_JetStream(&n->js, n->nc, &jo);
		if (s != NATS_OK)
			drop_conn(n);
	}
	if (s != NATS_OK) {
		set_outcome(o, FW_RETRY, "cannot connect: %s", nats_why(s));
		return false;
	}
	if (natsConnection_Status(n->nc) != NATS_CONN_STATUS_CONNECTED) {
		set_outcome(o, FW_RETRY, "not connected (libnats is reconnecting)");
		return false;
	}
	return true;
}

/* A JetStream API error (jerr) that a later try may not meet. */
static bool js_temporary(jsErrCode jerr)
{
	return jerr == JSClusterNotAvailErr || jerr == JSClusterNotLeaderErr ||
	       jerr == JSInsufficientResourcesErr || jerr == JSMemoryResourcesExceededErr ||
	       jerr == JSStorageResourcesExceededErr || jerr == JSStreamStoreFailedErr;
}

/* The outcome of a failed request: s, jerr (0 when none), what = "publish to X". */
static void classify(struct natsout *n, natsStatus s, jsErrCode jerr, const char *what,
                     struct outcome *o)
{
	if (atomic_exchange(&n->denied, false) || s == NATS_NOT_PERMITTED)
		set_outcome(o, FW_FAILED, "%s: permission denied", what);
	else if (s == NATS_NO_RESPONDERS)
		set_outcome(o, FW_RETRY,
		            "%s: no responders (%s: no stream, or JetStream not ready)", what,
		            n->stream);
	else if (jerr != 0 && !js_temporary(jerr))
		set_outcome(o, FW_FAILED, "%s: %s", what, nats_why(s));
	else if (s == NATS_MAX_PAYLOAD)
		set_outcome(o, FW_FAILED, "%s: %s", what,
		            "the alert is larger than the server takes");
	else
		set_outcome(o, FW_RETRY, "%s: %s", what, nats_why(s));
	if (s == NATS_NO_RESPONDERS)
		free_subjects(n); /* look the stream up again on the next try */
}

/* ---- the stream ---- */

static void keep_subjects(struct natsout *n, const jsStreamInfo *si)
{
	int i;

	free_subjects(n);
	for (i = 0; si->Config && i < si->Config->SubjectsLen && i < NO_MAX_SUBJECTS; i++) {
		n->subjects[n->n_subjects] = strdup(si->Config->Subjects[i]);
		if (n->subjects[n->n_subjects])
			n->n_subjects++;
	}
	n->stream_ok = true;
}

static natsStatus add_stream(struct natsout *n, jsStreamInfo **si, jsErrCode *jerr)
{
	jsStreamConfig cfg;
	const char *subjects[1] = {n->cover};
	natsStatus s = jsStreamConfig_Init(&cfg);

	if (s != NATS_OK)
		return s;
	cfg.Name = n->stream;
	cfg.Description = "feedwatch alerts";
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Duplicates = n->dedup_ms * 1000000; /* nanoseconds */
	s = js_AddStream(si, n->js, &cfg, NULL, jerr);
	if (s != NATS_OK && *jerr == JSStreamNameExistErr) /* another node was quicker */
		s = js_GetStreamInfo(si, n->js, n->stream, NULL, jerr);
	if (s == NATS_OK)
		n->host->log(n->ctx, FW_LOG_NOTICE, "created JetStream stream %s for subject %s",
		             n->stream, n->cover);
	return s;
}

/* The stream exists (created now if missing) and its subjects are known: true, else
   false and o says why. */
static bool ensure_stream(struct natsout *n, struct outcome *o)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	char what[FW_SUBJECT_MAX + 300];

	if (n->stream_ok)
		return true;
	atomic_store(&n->denied, false);
	s = js_GetStreamInfo(&si, n->js, n->stream, NULL, &jerr);
	snprintf(what, sizeof(what), "stream %s", n->stream);
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		jerr = 0;
		s = add_stream(n, &si, &jerr);
		snprintf(what, sizeof(what), "creating stream %s for %s", n->stream, n->cover);
	}
	if (s != NATS_OK || si == NULL) {
		classify(n, s, jerr, what, o);
		jsStreamInfo_Destroy(si);
		return false;
	}
	keep_subjects(n, si);
	jsStreamInfo_Destroy(si);
	return true;
}

/* ---- publishing ---- */

/* Publish one alert (data, len) with Nats-Msg-Id = id to the subject of its watchlist and
   wait for the stream's acknowledgement; o says how it went. */
static void publish(struct natsout *n, const char *id, const char *watchlist, const char *data,
                    size_t len, struct outcome *o)
{
	char subject[FW_SUBJECT_MAX], what[FW_SUBJECT_MAX + 32];
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int i;

	if (fw_subject_render(n->subject, watchlist ? watchlist : "", subject, sizeof(subject)) <
	    0) {
		set_outcome(o, FW_FAILED, "the subject for watchlist %s is too long%s", watchlist,
		            "");
		return;
	}
	for (i = 0; i < n->n_subjects && !fw_subject_matches(n->subjects[i], subject); i++)
		;
	if (i == n->n_subjects) {
		set_outcome(o, FW_FAILED, "stream %s does not take subject %s", n->stream, subject);
		free_subjects(n); /* its subjects may change: look again next time */
		return;
	}
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.MaxWait = n->timeout_ms;
	po.ExpectStream = n->stream;
	atomic_store(&n->denied, false);
	s = js_Publish(&pa, n->js, subject, data, (int)len, &po, &jerr);
	if (s == NATS_OK) {
		snprintf(o->msg, sizeof(o->msg), "%s seq %llu%s", pa->Stream,
		         (unsigned long long)pa->Sequence, pa->Duplicate ? " (duplicate)" : "");
		o->result = FW_DELIVERED;
		if (pa->Duplicate) /* an earlier try got there: the server's window dropped this */
			n->host->log(n->ctx, FW_LOG_INFO,
			             "alert %s was already in stream %s: duplicate", id, n->stream);
		jsPubAck_Destroy(pa);
		return;
	}
	snprintf(what, sizeof(what), "publish to %s", subject);
	classify(n, s, jerr, what, o);
}

/* A digest: each alert of json's "alerts" as its own message with its own id; stops at the
   first that is not acknowledged. */
static void publish_digest(struct natsout *n, const struct fw_alert *a, struct outcome *o)
{
	json_t *root = json_loads(a->json, 0, NULL), *alerts = json_object_get(root, "alerts"), *el;
	size_t i, n_ok = 0;

	if (!json_is_array(alerts) || json_array_size(alerts) == 0) {
		set_outcome(o, FW_FAILED, "a digest without alerts");
		json_decref(root);
		return;
	}
	json_array_foreach(alerts, i, el)
	{
		const char *id = json_string_value(json_object_get(el, "id"));
		char *body = json_dumps(el, JSON_COMPACT);

		if (id == NULL || body == NULL)
			set_outcome(o, body ? FW_FAILED : FW_RETRY, "digest alert %s: %s",
			            id ? id : "?", body ? "no id" : "out of memory");
		else
			publish(n, id, json_string_value(json_object_get(el, "watchlist")), body,
			        strlen(body), o);
		free(body);
		if (o->result != FW_DELIVERED)
			break;
		n_ok++;
	}
	if (o->result == FW_DELIVERED)
		snprintf(o->msg, sizeof(o->msg), "%zu messages acknowledged by %s", n_ok,
		         n->stream);
	json_decref(root);
}

/* Runs on the host's worker thread (FW_PLUGIN_BLOCKING): may block, uses only log and
   done from the host table. */
static int nats_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct natsout *n = state;
	struct outcome o = {FW_DELIVERED, ""};

	if (ensure_conn(n, &o) && ensure_stream(n, &o)) {
		if (a->n_digest > 0)
			publish_digest(n, a, &o);
		else
			publish(n, a->id, a->watchlist, a->json, strlen(a->json), &o);
	}
	n->host->done(n->ctx, token, o.result, -1, o.msg[0] ? o.msg : NULL);
	return 0;
}

static void nats_fini(void *state)
{
	struct natsout *n = state;

	if (n == NULL)
		return;
	drop_conn(n);
	natsOptions_Destroy(n->opts);
	if (n->secret) {
		explicit_bzero(n->secret, strlen(n->secret));
		free(n->secret);
	}
	if (n->seed) {
		explicit_bzero(n->seed, strlen(n->seed));
		free(n->seed);
	}
	free(n->jwt);
	free(n);
}

static const struct fw_plugin_key nats_keys[] = {
    {"url", FW_KEY_STRING, "nats://host:port of a NATS server"},
    {"subject", FW_KEY_STRING, "subject to publish to (default feedwatch.alerts.{watchlist})"},
    {"stream", FW_KEY_STRING, "JetStream stream, created when missing (default FEEDWATCH_ALERTS)"},
    {"dedup_window", FW_KEY_DURATION, "duplicate window of a stream created here (default 1d)"},
    {"secret", FW_KEY_STRING, "a file holding NATS credentials (JWT and seed) or a token"},
    {"timeout", FW_KEY_DURATION, "connecting, and waiting for one acknowledgement (default 10s)"},
    {NULL, 0, NULL},
};

FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_plugin),
    .name = "nats",
    .version = "1.0",
    .description = "NATS JetStream (libnats): each alert published, acknowledged by the stream",
    .flags = FW_PLUGIN_BLOCKING,
    .keys = nats_keys,
    .init = nats_init,
    .deliver = nats_deliver,
    .reopen = NULL,
    .fini = nats_fini,
    .check = nats_check,
};
