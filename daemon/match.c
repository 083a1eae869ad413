/*
 * match.c - watchlists: entities (alias lists) and queries compiled into one immutable
 * matcher; items matched against it. Pure: no I/O, no logging, no mutable globals.
 *
 * Every alias of every entity a query uses, and every bare word or phrase of a query, is
 * folded (fold.c) and becomes one byte pattern; all patterns go into one Aho-Corasick
 * automaton over the folded UTF-8. Word boundaries are part of the patterns: folded text
 * starts and ends with a space and every run of separators is one space, so "Putin"
 * becomes " putin " (whole word), "Путин*" becomes " путин" (word start), "普京" has no
 * spaces (Han needs no boundary) and "푸틴" becomes " 푸틴" (Hangul words take particles).
 *
 * A pattern hit names the atoms (entities or query literals) it stands for; an atom names
 * the watchlists that use it, so only those queries are evaluated for an item.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "fold.h"
#include "match.h"

#define NONE UINT32_MAX

#define MATCH_QUERY_MAX       8192u      /* bytes of one query */
#define MATCH_ALIAS_MAX       1024u      /* bytes of one alias */
#define MATCH_DEPTH_MAX       64         /* nesting of parentheses and NOTs */
#define MATCH_QNODES_MAX      4096u      /* nodes of one query */
#define MATCH_NEAR_MAX        1000u      /* largest n in NEAR/n */
#define MATCH_NEAR_DEFAULT    10u        /* NEAR without /n */
#define MATCH_OCC_MAX         (1u << 20) /* atom occurrences kept per item */
#define MATCH_SPAN_MAX        4096u      /* candidate spans per NEAR operand */
#define MATCH_SNIPPET_CHARS   100u
#define MATCH_ALIAS_WORDS     256u  /* prefix words ('*') in one alias or phrase */
#define MATCH_DENSE_MAX       4096u /* dense 256-entry transition tables */
#define MATCH_DENSE_MIN_EDGES 3u
#define MATCH_DFA_BYTES       (1u << 20)  /* full transition rows of the shallowest states */
#define OUT_BIT               0x80000000u /* in a row entry: the state has output */
#define PF_LONG               8u          /* bytes hashed of a head at least that long */
#define PF_MIN_W              3u          /* shorter heads would pass too many positions */
#define PF_RANGES             4u          /* ranges of bytes that start a pattern */
#define PF_MIN_BITS           16u         /* table size: 64 KiB bits ... */
#define PF_MAX_BITS           22u         /* ... to 4 Mi bits (512 KiB, within L2) */
#define PF_BITS_PER_HEAD      32u         /* at most 1 bit in 32 set, below the cap */

enum field_kind { F_TITLE, F_SUMMARY, F_CONTENT, F_AUTHOR, F_CATEGORY, F_KINDS };
#define MASK_ALL     0x1Fu
#define MASK_DEFAULT ((1u << F_TITLE) | (1u << F_SUMMARY) | (1u << F_CONTENT) | (1u << F_CATEGORY))

static const char *const field_names[F_KINDS] = {"title", "summary", "content", "author",
                                                 "category"};

enum qkind { Q_TERM, Q_AND, Q_OR, Q_NOT, Q_NEAR };

struct qnode {
	uint8_t kind;
	uint8_t mask;      /* TERM: fields it looks at */
	uint16_t near;     /* NEAR: most words between */
	uint32_t a;        /* TERM: atom; NOT: child node; AND/OR/NEAR: first index in kids */
	uint32_t n;        /* AND/OR/NEAR: children */
	uint32_t term_off; /* TERM: the term as written, in the watchlist's query */
	uint32_t term_len;
	uint32_t col; /* 1-based */
};

struct atom_ref {
	uint32_t atom;
	uint32_t alias; /* index in the entity, NONE for a query literal */
};

/* What the automaton finds: a pattern's bytes up to its first '*' (all of it when none). */
struct pattern {
	uint32_t var_start; /* its variants: the patterns that start with these bytes */
	uint32_t n_var;
	uint32_t len;
	uint8_t lead;   /* starts with the boundary space */
	uint8_t trail;  /* ends with the boundary space */
	uint8_t extend; /* prefix or Hangul end: the match runs to the end of the word */
};

/* One whole pattern: the head it shares, then the rest checked from the hit ("* коре"). */
struct variant {
	uint32_t tail_off; /* in the matcher's tail bytes */
	uint32_t tail_len; /* 0: the head is the whole pattern */
	uint32_t ref_start;
	uint32_t n_refs;
	uint8_t extend; /* the last word of the tail runs to the end of its word */
};

struct acnode {
	uint32_t first; /* first child (children are contiguous, in label order) */
	uint32_t fail;
	uint16_t n;     /* children */
	uint16_t dense; /* dense table index, or DENSE_NONE */
	uint8_t label0; /* label of the first child */
	uint8_t has_out;
	uint16_t pad;
};
#define DENSE_NONE 0xFFFFu

struct wl {
	char *name;
	char *query;
	uint32_t root;
};

struct ent {
	char **aliases;
	size_t n;
};

struct fw_matcher {
	struct fw_fold *fold;
	struct acnode *ac;
	uint8_t *label;    /* label[i]: byte on the edge into node i */
	uint32_t *ac_pat;  /* pattern ending at node i, or NONE */
	uint32_t *ac_dict; /* nearest node on the fail chain with a pattern, or NONE */
	size_t n_ac;
	uint32_t *dense;
	/*
	 * The first n_dfa states (breadth first: the shallow, hot ones) also have a complete
	 * row: dfa[state * n_cls + cls[byte]] = next state | OUT_BIT when it has output. Bytes
	 * that occur in no pattern share class 0, which always leads back to the root.
	 */
	uint16_t cls[256];
	uint32_t n_cls;
	uint32_t *dfa;
	uint32_t n_dfa;
	size_t n_dense;
	/*
	 * Prefilter: a bit per hash of the first bytes of every pattern (PF_LONG bytes of a
	 * head that long, pf_ws bytes of a shorter one), in a table sized to the pattern count
	 * so that few bits are set. The scan hashes only the positions whose byte can start a
	 * pattern (pf_lo..pf_hi: a boundary space, the lead bytes of unspaced scripts) and
	 * walks the trie only where a bit is set. pf == NULL (a head under PF_MIN_W bytes):
	 * the plain automaton.
	 */
	uint64_t *pf;
	unsigned pf_bits; /* the table has 1 << pf_bits bits */
	unsigned pf_ws;   /* bytes hashed for heads shorter than PF_LONG, 0 when none */
	uint8_t pf_lo[PF_RANGES], pf_hi[PF_RANGES]; /* byte ranges that start a pattern */
	unsigned pf_nr;                             /* ranges in use, 0: hash every position */
	struct pattern *pats;
	size_t n_pats;
	struct variant *vars;
	size_t n_vars;
	char *tails;
	size_t n_tails;
	struct atom_ref *refs;
	size_t n_refs;
	size_t n_entities;
	size_t n_atoms;
	uint32_t *atom_wl_start; /* n_atoms + 1 */
	uint32_t *atom_wl;
	struct qnode *q;
	size_t n_q;
	uint32_t *kids;
	size_t n_kids;
	struct wl *wls;
	size_t n_wls;
	struct ent *ents;
	size_t memory;
};

/* ------------------------------------------------------------------ small vectors */

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *n;

	if (need <= *cap) {
		return 0;
	}
	while (c < need) {
		c *= 2;
	}
	n = realloc(*p, c * size);
	if (!n) {
		return -ENOMEM;
	}
	*p = n;
	*cap = c;
	return 0;
}

#define VEC(T)                                                                                     \
	struct {                                                                                   \
		T *v;                                                                              \
		size_t n, cap;                                                                     \
	}
/* qsort that accepts an empty (NULL) array */
static void sort_(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1) {
		qsort(base, n, size, cmp);
	}
}

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};
#define VEC_PUSH(vec, x)                                                                           \
	(grow((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof(*(vec).v)) < 0                    \
	     ? -ENOMEM                                                                             \
	     : ((vec).v[(vec).n++] = (x), 0))

/* ------------------------------------------------------------------ patterns */

struct pentry {
	char *s; /* owned */
	uint32_t len;
	uint32_t hlen;
	uint8_t lead, trail, extend;
	struct atom_ref ref;
};

/* A prepared alias or query literal: the folded pattern, or why there is none. */
struct pat_result {
	char *s;
	uint32_t len;
	uint32_t hlen; /* bytes before the first '*': the automaton's part */
	uint8_t lead, trail, extend;
	const char *err;
	size_t err_off; /* byte offset of the error in the source */
};

static int32_t decode_at(const char *s, size_t len, size_t i, size_t *n)
{
	int32_t cp;
	utf8proc_ssize_t k =
	    utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);

	if (k <= 0) {
		*n = 1;
		return 0xFFFD;
	}
	*n = (size_t)k;
	return cp;
}

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

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
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

/* ------------------------------------------------------------------ compile context */

struct ent_key {
	const char *name;
	size_t index;
};

struct lit {
	char *s; /* owned until handed to a pentry */
	uint32_t len;
	uint32_t hlen;
	uint8_t lead, trail, extend;
	uint32_t node; /* the TERM node */
	uint32_t atom; /* canonical atom, set after de-duplication */
};

struct cc {
	const struct fw_match_spec *spec;
	struct fw_fold *fold;
	struct fw_fold_buf fb;
	struct fw_match_diag *diags;
	size_t max_diags;
	size_t n_diags;
	size_t n_errors;
	struct ent_key *keys; /* sorted by name */
	size_t n_keys;
	VEC(struct pentry) pe;
	VEC(struct lit) lits;
	VEC(struct qnode) q;
	VEC(uint32_t) kids;
};

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

/* Check the entities, fold their aliases into pattern entries (atom = entity index). */
static int compile_entities(struct cc *c)
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
				if (strlen(field_names[f]) == k - i &&
				    memcmp(q + i, field_names[f], k - i) == 0) {
					p->tok = T_FIELD;
					p->field = f;
					p->tl = k + 1 - i;
					p->pos = k + 1;
					return;
				}
			}
			qerr(p, i,
			     "unknown field scope%s (fields: title, summary, content, author, "
			     "category; quote the text to match a colon)",
			     "");
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
			char name[80];

			snprintf(name, sizeof(name), "%.*s", (int)(tl > 64 ? 64 : tl - 1),
			         p->q + ts + 1);
			qerr(p, ts, "unknown entity '%s'", name);
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
			     field_names[p->field]);
			return NONE;
		}
		scope = (scope & SCOPED) ? (scope & f) | SCOPED : f | SCOPED;
		lex(p);
		if (p->tok != T_LP && p->tok != T_ENTITY && p->tok != T_WORD &&
		    p->tok != T_PHRASE) {
			if (p->tok != T_ERR) {
				qerr(p, p->tok == T_END ? p->ts : p->ts,
				     "expected a term or '(' after '%s:'",
				     field_names[__builtin_ctz(f)]);
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

	first = kind == Q_AND ? parse_near(p, scope) : parse_list(p, scope, Q_AND);
	if (IS_BAD(first)) {
		return first;
	}
	for (;;) {
		uint32_t ch;

		if (kind == Q_OR && p->tok == T_OR) {
			lex(p);
		} else if (kind == Q_AND && p->tok == T_AND) {
			lex(p);
		} else if (!(kind == Q_AND && starts_operand(p->tok))) {
			break;
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
		if (p->c->q.n - p->q_base > MATCH_QNODES_MAX) {
			free(l.v);
			qerr(p, p->ts, "query has too many terms");
			return NONE;
		}
	}
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
			const struct qnode *nt = &c->q.v[c->q.v[neg.v[i]].a];

			for (size_t k = 0; k < pos.n; k++) {
				const struct qnode *pt = &c->q.v[pos.v[k]];

				if (pt->a == nt->a && (pt->mask & ~nt->mask) == 0) {
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

/* ------------------------------------------------------------------ automaton */

/* Order of the pattern entries: by head, then by the whole pattern, then by reference. */
static int cmp_pentry(const void *a, const void *b)
{
	const struct pentry *x = a, *y = b;
	size_t n = x->hlen < y->hlen ? x->hlen : y->hlen;
	int r = memcmp(x->s, y->s, n);

	if (r) {
		return r;
	}
	if (x->hlen != y->hlen) {
		return x->hlen < y->hlen ? -1 : 1;
	}
	n = x->len < y->len ? x->len : y->len;
	r = memcmp(x->s, y->s, n);
	if (r) {
		return r;
	}
	if (x->len != y->len) {
		return x->len < y->len ? -1 : 1;
	}
	if (x->ref.atom != y->ref.atom) {
		return x->ref.atom < y->ref.atom ? -1 : 1;
	}
	return x->ref.alias < y->ref.alias ? -1 : x->ref.alias > y->ref.alias;
}

struct tnode {
	uint32_t first, last, next;
	uint32_t pat;
	uint8_t label;
};

static inline uint32_t ac_goto(const struct fw_matcher *m, uint32_t s, uint8_t ch)
{
	const struct acnode *n = &m->ac[s];

	if (n->n == 1) {
		return n->label0 == ch ? n->first : NONE;
	}
	for (uint32_t i = 0; i < n->n; i++) {
		uint8_t l = m->label[n->first + i];

		if (l == ch) {
			return n->first + i;
		}
		if (l > ch) {
			break;
		}
	}
	return NONE;
}

static inline uint32_t ac_next(const struct fw_matcher *m, uint32_t s, uint8_t ch)
{
	for (;;) {
		const struct acnode *n = &m->ac[s];
		uint32_t t;

		if (n->dense != DENSE_NONE) {
			return m->dense[(size_t)n->dense * 256 + ch];
		}
		t = ac_goto(m, s, ch);
		if (t != NONE) {
			return t;
		}
		s = n->fail;
	}
}

/*
 * Complete transition rows for the shallowest states, within MATCH_DFA_BYTES: one load per
 * byte there, where a scan spends most of its time, and no fail links to follow.
 */
static int build_dfa(struct fw_matcher *m, char *const *strs, const uint32_t *lens, size_t n)
{
	uint8_t rep[257];
	size_t rows;

	memset(m->cls, 0, sizeof(m->cls));
	m->n_cls = 1;
	rep[0] = 0;
	for (size_t p = 0; p < n; p++) {
		for (uint32_t i = 0; i < lens[p]; i++) {
			uint8_t ch = (uint8_t)strs[p][i];

			if (!m->cls[ch]) {
				rep[m->n_cls] = ch;
				m->cls[ch] = (uint16_t)m->n_cls++;
			}
		}
	}
	rows = MATCH_DFA_BYTES / (m->n_cls * sizeof(uint32_t));
	m->n_dfa = (uint32_t)(rows < m->n_ac ? rows : m->n_ac);
	m->dfa = malloc((size_t)m->n_dfa * m->n_cls * sizeof(*m->dfa));
	if (!m->dfa) {
		return -ENOMEM;
	}
	for (uint32_t st = 0; st < m->n_dfa; st++) {
		uint32_t *row = m->dfa + (size_t)st * m->n_cls;

		row[0] = 0;
		for (uint32_t k = 1; k < m->n_cls; k++) {
			uint32_t t = ac_next(m, st, rep[k]);

			row[k] = t | (m->ac[t].has_out ? OUT_BIT : 0);
		}
	}
	return 0;
}

/*
 * Build the automaton from the sorted, unique patterns strs[i] (lens[i] bytes): a trie
 * built in sorted order (a node's new child is always its last), laid out breadth first
 * so that a node's children are contiguous, then fail links and, for the busiest nodes,
 * dense 256-entry transition tables.
 */
static int build_ac(struct fw_matcher *m, char *const *strs, const uint32_t *lens, size_t n)
{
	VEC(struct tnode) t = {0};
	struct tnode root = {NONE, NONE, NONE, NONE, 0};
	uint32_t *order = NULL, *newid = NULL;
	size_t head, tail;
	int r = -ENOMEM;

	if (VEC_PUSH(t, root) < 0) {
		return -ENOMEM;
	}
	for (size_t p = 0; p < n; p++) {
		uint32_t cur = 0;

		for (uint32_t i = 0; i < lens[p]; i++) {
			uint8_t ch = (uint8_t)strs[p][i];
			uint32_t last = t.v[cur].last;

			if (last != NONE && t.v[last].label == ch) {
				cur = last;
				continue;
			} else {
				struct tnode nn = {NONE, NONE, NONE, NONE, ch};
				uint32_t id = (uint32_t)t.n;

				if (t.n >= OUT_BIT - 2 || VEC_PUSH(t, nn) < 0) {
					goto out;
				}
				if (last == NONE) {
					t.v[cur].first = id;
				} else {
					t.v[last].next = id;
				}
				t.v[cur].last = id;
				cur = id;
			}
		}
		t.v[cur].pat = (uint32_t)p;
	}
	order = malloc(t.n * sizeof(*order));
	newid = malloc(t.n * sizeof(*newid));
	m->ac = calloc(t.n, sizeof(*m->ac));
	m->label = calloc(t.n, 1);
	m->ac_pat = malloc(t.n * sizeof(*m->ac_pat));
	m->ac_dict = malloc(t.n * sizeof(*m->ac_dict));
	if (!order || !newid || !m->ac || !m->label || !m->ac_pat || !m->ac_dict) {
		goto out;
	}
	m->n_ac = t.n;
	order[0] = 0;
	newid[0] = 0;
	head = 0;
	tail = 1;
	while (head < tail) {
		uint32_t old = order[head], nid = (uint32_t)head;
		struct acnode *a = &m->ac[nid];

		head++;
		a->first = (uint32_t)tail;
		a->n = 0;
		m->ac_pat[nid] = t.v[old].pat;
		a->dense = DENSE_NONE;
		for (uint32_t ch = t.v[old].first; ch != NONE; ch = t.v[ch].next) {
			newid[ch] = (uint32_t)tail;
			m->label[tail] = t.v[ch].label;
			order[tail++] = ch;
			a->n++;
		}
		a->label0 = a->n ? m->label[a->first] : 0;
	}
	/* choose dense nodes: the root, then nodes with several children, breadth first */
	{
		size_t nd = 0;

		for (size_t i = 0; i < m->n_ac && nd < MATCH_DENSE_MAX; i++) {
			if (i == 0 || m->ac[i].n >= MATCH_DENSE_MIN_EDGES) {
				nd++;
			}
		}
		m->dense = malloc(nd * 256 * sizeof(*m->dense));
		if (!m->dense) {
			goto out;
		}
	}
	m->ac[0].fail = 0;
	m->ac_dict[0] = NONE;
	for (size_t i = 0; i < m->n_ac; i++) {
		struct acnode *a = &m->ac[i];

		if (i > 0) {
			m->ac_dict[i] = m->ac_pat[a->fail] != NONE ? a->fail : m->ac_dict[a->fail];
		}
		a->has_out = m->ac_pat[i] != NONE || m->ac_dict[i] != NONE;
		if ((i == 0 || a->n >= MATCH_DENSE_MIN_EDGES) && m->n_dense < MATCH_DENSE_MAX) {
			uint32_t *d = m->dense + m->n_dense * 256;

			for (unsigned ch = 0; ch < 256; ch++) {
				uint32_t g = ac_goto(m, (uint32_t)i, (uint8_t)ch);

				if (g == NONE) {
					g = i == 0 ? 0 : ac_next(m, a->fail, (uint8_t)ch);
				}
				d[ch] = g;
			}
			a->dense = (uint16_t)m->n_dense++;
		}
		for (uint32_t k = 0; k < a->n; k++) {
			uint32_t c = a->first + k;

			m->ac[c].fail = i == 0 ? 0 : ac_next(m, a->fail, m->label[c]);
		}
	}
	if (build_dfa(m, strs, lens, n) < 0) {
		goto out;
	}
	r = 0;
out:
	free(t.v);
	free(order);
	free(newid);
	return r;
}

/* ------------------------------------------------------------------ compile */

static int cmp_u32pair(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	if (x[0] != y[0]) {
		return x[0] < y[0] ? -1 : 1;
	}
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int cmp_lit(const void *a, const void *b)
{
	const struct lit *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->s, y->s, n);

	if (r) {
		return r;
	}
	return x->len < y->len ? -1 : x->len > y->len;
}

static void collect_atoms(const struct cc *c, uint32_t id, int neg, uint32_t wl,
                          struct u32vec *pairs, int *err)
{
	const struct qnode *n = &c->q.v[id];

	switch (n->kind) {
	case Q_TERM:
		if (!neg && (VEC_PUSH(*pairs, n->a) < 0 || VEC_PUSH(*pairs, wl) < 0)) {
			*err = -ENOMEM;
		}
		return;
	case Q_NOT:
		collect_atoms(c, n->a, !neg, wl, pairs, err);
		return;
	default:
		for (uint32_t i = 0; i < n->n; i++) {
			collect_atoms(c, c->kids.v[n->a + i], neg, wl, pairs, err);
		}
		return;
	}
}

static void cc_free(struct cc *c)
{
	for (size_t i = 0; i < c->pe.n; i++) {
		free(c->pe.v[i].s);
	}
	free(c->pe.v);
	for (size_t i = 0; i < c->lits.n; i++) {
		free(c->lits.v[i].s);
	}
	free(c->lits.v);
	free(c->q.v);
	free(c->kids.v);
	free(c->keys);
	fw_fold_buf_clear(&c->fb);
}

/* Parse every watchlist's query into c->q; roots[i] = root node or NONE. */
static int parse_watchlists(struct cc *c, uint32_t *roots)
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
	}
	return 0;
}

/* Give literal terms canonical atoms (one per distinct pattern), after the entities. */
static int dedupe_literals(struct cc *c, size_t *n_atoms)
{
	size_t atom = c->spec->n_entities;

	sort_(c->lits.v, c->lits.n, sizeof(*c->lits.v), cmp_lit);
	for (size_t i = 0; i < c->lits.n; i++) {
		struct lit *l = &c->lits.v[i];

		if (i > 0 && cmp_lit(&c->lits.v[i - 1], l) == 0) {
			l->atom = c->lits.v[i - 1].atom;
		} else {
			l->atom = (uint32_t)atom++;
		}
		c->q.v[l->node].a = l->atom;
	}
	for (size_t i = 0; i < c->lits.n; i++) {
		struct lit *l = &c->lits.v[i];
		struct pentry pe;

		if (i > 0 && c->lits.v[i - 1].atom == l->atom) {
			continue;
		}
		pe.s = l->s;
		pe.len = l->len;
		pe.hlen = l->hlen;
		pe.lead = l->lead;
		pe.trail = l->trail;
		pe.extend = l->extend;
		pe.ref.atom = l->atom;
		pe.ref.alias = NONE;
		if (VEC_PUSH(c->pe, pe) < 0) {
			return -ENOMEM;
		}
		l->s = NULL;
	}
	*n_atoms = atom;
	return 0;
}

/* Hash of the first w (1..8) bytes of an 8-byte window, to `bits` bits. */
static inline uint32_t pf_hash(uint64_t v, unsigned w, unsigned bits)
{
	v &= UINT64_MAX >> (64 - 8 * w);
	return (uint32_t)((v * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

static inline uint64_t load8(const uint8_t *s)
{
	uint64_t v;

	memcpy(&v, s, 8);
	return le64toh(v);
}

static inline int pf_bit(const uint64_t *pf, uint32_t h)
{
	return (int)(pf[h >> 6] >> (h & 63) & 1);
}

/* Whether a pattern may start at s (8 readable bytes; those past the text are zero). */
static inline int pf_pass(const struct fw_matcher *m, const uint8_t *s)
{
	uint64_t v = load8(s);

	return pf_bit(m->pf, pf_hash(v, PF_LONG, m->pf_bits)) ||
	       (m->pf_ws && pf_bit(m->pf, pf_hash(v, m->pf_ws, m->pf_bits)));
}

/* Whether byte c may start a pattern (every byte when there are no ranges). */
static inline int pf_starts(const struct fw_matcher *m, uint8_t c)
{
	for (unsigned k = 0; k < m->pf_nr; k++) {
		if ((uint8_t)(c - m->pf_lo[k]) <= (uint8_t)(m->pf_hi[k] - m->pf_lo[k])) {
			return 1;
		}
	}
	return m->pf_nr == 0;
}

/*
 * The prefilter, unless a head is shorter than PF_MIN_W bytes: the table (about
 * PF_BITS_PER_HEAD bits per head, within PF_MIN_BITS..PF_MAX_BITS), then the ranges of the
 * bytes heads start with: their runs, the two closest merged until PF_RANGES are left.
 */
static int build_prefilter(struct fw_matcher *m, char *const *strs, const uint32_t *lens)
{
	uint8_t first[256] = {0}, lo[256], hi[256];
	unsigned ws = PF_LONG, bits = PF_MIN_BITS, nr = 0, covered = 0;

	for (size_t i = 0; i < m->n_pats; i++) {
		if (lens[i] < PF_MIN_W) {
			return 0;
		}
		ws = lens[i] < ws ? lens[i] : ws;
		first[(uint8_t)strs[i][0]] = 1;
	}
	if (m->n_pats == 0) {
		return 0;
	}
	while (bits < PF_MAX_BITS && ((size_t)1 << bits) < m->n_pats * PF_BITS_PER_HEAD) {
		bits++;
	}
	m->pf = calloc(((size_t)1 << bits) / 64, sizeof(*m->pf));
	if (!m->pf) {
		return -ENOMEM;
	}
	m->pf_bits = bits;
	m->pf_ws = ws < PF_LONG ? ws : 0;
	for (size_t i = 0; i < m->n_pats; i++) {
		uint8_t b[8] = {0};
		unsigned w = lens[i] >= PF_LONG ? PF_LONG : m->pf_ws;
		uint32_t h;

		memcpy(b, strs[i], w);
		h = pf_hash(load8(b), w, bits);
		m->pf[h >> 6] |= (uint64_t)1 << (h & 63);
	}
	for (unsigned c = 0; c < 256; c++) {
		if (first[c] && nr && hi[nr - 1] == c - 1) {
			hi[nr - 1] = (uint8_t)c;
		} else if (first[c]) {
			lo[nr] = hi[nr] = (uint8_t)c;
			nr++;
		}
	}
	while (nr > PF_RANGES) {
		unsigned best = 0;

		for (unsigned k = 1; k + 1 < nr; k++) {
			if (lo[k + 1] - hi[k] < lo[best + 1] - hi[best]) {
				best = k;
			}
		}
		hi[best] = hi[best + 1];
		memmove(lo + best + 1, lo + best + 2, nr - best - 2);
		memmove(hi + best + 1, hi + best + 2, nr - best - 2);
		nr--;
	}
	for (unsigned k = 0; k < nr; k++) {
		m->pf_lo[k] = lo[k];
		m->pf_hi[k] = hi[k];
		covered += (unsigned)(hi[k] - lo[k]) + 1;
	}
	m->pf_nr = covered < 256 ? nr : 0;
	return 0;
}

/*
 * Patterns from the pattern entries of used atoms: one automaton pattern per distinct head,
 * one variant per distinct whole pattern, then the references; then the automaton.
 */
static int build_patterns(struct fw_matcher *m, struct cc *c, const uint8_t *used)
{
	char **strs = NULL;
	uint32_t *lens = NULL;
	size_t k = 0, tail_bytes = 0;
	int r = -ENOMEM;

	for (size_t i = 0; i < c->pe.n; i++) {
		if (used[c->pe.v[i].ref.atom]) {
			tail_bytes += c->pe.v[i].len - c->pe.v[i].hlen;
			c->pe.v[k++] = c->pe.v[i];
		} else {
			free(c->pe.v[i].s);
		}
	}
	c->pe.n = k;
	sort_(c->pe.v, c->pe.n, sizeof(*c->pe.v), cmp_pentry);
	m->refs = malloc((c->pe.n + 1) * sizeof(*m->refs));
	m->pats = malloc((c->pe.n + 1) * sizeof(*m->pats));
	m->vars = malloc((c->pe.n + 1) * sizeof(*m->vars));
	m->tails = malloc(tail_bytes + 1);
	strs = malloc((c->pe.n + 1) * sizeof(*strs));
	lens = malloc((c->pe.n + 1) * sizeof(*lens));
	if (!m->refs || !m->pats || !m->vars || !m->tails || !strs || !lens) {
		goto out;
	}
	for (size_t i = 0; i < c->pe.n; i++) {
		const struct pentry *e = &c->pe.v[i], *prev = i ? &c->pe.v[i - 1] : NULL;
		struct variant *v;

		if (!prev || e->hlen != prev->hlen || memcmp(e->s, prev->s, e->hlen) != 0) {
			struct pattern *p = &m->pats[m->n_pats];

			p->var_start = (uint32_t)m->n_vars;
			p->n_var = 0;
			p->len = e->hlen;
			p->lead = e->lead;
			/* a head that ends before a '*' ends with a prefix word */
			p->trail = e->hlen == e->len ? e->trail : 0;
			p->extend = e->hlen == e->len ? e->extend : 1;
			strs[m->n_pats] = e->s;
			lens[m->n_pats] = e->hlen;
			m->n_pats++;
			prev = NULL;
		}
		if (!prev || e->len != prev->len || memcmp(e->s, prev->s, e->len) != 0) {
			v = &m->vars[m->n_vars++];
			v->tail_off = (uint32_t)m->n_tails;
			v->tail_len = e->len - e->hlen;
			v->ref_start = (uint32_t)m->n_refs;
			v->n_refs = 0;
			v->extend = e->extend;
			memcpy(m->tails + m->n_tails, e->s + e->hlen, v->tail_len);
			m->n_tails += v->tail_len;
			m->pats[m->n_pats - 1].n_var++;
		} else if (e->ref.atom == prev->ref.atom) {
			continue; /* the same entity twice: keep its first alias */
		}
		m->refs[m->n_refs++] = e->ref;
		m->vars[m->n_vars - 1].n_refs++;
	}
	r = build_ac(m, strs, lens, m->n_pats);
	if (r == 0) {
		r = build_prefilter(m, strs, lens);
	}
out:
	free(strs);
	free(lens);
	return r;
}

static char *dupstr(const char *s)
{
	return strdup(s ? s : "");
}

static int copy_spec(struct fw_matcher *m, const struct fw_match_spec *sp, const uint32_t *roots)
{
	m->wls = calloc(sp->n_watchlists + 1, sizeof(*m->wls));
	m->ents = calloc(sp->n_entities + 1, sizeof(*m->ents));
	if (!m->wls || !m->ents) {
		return -ENOMEM;
	}
	m->n_entities = sp->n_entities;
	for (size_t i = 0; i < sp->n_entities; i++) {
		const struct fw_match_entity *e = &sp->entities[i];

		m->ents[i].aliases = calloc(e->n_aliases + 1, sizeof(char *));
		if (!m->ents[i].aliases) {
			return -ENOMEM;
		}
		m->ents[i].n = e->n_aliases;
		for (size_t k = 0; k < e->n_aliases; k++) {
			m->ents[i].aliases[k] = dupstr(e->aliases[k]);
			if (!m->ents[i].aliases[k]) {
				return -ENOMEM;
			}
		}
	}
	m->n_wls = sp->n_watchlists;
	for (size_t i = 0; i < sp->n_watchlists; i++) {
		m->wls[i].name = dupstr(sp->watchlists[i].name);
		m->wls[i].query = dupstr(sp->watchlists[i].query);
		m->wls[i].root = roots[i];
		if (!m->wls[i].name || !m->wls[i].query) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* atom -> watchlists that use it outside NOT, as compressed rows. */
static int build_atom_index(struct fw_matcher *m, const struct cc *c, uint8_t *used)
{
	struct u32vec pairs = {0};
	int err = 0;
	size_t k = 0;

	for (size_t w = 0; w < m->n_wls; w++) {
		collect_atoms(c, m->wls[w].root, 0, (uint32_t)w, &pairs, &err);
	}
	if (err) {
		free(pairs.v);
		return err;
	}
	sort_(pairs.v, pairs.n / 2, 2 * sizeof(uint32_t), cmp_u32pair);
	m->atom_wl_start = calloc(m->n_atoms + 1, sizeof(uint32_t));
	m->atom_wl = malloc((pairs.n / 2 + 1) * sizeof(uint32_t));
	if (!m->atom_wl_start || !m->atom_wl) {
		free(pairs.v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < pairs.n; i += 2) {
		if (i > 0 && pairs.v[i] == pairs.v[i - 2] && pairs.v[i + 1] == pairs.v[i - 1]) {
			continue;
		}
		m->atom_wl[k++] = pairs.v[i + 1];
		m->atom_wl_start[pairs.v[i] + 1]++;
	}
	for (size_t a = 0; a < m->n_atoms; a++) {
		m->atom_wl_start[a + 1] += m->atom_wl_start[a];
	}
	/* atoms under NOT only need to be found too */
	for (size_t i = 0; i < c->q.n; i++) {
		if (c->q.v[i].kind == Q_TERM && c->q.v[i].a != NONE) {
			used[c->q.v[i].a] = 1;
		}
	}
	free(pairs.v);
	return 0;
}

/*
 * Compile entities and watchlists into one matcher. Diagnostics go to diags (max_diags
 * kept, *n_diags counts all). Returns 0 and a new matcher in *out (free with
 * fw_matcher_free) when there was no error; -EINVAL when there were errors; -ENOMEM.
 */
int fw_match_compile(const struct fw_match_spec *spec, struct fw_matcher **out,
                     struct fw_match_diag *diags, size_t max_diags, size_t *n_diags)
{
	struct cc c = {0};
	struct fw_matcher *m = NULL;
	uint32_t *roots = NULL;
	uint8_t *used = NULL;
	int r = -ENOMEM;

	c.spec = spec;
	c.diags = diags;
	c.max_diags = max_diags;
	m = calloc(1, sizeof(*m));
	roots = calloc(spec->n_watchlists + 1, sizeof(*roots));
	if (!m || !roots || fw_fold_new(&m->fold) < 0) {
		goto out;
	}
	c.fold = m->fold;
	if ((r = compile_entities(&c)) < 0 || (r = parse_watchlists(&c, roots)) < 0) {
		goto out;
	}
	if (c.n_errors) {
		r = -EINVAL;
		goto out;
	}
	r = -ENOMEM;
	if (dedupe_literals(&c, &m->n_atoms) < 0 || copy_spec(m, spec, roots) < 0) {
		goto out;
	}
	used = calloc(m->n_atoms + 1, 1);
	if (!used || (r = build_atom_index(m, &c, used)) < 0 ||
	    (r = build_patterns(m, &c, used)) < 0) {
		r = r < 0 ? r : -ENOMEM;
		goto out;
	}
	/* the query trees move into the matcher */
	m->q = c.q.v;
	m->n_q = c.q.n;
	m->kids = c.kids.v;
	m->n_kids = c.kids.n;
	c.q.v = NULL;
	c.kids.v = NULL;
	m->memory = sizeof(*m) + fw_fold_memory(m->fold) + m->n_ac * (sizeof(*m->ac) + 9) +
	            m->n_dense * 256 * sizeof(uint32_t) +
	            (size_t)m->n_dfa * m->n_cls * sizeof(uint32_t) +
	            (m->pf ? ((size_t)1 << m->pf_bits) / 8 : 0) + m->n_pats * sizeof(*m->pats) +
	            m->n_vars * sizeof(*m->vars) + m->n_tails + m->n_refs * sizeof(*m->refs) +
	            (m->n_atoms + 1) * sizeof(uint32_t) + m->n_q * sizeof(*m->q) +
	            m->n_kids * sizeof(uint32_t);
	*out = m;
	m = NULL;
	r = 0;
out:
	if (n_diags) {
		*n_diags = c.n_diags;
	}
	cc_free(&c);
	free(roots);
	free(used);
	fw_matcher_free(m);
	return r;
}

/* Free a matcher. Accepts NULL; returns NULL. */
struct fw_matcher *fw_matcher_free(struct fw_matcher *m)
{
	if (!m) {
		return NULL;
	}
	fw_fold_free(m->fold);
	free(m->ac);
	free(m->label);
	free(m->ac_pat);
	free(m->ac_dict);
	free(m->dense);
	free(m->dfa);
	free(m->pf);
	free(m->pats);
	free(m->vars);
	free(m->tails);
	free(m->refs);
	free(m->atom_wl_start);
	free(m->atom_wl);
	free(m->q);
	free(m->kids);
	for (size_t i = 0; m->wls && i < m->n_wls; i++) {
		free(m->wls[i].name);
		free(m->wls[i].query);
	}
	free(m->wls);
	for (size_t i = 0; m->ents && i < m->n_entities; i++) {
		for (size_t k = 0; m->ents[i].aliases && k < m->ents[i].n; k++) {
			free(m->ents[i].aliases[k]);
		}
		free(m->ents[i].aliases);
	}
	free(m->ents);
	free(m);
	return NULL;
}

/* Number of watchlists in the matcher. */
size_t fw_matcher_watchlists(const struct fw_matcher *m)
{
	return m ? m->n_wls : 0;
}

/* Name of watchlist i (owned by the matcher), or NULL when out of range. */
const char *fw_matcher_watchlist_name(const struct fw_matcher *m, size_t i)
{
	return m && i < m->n_wls ? m->wls[i].name : NULL;
}

/* Approximate bytes held by the matcher's tables. */
size_t fw_matcher_memory(const struct fw_matcher *m)
{
	return m ? m->memory : 0;
}

/* Number of distinct patterns in the automaton and its states (for benchmarks). */
void fw_matcher_stats(const struct fw_matcher *m, size_t *patterns, size_t *states)
{
	*patterns = m ? m->n_pats : 0;
	*states = m ? m->n_ac : 0;
}

/* ------------------------------------------------------------------ matching */

struct occ {
	uint32_t atom;
	uint32_t alias;
	uint32_t field;
	uint32_t s, e; /* folded bytes */
};

struct fld {
	const char *text;
	size_t len;
	unsigned kind;
	struct fw_fold_buf fb;
	struct fw_fold_buf mb; /* the same with the offset map, made for explanations */
	uint32_t *ws;          /* word starts, computed for NEAR */
	size_t n_ws;
	int ws_done;
};

struct span {
	uint32_t field, s, e;
};

struct mctx {
	const struct fw_matcher *m;
	struct fld *f;
	size_t n_f;
	VEC(struct occ) occ;
	struct fw_match_result *res;
	size_t explain_cap;
	uint32_t wl;
	int err;
};

static int cmp_occ(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;

	if (x->atom != y->atom) {
		return x->atom < y->atom ? -1 : 1;
	}
	if (x->field != y->field) {
		return x->field < y->field ? -1 : 1;
	}
	if (x->s != y->s) {
		return x->s < y->s ? -1 : 1;
	}
	return x->e < y->e ? -1 : x->e > y->e;
}

/* Transition from a state without a complete row; returns next state | OUT_BIT. */
static uint32_t slow_next(const struct fw_matcher *m, uint32_t st, uint8_t ch)
{
	uint32_t t;

	for (;;) {
		const struct acnode *n;

		if (st < m->n_dfa) {
			return m->dfa[(size_t)st * m->n_cls + m->cls[ch]];
		}
		n = &m->ac[st];
		if (n->n == 1 && n->label0 == ch) {
			t = n->first;
			break;
		}
		if (n->dense != DENSE_NONE) {
			t = m->dense[(size_t)n->dense * 256 + ch];
			break;
		}
		t = ac_goto(m, st, ch);
		if (t != NONE) {
			break;
		}
		st = n->fail;
	}
	return t | (m->ac[t].has_out ? OUT_BIT : 0);
}

/*
 * Word ends already found in one field: a prefix hit runs to the end of its word, and
 * several patterns (or the words of one pattern's tail) may ask for the same word. Keeping
 * the last few answers bounds the scanning to about once per word, whatever the patterns.
 */
struct wend {
	uint32_t from[4], to[4];
	unsigned next;
};

static uint32_t word_end(const uint8_t *s, size_t len, uint32_t at, struct wend *w)
{
	uint32_t e = at;

	for (unsigned i = 0; i < 4; i++) {
		if (w->from[i] <= at && at <= w->to[i]) {
			return w->to[i];
		}
	}
	while (e < len && s[e] != ' ') {
		e++;
	}
	w->from[w->next] = at;
	w->to[w->next] = e;
	w->next = (w->next + 1) & 3;
	return e;
}

/*
 * Check the tail of a pattern ("* коре", "* jong il ") against the folded text from e, the
 * end of the head's (prefix) word. Each word must follow after exactly one space (folded
 * text has one space between words); a word followed by '*' runs to the end of its word.
 * Returns the end of the match, or NONE. Costs at most the tail's length plus word ends.
 */
static uint32_t tail_end(const uint8_t *s, size_t len, uint32_t e, const struct fw_matcher *m,
                         const struct variant *v, struct wend *w)
{
	const char *t = m->tails + v->tail_off;
	uint32_t tl = v->tail_len, k = 1; /* t[0] is the head's '*' */

	while (k < tl) {
		uint32_t wl = 0;

		/* t[k] is the space before a word, or the final boundary space */
		if (e >= len || s[e] != ' ') {
			return NONE;
		}
		if (++k == tl) {
			return e;
		}
		e++;
		while (k + wl < tl && t[k + wl] != ' ' && t[k + wl] != '*') {
			wl++;
		}
		if (len - e < wl || memcmp(s + e, t + k, wl) != 0) {
			return NONE;
		}
		e += wl;
		k += wl;
		if (k < tl && t[k] == '*') {
			e = word_end(s, len, e, w);
			k++;
		}
	}
	return v->extend ? word_end(s, len, e, w) : e;
}

/*
 * Record the occurrences of pattern pi whose head ends at byte `end` of folded field fi.
 * Returns 0, 1 when the occurrence cap is reached (stop scanning), or -ENOMEM.
 */
static int emit(struct mctx *x, uint32_t fi, const uint8_t *s, size_t len, uint32_t pi, size_t end,
                struct wend *we)
{
	const struct fw_matcher *m = x->m;
	const struct pattern *p = &m->pats[pi];
	uint32_t hs = (uint32_t)end - p->len + p->lead;
	uint32_t he = (uint32_t)end - p->trail;

	if (p->extend) {
		he = word_end(s, len, he, we);
	}
	for (uint32_t vi = p->var_start; vi < p->var_start + p->n_var; vi++) {
		const struct variant *v = &m->vars[vi];
		struct occ oc;

		oc.field = fi;
		oc.s = hs;
		oc.e = v->tail_len ? tail_end(s, len, he, m, v, we) : he;
		if (oc.e == NONE) {
			continue;
		}
		for (uint32_t r = 0; r < v->n_refs; r++) {
			oc.atom = m->refs[v->ref_start + r].atom;
			oc.alias = m->refs[v->ref_start + r].alias;
			if (x->occ.n >= MATCH_OCC_MAX) {
				return 1;
			}
			if (VEC_PUSH(x->occ, oc) < 0) {
				return -ENOMEM;
			}
		}
	}
	return 0;
}

static inline uint32_t next_state(const struct fw_matcher *m, uint32_t st, uint8_t ch)
{
	return st < m->n_dfa ? m->dfa[(size_t)st * m->n_cls + m->cls[ch]] : slow_next(m, st, ch);
}

/*
 * The patterns that start at byte p: walk the trie's own edges from the root (a transition
 * to a node that is not a child of the current one left the trie).
 */
static int walk_from(struct mctx *x, uint32_t fi, const uint8_t *s, size_t len, size_t p,
                     struct wend *we)
{
	const struct fw_matcher *m = x->m;
	uint32_t st = 0;

	for (size_t i = p; i < len; i++) {
		uint32_t t = next_state(m, st, s[i]) & ~OUT_BIT;
		int r;

		if (t - m->ac[st].first >= m->ac[st].n) {
			break;
		}
		st = t;
		if (m->ac_pat[st] != NONE &&
		    (r = emit(x, fi, s, len, m->ac_pat[st], i + 1, we)) != 0) {
			return r;
		}
	}
	return 0;
}

#ifdef __SSE2__
/* The bytes of v in [lo, lo + span] (unsigned). */
static inline __m128i in_urange16(__m128i v, __m128i lo, __m128i span)
{
	__m128i d = _mm_sub_epi8(v, lo);

	return _mm_cmpeq_epi8(_mm_min_epu8(d, span), d);
}
#endif

/*
 * Scan with the prefilter: at every position whose byte may start a pattern (16 tested at
 * once), hash the next bytes and walk the trie where the table says a pattern may start.
 */
static int scan_filtered(struct mctx *x, uint32_t fi, const uint8_t *s, size_t len)
{
	const struct fw_matcher *m = x->m;
	struct wend we = {{0}, {0}, 0};
	size_t p = 0;
	int r;

#ifdef __SSE2__
	if (m->pf_nr) {
		__m128i lo[PF_RANGES], span[PF_RANGES];

		for (unsigned k = 0; k < PF_RANGES; k++) {
			unsigned j = k < m->pf_nr ? k : 0; /* unused ones repeat the first */

			lo[k] = _mm_set1_epi8((char)m->pf_lo[j]);
			span[k] = _mm_set1_epi8((char)(m->pf_hi[j] - m->pf_lo[j]));
		}
		/* every position of the block has 8 bytes to hash */
		for (; p + 16 + PF_LONG - 1 <= len; p += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + p));
			unsigned mask = (unsigned)_mm_movemask_epi8(
			    _mm_or_si128(_mm_or_si128(in_urange16(v, lo[0], span[0]),
			                              in_urange16(v, lo[1], span[1])),
			                 _mm_or_si128(in_urange16(v, lo[2], span[2]),
			                              in_urange16(v, lo[3], span[3]))));

			while (mask) {
				size_t q = p + (size_t)__builtin_ctz(mask);

				mask &= mask - 1;
				if (pf_pass(m, s + q) &&
				    (r = walk_from(x, fi, s, len, q, &we)) != 0) {
					return r;
				}
			}
		}
	}
#endif
	for (; p < len; p++) {
		uint8_t b[PF_LONG] = {0};
		const uint8_t *at = s + p;

		if (!pf_starts(m, s[p])) {
			continue;
		}
		if (len - p < PF_LONG) {
			memcpy(b, at, len - p);
			at = b;
		}
		if (pf_pass(m, at) && (r = walk_from(x, fi, s, len, p, &we)) != 0) {
			return r;
		}
	}
	return 0;
}

/* Scan with the automaton: one transition per byte, every output on the way. */
static int scan_automaton(struct mctx *x, uint32_t fi, const uint8_t *s, size_t len)
{
	const struct fw_matcher *m = x->m;
	const uint32_t *dfa = m->dfa;
	const uint16_t *cls = m->cls;
	const uint32_t n_dfa = m->n_dfa, n_cls = m->n_cls;
	uint32_t st = 0;
	struct wend we = {{0}, {0}, 0};

	for (size_t i = 0; i < len; i++) {
		uint32_t nx;

		if (st == 0) {
			/* at the root most bytes lead back to it: skip them in a tight loop */
			while (i < len && dfa[cls[s[i]]] == 0) {
				i++;
			}
			if (i == len) {
				break;
			}
			nx = dfa[cls[s[i]]];
		} else if (st < n_dfa) {
			nx = dfa[(size_t)st * n_cls + cls[s[i]]];
		} else {
			nx = slow_next(m, st, s[i]);
		}
		st = nx & ~OUT_BIT;
		if (!(nx & OUT_BIT)) {
			continue;
		}
		for (uint32_t o = m->ac_pat[st] != NONE ? st : m->ac_dict[st]; o != NONE;
		     o = m->ac_dict[o]) {
			int r = emit(x, fi, s, len, m->ac_pat[o], i + 1, &we);

			if (r != 0) {
				return r;
			}
		}
	}
	return 0;
}

static int scan_field(struct mctx *x, uint32_t fi)
{
	const struct fw_matcher *m = x->m;
	struct fld *f = &x->f[fi];
	int r;

	if (fw_fold_text(m->fold, f->text, f->len, &f->fb, 0) < 0) {
		return -ENOMEM;
	}
	r = m->pf ? scan_filtered(x, fi, (const uint8_t *)f->fb.s, f->fb.len)
	          : scan_automaton(x, fi, (const uint8_t *)f->fb.s, f->fb.len);
	return r < 0 ? r : 0;
}

/* Index of the first occurrence of atom, or x->occ.n. */
static size_t occ_first(const struct mctx *x, uint32_t atom)
{
	size_t lo = 0, hi = x->occ.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->occ.v[mid].atom < atom) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* First occurrence of the term in its fields (within [s, e) of field fi when fi != NONE). */
static const struct occ *term_occ(const struct mctx *x, const struct qnode *n, uint32_t fi,
                                  uint32_t s, uint32_t e)
{
	for (size_t i = occ_first(x, n->a); i < x->occ.n && x->occ.v[i].atom == n->a; i++) {
		const struct occ *o = &x->occ.v[i];

		if (!(n->mask & (1u << x->f[o->field].kind))) {
			continue;
		}
		if (fi != NONE && (o->field != fi || o->s < s || o->e > e)) {
			continue;
		}
		return o;
	}
	return NULL;
}

/*
 * Whether the folded character at s[i] starts a word: after a space, or any character of a
 * script without spaces; never a combining mark. Folded text holds only letters, digits and
 * single spaces in ASCII, and no unspaced script below U+0800.
 */
static int starts_word(const char *s, size_t len, size_t i)
{
	size_t k;
	enum fw_fold_class c;

	if ((unsigned char)s[i] < 0x80) {
		return s[i] != ' ' && s[i - 1] == ' ';
	}
	if ((unsigned char)s[i] < 0xE0 && s[i - 1] != ' ') {
		return 0;
	}
	c = fw_fold_class_of(decode_at(s, len, i, &k));
	return c != FW_FOLD_MARK && (s[i - 1] == ' ' || c == FW_FOLD_CJK);
}

/* The word starts of a folded field (which starts with a space), once. */
static int word_starts(struct fld *f)
{
	const char *s = f->fb.s;
	size_t len = f->fb.len, n = 0, i = 1;

	if (f->ws_done) {
		return 0;
	}
	f->ws = malloc((len + 1) * sizeof(*f->ws));
	if (!f->ws) {
		return -ENOMEM;
	}
#ifdef __SSE2__
	/* only the bytes after a space and the lead bytes of three or more are candidates */
	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i pv = _mm_loadu_si128((const __m128i *)(const void *)(s + i - 1));
		__m128i sp = _mm_set1_epi8(' ');
		unsigned cand = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(pv, sp)),
		                 _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8((char)0xE0)), v)));

		while (cand) {
			size_t at = i + (size_t)__builtin_ctz(cand);

			cand &= cand - 1;
			if (starts_word(s, len, at)) {
				f->ws[n++] = (uint32_t)at;
			}
		}
	}
#endif
	for (; i < len; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && starts_word(s, len, i)) {
			f->ws[n++] = (uint32_t)i;
		}
	}
	f->n_ws = n;
	f->ws_done = 1;
	return 0;
}

/* Index of the word that holds byte pos. */
static size_t word_index(const struct fld *f, uint32_t pos)
{
	size_t lo = 0, hi = f->n_ws;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->ws[mid] <= pos) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo ? lo - 1 : 0;
}

static size_t words_between(const struct fld *f, const struct span *a, const struct span *b)
{
	size_t ia, ib;

	if (a->s > b->s) {
		const struct span *t = a;

		a = b;
		b = t;
	}
	if (a->e > b->s) {
		return 0;
	}
	ia = word_index(f, a->e - 1);
	ib = word_index(f, b->s);
	return ib > ia + 1 ? ib - ia - 1 : 0;
}

struct spanvec {
	struct span *v;
	size_t n, cap;
};

static int spans(struct mctx *x, uint32_t id, struct spanvec *out)
{
	const struct fw_matcher *m = x->m;
	const struct qnode *n = &m->q[id];

	switch (n->kind) {
	case Q_TERM:
		for (size_t i = occ_first(x, n->a);
		     i < x->occ.n && x->occ.v[i].atom == n->a && out->n < MATCH_SPAN_MAX; i++) {
			const struct occ *o = &x->occ.v[i];
			struct span sp = {o->field, o->s, o->e};

			if ((n->mask & (1u << x->f[o->field].kind)) && VEC_PUSH(*out, sp) < 0) {
				return -ENOMEM;
			}
		}
		return 0;
	case Q_OR:
		for (uint32_t i = 0; i < n->n; i++) {
			if (spans(x, m->kids[n->a + i], out) < 0) {
				return -ENOMEM;
			}
		}
		return 0;
	case Q_NEAR: {
		struct spanvec l = {0}, r = {0};
		int rc = 0;

		if (spans(x, m->kids[n->a], &l) < 0 || spans(x, m->kids[n->a + 1], &r) < 0) {
			rc = -ENOMEM;
		}
		for (size_t i = 0; rc == 0 && i < l.n; i++) {
			for (size_t k = 0; rc == 0 && k < r.n && out->n < MATCH_SPAN_MAX; k++) {
				struct fld *f = &x->f[l.v[i].field];
				struct span sp;

				if (l.v[i].field != r.v[k].field) {
					continue;
				}
				if (word_starts(f) < 0) {
					rc = -ENOMEM;
					break;
				}
				if (words_between(f, &l.v[i], &r.v[k]) > n->near) {
					continue;
				}
				sp.field = l.v[i].field;
				sp.s = l.v[i].s < r.v[k].s ? l.v[i].s : r.v[k].s;
				sp.e = l.v[i].e > r.v[k].e ? l.v[i].e : r.v[k].e;
				if (VEC_PUSH(*out, sp) < 0) {
					rc = -ENOMEM;
				}
			}
		}
		free(l.v);
		free(r.v);
		return rc;
	}
	default:
		return 0;
	}
}

/* Truth of node id for the item; errors land in x->err (and read as false). */
static int eval(struct mctx *x, uint32_t id)
{
	const struct fw_matcher *m = x->m;
	const struct qnode *n = &m->q[id];

	switch (n->kind) {
	case Q_TERM:
		return term_occ(x, n, NONE, 0, 0) != NULL;
	case Q_NOT:
		return !eval(x, n->a);
	case Q_AND:
		for (uint32_t i = 0; i < n->n; i++) {
			if (!eval(x, m->kids[n->a + i])) {
				return 0;
			}
		}
		return 1;
	case Q_OR:
		for (uint32_t i = 0; i < n->n; i++) {
			if (eval(x, m->kids[n->a + i])) {
				return 1;
			}
		}
		return 0;
	case Q_NEAR:
	default: {
		struct spanvec v = {0};
		int r;

		if (spans(x, id, &v) < 0) {
			x->err = -ENOMEM;
		}
		r = v.n > 0;
		free(v.v);
		return r;
	}
	}
}

static char *snippet(const char *t, size_t len, size_t os, size_t oe)
{
	size_t chars = 0, ctx, a = os, b = oe, k = 0;
	char *out;
	int space = 0;

	for (size_t i = os; i < oe; i++) {
		chars += ((unsigned char)t[i] & 0xC0) != 0x80;
	}
	ctx = chars >= MATCH_SNIPPET_CHARS - 20 ? 10 : (MATCH_SNIPPET_CHARS - chars) / 2;
	for (size_t i = 0; i < ctx && a > 0; i++) {
		a--;
		while (a > 0 && ((unsigned char)t[a] & 0xC0) == 0x80) {
			a--;
		}
	}
	for (size_t i = 0; i < ctx && b < len; i++) {
		b += fw_fold_u8len(t + b, len - b);
	}
	if (b > len) {
		b = len;
	}
	out = malloc(b - a + 8);
	if (!out) {
		return NULL;
	}
	if (a > 0) {
		memcpy(out, "\xe2\x80\xa6", 3); /* … */
		k = 3;
	}
	for (size_t i = a; i < b; i++) {
		if (is_space(t[i])) {
			space = 1;
			continue;
		}
		if (space && k > 0 && !(k == 3 && a > 0)) {
			out[k++] = ' ';
		}
		space = 0;
		out[k++] = t[i];
	}
	if (b < len) {
		memcpy(out + k, "\xe2\x80\xa6", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

static int add_explain(struct mctx *x, const struct qnode *n, const struct occ *o)
{
	const struct fw_matcher *m = x->m;
	struct fw_match_result *res = x->res;
	struct fld *f = &x->f[o->field];
	struct fw_match_explain *e;
	const char *q = m->wls[x->wl].query;
	size_t os, last, oe;

	for (size_t i = 0; i < res->n_explain; i++) {
		e = &res->explain[i];
		if (e->watchlist == x->wl && strlen(e->term) == n->term_len &&
		    memcmp(e->term, q + n->term_off, n->term_len) == 0) {
			return 0; /* one entry per term */
		}
	}
	/* the offset map is made only as far as explanations need it */
	if ((!f->mb.map || f->mb.len < o->e) &&
	    fw_fold_text_prefix(m->fold, f->text, f->len, &f->mb,
	                        f->mb.map ? SIZE_MAX : (size_t)o->e + 256) < 0) {
		return -ENOMEM;
	}
	os = f->mb.map[o->s];
	last = f->mb.map[o->e - 1];
	oe = last + fw_fold_u8len(f->text + last, f->len - last);
	if (grow((void **)&res->explain, &x->explain_cap, res->n_explain + 1,
	         sizeof(*res->explain)) < 0) {
		return -ENOMEM;
	}
	e = &res->explain[res->n_explain];
	memset(e, 0, sizeof(*e));
	e->watchlist = x->wl;
	e->field = field_names[f->kind];
	e->term = strndup(q + n->term_off, n->term_len);
	e->alias = o->alias != NONE ? strdup(m->ents[o->atom].aliases[o->alias])
	                            : strndup(q + n->term_off, n->term_len);
	e->text = strndup(f->text + os, oe - os);
	e->snippet = snippet(f->text, f->len, os, oe);
	res->n_explain++;
	if (!e->term || !e->alias || !e->text || !e->snippet) {
		return -ENOMEM;
	}
	return 0;
}

/* Explanations for the leaves of a NEAR, within the span that satisfied it. */
static int explain_in_span(struct mctx *x, uint32_t id, const struct span *sp)
{
	const struct fw_matcher *m = x->m;
	const struct qnode *n = &m->q[id];

	if (n->kind == Q_TERM) {
		const struct occ *o = term_occ(x, n, sp->field, sp->s, sp->e);

		return o ? add_explain(x, n, o) : 0;
	}
	for (uint32_t i = 0; i < n->n; i++) {
		if (explain_in_span(x, m->kids[n->a + i], sp) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static int explain(struct mctx *x, uint32_t id)
{
	const struct fw_matcher *m = x->m;
	const struct qnode *n = &m->q[id];

	switch (n->kind) {
	case Q_TERM: {
		const struct occ *o = term_occ(x, n, NONE, 0, 0);

		return o ? add_explain(x, n, o) : 0;
	}
	case Q_NOT:
		/* NOT terms explain nothing; NOT NOT x is x */
		return m->q[n->a].kind == Q_NOT ? explain(x, m->q[n->a].a) : 0;
	case Q_AND:
	case Q_OR:
		for (uint32_t i = 0; i < n->n; i++) {
			uint32_t k = m->kids[n->a + i];

			if ((n->kind == Q_AND || eval(x, k)) && explain(x, k) < 0) {
				return -ENOMEM;
			}
		}
		return 0;
	case Q_NEAR:
	default: {
		struct spanvec v = {0};
		int r = spans(x, id, &v);

		if (r == 0 && v.n > 0) {
			r = explain_in_span(x, id, &v.v[0]);
		}
		free(v.v);
		return r;
	}
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Match one item against every watchlist. res is cleared first, then holds the matching
 * watchlists (ascending) and the explanations. Returns 0 or -ENOMEM (res cleared).
 * Reentrant: the matcher is only read.
 */
int fw_match_item(const struct fw_matcher *m, const struct fw_item *item,
                  struct fw_match_result *res)
{
	struct mctx x = {0};
	VEC(uint32_t) cand = {0};
	size_t wcap = 0;
	int r = -ENOMEM;

	fw_match_result_clear(res);
	x.m = m;
	x.res = res;
	x.n_f = 4 + item->n_categories;
	x.f = calloc(x.n_f, sizeof(*x.f));
	if (!x.f) {
		return -ENOMEM;
	}
	x.f[0].text = item->title;
	x.f[0].kind = F_TITLE;
	x.f[1].text = item->summary;
	x.f[1].kind = F_SUMMARY;
	x.f[2].text = item->content;
	x.f[2].kind = F_CONTENT;
	x.f[3].text = item->author;
	x.f[3].kind = F_AUTHOR;
	for (size_t i = 0; i < item->n_categories; i++) {
		x.f[4 + i].text = item->categories[i];
		x.f[4 + i].kind = F_CATEGORY;
	}
	for (size_t i = 0; i < x.n_f; i++) {
		if (!x.f[i].text) {
			x.f[i].text = "";
		}
		x.f[i].len = strlen(x.f[i].text);
		if (x.f[i].len > FW_FOLD_INPUT_MAX) {
			x.f[i].len = FW_FOLD_INPUT_MAX;
		}
		if (m->n_pats && x.f[i].len && scan_field(&x, (uint32_t)i) < 0) {
			goto out;
		}
	}
	if (x.occ.n == 0) {
		r = 0;
		goto out;
	}
	sort_(x.occ.v, x.occ.n, sizeof(*x.occ.v), cmp_occ);
	for (size_t i = 0; i < x.occ.n; i++) {
		uint32_t a = x.occ.v[i].atom;

		if (i > 0 && x.occ.v[i - 1].atom == a) {
			continue;
		}
		for (uint32_t k = m->atom_wl_start[a]; k < m->atom_wl_start[a + 1]; k++) {
			if (VEC_PUSH(cand, m->atom_wl[k]) < 0) {
				goto out;
			}
		}
	}
	sort_(cand.v, cand.n, sizeof(*cand.v), cmp_u32);
	for (size_t i = 0; i < cand.n; i++) {
		uint32_t w = cand.v[i];

		if (i > 0 && cand.v[i - 1] == w) {
			continue;
		}
		x.wl = w;
		if (!eval(&x, m->wls[w].root)) {
			if (x.err) {
				goto out;
			}
			continue;
		}
		if (grow((void **)&res->watchlists, &wcap, res->n_watchlists + 1,
		         sizeof(*res->watchlists)) < 0 ||
		    explain(&x, m->wls[w].root) < 0 || x.err) {
			goto out;
		}
		res->watchlists[res->n_watchlists++] = w;
	}
	r = 0;
out:
	for (size_t i = 0; i < x.n_f; i++) {
		fw_fold_buf_clear(&x.f[i].fb);
		fw_fold_buf_clear(&x.f[i].mb);
		free(x.f[i].ws);
	}
	free(x.f);
	free(x.occ.v);
	free(cand.v);
	if (r < 0) {
		fw_match_result_clear(res);
	}
	return r;
}

/* Free what a result holds and zero it. */
void fw_match_result_clear(struct fw_match_result *res)
{
	if (!res) {
		return;
	}
	for (size_t i = 0; i < res->n_explain; i++) {
		free(res->explain[i].term);
		free(res->explain[i].alias);
		free(res->explain[i].text);
		free(res->explain[i].snippet);
	}
	free(res->explain);
	free(res->watchlists);
	memset(res, 0, sizeof(*res));
}
