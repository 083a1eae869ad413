/*
 * match_int.h - private to the watchlist room: what daemon/query.c, daemon/ac.c and
 * daemon/match.c share, as libuv's uv-common.h is for libuv's files. Nothing outside those
 * three files and the room's unit test (tests/unit/test_match.c) includes it; the room's
 * interface is match.h.
 *
 *   query.c  the watchlist language: aliases and query terms made into patterns, the lexer,
 *            the parser and the analysis of queries, with their diagnostics
 *   ac.c     the Aho-Corasick automaton over the patterns, its prefilter and the scan of a
 *            folded field
 *   match.c  compile (the parts put together into one struct fw_matcher), match, explain
 *
 * Here: the room's caps, the compiled matcher, the compile context the parser fills, the
 * occurrences a scan collects, and small helpers used by more than one file. The helpers
 * are static inline so that the scan and NEAR's word starts compile as they did when they
 * were one file.
 */
#ifndef FW_MATCH_INT_H
#define FW_MATCH_INT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <utf8proc.h>

#include "fold.h"
#include "match.h"

#define NONE UINT32_MAX

#define MATCH_QUERY_MAX     8192u      /* bytes of one query */
#define MATCH_ALIAS_MAX     1024u      /* bytes of one alias */
#define MATCH_DEPTH_MAX     64         /* nesting of parentheses and NOTs */
#define MATCH_QNODES_MAX    4096u      /* nodes of one query */
#define MATCH_NEAR_MAX      1000u      /* largest n in NEAR/n */
#define MATCH_NEAR_DEFAULT  10u        /* NEAR without /n */
#define MATCH_OCC_MAX       (1u << 20) /* atom occurrences kept per item */
#define MATCH_SPAN_MAX      4096u      /* candidate spans per NEAR operand */
#define MATCH_SNIPPET_CHARS 100u
#define MATCH_ALIAS_WORDS   256u /* prefix words ('*') in one alias or phrase */
#define PF_RANGES           4u   /* prefilter: ranges of bytes that start a pattern */

enum field_kind { F_TITLE, F_SUMMARY, F_CONTENT, F_AUTHOR, F_CATEGORY, F_KINDS };
#define MASK_ALL     0x1Fu
#define MASK_DEFAULT ((1u << F_TITLE) | (1u << F_SUMMARY) | (1u << F_CONTENT) | (1u << F_CATEGORY))

/* The names of the fields, indexed by enum field_kind: the query's "title:" scopes. */
extern const char *const fw_query_fields[F_KINDS];

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

static inline int grow(void **p, size_t *cap, size_t need, size_t size)
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
static inline void sort_(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
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

/* ------------------------------------------------------------------ text */

static inline int32_t decode_at(const char *s, size_t len, size_t i, size_t *n)
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

static inline int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* ------------------------------------------------------------------ compile context */

/* One pattern of an atom: an entity's alias or a query literal, folded (see query.c). */
struct pentry {
	char *s; /* owned */
	uint32_t len;
	uint32_t hlen;
	uint8_t lead, trail, extend;
	struct atom_ref ref;
};

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

/* ------------------------------------------------------------------ occurrences */

/* One hit of an atom in a folded field: bytes [s, e) of field `field`. */
struct occ {
	uint32_t atom;
	uint32_t alias;
	uint32_t field;
	uint32_t s, e; /* folded bytes */
};

struct occvec {
	struct occ *v;
	size_t n, cap;
};

/* ------------------------------------------------------------------ query.c */

/*
 * Check the entities of c->spec and fold their aliases into c->pe (atom = entity index);
 * fills c->keys for the parser. Errors and warnings go to c's diagnostics. Returns 0 or
 * -ENOMEM. What it adds to c is owned by c (cc_free in match.c).
 */
int fw_query_entities(struct cc *c);

/*
 * Parse and check every watchlist query of c->spec into c->q and c->kids, its literals into
 * c->lits; roots[i] = the root node of watchlist i, or NONE when it has an error (reported
 * to c's diagnostics). Needs fw_query_entities first. Returns 0 or -ENOMEM.
 */
int fw_query_watchlists(struct cc *c, uint32_t *roots);

/* ------------------------------------------------------------------ ac.c */

/*
 * Build m's pattern tables (patterns, variants, tails, references), its automaton and its
 * prefilter from the pattern entries in c->pe of the atoms with used[atom] set; the other
 * entries are freed and dropped, and c->pe is sorted. Returns 0 or -ENOMEM; what it
 * allocates belongs to m (fw_matcher_free) even on failure.
 */
int fw_ac_build(struct fw_matcher *m, struct cc *c, const uint8_t *used);

/*
 * Scan the folded text s[0..len) of field fi: append to occ every occurrence of an atom,
 * at most MATCH_OCC_MAX in all (then it stops quietly). Returns 0 or -ENOMEM (occ keeps
 * what it had found). Reads m only: reentrant.
 */
int fw_ac_scan(const struct fw_matcher *m, uint32_t fi, const uint8_t *s, size_t len,
               struct occvec *occ);

#endif
