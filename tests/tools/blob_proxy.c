/* A test proxy in front of a plain registry that misbehaves on blob
 * downloads on purpose: --mode corrupt flips a byte, truncate stops half
 * way (the connection breaks), slow trickles the bytes out, pass forwards.
 * Faults for tests/reliability: error answers 503 to every blob GET,
 * error-manifest to every manifest request, flaky answers 503 to the first
 * two GETs of each blob, hang-once never answers the first blob GET (the
 * connection stays open), wrong-blob serves zeros of the right length,
 * wrong-manifest serves a manifest with other bytes (so another digest)
 * under the same Docker-Content-Digest. Everything else is forwarded
 * untouched. Listens on 127.0.0.1 only.
 *   blob_proxy --listen PORT --upstream 127.0.0.1:5000 --mode corrupt */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"

enum mode {
	PASS,
	CORRUPT,
	TRUNCATE,
	SLOW,
	ERROR,
	ERROR_MANIFEST,
	FLAKY,
	HANG_ONCE,
	WRONG_BLOB,
	WRONG_MANIFEST
};

static const char *const mode_names[] = {
    [PASS] = "pass",
    [CORRUPT] = "corrupt",
    [TRUNCATE] = "truncate",
    [SLOW] = "slow",
    [ERROR] = "error",
    [ERROR_MANIFEST] = "error-manifest",
    [FLAKY] = "flaky",
    [HANG_ONCE] = "hang-once",
    [WRONG_BLOB] = "wrong-blob",
    [WRONG_MANIFEST] = "wrong-manifest",
};

#define FLAKY_FAILS 2  /* 503s before a blob is served (flaky) */
#define FLAKY_URLS  64 /* blobs remembered (flaky) */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *flaky_urls[FLAKY_URLS];
static int flaky_seen[FLAKY_URLS];
static bool hung; /* hang-once: the first blob GET has been held */

/* How many times this blob URL was asked for before (flaky). */
static int flaky_count(const char *url)
{
	pthread_mutex_lock(&lock);
	int i = 0;
	while (i < FLAKY_URLS && flaky_urls[i] && strcmp(flaky_urls[i], url))
		i++;
	int n = FLAKY_FAILS;
	if (i < FLAKY_URLS) {
		if (!flaky_urls[i])
			flaky_urls[i] = berth_xstrdup(url);
		n = flaky_seen[i]++;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

static struct MHD_Response *unavailable(void)
{
	static const char body[] =
	    "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"blob_proxy: injected "
	    "fault\"}]}";
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	return r;
}

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
	bool is_blob_get = !strcmp(method, "GET") && strstr(url, "/blobs/sha256:");
	bool is_manifest = strstr(url, "/manifests/") != NULL;
	if ((mode == ERROR && is_blob_get) || (mode == ERROR_MANIFEST && is_manifest) ||
	    (mode == FLAKY && is_blob_get && flaky_count(url) < FLAKY_FAILS)) {
		struct MHD_Response *r = unavailable();
		enum MHD_Result ret = MHD_queue_response(c, 503, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (mode == HANG_ONCE && is_blob_get) {
		pthread_mutex_lock(&lock);
		bool first = !hung;
		hung = true;
		pthread_mutex_unlock(&lock);
		/* Hold the connection without a byte of answer until the
		 * client gives up (or we are stopped). */
		while (first && !stop)
			usleep(100000);
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
	if (blob_get && mode == WRONG_BLOB)
		memset(t->body.data, 0, t->body.len);
	if (mode == WRONG_MANIFEST && is_manifest && !strcmp(method, "GET") && f.status == 200 &&
	    t->body.len) {
		/* Other bytes, the same JSON: a trailing newline. */
		berth_buf_addch(&t->body, '\n');
		f.body = t->body;
		t->limit = t->body.len;
	}
	struct MHD_Response *resp =
	    MHD_create_response_from_callback(f.body.len, 16384, trickle_read, t, trickle_free);
	if (!blob_get || mode != TRUNCATE)
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
			for (size_t m = 0; m < BERTH_ARRAY_SIZE(mode_names); m++)
				if (!strcmp(argv[i + 1], mode_names[m]))
					mode = (enum mode)m;
	}
	if (!port || !upstream) {
		fprintf(stderr, "usage: blob_proxy --listen PORT --upstream HOST:PORT "
				"[--mode pass|corrupt|truncate|slow|error|error-manifest|flaky|"
				"hang-once|wrong-blob|wrong-manifest]\n");
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
