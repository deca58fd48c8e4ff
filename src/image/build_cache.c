/* The build cache: step key -> the layer that step made, in berth.db. The
 * layer itself lives in the store like any other (layers/ and blobs/). */
#include "image/image_int.h"

#include <string.h>
#include <time.h>

static void copy_digest(char *dst, const unsigned char *src)
{
	size_t n = src ? strlen((const char *)src) : 0;
	if (n > BERTH_DIGEST_LEN)
		n = 0; /* not a digest of ours: reads as empty, fails validation */
	memcpy(dst, src ? (const char *)src : "", n);
	dst[n] = '\0';
}

int berth_store_cache_get(struct berth_store *s, const char *key, struct berth_cache_rec *out,
			  struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	sqlite3 *db = berth__store_db(s);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT chain, diff_id, digest, size, created FROM build_cache "
			       "WHERE key = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return berth_err_set(err, BERTH_E_SYS, "build cache: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		copy_digest(out->chain, sqlite3_column_text(st, 0));
		copy_digest(out->diff_id, sqlite3_column_text(st, 1));
		copy_digest(out->digest, sqlite3_column_text(st, 2));
		out->size = sqlite3_column_int64(st, 3);
		out->created = sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return berth_err_set(err, BERTH_E_NOT_FOUND, "no cached layer for %.19s", key);
	if (rc != SQLITE_ROW)
		return berth_err_set(err, BERTH_E_SYS, "build cache: %s", sqlite3_errmsg(db));
	if (berth_digest_valid(out->chain) && berth_digest_valid(out->diff_id) &&
	    berth_digest_valid(out->digest) && berth_store_layer_ready(s, out->chain) &&
	    berth_blob_exists(s, out->digest))
		return 0;
	/* Its layer was removed (berth image rm): forget the record. */
	if (sqlite3_prepare_v2(db, "DELETE FROM build_cache WHERE key = ?1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	memset(out, 0, sizeof(*out));
	return berth_err_set(err, BERTH_E_NOT_FOUND, "the cached layer for %.19s is gone", key);
}

int berth_store_cache_put(struct berth_store *s, const char *key, const struct berth_cache_rec *rec,
			  struct berth_err **err)
{
	sqlite3 *db = berth__store_db(s);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO build_cache "
			       "(key, chain, diff_id, digest, size, created) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			       -1, &st, NULL) != SQLITE_OK)
		return berth_err_set(err, BERTH_E_SYS, "build cache: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rec->chain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rec->diff_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, rec->digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, rec->size);
	sqlite3_bind_int64(st, 6, rec->created ? rec->created : (int64_t)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return berth_err_set(err, BERTH_E_SYS, "build cache: %s", sqlite3_errmsg(db));
	return 0;
}

int berth_store_step_inputs_get(struct berth_store *s, const char *scope, int stage, int step,
				char **inputs, struct berth_err **err)
{
	*inputs = NULL;
	sqlite3 *db = berth__store_db(s);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT inputs FROM build_steps WHERE scope = ?1 AND stage = ?2 AND "
			       "step = ?3",
			       -1, &st, NULL) != SQLITE_OK)
		return berth_err_set(err, BERTH_E_SYS, "build steps: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, stage);
	sqlite3_bind_int(st, 3, step);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
		*inputs = berth_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return berth_err_set(err, BERTH_E_SYS, "build steps: %s", sqlite3_errmsg(db));
	return 0;
}

int berth_store_step_inputs_put(struct berth_store *s, const char *scope, int stage, int step,
				const char *inputs, struct berth_err **err)
{
	sqlite3 *db = berth__store_db(s);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO build_steps (scope, stage, step, inputs) "
			       "VALUES (?1, ?2, ?3, ?4)",
			       -1, &st, NULL) != SQLITE_OK)
		return berth_err_set(err, BERTH_E_SYS, "build steps: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, stage);
	sqlite3_bind_int(st, 3, step);
	sqlite3_bind_text(st, 4, inputs, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return berth_err_set(err, BERTH_E_SYS, "build steps: %s", sqlite3_errmsg(db));
	return 0;
}
