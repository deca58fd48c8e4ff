/* The KV store: small values by namespace and key in srv_kv, for apps (the
 * SDK's KVStore) and people alike. PUT sets (with ?ttl=SECONDS, an expiry),
 * GET reads (404 when missing or expired), DELETE removes (idempotent),
 * GET /v1/kv/{ns} lists keys. Expired rows are deleted when read and by a
 * sweep that runs at most once a minute on the back of a request.
 *
 * Scope: SRV_INVOKE. Apps call it with the invoke key they are given, so
 * once keys exist any invoke or admin key may read and write every
 * namespace; without keys it is open, like the rest of the server. */
#include "server/server_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Names of namespaces and keys: [A-Za-z0-9._-], 1 to this many bytes. */
#define SRV_KV_NAME_MAX 256u
/* The largest value (413 above it). */
#define SRV_KV_VALUE_MAX (1u << 20)
/* The longest time to live: one year. */
#define SRV_KV_TTL_MAX (365 * 24 * 3600)
/* Keys listed per call by default, and at most. */
#define SRV_KV_LIST_DEFAULT 1000
#define SRV_KV_LIST_MAX     10000
/* The sweep of expired rows: how often, and how many rows at a time. */
#define SRV_KV_SWEEP_SECONDS 60
#define SRV_KV_SWEEP_ROWS    1000

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SRV_KV_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The key check and the names of the path; answers and returns false when
 * the request cannot go on. */
static bool kv_begin(struct srv_req *rq, struct srv_resp *rs, bool with_key)
{
	if (!srv_gate_key(rq, rs))
		return false;
	const char *what[] = {"namespace", "key"};
	for (int i = 0; i < (with_key ? 2 : 1); i++)
		if (!name_valid(rq->params[i])) {
			srv_error(rs, 400, "invalid",
				  "invalid %s '%.64s%s': use letters, digits, '.', '_' and '-', "
				  "1 to %u characters (not '.' or '..')",
				  what[i], rq->params[i], strlen(rq->params[i]) > 64 ? "..." : "",
				  SRV_KV_NAME_MAX);
			return false;
		}
	return true;
}

/* Delete expired rows, at most once a minute and a bounded batch each
 * time (the rest next time). Takes the database lock. */
static void sweep(struct berth_srv *srv)
{
	static _Atomic long long last; /* monotonic seconds, 0: never */
	long long t = (long long)srv_mono() + 1, prev = atomic_load(&last);
	if (prev && t - prev < SRV_KV_SWEEP_SECONDS)
		return;
	if (!atomic_compare_exchange_strong(&last, &prev, t))
		return; /* another thread sweeps */
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db,
			       "DELETE FROM srv_kv WHERE rowid IN (SELECT rowid FROM srv_kv "
			       "WHERE expires <= ? LIMIT ?)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_double(st, 1, now());
		sqlite3_bind_int(st, 2, SRV_KV_SWEEP_ROWS);
		if (sqlite3_step(st) != SQLITE_DONE)
			berth_log(BERTH_LOG_WARN, "kv: sweep expired keys: %s",
				  sqlite3_errmsg(srv->db));
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
}

static void db_failed(struct berth_srv *srv, struct srv_resp *rs, const char *what)
{
	struct berth_err *err = NULL;
	srv_db_fail(srv, what, &err);
	srv_fail(rs, err);
}

static void kv_put(struct srv_req *rq, struct srv_resp *rs)
{
	if (!kv_begin(rq, rs, true))
		return;
	const char *ns = rq->params[0], *key = rq->params[1];
	if (rq->body_len > SRV_KV_VALUE_MAX) {
		srv_error(rs, 413, "limit", "the value is %zu bytes, over the limit of %u",
			  rq->body_len, SRV_KV_VALUE_MAX);
		return;
	}
	_cleanup_free_ char *ttl_s = srv_query(rq, "ttl");
	double expires = 0;
	if (ttl_s) {
		char *end;
		errno = 0;
		long long ttl = strtoll(ttl_s, &end, 10);
		if (!*ttl_s || *end || errno || ttl < 1 || ttl > SRV_KV_TTL_MAX) {
			srv_error(rs, 400, "invalid",
				  "ttl '%.32s' is not a whole number of seconds from 1 to %d",
				  ttl_s, SRV_KV_TTL_MAX);
			return;
		}
		expires = now() + (double)ttl;
	}
	sweep(rq->srv);
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	bool ok = sqlite3_prepare_v2(rq->srv->db,
				     "INSERT INTO srv_kv(ns, key, value, expires, updated) "
				     "VALUES(?, ?, ?, ?, ?) ON CONFLICT(ns, key) DO UPDATE SET "
				     "value = excluded.value, expires = excluded.expires, "
				     "updated = excluded.updated",
				     -1, &st, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_blob64(st, 3, rq->body, rq->body_len, SQLITE_STATIC);
		if (expires)
			sqlite3_bind_double(st, 4, expires);
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_double(st, 5, now());
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	if (!ok)
		db_failed(rq->srv, rs, "set the key");
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
	if (ok)
		srv_json(rs, 200,
			 json_pack("{s:s, s:s, s:I, s:o}", "namespace", ns, "key", key, "size",
				   (json_int_t)rq->body_len, "expires",
				   expires ? json_real(expires) : json_null()));
}

static void kv_get(struct srv_req *rq, struct srv_resp *rs)
{
	if (!kv_begin(rq, rs, true))
		return;
	const char *ns = rq->params[0], *key = rq->params[1];
	double t = now();
	bool found = false, expired = false;
	double expires = 0;
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(rq->srv->db,
				    "SELECT value, expires FROM srv_kv WHERE ns = ? AND key = ?",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			rc = SQLITE_DONE;
			if (sqlite3_column_type(st, 1) != SQLITE_NULL)
				expires = sqlite3_column_double(st, 1);
			expired = expires && expires <= t;
			found = !expired;
			if (found) {
				berth_buf_reset(&rs->body);
				const void *v = sqlite3_column_blob(st, 0);
				int n = sqlite3_column_bytes(st, 0);
				if (v && n > 0) /* an empty value is NULL here */
					berth_buf_add(&rs->body, v, (size_t)n);
			}
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_DONE && expired &&
	    sqlite3_prepare_v2(rq->srv->db,
			       "DELETE FROM srv_kv WHERE ns = ? AND key = ? AND expires <= ?", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 3, t);
		sqlite3_step(st); /* the sweep gets it otherwise */
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		db_failed(rq->srv, rs, "read the key");
	srv_db_unlock(rq->srv);
	if (rc != SQLITE_DONE)
		return;
	sweep(rq->srv);
	if (!found) {
		srv_error(rs, 404, "not_found", "no key '%s' in namespace '%s'%s", key, ns,
			  expired ? " (it expired)" : "");
		return;
	}
	rs->status = 200;
	srv_header(rs, "Content-Type", "application/octet-stream");
	srv_header(rs, "Cache-Control", "no-store");
	if (expires) {
		char v[32];
		snprintf(v, sizeof(v), "%.3f", expires);
		srv_header(rs, "X-Berth-Expires", v);
	}
}

static void kv_delete(struct srv_req *rq, struct srv_resp *rs)
{
	if (!kv_begin(rq, rs, true))
		return;
	const char *ns = rq->params[0], *key = rq->params[1];
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	bool ok = sqlite3_prepare_v2(rq->srv->db,
				     "DELETE FROM srv_kv WHERE ns = ? AND key = ? AND "
				     "(expires IS NULL OR expires > ?)",
				     -1, &st, NULL) == SQLITE_OK;
	int changed = 0;
	if (ok) {
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 3, now());
		ok = sqlite3_step(st) == SQLITE_DONE;
		changed = sqlite3_changes(rq->srv->db);
	}
	if (!ok)
		db_failed(rq->srv, rs, "delete the key");
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
	if (ok)
		srv_json(rs, 200,
			 json_pack("{s:s, s:s, s:b}", "namespace", ns, "key", key, "deleted",
				   changed > 0));
}

static void kv_list(struct srv_req *rq, struct srv_resp *rs)
{
	if (!kv_begin(rq, rs, false))
		return;
	const char *ns = rq->params[0];
	_cleanup_free_ char *prefix = srv_query(rq, "prefix");
	_cleanup_free_ char *after = srv_query(rq, "after");
	_cleanup_free_ char *limit_s = srv_query(rq, "limit");
	long limit = SRV_KV_LIST_DEFAULT;
	if (limit_s) {
		char *end;
		errno = 0;
		limit = strtol(limit_s, &end, 10);
		if (!*limit_s || *end || errno || limit < 1 || limit > SRV_KV_LIST_MAX) {
			srv_error(rs, 400, "invalid", "limit '%.32s' is not a number from 1 to %d",
				  limit_s, SRV_KV_LIST_MAX);
			return;
		}
	}
	if ((prefix && *prefix && !name_valid(prefix)) || (after && *after && !name_valid(after))) {
		srv_error(rs, 400, "invalid",
			  "prefix and after are key names: letters, digits, '.', '_' and '-'");
		return;
	}
	json_t *keys = json_array();
	bool more = false;
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	/* Names hold no LIKE wildcards but '_': compare the prefix with substr. */
	int rc = sqlite3_prepare_v2(rq->srv->db,
				    "SELECT key FROM srv_kv WHERE ns = ?1 AND key > ?2 AND "
				    "substr(key, 1, length(?3)) = ?3 AND "
				    "(expires IS NULL OR expires > ?4) ORDER BY key LIMIT ?5",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, after ? after : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, prefix ? prefix : "", -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 4, now());
		sqlite3_bind_int64(st, 5, (sqlite3_int64)limit + 1);
		long n = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (n++ == limit) {
				more = true;
				continue;
			}
			json_array_append_new(
			    keys, json_string((const char *)sqlite3_column_text(st, 0)));
		}
	}
	if (rc != SQLITE_DONE)
		db_failed(rq->srv, rs, "list the keys");
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
	if (rc != SQLITE_DONE) {
		json_decref(keys);
		return;
	}
	size_t n = json_array_size(keys);
	json_t *next = more && n ? json_copy(json_array_get(keys, n - 1)) : json_null();
	srv_json(rs, 200,
		 json_pack("{s:s, s:o, s:o}", "namespace", ns, "keys", keys, "next", next));
}

const struct srv_route srv_routes_kv[] = {
    {"PUT", "/v1/kv/{ns}/{key}", SRV_INVOKE, kv_put, "kv", srv_gate_key},
    {"GET", "/v1/kv/{ns}/{key}", SRV_INVOKE, kv_get, "kv", NULL},
    {"DELETE", "/v1/kv/{ns}/{key}", SRV_INVOKE, kv_delete, "kv", NULL},
    {"GET", "/v1/kv/{ns}", SRV_INVOKE, kv_list, "kv", NULL},
    {0},
};
