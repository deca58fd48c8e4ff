/* Creating a layer blob from an overlayfs upper directory: a deterministic
 * PAX tar (sorted entries, numeric owners, whiteouts in OCI form) written by
 * libarchive into our own gzip or zstd compressor, hashed on both sides. */
#include "image/archive_api.h"
#include "image/image_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define CREATE_CHUNK     (128u << 10) /* file data and compressed output buffers */
#define ZSTD_LEVEL       3
#define OVERLAY_PREFIX   "trusted.overlay."
#define OVERLAY_OPAQUE   "trusted.overlay.opaque"
#define OVERLAY_REDIRECT "trusted.overlay.redirect"
#define OVERLAY_METACOPY "trusted.overlay.metacopy"

/* (dev, ino) of a multiply-linked node -> the path it was first archived as. */
struct link_rec {
	dev_t dev;
	ino_t ino;
	char *path; /* owned; NULL marks a free slot */
};

struct create_ctx {
	const struct berth_diff_opts *opts;
	int out_fd;                  /* borrowed */
	struct berth_sha256 tar;     /* the tar: DiffID */
	struct berth_sha256 blob;    /* what reaches out_fd: digest */
	int64_t size;                /* bytes written to out_fd */
	struct berth_err *write_err; /* a failure inside libarchive's callback */
	z_stream z;
	bool z_ready;
	ZSTD_CCtx *zc;
	uint8_t *obuf; /* compressed output */
	uint8_t *fbuf; /* file data */
	struct archive *a;
	struct archive_entry *entry;
	struct link_rec *links;
	size_t links_cap, nlinks; /* cap: a power of two, or 0 */
};

static void create_ctx_release(struct create_ctx *c)
{
	if (c->a)
		archive_write_free(c->a);
	if (c->entry)
		archive_entry_free(c->entry);
	if (c->z_ready)
		deflateEnd(&c->z);
	ZSTD_freeCCtx(c->zc);
	berth_sha256_release(&c->tar);
	berth_sha256_release(&c->blob);
	berth_err_free(c->write_err);
	for (size_t i = 0; i < c->links_cap; i++)
		free(c->links[i].path);
	free(c->links);
	free(c->obuf);
	free(c->fbuf);
}

static struct link_rec *link_slot(struct create_ctx *c, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^ (uint64_t)dev;
	for (size_t i = h & (c->links_cap - 1);; i = (i + 1) & (c->links_cap - 1)) {
		struct link_rec *l = &c->links[i];
		if (!l->path || (l->dev == dev && l->ino == ino))
			return l;
	}
}

/* The path a node was first archived as, or NULL (and it is remembered). */
static const char *link_seen(struct create_ctx *c, dev_t dev, ino_t ino, const char *path)
{
	if ((c->nlinks + 1) * 10 > c->links_cap * 7) {
		size_t old_cap = c->links_cap;
		struct link_rec *old = c->links;
		c->links_cap = old_cap ? old_cap * 2 : 64;
		c->links = berth_xcalloc(c->links_cap, sizeof(*c->links));
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].path)
				*link_slot(c, old[i].dev, old[i].ino) = old[i];
		free(old);
	}
	struct link_rec *l = link_slot(c, dev, ino);
	if (l->path)
		return l->path;
	*l = (struct link_rec){.dev = dev, .ino = ino, .path = berth_xstrdup(path)};
	c->nlinks++;
	return NULL;
}

static int write_out(struct create_ctx *c, const void *data, size_t len, struct berth_err **err)
{
	berth_sha256_update(&c->blob, data, len);
	const char *p = data;
	while (len) {
		ssize_t n = write(c->out_fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "write layer blob");
		}
		p += n;
		len -= (size_t)n;
		c->size += n;
	}
	return 0;
}

/* Compress len bytes of tar (finish: the end of it) and write what comes
 * out. */
static int compress_out(struct create_ctx *c, const void *data, size_t len, bool finish,
			struct berth_err **err)
{
	switch (c->opts->compression) {
	case BERTH_COMPRESS_GZIP: {
		c->z.next_in = (Bytef *)(uintptr_t)data;
		c->z.avail_in = (uInt)len;
		for (;;) {
			c->z.next_out = c->obuf;
			c->z.avail_out = CREATE_CHUNK;
			int zr = deflate(&c->z, finish ? Z_FINISH : Z_NO_FLUSH);
			if (zr == Z_STREAM_ERROR)
				BUG("deflate state broken");
			size_t n = CREATE_CHUNK - c->z.avail_out;
			if (n && write_out(c, c->obuf, n, err) < 0)
				return -BERTH_E_SYS;
			if (finish ? zr == Z_STREAM_END : (c->z.avail_in == 0 && c->z.avail_out))
				return 0;
		}
	}
	case BERTH_COMPRESS_ZSTD: {
		ZSTD_inBuffer in = {data, len, 0};
		for (;;) {
			ZSTD_outBuffer out = {c->obuf, CREATE_CHUNK, 0};
			size_t left = ZSTD_compressStream2(c->zc, &out, &in,
							   finish ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left))
				return berth_err_set(err, BERTH_E_INTERNAL, "zstd: %s",
						     ZSTD_getErrorName(left));
			if (out.pos && write_out(c, c->obuf, out.pos, err) < 0)
				return -BERTH_E_SYS;
			if (finish ? left == 0 : in.pos == in.size)
				return 0;
		}
	}
	default:
		return len ? write_out(c, data, len, err) : 0;
	}
}

static la_ssize_t create_write_cb(struct archive *a, void *data, const void *buf, size_t len)
{
	struct create_ctx *c = data;
	berth_sha256_update(&c->tar, buf, len);
	if (compress_out(c, buf, len, false, &c->write_err) < 0) {
		archive_set_error(a, EIO, "%s", c->write_err ? c->write_err->msg : "write failed");
		return -1;
	}
	return (la_ssize_t)len;
}

static int archive_fail(struct create_ctx *c, const char *what, struct berth_err **err)
{
	if (c->write_err) {
		int code = -(int)c->write_err->code;
		if (err && !*err)
			*err = steal_pointer(&c->write_err);
		return code;
	}
	const char *why = archive_error_string(c->a);
	return berth_err_set(err, BERTH_E_INTERNAL, "%s: libarchive: %s", what,
			     why ? why : "unknown error");
}

struct xattr {
	char *name;
	char *value;
	size_t size;
};

struct xattrs {
	struct xattr *v;
	size_t n, cap;
	bool opaque;
};

static void xattrs_release(struct xattrs *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->v[i].name);
		free(x->v[i].value);
	}
	free(x->v);
	*x = (struct xattrs){0};
}

static int xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xattr *)a)->name, ((const struct xattr *)b)->name);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* xattr calls on fd when there is one, else on dirfd/name without
 * following (symlinks, devices and FIFOs are never opened). */
struct xnode {
	int fd;
	const char *proc; /* "/proc/self/fd/<dirfd>/<name>" */
};

static ssize_t node_listxattr(const struct xnode *n, char *buf, size_t size)
{
	return n->fd >= 0 ? flistxattr(n->fd, buf, size) : llistxattr(n->proc, buf, size);
}

static ssize_t node_getxattr(const struct xnode *n, const char *name, void *buf, size_t size)
{
	return n->fd >= 0 ? fgetxattr(n->fd, name, buf, size) : lgetxattr(n->proc, name, buf, size);
}

/* The node's xattrs, sorted by name, without overlayfs' own (an opaque
 * marker is reported in x->opaque) and without security.selinux (a host
 * label, as umoci drops it). */
static int read_xattrs(const struct xnode *node, const char *shown, struct xattrs *x,
		       struct berth_err **err)
{
	_cleanup_free_ char *list = NULL;
	ssize_t len;
	for (;;) {
		len = node_listxattr(node, NULL, 0);
		if (len < 0 && (errno == ENOTSUP || errno == ENODATA))
			return 0;
		if (len <= 0)
			break;
		free(list);
		list = berth_xmalloc((size_t)len);
		len = node_listxattr(node, list, (size_t)len);
		if (len >= 0 || errno != ERANGE)
			break;
	}
	if (len < 0)
		return berth_err_sys(err, errno, "list the xattrs of '%s'", shown);

	for (ssize_t off = 0; off < len; off += (ssize_t)strlen(list + off) + 1) {
		const char *name = list + off;
		bool overlay = has_prefix(name, OVERLAY_PREFIX);
		bool opaque = strcmp(name, OVERLAY_OPAQUE) == 0;
		if (!*name || strcmp(name, "security.selinux") == 0 ||
		    has_prefix(name, "user.overlay."))
			continue;
		if (!strcmp(name, OVERLAY_REDIRECT) || !strcmp(name, OVERLAY_METACOPY))
			return berth_err_set(
			    err, BERTH_E_UNSUPPORTED,
			    "'%s' has '%s', which a layer cannot express; mount the overlay "
			    "with redirect_dir=off,metacopy=off",
			    shown, name);
		if (overlay && !opaque)
			continue; /* origin, impure, nlink, ...: overlay's bookkeeping */

		_cleanup_free_ char *value = NULL;
		ssize_t vlen;
		for (;;) {
			vlen = node_getxattr(node, name, NULL, 0);
			if (vlen < 0)
				break;
			free(value);
			value = berth_xmalloc((size_t)vlen + 1);
			vlen = node_getxattr(node, name, value, (size_t)vlen);
			if (vlen >= 0 || errno != ERANGE)
				break;
		}
		if (vlen < 0) {
			if (errno == ENODATA)
				continue; /* removed meanwhile */
			return berth_err_sys(err, errno, "read xattr '%s' of '%s'", name, shown);
		}
		if (opaque) {
			x->opaque = vlen == 1 && value[0] == 'y';
			continue;
		}
		if ((size_t)vlen > BERTH_LAYER_XATTR_MAX)
			return berth_err_set(err, BERTH_E_LIMIT,
					     "xattr '%s' of '%s' is larger than %u bytes", name,
					     shown, BERTH_LAYER_XATTR_MAX);
		x->v = berth_xgrow(x->v, sizeof(*x->v), x->n + 1, &x->cap);
		x->v[x->n++] = (struct xattr){.name = berth_xstrdup(name),
					      .value = steal_pointer(&value),
					      .size = (size_t)vlen};
	}
	if (x->n > 1)
		qsort(x->v, x->n, sizeof(*x->v), xattr_cmp);
	return 0;
}

static void set_mtime(struct create_ctx *c, struct archive_entry *e, const struct stat *st)
{
	time_t sec = st->st_mtim.tv_sec;
	long nsec = st->st_mtim.tv_nsec;
	if (c->opts->source_date_epoch >= 0 && sec >= c->opts->source_date_epoch) {
		sec = (time_t)c->opts->source_date_epoch;
		nsec = 0;
	}
	archive_entry_set_mtime(e, sec, nsec);
}

/* Start an entry: name, type, mode, numeric owners (no names), mtime. No
 * atime or ctime ever, so that reading the tree does not change the tar. */
static struct archive_entry *entry_start(struct create_ctx *c, const char *path,
					 const struct stat *st, mode_t type)
{
	struct archive_entry *e = c->entry;
	archive_entry_clear(e);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, st->st_mode & 07777);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	set_mtime(c, e, st);
	return e;
}

static int entry_write(struct create_ctx *c, struct archive_entry *e, const char *shown,
		       struct berth_err **err)
{
	int r = archive_write_header(c->a, e);
	/* WARN: a name that is not UTF-8; it is written as bytes with
	 * hdrcharset=BINARY, which is what we want. */
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
		return 0;
	_cleanup_free_ char *what = berth_xasprintf("archive '%s'", shown);
	return archive_fail(c, what, err);
}

/* A whiteout or opaque marker: an empty regular file. */
static int write_marker(struct create_ctx *c, const char *path, const struct stat *st,
			struct berth_err **err)
{
	struct stat marker = *st;
	marker.st_mode = S_IFREG | (st->st_mode & 0777);
	struct archive_entry *e = entry_start(c, path, &marker, AE_IFREG);
	archive_entry_set_size(e, 0);
	return entry_write(c, e, path, err);
}

static int write_file_data(struct create_ctx *c, int fd, int64_t size, const char *shown,
			   struct berth_err **err)
{
	int64_t left = size;
	for (;;) {
		size_t want = left > (int64_t)CREATE_CHUNK ? CREATE_CHUNK : (size_t)left + 1;
		ssize_t n = read(fd, c->fbuf, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "read '%s'", shown);
		}
		if (n > left || (n == 0 && left > 0))
			return berth_err_set(err, BERTH_E_INVALID,
					     "'%s' changed size while it was archived", shown);
		if (n == 0)
			return 0;
		if (archive_write_data(c->a, c->fbuf, (size_t)n) != n) {
			_cleanup_free_ char *what = berth_xasprintf("archive '%s'", shown);
			return archive_fail(c, what, err);
		}
		left -= n;
	}
}

struct child {
	char *name; /* in the directory */
	char *emit; /* the entry's last component: name, or ".wh." + name */
	struct stat st;
};

static int child_cmp(const void *a, const void *b)
{
	return strcmp(((const struct child *)a)->emit, ((const struct child *)b)->emit);
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static int walk_dir(struct create_ctx *c, int dirfd, struct berth_buf *path,
		    struct berth_err **err);

/* Archive one child of dirfd; path is its full entry name. */
static int write_child(struct create_ctx *c, int dirfd, const struct child *ch,
		       struct berth_buf *path, struct berth_err **err)
{
	const struct stat *st = &ch->st;
	if (is_whiteout(st))
		return write_marker(c, path->data, st, err);
	if (S_ISSOCK(st->st_mode))
		return 0; /* tar has no sockets; nor does any layer */

	mode_t type = st->st_mode & S_IFMT;
	/* A node seen before under another name: a hardlink entry, which
	 * carries nothing of its own (the first entry has data and xattrs). */
	const char *first = NULL;
	if (type != S_IFDIR && st->st_nlink > 1)
		first = link_seen(c, st->st_dev, st->st_ino, path->data);
	if (first) {
		struct archive_entry *e = entry_start(c, path->data, st, AE_IFREG);
		archive_entry_set_hardlink(e, first);
		archive_entry_set_size(e, 0);
		return entry_write(c, e, path->data, err);
	}

	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *proc = NULL;
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) {
		int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
		fd = openat(dirfd, ch->name, S_ISDIR(st->st_mode) ? flags | O_DIRECTORY : flags);
		if (fd < 0)
			return berth_err_sys(err, errno, "open '%s'", path->data);
	} else {
		proc = berth_xasprintf("/proc/self/fd/%d/%s", dirfd, ch->name);
	}
	struct xnode node = {.fd = fd, .proc = proc};
	__attribute__((cleanup(xattrs_release))) struct xattrs x = {0};
	int r = read_xattrs(&node, path->data, &x, err);
	if (r < 0)
		return r;

	if (type == S_IFDIR)
		berth_buf_addch(path, '/');
	struct archive_entry *e = entry_start(c, path->data, st, type);
	if (type == S_IFDIR)
		path->data[--path->len] = '\0';
	for (size_t i = 0; i < x.n; i++)
		archive_entry_xattr_add_entry(e, x.v[i].name, x.v[i].value, x.v[i].size);

	switch (type) {
	case S_IFREG:
		archive_entry_set_size(e, st->st_size);
		r = entry_write(c, e, path->data, err);
		if (r < 0)
			return r;
		return write_file_data(c, fd, st->st_size, path->data, err);
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, ch->name, target, sizeof(target));
		if (n < 0)
			return berth_err_sys(err, errno, "read symlink '%s'", path->data);
		if ((size_t)n >= sizeof(target))
			return berth_err_set(err, BERTH_E_LIMIT, "symlink '%s' is too long",
					     path->data);
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
		return entry_write(c, e, path->data, err);
	}
	case S_IFCHR:
	case S_IFBLK:
		archive_entry_set_rdevmajor(e, major(st->st_rdev));
		archive_entry_set_rdevminor(e, minor(st->st_rdev));
		return entry_write(c, e, path->data, err);
	case S_IFIFO:
		return entry_write(c, e, path->data, err);
	case S_IFDIR:
		r = entry_write(c, e, path->data, err);
		if (r < 0)
			return r;
		if (x.opaque) {
			/* Right after the directory, before its children,
			 * as the spec asks and containerd writes it. */
			size_t mark = path->len;
			berth_buf_addstr(path, "/.wh..wh..opq");
			r = write_marker(c, path->data, st, err);
			path->len = mark;
			path->data[mark] = '\0';
			if (r < 0)
				return r;
		}
		return walk_dir(c, fd, path, err);
	default:
		return 0;
	}
}

static void children_release(struct child *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].emit);
	}
	free(v);
}

/* Archive the children of dirfd (whose entry name is path, "" for the
 * root), sorted bytewise by their entry names, depth first. */
static int walk_dir(struct create_ctx *c, int dirfd, struct berth_buf *path, struct berth_err **err)
{
	const char *shown = path->len ? path->data : "/";
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "read directory '%s'", shown);
	DIR *d = fdopendir(dfd);
	if (!d) {
		int errnum = errno;
		close(dfd);
		return berth_err_sys(err, errnum, "read directory '%s'", shown);
	}
	struct child *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				r = berth_err_sys(err, errno, "read directory '%s'", shown);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = berth_err_sys(err, errno, "stat '%s/%s'", path->data, de->d_name);
			break;
		}
		v = berth_xgrow(v, sizeof(*v), n + 1, &cap);
		v[n++] = (struct child){
		    .name = berth_xstrdup(de->d_name),
		    .emit = is_whiteout(&st) ? berth_xasprintf(".wh.%s", de->d_name)
					     : berth_xstrdup(de->d_name),
		    .st = st,
		};
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), child_cmp);

	size_t mark = path->len;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (path->len)
			berth_buf_addch(path, '/');
		berth_buf_addstr(path, v[i].emit);
		if (path->len > BERTH_LAYER_PATH_MAX)
			r = berth_err_set(err, BERTH_E_LIMIT,
					  "'%.64s...' has a path longer than %d bytes", path->data,
					  BERTH_LAYER_PATH_MAX);
		else
			r = write_child(c, dirfd, &v[i], path, err);
		path->len = mark;
		path->data[mark] = '\0';
	}
	children_release(v, n);
	return r;
}

static int create_start(struct create_ctx *c, struct berth_err **err)
{
	c->obuf = berth_xmalloc(CREATE_CHUNK);
	c->fbuf = berth_xmalloc(CREATE_CHUNK);
	berth_sha256_init(&c->tar);
	berth_sha256_init(&c->blob);
	switch (c->opts->compression) {
	case BERTH_COMPRESS_NONE:
		break;
	case BERTH_COMPRESS_GZIP: {
		/* 16 + MAX_WBITS: a gzip header (mtime 0, so reproducible)
		 * and trailer around the deflate stream. */
		int zr = deflateInit2(&c->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY);
		if (zr == Z_MEM_ERROR)
			berth_oom();
		if (zr != Z_OK)
			return berth_err_set(err, BERTH_E_INTERNAL, "zlib: cannot initialise");
		c->z_ready = true;
		break;
	}
	case BERTH_COMPRESS_ZSTD:
		c->zc = ZSTD_createCCtx();
		if (!c->zc)
			berth_oom();
		if (ZSTD_isError(
			ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(c->zc, ZSTD_c_checksumFlag, 1)))
			return berth_err_set(err, BERTH_E_INTERNAL, "zstd: cannot set parameters");
		break;
	default:
		return berth_err_set(err, BERTH_E_INVALID, "create layer: unknown compression %d",
				     (int)c->opts->compression);
	}

	c->a = archive_write_new();
	c->entry = archive_entry_new();
	if (!c->a || !c->entry)
		berth_oom();
	/* pax_restricted: ustar headers, pax records only where needed
	 * (long names, xattrs, big ids). SCHILY.xattr only, which is what Go
	 * (containerd) and GNU tar read. No padding after the end marker. */
	if (archive_write_set_format_pax_restricted(c->a) != ARCHIVE_OK ||
	    archive_write_set_options(c->a, "xattrheader=SCHILY") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(c->a, 1) != ARCHIVE_OK ||
	    archive_write_open(c->a, c, NULL, create_write_cb, NULL) != ARCHIVE_OK)
		return archive_fail(c, "create layer", err);
	return 0;
}

int berth_layer_create(int upper_dirfd, int out_fd, const struct berth_diff_opts *opts,
		       char digest[BERTH_DIGEST_LEN + 1], char diff_id[BERTH_DIGEST_LEN + 1],
		       int64_t *size, struct berth_err **err)
{
	static const struct berth_diff_opts defaults = {.compression = BERTH_COMPRESS_GZIP,
							.source_date_epoch = -1};
	_cleanup_(berth__locale_leave) struct berth__locale_scope locale;
	berth__locale_enter(&locale);
	_cleanup_(create_ctx_release) struct create_ctx c = {
	    .opts = opts ? opts : &defaults,
	    .out_fd = out_fd,
	};
	_cleanup_buf_ struct berth_buf path;
	berth_buf_init(&path, BERTH_BUF_UNLIMITED);
	__attribute__((cleanup(xattrs_release))) struct xattrs x = {0};
	_cleanup_close_ int rootfd = -1;

	int r = create_start(&c, err);
	if (r < 0)
		goto fail;

	/* The upper root itself is not an entry (its attributes belong to
	 * whoever mounts it), but an opaque root is expressed. A fresh open:
	 * the caller's fd may be O_PATH, and its offset is not ours. */
	rootfd = openat(upper_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = berth_err_sys(err, errno, "open the upper directory");
		goto fail;
	}
	struct xnode root = {.fd = rootfd};
	r = read_xattrs(&root, "/", &x, err);
	if (r < 0)
		goto fail;
	if (x.opaque) {
		struct stat st;
		if (fstat(rootfd, &st) < 0) {
			r = berth_err_sys(err, errno, "stat the upper directory");
			goto fail;
		}
		r = write_marker(&c, ".wh..wh..opq", &st, err);
		if (r < 0)
			goto fail;
	}

	r = walk_dir(&c, rootfd, &path, err);
	if (r < 0)
		goto fail;
	if (archive_write_close(c.a) != ARCHIVE_OK) {
		r = archive_fail(&c, "finish the tar", err);
		goto fail;
	}
	r = compress_out(&c, NULL, 0, true, err);
	if (r < 0)
		goto fail;

	if (digest)
		berth_sha256_final_digest(&c.blob, digest);
	if (diff_id)
		berth_sha256_final_digest(&c.tar, diff_id);
	if (size)
		*size = c.size;
	return 0;
fail:
	berth_err_prefix(err, "create layer");
	return r;
}
