/* The gateway's HTTP glue: libmicrohttpd (a thread per connection) to the
 * route tables of each area, with the body gathered under a limit, API keys
 * checked against each route's scope, and one table from error codes to
 * statuses. */
#include "server/server_int.h"

#include "server/mhd_api.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const struct srv_route *const tables[] = {
    srv_routes_apps, srv_routes_run,  srv_routes_queue,   srv_routes_files,
    srv_routes_kv,   srv_routes_keys, srv_routes_metrics,
};

double srv_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ responses */

void srv_header(struct srv_resp *rs, const char *name, const char *value)
{
	berth_strv_pushf(&rs->headers, "%s: %s", name, value);
}

void srv_json(struct srv_resp *rs, int status, json_t *j)
{
	rs->status = status;
	berth_buf_reset(&rs->body);
	/* json_pack gives NULL for a string that is not UTF-8: never a crash. */
	if (!j) {
		rs->status = 500;
		j = json_pack("{s:{s:s, s:s}}", "error", "code", "internal", "message",
			      "the answer could not be encoded as JSON");
	}
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	berth_buf_addstr(&rs->body, text);
	berth_buf_addch(&rs->body, '\n');
	free(text);
	json_decref(j);
	srv_header(rs, "Content-Type", "application/json");
}

/* Replace what is not UTF-8 (a request path can hold anything) with '?',
 * in place: JSON strings must be UTF-8. */
static void utf8_sanitize(unsigned char *p)
{
	while (*p) {
		size_t n = *p < 0x80             ? 1
			   : (*p & 0xe0) == 0xc0 ? 2
			   : (*p & 0xf0) == 0xe0 ? 3
			   : (*p & 0xf8) == 0xf0 ? 4
						 : 0;
		bool ok = n > 0 && !(n == 2 && *p < 0xc2);
		for (size_t i = 1; ok && i < n; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (!ok) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

void srv_error(struct srv_resp *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_sanitize((unsigned char *)msg);
	srv_json(rs, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

void srv_fail(struct srv_resp *rs, struct berth_err *e)
{
	static const int status[] = {
	    [BERTH_E_INVALID] = 400,     [BERTH_E_NOT_FOUND] = 404, [BERTH_E_EXISTS] = 409,
	    [BERTH_E_LIMIT] = 413,       [BERTH_E_SYS] = 500,       [BERTH_E_AUTH] = 401,
	    [BERTH_E_UNSUPPORTED] = 501, [BERTH_E_INTERNAL] = 500,  [BERTH_E_TIMEOUT] = 504,
	    [BERTH_E_UNAVAILABLE] = 503,
	};
	int code =
	    e && e->code > 0 && (size_t)e->code < BERTH_ARRAY_SIZE(status) ? status[e->code] : 500;
	srv_error(rs, code, berth_err_code_name(e ? e->code : BERTH_E_INTERNAL), "%s",
		  e ? e->msg : "internal error");
	berth_err_free(e);
}

const char *srv_req_header(const struct srv_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

char *srv_query(const struct srv_req *rq, const char *name)
{
	const char *v = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
	return v ? berth_xstrdup(v) : NULL;
}

char *srv_app_target(const struct srv_req *rq)
{
	const char *t = rq->target ? rq->target : "/";
	for (int seg = 0; seg < 2 && *t && *t != '?'; seg++) {
		t += *t == '/';
		t += strcspn(t, "/?");
	}
	const char *q = strchr(t, '?');
	size_t plen = q ? (size_t)(q - t) : strlen(t);
	return berth_xasprintf("%s%.*s%s", plen ? "" : "/", (int)plen, t, q ? q : "");
}

json_t *srv_body_json(const struct srv_req *rq, struct srv_resp *rs)
{
	json_error_t je;
	json_t *j = json_loadb(rq->body, rq->body_len, 0, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		srv_error(rs, 400, "invalid", "the body must be a JSON object%s%s", j ? "" : ": ",
			  j ? "" : je.text);
		return NULL;
	}
	return j;
}

/* -------------------------------------------------------------- routing */

/* Match rq->path against `pattern`; params point into `copy` (a writable
 * copy of the path, NUL-split), rest into rq->path itself. */
static bool match(const char *pattern, char *copy, struct srv_req *rq)
{
	size_t np = 0;
	const char *p = pattern;
	char *s = copy;
	while (*p) {
		if (p[0] == '/' && p[1] == '*' && !p[2]) { /* "/...": the rest, even "" */
			if (*s && *s != '/')
				return false;
			rq->rest = rq->path + (s - copy);
			return true;
		}
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t n = strcspn(s, "/");
			if (!close || np == SRV_PARAMS_MAX || n == 0)
				return false;
			rq->params[np++] = s;
			p = close + 1;
			s += n;
			if (*s == '/' && *p == '/' && !(p[1] == '*' && !p[2])) {
				*s++ = '\0';
				p++;
			} else if (*s == '/' && p[0] == '/' && p[1] == '*' && !p[2]) {
				/* the rest keeps its slash: end the param in place later */
				rq->rest = rq->path + (s - copy);
				*s = '\0';
				return true;
			} else if (*s) {
				return false;
			}
			continue;
		}
		if (*p != *s)
			return false;
		p++, s++;
	}
	rq->rest = "";
	return *s == '\0';
}

static bool allowed(const struct srv_req *rq, enum srv_scope need)
{
	switch (need) {
	case SRV_PUBLIC:
		return true;
	case SRV_INVOKE: /* the handler decides: the app may be public */
		return true;
	case SRV_ADMIN:
		return rq->key_scope == SRV_ADMIN;
	}
	return false;
}

/* The route for rq (its params and rest set, pointing into `copy`, a
 * writable copy of rq->path the caller keeps), or NULL with *path_known
 * telling 405 from 404. */
static const struct srv_route *route_find(struct srv_req *rq, char *copy, bool *path_known)
{
	*path_known = false;
	for (size_t t = 0; t < BERTH_ARRAY_SIZE(tables); t++)
		for (const struct srv_route *r = tables[t]; r->pattern; r++) {
			memcpy(copy, rq->path, strlen(rq->path) + 1); /* match() split it */
			memset(rq->params, 0, sizeof(rq->params));
			if (!match(r->pattern, copy, rq))
				continue;
			*path_known = true;
			if (strcmp(r->method, rq->method) == 0)
				return r;
		}
	return NULL;
}

/* What can be decided from the headers alone: the route, the key's scope
 * and the route's gate. Returns false with rs answered when the request
 * is refused; *route is then NULL or the route to run once the body is in. */
static bool admit(struct srv_req *rq, char *copy, struct srv_resp *rs,
		  const struct srv_route **route)
{
	bool path_known;
	*route = route_find(rq, copy, &path_known);
	const struct srv_route *r = *route;
	if (!r) {
		if (path_known)
			srv_error(rs, 405, "method", "%s is not allowed on %s", rq->method,
				  rq->path);
		else
			srv_error(rs, 404, "not_found", "no route %s %s", rq->method, rq->path);
		return false;
	}
	if (!allowed(rq, r->scope)) {
		if (rq->key_id)
			srv_error(rs, 403, "auth",
				  "this needs an admin key: Authorization: Key <key> (berth keys "
				  "create --scope admin)");
		else
			srv_error(rs, 401, "auth",
				  "this needs an admin key, or on this host the server's local "
				  "token, which the berth CLI sends by itself: Authorization: Key "
				  "local:<the token in $BERTH_HOME/serve.<port>.token>");
		return false;
	}
	return !r->gate || r->gate(rq, rs);
}

static void dispatch(const struct srv_route *r, struct srv_req *rq, struct srv_resp *rs)
{
	double t0 = srv_mono();
	r->handler(rq, rs);
	if (r->metrics_kind)
		srv_metrics_request(rq->srv, "", r->metrics_kind, rs->status ? rs->status : 200,
				    srv_mono() - t0);
}

/* ----------------------------------------------------- libmicrohttpd glue */

/* One request, from the raw target to the last byte of the answer. */
struct conn_state {
	struct berth_srv *srv;
	char *uri; /* as sent, query included */
	struct berth_buf body;
	bool too_large;
	bool started; /* the access handler has seen the headers */
	struct timespec t0;
	struct srv_req rq;
	struct srv_resp rs;
	const struct srv_route *route; /* admitted, run once the body is in */
	char *params;                  /* the copy of the path rq.params point into */
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct conn_state *st = berth_xcalloc(1, sizeof(*st));
	st->srv = cls;
	st->uri = berth_xstrdup(uri);
	berth_buf_init(&st->body, BERTH_FRONT_BODY_MAX);
	berth_buf_init(&st->rs.body, BERTH_BUF_UNLIMITED);
	st->rs.stream_size = -1;
	clock_gettime(CLOCK_MONOTONIC, &st->t0);
	return st;
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct conn_state *st = cls;
	for (;;) {
		ssize_t n = st->rs.stream(st->rs.stream_ctx, buf, max);
		if (n > 0)
			return n;
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
}

static enum MHD_Result respond(struct MHD_Connection *c, struct conn_state *st)
{
	struct srv_resp *rs = &st->rs;
	struct MHD_Response *r;
	if (rs->stream) {
		r = MHD_create_response_from_callback(
		    rs->stream_size >= 0 ? (uint64_t)rs->stream_size : MHD_SIZE_UNKNOWN, 32 * 1024,
		    read_stream, st, NULL);
	} else {
		size_t len = rs->body.len;
		char *data = berth_buf_steal(&rs->body, NULL);
		r = MHD_create_response_from_buffer(len, data ? data : berth_xstrdup(""),
						    MHD_RESPMEM_MUST_FREE);
	}
	for (size_t i = 0; i < rs->headers.n; i++) {
		char *h = rs->headers.v[i];
		char *colon = strchr(h, ':');
		if (!colon)
			continue;
		*colon = '\0';
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		MHD_add_response_header(r, h, v);
		*colon = ':';
	}
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)(rs->status ? rs->status : 200), r);
	MHD_destroy_response(r);
	return ret;
}

/* Does any query argument hold a NUL byte (%00)? Values are C strings to
 * the handlers: "x.sh%00.png" must not become "x.sh". */
static enum MHD_Result arg_has_nul(void *cls, enum MHD_ValueKind kind, const char *key,
				   size_t key_size, const char *value, size_t value_size)
{
	bool *nul = cls;
	if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
		*nul = true;
		return MHD_NO;
	}
	return MHD_YES;
}

/* The headers are in: refuse now what would be refused after the body
 * (too large, a NUL in the query, no route, no key), so a refused upload is
 * never read and a client that sent Expect: 100-continue gets no 100. */
static bool on_headers(struct MHD_Connection *c, struct conn_state *st, const char *url,
		       const char *method)
{
	const char *q = strchr(st->uri, '?');
	st->params = berth_xstrdup(url);
	st->rq = (struct srv_req){
	    .srv = st->srv,
	    .conn = c,
	    .method = method,
	    .path = url, /* decoded by libmicrohttpd */
	    .query = q ? q + 1 : "",
	    .target = st->uri,
	    .body = "",
	};
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > BERTH_FRONT_BODY_MAX) {
		srv_error(&st->rs, 413, "limit", "the request body is over %u bytes",
			  BERTH_FRONT_BODY_MAX);
		return false;
	}
	bool nul = false;
	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, arg_has_nul, &nul);
	if (nul) {
		srv_error(&st->rs, 400, "invalid", "a query argument holds a NUL byte (%%00)");
		return false;
	}
	srv_keys_authenticate(&st->rq);
	return admit(&st->rq, st->params, &st->rs, &st->route);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct conn_state *st = *con_cls;
	if (!st->started) {
		st->started = true;
		return on_headers(c, st, url, method) ? MHD_YES : respond(c, st);
	}
	if (*upload_size) {
		if (!st->too_large && berth_buf_add(&st->body, upload, *upload_size) < 0)
			st->too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (st->too_large) { /* chunked, or a Content-Length that lied */
		srv_error(&st->rs, 413, "limit", "the request body is over %u bytes",
			  BERTH_FRONT_BODY_MAX);
		return respond(c, st);
	}
	if (st->body.len) {
		st->rq.body = st->body.data;
		st->rq.body_len = st->body.len;
	}
	dispatch(st->route, &st->rq, &st->rs);
	return respond(c, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_state *st = *con_cls;
	if (!st)
		return;
	if (st->rs.stream_free)
		st->rs.stream_free(st->rs.stream_ctx);
	berth_buf_release(&st->body);
	berth_buf_release(&st->rs.body);
	berth_strv_release(&st->rs.headers);
	free(st->rq.key_id);
	free(st->params);
	free(st->uri);
	free(st);
	*con_cls = NULL;
}

struct MHD_Daemon *berth__srv_http_start(struct berth_srv *srv, struct berth_err **err)
{
	errno = 0;
	/* No socket of its own: the relay accepts and hands over (relay.h). */
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
		MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
	    0, NULL, NULL, on_request, srv, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)BERTH_FRONT_HEADER_MAX * 2, MHD_OPTION_CONNECTION_LIMIT,
	    berth_http_connection_limit(), MHD_OPTION_CONNECTION_TIMEOUT, BERTH_HTTP_IDLE_TIMEOUT_S,
	    MHD_OPTION_END);
	if (!d)
		berth_err_sys(err, errno ? errno : EINVAL, "start the HTTP server");
	return d;
}
