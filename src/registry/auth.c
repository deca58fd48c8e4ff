/* Registry authentication: WWW-Authenticate parsing (RFC 7235, several
 * challenges, quoted parameters), Basic, and the Bearer token flow of
 * distribution's token.md with a per-session cache keyed by scope set. */
#include "registry/registry_int.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>

time_t berth__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ------------------------------------------------------ WWW-Authenticate */

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 7235 token68 characters (without the trailing '='s). */
static bool is_token68_char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("-._~+/", c));
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int challenge_error(const char *header, const char *why, struct berth_err **err)
{
	return berth_err_set(err, BERTH_E_INVALID, "malformed WWW-Authenticate header '%.*s%s': %s",
			     BERTH__REG_CHALLENGE_SHOWN, header,
			     strlen(header) > BERTH__REG_CHALLENGE_SHOWN ? "..." : "", why);
}

/* A quoted-string at p (on the opening quote): unescaped into *out. */
static const char *read_quoted(const char *p, char **out)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH__REG_HEADER_MAX);
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		berth_buf_addch(&b, *p);
	}
	if (*p != '"' || b.full) {
		berth_buf_release(&b);
		return NULL;
	}
	*out = berth_buf_steal(&b, NULL);
	return p + 1;
}

static const char *read_token(const char *p, size_t *len)
{
	const char *start = p;
	while (is_tchar(*p))
		p++;
	*len = (size_t)(p - start);
	return p;
}

/* Try the token68 form right after a scheme: "Negotiate abc==". */
static const char *read_token68(const char *p, char **out)
{
	const char *q = p;
	while (is_token68_char(*q))
		q++;
	if (q == p)
		return NULL;
	while (*q == '=')
		q++;
	const char *end = skip_ows(q);
	if (*end && *end != ',')
		return NULL;
	/* "realm=" followed by nothing is no parameter either: a token68
	 * that ends in '=' is the only reading left. */
	*out = berth_xstrndup(p, (size_t)(q - p));
	return q;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

int berth__challenges_parse(const char *header, struct berth__challenge **list, size_t *n,
			    struct berth_err **err)
{
	size_t cap = *n;
	const char *p = header;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			return 0;
		size_t slen;
		const char *s = p;
		p = read_token(p, &slen);
		if (!slen)
			return challenge_error(header, "expected an auth scheme", err);
		*list = berth_xgrow(*list, sizeof(**list), *n + 1, &cap);
		struct berth__challenge *c = &(*list)[(*n)++];
		*c = (struct berth__challenge){.scheme = berth_xstrndup(s, slen)};
		lower(c->scheme);
		if (*p && *p != ' ' && *p != '\t' && *p != ',')
			return challenge_error(header, "expected a space after the auth scheme",
					       err);

		p = skip_ows(p);
		const char *t68 = *p && *p != ',' ? read_token68(p, &c->token68) : NULL;
		if (t68) {
			p = t68;
			continue;
		}
		/* auth-params: name BWS "=" BWS (token / quoted-string), separated
		 * by commas; a name not followed by '=' starts the next challenge. */
		bool first = true;
		for (;;) {
			const char *mark = p;
			p = skip_ows(p);
			if (*p == ',') {
				while (*p == ',' || *p == ' ' || *p == '\t')
					p++;
			} else if (!first) {
				break;
			}
			if (!*p)
				return 0;
			size_t nlen;
			const char *name = p;
			const char *after = read_token(p, &nlen);
			const char *eq = skip_ows(after);
			if (!nlen)
				return challenge_error(header, "expected a parameter", err);
			if (*eq != '=') {
				/* The next challenge's scheme. */
				p = mark;
				break;
			}
			p = skip_ows(eq + 1);
			char *value;
			if (*p == '"') {
				p = read_quoted(p, &value);
				if (!p)
					return challenge_error(header, "unterminated quoted string",
							       err);
			} else {
				size_t vlen;
				const char *v = p;
				p = read_token(p, &vlen);
				if (!vlen)
					return challenge_error(header, "expected a parameter value",
							       err);
				value = berth_xstrndup(v, vlen);
			}
			_cleanup_free_ char *key = berth_xstrndup(name, nlen);
			lower(key);
			berth_env_set(&c->params, key, value);
			free(value);
			first = false;
		}
	}
}

void berth__challenges_free(struct berth__challenge *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].scheme);
		free(list[i].token68);
		berth_strv_release(&list[i].params);
	}
	free(list);
}

const char *berth__challenge_param(const struct berth__challenge *c, const char *key)
{
	return berth_env_get(&c->params, key, strlen(key));
}

/* ----------------------------------------------------------------- scopes */

void berth__scopes_add(struct berth_strv *out, const char *list)
{
	const char *p = list;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " ");
		if (!len)
			break;
		_cleanup_free_ char *s = berth_xstrndup(p, len);
		if (!berth_strv_contains(out, s))
			berth_strv_push(out, s);
		p += len;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *berth__scopes_key(const struct berth_strv *scopes)
{
	if (!scopes || !scopes->n)
		return berth_xstrdup("");
	_cleanup_free_ char **v = berth_xmalloc(scopes->n * sizeof(*v));
	memcpy(v, scopes->v, scopes->n * sizeof(*v));
	qsort(v, scopes->n, sizeof(*v), cmp_str);
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < scopes->n; i++) {
		if (i && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (b.len)
			berth_buf_addch(&b, ' ');
		berth_buf_addstr(&b, v[i]);
	}
	return berth_buf_steal(&b, NULL);
}

/* ------------------------------------------------------------ auth state */

bool berth__auth_learn(struct berth_registry *r, const struct berth_strv *www_authenticate,
		       struct berth_strv *scopes)
{
	struct berth__challenge *list = NULL;
	size_t n = 0;
	for (size_t i = 0; i < www_authenticate->n; i++) {
		/* A header we cannot read is treated as no challenge: the 401
		 * itself is then what the user sees. */
		struct berth_err *e = NULL;
		berth__challenges_parse(www_authenticate->v[i], &list, &n, &e);
		berth_err_free(e);
	}
	const struct berth__challenge *bearer = NULL, *basic = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!bearer && strcmp(list[i].scheme, "bearer") == 0 &&
		    berth__challenge_param(&list[i], "realm"))
			bearer = &list[i];
		if (!basic && strcmp(list[i].scheme, "basic") == 0)
			basic = &list[i];
	}
	bool changed = false;
	if (bearer) {
		const char *realm = berth__challenge_param(bearer, "realm");
		const char *service = berth__challenge_param(bearer, "service");
		if (r->auth != BERTH__AUTH_BEARER || !r->realm || strcmp(r->realm, realm) != 0 ||
		    (service && (!r->service || strcmp(service, r->service) != 0))) {
			/* Tokens from another realm or service are useless now. */
			berth__auth_release(r);
			r->realm = berth_xstrdup(realm);
			r->service = service ? berth_xstrdup(service) : NULL;
		}
		r->auth = BERTH__AUTH_BEARER;
		const char *scope = berth__challenge_param(bearer, "scope");
		if (scope && scopes)
			berth__scopes_add(scopes, scope);
		changed = true;
	} else if (basic) {
		changed = r->auth != BERTH__AUTH_BASIC;
		r->auth = BERTH__AUTH_BASIC;
	}
	berth__challenges_free(list, n);
	return changed;
}

void berth__auth_release(struct berth_registry *r)
{
	for (size_t i = 0; i < r->ntokens; i++) {
		free(r->tokens[i].scopes);
		explicit_bzero(r->tokens[i].token, strlen(r->tokens[i].token));
		free(r->tokens[i].token);
	}
	r->ntokens = 0;
	free(r->realm);
	free(r->service);
	r->realm = r->service = NULL;
}

void berth__auth_forget(struct berth_registry *r, const struct berth_strv *scopes)
{
	_cleanup_free_ char *key = berth__scopes_key(scopes);
	for (size_t i = 0; i < r->ntokens; i++) {
		if (strcmp(r->tokens[i].scopes, key) == 0) {
			free(r->tokens[i].scopes);
			free(r->tokens[i].token);
			r->tokens[i] = r->tokens[--r->ntokens];
			return;
		}
	}
}

static void token_store(struct berth_registry *r, char *key, char *token, time_t expires)
{
	size_t slot = r->ntokens;
	if (slot == BERTH__REG_TOKEN_CACHE) {
		/* Full: replace the one that expires first. */
		slot = 0;
		for (size_t i = 1; i < r->ntokens; i++)
			if (r->tokens[i].expires < r->tokens[slot].expires)
				slot = i;
		free(r->tokens[slot].scopes);
		free(r->tokens[slot].token);
	} else {
		r->ntokens++;
	}
	r->tokens[slot] = (struct berth__token){.scopes = key, .token = token, .expires = expires};
}

/* Bytes that may go into an Authorization header line. */
static bool token_ok(const char *t)
{
	if (!*t)
		return false;
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return false;
	return true;
}

static bool url_is_plain_http(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0;
}

/* The host[:port] of an http(s) URL, into buf. */
static void url_host(const char *url, char *buf, size_t size)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	size_t n = strcspn(h, "/?#");
	if (n >= size)
		n = size - 1;
	memcpy(buf, h, n);
	buf[n] = '\0';
}

static char *basic_value(const struct berth_registry *r)
{
	_cleanup_free_ char *pair = berth_xasprintf("%s:%s", r->username, r->password);
	char *b64 = berth_base64_encode(pair, strlen(pair));
	explicit_bzero(pair, strlen(pair));
	return b64;
}

static int token_error(struct berth_registry *r, const char *what, const struct berth__req *q,
		       struct berth_err **err)
{
	/* What the token server said, when it said it in JSON. */
	_cleanup_free_ char *said = NULL;
	struct berth_err *e = NULL;
	_cleanup_json_ json_t *j =
	    q->body.len ? berth_json_loadb(q->body.data, q->body.len, "token response", &e) : NULL;
	berth_err_free(e);
	if (j) {
		const json_t *errs = json_object_get(j, "errors");
		const char *msg = berth_json_str(json_array_get(errs, 0), "message");
		if (!msg)
			msg = berth_json_str(j, "details");
		if (!msg)
			msg = berth_json_str(j, "error_description");
		if (!msg)
			msg = berth_json_str(j, "error");
		if (msg)
			said = berth_xasprintf(": %.*s", BERTH__REG_DETAIL_SHOWN, msg);
	}
	if (q->status == 401 || q->status == 403) {
		if (r->username)
			return berth_err_set(err, BERTH_E_AUTH,
					     "registry '%s': %s: token server '%s' refused the "
					     "credentials of '%s'%s (check the password, or log in "
					     "again with 'berth login %s')",
					     r->host, what, r->realm, r->username, said ? said : "",
					     r->host);
		return berth_err_set(err, BERTH_E_AUTH,
				     "registry '%s': %s: token server '%s' refused anonymous "
				     "access%s (log in with 'berth login %s')",
				     r->host, what, r->realm, said ? said : "", r->host);
	}
	return berth_err_set(err, q->status >= 500 ? BERTH_E_SYS : BERTH_E_INVALID,
			     "registry '%s': %s: token server '%s' answered HTTP %ld%s", r->host,
			     what, r->realm, q->status, said ? said : "");
}

/* GET <realm>?service=&scope=...&account= (token.md); the answer's token
 * and lifetime. */
static int token_fetch(struct berth_registry *r, const struct berth_strv *scopes, const char *what,
		       char **token, time_t *expires, struct berth_err **err)
{
	if (strncasecmp(r->realm, "https://", 8) != 0 && !url_is_plain_http(r->realm))
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "registry '%s': %s: token realm '%s' is not an http(s) URL",
				     r->host, what, r->realm);
	char rhost[BERTH__REG_HOST_MAX + 1];
	url_host(r->realm, rhost, sizeof(rhost));
	if (r->username && url_is_plain_http(r->realm) && !r->plain_http &&
	    !berth_registry_host_is_local(rhost))
		return berth_err_set(err, BERTH_E_AUTH,
				     "registry '%s': %s: refusing to send the password to token "
				     "realm '%s' over plain HTTP (use an https realm, or mark the "
				     "registry insecure)",
				     r->host, what, r->realm);

	struct berth_buf url;
	berth_buf_init(&url, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&url, r->realm);
	char sep = strchr(r->realm, '?') ? '&' : '?';
	CURL *esc = r->easy;
	if (r->service) {
		char *s = curl_easy_escape(esc, r->service, 0);
		berth_buf_addf(&url, "%cservice=%s", sep, s);
		curl_free(s);
		sep = '&';
	}
	for (size_t i = 0; scopes && i < scopes->n; i++) {
		char *s = curl_easy_escape(esc, scopes->v[i], 0);
		berth_buf_addf(&url, "%cscope=%s", sep, s);
		curl_free(s);
		sep = '&';
	}
	if (r->username) {
		/* containers/image sends it; some servers want it. */
		char *s = curl_easy_escape(esc, r->username, 0);
		berth_buf_addf(&url, "%caccount=%s", sep, s);
		curl_free(s);
	}

	struct berth__req q;
	berth__req_init(&q, what, "GET", berth_buf_steal(&url, NULL));
	q.max = BERTH_REGISTRY_TOKEN_MAX;
	_cleanup_free_ char *auth = NULL;
	if (r->username) {
		_cleanup_free_ char *b64 = basic_value(r);
		auth = berth_xasprintf("Authorization: Basic %s", b64);
		explicit_bzero(b64, strlen(b64));
	}

	int rc = 0;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode c = berth__reg_perform_retrying(r, &q, auth, errbuf);
	if (c != CURLE_OK) {
		rc = berth__reg_curl_error(r, &q, c, errbuf, err);
		berth_err_prefix(err, "token server '%s'", r->realm);
	} else if (q.body.full) {
		rc = berth_err_set(err, BERTH_E_LIMIT,
				   "registry '%s': %s: token response from '%s' exceeds %u bytes",
				   r->host, what, r->realm, BERTH_REGISTRY_TOKEN_MAX);
	} else if (q.status != 200) {
		rc = token_error(r, what, &q, err);
	}
	if (auth)
		explicit_bzero(auth, strlen(auth));
	if (rc < 0) {
		berth__req_release(&q);
		return rc;
	}

	struct berth_err *e = NULL;
	_cleanup_json_ json_t *j = berth_json_loadb(q.body.data, q.body.len, "token response", &e);
	berth__req_release(&q);
	const char *t = j ? berth_json_str(j, "token") : NULL;
	if (!t || !*t)
		t = j ? berth_json_str(j, "access_token") : NULL;
	if (!t || !token_ok(t)) {
		rc = berth_err_set(err, BERTH_E_INVALID,
				   "registry '%s': %s: token server '%s' sent no usable token%s%s",
				   r->host, what, r->realm, e ? ": " : "", e ? e->msg : "");
		berth_err_free(e);
		return rc;
	}
	json_int_t life = json_integer_value(json_object_get(j, "expires_in"));
	if (life < BERTH__REG_TOKEN_MIN_LIFE)
		life = BERTH__REG_TOKEN_MIN_LIFE;
	if (life > 365 * 24 * 3600)
		life = 365 * 24 * 3600;
	*token = berth_xstrdup(t);
	*expires = berth__now() + (time_t)life;
	if (r->username)
		r->token_creds_ok = true;
	return 0;
}

int berth__auth_header(struct berth_registry *r, const struct berth_strv *scopes, const char *what,
		       char **out, struct berth_err **err)
{
	*out = NULL;
	switch (r->auth) {
	case BERTH__AUTH_UNKNOWN:
	case BERTH__AUTH_NONE:
		return 0;
	case BERTH__AUTH_BASIC:
		if (r->username) {
			_cleanup_free_ char *b64 = basic_value(r);
			*out = berth_xasprintf("Authorization: Basic %s", b64);
			explicit_bzero(b64, strlen(b64));
		}
		return 0;
	case BERTH__AUTH_BEARER:
		break;
	}

	_cleanup_free_ char *key = berth__scopes_key(scopes);
	time_t now = berth__now();
	for (size_t i = 0; i < r->ntokens; i++) {
		if (strcmp(r->tokens[i].scopes, key) == 0 &&
		    now < r->tokens[i].expires - BERTH__REG_TOKEN_MARGIN) {
			*out = berth_xasprintf("Authorization: Bearer %s", r->tokens[i].token);
			return 0;
		}
	}
	berth__auth_forget(r, scopes);
	char *token;
	time_t expires;
	int rc = token_fetch(r, scopes, what, &token, &expires, err);
	if (rc < 0)
		return rc;
	*out = berth_xasprintf("Authorization: Bearer %s", token);
	token_store(r, steal_pointer(&key), token, expires);
	return 0;
}
