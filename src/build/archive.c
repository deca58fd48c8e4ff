/* ADD of a local archive, BuildKit's way: a file is an archive when its
 * content (plain, or compressed with gzip, bzip2, xz or zstd, told by the
 * magic bytes and never by the name) starts with a valid tar header; it is
 * then unpacked into the destination with the layer applier's safety.
 * Anything else is copied as it is. */
#include "build/build_int.h"
#include "image/archive_api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAR_BLOCK          512
#define ARCHIVE_READ_CHUNK (64u << 10) /* compressed bytes handed to libarchive at a time */

enum comp { C_NONE, C_GZIP, C_BZIP2, C_XZ, C_ZSTD };

/* moby's DetectCompression: the magic bytes at the start. */
static enum comp sniff(int fd)
{
	unsigned char h[6];
	ssize_t n = pread(fd, h, sizeof(h), 0);
	if (n >= 3 && h[0] == 0x1f && h[1] == 0x8b && h[2] == 0x08)
		return C_GZIP;
	if (n >= 3 && memcmp(h, "BZh", 3) == 0)
		return C_BZIP2;
	if (n >= 6 && memcmp(h, "\xfd\x37\x7a\x58\x5a\x00", 6) == 0)
		return C_XZ;
	if (n >= 4 && memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0)
		return C_ZSTD;
	return C_NONE;
}

/* The plain bytes of a possibly compressed file: gzip, zstd and plain go
 * through the layer reader; bzip2 and xz through libarchive's "raw" format. */
struct plain {
	int fd; /* borrowed */
	struct berth_layer_reader *lr;
	struct archive *a;
	unsigned char *in;
};

static la_ssize_t plain_read_cb(struct archive *a, void *data, const void **buf)
{
	struct plain *p = data;
	for (;;) {
		ssize_t n = read(p->fd, p->in, ARCHIVE_READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			archive_set_error(a, errno, "read");
		*buf = p->in;
		return n;
	}
}

static void plain_close(struct plain *p)
{
	berth_layer_reader_free(p->lr);
	if (p->a)
		archive_read_free(p->a);
	free(p->in);
	*p = (struct plain){.fd = -1};
}

/* Start reading fd (at offset 0) decompressed. */
static int plain_open(int fd, enum comp c, struct plain *p, struct berth_err **err)
{
	*p = (struct plain){.fd = fd};
	if (lseek(fd, 0, SEEK_SET) < 0)
		return berth_err_sys(err, errno, "seek");
	if (c == C_NONE || c == C_GZIP || c == C_ZSTD)
		return berth_layer_reader_new(fd,
					      c == C_GZIP   ? BERTH_COMPRESS_GZIP
					      : c == C_ZSTD ? BERTH_COMPRESS_ZSTD
							    : BERTH_COMPRESS_NONE,
					      &p->lr, err);
	p->in = berth_xmalloc(ARCHIVE_READ_CHUNK);
	p->a = archive_read_new();
	if (!p->a)
		return berth_err_set(err, BERTH_E_SYS, "libarchive: out of memory");
	int r = c == C_BZIP2 ? archive_read_support_filter_bzip2(p->a)
			     : archive_read_support_filter_xz(p->a);
	/* ARCHIVE_WARN: an external program would do it; good enough. */
	if ((r != ARCHIVE_OK && r != ARCHIVE_WARN) ||
	    archive_read_support_format_raw(p->a) != ARCHIVE_OK ||
	    archive_read_open(p->a, p, NULL, plain_read_cb, NULL) != ARCHIVE_OK)
		return berth_err_set(err, BERTH_E_UNSUPPORTED, "libarchive cannot read %s: %s",
				     c == C_BZIP2 ? "bzip2" : "xz",
				     archive_error_string(p->a) ?: "unknown error");
	struct archive_entry *e;
	if (archive_read_next_header(p->a, &e) != ARCHIVE_OK)
		return berth_err_set(err, BERTH_E_INVALID, "decompress: %s",
				     archive_error_string(p->a) ?: "unknown error");
	return 0;
}

/* Up to len plain bytes; 0 at the end. */
static ssize_t plain_read(struct plain *p, void *buf, size_t len, struct berth_err **err)
{
	if (p->lr)
		return berth_layer_reader_read(p->lr, buf, len, err);
	la_ssize_t n = archive_read_data(p->a, buf, len);
	if (n < 0)
		return berth_err_set(err, BERTH_E_INVALID, "decompress: %s",
				     archive_error_string(p->a) ?: "unknown error");
	return n;
}

/* Go's tar parseOctal: NULs and spaces around, then octal digits. */
static bool parse_octal(const unsigned char *f, size_t len, unsigned long *out)
{
	size_t a = 0, b = len;
	while (a < b && (f[a] == ' ' || f[a] == '\0'))
		a++;
	while (b > a && (f[b - 1] == ' ' || f[b - 1] == '\0'))
		b--;
	unsigned long v = 0;
	for (size_t i = a; i < b; i++) {
		if (f[i] < '0' || f[i] > '7' || v > (~0ul >> 3))
			return false;
		v = v * 8 + (unsigned long)(f[i] - '0');
	}
	*out = v;
	return true;
}

/* Would Go's tar.Reader.Next() take this first block: not all zeros, and a
 * checksum that matches (unsigned or signed sum, the field as spaces)? */
static bool tar_header_ok(const unsigned char h[TAR_BLOCK])
{
	unsigned long want, usum = 0;
	long ssum = 0;
	bool zero = true;
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
		zero &= h[i] == 0;
		usum += c;
		ssum += (signed char)c;
	}
	if (zero || !parse_octal(h + 148, 8, &want))
		return false;
	return want == usum || (long)want == ssum;
}

/* Read up to len plain bytes, as many as there are. */
static ssize_t plain_read_full(struct plain *p, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		struct berth_err *e = NULL;
		ssize_t n = plain_read(p, buf + got, len - got, &e);
		berth_err_free(e);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

bool berth__is_archive(int root_fd, const char *path)
{
	_cleanup_close_ int fd = berth_fs_open_beneath(root_fd, path, O_RDONLY, 0, NULL);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	struct plain p;
	struct berth_err *e = NULL;
	bool ok = false;
	if (plain_open(fd, sniff(fd), &p, &e) == 0) {
		unsigned char h[TAR_BLOCK];
		ok = plain_read_full(&p, h, sizeof(h)) == TAR_BLOCK && tar_header_ok(h);
	}
	berth_err_free(e);
	plain_close(&p);
	return ok;
}

/* An unlinked file in dir for the plain tar of a bzip2 or xz archive. */
static int temp_file(const char *dir, struct berth_err **err)
{
	int fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT))
		return fd >= 0 ? fd : berth_err_sys(err, errno, "make a file in '%s'", dir);
	_cleanup_free_ char *name = berth_xasprintf("%s/unpack-XXXXXX", dir);
	fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "make '%s'", name);
	unlink(name);
	return fd;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* --chown over what the archive made: everything below dirfd. */
static int chown_below(int dirfd, uid_t uid, gid_t gid, const char *shown, struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	int r = berth__list_dir(dirfd, &names);
	if (r < 0)
		return berth_err_sys(err, -r, "read '%s'", shown);
	for (size_t i = 0; i < names.n; i++) {
		struct stat st;
		if (fstatat(dirfd, names.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_err_sys(err, errno, "stat '%s/%s'", shown, names.v[i]);
		/* chown clears set-id bits: put the mode back. */
		if (fchownat(dirfd, names.v[i], uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISLNK(st.st_mode) &&
		     fchmodat(dirfd, names.v[i], st.st_mode & 07777, 0) < 0))
			return berth_err_sys(err, errno, "chown '%s/%s'", shown, names.v[i]);
		if (!S_ISDIR(st.st_mode))
			continue;
		_cleanup_close_ int sub =
		    openat(dirfd, names.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return berth_err_sys(err, errno, "open '%s/%s'", shown, names.v[i]);
		_cleanup_free_ char *child = berth_xasprintf("%s/%s", shown, names.v[i]);
		if (chown_below(sub, uid, gid, child, err) < 0)
			return -1;
	}
	return 0;
}

int berth__unpack_archive(int root_fd, const char *path, int dirfd, const char *tmpdir, long uid,
			  long gid, struct berth_err **err)
{
	_cleanup_close_ int fd = berth_fs_open_beneath(root_fd, path, O_RDONLY, 0, err);
	if (fd < 0)
		return -1;
	enum comp c = sniff(fd);
	_cleanup_close_ int tmp = -1;
	int tar_fd = fd, rc = 0;
	if (c == C_BZIP2 || c == C_XZ) {
		/* libarchive decompresses it into a plain tar the applier reads. */
		if ((tmp = temp_file(tmpdir, err)) < 0)
			return -1;
		struct plain p;
		unsigned char *buf = berth_xmalloc(ARCHIVE_READ_CHUNK);
		rc = plain_open(fd, c, &p, err);
		for (ssize_t n = 1; rc == 0 && n > 0;) {
			n = plain_read(&p, buf, ARCHIVE_READ_CHUNK, err);
			int w = n > 0 ? write_all(tmp, buf, (size_t)n) : 0;
			if (n < 0)
				rc = -1;
			else if (w < 0)
				rc = berth_err_sys(err, -w, "write the unpacked archive");
		}
		free(buf);
		plain_close(&p);
		if (rc < 0)
			return berth_err_prefix(err, "unpack '%s'", path);
		tar_fd = tmp;
		c = C_NONE;
		if (lseek(tmp, 0, SEEK_SET) < 0)
			return berth_err_sys(err, errno, "seek");
	} else if (lseek(fd, 0, SEEK_SET) < 0) {
		return berth_err_sys(err, errno, "seek");
	}
	struct berth_layer_reader *r;
	if (berth_layer_reader_new(tar_fd,
				   c == C_GZIP   ? BERTH_COMPRESS_GZIP
				   : c == C_ZSTD ? BERTH_COMPRESS_ZSTD
						 : BERTH_COMPRESS_NONE,
				   &r, err) < 0)
		return -1;
	struct berth_apply_opts ao = {.keep_owners = true, .overlay_whiteouts = false};
	rc = berth_layer_apply(r, dirfd, &ao, err);
	berth_layer_reader_free(r);
	if (rc == 0 && uid >= 0)
		rc = chown_below(dirfd, (uid_t)uid, (gid_t)(gid >= 0 ? gid : uid), path, err);
	return rc < 0 ? berth_err_prefix(err, "unpack '%s'", path) : 0;
}
