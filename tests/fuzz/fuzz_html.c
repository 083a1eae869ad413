/* fuzz_html.c - libFuzzer target: HTML / plain text to text, bounded, valid UTF-8. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		size_t n = *u < 0x80 ? 1 : *u < 0xe0 ? 2 : *u < 0xf0 ? 3 : 4;
		if (*u >= 0x80 && *u < 0xc2)
			abort();
		for (size_t i = 1; i < n; i++) {
			if ((u[i] & 0xc0) != 0x80)
				abort();
		}
		u += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size > 0 ? data[0] * 4u + 1 : 16;
	char *s = fw_text_from_html((const char *)data, size, cap);

	if (s) {
		if (strlen(s) > cap || (s[0] == ' ') || (s[0] && s[strlen(s) - 1] == ' '))
			abort();
		check_utf8(s);
		free(s);
	}
	s = fw_text_plain((const char *)data, size, cap);
	if (s) {
		if (strlen(s) > cap)
			abort();
		check_utf8(s);
		free(s);
	}
	char *copy = malloc(size + 1);
	if (copy) {
		memcpy(copy, data, size);
		copy[size] = '\0';
		fw_text_collapse(copy);
		check_utf8(copy);
		free(copy);
	}
	/* The fast HTML path must give exactly what libxml2's HTML parser gives. */
	if (fw_text_has_markup((const char *)data, size)) {
		char *fast = NULL, *slow;

		if (fw_text_html_fast((const char *)data, size, cap, &fast) == 0) {
			slow = fw_text_from_html_libxml2((const char *)data, size, cap);
			if (slow && strcmp(fast, slow) != 0)
				abort();
			free(slow);
		}
		free(fast);
	}
	return 0;
}
