/* The file store: uploads kept by content (the SHA-256 of their bytes) in
 * $BERTH_HOME/files/sha256/<hex>, and a row per (digest, name) in
 * srv_files that gives them a name and a content type. The same bytes
 * uploaded twice, under any names, are stored once; a blob is removed with
 * the last row that names it. Downloads are public and immutable: the URL
 * names the content, so it can be cached forever.
 *
 *   POST   /v1/files?name=NAME       the body is the file (SRV_INVOKE: apps
 *                                    upload their results with their key)
 *   GET    /files/{digest}/{name}    the bytes (SRV_PUBLIC)
 *   GET    /v1/files[?digest=D]      the rows (SRV_ADMIN)
 *   DELETE /v1/files/{digest}[?name=N] rows, then the blob (SRV_ADMIN)
 *
 * Blobs are written to a temp file, fsynced and renamed (common/fs.h), and
 * only under names that are checked to be 64 hex digits: a request never
 * names a path. Rows and the unlink of a blob change under the database
 * lock, and an upload checks its blob is there after adding its row, so a
 * delete racing an upload of the same bytes cannot leave a row without
 * its blob. */
#include "server/server_int.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The longest file name and content type (bytes). */
#define SRV_FILE_NAME_MAX 255u
#define SRV_FILE_TYPE_MAX 255u
/* Files up to this size are answered from memory (with a Content-Length);
 * larger ones are streamed from the blob. */
#define SRV_FILE_INLINE_MAX (4u << 20)
/* Rows listed per call by default, and at most. */
#define SRV_FILES_LIST_DEFAULT 1000
#define SRV_FILES_LIST_MAX     10000
/* A year: the files are immutable. */
#define SRV_FILE_CACHE_CONTROL "public, max-age=31536000, immutable"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "sha256:<64 lower-case hex>" or the 64 hex digits alone, into hex. */
static bool parse_digest(const char *s, char hex[BERTH_SHA256_HEX_LEN + 1])
{
	if (!strncmp(s, "sha256:", 7))
		s += 7;
	if (strlen(s) != BERTH_SHA256_HEX_LEN ||
	    strspn(s, "0123456789abcdef") != BERTH_SHA256_HEX_LEN)
		return false;
	memcpy(hex, s, BERTH_SHA256_HEX_LEN + 1);
	return true;
}

static bool bad_digest(struct srv_resp *rs, const char *s)
{
	srv_error(rs, 400, "invalid", "'%.80s%s' is not a digest: expected sha256:<64 hex digits>",
		  s, strlen(s) > 80 ? "..." : "");
	return true;
}

/* A file name: 1 to 255 bytes of UTF-8, no '/', no control characters,
 * not "." or "..". It is never a path (blobs are named by digest), but it
 * is a URL segment and a download's name. */
static bool name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SRV_FILE_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			return false;
	json_t *j = json_string(s); /* NULL unless UTF-8 */
	json_decref(j);
	return j != NULL;
}

/* A media type as sent: printable ASCII (it goes back out as a header). */
static bool type_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SRV_FILE_TYPE_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	return true;
}

/* Percent-encode all but RFC 3986's unreserved characters. */
static void add_escaped(struct berth_buf *out, const char *s)
{
	static const char digits[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			berth_buf_addch(out, (char)*p);
		} else {
			berth_buf_addch(out, '%');
			berth_buf_addch(out, digits[*p >> 4]);
			berth_buf_addch(out, digits[*p & 15]);
		}
	}
}

static char *file_url(struct berth_srv *srv, const char *hex, const char *name)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	berth_buf_addf(&b, "%s/files/sha256:%s/", srv->public_url ? srv->public_url : "", hex);
	add_escaped(&b, name);
	return berth_buf_steal(&b, NULL);
}

/* The directory of blobs, made on first use. */
static int blobs_open(struct berth_srv *srv, bool create, struct berth_err **err)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/files/sha256", srv->home);
	if (create && berth_fs_mkdir_p(path, 0755, err) < 0)
		return berth_err_prefix(err, "file store");
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "file store: open '%s'", path);
	return fd;
}

/* Whether the blob `hex` holds exactly data/len (a blob cut short by a
 * crash of an older berth or edited by hand is rewritten, not trusted). */
static bool blob_same(int dirfd, const char *hex, const void *data, size_t len)
{
	_cleanup_close_ int fd = openat(dirfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
		return false;
	char chunk[64 * 1024];
	size_t off = 0;
	while (off < len) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (size_t)n > len - off ||
		    memcmp(chunk, (const char *)data + off, (size_t)n) != 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

/* Store the blob unless an identical one is there. */
static int blob_store(int dirfd, const char *hex, const void *data, size_t len,
		      struct berth_err **err)
{
	if (blob_same(dirfd, hex, data, len))
		return 0;
	if (berth_fs_write_atomic(dirfd, hex, data, len, 0644, err) < 0)
		return berth_err_prefix(err, "file store: write 'sha256:%s'", hex);
	return 0;
}

static void db_failed(struct berth_srv *srv, struct srv_resp *rs, const char *what)
{
	struct berth_err *err = NULL;
	srv_db_fail(srv, what, &err);
	srv_fail(rs, err);
}

static json_t *row_json(struct berth_srv *srv, const char *hex, const char *name, int64_t size,
			const char *type, double created)
{
	_cleanup_free_ char *url = file_url(srv, hex, name);
	_cleanup_free_ char *digest = berth_xasprintf("sha256:%s", hex);
	return json_pack("{s:s, s:s, s:I, s:s?, s:f, s:s}", "digest", digest, "name", name, "size",
			 (json_int_t)size, "content_type", type, "created", created, "url", url);
}

static void files_upload(struct srv_req *rq, struct srv_resp *rs)
{
	struct berth_srv *srv = rq->srv;
	if (!srv_gate_key(rq, rs))
		return;
	_cleanup_free_ char *name = srv_query(rq, "name");
	if (!name) {
		srv_error(rs, 400, "invalid", "give the file a name: POST /v1/files?name=NAME");
		return;
	}
	if (!name_valid(name)) {
		srv_error(rs, 400, "invalid",
			  "invalid file name '%.64s%s': 1 to %u bytes of UTF-8, without '/', '\\' "
			  "or control characters, not '.' or '..'",
			  name, strlen(name) > 64 ? "..." : "", SRV_FILE_NAME_MAX);
		return;
	}
	const char *type = srv_req_header(rq, "Content-Type");
	if (!type || !*type)
		type = "application/octet-stream";
	if (!type_valid(type)) {
		srv_error(rs, 400, "invalid",
			  "invalid Content-Type: printable ASCII, at most %u bytes",
			  SRV_FILE_TYPE_MAX);
		return;
	}
	if (rq->body_len > BERTH_FRONT_BODY_MAX) { /* http.c answers 413 before this */
		srv_error(rs, 413, "limit", "the file is over %u bytes", BERTH_FRONT_BODY_MAX);
		return;
	}
	char hex[BERTH_SHA256_HEX_LEN + 1], want[BERTH_SHA256_HEX_LEN + 1];
	berth_sha256_hex(rq->body, rq->body_len, hex);
	_cleanup_free_ char *expect = srv_query(rq, "digest");
	if (expect && !parse_digest(expect, want)) {
		bad_digest(rs, expect);
		return;
	}
	if (expect && strcmp(want, hex) != 0) {
		srv_error(rs, 400, "digest_mismatch",
			  "the body's digest is sha256:%s, not sha256:%s: the upload was damaged "
			  "on the way",
			  hex, want);
		return;
	}

	struct berth_err *err = NULL;
	_cleanup_close_ int dirfd = blobs_open(srv, true, &err);
	if (dirfd < 0 || blob_store(dirfd, hex, rq->body, rq->body_len, &err) < 0) {
		srv_fail(rs, err);
		return;
	}
	double created = now();
	bool is_new = false, ok = false;
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db,
			       "INSERT INTO srv_files(digest, name, size, content_type, created) "
			       "VALUES(?, ?, ?, ?, ?) ON CONFLICT(digest, name) DO UPDATE SET "
			       "content_type = excluded.content_type RETURNING created",
			       -1, &st, NULL) == SQLITE_OK) {
		_cleanup_free_ char *digest = berth_xasprintf("sha256:%s", hex);
		sqlite3_bind_text(st, 1, digest, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)rq->body_len);
		sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 5, created);
		if (sqlite3_step(st) == SQLITE_ROW) {
			double was = sqlite3_column_double(st, 0);
			is_new = was == created;
			created = was;
			ok = sqlite3_step(st) == SQLITE_DONE;
		}
	}
	if (!ok)
		db_failed(srv, rs, "file store: add the file");
	sqlite3_finalize(st);
	/* A delete of the same bytes may have removed the blob since it was
	 * written: with the row in, put it back. */
	struct stat sb;
	if (ok && fstatat(dirfd, hex, &sb, AT_SYMLINK_NOFOLLOW) < 0 &&
	    blob_store(dirfd, hex, rq->body, rq->body_len, &err) < 0) {
		ok = false;
		srv_fail(rs, err);
	}
	srv_db_unlock(srv);
	if (ok)
		srv_json(rs, is_new ? 201 : 200,
			 row_json(srv, hex, name, (int64_t)rq->body_len, type, created));
}

/* A blob streamed to the client. */
static ssize_t blob_read(void *ctx, char *buf, size_t max)
{
	int fd = (int)(intptr_t)ctx;
	for (;;) {
		ssize_t n = read(fd, buf, max);
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 ? n : -1; /* end, or an error: the answer stops short */
	}
}

static void blob_close(void *ctx)
{
	close((int)(intptr_t)ctx);
}

/* Whether If-None-Match (a list of entity tags, or "*") holds `etag`. */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		if (*p == '*')
			return true;
		if (!strncmp(p, "W/", 2)) /* weak comparison (RFC 9110 13.1.2) */
			p += 2;
		size_t n = strcspn(p, ", \t");
		if (n == elen && !memcmp(p, etag, n))
			return true;
		p += n;
	}
	return false;
}

static void files_download(struct srv_req *rq, struct srv_resp *rs)
{
	struct berth_srv *srv = rq->srv;
	const char *name = rq->params[1];
	char hex[BERTH_SHA256_HEX_LEN + 1];
	if (!parse_digest(rq->params[0], hex) && bad_digest(rs, rq->params[0]))
		return;
	if (!name_valid(name)) {
		srv_error(rs, 400, "invalid", "invalid file name '%.64s'", name);
		return;
	}
	_cleanup_free_ char *digest = berth_xasprintf("sha256:%s", hex);
	_cleanup_free_ char *type = NULL;
	int64_t size = -1;
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(srv->db,
				    "SELECT size, content_type FROM srv_files WHERE digest = ? AND "
				    "name = ?",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			size = sqlite3_column_int64(st, 0);
			const char *t = (const char *)sqlite3_column_text(st, 1);
			type = berth_xstrdup(t ? t : "application/octet-stream");
			rc = SQLITE_DONE;
		}
	}
	if (rc != SQLITE_DONE)
		db_failed(srv, rs, "file store: find the file");
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	if (rc != SQLITE_DONE)
		return;
	if (size < 0) {
		srv_error(rs, 404, "not_found", "no file '%s' with digest %s", name, digest);
		return;
	}
	_cleanup_free_ char *etag = berth_xasprintf("\"%s\"", digest);
	srv_header(rs, "ETag", etag);
	srv_header(rs, "Cache-Control", SRV_FILE_CACHE_CONTROL);
	const char *inm = srv_req_header(rq, "If-None-Match");
	if (inm && etag_matches(inm, etag)) {
		rs->status = 304;
		return;
	}
	struct berth_err *err = NULL;
	_cleanup_close_ int dirfd = blobs_open(srv, false, &err);
	_cleanup_close_ int fd =
	    dirfd < 0 ? -1 : openat(dirfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	if (dirfd >= 0 && (fd < 0 || fstat(fd, &sb) < 0 || sb.st_size != size))
		berth_err_set(&err, BERTH_E_INTERNAL,
			      "file store: the bytes of %s are missing or damaged "
			      "(files/sha256/%s): upload the file again",
			      digest, hex);
	if (err) {
		berth_strv_release(&rs->headers);
		srv_fail(rs, err);
		return;
	}
	srv_header(rs, "Content-Type", type);
	srv_header(rs, "X-Content-Type-Options", "nosniff");
	_cleanup_buf_ struct berth_buf disp;
	berth_buf_init(&disp, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&disp, "inline; filename*=UTF-8''");
	add_escaped(&disp, name);
	srv_header(rs, "Content-Disposition", disp.data);
	rs->status = 200;
	if (size > (int64_t)SRV_FILE_INLINE_MAX) {
		rs->stream = blob_read;
		rs->stream_free = blob_close;
		rs->stream_ctx = (void *)(intptr_t)fd;
		fd = -1; /* blob_close closes it */
		return;
	}
	berth_buf_reset(&rs->body);
	char chunk[64 * 1024];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			berth_strv_release(&rs->headers);
			berth_err_sys(&err, errno, "file store: read %s", digest);
			srv_fail(rs, err);
			return;
		}
		if (n == 0)
			break;
		berth_buf_add(&rs->body, chunk, (size_t)n);
	}
}

static void files_list(struct srv_req *rq, struct srv_resp *rs)
{
	struct berth_srv *srv = rq->srv;
	_cleanup_free_ char *want = srv_query(rq, "digest");
	_cleanup_free_ char *limit_s = srv_query(rq, "limit");
	char hex[BERTH_SHA256_HEX_LEN + 1];
	if (want && !parse_digest(want, hex) && bad_digest(rs, want))
		return;
	long limit = SRV_FILES_LIST_DEFAULT;
	if (limit_s) {
		char *end;
		errno = 0;
		limit = strtol(limit_s, &end, 10);
		if (!*limit_s || *end || errno || limit < 1 || limit > SRV_FILES_LIST_MAX) {
			srv_error(rs, 400, "invalid", "limit '%.32s' is not a number from 1 to %d",
				  limit_s, SRV_FILES_LIST_MAX);
			return;
		}
	}
	_cleanup_free_ char *digest = want ? berth_xasprintf("sha256:%s", hex) : NULL;
	json_t *files = json_array();
	bool more = false;
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	int rc =
	    sqlite3_prepare_v2(srv->db,
			       "SELECT digest, name, size, content_type, created FROM srv_files "
			       "WHERE ?1 IS NULL OR digest = ?1 ORDER BY created, digest, name "
			       "LIMIT ?2",
			       -1, &st, NULL);
	if (rc == SQLITE_OK) {
		if (digest)
			sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)limit + 1);
		long n = 0;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st, 0);
			const char *name = (const char *)sqlite3_column_text(st, 1);
			if (n++ == limit) {
				more = true;
				continue;
			}
			if (!d || strlen(d) != BERTH_DIGEST_LEN || !name)
				continue;
			json_t *o = row_json(srv, d + 7, name, sqlite3_column_int64(st, 2),
					     (const char *)sqlite3_column_text(st, 3),
					     sqlite3_column_double(st, 4));
			if (o)
				json_array_append_new(files, o);
		}
	}
	if (rc != SQLITE_DONE)
		db_failed(srv, rs, "file store: list the files");
	sqlite3_finalize(st);
	srv_db_unlock(srv);
	if (rc != SQLITE_DONE) {
		json_decref(files);
		return;
	}
	srv_json(rs, 200, json_pack("{s:o, s:b}", "files", files, "truncated", more));
}

static void files_delete(struct srv_req *rq, struct srv_resp *rs)
{
	struct berth_srv *srv = rq->srv;
	char hex[BERTH_SHA256_HEX_LEN + 1];
	if (!parse_digest(rq->params[0], hex) && bad_digest(rs, rq->params[0]))
		return;
	_cleanup_free_ char *name = srv_query(rq, "name");
	_cleanup_free_ char *digest = berth_xasprintf("sha256:%s", hex);
	struct berth_err *err = NULL;
	_cleanup_close_ int dirfd = blobs_open(srv, true, &err);
	if (dirfd < 0) {
		srv_fail(rs, err);
		return;
	}
	int removed = 0;
	bool ok = false, blob_gone = false;
	srv_db_lock(srv);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(srv->db,
			       "DELETE FROM srv_files WHERE digest = ?1 AND (?2 IS NULL OR name = "
			       "?2)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
		if (name)
			sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
		removed = sqlite3_changes(srv->db);
	}
	sqlite3_finalize(st);
	st = NULL;
	int left = -1;
	if (ok && sqlite3_prepare_v2(srv->db, "SELECT count(*) FROM srv_files WHERE digest = ?", -1,
				     &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			left = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	if (!ok || left < 0) {
		ok = false;
		db_failed(srv, rs, "file store: remove the file");
	} else if (left == 0) {
		if (unlinkat(dirfd, hex, 0) == 0) {
			blob_gone = true;
			fsync(dirfd);
		} else if (errno != ENOENT) {
			berth_log(BERTH_LOG_WARN, "file store: remove files/sha256/%s: %s", hex,
				  strerror(errno));
		}
	}
	srv_db_unlock(srv);
	if (!ok)
		return;
	if (!removed) {
		srv_error(rs, 404, "not_found", "no file %s%s%s%s", name ? "'" : "",
			  name ? name : "", name ? "' with digest " : "with digest ", digest);
		return;
	}
	srv_json(rs, 200,
		 json_pack("{s:s, s:i, s:b}", "digest", digest, "removed", removed, "blob_removed",
			   blob_gone));
}

const struct srv_route srv_routes_files[] = {
    {"POST", "/v1/files", SRV_INVOKE, files_upload, "files", srv_gate_key},
    {"GET", "/v1/files", SRV_ADMIN, files_list, "files", NULL},
    {"DELETE", "/v1/files/{digest}", SRV_ADMIN, files_delete, "files", NULL},
    {"GET", "/files/{digest}/{name}", SRV_PUBLIC, files_download, "files", NULL},
    {"HEAD", "/files/{digest}/{name}", SRV_PUBLIC, files_download, "files", NULL},
    {0},
};
