/*
 * httpd.h - a scripted HTTP/1.1 server on 127.0.0.1 for the unit tests of the network
 * rooms (net, fetch). It listens on port 0 (the kernel picks a free one), serves each
 * connection on a thread of its own (keep-alive honoured), answers every path from a route
 * table the test wrote, and records what it was asked: hits per path, the last request's
 * headers, and how many requests it was serving at once.
 *
 * Shapes a route can take: a status with a body and headers; an ETag that turns a
 * matching If-None-Match into a 304; a gzip-encoded body; a body that stalls half-way (a
 * slow or hung server) or is cut off (the connection closed mid-body). Redirects are a
 * status with a "Location: ..." header.
 *
 * Thread-safe: the test's thread reads the records while the server's threads serve.
 * fw_httpd_stop wakes every stalled answer, joins every thread and frees everything.
 */
#ifndef FW_TEST_HTTPD_H
#define FW_TEST_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the server answers for one path. The table and its strings must outlive the
   server. */
struct fw_httpd_route {
	const char *path;    /* exact path; a query string in the request is ignored */
	int status;          /* 200 when 0 */
	const char *headers; /* extra header lines, each ending in "\r\n", or NULL */
	const char *body;    /* NULL: no body */
	size_t body_len;     /* strlen(body) when 0 */
	const char *etag;    /* sent as ETag; If-None-Match equal to it gets a 304 */
	bool gzip;           /* send the body gzip-compressed, with Content-Encoding: gzip */
	unsigned stall_ms;   /* send the headers and half the body, then wait this long (or
				until the server stops) before the rest */
	bool cut;            /* send the headers and half the body, then close the connection */
	bool no_length;      /* no Content-Length: the body ends when the connection closes */
};

struct fw_httpd;

/* Start a server for n routes. Returns 0 and *out, or -errno. */
int fw_httpd_start(const struct fw_httpd_route *routes, size_t n, struct fw_httpd **out);

/* The port it listens on. */
uint16_t fw_httpd_port(const struct fw_httpd *h);

/* "http://127.0.0.1:PORT" + path into buf (size bytes); returns buf. */
char *fw_httpd_url(const struct fw_httpd *h, const char *path, char *buf, size_t size);

/* Requests received for path (any path not in the table counts under its own name too). */
unsigned fw_httpd_hits(struct fw_httpd *h, const char *path);

/* The value of header name (case-insensitive) in the last request for path: returns 0 and
   a copy in buf, -ENOENT when there was no such request or header, -ENOBUFS when it does
   not fit. */
int fw_httpd_header(struct fw_httpd *h, const char *path, const char *name, char *buf, size_t size);

/* The most requests the server was answering at the same time. */
unsigned fw_httpd_max_busy(struct fw_httpd *h);

/* Stop: wake stalled answers, close every connection, join the threads, free. Accepts
   NULL; returns NULL. */
struct fw_httpd *fw_httpd_stop(struct fw_httpd *h);

#endif
