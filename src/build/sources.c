/* COPY/ADD sources: expand a COPY's source patterns against a root (the
 * build context or a stage's view) as BuildKit does, and checksum what they
 * select the way BuildKit keys a COPY: names, types, modes, owners, sizes,
 * link targets, device numbers, selected xattrs and content, never mtime.
 * Everything is read through fds opened beneath the root. */
#include "build/build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SOURCES_HASH_CHUNK (64u << 10) /* file bytes read at a time for the checksum */
#define SOURCES_XATTR_MAX  (64u << 10) /* xattr names (or one value) read per entry */

/* ----------------------------------------------------------- path helpers */

/* Split a pattern into clean names: "" and "." dropped, ".." removes the name
 * before it and is dropped at the top, so a leading '/' or any number of
 * ".." stay inside the root, as BuildKit cleans a source path. */
static void split_clean(const char *pattern, struct berth_strv *out)
{
	const char *p = pattern;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (out->n) {
				free(out->v[--out->n]);
				out->v[out->n] = NULL;
			}
		} else if (len && !(len == 1 && p[0] == '.')) {
			berth_strv_push_owned(out, berth_xstrndup(p, len));
		}
		p = *end ? end + 1 : end;
	}
}

static char *join_names(char *const *v, size_t n)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < n; i++)
		berth__path_push(&b, v[i]);
	return berth_buf_steal(&b, NULL);
}

/* Resolve `path` beneath root_fd following every symlink, the last one too
 * (BuildKit follows a COPY source); out gets the clean path relative to the
 * root ("" is the root) and *st what it names. With ig, a symlink that
 * .dockerignore excludes counts as missing: the context BuildKit is sent
 * would not hold it. Returns 0 or -errno (ENOENT, ENOTDIR, ELOOP, ...). */
static int resolve_path(int root_fd, const char *path, const struct berth__ignore *ig,
			struct berth_buf *out, struct stat *st)
{
	int r = berth__resolve(&root_fd, 1, path, BERTH__RESOLVE_MUST_EXIST, ig, out);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = berth__open_in(root_fd, out->data, O_PATH);
	if (fd < 0)
		return fd;
	return fstat(fd, st) < 0 ? -errno : 0;
}

/* Is something below the excluded directory `path` re-included by an
 * exception (so the context would still hold the directory)? */
static int kept_below(int root_fd, struct berth_buf *path, const struct berth__ignore *ig)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	{
		_cleanup_close_ int fd = berth__open_in(root_fd, path->data, O_PATH | O_DIRECTORY);
		if (fd < 0)
			return fd;
		int r = berth__list_dir(fd, &names);
		if (r < 0)
			return r;
	}
	size_t mark = path->len;
	for (size_t i = 0; i < names.n; i++) {
		berth__path_push(path, names.v[i]);
		int r = 0;
		if (!berth__ignore_match(ig, path->data)) {
			r = 1;
		} else {
			struct stat st;
			_cleanup_close_ int fd =
			    berth__open_in(root_fd, path->data, O_PATH | O_NOFOLLOW);
			if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
				r = kept_below(root_fd, path, ig);
		}
		berth__path_truncate(path, mark);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Would the context BuildKit is sent hold the resolved path? */
static int present(int root_fd, struct berth_buf *resolved, const struct stat *st,
		   const struct berth__ignore *ig)
{
	if (!ig || !berth__ignore_match(ig, resolved->data))
		return 1;
	if (!S_ISDIR(st->st_mode))
		return 0;
	return kept_below(root_fd, resolved, ig);
}

/* ------------------------------------------------------------- wildcards */

/* Does a name hold an unescaped `*`, `?` or `[` (BuildKit's containsWildcards)? */
static bool has_wildcards(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		else if (*s == '*' || *s == '?' || *s == '[')
			return true;
	}
	return false;
}

/* One possibly escaped rune of a class (Go's getEsc); NULL when malformed. */
static const char *class_rune(const char *p, uint32_t *r)
{
	if (!*p || *p == '-' || *p == ']')
		return NULL;
	if (*p == '\\' && !*++p)
		return NULL;
	size_t w;
	*r = berth__utf8_decode((const unsigned char *)p, SIZE_MAX, &w);
	if (*r == BERTH__RUNE_ERROR && w == 1 && (unsigned char)*p >= 0x80)
		return NULL;
	p += w;
	return *p ? p : NULL; /* the class must still be closed */
}

/* Match one rune of the class at p (just after '[') against r; returns
 * where the class ends, or NULL when it is malformed. */
static const char *match_class(const char *p, uint32_t r, bool *matched)
{
	bool negated = *p == '^';
	if (negated)
		p++;
	bool in = false;
	for (int nrange = 0;; nrange++) {
		if (*p == ']' && nrange > 0)
			break;
		uint32_t lo, hi;
		if (!(p = class_rune(p, &lo)))
			return NULL;
		hi = lo;
		if (*p == '-' && !(p = class_rune(p + 1, &hi)))
			return NULL;
		in = in || (lo <= r && r <= hi);
	}
	*matched = in != negated;
	return p + 1;
}

/* Go's filepath.Match syntax check of one name pattern: NULL or why not. */
static const char *glob_check(const char *p)
{
	while (*p) {
		if (*p == '\\') {
			if (!p[1])
				return "a trailing '\\' escapes nothing";
			p += 2;
		} else if (*p == '[') {
			bool ignored;
			if (!(p = match_class(p + 1, 0, &ignored)))
				return "malformed character class";
		} else {
			p++;
		}
	}
	return NULL;
}

/* Match one non-star element of the pattern at *pp against the start of s;
 * on success advance *pp past it and set *adv to the bytes consumed. */
static bool match_one(const char **pp, const char *s, size_t *adv)
{
	const char *p = *pp;
	if (!*s)
		return false;
	if (*p == '?' || *p == '[') {
		size_t w;
		uint32_t r = berth__utf8_decode((const unsigned char *)s, SIZE_MAX, &w);
		bool m = true;
		if (*p == '[')
			p = match_class(p + 1, r, &m);
		else
			p++;
		if (!p || !m || (**pp == '?' && r == '/'))
			return false;
		*pp = p;
		*adv = w;
		return true;
	}
	if (*p == '\\')
		p++;
	if (*p != *s)
		return false;
	*pp = p + 1;
	*adv = 1;
	return true;
}

/* Go's filepath.Match of one name (no '/') against a checked pattern. A
 * star backtracks one byte at a time, as Go's does. */
static bool glob_match(const char *pat, const char *name)
{
	const char *p = pat, *s = name, *star_p = NULL, *star_s = NULL;
	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		const char *np = p;
		size_t adv;
		if (*p && match_one(&np, s, &adv)) {
			p = np;
			s += adv;
			continue;
		}
		if (!star_p)
			return false;
		s = ++star_s;
		p = star_p;
	}
	while (*p == '*')
		p++;
	return !*p;
}

/* ------------------------------------------------------------ resolving */

struct source_list {
	struct berth__source *v;
	size_t n, cap;
};

static void source_list_releasep(struct source_list *l)
{
	berth__sources_free(l->v, l->n);
}

static void source_push(struct source_list *l, const char *path, bool is_dir)
{
	l->v = berth_xgrow(l->v, sizeof(*l->v), l->n + 1, &l->cap);
	l->v[l->n++] = (struct berth__source){.path = berth_xstrdup(path), .is_dir = is_dir};
}

struct expand {
	int root_fd;
	const struct berth__ignore *ig;
	const char *pattern; /* as written, for messages */
	const char *what;
	char *const *names; /* the cleaned pattern */
	size_t nnames;
	struct source_list *out;
};

/* Match names[i..] below the directory `dir` (resolved, relative to the
 * root), like BuildKit's walk: directories are entered without following
 * symlinks; a match at the last name is a source. */
static int expand_at(const struct expand *x, struct berth_buf *dir, size_t i,
		     struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	{
		_cleanup_close_ int fd =
		    berth__open_in(x->root_fd, dir->data, O_PATH | O_DIRECTORY);
		int r = fd < 0 ? fd : berth__list_dir(fd, &names);
		if (r == -ENOENT || r == -ENOTDIR)
			return 0;
		if (r < 0)
			return berth_err_sys(err, -r, "read directory '/%s' of %s", dir->data,
					     x->what);
	}
	_cleanup_buf_ struct berth_buf resolved;
	berth_buf_init(&resolved, BERTH_BUF_UNLIMITED);
	size_t mark = dir->len;
	int r = 0;
	for (size_t k = 0; k < names.n && r == 0; k++) {
		if (!glob_match(x->names[i], names.v[k]))
			continue;
		berth__path_push(dir, names.v[k]);
		struct stat st;
		_cleanup_close_ int fd = berth__open_in(x->root_fd, dir->data, O_PATH | O_NOFOLLOW);
		if (fd < 0 || fstat(fd, &st) < 0) {
			/* Gone since the listing: as if never there. */
		} else if (i + 1 < x->nnames) {
			if (S_ISDIR(st.st_mode))
				r = expand_at(x, dir, i + 1, err);
		} else if (S_ISLNK(st.st_mode)) {
			/* A symlink the context holds must lead somewhere it
			 * holds too; BuildKit fails to follow it otherwise. */
			struct stat tst;
			int e = berth__ignore_match(x->ig, dir->data)
				    ? 0
				    : resolve_path(x->root_fd, dir->data, x->ig, &resolved, &tst);
			if (e == 0 && !berth__ignore_match(x->ig, dir->data))
				e = present(x->root_fd, &resolved, &tst, x->ig) == 1 ? 1 : -ENOENT;
			if (e == 1)
				source_push(x->out, dir->data, S_ISDIR(tst.st_mode));
			else if (e == -ENOENT || e == -ENOTDIR)
				r = berth_err_set(
				    err, BERTH_E_NOT_FOUND,
				    "'%s' matched '%s' in %s, a symlink to nothing there",
				    x->pattern, dir->data, x->what);
			else if (e < 0)
				r = berth_err_sys(err, -e, "'%s' matched '%s' in %s", x->pattern,
						  dir->data, x->what);
		} else {
			int kept = present(x->root_fd, dir, &st, x->ig);
			if (kept < 0)
				r = berth_err_sys(err, -kept, "read '/%s' of %s", dir->data,
						  x->what);
			else if (kept)
				source_push(x->out, dir->data, S_ISDIR(st.st_mode));
		}
		berth__path_truncate(dir, mark);
	}
	return r;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct berth__source *)a)->path,
		      ((const struct berth__source *)b)->path);
}

static int resolve_one(int root_fd, const char *pattern, const struct berth__ignore *ig,
		       const char *what, struct source_list *out, struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	split_clean(pattern, &names);
	size_t w = 0;
	while (w < names.n && !has_wildcards(names.v[w]))
		w++;
	_cleanup_free_ char *prefix = join_names(names.v, w);
	_cleanup_buf_ struct berth_buf resolved;
	berth_buf_init(&resolved, BERTH_BUF_UNLIMITED);
	struct stat st;
	int r = resolve_path(root_fd, prefix, ig, &resolved, &st);

	if (w == names.n) {
		if (r == 0) {
			r = present(root_fd, &resolved, &st, ig);
			if (r == 0)
				return berth_err_set(
				    err, BERTH_E_NOT_FOUND,
				    "'%s' not found in %s: .dockerignore excludes it", pattern,
				    what);
		}
		if (r == -ENOENT || r == -ENOTDIR)
			return berth_err_set(err, BERTH_E_NOT_FOUND, "'%s' not found in %s",
					     pattern, what);
		if (r < 0)
			return berth_err_sys(err, -r, "'%s' in %s", pattern, what);
		source_push(out, prefix, S_ISDIR(st.st_mode));
		return 0;
	}

	for (size_t i = w; i < names.n; i++) {
		const char *why = glob_check(names.v[i]);
		if (why)
			return berth_err_set(err, BERTH_E_INVALID, "bad pattern '%s': %s", pattern,
					     why);
	}
	/* A wildcard below something missing matches nothing. */
	if (r == -ENOENT || r == -ENOTDIR || (r == 0 && !S_ISDIR(st.st_mode)))
		return 0;
	if (r < 0)
		return berth_err_sys(err, -r, "'%s' in %s", pattern, what);
	struct expand x = {root_fd, ig, pattern, what, names.v, names.n, out};
	return expand_at(&x, &resolved, w, err);
}

int berth__sources_resolve(int root_fd, const struct berth_strv *patterns,
			   const struct berth__ignore *ig, const char *what,
			   struct berth__source **out, size_t *n, struct berth_err **err)
{
	_cleanup_(source_list_releasep) struct source_list list = {0};
	for (size_t i = 0; i < patterns->n; i++) {
		size_t first = list.n;
		int r = resolve_one(root_fd, patterns->v[i], ig, what, &list, err);
		if (r < 0)
			return r;
		/* A wildcard's matches in path order (BuildKit walks them so). */
		if (list.n - first > 1)
			qsort(list.v + first, list.n - first, sizeof(*list.v), by_path);
	}
	*n = list.n;
	*out = steal_pointer(&list.v);
	list.n = 0;
	return 0;
}

void berth__sources_free(struct berth__source *src, size_t n)
{
	if (!src)
		return;
	for (size_t i = 0; i < n; i++)
		free(src[i].path);
	free(src);
}

/* ------------------------------------------------------------- checksum */

/* An excluded directory's header waits until something below it is kept
 * (the context would then hold the directory for that entry's sake). */
struct pending {
	struct pending *up;
	const struct berth_buf *hdr;
	bool emitted;
};

struct sum {
	int root_fd;
	const struct berth__ignore *ig;
	struct berth_sha256 h;
	struct berth_buf root_rel; /* the entry, relative to the root */
	struct berth_buf src_rel;  /* the entry, relative to its source */
	/* Scratch space kept off the stack of the recursive walk. */
	uint8_t buf[SOURCES_HASH_CHUNK];
	char xnames[SOURCES_XATTR_MAX];
	unsigned char xval[SOURCES_XATTR_MAX];
	char link[PATH_MAX];
};

static void emit(struct sum *c, struct pending *p)
{
	if (!p || p->emitted)
		return;
	emit(c, p->up);
	berth_sha256_update(&c->h, p->hdr->data, p->hdr->len);
	p->emitted = true;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The xattrs a COPY carries (user.* and file capabilities, as BuildKit's
 * checksum), sorted, as "name=hex;" appended to hdr. */
static int add_xattrs(struct sum *c, int fd, struct berth_buf *hdr)
{
	const char *names = c->xnames;
	ssize_t n = flistxattr(fd, c->xnames, sizeof(c->xnames));
	if (n < 0)
		return errno == ENOTSUP ? 0 : -errno;
	_cleanup_strv_ struct berth_strv keep = BERTH_STRV_INIT;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1)
		if (strncmp(names + i, "user.", 5) == 0 ||
		    strcmp(names + i, "security.capability") == 0)
			berth_strv_push(&keep, names + i);
	if (keep.n)
		qsort(keep.v, keep.n, sizeof(*keep.v), by_str);
	for (size_t k = 0; k < keep.n; k++) {
		const unsigned char *val = c->xval;
		ssize_t vn = fgetxattr(fd, keep.v[k], c->xval, sizeof(c->xval));
		if (vn < 0) {
			if (errno == ENODATA)
				continue;
			return -errno;
		}
		berth_buf_addf(hdr, "%s=", keep.v[k]);
		for (ssize_t i = 0; i < vn; i++)
			berth_buf_addf(hdr, "%02x", val[i]);
		berth_buf_addch(hdr, ';');
	}
	return 0;
}

static int hash_file(struct sum *c, int fd, uint8_t out[BERTH_SHA256_LEN])
{
	struct berth_sha256 fh;
	berth_sha256_init(&fh);
	for (;;) {
		ssize_t n = read(fd, c->buf, sizeof(c->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			berth_sha256_release(&fh);
			return -e;
		}
		if (n == 0)
			break;
		berth_sha256_update(&fh, c->buf, (size_t)n);
	}
	berth_sha256_final(&fh, out);
	return 0;
}

static char type_char(mode_t m)
{
	return S_ISREG(m)    ? 'f'
	       : S_ISDIR(m)  ? 'd'
	       : S_ISLNK(m)  ? 'l'
	       : S_ISCHR(m)  ? 'c'
	       : S_ISBLK(m)  ? 'b'
	       : S_ISFIFO(m) ? 'p'
			     : 's';
}

/* Append one header field and its NUL terminator. */
__attribute__((format(printf, 2, 3))) static void add_field(struct berth_buf *hdr, const char *fmt,
							    ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = berth_xvasprintf(fmt, ap);
	va_end(ap);
	berth_buf_add(hdr, s, strlen(s) + 1);
}

/* Hash the entry dirfd/name (its path in c->root_rel and c->src_rel) and,
 * for a directory, everything below it, in name order. */
static int hash_entry(struct sum *c, int dirfd, const char *name, struct pending *up,
		      struct berth_err **err)
{
	const char *shown = c->root_rel.data;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "read '%s'", shown);
	bool excluded = c->ig && c->root_rel.len && berth__ignore_match(c->ig, shown);
	if (excluded && !S_ISDIR(st.st_mode))
		return 0;

	_cleanup_close_ int fd = -1;
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		/* O_NONBLOCK: should a FIFO be swapped in, opening it must
		 * not hang; the inode check below refuses it. */
		int flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC;
		fd = openat(dirfd, name, flags | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
		struct stat again;
		if (fd < 0 || fstat(fd, &again) < 0)
			return berth_err_sys(err, errno, "open '%s'", shown);
		if (again.st_dev != st.st_dev || again.st_ino != st.st_ino)
			return berth_err_set(err, BERTH_E_INVALID, "'%s' changed while it was read",
					     shown);
	}

	_cleanup_buf_ struct berth_buf hdr;
	berth_buf_init(&hdr, BERTH_BUF_UNLIMITED);
	char *target = c->link;
	target[0] = '\0';
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof(c->link) - 1);
		if (n < 0)
			return berth_err_sys(err, errno, "read link '%s'", shown);
		target[n] = '\0';
	}
	bool dev = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
	add_field(&hdr, "%s", c->src_rel.data);
	add_field(&hdr, "%c", type_char(st.st_mode));
	add_field(&hdr, "%o", (unsigned)(st.st_mode & 07777));
	add_field(&hdr, "%lu", (unsigned long)st.st_uid);
	add_field(&hdr, "%lu", (unsigned long)st.st_gid);
	add_field(&hdr, "%lld", S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL);
	add_field(&hdr, "%s", target);
	add_field(&hdr, "%u:%u", dev ? major(st.st_rdev) : 0, dev ? minor(st.st_rdev) : 0);
	if (fd >= 0) {
		int r = add_xattrs(c, fd, &hdr);
		if (r < 0)
			return berth_err_sys(err, -r, "read xattrs of '%s'", shown);
	}
	berth_buf_addch(&hdr, '\0');
	if (S_ISREG(st.st_mode)) {
		uint8_t digest[BERTH_SHA256_LEN];
		int r = hash_file(c, fd, digest);
		if (r < 0)
			return berth_err_sys(err, -r, "read '%s'", shown);
		berth_buf_add(&hdr, digest, sizeof(digest));
	}

	struct pending me = {up, &hdr, false};
	if (!excluded)
		emit(c, &me);
	if (!S_ISDIR(st.st_mode))
		return 0;

	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	int r = berth__list_dir(fd, &names);
	if (r < 0)
		return berth_err_sys(err, -r, "read directory '%s'", shown);
	size_t root_mark = c->root_rel.len, src_mark = c->src_rel.len;
	for (size_t i = 0; i < names.n && r == 0; i++) {
		berth__path_push(&c->root_rel, names.v[i]);
		berth__path_push(&c->src_rel, names.v[i]);
		r = hash_entry(c, fd, names.v[i], &me, err);
		berth__path_truncate(&c->root_rel, root_mark);
		berth__path_truncate(&c->src_rel, src_mark);
	}
	return r;
}

static void sum_releasep(struct sum **c)
{
	if (!*c)
		return;
	berth_sha256_release(&(*c)->h);
	berth_buf_release(&(*c)->root_rel);
	berth_buf_release(&(*c)->src_rel);
	free(*c);
}

int berth__sources_checksum(int root_fd, const struct berth__source *src, size_t n,
			    const struct berth__ignore *ig, char out[BERTH_DIGEST_LEN + 1],
			    struct berth_err **err)
{
	_cleanup_(sum_releasep) struct sum *c = berth_xcalloc(1, sizeof(*c));
	c->root_fd = root_fd;
	c->ig = ig;
	berth_sha256_init(&c->h);
	berth_buf_init(&c->root_rel, BERTH_BUF_UNLIMITED);
	berth_buf_init(&c->src_rel, BERTH_BUF_UNLIMITED);

	for (size_t i = 0; i < n; i++) {
		/* Each source's own path keys it: a file renamed is another
		 * COPY even with the same bytes. */
		berth_sha256_update(&c->h, "source", 7);
		berth_sha256_update(&c->h, src[i].path, strlen(src[i].path) + 1);
		struct stat st;
		int r;
		if (src[i].nofollow) {
			/* The entry itself, through its resolved parent. */
			const char *slash = strrchr(src[i].path, '/');
			_cleanup_free_ char *up =
			    slash ? berth_xstrndup(src[i].path, (size_t)(slash - src[i].path))
				  : berth_xstrdup("");
			r = berth__resolve(&root_fd, 1, up, BERTH__RESOLVE_MUST_EXIST, ig,
					   &c->root_rel);
			if (r == 0)
				berth__path_push(&c->root_rel, slash ? slash + 1 : src[i].path);
		} else {
			r = resolve_path(root_fd, src[i].path, ig, &c->root_rel, &st);
		}
		if (r < 0)
			return r == -ENOENT || r == -ENOTDIR
				   ? berth_err_set(err, BERTH_E_NOT_FOUND, "'%s' not found",
						   src[i].path)
				   : berth_err_sys(err, -r, "checksum '%s'", src[i].path);
		/* The parent of what the source names, and its last name. */
		_cleanup_free_ char *parent = NULL;
		const char *base = ".";
		char *slash = strrchr(c->root_rel.data, '/');
		if (c->root_rel.len) {
			parent = slash ? berth_xstrndup(c->root_rel.data,
							(size_t)(slash - c->root_rel.data))
				       : berth_xstrdup("");
			base = slash ? slash + 1 : c->root_rel.data;
		}
		_cleanup_close_ int pfd =
		    berth__open_in(root_fd, parent ? parent : "", O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return berth_err_sys(err, -pfd, "checksum '%s'", src[i].path);
		berth__path_truncate(&c->src_rel, 0);
		r = hash_entry(c, pfd, base, NULL, err);
		if (r < 0)
			return berth_err_prefix(err, "checksum '%s'", src[i].path);
	}
	berth_sha256_final_digest(&c->h, out);
	return 0;
}

/* ------------------------------------------------------ COPY --parents */

static void ignore_freep_sources(struct berth__ignore **ig)
{
	berth__ignore_free(*ig);
}

struct parents_walk {
	int root_fd;
	const struct berth__ignore *match; /* the one include pattern */
	const struct berth__ignore *ig;
	const char *what;
	size_t pivot_len; /* of the pivot's path, with its '/' when not "" */
	struct source_list *out;
};

/* Walk the directory `dir` (relative to the root; never through a symlink
 * below the pivot): an entry whose path below the pivot matches is
 * selected whole, a directory that does not is entered. */
static int parents_at(const struct parents_walk *w, struct berth_buf *dir, struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	{
		_cleanup_close_ int fd = berth__open_in(
		    w->root_fd, dir->data,
		    O_PATH | O_DIRECTORY | (dir->len > w->pivot_len ? O_NOFOLLOW : 0));
		int r = fd < 0 ? fd : berth__list_dir(fd, &names);
		if (r == -ENOENT || r == -ENOTDIR)
			return 0;
		if (r < 0)
			return berth_err_sys(err, -r, "read directory '/%s' of %s", dir->data,
					     w->what);
	}
	size_t mark = dir->len;
	int r = 0;
	for (size_t k = 0; k < names.n && r == 0; k++) {
		berth__path_push(dir, names.v[k]);
		struct stat st;
		_cleanup_close_ int fd = berth__open_in(w->root_fd, dir->data, O_PATH | O_NOFOLLOW);
		if (fd >= 0 && fstat(fd, &st) == 0) {
			const char *rel = dir->data + w->pivot_len;
			if (berth__ignore_match(w->match, rel)) {
				int kept = present(w->root_fd, dir, &st, w->ig);
				if (kept < 0)
					r = berth_err_sys(err, -kept, "read '/%s' of %s", dir->data,
							  w->what);
				else if (kept) {
					source_push(w->out, dir->data, S_ISDIR(st.st_mode));
					w->out->v[w->out->n - 1].nofollow = true;
				}
			} else if (S_ISDIR(st.st_mode)) {
				r = parents_at(w, dir, err);
			}
		}
		berth__path_truncate(dir, mark);
	}
	return r;
}

int berth__sources_parents(int root_fd, const char *pivot, const char *pattern,
			   const struct berth__ignore *ig, const char *what,
			   struct berth__source **out, size_t *n, struct berth_err **err)
{
	_cleanup_(ignore_freep_sources) struct berth__ignore *match = berth__ignore_new();
	if (berth__ignore_add(match, pattern, err) < 0)
		return -1;
	_cleanup_(source_list_releasep) struct source_list list = {0};
	_cleanup_buf_ struct berth_buf dir;
	berth_buf_init(&dir, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&dir, pivot);
	struct parents_walk w = {root_fd, match, ig, what, *pivot ? strlen(pivot) + 1 : 0, &list};
	/* Start below the pattern's literal directories: "a/b/x*.txt" never
	 * needs more than a/b. */
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	split_clean(pattern, &names);
	for (size_t i = 0; i + 1 < names.n && !strpbrk(names.v[i], "*?[\\"); i++) {
		struct stat st;
		size_t mark = dir.len;
		berth__path_push(&dir, names.v[i]);
		_cleanup_close_ int fd = berth__open_in(root_fd, dir.data, O_PATH | O_NOFOLLOW);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
			/* A link or a file there: the walk decides from above. */
			berth__path_truncate(&dir, mark);
			break;
		}
	}
	int r = parents_at(&w, &dir, err);
	if (r < 0)
		return r;
	if (list.n)
		qsort(list.v, list.n, sizeof(*list.v), by_path);
	*n = list.n;
	*out = steal_pointer(&list.v);
	list.n = 0;
	return 0;
}
