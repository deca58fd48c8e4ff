/* Unit tests for image/ layers: tars built here with libarchive are applied
 * (files, modes, owners, times, links, devices, xattrs, whiteouts, duplicates)
 * from plain, gzip and zstd blobs with their digests checked, broken streams
 * fail with clear errors, and layers created from a directory apply back to
 * the same tree, byte-identically each time. Runs as root. */
#include "image/image.h"
#include "fixture.h"
#include "tap.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* ------------------------------------------------------------ tar making */

/* One tar entry. type: 'f' file, 'd' dir, 'l' symlink, 'h' hardlink,
 * 'c'/'b' devices, 'p' fifo. data: content or link target. */
struct ent {
	const char *name;
	char type;
	const char *data;
	unsigned mode;
	int uid, gid;
	long mtime;
	unsigned major, minor;
	const char *xname; /* one xattr, or NULL */
	const char *xvalue;
};

/* Shorthands: an entry, a device, an entry with one xattr. */
#define E(n, t, d, m, u, g, mt)                                                             \
	{                                                                                   \
		.name = (n), .type = (t), .data = (d), .mode = (m), .uid = (u), .gid = (g), \
		.mtime = (mt)                                                               \
	}
#define DEV(n, t, m, u, g, mt, ma, mi)                                                        \
	{                                                                                     \
		.name = (n), .type = (t), .mode = (m), .uid = (u), .gid = (g), .mtime = (mt), \
		.major = (ma), .minor = (mi)                                                  \
	}
#define X(n, t, d, m, xn, xv)                                                                  \
	{                                                                                      \
		.name = (n), .type = (t), .data = (d), .mode = (m), .mtime = 1, .xname = (xn), \
		.xvalue = (xv)                                                                 \
	}

static la_ssize_t buf_write_cb(struct archive *a, void *data, const void *p, size_t len)
{
	berth_buf_add(data, p, len);
	return (la_ssize_t)len;
}

static void build_tar(const struct ent *ents, size_t n, struct berth_buf *out)
{
	berth_buf_init(out, BERTH_BUF_UNLIMITED);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax(a);
	archive_write_set_bytes_in_last_block(a, 1);
	fixture_must(archive_write_open(a, out, NULL, buf_write_cb, NULL) == ARCHIVE_OK,
		     "tar open");
	struct archive_entry *e = archive_entry_new();
	for (size_t i = 0; i < n; i++) {
		const struct ent *x = &ents[i];
		archive_entry_clear(e);
		archive_entry_set_pathname(e, x->name);
		archive_entry_set_uid(e, x->uid);
		archive_entry_set_gid(e, x->gid);
		archive_entry_set_mtime(e, x->mtime, 0);
		unsigned mode = x->mode;
		switch (x->type) {
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			mode = mode ? mode : 0755;
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, x->data);
			mode = mode ? mode : 0777;
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, x->data);
			break;
		case 'c':
		case 'b':
			archive_entry_set_filetype(e, x->type == 'c' ? AE_IFCHR : AE_IFBLK);
			archive_entry_set_rdevmajor(e, x->major);
			archive_entry_set_rdevminor(e, x->minor);
			break;
		case 'p':
			archive_entry_set_filetype(e, AE_IFIFO);
			break;
		default:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, x->data ? (la_int64_t)strlen(x->data) : 0);
			break;
		}
		archive_entry_set_perm(e, mode ? mode : 0644);
		if (x->xname)
			archive_entry_xattr_add_entry(e, x->xname, x->xvalue, strlen(x->xvalue));
		fixture_must(archive_write_header(a, e) == ARCHIVE_OK, x->name);
		if (x->type == 'f' && x->data)
			archive_write_data(a, x->data, strlen(x->data));
	}
	archive_entry_free(e);
	fixture_must(archive_write_close(a) == ARCHIVE_OK, "tar close");
	archive_write_free(a);
}

static void gzip_buf(const void *data, size_t len, struct berth_buf *out)
{
	z_stream z = {0};
	fixture_must(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
		     "deflateInit2");
	uLong bound = deflateBound(&z, len);
	char *tmp = berth_xmalloc(bound);
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)tmp;
	z.avail_out = (uInt)bound;
	fixture_must(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
	berth_buf_add(out, tmp, bound - z.avail_out);
	deflateEnd(&z);
	free(tmp);
}

static void zstd_buf(const void *data, size_t len, struct berth_buf *out)
{
	size_t bound = ZSTD_compressBound(len);
	char *tmp = berth_xmalloc(bound);
	size_t n = ZSTD_compress(tmp, bound, data, len, 3);
	fixture_must(!ZSTD_isError(n), "zstd");
	berth_buf_add(out, tmp, n);
	free(tmp);
}

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("blob", MFD_CLOEXEC);
	fixture_must(fd >= 0, "memfd_create");
	fixture_must(write(fd, data, len) == (ssize_t)len, "write memfd");
	fixture_must(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	return fd;
}

static void sha(const void *data, size_t len, char out[BERTH_DIGEST_LEN + 1])
{
	struct berth_sha256 h;
	berth_sha256_init(&h);
	berth_sha256_update(&h, data, len);
	berth_sha256_final_digest(&h, out);
}

/* --------------------------------------------------------------- applying */

static int fresh_root(const char *name)
{
	char *p = fixture_path("%s", name);
	fixture_must(mkdir(p, 0755) == 0, p);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fixture_must(fd >= 0, p);
	return fd;
}

struct applied {
	int rc;
	char msg[512];
	enum berth_err_code code;
	char digest[BERTH_DIGEST_LEN + 1];
	char diff_id[BERTH_DIGEST_LEN + 1];
};

static struct applied apply_blob(const void *blob, size_t len, int compression, int rootfd,
				 bool overlay)
{
	struct applied out = {0};
	struct berth_err *err = NULL;
	struct berth_layer_reader *r = NULL;
	struct berth_apply_opts opts = {.keep_owners = true, .overlay_whiteouts = overlay};
	int fd = memfd_with(blob, len);
	out.rc = berth_layer_reader_new(fd, compression, &r, &err);
	if (out.rc == 0)
		out.rc = berth_layer_apply(r, rootfd, &opts, &err);
	if (out.rc == 0)
		berth_layer_reader_digests(r, out.digest, out.diff_id);
	if (err) {
		snprintf(out.msg, sizeof(out.msg), "%s", err->msg);
		out.code = err->code;
	}
	berth_err_free(err);
	berth_layer_reader_free(r);
	close(fd);
	return out;
}

static struct applied apply_ents(const struct ent *ents, size_t n, int rootfd, bool overlay)
{
	_cleanup_buf_ struct berth_buf tar;
	build_tar(ents, n, &tar);
	return apply_blob(tar.data, tar.len, -1, rootfd, overlay);
}

static bool lstat_ok(int rootfd, const char *path, struct stat *st)
{
	return fstatat(rootfd, path, st, AT_SYMLINK_NOFOLLOW) == 0;
}

static const char *content(int rootfd, const char *path)
{
	static char buf[256];
	int fd = openat(rootfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(buf, sizeof(buf), "<%s>", strerrorname_np(errno));
		return buf;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	close(fd);
	return buf;
}

static const char *xattr_of(int rootfd, const char *path, const char *name)
{
	static char buf[256];
	char *p = berth_xasprintf("/proc/self/fd/%d/%s", rootfd, path);
	ssize_t n = lgetxattr(p, name, buf, sizeof(buf) - 1);
	free(p);
	if (n < 0)
		snprintf(buf, sizeof(buf), "<%s>", strerrorname_np(errno));
	else
		buf[n] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ tests */

static void test_compression_of(void)
{
	static const struct {
		const char *mt;
		int want;
	} cases[] = {
	    {BERTH_MT_OCI_LAYER, BERTH_COMPRESS_NONE},
	    {BERTH_MT_OCI_LAYER_GZIP, BERTH_COMPRESS_GZIP},
	    {BERTH_MT_OCI_LAYER_ZSTD, BERTH_COMPRESS_ZSTD},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar", BERTH_COMPRESS_NONE},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", BERTH_COMPRESS_GZIP},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", BERTH_COMPRESS_ZSTD},
	    {BERTH_MT_DOCKER_LAYER, BERTH_COMPRESS_GZIP},
	    {BERTH_MT_DOCKER_FOREIGN, BERTH_COMPRESS_GZIP},
	    {BERTH_MT_OCI_CONFIG, -1},
	    {BERTH_MT_OCI_MANIFEST, -1},
	    {"application/vnd.oci.image.layer.v1.tar+gzip+encrypted", -1},
	    {"", -1},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++)
		tap_is_int(berth_compression_of(cases[i].mt), cases[i].want, "compression of '%s'",
			   cases[i].mt);
	tap_is_int(berth_compression_of(NULL), -1, "compression of NULL");
}

static void test_basic(void)
{
	static const struct ent ents[] = {
	    E("etc/", 'd', NULL, 0755, 0, 0, 1234567890),
	    E("./etc/hosts", 'f', "127.0.0.1 localhost\n", 0644, 0, 0, 1000000000),
	    E("/bin/", 'd', NULL, 0755, 0, 0, 1111111111),
	    E("bin/sh", 'f', "#!sh", 04755, 0, 0, 1000000001),
	    E("bin/link", 'l', "sh", 0777, 0, 0, 1000000002),
	    E("bin/hard", 'h', "bin/sh", 0, 0, 0, 0),
	    E("tmp", 'd', NULL, 01777, 0, 0, 1000000003),
	    E("home/u/f", 'f', "mine", 0600, 1000, 1001, 1000000004),
	    E("home/u/ro/", 'd', NULL, 0555, 1000, 1001, 1000000005),
	    E("home/u/ro/inside", 'f', "x", 0444, 1000, 1001, 1000000006),
	    E("run/fifo", 'p', NULL, 0620, 7, 8, 1000000007),
	    DEV("dev/null", 'c', 0666, 0, 0, 1000000008, 1, 3),
	    DEV("dev/loop0", 'b', 0660, 0, 6, 1000000009, 7, 0),
	    E("sg/", 'd', NULL, 02775, 0, 50, 1000000010),
	};
	int root = fresh_root("basic");
	struct applied a = apply_ents(ents, BERTH_ARRAY_SIZE(ents), root, true);
	tap_is_int(a.rc, 0, "basic layer applies");
	if (a.rc)
		tap_diag("error", a.msg);

	struct stat st;
	tap_is_str(content(root, "etc/hosts"), "127.0.0.1 localhost\n", "'./etc/hosts' content");
	tap_ok(lstat_ok(root, "etc/hosts", &st) && st.st_mtime == 1000000000 &&
		   (st.st_mode & 07777) == 0644,
	       "'etc/hosts' mode and mtime");
	tap_ok(lstat_ok(root, "etc", &st) && S_ISDIR(st.st_mode) && st.st_mtime == 1234567890,
	       "'etc' mtime set after its contents");
	tap_ok(lstat_ok(root, "bin", &st) && st.st_mtime == 1111111111,
	       "absolute '/bin/' lands in the root with its mtime");
	tap_ok(lstat_ok(root, "bin/sh", &st) && (st.st_mode & 07777) == 04755,
	       "setuid bit kept on 'bin/sh'");
	struct stat st2;
	tap_ok(lstat_ok(root, "bin/hard", &st2) && st2.st_ino == st.st_ino && st.st_nlink == 2,
	       "'bin/hard' is a hardlink of 'bin/sh'");
	char target[64] = {0};
	ssize_t n = readlinkat(root, "bin/link", target, sizeof(target) - 1);
	tap_ok(n == 2 && strcmp(target, "sh") == 0, "symlink 'bin/link' -> 'sh'");
	tap_ok(lstat_ok(root, "bin/link", &st) && st.st_mtime == 1000000002,
	       "symlink mtime (not its target's)");
	tap_ok(lstat_ok(root, "tmp", &st) && (st.st_mode & 07777) == 01777, "sticky 'tmp'");
	tap_ok(lstat_ok(root, "home/u/f", &st) && st.st_uid == 1000 && st.st_gid == 1001,
	       "owner 1000:1001 kept");
	tap_ok(lstat_ok(root, "home/u/ro", &st) && (st.st_mode & 07777) == 0555 &&
		   st.st_mtime == 1000000005,
	       "read-only dir written into, then mode 0555");
	tap_is_str(content(root, "home/u/ro/inside"), "x", "file inside a read-only dir");
	tap_ok(lstat_ok(root, "run/fifo", &st) && S_ISFIFO(st.st_mode) &&
		   (st.st_mode & 07777) == 0620 && st.st_uid == 7 && st.st_gid == 8,
	       "fifo with mode and owner");
	tap_ok(lstat_ok(root, "dev/null", &st) && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
		   minor(st.st_rdev) == 3 && (st.st_mode & 0777) == 0666,
	       "char device 1:3");
	tap_ok(lstat_ok(root, "dev/loop0", &st) && S_ISBLK(st.st_mode) && major(st.st_rdev) == 7 &&
		   minor(st.st_rdev) == 0 && st.st_gid == 6,
	       "block device 7:0");
	tap_ok(lstat_ok(root, "sg", &st) && (st.st_mode & 07777) == 02775 && st.st_gid == 50,
	       "setgid directory");
	tap_ok(lstat_ok(root, "run", &st) && S_ISDIR(st.st_mode), "missing parent 'run' created");
	close(root);
}

static void test_xattrs(void)
{
	static const struct ent ents[] = {
	    X("f", 'f', "x", 0644, "user.color", "blue"),
	    X("d/", 'd', NULL, 0755, "trusted.berth", "t"),
	    X("s", 'l', "f", 0777, "trusted.sym", "on-link"),
	    X("o/", 'd', NULL, 0755, "trusted.overlay.redirect", "/etc"),
	};
	int root = fresh_root("xattrs");
	struct applied a = apply_ents(ents, BERTH_ARRAY_SIZE(ents), root, true);
	tap_is_int(a.rc, 0, "xattr layer applies");
	if (a.rc)
		tap_diag("error", a.msg);
	tap_is_str(xattr_of(root, "f", "user.color"), "blue", "user.* xattr on a file");
	tap_is_str(xattr_of(root, "d", "trusted.berth"), "t", "trusted.* xattr on a dir");
	tap_is_str(xattr_of(root, "s", "trusted.sym"), "on-link",
		   "trusted.* xattr on the symlink itself");
	tap_is_str(xattr_of(root, "f", "trusted.sym"), "<ENODATA>",
		   "symlink xattr not on its target");
	tap_is_str(xattr_of(root, "o", "trusted.overlay.redirect"), "<ENODATA>",
		   "overlay xattrs from a tar are dropped");

	static const char big[] = "0123456789abcdef";
	char *huge = berth_xmalloc(BERTH_LAYER_XATTR_MAX + 2);
	for (size_t i = 0; i <= BERTH_LAYER_XATTR_MAX; i++)
		huge[i] = big[i % 16];
	huge[BERTH_LAYER_XATTR_MAX + 1] = '\0';
	struct ent over[] = {X("g", 'f', "x", 0644, "user.big", huge)};
	int root2 = fresh_root("xattrs-big");
	a = apply_ents(over, 1, root2, true);
	tap_is_int(a.code, BERTH_E_LIMIT, "xattr over BERTH_LAYER_XATTR_MAX is refused");
	tap_ok(strstr(a.msg, "'user.big'") != NULL, "the error names the xattr");
	tap_diag("message", a.msg);
	free(huge);
	close(root);
	close(root2);
}

static void test_whiteouts(void)
{
	static const struct ent ents[] = {
	    E(".wh.gone", 'f', "", 0, 5, 6, 1),
	    E("d/", 'd', NULL, 0755, 0, 0, 1),
	    E("d/.wh..wh..opq", 'f', "", 0, 0, 0, 1),
	    E("d/kept", 'f', "k", 0644, 0, 0, 1),
	    E("newdir/.wh..wh..opq", 'f', "", 0, 0, 0, 1),
	    E("sub/.wh.x", 'f', "", 0, 0, 0, 1),
	    E(".wh..wh.plnk/123", 'f', "aufs", 0, 0, 0, 1),
	};
	int root = fresh_root("wh-overlay");
	struct applied a = apply_ents(ents, BERTH_ARRAY_SIZE(ents), root, true);
	tap_is_int(a.rc, 0, "whiteout layer applies (overlay form)");
	if (a.rc)
		tap_diag("error", a.msg);
	struct stat st;
	tap_ok(lstat_ok(root, "gone", &st) && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0) &&
		   st.st_uid == 5 && st.st_gid == 6,
	       "'.wh.gone' -> char device 0/0 'gone' owned 5:6");
	tap_ok(!lstat_ok(root, ".wh.gone", &st), "no '.wh.gone' file left");
	tap_is_str(xattr_of(root, "d", "trusted.overlay.opaque"), "y", "'d' is opaque");
	tap_is_str(content(root, "d/kept"), "k", "the opaque dir keeps this layer's files");
	tap_is_str(xattr_of(root, "newdir", "trusted.overlay.opaque"), "y",
		   "opaque marker creates its missing dir");
	tap_ok(lstat_ok(root, "sub/x", &st) && S_ISCHR(st.st_mode), "nested whiteout");
	tap_ok(!lstat_ok(root, ".wh..wh.plnk", &st), "aufs metadata skipped");
	close(root);

	/* Without overlayfs: whiteouts delete what lower layers left. */
	root = fresh_root("wh-plain");
	fixture_must(mkdirat(root, "old", 0755) == 0 && mkdirat(root, "old/sub", 0755) == 0,
		     "mkdir");
	fixture_must(mkdirat(root, "keep", 0755) == 0 &&
			 mknodat(root, "old/a", S_IFREG | 0644, 0) == 0 &&
			 mknodat(root, "old/sub/b", S_IFREG | 0644, 0) == 0 &&
			 mknodat(root, "keep/x", S_IFREG | 0644, 0) == 0 &&
			 mknodat(root, "victim", S_IFREG | 0644, 0) == 0,
		     "lower files");
	static const struct ent plain[] = {
	    E(".wh.victim", 'f', "", 0, 0, 0, 1),
	    E("old/new", 'f', "n", 0644, 0, 0, 1),
	    E("old/sub/", 'd', NULL, 0755, 0, 0, 1),
	    E("old/.wh..wh..opq", 'f', "", 0, 0, 0, 1),
	};
	a = apply_ents(plain, BERTH_ARRAY_SIZE(plain), root, false);
	tap_is_int(a.rc, 0, "whiteout layer applies (deletions)");
	if (a.rc)
		tap_diag("error", a.msg);
	tap_ok(!lstat_ok(root, "victim", &st), "'.wh.victim' removed 'victim'");
	tap_ok(!lstat_ok(root, "old/a", &st), "opaque removed the lower 'old/a'");
	tap_ok(!lstat_ok(root, "old/sub/b", &st), "opaque removed the lower 'old/sub/b'");
	tap_ok(lstat_ok(root, "old/sub", &st), "opaque kept this layer's 'old/sub'");
	tap_is_str(content(root, "old/new"), "n", "opaque kept this layer's 'old/new'");
	tap_is_str(content(root, "keep/x"), "", "unrelated 'keep/x' untouched");
	tap_ok(!lstat_ok(root, ".wh.victim", &st), "no whiteout file written");
	close(root);

	static const char *const bad[] = {".wh.", "a/.wh.", ".wh..", ".wh...", "x/.wh.."};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++) {
		char *name = berth_xasprintf("wh-bad-%zu", i);
		root = fresh_root(name);
		struct ent e[] = {E(bad[i], 'f', "", 0, 0, 0, 1)};
		a = apply_ents(e, 1, root, true);
		tap_is_int(a.code, BERTH_E_INVALID, "'%s' is an invalid whiteout", bad[i]);
		tap_ok(strstr(a.msg, bad[i]) != NULL, "the error names '%s'", bad[i]);
		close(root);
		free(name);
	}
}

static void test_duplicates(void)
{
	static const struct ent ents[] = {
	    E("f", 'f', "one", 0644, 0, 0, 1),     E("f", 'f', "two", 0600, 0, 0, 2),
	    E("d/", 'd', NULL, 0700, 0, 0, 1),     E("d/x", 'f', "x", 0644, 0, 0, 1),
	    E("d/", 'd', NULL, 0750, 3, 4, 77),    E("e/", 'd', NULL, 0755, 0, 0, 1),
	    E("e/inner", 'f', "i", 0644, 0, 0, 1), E("e", 'f', "now a file", 0644, 0, 0, 1),
	    E("g", 'f', "file", 0644, 0, 0, 1),    E("g/", 'd', NULL, 0711, 0, 0, 1),
	    E("s", 'l', "f", 0777, 0, 0, 1),       E("s", 'f', "replaced link", 0644, 0, 0, 1),
	};
	int root = fresh_root("dups");
	struct applied a = apply_ents(ents, BERTH_ARRAY_SIZE(ents), root, true);
	tap_is_int(a.rc, 0, "duplicate entries apply");
	if (a.rc)
		tap_diag("error", a.msg);
	struct stat st;
	tap_is_str(content(root, "f"), "two", "a later file replaces an earlier one");
	tap_ok(lstat_ok(root, "f", &st) && (st.st_mode & 0777) == 0600, "with its mode");
	tap_ok(lstat_ok(root, "d", &st) && (st.st_mode & 0777) == 0750 && st.st_uid == 3 &&
		   st.st_mtime == 77,
	       "dir over dir takes the later attributes");
	tap_is_str(content(root, "d/x"), "x", "dir over dir keeps its contents");
	tap_is_str(content(root, "e"), "now a file", "a file replaces a directory");
	tap_ok(lstat_ok(root, "g", &st) && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0711,
	       "a directory replaces a file");
	tap_ok(lstat_ok(root, "s", &st) && S_ISREG(st.st_mode), "a file replaces a symlink");
	tap_is_str(content(root, "f"), "two", "the old symlink target untouched");
	close(root);
}

static const struct ent digest_ents[] = {
    E("a/", 'd', NULL, 0755, 0, 0, 10),
    E("a/one", 'f', "the first file\n", 0644, 0, 0, 11),
    E("a/two", 'f', "the second file, a bit longer than the first\n", 0644, 0, 0, 12),
    E("b", 'l', "a/one", 0777, 0, 0, 13),
};

static void check_applied(int root, const char *label)
{
	tap_is_str(content(root, "a/two"), "the second file, a bit longer than the first\n",
		   "%s: content", label);
}

static void test_compressions(void)
{
	_cleanup_buf_ struct berth_buf tar;
	build_tar(digest_ents, BERTH_ARRAY_SIZE(digest_ents), &tar);
	char want_diff[BERTH_DIGEST_LEN + 1], want_digest[BERTH_DIGEST_LEN + 1];
	sha(tar.data, tar.len, want_diff);

	_cleanup_buf_ struct berth_buf gz, zs, gz2, zs2, padded;
	berth_buf_init(&gz, BERTH_BUF_UNLIMITED);
	berth_buf_init(&zs, BERTH_BUF_UNLIMITED);
	berth_buf_init(&gz2, BERTH_BUF_UNLIMITED);
	berth_buf_init(&zs2, BERTH_BUF_UNLIMITED);
	berth_buf_init(&padded, BERTH_BUF_UNLIMITED);
	gzip_buf(tar.data, tar.len, &gz);
	zstd_buf(tar.data, tar.len, &zs);
	/* Multi-member gzip and multi-frame zstd: split the tar in two. */
	gzip_buf(tar.data, 700, &gz2);
	gzip_buf(tar.data + 700, tar.len - 700, &gz2);
	zstd_buf(tar.data, 700, &zs2);
	zstd_buf(tar.data + 700, tar.len - 700, &zs2);
	/* Bytes after the end-of-archive blocks are read (and hashed) too. */
	berth_buf_add(&padded, tar.data, tar.len);
	for (int i = 0; i < 9000; i++)
		berth_buf_addch(&padded, '\0');
	char padded_diff[BERTH_DIGEST_LEN + 1];
	sha(padded.data, padded.len, padded_diff);

	const struct {
		const char *label;
		struct berth_buf *blob;
		int compression;
		const char *diff;
	} cases[] = {
	    {"plain, detected", &tar, -1, want_diff},
	    {"plain, declared", &tar, BERTH_COMPRESS_NONE, want_diff},
	    {"gzip, detected", &gz, -1, want_diff},
	    {"gzip, declared", &gz, BERTH_COMPRESS_GZIP, want_diff},
	    {"zstd, detected", &zs, -1, want_diff},
	    {"zstd, declared", &zs, BERTH_COMPRESS_ZSTD, want_diff},
	    {"gzip, two members", &gz2, -1, want_diff},
	    {"zstd, two frames", &zs2, -1, want_diff},
	    {"plain, zeros after the end", &padded, -1, padded_diff},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		char *name = berth_xasprintf("comp-%zu", i);
		int root = fresh_root(name);
		struct applied a = apply_blob(cases[i].blob->data, cases[i].blob->len,
					      cases[i].compression, root, true);
		tap_is_int(a.rc, 0, "%s: applies", cases[i].label);
		if (a.rc)
			tap_diag("error", a.msg);
		check_applied(root, cases[i].label);
		sha(cases[i].blob->data, cases[i].blob->len, want_digest);
		tap_is_str(a.diff_id, cases[i].diff, "%s: DiffID is the sha256 of the tar",
			   cases[i].label);
		tap_is_str(a.digest, want_digest, "%s: digest is the sha256 of the blob",
			   cases[i].label);
		close(root);
		free(name);
	}

	/* Zero bytes: an empty layer. */
	int root = fresh_root("comp-empty");
	struct applied a = apply_blob("", 0, -1, root, true);
	tap_is_int(a.rc, 0, "an empty blob is an empty layer");
	close(root);
}

static void expect_failure(const char *label, const void *blob, size_t len, int compression,
			   const char *needle)
{
	static int n;
	char *name = berth_xasprintf("bad-%d", n++);
	int root = fresh_root(name);
	struct applied a = apply_blob(blob, len, compression, root, true);
	tap_ok(a.rc < 0 && a.code == BERTH_E_INVALID, "%s: fails as invalid", label);
	tap_ok(strstr(a.msg, needle) != NULL, "%s: message says '%s'", label, needle);
	tap_diag("message", a.msg);
	close(root);
	free(name);
}

static void test_broken_streams(void)
{
	_cleanup_buf_ struct berth_buf tar, gz, zs;
	build_tar(digest_ents, BERTH_ARRAY_SIZE(digest_ents), &tar);
	berth_buf_init(&gz, BERTH_BUF_UNLIMITED);
	berth_buf_init(&zs, BERTH_BUF_UNLIMITED);
	gzip_buf(tar.data, tar.len, &gz);
	zstd_buf(tar.data, tar.len, &zs);

	expect_failure("gzip cut in half", gz.data, gz.len / 2, -1, "gzip stream is truncated");
	expect_failure("gzip without its trailer", gz.data, gz.len - 4, -1,
		       "gzip stream is truncated");
	char *bad = berth_xmalloc(gz.len + 8);
	memcpy(bad, gz.data, gz.len);
	memcpy(bad + gz.len, "garbage!", 8);
	expect_failure("gzip with trailing garbage", bad, gz.len + 8, -1, "gzip stream is corrupt");
	memcpy(bad, gz.data, gz.len);
	for (size_t i = 20; i < 40; i++)
		bad[i] ^= 0x5a;
	expect_failure("gzip with flipped bytes", bad, gz.len, -1, "gzip stream is corrupt");
	free(bad);

	expect_failure("zstd cut in half", zs.data, zs.len / 2, -1, "zstd stream is truncated");
	bad = berth_xmalloc(zs.len);
	memcpy(bad, zs.data, zs.len);
	for (size_t i = 12; i < zs.len - 4; i++)
		bad[i] ^= 0xa5;
	expect_failure("zstd with corrupt blocks", bad, zs.len, -1, "zstd stream is corrupt");
	memcpy(bad, zs.data, zs.len);
	bad[4] = (char)0xff; /* frame header descriptor: reserved bit */
	expect_failure("zstd with a corrupt frame header", bad, zs.len, -1, "zstd stream");
	free(bad);

	expect_failure("declared gzip, plain data", tar.data, tar.len, BERTH_COMPRESS_GZIP,
		       "gzip stream is corrupt");
	expect_failure("declared zstd, empty", "", 0, BERTH_COMPRESS_ZSTD,
		       "zstd stream is truncated");
	expect_failure("tar cut mid-entry", tar.data, 1100, -1, "malformed tar");
	expect_failure("not a tar", "hello, this is not a tar archive at all", 39, -1,
		       "malformed tar");
}

/* ------------------------------------------------------------ round trip */

static void put(const char *data, mode_t mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put(const char *data, mode_t mode, const char *fmt, ...)
{
	char rel[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	char *p = fixture_path("%s", rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	fixture_must(fd >= 0, p);
	fixture_must(write(fd, data, strlen(data)) == (ssize_t)strlen(data), p);
	fixture_must(fchmod(fd, mode) == 0, p);
	close(fd);
}

static void build_upper(const char *top)
{
	fixture_must(mkdir(fixture_path("%s", top), 0755) == 0, top);
	fixture_must(mkdir(fixture_path("%s/etc", top), 0755) == 0, "etc");
	put("hosts\n", 0644, "%s/etc/hosts", top);
	put("secret\n", 0640, "%s/etc/shadow", top);
	fixture_must(chown(fixture_path("%s/etc/shadow", top), 0, 42) == 0, "chown");
	fixture_must(mkdir(fixture_path("%s/bin", top), 0755) == 0, "bin");
	put("ELF", 0755, "%s/bin/ping", top);
	/* cap_net_raw+ep as a VFS_CAP_REVISION_2 blob. */
	const uint32_t cap[5] = {0x02000001, 1u << 13, 0, 0, 0};
	fixture_must(setxattr(fixture_path("%s/bin/ping", top), "security.capability", cap,
			      sizeof(cap), 0) == 0,
		     "security.capability");
	put("su", 04755, "%s/bin/su", top);
	fixture_must(link(fixture_path("%s/bin/ping", top), fixture_path("%s/bin/ping6", top)) == 0,
		     "link");
	fixture_must(symlink("ping", fixture_path("%s/bin/p", top)) == 0, "symlink");
	fixture_must(mkfifo(fixture_path("%s/bin/fifo", top), 0600) == 0, "fifo");
	fixture_must(mknod(fixture_path("%s/bin/tty", top), S_IFCHR | 0620, makedev(5, 0)) == 0,
		     "tty");
	fixture_must(mknod(fixture_path("%s/deleted", top), S_IFCHR, makedev(0, 0)) == 0,
		     "whiteout");
	fixture_must(mkdir(fixture_path("%s/opaque", top), 0700) == 0, "opaque");
	fixture_must(
	    setxattr(fixture_path("%s/opaque", top), "trusted.overlay.opaque", "y", 1, 0) == 0,
	    "opaque xattr");
	fixture_must(
	    setxattr(fixture_path("%s/opaque", top), "trusted.overlay.origin", "xyz", 3, 0) == 0,
	    "origin xattr");
	put("new", 0644, "%s/opaque/new", top);
	fixture_must(mknod(fixture_path("%s/opaque/gone", top), S_IFCHR, makedev(0, 0)) == 0,
		     "whiteout 2");
	fixture_must(setxattr(fixture_path("%s/etc/hosts", top), "user.note", "hi", 2, 0) == 0,
		     "user xattr");
	fixture_must(mkdir(fixture_path("%s/a", top), 0755) == 0 &&
			 mkdir(fixture_path("%s/a-b", top), 0755) == 0,
		     "sort dirs");
	put("", 0644, "%s/a/z", top);
	/* Names are bytes: UTF-8 and not. */
	put("utf-8", 0644, "%s/caf\xc3\xa9", top);
	put("latin-1", 0644, "%s/bad\xff", top);
	fixture_must(chown(fixture_path("%s/a/z", top), 1234, 5678) == 0, "chown");
	/* Fixed times everywhere (nanoseconds are only kept when a pax
	 * record is needed anyway). */
	const char *const all[] = {"etc/hosts",  "etc/shadow",  "etc",     "bin/ping", "bin/su",
				   "bin/p",      "bin/fifo",    "bin/tty", "bin",      "deleted",
				   "opaque/new", "opaque/gone", "opaque",  "a/z",      "a",
				   "a-b",        "caf\xc3\xa9", "bad\xff"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(all); i++) {
		struct timespec ts[2] = {{1500000000 + (long)i, 0}, {1600000000 + (long)i, 0}};
		fixture_must(utimensat(AT_FDCWD, fixture_path("%s/%s", top, all[i]), ts,
				       AT_SYMLINK_NOFOLLOW) == 0,
			     all[i]);
	}
}

/* One line per node under dirfd: everything a layer must carry. */
static void list_tree(int dirfd, const char *prefix, struct berth_buf *out)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fd);
	fixture_must(d != NULL, "fdopendir");
	struct berth_strv names = BERTH_STRV_INIT;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			berth_strv_push(&names, de->d_name);
	closedir(d);
	for (size_t i = 1; i < names.n; i++)
		for (size_t j = i; j > 0 && strcmp(names.v[j - 1], names.v[j]) > 0; j--) {
			char *t = names.v[j];
			names.v[j] = names.v[j - 1];
			names.v[j - 1] = t;
		}
	for (size_t i = 0; i < names.n; i++) {
		struct stat st;
		fixture_must(fstatat(dirfd, names.v[i], &st, AT_SYMLINK_NOFOLLOW) == 0, names.v[i]);
		berth_buf_addf(out, "%s%s mode=%o uid=%u gid=%u mtime=%ld", prefix, names.v[i],
			       st.st_mode, st.st_uid, st.st_gid, (long)st.st_mtime);
		if (!S_ISDIR(st.st_mode))
			berth_buf_addf(out, " nlink=%lu", (unsigned long)st.st_nlink);
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			berth_buf_addf(out, " rdev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
		if (S_ISLNK(st.st_mode)) {
			char t[256] = {0};
			fixture_must(readlinkat(dirfd, names.v[i], t, sizeof(t) - 1) >= 0,
				     "readlink");
			berth_buf_addf(out, " -> %s", t);
		}
		if (S_ISREG(st.st_mode))
			berth_buf_addf(out, " data=%s", content(dirfd, names.v[i]));
		char *p = berth_xasprintf("/proc/self/fd/%d/%s", dirfd, names.v[i]);
		char xl[1024];
		ssize_t xn = llistxattr(p, xl, sizeof(xl));
		for (ssize_t off = 0; xn > 0 && off < xn; off += (ssize_t)strlen(xl + off) + 1) {
			char v[256];
			ssize_t vn = lgetxattr(p, xl + off, v, sizeof(v));
			berth_buf_addf(out, " %s=", xl + off);
			for (ssize_t k = 0; k < vn; k++)
				berth_buf_addf(out, "%02x", (unsigned char)v[k]);
		}
		free(p);
		berth_buf_addch(out, '\n');
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, names.v[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			fixture_must(sub >= 0, names.v[i]);
			char *pre = berth_xasprintf("%s%s/", prefix, names.v[i]);
			list_tree(sub, pre, out);
			free(pre);
			close(sub);
		}
	}
	berth_strv_release(&names);
}

static int create_layer(const char *top, enum berth_compression comp, int64_t sde,
			char digest[BERTH_DIGEST_LEN + 1], char diff_id[BERTH_DIGEST_LEN + 1],
			struct berth_buf *blob, struct berth_err **err)
{
	int upper = open(fixture_path("%s", top), O_PATH | O_DIRECTORY | O_CLOEXEC);
	fixture_must(upper >= 0, top);
	int out = memfd_create("layer", MFD_CLOEXEC);
	fixture_must(out >= 0, "memfd");
	struct berth_diff_opts opts = {.compression = comp, .source_date_epoch = sde};
	int64_t size = -1;
	int r = berth_layer_create(upper, out, &opts, digest, diff_id, &size, err);
	if (r == 0) {
		off_t end = lseek(out, 0, SEEK_CUR);
		tap_is_int(size, end, "create reports the bytes it wrote");
		char *data = berth_xmalloc((size_t)end + 1);
		fixture_must(pread(out, data, (size_t)end, 0) == end, "pread");
		berth_buf_add(blob, data, (size_t)end);
		free(data);
	}
	close(upper);
	close(out);
	return r;
}

/* The entry names of a plain tar, in order, comma-joined. */
static void tar_names(const struct berth_buf *tar, struct berth_buf *out)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	fixture_must(archive_read_open_memory(a, tar->data, tar->len) == ARCHIVE_OK, "read tar");
	struct archive_entry *e;
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
		berth_buf_addf(out, "%s%s", out->len ? "," : "", archive_entry_pathname(e));
	archive_read_free(a);
}

static void test_round_trip(void)
{
	build_upper("upper");
	struct berth_err *err = NULL;
	char digest[BERTH_DIGEST_LEN + 1], diff_id[BERTH_DIGEST_LEN + 1];
	_cleanup_buf_ struct berth_buf plain, gz, zs;
	berth_buf_init(&plain, BERTH_BUF_UNLIMITED);
	berth_buf_init(&gz, BERTH_BUF_UNLIMITED);
	berth_buf_init(&zs, BERTH_BUF_UNLIMITED);

	int r = create_layer("upper", BERTH_COMPRESS_NONE, -1, digest, diff_id, &plain, &err);
	tap_is_int(r, 0, "create a plain layer");
	if (err)
		tap_diag("error", err->msg);
	tap_is_str(digest, diff_id, "plain: digest == DiffID");
	char want[BERTH_DIGEST_LEN + 1];
	sha(plain.data, plain.len, want);
	tap_is_str(diff_id, want, "plain: DiffID is the sha256 of what was written");

	_cleanup_buf_ struct berth_buf names;
	berth_buf_init(&names, BERTH_BUF_UNLIMITED);
	tar_names(&plain, &names);
	tap_is_str(names.data,
		   ".wh.deleted,a/,a/z,a-b/,bad\xff,bin/,bin/fifo,bin/p,bin/ping,bin/ping6,bin/su,"
		   "bin/tty,caf\xc3\xa9,etc/,etc/hosts,etc/shadow,opaque/,opaque/"
		   ".wh..wh..opq,opaque/.wh.gone,"
		   "opaque/new",
		   "entries sorted, whiteouts and the opaque marker in OCI form");

	char gz_digest[BERTH_DIGEST_LEN + 1], gz_diff[BERTH_DIGEST_LEN + 1];
	r = create_layer("upper", BERTH_COMPRESS_GZIP, -1, gz_digest, gz_diff, &gz, &err);
	tap_is_int(r, 0, "create a gzip layer");
	tap_is_str(gz_diff, diff_id, "gzip: the same DiffID");
	tap_ok(gz.len > 10 && (uint8_t)gz.data[0] == 0x1f && (uint8_t)gz.data[1] == 0x8b &&
		   gz.data[3] == 0 && gz.data[4] == 0 && gz.data[5] == 0 && gz.data[6] == 0 &&
		   gz.data[7] == 0,
	       "gzip: a gzip header with mtime 0");
	sha(gz.data, gz.len, want);
	tap_is_str(gz_digest, want, "gzip: digest is the sha256 of the blob");

	char zs_digest[BERTH_DIGEST_LEN + 1], zs_diff[BERTH_DIGEST_LEN + 1];
	r = create_layer("upper", BERTH_COMPRESS_ZSTD, -1, zs_digest, zs_diff, &zs, &err);
	tap_is_int(r, 0, "create a zstd layer");
	tap_is_str(zs_diff, diff_id, "zstd: the same DiffID");

	/* Apply each back and compare the trees. */
	_cleanup_buf_ struct berth_buf want_tree;
	berth_buf_init(&want_tree, BERTH_BUF_UNLIMITED);
	int upper = open(fixture_path("upper"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	list_tree(upper, "", &want_tree);
	close(upper);
	const struct {
		const char *label;
		struct berth_buf *blob;
		const char *digest;
	} blobs[] = {{"plain", &plain, digest}, {"gzip", &gz, gz_digest}, {"zstd", &zs, zs_digest}};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(blobs); i++) {
		char *name = berth_xasprintf("rt-%s", blobs[i].label);
		int root = fresh_root(name);
		struct applied a =
		    apply_blob(blobs[i].blob->data, blobs[i].blob->len, -1, root, true);
		tap_is_int(a.rc, 0, "%s: the created layer applies", blobs[i].label);
		if (a.rc)
			tap_diag("error", a.msg);
		tap_is_str(a.digest, blobs[i].digest, "%s: apply sees the digest create reported",
			   blobs[i].label);
		tap_is_str(a.diff_id, diff_id, "%s: apply sees the DiffID create reported",
			   blobs[i].label);
		_cleanup_buf_ struct berth_buf got;
		berth_buf_init(&got, BERTH_BUF_UNLIMITED);
		list_tree(root, "", &got);
		/* overlay's bookkeeping xattr is not part of a layer. */
		_cleanup_buf_ struct berth_buf expect;
		berth_buf_init(&expect, BERTH_BUF_UNLIMITED);
		const char *origin = " trusted.overlay.origin=78797a";
		const char *p = want_tree.data, *hit = strstr(p, origin);
		berth_buf_add(&expect, p, hit ? (size_t)(hit - p) : strlen(p));
		if (hit)
			berth_buf_addstr(&expect, hit + strlen(origin));
		tap_is_str(got.data, expect.data, "%s: the applied tree equals the upper dir",
			   blobs[i].label);
		close(root);
		free(name);
	}
	berth_err_free(err);
}

static void test_determinism(void)
{
	struct berth_err *err = NULL;
	const enum berth_compression comps[] = {BERTH_COMPRESS_NONE, BERTH_COMPRESS_GZIP,
						BERTH_COMPRESS_ZSTD};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(comps); i++) {
		char d1[BERTH_DIGEST_LEN + 1], d2[BERTH_DIGEST_LEN + 1];
		char i1[BERTH_DIGEST_LEN + 1], i2[BERTH_DIGEST_LEN + 1];
		_cleanup_buf_ struct berth_buf b1, b2;
		berth_buf_init(&b1, BERTH_BUF_UNLIMITED);
		berth_buf_init(&b2, BERTH_BUF_UNLIMITED);
		int r1 = create_layer("upper", comps[i], -1, d1, i1, &b1, &err);
		/* Reading the files moves their atimes: it must not matter. */
		struct timespec ts[2] = {{2000000000, 0}, {0, UTIME_OMIT}};
		fixture_must(utimensat(AT_FDCWD, fixture_path("upper/etc/hosts"), ts, 0) == 0,
			     "atime");
		int r2 = create_layer("upper", comps[i], -1, d2, i2, &b2, &err);
		tap_ok(r1 == 0 && r2 == 0, "compression %zu: created twice", i);
		tap_is_str(d1, d2, "compression %zu: the same digest twice", i);
		tap_is_str(i1, i2, "compression %zu: the same DiffID twice", i);
	}

	/* The caller's locale does not change the tar (names are bytes). */
	char c1[BERTH_DIGEST_LEN + 1], c2[BERTH_DIGEST_LEN + 1], ci[BERTH_DIGEST_LEN + 1];
	_cleanup_buf_ struct berth_buf l1, l2;
	berth_buf_init(&l1, BERTH_BUF_UNLIMITED);
	berth_buf_init(&l2, BERTH_BUF_UNLIMITED);
	int rl = create_layer("upper", BERTH_COMPRESS_NONE, -1, c1, ci, &l1, &err);
	bool switched = setlocale(LC_CTYPE, "C.UTF-8") != NULL;
	rl |= create_layer("upper", BERTH_COMPRESS_NONE, -1, c2, ci, &l2, &err);
	setlocale(LC_CTYPE, "C");
	tap_ok(rl == 0 && switched, "created under the C and C.UTF-8 locales");
	tap_is_str(c1, c2, "the same digest under either locale");

	/* SOURCE_DATE_EPOCH clamps later mtimes and keeps earlier ones. */
	char d[BERTH_DIGEST_LEN + 1], id[BERTH_DIGEST_LEN + 1];
	_cleanup_buf_ struct berth_buf blob;
	berth_buf_init(&blob, BERTH_BUF_UNLIMITED);
	int r = create_layer("upper", BERTH_COMPRESS_GZIP, 1600000005, d, id, &blob, &err);
	tap_is_int(r, 0, "create with source_date_epoch");
	int root = fresh_root("sde");
	struct applied a = apply_blob(blob.data, blob.len, -1, root, true);
	tap_is_int(a.rc, 0, "the clamped layer applies");
	struct stat st;
	tap_ok(lstat_ok(root, "etc/hosts", &st) && st.st_mtime == 1600000000,
	       "an earlier mtime is kept");
	tap_ok(lstat_ok(root, "opaque", &st) && st.st_mtime == 1600000005,
	       "a later mtime is clamped");
	close(root);

	/* A redirect (renamed lower dir) cannot be expressed in a tar. */
	fixture_must(mkdir(fixture_path("redirected"), 0755) == 0 &&
			 mkdir(fixture_path("redirected/d"), 0755) == 0,
		     "mkdir");
	fixture_must(
	    setxattr(fixture_path("redirected/d"), "trusted.overlay.redirect", "/old", 4, 0) == 0,
	    "redirect");
	_cleanup_buf_ struct berth_buf none;
	berth_buf_init(&none, BERTH_BUF_UNLIMITED);
	r = create_layer("redirected", BERTH_COMPRESS_GZIP, -1, d, id, &none, &err);
	tap_ok(r < 0 && err && err->code == BERTH_E_UNSUPPORTED,
	       "an overlay redirect is refused as unsupported");
	tap_ok(err && strstr(err->msg, "'d'") && strstr(err->msg, "redirect_dir=off"),
	       "the error names the dir and the fix");
	if (err)
		tap_diag("message", err->msg);
	berth_err_free(err);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (devices, owners, trusted.* xattrs)\n");
		return 0;
	}
	fixture_init("layers");
	test_compression_of();
	test_basic();
	test_xattrs();
	test_whiteouts();
	test_duplicates();
	test_compressions();
	test_broken_streams();
	test_round_trip();
	test_determinism();
	struct berth_err *err = NULL;
	if (fixture_cleanup(&err) < 0)
		printf("# cleanup: %s\n", err->msg);
	berth_err_free(err);
	return tap_done();
}
