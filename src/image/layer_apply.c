/* Applying a layer tar into a directory. libarchive only parses the tar; every
 * write is ours, made with *at() calls relative to a parent directory that
 * was resolved beneath the layer root, so no entry, symlink or hardlink can
 * reach outside it. Whiteouts become overlayfs whiteouts (or deletions). */
#include "image/archive_api.h"
#include "image/image_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define APPLY_CHUNK (128u << 10) /* tar bytes handed to libarchive at a time */

#define WH_PREFIX      ".wh."
#define WH_OPAQUE      ".wh..wh..opq"
#define WH_META_PREFIX ".wh..wh." /* aufs metadata (plnk, aufs): skipped */
#define OVERLAY_OPAQUE "trusted.overlay.opaque"

/* A small open-addressing map from path to index: which directories this
 * layer made (for the attribute pass) and, without overlay whiteouts, which
 * paths it wrote (an opaque whiteout keeps those). */
struct path_map {
	char **keys; /* owned; NULL marks a free slot */
	size_t *vals;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static size_t *map_get(const struct path_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return NULL;
		if (strcmp(m->keys[i], key) == 0)
			return &m->vals[i];
	}
}

static void map_insert_owned(struct path_map *m, char *key, size_t val)
{
	size_t i = hash_str(key) & (m->cap - 1);
	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
}

static void map_put(struct path_map *m, const char *key, size_t val)
{
	size_t *v = map_get(m, key);
	if (v) {
		*v = val;
		return;
	}
	if ((m->n + 1) * 10 > m->cap * 7) {
		struct path_map bigger = {.cap = m->cap ? m->cap * 2 : 64};
		if (bigger.cap < m->cap)
			berth_oom();
		bigger.keys = berth_xcalloc(bigger.cap, sizeof(*bigger.keys));
		bigger.vals = berth_xcalloc(bigger.cap, sizeof(*bigger.vals));
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				map_insert_owned(&bigger, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = bigger;
	}
	map_insert_owned(m, berth_xstrdup(key), val);
}

static void map_release(struct path_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	*m = (struct path_map){0};
}

/* A directory this layer made or touched: its mode and times are set after
 * everything inside it is written. The inode tells whether the path still
 * names the same directory by then. */
struct dir_rec {
	char *path;
	dev_t dev;
	ino_t ino;
	mode_t mode;
	struct timespec times[2]; /* atime, mtime */
};

struct apply_ctx {
	struct berth_layer_reader *r; /* borrowed */
	int rootfd;                   /* borrowed */
	const struct berth_apply_opts *opts;
	bool is_root;               /* euid 0: refusals by the kernel are errors */
	struct berth_err *read_err; /* what the reader said, for libarchive's -1 */
	uint64_t total;             /* plain tar bytes handed to libarchive */
	bool padded;                /* the last block was completed (see apply_read_cb) */
	int64_t last_size;          /* data size of the last entry read */
	uint8_t *buf;
	struct dir_rec *dirs;
	size_t ndirs, dirs_cap;
	struct path_map dir_index; /* path -> index in dirs */
	struct path_map unpacked;  /* without overlay whiteouts: paths written */
};

static void apply_ctx_release(struct apply_ctx *c)
{
	for (size_t i = 0; i < c->ndirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
	map_release(&c->dir_index);
	map_release(&c->unpacked);
	berth_err_free(c->read_err);
	free(c->buf);
}

static void archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static la_ssize_t apply_read_cb(struct archive *a, void *data, const void **buf)
{
	struct apply_ctx *c = data;
	*buf = c->buf;
	if (c->padded)
		return 0;
	ssize_t n = berth_layer_reader_read(c->r, c->buf, APPLY_CHUNK, &c->read_err);
	if (n < 0) {
		archive_set_error(a, EIO, "%s", c->read_err ? c->read_err->msg : "read failed");
		return -1;
	}
	if (n == 0 && c->total % 512) {
		/* Some producers (umoci 0.4) end a layer right after the last
		 * file's data, without the block padding or the end-of-archive
		 * blocks; Go's tar reader accepts that. Complete the last block
		 * only: a stream cut shorter than that still fails, and the
		 * DiffID (hashed by the reader) covers the real bytes. */
		size_t pad = 512 - (size_t)(c->total % 512);
		memset(c->buf, 0, pad);
		c->padded = true;
		return (la_ssize_t)pad;
	}
	c->total += (uint64_t)n;
	return n;
}

/* libarchive failed: the reader's own error when it caused it (it says what
 * is wrong with the blob), else libarchive's view of the tar. */
static int tar_error(struct apply_ctx *c, struct archive *a, const char *what,
		     struct berth_err **err)
{
	if (c->read_err) {
		int code = -(int)c->read_err->code;
		if (err && !*err)
			*err = steal_pointer(&c->read_err);
		berth_err_prefix(err, "%s", what);
		return code;
	}
	const char *why = archive_error_string(a);
	if (!why || !*why)
		why = "unexpected data";
	return berth_err_set(err, BERTH_E_INVALID, "%s: malformed tar: %c%s", what,
			     (char)tolower((unsigned char)why[0]), why + 1);
}

/* Clean an entry name into "a/b/c": no leading slash, no "." or empty
 * components, ".." applied lexically. "" is the root itself. Returns -1 when
 * a ".." would climb above the root. */
static int clean_path(const char *name, struct berth_buf *out)
{
	berth_buf_reset(out);
	const char *p = name;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* empty or "." */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (!out->len)
				return -1;
			char *slash = memrchr(out->data, '/', out->len);
			out->len = slash ? (size_t)(slash - out->data) : 0;
			out->data[out->len] = '\0';
		} else {
			if (out->len)
				berth_buf_addch(out, '/');
			berth_buf_add(out, p, len);
		}
		p = end;
	}
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Open the directory `dir` ("" is the root) beneath the root as an O_PATH
 * fd, creating it (and its parents, 0755) when missing. Symlinks on the way
 * are followed inside the root. */
static int open_dir_beneath(struct apply_ctx *c, const char *dir, const char *shown,
			    struct berth_err **err)
{
	if (!*dir) {
		int fd = fcntl(c->rootfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return berth_err_sys(err, errno, "layer entry '%s': open the layer root",
					     shown);
		return fd;
	}
	struct berth_err *e = NULL;
	int fd = berth_fs_open_beneath(c->rootfd, dir, O_PATH | O_DIRECTORY, 0, &e);
	if (fd >= 0)
		return fd;
	bool missing = e->code == BERTH_E_SYS && e->sys_errno == ENOENT;
	if (!missing) {
		if (err && !*err)
			*err = e;
		else
			berth_err_free(e);
		return berth_err_prefix(err, "layer entry '%s': parent directory", shown);
	}
	berth_err_free(e);
	int r = berth_fs_mkdir_beneath(c->rootfd, dir, 0755, err);
	if (r < 0) {
		berth_err_prefix(err, "layer entry '%s'", shown);
		return r;
	}
	fd = berth_fs_open_beneath(c->rootfd, dir, O_PATH | O_DIRECTORY, 0, err);
	if (fd < 0)
		berth_err_prefix(err, "layer entry '%s': parent directory", shown);
	return fd;
}

/* Make room for a new entry at parent/base: anything there is removed,
 * except a directory when a directory is wanted (it is kept and takes the
 * new attributes). Sets *kept when a directory was kept. */
static int make_room(int parent, const char *base, bool want_dir, bool *kept, const char *shown,
		     struct berth_err **err)
{
	struct stat st;
	*kept = false;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return berth_err_sys(err, errno, "layer entry '%s': stat what is there", shown);
	}
	if (want_dir && S_ISDIR(st.st_mode)) {
		*kept = true;
		return 0;
	}
	int r = berth_fs_remove_tree(parent, base, err);
	if (r < 0)
		berth_err_prefix(err, "layer entry '%s': replace", shown);
	return r;
}

/* "/proc/self/fd/N/base": a path for the calls that have no *at() form
 * (lsetxattr). The parent fd was resolved in the root and base is one
 * component that the l*() calls do not follow. */
static char *proc_path(int parent, const char *base)
{
	return berth_xasprintf("/proc/self/fd/%d/%s", parent, base);
}

static int apply_xattrs(struct apply_ctx *c, struct archive_entry *e, int fd, int parent,
			const char *base, const char *shown, struct berth_err **err)
{
	const char *name;
	const void *value;
	size_t size;
	_cleanup_free_ char *path = NULL;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (!name || !*name)
			continue;
		/* overlayfs reads its own xattrs from lower dirs (opaque,
		 * redirect, metacopy): only our whiteout conversion may set
		 * them, never a tar. */
		if (has_prefix(name, "trusted.overlay.") || has_prefix(name, "user.overlay.")) {
			berth_log_debug("layer entry '%s': dropped xattr '%s'", shown, name);
			continue;
		}
		if (size > BERTH_LAYER_XATTR_MAX)
			return berth_err_set(err, BERTH_E_LIMIT,
					     "layer entry '%s': xattr '%s' is larger than %u bytes",
					     shown, name, BERTH_LAYER_XATTR_MAX);
		int r;
		if (fd >= 0) {
			r = fsetxattr(fd, name, value, size, 0);
		} else {
			if (!path)
				path = proc_path(parent, base);
			r = lsetxattr(path, name, value, size, 0);
		}
		if (r == 0)
			continue;
		int errnum = errno;
		/* As containerd: the filesystem has no such namespace, or a
		 * security module refuses a label. A non-root user may not
		 * set trusted.* or security.* (nor user.* on a symlink). */
		bool refused = errnum == EPERM || errnum == EACCES;
		if (errnum == ENOTSUP || (refused && !c->is_root) ||
		    (errnum == EPERM && has_prefix(name, "security."))) {
			berth_log_debug("layer entry '%s': skipped xattr '%s': %s", shown, name,
					strerror(errnum));
			continue;
		}
		return berth_err_sys(err, errnum, "layer entry '%s': set xattr '%s'", shown, name);
	}
	return 0;
}

static int entry_owner(struct archive_entry *e, uid_t *uid, gid_t *gid, const char *shown,
		       struct berth_err **err)
{
	la_int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);
	if (u < 0 || u >= (la_int64_t)UINT32_MAX || g < 0 || g >= (la_int64_t)UINT32_MAX)
		return berth_err_set(err, BERTH_E_INVALID,
				     "layer entry '%s' has an invalid owner %lld:%lld", shown,
				     (long long)u, (long long)g);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		ts[0] = ts[1];
	}
}

/* Owner, xattrs, mode (after chown, which clears setuid; after xattrs, which
 * need write permission for a non-root owner) and times of a new node,
 * through fd when there is one, else parent/base without following. */
static int apply_meta(struct apply_ctx *c, struct archive_entry *e, int fd, int parent,
		      const char *base, bool set_mode, bool set_times, const char *shown,
		      struct berth_err **err)
{
	if (c->opts->keep_owners) {
		uid_t uid;
		gid_t gid;
		int r = entry_owner(e, &uid, &gid, shown, err);
		if (r < 0)
			return r;
		r = fd >= 0 ? fchown(fd, uid, gid)
			    : fchownat(parent, base, uid, gid, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return berth_err_sys(err, errno, "layer entry '%s': chown", shown);
	}
	int r = apply_xattrs(c, e, fd, parent, base, shown, err);
	if (r < 0)
		return r;
	if (set_mode) {
		mode_t mode = archive_entry_perm(e) & 07777;
		/* parent/base is a node made just now, never a symlink. */
		r = fd >= 0 ? fchmod(fd, mode) : fchmodat(parent, base, mode, 0);
		if (r < 0)
			return berth_err_sys(err, errno, "layer entry '%s': chmod", shown);
	}
	if (set_times) {
		struct timespec ts[2];
		entry_times(e, ts);
		r = fd >= 0 ? futimens(fd, ts) : utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return berth_err_sys(err, errno, "layer entry '%s': set times", shown);
	}
	return 0;
}

static int pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	const char *p = data;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int apply_file(struct apply_ctx *c, struct archive *a, struct archive_entry *e, int parent,
		      const char *base, const char *shown, struct berth_err **err)
{
	_cleanup_close_ int fd =
	    openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_err_sys(err, errno, "layer entry '%s': create file", shown);

	/* Blocks come with their offsets, so sparse files keep their holes. */
	off_t end = 0;
	for (;;) {
		const void *block;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(a, &block, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			_cleanup_free_ char *what = berth_xasprintf("layer entry '%s'", shown);
			return tar_error(c, a, what, err);
		}
		if (offset < 0)
			return berth_err_set(err, BERTH_E_INVALID,
					     "layer entry '%s': malformed tar: negative offset",
					     shown);
		r = pwrite_all(fd, block, size, (off_t)offset);
		if (r < 0)
			return berth_err_sys(err, -r, "layer entry '%s': write", shown);
		if ((off_t)offset + (off_t)size > end)
			end = (off_t)offset + (off_t)size;
	}
	la_int64_t want = archive_entry_size(e);
	if (want > end && ftruncate(fd, (off_t)want) < 0)
		return berth_err_sys(err, errno, "layer entry '%s': extend to %lld bytes", shown,
				     (long long)want);
	return apply_meta(c, e, fd, parent, base, true, true, shown, err);
}

static int apply_dir(struct apply_ctx *c, struct archive_entry *e, int parent, const char *base,
		     const char *path, const char *shown, struct berth_err **err)
{
	bool kept;
	int r = make_room(parent, base, true, &kept, shown, err);
	if (r < 0)
		return r;
	/* 0700 until the attribute pass: writable by us meanwhile. */
	if (!kept && mkdirat(parent, base, 0700) < 0)
		return berth_err_sys(err, errno, "layer entry '%s': create directory", shown);
	_cleanup_close_ int fd =
	    openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "layer entry '%s': open directory", shown);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berth_err_sys(err, errno, "layer entry '%s': stat directory", shown);
	r = apply_meta(c, e, fd, parent, base, false, false, shown, err);
	if (r < 0)
		return r;

	size_t *idx = map_get(&c->dir_index, path);
	struct dir_rec *d;
	if (idx) {
		d = &c->dirs[*idx]; /* the same path again: the later entry wins */
	} else {
		c->dirs = berth_xgrow(c->dirs, sizeof(*c->dirs), c->ndirs + 1, &c->dirs_cap);
		d = &c->dirs[c->ndirs];
		*d = (struct dir_rec){.path = berth_xstrdup(path)};
		map_put(&c->dir_index, path, c->ndirs++);
	}
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->mode = archive_entry_perm(e) & 07777;
	entry_times(e, d->times);
	return 0;
}

static int apply_symlink(struct apply_ctx *c, struct archive_entry *e, int parent, const char *base,
			 const char *shown, struct berth_err **err)
{
	const char *target = archive_entry_symlink(e);
	if (!target)
		target = archive_entry_symlink_utf8(e);
	if (!target || !*target)
		return berth_err_set(err, BERTH_E_INVALID, "layer entry '%s': empty symlink target",
				     shown);
	if (strlen(target) > BERTH_LAYER_PATH_MAX)
		return berth_err_set(err, BERTH_E_LIMIT,
				     "layer entry '%s': symlink target longer than %d bytes", shown,
				     BERTH_LAYER_PATH_MAX);
	/* As is: a link may point anywhere; what resolves through it later
	 * is resolved inside the root. */
	if (symlinkat(target, parent, base) < 0)
		return berth_err_sys(err, errno, "layer entry '%s': create symlink", shown);
	return apply_meta(c, e, -1, parent, base, false, true, shown, err);
}

static int apply_node(struct apply_ctx *c, struct archive_entry *e, mode_t type, int parent,
		      const char *base, const char *shown, struct berth_err **err)
{
	dev_t dev = type == S_IFIFO ? 0
				    : makedev((unsigned)archive_entry_rdevmajor(e),
					      (unsigned)archive_entry_rdevminor(e));
	if (mknodat(parent, base, type | 0600, dev) < 0) {
		int errnum = errno;
		/* Without root (rootless, user namespaces) devices cannot be
		 * made; containerd skips them there too. */
		if (errnum == EPERM && !c->is_root && type != S_IFIFO) {
			berth_log_debug("layer entry '%s': skipped device: %s", shown,
					strerror(errnum));
			return 0;
		}
		return berth_err_sys(err, errnum, "layer entry '%s': create %s", shown,
				     type == S_IFIFO ? "fifo" : "device");
	}
	return apply_meta(c, e, -1, parent, base, true, true, shown, err);
}

static int apply_hardlink(struct apply_ctx *c, struct archive_entry *e, const char *link,
			  const char *path, int parent, const char *base, const char *shown,
			  struct berth_err **err)
{
	if (strlen(link) > BERTH_LAYER_PATH_MAX)
		return berth_err_set(err, BERTH_E_LIMIT,
				     "layer entry '%s': hardlink target longer than %d bytes",
				     shown, BERTH_LAYER_PATH_MAX);
	_cleanup_buf_ struct berth_buf target;
	berth_buf_init(&target, BERTH_BUF_UNLIMITED);
	if (clean_path(link, &target) < 0)
		return berth_err_set(err, BERTH_E_INVALID,
				     "layer entry '%s' links to '%s', which escapes the layer root",
				     shown, link);
	if (!target.len)
		return berth_err_set(err, BERTH_E_INVALID,
				     "layer entry '%s' links to the layer root", shown);
	if (strcmp(target.data, path) == 0)
		return berth_err_set(err, BERTH_E_INVALID, "layer entry '%s' links to itself",
				     shown);

	/* The target's directory is resolved in the root like any entry's;
	 * its last component is linked as it is (flags 0: a symlink is
	 * linked, not followed). */
	char *slash = strrchr(target.data, '/');
	const char *tbase = slash ? slash + 1 : target.data;
	_cleanup_free_ char *tdir =
	    slash ? berth_xstrndup(target.data, (size_t)(slash - target.data)) : berth_xstrdup("");
	_cleanup_close_ int tparent = -1;
	if (!*tdir) {
		tparent = fcntl(c->rootfd, F_DUPFD_CLOEXEC, 3);
	} else {
		struct berth_err *e2 = NULL;
		tparent = berth_fs_open_beneath(c->rootfd, tdir, O_PATH | O_DIRECTORY, 0, &e2);
		if (tparent < 0) {
			int errnum = e2->sys_errno;
			berth_err_free(e2);
			return berth_err_sys(err, errnum ? errnum : EINVAL,
					     "layer entry '%s': hardlink target '%s'", shown, link);
		}
	}
	if (tparent < 0)
		return berth_err_sys(err, errno, "layer entry '%s': open the layer root", shown);
	struct stat st;
	if (fstatat(tparent, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "layer entry '%s': hardlink target '%s'", shown,
				     link);
	if (S_ISDIR(st.st_mode))
		return berth_err_set(err, BERTH_E_INVALID,
				     "layer entry '%s': hardlink target '%s' is a directory", shown,
				     link);
	bool kept;
	int r = make_room(parent, base, false, &kept, shown, err);
	if (r < 0)
		return r;
	if (linkat(tparent, tbase, parent, base, 0) < 0)
		return berth_err_sys(err, errno, "layer entry '%s': link to '%s'", shown, link);
	return 0;
}

/* The names of the entries in dirfd, read in one go. */
static int list_dir(int dirfd, struct berth_strv *names, const char *shown, struct berth_err **err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "read directory '%s'", shown);
	DIR *d = fdopendir(fd);
	if (!d) {
		int errnum = errno;
		close(fd);
		return berth_err_sys(err, errnum, "read directory '%s'", shown);
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			berth_strv_push(names, de->d_name);
	}
	int errnum = errno;
	closedir(d);
	if (errnum)
		return berth_err_sys(err, errnum, "read directory '%s'", shown);
	return 0;
}

/* Opaque whiteout without overlayfs: remove what the layers below left in
 * the directory (dirfd, path) and keep what this layer wrote, as containerd
 * does. */
static int remove_lower(struct apply_ctx *c, int dirfd, struct berth_buf *path,
			struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	int r = list_dir(dirfd, &names, path->len ? path->data : "/", err);
	if (r < 0)
		return r;
	size_t mark = path->len;
	for (size_t i = 0; i < names.n && r == 0; i++) {
		if (path->len)
			berth_buf_addch(path, '/');
		berth_buf_addstr(path, names.v[i]);
		if (!map_get(&c->unpacked, path->data)) {
			r = berth_fs_remove_tree(dirfd, names.v[i], err);
		} else {
			int fd = openat(dirfd, names.v[i],
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				r = remove_lower(c, fd, path, err);
				close(fd);
			} else if (errno != ENOTDIR && errno != ELOOP) {
				r = berth_err_sys(err, errno, "open '%s'", path->data);
			}
		}
		path->len = mark;
		path->data[mark] = '\0';
	}
	return r;
}

static int apply_whiteout(struct apply_ctx *c, struct archive_entry *e, const char *path,
			  const char *base, const char *shown, struct berth_err **err)
{
	size_t dirlen = (size_t)(base - path);
	_cleanup_free_ char *dir = berth_xstrndup(path, dirlen ? dirlen - 1 : 0);

	if (strcmp(base, WH_OPAQUE) == 0) {
		_cleanup_close_ int pfd = open_dir_beneath(c, dir, shown, err);
		if (pfd < 0)
			return pfd;
		_cleanup_close_ int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return berth_err_sys(err, errno, "layer entry '%s': open directory", shown);
		if (c->opts->overlay_whiteouts) {
			if (fsetxattr(fd, OVERLAY_OPAQUE, "y", 1, 0) < 0)
				return berth_err_sys(err, errno, "layer entry '%s': set '%s'",
						     shown, OVERLAY_OPAQUE);
			return 0;
		}
		_cleanup_buf_ struct berth_buf p;
		berth_buf_init(&p, BERTH_BUF_UNLIMITED);
		berth_buf_addstr(&p, dir);
		int r = remove_lower(c, fd, &p, err);
		if (r < 0)
			berth_err_prefix(err, "layer entry '%s'", shown);
		return r;
	}

	const char *name = base + strlen(WH_PREFIX);
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return berth_err_set(err, BERTH_E_INVALID,
				     "layer entry '%s' is not a valid whiteout", shown);
	_cleanup_close_ int parent = open_dir_beneath(c, dir, shown, err);
	if (parent < 0)
		return parent;
	bool kept;
	int r = make_room(parent, name, false, &kept, shown, err);
	if (r < 0 || !c->opts->overlay_whiteouts)
		return r;
	if (mknodat(parent, name, S_IFCHR, makedev(0, 0)) < 0)
		return berth_err_sys(err, errno, "layer entry '%s': create whiteout", shown);
	if (c->opts->keep_owners) {
		uid_t uid;
		gid_t gid;
		r = entry_owner(e, &uid, &gid, shown, err);
		if (r < 0)
			return r;
		if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_err_sys(err, errno, "layer entry '%s': chown whiteout", shown);
	}
	struct timespec ts[2];
	entry_times(e, ts);
	if (utimensat(parent, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "layer entry '%s': set times", shown);
	return 0;
}

static int apply_entry(struct apply_ctx *c, struct archive *a, struct archive_entry *e,
		       struct berth_buf *path, struct berth_err **err)
{
	const char *name = archive_entry_pathname(e);
	if (!name)
		name = archive_entry_pathname_utf8(e);
	if (!name)
		return berth_err_set(err, BERTH_E_INVALID, "layer entry without a name");
	if (strlen(name) > BERTH_LAYER_PATH_MAX)
		return berth_err_set(err, BERTH_E_LIMIT,
				     "layer entry '%.64s...' has a path longer than %d bytes", name,
				     BERTH_LAYER_PATH_MAX);
	if (clean_path(name, path) < 0)
		return berth_err_set(err, BERTH_E_INVALID,
				     "layer entry '%s' escapes the layer root", name);
	const char *slash = strrchr(path->data, '/');
	const char *base = slash ? slash + 1 : path->data;

	/* aufs kept its own metadata in ".wh..wh.*" entries (Docker skips
	 * them too); only the opaque marker has a meaning. */
	if ((has_prefix(path->data, WH_META_PREFIX) || has_prefix(base, WH_META_PREFIX)) &&
	    strcmp(base, WH_OPAQUE) != 0)
		return 0;
	if (has_prefix(base, WH_PREFIX))
		return apply_whiteout(c, e, path->data, base, name, err);

	const char *link = archive_entry_hardlink(e);
	if (!link)
		link = archive_entry_hardlink_utf8(e);
	mode_t type = archive_entry_filetype(e);
	if (!path->len) {
		/* The layer root itself ("/", "./"): its attributes are the
		 * layer directory's business, as in containerd. */
		if (!link && type == AE_IFDIR)
			return 0;
		return berth_err_set(err, BERTH_E_INVALID,
				     "layer entry '%s' would replace the layer root", name);
	}

	_cleanup_free_ char *dir =
	    berth_xstrndup(path->data, slash ? (size_t)(slash - path->data) : 0);
	_cleanup_close_ int parent = open_dir_beneath(c, dir, name, err);
	if (parent < 0)
		return parent;

	int r;
	if (link && *link) {
		r = apply_hardlink(c, e, link, path->data, parent, base, name, err);
	} else if (type == AE_IFDIR) {
		r = apply_dir(c, e, parent, base, path->data, name, err);
	} else {
		bool kept;
		r = make_room(parent, base, false, &kept, name, err);
		if (r < 0)
			return r;
		switch (type) {
		case AE_IFREG:
			r = apply_file(c, a, e, parent, base, name, err);
			break;
		case AE_IFLNK:
			r = apply_symlink(c, e, parent, base, name, err);
			break;
		case AE_IFCHR:
			r = apply_node(c, e, S_IFCHR, parent, base, name, err);
			break;
		case AE_IFBLK:
			r = apply_node(c, e, S_IFBLK, parent, base, name, err);
			break;
		case AE_IFIFO:
			r = apply_node(c, e, S_IFIFO, parent, base, name, err);
			break;
		default:
			r = berth_err_set(err, BERTH_E_UNSUPPORTED,
					  "layer entry '%s' has an unsupported type (mode %06o)",
					  name, (unsigned)type);
			break;
		}
	}
	if (r < 0)
		return r;
	if (!c->opts->overlay_whiteouts)
		map_put(&c->unpacked, path->data, 0);
	return 0;
}

/* Directory modes and times, once nothing more is written inside them;
 * innermost (latest) first so that a read-only parent never blocks a child.
 * A path that no longer names the directory recorded was replaced later in
 * the layer and is left alone. */
static int finish_dirs(struct apply_ctx *c, struct berth_err **err)
{
	for (size_t i = c->ndirs; i-- > 0;) {
		struct dir_rec *d = &c->dirs[i];
		struct berth_err *e = NULL;
		_cleanup_close_ int fd = berth_fs_open_beneath(
		    c->rootfd, d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, &e);
		if (fd < 0) {
			berth_err_free(e);
			continue;
		}
		struct stat st;
		if (fstat(fd, &st) < 0)
			return berth_err_sys(err, errno, "layer entry '%s': stat directory",
					     d->path);
		if (st.st_dev != d->dev || st.st_ino != d->ino)
			continue;
		if (fchmod(fd, d->mode) < 0)
			return berth_err_sys(err, errno, "layer entry '%s': chmod", d->path);
		if (futimens(fd, d->times) < 0)
			return berth_err_sys(err, errno, "layer entry '%s': set times", d->path);
	}
	return 0;
}

int berth_layer_apply(struct berth_layer_reader *r, int dirfd, const struct berth_apply_opts *opts,
		      struct berth_err **err)
{
	static const struct berth_apply_opts defaults = {.keep_owners = false,
							 .overlay_whiteouts = false};
	_cleanup_(berth__locale_leave) struct berth__locale_scope locale;
	berth__locale_enter(&locale);
	_cleanup_(apply_ctx_release) struct apply_ctx c = {
	    .r = r,
	    .rootfd = dirfd,
	    .opts = opts ? opts : &defaults,
	    .is_root = geteuid() == 0,
	    .buf = berth_xmalloc(APPLY_CHUNK),
	};
	_cleanup_(archive_read_freep) struct archive *a = archive_read_new();
	if (!a)
		berth_oom();
	/* Tar only (ustar, pax, GNU; "empty" lets a zero-byte layer be an
	 * empty one); decompression is the reader's job. */
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_empty(a) != ARCHIVE_OK)
		return berth_err_set(err, BERTH_E_INTERNAL, "apply layer: libarchive: %s",
				     archive_error_string(a));
	if (archive_read_open(a, &c, NULL, apply_read_cb, NULL) != ARCHIVE_OK)
		return tar_error(&c, a, "apply layer", err);

	_cleanup_buf_ struct berth_buf path;
	berth_buf_init(&path, BERTH_BUF_UNLIMITED);
	for (;;) {
		struct archive_entry *e;
		int ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		/* Warnings are about charsets (names are kept as bytes) and
		 * ignored pax keys; the entry itself is fine. */
		if (ar == ARCHIVE_WARN)
			berth_log_debug("apply layer: %s", archive_error_string(a));
		else if (ar != ARCHIVE_OK)
			return tar_error(&c, a, "apply layer", err);
		c.last_size = archive_entry_size(e);
		int rc = apply_entry(&c, a, e, &path, err);
		if (rc < 0)
			return rc;
	}
	/* A completed last block is only honest when the stream ended right
	 * after the last entry's data. */
	if (c.padded && c.last_size % 512 != (int64_t)(c.total % 512))
		return berth_err_set(err, BERTH_E_INVALID,
				     "apply layer: malformed tar: the stream ends inside the last "
				     "entry's data (truncated layer)");
	int rc = finish_dirs(&c, err);
	if (rc < 0)
		return rc;

	/* Past the end-of-archive blocks: read the rest so that the digests
	 * cover the whole blob (and a truncated compressed stream is caught). */
	for (;;) {
		ssize_t n = berth_layer_reader_read(r, c.buf, APPLY_CHUNK, err);
		if (n < 0) {
			berth_err_prefix(err, "apply layer");
			return (int)n;
		}
		if (n == 0)
			return 0;
	}
}
