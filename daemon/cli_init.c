/* cli_init.c - `feedwatch init`: a commented starter config from the bundled example. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "date.h"
#include "host.h"
#include "store.h"

#ifndef FW_EXAMPLE_CONF
#define FW_EXAMPLE_CONF "/usr/local/etc/feedwatch/feedwatch.conf.example"
#endif
#define FW_EXAMPLE_MAX (1024 * 1024)

/* The annotated example `init` starts from: the installed one, or in the build tree (the
   plugins beside the binary, as the loader finds them there) the source's. */
static const char *example_path(void)
{
#ifdef FW_SOURCE_EXAMPLE_CONF
	char exe[PATH_MAX], dir[PATH_MAX + 16], *slash;
	struct stat st;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(dir, sizeof(dir), "%s/../plugins", exe);
			if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
			    access(FW_SOURCE_EXAMPLE_CONF, R_OK) == 0)
				return FW_SOURCE_EXAMPLE_CONF;
		}
	}
#endif
	return FW_EXAMPLE_CONF;
}

/* Read a small text file whole into *out (malloc()ed, NUL-terminated). 0 or -errno. */
static int read_small_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	int r = f ? 0 : -errno;
	char *buf = f ? malloc(FW_EXAMPLE_MAX + 1) : NULL;
	size_t len = 0;

	if (f && buf == NULL)
		r = -ENOMEM;

	if (r == 0) {
		len = fread(buf, 1, FW_EXAMPLE_MAX + 1, f);
		r = ferror(f) ? -EIO : len > FW_EXAMPLE_MAX ? -EFBIG : 0;
	}
	if (f)
		fclose(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = 0;
	*out = buf;
	return 0;
}

/* s as a libconfig string literal. */
static void put_conf_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Whether line p (past its indentation and any '#') sets key. */
static bool sets_key(const char *p, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(p, key, n) != 0)
		return false;
	p += n + strspn(p + n, " \t");
	return *p == '=' || *p == ':';
}

/*
 * The starter config: the example with a header, its state_dir line (commented out there)
 * set to state, and each "samples/..." path made absolute (the sample feed stays beside
 * the example). Returns a malloc()ed text or NULL.
 */
static char *starter_config(const char *text, const char *example, const char *state)
{
	char *out = NULL, *dir = strdup(example), *slash;
	size_t n = 0;
	bool state_done = false;
	FILE *f = open_memstream(&out, &n);

	if (f == NULL || dir == NULL) {
		if (f)
			fclose(f);
		free(out);
		free(dir);
		return NULL;
	}
	slash = strrchr(dir, '/');
	*(slash ? slash : dir) = 0;
	fprintf(f,
	        "# Written by `feedwatch init` from %s, set to work as is:\n"
	        "# state_dir under $XDG_STATE_HOME, the sample feed by its absolute path.\n\n",
	        example);
	while (*text) {
		size_t len = strcspn(text, "\n") + (text[strcspn(text, "\n")] ? 1 : 0);
		const char *p = text + strspn(text, " \t#");
		const char *end = text + len, *s;

		if (!state_done && sets_key(p, "state_dir")) {
			fputs("state_dir = ", f);
			put_conf_string(f, state);
			fputs(";\n", f);
			state_done = true;
			text = end;
			continue;
		}
		for (s = text; s < end; s++) {
			if (strncmp(s, "\"samples/", 9) == 0 && (size_t)(end - s) >= 9) {
				fputc('"', f);
				for (const char *d = *dir ? dir : "."; *d; d++) {
					if (*d == '"' || *d == '\\')
						fputc('\\', f);
					fputc(*d, f);
				}
				fputc('/', f);
				s++; /* the quote is written; "samples/" follows */
			}
			fputc(*s, f);
		}
		text = end;
	}
	if (!state_done) {
		fputs("\nstate_dir = ", f);
		put_conf_string(f, state);
		fputs(";\n", f);
	}
	free(dir);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Create the missing directories above path with mode 0700 (as the XDG base directory
   specification asks); existing ones are left as they are. 0 or -errno. */
static int make_parents(const char *path)
{
	char *p = strdup(path), *s;
	int r = 0;

	if (p == NULL)
		return -ENOMEM;
	for (s = strchr(p + 1, '/'); s && r == 0; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			r = -errno;
		*s = '/';
	}
	free(p);
	return r;
}

/* Write text to path, which must not exist (O_EXCL: never overwrite), mode 0600, synced.
   0 or -errno (-EEXIST: it exists); a half-written file is removed. */
static int write_new_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600), r = 0;
	size_t len = strlen(text), off = 0;

	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0)
		r = -errno;
	while (r == 0 && off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno != EINTR)
			r = -errno;
		off += w > 0 ? (size_t)w : 0;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}

/* The file init writes: -c FILE, else $XDG_CONFIG_HOME/feedwatch/feedwatch.conf (default
   ~/.config), where `feedwatch` without -c looks. NULL when there is no home to put it. */
static char *starter_path(const struct cli *c)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (c->config)
		return strdup(c->config);
	if (xdg && *xdg) {
		if (asprintf(&p, "%s/feedwatch/feedwatch.conf", xdg) < 0)
			p = NULL;
	} else if (home && *home) {
		if (asprintf(&p, "%s/.config/feedwatch/feedwatch.conf", home) < 0)
			p = NULL;
	}
	return p;
}

/* $XDG_STATE_HOME/feedwatch (default ~/.local/state/feedwatch), or NULL. */
static char *starter_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (xdg && *xdg == '/') {
		if (asprintf(&p, "%s/feedwatch", xdg) < 0)
			p = NULL;
	} else if (home && *home) {
		if (asprintf(&p, "%s/.local/state/feedwatch", home) < 0)
			p = NULL;
	}
	return p;
}

/* What init wrote must pass `check`; if not (a broken installation), it is removed.
   Returns 0 or 2. */
static int init_verify(const char *path)
{
	struct fw_diags diags = {0};
	struct fw_config *cfg = NULL;
	int r = fw_config_load(path, &cfg, &diags), code = 0;

	if (r == 0)
		fw_host_check_config(cfg, &diags);
	if (r < 0 || diags.errors > 0) {
		fw_cli_print_diags(&diags);
		fprintf(stderr,
		        "feedwatch: init: the starter config does not pass `feedwatch check` (an "
		        "incomplete installation?); %s removed\n",
		        path);
		unlink(path);
		code = 2;
	}
	fw_diags_clear(&diags);
	fw_config_free(cfg);
	return code;
}

/* After init: where the file is, and the commands to go on with (with -c FILE when
   `feedwatch` alone would not find it). */
static void init_next_steps(const char *path, const char *example, const char *state)
{
	static const char *const steps[][3] = {
	    {"check", "", "validate it (after every edit)"},
	    {"once", "", "poll every feed once, print the alerts"},
	    {"run", "", "run the daemon in the foreground (Ctrl-C stops it)"},
	    {"match", " --text 'Putin arrives in Pyongyang'", "what a text matches, and why"},
	};
	char *found = fw_config_locate(NULL), *arg = NULL, *line[4] = {NULL};
	bool found_alone = found && strcmp(found, path) == 0;
	struct cli named = {.config = path};
	size_t n = 0, width = 0;
	FILE *f = open_memstream(&arg, &n);

	if (f) {
		if (!found_alone)
			fw_cli_put_config_arg(f, &named);
		fclose(f);
	}
	for (size_t i = 0; i < 4; i++) {
		if (asprintf(&line[i], "feedwatch %s%s%s", steps[i][0], arg ? arg : "",
		             steps[i][1]) < 0)
			line[i] = NULL;
		if (line[i] && strlen(line[i]) > width)
			width = strlen(line[i]);
	}
	printf("feedwatch: wrote %s (mode 0600), from %s\n", path, example);
	printf("The database will be in %s; the sample feed gives a first alert offline.\n"
	       "Add your feeds, entities and watchlists, then:\n",
	       state);
	for (size_t i = 0; i < 4; i++)
		if (line[i])
			printf("  %-*s   # %s\n", (int)width, line[i], steps[i][2]);
	if (found_alone)
		printf("  systemctl --user enable --now feedwatch-user   # the daemon as a user "
		       "service\n");
	for (size_t i = 0; i < 4; i++)
		free(line[i]);
	free(arg);
	free(found);
}

int fw_cli_init_cmd(const struct cli *c, char **args, int nargs)
{
	const char *example = example_path();
	char *path = starter_path(c), *state = starter_state_dir(), *text = NULL, *conf = NULL;
	struct stat st;
	int code = 2, r;

	(void)args;
	(void)nargs;
	if (path == NULL || state == NULL) {
		fprintf(stderr, "feedwatch: init: HOME is not set (nor %s): give -c FILE\n",
		        path ? "XDG_STATE_HOME" : "XDG_CONFIG_HOME");
		goto done;
	}
	if (lstat(path, &st) == 0) {
		fprintf(stderr,
		        "feedwatch: init: %s exists; it is not overwritten (edit it, or move it "
		        "away and run init again)\n",
		        path);
		code = 1;
		goto done;
	}
	r = read_small_file(example, &text);
	if (r < 0) {
		fprintf(stderr, "feedwatch: init: cannot read the example config %s: %s\n", example,
		        strerror(-r));
		goto done;
	}
	conf = starter_config(text, example, state);
	r = conf ? make_parents(path) : -ENOMEM;
	if (r == 0)
		r = write_new_file(path, conf);
	if (r == -EEXIST) {
		fprintf(stderr, "feedwatch: init: %s exists; it is not overwritten\n", path);
		code = 1;
	} else if (r < 0) {
		fprintf(stderr, "feedwatch: init: cannot write %s: %s\n", path, strerror(-r));
	} else {
		code = init_verify(path);
		if (code == 0)
			init_next_steps(path, example, state);
	}
done:
	free(conf);
	free(text);
	free(state);
	free(path);
	return code;
}
