/* item.h - one feed item, normalised: the unit that is matched, stored and alerted. */
#ifndef FW_ITEM_H
#define FW_ITEM_H

#include <stddef.h>
#include <stdint.h>

/* "no date" marker for published/updated. */
#define FW_TIME_NONE INT64_MIN

/*
 * All strings are valid UTF-8 plain text (HTML already turned into text, whitespace
 * collapsed), owned by the item. title, summary and content are "" when absent; link and
 * author are NULL when absent; id is never NULL once the parser hands the item out.
 */
struct fw_item {
	char *title;
	char *link;
	char *id;
	char *author;
	char *summary;
	char *content;
	int64_t published; /* Unix seconds UTC, or FW_TIME_NONE */
	int64_t updated;
	int64_t fetched; /* when the poll that brought it ended, or FW_TIME_NONE;
	                    not part of the parse format */
	int64_t pushed;  /* when the WebSub push that brought it was received (then fetched
	                    is FW_TIME_NONE), or FW_TIME_NONE; not part of the parse format */
	char **categories;
	size_t n_categories;
};

/* A new, empty item (dates FW_TIME_NONE). NULL on allocation failure. */
struct fw_item *fw_item_new(void);

/* Free an item and everything it owns. Accepts NULL; returns NULL. */
struct fw_item *fw_item_free(struct fw_item *item);

/* Serialise in the `feedwatch parse` JSON Lines contract (one object, no newline).
   Returns 0 and a malloc()ed string in *out, or -ENOMEM. */
int fw_item_to_json(const struct fw_item *item, char **out);

/* Read one object in the `parse` format (missing keys = absent). Returns 0 and a new item
   in *out (id filled by fw_item_ensure_id if absent), or -EINVAL / -ENOMEM. */
int fw_item_from_json(const char *text, size_t len, struct fw_item **out);

/* 64-bit hash of the item's content (title, link, dates, summary, content, categories):
   changes when the item is edited. */
uint64_t fw_item_hash(const struct fw_item *item);

/* When the item appeared, as far as it says: its publication date, else its update date
   (an Atom entry need not have <published>), else FW_TIME_NONE. */
int64_t fw_item_date(const struct fw_item *item);

/* Longest id kept as it is; a longer one is replaced by "sha:" + its SHA-256 (the store's
   keys hold at most FW_STORE_KEY_MAX bytes). */
#define FW_ITEM_ID_MAX 4096

/* Give the item an id if it has none: the link, else a stable hash of title + date +
   summary ("sha:" + hex); an id longer than FW_ITEM_ID_MAX becomes "sha:" + its SHA-256.
   Returns 0 or -ENOMEM. */
int fw_item_ensure_id(struct fw_item *item);

/* SHA-256 of len bytes into out (the id hash; exposed for its known-answer test). */
void fw_item_sha256(const void *data, size_t len, unsigned char out[32]);

#endif
