/* log.c - the daemon's log lines on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

static int log_level = FW_LOG_INFO;
static int log_journal;

/* Set the verbosity threshold. */
void fw_log_set_level(int level)
{
	if (level < FW_LOG_ERR)
		level = FW_LOG_ERR;
	if (level > FW_LOG_DEBUG)
		level = FW_LOG_DEBUG;
	log_level = level;
}

/* The current threshold. */
int fw_log_get_level(void)
{
	return log_level;
}

/* journald sets JOURNAL_STREAM=dev:ino for the stream it listens on (sd-daemon(3)). */
void fw_log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_journal = 0;
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return;
	if (fstat(fileno(stderr), &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		log_journal = 1;
}

static const char *level_name(int level)
{
	switch (level) {
	case FW_LOG_ERR:
		return "error";
	case FW_LOG_WARNING:
		return "warning";
	case FW_LOG_NOTICE:
		return "notice";
	case FW_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Log one line with a va_list. */
void fw_log_v(int level, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (level > log_level)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* One fputs per line keeps lines whole when plugin threads log too. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	flockfile(stderr);
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "feedwatch: %s: %s\n", level_name(level), line);
	funlockfile(stderr);
}

/* Log one line. */
void fw_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fw_log_v(level, fmt, ap);
	va_end(ap);
}
