/*
 * bench_hs.c - the same scanning job done by vectorscan (Hyperscan's literal API) instead of
 * the matcher's Aho-Corasick automaton, for "choose by measurement" (issue 4).
 *
 *   bench_hs ALIASES TEXT [SECONDS]
 *
 * Every alias is folded with fold.c, as the matcher does, into a literal with its word
 * boundaries (" vladimir putin ", " северн" for "Северн* Коре*": the automaton's part of
 * it); every line of TEXT is folded (fw_fold_text) and scanned with hs_scan, all matches
 * reported. Prints MB/s of folding alone and of folding + scanning, the compile time and
 * the database size. Only the scan is compared: no query evaluation, no explanations.
 * Times are CPU time of the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs/hs.h>

#include "bench_io.h"
#include "fold.h"

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	(*(size_t *)ctx)++;
	return 0;
}

/* The literal for one alias: folded, with the boundary spaces of the matcher's patterns. */
static size_t literal(const struct fw_fold *fold, const char *al, struct fw_fold_buf *fb, char *out,
                      size_t cap)
{
	const char *star = strchr(al, '*');
	size_t n = strlen(al), k;
	int prefix = star != NULL;

	if (star && star[1] == '\0') {
		n--; /* only the last word is a prefix: the whole alias, no trailing space */
	} else if (star) {
		n = (size_t)(star - al); /* the head: up to the first prefix word */
	}
	if (fw_fold_text(fold, al, n, fb, 0) < 0 || fb->len + 1 > cap) {
		exit(1);
	}
	k = fb->len;
	memcpy(out, fb->s, k);
	if (prefix) {
		k--; /* drop the trailing space */
	}
	if ((unsigned char)out[1] >= 0xE3 && (unsigned char)out[1] <= 0xE9) {
		/* Han or kana: no boundaries */
		memmove(out, out + 1, k - 1);
		k -= 1 + (out[k - 2] == ' ');
	}
	return k;
}

int main(int argc, char **argv)
{
	size_t alen, tlen, n_al, n_items, bytes = 0, rounds = 0, hits = 0, dbsize = 0;
	char *abuf, *tbuf, **al, **items, **lits;
	size_t *lens;
	unsigned *ids, *flags;
	struct fw_fold *fold;
	struct fw_fold_buf fb = {0};
	hs_database_t *db = NULL;
	hs_scratch_t *scratch = NULL;
	hs_compile_error_t *err = NULL;
	double t0, t_compile, t_fold, t_scan, secs = argc > 3 ? atof(argv[3]) : 2.0;

	if (argc < 3 || fw_fold_new(&fold) < 0) {
		fprintf(stderr, "usage: %s ALIASES TEXT [SECONDS]\n", argv[0]);
		return 2;
	}
	abuf = slurp(argv[1], &alen);
	tbuf = slurp(argv[2], &tlen);
	n_al = split_lines(abuf, &al);
	while (n_al && !*al[n_al - 1]) {
		n_al--;
	}
	n_items = split_lines(tbuf, &items);
	lits = calloc(n_al, sizeof(*lits));
	lens = calloc(n_al, sizeof(*lens));
	ids = calloc(n_al, sizeof(*ids));
	flags = calloc(n_al, sizeof(*flags));
	if (!lits || !lens || !ids || !flags) {
		return 1;
	}
	t0 = now();
	for (size_t i = 0; i < n_al; i++) {
		char tmp[4096];

		lens[i] = literal(fold, al[i], &fb, tmp, sizeof(tmp));
		lits[i] = malloc(lens[i] + 1);
		if (!lits[i]) {
			return 1;
		}
		memcpy(lits[i], tmp, lens[i]);
		ids[i] = (unsigned)i;
	}
	if (hs_compile_lit_multi((const char *const *)lits, flags, ids, lens, (unsigned)n_al,
	                         HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS) {
		fprintf(stderr, "hs_compile_lit_multi: %s\n", err ? err->message : "?");
		return 1;
	}
	t_compile = now() - t0;
	if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS ||
	    hs_database_size(db, &dbsize) != HS_SUCCESS) {
		return 1;
	}
	/* folding alone */
	t0 = now();
	do {
		for (size_t i = 0; i < n_items; i++) {
			size_t n = strlen(items[i]);

			if (fw_fold_text(fold, items[i], n, &fb, 0) < 0) {
				return 1;
			}
			if (rounds == 0) {
				bytes += n;
			}
		}
		rounds++;
		t_fold = now() - t0;
	} while (t_fold < secs);
	t_fold /= (double)rounds;
	/* folding and scanning */
	rounds = 0;
	t0 = now();
	do {
		for (size_t i = 0; i < n_items; i++) {
			size_t c = 0;

			if (fw_fold_text(fold, items[i], strlen(items[i]), &fb, 0) < 0 ||
			    hs_scan(db, fb.s, (unsigned)fb.len, 0, scratch, on_match, &c) !=
			        HS_SUCCESS) {
				return 1;
			}
			if (rounds == 0) {
				hits += c > 0;
			}
		}
		rounds++;
		t_scan = now() - t0;
	} while (t_scan < secs);
	t_scan /= (double)rounds;
	printf("aliases %zu compile_s %.3f db_mb %.1f fold_mb_per_s %.1f fold_hs_mb_per_s %.1f "
	       "items %zu items_hit %zu\n",
	       n_al, t_compile, (double)dbsize / 1e6, (double)bytes / t_fold / 1e6,
	       (double)bytes / t_scan / 1e6, n_items, hits);
	hs_free_scratch(scratch);
	hs_free_database(db);
	fw_fold_buf_clear(&fb);
	for (size_t i = 0; i < n_al; i++) {
		free(lits[i]);
	}
	free(lits);
	free(lens);
	free(ids);
	free(flags);
	free(al);
	free(items);
	free(abuf);
	free(tbuf);
	return 0;
}
