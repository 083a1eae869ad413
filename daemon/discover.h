/*
 * discover.h - feed autodiscovery: the feeds an HTML page names in its
 * <link rel="alternate" type="application/rss+xml" href="..."> elements (RSS, Atom and
 * JSON Feed types), each href resolved against the page's URL and any <base href>.
 * Pure: never logs, no network (libxml2's HTML parser with recovery and NONET).
 */
#ifndef FW_DISCOVER_H
#define FW_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>

#define FW_DISCOVER_MAX_LINKS 64
#define FW_DISCOVER_MAX_BYTES (8 * 1024 * 1024)

struct fw_discover_link {
	char *url;   /* absolute (when the page's URL is) */
	char *title; /* the link's title, entities decoded, or NULL */
	char *type;  /* the media type as written, lower case, without parameters */
};

struct fw_discover {
	struct fw_discover_link *v;
	size_t n;
	char *page_title; /* the page's <title>, or NULL */
};

/* Does buf (len bytes) look like an HTML page rather than a feed: a doctype or an <html>,
   <head> or <body> tag near its start? */
bool fw_discover_looks_html(const char *buf, size_t len);

/*
 * The feeds page (len bytes, at most FW_DISCOVER_MAX_BYTES) links to, in document order,
 * without duplicates, at most FW_DISCOVER_MAX_LINKS. page_url (may be NULL) resolves
 * relative hrefs. Returns 0 and a new list in *out (possibly empty; free with
 * fw_discover_free), -EFBIG, or -ENOMEM.
 */
int fw_discover_html(const char *page, size_t len, const char *page_url, struct fw_discover **out);

/* Free. Accepts NULL; returns NULL. */
struct fw_discover *fw_discover_free(struct fw_discover *d);

#endif
