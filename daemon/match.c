/*
 * match.c - watchlists: entities (alias lists) and queries compiled into one immutable
 * matcher; items matched against it, with explanations. Pure: no I/O, no logging, no
 * mutable globals.
 *
 * Every alias of every entity a query uses, and every bare word or phrase of a query, is
 * folded (fold.c) and becomes one byte pattern (query.c, which also parses the queries);
 * all patterns go into one Aho-Corasick automaton over the folded UTF-8 (ac.c). This file
 * puts the parts together into the matcher, evaluates the queries of an item on the
 * occurrences the scan found, and explains the matches. The three files share
 * match_int.h; match.h is the room's interface.
 *
 * A pattern hit names the atoms (entities or query literals) it stands for; an atom names
 * the watchlists that use it, so only those queries are evaluated for an item.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "fold.h"
#include "match.h"
#include "match_int.h"

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
	if ((r = fw_query_entities(&c)) < 0 || (r = fw_query_watchlists(&c, roots)) < 0) {
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
	    (r = fw_ac_build(m, &c, used)) < 0) {
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
	struct occvec occ;
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

/* Fold field fi and scan it for atoms. Returns 0 or -ENOMEM. */
static int scan_field(struct mctx *x, uint32_t fi)
{
	const struct fw_matcher *m = x->m;
	struct fld *f = &x->f[fi];

	if (fw_fold_text(m->fold, f->text, f->len, &f->fb, 0) < 0) {
		return -ENOMEM;
	}
	return fw_ac_scan(m, fi, (const uint8_t *)f->fb.s, f->fb.len, &x->occ);
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
	e->field = fw_query_fields[f->kind];
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
/* The entities whose aliases occur in the title, summary or content (x->occ sorted by
   atom; entity atoms come first, atom = entity index) into x->res. 0 or -ENOMEM. */
static int entities_seen(struct mctx *x)
{
	struct fw_match_result *res = x->res;
	size_t cap = 0;

	for (size_t i = 0; i < x->occ.n; i++) {
		const struct occ *o = &x->occ.v[i];

		if (o->atom >= x->m->n_entities || o->alias == NONE ||
		    x->f[o->field].kind > F_CONTENT ||
		    (res->n_entities > 0 && res->entities[res->n_entities - 1] == o->atom)) {
			continue;
		}
		if (grow((void **)&res->entities, &cap, res->n_entities + 1,
		         sizeof(*res->entities)) < 0) {
			return -ENOMEM;
		}
		res->entities[res->n_entities++] = o->atom;
	}
	return 0;
}

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
	if (entities_seen(&x) < 0) {
		goto out;
	}
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
	free(res->entities);
	memset(res, 0, sizeof(*res));
}

/* ------------------------------------------------------------------ word queries */

/* A growing string for fw_match_words. */
struct wbuf {
	char *s;
	size_t len, cap;
	struct fw_fold_buf fb;
};

static int wput(struct wbuf *b, const char *s, size_t n)
{
	if (grow((void **)&b->s, &b->cap, b->len + n + 1, 1) < 0) {
		return -ENOMEM;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
	return 0;
}

/* A folded word that an index of space-separated words holds as it is: not of a script
   written without spaces, nor Hangul (whose words take particles: the matcher finds a
   word at the start of a longer one). */
static int word_indexable(const char *w, size_t n)
{
	for (size_t i = 0, k; i < n; i += k) {
		enum fw_fold_class cl = fw_fold_class_of(decode_at(w, n, i, &k));

		if (cl == FW_FOLD_CJK || cl == FW_FOLD_HANGUL) {
			return 0;
		}
	}
	return 1;
}

/*
 * One alias or literal as written (words, '*' ending a word: a prefix) made an FTS5
 * expression over folded words: the words of every piece ANDed, each folded as the matcher
 * folds, a starred piece's last word a prefix. 1 when it cannot be said that way (a word
 * of a script written without spaces, Hangul, or no word at all), 0, or -ENOMEM.
 */
static int alias_words(const struct fw_matcher *m, const char *s, size_t len, struct wbuf *b)
{
	size_t i = 0, n_words = 0;

	while (i < len) {
		size_t start, end;
		int star;

		while (i < len && (is_space(s[i]) || s[i] == '"')) {
			i++;
		}
		start = i;
		while (i < len && !is_space(s[i]) && s[i] != '"') {
			i++;
		}
		end = i;
		star = end > start && s[end - 1] == '*';
		if (end - star <= start) {
			continue;
		}
		if (fw_fold_text(m->fold, s + start, end - star - start, &b->fb, 0) < 0) {
			return -ENOMEM;
		}
		for (size_t p = 0; p < b->fb.len;) {
			size_t q = p;
			int r = 0;

			while (q < b->fb.len && b->fb.s[q] != ' ') {
				q++;
			}
			if (q > p) {
				int last = q + 1 >= b->fb.len;

				if (!word_indexable(b->fb.s + p, q - p)) {
					return 1;
				}
				r = (n_words++ ? wput(b, " AND \"", 6) : wput(b, "\"", 1));
				r = r ? r : wput(b, b->fb.s + p, q - p);
				r = r ? r
				      : wput(b, star && last ? "\"*" : "\"", star && last ? 2 : 1);
				if (r < 0) {
					return r;
				}
			}
			p = q + 1;
		}
	}
	return n_words == 0;
}

/* The FTS5 expression of query node `node` of watchlist w appended to b: 1 when the node
   cannot narrow the candidates (NOT, or a term that cannot be said in words), 0, or
   -ENOMEM. */
static int node_words(const struct fw_matcher *m, const struct wl *w, uint32_t node, struct wbuf *b)
{
	const struct qnode *n = &m->q[node];
	size_t mark = b->len, kept = 0;
	int r = 0;

	if (n->kind == Q_NOT) {
		return 1;
	}
	if (n->kind == Q_TERM && n->a >= m->n_entities) {
		r = wput(b, "(", 1);
		r = r ? r : alias_words(m, w->query + n->term_off, n->term_len, b);
		r = r ? r : wput(b, ")", 1);
	} else if (n->kind == Q_TERM) {
		const struct ent *e = &m->ents[n->a];

		r = wput(b, "(", 1);
		for (size_t i = 0; r == 0 && i < e->n; i++) {
			r = i ? wput(b, " OR (", 5) : wput(b, "(", 1);
			r = r ? r : alias_words(m, e->aliases[i], strlen(e->aliases[i]), b);
			r = r ? r : wput(b, ")", 1);
		}
		r = r ? r : e->n == 0 ? 1 : wput(b, ")", 1);
	} else {
		/* AND and NEAR: every part must hold, so any part that narrows narrows the whole */
		int any = n->kind == Q_OR;

		r = wput(b, "(", 1);
		for (uint32_t k = 0; r == 0 && k < n->n; k++) {
			size_t before = b->len;
			const char *op = any ? " OR " : " AND ";

			r = kept ? wput(b, op, strlen(op)) : 0;
			r = r ? r : node_words(m, w, m->kids[n->a + k], b);
			if (r == 1 && !any) {
				b->len = before; /* an AND part that cannot narrow: left out */
				b->s[b->len] = 0;
				r = 0;
				continue;
			}
			kept += r == 0;
		}
		r = r ? r : kept == 0 ? 1 : wput(b, ")", 1);
	}
	if (r != 0) {
		b->len = mark;
		if (b->s) {
			b->s[mark] = 0;
		}
	}
	return r;
}

/* See match.h. */
int fw_match_words(const struct fw_matcher *m, size_t wl, char **out)
{
	struct wbuf b = {0};
	int r;

	*out = NULL;
	if (wl >= m->n_wls || m->wls[wl].root == NONE) {
		return 0;
	}
	r = node_words(m, &m->wls[wl], m->wls[wl].root, &b);
	fw_fold_buf_clear(&b.fb);
	if (r == 0) {
		*out = b.s;
		return 0;
	}
	free(b.s);
	return r < 0 ? r : 0;
}
