/*
 * log.c - the log output: one line per alert, JSON Lines or readable text, to a file,
 * stdout or stderr. The file is opened in append mode and reopened on SIGHUP (logrotate).
 *
 * Keys: path = "-" (stdout, the default), "stderr", or a file path;
 *       format = "json" (default) or "text".
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <feedwatch/plugin.h>

struct log_out {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	char *path; /* "-", "stderr", "stdout" or an absolute file path */
	int fd;
	bool own_fd;
	bool text;
};

static int open_target(struct log_out *l)
{
	int fd;

	if (strcmp(l->path, "-") == 0 || strcmp(l->path, "stdout") == 0) {
		l->fd = STDOUT_FILENO;
		l->own_fd = false;
		return 0;
	}
	if (strcmp(l->path, "stderr") == 0) {
		l->fd = STDERR_FILENO;
		l->own_fd = false;
		return 0;
	}
	fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	l->fd = fd;
	l->own_fd = true;
	return 0;
}

static int log_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct log_out *l = calloc(1, sizeof(*l));
	const char *format = "json", *path;
	int r;

	if (l == NULL)
		return -ENOMEM;
	*state = l;
	l->host = host;
	l->ctx = ctx;
	l->fd = -1;
	if (host->cfg_string(ctx, "path", &path) < 0)
		path = "-";
	if (strcmp(path, "-") == 0 || strcmp(path, "stderr") == 0 || strcmp(path, "stdout") == 0)
		l->path = strdup(path);
	else if (host->cfg_path(ctx, "path", &l->path) < 0)
		l->path = NULL;
	if (l->path == NULL)
		return -ENOMEM;
	host->cfg_string(ctx, "format", &format);
	if (strcmp(format, "json") == 0) {
		l->text = false;
	} else if (strcmp(format, "text") == 0) {
		l->text = true;
	} else {
		host->log(ctx, FW_LOG_ERR, "format must be \"json\" or \"text\", not \"%s\"",
		          format);
		return -EINVAL;
	}
	r = open_target(l);
	if (r < 0) {
		host->log(ctx, FW_LOG_ERR, "cannot open %s: %s", l->path, strerror(-r));
		return r;
	}
	return 0;
}

/* write(2) all of buf; -errno on failure. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A readable line: [watchlist] feed: title <link> (why: term "text" in field; ...) */
static char *text_line(const struct fw_alert *a)
{
	size_t cap = 512 + strlen(a->title) + strlen(a->feed_name) + strlen(a->watchlist) +
	             (a->link ? strlen(a->link) : 0);
	char *buf, *p;
	int n;

	for (size_t i = 0; i < a->n_explain; i++)
		cap += strlen(a->explain[i].term) + strlen(a->explain[i].text) + 32;
	buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	n = snprintf(buf, cap, "[%s] %s: %s", a->watchlist, a->feed_name, a->title);
	p = buf + n;
	if (a->n_digest > 0)
		p += snprintf(p, cap - (size_t)(p - buf), " (+%zu more in this digest)",
		              a->n_digest - 1);
	if (a->link)
		p += snprintf(p, cap - (size_t)(p - buf), " <%s>", a->link);
	for (size_t i = 0; i < a->n_explain; i++)
		p += snprintf(p, cap - (size_t)(p - buf), "%s%s \"%s\" in %s",
		              i ? "; " : " (why: ", a->explain[i].term, a->explain[i].text,
		              a->explain[i].field);
	if (a->n_explain)
		p += snprintf(p, cap - (size_t)(p - buf), ")");
	/* One alert, one line: titles are plain text, but be sure. */
	for (char *c = buf; c < p; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	snprintf(p, cap - (size_t)(p - buf), "\n");
	return buf;
}

static int log_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct log_out *l = state;
	char *line;
	int r;

	if (l->text) {
		line = text_line(a);
	} else {
		size_t n = strlen(a->json);

		line = malloc(n + 2);
		if (line) {
			memcpy(line, a->json, n);
			memcpy(line + n, "\n", 2);
		}
	}
	if (line == NULL)
		return -ENOMEM;
	r = write_all(l->fd, line, strlen(line));
	free(line);
	if (r < 0) {
		l->host->done(l->ctx, token, FW_RETRY, -1, strerror(-r));
		return 0;
	}
	l->host->done(l->ctx, token, FW_DELIVERED, -1, NULL);
	return 0;
}

static void log_reopen(void *state)
{
	struct log_out *l = state;
	int old = l->fd, r;

	if (!l->own_fd)
		return;
	r = open_target(l);
	if (r < 0) {
		/* Keep writing to the old file rather than losing alerts. */
		l->fd = old;
		l->host->log(l->ctx, FW_LOG_ERR, "cannot reopen %s: %s", l->path, strerror(-r));
		return;
	}
	close(old);
}

static void log_fini(void *state)
{
	struct log_out *l = state;

	if (l == NULL)
		return;
	if (l->own_fd && l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l);
}

static const struct fw_plugin_key log_keys[] = {
    {"path", FW_KEY_STRING,
     "\"-\" for stdout, \"stderr\", or a file (appended, reopened on SIGHUP)"},
    {"format", FW_KEY_STRING, "\"json\" (one object per line) or \"text\""},
    {NULL, 0, NULL},
};

FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_plugin),
    .name = "log",
    .version = "1.0",
    .description = "alerts as JSON Lines or text to a file, stdout or stderr",
    .flags = 0,
    .keys = log_keys,
    .init = log_init,
    .deliver = log_deliver,
    .reopen = log_reopen,
    .fini = log_fini,
};
