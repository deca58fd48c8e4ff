/* The queue's workers. A request is a row of srv_requests from the moment
 * POST /queue answered (api_queue.c). A worker picks the app of the next
 * request (priority, then arrival), takes a slot on one of its runners
 * (scaling up when none is free; the request stays IN_QUEUE, with its
 * position, and can be cancelled meanwhile), then claims that app's next
 * request, forwards it, and stores the answer; 503, 504 and connection errors are
 * retried up to QUEUE_RETRIES times. Every state change is one committed
 * transaction, so a killed server resumes where it was: IN_PROGRESS rows
 * go back to IN_QUEUE at start (serve.c) and each request is completed
 * exactly once. */
#include "server/apps.h"
#include "server/proxy.h"

#include "registry/curl_api.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define QUEUE_WORKERS 32
#define QUEUE_RETRIES 10
/* The most of an answer that is stored. */
#define QUEUE_RESULT_MAX (64u << 20)

/* Workers waiting for a slot of an app: no more than it can run at once,
 * so that one busy app does not hold every worker. */
struct waiting {
	char app[64];
	int n;
};

struct srv_queue {
	pthread_t workers[QUEUE_WORKERS];
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct waiting waiting[QUEUE_WORKERS];
};

double srv_wall_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One claimed request. */
struct job {
	char id[64];
	char *app, *path, *headers, *webhook;
	void *body;
	size_t body_len;
	int attempts;
	double created;
};

static void job_release(struct job *j)
{
	free(j->app);
	free(j->path);
	free(j->headers);
	free(j->webhook);
	free(j->body);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? berth_xstrdup((const char *)t) : NULL;
}

/* Claim the app's next request: IN_QUEUE -> IN_PROGRESS, in one
 * transaction. */
static bool claim(struct berth_srv *srv, const char *app, struct job *j)
{
	bool got = false;
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		srv->db,
		"UPDATE srv_requests SET state = 'IN_PROGRESS', started = ?1, "
		"attempts = attempts + 1 WHERE id = (SELECT id FROM srv_requests "
		"WHERE state = 'IN_QUEUE' AND app = ?2 ORDER BY priority, seq LIMIT 1) "
		"RETURNING id, app, path, headers, body, attempts, webhook, created",
		-1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_double(st, 1, srv_wall_now());
		sqlite3_bind_text(st, 2, app, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(j->id, sizeof(j->id), "%s", sqlite3_column_text(st, 0));
			j->app = col_text(st, 1);
			j->path = col_text(st, 2);
			j->headers = col_text(st, 3);
			j->body_len = (size_t)sqlite3_column_bytes(st, 4);
			j->body = berth_xmalloc(j->body_len + 1);
			if (j->body_len)
				memcpy(j->body, sqlite3_column_blob(st, 4), j->body_len);
			((char *)j->body)[j->body_len] = '\0';
			j->attempts = sqlite3_column_int(st, 5);
			j->webhook = col_text(st, 6);
			j->created = sqlite3_column_double(st, 7);
			got = true;
		}
		/* RETURNING rows are written when the statement is finished. */
		while (sqlite3_step(st) == SQLITE_ROW)
			;
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	return got;
}

/* Note which runner has it (for cancel) and how long it queued. */
static void mark_running(struct berth_srv *srv, const struct job *j, const struct srv_slot *s)
{
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db,
			       "UPDATE srv_requests SET runner = ?2, cold_s = ?3, "
			       "queued_s = ?4 - created - ?3 WHERE id = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		_cleanup_free_ char *r = berth_xasprintf("%s:%u", s->runner, s->port);
		sqlite3_bind_text(st, 1, j->id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, r, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 3, s->cold_s);
		sqlite3_bind_double(st, 4, srv_wall_now());
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
}

static void requeue(struct berth_srv *srv, const struct job *j, const char *why)
{
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db,
			       "UPDATE srv_requests SET state = 'IN_QUEUE', runner = NULL, "
			       "error = ?2 WHERE id = ?1 AND state = 'IN_PROGRESS'",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, j->id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, why, -1, SQLITE_TRANSIENT);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
}

static void complete(struct berth_srv *srv, const struct job *j, int status, const char *type,
		     const struct berth_buf *body, const char *error, double run_s)
{
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		srv->db,
		"UPDATE srv_requests SET state = 'COMPLETED', status = ?2, "
		"result_type = ?3, result = ?4, error = ?5, finished = ?6, run_s = ?7, "
		"webhook_state = CASE WHEN webhook IS NULL THEN NULL ELSE 'PENDING' END "
		"WHERE id = ?1 AND state = 'IN_PROGRESS'",
		-1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, j->id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, status);
		sqlite3_bind_text(st, 3, type, -1, SQLITE_TRANSIENT);
		if (body)
			sqlite3_bind_blob(st, 4, body->data, (int)body->len, SQLITE_TRANSIENT);
		if (error)
			sqlite3_bind_text(st, 5, error, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 6, srv_wall_now());
		sqlite3_bind_double(st, 7, run_s);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
}

/* POST the outcome to the request's webhook, as fal does, retried. */
static void webhook(struct berth_srv *srv, const struct job *j, int status, const char *type,
		    const struct berth_buf *body, const char *error)
{
	json_t *payload = NULL;
	if (body && type && strstr(type, "json"))
		payload = json_loadb(body->data, body->len, 0, NULL);
	bool ok = status >= 200 && status < 300;
	json_t *msg =
	    json_pack("{s:s, s:s, s:o, s:s?}", "request_id", j->id, "status", ok ? "OK" : "ERROR",
		      "payload", payload ? payload : json_null(), "error", error);
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	const char *state = "FAILED";
	for (int attempt = 0; attempt < 5; attempt++) {
		CURL *e = curl_easy_init();
		struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(e, CURLOPT_URL, j->webhook);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
		long code = 0;
		CURLcode rc = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		curl_slist_free_all(h);
		curl_easy_cleanup(e);
		if (rc == CURLE_OK && code >= 200 && code < 300) {
			state = "DELIVERED";
			break;
		}
		struct timespec ts = {0, (long)(200 * (1 << attempt)) * 1000000L};
		nanosleep(&ts, NULL);
	}
	free(text);
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db, "UPDATE srv_requests SET webhook_state = ?2 WHERE id = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, j->id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
}

/* Headers stored as a JSON array of "Name: value". */
static void headers_of(const struct job *j, struct berth_strv *out)
{
	json_t *arr = j->headers ? json_loads(j->headers, 0, NULL) : NULL;
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) if (json_is_string(v))
	    berth_strv_push(out, json_string_value(v));
	json_decref(arr);
}

static void work(struct berth_srv *srv, struct job *j, const struct srv_slot *s,
		 const struct srv_app_info *info)
{
	struct srv_slot slot = *s;
	struct berth_err *err = NULL;
	mark_running(srv, j, &slot);
	_cleanup_strv_ struct berth_strv headers = BERTH_STRV_INIT;
	headers_of(j, &headers);
	berth_strv_pushf(&headers, "%s: %s", SRV_RUNNER_TOKEN_HEADER, slot.token);
	_cleanup_free_ char *url = berth_xasprintf("http://127.0.0.1:%u%s", slot.port, j->path);
	struct berth__proxy_req pr = {
	    .method = "POST",
	    .url = url,
	    .headers = &headers,
	    .body = j->body,
	    .body_len = j->body_len,
	    .timeout_ms = info->request_timeout_ms,
	};
	double t0 = srv_mono();
	struct berth__proxy *p = NULL;
	struct berth_buf body;
	berth_buf_init(&body, QUEUE_RESULT_MAX);
	int status = 0;
	const char *fail = NULL;
	enum srv_outcome o = SRV_OK;
	_cleanup_free_ char *type = NULL;
	if (berth__proxy_begin(&pr, &p, &err) < 0) {
		o = err->code == BERTH_E_TIMEOUT ? SRV_RUNNER_SLOW : SRV_RUNNER_BAD;
		status = err->code == BERTH_E_TIMEOUT ? 504 : 503;
		fail = err->msg;
	} else {
		status = berth__proxy_status(p);
		char buf[65536];
		ssize_t n;
		while ((n = berth__proxy_read(p, buf, sizeof(buf))) > 0)
			if (berth_buf_add(&body, buf, (size_t)n) < 0) {
				fail = "the answer is over the queue's result limit";
				status = 502;
				break;
			}
		if (n < 0) {
			fail = berth__proxy_error(p);
			o = berth__proxy_timed_out(p) ? SRV_RUNNER_SLOW : SRV_RUNNER_BAD;
			status = berth__proxy_timed_out(p) ? 504 : 503;
		} else if (status == 503) {
			o = SRV_RUNNER_BAD;
		}
		const char *h = berth__proxy_headers(p);
		const char *ct = strcasestr(h, "content-type:");
		if (ct) {
			ct += 13;
			while (*ct == ' ')
				ct++;
			type = berth_xstrndup(ct, strcspn(ct, "\r\n"));
		}
	}
	double run_s = srv_mono() - t0;
	srv_apps_release(srv, &slot, o);
	srv_metrics_request(srv, j->app, "queue", status, run_s);
	bool retry = (status == 503 || status == 504) && j->attempts < QUEUE_RETRIES;
	if (retry) {
		requeue(srv, j, fail ? fail : "the app answered 503");
	} else {
		complete(srv, j, status, type ? type : "application/json", &body, fail, run_s);
		if (j->webhook)
			webhook(srv, j, status, type, &body, fail);
	}
	berth_buf_release(&body);
	berth__proxy_free(p);
	berth_err_free(err);
}

/* The apps with queued requests, in the order of their first one. */
static void queued_apps(struct berth_srv *srv, struct berth_strv *out)
{
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db,
			       /* the partial index holds the queued rows alone: without it
				* this scans every request the server ever finished */
			       "SELECT app FROM srv_requests INDEXED BY srv_requests_queued "
			       "WHERE state = 'IN_QUEUE' GROUP BY app "
			       "ORDER BY min(priority * 1000000000000 + seq)",
			       -1, &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW)
			berth_strv_push(out, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	srv_db_unlock(srv);
}

/* Take a place among the app's waiting workers, if it has room for one
 * more; the waiting entry is returned, or NULL. */
static struct waiting *wait_place(struct srv_queue *q, const char *app, int capacity)
{
	struct waiting *free_slot = NULL;
	for (size_t i = 0; i < QUEUE_WORKERS; i++) {
		struct waiting *w = &q->waiting[i];
		if (w->n && !strcmp(w->app, app)) {
			if (w->n >= capacity)
				return NULL;
			w->n++;
			return w;
		}
		if (!w->n && !free_slot)
			free_slot = w;
	}
	if (!free_slot)
		return NULL;
	snprintf(free_slot->app, sizeof(free_slot->app), "%s", app);
	free_slot->n = 1;
	return free_slot;
}

/* Every queued request of an app that is gone completes as 404. */
static void fail_app(struct berth_srv *srv, const char *app, const char *why)
{
	struct job j = {0};
	while (claim(srv, app, &j)) {
		complete(srv, &j, 404, "application/json", NULL, why, 0);
		job_release(&j);
		memset(&j, 0, sizeof(j));
	}
}

/* One round: find an app with queued work and room, get a slot, run one
 * request. False when there was nothing to do. */
static bool serve_one(struct berth_srv *srv)
{
	struct srv_queue *q = srv->queue;
	_cleanup_strv_ struct berth_strv apps = BERTH_STRV_INIT;
	queued_apps(srv, &apps);
	for (size_t i = 0; i < apps.n; i++) {
		const char *app = apps.v[i];
		struct srv_app_info info;
		struct berth_err *err = NULL;
		if (srv_apps_info(srv, app, &info, &err) < 0) {
			fail_app(srv, app, err->msg);
			berth_err_free(err);
			continue;
		}
		pthread_mutex_lock(&q->mu);
		struct waiting *w = wait_place(q, app, info.capacity > 0 ? info.capacity : 1);
		pthread_mutex_unlock(&q->mu);
		if (!w)
			continue;
		struct srv_slot slot;
		int r = srv_apps_acquire(srv, app, 1000, false, &slot, &err);
		pthread_mutex_lock(&q->mu);
		w->n--;
		pthread_mutex_unlock(&q->mu);
		if (r < 0) { /* still starting: try again next round */
			berth_err_free(err);
			return true;
		}
		struct job j = {0};
		if (!claim(srv, app, &j)) { /* cancelled or taken meanwhile */
			srv_apps_release(srv, &slot, SRV_OK);
			return true;
		}
		work(srv, &j, &slot, &info);
		job_release(&j);
		return true;
	}
	return false;
}

static void *worker(void *arg)
{
	struct berth_srv *srv = arg;
	struct srv_queue *q = srv->queue;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		bool stop = q->stop;
		pthread_mutex_unlock(&q->mu);
		if (stop)
			break;
		if (serve_one(srv))
			continue;
		pthread_mutex_lock(&q->mu);
		if (!q->stop) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&q->cv, &q->mu, &until);
		}
		pthread_mutex_unlock(&q->mu);
	}
	return NULL;
}

int srv_queue_start(struct berth_srv *srv, struct berth_err **err)
{
	struct srv_queue *q = berth_xcalloc(1, sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	srv->queue = q;
	for (; q->n < QUEUE_WORKERS; q->n++)
		if (pthread_create(&q->workers[q->n], NULL, worker, srv) != 0)
			return berth_err_sys(err, errno, "start the queue's workers");
	return 0;
}

void srv_queue_kick(struct berth_srv *srv)
{
	struct srv_queue *q = srv->queue;
	pthread_mutex_lock(&q->mu);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void srv_queue_stop(struct berth_srv *srv)
{
	struct srv_queue *q = srv->queue;
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	/* Workers waiting for a runner give up when the apps stop. */
	srv_apps_kick(srv);
	for (size_t i = 0; i < q->n; i++)
		pthread_join(q->workers[i], NULL);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
	srv->queue = NULL;
}
