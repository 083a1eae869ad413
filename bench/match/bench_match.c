/*
 * bench_match.c - throughput of the watchlist matcher: compile N aliases (entities of 10
 * aliases, one watchlist "@eK" per entity plus a few AND/NEAR queries), then match every
 * line of a text file as one item's content, normalisation included.
 *
 *   bench_match ALIASES TEXT [SECONDS]
 *
 * Times are CPU time of the process (the machine may be shared). Prints one line: aliases, patterns, states, compile seconds, matcher MB, MB/s, items
 * matched, explanations, max RSS MB.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_io.h"
#include "match.h"

int main(int argc, char **argv)
{
	size_t alen, tlen, n_al, n_items, n_ent, n_wl;
	char *abuf, *tbuf, **al, **items;
	struct fw_match_entity *ents;
	struct fw_match_watchlist *wls;
	char(*names)[24], (*queries)[64];
	struct fw_match_spec spec;
	struct fw_match_diag d[4];
	size_t nd = 0, pats, states, matched = 0, explained = 0, bytes = 0, rounds = 0;
	struct fw_matcher *m = NULL;
	double t0, t_compile, t_match, secs = argc > 3 ? atof(argv[3]) : 2.0;
	struct rusage ru;
	int rc;

	if (argc < 3) {
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
	n_ent = (n_al + 9) / 10;
	n_wl = n_ent + 3;
	ents = calloc(n_ent, sizeof(*ents));
	wls = calloc(n_wl, sizeof(*wls));
	names = calloc(n_ent, sizeof(*names));
	queries = calloc(n_wl, sizeof(*queries));
	if (!ents || !wls || !names || !queries) {
		return 1;
	}
	for (size_t i = 0; i < n_ent; i++) {
		snprintf(names[i], sizeof(names[i]), "e%zu", i);
		ents[i].name = names[i];
		ents[i].aliases = (const char *const *)al + i * 10;
		ents[i].n_aliases = i * 10 + 10 <= n_al ? 10 : n_al - i * 10;
		snprintf(queries[i], sizeof(queries[i]), "@e%zu", i);
		wls[i].name = names[i];
		wls[i].query = queries[i];
	}
	snprintf(queries[n_ent], 64, "@e0 AND (president OR президент)");
	snprintf(queries[n_ent + 1], 64, "@e%zu NEAR/5 @e0", n_ent / 2);
	snprintf(queries[n_ent + 2], 64, "\"security council\" NEAR/2 sanctions");
	for (size_t i = n_ent; i < n_wl; i++) {
		wls[i].name = "extra";
		wls[i].query = queries[i];
	}
	spec.entities = ents;
	spec.n_entities = n_ent;
	spec.watchlists = wls;
	spec.n_watchlists = n_wl;
	t0 = now();
	rc = fw_match_compile(&spec, &m, d, 4, &nd);
	t_compile = now() - t0;
	if (rc < 0) {
		fprintf(stderr, "compile: %d: %s\n", rc, nd ? d[0].message : "");
		return 1;
	}
	fw_matcher_stats(m, &pats, &states);
	t0 = now();
	do {
		for (size_t i = 0; i < n_items; i++) {
			struct fw_item it = {0};
			struct fw_match_result res = {0};

			it.title = (char *)"";
			it.summary = (char *)"";
			it.content = items[i];
			if (fw_match_item(m, &it, &res) < 0) {
				return 1;
			}
			if (rounds == 0) {
				matched += res.n_watchlists > 0;
				explained += res.n_explain;
				bytes += strlen(items[i]);
			}
			fw_match_result_clear(&res);
		}
		rounds++;
		t_match = now() - t0;
	} while (t_match < secs);
	getrusage(RUSAGE_SELF, &ru);
	printf("aliases %zu patterns %zu states %zu compile_s %.3f matcher_mb %.1f mb_per_s %.1f "
	       "items %zu matched %zu explanations %zu maxrss_mb %.1f\n",
	       n_al, pats, states, t_compile, (double)fw_matcher_memory(m) / 1e6,
	       (double)bytes * (double)rounds / t_match / 1e6, n_items, matched, explained,
	       (double)ru.ru_maxrss / 1024.0);
	fw_matcher_free(m);
	free(ents);
	free(wls);
	free(names);
	free(queries);
	free(al);
	free(items);
	free(abuf);
	free(tbuf);
	return 0;
}
