/*
 * leaky.c - a careless plugin for test_hostile_out.py: every delivery fails with an outcome
 * message that quotes its "url" key whole, its path and its query, as an error text from a
 * library might. The host must redact them before the message is logged or stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <feedwatch/plugin.h>

struct leaky {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	const char *url;
};

static int leaky_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct leaky *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return -ENOMEM;
	*state = l;
	l->host = host;
	l->ctx = ctx;
	if (host->cfg_string(ctx, "url", &l->url) < 0)
		return -EINVAL;
	return 0;
}

static int leaky_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct leaky *l = state;
	const char *path = strchr(strstr(l->url, "://") + 3, '/');
	const char *query = strchr(l->url, '?');
	char msg[1024];

	(void)a;
	snprintf(msg, sizeof(msg), "cannot post to %s (path %.*s, query %s)", l->url,
	         (int)(query ? (size_t)(query - path) : strlen(path)), path,
	         query ? query + 1 : "");
	l->host->done(l->ctx, token, FW_FAILED, -1, msg);
	return 0;
}

static void leaky_fini(void *state)
{
	free(state);
}

static const struct fw_plugin_key leaky_keys[] = {
    {"url", FW_KEY_STRING, "where it pretends to post"},
    {NULL, 0, NULL},
};

FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_plugin),
    .name = "leaky",
    .version = "1.0",
    .description = "quotes its URL in outcome messages (a test)",
    .flags = 0,
    .keys = leaky_keys,
    .init = leaky_init,
    .deliver = leaky_deliver,
    .reopen = NULL,
    .fini = leaky_fini,
};
