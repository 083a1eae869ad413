/*
 * story_place.c - the story index of the daemon (daemon/story.c) alone, for bench/stories.
 *
 *   story_place [--window SECONDS] < rows.tsv
 *       rows "timestamp_ms<TAB>publisher<TAB>label<TAB>title", in time order: places each
 *       title as the daemon does (titles only, no entities) and prints one story id per
 *       row, then "# items N memory BYTES" on stderr.
 *   story_place --speed N [--window SECONDS] < rows.tsv
 *       fills the window with N items made of the rows' titles (each with a serial word
 *       so that copies differ), spread evenly over the window, then places N more and
 *       prints the rate of the second half and the bytes per item in the window.
 *   story_place --speed N --unique ... < rows.tsv
 *       the worst case for memory: as --speed, but every word of every item is a word no
 *       other item holds (each row's title with its words replaced by serial words), so
 *       that each item adds as many entries to the feature table as it has features.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fold.h"
#include "story.h"

struct row {
	int64_t t;
	char *title;
};

static struct row *read_rows(size_t *n)
{
	struct row *v = NULL;
	size_t cap = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;

	*n = 0;
	while ((len = getline(&line, &lcap, stdin)) > 0) {
		char *f[4], *p = line;

		if (line[len - 1] == '\n')
			line[len - 1] = 0;
		for (int i = 0; i < 4; i++) {
			f[i] = p;
			p = i < 3 ? strchr(p, '\t') : NULL;
			if (i < 3 && p == NULL)
				break;
			if (p)
				*p++ = 0;
		}
		if (p == NULL && f[3] == NULL)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = realloc(v, cap * sizeof(*v));
			if (v == NULL)
				exit(2);
		}
		v[*n].t = strtoll(f[0], NULL, 10) / 1000;
		v[*n].title = strdup(f[3]);
		(*n)++;
	}
	free(line);
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t place(struct fw_story_index *x, const struct fw_fold *fold, const char *title,
                     int64_t t, int64_t item, int64_t *next_story)
{
	struct fw_story_features f;
	struct fw_story_place p;
	int64_t story;

	if (fw_story_features(fold, title, NULL, NULL, NULL, 0, &f, NULL) < 0 ||
	    fw_story_index_find(x, &f, t, &p) < 0)
		exit(2);
	story = p.story ? p.story : (*next_story)++;
	if (getenv("STORY_PLACE_DEBUG"))
		fprintf(stderr,
		        "item %" PRId64 " story %" PRId64 " matched %" PRId64
		        " score %.3f shared %u: %s\n",
		        item, story, p.matched, p.score, p.shared, title);
	if (fw_story_index_add(x, &f, item, story, t) < 0)
		exit(2);
	return story;
}

/* title with each word (a run of non-blanks) replaced by a word of seven letters that no
   other item (serial i) holds. */
static void unique_words(char *buf, size_t size, const char *title, long i)
{
	size_t len = 0;
	long w = 0;

	for (const char *p = title; *p && len + 10 < size;) {
		unsigned long v = (unsigned long)i * 32 + (unsigned long)w++;

		while (*p == ' ')
			p++;
		if (*p == 0)
			break;
		while (*p && *p != ' ')
			p++;
		buf[len++] = 'u';
		for (int d = 0; d < 6; d++, v /= 26)
			buf[len++] = (char)('a' + v % 26);
		buf[len++] = ' ';
	}
	buf[len] = 0;
}

static int speed(struct fw_story_index *x, const struct fw_fold *fold, struct row *rows, size_t n,
                 long count, int64_t window, int unique)
{
	int64_t next_story = 1, item = 1;
	char buf[2048];
	double t0 = 0;

	for (long i = 0; i < 2 * count; i++) {
		int64_t t = (int64_t)((double)i * (double)window / (double)count);

		if (i == count)
			t0 = now_s();
		if (unique)
			unique_words(buf, sizeof(buf), rows[i % (long)n].title, i);
		else
			snprintf(buf, sizeof(buf), "%s w%ld", rows[i % (long)n].title, i / (long)n);
		place(x, fold, buf, t, item++, &next_story);
	}
	printf("placed %ld items in %.3f s: %.0f items/s with %zu items in the window; "
	       "%.1f bytes per item\n",
	       count, now_s() - t0, (double)count / (now_s() - t0), fw_story_index_items(x),
	       (double)fw_story_index_memory(x) / (double)fw_story_index_items(x));
	return 0;
}

int main(int argc, char **argv)
{
	int64_t window = 48 * 3600, next_story = 1;
	long count = 0;
	int unique = 0;
	struct fw_story_index *x;
	struct fw_fold *fold;
	struct row *rows;
	size_t n;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--unique") == 0)
			unique = 1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--unique") == 0)
			i--;
		else if (strcmp(argv[i], "--window") == 0)
			window = strtoll(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--speed") == 0)
			count = strtol(argv[i + 1], NULL, 10);
	}
	if (fw_fold_new(&fold) < 0 || fw_story_index_new(window, &x) < 0)
		return 2;
	rows = read_rows(&n);
	if (n == 0)
		return 2;
	if (count > 0)
		return speed(x, fold, rows, n, count, window, unique);
	for (size_t i = 0; i < n; i++)
		printf("%" PRId64 "\n",
		       place(x, fold, rows[i].title, rows[i].t, (int64_t)i + 1, &next_story));
	fprintf(stderr, "# items %zu memory %zu\n", fw_story_index_items(x),
	        fw_story_index_memory(x));
	for (size_t i = 0; i < n; i++)
		free(rows[i].title);
	free(rows);
	fw_story_index_free(x);
	fw_fold_free(fold);
	return 0;
}
