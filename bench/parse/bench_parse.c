/*
 * bench_parse.c - the "parse + text extraction" side of bench/parse/run.sh: every file
 * named on the command line goes through fw_parse (repair filter, libxml2 SAX2, field
 * capture, HTML to text, ids) in 64 KiB chunks, as `feedwatch parse` reads it; items are
 * counted and freed, nothing is written. Prints "items N" per file on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"

static int count_cb(struct fw_item *item, void *arg)
{
	size_t *n = arg;

	(*n)++;
	fw_item_free(item);
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[65536];

	for (int i = 1; i < argc; i++) {
		size_t items = 0;
		ssize_t n;
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "bench_parse: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		struct fw_parser *p = fw_parse_new(NULL, NULL, NULL, count_cb, &items);
		if (!p) {
			close(fd);
			return 1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			if (fw_parse_push(p, buf, (size_t)n) < 0)
				break;
		}
		close(fd);
		int r = fw_parse_end(p);
		fw_parse_free(p);
		if (n < 0 || r < 0) {
			fprintf(stderr, "bench_parse: %s: not parsed\n", argv[i]);
			return 1;
		}
		fprintf(stderr, "items %zu\n", items);
	}
	return 0;
}
