/* httpd.c - a scripted loopback HTTP/1.1 server for unit tests (see httpd.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "httpd.h"

#define HEAD_MAX (64 * 1024)

/* What was asked of one path. */
struct rec {
	char *path;
	unsigned hits;
	char *last_head; /* the last request's header block */
	struct rec *next;
};

/* One connection and the thread that serves it. */
struct conn {
	struct fw_httpd *h;
	int fd;
	pthread_t thread;
	struct conn *next;
};

struct fw_httpd {
	const struct fw_httpd_route *routes;
	size_t n_routes;
	char **gz; /* gzip-encoded body of each route that asks for it */
	size_t *gz_len;
	int listen_fd;
	int stop_pipe[2]; /* written once by stop: every poll() here also waits on [0] */
	uint16_t port;
	pthread_t acceptor;
	pthread_mutex_t lock; /* guards everything below */
	struct conn *conns;
	struct rec *recs;
	unsigned busy, max_busy;
};

static int gzip_body(const char *in, size_t len, char **out, size_t *out_len)
{
	z_stream z = {0};
	uLong cap;
	char *buf;
	int r;

	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, (uLong)len) + 32;
	buf = malloc(cap);
	if (buf == NULL) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

/* Wait until fd is readable (1) or the server stops (0). */
static int wait_readable(struct fw_httpd *h, int fd)
{
	struct pollfd p[2] = {{.fd = h->stop_pipe[0], .events = POLLIN},
	                      {.fd = fd, .events = POLLIN}};

	for (;;) {
		int r = poll(p, 2, -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (p[0].revents & POLLIN))
			return 0;
		return 1;
	}
}

/* Sleep ms, or less when the server stops first; true if it did. */
static bool stopped_within(struct fw_httpd *h, int ms)
{
	struct pollfd p = {.fd = h->stop_pipe[0], .events = POLLIN};
	int r;

	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return r > 0;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The value of header name in a request head, copied into buf. */
static int head_value(const char *head, const char *name, char *buf, size_t size)
{
	size_t nlen = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
		const char *v = l + 2, *end;
		size_t n;

		if (strncasecmp(v, name, nlen) != 0 || v[nlen] != ':')
			continue;
		v += nlen + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = strstr(v, "\r\n");
		n = end ? (size_t)(end - v) : strlen(v);
		if (n >= size)
			return -ENOBUFS;
		memcpy(buf, v, n);
		buf[n] = 0;
		return 0;
	}
	return -ENOENT;
}

static struct rec *rec_of(struct fw_httpd *h, const char *path)
{
	for (struct rec *r = h->recs; r; r = r->next)
		if (strcmp(r->path, path) == 0)
			return r;
	return NULL;
}

static void record(struct fw_httpd *h, const char *path, const char *head)
{
	struct rec *r;

	pthread_mutex_lock(&h->lock);
	r = rec_of(h, path);
	if (r == NULL && (r = calloc(1, sizeof(*r))) != NULL) {
		r->path = strdup(path);
		r->next = h->recs;
		h->recs = r;
	}
	if (r) {
		r->hits++;
		free(r->last_head);
		r->last_head = strdup(head);
	}
	if (++h->busy > h->max_busy)
		h->max_busy = h->busy;
	pthread_mutex_unlock(&h->lock);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 404:
		return "Not Found";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

/* Answer one request. Returns 0 to keep the connection, -1 to close it. */
static int answer(struct fw_httpd *h, int fd, const char *path, const char *head)
{
	const struct fw_httpd_route *rt = NULL;
	char hdr[8192], inm[512];
	const char *body = NULL;
	size_t blen = 0, half;
	int status, n;
	size_t i;

	for (i = 0; i < h->n_routes; i++) {
		if (strcmp(h->routes[i].path, path) == 0) {
			rt = &h->routes[i];
			break;
		}
	}
	if (rt == NULL) {
		static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

		return send_all(fd, nf, sizeof(nf) - 1);
	}
	status = rt->status ? rt->status : 200;
	if (rt->etag && head_value(head, "If-None-Match", inm, sizeof(inm)) == 0 &&
	    strcmp(inm, rt->etag) == 0) {
		n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 304 Not Modified\r\nETag: %s\r\n\r\n",
		             rt->etag);
		return send_all(fd, hdr, (size_t)n);
	}
	if (rt->body) {
		body = rt->gzip ? h->gz[i] : rt->body;
		blen = rt->gzip ? h->gz_len[i] : (rt->body_len ? rt->body_len : strlen(rt->body));
	}
	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\n", status, reason(status));
	if (rt->no_length)
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Connection: close\r\n");
	else
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Content-Length: %zu\r\n", blen);
	n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "%s%s%s%s%s\r\n",
	              rt->gzip ? "Content-Encoding: gzip\r\n" : "", rt->etag ? "ETag: " : "",
	              rt->etag ? rt->etag : "", rt->etag ? "\r\n" : "",
	              rt->headers ? rt->headers : "");
	if (n < 0 || (size_t)n >= sizeof(hdr) || send_all(fd, hdr, (size_t)n) < 0)
		return -1;
	half = (rt->stall_ms || rt->cut) ? blen / 2 : blen;
	if (half && send_all(fd, body, half) < 0)
		return -1;
	if (rt->cut)
		return -1;
	if (rt->stall_ms && stopped_within(h, (int)rt->stall_ms))
		return -1;
	if (blen > half && send_all(fd, body + half, blen - half) < 0)
		return -1;
	return rt->no_length ? -1 : 0;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct fw_httpd *h = c->h;
	char *buf = malloc(HEAD_MAX + 1);
	size_t have = 0;

	while (buf) {
		char *end, path[1024], method[16];
		size_t used;
		ssize_t n;
		int keep;

		end = have ? strstr(buf, "\r\n\r\n") : NULL;
		if (end == NULL) {
			if (have == HEAD_MAX || wait_readable(h, c->fd) != 1)
				break;
			n = recv(c->fd, buf + have, HEAD_MAX - have, 0);
			if (n <= 0)
				break;
			have += (size_t)n;
			buf[have] = 0;
			continue;
		}
		end[2] = 0; /* the head, ending with its last header's CRLF */
		used = (size_t)(end - buf) + 4;
		if (sscanf(buf, "%15s %1023s", method, path) != 2)
			break;
		path[strcspn(path, "?")] = 0;
		record(h, path, buf);
		keep = answer(h, c->fd, path, buf);
		pthread_mutex_lock(&h->lock);
		h->busy--;
		pthread_mutex_unlock(&h->lock);
		if (keep < 0 || strcasestr(buf, "\r\nConnection: close\r\n"))
			break;
		/* requests carry no body here (GET): the rest is the next request */
		memmove(buf, buf + used, have - used);
		have -= used;
		buf[have] = 0;
	}
	free(buf);
	shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct fw_httpd *h = arg;

	while (wait_readable(h, h->listen_fd) == 1) {
		int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			continue;
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->h = h;
		c->fd = fd;
		if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_mutex_lock(&h->lock);
		c->next = h->conns;
		h->conns = c;
		pthread_mutex_unlock(&h->lock);
	}
	return NULL;
}

/* Start listening and serving. */
int fw_httpd_start(const struct fw_httpd_route *routes, size_t n, struct fw_httpd **out)
{
	struct fw_httpd *h = calloc(1, sizeof(*h));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int r = -ENOMEM;

	if (h == NULL)
		return -ENOMEM;
	h->routes = routes;
	h->n_routes = n;
	h->listen_fd = h->stop_pipe[0] = h->stop_pipe[1] = -1;
	pthread_mutex_init(&h->lock, NULL);
	h->gz = calloc(n + 1, sizeof(*h->gz));
	h->gz_len = calloc(n + 1, sizeof(*h->gz_len));
	if (h->gz == NULL || h->gz_len == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct fw_httpd_route *rt = &routes[i];

		if (rt->gzip && rt->body &&
		    (r = gzip_body(rt->body, rt->body_len ? rt->body_len : strlen(rt->body),
		                   &h->gz[i], &h->gz_len[i])) < 0)
			goto fail;
	}
	if (pipe2(h->stop_pipe, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	h->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->listen_fd < 0 || bind(h->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(h->listen_fd, 64) < 0 ||
	    getsockname(h->listen_fd, (struct sockaddr *)&a, &alen) < 0) {
		r = -errno;
		goto fail;
	}
	h->port = ntohs(a.sin_port);
	r = -pthread_create(&h->acceptor, NULL, accept_main, h);
	if (r < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	if (h->stop_pipe[0] >= 0) {
		close(h->stop_pipe[0]);
		close(h->stop_pipe[1]);
	}
	for (size_t i = 0; h->gz && i < n; i++)
		free(h->gz[i]);
	free(h->gz);
	free(h->gz_len);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return r < 0 ? r : -EIO;
}

/* The port. */
uint16_t fw_httpd_port(const struct fw_httpd *h)
{
	return h->port;
}

/* A URL on this server. */
char *fw_httpd_url(const struct fw_httpd *h, const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "http://127.0.0.1:%u%s", (unsigned)h->port, path);
	return buf;
}

/* Requests for one path. */
unsigned fw_httpd_hits(struct fw_httpd *h, const char *path)
{
	struct rec *r;
	unsigned n;

	pthread_mutex_lock(&h->lock);
	r = rec_of(h, path);
	n = r ? r->hits : 0;
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* A header of the last request for path. */
int fw_httpd_header(struct fw_httpd *h, const char *path, const char *name, char *buf, size_t size)
{
	struct rec *r;
	int ret = -ENOENT;

	pthread_mutex_lock(&h->lock);
	r = rec_of(h, path);
	if (r && r->last_head)
		ret = head_value(r->last_head, name, buf, size);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/* Peak of requests in service at once. */
unsigned fw_httpd_max_busy(struct fw_httpd *h)
{
	unsigned n;

	pthread_mutex_lock(&h->lock);
	n = h->max_busy;
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* Stop and free. */
struct fw_httpd *fw_httpd_stop(struct fw_httpd *h)
{
	if (h == NULL)
		return NULL;
	if (write(h->stop_pipe[1], "x", 1) != 1)
		abort(); /* the threads would never end */
	pthread_join(h->acceptor, NULL);
	/* the acceptor is gone: the list only shrinks here */
	while (h->conns) {
		struct conn *c = h->conns;

		h->conns = c->next;
		pthread_join(c->thread, NULL);
		close(c->fd);
		free(c);
	}
	while (h->recs) {
		struct rec *r = h->recs;

		h->recs = r->next;
		free(r->path);
		free(r->last_head);
		free(r);
	}
	close(h->listen_fd);
	close(h->stop_pipe[0]);
	close(h->stop_pipe[1]);
	for (size_t i = 0; i < h->n_routes; i++)
		free(h->gz[i]);
	free(h->gz);
	free(h->gz_len);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return NULL;
}
