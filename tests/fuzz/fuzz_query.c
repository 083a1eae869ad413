/*
 * fuzz_query.c - libFuzzer target for the watchlist query compiler (and the matcher behind
 * it). Input: a query, optionally followed by "\n\n" and an item text. Fixed entities.
 * Build: clang -fsanitize=fuzzer,address,undefined ... linked with fwmatch.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const a_putin[] = {"Putin", "Vladimir Putin", "Путин*", "푸틴", "普京"};
static const char *const a_nk[] = {"North Korea", "DPRK", "Pjöngjang", "КНДР", "북한"};
static const char *const a_kim[] = {"Kim Jong*",     "金正恩",    "김정은",
                                    "Kim* Jong* Un", "Kim* 正恩", "k* j* u*"};
static const char *const a_nk2[] = {"Северн* Коре*", "Північн* Коре*", "Nord* Korea*", "Северн*"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fw_match_entity ents[] = {
	    {"putin", a_putin, 5}, {"north_korea", a_nk, 5}, {"kim", a_kim, 6}, {"nk2", a_nk2, 4}};
	char *buf = malloc(size + 1);
	char *text = NULL, *sep;
	struct fw_match_watchlist wl[2];
	struct fw_match_spec spec = {ents, 4, wl, 2};
	struct fw_match_diag d[4];
	size_t nd = 0;
	struct fw_matcher *m = NULL;

	if (!buf) {
		return 0;
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	sep = strstr(buf, "\n\n");
	if (sep) {
		*sep = '\0';
		text = sep + 2;
	}
	wl[0].name = "fuzz";
	wl[0].query = buf;
	wl[1].name = "fixed";
	wl[1].query = "@putin NEAR/3 (@north_korea OR kim* OR @nk2) OR \"k* jong*\"";
	if (fw_match_compile(&spec, &m, d, 4, &nd) == 0) {
		struct fw_item it = {0};
		struct fw_match_result res = {0};
		char *cats[1];

		it.title = text ? text : buf;
		it.summary = (char *)"";
		it.content = text ? text : buf;
		it.author = it.title;
		cats[0] = it.title;
		it.categories = cats;
		it.n_categories = 1;
		fw_match_item(m, &it, &res);
		fw_match_result_clear(&res);
		fw_matcher_free(m);
	}
	free(buf);
	return 0;
}
