/* fuzz_parse.c - libFuzzer target: any bytes, any chunking, into the feed parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int item_cb(struct fw_item *item, void *arg)
{
	char *json = NULL;

	(void)arg;
	/* every item must serialise, with an id */
	if (!item->id || fw_item_to_json(item, &json) != 0)
		abort();
	free(json);
	fw_item_free(item);
	return 0;
}

/* The first byte picks the chunk size, so the fuzzer explores chunk boundaries too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = {1, 2, 3, 7, 64, 4096, 65536, 1 << 20};
	struct fw_parse_limits lim = {.max_items = 200, .max_json = 1 << 20};

	if (size == 0)
		return 0;
	size_t chunk = chunks[data[0] & 7];
	const char *charset = (data[0] & 8) ? "windows-1252" : NULL;
	struct fw_parser *p = fw_parse_new((data[0] & 16) ? "https://example.org/feed/" : NULL,
	                                   charset, &lim, item_cb, NULL);
	if (!p)
		return 0;
	data++;
	size--;
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (fw_parse_push(p, (const char *)data + off, n) < 0)
			break;
	}
	fw_parse_end(p);
	const char *problem = fw_parse_problem(p);
	if (problem && strchr(problem, '\n'))
		abort();
	fw_parse_free(p);
	return 0;
}
