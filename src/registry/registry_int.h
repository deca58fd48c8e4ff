/* Internals shared by the files of registry/: the session, its auth state and
 * token cache, WWW-Authenticate parsing, base64, and the one request layer
 * every call goes through. Included by nothing outside the module. */
#ifndef BERTH_REGISTRY_INT_H
#define BERTH_REGISTRY_INT_H

#include "registry/registry.h"

#include "registry/curl_api.h"

/* curl_global_init once per process. */
int berth__reg_curl_init(struct berth_err **err);
#include <time.h>

/* Named limits and timings of the client. */
#define BERTH__REG_MAX_REDIRECTS   5    /* blob GETs that point elsewhere */
#define BERTH__REG_BACKOFF_MS      250  /* first retry delay; doubles */
#define BERTH__REG_RETRY_AFTER_MAX 60   /* seconds we honour in Retry-After */
#define BERTH__REG_CONNECT_TIMEOUT 30   /* seconds */
#define BERTH__REG_STALL_SECONDS   60   /* a transfer below 1 byte/s this long fails */
#define BERTH__REG_TOKEN_MIN_LIFE  60   /* containers/image minimumTokenLifetimeSeconds */
#define BERTH__REG_TOKEN_MARGIN    15   /* seconds before expiry a token is renewed */
#define BERTH__REG_TOKEN_CACHE     16   /* scope sets remembered per session */
#define BERTH__REG_HEADER_MAX      8192 /* one response header value we keep */
#define BERTH__REG_HOST_MAX        255
#define BERTH__REG_PROGRESS_MS     250 /* progress callbacks at most this often */
#define BERTH__REG_CHALLENGE_SHOWN 200 /* header bytes quoted in a parse error */
#define BERTH__REG_DETAIL_SHOWN    300 /* error "detail" bytes quoted in a message */
#define BERTH__REG_USER_AGENT      "berth/" BERTH__REG_VERSION

/* The CLI owns the version string (cli/cli.h); the library only needs it for
 * the User-Agent, so it takes the same build-time define. */
#ifdef BERTH_VERSION
#define BERTH__REG_VERSION BERTH_VERSION
#else
#define BERTH__REG_VERSION "0.1.0-dev"
#endif

/* ------------------------------------------------------------ base64, creds */

/* Decode standard base64 (berth_base64_encode in common/ encodes) (missing padding is added;
 * surrounding whitespace ignored). Returns a new NUL-terminated buffer (free()) and its length, or
 * NULL when the text is not base64. */
unsigned char *berth__base64_decode(const char *text, size_t *len);

/* Normalise an auth-file key or a host the way containers/image does:
 * strip "http://" / "https://" and any path, lower-case the host, and fold
 * Docker Hub's aliases ("index.docker.io", "registry-1.docker.io",
 * "https://index.docker.io/v1/") to "docker.io". Returns a new string. */
char *berth__creds_normalize(const char *key);

/* ------------------------------------------------------ WWW-Authenticate */

/* One challenge of a WWW-Authenticate header (RFC 7235). */
struct berth__challenge {
	char *scheme;             /* lower-case: "basic", "bearer", ... */
	struct berth_strv params; /* "key=value", keys lower-case, values unquoted */
	char *token68;            /* the rare token68 form, or NULL */
};

/* Parse one header value and append its challenges to *list / *n (so
 * several WWW-Authenticate headers can be collected). Schemes and parameter
 * names are case-insensitive; values may be tokens or quoted strings with
 * backslash escapes; commas separate parameters and challenges alike.
 * Errors: BERTH_E_INVALID quoting the header; *list keeps what was parsed
 * before. Free with berth__challenges_free(). */
int berth__challenges_parse(const char *header, struct berth__challenge **list, size_t *n,
			    struct berth_err **err);
void berth__challenges_free(struct berth__challenge *list, size_t n);
/* A parameter's value (borrowed from c) or NULL; `key` lower-case. */
const char *berth__challenge_param(const struct berth__challenge *c, const char *key);

/* Split a space-separated scope list ("repository:a:pull repository:b:pull")
 * and append the scopes to out, skipping duplicates. */
void berth__scopes_add(struct berth_strv *out, const char *list);
/* The scopes sorted and joined by single spaces: the token cache key.
 * Returns a new string. */
char *berth__scopes_key(const struct berth_strv *scopes);

/* ------------------------------------------------------------- a session */

enum berth__reg_auth {
	BERTH__AUTH_UNKNOWN, /* nothing asked yet: the first request pings */
	BERTH__AUTH_NONE,    /* /v2/ answered without a challenge */
	BERTH__AUTH_BASIC,
	BERTH__AUTH_BEARER,
};

struct berth__token {
	char *scopes; /* berth__scopes_key(); "" for a scope-less login token */
	char *token;
	time_t expires; /* CLOCK_MONOTONIC seconds */
};

struct berth_registry {
	char *host;      /* as given: the name used in messages */
	char *origin;    /* "https://host" or "http://host": the only place auth goes */
	bool plain_http; /* insecure, or a local host */
	char *username;  /* NULL: anonymous */
	char *password;
	char *user_agent;
	CURL *easy; /* single requests, reused so the connection stays open */

	enum berth__reg_auth auth;
	char *realm; /* Bearer: the token endpoint */
	char *service;
	/* The token server accepted our credentials at least once: a later 401
	 * is about access, not the password. */
	bool token_creds_ok;
	struct berth__token tokens[BERTH__REG_TOKEN_CACHE];
	size_t ntokens;
};

/* ------------------------------------------------------ the request layer */

/* The response headers a caller may need (values owned, NULL when absent). */
struct berth__reg_headers {
	char *location;
	char *content_type; /* parameters stripped */
	char *digest;       /* Docker-Content-Digest */
	char *range;
	char *retry_after;
	char *chunk_min;        /* OCI-Chunk-Min-Length */
	int64_t content_length; /* -1 when absent */
	struct berth_strv www_authenticate;
};

void berth__reg_headers_release(struct berth__reg_headers *h);

/* One request. Fill the inputs, call berth__reg_do(), read the outputs,
 * release with berth__req_release(). */
struct berth__req {
	/* in */
	const char *what;   /* context for messages: "pull 'busybox:latest'" */
	const char *method; /* "GET", "HEAD", "PUT", "POST", "PATCH" */
	char *url;          /* owned: absolute; replaced when a redirect is followed */
	const char *accept;
	const char *content_type;
	char *content_range; /* owned or NULL */
	const void *data;    /* body from memory (data, len) ... */
	size_t len;
	int fd; /* ... or from fd at [off, off+fd_len) when fd >= 0 */
	int64_t off, fd_len;
	const struct berth_strv *scopes; /* for a Bearer token; NULL: none */
	bool follow;                     /* follow redirects (dropping auth off the registry) */
	bool no_retry;                   /* the caller recovers itself (chunk uploads) */
	size_t max;                      /* response body cap; 0: BERTH_REGISTRY_ERROR_MAX */
	/* out */
	long status;
	struct berth_buf body;
	struct berth__reg_headers hdr;
};

/* Initialise q (method, url copied) with fd = -1. */
void berth__req_init(struct berth__req *q, const char *what, const char *method, char *url_owned);
void berth__req_release(struct berth__req *q);

/* Perform q: learns the auth scheme first (a GET /v2/) when unknown, sends
 * Basic or a Bearer token for q->scopes to the registry's own origin only,
 * renews the token once on a 401, retries transient failures (connection
 * errors, 408, 429, 5xx) up to BERTH_REGISTRY_RETRIES times with backoff
 * that honours Retry-After, and follows redirects when asked. Returns 0 when
 * an HTTP answer came back (any status: check q->status), or an error for
 * transport failures, a response over q->max, or a failed token request.
 * The error reads "registry 'HOST': WHAT: ...". */
int berth__reg_do(struct berth_registry *r, struct berth__req *q, struct berth_err **err);

/* Learn the auth scheme (GET /v2/) when it is not known yet. */
int berth__reg_ready(struct berth_registry *r, const char *what, struct berth_err **err);

/* The error for an unexpected status: the registry's {"errors":[...]} body
 * when there is one, the code from the status (401/403 AUTH, 404 NOT_FOUND,
 * 413 LIMIT, other 4xx INVALID, else SYS) and what to do about it. */
int berth__reg_status_error(struct berth_registry *r, const struct berth__req *q,
			    struct berth_err **err);

/* Resolve a Location against the URL it answered (absolute, "//host/x",
 * "/x" or "x"). Returns a new string. */
char *berth__reg_resolve_against(const char *base, const char *loc);
/* True when url is on the registry's origin (the only place auth goes). */
bool berth__reg_same_origin(const struct berth_registry *r, const char *url);
/* "https://host/v2/<repo>/<kind>/<ref>": a new string. */
char *berth__reg_url(struct berth_registry *r, const char *repo, const char *kind, const char *ref);
/* Validate a repository path and a tag-or-digest before they go into URLs. */
int berth__reg_check_repo(const char *repo, struct berth_err **err);

int berth__reg_check_digest(const char *digest, struct berth_err **err);

/* HEAD a blob with the given scopes (a push asks with pull,push so that one
 * token serves the whole upload): 0 and *size (-1 when not told),
 * -BERTH_E_NOT_FOUND when absent. */
int berth__blob_head(struct berth_registry *r, const char *repo, const char *digest,
		     const struct berth_strv *scopes, const char *what, int64_t *size,
		     struct berth_err **err);

void berth__sleep_ms(long ms);

/* Transient failures worth a retry. */
bool berth__reg_transient_status(long status);
bool berth__reg_transient_curl(CURLcode c);
/* Milliseconds to wait before retry number `attempt` (0-based), honouring
 * a Retry-After header value (seconds or an HTTP date) when given. */
long berth__reg_backoff_ms(int attempt, const char *retry_after);

/* One transfer of a request on an easy handle: the header list to free
 * afterwards, curl's error text, and the upload position. */
struct berth__xfer {
	struct berth_registry *r;
	struct berth__req *q;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	int64_t sent;   /* upload position within the body */
	int read_errno; /* the fd body failed to read */
};

/* Set up an easy handle for x->q: URL, method, headers (Authorization only
 * when `auth` is non-NULL), the body source, and callbacks that fill q->hdr
 * and collect the answer into q->body (capped). No redirects are followed
 * by curl. Call berth__xfer_cleanup() after the transfer. */
void berth__xfer_setup(struct berth__xfer *x, CURL *easy, const char *auth);
void berth__xfer_cleanup(struct berth__xfer *x);

/* Perform q once with `auth` (may be NULL), retrying transient curl errors
 * and statuses with backoff. Returns curl's code of the last try; q->status
 * is set when that is CURLE_OK; errbuf (CURL_ERROR_SIZE bytes) receives
 * curl's message for berth__reg_curl_error(). */
CURLcode berth__reg_perform_retrying(struct berth_registry *r, struct berth__req *q,
				     const char *auth, char *errbuf);
/* Reset the response side of q before another attempt. */
void berth__req_reset_response(struct berth__req *q);
/* curl's words for a failure, lower-cased (a new string). */
char *berth__reg_curl_detail(CURLcode c, const char *errbuf);
/* The error for a failed transfer: curl's words and a hint. */
int berth__reg_curl_error(struct berth_registry *r, const struct berth__req *q, CURLcode c,
			  const char *errbuf, struct berth_err **err);

/* --------------------------------------------------------------- auth.c */

/* Record what a 401 (or the ping) said: scheme, realm, service. Returns
 * true when the state changed or a Bearer challenge was seen (worth one
 * more try). `scopes` receives a Bearer challenge's scopes. */
bool berth__auth_learn(struct berth_registry *r, const struct berth_strv *www_authenticate,
		       struct berth_strv *scopes);
/* The Authorization header line for a request to the registry's origin
 * with these scopes (NULL: none): Basic, a cached or new Bearer token, or
 * *out NULL when nothing is to be sent. `what` names the operation in
 * errors. A token server 401 is BERTH_E_AUTH naming the fix. */
int berth__auth_header(struct berth_registry *r, const struct berth_strv *scopes, const char *what,
		       char **out, struct berth_err **err);
/* Forget the cached token for these scopes (after a 401 with it). */
void berth__auth_forget(struct berth_registry *r, const struct berth_strv *scopes);
void berth__auth_release(struct berth_registry *r);
/* CLOCK_MONOTONIC seconds. */
time_t berth__now(void);

#endif
