/*
 * pg_outbox.c - the PostgreSQL store: the alert outbox and the alert rows of `feedwatch alerts` (not built yet).
 */
#include "pg_int.h"

#include <errno.h>

const char fw_pg_ddl_outbox[] = "";

int fw_pg_outbox_add(struct fw_store *s, const char *alert_id, const char *output,
                     const char *payload, int64_t now)
{
	(void)alert_id;
	(void)output;
	(void)payload;
	(void)now;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_add: not built for PostgreSQL yet");
}

int fw_pg_outbox_due(struct fw_store *s, int64_t now, size_t max, const int64_t *busy,
                     size_t n_busy, struct fw_outbox_entry **out, size_t *n)
{
	(void)now;
	(void)max;
	(void)busy;
	(void)n_busy;
	(void)out;
	(void)n;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_due: not built for PostgreSQL yet");
}

int fw_pg_outbox_next_due(struct fw_store *s, int64_t *when)
{
	(void)when;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_next_due: not built for PostgreSQL yet");
}

int fw_pg_outbox_delivered(struct fw_store *s, int64_t rowid, int64_t now)
{
	(void)rowid;
	(void)now;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_delivered: not built for PostgreSQL yet");
}

int fw_pg_outbox_retry(struct fw_store *s, int64_t rowid, int64_t next_at, const char *error)
{
	(void)rowid;
	(void)next_at;
	(void)error;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_retry: not built for PostgreSQL yet");
}

int fw_pg_outbox_kill(struct fw_store *s, int64_t rowid, const char *error)
{
	(void)rowid;
	(void)error;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_kill: not built for PostgreSQL yet");
}

int fw_pg_outbox_hold(struct fw_store *s, int64_t rowid, int64_t next_at, const char *why)
{
	(void)rowid;
	(void)next_at;
	(void)why;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_hold: not built for PostgreSQL yet");
}

int fw_pg_outbox_expire(struct fw_store *s, int64_t rowid, const char *why)
{
	(void)rowid;
	(void)why;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_expire: not built for PostgreSQL yet");
}

int fw_pg_outbox_release(struct fw_store *s, const char *output, int64_t now, int64_t *changed)
{
	(void)output;
	(void)now;
	(void)changed;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_release: not built for PostgreSQL yet");
}

int fw_pg_outbox_list(struct fw_store *s, int state, const char *output,
                      struct fw_outbox_entry **out, size_t *n)
{
	(void)state;
	(void)output;
	(void)out;
	(void)n;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_list: not built for PostgreSQL yet");
}

int fw_pg_outbox_revive(struct fw_store *s, int64_t rowid, const char *output, int64_t now,
                        int64_t *changed)
{
	(void)rowid;
	(void)output;
	(void)now;
	(void)changed;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_revive: not built for PostgreSQL yet");
}

int fw_pg_outbox_drop(struct fw_store *s, int64_t rowid, const char *output, int64_t *changed)
{
	(void)rowid;
	(void)output;
	(void)changed;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_drop: not built for PostgreSQL yet");
}

int fw_pg_outbox_count(struct fw_store *s, const char *output, int64_t *pending, int64_t *dead)
{
	(void)output;
	(void)pending;
	(void)dead;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_count: not built for PostgreSQL yet");
}

int fw_pg_alert_rows(struct fw_store *s, int64_t since, const char *watchlist, size_t max,
                     struct fw_alert_row **out, size_t *n)
{
	(void)since;
	(void)watchlist;
	(void)max;
	(void)out;
	(void)n;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_alert_rows: not built for PostgreSQL yet");
}

int fw_pg_outbox_last_rowid(struct fw_store *s, int64_t *rowid)
{
	(void)rowid;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_last_rowid: not built for PostgreSQL yet");
}

int fw_pg_outbox_count_after(struct fw_store *s, int64_t after, int64_t *pending, int64_t *dead)
{
	(void)after;
	(void)pending;
	(void)dead;
	return fw_pg_fail_msg(fw_pg_of(s), -ENOSYS,
	                      "fw_store_outbox_count_after: not built for PostgreSQL yet");
}
