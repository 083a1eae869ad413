/*
 * query.c - the watchlist language: aliases and query terms made into patterns, the lexer,
 * the parser and the analysis of queries (a query that can never match is an error).
 * Pure: no I/O, no logging; problems become diagnostics with a column.
 *
 * Every alias of an entity and every bare word or phrase of a query is folded (fold.c)
 * into one byte pattern with its word boundaries: folded text starts and ends with a space
 * and every run of separators is one space, so "Putin" becomes " putin " (whole word),
 * "Путин*" becomes " путин" (word start), "普京" has no spaces (Han needs no boundary) and
 * "푸틴" becomes " 푸틴" (Hangul words take particles). ac.c finds the patterns, match.c
 * evaluates the query trees built here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <utf8proc.h>

#include "fold.h"
#include "match.h"
#include "match_int.h"
#include "suggest.h"

const char *const fw_query_fields[F_KINDS] = {"title", "summary", "content", "author", "category"};

/* ------------------------------------------------------------------ patterns */

/* A prepared alias or query literal: the folded pattern, or why there is none. */
struct pat_result {
	char *s;
	uint32_t len;
	uint32_t hlen; /* bytes before the first '*': the automaton's part */
	uint8_t lead, trail, extend;
	const char *err;
	size_t err_off; /* byte offset of the error in the source */
};

/* Class of the last character of s[0..len) that is not a combining mark. */
static enum fw_fold_class last_class(const char *s, size_t len)
{
	size_t i = len;

	while (i > 0) {
		size_t st = i - 1, n;
		enum fw_fold_class c;

		while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80) {
			st--;
		}
		c = fw_fold_class_of(decode_at(s, len, st, &n));
		if (c != FW_FOLD_MARK) {
			return c;
		}
		i = st;
	}
	return FW_FOLD_WORD;
}

/* True when the source character that ends at s[i] (marks and invisibles skipped) is a word character. */
static int word_char_before(const char *s, size_t i)
{
	while (i > 0) {
		size_t st = i - 1, n;
		enum fw_fold_class c;

		while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80) {
			st--;
		}
		c = fw_fold_class_of(decode_at(s, i, st, &n));
		if (c != FW_FOLD_MARK && c != FW_FOLD_IGNORE) {
			return c != FW_FOLD_SEP;
		}
		i = st;
	}
	return 0;
}

/*
 * Turn an alias or a query word/phrase into a pattern. Returns 0 (r->s set, or r->err set
 * for a user error) or -ENOMEM.
 *
 * The pattern is the folded text with its boundary spaces: " vladimir putin " (whole
 * words), " kim jong" (the last word a prefix: no trailing space, r->extend). A prefix word
 * that is not the last is marked with a '*' after it (folded text never holds a '*': it is
 * a separator): "Северн* Коре*" becomes " северн* коре". The bytes before the first '*'
 * (r->hlen) are what the automaton looks for; the rest is checked from the hit (see
 * tail_end). The whole string is the identity of the pattern.
 */
static int make_pattern(const struct fw_fold *fold, const char *src, size_t len,
                        struct fw_fold_buf *fb, struct pat_result *r)
{
	size_t a = 0, b = len, core_len, n_stars = 0, o = 0, j = 1;
	size_t stars[MATCH_ALIAS_WORDS]; /* fb index of the last byte of each prefix word */
	const char *core;
	int last_prefix = 0;
	enum fw_fold_class first, last = FW_FOLD_WORD;

	memset(r, 0, sizeof(*r));
	while (a < b && is_space(src[a])) {
		a++;
	}
	while (b > a && is_space(src[b - 1])) {
		b--;
	}
	for (size_t i = a; i < b; i++) {
		if (src[i] != '*') {
			continue;
		}
		if (i == a || src[i - 1] == '*' || !word_char_before(src + a, i - a)) {
			r->err = "'*' must follow a word";
			r->err_off = i;
			return 0;
		}
		if (i + 1 < b && !is_space(src[i + 1])) {
			r->err = "'*' is allowed only at the end of a word";
			r->err_off = i;
			return 0;
		}
		if (n_stars == MATCH_ALIAS_WORDS) {
			r->err = "too many prefix words";
			r->err_off = i;
			return 0;
		}
		stars[n_stars++] = i - a;
	}
	if (fw_fold_text(fold, src + a, b - a, fb, 1) < 0) {
		return -ENOMEM;
	}
	if (fb->len <= 1) {
		r->err = "no letters or digits to match";
		r->err_off = a;
		return 0;
	}
	/* the folded word each '*' ends: the last output byte made from input before it */
	for (size_t k = 0; k < n_stars; k++) {
		while (j + 1 < fb->len - 1 && fb->map[j + 1] < stars[k]) {
			j++;
		}
		stars[k] = j;
	}
	core = fb->s + 1;
	core_len = fb->len - 2;
	first = fw_fold_class_of(decode_at(core, core_len, 0, &o));
	r->s = malloc(2 * core_len + 3);
	if (!r->s) {
		return -ENOMEM;
	}
	r->lead = first != FW_FOLD_CJK;
	o = 0;
	if (r->lead) {
		r->s[o++] = ' ';
	}
	r->hlen = NONE;
	for (size_t ws = 0, k = 0; ws < core_len;) {
		size_t we = ws;
		int prefix = 0;

		while (we < core_len && core[we] != ' ') {
			we++;
		}
		while (k < n_stars && stars[k] <= we) {
			prefix |= stars[k] == we; /* stars[] are fb indices: core + 1 */
			k++;
		}
		memcpy(r->s + o, core + ws, we - ws);
		o += we - ws;
		last = last_class(core + ws, we - ws);
		/* a prefix means nothing on a word of a script written without spaces */
		prefix = prefix && last != FW_FOLD_CJK;
		last_prefix = prefix;
		if (we < core_len) {
			if (prefix) {
				if (r->hlen == NONE) {
					r->hlen = (uint32_t)o;
				}
				r->s[o++] = '*';
			}
			r->s[o++] = ' ';
		}
		ws = we + 1;
	}
	r->trail = !last_prefix && last != FW_FOLD_CJK && last != FW_FOLD_HANGUL;
	r->extend = last_prefix || last == FW_FOLD_HANGUL;
	if (r->trail) {
		r->s[o++] = ' ';
	}
	r->s[o] = '\0';
	r->len = (uint32_t)o;
	if (r->hlen == NONE) {
		r->hlen = r->len;
	}
	return 0;
}

/* Script of a letter, for the mixed-script warning; 0 for none we tell apart. */
static int script_of(int32_t cp)
{
	static const struct {
		int32_t lo, hi;
		int script;
	} t[] = {
	    {'A', 'Z', 1},       {'a', 'z', 1},       {0x00C0, 0x024F, 1}, {0x1E00, 0x1EFF, 1},
	    {0xFF21, 0xFF3A, 1}, {0xFF41, 0xFF5A, 1}, {0x0370, 0x03FF, 2}, {0x1F00, 0x1FFF, 2},
	    {0x0400, 0x052F, 3}, {0x1C80, 0x1C8F, 3}, {0x2DE0, 0x2DFF, 3}, {0xA640, 0xA69F, 3},
	    {0x0530, 0x058F, 4}, {0x0590, 0x05FF, 5}, {0x0600, 0x06FF, 6}, {0x0750, 0x077F, 6},
	    {0x10A0, 0x10FF, 7}, {0x1100, 0x11FF, 8}, {0x3130, 0x318F, 8}, {0xAC00, 0xD7AF, 8},
	};
	int cat;

	if (cp < 0x80 && !((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))) {
		return 0;
	}
	cat = utf8proc_category(cp);
	if (cat < UTF8PROC_CATEGORY_LU || cat > UTF8PROC_CATEGORY_LO) {
		return 0;
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (cp >= t[i].lo && cp <= t[i].hi) {
			return t[i].script;
		}
	}
	return 0;
}

static const char *const script_names[] = {"",       "Latin",  "Greek",    "Cyrillic", "Armenian",
                                           "Hebrew", "Arabic", "Georgian", "Hangul"};

/* First two different scripts among the letters of s, or 0 when it uses one. */
static int mixed_scripts(const char *s, size_t len, int *s1, int *s2)
{
	int first = 0;

	for (size_t i = 0; i < len;) {
		size_t n;
		int sc = script_of(decode_at(s, len, i, &n));

		i += n;
		if (!sc) {
			continue;
		}
		if (!first) {
			first = sc;
		} else if (sc != first) {
			*s1 = first;
			*s2 = sc;
			return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ entities */

#if defined(__GNUC__)
__attribute__((format(printf, 7, 8)))
#endif
static void
diag(struct cc *c, enum fw_match_diag_severity sev, enum fw_match_diag_where where, size_t index,
     size_t alias, size_t column, const char *fmt, ...)
{
	va_list ap;

	if (sev == FW_MATCH_ERROR) {
		c->n_errors++;
	}
	if (c->n_diags < c->max_diags && c->diags) {
		struct fw_match_diag *d = &c->diags[c->n_diags];

		d->severity = sev;
		d->where = where;
		d->index = index;
		d->alias = alias;
		d->column = column;
		va_start(ap, fmt);
		vsnprintf(d->message, sizeof(d->message), fmt, ap);
		va_end(ap);
	}
	c->n_diags++;
}

static int cmp_key(const void *a, const void *b)
{
	const struct ent_key *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static long find_entity(const struct cc *c, const char *name, size_t len)
{
	size_t lo = 0, hi = c->n_keys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strncmp(c->keys[mid].name, name, len);

		if (r == 0 && c->keys[mid].name[len] != '\0') {
			r = 1;
		}
		if (r == 0) {
			return (long)c->keys[mid].index;
		}
		if (r < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

/*
 * Check the entities, fold their aliases into pattern entries (atom = entity index).
 * Returns 0 or -ENOMEM; the entries are owned by c.
 */
int fw_query_entities(struct cc *c)
{
	const struct fw_match_spec *sp = c->spec;

	c->keys = calloc(sp->n_entities + 1, sizeof(*c->keys));
	if (!c->keys) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < sp->n_entities; i++) {
		const struct fw_match_entity *e = &sp->entities[i];

		if (!e->name || !*e->name) {
			diag(c, FW_MATCH_ERROR, FW_MATCH_IN_ENTITY, i, 0, 0,
			     "entity without a name");
			continue;
		}
		c->keys[c->n_keys].name = e->name;
		c->keys[c->n_keys++].index = i;
		if (e->n_aliases == 0) {
			diag(c, FW_MATCH_ERROR, FW_MATCH_IN_ENTITY, i, 0, 0,
			     "entity '%s' has no aliases", e->name);
		}
		for (size_t k = 0; k < e->n_aliases; k++) {
			const char *al = e->aliases[k] ? e->aliases[k] : "";
			size_t len = strlen(al);
			struct pat_result r;
			struct pentry pe;
			int s1, s2;

			if (len > MATCH_ALIAS_MAX) {
				diag(c, FW_MATCH_ERROR, FW_MATCH_IN_ENTITY, i, k, 0,
				     "alias of entity '%s' is longer than %u bytes", e->name,
				     MATCH_ALIAS_MAX);
				continue;
			}
			if (make_pattern(c->fold, al, len, &c->fb, &r) < 0) {
				return -ENOMEM;
			}
			if (r.err) {
				diag(c, FW_MATCH_ERROR, FW_MATCH_IN_ENTITY, i, k, 0,
				     "alias \"%.64s\" of entity '%s': %s", al, e->name,
				     len ? r.err : "empty alias");
				continue;
			}
			if (mixed_scripts(al, len, &s1, &s2)) {
				diag(c, FW_MATCH_WARNING, FW_MATCH_IN_ENTITY, i, k, 0,
				     "alias \"%.64s\" of entity '%s' mixes %s and %s letters "
				     "(a missing comma between two strings?)",
				     al, e->name, script_names[s1], script_names[s2]);
			}
			pe.s = r.s;
			pe.len = r.len;
			pe.hlen = r.hlen;
			pe.lead = r.lead;
			pe.trail = r.trail;
			pe.extend = r.extend;
			pe.ref.atom = (uint32_t)i;
			pe.ref.alias = (uint32_t)k;
			if (VEC_PUSH(c->pe, pe) < 0) {
				free(r.s);
				return -ENOMEM;
			}
		}
	}
	sort_(c->keys, c->n_keys, sizeof(*c->keys), cmp_key);
	for (size_t i = 1; i < c->n_keys; i++) {
		if (strcmp(c->keys[i - 1].name, c->keys[i].name) == 0) {
			diag(c, FW_MATCH_ERROR, FW_MATCH_IN_ENTITY, c->keys[i].index, 0, 0,
			     "entity '%s' is defined twice", c->keys[i].name);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ query parser */

enum tok {
	T_END,
	T_LP,
	T_RP,
	T_AND,
	T_OR,
	T_NOT,
	T_NEAR,
	T_FIELD,
	T_ENTITY,
	T_WORD,
	T_PHRASE,
	T_ERR
};

struct qp {
	struct cc *c;
	const char *q;
	size_t len;
	size_t pos;
	size_t wl;
	int failed;
	int depth;
	size_t q_base; /* nodes before this query */
	enum tok tok;
	size_t ts, tl; /* token span */
	unsigned near;
	unsigned field;
	struct {
		size_t off;
		char msg[256];
	} hints[8]; /* warnings, given only when the query has no error */
	size_t n_hints;
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
qerr(struct qp *p, size_t off, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (p->failed) {
		return;
	}
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag(p->c, FW_MATCH_ERROR, FW_MATCH_IN_WATCHLIST, p->wl, 0, off + 1, "%s", msg);
}

static int is_delim(char ch)
{
	return is_space(ch) || ch == '(' || ch == ')' || ch == '"';
}

/* The token "NEAR" or "NEAR/n" at q[i..s): its distance, or an error. */
static void lex_near(struct qp *p, size_t i, size_t s)
{
	const char *q = p->q;
	unsigned long n = 0;

	p->tok = T_NEAR;
	p->near = MATCH_NEAR_DEFAULT;
	if (p->tl == 4) {
		return;
	}
	if (p->tl == 5) {
		qerr(p, i + 5, "expected a number after 'NEAR/'");
		p->tok = T_ERR;
		return;
	}
	for (size_t k = i + 5; k < s; k++) {
		if (q[k] < '0' || q[k] > '9') {
			qerr(p, k, "expected a number after 'NEAR/'");
			p->tok = T_ERR;
			return;
		}
		n = n * 10 + (unsigned long)(q[k] - '0');
		if (n > MATCH_NEAR_MAX) {
			qerr(p, i + 5, "NEAR distance is larger than 1000");
			p->tok = T_ERR;
			return;
		}
	}
	p->near = (unsigned)n;
}

/* An unknown "field:" scope at q[i..i+len): an error with the nearest field. */
static void unknown_field(struct qp *p, size_t i, size_t len)
{
	char word[65];
	const char *near;

	snprintf(word, sizeof(word), "%.*s", (int)(len > 64 ? 64 : len), p->q + i);
	near = fw_suggest_nearest(word, fw_query_fields, F_KINDS);
	qerr(p, i,
	     "unknown field scope '%s:'%s%s%s (fields: title, summary, content, author, "
	     "category; quote the text to match a colon)",
	     word, near ? " (did you mean '" : "", near ? near : "", near ? ":'?)" : "");
}

static void lex(struct qp *p)
{
	const char *q = p->q;
	size_t i = p->pos, s;

	while (i < p->len && is_space(q[i])) {
		i++;
	}
	p->ts = i;
	if (i >= p->len) {
		p->tok = T_END;
		p->tl = 0;
		p->pos = i;
		return;
	}
	if (q[i] == '(' || q[i] == ')') {
		p->tok = q[i] == '(' ? T_LP : T_RP;
		p->tl = 1;
		p->pos = i + 1;
		return;
	}
	if (q[i] == '"') {
		s = i + 1;
		while (s < p->len && q[s] != '"') {
			s++;
		}
		if (s >= p->len) {
			qerr(p, i, "unterminated quoted phrase");
			p->tok = T_ERR;
			return;
		}
		if (s + 1 < p->len && !is_delim(q[s + 1])) {
			qerr(p, s + 1, "expected a space or ')' after the closing quote");
			p->tok = T_ERR;
			return;
		}
		p->tok = T_PHRASE;
		p->tl = s + 1 - i;
		p->pos = s + 1;
		return;
	}
	s = i;
	while (s < p->len && !is_delim(q[s])) {
		s++;
	}
	p->tl = s - i;
	p->pos = s;
	if (p->tl == 3 && memcmp(q + i, "AND", 3) == 0) {
		p->tok = T_AND;
		return;
	}
	if (p->tl == 2 && memcmp(q + i, "OR", 2) == 0) {
		p->tok = T_OR;
		return;
	}
	if (p->tl == 3 && memcmp(q + i, "NOT", 3) == 0) {
		p->tok = T_NOT;
		return;
	}
	if (p->tl >= 4 && memcmp(q + i, "NEAR", 4) == 0 && (p->tl == 4 || q[i + 4] == '/')) {
		lex_near(p, i, s);
		return;
	}
	if (q[i] == '@') {
		p->tok = T_ENTITY;
		return;
	}
	/* "field:" scope: ASCII letters then a colon */
	for (size_t k = i; k < s; k++) {
		char ch = q[k];

		if (ch == ':' && k > i) {
			for (unsigned f = 0; f < F_KINDS; f++) {
				if (strlen(fw_query_fields[f]) == k - i &&
				    memcmp(q + i, fw_query_fields[f], k - i) == 0) {
					p->tok = T_FIELD;
					p->field = f;
					p->tl = k + 1 - i;
					p->pos = k + 1;
					return;
				}
			}
			unknown_field(p, i, k - i);
			p->tok = T_ERR;
			return;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) {
			break;
		}
	}
	p->tok = T_WORD;
}

static uint32_t new_node(struct qp *p, struct qnode n)
{
	struct cc *c = p->c;

	if (c->q.n >= UINT32_MAX - 1 || VEC_PUSH(c->q, n) < 0) {
		return NONE;
	}
	return (uint32_t)(c->q.n - 1);
}

static uint32_t parse_or(struct qp *p, unsigned scope);

/* n-ary node over the children in list[0..n). */
static uint32_t new_list_node(struct qp *p, enum qkind kind, const uint32_t *list, size_t n,
                              uint32_t col)
{
	struct cc *c = p->c;
	struct qnode qn = {0};

	if (grow((void **)&c->kids.v, &c->kids.cap, c->kids.n + n, sizeof(*c->kids.v)) < 0) {
		return NONE;
	}
	qn.kind = (uint8_t)kind;
	qn.a = (uint32_t)c->kids.n;
	qn.n = (uint32_t)n;
	qn.col = col;
	memcpy(c->kids.v + c->kids.n, list, n * sizeof(*list));
	c->kids.n += n;
	return new_node(p, qn);
}

#define SCOPED    0x80u
#define OOM       (NONE - 1) /* allocation failure while parsing */
#define IS_BAD(x) ((x) >= OOM)

/* ------------------------------------------------------------------ hints */

/* Warnings for queries that may not say what they mean, at their column: kept until the
   query is known to have no error (then the error alone is said). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
qwarn(struct qp *p, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (p->n_hints >= sizeof(p->hints) / sizeof(p->hints[0])) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(p->hints[p->n_hints].msg, sizeof(p->hints[0].msg), fmt, ap);
	va_end(ap);
	p->hints[p->n_hints++].off = off;
}

/* "and", "Or", "not", "near": an operator's name written as a word (not all upper case,
   which would be the operator). */
static bool op_word(const char *w, size_t len)
{
	static const char *const ops[] = {"AND", "OR", "NOT", "NEAR"};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strlen(ops[i]) == len && strncasecmp(w, ops[i], len) == 0)
			return true;
	return false;
}

/* Entity names to suggest from: at most this many are compared by edit distance. */
#define HINT_MAX_ENTITIES 2000

/* A bare word at q[ts..ts+tl): an operator written in lower case, or the name of an
   entity (or nearly) written without its '@'. */
static void hint_word(struct qp *p, size_t ts, size_t tl)
{
	const struct fw_match_spec *sp = p->c->spec;
	const char *near = NULL;
	char word[65];

	if (op_word(p->q + ts, tl)) {
		char up[8];

		for (size_t i = 0; i < tl; i++)
			up[i] = (char)(p->q[ts + i] & ~0x20);
		up[tl] = 0;
		qwarn(p, ts,
		      "'%.*s' is matched as a word, not the operator: write %s for the operator, "
		      "or \"%.*s\" in quotes to match the word",
		      (int)tl, p->q + ts, up, (int)tl, p->q + ts);
		return;
	}
	if (tl > 64 || sp->n_entities > HINT_MAX_ENTITIES)
		return;
	snprintf(word, sizeof(word), "%.*s", (int)tl, p->q + ts);
	for (size_t i = 0; i < sp->n_entities && near == NULL; i++)
		if (sp->entities[i].name && fw_suggest_distance(word, sp->entities[i].name) == 0)
			near = sp->entities[i].name;
	for (size_t i = 0; i < sp->n_entities && near == NULL && tl >= 5; i++)
		if (sp->entities[i].name && fw_suggest_distance(word, sp->entities[i].name) <= 1)
			near = sp->entities[i].name;
	if (near)
		qwarn(p, ts,
		      "'%s' matches that word only: did you mean @%s (the entity, with its "
		      "aliases)?",
		      word, near);
}

/* An unknown "@name" at q[ts..ts+tl): an error with the nearest entity, or the list. */
static void unknown_entity(struct qp *p, size_t ts, size_t tl)
{
	const struct fw_match_spec *sp = p->c->spec;
	const char *near = NULL;
	char name[65], list[160] = "";
	size_t d, best = tl - 1 <= 4 ? 2 : 3;

	snprintf(name, sizeof(name), "%.*s", (int)(tl - 1 > 64 ? 64 : tl - 1), p->q + ts + 1);
	for (size_t i = 0; i < sp->n_entities && i < HINT_MAX_ENTITIES; i++)
		if (sp->entities[i].name &&
		    (d = fw_suggest_distance(name, sp->entities[i].name)) < best) {
			best = d;
			near = sp->entities[i].name;
		}
	if (near) {
		qerr(p, ts, "unknown entity '%s' (did you mean '@%s'?)", name, near);
		return;
	}
	for (size_t i = 0; i < sp->n_entities && i < 8; i++) {
		size_t at = strlen(list);

		snprintf(list + at, sizeof(list) - at, "%s@%s", i ? ", " : "",
		         sp->entities[i].name ? sp->entities[i].name : "?");
	}
	qerr(p, ts, "unknown entity '%s' (%s%s%s)", name,
	     sp->n_entities ? "entities: " : "no entities are defined", list,
	     sp->n_entities > 8 ? ", ..." : "");
}

/* Is node id a bare word of the query (no '@', no quotes, no field scope)? */
static bool bare_word(const struct qp *p, uint32_t id)
{
	const struct qnode *n = &p->c->q.v[id];

	if (n->kind != Q_TERM || n->term_len == 0)
		return false;
	return p->q[n->term_off] != '@' && p->q[n->term_off] != '"' &&
	       !(n->term_off > 0 && p->q[n->term_off - 1] == ':');
}

/* The entity one of whose aliases is text (ASCII case and runs of spaces aside), or
   NULL. */
static const char *alias_entity(const struct cc *c, const char *text, size_t len)
{
	const struct fw_match_spec *sp = c->spec;

	for (size_t i = 0; i < sp->n_entities && i < HINT_MAX_ENTITIES; i++)
		for (size_t k = 0; k < sp->entities[i].n_aliases; k++) {
			const char *a = sp->entities[i].aliases[k], *t = text, *end = text + len;

			while (a && *a && t < end) {
				if (is_space(*a) && is_space(*t)) {
					while (is_space(*a))
						a++;
					while (t < end && is_space(*t))
						t++;
				} else if (tolower((unsigned char)*a) ==
				           tolower((unsigned char)*t)) {
					a++, t++;
				} else {
					break;
				}
			}
			if (a && *a == 0 && t == end)
				return sp->entities[i].name;
		}
	return NULL;
}

/* Words side by side (an implicit AND of bare words), q[start..end) of n words. */
struct run {
	size_t start, end;
	unsigned n;
	bool op; /* one of them is "and", "or"...: hint_word said it */
};

/* The run ends: words side by side are each required anywhere in the item, which is
   seldom what "North Korea" means. */
static void run_end(struct qp *p, struct run *r)
{
	size_t len = r->end - r->start;
	const char *ent;

	if (r->n >= 2 && !r->op && len <= 120) {
		ent = alias_entity(p->c, p->q + r->start, len);
		qwarn(p, r->start,
		      "'%.*s': words side by side must each appear somewhere in the item (they "
		      "are ANDed), not together; for the phrase write \"%.*s\"%s%s%s",
		      (int)len, p->q + r->start, (int)len, p->q + r->start, ent ? ", or @" : "",
		      ent ? ent : "", ent ? " (the entity with that alias)" : "");
	}
	memset(r, 0, sizeof(*r));
}

/* After child ch of an AND list (prev before it; implicit: no AND between them). */
static void run_next(struct qp *p, struct run *r, uint32_t prev, uint32_t ch, bool implicit)
{
	const struct qnode *a = &p->c->q.v[prev], *b = &p->c->q.v[ch];

	if (!implicit || !bare_word(p, prev) || !bare_word(p, ch)) {
		run_end(p, r);
		return;
	}
	if (r->n == 0) {
		r->start = a->term_off;
		r->n = 1;
		r->op = op_word(p->q + a->term_off, a->term_len);
	}
	r->end = b->term_off + b->term_len;
	r->n++;
	r->op |= op_word(p->q + b->term_off, b->term_len);
}

static uint32_t parse_term(struct qp *p, unsigned scope)
{
	struct cc *c = p->c;
	struct qnode qn = {0};
	size_t ts = p->ts, tl = p->tl;
	uint32_t id;

	qn.kind = Q_TERM;
	qn.mask = (uint8_t)(scope & MASK_ALL);
	qn.term_off = (uint32_t)ts;
	qn.term_len = (uint32_t)tl;
	qn.col = (uint32_t)ts + 1;
	if (p->tok == T_ENTITY) {
		long e;

		if (tl == 1) {
			qerr(p, ts, "expected an entity name after '@'");
			return NONE;
		}
		if (p->q[ts + tl - 1] == '*') {
			qerr(p, ts + tl - 1, "'*' cannot follow an entity name");
			return NONE;
		}
		e = find_entity(c, p->q + ts + 1, tl - 1);
		if (e < 0) {
			unknown_entity(p, ts, tl);
			return NONE;
		}
		qn.a = (uint32_t)e;
		lex(p);
		id = new_node(p, qn);
		return id == NONE ? OOM : id;
	} else {
		struct pat_result r;
		struct lit l;
		size_t s = ts, len = tl;

		if (p->tok == T_PHRASE) {
			s++;
			len -= 2;
		} else {
			hint_word(p, ts, tl);
		}
		if (make_pattern(c->fold, p->q + s, len, &c->fb, &r) < 0) {
			return OOM;
		}
		if (r.err) {
			qerr(p, s + r.err_off, "%s", r.err);
			return NONE;
		}
		qn.a = NONE;
		id = new_node(p, qn);
		if (id == NONE) {
			free(r.s);
			return OOM;
		}
		l.s = r.s;
		l.len = r.len;
		l.hlen = r.hlen;
		l.lead = r.lead;
		l.trail = r.trail;
		l.extend = r.extend;
		l.node = id;
		l.atom = NONE;
		if (VEC_PUSH(c->lits, l) < 0) {
			free(r.s);
			return OOM;
		}
		lex(p);
		return id;
	}
}

static uint32_t parse_primary(struct qp *p, unsigned scope)
{
	switch (p->tok) {
	case T_FIELD: {
		unsigned f = 1u << p->field;
		size_t at = p->ts;

		if ((scope & SCOPED) && !(scope & f)) {
			qerr(p, at,
			     "field scope '%s:' inside a group scoped to other fields can never "
			     "match",
			     fw_query_fields[p->field]);
			return NONE;
		}
		scope = (scope & SCOPED) ? (scope & f) | SCOPED : f | SCOPED;
		lex(p);
		if (p->tok != T_LP && p->tok != T_ENTITY && p->tok != T_WORD &&
		    p->tok != T_PHRASE) {
			if (p->tok != T_ERR) {
				qerr(p, p->tok == T_END ? p->ts : p->ts,
				     "expected a term or '(' after '%s:'",
				     fw_query_fields[__builtin_ctz(f)]);
			}
			return NONE;
		}
		return parse_primary(p, scope);
	}
	case T_LP: {
		size_t at = p->ts;
		uint32_t r;

		if (++p->depth > MATCH_DEPTH_MAX) {
			qerr(p, at, "parentheses nested too deeply");
			return NONE;
		}
		lex(p);
		if (p->tok == T_RP) {
			qerr(p, p->ts, "empty parentheses");
			return NONE;
		}
		r = parse_or(p, scope);
		if (IS_BAD(r)) {
			return r;
		}
		if (p->tok != T_RP) {
			if (p->tok != T_ERR) {
				char msg[64];

				snprintf(msg, sizeof(msg), "%zu", at + 1);
				qerr(p, p->ts, "expected ')' to close the '(' at column %s", msg);
			}
			return NONE;
		}
		p->depth--;
		lex(p);
		return r;
	}
	case T_ENTITY:
	case T_WORD:
	case T_PHRASE:
		return parse_term(p, scope);
	case T_END:
		qerr(p, p->ts, "expected a term at the end of the query");
		return NONE;
	case T_ERR:
		return NONE;
	default: {
		char tokname[32];

		snprintf(tokname, sizeof(tokname), "%.*s", (int)(p->tl > 16 ? 16 : p->tl),
		         p->q + p->ts);
		qerr(p, p->ts, "expected a term, found '%s'", tokname);
		return NONE;
	}
	}
}

static uint32_t parse_unary(struct qp *p, unsigned scope)
{
	if (p->tok == T_NOT) {
		struct qnode qn = {0};
		uint32_t ch, id;

		qn.kind = Q_NOT;
		qn.col = (uint32_t)p->ts + 1;
		if (++p->depth > MATCH_DEPTH_MAX) {
			qerr(p, p->ts, "NOT nested too deeply");
			return NONE;
		}
		lex(p);
		ch = parse_unary(p, scope);
		p->depth--;
		if (IS_BAD(ch)) {
			return ch;
		}
		qn.a = ch;
		id = new_node(p, qn);
		return id == NONE ? OOM : id;
	}
	return parse_primary(p, scope);
}

/* A NEAR operand: a term, an OR of such, or a NEAR. */
static int near_ok(const struct cc *c, uint32_t id)
{
	const struct qnode *n = &c->q.v[id];

	switch (n->kind) {
	case Q_TERM:
		return 1;
	case Q_OR:
	case Q_NEAR:
		for (uint32_t i = 0; i < n->n; i++) {
			if (!near_ok(c, c->kids.v[n->a + i])) {
				return 0;
			}
		}
		return 1;
	default:
		return 0;
	}
}

static uint32_t node_col(const struct cc *c, uint32_t id)
{
	return c->q.v[id].col;
}

static uint32_t parse_near(struct qp *p, unsigned scope)
{
	uint32_t left = parse_unary(p, scope);

	while (!IS_BAD(left) && p->tok == T_NEAR) {
		unsigned n = p->near;
		uint32_t pair[2], right, id;

		lex(p);
		right = parse_unary(p, scope);
		if (IS_BAD(right)) {
			return right;
		}
		if (!near_ok(p->c, left) || !near_ok(p->c, right)) {
			uint32_t bad = near_ok(p->c, left) ? right : left;

			qerr(p, node_col(p->c, bad) - 1,
			     "NEAR needs terms on both sides (a term, an OR group of terms, or "
			     "another NEAR)");
			return NONE;
		}
		pair[0] = left;
		pair[1] = right;
		id = new_list_node(p, Q_NEAR, pair, 2, node_col(p->c, left));
		if (id == NONE) {
			return OOM;
		}
		p->c->q.v[id].near = (uint16_t)n;
		left = id;
	}
	return left;
}

static int starts_operand(enum tok t)
{
	return t == T_LP || t == T_NOT || t == T_FIELD || t == T_ENTITY || t == T_WORD ||
	       t == T_PHRASE;
}

static uint32_t parse_list(struct qp *p, unsigned scope, enum qkind kind)
{
	VEC(uint32_t) l = {0};
	uint32_t first, r;

	struct run run = {0};

	first = kind == Q_AND ? parse_near(p, scope) : parse_list(p, scope, Q_AND);
	if (IS_BAD(first)) {
		return first;
	}
	for (;;) {
		uint32_t ch;
		bool implicit = false;

		if (kind == Q_OR && p->tok == T_OR) {
			lex(p);
		} else if (kind == Q_AND && p->tok == T_AND) {
			lex(p);
		} else if (!(kind == Q_AND && starts_operand(p->tok))) {
			break;
		} else {
			implicit = true;
		}
		if (!l.n && VEC_PUSH(l, first) < 0) {
			free(l.v);
			return OOM;
		}
		ch = kind == Q_AND ? parse_near(p, scope) : parse_list(p, scope, Q_AND);
		if (IS_BAD(ch)) {
			free(l.v);
			return ch;
		}
		if (VEC_PUSH(l, ch) < 0) {
			free(l.v);
			return OOM;
		}
		if (kind == Q_AND) {
			run_next(p, &run, l.v[l.n - 2], ch, implicit);
		}
		if (p->c->q.n - p->q_base > MATCH_QNODES_MAX) {
			free(l.v);
			qerr(p, p->ts, "query has too many terms");
			return NONE;
		}
	}
	run_end(p, &run);
	if (!l.n) {
		return first;
	}
	r = new_list_node(p, kind, l.v, l.n, node_col(p->c, first));
	free(l.v);
	return r == NONE ? OOM : r;
}

static uint32_t parse_or(struct qp *p, unsigned scope)
{
	return parse_list(p, scope, Q_OR);
}

/* ------------------------------------------------------------------ query analysis */

/* True when the node can only be true if one of its positive terms was found. */
static int positive(const struct cc *c, uint32_t id, uint32_t *bad_col)
{
	const struct qnode *n = &c->q.v[id];

	switch (n->kind) {
	case Q_TERM:
	case Q_NEAR:
		return 1;
	case Q_NOT:
		if (c->q.v[n->a].kind == Q_NOT) {
			return positive(c, c->q.v[n->a].a, bad_col);
		}
		*bad_col = n->col;
		return 0;
	case Q_AND:
		for (uint32_t i = 0; i < n->n; i++) {
			if (positive(c, c->kids.v[n->a + i], bad_col)) {
				return 1;
			}
		}
		return 0;
	case Q_OR:
	default:
		for (uint32_t i = 0; i < n->n; i++) {
			if (!positive(c, c->kids.v[n->a + i], bad_col)) {
				return 0;
			}
		}
		return 1;
	}
}

/* Positive TERM nodes of an AND chain (through nested ANDs). */
static int and_terms(const struct cc *c, uint32_t id, struct u32vec *pos, struct u32vec *neg)
{
	const struct qnode *n = &c->q.v[id];

	if (n->kind == Q_TERM) {
		return VEC_PUSH(*pos, id);
	}
	if (n->kind == Q_NOT && c->q.v[n->a].kind == Q_TERM) {
		return VEC_PUSH(*neg, id);
	}
	if (n->kind == Q_AND) {
		for (uint32_t i = 0; i < n->n; i++) {
			if (and_terms(c, c->kids.v[n->a + i], pos, neg) < 0) {
				return -ENOMEM;
			}
		}
	}
	return 0;
}

/* 1 when satisfiable, 0 (and *bad_col) when not, -ENOMEM. */
/* The literal of TERM node `node`, or NULL (an entity term). */
static const struct lit *term_lit(const struct cc *c, uint32_t node)
{
	for (size_t i = c->lits.n; i-- > 0;)
		if (c->lits.v[i].node == node)
			return &c->lits.v[i];
	return NULL;
}

/* Do TERM nodes x and y name the same thing: one entity, or one literal as folded? Literal
   terms get their atoms only after parsing (a is NONE until then), so they are compared by
   their folded pattern. */
static bool same_term(const struct cc *c, uint32_t x, uint32_t y)
{
	const struct lit *lx, *ly;

	if (c->q.v[x].a != NONE || c->q.v[y].a != NONE)
		return c->q.v[x].a == c->q.v[y].a;
	lx = term_lit(c, x);
	ly = term_lit(c, y);
	return lx && ly && lx->len == ly->len && lx->lead == ly->lead && lx->trail == ly->trail &&
	       lx->extend == ly->extend && memcmp(lx->s, ly->s, lx->len) == 0;
}

static int satisfiable(const struct cc *c, uint32_t id, uint32_t *bad_col)
{
	const struct qnode *n = &c->q.v[id];
	int r = 1;

	switch (n->kind) {
	case Q_TERM:
	case Q_NOT:
		return 1;
	case Q_OR:
		for (uint32_t i = 0; i < n->n; i++) {
			r = satisfiable(c, c->kids.v[n->a + i], bad_col);
			if (r != 0) {
				return r;
			}
		}
		return 0;
	case Q_NEAR:
		for (uint32_t i = 0; i < n->n; i++) {
			r = satisfiable(c, c->kids.v[n->a + i], bad_col);
			if (r <= 0) {
				return r;
			}
		}
		return 1;
	case Q_AND:
	default: {
		struct u32vec pos = {0};
		struct u32vec neg = {0};

		for (uint32_t i = 0; i < n->n && r == 1; i++) {
			r = satisfiable(c, c->kids.v[n->a + i], bad_col);
		}
		if (r == 1 && and_terms(c, id, &pos, &neg) < 0) {
			r = -ENOMEM;
		}
		for (size_t i = 0; r == 1 && i < neg.n; i++) {
			uint32_t nid = c->q.v[neg.v[i]].a;
			const struct qnode *nt = &c->q.v[nid];

			for (size_t k = 0; k < pos.n; k++) {
				const struct qnode *pt = &c->q.v[pos.v[k]];

				if (same_term(c, pos.v[k], nid) && (pt->mask & ~nt->mask) == 0) {
					*bad_col = c->q.v[neg.v[i]].col;
					r = 0;
					break;
				}
			}
		}
		free(pos.v);
		free(neg.v);
		return r;
	}
	}
}

/* ------------------------------------------------------------------ watchlists */

/*
 * Parse every watchlist's query into c->q; roots[i] = root node or NONE. Returns 0 or
 * -ENOMEM; the nodes and literals are owned by c.
 */
int fw_query_watchlists(struct cc *c, uint32_t *roots)
{
	const struct fw_match_spec *sp = c->spec;

	for (size_t w = 0; w < sp->n_watchlists; w++) {
		const struct fw_match_watchlist *wl = &sp->watchlists[w];
		struct qp p = {0};
		uint32_t root, bad = 0;
		size_t len = wl->query ? strlen(wl->query) : 0;
		int s;

		roots[w] = NONE;
		if (!wl->name || !*wl->name) {
			diag(c, FW_MATCH_ERROR, FW_MATCH_IN_WATCHLIST, w, 0, 0,
			     "watchlist without a name");
		}
		if (len > MATCH_QUERY_MAX) {
			diag(c, FW_MATCH_ERROR, FW_MATCH_IN_WATCHLIST, w, 0, 0,
			     "query is longer than %u bytes", MATCH_QUERY_MAX);
			continue;
		}
		p.c = c;
		p.q = wl->query ? wl->query : "";
		p.len = len;
		p.wl = w;
		p.q_base = c->q.n;
		lex(&p);
		if (p.tok == T_END) {
			qerr(&p, 0, "empty query");
			continue;
		}
		root = parse_or(&p, MASK_DEFAULT);
		if (root == OOM) {
			return -ENOMEM;
		}
		if (root == NONE || p.failed) {
			continue;
		}
		if (p.tok != T_END) {
			if (p.tok != T_ERR) {
				qerr(&p, p.ts,
				     p.tok == T_RP ? "unmatched ')'"
				                   : "expected AND, OR or the end of the query");
			}
			continue;
		}
		if (!positive(c, root, &bad)) {
			qerr(&p, bad ? bad - 1 : 0,
			     "query can never match: it needs a term that must be present "
			     "(NOT only excludes: write 'x AND NOT y')");
			continue;
		}
		s = satisfiable(c, root, &bad);
		if (s < 0) {
			return s;
		}
		if (!s) {
			qerr(&p, bad - 1,
			     "query can never match: a term is both required and excluded");
			continue;
		}
		roots[w] = root;
		for (size_t i = 0; i < p.n_hints; i++) {
			diag(c, FW_MATCH_WARNING, FW_MATCH_IN_WATCHLIST, w, 0, p.hints[i].off + 1,
			     "%s", p.hints[i].msg);
		}
	}
	return 0;
}
