/* The front: an HTTP server (libmicrohttpd, a thread per connection) that
 * forwards every request to one upstream runner with libcurl and streams
 * the answer back as it arrives.
 *
 * One request, one thread: the access handler gathers the body, then drives
 * a curl multi handle until the upstream's status and headers are in; the
 * response is a chunked stream whose reader drives the same handle for
 * more bytes, blocking (allowed in thread-per-connection mode). So a
 * Server-Sent Events endpoint reaches the client event by event. */
#include "server/server.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "registry/curl_api.h"
#include "server/mhd_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
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

	CURL *easy;
	CURLM *multi;
	struct curl_slist *req_headers;
	struct berth_buf resp_headers; /* "Name: value\n"..., final response only */
	bool headers_done, done;
	CURLcode result;
	struct berth_buf pending; /* body bytes not yet handed to the client */
	size_t pending_off;
};

/* Headers that describe one hop, not the message (RFC 9110 7.6.1), and
 * those libcurl or libmicrohttpd set themselves. */
static bool hop_header(const char *name)
{
	static const char *const hop[] = {
	    "connection",
	    "keep-alive",
	    "proxy-connection",
	    "proxy-authenticate",
	    "proxy-authorization",
	    "te",
	    "trailer",
	    "transfer-encoding",
	    "upgrade",
	    "host",
	    "content-length",
	    "expect",
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(hop); i++)
		if (!strcasecmp(name, hop[i]))
			return true;
	return false;
}

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
	if (x->multi) {
		if (x->easy)
			curl_multi_remove_handle(x->multi, x->easy);
		curl_multi_cleanup(x->multi);
	}
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->req_headers);
	berth_buf_release(&x->body);
	berth_buf_release(&x->resp_headers);
	berth_buf_release(&x->pending);
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
	berth_buf_init(&x->resp_headers, BERTH_FRONT_HEADER_MAX);
	berth_buf_init(&x->pending, BERTH_BUF_UNLIMITED);
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

static size_t on_resp_header(char *p, size_t size, size_t n, void *ud)
{
	struct exchange *x = ud;
	size_t len = size * n;
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) { /* a status line: a new response */
		berth_buf_reset(&x->resp_headers);
		return len;
	}
	if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
		long code = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200) /* interim 1xx answers end with a blank line too */
			x->headers_done = true;
		return len;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return len;
	_cleanup_free_ char *name = berth_xstrndup(p, (size_t)(colon - p));
	if (hop_header(name))
		return len;
	if (berth_buf_add(&x->resp_headers, p, len) < 0)
		return 0; /* over the limit: fail the transfer */
	return len;
}

static size_t on_resp_body(char *p, size_t size, size_t n, void *ud)
{
	struct exchange *x = ud;
	x->headers_done = true;
	berth_buf_add(&x->pending, p, size * n);
	return size * n;
}

/* Drive the transfer until `enough` is true or it is over. */
static void drive(struct exchange *x, bool (*enough)(const struct exchange *))
{
	while (!x->done && !enough(x)) {
		int running = 0;
		CURLMcode mc = curl_multi_perform(x->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(x->multi, &left)))
			if (m->msg == CURLMSG_DONE) {
				x->done = true;
				x->result = m->data.result;
			}
		if (mc != CURLM_OK) {
			x->done = true;
			x->result = CURLE_FAILED_INIT;
		}
		if (x->done || enough(x))
			break;
		curl_multi_poll(x->multi, NULL, 0, 1000, NULL);
	}
}

static bool have_headers(const struct exchange *x)
{
	return x->headers_done;
}

static bool have_bytes(const struct exchange *x)
{
	return x->pending.len > x->pending_off;
}

static ssize_t read_body(void *cls, uint64_t pos, char *out, size_t max)
{
	struct exchange *x = cls;
	if (!have_bytes(x)) {
		berth_buf_reset(&x->pending);
		x->pending_off = 0;
		drive(x, have_bytes);
	}
	size_t avail = x->pending.len - x->pending_off;
	if (avail) {
		size_t k = avail < max ? avail : max;
		memcpy(out, x->pending.data + x->pending_off, k);
		x->pending_off += k;
		return (ssize_t)k;
	}
	return x->result == CURLE_OK ? MHD_CONTENT_READER_END_OF_STREAM
				     : MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result add_req_header(void *cls, enum MHD_ValueKind kind, const char *k,
				      const char *v)
{
	struct exchange *x = cls;
	if (hop_header(k))
		return MHD_YES;
	_cleanup_free_ char *line = berth_xasprintf("%s: %s", k, v ? v : "");
	x->req_headers = curl_slist_append(x->req_headers, line);
	return MHD_YES;
}

static void new_request_id(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 0, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static enum MHD_Result forward(struct MHD_Connection *c, struct exchange *x)
{
	struct berth_front *f = x->f;
	x->easy = curl_easy_init();
	x->multi = curl_multi_init();
	if (!x->easy || !x->multi)
		return answer_json(c, x, 500, "cannot set up the request to the app");
	_cleanup_free_ char *url = berth_xasprintf("%s%s", f->upstream, x->uri);
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_req_header, x);
	if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-berth-request-id")) {
		char id[37];
		new_request_id(id);
		_cleanup_free_ char *h = berth_xasprintf("x-berth-request-id: %s", id);
		x->req_headers = curl_slist_append(x->req_headers, h);
	}
	x->req_headers = curl_slist_append(x->req_headers, "Expect:");
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_resp_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_resp_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	/* Bytes as the app sent them: no decoding of gzip and the like. */
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (f->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)f->timeout_ms);
	if (!strcmp(x->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(x->method, "GET") != 0 || x->body.len) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body.data ? x->body.data : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
	}
	curl_multi_add_handle(x->multi, e);
	drive(x, have_headers);
	if (!x->headers_done) {
		if (x->result == CURLE_OPERATION_TIMEDOUT)
			return answer_json(c, x, 504,
					   "the app did not answer within its request_timeout "
					   "(%lld ms)",
					   (long long)f->timeout_ms);
		return answer_json(c, x, 502, "the app '%s' did not answer: %s", f->app,
				   curl_easy_strerror(x->result));
	}
	long code = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	struct MHD_Response *r =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, read_body, x, NULL);
	/* The headers, "Name: value\r\n" each. */
	char *save = NULL;
	for (char *line = strtok_r(x->resp_headers.data, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon++ = '\0';
		while (*colon == ' ' || *colon == '\t')
			colon++;
		MHD_add_response_header(r, line, colon);
	}
	x->status = (int)code;
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)code, r);
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

int berth_front_start(const struct berth_front_opts *o, struct berth_front **out,
		      struct berth_err **err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	if (inet_pton(AF_INET, o->host ? o->host : "127.0.0.1", &sa.sin_addr) != 1)
		return berth_err_set(err, BERTH_E_INVALID,
				     "listen address '%s': not an IPv4 address", o->host);
	curl_global_init(CURL_GLOBAL_ALL);
	struct berth_front *f = berth_xcalloc(1, sizeof(*f));
	f->upstream = berth_xstrdup(o->upstream);
	f->app = berth_xstrdup(o->app ? o->app : "app");
	f->body_max = o->body_max ? o->body_max : BERTH_FRONT_BODY_MAX;
	f->timeout_ms = o->request_timeout_ms;
	f->log = o->access_log;
	atomic_store(&f->state, BERTH_FRONT_STARTING);
	errno = 0;
	f->d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_URI_LOG_CALLBACK,
	    on_uri, f, MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)BERTH_FRONT_HEADER_MAX * 2,
	    MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_END);
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
