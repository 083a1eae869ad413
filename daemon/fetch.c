/* fetch.c - one poll of one feed: libcurl easy options, caps, conditional GET, streaming. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch.h"
#include "parse.h"

#define FW_ACCEPT                                                                                  \
	"Accept: application/rss+xml, application/atom+xml, application/feed+json, "               \
	"application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
#define FW_MAX_HEADER_VALUE 1024 /* ETag, Last-Modified, charset: longer ones are ignored */
#define FW_MAX_REDIRS       5L

struct fw_fetch {
	struct fw_net *net;
	CURL *easy;
	struct curl_slist *headers;
	struct fw_pstream ps; /* the body's parse, run by the net's parser thread */
	fw_fetch_cb cb;
	void *arg;
	struct fw_fetch_result res;
	char errbuf[CURL_ERROR_SIZE];
	char charset[64];
	long first_status; /* status of the first response of a redirect chain */
	long status;       /* status of the response being received */
	size_t items_cap;
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
	free(res->etag);
	free(res->last_modified);
	free(res->moved_url);
	free(res->problem);
	memset(res, 0, sizeof(*res));
}

static struct fw_fetch *fetch_free(struct fw_fetch *f)
{
	if (f == NULL)
		return NULL;
	if (f->easy)
		curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	if (f->ps.parser) {
		fw_parsework_forget(fw_net_parsework(f->net), &f->ps);
		fw_parse_free(f->ps.parser);
	}
	fw_fetch_result_clear(&f->res);
	free(f);
	return NULL;
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
		if (f->first_status == 0)
			f->first_status = f->status;
		free(f->res.etag);
		free(f->res.last_modified);
		f->res.etag = f->res.last_modified = NULL;
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
		char *url = NULL;

		curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &url);
		f->ps.parser =
		    fw_parse_new(url, f->charset[0] ? f->charset : NULL, &lim, item_cb, f);
		if (f->ps.parser == NULL)
			return 0;
		f->ps.done = parsed_cb;
		f->ps.arg = f;
	}
	/* once a push failed the parse is over, but keep reading: the transfer itself is fine */
	if (atomic_load_explicit(&f->ps.stopped, memory_order_relaxed))
		return len;
	return fw_parsework_push(fw_net_parsework(f->net), &f->ps, data, len) == 0 ? len : 0;
}

/* The result of a transfer whose parse (if any) has ended. */
static void finish(struct fw_fetch *f, CURLcode code)
{
	struct fw_fetch_result *r = &f->res;
	long status = 0;
	char *eff = NULL;

	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	r->status = f->is_file ? (code == CURLE_OK ? 200 : 0) : status;
	if (f->ps.parser) {
		struct fw_parser *p = f->ps.parser;

		r->ttl = fw_parse_ttl(p);
		r->format = fw_parse_format(p);
		if (fw_parse_problem(p))
			r->problem = strdup(fw_parse_problem(p));
		if (f->ps.end_rc < 0 && code == CURLE_OK) {
			r->error = -EBADMSG;
			snprintf(r->error_text, sizeof(r->error_text), "not a feed: %s",
			         r->problem ? r->problem : "no RSS, Atom or JSON Feed document");
		}
	}
	if (f->too_big) {
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
	if (!f->is_file && (f->first_status == 301 || f->first_status == 308) &&
	    curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
		r->moved_url = strdup(eff);
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

/* The transfer is over: the parse ends on the parser thread, then complete() runs; an
   aborted transfer (shutdown) completes at once. */
static void done_cb(CURL *easy, CURLcode code, void *arg)
{
	struct fw_fetch *f = arg;
	struct fw_parsework *pw = fw_net_parsework(f->net);

	(void)easy;
	f->code = code;
	if (f->ps.parser) {
		if (code != CURLE_ABORTED_BY_CALLBACK && fw_parsework_end(pw, &f->ps) == 0)
			return;
		fw_parsework_forget(pw, &f->ps);
		f->ps.end_rc = fw_parse_end(f->ps.parser);
	}
	complete(f);
}

static int add_header(struct fw_fetch *f, const char *name, const char *v)
{
	char line[FW_MAX_HEADER_VALUE + 64];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s%s", name, v);
	l = curl_slist_append(f->headers, line);
	if (l == NULL)
		return -ENOMEM;
	f->headers = l;
	return 0;
}

/* Start one poll. */
int fw_fetch_start(struct fw_net *net, const struct fw_fetch_opts *o, fw_fetch_cb cb, void *arg,
                   struct fw_fetch **out)
{
	struct fw_fetch *f = calloc(1, sizeof(*f));
	CURL *e;
	int r = -ENOMEM;

	if (f == NULL)
		return -ENOMEM;
	f->net = net;
	f->cb = cb;
	f->arg = arg;
	f->max_body = o->max_body > 0 ? o->max_body : 16 * 1024 * 1024;
	f->max_items = o->max_items > 0 ? o->max_items : 10000;
	f->res.retry_after = f->res.max_age = f->res.expires = -1;
	f->res.ttl = -1;
	f->is_file = strncasecmp(o->url, "file://", 7) == 0;
	e = f->easy = curl_easy_init();
	if (e == NULL)
		goto fail;
	if (add_header(f, "", FW_ACCEPT) < 0)
		goto fail;
	if (o->etag && add_header(f, "If-None-Match: ", o->etag) < 0)
		goto fail;
	if (o->last_modified && add_header(f, "If-Modified-Since: ", o->last_modified) < 0)
		goto fail;
	for (size_t i = 0; i < o->n_headers; i++)
		if (add_header(f, "", o->headers[i]) < 0)
			goto fail;
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	/* file:// only where the config asked for a local file; redirects never leave HTTP. */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, f->is_file ? "file" : "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, FW_MAX_REDIRS);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl decodes */
	curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, o->timeout > 0 ? o->timeout : 60L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
	                 o->connect_timeout > 0 ? o->connect_timeout : 15L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_body);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->tls_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->tls_verify ? 2L : 0L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	r = fw_net_add(net, e, done_cb, f);
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
