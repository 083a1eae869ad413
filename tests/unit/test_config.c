/* test_config.c - validated config with FILE:LINE diagnostics. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char dir[] = "/tmp/fwtest-config-XXXXXX";

static const char *write_conf(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* True when some diagnostic is at `line` and contains `needle`. */
static bool has_diag(const struct fw_diags *d, int line, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].line == line && strstr(d->v[i].message, needle))
			return true;
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "  diag %s:%d: %s\n", d->v[i].file, d->v[i].line, d->v[i].message);
	return false;
}

static const char good[] =
    "state_dir = \"state\";\n"
    "interval = \"5m\";\n"
    "min_interval = 10;\n"
    "feeds = (\n"
    "  { name = \"a\"; url = \"https://example.org/feed\"; },\n"
    "  { name = \"b\"; url = \"local/feed.xml\"; interval = \"1h\"; first_poll_max_age = 0; },\n"
    "  { name = \"Новости – мир\"; url = \"file:///srv/feed.xml\"; interval = 1; }\n"
    ");\n"
    "entities = { putin = [ \"Putin\", \"Путин*\" ]; nk = [ \"North Korea\" ]; };\n"
    "watchlists = ( { name = \"w\"; match = \"@putin AND @nk\"; outputs = [ \"o\" ]; },\n"
    "               { name = \"all\"; match = \"@putin\"; priority = \"urgent\";\n"
    "                 title = \"{watchlist}: {title}\"; backfill = \"2h\"; } );\n"
    "outputs = ( { name = \"o\"; plugin = \"log\"; path = \"-\"; rate_limit = 5; },\n"
    "            { name = \"p\"; plugin = \"log\"; priority = \"low\"; body = \"{why}\"; } );\n";

static void test_good(void **state)
{
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;
	const char *p = write_conf("good.conf", good);
	char want[600];

	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_non_null(cfg);
	assert_int_equal(cfg->n_feeds, 3);
	assert_int_equal(cfg->feeds[0].interval, 300);
	assert_int_equal(cfg->feeds[1].interval, 3600);
	assert_int_equal(cfg->feeds[1].first_poll_max_age, 0);
	assert_int_equal(cfg->feeds[0].first_poll_max_age, 86400);
	/* Below the floor: raised, with a warning naming the line. */
	assert_int_equal(cfg->feeds[2].interval, 10);
	assert_string_equal(cfg->feeds[2].name, "Новости – мир"); /* UTF-8 names are names */
	assert_true(d.n == 1 && d.v[0].warning && d.v[0].line == 7);
	snprintf(want, sizeof(want), "file://%s/local/feed.xml", dir);
	assert_string_equal(cfg->feeds[1].url, want);
	snprintf(want, sizeof(want), "%s/state", dir);
	assert_string_equal(cfg->state_dir, want);
	assert_int_equal(cfg->n_watchlists, 2);
	assert_int_equal(cfg->watchlists[0].n_outputs, 1);
	assert_int_equal(cfg->watchlists[1].n_outputs, 2); /* no outputs = all */
	assert_int_equal(cfg->outputs[0].rate_limit, 5);
	/* Presentation keys: defaults, and what was set. */
	assert_int_equal(cfg->watchlists[0].priority, FW_PRIORITY_NORMAL);
	assert_null(cfg->watchlists[0].title);
	assert_int_equal(cfg->watchlists[1].priority, FW_PRIORITY_URGENT);
	assert_string_equal(cfg->watchlists[1].title, "{watchlist}: {title}");
	assert_null(cfg->watchlists[1].body);
	assert_int_equal(cfg->outputs[0].priority, FW_PRIORITY_UNSET);
	assert_int_equal(cfg->outputs[1].priority, FW_PRIORITY_LOW);
	assert_string_equal(cfg->outputs[1].body, "{why}");
	assert_null(cfg->outputs[1].title);
	/* The archive and backfill: defaults, and what was set. */
	assert_int_equal(cfg->archive, 30 * 86400);
	assert_int_equal(cfg->archive_max_size, 256 << 20);
	assert_int_equal(cfg->story_memory, 128 << 20);
	assert_int_equal(cfg->watchlists[0].backfill, -1);
	assert_int_equal(cfg->watchlists[1].backfill, 7200);
	assert_non_null(cfg->matcher);
	assert_int_equal(fw_config_output_index(cfg, "p"), 1);
	assert_int_equal(fw_config_feed_index(cfg, "zz"), -1);
	fw_config_free(cfg);
	fw_diags_clear(&d);
}

struct bad_case {
	const char *text;
	int line;
	const char *needle;
};

static const struct bad_case bad_cases[] = {
    {"feeds = ( { name = \"a\"; url = \"http://x.org/f\" } \n);\nx = = 1;\n", 3, "syntax error"},
    {"feeds = ();\n\nfrobnicate = 1;\n", 3, "unknown key 'frobnicate'"},
    {"feeds = (\n { name = \"a\"; url = \"http://x.org/f\";\n   colour = 1; }\n);\n", 3,
     "unknown key 'colour'"},
    {"feeds = (\n { name = \"a\"; url = \"http://x.org/f\"; },\n { name = \"a\"; url = "
     "\"http://y.org/f\"; }\n);\n",
     3, "duplicate feed name 'a'"},
    {"feeds = (\n { name = \"a\"; url = \"ftp://x.org/f\"; }\n);\n", 2, "only http://"},
    {"feeds = (\n { name = \"a\"; url = \"http://x.org/f\"; interval = true; }\n);\n", 2,
     "'interval' must be a duration"},
    {"feeds = (\n { name = \"a\"; url = \"http://x.org/f\"; interval = \"5 parsecs\"; }\n);\n", 2,
     "'interval' must be a duration"},
    {"feeds = (\n { url = \"http://x.org/f\"; }\n);\n", 2, "without a 'name'"},
    /* names are store keys: bytes that are not UTF-8 (Latin-1 "é", a lone continuation
       byte, an overlong "/"), control characters (C1 NEL) are refused */
    {"feeds = (\n { name = \"caf\xe9\"; url = \"http://x.org/f\"; }\n);\n", 2, "printable UTF-8"},
    {"feeds = (\n { name = \"a\x80"
     "b\"; url = \"http://x.org/f\"; }\n);\n",
     2, "printable UTF-8"},
    {"feeds = (\n { name = \"a\xc0\xaf"
     "b\"; url = \"http://x.org/f\"; }\n);\n",
     2, "printable UTF-8"},
    {"outputs = ( { name = \"o\xc2\x85\"; plugin = \"log\"; } );\n", 1, "printable UTF-8"},
    {"feeds = (\n { name = \"a\"; }\n);\n", 2, "without a 'url'"},
    {"outputs = ( { name = \"o\"; plugin = \"log\"; } );\nwatchlists = (\n { name = \"w\"; match = "
     "\"x\";\n   outputs = [ \"nope\" ]; }\n);\n",
     4, "unknown output 'nope'"},
    {"outputs = ( { name = \"o\"; } );\n", 1, "without a 'plugin'"},
    {"outputs = ( { name = \"o\"; plugin = \"../evil\"; } );\n", 1, "plain name"},
    {"entities = { e = [ \"x\" ]; };\nwatchlists = (\n { name = \"w\";\n   match = \"@nope\"; "
     "}\n);\n",
     4, "unknown entity"},
    {"max_items = \"many\";\n", 1, "'max_items' must be an integer"},
    {"concurrency = 0;\n", 1, "between 1 and"},
    {"feeds = (\n { name = \"a\"; url = \"http://x.org/f\"; headers = [ \"NoColon\" ]; }\n);\n", 2,
     "Name: value"},
    {"watchlists = (\n { name = \"w\"; match = \"x\";\n   priority = \"loud\"; }\n);\n", 3,
     "watchlist 'w': priority must be \"low\", \"normal\", \"high\" or \"urgent\", not \"loud\""},
    {"watchlists = (\n { name = \"w\"; match = \"x\";\n   body = \"{snipet}\"; }\n);\n", 3,
     "watchlist 'w': body: unknown template field {snipet} at column 1 (did you mean "
     "{snippet}?)"},
    {"outputs = (\n { name = \"o\"; plugin = \"log\";\n   title = \"a } b\"; }\n);\n", 3,
     "output 'o': title: unbalanced '}' at column 3"},
    {"outputs = (\n { name = \"o\"; plugin = \"log\";\n   priority = 2; }\n);\n", 3,
     "output 'o': priority must be"},
    /* issue 20: the websub group */
    {"websub = {\n  callback_url = \"https://x.org/ws\"; };\n", 1,
     "'listen' (\"ADDRESS:PORT\") is required"},
    {"websub = { callback_url = \"https://x.org/ws\";\n  listen = \"localhost:80\"; };\n", 2,
     "'listen' must be a numeric ADDRESS:PORT"},
    {"websub = { listen = \"127.0.0.1:0\"; callback_url = \"https://x.org/\"; };\n", 1,
     "'listen' must be a numeric"},
    {"websub = { listen = \"[::1]:8089\";\n  callback_url = \"https://x.org/ws?a=b\"; };\n", 2,
     "no query or fragment"},
    {"websub = { listen = \"127.0.0.1:8089\"; callback_url = \"https://x.org/ws\";\n"
     "  leese = 1; };\n",
     2, "unknown key 'leese' in websub"},
    {"websub = \"on\";\n", 1, "'websub' must be a group"},
    {"websub = { listen = \"127.0.0.1:8089\"; callback_url = \"https://x.org/ws\";\n"
     "  insecure_hubs = \"yes\"; };\n",
     2, "'insecure_hubs' must be true or false"},
    {"feeds = ();\narchive = \"forever\";\n", 2, "'archive' must be a duration"},
    {"archive_max_size = \"lots\";\n", 1, "'archive_max_size' must be a size"},
    {"feeds = ();\nstory_memory = \"1k\";\n", 2, "'story_memory' must be between 65536 and"},
    {"story_memory = true;\n", 1, "'story_memory' must be a size"},
    {"watchlists = (\n { name = \"w\"; match = \"x\";\n   backfill = true; }\n);\n", 3,
     "'backfill' must be a duration"},
    {"interval = \"10m\";\nfeeds = (\n { name = \"a\"; url = \"http://x.org/f\";\n"
     "   min_interval = \"20m\"; }\n);\n",
     4, "feed 'a': min_interval above its interval (600s)"},
    {"min_interval = \"1m\";\nfeeds = (\n { name = \"a\"; url = \"http://x.org/f\";\n"
     "   min_interval = 10; }\n);\n",
     4, "below the top-level min_interval (60s)"},
    {"interval = \"10m\";\nfeeds = (\n { name = \"a\"; url = \"http://x.org/f\";\n"
     "   max_interval = \"5m\"; }\n);\n",
     4, "feed 'a': max_interval below its interval (600s)"},
    {"min_interval = \"5m\";\nmax_interval = \"1m\";\n", 2,
     "'max_interval' must be at least min_interval (300s)"},
    {"adaptive = \"yes\";\n", 1, "'adaptive' must be"},
    /* issue 21: a store URL libpq cannot parse is refused where it is written */
    {"feeds = ();\nstore = \"postgresql://db.example/fw?sslmode=require&frobnicate=1\";\n", 2,
     "'store': invalid URI query parameter: \"frobnicate\""},
    {"feeds = ();\n\nstore = \"postgres://db.example/f%zz\";\n", 3,
     "'store': invalid percent-encoded token"},
    {"store = \"\";\n", 1, "'store' must be a postgresql:// URL or a file path"},
    {"node = \"a b\";\n", 1, "'node' must be 1-64"},
    {"lease = \"2s\";\n", 1, "'lease' must be at least 5s"},
};

/* The cluster's keys: store (a PostgreSQL URL as written, or a file resolved like
   state_dir), node and lease, and their defaults. */
static void test_store_keys(void **state)
{
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;
	char want[600];
	const char *p = write_conf(
	    "s.conf", "store = \"postgresql://fw@db.example:5432/feedwatch?sslmode=require\";\n"
	              "node = \"node-1.example\";\nlease = \"2m\";\nfeeds = ();\n");

	(void)state;
	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_string_equal(cfg->store,
	                    "postgresql://fw@db.example:5432/feedwatch?sslmode=require");
	assert_string_equal(cfg->node, "node-1.example");
	assert_int_equal(cfg->lease, 120);
	fw_config_free(cfg);
	fw_diags_clear(&d);
	p = write_conf("s.conf", "store = \"db/state.db\";\nfeeds = ();\n");
	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	snprintf(want, sizeof(want), "%s/db/state.db", dir);
	assert_string_equal(cfg->store, want);
	assert_null(cfg->node);
	assert_int_equal(cfg->lease, 60);
	fw_config_free(cfg);
	fw_diags_clear(&d);
	/* libpq's reason quotes the token it refused: not when that may be the password */
	p = write_conf("s.conf", "store = \"postgresql://fw:pa%zzword@db.example/fw\";\n");
	assert_int_equal(fw_config_load(p, &cfg, &d), -EINVAL);
	assert_true(has_diag(&d, 1, "'store': invalid percent-encoded token (not shown"));
	for (size_t i = 0; i < d.n; i++)
		assert_null(strstr(d.v[i].message, "zzword"));
	fw_diags_clear(&d);
}

/* Adaptive polling's keys: defaults, top level, per feed. */
static void test_adaptive_keys(void **state)
{
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;
	const char *p = write_conf("a.conf", "state_dir = \"s\";\nfeeds = (\n"
	                                     " { name = \"a\"; url = \"http://x.org/f\"; },\n"
	                                     " { name = \"b\"; url = \"http://x.org/g\";"
	                                     " min_interval = \"2m\"; max_interval = \"2h\"; }\n"
	                                     ");\n");

	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_true(cfg->adaptive);
	assert_int_equal(cfg->max_interval, 6 * 3600);
	assert_int_equal(cfg->feeds[0].min_interval, 0); /* 0: the top level's */
	assert_int_equal(cfg->feeds[0].max_interval, 0);
	assert_int_equal(cfg->feeds[1].min_interval, 120);
	assert_int_equal(cfg->feeds[1].max_interval, 7200);
	fw_config_free(cfg);
	fw_diags_clear(&d);
	p = write_conf("a.conf", "adaptive = false;\nmax_interval = \"1d\";\nfeeds = ();\n");
	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_false(cfg->adaptive);
	assert_int_equal(cfg->max_interval, 86400);
	fw_config_free(cfg);
	fw_diags_clear(&d);
}

/* websub's insecure_hubs: false unless set. */
static void test_websub_insecure_hubs(void **state)
{
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;
	const char *p = write_conf("w.conf", "websub = { listen = \"127.0.0.1:8089\";"
	                                     " callback_url = \"https://x.org/ws\"; };\n");

	(void)state;
	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_true(cfg->websub.enabled);
	assert_false(cfg->websub.insecure_hubs);
	fw_config_free(cfg);
	fw_diags_clear(&d);
	p = write_conf("w.conf",
	               "websub = { listen = \"127.0.0.1:8089\";"
	               " callback_url = \"https://x.org/ws\"; insecure_hubs = true; };\n");
	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_true(cfg->websub.insecure_hubs);
	fw_config_free(cfg);
	fw_diags_clear(&d);
}

static void test_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct fw_diags d = {0};
		struct fw_config *cfg = NULL;
		const char *p = write_conf("bad.conf", bad_cases[i].text);

		fprintf(stderr, "case %zu\n", i);
		assert_int_equal(fw_config_load(p, &cfg, &d), -EINVAL);
		assert_null(cfg);
		assert_true(d.errors > 0);
		assert_true(has_diag(&d, bad_cases[i].line, bad_cases[i].needle));
		assert_true(strstr(d.v[0].file, "bad.conf") != NULL);
		fw_diags_clear(&d);
	}
}

static void test_every_error_reported(void **state)
{
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;
	const char *p =
	    write_conf("multi.conf",
	               "a = 1;\nb = 2;\nfeeds = (\n { name = \"x\"; url = \"gopher://x\"; }\n);\n");

	assert_int_equal(fw_config_load(p, &cfg, &d), -EINVAL);
	assert_true(d.errors >= 3);
	assert_true(has_diag(&d, 1, "unknown key 'a'"));
	assert_true(has_diag(&d, 2, "unknown key 'b'"));
	assert_true(has_diag(&d, 4, "only http://"));
	fw_diags_clear(&d);
}

static bool has_warning(const struct fw_diags *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].warning && strstr(d->v[i].message, needle))
			return true;
	return false;
}

static void test_secret_readable_by_others(void **state)
{
	static const char text[] =
	    "feeds = ( { name = \"a\"; url = \"http://x.org/f\"; } );\n"
	    "outputs = ( { name = \"o\"; plugin = \"webhook\";\n"
	    "  url = \"https://hooks.example.org/services/T0/B0/XXXX\"; } );\n";
	static const char plain[] = "feeds = ( { name = \"a\"; url = \"http://x.org/f\"; } );\n";
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;
	const char *p = write_conf("secret.conf", text);

	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_true(has_warning(&d, "readable by others and holds a secret"));
	cfg = fw_config_free(cfg);
	fw_diags_clear(&d);
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_false(has_warning(&d, "readable by others"));
	cfg = fw_config_free(cfg);
	fw_diags_clear(&d);
	/* Readable by others but nothing secret in it: no warning. */
	p = write_conf("plain.conf", plain);
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(fw_config_load(p, &cfg, &d), 0);
	assert_false(has_warning(&d, "readable by others"));
	fw_config_free(cfg);
	fw_diags_clear(&d);
}

/* The file of the warning that contains needle, or NULL. */
static const char *warning_file(const struct fw_diags *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].warning && strstr(d->v[i].message, needle))
			return d->v[i].file;
	return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
	return s && strlen(s) >= strlen(tail) && strcmp(s + strlen(s) - strlen(tail), tail) == 0;
}

/* Load path; the warnings stay in *d. */
static void load_ok(const char *path, struct fw_diags *d)
{
	struct fw_config *cfg = NULL;

	fw_diags_clear(d);
	assert_int_equal(fw_config_load(path, &cfg, d), 0);
	fw_config_free(cfg);
}

/* Issue 15 point 8: feed headers, @include'd files and 'secret' files count too. */
static void test_secret_everywhere(void **state)
{
	static const char headers[] = "feeds = ( { name = \"a\"; url = \"http://x.org/f\";\n"
	                              "  headers = [ \"X-Api-Key: k3y\" ]; } );\n";
	static const char userinfo[] =
	    "feeds = ( { name = \"a\"; url = \"https://me:pw@x.org/f\"; } );\n";
	static const char main_inc[] = "state_dir = \"state\";\n@include \"feeds.inc\"\n";
	char path[512], secret[512], text[1024];
	struct fw_diags d = {0};
	const char *p;

	(void)state;
	p = write_conf("headers.conf", headers);
	assert_int_equal(chmod(p, 0644), 0);
	load_ok(p, &d);
	assert_true(has_diag(&d, 2, "readable by others and holds a secret"));
	assert_int_equal(chmod(p, 0600), 0);
	load_ok(p, &d);
	assert_false(has_warning(&d, "readable by others"));

	p = write_conf("userinfo.conf", userinfo);
	assert_int_equal(chmod(p, 0644), 0);
	load_ok(p, &d);
	assert_true(has_warning(&d, "readable by others and holds a secret"));

	/* A store URL is a secret when it holds a password, in the URL or as a parameter;
	   a user name alone is not one. */
	p = write_conf("store.conf", "store = \"postgresql://fw@db.example/feedwatch\";\n");
	assert_int_equal(chmod(p, 0644), 0);
	load_ok(p, &d);
	assert_false(has_warning(&d, "readable by others"));
	p = write_conf("store.conf",
	               "feeds = ();\nstore = \"postgresql://fw:pw@db.example/fw\";\n");
	load_ok(p, &d);
	assert_true(has_diag(&d, 2, "readable by others and holds a secret"));
	p = write_conf("store.conf", "store = \"postgres://db.example/fw?user=fw&password=pw\";\n");
	load_ok(p, &d);
	assert_true(has_diag(&d, 1, "readable by others and holds a secret"));
	p = write_conf("store.conf", "store = \"postgresql://fw:@db.example/fw\";\n");
	load_ok(p, &d);
	assert_false(has_warning(&d, "readable by others"));

	/* The secret lives in an included file: that file is named, the main one is not. */
	p = write_conf("feeds.inc", headers);
	assert_int_equal(chmod(p, 0644), 0);
	p = write_conf("main.conf", main_inc);
	snprintf(path, sizeof(path), "%s", p);
	assert_int_equal(chmod(path, 0600), 0);
	load_ok(path, &d);
	assert_true(ends_with(warning_file(&d, "readable by others"), "/feeds.inc"));
	assert_int_equal(chmod(path, 0644), 0);
	load_ok(path, &d);
	for (size_t i = 0; i < d.n; i++)
		assert_false(d.v[i].warning && ends_with(d.v[i].file, "/main.conf"));
	p = write_conf("feeds.inc", headers);
	assert_int_equal(chmod(p, 0600), 0);
	load_ok(path, &d);
	assert_false(has_warning(&d, "readable by others"));

	/* A file named by an output's 'secret': absolute, or in $CREDENTIALS_DIRECTORY. */
	p = write_conf("whsec", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
	snprintf(secret, sizeof(secret), "%s", p);
	assert_int_equal(chmod(secret, 0644), 0);
	snprintf(text, sizeof(text),
	         "outputs = ( { name = \"o\"; plugin = \"webhook\"; url = \"http://x.org/h\";\n"
	         "  secret = \"%s\"; } );\n",
	         secret);
	p = write_conf("secret.conf", text);
	snprintf(path, sizeof(path), "%s", p);
	assert_int_equal(chmod(path, 0600), 0);
	load_ok(path, &d);
	assert_true(has_diag(&d, 2, "the secret file"));
	assert_true(has_warning(&d, secret));
	assert_int_equal(chmod(secret, 0600), 0);
	load_ok(path, &d);
	assert_false(has_warning(&d, "readable by others"));
	assert_int_equal(chmod(secret, 0644), 0);
	p = write_conf(
	    "secret.conf",
	    "outputs = ( { name = \"o\"; plugin = \"webhook\"; url = \"http://x.org/h\";\n"
	    "  secret = \"whsec\"; } );\n");
	assert_int_equal(chmod(path, 0600), 0);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	load_ok(path, &d);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_true(has_diag(&d, 2, "the secret file"));
	fw_diags_clear(&d);
}

/* Issue 15 point 7: long headers are kept whole up to 64 KiB each, 256 KiB a feed. */
static void test_long_headers(void **state)
{
	size_t big = 60 * 1024, size = 6 * (big + 16) + 256;
	char *text = malloc(size), *p;
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;
	const char *path;

	(void)state;
	assert_non_null(text);
	p = text +
	    sprintf(text, "feeds = ( { name = \"a\"; url = \"http://x.org/f\"; headers = [\n");
	for (int i = 0; i < 4; i++) {
		p += sprintf(p, "  \"X-%d: ", i);
		memset(p, 'v', big);
		p += big;
		p += sprintf(p, "\",\n");
	}
	p += sprintf(p, "  \"X-4: v\" ]; } );\n");
	path = write_conf("long.conf", text);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(fw_config_load(path, &cfg, &d), 0);
	assert_int_equal(cfg->feeds[0].n_headers, 5);
	assert_int_equal(strlen(cfg->feeds[0].headers[3]), big + 5);
	cfg = fw_config_free(cfg);
	fw_diags_clear(&d);
	/* a fifth long one passes 256 KiB: refused at its line */
	memcpy(p - strlen("\"X-4: v\" ]; } );\n"), "\"X-4: ", 6);
	p = p - strlen("\"X-4: v\" ]; } );\n") + 6;
	memset(p, 'v', big);
	p += big;
	sprintf(p, "\" ]; } );\n");
	path = write_conf("long.conf", text);
	assert_int_equal(fw_config_load(path, &cfg, &d), -EINVAL);
	assert_true(has_diag(&d, 6, "headers exceed"));
	fw_diags_clear(&d);
	free(text);
}

static void test_missing_file(void **state)
{
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;

	assert_int_equal(fw_config_load("/nonexistent/feedwatch.conf", &cfg, &d), -EINVAL);
	assert_true(d.n == 1 && strstr(d.v[0].message, "cannot read"));
	fw_diags_clear(&d);
}

static void test_locate(void **state)
{
	char *p;

	setenv("FEEDWATCH_CONFIG", "/x/y.conf", 1);
	p = fw_config_locate(NULL);
	assert_string_equal(p, "/x/y.conf");
	free(p);
	p = fw_config_locate("/explicit.conf");
	assert_string_equal(p, "/explicit.conf");
	free(p);
	unsetenv("FEEDWATCH_CONFIG");
	setenv("XDG_CONFIG_HOME", dir, 1);
	write_conf("feedwatch.conf", "");
	/* $XDG_CONFIG_HOME/feedwatch/feedwatch.conf does not exist: the system file. */
	p = fw_config_locate(NULL);
	assert_true(strstr(p, "/feedwatch/feedwatch.conf") != NULL);
	free(p);
}

/* 100,000 feeds in the config and 50,000 in the feeds file, the last of each clashing with
   the first: every clash found, and in linear time (a scan of the names before each name
   took 40 s of CPU for the config alone at this size, minutes under the sanitizers). */
static void test_many_feeds(void **state)
{
	enum { N = 100000, M = 50000 };
	char sub[600], path[700];
	struct fw_diags d = {0};
	struct fw_config *cfg = NULL;
	struct timespec t0, t1;
	double secs;
	FILE *f;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/many", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/feeds.opml", sub);
	assert_non_null(f = fopen(path, "w"));
	fputs("<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><body>\n", f);
	for (int i = 0; i < M - 1; i++)
		fprintf(f, "<outline text=\"o%d\" xmlUrl=\"https://o.example/%d\"/>\n", i, i);
	/* the URL of the config's feed 7, which is on line 9 */
	fputs("<outline text=\"olast\" xmlUrl=\"https://f.example/7\"/>\n</body></opml>\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/many.conf", sub);
	assert_non_null(f = fopen(path, "w"));
	fputs("feeds = (\n", f);
	for (int i = 0; i < N - 1; i++)
		fprintf(f, "{ name = \"f%d\"; url = \"https://f.example/%d\"; },\n", i, i);
	/* line N + 1: the name of feed 3 */
	fputs("{ name = \"f3\"; url = \"https://f.example/last\"; }\n);\n", f);
	fclose(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(fw_config_load(path, &cfg, &d), -EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  %d + %d feeds checked in %.2f s\n", N, M, secs);
	assert_int_equal(d.errors, 2);
	assert_true(has_diag(&d, N + 1, "duplicate feed name 'f3'"));
	assert_true(has_diag(&d, 9, "feed 'f7' has the URL of feed 'olast'"));
	assert_true(secs < 30.0);
	fw_diags_clear(&d);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_store_keys),
	    cmocka_unit_test(test_adaptive_keys),
	    cmocka_unit_test(test_websub_insecure_hubs),
	    cmocka_unit_test(test_every_error_reported),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_secret_readable_by_others),
	    cmocka_unit_test(test_secret_everywhere),
	    cmocka_unit_test(test_long_headers),
	    cmocka_unit_test(test_locate),
	    cmocka_unit_test(test_many_feeds),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
