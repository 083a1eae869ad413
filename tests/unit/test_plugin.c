/* test_plugin.c - the plugin loader (real dlopen of built plugins) and the log plugin
   driven through the shared fake host (tests/common/fakehost.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <libconfig.h>

#include "fakehost.h"
#include "loader.h"

static char tmp[] = "/tmp/fwtest-plugin-XXXXXX";

static void test_loads_log(void **state)
{
	struct fw_loader_lib *lib = NULL;
	char err[512] = "";

	assert_int_equal(fw_loader_open(FW_PLUGIN_BUILD_DIR, "log", &lib, err, sizeof(err)), 0);
	assert_non_null(lib);
	assert_string_equal(lib->plugin->name, "log");
	assert_int_equal(lib->plugin->abi_major, FW_PLUGIN_ABI_MAJOR);
	fw_loader_close(lib);
}

static void refuse(const char *name, int want, const char *needle)
{
	struct fw_loader_lib *lib = NULL;
	char err[512] = "";
	int r = fw_loader_open(FW_BAD_PLUGIN_DIR, name, &lib, err, sizeof(err));

	fprintf(stderr, "%s: %s\n", name, err);
	assert_int_equal(r, want);
	assert_null(lib);
	assert_non_null(strstr(err, needle));
}

static void test_refuses_bad(void **state)
{
	char both[64];

	snprintf(both, sizeof(both), "host ABI %d.%d", FW_PLUGIN_ABI_MAJOR, FW_PLUGIN_ABI_MINOR);
	refuse("badmajor", -EPROTO, "plugin ABI 99.0");
	refuse("badmajor", -EPROTO, both);
	refuse("shortstruct", -EPROTO, "is 16 bytes");
	refuse("shortstruct", -EPROTO, both);
	refuse("nosymbol", -ENOEXEC, "does not export feedwatch_plugin");
	refuse("wrongname", -EPROTO, "someoneelse");
	refuse("absent", -ENOENT, "no plugin 'absent'");
	refuse("../log", -EINVAL, "not a plain name");
}

static int fake_check(const struct fw_host *host, struct fw_plugin_ctx *ctx)
{
	(void)host;
	(void)ctx;
	return 0;
}

/* The size rule of ABI 1.1: a minor-0 plugin needs only the 1.0 members, and has a check()
   only when it declares minor >= 1 and its struct_size reaches the member. */
static void test_size_rule(void **state)
{
	struct fw_plugin p = {.abi_major = FW_PLUGIN_ABI_MAJOR, .check = fake_check};

	assert_int_equal(FW_PLUGIN_ABI_MINOR, 1);
	assert_int_equal(FW_PLUGIN_SIZE_1_1, sizeof(struct fw_plugin));
	assert_true(FW_PLUGIN_SIZE_1_0 < FW_PLUGIN_SIZE_1_1);
	assert_int_equal(fw_loader_min_size(0), FW_PLUGIN_SIZE_1_0);
	assert_int_equal(fw_loader_min_size(1), FW_PLUGIN_SIZE_1_1);
	assert_int_equal(fw_loader_min_size(7), FW_PLUGIN_SIZE_1_1);
	/* 1.0: whatever lies after its struct is never taken for check(). */
	p.abi_minor = 0;
	p.struct_size = FW_PLUGIN_SIZE_1_0;
	assert_null(fw_loader_check_fn_of(&p));
	p.struct_size = sizeof(p);
	assert_null(fw_loader_check_fn_of(&p));
	/* 1.1 (or later) with a struct too short for check(): none. */
	p.abi_minor = 1;
	p.struct_size = FW_PLUGIN_SIZE_1_0;
	assert_null(fw_loader_check_fn_of(&p));
	p.struct_size = sizeof(p);
	assert_ptr_equal(fw_loader_check_fn_of(&p), fake_check);
	p.abi_minor = 2;
	p.struct_size = sizeof(p) + 16;
	assert_ptr_equal(fw_loader_check_fn_of(&p), fake_check);
	p.check = NULL;
	assert_null(fw_loader_check_fn_of(&p));
}

/* A plugin built against ABI 1.0 (tests/data/plugins/abi10.c: the 1.0 struct, shorter
   than today's) loads, and has no check(); claiming minor 1 with that size is refused. */
static void test_loads_abi10(void **state)
{
	char cmd[8192], dir[600], err[512] = "";
	struct fw_loader_lib *lib = NULL;
	const char *cc = getenv("CC");

	snprintf(dir, sizeof(dir), "%s/abi10", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_true((size_t)snprintf(
	                cmd, sizeof(cmd),
	                "%s -std=c11 -Wall -Wextra -Werror -I'%s/../../include' -shared -fPIC -o "
	                "'%s/abi10.so' '%s/plugins/abi10.c' && %s -std=c11 -I'%s/../../include' "
	                "-DFW_PLUGIN_ABI_MINOR_LIE -shared -fPIC -o '%s/abi10lie.so' "
	                "'%s/plugins/abi10.c' && chmod 755 '%s'/*.so",
	                cc && *cc ? cc : "cc", FW_TEST_DATA, dir, FW_TEST_DATA,
	                cc && *cc ? cc : "cc", FW_TEST_DATA, dir, FW_TEST_DATA, dir) < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fw_loader_open(dir, "abi10", &lib, err, sizeof(err)), 0);
	assert_int_equal(lib->plugin->abi_minor, 0);
	assert_int_equal(lib->plugin->struct_size, FW_PLUGIN_SIZE_1_0);
	assert_null(fw_loader_check_fn_of(lib->plugin));
	fw_loader_close(lib);
	lib = NULL;
	assert_int_equal(fw_loader_open(dir, "abi10lie", &lib, err, sizeof(err)), -EPROTO);
	assert_null(lib);
	assert_non_null(strstr(err, "host ABI 1.1 needs"));
}

/* The log plugin's check() (ABI 1.1) agrees with init() and has no side effect: it
   creates no file. */
static void test_log_check(void **state)
{
	struct fw_loader_lib *lib = NULL;
	char err[512], path[600];
	struct fw_fakehost_kv cfg[] = {{"path", path}, {"format", "txt"}, {NULL, NULL}};
	struct fw_fakehost fh = {.name = "o", .kv = cfg};
	int (*check)(const struct fw_host *, struct fw_plugin_ctx *);
	struct stat st;
	void *s = NULL;

	snprintf(path, sizeof(path), "%s/checked.log", tmp);
	assert_int_equal(fw_loader_open(FW_PLUGIN_BUILD_DIR, "log", &lib, err, sizeof(err)), 0);
	check = fw_loader_check_fn_of(lib->plugin);
	assert_non_null(check);
	assert_int_equal(fw_fakehost_init(&fh), 0);
	assert_int_equal(check(fh.host, fw_fakehost_ctx(&fh)), -EINVAL);
	assert_true(fw_fakehost_logged(&fh, "format must be \"json\" or \"text\", not \"txt\""));
	assert_int_equal(lib->plugin->init(fh.host, fw_fakehost_ctx(&fh), &s), -EINVAL);
	lib->plugin->fini(s);
	s = NULL;
	cfg[1].value = "text";
	assert_int_equal(check(fh.host, fw_fakehost_ctx(&fh)), 0);
	assert_int_not_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/no/such/dir/x.log", tmp);
	assert_int_equal(check(fh.host, fw_fakehost_ctx(&fh)), -EINVAL);
	assert_true(fw_fakehost_logged(&fh, "cannot create a file in"));
	assert_true(lib->plugin->init(fh.host, fw_fakehost_ctx(&fh), &s) < 0);
	lib->plugin->fini(s);
	fw_fakehost_clear(&fh);
	fw_loader_close(lib);
}

static void test_refuses_writable_dir(void **state)
{
	char cmd[1024], sub[600];
	struct fw_loader_lib *lib = NULL;
	char err[512] = "";

	snprintf(sub, sizeof(sub), "%s/open", tmp);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s/log.so' '%s/'", FW_PLUGIN_BUILD_DIR, sub);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fw_loader_open(sub, "log", &lib, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "writable by group or others"));
	/* Once the directory is private, the same file loads. */
	assert_int_equal(chmod(sub, 0755), 0);
	assert_int_equal(fw_loader_open(sub, "log", &lib, err, sizeof(err)), 0);
	fw_loader_close(lib);
}

/* Make dir (mode, then owned by uid when uid >= 0) holding a copy of log.so. */
static void plugin_dir_with_log(const char *dir, mode_t mode, int uid)
{
	char cmd[1400];

	assert_int_equal(mkdir(dir, mode), 0);
	assert_int_equal(chmod(dir, mode), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s/log.so' '%s/'", FW_PLUGIN_BUILD_DIR, dir);
	assert_int_equal(system(cmd), 0);
	if (uid >= 0)
		assert_int_equal(chown(dir, (uid_t)uid, (gid_t)-1), 0);
}

static void refuse_from(const char *dir, const char *needle, const char *where)
{
	struct fw_loader_lib *lib = NULL;
	char err[1024] = "";

	assert_int_equal(fw_loader_open(dir, "log", &lib, err, sizeof(err)), -EPERM);
	assert_null(lib);
	fprintf(stderr, "refused: %s\n", err);
	assert_non_null(strstr(err, needle));
	assert_non_null(strstr(err, where));
}

/*
 * StrictModes: the plugin and every directory above it, up to /, belong to root or to
 * the daemon's user and are not writable by group or others (a root-owned sticky
 * directory above the plugin directory, like /tmp, excepted).
 */
static void test_refuses_foreign_or_open_parents(void **state)
{
	char gw[600], sub[700], real[PATH_MAX], foreign[600], under[700], own[600], file[700];
	struct fw_loader_lib *lib = NULL;
	char err[1024] = "";

	/* A group-writable directory two levels up: any user can test this. */
	snprintf(gw, sizeof(gw), "%s/groupw", tmp);
	snprintf(sub, sizeof(sub), "%s/plugins", gw);
	assert_int_equal(mkdir(gw, 0775), 0);
	assert_int_equal(chmod(gw, 0775), 0);
	plugin_dir_with_log(sub, 0755, -1);
	assert_non_null(realpath(gw, real));
	refuse_from(sub, "writable by group or others", real);
	assert_int_equal(chmod(gw, 0755), 0);
	assert_int_equal(fw_loader_open(sub, "log", &lib, err, sizeof(err)), 0);
	lib = fw_loader_close(lib);

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP (not root): the owned-by-another-uid sub-cases need chown\n");
		return;
	}
	/* The plugin directory owned by another user. */
	snprintf(foreign, sizeof(foreign), "%s/foreign", tmp);
	plugin_dir_with_log(foreign, 0755, 65534);
	refuse_from(foreign, "owned by uid 65534", "foreign");
	/* A directory above it owned by another user (it could swap the one below). */
	snprintf(under, sizeof(under), "%s/plugins", foreign);
	plugin_dir_with_log(under, 0755, -1);
	refuse_from(under, "owned by uid 65534", "foreign");
	assert_int_equal(chown(foreign, 0, (gid_t)-1), 0);
	assert_int_equal(fw_loader_open(under, "log", &lib, err, sizeof(err)), 0);
	lib = fw_loader_close(lib);
	/* The plugin file owned by another user, in a good directory. */
	snprintf(own, sizeof(own), "%s/ownfile", tmp);
	plugin_dir_with_log(own, 0755, -1);
	snprintf(file, sizeof(file), "%s/log.so", own);
	assert_int_equal(chown(file, 65534, (gid_t)-1), 0);
	refuse_from(own, "owned by uid 65534", "log.so");
	/* A symbolic link to it is judged by what it points to. */
	snprintf(sub, sizeof(sub), "%s/linkdir", tmp);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(foreign, sizeof(foreign), "%s/linkdir/log.so", tmp);
	assert_int_equal(symlink(file, foreign), 0);
	refuse_from(sub, "owned by uid 65534", "ownfile/log.so");
	assert_int_equal(chown(file, 0, (gid_t)-1), 0);
	assert_int_equal(fw_loader_open(sub, "log", &lib, err, sizeof(err)), 0);
	fw_loader_close(lib);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);

	if (f) {
		size_t n = fread(buf, 1, 65535, f);

		buf[n] = 0;
		fclose(f);
	}
	return buf;
}

static void test_log_plugin(void **state)
{
	struct fw_loader_lib *lib = NULL;
	char err[512], path[600], rotated[600], *got;
	struct fw_fakehost_kv cfg[] = {{"path", path}, {"format", "json"}, {NULL, NULL}};
	struct fw_fakehost fh = {.name = "o", .kv = cfg};
	const char *cats[] = {"World", "Asia"};
	struct fw_explain ex = {"w", "@putin", "Putin", "title", "Putin", "… Putin arrives …"};
	struct fw_alert a = {.struct_size = sizeof(a),
	                     .id = "0123abcd",
	                     .watchlist = "w",
	                     .output = "o",
	                     .feed_name = "world",
	                     .feed_url = "http://x/",
	                     .title = "Putin arrives\nin Pyongyang",
	                     .item_id = "i1",
	                     .summary = "s",
	                     .categories = cats,
	                     .n_categories = 2,
	                     .explain = &ex,
	                     .n_explain = 1,
	                     .json = "{\"id\":\"0123abcd\"}",
	                     .attempt = 1};
	void *st = NULL;

	snprintf(path, sizeof(path), "%s/alerts.log", tmp);
	snprintf(rotated, sizeof(rotated), "%s/alerts.log.1", tmp);
	assert_int_equal(fw_loader_open(FW_PLUGIN_BUILD_DIR, "log", &lib, err, sizeof(err)), 0);
	assert_int_equal(fw_fakehost_init(&fh), 0);
	assert_int_equal(lib->plugin->init(fh.host, fw_fakehost_ctx(&fh), &st), 0);
	assert_int_equal(lib->plugin->deliver(st, &a, 1), 0);
	assert_int_equal(fh.done_calls, 1);
	assert_int_equal(fh.last_token, 1);
	assert_int_equal(fh.last_result, FW_DELIVERED);
	got = slurp(path);
	assert_string_equal(got, "{\"id\":\"0123abcd\"}\n");
	free(got);
	/* logrotate: the file is moved away, SIGHUP reopens, new alerts go to a new file. */
	assert_int_equal(rename(path, rotated), 0);
	lib->plugin->reopen(st);
	assert_int_equal(lib->plugin->deliver(st, &a, 2), 0);
	got = slurp(path);
	assert_string_equal(got, "{\"id\":\"0123abcd\"}\n");
	free(got);
	lib->plugin->fini(st);

	/* Text: one line, no newline from the title, and the why. */
	unlink(path);
	cfg[1].value = "text";
	st = NULL;
	assert_int_equal(lib->plugin->init(fh.host, fw_fakehost_ctx(&fh), &st), 0);
	a.link = "https://example.org/a";
	assert_int_equal(lib->plugin->deliver(st, &a, 3), 0);
	got = slurp(path);
	assert_string_equal(got, "[w] world: Putin arrives in Pyongyang <https://example.org/a> "
	                         "(why: @putin \"Putin\" in title)\n");
	free(got);
	/* Hostile rows (an outbox written before links were checked): a javascript: link is
	   not shown; a link cannot close the <...> and forge the why; U+2028, U+0085 and
	   control characters in the title do not break the line. */
	unlink(path);
	lib->plugin->reopen(st);
	a.link = "javascript:alert(1)";
	a.title = "Putin\xe2\x80\xa8line\xc2\x85two\x0bthree";
	assert_int_equal(lib->plugin->deliver(st, &a, 4), 0);
	a.link = "https://example.org/p?q=1> (why: @fake \"forged\" in title)\xc3\xa9";
	assert_int_equal(lib->plugin->deliver(st, &a, 5), 0);
	got = slurp(path);
	assert_string_equal(got,
	                    "[w] world: Putin line two three (why: @putin \"Putin\" in title)\n"
	                    "[w] world: Putin line two three "
	                    "<https://example.org/p?q=1%3E%20%28why:%20@fake%20%22forged%22%20in"
	                    "%20title%29%C3%A9> (why: @putin \"Putin\" in title)\n");
	free(got);
	lib->plugin->fini(st);

	/* A bad format is refused at init, and fini copes with the half-built instance. */
	cfg[1].value = "yaml";
	st = NULL;
	assert_int_equal(lib->plugin->init(fh.host, fw_fakehost_ctx(&fh), &st), -EINVAL);
	assert_true(fw_fakehost_logged(&fh, "format must be \"json\" or \"text\", not \"yaml\""));
	lib->plugin->fini(st);
	assert_int_equal(fh.done_calls, 5);
	fw_fakehost_clear(&fh);
	fw_loader_close(lib);
}

/* The same plugin configured from a libconfig section, as the daemon hands it one. */
static void test_log_plugin_from_group(void **state)
{
	struct fw_loader_lib *lib = NULL;
	struct fw_fakehost fh = {.name = "grouped"};
	struct fw_alert a = {.struct_size = sizeof(a),
	                     .id = "1",
	                     .watchlist = "w",
	                     .output = "o",
	                     .feed_name = "f",
	                     .feed_url = "http://x/",
	                     .title = "t",
	                     .item_id = "i",
	                     .summary = "",
	                     .json = "{}",
	                     .attempt = 1};
	char err[512], text[1024], *got;
	config_t cfg;
	void *st = NULL;

	config_init(&cfg);
	snprintf(text, sizeof(text), "o = { path = \"alerts-group.log\"; format = \"json\"; };");
	assert_int_equal(config_read_string(&cfg, text), CONFIG_TRUE);
	fh.group = config_lookup(&cfg, "o");
	fh.dir = tmp; /* a relative path is taken from the config file's folder */
	assert_int_equal(fw_fakehost_init(&fh), 0);
	assert_int_equal(fw_loader_open(FW_PLUGIN_BUILD_DIR, "log", &lib, err, sizeof(err)), 0);
	assert_int_equal(lib->plugin->init(fh.host, fw_fakehost_ctx(&fh), &st), 0);
	assert_int_equal(lib->plugin->deliver(st, &a, 7), 0);
	assert_int_equal(fh.done_calls, 1);
	assert_int_equal(fh.last_token, 7);
	snprintf(text, sizeof(text), "%s/alerts-group.log", tmp);
	got = slurp(text);
	assert_string_equal(got, "{}\n");
	free(got);
	lib->plugin->fini(st);
	fw_fakehost_clear(&fh);
	fw_loader_close(lib);
	config_destroy(&cfg);
}

/* The fake keeps the host's contract for typed getters, timers and HTTP (plugin.h), so
   a plugin that passes against it meets the same answers from the daemon. */
static void test_fakehost_contract(void **state)
{
	static const char *text = "s = \"x\"; i = 42; b = true; f = 1.5; d = \"2m\"; "
	                          "l = [ \"a\", \"b\" ]; n = 3; sec = \"hook\";";
	static const struct fw_fakehost_kv secrets[] = {{"hook", "whsec_abc"}, {NULL, NULL}};
	struct fw_fakehost_kv kv[] = {{"s", "x"},      {"i", "42"}, {"b", "true"}, {"f", "1.5"},
	                              {"d", "2m"},     {"l", "a"},  {"l", "b"},    {"n", "3"},
	                              {"sec", "hook"}, {NULL, NULL}};
	struct fw_fakehost fh = {.secrets = secrets};
	struct fw_plugin_ctx *ctx = fw_fakehost_ctx(&fh);
	const struct fw_host *h;
	config_t cfg;

	config_init(&cfg);
	assert_int_equal(config_read_string(&cfg, text), CONFIG_TRUE);
	for (int pass = 0; pass < 2; pass++) {
		const char *s = NULL;
		int64_t i = 0;
		int b = 0;
		double f = 0;
		char *secret = NULL;

		fh.group = pass == 0 ? config_root_setting(&cfg) : NULL;
		fh.kv = pass == 0 ? NULL : kv;
		assert_int_equal(fw_fakehost_init(&fh), 0);
		h = fh.host;
		assert_int_equal(h->abi_major, FW_PLUGIN_ABI_MAJOR);
		assert_int_equal(h->struct_size, sizeof(struct fw_host));
		assert_int_equal(h->cfg_string(ctx, "s", &s), 0);
		assert_string_equal(s, "x");
		assert_int_equal(h->cfg_string(ctx, "absent", &s), -ENOENT);
		assert_int_equal(h->cfg_int(ctx, "i", &i), 0);
		assert_int_equal(i, 42);
		assert_int_equal(h->cfg_int(ctx, "s", &i), -EINVAL);
		assert_int_equal(h->cfg_bool(ctx, "b", &b), 0);
		assert_int_equal(b, 1);
		assert_int_equal(h->cfg_bool(ctx, "i", &b), -EINVAL);
		assert_int_equal(h->cfg_float(ctx, "f", &f), 0);
		assert_true(f == 1.5);
		assert_int_equal(h->cfg_duration_ms(ctx, "d", &i), 0);
		assert_int_equal(i, 120000);
		assert_int_equal(h->cfg_duration_ms(ctx, "n", &i), 0);
		assert_int_equal(i, 3000);
		assert_int_equal(h->cfg_duration_ms(ctx, "s", &i), -EINVAL);
		assert_int_equal(h->cfg_strings(ctx, "l", 1, &s), 0);
		assert_string_equal(s, "b");
		assert_int_equal(h->cfg_strings(ctx, "l", 2, &s), -ENOENT);
		assert_int_equal(h->cfg_secret(ctx, "sec", &secret), 0);
		assert_string_equal(secret, "whsec_abc");
		free(secret);
		assert_int_equal(h->cfg_secret(ctx, "s", &secret), -ENOENT);
		assert_string_equal(h->instance_name(ctx), "fake");
		fw_fakehost_clear(&fh);
	}
	config_destroy(&cfg);
}

static void timer_cb(void *arg)
{
	(*(int *)arg)++;
}

static void http_cb(void *arg, const struct fw_http_response *res)
{
	*(long *)arg = res->error ? res->error : res->status;
}

static void test_fakehost_timers_and_http(void **state)
{
	static const char *const hdrs[] = {"X-A: 1"};
	struct fw_http_request req = {.struct_size = sizeof(req),
	                              .method = "POST",
	                              .url = "https://h.example/x",
	                              .headers = hdrs,
	                              .n_headers = 1,
	                              .body = "{}",
	                              .body_len = 2};
	struct fw_http_response res = {.status = 202, .retry_after = -1};
	struct fw_fakehost fh = {0};
	struct fw_plugin_ctx *ctx = fw_fakehost_ctx(&fh);
	struct fw_timer *t1, *t2;
	int ran1 = 0, ran2 = 0;
	long got1 = 0, got2 = 0;

	assert_int_equal(fw_fakehost_init(&fh), 0);
	assert_int_equal(fh.host->timer_start(ctx, 100, timer_cb, &ran1, &t1), 0);
	assert_int_equal(fh.host->timer_start(ctx, 50, timer_cb, &ran2, &t2), 0);
	assert_int_equal(fw_fakehost_advance(&fh, 60), 1);
	assert_int_equal(ran2, 1);
	assert_int_equal(ran1, 0);
	fh.host->timer_stop(t1);
	assert_int_equal(fw_fakehost_advance(&fh, 1000), 0);
	assert_int_equal(ran1, 0);
	assert_int_equal(fw_fakehost_timers_pending(&fh), 0);

	assert_int_equal(fh.host->http(ctx, &req, http_cb, &got1), 0);
	assert_int_equal(fh.host->http(ctx, &req, http_cb, &got2), 0);
	assert_int_equal(fh.n_requests, 2);
	assert_string_equal(fh.requests[0].url, "https://h.example/x");
	assert_string_equal(fh.requests[0].headers[0], "X-A: 1");
	assert_string_equal(fh.requests[1].body, "{}");
	assert_int_equal(fw_fakehost_http_reply(&fh, &res), 0);
	assert_int_equal(got1, 202);
	assert_int_equal(got2, 0);
	assert_int_equal(fw_fakehost_http_abort(&fh), 1);
	assert_int_equal(got2, -ECANCELED);
	assert_int_equal(fw_fakehost_http_reply(&fh, &res), -ENOENT);
	fh.host->log(ctx, FW_LOG_WARNING, "seen %d", 3);
	assert_true(fw_fakehost_logged(&fh, "4 seen 3"));
	fw_fakehost_clear(&fh);
}

static int setup(void **state)
{
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loads_log),
	    cmocka_unit_test(test_refuses_bad),
	    cmocka_unit_test(test_size_rule),
	    cmocka_unit_test(test_loads_abi10),
	    cmocka_unit_test(test_log_check),
	    cmocka_unit_test(test_refuses_writable_dir),
	    cmocka_unit_test(test_refuses_foreign_or_open_parents),
	    cmocka_unit_test(test_log_plugin),
	    cmocka_unit_test(test_log_plugin_from_group),
	    cmocka_unit_test(test_fakehost_contract),
	    cmocka_unit_test(test_fakehost_timers_and_http),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
