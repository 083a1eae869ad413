/* notify.c - sd_notify(3) messages to the service manager: the datagram protocol itself
   (a few lines, where libsystemd would load five more libraries at every start). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

/* Room for "READY=1\nSTATUS=" plus the capped status text. */
#define FW_NOTIFY_MSG_MAX (FW_NOTIFY_STATUS_MAX + 64)

/* One datagram to $NOTIFY_SOCKET (an absolute path, or '@' for the abstract namespace),
   as sd_notify(0, msg) sends it: 0 when sent or when the variable is unset, else -errno. */
static int send_msg(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n;

	if (path == NULL || path[0] == '\0')
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n < 2 || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';

	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ssize_t w = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
	                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	int r = w < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* A decimal number with nothing after it, no sign; false when malformed or out of range. */
static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*v = x;
	return true;
}

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

/* The watchdog interval the manager asked for, 0 when none (sd_watchdog_enabled(3)):
   $WATCHDOG_USEC, when $WATCHDOG_PID is unset or names this process. */
int fw_notify_watchdog_usec(uint64_t *usec)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	if (us == NULL) {
		*usec = 0;
		return 0;
	}
	if (!parse_u64(us, &v) || v == 0)
		return -EINVAL;
	if (pid != NULL) {
		if (!parse_u64(pid, &p) || p == 0)
			return -EINVAL;
		if (p != (uint64_t)getpid()) {
			*usec = 0;
			return 0;
		}
	}
	*usec = v;
	return 0;
}
