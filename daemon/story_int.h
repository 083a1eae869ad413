/*
 * story_int.h - private to story.c and story_table.c: the one hash of the story index and
 * the one open-addressing table its features, stories and scratch tables are kept in.
 */
#ifndef FW_STORY_INT_H
#define FW_STORY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* FNV-1a over s[0..len), continuing from h (2166136261u to start). */
static inline uint32_t fw_story_fnv(uint32_t h, const void *s, size_t len)
{
	const unsigned char *p = s;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#define FW_STORY_FNV0 2166136261u

/*
 * A table of fixed-size entries whose key (uint32_t or int64_t, never 0: 0 marks a free
 * entry) is their first member: linear probing without tombstones, any capacity (an entry's
 * home is its key's hash scaled to the capacity, not masked), grown by half when fuller
 * than FW_STORY_TABLE_LOAD percent (a fixed table, cap set and grow false, is never grown).
 */
struct fw_story_table {
	unsigned char *v;
	size_t cap, n;
	size_t esize, ksize; /* entry and key sizes */
};

#define FW_STORY_TABLE_LOAD 80

static inline uint64_t fw_story_table_key(const struct fw_story_table *t, size_t i)
{
	if (t->ksize == 4) {
		uint32_t k;

		memcpy(&k, t->v + i * t->esize, 4);
		return k;
	}
	uint64_t k;

	memcpy(&k, t->v + i * t->esize, 8);
	return k;
}

static inline size_t fw_story_table_home(const struct fw_story_table *t, uint64_t key)
{
	uint64_t h = (key * 0x9E3779B97F4A7C15ull) >> 32;

	return (size_t)((h * t->cap) >> 32);
}

/* The entry of key, or NULL. */
static inline void *fw_story_table_find(const struct fw_story_table *t, uint64_t key)
{
	for (size_t i = fw_story_table_home(t, key);;) {
		uint64_t k = fw_story_table_key(t, i);

		if (k == key)
			return t->v + i * t->esize;
		if (k == 0)
			return NULL;
		if (++i == t->cap)
			i = 0;
	}
}

/* fw_story_table_get when key is not in the table and the table is full enough to grow. */
void *fw_story_table_add(struct fw_story_table *t, uint64_t key, bool grow, size_t *fresh);

static inline void fw_story_table_put_key(struct fw_story_table *t, size_t i, uint64_t key)
{
	if (t->ksize == 4) {
		uint32_t k = (uint32_t)key;

		memcpy(t->v + i * t->esize, &k, 4);
	} else {
		memcpy(t->v + i * t->esize, &key, 8);
	}
}

/*
 * The entry of key; when new, a zeroed one holding key (the table grown first if it may
 * be), its index in *fresh (else *fresh is SIZE_MAX). NULL when out of memory or when a
 * fixed table is full.
 */
static inline void *fw_story_table_get(struct fw_story_table *t, uint64_t key, bool grow,
                                       size_t *fresh)
{
	size_t i = fw_story_table_home(t, key);

	*fresh = SIZE_MAX;
	for (;;) {
		uint64_t k = fw_story_table_key(t, i);

		if (k == key)
			return t->v + i * t->esize;
		if (k == 0)
			break;
		if (++i == t->cap)
			i = 0;
	}
	if ((t->n + 1) * 100 > t->cap * FW_STORY_TABLE_LOAD)
		return fw_story_table_add(t, key, grow, fresh);
	memset(t->v + i * t->esize, 0, t->esize);
	fw_story_table_put_key(t, i, key);
	t->n++;
	*fresh = i;
	return t->v + i * t->esize;
}

/* Remove entry e, shifting back the entries after it. */
void fw_story_table_del(struct fw_story_table *t, void *e);

/* A table of cap entries of esize bytes, key of ksize bytes. 0 or -ENOMEM. */
int fw_story_table_init(struct fw_story_table *t, size_t cap, size_t esize, size_t ksize);

#endif
