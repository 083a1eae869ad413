/* strmap.c - strings to indices, open addressing with linear probing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static size_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 32));
}

/* The slot of key: its own, or the empty one it would take. cap must be > n. */
static size_t slot_of(const char **keys, size_t cap, const char *key)
{
	size_t i = hash(key) & (cap - 1);

	while (keys[i] && strcmp(keys[i], key) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

int fw_strmap_get(const struct fw_strmap *m, const char *key, size_t *val)
{
	size_t i;

	if (m->cap == 0)
		return -ENOENT;
	i = slot_of(m->keys, m->cap, key);
	if (m->keys[i] == NULL)
		return -ENOENT;
	*val = m->vals[i];
	return 0;
}

/* Twice the slots (at least 64), every key moved over. */
static int grow(struct fw_strmap *m)
{
	size_t cap = m->cap ? 2 * m->cap : 64;
	const char **keys = calloc(cap, sizeof(*keys));
	size_t *vals = malloc(cap * sizeof(*vals));

	if (keys == NULL || vals == NULL) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (m->keys[i] == NULL)
			continue;
		j = slot_of(keys, cap, m->keys[i]);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

int fw_strmap_add(struct fw_strmap *m, const char *key, size_t val, size_t *old)
{
	size_t i;

	/* at most half full: probes stay short */
	if (2 * (m->n + 1) > m->cap && grow(m) < 0)
		return -ENOMEM;
	i = slot_of(m->keys, m->cap, key);
	if (m->keys[i]) {
		if (old)
			*old = m->vals[i];
		return -EEXIST;
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void fw_strmap_clear(struct fw_strmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
