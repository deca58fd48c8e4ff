/* The secret store: one row per secret in the table `secrets` of
 * $BERTH_HOME/berth.db, holding a fresh random nonce and the secretbox of
 * "NAME\0VALUE". Sealing the name with the value means a row copied under
 * another name is detected on decryption; plaintext is wiped after use. */
#include "secrets/secrets_int.h"

#include "common/common.h"

#include "secrets/sodium_api.h"
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The table lives beside the image store's in berth.db. PRAGMA user_version
 * belongs to the image store, so this schema is versioned by its own shape:
 * CREATE ... IF NOT EXISTS, and later changes must add columns, not alter. */
static const char schema[] = "CREATE TABLE IF NOT EXISTS secrets ("
			     "  name TEXT PRIMARY KEY,"
			     "  nonce BLOB NOT NULL," /* crypto_secretbox_NONCEBYTES */
			     "  box BLOB NOT NULL,"   /* secretbox of name NUL value */
			     "  created INTEGER NOT NULL,"
			     "  updated INTEGER NOT NULL)";

/* Longest box a valid row can hold. */
#define BOX_MAX (crypto_secretbox_MACBYTES + BERTH_SECRET_NAME_MAX + 1 + BERTH_SECRET_VALUE_MAX)

struct berth_secrets {
	char *home;
	sqlite3 *db;
	unsigned char *key; /* BERTH_SECRET_KEY_LEN bytes, sodium_malloc: guarded, read-only */
};

static int db_fail(struct berth_secrets *s, const char *what, struct berth_err **err)
{
	return berth_err_set(err, BERTH_E_SYS, "secret store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int db_exec(struct berth_secrets *s, const char *sql, struct berth_err **err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = berth_err_set(err, BERTH_E_SYS, "secret store: %s",
				      msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

/* At open, several processes may create or convert a fresh berth.db at
 * once; SQLite answers "database is locked" without waiting for some of
 * that (the switch to WAL), so the set-up statements are retried. They are
 * idempotent; a half-run transaction is rolled back first. */
#define OPEN_RETRIES 400 /* x 25 ms: 10 s */
static int db_exec_at_open(struct berth_secrets *s, const char *sql, struct berth_err **err)
{
	for (int attempt = 0;; attempt++) {
		int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt == OPEN_RETRIES)
			return db_exec(s, sql, err);
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		struct timespec ts = {0, 25 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static void finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st); /* NULL is a no-op */
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static int prepare(struct berth_secrets *s, const char *sql, sqlite3_stmt **st,
		   struct berth_err **err)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(s, "prepare a statement", err);
	return 0;
}

static int db_open(struct berth_secrets *s, struct berth_err **err)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/berth.db", s->home);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		return berth_err_set(err, BERTH_E_SYS, "open state database '%s': %s", path,
				     s->db ? sqlite3_errmsg(s->db) : "out of memory");
	sqlite3_busy_timeout(s->db, 10000);
	/* secure_delete: the pages of replaced and removed boxes are zeroed,
	 * not left in the free list. */
	if (db_exec_at_open(s,
			    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			    "PRAGMA secure_delete=ON;",
			    err) < 0 ||
	    db_exec_at_open(s, schema, err) < 0)
		return berth_err_prefix(err, "state database '%s'", path);
	return 0;
}

int berth_secrets_open(const char *home, struct berth_secrets **out, struct berth_err **err)
{
	int r = berth__secrets_sodium_init(err);
	if (r < 0)
		return r;
	struct berth_secrets *s = berth_xcalloc(1, sizeof(*s));
	s->home = berth_xstrdup(home);
	s->key = sodium_malloc(BERTH_SECRET_KEY_LEN);
	if (!s->key)
		berth_oom();
	if ((r = berth_fs_mkdir_p(home, 0700, err)) < 0 ||
	    (r = berth__secrets_key_load(home, s->key, err)) < 0 || (r = db_open(s, err)) < 0) {
		berth_err_prefix(err, "secret store in '%s'", home);
		berth_secrets_close(s);
		return r;
	}
	sodium_mprotect_readonly(s->key);
	*out = s;
	return 0;
}

void berth_secrets_close(struct berth_secrets *s)
{
	if (!s)
		return;
	if (s->db)
		sqlite3_close(s->db);
	sodium_free(s->key); /* wipes */
	free(s->home);
	free(s);
}

bool berth_secret_name_valid(const char *name)
{
	size_t i = 0;
	for (; name[i]; i++) {
		char c = name[i];
		bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
		if (i >= BERTH_SECRET_NAME_MAX || !(alpha || (i > 0 && c >= '0' && c <= '9')))
			return false;
	}
	return i > 0;
}

static int invalid_name(const char *name, struct berth_err **err)
{
	return berth_err_set(err, BERTH_E_INVALID,
			     "invalid secret name '%.*s%s': use letters, digits and '_', not "
			     "starting with a digit, at most %d characters",
			     BERTH_SECRET_NAME_MAX, name,
			     strlen(name) > BERTH_SECRET_NAME_MAX ? "..." : "",
			     BERTH_SECRET_NAME_MAX);
}

static int not_set(const char *name, struct berth_err **err)
{
	return berth_err_set(err, BERTH_E_NOT_FOUND,
			     "secret '%s' is not set; set it with: berth secrets set %s=...", name,
			     name);
}

/* --- writing --- */

/* nonce and box (crypto_secretbox_MACBYTES + strlen(name) + 1 + len bytes,
 * free()) for name's value. */
static unsigned char *seal(const struct berth_secrets *s, const char *name, const void *value,
			   size_t len, unsigned char nonce[crypto_secretbox_NONCEBYTES],
			   size_t *boxlen)
{
	size_t nlen = strlen(name), ptlen = nlen + 1 + len;
	unsigned char *pt = berth_xmalloc(ptlen);
	memcpy(pt, name, nlen + 1);
	if (len)
		memcpy(pt + nlen + 1, value, len);
	*boxlen = crypto_secretbox_MACBYTES + ptlen;
	unsigned char *box = berth_xmalloc(*boxlen);
	randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box, pt, ptlen, nonce, s->key);
	sodium_memzero(pt, ptlen);
	free(pt);
	return box;
}

static int check_pairs(const struct berth_secret_pair *pairs, size_t n, struct berth_err **err)
{
	for (size_t i = 0; i < n; i++) {
		if (!berth_secret_name_valid(pairs[i].name))
			return invalid_name(pairs[i].name, err);
		if (pairs[i].len > BERTH_SECRET_VALUE_MAX)
			return berth_err_set(err, BERTH_E_LIMIT,
					     "secret '%s' is %zu bytes, over the limit of %u",
					     pairs[i].name, pairs[i].len, BERTH_SECRET_VALUE_MAX);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(pairs[i].name, pairs[j].name))
				return berth_err_set(err, BERTH_E_INVALID,
						     "secret '%s' is given twice", pairs[i].name);
	}
	return 0;
}

int berth_secrets_set_many(struct berth_secrets *s, const struct berth_secret_pair *pairs, size_t n,
			   struct berth_err **err)
{
	int r = check_pairs(pairs, n, err);
	if (r < 0)
		return r;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if ((r = prepare(s,
			 "INSERT INTO secrets (name, nonce, box, created, updated)"
			 " VALUES (?1, ?2, ?3, ?4, ?4)"
			 " ON CONFLICT (name) DO UPDATE SET"
			 " nonce = excluded.nonce, box = excluded.box, updated = excluded.updated",
			 &st, err)) < 0)
		return r;
	/* IMMEDIATE: take the write lock now rather than fail to upgrade. */
	if ((r = db_exec(s, "BEGIN IMMEDIATE", err)) < 0)
		return r;
	sqlite3_int64 now = (sqlite3_int64)time(NULL);
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char nonce[crypto_secretbox_NONCEBYTES];
		size_t boxlen;
		_cleanup_free_ unsigned char *box =
		    seal(s, pairs[i].name, pairs[i].value, pairs[i].len, nonce, &boxlen);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, pairs[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, nonce, sizeof(nonce), SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, box, (int)boxlen, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = berth_err_set(err, BERTH_E_SYS, "secret store: store secret '%s': %s",
					  pairs[i].name, sqlite3_errmsg(s->db));
		sqlite3_clear_bindings(st); /* before box goes */
	}
	sqlite3_reset(st);
	if (r == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = db_fail(s, "commit", err);
	if (r < 0 && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int berth_secrets_set(struct berth_secrets *s, const char *name, const void *value, size_t len,
		      struct berth_err **err)
{
	struct berth_secret_pair p = {name, value, len};
	return berth_secrets_set_many(s, &p, 1, err);
}

int berth_secrets_unset(struct berth_secrets *s, const char *name, struct berth_err **err)
{
	if (!berth_secret_name_valid(name))
		return invalid_name(name, err);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "DELETE FROM secrets WHERE name = ?1", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_fail(s, "remove a secret", err);
	if (sqlite3_changes(s->db) == 0)
		return berth_err_set(err, BERTH_E_NOT_FOUND, "secret '%s' is not set", name);
	return 0;
}

/* --- reading --- */

static int damaged(const char *name, const char *why, struct berth_err **err)
{
	return berth_err_set(err, BERTH_E_INTERNAL,
			     "secret '%s' %s; set it again with: berth secrets set %s=...", name,
			     why, name);
}

/* The value sealed in box for `name`, moved to the front of one allocation
 * that berth_secret_free() releases. */
static int open_box(const struct berth_secrets *s, const char *name, const unsigned char *nonce,
		    const unsigned char *box, size_t boxlen, char **value, size_t *len,
		    struct berth_err **err)
{
	size_t nlen = strlen(name);
	if (boxlen < crypto_secretbox_MACBYTES + nlen + 1 || boxlen > BOX_MAX)
		return damaged(name, "is damaged in the store (its box has a wrong size)", err);
	size_t ptlen = boxlen - crypto_secretbox_MACBYTES;
	char *pt = berth_xmalloc(ptlen + 1);
	if (crypto_secretbox_open_easy((unsigned char *)pt, box, boxlen, nonce, s->key) != 0) {
		free(pt); /* nothing was decrypted into it */
		return berth_err_set(
		    err, BERTH_E_INTERNAL,
		    "secret '%s' does not decrypt with '%s/secrets.key': the key "
		    "file does not match the store (was secrets.key replaced?); "
		    "put the original key file back, or set the secret again with: "
		    "berth secrets set %s=...",
		    name, s->home, name);
	}
	if (memcmp(pt, name, nlen + 1) != 0) {
		/* Authentic, so written by berth, but under another name. */
		char other[BERTH_SECRET_NAME_MAX + 1];
		size_t olen =
		    strnlen(pt, ptlen < BERTH_SECRET_NAME_MAX ? ptlen : BERTH_SECRET_NAME_MAX);
		memcpy(other, pt, olen);
		other[olen] = '\0';
		sodium_memzero(pt, ptlen);
		free(pt);
		_cleanup_free_ char *why = berth_xasprintf(
		    "holds the value of another secret ('%s'): rows of the state database were "
		    "swapped",
		    berth_secret_name_valid(other) ? other : "?");
		return damaged(name, why, err);
	}
	size_t vlen = ptlen - nlen - 1;
	memmove(pt, pt + nlen + 1, vlen);
	pt[vlen] = '\0';
	sodium_memzero(pt + vlen + 1, ptlen - vlen); /* the stale tail of the value */
	*value = pt;
	*len = vlen;
	return 0;
}

int berth_secrets_get(struct berth_secrets *s, const char *name, char **value, size_t *len,
		      struct berth_err **err)
{
	if (!berth_secret_name_valid(name))
		return invalid_name(name, err);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "SELECT nonce, box FROM secrets WHERE name = ?1", &st, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		return not_set(name, err);
	if (step != SQLITE_ROW)
		return db_fail(s, "read a secret", err);
	const unsigned char *nonce = sqlite3_column_blob(st, 0);
	if (!nonce || sqlite3_column_bytes(st, 0) != crypto_secretbox_NONCEBYTES)
		return damaged(name, "is damaged in the store (its nonce has a wrong size)", err);
	const unsigned char *box = sqlite3_column_blob(st, 1);
	size_t boxlen = (size_t)sqlite3_column_bytes(st, 1);
	return open_box(s, name, nonce, box ? box : (const unsigned char *)"", boxlen, value, len,
			err);
}

void berth_secret_free(char *value, size_t len)
{
	if (!value)
		return;
	sodium_memzero(value, len + 1);
	free(value);
}

int berth_secrets_list(struct berth_secrets *s, struct berth_secret_info **out, size_t *n,
		       struct berth_err **err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = prepare(s, "SELECT name, created, updated FROM secrets ORDER BY name", &st, err);
	if (r < 0)
		return r;
	struct berth_secret_info *v = NULL;
	size_t count = 0, cap = 0;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		v = berth_xgrow(v, sizeof(*v), count + 1, &cap);
		const char *name = (const char *)sqlite3_column_text(st, 0);
		v[count].name = berth_xstrdup(name ? name : "");
		v[count].created = sqlite3_column_int64(st, 1);
		v[count].updated = sqlite3_column_int64(st, 2);
		count++;
	}
	if (step != SQLITE_DONE) {
		for (size_t i = 0; i < count; i++)
			berth_secret_info_release(&v[i]);
		free(v);
		return db_fail(s, "list secrets", err);
	}
	*out = v;
	*n = count;
	return 0;
}

void berth_secret_info_release(struct berth_secret_info *i)
{
	free(i->name);
	i->name = NULL;
}

int berth_secrets_resolve(struct berth_secrets *s, const char *ref, char **out, size_t *len,
			  struct berth_err **err)
{
	if (ref[0] == '$') {
		size_t rlen = strlen(ref);
		_cleanup_free_ char *name = ref[1] == '{' && rlen > 3 && ref[rlen - 1] == '}'
						? berth_xstrndup(ref + 2, rlen - 3)
						: berth_xstrdup(ref + 1);
		if (berth_secret_name_valid(name))
			return berth_secrets_get(s, name, out, len, err);
	}
	*len = strlen(ref);
	*out = berth_xstrdup(ref);
	return 0;
}
