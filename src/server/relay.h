/* The relay: the gateway's fast path for sync calls.
 *
 * `berth serve` owns its listening socket here. One thread runs an epoll
 * loop that accepts every connection and reads each request head without
 * consuming it (MSG_PEEK). A sync call that can be served at once (POST or
 * GET /run/{app}/..., HTTP/1.1, a Content-Length body or none, the caller
 * allowed, a ready runner with a free slot) is relayed by the loop itself:
 * the request to the runner over a pooled keep-alive connection, the answer
 * parsed (http-parser) and streamed back as it arrives, with the runner's
 * framing kept or re-chunked, the request timeout as a 504. Anything else
 * (the admin API, the queue, a cold start, an error to explain, a chunked
 * upload, HTTP/1.0, a request head too large) goes, with nothing of it
 * read, to libmicrohttpd's thread-per-connection server (http.c) through
 * MHD_add_connection(), which answers it as before. So the hot path costs
 * no thread switch and no libcurl set-up per request, and everything else
 * keeps one implementation. docs/design-changes.md has the measurements. */
#ifndef BERTH_SERVER_RELAY_H
#define BERTH_SERVER_RELAY_H

#include "server/server_int.h"

#include <netinet/in.h>

struct MHD_Daemon;
struct srv_relay;

/* A listening TCP socket on `sa` (non-blocking, close-on-exec). */
int srv_relay_listen(const struct sockaddr_in *sa, struct berth_err **err);

/* Serve `listen_fd` (taken over: closed by srv_relay_stop) on a thread of
 * its own, handing what it does not relay to `mhd` (started with
 * MHD_USE_NO_LISTEN_SOCKET). */
int srv_relay_start(struct berth_srv *srv, int listen_fd, struct MHD_Daemon *mhd,
		    struct srv_relay **out, struct berth_err **err);

/* Stop accepting, let the calls in flight finish (each within its own
 * request timeout, all within RELAY_DRAIN_S, 30 s), close every
 * connection, free. NULL is fine. */
void srv_relay_stop(struct srv_relay *r);

#endif
