/* The front of `berth run`: an HTTP server (libmicrohttpd, a thread per
 * connection) that forwards every request to one runner (proxy.c) and
 * streams the answer back as it arrives, so a Server-Sent Events endpoint
 * reaches the client event by event. */
#include "server/server.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "server/proxy.h"
#include "server/mhd_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

struct berth_front {
	struct MHD_Daemon *d;
	char *upstream, *app;
	size_t body_max;
	int64_t timeout_ms;
	FILE *log;
	unsigned port;
	_Atomic int state;
};

/* One request, from the first header to the last byte of the answer. */
struct exchange {
	struct berth_front *f;
	char *uri; /* path and query, as the client sent them */
	struct berth_buf body;
	bool too_large;
	struct timespec start;
	char method[16];
	int status;
	struct berth_strv headers; /* to forward */
	struct berth__proxy *proxy;
};

static double ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) * 1e3 + (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

static void exchange_free(struct exchange *x)
{
	if (!x)
		return;
	berth__proxy_free(x->proxy);
	berth_strv_release(&x->headers);
	berth_buf_release(&x->body);
	free(x->uri);
	free(x);
}

/* libmicrohttpd hands over the raw request target before parsing it: keep it
 * (query string and all) as the start of the exchange. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct exchange *x = berth_xcalloc(1, sizeof(*x));
	x->f = cls;
	x->uri = berth_xstrdup(uri);
	berth_buf_init(&x->body, x->f->body_max);
	clock_gettime(CLOCK_MONOTONIC, &x->start);
	return x;
}

static enum MHD_Result answer_json(struct MHD_Connection *c, struct exchange *x, int status,
				   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result answer_json(struct MHD_Connection *c, struct exchange *x, int status,
				   const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *j = json_pack("{s:s}", "detail", msg);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	size_t len = strlen(text);
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len + 1, text, MHD_RESPMEM_MUST_FREE);
	/* The buffer holds a newline in place of the NUL. */
	text[len] = '\n';
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == 503)
		MHD_add_response_header(r, "Retry-After", "1");
	x->status = status;
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static ssize_t read_body(void *cls, uint64_t pos, char *out, size_t max)
{
	struct exchange *x = cls;
	ssize_t n = berth__proxy_read(x->proxy, out, max);
	return n > 0    ? n
	       : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM
			: MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result add_req_header(void *cls, enum MHD_ValueKind kind, const char *k,
				      const char *v)
{
	struct exchange *x = cls;
	if (!berth__hop_header(k, strlen(k)))
		berth_strv_pushf(&x->headers, "%s: %s", k, v ? v : "");
	return MHD_YES;
}

static enum MHD_Result forward(struct MHD_Connection *c, struct exchange *x)
{
	struct berth_front *f = x->f;
	_cleanup_free_ char *url = berth_xasprintf("%s%s", f->upstream, x->uri);
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_req_header, x);
	if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-berth-request-id")) {
		char id[37];
		berth_random_uuid(id);
		berth_strv_pushf(&x->headers, "x-berth-request-id: %s", id);
	}
	struct berth__proxy_req rq = {
	    .method = x->method,
	    .url = url,
	    .headers = &x->headers,
	    .body = x->body.data,
	    .body_len = x->body.len,
	    .timeout_ms = f->timeout_ms,
	};
	struct berth_err *err = NULL;
	if (berth__proxy_begin(&rq, &x->proxy, &err) < 0) {
		enum MHD_Result ret =
		    err->code == BERTH_E_TIMEOUT
			? answer_json(c, x, 504,
				      "the app did not answer within its request_timeout (%lld ms)",
				      (long long)f->timeout_ms)
			: answer_json(c, x, 502, "the app '%s' did not answer: %s", f->app,
				      err->msg);
		berth_err_free(err);
		return ret;
	}
	struct MHD_Response *r =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, read_body, x, NULL);
	/* The headers, "Name: value\r\n" each. */
	_cleanup_free_ char *hdrs = berth_xstrdup(berth__proxy_headers(x->proxy));
	char *save = NULL;
	for (char *line = strtok_r(hdrs, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon++ = '\0';
		while (*colon == ' ' || *colon == '\t')
			colon++;
		MHD_add_response_header(r, line, colon);
	}
	x->status = berth__proxy_status(x->proxy);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)x->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct exchange *x = *con_cls;
	if (!x->method[0]) { /* the headers are in */
		snprintf(x->method, sizeof(x->method), "%s", method);
		/* A body declared too large is refused before it is read (and
		 * with no 100 Continue). */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > x->f->body_max)
			return answer_json(c, x, 413, "the request body is over %zu bytes",
					   x->f->body_max);
		return MHD_YES;
	}
	if (*upload_size) {
		if (!x->too_large && berth_buf_add(&x->body, upload, *upload_size) < 0)
			x->too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (x->too_large)
		return answer_json(c, x, 413, "the request body is over %zu bytes", x->f->body_max);
	switch (atomic_load(&x->f->state)) {
	case BERTH_FRONT_STARTING:
		return answer_json(c, x, 503, "the app '%s' is starting (setup is not done yet)",
				   x->f->app);
	case BERTH_FRONT_STOPPING:
		return answer_json(c, x, 503, "the app '%s' is stopping", x->f->app);
	default:
		return forward(c, x);
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct exchange *x = *con_cls;
	if (!x)
		return;
	struct berth_front *f = x->f;
	if (f->log && x->method[0]) {
		const char *q = strchr(x->uri, '?');
		int plen = q ? (int)(q - x->uri) : (int)strlen(x->uri);
		fprintf(f->log, "berth: %s %.*s -> %d (%.0f ms)%s\n", x->method, plen, x->uri,
			x->status, ms_since(&x->start),
			toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ", cut short");
		fflush(f->log);
	}
	exchange_free(x);
	*con_cls = NULL;
}

unsigned berth_http_connection_limit(void)
{
	enum { RESERVE = 256, CAP = 8192 };
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return CAP;
	if (rl.rlim_cur < 2 * RESERVE)
		return (unsigned)(rl.rlim_cur / 2);
	return rl.rlim_cur - RESERVE > CAP ? CAP : (unsigned)(rl.rlim_cur - RESERVE);
}

int berth_front_start(const struct berth_front_opts *o, struct berth_front **out,
		      struct berth_err **err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	if (inet_pton(AF_INET, o->host ? o->host : "127.0.0.1", &sa.sin_addr) != 1)
		return berth_err_set(err, BERTH_E_INVALID,
				     "listen address '%s': not an IPv4 address", o->host);
	berth__proxy_preload();
	struct berth_front *f = berth_xcalloc(1, sizeof(*f));
	f->upstream = berth_xstrdup(o->upstream);
	f->app = berth_xstrdup(o->app ? o->app : "app");
	f->body_max = o->body_max ? o->body_max : BERTH_FRONT_BODY_MAX;
	f->timeout_ms = o->request_timeout_ms;
	f->log = o->access_log;
	atomic_store(&f->state, BERTH_FRONT_STARTING);
	errno = 0;
	f->d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_URI_LOG_CALLBACK,
	    on_uri, f, MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)BERTH_FRONT_HEADER_MAX * 2,
	    MHD_OPTION_CONNECTION_LIMIT, berth_http_connection_limit(),
	    MHD_OPTION_CONNECTION_TIMEOUT, BERTH_HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
	if (!f->d) {
		int e = errno ? errno : EADDRINUSE;
		char addr[64];
		snprintf(addr, sizeof(addr), "%s:%u", o->host ? o->host : "127.0.0.1", o->port);
		berth_front_stop(f);
		return berth_err_sys(err, e,
				     "listen on %s (is another server using the port? pick "
				     "another with --port)",
				     addr);
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
	f->port = di ? di->port : o->port;
	*out = f;
	return 0;
}

unsigned berth_front_port(const struct berth_front *f)
{
	return f->port;
}

void berth_front_set_state(struct berth_front *f, enum berth_front_state s)
{
	atomic_store(&f->state, s);
}

void berth_front_stop(struct berth_front *f)
{
	if (!f)
		return;
	if (f->d)
		MHD_stop_daemon(f->d);
	free(f->upstream);
	free(f->app);
	free(f);
}
