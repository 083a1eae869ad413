/* config.c - libconfig file -> validated struct fw_config, with FILE:LINE diagnostics. */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <feedwatch/version.h>
#include <libpq-fe.h>
#include <utf8proc.h>

#include "config.h"
#include "duration.h"
#include "opml.h"
#include "store.h"
#include "strmap.h"
#include "match.h"
#include "template.h" /* plugins/common: the renderer's own template checker */

#ifndef FW_SYSCONFDIR
#define FW_SYSCONFDIR "/etc"
#endif

#define FW_DIAGS_MAX 1000

/* Caps on what a config may declare: far above real use, low enough to bound memory. */
#define FW_MAX_FEEDS   100000
#define FW_MAX_ALIASES 1000000
#define FW_MAX_HEADERS 32
/* A feed header may be long (a bearer token of kilobytes) but not unbounded: curl builds
   a request of at most 1 MiB, so one header gets 64 KiB and a feed's all 256 KiB. */
#define FW_MAX_HEADER_LEN   (64 * 1024)
#define FW_MAX_HEADERS_SIZE (256 * 1024)

void fw_diags_add(struct fw_diags *d, bool warning, const char *file, int line, const char *fmt,
                  ...)
{
	va_list ap;
	char buf[1024];

	if (!warning)
		d->errors++;
	if (d->n >= FW_DIAGS_MAX)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct fw_diag *v = realloc(d->v, cap * sizeof(*v));

		if (v == NULL)
			return;
		d->v = v;
		d->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	d->v[d->n].file = strdup(file ? file : "?");
	d->v[d->n].line = line;
	d->v[d->n].warning = warning;
	d->v[d->n].message = strdup(buf);
	d->n++;
}

void fw_diags_clear(struct fw_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].message);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* The walk's context: where diagnostics go and which file we are in. */
struct ctx {
	struct fw_diags *diags;
	const char *path;
	char *dir; /* directory of the config file, for relative paths */
};

static const char *src_file(const struct ctx *c, const config_setting_t *s)
{
	const char *f = s ? config_setting_source_file(s) : NULL;

	return f ? f : c->path;
}

static int src_line(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

#define ERR(c, s, ...)  fw_diags_add((c)->diags, false, src_file(c, s), src_line(s), __VA_ARGS__)
#define WARN(c, s, ...) fw_diags_add((c)->diags, true, src_file(c, s), src_line(s), __VA_ARGS__)

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "a value";
	}
}

/* A string member; *out is strdup()ed (left untouched when absent). 1 = set, 0 = absent,
   -1 = wrong type (reported). */
static int get_string(struct ctx *c, const config_setting_t *parent, const char *key, char **out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);
	const char *v;

	if (s == NULL)
		return 0;
	v = config_setting_get_string(s);
	if (v == NULL) {
		ERR(c, s, "'%s' must be a string, not %s", key, type_name(config_setting_type(s)));
		return -1;
	}
	free(*out);
	*out = strdup(v);
	return 1;
}

/* Read a duration setting (int seconds or string). */
int fw_config_setting_duration(const config_setting_t *s, int64_t *out)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (config_setting_get_int64(s) < 0)
			return -EINVAL;
		*out = config_setting_get_int64(s);
		return 0;
	case CONFIG_TYPE_STRING:
		return fw_duration_parse(config_setting_get_string(s), out) == 0 ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

static int get_duration(struct ctx *c, const config_setting_t *parent, const char *key,
                        int64_t *out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);

	if (s == NULL)
		return 0;
	if (fw_config_setting_duration(s, out) < 0) {
		ERR(c, s,
		    "'%s' must be a duration (seconds, or like \"30s\", \"5m\", \"2h\", \"1d\")",
		    key);
		return -1;
	}
	return 1;
}

static int get_int(struct ctx *c, const config_setting_t *parent, const char *key, int64_t min,
                   int64_t max, int64_t *out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);
	int64_t v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		ERR(c, s, "'%s' must be an integer, not %s", key,
		    type_name(config_setting_type(s)));
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		ERR(c, s, "'%s' must be between %lld and %lld", key, (long long)min,
		    (long long)max);
		return -1;
	}
	*out = v;
	return 1;
}

static int get_size(struct ctx *c, const config_setting_t *parent, const char *key, int64_t min,
                    int64_t max, int64_t *out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);
	int64_t v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if (fw_size_parse(config_setting_get_string(s), &v) < 0) {
			ERR(c, s, "'%s' must be a size (bytes, or like \"512k\", \"16M\")", key);
			return -1;
		}
	} else if (config_setting_type(s) == CONFIG_TYPE_INT ||
	           config_setting_type(s) == CONFIG_TYPE_INT64) {
		v = config_setting_get_int64(s);
	} else {
		ERR(c, s, "'%s' must be a size, not %s", key, type_name(config_setting_type(s)));
		return -1;
	}
	if (v < min || v > max) {
		ERR(c, s, "'%s' must be between %lld and %lld bytes", key, (long long)min,
		    (long long)max);
		return -1;
	}
	*out = v;
	return 1;
}

static int get_bool(struct ctx *c, const config_setting_t *parent, const char *key, bool *out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		ERR(c, s, "'%s' must be true or false, not %s", key,
		    type_name(config_setting_type(s)));
		return -1;
	}
	*out = config_setting_get_bool(s) != 0;
	return 1;
}

/* Report every member of group s whose name is not in keys. */
static void check_keys(struct ctx *c, const config_setting_t *s, const char *what,
                       const char *const *keys)
{
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(m);
		bool known = false;

		for (const char *const *k = keys; *k; k++)
			if (name && strcmp(name, *k) == 0)
				known = true;
		if (!known)
			ERR(c, m, "unknown key '%s' in %s", name ? name : "?", what);
	}
}

/* See config.h. */
bool fw_config_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > FW_CONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)n + i,
		                                      (utf8proc_ssize_t)(len - i), &cp);

		if (k <= 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		i += (size_t)k;
	}
	return true;
}

/* A required, valid name in a list of groups, unique among those in seen (a map from names
   to indices; the name is added with index i). */
static char *get_name(struct ctx *c, const config_setting_t *g, const char *what,
                      struct fw_strmap *seen, size_t i)
{
	char *name = NULL;
	int r = get_string(c, g, "name", &name);

	if (r == 0) {
		ERR(c, g, "%s without a 'name'", what);
		return NULL;
	}
	if (r < 0)
		return NULL;
	if (!fw_config_name_ok(name)) {
		ERR(c, config_setting_get_member(g, "name"),
		    "%s name must be 1 to %d bytes of printable UTF-8", what, FW_CONFIG_NAME_MAX);
		free(name);
		return NULL;
	}
	/* a map, not a scan of the names before: 100,000 feeds took a minute to check */
	r = fw_strmap_add(seen, name, i, NULL);
	if (r < 0) {
		if (r == -EEXIST)
			ERR(c, config_setting_get_member(g, "name"), "duplicate %s name '%s'", what,
			    name);
		else
			ERR(c, g, "out of memory");
		free(name);
		return NULL;
	}
	return name;
}

/* A path relative to the config file's directory becomes absolute. */
static char *resolve_path(const struct ctx *c, const char *p)
{
	char *out;

	if (p[0] == '/')
		return strdup(p);
	if (p[0] == '~' && p[1] == '/' && getenv("HOME")) {
		if (asprintf(&out, "%s%s", getenv("HOME"), p + 1) < 0)
			return NULL;
		return out;
	}
	if (asprintf(&out, "%s/%s", c->dir, p) < 0)
		return NULL;
	return out;
}

static bool has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Turn a feed URL as written into the URL polled: http(s) and file URLs as they are, a
   plain path into a file:// URL relative to the config file. NULL when not acceptable. */
static char *feed_url(struct ctx *c, const config_setting_t *s, const char *url)
{
	char *path, *out;

	if (has_prefix_ci(url, "http://") || has_prefix_ci(url, "https://")) {
		if (strlen(url) < 10 || strpbrk(url, " \t\r\n") != NULL) {
			ERR(c, s, "feed url '%s' is not a valid URL", url);
			return NULL;
		}
		return strdup(url);
	}
	if (has_prefix_ci(url, "file://")) {
		if (url[7] != '/') {
			ERR(c, s, "file URL '%s' must be absolute (file:///path)", url);
			return NULL;
		}
		return strdup(url);
	}
	if (strstr(url, "://") != NULL) {
		ERR(c, s, "feed url '%s': only http://, https:// and file:// are supported", url);
		return NULL;
	}
	path = resolve_path(c, url);
	if (path == NULL)
		return NULL;
	if (asprintf(&out, "file://%s", path) < 0)
		out = NULL;
	free(path);
	return out;
}

/* A feed's adaptive bounds: min_interval <= interval <= max_interval, min_interval no
   lower than the top-level floor. */
static void load_bounds(struct ctx *c, const struct fw_config *cfg, const config_setting_t *g,
                        struct fw_config_feed *f)
{
	const char *name = f->name ? f->name : "?";

	if (get_duration(c, g, "min_interval", &f->min_interval) > 0) {
		if (f->min_interval < cfg->min_interval)
			ERR(c, config_setting_get_member(g, "min_interval"),
			    "feed '%s': min_interval below the top-level min_interval (%llds)",
			    name, (long long)cfg->min_interval);
		else if (f->min_interval > f->interval)
			ERR(c, config_setting_get_member(g, "min_interval"),
			    "feed '%s': min_interval above its interval (%llds)", name,
			    (long long)f->interval);
	}
	if (get_duration(c, g, "max_interval", &f->max_interval) > 0 &&
	    f->max_interval < f->interval)
		ERR(c, config_setting_get_member(g, "max_interval"),
		    "feed '%s': max_interval below its interval (%llds)", name,
		    (long long)f->interval);
}

static void load_feeds(struct ctx *c, struct fw_config *cfg, const config_setting_t *list)
{
	static const char *const keys[] = {"name",
	                                   "url",
	                                   "interval",
	                                   "min_interval",
	                                   "max_interval",
	                                   "first_poll_max_age",
	                                   "max_alerts_per_poll",
	                                   "timeout",
	                                   "tls_verify",
	                                   "headers",
	                                   NULL};
	struct fw_strmap seen = {0};
	int n;

	if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
		ERR(c, list, "'feeds' must be a list of groups: ( { name = ...; url = ...; } )");
		return;
	}
	n = config_setting_length(list);
	if (n > FW_MAX_FEEDS) {
		ERR(c, list, "too many feeds (%d, at most %d)", n, FW_MAX_FEEDS);
		return;
	}
	cfg->feeds = calloc((size_t)n + 1, sizeof(*cfg->feeds));
	if (cfg->feeds == NULL)
		return;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct fw_config_feed *f = &cfg->feeds[cfg->n_feeds];
		const config_setting_t *hs;
		char *url = NULL;

		if (!config_setting_is_group(g)) {
			ERR(c, g, "each feed must be a group { name = ...; url = ...; }");
			continue;
		}
		check_keys(c, g, "a feed", keys);
		f->name = get_name(c, g, "feed", &seen, cfg->n_feeds);
		f->file = src_file(c, g);
		f->line = src_line(g);
		f->interval = cfg->interval;
		f->first_poll_max_age = cfg->first_poll_max_age;
		f->max_alerts_per_poll = cfg->max_alerts_per_poll;
		f->timeout = cfg->timeout;
		f->tls_verify = true;
		if (get_string(c, g, "url", &url) == 0)
			ERR(c, g, "feed without a 'url'");
		if (url) {
			f->url = feed_url(c, config_setting_get_member(g, "url"), url);
			free(url);
		}
		get_duration(c, g, "interval", &f->interval);
		if (f->interval < cfg->min_interval) {
			WARN(c,
			     config_setting_get_member(g, "interval")
			         ? config_setting_get_member(g, "interval")
			         : g,
			     "feed '%s': interval raised to min_interval (%llds)",
			     f->name ? f->name : "?", (long long)cfg->min_interval);
			f->interval = cfg->min_interval;
		}
		load_bounds(c, cfg, g, f);
		get_duration(c, g, "first_poll_max_age", &f->first_poll_max_age);
		get_int(c, g, "max_alerts_per_poll", 0, 1000000, &f->max_alerts_per_poll);
		if (get_duration(c, g, "timeout", &f->timeout) > 0 && f->timeout == 0)
			ERR(c, config_setting_get_member(g, "timeout"), "'timeout' must be > 0");
		if (get_bool(c, g, "tls_verify", &f->tls_verify) > 0 && !f->tls_verify)
			WARN(c, config_setting_get_member(g, "tls_verify"),
			     "feed '%s': TLS certificate verification is OFF",
			     f->name ? f->name : "?");
		hs = config_setting_get_member(g, "headers");
		if (hs) {
			int nh = config_setting_length(hs);

			if (!config_setting_is_array(hs) && !config_setting_is_list(hs)) {
				ERR(c, hs, "'headers' must be an array of \"Name: value\" strings");
			} else if (nh > FW_MAX_HEADERS) {
				ERR(c, hs, "too many headers (at most %d)", FW_MAX_HEADERS);
			} else {
				size_t total = 0;

				f->headers = calloc((size_t)nh + 1, sizeof(char *));
				for (int k = 0; f->headers && k < nh; k++) {
					const config_setting_t *h =
					    config_setting_get_elem(hs, (unsigned)k);
					const char *v = config_setting_get_string(h);

					if (v == NULL || strchr(v, ':') == NULL ||
					    strpbrk(v, "\r\n")) {
						ERR(c, h,
						    "a header must be a string \"Name: value\" on "
						    "one line");
						continue;
					}
					if (strlen(v) > FW_MAX_HEADER_LEN) {
						ERR(c, h, "header longer than %d bytes",
						    FW_MAX_HEADER_LEN);
						continue;
					}
					total += strlen(v);
					if (total > FW_MAX_HEADERS_SIZE) {
						ERR(c, h, "the feed's headers exceed %d bytes",
						    FW_MAX_HEADERS_SIZE);
						continue;
					}
					f->headers[f->n_headers++] = strdup(v);
				}
			}
		}
		cfg->n_feeds++;
	}
	fw_strmap_clear(&seen);
}

static void load_entities(struct ctx *c, struct fw_config *cfg, const config_setting_t *group)
{
	int n;
	size_t total = 0;

	if (!config_setting_is_group(group)) {
		ERR(c, group, "'entities' must be a group: { name = [ \"alias\", ... ]; }");
		return;
	}
	n = config_setting_length(group);
	cfg->entities = calloc((size_t)n + 1, sizeof(*cfg->entities));
	if (cfg->entities == NULL)
		return;
	for (int i = 0; i < n; i++) {
		const config_setting_t *a = config_setting_get_elem(group, (unsigned)i);
		struct fw_config_entity *e = &cfg->entities[cfg->n_entities];
		int na;

		if (!config_setting_is_array(a) && !config_setting_is_list(a)) {
			ERR(c, a, "entity '%s' must be an array of strings",
			    config_setting_name(a) ? config_setting_name(a) : "?");
			continue;
		}
		na = config_setting_length(a);
		total += (size_t)na;
		if (total > FW_MAX_ALIASES) {
			ERR(c, a, "too many aliases (at most %d in all)", FW_MAX_ALIASES);
			return;
		}
		if (na == 0)
			ERR(c, a, "entity '%s' has no aliases", config_setting_name(a));
		e->name = strdup(config_setting_name(a));
		e->line = src_line(a);
		e->aliases = calloc((size_t)na + 1, sizeof(char *));
		if (e->name == NULL || e->aliases == NULL)
			return;
		for (int k = 0; k < na; k++) {
			const config_setting_t *s = config_setting_get_elem(a, (unsigned)k);
			const char *v = config_setting_get_string(s);

			if (v == NULL) {
				ERR(c, s, "entity '%s': aliases must be strings", e->name);
				continue;
			}
			e->aliases[e->n_aliases++] = strdup(v);
		}
		cfg->n_entities++;
	}
}

/* See config.h. */
const char *fw_config_priority_name(int p)
{
	static const char *const names[] = {"low", "normal", "high", "urgent"};

	return p >= FW_PRIORITY_LOW && p <= FW_PRIORITY_URGENT ? names[p] : "normal";
}

/* See config.h. */
int fw_config_priority_parse(const char *name)
{
	for (int p = FW_PRIORITY_LOW; name && p <= FW_PRIORITY_URGENT; p++)
		if (strcmp(name, fw_config_priority_name(p)) == 0)
			return p;
	return -1;
}

/* A template key (title or body) of a watchlist or an output: checked with the renderer's
   own parser, so that every field it names exists in every plugin. */
static void get_template(struct ctx *c, const config_setting_t *g, const char *key,
                         const char *what, const char *name, char **out)
{
	char err[200];

	if (get_string(c, g, key, out) <= 0)
		return;
	if (fw_template_check(*out, err, sizeof(err)) < 0) {
		ERR(c, config_setting_get_member(g, key), "%s '%s': %s: %s", what, name, key, err);
		free(*out);
		*out = NULL;
	}
}

/* The presentation keys of a watchlist or an output: priority, title, body. */
static void get_presentation(struct ctx *c, const config_setting_t *g, const char *what,
                             const char *name, int *priority, char **title, char **body)
{
	const config_setting_t *s = config_setting_get_member(g, "priority");
	const char *v = s ? config_setting_get_string(s) : NULL;
	int p = fw_config_priority_parse(v);

	if (s) {
		if (p >= 0)
			*priority = p;
		else
			ERR(c, s,
			    "%s '%s': priority must be \"low\", \"normal\", \"high\" or "
			    "\"urgent\", "
			    "not %s%s%s",
			    what, name ? name : "?", v ? "\"" : "",
			    v ? v : type_name(config_setting_type(s)), v ? "\"" : "");
	}
	get_template(c, g, "title", what, name ? name : "?", title);
	get_template(c, g, "body", what, name ? name : "?", body);
}

static void load_outputs(struct ctx *c, struct fw_config *cfg, const config_setting_t *list)
{
	struct fw_strmap seen = {0};
	int n;

	if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
		ERR(c, list,
		    "'outputs' must be a list of groups: ( { name = ...; plugin = ...; } )");
		return;
	}
	n = config_setting_length(list);
	cfg->outputs = calloc((size_t)n + 1, sizeof(*cfg->outputs));
	if (cfg->outputs == NULL)
		return;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct fw_config_output *o = &cfg->outputs[cfg->n_outputs];

		if (!config_setting_is_group(g)) {
			ERR(c, g, "each output must be a group { name = ...; plugin = ...; }");
			continue;
		}
		o->name = get_name(c, g, "output", &seen, cfg->n_outputs);
		o->setting = g;
		o->file = src_file(c, g);
		o->line = src_line(g);
		o->rate_limit = FW_CONFIG_RATE_LIMIT;
		o->rate_window = 60;
		o->max_attempts = 50;
		o->max_age = 7 * 86400;
		o->retry_base = 30;
		o->retry_max = 3600;
		o->priority = FW_PRIORITY_UNSET;
		get_presentation(c, g, "output", o->name, &o->priority, &o->title, &o->body);
		if (get_string(c, g, "plugin", &o->plugin) == 0)
			ERR(c, g, "output without a 'plugin'");
		else if (o->plugin && (strchr(o->plugin, '/') || !fw_config_name_ok(o->plugin)))
			ERR(c, config_setting_get_member(g, "plugin"),
			    "plugin must be a plain name like \"log\", not a path");
		get_int(c, g, "rate_limit", 0, 1000000, &o->rate_limit);
		get_duration(c, g, "rate_window", &o->rate_window);
		if (o->rate_window == 0)
			o->rate_window = 1;
		get_int(c, g, "max_attempts", 1, 1000000, &o->max_attempts);
		get_duration(c, g, "max_age", &o->max_age);
		get_duration(c, g, "retry_base", &o->retry_base);
		get_duration(c, g, "retry_max", &o->retry_max);
		if (o->retry_base < 1)
			o->retry_base = 1;
		if (o->retry_max < o->retry_base)
			o->retry_max = o->retry_base;
		cfg->n_outputs++;
	}
	fw_strmap_clear(&seen);
}

/* A watchlist's `group`: "story" (the default: one alert per story, then updates) or
   "item" (one alert per item). */
static void load_group(struct ctx *c, const config_setting_t *g, struct fw_config_watchlist *w)
{
	char *v = NULL;

	w->by_story = true;
	if (get_string(c, g, "group", &v) <= 0)
		return;
	if (strcmp(v, "item") == 0)
		w->by_story = false;
	else if (strcmp(v, "story") != 0)
		ERR(c, config_setting_get_member(g, "group"),
		    "'group' must be \"story\" (one alert per story) or \"item\" (one per item), "
		    "not \"%s\"",
		    v);
	free(v);
}

static void load_watchlists(struct ctx *c, struct fw_config *cfg, const config_setting_t *list)
{
	static const char *const keys[] = {"name",  "match", "outputs",  "group", "priority",
	                                   "title", "body",  "backfill", NULL};
	struct fw_strmap seen = {0};
	int n;

	if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
		ERR(c, list,
		    "'watchlists' must be a list of groups: ( { name = ...; match = ...; } )");
		return;
	}
	n = config_setting_length(list);
	cfg->watchlists = calloc((size_t)n + 1, sizeof(*cfg->watchlists));
	if (cfg->watchlists == NULL)
		return;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct fw_config_watchlist *w = &cfg->watchlists[cfg->n_watchlists];
		const config_setting_t *os;

		if (!config_setting_is_group(g)) {
			ERR(c, g, "each watchlist must be a group { name = ...; match = ...; }");
			continue;
		}
		check_keys(c, g, "a watchlist", keys);
		w->name = get_name(c, g, "watchlist", &seen, cfg->n_watchlists);
		w->line = src_line(g);
		w->priority = FW_PRIORITY_NORMAL;
		get_presentation(c, g, "watchlist", w->name, &w->priority, &w->title, &w->body);
		if (get_string(c, g, "match", &w->query) == 0)
			ERR(c, g, "watchlist without a 'match' query");
		if (w->query)
			w->line = src_line(config_setting_get_member(g, "match"));
		load_group(c, g, w);
		w->backfill = -1;
		get_duration(c, g, "backfill", &w->backfill);
		os = config_setting_get_member(g, "outputs");
		if (os == NULL) {
			/* No outputs named: every output gets this watchlist's alerts. */
			w->outputs = calloc(cfg->n_outputs + 1, sizeof(size_t));
			for (size_t k = 0; w->outputs && k < cfg->n_outputs; k++)
				w->outputs[w->n_outputs++] = k;
		} else if (!config_setting_is_array(os) && !config_setting_is_list(os)) {
			ERR(c, os, "'outputs' must be an array of output names");
		} else {
			int no = config_setting_length(os);

			w->outputs = calloc((size_t)no + 1, sizeof(size_t));
			for (int k = 0; w->outputs && k < no; k++) {
				const config_setting_t *s =
				    config_setting_get_elem(os, (unsigned)k);
				const char *v = config_setting_get_string(s);
				long idx = v ? fw_config_output_index(cfg, v) : -1;

				if (v == NULL)
					ERR(c, s, "output names must be strings");
				else if (idx < 0)
					ERR(c, s, "watchlist '%s': unknown output '%s'",
					    w->name ? w->name : "?", v);
				else
					w->outputs[w->n_outputs++] = (size_t)idx;
			}
		}
		cfg->n_watchlists++;
	}
	fw_strmap_clear(&seen);
}

/* Compile the watchlists, mapping the matcher's diagnostics to file:line. */
static void compile_matcher(struct ctx *c, struct fw_config *cfg, const config_setting_t *ents,
                            const config_setting_t *wls)
{
	struct fw_match_entity *me = calloc(cfg->n_entities + 1, sizeof(*me));
	struct fw_match_watchlist *mw = calloc(cfg->n_watchlists + 1, sizeof(*mw));
	struct fw_match_diag diags[64];
	size_t nd = 0;
	struct fw_match_spec spec;
	int r;

	if (me == NULL || mw == NULL)
		goto out;
	for (size_t i = 0; i < cfg->n_entities; i++) {
		me[i].name = cfg->entities[i].name;
		me[i].aliases = (const char *const *)cfg->entities[i].aliases;
		me[i].n_aliases = cfg->entities[i].n_aliases;
	}
	for (size_t i = 0; i < cfg->n_watchlists; i++) {
		mw[i].name = cfg->watchlists[i].name ? cfg->watchlists[i].name : "?";
		mw[i].query = cfg->watchlists[i].query ? cfg->watchlists[i].query : "";
	}
	spec.entities = me;
	spec.n_entities = cfg->n_entities;
	spec.watchlists = mw;
	spec.n_watchlists = cfg->n_watchlists;
	r = fw_match_compile(&spec, &cfg->matcher, diags, sizeof(diags) / sizeof(diags[0]), &nd);
	for (size_t i = 0; i < nd && i < sizeof(diags) / sizeof(diags[0]); i++) {
		const struct fw_match_diag *d = &diags[i];
		const config_setting_t *s = NULL;
		char where[160];

		if (d->where == FW_MATCH_IN_ENTITY && d->index < cfg->n_entities) {
			s = config_setting_get_member(ents, cfg->entities[d->index].name);
			if (s && d->alias < (size_t)config_setting_length(s))
				s = config_setting_get_elem(s, (unsigned)d->alias);
			snprintf(where, sizeof(where), "entity '%s'", cfg->entities[d->index].name);
		} else if (d->where == FW_MATCH_IN_WATCHLIST && d->index < cfg->n_watchlists) {
			s = config_setting_get_elem(wls, (unsigned)d->index);
			if (s && config_setting_get_member(s, "match"))
				s = config_setting_get_member(s, "match");
			if (d->column > 0)
				snprintf(where, sizeof(where), "watchlist '%s', match column %zu",
				         mw[d->index].name, d->column);
			else
				snprintf(where, sizeof(where), "watchlist '%s'", mw[d->index].name);
		} else {
			snprintf(where, sizeof(where), "watchlists");
		}
		fw_diags_add(c->diags, d->severity == FW_MATCH_WARNING, src_file(c, s),
		             s ? src_line(s) : 0, "%s: %s", where, d->message);
	}
	if (r < 0 && nd == 0)
		ERR(c, wls, "cannot compile the watchlists (%s)", strerror(-r));
out:
	free(me);
	free(mw);
}

static char *default_state_dir(void)
{
	const char *sd = getenv("STATE_DIRECTORY"), *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *out;

	if (sd && *sd) {
		/* systemd may list several, colon-separated: the first is ours. */
		size_t n = strcspn(sd, ":");

		return strndup(sd, n);
	}
	if (xdg && *xdg == '/')
		return asprintf(&out, "%s/feedwatch", xdg) < 0 ? NULL : out;
	if (home && *home)
		return asprintf(&out, "%s/.local/state/feedwatch", home) < 0 ? NULL : out;
	return strdup("/var/lib/feedwatch");
}

/* Find the config file. */
char *fw_config_locate(const char *explicit_path)
{
	const char *env = getenv("FEEDWATCH_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *p;

	if (explicit_path)
		return strdup(explicit_path);
	if (env && *env)
		return strdup(env);
	if (xdg && *xdg) {
		if (asprintf(&p, "%s/feedwatch/feedwatch.conf", xdg) < 0)
			return NULL;
	} else if (home && *home) {
		if (asprintf(&p, "%s/.config/feedwatch/feedwatch.conf", home) < 0)
			return NULL;
	} else {
		p = NULL;
	}
	if (p && access(p, F_OK) == 0)
		return p;
	free(p);
	return strdup(FW_SYSCONFDIR "/feedwatch/feedwatch.conf");
}

/* Does url name a password in its user info (user:password@)? */
static bool url_has_password(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *end;

	if (!scheme)
		return false;
	end = scheme + 3 + strcspn(scheme + 3, "/?");
	at = memchr(scheme + 3, '@', (size_t)(end - scheme - 3));
	return at && memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
}

/* Does a PostgreSQL connection string hold a password? -1 when libpq cannot parse it
   (*why then gets libpq's message, which the caller PQfreemem()s), else 0 or 1. */
static int store_password(const char *url, char **why)
{
	PQconninfoOption *o = PQconninfoParse(url, why);
	int ret = 0;

	if (!o)
		return -1;
	for (PQconninfoOption *i = o; i->keyword; i++)
		if (strcmp(i->keyword, "password") == 0 && i->val && *i->val)
			ret = 1;
	PQconninfoFree(o);
	return ret;
}

/* Refuse a store URL libpq cannot parse, with libpq's reason, which quotes the token it
   choked on: left out when that may be the password. */
static void store_refused(struct ctx *c, const config_setting_t *at, const char *url,
                          const char *why)
{
	bool secret = strstr(url, "password=") || url_has_password(url);
	size_t n = why ? strcspn(why, secret ? "\"\n" : "\n") : 0;
	bool cut = why && why[n] == '"';

	while (n > 0 && (why[n - 1] == ' ' || why[n - 1] == ':'))
		n--;
	if (!why)
		ERR(c, at, "'store': out of memory");
	else
		ERR(c, at, "'store': %.*s%s", (int)n, why,
		    cut ? " (not shown: it may hold the password)" : "");
}

/* The keys of a store many nodes share: store (a postgresql:// URL that libpq parses, or a
   SQLite file resolved like state_dir), node and lease. */
static void load_cluster(struct ctx *c, struct fw_config *cfg, const config_setting_t *root)
{
	const config_setting_t *at = config_setting_get_member(root, "store");
	char *s = NULL, *why = NULL;

	if (get_string(c, root, "store", &s) > 0) {
		if (!*s)
			ERR(c, at, "'store' must be a postgresql:// URL or a file path");
		else if (fw_store_is_shared(s) && store_password(s, &why) < 0) {
			store_refused(c, at, s, why);
		} else if (fw_store_is_shared(s))
			cfg->store = s;
		else
			cfg->store = resolve_path(c, s);
		PQfreemem(why);
		if (cfg->store != s)
			free(s);
		s = NULL;
	}
	if (get_string(c, root, "node", &s) > 0) {
		if (!*s || strlen(s) > 64 ||
		    s[strspn(s, "abcdefghijklmnopqrstuvwxyz"
		                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")])
			ERR(c, config_setting_get_member(root, "node"),
			    "'node' must be 1-64 of the letters, digits, '.', '_' and '-'");
		else
			cfg->node = s;
		if (cfg->node != s)
			free(s);
	}
	if (get_duration(c, root, "lease", &cfg->lease) > 0 && cfg->lease < 5)
		ERR(c, config_setting_get_member(root, "lease"), "'lease' must be at least 5s");
}

static void load_top(struct ctx *c, struct fw_config *cfg, const config_setting_t *root)
{
	static const char *const keys[] = {"state_dir",
	                                   "store",
	                                   "node",
	                                   "lease",
	                                   "plugin_dir",
	                                   "first_poll_max_age",
	                                   "interval",
	                                   "min_interval",
	                                   "max_interval",
	                                   "adaptive",
	                                   "max_backoff",
	                                   "timeout",
	                                   "connect_timeout",
	                                   "max_body",
	                                   "max_items",
	                                   "concurrency",
	                                   "host_concurrency",
	                                   "retention",
	                                   "user_agent",
	                                   "feeds",
	                                   "entities",
	                                   "watchlists",
	                                   "outputs",
	                                   "metrics_file",
	                                   "metrics_interval",
	                                   "feed_failing_after",
	                                   "feed_failing_output",
	                                   "max_alerts_per_poll",
	                                   "story_window",
	                                   "story_memory",
	                                   "story_update_interval",
	                                   "feeds_file",
	                                   "websub",
	                                   "archive",
	                                   "archive_max_size",
	                                   NULL};
	char *s = NULL;

	check_keys(c, root, "the top level", keys);
	if (get_string(c, root, "feeds_file", &s) > 0) {
		cfg->feeds_file = resolve_path(c, s);
		free(s);
		s = NULL;
	}
	if (get_string(c, root, "state_dir", &s) > 0) {
		cfg->state_dir = resolve_path(c, s);
		free(s);
		s = NULL;
	}
	load_cluster(c, cfg, root);
	if (get_string(c, root, "plugin_dir", &s) > 0) {
		cfg->plugin_dir = resolve_path(c, s);
		free(s);
		s = NULL;
	}
	if (get_string(c, root, "metrics_file", &s) > 0) {
		cfg->metrics_file = resolve_path(c, s);
		free(s);
		s = NULL;
	}
	if (get_duration(c, root, "metrics_interval", &cfg->metrics_interval) > 0 &&
	    cfg->metrics_interval == 0)
		ERR(c, config_setting_get_member(root, "metrics_interval"),
		    "'metrics_interval' must be > 0");
	get_duration(c, root, "feed_failing_after", &cfg->feed_failing_after);
	get_duration(c, root, "first_poll_max_age", &cfg->first_poll_max_age);
	get_duration(c, root, "min_interval", &cfg->min_interval);
	if (cfg->min_interval < 1)
		cfg->min_interval = 1;
	get_duration(c, root, "interval", &cfg->interval);
	if (cfg->interval < cfg->min_interval)
		cfg->interval = cfg->min_interval;
	if (get_duration(c, root, "max_interval", &cfg->max_interval) > 0 &&
	    cfg->max_interval < cfg->min_interval)
		ERR(c, config_setting_get_member(root, "max_interval"),
		    "'max_interval' must be at least min_interval (%llds)",
		    (long long)cfg->min_interval);
	get_bool(c, root, "adaptive", &cfg->adaptive);
	get_duration(c, root, "max_backoff", &cfg->max_backoff);
	if (get_duration(c, root, "timeout", &cfg->timeout) > 0 && cfg->timeout == 0)
		ERR(c, config_setting_get_member(root, "timeout"), "'timeout' must be > 0");
	if (get_duration(c, root, "connect_timeout", &cfg->connect_timeout) > 0 &&
	    cfg->connect_timeout == 0)
		ERR(c, config_setting_get_member(root, "connect_timeout"),
		    "'connect_timeout' must be > 0");
	get_size(c, root, "max_body", 1024, (int64_t)1 << 32, &cfg->max_body);
	get_int(c, root, "max_items", 1, 1000000, &cfg->max_items);
	get_int(c, root, "max_alerts_per_poll", 0, 1000000, &cfg->max_alerts_per_poll);
	get_int(c, root, "concurrency", 1, 10000, &cfg->concurrency);
	get_int(c, root, "host_concurrency", 1, 1000, &cfg->host_concurrency);
	get_duration(c, root, "retention", &cfg->retention);
	get_string(c, root, "user_agent", &cfg->user_agent);
	if (get_duration(c, root, "story_window", &cfg->story_window) > 0 && cfg->story_window == 0)
		ERR(c, config_setting_get_member(root, "story_window"),
		    "'story_window' must be > 0 (use group = \"item\" in a watchlist for one alert "
		    "per item)");
	get_size(c, root, "story_memory", (int64_t)1 << 16, (int64_t)1 << 40, &cfg->story_memory);
	get_duration(c, root, "story_update_interval", &cfg->story_update_interval);
	get_duration(c, root, "archive", &cfg->archive);
	get_size(c, root, "archive_max_size", 0, (int64_t)1 << 40, &cfg->archive_max_size);
}

/* "ADDRESS:PORT" with a numeric IPv4 address or a bracketed IPv6 one and a port 1-65535. */
static bool valid_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	char host[64], *end;
	unsigned char buf[16];
	size_t n;
	long port;

	if (colon == NULL || colon == v)
		return false;
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return false;
	n = (size_t)(colon - v);
	if (v[0] == '[') {
		if (n < 3 || v[n - 1] != ']' || n - 2 >= sizeof(host))
			return false;
		memcpy(host, v + 1, n - 2);
		host[n - 2] = 0;
		return inet_pton(AF_INET6, host, buf) == 1;
	}
	if (n >= sizeof(host))
		return false;
	memcpy(host, v, n);
	host[n] = 0;
	return inet_pton(AF_INET, host, buf) == 1;
}

/* The websub group: the callback server's address and the URL hubs are told. */
static void load_websub(struct ctx *c, struct fw_config *cfg, const config_setting_t *g)
{
	static const char *const keys[] = {"listen",
	                                   "callback_url",
	                                   "lease",
	                                   "safety_poll",
	                                   "max_connections",
	                                   "max_connections_per_ip",
	                                   "connection_timeout",
	                                   "insecure_hubs",
	                                   NULL};
	struct fw_config_websub *w = &cfg->websub;
	const config_setting_t *s;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		ERR(c, g,
		    "'websub' must be a group, like websub = { listen = \"127.0.0.1:8089\"; "
		    "callback_url = \"https://example.org/websub\"; }");
		return;
	}
	w->enabled = true;
	check_keys(c, g, "websub", keys);
	if (get_string(c, g, "listen", &w->listen) == 0)
		ERR(c, g, "websub: 'listen' (\"ADDRESS:PORT\") is required");
	else if (w->listen && !valid_listen(w->listen))
		ERR(c, config_setting_get_member(g, "listen"),
		    "websub: 'listen' must be a numeric ADDRESS:PORT (like \"127.0.0.1:8089\" or "
		    "\"[::1]:8089\"), not '%s'",
		    w->listen);
	if (get_string(c, g, "callback_url", &w->callback_url) == 0)
		ERR(c, g, "websub: 'callback_url' (the URL hubs are told) is required");
	else if (w->callback_url && !has_prefix_ci(w->callback_url, "http://") &&
	         !has_prefix_ci(w->callback_url, "https://"))
		ERR(c, config_setting_get_member(g, "callback_url"),
		    "websub: 'callback_url' must be an http:// or https:// URL");
	else if (w->callback_url && (strchr(w->callback_url, '?') || strchr(w->callback_url, '#')))
		ERR(c, config_setting_get_member(g, "callback_url"),
		    "websub: 'callback_url' must have no query or fragment (a token path is "
		    "appended to it)");
	if (get_duration(c, g, "lease", &w->lease) > 0 && (w->lease < 1 || w->lease > 365 * 86400))
		ERR(c, config_setting_get_member(g, "lease"),
		    "websub: 'lease' must be between 1s and 365d");
	if (get_duration(c, g, "safety_poll", &w->safety_poll) > 0 && w->safety_poll < 1)
		ERR(c, config_setting_get_member(g, "safety_poll"),
		    "websub: 'safety_poll' must be > 0");
	get_int(c, g, "max_connections", 1, 10000, &w->max_conns);
	get_int(c, g, "max_connections_per_ip", 1, 10000, &w->max_conns_per_ip);
	if (w->max_conns_per_ip > w->max_conns)
		w->max_conns_per_ip = w->max_conns;
	get_bool(c, g, "insecure_hubs", &w->insecure_hubs);
	if ((s = config_setting_get_member(g, "connection_timeout")) &&
	    get_duration(c, g, "connection_timeout", &w->conn_timeout) > 0 && w->conn_timeout < 1)
		ERR(c, s, "websub: 'connection_timeout' must be > 0");
}

/* Does a string value look like it carries a credential? user:password@ in a URL, or a
   token-like query parameter. */
static bool looks_secret(const char *v)
{
	const char *scheme = strstr(v, "://");

	if (scheme) {
		const char *at = strchr(scheme + 3, '@'), *slash = strchr(scheme + 3, '/');

		if (at && (slash == NULL || at < slash))
			return true;
	}
	return strcasestr(v, "token=") || strcasestr(v, "key=") || strcasestr(v, "secret=") ||
	       strcasestr(v, "password=") || strcasestr(v, "access_token");
}

#define FW_SECRET_FILES 64 /* distinct files checked for the readable-by-others warning */

/* The files that hold a secret (at most FW_SECRET_FILES of them). */
struct secret_files {
	const config_setting_t *v[FW_SECRET_FILES]; /* the first secret of each file */
	size_t n;
};

static void secret_in(struct secret_files *sf, const struct ctx *c, const config_setting_t *s)
{
	const char *file = src_file(c, s);

	for (size_t i = 0; i < sf->n; i++)
		if (strcmp(src_file(c, sf->v[i]), file) == 0)
			return;
	if (sf->n < FW_SECRET_FILES)
		sf->v[sf->n++] = s;
}

/* Note the file of every value that looks like a credential: user:password@ in a URL, a
   token-like parameter, a key named like a token or password, any request header (feeds'
   and outputs' headers carry Authorization, X-Api-Key and kin), and any output's url
   (webhook URLs carry their token in the path: Slack, Discord, Matrix...). in_headers: s is
   an element of a 'headers' list. */
static void find_secrets(struct secret_files *sf, const struct ctx *c, const config_setting_t *s,
                         bool in_headers)
{
	const char *name = config_setting_name(s);

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(s);

		char *why = NULL;

		/* the store's URL names its user in the clear (user@host): only a password is
		   a secret there */
		if (name && strcmp(name, "store") == 0 &&
		    config_setting_is_root(config_setting_parent(s)) && v &&
		    fw_store_is_shared(v)) {
			if (store_password(v, &why) > 0)
				secret_in(sf, c, s);
			PQfreemem(why);
		} else if (in_headers ||
		           (name && (strcasestr(name, "token") || strcasestr(name, "password"))) ||
		           (v && looks_secret(v)))
			secret_in(sf, c, s);
		return;
	}
	if (config_setting_is_aggregate(s)) {
		bool output = config_setting_is_group(s) && config_setting_get_member(s, "plugin");
		const config_setting_t *url = output ? config_setting_get_member(s, "url") : NULL;
		bool headers = name && strcmp(name, "headers") == 0;

		if (url)
			secret_in(sf, c, url);
		for (int i = 0; i < config_setting_length(s); i++)
			find_secrets(sf, c, config_setting_get_elem(s, (unsigned)i), headers);
	}
}

/* The file an output's 'secret' names, as the host reads it: absolute, or relative to
   $CREDENTIALS_DIRECTORY. NULL when there is none to check. */
static char *secret_file_path(const char *name)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char *p = NULL;

	if (name[0] == '/')
		return strdup(name);
	if (creds && *creds && asprintf(&p, "%s/%s", creds, name) < 0)
		return NULL;
	return p;
}

/* Warn about each file readable by others that holds a secret: the config file and every
   @include'd one (credentials in feed URLs and headers, output URLs and tokens), and the
   files named by outputs' 'secret'. */
static void warn_readable(struct ctx *c, const config_setting_t *root)
{
	struct secret_files sf = {.n = 0};
	const config_setting_t *outs = config_setting_get_member(root, "outputs");
	struct stat st;

	find_secrets(&sf, c, root, false);
	for (size_t i = 0; i < sf.n; i++) {
		const char *file = src_file(c, sf.v[i]);
		char *inc = NULL;

		/* libconfig names an @include'd file as written: relative to the include dir */
		if (strcmp(file, c->path) != 0 && file[0] != '/' && c->dir &&
		    asprintf(&inc, "%s/%s", c->dir, file) >= 0)
			file = inc;
		if (stat(file, &st) == 0 && (st.st_mode & S_IROTH))
			fw_diags_add(
			    c->diags, true, file, src_line(sf.v[i]),
			    "this config file is readable by others and holds a secret (a "
			    "webhook URL, credentials or request headers): chmod o-r it, or "
			    "move the secret to a file named by 'secret'");
		free(inc);
	}
	for (int i = 0;
	     outs && config_setting_is_aggregate(outs) && i < config_setting_length(outs); i++) {
		const config_setting_t *o = config_setting_get_elem(outs, (unsigned)i);
		const config_setting_t *sec =
		    config_setting_is_group(o) ? config_setting_get_member(o, "secret") : NULL;
		const char *name = sec ? config_setting_get_string(sec) : NULL;
		char *path = name && *name ? secret_file_path(name) : NULL;

		if (path && stat(path, &st) == 0 && (st.st_mode & S_IROTH))
			WARN(c, sec,
			     "the secret file '%s' is readable by others: chmod o-r it "
			     "(or hand it over with systemd's LoadCredential=)",
			     path);
		free(path);
	}
}

/* Read and validate a config file. */
int fw_config_load(const char *path, struct fw_config **out, struct fw_diags *diags)
{
	struct fw_config *cfg = calloc(1, sizeof(*cfg));
	struct ctx c = {.diags = diags, .path = path};
	const config_setting_t *root, *s, *ents = NULL, *wls = NULL;
	char *tmp;
	size_t errors_before = diags->errors;

	if (cfg == NULL)
		return -ENOMEM;
	config_init(&cfg->lc);
	cfg->path = strdup(path);
	tmp = strdup(path);
	if (cfg->path == NULL || tmp == NULL) {
		free(tmp);
		fw_config_free(cfg);
		return -ENOMEM;
	}
	c.dir = strdup(dirname(tmp));
	free(tmp);
	if (c.dir && c.dir[0] != '/') {
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) && asprintf(&tmp, "%s/%s", cwd, c.dir) >= 0) {
			free(c.dir);
			c.dir = tmp;
		}
	}
	config_set_include_dir(&cfg->lc, c.dir);
	if (config_read_file(&cfg->lc, path) != CONFIG_TRUE) {
		if (config_error_type(&cfg->lc) == CONFIG_ERR_FILE_IO)
			fw_diags_add(diags, false, path, 0, "cannot read the config file: %s",
			             strerror(errno ? errno : ENOENT));
		else
			fw_diags_add(
			    diags, false,
			    config_error_file(&cfg->lc) ? config_error_file(&cfg->lc) : path,
			    config_error_line(&cfg->lc), "%s", config_error_text(&cfg->lc));
		goto fail;
	}
	/* Defaults. */
	cfg->first_poll_max_age = 86400;
	cfg->interval = 15 * 60;
	cfg->min_interval = 60;
	cfg->max_interval = 6 * 3600;
	cfg->adaptive = true;
	cfg->max_backoff = 6 * 3600;
	cfg->timeout = 60;
	cfg->connect_timeout = 15;
	cfg->max_body = 16 * 1024 * 1024;
	cfg->max_items = 10000;
	cfg->lease = 60;
	cfg->max_alerts_per_poll = FW_CONFIG_MAX_ALERTS_PER_POLL;
	cfg->story_window = 48 * 3600;
	cfg->story_memory = (int64_t)128 << 20;
	cfg->story_update_interval = 3600;
	cfg->concurrency = 32;
	cfg->host_concurrency = 4;
	cfg->retention = 90 * 86400;
	cfg->archive = 30 * 86400;
	cfg->archive_max_size = (int64_t)256 << 20;
	cfg->metrics_interval = 60;
	cfg->feed_failing_after = 86400;
	cfg->feed_failing_output = -1;
	cfg->websub.lease = 10 * 86400;
	cfg->websub.safety_poll = 3600;
	cfg->websub.max_conns = 64;
	cfg->websub.max_conns_per_ip = 16;
	cfg->websub.conn_timeout = 10;

	root = config_root_setting(&cfg->lc);
	warn_readable(&c, root);
	load_top(&c, cfg, root);
	if (cfg->state_dir == NULL)
		cfg->state_dir = default_state_dir();
	if (cfg->user_agent == NULL)
		cfg->user_agent = strdup("feedwatch/" FW_VERSION_STRING);
	if ((s = config_setting_get_member(root, "outputs")))
		load_outputs(&c, cfg, s);
	if ((s = config_setting_get_member(root, "feed_failing_output"))) {
		const char *v = config_setting_get_string(s);

		if (v == NULL)
			ERR(&c, s, "'feed_failing_output' must be the name of an output");
		else if ((cfg->feed_failing_output = fw_config_output_index(cfg, v)) < 0)
			ERR(&c, s, "feed_failing_output: unknown output '%s'", v);
	}
	if ((s = config_setting_get_member(root, "feeds")))
		load_feeds(&c, cfg, s);
	if ((s = config_setting_get_member(root, "websub")))
		load_websub(&c, cfg, s);
	if (cfg->feeds_file == NULL) {
		size_t dl = strlen(c.dir); /* "/cwd/." for a config named without a directory */

		dl -= dl > 2 && strcmp(c.dir + dl - 2, "/.") == 0 ? 2 : 0;
		if (asprintf(&cfg->feeds_file, "%.*s/feeds.opml", (int)dl, c.dir) < 0)
			cfg->feeds_file = NULL;
	}
	if (fw_opml_config_append(cfg, diags) < 0)
		fw_diags_add(diags, false, path, 0, "out of memory");
	if (cfg->n_feeds == 0)
		WARN(&c, root, "no feeds configured (add one: feedwatch feeds add URL)");
	if ((ents = config_setting_get_member(root, "entities")))
		load_entities(&c, cfg, ents);
	if ((wls = config_setting_get_member(root, "watchlists")))
		load_watchlists(&c, cfg, wls);
	if (diags->errors == errors_before)
		compile_matcher(&c, cfg, ents, wls ? wls : root);
	if (diags->errors != errors_before)
		goto fail;
	/* The feeds are copied into cfg->feeds: libconfig's tree of them goes (56 of the 67 MB
	   the config held at 100,000 feeds). Outputs keep theirs: plugins read their settings. */
	config_setting_remove(config_root_setting(&cfg->lc), "feeds");
	free(c.dir);
	*out = cfg;
	return 0;
fail:
	free(c.dir);
	fw_config_free(cfg);
	return -EINVAL;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Free a config. */
struct fw_config *fw_config_free(struct fw_config *cfg)
{
	if (cfg == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->n_feeds; i++) {
		free(cfg->feeds[i].name);
		free(cfg->feeds[i].url);
		free_strv(cfg->feeds[i].headers, cfg->feeds[i].n_headers);
		free_strv(cfg->feeds[i].tags, cfg->feeds[i].n_tags);
	}
	free(cfg->feeds);
	for (size_t i = 0; i < cfg->n_entities; i++) {
		free(cfg->entities[i].name);
		free_strv(cfg->entities[i].aliases, cfg->entities[i].n_aliases);
	}
	free(cfg->entities);
	for (size_t i = 0; i < cfg->n_watchlists; i++) {
		free(cfg->watchlists[i].name);
		free(cfg->watchlists[i].query);
		free(cfg->watchlists[i].outputs);
		free(cfg->watchlists[i].title);
		free(cfg->watchlists[i].body);
	}
	free(cfg->watchlists);
	for (size_t i = 0; i < cfg->n_outputs; i++) {
		free(cfg->outputs[i].name);
		free(cfg->outputs[i].plugin);
		free(cfg->outputs[i].title);
		free(cfg->outputs[i].body);
	}
	free(cfg->outputs);
	fw_matcher_free(cfg->matcher);
	config_destroy(&cfg->lc);
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->store);
	free(cfg->node);
	free(cfg->plugin_dir);
	free(cfg->feeds_file);
	free(cfg->user_agent);
	free(cfg->metrics_file);
	free(cfg->websub.listen);
	free(cfg->websub.callback_url);
	free(cfg);
	return NULL;
}

/* Index of an output by name, or -1. */
long fw_config_output_index(const struct fw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_outputs; i++)
		if (cfg->outputs[i].name && strcmp(cfg->outputs[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Index of a feed by name, or -1. */
long fw_config_feed_index(const struct fw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_feeds; i++)
		if (cfg->feeds[i].name && strcmp(cfg->feeds[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* The database path. */
char *fw_config_db_path(const struct fw_config *cfg)
{
	char *p;

	if (cfg->store)
		return strdup(cfg->store);
	if (asprintf(&p, "%s/feedwatch.db", cfg->state_dir) < 0)
		return NULL;
	return p;
}
