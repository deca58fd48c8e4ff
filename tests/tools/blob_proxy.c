/* A test proxy in front of a plain registry that misbehaves on blob
 * downloads on purpose: --mode corrupt flips a byte, truncate stops half
 * way (the connection breaks), slow trickles the bytes out, pass forwards.
 * Everything else is forwarded untouched. Listens on 127.0.0.1 only.
 *   blob_proxy --listen PORT --upstream 127.0.0.1:5000 --mode corrupt */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"

enum mode { PASS, CORRUPT, TRUNCATE, SLOW };

static const char *upstream;
static enum mode mode;
static volatile sig_atomic_t stop;

struct fetched {
	struct berth_buf body;
	struct berth_strv headers; /* "Name: value" to forward */
	long status;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct fetched *f = ctx;
	return berth_buf_add(&f->body, p, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct fetched *f = ctx;
	size_t len = size * n;
	static const char *const keep[] = {
	    "content-type:", "docker-content-digest:", "www-authenticate:", "location:",
	    "range:",        "docker-upload-uuid:"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(keep); i++)
		if (len > strlen(keep[i]) && !strncasecmp(p, keep[i], strlen(keep[i]))) {
			size_t l = len;
			while (l && (p[l - 1] == '\r' || p[l - 1] == '\n'))
				l--;
			berth_strv_push_owned(&f->headers, berth_xstrndup(p, l));
		}
	return len;
}

struct upload {
	struct berth_buf data;
};

struct trickle {
	struct berth_buf body;
	size_t limit; /* bytes to send before failing (truncate) */
};

static ssize_t trickle_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct trickle *t = cls;
	if (pos >= t->limit)
		return mode == TRUNCATE ? MHD_CONTENT_READER_END_WITH_ERROR
					: MHD_CONTENT_READER_END_OF_STREAM;
	/* slow: 4 KiB every 20 ms (200 KiB/s), so a test can catch a pull half
	 * way even on a loaded machine under the sanitizers. */
	size_t n = t->limit - pos, chunk = mode == SLOW ? 4096 : 16384;
	if (n > chunk)
		n = chunk;
	if (n > max)
		n = max;
	memcpy(buf, t->body.data + pos, n);
	if (mode == SLOW)
		usleep(20000);
	return (ssize_t)n;
}

static void trickle_free(void *cls)
{
	struct trickle *t = cls;
	berth_buf_release(&t->body);
	free(t);
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct berth_buf *t = cls;
	char *k = curl_easy_escape(NULL, key, 0);
	char *v = value ? curl_easy_escape(NULL, value, 0) : NULL;
	berth_buf_addf(t, "%c%s%s%s", strchr(t->data, '?') ? '&' : '?', k, v ? "=" : "",
		       v ? v : "");
	curl_free(k);
	curl_free(v);
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	struct upload *up = *con_cls;
	if (!up) {
		up = berth_xcalloc(1, sizeof(*up));
		berth_buf_init(&up->data, 1u << 30);
		*con_cls = up;
		return MHD_YES;
	}
	if (*upload_size) {
		berth_buf_add(&up->data, upload_data, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	/* Rebuild the URL with its query string. */
	struct berth_buf target;
	berth_buf_init(&target, 1 << 16);
	berth_buf_addf(&target, "http://%s%s", upstream, url);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_query, &target);
	struct fetched f = {.headers = BERTH_STRV_INIT};
	berth_buf_init(&f.body, 1u << 30);
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	const char *hv;
	if ((hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"))) {
		char *line = berth_xasprintf("Accept: %s", hv);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
	}
	if ((hv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"))) {
		char *line = berth_xasprintf("Content-Type: %s", hv);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (up->data.len || !strcmp(method, "PUT") || !strcmp(method, "POST") ||
	    !strcmp(method, "PATCH")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, up->data.data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)up->data.len);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &f);
	curl_easy_setopt(h, CURLOPT_URL, target.data);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &f.status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	berth_buf_release(&target);
	if (rc != CURLE_OK)
		f.status = 502;

	bool blob_get = !strcmp(method, "GET") && strstr(url, "/blobs/sha256:") && f.status == 200;
	struct trickle *t = berth_xcalloc(1, sizeof(*t));
	t->body = f.body;
	t->limit = f.body.len;
	if (blob_get && mode == CORRUPT && t->body.len)
		t->body.data[t->body.len / 2] ^= 0x55;
	if (blob_get && mode == TRUNCATE)
		t->limit = t->body.len / 2;
	struct MHD_Response *resp =
	    MHD_create_response_from_callback(f.body.len, 16384, trickle_read, t, trickle_free);
	if (!blob_get || mode == PASS || mode == CORRUPT)
		t->limit = t->body.len;
	for (size_t i = 0; i < f.headers.n; i++) {
		char *colon = strchr(f.headers.v[i], ':');
		*colon = '\0';
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		MHD_add_response_header(resp, f.headers.v[i], v);
	}
	berth_strv_release(&f.headers);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)f.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
		 enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;
	if (up) {
		berth_buf_release(&up->data);
		free(up);
		*con_cls = NULL;
	}
}

static void on_term(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	int port = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listen"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--upstream"))
			upstream = argv[i + 1];
		else if (!strcmp(argv[i], "--mode"))
			mode = !strcmp(argv[i + 1], "corrupt")    ? CORRUPT
			       : !strcmp(argv[i + 1], "truncate") ? TRUNCATE
			       : !strcmp(argv[i + 1], "slow")     ? SLOW
								  : PASS;
	}
	if (!port || !upstream) {
		fprintf(stderr, "usage: blob_proxy --listen PORT --upstream HOST:PORT "
				"[--mode pass|corrupt|truncate|slow]\n");
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
			     NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
			     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "blob_proxy: cannot listen on 127.0.0.1:%d\n", port);
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	printf("blob_proxy listening on 127.0.0.1:%d\n", port);
	fflush(stdout);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	curl_global_cleanup();
	return 0;
}
