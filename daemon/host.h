/*
 * host.h - output plugin instances and the host function table they get: logging, typed
 * config getters, secrets, timers and HTTP on the daemon's loop, the completion call.
 */
#ifndef FW_HOST_H
#define FW_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <feedwatch/plugin.h>

#include <uv.h>

struct fw_config;
struct fw_config_output;
struct fw_net;
struct fw_loader_lib;

/* What plugin instances are given: the loop for their timers, the daemon's curl multi for
   their HTTP (NULL once it is closed: requests then fail with -ESHUTDOWN), and where
   their completions go (done(arg, ...), from any thread). Owned by the caller, and must
   outlive every instance built with it. */
struct fw_host_env {
	uv_loop_t *loop;
	struct fw_net *net;
	void (*done)(void *arg, uint64_t token, enum fw_result result, int64_t retry_after,
	             const char *message);
	void *arg;
};

/*
 * Build one instance of output `out` of config cfg (its user_agent, and its path for
 * relative paths; both must outlive the instance): load its plugin from dir, call init().
 * Returns 0 and the instance in *out_ctx, or -errno with the reason in err (the
 * half-built instance has been finalised and freed).
 */
int fw_host_instance_new(const struct fw_host_env *env, const struct fw_config *cfg,
                         const char *dir, const struct fw_config_output *out,
                         struct fw_plugin_ctx **out_ctx, char *err, size_t errlen);

/* Cancel the instance's timers and HTTP requests (their callbacks do not run), call fini,
   unload. Accepts NULL; returns NULL. */
struct fw_plugin_ctx *fw_host_instance_free(struct fw_plugin_ctx *ctx);

const struct fw_plugin *fw_host_plugin(const struct fw_plugin_ctx *ctx);
void *fw_host_state(const struct fw_plugin_ctx *ctx);
const struct fw_config_output *fw_host_output(const struct fw_plugin_ctx *ctx);

struct fw_diags;

/*
 * Check every output of cfg for `feedwatch check` and a reload, without side effects:
 * its plugin loads (from cfg's plugin directory), its keys are known and of the right
 * type, and the plugin's check() (ABI 1.1; skipped for a plugin without one) accepts the
 * values. Every problem goes to diags as "FILE:LINE: output 'NAME': message", LINE being
 * that of the key the plugin read last before reporting, else the output's.
 */
void fw_host_check_config(const struct fw_config *cfg, struct fw_diags *diags);

/* The host table (for tests that drive a plugin directly). */
const struct fw_host *fw_host_table(void);

#endif
