/* text.c - plain text from feed text: HTML to text, entity decoding, whitespace, UTF-8. Pure. */
#include <errno.h>
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

/* Length of a whitespace character at s (ASCII or Unicode White_Space), else 0. */
static inline size_t space_len(const unsigned char *s, size_t n)
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

/* Length of a bidi control at s (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069),
   else 0: they can make a title read other than it is ("exe.txt" shown as "txt.exe"). */
static inline size_t bidi_len(const unsigned char *s, size_t n)
{
	if (s[0] == 0xd8)
		return n >= 2 && s[1] == 0x9c ? 2 : 0;
	if (s[0] != 0xe2 || n < 3)
		return 0;
	if (s[1] == 0x80)
		return s[2] == 0x8e || s[2] == 0x8f || (s[2] >= 0xaa && s[2] <= 0xae) ? 3 : 0;
	return s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9 ? 3 : 0;
}

/* Length of the character at s when it is part of a word (printable ASCII, or valid
   UTF-8 that is neither whitespace, a C1 control nor a bidi control), else 0. */
static inline size_t word_char_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c > ' ' && c < 0x7f)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c == 0xc2)
		return n >= 2 && s[1] >= 0xa1 && s[1] <= 0xbf ? 2 : 0;
	if (c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 && !(c == 0xd8 && s[1] == 0x9c) ? 2 : 0;
	if (c >= 0xe1 && c <= 0xe3 && (space_len(s, n) || bidi_len(s, n)))
		return 0;
	return fw_text_utf8_len(s, n);
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

/* How many of the 16 bytes at s, from the first, are word characters (printable ASCII,
   two-byte UTF-8 characters but U+0080-U+00BF) or single spaces (none first after_space). */
static inline size_t plain_run16(const unsigned char *s, bool after_space)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
	unsigned sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
	unsigned ok = (unsigned)_mm_movemask_epi8(fw_text_in_range16(v, '!', '~')) | sp;

	if (ok != 0xffff) {
		/* two-byte characters, but U+061C (d8 9c, a bidi control) */
		unsigned pairs = fw_text_pairs16(v, 0xc3);
		unsigned d8 =
		    (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xd8)));
		if (d8) {
			unsigned alm = (unsigned)_mm_movemask_epi8(
			                   _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0x9c))) &
			               (d8 << 1);
			pairs &= ~(alm | (alm >> 1));
		}
		ok |= pairs;
	}
	ok &= ~(sp & ((sp << 1) | after_space)); /* the second of two spaces */
	return ok == 0xffff ? 16 : (size_t)__builtin_ctz(~ok);
#else
	(void)s;
	(void)after_space;
	return 0;
#endif
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
	/* up to 3 bytes out per byte in (U+FFFD for a bad one), and the space owed */
	size_t want = len < room / 3 ? len * 3 + 1 : room;
	if (!reserve(o, want))
		return;
	char *out = o->buf;
	size_t ol = o->len, cap = o->cap;
	bool space = o->space;

	while (i < len) {
		unsigned char c = s[i];
		size_t m = word_char_len(s + i, len - i);
		if (m) {
			size_t sp = space && ol > 0;
			if (ol + sp + m > cap) {
				o->full = true;
				break;
			}
			if (sp)
				out[ol++] = ' ';
			space = false;
			/* the run of word characters with single spaces inside goes at once */
			size_t k = i + m;
			for (;;) {
				for (;;) {
					size_t k0 = k;
					while (len - k >= 16) {
						size_t r = plain_run16(s + k, s[k - 1] == ' ');
						k += r;
						if (r < 16)
							break;
					}
					if (k != k0 && s[k - 1] == ' ')
						k--; /* the space goes with the character after it */
					while (k < len && s[k] > ' ' && s[k] < 0x7f)
						k++;
					while (len - k >= 2 && s[k] >= 0xc3 && s[k] <= 0xdf &&
					       (s[k + 1] & 0xc0) == 0x80 &&
					       !(s[k] == 0xd8 && s[k + 1] == 0x9c))
						k += 2;
					if (k == len || (m = word_char_len(s + k, len - k)) == 0)
						break;
					k += m;
				}
				if (k + 1 < len && s[k] == ' ' &&
				    word_char_len(s + k + 1, len - k - 1)) {
					k++;
					continue;
				}
				break;
			}
			size_t w = k - i;
			if (w > cap - ol) {
				/* cut on a character boundary, never after the space of the run
				   (a space goes out only with the character after it) */
				w = cap - ol;
				while ((s[i + w] & 0xc0) == 0x80)
					w--;
				memmove(out + ol, s + i, w);
				ol += w;
				if (out[ol - 1] == ' ')
					ol--;
				o->full = true;
				break;
			}
			memmove(out + ol, s + i, w); /* may overlap in fw_text_collapse */
			ol += w;
			i = k;
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
		n = fw_text_utf8_len(s + i, len - i);
		const char *src = (const char *)s + i;
		size_t w = n;
		if (n && bidi_len(s + i, len - i)) {
			i += n; /* bidi control */
			continue;
		} else if (n == 0) {
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
		size_t n = u[i] ? fw_text_utf8_len(u + i, len - i) : 0;
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
		size_t n = u[i] ? fw_text_utf8_len(u + i, len - i) : 0;
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

/* libxml2's HTML parser over src (valid UTF-8, no NULs), appending to o. */
static void html_libxml2(struct out *o, const char *src, size_t srclen)
{
	if (srclen > INT32_MAX)
		srclen = INT32_MAX;
	htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
	if (!ctxt) {
		o->oom = true;
		return;
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
	ctxt->_private = o;
	htmlDocPtr doc =
	    htmlCtxtReadMemory(ctxt, src, (int)srclen, NULL, "UTF-8",
	                       HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	                           HTML_PARSE_RECOVER | HTML_PARSE_NODEFDTD);
	if (doc)
		xmlFreeDoc(doc);
	htmlFreeParserCtxt(ctxt);
}

/* The slow path: invalid UTF-8 repaired and NULs dropped first, then libxml2. */
static char *from_html_libxml2(const char *html, size_t len, size_t cap)
{
	struct out o = {.cap = cap};
	bool fixed;

	char *copy = utf8_fixed(html, len, &fixed);
	if (fixed && !copy)
		return NULL;
	if (copy)
		html_libxml2(&o, copy, strlen(copy));
	else
		html_libxml2(&o, html, len);
	free(copy);
	return finish(&o);
}

/*
 * ---- fast path ----
 *
 * Most feed HTML is a handful of well-formed inline and block tags with entities. For
 * that, the fast path below gives the very text libxml2's HTML parser would give (the
 * unit test and fuzz_html compare both on every input they have), without building a
 * parser per field: it keeps libxml2's element stack for the tags below, with the
 * implied <p> and the start-tag auto-closing of libxml2 2.9 (htmlStartClose, probed
 * pair by pair from the library and checked by test_text). Anything else (another tag,
 * a comment, an end tag of an open element that is not the innermost one, an unknown entity, a bare
 * '&' or '<', an unquoted attribute value) makes it give up, and libxml2 does the field.
 */
#define FAST_MAX_DEPTH 64

/* Sorted by name; block as in block_tags, empty as in htmlTagLookup(), closes: the
   elements (bits by index here) that this start tag closes when they are innermost. */
static const struct fast_tag {
	char name[12];
	bool block, empty;
	uint64_t closes;
} fast_tags[] = {
#define B(i) (UINT64_C(1) << (i))
    {"a", false, false, B(0)},
    {"abbr", false, false, 0},
    {"acronym", false, false, 0},
    {"address", true, false, B(32) | B(44)},
    {"b", false, false, 0},
    {"big", false, false, 0},
    {"blockquote", true, false, B(32)},
    {"br", true, true, 0},
    {"center", false, false, B(4) | B(18) | B(26) | B(32)},
    {"cite", false, false, 0},
    {"code", false, false, 0},
    {"dd", true, false, B(3) | B(16) | B(32)},
    {"del", false, false, 0},
    {"dfn", false, false, 0},
    {"div", true, false, B(32)},
    {"dl", true, false, B(3) | B(16) | B(32)},
    {"dt", true, false, B(3) | B(11) | B(32)},
    {"em", false, false, 0},
    {"font", false, false, 0},
    {"h1", true, false, B(32)},
    {"h2", true, false, B(32)},
    {"h3", true, false, B(32)},
    {"h4", true, false, B(32)},
    {"h5", true, false, B(32)},
    {"h6", true, false, B(32)},
    {"hr", true, true, B(32)},
    {"i", false, false, 0},
    {"img", false, true, 0},
    {"ins", false, false, 0},
    {"kbd", false, false, 0},
    {"li", true, false,
     B(3) | B(15) | B(19) | B(20) | B(21) | B(22) | B(23) | B(24) | B(30) | B(32)},
    {"ol", true, false, B(32) | B(44)},
    {"p", true, false,
     B(4) | B(5) | B(19) | B(20) | B(21) | B(22) | B(23) | B(24) | B(26) | B(32) | B(34) | B(36) |
         B(38) | B(42) | B(43)},
    {"q", false, false, 0},
    {"s", false, false, 0},
    {"samp", false, false, 0},
    {"small", false, false, 0},
    {"span", false, false, 0},
    {"strike", false, false, 0},
    {"strong", false, false, 0},
    {"sub", false, false, 0},
    {"sup", false, false, 0},
    {"tt", false, false, 0},
    {"u", false, false, 0},
    {"ul", true, false, B(3) | B(31) | B(32)},
    {"var", false, false, 0},
#undef B
};
#define FAST_P 32 /* index of "p" */

/* Index of the (lower-cased) tag name in fast_tags, or -1. */
static int fast_tag_find(const char *name)
{
	size_t lo = 0, hi = sizeof(fast_tags) / sizeof(fast_tags[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, fast_tags[mid].name);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static bool is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* UTF-8 of code point c into buf (c valid); returns the length. */
static size_t utf8_put(unsigned long c, char *buf)
{
	if (c < 0x80) {
		buf[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		buf[0] = (char)(0xc0 | (c >> 6));
		buf[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		buf[0] = (char)(0xe0 | (c >> 12));
		buf[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | (c >> 18));
	buf[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	buf[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	buf[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* XML Char production (what libxml2's HTML parser keeps). */
static bool is_xml_char(unsigned long c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* A reference at s[0] == '&' written the clean way ("&name;" of an HTML entity,
   "&#n;", "&#xh;" of a character): its UTF-8 into buf, *used = its length. Returns the
   UTF-8 length, 0 when it is not clean. */
static size_t fast_ref(const unsigned char *s, size_t n, size_t *used, char *buf)
{
	size_t i = 1;
	unsigned long v = 0;

	if (i < n && s[i] == '#') {
		i++;
		bool hex = i < n && (s[i] | 0x20) == 'x';
		if (hex)
			i++;
		size_t start = i;
		for (; i < n && i - start < 8; i++) {
			unsigned char c = s[i];
			if (is_digit(c))
				v = v * (hex ? 16 : 10) + (c - '0');
			else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				v = v * 16 + ((c | 0x20) - 'a' + 10);
			else
				break;
		}
		if (i == start || i >= n || s[i] != ';' || !is_xml_char(v))
			return 0;
		*used = i + 1;
		return utf8_put(v, buf);
	}
	char name[16];
	for (; i < n && i - 1 < sizeof(name) - 1 && (is_alpha(s[i]) || (i > 1 && is_digit(s[i])));
	     i++)
		name[i - 1] = (char)s[i];
	if (i == 1 || i >= n || s[i] != ';')
		return 0;
	name[i - 1] = '\0';
	const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
	if (!e || e->value == 0 || !is_xml_char(e->value))
		return 0;
	*used = i + 1;
	return utf8_put(e->value, buf);
}

/* Eight bytes at a time (SWAR): any '<', '&', control (< 0x20) or 0xef (U+FFFE/U+FFFF
   start) among s[0..7]? */
static inline bool fast_stop8(const unsigned char *s)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
	uint64_t x, a, l, e;

	memcpy(&x, s, 8);
	a = x ^ (ones * '&');
	l = x ^ (ones * '<');
	e = x ^ (ones * 0xef);
	return (((x - ones * 0x20) & ~x) | ((a - ones) & ~a) | ((l - ones) & ~l) |
	        ((e - ones) & ~e)) &
	       highs;
}

/* Parse a tag at s[0] == '<'. Returns its length and sets *tag, *end (an end tag),
   *selfclose ("/>"), or 0 when it is not a tag the fast path knows. */
static size_t fast_tag(const unsigned char *s, size_t n, int *tag, bool *end, bool *selfclose)
{
	size_t i = 1;
	char name[12];
	size_t k = 0;

	*end = false;
	*selfclose = false;
	if (i < n && s[i] == '/') {
		*end = true;
		i++;
	}
	if (i >= n || !is_alpha(s[i]))
		return 0;
	for (; i < n && (is_alpha(s[i]) || is_digit(s[i])); i++) {
		if (k + 1 >= sizeof(name))
			return 0;
		name[k++] = (char)(s[i] | 0x20);
	}
	name[k] = '\0';
	if ((*tag = fast_tag_find(name)) < 0)
		return 0;
	if (*end) {
		while (i < n && is_blank(s[i]))
			i++;
		return i < n && s[i] == '>' ? i + 1 : 0;
	}
	for (;;) {
		bool blank = false;
		while (i < n && is_blank(s[i])) {
			i++;
			blank = true;
		}
		if (i >= n)
			return 0;
		if (s[i] == '>')
			return i + 1;
		if (s[i] == '/') {
			if (i + 1 < n && s[i + 1] == '>') {
				*selfclose = true;
				return i + 2;
			}
			return 0;
		}
		/* an attribute: name, optionally = "value" or 'value' */
		if (!blank || !is_alpha(s[i]))
			return 0;
		size_t start = i;
		while (i < n && i - start < 64 &&
		       (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-' || s[i] == '_' ||
		        s[i] == ':' || s[i] == '.'))
			i++;
		if (i - start >= 64)
			return 0;
		size_t j = i;
		while (j < n && is_blank(s[j]))
			j++;
		if (j < n && s[j] == '=') {
			j++;
			while (j < n && is_blank(s[j]))
				j++;
			if (j >= n || (s[j] != '"' && s[j] != '\''))
				return 0;
			const unsigned char *q = memchr(s + j + 1, s[j], n - j - 1);
			if (!q)
				return 0;
			i = (size_t)(q - s) + 1;
		}
	}
}

struct fast {
	struct out *o;
	unsigned char stack[FAST_MAX_DEPTH];
	size_t sp;
	bool started; /* libxml2 has opened html and body (and maybe the implied p) */
};

/* Character data or a reference: the first content of the document implies <p>. */
static void fast_content(struct fast *f)
{
	if (!f->started) {
		f->started = true;
		f->stack[f->sp++] = FAST_P;
		f->o->space = true;
	}
}

/* false: give up */
static bool fast_element(struct fast *f, int tag, bool end, bool selfclose)
{
	const struct fast_tag *t = &fast_tags[tag];

	if (end) {
		/* an end tag of no open element is dropped (libxml2: "Unexpected end tag"),
		   one of an element below the innermost is left to libxml2 (its end-tag
		   priorities decide) */
		size_t k = f->sp;
		while (k > 0 && f->stack[k - 1] != tag)
			k--;
		if (k == 0)
			return true;
		if (k != f->sp)
			return false;
		f->sp--;
		f->o->space |= t->block;
		return true;
	}
	f->started = true;
	while (f->sp > 0 && (t->closes >> f->stack[f->sp - 1] & 1)) {
		f->o->space |= fast_tags[f->stack[f->sp - 1]].block;
		f->sp--;
	}
	f->o->space |= t->block;
	if (t->empty || selfclose)
		return true;
	if (f->sp == FAST_MAX_DEPTH)
		return false;
	f->stack[f->sp++] = (unsigned char)tag;
	return true;
}

/* The fast path over html (see above); false when it gave up (o is then to be reset). */
static bool html_fast(struct out *o, const char *html, size_t len)
{
	const unsigned char *s = (const unsigned char *)html;
	struct fast f = {.o = o};
	size_t i = 0;
	char buf[8];

	/* libxml2 drops a byte order mark at the start, and skips blanks */
	if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return false;
	while (i < len && is_blank(s[i]))
		i++;
	while (i < len) {
		size_t j = i;
		for (;;) {
			while (len - j >= 8 && !fast_stop8(s + j))
				j += 8;
			while (j < len && s[j] != '<' && s[j] != '&' && s[j] >= 0x20 &&
			       s[j] != 0xef)
				j++;
			if (j == len || s[j] == '<' || s[j] == '&')
				break;
			/* libxml2 drops U+FFFE, U+FFFF and C0 controls but \t \n \r (not XML
			   characters) and then implies no <p> for text it did not keep; put_text
			   makes spaces of \v and \f and keeps U+FFFE and U+FFFF */
			unsigned char c = s[j];
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return false;
			if (c == 0xef && len - j >= 3 && s[j + 1] == 0xbf && s[j + 2] >= 0xbe)
				return false;
			j++;
		}
		if (j > i) {
			fast_content(&f);
			put_text(o, html + i, j - i);
			i = j;
			continue;
		}
		if (s[i] == '&') {
			size_t used = 0, w = fast_ref(s + i, len - i, &used, buf);
			if (w == 0)
				return false;
			fast_content(&f);
			put_text(o, buf, w);
			i += used;
			continue;
		}
		int tag;
		bool end, selfclose;
		size_t used = fast_tag(s + i, len - i, &tag, &end, &selfclose);
		if (used == 0 || !fast_element(&f, tag, end, selfclose))
			return false;
		i += used;
	}
	return !o->oom;
}

/*
 * The fast path alone (see text.h): 0 and the text in *out, -ENOTSUP when the input
 * needs libxml2's HTML parser, -ENOMEM.
 */
int fw_text_html_fast(const char *html, size_t len, size_t cap, char **out)
{
	struct out o = {.cap = cap};

	if (!html_fast(&o, html ? html : "", html ? len : 0)) {
		bool oom = o.oom;
		free(o.buf);
		return oom ? -ENOMEM : -ENOTSUP;
	}
	char *s = finish(&o);
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

/*
 * fw_text_from_html without the fast paths: always libxml2's HTML parser. Returns a
 * malloc()ed string owned by the caller, or NULL on allocation failure.
 */
char *fw_text_from_html_libxml2(const char *html, size_t len, size_t cap)
{
	if (!html || len == 0)
		return strdup("");
	return from_html_libxml2(html, len, cap);
}

/*
 * HTML fragment (or text with entities) to plain text: tags stripped, script/style
 * dropped, block elements become spaces, entities decoded, whitespace collapsed. Text
 * without markup is only cleaned up; common well-formed HTML takes the fast path; the
 * rest goes through libxml2's HTML parser (SAX, no tree). All three give the same text.
 * At most cap bytes, cut on a character boundary. Returns a malloc()ed string owned by
 * the caller, or NULL on allocation failure.
 */
char *fw_text_from_html(const char *html, size_t len, size_t cap)
{
	struct out o = {.cap = cap};

	if (!html || len == 0)
		return strdup("");
	if (!fw_text_has_markup(html, len)) {
		put_text(&o, html, len);
		return finish(&o);
	}
	if (html_fast(&o, html, len))
		return finish(&o);
	free(o.buf);
	return from_html_libxml2(html, len, cap);
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

/* Eight bytes at a time (SWAR): any '<' or '&' among s[0..7]? */
static inline bool markup8(const char *s)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
	uint64_t x, a, l;

	memcpy(&x, s, 8);
	a = x ^ (ones * '&');
	l = x ^ (ones * '<');
	return (((a - ones) & ~a) | ((l - ones) & ~l)) & highs;
}

/* True when s holds a tag start ("<a", "</", "<!", "<?") or an entity/char reference. */
bool fw_text_has_markup(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		while (len - i >= 8 && !markup8(s + i))
			i += 8;
		if (i == len)
			break;
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

/* See text.h. */
char *fw_text_url_host(const char *url, bool port)
{
	const char *p = strstr(url, "://"), *end, *at;
	char *h;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	for (at = end; at > p && at[-1] != '@'; at--)
		;
	p = at;
	if (!port)
		end = p + strcspn(p, "/?#:");
	h = strndup(p, (size_t)(end - p));
	for (char *c = h; h && *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return h;
}
