/* fetch.c - one poll of one feed: libcurl easy options, caps, conditional GET, streaming. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fetch.h"
#include "fold.h"
#include "parse.h"

#define FW_ACCEPT                                                                                  \
	"Accept: application/rss+xml, application/atom+xml, application/feed+json, "               \
	"application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
#define FW_MAX_HEADER_VALUE 4096 /* ETag, Last-Modified, charset, Link: longer ones are ignored */
#define FW_MAX_REDIRS       5
#define FW_MAX_ORIGIN       300 /* "scheme://host:port" as logged */

/* One side of a redirect: where a request went. */
struct origin {
	char scheme[8]; /* "http" or "https" */
	char host[256];
	long port; /* the default port filled in */
};

struct fw_fetch {
	struct fw_net *net;
	struct fw_parsework *pw;    /* the parser thread this poll's body goes to */
	CURL *easy;                 /* the request in flight: one per hop of a redirect chain */
	struct curl_slist *headers; /* Accept, validators, then the configured headers */
	struct curl_slist *bare;    /* the same without the configured headers */
	struct origin home;         /* the configured URL's: headers and credentials go here */
	char *home_user;            /* the configured URL's user name, or NULL */
	char *home_pass;            /* and password, or NULL */
	char *moved;                /* where the leading permanent redirects led, or NULL */
	char *url;                  /* of the hop in flight */
	int64_t deadline_ms;        /* CLOCK_MONOTONIC: the whole chain's timeout */
	char *user_agent;
	long connect_timeout;
	long hops;
	bool tls_verify;
	bool have_home;       /* the configured URL parsed: else nothing configured is sent */
	bool away;            /* the chain left the configured origin: nothing configured is sent */
	bool permanent;       /* every hop so far was a 301 or 308 on the configured origin */
	int hop_error;        /* a redirect not followed: -errno (res.error_text says why) */
	struct fw_pstream ps; /* the body's parse, run by the net's parser thread */
	fw_fetch_cb cb;
	void *arg;
	struct fw_fetch_result res;
	char errbuf[CURL_ERROR_SIZE];
	char charset[64];
	long status; /* status of the response being received */
	size_t items_cap;
	size_t features_cap;
	const struct fw_fold *fold; /* with opts.story_features: the parser thread's */
	uint32_t *known;            /* opts.known (a copy) */
	size_t n_known;
	size_t max_items;
	int64_t max_body;
	bool is_file;
	bool too_big;
	CURLcode code; /* the transfer's outcome, kept while the parse ends */
};

/* Free what a result holds. */
void fw_fetch_result_clear(struct fw_fetch_result *res)
{
	for (size_t i = 0; i < res->n_items; i++)
		fw_item_free(res->items[i]);
	free(res->items);
	free(res->hashes);
	free(res->features);
	free(res->etag);
	free(res->last_modified);
	free(res->moved_url);
	free(res->moved_refused);
	free(res->problem);
	free(res->hub);
	free(res->self);
	free(res->next);
	memset(res, 0, sizeof(*res));
}

static struct fw_fetch *fetch_free(struct fw_fetch *f)
{
	if (f == NULL)
		return NULL;
	if (f->easy)
		curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	curl_slist_free_all(f->bare);
	free(f->home_user);
	free(f->home_pass);
	free(f->user_agent);
	free(f->moved);
	free(f->url);
	if (f->ps.parser) {
		fw_parsework_forget(f->pw, &f->ps);
		fw_parse_free(f->ps.parser);
	}
	fw_fetch_result_clear(&f->res);
	free(f->known);
	free(f);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* On the parser thread: the story features of the next item (story.h), with hash its
   fw_item_hash, so that the loop thread only looks them up; not for an item seen last time
   (opts.known: most likely not new, so not placed), nor past FW_FETCH_FEATURES_MAX items.
   Out of memory, the result has none and the loop computes them. */
static void item_features(struct fw_fetch *f, const struct fw_item *item, uint64_t hash)
{
	struct fw_story_features *v = f->res.features;
	size_t n = f->res.n_items;
	uint32_t low = (uint32_t)hash;

	if (f->fold == NULL || n >= FW_FETCH_FEATURES_MAX)
		return;
	if (n == f->features_cap) {
		size_t cap = f->features_cap ? f->features_cap * 2 : 64;

		v = realloc(v, cap * sizeof(*v));
		if (v)
			f->features_cap = cap;
	}
	if (v && f->known && bsearch(&low, f->known, f->n_known, sizeof(low), cmp_u32)) {
		v[n].n = FW_FETCH_UNFEATURED;
	} else if (v == NULL || fw_story_features(f->fold, item->title, item->summary,
	                                          item->content, NULL, 0, &v[n], NULL) < 0) {
		free(v ? v : f->res.features);
		f->res.features = NULL;
		f->res.n_features = 0;
		f->fold = NULL;
		return;
	}
	f->res.features = v;
	f->res.n_features = n + 1;
}

/* On the parser thread: only it touches the items of the result until the parse ends. */
static int item_cb(struct fw_item *item, void *arg)
{
	struct fw_fetch *f = arg;

	if (f->res.n_items >= f->max_items) {
		f->res.dropped++;
		fw_item_free(item);
		return 0;
	}
	if (f->res.n_items == f->items_cap) {
		size_t cap = f->items_cap ? f->items_cap * 2 : 64;
		struct fw_item **v = realloc(f->res.items, cap * sizeof(*v));
		uint64_t *h = v ? realloc(f->res.hashes, cap * sizeof(*h)) : NULL;

		if (v)
			f->res.items = v;
		if (h == NULL) {
			fw_item_free(item);
			return -ENOMEM;
		}
		f->res.hashes = h;
		f->items_cap = cap;
	}
	f->res.hashes[f->res.n_items] = fw_item_hash(item);
	item_features(f, item, f->res.hashes[f->res.n_items]);
	f->res.items[f->res.n_items++] = item;
	return 0;
}

/* Trimmed copy of a header value (NULL when too long). */
static char *header_value(const char *v, size_t len)
{
	while (len && isspace((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len && isspace((unsigned char)v[len - 1]))
		len--;
	if (len == 0 || len > FW_MAX_HEADER_VALUE)
		return NULL;
	return strndup(v, len);
}

static int64_t parse_delta_or_date(const char *v)
{
	char *end;
	long long n;
	time_t t;

	while (isspace((unsigned char)*v))
		v++;
	if (isdigit((unsigned char)*v)) {
		n = strtoll(v, &end, 10);
		if (n >= 0 && n < 365LL * 86400)
			return n;
		return -1;
	}
	t = curl_getdate(v, NULL);
	if (t <= 0)
		return -1;
	t -= time(NULL);
	return t < 0 ? 0 : (int64_t)t;
}

static void parse_cache_control(struct fw_fetch *f, const char *v)
{
	const char *p = v;

	while ((p = strcasestr(p, "max-age"))) {
		p += 7;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '=') {
			long long n = strtoll(p + 1, NULL, 10);

			if (n >= 0)
				f->res.max_age = n;
		}
	}
	if (strcasestr(v, "no-cache") || strcasestr(v, "no-store"))
		f->res.max_age = 0;
}

static void parse_content_type(struct fw_fetch *f, const char *v)
{
	const char *cs = strcasestr(v, "charset=");
	size_t n;

	f->charset[0] = 0;
	if (cs == NULL)
		return;
	cs += 8;
	if (*cs == '"')
		cs++;
	n = strcspn(cs, "\"; \t\r\n");
	if (n == 0 || n >= sizeof(f->charset))
		return;
	memcpy(f->charset, cs, n);
	f->charset[n] = 0;
}

/* ref resolved against the URL of the hop (RFC 3986), or NULL. */
static char *resolve(const char *base, const char *ref, size_t len)
{
	char *r = strndup(ref, len), *out = NULL;
	CURLU *u = curl_url();

	if (r && u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, r, 0) == CURLUE_OK) {
		char *full = NULL;

		if (curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK)
			out = strdup(full);
		curl_free(full);
	}
	curl_url_cleanup(u);
	free(r);
	return out;
}

/* Does the rel parameter in params (up to end) list name (space-separated, any case)? */
static bool rel_has(const char *params, const char *end, const char *name)
{
	const char *p = params;
	size_t n = strlen(name);

	while ((p = strcasestr(p, "rel")) && p < end) {
		const char *v = p + 3;

		p = v;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (v >= end || *v != '=' || (p - 4 >= params && isalnum((unsigned char)p[-4])))
			continue;
		for (v++; v < end && strchr(" \t\"", *v); v++)
			;
		while (v < end && *v != '"' && *v != ';' && *v != ',') {
			size_t w = strcspn(v, " \t\";,");

			if (w == n && strncasecmp(v, name, n) == 0)
				return true;
			v += w;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
		}
	}
	return false;
}

/* WebSub 4 (RFC 8288 Link headers): the first <URL>; rel="hub" and rel="self". */
static void parse_link(struct fw_fetch *f, const char *v)
{
	const char *p = v, *end;

	while ((p = strchr(p, '<')) && (end = strchr(p + 1, '>'))) {
		const char *params = end + 1, *next = strchr(params, '<');

		if (next == NULL)
			next = params + strlen(params);
		if (!f->res.hub && rel_has(params, next, "hub"))
			f->res.hub = resolve(f->url, p + 1, (size_t)(end - p - 1));
		if (!f->res.self && rel_has(params, next, "self"))
			f->res.self = resolve(f->url, p + 1, (size_t)(end - p - 1));
		p = next;
	}
}

/* Headers of every response of a redirect chain pass here: a status line starts afresh. */
static size_t header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct fw_fetch *f = arg;
	size_t len = size * nitems;
	const char *colon;
	char *v;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);

		f->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		free(f->res.etag);
		free(f->res.last_modified);
		f->res.etag = f->res.last_modified = NULL;
		free(f->res.hub);
		free(f->res.self);
		f->res.hub = f->res.self = NULL;
		f->res.retry_after = f->res.max_age = f->res.expires = -1;
		f->charset[0] = 0;
		return len;
	}
	colon = memchr(buf, ':', len);
	if (colon == NULL)
		return len;
	v = header_value(colon + 1, len - (size_t)(colon + 1 - buf));
	if (v == NULL)
		return len;
#define IS(name)                                                                                   \
	((size_t)(colon - buf) == strlen(name) && strncasecmp(buf, name, strlen(name)) == 0)
	if (IS("etag")) {
		free(f->res.etag);
		f->res.etag = v;
		v = NULL;
	} else if (IS("last-modified")) {
		free(f->res.last_modified);
		f->res.last_modified = v;
		v = NULL;
	} else if (IS("retry-after")) {
		f->res.retry_after = parse_delta_or_date(v);
	} else if (IS("cache-control")) {
		parse_cache_control(f, v);
	} else if (IS("expires")) {
		time_t t = curl_getdate(v, NULL);

		f->res.expires = t > 0 ? (int64_t)t : -1;
	} else if (IS("content-type")) {
		parse_content_type(f, v);
	} else if (IS("link")) {
		parse_link(f, v);
	}
#undef IS
	free(v);
	return len;
}

static void parsed_cb(struct fw_pstream *s, void *arg);

static long current_status(struct fw_fetch *f)
{
	return f->is_file ? 200 : f->status;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fw_fetch *f = arg;
	size_t len = size * nmemb;
	long status = current_status(f);

	f->res.bytes += (int64_t)len;
	/* Counted here: Debian 12's curl does not enforce MAXFILESIZE mid-transfer, nor on
	   decompressed bytes (gzip bombs). */
	if (f->res.bytes > f->max_body) {
		f->too_big = true;
		return 0;
	}
	if (status < 200 || status > 299)
		return len; /* error pages are read and dropped */
	if (f->ps.parser == NULL) {
		struct fw_parse_limits lim = {.max_items = f->max_items + 1};

		/* the base of relative links: the URL of this hop, without credentials */
		f->ps.parser =
		    fw_parse_new(f->url, f->charset[0] ? f->charset : NULL, &lim, item_cb, f);
		if (f->ps.parser == NULL)
			return 0;
		f->ps.done = parsed_cb;
		f->ps.arg = f;
	}
	/* once a push failed the parse is over, but keep reading: the transfer itself is fine */
	if (atomic_load_explicit(&f->ps.stopped, memory_order_relaxed))
		return len;
	return fw_parsework_push(f->pw, &f->ps, data, len) == 0 ? len : 0;
}

/* The result of a transfer whose parse (if any) has ended. */
static void finish(struct fw_fetch *f, CURLcode code)
{
	struct fw_fetch_result *r = &f->res;
	long status = 0;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	r->status = f->is_file ? (code == CURLE_OK ? 200 : 0) : status;
	if (f->ps.parser) {
		struct fw_parser *p = f->ps.parser;

		r->ttl = fw_parse_ttl(p);
		r->format = fw_parse_format(p);
		if (r->hub == NULL && fw_parse_hub(p))
			r->hub = strdup(fw_parse_hub(p));
		if (r->self == NULL && fw_parse_self(p))
			r->self = strdup(fw_parse_self(p));
		if (fw_parse_next(p))
			r->next = strdup(fw_parse_next(p));
		if (fw_parse_problem(p))
			r->problem = strdup(fw_parse_problem(p));
		if (f->ps.end_rc < 0 && code == CURLE_OK) {
			r->error = -EBADMSG;
			snprintf(r->error_text, sizeof(r->error_text), "not a feed: %s",
			         r->problem ? r->problem : "no RSS, Atom or JSON Feed document");
		}
	}
	if (f->hop_error != 0) {
		r->error = f->hop_error; /* a redirect not followed: next_hop said why */
	} else if (f->too_big) {
		r->error = -EFBIG;
		snprintf(r->error_text, sizeof(r->error_text),
		         "body larger than max_body (%lld bytes): cut off", (long long)f->max_body);
	} else if (code == CURLE_ABORTED_BY_CALLBACK) {
		r->error = -ECANCELED;
		snprintf(r->error_text, sizeof(r->error_text), "cancelled");
	} else if (code != CURLE_OK) {
		r->error = -EIO;
		snprintf(r->error_text, sizeof(r->error_text), "%.100s%s%.140s",
		         curl_easy_strerror(code), f->errbuf[0] ? ": " : "", f->errbuf);
	} else if (r->status == 304) {
		r->not_modified = true;
	} else if (r->status < 200 || r->status > 299) {
		r->error = -EPROTO;
		snprintf(r->error_text, sizeof(r->error_text), "HTTP status %ld", r->status);
	} else if (f->ps.parser == NULL) {
		r->error = -EBADMSG;
		snprintf(r->error_text, sizeof(r->error_text), "empty body");
	}
	if (r->error != 0 && r->error != -EFBIG) {
		/* Only a complete transfer and parse commit items. */
		for (size_t i = 0; i < r->n_items; i++)
			fw_item_free(r->items[i]);
		r->n_items = 0;
	}
	if (f->moved) {
		r->moved_url = f->moved;
		f->moved = NULL;
	}
	if (r->error == -EPROTO && f->away)
		snprintf(r->error_text + strlen(r->error_text),
		         sizeof(r->error_text) - strlen(r->error_text),
		         " (after a redirect to another origin, which got no configured header "
		         "or credential)");
}

static void complete(struct fw_fetch *f)
{
	finish(f, f->code);
	f->cb(&f->res, f->arg);
	fetch_free(f);
}

static void parsed_cb(struct fw_pstream *s, void *arg)
{
	(void)s;
	complete(arg);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The origin of u: scheme, lower-cased host, port (the scheme's default filled in).
   0, or -EINVAL. */
static int url_origin(CURLU *u, struct origin *o)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	int r = -EINVAL;

	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    strlen(scheme) < sizeof(o->scheme) && strlen(host) < sizeof(o->host)) {
		for (size_t i = 0; scheme[i]; i++)
			o->scheme[i] = (char)tolower((unsigned char)scheme[i]);
		o->scheme[strlen(scheme)] = 0;
		for (size_t i = 0; host[i]; i++)
			o->host[i] = (char)tolower((unsigned char)host[i]);
		o->host[strlen(host)] = 0;
		o->port = strtol(port, NULL, 10);
		r = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return r;
}

static bool is_scheme(const struct origin *o, const char *scheme, long default_port)
{
	return strcmp(o->scheme, scheme) == 0 && o->port == default_port;
}

/* May a request to `to` carry what the config gives `home`? Only on the same origin
   (scheme, host, port), or on its https upgrade on the default ports. */
static bool home_origin(const struct origin *home, const struct origin *to)
{
	if (strcmp(home->host, to->host) != 0)
		return false;
	if (strcmp(home->scheme, to->scheme) == 0)
		return home->port == to->port;
	return is_scheme(home, "http", 80) && is_scheme(to, "https", 443);
}

/* See fetch.h. */
bool fw_fetch_same_origin(const char *home, const char *url)
{
	CURLU *a = curl_url(), *b = curl_url();
	struct origin x, y;
	bool same = a && b && curl_url_set(a, CURLUPART_URL, home, 0) == CURLUE_OK &&
	            curl_url_set(b, CURLUPART_URL, url, 0) == CURLUE_OK && url_origin(a, &x) == 0 &&
	            url_origin(b, &y) == 0 && home_origin(&x, &y);

	curl_url_cleanup(a);
	curl_url_cleanup(b);
	return same;
}

static void origin_text(const struct origin *o, char *buf, size_t size)
{
	if (is_scheme(o, "http", 80) || is_scheme(o, "https", 443))
		snprintf(buf, size, "%s://%s", o->scheme, o->host);
	else
		snprintf(buf, size, "%s://%s:%ld", o->scheme, o->host, o->port);
}

/* "WHAT from A to B is not kept: another origin; TAIL", kept in the result for the
   caller's warning. */
static void refuse_move(struct fw_fetch *f, const char *what, const struct origin *from,
                        const struct origin *to, const char *tail)
{
	char a[FW_MAX_ORIGIN], b[FW_MAX_ORIGIN];
	bool plain = strcmp(from->scheme, "https") == 0 && strcmp(to->scheme, "http") == 0;

	origin_text(from, a, sizeof(a));
	origin_text(to, b, sizeof(b));
	free(f->res.moved_refused);
	if (asprintf(&f->res.moved_refused, "%s from %s to %s is not kept: another origin%s; %s",
	             what, a, b, plain ? " and plain http" : "", tail) < 0)
		f->res.moved_refused = NULL;
}

static void done_cb(CURL *easy, CURLcode code, void *arg);

/* Start one request of the chain on a fresh easy handle (so that nothing of an earlier
   hop's credentials carries over), with the configured headers unless the chain left the
   configured origin. Takes the URL to request (credentials in it, if any). 0 or -errno. */
static int hop_start(struct fw_fetch *f, char *url)
{
	CURL *e = curl_easy_init();
	int64_t left = f->deadline_ms - now_ms();
	int r;

	if (e == NULL || url == NULL) {
		if (e)
			curl_easy_cleanup(e);
		free(url);
		return -ENOMEM;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url); /* curl keeps its own copy */
	/* file:// only where the config asked for a local file. Redirects are followed here,
	   hop by hop (next_hop), not by curl: curl would send the configured headers to every
	   host a redirect names. */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, f->is_file ? "file" : "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl decodes */
	curl_easy_setopt(e, CURLOPT_USERAGENT, f->user_agent);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->away ? f->bare : f->headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, f->connect_timeout);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_body);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, f->tls_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, f->tls_verify ? 2L : 0L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	f->status = 0;
	f->errbuf[0] = 0;
	r = fw_net_add(f->net, e, done_cb, f);
	if (r < 0) {
		curl_easy_cleanup(e);
		return r;
	}
	if (f->easy)
		curl_easy_cleanup(f->easy);
	f->easy = e;
	return 0;
}

/* Request u: f->url becomes its text without credentials (the parser's base); the
   configured credentials are put in only on the configured origin. keep (may be NULL)
   gets a copy of the URL requested, credentials included: a move's target carries the
   configured user:password on, as the configured URL does. */
static int hop_url(struct fw_fetch *f, CURLU *u, char **keep)
{
	char *bare = NULL, *full = NULL;

	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &bare, 0) != CURLUE_OK)
		return -EINVAL;
	free(f->url);
	f->url = strdup(bare);
	curl_free(bare);
	if (f->url == NULL)
		return -ENOMEM;
	if (!f->away && f->home_user) {
		if (curl_url_set(u, CURLUPART_USER, f->home_user, 0) != CURLUE_OK ||
		    (f->home_pass && curl_url_set(u, CURLUPART_PASSWORD, f->home_pass, 0)) ||
		    curl_url_get(u, CURLUPART_URL, &bare, 0) != CURLUE_OK)
			return -EINVAL;
		full = strdup(bare);
		curl_free(bare);
	} else {
		full = strdup(f->url);
	}
	if (full == NULL)
		return -ENOMEM;
	if (keep) {
		free(*keep);
		*keep = strdup(full);
		if (*keep == NULL) {
			free(full);
			return -ENOMEM;
		}
	}
	return hop_start(f, full);
}

static bool is_redirect(long status)
{
	/* as curl followed them: 300 to 303, 307, 308 (304 is an answer, 305/306 unused) */
	return (status >= 300 && status <= 303) || status == 307 || status == 308;
}

/* A 3xx with a Location: request it, counting hops, dropping what the config gives its
   origin once the chain leaves it (another origin, or https to http), and noting how far
   the chain was a permanent move on the configured origin. 0, or -errno with the error
   set in the result. */
static int next_hop(struct fw_fetch *f, const char *location)
{
	bool permanent = f->status == 301 || f->status == 308;
	struct origin from, to;
	CURLU *u = curl_url(), *cur = curl_url();
	char *scheme = NULL;
	int r = -EIO;

	if (u == NULL || cur == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (++f->hops > FW_MAX_REDIRS) {
		snprintf(f->res.error_text, sizeof(f->res.error_text),
		         "too many redirects (more than %d)", FW_MAX_REDIRS);
		goto out;
	}
	/* leniently, as curl itself takes a Location: spaces and 8-bit bytes get encoded */
	if (curl_url_set(u, CURLUPART_URL, location, CURLU_URLENCODE | CURLU_ALLOW_SPACE) !=
	        CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) ||
	    url_origin(u, &to) < 0) {
		snprintf(f->res.error_text, sizeof(f->res.error_text),
		         "HTTP status %ld: a redirect to a %.20s%s URL is refused (http and https "
		         "only)",
		         f->status, scheme ? scheme : "malformed", scheme ? ":" : "");
		goto out;
	}
	if (curl_url_set(cur, CURLUPART_URL, f->url, 0) != CURLUE_OK || url_origin(cur, &from) < 0)
		memset(&from, 0, sizeof(from));
	if (!f->away && (!f->have_home || !home_origin(&f->home, &to) ||
	                 (strcmp(from.scheme, "https") == 0 && strcmp(to.scheme, "http") == 0))) {
		f->away = true;
		if (permanent && f->permanent)
			refuse_move(f, "a permanent redirect", &from, &to,
			            "it is followed for this poll only, without the feed's headers "
			            "and credentials");
	}
	f->permanent = f->permanent && permanent && !f->away;
	r = hop_url(f, u, f->permanent ? &f->moved : NULL);
	if (r < 0 && r != -ENOMEM)
		snprintf(f->res.error_text, sizeof(f->res.error_text),
		         "cannot follow a redirect: %s", strerror(-r));
out:
	if (r == -ENOMEM)
		snprintf(f->res.error_text, sizeof(f->res.error_text), "out of memory");
	if (r < 0)
		f->hop_error = r == -ENOMEM ? r : -EIO;
	curl_free(scheme);
	curl_url_cleanup(u);
	curl_url_cleanup(cur);
	return r;
}

/* The transfer is over: a redirect starts the next hop; else the parse ends on the parser
   thread, then complete() runs; an aborted transfer (shutdown) completes at once. */
static void done_cb(CURL *easy, CURLcode code, void *arg)
{
	struct fw_fetch *f = arg;
	struct fw_parsework *pw = f->pw;
	char *loc = NULL;

	f->code = code;
	if (code == CURLE_OK && !f->is_file && !f->too_big && f->ps.parser == NULL &&
	    is_redirect(f->status) &&
	    curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
		char *copy = strdup(loc); /* loc dies with this hop's handle */

		if (copy == NULL) {
			f->hop_error = -ENOMEM;
			snprintf(f->res.error_text, sizeof(f->res.error_text), "out of memory");
		} else if (next_hop(f, copy) == 0) {
			free(copy);
			return;
		}
		free(copy);
	}
	if (f->ps.parser) {
		if (code != CURLE_ABORTED_BY_CALLBACK && fw_parsework_end(pw, &f->ps) == 0)
			return;
		fw_parsework_forget(pw, &f->ps);
		f->ps.end_rc = fw_parse_end(f->ps.parser);
	}
	complete(f);
}

static int add_header(struct curl_slist **list, const char *name, const char *v)
{
	struct curl_slist *l;
	char *line;

	/* as long as the config allowed (a long bearer token is whole, never cut) */
	if (asprintf(&line, "%s%s", name, v) < 0)
		return -ENOMEM;
	l = curl_slist_append(*list, line);
	free(line);
	if (l == NULL)
		return -ENOMEM;
	*list = l;
	return 0;
}

/* Where the configured headers and credentials may go: the origin of config_url (or of url).
   A stored move to another origin (kept by an older version) is not used: the poll starts
   from the configured URL again and the result says so. Returns the URL to start from. */
static const char *set_home(struct fw_fetch *f, const struct fw_fetch_opts *o)
{
	const char *home = o->config_url ? o->config_url : o->url;
	CURLU *h = curl_url(), *u = curl_url();
	struct origin first;
	const char *start = o->url;

	if (h && curl_url_set(h, CURLUPART_URL, home, 0) == CURLUE_OK &&
	    url_origin(h, &f->home) == 0) {
		f->have_home = true;
		curl_url_get(h, CURLUPART_USER, &f->home_user, 0);
		curl_url_get(h, CURLUPART_PASSWORD, &f->home_pass, 0);
	}
	if (f->have_home && u && curl_url_set(u, CURLUPART_URL, o->url, 0) == CURLUE_OK &&
	    url_origin(u, &first) == 0 && !home_origin(&f->home, &first)) {
		refuse_move(f, "the stored move", &f->home, &first,
		            "the poll starts from the configured URL");
		f->res.move_dropped = true;
		start = home;
	}
	curl_url_cleanup(h);
	curl_url_cleanup(u);
	return start;
}

/* Start one poll. */
int fw_fetch_start(struct fw_net *net, struct fw_parsework *pw, const struct fw_fetch_opts *o,
                   fw_fetch_cb cb, void *arg, struct fw_fetch **out)
{
	struct fw_fetch *f = calloc(1, sizeof(*f));
	struct fw_fold *fold;
	const char *start;
	CURLU *u = NULL;
	int r = -ENOMEM;

	if (f == NULL)
		return -ENOMEM;
	f->net = net;
	f->pw = pw;
	f->cb = cb;
	f->arg = arg;
	f->max_body = o->max_body > 0 ? o->max_body : 16 * 1024 * 1024;
	f->max_items = o->max_items > 0 ? o->max_items : 10000;
	f->res.retry_after = f->res.max_age = f->res.expires = -1;
	f->res.ttl = -1;
	f->is_file = strncasecmp(o->url, "file://", 7) == 0;
	if (o->story_features && fw_fold_new(&fold) == 0)
		f->fold = fold; /* the process-wide table: fw_fold_free would do nothing */
	if (f->fold && o->n_known > 0 && (f->known = malloc(o->n_known * sizeof(*f->known)))) {
		memcpy(f->known, o->known, o->n_known * sizeof(*f->known));
		f->n_known = o->n_known;
	}
	f->deadline_ms = now_ms() + (o->timeout > 0 ? o->timeout : 60L) * 1000;
	f->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 15L;
	f->tls_verify = o->tls_verify;
	f->permanent = true;
	f->user_agent = strdup(o->user_agent ? o->user_agent : "");
	if (f->user_agent == NULL)
		goto fail;
	if (add_header(&f->bare, "", FW_ACCEPT) < 0 || add_header(&f->headers, "", FW_ACCEPT) < 0)
		goto fail;
	if (o->etag && (add_header(&f->bare, "If-None-Match: ", o->etag) < 0 ||
	                add_header(&f->headers, "If-None-Match: ", o->etag) < 0))
		goto fail;
	if (o->last_modified &&
	    (add_header(&f->bare, "If-Modified-Since: ", o->last_modified) < 0 ||
	     add_header(&f->headers, "If-Modified-Since: ", o->last_modified) < 0))
		goto fail;
	for (size_t i = 0; i < o->n_headers; i++)
		if (add_header(&f->headers, "", o->headers[i]) < 0)
			goto fail;
	if (f->is_file) {
		f->url = strdup(o->url);
		r = f->url ? hop_start(f, strdup(f->url)) : -ENOMEM;
	} else {
		start = set_home(f, o);
		f->away = !f->have_home;
		u = curl_url();
		if (u == NULL)
			goto fail;
		if (curl_url_set(u, CURLUPART_URL, start, 0) == CURLUE_OK) {
			r = hop_url(f, u, NULL);
		} else {
			/* curl says what is wrong with it; nothing configured goes to it */
			f->away = true;
			f->url = strdup(start);
			r = f->url ? hop_start(f, strdup(start)) : -ENOMEM;
		}
		curl_url_cleanup(u);
	}
	if (r < 0)
		goto fail;
	if (out)
		*out = f;
	return 0;
fail:
	fetch_free(f);
	return r;
}

/* Abort a poll without its callback. */
void fw_fetch_cancel(struct fw_fetch *f)
{
	if (f == NULL)
		return;
	fw_net_cancel(f->net, f->easy);
	fetch_free(f);
}
