/* parsework.c - the parser thread: a queue of byte chunks and ends, run in order. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "parsework.h"

/* One queued piece of work: bytes for a stream's parser, or its end. */
struct job {
	struct job *next;
	struct fw_pstream *s;
	bool end;
	size_t len;
	char data[];
};

struct fw_parsework {
	uv_async_t async; /* the thread's word to the loop: some done are due */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work;  /* to the thread: a job was queued, or quit */
	pthread_cond_t space; /* to pushers: queued bytes went down */
	pthread_cond_t idle;  /* to forget: the running job finished */
	struct job *head, *tail;
	size_t queued, max_queued;
	struct fw_pstream *running;               /* whose job the thread runs */
	struct fw_pstream *done_head, *done_tail; /* ended, done not yet called */
	size_t ending;                            /* streams ending: the handle is ref'd */
	bool quit;
	void (*closed_cb)(void *arg);
	void *closed_arg;
};

static void run_job(struct job *j)
{
	struct fw_pstream *s = j->s;

	if (j->end)
		s->end_rc = fw_parse_end(s->parser);
	else if (!atomic_load_explicit(&s->stopped, memory_order_relaxed) &&
	         fw_parse_push(s->parser, j->data, j->len) < 0)
		atomic_store_explicit(&s->stopped, true, memory_order_relaxed);
}

static void *worker(void *arg)
{
	struct fw_parsework *pw = arg;

	pthread_mutex_lock(&pw->mu);
	for (;;) {
		struct job *j;

		while (pw->head == NULL && !pw->quit)
			pthread_cond_wait(&pw->work, &pw->mu);
		if (pw->head == NULL)
			break;
		j = pw->head;
		pw->head = j->next;
		if (pw->head == NULL)
			pw->tail = NULL;
		pw->queued -= j->len;
		pw->running = j->s;
		pthread_cond_broadcast(&pw->space);
		pthread_mutex_unlock(&pw->mu);

		run_job(j);

		pthread_mutex_lock(&pw->mu);
		pw->running = NULL;
		pthread_cond_broadcast(&pw->idle);
		if (j->end) {
			struct fw_pstream *s = j->s;

			s->next_done = NULL;
			if (pw->done_tail)
				pw->done_tail->next_done = s;
			else
				pw->done_head = s;
			pw->done_tail = s;
			uv_async_send(&pw->async);
		}
		free(j);
	}
	pthread_mutex_unlock(&pw->mu);
	return NULL;
}

/* Take s off the done list if it is there; with the mutex held. */
static void unlink_done(struct fw_parsework *pw, struct fw_pstream *s)
{
	struct fw_pstream **pp = &pw->done_head, *prev = NULL;

	while (*pp && *pp != s) {
		prev = *pp;
		pp = &(*pp)->next_done;
	}
	if (*pp == NULL)
		return;
	*pp = s->next_done;
	if (pw->done_tail == s)
		pw->done_tail = prev;
}

/* The stream's end is over (done called or forgotten): the loop need not wait for it. */
static void end_over(struct fw_parsework *pw, struct fw_pstream *s)
{
	s->ending = false;
	if (--pw->ending == 0)
		uv_unref((uv_handle_t *)&pw->async);
}

static void async_cb(uv_async_t *h)
{
	struct fw_parsework *pw = h->data;

	/* one at a time: a done may forget (free) another stream of the list */
	for (;;) {
		struct fw_pstream *s;

		pthread_mutex_lock(&pw->mu);
		s = pw->done_head;
		if (s)
			unlink_done(pw, s);
		pthread_mutex_unlock(&pw->mu);
		if (s == NULL)
			return;
		end_over(pw, s);
		s->done(s, s->arg);
	}
}

static void close_cb(uv_handle_t *h)
{
	struct fw_parsework *pw = h->data;
	void (*cb)(void *) = pw->closed_cb;
	void *arg = pw->closed_arg;

	pthread_mutex_destroy(&pw->mu);
	pthread_cond_destroy(&pw->work);
	pthread_cond_destroy(&pw->space);
	pthread_cond_destroy(&pw->idle);
	free(pw);
	if (cb)
		cb(arg);
}

int fw_parsework_new(uv_loop_t *loop, size_t max_queued, struct fw_parsework **out)
{
	struct fw_parsework *pw = calloc(1, sizeof(*pw));
	int r;

	if (pw == NULL)
		return -ENOMEM;
	pw->max_queued = max_queued;
	pthread_mutex_init(&pw->mu, NULL);
	pthread_cond_init(&pw->work, NULL);
	pthread_cond_init(&pw->space, NULL);
	pthread_cond_init(&pw->idle, NULL);
	r = uv_async_init(loop, &pw->async, async_cb);
	if (r == 0) {
		pw->async.data = pw;
		uv_unref((uv_handle_t *)&pw->async);
		r = -pthread_create(&pw->thread, NULL, worker, pw);
		if (r != 0) {
			uv_close((uv_handle_t *)&pw->async, close_cb); /* frees pw */
			return r;
		}
	}
	if (r != 0) {
		free(pw);
		return r;
	}
	*out = pw;
	return 0;
}

static int enqueue(struct fw_parsework *pw, struct fw_pstream *s, const char *data, size_t len,
                   bool end)
{
	struct job *j = malloc(sizeof(*j) + len);

	if (j == NULL)
		return -ENOMEM;
	j->next = NULL;
	j->s = s;
	j->end = end;
	j->len = len;
	if (len)
		memcpy(j->data, data, len);
	pthread_mutex_lock(&pw->mu);
	while (pw->queued > 0 && pw->queued + len > pw->max_queued)
		pthread_cond_wait(&pw->space, &pw->mu);
	if (pw->tail)
		pw->tail->next = j;
	else
		pw->head = j;
	pw->tail = j;
	pw->queued += len;
	pthread_cond_signal(&pw->work);
	pthread_mutex_unlock(&pw->mu);
	return 0;
}

int fw_parsework_push(struct fw_parsework *pw, struct fw_pstream *s, const char *data, size_t len)
{
	return len ? enqueue(pw, s, data, len, false) : 0;
}

int fw_parsework_end(struct fw_parsework *pw, struct fw_pstream *s)
{
	int r = enqueue(pw, s, NULL, 0, true);

	if (r == 0) {
		s->ending = true;
		if (pw->ending++ == 0)
			uv_ref((uv_handle_t *)&pw->async); /* the loop waits for this done */
	}
	return r;
}

void fw_parsework_forget(struct fw_parsework *pw, struct fw_pstream *s)
{
	struct job **pp;

	pthread_mutex_lock(&pw->mu);
	pp = &pw->head;
	pw->tail = NULL;
	while (*pp) {
		struct job *j = *pp;

		if (j->s == s) {
			*pp = j->next;
			pw->queued -= j->len;
			free(j);
		} else {
			pw->tail = j;
			pp = &j->next;
		}
	}
	pthread_cond_broadcast(&pw->space);
	while (pw->running == s)
		pthread_cond_wait(&pw->idle, &pw->mu);
	if (s->ending) /* only an ending stream can be on the done list */
		unlink_done(pw, s);
	pthread_mutex_unlock(&pw->mu);
	if (s->ending)
		end_over(pw, s);
}

void fw_parsework_close(struct fw_parsework *pw, void (*closed_cb)(void *arg), void *arg)
{
	if (pw == NULL)
		return;
	pthread_mutex_lock(&pw->mu);
	pw->quit = true;
	pthread_cond_signal(&pw->work);
	pthread_mutex_unlock(&pw->mu);
	pthread_join(pw->thread, NULL);
	pw->closed_cb = closed_cb;
	pw->closed_arg = arg;
	uv_close((uv_handle_t *)&pw->async, close_cb);
}
