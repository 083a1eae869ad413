/* net.c - libcurl multi <-> libuv glue (after curl's docs/examples/multi-uv.c). */
#include <errno.h>
#include <stdlib.h>

#include "net.h"

struct fw_net {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer; /* curl's timeout; fires socket_action(CURL_SOCKET_TIMEOUT) */
	size_t active;
	struct transfer *transfers;
	int open_handles; /* libuv handles not yet closed (the timer, polls) */
	int closing;
	void (*closed_cb)(void *arg);
	void *closed_arg;
};

/* One transfer's glue record, stored in CURLOPT_PRIVATE. */
struct transfer {
	fw_net_done_cb cb;
	void *arg;
	CURL *easy;
	struct transfer *prev, *next; /* every transfer in flight, for shutdown */
};

/* One socket curl asked us to watch; freed in its close callback. */
struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct fw_net *net;
};

static void unlink_transfer(struct fw_net *net, struct transfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		net->transfers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	net->active--;
}

static void maybe_free(struct fw_net *net)
{
	if (net->closing && net->open_handles == 0) {
		void (*cb)(void *) = net->closed_cb;
		void *arg = net->closed_arg;

		free(net);
		if (cb)
			cb(arg);
	}
}

static void sock_close_cb(uv_handle_t *h)
{
	struct sock *s = h->data;
	struct fw_net *net = s->net;

	free(s);
	net->open_handles--;
	maybe_free(net);
}

/* Drain finished transfers: after every socket_action (curl's rule). */
static void drain(struct fw_net *net)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(net->multi, &left))) {
		struct transfer *t = NULL;
		CURL *easy;
		CURLcode res;

		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		res = msg->data.result;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
		curl_multi_remove_handle(net->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (t) {
			fw_net_done_cb cb = t->cb;
			void *arg = t->arg;

			unlink_transfer(net, t);
			free(t);
			cb(easy, res, arg);
		}
	}
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	struct sock *s = p->data;
	struct fw_net *net = s->net;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(net->multi, s->fd, flags, &running);
	drain(net);
}

static void timer_cb(uv_timer_t *t)
{
	struct fw_net *net = t->data;
	int running;

	curl_multi_socket_action(net->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(net);
}

/* CURLMOPT_TIMERFUNCTION: never call curl from here; a 0 ms timer does it on the loop. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct fw_net *net = userp;

	if (timeout_ms < 0)
		uv_timer_stop(&net->timer);
	else
		uv_timer_start(&net->timer, timer_cb, (uint64_t)timeout_ms, 0);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch, re-arm or forget a socket. */
static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct fw_net *net = userp;
	struct sock *s = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			curl_multi_assign(net->multi, fd, NULL);
			uv_close((uv_handle_t *)&s->poll, sock_close_cb);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
		s->fd = fd;
		s->net = net;
		if (uv_poll_init_socket(net->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		net->open_handles++;
		curl_multi_assign(net->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, poll_cb);
	return 0;
}

/* Create the multi handle and its timer. */
int fw_net_new(uv_loop_t *loop, long max_total, long max_host, struct fw_net **out)
{
	struct fw_net *net = calloc(1, sizeof(*net));

	if (net == NULL)
		return -ENOMEM;
	net->loop = loop;
	net->multi = curl_multi_init();
	if (net->multi == NULL) {
		free(net);
		return -ENOMEM;
	}
	uv_timer_init(loop, &net->timer);
	net->timer.data = net;
	net->open_handles = 1;
	curl_multi_setopt(net->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(net->multi, CURLMOPT_SOCKETDATA, net);
	curl_multi_setopt(net->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(net->multi, CURLMOPT_TIMERDATA, net);
	curl_multi_setopt(net->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	if (max_total > 0)
		curl_multi_setopt(net->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total);
	if (max_host > 0)
		curl_multi_setopt(net->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host);
	/* Keep idle connections for reuse, bounded. */
	curl_multi_setopt(net->multi, CURLMOPT_MAXCONNECTS, max_total > 0 ? max_total : 64L);
	*out = net;
	return 0;
}

/* Start a transfer. */
int fw_net_add(struct fw_net *net, CURL *easy, fw_net_done_cb cb, void *arg)
{
	struct transfer *t;

	if (net->closing)
		return -ESHUTDOWN;
	t = malloc(sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->cb = cb;
	t->arg = arg;
	t->easy = easy;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	if (curl_multi_add_handle(net->multi, easy) != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(t);
		return -EIO;
	}
	t->prev = NULL;
	t->next = net->transfers;
	if (t->next)
		t->next->prev = t;
	net->transfers = t;
	net->active++;
	return 0;
}

/* Abort one transfer without its callback. */
void fw_net_cancel(struct fw_net *net, CURL *easy)
{
	struct transfer *t = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
	if (t == NULL)
		return;
	curl_multi_remove_handle(net->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	unlink_transfer(net, t);
	free(t);
}

/* Transfers in flight. */
size_t fw_net_active(const struct fw_net *net)
{
	return net->active;
}

static void timer_close_cb(uv_handle_t *h)
{
	struct fw_net *net = h->data;

	net->open_handles--;
	maybe_free(net);
}

/* Abort everything and close. */
void fw_net_close(struct fw_net *net, void (*closed_cb)(void *arg), void *arg)
{
	if (net == NULL)
		return;
	net->closing = 1;
	net->closed_cb = closed_cb;
	net->closed_arg = arg;
	while (net->transfers) {
		struct transfer *t = net->transfers;
		fw_net_done_cb cb = t->cb;
		void *targ = t->arg;
		CURL *easy = t->easy;

		curl_multi_remove_handle(net->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		unlink_transfer(net, t);
		free(t);
		cb(easy, CURLE_ABORTED_BY_CALLBACK, targ);
	}
	/* Cleanup tells the socket callback to forget every socket: polls get closed there. */
	curl_multi_cleanup(net->multi);
	net->multi = NULL;
	uv_timer_stop(&net->timer);
	uv_close((uv_handle_t *)&net->timer, timer_close_cb);
}
