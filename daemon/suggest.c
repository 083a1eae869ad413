/* suggest.c - "did you mean": edit distance and the nearest name. Pure. */
#include <ctype.h>
#include <string.h>

#include "suggest.h"

size_t fw_suggest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (tolower((unsigned char)a[i - 1]) !=
			                      tolower((unsigned char)b[j - 1]));

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb] < 3 ? row[lb] : 3;
}

const char *fw_suggest_nearest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = strlen(word) <= 4 ? 2 : 3, d;

	for (size_t i = 0; i < n; i++)
		if (names[i] && (d = fw_suggest_distance(word, names[i])) < bestd) {
			bestd = d;
			best = names[i];
		}
	return best;
}
