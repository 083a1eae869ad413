/*
 * story_table.c - the open-addressing table of the story index (story_int.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "story_int.h"

int fw_story_table_init(struct fw_story_table *t, size_t cap, size_t esize, size_t ksize)
{
	*t = (struct fw_story_table){.cap = cap, .esize = esize, .ksize = ksize};
	t->v = calloc(cap, esize);
	return t->v ? 0 : -ENOMEM;
}

/* The free index where key goes. */
static size_t free_slot(const struct fw_story_table *t, uint64_t key)
{
	size_t i = fw_story_table_home(t, key);

	while (fw_story_table_key(t, i) != 0)
		if (++i == t->cap)
			i = 0;
	return i;
}

/* Grow by half. 0 or -ENOMEM. */
static int grow(struct fw_story_table *t)
{
	struct fw_story_table old = *t;

	t->cap = old.cap + old.cap / 2;
	t->v = calloc(t->cap, t->esize);
	if (t->v == NULL) {
		*t = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++) {
		uint64_t k = fw_story_table_key(&old, i);

		if (k)
			memcpy(t->v + free_slot(t, k) * t->esize, old.v + i * old.esize, t->esize);
	}
	free(old.v);
	return 0;
}

void *fw_story_table_add(struct fw_story_table *t, uint64_t key, bool may_grow, size_t *fresh)
{
	size_t i;

	*fresh = SIZE_MAX;
	if (!may_grow) {
		if (t->n + 1 >= t->cap)
			return NULL;
	} else if (grow(t) < 0) {
		return NULL;
	}
	i = free_slot(t, key);
	memset(t->v + i * t->esize, 0, t->esize);
	fw_story_table_put_key(t, i, key);
	t->n++;
	*fresh = i;
	return t->v + i * t->esize;
}

void fw_story_table_del(struct fw_story_table *t, void *e)
{
	size_t i = (size_t)((unsigned char *)e - t->v) / t->esize, j = i;

	fw_story_table_put_key(t, i, 0);
	t->n--;
	for (;;) {
		size_t home, dj, di;
		uint64_t k;

		if (++j == t->cap)
			j = 0;
		if ((k = fw_story_table_key(t, j)) == 0)
			return;
		home = fw_story_table_home(t, k);
		/* move j back to i when its home is not within (i, j] */
		dj = j >= home ? j - home : j + t->cap - home;
		di = j >= i ? j - i : j + t->cap - i;
		if (dj >= di) {
			memcpy(t->v + i * t->esize, t->v + j * t->esize, t->esize);
			fw_story_table_put_key(t, j, 0);
			i = j;
		}
	}
}
