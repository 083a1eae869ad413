/*
 * email.c - the email output: one MIME message per alert (or digest), sent with libcurl's
 * SMTP client.
 *
 * Keys: url             (required) smtp://host[:port] (STARTTLS per `starttls`) or
 *                       smtps://host[:port] (implicit TLS); no user info, no path
 *       from            (required) the envelope and header sender, user@example.org
 *       from_name       a display name for From (RFC 2047 encoded when not ASCII)
 *       to              (required) recipients, an array of addresses (at most 32)
 *       starttls        "require" (default: no TLS, no mail), "try" or "no"
 *       username        SMTP AUTH user; needs `secret`
 *       secret          a file holding the SMTP password (absolute, or relative to
 *                       $CREDENTIALS_DIRECTORY)
 *       subject_prefix  put before every Subject, e.g. "[feedwatch] "
 *       timeout         time for one whole SMTP session (duration, default 30s)
 *       ca_file         a CA bundle to verify the server with (default: the system's)
 *
 * Each alert is one multipart/alternative message (text/plain and text/html, UTF-8,
 * base64 bodies in 76-character lines), Subject = the item title (RFC 2047 encoded-words,
 * folded), Message-ID = <alert-id@feedwatch> (<digest-N-id@feedwatch> for a digest), so a
 * retried send carries the same id. A digest is one message listing every item.
 * The alert's priority sets Importance and X-Priority (low: low / 5; normal: none; high:
 * high / 2; urgent: high / 1). Its title template (plugins/common/template.h) replaces the
 * item title in the Subject, its body template the text of each alert (HTML-escaped in the
 * HTML part). A story update (story.new false) is one message listing the added items,
 * Subject "Re: <story title>", with In-Reply-To and References set to the Message-ID of the
 * story's first alert (<first_alert@feedwatch>), so that mail clients thread it. Every
 * header value is built from configuration checked at init or from alert text with its
 * control characters (CR, LF...) replaced, so no header can be injected.
 *
 * SMTP is not HTTP, so host->http cannot carry it: the plugin is FW_PLUGIN_BLOCKING and
 * deliver() runs a blocking curl_easy_perform() on the host's worker thread, bounded by
 * `timeout`. Outcome: delivered on success; TLS failures (STARTTLS refused while
 * required), 4xx replies and transport errors are retried; a 5xx reply is a dead letter.
 * The outcome message carries the server's last reply line, never the password.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include <feedwatch/plugin.h>

#include "../common/template.h"
#include "../common/textbuf.h"

#define EM_MAX_TO          32
#define EM_MAX_ADDR        254 /* RFC 5321 path limit */
#define EM_MAX_NAME        200
#define EM_MAX_PREFIX      100
#define EM_MAX_URL         2048
#define EM_SUBJECT_MAX     600     /* bytes of prefix + title in the Subject */
#define EM_WORD_BYTES      42      /* raw bytes per encoded-word: 56 base64 + 12 <= 75 */
#define EM_BODY_MAX        1048576 /* bytes of one text or HTML part before encoding */
#define EM_REPLY_MAX       200
#define EM_DEFAULT_TIMEOUT 30000
#define EM_STORY_LIST      20 /* added items listed in a story update (the host sends <= 20) */

enum em_tls { EM_TLS_REQUIRE, EM_TLS_TRY, EM_TLS_NO };

struct email {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	const char *url; /* owned by the host's config */
	char *origin;    /* scheme://host:port, safe to log */
	const char *from;
	const char *from_name;
	const char *to[EM_MAX_TO];
	size_t n_to;
	enum em_tls tls;
	const char *username;
	char *password;
	const char *subject_prefix;
	char *ca_file;
	long timeout_ms;
};

/* s with every control character (CR, LF, TAB, ...) as a space: for headers and lines. */
static void buf_line(struct fw_textbuf *b, const char *s)
{
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		fw_textbuf_add(b, c < 0x20 || c == 0x7f ? " " : p, 1);
	}
}

/* s HTML-escaped (&, <, >, ", '), control characters as spaces. */
static void buf_html(struct fw_textbuf *b, const char *s)
{
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '&')
			fw_textbuf_puts(b, "&amp;");
		else if (c == '<')
			fw_textbuf_puts(b, "&lt;");
		else if (c == '>')
			fw_textbuf_puts(b, "&gt;");
		else if (c == '"')
			fw_textbuf_puts(b, "&quot;");
		else if (c == '\'')
			fw_textbuf_puts(b, "&#39;");
		else
			fw_textbuf_add(b, c < 0x20 || c == 0x7f ? " " : p, 1);
	}
}

static void buf_free(struct fw_textbuf *b)
{
	free(b->p);
	b->p = NULL;
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 of s[0..n) appended to b; with wrap, in lines of 76 characters ending in CRLF. */
static void buf_b64(struct fw_textbuf *b, const unsigned char *s, size_t n, bool wrap)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = b64_chars[(v >> 18) & 63];
		q[1] = b64_chars[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64_chars[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64_chars[v & 63] : '=';
		fw_textbuf_add(b, q, 4);
		col += 4;
		if (wrap && col >= 76) {
			fw_textbuf_puts(b, "\r\n");
			col = 0;
		}
	}
	if (wrap && col > 0)
		fw_textbuf_puts(b, "\r\n");
}

/* The length of the longest prefix of s[0..n), at most max bytes, ending on a UTF-8
   character boundary. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * Append an unstructured header value (RFC 5322 2.2.1, RFC 2047): printable ASCII that
 * fits on the line as is; anything else as UTF-8 "B" encoded-words of at most 75
 * characters, one per folded line, each holding whole characters. used: the characters
 * already on the line ("Subject: "). phrase: a display name, where RFC 5322 specials
 * ("," "<" "@"...) would change the address list, so a value with one is encoded.
 */
static void buf_header_text(struct fw_textbuf *b, const char *value, size_t used, bool phrase)
{
	size_t n = utf8_cut(value, strlen(value), EM_SUBJECT_MAX);
	char *clean = strndup(value, n);
	bool plain = clean != NULL && used + n <= 78 && strstr(clean, "=?") == NULL &&
	             (!phrase || strpbrk(clean, "()<>[]:;@\\,.\"") == NULL);

	if (clean == NULL) {
		b->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)clean[i];

		if (c < 0x20 || c == 0x7f)
			clean[i] = ' ';
		plain = plain && c >= 0x20 && c < 0x7f;
	}
	if (plain) {
		fw_textbuf_puts(b, clean);
		free(clean);
		return;
	}
	for (size_t off = 0; off == 0 || off < n;) {
		size_t k = utf8_cut(clean + off, n - off, EM_WORD_BYTES);

		if (k == 0 && off < n)
			k = 1; /* a stray continuation byte: keep going */
		if (off > 0)
			fw_textbuf_puts(b, "\r\n ");
		fw_textbuf_puts(b, "=?UTF-8?B?");
		buf_b64(b, (const unsigned char *)clean + off, k, false);
		fw_textbuf_puts(b, "?=");
		off += k;
		if (k == 0)
			break; /* an empty value */
	}
	free(clean);
}

/* An addr-spec we are willing to put in an envelope and a header: printable ASCII, no
   spaces, quotes, brackets, commas or semicolons, one "@" with text on both sides. */
static bool addr_ok(const char *a)
{
	const char *at = strchr(a, '@');
	size_t n = strlen(a);

	if (n == 0 || n > EM_MAX_ADDR || at == NULL || at == a || at[1] == 0 ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (const char *p = a; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
			return false;
	}
	return true;
}

/* url must be smtp:// or smtps:// with a host, no user info (secrets go in `secret`) and
   no query; origin gets scheme://host:port. Returns 0 or -EINVAL with why set. */
static int check_url(const char *url, char **origin, const char **why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *user = NULL, *port = NULL, *query = NULL;
	int r = -EINVAL;

	*why = "url must be \"smtp://host[:port]\" or \"smtps://host[:port]\"";
	if (u == NULL)
		return -ENOMEM;
	if (strlen(url) > EM_MAX_URL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		goto out;
	if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)
		goto out;
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		*why = "url must not hold a user or password: use username and secret";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
		goto out;
	curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (asprintf(origin, "%s://%s:%s", scheme, h, port ? port : "?") < 0) {
		*origin = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = 0;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(user);
	curl_free(port);
	curl_free(query);
	curl_url_cleanup(u);
	return r;
}

/* Is the server on this machine (where a password may travel without TLS)? */
static bool origin_local(const char *origin)
{
	const char *h = strstr(origin, "://") + 3;

	return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost:", 10) == 0 ||
	       strncmp(h, "[::1]:", 6) == 0;
}

static int init_strings(struct email *e)
{
	const struct fw_host *host = e->host;
	struct fw_plugin_ctx *ctx = e->ctx;
	const char *s = NULL;
	size_t i;
	int r;

	if (host->cfg_string(ctx, "from", &e->from) < 0 || !addr_ok(e->from)) {
		host->log(ctx, FW_LOG_ERR, "needs from = \"user@example.org\" (a plain address)");
		return -EINVAL;
	}
	for (i = 0; (r = host->cfg_strings(ctx, "to", i, &s)) == 0; i++) {
		if (i >= EM_MAX_TO || !addr_ok(s)) {
			host->log(
			    ctx, FW_LOG_ERR,
			    "to: element %zu is not a plain address like \"user@example.org\" "
			    "(at most %d)",
			    i + 1, EM_MAX_TO);
			return -EINVAL;
		}
		e->to[e->n_to++] = s;
	}
	if (r == -EINVAL || e->n_to == 0) {
		host->log(ctx, FW_LOG_ERR,
		          "needs to = [ \"user@example.org\", ... ] (one or more)");
		return -EINVAL;
	}
	r = host->cfg_string(ctx, "from_name", &e->from_name);
	if (r == -EINVAL || (r == 0 && strlen(e->from_name) > EM_MAX_NAME)) {
		host->log(ctx, FW_LOG_ERR, "from_name must be a string of at most %d bytes",
		          EM_MAX_NAME);
		return -EINVAL;
	}
	r = host->cfg_string(ctx, "subject_prefix", &e->subject_prefix);
	if (r == -EINVAL || (r == 0 && strlen(e->subject_prefix) > EM_MAX_PREFIX)) {
		host->log(ctx, FW_LOG_ERR, "subject_prefix must be a string of at most %d bytes",
		          EM_MAX_PREFIX);
		return -EINVAL;
	}
	s = "require";
	if (host->cfg_string(ctx, "starttls", &s) == -EINVAL || s == NULL)
		s = "";
	if (strcmp(s, "require") == 0) {
		e->tls = EM_TLS_REQUIRE;
	} else if (strcmp(s, "try") == 0) {
		e->tls = EM_TLS_TRY;
	} else if (strcmp(s, "no") == 0) {
		e->tls = EM_TLS_NO;
	} else {
		host->log(ctx, FW_LOG_ERR,
		          "starttls must be \"require\", \"try\" or \"no\", not \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

/* username and secret come together; a password leaves this machine only over TLS. */
static int init_auth(struct email *e)
{
	const struct fw_host *host = e->host;
	struct fw_plugin_ctx *ctx = e->ctx;
	const char *s;
	int r, ru;

	ru = host->cfg_string(ctx, "username", &e->username);
	if (ru == -EINVAL) {
		host->log(ctx, FW_LOG_ERR, "username must be a string");
		return ru;
	}
	r = host->cfg_secret(ctx, "secret", &e->password);
	if (r == -ENOENT && host->cfg_string(ctx, "secret", &s) == -ENOENT) {
		r = 0;
	} else if (r < 0) {
		host->log(ctx, FW_LOG_ERR,
		          "cannot read the secret file (absolute, or relative to "
		          "$CREDENTIALS_DIRECTORY): %s",
		          strerror(-r));
		return r;
	}
	if ((ru == 0) != (e->password != NULL)) {
		host->log(ctx, FW_LOG_ERR, "username and secret (the password file) go together");
		return -EINVAL;
	}
	if (e->password && strncmp(e->url, "smtps://", 8) != 0 && e->tls != EM_TLS_REQUIRE &&
	    !origin_local(e->origin)) {
		host->log(
		    ctx, FW_LOG_ERR,
		    "a password is sent only over TLS: use starttls = \"require\" or smtps://");
		return -EINVAL;
	}
	return 0;
}

/*
 * The settings of one instance, validated into e (e->host and e->ctx set; shared by init
 * and check, so that they never disagree): url, addresses, starttls, timeout, ca_file, and
 * the password read and judged. Logs each problem (never the password); returns 0 or
 * -errno. What it allocates, email_fini frees.
 */
static int email_settings(struct email *e)
{
	const struct fw_host *host = e->host;
	struct fw_plugin_ctx *ctx = e->ctx;
	const char *why;
	int64_t ms;
	int r;

	e->timeout_ms = EM_DEFAULT_TIMEOUT;
	if (host->cfg_string(ctx, "url", &e->url) < 0) {
		host->log(ctx, FW_LOG_ERR,
		          "needs url = \"smtp://host:587\" or \"smtps://host:465\"");
		return -EINVAL;
	}
	r = check_url(e->url, &e->origin, &why);
	if (r < 0) {
		host->log(ctx, FW_LOG_ERR, "%s", r == -ENOMEM ? strerror(ENOMEM) : why);
		return r;
	}
	r = init_strings(e);
	if (r < 0)
		return r;
	r = host->cfg_duration_ms(ctx, "timeout", &ms);
	if (r == 0 && (ms < 1000 || ms > 3600 * 1000)) {
		host->log(ctx, FW_LOG_ERR, "timeout must be between 1s and 1h");
		return -EINVAL;
	} else if (r == 0) {
		e->timeout_ms = (long)ms;
	} else if (r != -ENOENT) {
		host->log(ctx, FW_LOG_ERR, "timeout must be a duration like \"30s\"");
		return r;
	}
	r = host->cfg_path(ctx, "ca_file", &e->ca_file);
	if (r < 0 && r != -ENOENT) {
		host->log(ctx, FW_LOG_ERR, "ca_file must be a file name");
		return r;
	}
	return init_auth(e);
}

static void email_fini(void *state);

/* Check: the settings only (no connection is made). */
static int email_check(const struct fw_host *host, struct fw_plugin_ctx *ctx)
{
	struct email *e = calloc(1, sizeof(*e));
	int r;

	if (e == NULL)
		return -ENOMEM;
	e->host = host;
	e->ctx = ctx;
	r = email_settings(e);
	email_fini(e);
	return r == -ENOMEM ? r : r < 0 ? -EINVAL : 0;
}

static int email_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct email *e = calloc(1, sizeof(*e));
	int r;

	if (e == NULL)
		return -ENOMEM;
	*state = e;
	e->host = host;
	e->ctx = ctx;
	r = email_settings(e);
	if (r < 0)
		return r;
	host->log(ctx, FW_LOG_DEBUG, "email to %zu recipient(s) through %s", e->n_to, e->origin);
	return 0;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* The item's link when it is a web link, else NULL. */
static const char *web_link(json_t *item)
{
	const char *l = json_string_value(json_object_get(item, "link"));

	if (l && (strncasecmp(l, "http://", 7) == 0 || strncasecmp(l, "https://", 8) == 0))
		return l;
	return NULL;
}

/* Template escapes (plugins/common/template.h), one character at a time. Text: line breaks
   as CRLF, other control characters as spaces. */
static void esc_text(struct fw_textbuf *b, const char *s, size_t n, void *ctx)
{
	(void)ctx;
	if (n == 1 && *s == '\n')
		fw_textbuf_puts(b, "\r\n");
	else if (n == 1 && ((unsigned char)*s < 0x20 || *s == 0x7f))
		fw_textbuf_puts(b, " ");
	else
		fw_textbuf_add(b, s, n);
}

/* HTML: escaped (& < > " '), line breaks as <br>. */
static void esc_html(struct fw_textbuf *b, const char *s, size_t n, void *ctx)
{
	if (n == 1 && *s == '\n')
		fw_textbuf_puts(b, "<br>\r\n");
	else if (n == 1 && ((unsigned char)*s < 0x20 || *s == 0x7f))
		fw_textbuf_puts(b, " ");
	else
		fw_template_escape_html(b, s, n, ctx);
}

/* Append the alert's body template rendered with esc between pre and post: 0, or -1 when
   it has none or it does not render (queued under an older config): then the plugin's own
   text is used. */
static int body_template(struct fw_textbuf *b, json_t *a, fw_template_escape_fn esc,
                         const char *pre, const char *post)
{
	const char *tpl = fw_template_get(a, "body");
	struct fw_textbuf t = {.max = EM_BODY_MAX};

	if (tpl == NULL || fw_template_render(tpl, a, esc, NULL, &t) < 0) {
		buf_free(&t);
		return -1;
	}
	fw_textbuf_puts(b, pre);
	fw_textbuf_add(b, t.p ? t.p : "", t.len);
	fw_textbuf_puts(b, post);
	b->oom = b->oom || t.oom;
	buf_free(&t);
	return 0;
}

/* One alert in plain text: title, link, why it fired, summary, feed; or its body
   template. */
static void text_alert(struct fw_textbuf *b, json_t *a, bool digest)
{
	json_t *item = json_object_get(a, "item"), *ex = json_object_get(a, "explain");
	const char *link = web_link(item), *v;

	if (body_template(b, a, esc_text, digest ? "* " : "", "\r\n") == 0)
		return;

	fw_textbuf_puts(b, digest ? "* " : "");
	buf_line(b, jstr(item, "title"));
	fw_textbuf_puts(b, "\r\n");
	if (link) {
		fw_textbuf_puts(b, digest ? "  " : "");
		buf_line(b, link);
		fw_textbuf_puts(b, "\r\n");
	}
	fw_textbuf_puts(b, digest ? "  Why:\r\n" : "\r\nWhy it fired:\r\n");
	for (size_t i = 0; i < json_array_size(ex); i++) {
		json_t *x = json_array_get(ex, i);

		fw_textbuf_puts(b, digest ? "  - " : "- ");
		buf_line(b, jstr(x, "term"));
		fw_textbuf_puts(b, " matched \"");
		buf_line(b, jstr(x, "text"));
		fw_textbuf_puts(b, "\" (alias \"");
		buf_line(b, jstr(x, "alias"));
		fw_textbuf_puts(b, "\") in ");
		buf_line(b, jstr(x, "field"));
		fw_textbuf_puts(b, ", watchlist ");
		buf_line(b, jstr(x, "watchlist"));
		fw_textbuf_puts(b, digest ? "\r\n    " : "\r\n  ");
		buf_line(b, jstr(x, "snippet"));
		fw_textbuf_puts(b, "\r\n");
	}
	v = jstr(item, "summary");
	if (*v) {
		fw_textbuf_puts(b, digest ? "  " : "\r\n");
		buf_line(b, v);
		fw_textbuf_puts(b, "\r\n");
	}
	fw_textbuf_puts(b, digest ? "  Feed: " : "\r\nFeed: ");
	buf_line(b, jstr(json_object_get(a, "feed"), "name"));
	v = json_string_value(json_object_get(item, "published"));
	if (v) {
		fw_textbuf_puts(b, ", published ");
		buf_line(b, v);
	}
	fw_textbuf_puts(b, "\r\n");
}

/* One alert in HTML: every value escaped; only web links become href. Or its body
   template, escaped. */
static void html_alert(struct fw_textbuf *b, json_t *a, bool digest)
{
	json_t *item = json_object_get(a, "item"), *ex = json_object_get(a, "explain");
	const char *link = web_link(item), *v;

	if (body_template(b, a, esc_html, digest ? "<li><p>" : "<p>",
	                  digest ? "</p></li>\r\n" : "</p>\r\n") == 0)
		return;

	fw_textbuf_puts(b, digest ? "<li>" : "");
	fw_textbuf_puts(b, digest ? "<p><b>" : "<h2>");
	if (link) {
		fw_textbuf_puts(b, "<a href=\"");
		buf_html(b, link);
		fw_textbuf_puts(b, "\">");
	}
	buf_html(b, jstr(item, "title"));
	fw_textbuf_puts(b, link ? "</a>" : "");
	fw_textbuf_puts(b, digest ? "</b></p>\r\n" : "</h2>\r\n");
	if (link) {
		fw_textbuf_puts(b, "<p><a href=\"");
		buf_html(b, link);
		fw_textbuf_puts(b, "\">");
		buf_html(b, link);
		fw_textbuf_puts(b, "</a></p>\r\n");
	}
	fw_textbuf_puts(b, "<p>Why it fired:</p>\r\n<ul>\r\n");
	for (size_t i = 0; i < json_array_size(ex); i++) {
		json_t *x = json_array_get(ex, i);

		fw_textbuf_puts(b, "<li><code>");
		buf_html(b, jstr(x, "term"));
		fw_textbuf_puts(b, "</code> matched &quot;<b>");
		buf_html(b, jstr(x, "text"));
		fw_textbuf_puts(b, "</b>&quot; (alias &quot;");
		buf_html(b, jstr(x, "alias"));
		fw_textbuf_puts(b, "&quot;) in ");
		buf_html(b, jstr(x, "field"));
		fw_textbuf_puts(b, ", watchlist ");
		buf_html(b, jstr(x, "watchlist"));
		fw_textbuf_puts(b, "<br><i>");
		buf_html(b, jstr(x, "snippet"));
		fw_textbuf_puts(b, "</i></li>\r\n");
	}
	fw_textbuf_puts(b, "</ul>\r\n");
	v = jstr(item, "summary");
	if (*v) {
		fw_textbuf_puts(b, "<p>");
		buf_html(b, v);
		fw_textbuf_puts(b, "</p>\r\n");
	}
	fw_textbuf_puts(b, "<p><small>Feed: ");
	buf_html(b, jstr(json_object_get(a, "feed"), "name"));
	v = json_string_value(json_object_get(item, "published"));
	if (v) {
		fw_textbuf_puts(b, ", published ");
		buf_html(b, v);
	}
	fw_textbuf_puts(b, "</small></p>\r\n");
	fw_textbuf_puts(b, digest ? "</li>\r\n" : "");
}

/* The alerts of a payload: the object itself, or the "alerts" of a digest. */
static size_t payload_alerts(json_t *root, json_t **arr)
{
	*arr = json_object_get(root, "alerts");
	if (json_object_get(root, "digest") && json_is_array(*arr))
		return json_array_size(*arr);
	*arr = NULL;
	return 1;
}

/* The story of a story update (story.new false, not a digest), else NULL. */
static json_t *story_update(json_t *root)
{
	json_t *st = json_object_get(root, "story");

	return json_object_get(root, "digest") == NULL && json_is_object(st) &&
	               json_is_false(json_object_get(st, "new"))
	           ? st
	           : NULL;
}

/* A story update: the story's title, how much it grew, the body template if any, then
   each added item (title, link, feed and date), in text and in HTML. */
static void story_parts(json_t *root, json_t *st, struct fw_textbuf *text, struct fw_textbuf *html)
{
	json_t *added = json_object_get(st, "added");
	size_t n = json_array_size(added), feeds = fw_template_added_feeds(st);
	json_int_t more = json_integer_value(json_object_get(st, "more"));
	char line[200];

	snprintf(line, sizeof(line),
	         "+%lld items from %zu feed%s (%lld items from %lld feeds in all)",
	         (long long)n + (more > 0 ? (long long)more : 0), feeds, feeds == 1 ? "" : "s",
	         (long long)json_integer_value(json_object_get(st, "items")),
	         (long long)json_integer_value(json_object_get(st, "feeds")));
	fw_textbuf_puts(text, "Story: ");
	buf_line(text, jstr(st, "title"));
	fw_textbuf_puts(text, "\r\n");
	fw_textbuf_puts(text, line);
	fw_textbuf_puts(text, "\r\n\r\n");
	fw_textbuf_puts(html, "<h2>");
	buf_html(html, jstr(st, "title"));
	fw_textbuf_puts(html, "</h2>\r\n<p>");
	fw_textbuf_puts(html, line);
	fw_textbuf_puts(html, "</p>\r\n");
	body_template(text, root, esc_text, "", "\r\n\r\n");
	body_template(html, root, esc_html, "<p>", "</p>\r\n");
	fw_textbuf_puts(html, "<ul>\r\n");
	for (size_t i = 0; i < n && i < EM_STORY_LIST; i++) {
		json_t *x = json_array_get(added, i);
		const char *link = web_link(x),
		           *pub = json_string_value(json_object_get(x, "published"));

		fw_textbuf_puts(text, "* ");
		buf_line(text, jstr(x, "title"));
		fw_textbuf_puts(html, "<li>");
		if (link) {
			fw_textbuf_puts(text, "\r\n  ");
			buf_line(text, link);
			fw_textbuf_puts(html, "<a href=\"");
			buf_html(html, link);
			fw_textbuf_puts(html, "\">");
		}
		buf_html(html, jstr(x, "title"));
		fw_textbuf_puts(html, link ? "</a> <small>" : " <small>");
		fw_textbuf_puts(text, "\r\n  ");
		buf_line(text, jstr(x, "feed"));
		buf_html(html, jstr(x, "feed"));
		if (pub) {
			fw_textbuf_puts(text, ", ");
			buf_line(text, pub);
			fw_textbuf_puts(html, ", ");
			buf_html(html, pub);
		}
		fw_textbuf_puts(text, "\r\n");
		fw_textbuf_puts(html, "</small></li>\r\n");
	}
	fw_textbuf_puts(html, "</ul>\r\n");
	if (more > 0) {
		snprintf(line, sizeof(line), "and %lld more\r\n", (long long)more);
		fw_textbuf_puts(text, line);
		snprintf(line, sizeof(line), "<p>and %lld more</p>\r\n", (long long)more);
		fw_textbuf_puts(html, line);
	}
}

/* The text and the HTML part of one payload (NUL-terminated, CRLF lines). */
static int render_parts(json_t *root, struct fw_textbuf *text, struct fw_textbuf *html)
{
	json_t *arr = NULL, *st = story_update(root);
	size_t n = st ? 0 : payload_alerts(root, &arr);
	char line[96];

	text->max = html->max = EM_BODY_MAX;
	fw_textbuf_puts(html,
	                "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"></head><body>\r\n");
	if (arr) {
		snprintf(line, sizeof(line), "%zu alerts (digest)\r\n\r\n", n);
		fw_textbuf_puts(text, line);
		snprintf(line, sizeof(line), "<h2>%zu alerts (digest)</h2>\r\n<ul>\r\n", n);
		fw_textbuf_puts(html, line);
	}
	if (st)
		story_parts(root, st, text, html);
	for (size_t i = 0; i < n; i++) {
		json_t *a = arr ? json_array_get(arr, i) : root;

		if (i)
			fw_textbuf_puts(text, "\r\n");
		text_alert(text, a, arr != NULL);
		html_alert(html, a, arr != NULL);
	}
	/* Room for the closing lines beyond the cap; say so when the list was cut. */
	text->max += 512;
	html->max += 512;
	if (text->full || html->full) {
		fw_textbuf_puts(text, "\r\n[... cut: the message reached its size limit]\r\n");
		fw_textbuf_puts(html, "<p>[... cut: the message reached its size limit]</p>\r\n");
	}
	fw_textbuf_puts(html, arr ? "</ul>\r\n</body></html>\r\n" : "</body></html>\r\n");
	fw_textbuf_puts(text, "\r\n-- \r\nfeedwatch\r\n");
	return text->oom || html->oom ? -ENOMEM : 0;
}

/* RFC 5322 date of now, in UTC, independent of the locale. */
static void rfc5322_date(char *out, size_t len)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
	         tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	         tm.tm_sec);
}

/* An id with only characters allowed in a Message-ID's left part (others as '_'). */
static void msgid_clean(char *buf)
{
	for (char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			*p = '_';
}

/* The delivery id: the alert id, or for a digest one naming its first alert and size;
   only characters allowed in a Message-ID's left part. */
static void delivery_id(const struct fw_alert *a, char *buf, size_t len)
{
	if (a->n_digest > 0)
		snprintf(buf, len, "digest-%zu-%s", a->n_digest, a->id);
	else
		snprintf(buf, len, "%s", a->id);
	msgid_clean(buf);
}

/* Template escape for a header: control characters as spaces (buf_header_text encodes). */
static void esc_header(struct fw_textbuf *b, const char *s, size_t n, void *ctx)
{
	(void)ctx;
	fw_textbuf_add(b, n == 1 && ((unsigned char)*s < 0x20 || *s == 0x7f) ? " " : s, n);
}

/* The Subject's text after the prefix: "N alerts: " for a digest, "Re: " for a story
   update, then the title template rendered for the (first) alert, else the item's title
   (a story update: the story's title). */
static void subject_text(struct fw_textbuf *subject, json_t *root, json_t *first, size_t n,
                         bool digest)
{
	json_t *st = story_update(root);
	const char *tpl = fw_template_get(first, "title"), *title;
	struct fw_textbuf t = {.max = EM_SUBJECT_MAX};
	char count[48];

	if (digest) {
		snprintf(count, sizeof(count), "%zu alerts: ", n);
		fw_textbuf_puts(subject, count);
	} else if (st) {
		fw_textbuf_puts(subject, "Re: ");
	}
	if (tpl && fw_template_render(tpl, first, esc_header, NULL, &t) == 0 && !t.oom) {
		fw_textbuf_add(subject, t.p ? t.p : "", t.len);
	} else {
		title = st && *jstr(st, "title") ? jstr(st, "title")
		                                 : jstr(json_object_get(first, "item"), "title");
		fw_textbuf_add(subject, title, utf8_cut(title, strlen(title), EM_SUBJECT_MAX));
	}
	buf_free(&t);
}

/* Importance and X-Priority (RFC 2156, and what Outlook and Thunderbird read) of the
   alert's priority; nothing for normal. Then In-Reply-To and References of a story
   update: the Message-ID of the story's first alert. */
static void priority_and_thread(struct fw_textbuf *m, json_t *root)
{
	static const char *const headers[] = {"\r\nImportance: low\r\nX-Priority: 5 (Lowest)", "",
	                                      "\r\nImportance: high\r\nX-Priority: 2 (High)",
	                                      "\r\nImportance: high\r\nX-Priority: 1 (Highest)"};
	json_t *st = story_update(root);
	const char *first = json_string_value(json_object_get(st, "first_alert"));
	char id[160];

	fw_textbuf_puts(m, headers[fw_template_priority(root)]);
	if (first == NULL || *first == 0)
		return;
	snprintf(id, sizeof(id), "%s", first);
	msgid_clean(id);
	fw_textbuf_puts(m, "\r\nIn-Reply-To: <");
	fw_textbuf_puts(m, id);
	fw_textbuf_puts(m, "@feedwatch>\r\nReferences: <");
	fw_textbuf_puts(m, id);
	fw_textbuf_puts(m, "@feedwatch>");
}

/* The header block of one message. */
static void render_headers(const struct email *e, const struct fw_alert *a, json_t *root,
                           const char *id, struct fw_textbuf *m)
{
	json_t *arr, *first;
	size_t n = payload_alerts(root, &arr);
	struct fw_textbuf subject = {.max = 2 * EM_SUBJECT_MAX};
	char date[64];

	first = arr ? json_array_get(arr, 0) : root;
	rfc5322_date(date, sizeof(date));
	fw_textbuf_puts(m, "Date: ");
	fw_textbuf_puts(m, date);
	fw_textbuf_puts(m, "\r\nFrom: ");
	if (e->from_name && *e->from_name) {
		buf_header_text(m, e->from_name, 6, true);
		fw_textbuf_puts(m, " ");
	}
	fw_textbuf_puts(m, "<");
	fw_textbuf_puts(m, e->from);
	fw_textbuf_puts(m, ">\r\nTo: ");
	for (size_t i = 0; i < e->n_to; i++) {
		fw_textbuf_puts(m, i ? ",\r\n <" : "<");
		fw_textbuf_puts(m, e->to[i]);
		fw_textbuf_puts(m, ">");
	}
	fw_textbuf_puts(&subject, e->subject_prefix ? e->subject_prefix : "");
	subject_text(&subject, root, first, n, arr != NULL);
	fw_textbuf_puts(m, "\r\nSubject: ");
	if (subject.oom)
		m->oom = true;
	else
		buf_header_text(m, subject.p ? subject.p : "", 9, false);
	buf_free(&subject);
	fw_textbuf_puts(m, "\r\nMessage-ID: <");
	fw_textbuf_puts(m, id);
	fw_textbuf_puts(m, "@feedwatch>");
	priority_and_thread(m, root);
	fw_textbuf_puts(m, "\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
	                   "X-Auto-Response-Suppress: All\r\nX-Feedwatch-Watchlist: ");
	buf_header_text(m, a->watchlist, 23, false);
	fw_textbuf_puts(m, "\r\nContent-Type: multipart/alternative;\r\n boundary=\"=_fw_");
	fw_textbuf_puts(m, id);
	fw_textbuf_puts(m, "\"\r\n\r\n");
}

/* One body part: base64 cannot contain "=_", so the boundary never occurs inside. */
static void render_part(struct fw_textbuf *m, const char *id, const char *type,
                        const struct fw_textbuf *body)
{
	fw_textbuf_puts(m, "--=_fw_");
	fw_textbuf_puts(m, id);
	fw_textbuf_puts(m, "\r\nContent-Type: ");
	fw_textbuf_puts(m, type);
	fw_textbuf_puts(m, "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	buf_b64(m, (const unsigned char *)(body->p ? body->p : ""), body->len, true);
}

/* The whole message (CRLF lines, each at most 998 octets). Returns 0 or -errno. */
static int render_message(const struct email *e, const struct fw_alert *a, struct fw_textbuf *m)
{
	struct fw_textbuf text = {0}, html = {0};
	json_t *root = json_loads(a->json, 0, NULL);
	char id[160];
	int r;

	if (root == NULL)
		return -EBADMSG;
	delivery_id(a, id, sizeof(id));
	r = render_parts(root, &text, &html);
	if (r == 0) {
		m->max = 4 * EM_BODY_MAX;
		render_headers(e, a, root, id, m);
		fw_textbuf_puts(m, "This is a MIME message in text and HTML.\r\n\r\n");
		render_part(m, id, "text/plain", &text);
		render_part(m, id, "text/html", &html);
		fw_textbuf_puts(m, "--=_fw_");
		fw_textbuf_puts(m, id);
		fw_textbuf_puts(m, "--\r\n");
		r = m->oom ? -ENOMEM : 0;
	}
	buf_free(&text);
	buf_free(&html);
	json_decref(root);
	return r;
}

/* The message handed to curl, and the server's last reply line. */
struct em_send {
	const char *data;
	size_t len, off;
	char reply[EM_REPLY_MAX];
};

static size_t read_cb(char *out, size_t size, size_t nitems, void *arg)
{
	struct em_send *s = arg;
	size_t n = size * nitems;

	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(out, s->data + s->off, n);
	s->off += n;
	return n;
}

/* Keep the last line the server sent (its replies; never what we sent, which holds the
   AUTH exchange), as printable ASCII. */
static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
	struct em_send *s = arg;
	size_t n = 0;

	(void)c;
	if (type != CURLINFO_HEADER_IN || size < 3)
		return 0;
	while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
		size--;
	for (size_t i = 0; i < size && n + 1 < sizeof(s->reply); i++) {
		unsigned char ch = (unsigned char)data[i];

		s->reply[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
	}
	s->reply[n] = 0;
	return 0;
}

/* The three-digit code at the start of the last reply, or curl's idea of it. */
static long reply_code(CURL *c, const struct em_send *s)
{
	long code = 0;

	if (isdigit((unsigned char)s->reply[0]) && isdigit((unsigned char)s->reply[1]) &&
	    isdigit((unsigned char)s->reply[2]))
		return strtol(s->reply, NULL, 10);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

static CURLcode set_options(const struct email *e, CURL *c, struct curl_slist *rcpt,
                            struct em_send *s, char *errbuf)
{
	static const long use_ssl[] = {CURLUSESSL_ALL, CURLUSESSL_TRY, CURLUSESSL_NONE};
	char from[EM_MAX_ADDR + 3];
	CURLcode r;

	snprintf(from, sizeof(from), "<%s>", e->from);
	r = curl_easy_setopt(c, CURLOPT_URL, e->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_PROTOCOLS,
		                     (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_USE_SSL, use_ssl[e->tls]);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	if (r == CURLE_OK && e->username)
		r = curl_easy_setopt(c, CURLOPT_USERNAME, e->username);
	if (r == CURLE_OK && e->password)
		r = curl_easy_setopt(c, CURLOPT_PASSWORD, e->password);
	if (r == CURLE_OK && e->ca_file)
		r = curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_READDATA, s);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, e->timeout_ms);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_DEBUGDATA, s);
	if (r == CURLE_OK)
		r = curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	return r;
}

/* Is this curl error about TLS (never a reason to give up on the alert, nor to send in
   clear)? */
static bool tls_error(CURLcode r)
{
	return r == CURLE_USE_SSL_FAILED || r == CURLE_SSL_CONNECT_ERROR ||
	       r == CURLE_PEER_FAILED_VERIFICATION || r == CURLE_SSL_CERTPROBLEM ||
	       r == CURLE_SSL_CIPHER || r == CURLE_SSL_CACERT_BADFILE ||
	       r == CURLE_SSL_ENGINE_INITFAILED || r == CURLE_SSL_ISSUER_ERROR ||
	       r == CURLE_SSL_PINNEDPUBKEYNOTMATCH || r == CURLE_SSL_INVALIDCERTSTATUS;
}

/* msg without the password (which no reply should hold, but a server may echo). */
static void scrub(const struct email *e, char *msg)
{
	size_t n = e->password ? strlen(e->password) : 0;
	char *hit;

	if (n < 3)
		return;
	for (char *p = msg; (hit = strstr(p, e->password)) != NULL; p = hit + n)
		memset(hit, '*', n);
}

/* Send one message; report with done(). */
static void send_message(const struct email *e, uint64_t token, const struct fw_textbuf *m)
{
	struct em_send s = {.data = m->p, .len = m->len};
	struct curl_slist *rcpt = NULL, *t;
	char errbuf[CURL_ERROR_SIZE] = "", msg[800];
	enum fw_result result;
	CURL *c = curl_easy_init();
	CURLcode r = c ? CURLE_OK : CURLE_OUT_OF_MEMORY;
	long code;

	for (size_t i = 0; r == CURLE_OK && i < e->n_to; i++) {
		char to[EM_MAX_ADDR + 3];

		snprintf(to, sizeof(to), "<%s>", e->to[i]);
		t = curl_slist_append(rcpt, to);
		if (t == NULL)
			r = CURLE_OUT_OF_MEMORY;
		else
			rcpt = t;
	}
	if (r == CURLE_OK)
		r = set_options(e, c, rcpt, &s, errbuf);
	if (r == CURLE_OK)
		r = curl_easy_perform(c);
	code = c ? reply_code(c, &s) : 0;
	if (r == CURLE_OK) {
		result = FW_DELIVERED;
		snprintf(msg, sizeof(msg), "SMTP: %s", s.reply);
	} else {
		result = !tls_error(r) && code >= 500 && code < 600 ? FW_FAILED : FW_RETRY;
		snprintf(msg, sizeof(msg), "SMTP: %.256s%s%s",
		         *errbuf ? errbuf : curl_easy_strerror(r),
		         *s.reply ? "; server said: " : "", s.reply);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(rcpt);
	scrub(e, msg);
	e->host->done(e->ctx, token, result, -1, msg);
}

/* Runs on the host's worker thread (FW_PLUGIN_BLOCKING): may block, uses only log and
   done from the host table. */
static int email_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct email *e = state;
	struct fw_textbuf m = {0};
	int r = render_message(e, a, &m);

	if (r < 0) {
		buf_free(&m);
		e->host->log(e->ctx, FW_LOG_ERR, "cannot build the message: %s", strerror(-r));
		return r;
	}
	send_message(e, token, &m);
	buf_free(&m);
	return 0;
}

static void email_fini(void *state)
{
	struct email *e = state;

	if (e == NULL)
		return;
	if (e->password) {
		explicit_bzero(e->password, strlen(e->password));
		free(e->password);
	}
	free(e->ca_file);
	free(e->origin);
	free(e);
}

static const struct fw_plugin_key email_keys[] = {
    {"url", FW_KEY_STRING, "smtp://host[:port] (STARTTLS) or smtps://host[:port] (TLS)"},
    {"from", FW_KEY_STRING, "the sender address, user@example.org"},
    {"from_name", FW_KEY_STRING, "the sender's display name"},
    {"to", FW_KEY_STRINGS, "recipient addresses, [ \"user@example.org\", ... ]"},
    {"starttls", FW_KEY_STRING, "\"require\" (default), \"try\" or \"no\""},
    {"username", FW_KEY_STRING, "SMTP AUTH user name (with secret)"},
    {"secret", FW_KEY_STRING, "a file holding the SMTP password"},
    {"subject_prefix", FW_KEY_STRING, "text put before every Subject"},
    {"timeout", FW_KEY_DURATION, "time for one SMTP session (default 30s)"},
    {"ca_file", FW_KEY_STRING, "CA bundle to verify the server (default: the system's)"},
    {NULL, 0, NULL},
};

FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_plugin),
    .name = "email",
    .version = "1.0",
    .description = "email over SMTP (libcurl): one multipart text and HTML message per alert",
    .flags = FW_PLUGIN_BLOCKING,
    .keys = email_keys,
    .init = email_init,
    .deliver = email_deliver,
    .reopen = NULL,
    .fini = email_fini,
    .check = email_check,
};
