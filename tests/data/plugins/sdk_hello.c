/*
 * sdk_hello.c - the smallest useful out-of-tree plugin, built by test_plugin_sdk.py with
 * `cc $(pkg-config --cflags feedwatch-plugin) -shared`: appends "<alert id> <title>" to the
 * file named by its "path" key and reports each alert delivered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <feedwatch/plugin.h>
#include <feedwatch/version.h>

struct hello {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	const char *path;
};

static int hello_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct hello *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	*state = h;
	h->host = host;
	h->ctx = ctx;
	if (host->cfg_string(ctx, "path", &h->path) < 0) {
		host->log(ctx, FW_LOG_ERR, "needs path = \"...\"");
		return -EINVAL;
	}
	return 0;
}

static int hello_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct hello *h = state;
	FILE *f = fopen(h->path, "ae");

	if (f == NULL)
		return -errno; /* a temporary failure: the host retries */
	fprintf(f, "%s %s\n", a->id, a->title);
	if (fclose(f) != 0) {
		h->host->done(h->ctx, token, FW_RETRY, -1, "write failed");
		return 0;
	}
	h->host->done(h->ctx, token, FW_DELIVERED, -1, NULL);
	return 0;
}

static void hello_fini(void *state)
{
	free(state);
}

static const struct fw_plugin_key hello_keys[] = {
    {"path", FW_KEY_STRING, "file to append to"},
    {NULL, 0, NULL},
};

FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {
    .abi_major = FW_PLUGIN_ABI_MAJOR,
    .abi_minor = FW_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct fw_plugin),
    .name = "sdk_hello",
    .version = "1.0",
    .description = "out-of-tree example",
    .flags = 0,
    .keys = hello_keys,
    .init = hello_init,
    .deliver = hello_deliver,
    .reopen = NULL,
    .fini = hello_fini,
};
