/*
 * pushwork.h - a pushed feed document (WebSub content distribution) parsed like a poll's
 * body: on the parser thread (parsework.c), bounded the same way, its items handed back as
 * a struct fw_fetch_result with no transfer behind it (status 200, no validators).
 */
#ifndef FW_PUSHWORK_H
#define FW_PUSHWORK_H

#include <stddef.h>

#include "fetch.h"
#include "parsework.h"

struct fw_pushwork;

/* Parse len bytes of body (copied) on pw; base_url resolves relative links. cb runs once
   on the loop thread with the result (error -EBADMSG when it is not a feed), unless the
   job is cancelled first. 0 and *out (for cancel), or -ENOMEM. */
int fw_pushwork_start(struct fw_parsework *pw, const char *body, size_t len, const char *base_url,
                      size_t max_items, fw_fetch_cb cb, void *arg, struct fw_pushwork **out);

/* Drop a job whose callback has not run: it will not run. */
void fw_pushwork_cancel(struct fw_pushwork *j);

#endif
