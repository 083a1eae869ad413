/*
 * repair.c - the byte repair filter between the sniffing and libxml2 (parse.c): bytes of
 * an XML document in an ASCII-compatible encoding in, well-formed enough XML out, the
 * same whatever the chunking. Pure: never logs. Private to the parser room (parse_int.h).
 *
 * It fixes, byte by byte and independently of chunking, the damage that
 * makes most real feeds ill-formed, so that libxml2 never sees it: a bare '&' becomes
 * "&amp;", an HTML entity XML does not know ("&nbsp;") becomes its numeric reference, an
 * unknown entity becomes literal text, a '<' that cannot start markup becomes "&lt;",
 * control characters are dropped and a byte that is not valid UTF-8 (in a document read
 * as UTF-8: declared so, or declaring nothing) is read as windows-1252, byte by byte, as
 * browsers fall back to (valid UTF-8 beside it stays; only such bytes cost anything;
 * the five bytes windows-1252 leaves undefined become U+FFFD). It runs only for
 * ASCII-compatible encodings. What it cannot fix (mismatched tags, a body cut short) is
 * left to libxml2's recovery mode; an end tag that does not match closes the innermost
 * open element of that name (like HTML), so one unclosed <br> does not swallow the feed.
 *
 * The filter also counts open elements (tags, quoted attribute values and all): a start
 * tag nested deeper than max_depth (libxml2 gives up for good beyond 256) is dropped with
 * its end tag and the text goes on; a processing instruction <?feedwatch-too-deep?> marks
 * the place, and the parser drops the item it falls in. Later items still come out.
 * It keeps the names of the open elements (the passed ones, and hashes of the first
 * DROPPED_MAX dropped ones), so an end tag that names an element further out closes what
 * was left open inside it, deep or not (it writes the missing end tags): 10,000 unclosed
 * <div> in one item cost that item only.
 *
 * Security: a DOCTYPE never reaches libxml2 (the filter reads it and passes on only its
 * newlines), so no DTD is loaded and no entity is declared to libxml2. The filter
 * expands the general entities declared with a literal value in the internal subset
 * itself, as text, within caps (see the internal DTD subset section); external (SYSTEM,
 * PUBLIC) and parameter entities are never expanded, their references stay as written.
 * UTF-16 documents (filter off) go to libxml2 as they are (parse.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>

#include "parse_int.h"
#include "text.h"

static bool name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80;
}

static bool name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       c >= 0x80;
}

static bool xml_char(unsigned long c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* The filter's output. While it equals its input (src) so far, nothing is copied: len
   only counts; the first change copies what passed into p->fout and src becomes NULL. */
struct fout {
	struct fw_parser *p;
	const unsigned char *src;
	size_t len;
};

static bool fout_put(struct fout *o, const void *s, size_t n)
{
	struct fw_parser *p = o->p;

	if (n == 0)
		return true;
	if (o->src) {
		if ((const unsigned char *)s == o->src + o->len) {
			o->len += n;
			return true;
		}
		const unsigned char *src = o->src;
		size_t len = o->len;
		o->src = NULL;
		o->len = 0;
		if (!fout_put(o, src, len))
			return false;
	}
	if (o->len + n > p->fout_size) {
		size_t sz = p->fout_size ? p->fout_size : 4096;
		while (sz < o->len + n)
			sz *= 2;
		char *b = realloc(p->fout, sz);
		if (!b) {
			p->err = -ENOMEM;
			return false;
		}
		p->fout = b;
		p->fout_size = sz;
	}
	memcpy(p->fout + o->len, s, n);
	o->len += n;
	return true;
}

/* ---------------------------------------------------------------- internal DTD subset */

/*
 * The repair filter never passes a DOCTYPE on to libxml2: it reads it here for the
 * general entities declared with a literal value in the internal subset, and expands
 * their references itself (as text: markup in a value is escaped), bounded: at most
 * ENT_MAX declarations from DTD_MAX bytes, ENT_EXP_MAX bytes per expansion, ENT_DEPTH
 * levels, ENT_STORE_MAX held and ENT_TOTAL_MAX substituted in all. An entity over a
 * bound, recursive, external (SYSTEM, PUBLIC) or a parameter entity is never expanded:
 * its references stay as written.
 */
struct sbuf {
	char *b;
	size_t len, size;
	bool bad;
};

static void sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (b->bad || n == 0)
		return;
	if (n > ENT_EXP_MAX - b->len) {
		b->bad = true;
		return;
	}
	if (b->len + n + 1 > b->size) {
		size_t sz = b->size ? b->size * 2 : 64;
		while (sz < b->len + n + 1)
			sz *= 2;
		char *t = realloc(b->b, sz);
		if (!t) {
			b->bad = true;
			return;
		}
		b->b = t;
		b->size = sz;
	}
	memcpy(b->b + b->len, s, n);
	b->len += n;
	b->b[b->len] = '\0';
}

/* The slot of name in the hash of declarations (empty when it is not declared). */
static uint16_t *decl_slot(struct fw_parser *p, const char *name)
{
	size_t h = (size_t)hash64(name) & (4 * ENT_MAX - 1);

	while (p->dslot[h] && strcmp(p->decls[p->dslot[h] - 1].name, name) != 0)
		h = (h + 1) & (4 * ENT_MAX - 1);
	return &p->dslot[h];
}

static struct decl *decl_find(struct fw_parser *p, const char *name)
{
	if (!p->n_decls)
		return NULL;
	uint16_t *slot = decl_slot(p, name);
	return *slot ? &p->decls[*slot - 1] : NULL;
}

static size_t cp1252_utf8(unsigned char c, char *buf);
static bool xml_char(unsigned long c);
static bool name_char(unsigned char c);
static bool name_start(unsigned char c);

/* The reference "&name;" or "&#...;" at v[0] == '&': its length, name copied. */
static size_t ref_at(const unsigned char *v, size_t n, char *name)
{
	size_t k = 1;

	if (k < n && v[k] == '#')
		k++;
	while (k < n && k <= ENTITY_NAME_MAX && name_char(v[k]))
		k++;
	if (k < 2 || k >= n || v[k] != ';' || k > ENTITY_NAME_MAX)
		return 0;
	memcpy(name, v + 1, k - 1);
	name[k - 1] = '\0';
	return k + 1;
}

static bool decl_expand(struct fw_parser *p, struct decl *d, int depth);

/* Append the expansion of one reference found in an entity value. */
static void expand_ref(struct fw_parser *p, struct sbuf *b, const unsigned char *v, size_t len,
                       const char *name, int depth)
{
	char tmp[16];
	struct decl *e;

	if (name[0] == '#') {
		bool hex = name[1] == 'x' || name[1] == 'X';
		const char *q = name + 1 + hex;
		char *end;
		unsigned long cp = strtoul(q, &end, hex ? 16 : 10);
		bool digit =
		    (*q >= '0' && *q <= '9') || (hex && ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'f'));
		if (digit && !*end && strlen(q) <= 8 && xml_char(cp))
			sb_put(b, v, len);
	} else if (xmlGetPredefinedEntity(BAD_CAST name)) {
		sb_put(b, v, len);
	} else if ((e = decl_find(p, name))) {
		if (decl_expand(p, e, depth + 1))
			sb_put(b, e->exp, e->exp_len);
		else
			b->bad = true; /* recursive or too big: the whole entity is */
	} else {
		const htmlEntityDesc *h = htmlEntityLookup(BAD_CAST name);
		if (h) {
			snprintf(tmp, sizeof(tmp), "&#%u;", h->value);
			sb_put(b, tmp, strlen(tmp));
		} else {
			sb_put(b, "&amp;", 5);
			sb_put(b, v + 1, len - 1);
		}
	}
}

/* Expand d (memoised); false when it cannot be (recursive, too big, too deep). */
static bool decl_expand(struct fw_parser *p, struct decl *d, int depth)
{
	if (d->state == D_DONE)
		return true;
	if (d->state != D_NEW || depth > ENT_DEPTH)
		return false;
	d->state = D_BUSY;
	struct sbuf b = {0};
	const unsigned char *v = (const unsigned char *)d->value;
	size_t n = strlen(d->value);
	char name[ENTITY_NAME_MAX + 2], tmp[4];

	for (size_t i = 0; i < n && !b.bad;) {
		unsigned char c = v[i];
		size_t len;
		if (c == '&' && (len = ref_at(v + i, n - i, name)) > 0) {
			expand_ref(p, &b, v + i, len, name, depth);
			i += len;
			continue;
		}
		if (c == '&')
			sb_put(&b, "&amp;", 5);
		else if (c == '<')
			sb_put(&b, "&lt;", 4);
		else if (c == '"')
			sb_put(&b, "&quot;", 6);
		else if (c == '\'')
			sb_put(&b, "&#39;", 5);
		else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			;
		else if (c >= 0x80 && p->utf8_check && !(len = fw_text_utf8_len(v + i, n - i)))
			sb_put(&b, tmp, cp1252_utf8(c, tmp));
		else if (c >= 0x80 && p->utf8_check) {
			sb_put(&b, v + i, len);
			i += len;
			continue;
		} else
			sb_put(&b, v + i, 1);
		i++;
	}
	if (b.bad || b.len > ENT_STORE_MAX - p->ent_stored) {
		free(b.b);
		d->state = D_FAILED;
		return false;
	}
	d->exp = b.b ? b.b : strdup("");
	if (!d->exp) {
		d->state = D_FAILED;
		return false;
	}
	d->exp_len = b.len;
	p->ent_stored += b.len;
	d->state = D_DONE;
	return true;
}

/* The general entities with a literal value declared in the DOCTYPE just read. */
static void dtd_entities(struct fw_parser *p)
{
	const char *s = p->dtd;
	size_t n = p->dtd_len, i = 0;

	while (i < n) {
		const char *e;
		if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			if (!(e = memmem(s + i + 4, n - i - 4, "-->", 3)))
				return;
			i = (size_t)(e - s) + 3;
			continue;
		}
		if (s[i] == '"' || s[i] == '\'') {
			if (!(e = memchr(s + i + 1, s[i], n - i - 1)))
				return;
			i = (size_t)(e - s) + 1;
			continue;
		}
		if (n - i < 9 || memcmp(s + i, "<!ENTITY", 8) != 0) {
			i++;
			continue;
		}
		i += 8;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		size_t start = i;
		while (i < n && name_char((unsigned char)s[i]))
			i++;
		size_t nl = i - start;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		/* '%': a parameter entity; SYSTEM, PUBLIC: external. Never. */
		if (nl == 0 || nl > ENTITY_NAME_MAX || !name_start((unsigned char)s[start]) ||
		    i >= n || (s[i] != '"' && s[i] != '\''))
			continue;
		if (!(e = memchr(s + i + 1, s[i], n - i - 1)))
			return;
		char name[ENTITY_NAME_MAX + 1];
		memcpy(name, s + start, nl);
		name[nl] = '\0';
		if (!p->decls) {
			p->decls = calloc(ENT_MAX, sizeof(*p->decls));
			p->dslot = calloc(4 * ENT_MAX, sizeof(*p->dslot));
			if (!p->decls || !p->dslot)
				return;
		}
		uint16_t *slot = decl_slot(p, name);
		if (p->n_decls < ENT_MAX && !*slot) { /* the first declaration binds */
			struct decl *d = &p->decls[p->n_decls];
			memcpy(d->name, name, nl + 1);
			size_t vl = (size_t)(e - s) - i - 1;
			/* the DOCTYPE buffer is not NUL-terminated: no strndup */
			if ((d->value = malloc(vl + 1))) {
				memcpy(d->value, s + i + 1, vl);
				d->value[vl] = '\0';
				*slot = (uint16_t)++p->n_decls;
			}
		}
		i = (size_t)(e - s) + 1;
	}
}

/* Read DOCTYPE bytes (after "<!DOCTYPE"); only its newlines go on (line numbers stay
   right). Returns the bytes consumed; at its end the filter is back in text. */
static size_t dtd_scan(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		p->dtd_last = (p->dtd_last << 8) | c;
		if (c == '\n') {
			p->line++;
			fout_put(o, "\n", 1);
		}
		if (p->dtd_len < DTD_MAX) {
			if (p->dtd_len == p->dtd_size) {
				size_t sz = p->dtd_size ? p->dtd_size * 2 : 1024;
				char *b = realloc(p->dtd, sz);
				if (b) {
					p->dtd = b;
					p->dtd_size = sz;
				}
			}
			if (p->dtd_len < p->dtd_size)
				p->dtd[p->dtd_len++] = (char)c;
		}
		if (p->dtd_cmt) {
			p->dtd_cmt = (p->dtd_last & 0xffffff) != 0x2d2d3e; /* "-->" */
		} else if (p->dtd_q) {
			if (c == p->dtd_q)
				p->dtd_q = 0;
		} else if (p->dtd_last == 0x3c212d2d) { /* "<!--" */
			p->dtd_cmt = true;
		} else if (c == '"' || c == '\'') {
			p->dtd_q = c;
		} else if (c == '[') {
			p->dtd_subset = true;
		} else if (c == ']') {
			p->dtd_subset = false;
		} else if (c == '>' && !p->dtd_subset) {
			dtd_entities(p);
			free(p->dtd);
			p->dtd = NULL;
			p->dtd_len = p->dtd_size = 0;
			p->lex = L_TEXT;
			return i + 1;
		}
	}
	return n;
}

/*
 * At s[0] == '&': how many bytes the reference takes and what to write instead.
 * Returns 0 when more bytes are needed to decide, else the bytes consumed; *rep
 * is the replacement (NULL: copy as is).
 */
static size_t filter_amp(struct fw_parser *p, const unsigned char *s, size_t n, bool final,
                         char *buf, const char **rep)
{
	size_t i = 1;

	*rep = NULL;
	if (i < n && s[i] == '#') {
		i++;
		bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
		if (hex)
			i++;
		size_t start = i;
		unsigned long v = 0;
		while (i < n && i - start < 10 &&
		       ((s[i] >= '0' && s[i] <= '9') ||
		        (hex && ((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))))) {
			unsigned d = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
			v = v * (hex ? 16 : 10) + d;
			i++;
		}
		if (i == n && !final)
			return 0;
		if (i > start && i < n && s[i] == ';') {
			if (!xml_char(v) || i - start > 8) {
				fw_parse_problemf(
				    p, "not well-formed at line %lu: invalid character reference",
				    p->line);
				*rep = "";
			}
			return i + 1;
		}
		*rep = "&amp;";
		fw_parse_problemf(p, "not well-formed at line %lu: unescaped '&' (repaired)",
		                  p->line);
		return 1;
	}
	while (i < n && i <= ENTITY_NAME_MAX && name_char(s[i]))
		i++;
	if (i == n && !final && i <= ENTITY_NAME_MAX)
		return 0;
	if (i > 1 && i < n && s[i] == ';' && name_start(s[1])) {
		char name[ENTITY_NAME_MAX + 1];
		memcpy(name, s + 1, i - 1);
		name[i - 1] = '\0';
		if (xmlGetPredefinedEntity(BAD_CAST name))
			return i + 1;
		struct decl *d = decl_find(p, name);
		if (d && decl_expand(p, d, 0) && d->exp_len <= ENT_TOTAL_MAX - p->ent_used) {
			p->ent_used += d->exp_len;
			*rep = d->exp;
			return i + 1;
		}
		const htmlEntityDesc *h = d ? NULL : htmlEntityLookup(BAD_CAST name);
		if (h) {
			snprintf(buf, 16, "&#%u;", h->value);
			*rep = buf;
			return i + 1;
		}
		/* external, over a bound, or unknown: never expanded, shown as written */
		fw_parse_problemf(
		    p, "not well-formed at line %lu: entity &%s; not expanded, left as text",
		    p->line, name);
		*rep = "&amp;";
		return 1;
	}
	fw_parse_problemf(p, "not well-formed at line %lu: unescaped '&' (repaired)", p->line);
	*rep = "&amp;";
	return 1;
}

/*
 * A byte that is not part of valid UTF-8 in a document read as UTF-8, read as
 * windows-1252 instead (what browsers fall back to: "don\x92t" is "don't" with U+2019).
 * Writes its UTF-8 form (U+FFFD for the five bytes windows-1252 leaves undefined) to buf
 * and returns its length.
 */
static size_t cp1252_utf8(unsigned char c, char *buf)
{
	static const uint16_t c1[32] = {
	    0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
	    0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
	    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178};
	unsigned cp = c >= 0xa0 ? c : c1[c - 0x80];

	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	buf[0] = (char)(0xe0 | (cp >> 12));
	buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	buf[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

static size_t match_prefix(const unsigned char *s, size_t n, const char *pat)
{
	size_t m = strlen(pat);

	for (size_t i = 0; i < m; i++) {
		if (i == n)
			return 1; /* a prefix so far: undecided */
		if (s[i] != (unsigned char)pat[i])
			return 0;
	}
	return 2;
}

/* Length of the complete, valid UTF-8 sequence at s (n bytes) of a non-ASCII XML
   character, else 0 (ASCII, invalid, or cut by the chunk end: the slow path decides). */
static inline size_t utf8_xml_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 0 : fw_text_utf8_len(s, n);

	if (len == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
		return 0; /* U+FFFE, U+FFFF are not XML characters */
	return len;
}

/* Length of "&lt;", "&gt;", "&amp;", "&quot;" or "&apos;" at s, else 0: the references
   that pass the filter as they are (filter_amp decides the rest). */
static inline size_t predefined_ref_len(const unsigned char *s, size_t n)
{
	if (n >= 4 && s[3] == ';' && (s[1] == 'l' || s[1] == 'g') && s[2] == 't')
		return 4;
	if (n >= 5 && memcmp(s, "&amp;", 5) == 0)
		return 5;
	if (n >= 6 && (memcmp(s, "&quot;", 6) == 0 || memcmp(s, "&apos;", 6) == 0))
		return 6;
	return 0;
}

/* The bytes that end a run of plain bytes, broadcast once per run: two, or four (tags). */
struct stops {
	unsigned char c[4];
	bool four;
	uint64_t w[4];
#ifdef __SSE2__
	__m128i v[4];
#endif
};

static inline void stops_set(struct stops *st, const char *c)
{
	memcpy(st->c, c, 4);
	st->four = c[2] != c[1] || c[3] != c[1];
	for (int k = 0; k < 4; k++) {
		st->w[k] = UINT64_C(0x0101010101010101) * (unsigned char)c[k];
#ifdef __SSE2__
		st->v[k] = _mm_set1_epi8(c[k]);
#endif
	}
}

static inline bool is_stop(const struct stops *st, unsigned char c)
{
	return c == st->c[0] || c == st->c[1] || (st->four && (c == st->c[2] || c == st->c[3]));
}

/* Eight bytes at a time (SWAR): is any of s[0..7] >= 0x80, < 0x20, or a stop byte? */
static inline bool special8(const unsigned char *s, const struct stops *st)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
	uint64_t x, a, l, r;

	memcpy(&x, s, 8);
	/* a byte >= 0x80, a byte < 0x20, a zero byte in x ^ stop (x held a stop byte) */
	a = x ^ st->w[0];
	l = x ^ st->w[1];
	r = x | ((x - ones * 0x20) & ~x) | ((a - ones) & ~a) | ((l - ones) & ~l);
	if (st->four) {
		a = x ^ st->w[2];
		l = x ^ st->w[3];
		r |= ((a - ones) & ~a) | ((l - ones) & ~l);
	}
	return (r & highs) != 0;
}

/* How many of the 16 bytes at s, from the first, the filter passes as they are: ASCII
   from 0x20 but the stop bytes, and (utf8) two-byte UTF-8 characters or (!utf8) any byte
   >= 0x80. */
static inline size_t plain16(const unsigned char *s, const struct stops *st, bool utf8)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
	__m128i stop = _mm_or_si128(_mm_cmpeq_epi8(v, st->v[0]), _mm_cmpeq_epi8(v, st->v[1]));
	unsigned ok = (unsigned)_mm_movemask_epi8(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)));

	if (st->four)
		stop = _mm_or_si128(
		    stop, _mm_or_si128(_mm_cmpeq_epi8(v, st->v[2]), _mm_cmpeq_epi8(v, st->v[3])));
	if (ok != 0xffff)
		ok |= utf8 ? fw_text_pairs16(v, 0xc2) : (unsigned)_mm_movemask_epi8(v);
	ok &= ~(unsigned)_mm_movemask_epi8(stop);
	return ok == 0xffff ? 16 : (size_t)__builtin_ctz(~ok);
#else
	(void)s, (void)st, (void)utf8;
	return 0;
#endif
}

/* Output unless the tag being read is dropped. */
static bool put(struct fout *o, const void *s, size_t n)
{
	return o->p->tag_drop || fout_put(o, s, n);
}

/* The stop sets, made once per document (broadcasting them per run costs). */
enum { S_TEXT, S_TAG, S_DQ, S_SQ, S_CDATA, S_COMMENT, S_PI, S_N };

/*
 * Make p's stop sets, one per lexical state, for p->utf8_check (set it first). Returns
 * 0 or -ENOMEM; p owns them (fw_repair_free).
 */
int fw_repair_init(struct fw_parser *p)
{
	static const char *const c[S_N] = {"&<<<", ">\"'<", "\"&<<", "'&<<",
	                                   "]]]]", "----",  "????"};

	p->stops = aligned_alloc(16, S_N * sizeof(*p->stops));
	if (!p->stops)
		return -ENOMEM;
	for (int k = 0; k < S_N; k++)
		stops_set(&p->stops[k], c[k]);
	return 0;
}

/* The bytes that end a run of plain bytes in the current lexical state. */
static const struct stops *stops_of(const struct fw_parser *p)
{
	switch (p->lex) {
	case L_TEXT:
		return &p->stops[S_TEXT];
	case L_TAG:
		return &p->stops[S_TAG];
	case L_ATTV:
		return &p->stops[p->attq == '"' ? S_DQ : S_SQ];
	case L_CDATA:
		return &p->stops[S_CDATA];
	case L_COMMENT:
		return &p->stops[S_COMMENT];
	default:
		return &p->stops[S_PI];
	}
}

static uint32_t name_hash(const unsigned char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

/* Room for one more open element's name in p->kept (below max_depth); false when out of
   memory. */
static bool kept_room(struct fw_parser *p)
{
	size_t cap;
	struct kept *k;

	if (p->fdepth < p->kept_cap)
		return true;
	cap = p->kept_cap ? 2 * p->kept_cap : 16;
	if (cap > p->lim.max_depth)
		cap = p->lim.max_depth;
	k = realloc(p->kept, cap * sizeof(*k));
	if (k == NULL)
		return false;
	p->kept = k;
	p->kept_cap = cap;
	return true;
}

static bool kept_is(const struct kept *k, const struct kept *t)
{
	return k->hash == t->hash && k->len == t->len && k->len <= FNAME_MAX &&
	       memcmp(k->name, t->name, k->len) == 0;
}

/*
 * An end tag (name in p->tname) that is not the innermost open element's: when it names
 * an element still open further out, close what was left open inside it first (dropped
 * ones by count, passed ones by writing their end tags), as libxml2's recovery and
 * end_cb would, but without libxml2's depth limit in the way. The search is bounded:
 * the DROPPED_SEARCH innermost dropped elements, then the passed ones (max_depth).
 */
static void tag_unwind(struct fw_parser *p, struct fout *o)
{
	const struct kept *t = &p->tname;

	if (p->deep_extra > 0 && p->deep_extra <= p->dropped_size) {
		for (size_t k = 0; k < DROPPED_SEARCH && k < p->deep_extra; k++) {
			if (p->dropped[p->deep_extra - 1 - k] == t->hash) {
				p->deep_extra -= k; /* the end tag itself closes the one found */
				return;
			}
		}
	} else if (p->deep_extra == 0 && p->fdepth > 0 && kept_is(&p->kept[p->fdepth - 1], t)) {
		return; /* the common case: it closes the innermost */
	}
	size_t l = p->fdepth;
	while (l > 0 && !kept_is(&p->kept[l - 1], t))
		l--;
	if (l == 0)
		return; /* names nothing open: libxml2 pops the innermost, so do we */
	const struct kept *in = &p->kept[p->fdepth - 1];
	int in_len = in->len > FNAME_MAX ? FNAME_MAX : in->len;
	if (p->deep_extra == 0)
		fw_parse_problemf(
		    p,
		    "not well-formed at line %lu: Opening and ending tag mismatch: %.*s line "
		    "%lu and %.*s",
		    p->line, in_len, in->name, in->line, (int)t->len, t->name);
	p->deep_extra = 0;
	while (p->fdepth > l) {
		const struct kept *k = &p->kept[--p->fdepth];
		fout_put(o, "</", 2);
		fout_put(o, k->name, k->len > FNAME_MAX ? FNAME_MAX : k->len);
		fout_put(o, ">", 1);
	}
	/* kept[l - 1] is the element named: the end tag itself closes it */
}

/*
 * A start or end tag begins at s[0] == '<', its name (m bytes) at name. The filter counts
 * open elements as libxml2 will (it gives up for good beyond 256): a start tag nested
 * deeper than max_depth, and its end tag, are dropped, and a processing instruction
 * DEEP_PI marks the place, so the parser drops the one item they are in and goes on.
 */
static void tag_open(struct fw_parser *p, struct fout *o, const unsigned char *s,
                     const unsigned char *name, size_t m)
{
	p->tag_end = s[1] == '/';
	p->tag_slash = false;
	p->tname.len = (unsigned char)(m > FNAME_MAX ? FNAME_MAX + 1 : m);
	memcpy(p->tname.name, name, m > FNAME_MAX ? FNAME_MAX : m);
	p->tname.hash = name_hash(name, m > FNAME_MAX ? FNAME_MAX : m);
	p->tname.line = p->line;
	if (p->tag_end) {
		tag_unwind(p, o);
		p->tag_drop = p->deep_extra > 0;
		if (p->tag_drop)
			p->deep_extra--;
		else if (p->fdepth > 0)
			p->fdepth--;
	} else {
		/* out of memory for its name, an element is dropped as one too deep would be */
		p->tag_drop = p->fdepth >= p->lim.max_depth || !kept_room(p);
		if (p->tag_drop && p->deep_extra == 0)
			fout_put(o, "<?" DEEP_PI "?>", strlen("<?" DEEP_PI "?>"));
	}
	p->lex = L_TAG;
	put(o, s, 1);
}

/* The end of a tag (its '>', or a '<' that cuts it short). */
static void tag_close(struct fw_parser *p)
{
	if (!p->tag_end && !p->tag_slash) {
		if (!p->tag_drop) {
			p->kept[p->fdepth++] = p->tname;
		} else {
			if (p->deep_extra < DROPPED_MAX && p->deep_extra >= p->dropped_size) {
				size_t sz = p->dropped_size ? p->dropped_size * 2 : 256;
				uint32_t *d = realloc(p->dropped, sz * sizeof(*d));
				if (d) {
					p->dropped = d;
					p->dropped_size = sz;
				}
			}
			if (p->deep_extra < p->dropped_size)
				p->dropped[p->deep_extra] = p->tname.hash;
			p->deep_extra++;
		}
	}
	p->tag_drop = false;
	p->lex = L_TEXT;
}

/*
 * The common tag at s[0] == '<' (in text), taken whole inside a run of plain bytes: an
 * ASCII name, then printable ASCII, blanks and quoted values without '&' or '<', all in
 * s[0..n). Does the filter's element bookkeeping and returns the tag's length, or 0 when
 * the tag needs the slow path (dropped or unwound for depth, an entity or anything else
 * in it, cut by the chunk end): that path gives the same result, only slower.
 */
static inline size_t tag_fast(struct fw_parser *p, const unsigned char *s, size_t n)
{
	/* ASCII name bytes [A-Za-z0-9:_.-] (a name with others takes the slow path) */
	static const uint64_t name_bits[4] = {UINT64_C(0x07ff600000000000),
	                                      UINT64_C(0x07fffffe87fffffe), 0, 0};
	bool end = s[1] == '/';
	size_t j = end ? 2 : 1, st = j;
	uint32_t h = 2166136261u;

	while (j < n && j - st <= FNAME_MAX && (name_bits[s[j] >> 6] >> (s[j] & 63) & 1))
		h = (h ^ s[j++]) * 16777619u;
	size_t m = j - st;
	if (m == 0 || m > FNAME_MAX || j == n)
		return 0;
	unsigned long lines = 0;
	if (s[j] != '>') {
		unsigned char q = 0;
		const struct stops *stop = &p->stops[S_TAG];
		for (;;) {
			/* plain bytes 16 at a time: outside quotes up to '>', a quote or '<';
			   inside, up to the quote, '&' or '<' ('&' outside quotes is plain in
			   L_TAG too) */
			while (n - j >= 16) {
				size_t r = plain16(s + j, stop, p->utf8_check);
				j += r;
				if (r < 16)
					break;
			}
			while (j < n && s[j] >= 0x20 && s[j] < 0x80 && !is_stop(stop, s[j]))
				j++;
			if (j == n)
				return 0;
			unsigned char c = s[j];
			if (c == '\n' || c == '\t' || c == '\r') {
				lines += c == '\n';
				j++;
			} else if (q && c == q) {
				q = 0;
				stop = &p->stops[S_TAG];
				j++;
			} else if (!q && (c == '"' || c == '\'')) {
				q = c;
				stop = &p->stops[c == '"' ? S_DQ : S_SQ];
				j++;
			} else if (!q && c == '>') {
				break;
			} else if (q && c == '&' && predefined_ref_len(s + j, n - j)) {
				j += predefined_ref_len(s + j, n - j); /* "&amp;" in a URL */
			} else {
				return 0; /* '<', another reference, a control or non-ASCII byte */
			}
		}
	}
	if (end) {
		/* the innermost by hash and length: on a collision libxml2's recovery would
		   pop the innermost just the same */
		if (p->deep_extra || p->fdepth == 0 || p->kept[p->fdepth - 1].hash != h ||
		    p->kept[p->fdepth - 1].len != m)
			return 0;
		p->fdepth--;
	} else if (s[j - 1] != '/') {
		if (p->fdepth >= p->lim.max_depth || !kept_room(p))
			return 0;
		struct kept *k = &p->kept[p->fdepth++];
		k->hash = h;
		k->len = (unsigned char)m;
		if (n - st >= FNAME_MAX)
			memcpy(k->name, s + st, FNAME_MAX); /* fixed size: a few moves */
		else
			memcpy(k->name, s + st, m);
		k->line = p->line;
	}
	p->line += lines;
	return j + 1;
}

/* At '<' in text: markup, or a '<' to escape. Returns bytes consumed, 0: need more. */
static size_t filter_lt(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n,
                        bool final)
{
	if (n < 9 && !final) {
		size_t a = match_prefix(s, n, "<![CDATA[");
		size_t b = match_prefix(s, n, "<!--");
		size_t d = match_prefix(s, n, "<!DOCTYPE");
		if (a == 1 || b == 1 || d == 1 || n < 2)
			return 0;
	}
	if (match_prefix(s, n, "<![CDATA[") == 2) {
		fout_put(o, s, 9);
		p->lex = L_CDATA;
		return 9;
	}
	if (match_prefix(s, n, "<!--") == 2) {
		fout_put(o, s, 4);
		p->lex = L_COMMENT;
		return 4;
	}
	if (match_prefix(s, n, "<!DOCTYPE") == 2) {
		p->lex = L_DTD;
		p->dtd_q = 0;
		p->dtd_subset = p->dtd_cmt = false;
		p->dtd_last = 0;
		return 9;
	}
	if (n >= 2 && s[1] == '?') {
		fout_put(o, s, 2);
		p->lex = L_PI;
		return 2;
	}
	if (n >= 2 && (name_start(s[1]) || s[1] == '/')) {
		/* the whole name first (up to FNAME_MAX + 1 bytes: a longer one is cut) */
		size_t st = s[1] == '/' ? 2 : 1, m = 0;
		while (st + m < n && m <= FNAME_MAX && name_char(s[st + m]))
			m++;
		if (st + m == n && !final && m <= FNAME_MAX)
			return 0;
		tag_open(p, o, s, s + st, m);
		return 1;
	}
	if (n >= 2 && s[1] != '!') {
		fw_parse_problemf(p, "not well-formed at line %lu: unescaped '<' (repaired)",
		                  p->line);
		fout_put(o, "&lt;", 4);
		return 1;
	}
	fout_put(o, s, 1);
	return 1;
}

/* A byte >= 0x80 that did not pass as plain: UTF-8 cut by the chunk end (0: wait),
   valid UTF-8, or invalid (read as windows-1252). Returns bytes consumed. */
static size_t filter_high(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n,
                          bool final)
{
	char buf[4];
	unsigned char c = s[0];

	if (!p->utf8_check) {
		put(o, s, 1);
		return 1;
	}
	size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (n < want && !final) {
		/* incomplete here: decide once the rest arrives, unless already bad */
		bool ok = true;
		for (size_t k = 1; k < n; k++)
			ok = ok && (s[k] & 0xc0) == 0x80;
		if (ok)
			return 0;
	}
	size_t len = 0;
	unsigned long cp = 0;
	if (c >= 0xc2 && c <= 0xf4 && n >= want) {
		len = want;
		cp = c & (0x7f >> want);
		for (size_t k = 1; k < want; k++) {
			if ((s[k] & 0xc0) != 0x80) {
				len = 0;
				break;
			}
			cp = (cp << 6) | (s[k] & 0x3f);
		}
		if (len && (cp < (want == 3   ? 0x800UL
		                  : want == 4 ? 0x10000UL
		                              : 0x80UL) ||
		            !xml_char(cp)))
			len = 0;
	}
	if (len) {
		put(o, s, len);
		return len;
	}
	/* only here, on a byte that is not UTF-8: no cost on valid text */
	fw_parse_problemf(p, "not well-formed at line %lu: invalid UTF-8 read as windows-1252",
	                  p->line);
	put(o, buf, cp1252_utf8(c, buf));
	return 1;
}

/* One byte that stopped a run in markup states (not text). Returns bytes consumed. */
static size_t filter_markup(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n,
                            bool final)
{
	static const char *const ends[] = {NULL, "]]>", "-->", "?>"};
	unsigned char c = s[0];

	if (p->lex == L_TAG) {
		if (c == '<') {
			tag_close(p); /* cut short: the '<' is read again, in text */
			return 0;
		}
		put(o, s, 1);
		if (c == '>')
			tag_close(p);
		else {
			p->attq = c; /* a quote */
			p->lex = L_ATTV;
		}
		return 1;
	}
	if (p->lex == L_ATTV) {
		if (c == '<') {
			fw_parse_problemf(
			    p, "not well-formed at line %lu: unescaped '<' (repaired)", p->line);
			put(o, "&lt;", 4);
		} else {
			put(o, s, 1);
			p->lex = L_TAG;
			p->tag_slash = false;
		}
		return 1;
	}
	/* possible end of CDATA / comment / PI */
	size_t m = match_prefix(s, n, ends[p->lex]);
	if (m == 1 && !final)
		return 0;
	if (m == 2) {
		size_t len = strlen(ends[p->lex]);
		fout_put(o, s, len);
		p->lex = L_TEXT;
		return len;
	}
	fout_put(o, s, 1);
	return 1;
}

/* Run the filter over s; returns bytes consumed (the rest must be carried). */
static size_t filter_run(struct fw_parser *p, struct fout *o, const unsigned char *s, size_t n,
                         bool final)
{
	size_t i = 0;
	char buf[16];

	while (i < n) {
		if (p->lex == L_DTD) {
			i += dtd_scan(p, o, s + i, n - i);
			continue;
		}
		/* copy the run of bytes that need nothing: one scan, one copy */
		size_t j = i;
		const struct stops *stop = stops_of(p);
		bool refs = p->lex == L_TEXT || p->lex == L_ATTV;
		for (;;) {
			/* 16 plain bytes at a time, ASCII eight at a time, then byte by byte */
			while (n - j >= 16) {
				size_t m = plain16(s + j, stop, p->utf8_check);
				j += m;
				if (m < 16)
					break;
			}
			while (n - j >= 8 && !special8(s + j, stop))
				j += 8;
			while (j < n && s[j] >= 0x20 && s[j] < 0x80 && !is_stop(stop, s[j]))
				j++;
			/* two-byte characters (Latin, Greek, Cyrillic, ...) back to back */
			if (p->utf8_check) {
				while (n - j >= 2 && s[j] >= 0xc2 && s[j] <= 0xdf &&
				       (s[j + 1] & 0xc0) == 0x80)
					j += 2;
			}
			if (j == n)
				break;
			unsigned char c = s[j];
			if (c >= 0x20 && c < 0x80 && !is_stop(stop, c))
				continue;
			size_t k = 0;
			if (c >= 0x80)
				k = p->utf8_check ? utf8_xml_len(s + j, n - j) : 1;
			else if (c == '\n')
				k = 1, p->line++;
			else if (c == '\t' || c == '\r')
				k = 1;
			else if (c == '&' && refs)
				k = predefined_ref_len(s + j, n - j);
			else if (c == '<' && p->lex == L_TEXT && n - j >= 2)
				k = tag_fast(p, s + j, n - j);
			if (k == 0)
				break;
			j += k;
		}
		if (j > i) {
			if (!put(o, s + i, j - i))
				return i;
			if (p->lex == L_TAG)
				p->tag_slash = s[j - 1] == '/';
		}
		i = j;
		if (i == n)
			break;
		unsigned char c = s[i];
		size_t used;
		if (c == '\n') {
			p->line++;
			put(o, s + i, 1);
			used = 1;
		} else if (c == '\t' || c == '\r') {
			put(o, s + i, 1);
			used = 1;
		} else if (c < 0x20) {
			fw_parse_problemf(
			    p, "not well-formed at line %lu: control character 0x%02x dropped",
			    p->line, c);
			used = 1;
		} else if (c >= 0x80) {
			used = filter_high(p, o, s + i, n - i, final);
		} else if (c == '&' && refs) {
			const char *r;
			used = filter_amp(p, s + i, n - i, final, buf, &r);
			if (used)
				put(o, r ? r : (const char *)s + i, r ? strlen(r) : used);
		} else if (p->lex == L_TEXT) {
			used = filter_lt(p, o, s + i, n - i, final);
		} else {
			enum lex before = p->lex;
			used = filter_markup(p, o, s + i, n - i, final);
			if (used == 0 && p->lex != before)
				continue; /* a tag cut short: read the '<' again */
		}
		if (used == 0)
			return i;
		i += used;
	}
	return i;
}

/*
 * Filter len bytes of the document and hand the result to libxml2 (p->filter is on).
 * Bytes that cannot be decided yet (a reference or tag cut by the chunk's end) are
 * carried to the next call; final flushes them. Errors are sticky in p->err.
 */
void fw_repair_push(struct fw_parser *p, const char *data, size_t len, bool final)
{
	while (len > 0 || final) {
		/* bytes held back join the next few: filtered from a small copy; then the data
		   is filtered where it lies, in slices */
		unsigned char join[CARRY_MAX + 2 * CARRY_MAX];
		const unsigned char *work = (const unsigned char *)data;
		size_t take = len > 65536 ? 65536 : len, n = take;
		if (p->carry_len) {
			take = len > CARRY_MAX ? CARRY_MAX : len;
			while (take < len && take < 2 * CARRY_MAX && (data[take] & 0xc0) == 0x80)
				take++; /* never cut a UTF-8 character again */
			memcpy(join, p->carry, p->carry_len);
			if (take)
				memcpy(join + p->carry_len, data, take);
			work = join;
			n = p->carry_len + take;
		}
		bool last = final && take == len;
		struct fout o = {p, work, 0};
		size_t used = filter_run(p, &o, work, n, last);
		if (n - used > CARRY_MAX) {
			/* cannot happen with CARRY_MAX >= the longest lookahead; be safe */
			fout_put(&o, work + used, n - used);
			used = n;
		}
		p->carry_len = n - used;
		if (p->carry_len)
			memcpy(p->carry, work + used, p->carry_len);
		xml_feed(p, o.src ? (const char *)o.src : p->fout, o.len, last);
		if (last || p->err || p->stop || take == len)
			return;
		data += take;
		len -= take;
	}
}

/* Free what the filter holds in p: its output, the DOCTYPE, entities, names. */
void fw_repair_free(struct fw_parser *p)
{
	free(p->kept);
	free(p->fout);
	free(p->dtd);
	free(p->dropped);
	free(p->stops);
	for (size_t i = 0; i < p->n_decls; i++) {
		free(p->decls[i].value);
		free(p->decls[i].exp);
	}
	free(p->decls);
	free(p->dslot);
}
