/*
 * fetch.h - one HTTP (or file://) poll of one feed: request options, caps, conditional
 * GET, and the write callback that streams the body into the feed parser.
 */
#ifndef FW_FETCH_H
#define FW_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"
#include "net.h"
#include "parsework.h"
#include "story.h"

struct fw_fetch_opts {
	const char *url;           /* where to poll: the configured URL or a stored move */
	const char *config_url;    /* the configured URL, whose origin alone gets headers and
	                           credentials; NULL: url is the configured one */
	const char *etag;          /* from the last 200, or NULL */
	const char *last_modified; /* from the last 200, or NULL */
	const char *user_agent;
	long timeout;         /* seconds, whole transfer */
	long connect_timeout; /* seconds */
	int64_t max_body;     /* bytes after decompression */
	size_t max_items;
	bool tls_verify;
	const char *const *headers; /* extra "Name: value": sent to config_url's origin only */
	size_t n_headers;
	bool story_features;   /* compute each item's story features (result.features) */
	const uint32_t *known; /* the low 32 bits of fw_item_hash of items seen before (the
	                          last poll's), sorted: theirs are not computed (copied) */
	size_t n_known;
};

/* features[i].n of an item whose features were not computed (one of opts.known). */
#define FW_FETCH_UNFEATURED ((size_t)-1)

/* Items of one document whose story features the parser thread computes: a feed that
   repeats thousands of items costs it no more than this (the loop computes those of the
   others that are new). */
#define FW_FETCH_FEATURES_MAX 256

struct fw_fetch_result {
	int error;            /* 0, or a negative errno: -EIO transport, -EPROTO HTTP status,
				   -EBADMSG not a feed, -EFBIG over max_body, -ECANCELED */
	char error_text[256]; /* one line for the log when error != 0 */
	long status;          /* HTTP status of the final response (200 for file://) */
	int64_t finished;     /* when the poll ended (Unix seconds, clock.h), set by its owner;
	                         for a WebSub push, when the push was received */
	bool pushed;          /* a WebSub push, not a poll (set by its owner) */
	bool not_modified;    /* 304 */
	char *etag;
	char *last_modified;
	char *moved_url;        /* where the leading permanent (301/308) redirects ended, when
	                           they stayed on the configured origin: keep it as the feed's URL.
	                           It carries the configured URL's user:password, if any: show
	                           it redacted */
	char *moved_refused;    /* a permanent redirect (or a stored move, see config_url) to
	                           another origin, or from https to http: one line naming both
	                           origins, for a warning; it was not kept as a move and got no
	                           configured header or credential. NULL otherwise */
	bool move_dropped;      /* opts.url, a stored move, left config_url's origin: it was
	                           not used (the poll started from config_url); forget it */
	int64_t retry_after;    /* seconds, or -1 */
	int64_t max_age;        /* Cache-Control max-age seconds, or -1 */
	int64_t expires;        /* Expires as Unix time, or -1 */
	int ttl;                /* RSS <ttl> minutes, or -1 */
	char *problem;          /* the parser's report of a damaged feed, or NULL */
	const char *format;     /* detected feed format (static string) */
	struct fw_item **items; /* complete items in document order; steal and zero to keep */
	uint64_t *hashes;       /* fw_item_hash of each, computed on the parser thread */
	struct fw_story_features *features; /* with opts.story_features, fw_story_features of
	                                       the first n_features items without entities,
	                                       computed there too (or FW_FETCH_UNFEATURED);
	                                       NULL when not asked for (or out of memory) */
	size_t n_features;
	size_t n_items;
	size_t dropped; /* items over max_items */
	int64_t bytes;  /* body bytes received (decoded) */
	char *hub;      /* WebSub discovery: the first rel="hub" of the final response's Link
	                   headers, else the feed's atom:link rel="hub"; NULL when none */
	char *self;     /* and rel="self" (the topic), the same way */
	char *next;     /* RFC 5005: the feed's atom:link rel="next" (else "prev-archive"), where
	                   its older items are; NULL when none */
	bool paged;     /* a page read for a gap (feeds.c), not a poll (set by its owner) */
};

struct fw_fetch;

/* Called once; res is valid during the call only (items may be stolen). */
typedef void (*fw_fetch_cb)(struct fw_fetch_result *res, void *arg);

/* Start a poll on net, its body parsed on the parser thread pw. Returns 0 and a handle (for
   cancel), or -errno. */
int fw_fetch_start(struct fw_net *net, struct fw_parsework *pw, const struct fw_fetch_opts *opts,
                   fw_fetch_cb cb, void *arg, struct fw_fetch **out);

/* Abort a poll in flight; its callback will not run. */
void fw_fetch_cancel(struct fw_fetch *f);

/* Whether url is on the origin of home (scheme, host, port), or its https upgrade. */
bool fw_fetch_same_origin(const char *home, const char *url);

/* Free what a result holds (items included). */
void fw_fetch_result_clear(struct fw_fetch_result *res);

#endif
