/* server/: berth's HTTP side. libmicrohttpd serves, libcurl forwards to the
 * runners (both loaded on first use, see common/dl.h).
 *
 * So far: the front that `berth run` puts before its one runner (every
 * request forwarded, responses streamed back as they come, so Server-Sent
 * Events pass through), and the readiness probe. The gateway of `berth
 * serve` builds on the same forwarding. */
#ifndef BERTH_SERVER_H
#define BERTH_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

/* The largest request body a front accepts by default (413 above it). */
#define BERTH_FRONT_BODY_MAX (64u << 20)
/* The largest request header block (431 above it). */
#define BERTH_FRONT_HEADER_MAX (64u << 10)
/* A connection idle this long is closed. */
#define BERTH_HTTP_IDLE_TIMEOUT_S 300u

/* The most connections one HTTP daemon (front or gateway) holds at once:
 * the descriptors this process may open, less a reserve for runners, the
 * database and upstream calls. (libmicrohttpd's own default is select()'s
 * 1020; berth's daemons poll(), so past 1024 is fine.) Past it, new
 * connections wait in the listen backlog. */
unsigned berth_http_connection_limit(void);

/* Where the front is in the runner's life, for the answer it gives while
 * no runner can take a request. */
enum berth_front_state {
	BERTH_FRONT_STARTING, /* 503 {"detail": "the app is starting ..."} */
	BERTH_FRONT_READY,    /* forward */
	BERTH_FRONT_STOPPING, /* 503 {"detail": "the app is stopping"} */
};

struct berth_front_opts {
	const char *host;           /* address to listen on, "127.0.0.1" */
	unsigned port;              /* 0: any free port (see berth_front_port) */
	const char *upstream;       /* base URL of the runner, "http://127.0.0.1:PORT" */
	size_t body_max;            /* 0: BERTH_FRONT_BODY_MAX */
	int64_t request_timeout_ms; /* 0: none; past it the answer is 504 */
	const char *app;            /* name, for messages */
	FILE *access_log;           /* one line per request, or NULL */
};

struct berth_front;

/* Listen and serve on threads of its own. Errors: the address is taken, ... */
int berth_front_start(const struct berth_front_opts *o, struct berth_front **out,
		      struct berth_err **err);
unsigned berth_front_port(const struct berth_front *f);
void berth_front_set_state(struct berth_front *f, enum berth_front_state s);
/* Stop listening, finish (or cut) what is in flight, free. NULL is fine. */
void berth_front_stop(struct berth_front *f);

/* One readiness probe: `method` `url` with a timeout, and one more request
 * header ("Name: value") unless header is NULL. 0 with *status the HTTP
 * status when an answer came (any status); an error (connection refused,
 * timed out, ...) otherwise. */
int berth_http_probe(const char *url, const char *method, const char *header, int64_t timeout_ms,
		     long *status, struct berth_err **err);

/* `berth serve`: the platform. */
struct berth_server_opts {
	const char *home;   /* $BERTH_HOME */
	const char *listen; /* "127.0.0.1:PORT" */
	const char *berth;  /* the berth binary, for build workers */
};

/* Serve until SIGINT or SIGTERM (the calling thread waits for them; block
 * nothing else). Resumes every deployed app and every accepted request. */
int berth_server_run(const struct berth_server_opts *o, struct berth_err **err);

/* A free TCP port on 127.0.0.1 right now (the kernel's pick). */
int berth_free_port(unsigned *port, struct berth_err **err);

#endif
