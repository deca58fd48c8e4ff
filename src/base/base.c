/* Naming the base images berth makes, dispatching to the one asked for, and
 * the small filesystem helpers the builders of root filesystems share. */
#include "base/base_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

void berth_base_spec_release(struct berth_base_spec *s)
{
	free(s->suite);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

void berth_base_result_release(struct berth_base_result *r)
{
	berth_strv_release(&r->tags);
	free(r->mirror);
	free(r->removed_summary);
	memset(r, 0, sizeof(*r));
}

static bool suite_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > BERTH_BASE_SUITE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

int berth_base_parse(const char *name, struct berth_base_spec *out, struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (!strcmp(name, "busybox") || !strcmp(name, "busybox:latest")) {
		out->kind = BERTH_BASE_BUSYBOX;
		out->name = berth_xstrdup("busybox");
		return 0;
	}
	if (!strncmp(name, "debian:", 7)) {
		const char *suite = name + 7;
		size_t n = strlen(suite);
		bool slim = n > 5 && !strcmp(suite + n - 5, "-slim");
		if (slim)
			n -= 5;
		if (suite_name_ok(suite, n)) {
			out->kind = slim ? BERTH_BASE_DEBIAN_SLIM : BERTH_BASE_DEBIAN;
			out->suite = berth_xstrndup(suite, n);
			out->name = berth_xstrdup(name);
			return 0;
		}
	}
	return berth_err_set(
	    err, BERTH_E_INVALID,
	    "unknown base image '%s': berth makes debian:SUITE, "
	    "debian:SUITE-slim (debian:bookworm, debian:bookworm-slim) and busybox",
	    name);
}

int berth_base_create(struct berth_store *s, const struct berth_base_spec *spec,
		      const struct berth_base_opts *opts, struct berth_base_result *out,
		      struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (geteuid() != 0)
		return berth_err_set(err, BERTH_E_UNSUPPORTED,
				     "making '%s' needs root (%s, and every file in the image "
				     "must belong to root): run it as root",
				     spec->name,
				     spec->kind == BERTH_BASE_BUSYBOX
					 ? "the applets and users are made as root"
					 : "debootstrap makes device nodes and chroots");
	int r = spec->kind == BERTH_BASE_BUSYBOX ? berth__base_busybox(s, spec, opts, out, err)
						 : berth__base_debian(s, spec, opts, out, err);
	if (r < 0) {
		berth_base_result_release(out);
		return berth_err_prefix(err, "make '%s'", spec->name);
	}
	return 0;
}

void berth__base_step(const struct berth_base_opts *o, const char *fmt, ...)
{
	if (!o->step)
		return;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *line = berth_xvasprintf(fmt, ap);
	va_end(ap);
	o->step(o->step_ctx, line);
}

int berth__base_put(int rootfd, const char *path, const char *text, mode_t mode,
		    struct berth_err **err)
{
	_cleanup_close_ int fd = berth_fs_open_beneath(
	    rootfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode, err);
	if (fd < 0)
		return berth_err_prefix(err, "write '%s' in the new system", path);
	size_t len = strlen(text);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_err_sys(err, errno, "write '%s' in the new system", path);
		off += (size_t)n;
	}
	if (fchmod(fd, mode) < 0)
		return berth_err_sys(err, errno, "chmod '%s' in the new system", path);
	return 0;
}

/* Open the parent of `path` beneath rootfd; *name points at the last
 * component. -ENOENT (no error set) when the parent is missing. */
static int open_parent(int rootfd, const char *path, char **dir, const char **name,
		       struct berth_err **err)
{
	*dir = berth_xstrdup(path);
	char *slash = strrchr(*dir, '/');
	*name = slash ? path + (slash - *dir) + 1 : path;
	if (slash)
		*slash = '\0';
	const char *parent = slash && **dir ? *dir : "/";
	struct berth_err *e = NULL;
	int fd = berth_fs_open_beneath(rootfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &e);
	if (fd >= 0)
		return fd;
	if (e->sys_errno == ENOENT || e->sys_errno == ENOTDIR) {
		berth_err_free(e);
		return -ENOENT;
	}
	int code = -(int)e->code;
	if (err)
		*err = e;
	else
		berth_err_free(e);
	return code;
}

int berth__base_remove(int rootfd, const char *path, struct berth_err **err)
{
	_cleanup_free_ char *dir = NULL;
	const char *name;
	_cleanup_close_ int pfd = open_parent(rootfd, path, &dir, &name, err);
	if (pfd == -ENOENT)
		return 0;
	if (pfd < 0)
		return berth_err_prefix(err, "remove '%s' from the new system", path);
	if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return berth_err_sys(err, errno, "remove '%s' from the new system", path);
	if (berth_fs_remove_tree(pfd, name, err) < 0)
		return berth_err_prefix(err, "remove '%s' from the new system", path);
	return 0;
}

/* Open `path` beneath rootfd as a directory; -ENOENT (no error set) when it
 * is missing. */
static int open_dir_beneath(int rootfd, const char *path, struct berth_err **err)
{
	struct berth_err *e = NULL;
	int fd = berth_fs_open_beneath(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, &e);
	if (fd >= 0)
		return fd;
	if (e->sys_errno == ENOENT) {
		berth_err_free(e);
		return -ENOENT;
	}
	int code = -(int)e->code;
	if (err)
		*err = e;
	else
		berth_err_free(e);
	return code;
}

int berth__base_empty_dir(int rootfd, const char *path, struct berth_err **err)
{
	int fd = open_dir_beneath(rootfd, path, err);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return berth_err_prefix(err, "empty '%s' in the new system", path);
	DIR *d = fdopendir(fd);
	if (!d) {
		int e2 = errno;
		close(fd);
		return berth_err_sys(err, e2, "read '%s' in the new system", path);
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = berth_fs_remove_tree(dirfd(d), de->d_name, err);
	}
	closedir(d);
	return r < 0 ? berth_err_prefix(err, "empty '%s' in the new system", path) : 0;
}

/* (dev, ino) pairs already counted, for hardlinks. */
struct seen {
	dev_t *dev;
	ino_t *ino;
	size_t n, cap_dev, cap_ino;
};

static bool seen_add(struct seen *s, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->dev[i] == dev && s->ino[i] == ino)
			return false;
	s->dev = berth_xgrow(s->dev, sizeof(*s->dev), s->n + 1, &s->cap_dev);
	s->ino = berth_xgrow(s->ino, sizeof(*s->ino), s->n + 1, &s->cap_ino);
	s->dev[s->n] = dev;
	s->ino[s->n++] = ino;
	return true;
}

static int64_t tree_size(int dfd, struct seen *seen, int depth)
{
	if (depth > 256)
		return 0;
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	int64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(
			    dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				total += tree_size(sub, seen, depth + 1);
		} else if (S_ISREG(st.st_mode) &&
			   (st.st_nlink == 1 || seen_add(seen, st.st_dev, st.st_ino))) {
			total += st.st_size;
		}
	}
	closedir(d);
	return total;
}

int64_t berth__base_tree_size(int dirfd)
{
	struct seen seen = {0};
	int64_t n = tree_size(dirfd, &seen, 0);
	free(seen.dev);
	free(seen.ino);
	return n;
}

const char *berth__base_arch(void)
{
	static const struct {
		const char *machine, *oci;
	} map[] = {{"x86_64", "amd64"},    {"aarch64", "arm64"}, {"i686", "386"},
		   {"ppc64le", "ppc64le"}, {"s390x", "s390x"},   {"riscv64", "riscv64"}};
	struct utsname u;
	if (uname(&u) < 0)
		return NULL;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(map); i++)
		if (!strcmp(u.machine, map[i].machine))
			return map[i].oci;
	return NULL;
}
