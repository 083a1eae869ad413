/*
 * webhook_int.h - private to plugins/webhook/: the formats and the payload builders that
 * webhook.c (the requests) shares with payload.c (the model: reading an alert, counting,
 * cutting, escaping and percent-encoding text, fitting it to a limit), payload_chat.c
 * (slack, discord, mattermost, matrix) and payload_push.c (ntfy, telegram, pushover,
 * gotify).
 *
 * The builders are pure: alert JSON in, request body (and the headers a format carries its
 * message in) out; no I/O, no logging, no clock. Every limit is met by budgeting the text
 * before markup is added, so a message is well formed at any length, and a list (a digest,
 * a story update) names what it leaves out ("… and N more").
 */
#ifndef FW_WEBHOOK_INT_H
#define FW_WEBHOOK_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "../common/textbuf.h"

enum wh_format {
	WH_GENERIC,
	WH_SLACK,
	WH_DISCORD,
	WH_NTFY,
	WH_MATRIX,
	WH_MATTERMOST,
	WH_TELEGRAM,
	WH_PUSHOVER,
	WH_GOTIFY,
	WH_N_FORMATS
};

/* What a format needs beyond the alert (owned by the caller). */
struct fw_payload_opts {
	enum wh_format format;
	const char *chat_id; /* telegram: the chat */
	const char *user;    /* pushover: the user or group key */
	const char *app_key; /* pushover: the application token (it travels in the body) */
	int pushover_retry;  /* pushover priority 2: seconds between retries (>= 30) */
	int pushover_expire; /* pushover priority 2: seconds until it gives up (<= 10800) */
};

#define WH_PAYLOAD_HEADERS 8

/* A built request: the body and the "Name: value" lines a format carries its message in
   (Content-Type always; ntfy's Title, Tags, Click, Priority, Markdown). */
struct fw_payload {
	char *body;
	char *headers[WH_PAYLOAD_HEADERS];
	size_t n_headers;
};

/*
 * Build the request for one alert (or digest) in o->format from its JSON (docs/plugins.md).
 * Returns 0 and fills out (free it with fw_payload_free), -EBADMSG when json is not an
 * object, -ENOMEM.
 */
int fw_payload_build(const struct fw_payload_opts *o, const char *json, struct fw_payload *out);

/* Free what fw_payload_build filled in (accepts a zeroed payload). */
void fw_payload_free(struct fw_payload *p);

/* ---- the model shared by the builders (payload.c) ---- */

/* The markup a text is escaped for. */
enum wh_markup {
	WH_PLAIN,  /* control characters become spaces */
	WH_MRKDWN, /* Slack: &, <, > as entities; mentions broken */
	WH_MD,     /* Markdown (Discord, Mattermost, ntfy, Gotify): backslash escapes */
	WH_HTML,   /* HTML (Matrix, Telegram, Pushover): &, <, >, " as entities */
};

/* How a platform counts a length. */
enum wh_unit {
	WH_BYTES, /* ntfy, Matrix */
	WH_CHARS, /* Unicode code points: Discord, Slack, Mattermost, Pushover, Gotify */
	WH_UTF16, /* UTF-16 code units: Telegram */
};

#define WH_WHY_MAX 256

/* One line of a message: an alert, or an item a story update adds. */
struct wh_item {
	const char *title;
	const char *link; /* http(s) only, else NULL */
	const char *feed;
	const char *watchlist;
	const char *summary;
	const char *published; /* RFC 3339 or NULL */
	char why[WH_WHY_MAX];  /* "@putin, @north_korea" */
	bool bare;             /* a body template stands for the meta line and the snippet */
};

enum wh_kind {
	WH_ONE,  /* one alert: title, link, meta line, snippet */
	WH_LIST, /* a digest or a story update: a headline and a list */
};

#define WH_HEAD_MAX 1024

/* A message, as every format shows it. */
struct wh_msg {
	enum wh_kind kind;
	int prio;            /* 0 low, 1 normal, 2 high, 3 urgent */
	const char *created; /* RFC 3339: the alert's (first alert's) time, or NULL */
	struct wh_item one;  /* WH_ONE: the alert; WH_LIST: the first (newest) item */
	char
	    head[WH_HEAD_MAX]; /* WH_LIST: "15 alerts (digest)", "story: T +3 items from 2 feeds" */
	json_t *arr;           /* WH_LIST: the alerts, or the story's "added" */
	bool story;            /* items of arr are story "added" entries */
	size_t n;              /* items in arr */
	size_t more;           /* items beyond arr (a story's "more") */
	json_t *tmpl;          /* the alert's "template" object, or NULL */
};

/* Caps, in the platform's units, of the parts of one alert's message. */
struct wh_caps {
	size_t title, meta, summary;
	bool no_link;
};

typedef void (*wh_render_fn)(struct fw_textbuf *b, const struct wh_msg *m, const struct wh_caps *c,
                             const void *arg);

/* Read root (an alert or {"digest":n,"alerts":[...]}) into m (borrowing from root). */
void fw_payload_msg(json_t *root, struct wh_msg *m);

/* Read one alert (story == false) or story "added" entry into it (borrowing from o). */
void fw_payload_item(json_t *o, bool story, struct wh_item *it);

/* The length of s[0..n) in unit. */
size_t fw_payload_len(const char *s, size_t n, enum wh_unit u);

/* The byte length of the longest prefix of s holding at most cap units (whole characters). */
size_t fw_payload_prefix(const char *s, size_t cap, enum wh_unit u);

/* Append s cut to cap units ("…" ends a cut text, within cap), escaped for mk. */
void fw_payload_text(struct fw_textbuf *b, const char *s, size_t cap, enum wh_markup mk,
                     enum wh_unit u);

/* fw_payload_text keeping the line breaks of s, as nl. */
void fw_payload_lines(struct fw_textbuf *b, const char *s, size_t cap, enum wh_markup mk,
                      enum wh_unit u, const char *nl);

/* Append url percent-encoded (every byte outside printable ASCII and every character a
   markup could end a link on), then escaped for mk; nothing is ever deleted. */
void fw_payload_url(struct fw_textbuf *b, const char *url, enum wh_markup mk);

/* The percent-encoded url as a new string (NULL: no memory). */
char *fw_payload_url_dup(const char *url);

/* "feed · watchlist (why)" of it, into buf. */
void fw_payload_meta(const struct wh_item *it, char *buf, size_t len);

/*
 * Render one alert's message with render, shrinking the caps (snippet first, then the
 * meta line, then the title, then dropping the link) until it holds at most limit units.
 * Returns the text (the caller frees it) or NULL when out of memory.
 */
char *fw_payload_fit(const struct wh_msg *m, wh_render_fn render, const void *arg, size_t title_cap,
                     size_t limit, enum wh_unit u);

/* Markup for one list line. */
struct wh_style {
	enum wh_markup mk;
	enum wh_unit u;
	const char *nl;     /* line break: "\n" or "<br>" */
	const char *bullet; /* "- ", "• " */
};

/* wh_render_fn for one alert, arg a struct wh_style: the title in bold (a link unless
   c->no_link), the meta line, the snippet, separated by the style's line break. */
void fw_payload_render_one(struct fw_textbuf *b, const struct wh_msg *m, const struct wh_caps *c,
                           const void *arg);

/* wh_render_fn for one alert whose title is shown elsewhere: the meta line and the
   snippet. */
void fw_payload_render_desc(struct fw_textbuf *b, const struct wh_msg *m, const struct wh_caps *c,
                            const void *arg);

/* Append one list line for it (bullet, title as a link, " · feed"), the title cut to
   title_cap units. */
void fw_payload_line(struct fw_textbuf *b, const struct wh_item *it, const struct wh_style *st,
                     size_t title_cap, bool link);

/* Append "… and N more". */
void fw_payload_more(struct fw_textbuf *b, size_t n);

/*
 * The list of m (headline in bold, then one line per item) in at most limit units: the
 * lines that fit, then "… and N more" naming every item left out. head: false leaves the
 * headline out (a format that shows it elsewhere). max_lines caps the lines listed.
 * Returns the text (caller frees) or NULL when out of memory.
 */
char *fw_payload_list(const struct wh_msg *m, const struct wh_style *st, size_t limit, bool head,
                      size_t max_lines);

/* Item i of m's list. */
void fw_payload_list_item(const struct wh_msg *m, size_t i, struct wh_item *it);

/* Add the header line h (copied) to p; 0 or -ENOMEM (also when p has no room). */
int fw_payload_header(struct fw_payload *p, const char *h);

/* Cut s so that, escaped for mk, it holds at most limit units; a new string (caller frees)
   or NULL when out of memory. */
char *fw_payload_clip(const char *s, size_t limit, enum wh_markup mk, enum wh_unit u);

/* The buffer's text (never NULL unless out of memory); the caller frees it. */
char *fw_payload_take(struct fw_textbuf *b);

/* json_dumps of o (decref'd); NULL when o is NULL or out of memory. */
char *fw_payload_dump(json_t *o);

/* Colour of a priority, 0xRRGGBB. */
unsigned fw_payload_colour(int prio);

/* The format builders (payload_chat.c, payload_push.c); each returns 0 or -ENOMEM. */
int fw_payload_chat_slack(const struct wh_msg *m, struct fw_payload *out);
int fw_payload_chat_discord(const struct wh_msg *m, struct fw_payload *out);
int fw_payload_chat_mattermost(const struct wh_msg *m, struct fw_payload *out);
int fw_payload_chat_matrix(const struct wh_msg *m, struct fw_payload *out);
int fw_payload_push_ntfy(const struct wh_msg *m, struct fw_payload *out);
int fw_payload_push_telegram(const struct wh_msg *m, const struct fw_payload_opts *o,
                             struct fw_payload *out);
int fw_payload_push_pushover(const struct wh_msg *m, const struct fw_payload_opts *o,
                             struct fw_payload *out);
int fw_payload_push_gotify(const struct wh_msg *m, struct fw_payload *out);

#endif
