/* loader.c - find, dlopen and check output plugins. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "loader.h"
#include "suggest.h"

#ifndef FW_PLUGIN_INSTALL_DIR
#define FW_PLUGIN_INSTALL_DIR "/usr/local/lib/feedwatch/plugins"
#endif

/* The routing and presentation keys every output accepts; handled by the host (config.c). */
static const char *const host_keys[] = {"name",    "plugin",     "rate_limit",  "priority",
                                        "title",   "body",       "rate_window", "max_attempts",
                                        "max_age", "retry_base", "retry_max",   NULL};

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The plugin directory. */
char *fw_loader_dir(const char *cfg_dir)
{
	const char *env = getenv("FEEDWATCH_PLUGIN_DIR");
	char exe[PATH_MAX], *slash, *p;
	ssize_t n;

	if (cfg_dir)
		return strdup(cfg_dir);
	if (env && *env)
		return strdup(env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			if (asprintf(&p, "%s/../plugins", exe) >= 0) {
				if (is_dir(p)) {
					char *real = realpath(p, NULL);

					free(p);
					return real;
				}
				free(p);
			}
		}
	}
	return strdup(FW_PLUGIN_INSTALL_DIR);
}

/*
 * One path of a plugin's chain (OpenSSH's StrictModes): owned by root or by the daemon's
 * user, and not writable by group or others. Only a directory above the plugin directory
 * (lenient) may be writable by others when it is root's and sticky, like /tmp: there
 * nobody else can rename or replace what root or we own.
 */
static int check_perms(const char *path, const char *what, bool lenient, char *err, size_t errlen)
{
	struct stat st;
	uid_t me = geteuid();

	if (stat(path, &st) != 0) {
		int e = errno;

		snprintf(err, errlen, "%s %s: %s", what, path, strerror(e));
		return -e;
	}
	if (st.st_uid != 0 && st.st_uid != me) {
		snprintf(err, errlen,
		         "%s %s is owned by uid %u, neither root nor the daemon's uid %u: refusing "
		         "to load plugins from it",
		         what, path, (unsigned)st.st_uid, (unsigned)me);
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !(lenient && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && st.st_uid == 0)) {
		snprintf(err, errlen,
		         "%s %s is writable by group or others: refusing to load plugins from it",
		         what, path);
		return -EPERM;
	}
	return 0;
}

/*
 * Check real (a path without symbolic links) and every directory above it up to /: the
 * first `strict` of them (the path itself, then its parents) under check_perms's strict
 * rule, the rest under the lenient one.
 */
static int check_chain(const char *real, const char *what, int strict, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	char *slash;
	int r, level = 0;

	if (snprintf(buf, sizeof(buf), "%s", real) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (;;) {
		r = check_perms(buf, level == 0 ? what : "directory", level >= strict, err, errlen);
		if (r < 0 || strcmp(buf, "/") == 0)
			return r;
		slash = strrchr(buf, '/');
		if (slash == NULL)
			return 0;
		slash[slash == buf ? 1 : 0] = 0;
		level++;
	}
}

/* The least struct_size of a plugin of ABI minor `minor`. */
size_t fw_loader_min_size(uint32_t minor)
{
	return minor == 0 ? FW_PLUGIN_SIZE_1_0 : FW_PLUGIN_SIZE_1_1;
}

/* The plugin's check(), when its ABI minor and struct size say it has that member. */
fw_loader_check_fn fw_loader_check_fn_of(const struct fw_plugin *p)
{
	if (p->abi_minor < 1 || p->struct_size < FW_PLUGIN_SIZE_1_1)
		return NULL;
	return p->check;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What other tools call an output feedwatch has under another plugin's name. */
static const struct {
	const char *name, *use;
} plugin_aliases[] = {
    {"slack", "plugin = \"webhook\"; format = \"slack\""},
    {"discord", "plugin = \"webhook\"; format = \"discord\""},
    {"ntfy", "plugin = \"webhook\"; format = \"ntfy\""},
    {"matrix", "plugin = \"webhook\"; format = \"matrix\""},
    {"mattermost", "plugin = \"webhook\"; format = \"mattermost\""},
    {"http", "plugin = \"webhook\""},
    {"mail", "plugin = \"email\""},
    {"smtp", "plugin = \"email\""},
    {"notify", "plugin = \"desktop\""},
    {"notification", "plugin = \"desktop\""},
    {"libnotify", "plugin = \"desktop\""},
    {"command", "plugin = \"exec\""},
    {"script", "plugin = \"exec\""},
    {"shell", "plugin = \"exec\""},
    {"file", "plugin = \"log\""},
    {"stdout", "plugin = \"log\"; path = \"-\""},
};

/* "no plugin 'slack' in DIR: use plugin = "webhook"; format = "slack" (plugins there:
   desktop, email, ...)": the way to what was meant, and what exists. */
static void no_plugin(const char *dir, const char *name, char *err, size_t errlen)
{
	char have[32][64], *names[32], list[400] = "";
	const char *near = NULL;
	size_t n = 0, at;
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL && n < 32) {
		size_t len = strlen(e->d_name);

		if (len > 3 && len < 64 && e->d_name[0] != '.' &&
		    strcmp(e->d_name + len - 3, ".so") == 0) {
			snprintf(have[n], sizeof(have[n]), "%.*s", (int)(len - 3), e->d_name);
			names[n] = have[n];
			n++;
		}
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		at = strlen(list);
		snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", names[i]);
	}
	at = (size_t)snprintf(err, errlen, "no plugin '%s' in %s", name, dir);
	for (size_t i = 0; i < sizeof(plugin_aliases) / sizeof(plugin_aliases[0]); i++)
		if (strcasecmp(name, plugin_aliases[i].name) == 0)
			near = plugin_aliases[i].use;
	if (near && at < errlen)
		at += (size_t)snprintf(err + at, errlen - at, ": use %s", near);
	else if ((near = fw_suggest_nearest(name, (const char *const *)names, n)) && at < errlen)
		at += (size_t)snprintf(err + at, errlen - at, " (did you mean '%s'?)", near);
	if (at < errlen)
		snprintf(err + at, errlen - at, " (plugins there: %s)", n ? list : "none");
}

/* Load one plugin. */
int fw_loader_open(const char *dir, const char *name, struct fw_loader_lib **out, char *err,
                   size_t errlen)
{
	struct fw_loader_lib *lib;
	const struct fw_plugin *p;
	char *path, real[PATH_MAX];
	void *dl;
	int r;

	if (strchr(name, '/') || name[0] == '.' || name[0] == 0) {
		snprintf(err, errlen, "plugin name '%s' is not a plain name", name);
		return -EINVAL;
	}
	/* Judge what symbolic links lead to, and load exactly that. */
	if (realpath(dir, real) == NULL) {
		r = -errno;
		snprintf(err, errlen, "plugin directory %s: %s", dir, strerror(-r));
		return r;
	}
	if ((r = check_chain(real, "plugin directory", 1, err, errlen)) < 0)
		return r;
	if (asprintf(&path, "%s/%s.so", dir, name) < 0)
		return -ENOMEM;
	if (realpath(path, real) == NULL) {
		r = -errno;
		if (r == -ENOENT)
			no_plugin(dir, name, err, errlen);
		else
			snprintf(err, errlen, "plugin %s: %s", path, strerror(-r));
		free(path);
		return r;
	}
	if ((r = check_chain(real, "plugin", 2, err, errlen)) < 0) {
		free(path);
		return r;
	}
	dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		snprintf(err, errlen, "cannot load %s: %s", path, dlerror());
		free(path);
		return -ENOEXEC;
	}
	p = dlsym(dl, FW_PLUGIN_SYMBOL);
	if (p == NULL) {
		snprintf(err, errlen, "%s does not export %s", path, FW_PLUGIN_SYMBOL);
		r = -ENOEXEC;
		goto fail;
	}
	if (p->abi_major != FW_PLUGIN_ABI_MAJOR) {
		snprintf(err, errlen, "%s: plugin ABI %u.%u, host ABI %u.%u: major versions differ",
		         path, p->abi_major, p->abi_minor, FW_PLUGIN_ABI_MAJOR,
		         FW_PLUGIN_ABI_MINOR);
		r = -EPROTO;
		goto fail;
	}
	if (p->struct_size < fw_loader_min_size(p->abi_minor)) {
		snprintf(err, errlen,
		         "%s: struct fw_plugin is %zu bytes, host ABI %u.%u needs %zu (plugin ABI "
		         "%u.%u)",
		         path, p->struct_size, FW_PLUGIN_ABI_MAJOR, FW_PLUGIN_ABI_MINOR,
		         fw_loader_min_size(p->abi_minor), p->abi_major, p->abi_minor);
		r = -EPROTO;
		goto fail;
	}
	if (p->name == NULL || strcmp(p->name, name) != 0 || p->init == NULL ||
	    p->deliver == NULL || p->fini == NULL) {
		snprintf(err, errlen, "%s: plugin struct is incomplete or named '%s'", path,
		         p->name ? p->name : "(null)");
		r = -EPROTO;
		goto fail;
	}
	lib = calloc(1, sizeof(*lib));
	if (lib == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	lib->dl = dl;
	lib->plugin = p;
	lib->path = path;
	*out = lib;
	return 0;
fail:
	dlclose(dl);
	free(path);
	return r;
}

/* Close a plugin. */
struct fw_loader_lib *fw_loader_close(struct fw_loader_lib *lib)
{
	if (lib == NULL)
		return NULL;
	if (lib->dl)
		dlclose(lib->dl);
	free(lib->path);
	free(lib);
	return NULL;
}

static bool type_ok(enum fw_key_type t, const config_setting_t *s)
{
	int lt = config_setting_type(s);

	switch (t) {
	case FW_KEY_STRING:
		return lt == CONFIG_TYPE_STRING;
	case FW_KEY_INT:
		return lt == CONFIG_TYPE_INT || lt == CONFIG_TYPE_INT64;
	case FW_KEY_BOOL:
		return lt == CONFIG_TYPE_BOOL;
	case FW_KEY_FLOAT:
		return lt == CONFIG_TYPE_FLOAT || lt == CONFIG_TYPE_INT || lt == CONFIG_TYPE_INT64;
	case FW_KEY_DURATION: {
		int64_t v;

		return fw_config_setting_duration(s, &v) == 0;
	}
	case FW_KEY_STRINGS:
		if (lt == CONFIG_TYPE_STRING)
			return true;
		if (lt != CONFIG_TYPE_ARRAY && lt != CONFIG_TYPE_LIST)
			return false;
		for (int i = 0; i < config_setting_length(s); i++)
			if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) !=
			    CONFIG_TYPE_STRING)
				return false;
		return true;
	}
	return false;
}

static const char *type_word(enum fw_key_type t)
{
	switch (t) {
	case FW_KEY_STRING:
		return "a string";
	case FW_KEY_INT:
		return "an integer";
	case FW_KEY_BOOL:
		return "true or false";
	case FW_KEY_FLOAT:
		return "a number";
	case FW_KEY_DURATION:
		return "a duration";
	case FW_KEY_STRINGS:
		return "an array of strings";
	}
	return "?";
}

/* The accepted key (the plugin's or the host's) nearest to name, when one is within two
   edits (one for names of up to four letters), else NULL. */
static const char *nearest_key(const struct fw_plugin_key *keys, const char *name)
{
	const char *best = NULL;
	size_t bestd = strlen(name) <= 4 ? 2 : 3, d;

	for (const struct fw_plugin_key *k = keys; k && k->name; k++)
		if ((d = fw_suggest_distance(name, k->name)) < bestd) {
			bestd = d;
			best = k->name;
		}
	for (const char *const *h = host_keys; *h; h++)
		if ((d = fw_suggest_distance(name, *h)) < bestd) {
			bestd = d;
			best = *h;
		}
	return best;
}

/* Unknown keys and wrong types of one output. */
void fw_loader_check_keys(const struct fw_loader_lib *lib, const struct fw_config_output *out,
                          struct fw_diags *diags)
{
	const config_setting_t *g = out->setting;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		const struct fw_plugin_key *k;
		bool found = false;

		for (const char *const *h = host_keys; *h; h++)
			if (strcmp(*h, name) == 0)
				found = true;
		if (found)
			continue;
		for (k = lib->plugin->keys; k && k->name; k++)
			if (strcmp(k->name, name) == 0)
				break;
		if (k == NULL || k->name == NULL) {
			const char *near = nearest_key(lib->plugin->keys, name);

			fw_diags_add(diags, false, out->file, config_setting_source_line(m),
			             "output '%s': unknown key '%s' for plugin '%s'%s%s%s",
			             out->name, name, lib->plugin->name,
			             near ? " (did you mean '" : "", near ? near : "",
			             near ? "'?)" : "");
			continue;
		}
		if (!type_ok(k->type, m))
			fw_diags_add(diags, false, out->file, config_setting_source_line(m),
			             "output '%s': '%s' must be %s", out->name, name,
			             type_word(k->type));
	}
}
