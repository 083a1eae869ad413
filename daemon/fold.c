/*
 * fold.c - text normalisation for the watchlist matcher.
 *
 * Every code point goes through utf8proc's NFKD decomposition with full case folding
 * (U+00DF -> "ss", fullwidth -> ASCII, ligatures split), then the combining marks of the
 * diacritic blocks (Latin, Greek, Cyrillic, Hebrew, Arabic) are dropped: "ö" -> "o",
 * "й" -> "и", "ё" -> "е". Other marks are kept (Indic vowel signs, the kana voicing marks:
 * "が" stays "か"+U+3099, so it never equals "か"). Hangul syllables are kept whole (not split
 * into jamo), which is what NFKC would give. Decomposing per code point keeps a map from
 * each output byte to its input character, for explanations.
 *
 * The results for the Basic Multilingual Plane are computed once, so folding a field costs
 * one table look-up per character (ASCII: a 128-byte table, no utf8proc call; runs of ASCII
 * and Russian letters 16 bytes at a time, see text_block); other planes call utf8proc
 * directly.
 *
 * The table is process-wide: built once, on first use, under pthread_once, and never
 * changed after, so it is shared read-only by every matcher and thread (a compile no
 * longer pays about 70 ms for its own copy). It is the only global of the matcher and it
 * is immutable; it lives until the process ends.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "fold.h"
#include "text.h" /* fw_text_in_range16 (SSE2) */

#define FOLD_MAX_OUT 32 /* longest decomposition is 18 code points (U+FDFA) */
/* room one input character may need: a space + 4 bytes per output, the final space, NUL */
#define FOLD_PER_CP (5 * FOLD_MAX_OUT + 8)

struct fold_ent {
	uint32_t a;   /* n == 1: the UTF-8 bytes, first byte lowest; else pool offset */
	uint8_t n;    /* output code points; 0 = dropped */
	uint8_t cls;  /* n == 1: enum fw_fold_class */
	uint8_t blen; /* n == 1: bytes in a */
	uint8_t pad;
};

struct fw_fold {
	uint8_t ascii[128]; /* folded letter or digit, 0 for a separator */
	/*
	 * The big blocks that fold to themselves (CJK Unified Ideographs, Hangul syllables),
	 * when the table says so: their characters are copied without a table look-up (the
	 * table is 512 KiB; text in these scripts would touch it all over).
	 */
	uint8_t same_han, same_hangul;
	uint8_t same_cyr; /* the Cyrillic letters text_block folds fold so in the table */
	struct fold_ent bmp[0x10000];
	uint32_t *pool; /* code point | class << 24 */
	size_t n_pool;
};

static int in_ranges(int32_t cp, const int32_t (*r)[2], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (cp >= r[i][0] && cp <= r[i][1]) {
			return 1;
		}
	}
	return 0;
}

static const int32_t cjk_ranges[][2] = {
    {0x0E00, 0x0EFF}, {0x1000, 0x109F}, {0x1780, 0x17FF},   {0x19E0, 0x19FF},
    {0x2E80, 0x2FDF}, {0x3005, 0x3007}, {0x3021, 0x3029},   {0x3038, 0x303C},
    {0x3040, 0x30FF}, {0x31F0, 0x31FF}, {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},
    {0xF900, 0xFAFF}, {0xFF66, 0xFF9F}, {0x1B000, 0x1B16F}, {0x20000, 0x3134F},
};

static const int32_t hangul_ranges[][2] = {
    {0x1100, 0x11FF}, {0x3130, 0x318F}, {0xA960, 0xA97F}, {0xAC00, 0xD7FF}, {0xFFA0, 0xFFDC},
};

/* Combining marks that are diacritics: removed. */
static const int32_t strip_ranges[][2] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05C7}, {0x0610, 0x061A},
    {0x064B, 0x065F}, {0x0670, 0x0670}, {0x06D6, 0x06ED}, {0x1AB0, 0x1AFF},
    {0x1DC0, 0x1DFF}, {0x20D0, 0x20FF}, {0xFE20, 0xFE2F},
};

/*
 * Class of a folded code point. Returns an enum fw_fold_class; pure.
 */
enum fw_fold_class fw_fold_class_of(int32_t cp)
{
	if (cp < 0x80) {
		if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		    (cp >= '0' && cp <= '9')) {
			return FW_FOLD_WORD;
		}
		return FW_FOLD_SEP;
	}
	if (cp >= 0x4E00 && cp <= 0x9FFF) {
		return FW_FOLD_CJK; /* the common ideographs, all letters: no table look-up */
	}
	if (cp >= 0xAC00 && cp <= 0xD7A3) {
		return FW_FOLD_HANGUL;
	}
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		if (in_ranges(cp, cjk_ranges, sizeof(cjk_ranges) / sizeof(cjk_ranges[0]))) {
			return FW_FOLD_CJK;
		}
		if (in_ranges(cp, hangul_ranges,
		              sizeof(hangul_ranges) / sizeof(hangul_ranges[0]))) {
			return FW_FOLD_HANGUL;
		}
		return FW_FOLD_WORD;
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
		return FW_FOLD_MARK;
	case UTF8PROC_CATEGORY_CF:
		return FW_FOLD_IGNORE;
	default:
		return FW_FOLD_SEP;
	}
}

/* Fold one input code point into out[] (code point | class << 24); returns the count. */
static size_t fold_cp(int32_t cp, uint32_t *out)
{
	utf8proc_int32_t buf[FOLD_MAX_OUT];
	utf8proc_ssize_t k;
	int bc = 0;
	size_t n = 0;

	if (cp >= 0xAC00 && cp <= 0xD7A3) {
		out[0] = (uint32_t)cp | (uint32_t)FW_FOLD_HANGUL << 24;
		return 1;
	}
	if (cp == 0x00AD || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF) {
		return 0;
	}
	k = utf8proc_decompose_char(cp, buf, FOLD_MAX_OUT,
	                            UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_DECOMPOSE, &bc);
	if (k < 0 || k > FOLD_MAX_OUT) {
		out[0] = 0x20 | (uint32_t)FW_FOLD_SEP << 24;
		return 1;
	}
	for (utf8proc_ssize_t i = 0; i < k; i++) {
		int32_t o = buf[i];
		enum fw_fold_class c = fw_fold_class_of(o);

		if (c == FW_FOLD_IGNORE) {
			continue;
		}
		if (c == FW_FOLD_MARK &&
		    in_ranges(o, strip_ranges, sizeof(strip_ranges) / sizeof(strip_ranges[0]))) {
			continue;
		}
		if (c == FW_FOLD_SEP) {
			o = 0x20;
		}
		out[n++] = (uint32_t)o | (uint32_t)c << 24;
	}
	return n;
}

static uint32_t pack_utf8(int32_t cp, uint8_t *blen)
{
	uint8_t b[4];
	utf8proc_ssize_t n = utf8proc_encode_char(cp, b);
	uint32_t v = 0;

	for (utf8proc_ssize_t i = n; i-- > 0;) {
		v = v << 8 | b[i];
	}
	*blen = (uint8_t)n;
	return v;
}

/* Whether every character of lo..hi folds to itself, of class cls. */
static uint8_t same_block(const struct fw_fold *f, int32_t lo, int32_t hi, int cls)
{
	for (int32_t cp = lo; cp <= hi; cp++) {
		const struct fold_ent *e = &f->bmp[cp];
		uint8_t bl;

		if (e->n != 1 || e->cls != cls || e->a != pack_utf8(cp, &bl)) {
			return 0;
		}
	}
	return 1;
}

/*
 * Whether the table folds the two-byte Cyrillic letters text_block takes as it does:
 * А-П, Р-Я, а-п, р-я (not Ё, Й, й), є, і, ї to one word character of two bytes.
 */
static uint8_t cyr_block_ok(const struct fw_fold *f)
{
	for (int32_t cp = 0x410; cp <= 0x457; cp++) {
		const struct fold_ent *e = &f->bmp[cp];
		int32_t want = cp;
		uint8_t bl;

		if (cp == 0x419 || cp == 0x439 || (cp >= 0x450 && cp != 0x454 && cp < 0x456)) {
			continue; /* Й, й; ѐ-ѓ, ѕ: not taken */
		}
		if (cp < 0x430) {
			want = cp + 0x20; /* А-Я -> а-я */
		} else if (cp == 0x457) {
			want = 0x456; /* ї -> і */
		}
		if (e->n != 1 || e->cls != FW_FOLD_WORD || e->blen != 2 ||
		    e->a != pack_utf8(want, &bl)) {
			return 0;
		}
	}
	return 1;
}

static int fold_build(struct fw_fold **out)
{
	struct fw_fold *f = calloc(1, sizeof(*f));
	size_t cap = 4096;

	if (!f) {
		return -ENOMEM;
	}
	f->pool = malloc(cap * sizeof(*f->pool));
	if (!f->pool) {
		free(f);
		return -ENOMEM;
	}
	for (int32_t cp = 0; cp < 0x10000; cp++) {
		uint32_t o[FOLD_MAX_OUT];
		size_t n;
		struct fold_ent *e = &f->bmp[cp];

		if (cp >= 0xD800 && cp <= 0xDFFF) {
			e->n = 1;
			e->cls = FW_FOLD_SEP;
			e->a = pack_utf8(0x20, &e->blen);
			continue;
		}
		n = fold_cp(cp, o);
		if (cp < 0x80) {
			f->ascii[cp] = n == 1 && (o[0] >> 24) == FW_FOLD_WORD ? (uint8_t)o[0] : 0;
		}
		e->n = (uint8_t)n;
		if (n == 1) {
			e->cls = (uint8_t)(o[0] >> 24);
			e->a = pack_utf8((int32_t)(o[0] & 0xFFFFFF), &e->blen);
		} else if (n > 1) {
			if (f->n_pool + n > cap) {
				uint32_t *p;

				cap *= 2;
				p = realloc(f->pool, cap * sizeof(*p));
				if (!p) {
					free(f->pool);
					free(f);
					return -ENOMEM;
				}
				f->pool = p;
			}
			e->a = (uint32_t)f->n_pool;
			memcpy(f->pool + f->n_pool, o, n * sizeof(*o));
			f->n_pool += n;
		}
	}
	f->same_han = same_block(f, 0x4E00, 0x9FFF, FW_FOLD_CJK);
	f->same_hangul = same_block(f, 0xAC00, 0xD7A3, FW_FOLD_HANGUL);
	f->same_cyr = cyr_block_ok(f);
	*out = f;
	return 0;
}

static pthread_once_t fold_once = PTHREAD_ONCE_INIT;
static struct fw_fold *fold_shared; /* written once under fold_once, read-only after */

static void fold_build_once(void)
{
	struct fw_fold *f = NULL;

	if (fold_build(&f) == 0) {
		fold_shared = f;
	}
}

/*
 * The folding tables: the process-wide immutable table, built on the first call (thread
 * safe). Returns 0 and the table in *out (fw_fold_free on it is a no-op), or -ENOMEM when
 * it could not be built (then every later call fails too).
 */
int fw_fold_new(struct fw_fold **out)
{
	pthread_once(&fold_once, fold_build_once);
	if (!fold_shared) {
		return -ENOMEM;
	}
	*out = fold_shared;
	return 0;
}

/* Bytes held by the tables. */
size_t fw_fold_memory(const struct fw_fold *f)
{
	return f ? sizeof(*f) + f->n_pool * sizeof(*f->pool) : 0;
}

/* Release a reference to the tables: the shared table stays. Accepts NULL; returns NULL. */
struct fw_fold *fw_fold_free(struct fw_fold *f)
{
	(void)f;
	return NULL;
}

/* Release a buffer's memory and zero it. */
void fw_fold_buf_clear(struct fw_fold_buf *b)
{
	free(b->s);
	free(b->map);
	memset(b, 0, sizeof(*b));
}

/* Length of the UTF-8 sequence at s; 1 for an invalid byte. */
size_t fw_fold_u8len(const char *s, size_t avail)
{
	int32_t cp;
	utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s,
	                                      (utf8proc_ssize_t)(avail > 4 ? 4 : avail), &cp);

	return n > 0 ? (size_t)n : 1;
}

static int buf_reserve(struct fw_fold_buf *b, size_t need, int with_map)
{
	size_t cap;

	if (b->len + need <= b->cap && (!with_map || b->map_cap >= b->cap)) {
		return 0;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + need) {
		cap *= 2;
	}
	if (cap > b->cap) {
		char *s = realloc(b->s, cap);

		if (!s) {
			return -ENOMEM;
		}
		b->s = s;
		b->cap = cap;
	}
	if (with_map && b->map_cap < b->cap) {
		uint32_t *map = realloc(b->map, b->cap * sizeof(*map));

		if (!map) {
			return -ENOMEM;
		}
		b->map = map;
		b->map_cap = b->cap;
	}
	return 0;
}

struct fold_state {
	char *s;
	uint32_t *map;
	size_t len;
	int last;    /* class of the last word character written, FW_FOLD_SEP after a space */
	int pending; /* a separator was seen since */
};

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* n (1..4) bytes of v, first byte lowest; writes 4 (the buffer has room to spare). */
ALWAYS_INLINE void put_bytes(struct fold_state *st, uint32_t v, unsigned n, uint32_t at,
                             const int with_map)
{
	uint32_t le = htole32(v);

	memcpy(st->s + st->len, &le, 4);
	if (with_map) {
		for (unsigned i = 0; i < n; i++) {
			st->map[st->len + i] = at;
		}
	}
	st->len += n;
}

ALWAYS_INLINE void put_cls(struct fold_state *st, uint32_t bytes, unsigned n, int cls, uint32_t at,
                           const int with_map)
{
	switch (cls) {
	case FW_FOLD_SEP:
		st->pending = 1;
		return;
	case FW_FOLD_IGNORE:
		return;
	case FW_FOLD_MARK:
		if (st->last != FW_FOLD_SEP && !st->pending) {
			put_bytes(st, bytes, n, at, with_map);
			return;
		}
		cls = FW_FOLD_WORD;
		break;
	default:
		break;
	}
	if (st->last != FW_FOLD_SEP && (st->pending || st->last != cls)) {
		put_bytes(st, ' ', 1, at, with_map);
	}
	put_bytes(st, bytes, n, at, with_map);
	st->last = cls;
	st->pending = 0;
}

ALWAYS_INLINE void put_ent(const struct fw_fold *f, struct fold_state *st, int32_t cp, uint32_t at,
                           const int with_map)
{
	if (cp < 0x10000) {
		const struct fold_ent *e = &f->bmp[cp];

		if (e->n == 1) {
			put_cls(st, e->a, e->blen, e->cls, at, with_map);
		} else {
			for (unsigned k = 0; k < e->n; k++) {
				uint32_t o = f->pool[e->a + k];
				uint8_t bl;
				uint32_t v = pack_utf8((int32_t)(o & 0xFFFFFF), &bl);

				put_cls(st, v, bl, (int)(o >> 24), at, with_map);
			}
		}
	} else {
		uint32_t o[FOLD_MAX_OUT];
		size_t n = fold_cp(cp, o);

		for (size_t k = 0; k < n; k++) {
			uint8_t bl;
			uint32_t v = pack_utf8((int32_t)(o[k] & 0xFFFFFF), &bl);

			put_cls(st, v, bl, (int)(o[k] >> 24), at, with_map);
		}
	}
}

/*
 * Fold up to 16 bytes at once where they are letters and digits of ASCII and, when
 * f->same_cyr, of the Russian alphabet (without Ё, Й: they lose a diacritic) and the
 * Ukrainian і, ї, є, joined by single spaces (most running text): every one of these
 * folds to as many bytes, so the block is folded in place (ASCII lower-cased; А-П +0x20 on
 * the second byte; Р-Я to р-я, lead byte D0 -> D1; ї -> і) as the character-by-character
 * path would. Stops before the first other byte, a second space in a row or a last space
 * (left for the next step). Writes at most 17 bytes at out. Returns the input bytes done
 * (0: none, take the character-by-character path) and sets *lead when a space went first,
 * *cont the mask of second bytes of two-byte characters, *sp that of spaces.
 */
ALWAYS_INLINE size_t text_block(const struct fw_fold *f, const uint8_t *in, char *out, int last,
                                unsigned pending, unsigned *lead, unsigned *cont, unsigned *sp)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)in);
	__m128i up = fw_text_in_range16(v, 'A', 'Z');
	__m128i word = _mm_or_si128(_mm_or_si128(fw_text_in_range16(v, 'a', 'z'), up),
	                            fw_text_in_range16(v, '0', '9'));
	__m128i add = _mm_and_si128(up, _mm_set1_epi8(0x20));
	unsigned sm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
	unsigned ok = (unsigned)_mm_movemask_epi8(word) | sm, cm = 0, bad;
	size_t n;

	if (f->same_cyr && _mm_movemask_epi8(v)) {
		/* x: continuation bytes 0x80-0xBF as 0x00-0x3F, signed-comparable */
		__m128i x = _mm_xor_si128(v, _mm_set1_epi8((char)0x80));
		__m128i l0 = _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xD0));
		__m128i l1 = _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xD1));
		__m128i a0 = _mm_slli_si128(l0, 1), a1 = _mm_slli_si128(l1, 1); /* after a lead */
		__m128i c_up1 = _mm_and_si128(a0, fw_text_in_range16(x, 0x10, 0x1F)); /* А-П */
		__m128i c_up2 = _mm_and_si128(a0, fw_text_in_range16(x, 0x20, 0x2F)); /* Р-Я */
		__m128i yi = _mm_and_si128(a1, _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0x97)));
		__m128i c0 =
		    _mm_andnot_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0x99)),
		                                  _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xB9))),
		                     _mm_and_si128(a0, fw_text_in_range16(x, 0x10, 0x3F)));
		__m128i c1 = _mm_and_si128(
		    a1, _mm_or_si128(_mm_or_si128(fw_text_in_range16(x, 0x00, 0x0F), yi),
		                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0x94)),
		                                  _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0x96)))));
		__m128i c = _mm_or_si128(c0, c1);
		/* a lead counts only with its second byte in the block */
		__m128i l = _mm_and_si128(_mm_or_si128(l0, l1), _mm_srli_si128(c, 1));

		cm = (unsigned)_mm_movemask_epi8(c);
		ok |= cm | (unsigned)_mm_movemask_epi8(l);
		add = _mm_or_si128(_mm_or_si128(add, _mm_and_si128(c_up1, _mm_set1_epi8(0x20))),
		                   _mm_or_si128(_mm_and_si128(c_up2, _mm_set1_epi8((char)0xE0)),
		                                _mm_or_si128(_mm_and_si128(_mm_srli_si128(c_up2, 1),
		                                                           _mm_set1_epi8(0x01)),
		                                             yi))); /* yi: 0xFF, -1 */
	}
	bad = (~ok & 0xFFFFu) | (sm & (sm >> 1));
	n = bad ? (size_t)__builtin_ctz(bad) : 16;
	if (n && (sm >> (n - 1) & 1)) {
		n--;
	}
	if (n == 0) {
		return 0;
	}
	if (sm & 1) {
		/* a space first stands for the one a following word needs */
		if (last == FW_FOLD_SEP) {
			return 0;
		}
		*lead = 0;
	} else {
		*lead = last != FW_FOLD_SEP && (pending || last != FW_FOLD_WORD);
		out[0] = ' ';
	}
	_mm_storeu_si128((__m128i *)(void *)(out + *lead), _mm_add_epi8(v, add));
	*cont = cm;
	*sp = sm;
	return n;
#else
	(void)f;
	(void)in;
	(void)out;
	(void)last;
	(void)pending;
	(void)lead;
	(void)cont;
	(void)sp;
	return 0;
#endif
}

/* One ASCII character, without branches: a letter or digit (lower-cased) or a separator. */
ALWAYS_INLINE void ascii_step(const struct fw_fold *f, struct fold_state *st, uint8_t c,
                              uint32_t at, const int with_map)
{
	uint8_t lc = f->ascii[c];
	unsigned wch = lc != 0;
	unsigned need =
	    (st->last != FW_FOLD_SEP) & ((unsigned)st->pending | (st->last != FW_FOLD_WORD));

	if (with_map) {
		st->map[st->len] = at;
	}
	st->s[st->len] = ' ';
	st->len += need & wch;
	if (with_map) {
		st->map[st->len] = at;
	}
	st->s[st->len] = (char)lc;
	st->len += wch;
	st->last = wch ? FW_FOLD_WORD : st->last;
	st->pending = !wch;
}

/* The map of a block text_block wrote at st->len, as one at a time would write it: a space
   maps to the character after it, both bytes of a character to its first. */
ALWAYS_INLINE void map_block(struct fold_state *st, uint32_t at, size_t i, size_t n, unsigned lead,
                             unsigned cm, unsigned sm)
{
	st->map[st->len] = at;
	for (size_t k = 0; k < n; k++)
		st->map[st->len + lead + k] = (uint32_t)(i + k + (sm >> k & 1) - (cm >> k & 1));
}

ALWAYS_INLINE int fold_run(const struct fw_fold *f, const char *text, size_t len,
                           struct fw_fold_buf *b, const int with_map, size_t stop)
{
	const uint8_t *p = (const uint8_t *)text;
	struct fold_state st;
	size_t i = 0;

	if (len > FW_FOLD_INPUT_MAX) {
		len = FW_FOLD_INPUT_MAX;
	}
	b->len = 0;
	if (buf_reserve(b, len + len / 4 + FOLD_PER_CP, with_map) < 0) {
		return -ENOMEM;
	}
	st.s = b->s;
	st.map = b->map;
	st.len = 0;
	st.last = FW_FOLD_SEP;
	st.pending = 0;
	put_bytes(&st, ' ', 1, 0, with_map);
	while (i < len && st.len < stop) {
		size_t lim;

		if (st.len + FOLD_PER_CP > b->cap) {
			b->len = st.len;
			if (buf_reserve(b, FOLD_PER_CP + (len - i), with_map) < 0) {
				return -ENOMEM;
			}
			st.s = b->s;
			st.map = b->map;
		}
		/* below lim, any one character has the room it may need: no check inside */
		lim = b->cap - FOLD_PER_CP < stop ? b->cap - FOLD_PER_CP : stop;
		do {
			uint32_t at = (uint32_t)i;
			uint8_t c0 = p[i];
			int32_t cp;

			if (c0 < 0x80 || (c0 >= 0xD0 && c0 <= 0xD1 && f->same_cyr)) {
				unsigned lead = 0, cm = 0, sm = 0;
				size_t n = 0;

				/* a block where the run may go on past this character */
				if (c0 >= 0x80 || f->ascii[c0] ||
				    (c0 == ' ' && i + 1 < len &&
				     (p[i + 1] < 0x80 ? f->ascii[p[i + 1]] != 0
				                      : p[i + 1] >= 0xD0 && p[i + 1] <= 0xD1))) {
					const uint8_t *in = p + i;
					uint8_t pad[16];

					if (len - i < 16) {
						/* past the text, zero bytes: they end the block */
						memset(pad, 0, sizeof(pad));
						memcpy(pad, in, len - i);
						in = pad;
					}
					n = text_block(f, in, st.s + st.len, st.last,
					               (unsigned)st.pending, &lead, &cm, &sm);
				}
				if (n) {
					if (with_map)
						map_block(&st, at, i, n, lead, cm, sm);
					st.len += lead + n;
					i += n;
					st.last = FW_FOLD_WORD;
					st.pending = 0;
					continue;
				}
				if (c0 < 0x80) {
					ascii_step(f, &st, c0, at, with_map);
					i++;
					continue;
				}
			}
			if (c0 >= 0xC2 && c0 < 0xE0 && i + 1 < len && (p[i + 1] & 0xC0) == 0x80) {
				cp = (int32_t)(c0 & 0x1F) << 6 | (p[i + 1] & 0x3F);
				i += 2;
			} else if (c0 >= 0xE0 && c0 < 0xF0 && i + 2 < len &&
			           (p[i + 1] & 0xC0) == 0x80 && (p[i + 2] & 0xC0) == 0x80) {
				cp = (int32_t)(c0 & 0x0F) << 12 | (int32_t)(p[i + 1] & 0x3F) << 6 |
				     (p[i + 2] & 0x3F);
				if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) {
					i++;
					st.pending = 1;
					continue;
				}
				i += 3;
				if ((cp >= 0x4E00 && cp <= 0x9FFF && f->same_han) ||
				    (cp >= 0xAC00 && cp <= 0xD7A3 && f->same_hangul)) {
					put_cls(&st,
					        (uint32_t)c0 | (uint32_t)p[i - 2] << 8 |
					            (uint32_t)p[i - 1] << 16,
					        3, cp < 0xAC00 ? FW_FOLD_CJK : FW_FOLD_HANGUL, at,
					        with_map);
					continue;
				}
			} else {
				utf8proc_ssize_t n =
				    utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);

				if (n <= 0) {
					i++;
					st.pending = 1;
					continue;
				}
				i += (size_t)n;
			}
			put_ent(f, &st, cp, at, with_map);
		} while (i < len && st.len < lim);
	}
	if (i >= len && st.last != FW_FOLD_SEP) {
		put_bytes(&st, ' ', 1, (uint32_t)len, with_map);
	}
	st.s[st.len] = '\0';
	b->len = st.len;
	return 0;
}

/*
 * Normalise text into b; with_map also fills b->map. Returns 0 or -ENOMEM (the caller
 * clears b either way).
 */
int fw_fold_text(const struct fw_fold *f, const char *text, size_t len, struct fw_fold_buf *b,
                 int with_map)
{
	return with_map ? fold_run(f, text, len, b, 1, SIZE_MAX)
	                : fold_run(f, text, len, b, 0, SIZE_MAX);
}

/*
 * Like fw_fold_text with the map, but may stop once at least `stop` bytes are written
 * (the output is then a prefix of the full one). Returns 0 or -ENOMEM.
 */
int fw_fold_text_prefix(const struct fw_fold *f, const char *text, size_t len,
                        struct fw_fold_buf *b, size_t stop)
{
	return fold_run(f, text, len, b, 1, stop);
}
