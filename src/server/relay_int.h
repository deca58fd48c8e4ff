/* Internals of the relay (relay.h), shared by relay.c (the loop, accepting,
 * request heads, handing over), relay_call.c (one relayed call) and
 * relay_pool.c (idle connections to the runners). Everything here runs on
 * the relay's one thread. */
#ifndef BERTH_SERVER_RELAY_INT_H
#define BERTH_SERVER_RELAY_INT_H

#include "server/apps.h"
#include "server/proxy.h"
#include "server/relay.h"

#include "common/buf.h"

#include <http_parser.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#define RELAY_SCRATCH     (64u << 10)  /* one read; at least BERTH_FRONT_HEADER_MAX */
#define RELAY_HEADERS_MAX 100          /* request headers the relay reads */
#define RELAY_OUT_HIGH    (256u << 10) /* unsent to the client: stop reading the runner */
#define RELAY_POOL_MAX    32           /* idle connections kept to one runner */
#define RELAY_IDLE_S      4.0          /* ... for this long (uvicorn's own limit is 5 s) */
#define RELAY_EVENTS      64
#define RELAY_DRAIN_S     30.0 /* a stopping server lets calls in flight finish this long */

enum relay_kind { RELAY_LISTEN, RELAY_WAKE, RELAY_CLIENT, RELAY_UPSTREAM, RELAY_IDLE };

/* What an epoll event is about: the first member of what it points to. */
struct relay_tag {
	enum relay_kind kind;
	union {
		struct relay_conn *conn;
		struct relay_idle *idle;
	};
};

enum relay_state {
	RELAY_HEAD, /* between requests: the next head is awaited (peeked) */
	RELAY_BODY, /* a call taken, its body being read */
	RELAY_CALL, /* the call at the runner, its answer going back */
};

struct relay_header {
	const char *name, *value;
	size_t nlen, vlen;
};

/* A client's connection, and the call on it. */
struct relay_conn {
	struct relay_tag ctag, utag; /* events on fd, on ufd */
	struct relay_conn *prev, *next;
	int fd, ufd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	enum relay_state state;
	double deadline; /* idle or request timeout; 0: none */
	bool rdhup;      /* the client has shut its sending side */

	/* The call: set by the head, for the runner. */
	struct srv_slot slot;
	bool slotted; /* the slot is held (released once the answer is in) */
	char id[128]; /* x-berth-request-id */
	int64_t timeout_ms;
	double t0;
	bool keep_alive; /* the client's connection stays open after */
	size_t body_left;
	struct berth_buf req; /* head and body for the runner */
	size_t req_off;

	/* The runner's answer. */
	bool reused, retried; /* ufd came from the pool; a fresh one was tried */
	bool got_bytes;       /* any byte of the answer came */
	bool interim;         /* parsing a 1xx */
	bool in_value;        /* a header's value is being read */
	bool head_sent;       /* the answer's head is queued for the client */
	bool chunked;         /* ... re-framed in chunks */
	bool done;            /* the answer is complete (or replaced by an error) */
	bool paused;          /* the client is behind: the runner is not read */
	bool want_out;        /* ufd is watched for room to write */
	bool up_reusable;     /* the runner's connection can serve another call */
	int status;
	enum srv_outcome outcome;
	http_parser up;
	struct berth_buf hdrs; /* "Name: value\r\n"..., hop-by-hop dropped */
	struct berth_buf field, value;
	char reason[64];
	struct berth_buf out; /* for the client */
	size_t out_off;
};

/* An idle keep-alive connection to a runner. */
struct relay_idle {
	struct relay_tag tag;
	struct relay_idle *prev, *next;
	int fd;
	unsigned port;
	char runner[17];
	double since;
};

struct srv_relay {
	struct berth_srv *srv;
	struct MHD_Daemon *mhd;
	int lfd, ep, wake;
	struct relay_tag ltag, wtag;
	pthread_t thread;
	bool stopping; /* set by srv_relay_stop (atomically), read on wake-up */
	bool draining; /* the loop saw it */
	double drain_until;
	double accept_resume; /* > 0: the listen socket is unwatched until then (EMFILE) */
	struct relay_conn *conns, *dead; /* dead: closed, freed after the events */
	unsigned nconns, conn_max, ncalls;
	struct relay_idle *idle, *dead_idle;
	unsigned nidle;
	double next_deadline, next_pool_check;
	uint64_t id_next, id_key; /* request ids (relay.c) */
	char scratch[RELAY_SCRATCH];
};

/* relay.c */
void relay_watch(struct srv_relay *r, int op, int fd, uint32_t events, struct relay_tag *tag);
void relay_set_deadline(struct srv_relay *r, struct relay_conn *c, double when);
void relay_client_readable(struct srv_relay *r, struct relay_conn *c);
void relay_close(struct srv_relay *r, struct relay_conn *c);
void relay_drain(struct srv_relay *r);
void relay_add_uint(struct berth_buf *b, unsigned long long n);

/* relay_call.c */
void relay_call_start(struct srv_relay *r, struct relay_conn *c);
void relay_client_event(struct srv_relay *r, struct relay_conn *c, uint32_t events);
void relay_upstream_event(struct srv_relay *r, struct relay_conn *c, uint32_t events);
void relay_call_timeout(struct srv_relay *r, struct relay_conn *c);
/* Cut the call short (the client is gone): slot and runner connection
 * given back. Nothing when no call is on. */
void relay_call_abort(struct srv_relay *r, struct relay_conn *c);

/* relay_pool.c */
int relay_pool_take(struct srv_relay *r, unsigned port, const char *runner);
void relay_pool_put(struct srv_relay *r, int fd, unsigned port, const char *runner);
void relay_pool_drop(struct srv_relay *r, struct relay_idle *x);
/* Drop what has idled past RELAY_IDLE_S (everything when now < 0). */
void relay_pool_expire(struct srv_relay *r, double now);
/* Free the entries taken or dropped (kept until the events are handled). */
void relay_pool_free_dead(struct srv_relay *r);

#endif
