/* The admin API of apps: deploy (the files arrive first through the file
 * store, content-addressed, so a redeploy sends only what changed; the
 * image is built by a `berth app-build` worker process whose output streams
 * back to the client), list, scale, rollback, delete, runners. */
#include "server/apps.h"

#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A path a deploy may write: relative, no "..", no empty or "." parts. */
static bool safe_rel(const char *p)
{
	if (!*p || *p == '/' || strlen(p) > 1024)
		return false;
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s == '/')
			s++;
	}
	return true;
}

static bool valid_digest(const char *d)
{
	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Copy each listed file from the file store into dir. */
static int materialize(struct berth_srv *srv, const char *dir, const json_t *files,
		       struct berth_err **err)
{
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f)
	{
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *digest = json_string_value(json_object_get(f, "digest"));
		json_int_t mode = json_integer_value(json_object_get(f, "mode"));
		if (!path || !digest || !safe_rel(path) || !valid_digest(digest))
			return berth_err_set(err, BERTH_E_INVALID,
					     "files[%zu]: needs a relative path without '..' and a "
					     "sha256 digest",
					     i);
		_cleanup_free_ char *src =
		    berth_xasprintf("%s/files/sha256/%s", srv->home, digest + 7);
		_cleanup_free_ char *dst = berth_xasprintf("%s/%s", dir, path);
		_cleanup_free_ char *parent = berth_xstrdup(dst);
		*strrchr(parent, '/') = '\0';
		if (berth_fs_mkdir_p(parent, 0755, err) < 0)
			return -1;
		struct berth_buf b;
		berth_buf_init(&b, BERTH_FRONT_BODY_MAX);
		int r = berth_fs_read_file(src, BERTH_FRONT_BODY_MAX, &b, err);
		if (r == -BERTH_E_NOT_FOUND) {
			berth_err_free(*err);
			*err = NULL;
			r = berth_err_set(err, BERTH_E_NOT_FOUND,
					  "file '%s' (%s) was not uploaded: POST /v1/files first",
					  path, digest);
		}
		if (r == 0)
			r = berth_fs_write_atomic(AT_FDCWD, dst, b.data, b.len,
						  (mode_t)(mode & 0777 ? mode & 0777 : 0644), err);
		berth_buf_release(&b);
		if (r < 0)
			return r;
	}
	return 0;
}

static int next_revision(struct berth_srv *srv, const char *app)
{
	int rev = 1;
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		srv->db, "SELECT coalesce(max(revision), 0) + 1 FROM srv_revisions WHERE app = ?1",
		-1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			rev = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	return rev;
}

static int record(struct berth_srv *srv, const char *app, int rev, const char *spec,
		  const char *dir, const char *image, const char *message, struct berth_err **err)
{
	double now = srv_wall_now();
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	int r = 0;
	sqlite3_exec(srv->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(
		srv->db,
		"INSERT INTO srv_revisions(app, revision, spec, dir, image, message, "
		"created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		-1, &st, NULL) != SQLITE_OK)
		r = srv_db_fail(srv, "record the revision", err);
	if (r == 0) {
		sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, rev);
		sqlite3_bind_text(st, 3, spec, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, dir, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, image, -1, SQLITE_TRANSIENT);
		if (message)
			sqlite3_bind_text(st, 6, message, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 7, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = srv_db_fail(srv, "record the revision", err);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (r == 0 && sqlite3_prepare_v2(srv->db,
					 "INSERT INTO srv_apps(name, revision, created, updated) "
					 "VALUES (?1, ?2, ?3, ?3) ON CONFLICT(name) DO UPDATE SET "
					 "revision = ?2, updated = ?3",
					 -1, &st, NULL) != SQLITE_OK)
		r = srv_db_fail(srv, "record the app", err);
	if (r == 0) {
		sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, rev);
		sqlite3_bind_double(st, 3, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = srv_db_fail(srv, "record the app", err);
	}
	sqlite3_finalize(st);
	sqlite3_exec(srv->db, r == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	srv_db_unlock(srv);
	return r;
}

/* ------------------------------------------------------------------ deploy */

struct deploy {
	struct berth_srv *srv;
	char *app, *dir, *spec, *message;
	int revision;
	bool reset_scale, recreate;
	pid_t pid;
	int out;               /* the worker's output */
	struct berth_buf line; /* the line being read */
	struct berth_buf last; /* the last whole line: "image <ref>" at the end */
	bool done;
};

static ssize_t deploy_read(void *ctx, char *buf, size_t max)
{
	struct deploy *d = ctx;
	if (d->done)
		return -1;
	if (d->out >= 0) {
		ssize_t n = read(d->out, buf, max);
		if (n < 0 && errno == EINTR)
			return 0;
		if (n > 0) {
			/* Keep the last line for the image name. */
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] != '\n') {
					berth_buf_addch(&d->line, buf[i]);
				} else if (d->line.len) {
					berth_buf_reset(&d->last);
					berth_buf_add(&d->last, d->line.data, d->line.len);
					berth_buf_reset(&d->line);
				}
			}
			return n;
		}
		close(d->out);
		d->out = -1;
	}
	/* The build is over: record, roll out, say where. */
	int status = 0;
	while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
		;
	d->pid = -1;
	d->done = true;
	struct berth_err *err = NULL;
	const char *line = d->last.data;
	json_t *res;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strncmp(line, "image ", 6) != 0) {
		res = json_pack("{s:b, s:s}", "ok", 0, "error", "the build failed (see above)");
		berth_fs_remove_tree(AT_FDCWD, d->dir, NULL); /* no revision: nothing kept */
	} else if (record(d->srv, d->app, d->revision, d->spec, d->dir, line + 6, d->message,
			  &err) < 0) {
		res = json_pack("{s:b, s:s}", "ok", 0, "error", err->msg);
		berth_err_free(err);
		berth_fs_remove_tree(AT_FDCWD, d->dir, NULL);
	} else if (srv_apps_activate(d->srv, d->app, d->revision, d->reset_scale, d->recreate,
				     &err) < 0) {
		res = json_pack("{s:b, s:s}", "ok", 0, "error", err->msg);
		berth_err_free(err);
	} else {
		const char *base = d->srv->public_url;
		_cleanup_free_ char *sync = berth_xasprintf("%s/run/%s", base, d->app);
		_cleanup_free_ char *queue = berth_xasprintf("%s/queue/%s", base, d->app);
		res =
		    json_pack("{s:b, s:s, s:i, s:s, s:s, s:s}", "ok", 1, "app", d->app, "revision",
			      d->revision, "image", line + 6, "sync_url", sync, "queue_url", queue);
	}
	char *text = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(res);
	int n = snprintf(buf, max, "\nberth-deploy-result %s\n", text);
	free(text);
	return n > 0 && (size_t)n < max ? n : -1;
}

static void deploy_free(void *ctx)
{
	struct deploy *d = ctx;
	if (d->pid > 0) { /* the client went away mid-build */
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
	}
	if (d->out >= 0)
		close(d->out);
	berth_buf_release(&d->line);
	berth_buf_release(&d->last);
	free(d->app);
	free(d->dir);
	free(d->spec);
	free(d->message);
	free(d);
}

static void deploy(struct srv_req *rq, struct srv_resp *rs)
{
	struct berth_srv *srv = rq->srv;
	const char *app = rq->params[0];
	json_t *body = srv_body_json(rq, rs);
	if (!body)
		return;
	json_t *spec = json_object_get(body, "spec");
	json_t *files = json_object_get(body, "files");
	const char *strategy = json_string_value(json_object_get(body, "strategy"));
	struct berth_err *err = NULL;
	struct berth_app_spec check = {0};
	if (!json_is_object(spec) || (files && !json_is_array(files)) ||
	    (strategy && strcmp(strategy, "rolling") && strcmp(strategy, "recreate"))) {
		json_decref(body);
		srv_error(rs, 400, "invalid",
			  "the body needs {\"spec\": {...}, \"files\": [...], \"strategy\": "
			  "\"rolling\"|\"recreate\"}");
		return;
	}
	json_object_set_new(spec, "name", json_string(app));
	int rev = next_revision(srv, app);
	_cleanup_free_ char *dir = berth_xasprintf("%s/apps/%s/%d", srv->home, app, rev);
	_cleanup_free_ char *spec_path = berth_xasprintf("%s/spec.json", dir);
	char *text = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
	int r = berth_fs_remove_tree(AT_FDCWD, dir, NULL);
	(void)r;
	if (berth_fs_mkdir_p(dir, 0700, &err) < 0 || materialize(srv, dir, files, &err) < 0 ||
	    berth_fs_write_atomic(AT_FDCWD, spec_path, text, strlen(text), 0600, &err) < 0 ||
	    berth_app_from_json(spec, dir, &check, &err) < 0) {
		free(text);
		json_decref(body);
		berth_fs_remove_tree(AT_FDCWD, dir, NULL);
		srv_fail(rs, err);
		return;
	}
	berth_app_spec_release(&check);

	/* The build worker: `berth app-build SPEC`, its output ours. */
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(text);
		json_decref(body);
		srv_fail(rs, NULL);
		return;
	}
	bool no_cache = json_is_true(json_object_get(body, "no_cache"));
	/* posix_spawn, not fork + setenv: a child of this threaded server may
	 * only make async-signal-safe calls before its exec. */
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	for (char **e = environ; *e; e++)
		berth_strv_push(&env, *e);
	berth_env_set(&env, "BERTH_HOME", srv->home);
	char *argv[] = {(char *)"berth", (char *)"app-build",
			no_cache ? (char *)"--no-cache" : spec_path, no_cache ? spec_path : NULL,
			NULL};
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.envp = env.v;
	sp.stdout_fd = p[1];
	sp.stderr_fd = p[1];
	argv[0] = srv->berth;
	pid_t pid = berth_spawn_start(&sp, NULL);
	close(p[1]);
	struct deploy *d = berth_xcalloc(1, sizeof(*d));
	d->srv = srv;
	d->app = berth_xstrdup(app);
	d->dir = steal_pointer(&dir);
	d->spec = text;
	d->revision = rev;
	d->reset_scale = json_is_true(json_object_get(body, "reset_scale"));
	d->recreate = strategy && !strcmp(strategy, "recreate");
	const char *m = json_string_value(json_object_get(body, "message"));
	d->message = m ? berth_xstrdup(m) : NULL;
	d->pid = pid;
	d->out = p[0];
	berth_buf_init(&d->line, 4096);
	berth_buf_init(&d->last, 4096);
	json_decref(body);
	if (pid < 0) {
		d->pid = -1;
		close(d->out);
		d->out = -1;
	}
	rs->status = 200;
	srv_header(rs, "Content-Type", "text/plain; charset=utf-8");
	rs->stream = deploy_read;
	rs->stream_free = deploy_free;
	rs->stream_ctx = d;
}

/* -------------------------------------------------------------- the rest */

static void list(struct srv_req *rq, struct srv_resp *rs)
{
	json_t *arr = json_array();
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		rq->srv->db,
		"SELECT a.name, a.revision, a.scaling, a.updated, r.image, r.message "
		"FROM srv_apps a JOIN srv_revisions r ON r.app = a.name AND "
		"r.revision = a.revision ORDER BY a.name",
		-1, &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *sc = sqlite3_column_text(st, 2);
			json_t *o = json_pack("{s:s, s:i, s:f, s:s}", "name",
					      (const char *)sqlite3_column_text(st, 0), "revision",
					      sqlite3_column_int(st, 1), "updated",
					      sqlite3_column_double(st, 3), "image",
					      (const char *)sqlite3_column_text(st, 4));
			json_object_set_new(o, "scaling_overrides",
					    sc ? json_loads((const char *)sc, 0, NULL)
					       : json_null());
			if (sqlite3_column_text(st, 5))
				json_object_set_new(
				    o, "message",
				    json_string((const char *)sqlite3_column_text(st, 5)));
			json_array_append_new(arr, o);
		}
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o)
	{
		json_t *runners =
		    srv_apps_runners(rq->srv, json_string_value(json_object_get(o, "name")));
		json_object_set_new(o, "runners",
				    json_integer((json_int_t)json_array_size(runners)));
		json_decref(runners);
	}
	srv_json(rs, 200, json_pack("{s:o}", "apps", arr));
}

static void scale(struct srv_req *rq, struct srv_resp *rs)
{
	json_t *body = srv_body_json(rq, rs);
	if (!body)
		return;
	struct berth_err *err = NULL;
	int r = srv_apps_scale(rq->srv, rq->params[0], body, &err);
	json_decref(body);
	if (r < 0)
		srv_fail(rs, err);
	else
		srv_json(rs, 200, json_pack("{s:s}", "app", rq->params[0]));
}

static void rollback(struct srv_req *rq, struct srv_resp *rs)
{
	json_t *body = srv_body_json(rq, rs);
	if (!body)
		return;
	const char *app = rq->params[0];
	struct srv_app_info info;
	struct berth_err *err = NULL;
	if (srv_apps_info(rq->srv, app, &info, &err) < 0) {
		json_decref(body);
		srv_fail(rs, err);
		return;
	}
	json_t *rv = json_object_get(body, "revision");
	int to = json_is_integer(rv) ? (int)json_integer_value(rv) : info.revision - 1;
	json_decref(body);
	if (to < 1) {
		srv_error(rs, 400, "invalid", "app '%s' has no revision before %d", app,
			  info.revision);
		return;
	}
	if (srv_apps_activate(rq->srv, app, to, false, false, &err) < 0) {
		srv_fail(rs, err);
		return;
	}
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(rq->srv->db,
			       "UPDATE srv_apps SET revision = ?2, updated = ?3 WHERE name = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, to);
		sqlite3_bind_double(st, 3, srv_wall_now());
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
	srv_json(rs, 200, json_pack("{s:s, s:i}", "app", app, "revision", to));
}

static void delete_app(struct srv_req *rq, struct srv_resp *rs)
{
	const char *app = rq->params[0];
	struct srv_app_info info;
	struct berth_err *err = NULL;
	if (srv_apps_info(rq->srv, app, &info, &err) < 0) {
		srv_fail(rs, err);
		return;
	}
	srv_apps_remove(rq->srv, app);
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	const char *sqls[] = {"DELETE FROM srv_apps WHERE name = ?1",
			      "DELETE FROM srv_revisions WHERE app = ?1",
			      "DELETE FROM srv_requests WHERE app = ?1 AND state = 'IN_QUEUE'"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(sqls); i++) {
		if (sqlite3_prepare_v2(rq->srv->db, sqls[i], -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
			sqlite3_step(st);
		}
		sqlite3_finalize(st);
	}
	srv_db_unlock(rq->srv);
	_cleanup_free_ char *dir = berth_xasprintf("%s/apps/%s", rq->srv->home, app);
	berth_fs_remove_tree(AT_FDCWD, dir, NULL);
	/* The images its revisions pinned lose their names (their blobs stay
	 * until `berth image rm` or a prune). */
	struct berth_store *s = NULL;
	if (berth_store_open(rq->srv->home, &s, NULL) == 0) {
		_cleanup_free_ char *prefix = berth_xasprintf("localhost/apps/%s:", app);
		struct berth_image_entry *all = NULL;
		size_t n = 0;
		if (berth_store_list(s, &all, &n, NULL) == 0) {
			for (size_t i = 0; i < n; i++) {
				if (!strncmp(all[i].name, prefix, strlen(prefix)))
					berth_store_untag(s, all[i].name, NULL);
				berth_image_entry_release(&all[i]);
			}
			free(all);
		}
		berth_store_close(s);
	}
	srv_json(rs, 200, json_pack("{s:s, s:b}", "app", app, "deleted", 1));
}

static void runners(struct srv_req *rq, struct srv_resp *rs)
{
	_cleanup_free_ char *app = srv_query(rq, "app");
	srv_json(rs, 200, json_pack("{s:o}", "runners", srv_apps_runners(rq->srv, app)));
}

static void stop_runner(struct srv_req *rq, struct srv_resp *rs)
{
	struct berth_err *err = NULL;
	if (srv_apps_stop_runner(rq->srv, rq->params[0], &err) < 0)
		srv_fail(rs, err);
	else
		srv_json(rs, 202,
			 json_pack("{s:s, s:s}", "runner", rq->params[0], "status", "DRAINING"));
}

static void queue_size(struct srv_req *rq, struct srv_resp *rs)
{
	int n = 0;
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(rq->srv->db,
			       "SELECT count(*) FROM srv_requests WHERE app = ?1 AND state = "
			       "'IN_QUEUE'",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, rq->params[0], -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
	srv_json(rs, 200, json_pack("{s:s, s:i}", "app", rq->params[0], "size", n));
}

static void queue_flush(struct srv_req *rq, struct srv_resp *rs)
{
	int n = 0;
	srv_db_lock(rq->srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(rq->srv->db,
			       "UPDATE srv_requests SET state = 'COMPLETED', cancelled = 1, "
			       "status = 499 WHERE app = ?1 AND state = 'IN_QUEUE'",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, rq->params[0], -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_DONE)
			n = sqlite3_changes(rq->srv->db);
	}
	sqlite3_finalize(st);
	srv_db_unlock(rq->srv);
	srv_json(rs, 200, json_pack("{s:s, s:i}", "app", rq->params[0], "flushed", n));
}

const struct srv_route srv_routes_apps[] = {
    {"POST", "/v1/apps/{app}/deploy", SRV_ADMIN, deploy, NULL, NULL},
    {"GET", "/v1/apps", SRV_ADMIN, list, NULL, NULL},
    {"POST", "/v1/apps/{app}/scale", SRV_ADMIN, scale, NULL, NULL},
    {"POST", "/v1/apps/{app}/rollback", SRV_ADMIN, rollback, NULL, NULL},
    {"DELETE", "/v1/apps/{app}", SRV_ADMIN, delete_app, NULL, NULL},
    {"GET", "/v1/runners", SRV_ADMIN, runners, NULL, NULL},
    {"POST", "/v1/runners/{id}/stop", SRV_ADMIN, stop_runner, NULL, NULL},
    {"GET", "/v1/apps/{app}/queue", SRV_ADMIN, queue_size, NULL, NULL},
    {"DELETE", "/v1/apps/{app}/queue", SRV_ADMIN, queue_flush, NULL, NULL},
    {0},
};
