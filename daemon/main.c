/* main.c - argv, the command table, exit codes: the only file that exits. */
#include <errno.h>
#include <stddef.h>
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
#include "cli.h"
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

/* The build's sysconfdir (daemon/CMakeLists.txt), as fw_config_locate uses it. */
#ifndef FW_SYSCONFDIR
#define FW_SYSCONFDIR "/etc"
#endif

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
    "  feeds  add|remove|import|export|list|discover ...  feeds by URL and OPML\n"
    "  outbox list|retry|drop ...   show and act on queued and dead alerts\n"
    "  status [-c FILE] [--json]    per-feed state and per-output queues\n"
    "  stories [--since D] [--watchlist W] [--json]   stories, newest first\n"
    "  explain-story ID [--json]    why each item of a story joined it\n"
    "  alerts [--since D] [--watchlist W] [--json]   the alerts raised and their delivery\n"
    "  backtest [-c FILE] (WATCHLIST | --query Q) [--since D] [--json]\n"
    "                               run a watchlist or query over the item archive\n"
    "  help [COMMAND], version\n"
    "\n"
    "Options may come before or after the command and its arguments; `--` ends them.\n"
    "Everywhere: -v more log, -q less log, --version, --help (with a command: its usage).\n"
    "config: -c FILE, else $FEEDWATCH_CONFIG, else $XDG_CONFIG_HOME/feedwatch/feedwatch.conf,\n"
    "        else " FW_SYSCONFDIR "/feedwatch/feedwatch.conf\n";

static int usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

/* Every option of the line; an option with a value stores it at .value in struct cli. */
struct optdef {
	char short_name; /* 0: long only */
	const char *long_name;
	bool has_arg;
	unsigned bit;
	size_t value; /* offsetof(struct cli, ...) of its string when has_arg */
};

#define OPT_STR(s, l, b, f)                                                                        \
	{                                                                                          \
		s, l, true, b, offsetof(struct cli, f)                                             \
	}
#define OPT_FLAG(s, l, b)                                                                          \
	{                                                                                          \
		s, l, false, b, 0                                                                  \
	}

static const struct optdef optdefs[N_OPTS] = {
    OPT_STR('c', "config", OPT_CONFIG, config),
    OPT_STR(0, "text", OPT_TEXT, text),
    OPT_FLAG(0, "json", OPT_JSON),
    OPT_FLAG(0, "all", OPT_ALL),
    OPT_FLAG(0, "dead", OPT_DEAD),
    OPT_FLAG(0, "pending", OPT_PENDING),
    OPT_STR(0, "output", OPT_OUTPUT, output),
    OPT_FLAG('v', "verbose", OPT_VERBOSE),
    OPT_FLAG('q', "quiet", OPT_QUIET),
    OPT_FLAG('V', "version", OPT_VERSION),
    OPT_FLAG('h', "help", OPT_HELP),
    OPT_STR(0, "since", OPT_SINCE, since),
    OPT_STR(0, "watchlist", OPT_WATCHLIST, watchlist),
    OPT_STR(0, "query", OPT_QUERY, query),
    OPT_STR(0, "name", OPT_NAME, name),
    OPT_STR(0, "interval", OPT_INTERVAL, interval),
    OPT_STR(0, "tag", OPT_TAG, tag),
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
	if (d->has_arg)
		*(const char **)(void *)((char *)c + d->value) = val;
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

/* One command (or verb of a group such as outbox): the options it takes, its arguments
   and usage. */
struct command {
	const char *name;
	const char *verb; /* in a group: outbox's list, retry, drop; else NULL */
	unsigned opts;    /* OPT_* it takes besides the global ones */
	int min_args, max_args;
	const char *help;
	int (*fn)(const struct cli *c, char **args, int nargs);
};

static int run_daemon(const struct cli *c, bool once)
{
	struct fw_config *cfg = fw_cli_load_config(c->config, false);

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
	fw_cli_print_diags(&diags);
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
	/* An HTML page: say which feeds it links to rather than the XML parser's complaint. */
	if (r < 0 && fw_cli_feeds_explain_page(path) < 0)
		fprintf(stderr, "feedwatch: %s: not a feed: %s\n", path,
		        fw_parse_problem(p) ? fw_parse_problem(p)
		                            : "no RSS, Atom or JSON Feed document");
	else if (r == 0 && fw_parse_problem(p))
		fprintf(stderr, "feedwatch: %s: warning: %s\n", path, fw_parse_problem(p));
	fw_parse_free(p);
	return r < 0 ? 1 : 0;
}

struct parse_url_state {
	int code;
	const char *url;
	char *not_feed; /* the fetch's message when the body was no feed (maybe a page) */
};

static void parse_url_done_cb(struct fw_fetch_result *r, void *arg)
{
	struct parse_url_state *s = arg;

	if (r->error == -EBADMSG && r->status < 400) {
		s->not_feed = strdup(r->error_text);
		s->code = 1;
		return;
	}
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
	/* An HTML page: say which feeds it links to rather than the XML parser's complaint. */
	if (s.not_feed && fw_cli_feeds_explain_page(url) < 0)
		fprintf(stderr, "feedwatch: %s: %s\n", url, s.not_feed);
	free(s.not_feed);
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
     fw_cli_init_cmd},
    {"run", NULL, OPT_CONFIG, 0, 0,
     "usage: feedwatch run [-c FILE]\n"
     "Run the daemon in the foreground; logs go to stderr.\n"
     "SIGTERM/SIGINT stop it; SIGHUP reloads the config and reopens output files.\n",
     cmd_run},
    {"once", NULL, OPT_CONFIG, 0, 0,
     "usage: feedwatch once [-c FILE]\n"
     "Poll every feed once, deliver the alerts, exit 0 when all went well; 3 an output\n"
     "could not start, 4 an alert of this run was not delivered (pending or dead), 1 a\n"
     "feed failed (with several: the first of 3, 4, 1).\n",
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
     fw_cli_match_cmd},
    {"outbox", "list", OPT_CONFIG | OPT_PENDING | OPT_DEAD | OPT_OUTPUT | OPT_JSON, 0, 0,
     fw_cli_store_outbox_help, fw_cli_store_outbox_list},
    {"outbox", "retry", OPT_CONFIG | OPT_ALL | OPT_OUTPUT, 0, 1, fw_cli_store_outbox_help,
     fw_cli_store_outbox_retry},
    {"outbox", "drop", OPT_CONFIG | OPT_DEAD | OPT_OUTPUT, 0, 1, fw_cli_store_outbox_help,
     fw_cli_store_outbox_drop},
    {"feeds", "add", OPT_CONFIG | OPT_NAME | OPT_INTERVAL | OPT_TAG, 1, 1, fw_cli_feeds_help,
     fw_cli_feeds_add},
    {"feeds", "remove", OPT_CONFIG, 1, 1, fw_cli_feeds_help, fw_cli_feeds_remove},
    {"feeds", "import", OPT_CONFIG, 1, 1, fw_cli_feeds_help, fw_cli_feeds_import},
    {"feeds", "export", OPT_CONFIG, 0, 0, fw_cli_feeds_help, fw_cli_feeds_export},
    {"feeds", "list", OPT_CONFIG | OPT_JSON, 0, 0, fw_cli_feeds_help, fw_cli_feeds_list},
    {"feeds", "discover", OPT_JSON, 1, 1, fw_cli_feeds_help, fw_cli_feeds_discover},
    {"alerts", NULL, OPT_CONFIG | OPT_SINCE | OPT_WATCHLIST | OPT_JSON, 0, 0, fw_cli_alerts_help,
     fw_cli_alerts_cmd},
    {"status", NULL, OPT_CONFIG | OPT_JSON, 0, 0,
     "usage: feedwatch status [--json] [-c FILE]\n"
     "Per feed: last poll, HTTP status, error streak, next poll, items, alerts, and its\n"
     "WebSub subscription (hub, topic, state, lease, last push, pushes, bad signatures,\n"
     "why it is polled instead); resting hosts; per output: pending and dead alerts.\n"
     "A PostgreSQL store shared by many nodes: the nodes (alive or not, feeds held, polls\n"
     "in flight, deliveries claimed) and which node holds each feed.\n"
     "Exit 1 when there is no database yet.\n",
     fw_cli_store_status},
    {"stories", NULL, OPT_CONFIG | OPT_SINCE | OPT_WATCHLIST | OPT_JSON, 0, 0,
     "usage: feedwatch stories [--since DURATION] [--watchlist NAME] [--json] [-c FILE]\n"
     "The stories in the store (items grouped across feeds, time and languages), newest\n"
     "first: id, first and last seen, items and feeds, the watchlists that matched an item.\n"
     "--since counts back from now over the last item; --json: one object per line with\n"
     "id, title, first_seen, last_seen, items (feed, id, title, link, published) and\n"
     "watchlists. Exit 1 when there is no database yet.\n",
     fw_cli_stories_cmd},
    {"explain-story", NULL, OPT_CONFIG | OPT_JSON, 1, 1,
     "usage: feedwatch explain-story ID [--json] [-c FILE]\n"
     "Why each item joined story ID (an id from `feedwatch stories`): the item it resembled\n"
     "most, the score, and the words and entities they share. Exit 1: no such story.\n",
     fw_cli_stories_explain},
    {"backtest", NULL, OPT_CONFIG | OPT_QUERY | OPT_SINCE | OPT_JSON, 0, 1, fw_cli_backtest_help,
     fw_cli_backtest},
    {"version", NULL, 0, 0, 0, "usage: feedwatch version\n", cmd_version},
    {"help", NULL, 0, 0, 1, "usage: feedwatch help [COMMAND]\n", cmd_help},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The command named by args (and, for a group such as outbox, its verb in args[1]); NULL
   when unknown. */
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

/* The first command of the group called name (outbox, feeds: commands with verbs), whose
   help is the group's; NULL when name is no group. */
static const struct command *find_group(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (commands[i].verb && strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* "outbox needs a verb: list, retry or drop" and the group's help, on stderr. */
static void group_needs_verb(const struct command *g)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < N_COMMANDS; i++)
		n += commands[i].verb && strcmp(commands[i].name, g->name) == 0;
	fprintf(stderr, "feedwatch: %s needs a verb: ", g->name);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (!commands[i].verb || strcmp(commands[i].name, g->name) != 0)
			continue;
		k++;
		fprintf(stderr, "%s%s", k == 1 ? "" : k == n ? " or " : ", ", commands[i].verb);
	}
	fprintf(stderr, "\n%s", g->help);
}

static int cmd_help(const struct cli *c, char **args, int nargs)
{
	const struct command *cmd = nargs > 0 ? find_command(args, nargs) : NULL;
	const struct command *group = nargs > 0 ? find_group(args[0]) : NULL;

	(void)c;
	if (nargs > 0 && cmd == NULL && group == NULL) {
		fprintf(stderr, "feedwatch: help: unknown command '%s'\n", args[0]);
		return usage(stderr, 2);
	}
	fputs(cmd ? cmd->help : group ? group->help : usage_text, stdout);
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
	const struct command *group = c->npos > 0 ? find_group(c->pos[0]) : NULL;

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
	if ((c->seen & OPT_HELP) && (cmd || group || c->npos == 0)) {
		fputs(cmd ? cmd->help : group ? group->help : usage_text, stdout);
		return NULL;
	}
	*code = 2;
	if (c->npos == 0)
		return usage(stderr, 2), NULL;
	if (cmd == NULL && group && c->npos == 1)
		group_needs_verb(group);
	else if (cmd == NULL && group)
		fprintf(stderr, "feedwatch: %s: unknown verb '%s'\n%s", group->name, c->pos[1],
		        group->help);
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
