/* Paths for COPY and its sources: open and resolve a path beneath a root
 * directory fd, build clean relative paths in a buffer, list a directory in
 * a stable order, and decode UTF-8 as Go does for the pattern matchers.
 * Shared by copy.c, sources.c and ignore.c so that they agree. */
#include "build/build_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATHS_MAX_SYMLINKS 40 /* the kernel's MAXSYMLINKS */

/* ------------------------------------------------------- beneath a root */

int berth__open_in(int root_fd, const char *path, int flags)
{
	struct berth_err *e = NULL;
	int fd = berth_fs_open_beneath(root_fd, *path ? path : ".", flags | O_CLOEXEC, 0, &e);
	if (fd < 0) {
		fd = e && e->sys_errno ? -e->sys_errno : -EINVAL;
		berth_err_free(e);
	}
	return fd;
}

int berth__resolve(const int *roots, size_t nroots, const char *path, enum berth__resolve_mode mode,
		   const struct berth__ignore *ig, struct berth_buf *out)
{
	bool must_exist = mode == BERTH__RESOLVE_MUST_EXIST;
	_cleanup_free_ char *rest = berth_xstrdup(path);
	const char *p = rest;
	int links = 0;
	berth__path_truncate(out, 0);
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			return 0;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		char name[NAME_MAX + 1];
		memcpy(name, p, len);
		name[len] = '\0';
		p = end;
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			berth__path_pop(out);
			continue;
		}
		/* Must something follow this name? A trailing '/' asks for a
		 * directory only as open(2) reads it. */
		const char *after = p;
		while (*after == '/')
			after++;
		bool more = must_exist ? *p != '\0' : *after != '\0';

		/* The first root that has the name decides what it is. */
		size_t mark = out->len;
		berth__path_push(out, name);
		_cleanup_close_ int fd = -1;
		struct stat st;
		int r = -ENOENT;
		for (size_t k = 0; k < nroots && fd < 0; k++) {
			fd = r = berth__open_in(roots[k], out->data, O_PATH | O_NOFOLLOW);
			if (fd >= 0 && fstat(fd, &st) < 0) {
				r = -errno;
				close(fd);
				fd = -1;
			}
		}
		if (fd < 0) {
			if (must_exist)
				return r;
			continue; /* kept as written: something to make */
		}
		if (!S_ISLNK(st.st_mode)) {
			if (more && !S_ISDIR(st.st_mode))
				return -ENOTDIR;
			continue;
		}

		if (ig && berth__ignore_match(ig, out->data))
			return -ENOENT;
		if (++links > PATHS_MAX_SYMLINKS)
			return -ELOOP;
		char target[PATH_MAX];
		ssize_t n = readlinkat(fd, "", target, sizeof(target));
		if (n < 0)
			return -errno;
		if (n == 0 && must_exist)
			return -ENOENT; /* as the kernel treats an empty link */
		if ((size_t)n >= sizeof(target))
			return -ENAMETOOLONG;
		target[n] = '\0';
		/* The link's target replaces it; an absolute one starts again
		 * at the root. */
		berth__path_truncate(out, target[0] == '/' ? 0 : mark);
		char *spliced = berth_xasprintf("%s%s", target, p);
		free(rest);
		rest = spliced;
		p = rest;
	}
}

/* ------------------------------------------------------ relative paths */

void berth__path_push(struct berth_buf *b, const char *name)
{
	if (b->len)
		berth_buf_addch(b, '/');
	berth_buf_addstr(b, name);
}

void berth__path_truncate(struct berth_buf *b, size_t len)
{
	b->len = len;
	b->data[len] = '\0';
}

void berth__path_pop(struct berth_buf *b)
{
	char *slash = memrchr(b->data, '/', b->len);
	berth__path_truncate(b, slash ? (size_t)(slash - b->data) : 0);
}

/* ---------------------------------------------------------- directories */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read through a stream of its own that is closed before returning, so a
 * deep walk holds no DIR per level. */
int berth__list_dir(int fd, struct berth_strv *names)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return -e;
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			berth_strv_push(names, de->d_name);
	}
	int e = errno;
	closedir(d);
	if (e)
		return -e;
	if (names->n)
		qsort(names->v, names->n, sizeof(*names->v), by_name);
	return 0;
}

/* ---------------------------------------------------------------- runes */

uint32_t berth__utf8_decode(const unsigned char *s, size_t len, size_t *width)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t r;
	*width = 1;
	if (c < 0x80)
		return c;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		r = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		r = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		r = c & 0x07;
	} else {
		return BERTH__RUNE_ERROR;
	}
	if (len <= n)
		return BERTH__RUNE_ERROR;
	for (size_t k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return BERTH__RUNE_ERROR;
		r = (r << 6) | (s[k] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((n == 2 && r < 0x800) || (n == 3 && (r < 0x10000 || r > 0x10ffff)) ||
	    (r >= 0xd800 && r <= 0xdfff))
		return BERTH__RUNE_ERROR;
	*width = n + 1;
	return r;
}
