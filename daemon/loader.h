/* loader.h - loading output plugins: directory policy, dlopen, ABI check, key check. */
#ifndef FW_LOADER_H
#define FW_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <feedwatch/plugin.h>

struct fw_config;
struct fw_config_output;
struct fw_diags;

struct fw_loader_lib {
	void *dl;
	const struct fw_plugin *plugin;
	char *path;
};

/*
 * The plugin directory: cfg_dir when set, else $FEEDWATCH_PLUGIN_DIR, else ../plugins next
 * to the running executable (the build tree), else the installed directory.
 * Returns a malloc()ed path.
 */
char *fw_loader_dir(const char *cfg_dir);

/*
 * Load plugin `name` from dir. Symbolic links resolved, the file and every directory
 * above it up to / must be owned by root or by the daemon's user and not writable by
 * group or others (a root-owned sticky directory above the plugin directory excepted);
 * the resolved file is what is loaded. Refuses, too, a missing symbol, a wrong ABI
 * major, a short struct, or a name mismatch; dlclose()s on every failure. Returns 0 and
 * *out, or -errno with the reason (naming the path at fault) in err.
 */
int fw_loader_open(const char *dir, const char *name, struct fw_loader_lib **out, char *err,
                   size_t errlen);

/* dlclose and free. Accepts NULL; returns NULL. */
struct fw_loader_lib *fw_loader_close(struct fw_loader_lib *lib);

/* Report, as FILE:LINE diagnostics, keys of an output that neither the host nor the plugin
   accepts, and values of the wrong type. */
void fw_loader_check_keys(const struct fw_loader_lib *lib, const struct fw_config_output *out,
                          struct fw_diags *diags);

/*
 * The least struct_size the loader accepts from a plugin declaring ABI minor `minor`:
 * FW_PLUGIN_SIZE_1_0 for minor 0 (an ABI 1.0 plugin keeps loading), FW_PLUGIN_SIZE_1_1
 * for 1 and later.
 */
size_t fw_loader_min_size(uint32_t minor);

typedef int (*fw_loader_check_fn)(const struct fw_host *host, struct fw_plugin_ctx *ctx);

/* The plugin's check() (ABI 1.1), or NULL when it has none: a plugin of minor 0, or whose
   struct_size does not reach the member, has none whatever the bytes after its struct. */
fw_loader_check_fn fw_loader_check_fn_of(const struct fw_plugin *p);

#endif
