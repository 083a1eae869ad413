/*
 * payload.c - the model every webhook format builds its message from: an alert (or a
 * digest, or a story update) read into a struct wh_msg; text counted the way a platform
 * counts it, cut on a character boundary, escaped for a markup; links percent-encoded;
 * one alert's message fitted to a limit by shrinking its parts before markup is added; a
 * list fitted by listing what fits and naming the rest. Pure: no I/O, no logging.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webhook_int.h"

#include "../common/template.h"

#define WH_ELLIPSIS     "\xe2\x80\xa6"
#define WH_LINE_TITLE   200 /* units of a title in a list line */
#define WH_LINE_SHORT   40  /* ... when the line would not fit otherwise */
#define WH_LINE_FEED    60  /* units of the feed name in a list line */
#define WH_BUF_MAX      (1u << 24)
#define WH_TEMPLATE_OUT 8192 /* bytes of a rendered template */

char *fw_payload_take(struct fw_textbuf *b)
{
	char *p;

	if (b->oom) {
		free(b->p);
		b->p = NULL;
		return NULL;
	}
	p = b->p ? b->p : strdup("");
	b->p = NULL;
	return p;
}

char *fw_payload_dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

int fw_payload_header(struct fw_payload *p, const char *h)
{
	if (h == NULL || p->n_headers >= WH_PAYLOAD_HEADERS)
		return -ENOMEM;
	p->headers[p->n_headers] = strdup(h);
	if (p->headers[p->n_headers] == NULL)
		return -ENOMEM;
	p->n_headers++;
	return 0;
}

void fw_payload_free(struct fw_payload *p)
{
	free(p->body);
	p->body = NULL;
	for (size_t i = 0; i < p->n_headers; i++)
		free(p->headers[i]);
	p->n_headers = 0;
}

unsigned fw_payload_colour(int prio)
{
	static const unsigned colours[] = {0x95a5a6, 0x3498db, 0xe67e22, 0xe74c3c};

	return colours[prio < 0 ? 0 : prio > 3 ? 3 : prio];
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static int prio_of(json_t *a)
{
	const char *p = jstr(a, "priority");

	if (strcmp(p, "low") == 0)
		return 0;
	if (strcmp(p, "high") == 0)
		return 2;
	if (strcmp(p, "urgent") == 0)
		return 3;
	return 1; /* "normal", absent, or unknown */
}

void fw_payload_item(json_t *o, bool story, struct wh_item *it)
{
	json_t *item = story ? o : json_object_get(o, "item"), *ex = json_object_get(o, "explain");
	size_t len = 0;

	memset(it, 0, sizeof(*it));
	it->title = jstr(item, "title");
	it->link = json_string_value(json_object_get(item, "link"));
	it->published = json_string_value(json_object_get(item, "published"));
	it->feed = story ? jstr(o, "feed") : jstr(json_object_get(o, "feed"), "name");
	it->watchlist = story ? "" : jstr(o, "watchlist");
	it->summary = story ? "" : jstr(item, "summary");
	for (size_t i = 0; !story && i < json_array_size(ex); i++) {
		const char *t = jstr(json_array_get(ex, i), "term");
		bool dup = false;

		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(t, jstr(json_array_get(ex, j), "term")) == 0;
		if (dup || !*t || len + strlen(t) + 3 >= sizeof(it->why))
			continue;
		len += (size_t)snprintf(it->why + len, sizeof(it->why) - len, "%s%s",
		                        len ? ", " : "", t);
	}
	if (it->link && strncasecmp(it->link, "http://", 7) != 0 &&
	    strncasecmp(it->link, "https://", 8) != 0)
		it->link = NULL; /* only web links become clickable */
}

void fw_payload_list_item(const struct wh_msg *m, size_t i, struct wh_item *it)
{
	fw_payload_item(json_array_get(m->arr, i), m->story, it);
}

/* A story update: "story: <title> +3 items from 2 feeds" over the items it adds. */
static void story_update(json_t *story, struct wh_msg *m)
{
	json_t *added = json_object_get(story, "added");
	json_int_t more = json_integer_value(json_object_get(story, "more"));
	const char *t = jstr(story, "title");
	size_t feeds = fw_template_added_feeds(story), cut, total;

	m->kind = WH_LIST;
	m->story = true;
	m->arr = json_is_array(added) ? added : NULL;
	m->n = json_array_size(m->arr);
	m->more = more > 0 ? (size_t)more : 0;
	if (!*t)
		t = m->one.title;
	cut = fw_payload_prefix(t, 300, WH_CHARS);
	total = m->n + m->more;
	snprintf(m->head, sizeof(m->head), "story: %.*s%s +%zu item%s from %zu feed%s", (int)cut, t,
	         t[cut] ? WH_ELLIPSIS : "", total, total == 1 ? "" : "s", feeds,
	         feeds == 1 ? "" : "s");
}

void fw_payload_msg(json_t *root, struct wh_msg *m)
{
	json_t *arr = json_object_get(root, "alerts"), *story, *tmpl;

	memset(m, 0, sizeof(*m));
	if (json_object_get(root, "digest") && json_is_array(arr)) {
		json_t *first = json_array_get(arr, 0);

		m->kind = WH_LIST;
		m->arr = arr;
		m->n = json_array_size(arr);
		for (size_t i = 0; i < m->n; i++) {
			int p = prio_of(json_array_get(arr, i));

			m->prio = p > m->prio ? p : m->prio;
		}
		fw_payload_item(first, false, &m->one);
		m->created = json_string_value(json_object_get(first, "created"));
		snprintf(m->head, sizeof(m->head), "%zu alerts (digest)", m->n);
		return;
	}
	m->kind = WH_ONE;
	m->prio = prio_of(root);
	m->created = json_string_value(json_object_get(root, "created"));
	fw_payload_item(root, false, &m->one);
	tmpl = json_object_get(root, "template");
	m->tmpl = json_is_object(tmpl) ? tmpl : NULL;
	story = json_object_get(root, "story");
	if (json_is_object(story) && json_is_false(json_object_get(story, "new")))
		story_update(story, m);
}

/* Bytes of the UTF-8 sequence starting at s (a cut never splits one). */
static size_t seq_len(const char *s)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4, i = 1;

	while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

static size_t units_of(const char *s, size_t n, enum wh_unit u)
{
	if (u == WH_BYTES)
		return n;
	return u == WH_UTF16 && n == 4 ? 2 : (*s ? 1 : 0);
}

size_t fw_payload_len(const char *s, size_t n, enum wh_unit u)
{
	size_t k = 0;

	if (u == WH_BYTES)
		return n;
	for (size_t i = 0; i < n;) {
		size_t l = seq_len(s + i);

		if (i + l > n)
			l = n - i;
		k += units_of(s + i, l, u);
		i += l;
	}
	return k;
}

size_t fw_payload_prefix(const char *s, size_t cap, enum wh_unit u)
{
	size_t i = 0, k = 0;

	while (s[i]) {
		size_t l = seq_len(s + i), w = units_of(s + i, l, u);

		if (k + w > cap)
			break;
		k += w;
		i += l;
	}
	return i;
}

/* Append s[0..n) escaped for mk; a line break as nl (NULL: a space). */
static void escaped(struct fw_textbuf *b, const char *s, size_t n, enum wh_markup mk,
                    const char *nl)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ent = mk == WH_MRKDWN || mk == WH_HTML;

		if (c == '\n' && nl)
			fw_textbuf_puts(b, nl);
		else if (ent && c == '&')
			fw_textbuf_puts(b, "&amp;");
		else if (ent && c == '<')
			fw_textbuf_puts(b, "&lt;");
		else if (ent && c == '>')
			fw_textbuf_puts(b, "&gt;");
		else if (mk == WH_HTML && c == '"')
			fw_textbuf_puts(b, "&quot;");
		else if (mk == WH_MD && strchr("\\*_~`|>[]()#<:!", c)) {
			fw_textbuf_add(b, "\\", 1);
			fw_textbuf_add(b, &c, 1);
		} else if ((mk == WH_MD || mk == WH_MRKDWN) && c == '@')
			fw_textbuf_puts(b, "@\xe2\x80\x8b"); /* "@everyone", "@here": no ping */
		else if ((unsigned char)c < 0x20 || c == 0x7f)
			fw_textbuf_add(b, " ", 1);
		else
			fw_textbuf_add(b, &c, 1);
	}
}

void fw_payload_lines(struct fw_textbuf *b, const char *s, size_t cap, enum wh_markup mk,
                      enum wh_unit u, const char *nl)
{
	size_t n = strlen(s), ell = u == WH_BYTES ? 3 : 1;

	if (fw_payload_len(s, n, u) <= cap) {
		escaped(b, s, n, mk, nl);
		return;
	}
	if (cap < ell)
		return;
	n = fw_payload_prefix(s, cap - ell, u);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		n--;
	escaped(b, s, n, mk, nl);
	fw_textbuf_puts(b, WH_ELLIPSIS);
}

void fw_payload_text(struct fw_textbuf *b, const char *s, size_t cap, enum wh_markup mk,
                     enum wh_unit u)
{
	fw_payload_lines(b, s, cap, mk, u, NULL);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void fw_payload_url(struct fw_textbuf *b, const char *url, enum wh_markup mk)
{
	const char *sep = strstr(url, "://");
	size_t host_end = sep ? (size_t)(sep - url) + 3 + strcspn(sep + 3, "/?#") : 0;

	for (size_t i = 0; url[i]; i++) {
		unsigned char c = (unsigned char)url[i];
		/* Characters a markup could end a link on, or that no URL may hold raw. */
		bool enc = c <= 0x20 || c == 0x7f || (c >= 0x80 && i >= host_end) ||
		           strchr("\"<>\\^`{|}()", c) != NULL ||
		           (i >= host_end && (c == '[' || c == ']')) ||
		           (c == '%' && !(is_hex(url[i + 1]) && is_hex(url[i + 2])));

		if (enc) {
			char hex[4];

			snprintf(hex, sizeof(hex), "%%%02X", c);
			fw_textbuf_add(b, hex, 3);
		} else if (c == '&' && (mk == WH_MRKDWN || mk == WH_HTML)) {
			fw_textbuf_puts(b, "&amp;");
		} else {
			fw_textbuf_add(b, url + i, 1);
		}
	}
}

char *fw_payload_url_dup(const char *url)
{
	struct fw_textbuf b = {.max = WH_BUF_MAX};

	fw_payload_url(&b, url, WH_PLAIN);
	return fw_payload_take(&b);
}

void fw_payload_meta(const struct wh_item *it, char *buf, size_t len)
{
	if (it->bare) {
		*buf = 0; /* a body template replaces the meta line and the snippet */
		return;
	}
	snprintf(buf, len, "%s%s%s%s%s%s", it->feed, *it->watchlist ? " \xc2\xb7 " : "",
	         it->watchlist, *it->why ? " (" : "", it->why, *it->why ? ")" : "");
}

char *fw_payload_clip(const char *s, size_t limit, enum wh_markup mk, enum wh_unit u)
{
	size_t lo = 0, hi = fw_payload_len(s, strlen(s), u);

	/* The longest cut that fits, by bisection: escaping makes the escaped length grow
	   with the cut, but not in step with it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		struct fw_textbuf b = {.max = WH_BUF_MAX};

		fw_payload_text(&b, s, mid, mk, u);
		if (b.oom)
			return fw_payload_take(&b);
		if (fw_payload_len(b.p ? b.p : "", b.len, u) <= limit)
			lo = mid;
		else
			hi = mid - 1;
		free(b.p);
	}
	{
		struct fw_textbuf b = {.max = WH_BUF_MAX};

		fw_payload_text(&b, s, lo, mk, u);
		return fw_payload_take(&b);
	}
}

/* Render m with caps c; its length in u, or SIZE_MAX when out of memory. The text is
   kept in *out when out is not NULL. */
static size_t rendered(const struct wh_msg *m, wh_render_fn render, const void *arg,
                       const struct wh_caps *c, enum wh_unit u, char **out)
{
	struct fw_textbuf b = {.max = WH_BUF_MAX};
	size_t len;

	render(&b, m, c, arg);
	if (b.oom) {
		free(b.p);
		return SIZE_MAX;
	}
	len = fw_payload_len(b.p ? b.p : "", b.len, u);
	if (out)
		*out = fw_payload_take(&b);
	else
		free(b.p);
	return len;
}

/* Shrink *cap (down to floor) to the largest value with which m fits in limit; true when
   it fits then (*cap set), false when it does not even at floor (*cap = floor). */
static bool shrink(const struct wh_msg *m, wh_render_fn render, const void *arg, struct wh_caps *c,
                   size_t *cap, size_t floor, size_t limit, enum wh_unit u)
{
	size_t lo = floor, hi = *cap;

	*cap = floor;
	if (rendered(m, render, arg, c, u, NULL) > limit)
		return false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;

		*cap = mid;
		if (rendered(m, render, arg, c, u, NULL) <= limit)
			lo = mid;
		else
			hi = mid - 1;
	}
	*cap = lo;
	return true;
}

char *fw_payload_fit(const struct wh_msg *m, wh_render_fn render, const void *arg, size_t title_cap,
                     size_t limit, enum wh_unit u)
{
	char meta[WH_HEAD_MAX], *out = NULL;
	struct wh_caps c;
	size_t tl = fw_payload_len(m->one.title, strlen(m->one.title), u), len;

	fw_payload_meta(&m->one, meta, sizeof(meta));
	/* Shrink the snippet, then the meta line, then the title (to "…"); failing that,
	   the same again without the link: markup is never cut, only the text it wraps. */
	for (int drop = 0;; drop++) {
		c.title = tl < title_cap ? tl : title_cap;
		c.meta = fw_payload_len(meta, strlen(meta), u);
		c.summary = fw_payload_len(m->one.summary, strlen(m->one.summary), u);
		c.no_link = drop;
		if (rendered(m, render, arg, &c, u, NULL) <= limit ||
		    shrink(m, render, arg, &c, &c.summary, 0, limit, u) ||
		    shrink(m, render, arg, &c, &c.meta, 0, limit, u) ||
		    shrink(m, render, arg, &c, &c.title, c.title ? 1 : 0, limit, u))
			break;
		if (drop)
			return strdup(WH_ELLIPSIS);
	}
	len = rendered(m, render, arg, &c, u, &out);
	if (len == SIZE_MAX)
		return NULL;
	return out;
}

static const char *bold_open(enum wh_markup mk)
{
	return mk == WH_MRKDWN ? "*" : mk == WH_MD ? "**" : mk == WH_HTML ? "<b>" : "";
}

static const char *bold_close(enum wh_markup mk)
{
	return mk == WH_MRKDWN ? "*" : mk == WH_MD ? "**" : mk == WH_HTML ? "</b>" : "";
}

void fw_payload_line(struct fw_textbuf *b, const struct wh_item *it, const struct wh_style *st,
                     size_t title_cap, bool link)
{
	const char *t = *it->title ? it->title : "(no title)";

	fw_textbuf_puts(b, st->bullet);
	if (link && it->link && st->mk == WH_MRKDWN) {
		fw_textbuf_puts(b, "<");
		fw_payload_url(b, it->link, st->mk);
		fw_textbuf_puts(b, "|");
		fw_payload_text(b, t, title_cap, st->mk, st->u);
		fw_textbuf_puts(b, ">");
	} else if (link && it->link && st->mk == WH_MD) {
		fw_textbuf_puts(b, "[");
		fw_payload_text(b, t, title_cap, st->mk, st->u);
		fw_textbuf_puts(b, "](");
		fw_payload_url(b, it->link, st->mk);
		fw_textbuf_puts(b, ")");
	} else if (link && it->link && st->mk == WH_HTML) {
		fw_textbuf_puts(b, "<a href=\"");
		fw_payload_url(b, it->link, st->mk);
		fw_textbuf_puts(b, "\">");
		fw_payload_text(b, t, title_cap, st->mk, st->u);
		fw_textbuf_puts(b, "</a>");
	} else {
		fw_payload_text(b, t, title_cap, st->mk, st->u);
		if (link && it->link) {
			fw_textbuf_puts(b, " ");
			fw_payload_url(b, it->link, st->mk);
		}
	}
	if (*it->feed) {
		fw_textbuf_puts(b, " \xc2\xb7 ");
		fw_payload_text(b, it->feed, WH_LINE_FEED, st->mk, st->u);
	}
}

void fw_payload_more(struct fw_textbuf *b, size_t n)
{
	char more[64];

	snprintf(more, sizeof(more), WH_ELLIPSIS " and %zu more", n);
	fw_textbuf_puts(b, more);
}

/* One list line in the room left (units), its title shortened if it must be, without
   its link only when bare (the first line, whose link alone is too long); the line's text
   or NULL when it does not fit (or no memory: *oom). */
static char *line_in(const struct wh_item *it, const struct wh_style *st, const char *lead,
                     size_t room, bool bare, bool *oom)
{
	static const size_t caps[] = {WH_LINE_TITLE, WH_LINE_SHORT, WH_LINE_SHORT};

	for (int k = 0; k < (bare ? 3 : 2); k++) {
		struct fw_textbuf b = {.max = WH_BUF_MAX};

		fw_textbuf_puts(&b, lead);
		fw_payload_line(&b, it, st, caps[k], k < 2);
		if (b.oom) {
			*oom = true;
			return fw_payload_take(&b);
		}
		if (fw_payload_len(b.p, b.len, st->u) <= room)
			return fw_payload_take(&b);
		free(b.p);
	}
	return NULL;
}

char *fw_payload_list(const struct wh_msg *m, const struct wh_style *st, size_t limit, bool head,
                      size_t max_lines)
{
	struct fw_textbuf b = {.max = WH_BUF_MAX};
	size_t used, listed = 0, total = m->n + m->more, reserve;
	bool oom = false;
	char tail[96];

	if (head) {
		fw_textbuf_puts(&b, bold_open(st->mk));
		fw_payload_text(&b, m->head, limit / 4, st->mk, st->u);
		fw_textbuf_puts(&b, bold_close(st->mk));
	}
	snprintf(tail, sizeof(tail), "%s" WH_ELLIPSIS " and %zu more", st->nl, total);
	reserve = fw_payload_len(tail, strlen(tail), st->u);
	used = fw_payload_len(b.p ? b.p : "", b.len, st->u);
	for (size_t i = 0; i < m->n && listed < max_lines && !oom; i++) {
		struct wh_item it;
		size_t left = total - listed - 1, room;
		char *line;

		fw_payload_list_item(m, i, &it);
		room = limit - used;
		if (left && room >= reserve)
			room -= reserve;
		else if (left)
			break;
		line = line_in(&it, st, b.len ? st->nl : "", room, listed == 0, &oom);
		if (line == NULL)
			break;
		fw_textbuf_puts(&b, line);
		used += fw_payload_len(line, strlen(line), st->u);
		free(line);
		listed++;
	}
	if (listed < total) {
		fw_textbuf_puts(&b, b.len ? st->nl : "");
		fw_payload_more(&b, total - listed);
	}
	if (oom)
		b.oom = true;
	return fw_payload_take(&b);
}

void fw_payload_render_one(struct fw_textbuf *b, const struct wh_msg *m, const struct wh_caps *c,
                           const void *arg)
{
	const struct wh_style *st = arg;
	const struct wh_item *it = &m->one;
	struct wh_item shown = *it;
	struct wh_style line = *st;
	char meta[WH_HEAD_MAX];

	fw_payload_meta(it, meta, sizeof(meta));
	shown.feed = "";
	line.bullet = "";
	fw_textbuf_puts(b, st->mk == WH_MRKDWN ? "*" : st->mk == WH_MD ? "**" : "<b>");
	fw_payload_line(b, &shown, &line, c->title, !c->no_link);
	fw_textbuf_puts(b, st->mk == WH_MRKDWN ? "*" : st->mk == WH_MD ? "**" : "</b>");
	if (*meta && c->meta) {
		fw_textbuf_puts(b, st->nl);
		fw_payload_text(b, meta, c->meta, st->mk, st->u);
	}
	if (*it->summary && c->summary) {
		fw_textbuf_puts(b, st->nl);
		fw_payload_lines(b, it->summary, c->summary, st->mk, st->u, st->nl);
	}
}

void fw_payload_render_desc(struct fw_textbuf *b, const struct wh_msg *m, const struct wh_caps *c,
                            const void *arg)
{
	const struct wh_style *st = arg;
	char meta[WH_HEAD_MAX];

	fw_payload_meta(&m->one, meta, sizeof(meta));
	fw_payload_text(b, meta, c->meta, st->mk, st->u);
	if (*m->one.summary && c->summary) {
		if (*meta && c->meta)
			fw_textbuf_puts(b, st->nl);
		fw_payload_lines(b, m->one.summary, c->summary, st->mk, st->u, st->nl);
	}
}

/*
 * The alert's title and body templates (plugins/common/template.h), rendered as plain
 * text (esc NULL) into tpl[0] and tpl[1]: they replace the title and the meta line with
 * the snippet, and then go through the format's own escaping and budget like any text, so
 * a template can neither break the markup nor pass a limit. A digest lists its alerts'
 * titles. 0, or -ENOMEM.
 */
static int templated(json_t *root, struct wh_msg *m, char *tpl[2])
{
	static const char *const which[2] = {"title", "body"};

	if (m->tmpl == NULL)
		return 0;
	for (int k = 0; k < 2; k++) {
		const char *t = fw_template_get(root, which[k]);
		struct fw_textbuf b = {.max = WH_TEMPLATE_OUT};
		int r;

		if (t == NULL)
			continue;
		r = fw_template_render(t, root, NULL, NULL, &b);
		if (r == -EINVAL) { /* refused by the config check already: shown as is */
			free(b.p);
			continue;
		}
		tpl[k] = fw_payload_take(&b);
		if (r == -ENOMEM || tpl[k] == NULL)
			return -ENOMEM;
	}
	if (tpl[0] && m->kind == WH_ONE)
		m->one.title = tpl[0];
	else if (tpl[0])
		snprintf(m->head, sizeof(m->head), "%s", tpl[0]);
	if (tpl[1] && m->kind == WH_ONE) {
		m->one.summary = tpl[1];
		m->one.bare = true;
	}
	return 0;
}

int fw_payload_build(const struct fw_payload_opts *o, const char *json, struct fw_payload *out)
{
	json_t *root = json_loads(json, 0, NULL);
	struct wh_msg m;
	char *tpl[2] = {NULL, NULL};
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	fw_payload_msg(root, &m);
	if (templated(root, &m, tpl) < 0) {
		r = -ENOMEM;
		goto done;
	}
	switch (o->format) {
	case WH_GENERIC:
	case WH_N_FORMATS:
		out->body = strdup(json);
		r = out->body ? fw_payload_header(out, "Content-Type: application/json") : -ENOMEM;
		break;
	case WH_SLACK:
		r = fw_payload_chat_slack(&m, out);
		break;
	case WH_DISCORD:
		r = fw_payload_chat_discord(&m, out);
		break;
	case WH_MATTERMOST:
		r = fw_payload_chat_mattermost(&m, out);
		break;
	case WH_MATRIX:
		r = fw_payload_chat_matrix(&m, out);
		break;
	case WH_NTFY:
		r = fw_payload_push_ntfy(&m, out);
		break;
	case WH_TELEGRAM:
		r = fw_payload_push_telegram(&m, o, out);
		break;
	case WH_PUSHOVER:
		r = fw_payload_push_pushover(&m, o, out);
		break;
	case WH_GOTIFY:
		r = fw_payload_push_gotify(&m, out);
		break;
	}
done:
	json_decref(root);
	free(tpl[0]);
	free(tpl[1]);
	if (r == 0 && out->body == NULL)
		r = -ENOMEM;
	if (r < 0)
		fw_payload_free(out);
	return r;
}
