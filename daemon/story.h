/*
 * story.h - stories: each new item is placed, online and in arrival order, in a story of a
 * sliding window, or starts a story of its own. Near-duplicates (syndicated copies, lightly
 * edited headlines) and the same event told by other feeds are found by their shared
 * words, weighted by rarity (IDF over the window), and by the watchlist entities they name,
 * which are the same in every language ("Путин прибыл в КНДР" and "Putin in Pyongyang
 * eingetroffen" share @putin and @north_korea and no word). An item is compared with the
 * items that share its weightiest features and with the profiles of their stories (the key
 * terms of a story's newest items), so a headline naming a story's key terms joins it
 * though it shares few words with any one item. Candidates come from a posting list per
 * feature, capped, so a placement costs the same whatever the window holds.
 *
 * Pure: no I/O, no logging, no globals; one index per daemon, used from one thread.
 */
#ifndef FW_STORY_H
#define FW_STORY_H

#include <stddef.h>
#include <stdint.h>

struct fw_fold;

/* Features kept for one item: words of the folded title first, then entities and entity
   pairs, the whole title, words of the start of the summary (else of the content). */
#define FW_STORY_FEATURES 14

/* Bytes of the summary (else of the content) read for features. */
#define FW_STORY_BODY_MAX 300

/* The score from which an item joins a story: its likeness to the story's item it
   resembles most, or to the story's profile (the shares of the story's newest items that
   hold each feature) scaled by FW_STORY_JOIN / FW_STORY_PROFILE_JOIN, whichever is more;
   times the story's cooling. An exact copy of an item joins its story at any age. */
#define FW_STORY_JOIN         0.40
#define FW_STORY_PROFILE_JOIN 0.26

/* A story's profile is read from its newest FW_STORY_PROFILE_ITEMS items. */
#define FW_STORY_PROFILE_ITEMS 12

/* A story quiet for FW_STORY_COOL seconds (no new item) is worth 1 - FW_STORY_COOLING of
   its likeness, falling linearly until then: a near-duplicate (0.8) still joins it within
   the window, a loose likeness no longer does. */
#define FW_STORY_COOL    (3 * 3600)
#define FW_STORY_COOLING 0.5

/* Kinds of feature, in the low two bits of each feature hash: they weigh differently. */
enum fw_story_kind {
	FW_STORY_TITLE = 0,  /* a word of the title */
	FW_STORY_BODY = 1,   /* a word of the summary or content */
	FW_STORY_ENTITY = 2, /* a watchlist entity the item names */
	FW_STORY_STRONG = 3, /* a pair of entities */
};

/* The features of one item. text[i] (when asked for) is what feature i stands for: the
   folded word, "@entity", "@a+@b" or the title, cut to fit. */
#define FW_STORY_TERM_MAX 48
struct fw_story_features {
	uint32_t h[FW_STORY_FEATURES];
	size_t n;
	uint32_t names; /* bit i: feature i is a name (capitalised inside a title that is not
	                   in Title Case); entities are names too */
};
struct fw_story_terms {
	char text[FW_STORY_FEATURES][FW_STORY_TERM_MAX];
};

/*
 * The features of an item from its title, summary and content (any may be NULL) and the
 * names of the watchlist entities it names (fw_match_result.entities), folded with fold.
 * terms (may be NULL) gets the text of each feature. Returns 0 or -ENOMEM.
 */
int fw_story_features(const struct fw_fold *fold, const char *title, const char *summary,
                      const char *content, const char *const *entities, size_t n_entities,
                      struct fw_story_features *out, struct fw_story_terms *terms);

/* Where an item goes. */
struct fw_story_place {
	int64_t story;   /* the story it joins, 0 when it starts one */
	int64_t matched; /* the item (caller's id) it resembles most, 0 when none */
	double score;    /* similarity to that item, 0..1 (after the time decay) */
	unsigned shared; /* features it shares with that item */
};

struct fw_story_index;

/* An empty index for a window of `window` seconds. 0 and *out, or -ENOMEM. */
int fw_story_index_new(int64_t window, struct fw_story_index **out);

/* Free. Accepts NULL; returns NULL. */
struct fw_story_index *fw_story_index_free(struct fw_story_index *x);

/*
 * Find where an item with features f, arriving at `now`, goes. Candidates are the items
 * that share its weightiest features (a capped walk of their posting lists), grouped by
 * story; each story scores the more of the best item's likeness (with at least two shared
 * features) and the likeness to the story's profile (sharing two features with it), times
 * its cooling (FW_STORY_COOL), and
 * the item joins the best story when that reaches FW_STORY_JOIN. out->matched is that
 * story's item it resembles most, out->score the story's score (capped at 1). Two items
 * (or an item and a story) that both name someone or something and share none of those
 * names are never one story ("Sbarro files for bankruptcy" is not "Mt. Gox files for
 * bankruptcy"). Reads only (but for the index's own scratch, and a note of what it chose
 * for the add that follows). 0, or -ENOMEM.
 */
int fw_story_index_find(struct fw_story_index *x, const struct fw_story_features *f, int64_t now,
                        struct fw_story_place *out);

/*
 * Add the item `item` (the caller's id, > 0) of story `story` (> 0) seen at t, with features
 * f. Items are added in arrival order (t never decreases; an earlier t counts as the last
 * one's). Older items than the window before t are pruned first. 0 or -ENOMEM.
 */
int fw_story_index_add(struct fw_story_index *x, const struct fw_story_features *f, int64_t item,
                       int64_t story, int64_t t);

/* Drop the items older than the window before now. */
void fw_story_index_prune(struct fw_story_index *x, int64_t now);

/* Take back the n items added last (their poll was not stored): the index then decides as
   one that never saw them (the window pruned to the same time). */
void fw_story_index_pop(struct fw_story_index *x, size_t n);

/* A new window length (a reload); the next prune applies it. */
void fw_story_index_set_window(struct fw_story_index *x, int64_t window);

/* Hold at most items items (0: no cap but the index's own, 2^26): when full, the oldest
   leave before their window ends, as if the window were shorter. The next add applies it. */
void fw_story_index_set_cap(struct fw_story_index *x, size_t items);

/* Items in the window, and the bytes the index holds. */
size_t fw_story_index_items(const struct fw_story_index *x);
size_t fw_story_index_memory(const struct fw_story_index *x);

/* Items that left for the cap before their window ended, since the index was made. */
uint64_t fw_story_index_evicted(const struct fw_story_index *x);

/* The time the oldest item held was added (0 when none): what the window really holds. */
int64_t fw_story_index_oldest(const struct fw_story_index *x);

#endif
