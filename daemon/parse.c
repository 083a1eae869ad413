/*
 * parse.c - streaming feed parser: bytes in (any chunking), items out. Pure: never logs.
 *
 * Pipeline for XML: sniff (BOM, prolog, HTTP charset) -> repair filter -> libxml2 SAX2 push
 * parser -> element stack -> fields -> items. JSON Feed documents (first byte '{') are held
 * whole up to max_json and read with jansson at the end.
 *
 * The repair filter fixes, byte by byte and independently of chunking, the damage that
 * makes most real feeds ill-formed, so that libxml2 never sees it: a bare '&' becomes
 * "&amp;", an HTML entity XML does not know ("&nbsp;") becomes its numeric reference, an
 * unknown entity becomes literal text, a '<' that cannot start markup becomes "&lt;",
 * control characters are dropped and a byte that is not valid UTF-8 (in a document read
 * as UTF-8: declared so, or declaring nothing) is read as windows-1252, byte by byte, as
 * browsers fall back to (valid UTF-8 beside it stays; only such bytes cost anything;
 * the five bytes windows-1252 leaves undefined become U+FFFD). It runs only for
 * ASCII-compatible encodings. What it cannot fix (mismatched tags, a body cut short) is
 * left to libxml2's recovery mode; an end tag that does not match closes the innermost
 * open element of that name (like HTML), so one unclosed <br> does not swallow the feed.
 *
 * The filter also counts open elements (tags, quoted attribute values and all): a start
 * tag nested deeper than max_depth (libxml2 gives up for good beyond 256) is dropped with
 * its end tag and the text goes on; a processing instruction <?feedwatch-too-deep?> marks
 * the place, and the parser drops the item it falls in. Later items still come out.
 * It keeps the names of the open elements (the passed ones, and hashes of the first
 * DROPPED_MAX dropped ones), so an end tag that names an element further out closes what
 * was left open inside it, deep or not (it writes the missing end tags): 10,000 unclosed
 * <div> in one item cost that item only.
 *
 * Security: a DOCTYPE never reaches libxml2 (the filter reads it and passes on only its
 * newlines), so no DTD is loaded and no entity is declared to libxml2. The filter
 * expands the general entities declared with a literal value in the internal subset
 * itself, as text, within caps (see the internal DTD subset section); external (SYSTEM,
 * PUBLIC) and parameter entities are never expanded, their references stay as written.
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
#include "parse.h"
#include "text.h"

#define DEF_MAX_FIELD      (256 * 1024)
#define DEF_MAX_RAW        (1024 * 1024)
#define DEF_MAX_ITEMS      10000
#define DEF_MAX_DEPTH      256
#define DEF_MAX_CATEGORIES 64
#define DEF_MAX_JSON       (8 * 1024 * 1024)

#define SNIFF_MAX       4096                 /* bytes looked at for BOM and XML declaration */
#define CARRY_MAX       64                   /* bytes the filter may hold back across chunks */
#define ENTITY_NAME_MAX 32                   /* longest entity name the filter accepts */
#define FEED_LIMIT_TEXT 512                  /* feed title */
#define BASE_VALUE_MAX  4096                 /* bytes of one xml:base attribute */
#define BASE_MAX        8192                 /* bytes of one resolved xml:base */
#define BASES_TOTAL_MAX (64 * 1024)          /* bytes of the whole xml:base stack */
#define DTD_MAX         (64 * 1024)          /* bytes of a DOCTYPE read for entity declarations */
#define ENT_MAX         256                  /* entities declared in the internal subset */
#define ENT_EXP_MAX     (64 * 1024)          /* bytes of one entity's expansion */
#define ENT_STORE_MAX   (1024 * 1024)        /* bytes of all expansions held */
#define ENT_TOTAL_MAX   (1024 * 1024)        /* bytes substituted for entity references in all */
#define ENT_DEPTH       8                    /* entities inside entities */
#define DEEP_PI         "feedwatch-too-deep" /* the filter's mark: elements were dropped */
#define FNAME_MAX       48                   /* bytes of a tag name the filter keeps */
#define DROPPED_MAX     65536 /* dropped open elements whose names the filter keeps */
#define DROPPED_SEARCH  64    /* of which an end tag looks at the innermost */

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

/* How a field's markup becomes text. */
enum kind {
	K_PLAIN,       /* text as is (child elements contribute their text) */
	K_HTML,        /* escaped or CDATA HTML; child elements serialised as they come */
	K_XHTML,       /* inline XML: children serialised, text re-escaped */
	K_BASE64,      /* Atom binary content: decoded, kept if it is UTF-8 text */
	K_BASE64_HTML, /* Atom 0.3 mode="base64" of HTML */
};

/* Where a field's text goes. */
enum target {
	T_TITLE,
	T_LINK,
	T_ID,
	T_PUBLISHED,
	T_UPDATED,
	T_AUTHOR,
	T_SUMMARY,
	T_CONTENT,
	T_NPRIO, /* the targets above compete by priority */
	T_CATEGORY = T_NPRIO,
	T_KEYWORDS, /* comma-separated categories */
	T_AUTHOR_NAME,
	T_AUTHOR_EMAIL,
	T_FEED_TITLE,
	T_TTL,
};

enum role {
	R_NONE,
	R_ROOT,
	R_ITEM,
	R_FIELD,
	R_SERIAL, /* child element serialised into the field being captured */
	R_AUTHOR, /* Atom person construct */
	R_SKIP,   /* subtree ignored (atom:source) */
};

struct frame {
	const xmlChar *name; /* the parser dictionary owns it */
	size_t ld;           /* logical depth: open elements below this one */
	unsigned char role;
	bool base;   /* pushed an xml:base */
	bool closed; /* closed early by a mismatched end tag (a ghost) */
};

struct id_slot {
	uint64_t h;         /* 0: empty */
	unsigned long next; /* next "#n" suffix for this id */
};

enum mode { M_SNIFF, M_XML, M_JSON, M_DONE };

enum lex {
	L_TEXT,
	L_CDATA,
	L_COMMENT,
	L_PI,
	L_DTD,  /* inside <!DOCTYPE ...>: read for entities, never passed on */
	L_TAG,  /* inside a start or end tag, outside quotes */
	L_ATTV, /* inside a quoted attribute value */
};

/* An entity declared in the document's internal DTD subset. */
struct decl {
	char name[ENTITY_NAME_MAX + 1];
	char *value; /* as written */
	char *exp;   /* expansion, escaped for text and attribute values alike */
	size_t exp_len;
	unsigned char state;
};

enum { D_NEW, D_BUSY, D_DONE, D_FAILED };

struct stops;

struct fw_parser {
	struct fw_parse_limits lim;
	fw_parse_item_cb cb;
	void *arg;
	char *doc_base; /* base_url when it is an absolute URL */
	char *charset;
	enum mode mode;
	int err;      /* sticky: set when parsing cannot go on */
	bool is_feed; /* root element (or JSON object) recognised */
	bool stop;    /* no more items wanted */
	char *problem;
	const char *format;
	char *feed_title;
	int ttl;

	/* sniff */
	unsigned char sniff[SNIFF_MAX];
	size_t sniff_len;

	/* JSON */
	char *json;
	size_t json_len, json_size;

	/* filter */
	bool filter;     /* ASCII-compatible encoding: repair on */
	bool utf8_check; /* and it is UTF-8: validate */
	enum lex lex;
	unsigned char carry[CARRY_MAX];
	size_t carry_len;
	unsigned long line;
	char *fout;
	size_t fout_size;
	size_t fdepth;     /* elements open, as the filter counts them */
	size_t deep_extra; /* start tags dropped for depth that are still open */
	struct kept {      /* the fdepth open elements passed on (at most max_depth) */
		uint32_t hash;
		unsigned char len; /* of name (a longer name is cut: never matched) */
		char name[FNAME_MAX];
		unsigned long line;
	} kept[DEF_MAX_DEPTH];
	uint32_t *dropped; /* name hashes of the first DROPPED_MAX dropped open elements */
	size_t dropped_size;
	struct kept tname;   /* name of the tag being read */
	struct stops *stops; /* the filter's stop sets, one per lexical state (S_*) */
	bool tag_end;        /* the tag being read is an end tag */
	bool tag_drop;       /* ... and is dropped (nested too deep) */
	bool tag_slash;      /* ... and its last byte so far was '/' */
	unsigned char attq;  /* quote of the attribute value being read */
	char *dtd;           /* the DOCTYPE being read (at most DTD_MAX bytes) */
	size_t dtd_len, dtd_size;
	unsigned char dtd_q; /* inside a quoted string of the DOCTYPE */
	bool dtd_subset, dtd_cmt;
	uint32_t dtd_last; /* its last four bytes */
	struct decl *decls;
	uint16_t *dslot; /* hash of decls: index + 1, 0 empty; 4 x ENT_MAX slots */
	size_t n_decls, ent_stored, ent_used;

	/* XML */
	xmlParserCtxtPtr ctxt;
	struct frame *frames; /* mirrors libxml2's element stack, ghosts included */
	size_t depth, frames_size;
	size_t ldepth;     /* open (non-ghost) frames */
	char *pending_end; /* real name of a mismatched end tag */
	char **bases;      /* xml:base stack, one per frame with base */
	size_t n_bases, bases_bytes;
	xmlEntityPtr *ents; /* HTML entities handed to libxml2 when the filter is off */
	size_t n_ents;

	/* item being read */
	struct fw_item *item;
	size_t item_depth; /* logical depth of the item element */
	size_t feed_depth; /* logical depth of channel / feed */
	int prio[T_NPRIO];
	bool atom_item; /* item is an Atom entry (inherits the feed author) */
	bool item_deep; /* elements nested too deep inside it: it is dropped */
	bool skipping;  /* inside an R_SKIP element */
	bool root_seen;
	bool root_done; /* the feed's root element has ended */
	bool wrapped;   /* the document element is <html>: the feed may be inside */
	size_t root_ld; /* logical depth of the feed's root element */
	char *doc_elem; /* the document element's name, when it is not a feed */
	char *rss_uri;  /* an unknown namespace on <rss>: RSS elements are in it */

	/* field being captured */
	bool cap;
	enum target cap_target;
	enum kind cap_kind;
	int cap_prio;
	bool cap_permalink;
	unsigned char name_state;  /* 0, 1: inside a <name> child of an author, 2: read */
	size_t name_frame;         /* its frame */
	size_t name_from, name_to; /* its text in raw */
	char *raw;
	size_t raw_len, raw_size;
	bool raw_cut;

	/* person construct being read */
	char *person_name, *person_email;
	int person_prio;
	bool person_feed;
	char *feed_author;

	/* ids delivered so far (64-bit hashes), open addressing */
	struct id_slot *ids;
	size_t ids_size, n_ids, n_items;
};

/* ---------------------------------------------------------------- problems */

static void problem(struct fw_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct fw_parser *p, const char *fmt, ...)
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

static void stop_parsing(struct fw_parser *p)
{
	p->stop = true;
	if (p->ctxt)
		xmlStopParser(p->ctxt);
}

/* ---------------------------------------------------------------- ids */

static uint64_t hash64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

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

static int deliver(struct fw_parser *p, struct fw_item *item)
{
	if (p->n_items >= p->lim.max_items) {
		problem(p, "more than %zu items: the rest ignored", p->lim.max_items);
		fw_item_free(item);
		stop_parsing(p);
		return 0;
	}
	if ((!item->title && !(item->title = strdup(""))) ||
	    (!item->summary && !(item->summary = strdup(""))) ||
	    (!item->content && !(item->content = strdup(""))) || fw_item_ensure_id(item) < 0 ||
	    unique_id(p, item) < 0) {
		fw_item_free(item);
		p->err = -ENOMEM;
		stop_parsing(p);
		return -ENOMEM;
	}
	p->n_items++;
	if (p->cb(item, p->arg) < 0) {
		p->err = -ECANCELED;
		stop_parsing(p);
		return -ECANCELED;
	}
	return 0;
}

/* ---------------------------------------------------------------- JSON Feed */

static char *json_text(json_t *o, const char *key, bool html, size_t cap)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	char *s = html ? fw_text_from_html(json_string_value(v), json_string_length(v), cap)
	               : fw_text_plain(json_string_value(v), json_string_length(v), cap);
	if (s && !s[0]) {
		free(s);
		s = NULL;
	}
	return s;
}

static int64_t json_date(json_t *o, const char *key)
{
	int64_t t;
	json_t *v = json_object_get(o, key);

	if (json_is_string(v) && fw_date_parse(json_string_value(v), &t) == 0)
		return t;
	return FW_TIME_NONE;
}

static char *json_author(struct fw_parser *p, json_t *o)
{
	json_t *a = json_object_get(o, "authors");

	if (json_is_array(a) && json_array_size(a) > 0)
		a = json_array_get(a, 0);
	else
		a = json_object_get(o, "author");
	if (json_is_object(a)) {
		char *s = json_text(a, "name", false, p->lim.max_field);
		return s ? s : json_text(a, "url", false, p->lim.max_field);
	}
	return NULL;
}

static int json_item(struct fw_parser *p, json_t *o, const char *feed_author)
{
	size_t cap = p->lim.max_field;
	struct fw_item *item = fw_item_new();

	if (!item)
		return -ENOMEM;
	item->title = json_text(o, "title", false, cap);
	item->link = json_text(o, "url", false, cap);
	if (!item->link)
		item->link = json_text(o, "external_url", false, cap);
	json_t *id = json_object_get(o, "id");
	if (json_is_integer(id)) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		item->id = strdup(buf);
	} else {
		item->id = json_text(o, "id", false, cap);
	}
	item->summary = json_text(o, "summary", false, cap);
	item->content = json_text(o, "content_html", true, cap);
	if (!item->content)
		item->content = json_text(o, "content_text", false, cap);
	item->published = json_date(o, "date_published");
	item->updated = json_date(o, "date_modified");
	item->author = json_author(p, o);
	if (!item->author && feed_author)
		item->author = strdup(feed_author);
	json_t *tags = json_object_get(o, "tags");
	if (json_is_array(tags) && json_array_size(tags) > 0) {
		size_t n = json_array_size(tags);
		if (n > p->lim.max_categories)
			n = p->lim.max_categories;
		item->categories = calloc(n, sizeof(char *));
		for (size_t i = 0; item->categories && i < n; i++) {
			json_t *t = json_array_get(tags, i);
			if (!json_is_string(t))
				continue;
			char *c = fw_text_plain(json_string_value(t), json_string_length(t), cap);
			if (c && c[0])
				item->categories[item->n_categories++] = c;
			else
				free(c);
		}
	}
	return deliver(p, item);
}

static int json_finish(struct fw_parser *p)
{
	json_error_t jerr;
	json_t *doc = json_loadb(p->json ? p->json : "", p->json_len, 0, &jerr);

	if (!doc) {
		problem(p, "not valid JSON at line %d: %s", jerr.line, jerr.text);
		return -EBADMSG;
	}
	json_t *items = json_object_get(doc, "items");
	const char *v = json_string_value(json_object_get(doc, "version"));
	/* the version should be "https://jsonfeed.org/version/1[.1]"; feeds in the wild
	   write "1.0" and worse: an object with an items array is enough */
	if (!json_is_object(doc) || !json_is_array(items)) {
		problem(p, "JSON document is not a JSON Feed (no items array)");
		json_decref(doc);
		return -EBADMSG;
	}
	p->is_feed = true;
	p->format = v && strstr(v, "1.1") ? "json1.1" : "json1.0";
	p->feed_title = json_text(doc, "title", false, FEED_LIMIT_TEXT);
	char *feed_author = json_author(p, doc);
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		if (p->stop)
			break;
		if (json_is_object(it) && json_item(p, it, feed_author) < 0)
			break;
	}
	free(feed_author);
	json_decref(doc);
	return 0;
}

static void json_push(struct fw_parser *p, const char *data, size_t len)
{
	if (len > p->lim.max_json - p->json_len) {
		problem(p, "JSON Feed larger than %zu bytes", p->lim.max_json);
		p->err = -EFBIG;
		return;
	}
	if (p->json_len + len + 1 > p->json_size) {
		size_t n = p->json_size ? p->json_size : 16384;
		while (n < p->json_len + len + 1)
			n *= 2;
		char *b = realloc(p->json, n);
		if (!b) {
			p->err = -ENOMEM;
			return;
		}
		p->json = b;
		p->json_size = n;
	}
	memcpy(p->json + p->json_len, data, len);
	p->json_len += len;
}

/* ---------------------------------------------------------------- fields */

static const char *cur_base(const struct fw_parser *p)
{
	return p->n_bases ? p->bases[p->n_bases - 1] : p->doc_base;
}

/* Absolute form of a link (relative ones resolved against xml:base / the document URL;
   kept as they are when there is no base or they do not parse). Takes ownership. */
static char *resolve(const struct fw_parser *p, char *link)
{
	const char *base = cur_base(p);

	if (!link || !base)
		return link;
	xmlChar *u = xmlBuildURI((const xmlChar *)link, (const xmlChar *)base);
	if (!u)
		return link;
	/* capped like the field itself: a resolved form longer than max_field (never more
	   than BASE_MAX longer than the link) is not used */
	char *r = strlen((const char *)u) <= p->lim.max_field ? strdup((const char *)u) : NULL;
	xmlFree(u);
	if (!r)
		return link;
	free(link);
	return r;
}

/* True when s starts with a URI scheme ("http:", "tag:", "urn:"). */
static bool has_scheme(const char *s)
{
	size_t k = 0;

	while (
	    (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
	    (k > 0 && ((s[k] >= '0' && s[k] <= '9') || s[k] == '+' || s[k] == '-' || s[k] == '.')))
		k++;
	return k > 1 && s[k] == ':';
}

static void set_str(char **dst, char *s)
{
	free(*dst);
	*dst = s;
}

static void add_category(struct fw_parser *p, char *s)
{
	struct fw_item *it = p->item;

	if (!s || !s[0] || it->n_categories >= p->lim.max_categories) {
		free(s);
		return;
	}
	if (it->n_categories % 8 == 0) {
		char **c = realloc(it->categories, (it->n_categories + 8) * sizeof(char *));
		if (!c) {
			free(s);
			return;
		}
		it->categories = c;
	}
	it->categories[it->n_categories++] = s;
}

/* Candidate text for a target with a priority (lower wins; the first of equals wins). */
static void offer(struct fw_parser *p, enum target t, int prio, char *s)
{
	int64_t when;

	if (!s || !s[0]) {
		free(s);
		return;
	}
	switch (t) {
	case T_FEED_TITLE:
		if (!p->feed_title)
			p->feed_title = s;
		else
			free(s);
		return;
	case T_TTL:
		if (p->ttl < 0) {
			char *end;
			long v = strtol(s, &end, 10);
			if (*end == '\0' && v >= 0 && v < INT_MAX)
				p->ttl = (int)v;
		}
		free(s);
		return;
	case T_AUTHOR_NAME:
		if (!p->person_name)
			p->person_name = s;
		else
			free(s);
		return;
	case T_AUTHOR_EMAIL:
		if (!p->person_email)
			p->person_email = s;
		else
			free(s);
		return;
	default:
		break;
	}
	if (!p->item) {
		free(s);
		return;
	}
	if (t == T_CATEGORY) {
		add_category(p, s);
		return;
	}
	if (t == T_KEYWORDS) {
		for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
			add_category(p, fw_text_plain(tok, strlen(tok), p->lim.max_field));
		free(s);
		return;
	}
	if (prio >= p->prio[t]) {
		free(s);
		return;
	}
	struct fw_item *it = p->item;
	switch (t) {
	case T_TITLE:
		set_str(&it->title, s);
		break;
	case T_LINK:
		set_str(&it->link, resolve(p, s));
		break;
	case T_ID:
		/* an Atom id is an IRI: a relative one is read against xml:base */
		set_str(&it->id, p->atom_item && !has_scheme(s) ? resolve(p, s) : s);
		break;
	case T_AUTHOR:
		set_str(&it->author, s);
		break;
	case T_SUMMARY:
		set_str(&it->summary, s);
		break;
	case T_CONTENT:
		set_str(&it->content, s);
		break;
	case T_PUBLISHED:
	case T_UPDATED:
		if (fw_date_parse(s, &when) < 0) {
			free(s);
			return;
		}
		if (t == T_PUBLISHED)
			it->published = when;
		else
			it->updated = when;
		free(s);
		break;
	default:
		free(s);
		return;
	}
	p->prio[t] = prio;
}

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

/* Decode base64 in place; 0 when s is not base64 (other characters, bad length). */
static size_t base64_decode(char *s, size_t n)
{
	size_t o = 0, digits = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/' || c == '-' || c == '_' || c == '=')
			digits++;
		else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return 0;
	}
	if (digits % 4 != 0)
		return 0;
	unsigned v = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int d;
		if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			d = c - '0' + 52;
		else if (c == '+' || c == '-')
			d = 62;
		else if (c == '/' || c == '_')
			d = 63;
		else
			continue;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[o++] = (char)((v >> bits) & 0xff);
		}
	}
	return o;
}

static void capture_end(struct fw_parser *p)
{
	char *text;
	size_t cap = p->cap_target == T_FEED_TITLE ? FEED_LIMIT_TEXT : p->lim.max_field;

	p->cap = false;
	if (p->raw_cut)
		problem(p, "a field longer than %zu bytes was cut near line %lu",
		        p->lim.max_raw_field,
		        p->ctxt ? (unsigned long)xmlSAX2GetLineNumber(p->ctxt) : 0UL);
	if (p->cap_kind == K_BASE64 || p->cap_kind == K_BASE64_HTML) {
		/* binary by its media type; if it does not decode to UTF-8 text, it was
		   text after all (unknown types are often text) */
		char *copy = p->raw_len ? malloc(p->raw_len) : NULL;
		text = NULL;
		if (copy) {
			memcpy(copy, p->raw, p->raw_len);
			size_t n = base64_decode(copy, p->raw_len);
			if (n > 0 && !memchr(copy, '\0', n))
				text = p->cap_kind == K_BASE64_HTML
				           ? fw_text_from_html(copy, n, cap)
				           : fw_text_plain(copy, n, cap);
			if (text && strstr(text, "\xef\xbf\xbd")) {
				free(text);
				text = NULL;
			}
			free(copy);
		}
		if (!text)
			text = fw_text_plain(p->raw, p->raw_len, cap);
	} else if (p->cap_kind == K_PLAIN) {
		text = fw_text_plain(p->raw, p->raw_len, cap);
		/* RSS 2.0: a guid that is a permalink is the link when there is no <link> */
		if (p->cap_permalink && text &&
		    (strncmp(text, "http://", 7) == 0 || strncmp(text, "https://", 8) == 0))
			offer(p, T_LINK, 3, strdup(text));
	} else if (p->cap_target == T_AUTHOR && p->name_state == 2) {
		/* an RSS <author> written as a person (<name>, <email>): the name */
		text = fw_text_from_html(p->raw + p->name_from, p->name_to - p->name_from, cap);
	} else {
		text = fw_text_from_html(p->raw, p->raw_len, cap);
	}
	offer(p, p->cap_target, p->cap_prio, text);
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
		offer(p, T_LINK, prio, href);
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
		offer(p, T_AUTHOR, p->person_prio, who);
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
		offer(p, T_CATEGORY, 0, attr(attrs, n, "text", p->lim.max_field));
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
				offer(p, T_LINK, 0, href);
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
			offer(p, T_CATEGORY, 0, label);
		} else if (is(name, "source")) {
			p->frames[p->depth - 1].role = R_SKIP;
			p->skipping = true;
		}
		return;
	}
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
		stop_parsing(p);
		return;
	}
	p->item_depth = p->frames[p->depth - 1].ld;
	p->atom_item = atom;
	p->item_deep = false;
	for (int i = 0; i < T_NPRIO; i++)
		p->prio[i] = INT_MAX;
	p->frames[p->depth - 1].role = R_ITEM;
	if (!atom)
		offer(p, T_ID, 9, rdf_about(p, attrs, n)); /* when no other id */
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
	deliver(p, it);
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

static void feed_element(struct fw_parser *p, const xmlChar *name, enum ns ns)
{
	size_t d = p->frames[p->depth - 1].ld - p->root_ld;

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
			problem(p, "xml:base longer than %d bytes (or too many) ignored", BASE_MAX);
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
		problem(p, "elements nested deeper than %zu at line %d", p->lim.max_depth,
		        xmlSAX2GetLineNumber(p->ctxt));
		if (p->item)
			p->item_deep = true;
		if (p->depth >= 2 * DEF_MAX_DEPTH) {
			stop_parsing(p);
			return;
		}
	}
	if (p->depth == p->frames_size) {
		size_t sz = p->frames_size ? p->frames_size * 2 : 32;
		struct frame *f = realloc(p->frames, sz * sizeof(*f));
		if (!f) {
			p->err = -ENOMEM;
			stop_parsing(p);
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
				problem(p, "not a feed: the document element is <%s>",
				        (const char *)name);
				stop_parsing(p);
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
		feed_element(p, name, ns);
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
		capture_end(p);
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
			capture_end(p);
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
	problem(p, "elements nested deeper than %zu at line %d: %s", p->lim.max_depth,
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
	problem(p, "not well-formed at line %d: %s", e->line, e->message ? e->message : "error");
}

/* ---------------------------------------------------------------- repair filter */

static bool name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80;
}

static bool name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       c >= 0x80;
}

static bool xml_char(unsigned long c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* The filter's output. While it equals its input (src) so far, nothing is copied: len
   only counts; the first change copies what passed into p->fout and src becomes NULL. */
struct fout {
	struct fw_parser *p;
	const unsigned char *src;
	size_t len;
};

static bool fout_put(struct fout *o, const void *s, size_t n)
{
	struct fw_parser *p = o->p;

	if (n == 0)
		return true;
	if (o->src) {
		if ((const unsigned char *)s == o->src + o->len) {
			o->len += n;
			return true;
		}
		const unsigned char *src = o->src;
		size_t len = o->len;
		o->src = NULL;
		o->len = 0;
		if (!fout_put(o, src, len))
			return false;
	}
	if (o->len + n > p->fout_size) {
		size_t sz = p->fout_size ? p->fout_size : 4096;
		while (sz < o->len + n)
			sz *= 2;
		char *b = realloc(p->fout, sz);
		if (!b) {
			p->err = -ENOMEM;
			return false;
		}
		p->fout = b;
		p->fout_size = sz;
	}
	memcpy(p->fout + o->len, s, n);
	o->len += n;
	return true;
}

/* ---------------------------------------------------------------- internal DTD subset */

/*
 * The repair filter never passes a DOCTYPE on to libxml2: it reads it here for the
 * general entities declared with a literal value in the internal subset, and expands
 * their references itself (as text: markup in a value is escaped), bounded: at most
 * ENT_MAX declarations from DTD_MAX bytes, ENT_EXP_MAX bytes per expansion, ENT_DEPTH
 * levels, ENT_STORE_MAX held and ENT_TOTAL_MAX substituted in all. An entity over a
 * bound, recursive, external (SYSTEM, PUBLIC) or a parameter entity is never expanded:
 * its references stay as written.
 */
struct sbuf {
	char *b;
	size_t len, size;
	bool bad;
};

static void sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (b->bad || n == 0)
		return;
	if (n > ENT_EXP_MAX - b->len) {
		b->bad = true;
		return;
	}
	if (b->len + n + 1 > b->size) {
		size_t sz = b->size ? b->size * 2 : 64;
		while (sz < b->len + n + 1)
			sz *= 2;
		char *t = realloc(b->b, sz);
		if (!t) {
			b->bad = true;
			return;
		}
		b->b = t;
		b->size = sz;
	}
	memcpy(b->b + b->len, s, n);
	b->len += n;
	b->b[b->len] = '\0';
}

/* The slot of name in the hash of declarations (empty when it is not declared). */
static uint16_t *decl_slot(struct fw_parser *p, const char *name)
{
	size_t h = (size_t)hash64(name) & (4 * ENT_MAX - 1);

	while (p->dslot[h] && strcmp(p->decls[p->dslot[h] - 1].name, name) != 0)
		h = (h + 1) & (4 * ENT_MAX - 1);
	return &p->dslot[h];
}

static struct decl *decl_find(struct fw_parser *p, const char *name)
{
	if (!p->n_decls)
		return NULL;
	uint16_t *slot = decl_slot(p, name);
	return *slot ? &p->decls[*slot - 1] : NULL;
}

static size_t cp1252_utf8(unsigned char c, char *buf);
static bool xml_char(unsigned long c);
static bool name_char(unsigned char c);
static bool name_start(unsigned char c);

/* The reference "&name;" or "&#...;" at v[0] == '&': its length, name copied. */
static size_t ref_at(const unsigned char *v, size_t n, char *name)
{
	size_t k = 1;

	if (k < n && v[k] == '#')
		k++;
	while (k < n && k <= ENTITY_NAME_MAX && name_char(v[k]))
		k++;
	if (k < 2 || k >= n || v[k] != ';' || k > ENTITY_NAME_MAX)
		return 0;
	memcpy(name, v + 1, k - 1);
	name[k - 1] = '\0';
	return k + 1;
}

static bool decl_expand(struct fw_parser *p, struct decl *d, int depth);

/* Append the expansion of one reference found in an entity value. */
static void expand_ref(struct fw_parser *p, struct sbuf *b, const unsigned char *v, size_t len,
                       const char *name, int depth)
{
	char tmp[16];
	struct decl *e;

	if (name[0] == '#') {
		bool hex = name[1] == 'x' || name[1] == 'X';
		const char *q = name + 1 + hex;
		char *end;
		unsigned long cp = strtoul(q, &end, hex ? 16 : 10);
		bool digit =
		    (*q >= '0' && *q <= '9') || (hex && ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'f'));
		if (digit && !*end && strlen(q) <= 8 && xml_char(cp))
			sb_put(b, v, len);
	} else if (xmlGetPredefinedEntity(BAD_CAST name)) {
		sb_put(b, v, len);
	} else if ((e = decl_find(p, name))) {
		if (decl_expand(p, e, depth + 1))
			sb_put(b, e->exp, e->exp_len);
		else
			b->bad = true; /* recursive or too big: the whole entity is */
	} else {
		const htmlEntityDesc *h = htmlEntityLookup(BAD_CAST name);
		if (h) {
			snprintf(tmp, sizeof(tmp), "&#%u;", h->value);
			sb_put(b, tmp, strlen(tmp));
		} else {
			sb_put(b, "&amp;", 5);
			sb_put(b, v + 1, len - 1);
		}
	}
}

/* Expand d (memoised); false when it cannot be (recursive, too big, too deep). */
static bool decl_expand(struct fw_parser *p, struct decl *d, int depth)
{
	if (d->state == D_DONE)
		return true;
	if (d->state != D_NEW || depth > ENT_DEPTH)
		return false;
	d->state = D_BUSY;
	struct sbuf b = {0};
	const unsigned char *v = (const unsigned char *)d->value;
	size_t n = strlen(d->value);
	char name[ENTITY_NAME_MAX + 2], tmp[4];

	for (size_t i = 0; i < n && !b.bad;) {
		unsigned char c = v[i];
		size_t len;
		if (c == '&' && (len = ref_at(v + i, n - i, name)) > 0) {
			expand_ref(p, &b, v + i, len, name, depth);
			i += len;
			continue;
		}
		if (c == '&')
			sb_put(&b, "&amp;", 5);
		else if (c == '<')
			sb_put(&b, "&lt;", 4);
		else if (c == '"')
			sb_put(&b, "&quot;", 6);
		else if (c == '\'')
			sb_put(&b, "&#39;", 5);
		else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			;
		else if (c >= 0x80 && p->utf8_check && !(len = fw_text_utf8_len(v + i, n - i)))
			sb_put(&b, tmp, cp1252_utf8(c, tmp));
		else if (c >= 0x80 && p->utf8_check) {
			sb_put(&b, v + i, len);
			i += len;
			continue;
		} else
			sb_put(&b, v + i, 1);
		i++;
	}
	if (b.bad || b.len > ENT_STORE_MAX - p->ent_stored) {
		free(b.b);
		d->state = D_FAILED;
		return false;
	}
	d->exp = b.b ? b.b : strdup("");
	if (!d->exp) {
		d->state = D_FAILED;
		return false;
	}
	d->exp_len = b.len;
	p->ent_stored += b.len;
	d->state = D_DONE;
	return true;
}

/* The general entities with a literal value declared in the DOCTYPE just read. */
static void dtd_entities(struct fw_parser *p)
{
	const char *s = p->dtd;
	size_t n = p->dtd_len, i = 0;

	while (i < n) {
		const char *e;
		if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			if (!(e = memmem(s + i + 4, n - i - 4, "-->", 3)))
				return;
			i = (size_t)(e - s) + 3;
			continue;
		}
		if (s[i] == '"' || s[i] == '\'') {
			if (!(e = memchr(s + i + 1, s[i], n - i - 1)))
				return;
			i = (size_t)(e - s) + 1;
			continue;
		}
		if (n - i < 9 || memcmp(s + i, "<!ENTITY", 8) != 0) {
			i++;
			continue;
		}
		i += 8;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		size_t start = i;
		while (i < n && name_char((unsigned char)s[i]))
			i++;
		size_t nl = i - start;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		/* '%': a parameter entity; SYSTEM, PUBLIC: external. Never. */
		if (nl == 0 || nl > ENTITY_NAME_MAX || !name_start((unsigned char)s[start]) ||
		    i >= n || (s[i] != '"' && s[i] != '\''))
			continue;
		if (!(e = memchr(s + i + 1, s[i], n - i - 1)))
			return;
		char name[ENTITY_NAME_MAX + 1];
		memcpy(name, s + start, nl);
		name[nl] = '\0';
		if (!p->decls) {
			p->decls = calloc(ENT_MAX, sizeof(*p->decls));
			p->dslot = calloc(4 * ENT_MAX, sizeof(*p->dslot));
			if (!p->decls || !p->dslot)
				return;
		}
		uint16_t *slot = decl_slot(p, name);
		if (p->n_decls < ENT_MAX && !*slot) { /* the first declaration binds */
			struct decl *d = &p->decls[p->n_decls];
			memcpy(d->name, name, nl + 1);
			size_t vl = (size_t)(e - s) - i - 1;
			/* the DOCTYPE buffer is not NUL-terminated: no strndup */
			if ((d->value = malloc(vl + 1))) {
				memcpy(d->value, s + i + 1, vl);
				d->value[vl] = '\0';
				*slot = (uint16_t)++p->n_decls;
			}
		}
		i = (size_t)(e - s) + 1;
	}
}

/* Read DOCTYPE bytes (after "<!DOCTYPE"); only its newlines go on (line numbers stay
   right). Returns the bytes consumed; at its end the filter is back in text. */
static size_t dtd_scan(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		p->dtd_last = (p->dtd_last << 8) | c;
		if (c == '\n') {
			p->line++;
			fout_put(o, "\n", 1);
		}
		if (p->dtd_len < DTD_MAX) {
			if (p->dtd_len == p->dtd_size) {
				size_t sz = p->dtd_size ? p->dtd_size * 2 : 1024;
				char *b = realloc(p->dtd, sz);
				if (b) {
					p->dtd = b;
					p->dtd_size = sz;
				}
			}
			if (p->dtd_len < p->dtd_size)
				p->dtd[p->dtd_len++] = (char)c;
		}
		if (p->dtd_cmt) {
			p->dtd_cmt = (p->dtd_last & 0xffffff) != 0x2d2d3e; /* "-->" */
		} else if (p->dtd_q) {
			if (c == p->dtd_q)
				p->dtd_q = 0;
		} else if (p->dtd_last == 0x3c212d2d) { /* "<!--" */
			p->dtd_cmt = true;
		} else if (c == '"' || c == '\'') {
			p->dtd_q = c;
		} else if (c == '[') {
			p->dtd_subset = true;
		} else if (c == ']') {
			p->dtd_subset = false;
		} else if (c == '>' && !p->dtd_subset) {
			dtd_entities(p);
			free(p->dtd);
			p->dtd = NULL;
			p->dtd_len = p->dtd_size = 0;
			p->lex = L_TEXT;
			return i + 1;
		}
	}
	return n;
}

/*
 * At s[0] == '&': how many bytes the reference takes and what to write instead.
 * Returns 0 when more bytes are needed to decide, else the bytes consumed; *rep
 * is the replacement (NULL: copy as is).
 */
static size_t filter_amp(struct fw_parser *p, const unsigned char *s, size_t n, bool final,
                         char *buf, const char **rep)
{
	size_t i = 1;

	*rep = NULL;
	if (i < n && s[i] == '#') {
		i++;
		bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
		if (hex)
			i++;
		size_t start = i;
		unsigned long v = 0;
		while (i < n && i - start < 10 &&
		       ((s[i] >= '0' && s[i] <= '9') ||
		        (hex && ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))))) {
			unsigned d = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
			v = v * (hex ? 16 : 10) + d;
			i++;
		}
		if (i == n && !final)
			return 0;
		if (i > start && i < n && s[i] == ';') {
			if (!xml_char(v) || i - start > 8) {
				problem(p,
				        "not well-formed at line %lu: invalid character reference",
				        p->line);
				*rep = "";
			}
			return i + 1;
		}
		*rep = "&amp;";
		problem(p, "not well-formed at line %lu: unescaped '&' (repaired)", p->line);
		return 1;
	}
	while (i < n && i <= ENTITY_NAME_MAX && name_char(s[i]))
		i++;
	if (i == n && !final && i <= ENTITY_NAME_MAX)
		return 0;
	if (i > 1 && i < n && s[i] == ';' && name_start(s[1])) {
		char name[ENTITY_NAME_MAX + 1];
		memcpy(name, s + 1, i - 1);
		name[i - 1] = '\0';
		if (xmlGetPredefinedEntity(BAD_CAST name))
			return i + 1;
		struct decl *d = decl_find(p, name);
		if (d && decl_expand(p, d, 0) && d->exp_len <= ENT_TOTAL_MAX - p->ent_used) {
			p->ent_used += d->exp_len;
			*rep = d->exp;
			return i + 1;
		}
		const htmlEntityDesc *h = d ? NULL : htmlEntityLookup(BAD_CAST name);
		if (h) {
			snprintf(buf, 16, "&#%u;", h->value);
			*rep = buf;
			return i + 1;
		}
		/* external, over a bound, or unknown: never expanded, shown as written */
		problem(p, "not well-formed at line %lu: entity &%s; not expanded, left as text",
		        p->line, name);
		*rep = "&amp;";
		return 1;
	}
	problem(p, "not well-formed at line %lu: unescaped '&' (repaired)", p->line);
	*rep = "&amp;";
	return 1;
}

/*
 * A byte that is not part of valid UTF-8 in a document read as UTF-8, read as
 * windows-1252 instead (what browsers fall back to: "don\x92t" is "don't" with U+2019).
 * Writes its UTF-8 form (U+FFFD for the five bytes windows-1252 leaves undefined) to buf
 * and returns its length.
 */
static size_t cp1252_utf8(unsigned char c, char *buf)
{
	static const uint16_t c1[32] = {
	    0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
	    0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
	    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178};
	unsigned cp = c >= 0xa0 ? c : c1[c - 0x80];

	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	buf[0] = (char)(0xe0 | (cp >> 12));
	buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	buf[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

static size_t match_prefix(const unsigned char *s, size_t n, const char *pat)
{
	size_t m = strlen(pat);

	for (size_t i = 0; i < m; i++) {
		if (i == n)
			return 1; /* a prefix so far: undecided */
		if (s[i] != (unsigned char)pat[i])
			return 0;
	}
	return 2;
}

/* Length of the complete, valid UTF-8 sequence at s (n bytes) of a non-ASCII XML
   character, else 0 (ASCII, invalid, or cut by the chunk end: the slow path decides). */
static inline size_t utf8_xml_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 0 : fw_text_utf8_len(s, n);

	if (len == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
		return 0; /* U+FFFE, U+FFFF are not XML characters */
	return len;
}

/* Length of "&lt;", "&gt;", "&amp;", "&quot;" or "&apos;" at s, else 0: the references
   that pass the filter as they are (filter_amp decides the rest). */
static inline size_t predefined_ref_len(const unsigned char *s, size_t n)
{
	if (n >= 4 && s[3] == ';' && (s[1] == 'l' || s[1] == 'g') && s[2] == 't')
		return 4;
	if (n >= 5 && memcmp(s, "&amp;", 5) == 0)
		return 5;
	if (n >= 6 && (memcmp(s, "&quot;", 6) == 0 || memcmp(s, "&apos;", 6) == 0))
		return 6;
	return 0;
}

/* The bytes that end a run of plain bytes, broadcast once per run: two, or four (tags). */
struct stops {
	unsigned char c[4];
	bool four;
	uint64_t w[4];
#ifdef __SSE2__
	__m128i v[4];
#endif
};

static inline void stops_set(struct stops *st, const char *c)
{
	memcpy(st->c, c, 4);
	st->four = c[2] != c[1] || c[3] != c[1];
	for (int k = 0; k < 4; k++) {
		st->w[k] = UINT64_C(0x0101010101010101) * (unsigned char)c[k];
#ifdef __SSE2__
		st->v[k] = _mm_set1_epi8(c[k]);
#endif
	}
}

static inline bool is_stop(const struct stops *st, unsigned char c)
{
	return c == st->c[0] || c == st->c[1] || (st->four && (c == st->c[2] || c == st->c[3]));
}

/* Eight bytes at a time (SWAR): is any of s[0..7] >= 0x80, < 0x20, or a stop byte? */
static inline bool special8(const unsigned char *s, const struct stops *st)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
	uint64_t x, a, l, r;

	memcpy(&x, s, 8);
	/* a byte >= 0x80, a byte < 0x20, a zero byte in x ^ stop (x held a stop byte) */
	a = x ^ st->w[0];
	l = x ^ st->w[1];
	r = x | ((x - ones * 0x20) & ~x) | ((a - ones) & ~a) | ((l - ones) & ~l);
	if (st->four) {
		a = x ^ st->w[2];
		l = x ^ st->w[3];
		r |= ((a - ones) & ~a) | ((l - ones) & ~l);
	}
	return (r & highs) != 0;
}

/* How many of the 16 bytes at s, from the first, the filter passes as they are: ASCII
   from 0x20 but the stop bytes, and (utf8) two-byte UTF-8 characters or (!utf8) any byte
   >= 0x80. */
static inline size_t plain16(const unsigned char *s, const struct stops *st, bool utf8)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i stop = _mm_or_si128(_mm_cmpeq_epi8(v, st->v[0]), _mm_cmpeq_epi8(v, st->v[1]));
	unsigned ok = (unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)));

	if (st->four)
		stop = _mm_or_si128(
		    stop, _mm_or_si128(_mm_cmpeq_epi8(v, st->v[2]), _mm_cmpeq_epi8(v, st->v[3])));
	if (ok != 0xffff)
		ok |= utf8 ? fw_text_pairs16(v, 0xc2) : (unsigned)_mm_movemask_epi8(v);
	ok &= ~(unsigned)_mm_movemask_epi8(stop);
	return ok == 0xffff ? 16 : (size_t)__builtin_ctz(~ok);
#else
	(void)s, (void)st, (void)utf8;
	return 0;
#endif
}

/* Output unless the tag being read is dropped. */
static bool put(struct fout *o, const void *s, size_t n)
{
	return o->p->tag_drop || fout_put(o, s, n);
}

/* The stop sets, made once per document (broadcasting them per run costs). */
enum { S_TEXT, S_TAG, S_DQ, S_SQ, S_CDATA, S_COMMENT, S_PI, S_N };

static int stops_init(struct fw_parser *p)
{
	static const char *const c[S_N] = {"&<<<", ">\"'<", "\"&<<", "'&<<",
	                                   "]]]]", "----",  "????"};

	p->stops = aligned_alloc(16, S_N * sizeof(*p->stops));
	if (!p->stops)
		return -ENOMEM;
	for (int k = 0; k < S_N; k++)
		stops_set(&p->stops[k], c[k]);
	return 0;
}

/* The bytes that end a run of plain bytes in the current lexical state. */
static const struct stops *stops_of(const struct fw_parser *p)
{
	switch (p->lex) {
	case L_TEXT:
		return &p->stops[S_TEXT];
	case L_TAG:
		return &p->stops[S_TAG];
	case L_ATTV:
		return &p->stops[p->attq == '"' ? S_DQ : S_SQ];
	case L_CDATA:
		return &p->stops[S_CDATA];
	case L_COMMENT:
		return &p->stops[S_COMMENT];
	default:
		return &p->stops[S_PI];
	}
}

static uint32_t name_hash(const unsigned char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

static bool kept_is(const struct kept *k, const struct kept *t)
{
	return k->hash == t->hash && k->len == t->len && k->len <= FNAME_MAX &&
	       memcmp(k->name, t->name, k->len) == 0;
}

/*
 * An end tag (name in p->tname) that is not the innermost open element's: when it names
 * an element still open further out, close what was left open inside it first (dropped
 * ones by count, passed ones by writing their end tags), as libxml2's recovery and
 * end_cb would, but without libxml2's depth limit in the way. The search is bounded:
 * the DROPPED_SEARCH innermost dropped elements, then the passed ones (max_depth).
 */
static void tag_unwind(struct fw_parser *p, struct fout *o)
{
	const struct kept *t = &p->tname;

	if (p->deep_extra > 0 && p->deep_extra <= p->dropped_size) {
		for (size_t k = 0; k < DROPPED_SEARCH && k < p->deep_extra; k++) {
			if (p->dropped[p->deep_extra - 1 - k] == t->hash) {
				p->deep_extra -= k; /* the end tag itself closes the one found */
				return;
			}
		}
	} else if (p->deep_extra == 0 && p->fdepth > 0 && kept_is(&p->kept[p->fdepth - 1], t)) {
		return; /* the common case: it closes the innermost */
	}
	size_t l = p->fdepth;
	while (l > 0 && !kept_is(&p->kept[l - 1], t))
		l--;
	if (l == 0)
		return; /* names nothing open: libxml2 pops the innermost, so do we */
	const struct kept *in = &p->kept[p->fdepth - 1];
	int in_len = in->len > FNAME_MAX ? FNAME_MAX : in->len;
	if (p->deep_extra == 0)
		problem(p,
		        "not well-formed at line %lu: Opening and ending tag mismatch: %.*s line "
		        "%lu and %.*s",
		        p->line, in_len, in->name, in->line, (int)t->len, t->name);
	p->deep_extra = 0;
	while (p->fdepth > l) {
		const struct kept *k = &p->kept[--p->fdepth];
		fout_put(o, "</", 2);
		fout_put(o, k->name, k->len > FNAME_MAX ? FNAME_MAX : k->len);
		fout_put(o, ">", 1);
	}
	/* kept[l - 1] is the element named: the end tag itself closes it */
}

/*
 * A start or end tag begins at s[0] == '<', its name (m bytes) at name. The filter counts
 * open elements as libxml2 will (it gives up for good beyond 256): a start tag nested
 * deeper than max_depth, and its end tag, are dropped, and a processing instruction
 * DEEP_PI marks the place, so the parser drops the one item they are in and goes on.
 */
static void tag_open(struct fw_parser *p, struct fout *o, const unsigned char *s,
                     const unsigned char *name, size_t m)
{
	p->tag_end = s[1] == '/';
	p->tag_slash = false;
	p->tname.len = (unsigned char)(m > FNAME_MAX ? FNAME_MAX + 1 : m);
	memcpy(p->tname.name, name, m > FNAME_MAX ? FNAME_MAX : m);
	p->tname.hash = name_hash(name, m > FNAME_MAX ? FNAME_MAX : m);
	p->tname.line = p->line;
	if (p->tag_end) {
		tag_unwind(p, o);
		p->tag_drop = p->deep_extra > 0;
		if (p->tag_drop)
			p->deep_extra--;
		else if (p->fdepth > 0)
			p->fdepth--;
	} else {
		p->tag_drop = p->fdepth >= p->lim.max_depth;
		if (p->tag_drop && p->deep_extra == 0)
			fout_put(o, "<?" DEEP_PI "?>", strlen("<?" DEEP_PI "?>"));
	}
	p->lex = L_TAG;
	put(o, s, 1);
}

/* The end of a tag (its '>', or a '<' that cuts it short). */
static void tag_close(struct fw_parser *p)
{
	if (!p->tag_end && !p->tag_slash) {
		if (!p->tag_drop) {
			p->kept[p->fdepth++] = p->tname;
		} else {
			if (p->deep_extra < DROPPED_MAX && p->deep_extra >= p->dropped_size) {
				size_t sz = p->dropped_size ? p->dropped_size * 2 : 256;
				uint32_t *d = realloc(p->dropped, sz * sizeof(*d));
				if (d) {
					p->dropped = d;
					p->dropped_size = sz;
				}
			}
			if (p->deep_extra < p->dropped_size)
				p->dropped[p->deep_extra] = p->tname.hash;
			p->deep_extra++;
		}
	}
	p->tag_drop = false;
	p->lex = L_TEXT;
}

/*
 * The common tag at s[0] == '<' (in text), taken whole inside a run of plain bytes: an
 * ASCII name, then printable ASCII, blanks and quoted values without '&' or '<', all in
 * s[0..n). Does the filter's element bookkeeping and returns the tag's length, or 0 when
 * the tag needs the slow path (dropped or unwound for depth, an entity or anything else
 * in it, cut by the chunk end): that path gives the same result, only slower.
 */
static inline size_t tag_fast(struct fw_parser *p, const unsigned char *s, size_t n)
{
	/* ASCII name bytes [A-Za-z0-9:_.-] (a name with others takes the slow path) */
	static const uint64_t name_bits[4] = {UINT64_C(0x07ff600000000000),
	                                      UINT64_C(0x07fffffe87fffffe), 0, 0};
	bool end = s[1] == '/';
	size_t j = end ? 2 : 1, st = j;
	uint32_t h = 2166136261u;

	while (j < n && j - st <= FNAME_MAX && (name_bits[s[j] >> 6] >> (s[j] & 63) & 1))
		h = (h ^ s[j++]) * 16777619u;
	size_t m = j - st;
	if (m == 0 || m > FNAME_MAX || j == n)
		return 0;
	unsigned long lines = 0;
	if (s[j] != '>') {
		unsigned char q = 0;
		const struct stops *stop = &p->stops[S_TAG];
		for (;;) {
			/* plain bytes 16 at a time: outside quotes up to '>', a quote or '<';
			   inside, up to the quote, '&' or '<' ('&' outside quotes is plain in
			   L_TAG too) */
			while (n - j >= 16) {
				size_t r = plain16(s + j, stop, p->utf8_check);
				j += r;
				if (r < 16)
					break;
			}
			while (j < n && s[j] >= 0x20 && s[j] < 0x80 && !is_stop(stop, s[j]))
				j++;
			if (j == n)
				return 0;
			unsigned char c = s[j];
			if (c == '\n' || c == '\t' || c == '\r') {
				lines += c == '\n';
				j++;
			} else if (q && c == q) {
				q = 0;
				stop = &p->stops[S_TAG];
				j++;
			} else if (!q && (c == '"' || c == '\'')) {
				q = c;
				stop = &p->stops[c == '"' ? S_DQ : S_SQ];
				j++;
			} else if (!q && c == '>') {
				break;
			} else if (q && c == '&' && predefined_ref_len(s + j, n - j)) {
				j += predefined_ref_len(s + j, n - j); /* "&amp;" in a URL */
			} else {
				return 0; /* '<', another reference, a control or non-ASCII byte */
			}
		}
	}
	if (end) {
		/* the innermost by hash and length: on a collision libxml2's recovery would
		   pop the innermost just the same */
		if (p->deep_extra || p->fdepth == 0 || p->kept[p->fdepth - 1].hash != h ||
		    p->kept[p->fdepth - 1].len != m)
			return 0;
		p->fdepth--;
	} else if (s[j - 1] != '/') {
		if (p->fdepth >= p->lim.max_depth)
			return 0;
		struct kept *k = &p->kept[p->fdepth++];
		k->hash = h;
		k->len = (unsigned char)m;
		if (n - st >= FNAME_MAX)
			memcpy(k->name, s + st, FNAME_MAX); /* fixed size: a few moves */
		else
			memcpy(k->name, s + st, m);
		k->line = p->line;
	}
	p->line += lines;
	return j + 1;
}

/* At '<' in text: markup, or a '<' to escape. Returns bytes consumed, 0: need more. */
static size_t filter_lt(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n,
                        bool final)
{
	if (n < 9 && !final) {
		size_t a = match_prefix(s, n, "<![CDATA[");
		size_t b = match_prefix(s, n, "<!--");
		size_t d = match_prefix(s, n, "<!DOCTYPE");
		if (a == 1 || b == 1 || d == 1 || n < 2)
			return 0;
	}
	if (match_prefix(s, n, "<![CDATA[") == 2) {
		fout_put(o, s, 9);
		p->lex = L_CDATA;
		return 9;
	}
	if (match_prefix(s, n, "<!--") == 2) {
		fout_put(o, s, 4);
		p->lex = L_COMMENT;
		return 4;
	}
	if (match_prefix(s, n, "<!DOCTYPE") == 2) {
		p->lex = L_DTD;
		p->dtd_q = 0;
		p->dtd_subset = p->dtd_cmt = false;
		p->dtd_last = 0;
		return 9;
	}
	if (n >= 2 && s[1] == '?') {
		fout_put(o, s, 2);
		p->lex = L_PI;
		return 2;
	}
	if (n >= 2 && (name_start(s[1]) || s[1] == '/')) {
		/* the whole name first (up to FNAME_MAX + 1 bytes: a longer one is cut) */
		size_t st = s[1] == '/' ? 2 : 1, m = 0;
		while (st + m < n && m <= FNAME_MAX && name_char(s[st + m]))
			m++;
		if (st + m == n && !final && m <= FNAME_MAX)
			return 0;
		tag_open(p, o, s, s + st, m);
		return 1;
	}
	if (n >= 2 && s[1] != '!') {
		problem(p, "not well-formed at line %lu: unescaped '<' (repaired)", p->line);
		fout_put(o, "&lt;", 4);
		return 1;
	}
	fout_put(o, s, 1);
	return 1;
}

/* A byte >= 0x80 that did not pass as plain: UTF-8 cut by the chunk end (0: wait),
   valid UTF-8, or invalid (read as windows-1252). Returns bytes consumed. */
static size_t filter_high(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n,
                          bool final)
{
	char buf[4];
	unsigned char c = s[0];

	if (!p->utf8_check) {
		put(o, s, 1);
		return 1;
	}
	size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (n < want && !final) {
		/* incomplete here: decide once the rest arrives, unless already bad */
		bool ok = true;
		for (size_t k = 1; k < n; k++)
			ok = ok && (s[k] & 0xc0) == 0x80;
		if (ok)
			return 0;
	}
	size_t len = 0;
	unsigned long cp = 0;
	if (c >= 0xc2 && c <= 0xf4 && n >= want) {
		len = want;
		cp = c & (0x7f >> want);
		for (size_t k = 1; k < want; k++) {
			if ((s[k] & 0xc0) != 0x80) {
				len = 0;
				break;
			}
			cp = (cp << 6) | (s[k] & 0x3f);
		}
		if (len && (cp < (want == 3   ? 0x800UL
		                  : want == 4 ? 0x10000UL
		                              : 0x80UL) ||
		            !xml_char(cp)))
			len = 0;
	}
	if (len) {
		put(o, s, len);
		return len;
	}
	/* only here, on a byte that is not UTF-8: no cost on valid text */
	problem(p, "not well-formed at line %lu: invalid UTF-8 read as windows-1252", p->line);
	put(o, buf, cp1252_utf8(c, buf));
	return 1;
}

/* One byte that stopped a run in markup states (not text). Returns bytes consumed. */
static size_t filter_markup(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n,
                            bool final)
{
	static const char *const ends[] = {NULL, "]]>", "-->", "?>"};
	unsigned char c = s[0];

	if (p->lex == L_TAG) {
		if (c == '<') {
			tag_close(p); /* cut short: the '<' is read again, in text */
			return 0;
		}
		put(o, s, 1);
		if (c == '>')
			tag_close(p);
		else {
			p->attq = c; /* a quote */
			p->lex = L_ATTV;
		}
		return 1;
	}
	if (p->lex == L_ATTV) {
		if (c == '<') {
			problem(p, "not well-formed at line %lu: unescaped '<' (repaired)",
			        p->line);
			put(o, "&lt;", 4);
		} else {
			put(o, s, 1);
			p->lex = L_TAG;
			p->tag_slash = false;
		}
		return 1;
	}
	/* possible end of CDATA / comment / PI */
	size_t m = match_prefix(s, n, ends[p->lex]);
	if (m == 1 && !final)
		return 0;
	if (m == 2) {
		size_t len = strlen(ends[p->lex]);
		fout_put(o, s, len);
		p->lex = L_TEXT;
		return len;
	}
	fout_put(o, s, 1);
	return 1;
}

/* Run the filter over s; returns bytes consumed (the rest must be carried). */
static size_t filter_run(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n,
                         bool final)
{
	size_t i = 0;
	char buf[16];

	while (i < n) {
		if (p->lex == L_DTD) {
			i += dtd_scan(p, o, s + i, n - i);
			continue;
		}
		/* copy the run of bytes that need nothing: one scan, one copy */
		size_t j = i;
		const struct stops *stop = stops_of(p);
		bool refs = p->lex == L_TEXT || p->lex == L_ATTV;
		for (;;) {
			/* 16 plain bytes at a time, ASCII eight at a time, then byte by byte */
			while (n - j >= 16) {
				size_t m = plain16(s + j, stop, p->utf8_check);
				j += m;
				if (m < 16)
					break;
			}
			while (n - j >= 8 && !special8(s + j, stop))
				j += 8;
			while (j < n && s[j] >= 0x20 && s[j] < 0x80 && !is_stop(stop, s[j]))
				j++;
			/* two-byte characters (Latin, Greek, Cyrillic, ...) back to back */
			if (p->utf8_check) {
				while (n - j >= 2 && s[j] >= 0xc2 && s[j] <= 0xdf &&
				       (s[j + 1] & 0xc0) == 0x80)
					j += 2;
			}
			if (j == n)
				break;
			unsigned char c = s[j];
			if (c >= 0x20 && c < 0x80 && !is_stop(stop, c))
				continue;
			size_t k = 0;
			if (c >= 0x80)
				k = p->utf8_check ? utf8_xml_len(s + j, n - j) : 1;
			else if (c == '\n')
				k = 1, p->line++;
			else if (c == '\t' || c == '\r')
				k = 1;
			else if (c == '&' && refs)
				k = predefined_ref_len(s + j, n - j);
			else if (c == '<' && p->lex == L_TEXT && n - j >= 2)
				k = tag_fast(p, s + j, n - j);
			if (k == 0)
				break;
			j += k;
		}
		if (j > i) {
			if (!put(o, s + i, j - i))
				return i;
			if (p->lex == L_TAG)
				p->tag_slash = s[j - 1] == '/';
		}
		i = j;
		if (i == n)
			break;
		unsigned char c = s[i];
		size_t used;
		if (c == '\n') {
			p->line++;
			put(o, s + i, 1);
			used = 1;
		} else if (c == '\t' || c == '\r') {
			put(o, s + i, 1);
			used = 1;
		} else if (c < 0x20) {
			problem(p, "not well-formed at line %lu: control character 0x%02x dropped",
			        p->line, c);
			used = 1;
		} else if (c >= 0x80) {
			used = filter_high(p, o, s + i, n - i, final);
		} else if (c == '&' && refs) {
			const char *r;
			used = filter_amp(p, s + i, n - i, final, buf, &r);
			if (used)
				put(o, r ? r : (const char *)s + i, r ? strlen(r) : used);
		} else if (p->lex == L_TEXT) {
			used = filter_lt(p, o, s + i, n - i, final);
		} else {
			enum lex before = p->lex;
			used = filter_markup(p, o, s + i, n - i, final);
			if (used == 0 && p->lex != before)
				continue; /* a tag cut short: read the '<' again */
		}
		if (used == 0)
			return i;
		i += used;
	}
	return i;
}

static void xml_feed(struct fw_parser *p, const char *data, size_t len, bool final)
{
	while (!p->err && !p->stop) {
		int n = len > (1 << 20) ? 1 << 20 : (int)len;
		bool last = final && (size_t)n == len;
		if (n == 0 && !final)
			return;
		xmlParseChunk(p->ctxt, data, n, last);
		if ((size_t)n == len)
			return;
		data += n;
		len -= (size_t)n;
	}
}

/* Filter (if on) and hand bytes to libxml2. */
static void xml_push(struct fw_parser *p, const char *data, size_t len, bool final)
{
	if (!p->filter) {
		xml_feed(p, data, len, final);
		return;
	}
	while (len > 0 || final) {
		/* bytes held back join the next few: filtered from a small copy; then the data
		   is filtered where it lies, in slices */
		unsigned char join[CARRY_MAX + 2 * CARRY_MAX];
		const unsigned char *work = (const unsigned char *)data;
		size_t take = len > 65536 ? 65536 : len, n = take;
		if (p->carry_len) {
			take = len > CARRY_MAX ? CARRY_MAX : len;
			while (take < len && take < 2 * CARRY_MAX && (data[take] & 0xc0) == 0x80)
				take++; /* never cut a UTF-8 character again */
			memcpy(join, p->carry, p->carry_len);
			if (take)
				memcpy(join + p->carry_len, data, take);
			work = join;
			n = p->carry_len + take;
		}
		bool last = final && take == len;
		struct fout o = {p, work, 0};
		size_t used = filter_run(p, &o, work, n, last);
		if (n - used > CARRY_MAX) {
			/* cannot happen with CARRY_MAX >= the longest lookahead; be safe */
			fout_put(&o, work + used, n - used);
			used = n;
		}
		p->carry_len = n - used;
		if (p->carry_len)
			memcpy(p->carry, work + used, p->carry_len);
		xml_feed(p, o.src ? (const char *)o.src : p->fout, o.len, last);
		if (last || p->err || p->stop || take == len)
			return;
		data += take;
		len -= take;
	}
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
			json_push(p, (const char *)s + i, n - i);
			return p->err;
		}
		/* whitespace before the XML declaration is an error for libxml2: drop it */
		if (!bom8) {
			s += i;
			n -= i;
		}
		const unsigned char *x = after_junk(s + (bom8 ? 3 : 0), n - (bom8 ? 3 : 0));
		if (x) {
			problem(p, "text before the XML declaration ignored");
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
	if (stops_init(p) < 0)
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
	if (base_url && has_scheme(base_url) && !(p->doc_base = strdup(base_url)))
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
			json_push(p, data, len);
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
			problem(p, "empty document");
			p->mode = M_DONE;
			quiet_end(q);
			return -EBADMSG;
		}
		sniff_decide(p, true);
	} else if (p->mode == M_XML && !p->err) {
		xml_push(p, NULL, 0, true);
	}
	if (p->mode == M_JSON && !p->err)
		r = json_finish(p);
	if (p->mode == M_XML && p->item) {
		/* cut off inside an item: it is incomplete, drop it */
		problem(p, "document ends inside an item");
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
			problem(p, "not a feed: the document element is <%s>", p->doc_elem);
		if (!p->problem)
			problem(p, "not a feed");
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
	free(p->json);
	free(p->fout);
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
	free(p->dtd);
	free(p->dropped);
	free(p->stops);
	for (size_t i = 0; i < p->n_decls; i++) {
		free(p->decls[i].value);
		free(p->decls[i].exp);
	}
	free(p->decls);
	free(p->dslot);
	free(p->ids);
	free(p);
	return NULL;
}
