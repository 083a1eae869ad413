/*
 * nats_int.h - private to plugins/nats: the pure subject helpers of subject.c, shared with
 * nats.c (which owns the connection) and with the unit test.
 */
#ifndef FW_NATS_INT_H
#define FW_NATS_INT_H

#include <stdbool.h>
#include <stddef.h>

#define FW_SUBJECT_MAX     1024 /* bytes of one rendered subject, NUL included */
#define FW_SUBJECT_TOKEN   200  /* bytes of one sanitised watchlist token */
#define FW_SUBJECT_DEFAULT "feedwatch.alerts.{watchlist}"

/*
 * Check a configured subject pattern: the only placeholder is {watchlist}, and the subject
 * it renders is a literal publish subject (dot-separated non-empty tokens, no space or
 * control character, no `*` or `>`). Returns 0, or -EINVAL with *why set to a static
 * reason.
 */
int fw_subject_check(const char *pattern, const char **why);

/*
 * Render pattern (checked by fw_subject_check) for one watchlist into out (n bytes): each
 * {watchlist} becomes the watchlist name as one token, every byte that NATS gives a meaning
 * (`.`, `*`, `>`, space, control, and other ASCII punctuation but `-` and `_`) replaced by
 * `_`, UTF-8 kept, cut at FW_SUBJECT_TOKEN bytes on a character boundary; an empty name is
 * `_`. Returns 0 or -ENAMETOOLONG.
 */
int fw_subject_render(const char *pattern, const char *watchlist, char *out, size_t n);

/*
 * The stream subject that covers every subject pattern renders: the tokens before the
 * first token holding {watchlist}, then `>` ("feedwatch.alerts.{watchlist}" gives
 * "feedwatch.alerts.>"); the pattern itself when it has no placeholder. Returns 0 or
 * -ENAMETOOLONG.
 */
int fw_subject_cover(const char *pattern, char *out, size_t n);

/* Whether the literal subject matches filter, a NATS subject with `*` and `>` wildcards. */
bool fw_subject_matches(const char *filter, const char *subject);

/* Whether name is a valid JetStream stream name: 1 to 255 bytes, none of `.`, `*`, `>`,
   `/`, `\`, space or control characters. */
bool fw_subject_stream_ok(const char *name);

#endif
