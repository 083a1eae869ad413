/*
 * pg_store.c - the PostgreSQL backend of store.h: not built yet.
 */
#include <errno.h>
#include <stdio.h>

#include "store_backend.h"

int fw_pg_open(const char *url, bool read_only, int busy_ms, struct fw_store **out, char *err,
               size_t errlen)
{
	(void)url;
	(void)read_only;
	(void)busy_ms;
	(void)out;
	snprintf(err, errlen, "PostgreSQL stores are not built yet");
	return -EPROTONOSUPPORT;
}
