/* The queue's HTTP side: submit (answered only once the request is
 * committed), status with position, an SSE status stream, the result and
 * cancellation. The workers are in queue.c. */
#include "server/apps.h"
#include "server/proxy.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static json_t *urls(const struct srv_req *rq, const char *app, const char *id)
{
	const char *base = rq->srv->public_url;
	_cleanup_free_ char *st = berth_xasprintf("%s/queue/%s/requests/%s/status", base, app, id);
	_cleanup_free_ char *resp = berth_xasprintf("%s/queue/%s/requests/%s", base, app, id);
	_cleanup_free_ char *cancel =
	    berth_xasprintf("%s/queue/%s/requests/%s/cancel", base, app, id);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "request_id", id, "status_url", st,
			 "response_url", resp, "cancel_url", cancel, "gateway_request_id", id);
}

static void submit(struct srv_req *rq, struct srv_resp *rs)
{
	const char *app = rq->params[0];
	struct srv_app_info info;
	if (!srv_invoke_check(rq, rs, app, &info))
		return;
	char id[37];
	berth_random_uuid(id);
	_cleanup_strv_ struct berth_strv headers = BERTH_STRV_INIT;
	srv_request_headers(rq, id, &headers);
	json_t *h = json_array();
	for (size_t i = 0; i < headers.n; i++)
		json_array_append_new(h, json_string(headers.v[i]));
	char *htext = json_dumps(h, JSON_COMPACT);
	json_decref(h);
	/* Priority: lower runs first; "low" after "normal", or a number. */
	const char *p = srv_req_header(rq, "x-berth-queue-priority");
	if (!p)
		p = srv_req_header(rq, "x-fal-queue-priority");
	int priority = !p || !strcmp(p, "normal") ? 0 : !strcmp(p, "low") ? 10 : atoi(p);
	_cleanup_free_ char *hook = srv_query(rq, "webhook");
	if (!hook)
		hook = srv_query(rq, "fal_webhook");
	_cleanup_free_ char *path = srv_app_target(rq);
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(
	    rq->srv->db,
	    "INSERT INTO srv_requests(id, seq, app, path, headers, body, priority, state, webhook, "
	    "created) VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM srv_requests), ?2, ?3, "
	    "?4, "
	    "?5, ?6, 'IN_QUEUE', ?7, ?8)",
	    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, app, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, path, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, htext, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 5, rq->body, (int)rq->body_len, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 6, priority);
		if (hook)
			sqlite3_bind_text(st, 7, hook, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 8, srv_wall_now());
		rc = sqlite3_step(st);
	}
	struct berth_err *err = NULL;
	if (rc != SQLITE_DONE)
		srv_db_fail(rq->srv, "queue the request", &err);
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
	free(htext);
	if (err) {
		srv_fail(rs, err);
		return;
	}
	srv_queue_kick(rq->srv);
	json_t *j = urls(rq, app, id);
	json_object_set_new(j, "status", json_string("IN_QUEUE"));
	srv_json(rs, 202, j);
}

/* The request's status as JSON, or NULL when there is no such request. */
static json_t *status_of(struct berth_srv *srv, const char *app, const char *id, bool *done)
{
	json_t *j = NULL;
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		srv->db,
		"SELECT state, status, error, cancelled, queued_s, cold_s, run_s, priority, seq, "
		"(SELECT count(*) FROM srv_requests q WHERE q.state = 'IN_QUEUE' AND q.app = r.app "
		" AND (q.priority < r.priority OR (q.priority = r.priority AND q.seq < r.seq))), "
		"webhook_state FROM srv_requests r WHERE id = ?1 AND app = ?2",
		-1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, app, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *state = (const char *)sqlite3_column_text(st, 0);
			*done = !strcmp(state, "COMPLETED");
			j = json_pack("{s:s, s:s}", "status", state, "request_id", id);
			if (!strcmp(state, "IN_QUEUE"))
				json_object_set_new(j, "queue_position",
						    json_integer(sqlite3_column_int(st, 9)));
			if (*done) {
				json_object_set_new(j, "response_status",
						    json_integer(sqlite3_column_int(st, 1)));
				if (sqlite3_column_text(st, 2))
					json_object_set_new(
					    j, "error",
					    json_string((const char *)sqlite3_column_text(st, 2)));
				if (sqlite3_column_int(st, 3))
					json_object_set_new(j, "cancelled", json_true());
				json_object_set_new(j, "metrics",
						    json_pack("{s:f, s:f, s:f}", "queued_s",
							      sqlite3_column_double(st, 4),
							      "cold_start_s",
							      sqlite3_column_double(st, 5), "run_s",
							      sqlite3_column_double(st, 6)));
				if (sqlite3_column_text(st, 10))
					json_object_set_new(
					    j, "webhook",
					    json_string((const char *)sqlite3_column_text(st, 10)));
			}
			json_object_set_new(j, "logs", json_array());
		}
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	return j;
}

static void status(struct srv_req *rq, struct srv_resp *rs)
{
	struct srv_app_info info;
	if (!srv_invoke_check(rq, rs, rq->params[0], &info))
		return;
	bool done = false;
	json_t *j = status_of(rq->srv, rq->params[0], rq->params[1], &done);
	if (!j) {
		srv_error(rs, 404, "not_found", "no request '%s' of app '%s'", rq->params[1],
			  rq->params[0]);
		return;
	}
	srv_json(rs, done ? 200 : 202, j);
}

struct sse {
	struct berth_srv *srv;
	char *app, *id;
	char *last; /* the last status sent */
	bool done;
};

static ssize_t sse_read(void *ctx, char *buf, size_t max)
{
	struct sse *s = ctx;
	if (s->done)
		return -1;
	for (;;) {
		bool done = false;
		json_t *j = status_of(s->srv, s->app, s->id, &done);
		if (!j)
			return -1;
		char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
		if (!s->last || strcmp(text, s->last) != 0) {
			free(s->last);
			s->last = text;
			s->done = done;
			int n = snprintf(buf, max, "data: %s\n\n", text);
			return n > 0 && (size_t)n < max ? n : -1;
		}
		free(text);
		if (s->srv->stopping)
			return -1;
		usleep(100 * 1000);
	}
}

static void sse_free(void *ctx)
{
	struct sse *s = ctx;
	free(s->app);
	free(s->id);
	free(s->last);
	free(s);
}

static void status_stream(struct srv_req *rq, struct srv_resp *rs)
{
	struct srv_app_info info;
	if (!srv_invoke_check(rq, rs, rq->params[0], &info))
		return;
	bool done = false;
	json_t *j = status_of(rq->srv, rq->params[0], rq->params[1], &done);
	if (!j) {
		srv_error(rs, 404, "not_found", "no request '%s' of app '%s'", rq->params[1],
			  rq->params[0]);
		return;
	}
	json_decref(j);
	struct sse *s = berth_xcalloc(1, sizeof(*s));
	*s = (struct sse){rq->srv, berth_xstrdup(rq->params[0]), berth_xstrdup(rq->params[1]), NULL,
			  false};
	rs->status = 200;
	srv_header(rs, "Content-Type", "text/event-stream");
	srv_header(rs, "Cache-Control", "no-cache");
	rs->stream = sse_read;
	rs->stream_free = sse_free;
	rs->stream_ctx = s;
}

static void result(struct srv_req *rq, struct srv_resp *rs)
{
	struct srv_app_info info;
	if (!srv_invoke_check(rq, rs, rq->params[0], &info))
		return;
	bool done = false;
	json_t *j = status_of(rq->srv, rq->params[0], rq->params[1], &done);
	if (!j) {
		srv_error(rs, 404, "not_found", "no request '%s' of app '%s'", rq->params[1],
			  rq->params[0]);
		return;
	}
	if (!done) {
		srv_json(rs, 202, j);
		return;
	}
	json_decref(j);
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(rq->srv->db,
			       "SELECT status, result_type, result, error, cancelled FROM "
			       "srv_requests WHERE id = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, rq->params[1], -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			rs->status = sqlite3_column_int(st, 0);
			if (sqlite3_column_int(st, 4)) {
				srv_error(rs, 499, "cancelled", "the request was cancelled");
			} else if (sqlite3_column_bytes(st, 2) || !sqlite3_column_text(st, 3)) {
				berth_buf_add(&rs->body, sqlite3_column_blob(st, 2),
					      (size_t)sqlite3_column_bytes(st, 2));
				const unsigned char *t = sqlite3_column_text(st, 1);
				srv_header(rs, "Content-Type",
					   t ? (const char *)t : "application/json");
			} else {
				srv_error(rs, rs->status ? rs->status : 500, "app", "%s",
					  (const char *)sqlite3_column_text(st, 3));
			}
		}
	}
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
}

static void cancel(struct srv_req *rq, struct srv_resp *rs)
{
	const char *app = rq->params[0], *id = rq->params[1];
	struct srv_app_info info;
	if (!srv_invoke_check(rq, rs, app, &info))
		return;
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	/* Queued: removed from the queue, completed as cancelled. */
	int changed = 0;
	_cleanup_free_ char *runner = NULL, *path = NULL, *state = NULL;
	if (sqlite3_prepare_v2(rq->srv->db,
			       "UPDATE srv_requests SET state = 'COMPLETED', cancelled = 1, "
			       "status = 499, finished = ?3 WHERE id = ?1 AND app = ?2 AND "
			       "state = 'IN_QUEUE'",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, app, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 3, srv_wall_now());
		if (sqlite3_step(st) == SQLITE_DONE)
			changed = sqlite3_changes(rq->srv->db);
	}
	sqlite3_finalize(st);
	if (!changed && sqlite3_prepare_v2(rq->srv->db,
					   "SELECT state, runner, path FROM srv_requests WHERE "
					   "id = ?1 AND app = ?2",
					   -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, app, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			state = berth_xstrdup((const char *)sqlite3_column_text(st, 0));
			if (sqlite3_column_text(st, 1))
				runner = berth_xstrdup((const char *)sqlite3_column_text(st, 1));
			path = berth_xstrdup((const char *)sqlite3_column_text(st, 2));
		}
		sqlite3_finalize(st);
	}
	srv_db_unlock(rq->srv);
	if (changed) {
		srv_json(rs, 202, json_pack("{s:s}", "status", "CANCELLED"));
		return;
	}
	if (!state) {
		srv_error(rs, 404, "not_found", "no request '%s' of app '%s'", id, app);
		return;
	}
	if (strcmp(state, "IN_PROGRESS") != 0 || !runner) {
		srv_error(rs, 400, "invalid", "request '%s' is %s: it can no longer be cancelled",
			  id, state);
		return;
	}
	/* Running: ask the app, at <path>/cancel with the request's id. */
	const char *port = strrchr(runner, ':');
	size_t plen = strcspn(path, "?");
	_cleanup_free_ char *url =
	    berth_xasprintf("http://127.0.0.1:%s%.*s%scancel", port ? port + 1 : "0", (int)plen,
			    path, plen && path[plen - 1] == '/' ? "" : "/");
	_cleanup_strv_ struct berth_strv h = BERTH_STRV_INIT;
	berth_strv_pushf(&h, "x-berth-request-id: %s", id);
	char token[33];
	_cleanup_free_ char *rid =
	    berth_xstrndup(runner, port ? (size_t)(port - runner) : strlen(runner));
	if (srv_apps_runner_token(rq->srv, rid, token))
		berth_strv_pushf(&h, "%s: %s", SRV_RUNNER_TOKEN_HEADER, token);
	berth_strv_push(&h, "Content-Type: application/json");
	struct berth__proxy_req pr = {"POST", url, &h, "{}", 2, 10000};
	struct berth__proxy *p = NULL;
	struct berth_err *err = NULL;
	if (berth__proxy_begin(&pr, &p, &err) < 0) {
		srv_error(rs, 502, "unavailable", "could not reach the runner to cancel: %s",
			  err->msg);
		berth_err_free(err);
		return;
	}
	int code = berth__proxy_status(p);
	berth__proxy_free(p);
	srv_json(rs, 202,
		 json_pack("{s:s, s:i}", "status", "CANCELLATION_REQUESTED", "app_status", code));
}

const struct srv_route srv_routes_queue[] = {
    {"POST", "/queue/{app}/requests/{id}/cancel", SRV_INVOKE, cancel, NULL, NULL},
    {"PUT", "/queue/{app}/requests/{id}/cancel", SRV_INVOKE, cancel, NULL, NULL},
    {"GET", "/queue/{app}/requests/{id}/status/stream", SRV_INVOKE, status_stream, NULL, NULL},
    {"GET", "/queue/{app}/requests/{id}/status", SRV_INVOKE, status, NULL, NULL},
    {"GET", "/queue/{app}/requests/{id}", SRV_INVOKE, result, NULL, NULL},
    {"POST", "/queue/{app}/*", SRV_INVOKE, submit, NULL, srv_gate_app},
    {0},
};
