/* parse.h - streaming feed parser: bytes in (any chunking), items out. Pure: never logs. */
#ifndef FW_PARSE_H
#define FW_PARSE_H

#include <stddef.h>

#include "item.h"

/* Caps; a zero member takes the default given in brackets. */
struct fw_parse_limits {
	size_t max_field;      /* bytes of one text field after extraction [256 KiB] */
	size_t max_raw_field;  /* bytes of raw markup gathered for one field [1 MiB] */
	size_t max_items;      /* items delivered per document [10000] */
	size_t max_depth;      /* element nesting [256] */
	size_t max_categories; /* per item [64] */
	size_t max_json;       /* bytes of a JSON Feed document (held whole) [8 MiB] */
};

/*
 * Called once per complete item, in document order. The callee takes ownership of item
 * (free it with fw_item_free). Return 0 to go on, a negative value to stop parsing.
 */
typedef int (*fw_parse_item_cb)(struct fw_item *item, void *arg);

struct fw_parser;

/*
 * A new parser for one document. base_url resolves relative links (may be NULL);
 * charset is the HTTP Content-Type charset, used only when the document itself declares
 * none (may be NULL). The format (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed) is detected
 * from the content. Returns NULL on allocation failure.
 */
struct fw_parser *fw_parse_new(const char *base_url, const char *charset,
                               const struct fw_parse_limits *limits, fw_parse_item_cb cb,
                               void *arg);

/* Push the next chunk. Returns 0, or a negative errno when parsing cannot go on (the
   callback asked to stop, or the input is hopeless); further pushes are then ignored. */
int fw_parse_push(struct fw_parser *p, const char *data, size_t len);

/*
 * End of input. Returns 0 when the document was recognised as a feed (even if damaged:
 * every complete item before the damage has been delivered, and fw_parse_problem says
 * what was wrong), -EBADMSG when it is not a feed or could not be parsed at all.
 */
int fw_parse_end(struct fw_parser *p);

/* The first problem met, one line of text for the log, or NULL when the feed was clean. */
const char *fw_parse_problem(const struct fw_parser *p);

/* The feed's <ttl> in minutes, or -1. */
int fw_parse_ttl(const struct fw_parser *p);

/* Detected format: "rss0.9x", "rss1.0", "rss2.0", "atom0.3", "atom1.0", "json1.0",
   "json1.1", or "unknown". */
const char *fw_parse_format(const struct fw_parser *p);

/* Longest WebSub hub or self URL kept (longer ones are ignored). */
#define FW_PARSE_LINK_MAX 2048

/* WebSub discovery (W3C WebSub 4): the feed's first atom:link rel="hub" and rel="self"
   (resolved), or NULL. Valid until fw_parse_free. */
const char *fw_parse_hub(const struct fw_parser *p);
const char *fw_parse_self(const struct fw_parser *p);

/* Feed paging and archiving (RFC 5005): the feed's first atom:link rel="next", else its
   first rel="prev-archive" (resolved), or NULL: where the items older than this document's
   are. Valid until fw_parse_free. */
const char *fw_parse_next(const struct fw_parser *p);

/* Feed-level title (plain text) or NULL. */
const char *fw_parse_feed_title(const struct fw_parser *p);

/* Free. Accepts NULL; returns NULL. */
struct fw_parser *fw_parse_free(struct fw_parser *p);

#endif
