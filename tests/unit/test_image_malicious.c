/* Malicious layers: every entry, symlink, hardlink and whiteout that tries to
 * reach outside the layer root must be refused or land inside it. The root is
 * <tmp>/root; after each case <tmp> holds nothing else, a victim directory
 * elsewhere is untouched and no host path was created. Runs as root. */
#include "image/image.h"
#include "fixture.h"
#include "tap.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static char victim_dir[] = "/tmp/berth-test-victim-XXXXXX";
static char uniq[64]; /* a name no host path has */
static int rootfd = -1;

/* Strings made for this run, freed at exit (a few hundred). */
static struct berth_strv pool = BERTH_STRV_INIT;

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *s = berth_xvasprintf(f, ap);
	va_end(ap);
	berth_strv_push_owned(&pool, s);
	return s;
}

/* ------------------------------------------------------------ tar making */

struct ent {
	const char *name;
	char type; /* 'f' file, 'd' dir, 'l' symlink, 'h' hardlink, 'p' fifo */
	const char *data;
	unsigned mode;
	long mtime;
};

#define F(n, d)                                                     \
	{                                                           \
		.name = (n), .type = 'f', .data = (d), .mode = 0644 \
	}
#define D(n, m)                                                   \
	{                                                         \
		.name = (n), .type = 'd', .mode = (m), .mtime = 5 \
	}
#define L(n, t)                                                     \
	{                                                           \
		.name = (n), .type = 'l', .data = (t), .mode = 0777 \
	}
#define H(n, t)                                       \
	{                                             \
		.name = (n), .type = 'h', .data = (t) \
	}
#define P(n)                                           \
	{                                              \
		.name = (n), .type = 'p', .mode = 0600 \
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
	fixture_must(archive_write_open(a, out, NULL, buf_write_cb, NULL) == ARCHIVE_OK,
		     "tar open");
	struct archive_entry *e = archive_entry_new();
	for (size_t i = 0; i < n; i++) {
		const struct ent *x = &ents[i];
		archive_entry_clear(e);
		archive_entry_set_pathname(e, x->name);
		archive_entry_set_mtime(e, x->mtime, 0);
		archive_entry_set_perm(e, x->mode ? x->mode : 0644);
		switch (x->type) {
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, x->data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, x->data);
			break;
		case 'p':
			archive_entry_set_filetype(e, AE_IFIFO);
			break;
		default:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)strlen(x->data));
			break;
		}
		fixture_must(archive_write_header(a, e) == ARCHIVE_OK, x->name);
		if (x->type == 'f')
			archive_write_data(a, x->data, strlen(x->data));
	}
	archive_entry_free(e);
	fixture_must(archive_write_close(a) == ARCHIVE_OK, "tar close");
	archive_write_free(a);
}

struct applied {
	int rc;
	enum berth_err_code code;
	char msg[512];
};

static struct applied apply(const struct ent *ents, size_t n, bool overlay)
{
	_cleanup_buf_ struct berth_buf tar;
	build_tar(ents, n, &tar);
	struct applied out = {0};
	struct berth_err *err = NULL;
	struct berth_layer_reader *r = NULL;
	struct berth_apply_opts opts = {.keep_owners = true, .overlay_whiteouts = overlay};
	int fd = memfd_create("blob", MFD_CLOEXEC);
	fixture_must(fd >= 0 && write(fd, tar.data, tar.len) == (ssize_t)tar.len &&
			 lseek(fd, 0, SEEK_SET) == 0,
		     "memfd");
	out.rc = berth_layer_reader_new(fd, -1, &r, &err);
	if (out.rc == 0)
		out.rc = berth_layer_apply(r, rootfd, &opts, &err);
	if (err) {
		snprintf(out.msg, sizeof(out.msg), "%s", err->msg);
		out.code = err->code;
	}
	berth_err_free(err);
	berth_layer_reader_free(r);
	close(fd);
	return out;
}

/* ---------------------------------------------------------- containment */

static char *dir_names(const char *path)
{
	static char out[1024];
	DIR *d = opendir(path);
	fixture_must(d != NULL, path);
	size_t len = 0;
	out[0] = '\0';
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s",
						len ? "," : "", de->d_name);
	closedir(d);
	return out;
}

static struct stat victim_dir_st;

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static bool inside(const char *rel, mode_t type)
{
	struct stat st;
	return fstatat(rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == type;
}

static const char *victim_content(void)
{
	static char buf[64];
	int fd = open(fmt("%s/victim", victim_dir), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return "<gone>";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	close(fd);
	return buf;
}

/* The invariants of every case, then a fresh root for the next. */
static void contained(const char *label)
{
	tap_is_str(dir_names(fixture_dir), "root", "%s: nothing beside the root", label);
	tap_is_str(dir_names(victim_dir), "victim", "%s: the victim dir is as it was", label);
	tap_is_str(victim_content(), "precious", "%s: the victim file is intact", label);
	struct stat st;
	fixture_must(stat(victim_dir, &st) == 0, "stat victim dir");
	tap_ok(st.st_mode == victim_dir_st.st_mode && st.st_mtime == victim_dir_st.st_mtime &&
		   st.st_uid == victim_dir_st.st_uid,
	       "%s: the victim dir's mode, owner and mtime are as they were", label);
	char v;
	tap_ok(getxattr(victim_dir, "trusted.overlay.opaque", &v, 1) < 0,
	       "%s: the victim dir is not made opaque", label);
	tap_ok(!exists(fmt("/%s", uniq)) && !exists(fmt("/etc/%s", uniq)) &&
		   !exists(fmt("/tmp/%s", uniq)),
	       "%s: no host path '/%s', '/etc/%s' or '/tmp/%s'", label, uniq, uniq, uniq);

	close(rootfd);
	struct berth_err *err = NULL;
	fixture_must(berth_fs_remove_tree(AT_FDCWD, fmt("%s/root", fixture_dir), &err) == 0,
		     "remove root");
	fixture_must(mkdir(fmt("%s/root", fixture_dir), 0755) == 0, "mkdir root");
	rootfd = open(fmt("%s/root", fixture_dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fixture_must(rootfd >= 0, "open root");
}

static void refused(const char *label, struct applied a, enum berth_err_code code,
		    const char *needle)
{
	tap_ok(a.rc < 0 && a.code == code, "%s: refused as %s", label, berth_err_code_name(code));
	if (needle) {
		tap_ok(strstr(a.msg, needle) != NULL, "%s: the message says '%s'", label, needle);
	}
	tap_diag("message", a.msg);
}

static void applied_ok(const char *label, struct applied a)
{
	tap_is_int(a.rc, 0, "%s: applied, contained", label);
	if (a.rc)
		tap_diag("error", a.msg);
}

/* ------------------------------------------------------------------ cases */

static void test_dotdot(void)
{
	static const char *const names[] = {
	    "../escape", "a/../../escape", "..",
	    "./../x",    "a/b/../../../x", "/../../x/../../y/../.."};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(names); i++) {
		struct ent e[] = {F(names[i], "x")};
		char *label = fmt("'%s'", names[i]);
		struct applied a = apply(e, 1, true);
		refused(label, a, BERTH_E_INVALID,
			fmt("layer entry '%s' escapes the layer root", names[i]));
		contained(label);
	}

	struct ent ok[] = {F("a/../b", "b"), F("/./c/./d", "d"), D("e/../e/./", 0755)};
	struct applied a = apply(ok, 3, true);
	applied_ok("'a/../b', '/./c/./d' and 'e/../e/./'", a);
	tap_ok(inside("b", S_IFREG) && inside("c/d", S_IFREG) && inside("e", S_IFDIR),
	       "'a/../b' -> b, '/./c/./d' -> c/d, 'e/../e/./' -> e");
	contained("'a/../b'");
}

static void test_absolute(void)
{
	struct ent e[] = {F(fmt("/etc/%s", uniq), "inside"), F(fmt("//%s", uniq), "x")};
	struct applied a = apply(e, 2, true);
	applied_ok("absolute names", a);
	tap_ok(inside(fmt("etc/%s", uniq), S_IFREG) && inside(uniq, S_IFREG),
	       "absolute names land inside the root");
	contained("absolute names");
}

static void test_symlink_parents(void)
{
	struct ent root_link[] = {L("evil", "/"), F(fmt("evil/etc/%s", uniq), "x")};
	struct applied a = apply(root_link, 2, true);
	applied_ok("'evil -> /' then 'evil/etc/x'", a);
	tap_ok(inside(fmt("etc/%s", uniq), S_IFREG), "'evil/etc/x' landed at root/etc/x");
	contained("'evil -> /'");

	struct ent up_link[] = {L("evil", "../../.."), F(fmt("evil/%s", uniq), "x"),
				P(fmt("evil/%s.fifo", uniq))};
	a = apply(up_link, 3, true);
	applied_ok("'evil -> ../../..' then a write through it", a);
	tap_ok(inside(uniq, S_IFREG) && inside(fmt("%s.fifo", uniq), S_IFIFO),
	       "writes through '../../..' landed at the root");
	contained("'evil -> ../../..'");

	struct ent host_link[] = {L("out", fixture_dir), F(fmt("out/%s", uniq), "x"),
				  L("v", victim_dir), F("v/victim", "pwned"), D("v/sub/", 0777)};
	a = apply(host_link, 5, true);
	tap_ok(a.rc == 0 || a.rc < 0, "symlinks to absolute host dirs: applied or refused");
	tap_diag("result", a.rc ? a.msg : "applied");
	if (a.rc == 0)
		tap_ok(inside(fmt("%s/%s", fixture_dir + 1, uniq), S_IFREG) &&
			   inside(fmt("%s/victim", victim_dir + 1), S_IFREG),
		       "writes through absolute links landed under the root");
	contained("links to host dirs");

	struct ent chain[] = {L("a", "b"), L("b", "/.."), L("c", "a/../../.."),
			      F(fmt("a/%s", uniq), "x"), F(fmt("c/%s.2", uniq), "y")};
	a = apply(chain, 5, true);
	applied_ok("symlink chains", a);
	tap_ok(inside(uniq, S_IFREG) && inside(fmt("%s.2", uniq), S_IFREG),
	       "writes through symlink chains landed at the root");
	contained("symlink chains");
}

static void test_replace_dir_with_symlink(void)
{
	struct ent e[] = {D("d/", 0755), F("d/f", "f"), L("d", fixture_dir),
			  F(fmt("d/%s", uniq), "x")};
	struct applied a = apply(e, 4, true);
	tap_ok(a.rc == 0 || a.code == BERTH_E_SYS,
	       "a symlink replacing a dir, then a write below it: contained or refused");
	tap_diag("result", a.rc ? a.msg : "applied");
	tap_ok(inside("d", S_IFLNK), "'d' is the symlink now");
	contained("symlink replacing a dir");

	struct ent up[] = {D("d/", 0755), F("d/f", "f"), L("d", "../../../.."),
			   F(fmt("d/%s", uniq), "x")};
	a = apply(up, 4, true);
	applied_ok("a '../..' symlink replacing a dir, then a write below it", a);
	tap_ok(inside(uniq, S_IFREG), "the write landed at the root");
	contained("'../..' symlink replacing a dir");

	/* The directory's mode and mtime are set after the layer; by then the
	 * path names a symlink to a host dir, which must not get them. */
	struct ent late[] = {D("late/", 0777), L("late", victim_dir)};
	a = apply(late, 2, true);
	applied_ok("a dir replaced by a link to a host dir", a);
	contained("deferred dir attributes");

	struct ent over[] = {L("s", victim_dir), D("s/", 0700)};
	a = apply(over, 2, true);
	applied_ok("a dir entry over a symlink to a host dir", a);
	tap_ok(inside("s", S_IFDIR), "the symlink was replaced by a dir");
	contained("dir over a symlink");
}

static void test_final_symlink(void)
{
	struct ent e[] = {L("s", fmt("%s/victim", victim_dir)), F("s", "pwned"),
			  L("t", fmt("%s/victim", victim_dir)), P("t")};
	struct applied a = apply(e, 4, true);
	applied_ok("a file over a symlink to a host file", a);
	tap_ok(inside("s", S_IFREG) && inside("t", S_IFIFO), "the links were replaced");
	contained("file over a symlink");
}

static void test_hardlinks(void)
{
	struct stat host_passwd, st;
	bool have_passwd = stat("/etc/passwd", &host_passwd) == 0;

	struct ent up[] = {H("h", "../../etc/passwd")};
	struct applied a = apply(up, 1, true);
	refused("hardlink to '../../etc/passwd'", a, BERTH_E_INVALID, "escapes the layer root");
	contained("hardlink to '../../etc/passwd'");

	struct ent abs[] = {H("h", "/etc/passwd")};
	a = apply(abs, 1, true);
	tap_ok(a.rc < 0, "hardlink to '/etc/passwd' with none in the layer: refused");
	tap_diag("message", a.msg);
	contained("hardlink to an absolute path");

	struct ent abs_inside[] = {F("etc/passwd", "inside"), H("h", "/etc/passwd")};
	a = apply(abs_inside, 2, true);
	applied_ok("hardlink to '/etc/passwd' with one in the layer", a);
	tap_ok(fstatat(rootfd, "h", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink == 2 &&
		   (!have_passwd || st.st_ino != host_passwd.st_ino),
	       "it links the layer's own file");
	contained("hardlink resolved inside");

	struct ent via_link[] = {L("up", "../../../../"), H("h", "up/etc/passwd"),
				 L("host", fixture_dir), H("h2", fmt("host/%s", uniq))};
	a = apply(via_link, 4, true);
	tap_ok(a.rc < 0, "hardlink through a symlink to outside: refused (no such file inside)");
	tap_diag("message", a.msg);
	contained("hardlink through a symlink");

	struct ent to_link[] = {L("s", "/etc/passwd"), H("h", "s")};
	a = apply(to_link, 2, true);
	applied_ok("hardlink to a symlink that points at a host file", a);
	tap_ok(inside("h", S_IFLNK), "the hardlink is the symlink itself");
	struct stat after;
	tap_ok(!have_passwd ||
		   (stat("/etc/passwd", &after) == 0 && after.st_nlink == host_passwd.st_nlink),
	       "the host's /etc/passwd gained no link");
	contained("hardlink to a symlink");

	struct ent write_through[] = {F("etc/shadow", "orig"), H("h", "etc/shadow"),
				      F("h", "overwritten")};
	a = apply(write_through, 3, true);
	applied_ok("a file entry over a hardlink", a);
	char buf[32] = {0};
	int fd = openat(rootfd, "etc/shadow", O_RDONLY | O_CLOEXEC);
	tap_ok(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 4 && strcmp(buf, "orig") == 0,
	       "the hardlink was replaced, not written through");
	if (fd >= 0)
		close(fd);
	contained("file over a hardlink");

	struct ent named_through[] = {F("f", "data"), L("evil", "/"), L("up", "../../.."),
				      H(fmt("evil/etc/%s", uniq), "f"), H(fmt("up/%s", uniq), "f")};
	a = apply(named_through, 5, true);
	applied_ok("hardlinks named through symlinks to '/' and '../../..'", a);
	tap_ok(fstatat(rootfd, fmt("etc/%s", uniq), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		   st.st_nlink == 3 && inside(uniq, S_IFREG),
	       "both links landed inside the root");
	contained("hardlinks named through symlinks");

	struct ent self[] = {F("x", "x"), H("x", "x")};
	a = apply(self, 2, true);
	refused("a hardlink to itself", a, BERTH_E_INVALID, "links to itself");
	contained("hardlink to itself");
}

static void test_whiteouts(void)
{
	static const char *const bad[] = {".wh...",   ".wh..",         ".wh.",           "a/.wh...",
					  "../.wh.x", "a/../../.wh.x", "../.wh..wh..opq"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++) {
		for (int overlay = 0; overlay < 2; overlay++) {
			struct ent e[] = {F(bad[i], "")};
			char *label =
			    fmt("whiteout '%s' (%s)", bad[i], overlay ? "overlay" : "plain");
			struct applied a = apply(e, 1, overlay);
			refused(label, a, BERTH_E_INVALID, fmt("'%s'", bad[i]));
			contained(label);
		}
	}

	for (int overlay = 0; overlay < 2; overlay++) {
		const char *mode = overlay ? "overlay" : "plain";
		struct ent e[] = {L("evil", victim_dir), F("evil/.wh.victim", ""),
				  F("evil/.wh..wh..opq", "")};
		struct applied a = apply(e, 3, overlay);
		/* The link dangles inside the root: nothing to resolve to. */
		refused(fmt("whiteouts through a symlink to a host dir (%s)", mode), a, BERTH_E_SYS,
			"'evil'");
		contained(fmt("whiteouts through a symlink (%s)", mode));

		struct ent up[] = {D("tmp/", 0755),          F("tmp/x", "x"),
				   L("evil", "../../../.."), F(fmt("evil/.wh.%s", uniq), ""),
				   L("t", "/tmp"),           F("t/.wh..wh..opq", ""),
				   F("t/.wh.x", "")};
		a = apply(up, 7, overlay);
		applied_ok(fmt("whiteouts through '../..' and '/tmp' (%s)", mode), a);
		tap_ok(overlay ? inside("tmp/x", S_IFCHR) : !inside("tmp/x", S_IFREG),
		       "the whiteout through '/tmp' applied to the root's 'tmp/x' (%s)", mode);
		contained(fmt("whiteouts through '../..' (%s)", mode));
	}
}

static void test_long_paths(void)
{
	struct berth_buf p;
	berth_buf_init(&p, BERTH_BUF_UNLIMITED);
	while (p.len <= BERTH_LAYER_PATH_MAX)
		berth_buf_addstr(&p, "dir/");
	berth_buf_addstr(&p, "file");
	struct ent e[] = {F(p.data, "x")};
	struct applied a = apply(e, 1, true);
	refused("a path over BERTH_LAYER_PATH_MAX", a, BERTH_E_LIMIT, "longer than 4096");
	contained("over-long path");

	berth_buf_reset(&p);
	for (int i = 0; i < 300; i++)
		berth_buf_addch(&p, 'n');
	struct ent name[] = {F(p.data, "x")};
	a = apply(name, 1, true);
	tap_ok(a.rc < 0, "a 300-byte name is refused (by the kernel)");
	tap_diag("message", a.msg);
	contained("over-long name");

	struct ent link[] = {L("l", p.data), H("h", p.data)};
	a = apply(link, 2, true);
	tap_ok(a.rc < 0, "a hardlink to an over-long name is refused");
	contained("over-long link target");
	berth_buf_release(&p);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (devices, owners, trusted.* xattrs)\n");
		return 0;
	}
	snprintf(uniq, sizeof(uniq), "berth-malicious-%d", (int)getpid());
	fixture_init("malicious");
	fixture_must(mkdtemp(victim_dir) != NULL, "mkdtemp");
	fixture_must(mkdir(fmt("%s/root", fixture_dir), 0755) == 0, "mkdir root");
	rootfd = open(fmt("%s/root", fixture_dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fixture_must(rootfd >= 0, "open root");
	int v = open(fmt("%s/victim", victim_dir), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	fixture_must(v >= 0 && write(v, "precious", 8) == 8, "victim");
	close(v);
	struct timespec ts[2] = {{1000, 0}, {1000, 0}};
	fixture_must(utimensat(AT_FDCWD, victim_dir, ts, 0) == 0 && chmod(victim_dir, 0750) == 0,
		     "victim dir");
	fixture_must(stat(victim_dir, &victim_dir_st) == 0, "stat victim dir");

	test_dotdot();
	test_absolute();
	test_symlink_parents();
	test_replace_dir_with_symlink();
	test_final_symlink();
	test_hardlinks();
	test_whiteouts();
	test_long_paths();

	close(rootfd);
	struct berth_err *err = NULL;
	if (fixture_cleanup(&err) < 0 || berth_fs_remove_tree(AT_FDCWD, victim_dir, &err) < 0)
		printf("# cleanup: %s\n", err->msg);
	berth_err_free(err);
	berth_strv_release(&pool);
	return tap_done();
}
