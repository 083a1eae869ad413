/*
 * log.c - the log output: one line per alert, JSON Lines or readable text, to a file,
 * stdout or stderr. The file is opened in append mode and reopened on SIGHUP (logrotate).
 *
 * Keys: path = "-" (stdout, the default), "stderr", or a file path;
 *       format = "json" (default) or "text".
 *
 * A text line starts with "[high] " (or low, urgent) when the alert's priority is not
 * normal; a story update (story.new false, docs/plugins.md) is one line
 * "[watchlist] story <id> +N items from M feeds: <story title>; added: ...".
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <feedwatch/plugin.h>
#include <jansson.h>

#include "../common/template.h"

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

static bool std_stream(const char *path)
{
	return strcmp(path, "-") == 0 || strcmp(path, "stderr") == 0 || strcmp(path, "stdout") == 0;
}

/*
 * The settings of one instance, validated (shared by init and check, so that they never
 * disagree): *path a malloc()ed "-", "stdout", "stderr" or absolute path, *text the
 * format. Logs each problem; returns 0, -EINVAL or -ENOMEM.
 */
static int log_settings(const struct fw_host *host, struct fw_plugin_ctx *ctx, char **path,
                        bool *text)
{
	const char *format = "json", *p;
	int r = 0;

	*path = NULL;
	if (host->cfg_string(ctx, "path", &p) < 0)
		p = "-";
	if (*p == 0) {
		host->log(ctx, FW_LOG_ERR,
		          "path must be \"-\" (stdout), \"stderr\" or a file, not empty");
		r = -EINVAL;
	} else if (std_stream(p)) {
		*path = strdup(p);
	} else if (host->cfg_path(ctx, "path", path) < 0) {
		*path = NULL;
	}
	if (r == 0 && *path == NULL)
		return -ENOMEM;
	host->cfg_string(ctx, "format", &format);
	if (strcmp(format, "json") == 0) {
		*text = false;
	} else if (strcmp(format, "text") == 0) {
		*text = true;
	} else {
		host->log(ctx, FW_LOG_ERR, "format must be \"json\" or \"text\", not \"%s\"",
		          format);
		r = -EINVAL;
	}
	if (r < 0) {
		free(*path);
		*path = NULL;
	}
	return r;
}

static int log_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct log_out *l = calloc(1, sizeof(*l));
	int r;

	if (l == NULL)
		return -ENOMEM;
	*state = l;
	l->host = host;
	l->ctx = ctx;
	l->fd = -1;
	r = log_settings(host, ctx, &l->path, &l->text);
	if (r < 0)
		return r;
	r = open_target(l);
	if (r < 0) {
		host->log(ctx, FW_LOG_ERR, "cannot open %s: %s", l->path, strerror(-r));
		return r;
	}
	return 0;
}

/*
 * Check: the settings, and whether the file could be opened for appending, judged without
 * opening it: it must be a writable regular file (or device), or be creatable in an
 * existing writable directory.
 */
static int log_check(const struct fw_host *host, struct fw_plugin_ctx *ctx)
{
	char *path, *slash;
	const char *p, *dir;
	struct stat st;
	bool text;
	int r = log_settings(host, ctx, &path, &text);

	if (r < 0)
		return r;
	if (std_stream(path)) {
		free(path);
		return 0;
	}
	/* Read path again, so that what follows is reported at its line. */
	host->cfg_string(ctx, "path", &p);
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			host->log(ctx, FW_LOG_ERR, "path %s is a directory", path);
			r = -EINVAL;
		} else if (access(path, W_OK) != 0) {
			host->log(ctx, FW_LOG_ERR, "cannot write to %s: %s", path, strerror(errno));
			r = -EINVAL;
		}
	} else {
		slash = strrchr(path, '/');
		if (slash == NULL)
			dir = ".";
		else if (slash == path)
			dir = "/";
		else
			dir = (*slash = 0, path);
		if (access(dir, W_OK | X_OK) != 0) {
			host->log(ctx, FW_LOG_ERR, "cannot create a file in %s: %s", dir,
			          strerror(errno));
			r = -EINVAL;
		}
	}
	free(path);
	return r;
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

/* A line being built, with room reserved up front (see text_line). */
struct line {
	char *p;
	size_t len, cap;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n >= l->cap)
		n = l->cap - l->len - 1;
	memcpy(l->p + l->len, s, n);
	l->len += n;
	l->p[l->len] = 0;
}

/*
 * Text from a feed (a title, the matched text): one line whatever it holds. C0 controls,
 * DEL, C1 controls (U+0080..U+009F) and the Unicode line and paragraph separators
 * (U+2028, U+2029) become a space.
 */
static void put_text(struct line *l, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			put(l, " ", 1);
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			put(l, " ", 1);
			p++;
		} else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
			put(l, " ", 1);
			p += 2;
		} else {
			put(l, (const char *)p, 1);
		}
	}
}

/*
 * A link between < and >: every byte that is not printable ASCII, and every character
 * that could end the link or open a field of its own (space, < > ( ) " ' \ `), is
 * percent-encoded, so that a link can never forge the "(why: ...)" or break the line.
 */
static void put_link(struct line *l, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("<>()\"'\\`", *p)) {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			put(l, e, 3);
		} else {
			put(l, (const char *)p, 1);
		}
	}
}

/* Only an http(s) link is shown (the daemon sends no other; old outbox rows may). */
static bool web_link(const char *s)
{
	return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

/* "[low] ", "[high] ", "[urgent] " before the line; nothing for normal (or none: an alert
   queued by an older version). A digest carries the highest of its alerts'. */
static void put_priority(struct line *l, json_t *root)
{
	const char *p = json_string_value(json_object_get(root, "priority"));

	if (p && (strcmp(p, "low") == 0 || strcmp(p, "high") == 0 || strcmp(p, "urgent") == 0)) {
		put(l, "[", 1);
		put(l, p, strlen(p));
		put(l, "] ", 2);
	}
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* The update of a story: [watchlist] story <id> +N items from M feeds: <story title>;
   added: "title" (feed) <link>; ... and K more. M counts the feeds of the added items. */
static char *story_line(json_t *root, json_t *st, const char *watchlist)
{
	json_t *added = json_object_get(st, "added");
	size_t n = json_array_size(added), feeds = fw_template_added_feeds(st);
	json_int_t more = json_integer_value(json_object_get(st, "more"));
	struct line l = {0};
	char num[128];

	l.cap = 512 + strlen(watchlist) + 3 * strlen(jstr(st, "id")) + strlen(jstr(st, "title"));
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(added, i);

		l.cap += 16 + strlen(jstr(x, "title")) + strlen(jstr(x, "feed")) +
		         3 * strlen(jstr(x, "link"));
	}
	l.p = malloc(l.cap);
	if (l.p == NULL)
		return NULL;
	l.p[0] = 0;
	put_priority(&l, root);
	put(&l, "[", 1);
	put_text(&l, watchlist);
	put(&l, "] story ", 8);
	put_link(&l, jstr(st, "id"));
	snprintf(num, sizeof(num),
	         " +%lld items from %zu feed%s: ", (long long)(n + (more > 0 ? (size_t)more : 0)),
	         feeds, feeds == 1 ? "" : "s");
	put(&l, num, strlen(num));
	put_text(&l, jstr(st, "title"));
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(added, i);

		put(&l, i ? "; \"" : "; added: \"", i ? 3 : 10);
		put_text(&l, jstr(x, "title"));
		put(&l, "\" (", 3);
		put_text(&l, jstr(x, "feed"));
		put(&l, ")", 1);
		if (web_link(jstr(x, "link"))) {
			put(&l, " <", 2);
			put_link(&l, jstr(x, "link"));
			put(&l, ">", 1);
		}
	}
	if (more > 0) {
		snprintf(num, sizeof(num), " and %lld more", (long long)more);
		put(&l, num, strlen(num));
	}
	put(&l, "\n", 1);
	return l.p;
}

/* A readable line: [watchlist] feed: title <link> (why: term "text" in field; ...) */
static char *text_line(const struct fw_alert *a)
{
	struct line l = {0};
	char num[64];
	json_t *root = json_loads(a->json, 0, NULL), *st = json_object_get(root, "story");
	char *story;

	if (a->n_digest == 0 && json_is_false(json_object_get(st, "new"))) {
		story = story_line(root, st, a->watchlist);
		json_decref(root);
		return story;
	}

	l.cap = 512 + strlen(a->title) + strlen(a->feed_name) + strlen(a->watchlist) +
	        (a->link ? 3 * strlen(a->link) : 0);
	for (size_t i = 0; i < a->n_explain; i++)
		l.cap += strlen(a->explain[i].term) + strlen(a->explain[i].text) +
		         strlen(a->explain[i].field) + 32;
	l.p = malloc(l.cap);
	if (l.p == NULL) {
		json_decref(root);
		return NULL;
	}
	l.p[0] = 0;
	put_priority(&l, root);
	json_decref(root);
	put(&l, "[", 1);
	put_text(&l, a->watchlist);
	put(&l, "] ", 2);
	put_text(&l, a->feed_name);
	put(&l, ": ", 2);
	put_text(&l, a->title);
	if (a->n_digest > 0) {
		snprintf(num, sizeof(num), " (+%zu more in this digest)", a->n_digest - 1);
		put(&l, num, strlen(num));
	}
	if (web_link(a->link)) {
		put(&l, " <", 2);
		put_link(&l, a->link);
		put(&l, ">", 1);
	}
	for (size_t i = 0; i < a->n_explain; i++) {
		put(&l, i ? "; " : " (why: ", i ? 2 : 7);
		put_text(&l, a->explain[i].term);
		put(&l, " \"", 2);
		put_text(&l, a->explain[i].text);
		put(&l, "\" in ", 5);
		put_text(&l, a->explain[i].field);
	}
	if (a->n_explain)
		put(&l, ")", 1);
	put(&l, "\n", 1);
	return l.p;
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
    .check = log_check,
};
