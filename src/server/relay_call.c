/* One relayed call: the request to the runner (a pooled connection, or a
 * new one), its answer parsed with http-parser and passed to the client as
 * it comes, with the runner's Content-Length kept or its body re-framed in
 * chunks, the slot given back the moment the answer is in. The runner not
 * answering is a 503 (once retried on a fresh connection when a pooled one
 * had been closed under us), the request timeout a 504; both recycle the
 * runner, as the thread-per-connection path does (api_run.c). */
#include "server/relay_int.h"

#include "server/hp_api.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <unistd.h>

/* The runner's socket, watched for room to write only once a write could
 * not go whole (on loopback the request nearly always goes at once). */
#define UP_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

static void up_read(struct srv_relay *r, struct relay_conn *c);
static void flush(struct srv_relay *r, struct relay_conn *c);

/* ------------------------------------------------------- the answer */

static void commit_header(struct relay_conn *c)
{
	if (!c->in_value)
		return;
	if (!berth__hop_header(c->field.data, c->field.len)) {
		berth_buf_add(&c->hdrs, c->field.data, c->field.len);
		berth_buf_add(&c->hdrs, ": ", 2);
		berth_buf_add(&c->hdrs, c->value.data, c->value.len);
		berth_buf_add(&c->hdrs, "\r\n", 2);
	}
	berth_buf_reset(&c->field);
	berth_buf_reset(&c->value);
	c->in_value = false;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
	struct relay_conn *c = p->data;
	size_t have = strlen(c->reason);
	if (have + len < sizeof(c->reason)) {
		memcpy(c->reason + have, at, len);
		c->reason[have + len] = '\0';
	}
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct relay_conn *c = p->data;
	commit_header(c);
	return berth_buf_add(&c->field, at, len) < 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct relay_conn *c = p->data;
	c->in_value = true;
	return berth_buf_add(&c->value, at, len) < 0;
}

static int on_headers_complete(http_parser *p)
{
	struct relay_conn *c = p->data;
	commit_header(c);
	if (c->hdrs.full)
		return -1;
	c->got_bytes = true;
	int status = p->status_code;
	if (status < 200) { /* 100 Continue, 103 Early Hints: not passed on */
		c->interim = true;
		return 0;
	}
	c->status = status;
	bool bodyless = status == 204 || status == 304;
	struct berth_buf *o = &c->out;
	berth_buf_addstr(o, "HTTP/1.1 ");
	relay_add_uint(o, (unsigned)status);
	berth_buf_addch(o, ' ');
	berth_buf_addstr(o, c->reason);
	berth_buf_add(o, "\r\n", 2);
	berth_buf_add(o, c->hdrs.data, c->hdrs.len);
	berth_buf_addstr(o, "x-berth-request-id: ");
	berth_buf_addstr(o, c->id);
	berth_buf_add(o, "\r\n", 2);
	if (bodyless) {
		;
	} else if (!(p->flags & F_CHUNKED) && (p->flags & F_CONTENTLENGTH)) {
		berth_buf_addstr(o, "Content-Length: ");
		relay_add_uint(o, p->content_length);
		berth_buf_add(o, "\r\n", 2);
	} else {
		berth_buf_addstr(o, "Transfer-Encoding: chunked\r\n");
		c->chunked = true;
	}
	if (!c->keep_alive)
		berth_buf_addstr(o, "Connection: close\r\n");
	berth_buf_add(o, "\r\n", 2);
	c->head_sent = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct relay_conn *c = p->data;
	if (c->chunked)
		berth_buf_addf(&c->out, "%zx\r\n", len);
	berth_buf_add(&c->out, at, len);
	if (c->chunked)
		berth_buf_add(&c->out, "\r\n", 2);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct relay_conn *c = p->data;
	if (c->interim) {
		c->interim = false;
		berth_buf_reset(&c->hdrs);
		c->reason[0] = '\0';
		return 0;
	}
	if (c->chunked)
		berth_buf_addstr(&c->out, "0\r\n\r\n");
	c->done = true;
	c->up_reusable = http_should_keep_alive(p);
	http_parser_pause(p, 1); /* anything after it is not an answer to us */
	return 0;
}

static const http_parser_settings answer = {
    .on_status = on_status,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---------------------------------------------------- ending a call */

static void up_close(struct srv_relay *r, struct relay_conn *c)
{
	if (c->ufd < 0)
		return;
	relay_watch(r, EPOLL_CTL_DEL, c->ufd, 0, NULL);
	close(c->ufd);
	c->ufd = -1;
}

/* The slot back, the call counted; the runner's connection pooled when it
 * can serve another. */
static void release(struct srv_relay *r, struct relay_conn *c, enum srv_outcome o, int status)
{
	if (!c->slotted)
		return;
	if (c->ufd >= 0 && o == SRV_OK && c->up_reusable) {
		relay_pool_put(r, c->ufd, c->slot.port, c->slot.runner);
		c->ufd = -1;
	}
	up_close(r, c);
	srv_apps_release(r->srv, &c->slot, o);
	srv_metrics_request(r->srv, c->slot.app, "sync", status, srv_mono() - c->t0);
	c->slotted = false;
	r->ncalls--;
}

void relay_call_abort(struct srv_relay *r, struct relay_conn *c)
{
	/* A client that left: the runner did nothing wrong. 499 as nginx
	 * counts it, unless the answer was all in. */
	c->up_reusable = false;
	release(r, c, SRV_OK, c->done ? c->status : 499); /* no slot, no runner socket */
}

/* Answer the client with an error of our own (the call failed before the
 * runner's answer began). */
static void answer_error(struct relay_conn *c, int status, const char *reason, const char *code,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void answer_error(struct relay_conn *c, int status, const char *reason, const char *code,
			 const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct srv_resp rs = {0};
	berth_buf_init(&rs.body, BERTH_BUF_UNLIMITED);
	srv_error(&rs, status, code, "%s", msg);
	berth_buf_reset(&c->out);
	c->out_off = 0;
	berth_buf_addf(&c->out,
		       "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\nx-berth-request-id: %s\r\n%s\r\n",
		       status, reason, rs.body.len, c->id,
		       c->keep_alive ? "" : "Connection: close\r\n");
	berth_buf_add(&c->out, rs.body.data, rs.body.len);
	berth_buf_release(&rs.body);
	berth_strv_release(&rs.headers);
	c->status = status;
	c->head_sent = c->done = true;
}

/* The next request on the connection, or its end. */
static void next_request(struct srv_relay *r, struct relay_conn *c)
{
	if (!c->keep_alive || r->draining) {
		relay_close(r, c);
		return;
	}
	c->state = RELAY_HEAD;
	berth_buf_reset(&c->req);
	berth_buf_reset(&c->out);
	berth_buf_reset(&c->hdrs);
	c->out_off = c->req_off = 0;
	relay_set_deadline(r, c, srv_mono() + BERTH_HTTP_IDLE_TIMEOUT_S);
	/* A request that came during this one raised no edge of its own. */
	relay_client_readable(r, c);
}

/* Part of the answer has gone out and no more will come: what is queued
 * still goes, then the connection closes, which tells the client the
 * answer is short (its Content-Length or last chunk never came). */
static void cut_short(struct srv_relay *r, struct relay_conn *c)
{
	c->done = true;
	c->keep_alive = false;
	relay_set_deadline(r, c, srv_mono() + BERTH_HTTP_IDLE_TIMEOUT_S);
	flush(r, c);
}

/* The runner failed this call: no connection, a reset, a close before
 * the answer was whole. */
static void up_fail(struct srv_relay *r, struct relay_conn *c, const char *why)
{
	if (c->reused && !c->got_bytes && !c->retried) {
		/* The pooled connection had been closed by the runner as we
		 * wrote: once more on a new one, as HTTP clients do. */
		up_close(r, c);
		c->retried = true;
		relay_call_start(r, c);
		return;
	}
	if (c->head_sent && !c->done) {
		c->up_reusable = false;
		release(r, c, SRV_RUNNER_BAD, c->status);
		cut_short(r, c);
		return;
	}
	c->up_reusable = false;
	release(r, c, SRV_RUNNER_BAD, 503);
	answer_error(c, 503, "Service Unavailable", "unavailable", "app '%s' did not answer: %s",
		     c->slot.app, why);
	flush(r, c);
}

void relay_call_timeout(struct srv_relay *r, struct relay_conn *c)
{
	c->up_reusable = false;
	if (c->head_sent && !c->done) {
		release(r, c, SRV_RUNNER_SLOW, c->status);
		cut_short(r, c);
		return;
	}
	if (c->done) /* the answer is in; the client is slow to take it */
		return relay_close(r, c);
	char app[sizeof(c->slot.app)];
	memcpy(app, c->slot.app, sizeof(app));
	release(r, c, SRV_RUNNER_SLOW, 504);
	answer_error(c, 504, "Gateway Timeout", "timeout",
		     "app '%s' did not answer within its request_timeout (%lld ms); the runner "
		     "is recycled",
		     app, (long long)c->timeout_ms);
	flush(r, c);
}

/* ------------------------------------------------------- the client */

/* Send what is queued; once the answer is all out, the next request. */
static void flush(struct srv_relay *r, struct relay_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n =
		    send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return; /* EPOLLOUT brings us back */
		relay_close(r, c);
		return;
	}
	berth_buf_reset(&c->out);
	c->out_off = 0;
	if (c->done) {
		if (!c->slotted)
			next_request(r, c);
		return;
	}
	if (c->paused) {
		c->paused = false;
		up_read(r, c);
	}
}

void relay_client_event(struct srv_relay *r, struct relay_conn *c, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		relay_close(r, c);
		return;
	}
	if (c->state != RELAY_CALL) {
		if (events & EPOLLRDHUP)
			c->rdhup = true;
		if (events & (EPOLLIN | EPOLLRDHUP))
			relay_client_readable(r, c);
		return;
	}
	if (events & EPOLLRDHUP) { /* the caller went away: the call is cancelled */
		relay_close(r, c);
		return;
	}
	if (events & EPOLLOUT)
		flush(r, c);
}

/* ------------------------------------------------------- the runner */

static int up_connect(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

void relay_call_start(struct srv_relay *r, struct relay_conn *c)
{
	c->state = RELAY_CALL;
	relay_set_deadline(r, c, c->timeout_ms > 0 ? c->t0 + (double)c->timeout_ms / 1000 : 0);
	c->req_off = 0;
	c->got_bytes = c->interim = c->in_value = c->head_sent = c->chunked = c->done = false;
	c->paused = c->up_reusable = c->want_out = false;
	c->status = 0;
	c->reason[0] = '\0';
	berth_buf_reset(&c->hdrs);
	berth_buf_reset(&c->field);
	berth_buf_reset(&c->value);
	http_parser_init(&c->up, HTTP_RESPONSE);
	c->up.data = c;
	int fd = c->retried ? -1 : relay_pool_take(r, c->slot.port, c->slot.runner);
	c->reused = fd >= 0;
	if (c->reused) {
		relay_watch(r, EPOLL_CTL_MOD, fd, UP_EVENTS, &c->utag);
	} else {
		fd = up_connect(c->slot.port);
		if (fd < 0) {
			up_fail(r, c, strerror(-fd));
			return;
		}
		relay_watch(r, EPOLL_CTL_ADD, fd, UP_EVENTS, &c->utag);
	}
	c->ufd = fd;
	relay_upstream_event(r, c, EPOLLOUT);
}

/* Read the answer as it comes, until the socket is dry, the answer whole,
 * or the client too far behind. */
static void up_read(struct srv_relay *r, struct relay_conn *c)
{
	while (c->ufd >= 0 && !c->done) {
		if (c->out.len - c->out_off > RELAY_OUT_HIGH) {
			c->paused = true;
			break;
		}
		ssize_t n = recv(c->ufd, r->scratch, RELAY_SCRATCH, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			up_fail(r, c, strerror(errno));
			return;
		}
		size_t used = http_parser_execute(&c->up, &answer, r->scratch, (size_t)n);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->up);
		if (e == HPE_PAUSED && used < (size_t)n)
			c->up_reusable = false; /* bytes past the answer */
		else if (e != HPE_OK && e != HPE_PAUSED) {
			up_fail(r, c, http_errno_description(e));
			return;
		}
		if (n == 0 && !c->done) {
			up_fail(r, c,
				c->got_bytes ? "the connection closed before the answer was whole"
					     : "the connection closed before an answer");
			return;
		}
		if (n == 0)
			break;
	}
	if (c->done && c->req_off < c->req.len)
		c->up_reusable = false; /* answered before it had all the request */
	if (c->done && c->slotted)
		release(r, c, c->status == 503 ? SRV_RUNNER_BAD : SRV_OK, c->status);
	flush(r, c);
}

void relay_upstream_event(struct srv_relay *r, struct relay_conn *c, uint32_t events)
{
	if (c->ufd < 0)
		return;
	if (events & EPOLLERR) {
		int e = 0;
		socklen_t len = sizeof(e);
		getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &len);
		up_fail(r, c, strerror(e ? e : EIO));
		return;
	}
	while (c->req_off < c->req.len) {
		ssize_t n =
		    send(c->ufd, c->req.data + c->req_off, c->req.len - c->req_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->req_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOTCONN)) {
			/* connecting, or the runner's buffer is full */
			if (!c->want_out) {
				c->want_out = true;
				relay_watch(r, EPOLL_CTL_MOD, c->ufd, UP_EVENTS | EPOLLOUT,
					    &c->utag);
			}
			break;
		}
		up_fail(r, c, strerror(n < 0 ? errno : EIO));
		return;
	}
	if (!c->paused)
		up_read(r, c);
}
