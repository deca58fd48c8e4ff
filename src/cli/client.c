/* The CLI's HTTP client to a berth server (libcurl, loaded on first use):
 * the server's URL from --server or $BERTH_SERVER, the key from $BERTH_KEY,
 * one request with its answer gathered or streamed, and the server's
 * {"error": {...}} answers printed as berth's own errors. */
#include "cli/cli.h"

#include "registry/curl_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The default server: `berth serve`'s default address. */
#define CLI_SERVER_DEFAULT "http://127.0.0.1:8686"
/* How long a connection to the server may take to open. */
#define CLI_CONNECT_TIMEOUT_S 10L
/* The most of an error answer that is shown. */
#define CLI_ERROR_SHOWN 300

const char *cli_server_url(const char *flag)
{
	if (flag && *flag)
		return flag;
	const char *env = getenv("BERTH_SERVER");
	return env && *env ? env : CLI_SERVER_DEFAULT;
}

struct transfer {
	void (*chunk)(void *ctx, const char *p, size_t n);
	void *ctx;
	struct berth_buf *out;
	bool too_large;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct transfer *t = ud;
	size_t len = size * n;
	if (t->chunk) {
		t->chunk(t->ctx, p, len);
		return len;
	}
	if (berth_buf_add(t->out, p, len) < 0) {
		t->too_large = true;
		return 0; /* stops the transfer */
	}
	return len;
}

/* A server on this host leaves its local admin token in the state dir:
 * $BERTH_HOME/serve.<port>.token (server/server_int.h). The token of the
 * server at url (its first len bytes), when that is http on a loopback
 * address and the file is there; else NULL. */
static char *local_token(const char *url, size_t len)
{
	static const char *const hosts[] = {
	    "http://127.0.0.1:", "http://localhost:", "http://[::1]:"};
	const char *port = NULL;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(hosts) && !port; i++)
		if (len > strlen(hosts[i]) && !strncmp(url, hosts[i], strlen(hosts[i])))
			port = url + strlen(hosts[i]);
	if (!port)
		return NULL;
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (end == port || p == 0 || p > 65535 || (end < url + len && *end != '/'))
		return NULL;
	_cleanup_free_ char *path = berth_xasprintf("%s/serve.%lu.token", cli_home(), p);
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 256);
	if (berth_fs_read_file(path, 256, &b, NULL) < 0 || !b.len)
		return NULL;
	size_t n = strcspn(b.data, "\r\n");
	return berth_xstrndup(b.data, n);
}

static int perform(const char *server, const char *method, const char *path,
		   const char *content_type, const void *body, size_t len, long *status,
		   struct transfer *t, struct berth_err **err)
{
	static bool curl_ready;
	if (!curl_ready) { /* the CLI is one thread */
		CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (rc != CURLE_OK)
			return berth_err_set(err, BERTH_E_INTERNAL, "initialise libcurl: %s",
					     curl_easy_strerror(rc));
		curl_ready = true;
	}
	size_t sl = strlen(server);
	while (sl && server[sl - 1] == '/')
		sl--;
	_cleanup_free_ char *url =
	    berth_xasprintf("%.*s%s%s", (int)sl, server, *path == '/' ? "" : "/", path);
	CURL *e = curl_easy_init();
	if (!e)
		return berth_err_set(err, BERTH_E_INTERNAL, "curl_easy_init failed");
	struct curl_slist *h = NULL;
	_cleanup_free_ char *auth = NULL, *ctype = NULL;
	const char *key = getenv("BERTH_KEY");
	_cleanup_free_ char *local = NULL;
	if (key && *key)
		auth = berth_xasprintf("Authorization: Key %s", key);
	else if ((local = local_token(server, sl)))
		auth = berth_xasprintf("Authorization: Key local:%s", local);
	if (auth)
		h = curl_slist_append(h, auth);
	if (content_type) {
		ctype = berth_xasprintf("Content-Type: %s", content_type);
		h = curl_slist_append(h, ctype);
	}
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CLI_CONNECT_TIMEOUT_S);
	/* A proxy for remote servers is the user's choice; never for this host. */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (body || strcmp(method, "GET") != 0) {
		if (body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		}
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode rc = curl_easy_perform(e);
	int r = 0;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	} else if (rc == CURLE_WRITE_ERROR && t->too_large) {
		r = berth_err_set(err, BERTH_E_LIMIT, "%s %s: the answer is larger than %zu bytes",
				  method, url, t->out->max);
	} else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		   rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_OPERATION_TIMEDOUT) {
		r = berth_err_set(err, BERTH_E_SYS,
				  "cannot reach the berth server at %.*s (is `berth serve` "
				  "running? --server or $BERTH_SERVER)",
				  (int)sl, server);
	} else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
		r = berth_err_set(err, BERTH_E_INVALID,
				  "invalid server URL '%s': expected http://HOST:PORT (--server or "
				  "$BERTH_SERVER)",
				  server);
	} else {
		r = berth_err_set(err, BERTH_E_SYS, "%s %s: %s", method, url,
				  *errbuf ? errbuf : curl_easy_strerror(rc));
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return r;
}

int cli_http(const char *server, const char *method, const char *path, const char *content_type,
	     const void *body, size_t len, long *status, struct berth_buf *out,
	     struct berth_err **err)
{
	struct transfer t = {.out = out};
	*status = 0;
	return perform(server, method, path, content_type, body, len, status, &t, err);
}

int cli_http_stream(const char *server, const char *method, const char *path,
		    const char *content_type, const void *body, size_t len, long *status,
		    void (*chunk)(void *ctx, const char *p, size_t n), void *ctx,
		    struct berth_err **err)
{
	struct transfer t = {.chunk = chunk, .ctx = ctx};
	*status = 0;
	return perform(server, method, path, content_type, body, len, status, &t, err);
}

int cli_http_fail(long status, const struct berth_buf *body)
{
	json_t *j = body && body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	if (!msg) /* FastAPI's {"detail": "..."} */
		msg = json_string_value(json_object_get(j, "detail"));
	if (msg) {
		fprintf(stderr, "berth: %s\n", msg);
	} else if (body && body->len) {
		size_t n = strcspn(body->data, "\r\n");
		fprintf(stderr, "berth: the server answered HTTP %ld: %.*s%s\n", status,
			(int)(n < CLI_ERROR_SHOWN ? n : CLI_ERROR_SHOWN), body->data,
			n > CLI_ERROR_SHOWN ? "..." : "");
	} else {
		fprintf(stderr, "berth: the server answered HTTP %ld\n", status);
	}
	const char *key = getenv("BERTH_KEY");
	if (status == 401 && (!key || !*key))
		fprintf(stderr, "berth: the server has API keys: set $BERTH_KEY to one\n");
	else if (status == 401)
		fprintf(stderr, "berth: the key in $BERTH_KEY was not accepted\n");
	json_decref(j);
	return CLI_FAIL;
}

int cli_http_json(const char *server, const char *method, const char *path, const char *type,
		  const void *body, size_t len, json_t **out)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 64u << 20);
	long status = 0;
	struct berth_err *err = NULL;
	if (cli_http(server, method, path, type, body, len, &status, &b, &err) < 0)
		return cli_fail(err, NULL);
	if (status < 200 || status >= 300)
		return cli_http_fail(status, &b);
	if (!out)
		return CLI_OK;
	json_error_t je;
	*out = json_loadb(b.data, b.len, 0, &je);
	if (!*out) {
		fprintf(stderr, "berth: the server's answer is not JSON: %s\n", je.text);
		return CLI_FAIL;
	}
	return CLI_OK;
}

void cli_print_json(const json_t *j)
{
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	berth_json_dump_pretty(j, &out);
	fwrite(out.data, 1, out.len, stdout);
}
