/*
 * ac.c - the Aho-Corasick automaton over the folded patterns of a matcher, its prefilter,
 * and the scan of one folded field for the occurrences of atoms. Pure: no I/O, no logging.
 *
 * Patterns come from query.c (an alias or a query literal, folded, with its boundary
 * spaces); the automaton looks for each pattern's head (its bytes up to the first '*'), and
 * a hit is checked against the pattern's variants (the rest of the pattern, read from the
 * hit) before it names its atoms. match.c evaluates the queries on what the scan found.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "match.h"
#include "match_int.h"

#define MATCH_DENSE_MAX       4096u /* dense 256-entry transition tables */
#define MATCH_DENSE_MIN_EDGES 3u
#define MATCH_DFA_BYTES       (1u << 20)  /* full transition rows of the shallowest states */
#define OUT_BIT               0x80000000u /* in a row entry: the state has output */
#define PF_LONG               8u          /* bytes hashed of a head at least that long */
#define PF_MIN_W              3u          /* shorter heads would pass too many positions */
#define PF_MIN_BITS           16u         /* table size: 64 KiB bits ... */
#define PF_MAX_BITS           22u         /* ... to 4 Mi bits (512 KiB, within L2) */
#define PF_BITS_PER_HEAD      32u         /* at most 1 bit in 32 set, below the cap */

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

struct tnodevec {
	struct tnode *v;
	size_t n, cap;
};

/*
 * The trie of the sorted, unique patterns strs[i] (lens[i] bytes), built in sorted order:
 * a node's new child is always its last. Returns 0 or -ENOMEM (t holds what was built).
 */
static int build_trie(struct tnodevec *t, char *const *strs, const uint32_t *lens, size_t n)
{
	struct tnode root = {NONE, NONE, NONE, NONE, 0};

	if (VEC_PUSH(*t, root) < 0) {
		return -ENOMEM;
	}
	for (size_t p = 0; p < n; p++) {
		uint32_t cur = 0;

		for (uint32_t i = 0; i < lens[p]; i++) {
			uint8_t ch = (uint8_t)strs[p][i];
			uint32_t last = t->v[cur].last;

			if (last != NONE && t->v[last].label == ch) {
				cur = last;
				continue;
			} else {
				struct tnode nn = {NONE, NONE, NONE, NONE, ch};
				uint32_t id = (uint32_t)t->n;

				if (t->n >= OUT_BIT - 2 || VEC_PUSH(*t, nn) < 0) {
					return -ENOMEM;
				}
				if (last == NONE) {
					t->v[cur].first = id;
				} else {
					t->v[last].next = id;
				}
				t->v[cur].last = id;
				cur = id;
			}
		}
		t->v[cur].pat = (uint32_t)p;
	}
	return 0;
}

/*
 * Fail links, output links and, for the root and then the nodes with several children
 * (breadth first, up to MATCH_DENSE_MAX), dense 256-entry transition tables.
 */
static int build_links(struct fw_matcher *m)
{
	size_t nd = 0;

	for (size_t i = 0; i < m->n_ac && nd < MATCH_DENSE_MAX; i++) {
		if (i == 0 || m->ac[i].n >= MATCH_DENSE_MIN_EDGES) {
			nd++;
		}
	}
	m->dense = malloc(nd * 256 * sizeof(*m->dense));
	if (!m->dense) {
		return -ENOMEM;
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
	return 0;
}

/*
 * Build the automaton from the sorted, unique patterns strs[i] (lens[i] bytes): the trie,
 * laid out breadth first so that a node's children are contiguous, then its links and
 * dense tables, then the complete rows of the shallowest states.
 */
static int build_ac(struct fw_matcher *m, char *const *strs, const uint32_t *lens, size_t n)
{
	struct tnodevec t = {0};
	uint32_t *order = NULL, *newid = NULL;
	size_t head, tail;
	int r = -ENOMEM;

	if (build_trie(&t, strs, lens, n) < 0) {
		goto out;
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
	if (build_links(m) < 0 || build_dfa(m, strs, lens, n) < 0) {
		goto out;
	}
	r = 0;
out:
	free(t.v);
	free(order);
	free(newid);
	return r;
}

/* ------------------------------------------------------------------ prefilter */

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

/* ------------------------------------------------------------------ the matcher's patterns */

/*
 * Patterns from the pattern entries of used atoms: one automaton pattern per distinct head,
 * one variant per distinct whole pattern, then the references; then the automaton and the
 * prefilter. Returns 0 or -ENOMEM; the tables belong to m.
 */
int fw_ac_build(struct fw_matcher *m, struct cc *c, const uint8_t *used)
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

/* ------------------------------------------------------------------ scan */

/* One scan of one field: the matcher, and the occurrences found (the caller's, moved in). */
struct scan {
	const struct fw_matcher *m;
	struct occvec occ;
};

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
static int emit(struct scan *x, uint32_t fi, const uint8_t *s, size_t len, uint32_t pi, size_t end,
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
static int walk_from(struct scan *x, uint32_t fi, const uint8_t *s, size_t len, size_t p,
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
static int scan_filtered(struct scan *x, uint32_t fi, const uint8_t *s, size_t len)
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
static int scan_automaton(struct scan *x, uint32_t fi, const uint8_t *s, size_t len)
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

/*
 * Scan one folded field for the occurrences of atoms, with the prefilter when the matcher
 * has one. Returns 0 (also when the occurrence cap stopped it) or -ENOMEM.
 */
int fw_ac_scan(const struct fw_matcher *m, uint32_t fi, const uint8_t *s, size_t len,
               struct occvec *occ)
{
	struct scan x = {m, *occ};
	int r;

	r = m->pf ? scan_filtered(&x, fi, s, len) : scan_automaton(&x, fi, s, len);
	*occ = x.occ;
	return r < 0 ? r : 0;
}
