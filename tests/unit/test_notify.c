/* test_notify.c - sd_notify messages, read from a datagram socket standing in for systemd. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "notify.h"

struct fixture {
	char dir[64];
	char path[96];
	int fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (f == NULL)
		return -1;
	f->fd = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fw-notify-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		goto fail;
	snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	setenv("NOTIFY_SOCKET", f->path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*state = f;
	return 0;
fail:
	if (f->fd >= 0)
		close(f->fd);
	rmdir(f->dir);
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The next datagram, NUL-terminated; NULL when none is queued. */
static char *next_msg(struct fixture *f, char *buf, size_t len)
{
	ssize_t n = recv(f->fd, buf, len - 1, MSG_DONTWAIT);

	if (n < 0)
		return NULL;
	buf[n] = 0;
	return buf;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The life of a service: the messages arrive in the order sent, with their fields. */
static void test_lifecycle(void **state)
{
	struct fixture *f = *state;
	char buf[1024], *m;
	unsigned long long mono;
	uint64_t before, after;

	assert_int_equal(fw_notify_ready("3 feeds, 1 watchlist"), 0);
	assert_int_equal(fw_notify_status("polling %d of %d feeds", 2, 3), 0);
	before = now_usec();
	assert_int_equal(fw_notify_reloading(), 0);
	after = now_usec();
	assert_int_equal(fw_notify_ready(NULL), 0);
	assert_int_equal(fw_notify_watchdog(), 0);
	assert_int_equal(fw_notify_stopping(), 0);

	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_string_equal(m, "READY=1\nSTATUS=3 feeds, 1 watchlist");
	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_string_equal(m, "STATUS=polling 2 of 3 feeds");
	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_int_equal(sscanf(m, "RELOADING=1\nMONOTONIC_USEC=%llu", &mono), 1);
	assert_true(mono >= before && mono <= after);
	assert_null(strchr(strchr(m, '\n') + 1, '\n'));
	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_string_equal(m, "READY=1");
	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_string_equal(m, "WATCHDOG=1");
	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_string_equal(m, "STOPPING=1");
	assert_null(next_msg(f, buf, sizeof(buf)));
}

/* A status cannot forge another assignment, and long text is cut at a character. */
static void test_status_is_one_line(void **state)
{
	struct fixture *f = *state;
	char buf[2048], long_text[FW_NOTIFY_STATUS_MAX * 2 + 1], *m;
	size_t n;

	assert_int_equal(fw_notify_status("feed 'x': 404\nREADY=1\r\nSTOPPING=1"), 0);
	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_string_equal(m, "STATUS=feed 'x': 404 READY=1  STOPPING=1");
	assert_int_equal(fw_notify_ready("a\nWATCHDOG=1"), 0);
	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_string_equal(m, "READY=1\nSTATUS=a WATCHDOG=1");

	/* "é" is two bytes: an odd cap would split one. */
	for (n = 0; n + 2 <= sizeof(long_text) - 1; n += 2)
		memcpy(long_text + n, "\xc3\xa9", 2);
	long_text[n] = 0;
	assert_int_equal(fw_notify_status("x%s", long_text), 0);
	assert_non_null(m = next_msg(f, buf, sizeof(buf)));
	assert_true(strncmp(m, "STATUS=x\xc3\xa9", 10) == 0);
	n = strlen(m) - strlen("STATUS=");
	assert_true(n <= FW_NOTIFY_STATUS_MAX);
	assert_true(n >= FW_NOTIFY_STATUS_MAX - 1);
	/* "x" then whole "é"s: an odd length, ending on a complete character. */
	assert_int_equal(n % 2, 1);
	assert_int_equal((unsigned char)m[strlen(m) - 1], 0xa9);
}

/* WATCHDOG_USEC applies to this process only when WATCHDOG_PID names it (or is unset). */
static void test_watchdog_usec(void **state)
{
	char pid[32];
	uint64_t usec = 42;

	assert_int_equal(fw_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 0);

	setenv("WATCHDOG_USEC", "20000000", 1);
	usec = 42;
	assert_int_equal(fw_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 20000000);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	usec = 42;
	assert_int_equal(fw_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 20000000);

	/* Meant for another process (the service's main process, we being a child). */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	usec = 42;
	assert_int_equal(fw_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 0);

	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "soon", 1);
	usec = 42;
	assert_int_equal(fw_notify_watchdog_usec(&usec), -EINVAL);
	assert_int_equal(usec, 42);
	setenv("WATCHDOG_USEC", "0", 1);
	assert_int_equal(fw_notify_watchdog_usec(&usec), -EINVAL);
	assert_int_equal(usec, 42);
}

/* Whether s is well-formed UTF-8 (enough for the check below: lengths, not ranges). */
static bool utf8_whole(const char *s)
{
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;

		if (len == 0)
			return false;
		for (size_t i = 1; i < len; i++)
			if (((unsigned char)s[i] & 0xc0) != 0x80)
				return false;
		s += len;
	}
	return true;
}

/* Wherever the cap falls in a 3- or 4-byte character, the status stays whole UTF-8. */
static void test_status_cut_anywhere(void **state)
{
	static const char *const chars[] = {"\xe2\x82\xac", "\xf0\x9f\x93\xb0"}; /* € 📰 */
	struct fixture *f = *state;
	char buf[2048], text[FW_NOTIFY_STATUS_MAX * 2], *m;

	for (size_t c = 0; c < 2; c++) {
		for (size_t pad = 0; pad < 4; pad++) {
			size_t n = 0, clen = strlen(chars[c]);

			memset(text, 'x', pad);
			n = pad;
			while (n + clen < sizeof(text)) {
				memcpy(text + n, chars[c], clen);
				n += clen;
			}
			text[n] = 0;
			assert_int_equal(fw_notify_status("%s", text), 0);
			assert_non_null(m = next_msg(f, buf, sizeof(buf)));
			assert_true(strlen(m) > strlen("STATUS=") + FW_NOTIFY_STATUS_MAX - 4);
			assert_true(strlen(m) <= strlen("STATUS=") + FW_NOTIFY_STATUS_MAX);
			assert_true(utf8_whole(m));
		}
	}
}

/* No manager listening: nothing to do, and no error (a daemon started by hand). */
static void test_no_socket(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	uint64_t usec = 42;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(fw_notify_ready("up"), 0);
	assert_int_equal(fw_notify_status("%s", "idle"), 0);
	assert_int_equal(fw_notify_reloading(), 0);
	assert_int_equal(fw_notify_watchdog(), 0);
	assert_int_equal(fw_notify_stopping(), 0);
	assert_int_equal(fw_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 0);
	assert_null(next_msg(f, buf, sizeof(buf)));
}

/* A socket that is not there is an error the caller sees; so is a relative path. */
static void test_socket_gone(void **state)
{
	struct fixture *f = *state;
	char gone[96];

	snprintf(gone, sizeof(gone), "%s/nobody", f->dir);
	setenv("NOTIFY_SOCKET", gone, 1);
	assert_int_equal(fw_notify_ready(NULL), -ENOENT);
	setenv("NOTIFY_SOCKET", "run/notify", 1);
	assert_int_equal(fw_notify_ready(NULL), -EINVAL);
}

/* "@name": a socket in the abstract namespace, as systemd may hand out. */
static void test_abstract_socket(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[64], buf[256];
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int n = snprintf(name, sizeof(name), "@fw-notify-test-%ld", (long)getpid());

	(void)f;
	assert_true(fd >= 0);
	memcpy(sa.sun_path, name, (size_t)n);
	sa.sun_path[0] = 0;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
	                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n)),
	                 0);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(fw_notify_ready("up"), 0);
	ssize_t got = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	close(fd);
	assert_true(got > 0);
	buf[got] = 0;
	assert_string_equal(buf, "READY=1\nSTATUS=up");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_is_one_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_cut_anywhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watchdog_usec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abstract_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_socket, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
