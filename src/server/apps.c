/* Deployed apps and their runners: the router, the autoscaler and one
 * thread per runner that looks after it from start to stop (see apps.h). */
#include "server/apps.h"

#include "image/image.h"
#include "runtime/runtime.h"
#include "secrets/secrets.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How often the supervisor looks, at most (a kick wakes it at once). */
#define TICK_MS 100
/* Back-off after a runner failed to start: doubles from 1 s up to this. */
#define BACKOFF_MAX_S 60.0

/* One revision of an app, shared by its runners (reference counted under
 * the apps lock). */
struct srv_rev {
	int refs;
	int revision;
	struct berth_app_spec spec;
	char *image; /* canonical name in the store */
};

struct srv_runner {
	struct srv_runner *next;
	struct srv_app *app;
	struct srv_rev *rev;
	char id[17];    /* "" until created */
	char token[33]; /* SRV_RUNNER_TOKEN_ENV (apps.h), hex */
	char name[96];
	unsigned port;
	enum srv_runner_state state;
	int inflight;
	bool stop; /* drain: stop once idle */
	bool bad;  /* replace at once */
	double created, ready_at, last_used, last_probe;
	int health_failures;
};

struct srv_app {
	struct srv_app *next;
	char *name;
	struct srv_rev *rev; /* current */
	struct srv_runner *runners;
	int waiting;          /* requests waiting for a slot */
	double waiting_since; /* when the oldest of them started to wait */
	double last_request;
	int failures;         /* starts failed in a row */
	double backoff_until; /* no new start before this */
	char last_failure[256];
	bool removed;
};

struct srv_apps {
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* slots freed, runners ready: waiters look again */
	pthread_cond_t tick; /* the supervisor's wake-up */
	struct srv_app *list;
	pthread_t supervisor;
	bool stop;
	int threads; /* runner threads alive */
	unsigned serial;
	char *sdk_dir;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

const char *srv_runner_state_name(enum srv_runner_state s, int inflight)
{
	switch (s) {
	case SRV_RUNNER_PENDING:
		return "PENDING";
	case SRV_RUNNER_SETUP:
		return "SETUP";
	case SRV_RUNNER_READY:
		return inflight ? "RUNNING" : "IDLE";
	case SRV_RUNNER_DRAINING:
		return "DRAINING";
	case SRV_RUNNER_TERMINATING:
		return "TERMINATING";
	case SRV_RUNNER_TERMINATED:
		return "TERMINATED";
	case SRV_RUNNER_FAILED:
		return "FAILED";
	}
	return "?";
}

static void rev_put(struct srv_rev *r)
{
	if (r && --r->refs == 0) {
		berth_app_spec_release(&r->spec);
		free(r->image);
		free(r);
	}
}

static struct srv_app *find_app(struct srv_apps *A, const char *name)
{
	for (struct srv_app *a = A->list; a; a = a->next)
		if (!a->removed && !strcmp(a->name, name))
			return a;
	return NULL;
}

/* ------------------------------------------------------- one runner's life */

struct runner_job {
	struct berth_srv *srv;
	struct srv_runner *rn;
};

/* Create and start the container (no lock held: it forks and writes). */
static int start_container(struct berth_srv *srv, struct srv_runner *rn, struct berth_err **err)
{
	struct srv_apps *A = srv->apps;
	const struct srv_rev *rev = rn->rev;
	struct berth_container_opts o = {0};
	struct berth_store *s = NULL;
	struct berth_secrets *sec = NULL;
	struct berth_runner *r = NULL;
	int rc = berth_store_open(srv->home, &s, err);
	if (rc == 0)
		rc = berth_app_container_image(s, rev->image, &o, err);
	if (rc == 0 && rev->spec.secrets.n)
		rc = berth_secrets_open(srv->home, &sec, err);
	if (rc == 0)
		rc = berth_app_runner_opts(&rev->spec, srv->home, A->sdk_dir, rn->port, sec, &o,
					   err);
	if (rc == 0) {
		/* The app reaches the server's file store and KV here. */
		berth_strv_pushf(&o.env, "BERTH_SERVER_URL=%s", srv->public_url);
		berth_strv_pushf(&o.env, "%s=%s", SRV_RUNNER_TOKEN_ENV, rn->token);
		berth_strv_push(&o.redact, rn->token);
		o.name = berth_xstrdup(rn->name);
		rc = berth_runner_create(srv->home, &o, &r, err);
	}
	if (rc == 0) {
		memcpy(rn->id, berth_runner_id(r), sizeof(rn->id));
		rc = berth_runner_start(r, NULL, err);
	}
	berth_runner_free(r);
	berth_secrets_close(sec);
	if (s)
		berth_store_close(s);
	berth_container_opts_release(&o);
	return rc;
}

static bool container_alive(struct berth_srv *srv, const char *id)
{
	struct berth_runner_info i;
	if (berth_runner_lookup(srv->home, id, &i, NULL) < 0)
		return false;
	bool alive = i.status == BERTH_RUNNER_RUNNING && !i.stale;
	berth_runner_info_release(&i);
	return alive;
}

static void stop_container(struct berth_srv *srv, const char *id, int grace)
{
	struct berth_runner_info i;
	if (!*id || berth_runner_lookup(srv->home, id, &i, NULL) < 0)
		return;
	berth_runner_stop(srv->home, &i, grace, NULL);
	berth_runner_remove(srv->home, &i, true, NULL);
	berth_runner_info_release(&i);
}

static bool probe(struct srv_runner *rn)
{
	const struct berth_app_health *h = &rn->rev->spec.health;
	_cleanup_free_ char *url =
	    berth_xasprintf("http://127.0.0.1:%u%s", rn->port, h->path ? h->path : "/health");
	long status = 0;
	_cleanup_free_ char *token = berth_xasprintf("%s: %s", SRV_RUNNER_TOKEN_HEADER, rn->token);
	return berth_http_probe(url, h->method ? h->method : "GET", token, h->timeout_ms, &status,
				NULL) == 0 &&
	       status >= 200 && status < 300;
}

static void set_state(struct srv_apps *A, struct srv_runner *rn, enum srv_runner_state s)
{
	pthread_mutex_lock(&A->mu);
	rn->state = s;
	pthread_cond_broadcast(&A->cv);
	pthread_mutex_unlock(&A->mu);
}

static void *runner_thread(void *arg)
{
	struct runner_job *job = arg;
	struct berth_srv *srv = job->srv;
	struct srv_apps *A = srv->apps;
	struct srv_runner *rn = job->rn;
	struct srv_app *app = rn->app;
	free(job);
	const struct berth_app_spec *spec = &rn->rev->spec;
	struct berth_err *err = NULL;
	bool failed = false;
	char why[256] = "";
	double t0 = srv_mono();

	if (start_container(srv, rn, &err) < 0) {
		berth_log_warn("app '%s': runner failed to start: %s", app->name, err->msg);
		snprintf(why, sizeof(why), "%s", err->msg);
		berth_err_free(err);
		failed = true;
		goto stop;
	}
	set_state(A, rn, SRV_RUNNER_SETUP);
	long wait = 10;
	for (;;) {
		if (rn->stop || rn->bad || A->stop)
			goto stop;
		if (probe(rn))
			break;
		if (!container_alive(srv, rn->id)) {
			berth_log_warn("app '%s': runner %s exited during setup", app->name,
				       rn->id);
			snprintf(why, sizeof(why), "runner %s exited during setup", rn->id);
			failed = true;
			goto stop;
		}
		if ((srv_mono() - t0) * 1000 > (double)spec->startup_timeout_ms) {
			berth_log_warn("app '%s': runner %s not ready within startup_timeout",
				       app->name, rn->id);
			snprintf(why, sizeof(why), "runner %s was not ready within %lld ms", rn->id,
				 (long long)spec->startup_timeout_ms);
			failed = true;
			goto stop;
		}
		sleep_ms(wait);
		if (wait < 100)
			wait *= 2;
	}
	pthread_mutex_lock(&A->mu);
	rn->state = SRV_RUNNER_READY;
	rn->ready_at = rn->last_used = rn->last_probe = srv_mono();
	app->failures = 0;
	app->backoff_until = 0;
	pthread_cond_broadcast(&A->cv);
	pthread_mutex_unlock(&A->mu);
	srv_metrics_cold_start(srv, app->name, rn->ready_at - t0);

	/* Serving: watch the container and its health until told to stop. */
	for (;;) {
		sleep_ms(50);
		pthread_mutex_lock(&A->mu);
		bool done = A->stop || rn->bad || (rn->stop && rn->inflight == 0);
		bool check = srv_mono() - rn->last_probe >= (double)spec->health.interval_ms / 1000;
		pthread_mutex_unlock(&A->mu);
		if (done)
			break;
		if (!container_alive(srv, rn->id)) {
			berth_log_warn("app '%s': runner %s exited", app->name, rn->id);
			break;
		}
		if (!check)
			continue;
		bool healthy = probe(rn);
		pthread_mutex_lock(&A->mu);
		rn->last_probe = srv_mono();
		rn->health_failures = healthy ? 0 : rn->health_failures + 1;
		if (rn->health_failures >= spec->health.failure_threshold) {
			berth_log_warn("app '%s': runner %s failed %d health checks: replacing it",
				       app->name, rn->id, rn->health_failures);
			rn->bad = true;
		}
		pthread_mutex_unlock(&A->mu);
	}
stop:
	pthread_mutex_lock(&A->mu);
	rn->state = SRV_RUNNER_TERMINATING;
	if (failed) {
		snprintf(app->last_failure, sizeof(app->last_failure), "%s", why);
		app->failures++;
		double b = app->failures > 7 ? BACKOFF_MAX_S : (double)(1 << (app->failures - 1));
		app->backoff_until = srv_mono() + (b > BACKOFF_MAX_S ? BACKOFF_MAX_S : b);
	}
	pthread_cond_broadcast(&A->cv);
	pthread_mutex_unlock(&A->mu);
	stop_container(srv, rn->id, (int)((spec->termination_grace_ms + 999) / 1000));
	pthread_mutex_lock(&A->mu);
	for (struct srv_runner **p = &app->runners; *p; p = &(*p)->next)
		if (*p == rn) {
			*p = rn->next;
			break;
		}
	rev_put(rn->rev);
	free(rn);
	A->threads--;
	pthread_cond_broadcast(&A->cv);
	pthread_cond_signal(&A->tick);
	pthread_mutex_unlock(&A->mu);
	return NULL;
}

/* Add a runner of the app's current revision and start its thread. Called
 * with the lock held. */
static void spawn_runner(struct berth_srv *srv, struct srv_app *a)
{
	struct srv_apps *A = srv->apps;
	unsigned port = (unsigned)a->rev->spec.port;
	if (!port && berth_free_port(&port, NULL) < 0)
		return;
	struct srv_runner *rn = berth_xcalloc(1, sizeof(*rn));
	rn->app = a;
	rn->rev = a->rev;
	a->rev->refs++;
	rn->port = port;
	rn->created = srv_mono();
	if (berth_random_hex((sizeof(rn->token) - 1) / 2, rn->token, NULL) < 0) {
		rev_put(rn->rev);
		free(rn);
		return;
	}
	snprintf(rn->name, sizeof(rn->name), "srv.%s.%d.%u", a->name, a->rev->revision,
		 ++A->serial);
	rn->next = a->runners;
	a->runners = rn;
	struct runner_job *job = berth_xcalloc(1, sizeof(*job));
	*job = (struct runner_job){srv, rn};
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	A->threads++;
	if (pthread_create(&t, &at, runner_thread, job) != 0) {
		A->threads--;
		a->runners = rn->next;
		rev_put(rn->rev);
		free(rn);
		free(job);
	}
	pthread_attr_destroy(&at);
}

/* ---------------------------------------------------------- the autoscaler */

static bool live(const struct srv_runner *rn)
{
	return !rn->stop && !rn->bad &&
	       (rn->state == SRV_RUNNER_PENDING || rn->state == SRV_RUNNER_SETUP ||
		rn->state == SRV_RUNNER_READY);
}

static void scale_app(struct berth_srv *srv, struct srv_app *a, double now)
{
	const struct berth_app_scaling *sc = &a->rev->spec.scaling;
	int inflight = 0, cur = 0, cur_ready = 0, old = 0;
	for (struct srv_runner *rn = a->runners; rn; rn = rn->next) {
		inflight += rn->inflight;
		if (!live(rn))
			continue;
		if (rn->rev == a->rev) {
			cur++;
			cur_ready += rn->state == SRV_RUNNER_READY;
		} else {
			old++;
		}
	}
	int mux = sc->max_multiplexing > 0 ? sc->max_multiplexing : 1;
	int demand = inflight + a->waiting;
	int needed = (demand + mux - 1) / mux;
	int desired = needed + (demand || sc->min_runners ? sc->concurrency_buffer : 0);
	if (desired < sc->min_runners)
		desired = sc->min_runners;
	if (desired > sc->max_runners)
		desired = sc->max_runners;
	bool delay_ok = !a->waiting ||
			(now - a->waiting_since) * 1000 >= (double)sc->scaling_delay_ms || cur > 0;
	if (now >= a->backoff_until && delay_ok)
		for (int i = cur; i < desired; i++)
			spawn_runner(srv, a);

	/* Rolling: old revisions drain once the current one has as many ready
	 * runners as it wants (or as the old ones were). */
	if (old && cur_ready >= (desired < old ? desired : old))
		for (struct srv_runner *rn = a->runners; rn; rn = rn->next)
			if (rn->rev != a->rev && live(rn)) {
				rn->stop = true;
				rn->state =
				    rn->state == SRV_RUNNER_READY ? SRV_RUNNER_DRAINING : rn->state;
			}

	/* Scale down: idle past keep_alive, never below what is wanted. */
	int keep = needed > sc->min_runners ? needed : sc->min_runners;
	int up = cur;
	for (struct srv_runner *rn = a->runners; rn && up > keep; rn = rn->next)
		if (rn->rev == a->rev && live(rn) && rn->state == SRV_RUNNER_READY &&
		    !rn->inflight && (now - rn->last_used) * 1000 >= (double)sc->keep_alive_ms) {
			rn->stop = true;
			rn->state = SRV_RUNNER_DRAINING;
			up--;
		}
}

static void *supervisor(void *arg)
{
	struct berth_srv *srv = arg;
	struct srv_apps *A = srv->apps;
	pthread_mutex_lock(&A->mu);
	while (!A->stop) {
		double now = srv_mono();
		for (struct srv_app *a = A->list; a; a = a->next)
			if (!a->removed && a->rev)
				scale_app(srv, a, now);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&A->tick, &A->mu, &until);
	}
	pthread_mutex_unlock(&A->mu);
	return NULL;
}

void srv_apps_kick(struct berth_srv *srv)
{
	pthread_mutex_lock(&srv->apps->mu);
	pthread_cond_signal(&srv->apps->tick);
	pthread_mutex_unlock(&srv->apps->mu);
}

/* ------------------------------------------------------------- the router */

/* A slot on the least busy ready runner of `a` with one free (the current
 * revision's first), or false. Under A->mu. */
static bool take_slot(struct srv_app *a, struct srv_slot *out)
{
	struct srv_runner *best = NULL;
	int mux = a->rev->spec.scaling.max_multiplexing;
	for (struct srv_runner *rn = a->runners; rn; rn = rn->next)
		if (rn->state == SRV_RUNNER_READY && !rn->stop && !rn->bad &&
		    rn->inflight < (rn->rev->spec.scaling.max_multiplexing > 0
					? rn->rev->spec.scaling.max_multiplexing
					: mux) &&
		    (!best || rn->inflight < best->inflight ||
		     (rn->rev == a->rev && best->rev != a->rev)))
			best = rn;
	if (!best)
		return false;
	best->inflight++;
	best->last_used = a->last_request = srv_mono();
	snprintf(out->app, sizeof(out->app), "%s", a->name);
	memcpy(out->runner, best->id, sizeof(out->runner));
	memcpy(out->token, best->token, sizeof(out->token));
	out->port = best->port;
	out->cold_s = 0;
	return true;
}

bool srv_apps_try_acquire(struct berth_srv *srv, const char *name, struct srv_app_info *info,
			  struct srv_slot *out)
{
	struct srv_apps *A = srv->apps;
	pthread_mutex_lock(&A->mu);
	struct srv_app *a = find_app(A, name);
	/* Behind those already waiting, never before them. */
	bool ok = a && a->rev && !a->waiting && !A->stop && !a->removed && take_slot(a, out);
	if (ok) {
		info->auth = a->rev->spec.auth;
		info->request_timeout_ms = a->rev->spec.request_timeout_ms;
		info->revision = a->rev->revision;
	}
	pthread_mutex_unlock(&A->mu);
	return ok;
}

int srv_apps_acquire(struct berth_srv *srv, const char *name, int64_t timeout_ms, bool fail_fast,
		     struct srv_slot *out, struct berth_err **err)
{
	struct srv_apps *A = srv->apps;
	double t0 = srv_mono();
	pthread_mutex_lock(&A->mu);
	struct srv_app *a = find_app(A, name);
	if (!a || !a->rev) {
		pthread_mutex_unlock(&A->mu);
		return berth_err_set(err, BERTH_E_NOT_FOUND, "no app '%s' is deployed", name);
	}
	if (!a->waiting++)
		a->waiting_since = t0;
	bool waited = false;
	int rc = 0;
	for (;;) {
		if (take_slot(a, out)) {
			out->cold_s = waited ? srv_mono() - t0 : 0;
			break;
		}
		if (!waited) {
			waited = true;
			pthread_cond_signal(&A->tick);
		}
		if (fail_fast && a->failures >= SRV_FAIL_FAST_AFTER) {
			double next = a->backoff_until - srv_mono();
			rc = berth_err_set(err, BERTH_E_UNAVAILABLE,
					   "app '%s' failed its last %d starts (the last: %s); the "
					   "next try is in %.0f s (berth runners logs shows why)",
					   name, a->failures, a->last_failure, next > 0 ? next : 0);
			break;
		}
		double left = timeout_ms < 0 ? 1.0 : (double)timeout_ms / 1000 - (srv_mono() - t0);
		if (left <= 0 || A->stop || a->removed) {
			rc = berth_err_set(err, BERTH_E_TIMEOUT,
					   "no runner of '%s' was ready within %lld ms", name,
					   (long long)timeout_ms);
			break;
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		double l = left < 1.0 ? left : 1.0;
		until.tv_sec += (time_t)l;
		until.tv_nsec += (long)((l - (double)(time_t)l) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&A->cv, &A->mu, &until);
	}
	a->waiting--;
	if (a->waiting)
		a->waiting_since = srv_mono();
	pthread_mutex_unlock(&A->mu);
	return rc;
}

bool srv_apps_runner_token(struct berth_srv *srv, const char *runner, char token[33])
{
	struct srv_apps *A = srv->apps;
	bool found = false;
	pthread_mutex_lock(&A->mu);
	for (struct srv_app *a = A->list; a && !found; a = a->next)
		for (struct srv_runner *rn = a->runners; rn && !found; rn = rn->next)
			if (*rn->id && !strcmp(rn->id, runner)) {
				memcpy(token, rn->token, 33);
				found = true;
			}
	pthread_mutex_unlock(&A->mu);
	return found;
}

void srv_apps_release(struct berth_srv *srv, const struct srv_slot *slot, enum srv_outcome o)
{
	struct srv_apps *A = srv->apps;
	bool waiters = false;
	pthread_mutex_lock(&A->mu);
	for (struct srv_app *a = A->list; a; a = a->next)
		for (struct srv_runner *rn = a->runners; rn; rn = rn->next)
			if (!strcmp(rn->id, slot->runner)) {
				rn->inflight--;
				rn->last_used = srv_mono();
				if (o != SRV_OK)
					rn->bad = true;
				waiters |= a->waiting > 0;
			}
	/* Wake only who can use this: requests waiting for a slot, and the
	 * supervisor when a runner must be replaced (idle scale-down is its
	 * own timer). Every call woke both before: a supervisor pass per
	 * request, and the lock fought over by every connection thread. */
	if (waiters)
		pthread_cond_broadcast(&A->cv);
	if (o != SRV_OK)
		pthread_cond_signal(&A->tick);
	pthread_mutex_unlock(&A->mu);
}

/* -------------------------------------------------------------- revisions */

/* Load revision `revision` of `app` with the app's scaling overrides. */
static int load_rev(struct berth_srv *srv, const char *app, int revision, struct srv_rev **out,
		    struct berth_err **err)
{
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(srv->db,
				    "SELECT r.spec, r.dir, r.image, a.scaling FROM srv_revisions r "
				    "LEFT JOIN srv_apps a ON a.name = r.app "
				    "WHERE r.app = ?1 AND r.revision = ?2",
				    -1, &st, NULL);
	json_t *j = NULL, *scaling = NULL;
	_cleanup_free_ char *dir = NULL, *image = NULL;
	int r = 0;
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, revision);
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW) {
		j = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
		dir = berth_xstrdup((const char *)sqlite3_column_text(st, 1));
		const unsigned char *im = sqlite3_column_text(st, 2);
		image = im ? berth_xstrdup((const char *)im) : NULL;
		const unsigned char *sc = sqlite3_column_text(st, 3);
		scaling = sc ? json_loads((const char *)sc, 0, NULL) : NULL;
	} else if (rc == SQLITE_DONE) {
		r = berth_err_set(err, BERTH_E_NOT_FOUND, "app '%s' has no revision %d", app,
				  revision);
	} else {
		r = srv_db_fail(srv, "load revision", err);
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	if (r < 0)
		return r;
	if (!j || !image) {
		json_decref(j);
		json_decref(scaling);
		return berth_err_set(err, BERTH_E_INVALID, "app '%s' revision %d is incomplete",
				     app, revision);
	}
	if (json_is_object(scaling)) {
		json_t *s = json_object_get(j, "scaling");
		if (json_is_object(s))
			json_object_update(s, scaling);
		else
			json_object_set(j, "scaling", scaling);
	}
	json_decref(scaling);
	struct srv_rev *rv = berth_xcalloc(1, sizeof(*rv));
	r = berth_app_from_json(j, dir, &rv->spec, err);
	json_decref(j);
	if (r < 0) {
		free(rv);
		return berth_err_prefix(err, "app '%s' revision %d", app, revision);
	}
	rv->refs = 1;
	rv->revision = revision;
	rv->image = steal_pointer(&image);
	*out = rv;
	return 0;
}

int srv_apps_activate(struct berth_srv *srv, const char *app, int revision, bool reset_scale,
		      bool recreate, struct berth_err **err)
{
	if (reset_scale) {
		srv_db_lock(srv);
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(srv->db,
				       "UPDATE srv_apps SET scaling = NULL WHERE name = ?1", -1,
				       &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
			sqlite3_step(st);
		}
		sqlite3_finalize(st);
		srv_db_unlock(srv);
	}
	struct srv_rev *rv = NULL;
	if (load_rev(srv, app, revision, &rv, err) < 0)
		return -1;
	struct srv_apps *A = srv->apps;
	pthread_mutex_lock(&A->mu);
	struct srv_app *a = find_app(A, app);
	if (!a) {
		a = berth_xcalloc(1, sizeof(*a));
		a->name = berth_xstrdup(app);
		a->next = A->list;
		A->list = a;
	}
	struct srv_rev *old = a->rev;
	a->rev = rv;
	a->failures = 0;
	a->backoff_until = 0;
	/* recreate: the old revision's runners go now, not after the new ones. */
	if (old && recreate)
		for (struct srv_runner *rn = a->runners; rn; rn = rn->next)
			rn->stop = true;
	rev_put(old);
	pthread_cond_signal(&A->tick);
	pthread_cond_broadcast(&A->cv);
	pthread_mutex_unlock(&A->mu);
	return 0;
}

void srv_apps_remove(struct berth_srv *srv, const char *app)
{
	struct srv_apps *A = srv->apps;
	pthread_mutex_lock(&A->mu);
	struct srv_app *a = find_app(A, app);
	if (a) {
		a->removed = true;
		for (struct srv_runner *rn = a->runners; rn; rn = rn->next)
			rn->stop = true;
	}
	pthread_cond_broadcast(&A->cv);
	pthread_mutex_unlock(&A->mu);
}

int srv_apps_scale(struct berth_srv *srv, const char *app, const json_t *scaling,
		   struct berth_err **err)
{
	int revision;
	struct srv_app_info info;
	if (srv_apps_info(srv, app, &info, err) < 0)
		return -1;
	revision = info.revision;
	/* Merge into the stored overrides, then check by loading. */
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	json_t *cur = NULL;
	if (sqlite3_prepare_v2(srv->db, "SELECT scaling FROM srv_apps WHERE name = ?1", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			cur = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	}
	sqlite3_finalize(st);
	if (!json_is_object(cur)) {
		json_decref(cur);
		cur = json_object();
	}
	json_t *old = json_deep_copy(cur);
	json_object_update(cur, (json_t *)scaling);
	char *text = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
	int r = 0;
	if (sqlite3_prepare_v2(srv->db, "UPDATE srv_apps SET scaling = ?2 WHERE name = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		r = srv_db_fail(srv, "scale", err);
	if (r == 0) {
		sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = srv_db_fail(srv, "scale", err);
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	free(text);
	json_decref(cur);
	/* A bad value: put the old overrides back. */
	if (r == 0 && (r = srv_apps_activate(srv, app, revision, false, false, err)) < 0) {
		char *back = json_dumps(old, JSON_COMPACT);
		srv_db_lock(srv);
		if (sqlite3_prepare_v2(srv->db, "UPDATE srv_apps SET scaling = ?2 WHERE name = ?1",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, app, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, back, -1, SQLITE_TRANSIENT);
			sqlite3_step(st);
		}
		sqlite3_finalize(st);
		srv_db_unlock(srv);
		free(back);
	}
	json_decref(old);
	return r;
}

int srv_apps_info(struct berth_srv *srv, const char *app, struct srv_app_info *out,
		  struct berth_err **err)
{
	struct srv_apps *A = srv->apps;
	pthread_mutex_lock(&A->mu);
	struct srv_app *a = find_app(A, app);
	if (a && a->rev) {
		out->auth = a->rev->spec.auth;
		out->request_timeout_ms = a->rev->spec.request_timeout_ms;
		out->revision = a->rev->revision;
		const struct berth_app_scaling *sc = &a->rev->spec.scaling;
		out->capacity =
		    sc->max_runners * (sc->max_multiplexing > 0 ? sc->max_multiplexing : 1);
	}
	pthread_mutex_unlock(&A->mu);
	if (!a || !a->rev)
		return berth_err_set(err, BERTH_E_NOT_FOUND, "no app '%s' is deployed", app);
	return 0;
}

json_t *srv_apps_runners(struct berth_srv *srv, const char *app)
{
	struct srv_apps *A = srv->apps;
	json_t *arr = json_array();
	double now = srv_mono();
	pthread_mutex_lock(&A->mu);
	for (struct srv_app *a = A->list; a; a = a->next) {
		if (a->removed || (app && strcmp(a->name, app) != 0))
			continue;
		for (struct srv_runner *rn = a->runners; rn; rn = rn->next)
			json_array_append_new(
			    arr,
			    json_pack(
				"{s:s, s:s, s:s, s:i, s:i, s:i, s:f, s:f}", "app", a->name, "id",
				rn->id, "state", srv_runner_state_name(rn->state, rn->inflight),
				"revision", rn->rev->revision, "port", (int)rn->port, "inflight",
				rn->inflight, "age_s", now - rn->created, "idle_s",
				rn->state == SRV_RUNNER_READY && !rn->inflight ? now - rn->last_used
									       : 0.0));
	}
	pthread_mutex_unlock(&A->mu);
	return arr;
}

int srv_apps_stop_runner(struct berth_srv *srv, const char *id, struct berth_err **err)
{
	struct srv_apps *A = srv->apps;
	bool found = false;
	pthread_mutex_lock(&A->mu);
	for (struct srv_app *a = A->list; a; a = a->next)
		for (struct srv_runner *rn = a->runners; rn; rn = rn->next)
			if (*id && !strncmp(rn->id, id, strlen(id))) {
				rn->stop = true;
				if (rn->state == SRV_RUNNER_READY)
					rn->state = SRV_RUNNER_DRAINING;
				found = true;
			}
	pthread_cond_signal(&A->tick);
	pthread_mutex_unlock(&A->mu);
	return found ? 0 : berth_err_set(err, BERTH_E_NOT_FOUND, "no runner '%s'", id);
}

void srv_apps_gauges(struct berth_srv *srv, struct berth_buf *out)
{
	static const enum srv_runner_state states[] = {SRV_RUNNER_PENDING, SRV_RUNNER_SETUP,
						       SRV_RUNNER_READY, SRV_RUNNER_DRAINING,
						       SRV_RUNNER_TERMINATING};
	struct srv_apps *A = srv->apps;
	berth_buf_addstr(out, "# HELP berth_runners Runners by app and state.\n"
			      "# TYPE berth_runners gauge\n");
	pthread_mutex_lock(&A->mu);
	for (struct srv_app *a = A->list; a; a = a->next) {
		if (a->removed)
			continue;
		int n[7] = {0}, busy = 0;
		for (struct srv_runner *rn = a->runners; rn; rn = rn->next) {
			n[rn->state]++;
			busy += rn->state == SRV_RUNNER_READY && rn->inflight;
		}
		for (size_t i = 0; i < BERTH_ARRAY_SIZE(states); i++) {
			enum srv_runner_state s = states[i];
			if (s == SRV_RUNNER_READY) {
				berth_buf_addf(out, "berth_runners{app=\"%s\",state=\"IDLE\"} %d\n",
					       a->name, n[s] - busy);
				berth_buf_addf(out,
					       "berth_runners{app=\"%s\",state=\"RUNNING\"} %d\n",
					       a->name, busy);
			} else {
				berth_buf_addf(out, "berth_runners{app=\"%s\",state=\"%s\"} %d\n",
					       a->name, srv_runner_state_name(s, 0), n[s]);
			}
		}
	}
	pthread_mutex_unlock(&A->mu);
	berth_buf_addstr(out, "# HELP berth_queue_depth Requests waiting in the queue.\n"
			      "# TYPE berth_queue_depth gauge\n");
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db,
			       "SELECT app, count(*) FROM srv_requests WHERE state = 'IN_QUEUE' "
			       "GROUP BY app",
			       -1, &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW)
			berth_buf_addf(out, "berth_queue_depth{app=\"%s\"} %d\n",
				       (const char *)sqlite3_column_text(st, 0),
				       sqlite3_column_int(st, 1));
	sqlite3_finalize(st);
	srv_db_unlock(srv);
}

/* ------------------------------------------------------- start and stop */

int srv_apps_init(struct berth_srv *srv, struct berth_err **err)
{
	struct srv_apps *A = berth_xcalloc(1, sizeof(*A));
	pthread_mutex_init(&A->mu, NULL);
	pthread_cond_init(&A->cv, NULL);
	pthread_cond_init(&A->tick, NULL);
	srv->apps = A;
	struct berth_err *e = NULL;
	A->sdk_dir = berth_app_sdk_dir(&e);
	if (!A->sdk_dir) {
		berth_log_warn("SDK apps cannot run: %s", e->msg);
		berth_err_free(e);
	}
	/* Runners a killed server left: stop them; the supervisor starts what
	 * the apps need. */
	struct berth_runner_info *all = NULL;
	size_t n = 0;
	if (berth_runner_list(srv->home, &all, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (all[i].name && !strncmp(all[i].name, "srv.", 4)) {
				berth_runner_stop(srv->home, &all[i], 2, NULL);
				berth_runner_remove(srv->home, &all[i], true, NULL);
			}
			berth_runner_info_release(&all[i]);
		}
		free(all);
	}
	/* Every deployed app at its current revision. */
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	struct berth_strv names = BERTH_STRV_INIT;
	struct berth_strv revs = BERTH_STRV_INIT;
	if (sqlite3_prepare_v2(srv->db, "SELECT name, revision FROM srv_apps ORDER BY name", -1,
			       &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW) {
			berth_strv_push(&names, (const char *)sqlite3_column_text(st, 0));
			berth_strv_pushf(&revs, "%d", sqlite3_column_int(st, 1));
		}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	for (size_t i = 0; i < names.n; i++) {
		if (srv_apps_activate(srv, names.v[i], atoi(revs.v[i]), false, false, &e) < 0) {
			berth_log_warn("app '%s' not resumed: %s", names.v[i], e->msg);
			berth_err_free(e);
			e = NULL;
		}
	}
	berth_strv_release(&names);
	berth_strv_release(&revs);
	if (pthread_create(&A->supervisor, NULL, supervisor, srv) != 0)
		return berth_err_sys(err, errno, "start the supervisor thread");
	return 0;
}

void srv_apps_shutdown(struct berth_srv *srv)
{
	struct srv_apps *A = srv->apps;
	if (!A)
		return;
	pthread_mutex_lock(&A->mu);
	A->stop = true;
	for (struct srv_app *a = A->list; a; a = a->next)
		for (struct srv_runner *rn = a->runners; rn; rn = rn->next)
			rn->stop = true;
	pthread_cond_broadcast(&A->tick);
	pthread_cond_broadcast(&A->cv);
	pthread_mutex_unlock(&A->mu);
	pthread_join(A->supervisor, NULL);
	/* Runner threads stop their containers; wait for them. */
	pthread_mutex_lock(&A->mu);
	while (A->threads > 0)
		pthread_cond_wait(&A->cv, &A->mu);
	struct srv_app *a = A->list;
	while (a) {
		struct srv_app *next = a->next;
		rev_put(a->rev);
		free(a->name);
		free(a);
		a = next;
	}
	pthread_mutex_unlock(&A->mu);
	free(A->sdk_dir);
	pthread_mutex_destroy(&A->mu);
	pthread_cond_destroy(&A->cv);
	pthread_cond_destroy(&A->tick);
	free(A);
	srv->apps = NULL;
}
