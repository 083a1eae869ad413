/*
 * parse.c - streaming feed parser: bytes in (any chunking), items out. Pure: never logs.
 *
 * Pipeline for XML: sniff (BOM, prolog, HTTP charset) -> repair filter -> libxml2 SAX2 push
 * parser -> element stack -> fields -> items. JSON Feed documents (first byte '{') are held
 * whole up to max_json and read with jansson at the end.
 *
 * The repair filter (repair.c) fixes, before libxml2 sees them, the damage that makes
 * most real feeds ill-formed, reads the DOCTYPE for internal entities (none reaches
 * libxml2) and drops elements nested deeper than max_depth. Here: sniffing, the SAX
 * mapping of elements to fields and items (the fields' values: fields.c), ids, delivery
 * and the API. JSON Feed is jsonfeed.c. What they share is parse_int.h.
 *
 * Security: no DTD is loaded and no entity is declared to libxml2 (see repair.c).
 * No network (XML_PARSE_NONET), and the SAX handlers that could resolve external things
 * are left NULL. UTF-16 documents (filter off) go to libxml2 as they are, DOCTYPE and
 * all: it reads the declarations, but its only entity lookup is get_entity_cb.
 *
 * Bounds: every field is capped (max_field after extraction, max_raw_field of markup
 * gathered), and so are the things that could multiply bytes: one resolved xml:base at
 * BASE_MAX (8 KiB, a longer one is ignored), the whole xml:base stack at BASES_TOTAL_MAX
 * (64 KiB) and max_depth (256) deep, a resolved link or id at max_field (else it stays
 * as written), internal entities (DTD_MAX read, ENT_STORE_MAX held, ENT_TOTAL_MAX
 * substituted), the filter's names of open elements (max_depth names, DROPPED_MAX
 * hashes). So one XML document of B bytes costs at most about 5 x B + 5 MiB: libxml2's
 * input buffer and its copies of names and attribute values (<= 2 x B), the fields of
 * the item being read (<= 3 x the bytes they come from: an invalid byte may become a
 * 3-byte character), raw markup (1 MiB), the base stack, entities (2 MiB), names (300
 * KiB), the filter's output slice. Documented next to max_body in feedwatch.conf(5).
 *
 * Identity: an id that repeats inside one document gets "#2", "#3", ... appended on its
 * second, third, ... occurrence (the first keeps it), so ids are unique per document and
 * stable as long as the feed keeps its order.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/uri.h>
#include <libxml/xmlerror.h>

#include "date.h"
#include "parse_int.h"
#include "text.h"

enum ns {
	NS_NONE,
	NS_OTHER,
	NS_ATOM10,
	NS_ATOM03,
	NS_RSS10,
	NS_RSS090,
	NS_RDF,
	NS_DC,
	NS_DCTERMS,
	NS_CONTENT,
	NS_MEDIA,
	NS_ITUNES,
	NS_XHTML,
};

static const struct {
	const char *uri;
	const char *prefix; /* used only when a prefix is left unbound */
	enum ns ns;
} ns_table[] = {
    {"http://www.w3.org/2005/Atom", "atom", NS_ATOM10},
    {"http://purl.org/atom/ns#", NULL, NS_ATOM03},
    {"http://purl.org/rss/1.0/", NULL, NS_RSS10},
    {"http://my.netscape.com/rdf/simple/0.9/", NULL, NS_RSS090},
    {"http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdf", NS_RDF},
    {"http://purl.org/dc/elements/1.1/", "dc", NS_DC},
    {"http://purl.org/dc/terms/", "dcterms", NS_DCTERMS},
    {"http://purl.org/rss/1.0/modules/content/", "content", NS_CONTENT},
    {"http://search.yahoo.com/mrss/", "media", NS_MEDIA},
    {"http://search.yahoo.com/mrss", NULL, NS_MEDIA},
    {"http://www.itunes.com/dtds/podcast-1.0.dtd", "itunes", NS_ITUNES},
    {"http://www.w3.org/1999/xhtml", "xhtml", NS_XHTML},
};

/* ---------------------------------------------------------------- problems */

/*
 * Record the first problem met (later ones are ignored), printf-style, made one line for
 * the log. Allocation failure loses it. p owns the text (fw_parse_problem reads it).
 */
void fw_parse_problemf(struct fw_parser *p, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (p->problem)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one line for the log: no newlines, no trailing blanks */
	for (char *c = buf; *c; c++) {
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	}
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	p->problem = strdup(buf);
}

/* No more items wanted: further pushes are ignored and libxml2, if running, stops. */
void fw_parse_stop(struct fw_parser *p)
{
	p->stop = true;
	if (p->ctxt)
		xmlStopParser(p->ctxt);
}

/* ---------------------------------------------------------------- ids */

/* Find h's slot (or the empty slot where it would go). */
static struct id_slot *ids_find(struct fw_parser *p, uint64_t h)
{
	size_t j = h & (p->ids_size - 1);

	while (p->ids[j].h && p->ids[j].h != h)
		j = (j + 1) & (p->ids_size - 1);
	return &p->ids[j];
}

/* Room for one more id; false on allocation failure. */
static bool ids_grow(struct fw_parser *p)
{
	if ((p->n_ids + 1) * 2 <= p->ids_size)
		return true;
	size_t n = p->ids_size ? p->ids_size * 2 : 64;
	struct id_slot *t = calloc(n, sizeof(*t));
	if (!t)
		return false;
	struct id_slot *old = p->ids;
	size_t old_size = p->ids_size;
	p->ids = t;
	p->ids_size = n;
	for (size_t i = 0; i < old_size; i++) {
		if (old[i].h)
			*ids_find(p, old[i].h) = old[i];
	}
	free(old);
	return true;
}

/*
 * Make item->id unique in this document: the first "X" stays, later ones become "X#2",
 * "X#3", ... (each id remembers its next suffix, so n copies cost O(n), not O(n^2)).
 */
static int unique_id(struct fw_parser *p, struct fw_item *item)
{
	if (!ids_grow(p))
		return -ENOMEM;
	uint64_t h = hash64(item->id);
	struct id_slot *e = ids_find(p, h);
	if (!e->h) {
		e->h = h;
		e->next = 2;
		p->n_ids++;
		return 0;
	}
	size_t n = strlen(item->id);
	char *id = malloc(n + 24);
	if (!id)
		return -ENOMEM;
	for (;;) {
		snprintf(id, n + 24, "%s#%lu", item->id, e->next++);
		if (!ids_grow(p)) {
			free(id);
			return -ENOMEM;
		}
		e = ids_find(p, h); /* the table may have moved */
		struct id_slot *f = ids_find(p, hash64(id));
		if (!f->h) {
			f->h = hash64(id);
			f->next = 2;
			p->n_ids++;
			break;
		}
	}
	free(item->id);
	item->id = id;
	return 0;
}

/* ---------------------------------------------------------------- delivery */

/*
 * Hand a complete item to the callback: empty title, summary and content made "", the
 * id made unique in the document, max_items enforced. Takes ownership of item. Returns 0
 * (also when the item is dropped over max_items), -ENOMEM or -ECANCELED (the callback
 * stopped parsing); an error is also made sticky in p->err.
 */
int fw_parse_deliver(struct fw_parser *p, struct fw_item *item)
{
	if (p->n_items >= p->lim.max_items) {
		fw_parse_problemf(p, "more than %zu items: the rest ignored", p->lim.max_items);
		fw_item_free(item);
		fw_parse_stop(p);
		return 0;
	}
	if ((!item->title && !(item->title = strdup(""))) ||
	    (!item->summary && !(item->summary = strdup(""))) ||
	    (!item->content && !(item->content = strdup(""))) || fw_item_ensure_id(item) < 0 ||
	    unique_id(p, item) < 0) {
		fw_item_free(item);
		p->err = -ENOMEM;
		fw_parse_stop(p);
		return -ENOMEM;
	}
	p->n_items++;
	if (p->cb(item, p->arg) < 0) {
		p->err = -ECANCELED;
		fw_parse_stop(p);
		return -ECANCELED;
	}
	return 0;
}

/* ---------------------------------------------------------------- fields */

static void raw_append(struct fw_parser *p, const char *s, size_t n)
{
	if (p->raw_cut)
		return;
	if (n > p->lim.max_raw_field - p->raw_len) {
		n = p->lim.max_raw_field - p->raw_len;
		p->raw_cut = true;
	}
	if (p->raw_len + n + 1 > p->raw_size) {
		size_t sz = p->raw_size ? p->raw_size : 1024;
		while (sz < p->raw_len + n + 1)
			sz *= 2;
		char *b = realloc(p->raw, sz);
		if (!b) {
			p->raw_cut = true;
			return;
		}
		p->raw = b;
		p->raw_size = sz;
	}
	memcpy(p->raw + p->raw_len, s, n);
	p->raw_len += n;
}

static void raw_append_escaped(struct fw_parser *p, const char *s, size_t n, bool attr)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = attr ? "&quot;" : NULL;
			break;
		default:
			break;
		}
		if (rep) {
			raw_append(p, s + start, i - start);
			raw_append(p, rep, strlen(rep));
			start = i + 1;
		}
	}
	raw_append(p, s + start, n - start);
}

static void capture_begin(struct fw_parser *p, enum target t, enum kind k, int prio)
{
	p->cap = true;
	p->cap_target = t;
	p->cap_kind = k;
	p->cap_prio = prio;
	p->cap_permalink = false;
	p->name_state = 0;
	p->raw_len = 0;
	p->raw_cut = false;
	p->frames[p->depth - 1].role = R_FIELD;
}

/* ---------------------------------------------------------------- elements */

static enum ns ns_of(const xmlChar *uri, const xmlChar *prefix)
{
	if (!uri) {
		/* an unbound prefix ("dc:creator" without xmlns:dc) still says what it means */
		if (!prefix)
			return NS_NONE;
		for (size_t i = 0; i < sizeof(ns_table) / sizeof(ns_table[0]); i++) {
			if (ns_table[i].prefix && xmlStrEqual(prefix, BAD_CAST ns_table[i].prefix))
				return ns_table[i].ns;
		}
		return NS_OTHER;
	}
	for (size_t i = 0; i < sizeof(ns_table) / sizeof(ns_table[0]); i++) {
		if (xmlStrcasecmp(uri, BAD_CAST ns_table[i].uri) == 0)
			return ns_table[i].ns;
	}
	return NS_OTHER;
}

static bool is(const xmlChar *name, const char *s)
{
	return xmlStrEqual(name, BAD_CAST s);
}

/* Attribute value (SAX2 attribute array: localname, prefix, URI, value, end) or NULL. */
static char *attr(const xmlChar **attrs, int n, const char *name, size_t cap)
{
	for (int i = 0; i < n; i++) {
		const xmlChar **a = attrs + 5 * i;
		if (xmlStrEqual(a[0], BAD_CAST name) && (!a[2] || !is(a[1], "xml")))
			return fw_text_plain((const char *)a[3], (size_t)(a[4] - a[3]), cap);
	}
	return NULL;
}

static bool attr_is(const xmlChar **attrs, int n, const char *name, const char *value)
{
	for (int i = 0; i < n; i++) {
		const xmlChar **a = attrs + 5 * i;
		size_t len = (size_t)(a[4] - a[3]);
		if (xmlStrEqual(a[0], BAD_CAST name) && len == strlen(value) &&
		    xmlStrncasecmp(a[3], BAD_CAST value, (int)len) == 0)
			return true;
	}
	return false;
}

static bool is_rss(const struct fw_parser *p)
{
	return p->format && p->format[0] == 'r';
}

static bool is_atom_ns(const struct fw_parser *p, enum ns ns)
{
	return ns == NS_ATOM10 || ns == NS_ATOM03 || (ns == NS_NONE && !is_rss(p));
}

static bool is_rss_ns(enum ns ns)
{
	return ns == NS_NONE || ns == NS_RSS10 || ns == NS_RSS090;
}

/* The kind of an Atom text construct or content element from its type/mode attributes. */
static enum kind atom_kind(const xmlChar **attrs, int n)
{
	char *type = attr(attrs, n, "type", 128);
	char *mode = attr(attrs, n, "mode", 32);
	enum kind k = K_PLAIN;

	if (mode && strcmp(mode, "base64") == 0) {
		k = type && (strstr(type, "html") || strstr(type, "xml")) ? K_BASE64_HTML
		                                                          : K_BASE64;
	} else if (!type || !type[0] || strcmp(type, "text") == 0 ||
	           strcmp(type, "text/plain") == 0) {
		k = mode && strcmp(mode, "escaped") == 0 && !type ? K_HTML : K_PLAIN;
	} else if (strcmp(type, "html") == 0 || strcmp(type, "text/html") == 0) {
		k = K_HTML;
	} else if (strcmp(type, "xhtml") == 0 || strstr(type, "xml")) {
		k = K_XHTML;
	} else if (strncmp(type, "text/", 5) == 0 || strstr(type, "json") ||
	           strstr(type, "javascript")) {
		k = K_PLAIN;
	} else {
		k = K_BASE64; /* RFC 4287 4.1.3.3: other media types are base64 */
	}
	free(type);
	free(mode);
	return k;
}

static void atom_link(struct fw_parser *p, const xmlChar **attrs, int n, int prio)
{
	char *rel = attr(attrs, n, "rel", 64);
	char *href = attr(attrs, n, "href", p->lim.max_field);

	if (!rel || !rel[0] || strcmp(rel, "alternate") == 0 ||
	    strcmp(rel, "http://www.iana.org/assignments/relation/alternate") == 0)
		fw_fields_offer(p, T_LINK, prio, href);
	else
		free(href);
	free(rel);
}

static void person_begin(struct fw_parser *p, int prio, bool feed)
{
	free(p->person_name);
	free(p->person_email);
	p->person_name = p->person_email = NULL;
	p->person_prio = prio;
	p->person_feed = feed;
	p->frames[p->depth - 1].role = R_AUTHOR;
}

static void person_end(struct fw_parser *p)
{
	char *who = p->person_name ? p->person_name : p->person_email;

	if (who == p->person_name)
		free(p->person_email);
	else
		free(p->person_name);
	p->person_name = p->person_email = NULL;
	if (p->person_feed) {
		if (!p->feed_author)
			p->feed_author = who;
		else
			free(who);
	} else {
		fw_fields_offer(p, T_AUTHOR, p->person_prio, who);
	}
}

/* The innermost open element below the current one. */
static struct frame *parent_frame(struct fw_parser *p)
{
	size_t i = p->depth - 1;

	while (i > 0 && p->frames[i - 1].closed)
		i--;
	return i > 0 ? &p->frames[i - 1] : &p->frames[0];
}

/* An Atom element directly inside an item (an entry, or an RSS item's atom:*). */
static void item_atom_element(struct fw_parser *p, const xmlChar *name, const xmlChar **attrs,
                              int n)
{
	int pr = is_rss(p) ? 1 : 0; /* atom:* inside RSS items are fallbacks */
	if (is(name, "title"))
		capture_begin(p, T_TITLE, atom_kind(attrs, n), pr);
	else if (is(name, "summary"))
		capture_begin(p, T_SUMMARY, atom_kind(attrs, n), pr);
	else if (is(name, "content")) {
		char *src = attr(attrs, n, "src", 8);
		if (!src)
			capture_begin(p, T_CONTENT, atom_kind(attrs, n), pr);
		free(src);
	} else if (is(name, "id"))
		capture_begin(p, T_ID, K_PLAIN, pr);
	else if (is(name, "link"))
		atom_link(p, attrs, n, pr);
	else if (is(name, "published") || is(name, "issued"))
		capture_begin(p, T_PUBLISHED, K_PLAIN, pr);
	else if (is(name, "created"))
		capture_begin(p, T_PUBLISHED, K_PLAIN, pr + 2);
	else if (is(name, "updated") || is(name, "modified"))
		capture_begin(p, T_UPDATED, K_PLAIN, pr);
	else if (is(name, "author"))
		person_begin(p, pr, false);
	else if (is(name, "category")) {
		/* the human-readable label when there is one, else the term */
		char *label = attr(attrs, n, "label", p->lim.max_field);
		if (!label || !label[0]) {
			free(label);
			label = attr(attrs, n, "term", p->lim.max_field);
		}
		fw_fields_offer(p, T_CATEGORY, 0, label);
	} else if (is(name, "source")) {
		p->frames[p->depth - 1].role = R_SKIP;
		p->skipping = true;
	}
}

/* An element of a module namespace (Dublin Core, content, iTunes, XHTML) directly inside
   an item. */
static void item_module_element(struct fw_parser *p, const xmlChar *name, enum ns ns)
{
	switch (ns) {
	case NS_DC:
		if (is(name, "title"))
			capture_begin(p, T_TITLE, K_HTML, 1);
		else if (is(name, "creator") || is(name, "author"))
			capture_begin(p, T_AUTHOR, K_HTML, 1);
		else if (is(name, "date"))
			capture_begin(p, T_PUBLISHED, K_PLAIN, 1);
		else if (is(name, "description"))
			capture_begin(p, T_SUMMARY, K_HTML, 1);
		else if (is(name, "subject"))
			capture_begin(p, T_CATEGORY, K_HTML, 0);
		break;
	case NS_DCTERMS:
		if (is(name, "issued") || is(name, "created"))
			capture_begin(p, T_PUBLISHED, K_PLAIN, 2);
		else if (is(name, "modified"))
			capture_begin(p, T_UPDATED, K_PLAIN, 1);
		break;
	case NS_CONTENT:
		if (is(name, "encoded"))
			capture_begin(p, T_CONTENT, K_HTML, 0);
		break;
	case NS_ITUNES:
		if (is(name, "summary"))
			capture_begin(p, T_SUMMARY, K_HTML, 1);
		else if (is(name, "subtitle"))
			capture_begin(p, T_SUMMARY, K_HTML, 3);
		else if (is(name, "author"))
			capture_begin(p, T_AUTHOR, K_HTML, 2);
		else if (is(name, "keywords"))
			capture_begin(p, T_KEYWORDS, K_PLAIN, 0);
		break;
	case NS_XHTML:
		if (is(name, "body") || is(name, "div"))
			capture_begin(p, T_CONTENT, K_XHTML, 1);
		break;
	default:
		break;
	}
}

/* An element directly inside an item (or deeper, for Media RSS). */
static void item_element(struct fw_parser *p, const xmlChar *name, enum ns ns,
                         const xmlChar **attrs, int n)
{
	bool direct = p->frames[p->depth - 1].ld == p->item_depth + 1;
	struct frame *parent = parent_frame(p);

	if (parent->role == R_AUTHOR) {
		if (is(name, "name"))
			capture_begin(p, T_AUTHOR_NAME, K_PLAIN, 0);
		else if (is(name, "email"))
			capture_begin(p, T_AUTHOR_EMAIL, K_PLAIN, 0);
		return;
	}
	if (ns == NS_MEDIA) {
		if (is(name, "title"))
			capture_begin(p, T_TITLE, K_HTML, 2);
		else if (is(name, "description"))
			capture_begin(p, T_SUMMARY, K_HTML, 2);
		else if (is(name, "keywords"))
			capture_begin(p, T_KEYWORDS, K_PLAIN, 0);
		else if (is(name, "category"))
			capture_begin(p, T_CATEGORY, K_PLAIN, 0);
		return;
	}
	if (ns == NS_ITUNES && is(name, "category")) {
		/* <itunes:category text="..."> and its nested sub-categories */
		fw_fields_offer(p, T_CATEGORY, 0, attr(attrs, n, "text", p->lim.max_field));
		return;
	}
	if (!direct)
		return;
	if (is_rss(p) && is_rss_ns(ns)) {
		if (is(name, "title"))
			capture_begin(p, T_TITLE, K_HTML, 0);
		else if (is(name, "link")) {
			char *href = attr(attrs, n, "href", p->lim.max_field);
			if (href)
				fw_fields_offer(p, T_LINK, 0, href);
			else
				capture_begin(p, T_LINK, K_PLAIN, 0);
		} else if (is(name, "guid")) {
			capture_begin(p, T_ID, K_PLAIN, 0);
			p->cap_permalink = !attr_is(attrs, n, "isPermaLink", "false");
		} else if (is(name, "description"))
			capture_begin(p, T_SUMMARY, K_HTML, 0);
		else if (is(name, "pubDate") || is(name, "pubdate"))
			capture_begin(p, T_PUBLISHED, K_PLAIN, 0);
		else if (is(name, "author"))
			capture_begin(p, T_AUTHOR, K_HTML, 0);
		else if (is(name, "category"))
			capture_begin(p, T_CATEGORY, K_HTML, 0);
		return;
	}
	if (is_atom_ns(p, ns)) {
		item_atom_element(p, name, attrs, n);
		return;
	}
	item_module_element(p, name, ns);
}

/* The rdf:about attribute (RSS 1.0 item) or NULL. */
static char *rdf_about(struct fw_parser *p, const xmlChar **attrs, int n)
{
	for (int i = 0; i < n; i++) {
		const xmlChar **a = attrs + 5 * i;
		if (is(a[0], "about") && ns_of(a[2], a[1]) == NS_RDF)
			return fw_text_plain((const char *)a[3], (size_t)(a[4] - a[3]),
			                     p->lim.max_field);
	}
	return NULL;
}

static void item_begin(struct fw_parser *p, bool atom, const xmlChar **attrs, int n)
{
	p->item = fw_item_new();
	if (!p->item) {
		p->err = -ENOMEM;
		fw_parse_stop(p);
		return;
	}
	p->item_depth = p->frames[p->depth - 1].ld;
	p->atom_item = atom;
	p->item_deep = false;
	for (int i = 0; i < T_NPRIO; i++)
		p->prio[i] = INT_MAX;
	p->frames[p->depth - 1].role = R_ITEM;
	if (!atom)
		fw_fields_offer(p, T_ID, 9, rdf_about(p, attrs, n)); /* when no other id */
}

static void item_end(struct fw_parser *p)
{
	struct fw_item *it = p->item;

	p->item = NULL;
	if (p->item_deep) {
		fw_item_free(it); /* only this item: the ones after it still count */
		return;
	}
	if (p->atom_item && !it->author && p->feed_author)
		it->author = strdup(p->feed_author);
	fw_parse_deliver(p, it);
}

static void root_element(struct fw_parser *p, const xmlChar *name, const xmlChar *uri, enum ns ns,
                         const xmlChar **attrs, int n, const xmlChar **nss, int n_ns)
{
	if (is(name, "rss")) {
		char *v = attr(attrs, n, "version", 16);
		/* RSS 2.0 has no namespace, yet some put one on <rss> (Userland's
		   "http://backend.userland.com/rss2", or any other): its elements are RSS */
		if (ns == NS_OTHER && uri)
			p->rss_uri = strdup((const char *)uri);
		p->format = v && strncmp(v, "0.9", 3) == 0 ? "rss0.9x" : "rss2.0";
		free(v);
	} else if (is(name, "RDF")) {
		p->format = "rss1.0";
		for (int i = 0; i < n_ns; i++) {
			if (ns_of(nss[2 * i + 1], NULL) == NS_RSS090)
				p->format = "rss0.9x";
		}
	} else if (is(name, "feed")) {
		char *v = attr(attrs, n, "version", 16);
		p->format = ns == NS_ATOM03 || (v && strcmp(v, "0.3") == 0) ? "atom0.3" : "atom1.0";
		free(v);
		p->feed_depth = 0;
	} else {
		return;
	}
	p->is_feed = true;
	p->root_ld = p->frames[p->depth - 1].ld;
	p->frames[p->depth - 1].role = R_ROOT;
}

/* WebSub discovery: the feed's first atom:link rel="hub" and rel="self" (RSS channels
   carry them in the Atom namespace), and RFC 5005's rel="next" and rel="prev-archive",
   resolved against the current base. */
static void feed_link(struct fw_parser *p, const xmlChar **attrs, int n)
{
	char *rel = attr(attrs, n, "rel", 16), *href;
	char **slot = !rel                               ? NULL
	              : strcmp(rel, "hub") == 0          ? &p->hub
	              : strcmp(rel, "self") == 0         ? &p->self
	              : strcmp(rel, "next") == 0         ? &p->next
	              : strcmp(rel, "prev-archive") == 0 ? &p->prev_archive
	                                                 : NULL;
	xmlChar *u;

	free(rel);
	if (slot == NULL || *slot || (href = attr(attrs, n, "href", FW_PARSE_LINK_MAX)) == NULL)
		return;
	u = cur_base(p) ? xmlBuildURI(BAD_CAST href, BAD_CAST cur_base(p)) : NULL;
	*slot = u ? strdup((const char *)u) : href;
	if (u) {
		xmlFree(u);
		free(href);
	}
}

static void feed_element(struct fw_parser *p, const xmlChar *name, enum ns ns,
                         const xmlChar **attrs, int n)
{
	size_t d = p->frames[p->depth - 1].ld - p->root_ld;

	if (is(name, "link") && (ns == NS_ATOM10 || (!is_rss(p) && is_atom_ns(p, ns))) &&
	    (is_rss(p) ? p->feed_depth && d == p->feed_depth + 1 : d == 1))
		feed_link(p, attrs, n);

	if (is_rss(p)) {
		if (is(name, "channel") && is_rss_ns(ns) && d == 1) {
			p->feed_depth = d;
		} else if (p->feed_depth && d == p->feed_depth + 1 && is_rss_ns(ns)) {
			if (is(name, "title"))
				capture_begin(p, T_FEED_TITLE, K_HTML, 0);
			else if (is(name, "ttl"))
				capture_begin(p, T_TTL, K_PLAIN, 0);
		}
		return;
	}
	if (d == 1 && is_atom_ns(p, ns)) {
		if (is(name, "title"))
			capture_begin(p, T_FEED_TITLE, K_HTML, 0);
		else if (is(name, "author"))
			person_begin(p, 0, true);
	} else if (d == 2 && parent_frame(p)->role == R_AUTHOR && is_atom_ns(p, ns)) {
		if (is(name, "name"))
			capture_begin(p, T_AUTHOR_NAME, K_PLAIN, 0);
		else if (is(name, "email"))
			capture_begin(p, T_AUTHOR_EMAIL, K_PLAIN, 0);
	}
}

static void push_base(struct fw_parser *p, const xmlChar **attrs, int n)
{
	for (int i = 0; i < n; i++) {
		const xmlChar **a = attrs + 5 * i;
		if (!is(a[0], "base") || !a[2] || !is(a[2], "http://www.w3.org/XML/1998/namespace"))
			continue;
		char *v = fw_text_plain((const char *)a[3], (size_t)(a[4] - a[3]), BASE_VALUE_MAX);
		if (!v)
			return;
		const char *base = cur_base(p);
		char *nb = v;
		if (base) {
			xmlChar *u = xmlBuildURI(BAD_CAST v, BAD_CAST base);
			if (u) {
				nb = strdup((const char *)u);
				xmlFree(u);
				free(v);
				if (!nb)
					return;
			}
		}
		/*
		 * Capped: one resolved base at BASE_MAX bytes, the whole stack at
		 * BASES_TOTAL_MAX. A base over either is ignored (the element keeps its
		 * parent's), so nested relative bases cannot grow every link without bound.
		 */
		size_t len = strlen(nb);
		if (len > BASE_MAX || len > BASES_TOTAL_MAX - p->bases_bytes) {
			fw_parse_problemf(p, "xml:base longer than %d bytes (or too many) ignored",
			                  BASE_MAX);
			free(nb);
			return;
		}
		char **b = realloc(p->bases, (p->n_bases + 1) * sizeof(char *));
		if (!b) {
			free(nb);
			return;
		}
		p->bases = b;
		p->bases[p->n_bases++] = nb;
		p->bases_bytes += len;
		p->frames[p->depth - 1].base = true;
		return;
	}
}

static void serialise_start(struct fw_parser *p, const xmlChar *name, const xmlChar **attrs, int n)
{
	raw_append(p, "<", 1);
	raw_append(p, (const char *)name, strlen((const char *)name));
	for (int i = 0; i < n; i++) {
		const xmlChar **a = attrs + 5 * i;
		raw_append(p, " ", 1);
		raw_append(p, (const char *)a[0], strlen((const char *)a[0]));
		raw_append(p, "=\"", 2);
		raw_append_escaped(p, (const char *)a[3], (size_t)(a[4] - a[3]), true);
		raw_append(p, "\"", 1);
	}
	raw_append(p, ">", 1);
}

static void start_cb(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri,
                     int n_ns, const xmlChar **nss, int n_attrs, int n_def, const xmlChar **attrs)
{
	struct fw_parser *p = ctx;

	(void)n_def;
	if (p->stop)
		return;
	bool deep = p->depth >= p->lim.max_depth;
	if (deep) {
		/* the filter drops such elements; this is for what it does not see (UTF-16) */
		fw_parse_problemf(p, "elements nested deeper than %zu at line %d", p->lim.max_depth,
		                  xmlSAX2GetLineNumber(p->ctxt));
		if (p->item)
			p->item_deep = true;
		if (p->depth >= 2 * DEF_MAX_DEPTH) {
			fw_parse_stop(p);
			return;
		}
	}
	if (p->depth == p->frames_size) {
		size_t sz = p->frames_size ? p->frames_size * 2 : 32;
		struct frame *f = realloc(p->frames, sz * sizeof(*f));
		if (!f) {
			p->err = -ENOMEM;
			fw_parse_stop(p);
			return;
		}
		p->frames = f;
		p->frames_size = sz;
	}
	p->frames[p->depth++] = (struct frame){.name = name, .ld = p->ldepth++, .role = R_NONE};
	if (deep)
		return;
	push_base(p, attrs, n_attrs);
	if (p->cap) {
		if (p->cap_kind == K_HTML || p->cap_kind == K_XHTML) {
			serialise_start(p, name, attrs, n_attrs);
			p->frames[p->depth - 1].role = R_SERIAL;
		}
		if (p->cap_target == T_AUTHOR && p->name_state == 0 && is(name, "name")) {
			p->name_state = 1;
			p->name_frame = p->depth - 1;
			p->name_from = p->raw_len;
		}
		return;
	}
	if (p->skipping)
		return;
	enum ns ns = ns_of(uri, prefix);
	if (p->rss_uri && ns == NS_OTHER && xmlStrEqual(uri, BAD_CAST p->rss_uri))
		ns = NS_NONE;
	if (!p->is_feed) {
		/* the document element, or (in an <html> page) the first feed element in it */
		bool first = !p->root_seen;
		p->root_seen = true;
		if (first || p->wrapped)
			root_element(p, name, uri, ns, attrs, n_attrs, nss, n_ns);
		if (first && !p->is_feed) {
			p->wrapped = xmlStrcasecmp(name, BAD_CAST "html") == 0;
			p->doc_elem = strdup((const char *)name);
			if (!p->wrapped) {
				fw_parse_problemf(p, "not a feed: the document element is <%s>",
				                  (const char *)name);
				fw_parse_stop(p);
			}
		}
		return;
	}
	if (p->root_done)
		return;
	if (p->item) {
		item_element(p, name, ns, attrs, n_attrs);
	} else if (is_rss(p) && is(name, "item") && is_rss_ns(ns)) {
		item_begin(p, false, attrs, n_attrs);
	} else if (!is_rss(p) && is(name, "entry") && is_atom_ns(p, ns)) {
		item_begin(p, true, attrs, n_attrs);
	} else {
		feed_element(p, name, ns, attrs, n_attrs);
	}
}

/* Run the end of frame i (open): what it started ends; it becomes a ghost. */
static void close_frame(struct fw_parser *p, size_t i)
{
	struct frame *f = &p->frames[i];

	if (p->name_state == 1 && p->name_frame == i) {
		p->name_state = 2;
		p->name_to = p->raw_len;
	}
	switch (f->role) {
	case R_SERIAL:
		raw_append(p, "</", 2);
		raw_append(p, (const char *)f->name, strlen((const char *)f->name));
		raw_append(p, ">", 1);
		break;
	case R_FIELD:
		fw_fields_capture_end(p);
		break;
	case R_AUTHOR:
		person_end(p);
		break;
	case R_SKIP:
		p->skipping = false;
		break;
	case R_ROOT:
		p->root_done = true;
		break;
	case R_ITEM:
		if (p->cap)
			fw_fields_capture_end(p);
		item_end(p);
		break;
	default:
		break;
	}
	if (f->base && p->n_bases > 0) {
		p->n_bases--;
		p->bases_bytes -= strlen(p->bases[p->n_bases]);
		free(p->bases[p->n_bases]);
	}
	f->base = false;
	f->closed = true;
	p->ldepth--;
}

static void end_cb(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri)
{
	struct fw_parser *p = ctx;
	char *real = p->pending_end;

	(void)name;
	(void)prefix;
	(void)uri;
	p->pending_end = NULL;
	if (p->depth == 0) {
		free(real);
		return;
	}
	if (real) {
		/*
		 * libxml2 (recovering) pops its innermost element whatever the end tag said.
		 * Close the innermost open element that has the real name instead, with
		 * everything inside it (as HTML does); the elements libxml2 still thinks
		 * open become ghosts, dropped without effect when it pops them.
		 */
		const char *colon = strchr(real, ':');
		const char *local = colon ? colon + 1 : real;
		size_t i = p->depth;
		while (i > 0 && (p->frames[i - 1].closed || !is(p->frames[i - 1].name, local)))
			i--;
		if (i > 0) {
			for (size_t k = p->depth; k >= i; k--) {
				if (!p->frames[k - 1].closed)
					close_frame(p, k - 1);
			}
		}
		free(real);
	}
	if (!p->frames[p->depth - 1].closed)
		close_frame(p, p->depth - 1);
	p->depth--;
}

static void text_cb(void *ctx, const xmlChar *ch, int len)
{
	struct fw_parser *p = ctx;

	if (!p->cap || len <= 0)
		return;
	if (p->cap_kind == K_XHTML)
		raw_append_escaped(p, (const char *)ch, (size_t)len, false);
	else
		raw_append(p, (const char *)ch, (size_t)len);
}

/* The filter's mark where it dropped elements nested too deep: the item goes. */
static void pi_cb(void *ctx, const xmlChar *target, const xmlChar *data)
{
	struct fw_parser *p = ctx;

	(void)data;
	if (!xmlStrEqual(target, BAD_CAST DEEP_PI))
		return;
	fw_parse_problemf(p, "elements nested deeper than %zu at line %d: %s", p->lim.max_depth,
	                  xmlSAX2GetLineNumber(p->ctxt),
	                  p->item ? "the item was dropped" : "they were ignored");
	if (p->item)
		p->item_deep = true;
}

/* Undefined entities when the filter is off (UTF-16 documents): HTML's, as text. */
static xmlEntityPtr get_entity_cb(void *ctx, const xmlChar *name)
{
	struct fw_parser *p = ctx;
	xmlEntityPtr e = xmlGetPredefinedEntity(name);

	if (e)
		return e;
	for (size_t i = 0; i < p->n_ents; i++) {
		if (xmlStrEqual(p->ents[i]->name, name))
			return p->ents[i];
	}
	const htmlEntityDesc *h = htmlEntityLookup(name);
	if (!h || p->n_ents >= 256)
		return NULL;
	xmlEntityPtr *t = realloc(p->ents, (p->n_ents + 1) * sizeof(*t));
	if (!t)
		return NULL;
	p->ents = t;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	xmlChar utf8[8];
	int n = xmlCopyChar(0, utf8, (int)h->value);
	utf8[n > 0 ? n : 0] = 0;
	e->type = XML_ENTITY_DECL;
	e->etype = XML_INTERNAL_PREDEFINED_ENTITY;
	e->name = xmlStrdup(name);
	e->content = xmlStrdup(utf8);
	e->orig = xmlStrdup(utf8);
	e->length = n;
	if (!e->name || !e->content || !e->orig) {
		xmlFree((xmlChar *)e->name);
		xmlFree(e->content);
		xmlFree(e->orig);
		free(e);
		return NULL;
	}
	p->ents[p->n_ents++] = e;
	return e;
}

static xmlParserInputPtr resolve_entity_cb(void *ctx, const xmlChar *public_id,
                                           const xmlChar *system_id)
{
	(void)ctx;
	(void)public_id;
	(void)system_id;
	return NULL; /* nothing external, ever */
}

static void error_cb(void *ctx, xmlErrorPtr e)
{
	struct fw_parser *p = ctx;

	if (!e || e->level < XML_ERR_ERROR)
		return;
	if (e->code == XML_ERR_TAG_NAME_MISMATCH && e->str2) {
		free(p->pending_end);
		p->pending_end = strdup(e->str2);
	}
	fw_parse_problemf(p, "not well-formed at line %d: %s", e->line,
	                  e->message ? e->message : "error");
}

/* Filter (if on) and hand bytes to libxml2. */
static void xml_push(struct fw_parser *p, const char *data, size_t len, bool final)
{
	if (!p->filter) {
		xml_feed(p, data, len, final);
		return;
	}
	fw_repair_push(p, data, len, final);
}

/* ---------------------------------------------------------------- sniffing */

static bool ascii_compatible(const char *enc)
{
	static const char *const ok[] = {
	    "utf-8",  "utf8", "us-ascii",  "ascii",     "iso-8859", "iso8859", "latin", "windows-",
	    "cp",     "koi8", "shift_jis", "shift-jis", "sjis",     "x-sjis",  "euc-",  "big5",
	    "gb2312", "gbk",  "gb18030",   "tis-620",   "mac",      "ibm8",    NULL};

	for (const char *const *o = ok; *o; o++) {
		if (strncasecmp(enc, *o, strlen(*o)) == 0)
			return true;
	}
	return false;
}

static bool is_utf8_name(const char *enc)
{
	return strcasecmp(enc, "utf-8") == 0 || strcasecmp(enc, "utf8") == 0;
}

/* The encoding named in an XML declaration at s, copied into enc; false when none. */
static bool declared_encoding(const unsigned char *s, size_t n, char *enc, size_t size)
{
	if (n < 6 || memcmp(s, "<?xml", 5) != 0)
		return false;
	const unsigned char *end = memmem(s, n, "?>", 2);
	size_t lim = end ? (size_t)(end - s) : n;
	const unsigned char *e = memmem(s, lim, "encoding", 8);
	if (!e)
		return false;
	size_t i = (size_t)(e - s) + 8;
	while (i < lim && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (i >= lim || s[i] != '=')
		return false;
	i++;
	while (i < lim && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (i >= lim || (s[i] != '"' && s[i] != '\''))
		return false;
	unsigned char q = s[i++];
	size_t k = 0;
	while (i < lim && s[i] != q && k + 1 < size)
		enc[k++] = (char)s[i++];
	enc[k] = '\0';
	return k > 0;
}

/* Enough bytes to decide? (the XML declaration's end, or SNIFF_MAX, or end of input) */
static bool sniff_ready(const struct fw_parser *p)
{
	const unsigned char *s = p->sniff;
	size_t n = p->sniff_len, i = 0;

	if (n >= SNIFF_MAX)
		return true;
	if (n < 4)
		return false; /* BOMs and UTF-16/32 patterns need 4 bytes */
	if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		i = 3;
	if (n >= 2 && ((s[0] == 0xfe && s[1] == 0xff) || (s[0] == 0xff && s[1] == 0xfe)))
		return n >= 4;
	if (n >= 1 && s[0] == 0)
		return n >= 4;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (i == n)
		return false;
	if (s[i] == '{')
		return true;
	/* anything else may be junk before an XML declaration (a PHP warning): wait for
	   the declaration's end, or SNIFF_MAX, or the end of input */
	const unsigned char *x = memmem(s + i, n - i, "<?xml", 5);
	return x && memmem(x, n - (size_t)(x - s), "?>", 2) != NULL;
}

/* Where the document starts when junk comes before its XML declaration ("PHP Warning:
   ... <br />" then "<?xml"): at the declaration, unless a feed's root element comes
   before it (then the "<?xml" is inside the feed). NULL when there is none. */
static const unsigned char *after_junk(const unsigned char *s, size_t n)
{
	static const char *const roots[] = {"<rss",     "<feed", "<atom:feed",
	                                    "<rdf:RDF", "<RDF",  NULL};
	const unsigned char *x = memmem(s, n, "<?xml", 5);

	if (!x || x == s)
		return NULL;
	for (const char *const *r = roots; *r; r++) {
		if (memmem(s, (size_t)(x - s), *r, strlen(*r)))
			return NULL;
	}
	return x;
}

static int start_xml(struct fw_parser *p, const unsigned char *s, size_t n, bool final);

/* Decide JSON or XML and the encoding, then replay the sniffed bytes. */
static int sniff_decide(struct fw_parser *p, bool final)
{
	const unsigned char *s = p->sniff;
	size_t n = p->sniff_len, i = 0;
	bool bom8 = n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf;

	if (bom8)
		i = 3;
	bool wide = n >= 2 && (s[0] == 0 || s[1] == 0 || (s[0] == 0xfe && s[1] == 0xff) ||
	                       (s[0] == 0xff && s[1] == 0xfe));
	if (!wide) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i < n && s[i] == '{') {
			p->mode = M_JSON;
			fw_jsonfeed_push(p, (const char *)s + i, n - i);
			return p->err;
		}
		/* whitespace before the XML declaration is an error for libxml2: drop it */
		if (!bom8) {
			s += i;
			n -= i;
		}
		const unsigned char *x = after_junk(s + (bom8 ? 3 : 0), n - (bom8 ? 3 : 0));
		if (x) {
			fw_parse_problemf(p, "text before the XML declaration ignored");
			n -= (size_t)(x - s);
			s = x;
		}
	}
	p->mode = M_XML;
	return start_xml(p, s, n, final);
}

static int start_xml(struct fw_parser *p, const unsigned char *s, size_t n, bool final)
{
	char declared[64];
	const char *enc = NULL;
	bool use_http = false;
	bool bom8 = n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf;
	bool wide = n >= 2 && (s[0] == 0 || s[1] == 0 || (s[0] == 0xfe && s[1] == 0xff) ||
	                       (s[0] == 0xff && s[1] == 0xfe));

	if (wide) {
		enc = "UTF-16";
	} else if (declared_encoding(s + (bom8 ? 3 : 0), n - (bom8 ? 3 : 0), declared,
	                             sizeof(declared))) {
		enc = bom8 ? "UTF-8" : declared;
	} else if (bom8) {
		enc = "UTF-8";
	} else if (p->charset && p->charset[0]) {
		enc = p->charset;
		use_http = true;
	} else {
		enc = "UTF-8";
	}
	p->filter = !wide && ascii_compatible(enc);
	p->utf8_check = p->filter && is_utf8_name(enc);
	if (fw_repair_init(p) < 0)
		return p->err = -ENOMEM;

	xmlSAXHandler sax;
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = start_cb;
	sax.endElementNs = end_cb;
	sax.characters = text_cb;
	sax.cdataBlock = text_cb;
	sax.getEntity = get_entity_cb;
	sax.resolveEntity = resolve_entity_cb;
	sax.serror = error_cb;
	sax.processingInstruction = pi_cb;
	/* entityDecl, externalSubset, getParameterEntity stay NULL: nothing declared or
	   loaded, ever */
	p->ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
	if (!p->ctxt)
		return p->err = -ENOMEM;
	/*
	 * Entities are replaced (XML_PARSE_NOENT) so that an attribute value comes out
	 * unescaped exactly once: without it libxml2 2.9 keeps an '&' that came from
	 * "&amp;" or "&#38;" in an attribute as the text "&#38;" (for its tree builder to
	 * decode later), which a SAX user never does. No entity libxml2 could replace is
	 * declared to it: only the predefined ones and HTML's (get_entity_cb), as text.
	 */
	xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOCDATA |
	                               XML_PARSE_NOENT);
	p->ctxt->replaceEntities = 1;
	p->ctxt->loadsubset = 0;
	p->ctxt->validate = 0;
	if (use_http && !is_utf8_name(enc)) {
		xmlCharEncodingHandlerPtr h = xmlFindCharEncodingHandler(enc);
		if (h)
			xmlSwitchToEncoding(p->ctxt, h);
		else
			p->filter = p->utf8_check = true; /* unknown charset: UTF-8 it is */
	}
	xml_push(p, (const char *)s, n, final);
	return p->err;
}

/* ---------------------------------------------------------------- API */

static void noop_error(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* libxml2 reports a few errors (iconv) outside any parser context, to stderr by default:
   this room never prints, so they are silenced while it runs. */
struct quiet {
	xmlGenericErrorFunc func;
	void *ctx;
};

static struct quiet quiet_begin(void)
{
	struct quiet q = {xmlGenericError, xmlGenericErrorContext};

	xmlSetGenericErrorFunc(NULL, noop_error);
	return q;
}

static void quiet_end(struct quiet q)
{
	xmlSetGenericErrorFunc(q.ctx, q.func);
}

/*
 * A new parser for one document (see parse.h). base_url (may be NULL) resolves relative
 * links when it is an absolute URL; charset is the HTTP charset. Returns the parser
 * (free with fw_parse_free) or NULL on allocation failure.
 */
struct fw_parser *fw_parse_new(const char *base_url, const char *charset,
                               const struct fw_parse_limits *limits, fw_parse_item_cb cb, void *arg)
{
	struct fw_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	xmlInitParser();
	if (limits)
		p->lim = *limits;
	if (!p->lim.max_field)
		p->lim.max_field = DEF_MAX_FIELD;
	if (!p->lim.max_raw_field)
		p->lim.max_raw_field = DEF_MAX_RAW;
	if (!p->lim.max_items)
		p->lim.max_items = DEF_MAX_ITEMS;
	if (!p->lim.max_depth || p->lim.max_depth > DEF_MAX_DEPTH)
		p->lim.max_depth = DEF_MAX_DEPTH; /* libxml2 stops for good beyond 256 */
	if (!p->lim.max_categories)
		p->lim.max_categories = DEF_MAX_CATEGORIES;
	if (!p->lim.max_json)
		p->lim.max_json = DEF_MAX_JSON;
	p->cb = cb;
	p->arg = arg;
	p->ttl = -1;
	p->line = 1;
	p->format = "unknown";
	/* only an absolute URL ("scheme:...") is a base; a file path is not */
	if (base_url && fw_fields_has_scheme(base_url) && !(p->doc_base = strdup(base_url)))
		return fw_parse_free(p);
	if (charset && !(p->charset = strdup(charset)))
		return fw_parse_free(p);
	return p;
}

/*
 * Push the next chunk of the document. Returns 0, or a negative errno once parsing cannot
 * go on (-ECANCELED: the callback stopped it; -ENOMEM; -EFBIG: JSON over max_json).
 */
int fw_parse_push(struct fw_parser *p, const char *data, size_t len)
{
	if (p->err || p->mode == M_DONE)
		return p->err;
	if (p->stop || len == 0)
		return 0;
	struct quiet q = quiet_begin();
	if (p->mode == M_SNIFF) {
		size_t take = SNIFF_MAX - p->sniff_len < len ? SNIFF_MAX - p->sniff_len : len;
		memcpy(p->sniff + p->sniff_len, data, take);
		p->sniff_len += take;
		data += take;
		len -= take;
		if (sniff_ready(p))
			sniff_decide(p, false);
	}
	if (len > 0 && !p->err) {
		if (p->mode == M_JSON)
			fw_jsonfeed_push(p, data, len);
		else if (p->mode == M_XML)
			xml_push(p, data, len, false);
	}
	quiet_end(q);
	return p->err;
}

/*
 * End of input: flush, deliver what is complete, and say whether this was a feed.
 * Returns 0 (a feed, maybe damaged: see fw_parse_problem), -EBADMSG (not a feed), or the
 * sticky error of an earlier push.
 */
int fw_parse_end(struct fw_parser *p)
{
	if (p->mode == M_DONE)
		return p->err ? p->err : (p->is_feed ? 0 : -EBADMSG);
	struct quiet q = quiet_begin();
	int r = 0;
	if (p->mode == M_SNIFF) {
		if (p->sniff_len == 0) {
			fw_parse_problemf(p, "empty document");
			p->mode = M_DONE;
			quiet_end(q);
			return -EBADMSG;
		}
		sniff_decide(p, true);
	} else if (p->mode == M_XML && !p->err) {
		xml_push(p, NULL, 0, true);
	}
	if (p->mode == M_JSON && !p->err)
		r = fw_jsonfeed_finish(p);
	if (p->mode == M_XML && p->item) {
		/* cut off inside an item: it is incomplete, drop it */
		fw_parse_problemf(p, "document ends inside an item");
		p->item = fw_item_free(p->item);
	}
	p->mode = M_DONE;
	quiet_end(q);
	if (p->err == -ECANCELED)
		return 0;
	if (p->err)
		return p->err == -EFBIG ? -EBADMSG : p->err;
	if (r < 0 || !p->is_feed) {
		if (p->doc_elem)
			fw_parse_problemf(p, "not a feed: the document element is <%s>",
			                  p->doc_elem);
		if (!p->problem)
			fw_parse_problemf(p, "not a feed");
		return -EBADMSG;
	}
	return 0;
}

/* The first problem met, one line, or NULL when the feed was clean. Owned by p. */
const char *fw_parse_problem(const struct fw_parser *p)
{
	return p->problem;
}

/* The feed's <ttl> in minutes, or -1. */
int fw_parse_ttl(const struct fw_parser *p)
{
	return p->ttl;
}

/* Detected format name (static string). */
const char *fw_parse_format(const struct fw_parser *p)
{
	return p->format;
}

/* See parse.h. */
const char *fw_parse_hub(const struct fw_parser *p)
{
	return p->hub;
}

/* See parse.h. */
const char *fw_parse_self(const struct fw_parser *p)
{
	return p->self;
}

/* See parse.h. */
const char *fw_parse_next(const struct fw_parser *p)
{
	return p->next ? p->next : p->prev_archive;
}

/* Feed-level title, plain text, owned by p; NULL when none. */
const char *fw_parse_feed_title(const struct fw_parser *p)
{
	return p->feed_title;
}

/* Free the parser and everything it holds. Accepts NULL; returns NULL. */
struct fw_parser *fw_parse_free(struct fw_parser *p)
{
	if (!p)
		return NULL;
	if (p->ctxt) {
		if (p->ctxt->myDoc)
			xmlFreeDoc(p->ctxt->myDoc);
		xmlFreeParserCtxt(p->ctxt);
	}
	free(p->doc_base);
	free(p->charset);
	free(p->problem);
	free(p->feed_title);
	free(p->hub);
	free(p->self);
	free(p->next);
	free(p->prev_archive);
	free(p->json);
	free(p->frames);
	free(p->pending_end);
	for (size_t i = 0; i < p->n_bases; i++)
		free(p->bases[i]);
	free(p->bases);
	for (size_t i = 0; i < p->n_ents; i++) {
		xmlFree((xmlChar *)p->ents[i]->name);
		xmlFree(p->ents[i]->content);
		xmlFree(p->ents[i]->orig);
		free(p->ents[i]);
	}
	free(p->ents);
	fw_item_free(p->item);
	free(p->raw);
	free(p->person_name);
	free(p->person_email);
	free(p->feed_author);
	free(p->rss_uri);
	free(p->doc_elem);
	fw_repair_free(p);
	free(p->ids);
	free(p);
	return NULL;
}
