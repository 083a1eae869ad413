/* date.h - feed dates: RFC 822/1123 and RFC 3339/ISO 8601 in, RFC 3339 UTC out. Pure. */
#ifndef FW_DATE_H
#define FW_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Parse a date as found in feeds. Returns 0 and Unix seconds UTC in *out, or -EINVAL
   when the text is not a date this parser is sure of (never a guess). */
int fw_date_parse(const char *text, int64_t *out);

/* Format t as RFC 3339 UTC ("2024-06-18T21:44:00Z") into buf (at least 32 bytes).
   Returns buf. */
char *fw_date_format(int64_t t, char *buf, size_t size);

#endif
