/* Unit tests for the server's metrics and API keys, below HTTP: the text
 * format (families, buckets, cumulative counts, label escaping, the cap on
 * series), counts from many threads at once; keys made, listed, revoked,
 * the first-key and last-admin-key rules, the secret stored only as its
 * hash, the cache reloaded from the table, and srv_keys_invoke_ok; what
 * a call's target becomes for the app (srv_app_target). */
#include "common/common.h"
#include "fixture.h"
#include "server/server_int.h"
#include "tap.h"

#include <pthread.h>

/* ------------------------------------------------------------- metrics */

static char *render(struct berth_srv_metrics *m)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	srv_metrics_render(m, &b);
	return berth_buf_steal(&b, NULL);
}

/* Passes when `text` has the line `line` exactly. */
static void has_line(const char *text, const char *line, const char *what)
{
	size_t n = strlen(line);
	bool found = false;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || !p[n])) {
			found = true;
			break;
		}
	if (!tap_ok(found, "%s", what))
		tap_diag("missing line", line);
}

struct hammer {
	struct berth_srv *srv;
	int n;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < h->n; i++) {
		srv_metrics_request(h->srv, "busy", "sync", 200, 0.001);
		if (i % 100 == 0)
			srv_metrics_cold_start(h->srv, "busy", 1.5);
	}
	return NULL;
}

static void test_metrics(void)
{
	struct berth_srv srv = {.metrics = srv_metrics_new()};
	_cleanup_free_ char *empty = render(srv.metrics);
	has_line(empty, "# TYPE berth_requests_total counter", "empty: requests_total has a TYPE");
	has_line(empty, "# TYPE berth_request_duration_seconds histogram",
		 "empty: the latency histogram has a TYPE");
	has_line(empty, "# TYPE berth_cold_starts_total counter",
		 "empty: cold_starts_total has a TYPE");
	has_line(empty, "# TYPE berth_cold_start_seconds histogram",
		 "empty: the cold start histogram has a TYPE");

	srv_metrics_request(&srv, "echo", "sync", 200, 0.003);
	srv_metrics_request(&srv, "echo", "sync", 200, 0.007);
	srv_metrics_request(&srv, "echo", "sync", 500, 100);
	srv_metrics_request(&srv, "echo", "queue", 200, 0.005);
	srv_metrics_cold_start(&srv, "echo", 2);
	_cleanup_free_ char *t = render(srv.metrics);
	has_line(t, "berth_requests_total{app=\"echo\",kind=\"sync\",status=\"200\"} 2",
		 "requests are counted by app, kind and status");
	has_line(t, "berth_requests_total{app=\"echo\",kind=\"sync\",status=\"500\"} 1",
		 "another status is another series");
	has_line(t,
		 "berth_request_duration_seconds_bucket{app=\"echo\",kind=\"sync\",le=\"0.005\"} 1",
		 "3 ms falls in le=0.005");
	has_line(t,
		 "berth_request_duration_seconds_bucket{app=\"echo\",kind=\"sync\",le=\"0.01\"} 2",
		 "buckets are cumulative");
	has_line(t, "berth_request_duration_seconds_bucket{app=\"echo\",kind=\"sync\",le=\"60\"} 2",
		 "100 s is above the last bound");
	has_line(t,
		 "berth_request_duration_seconds_bucket{app=\"echo\",kind=\"sync\",le=\"+Inf\"} 3",
		 "+Inf counts everything");
	has_line(t, "berth_request_duration_seconds_count{app=\"echo\",kind=\"sync\"} 3",
		 "_count is the number of requests");
	has_line(t, "berth_request_duration_seconds_sum{app=\"echo\",kind=\"sync\"} 100.01",
		 "_sum adds the seconds");
	has_line(
	    t, "berth_request_duration_seconds_bucket{app=\"echo\",kind=\"queue\",le=\"0.005\"} 1",
	    "a value on a bound falls in that bucket (le)");
	has_line(t, "berth_cold_starts_total{app=\"echo\"} 1", "cold starts are counted");
	has_line(t, "berth_cold_start_seconds_bucket{app=\"echo\",le=\"2.5\"} 1",
		 "cold start seconds go in the histogram");

	srv_metrics_request(&srv, "we\"ird\\app\nx", "sync", 200, 0);
	_cleanup_free_ char *esc = render(srv.metrics);
	has_line(
	    esc,
	    "berth_requests_total{app=\"we\\\"ird\\\\app\\nx\",kind=\"sync\",status=\"200\"} 1",
	    "label values escape \", \\ and newlines");

	srv_metrics_request(&srv, NULL, NULL, 404, -1);
	_cleanup_free_ char *def = render(srv.metrics);
	has_line(def, "berth_requests_total{app=\"\",kind=\"other\",status=\"404\"} 1",
		 "no app and no kind: app=\"\" kind=\"other\"");
	srv_metrics_free(srv.metrics);

	/* The cap: past it, new apps are "_other". */
	srv.metrics = srv_metrics_new();
	for (int i = 0; i < 2100; i++) {
		char app[32];
		snprintf(app, sizeof(app), "app-%d", i);
		srv_metrics_request(&srv, app, "sync", 200, 0);
	}
	_cleanup_free_ char *cap = render(srv.metrics);
	has_line(cap, "berth_requests_total{app=\"app-2047\",kind=\"sync\",status=\"200\"} 1",
		 "apps up to the cap have their own series");
	has_line(cap, "berth_requests_total{app=\"_other\",kind=\"sync\",status=\"200\"} 52",
		 "apps past the cap are counted as _other");
	tap_ok(!strstr(cap, "app-2048\""), "no series past the cap");
	srv_metrics_free(srv.metrics);

	/* Many threads at once: every count arrives. */
	srv.metrics = srv_metrics_new();
	pthread_t th[8];
	struct hammer h = {&srv, 20000};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(th); i++)
		pthread_create(&th[i], NULL, hammer, &h);
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(th); i++)
		pthread_join(th[i], NULL);
	_cleanup_free_ char *busy = render(srv.metrics);
	has_line(busy, "berth_requests_total{app=\"busy\",kind=\"sync\",status=\"200\"} 160000",
		 "8 threads x 20000 requests: 160000 counted");
	has_line(busy, "berth_request_duration_seconds_count{app=\"busy\",kind=\"sync\"} 160000",
		 "and 160000 observed");
	has_line(busy, "berth_cold_starts_total{app=\"busy\"} 1600", "and 1600 cold starts");
	srv_metrics_free(srv.metrics);

	/* No metrics object (a server without one): a no-op. */
	struct berth_srv none = {0};
	srv_metrics_request(&none, "x", "sync", 200, 1);
	srv_metrics_cold_start(&none, "x", 1);
	tap_ok(true, "counting without a metrics object does nothing");
}

/* ---------------------------------------------------------------- keys */

static void expect_err(int r, struct berth_err *e, enum berth_err_code code, const char *needle,
		       const char *what)
{
	bool ok = r < 0 && e && e->code == code && (!needle || strstr(e->msg, needle));
	if (!tap_ok(ok, "%s", what)) {
		printf("#   got  %d (%s)\n#   want %s\n", r, e ? berth_err_code_name(e->code) : "-",
		       berth_err_code_name(code));
		tap_diag("message", e ? e->msg : NULL);
	}
	berth_err_free(e);
}

/* A request with only what srv_keys_invoke_ok reads. */
static bool invoke_ok(struct berth_srv *srv, enum srv_scope scope, enum berth_app_auth auth)
{
	struct srv_req rq = {.srv = srv, .key_scope = scope};
	return srv_keys_invoke_ok(&rq, auth);
}

static char *db_text(struct berth_srv *srv, const char *sql, const char *arg)
{
	sqlite3_stmt *st = NULL;
	char *out = NULL;
	if (sqlite3_prepare_v2(srv->db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			out = berth_xstrdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return out;
}

static void test_keys(void)
{
	fixture_init("srvkeys");
	struct berth_srv srv = {.home = fixture_dir};
	struct berth_err *e = NULL;
	if (srv_db_open(&srv, &e) < 0) {
		printf("Bail out! open the database: %s\n", e->msg);
		exit(1);
	}
	tap_ok(!srv_keys_any(&srv), "a new server has no key");
	tap_ok(invoke_ok(&srv, SRV_PUBLIC, BERTH_APP_AUTH_PRIVATE),
	       "without keys a private app is open");

	char *id = NULL, *key = NULL;
	int r = srv_keys_create(&srv, SRV_INVOKE, NULL, &id, &key, &e);
	expect_err(r, e, BERTH_E_EXISTS, "create an admin key first",
		   "the first key cannot be invoke");
	e = NULL;
	tap_ok(!srv_keys_any(&srv), "and none was made");

	r = srv_keys_create(&srv, SRV_ADMIN, "ops", &id, &key, &e);
	tap_ok(r == 0 && !e, "an admin key is made");
	_cleanup_free_ char *admin_id = id, *admin_key = key;
	tap_is_int(strlen(admin_id), 16, "the id is 16 characters");
	tap_ok(admin_key && strlen(admin_key) == 16 + 1 + 64 && !strncmp(admin_key, admin_id, 16) &&
		   admin_key[16] == ':',
	       "the key is ID:SECRET with 64 characters of secret");
	tap_ok(srv_keys_any(&srv), "keys are on");

	char want[BERTH_SHA256_HEX_LEN + 1];
	berth_sha256_hex(admin_key + 17, 64, want);
	_cleanup_free_ char *hash =
	    db_text(&srv, "SELECT hash FROM srv_keys WHERE id = ?", admin_id);
	tap_is_str(hash, want, "the table holds the SHA-256 of the secret");
	_cleanup_free_ char *leak = db_text(
	    &srv, "SELECT id FROM srv_keys WHERE hash = ?1 OR description = ?1", admin_key + 17);
	tap_ok(!leak, "and never the secret itself");

	tap_ok(!invoke_ok(&srv, SRV_PUBLIC, BERTH_APP_AUTH_PRIVATE),
	       "with keys on, a private app needs a key");
	tap_ok(!invoke_ok(&srv, SRV_PUBLIC, BERTH_APP_AUTH_SHARED), "so does a shared app");
	tap_ok(invoke_ok(&srv, SRV_PUBLIC, BERTH_APP_AUTH_PUBLIC), "a public app needs none");
	tap_ok(invoke_ok(&srv, SRV_INVOKE, BERTH_APP_AUTH_PRIVATE),
	       "an invoke key calls private apps");
	tap_ok(invoke_ok(&srv, SRV_ADMIN, BERTH_APP_AUTH_PRIVATE), "so does an admin key");

	r = srv_keys_create(&srv, SRV_INVOKE, "app", &id, &key, &e);
	tap_ok(r == 0 && !e, "an invoke key is made once an admin key exists");
	_cleanup_free_ char *inv_id = id, *inv_key = key;
	tap_ok(strcmp(inv_key + 17, admin_key + 17) != 0, "each key has its own secret");

	r = srv_keys_create(&srv, SRV_ADMIN, "bad\ndescription", &id, &key, &e);
	expect_err(r, e, BERTH_E_INVALID, "control characters",
		   "a description with a newline is refused");
	e = NULL;
	char longd[300];
	memset(longd, 'd', sizeof(longd) - 1);
	longd[sizeof(longd) - 1] = '\0';
	r = srv_keys_create(&srv, SRV_ADMIN, longd, &id, &key, &e);
	expect_err(r, e, BERTH_E_INVALID, "longer than", "a description over 256 bytes is refused");
	e = NULL;
	r = srv_keys_create(&srv, SRV_PUBLIC, NULL, &id, &key, &e);
	expect_err(r, e, BERTH_E_INVALID, "admin or invoke", "a key has scope admin or invoke");
	e = NULL;

	json_t *list = srv_keys_list(&srv, false, &e);
	tap_is_int(json_array_size(list), 2, "the list has both keys");
	_cleanup_free_ char *dump = json_dumps(list, JSON_SORT_KEYS);
	tap_ok(dump && !strstr(dump, admin_key + 17) && !strstr(dump, hash) &&
		   strstr(dump, "\"scope\": \"invoke\"") &&
		   strstr(dump, "\"description\": \"ops\""),
	       "the list has scopes and descriptions, no secret and no hash");
	if (dump && strstr(dump, hash))
		tap_diag("list", dump);
	json_decref(list);

	r = srv_keys_revoke(&srv, admin_id, &e);
	expect_err(r, e, BERTH_E_EXISTS, "last admin key",
		   "the last admin key stays while invoke keys remain");
	e = NULL;
	r = srv_keys_revoke(&srv, "0123456789abcdef", &e);
	expect_err(r, e, BERTH_E_NOT_FOUND, "no active key", "revoking an unknown id is NOT_FOUND");
	e = NULL;

	/* The cache, dropped and read back from the table. */
	srv_keys_release(&srv);
	tap_ok(srv_keys_any(&srv), "keys are read back from the table");
	r = srv_keys_revoke(&srv, inv_id, &e);
	tap_ok(r == 0 && !e, "the invoke key is revoked");
	r = srv_keys_revoke(&srv, inv_id, &e);
	expect_err(r, e, BERTH_E_NOT_FOUND, NULL, "a revoked key cannot be revoked again");
	e = NULL;
	list = srv_keys_list(&srv, true, &e);
	size_t revoked = 0, i;
	json_t *k;
	json_array_foreach(list, i, k) revoked += json_is_number(json_object_get(k, "revoked"));
	tap_ok(json_array_size(list) == 2 && revoked == 1,
	       "list --all keeps the revoked key, dated");
	json_decref(list);

	r = srv_keys_revoke(&srv, admin_id, &e);
	tap_ok(r == 0 && !e, "the last admin key goes once it is the last key");
	tap_ok(!srv_keys_any(&srv), "and keys are off: invoke routes are open again");
	srv_keys_release(&srv);
	tap_ok(!srv_keys_any(&srv), "still off when read back from the table");

	srv_keys_release(&srv);
	srv_db_close(&srv);
	fixture_cleanup(NULL);
}

/* ------------------------------------------------- the app's target */

static void test_app_target(void)
{
	static const struct {
		const char *target, *want;
	} cases[] = {
	    {"/run/app", "/"},
	    {"/run/app/", "/"},
	    {"/run/app?x=1", "/?x=1"},
	    {"/run/app/a/b", "/a/b"},
	    {"/run/app/a%20b/c%2Fd?x=%00&y=%2F", "/a%20b/c%2Fd?x=%00&y=%2F"},
	    {"/queue/app/predict?x=/y", "/predict?x=/y"},
	    {"/run/a%70p/x", "/x"},
	    {NULL, "/"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		struct srv_req rq = {.target = cases[i].target};
		char *got = srv_app_target(&rq);
		tap_is_str(got, cases[i].want, "app target of %s",
			   cases[i].target ? cases[i].target : "(none)");
		free(got);
	}
}

int main(void)
{
	test_metrics();
	test_keys();
	test_app_target();
	return tap_done();
}
