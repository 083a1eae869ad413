/* main.c - argv, subcommands, exit codes: the only file that exits. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    "usage: feedwatch [-v|-q] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run    [-c FILE]             run the daemon in the foreground\n"
    "  once   [-c FILE]             poll every feed once, deliver alerts, exit\n"
    "  check  [-c FILE]             validate the config (errors as FILE:LINE: message)\n"
    "  parse  FILE|URL              print a feed's items as JSON Lines\n"
    "  match  [-c FILE] [--text T]  match items (JSON Lines on stdin) against the watchlists\n"
    "  outbox [-c FILE] list|retry|drop ...   show and act on queued and dead alerts\n"
    "  status [-c FILE] [--json]    per-feed state and per-output queues\n"
    "\n"
    "options: -v more log, -q less log, --version, --help (also after a command)\n"
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

/* Common option parsing for commands that take -c. Returns optind or -1. */
struct cmd_opts {
	const char *config;
	const char *text;
	bool json;
	bool all;
	bool dead;
	bool pending;
	const char *output;
};

static int parse_opts(int argc, char **argv, struct cmd_opts *o, const char *cmd_help)
{
	static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
	                                         {"text", required_argument, NULL, 't'},
	                                         {"json", no_argument, NULL, 'j'},
	                                         {"all", no_argument, NULL, 'a'},
	                                         {"dead", no_argument, NULL, 'd'},
	                                         {"pending", no_argument, NULL, 'p'},
	                                         {"output", required_argument, NULL, 'o'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->text = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'd':
			o->dead = true;
			break;
		case 'p':
			o->pending = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'h':
			fputs(cmd_help, stdout);
			return -2;
		default:
			fputs(cmd_help, stderr);
			return -1;
		}
	}
	return optind;
}

static int cmd_run(int argc, char **argv, bool once)
{
	struct cmd_opts o = {0};
	struct fw_config *cfg;
	int i = parse_opts(
	    argc, argv, &o,
	    once ? "usage: feedwatch once [-c FILE]\n"
	           "Poll every feed once, deliver the alerts, exit 0 (1 if a feed "
	           "failed).\n"
	         : "usage: feedwatch run [-c FILE]\n"
	           "Run the daemon in the foreground; logs go to stderr.\n"
	           "SIGTERM/SIGINT stop it; SIGHUP reloads the config and reopens output files.\n");

	if (i < 0)
		return i == -2 ? 0 : 2;
	if (i < argc)
		return usage(stderr, 2);
	cfg = load_config(o.config, false);
	if (cfg == NULL)
		return 2;
	return fw_loop_run(cfg, once);
}

static int cmd_check(int argc, char **argv)
{
	struct cmd_opts o = {0};
	struct fw_diags diags = {0};
	struct fw_config *cfg = NULL;
	char *path;
	int i = parse_opts(argc, argv, &o,
	                   "usage: feedwatch check [-c FILE]\n"
	                   "Validate the config: every problem as FILE:LINE: message; exit 1 on "
	                   "any error.\n"),
	    code;

	if (i < 0)
		return i == -2 ? 0 : 2;
	path = fw_config_locate(o.config);
	if (path == NULL)
		return 2;
	if (fw_config_load(path, &cfg, &diags) == 0)
		fw_loader_check_config(cfg, &diags);
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

static int cmd_parse(int argc, char **argv)
{
	struct cmd_opts o = {0};
	int i = parse_opts(argc, argv, &o,
	                   "usage: feedwatch parse FILE|URL\n"
	                   "Print the feed's items as JSON Lines: title link id published updated "
	                   "author summary content categories.\n");

	if (i < 0)
		return i == -2 ? 0 : 2;
	if (argc - i != 1)
		return usage(stderr, 2);
	if (strncasecmp(argv[i], "http://", 7) == 0 || strncasecmp(argv[i], "https://", 8) == 0)
		return parse_url(argv[i]);
	return parse_file(argv[i]);
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

static int cmd_match(int argc, char **argv)
{
	struct cmd_opts o = {0};
	struct fw_config *cfg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int code = 0;
	int i = parse_opts(argc, argv, &o,
	                   "usage: feedwatch match [-c FILE] [--text TEXT]\n"
	                   "Read items in the `parse` format from stdin (or match one TEXT), print "
	                   "one JSON line per item: id, watchlists, explain.\n");

	if (i < 0)
		return i == -2 ? 0 : 2;
	cfg = load_config(o.config, true);
	if (cfg == NULL)
		return 2;
	if (o.text) {
		struct fw_item *item = fw_item_new();

		if (item) {
			free(item->summary);
			item->summary = strdup(o.text);
			free(item->id);
			item->id = strdup("text");
			code =
			    item->summary && item->id && match_one(cfg->matcher, item) == 0 ? 0 : 1;
		}
		fw_item_free(item);
		fw_config_free(cfg);
		return code;
	}
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

static struct fw_store *open_store(const struct fw_config *cfg, bool read_only)
{
	struct fw_store *s = NULL;
	char *db = fw_config_db_path(cfg), err[512];

	if (db == NULL)
		return NULL;
	if (fw_store_open(db, read_only, &s, err, sizeof(err)) < 0) {
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

static int cmd_outbox(int argc, char **argv)
{
	static const char help[] =
	    "usage: feedwatch outbox [-c FILE] list [--pending|--dead] [--output NAME] [--json]\n"
	    "       feedwatch outbox [-c FILE] retry ROWID | --all [--output NAME]\n"
	    "       feedwatch outbox [-c FILE] drop ROWID | --dead [--output NAME]\n"
	    "Show queued (pending) and dead alerts; make dead ones pending again; delete.\n";
	struct cmd_opts o = {0};
	struct fw_config *cfg;
	struct fw_store *s;
	const char *verb;
	int64_t rowid = 0, changed = 0;
	int i, code = 0, r;

	i = parse_opts(argc, argv, &o, help);
	if (i < 0)
		return i == -2 ? 0 : 2;
	if (i >= argc)
		return fputs(help, stderr), 2;
	verb = argv[i++];
	/* Options may also follow the verb. */
	{
		int sub = parse_opts(argc - i + 1, argv + i - 1, &o, help);

		if (sub < 0)
			return sub == -2 ? 0 : 2;
		i = i - 1 + sub;
	}
	if (i < argc) {
		char *end;

		rowid = strtoll(argv[i], &end, 10);
		if (*end || rowid <= 0)
			return fputs(help, stderr), 2;
	}
	cfg = load_config(o.config, true);
	if (cfg == NULL)
		return 2;
	s = open_store(cfg, strcmp(verb, "list") == 0);
	if (s == NULL) {
		fw_config_free(cfg);
		return 2;
	}
	if (strcmp(verb, "list") == 0) {
		struct fw_outbox_entry *e = NULL;
		size_t n = 0;
		int state = o.dead ? FW_OUTBOX_DEAD : o.pending ? FW_OUTBOX_PENDING : -1;

		r = fw_store_outbox_list(s, state, o.output, &e, &n);
		if (r < 0) {
			fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
			code = 1;
		}
		if (!o.json && n > 0)
			printf("%-8s %-7s %-8s %-16s %-20s %-32s %s\n", "ROWID", "STATE",
			       "ATTEMPTS", "OUTPUT", "NEXT", "ALERT", "LAST ERROR");
		for (size_t k = 0; k < n; k++) {
			char next[40];

			fmt_time(e[k].next_at, next, sizeof(next));
			if (o.json) {
				json_t *j = json_pack(
				    "{s:I, s:s, s:I, s:s, s:s, s:s, s:s?, s:o?}", "rowid",
				    (json_int_t)e[k].rowid, "state",
				    e[k].state == FW_OUTBOX_DEAD ? "dead" : "pending", "attempts",
				    (json_int_t)e[k].attempts, "output", e[k].output, "next", next,
				    "alert_id", e[k].alert_id, "last_error", e[k].last_error,
				    "alert", json_loads(e[k].payload, 0, NULL));
				char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

				if (line)
					puts(line);
				free(line);
				json_decref(j);
			} else {
				printf("%-8lld %-7s %-8lld %-16s %-20s %-32s %s\n",
				       (long long)e[k].rowid,
				       e[k].state == FW_OUTBOX_DEAD ? "dead" : "pending",
				       (long long)e[k].attempts, e[k].output, next, e[k].alert_id,
				       e[k].last_error ? e[k].last_error : "");
			}
		}
		fw_outbox_entries_free(e, n);
	} else if (strcmp(verb, "retry") == 0) {
		if (rowid == 0 && !o.all) {
			fputs(help, stderr);
			code = 2;
		} else if (fw_store_outbox_revive(s, rowid, o.output, time(NULL), &changed) < 0) {
			fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
			code = 1;
		} else {
			printf("%lld alerts queued again (a running daemon sends them at its next "
			       "outbox pass)\n",
			       (long long)changed);
		}
	} else if (strcmp(verb, "drop") == 0) {
		if (rowid == 0 && !o.dead) {
			fputs(help, stderr);
			code = 2;
		} else if (fw_store_outbox_drop(s, rowid, o.output, &changed) < 0) {
			fprintf(stderr, "feedwatch: outbox: %s\n", fw_store_error(s));
			code = 1;
		} else {
			printf("%lld alerts dropped\n", (long long)changed);
		}
	} else {
		fputs(help, stderr);
		code = 2;
	}
	fw_store_close(s);
	fw_config_free(cfg);
	return code;
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

static int cmd_status(int argc, char **argv)
{
	struct cmd_opts o = {0};
	struct fw_config *cfg;
	struct fw_store *s;
	json_t *root, *feeds, *outs, *hosts;
	int i = parse_opts(argc, argv, &o,
	                   "usage: feedwatch status [-c FILE] [--json]\n"
	                   "Per feed: last poll, HTTP status, error streak, next poll, items, "
	                   "alerts; per output: pending and dead alerts.\n");

	if (i < 0)
		return i == -2 ? 0 : 2;
	cfg = load_config(o.config, true);
	if (cfg == NULL)
		return 2;
	s = open_store(cfg, true);
	if (s == NULL) {
		fw_config_free(cfg);
		return 2;
	}
	root = json_object();
	feeds = json_array();
	outs = json_array();
	hosts = json_array();
	if (!o.json)
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
		if (o.json)
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
	if (!o.json)
		printf("\n%-32s %-20s %s\n", "HOST RESTING", "UNTIL", "HTTP");
	fw_store_host_rests(s, time(NULL), status_host_cb, o.json ? (void *)hosts : NULL);
	if (!o.json)
		printf("\n%-24s %-8s %s\n", "OUTPUT", "PENDING", "DEAD");
	for (size_t k = 0; k < cfg->n_outputs; k++) {
		int64_t pending = 0, dead = 0;

		fw_store_outbox_count(s, cfg->outputs[k].name, &pending, &dead);
		if (o.json)
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
	if (o.json) {
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

static void print_version(void)
{
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	printf("feedwatch %s (plugin ABI %d.%d; libcurl %s, libuv %s, libxml2 %s, jansson %s)\n",
	       FW_VERSION_STRING, FW_PLUGIN_ABI_MAJOR, FW_PLUGIN_ABI_MINOR, cv->version,
	       uv_version_string(), LIBXML_DOTTED_VERSION, JANSSON_VERSION);
}

int main(int argc, char **argv)
{
	int level = FW_LOG_INFO, code;
	const char *cmd;

	/* Global options before the command. */
	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0) {
			level++;
		} else if (strcmp(argv[1], "-q") == 0 || strcmp(argv[1], "--quiet") == 0) {
			level--;
		} else if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
			print_version();
			return 0;
		} else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			return usage(stdout, 0);
		} else {
			break;
		}
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (argc < 2)
		return usage(stderr, 2);
	/* A write to a closed pipe or socket is an error to handle, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	fw_log_init();
	fw_log_set_level(level);
	cmd = argv[1];
	argv++;
	argc--;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "feedwatch: cannot initialise libcurl\n");
		return 2;
	}
	if (strcmp(cmd, "run") == 0)
		code = cmd_run(argc, argv, false);
	else if (strcmp(cmd, "once") == 0)
		code = cmd_run(argc, argv, true);
	else if (strcmp(cmd, "check") == 0)
		code = cmd_check(argc, argv);
	else if (strcmp(cmd, "parse") == 0)
		code = cmd_parse(argc, argv);
	else if (strcmp(cmd, "match") == 0)
		code = cmd_match(argc, argv);
	else if (strcmp(cmd, "outbox") == 0)
		code = cmd_outbox(argc, argv);
	else if (strcmp(cmd, "status") == 0)
		code = cmd_status(argc, argv);
	else if (strcmp(cmd, "version") == 0)
		print_version(), code = 0;
	else if (strcmp(cmd, "help") == 0)
		code = usage(stdout, 0);
	else {
		fprintf(stderr, "feedwatch: unknown command '%s'\n", cmd);
		code = usage(stderr, 2);
	}
	curl_global_cleanup();
	xmlCleanupParser();
	fflush(stdout);
	return code;
}
