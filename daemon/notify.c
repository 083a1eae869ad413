/* notify.c - sd_notify(3) messages to the service manager, or nothing without libsystemd. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef FW_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

/* Room for "READY=1\nSTATUS=" plus the capped status text. */
#define FW_NOTIFY_MSG_MAX (FW_NOTIFY_STATUS_MAX + 64)

#ifdef FW_HAVE_SYSTEMD
/* sd_notify() returns > 0 when sent, 0 when $NOTIFY_SOCKET is unset, or -errno. */
static int send_msg(const char *msg)
{
	int r = sd_notify(0, msg);

	return r < 0 ? r : 0;
}
#else
static int send_msg(const char *msg)
{
	(void)msg;
	return 0;
}
#endif

/* The length of the UTF-8 sequence a lead byte starts (1 for a stray byte). */
static size_t utf8_len(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return 4;
	if (c >= 0xe0)
		return c < 0xf0 ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/* Copy text into dst (size FW_NOTIFY_STATUS_MAX + 1): control characters, newlines above
   all, become spaces (a newline would start a new assignment); cut to the cap without
   leaving half a UTF-8 character (the text may itself end in one, cut by vsnprintf). */
static void clean_status(char *dst, const char *text)
{
	size_t n = strnlen(text, FW_NOTIFY_STATUS_MAX), lead = n;

	while (lead > 0 && n - lead < 3 && ((unsigned char)text[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead > 0 && ((unsigned char)text[lead - 1] & 0xc0) == 0xc0 &&
	    n - (lead - 1) < utf8_len((unsigned char)text[lead - 1]))
		n = lead - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
	dst[n] = 0;
}

/* Tell the manager start-up (or a reload) is complete. */
int fw_notify_ready(const char *status)
{
	char clean[FW_NOTIFY_STATUS_MAX + 1], msg[FW_NOTIFY_MSG_MAX];

	if (status == NULL)
		return send_msg("READY=1");
	clean_status(clean, status);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", clean);
	return send_msg(msg);
}

/* Send a one-line status. */
int fw_notify_status(const char *fmt, ...)
{
	char text[FW_NOTIFY_STATUS_MAX + 1], clean[FW_NOTIFY_STATUS_MAX + 1];
	char msg[FW_NOTIFY_MSG_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	clean_status(clean, text);
	snprintf(msg, sizeof(msg), "STATUS=%s", clean);
	return send_msg(msg);
}

/* Tell the manager a reload has begun. */
int fw_notify_reloading(void)
{
	struct timespec ts;
	char msg[FW_NOTIFY_MSG_MAX];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -errno;
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ULL +
	             (unsigned long long)ts.tv_nsec / 1000ULL);
	return send_msg(msg);
}

/* Tell the manager the shutdown has begun. */
int fw_notify_stopping(void)
{
	return send_msg("STOPPING=1");
}

/* Ping the watchdog. */
int fw_notify_watchdog(void)
{
	return send_msg("WATCHDOG=1");
}

/* The watchdog interval the manager asked for, 0 when none. */
int fw_notify_watchdog_usec(uint64_t *usec)
{
#ifdef FW_HAVE_SYSTEMD
	uint64_t v = 0;
	int r = sd_watchdog_enabled(0, &v);

	if (r < 0)
		return r;
	*usec = r > 0 ? v : 0;
#else
	*usec = 0;
#endif
	return 0;
}
