/*
 * story.c - placing items in stories (story.h).
 *
 * Features. The title, summary and start of the content are folded the way the matcher
 * folds (fold.c: case, diacritics, compatibility forms), cut into words, common function
 * words of the main European languages, month and weekday names, day numbers and years
 * dropped, each word cut to its first 7 characters (a crude stem that makes
 * "sterilisation" and "sterilization", "nominee" and "nominees" one word); runs of Han or
 * kana become character pairs. Entities named by the item, pairs of them are features too.
 * Each feature is a 32-bit hash whose low two bits say its kind.
 *
 * Similarity. Each feature weighs (kind weight) x IDF, the IDF counted over the stories in
 * the window plus FW_STORY_PRIOR imaginary items that hold none of them (so that a young
 * window does not call every word rare, and a story's own words stay weighty while it
 * breaks), and at least one story per ITEMS_PER_STORY items that hold the feature (else a
 * story that took in every item naming a word would make that word look rare, and draw in
 * every further item naming it). An item scores against an earlier item the cosine of their weighted features,
 * and against a story of two items or more the cosine with the story's profile: each
 * feature of its FW_STORY_PROFILE_ITEMS newest items weighted by the share of them that hold it, so the
 * story's key terms dominate and one item's stray words count little (an item must share
 * PROFILE_COMMON features with it, and resemble one of its items from PROFILE_FROM). A story's score is
 * the more of the two (the profile's scaled so that it joins from FW_STORY_PROFILE_JOIN),
 * times its cooling: the longer the story has had no new item, the less a loose likeness
 * is worth (to 1 - FW_STORY_COOLING after FW_STORY_COOL), while an exact copy of one of its
 * items joins it at any age.
 *
 * Index. Each feature has a posting list threaded through the items' slots (newest first)
 * and a count of the items in the window that hold it; a lookup walks at most
 * FW_STORY_POSTINGS entries of each of an item's heaviest features, so a placement costs
 * the same with 1,000 or 1,000,000 items in the window. Items sit in a ring in arrival
 * order, made of blocks allocated as items come and freed as they leave; pruning the oldest
 * decrements the counts of its features (a feature whose count falls to zero is dropped),
 * so a walk of at most `count` entries never reaches a pruned slot. Taking the newest items
 * back (fw_story_index_pop) is the exact inverse of adding them: each item notes which
 * story counts it raised and whether it made its story's entry, and the rest follows from
 * the items before it, so that the index decides as one that never saw them. The items of a story are chained newest first (rec.sprev); a table of the stories
 * of two items or more holds each one's newest item, so a profile reads at most
 * FW_STORY_PROFILE_ITEMS items, and a story of one item costs nothing beyond its item.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "fold.h"
#include "story.h"
#include "story_int.h"

#define FW_STORY_PRIOR    1000.0 /* imaginary items in the window holding no feature */
#define FW_STORY_POSTINGS 10     /* postings walked per feature */
#define TITLE_WORDS       12
#define ENTITIES          3
#define STEM_CHARS        7
#define SEQ_BITS          28 /* item sequence numbers wrap at 2^28 */
#define SEQ_MASK          ((1u << SEQ_BITS) - 1)
#define ITEMS_MAX         (1u << 26) /* items in the window, whatever its length */
#define RESCORE           8          /* best candidates whose score is computed whole */
#define RARE_DF           2
#define WALKED            5    /* features whose postings are walked */
#define ACC_SIZE          2048 /* > FW_STORY_FEATURES * FW_STORY_POSTINGS, power of 2 */
#define PROF_SIZE         512  /* > 2 * FW_STORY_FEATURES * FW_STORY_PROFILE_ITEMS, power of 2 */
#define STORIES           4    /* candidate stories scored by their profile */
#define PROFILE_COMMON    2    /* features an item must share with a profile */
#define ITEMS_PER_STORY   30.0 /* IDF: a feature is in a story per this many items at least */
#define PROFILE_FROM      0.15 /* the likeness to one of its items a profiled story needs */

/* ------------------------------------------------------------------ features */

/* Common function words, folded, sorted (strcmp): English, German, French, Spanish,
   Italian, Portuguese, Dutch, Russian. Words of one character are dropped anyway. */
static const char *const stopwords[] = {
    "about", "after", "al",   "als",  "also",   "am",   "an",    "and",   "are",   "as",    "at",
    "auf",   "aus",   "be",   "been", "before", "bei",  "but",   "by",    "can",   "con",   "could",
    "da",    "das",   "dass", "de",   "dei",    "del",  "della", "dem",   "den",   "der",   "des",
    "die",   "do",    "dos",  "du",   "een",    "ein",  "eine",  "einem", "einen", "einer", "el",
    "en",    "er",    "es",   "est",  "et",     "for",  "from",  "fur",   "had",   "has",   "have",
    "he",    "het",   "his",  "how",  "i",      "il",   "im",    "in",    "into",  "is",    "ist",
    "it",    "its",   "just", "la",   "las",    "le",   "les",   "lo",    "los",   "may",   "mit",
    "more",  "na",    "nach", "nel",  "new",    "no",   "not",   "of",    "on",    "or",    "out",
    "over",  "par",   "per",  "por",  "pour",   "que",  "said",  "says",  "se",    "she",   "sich",
    "sie",   "sind",  "so",   "sur",  "than",   "that", "the",   "their", "they",  "this",  "to",
    "uber",  "um",    "un",   "una",  "und",    "une",  "uno",   "up",    "van",   "vom",   "von",
    "vor",   "was",   "we",   "were", "what",   "when", "which", "who",   "why",   "will",  "wird",
    "with",  "would", "you",  "zu",   "zum",    "zur",  "без",   "в",     "во",    "все",   "вы",
    "для",   "до",    "его",  "ее",   "за",     "и",    "из",    "или",   "им",    "к",     "как",
    "на",    "над",   "не",   "но",   "о",      "об",   "он",    "она",   "они",   "от",    "по",
    "под",   "после", "при",  "с",    "со",     "так",  "то",    "у",     "что",   "это",
};

/* Month and weekday names (English, folded): dates are page furniture, not a story
   ("March 10, 2014" heads many unrelated items of a day). Dropped as function words are. */
static const char *const date_words[] = {
    "april",    "august",    "december", "february", "friday",   "january",
    "july",     "june",      "march",    "monday",   "november", "october",
    "saturday", "september", "sunday",   "thursday", "tuesday",  "wednesday",
};

#define N_STOPWORDS (sizeof(stopwords) / sizeof(stopwords[0]))
#define N_DATES     (sizeof(date_words) / sizeof(date_words[0]))

static uint32_t fnv(const char *s, size_t len)
{
	return fw_story_fnv(FW_STORY_FNV0, s, len);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The stopwords' hashes, sorted: built once per process, immutable after (as fold.c's
   tables). */
static uint32_t stop_hashes[N_STOPWORDS + N_DATES];
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static void stop_init(void)
{
	for (size_t i = 0; i < N_STOPWORDS; i++)
		stop_hashes[i] = fnv(stopwords[i], strlen(stopwords[i]));
	for (size_t i = 0; i < N_DATES; i++)
		stop_hashes[N_STOPWORDS + i] = fnv(date_words[i], strlen(date_words[i]));
	qsort(stop_hashes, N_STOPWORDS + N_DATES, sizeof(stop_hashes[0]), cmp_u32);
}

/* Whether the folded word w[0..len) is a function word. A word whose hash is a function
   word's (about 1 in 20 million) counts as one: a lost feature, never a wrong one. */
static bool is_stopword(const char *w, size_t len)
{
	uint32_t h = fnv(w, len);

	pthread_once(&stop_once, stop_init);
	return bsearch(&h, stop_hashes, N_STOPWORDS + N_DATES, sizeof(h), cmp_u32) != NULL;
}

/* Dates are page furniture, not a story: "March 10, 2014" heads many unrelated items of a
   day. Day numbers and years here; month and weekday names are function words. */
static bool is_date(const char *w, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (w[i] < '0' || w[i] > '9')
			return false;
	return len <= 2 || (len == 4 && (memcmp(w, "19", 2) == 0 || memcmp(w, "20", 2) == 0));
}

/* FNV-1a over s[0..len), then the kind in the low two bits; never 0 (0 marks a free slot
   of the feature table). */
static uint32_t feature_hash(const char *s, size_t len, enum fw_story_kind kind)
{
	uint32_t h = fnv(s, len);

	h = (h & ~3u) | (uint32_t)kind;
	return h >> 2 ? h : (h | 4u);
}

/* The code point at s (valid UTF-8 from fold.c), its length in *n. */
static int32_t cp_at(const char *s, size_t avail, size_t *n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t k = fw_fold_u8len(s, avail);
	int32_t cp = u[0];

	*n = k;
	if (k == 2)
		cp = ((u[0] & 0x1F) << 6) | (u[1] & 0x3F);
	else if (k == 3)
		cp = ((u[0] & 0x0F) << 12) | ((u[1] & 0x3F) << 6) | (u[2] & 0x3F);
	else if (k == 4)
		cp = ((u[0] & 0x07) << 18) | ((u[1] & 0x3F) << 12) | ((u[2] & 0x3F) << 6) |
		     (u[3] & 0x3F);
	return cp;
}

struct fbuild {
	struct fw_story_features *out;
	struct fw_story_terms *terms;
};

/* Add feature h (text: what it stands for) unless it is there already or the item is
   full. */
static void add_hashed(struct fbuild *b, uint32_t h, const char *s, size_t len)
{
	struct fw_story_features *f = b->out;

	if (f->n >= FW_STORY_FEATURES)
		return;
	for (size_t i = 0; i < f->n; i++)
		if (f->h[i] == h)
			return;
	if (b->terms) {
		size_t k = len < FW_STORY_TERM_MAX - 1 ? len : FW_STORY_TERM_MAX - 1;

		while (k > 0 && k < len && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--; /* never cut a character */
		memcpy(b->terms->text[f->n], s, k);
		b->terms->text[f->n][k] = 0;
	}
	f->h[f->n++] = h;
}

static void add_feature(struct fbuild *b, const char *s, size_t len, enum fw_story_kind kind)
{
	add_hashed(b, feature_hash(s, len, kind), s, len);
}

/* One word of folded text: stemmed, or cut into character pairs when written without
   spaces; function words and single letters are no feature. */
static void add_word(struct fbuild *b, const char *w, size_t len, enum fw_story_kind kind,
                     size_t limit)
{
	size_t n, pos = 0, chars = 0, cut = len;
	int32_t cp = cp_at(w, len, &n);

	if (fw_fold_class_of(cp) == FW_FOLD_CJK) {
		size_t a = 0, an = n;

		if (n >= len) {
			add_feature(b, w, len, kind);
			return;
		}
		while (a + an < len && b->out->n < limit) {
			size_t bn;

			cp_at(w + a + an, len - a - an, &bn);
			add_feature(b, w + a, an + bn, kind);
			a += an;
			an = bn;
		}
		return;
	}
	while (pos < len) {
		cp_at(w + pos, len - pos, &n);
		pos += n;
		if (++chars == STEM_CHARS)
			cut = pos;
	}
	if (chars < 2 && !(w[0] >= '0' && w[0] <= '9'))
		return;
	if (is_stopword(w, len) || is_date(w, len))
		return;
	add_feature(b, w, cut, kind);
}

/* The words of folded text t (" a b c ") as features of kind, until the item holds limit.
   With orig and map (the title and fold.c's map back into it), the words capitalised in
   orig are counted (*caps of *words of 4 bytes or more) and marked as names. */
static void add_words(struct fbuild *b, const char *t, size_t len, enum fw_story_kind kind,
                      size_t limit, const char *orig, const uint32_t *map, unsigned *caps,
                      unsigned *words)
{
	size_t i = 0;

	while (i < len && b->out->n < limit) {
		size_t j, before = b->out->n;
		utf8proc_int32_t cp = 0;

		while (i < len && t[i] == ' ')
			i++;
		j = i;
		while (j < len && t[j] != ' ')
			j++;
		if (j == i)
			break;
		add_word(b, t + i, j - i, kind, limit);
		if (orig && map) {
			utf8proc_iterate((const utf8proc_uint8_t *)orig + map[i], -1, &cp);
			if (j - i >= 4) {
				(*words)++;
				*caps += utf8proc_category(cp) == UTF8PROC_CATEGORY_LU;
			}
			if (b->out->n == before + 1 &&
			    utf8proc_category(cp) == UTF8PROC_CATEGORY_LU)
				b->out->names |= 1u << before;
		}
		i = j;
	}
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "@a", and "@a+@b" for each pair, of at most ENTITIES entities in name order. */
static void add_entities(struct fbuild *b, const char *const *entities, size_t n)
{
	const char *e[ENTITIES];
	char buf[2 * FW_STORY_TERM_MAX + 4];

	if (n == 0)
		return;
	if (n > ENTITIES)
		n = ENTITIES;
	memcpy(e, entities, n * sizeof(*e));
	qsort(e, n, sizeof(*e), cmp_cstr);
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(buf, sizeof(buf), "@%.*s", FW_STORY_TERM_MAX, e[i]);
		size_t before = b->out->n;

		add_feature(b, buf, (size_t)k, FW_STORY_ENTITY);
		if (b->out->n == before + 1)
			b->out->names |= 1u << before;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			int k = snprintf(buf, sizeof(buf), "@%.*s+@%.*s", FW_STORY_TERM_MAX / 2,
			                 e[i], FW_STORY_TERM_MAX / 2, e[j]);

			add_feature(b, buf, (size_t)k, FW_STORY_STRONG);
		}
}

/* The whole folded title t (" a b c "), weighing as a word of the body: it adds little to
   a score, but its posting list is short, so that a copy under another id always finds
   the original, however many items share its words. */
static void add_whole(struct fbuild *b, const char *t, size_t len)
{
	uint32_t h;

	if (len < 3)
		return;
	h = feature_hash(t + 1, len - 2, FW_STORY_BODY) ^ 0x5bd1e990u; /* not the word's hash */
	add_hashed(b, h, t + 1, len - 2);
}

int fw_story_features(const struct fw_fold *fold, const char *title, const char *summary,
                      const char *content, const char *const *entities, size_t n_entities,
                      struct fw_story_features *out, struct fw_story_terms *terms)
{
	struct fw_fold_buf fb = {0};
	struct fbuild b = {out, terms};
	const char *body = summary && *summary ? summary : content;
	int r = 0;

	out->n = 0;
	out->names = 0;
	if (title && *title) {
		size_t len = strlen(title);

		unsigned caps = 0, words = 0;

		if ((r = fw_fold_text(fold, title, len > 1024 ? 1024 : len, &fb, 1)) < 0)
			goto done;
		add_words(&b, fb.s, fb.len, FW_STORY_TITLE, TITLE_WORDS, title, fb.map, &caps,
		          &words);
		if (caps * 2 > words)
			out->names = 0; /* Title Case: capitals say nothing */
		add_entities(&b, entities, n_entities);
		add_whole(&b, fb.s, fb.len);
	} else {
		add_entities(&b, entities, n_entities);
	}
	if (body && *body && out->n < FW_STORY_FEATURES) {
		size_t len = strnlen(body, FW_STORY_BODY_MAX);

		if ((r = fw_fold_text(fold, body, len, &fb, 0)) < 0)
			goto done;
		add_words(&b, fb.s, fb.len, FW_STORY_BODY, FW_STORY_FEATURES, NULL, NULL, NULL,
		          NULL);
	}
done:
	fw_fold_buf_clear(&fb);
	return r;
}

/* ------------------------------------------------------------------ the index */

/* A feature in the window: how many items hold it, and the newest one's slot. */
struct tok {
	uint32_t key; /* feature hash; 0: free */
	uint32_t df;
	uint32_t head; /* slot reference: seq << 4 | slot */
	uint32_t sdf;  /* bits 31..12: the stories among the df items (see story_count);
	                  bits 11..0: low bits of the story of the newest item */
};

#define SDF_ONE  (1u << 12)
#define SDF_LAST (SDF_ONE - 1)

/* A feature that one item of the window holds, and no other held when it came: the rest of
   its struct tok (df 1, the story count and last story of that item) is read from the
   item, so that a rare word costs half a struct tok. A second holder moves it to the
   feature table. */
struct one {
	uint32_t key; /* feature hash; 0: free */
	uint32_t head;
};

/* One item in the window. */
struct rec {
	int64_t item, story;
	uint32_t t;            /* seconds after the index's first item */
	float norm;            /* of its weights when it was added */
	uint32_t sprev : 31;   /* seq + 1 of the item of its story added before it; 0: none */
	uint32_t opened : 1;   /* its add made the story's entry (pop removes it) */
	uint32_t n : 4;        /* features */
	uint32_t names : 14;   /* as fw_story_features.names */
	uint32_t counted : 14; /* bit k: key[k] counted one more story (sdf) when it came */
	uint32_t key[FW_STORY_FEATURES];
	uint32_t next[FW_STORY_FEATURES]; /* the slot of the next older item with this key */
};

/* The ring of items is made of blocks of BLOCK items, allocated as items come and freed as
   they leave: the items in the window cost their records and at most two blocks more. */
#define BLOCK_BITS 10
#define BLOCK      (1u << BLOCK_BITS)

struct acc {
	uint32_t seq;    /* + 1; 0: free */
	uint32_t shared; /* features found in common through the walked postings */
	uint32_t rare;   /* found through a feature at most RARE_DF items hold */
	uint32_t exact;  /* scored whole, names compared: may be chosen */
	double dot;      /* their products of weights: a lower bound of the whole */
};

/* A story of two items or more in the window: its newest item, the head of the chain of its
   items through rec.sprev (a story of one item needs no entry). Freed when its newest item
   leaves the window. */
struct sent {
	int64_t story; /* 0: free */
	uint32_t head;
};

/* A feature of a story's profile (find's scratch): in how many of its items it occurs. */
struct pent {
	uint32_t key; /* 0: free */
	uint16_t count;
	uint16_t name; /* a name in one of the items */
};

struct fw_story_index {
	int64_t window, last_t;
	int64_t base;                 /* the time the item times count from */
	uint32_t last_fp;             /* find: the features it placed (fingerprint), */
	int64_t last_story;           /* the story it chose (0: none) */
	uint32_t last_seq;            /* and that story's item it resembled most */
	struct fw_story_table st;     /* struct sent */
	struct rec **blocks;          /* the ring: block (seq >> BLOCK_BITS) & (n_blocks - 1) */
	size_t n_blocks, used_blocks; /* n_blocks: power of two */
	uint32_t head_seq;            /* seq of the oldest item */
	size_t count;
	size_t cap;                 /* items held at most (fw_story_index_set_cap) */
	uint64_t evicted;           /* items that left for the cap before their window ended */
	struct fw_story_table toks; /* struct tok */
	struct fw_story_table ones; /* struct one: features of one item, not in toks */
	struct tok one;             /* tok_get's answer for a feature put in ones */
	struct fw_story_table acc;  /* struct acc, ACC_SIZE entries */
	uint32_t touched[ACC_SIZE];
	size_t n_touched;
	struct acc *best[ACC_SIZE]; /* the candidates scored whole */
	struct fw_story_table prof; /* struct pent, PROF_SIZE entries */
	uint32_t prof_touched[PROF_SIZE];
	size_t n_prof;
};

static const double kind_weight[4] = {1.0, 0.5, 1.0, 2.5};

int fw_story_index_new(int64_t window, struct fw_story_index **out)
{
	struct fw_story_index *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return -ENOMEM;
	x->window = window > 0 ? window : 1;
	x->cap = ITEMS_MAX;
	x->n_blocks = 2;
	x->blocks = calloc(x->n_blocks, sizeof(*x->blocks));
	if (!x->blocks || fw_story_table_init(&x->toks, 1024, sizeof(struct tok), 4) < 0 ||
	    fw_story_table_init(&x->ones, 4096, sizeof(struct one), 4) < 0 ||
	    fw_story_table_init(&x->st, 1024, sizeof(struct sent), 8) < 0 ||
	    fw_story_table_init(&x->acc, ACC_SIZE, sizeof(struct acc), 4) < 0 ||
	    fw_story_table_init(&x->prof, PROF_SIZE, sizeof(struct pent), 4) < 0) {
		fw_story_index_free(x);
		return -ENOMEM;
	}
	*out = x;
	return 0;
}

struct fw_story_index *fw_story_index_free(struct fw_story_index *x)
{
	if (x) {
		for (size_t i = 0; x->blocks && i < x->n_blocks; i++)
			free(x->blocks[i]);
		free(x->blocks);
		free(x->toks.v);
		free(x->ones.v);
		free(x->st.v);
		free(x->acc.v);
		free(x->prof.v);
		free(x);
	}
	return NULL;
}

static struct rec *rec_at(const struct fw_story_index *x, uint32_t seq)
{
	return &x->blocks[(seq >> BLOCK_BITS) & (x->n_blocks - 1)][seq & (BLOCK - 1)];
}

static struct tok *tok_find(const struct fw_story_index *x, uint32_t key)
{
	return fw_story_table_find(&x->toks, key);
}

/* The feature of one item o as a struct tok. */
static struct tok one_tok(const struct fw_story_index *x, const struct one *o)
{
	const struct rec *r = rec_at(x, o->head >> 4);

	return (struct tok){.key = o->key,
	                    .df = 1,
	                    .head = o->head,
	                    .sdf = ((r->counted >> (o->head & 15)) & 1) << 12 |
	                           ((uint32_t)r->story & SDF_LAST)};
}

/* Feature key in the window (copied to *t), or false. */
static bool tok_read(const struct fw_story_index *x, uint32_t key, struct tok *t)
{
	const struct tok *e = tok_find(x, key);
	const struct one *o;

	if (e) {
		*t = *e;
		return true;
	}
	if ((o = fw_story_table_find(&x->ones, key)) == NULL)
		return false;
	*t = one_tok(x, o);
	return true;
}

static struct sent *st_find(const struct fw_story_index *x, int64_t story)
{
	return fw_story_table_find(&x->st, (uint64_t)story);
}

/* Whether seq is an item in the window. */
static bool in_window(const struct fw_story_index *x, uint32_t seq)
{
	return ((seq - x->head_seq) & SEQ_MASK) < x->count;
}

/* In how many stories of the window feature t occurs, estimated: each item that holds it
   and belongs to another story than the item before it that held it counts one (items of a
   story come together, so this counts the stories, and a burst of one story does not make
   its own words common, while words of many stories are), and an item leaving the window
   takes back what it counted, so that the count is the same whichever items came and were
   taken back before. O(1). */
static double story_count(const struct tok *t)
{
	uint32_t n = t->sdf >> 12;

	return n == 0 && t->df > 0 ? 1 : (double)n;
}

/* Item r, holding t as its feature k, leaves the window (pruned or taken back). */
static void tok_drop(struct fw_story_index *x, struct tok *t, const struct rec *r, uint32_t k)
{
	if ((r->counted >> k) & 1)
		t->sdf -= SDF_ONE;
	if (--t->df == 0)
		fw_story_table_del(&x->toks, t);
}

/* Item r leaves the window with its feature k, of one item (r) when not in toks. */
static void feature_drop(struct fw_story_index *x, const struct rec *r, uint32_t k)
{
	struct tok *t = tok_find(x, r->key[k]);
	struct one *o;

	if (t)
		tok_drop(x, t, r, k);
	else if ((o = fw_story_table_find(&x->ones, r->key[k])) != NULL)
		fw_story_table_del(&x->ones, o);
}

/* The block of seq leaves (its items are gone). */
static void block_free(struct fw_story_index *x, uint32_t seq)
{
	struct rec **b = &x->blocks[(seq >> BLOCK_BITS) & (x->n_blocks - 1)];

	if (*b) {
		free(*b);
		*b = NULL;
		x->used_blocks--;
	}
}

void fw_story_index_prune(struct fw_story_index *x, int64_t now)
{
	while (x->count > 0) {
		struct rec *r = rec_at(x, x->head_seq);

		if (x->base + r->t >= now - x->window && x->count < x->cap)
			break;
		struct sent *e = st_find(x, r->story);

		if (x->base + r->t >= now - x->window)
			x->evicted++;

		for (uint32_t k = 0; k < r->n; k++)
			feature_drop(x, r, k);
		if (e && e->head == x->head_seq)
			fw_story_table_del(&x->st, e); /* its last item in the window */
		x->head_seq = (x->head_seq + 1) & SEQ_MASK;
		x->count--;
		if ((x->head_seq & (BLOCK - 1)) == 0)
			block_free(x, (x->head_seq - 1) & SEQ_MASK);
	}
}

/* The weight of feature k (entry t, NULL when no item holds it): its kind's weight times
   its IDF over the stories of the window. */
static double tok_weight(const struct fw_story_index *x, uint32_t k, const struct tok *t)
{
	double sdf = t ? story_count(t) : 0;

	/* a story that took in every item holding a word must not make it look rare */
	if (t && t->df / ITEMS_PER_STORY > sdf)
		sdf = t->df / ITEMS_PER_STORY;

	return kind_weight[k & 3] * log(((double)x->count + FW_STORY_PRIOR) / (sdf + 1.0));
}

/* The weight of feature k, looked up. */
static double weight_of(const struct fw_story_index *x, uint32_t k)
{
	struct tok t;

	return tok_weight(x, k, tok_read(x, k, &t) ? &t : NULL);
}

/* The weights of f's features in w; in held (may be NULL) their entries (key 0: held by no
   item of the window). */
static void weights(const struct fw_story_index *x, const struct fw_story_features *f, double *w,
                    struct tok *held)
{
	for (size_t k = 0; k < f->n; k++) {
		struct tok t = {0};
		bool is = tok_read(x, f->h[k], &t);

		w[k] = tok_weight(x, f->h[k], is ? &t : NULL);
		if (held)
			held[k] = t;
	}
}

/* Make room for the item of sequence number seq: double the ring unless a free block
   parts the window's newest items from its oldest, and give seq's block memory. 0 or
   -ENOMEM. */
static int ring_room(struct fw_story_index *x, uint32_t seq)
{
	struct rec **slot;

	if (x->count + 2 * BLOCK > x->n_blocks * BLOCK) {
		size_t n = x->n_blocks * 2;
		struct rec **b = calloc(n, sizeof(*b));

		if (b == NULL)
			return -ENOMEM;
		/* the blocks of the window, and the one seq goes in */
		for (uint32_t s = x->head_seq & ~(BLOCK - 1), i = 0; i <= x->n_blocks;
		     i++, s = (s + BLOCK) & SEQ_MASK) {
			struct rec **o = &x->blocks[(s >> BLOCK_BITS) & (x->n_blocks - 1)];

			if (*o) {
				b[(s >> BLOCK_BITS) & (n - 1)] = *o;
				*o = NULL;
			}
		}
		for (size_t i = 0; i < x->n_blocks; i++)
			if (x->blocks[i]) {
				free(x->blocks[i]);
				x->used_blocks--;
			}
		free(x->blocks);
		x->blocks = b;
		x->n_blocks = n;
	}
	slot = &x->blocks[(seq >> BLOCK_BITS) & (x->n_blocks - 1)];
	if (*slot == NULL) {
		if ((*slot = malloc(BLOCK * sizeof(**slot))) == NULL)
			return -ENOMEM;
		x->used_blocks++;
	}
	return 0;
}

/* A fingerprint of the features f: whether add is given what find placed last. */
static uint32_t fingerprint(const struct fw_story_features *f)
{
	return fw_story_fnv(FW_STORY_FNV0 ^ (uint32_t)f->n, f->h, f->n * sizeof(f->h[0]));
}

/* The item (seq + 1) of story added before an item with features f, 0 when none is in
   the window. The story's entry has it; a story of one item has none, and its item is the
   one find chose it by, or else (the index rebuilt from the store, or an item placed
   without find) one that shares a feature with f. */
static uint32_t story_prev(const struct fw_story_index *x, const struct fw_story_features *f,
                           int64_t story)
{
	const struct sent *e = st_find(x, story);

	if (e)
		return e->head + 1;
	if (fingerprint(f) == x->last_fp) {
		if (story != x->last_story)
			return 0; /* a new story */
		if (in_window(x, x->last_seq) && rec_at(x, x->last_seq)->story == story)
			return x->last_seq + 1;
	}
	for (size_t k = 0; k < f->n; k++) {
		struct tok t;
		bool held = tok_read(x, f->h[k], &t);
		uint32_t ref = held ? t.head : 0, walk = held ? t.df : 0;

		for (uint32_t i = 0; i < walk && i < FW_STORY_POSTINGS; i++) {
			const struct rec *r = rec_at(x, ref >> 4);

			if (r->story == story)
				return (ref >> 4) + 1;
			ref = r->next[ref & 15];
		}
	}
	return 0;
}

/* The entry of feature key in toks for item r (seq) to join, moved from ones when one item
   held it; &x->one when no item holds it (r is put in ones, as its feature r->n). NULL when
   out of memory. */
static struct tok *tok_get(struct fw_story_index *x, uint32_t key, const struct rec *r,
                           uint32_t seq)
{
	struct tok *t = tok_find(x, key);
	struct one *o;
	size_t fresh;

	if (t)
		return t;
	if ((o = fw_story_table_get(&x->ones, key, true, &fresh)) == NULL)
		return NULL;
	if (fresh == SIZE_MAX) { /* one item holds it: r is the second */
		struct tok was = one_tok(x, o);

		if ((t = fw_story_table_get(&x->toks, key, true, &fresh)) == NULL)
			return NULL;
		*t = was;
		fw_story_table_del(&x->ones, fw_story_table_find(&x->ones, key));
		return t;
	}
	o->head = seq << 4 | r->n;
	return &x->one;
}

/* Thread item r (seq) onto the posting list of each of its features f. */
static void post(struct fw_story_index *x, const struct fw_story_features *f, struct rec *r,
                 uint32_t seq)
{
	for (size_t k = 0; k < f->n && k < FW_STORY_FEATURES; k++) {
		struct tok *tk = tok_get(x, f->h[k], r, seq);

		if (tk == NULL)
			break; /* the item goes in with the features counted so far */
		r->key[r->n] = f->h[k];
		if (tk == &x->one) { /* a feature no other item holds */
			r->names |= ((f->names >> k) & 1) << r->n;
			r->next[r->n] = 0;
			r->counted |= 1u << r->n;
			r->n++;
			continue;
		}
		r->names |= ((f->names >> k) & 1) << r->n;
		r->next[r->n] = tk->head;
		tk->head = seq << 4 | r->n;
		if ((tk->df == 0 || (tk->sdf & SDF_LAST) != ((uint32_t)r->story & SDF_LAST)) &&
		    tk->sdf >> 12 < (UINT32_MAX >> 12)) {
			tk->sdf += SDF_ONE;
			r->counted |= 1u << r->n;
		}
		tk->sdf = (tk->sdf & ~SDF_LAST) | ((uint32_t)r->story & SDF_LAST);
		tk->df++;
		r->n++;
	}
}

int fw_story_index_add(struct fw_story_index *x, const struct fw_story_features *f, int64_t item,
                       int64_t story, int64_t t)
{
	uint32_t seq, prev;
	struct rec *r;
	struct sent *e = NULL;
	size_t fresh = SIZE_MAX;
	double norm = 0;

	if (t < x->last_t)
		t = x->last_t;
	x->last_t = t;
	fw_story_index_prune(x, t);
	seq = (x->head_seq + (uint32_t)x->count) & SEQ_MASK;
	if (ring_room(x, seq) < 0)
		return -ENOMEM;
	if ((prev = story_prev(x, f, story)) != 0 &&
	    (e = fw_story_table_get(&x->st, (uint64_t)story, true, &fresh)) == NULL)
		return -ENOMEM;
	r = rec_at(x, seq);
	if (x->count == 0 && x->base == 0)
		x->base = t;
	*r = (struct rec){.item = item,
	                  .story = story,
	                  .t = (uint32_t)(t > x->base ? t - x->base : 0),
	                  .sprev = prev,
	                  .opened = fresh != SIZE_MAX};
	if (e)
		e->head = seq;
	post(x, f, r, seq);
	x->count++;
	{
		struct fw_story_features mine = {.n = r->n, .names = r->names};
		double w[FW_STORY_FEATURES];

		memcpy(mine.h, r->key, r->n * sizeof(r->key[0]));
		weights(x, &mine, w, NULL);
		for (uint32_t k = 0; k < r->n; k++)
			norm += w[k] * w[k];
	}
	r->norm = (float)sqrt(norm);
	x->last_fp = 0; /* used */
	return 0;
}

/* The accumulator of candidate seq, claimed when new; NULL when full. */
static struct acc *acc_get(struct fw_story_index *x, uint32_t seq)
{
	size_t fresh;
	struct acc *a = fw_story_table_get(&x->acc, seq + 1, false, &fresh);

	if (fresh != SIZE_MAX)
		x->touched[x->n_touched++] = (uint32_t)fresh;
	return a;
}

static struct acc *acc_at(const struct fw_story_index *x, size_t i)
{
	return (struct acc *)(void *)x->acc.v + i;
}
/* Walk the postings of each feature of f, summing weighted products per earlier item.
   Returns the norm of f's weights. */
static double accumulate(struct fw_story_index *x, const struct fw_story_features *f, double *wt)
{
	double norm = 0, floor = 0;
	struct tok held[FW_STORY_FEATURES];

	weights(x, f, wt, held);
	/* Only the WALKED heaviest features held by items of the window find candidates (the
	   others are counted when the best candidates are scored whole): a candidate that
	   shares none of them cannot reach the join score but through many light ones, which
	   the rescoring catches. A word no item holds is the heaviest and finds nothing. */
	if (f->n > WALKED) {
		double top[WALKED] = {0};

		for (size_t k = 0; k < f->n; k++) {
			size_t i = WALKED - 1;

			if (wt[k] <= top[i] || held[k].key == 0)
				continue;
			for (; i > 0 && top[i - 1] < wt[k]; i--)
				top[i] = top[i - 1];
			top[i] = wt[k];
		}
		floor = top[WALKED - 1];
	}
	for (size_t k = 0; k < f->n; k++) {
		const struct tok t = held[k];
		double w = kind_weight[f->h[k] & 3], d = wt[k] / w;
		uint32_t ref, walk;

		norm += (w * d) * (w * d);
		if (t.key == 0 || (wt[k] < floor && t.df > RARE_DF))
			continue;
		ref = t.head;
		walk = t.df < FW_STORY_POSTINGS ? t.df : FW_STORY_POSTINGS;
		for (uint32_t i = 0; i < walk; i++) {
			uint32_t seq = ref >> 4;
			const struct rec *r = rec_at(x, seq);
			struct acc *a = acc_get(x, seq);

			if (a == NULL)
				break;
			a->dot += (w * d) * (kind_weight[r->key[ref & 15] & 3] * d);
			a->shared++;
			a->rare |= t.df <= RARE_DF;
			ref = r->next[ref & 15];
		}
	}
	return sqrt(norm);
}

/* The whole dot product of f (weights wt) and candidate a: the postings walked stop at
   FW_STORY_POSTINGS, so an older item may hold more of f's features than they showed. */
static void rescore(const struct fw_story_index *x, const struct fw_story_features *f,
                    const double *wt, struct acc *a)
{
	const struct rec *r = rec_at(x, a->seq - 1);
	bool named = false;

	a->dot = 0;
	a->shared = 0;
	for (size_t k = 0; k < f->n; k++)
		for (uint32_t j = 0; j < r->n; j++)
			if (r->key[j] == f->h[k]) {
				a->dot += wt[k] * wt[k];
				a->shared++;
				named |= ((f->names >> k) & 1) || ((r->names >> j) & 1);
				break;
			}
	/* both name someone, and none of the same: never one story */
	a->exact = named || f->names == 0 || r->names == 0;
}

/* Rescore the RESCORE candidates of highest partial dot product, and every one found
   through a rare feature (a copy found by its whole title). */
static size_t rescore_best(struct fw_story_index *x, const struct fw_story_features *f,
                           const double *wt)
{
	struct acc *top[RESCORE];
	size_t n = 0, m = 0;

	for (size_t i = 0; i < x->n_touched; i++) {
		struct acc *a = acc_at(x, x->touched[i]);
		size_t k;

		if (a->rare) {
			rescore(x, f, wt, a);
			x->best[m++] = a;
			continue;
		}
		if (n == RESCORE && top[n - 1]->dot >= a->dot)
			continue;
		k = n < RESCORE ? n++ : n - 1;
		for (; k > 0 && top[k - 1]->dot < a->dot; k--)
			top[k] = top[k - 1];
		top[k] = a;
	}
	for (size_t i = 0; i < n; i++) {
		rescore(x, f, wt, top[i]);
		x->best[m++] = top[i];
	}
	return m;
}

/* The count of key k in the profile being built, claimed when new; NULL when full. */
static struct pent *prof_get(struct fw_story_index *x, uint32_t k)
{
	size_t fresh;
	struct pent *p = fw_story_table_get(&x->prof, k, false, &fresh);

	if (fresh != SIZE_MAX)
		x->prof_touched[x->n_prof++] = (uint32_t)fresh;
	return p;
}

/*
 * The similarity of f (weights wt, norm) to the profile of story e: the cosine with the
 * story's centroid, each feature weighted by its IDF times the share of the story's
 * FW_STORY_PROFILE_ITEMS newest items that hold it, so that an item naming the story's key terms
 * scores high against it even when it shares few words with any one of its items. 0 when
 * both name someone and share none of the names (as for two items).
 */
static double profile_score(struct fw_story_index *x, const struct fw_story_features *f,
                            const double *wt, double norm, const struct sent *e)
{
	uint32_t seq = e->head;
	size_t n = 0, common = 0;
	double dot = 0, pn = 0, rare = log(((double)x->count + FW_STORY_PRIOR) / 2.0);
	bool named = false, story_names = false;

	for (;;) {
		const struct rec *r = rec_at(x, seq);

		for (uint32_t k = 0; k < r->n; k++) {
			struct pent *p = prof_get(x, r->key[k]);

			if (p == NULL)
				break;
			p->count++;
			p->name |= (r->names >> k) & 1;
			story_names |= (r->names >> k) & 1;
		}
		if (++n == FW_STORY_PROFILE_ITEMS || r->sprev == 0 || !in_window(x, r->sprev - 1))
			break;
		seq = r->sprev - 1;
	}
	for (size_t k = 0; k < f->n; k++) {
		struct pent *p = prof_get(x, f->h[k]);
		double share;

		if (p == NULL || p->count == 0)
			continue;
		share = p->count / (double)n;
		common++;
		dot += wt[k] * wt[k] * share;
		pn += wt[k] * wt[k] * share * share;
		named |= p->name || ((f->names >> k) & 1);
		p->count = 0; /* counted */
	}
	for (size_t i = 0; i < x->n_prof; i++) {
		struct pent *p = (struct pent *)(void *)x->prof.v + x->prof_touched[i];

		if (p->count > 0) {
			/* a feature of one item only: rare (and weighty), counted as unseen */
			double w =
			    p->count > 1 ? weight_of(x, p->key) : rare * kind_weight[p->key & 3];
			double share = p->count / (double)n;

			pn += w * w * share * share;
		}
		*p = (struct pent){0};
	}
	x->n_prof = 0;
	x->prof.n = 0;
	/* one item is no profile: it is compared as an item */
	if (n < 2 || common < PROFILE_COMMON || (f->names && story_names && !named) || pn <= 0 ||
	    norm <= 0)
		return 0;
	return dot / (norm * sqrt(pn)) * (FW_STORY_JOIN / FW_STORY_PROFILE_JOIN);
}

/* A candidate story of find: its best item, and the score. */
struct cand {
	const struct rec *r;
	const struct acc *a;
	double item; /* the likeness of r */
};

/* The stories of the best candidate items (the best item of each), at most STORIES, best
   first. Returns how many. */
static size_t candidates(struct fw_story_index *x, size_t n, double norm, struct cand *c)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		const struct acc *a = x->best[i];
		const struct rec *r = rec_at(x, a->seq - 1);
		double s;
		size_t k;

		if (r->norm <= 0 || norm <= 0 || !a->exact || a->shared == 0)
			continue;
		s = a->dot / (norm * r->norm);
		s = s > 1 ? 1 : s;
		for (k = 0; k < m && c[k].r->story != r->story; k++)
			;
		if (k < m && c[k].item >= s)
			continue;
		if (k == m) {
			if (m == STORIES && c[m - 1].item >= s)
				continue;
			k = m < STORIES ? m++ : m - 1;
		}
		for (; k > 0 && c[k - 1].item < s; k--)
			c[k] = c[k - 1];
		c[k] = (struct cand){.r = r, .a = a, .item = s};
	}
	return m;
}

/* How much a story's likeness to a new item is worth after it has been quiet for `quiet`
   seconds: 1, falling to 1 - FW_STORY_COOLING over FW_STORY_COOL. */
static double cooling(double quiet)
{
	quiet = quiet < 0 ? 0 : quiet / FW_STORY_COOL;
	return 1 - FW_STORY_COOLING * (quiet > 1 ? 1 : quiet);
}

int fw_story_index_find(struct fw_story_index *x, const struct fw_story_features *f, int64_t now,
                        struct fw_story_place *out)
{
	double norm, best = 0, wt[FW_STORY_FEATURES];
	struct cand c[STORIES];
	size_t n;

	*out = (struct fw_story_place){0};
	x->last_fp = fingerprint(f);
	x->last_story = 0;
	fw_story_index_prune(x, now);
	norm = accumulate(x, f, wt);
	n = candidates(x, rescore_best(x, f, wt), norm, c);
	for (size_t i = 0; i < n; i++) {
		const struct sent *e = st_find(x, c[i].r->story);
		const struct rec *h = e ? rec_at(x, e->head) : c[i].r;
		double s = c[i].a->shared >= 2 ? c[i].item : 0;

		if (e && c[i].item >= PROFILE_FROM) {
			double p = profile_score(x, f, wt, norm, e);

			s = p > s ? p : s;
		}
		if (c[i].a->shared == f->n && c[i].r->n == f->n)
			s = 2; /* a copy goes with its original, at any age, before any likeness */
		else
			s *= cooling((double)(now - (x->base + h->t)));
		if (s > best) {
			best = s;
			out->matched = c[i].r->item;
			out->score = s > 1 ? 1 : s;
			out->shared = c[i].a->shared;
			out->story = s >= FW_STORY_JOIN ? c[i].r->story : 0;
			x->last_story = out->story;
			x->last_seq = c[i].a->seq - 1;
		}
	}
	for (size_t i = 0; i < x->n_touched; i++)
		*acc_at(x, x->touched[i]) = (struct acc){0};
	x->n_touched = 0;
	x->acc.n = 0;
	return 0;
}

/* Take back the features of item r (seq), the newest holder of each. */
static void unpost(struct fw_story_index *x, const struct rec *r)
{
	for (uint32_t k = r->n; k-- > 0;) {
		struct tok *t = tok_find(x, r->key[k]);

		if (t == NULL) {
			feature_drop(x, r, k); /* of this item only */
			continue;
		}
		t->head = r->next[k];
		tok_drop(x, t, r, k); /* may free t */
		if ((t = tok_find(x, r->key[k])) != NULL)
			t->sdf = (t->sdf & ~SDF_LAST) |
			         ((uint32_t)rec_at(x, t->head >> 4)->story & SDF_LAST);
	}
}

void fw_story_index_pop(struct fw_story_index *x, size_t n)
{
	for (; n > 0 && x->count > 0; n--) {
		uint32_t seq = (x->head_seq + (uint32_t)x->count - 1) & SEQ_MASK;
		struct rec *r = rec_at(x, seq);
		struct sent *e = st_find(x, r->story);

		/* the story's entry as it was: made by this add (gone), or headed by the item
		   before it (gone when that one has left the window since) */
		if (e && e->head == seq) {
			if (!r->opened && r->sprev && in_window(x, r->sprev - 1))
				e->head = r->sprev - 1;
			else
				fw_story_table_del(&x->st, e);
		}
		unpost(x, r);
		x->count--;
	}
	x->last_fp = 0; /* what find chose may be gone */
}

void fw_story_index_set_window(struct fw_story_index *x, int64_t window)
{
	x->window = window > 0 ? window : 1;
}

void fw_story_index_set_cap(struct fw_story_index *x, size_t items)
{
	x->cap = items > 0 && items < ITEMS_MAX ? items : ITEMS_MAX;
}

size_t fw_story_index_items(const struct fw_story_index *x)
{
	return x->count;
}

uint64_t fw_story_index_evicted(const struct fw_story_index *x)
{
	return x->evicted;
}

int64_t fw_story_index_oldest(const struct fw_story_index *x)
{
	return x->count > 0 ? x->base + rec_at(x, x->head_seq)->t : 0;
}

size_t fw_story_index_memory(const struct fw_story_index *x)
{
	return sizeof(*x) + x->n_blocks * sizeof(*x->blocks) +
	       x->used_blocks * BLOCK * sizeof(struct rec) + x->toks.cap * x->toks.esize +
	       x->ones.cap * x->ones.esize + x->st.cap * x->st.esize + x->acc.cap * x->acc.esize +
	       x->prof.cap * x->prof.esize;
}
