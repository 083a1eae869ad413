/*
 * host.h - output plugin instances and the host function table they get: logging, typed
 * config getters, secrets, timers and HTTP on the daemon's loop, the completion call.
 */
#ifndef FW_HOST_H
#define FW_HOST_H

#include <stddef.h>

#include <feedwatch/plugin.h>

struct fw_daemon;
struct fw_config_output;
struct fw_plugin_lib;

/*
 * Build one instance of output `out`: load its plugin from dir, call init(). Returns 0 and
 * the instance in *out_ctx, or -errno with the reason in err (the half-built instance has
 * been finalised and freed).
 */
int fw_host_instance_new(struct fw_daemon *d, const char *dir, const struct fw_config_output *out,
                         struct fw_plugin_ctx **out_ctx, char *err, size_t errlen);

/* Cancel the instance's timers and HTTP requests (their callbacks do not run), call fini,
   unload. Accepts NULL; returns NULL. */
struct fw_plugin_ctx *fw_host_instance_free(struct fw_plugin_ctx *ctx);

const struct fw_plugin *fw_host_plugin(const struct fw_plugin_ctx *ctx);
void *fw_host_state(const struct fw_plugin_ctx *ctx);
const struct fw_config_output *fw_host_output(const struct fw_plugin_ctx *ctx);

/* The host table (for tests that drive a plugin directly). */
const struct fw_host *fw_host_table(void);

#endif
