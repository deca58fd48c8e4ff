/* Sync calls: POST /run/{app}[/path] takes a slot on a ready runner
 * (starting one when none is: scale from zero) and streams its answer back. */
#include "server/apps.h"
#include "server/proxy.h"

#include "server/mhd_api.h"

#include <string.h>
#include <time.h>

/* How long a sync call waits for a runner (a cold start included). */
#define RUN_WAIT_MS (10 * 60 * 1000)

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	struct berth_strv *h = cls;
	if (!berth__hop_header(k, strlen(k)) && strcasecmp(k, "authorization") != 0 &&
	    strcasecmp(k, SRV_RUNNER_TOKEN_HEADER) != 0)
		berth_strv_pushf(h, "%s: %s", k, v ? v : "");
	return MHD_YES;
}

void srv_request_headers(const struct srv_req *rq, const char *id, struct berth_strv *out)
{
	MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, add_header, out);
	if (!srv_req_header(rq, "x-berth-request-id"))
		berth_strv_pushf(out, "x-berth-request-id: %s", id);
}

bool srv_invoke_check(struct srv_req *rq, struct srv_resp *rs, const char *app,
		      struct srv_app_info *info)
{
	struct berth_err *err = NULL;
	if (srv_apps_info(rq->srv, app, info, &err) < 0) {
		srv_fail(rs, err);
		return false;
	}
	if (!srv_keys_invoke_ok(rq, info->auth)) {
		srv_error(rs, 401, "auth",
			  "app '%s' is private: call it with Authorization: Key <key> (berth keys "
			  "create)",
			  app);
		return false;
	}
	return true;
}

bool srv_gate_app(struct srv_req *rq, struct srv_resp *rs)
{
	struct srv_app_info info;
	return srv_invoke_check(rq, rs, rq->params[0], &info);
}

struct call {
	struct berth_srv *srv;
	struct srv_slot slot;
	struct berth__proxy *proxy;
	double t0;
	int status;
};

static ssize_t call_read(void *ctx, char *buf, size_t max)
{
	struct call *c = ctx;
	ssize_t n = berth__proxy_read(c->proxy, buf, max);
	return n > 0 ? n : -1;
}

static void call_free(void *ctx)
{
	struct call *c = ctx;
	enum srv_outcome o = SRV_OK;
	if (berth__proxy_timed_out(c->proxy))
		o = SRV_RUNNER_SLOW;
	else if (berth__proxy_error(c->proxy) || c->status == 503)
		o = SRV_RUNNER_BAD;
	srv_apps_release(c->srv, &c->slot, o);
	srv_metrics_request(c->srv, c->slot.app, "sync", c->status, srv_mono() - c->t0);
	berth__proxy_free(c->proxy);
	free(c);
}

static void run(struct srv_req *rq, struct srv_resp *rs)
{
	const char *app = rq->params[0];
	struct srv_app_info info;
	if (!srv_invoke_check(rq, rs, app, &info))
		return;
	struct call *c = berth_xcalloc(1, sizeof(*c));
	c->srv = rq->srv;
	c->t0 = srv_mono();
	struct berth_err *err = NULL;
	if (srv_apps_acquire(rq->srv, app, RUN_WAIT_MS, true, &c->slot, &err) < 0) {
		free(c);
		srv_metrics_request(rq->srv, app, "sync", 503, 0);
		srv_error(rs, 503, "unavailable", "%s", err->msg);
		berth_err_free(err);
		return;
	}
	/* The caller's request id when it gave one (as the relay does). */
	char id[128];
	const char *given = srv_req_header(rq, "x-berth-request-id");
	if (given && *given && strlen(given) < sizeof(id))
		snprintf(id, sizeof(id), "%s", given);
	else
		berth_random_uuid(id);
	_cleanup_strv_ struct berth_strv headers = BERTH_STRV_INIT;
	srv_request_headers(rq, id, &headers);
	berth_strv_pushf(&headers, "%s: %s", SRV_RUNNER_TOKEN_HEADER, c->slot.token);
	_cleanup_free_ char *target = srv_app_target(rq);
	_cleanup_free_ char *url = berth_xasprintf("http://127.0.0.1:%u%s", c->slot.port, target);
	struct berth__proxy_req pr = {
	    .method = rq->method,
	    .url = url,
	    .headers = &headers,
	    .body = rq->body,
	    .body_len = rq->body_len,
	    .timeout_ms = info.request_timeout_ms,
	};
	if (berth__proxy_begin(&pr, &c->proxy, &err) < 0) {
		bool slow = err->code == BERTH_E_TIMEOUT;
		srv_apps_release(rq->srv, &c->slot, slow ? SRV_RUNNER_SLOW : SRV_RUNNER_BAD);
		srv_metrics_request(rq->srv, app, "sync", slow ? 504 : 503, 0);
		if (slow)
			srv_error(
			    rs, 504, "timeout",
			    "app '%s' did not answer within its request_timeout (%lld ms); the "
			    "runner is recycled",
			    app, (long long)info.request_timeout_ms);
		else
			srv_error(rs, 503, "unavailable", "app '%s' did not answer: %s", app,
				  err->msg);
		berth_err_free(err);
		free(c);
		return;
	}
	c->status = berth__proxy_status(c->proxy);
	rs->status = c->status;
	_cleanup_free_ char *hdrs = berth_xstrdup(berth__proxy_headers(c->proxy));
	char *save = NULL;
	for (char *line = strtok_r(hdrs, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
		if (strchr(line, ':'))
			berth_strv_push(&rs->headers, line);
	berth_strv_pushf(&rs->headers, "x-berth-request-id: %s", id);
	if (c->slot.cold_s > 0) {
		char v[32];
		snprintf(v, sizeof(v), "%.3f", c->slot.cold_s);
		srv_header(rs, "x-berth-cold-start-seconds", v);
	}
	rs->stream = call_read;
	rs->stream_size = strcmp(rq->method, "HEAD") ? berth__proxy_content_length(c->proxy) : -1;
	rs->stream_free = call_free;
	rs->stream_ctx = c;
}

const struct srv_route srv_routes_run[] = {
    {"POST", "/run/{app}/*", SRV_INVOKE, run, NULL, srv_gate_app},
    {"GET", "/run/{app}/*", SRV_INVOKE, run, NULL, NULL},
    {0},
};
