/* opml.c - OPML subscription lists in and out, and the feeds file joined to the config.
   Pure: never logs. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlstring.h>

#include "config.h"
#include "duration.h"
#include "opml.h"
#include "strmap.h"
#include "text.h"

#define FW_OPML_MAX_NAME 128 /* bytes of a feed name, as the config's */

struct fw_opml *fw_opml_new(const char *title)
{
	struct fw_opml *o = calloc(1, sizeof(*o));

	if (o && title && (o->title = strdup(title)) == NULL)
		o = fw_opml_free(o);
	return o;
}

static void feed_clear(struct fw_opml_feed *f)
{
	free(f->name);
	free(f->url);
	free(f->html_url);
	for (size_t i = 0; i < f->n_tags; i++)
		free(f->tags[i]);
	free(f->tags);
	memset(f, 0, sizeof(*f));
}

struct fw_opml *fw_opml_free(struct fw_opml *o)
{
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		feed_clear(&o->feeds[i]);
	free(o->feeds);
	free(o->title);
	free(o);
	return NULL;
}

int fw_opml_feed_tag(struct fw_opml_feed *f, const char *tag)
{
	char **v, *t;

	if (tag == NULL || tag[0] == 0 || f->n_tags >= FW_OPML_MAX_TAGS)
		return 0;
	if ((t = strndup(tag, FW_OPML_MAX_NAME)) == NULL)
		return -ENOMEM;
	/* a comma separates categories and a control character is no name: spaces */
	for (char *p = t; *p; p++)
		if (*p == ',' || (unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	for (size_t i = 0; i < f->n_tags; i++)
		if (strcmp(f->tags[i], t) == 0) {
			free(t);
			return 0;
		}
	v = realloc(f->tags, (f->n_tags + 1) * sizeof(*v));
	if (v == NULL) {
		free(t);
		return -ENOMEM;
	}
	f->tags = v;
	v[f->n_tags++] = t;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int fw_opml_add(struct fw_opml *o, const struct fw_opml_feed *f)
{
	struct fw_opml_feed *nf;

	if (o->n >= FW_OPML_MAX_FEEDS)
		return -EFBIG;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct fw_opml_feed *v = realloc(o->feeds, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		o->feeds = v;
		o->cap = cap;
	}
	nf = &o->feeds[o->n];
	memset(nf, 0, sizeof(*nf));
	nf->name = dup_or_null(f->name);
	nf->url = dup_or_null(f->url);
	nf->html_url = dup_or_null(f->html_url);
	nf->interval = f->interval;
	nf->line = f->line;
	for (size_t i = 0; i < f->n_tags; i++)
		if (fw_opml_feed_tag(nf, f->tags[i]) < 0)
			goto nomem;
	if (nf->name == NULL || nf->url == NULL || (f->html_url && nf->html_url == NULL))
		goto nomem;
	o->n++;
	return 0;
nomem:
	feed_clear(nf);
	return -ENOMEM;
}

void fw_opml_remove(struct fw_opml *o, size_t i)
{
	if (i >= o->n)
		return;
	feed_clear(&o->feeds[i]);
	memmove(&o->feeds[i], &o->feeds[i + 1], (o->n - i - 1) * sizeof(o->feeds[0]));
	o->n--;
}

long fw_opml_find(const struct fw_opml *o, const char *name, const char *url)
{
	for (size_t i = 0; i < o->n; i++)
		if ((name && strcmp(o->feeds[i].name, name) == 0) ||
		    (url && strcmp(o->feeds[i].url, url) == 0))
			return (long)i;
	return -1;
}

/* ---- reading ---- */

/* An attribute's value with surrounding white space trimmed (malloc()ed), or NULL when
   absent or blank. */
static char *attr(xmlNode *n, const char *name, const char *ns)
{
	xmlChar *v = ns ? xmlGetNsProp(n, (const xmlChar *)name, (const xmlChar *)ns)
	                : xmlGetNoNsProp(n, (const xmlChar *)name);
	char *s, *out = NULL;
	size_t len;

	if (v == NULL)
		return NULL;
	s = (char *)v;
	s += strspn(s, " \t\r\n");
	len = strlen(s);
	while (len > 0 && strchr(" \t\r\n", s[len - 1]))
		len--;
	if (len > 0)
		out = strndup(s, len);
	xmlFree(v);
	return out;
}

/* A feed's name fit for the config: control characters as spaces, at most
   FW_OPML_MAX_NAME bytes cut at a character boundary. */
static void clean_name(char *s)
{
	size_t len = strlen(s);

	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (len > FW_OPML_MAX_NAME) {
		len = FW_OPML_MAX_NAME;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
		s[len] = 0;
	}
}

/* The host of url, for a feed that has no title. */
static char *host_of(const char *url)
{
	char *h = fw_text_url_host(url, false);

	if (h && !*h) {
		free(h);
		h = strdup(url);
	}
	return h;
}

/* The folders around an outline, innermost last. */
struct path {
	const char *v[FW_OPML_MAX_DEPTH];
	size_t n;
};

/* The category attribute: comma-separated, each a path ("/News/World") kept whole as one
   tag without its leading slash. */
static int add_categories(struct fw_opml_feed *f, const char *cats)
{
	char *copy = strdup(cats), *save = NULL;

	if (copy == NULL)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok += strspn(tok, " \t/");
		if (fw_opml_feed_tag(f, tok) < 0) {
			free(copy);
			return -ENOMEM;
		}
	}
	free(copy);
	return 0;
}

/* One outline with an xmlUrl: a feed of o. */
static int read_feed(struct fw_opml *o, xmlNode *n, char *url, const struct path *path)
{
	struct fw_opml_feed f = {.url = url, .line = (int)xmlGetLineNo(n)};
	char *title = attr(n, "title", NULL), *text = attr(n, "text", NULL);
	char *cats = attr(n, "category", NULL), *iv = attr(n, "interval", FW_OPML_NS);
	int r = 0;

	f.name = title ? title : text ? text : host_of(url);
	f.html_url = attr(n, "htmlUrl", NULL);
	if (f.name)
		clean_name(f.name);
	if (iv && (fw_duration_parse(iv, &f.interval) < 0 || f.interval < 0))
		f.interval = 0;
	for (size_t i = 0; i < path->n && r == 0; i++)
		r = fw_opml_feed_tag(&f, path->v[i]);
	if (r == 0 && cats)
		r = add_categories(&f, cats);
	if (r == 0)
		r = f.name ? fw_opml_add(o, &f) : -ENOMEM;
	if (f.name != title && f.name != text)
		free(f.name);
	f.name = NULL;
	f.url = NULL;
	free(title);
	free(text);
	free(cats);
	free(iv);
	free(f.html_url);
	for (size_t i = 0; i < f.n_tags; i++)
		free(f.tags[i]);
	free(f.tags);
	return r;
}

/* The outlines under parent, folders as tags. */
static int read_outlines(struct fw_opml *o, xmlNode *parent, struct path *path)
{
	for (xmlNode *n = parent->children; n; n = n->next) {
		char *url, *folder;
		int r;

		if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "outline") != 0)
			continue;
		if ((url = attr(n, "xmlUrl", NULL)) != NULL) {
			r = read_feed(o, n, url, path);
			free(url);
			if (r < 0)
				return r;
			continue;
		}
		if (path->n >= FW_OPML_MAX_DEPTH)
			return -EFBIG;
		folder = attr(n, "title", NULL);
		if (folder == NULL)
			folder = attr(n, "text", NULL);
		path->v[path->n++] = folder ? folder : "";
		r = read_outlines(o, n, path);
		path->n--;
		free(folder);
		if (r < 0)
			return r;
	}
	return 0;
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST name) == 0)
			return c;
	return NULL;
}

/* The document's title from head/title. */
static int read_title(struct fw_opml *o, xmlNode *root)
{
	xmlNode *t = child(child(root, "head"), "title");
	xmlChar *s = t ? xmlNodeGetContent(t) : NULL;

	if (s && *s && (o->title = strdup((const char *)s)) == NULL) {
		xmlFree(s);
		return -ENOMEM;
	}
	xmlFree(s);
	return 0;
}

int fw_opml_parse(const char *buf, size_t len, const char *name, struct fw_opml **out, char *err,
                  size_t errlen)
{
	/* No NOENT (no substitution of external entities), no DTD loading, no network. */
	const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	                 XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES;
	xmlParserCtxt *ctx;
	xmlDoc *doc = NULL;
	xmlNode *root, *body;
	struct fw_opml *o = NULL;
	struct path path = {.n = 0};
	int r = -EBADMSG;

	snprintf(err, errlen, "%s: not an OPML document", name);
	if (len > FW_OPML_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d MiB", name, FW_OPML_MAX_BYTES >> 20);
		return -EFBIG;
	}
	if ((ctx = xmlNewParserCtxt()) == NULL)
		return -ENOMEM;
	doc = xmlCtxtReadMemory(ctx, buf, (int)len, name, NULL, opts);
	if (doc == NULL) {
		const xmlError *e = xmlCtxtGetLastError(ctx);

		if (e && e->message)
			snprintf(err, errlen, "%s:%d: not well-formed XML: %.*s", name, e->line,
			         (int)strcspn(e->message, "\n"), e->message);
		goto done;
	}
	root = xmlDocGetRootElement(doc);
	body = child(root, "body");
	if (root == NULL || xmlStrcmp(root->name, BAD_CAST "opml") != 0 || body == NULL)
		goto done;
	r = -ENOMEM;
	if ((o = fw_opml_new(NULL)) == NULL || read_title(o, root) < 0)
		goto done;
	r = read_outlines(o, body, &path);
	if (r == -EFBIG)
		snprintf(err, errlen, "%s: more than %d feeds or %d nested folders", name,
		         FW_OPML_MAX_FEEDS, FW_OPML_MAX_DEPTH);
done:
	if (r == 0)
		*out = o;
	else
		fw_opml_free(o);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctx);
	return r;
}

int fw_opml_read_file(const char *path, struct fw_opml **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto done;
	}
	r = -EFBIG;
	snprintf(err, errlen, "%s: larger than %d MiB", path, FW_OPML_MAX_BYTES >> 20);
	if (st.st_size > FW_OPML_MAX_BYTES)
		goto done;
	r = -ENOMEM;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto done;
	while (len < (size_t)st.st_size &&
	       (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto done;
		}
		len += (size_t)n;
	}
	r = fw_opml_parse(buf, len, path, out, err, errlen);
done:
	free(buf);
	close(fd);
	return r;
}

/* ---- writing ---- */

/* One feed's outline under parent. */
static int write_feed(xmlNode *parent, xmlNs *ns, const struct fw_opml_feed *f)
{
	xmlNode *n = xmlNewChild(parent, NULL, BAD_CAST "outline", NULL);
	char iv[32], *cats = NULL;
	size_t len = 0;

	if (n == NULL)
		return -ENOMEM;
	xmlNewProp(n, BAD_CAST "type", BAD_CAST "rss");
	xmlNewProp(n, BAD_CAST "text", BAD_CAST f->name);
	xmlNewProp(n, BAD_CAST "title", BAD_CAST f->name);
	xmlNewProp(n, BAD_CAST "xmlUrl", BAD_CAST f->url);
	if (f->html_url)
		xmlNewProp(n, BAD_CAST "htmlUrl", BAD_CAST f->html_url);
	for (size_t i = 0; i < f->n_tags; i++)
		len += strlen(f->tags[i]) + 2;
	if (f->n_tags > 0 && (cats = calloc(1, len + 1)) != NULL) {
		for (size_t i = 0; i < f->n_tags; i++) {
			strcat(cats, i ? ",/" : "/");
			strcat(cats, f->tags[i]);
		}
		xmlNewProp(n, BAD_CAST "category", BAD_CAST cats);
		free(cats);
	} else if (f->n_tags > 0) {
		return -ENOMEM;
	}
	if (f->interval > 0) {
		snprintf(iv, sizeof(iv), "%lld", (long long)f->interval);
		xmlNewNsProp(n, ns, BAD_CAST "interval", BAD_CAST iv);
	}
	return 0;
}

/* The folder outline named tag under body, made when missing. */
static xmlNode *folder(xmlNode *body, const char *tag)
{
	xmlNode *n;

	for (n = body->children; n; n = n->next) {
		xmlChar *t =
		    n->type == XML_ELEMENT_NODE ? xmlGetNoNsProp(n, BAD_CAST "text") : NULL;
		bool same =
		    t && !xmlHasProp(n, BAD_CAST "xmlUrl") && strcmp((const char *)t, tag) == 0;

		xmlFree(t);
		if (same)
			return n;
	}
	n = xmlNewChild(body, NULL, BAD_CAST "outline", NULL);
	if (n) {
		xmlNewProp(n, BAD_CAST "text", BAD_CAST tag);
		xmlNewProp(n, BAD_CAST "title", BAD_CAST tag);
	}
	return n;
}

int fw_opml_format(const struct fw_opml *o, char **out, size_t *len)
{
	xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *root, *head, *body;
	xmlNs *ns;
	xmlChar *mem = NULL;
	int size = 0, r = -ENOMEM;

	if (doc == NULL)
		return -ENOMEM;
	root = xmlNewNode(NULL, BAD_CAST "opml");
	if (root == NULL)
		goto done;
	xmlDocSetRootElement(doc, root);
	xmlNewProp(root, BAD_CAST "version", BAD_CAST "2.0");
	ns = xmlNewNs(root, BAD_CAST FW_OPML_NS, BAD_CAST "fw");
	head = xmlNewChild(root, NULL, BAD_CAST "head", NULL);
	body = xmlNewChild(root, NULL, BAD_CAST "body", NULL);
	if (ns == NULL || head == NULL || body == NULL)
		goto done;
	xmlNewTextChild(head, NULL, BAD_CAST "title",
	                BAD_CAST(o->title ? o->title : "feedwatch feeds"));
	for (size_t i = 0; i < o->n; i++) {
		const struct fw_opml_feed *f = &o->feeds[i];
		xmlNode *parent = f->n_tags > 0 ? folder(body, f->tags[0]) : body;

		if (parent == NULL || write_feed(parent, ns, f) < 0)
			goto done;
	}
	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 1);
	if (mem == NULL || size < 0)
		goto done;
	if ((*out = malloc((size_t)size + 1)) == NULL)
		goto done;
	memcpy(*out, mem, (size_t)size);
	(*out)[size] = 0;
	*len = (size_t)size;
	r = 0;
done:
	xmlFree(mem);
	xmlFreeDoc(doc);
	return r;
}

/* Write all of buf to fd. 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int fw_opml_save(const struct fw_opml *o, const char *path)
{
	char *text = NULL, *tmp = NULL, *dcopy = NULL;
	size_t len = 0;
	int fd = -1, r = fw_opml_format(o, &text, &len);

	if (r < 0)
		return r;
	r = -ENOMEM;
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		goto done;
	}
	/* mkostemp creates the file 0600 */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = -errno;
		goto done;
	}
	r = write_all(fd, text, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	fd = -1;
	if (r < 0)
		goto done;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto done;
	}
	free(tmp);
	tmp = NULL;
	r = 0;
	if ((dcopy = strdup(path)) != NULL) {
		int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
done:
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(dcopy);
	free(text);
	return r;
}

/* ---- the config's side ---- */

static bool url_ok(const char *u)
{
	bool web = strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;

	if (strpbrk(u, " \t\r\n") != NULL)
		return false;
	return (web && strlen(u) >= 10) || strncasecmp(u, "file:///", 8) == 0;
}

/* The config's feeds so far by name and by URL (the first of each), for no_clash. */
struct clash_maps {
	struct fw_strmap names, urls;
};

/* Add cfg's feed i to the maps. 0 or -ENOMEM. */
static int clash_add(struct clash_maps *m, const struct fw_config *cfg, size_t i)
{
	const struct fw_config_feed *c = &cfg->feeds[i];
	int r = 0;

	if (c->name && (r = fw_strmap_add(&m->names, c->name, i, NULL)) == -ENOMEM)
		return r;
	if (c->url && (r = fw_strmap_add(&m->urls, c->url, i, NULL)) == -ENOMEM)
		return r;
	return 0;
}

/* Is f (from the file) clear of the config's feeds [0, n_conf) and of the file's feeds
   before it (all in m)? A clash is an error naming both places: the first feed clashing. */
static bool no_clash(const struct fw_config *cfg, size_t n_conf, const struct clash_maps *m,
                     const struct fw_opml_feed *f, struct fw_diags *d)
{
	size_t by_name = SIZE_MAX, by_url = SIZE_MAX, i;
	const struct fw_config_feed *c;
	bool name;

	fw_strmap_get(&m->names, f->name, &by_name);
	fw_strmap_get(&m->urls, f->url, &by_url);
	i = by_name < by_url ? by_name : by_url;
	if (i == SIZE_MAX)
		return true;
	c = &cfg->feeds[i];
	name = i == by_name;
	if (i < n_conf)
		fw_diags_add(d, false, c->file ? c->file : cfg->path, c->line,
		             "feed '%s' has the %s of feed '%s' in %s (outline at line %d): "
		             "rename or remove one (feedwatch feeds remove NAME edits %s)",
		             c->name ? c->name : "?", name ? "name" : "URL", f->name,
		             cfg->feeds_file, f->line, cfg->feeds_file);
	else
		fw_diags_add(d, false, cfg->feeds_file, f->line,
		             "feed '%s' has the %s of feed '%s' at line %d of this file", f->name,
		             name ? "name" : "URL", c->name, c->line);
	return false;
}

/* Append f as cfg's feed with the config's defaults; takes f's strings. */
static void append_feed(struct fw_config *cfg, struct fw_opml_feed *f, struct fw_diags *d)
{
	struct fw_config_feed *c = &cfg->feeds[cfg->n_feeds++];

	memset(c, 0, sizeof(*c));
	c->name = f->name;
	c->url = f->url;
	c->tags = f->tags;
	c->n_tags = f->n_tags;
	f->name = f->url = NULL;
	f->tags = NULL;
	f->n_tags = 0;
	c->interval = f->interval > 0 ? f->interval : cfg->interval;
	if (c->interval < cfg->min_interval) {
		fw_diags_add(d, true, cfg->feeds_file, f->line,
		             "feed '%s': interval raised to min_interval (%llds)", c->name,
		             (long long)cfg->min_interval);
		c->interval = cfg->min_interval;
	}
	c->first_poll_max_age = cfg->first_poll_max_age;
	c->max_alerts_per_poll = cfg->max_alerts_per_poll;
	c->timeout = cfg->timeout;
	c->tls_verify = true;
	c->file = cfg->feeds_file;
	c->line = f->line;
}

int fw_opml_config_append(struct fw_config *cfg, struct fw_diags *d)
{
	struct fw_opml *o = NULL;
	struct fw_config_feed *v;
	struct clash_maps m = {0};
	size_t n_conf = cfg->n_feeds;
	char err[512];
	int r;

	if (cfg->feeds_file == NULL)
		return 0;
	r = fw_opml_read_file(cfg->feeds_file, &o, err, sizeof(err));
	if (r == -ENOENT || r == -ENOMEM)
		return r == -ENOMEM ? r : 0;
	if (r < 0) {
		fw_diags_add(d, false, cfg->feeds_file, 0, "the feeds file: %s", err);
		return 0;
	}
	v = realloc(cfg->feeds, (n_conf + o->n + 1) * sizeof(*v));
	if (v == NULL) {
		fw_opml_free(o);
		return -ENOMEM;
	}
	cfg->feeds = v;
	memset(&v[n_conf], 0, (o->n + 1) * sizeof(*v));
	r = 0;
	for (size_t i = 0; r >= 0 && i < n_conf; i++)
		r = clash_add(&m, cfg, i);
	for (size_t i = 0; r >= 0 && i < o->n; i++) {
		struct fw_opml_feed *f = &o->feeds[i];

		if (!url_ok(f->url))
			fw_diags_add(d, false, cfg->feeds_file, f->line,
			             "feed '%s': '%s' is not an http://, https:// or file:/// URL",
			             f->name, f->url);
		else if (no_clash(cfg, n_conf, &m, f, d)) {
			append_feed(cfg, f, d);
			r = clash_add(&m, cfg, cfg->n_feeds - 1);
		}
	}
	fw_strmap_clear(&m.names);
	fw_strmap_clear(&m.urls);
	fw_opml_free(o);
	return r < 0 ? r : 0;
}
