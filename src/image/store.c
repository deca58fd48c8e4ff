/* The image store: content-addressed blobs under blobs/sha256 (verified
 * while written, renamed into place only when right), tags in SQLite
 * (berth.db, WAL), and unpacked layer directories under layers/. Opening the
 * store removes what dead processes left half-done. */
#include "image/image_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_SCHEMA_VERSION 3

struct berth_store {
	char *home;
	int blobs_fd; /* blobs/sha256 */
	int tmp_fd;   /* blobs/tmp */
	sqlite3 *db;
};

struct berth_blob_writer {
	struct berth_store *s;
	int fd;
	char tmp_name[64];
	char expected[BERTH_DIGEST_LEN + 1];
	int64_t expected_size;
	int64_t size;
	struct berth_sha256 hash;
};

static int db_exec(sqlite3 *db, const char *sql, struct berth_err **err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int r = berth_err_set(err, BERTH_E_SYS, "state database: %s",
				      msg ? msg : sqlite3_errmsg(db));
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
static int db_exec_at_open(sqlite3 *db, const char *sql, struct berth_err **err)
{
	for (int attempt = 0;; attempt++) {
		int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt == OPEN_RETRIES)
			return db_exec(db, sql, err);
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		struct timespec ts = {0, 25 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int db_open(struct berth_store *s, struct berth_err **err)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/berth.db", s->home);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		return berth_err_set(err, BERTH_E_SYS, "open state database '%s': %s", path,
				     s->db ? sqlite3_errmsg(s->db) : "out of memory");
	sqlite3_busy_timeout(s->db, 10000);
	/* Keep berth.db-wal and -shm when the last connection closes (the WAL
	 * emptied): opening a WAL database creates and sizes them otherwise,
	 * which a full disk refuses, and then not even `berth images` could
	 * read the store. */
	int persist = 1;
	sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	if (db_exec_at_open(s->db,
			    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			    "PRAGMA journal_size_limit=4194304;",
			    err) < 0)
		return -BERTH_E_SYS;
	sqlite3_stmt *st = NULL;
	int version = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > STORE_SCHEMA_VERSION)
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "state database '%s' is from a newer berth (schema %d)", path,
				     version);
	if (version < 1 && db_exec_at_open(s->db,
					   "BEGIN;"
					   "CREATE TABLE IF NOT EXISTS images ("
					   "  name TEXT PRIMARY KEY,"
					   "  digest TEXT NOT NULL,"
					   "  media_type TEXT NOT NULL,"
					   "  size INTEGER NOT NULL,"
					   "  created INTEGER NOT NULL);"
					   "PRAGMA user_version = 1;"
					   "COMMIT;",
					   err) < 0)
		return -BERTH_E_SYS;
	/* 2: the build cache, a layer per step key (build/). */
	if (version < 2 && db_exec_at_open(s->db,
					   "BEGIN;"
					   "CREATE TABLE IF NOT EXISTS build_cache ("
					   "  key TEXT PRIMARY KEY,"
					   "  chain TEXT NOT NULL,"
					   "  diff_id TEXT NOT NULL,"
					   "  digest TEXT NOT NULL,"
					   "  size INTEGER NOT NULL,"
					   "  created INTEGER NOT NULL);"
					   "PRAGMA user_version = 2;"
					   "COMMIT;",
					   err) < 0)
		return -BERTH_E_SYS;
	/* 3: what each step of a build read last time, to say why it missed. */
	if (version < 3 && db_exec_at_open(s->db,
					   "BEGIN;"
					   "CREATE TABLE IF NOT EXISTS build_steps ("
					   "  scope TEXT NOT NULL,"
					   "  stage INTEGER NOT NULL,"
					   "  step INTEGER NOT NULL,"
					   "  inputs TEXT NOT NULL,"
					   "  PRIMARY KEY (scope, stage, step));"
					   "PRAGMA user_version = 3;"
					   "COMMIT;",
					   err) < 0)
		return -BERTH_E_SYS;
	return 0;
}

sqlite3 *berth__store_db(struct berth_store *s)
{
	return s->db;
}

/* Remove temp files of processes that are gone: names start "<pid>-". */
static void repair_tmp(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (e->d_name[0] == '.' || *end != '-' || pid <= 0)
			continue;
		if (pid == getpid() || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			if (unlinkat(dirfd, e->d_name, 0) < 0 && errno == EISDIR)
				berth_fs_remove_tree(dirfd, e->d_name, NULL);
	}
	closedir(d);
}

static int open_dir(const char *home, const char *sub, struct berth_err **err)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/%s", home, sub);
	if (berth_fs_mkdir_p(path, 0700, err) < 0)
		return -BERTH_E_SYS;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "open '%s'", path);
	return fd;
}

int berth_store_open(const char *home, struct berth_store **out, struct berth_err **err)
{
	struct berth_store *s = berth_xcalloc(1, sizeof(*s));
	s->home = berth_xstrdup(home);
	s->blobs_fd = s->tmp_fd = -1;
	int r;
	if ((r = berth_fs_mkdir_p(home, 0700, err)) < 0 ||
	    (r = s->blobs_fd = open_dir(home, "blobs/sha256", err)) < 0 ||
	    (r = s->tmp_fd = open_dir(home, "blobs/tmp", err)) < 0 || (r = db_open(s, err)) < 0) {
		berth_err_prefix(err, "state directory '%s'", home);
		berth_store_close(s);
		return r;
	}
	_cleanup_free_ char *layers = berth_xasprintf("%s/layers", home);
	if ((r = berth_fs_mkdir_p(layers, 0700, err)) < 0) {
		berth_store_close(s);
		return r;
	}
	repair_tmp(s->tmp_fd);
	_cleanup_close_ int lfd = open(layers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lfd >= 0)
		repair_tmp(lfd);
	*out = s;
	return 0;
}

void berth_store_close(struct berth_store *s)
{
	if (!s)
		return;
	if (s->db)
		sqlite3_close(s->db);
	if (s->blobs_fd >= 0)
		close(s->blobs_fd);
	if (s->tmp_fd >= 0)
		close(s->tmp_fd);
	free(s->home);
	free(s);
}

const char *berth_store_home(const struct berth_store *s)
{
	return s->home;
}

/* --- blobs --- */

static const char *hex_of(const char *digest)
{
	return digest + 7; /* after "sha256:" */
}

int berth_blob_writer_new(struct berth_store *s, const char *expected_digest, int64_t expected_size,
			  struct berth_blob_writer **out, struct berth_err **err)
{
	if (expected_digest && !berth_digest_valid(expected_digest))
		return berth_err_set(err, BERTH_E_INVALID, "invalid digest '%s'", expected_digest);
	struct berth_blob_writer *w = berth_xcalloc(1, sizeof(*w));
	w->s = s;
	w->expected_size = expected_size;
	if (expected_digest)
		snprintf(w->expected, sizeof(w->expected), "%s", expected_digest);
	static unsigned counter;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(w->tmp_name, sizeof(w->tmp_name), "%d-%u-%lx", (int)getpid(),
			 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), (long)random());
		w->fd =
		    openat(s->tmp_fd, w->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (w->fd >= 0 || errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		int e = errno;
		free(w);
		return berth_err_sys(err, e, "create a temporary blob in '%s/blobs/tmp'", s->home);
	}
	berth_sha256_init(&w->hash);
	*out = w;
	return 0;
}

int berth_blob_write(struct berth_blob_writer *w, const void *data, size_t len,
		     struct berth_err **err)
{
	if (w->expected_size >= 0 && w->size + (int64_t)len > w->expected_size)
		return berth_err_set(
		    err, BERTH_E_INVALID, "blob %s: more than the expected %lld bytes",
		    *w->expected ? w->expected : "(new)", (long long)w->expected_size);
	berth_sha256_update(&w->hash, data, len);
	const char *p = data;
	while (len) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_err_sys(err, errno, "write blob in '%s/blobs/tmp'",
					     w->s->home);
		p += n;
		len -= (size_t)n;
		w->size += n;
	}
	return 0;
}

int64_t berth_blob_writer_size(const struct berth_blob_writer *w)
{
	return w->size;
}

void berth_blob_abort(struct berth_blob_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlinkat(w->s->tmp_fd, w->tmp_name, 0);
	berth_sha256_release(&w->hash);
	free(w);
}

int berth_blob_commit(struct berth_blob_writer *w, char digest_out[BERTH_DIGEST_LEN + 1],
		      struct berth_err **err)
{
	char digest[BERTH_DIGEST_LEN + 1];
	berth_sha256_final_digest(&w->hash, digest);
	int r = 0;
	if (w->expected_size >= 0 && w->size != w->expected_size)
		r = berth_err_set(err, BERTH_E_INVALID,
				  "blob %s: got %lld bytes, expected %lld (truncated or corrupted)",
				  *w->expected ? w->expected : digest, (long long)w->size,
				  (long long)w->expected_size);
	else if (*w->expected && strcmp(digest, w->expected))
		r = berth_err_set(err, BERTH_E_INVALID,
				  "blob digest mismatch: expected %s, got %s (corrupted download)",
				  w->expected, digest);
	else if (fsync(w->fd) < 0)
		r = berth_err_sys(err, errno, "fsync blob %s", digest);
	if (r == 0) {
		close(w->fd);
		w->fd = -1;
		if (renameat(w->s->tmp_fd, w->tmp_name, w->s->blobs_fd, hex_of(digest)) < 0)
			r = berth_err_sys(err, errno, "store blob %s", digest);
		else if (fsync(w->s->blobs_fd) < 0)
			r = berth_err_sys(err, errno, "fsync '%s/blobs/sha256'", w->s->home);
	}
	if (r == 0 && digest_out)
		memcpy(digest_out, digest, sizeof(digest));
	berth_blob_abort(w);
	return r;
}

int berth_blob_put(struct berth_store *s, const void *data, size_t len, const char *expected,
		   char digest_out[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	struct berth_blob_writer *w;
	int r = berth_blob_writer_new(s, expected, (int64_t)len, &w, err);
	if (r < 0)
		return r;
	if ((r = berth_blob_write(w, data, len, err)) < 0) {
		berth_blob_abort(w);
		return r;
	}
	return berth_blob_commit(w, digest_out, err);
}

bool berth_blob_exists(struct berth_store *s, const char *digest)
{
	struct stat st;
	return berth_digest_valid(digest) &&
	       fstatat(s->blobs_fd, hex_of(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

int berth_blob_open(struct berth_store *s, const char *digest, struct berth_err **err)
{
	if (!berth_digest_valid(digest))
		return berth_err_set(err, BERTH_E_INVALID, "invalid digest '%s'", digest);
	int fd = openat(s->blobs_fd, hex_of(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return berth_err_set(err, BERTH_E_NOT_FOUND, "blob %s is not in the store", digest);
	if (fd < 0)
		return berth_err_sys(err, errno, "open blob %s", digest);
	return fd;
}

int berth_blob_read(struct berth_store *s, const char *digest, size_t max, struct berth_buf *out,
		    struct berth_err **err)
{
	_cleanup_free_ char *path = berth_blob_path(s, digest);
	if (!berth_blob_exists(s, digest))
		return berth_err_set(err, BERTH_E_NOT_FOUND, "blob %s is not in the store", digest);
	return berth_fs_read_file(path, max, out, err);
}

char *berth_blob_path(struct berth_store *s, const char *digest)
{
	return berth_xasprintf("%s/blobs/sha256/%s", s->home, hex_of(digest));
}

/* --- tags --- */

static int db_fail(struct berth_store *s, const char *what, struct berth_err **err)
{
	return berth_err_set(err, BERTH_E_SYS, "state database: %s: %s", what,
			     sqlite3_errmsg(s->db));
}

int berth_store_tag(struct berth_store *s, const char *name, const char *digest,
		    const char *media_type, int64_t size, struct berth_err **err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO images(name, digest, media_type, size, created) "
			       "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(name) DO UPDATE SET "
			       "digest = ?2, media_type = ?3, size = ?4, created = ?5",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "tag", err);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, media_type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, size);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(s, "tag", err);
}

static void entry_from_row(sqlite3_stmt *st, struct berth_image_entry *e)
{
	e->name = berth_xstrdup((const char *)sqlite3_column_text(st, 0));
	snprintf(e->digest, sizeof(e->digest), "%s", (const char *)sqlite3_column_text(st, 1));
	e->media_type = berth_xstrdup((const char *)sqlite3_column_text(st, 2));
	e->size = sqlite3_column_int64(st, 3);
	e->created = sqlite3_column_int64(st, 4);
}

int berth_store_lookup(struct berth_store *s, const char *name, struct berth_image_entry *out,
		       struct berth_err **err)
{
	sqlite3_stmt *st;
	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(s->db,
			       "SELECT name, digest, media_type, size, created FROM images "
			       "WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "lookup", err);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		entry_from_row(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return berth_err_set(err, BERTH_E_NOT_FOUND, "image '%s' is not in the store",
				     name);
	return db_fail(s, "lookup", err);
}

int berth_store_untag(struct berth_store *s, const char *name, struct berth_err **err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM images WHERE name = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(s, "untag", err);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, "untag", err);
	if (sqlite3_changes(s->db) == 0)
		return berth_err_set(err, BERTH_E_NOT_FOUND, "image '%s' is not in the store",
				     name);
	return 0;
}

int berth_store_list(struct berth_store *s, struct berth_image_entry **out, size_t *n,
		     struct berth_err **err)
{
	sqlite3_stmt *st;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT name, digest, media_type, size, created FROM images "
			       "ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(s, "list", err);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = berth_xgrow(*out, sizeof(**out), *n + 1, &cap);
		entry_from_row(st, &(*out)[(*n)++]);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(s, "list", err);
}

void berth_image_entry_release(struct berth_image_entry *e)
{
	free(e->name);
	free(e->media_type);
	memset(e, 0, sizeof(*e));
}

/* --- unpacked layers --- */

char *berth_store_layer_dir(struct berth_store *s, const char *chain_id)
{
	return berth_xasprintf("%s/layers/%s", s->home, hex_of(chain_id));
}

bool berth_store_layer_ready(struct berth_store *s, const char *chain_id)
{
	_cleanup_free_ char *dir = berth_store_layer_dir(s, chain_id);
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --- removal --- */

/* The blobs and chain ids an image (manifest digest) uses. */
static void image_refs(struct berth_store *s, const char *digest, struct berth_strv *blobs,
		       struct berth_strv *chains)
{
	berth_strv_push(blobs, digest);
	struct berth_buf mb, cb;
	berth_buf_init(&mb, BERTH_MANIFEST_MAX);
	berth_buf_init(&cb, BERTH_CONFIG_MAX);
	struct berth_manifest m;
	struct berth_image_config cfg;
	if (berth_blob_read(s, digest, BERTH_MANIFEST_MAX, &mb, NULL) == 0 &&
	    berth_manifest_parse(mb.data, mb.len, NULL, &m, NULL) == 0) {
		if (m.kind == BERTH_MANIFEST_IMAGE) {
			berth_strv_push(blobs, m.config.digest);
			for (size_t i = 0; i < m.nlayers; i++)
				berth_strv_push(blobs, m.layers[i].digest);
			if (berth_blob_read(s, m.config.digest, BERTH_CONFIG_MAX, &cb, NULL) == 0 &&
			    berth_image_config_parse(cb.data, cb.len, &cfg, NULL) == 0) {
				char chain[BERTH_DIGEST_LEN + 1] = "";
				for (size_t i = 0; i < cfg.diff_ids.n; i++) {
					berth_chain_id(*chain ? chain : NULL, cfg.diff_ids.v[i],
						       chain);
					berth_strv_push(chains, chain);
				}
				berth_image_config_release(&cfg);
			}
		}
		berth_manifest_release(&m);
	}
	berth_buf_release(&mb);
	berth_buf_release(&cb);
}

int berth_store_remove_image(struct berth_store *s, const char *name, int64_t *freed,
			     struct berth_err **err)
{
	struct berth_image_entry e;
	if (berth_store_lookup(s, name, &e, err) < 0)
		return -BERTH_E_NOT_FOUND;
	int r = berth_store_untag(s, name, err);
	_cleanup_strv_ struct berth_strv gone = BERTH_STRV_INIT, gone_chains = BERTH_STRV_INIT;
	_cleanup_strv_ struct berth_strv keep = BERTH_STRV_INIT, keep_chains = BERTH_STRV_INIT;
	if (r == 0)
		image_refs(s, e.digest, &gone, &gone_chains);
	struct berth_image_entry *all = NULL;
	size_t n = 0;
	if (r == 0)
		r = berth_store_list(s, &all, &n, err);
	for (size_t i = 0; i < n; i++) {
		image_refs(s, all[i].digest, &keep, &keep_chains);
		berth_image_entry_release(&all[i]);
	}
	free(all);
	int64_t total = 0;
	for (size_t i = 0; r == 0 && i < gone.n; i++) {
		struct stat st;
		if (berth_strv_contains(&keep, gone.v[i]) ||
		    fstatat(s->blobs_fd, hex_of(gone.v[i]), &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (unlinkat(s->blobs_fd, hex_of(gone.v[i]), 0) == 0)
			total += st.st_size;
	}
	for (size_t i = 0; r == 0 && i < gone_chains.n; i++) {
		if (berth_strv_contains(&keep_chains, gone_chains.v[i]))
			continue;
		_cleanup_free_ char *dir = berth_store_layer_dir(s, gone_chains.v[i]);
		berth_fs_remove_tree(AT_FDCWD, dir, NULL);
	}
	if (freed)
		*freed = total;
	berth_image_entry_release(&e);
	return r;
}

int berth_image_load(struct berth_store *s, const char *manifest_digest, struct berth_manifest *m,
		     struct berth_image_config *cfg, struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf mb, cb;
	berth_buf_init(&mb, BERTH_MANIFEST_MAX);
	berth_buf_init(&cb, BERTH_CONFIG_MAX);
	if (berth_blob_read(s, manifest_digest, BERTH_MANIFEST_MAX, &mb, err) < 0 ||
	    berth_manifest_parse(mb.data, mb.len, NULL, m, err) < 0)
		return -BERTH_E_INVALID;
	if (m->kind != BERTH_MANIFEST_IMAGE) {
		berth_manifest_release(m);
		return berth_err_set(err, BERTH_E_INVALID, "%s is an index, not an image",
				     manifest_digest);
	}
	if (berth_blob_read(s, m->config.digest, BERTH_CONFIG_MAX, &cb, err) < 0 ||
	    berth_image_config_parse(cb.data, cb.len, cfg, err) < 0) {
		berth_manifest_release(m);
		return -BERTH_E_INVALID;
	}
	return 0;
}

int berth_blob_import_fd(struct berth_store *s, int fd, const char *digest, int64_t size,
			 struct berth_err **err)
{
	if (berth_blob_exists(s, digest))
		return 0;
	struct berth_blob_writer *w;
	if (berth_blob_writer_new(s, digest, size, &w, err) < 0)
		return -1;
	char buf[65536];
	for (off_t off = 0;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			berth_blob_abort(w);
			return berth_err_sys(err, errno, "read the new layer");
		}
		if (n == 0)
			break;
		if (berth_blob_write(w, buf, (size_t)n, err) < 0) {
			berth_blob_abort(w);
			return -1;
		}
		off += n;
	}
	return berth_blob_commit(w, NULL, err);
}

char *berth_store_layer_scratch(struct berth_store *s, const char *what, struct berth_err **err)
{
	/* "<pid>-" names are what the store's repair removes once this
	 * process is gone. */
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned r = 0;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (unsigned)attempt * 2654435761u;
		char *dir = berth_xasprintf("%s/layers/%d-%s-%08x", berth_store_home(s),
					    (int)getpid(), what, r);
		if (mkdir(dir, 0755) == 0)
			return dir;
		int e = errno;
		free(dir);
		if (e != EEXIST) {
			berth_err_sys(err, e, "make a layer directory in '%s/layers'",
				      berth_store_home(s));
			return NULL;
		}
	}
	berth_err_set(err, BERTH_E_SYS, "make a layer directory: no free name");
	return NULL;
}
