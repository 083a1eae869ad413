/* fuzz_opml.c - libFuzzer target: OPML (opml.c) and HTML autodiscovery (discover.c) on
   the same bytes; what the OPML reader accepts is written and read back to the same feeds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "opml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_opml *o = NULL, *back = NULL;
	struct fw_discover *d = NULL;
	char err[256], *text = NULL;
	size_t len = 0;

	if (fw_opml_parse((const char *)data, size, "fuzz", &o, err, sizeof(err)) == 0) {
		if (fw_opml_format(o, &text, &len) == 0) {
			if (fw_opml_parse(text, len, "back", &back, err, sizeof(err)) != 0 ||
			    back->n != o->n)
				abort();
			/* folders group the feeds, so the order may change, not the set */
			for (size_t i = 0; i < o->n; i++)
				if (fw_opml_find(back, NULL, o->feeds[i].url) < 0)
					abort();
		}
		free(text);
		fw_opml_free(back);
		fw_opml_free(o);
	}
	if (fw_discover_html((const char *)data, size, "https://fuzz.example/a/b", &d) == 0) {
		if (d->n > FW_DISCOVER_MAX_LINKS)
			abort();
		fw_discover_free(d);
	}
	return 0;
}
