/* pushwork.c - a pushed document through the parser thread, as a poll's body goes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pushwork.h"

struct fw_pushwork {
	struct fw_parsework *pw;
	struct fw_pstream ps;
	struct fw_fetch_result res;
	size_t max_items, cap;
	fw_fetch_cb cb;
	void *arg;
};

static void job_free(struct fw_pushwork *j)
{
	fw_parse_free(j->ps.parser);
	fw_fetch_result_clear(&j->res);
	free(j);
}

/* On the parser thread, as fetch.c's: only it touches the items until the parse ends. */
static int item_cb(struct fw_item *item, void *arg)
{
	struct fw_pushwork *j = arg;
	struct fw_fetch_result *r = &j->res;

	if (r->n_items >= j->max_items) {
		r->dropped++;
		fw_item_free(item);
		return 0;
	}
	if (r->n_items == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 16;
		struct fw_item **v = realloc(r->items, cap * sizeof(*v));
		uint64_t *h = v ? realloc(r->hashes, cap * sizeof(*h)) : NULL;

		if (v)
			r->items = v;
		if (h == NULL) {
			fw_item_free(item);
			return -ENOMEM;
		}
		r->hashes = h;
		j->cap = cap;
	}
	r->hashes[r->n_items] = fw_item_hash(item);
	r->items[r->n_items++] = item;
	return 0;
}

static void parsed_cb(struct fw_pstream *s, void *arg)
{
	struct fw_pushwork *j = arg;
	struct fw_fetch_result *r = &j->res;
	const char *problem = fw_parse_problem(s->parser);

	r->format = fw_parse_format(s->parser);
	r->ttl = -1;
	if (problem)
		r->problem = strdup(problem);
	if (s->end_rc < 0) {
		r->error = -EBADMSG;
		snprintf(r->error_text, sizeof(r->error_text), "pushed content is not a feed: %s",
		         problem ? problem : "no RSS, Atom or JSON Feed document");
		for (size_t i = 0; i < r->n_items; i++)
			fw_item_free(r->items[i]);
		r->n_items = 0;
	}
	j->cb(r, j->arg);
	job_free(j);
}

/* See pushwork.h. */
int fw_pushwork_start(struct fw_parsework *pw, const char *body, size_t len, const char *base_url,
                      size_t max_items, fw_fetch_cb cb, void *arg, struct fw_pushwork **out)
{
	struct fw_pushwork *j = calloc(1, sizeof(*j));
	struct fw_parse_limits lim = {.max_items = max_items + 1};

	if (j == NULL)
		return -ENOMEM;
	j->pw = pw;
	j->max_items = max_items;
	j->cb = cb;
	j->arg = arg;
	j->res.status = 200;
	j->res.retry_after = j->res.max_age = j->res.expires = -1;
	j->res.ttl = -1;
	j->res.bytes = (int64_t)len;
	j->ps.parser = fw_parse_new(base_url, NULL, &lim, item_cb, j);
	j->ps.done = parsed_cb;
	j->ps.arg = j;
	if (j->ps.parser == NULL || fw_parsework_push(pw, &j->ps, body, len) < 0 ||
	    fw_parsework_end(pw, &j->ps) < 0) {
		if (j->ps.parser)
			fw_parsework_forget(pw, &j->ps);
		job_free(j);
		return -ENOMEM;
	}
	*out = j;
	return 0;
}

/* See pushwork.h. */
void fw_pushwork_cancel(struct fw_pushwork *j)
{
	if (j == NULL)
		return;
	fw_parsework_forget(j->pw, &j->ps);
	job_free(j);
}
