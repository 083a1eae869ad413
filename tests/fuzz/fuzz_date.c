/* fuzz_date.c - libFuzzer target: any text as a date; a parsed date round-trips. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[256], buf[32];
	int64_t t, back;

	if (size >= sizeof(in))
		size = sizeof(in) - 1;
	memcpy(in, data, size);
	in[size] = '\0';
	if (fw_date_parse(in, &t) != 0)
		return 0;
	/* what parses is in 0001..9999 and formats to RFC 3339 that parses back equal */
	fw_date_format(t, buf, sizeof(buf));
	if (strlen(buf) != 20 || fw_date_parse(buf, &back) != 0 || back != t)
		abort();
	return 0;
}
