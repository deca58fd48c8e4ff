/* Blob uploads: HEAD to skip what the registry has, a cross-repository
 * mount, POST then a monolithic PUT, or POST, chunked PATCHes with
 * Content-Range (resynchronised from the session's Range after a 416, or
 * distribution's 500) and a closing PUT. */
#include "registry/registry_int.h"

#include <errno.h>
#include <inttypes.h>

/* One upload session. */
struct upload {
	struct berth_registry *r;
	const char *what;
	const char *digest;
	const struct berth_strv *scopes;
	int fd;
	int64_t size;
	char *location; /* absolute, with its query (distribution keeps state there) */
	int64_t chunk;  /* bytes per PATCH */
};

/* Why the upload should start over from a new session. */
static bool restartable(int rc, const struct berth__req *q)
{
	return rc == -BERTH_E_SYS || (rc == 0 && berth__reg_transient_status(q->status));
}

static int take_location(struct upload *u, const struct berth__req *q, struct berth_err **err)
{
	if (!q->hdr.location || !*q->hdr.location)
		return berth_err_set(err, BERTH_E_INVALID,
				     "registry '%s': %s: %s answered %ld without a Location",
				     u->r->host, u->what, q->method, q->status);
	/* Relative to the request that answered (RFC 9110); registries send
	 * absolute URLs or absolute paths in practice. */
	char *loc = berth__reg_resolve_against(q->url, q->hdr.location);
	free(u->location);
	u->location = loc;
	return 0;
}

static char *with_digest(const char *location, const char *digest)
{
	return berth_xasprintf("%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?',
			       digest);
}

/* POST /v2/<repo>/blobs/uploads/[?mount=&from=]: 201 (mounted: *done),
 * 202 (a session in u->location). `retry` set when starting over may help. */
static int upload_open(struct upload *u, const char *repo, const char *mount_from, bool *done,
		       bool *retry, struct berth_err **err)
{
	*done = *retry = false;
	char *url;
	if (mount_from)
		url = berth_xasprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", u->r->origin,
				      repo, u->digest, mount_from);
	else
		url = berth_xasprintf("%s/v2/%s/blobs/uploads/", u->r->origin, repo);
	struct berth__req q;
	berth__req_init(&q, u->what, "POST", url);
	q.scopes = u->scopes;
	q.content_type = "application/octet-stream";
	int rc = berth__reg_do(u->r, &q, err);
	if (rc == 0 && mount_from && q.status == 201) {
		*done = true;
	} else if (rc == 0 && q.status == 202) {
		rc = take_location(u, &q, err);
		/* OCI-Chunk-Min-Length: the registry's smallest PATCH. */
		if (rc == 0 && q.hdr.chunk_min) {
			long long min = strtoll(q.hdr.chunk_min, NULL, 10);
			if (min > u->chunk && min <= (long long)BERTH_REGISTRY_MONOLITHIC_MAX)
				u->chunk = min;
		}
	} else if (rc == 0 && mount_from) {
		/* A mount the registry will not do is no reason to fail: the
		 * caller uploads instead. */
		rc = 1;
	} else if (rc == 0) {
		*retry = berth__reg_transient_status(q.status);
		rc = berth__reg_status_error(u->r, &q, err);
	} else {
		*retry = rc == -BERTH_E_SYS;
	}
	berth__req_release(&q);
	return rc;
}

/* The upload session's Range ("0-N"): how many bytes it holds. */
static int upload_status(struct upload *u, int64_t *have, struct berth_err **err)
{
	struct berth__req q;
	berth__req_init(&q, u->what, "GET", berth_xstrdup(u->location));
	q.scopes = u->scopes;
	int rc = berth__reg_do(u->r, &q, err);
	if (rc == 0 && q.status != 204 && q.status != 200)
		rc = berth__reg_status_error(u->r, &q, err);
	if (rc == 0) {
		const char *range = q.hdr.range ? strrchr(q.hdr.range, '-') : NULL;
		char *end;
		long long last = range ? strtoll(range + 1, &end, 10) : -1;
		if (!range || end == range + 1 || last < 0 || last >= u->size)
			rc = berth_err_set(err, BERTH_E_INVALID,
					   "registry '%s': %s: upload status has no usable Range "
					   "('%s')",
					   u->r->host, u->what, q.hdr.range ? q.hdr.range : "");
		else
			/* "0-0" means both "empty" and "one byte" to distribution;
			 * resending from 0 is the safe reading. */
			*have = last == 0 ? 0 : last + 1;
		if (rc == 0 && q.hdr.location)
			rc = take_location(u, &q, err);
	}
	berth__req_release(&q);
	return rc;
}

/* PUT <location>&digest=<d> with the bytes [off, size) (none for chunked). */
static int upload_close(struct upload *u, int64_t off, bool *retry, struct berth_err **err)
{
	struct berth__req q;
	berth__req_init(&q, u->what, "PUT", with_digest(u->location, u->digest));
	q.scopes = u->scopes;
	q.content_type = "application/octet-stream";
	q.fd = u->fd;
	q.off = off;
	q.fd_len = u->size - off;
	/* A PUT that failed half-way has fed the session part of the bytes:
	 * starting over from a new session is the only safe retry. */
	q.no_retry = true;
	int rc = berth__reg_do(u->r, &q, err);
	*retry = restartable(rc, &q);
	if (rc == 0 && q.status != 201 && q.status != 204 && q.status != 200)
		rc = berth__reg_status_error(u->r, &q, err);
	if (rc == 0 && q.hdr.digest && strcmp(q.hdr.digest, u->digest) != 0)
		rc = berth_err_set(err, BERTH_E_INVALID,
				   "registry '%s': %s: the registry stored the blob as '%.80s'",
				   u->r->host, u->what, q.hdr.digest);
	berth__req_release(&q);
	return rc;
}

/* PATCHes of u->chunk bytes from offset 0, resynchronising from the
 * session's Range when the registry lost track. */
static int upload_chunks(struct upload *u, bool *retry, struct berth_err **err)
{
	int64_t off = 0;
	int resyncs = 0;
	while (off < u->size) {
		int64_t len = u->size - off < u->chunk ? u->size - off : u->chunk;
		struct berth__req q;
		berth__req_init(&q, u->what, "PATCH", berth_xstrdup(u->location));
		q.scopes = u->scopes;
		q.content_type = "application/octet-stream";
		q.content_range = berth_xasprintf("%" PRId64 "-%" PRId64, off, off + len - 1);
		q.fd = u->fd;
		q.off = off;
		q.fd_len = len;
		q.no_retry = true;
		struct berth_err *e = NULL;
		int rc = berth__reg_do(u->r, &q, &e);
		bool lost = (rc == -BERTH_E_SYS) ||
			    (rc == 0 && (q.status == 416 || berth__reg_transient_status(q.status)));
		if (rc == 0 && q.status == 202) {
			rc = take_location(u, &q, err);
			berth__req_release(&q);
			if (rc < 0)
				return rc;
			off += len;
			continue;
		}
		if (lost && resyncs < BERTH_REGISTRY_RETRIES) {
			/* 416 per the spec, 500 from distribution, or a broken
			 * connection: ask the session how much it has. */
			resyncs++;
			berth__sleep_ms(berth__reg_backoff_ms(resyncs - 1, q.hdr.retry_after));
			berth__req_release(&q);
			berth_err_free(e);
			int64_t have = 0;
			if (upload_status(u, &have, err) < 0) {
				*retry = true;
				return -BERTH_E_SYS;
			}
			off = have;
			continue;
		}
		if (rc == 0)
			rc = berth__reg_status_error(u->r, &q, err);
		else if (err && !*err)
			*err = steal_pointer(&e);
		berth_err_free(e);
		*retry = lost;
		berth__req_release(&q);
		return rc;
	}
	return upload_close(u, u->size, retry, err);
}

int berth_registry_push_blob(struct berth_registry *r, const char *repo, const char *digest,
			     int64_t size, int fd, const char *mount_from, bool *uploaded,
			     struct berth_err **err)
{
	if (uploaded)
		*uploaded = false;
	int rc = berth__reg_check_repo(repo, err);
	if (rc < 0 || (rc = berth__reg_check_digest(digest, err)) < 0)
		return rc;
	if (mount_from && (rc = berth__reg_check_repo(mount_from, err)) < 0) {
		berth_err_prefix(err, "mount source");
		return rc;
	}
	if (size < 0 || fd < 0)
		return berth_err_set(err, BERTH_E_INVALID,
				     "registry '%s': push '%s': blob '%s' needs a file and a size",
				     r->host, repo, digest);
	if (mount_from && strcmp(mount_from, repo) == 0)
		mount_from = NULL;

	_cleanup_free_ char *what = berth_xasprintf("push '%s' blob '%s'", repo, digest);
	/* One token for the whole upload: push here, and pull on the mount
	 * source (registries check both on the mount POST). */
	struct berth_strv _cleanup_strv_ scopes = BERTH_STRV_INIT;
	berth_strv_pushf(&scopes, "repository:%s:pull,push", repo);
	if (mount_from)
		berth_strv_pushf(&scopes, "repository:%s:pull", mount_from);

	struct berth_err *e = NULL;
	rc = berth__blob_head(r, repo, digest, &scopes, what, NULL, &e);
	if (rc == 0)
		return 0; /* already there */
	if (rc != -BERTH_E_NOT_FOUND) {
		if (err && !*err)
			*err = e;
		else
			berth_err_free(e);
		return rc;
	}
	berth_err_free(e);

	struct upload u = {
	    .r = r,
	    .what = what,
	    .digest = digest,
	    .scopes = &scopes,
	    .fd = fd,
	    .size = size,
	    .chunk = BERTH_REGISTRY_CHUNK,
	};
	for (int attempt = 0;; attempt++) {
		bool done = false, retry = false;
		struct berth_err *ae = NULL;
		rc = 1;
		if (mount_from && attempt == 0) {
			rc = upload_open(&u, repo, mount_from, &done, &retry, &ae);
			if (rc == 0 && done) {
				free(u.location);
				return 0;
			}
			if (rc < 0)
				berth_err_free(steal_pointer(&ae));
		}
		if (rc != 0)
			rc = upload_open(&u, repo, NULL, &done, &retry, &ae);
		if (rc == 0)
			rc = size <= (int64_t)BERTH_REGISTRY_MONOLITHIC_MAX
				 ? upload_close(&u, 0, &retry, &ae)
				 : upload_chunks(&u, &retry, &ae);
		if (rc == 0) {
			free(u.location);
			if (uploaded)
				*uploaded = true;
			return 0;
		}
		if (!retry || attempt >= BERTH_REGISTRY_RETRIES) {
			free(u.location);
			if (err && !*err)
				*err = ae;
			else
				berth_err_free(ae);
			return rc;
		}
		berth_err_free(ae);
		berth__sleep_ms(berth__reg_backoff_ms(attempt, NULL));
	}
}
