/* The relay's loop: accepting, reading request heads without consuming
 * them, and handing to libmicrohttpd what it does not relay (relay.h says
 * why). relay_call.c is one relayed call, from the runner's connection to
 * the last byte of its answer. */
#include "server/relay_int.h"

#include "common/encode.h"
#include "common/log.h"
#include "server/hp_api.h"
#include "server/mhd_api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

int srv_relay_listen(const struct sockaddr_in *sa, struct berth_err **err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return berth_err_sys(err, errno, "socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		char host[INET_ADDRSTRLEN] = "?";
		inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host));
		return berth_err_sys(err, e, "listen on %s:%u (is another server using the port?)",
				     host, ntohs(sa->sin_port));
	}
	return fd;
}

/* ------------------------------------------------------------ epoll */

void relay_watch(struct srv_relay *r, int op, int fd, uint32_t events, struct relay_tag *tag)
{
	struct epoll_event ev = {.events = events, .data.ptr = tag};
	if (epoll_ctl(r->ep, op, fd, &ev) < 0 && op != EPOLL_CTL_DEL)
		berth_log(BERTH_LOG_ERROR, "relay: epoll_ctl(%d, fd %d): %s", op, fd,
			  strerror(errno));
}

void relay_set_deadline(struct srv_relay *r, struct relay_conn *c, double when)
{
	c->deadline = when;
	if (when > 0 && (r->next_deadline == 0 || when < r->next_deadline))
		r->next_deadline = when;
}

/* --------------------------------------------------------- connections */

static void conn_unlink(struct srv_relay *r, struct relay_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->nconns--;
}

static void conn_free(struct relay_conn *c)
{
	berth_buf_release(&c->req);
	berth_buf_release(&c->out);
	berth_buf_release(&c->hdrs);
	berth_buf_release(&c->field);
	berth_buf_release(&c->value);
	free(c);
}

/* Freed after the events of this epoll_wait are handled: a later one may
 * still point to it (its fd -1 says it is gone). */
static void bury(struct srv_relay *r, struct relay_conn *c)
{
	conn_unlink(r, c);
	c->fd = -1;
	c->next = r->dead;
	r->dead = c;
}

static void free_dead(struct srv_relay *r)
{
	while (r->dead) {
		struct relay_conn *c = r->dead;
		r->dead = c->next;
		conn_free(c);
	}
	relay_pool_free_dead(r);
}

void relay_close(struct srv_relay *r, struct relay_conn *c)
{
	if (c->fd < 0)
		return;
	relay_call_abort(r, c);
	/* Out of the epoll set first: a child being spawned may hold the
	 * socket a moment, and close() alone would leave it in. */
	relay_watch(r, EPOLL_CTL_DEL, c->fd, 0, NULL);
	close(c->fd);
	bury(r, c);
}

/* Give the connection to libmicrohttpd: nothing of its next request has
 * been read, so it sees the connection as if it had accepted it. */
static void hand_off(struct srv_relay *r, struct relay_conn *c)
{
	relay_watch(r, EPOLL_CTL_DEL, c->fd, 0, NULL);
	int fd = c->fd;
	struct sockaddr_storage addr = c->addr;
	socklen_t len = c->addrlen;
	bury(r, c);
	__atomic_add_fetch(&r->srv->handed_over, 1, __ATOMIC_RELAXED);
	/* It closes the socket itself when it cannot take it. */
	if (MHD_add_connection(r->mhd, fd, (const struct sockaddr *)&addr, len) != MHD_YES)
		berth_log(BERTH_LOG_WARN, "relay: the HTTP server refused a connection: %s",
			  strerror(errno));
}

static void accept_all(struct srv_relay *r)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		int fd =
		    accept4(r->lfd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: the listen socket stays
				 * readable, so stop watching it a moment rather
				 * than spin; the connections wait in the backlog. */
				berth_log(BERTH_LOG_WARN,
					  "relay: accept: %s (pausing new connections 100 ms)",
					  strerror(errno));
				relay_watch(r, EPOLL_CTL_DEL, r->lfd, 0, NULL);
				r->accept_resume = srv_mono() + 0.1;
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				berth_log(BERTH_LOG_WARN, "relay: accept: %s", strerror(errno));
			}
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct relay_conn *c = berth_xcalloc(1, sizeof(*c));
		c->ctag.kind = RELAY_CLIENT;
		c->ctag.conn = c;
		c->utag.kind = RELAY_UPSTREAM;
		c->utag.conn = c;
		c->fd = fd;
		c->ufd = -1;
		c->addr = addr;
		c->addrlen = len;
		berth_buf_init(&c->req, BERTH_BUF_UNLIMITED);
		berth_buf_init(&c->out, BERTH_BUF_UNLIMITED);
		berth_buf_init(&c->hdrs, BERTH_FRONT_HEADER_MAX);
		berth_buf_init(&c->field, BERTH_FRONT_HEADER_MAX);
		berth_buf_init(&c->value, BERTH_FRONT_HEADER_MAX);
		c->next = r->conns;
		if (r->conns)
			r->conns->prev = c;
		r->conns = c;
		r->nconns++;
		if (r->nconns > r->conn_max) { /* its limit and its refusal */
			hand_off(r, c);
			continue;
		}
		c->state = RELAY_HEAD;
		relay_set_deadline(r, c, srv_mono() + BERTH_HTTP_IDLE_TIMEOUT_S);
		relay_watch(r, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			    &c->ctag);
		relay_client_readable(r, c);
	}
}

/* ------------------------------------------------------ request heads */

struct head {
	const char *url;
	size_t url_len;
	struct relay_header h[RELAY_HEADERS_MAX];
	size_t n;
	bool last_was_value, complete;
};

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct head *h = p->data;
	if (h->url)
		h->url_len = (size_t)(at + len - h->url);
	else
		h->url = at, h->url_len = len;
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct head *h = p->data;
	if (h->n && !h->last_was_value) { /* the same name, continued */
		struct relay_header *x = &h->h[h->n - 1];
		x->nlen = (size_t)(at + len - x->name);
		return 0;
	}
	if (h->n == RELAY_HEADERS_MAX)
		return 1; /* a parser error: libmicrohttpd takes it */
	h->h[h->n++] = (struct relay_header){.name = at, .nlen = len, .value = at + len};
	h->last_was_value = false;
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct head *h = p->data;
	struct relay_header *x = &h->h[h->n - 1];
	if (h->last_was_value)
		x->vlen = (size_t)(at + len - x->value);
	else
		x->value = at, x->vlen = len;
	h->last_was_value = true;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct head *h = p->data;
	h->complete = true;
	http_parser_pause(p, 1); /* the body is read apart */
	return 0;
}

static const struct relay_header *find(const struct head *h, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < h->n; i++)
		if (h->h[i].nlen == n && !strncasecmp(h->h[i].name, name, n))
			return &h->h[i];
	return NULL;
}

/* The end of the head in buf[0..n) (its blank line included, "\r\n" or
 * a bare "\n" as http-parser takes it), or 0. */
static size_t head_end(const char *buf, size_t n)
{
	for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++) {
		size_t left = (size_t)(buf + n - p);
		if (left >= 2 && p[1] == '\n')
			return (size_t)(p - buf) + 2;
		if (left >= 3 && p[1] == '\r' && p[2] == '\n')
			return (size_t)(p - buf) + 3;
	}
	return 0;
}

/* Whether the first n bytes of a head still could be a call the relay
 * takes: they begin "GET /run/" or "POST /run/" as far as they go, and
 * http-parser finds nothing wrong in them yet. When not, the connection
 * goes to libmicrohttpd at once rather than after the whole head. */
static bool may_be_call(const char *buf, size_t n)
{
	static const char *const starts[] = {"GET /run/", "POST /run/"};
	bool start = false;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(starts); i++) {
		size_t k = strlen(starts[i]);
		start |= !memcmp(buf, starts[i], n < k ? n : k);
	}
	if (!start)
		return false;
	static const http_parser_settings none = {0};
	http_parser p;
	http_parser_init(&p, HTTP_REQUEST);
	http_parser_execute(&p, &none, buf, n);
	return HTTP_PARSER_ERRNO(&p) == HPE_OK;
}

/* A request id: UUID-shaped, unique (a counter through a bijective mix,
 * from a random start and key), not a secret, and no system call. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void new_id(struct srv_relay *r, char out[37])
{
	uint64_t n = r->id_next++;
	uint64_t hi = mix64(n ^ r->id_key), lo = mix64(n + r->id_key);
	unsigned char b[16];
	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(lo >> (8 * i));
		b[8 + i] = (unsigned char)(hi >> (8 * i));
	}
	berth_uuid_format(b, out);
}

/* Append n in decimal. */
void relay_add_uint(struct berth_buf *b, unsigned long long n)
{
	char d[24];
	int i = sizeof(d);
	do
		d[--i] = (char)('0' + n % 10);
	while ((n /= 10));
	berth_buf_add(b, d + i, sizeof(d) - (size_t)i);
}

/* Whether the peeked head in buf[0..len) is a call the relay takes now;
 * if so, the call is set up in c (its slot taken) and true returned. */
static bool take(struct srv_relay *r, struct relay_conn *c, const char *buf, size_t len)
{
	static const http_parser_settings settings = {
	    .on_url = on_url,
	    .on_header_field = on_field,
	    .on_header_value = on_value,
	    .on_headers_complete = on_headers_complete,
	};
	struct head h = {0};
	http_parser p;
	http_parser_init(&p, HTTP_REQUEST);
	p.data = &h;
	http_parser_execute(&p, &settings, buf, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&p);
	if ((e != HPE_OK && e != HPE_PAUSED) || !h.complete || p.upgrade)
		return false;
	if (p.http_major != 1 || p.http_minor != 1 ||
	    (p.method != HTTP_GET && p.method != HTTP_POST))
		return false;
	if (find(&h, "transfer-encoding") || find(&h, "expect"))
		return false;
	uint64_t body = (p.flags & F_CONTENTLENGTH) ? p.content_length : 0;
	if (body > BERTH_FRONT_BODY_MAX)
		return false;
	/* "/run/{app}[/rest][?query]", the app a plain name. */
	const char *u = h.url, *end = h.url + h.url_len;
	if (h.url_len < 6 || memcmp(u, "/run/", 5) != 0)
		return false;
	const char *app = u + 5, *a = app;
	while (a < end && (isalnum((unsigned char)*a) || *a == '-' || *a == '_' || *a == '.'))
		a++;
	size_t app_len = (size_t)(a - app);
	if (!app_len || app_len >= sizeof(c->slot.app) || (a < end && *a != '/' && *a != '?'))
		return false;
	const char *q = memchr(a, '?', (size_t)(end - a));
	const char *path_end = q ? q : end;
	/* A NUL in the query is refused (http.c): let it say so. */
	if (q && memmem(q, (size_t)(end - q), "%00", 3))
		return false;
	char name[64];
	memcpy(name, app, app_len);
	name[app_len] = '\0';
	struct srv_app_info info;
	if (!srv_apps_try_acquire(r->srv, name, &info, &c->slot))
		return false;
	if (info.auth != BERTH_APP_AUTH_PUBLIC) {
		const struct relay_header *az = find(&h, "authorization");
		char v[512];
		struct srv_req rq = {.srv = r->srv};
		if (az && az->vlen < sizeof(v)) {
			memcpy(v, az->value, az->vlen);
			v[az->vlen] = '\0';
			srv_keys_authenticate_value(&rq, v);
		}
		free(rq.key_id);
		if (!srv_keys_invoke_ok(&rq, info.auth) || (az && az->vlen >= sizeof(v))) {
			srv_apps_release(r->srv, &c->slot, SRV_OK);
			return false; /* http.c explains the refusal */
		}
	}
	/* The call is ours from here. */
	const struct relay_header *rid = find(&h, "x-berth-request-id");
	if (rid && rid->vlen && rid->vlen < sizeof(c->id)) {
		memcpy(c->id, rid->value, rid->vlen);
		c->id[rid->vlen] = '\0';
	} else {
		new_id(r, c->id);
		rid = NULL;
	}
	c->timeout_ms = info.request_timeout_ms;
	c->keep_alive = http_should_keep_alive(&p);
	c->body_left = body;
	struct berth_buf *b = &c->req;
	berth_buf_reset(b);
	berth_buf_addstr(b, p.method == HTTP_POST ? "POST " : "GET ");
	if (path_end > a)
		berth_buf_add(b, a, (size_t)(path_end - a));
	else
		berth_buf_addch(b, '/');
	if (q)
		berth_buf_add(b, q, (size_t)(end - q));
	berth_buf_addstr(b, " HTTP/1.1\r\nHost: 127.0.0.1:");
	relay_add_uint(b, c->slot.port);
	berth_buf_add(b, "\r\n", 2);
	for (size_t i = 0; i < h.n; i++) {
		const struct relay_header *x = &h.h[i];
		if (berth__hop_header(x->name, x->nlen) ||
		    (x->nlen == 13 && !strncasecmp(x->name, "authorization", 13)) ||
		    (!rid && x->nlen == 18 && !strncasecmp(x->name, "x-berth-request-id", 18)) ||
		    (x->nlen == strlen(SRV_RUNNER_TOKEN_HEADER) &&
		     !strncasecmp(x->name, SRV_RUNNER_TOKEN_HEADER, x->nlen)))
			continue;
		berth_buf_add(b, x->name, x->nlen);
		berth_buf_add(b, ": ", 2);
		berth_buf_add(b, x->value, x->vlen);
		berth_buf_add(b, "\r\n", 2);
	}
	if (!rid) {
		berth_buf_addstr(b, "x-berth-request-id: ");
		berth_buf_addstr(b, c->id);
		berth_buf_add(b, "\r\n", 2);
	}
	berth_buf_addstr(b, SRV_RUNNER_TOKEN_HEADER ": ");
	berth_buf_addstr(b, c->slot.token);
	if (p.method == HTTP_POST || body) {
		berth_buf_addstr(b, "\r\nContent-Length: ");
		relay_add_uint(b, body);
	}
	berth_buf_add(b, "\r\n\r\n", 4);
	return true;
}

/* The client's socket has something: the next request's head (peeked, so
 * it can still be handed over whole), or more of a body being read. */
void relay_client_readable(struct srv_relay *r, struct relay_conn *c)
{
	if (c->state == RELAY_BODY) {
		while (c->body_left) {
			size_t want = c->body_left < RELAY_SCRATCH ? c->body_left : RELAY_SCRATCH;
			ssize_t n = recv(c->fd, r->scratch, want, 0);
			if (n > 0) {
				berth_buf_add(&c->req, r->scratch, (size_t)n);
				c->body_left -= (size_t)n;
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			relay_close(r, c); /* gone before its body was in */
			return;
		}
		relay_call_start(r, c);
		return;
	}
	if (c->state != RELAY_HEAD)
		return; /* read again once the answer is out */
	ssize_t n = recv(c->fd, r->scratch, RELAY_SCRATCH, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		relay_close(r, c);
		return;
	}
	size_t end = head_end(r->scratch, (size_t)n);
	if (!end) {
		/* A head still coming (a new edge brings the rest); or one that
		 * never will (the client shut its side: peeking shows the bytes,
		 * never the end), or larger than the relay reads: libmicrohttpd
		 * answers or closes. */
		if ((size_t)n >= BERTH_FRONT_HEADER_MAX || c->rdhup || r->draining ||
		    !may_be_call(r->scratch, (size_t)n))
			hand_off(r, c);
		return;
	}
	if (r->draining || !take(r, c, r->scratch, end)) {
		hand_off(r, c);
		return;
	}
	/* Consume the head and what of the body is here, never more: the
	 * next request may yet go to libmicrohttpd. */
	size_t want = end + (c->body_left < (size_t)n - end ? c->body_left : (size_t)n - end);
	ssize_t got = recv(c->fd, r->scratch, want, 0);
	if (got != (ssize_t)want) { /* cannot happen: they were peeked */
		berth_log(BERTH_LOG_ERROR, "relay: read %zd of %zu peeked bytes", got, want);
		srv_apps_release(r->srv, &c->slot, SRV_OK);
		relay_close(r, c);
		return;
	}
	berth_buf_add(&c->req, r->scratch + end, want - end);
	c->body_left -= want - end;
	c->t0 = srv_mono();
	c->slotted = true;
	r->ncalls++;
	__atomic_add_fetch(&r->srv->relayed, 1, __ATOMIC_RELAXED);
	c->state = RELAY_BODY;
	relay_set_deadline(r, c, srv_mono() + BERTH_HTTP_IDLE_TIMEOUT_S);
	relay_client_readable(r, c);
}

/* ---------------------------------------------------------- the loop */

/* Past their deadline: idle connections closed, calls timed out. */
static void expire(struct srv_relay *r, double now)
{
	r->next_deadline = 0;
	for (struct relay_conn *c = r->conns, *next; c; c = next) {
		next = c->next;
		if (c->deadline > 0 && c->deadline <= now) {
			if (c->state == RELAY_CALL)
				relay_call_timeout(r, c);
			else
				relay_close(r, c);
		} else if (c->deadline > 0) {
			relay_set_deadline(r, c, c->deadline);
		}
	}
}

static void *loop(void *arg)
{
	struct srv_relay *r = arg;
	struct epoll_event ev[RELAY_EVENTS];
	for (;;) {
		double now = srv_mono();
		if (r->next_deadline > 0 && r->next_deadline <= now)
			expire(r, now);
		if (r->nidle && r->next_pool_check <= now) {
			relay_pool_expire(r, now);
			r->next_pool_check = now + 1;
		}
		free_dead(r);
		if (r->draining && (!r->ncalls || now > r->drain_until))
			break;
		if (r->accept_resume > 0 && r->accept_resume <= now && !r->draining) {
			r->accept_resume = 0;
			relay_watch(r, EPOLL_CTL_ADD, r->lfd, EPOLLIN, &r->ltag);
		}
		int wait_ms = r->accept_resume > 0 ? 100 : 1000;
		if (r->next_deadline > 0) {
			double ms = (r->next_deadline - now) * 1000 + 1;
			wait_ms = ms < 0 ? 0 : ms < wait_ms ? (int)ms : wait_ms;
		}
		int n = epoll_wait(r->ep, ev, RELAY_EVENTS, wait_ms);
		if (n < 0 && errno != EINTR) {
			berth_log(BERTH_LOG_ERROR, "relay: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct relay_tag *t = ev[i].data.ptr;
			switch (t->kind) {
			case RELAY_LISTEN:
				if (!r->draining)
					accept_all(r);
				break;
			case RELAY_WAKE: {
				uint64_t v;
				if (read(r->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
					berth_log(BERTH_LOG_WARN, "relay: wake: %s",
						  strerror(errno));
				if (__atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE))
					relay_drain(r);
				break;
			}
			case RELAY_CLIENT:
				if (t->conn->fd >= 0)
					relay_client_event(r, t->conn, ev[i].events);
				break;
			case RELAY_UPSTREAM:
				if (t->conn->fd >= 0)
					relay_upstream_event(r, t->conn, ev[i].events);
				break;
			case RELAY_IDLE:
				if (t->idle->fd >= 0)
					relay_pool_drop(r, t->idle);
				break;
			}
		}
	}
	return NULL;
}

/* Stopping: no new connections; those between requests close, and those
 * in a call close once its answer is out. */
void relay_drain(struct srv_relay *r)
{
	r->draining = true;
	r->drain_until = srv_mono() + RELAY_DRAIN_S;
	if (r->lfd >= 0) {
		relay_watch(r, EPOLL_CTL_DEL, r->lfd, 0, NULL);
		close(r->lfd);
		r->lfd = -1;
	}
	for (struct relay_conn *c = r->conns, *next; c; c = next) {
		next = c->next;
		if (c->state == RELAY_CALL)
			c->keep_alive = false;
		else
			relay_close(r, c);
	}
}

int srv_relay_start(struct berth_srv *srv, int listen_fd, struct MHD_Daemon *mhd,
		    struct srv_relay **out, struct berth_err **err)
{
	/* Loaded now, not at the first request: a dlopen() that fails later
	 * (out of descriptors, under load) would abort the server. */
	berth__hp();
	struct srv_relay *r = berth_xcalloc(1, sizeof(*r));
	r->srv = srv;
	r->mhd = mhd;
	r->lfd = listen_fd;
	r->conn_max = berth_http_connection_limit();
	uint64_t seed[2];
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed[0] = (uint64_t)getpid() << 32 ^ (uint64_t)(srv_mono() * 1e9), seed[1] = 0;
	r->id_next = seed[0];
	r->id_key = seed[1];
	r->ltag.kind = RELAY_LISTEN;
	r->wtag.kind = RELAY_WAKE;
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	r->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->ep < 0 || r->wake < 0) {
		berth_err_sys(err, errno, "relay: epoll");
		goto fail;
	}
	relay_watch(r, EPOLL_CTL_ADD, r->lfd, EPOLLIN, &r->ltag);
	relay_watch(r, EPOLL_CTL_ADD, r->wake, EPOLLIN, &r->wtag);
	int e = pthread_create(&r->thread, NULL, loop, r);
	if (e) {
		berth_err_sys(err, e, "relay: start its thread");
		goto fail;
	}
	pthread_setname_np(r->thread, "berth-relay"); /* for top -H and perf */
	*out = r;
	return 0;
fail:
	if (r->ep >= 0)
		close(r->ep);
	if (r->wake >= 0)
		close(r->wake);
	close(listen_fd);
	free(r);
	return -1;
}

void srv_relay_stop(struct srv_relay *r)
{
	if (!r)
		return;
	__atomic_store_n(&r->stopping, true, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(r->wake, &one, sizeof(one)) < 0)
		berth_log(BERTH_LOG_WARN, "relay: wake: %s", strerror(errno));
	pthread_join(r->thread, NULL);
	while (r->conns)
		relay_close(r, r->conns);
	relay_pool_expire(r, -1);
	free_dead(r);
	if (r->lfd >= 0)
		close(r->lfd);
	close(r->ep);
	close(r->wake);
	free(r);
}
