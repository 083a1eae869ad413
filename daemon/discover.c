/* discover.c - feed autodiscovery in HTML pages (libxml2's HTML parser). Pure. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>

#include "discover.h"

static const char *const feed_types[] = {"application/rss+xml",   "application/atom+xml",
                                         "application/feed+json", "application/json",
                                         "application/rdf+xml",   NULL};

bool fw_discover_looks_html(const char *buf, size_t len)
{
	static const char *const marks[] = {"<!doctype html", "<html", "<head", "<body", NULL};
	size_t n = len < 4096 ? len : 4096;

	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '<')
			continue;
		for (const char *const *m = marks; *m; m++)
			if (n - i >= strlen(*m) && strncasecmp(buf + i, *m, strlen(*m)) == 0)
				return true;
	}
	return false;
}

struct fw_discover *fw_discover_free(struct fw_discover *d)
{
	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].url);
		free(d->v[i].title);
		free(d->v[i].type);
	}
	free(d->v);
	free(d->page_title);
	free(d);
	return NULL;
}

/* An attribute as a malloc()ed string with surrounding white space trimmed, or NULL. */
static char *attr(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, BAD_CAST name);
	const char *s = (const char *)v;
	size_t len;
	char *out = NULL;

	if (v == NULL)
		return NULL;
	s += strspn(s, " \t\r\n\f");
	len = strlen(s);
	while (len > 0 && strchr(" \t\r\n\f", s[len - 1]))
		len--;
	if (len > 0)
		out = strndup(s, len);
	xmlFree(v);
	return out;
}

/* Does the space-separated rel list hold "alternate"? */
static bool rel_alternate(const char *rel)
{
	const char *p = rel;

	while (p && *p) {
		size_t k;

		p += strspn(p, " \t\r\n\f");
		k = strcspn(p, " \t\r\n\f");
		if (k == 9 && strncasecmp(p, "alternate", 9) == 0)
			return true;
		p += k;
	}
	return false;
}

/* The media type without parameters, lower case, when it is a feed's; else NULL. */
static char *feed_type(const char *type)
{
	size_t k = strcspn(type, "; \t");
	char *t = strndup(type, k);

	for (char *p = t; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (const char *const *f = feed_types; t && *f; f++)
		if (strcmp(t, *f) == 0)
			return t;
	free(t);
	return NULL;
}

/* href resolved against base (may be NULL). */
static char *resolve(const char *href, const char *base)
{
	xmlChar *u = base ? xmlBuildURI(BAD_CAST href, BAD_CAST base) : NULL;
	char *out = u ? strdup((const char *)u) : strdup(href);

	xmlFree(u);
	return out;
}

/* Walk state: the base URL and the list being built. */
struct walk {
	char *base;
	struct fw_discover *d;
	int depth;
};

/* The first <base href> of the document (it counts for every link, even one before it). */
static xmlNode *find_base(xmlNode *n, int depth)
{
	for (; n && depth < 256; n = n->next) {
		xmlNode *b;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (xmlStrcasecmp(n->name, BAD_CAST "base") == 0 && xmlHasProp(n, BAD_CAST "href"))
			return n;
		if ((b = find_base(n->children, depth + 1)) != NULL)
			return b;
	}
	return NULL;
}

static int add_link(struct walk *w, xmlNode *n)
{
	char *rel = attr(n, "rel"), *type = attr(n, "type"), *href = attr(n, "href");
	char *ft = type && rel && href && rel_alternate(rel) ? feed_type(type) : NULL;
	char *url = ft ? resolve(href, w->base) : NULL;
	int r = 0;

	for (size_t i = 0; url && i < w->d->n; i++)
		if (strcmp(w->d->v[i].url, url) == 0)
			goto done;
	if (url && w->d->n < FW_DISCOVER_MAX_LINKS) {
		struct fw_discover_link *l = &w->d->v[w->d->n++];

		l->url = url;
		l->type = ft;
		l->title = attr(n, "title");
		url = ft = NULL;
	} else if (ft && url == NULL) {
		r = -ENOMEM;
	}
done:
	free(rel);
	free(type);
	free(href);
	free(ft);
	free(url);
	return r;
}

static int walk(struct walk *w, xmlNode *n)
{
	for (; n; n = n->next) {
		int r = 0;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (xmlStrcasecmp(n->name, BAD_CAST "link") == 0) {
			r = add_link(w, n);
		} else if (xmlStrcasecmp(n->name, BAD_CAST "title") == 0 &&
		           w->d->page_title == NULL) {
			xmlChar *t = xmlNodeGetContent(n);

			w->d->page_title = t ? strdup((const char *)t) : NULL;
			xmlFree(t);
		}
		if (r < 0)
			return r;
		if (n->children && w->depth < 256) {
			w->depth++;
			r = walk(w, n->children);
			w->depth--;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int fw_discover_html(const char *page, size_t len, const char *page_url, struct fw_discover **out)
{
	const int opts = HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
	                 HTML_PARSE_NOWARNING | HTML_PARSE_NOBLANKS;
	struct fw_discover *d;
	htmlDocPtr doc;
	xmlNode *base;
	char *href;
	struct walk w = {.base = NULL};
	int r;

	if (len > FW_DISCOVER_MAX_BYTES)
		return -EFBIG;
	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->v = calloc(FW_DISCOVER_MAX_LINKS, sizeof(*d->v))) == NULL) {
		free(d);
		return -ENOMEM;
	}
	w.d = d;
	if (page_url && (w.base = strdup(page_url)) == NULL) {
		fw_discover_free(d);
		return -ENOMEM;
	}
	doc = htmlReadMemory(page, (int)len, page_url, NULL, opts);
	base = doc ? find_base(xmlDocGetRootElement(doc), 0) : NULL;
	if (base && (href = attr(base, "href")) != NULL) {
		/* the base is itself resolved against the page's URL */
		char *b = resolve(href, w.base);

		free(w.base);
		w.base = b;
		free(href);
	}
	r = doc ? walk(&w, xmlDocGetRootElement(doc)) : 0;
	xmlFreeDoc(doc);
	free(w.base);
	if (r < 0) {
		fw_discover_free(d);
		return r;
	}
	*out = d;
	return 0;
}
