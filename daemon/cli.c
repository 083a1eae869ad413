/* cli.c - what the commands share: config, store, times, shell words. Only commands
   (main.c, cli_*.c) print; the rooms below them never do. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"
#include "date.h"
#include "duration.h"
#include "store.h"

void fw_cli_print_diags(const struct fw_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s:%d: %s%s\n", d->v[i].file, d->v[i].line,
		        d->v[i].warning ? "warning: " : "", d->v[i].message);
	if (d->errors > d->n)
		fprintf(stderr, "feedwatch: %zu more errors not shown\n", d->errors - d->n);
}

/* Load the config for a command; prints diagnostics. NULL on error. */
struct fw_config *fw_cli_load_config(const char *path_arg, bool quiet_warnings)
{
	struct fw_diags diags = {0};
	struct fw_config *cfg = NULL;
	char *path = fw_config_locate(path_arg);

	if (path == NULL)
		return NULL;
	if (fw_config_load(path, &cfg, &diags) < 0) {
		fw_cli_print_diags(&diags);
		if (diags.n == 0)
			fprintf(stderr, "%s:0: cannot load the config\n", path);
	} else if (!quiet_warnings) {
		fw_cli_print_diags(&diags);
	}
	fw_diags_clear(&diags);
	free(path);
	return cfg;
}

/* A word for a command line the user may paste: quoted when the shell would split it. */
void fw_cli_put_shell_word(FILE *f, const char *s)
{
	if (s[0] && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-"
	                      ",:@%=") == strlen(s)) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
}

/* " -c FILE" when the user named the config, so that a suggested command reads the same. */
void fw_cli_put_config_arg(FILE *f, const struct cli *c)
{
	if (c->config) {
		fputs(" -c ", f);
		fw_cli_put_shell_word(f, c->config);
	}
}

/*
 * The store of cfg, for status and outbox. Before the first run there is no database:
 * that is said plainly with the way to start (*code 1) and nothing is created; any other
 * failure is the store's message (*code 2).
 */
struct fw_store *fw_cli_open_store(const struct fw_config *cfg, const struct cli *c, bool read_only,
                                   int *code)
{
	struct fw_store *s = NULL;
	struct stat st;
	char *db = fw_config_db_path(cfg), err[512];

	*code = 2;
	if (db == NULL)
		return NULL;
	/* a PostgreSQL store is a server's database, not a file that may not exist yet */
	if (!fw_store_is_shared(db) && stat(db, &st) < 0 && errno == ENOENT) {
		fprintf(stderr,
		        "feedwatch: no database yet at %s: nothing has been polled with this "
		        "config.\nfeedwatch: start with `feedwatch once",
		        db);
		fw_cli_put_config_arg(stderr, c);
		fputs("` (poll every feed once) or `feedwatch run", stderr);
		fw_cli_put_config_arg(stderr, c);
		fputs("` (the daemon).\n", stderr);
		*code = 1;
	} else if (fw_store_open(db, read_only, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "feedwatch: cannot open the store: %s\n", err);
		s = NULL;
	}
	free(db);
	return s;
}

void fw_cli_fmt_time(int64_t t, char *buf, size_t n)
{
	if (t <= 0)
		snprintf(buf, n, "-");
	else
		fw_date_format(t, buf, n);
}

int fw_cli_since(const struct cli *c, int64_t now, int64_t *since)
{
	int64_t secs;

	*since = 0;
	if (c->since == NULL)
		return 0;
	if (fw_duration_parse(c->since, &secs) < 0 || secs <= 0) {
		fprintf(stderr, "feedwatch: --since '%s' is not a duration (like 90m, 2h, 7d)\n",
		        c->since);
		return 2;
	}
	*since = now - secs;
	return 0;
}
