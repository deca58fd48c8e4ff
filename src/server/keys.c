/* API keys: "<id>:<secret>", the secret kept only as its SHA-256 (hex) in
 * srv_keys. The active keys are cached in memory (loaded on first use,
 * changed with the table under the database lock) so that checking a key
 * on every request never waits behind a queue write's fsync.
 *
 * Keys are "on" once any key exists; then the admin API needs an admin key
 * and private apps an invoke or admin key. An invoke key cannot be the
 * first, and the last admin key cannot go while invoke keys remain: keys
 * on always means an admin key exists, so nobody is ever locked out. */
#include "server/server_int.h"

#include "common/crypto_api.h"

#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Random bytes of an id and of a secret (hex doubles them). */
#define KEY_ID_BYTES     8
#define KEY_SECRET_BYTES 32
#define KEY_ID_LEN       (2 * KEY_ID_BYTES)
#define KEY_SECRET_LEN   (2 * KEY_SECRET_BYTES)
/* The most active keys, and the longest description (bytes). */
#define SRV_KEYS_MAX            1000u
#define SRV_KEY_DESCRIPTION_MAX 256u

struct srv_key {
	char id[KEY_ID_LEN + 1];
	uint8_t hash[BERTH_SHA256_LEN];
	enum srv_scope scope;
};

struct srv_keys {
	pthread_rwlock_t lock;
	struct srv_key *v;
	size_t n, cap;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *scope_name(enum srv_scope s)
{
	return s == SRV_ADMIN ? "admin" : "invoke";
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 64 lower-case hex digits into 32 bytes; false when s is not that. */
static bool unhex_hash(const char *s, uint8_t out[BERTH_SHA256_LEN])
{
	if (!s || strlen(s) != BERTH_SHA256_HEX_LEN)
		return false;
	for (size_t i = 0; i < BERTH_SHA256_LEN; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool id_valid(const char *id, size_t len)
{
	if (len != KEY_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (hex_value(id[i]) < 0)
			return false;
	return true;
}

/* UTF-8 (jansson checks it) without control characters: it is printed in
 * a terminal by `berth keys list`. */
static bool description_valid(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

static void cache_add(struct srv_keys *k, const char *id, const uint8_t hash[BERTH_SHA256_LEN],
		      enum srv_scope scope)
{
	k->v = berth_xgrow(k->v, sizeof(*k->v), k->n + 1, &k->cap);
	struct srv_key *e = &k->v[k->n++];
	snprintf(e->id, sizeof(e->id), "%s", id);
	memcpy(e->hash, hash, BERTH_SHA256_LEN);
	e->scope = scope;
}

static void cache_free(struct srv_keys *k)
{
	if (!k)
		return;
	pthread_rwlock_destroy(&k->lock);
	free(k->v);
	free(k);
}

/* Read the active keys. Call with the database lock held. */
static struct srv_keys *cache_load(struct berth_srv *srv, struct berth_err **err)
{
	struct srv_keys *k = berth_xcalloc(1, sizeof(*k));
	pthread_rwlock_init(&k->lock, NULL);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db,
			       "SELECT id, hash, scope FROM srv_keys WHERE revoked IS NULL", -1,
			       &st, NULL) != SQLITE_OK) {
		srv_db_fail(srv, "read the API keys", err);
		cache_free(k);
		return NULL;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *hash = (const char *)sqlite3_column_text(st, 1);
		const char *scope = (const char *)sqlite3_column_text(st, 2);
		uint8_t h[BERTH_SHA256_LEN];
		/* A row that is not ours (edited by hand) matches no key. */
		if (!id || !id_valid(id, strlen(id)) || !unhex_hash(hash, h) || !scope)
			continue;
		cache_add(k, id, h, !strcmp(scope, "admin") ? SRV_ADMIN : SRV_INVOKE);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		srv_db_fail(srv, "read the API keys", err);
		cache_free(k);
		return NULL;
	}
	return k;
}

/* The cache, loaded on the first call; NULL when the table cannot be read
 * (then callers fail closed). With `locked`, the caller holds the
 * database lock. */
static struct srv_keys *cache_get(struct berth_srv *srv, bool locked)
{
	struct srv_keys *k = __atomic_load_n(&srv->keys, __ATOMIC_ACQUIRE);
	if (k)
		return k;
	if (!locked)
		srv_db_lock(srv);
	k = srv->keys;
	if (!k) {
		struct berth_err *err = NULL;
		k = cache_load(srv, &err);
		if (k) {
			__atomic_store_n(&srv->keys, k, __ATOMIC_RELEASE);
		} else {
			berth_log(BERTH_LOG_ERROR, "api keys: %s", err->msg);
			berth_err_free(err);
		}
	}
	if (!locked)
		srv_db_unlock(srv);
	return k;
}

void srv_keys_release(struct berth_srv *srv)
{
	cache_free(srv->keys);
	srv->keys = NULL;
}

bool srv_keys_any(struct berth_srv *srv)
{
	struct srv_keys *k = cache_get(srv, false);
	if (!k)
		return true; /* cannot tell: fail closed */
	pthread_rwlock_rdlock(&k->lock);
	bool any = k->n > 0;
	pthread_rwlock_unlock(&k->lock);
	return any;
}

bool srv_keys_invoke_ok(const struct srv_req *rq, enum berth_app_auth auth)
{
	if (auth == BERTH_APP_AUTH_PUBLIC)
		return true;
	/* Shared and private are the same on a server with one owner. */
	return rq->key_scope >= SRV_INVOKE || !srv_keys_any(rq->srv);
}

bool srv_gate_key(struct srv_req *rq, struct srv_resp *rs)
{
	if (srv_keys_invoke_ok(rq, BERTH_APP_AUTH_PRIVATE))
		return true;
	srv_error(rs, rq->key_id ? 403 : 401, "auth",
		  "this needs an invoke or admin key: Authorization: Key <key> (berth keys create "
		  "--scope invoke)");
	return false;
}

void srv_keys_authenticate(struct srv_req *rq)
{
	srv_keys_authenticate_value(rq, srv_req_header(rq, "Authorization"));
}

void srv_keys_authenticate_value(struct srv_req *rq, const char *h)
{
	rq->key_id = NULL;
	rq->key_scope = SRV_PUBLIC;
	if (!h)
		return;
	while (*h == ' ')
		h++;
	if (!strncasecmp(h, "Key ", 4))
		h += 4;
	else if (!strncasecmp(h, "Bearer ", 7))
		h += 7;
	else
		return;
	while (*h == ' ')
		h++;
	const char *token = rq->srv->local_token;
	if (!strncmp(h, "local:", 6) && *token) {
		const char *t = h + 6;
		size_t tlen = strcspn(t, " \t");
		if (tlen == strlen(token) && CRYPTO_memcmp(t, token, tlen) == 0) {
			rq->key_id = berth_xstrdup("local");
			rq->key_scope = SRV_ADMIN;
		}
		return;
	}
	const char *colon = strchr(h, ':');
	if (!colon || !id_valid(h, (size_t)(colon - h)))
		return;
	const char *secret = colon + 1;
	size_t slen = strcspn(secret, " \t");
	if (slen != KEY_SECRET_LEN)
		return;
	uint8_t hash[BERTH_SHA256_LEN];
	berth_sha256(secret, slen, hash);
	struct srv_keys *k = cache_get(rq->srv, false);
	if (!k)
		return;
	pthread_rwlock_rdlock(&k->lock);
	for (size_t i = 0; i < k->n; i++) {
		if (memcmp(k->v[i].id, h, KEY_ID_LEN) != 0)
			continue;
		/* The id is public; the secret's hash is compared in constant time. */
		if (CRYPTO_memcmp(k->v[i].hash, hash, sizeof(hash)) == 0) {
			rq->key_id = berth_xstrndup(h, KEY_ID_LEN);
			rq->key_scope = k->v[i].scope;
		}
		break;
	}
	pthread_rwlock_unlock(&k->lock);
}

int srv_local_token_make(struct berth_srv *srv, struct berth_err **err)
{
	return berth_random_hex(SRV_LOCAL_TOKEN_BYTES, srv->local_token, err);
}

int srv_local_token_publish(struct berth_srv *srv, unsigned port, struct berth_err **err)
{
	srv->local_token_path = berth_xasprintf("%s/serve.%u.token", srv->home, port);
	char line[sizeof(srv->local_token) + 1];
	snprintf(line, sizeof(line), "%s\n", srv->local_token);
	int r =
	    berth_fs_write_replace(AT_FDCWD, srv->local_token_path, line, strlen(line), 0600, err);
	OPENSSL_cleanse(line, sizeof(line));
	return r;
}

void srv_local_token_withdraw(struct berth_srv *srv)
{
	if (srv->local_token_path)
		unlink(srv->local_token_path);
	free(srv->local_token_path);
	srv->local_token_path = NULL;
	OPENSSL_cleanse(srv->local_token, sizeof(srv->local_token));
}

/* Count active keys of a scope in the cache (database lock held). */
static size_t count_scope(struct srv_keys *k, enum srv_scope scope)
{
	size_t n = 0;
	for (size_t i = 0; i < k->n; i++)
		n += k->v[i].scope == scope;
	return n;
}

int srv_keys_create(struct berth_srv *srv, enum srv_scope scope, const char *description,
		    char **id_out, char **key_out, struct berth_err **err)
{
	if (scope != SRV_ADMIN && scope != SRV_INVOKE)
		return berth_err_set(err, BERTH_E_INVALID, "a key's scope is admin or invoke");
	if (description && strlen(description) > SRV_KEY_DESCRIPTION_MAX)
		return berth_err_set(err, BERTH_E_INVALID,
				     "the description is longer than %u bytes",
				     SRV_KEY_DESCRIPTION_MAX);
	if (description && !description_valid(description))
		return berth_err_set(err, BERTH_E_INVALID,
				     "the description must be UTF-8 text without control "
				     "characters");
	char id[KEY_ID_LEN + 1], secret[KEY_SECRET_LEN + 1];
	if (berth_random_hex(KEY_ID_BYTES, id, err) < 0 ||
	    berth_random_hex(KEY_SECRET_BYTES, secret, err) < 0)
		return -1;
	uint8_t hash[BERTH_SHA256_LEN];
	char hash_hex[BERTH_SHA256_HEX_LEN + 1];
	berth_sha256(secret, KEY_SECRET_LEN, hash);
	berth_hex_encode(hash, sizeof(hash), hash_hex);

	int r = 0;
	srv_db_lock(srv);
	struct srv_keys *k = cache_get(srv, true);
	sqlite3_stmt *st = NULL;
	if (!k) {
		r = berth_err_set(err, BERTH_E_SYS, "the API keys cannot be read (see the log)");
	} else if (k->n >= SRV_KEYS_MAX) {
		r = berth_err_set(err, BERTH_E_LIMIT,
				  "there are already %u active keys: revoke some first (berth keys "
				  "revoke ID)",
				  SRV_KEYS_MAX);
	} else if (scope == SRV_INVOKE && count_scope(k, SRV_ADMIN) == 0) {
		r = berth_err_set(err, BERTH_E_EXISTS,
				  "create an admin key first (berth keys create --scope admin): "
				  "once a key exists the admin API needs one");
	} else if (sqlite3_prepare_v2(srv->db,
				      "INSERT INTO srv_keys(id, hash, scope, description, created) "
				      "VALUES(?, ?, ?, ?, ?)",
				      -1, &st, NULL) != SQLITE_OK) {
		r = srv_db_fail(srv, "store the key", err);
	} else {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, hash_hex, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, scope_name(scope), -1, SQLITE_STATIC);
		if (description && *description)
			sqlite3_bind_text(st, 4, description, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_double(st, 5, now());
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = srv_db_fail(srv, "store the key", err);
		} else {
			pthread_rwlock_wrlock(&k->lock);
			cache_add(k, id, hash, scope);
			pthread_rwlock_unlock(&k->lock);
		}
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	if (r == 0) {
		*id_out = berth_xstrdup(id);
		*key_out = berth_xasprintf("%s:%s", id, secret);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	return r;
}

int srv_keys_revoke(struct berth_srv *srv, const char *id, struct berth_err **err)
{
	int r = 0;
	srv_db_lock(srv);
	struct srv_keys *k = cache_get(srv, true);
	size_t at = 0;
	if (k)
		for (at = 0; at < k->n; at++)
			if (!strcmp(k->v[at].id, id))
				break;
	sqlite3_stmt *st = NULL;
	if (!k) {
		r = berth_err_set(err, BERTH_E_SYS, "the API keys cannot be read (see the log)");
	} else if (at == k->n) {
		r = berth_err_set(err, BERTH_E_NOT_FOUND,
				  "no active key '%s' (berth keys list shows them)", id);
	} else if (k->v[at].scope == SRV_ADMIN && count_scope(k, SRV_ADMIN) == 1 &&
		   count_scope(k, SRV_INVOKE) > 0) {
		r = berth_err_set(err, BERTH_E_EXISTS,
				  "'%s' is the last admin key and invoke keys remain: revoke them "
				  "first, or create another admin key",
				  id);
	} else if (sqlite3_prepare_v2(srv->db,
				      "UPDATE srv_keys SET revoked = ? WHERE id = ? AND revoked IS "
				      "NULL",
				      -1, &st, NULL) != SQLITE_OK) {
		r = srv_db_fail(srv, "revoke the key", err);
	} else {
		sqlite3_bind_double(st, 1, now());
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			r = srv_db_fail(srv, "revoke the key", err);
		} else {
			pthread_rwlock_wrlock(&k->lock);
			k->v[at] = k->v[--k->n];
			pthread_rwlock_unlock(&k->lock);
		}
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	return r;
}

json_t *srv_keys_list(struct berth_srv *srv, bool all, struct berth_err **err)
{
	json_t *arr = json_array();
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(srv->db,
				    all ? "SELECT id, scope, description, created, revoked FROM "
					  "srv_keys ORDER BY created, id"
					: "SELECT id, scope, description, created, revoked FROM "
					  "srv_keys WHERE revoked IS NULL ORDER BY created, id",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *desc = (const char *)sqlite3_column_text(st, 2);
			json_t *o = json_pack("{s:s?, s:s?, s:o, s:f, s:o}", "id",
					      (const char *)sqlite3_column_text(st, 0), "scope",
					      (const char *)sqlite3_column_text(st, 1),
					      "description", desc ? json_string(desc) : json_null(),
					      "created", sqlite3_column_double(st, 3), "revoked",
					      sqlite3_column_type(st, 4) == SQLITE_NULL
						  ? json_null()
						  : json_real(sqlite3_column_double(st, 4)));
			if (o)
				json_array_append_new(arr, o);
		}
	}
	if (rc != SQLITE_DONE) {
		srv_db_fail(srv, "list the API keys", err);
		json_decref(arr);
		arr = NULL;
	}
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	return arr;
}
