/* The registry session and its request layer on libcurl: one easy handle per
 * session for single requests (retries, token renewal on 401, redirects that
 * never carry auth off the registry), error messages from the registry's
 * {"errors":[...]} bodies, and the ping, manifest and blob-HEAD calls. */
#include "registry/registry_int.h"

/* BERTH_MANIFEST_MAX and the media types live in image.h; registry/ uses
 * those constants only, none of the image module's code. */
#include "image/image.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <strings.h>

/* Every manifest type berth reads (the reference, 2.3): a registry that
 * stores an OCI manifest answers 404 to a client that does not name it. */
static const char manifest_accept[] = BERTH_MT_OCI_INDEX
    ", " BERTH_MT_OCI_MANIFEST ", " BERTH_MT_DOCKER_LIST ", " BERTH_MT_DOCKER_MANIFEST;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int berth__reg_curl_init(struct berth_err **err)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return berth_err_set(err, BERTH_E_INTERNAL, "initialise libcurl: %s",
				     curl_easy_strerror(curl_init_result));
	return 0;
}

/* --------------------------------------------------------------- requests */

void berth__reg_headers_release(struct berth__reg_headers *h)
{
	free(h->location);
	free(h->content_type);
	free(h->digest);
	free(h->range);
	free(h->retry_after);
	free(h->chunk_min);
	berth_strv_release(&h->www_authenticate);
	*h = (struct berth__reg_headers){.content_length = -1};
}

void berth__req_init(struct berth__req *q, const char *what, const char *method, char *url_owned)
{
	*q = (struct berth__req){.what = what, .method = method, .url = url_owned, .fd = -1};
	q->hdr.content_length = -1;
	berth_buf_init(&q->body, BERTH_REGISTRY_ERROR_MAX);
}

void berth__req_release(struct berth__req *q)
{
	free(q->url);
	free(q->content_range);
	berth_buf_release(&q->body);
	berth__reg_headers_release(&q->hdr);
	q->url = q->content_range = NULL;
}

void berth__req_reset_response(struct berth__req *q)
{
	q->status = 0;
	size_t max = q->max ? q->max : BERTH_REGISTRY_ERROR_MAX;
	berth_buf_release(&q->body);
	berth_buf_init(&q->body, max);
	berth__reg_headers_release(&q->hdr);
}

static void set_header(char **slot, const char *v, size_t n)
{
	free(*slot);
	*slot = berth_xstrndup(v, n);
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct berth__xfer *x = ud;
	struct berth__reg_headers *h = &x->q->hdr;
	size_t n = size * nitems;
	if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue, say): start over. */
		berth__reg_headers_release(h);
		return n;
	}
	const char *colon = memchr(buf, ':', n);
	if (!colon)
		return n;
	size_t nlen = (size_t)(colon - buf);
	const char *v = colon + 1;
	const char *end = buf + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vlen = (size_t)(end - v);
	if (vlen > BERTH__REG_HEADER_MAX)
		return n; /* nothing we need is this long; ignore it */
	struct berth_sv name = {buf, nlen};
	if (berth_sv_eq_icase(name, "location")) {
		set_header(&h->location, v, vlen);
	} else if (berth_sv_eq_icase(name, "content-type")) {
		size_t t = 0;
		while (t < vlen && v[t] != ';' && v[t] != ' ' && v[t] != '\t')
			t++;
		set_header(&h->content_type, v, t);
	} else if (berth_sv_eq_icase(name, "docker-content-digest")) {
		set_header(&h->digest, v, vlen);
	} else if (berth_sv_eq_icase(name, "range")) {
		set_header(&h->range, v, vlen);
	} else if (berth_sv_eq_icase(name, "retry-after")) {
		set_header(&h->retry_after, v, vlen);
	} else if (berth_sv_eq_icase(name, "oci-chunk-min-length")) {
		set_header(&h->chunk_min, v, vlen);
	} else if (berth_sv_eq_icase(name, "content-length")) {
		char tmp[32];
		if (vlen < sizeof(tmp)) {
			memcpy(tmp, v, vlen);
			tmp[vlen] = '\0';
			char *e;
			errno = 0;
			long long cl = strtoll(tmp, &e, 10);
			if (!errno && e != tmp && !*e && cl >= 0)
				h->content_length = cl;
		}
	} else if (berth_sv_eq_icase(name, "www-authenticate")) {
		berth_strv_push_owned(&h->www_authenticate, berth_xstrndup(v, vlen));
	}
	return n;
}

static size_t body_cb(char *p, size_t size, size_t nitems, void *ud)
{
	struct berth__xfer *x = ud;
	size_t n = size * nitems;
	/* Over the cap: stop reading (curl reports a write error). */
	return berth_buf_add(&x->q->body, p, n) < 0 ? 0 : n;
}

static int64_t body_size(const struct berth__req *q)
{
	return q->fd >= 0 ? q->fd_len : (int64_t)q->len;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct berth__xfer *x = ud;
	const struct berth__req *q = x->q;
	int64_t left = body_size(q) - x->sent;
	size_t n = size * nitems;
	if (left <= 0)
		return 0;
	if ((int64_t)n > left)
		n = (size_t)left;
	if (q->fd < 0) {
		memcpy(buf, (const char *)q->data + x->sent, n);
	} else {
		ssize_t got;
		do
			got = pread(q->fd, buf, n, (off_t)(q->off + x->sent));
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			/* The file shrank or failed under us. */
			x->read_errno = got < 0 ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		n = (size_t)got;
	}
	x->sent += (int64_t)n;
	return n;
}

/* curl rewinds the body when it resends on a fresh connection. */
static int seek_cb(void *ud, curl_off_t offset, int origin)
{
	struct berth__xfer *x = ud;
	if (origin != SEEK_SET || offset < 0 || offset > body_size(x->q))
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = offset;
	return CURL_SEEKFUNC_OK;
}

void berth__xfer_setup(struct berth__xfer *x, CURL *e, const char *auth)
{
	struct berth__req *q = x->q;
	x->sent = 0;
	x->read_errno = 0;
	x->errbuf[0] = '\0';

	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, x->r->user_agent);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Redirects are followed by hand (berth__reg_do, fetch.c) so that auth
	 * is added per hop, for the registry's own origin only. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)BERTH__REG_CONNECT_TIMEOUT);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)BERTH__REG_STALL_SECONDS);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);

	struct curl_slist *h = NULL;
	if (q->accept) {
		_cleanup_free_ char *line = berth_xasprintf("Accept: %s", q->accept);
		h = curl_slist_append(h, line);
	}
	if (q->content_type) {
		_cleanup_free_ char *line = berth_xasprintf("Content-Type: %s", q->content_type);
		h = curl_slist_append(h, line);
	}
	if (q->content_range) {
		_cleanup_free_ char *line = berth_xasprintf("Content-Range: %s", q->content_range);
		h = curl_slist_append(h, line);
	}
	if (auth)
		h = curl_slist_append(h, auth);
	/* No 100-continue round trip before bodies. */
	h = curl_slist_append(h, "Expect:");
	if (!h)
		berth_oom();
	x->headers = h;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);

	if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(q->method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(q->method, "DELETE") == 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else {
		/* PUT, POST, PATCH: always with a body (maybe empty) and its
		 * Content-Length. */
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_size(q));
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
		if (strcmp(q->method, "PUT") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
	}
}

void berth__xfer_cleanup(struct berth__xfer *x)
{
	curl_slist_free_all(x->headers);
	x->headers = NULL;
}

/* ---------------------------------------------------------------- helpers */

bool berth__reg_transient_status(long status)
{
	return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
	       status == 504;
}

bool berth__reg_transient_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
		return true;
	default:
		return false;
	}
}

long berth__reg_backoff_ms(int attempt, const char *retry_after)
{
	long ms = (long)BERTH__REG_BACKOFF_MS << (attempt < 8 ? attempt : 8);
	if (retry_after && *retry_after) {
		char *e;
		long secs = strtol(retry_after, &e, 10);
		if (e == retry_after || *e) {
			/* An HTTP date. */
			time_t when = curl_getdate(retry_after, NULL);
			secs = when < 0 ? -1 : (long)(when - time(NULL));
		}
		if (secs > BERTH__REG_RETRY_AFTER_MAX)
			secs = BERTH__REG_RETRY_AFTER_MAX;
		if (secs >= 0 && secs * 1000 > ms)
			ms = secs * 1000;
	}
	return ms;
}

void berth__sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* scheme://host[:port] of url: its length. */
static size_t origin_len(const char *url)
{
	const char *h = strstr(url, "://");
	if (!h)
		return 0;
	h += 3;
	return (size_t)(h - url) + strcspn(h, "/?#");
}

bool berth__reg_same_origin(const struct berth_registry *r, const char *url)
{
	size_t n = strlen(r->origin);
	return origin_len(url) == n && strncasecmp(url, r->origin, n) == 0;
}

/* Resolve a Location against the URL it came from (RFC 3986, the forms
 * registries use: absolute, scheme-relative, absolute-path, relative). */
char *berth__reg_resolve_against(const char *base, const char *loc)
{
	if (strncasecmp(loc, "http://", 7) == 0 || strncasecmp(loc, "https://", 8) == 0)
		return berth_xstrdup(loc);
	if (loc[0] == '/' && loc[1] == '/') {
		size_t s = (size_t)(strchr(base, ':') - base);
		return berth_xasprintf("%.*s:%s", (int)s, base, loc);
	}
	size_t olen = origin_len(base);
	if (loc[0] == '/')
		return berth_xasprintf("%.*s%s", (int)olen, base, loc);
	/* Relative to the base's directory (its path up to the last '/'). */
	size_t plen = strcspn(base + olen, "?#");
	const char *path = base + olen;
	size_t dir = plen;
	while (dir && path[dir - 1] != '/')
		dir--;
	if (!dir)
		return berth_xasprintf("%.*s/%s", (int)olen, base, loc);
	return berth_xasprintf("%.*s%s", (int)(olen + dir), base, loc);
}

char *berth__reg_url(struct berth_registry *r, const char *repo, const char *kind, const char *ref)
{
	return berth_xasprintf("%s/v2/%s/%s/%s", r->origin, repo, kind, ref);
}

int berth__reg_check_repo(const char *repo, struct berth_err **err)
{
	/* distribution's name grammar, loosely: lower-case alphanumerics in
	 * '/'-separated components joined by '.', '_' or '-'. Anything else
	 * would change the URL's meaning. */
	size_t n = repo ? strlen(repo) : 0;
	bool ok = n > 0 && n <= BERTH__REG_HOST_MAX;
	char prev = '/';
	for (size_t i = 0; ok && i < n; i++) {
		char c = repo[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		bool sep = c == '.' || c == '_' || c == '-';
		if (c == '/')
			ok = prev != '/' && !strchr("._-", prev);
		else if (sep)
			ok = prev != '/' && !(c == '.' && prev == '.');
		else
			ok = alnum;
		prev = c;
	}
	if (ok && n && (prev == '/' || strchr("._-", prev)))
		ok = false;
	if (!ok)
		return berth_err_set(err, BERTH_E_INVALID,
				     "invalid repository name '%s' (lower-case letters, digits, "
				     "separators '.', '_', '-' and '/')",
				     repo ? repo : "");
	return 0;
}

static int check_ref(const char *ref, struct berth_err **err)
{
	if (ref && strncmp(ref, "sha256:", 7) == 0) {
		if (berth_digest_valid(ref))
			return 0;
		return berth_err_set(
		    err, BERTH_E_INVALID,
		    "invalid digest '%s' (want sha256: and 64 lower-case hex digits)", ref);
	}
	size_t n = ref ? strlen(ref) : 0;
	bool ok = n > 0 && n <= BERTH_TAG_MAX && (isalnum((unsigned char)ref[0]) || ref[0] == '_');
	for (size_t i = 1; ok && i < n; i++)
		ok = isalnum((unsigned char)ref[i]) || strchr("._-", ref[i]);
	if (!ok)
		return berth_err_set(
		    err, BERTH_E_INVALID,
		    "invalid tag or digest '%s' (a tag is up to %d letters, digits, "
		    "'.', '_' and '-'; a digest is sha256:<hex>)",
		    ref ? ref : "", BERTH_TAG_MAX);
	return 0;
}

int berth__reg_check_digest(const char *digest, struct berth_err **err)
{
	if (digest && berth_digest_valid(digest))
		return 0;
	return berth_err_set(err, BERTH_E_INVALID,
			     "invalid digest '%s' (want sha256: and 64 lower-case hex digits)",
			     digest ? digest : "");
}

/* The URL as shown in messages: without its query (upload state, tokens). */
static int shown_len(const char *url)
{
	return (int)strcspn(url, "?#");
}

/* ----------------------------------------------------------------- errors */

char *berth__reg_curl_detail(CURLcode c, const char *errbuf)
{
	char *d = berth_xstrdup(errbuf && *errbuf ? errbuf : curl_easy_strerror(c));
	d[0] = (char)tolower((unsigned char)d[0]);
	size_t dl = strlen(d);
	while (dl && (d[dl - 1] == '\n' || d[dl - 1] == '.'))
		d[--dl] = '\0';
	return d;
}

int berth__reg_curl_error(struct berth_registry *r, const struct berth__req *q, CURLcode c,
			  const char *errbuf, struct berth_err **err)
{
	_cleanup_free_ char *detail = berth__reg_curl_detail(c, errbuf);
	const char *hint = "";
	bool https = strncasecmp(q->url, "https://", 8) == 0;
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		hint = " (is the registry running and reachable?)";
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		hint = " (check the registry's host name)";
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		if (https)
			hint = " (if the registry speaks plain HTTP, mark it insecure)";
		break;
	case CURLE_OPERATION_TIMEDOUT:
		hint = " (the registry stopped answering; try again)";
		break;
	default:
		break;
	}
	return berth_err_set(err, BERTH_E_SYS, "registry '%s': %s: %s %.*s: %s%s", r->host, q->what,
			     q->method, shown_len(q->url), q->url, detail, hint);
}

/* "MANIFEST_UNKNOWN" -> "manifest unknown". */
static char *code_words(const char *code)
{
	char *s = berth_xstrdup(code);
	for (char *p = s; *p; p++)
		*p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
	return s;
}

/* The registry's own words: "code: message; code: message". */
static char *errors_text(const struct berth__req *q)
{
	if (!q->body.len)
		return NULL;
	struct berth_err *e = NULL;
	_cleanup_json_ json_t *j = berth_json_loadb(q->body.data, q->body.len, "error", &e);
	berth_err_free(e);
	const json_t *errs = j ? json_object_get(j, "errors") : NULL;
	if (!json_is_array(errs) || !json_array_size(errs))
		return NULL;
	struct berth_buf b;
	berth_buf_init(&b, BERTH__REG_DETAIL_SHOWN * 4);
	size_t i;
	const json_t *one;
	json_array_foreach(errs, i, one)
	{
		const char *code = berth_json_str(one, "code");
		const char *msg = berth_json_str(one, "message");
		_cleanup_free_ char *words = code ? code_words(code) : NULL;
		if (b.len)
			berth_buf_addstr(&b, "; ");
		if (words && msg && *msg && strcasecmp(words, msg) != 0)
			berth_buf_addf(&b, "%s: %.*s", words, BERTH__REG_DETAIL_SHOWN, msg);
		else if (words)
			berth_buf_addstr(&b, words);
		else if (msg)
			berth_buf_addf(&b, "%.*s", BERTH__REG_DETAIL_SHOWN, msg);
	}
	if (!b.len) {
		berth_buf_release(&b);
		return NULL;
	}
	return berth_buf_steal(&b, NULL);
}

static const char *status_words(long status)
{
	switch (status) {
	case 400:
		return "bad request";
	case 401:
		return "unauthorized";
	case 403:
		return "denied";
	case 404:
		return "not found";
	case 405:
		return "method not allowed";
	case 413:
		return "too large";
	case 416:
		return "range not satisfiable";
	case 429:
		return "too many requests";
	case 500:
		return "internal server error";
	case 502:
		return "bad gateway";
	case 503:
		return "service unavailable";
	case 504:
		return "gateway timeout";
	default:
		return "unexpected answer";
	}
}

int berth__reg_status_error(struct berth_registry *r, const struct berth__req *q,
			    struct berth_err **err)
{
	long s = q->status;
	enum berth_err_code code = s == 401 || s == 403                          ? BERTH_E_AUTH
				   : s == 404                                    ? BERTH_E_NOT_FOUND
				   : s == 413                                    ? BERTH_E_LIMIT
				   : s >= 400 && s < 500 && s != 408 && s != 429 ? BERTH_E_INVALID
										 : BERTH_E_SYS;
	_cleanup_free_ char *said = errors_text(q);
	_cleanup_free_ char *hint = NULL;
	if (s == 401) {
		if (r->username && r->auth == BERTH__AUTH_BEARER && r->token_creds_ok)
			hint = berth_xasprintf(" (the token server accepted '%s' but did not grant "
					       "this access; check the account's permissions on "
					       "the repository)",
					       r->username);
		else if (r->username)
			hint = berth_xasprintf(" (log in with 'berth login %s' or check the "
					       "password)",
					       r->host);
		else
			hint = berth_xasprintf(" (log in with 'berth login %s')", r->host);
	} else if (s == 403) {
		hint = r->username
			   ? berth_xasprintf(" (check that '%s' has this access)", r->username)
			   : berth_xasprintf(" (log in with 'berth login %s')", r->host);
	} else if (s == 429) {
		hint = berth_xstrdup(" (rate limited: wait, or log in for a higher limit)");
	} else if (s >= 500) {
		hint = berth_xstrdup(" (the registry failed; try again later)");
	}
	/* A status that says it all needs no URL (HEAD answers have no body). */
	if (!said && (s == 401 || s == 403 || s == 404 || s == 429))
		said = berth_xstrdup(status_words(s));
	if (said)
		return berth_err_set(err, code, "registry '%s': %s: %s%s", r->host, q->what, said,
				     hint ? hint : "");
	return berth_err_set(err, code, "registry '%s': %s: %s %.*s: HTTP %ld %s%s", r->host,
			     q->what, q->method, shown_len(q->url), q->url, s, status_words(s),
			     hint ? hint : "");
}

/* -------------------------------------------------------- the one loop */

static bool is_redirect(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

CURLcode berth__reg_perform_retrying(struct berth_registry *r, struct berth__req *q,
				     const char *auth, char *errbuf)
{
	for (int attempt = 0;; attempt++) {
		berth__req_reset_response(q);
		struct berth__xfer x = {.r = r, .q = q};
		curl_easy_reset(r->easy);
		berth__xfer_setup(&x, r->easy, auth);
		CURLcode c = curl_easy_perform(r->easy);
		memcpy(errbuf, x.errbuf, CURL_ERROR_SIZE);
		berth__xfer_cleanup(&x);
		if (c == CURLE_OK)
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &q->status);
		bool again = attempt < BERTH_REGISTRY_RETRIES &&
			     (c != CURLE_OK ? berth__reg_transient_curl(c)
					    : berth__reg_transient_status(q->status));
		if (!again)
			return c;
		berth__sleep_ms(berth__reg_backoff_ms(attempt, q->hdr.retry_after));
	}
}

/* GET /v2/ without credentials: learns the auth scheme. *status: the
 * answer. */
static int reg_learn(struct berth_registry *r, const char *what, long *status,
		     struct berth_err **err)
{
	struct berth__req q;
	berth__req_init(&q, what, "GET", berth_xasprintf("%s/v2/", r->origin));
	r->auth = BERTH__AUTH_NONE;
	int rc = 0;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode c = berth__reg_perform_retrying(r, &q, NULL, errbuf);
	if (c != CURLE_OK && !(c == CURLE_WRITE_ERROR && q.body.full)) {
		rc = berth__reg_curl_error(r, &q, c, errbuf, err);
		r->auth = BERTH__AUTH_UNKNOWN;
	}
	if (rc == 0) {
		*status = q.status;
		if (q.status == 401)
			berth__auth_learn(r, &q.hdr.www_authenticate, NULL);
	}
	berth__req_release(&q);
	return rc;
}

int berth__reg_ready(struct berth_registry *r, const char *what, struct berth_err **err)
{
	long status;
	return r->auth == BERTH__AUTH_UNKNOWN ? reg_learn(r, what, &status, err) : 0;
}

int berth__reg_do(struct berth_registry *r, struct berth__req *q, struct berth_err **err)
{
	int ready = berth__reg_ready(r, q->what, err);
	if (ready < 0)
		return ready;

	struct berth_strv _cleanup_strv_ scopes = BERTH_STRV_INIT;
	if (q->scopes)
		berth_strv_copy(&scopes, q->scopes);
	bool renewed = false;
	int redirects = 0;
	for (int attempt = 0;;) {
		_cleanup_free_ char *auth = NULL;
		if (berth__reg_same_origin(r, q->url)) {
			int rc = berth__auth_header(r, &scopes, q->what, &auth, err);
			if (rc < 0)
				return rc;
		}
		berth__req_reset_response(q);
		struct berth__xfer x = {.r = r, .q = q};
		curl_easy_reset(r->easy);
		berth__xfer_setup(&x, r->easy, auth);
		CURLcode c = curl_easy_perform(r->easy);
		berth__xfer_cleanup(&x);
		if (auth)
			explicit_bzero(auth, strlen(auth));

		if (c != CURLE_OK) {
			if (x.read_errno)
				return berth_err_sys(err, x.read_errno,
						     "registry '%s': %s: read the body", r->host,
						     q->what);
			if (c == CURLE_WRITE_ERROR && q->body.full)
				return berth_err_set(
				    err, BERTH_E_LIMIT,
				    "registry '%s': %s: the answer to %s %.*s exceeds "
				    "%zu bytes",
				    r->host, q->what, q->method, shown_len(q->url), q->url,
				    q->body.max);
			if (!q->no_retry && berth__reg_transient_curl(c) &&
			    attempt < BERTH_REGISTRY_RETRIES) {
				berth__sleep_ms(berth__reg_backoff_ms(attempt++, NULL));
				continue;
			}
			return berth__reg_curl_error(r, q, c, x.errbuf, err);
		}
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &q->status);

		if (q->status == 401 && !renewed && berth__reg_same_origin(r, q->url)) {
			/* An expired or too narrow token, or a registry whose /v2/
			 * was open but this repository is not: learn and try once
			 * more with what the challenge asks for. */
			renewed = true;
			enum berth__reg_auth before = r->auth;
			berth__auth_forget(r, &scopes);
			bool again = berth__auth_learn(r, &q->hdr.www_authenticate, &scopes);
			if (r->auth == BERTH__AUTH_BEARER && again) {
				berth__auth_forget(r, &scopes);
				continue;
			}
			if (r->auth == BERTH__AUTH_BASIC && r->username && before != r->auth)
				continue;
			return 0;
		}
		if (q->follow && is_redirect(q->status) && q->hdr.location) {
			if (++redirects > BERTH__REG_MAX_REDIRECTS)
				return berth_err_set(err, BERTH_E_SYS,
						     "registry '%s': %s: more than %d redirects",
						     r->host, q->what, BERTH__REG_MAX_REDIRECTS);
			char *next = berth__reg_resolve_against(q->url, q->hdr.location);
			free(q->url);
			q->url = next;
			continue;
		}
		if (!q->no_retry && berth__reg_transient_status(q->status) &&
		    attempt < BERTH_REGISTRY_RETRIES) {
			berth__sleep_ms(berth__reg_backoff_ms(attempt++, q->hdr.retry_after));
			continue;
		}
		return 0;
	}
}

/* --------------------------------------------------------------- sessions */

static int check_host(const char *host, struct berth_err **err)
{
	size_t n = host ? strlen(host) : 0;
	bool ok = n > 0 && n <= BERTH__REG_HOST_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)host[i]) || strchr(".-:[]_", host[i]);
	if (!ok)
		return berth_err_set(err, BERTH_E_INVALID,
				     "invalid registry host '%s' (want a name or address with an "
				     "optional :port)",
				     host ? host : "");
	return 0;
}

int berth_registry_new(const char *host, const struct berth_registry_opts *opts,
		       struct berth_registry **out, struct berth_err **err)
{
	*out = NULL;
	int rc = check_host(host, err);
	if (rc < 0)
		return rc;
	if (berth__reg_curl_init(err) < 0)
		return berth_err_prefix(err, "registry '%s'", host);
	CURL *easy = curl_easy_init();
	if (!easy)
		return berth_err_set(err, BERTH_E_INTERNAL, "registry '%s': initialise libcurl",
				     host);

	struct berth_registry *r = berth_xcalloc(1, sizeof(*r));
	r->easy = easy;
	r->host = berth_xstrdup(host);
	/* Docker Hub's API lives on another name than its references. */
	const char *api = strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0
			      ? "registry-1.docker.io"
			      : host;
	r->plain_http = (opts && opts->insecure) || berth_registry_host_is_local(host);
	r->origin = berth_xasprintf("%s://%s", r->plain_http ? "http" : "https", api);
	if (opts && opts->cred.username && *opts->cred.username) {
		r->username = berth_xstrdup(opts->cred.username);
		r->password = berth_xstrdup(opts->cred.password ? opts->cred.password : "");
	}
	r->user_agent =
	    berth_xstrdup(opts && opts->user_agent ? opts->user_agent : BERTH__REG_USER_AGENT);
	*out = r;
	return 0;
}

void berth_registry_free(struct berth_registry *r)
{
	if (!r)
		return;
	berth__auth_release(r);
	if (r->easy)
		curl_easy_cleanup(r->easy);
	free(r->host);
	free(r->origin);
	free(r->username);
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r->user_agent);
	free(r);
}

int berth_registry_ping(struct berth_registry *r, struct berth_err **err)
{
	const char *what = "check /v2/";
	long status;
	int rc = reg_learn(r, what, &status, err);
	if (rc < 0)
		return rc;
	if (status == 200)
		return 0;
	if (status != 401)
		return berth_err_set(
		    err, status == 404 ? BERTH_E_UNSUPPORTED : BERTH_E_SYS,
		    "registry '%s': GET %s/v2/ answered HTTP %ld %s (is this an OCI "
		    "registry?)",
		    r->host, r->origin, status, status_words(status));
	/* Anonymous on a token registry: it answers, and every repository
	 * will get its own (anonymous) token; nothing more to check. */
	if (r->auth == BERTH__AUTH_BEARER && !r->username)
		return 0;

	/* With credentials (or Basic without them): does /v2/ let us in? For
	 * Bearer this asks the token server for a scope-less token, which is
	 * how `docker login` checks a password. */
	struct berth__req q;
	berth__req_init(&q, what, "GET", berth_xasprintf("%s/v2/", r->origin));
	rc = berth__reg_do(r, &q, err);
	if (rc == 0 && q.status != 200) {
		if (q.status == 401 && r->auth == BERTH__AUTH_BASIC && !r->username)
			rc = berth_err_set(err, BERTH_E_AUTH,
					   "registry '%s': authentication required (log in with "
					   "'berth login %s')",
					   r->host, r->host);
		else if (q.status == 401 && r->auth == BERTH__AUTH_BASIC)
			rc = berth_err_set(
			    err, BERTH_E_AUTH,
			    "registry '%s': the password for '%s' was refused (log in "
			    "with 'berth login %s' or check the password)",
			    r->host, r->username, r->host);
		else
			rc = berth__reg_status_error(r, &q, err);
	}
	berth__req_release(&q);
	return rc;
}

static char *repo_ref(const char *repo, const char *ref)
{
	return berth_xasprintf("%s%s%s", repo, strncmp(ref, "sha256:", 7) == 0 ? "@" : ":", ref);
}

/* The media type of a manifest: the Content-Type, or the body's mediaType
 * when the server sent something generic. */
static char *manifest_type(const struct berth__req *q)
{
	const char *ct = q->hdr.content_type;
	if (ct && *ct && strcasecmp(ct, "application/json") != 0 &&
	    strcasecmp(ct, "text/plain") != 0 && strcasecmp(ct, "application/octet-stream") != 0)
		return berth_xstrdup(ct);
	struct berth_err *e = NULL;
	_cleanup_json_ json_t *j = berth_json_loadb(q->body.data, q->body.len, "manifest", &e);
	berth_err_free(e);
	const char *mt = j ? berth_json_str(j, "mediaType") : NULL;
	return berth_xstrdup(mt ? mt : ct ? ct : "");
}

int berth_registry_get_manifest(struct berth_registry *r, const char *repo, const char *ref,
				struct berth_buf *body, char **media_type,
				char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	*media_type = NULL;
	int rc = berth__reg_check_repo(repo, err);
	if (rc < 0 || (rc = check_ref(ref, err)) < 0)
		return rc;
	_cleanup_free_ char *rr = repo_ref(repo, ref);
	_cleanup_free_ char *what = berth_xasprintf("pull '%s'", rr);
	struct berth_strv _cleanup_strv_ scopes = BERTH_STRV_INIT;
	berth_strv_pushf(&scopes, "repository:%s:pull", repo);

	struct berth__req q;
	berth__req_init(&q, what, "GET", berth__reg_url(r, repo, "manifests", ref));
	q.accept = manifest_accept;
	q.scopes = &scopes;
	q.max = BERTH_MANIFEST_MAX;
	rc = berth__reg_do(r, &q, err);
	if (rc == 0 && q.status != 200)
		rc = berth__reg_status_error(r, &q, err);
	if (rc < 0)
		goto out;

	char got[BERTH_DIGEST_LEN + 1];
	struct berth_sha256 h;
	berth_sha256_init(&h);
	berth_sha256_update(&h, q.body.data, q.body.len);
	berth_sha256_final_digest(&h, got);
	if (strncmp(ref, "sha256:", 7) == 0 && strcmp(got, ref) != 0) {
		rc = berth_err_set(err, BERTH_E_INVALID,
				   "registry '%s': %s: the manifest served hashes to '%s', not the "
				   "digest asked for",
				   r->host, what, got);
		goto out;
	}
	/* By tag the registry names the digest in its header: bytes that do
	 * not have it were changed on the way (containerd refuses them too). */
	if (q.hdr.digest && berth_digest_valid(q.hdr.digest) && strcmp(got, q.hdr.digest) != 0) {
		rc = berth_err_set(err, BERTH_E_INVALID,
				   "registry '%s': %s: the manifest served hashes to '%s', not the "
				   "Docker-Content-Digest '%s' sent with it",
				   r->host, what, got, q.hdr.digest);
		goto out;
	}
	if (berth_buf_add(body, q.body.data, q.body.len) < 0) {
		rc = berth_err_set(err, BERTH_E_LIMIT,
				   "registry '%s': %s: the manifest (%zu bytes) does not fit the "
				   "caller's buffer",
				   r->host, what, q.body.len);
		goto out;
	}
	*media_type = manifest_type(&q);
	memcpy(digest, got, sizeof(got));
out:
	berth__req_release(&q);
	return rc;
}

int berth__blob_head(struct berth_registry *r, const char *repo, const char *digest,
		     const struct berth_strv *scopes, const char *what, int64_t *size,
		     struct berth_err **err)
{
	struct berth__req q;
	berth__req_init(&q, what, "HEAD", berth__reg_url(r, repo, "blobs", digest));
	q.scopes = scopes;
	q.follow = true;
	int rc = berth__reg_do(r, &q, err);
	if (rc == 0 && q.status == 404)
		rc = berth_err_set(err, BERTH_E_NOT_FOUND, "registry '%s': %s: blob '%s' not found",
				   r->host, what, digest);
	else if (rc == 0 && q.status != 200)
		rc = berth__reg_status_error(r, &q, err);
	if (rc == 0 && size)
		*size = q.hdr.content_length;
	berth__req_release(&q);
	return rc;
}

int berth_registry_blob_exists(struct berth_registry *r, const char *repo, const char *digest,
			       int64_t *size, struct berth_err **err)
{
	int rc = berth__reg_check_repo(repo, err);
	if (rc < 0 || (rc = berth__reg_check_digest(digest, err)) < 0)
		return rc;
	_cleanup_free_ char *what = berth_xasprintf("pull '%s'", repo);
	struct berth_strv _cleanup_strv_ scopes = BERTH_STRV_INIT;
	berth_strv_pushf(&scopes, "repository:%s:pull", repo);
	return berth__blob_head(r, repo, digest, &scopes, what, size, err);
}

int berth_registry_put_manifest(struct berth_registry *r, const char *repo, const char *ref,
				const void *data, size_t len, const char *media_type,
				struct berth_err **err)
{
	int rc = berth__reg_check_repo(repo, err);
	if (rc < 0 || (rc = check_ref(ref, err)) < 0)
		return rc;
	_cleanup_free_ char *rr = repo_ref(repo, ref);
	_cleanup_free_ char *what = berth_xasprintf("push '%s'", rr);
	if (!media_type || !*media_type || strpbrk(media_type, "\r\n"))
		return berth_err_set(err, BERTH_E_INVALID, "registry '%s': %s: bad media type '%s'",
				     r->host, what, media_type ? media_type : "");
	if (len > BERTH_MANIFEST_MAX)
		return berth_err_set(err, BERTH_E_LIMIT,
				     "registry '%s': %s: the manifest is %zu bytes, over the limit "
				     "of %u",
				     r->host, what, len, BERTH_MANIFEST_MAX);
	char want[BERTH_DIGEST_LEN + 1];
	struct berth_sha256 h;
	berth_sha256_init(&h);
	berth_sha256_update(&h, data, len);
	berth_sha256_final_digest(&h, want);
	if (strncmp(ref, "sha256:", 7) == 0 && strcmp(ref, want) != 0)
		return berth_err_set(
		    err, BERTH_E_INVALID,
		    "registry '%s': %s: the manifest hashes to '%s', not the digest "
		    "it is pushed under",
		    r->host, what, want);

	struct berth_strv _cleanup_strv_ scopes = BERTH_STRV_INIT;
	berth_strv_pushf(&scopes, "repository:%s:pull,push", repo);
	struct berth__req q;
	berth__req_init(&q, what, "PUT", berth__reg_url(r, repo, "manifests", ref));
	q.content_type = media_type;
	q.data = data;
	q.len = len;
	q.scopes = &scopes;
	rc = berth__reg_do(r, &q, err);
	if (rc == 0 && q.status != 201 && q.status != 200 && q.status != 202)
		rc = berth__reg_status_error(r, &q, err);
	if (rc == 0 && q.hdr.digest && strcmp(q.hdr.digest, want) != 0)
		rc = berth_err_set(err, BERTH_E_INVALID,
				   "registry '%s': %s: the registry stored digest '%.80s', but the "
				   "manifest sent hashes to '%s'",
				   r->host, what, q.hdr.digest, want);
	berth__req_release(&q);
	return rc;
}
