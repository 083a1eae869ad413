/*
 * fields.c - the fields of the item being read (parse.c's SAX mapping captures them):
 * candidate values offered per target by priority, categories, links and ids resolved
 * against xml:base or the document's URL, a captured field's markup made text (plain,
 * HTML or base64). Pure: never logs. Private to the parser room (parse_int.h).
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/uri.h>

#include "date.h"
#include "parse_int.h"
#include "text.h"

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

/* True when s starts with a URI scheme ("http:", "tag:", "urn:"). s is not kept. */
bool fw_fields_has_scheme(const char *s)
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

/*
 * Candidate text s for target t of the item (or feed, or person) being read, with a
 * priority: lower wins, the first of equals wins. Takes ownership of s (NULL or "" is
 * no candidate).
 */
void fw_fields_offer(struct fw_parser *p, enum target t, int prio, char *s)
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
		set_str(&it->id, p->atom_item && !fw_fields_has_scheme(s) ? resolve(p, s) : s);
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

/*
 * End of the field being captured (p->cap): its markup in p->raw made text as its kind
 * says (plain, HTML, base64) and offered to its target. A field cut at max_raw_field is a
 * problem.
 */
void fw_fields_capture_end(struct fw_parser *p)
{
	char *text;
	size_t cap = p->cap_target == T_FEED_TITLE ? FEED_LIMIT_TEXT : p->lim.max_field;

	p->cap = false;
	if (p->raw_cut)
		fw_parse_problemf(p, "a field longer than %zu bytes was cut near line %lu",
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
			fw_fields_offer(p, T_LINK, 3, strdup(text));
	} else if (p->cap_target == T_AUTHOR && p->name_state == 2) {
		/* an RSS <author> written as a person (<name>, <email>): the name */
		text = fw_text_from_html(p->raw + p->name_from, p->name_to - p->name_from, cap);
	} else {
		text = fw_text_from_html(p->raw, p->raw_len, cap);
	}
	fw_fields_offer(p, p->cap_target, p->cap_prio, text);
}
