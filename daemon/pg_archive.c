/*
 * pg_archive.c - the PostgreSQL store: the item archive and the WebSub subscriptions (not built yet).
 */
#include "pg_int.h"

#include <errno.h>

const char fw_pg_ddl_archive[] = "";

int fw_pg_websub_save(struct fw_store *s, const struct fw_store_websub *w)
{
	(void)w;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_websub_save: not built for PostgreSQL yet");
}

int fw_pg_websub_delete(struct fw_store *s, const char *token)
{
	(void)token;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_websub_delete: not built for PostgreSQL yet");
}

int fw_pg_websub_counts(struct fw_store *s, const char *token, int64_t last_push, int64_t pushes,
                        int64_t bad_signatures)
{
	(void)token;
	(void)last_push;
	(void)pushes;
	(void)bad_signatures;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_websub_counts: not built for PostgreSQL yet");
}

int fw_pg_websub_each(struct fw_store *s, fw_store_websub_cb cb, void *arg)
{
	(void)cb;
	(void)arg;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_websub_each: not built for PostgreSQL yet");
}

int fw_pg_archive_add(struct fw_store *s, const struct fw_archive_row *r)
{
	(void)r;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_archive_add: not built for PostgreSQL yet");
}

int fw_pg_archive_index(struct fw_store *s, size_t max, const struct fw_store_words *w,
                        size_t *indexed)
{
	(void)max;
	(void)w;
	(void)indexed;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_archive_index: not built for PostgreSQL yet");
}

int fw_pg_archive_each(struct fw_store *s, int64_t since, const char *words, fw_store_archive_cb cb,
                       void *arg)
{
	(void)since;
	(void)words;
	(void)cb;
	(void)arg;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_archive_each: not built for PostgreSQL yet");
}

int fw_pg_archive_count(struct fw_store *s, int64_t since, int64_t *n, int64_t *bytes)
{
	(void)since;
	(void)n;
	(void)bytes;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_archive_count: not built for PostgreSQL yet");
}

int fw_pg_archive_prune_step(struct fw_store *s, struct fw_store_archive_pruning *p,
                             size_t max_rows, const struct fw_store_words *w, bool *done)
{
	(void)p;
	(void)max_rows;
	(void)w;
	(void)done;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_archive_prune_step: not built for PostgreSQL yet");
}

int fw_pg_archive_last_prune(struct fw_store *s, int64_t *when)
{
	(void)when;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_archive_last_prune: not built for PostgreSQL yet");
}
