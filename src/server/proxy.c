/* Forwarding one request to a runner with libcurl, the answer read as it
 * arrives: berth__proxy_begin() drives the transfer until the status and
 * headers are in, berth__proxy_read() until more body bytes are. A curl
 * multi handle per exchange, driven by the caller's thread (the
 * connection's thread in thread-per-connection mode), so blocking is
 * fine and a Server-Sent Events stream passes event by event. */
#include "server/proxy.h"

#include "common/buf.h"
#include "registry/curl_api.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

struct berth__proxy {
	CURL *easy;
	CURLM *multi;
	struct tl_curl *borrowed; /* the thread's handles, or NULL: our own */
	struct curl_slist *headers;
	struct berth_buf body;
	struct berth_buf resp_headers; /* "Name: value\r\n"..., hop-by-hop dropped */
	bool headers_done, done;
	CURLcode result;
	struct berth_buf pending; /* body bytes not read yet */
	size_t pending_off;
};

bool berth__hop_header(const char *name, size_t len)
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
		if (strlen(hop[i]) == len && !strncasecmp(name, hop[i], len))
			return true;
	return false;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct berth__proxy *x = ud;
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
	if (!colon || berth__hop_header(p, (size_t)(colon - p)))
		return len;
	return berth_buf_add(&x->resp_headers, p, len) < 0 ? 0 : len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct berth__proxy *x = ud;
	x->headers_done = true;
	berth_buf_add(&x->pending, p, size * n);
	return size * n;
}

static bool have_headers(const struct berth__proxy *x)
{
	return x->headers_done;
}

static bool have_bytes(const struct berth__proxy *x)
{
	return x->pending.len > x->pending_off;
}

/* Drive the transfer until `enough` is true or it is over. */
static void drive(struct berth__proxy *x, bool (*enough)(const struct berth__proxy *))
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

/* Each thread keeps one easy and one multi handle between requests: the
 * multi handle's connection cache keeps the connection to the runner open,
 * so a client that sends request after request on one connection (one
 * thread of libmicrohttpd) reaches the runner without a new TCP handshake
 * each time. Freed when the thread ends. */
struct tl_curl {
	CURL *easy;
	CURLM *multi;
	bool busy;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t tl_key;

static void tl_free(void *p)
{
	struct tl_curl *t = p;
	if (t->multi)
		curl_multi_cleanup(t->multi);
	if (t->easy)
		curl_easy_cleanup(t->easy);
	free(t);
}

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	pthread_key_create(&tl_key, tl_free);
}

void berth__proxy_preload(void)
{
	pthread_once(&curl_once, curl_init);
}

/* The thread's handles, reset, or NULL when they are in use (or cannot be
 * made): the caller then makes its own. */
static struct tl_curl *tl_borrow(void)
{
	struct tl_curl *t = pthread_getspecific(tl_key);
	if (!t) {
		t = berth_xcalloc(1, sizeof(*t));
		t->easy = curl_easy_init();
		t->multi = curl_multi_init();
		if (!t->easy || !t->multi || pthread_setspecific(tl_key, t) != 0) {
			tl_free(t);
			return NULL;
		}
	} else if (t->busy) {
		return NULL;
	} else {
		curl_easy_reset(t->easy);
	}
	t->busy = true;
	return t;
}

int berth__proxy_begin(const struct berth__proxy_req *rq, struct berth__proxy **out,
		       struct berth_err **err)
{
	pthread_once(&curl_once, curl_init);
	struct berth__proxy *x = berth_xcalloc(1, sizeof(*x));
	berth_buf_init(&x->body, BERTH_BUF_UNLIMITED);
	berth_buf_init(&x->resp_headers, BERTH_PROXY_HEADERS_MAX);
	berth_buf_init(&x->pending, BERTH_BUF_UNLIMITED);
	x->borrowed = tl_borrow();
	x->easy = x->borrowed ? x->borrowed->easy : curl_easy_init();
	x->multi = x->borrowed ? x->borrowed->multi : curl_multi_init();
	if (!x->easy || !x->multi) {
		berth__proxy_free(x);
		return berth_err_set(err, BERTH_E_INTERNAL, "cannot set up a request to the app");
	}
	for (size_t i = 0; rq->headers && i < rq->headers->n; i++)
		x->headers = curl_slist_append(x->headers, rq->headers->v[i]);
	x->headers = curl_slist_append(x->headers, "Expect:");
	berth_buf_add(&x->body, rq->body, rq->body_len);
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, rq->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	/* Bytes as the app sent them: no decoding of gzip and the like. */
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	if (rq->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "GET") != 0 || rq->body_len) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body.data);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	curl_multi_add_handle(x->multi, e);
	drive(x, have_headers);
	if (!x->headers_done) {
		int code = x->result == CURLE_OPERATION_TIMEDOUT ? BERTH_E_TIMEOUT : BERTH_E_SYS;
		berth_err_set(err, code, "%s", curl_easy_strerror(x->result));
		berth__proxy_free(x);
		return -code;
	}
	*out = x;
	return 0;
}

int berth__proxy_status(const struct berth__proxy *x)
{
	long code = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	return (int)code;
}

const char *berth__proxy_headers(const struct berth__proxy *x)
{
	return x->resp_headers.data;
}

int64_t berth__proxy_content_length(const struct berth__proxy *x)
{
	curl_off_t n = -1;
	if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &n) != CURLE_OK)
		return -1;
	return n < 0 ? -1 : (int64_t)n;
}

ssize_t berth__proxy_read(struct berth__proxy *x, char *buf, size_t max)
{
	if (!have_bytes(x)) {
		berth_buf_reset(&x->pending);
		x->pending_off = 0;
		drive(x, have_bytes);
	}
	size_t avail = x->pending.len - x->pending_off;
	if (avail) {
		size_t k = avail < max ? avail : max;
		memcpy(buf, x->pending.data + x->pending_off, k);
		x->pending_off += k;
		return (ssize_t)k;
	}
	return x->result == CURLE_OK ? 0 : -1;
}

const char *berth__proxy_error(const struct berth__proxy *x)
{
	return x->result == CURLE_OK ? NULL : curl_easy_strerror(x->result);
}

bool berth__proxy_timed_out(const struct berth__proxy *x)
{
	return x->result == CURLE_OPERATION_TIMEDOUT;
}

void berth__proxy_free(struct berth__proxy *x)
{
	if (!x)
		return;
	if (x->multi && x->easy)
		curl_multi_remove_handle(x->multi, x->easy);
	if (x->borrowed) {
		/* Nothing may point into this exchange once it is gone. */
		curl_easy_reset(x->easy);
		x->borrowed->busy = false;
	} else {
		if (x->multi)
			curl_multi_cleanup(x->multi);
		if (x->easy)
			curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	berth_buf_release(&x->body);
	berth_buf_release(&x->resp_headers);
	berth_buf_release(&x->pending);
	free(x);
}
