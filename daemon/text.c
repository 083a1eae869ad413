/* text.c - plain text from feed text: HTML to text, entity decoding, whitespace, UTF-8. Pure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>

#include "text.h"

/*
 * Output being built: whitespace runs collapse as they are appended, so a field of
 * megabytes of blanks never takes more than one byte; `cap` bounds the length.
 */
struct out {
	char *buf;
	size_t len, size, cap;
	int skip;   /* depth inside <script>, <style>, ... */
	bool space; /* a space is owed before the next visible character */
	bool full;  /* cap reached */
	bool oom;
};

/* Length of the UTF-8 sequence at s (n bytes available) if valid, else 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* Length of a whitespace character at s (ASCII or Unicode White_Space), else 0. */
static size_t space_len(const unsigned char *s, size_t n)
{
	switch (s[0]) {
	case ' ':
	case '\t':
	case '\n':
	case '\r':
	case '\f':
	case '\v':
		return 1;
	case 0xc2:
		return n >= 2 && (s[1] == 0xa0 || s[1] == 0x85) ? 2 : 0;
	case 0xe1:
		return n >= 3 && s[1] == 0x9a && s[2] == 0x80 ? 3 : 0;
	case 0xe2:
		if (n < 3)
			return 0;
		if (s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 ||
		                     s[2] == 0xa9 || s[2] == 0xaf))
			return 3;
		return s[1] == 0x81 && s[2] == 0x9f ? 3 : 0;
	case 0xe3:
		return n >= 3 && s[1] == 0x80 && s[2] == 0x80 ? 3 : 0;
	default:
		return 0;
	}
}

static bool reserve(struct out *o, size_t more)
{
	if (o->len + more + 1 <= o->size)
		return true;
	size_t want = o->size ? o->size * 2 : 256;
	while (want < o->len + more + 1)
		want *= 2;
	if (want > o->cap + 8)
		want = o->cap + 8;
	char *b = realloc(o->buf, want);
	if (!b) {
		o->oom = true;
		return false;
	}
	o->buf = b;
	o->size = want;
	return true;
}

/* Append text: whitespace collapsed, invalid UTF-8 replaced, control characters dropped.
   The hot loop writes straight into a buffer reserved once (bounded by cap). */
static void put_text(struct out *o, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	if (o->full || o->oom || len == 0)
		return;
	size_t room = o->cap - o->len;
	size_t want = len < room / 3 ? len * 3 : room;
	if (!reserve(o, want))
		return;
	char *out = o->buf;
	size_t ol = o->len, cap = o->cap;
	bool space = o->space;

	while (i < len) {
		unsigned char c = s[i];
		if (c > ' ' && c < 0x7f) {
			size_t sp = space && ol > 0;
			if (ol + sp >= cap) {
				o->full = true;
				break;
			}
			if (sp)
				out[ol++] = ' ';
			space = false;
			out[ol++] = (char)c;
			i++;
			continue;
		}
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			space = true;
			i++;
			continue;
		}
		if (c < 0x80) {
			i++; /* C0 control or DEL */
			continue;
		}
		size_t n = space_len(s + i, len - i);
		if (n) {
			space = true;
			i += n;
			continue;
		}
		n = utf8_len(s + i, len - i);
		const char *src = (const char *)s + i;
		size_t w = n;
		if (n == 0) {
			src = "\xef\xbf\xbd";
			w = 3;
			n = 1;
		} else if (s[i] == 0xc2 && s[i + 1] < 0xa0) {
			i += n; /* C1 control */
			continue;
		}
		size_t sp = space && ol > 0;
		if (ol + sp + w > cap) {
			o->full = true;
			break;
		}
		if (sp)
			out[ol++] = ' ';
		space = false;
		memmove(out + ol, src, w); /* may overlap in fw_text_collapse */
		ol += w;
		i += n;
	}
	o->len = ol;
	o->space = space;
}

static char *finish(struct out *o)
{
	if (o->oom) {
		free(o->buf);
		return NULL;
	}
	if (!o->buf)
		return strdup("");
	o->buf[o->len] = '\0';
	return o->buf;
}

/* Lower-case name into buf; false when it is too long to be one of ours. */
static bool lower_name(const xmlChar *name, char *buf, size_t size)
{
	size_t i = 0;

	for (; name[i]; i++) {
		if (i + 1 >= size)
			return false;
		buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	}
	buf[i] = '\0';
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted for bsearch. */
static const char *const skip_tags[] = {"applet", "iframe", "noscript", "object",
                                        "script", "style",  "template"};
static const char *const block_tags[] = {
    "address", "article", "aside",      "blockquote", "br",     "caption", "dd",   "div",
    "dl",      "dt",      "figcaption", "figure",     "footer", "h1",      "h2",   "h3",
    "h4",      "h5",      "h6",         "header",     "hr",     "li",      "main", "nav",
    "ol",      "p",       "pre",        "section",    "table",  "tbody",   "td",   "tfoot",
    "th",      "thead",   "title",      "tr",         "ul"};

/* 1: dropped with its content, 2: block (a space), 0: inline. */
static int tag_class(const xmlChar *name)
{
	char buf[16];
	const char *key = buf;

	if (!lower_name(name, buf, sizeof(buf)))
		return 0;
	if (bsearch(&key, skip_tags, sizeof(skip_tags) / sizeof(skip_tags[0]), sizeof(char *),
	            cmp_str))
		return 1;
	if (bsearch(&key, block_tags, sizeof(block_tags) / sizeof(block_tags[0]), sizeof(char *),
	            cmp_str))
		return 2;
	return 0;
}

static struct out *out_of(void *ctx)
{
	return ((htmlParserCtxtPtr)ctx)->_private;
}

static void html_start_cb(void *ctx, const xmlChar *name, const xmlChar **atts)
{
	struct out *o = out_of(ctx);

	(void)atts;
	int k = tag_class(name);
	if (k == 1)
		o->skip++;
	else if (k == 2)
		o->space = true;
}

static void html_end_cb(void *ctx, const xmlChar *name)
{
	struct out *o = out_of(ctx);

	int k = tag_class(name);
	if (k == 1) {
		if (o->skip > 0)
			o->skip--;
	} else if (k == 2) {
		o->space = true;
	}
}

static void html_text_cb(void *ctx, const xmlChar *ch, int len)
{
	struct out *o = out_of(ctx);

	if (o->skip == 0 && len > 0)
		put_text(o, (const char *)ch, (size_t)len);
}

/* A copy of s with invalid UTF-8 replaced by U+FFFD and NULs dropped, or NULL when s is
   fine as it is (*fixed set to false) or allocation failed (*fixed true). */
static char *utf8_fixed(const char *s, size_t len, bool *fixed)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	*fixed = false;
	while (i < len) {
		if (u[i] >= 0x01 && u[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = u[i] ? utf8_len(u + i, len - i) : 0;
		if (n == 0)
			break;
		i += n;
	}
	if (i == len)
		return NULL;
	*fixed = true;
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	char *r = malloc(len * 3 + 1);
	if (!r)
		return NULL;
	size_t o = 0;
	for (i = 0; i < len;) {
		size_t n = u[i] ? utf8_len(u + i, len - i) : 0;
		if (n == 0) {
			if (u[i])
				memcpy(r + o, "\xef\xbf\xbd", 3), o += 3;
			i++;
			continue;
		}
		memcpy(r + o, s + i, n);
		o += n;
		i += n;
	}
	r[o] = '\0';
	return r;
}

/*
 * HTML fragment (or text with entities) to plain text via libxml2's HTML parser (SAX,
 * no tree): tags stripped, script/style dropped, block elements become spaces, entities
 * decoded, whitespace collapsed. At most cap bytes, cut on a character boundary.
 * Returns a malloc()ed string owned by the caller, or NULL on allocation failure.
 */
char *fw_text_from_html(const char *html, size_t len, size_t cap)
{
	struct out o = {.cap = cap};
	bool fixed;

	if (!html || len == 0)
		return strdup("");
	if (!fw_text_has_markup(html, len)) {
		put_text(&o, html, len);
		return finish(&o);
	}
	char *copy = utf8_fixed(html, len, &fixed);
	if (fixed && !copy)
		return NULL;
	const char *src = copy ? copy : html;
	size_t srclen = copy ? strlen(copy) : len;
	if (srclen > INT32_MAX)
		srclen = INT32_MAX;

	htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
	if (!ctxt) {
		free(copy);
		return NULL;
	}
	xmlSAXHandler sax;
	memset(&sax, 0, sizeof(sax));
	sax.startElement = html_start_cb;
	sax.endElement = html_end_cb;
	sax.characters = html_text_cb;
	sax.ignorableWhitespace = html_text_cb;
	sax.cdataBlock = html_text_cb;
	/* no error callbacks: HTML_PARSE_NOERROR|NOWARNING, the damage is expected */
	memcpy(ctxt->sax, &sax, sizeof(sax));
	ctxt->_private = &o;
	htmlDocPtr doc =
	    htmlCtxtReadMemory(ctxt, src, (int)srclen, NULL, "UTF-8",
	                       HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	                           HTML_PARSE_RECOVER | HTML_PARSE_NODEFDTD);
	if (doc)
		xmlFreeDoc(doc);
	htmlFreeParserCtxt(ctxt);
	free(copy);
	return finish(&o);
}

/*
 * Plain text (no markup interpretation): whitespace collapsed and trimmed, invalid UTF-8
 * replaced by U+FFFD, control characters dropped, at most cap bytes. Returns a malloc()ed
 * string, or NULL on allocation failure.
 */
char *fw_text_plain(const char *s, size_t len, size_t cap)
{
	struct out o = {.cap = cap};

	if (s)
		put_text(&o, s, len);
	return finish(&o);
}

/* Collapse whitespace runs (ASCII and Unicode) to one space and trim, in place; invalid
   UTF-8 and control characters go too. Returns s. */
char *fw_text_collapse(char *s)
{
	if (!s)
		return s;
	size_t len = strlen(s);
	struct out o = {.buf = s, .size = len + 1, .cap = len};
	bool fixed;

	/* the output never outgrows the input except for U+FFFD (3 bytes for 1) */
	char *tmp = utf8_fixed(s, len, &fixed);
	if (fixed) {
		if (!tmp) {
			/* allocation failure: drop the bad bytes instead of replacing them */
			size_t w = 0;
			for (size_t i = 0; i < len; i++) {
				if ((unsigned char)s[i] < 0x80)
					s[w++] = s[i];
			}
			s[w] = '\0';
			return fw_text_collapse(s);
		}
		/* replacements could outgrow s: keep what fits */
		struct out t = {.cap = len};
		put_text(&t, tmp, strlen(tmp));
		free(tmp);
		if (t.oom || !t.buf) {
			s[0] = '\0';
			free(t.buf);
			return s;
		}
		memcpy(s, t.buf, t.len);
		s[t.len] = '\0';
		free(t.buf);
		return s;
	}
	/* in place: writes never overtake reads because collapsing only shrinks */
	put_text(&o, s, len);
	s[o.len] = '\0';
	return s;
}

/* True when s holds a tag start ("<a", "</", "<!", "<?") or an entity/char reference. */
bool fw_text_has_markup(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '<' && i + 1 < len) {
			char d = s[i + 1];
			if ((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || d == '/' ||
			    d == '!' || d == '?')
				return true;
		} else if (c == '&' && i + 1 < len) {
			size_t j = i + 1;
			if (s[j] == '#')
				j++;
			size_t k = j;
			while (k < len && k - j < 32 &&
			       ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
			        (s[k] >= '0' && s[k] <= '9')))
				k++;
			if (k > j && k < len && s[k] == ';')
				return true;
		}
	}
	return false;
}
