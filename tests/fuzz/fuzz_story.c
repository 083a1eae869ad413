/*
 * fuzz_story.c - libFuzzer target for the story index (daemon/story.c): each input line is
 * an item ("title\tsummary", the first byte's low bits choosing entities and a time step);
 * every item is placed in a small window, and now and then the newest are taken back or
 * the window moves on, so that features, postings, pruning and popping meet any text.
 * Build: clang -fsanitize=fuzzer,address,undefined ... linked with fwmatch.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "story.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ents[] = {
	    "putin", "north_korea", "kim",
	    "a_very_long_entity_name_that_is_cut_somewhere_in_a_pair"};
	struct fw_fold *fold = NULL;
	struct fw_story_index *x = NULL;
	char *buf = malloc(size + 1), *line, *save = NULL;
	int64_t t = 1718744400, item = 1, story = 1;

	if (!buf || fw_fold_new(&fold) < 0 || fw_story_index_new(600, &x) < 0)
		goto out;
	memcpy(buf, data, size);
	buf[size] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned op = (unsigned char)line[0];
		char *tab = strchr(line, '\t');
		struct fw_story_features f;
		struct fw_story_terms terms;
		struct fw_story_place p;

		if (tab)
			*tab = 0;
		if (fw_story_features(fold, line + 1, tab ? tab + 1 : NULL, NULL, ents, op & 3, &f,
		                      (op & 4) ? &terms : NULL) < 0 ||
		    fw_story_index_find(x, &f, t, &p) < 0)
			break;
		if (fw_story_index_add(x, &f, item++, p.story ? p.story : story++, t) < 0)
			break;
		if ((op & 0x30) == 0x30)
			fw_story_index_pop(x, op >> 6);
		t += (op >> 3) & 7 ? 60 * ((op >> 3) & 7) : 0;
		if (op == 0xFF)
			fw_story_index_prune(x, t + 3600);
	}
out:
	fw_story_index_free(x);
	fw_fold_free(fold);
	free(buf);
	return 0;
}
