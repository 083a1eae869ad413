/*
 * notify.h - the service manager's side channel (sd_notify(3)): readiness, status, reload,
 * stop and watchdog messages to $NOTIFY_SOCKET, the protocol spoken directly (no libsystemd);
 * without $NOTIFY_SOCKET every function does nothing and returns 0. Pure of logging: failures
 * come back as negative errno and the caller decides whether they matter (they rarely do:
 * a daemon must keep working when the manager is not listening).
 */
#ifndef FW_NOTIFY_H
#define FW_NOTIFY_H

#include <stdint.h>

/* The longest STATUS= text sent; longer text is cut (at a UTF-8 boundary). */
#define FW_NOTIFY_STATUS_MAX 256

/* "READY=1", with "STATUS=status" when status is not NULL. Send once start-up is done
   (the store is open, the feeds are scheduled). Returns 0 (also when no manager listens)
   or a negative errno. */
int fw_notify_ready(const char *status);

/* "STATUS=..." formatted like printf; newlines become spaces so that a message cannot
   forge another assignment. Returns 0 or a negative errno. */
int fw_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "RELOADING=1" with "MONOTONIC_USEC=" now on CLOCK_MONOTONIC (sd_notify(3)); send when a
   reload starts and fw_notify_ready() when it is over. Returns 0 or a negative errno. */
int fw_notify_reloading(void);

/* "STOPPING=1": the orderly shutdown has begun. Returns 0 or a negative errno. */
int fw_notify_stopping(void);

/* "WATCHDOG=1": the loop is alive. Returns 0 or a negative errno. */
int fw_notify_watchdog(void);

/*
 * Whether the manager expects watchdog pings ($WATCHDOG_USEC, for this process when
 * $WATCHDOG_PID is set): returns 0 and the interval in microseconds in *usec (0 when no
 * pings are expected), or -EINVAL when the variables are malformed (*usec untouched).
 * Ping at half the interval.
 */
int fw_notify_watchdog_usec(uint64_t *usec);

#endif
