/* cli.h - the command line of main.c and what its commands share (cli*.c). */
#ifndef FW_CLI_H
#define FW_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct fw_config;
struct fw_diags;
struct fw_store;

/*
 * The command line, GNU style: options may come before or after the command and its
 * arguments, `--` ends them, long options may be abbreviated while unambiguous and take
 * their value as `--opt=V` or `--opt V`, short ones may be bundled (`-vc FILE`). Every
 * option is known to the whole line (so that `-c FILE status` parses before the command
 * is known); each command then says which ones it takes, and any other is an error.
 */
enum opt_bit {
	OPT_CONFIG = 1u << 0,
	OPT_TEXT = 1u << 1,
	OPT_JSON = 1u << 2,
	OPT_ALL = 1u << 3,
	OPT_DEAD = 1u << 4,
	OPT_PENDING = 1u << 5,
	OPT_OUTPUT = 1u << 6,
	OPT_VERBOSE = 1u << 7,
	OPT_QUIET = 1u << 8,
	OPT_VERSION = 1u << 9,
	OPT_HELP = 1u << 10,
	OPT_SINCE = 1u << 11,
	OPT_WATCHLIST = 1u << 12,
	OPT_QUERY = 1u << 13,
	OPT_NAME = 1u << 14,
	OPT_INTERVAL = 1u << 15,
	OPT_TAG = 1u << 16,
	OPT_GLOBAL = OPT_VERBOSE | OPT_QUIET | OPT_VERSION | OPT_HELP,
};

#define N_OPTS 17

/* The parsed line; strings point into argv. */
struct cli {
	int level; /* log level after every -v and -q */
	const char *config, *text, *output;
	const char *since, *watchlist, *query, *name, *interval, *tag;
	bool json, all, dead, pending;
	unsigned seen;           /* OPT_* bits given */
	bool seen_short[N_OPTS]; /* how each was first written, for messages */
	char bad[80];            /* the first unknown or malformed option, its message */
	char **pos;              /* the arguments that are not options, in order */
	int npos;
};

/* cli.c: what every command shares. */

/* Print diagnostics as FILE:LINE: message on stderr. */
void fw_cli_print_diags(const struct fw_diags *d);

/* Load the config for a command (path_arg: -c, or NULL to locate it); prints
   diagnostics (warnings too unless quiet_warnings). NULL on error. */
struct fw_config *fw_cli_load_config(const char *path_arg, bool quiet_warnings);

/* A word for a command line the user may paste: quoted when the shell would split it. */
void fw_cli_put_shell_word(FILE *f, const char *s);

/* " -c FILE" when the user named the config, so that a suggested command reads the same. */
void fw_cli_put_config_arg(FILE *f, const struct cli *c);

/* The store of cfg. Before the first run there is no database: that is said plainly with
   the way to start (*code 1) and nothing is created; any other failure is the store's
   message (*code 2). NULL on failure. */
struct fw_store *fw_cli_open_store(const struct fw_config *cfg, const struct cli *c, bool read_only,
                                   int *code);

/* t as RFC 3339 UTC, or "-" when t <= 0. */
void fw_cli_fmt_time(int64_t t, char *buf, size_t n);

/* The --since DURATION of c as a Unix time before now into *since (0 without --since).
   0, or 2 after a message naming the bad value. */
int fw_cli_since(const struct cli *c, int64_t now, int64_t *since);

/* cli_store.c: outbox and status. */
extern const char fw_cli_store_outbox_help[];
int fw_cli_store_outbox_list(const struct cli *c, char **args, int nargs);
int fw_cli_store_outbox_retry(const struct cli *c, char **args, int nargs);
int fw_cli_store_outbox_drop(const struct cli *c, char **args, int nargs);
int fw_cli_store_status(const struct cli *c, char **args, int nargs);

/* cli_match.c: match. */
int fw_cli_match_cmd(const struct cli *c, char **args, int nargs);

/* cli_stories.c: stories, explain-story. */
int fw_cli_stories_cmd(const struct cli *c, char **args, int nargs);
int fw_cli_stories_explain(const struct cli *c, char **args, int nargs);

/* cli_feeds.c: feeds add, remove, import, export, list, discover (the feeds file, OPML). */
extern const char fw_cli_feeds_help[];
int fw_cli_feeds_add(const struct cli *c, char **args, int nargs);
int fw_cli_feeds_remove(const struct cli *c, char **args, int nargs);
int fw_cli_feeds_import(const struct cli *c, char **args, int nargs);
int fw_cli_feeds_export(const struct cli *c, char **args, int nargs);
int fw_cli_feeds_list(const struct cli *c, char **args, int nargs);
int fw_cli_feeds_discover(const struct cli *c, char **args, int nargs);

/* When src (a URL or file) is an HTML page, say on stderr which feeds it links to (or that
   it links to none) and return 0; -1 when it is no HTML page (nothing printed). */
int fw_cli_feeds_explain_page(const char *src);

/* cli_alerts.c: alerts (the alert history with each output's state). */
extern const char fw_cli_alerts_help[];
int fw_cli_alerts_cmd(const struct cli *c, char **args, int nargs);

/* cli_backtest.c: backtest. */
extern const char fw_cli_backtest_help[];
int fw_cli_backtest(const struct cli *c, char **args, int nargs);

/* cli_init.c: init. */
int fw_cli_init_cmd(const struct cli *c, char **args, int nargs);

#endif
