/* Parallel blob downloads on curl multi: up to BERTH_REGISTRY_PARALLEL
 * transfers, each streamed to its job's sink while its SHA-256 and size are
 * checked, reset and retried on a mismatch or a transient failure, and
 * redirected to storage without the registry's credentials. */
#include "registry/registry_int.h"

#include <errno.h>
#include <inttypes.h>

enum jx_state { JX_QUEUED, JX_ACTIVE, JX_WAITING, JX_DONE };

/* One job's transfer state. */
struct jx {
	struct berth_blob_job *job;
	char *what;          /* "pull 'repo@sha256:...'" */
	struct berth__req q; /* url (the current hop), response headers, error body */
	struct berth__xfer x;
	CURL *easy;
	enum jx_state state;
	struct berth_sha256 h;
	int attempt; /* retries used */
	int redirects;
	unsigned auth_gen; /* the token generation this transfer was sent with */
	long retry_at;     /* ms on the monotonic clock */
	bool too_long;     /* more bytes than the descriptor says */
	struct berth_err *sink_err;
};

struct fetch {
	struct berth_registry *r;
	const char *repo;
	struct berth_strv scopes;
	char *auth;        /* Authorization line for the registry origin, or NULL */
	unsigned auth_gen; /* bumped when the token is renewed after a 401 */
	CURLM *multi;
	size_t active;
	unsigned long started; /* transfers added to multi, ever */
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_redirect(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

static size_t blob_write(char *p, size_t size, size_t nitems, void *ud)
{
	struct jx *j = ud;
	size_t n = size * nitems;
	long status = 0;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		/* An error or redirect body: kept (capped) for the message. */
		berth_buf_add(&j->q.body, p, n);
		return n;
	}
	struct berth_blob_job *job = j->job;
	if (job->size >= 0 && (int64_t)n > job->size - job->received) {
		j->too_long = true;
		return 0;
	}
	berth_sha256_update(&j->h, p, n);
	if (job->sink(job->ctx, p, n, &j->sink_err) < 0) {
		if (!j->sink_err)
			berth_err_set(&j->sink_err, BERTH_E_INTERNAL, "the blob sink failed");
		return 0;
	}
	job->received += (int64_t)n;
	return n;
}

static void jx_start(struct fetch *f, struct jx *j)
{
	berth__req_reset_response(&j->q);
	j->too_long = false;
	if (!j->easy) {
		j->easy = curl_easy_init();
		if (!j->easy)
			berth_oom();
	} else {
		curl_easy_reset(j->easy);
	}
	berth_sha256_release(&j->h);
	berth_sha256_init(&j->h);
	j->x = (struct berth__xfer){.r = f->r, .q = &j->q};
	/* Credentials go to the registry only, never to the storage a blob
	 * GET may be redirected to (S3 and friends reject or log them). */
	const char *auth = berth__reg_same_origin(f->r, j->q.url) ? f->auth : NULL;
	j->auth_gen = f->auth_gen;
	berth__xfer_setup(&j->x, j->easy, auth);
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, blob_write);
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_PIPEWAIT, 1L);
	if (curl_multi_add_handle(f->multi, j->easy) != CURLM_OK)
		berth_oom(); /* only fails on out-of-memory or misuse */
	j->state = JX_ACTIVE;
	f->active++;
	f->started++;
}

static void jx_done(struct jx *j, struct berth_err *e)
{
	berth_sha256_release(&j->h);
	j->job->result = e ? -(int)e->code : 0;
	j->job->err = e;
	j->state = JX_DONE;
}

__attribute__((format(printf, 4, 5))) static void
jx_fail(struct fetch *f, struct jx *j, enum berth_err_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = berth_xvasprintf(fmt, ap);
	va_end(ap);
	struct berth_err *e = NULL;
	berth_err_set(&e, code, "registry '%s': %s: %s", f->r->host, j->what, msg);
	jx_done(j, e);
}

/* Discard what the sink has and schedule another try, or fail with `why`
 * once the retries are spent. */
__attribute__((format(printf, 4, 5))) static void
jx_retry(struct fetch *f, struct jx *j, enum berth_err_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *why = berth_xvasprintf(fmt, ap);
	va_end(ap);
	struct berth_blob_job *job = j->job;
	if (j->attempt >= BERTH_REGISTRY_RETRIES) {
		jx_fail(f, j, code, "%s (gave up after %d tries)", why, j->attempt + 1);
		return;
	}
	if (job->received > 0 && !job->reset) {
		jx_fail(f, j, code, "%s (the download cannot be restarted)", why);
		return;
	}
	if (job->reset) {
		struct berth_err *e = NULL;
		if (job->reset(job->ctx, &e) < 0) {
			if (!e)
				berth_err_set(&e, BERTH_E_INTERNAL,
					      "the blob sink failed to reset");
			berth_err_prefix(&e, "registry '%s': %s: after '%s'", f->r->host, j->what,
					 why);
			jx_done(j, e);
			return;
		}
	}
	job->received = 0;
	berth_sha256_release(&j->h);
	/* Start over at the registry: a storage URL may have expired. */
	free(j->q.url);
	j->q.url = berth__reg_url(f->r, f->repo, "blobs", job->digest);
	j->redirects = 0;
	j->retry_at = now_ms() + berth__reg_backoff_ms(j->attempt, j->q.hdr.retry_after);
	j->attempt++;
	j->state = JX_WAITING;
}

/* A 401 from the registry: renew the token once per generation (other
 * transfers may have been sent with the same stale one). */
static int renew_auth(struct fetch *f, struct jx *j, struct berth_err **err)
{
	if (j->auth_gen != f->auth_gen)
		return 0; /* someone renewed it already */
	berth__auth_forget(f->r, &f->scopes);
	berth__auth_learn(f->r, &j->q.hdr.www_authenticate, &f->scopes);
	berth__auth_forget(f->r, &f->scopes);
	char *auth = NULL;
	int rc = berth__auth_header(f->r, &f->scopes, j->what, &auth, err);
	if (rc < 0)
		return rc;
	if (f->auth)
		explicit_bzero(f->auth, strlen(f->auth));
	free(f->auth);
	f->auth = auth;
	f->auth_gen++;
	return 0;
}

static void jx_finish(struct fetch *f, struct jx *j, CURLcode c)
{
	curl_multi_remove_handle(f->multi, j->easy);
	berth__xfer_cleanup(&j->x);
	f->active--;
	long status = 0;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	j->q.status = status;
	struct berth_blob_job *job = j->job;

	if (j->sink_err) {
		struct berth_err *e = steal_pointer(&j->sink_err);
		berth_err_prefix(&e, "registry '%s': %s", f->r->host, j->what);
		jx_done(j, e);
		return;
	}
	if (j->too_long) {
		jx_retry(f, j, BERTH_E_INVALID,
			 "the registry sent more than the %" PRId64 " bytes the descriptor gives",
			 job->size);
		return;
	}
	if (c != CURLE_OK) {
		if (berth__reg_transient_curl(c)) {
			_cleanup_free_ char *detail = berth__reg_curl_detail(c, j->x.errbuf);
			jx_retry(f, j, BERTH_E_SYS, "%s", detail);
		} else {
			struct berth_err *e = NULL;
			berth__reg_curl_error(f->r, &j->q, c, j->x.errbuf, &e);
			jx_done(j, e);
		}
		return;
	}
	bool ours = berth__reg_same_origin(f->r, j->q.url);
	if (is_redirect(status) && j->q.hdr.location) {
		if (++j->redirects > BERTH__REG_MAX_REDIRECTS) {
			jx_fail(f, j, BERTH_E_SYS, "more than %d redirects",
				BERTH__REG_MAX_REDIRECTS);
			return;
		}
		char *next = berth__reg_resolve_against(j->q.url, j->q.hdr.location);
		free(j->q.url);
		j->q.url = next;
		jx_start(f, j);
		return;
	}
	if (status == 401 && ours && j->auth_gen == f->auth_gen && f->auth_gen == 0) {
		struct berth_err *e = NULL;
		if (renew_auth(f, j, &e) < 0) {
			jx_done(j, e);
			return;
		}
		jx_start(f, j);
		return;
	}
	if (status == 401 && ours && j->auth_gen != f->auth_gen) {
		jx_start(f, j); /* renewed since this one was sent */
		return;
	}
	if (status == 200) {
		if (job->size >= 0 && job->received != job->size) {
			jx_retry(f, j, BERTH_E_INVALID,
				 "the registry sent %" PRId64 " of the %" PRId64 " bytes",
				 job->received, job->size);
			return;
		}
		char got[BERTH_DIGEST_LEN + 1];
		berth_sha256_final_digest(&j->h, got);
		if (strcmp(got, job->digest) != 0) {
			jx_retry(f, j, BERTH_E_INVALID, "the blob served hashes to '%s'", got);
			return;
		}
		jx_done(j, NULL);
		return;
	}
	if (berth__reg_transient_status(status)) {
		jx_retry(f, j, BERTH_E_SYS, "HTTP %ld", status);
		return;
	}
	struct berth_err *e = NULL;
	berth__reg_status_error(f->r, &j->q, &e);
	jx_done(j, e);
}

static void jx_release(struct jx *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	berth__req_release(&j->q);
	berth_sha256_release(&j->h);
	berth_err_free(j->sink_err);
	free(j->what);
}

/* Give every job a copy of e (nothing was started). */
static void fail_all(struct berth_blob_job *jobs, size_t n, const struct berth_err *e)
{
	for (size_t i = 0; i < n; i++) {
		berth_err_set(&jobs[i].err, e->code, "%s", e->msg);
		jobs[i].result = -(int)e->code;
	}
}

static int fetch_loop(struct fetch *f, struct jx *jx, struct berth_blob_job *jobs, size_t n,
		      berth_progress_fn progress, void *progress_ctx)
{
	size_t next = 0;
	long last_progress = 0;
	for (;;) {
		long now = now_ms();
		bool waiting = false;
		for (size_t i = 0; i < n; i++) {
			if (jx[i].state != JX_WAITING)
				continue;
			if (jx[i].retry_at <= now && f->active < BERTH_REGISTRY_PARALLEL)
				jx_start(f, &jx[i]);
			else
				waiting = true;
		}
		for (; next < n && f->active < BERTH_REGISTRY_PARALLEL; next++)
			if (jx[next].state == JX_QUEUED)
				jx_start(f, &jx[next]);
		while (next < n && jx[next].state != JX_QUEUED)
			next++;
		if (!f->active && !waiting && next >= n)
			break;

		int running;
		unsigned long started = f->started;
		CURLMcode mc = curl_multi_perform(f->multi, &running);
		if (mc != CURLM_OK)
			return -(int)mc;
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(f->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct jx *j = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			jx_finish(f, j, m->data.result);
		}
		now = now_ms();
		if (progress && now - last_progress >= BERTH__REG_PROGRESS_MS) {
			last_progress = now;
			progress(progress_ctx, jobs, n);
		}
		/* A transfer restarted just now (a redirect, a renewed token)
		 * needs curl_multi_perform before its socket can be polled. */
		if (f->started != started)
			continue;
		if (next < n && f->active < BERTH_REGISTRY_PARALLEL)
			continue; /* a slot came free: start the next job first */
		long timeout = 1000;
		bool retries = false;
		for (size_t i = 0; i < n; i++) {
			if (jx[i].state != JX_WAITING)
				continue;
			retries = true;
			/* A due retry waits for a free slot when all are busy. */
			if (f->active < BERTH_REGISTRY_PARALLEL && jx[i].retry_at - now < timeout)
				timeout = jx[i].retry_at - now;
		}
		if (!f->active && !retries)
			continue; /* the top of the loop starts the next or ends */
		if (timeout > 0) {
			mc = curl_multi_poll(f->multi, NULL, 0, (int)timeout, NULL);
			if (mc != CURLM_OK)
				return -(int)mc;
		}
	}
	return 0;
}

int berth_registry_fetch_blobs(struct berth_registry *r, const char *repo,
			       struct berth_blob_job *jobs, size_t n, berth_progress_fn progress,
			       void *progress_ctx, struct berth_err **err)
{
	for (size_t i = 0; i < n; i++) {
		jobs[i].received = 0;
		jobs[i].result = 0;
		jobs[i].err = NULL;
	}
	if (!n)
		return 0;
	struct berth_err *e = NULL;
	int rc = berth__reg_check_repo(repo, &e);
	_cleanup_free_ char *what = berth_xasprintf("pull '%s'", repo ? repo : "");
	struct fetch f = {.r = r, .repo = repo};
	if (rc == 0)
		rc = berth__reg_ready(r, what, &e);
	if (rc == 0) {
		berth_strv_pushf(&f.scopes, "repository:%s:pull", repo);
		rc = berth__auth_header(r, &f.scopes, what, &f.auth, &e);
	}
	if (rc < 0) {
		fail_all(jobs, n, e);
		berth_err_free(e);
		berth_strv_release(&f.scopes);
		return berth_err_set(err, jobs[0].err->code, "%s", jobs[0].err->msg);
	}

	f.multi = curl_multi_init();
	if (!f.multi)
		berth_oom();
	struct jx *jx = berth_xcalloc(n, sizeof(*jx));
	for (size_t i = 0; i < n; i++) {
		struct jx *j = &jx[i];
		j->job = &jobs[i];
		j->what =
		    berth_xasprintf("pull '%s@%s'", repo, jobs[i].digest ? jobs[i].digest : "");
		berth__req_init(&j->q, j->what, "GET", NULL);
		if (!jobs[i].sink) {
			jx_fail(&f, j, BERTH_E_INVALID, "the download job has no sink");
			continue;
		}
		struct berth_err *de = NULL;
		if (berth__reg_check_digest(jobs[i].digest, &de) < 0) {
			berth_err_prefix(&de, "registry '%s': %s", r->host, what);
			jx_done(j, de);
			continue;
		}
		j->q.url = berth__reg_url(r, repo, "blobs", jobs[i].digest);
		j->q.follow = true;
		j->q.max = BERTH_REGISTRY_ERROR_MAX;
		j->state = JX_QUEUED;
	}

	int lrc = fetch_loop(&f, jx, jobs, n, progress, progress_ctx);
	if (lrc < 0) {
		struct berth_err *le = NULL;
		berth_err_set(&le, BERTH_E_INTERNAL, "registry '%s': %s: curl multi: %s", r->host,
			      what, curl_multi_strerror((CURLMcode)-lrc));
		for (size_t i = 0; i < n; i++) {
			if (jx[i].state == JX_DONE)
				continue;
			if (jx[i].state == JX_ACTIVE)
				curl_multi_remove_handle(f.multi, jx[i].easy);
			struct berth_err *je = NULL;
			berth_err_set(&je, le->code, "%s", le->msg);
			jx_done(&jx[i], je);
		}
		berth_err_free(le);
	}
	if (progress)
		progress(progress_ctx, jobs, n);

	for (size_t i = 0; i < n; i++)
		jx_release(&jx[i]);
	free(jx);
	curl_multi_cleanup(f.multi);
	if (f.auth) {
		explicit_bzero(f.auth, strlen(f.auth));
		free(f.auth);
	}
	berth_strv_release(&f.scopes);

	for (size_t i = 0; i < n; i++)
		if (jobs[i].result < 0 && jobs[i].err)
			return berth_err_set(err, jobs[i].err->code, "%s", jobs[i].err->msg);
	return 0;
}
