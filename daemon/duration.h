/* duration.h - "30s", "5m", "2h", "1d" and sizes "512k", "16M". Pure. */
#ifndef FW_DURATION_H
#define FW_DURATION_H

#include <stdint.h>

/* Parse a duration: a whole number of seconds, optionally followed by s, m, h, d or w,
   or several such parts ("1h30m"). Returns 0 and seconds in *out, or -EINVAL / -ERANGE. */
int fw_duration_parse(const char *text, int64_t *out);

/* Parse a byte size: a number optionally followed by k, M or G (powers of 1024). */
int fw_size_parse(const char *text, int64_t *out);

#endif
