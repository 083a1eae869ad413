/*
 * parsework.h - one thread that runs feed parsers off the event loop, so that fetching
 * (curl, gunzip, the store, matching) and parsing use both cores. The loop hands over the
 * bytes of a document as they arrive (copied, in order); the thread feeds them to the
 * document's parser; once the loop has said the document is complete and the thread has
 * ended its parse, the loop is told through a uv_async handle. Memory is bounded: a push
 * waits while the bytes queued exceed the cap (the loop slows to the parser's pace).
 * Pure of logging. Every function but the worker's own is called on the loop thread.
 */
#ifndef FW_PARSEWORK_H
#define FW_PARSEWORK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "parse.h"

struct fw_parsework;

/* One document's parse, owned by the caller; zero it, then set parser, done and arg. */
struct fw_pstream {
	struct fw_parser *parser;
	/* Called on the loop thread once fw_parse_end has run (its value in end_rc). */
	void (*done)(struct fw_pstream *s, void *arg);
	void *arg;
	int end_rc;
	atomic_bool stopped; /* a push failed: the rest of the document is not parsed */
	/* parsework.c's own */
	bool ending; /* end asked, done not yet called (until then, maybe on the done list) */
	struct fw_pstream *next_done;
};

/* A worker on loop; max_queued: bytes that may wait for it. Returns 0 and *out, or
   -ENOMEM / -errno when the thread cannot start. */
int fw_parsework_new(uv_loop_t *loop, size_t max_queued, struct fw_parsework **out);

/* Queue len bytes (copied) for s's parser; waits while too much is queued. Returns 0, or
   -ENOMEM. Bytes pushed after s->stopped is set are dropped by the worker. */
int fw_parsework_push(struct fw_parsework *pw, struct fw_pstream *s, const char *data, size_t len);

/* The document is complete: its parse is ended in turn and s->done runs on the loop.
   Returns 0, or -ENOMEM. */
int fw_parsework_end(struct fw_parsework *pw, struct fw_pstream *s);

/* Forget s: its queued bytes are dropped, a running push finishes first, done will not
   run. Afterwards the caller may use or free s->parser on the loop thread. */
void fw_parsework_forget(struct fw_parsework *pw, struct fw_pstream *s);

/* Stop the thread (streams must all be forgotten or done) and close the handle; the struct
   is freed once libuv has closed it, then closed_cb(arg) runs. Accepts NULL. */
void fw_parsework_close(struct fw_parsework *pw, void (*closed_cb)(void *arg), void *arg);

#endif
