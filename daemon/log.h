/* log.h - the daemon's own log: stderr, with sd-daemon <N> prefixes under journald. */
#ifndef FW_LOG_H
#define FW_LOG_H

#include <stdarg.h>

#include <feedwatch/plugin.h> /* enum fw_log_level */

/* Set the threshold (FW_LOG_ERR .. FW_LOG_DEBUG); lines above it are dropped. */
void fw_log_set_level(int level);
int fw_log_get_level(void);

/* Decide once whether stderr is journald's stream ($JOURNAL_STREAM matches it). */
void fw_log_init(void);

/* Log one line (a trailing newline is added). Thread-safe. */
void fw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fw_log_v(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
