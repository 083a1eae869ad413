/* main.c - argv, subcommands, exit codes: the only file that exits. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/xmlversion.h>
#include <uv.h>

#include <feedwatch/plugin.h>
#include <feedwatch/version.h>

#include "alert.h"
#include "config.h"
#include "date.h"
#include "fetch.h"
#include "host.h"
#include "item.h"
#include "log.h"
#include "loop.h"
#include "match.h"
#include "net.h"
#include "parse.h"
#include "loader.h"
#include "store.h"

#define FW_MATCH_LINE_MAX (64 * 1024 * 1024) /* one item of `match` input */

static const char usage_text[] =
    "usage: feedwatch COMMAND [ARGS] [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  init   [-c FILE]             write a commented starter config (XDG path by default)\n"
    "  run    [-c FILE]             run the daemon in the foreground\n"
    "  once   [-c FILE]             poll every feed once, deliver alerts, exit\n"
    "  check  [-c FILE]             validate the config (errors as FILE:LINE: message)\n"
    "  parse  FILE|URL              print a feed's items as JSON Lines\n"
    "  match  [-c FILE] --text T [--json]   which watchlists T matches, and why\n"
    "  match  [-c FILE]             match items (JSON Lines on stdin), one JSON line each\n"
    "  outbox list|retry|drop ...   show and act on queued and dead alerts\n"
    "  status [-c FILE] [--json]    per-feed state and per-output queues\n"
    "  help [COMMAND], version\n"
    "\n"
    "Options may come before or after the command and its arguments; `--` ends them.\n"
    "Everywhere: -v more log, -q less log, --version, --help (with a command: its usage).\n"
    "config: -c FILE, else $FEEDWATCH_CONFIG, else $XDG_CONFIG_HOME/feedwatch/feedwatch.conf,\n"
    "        else /etc/feedwatch/feedwatch.conf\n";

static int usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

static void print_diags(const struct fw_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s:%d: %s%s\n", d->v[i].file, d->v[i].line,
		        d->v[i].warning ? "warning: " : "", d->v[i].message);
	if (d->errors > d->n)
		fprintf(stderr, "feedwatch: %zu more errors not shown\n", d->errors - d->n);
}

/* Load the config for a command; prints diagnostics. NULL on error. */
static struct fw_config *load_config(const char *path_arg, bool quiet_warnings)
{
	struct fw_diags diags = {0};
	struct fw_config *cfg = NULL;
	char *path = fw_config_locate(path_arg);

	if (path == NULL)
		return NULL;
	if (fw_config_load(path, &cfg, &diags) < 0) {
		print_diags(&diags);
		if (diags.n == 0)
			fprintf(stderr, "%s:0: cannot load the config\n", path);
	} else if (!quiet_warnings) {
		print_diags(&diags);
	}
	fw_diags_clear(&diags);
	free(path);
	return cfg;
}

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
	OPT_GLOBAL = OPT_VERBOSE | OPT_QUIET | OPT_VERSION | OPT_HELP,
};

#define N_OPTS 11

struct optdef {
	char short_name; /* 0: long only */
	const char *long_name;
	bool has_arg;
	unsigned bit;
};

static const struct optdef optdefs[N_OPTS] = {
    {'c', "config", true, OPT_CONFIG}, {0, "text", true, OPT_TEXT},
    {0, "json", false, OPT_JSON},      {0, "all", false, OPT_ALL},
    {0, "dead", false, OPT_DEAD},      {0, "pending", false, OPT_PENDING},
    {0, "output", true, OPT_OUTPUT},   {'v', "verbose", false, OPT_VERBOSE},
    {'q', "quiet", false, OPT_QUIET},  {'V', "version", false, OPT_VERSION},
    {'h', "help", false, OPT_HELP},
};

struct cli {
	int level; /* log level after every -v and -q */
	const char *config, *text, *output;
	bool json, all, dead, pending;
	unsigned seen;           /* OPT_* bits given */
	bool seen_short[N_OPTS]; /* how each was first written, for messages */
	char bad[80];            /* the first unknown or malformed option, its message */
	char **pos;              /* the arguments that are not options, in order */
	int npos;
};

/* How option d was written first: "-c" or "--config". */
static void opt_name(const struct cli *c, const struct optdef *d, char *buf, size_t n)
{
	size_t k = (size_t)(d - optdefs);

	if (c->seen_short[k] && d->short_name)
		snprintf(buf, n, "-%c", d->short_name);
	else
		snprintf(buf, n, "--%s", d->long_name);
}

/* Record option d with its value (NULL for a flag). */
static void cli_set(struct cli *c, const struct optdef *d, bool as_short, const char *val)
{
	size_t k = (size_t)(d - optdefs);

	if (!(c->seen & d->bit))
		c->seen_short[k] = as_short;
	c->seen |= d->bit;
	if (d->bit == OPT_CONFIG)
		c->config = val;
	else if (d->bit == OPT_TEXT)
		c->text = val;
	else if (d->bit == OPT_OUTPUT)
		c->output = val;
	c->json |= d->bit == OPT_JSON;
	c->all |= d->bit == OPT_ALL;
	c->dead |= d->bit == OPT_DEAD;
	c->pending |= d->bit == OPT_PENDING;
	c->level += (d->bit == OPT_VERBOSE) - (d->bit == OPT_QUIET);
}

/* A long option: exact name, else the one option it is a prefix of. */
static const struct optdef *find_long(const char *name, size_t len, bool *ambiguous)
{
	const struct optdef *hit = NULL;

	*ambiguous = false;
	for (size_t k = 0; k < N_OPTS; k++) {
		if (strncmp(optdefs[k].long_name, name, len) != 0)
			continue;
		if (optdefs[k].long_name[len] == 0)
			return &optdefs[k];
		if (hit)
			*ambiguous = true;
		hit = &optdefs[k];
	}
	return *ambiguous ? NULL : hit;
}

/* One "--name[=value]" at argv[*i]; may consume the next word as its value. */
static void parse_long(struct cli *c, int argc, char **argv, int *i)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	bool ambiguous;
	const struct optdef *d = find_long(arg, len, &ambiguous);

	if (c->bad[0])
		return;
	if (d == NULL)
		snprintf(c->bad, sizeof(c->bad), "%s option '--%.*s'",
		         ambiguous ? "ambiguous" : "unknown", (int)(len > 40 ? 40 : len), arg);
	else if (!d->has_arg && eq)
		snprintf(c->bad, sizeof(c->bad), "option '--%s' takes no value", d->long_name);
	else if (d->has_arg && !eq && *i + 1 >= argc)
		snprintf(c->bad, sizeof(c->bad), "option '--%s' needs a value", d->long_name);
	else
		cli_set(c, d, false, !d->has_arg ? NULL : eq ? eq + 1 : argv[++*i]);
}

/* One "-abc" bundle at argv[*i]; an option with a value takes the rest of the word or the
   next word. */
static void parse_short(struct cli *c, int argc, char **argv, int *i)
{
	const char *s = argv[*i] + 1;

	for (; *s && !c->bad[0]; s++) {
		const struct optdef *d = NULL;

		for (size_t k = 0; k < N_OPTS; k++)
			if (optdefs[k].short_name == *s)
				d = &optdefs[k];
		if (d == NULL) {
			snprintf(c->bad, sizeof(c->bad), "unknown option '-%c'", *s);
		} else if (!d->has_arg) {
			cli_set(c, d, true, NULL);
		} else if (s[1]) {
			cli_set(c, d, true, s + 1);
			return;
		} else if (*i + 1 < argc) {
			cli_set(c, d, true, argv[++*i]);
			return;
		} else {
			snprintf(c->bad, sizeof(c->bad), "option '-%c' needs a value", *s);
		}
	}
}

/* Sort argv[1..] into options and arguments (kept in order, compacted at the front of
   argv; c->pos points at them). An error is recorded in c->bad, reported once the command
   is known. */
static void parse_cli(int argc, char **argv, struct cli *c)
{
	bool opts_done = false;

	c->pos = argv + 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts_done || a[0] != '-' || a[1] == 0)
			c->pos[c->npos++] = argv[i];
		else if (strcmp(a, "--") == 0)
			opts_done = true;
		else if (a[1] == '-')
			parse_long(c, argc, argv, &i);
		else
			parse_short(c, argc, argv, &i);
	}
}

/* One command (or outbox verb): the options it takes, how many arguments, its usage. */
struct command {
	const char *name;
	const char *verb; /* outbox's list, retry, drop; else NULL */
	unsigned opts;    /* OPT_* it takes besides the global ones */
	int min_args, max_args;
	const char *help;
	int (*fn)(const struct cli *c, char **args, int nargs);
};

static int run_daemon(const struct cli *c, bool once)
{
	struct fw_config *cfg = load_config(c->config, false);

	return cfg ? fw_loop_run(cfg, once) : 2;
}

static int cmd_run(const struct cli *c, char **args, int nargs)
{
	(void)args, (void)nargs;
	return run_daemon(c, false);
}

static int cmd_once(const struct cli *c, char **args, int nargs)
{
	(void)args, (void)nargs;
	return run_daemon(c, true);
}

static int cmd_check(const struct cli *c, char **args, int nargs)
{
	struct fw_diags diags = {0};
	struct fw_config *cfg = NULL;
	char *path = fw_config_locate(c->config);
	int code;

	(void)args;
	(void)nargs;
	if (path == NULL)
		return 2;
	if (fw_config_load(path, &cfg, &diags) == 0)
		fw_host_check_config(cfg, &diags);
	print_diags(&diags);
	code = diags.errors > 0 ? 1 : 0;
	if (code == 0)
		printf("%s: OK (%zu feeds, %zu entities, %zu watchlists, %zu outputs)\n", path,
		       cfg->n_feeds, cfg->n_entities, cfg->n_watchlists, cfg->n_outputs);
	fw_diags_clear(&diags);
	fw_config_free(cfg);
	free(path);
	return code;
}

/* Print one item as a parse line. */
static int print_item_cb(struct fw_item *item, void *arg)
{
	char *line = NULL;

	if (fw_item_ensure_id(item) == 0 && fw_item_to_json(item, &line) == 0) {
		fputs(line, stdout);
		fputc('\n', stdout);
	}
	free(line);
	fw_item_free(item);
	return 0;
}

static int parse_file(const char *path)
{
	struct fw_parser *p;
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		fprintf(stderr, "feedwatch: %s: %s\n", path, strerror(errno));
		return 1;
	}
	p = fw_parse_new(path, NULL, NULL, print_item_cb, NULL);
	if (p == NULL) {
		close(fd);
		fprintf(stderr, "feedwatch: out of memory\n");
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fw_parse_push(p, buf, (size_t)n) < 0)
			break;
	if (n < 0) {
		fprintf(stderr, "feedwatch: %s: %s\n", path, strerror(errno));
		close(fd);
		fw_parse_free(p);
		return 1;
	}
	close(fd);
	r = fw_parse_end(p);
	if (r < 0)
		fprintf(stderr, "feedwatch: %s: not a feed: %s\n", path,
		        fw_parse_problem(p) ? fw_parse_problem(p)
		                            : "no RSS, Atom or JSON Feed document");
	else if (fw_parse_problem(p))
		fprintf(stderr, "feedwatch: %s: warning: %s\n", path, fw_parse_problem(p));
	fw_parse_free(p);
	return r < 0 ? 1 : 0;
}

struct parse_url_state {
	int code;
	const char *url;
};

static void parse_url_done_cb(struct fw_fetch_result *r, void *arg)
{
	struct parse_url_state *s = arg;

	if (r->error != 0 && r->error != -EFBIG) {
		fprintf(stderr, "feedwatch: %s: %s\n", s->url, r->error_text);
		s->code = 1;
		return;
	}
	for (size_t i = 0; i < r->n_items; i++) {
		print_item_cb(r->items[i], NULL);
		r->items[i] = NULL;
	}
	r->n_items = 0;
	if (r->error == -EFBIG)
		fprintf(stderr, "feedwatch: %s: warning: %s\n", s->url, r->error_text);
	else if (r->problem)
		fprintf(stderr, "feedwatch: %s: warning: %s\n", s->url, r->problem);
}

/* A URL goes through the same fetch path as the daemon's polls (caps, protocols). */
static int parse_url(const char *url)
{
	struct parse_url_state s = {.code = 0, .url = url};
	struct fw_fetch_opts o = {.url = url,
	                          .user_agent = "feedwatch/" FW_VERSION_STRING,
	                          .timeout = 60,
	                          .connect_timeout = 15,
	                          .max_body = 16 * 1024 * 1024,
	                          .max_items = 100000,
	                          .tls_verify = true};
	struct fw_net *net = NULL;
	struct fw_parsework *pw = NULL;
	uv_loop_t loop;
	int r;

	uv_loop_init(&loop);
	if (fw_net_new(&loop, 4, 0, &net) < 0 || fw_parsework_new(&loop, 4u << 20, &pw) < 0 ||
	    fw_fetch_start(net, pw, &o, parse_url_done_cb, &s, NULL) < 0) {
		fprintf(stderr, "feedwatch: %s: cannot start the transfer\n", url);
		s.code = 1;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	fw_net_close(net, NULL, NULL);
	fw_parsework_close(pw, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	r = uv_loop_close(&loop);
	return r == 0 ? s.code : 1;
}

static int cmd_parse(const struct cli *c, char **args, int nargs)
{
	(void)c;
	(void)nargs;
	if (strncasecmp(args[0], "http://", 7) == 0 || strncasecmp(args[0], "https://", 8) == 0)
		return parse_url(args[0]);
	return parse_file(args[0]);
}

static void print_match(const struct fw_matcher *m, const struct fw_item *item,
                        const struct fw_match_result *res)
{
	json_t *o = json_object(), *wl = json_array(), *ex = json_array();
	char *line;

	for (size_t i = 0; i < res->n_watchlists; i++)
		json_array_append_new(
		    wl, json_string(fw_matcher_watchlist_name(m, res->watchlists[i])));
	for (size_t i = 0; i < res->n_explain; i++) {
		const struct fw_match_explain *e = &res->explain[i];

		json_array_append_new(
		    ex, fw_alert_explain_json(e, fw_matcher_watchlist_name(m, e->watchlist)));
	}
	json_object_set_new(o, "id", json_string(item->id ? item->id : ""));
	json_object_set_new(o, "watchlists", wl);
	json_object_set_new(o, "explain", ex);
	line = json_dumps(o, JSON_COMPACT);
	if (line) {
		puts(line);
		free(line);
	}
	json_decref(o);
}

static int match_one(const struct fw_matcher *m, struct fw_item *item)
{
	struct fw_match_result res = {0};
	int r = fw_match_item(m, item, &res);

	if (r == 0)
		print_match(m, item, &res);
	fw_match_result_clear(&res);
	return r;
}

/* Print s on the current line, control characters as spaces. */
static void put_clean(const char *s)
{
	for (; s && *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

/* The readable answer of `match --text`: each watchlist that matched, then why. */
static void print_match_text(const struct fw_matcher *m, const struct fw_match_result *res)
{
	if (res->n_watchlists == 0) {
		puts("no watchlist matched");
		return;
	}
	for (size_t i = 0; i < res->n_watchlists; i++) {
		printf("%s: matched\n", fw_matcher_watchlist_name(m, res->watchlists[i]));
		for (size_t k = 0; k < res->n_explain; k++) {
			const struct fw_match_explain *e = &res->explain[k];

			if (e->watchlist != res->watchlists[i])
				continue;
			fputs("  ", stdout);
			put_clean(e->term);
			if (e->alias && e->term && strcmp(e->alias, e->term) != 0) {
				fputs(": alias \"", stdout);
				put_clean(e->alias);
				fputs("\" found", stdout);
			} else {
				fputs(": found", stdout);
			}
			fputs(" \"", stdout);
			put_clean(e->text);
			printf("\" in %s: \"", e->field ? e->field : "?");
			put_clean(e->snippet);
			fputs("\"\n", stdout);
		}
	}
}

/* `match --text T`: grep's exit status (0 matched, 1 not, 2 trouble). */
static int match_text(const struct cli *c, const struct fw_matcher *m)
{
	struct fw_item *item = fw_item_new();
	struct fw_match_result res = {0};
	int code = 2;

	if (item == NULL)
		goto done;
	free(item->summary);
	item->summary = strdup(c->text);
	free(item->id);
	item->id = strdup("text");
	if (item->summary == NULL || item->id == NULL || fw_match_item(m, item, &res) < 0)
		goto done;
	if (c->json)
		print_match(m, item, &res);
	else
		print_match_text(m, &res);
	code = res.n_watchlists > 0 ? 0 : 1;
done:
	if (code == 2)
		fprintf(stderr, "feedwatch: match: out of memory\n");
	fw_match_result_clear(&res);
	fw_item_free(item);
	return code;
}

static int cmd_match(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int code = 0;

	(void)args;
	(void)nargs;
	cfg = load_config(c->config, true);
	if (cfg == NULL)
		return 2;
	if (c->text) {
		code = match_text(c, cfg->matcher);
		fw_config_free(cfg);
		return code;
	}
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "feedwatch: reading items in the parse format from stdin (Ctrl-D "
		                "ends; --text T matches one text)\n");
	while ((n = getline(&line, &cap, stdin)) > 0) {
		struct fw_item *item = NULL;

		lineno++;
		if (n > FW_MATCH_LINE_MAX || fw_item_from_json(line, (size_t)n, &item) < 0) {
			bool blank = strspn(line, " \t\r\n") == (size_t)n;

			if (!blank) {
				fprintf(stderr,
				        "feedwatch: stdin:%ld: not an item in the parse format\n",
				        lineno);
				code = 1;
			}
			continue;
		}
		if (match_one(cfg->matcher, item) < 0)
			code = 1;
		fw_item_free(item);
	}
	free(line);
	fw_config_free(cfg);
	return code;
}

/* A word for a command line the user may paste: quoted when the shell would split it. */
static void put_shell_word(FILE *f, const char *s)
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
static void put_config_arg(FILE *f, const struct cli *c)
{
	if (c->config) {
		fputs(" -c ", f);
		put_shell_word(f, c->config);
	}
}

/*
 * The store of cfg, for status and outbox. Before the first run there is no database:
 * that is said plainly with the way to start (*code 1) and nothing is created; any other
 * failure is the store's message (*code 2).
 */
static struct fw_store *open_store(const struct fw_config *cfg, const struct cli *c, bool read_only,
                                   int *code)
{
	struct fw_store *s = NULL;
	struct stat st;
	char *db = fw_config_db_path(cfg), err[512];

	*code = 2;
	if (db == NULL)
		return NULL;
	if (stat(db, &st) < 0 && errno == ENOENT) {
		fprintf(stderr,
		        "feedwatch: no database yet at %s: nothing has been polled with this "
		        "config.\nfeedwatch: start with `feedwatch once",
		        db);
		put_config_arg(stderr, c);
		fputs("` (poll every feed once) or `feedwatch run", stderr);
		put_config_arg(stderr, c);
		fputs("` (the daemon).\n", stderr);
		*code = 1;
	} else if (fw_store_open(db, read_only, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "feedwatch: cannot open the store: %s\n", err);
		s = NULL;
	}
	free(db);
	return s;
}

static void fmt_time(int64_t t, char *buf, size_t n)
{
	if (t <= 0)
		snprintf(buf, n, "-");
	else
		fw_date_format(t, buf, n);
}

static const char outbox_help[] =
    "usage: feedwatch outbox list [--pending|--dead] [--output NAME] [--json] [-c FILE]\n"
    "       feedwatch outbox retry ROWID | --all [--output NAME] [-c FILE]\n"
    "       feedwatch outbox drop ROWID | --dead [--output NAME] [-c FILE]\n"
    "Show queued (pending) and dead alerts; make dead ones pending again; delete.\n"
    "An unknown ROWID is an error (exit 1); an empty list is said on stderr.\n";

static void print_outbox_entry(const struct cli *c, const struct fw_outbox_entry *e)
{
	char next[40];

	fmt_time(e->next_at, next, sizeof(next));
	if (c->json) {
		json_t *j = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s?, s:o?}", "rowid",
		                      (json_int_t)e->rowid, "state",
		                      e->state == FW_OUTBOX_DEAD ? "dead" : "pending", "attempts",
		                      (json_int_t)e->attempts, "output", e->output, "next", next,
		                      "alert_id", e->alert_id, "last_error", e->last_error, "alert",
		                      json_loads(e->payload, 0, NULL));
		char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (line)
			puts(line);
		free(line);
		json_decref(j);
	} else {
		printf("%-8lld %-7s %-8lld %-16s %-20s %-32s %s\n", (long long)e->rowid,
		       e->state == FW_OUTBOX_DEAD ? "dead" : "pending", (long long)e->attempts,
		       e->output, next, e->alert_id, e->last_error ? e->last_error : "");
	}
}

static int outbox_list(const struct cli *c, struct fw_store *s)
{
	struct fw_outbox_entry *e = NULL;
	size_t n = 0;
	int state = c->dead ? FW_OUTBOX_DEAD : c->pending ? FW_OUTBOX_PENDING : -1;

	if (c->dead && c->pending)
		state = -1; /* both states: all of them */
	if (fw_store_outbox_list(s, state, c->output, &e, &n) < 0) {
		fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
		return 1;
	}
	if (n == 0) /* on stderr: stdout stays a table or JSON Lines, here empty */
		fprintf(stderr, "feedwatch: the outbox has no %salerts%s%s\n",
		        state == FW_OUTBOX_DEAD      ? "dead "
		        : state == FW_OUTBOX_PENDING ? "pending "
		                                     : "",
		        c->output ? " of output " : "", c->output ? c->output : "");
	else if (!c->json)
		printf("%-8s %-7s %-8s %-16s %-20s %-32s %s\n", "ROWID", "STATE", "ATTEMPTS",
		       "OUTPUT", "NEXT", "ALERT", "LAST ERROR");
	for (size_t k = 0; k < n; k++)
		print_outbox_entry(c, &e[k]);
	fw_outbox_entries_free(e, n);
	return 0;
}

/* Why `retry ROWID` or `drop ROWID` changed nothing: no such row, or another output's.
   Returns 1 (the exit status). */
static int outbox_row_missing(const struct cli *c, struct fw_store *s, int64_t rowid)
{
	struct fw_outbox_entry *e = NULL;
	size_t n = 0, k = 0;

	if (fw_store_outbox_list(s, -1, NULL, &e, &n) < 0) {
		fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
		return 1;
	}
	while (k < n && e[k].rowid != rowid)
		k++;
	if (k < n && c->output && strcmp(e[k].output, c->output) != 0)
		fprintf(stderr, "feedwatch: outbox: row %lld is an alert of output %s, not %s\n",
		        (long long)rowid, e[k].output, c->output);
	else
		fprintf(stderr,
		        "feedwatch: outbox: no alert with row id %lld (`feedwatch outbox list` "
		        "shows the row ids)\n",
		        (long long)rowid);
	fw_outbox_entries_free(e, n);
	return 1;
}

/* ROWID or the flag that means "every dead one" (`--all`, `--dead`), never both. Returns 0
   and *rowid (0 for the flag), or 2 after saying what is wrong. */
static int outbox_target(const char *verb, char **args, int nargs, bool flag, const char *flag_name,
                         int64_t *rowid)
{
	char *end;

	*rowid = 0;
	if (nargs == 0 && !flag) {
		fprintf(stderr, "feedwatch: outbox %s needs a ROWID or %s\n%s", verb, flag_name,
		        outbox_help);
		return 2;
	}
	if (nargs == 0)
		return 0;
	if (flag) {
		fprintf(stderr, "feedwatch: outbox %s: give a ROWID or %s, not both\n", verb,
		        flag_name);
		return 2;
	}
	errno = 0;
	*rowid = strtoll(args[0], &end, 10);
	if (errno || end == args[0] || *end || *rowid <= 0) {
		fprintf(stderr, "feedwatch: outbox %s: '%s' is not a row id\n", verb, args[0]);
		return 2;
	}
	return 0;
}

/* An outbox verb: load the config, open the store (read only for list), run it. */
static int outbox_run(const struct cli *c, const char *verb, int64_t rowid)
{
	struct fw_config *cfg = load_config(c->config, true);
	struct fw_store *s;
	int64_t changed = 0;
	int code;

	if (cfg == NULL)
		return 2;
	s = open_store(cfg, c, strcmp(verb, "list") == 0, &code);
	if (s == NULL) {
		fw_config_free(cfg);
		return code;
	}
	code = 0;
	if (strcmp(verb, "list") == 0) {
		code = outbox_list(c, s);
	} else if (strcmp(verb, "retry") == 0) {
		if (fw_store_outbox_revive(s, rowid, c->output, time(NULL), &changed) < 0) {
			fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
			code = 1;
		} else if (rowid > 0 && changed == 0) {
			code = outbox_row_missing(c, s, rowid);
		} else {
			printf("%lld alerts queued again (a running daemon sends them at its next "
			       "outbox pass)\n",
			       (long long)changed);
		}
	} else if (fw_store_outbox_drop(s, rowid, c->output, &changed) < 0) {
		fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
		code = 1;
	} else if (rowid > 0 && changed == 0) {
		code = outbox_row_missing(c, s, rowid);
	} else {
		printf("%lld alerts dropped\n", (long long)changed);
	}
	fw_store_close(s);
	fw_config_free(cfg);
	return code;
}

static int cmd_outbox_list(const struct cli *c, char **args, int nargs)
{
	(void)args;
	(void)nargs;
	return outbox_run(c, "list", 0);
}

static int cmd_outbox_retry(const struct cli *c, char **args, int nargs)
{
	int64_t rowid;
	int r = outbox_target("retry", args, nargs, c->all, "--all", &rowid);

	return r ? r : outbox_run(c, "retry", rowid);
}

static int cmd_outbox_drop(const struct cli *c, char **args, int nargs)
{
	int64_t rowid;
	int r = outbox_target("drop", args, nargs, c->dead, "--dead", &rowid);

	return r ? r : outbox_run(c, "drop", rowid);
}

/* One host resting after a 429 or 503: a line, or an object of the JSON array arg. */
static void status_host_cb(const char *host, int64_t until, long http_status, void *arg)
{
	char when[40];

	fmt_time(until, when, sizeof(when));
	if (arg)
		json_array_append_new(arg, json_pack("{s:s, s:s, s:I}", "host", host, "until", when,
		                                     "http_status", (json_int_t)http_status));
	else
		printf("%-32s %-20s %ld\n", host, when, http_status);
}

static int cmd_status(const struct cli *c, char **args, int nargs)
{
	struct fw_config *cfg;
	struct fw_store *s;
	json_t *root, *feeds, *outs, *hosts;
	int code;

	(void)args;
	(void)nargs;
	cfg = load_config(c->config, true);
	if (cfg == NULL)
		return 2;
	s = open_store(cfg, c, true, &code);
	if (s == NULL) {
		fw_config_free(cfg);
		return code;
	}
	root = json_object();
	feeds = json_array();
	outs = json_array();
	hosts = json_array();
	if (!c->json)
		printf("%-24s %-20s %-5s %-6s %-20s %-8s %-6s %s\n", "FEED", "LAST POLL", "HTTP",
		       "ERRORS", "NEXT POLL", "ITEMS", "ALERTS", "LAST ERROR");
	for (size_t k = 0; k < cfg->n_feeds; k++) {
		struct fw_feed_state st = {0};
		char last[40], next[40];

		fw_store_feed_load(s, cfg->feeds[k].name, &st);
		if (st.moved_url) { /* it may carry the configured user:password */
			char *pub = fw_alert_public_url(st.moved_url);

			free(st.moved_url);
			st.moved_url = pub;
		}
		fmt_time(st.last_poll, last, sizeof(last));
		fmt_time(st.next_poll, next, sizeof(next));
		if (c->json)
			json_array_append_new(
			    feeds,
			    json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:s?, s:s?}", "name",
			              cfg->feeds[k].name, "last_poll", last, "http_status",
			              (json_int_t)st.http_status, "error_streak",
			              (json_int_t)st.error_streak, "next_poll", next, "items_seen",
			              (json_int_t)st.items_seen, "alerts", (json_int_t)st.alerts,
			              "last_error", st.last_error, "moved_to", st.moved_url));
		else
			printf("%-24s %-20s %-5ld %-6lld %-20s %-8lld %-6lld %s%s%s\n",
			       cfg->feeds[k].name, last, st.http_status, (long long)st.error_streak,
			       next, (long long)st.items_seen, (long long)st.alerts,
			       st.last_error ? st.last_error : "", st.moved_url ? "moved to " : "",
			       st.moved_url ? st.moved_url : "");
		fw_feed_state_clear(&st);
	}
	if (!c->json)
		printf("\n%-32s %-20s %s\n", "HOST RESTING", "UNTIL", "HTTP");
	fw_store_host_rests(s, time(NULL), status_host_cb, c->json ? (void *)hosts : NULL);
	if (!c->json)
		printf("\n%-24s %-8s %s\n", "OUTPUT", "PENDING", "DEAD");
	for (size_t k = 0; k < cfg->n_outputs; k++) {
		int64_t pending = 0, dead = 0;

		fw_store_outbox_count(s, cfg->outputs[k].name, &pending, &dead);
		if (c->json)
			json_array_append_new(outs, json_pack("{s:s, s:I, s:I}", "name",
			                                      cfg->outputs[k].name, "pending",
			                                      (json_int_t)pending, "dead",
			                                      (json_int_t)dead));
		else
			printf("%-24s %-8lld %lld\n", cfg->outputs[k].name, (long long)pending,
			       (long long)dead);
	}
	json_object_set_new(root, "feeds", feeds);
	json_object_set_new(root, "hosts_resting", hosts);
	json_object_set_new(root, "outputs", outs);
	if (c->json) {
		char *line = json_dumps(root, JSON_COMPACT);

		if (line)
			puts(line);
		free(line);
	}
	json_decref(root);
	fw_store_close(s);
	fw_config_free(cfg);
	return 0;
}

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
		print_diags(&diags);
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
			put_config_arg(f, &named);
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

static int cmd_init(const struct cli *c, char **args, int nargs)
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

static void print_version(void)
{
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	printf("feedwatch %s (plugin ABI %d.%d; libcurl %s, libuv %s, libxml2 %s, jansson %s)\n",
	       FW_VERSION_STRING, FW_PLUGIN_ABI_MAJOR, FW_PLUGIN_ABI_MINOR, cv->version,
	       uv_version_string(), LIBXML_DOTTED_VERSION, JANSSON_VERSION);
}

static int cmd_version(const struct cli *c, char **args, int nargs)
{
	(void)c;
	(void)args;
	(void)nargs;
	print_version();
	return 0;
}

static int cmd_help(const struct cli *c, char **args, int nargs);

static const struct command commands[] = {
    {"init", NULL, OPT_CONFIG, 0, 0,
     "usage: feedwatch init [-c FILE]\n"
     "Write a commented starter config (the bundled example, with state_dir under\n"
     "$XDG_STATE_HOME and the sample feed's absolute path) to FILE, by default\n"
     "$XDG_CONFIG_HOME/feedwatch/feedwatch.conf (~/.config): directory mode 0700, file\n"
     "0600. An existing file is never overwritten (exit 1).\n",
     cmd_init},
    {"run", NULL, OPT_CONFIG, 0, 0,
     "usage: feedwatch run [-c FILE]\n"
     "Run the daemon in the foreground; logs go to stderr.\n"
     "SIGTERM/SIGINT stop it; SIGHUP reloads the config and reopens output files.\n",
     cmd_run},
    {"once", NULL, OPT_CONFIG, 0, 0,
     "usage: feedwatch once [-c FILE]\n"
     "Poll every feed once, deliver the alerts, exit 0 (1 if a feed failed).\n",
     cmd_once},
    {"check", NULL, OPT_CONFIG, 0, 0,
     "usage: feedwatch check [-c FILE]\n"
     "Validate the config: every problem as FILE:LINE: message; exit 1 on any error.\n",
     cmd_check},
    {"parse", NULL, 0, 1, 1,
     "usage: feedwatch parse FILE|URL\n"
     "Print the feed's items as JSON Lines: title link id published updated author "
     "summary content categories.\n",
     cmd_parse},
    {"match", NULL, OPT_CONFIG | OPT_TEXT | OPT_JSON, 0, 0,
     "usage: feedwatch match --text TEXT [--json] [-c FILE]\n"
     "       feedwatch match [-c FILE] < items.jsonl\n"
     "With --text: which watchlists TEXT matches and why (term, alias, field, snippet),\n"
     "readable (--json: one JSON line); exit 0 matched, 1 not matched, 2 trouble.\n"
     "Without: items in the `parse` format on stdin, one JSON line each (id, watchlists,\n"
     "explain); exit 1 when a line is not an item.\n",
     cmd_match},
    {"outbox", "list", OPT_CONFIG | OPT_PENDING | OPT_DEAD | OPT_OUTPUT | OPT_JSON, 0, 0,
     outbox_help, cmd_outbox_list},
    {"outbox", "retry", OPT_CONFIG | OPT_ALL | OPT_OUTPUT, 0, 1, outbox_help, cmd_outbox_retry},
    {"outbox", "drop", OPT_CONFIG | OPT_DEAD | OPT_OUTPUT, 0, 1, outbox_help, cmd_outbox_drop},
    {"status", NULL, OPT_CONFIG | OPT_JSON, 0, 0,
     "usage: feedwatch status [--json] [-c FILE]\n"
     "Per feed: last poll, HTTP status, error streak, next poll, items, alerts; resting\n"
     "hosts; per output: pending and dead alerts. Exit 1 when there is no database yet.\n",
     cmd_status},
    {"version", NULL, 0, 0, 0, "usage: feedwatch version\n", cmd_version},
    {"help", NULL, 0, 0, 1, "usage: feedwatch help [COMMAND]\n", cmd_help},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The command named by args (and, for outbox, its verb in args[1]); NULL when unknown. */
static const struct command *find_command(char **args, int nargs)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, args[0]) != 0)
			continue;
		if (commands[i].verb == NULL ||
		    (nargs > 1 && strcmp(commands[i].verb, args[1]) == 0))
			return &commands[i];
	}
	return NULL;
}

static int cmd_help(const struct cli *c, char **args, int nargs)
{
	const struct command *cmd = nargs > 0 ? find_command(args, nargs) : NULL;

	(void)c;
	if (nargs > 0 && cmd == NULL && strcmp(args[0], "outbox") != 0) {
		fprintf(stderr, "feedwatch: help: unknown command '%s'\n", args[0]);
		return usage(stderr, 2);
	}
	fputs(cmd ? cmd->help : nargs > 0 ? outbox_help : usage_text, stdout);
	return 0;
}

/* "run", "outbox list": a command's name in messages. */
static void command_name(const struct command *cmd, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s", cmd->name, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
}

/*
 * Everything the line may get wrong, once the command is known: an unknown or malformed
 * option, an option this command does not take (never silently ignored), a wrong number
 * of arguments. Returns 0, or 2 after one message naming the option and the command.
 */
static int check_line(const struct cli *c, const struct command *cmd, int nargs)
{
	char name[32], opt[32];
	unsigned extra = c->seen & ~(cmd->opts | OPT_GLOBAL);

	command_name(cmd, name, sizeof(name));
	if (c->bad[0]) {
		fprintf(stderr, "feedwatch: %s: %s (see feedwatch %s --help)\n", name, c->bad,
		        name);
		return 2;
	}
	for (size_t k = 0; k < N_OPTS && extra; k++) {
		if (!(extra & optdefs[k].bit))
			continue;
		opt_name(c, &optdefs[k], opt, sizeof(opt));
		fprintf(stderr,
		        "feedwatch: %s does not take the option %s (see feedwatch %s --help)\n",
		        name, opt, name);
		return 2;
	}
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		if (nargs > cmd->max_args)
			fprintf(stderr, "feedwatch: %s: unexpected argument '%s'\n", name,
			        c->pos[c->npos - nargs + cmd->max_args]);
		else
			fprintf(stderr, "feedwatch: %s: missing argument\n", name);
		fputs(cmd->help, stderr);
		return 2;
	}
	return 0;
}

/*
 * The line before any command runs: --version and --help win (after an error in the line
 * itself), then the command is found and its line checked. Returns the command, or NULL
 * with *code set (0 after help or version, 2 for a usage error).
 */
static const struct command *resolve(const struct cli *c, int *code)
{
	const struct command *cmd = c->npos > 0 ? find_command(c->pos, c->npos) : NULL;
	bool outbox = c->npos > 0 && strcmp(c->pos[0], "outbox") == 0;

	*code = 2;
	if (c->bad[0] && cmd == NULL) {
		fprintf(stderr, "feedwatch: %s%s%s (see feedwatch --help)\n",
		        c->npos > 0 ? c->pos[0] : "", c->npos > 0 ? ": " : "", c->bad);
		return NULL;
	}
	if (c->bad[0])
		return check_line(c, cmd, 0), NULL;
	*code = 0;
	if (c->seen & OPT_VERSION)
		return print_version(), NULL;
	if ((c->seen & OPT_HELP) && (cmd || outbox || c->npos == 0)) {
		fputs(cmd ? cmd->help : outbox ? outbox_help : usage_text, stdout);
		return NULL;
	}
	*code = 2;
	if (c->npos == 0)
		return usage(stderr, 2), NULL;
	if (cmd == NULL && outbox && c->npos == 1)
		fprintf(stderr, "feedwatch: outbox needs a verb: list, retry or drop\n%s",
		        outbox_help);
	else if (cmd == NULL && outbox)
		fprintf(stderr, "feedwatch: outbox: unknown verb '%s'\n%s", c->pos[1], outbox_help);
	else if (cmd == NULL)
		fprintf(stderr, "feedwatch: unknown command '%s'\n%s", c->pos[0], usage_text);
	else if (check_line(c, cmd, c->npos - (cmd->verb ? 2 : 1)) == 0)
		return cmd;
	return NULL;
}

int main(int argc, char **argv)
{
	struct cli c = {.level = FW_LOG_INFO};
	const struct command *cmd;
	int code, skip;

	parse_cli(argc, argv, &c);
	cmd = resolve(&c, &code);
	if (cmd == NULL)
		return code;
	/* A write to a closed pipe or socket is an error to handle, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	fw_log_init();
	fw_log_set_level(c.level);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "feedwatch: cannot initialise libcurl\n");
		return 2;
	}
	skip = cmd->verb ? 2 : 1;
	code = cmd->fn(&c, c.pos + skip, c.npos - skip);
	curl_global_cleanup();
	xmlCleanupParser();
	fflush(stdout);
	return code;
}
