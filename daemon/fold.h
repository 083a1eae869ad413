/*
 * fold.h - the text normalisation of the watchlist matcher: NFKD + full case folding,
 * diacritics stripped, invisible characters dropped, every run of separators turned into
 * one space, with a map from each output byte back to the original bytes. Pure.
 *
 * The output of fw_fold_text always starts and ends with one space and never holds two
 * spaces in a row. A space is also put between two word characters of different script
 * groups (Latin "abc" next to Han "普京", Hangul next to Latin): see enum fw_fold_class.
 */
#ifndef FW_FOLD_H
#define FW_FOLD_H

#include <stddef.h>
#include <stdint.h>

/* Longest field fw_fold_text looks at (bytes of input); the rest is not matched. */
#define FW_FOLD_INPUT_MAX (4u << 20)

enum fw_fold_class {
	FW_FOLD_SEP = 0,    /* space, punctuation, symbol, control: a word boundary */
	FW_FOLD_WORD = 1,   /* letter or digit of a script written with spaces */
	FW_FOLD_HANGUL = 2, /* Hangul: written with spaces, words take particles */
	FW_FOLD_CJK = 3,    /* Han, kana, Thai, Lao, Khmer, Myanmar: no spaces */
	FW_FOLD_MARK = 4,   /* a kept combining mark: joins the character before it */
	FW_FOLD_IGNORE = 5, /* invisible (soft hyphen, zero-width, BOM): dropped */
};

struct fw_fold;

struct fw_fold_buf {
	char *s;       /* normalised UTF-8, NUL-terminated */
	uint32_t *map; /* map[i]: offset in the input of the character s[i] came from */
	size_t len;
	size_t cap;
	size_t map_cap;
};

/*
 * The folding tables (about 0.5 MB): one immutable process-wide table, built on first use
 * (pthread_once) and shared read-only. Returns 0 and *out, or -ENOMEM.
 */
int fw_fold_new(struct fw_fold **out);

/* Bytes held by the tables. */
size_t fw_fold_memory(const struct fw_fold *f);

/* Drop a reference to the tables (the shared table is kept). Accepts NULL; returns NULL. */
struct fw_fold *fw_fold_free(struct fw_fold *f);

/*
 * Normalise len bytes of text into b (reused: its buffers grow as needed; release them with
 * fw_fold_buf_clear). with_map also fills b->map. Invalid UTF-8 counts as a separator.
 * Returns 0 or -ENOMEM.
 */
int fw_fold_text(const struct fw_fold *f, const char *text, size_t len, struct fw_fold_buf *b,
                 int with_map);

/*
 * Like fw_fold_text with the map, but may stop once at least `stop` output bytes are
 * written: b then holds a prefix of the full result. Returns 0 or -ENOMEM.
 */
int fw_fold_text_prefix(const struct fw_fold *f, const char *text, size_t len,
                        struct fw_fold_buf *b, size_t stop);

/* The class of a code point that is already folded (an output code point). */
enum fw_fold_class fw_fold_class_of(int32_t cp);

/* Release what a buffer holds and zero it. */
void fw_fold_buf_clear(struct fw_fold_buf *b);

/* Number of bytes of the UTF-8 sequence starting at s (1 for an invalid byte). */
size_t fw_fold_u8len(const char *s, size_t avail);

#endif
