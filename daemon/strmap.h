/*
 * strmap.h - a map from strings to indices (open addressing, FNV-1a), so that the names and
 * URLs of 100,000 feeds are checked for duplicates in linear time. The keys are borrowed:
 * they must outlive the map and not change. Pure: no I/O, never logs.
 */
#ifndef FW_STRMAP_H
#define FW_STRMAP_H

#include <stddef.h>

struct fw_strmap {
	const char **keys; /* NULL: an empty slot */
	size_t *vals;
	size_t cap; /* a power of two, or 0 before the first add */
	size_t n;
};

/* The value of key in *val (unchanged when absent). 0, or -ENOENT. */
int fw_strmap_get(const struct fw_strmap *m, const char *key, size_t *val);

/* Map key to val unless key is there already. 0 (added), -EEXIST (*old, when old is not
   NULL, is the value kept), or -ENOMEM. m may start zeroed; it grows as needed. */
int fw_strmap_add(struct fw_strmap *m, const char *key, size_t val, size_t *old);

/* Free the map's tables (not the keys) and zero it. */
void fw_strmap_clear(struct fw_strmap *m);

#endif
