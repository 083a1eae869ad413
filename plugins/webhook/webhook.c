/*
 * webhook.c - the webhook output: one HTTP request per alert (or digest), on the daemon's
 * own curl multi handle (host->http), never blocking the loop. The bodies are built by
 * payload*.c (pure functions, see webhook_int.h); this file owns the settings, the secrets
 * and the requests.
 *
 * Keys: url      where to send; may hold a token, so only scheme://host is logged. Required,
 *                except for telegram (default https://api.telegram.org, the Bot API base)
 *                and pushover (default https://api.pushover.net/1/messages.json); for
 *                gotify the server's base URL
 *       format   "generic" (default), "slack", "discord", "ntfy", "matrix", "mattermost",
 *                "telegram", "pushover", "gotify"
 *       secret   a file name (absolute, or relative to $CREDENTIALS_DIRECTORY):
 *                generic: the Standard Webhooks signing secret "whsec_<base64>";
 *                matrix, ntfy: an access token sent as "Authorization: Bearer";
 *                telegram: the bot token (in the request path: .../bot<token>/sendMessage);
 *                pushover: the application token (in the body); gotify: the application
 *                token (sent as "X-Gotify-Key")
 *       chat_id  telegram: the chat to post to
 *       user     pushover: the user or group key
 *       headers  extra request headers, an array of "Name: value"
 *       timeout  total time for one request (duration, default 15s)
 *
 * Every request carries "Idempotency-Key: <alert id>". The outcome: 2xx delivered;
 * 410 disables the output; 408, 425, 429, 5xx and transport errors are retried (with the
 * receiver's Retry-After); any other status is a permanent failure (a dead letter).
 * The outcome message (logged, and kept in the outbox) never holds a secret part of the
 * URL, the token or a header value: see collect_hidden. Matrix messages are m.notice with
 * an empty m.mentions: nothing in an alert pings anyone.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <feedwatch/plugin.h>

#include "webhook_int.h"

#define WH_MAX_HEADERS     32   /* configured extra headers */
#define WH_MAX_HEADER_LEN  1024 /* one configured header line */
#define WH_MAX_URL         4096
#define WH_SECRET_MIN      24 /* Standard Webhooks: 24 to 64 random bytes */
#define WH_SECRET_MAX      64
#define WH_TOKEN_MAX       4096 /* a bearer token */
#define WH_REASON_MAX      160
#define WH_DEFAULT_TIMEOUT 15000
#define WH_MAX_HIDDEN      128 /* strings redacted from outcome messages */
#define WH_HIDDEN_MIN      4   /* shorter strings are not worth hiding (nor hideable) */
#define WH_REDACTED        "[redacted]"

static const char *const format_names[WH_N_FORMATS] = {"generic",  "slack",    "discord",
                                                       "ntfy",     "matrix",   "mattermost",
                                                       "telegram", "pushover", "gotify"};

#define WH_FORMAT_LIST                                                                             \
	"generic, slack, discord, ntfy, matrix, mattermost, telegram, pushover, gotify"
#define WH_TELEGRAM_API    "https://api.telegram.org"
#define WH_PUSHOVER_API    "https://api.pushover.net/1/messages.json"
#define WH_PUSHOVER_RETRY  60   /* seconds between repeats of an urgent (priority 2) message */
#define WH_PUSHOVER_EXPIRE 3600 /* ... until it stops */
#define WH_KEY_MAX         256  /* chat_id, user */

struct wh_req;

struct webhook {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	const char *url; /* owned by the host's config */
	char *origin;    /* scheme://host[:port], safe to log */
	enum wh_format format;
	unsigned char key[WH_SECRET_MAX]; /* generic: the decoded signing secret */
	size_t key_len;
	char *token; /* matrix, ntfy: bearer token; telegram: bot token; pushover, gotify: app
	                token */
	const char *chat_id; /* telegram (owned by the host's config) */
	const char *user;    /* pushover: the user or group key (owned by the host's config) */
	const char *headers[WH_MAX_HEADERS];
	size_t n_headers;
	long timeout_ms;
	struct wh_req *reqs;       /* in flight */
	char *hide[WH_MAX_HIDDEN]; /* secret parts of the URL, token, headers; longest first */
	size_t n_hide;
};

/* One request in flight. */
struct wh_req {
	struct webhook *w;
	uint64_t token;
	char *url;
	char *body;
	char **hdrs;
	size_t n_hdrs;
	struct wh_req *prev, *next;
};

/* scheme://host[:port] of a URL, without user info, path or query. */
static char *url_origin(const char *url)
{
	const char *s = strstr(url, "://"), *h, *end, *at;
	char *out;

	if (s == NULL)
		return strdup("(invalid URL)");
	h = s + 3;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	if (asprintf(&out, "%.*s%.*s", (int)(s + 3 - url), url, (int)(end - h), h) < 0)
		return NULL;
	return out;
}

/* Remember s[0..n) as a string no outcome message may contain (once; short ones never). */
static void hide_add(struct webhook *w, const char *s, size_t n)
{
	if (n < WH_HIDDEN_MIN || w->n_hide >= WH_MAX_HIDDEN)
		return;
	for (size_t i = 0; i < w->n_hide; i++)
		if (strlen(w->hide[i]) == n && strncasecmp(w->hide[i], s, n) == 0)
			return;
	w->hide[w->n_hide] = strndup(s, n);
	if (w->hide[w->n_hide])
		w->n_hide++;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* s[0..n) percent-decoded ("+" stays: it is a space only in forms); NULL if out of memory. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_val(s[i + 1]) >= 0 && hex_val(s[i + 2]) >= 0) {
			*o++ = (char)(hex_val(s[i + 1]) * 16 + hex_val(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = 0;
	return out;
}

/*
 * Does a piece of a URL path look like a credential rather than a word of the receiver's
 * API ("services", "webhooks", "sendMessage", "m.room.message")? Long, or holding a digit,
 * or with several capitals among lower-case letters: Telegram's "bot123:AAH...", Slack's
 * "T0..." / "B0..." / 24-character secret, Discord's id and token, Matrix room ids.
 */
static bool token_like(const char *s, size_t n)
{
	size_t digits = 0, upper = 0, lower = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		digits += isdigit(c) != 0;
		upper += isupper(c) != 0;
		lower += islower(c) != 0;
	}
	return n >= 16 || (n >= 6 && digits > 0) || (n >= 8 && upper >= 2 && lower > 0);
}

/*
 * Hide the token-like pieces of s[0..n): its "/"-separated segments and, within them, the
 * runs of characters a token is made of (so "bot123:AAH..." also hides "AAH..."). When
 * every_segment, each segment is hidden whatever it looks like (an ntfy topic).
 */
static void hide_pieces(struct webhook *w, const char *s, size_t n, bool every_segment)
{
	static const char token_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                  "0123456789-._~%";

	for (size_t i = 0; i < n;) {
		size_t seg = 0;

		while (i + seg < n && s[i + seg] != '/')
			seg++;
		if (every_segment || token_like(s + i, seg))
			hide_add(w, s + i, seg);
		for (size_t j = 0; j < seg;) {
			size_t run = 0;

			while (j + run < seg && s[i + j + run] &&
			       strchr(token_chars, s[i + j + run]))
				run++;
			if (run && token_like(s + i + j, run))
				hide_add(w, s + i + j, run);
			j += run ? run : 1;
		}
		i += seg + 1;
	}
}

/* Hide s[0..n) and, when it differs, its percent-decoded form. */
static void hide_both(struct webhook *w, const char *s, size_t n)
{
	char *d = pct_decode(s, n);

	hide_add(w, s, n);
	if (d)
		hide_add(w, d, strlen(d));
	free(d);
}

static int by_length_desc(const void *a, const void *b)
{
	size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Collect what no outcome message may show: the configured URL whole; its user info, user
 * and password; everything after the host, the path, the query, the fragment and each
 * query value; every token-like piece of the path (raw and percent-decoded); every path
 * segment of an ntfy URL (the topic is the secret); the bearer token; the values of the
 * configured headers. A receiver that echoes the request (its path, a header) in an
 * error body, or curl's error text, then shows WH_REDACTED in their place.
 */
static void collect_hidden(struct webhook *w)
{
	const char *u = w->url, *host = strstr(u, "://"), *auth_end, *at, *q, *frag;

	hide_add(w, u, strlen(u));
	host = host ? host + 3 : u;
	auth_end = host + strcspn(host, "/?#");
	for (at = auth_end; at > host && at[-1] != '@'; at--)
		;
	if (at > host) {
		size_t ui = (size_t)(at - 1 - host), colon = strcspn(host, ":@");

		hide_both(w, host, ui);
		hide_both(w, host, colon < ui ? colon : ui);
		if (colon < ui)
			hide_both(w, host + colon + 1, ui - colon - 1);
	}
	hide_both(w, auth_end, strlen(auth_end));
	q = auth_end + strcspn(auth_end, "?#");
	frag = q + strcspn(q, "#");
	hide_both(w, auth_end, (size_t)(q - auth_end));
	for (int pass = 0; pass < 2; pass++) {
		char *path = pass ? pct_decode(auth_end, (size_t)(q - auth_end))
		                  : strndup(auth_end, (size_t)(q - auth_end));

		if (path)
			hide_pieces(w, path, strlen(path), w->format == WH_NTFY);
		free(path);
	}
	if (*q == '?') {
		hide_both(w, q + 1, (size_t)(frag - q - 1));
		for (const char *p = q + 1; p < frag;) {
			size_t len = strcspn(p, "&#"), eq = strcspn(p, "=&#");

			if (eq < len)
				hide_both(w, p + eq + 1, len - eq - 1);
			p += len + 1;
		}
	}
	if (*frag == '#')
		hide_both(w, frag + 1, strlen(frag + 1));
	if (w->token) {
		/* Whole, and its pieces: a receiver may echo Telegram's "<id>:<secret>" with
		   the colon percent-encoded. */
		hide_add(w, w->token, strlen(w->token));
		hide_pieces(w, w->token, strlen(w->token), false);
	}
	if (w->user)
		hide_add(w, w->user, strlen(w->user));
	for (size_t i = 0; i < w->n_headers; i++) {
		const char *v = strchr(w->headers[i], ':') + 1;

		v += strspn(v, " \t");
		hide_add(w, v, strlen(v));
		hide_pieces(w, v, strlen(v), false);
	}
	qsort(w->hide, w->n_hide, sizeof(w->hide[0]), by_length_desc);
}

/* s with every occurrence of hidden, in any case, replaced by WH_REDACTED; NULL: no memory. */
static char *replace_all(char *s, const char *hidden)
{
	size_t n = strlen(hidden), count = 0, len = strlen(s);
	char *out, *o;
	const char *p, *hit;

	for (p = s; (hit = strcasestr(p, hidden)) != NULL; p = hit + n)
		count++;
	if (count == 0)
		return s;
	out = malloc(len + count * sizeof(WH_REDACTED) + 1);
	if (out == NULL) {
		free(s);
		return NULL;
	}
	o = out;
	for (p = s; (hit = strcasestr(p, hidden)) != NULL; p = hit + n) {
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		memcpy(o, WH_REDACTED, sizeof(WH_REDACTED) - 1);
		o += sizeof(WH_REDACTED) - 1;
	}
	strcpy(o, p);
	free(s);
	return out;
}

/*
 * Copy text into out (outlen bytes) with every hidden string replaced, then cut: the cut
 * comes after the redaction, so it never leaves the start of a secret behind. When
 * replacing cannot finish (out of memory, or replacements that keep making new
 * occurrences), the text is withheld.
 */
static void redact(const struct webhook *w, const char *text, char *out, size_t outlen)
{
	char *s = strdup(text);
	bool clean = false;

	for (int round = 0; s && !clean && round < 4; round++) {
		for (size_t i = 0; s && i < w->n_hide; i++)
			s = replace_all(s, w->hide[i]);
		clean = true;
		for (size_t i = 0; s && clean && i < w->n_hide; i++)
			clean = strcasestr(s, w->hide[i]) == NULL;
	}
	snprintf(out, outlen, "%s", s && clean ? s : "(withheld: it held a secret of the URL)");
	free(s);
}

static int b64_decode(const char *in, unsigned char *out, size_t max, size_t *outlen)
{
	size_t n = strlen(in), pad = 0;
	unsigned char *tmp;
	int r;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > max + 2)
		return -EINVAL;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	tmp = malloc(n / 4 * 3 + 1);
	if (tmp == NULL)
		return -ENOMEM;
	r = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (r < 0 || (size_t)r < pad || (size_t)r - pad > max) {
		free(tmp);
		return -EINVAL;
	}
	memcpy(out, tmp, (size_t)r - pad);
	*outlen = (size_t)r - pad;
	OPENSSL_cleanse(tmp, n / 4 * 3 + 1);
	free(tmp);
	return 0;
}

/* Standard Webhooks: "whsec_" + base64 of 24 to 64 random bytes (the prefix is optional). */
static int load_signing_secret(struct webhook *w, const char *secret)
{
	if (strncmp(secret, "whsec_", 6) == 0)
		secret += 6;
	if (b64_decode(secret, w->key, sizeof(w->key), &w->key_len) < 0 ||
	    w->key_len < WH_SECRET_MIN) {
		w->key_len = 0;
		return -EINVAL;
	}
	return 0;
}

static bool header_ok(const char *h)
{
	const char *colon = strchr(h, ':');

	if (colon == NULL || colon == h || strlen(h) > WH_MAX_HEADER_LEN)
		return false;
	for (const char *p = h; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return false; /* CR or LF would smuggle another header */
	for (const char *p = h; p < colon; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

/* The secret file, judged for the format: the signing key (generic) or a token. */
static int settings_secret(const struct fw_host *host, struct fw_plugin_ctx *ctx, struct webhook *w)
{
	char *secret = NULL;
	const char *h;
	int r = host->cfg_secret(ctx, "secret", &secret);

	if (r == -ENOENT && host->cfg_string(ctx, "secret", &h) == -ENOENT) {
		r = 0;
	} else if (r < 0) {
		host->log(ctx, FW_LOG_ERR,
		          "cannot read the secret file (absolute, or relative to "
		          "$CREDENTIALS_DIRECTORY): %s",
		          strerror(-r));
		return r;
	} else if (w->format == WH_GENERIC) {
		r = load_signing_secret(w, secret);
		if (r < 0)
			host->log(ctx, FW_LOG_ERR,
			          "the secret must be \"whsec_\" + base64 of 24 to 64 bytes "
			          "(Standard Webhooks)");
	} else if (w->format != WH_SLACK && w->format != WH_DISCORD && w->format != WH_MATTERMOST) {
		bool ok = *secret && strlen(secret) <= WH_TOKEN_MAX;

		for (const char *p = secret; *p; p++)
			ok = ok && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f;
		if (ok) {
			w->token = secret;
			secret = NULL;
		} else {
			host->log(ctx, FW_LOG_ERR, "the token must be one printable word");
			r = -EINVAL;
		}
	} else {
		host->log(ctx, FW_LOG_ERR, "format \"%s\" takes no secret",
		          format_names[w->format]);
		r = -EINVAL;
	}
	if (secret) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	return r;
}

/* A short printable key (chat_id, user): 0, -ENOENT when absent, -EINVAL (logged). */
static int settings_word(const struct fw_host *host, struct fw_plugin_ctx *ctx, const char *key,
                         const char **out)
{
	int r = host->cfg_string(ctx, key, out);
	bool ok = r == 0 && **out && strlen(*out) <= WH_KEY_MAX;

	if (r == -ENOENT)
		return r;
	for (const char *p = r == 0 ? *out : ""; *p; p++)
		ok = ok && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f;
	if (!ok) {
		host->log(ctx, FW_LOG_ERR, "%s must be one printable word of at most %d bytes", key,
		          WH_KEY_MAX);
		return -EINVAL;
	}
	return 0;
}

/* What each format needs beyond url: its token, a chat, a user. */
static int settings_format(const struct fw_host *host, struct fw_plugin_ctx *ctx, struct webhook *w)
{
	static const char *const needs_token[WH_N_FORMATS] = {
	    [WH_MATRIX] = "an access token file",
	    [WH_TELEGRAM] = "the bot token file",
	    [WH_PUSHOVER] = "the application token file",
	    [WH_GOTIFY] = "the application token file",
	};
	const char *name = format_names[w->format];
	int r;

	r = settings_word(host, ctx, "chat_id", &w->chat_id);
	if (r == -EINVAL || (r == 0 && w->format != WH_TELEGRAM) ||
	    (r == -ENOENT && w->format == WH_TELEGRAM)) {
		if (r != -EINVAL)
			host->log(ctx, FW_LOG_ERR,
			          "chat_id belongs to format \"telegram\", which "
			          "needs it");
		return -EINVAL;
	}
	r = settings_word(host, ctx, "user", &w->user);
	if (r == -EINVAL || (r == 0 && w->format != WH_PUSHOVER) ||
	    (r == -ENOENT && w->format == WH_PUSHOVER)) {
		if (r != -EINVAL)
			host->log(ctx, FW_LOG_ERR,
			          "user (a user or group key) belongs to format "
			          "\"pushover\", which needs it");
		return -EINVAL;
	}
	if (needs_token[w->format] && w->token == NULL) {
		host->log(ctx, FW_LOG_ERR, "format \"%s\" needs secret = %s", name,
		          needs_token[w->format]);
		return -EINVAL;
	}
	return 0;
}

/* url (a default for telegram and pushover), checked; format. */
static int settings_url(const struct fw_host *host, struct fw_plugin_ctx *ctx, struct webhook *w)
{
	const char *format = "generic";
	size_t i;
	int r = host->cfg_string(ctx, "format", &format);

	if (r == -EINVAL) {
		host->log(ctx, FW_LOG_ERR, "format must be a string");
		return r;
	}
	for (i = 0; i < WH_N_FORMATS; i++)
		if (strcmp(format, format_names[i]) == 0)
			break;
	if (i == WH_N_FORMATS) {
		host->log(ctx, FW_LOG_ERR, "unknown format \"%s\" (" WH_FORMAT_LIST ")", format);
		return -EINVAL;
	}
	w->format = (enum wh_format)i;
	if (host->cfg_string(ctx, "url", &w->url) < 0) {
		w->url = w->format == WH_TELEGRAM   ? WH_TELEGRAM_API
		         : w->format == WH_PUSHOVER ? WH_PUSHOVER_API
		                                    : NULL;
		if (w->url == NULL) {
			host->log(ctx, FW_LOG_ERR, "needs a url = \"https://...\" (http or https)");
			return -EINVAL;
		}
	}
	if ((strncmp(w->url, "http://", 7) != 0 && strncmp(w->url, "https://", 8) != 0) ||
	    strlen(w->url) > WH_MAX_URL) {
		host->log(ctx, FW_LOG_ERR,
		          "url must start with http:// or https:// (and be at most %d bytes); "
		          "needs a url = \"https://...\"",
		          WH_MAX_URL);
		return -EINVAL;
	}
	w->origin = url_origin(w->url);
	return w->origin ? 0 : -ENOMEM;
}

/*
 * The settings of one instance, validated into w (shared by init and check, so that they
 * never disagree): url, format, headers, timeout, the secret read and judged, the keys of
 * the format. Logs each problem (never a secret); returns 0 or -errno. What it allocates,
 * webhook_fini frees.
 */
static int webhook_settings(const struct fw_host *host, struct fw_plugin_ctx *ctx,
                            struct webhook *w)
{
	const char *h;
	int64_t ms;
	int r;
	size_t i;

	w->timeout_ms = WH_DEFAULT_TIMEOUT;
	r = settings_url(host, ctx, w);
	if (r < 0)
		return r;
	for (i = 0; (r = host->cfg_strings(ctx, "headers", i, &h)) == 0; i++) {
		if (i >= WH_MAX_HEADERS || !header_ok(h)) {
			host->log(ctx, FW_LOG_ERR,
			          "headers: element %zu is not a \"Name: value\" line (at most %d, "
			          "no line breaks)",
			          i + 1, WH_MAX_HEADERS);
			return -EINVAL;
		}
		w->headers[w->n_headers++] = h;
	}
	if (r == -EINVAL) {
		host->log(ctx, FW_LOG_ERR, "headers must be an array of strings");
		return r;
	}
	r = host->cfg_duration_ms(ctx, "timeout", &ms);
	if (r == 0 && (ms <= 0 || ms > 3600 * 1000)) {
		host->log(ctx, FW_LOG_ERR, "timeout must be between 1s and 1h");
		return -EINVAL;
	} else if (r == 0) {
		w->timeout_ms = (long)ms;
	} else if (r != -ENOENT) {
		host->log(ctx, FW_LOG_ERR, "timeout must be a duration like \"10s\"");
		return r;
	}
	r = settings_secret(host, ctx, w);
	return r < 0 ? r : settings_format(host, ctx, w);
}

static void webhook_fini(void *state);

/* Check: the settings only (no request is made). */
static int webhook_check(const struct fw_host *host, struct fw_plugin_ctx *ctx)
{
	struct webhook *w = calloc(1, sizeof(*w));
	int r;

	if (w == NULL)
		return -ENOMEM;
	w->host = host;
	w->ctx = ctx;
	r = webhook_settings(host, ctx, w);
	webhook_fini(w);
	return r == -ENOMEM ? r : r < 0 ? -EINVAL : 0;
}

static int webhook_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct webhook *w = calloc(1, sizeof(*w));
	int r;

	if (w == NULL)
		return -ENOMEM;
	*state = w;
	w->host = host;
	w->ctx = ctx;
	r = webhook_settings(host, ctx, w);
	if (r < 0)
		return r;
	collect_hidden(w);
	host->log(ctx, FW_LOG_DEBUG, "%s webhook to %s", format_names[w->format], w->origin);
	return 0;
}

static struct wh_req *req_free(struct wh_req *r)
{
	if (r == NULL)
		return NULL;
	for (size_t i = 0; i < r->n_hdrs; i++)
		free(r->hdrs[i]);
	free(r->hdrs);
	free(r->url);
	free(r->body);
	free(r);
	return NULL;
}

static void req_unlink(struct wh_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->w->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static int req_header(struct wh_req *r, char *h)
{
	if (h == NULL)
		return -ENOMEM;
	r->hdrs[r->n_hdrs++] = h;
	return 0;
}

static int req_headerf(struct wh_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int req_headerf(struct wh_req *r, const char *fmt, ...)
{
	va_list ap;
	char *h;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&h, fmt, ap);
	va_end(ap);
	return req_header(r, n < 0 ? NULL : h);
}

/* webhook-signature: "v1," + base64(HMAC-SHA256(key, id "." timestamp "." body)). */
static int sign(struct webhook *w, struct wh_req *r, const char *id, int64_t ts)
{
	unsigned char mac[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	char prefix[160];
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[2];
	size_t out_len = 0;
	int n, ok;

	n = snprintf(prefix, sizeof(prefix), "%s.%" PRId64 ".", id, ts);
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = c && n > 0 && (size_t)n < sizeof(prefix) &&
	     EVP_MAC_init(c, w->key, w->key_len, params) == 1 &&
	     EVP_MAC_update(c, (const unsigned char *)prefix, (size_t)n) == 1 &&
	     EVP_MAC_update(c, (const unsigned char *)r->body, strlen(r->body)) == 1 &&
	     EVP_MAC_final(c, mac, &out_len, sizeof(mac)) == 1;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	if (!ok)
		return -EIO;
	EVP_EncodeBlock(b64, mac, (int)out_len);
	return req_headerf(r, "webhook-signature: v1,%s", (char *)b64);
}

/* Printable ASCII of a response body (a NUL-free copy); NULL when out of memory. */
static char *printable(const struct fw_http_response *res)
{
	size_t n = res->body ? res->body_len : 0;
	char *out = malloc(n + 1);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)res->body[i];

		out[i] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
	}
	out[n] = 0;
	return out;
}

static void http_cb(void *arg, const struct fw_http_response *res)
{
	struct wh_req *r = arg;
	struct webhook *w = r->w;
	enum fw_result result;
	char raw[512], msg[256], why[WH_REASON_MAX];
	long s = res->status;

	if (res->error == 0 && s >= 200 && s < 300) {
		result = FW_DELIVERED;
		snprintf(raw, sizeof(raw), "HTTP %ld", s);
	} else if (res->error != 0 || s == 0) {
		result = FW_RETRY;
		redact(w, res->error_text && *res->error_text ? res->error_text : "no response",
		       why, sizeof(why));
		snprintf(raw, sizeof(raw), "%s: %s", w->origin, why);
	} else {
		char *body = printable(res);

		if (s == 410)
			result = FW_DISABLE;
		else if (s == 408 || s == 425 || s == 429 || s >= 500)
			result = FW_RETRY;
		else
			result = FW_FAILED;
		/* The receiver's words may echo the request (its path, a header): redact the
		   whole body before it is cut to a reason. */
		redact(w, body ? body : "", why, sizeof(why));
		free(body);
		snprintf(raw, sizeof(raw), "HTTP %ld from %s%s%s", s, w->origin, *why ? ": " : "",
		         why);
	}
	redact(w, raw, msg, sizeof(msg));
	req_unlink(r);
	w->host->done(w->ctx, r->token, result, result == FW_RETRY ? res->retry_after : -1, msg);
	req_free(r);
}

/* The delivery id: the alert id, or for a digest one naming its first alert and size. */
static void delivery_id(const struct fw_alert *a, char *buf, size_t len)
{
	if (a->n_digest > 0)
		snprintf(buf, len, "digest-%zu-%s", a->n_digest, a->id);
	else
		snprintf(buf, len, "%s", a->id);
}

/* The request URL: Matrix appends the transaction id, Telegram the bot token and method,
   Gotify its endpoint. NULL when out of memory. */
static char *request_url(const struct webhook *w, const char *id)
{
	size_t n = strlen(w->url);
	const char *slash = n && w->url[n - 1] == '/' ? "" : "/";
	char *u = NULL;
	int r = 0;

	if (w->format == WH_MATRIX) /* PUT .../send/m.room.message/{txnId}: a repeat is dropped */
		r = asprintf(&u, "%s%s%s", w->url, slash, id);
	else if (w->format == WH_TELEGRAM)
		r = asprintf(&u, "%s%sbot%s/sendMessage", w->url, slash, w->token);
	else if (w->format == WH_GOTIFY)
		r = asprintf(&u, "%s%smessage", w->url, slash);
	else
		u = strdup(w->url);
	return r < 0 ? NULL : u;
}

/* The headers of one request: the payload's, the id, the token, signing, the configured. */
static int request_headers(struct webhook *w, struct wh_req *r, struct fw_payload *p,
                           const char *id)
{
	for (size_t i = 0; i < p->n_headers; i++) {
		if (req_header(r, p->headers[i]) < 0)
			return -ENOMEM;
		p->headers[i] = NULL;
	}
	p->n_headers = 0;
	if (req_headerf(r, "Idempotency-Key: %s", id) < 0)
		return -ENOMEM;
	if ((w->format == WH_MATRIX || w->format == WH_NTFY) && w->token &&
	    req_headerf(r, "Authorization: Bearer %s", w->token) < 0)
		return -ENOMEM;
	if (w->format == WH_GOTIFY && req_headerf(r, "X-Gotify-Key: %s", w->token) < 0)
		return -ENOMEM;
	if (w->format == WH_GENERIC) {
		int64_t ts = (int64_t)time(NULL);

		if (req_headerf(r, "webhook-id: %s", id) < 0 ||
		    req_headerf(r, "webhook-timestamp: %" PRId64, ts) < 0)
			return -ENOMEM;
		if (w->key_len > 0 && sign(w, r, id, ts) < 0)
			return -EIO;
	}
	for (size_t i = 0; i < w->n_headers; i++)
		if (req_header(r, strdup(w->headers[i])) < 0)
			return -ENOMEM;
	return 0;
}

static int webhook_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct webhook *w = state;
	struct wh_req *r = calloc(1, sizeof(*r));
	struct fw_payload p = {0};
	struct fw_payload_opts o = {
	    .format = w->format,
	    .chat_id = w->chat_id,
	    .user = w->user,
	    .app_key = w->format == WH_PUSHOVER ? w->token : NULL,
	    .pushover_retry = WH_PUSHOVER_RETRY,
	    .pushover_expire = WH_PUSHOVER_EXPIRE,
	};
	char id[128];
	int rc = -ENOMEM;
	struct fw_http_request req = {.struct_size = sizeof(req)};

	if (r == NULL)
		return -ENOMEM;
	r->w = w;
	r->token = token;
	r->hdrs = calloc(WH_MAX_HEADERS + WH_PAYLOAD_HEADERS + 8, sizeof(char *));
	if (r->hdrs == NULL)
		goto fail;
	delivery_id(a, id, sizeof(id));
	rc = fw_payload_build(&o, a->json, &p);
	if (rc < 0)
		goto fail;
	r->body = p.body;
	p.body = NULL;
	r->url = request_url(w, id);
	rc = r->url ? request_headers(w, r, &p, id) : -ENOMEM;
	if (rc < 0)
		goto fail;
	req.method = w->format == WH_MATRIX ? "PUT" : "POST";
	req.url = r->url;
	req.headers = (const char *const *)r->hdrs;
	req.n_headers = r->n_hdrs;
	req.body = r->body;
	req.body_len = strlen(r->body);
	req.timeout_ms = w->timeout_ms;
	r->next = w->reqs;
	if (r->next)
		r->next->prev = r;
	w->reqs = r;
	rc = w->host->http(w->ctx, &req, http_cb, r);
	if (rc < 0) {
		req_unlink(r);
		goto fail;
	}
	return 0;
fail:
	fw_payload_free(&p);
	req_free(r);
	return rc;
}

static void webhook_fini(void *state)
{
	struct webhook *w = state;

	if (w == NULL)
		return;
	/* The host has cancelled what was in flight; those callbacks never run. */
	while (w->reqs) {
		struct wh_req *r = w->reqs;

		req_unlink(r);
		req_free(r);
	}
	if (w->token) {
		OPENSSL_cleanse(w->token, strlen(w->token));
		free(w->token);
	}
	OPENSSL_cleanse(w->key, sizeof(w->key));
	for (size_t i = 0; i < w->n_hide; i++) {
		OPENSSL_cleanse(w->hide[i], strlen(w->hide[i]));
		free(w->hide[i]);
	}
	free(w->origin);
	free(w);
}

static const struct fw_plugin_key webhook_keys[] = {
    {"url", FW_KEY_STRING,
     "where to send (http or https; telegram: the Bot API base, gotify: the server); only "
     "scheme://host is ever logged"},
    {"format", FW_KEY_STRING,
     "\"generic\" (the alert JSON, Standard Webhooks signed), \"slack\", \"discord\", "
     "\"ntfy\", \"matrix\", \"mattermost\", \"telegram\", \"pushover\" or \"gotify\""},
    {"secret", FW_KEY_STRING,
     "a file: the whsec_ signing secret (generic), an access token (matrix, ntfy), the bot "
     "token (telegram) or the application token (pushover, gotify)"},
    {"chat_id", FW_KEY_STRING, "telegram: the chat (a number or @channelname)"},
    {"user", FW_KEY_STRING, "pushover: the user or group key"},
    {"headers", FW_KEY_STRINGS, "extra request headers, [ \"Name: value\", ... ]"},
    {"timeout", FW_KEY_DURATION, "time for one request (default 15s)"},
    {NULL, 0, NULL},
};

FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_plugin),
    .name = "webhook",
    .version = "1.0",
    .description = "HTTP POST to a webhook: generic (signed), Slack, Discord, ntfy, Matrix, "
                   "Mattermost, Telegram, Pushover, Gotify",
    .flags = 0,
    .keys = webhook_keys,
    .init = webhook_init,
    .deliver = webhook_deliver,
    .reopen = NULL,
    .fini = webhook_fini,
    .check = webhook_check,
};
