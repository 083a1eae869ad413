/* cli_feeds.c - feeds add, remove, import, export, list, discover: the machine-managed
   feeds file (OPML, opml.c) and autodiscovery (discover.c). The hand-written config is
   never rewritten. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include <feedwatch/version.h>

#include "cli.h"
#include "config.h"
#include "discover.h"
#include "duration.h"
#include "opml.h"
#include "parse.h"
#include "text.h"

#define FW_PAGE_MAX (8 * 1024 * 1024) /* bytes of a page or feed fetched by feeds add */

const char fw_cli_feeds_help[] =
    "usage: feedwatch feeds add URL [--name N] [--interval D] [--tag T[,T...]] [-c FILE]\n"
    "       feedwatch feeds remove NAME [-c FILE]\n"
    "       feedwatch feeds import FILE.opml [-c FILE]\n"
    "       feedwatch feeds export [-c FILE]\n"
    "       feedwatch feeds list [--json] [-c FILE]\n"
    "       feedwatch feeds discover URL [--json]\n"
    "Feeds added or imported live in the feeds file (OPML; `feeds_file`, by default\n"
    "feeds.opml beside the config), never in the hand-written config. `add` fetches URL:\n"
    "a feed is added, an HTML page's one feed is added (several: they are listed, exit 1).\n"
    "`import` skips (and reports) feeds whose URL is already there; folders become tags.\n"
    "`export` prints every feed as OPML 2.0; `list` one feed a line (--json: objects with\n"
    "name, url, tags, interval, source, file, line); `discover` the feeds a page links to.\n";

/* A page or feed as fetched: its bytes, final URL and Content-Type. */
struct page {
	char *buf;
	size_t len;
	bool too_big; /* the body passed FW_PAGE_MAX */
	char *url;
	char err[CURL_ERROR_SIZE + 64];
};

static void page_clear(struct page *p)
{
	free(p->buf);
	free(p->url);
	p->buf = p->url = NULL;
	p->len = 0;
}

static size_t page_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct page *p = arg;
	char *b;

	n *= size;
	if (p->len + n > FW_PAGE_MAX) {
		p->too_big = true;
		return 0;
	}
	if ((b = realloc(p->buf, p->len + n + 1)) == NULL)
		return 0;
	p->buf = b;
	memcpy(b + p->len, data, n);
	p->len += n;
	b[p->len] = 0;
	return n;
}

/* A URL over http(s) with the daemon's restraint (protocols, redirects, size, time). */
static int fetch_http(const char *url, struct page *p)
{
	CURL *h = curl_easy_init();
	CURLcode rc;
	long status = 0;
	char *eff = NULL;

	if (h == NULL)
		return -ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "feedwatch/" FW_VERSION_STRING);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, page_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, p->err);
	p->err[0] = 0;
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
	p->url = strdup(eff ? eff : url);
	curl_easy_cleanup(h);
	if (rc == CURLE_WRITE_ERROR && p->too_big) {
		snprintf(p->err, sizeof(p->err), "larger than %d MiB", FW_PAGE_MAX >> 20);
		return -EFBIG;
	}
	if (rc != CURLE_OK) {
		if (p->err[0] == 0)
			snprintf(p->err, sizeof(p->err), "%s", curl_easy_strerror(rc));
		return -EIO;
	}
	if (status >= 400) {
		snprintf(p->err, sizeof(p->err), "HTTP status %ld", status);
		return -EIO;
	}
	return p->url ? 0 : -ENOMEM;
}

/* A local file (a path or a file:/// URL); p->url becomes its file:// URL. */
static int fetch_file(const char *src, struct page *p)
{
	const char *path = strncasecmp(src, "file://", 7) == 0 ? src + 7 : src;
	char abs[PATH_MAX];
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || realpath(path, abs) == NULL) {
		snprintf(p->err, sizeof(p->err), "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (page_write_cb(chunk, 1, (size_t)n, p) != (size_t)n) {
			snprintf(p->err, sizeof(p->err), "larger than %d MiB", FW_PAGE_MAX >> 20);
			close(fd);
			return -EFBIG;
		}
	close(fd);
	if (asprintf(&p->url, "file://%s", abs) < 0)
		p->url = NULL;
	return p->url ? 0 : -ENOMEM;
}

static bool is_web(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static int fetch_page(const char *src, struct page *p)
{
	return is_web(src) ? fetch_http(src, p) : fetch_file(src, p);
}

static int drop_item_cb(struct fw_item *item, void *arg)
{
	(*(size_t *)arg)++;
	fw_item_free(item);
	return 0;
}

/* Is p a feed? Then 1 and its title (malloc()ed, may be NULL) in *title. */
static int page_is_feed(const struct page *p, char **title)
{
	size_t items = 0;
	struct fw_parser *ps = fw_parse_new(p->url, NULL, NULL, drop_item_cb, &items);
	int feed;

	if (ps == NULL)
		return -ENOMEM;
	fw_parse_push(ps, p->buf ? p->buf : "", p->len);
	feed = fw_parse_end(ps) == 0;
	*title = feed && fw_parse_feed_title(ps) ? strdup(fw_parse_feed_title(ps)) : NULL;
	fw_parse_free(ps);
	return feed;
}

/* Print the feeds of d, one a line (--json: objects). */
static void print_links(FILE *out, const struct fw_discover *d, bool json)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct fw_discover_link *l = &d->v[i];

		if (json) {
			json_t *o = json_pack("{s:s, s:s, s:s?}", "url", l->url, "type", l->type,
			                      "title", l->title);
			char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;

			if (line)
				fprintf(out, "%s\n", line);
			free(line);
			json_decref(o);
		} else {
			fprintf(out, "%s\t%s\t%s\n", l->url, l->type, l->title ? l->title : "");
		}
	}
}

/* The page's feeds; prints a message and returns NULL when it has none or on trouble. */
static struct fw_discover *discover_page(const struct page *p, const char *src)
{
	struct fw_discover *d = NULL;

	if (fw_discover_html(p->buf ? p->buf : "", p->len, p->url, &d) < 0) {
		fprintf(stderr, "feedwatch: %s: out of memory\n", src);
		return NULL;
	}
	if (d->n == 0) {
		fprintf(stderr,
		        "feedwatch: %s: an HTML page that links to no feed (no <link "
		        "rel=\"alternate\"> of an RSS, Atom or JSON Feed type)\n",
		        src);
		return fw_discover_free(d);
	}
	return d;
}

int fw_cli_feeds_explain_page(const char *src)
{
	struct page p = {.buf = NULL};
	struct fw_discover *d = NULL;
	int r = -1;

	if (fetch_page(src, &p) < 0 || !fw_discover_looks_html(p.buf ? p.buf : "", p.len))
		goto done;
	r = 0;
	if ((d = discover_page(&p, src)) == NULL)
		goto done;
	fprintf(stderr,
	        "feedwatch: %s: an HTML page, not a feed; it links to %zu feed%s (parse one of "
	        "them, or add it with feedwatch feeds add URL):\n",
	        src, d->n, d->n == 1 ? "" : "s");
	print_links(stderr, d, false);
done:
	fw_discover_free(d);
	page_clear(&p);
	return r;
}

int fw_cli_feeds_discover(const struct cli *c, char **args, int nargs)
{
	struct page p = {.buf = NULL};
	struct fw_discover *d = NULL;
	char *title = NULL;
	int code = 1;

	(void)nargs;
	if (fetch_page(args[0], &p) < 0) {
		fprintf(stderr, "feedwatch: %s: %s\n", args[0], p.err);
		goto done;
	}
	if (!fw_discover_looks_html(p.buf ? p.buf : "", p.len) && page_is_feed(&p, &title) == 1) {
		fprintf(stderr, "feedwatch: %s is a feed itself (%s): feedwatch feeds add %s\n",
		        args[0], title ? title : "no title", args[0]);
		goto done;
	}
	if ((d = discover_page(&p, args[0])) == NULL)
		goto done;
	print_links(stdout, d, c->json);
	code = 0;
done:
	free(title);
	fw_discover_free(d);
	page_clear(&p);
	return code;
}

/* The feeds file of cfg as it is now: an empty list when it does not exist yet. */
static struct fw_opml *read_feeds_file(const struct fw_config *cfg)
{
	struct fw_opml *o = NULL;
	char err[512];
	int r = fw_opml_read_file(cfg->feeds_file, &o, err, sizeof(err));

	if (r == -ENOENT)
		return fw_opml_new("feedwatch feeds");
	if (r < 0)
		fprintf(stderr, "feedwatch: %s\n", err);
	return r < 0 ? NULL : o;
}

/* The config feed (from either place) with this name or URL, or NULL. */
static const struct fw_config_feed *find_feed(const struct fw_config *cfg, const char *name,
                                              const char *url)
{
	for (size_t i = 0; i < cfg->n_feeds; i++)
		if ((name && strcmp(cfg->feeds[i].name, name) == 0) ||
		    (url && strcmp(cfg->feeds[i].url, url) == 0))
			return &cfg->feeds[i];
	return NULL;
}

/* A name for a new feed that no feed of cfg or o has: want, else want 2, want 3... The
   result is malloc()ed. */
static char *unique_name(const struct fw_config *cfg, const struct fw_opml *o, const char *want)
{
	char *name = strndup(want, 120);

	for (int k = 2; name && k < 100000; k++) {
		if (!find_feed(cfg, name, NULL) && fw_opml_find(o, name, NULL) < 0)
			return name;
		free(name);
		if (asprintf(&name, "%.120s %d", want, k) < 0)
			name = NULL;
	}
	free(name);
	return NULL;
}

/* Where a feed comes from, for messages: FILE:LINE. */
static void put_place(FILE *f, const struct fw_config_feed *cf)
{
	fprintf(f, "%s:%d", cf->file ? cf->file : "?", cf->line);
}

/* --tag "a,b" and --interval into f. 0, or 2 after a message. */
static int opts_into(const struct cli *c, struct fw_opml_feed *f)
{
	char *copy, *save = NULL;

	if (c->interval && (fw_duration_parse(c->interval, &f->interval) < 0 || f->interval <= 0)) {
		fprintf(stderr, "feedwatch: --interval '%s' is not a duration (like 15m, 2h)\n",
		        c->interval);
		return 2;
	}
	if (c->tag == NULL)
		return 0;
	if ((copy = strdup(c->tag)) == NULL)
		return 2;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		t += strspn(t, " ");
		if (fw_opml_feed_tag(f, t) < 0) {
			free(copy);
			return 2;
		}
	}
	free(copy);
	return 0;
}

/* Add f (with a name chosen from want) to the feeds file of cfg and save it. */
static int add_to_file(const struct cli *c, const struct fw_config *cfg, struct fw_opml_feed *f,
                       const char *want)
{
	const struct fw_config_feed *dup = find_feed(cfg, NULL, f->url);
	const struct fw_config_feed *named = c->name ? find_feed(cfg, c->name, NULL) : NULL;
	struct fw_opml *o;
	int r, code = 1;

	if (dup) {
		fprintf(stderr, "feedwatch: %s is already feed '%s' (", f->url, dup->name);
		put_place(stderr, dup);
		fputs(")\n", stderr);
		return 1;
	}
	if (named) {
		fprintf(stderr, "feedwatch: there is already a feed named '%s' (", c->name);
		put_place(stderr, named);
		fputs("): choose another --name\n", stderr);
		return 1;
	}
	if ((o = read_feeds_file(cfg)) == NULL)
		return 1;
	f->name = c->name ? strdup(c->name) : unique_name(cfg, o, want);
	if (f->name == NULL || (r = fw_opml_add(o, f)) < 0 ||
	    (r = fw_opml_save(o, cfg->feeds_file)) < 0) {
		fprintf(stderr, "feedwatch: cannot write %s: %s\n", cfg->feeds_file,
		        strerror(f->name ? -r : ENOMEM));
	} else {
		printf("added feed '%s' (%s) to %s\n", f->name, f->url, cfg->feeds_file);
		code = 0;
	}
	free(f->name);
	f->name = NULL;
	fw_opml_free(o);
	return code;
}

/* What to add for src: a feed as it is, or the one feed an HTML page links to. 0 with
   f->url and *want set, or an exit code after a message. */
static int resolve_feed(const char *src, struct fw_opml_feed *f, char **want)
{
	struct page p = {.buf = NULL};
	struct fw_discover *d = NULL;
	char *title = NULL;
	int code = 1, feed;

	if (fetch_page(src, &p) < 0) {
		fprintf(stderr, "feedwatch: %s: %s\n", src, p.err);
		goto done;
	}
	feed = fw_discover_looks_html(p.buf ? p.buf : "", p.len) ? 0 : page_is_feed(&p, &title);
	if (feed == 1) {
		f->url = strdup(is_web(src) ? src : p.url);
		*want = title && *title ? strdup(title) : fw_text_url_host(p.url, false);
	} else if (!fw_discover_looks_html(p.buf ? p.buf : "", p.len)) {
		fprintf(stderr, "feedwatch: %s: neither a feed nor an HTML page\n", src);
		goto done;
	} else if ((d = discover_page(&p, src)) == NULL) {
		goto done;
	} else if (d->n > 1) {
		fprintf(stderr,
		        "feedwatch: %s links to %zu feeds; add the one you want with feedwatch "
		        "feeds add URL:\n",
		        src, d->n);
		print_links(stderr, d, false);
		goto done;
	} else {
		f->url = strdup(d->v[0].url);
		*want = strdup(d->v[0].title   ? d->v[0].title
		               : d->page_title ? d->page_title
		                               : d->v[0].url);
		printf("%s is an HTML page; its feed is %s\n", src, d->v[0].url);
	}
	code = f->url && *want ? 0 : 1;
done:
	free(title);
	fw_discover_free(d);
	page_clear(&p);
	return code;
}

int fw_cli_feeds_add(const struct cli *c, char **args, int nargs)
{
	struct fw_opml_feed f = {.line = 0};
	struct fw_config *cfg;
	char *want = NULL;
	int code;

	(void)nargs;
	if (c->name && !fw_config_name_ok(c->name)) {
		fprintf(stderr, "feedwatch: --name must be 1 to %d bytes of printable UTF-8\n",
		        FW_CONFIG_NAME_MAX);
		return 2;
	}
	if ((code = opts_into(c, &f)) != 0)
		goto done;
	if ((cfg = fw_cli_load_config(c->config, true)) == NULL) {
		code = 2;
		goto done;
	}
	if (find_feed(cfg, NULL, args[0])) {
		/* before any fetch: the URL as given is a feed already */
		f.url = strdup(args[0]);
		code = f.url ? add_to_file(c, cfg, &f, args[0]) : 2;
		fw_config_free(cfg);
		goto done;
	}
	code = resolve_feed(args[0], &f, &want);
	if (code == 0) {
		char *clean = want;

		for (char *p = clean; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		code = add_to_file(c, cfg, &f, clean);
	}
	fw_config_free(cfg);
done:
	free(want);
	free(f.url);
	for (size_t i = 0; i < f.n_tags; i++)
		free(f.tags[i]);
	free(f.tags);
	return code;
}

int fw_cli_feeds_remove(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg = fw_cli_load_config(c->config, true);
	const struct fw_config_feed *cf;
	struct fw_opml *o = NULL;
	long i;
	int r, code = 1;

	(void)nargs;
	if (cfg == NULL)
		return 2;
	cf = find_feed(cfg, args[0], NULL);
	if (cf == NULL) {
		fprintf(stderr, "feedwatch: no feed named '%s' (feedwatch feeds list)\n", args[0]);
	} else if (cf->file == NULL || strcmp(cf->file, cfg->feeds_file) != 0) {
		fprintf(stderr, "feedwatch: feed '%s' is in the hand-written config at ", args[0]);
		put_place(stderr, cf);
		fputs(": remove it there\n", stderr);
	} else if ((o = read_feeds_file(cfg)) != NULL &&
	           (i = fw_opml_find(o, args[0], NULL)) >= 0) {
		fw_opml_remove(o, (size_t)i);
		if ((r = fw_opml_save(o, cfg->feeds_file)) < 0)
			fprintf(stderr, "feedwatch: cannot write %s: %s\n", cfg->feeds_file,
			        strerror(-r));
		else
			printf("removed feed '%s' from %s\n", args[0], cfg->feeds_file), code = 0;
	}
	fw_opml_free(o);
	fw_config_free(cfg);
	return code;
}

/* Import one feed of the file read; prints what was skipped. 1 added, 0 skipped. */
static int import_one(const struct fw_config *cfg, struct fw_opml *o, const char *src,
                      struct fw_opml_feed *f)
{
	const struct fw_config_feed *dup = find_feed(cfg, NULL, f->url);
	char *name, *orig = f->name;
	int r;

	if (dup || fw_opml_find(o, NULL, f->url) >= 0) {
		printf("skipped '%s' (%s:%d): %s is already feed '%s'", f->name, src, f->line,
		       f->url, dup ? dup->name : o->feeds[fw_opml_find(o, NULL, f->url)].name);
		if (dup) {
			fputs(" (", stdout);
			put_place(stdout, dup);
			fputs(")", stdout);
		}
		fputs("\n", stdout);
		return 0;
	}
	if (!is_web(f->url)) {
		printf("skipped '%s' (%s:%d): %s is not an http:// or https:// URL\n", f->name, src,
		       f->line, f->url);
		return 0;
	}
	if ((name = unique_name(cfg, o, f->name)) == NULL)
		return -ENOMEM;
	f->name = name;
	f->line = 0;
	r = fw_opml_add(o, f);
	f->name = orig;
	free(name);
	return r < 0 ? r : 1;
}

int fw_cli_feeds_import(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg = fw_cli_load_config(c->config, true);
	struct fw_opml *in = NULL, *o = NULL;
	size_t added = 0, skipped = 0;
	char err[512];
	int r = 0, code = 1;

	(void)nargs;
	if (cfg == NULL)
		return 2;
	if (fw_opml_read_file(args[0], &in, err, sizeof(err)) < 0) {
		fprintf(stderr, "feedwatch: %s\n", err);
		goto done;
	}
	if ((o = read_feeds_file(cfg)) == NULL)
		goto done;
	for (size_t i = 0; i < in->n && r >= 0; i++) {
		r = import_one(cfg, o, args[0], &in->feeds[i]);
		added += r == 1;
		skipped += r == 0;
	}
	if (r < 0 || (added > 0 && (r = fw_opml_save(o, cfg->feeds_file)) < 0)) {
		fprintf(stderr, "feedwatch: cannot write %s: %s\n", cfg->feeds_file, strerror(-r));
		goto done;
	}
	printf("imported %zu feed%s from %s into %s; %zu skipped\n", added, added == 1 ? "" : "s",
	       args[0], cfg->feeds_file, skipped);
	code = 0;
done:
	fw_opml_free(in);
	fw_opml_free(o);
	fw_config_free(cfg);
	return code;
}

int fw_cli_feeds_export(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg = fw_cli_load_config(c->config, true);
	struct fw_opml *o = fw_opml_new("feedwatch feeds");
	char *text = NULL;
	size_t len = 0;
	int r = o ? 0 : -ENOMEM, code = 1;

	(void)args;
	(void)nargs;
	if (cfg == NULL) {
		fw_opml_free(o);
		return 2;
	}
	for (size_t i = 0; i < cfg->n_feeds && r == 0; i++) {
		const struct fw_config_feed *cf = &cfg->feeds[i];
		struct fw_opml_feed f = {.name = cf->name,
		                         .url = cf->url,
		                         .tags = cf->tags,
		                         .n_tags = cf->n_tags,
		                         .interval =
		                             cf->interval != cfg->interval ? cf->interval : 0};

		r = fw_opml_add(o, &f);
	}
	if (r == 0 && (r = fw_opml_format(o, &text, &len)) == 0 &&
	    fwrite(text, 1, len, stdout) == len)
		code = 0;
	else
		fprintf(stderr, "feedwatch: export: %s\n", strerror(r < 0 ? -r : EIO));
	free(text);
	fw_opml_free(o);
	fw_config_free(cfg);
	return code;
}

static void list_one(const struct fw_config *cfg, const struct fw_config_feed *cf, bool json)
{
	bool from_file = cf->file && strcmp(cf->file, cfg->feeds_file) == 0;

	if (json) {
		json_t *tags = json_array(), *o;
		char *line;

		for (size_t k = 0; k < cf->n_tags; k++)
			json_array_append_new(tags, json_string(cf->tags[k]));
		o = json_pack("{s:s, s:s, s:o, s:I, s:s, s:s?, s:i}", "name", cf->name, "url",
		              cf->url, "tags", tags, "interval", (json_int_t)cf->interval, "source",
		              from_file ? "feeds_file" : "config", "file", cf->file, "line",
		              cf->line);
		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			puts(line);
		free(line);
		json_decref(o);
		return;
	}
	printf("%s\t%s\tevery %llds\t", cf->name, cf->url, (long long)cf->interval);
	for (size_t k = 0; k < cf->n_tags; k++)
		printf("%s%s", k ? "," : "", cf->tags[k]);
	printf("\t%s:%d\n", cf->file ? cf->file : "?", cf->line);
}

int fw_cli_feeds_list(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg = fw_cli_load_config(c->config, true);

	(void)args;
	(void)nargs;
	if (cfg == NULL)
		return 2;
	for (size_t i = 0; i < cfg->n_feeds; i++)
		list_one(cfg, &cfg->feeds[i], c->json);
	if (cfg->n_feeds == 0)
		fprintf(stderr, "feedwatch: no feeds (add one: feedwatch feeds add URL)\n");
	fw_config_free(cfg);
	return 0;
}
