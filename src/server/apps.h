/* Deployed apps, their runners, the router and the autoscaler (apps.c).
 * Internal to server/.
 *
 * Every deployed app has a current revision (its spec and built image) and
 * a list of runners. One supervisor thread looks after them every tick:
 * it starts runners when demand (requests in flight or waiting) needs more
 * than are up, probes their health through SETUP until they are ready,
 * stops idle ones after keep_alive (down to min_runners: zero by default),
 * replaces runners of old revisions (rolling: the new ones ready first) and
 * dead ones, with a growing back-off after failed starts. Requests take a
 * slot on a ready runner (at most max_multiplexing each) with
 * srv_apps_acquire() and give it back with srv_apps_release(). */
#ifndef BERTH_SERVER_APPS_H
#define BERTH_SERVER_APPS_H

#include "app/app.h"
#include "server/server_int.h"

enum srv_runner_state {
	SRV_RUNNER_PENDING, /* being created */
	SRV_RUNNER_SETUP,   /* started; health not answered yet */
	SRV_RUNNER_READY,   /* IDLE or RUNNING by its requests in flight */
	SRV_RUNNER_DRAINING,
	SRV_RUNNER_TERMINATING,
	SRV_RUNNER_TERMINATED,
	SRV_RUNNER_FAILED,
};
const char *srv_runner_state_name(enum srv_runner_state s, int inflight);

/* A slot on a runner, held for one request. */
/* Each runner of berth serve gets a random token, in its environment as
 * BERTH_RUNNER_TOKEN, and every request the server sends it (calls, queue
 * work, health checks) carries it in this header. The SDK's runner refuses
 * requests without it (403): the runner's port is on the host's loopback,
 * and this keeps callers other than the gateway (other containers, local
 * processes) from going around the app's keys. A server app of its own
 * gets the same and may check it. */
#define SRV_RUNNER_TOKEN_HEADER "x-berth-runner-token"
#define SRV_RUNNER_TOKEN_ENV    "BERTH_RUNNER_TOKEN"

struct srv_slot {
	char app[64];
	char runner[17];
	char token[33]; /* the runner's token (hex) */
	unsigned port;
	double cold_s; /* time spent waiting for a runner to start (0 when one was ready) */
};

enum srv_outcome {
	SRV_OK,          /* any answer from the app */
	SRV_RUNNER_BAD,  /* refused, reset, or 503: replace the runner */
	SRV_RUNNER_SLOW, /* request_timeout: recycle the runner */
};

int srv_apps_init(struct berth_srv *srv, struct berth_err **err);
/* Stop the supervisor and every runner (gracefully). */
void srv_apps_shutdown(struct berth_srv *srv);

/* Wait (up to timeout_ms; < 0 forever) for a free slot on a ready runner
 * of `app`, scaling up when none. NOT_FOUND for an app that is not
 * deployed, TIMEOUT when none came in time. With fail_fast (a caller that
 * is a person waiting, not the queue), UNAVAILABLE as soon as the app's
 * last SRV_FAIL_FAST_AFTER starts all failed and no runner is ready. */
#define SRV_FAIL_FAST_AFTER 3
int srv_apps_acquire(struct berth_srv *srv, const char *app, int64_t timeout_ms, bool fail_fast,
		     struct srv_slot *out, struct berth_err **err);
void srv_apps_release(struct berth_srv *srv, const struct srv_slot *slot, enum srv_outcome o);

/* The token of the runner with this id (SRV_RUNNER_TOKEN_HEADER); false
 * when no such runner runs. */
bool srv_apps_runner_token(struct berth_srv *srv, const char *runner, char token[33]);

/* The app's settings that requests need, copied out. */
struct srv_app_info {
	enum berth_app_auth auth;
	int64_t request_timeout_ms;
	int revision;
	int capacity; /* max_runners x max_multiplexing: requests it can run at once */
};
int srv_apps_info(struct berth_srv *srv, const char *app, struct srv_app_info *out,
		  struct berth_err **err);
/* A slot only if one is free now and no one waits for one (the relay's
 * fast path; a cold start or a wait is srv_apps_acquire's), with the
 * app's settings in *info (capacity not set). */
bool srv_apps_try_acquire(struct berth_srv *srv, const char *name, struct srv_app_info *info,
			  struct srv_slot *out);

/* Make `revision` of `app` (already stored in srv_revisions with its image)
 * current and roll it out: rolling (the new runners ready before the old
 * drain) or, with recreate, the old ones stopped at once. reset_scale drops
 * `berth apps scale` overrides. */
int srv_apps_activate(struct berth_srv *srv, const char *app, int revision, bool reset_scale,
		      bool recreate, struct berth_err **err);
/* Forget an app: stop its runners. */
void srv_apps_remove(struct berth_srv *srv, const char *app);
/* Change scaling overrides (JSON object of berth.yaml's scaling keys). */
int srv_apps_scale(struct berth_srv *srv, const char *app, const json_t *scaling,
		   struct berth_err **err);
/* The app's runners as JSON [{id, state, revision, port, inflight, ...}]. */
json_t *srv_apps_runners(struct berth_srv *srv, const char *app);
/* Stop one runner by id (it is replaced if the app still needs it). */
int srv_apps_stop_runner(struct berth_srv *srv, const char *id, struct berth_err **err);
/* Wake the supervisor (demand changed). */
void srv_apps_kick(struct berth_srv *srv);

/* --- shared by the request paths (api_run.c) --- */

/* The request's headers to forward ("Name: value"; hop-by-hop and
 * Authorization dropped), plus x-berth-request-id: id when absent. */
void srv_request_headers(const struct srv_req *rq, const char *id, struct berth_strv *out);
/* The app is deployed and the caller may call it; otherwise answers 404 or
 * 401 and returns false. */
bool srv_invoke_check(struct srv_req *rq, struct srv_resp *rs, const char *app,
		      struct srv_app_info *info);

#endif
