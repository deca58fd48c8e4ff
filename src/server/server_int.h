/* Internals of server/, shared by its files only.
 *
 * `berth serve` is one process: libmicrohttpd answers on its threads (one per
 * connection), each request goes through the route table (routes.c) to a
 * handler in one file per area (api_apps.c, api_run.c, api_queue.c,
 * api_files.c, api_kv.c, api_keys.c, api_metrics.c). State is in berth.db
 * (SQLite, WAL), through one connection guarded by a mutex (srv_db_*). */
#ifndef BERTH_SERVER_INT_H
#define BERTH_SERVER_INT_H

#include "app/app.h"
#include "server/server.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>

struct MHD_Connection;

/* The most of a request path that is read; the most path parameters. */
#define SRV_PATH_MAX   2048
#define SRV_PARAMS_MAX 4

#define SRV_LOCAL_TOKEN_BYTES 32

struct berth_srv {
	char *home;
	char *listen;     /* "127.0.0.1:PORT" as bound */
	char *public_url; /* "http://127.0.0.1:PORT" */
	char *berth;      /* the berth binary: build workers run it */
	sqlite3 *db;
	pthread_mutex_t db_lock;
	/* The local admin token: `berth serve` makes one at each start and
	 * writes it to $BERTH_HOME/serve.<port>.token (0600), where the CLI on
	 * this host finds it ("Authorization: Key local:<token>"). The admin
	 * API takes it or an admin key, never nothing: the runners share the
	 * host's loopback, and the state dir is what they cannot see. "":
	 * none (an in-process server of the fuzzer). */
	char local_token[2 * SRV_LOCAL_TOKEN_BYTES + 1];
	char *local_token_path;
	struct srv_keys *keys; /* keys.c's cache, loaded on first use */
	struct berth_srv_metrics *metrics;
	struct srv_apps *apps;   /* deployed apps and their runners (apps.c) */
	struct srv_queue *queue; /* the queue's workers (queue.c) */
	/* The relay's counts (relay.h), updated atomically on its thread:
	 * sync calls it served, connections it handed to libmicrohttpd. */
	uint64_t relayed, handed_over;
	volatile int stopping;
};

enum srv_scope {
	SRV_PUBLIC, /* anyone: /healthz, /metrics, GET /files */
	SRV_INVOKE, /* calling apps: an invoke or admin key when the app is private */
	SRV_ADMIN,  /* the admin API: an admin key, or the local token */
};

struct srv_req {
	struct berth_srv *srv;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;  /* decoded path, no query */
	const char *query; /* raw query string (after '?'), or "" */
	const char *body;  /* the whole body (NUL-terminated), or "" */
	size_t body_len;
	const char *params[SRV_PARAMS_MAX]; /* {name} segments of the route, in order */
	const char *rest;                   /* what a trailing "*" matched, or "" */
	const char *target;                 /* the request target as sent (escapes, query) */
	char *key_id;                       /* the API key used, or NULL */
	enum srv_scope key_scope;           /* what the key allows (SRV_PUBLIC: none) */
};

/* A response. Handlers fill status, body and headers; or set `stream` for a
 * body produced as it goes (SSE, proxied answers): libmicrohttpd calls it
 * on the connection's thread, blocking is fine; return bytes written, 0
 * for "nothing yet, call again", -1 at the end. `stream_free` runs once. */
struct srv_resp {
	int status;
	struct berth_buf body;
	struct berth_strv headers; /* "Name: value" */
	ssize_t (*stream)(void *ctx, char *buf, size_t max);
	int64_t stream_size; /* the stream's length when known (Content-Length); else < 0 */
	void (*stream_free)(void *ctx);
	void *stream_ctx;
};

typedef void (*srv_handler)(struct srv_req *rq, struct srv_resp *rs);

struct srv_route {
	const char *method; /* "GET", ... */
	/* "/v1/kv/{ns}/{key}"; a last segment "*" matches the rest of the
	 * path, even nothing ("/run/{app}" followed by the star) */
	const char *pattern;
	enum srv_scope scope;
	srv_handler handler;
	/* berth_requests_total{kind=...} for the route's answers (app=""), or
	 * NULL when the handler counts its own (calls to apps) */
	const char *metrics_kind;
	/* For routes that take a body: run when the headers are in, before
	 * the body is read; answers rs and returns false to refuse (no key
	 * for a private app...), so a refused upload is never read. The
	 * handler checks again; NULL: only the scope is checked early. */
	bool (*gate)(struct srv_req *rq, struct srv_resp *rs);
};

/* Gates: the app named by params[0] may be called (srv_invoke_check);
 * the request carries an invoke or admin key (when keys exist). */
bool srv_gate_app(struct srv_req *rq, struct srv_resp *rs);

/* Make the local admin token (before the server listens), write it where
 * the CLI looks for it (once the port is bound), and at the end remove the
 * file and forget the token. */
int srv_local_token_make(struct berth_srv *srv, struct berth_err **err);
int srv_local_token_publish(struct berth_srv *srv, unsigned port, struct berth_err **err);
void srv_local_token_withdraw(struct berth_srv *srv);
bool srv_gate_key(struct srv_req *rq, struct srv_resp *rs);

/* The route tables of each area (NULL-pattern terminated). */
extern const struct srv_route srv_routes_apps[];
extern const struct srv_route srv_routes_run[];
extern const struct srv_route srv_routes_queue[];
extern const struct srv_route srv_routes_files[];
extern const struct srv_route srv_routes_kv[];
extern const struct srv_route srv_routes_keys[];
extern const struct srv_route srv_routes_metrics[];

/* --- HTTP (http.c) --- */

struct MHD_Daemon;
/* Serve the route tables on threads of libmicrohttpd, one per connection
 * the relay hands over (relay.h): it listens on no socket of its own. */
struct MHD_Daemon *berth__srv_http_start(struct berth_srv *srv, struct berth_err **err);

void srv_json(struct srv_resp *rs, int status, json_t *j); /* steals j */
/* {"error": {"code": CODE, "message": ...}} */
void srv_error(struct srv_resp *rs, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An error of the library, its code mapped to a status in one table; frees e. */
void srv_fail(struct srv_resp *rs, struct berth_err *e);
void srv_header(struct srv_resp *rs, const char *name, const char *value);
/* The request's header, or NULL. */
const char *srv_req_header(const struct srv_req *rq, const char *name);
/* A query parameter (decoded), or NULL. free(). */
char *srv_query(const struct srv_req *rq, const char *name);
/* What a call to /run/{app}/... or /queue/{app}/... asks of the app: the
 * raw target past its first two segments, "/" when nothing is left, and
 * the query, escapes as the caller wrote them ("/a%2Fb?x=%20"). A new
 * string. The relay forwards the same (relay.c). */
char *srv_app_target(const struct srv_req *rq);
/* The body as a JSON object; on failure answers 400 and returns NULL. */
json_t *srv_body_json(const struct srv_req *rq, struct srv_resp *rs);

/* --- the queue (queue.c) --- */

int srv_queue_start(struct berth_srv *srv, struct berth_err **err);
void srv_queue_stop(struct berth_srv *srv);
/* New work queued: wake a worker. */
void srv_queue_kick(struct berth_srv *srv);
/* Unix time now, with fractions (what the tables store). */
double srv_wall_now(void);
/* Seconds on the monotonic clock, for durations. */
double srv_mono(void);

/* --- the database (db.c) --- */

int srv_db_open(struct berth_srv *srv, struct berth_err **err);
void srv_db_close(struct berth_srv *srv);
void srv_db_lock(struct berth_srv *srv);
void srv_db_unlock(struct berth_srv *srv);
/* Run SQL with no result under the lock. */
int srv_db_exec(struct berth_srv *srv, const char *sql, struct berth_err **err);
/* An error for the connection's last failure. */
int srv_db_fail(struct berth_srv *srv, const char *what, struct berth_err **err);

/* --- metrics (metrics.c) --- */

struct berth_srv_metrics *srv_metrics_new(void);
void srv_metrics_free(struct berth_srv_metrics *m);
/* Count a finished request of `app` ("" for none) with its status and
 * seconds. */
void srv_metrics_request(struct berth_srv *srv, const char *app, const char *kind, int status,
			 double seconds);
void srv_metrics_cold_start(struct berth_srv *srv, const char *app, double seconds);
/* The counters and histograms in Prometheus text format 0.0.4, appended. */
void srv_metrics_render(struct berth_srv_metrics *m, struct berth_buf *out);
/* Runners by app and state, queue depth: Prometheus lines (apps.c). */
void srv_apps_gauges(struct berth_srv *srv, struct berth_buf *out);

/* --- API keys (keys.c) --- */

/* Look up "Authorization: Key <id>:<secret>" (or "Bearer"); fills
 * rq->key_id and key_scope. A bad key is not an error here; routes check
 * the scope. */
void srv_keys_authenticate(struct srv_req *rq);
/* The same from the header's value `h` (NULL: no header); rq->srv set. */
void srv_keys_authenticate_value(struct srv_req *rq, const char *h);
/* Whether any key exists (then the admin API needs one). keys.c keeps the
 * invariant that an admin key exists whenever any key does. */
bool srv_keys_any(struct berth_srv *srv);
/* Whether the request may call an app of `auth`: public apps always;
 * private and shared ones with an invoke or admin key once keys exist. */
bool srv_keys_invoke_ok(const struct srv_req *rq, enum berth_app_auth auth);
/* Free keys.c's cache of the keys (after the HTTP daemon stopped). */
void srv_keys_release(struct berth_srv *srv);

/* A new key: "<id>:<secret>" in *key (shown once; only the secret's SHA-256
 * is stored), the id in *id; both free(). description may be NULL.
 * Errors: EXISTS (an invoke key before any admin key), LIMIT, SYS. */
int srv_keys_create(struct berth_srv *srv, enum srv_scope scope, const char *description, char **id,
		    char **key, struct berth_err **err);
/* Revoke a key. NOT_FOUND: no such active key; EXISTS: the last admin key
 * while invoke keys remain. */
int srv_keys_revoke(struct berth_srv *srv, const char *id, struct berth_err **err);
/* [{"id", "scope", "description", "created", "revoked"}]: active keys, all
 * when `all`; never a secret or hash. */
json_t *srv_keys_list(struct berth_srv *srv, bool all, struct berth_err **err);

#endif
