/*
 * match.h - watchlists: compile entities and queries into one immutable matcher, and match
 * items against it. Pure: no I/O, no logging, no mutable globals (the folding table of
 * fold.c is built once per process and immutable after); a compiled matcher is read-only
 * and may be shared between threads and swapped on reload.
 */
#ifndef FW_MATCH_H
#define FW_MATCH_H

#include <stddef.h>

#include "item.h"

struct fw_match_entity {
	const char *name;
	const char *const *aliases;
	size_t n_aliases;
};

struct fw_match_watchlist {
	const char *name;
	const char *query;
};

struct fw_match_spec {
	const struct fw_match_entity *entities;
	size_t n_entities;
	const struct fw_match_watchlist *watchlists;
	size_t n_watchlists;
};

enum fw_match_diag_severity { FW_MATCH_ERROR = 1, FW_MATCH_WARNING = 2 };
enum fw_match_diag_where { FW_MATCH_IN_ENTITY = 1, FW_MATCH_IN_WATCHLIST = 2 };

/* One compile diagnostic; the caller maps (where, index, alias) to file:line. */
struct fw_match_diag {
	enum fw_match_diag_severity severity;
	enum fw_match_diag_where where;
	size_t index;  /* entity or watchlist index in the spec */
	size_t alias;  /* alias index (entities only) */
	size_t column; /* 1-based byte column in the query, 0 when none */
	char message[256];
};

struct fw_matcher;

/*
 * Compile. Diagnostics (errors and warnings) are written to diags (up to max_diags,
 * *n_diags counts all). Returns 0 and the matcher in *out when there is no error;
 * -EINVAL when there are errors (nothing in *out); -ENOMEM.
 */
int fw_match_compile(const struct fw_match_spec *spec, struct fw_matcher **out,
                     struct fw_match_diag *diags, size_t max_diags, size_t *n_diags);

/* Free. Accepts NULL; returns NULL. */
struct fw_matcher *fw_matcher_free(struct fw_matcher *m);

size_t fw_matcher_watchlists(const struct fw_matcher *m);
const char *fw_matcher_watchlist_name(const struct fw_matcher *m, size_t i);

/* Approximate bytes held by the compiled tables (for benchmarks and status). */
size_t fw_matcher_memory(const struct fw_matcher *m);

/* Distinct patterns and automaton states of the matcher (for benchmarks). */
void fw_matcher_stats(const struct fw_matcher *m, size_t *patterns, size_t *states);

/* Why one watchlist matched: one entry per term that made its query true. */
struct fw_match_explain {
	size_t watchlist; /* index */
	char *term;       /* as written in the query: "@putin", "\"north korea\"" */
	char *alias; /* the alias that hit, as configured ("Путин*"); the term for bare words */
	const char *field; /* "title", "summary", "content", "author", "category" (static) */
	char *text;        /* the matched text as written in the item */
	char *snippet;     /* ~100 characters of the field around the match */
};

struct fw_match_result {
	size_t *watchlists; /* indices of matching watchlists, ascending */
	size_t n_watchlists;
	struct fw_match_explain *explain;
	size_t n_explain;
	size_t *entities; /* indices of the entities whose aliases occur in the title, summary or
	                     content (whether or not a watchlist matched), ascending */
	size_t n_entities;
};

/* Match one item. Fills res (cleared first). Returns 0 or -ENOMEM. Reentrant. */
int fw_match_item(const struct fw_matcher *m, const struct fw_item *item,
                  struct fw_match_result *res);

/*
 * Candidates by word: an FTS5 query (`"w" AND ("x" OR "y"*)`) over the words of an item's
 * title, summary, content, author and categories, each folded by the matcher's folding and
 * separated by spaces, that every item watchlist wl matches satisfies (so it may find more:
 * fields, phrases and NEAR are not kept, NOT and terms in scripts written without spaces,
 * or Hangul, narrow nothing). 0 and *out (malloc()ed; NULL when nothing narrows: every
 * item is a candidate), or -ENOMEM.
 */
int fw_match_words(const struct fw_matcher *m, size_t wl, char **out);

/* Free what a result holds and zero it; the result can be reused. */
void fw_match_result_clear(struct fw_match_result *res);

#endif
