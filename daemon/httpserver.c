/* httpserver.c - libmicrohttpd in external mode, driven by libuv (no MHD thread). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "httpserver.h"

/* One connection: when its current request began, for the deadline. */
struct conn {
	struct conn *prev, *next;
	int fd;
	uint64_t start; /* ms (CLOCK_MONOTONIC): connection opened or last request ended */
	bool cut;       /* shut down for its deadline: MHD closes it on its next run */
};

struct fw_httpserver {
	uv_loop_t *loop;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;   /* MHD's epoll descriptor */
	uv_timer_t timer; /* MHD's next timeout */
	int open_handles;
	struct fw_httpserver_limits lim;
	fw_httpserver_cb cb;
	void *arg;
	struct fw_httpserver_stats stats;
	size_t buffered;    /* body bytes held by all connections */
	struct conn *conns; /* open connections */
	uint64_t deadline;  /* ms one request may take: conn_timeout x FW_HTTPSERVER_DEADLINE */
	size_t discard_max; /* body bytes dropped before a connection is closed */
};

/* One request being received. */
struct req {
	char *body;
	size_t len;
	bool refused;      /* a 413 is queued: the rest of the body is dropped */
	unsigned deferred; /* 413 or 503 to answer once the body has ended (MHD 0.9.75 takes
	                       no response while upload data is pending), or 0 */
	size_t discarded;  /* body bytes dropped since then (read, never kept) */
};

static void drive(struct fw_httpserver *s);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool past_deadline(const struct fw_httpserver *s, const struct conn *c, uint64_t now)
{
	return c && now - c->start > s->deadline;
}

/* Connections past their deadline whatever phase they are in (a request line or headers
   trickled in get no callback): shut down, so that MHD sees them end on its next run. */
static void cut_late(struct fw_httpserver *s)
{
	uint64_t now = now_ms();

	for (struct conn *c = s->conns; c; c = c->next)
		if (!c->cut && past_deadline(s, c, now)) {
			c->cut = true;
			s->stats.too_slow++;
			shutdown(c->fd, SHUT_RDWR);
		}
}

static struct conn *conn_of(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void timer_cb(uv_timer_t *t)
{
	drive(t->data);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	drive(p->data);
}

/* Let MHD work, then wait for its descriptor or its next timeout (at most a second while
   connections are open: their deadlines are checked then). */
static void drive(struct fw_httpserver *s)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	bool has;

	cut_late(s);
	MHD_run(s->mhd);
	has = MHD_get_timeout(s->mhd, &ms) == MHD_YES;
	if (s->conns && (!has || ms > 1000)) {
		has = true;
		ms = 1000;
	}
	if (has)
		uv_timer_start(&s->timer, timer_cb, (uint64_t)ms, 0);
	else
		uv_timer_stop(&s->timer);
}

static const char *arg_of(const struct fw_httpserver_request *r, const char *key)
{
	return MHD_lookup_connection_value(r->impl, MHD_GET_ARGUMENT_KIND, key);
}

static const char *header_of(const struct fw_httpserver_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->impl, MHD_HEADER_KIND, name);
}

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, char *body, size_t len,
                             const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r;

	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type ? type : "text/plain; charset=utf-8");
	r = MHD_queue_response(con, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Refuse q with status once its body has ended: what it held is let go now, the rest of
   the body is read and dropped. A body not said up front (chunked) can only be found too
   big while it arrives, and MHD 0.9.75 takes no response while upload data is pending (a
   queued one fails and the connection would close unanswered). */
static void refuse_later(struct fw_httpserver *s, struct req *q, unsigned status, size_t *size)
{
	q->deferred = status;
	q->discarded = *size;
	s->buffered -= q->len;
	free(q->body);
	q->body = NULL;
	q->len = 0;
	*size = 0;
}

/* Append a chunk of the body, or refuse the request when it would pass max_body. */
static enum MHD_Result take_body(struct fw_httpserver *s, struct req *q, const char *data,
                                 size_t *size)
{
	char *b;

	if (q->refused) {
		*size = 0;
		return MHD_YES;
	}
	if (q->deferred) {
		/* dropping is cheap, yet not endless: past FW_HTTPSERVER_DISCARD bodies' worth
		   the sender is not a hub that will read a 413 */
		size_t cap = s->discard_max;

		if (q->discarded > cap || *size > cap - q->discarded)
			return MHD_NO;
		q->discarded += *size;
		*size = 0;
		return MHD_YES;
	}
	if (*size > s->lim.max_body - q->len) {
		s->stats.too_big++;
		refuse_later(s, q, MHD_HTTP_CONTENT_TOO_LARGE, size);
		return MHD_YES;
	}
	/* all connections together hold at most FW_HTTPSERVER_BODIES bodies' worth */
	if (*size > s->lim.max_body * FW_HTTPSERVER_BODIES - s->buffered) {
		s->stats.busy++;
		refuse_later(s, q, MHD_HTTP_SERVICE_UNAVAILABLE, size);
		return MHD_YES;
	}
	b = realloc(q->body, q->len + *size + 1);
	if (b == NULL)
		return MHD_NO;
	memcpy(b + q->len, data, *size);
	q->body = b;
	q->len += *size;
	s->buffered += *size;
	q->body[q->len] = 0;
	*size = 0;
	return MHD_YES;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
	struct fw_httpserver *s = cls;
	struct req *q = *con_cls;
	struct fw_httpserver_request rq = {
	    .method = method, .path = url, .arg = arg_of, .header = header_of, .impl = con};
	struct fw_httpserver_reply rp = {.status = 500};
	struct conn *c;
	const char *cl;

	(void)version;
	if ((c = conn_of(con)) && past_deadline(s, c, now_ms())) {
		s->stats.too_slow += !c->cut;
		c->cut = true;
		return MHD_NO; /* closed unanswered */
	}
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		*con_cls = q;
		cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > s->lim.max_body) {
			q->refused = true; /* said up front: refused before a byte is read */
			s->stats.too_big++;
			return reply(con, MHD_HTTP_CONTENT_TOO_LARGE, NULL, 0, NULL);
		}
		return MHD_YES;
	}
	if (*upload_size > 0)
		return take_body(s, q, upload, upload_size);
	if (q->refused)
		return MHD_YES;
	if (q->deferred) { /* the body has ended: now the refusal can be queued */
		q->refused = true;
		return reply(con, q->deferred, NULL, 0, NULL);
	}
	s->stats.requests++;
	rq.body = q->body ? q->body : "";
	rq.body_len = q->len;
	s->cb(&rq, &rp, s->arg);
	return reply(con, rp.status, rp.body, rp.body_len, rp.content_type);
}

static void completed_cb(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct fw_httpserver *s = cls;
	struct req *q = *con_cls;
	struct conn *c = conn_of(con);

	(void)toe;
	if (c) /* the next request on this connection gets its own time */
		c->start = now_ms();
	if (q) {
		s->buffered -= q->len;
		free(q->body);
		free(q);
	}
	*con_cls = NULL;
}

/* A connection opened (tracked for its deadline) or closed. */
static void conn_cb(void *cls, struct MHD_Connection *con, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
	struct fw_httpserver *s = cls;
	struct conn *c = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL || (c = calloc(1, sizeof(*c))) == NULL)
			return; /* untracked: MHD's idle timeout still holds */
		c->fd = ci->connect_fd;
		c->start = now_ms();
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		*socket_context = c;
		return;
	}
	if (c == NULL)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	*socket_context = NULL;
}

/* "ADDRESS:PORT" to a socket address. 0 or -EINVAL. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6)
{
	const char *colon = strrchr(listen, ':');
	char host[64];
	size_t n = colon ? (size_t)(colon - listen) : 0;
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || *end || port < 0 || port > 65535 || n == 0 || n >= sizeof(host))
		return -EINVAL;
	*v6 = listen[0] == '[';
	if (*v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (n < 3 || listen[n - 1] != ']')
			return -EINVAL;
		memcpy(host, listen + 1, n - 2);
		host[n - 2] = 0;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	memcpy(host, listen, n);
	host[n] = 0;
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1 ? 0 : -EINVAL;
}

/* See httpserver.h. */
int fw_httpserver_new(uv_loop_t *loop, const char *listen, const struct fw_httpserver_limits *lim,
                      fw_httpserver_cb cb, void *arg, struct fw_httpserver **out, char *err,
                      size_t errlen)
{
	struct fw_httpserver *s;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	bool v6 = false;
	int r;

	if (parse_listen(listen, &ss, &v6) < 0) {
		snprintf(err, errlen, "bad listen address '%s'", listen);
		return -EINVAL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->loop = loop;
	s->lim = *lim;
	s->cb = cb;
	s->arg = arg;
	s->deadline = (uint64_t)lim->conn_timeout * FW_HTTPSERVER_DEADLINE * 1000;
	s->discard_max = lim->max_body < FW_HTTPSERVER_DISCARD_MAX / FW_HTTPSERVER_DISCARD
	                     ? lim->max_body * FW_HTTPSERVER_DISCARD
	                     : FW_HTTPSERVER_DISCARD_MAX;
	errno = 0;
	s->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | (v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, access_cb, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)lim->max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)(lim->max_conns_per_ip ? lim->max_conns_per_ip : lim->max_conns),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)lim->conn_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)lim->max_header,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s, MHD_OPTION_NOTIFY_CONNECTION, conn_cb, s,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		r = errno ? -errno : -EADDRINUSE;
		snprintf(err, errlen, "cannot listen on %s: %s", listen, strerror(-r));
		free(s);
		return r;
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	s->open_handles = 1;
	if (info == NULL || (r = uv_poll_init(loop, &s->poll, info->epoll_fd)) < 0) {
		snprintf(err, errlen, "cannot watch the callback server's descriptor");
		fw_httpserver_close(s);
		return -EIO;
	}
	s->poll.data = s;
	s->open_handles++;
	uv_poll_start(&s->poll, UV_READABLE, poll_cb);
	drive(s);
	*out = s;
	return 0;
}

/* See httpserver.h. */
void fw_httpserver_stats(const struct fw_httpserver *s, struct fw_httpserver_stats *out)
{
	*out = s->stats;
}

static void close_cb(uv_handle_t *h)
{
	struct fw_httpserver *s = h->data;

	if (--s->open_handles == 0)
		free(s);
}

/* See httpserver.h. */
void fw_httpserver_close(struct fw_httpserver *s)
{
	if (s == NULL)
		return;
	/* libuv lets go of the descriptor (uv_close) before MHD closes it */
	if (s->open_handles == 2) {
		uv_poll_stop(&s->poll);
		uv_close((uv_handle_t *)&s->poll, close_cb);
	}
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, close_cb);
	MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
}
