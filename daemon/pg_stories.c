/*
 * pg_stories.c - the PostgreSQL store: the stories (not built yet).
 */
#include "pg_int.h"

#include <errno.h>

const char fw_pg_ddl_stories[] = "";

int fw_pg_story_add_item(struct fw_store *s, const struct fw_story_item_row *r, const char *sid,
                         int64_t *id, int64_t *story)
{
	(void)r;
	(void)sid;
	(void)id;
	(void)story;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_add_item: not built for PostgreSQL yet");
}

int fw_pg_story_get(struct fw_store *s, int64_t id, struct fw_story_row *out)
{
	(void)id;
	(void)out;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_get: not built for PostgreSQL yet");
}

int fw_pg_story_match(struct fw_store *s, int64_t item, const char *watchlist, const char *explain)
{
	(void)item;
	(void)watchlist;
	(void)explain;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_match: not built for PostgreSQL yet");
}

int fw_pg_story_watch_get(struct fw_store *s, int64_t story, const char *watchlist,
                          struct fw_story_watch *w)
{
	(void)story;
	(void)watchlist;
	(void)w;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_watch_get: not built for PostgreSQL yet");
}

int fw_pg_story_watch_set(struct fw_store *s, int64_t story, const char *watchlist,
                          const struct fw_story_watch *w)
{
	(void)story;
	(void)watchlist;
	(void)w;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_watch_set: not built for PostgreSQL yet");
}

int fw_pg_story_next_due(struct fw_store *s, int64_t *first)
{
	(void)first;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_next_due: not built for PostgreSQL yet");
}

int fw_pg_story_due(struct fw_store *s, int64_t before, size_t max, fw_store_story_due_cb cb,
                    void *arg)
{
	(void)before;
	(void)max;
	(void)cb;
	(void)arg;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_due: not built for PostgreSQL yet");
}

int fw_pg_story_pending(struct fw_store *s, int64_t story, const char *watchlist, int64_t after,
                        fw_store_story_item_cb cb, void *arg)
{
	(void)story;
	(void)watchlist;
	(void)after;
	(void)cb;
	(void)arg;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_pending: not built for PostgreSQL yet");
}

int fw_pg_story_load(struct fw_store *s, int64_t since, fw_store_story_item_cb cb, void *arg)
{
	(void)since;
	(void)cb;
	(void)arg;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_load: not built for PostgreSQL yet");
}

int fw_pg_story_items(struct fw_store *s, int64_t story, fw_store_story_item_cb cb, void *arg)
{
	(void)story;
	(void)cb;
	(void)arg;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_items: not built for PostgreSQL yet");
}

int fw_pg_story_list(struct fw_store *s, int64_t since, fw_store_story_cb cb, void *arg)
{
	(void)since;
	(void)cb;
	(void)arg;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_list: not built for PostgreSQL yet");
}

int fw_pg_story_find(struct fw_store *s, const char *sid, int64_t *id)
{
	(void)sid;
	(void)id;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_find: not built for PostgreSQL yet");
}

int fw_pg_story_watchlists(struct fw_store *s, int64_t story, char **out)
{
	(void)story;
	(void)out;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_watchlists: not built for PostgreSQL yet");
}

int fw_pg_story_count(struct fw_store *s, int64_t since, int64_t *n)
{
	(void)since;
	(void)n;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_count: not built for PostgreSQL yet");
}

int fw_pg_story_prune(struct fw_store *s, int64_t before, int64_t items_before, int64_t *deleted)
{
	(void)before;
	(void)items_before;
	(void)deleted;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_story_prune: not built for PostgreSQL yet");
}
