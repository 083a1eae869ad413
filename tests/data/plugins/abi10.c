/*
 * abi10.c - a plugin as built against feedwatch's plugin ABI 1.0, whose struct fw_plugin
 * ended at fini: the struct below is that layout, exported with abi_minor 0 and its own
 * (shorter) size. Right after it lies a poison function where ABI 1.1's check() would be:
 * a host that read past struct_size would call it, and it fails loudly. Appends
 * "<alert id> <title>" to the file named by "path". Built by test_check.py and
 * test_plugin.c with `cc -I include -shared -fPIC`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <feedwatch/plugin.h>

/* -DFW_PLUGIN_ABI_MINOR_LIE: the same struct claiming minor 1 (the loader must refuse it). */
#ifdef FW_PLUGIN_ABI_MINOR_LIE
#define ABI10_MINOR 1
#define ABI10_NAME  "abi10lie"
#else
#define ABI10_MINOR 0
#define ABI10_NAME  "abi10"
#endif

/* struct fw_plugin of ABI 1.0. */
struct fw_plugin_1_0 {
	uint32_t abi_major;
	uint32_t abi_minor;
	size_t struct_size;
	const char *name;
	const char *version;
	const char *description;
	uint32_t flags;
	const struct fw_plugin_key *keys;
	int (*init)(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state);
	int (*deliver)(void *state, const struct fw_alert *alert, uint64_t token);
	void (*reopen)(void *state);
	void (*fini)(void *state);
};

struct abi10 {
	const struct fw_host *host;
	struct fw_plugin_ctx *ctx;
	const char *path;
};

static int abi10_init(const struct fw_host *host, struct fw_plugin_ctx *ctx, void **state)
{
	struct abi10 *h = calloc(1, sizeof(*h));

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

static int abi10_deliver(void *state, const struct fw_alert *a, uint64_t token)
{
	struct abi10 *h = state;
	FILE *f = fopen(h->path, "ae");

	if (f == NULL)
		return -errno;
	fprintf(f, "%s %s\n", a->id, a->title);
	if (fclose(f) != 0) {
		h->host->done(h->ctx, token, FW_RETRY, -1, "write failed");
		return 0;
	}
	h->host->done(h->ctx, token, FW_DELIVERED, -1, NULL);
	return 0;
}

static void abi10_fini(void *state)
{
	free(state);
}

static int abi10_poison(const struct fw_host *host, struct fw_plugin_ctx *ctx)
{
	host->log(ctx, FW_LOG_ERR, "the host read past an ABI 1.0 struct fw_plugin");
	return -EINVAL;
}

static const struct fw_plugin_key abi10_keys[] = {
    {"path", FW_KEY_STRING, "file to append to"},
    {NULL, 0, NULL},
};

/* The 1.0 struct, then what a careless host would take for check(). */
FW_PLUGIN_EXPORT const struct {
	struct fw_plugin_1_0 p;
	int (*after)(const struct fw_host *host, struct fw_plugin_ctx *ctx);
} feedwatch_plugin = {
    .p =
        {
            .abi_major = 1,
            .abi_minor = ABI10_MINOR,
            .struct_size = sizeof(struct fw_plugin_1_0),
            .name = ABI10_NAME,
            .version = "1.0",
            .description = "a plugin built against ABI 1.0",
            .flags = 0,
            .keys = abi10_keys,
            .init = abi10_init,
            .deliver = abi10_deliver,
            .reopen = NULL,
            .fini = abi10_fini,
        },
    .after = abi10_poison,
};
