/* suggest.h - "did you mean": the nearest of some names to a misspelt one. Pure. */
#ifndef FW_SUGGEST_H
#define FW_SUGGEST_H

#include <stddef.h>

/* Levenshtein distance of a and b (bytes; ASCII letters compared without case), capped
   at 3: enough to tell "near" from "far". Strings over 64 bytes are 3 apart. */
size_t fw_suggest_distance(const char *a, const char *b);

/* The name of names[0..n) (NULL entries skipped) nearest to word, when near enough to be
   a slip (1 edit for words of up to 4 bytes, 2 for longer ones), else NULL. The result
   points into names. */
const char *fw_suggest_nearest(const char *word, const char *const *names, size_t n);

#endif
