/*
 * parse_int.h - private to the feed parser room: what daemon/parse.c, daemon/fields.c,
 * daemon/repair.c and daemon/jsonfeed.c share, as libuv's uv-common.h is for libuv's
 * files. Nothing outside those files includes it; the room's interface is parse.h.
 *
 *   parse.c     sniffing (BOM, prolog, HTTP charset), the libxml2 SAX2 push parser and the
 *               mapping of feed elements to items (format detection, field capture,
 *               ids, delivery), and the public API of parse.h
 *   fields.c    the fields of the item being read: values offered by priority, links
 *               resolved, captured markup made text
 *   repair.c    the byte repair filter that runs before libxml2, with the DOCTYPE it
 *               reads for internal entities and the counting of open elements
 *   jsonfeed.c  JSON Feed documents, held whole and read with jansson
 *
 * Here: the room's caps, the private struct fw_parser (one per document; every file
 * reads and writes its own part of it), the functions one file offers the others
 * (fw_parse_*, fw_fields_*, fw_repair_*, fw_jsonfeed_*) and small helpers used by more than one file,
 * static inline so that they compile as they did when the room was one file.
 */
#ifndef FW_PARSE_INT_H
#define FW_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>

#include "item.h"
#include "parse.h"

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
	char *hub, *self;          /* WebSub: the feed's first atom:link rel="hub" / rel="self" */
	char *next, *prev_archive; /* RFC 5005: its first rel="next" / rel="prev-archive" */
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
	} * kept; /* grown by doubling, up to max_depth: most feeds nest a few deep */
	size_t kept_cap;
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

/* Hand bytes (filtered or not) to libxml2, in slices of at most 1 MiB. */
static inline void xml_feed(struct fw_parser *p, const char *data, size_t len, bool final)
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

/* FNV-1a of a string, never 0 (0 marks an empty slot). */
static inline uint64_t hash64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

/* The xml:base in force: the innermost one, else the document's URL (may be NULL). */
static inline const char *cur_base(const struct fw_parser *p)
{
	return p->n_bases ? p->bases[p->n_bases - 1] : p->doc_base;
}

/* ---------------------------------------------------------------- parse.c */

/*
 * Record the first problem met (later ones are ignored): printf-style, made one line.
 * Allocation failure loses the message silently. p keeps the text.
 */
void fw_parse_problemf(struct fw_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* No more items wanted: stop libxml2 (if running) and further pushes. */
void fw_parse_stop(struct fw_parser *p);

/*
 * Hand a complete item to the callback: empty title/summary/content filled in, the id
 * made unique in the document, max_items enforced. Takes ownership of item. Returns 0
 * (also when the item was dropped over max_items), -ENOMEM or -ECANCELED (the callback
 * stopped it); the error is also made sticky in p->err.
 */
int fw_parse_deliver(struct fw_parser *p, struct fw_item *item);

/* ---------------------------------------------------------------- fields.c */

/*
 * Candidate text s for target t of the item (or feed, or person) being read, with a
 * priority: lower wins, the first of equals wins. Takes ownership of s.
 */
void fw_fields_offer(struct fw_parser *p, enum target t, int prio, char *s);

/* End of the field being captured: its raw markup made text and offered to its target. */
void fw_fields_capture_end(struct fw_parser *p);

/* True when s starts with a URI scheme ("http:", "tag:", "urn:"). */
bool fw_fields_has_scheme(const char *s);

/* ---------------------------------------------------------------- repair.c */

/* Set up the filter's stop sets for p->utf8_check. Returns 0 or -ENOMEM. */
int fw_repair_init(struct fw_parser *p);

/*
 * Filter bytes of the document (p->filter is on) and hand the result to libxml2. Bytes
 * that cannot be decided yet are carried to the next call; final flushes them. Errors
 * are sticky in p->err.
 */
void fw_repair_push(struct fw_parser *p, const char *data, size_t len, bool final);

/* Free what the filter holds in p (output buffer, DOCTYPE, entities, names). */
void fw_repair_free(struct fw_parser *p);

/* ---------------------------------------------------------------- jsonfeed.c */

/* Hold the next bytes of a JSON Feed document (over max_json: p->err = -EFBIG). */
void fw_jsonfeed_push(struct fw_parser *p, const char *data, size_t len);

/*
 * Read the JSON Feed document held and deliver its items. Returns 0, or -EBADMSG when it
 * is not a JSON Feed (p->problem says why).
 */
int fw_jsonfeed_finish(struct fw_parser *p);

#endif
