/* Forwarding a request to a runner (proxy.c): shared by `berth run`'s front
 * and the gateway. Internal to server/. */
#ifndef BERTH_SERVER_PROXY_H
#define BERTH_SERVER_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

/* The most of an upstream's response headers that is kept. */
#define BERTH_PROXY_HEADERS_MAX (64u << 10)

struct berth__proxy_req {
	const char *method;
	const char *url;                  /* full: "http://127.0.0.1:PORT/path?query" */
	const struct berth_strv *headers; /* "Name: value", hop-by-hop already dropped */
	const char *body;
	size_t body_len;
	int64_t timeout_ms; /* the whole exchange; 0: none */
};

struct berth__proxy;

/* Load libcurl and set it up now (once per process): a server calls it at
 * start, so no dlopen() happens under load, where running out of
 * descriptors would make it fail (and berth_dl_load abort). */
void berth__proxy_preload(void);

/* Send the request and wait for the answer's status and headers. Errors:
 * TIMEOUT (the timeout passed first), SYS (refused, reset, ...). */
int berth__proxy_begin(const struct berth__proxy_req *rq, struct berth__proxy **out,
		       struct berth_err **err);
int berth__proxy_status(const struct berth__proxy *x);
/* "Name: value\r\n" lines, without hop-by-hop headers; borrowed. */
const char *berth__proxy_headers(const struct berth__proxy *x);
/* The answer's Content-Length, or -1 when it has none (chunked, or read to
 * the close): a front passes it on rather than answer chunked. */
int64_t berth__proxy_content_length(const struct berth__proxy *x);
/* Up to max body bytes, blocking until some come: > 0 bytes, 0 at the end,
 * -1 when the transfer failed (berth__proxy_error says why). */
ssize_t berth__proxy_read(struct berth__proxy *x, char *buf, size_t max);
const char *berth__proxy_error(const struct berth__proxy *x);
bool berth__proxy_timed_out(const struct berth__proxy *x);
void berth__proxy_free(struct berth__proxy *x);

/* Whether a header (name of `len` bytes) is hop-by-hop or set by the
 * transport (RFC 9110 7.6.1; Host, Content-Length, Expect). */
bool berth__hop_header(const char *name, size_t len);

#endif
