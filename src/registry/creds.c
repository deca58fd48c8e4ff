/* Registry credentials: looking them up in the app's registries map, `berth
 * login`'s auth.json, ~/.docker/config.json and the containers auth.json
 * files (keys normalised like containers/image), writing and removing `berth
 * login` entries, and the "talk plain HTTP to this host" rule. */
#include "registry/registry_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include "common/crypto_api.h"
#include <strings.h>

#define CREDS_FILE      "auth.json"
#define DOCKER_HUB      "docker.io"
#define DOCKER_HUB_KEY  "https://index.docker.io/v1/" /* what Docker writes */
#define CREDS_ENTRY_MAX 4096                          /* a decoded "user:password" */

void berth_cred_release(struct berth_cred *c)
{
	if (!c)
		return;
	free(c->username);
	if (c->password) {
		/* Do not leave the secret lying in freed memory. */
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	c->username = c->password = NULL;
}

static void cred_releasep(struct berth_cred *c)
{
	berth_cred_release(c);
}

/* ---------------------------------------------------------------- base64 */

unsigned char *berth__base64_decode(const char *text, size_t *len)
{
	while (isspace((unsigned char)*text))
		text++;
	size_t n = strlen(text);
	while (n && isspace((unsigned char)text[n - 1]))
		n--;
	if (n % 4 == 1 || n > (size_t)INT_MAX / 2)
		return NULL;
	/* Some writers drop the padding; EVP_DecodeBlock wants it. */
	size_t padded = (n + 3) / 4 * 4;
	_cleanup_free_ char *in = berth_xmalloc(padded + 1);
	memcpy(in, text, n);
	memset(in + n, '=', padded - n);
	in[padded] = '\0';

	unsigned char *out = berth_xmalloc(padded / 4 * 3 + 1);
	int got = EVP_DecodeBlock(out, (unsigned char *)in, (int)padded);
	if (got < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	size_t pad = 0;
	while (pad < 2 && padded > pad && in[padded - 1 - pad] == '=')
		pad++;
	size_t real = (size_t)got - pad;
	out[real] = '\0';
	*len = real;
	return out;
}

/* ------------------------------------------------------------ key matching */

static bool has_prefix_icase(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Strip a scheme; tell whether there was one (legacy keys are host-level). */
static const char *strip_scheme(const char *key, bool *had)
{
	*had = true;
	if (has_prefix_icase(key, "https://"))
		return key + 8;
	if (has_prefix_icase(key, "http://"))
		return key + 7;
	*had = false;
	return key;
}

char *berth__creds_normalize(const char *key)
{
	bool had;
	const char *h = strip_scheme(key, &had);
	size_t n = strcspn(h, "/");
	char *out = berth_xstrndup(h, n);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0) {
		free(out);
		out = berth_xstrdup(DOCKER_HUB);
	}
	return out;
}

/* How well an auth-file key fits `want` (normalised): 2 for a host-level
 * key (plain or the legacy "https://host/v1/" form), 1 for a key scoped to
 * a namespace on that host ("reg/team/app": containers/image uses it only
 * for images below it; berth asks per host, so it is a fallback), 0 none. */
static int key_rank(const char *key, const char *want)
{
	_cleanup_free_ char *norm = berth__creds_normalize(key);
	if (strcmp(norm, want) != 0)
		return 0;
	bool had;
	const char *h = strip_scheme(key, &had);
	if (had)
		return 2;
	const char *slash = strchr(h, '/');
	return !slash || slash[1] == '\0' ? 2 : 1;
}

/* Read one entry: {"auth": base64(user:pass)} or {"username", "password"}.
 * Returns 1 with *out filled, 0 when the entry carries no usable password
 * (identitytoken only, or {} meaning "ask a credential helper": berth runs
 * no helpers and uses no OAuth refresh tokens, so such entries are
 * skipped), or an error for an "auth" that does not decode. */
static int entry_parse(const json_t *entry, const char *key, const char *origin,
		       struct berth_cred *out, struct berth_err **err)
{
	if (!json_is_object(entry))
		return 0;
	const char *auth = berth_json_str(entry, "auth");
	if (auth && *auth) {
		size_t len;
		_cleanup_free_ unsigned char *raw = berth__base64_decode(auth, &len);
		/* containers/image trims trailing NULs some writers leave. */
		while (raw && len && raw[len - 1] == '\0')
			len--;
		char *colon = raw ? memchr(raw, ':', len) : NULL;
		if (!raw || !colon || memchr(raw, '\0', len) || len > CREDS_ENTRY_MAX) {
			if (raw)
				explicit_bzero(raw, len);
			return berth_err_set(err, BERTH_E_INVALID,
					     "credentials for '%s' in %s: 'auth' is not base64 of "
					     "'user:password' (log in again or fix the file)",
					     key, origin);
		}
		raw[len] = '\0';
		out->username = berth_xstrndup((char *)raw, (size_t)(colon - (char *)raw));
		out->password = berth_xstrdup(colon + 1);
		explicit_bzero(raw, len);
		return 1;
	}
	const char *user = berth_json_str(entry, "username");
	const char *pass = berth_json_str(entry, "password");
	if (user && *user && pass) {
		out->username = berth_xstrdup(user);
		out->password = berth_xstrdup(pass);
		return 1;
	}
	return 0;
}

/* Find the best entry for `want` in an object of key -> entry. */
static int auths_lookup(const json_t *auths, const char *want, const char *origin,
			struct berth_cred *out, struct berth_err **err)
{
	if (!json_is_object(auths))
		return 0;
	for (int rank = 2; rank >= 1; rank--) {
		const char *key;
		const json_t *entry;
		json_object_foreach((json_t *)auths, key, entry)
		{
			if (key_rank(key, want) != rank)
				continue;
			int r = entry_parse(entry, key, origin, out, err);
			if (r != 0)
				return r;
		}
	}
	return 0;
}

/* Load an auth file; *out NULL when it does not exist. For a lookup
 * (`lenient`) an unreadable file is logged and skipped too: a ~/.docker
 * left owned by root after `sudo docker login` must not stop every pull.
 * An editor must not skip it, or saving would drop its entries. An empty
 * file reads as {}. */
static int creds_file_load(const char *path, bool lenient, json_t **out, struct berth_err **err)
{
	*out = NULL;
	struct berth_buf _cleanup_buf_ b;
	berth_buf_init(&b, BERTH_JSON_MAX);
	struct berth_err *e = NULL;
	if (berth_fs_read_file(path, BERTH_JSON_MAX, &b, &e) < 0) {
		int code = e->code, eno = e->sys_errno;
		if (code == BERTH_E_SYS &&
		    (eno == ENOENT || eno == ENOTDIR || (lenient && eno == EACCES))) {
			if (eno == EACCES)
				berth_log_warn("ignoring credentials file '%s': %s", path,
					       strerror(eno));
			berth_err_free(e);
			return 0;
		}
		if (err && !*err)
			*err = e;
		else
			berth_err_free(e);
		return -code;
	}
	size_t blank = 0;
	while (blank < b.len && isspace((unsigned char)b.data[blank]))
		blank++;
	if (blank == b.len) {
		*out = json_object();
		return 0;
	}
	_cleanup_free_ char *what = berth_xasprintf("credentials file '%s'", path);
	json_t *j = berth_json_loadb(b.data, b.len, what, err);
	if (!j)
		return -BERTH_E_INVALID;
	if (!json_is_object(j)) {
		json_decref(j);
		return berth_err_set(
		    err, BERTH_E_INVALID,
		    "credentials file '%s' is not a JSON object (fix or remove it)", path);
	}
	*out = j;
	return 0;
}

/* Look in one file's "auths". credHelpers and credsStore are not run
 * (berth calls no external programs for secrets); entries that only point
 * at them are skipped like identitytoken-only ones. */
static int file_lookup(const char *path, const char *want, const char *origin,
		       struct berth_cred *out, struct berth_err **err)
{
	_cleanup_json_ json_t *j = NULL;
	int r = creds_file_load(path, true, &j, err);
	if (r < 0 || !j)
		return r;
	_cleanup_free_ char *where = berth_xasprintf("'%s'", path);
	return auths_lookup(json_object_get(j, "auths"), want, where, out, err);
}

int berth_creds_lookup(const struct berth_cred_source *src, const char *host,
		       struct berth_cred *out, const char **origin, struct berth_err **err)
{
	*out = (struct berth_cred){0};
	const char *dummy;
	if (!origin)
		origin = &dummy;
	*origin = "anonymous";
	if (!host || !*host)
		return berth_err_set(err, BERTH_E_INVALID, "credentials: empty registry host");
	_cleanup_free_ char *want = berth__creds_normalize(host);
	_cleanup_(cred_releasep) struct berth_cred c = {0};
	int r = 0;

	if (src && src->registries) {
		if (!json_is_object(src->registries))
			return berth_err_set(err, BERTH_E_INVALID,
					     "the app's registries must be a JSON object of "
					     "host -> {\"username\", \"password\"}");
		r = auths_lookup(src->registries, want, "the app's registries", &c, err);
		if (r > 0)
			*origin = "the app's registries";
	}
	if (r == 0 && src && src->home) {
		_cleanup_free_ char *p = berth_xasprintf("%s/" CREDS_FILE, src->home);
		r = file_lookup(p, want, "berth login", &c, err);
		if (r > 0)
			*origin = "berth login";
	}
	const char *uh = src && src->user_home ? src->user_home : getenv("HOME");
	if (r == 0 && uh && *uh) {
		_cleanup_free_ char *p = berth_xasprintf("%s/.docker/config.json", uh);
		r = file_lookup(p, want, "~/.docker/config.json", &c, err);
		if (r > 0)
			*origin = "~/.docker/config.json";
	}
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (r == 0 && xdg && *xdg) {
		_cleanup_free_ char *p = berth_xasprintf("%s/containers/auth.json", xdg);
		r = file_lookup(p, want, "${XDG_RUNTIME_DIR}/containers/auth.json", &c, err);
		if (r > 0)
			*origin = "${XDG_RUNTIME_DIR}/containers/auth.json";
	}
	if (r == 0 && uh && *uh) {
		_cleanup_free_ char *p = berth_xasprintf("%s/.config/containers/auth.json", uh);
		r = file_lookup(p, want, "~/.config/containers/auth.json", &c, err);
		if (r > 0)
			*origin = "~/.config/containers/auth.json";
	}
	if (r < 0) {
		*origin = "anonymous";
		return r;
	}
	*out = c;
	c = (struct berth_cred){0};
	return 0;
}

/* ------------------------------------------------------------ berth login */

static int host_check(const char *host, struct berth_err **err)
{
	if (!host || !*host)
		return berth_err_set(err, BERTH_E_INVALID, "login: empty registry host");
	if (strlen(host) > BERTH__REG_HOST_MAX)
		return berth_err_set(err, BERTH_E_LIMIT,
				     "login: registry host '%.64s...' is too long", host);
	for (const char *p = host; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == '"')
			return berth_err_set(err, BERTH_E_INVALID,
					     "login: registry host '%s' contains a space, quote or "
					     "control character",
					     host);
	return 0;
}

/* Load <home>/auth.json for editing (an empty one when missing) and
 * return its "auths" object (borrowed from *root). */
static int login_load(const char *path, json_t **root, json_t **auths, struct berth_err **err)
{
	int r = creds_file_load(path, false, root, err);
	if (r < 0) {
		berth_err_prefix(err, "login");
		return r;
	}
	if (!*root)
		*root = json_object();
	*auths = json_object_get(*root, "auths");
	if (!*auths) {
		*auths = json_object();
		json_object_set_new(*root, "auths", *auths);
	} else if (!json_is_object(*auths)) {
		return berth_err_set(
		    err, BERTH_E_INVALID,
		    "login: 'auths' in '%s' is not an object (fix or remove the file)", path);
	}
	return 0;
}

/* Drop every host-level key for `want`, whichever spelling it was saved
 * under, so no stale alias shadows the new entry. Returns how many. */
static int auths_drop(json_t *auths, const char *want)
{
	int dropped = 0;
	const char *key;
	json_t *entry;
	void *tmp;
	json_object_foreach_safe(auths, tmp, key, entry)
	{
		if (key_rank(key, want) == 2) {
			json_object_del(auths, key);
			dropped++;
		}
	}
	return dropped;
}

static int login_write(const char *path, const json_t *root, struct berth_err **err)
{
	struct berth_buf _cleanup_buf_ b;
	berth_buf_init(&b, BERTH_JSON_MAX);
	if (berth_json_dump_pretty(root, &b) < 0)
		return berth_err_set(err, BERTH_E_LIMIT, "login: '%s' would exceed %u bytes", path,
				     BERTH_JSON_MAX);
	int r = berth_fs_write_atomic(AT_FDCWD, path, b.data, b.len, 0600, err);
	explicit_bzero(b.data, b.len);
	return r;
}

int berth_login_save(const char *home, const char *host, const char *username, const char *password,
		     struct berth_err **err)
{
	int r = host_check(host, err);
	if (r < 0)
		return r;
	if (!username || !*username)
		return berth_err_set(err, BERTH_E_INVALID, "login to '%s': empty username", host);
	if (strchr(username, ':'))
		return berth_err_set(err, BERTH_E_INVALID,
				     "login to '%s': username '%s' contains ':', which auth.json "
				     "cannot store",
				     host, username);
	if (!password || !*password)
		return berth_err_set(err, BERTH_E_INVALID, "login to '%s': empty password", host);
	if (strlen(username) + strlen(password) + 1 > CREDS_ENTRY_MAX)
		return berth_err_set(err, BERTH_E_LIMIT,
				     "login to '%s': username and password exceed %u bytes", host,
				     CREDS_ENTRY_MAX);
	r = berth_fs_mkdir_p(home, 0700, err);
	if (r < 0) {
		berth_err_prefix(err, "login to '%s'", host);
		return r;
	}

	_cleanup_free_ char *path = berth_xasprintf("%s/" CREDS_FILE, home);
	_cleanup_json_ json_t *root = NULL;
	json_t *auths;
	r = login_load(path, &root, &auths, err);
	if (r < 0)
		return r;

	_cleanup_free_ char *want = berth__creds_normalize(host);
	auths_drop(auths, want);
	_cleanup_free_ char *pair = berth_xasprintf("%s:%s", username, password);
	_cleanup_free_ char *b64 = berth_base64_encode(pair, strlen(pair));
	explicit_bzero(pair, strlen(pair));
	const char *key = strcmp(want, DOCKER_HUB) == 0 ? DOCKER_HUB_KEY : want;
	json_object_set_new(auths, key, json_pack("{s:s}", "auth", b64));
	explicit_bzero(b64, strlen(b64));
	return login_write(path, root, err);
}

int berth_login_remove(const char *home, const char *host, struct berth_err **err)
{
	int r = host_check(host, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = berth_xasprintf("%s/" CREDS_FILE, home);
	_cleanup_json_ json_t *root = NULL;
	r = creds_file_load(path, false, &root, err);
	if (r < 0) {
		berth_err_prefix(err, "logout from '%s'", host);
		return r;
	}
	json_t *auths = root ? json_object_get(root, "auths") : NULL;
	_cleanup_free_ char *want = berth__creds_normalize(host);
	if (!json_is_object(auths) || auths_drop(auths, want) == 0)
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "not logged in to '%s' (nothing saved for it in '%s')", host,
				     path);
	return login_write(path, root, err);
}

/* ------------------------------------------------------------ local hosts */

bool berth_registry_host_is_local(const char *host)
{
	if (!host || !*host || strlen(host) > BERTH__REG_HOST_MAX)
		return false;
	char name[BERTH__REG_HOST_MAX + 1];
	const char *port;
	bool bracketed = host[0] == '[';
	if (bracketed) {
		const char *close = strchr(host, ']');
		if (!close)
			return false;
		size_t n = (size_t)(close - host - 1);
		memcpy(name, host + 1, n);
		name[n] = '\0';
		port = close + 1;
	} else if (strchr(host, ':') != strrchr(host, ':')) {
		/* Several colons and no brackets: a bare IPv6 address. */
		memcpy(name, host, strlen(host) + 1);
		port = "";
	} else {
		size_t n = strcspn(host, ":");
		memcpy(name, host, n);
		name[n] = '\0';
		port = host + n;
	}
	if (*port) {
		if (*port != ':' || !port[1] || strlen(port + 1) > 5)
			return false;
		for (const char *p = port + 1; *p; p++)
			if (!isdigit((unsigned char)*p))
				return false;
	}
	if (!bracketed && strcasecmp(name, "localhost") == 0)
		return true;
	struct in_addr a4;
	if (!bracketed && inet_pton(AF_INET, name, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	struct in6_addr a6;
	if (inet_pton(AF_INET6, name, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}
