/*
 * bench_io.h - what bench_match.c and bench_hs.c share: CPU time, a whole file read into
 * memory, its lines split in place. Benchmark code: any failure exits.
 */
#ifndef FW_BENCH_IO_H
#define FW_BENCH_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		exit(1);
	}
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static size_t split_lines(char *buf, char ***out)
{
	size_t n = 0, cap = 1024;
	char **v = malloc(cap * sizeof(*v));

	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');

		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
		}
		if (!v) {
			exit(1);
		}
		v[n++] = p;
		if (!nl) {
			break;
		}
		*nl = '\0';
		p = nl + 1;
	}
	*out = v;
	return n;
}

#endif
