/* Safe filesystem access: opening paths beneath a root fd so that `..` and
 * symlinks cannot escape it (openat2, or a component walk that treats the root
 * as "/"), crash-safe atomic writes, mkdir -p, and rm -rf that never follows
 * symlinks. */
#include "common/common.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif

#define FS_MAX_SYMLINKS    40 /* the kernel's MAXSYMLINKS */
#define FS_OPENAT2_RETRIES 32 /* EAGAIN from a concurrent rename under the root */

/* The component walk, exported for the unit tests so that both resolvers run
 * the same escape cases; returns an fd or -errno. */
int berth__fs_open_beneath_walk(int rootfd, const char *path, int flags, mode_t mode);

static bool flags_take_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static atomic_bool openat2_missing;

/* openat2 with the root as "/". Returns an fd, or -errno (-ENOSYS when the
 * kernel has no openat2, remembered so later calls go straight to the walk). */
static int fs_openat2_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	if (atomic_load_explicit(&openat2_missing, memory_order_relaxed))
		return -ENOSYS;
	struct open_how how = {
	    .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
	    .mode = flags_take_mode(flags) ? mode : 0,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	for (int tries = 0;; tries++) {
		long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		int e = errno;
		if (e == EINTR || (e == EAGAIN && tries < FS_OPENAT2_RETRIES))
			continue;
		if (e == ENOSYS)
			atomic_store_explicit(&openat2_missing, true, memory_order_relaxed);
		return -e;
	}
}

/* The directories entered below the root, innermost last; `..` pops one, so
 * the walk can never climb above the root whatever the tree looks like. */
struct fs_walk {
	int rootfd; /* borrowed */
	int *dirs;  /* owned fds */
	size_t n, cap;
};

static int walk_cur(const struct fs_walk *w)
{
	return w->n ? w->dirs[w->n - 1] : w->rootfd;
}

static void walk_pop(struct fs_walk *w)
{
	if (w->n)
		close(w->dirs[--w->n]);
}

static void walk_push(struct fs_walk *w, int fd)
{
	w->dirs = berth_xgrow(w->dirs, sizeof(*w->dirs), w->n + 1, &w->cap);
	w->dirs[w->n++] = fd;
}

static void walk_releasep(struct fs_walk *w)
{
	while (w->n)
		walk_pop(w);
	free(w->dirs);
}

/* Read the symlink dirfd/name (name "" with an O_PATH fd of the link) into a
 * new string. Returns 0 or -errno. */
static int read_link(int dirfd, const char *name, char **out)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(target))
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT; /* as the kernel treats an empty link */
	*out = berth_xstrndup(target, (size_t)n);
	return 0;
}

int berth__fs_open_beneath_walk(int rootfd, const char *path, int flags, mode_t mode)
{
	_cleanup_(walk_releasep) struct fs_walk w = {.rootfd = rootfd};
	_cleanup_free_ char *rest = berth_xstrdup(path); /* what is left to resolve */
	const char *p = rest;
	int links = 0;

	if (!flags_take_mode(flags))
		mode = 0;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p) {
			/* Nothing left, or a trailing slash: the directory
			 * reached is the target. */
			int fd = openat(walk_cur(&w), ".", flags | O_CLOEXEC, mode);
			return fd < 0 ? -errno : fd;
		}

		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		char name[NAME_MAX + 1];
		memcpy(name, p, len);
		name[len] = '\0';
		bool last = *end == '\0';
		p = end;

		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			walk_pop(&w); /* a no-op at the root, as in chroot */
			continue;
		}

		_cleanup_free_ char *target = NULL;
		int r, orig;
		if (last) {
			/* O_NOFOLLOW so that a symlink is never followed by the
			 * kernel; we follow it ourselves, inside the root. */
			int fd = openat(walk_cur(&w), name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (fd >= 0) {
				struct stat st;
				if (!(flags & O_PATH) || (flags & O_NOFOLLOW))
					return fd;
				/* O_PATH opens the link itself; look. */
				if (fstat(fd, &st) < 0) {
					r = -errno;
					close(fd);
					return r;
				}
				if (!S_ISLNK(st.st_mode))
					return fd;
				close(fd);
				orig = ELOOP;
			} else {
				orig = errno;
				if ((flags & O_NOFOLLOW) || (orig != ELOOP && orig != ENOTDIR))
					return -orig;
			}
			/* Not a symlink after all (EINVAL): the open's own
			 * error stands. */
			r = read_link(walk_cur(&w), name, &target);
			if (r < 0)
				return r == -EINVAL ? -orig : r;
		} else {
			int fd = openat(walk_cur(&w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return -errno;
			struct stat st;
			if (fstat(fd, &st) < 0) {
				r = -errno;
				close(fd);
				return r;
			}
			if (S_ISDIR(st.st_mode)) {
				walk_push(&w, fd);
				continue;
			}
			r = S_ISLNK(st.st_mode) ? read_link(fd, "", &target) : -ENOTDIR;
			close(fd);
			if (r < 0)
				return r;
		}

		/* Splice the link target in front of what is left; an
		 * absolute target starts again from the root. */
		if (++links > FS_MAX_SYMLINKS)
			return -ELOOP;
		if (target[0] == '/')
			while (w.n)
				walk_pop(&w);
		char *spliced = berth_xasprintf("%s%s", target, p);
		free(rest);
		rest = spliced;
		p = rest;
	}
}

/* Resolve beneath the root with whichever resolver the kernel allows. */
static int fs_resolve(int rootfd, const char *path, int flags, mode_t mode)
{
	int fd = fs_openat2_in_root(rootfd, path, flags, mode);
	if (fd == -ENOSYS)
		fd = berth__fs_open_beneath_walk(rootfd, path, flags, mode);
	return fd;
}

int berth_fs_open_beneath(int rootfd, const char *path, int flags, mode_t mode,
			  struct berth_err **err)
{
	if (!*path)
		return berth_err_set(err, BERTH_E_INVALID, "open '': empty path");
	int fd = fs_resolve(rootfd, path, flags, mode);
	if (fd < 0)
		return berth_err_sys(err, -fd, "open '%s'", path);
	return fd;
}

int berth_fs_mkdir_beneath(int rootfd, const char *path, mode_t mode, struct berth_err **err)
{
	/* Each prefix is resolved afresh beneath the root, so a symlink or
	 * `..` anywhere in the path lands inside it; only the final component
	 * of a missing prefix is created, in the directory its parent resolved
	 * to. */
	_cleanup_free_ char *prefix = berth_xstrdup(path);
	_cleanup_close_ int parent = fs_resolve(rootfd, "/", O_PATH | O_DIRECTORY, 0);
	if (parent < 0)
		return berth_err_sys(err, -parent, "create directory '%s': open the root", path);

	size_t len = strlen(path), i = 0;
	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		prefix[i] = '\0';
		int fd = fs_resolve(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
		if (fd == -ENOENT) {
			_cleanup_free_ char *name = berth_xstrndup(path + start, i - start);
			if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
				return berth_err_sys(err, errno, "create directory '%s'", prefix);
			/* EEXIST: made concurrently, or a dangling symlink,
			 * which the second resolve reports. */
			fd = fs_resolve(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
		}
		if (fd < 0)
			return berth_err_sys(err, -fd, "create directory '%s'", prefix);
		close(parent);
		parent = fd;
		prefix[i] = path[i];
	}
	return 0;
}

int berth_fs_read_file(const char *path, size_t max, struct berth_buf *out, struct berth_err **err)
{
	bool is_stdin = strcmp(path, "-") == 0;
	const char *shown = is_stdin ? "standard input" : path;
	_cleanup_close_ int owned = -1;
	int fd = STDIN_FILENO;
	if (!is_stdin) {
		owned = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (owned < 0)
			return berth_err_sys(err, errno, "read '%s'", path);
		fd = owned;
	}

	/* Both caps apply: the caller's `max` and what `out` still holds. */
	size_t start = out->len;
	bool was_full = out->full;
	size_t limit = max;
	if (out->max - out->len < limit)
		limit = out->max - out->len;

	char chunk[65536];
	size_t total = 0;
	int r;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = berth_err_sys(err, errno, "read '%s'", shown);
			goto fail;
		}
		if (n == 0)
			return 0;
		if ((size_t)n > limit - total) {
			r = berth_err_set(err, BERTH_E_LIMIT,
					  "file '%s' is larger than the limit of %zu bytes", shown,
					  limit);
			goto fail;
		}
		if (berth_buf_add(out, chunk, (size_t)n) < 0)
			BUG("buffer refused %zd bytes within its cap", n);
		total += (size_t)n;
	}
fail:
	/* Leave out as it was: nothing of a failed read is appended. */
	out->len = start;
	if (out->cap)
		out->data[start] = '\0';
	out->full = was_full;
	return r;
}

static unsigned tmp_suffix(void)
{
	static atomic_uint counter;
	unsigned v;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	/* No entropy yet (early boot): O_EXCL keeps this safe, only slower. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec ^
	       atomic_fetch_add(&counter, 1) * 0x9e3779b9u;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			 bool durable, struct berth_err **err)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return berth_err_set(err, BERTH_E_INVALID, "write '%s': not a file name", name);
	_cleanup_free_ char *dir = !slash          ? berth_xstrdup(".")
				   : slash == name ? berth_xstrdup("/")
						   : berth_xstrndup(name, (size_t)(slash - name));
	_cleanup_close_ int dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "write '%s': open directory '%s'", name, dir);

	/* The temp name is hidden and in the same directory, so rename is
	 * atomic; O_EXCL|O_NOFOLLOW never reuses or follows anything there. The
	 * base is shortened to keep the name under NAME_MAX. */
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	for (int attempt = 0; fd < 0; attempt++) {
		free(tmp);
		tmp = berth_xasprintf(".%.200s.tmp-%08x", base, tmp_suffix());
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && (errno != EEXIST || attempt == 100))
			return berth_err_sys(err, errno, "write '%s': create temporary file", name);
	}

	int r = write_all(fd, data, len);
	if (r < 0) {
		r = berth_err_sys(err, -r, "write '%s'", name);
		goto out;
	}
	if (durable && fsync(fd) < 0) {
		r = berth_err_sys(err, errno, "write '%s': fsync", name);
		goto out;
	}
	int cfd = fd;
	fd = -1;
	if (close(cfd) < 0) {
		r = berth_err_sys(err, errno, "write '%s': close", name);
		goto out;
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		r = berth_err_sys(err, errno, "write '%s': rename into place", name);
		goto out;
	}
	free(tmp);
	tmp = NULL; /* renamed: nothing to clean up any more */
	/* Make the rename itself durable. Some filesystems cannot fsync a
	 * directory (EINVAL); the data is in place regardless. */
	if (durable && fsync(dfd) < 0 && errno != EINVAL)
		return berth_err_sys(err, errno, "write '%s': fsync directory", name);
	return 0;
out:
	unlinkat(dfd, tmp, 0);
	return r;
}

int berth_fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			  struct berth_err **err)
{
	return write_replace(dirfd, name, data, len, mode, true, err);
}

int berth_fs_write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			   struct berth_err **err)
{
	return write_replace(dirfd, name, data, len, mode, false, err);
}

int berth_fs_mkdir_p(const char *path, mode_t mode, struct berth_err **err)
{
	if (!*path)
		return berth_err_set(err, BERTH_E_INVALID, "create directory '': empty path");
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0; /* the common case, in one call */
	_cleanup_free_ char *p = berth_xstrdup(path);
	size_t len = strlen(p);
	for (size_t i = 1; i <= len; i++) {
		if ((p[i] != '/' && p[i] != '\0') || p[i - 1] == '/')
			continue;
		char saved = p[i];
		p[i] = '\0';
		if (mkdir(p, mode) < 0) {
			int e = errno;
			if (e != EEXIST)
				return berth_err_sys(err, e, "create directory '%s'", p);
			if (stat(p, &st) < 0)
				return berth_err_sys(err, errno, "create directory '%s'", p);
			if (!S_ISDIR(st.st_mode))
				return berth_err_sys(err, ENOTDIR, "create directory '%s'", p);
		}
		p[i] = saved;
	}
	return 0;
}

static int remove_at(int dirfd, const char *name, struct berth_buf *shown, struct berth_err **err);

/* Remove everything inside the directory fd. Names are read first and the
 * stream closed before descending, so memory per level stays small. */
static int remove_contents(int fd, struct berth_buf *shown, struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return berth_err_sys(err, errno, "remove '%s'", shown->data);
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return berth_err_sys(err, e, "remove '%s'", shown->data);
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		berth_strv_push(&names, de->d_name);
	}
	int e = errno;
	closedir(d);
	if (e)
		return berth_err_sys(err, e, "remove '%s': read directory", shown->data);

	size_t mark = shown->len;
	for (size_t i = 0; i < names.n; i++) {
		berth_buf_addch(shown, '/');
		berth_buf_addstr(shown, names.v[i]);
		int r = remove_at(fd, names.v[i], shown, err);
		shown->len = mark;
		shown->data[mark] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

static int remove_at(int dirfd, const char *name, struct berth_buf *shown, struct berth_err **err)
{
	/* unlink first: it removes anything but a directory, symlinks
	 * included, without following them. Linux says EISDIR for a
	 * directory; POSIX allows EPERM. */
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return berth_err_sys(err, errno, "remove '%s'", shown->data);

	for (int pass = 0;; pass++) {
		_cleanup_close_ int fd =
		    openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				return 0;
			return berth_err_sys(err, errno, "remove '%s'", shown->data);
		}
		int r = remove_contents(fd, shown, err);
		if (r < 0)
			return r;
		if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		/* ENOTEMPTY: something was created meanwhile; go again. */
		if (errno != ENOTEMPTY || pass == 2)
			return berth_err_sys(err, errno, "remove '%s'", shown->data);
	}
}

int berth_fs_remove_tree(int dirfd, const char *name, struct berth_err **err)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return berth_err_set(err, BERTH_E_INVALID, "remove '%s': not a removable name",
				     name);
	_cleanup_buf_ struct berth_buf shown;
	berth_buf_init(&shown, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&shown, name);
	return remove_at(dirfd, name, &shown, err);
}
