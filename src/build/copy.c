/* COPY into a new layer, with BuildKit's semantics (fsutil's copy): where a
 * source lands, which parents are made and with what metadata, and what of
 * each entry is kept (content, mode, owner, times, selected xattrs, symlinks
 * as symlinks, hardlinks as hardlinks). The source is only read, through fds
 * beneath its root; the image's current state (the view) is only looked at;
 * every write is an *at() call on a directory fd inside the upper. */
#include "build/build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define COPY_CHUNK     (128u << 10) /* bytes per copy_file_range or read */
#define COPY_XATTR_MAX (64u << 10)  /* xattr names, or one value, of an entry */

#define COPY_MANY_SOURCES                                                                      \
	"When using COPY with more than one source file, the destination must be a directory " \
	"and end with a /"

/* ------------------------------------------------------------ path helpers */

/* lstat of a path beneath a root; 0 or -errno. */
static int lstat_in(int root_fd, const char *path, struct stat *st)
{
	_cleanup_close_ int fd = berth__open_in(root_fd, path, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	return fstat(fd, st) < 0 ? -errno : 0;
}

/* Hand an fd out of a _cleanup_close_ local. */
static int take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* -------------------------------------------------------------- hardlinks */

/* Source inodes already copied (those with more than one link), so their
 * other names become hardlinks in the upper too. Open addressing. */
struct link_ent {
	dev_t dev;
	ino_t ino;
	ino_t dst_ino; /* what the first copy made: a later link checks it */
	char *dst;     /* its path in the upper; NULL marks a free slot */
};

struct link_map {
	struct link_ent *v;
	size_t cap, n; /* cap a power of two, or 0 */
};

static size_t link_slot(const struct link_map *m, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^ (uint64_t)dev;
	size_t i = (size_t)(h ^ (h >> 29)) & (m->cap - 1);
	while (m->v[i].dst && !(m->v[i].dev == dev && m->v[i].ino == ino))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static const struct link_ent *link_get(const struct link_map *m, dev_t dev, ino_t ino)
{
	if (!m->cap)
		return NULL;
	const struct link_ent *e = &m->v[link_slot(m, dev, ino)];
	return e->dst ? e : NULL;
}

static void link_put(struct link_map *m, dev_t dev, ino_t ino, ino_t dst_ino, const char *dst)
{
	if ((m->n + 1) * 10 > m->cap * 7) {
		struct link_map bigger = {.cap = m->cap ? m->cap * 2 : 64};
		if (bigger.cap < m->cap)
			berth_oom();
		bigger.v = berth_xcalloc(bigger.cap, sizeof(*bigger.v));
		for (size_t i = 0; i < m->cap; i++)
			if (m->v[i].dst)
				bigger.v[link_slot(&bigger, m->v[i].dev, m->v[i].ino)] = m->v[i];
		bigger.n = m->n;
		free(m->v);
		*m = bigger;
	}
	struct link_ent *e = &m->v[link_slot(m, dev, ino)];
	if (e->dst) {
		free(e->dst);
	} else {
		m->n++;
	}
	*e = (struct link_ent){dev, ino, dst_ino, berth_xstrdup(dst)};
}

static void link_map_release(struct link_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->v[i].dst);
	free(m->v);
}

/* ---------------------------------------------------------------- copier */

/* A directory copied up from the view whose times are set last, once
 * nothing more is created in it. */
struct dir_time {
	char *path; /* in the upper */
	struct timespec ts[2];
};

struct copier {
	const struct berth__copy_opts *o;
	struct berth_buf src_rel; /* the entry being copied, relative to the source root */
	struct berth_buf dst_rel; /* where it goes, relative to the upper */
	struct dir_time *times;
	size_t ntimes, times_cap;
	struct link_map links;
	/* Scratch space kept off the stack of the recursive walk. */
	char buf[COPY_CHUNK];
	char xnames[COPY_XATTR_MAX];
	char link[PATH_MAX];
};

static void copier_freep(struct copier **cp)
{
	struct copier *c = *cp;
	if (!c)
		return;
	berth_buf_release(&c->src_rel);
	berth_buf_release(&c->dst_rel);
	for (size_t i = 0; i < c->ntimes; i++)
		free(c->times[i].path);
	free(c->times);
	link_map_release(&c->links);
	free(c);
}

static uid_t owner_uid(const struct copier *c, uid_t src)
{
	return c->o->uid >= 0 ? (uid_t)c->o->uid : src;
}

static gid_t owner_gid(const struct copier *c, gid_t src)
{
	return c->o->gid >= 0 ? (gid_t)c->o->gid : src;
}

static mode_t perm_of(const struct copier *c, mode_t src)
{
	return (mode_t)(c->o->mode >= 0 ? c->o->mode : (long)src) & 07777;
}

/* Make the directory `name` in parent (an upper directory) for the upper
 * path `path`: with the view's mode, owner and (at the end) times when the
 * view has a directory there, else 0755 and the COPY's owner. Returns the
 * open directory or a negative code. */
static int make_parent(struct copier *c, int parent, const char *name, const char *path,
		       struct berth_err **err)
{
	struct stat vst;
	bool from_view = lstat_in(c->o->view_fd, path, &vst) == 0 && S_ISDIR(vst.st_mode);
	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		return berth_err_sys(err, errno, "create directory '/%s'", path);
	_cleanup_close_ int fd =
	    openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "create directory '/%s'", path);
	uid_t uid = from_view ? vst.st_uid : owner_uid(c, 0);
	gid_t gid = from_view ? vst.st_gid : owner_gid(c, 0);
	mode_t mode = from_view ? vst.st_mode & 07777 : 0755;
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
		return berth_err_sys(err, errno, "set the owner and mode of '/%s'", path);
	if (from_view) {
		c->times = berth_xgrow(c->times, sizeof(*c->times), c->ntimes + 1, &c->times_cap);
		c->times[c->ntimes++] =
		    (struct dir_time){berth_xstrdup(path), {vst.st_atim, vst.st_mtim}};
	}
	return take_fd(&fd);
}

/* Open the upper directory `path` ("" is the upper itself), making what is
 * missing when `make` (see make_parent). Returns an fd or a negative code. */
static int upper_dir(struct copier *c, const char *path, bool make, struct berth_err **err)
{
	_cleanup_close_ int fd = openat(c->o->upper_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "open the layer directory");
	_cleanup_buf_ struct berth_buf prefix;
	berth_buf_init(&prefix, BERTH_BUF_UNLIMITED);
	const char *p = path;
	while (*p) {
		const char *end = strchrnul(p, '/');
		_cleanup_free_ char *name = berth_xstrndup(p, (size_t)(end - p));
		p = *end ? end + 1 : end;
		if (!*name)
			continue;
		berth__path_push(&prefix, name);
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && make)
			next = make_parent(c, fd, name, prefix.data, err);
		else if (next < 0 && (errno == ENOTDIR || errno == ELOOP))
			return berth_err_set(err, BERTH_E_INVALID,
					     "cannot copy into '/%s': '/%s' is not a directory",
					     path, prefix.data);
		else if (next < 0)
			return berth_err_sys(err, errno, "open '/%s'", prefix.data);
		if (next < 0)
			return next;
		close(fd);
		fd = next;
	}
	return take_fd(&fd);
}

/* Clear dir/name in the upper for a new non-directory: what an earlier
 * source put there goes, a directory is refused (as BuildKit does). */
static int clear_target(struct copier *c, int dir, const char *name, struct berth_err **err)
{
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
			   ? 0
			   : berth_err_sys(err, errno, "replace '/%s'", c->dst_rel.data);
	if (S_ISDIR(st.st_mode))
		return berth_err_set(err, BERTH_E_INVALID,
				     "cannot replace directory '/%s' with a file", c->dst_rel.data);
	if (unlinkat(dir, name, 0) < 0 && errno != ENOENT)
		return berth_err_sys(err, errno, "replace '/%s'", c->dst_rel.data);
	return 0;
}

/* user.* xattrs and file capabilities go with a copy (BuildKit copies
 * xattrs; security.* labels belong to the host, trusted.* to overlayfs). */
static bool xattr_kept(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

static int copy_xattrs(struct copier *c, int src, int dst, struct berth_err **err)
{
	const char *names = c->xnames;
	ssize_t n = flistxattr(src, c->xnames, sizeof(c->xnames));
	if (n < 0)
		return errno == ENOTSUP
			   ? 0
			   : berth_err_sys(err, errno, "read xattrs for '/%s'", c->dst_rel.data);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		if (!xattr_kept(names + i))
			continue;
		ssize_t vn = fgetxattr(src, names + i, c->buf, sizeof(c->buf));
		if (vn < 0 && errno == ENODATA)
			continue;
		if (vn < 0)
			return berth_err_sys(err, errno, "read xattr '%s' for '/%s'", names + i,
					     c->dst_rel.data);
		if (fsetxattr(dst, names + i, c->buf, (size_t)vn, 0) < 0 && errno != ENOTSUP)
			return berth_err_sys(err, errno, "set xattr '%s' on '/%s'", names + i,
					     c->dst_rel.data);
	}
	return 0;
}

/* Owner, mode, xattrs and times of a copied file or directory; chown
 * first, since it clears set-id bits. */
static int set_meta(struct copier *c, int src, int dst, const struct stat *st,
		    struct berth_err **err)
{
	if (fchown(dst, owner_uid(c, st->st_uid), owner_gid(c, st->st_gid)) < 0 ||
	    fchmod(dst, perm_of(c, st->st_mode)) < 0)
		return berth_err_sys(err, errno, "set the owner and mode of '/%s'",
				     c->dst_rel.data);
	int r = copy_xattrs(c, src, dst, err);
	if (r < 0)
		return r;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (futimens(dst, ts) < 0)
		return berth_err_sys(err, errno, "set the times of '/%s'", c->dst_rel.data);
	return 0;
}

static int copy_bytes(struct copier *c, int src, int dst, struct berth_err **err)
{
	bool range = true;
	for (;;) {
		ssize_t n;
		if (range) {
			n = copy_file_range(src, NULL, dst, NULL, sizeof(c->buf), 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				range = false; /* not between these files: read and write */
				continue;
			}
		} else {
			n = read(src, c->buf, sizeof(c->buf));
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "copy '/%s'", c->dst_rel.data);
		}
		if (n == 0)
			return 0;
		for (ssize_t off = 0; !range && off < n;) {
			ssize_t w = write(dst, c->buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return berth_err_sys(err, errno, "write '/%s'", c->dst_rel.data);
			off += w;
		}
	}
}

/* Another name of an inode already copied: link to the copy. Returns 1
 * when linked, 0 when the copy is gone (copy again), or a negative code. */
static int copy_hardlink(struct copier *c, const struct link_ent *e, int dst_dir, const char *name,
			 struct berth_err **err)
{
	_cleanup_free_ char *parent = berth_xstrdup(e->dst);
	char *slash = strrchr(parent, '/');
	const char *base = slash ? slash + 1 : parent;
	if (slash)
		*slash = '\0';
	_cleanup_close_ int pfd = -1;
	{
		struct berth_err *ignored = NULL;
		pfd = upper_dir(c, slash ? parent : "", false, &ignored);
		berth_err_free(ignored);
	}
	struct stat st;
	if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_ino != e->dst_ino)
		return 0;
	int r = clear_target(c, dst_dir, name, err);
	if (r < 0)
		return r;
	if (linkat(pfd, base, dst_dir, name, 0) < 0)
		return errno == EMLINK ? 0
				       : berth_err_sys(err, errno, "link '/%s'", c->dst_rel.data);
	return 1;
}

static int copy_file(struct copier *c, int src_dir, const char *src_name, const struct stat *st,
		     int dst_dir, const char *name, struct berth_err **err)
{
	if (st->st_nlink > 1) {
		const struct link_ent *e = link_get(&c->links, st->st_dev, st->st_ino);
		int r = e ? copy_hardlink(c, e, dst_dir, name, err) : 0;
		if (r != 0)
			return r < 0 ? r : 0;
	}
	/* O_NONBLOCK: a FIFO swapped in meanwhile must not hang the open;
	 * the inode check refuses it. */
	_cleanup_close_ int src =
	    openat(src_dir, src_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat again;
	if (src < 0 || fstat(src, &again) < 0)
		return berth_err_sys(err, errno, "open '%s'", c->src_rel.data);
	if (again.st_dev != st->st_dev || again.st_ino != st->st_ino)
		return berth_err_set(err, BERTH_E_INVALID, "'%s' changed while it was copied",
				     c->src_rel.data);
	int r = clear_target(c, dst_dir, name, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dst =
	    openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0)
		return berth_err_sys(err, errno, "create '/%s'", c->dst_rel.data);
	r = copy_bytes(c, src, dst, err);
	if (r == 0)
		r = set_meta(c, src, dst, st, err);
	if (r < 0)
		return r;
	if (st->st_nlink > 1) {
		struct stat dst_st;
		if (fstat(dst, &dst_st) == 0)
			link_put(&c->links, st->st_dev, st->st_ino, dst_st.st_ino, c->dst_rel.data);
	}
	return 0;
}

static int copy_symlink(struct copier *c, int src_dir, const char *src_name, const struct stat *st,
			int dst_dir, const char *name, struct berth_err **err)
{
	char *target = c->link;
	ssize_t n = readlinkat(src_dir, src_name, target, sizeof(c->link));
	if (n < 0)
		return berth_err_sys(err, errno, "read link '%s'", c->src_rel.data);
	if ((size_t)n >= sizeof(c->link))
		return berth_err_sys(err, ENAMETOOLONG, "read link '%s'", c->src_rel.data);
	target[n] = '\0';
	int r = clear_target(c, dst_dir, name, err);
	if (r < 0)
		return r;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (symlinkat(target, dst_dir, name) < 0)
		return berth_err_sys(err, errno, "create symlink '/%s'", c->dst_rel.data);
	if (fchownat(dst_dir, name, owner_uid(c, st->st_uid), owner_gid(c, st->st_gid),
		     AT_SYMLINK_NOFOLLOW) < 0 ||
	    utimensat(dst_dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "set the owner and times of '/%s'",
				     c->dst_rel.data);
	return 0;
}

/* FIFOs and device nodes (the latter need CAP_MKNOD, as in BuildKit). */
static int copy_node(struct copier *c, const struct stat *st, int dst_dir, const char *name,
		     struct berth_err **err)
{
	int r = clear_target(c, dst_dir, name, err);
	if (r < 0)
		return r;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	if (mknodat(dst_dir, name, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0)
		return berth_err_sys(err, errno, "create '/%s'", c->dst_rel.data);
	/* Just made by us in the upper: not a symlink, so fchmodat cannot
	 * be led elsewhere. */
	if (fchownat(dst_dir, name, owner_uid(c, st->st_uid), owner_gid(c, st->st_gid),
		     AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dst_dir, name, perm_of(c, st->st_mode), 0) < 0 ||
	    utimensat(dst_dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "set the owner, mode and times of '/%s'",
				     c->dst_rel.data);
	return 0;
}

/* A directory of the upper made only when something goes into it: an
 * excluded directory is copied only for an entry an exception keeps. */
struct lazy_dir {
	struct lazy_dir *up; /* NULL when fd is open from the start */
	int fd;              /* -1 until made */
	const char *name;    /* in up */
	size_t dst_len;      /* its path: c->dst_rel.data[0 .. dst_len) */
	bool made;           /* opened here, not handed in: its metadata follows its contents
			      * (an earlier source's directory gets this one's, as in BuildKit) */
};

static int lazy_make(struct copier *c, struct lazy_dir *l, struct berth_err **err)
{
	if (l->fd >= 0)
		return 0;
	int r = lazy_make(c, l->up, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *shown = berth_xstrndup(c->dst_rel.data, l->dst_len);
	if (mkdirat(l->up->fd, l->name, 0700) < 0 && errno != EEXIST)
		return berth_err_sys(err, errno, "create directory '/%s'", shown);
	l->fd = openat(l->up->fd, l->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (l->fd < 0 && (errno == ENOTDIR || errno == ELOOP))
		return berth_err_set(err, BERTH_E_INVALID,
				     "cannot copy a directory to '/%s': it is not a directory",
				     shown);
	if (l->fd < 0)
		return berth_err_sys(err, errno, "create directory '/%s'", shown);
	l->made = true;
	return 0;
}

static int copy_entry(struct copier *c, int src_dir, const char *src_name, struct lazy_dir *parent,
		      const char *name, struct berth_err **err);

/* The contents of the source directory src into `dir`, then, when `dir`
 * was made for it, the directory's own metadata (after its contents, so
 * the times stick). */
static int copy_dir(struct copier *c, int src, const struct stat *st, struct lazy_dir *dir,
		    struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	int r = berth__list_dir(src, &names);
	if (r < 0)
		return berth_err_sys(err, -r, "read directory '%s'", c->src_rel.data);
	size_t src_mark = c->src_rel.len, dst_mark = c->dst_rel.len;
	for (size_t i = 0; i < names.n && r == 0; i++) {
		berth__path_push(&c->src_rel, names.v[i]);
		berth__path_push(&c->dst_rel, names.v[i]);
		r = copy_entry(c, src, names.v[i], dir, names.v[i], err);
		berth__path_truncate(&c->src_rel, src_mark);
		berth__path_truncate(&c->dst_rel, dst_mark);
	}
	if (r == 0 && dir->fd >= 0 && dir->made)
		r = set_meta(c, src, dir->fd, st, err);
	return r;
}

static void lazy_closep(struct lazy_dir *l)
{
	if (l->fd >= 0)
		close(l->fd);
}

/* Copy src_dir/src_name (c->src_rel) into parent as `name` (c->dst_rel). */
static int copy_entry(struct copier *c, int src_dir, const char *src_name, struct lazy_dir *parent,
		      const char *name, struct berth_err **err)
{
	struct stat st;
	if (fstatat(src_dir, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "read '%s'", c->src_rel.data);
	bool excluded =
	    c->o->ig && c->src_rel.len && berth__ignore_match(c->o->ig, c->src_rel.data);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int src =
		    openat(src_dir, src_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat again;
		if (src < 0 || fstat(src, &again) < 0)
			return berth_err_sys(err, errno, "open '%s'", c->src_rel.data);
		if (again.st_dev != st.st_dev || again.st_ino != st.st_ino)
			return berth_err_set(err, BERTH_E_INVALID,
					     "'%s' changed while it was copied", c->src_rel.data);
		_cleanup_(lazy_closep) struct lazy_dir dir = {parent, -1, name, c->dst_rel.len,
							      false};
		/* Made even when empty, unless excluded: then only for
		 * what an exception keeps below it. */
		int r = excluded ? 0 : lazy_make(c, &dir, err);
		return r < 0 ? r : copy_dir(c, src, &st, &dir, err);
	}
	if (excluded || S_ISSOCK(st.st_mode))
		return 0; /* sockets cannot be copied, BuildKit's context skips them */
	int r = lazy_make(c, parent, err);
	if (r < 0)
		return r;
	if (S_ISREG(st.st_mode))
		return copy_file(c, src_dir, src_name, &st, parent->fd, name, err);
	if (S_ISLNK(st.st_mode))
		return copy_symlink(c, src_dir, src_name, &st, parent->fd, name, err);
	return copy_node(c, &st, parent->fd, name, err);
}

/* What the stacked upper and view hold at path: 0 with *st, or -errno. */
static int lookup(const struct copier *c, const char *path, struct stat *st)
{
	int r = lstat_in(c->o->upper_fd, path, st);
	if (r == -ENOENT || r == -ENOTDIR)
		r = lstat_in(c->o->view_fd, path, st);
	return r;
}

/* One source to its place below the resolved destination `dest`. */
static int copy_source(struct copier *c, const struct berth__source *s, const char *dest,
		       bool into_dir, struct berth_err **err)
{
	int src_root = c->o->src_root_fd;
	/* COPY follows a symlink at the top of a source (but --parents does
	 * not); what is below is copied as it is. */
	int r;
	if (s->nofollow && strchr(s->path, '/')) {
		_cleanup_free_ char *up =
		    berth_xstrndup(s->path, (size_t)(base_name(s->path) - 1 - s->path));
		r = berth__resolve(&src_root, 1, up, BERTH__RESOLVE_MAY_MISS, NULL, &c->src_rel);
		if (r == 0)
			berth__path_push(&c->src_rel, base_name(s->path));
	} else if (s->nofollow) {
		berth__path_truncate(&c->src_rel, 0);
		berth_buf_addstr(&c->src_rel, s->path);
		r = 0;
	} else {
		r = berth__resolve(&src_root, 1, s->path, BERTH__RESOLVE_MAY_MISS, NULL,
				   &c->src_rel);
	}
	struct stat st;
	if (r == 0)
		r = lstat_in(src_root, c->src_rel.data, &st);
	if (r == -ENOENT || r == -ENOTDIR)
		return berth_err_set(err, BERTH_E_NOT_FOUND, "'%s' not found", s->path);
	if (r < 0)
		return berth_err_sys(err, -r, "open '%s'", s->path);

	_cleanup_free_ char *src_parent = NULL;
	const char *src_base = ".";
	if (c->src_rel.len) {
		const char *slash = strrchr(c->src_rel.data, '/');
		src_parent =
		    slash ? berth_xstrndup(c->src_rel.data, (size_t)(slash - c->src_rel.data))
			  : berth_xstrdup("");
		src_base = base_name(c->src_rel.data);
	}
	_cleanup_close_ int src_dir =
	    berth__open_in(src_root, src_parent ? src_parent : "", O_RDONLY | O_DIRECTORY);
	if (src_dir < 0)
		return berth_err_sys(err, -src_dir, "open '%s'", s->path);
	_cleanup_free_ char *src_name = berth_xstrdup(src_base);

	berth__path_truncate(&c->dst_rel, 0);
	berth_buf_addstr(&c->dst_rel, dest);
	struct stat dst_st;
	int dr = lookup(c, dest, &dst_st);
	bool dest_is_dir = dr == 0 && S_ISDIR(dst_st.st_mode);

	if (S_ISDIR(st.st_mode)) {
		/* A directory's contents go into dest, made for it (with
		 * its metadata) unless it is there already. */
		if (dr == 0 && !dest_is_dir)
			return berth_err_set(err, BERTH_E_INVALID,
					     "cannot copy directory '%s' to '/%s': it is not a "
					     "directory",
					     s->path, dest);
		if (dest_is_dir || !*dest) {
			_cleanup_(lazy_closep) struct lazy_dir top = {NULL, -1, "", 0, false};
			top.fd = upper_dir(c, dest, true, err);
			if (top.fd < 0)
				return top.fd;
			_cleanup_close_ int src = openat(
			    src_dir, src_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (src < 0)
				return berth_err_sys(err, errno, "open '%s'", s->path);
			return copy_dir(c, src, &st, &top, err);
		}
		_cleanup_free_ char *parent_path = berth_xstrdup(dest);
		char *slash = strrchr(parent_path, '/');
		if (slash)
			*slash = '\0';
		_cleanup_(lazy_closep) struct lazy_dir parent = {NULL, -1, "", 0, false};
		parent.fd = upper_dir(c, slash ? parent_path : "", true, err);
		if (parent.fd < 0)
			return parent.fd;
		return copy_entry(c, src_dir, src_name, &parent, base_name(dest), err);
	}

	/* A file lands at dest, or inside it when dest is a directory. */
	_cleanup_(lazy_closep) struct lazy_dir parent = {NULL, -1, "", 0, false};
	const char *name;
	if (into_dir || dest_is_dir || !*dest) {
		parent.fd = upper_dir(c, dest, true, err);
		name = base_name(s->path);
		berth__path_push(&c->dst_rel, name);
	} else {
		_cleanup_free_ char *parent_path = berth_xstrdup(dest);
		char *slash = strrchr(parent_path, '/');
		if (slash)
			*slash = '\0';
		parent.fd = upper_dir(c, slash ? parent_path : "", true, err);
		name = base_name(dest);
	}
	if (parent.fd < 0)
		return parent.fd;
	return copy_entry(c, src_dir, src_name, &parent, name, err);
}

int berth__copy(const struct berth__copy_opts *o, struct berth_err **err)
{
	size_t dl = strlen(o->dest);
	/* A trailing '/' (or "/.") makes dest a directory, as in Docker. */
	bool into_dir = dl == 0 || o->dest[dl - 1] == '/' || strcmp(o->dest, ".") == 0 ||
			(dl >= 2 && strcmp(o->dest + dl - 2, "/.") == 0);
	if (o->nsrc > 1 && !into_dir)
		return berth_err_set(err, BERTH_E_INVALID, COPY_MANY_SOURCES);

	_cleanup_(copier_freep) struct copier *c = berth_xcalloc(1, sizeof(*c));
	c->o = o;
	berth_buf_init(&c->src_rel, BERTH_BUF_UNLIMITED);
	berth_buf_init(&c->dst_rel, BERTH_BUF_UNLIMITED);

	/* dest is resolved in the image as it stands: symlinks on the way
	 * (and at the end) are followed inside it, as BuildKit does. */
	_cleanup_buf_ struct berth_buf dest;
	berth_buf_init(&dest, BERTH_BUF_UNLIMITED);
	int layers[2] = {o->upper_fd, o->view_fd};
	int r = berth__resolve(layers, 2, o->dest, BERTH__RESOLVE_MAY_MISS, NULL, &dest);
	if (r == -ENOTDIR)
		return berth_err_set(err, BERTH_E_INVALID,
				     "cannot copy to '%s': a part of it is not a directory",
				     o->dest);
	if (r < 0)
		return berth_err_sys(err, -r, "resolve '%s'", o->dest);

	/* Parents are made even when a wildcard selected nothing. */
	_cleanup_free_ char *made = berth_xstrdup(dest.data);
	if (into_dir) {
		struct stat st;
		if (lookup(c, made, &st) == 0 && !S_ISDIR(st.st_mode))
			return berth_err_set(err, BERTH_E_INVALID,
					     "cannot copy to '%s': it is not a directory", o->dest);
	} else {
		char *slash = strrchr(made, '/');
		*(slash ? slash : made) = '\0';
	}
	int fd = upper_dir(c, made, true, err);
	if (fd < 0)
		return fd;
	close(fd);

	for (size_t i = 0; i < o->nsrc; i++) {
		r = copy_source(c, &o->src[i], dest.data, into_dir, err);
		if (r < 0)
			return berth_err_prefix(err, "copy '%s' to '%s'", o->src[i].path, o->dest);
	}

	/* Copied-up directories get the view's times last, so nothing made
	 * in them afterwards moves their mtime. */
	for (size_t i = c->ntimes; i-- > 0;) {
		_cleanup_close_ int dfd = upper_dir(c, c->times[i].path, false, err);
		if (dfd < 0)
			return dfd;
		if (futimens(dfd, c->times[i].ts) < 0)
			return berth_err_sys(err, errno, "set the times of '/%s'",
					     c->times[i].path);
	}
	return 0;
}

/* Make the directory `name` in parent (the upper path `path`) for COPY
 * --parents, with the metadata of the source directory it stands for
 * (--chmod and --chown applied); its times are set last. */
static int make_from_source(struct copier *c, int parent, const char *name, const char *path,
			    const struct stat *src, struct berth_err **err)
{
	if (mkdirat(parent, name, 0700) < 0)
		return berth_err_sys(err, errno, "create directory '/%s'", path);
	_cleanup_close_ int fd =
	    openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "create directory '/%s'", path);
	if (fchown(fd, owner_uid(c, src->st_uid), owner_gid(c, src->st_gid)) < 0 ||
	    fchmod(fd, perm_of(c, src->st_mode)) < 0)
		return berth_err_sys(err, errno, "set the owner and mode of '/%s'", path);
	c->times = berth_xgrow(c->times, sizeof(*c->times), c->ntimes + 1, &c->times_cap);
	c->times[c->ntimes++] =
	    (struct dir_time){berth_xstrdup(path), {src->st_atim, src->st_mtim}};
	return 0;
}

/* The directory `dst` (below the resolved destination, unresolved) for the
 * source directory `src_path`: there already (in the upper or the image),
 * or made from the source's metadata. The resolved path goes to *out. */
static int parents_dir(struct copier *c, const char *dst, const char *src_path,
		       struct berth_buf *out, struct berth_err **err)
{
	int layers[2] = {c->o->upper_fd, c->o->view_fd};
	int r = berth__resolve(layers, 2, dst, BERTH__RESOLVE_MAY_MISS, NULL, out);
	if (r < 0)
		return r == -ENOTDIR ? berth_err_set(err, BERTH_E_INVALID,
						     "cannot copy to '/%s': a part of it is not a "
						     "directory",
						     dst)
				     : berth_err_sys(err, -r, "resolve '/%s'", dst);
	struct stat st;
	if (lookup(c, out->data, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return berth_err_set(err, BERTH_E_INVALID,
					     "cannot copy into '/%s': it is not a directory", dst);
		return 0;
	}
	struct stat src;
	if ((r = lstat_in(c->o->src_root_fd, src_path, &src)) < 0)
		return berth_err_sys(err, -r, "read '%s'", src_path);
	_cleanup_free_ char *up = berth_xstrdup(out->data);
	char *slash = strrchr(up, '/');
	if (slash)
		*slash = '\0';
	_cleanup_close_ int pfd = upper_dir(c, slash ? up : "", true, err);
	if (pfd < 0)
		return pfd;
	return make_from_source(c, pfd, base_name(out->data), out->data, &src, err);
}

int berth__copy_parents(const struct berth__copy_opts *o, const char *pivot, struct berth_err **err)
{
	_cleanup_(copier_freep) struct copier *c = berth_xcalloc(1, sizeof(*c));
	c->o = o;
	berth_buf_init(&c->src_rel, BERTH_BUF_UNLIMITED);
	berth_buf_init(&c->dst_rel, BERTH_BUF_UNLIMITED);
	_cleanup_buf_ struct berth_buf dest, at, src_path, resolved;
	berth_buf_init(&dest, BERTH_BUF_UNLIMITED);
	berth_buf_init(&at, BERTH_BUF_UNLIMITED);
	berth_buf_init(&src_path, BERTH_BUF_UNLIMITED);
	berth_buf_init(&resolved, BERTH_BUF_UNLIMITED);
	/* The destination is a directory, made (and resolved) as COPY does. */
	int layers[2] = {o->upper_fd, o->view_fd};
	int r = berth__resolve(layers, 2, o->dest, BERTH__RESOLVE_MAY_MISS, NULL, &dest);
	if (r < 0)
		return r == -ENOTDIR ? berth_err_set(err, BERTH_E_INVALID,
						     "cannot copy to '%s': a part of it is not a "
						     "directory",
						     o->dest)
				     : berth_err_sys(err, -r, "resolve '%s'", o->dest);
	struct stat st;
	if (lookup(c, dest.data, &st) == 0 && !S_ISDIR(st.st_mode))
		return berth_err_set(err, BERTH_E_INVALID,
				     "cannot copy to '%s': it is not a directory", o->dest);
	int fd = upper_dir(c, dest.data, true, err);
	if (fd < 0)
		return fd;
	close(fd);

	size_t plen = *pivot ? strlen(pivot) + 1 : 0;
	for (size_t i = 0; i < o->nsrc; i++) {
		const struct berth__source *s = &o->src[i];
		if (strncmp(s->path, pivot, strlen(pivot)) != 0 || strlen(s->path) < plen)
			return berth_err_set(err, BERTH_E_INTERNAL, "'%s' is not below '%s'",
					     s->path, pivot);
		const char *rel = s->path + plen;
		/* The directories between the pivot and the entry. */
		berth__path_truncate(&at, 0);
		berth_buf_addstr(&at, dest.data);
		berth__path_truncate(&src_path, 0);
		berth_buf_addstr(&src_path, pivot);
		berth__path_truncate(&resolved, 0);
		berth_buf_addstr(&resolved, dest.data);
		const char *base = base_name(rel);
		for (const char *p = rel; p < base;) {
			const char *end = strchr(p, '/');
			_cleanup_free_ char *name = berth_xstrndup(p, (size_t)(end - p));
			p = end + 1;
			berth__path_push(&at, name);
			berth__path_push(&src_path, name);
			berth__path_truncate(&resolved, 0);
			if ((r = parents_dir(c, at.data, src_path.data, &resolved, err)) < 0)
				return berth_err_prefix(err, "copy '%s'", s->path);
		}
		if (s->is_dir) {
			/* A directory lands as itself, made with its metadata. */
			berth__path_push(&resolved, base);
			r = copy_source(c, s, resolved.data, false, err);
		} else {
			r = copy_source(c, s, resolved.data, true, err);
		}
		if (r < 0)
			return berth_err_prefix(err, "copy '%s' to '%s'", s->path, o->dest);
	}
	for (size_t i = c->ntimes; i-- > 0;) {
		_cleanup_close_ int dfd = upper_dir(c, c->times[i].path, false, err);
		if (dfd < 0)
			return dfd;
		if (futimens(dfd, c->times[i].ts) < 0)
			return berth_err_sys(err, errno, "set the times of '/%s'",
					     c->times[i].path);
	}
	return 0;
}
