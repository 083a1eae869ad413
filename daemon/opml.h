/*
 * opml.h - OPML subscription lists in and out (libxml2), and the machine-managed feeds
 * file (`feeds add`, `feeds import`) joined to the config's feeds. Pure: never logs;
 * functions return 0 or a negative errno, config problems go to the caller's diagnostics.
 *
 * Reading is bounded: at most FW_OPML_MAX_BYTES, FW_OPML_MAX_FEEDS feeds and
 * FW_OPML_MAX_DEPTH nested outlines; no network, no DTD loading, no entity substitution
 * beyond XML's five and character references.
 *
 * An outline with an xmlUrl is a feed (name from title, else text, else the URL's host);
 * an outline without one is a folder, and every folder around a feed is one of its tags,
 * as is each entry of its OPML 2.0 `category` attribute ("/News/World,/Tech" gives
 * News/World and Tech). A tag holds no comma (one becomes a space). feedwatch's own per-feed settings travel as attributes in the
 * FW_OPML_NS namespace (fw:interval="1800").
 */
#ifndef FW_OPML_H
#define FW_OPML_H

#include <stddef.h>
#include <stdint.h>

struct fw_config;
struct fw_diags;

#define FW_OPML_MAX_BYTES (16 * 1024 * 1024)
#define FW_OPML_MAX_FEEDS 100000
#define FW_OPML_MAX_DEPTH 32
#define FW_OPML_MAX_TAGS  16
#define FW_OPML_NS        "https://feedwatch.invalid/ns/opml/1"

struct fw_opml_feed {
	char *name;
	char *url;      /* xmlUrl */
	char *html_url; /* htmlUrl, or NULL */
	char **tags;    /* folders and categories, deduplicated, in document order */
	size_t n_tags;
	int64_t interval; /* seconds, 0: the config's default */
	int line;         /* of the outline in the file read, 0 for a feed made here */
};

struct fw_opml {
	char *title;
	struct fw_opml_feed *feeds;
	size_t n, cap;
};

/*
 * Parse an OPML document of len bytes (name: for messages). Returns 0 and a new list in
 * *out (free with fw_opml_free); -EBADMSG when it is not well-formed OPML (err says why,
 * with its line), -EFBIG over the caps, -ENOMEM.
 */
int fw_opml_parse(const char *buf, size_t len, const char *name, struct fw_opml **out, char *err,
                  size_t errlen);

/* Read and parse the file at path, as fw_opml_parse; -ENOENT and other errno of open/read
   as they are. */
int fw_opml_read_file(const char *path, struct fw_opml **out, char *err, size_t errlen);

/* A new empty list with the given title (may be NULL). NULL when out of memory. */
struct fw_opml *fw_opml_new(const char *title);

/* Append a copy of f (line, tags and all). 0, -EFBIG at FW_OPML_MAX_FEEDS, or -ENOMEM. */
int fw_opml_add(struct fw_opml *o, const struct fw_opml_feed *f);

/* Remove the feed at index i. */
void fw_opml_remove(struct fw_opml *o, size_t i);

/* Index of the feed with this name (exact) or this URL, or -1. Either may be NULL. */
long fw_opml_find(const struct fw_opml *o, const char *name, const char *url);

/* Add tag to f's tags unless there already (or too many, or empty); commas and control
   characters become spaces. 0 or -ENOMEM. */
int fw_opml_feed_tag(struct fw_opml_feed *f, const char *tag);

/*
 * Serialise as OPML 2.0 (UTF-8, indented): feeds with tags sit in a folder named by
 * their first tag and carry all of them in `category`, so that the document reads back
 * into the same feeds. Returns 0 and a malloc()ed NUL-terminated text in *out.
 */
int fw_opml_format(const struct fw_opml *o, char **out, size_t *len);

/* Write o to path whole: a temporary file beside it (mode 0600), fsync, rename, fsync of
   the directory. 0 or -errno; path is untouched on failure. */
int fw_opml_save(const struct fw_opml *o, const char *path);

/* Free. Accepts NULL; returns NULL. */
struct fw_opml *fw_opml_free(struct fw_opml *o);

/*
 * The config's side: read cfg->feeds_file (absent: nothing to do) and append its feeds
 * to cfg->feeds with the config's defaults, each with file = cfg->feeds_file and the
 * outline's line. A name or URL found in both the config and the file, a bad URL and an
 * unreadable file are errors in diags, naming both places. Returns 0 or -ENOMEM.
 */
int fw_opml_config_append(struct fw_config *cfg, struct fw_diags *diags);

#endif
