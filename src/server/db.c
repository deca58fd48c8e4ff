/* The server's tables in berth.db. One connection, one mutex: requests are
 * short, and SQLite serialises writers anyway. synchronous=FULL: a request
 * the queue has acknowledged survives a power cut, not only a crash. */
#include "server/server_int.h"

#include <time.h>

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS srv_apps("
    "  name TEXT PRIMARY KEY, revision INTEGER NOT NULL,"
    "  scaling TEXT," /* JSON overrides from `berth apps scale`, or NULL */
    "  created REAL NOT NULL, updated REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS srv_revisions("
    "  app TEXT NOT NULL, revision INTEGER NOT NULL,"
    "  spec TEXT NOT NULL,"      /* berth_app_to_json, paths inside dir */
    "  dir TEXT NOT NULL,"       /* apps/<name>/<revision>: the files sent by deploy */
    "  image TEXT, digest TEXT," /* the built image */
    "  message TEXT, created REAL NOT NULL,"
    "  PRIMARY KEY(app, revision));"
    "CREATE TABLE IF NOT EXISTS srv_requests("
    "  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, app TEXT NOT NULL,"
    "  path TEXT NOT NULL, headers TEXT, body BLOB,"
    "  priority INTEGER NOT NULL DEFAULT 0,"
    "  state TEXT NOT NULL," /* IN_QUEUE, IN_PROGRESS, COMPLETED */
    "  attempts INTEGER NOT NULL DEFAULT 0, runner TEXT,"
    "  status INTEGER, result_type TEXT, result BLOB, error TEXT, cancelled INTEGER DEFAULT 0,"
    "  webhook TEXT, webhook_state TEXT, logs TEXT,"
    "  created REAL NOT NULL, started REAL, finished REAL,"
    "  queued_s REAL, cold_s REAL, run_s REAL);"
    "CREATE INDEX IF NOT EXISTS srv_requests_queue ON srv_requests(app, state, priority, seq);"
    /* max(seq) for the next submit, without a scan of every finished request */
    "CREATE INDEX IF NOT EXISTS srv_requests_seq ON srv_requests(seq);"
    /* the queued requests alone: which apps have work, in order, and positions */
    "CREATE INDEX IF NOT EXISTS srv_requests_queued ON srv_requests(app, priority, seq) "
    "WHERE state = 'IN_QUEUE';"
    "CREATE TABLE IF NOT EXISTS srv_files("
    "  digest TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,"
    "  content_type TEXT, created REAL NOT NULL, PRIMARY KEY(digest, name));"
    "CREATE TABLE IF NOT EXISTS srv_kv("
    "  ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
    "  expires REAL, updated REAL NOT NULL, PRIMARY KEY(ns, key));"
    /* the sweep of expired keys (api_kv.c) */
    "CREATE INDEX IF NOT EXISTS srv_kv_expires ON srv_kv(expires) WHERE expires IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS srv_keys("
    "  id TEXT PRIMARY KEY, hash TEXT NOT NULL, scope TEXT NOT NULL,"
    "  description TEXT, created REAL NOT NULL, revoked REAL);";

int srv_db_fail(struct berth_srv *srv, const char *what, struct berth_err **err)
{
	return berth_err_set(err, BERTH_E_SYS, "%s: %s", what, sqlite3_errmsg(srv->db));
}

int srv_db_open(struct berth_srv *srv, struct berth_err **err)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/berth.db", srv->home);
	pthread_mutex_init(&srv->db_lock, NULL);
	if (sqlite3_open_v2(path, &srv->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK)
		return berth_err_set(err, BERTH_E_SYS, "open state database '%s': %s", path,
				     srv->db ? sqlite3_errmsg(srv->db) : "out of memory");
	sqlite3_busy_timeout(srv->db, 10000);
	if (srv_db_exec(srv, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err) < 0 ||
	    srv_db_exec(srv, schema, err) < 0)
		return berth_err_prefix(err, "state database '%s'", path);
	return 0;
}

void srv_db_close(struct berth_srv *srv)
{
	if (srv->db)
		sqlite3_close(srv->db);
	srv->db = NULL;
	pthread_mutex_destroy(&srv->db_lock);
}

void srv_db_lock(struct berth_srv *srv)
{
	pthread_mutex_lock(&srv->db_lock);
}

void srv_db_unlock(struct berth_srv *srv)
{
	pthread_mutex_unlock(&srv->db_lock);
}

int srv_db_exec(struct berth_srv *srv, const char *sql, struct berth_err **err)
{
	srv_db_lock(srv);
	char *msg = NULL;
	int rc = sqlite3_exec(srv->db, sql, NULL, NULL, &msg);
	int r = 0;
	if (rc != SQLITE_OK)
		r = berth_err_set(err, BERTH_E_SYS, "sql: %s", msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	srv_db_unlock(srv);
	return r;
}
