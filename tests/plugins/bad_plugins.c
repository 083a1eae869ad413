/* bad_plugins.c - deliberately broken plugins for the loader's refusal tests. One source,
   built several times with a different FW_BAD_KIND each. */
#include <stddef.h>

#include <feedwatch/plugin.h>

__attribute__((unused)) static int bad_init(const struct fw_host *h, struct fw_plugin_ctx *c,
                                            void **s)
{
	*s = NULL;
	return 0;
}

__attribute__((unused)) static int bad_deliver(void *s, const struct fw_alert *a, uint64_t t)
{
	return 0;
}

__attribute__((unused)) static void bad_fini(void *s)
{
}

#if FW_BAD_KIND == 1 /* a future ABI major */
FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {.abi_major = 99,
                                                            .abi_minor = 0,
                                                            .struct_size = sizeof(struct fw_plugin),
                                                            .name = "badmajor",
                                                            .init = bad_init,
                                                            .deliver = bad_deliver,
                                                            .fini = bad_fini};
#elif FW_BAD_KIND == 2 /* a struct shorter than the host's */
FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {.abi_major = FW_PLUGIN_ABI_MAJOR,
                                                            .abi_minor = 0,
                                                            .struct_size = 16,
                                                            .name = "shortstruct",
                                                            .init = bad_init,
                                                            .deliver = bad_deliver,
                                                            .fini = bad_fini};
#elif FW_BAD_KIND == 3 /* no exported symbol */
const struct fw_plugin not_the_symbol = {.name = "nosymbol"};
#elif FW_BAD_KIND == 4 /* a name that is not its file's */
FW_PLUGIN_EXPORT const struct fw_plugin feedwatch_plugin = {.abi_major = FW_PLUGIN_ABI_MAJOR,
                                                            .abi_minor = 0,
                                                            .struct_size = sizeof(struct fw_plugin),
                                                            .name = "someoneelse",
                                                            .init = bad_init,
                                                            .deliver = bad_deliver,
                                                            .fini = bad_fini};
#endif
