/* registry/ — the OCI distribution client on libcurl: the /v2/ ping, auth
 * challenges (Basic, Bearer token flow with a per-scope token cache),
 * credentials from the command/app, `berth login`, ~/.docker/config.json
 * and the containers auth.json, manifests, parallel blob downloads (curl
 * multi) and uploads (HEAD, cross-repo mount, POST+PUT, chunked PATCH).
 * Protocol notes: ../shared/reference/oci-registry-runtime.md §2-3. */
#ifndef BERTH_REGISTRY_H
#define BERTH_REGISTRY_H

#include "common/common.h"
#include "image/image.h"

#include <stdbool.h>
#include <stdint.h>

#define BERTH_REGISTRY_TOKEN_MAX      (64u << 10) /* a token response */
#define BERTH_REGISTRY_ERROR_MAX      (64u << 10) /* an error body we read */
#define BERTH_REGISTRY_CHUNK          (16u << 20) /* PATCH chunk for large blobs */
#define BERTH_REGISTRY_MONOLITHIC_MAX (64u << 20) /* above: chunked upload */
#define BERTH_REGISTRY_RETRIES        4           /* transient failures per request */
#define BERTH_REGISTRY_PARALLEL       4           /* blob downloads at once */

/* ----------------------------------------------------------- credentials */

struct berth_cred {
	char *username; /* NULL: anonymous */
	char *password;
};

void berth_cred_release(struct berth_cred *c);

/* Where credentials come from, tried in this order. */
struct berth_cred_source {
	/* 1. the command or the app: {"host": {"username": u, "password": p}}
	 *    (values already resolved; "$NAME" lookups happen before). */
	const json_t *registries;
	/* 2. `berth login` entries in <home>/auth.json (mode 0600). */
	const char *home;
	/* 3./4. ~/.docker/config.json, then ${XDG_RUNTIME_DIR}/containers/auth.json
	 *    and ~/.config/containers/auth.json. NULL: $HOME. */
	const char *user_home;
};

/* Find credentials for `host` (as in a reference: "docker.io",
 * "127.0.0.1:5000"). Docker Hub's key "https://index.docker.io/v1/",
 * "index.docker.io" and "registry-1.docker.io" all mean docker.io. Fills
 * *out (anonymous when nothing matches) and *origin (borrowed static text:
 * "the app's registries", "berth login", "~/.docker/config.json", ...). */
int berth_creds_lookup(const struct berth_cred_source *src, const char *host,
		       struct berth_cred *out, const char **origin, struct berth_err **err);

/* `berth login` / `berth logout`: <home>/auth.json in the containers
 * auth.json format, written atomically with mode 0600. */
int berth_login_save(const char *home, const char *host, const char *username, const char *password,
		     struct berth_err **err);
int berth_login_remove(const char *home, const char *host, struct berth_err **err);

/* True for hosts berth talks plain HTTP to without being told:
 * localhost, 127.0.0.0/8, [::1] (any port). */
bool berth_registry_host_is_local(const char *host);

/* -------------------------------------------------------------- sessions */

struct berth_registry_opts {
	bool insecure;          /* plain HTTP (automatic for local hosts) */
	struct berth_cred cred; /* borrowed; username NULL = anonymous */
	const char *user_agent; /* NULL: "berth/<version>" */
};

/* One session with one registry host (API host, e.g. registry-1.docker.io).
 * Not thread-safe; downloads run in parallel inside one call. */
struct berth_registry;

int berth_registry_new(const char *host, const struct berth_registry_opts *opts,
		       struct berth_registry **out, struct berth_err **err);
void berth_registry_free(struct berth_registry *r);

/* GET /v2/: checks that the registry answers and the credentials work.
 * A wrong password is BERTH_E_AUTH naming the registry and the fix. */
int berth_registry_ping(struct berth_registry *r, struct berth_err **err);

/* GET a manifest or index by tag or digest, with the full Accept list.
 * When `ref` is a digest the body must hash to it, and to the answer's
 * Docker-Content-Digest when that is a sha256 digest. *media_type: free().
 * digest: the body's sha256. Body capped at BERTH_MANIFEST_MAX (image.h). */
int berth_registry_get_manifest(struct berth_registry *r, const char *repo, const char *ref,
				struct berth_buf *body, char **media_type,
				char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err);

/* HEAD a blob: 0 and *size when present, -BERTH_E_NOT_FOUND when not. */
int berth_registry_blob_exists(struct berth_registry *r, const char *repo, const char *digest,
			       int64_t *size, struct berth_err **err);

/* One blob to download. The client streams bytes to `sink` as they arrive
 * (from several transfers at once, but never two calls for one job at the
 * same time) and verifies the digest and size itself; on a mismatch or
 * a transfer error it calls `reset` (the sink must discard what it has)
 * before a retry, or fails the job. */
struct berth_blob_job {
	const char *digest;
	int64_t size; /* from the descriptor; -1 if unknown */
	int (*sink)(void *ctx, const void *data, size_t len, struct berth_err **err);
	int (*reset)(void *ctx, struct berth_err **err);
	void *ctx;
	/* out */
	int64_t received;
	int result;            /* 0 or a negative code */
	struct berth_err *err; /* owned by the caller after the call */
};

/* Progress: called from the calling thread, at most a few times a second. */
typedef void (*berth_progress_fn)(void *ctx, const struct berth_blob_job *jobs, size_t n);

/* Download all jobs, up to BERTH_REGISTRY_PARALLEL at once. Returns 0 when
 * every job succeeded, else the first job's error (each job keeps its own). */
int berth_registry_fetch_blobs(struct berth_registry *r, const char *repo,
			       struct berth_blob_job *jobs, size_t n, berth_progress_fn progress,
			       void *progress_ctx, struct berth_err **err);

/* Upload one blob read from fd (size bytes, digest known): skipped when the
 * registry has it; mounted from `mount_from` (another repository on the
 * same registry) when given and possible; else POST+PUT, or POST then
 * chunked PATCHes and a closing PUT above BERTH_REGISTRY_MONOLITHIC_MAX.
 * *uploaded (may be NULL): false when skipped or mounted. */
int berth_registry_push_blob(struct berth_registry *r, const char *repo, const char *digest,
			     int64_t size, int fd, const char *mount_from, bool *uploaded,
			     struct berth_err **err);

/* PUT a manifest under `ref` (tag or digest) with Content-Type media_type. */
int berth_registry_put_manifest(struct berth_registry *r, const char *repo, const char *ref,
				const void *data, size_t len, const char *media_type,
				struct berth_err **err);

/* ------------------------------------------------------ pull and push */

/* Pull and push move images between a registry and the store (image.h);
 * they live here because the registry module depends on the image module. */

typedef void (*berth_status_fn)(void *ctx, const char *line);

struct berth_transfer_opts {
	const struct berth_cred_source *creds; /* NULL: anonymous only */
	const struct berth_strv *insecure;     /* hosts allowed over plain HTTP */
	const char *os, *arch;                 /* NULL: linux, amd64 */
	berth_progress_fn progress;            /* per-blob bytes (may be NULL) */
	berth_status_fn status;                /* one line per step (may be NULL) */
	void *ctx;                             /* for both callbacks */
};

/* Pull `ref` into the store: manifest (the platform's, from an index),
 * config, layers downloaded in parallel and verified, each layer unpacked
 * under layers/<chain-id> (DiffIDs checked against the config), then the
 * tag. Blobs and layers already present are reused. Interrupted pulls leave
 * only temp files that the next store open removes. *out: the tag entry. */
int berth_pull(struct berth_store *s, const char *ref, const struct berth_transfer_opts *o,
	       struct berth_image_entry *out, struct berth_err **err);

/* Unpack the layers of a stored image that are not unpacked yet. */
int berth_image_unpack(struct berth_store *s, const char *manifest_digest, berth_status_fn status,
		       void *ctx, struct berth_err **err);

/* Push the local image `local` (a name in the store) to `remote` (a
 * reference; NULL: the same name). Blobs the registry has are skipped. */
int berth_push(struct berth_store *s, const char *local, const char *remote,
	       const struct berth_transfer_opts *o, struct berth_err **err);

/* ----------------------------------------------------------- downloads */

/* The most `berth_http_download` fetches (ADD <url>). */
#define BERTH_DOWNLOAD_MAX (8ll << 30)

struct berth_download {
	char digest[BERTH_DIGEST_LEN + 1]; /* sha256 of the body */
	int64_t size;
	int64_t mtime;  /* Last-Modified as unix seconds, or -1 */
	char *filename; /* the last segment of the final URL's path, or NULL */
};

/* GET an http(s) URL (redirects followed, up to 10) into fd, hashing the
 * body. A status >= 400, a stall or a body over BERTH_DOWNLOAD_MAX is an
 * error naming the URL. Release out with berth_download_release(). */
int berth_http_download(const char *url, int fd, struct berth_download *out,
			struct berth_err **err);
void berth_download_release(struct berth_download *d);

#endif
