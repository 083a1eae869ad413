/*
 * fuzz_config.c - libFuzzer target for the config loader: arbitrary bytes are written to
 * a private temporary file, loaded with fw_config_load (libconfig, then validation, the
 * watchlist compiler and the secret-permission check), and freed.
 *
 * Inputs holding "@include" are skipped: an include names any file on the machine
 * (/dev/zero, /proc/...), which tests the file system, not the loader.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5 leaks its string buffer (64 bytes) on some syntax errors, e.g.
   `w = "a", "b";` -- its bug, not ours (reproducer in docs/reliability.md). */
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

static char conf_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* $TMPDIR (a tmpfs, say) spares the disk one rewritten file per input */
	const char *tmp = getenv("TMPDIR");
	char dir[48];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%.32s/fuzz_config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(conf_path, sizeof(conf_path), "%s/feedwatch.conf", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_diags diags = {0};
	struct fw_config *cfg = NULL;
	FILE *f;

	if (size > 64 * 1024 || memmem(data, size, "@include", 8) != NULL)
		return 0;
	f = fopen(conf_path, "we");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (fw_config_load(conf_path, &cfg, &diags) == 0) {
		/* A loaded config must be usable: every feed has a name and a URL. */
		for (size_t i = 0; i < cfg->n_feeds; i++)
			if (cfg->feeds[i].name == NULL || cfg->feeds[i].url == NULL)
				abort();
		for (size_t i = 0; i < cfg->n_watchlists; i++)
			for (size_t k = 0; k < cfg->watchlists[i].n_outputs; k++)
				if (cfg->watchlists[i].outputs[k] >= cfg->n_outputs)
					abort();
		free(fw_config_db_path(cfg));
	} else if (diags.errors == 0) {
		/* A refused config always says why (-ENOMEM aside). */
		abort();
	}
	for (size_t i = 0; i < diags.n; i++)
		if (diags.v[i].message == NULL || diags.v[i].file == NULL)
			abort();
	fw_diags_clear(&diags);
	fw_config_free(cfg);
	return 0;
}
