/* Unit tests for common/fs: resolution beneath a root (through openat2 and
 * through the fallback walk) must contain every escape, atomic writes leave no
 * temp files, and remove_tree never follows a symlink out of the tree. */
#include "common/common.h"
#include "fixture.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The fallback resolver in fs.c; returns an fd or -errno. */
int berth__fs_open_beneath_walk(int rootfd, const char *path, int flags, mode_t mode);

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Up to 255 bytes of fd's content, or "<errno name>" when the fd is an error. */
static const char *fd_content(int fd)
{
	static char buf[256];
	if (fd < 0) {
		snprintf(buf, sizeof(buf), "<%s>", strerrorname_np(-fd));
		return buf;
	}
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n < 0 ? 0 : n] = '\0';
	close(fd);
	return buf;
}

/* Sorted, comma-joined names in a directory. */
static char *dir_names(const char *path)
{
	static char out[1024];
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	DIR *d = opendir(path);
	fixture_must(d != NULL, path);
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
	out[0] = '\0';
	size_t len = 0;
	for (size_t i = 0; i < names.n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "",
					names.v[i]);
	return out;
}

/* Build fixture_dir/root, a small image-like tree full of escape attempts, and
 * fixture_dir/outside, which nothing may reach through the root. */
static void make_fixture(void)
{
	fixture_init("fs");
	fixture_put_dir(fixture_path("outside"));
	fixture_put_file(fixture_path("outside/secret"), "host-secret");
	fixture_put_dir(fixture_path("root"));
	fixture_put_dir(fixture_path("root/etc"));
	fixture_put_file(fixture_path("root/etc/passwd"), "inside-passwd");
	fixture_put_dir(fixture_path("root/outside"));
	fixture_put_file(fixture_path("root/outside/secret"), "inside-secret");
	fixture_put_file(fixture_path("root/file"), "f");
	fixture_put_link("/etc", fixture_path("root/abs"));
	fixture_put_dir(fixture_path("root/sub"));
	fixture_put_link("../../../../outside", fixture_path("root/sub/up"));
	fixture_put_link("..", fixture_path("root/dotdot"));
	fixture_put_link("loop2", fixture_path("root/loop1"));
	fixture_put_link("loop1", fixture_path("root/loop2"));
	fixture_put_link(fixture_path("outside"), fixture_path("root/hostabs"));
	fixture_put_link("../../../../../made-by-berth-test", fixture_path("root/dangle"));
}

struct resolver {
	const char *name;
	int (*open)(int rootfd, const char *path, int flags, mode_t mode);
};

static int open_public(int rootfd, const char *path, int flags, mode_t mode)
{
	struct berth_err *e = NULL;
	int fd = berth_fs_open_beneath(rootfd, path, flags, mode, &e);
	if (fd < 0) {
		fd = e->code == BERTH_E_SYS ? -e->sys_errno : -EINVAL;
		berth_err_free(e);
	}
	return fd;
}

static const struct resolver resolvers[] = {
    {"openat2", open_public},
    {"walk", berth__fs_open_beneath_walk},
};

static void test_beneath(const struct resolver *rs, int rootfd)
{
	static const struct {
		const char *path, *want;
	} cases[] = {
	    {"etc/passwd", "inside-passwd"},
	    {"/etc/passwd", "inside-passwd"},
	    {"../../etc/passwd", "inside-passwd"},
	    {"/../../../etc/passwd", "inside-passwd"},
	    {"sub/../etc/./passwd", "inside-passwd"},
	    {"abs/passwd", "inside-passwd"},
	    {"sub/up/secret", "inside-secret"},
	    {"dotdot/dotdot/etc/passwd", "inside-passwd"},
	    {"hostabs/secret", "<ENOENT>"},
	    {"loop1", "<ELOOP>"},
	    {"loop1/x", "<ELOOP>"},
	    {"file/x", "<ENOTDIR>"},
	    {"etc/passwd/", "<ENOTDIR>"},
	    {"missing", "<ENOENT>"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		int fd = rs->open(rootfd, cases[i].path, O_RDONLY, 0);
		tap_is_str(fd_content(fd), cases[i].want, "%s: '%s' stays in the root", rs->name,
			   cases[i].path);
	}

	struct stat st_root, st;
	fixture_must(fstat(rootfd, &st_root) == 0, "fstat root");
	static const char *const root_paths[] = {"/", ".", "..", "sub/..", "dotdot", "etc/../"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(root_paths); i++) {
		int fd = rs->open(rootfd, root_paths[i], O_RDONLY | O_DIRECTORY, 0);
		bool same = fd >= 0 && fstat(fd, &st) == 0 && st.st_ino == st_root.st_ino &&
			    st.st_dev == st_root.st_dev;
		tap_ok(same, "%s: '%s' is the root itself", rs->name, root_paths[i]);
		if (fd >= 0)
			close(fd);
	}

	/* The last component's symlink, not followed. */
	int fd = rs->open(rootfd, "abs", O_RDONLY | O_NOFOLLOW, 0);
	tap_is_str(fd_content(fd), "<ELOOP>", "%s: O_NOFOLLOW on a symlink is ELOOP", rs->name);
	fd = rs->open(rootfd, "abs", O_PATH | O_NOFOLLOW, 0);
	tap_ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode),
	       "%s: O_PATH|O_NOFOLLOW opens the link itself", rs->name);
	if (fd >= 0)
		close(fd);
	fd = rs->open(rootfd, "abs", O_PATH, 0);
	tap_ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode),
	       "%s: O_PATH follows a final symlink into the root", rs->name);
	if (fd >= 0)
		close(fd);

	/* Creating through links: the host side must stay untouched. */
	fd = rs->open(rootfd, "hostabs/created", O_WRONLY | O_CREAT, 0644);
	tap_is_str(fd_content(fd), "<ENOENT>", "%s: create through an absolute host link fails",
		   rs->name);
	tap_ok(!exists(fixture_path("outside/created")), "%s: nothing created outside", rs->name);

	fd = rs->open(rootfd, "dangle", O_WRONLY | O_CREAT, 0644);
	tap_ok(fd >= 0, "%s: create through a dangling climbing link", rs->name);
	if (fd >= 0)
		close(fd);
	tap_ok(exists(fixture_path("root/made-by-berth-test")),
	       "%s: the file is made inside the root", rs->name);
	tap_ok(!exists("/made-by-berth-test") && !exists(fixture_path("made-by-berth-test")),
	       "%s: and not outside", rs->name);
	unlink("/made-by-berth-test");
	unlink(fixture_path("root/made-by-berth-test"));

	fd = rs->open(rootfd, "dangle", O_WRONLY | O_CREAT | O_EXCL, 0644);
	tap_is_str(fd_content(fd), "<EEXIST>", "%s: O_EXCL never follows a link", rs->name);
	tap_ok(!exists(fixture_path("root/made-by-berth-test")), "%s: so nothing is created",
	       rs->name);
}

static void test_open_errors(int rootfd)
{
	struct berth_err *e = NULL;
	int fd = berth_fs_open_beneath(rootfd, "etc/missing", O_RDONLY, 0, &e);
	tap_is_int(fd, -BERTH_E_SYS, "open missing returns -BERTH_E_SYS");
	tap_is_str(e ? e->msg : NULL, "open 'etc/missing': No such file or directory",
		   "open missing: message");
	tap_is_int(e ? e->sys_errno : 0, ENOENT, "open missing: sys_errno");
	berth_err_free(e);
	e = NULL;

	fd = berth_fs_open_beneath(rootfd, "loop1", O_RDONLY, 0, &e);
	tap_is_int(e ? e->sys_errno : 0, ELOOP, "symlink loop is ELOOP");
	tap_is_str(e ? e->msg : NULL, "open 'loop1': Too many levels of symbolic links",
		   "symlink loop: message");
	berth_err_free(e);
	e = NULL;

	fd = berth_fs_open_beneath(rootfd, "", O_RDONLY, 0, &e);
	tap_is_int(e ? e->code : 0, BERTH_E_INVALID, "empty path is invalid");
	berth_err_free(e);

	fd = berth_fs_open_beneath(rootfd, "etc/passwd", O_RDONLY, 0, NULL);
	tap_ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "the fd is close-on-exec");
	if (fd >= 0)
		close(fd);
}

static void test_mkdir_beneath(int rootfd)
{
	struct berth_err *e = NULL;
	struct stat st;
	int r = berth_fs_mkdir_beneath(rootfd, "/new/a//b/", 0755, &e);
	tap_is_int(r, 0, "mkdir_beneath nested");
	tap_ok(stat(fixture_path("root/new/a/b"), &st) == 0 && S_ISDIR(st.st_mode),
	       "nested dirs exist");
	berth_err_free(e);
	e = NULL;

	r = berth_fs_mkdir_beneath(rootfd, "new/a/b", 0755, &e);
	tap_is_int(r, 0, "mkdir_beneath on existing dirs is fine");
	berth_err_free(e);
	e = NULL;

	r = berth_fs_mkdir_beneath(rootfd, "../../../esc1/x", 0755, &e);
	tap_is_int(r, 0, "mkdir_beneath with leading ..");
	tap_ok(exists(fixture_path("root/esc1/x")) && !exists(fixture_path("esc1")),
	       "made inside the root");
	berth_err_free(e);
	e = NULL;

	r = berth_fs_mkdir_beneath(rootfd, "sub/up/made", 0755, &e);
	tap_is_int(r, 0, "mkdir_beneath through a climbing symlink");
	tap_ok(exists(fixture_path("root/outside/made")) && !exists(fixture_path("outside/made")),
	       "made under the root's own 'outside'");
	berth_err_free(e);
	e = NULL;

	r = berth_fs_mkdir_beneath(rootfd, "abs/made", 0755, &e);
	tap_is_int(r, 0, "mkdir_beneath through an absolute symlink");
	tap_ok(exists(fixture_path("root/etc/made")) && !exists("/etc/made"),
	       "made in the root's /etc");
	berth_err_free(e);
	e = NULL;

	r = berth_fs_mkdir_beneath(rootfd, "hostabs/made", 0755, &e);
	tap_ok(r < 0, "mkdir_beneath through a link to a host path fails");
	tap_ok(!exists(fixture_path("outside/made")), "and makes nothing on the host");
	tap_is_str(e ? e->msg : NULL, "create directory 'hostabs': No such file or directory",
		   "mkdir_beneath dangling: message");
	berth_err_free(e);
	e = NULL;

	r = berth_fs_mkdir_beneath(rootfd, "file/x", 0755, &e);
	tap_is_int(e ? e->sys_errno : 0, ENOTDIR, "mkdir_beneath under a file is ENOTDIR");
	berth_err_free(e);
}

static void test_write_atomic(void)
{
	fixture_put_dir(fixture_path("w"));
	int dfd = open(fixture_path("w"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fixture_must(dfd >= 0, "open w");
	struct berth_err *e = NULL;
	struct stat st;

	int r = berth_fs_write_atomic(dfd, "cfg", "one", 3, 0600, &e);
	tap_is_int(r, 0, "write_atomic creates");
	r = berth_fs_write_atomic(dfd, "cfg", "second", 6, 0600, &e);
	tap_is_int(r, 0, "write_atomic replaces");
	tap_is_str(fd_content(openat(dfd, "cfg", O_RDONLY)), "second", "new content in place");
	tap_ok(stat(fixture_path("w/cfg"), &st) == 0 && (st.st_mode & 0777) == 0600,
	       "mode is applied");
	tap_is_str(dir_names(fixture_path("w")), "cfg", "no temp file left after success");

	r = berth_fs_write_atomic(dfd, "nodir/file", "x", 1, 0644, &e);
	tap_is_int(r, -BERTH_E_SYS, "write into a missing directory fails");
	tap_is_str(e ? e->msg : NULL,
		   "write 'nodir/file': open directory 'nodir': No such file or directory",
		   "missing directory: message");
	berth_err_free(e);
	e = NULL;

	fixture_put_dir(fixture_path("w/sub"));
	r = berth_fs_write_atomic(dfd, "sub", "x", 1, 0644, &e);
	tap_is_int(e ? e->sys_errno : 0, EISDIR, "rename over a directory fails");
	tap_is_str(dir_names(fixture_path("w")), "cfg,sub", "the temp file is removed on failure");
	berth_err_free(e);
	e = NULL;

	r = berth_fs_write_atomic(dfd, "sub/inner", "in", 2, 0644, &e);
	tap_is_int(r, 0, "write_atomic into a subdirectory");
	tap_is_str(dir_names(fixture_path("w/sub")), "inner",
		   "only the target in the subdirectory");

	r = berth_fs_write_atomic(AT_FDCWD, fixture_path("w/abs"), "", 0, 0644, &e);
	tap_is_int(r, 0, "write_atomic with AT_FDCWD and an empty file");
	tap_ok(stat(fixture_path("w/abs"), &st) == 0 && st.st_size == 0, "empty file written");

	r = berth_fs_write_atomic(dfd, "sub/", "x", 1, 0644, &e);
	tap_is_int(e ? e->code : 0, BERTH_E_INVALID, "a name ending in '/' is invalid");
	berth_err_free(e);
	close(dfd);
}

static void test_read_file(void)
{
	struct berth_err *e = NULL;
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&b, "x:");

	char cfg[4096];
	snprintf(cfg, sizeof(cfg), "%s",
		 fixture_path("w/cfg")); /* fixture_path() reuses its buffers */
	int r = berth_fs_read_file(cfg, 6, &b, &e);
	tap_is_int(r, 0, "read_file at exactly the cap");
	tap_is_str(b.data, "x:second", "read_file appends");

	berth_buf_reset(&b);
	berth_buf_addstr(&b, "x:");
	r = berth_fs_read_file(cfg, 5, &b, &e);
	tap_is_int(r, -BERTH_E_LIMIT, "read_file over the cap is BERTH_E_LIMIT");
	char want[4200];
	snprintf(want, sizeof(want), "file '%s' is larger than the limit of 5 bytes", cfg);
	tap_is_str(e ? e->msg : NULL, want, "over the cap: message");
	tap_is_str(b.data, "x:", "nothing appended on failure");
	tap_is_int(b.len, 2, "length restored on failure");
	berth_err_free(e);
	e = NULL;

	/* A buffer's own cap counts too. */
	struct berth_buf small;
	berth_buf_init(&small, 4);
	r = berth_fs_read_file(cfg, 100, &small, &e);
	tap_is_int(r, -BERTH_E_LIMIT, "read_file into a smaller buffer is BERTH_E_LIMIT");
	berth_buf_release(&small);
	berth_err_free(e);
	e = NULL;

	r = berth_fs_read_file(fixture_path("w/missing"), 100, &b, &e);
	snprintf(want, sizeof(want), "read '%s': No such file or directory",
		 fixture_path("w/missing"));
	tap_is_str(e ? e->msg : NULL, want, "missing file: message");
	tap_is_int(e ? e->sys_errno : 0, ENOENT, "missing file: sys_errno");
	berth_err_free(e);
	e = NULL;

	/* Bigger than one read chunk. */
	static char big[200000];
	memset(big, 'z', sizeof(big));
	fixture_must(berth_fs_write_atomic(AT_FDCWD, fixture_path("w/big"), big, sizeof(big), 0644,
					   NULL) == 0,
		     "write big");
	berth_buf_reset(&b);
	r = berth_fs_read_file(fixture_path("w/big"), sizeof(big), &b, &e);
	tap_ok(r == 0 && b.len == sizeof(big) && memcmp(b.data, big, sizeof(big)) == 0,
	       "read_file of a multi-chunk file");
	berth_buf_reset(&b);
	r = berth_fs_read_file(fixture_path("w/big"), sizeof(big) - 1, &b, &e);
	tap_ok(r == -BERTH_E_LIMIT && b.len == 0, "multi-chunk file one byte over the cap");
	berth_err_free(e);
	e = NULL;

	/* "-" is standard input. */
	int saved = dup(STDIN_FILENO);
	int in = open(cfg, O_RDONLY);
	fixture_must(saved >= 0 && in >= 0 && dup2(in, STDIN_FILENO) == 0, "redirect stdin");
	close(in);
	berth_buf_reset(&b);
	r = berth_fs_read_file("-", 100, &b, &e);
	tap_is_str(r == 0 ? b.data : NULL, "second", "read_file '-' reads standard input");
	tap_ok(fcntl(STDIN_FILENO, F_GETFD) >= 0, "standard input is left open");
	fixture_must(dup2(saved, STDIN_FILENO) == 0, "restore stdin");
	close(saved);
	berth_err_free(e);
}

static void test_mkdir_p(void)
{
	struct berth_err *e = NULL;
	struct stat st;
	int r = berth_fs_mkdir_p(fixture_path("p/a//b/c/"), 0755, &e);
	tap_is_int(r, 0, "mkdir_p nested");
	tap_ok(stat(fixture_path("p/a/b/c"), &st) == 0 && S_ISDIR(st.st_mode), "mkdir_p made them");
	r = berth_fs_mkdir_p(fixture_path("p/a/b/c"), 0755, &e);
	tap_is_int(r, 0, "mkdir_p again is fine");

	r = berth_fs_mkdir_p(fixture_path("w/cfg"), 0755, &e);
	tap_is_int(e ? e->sys_errno : 0, ENOTDIR, "mkdir_p onto a file is ENOTDIR");
	berth_err_free(e);
	e = NULL;
	r = berth_fs_mkdir_p(fixture_path("w/cfg/x"), 0755, &e);
	tap_is_int(e ? e->sys_errno : 0, ENOTDIR, "mkdir_p under a file is ENOTDIR");
	berth_err_free(e);
}

static void test_remove_tree(void)
{
	fixture_put_dir(fixture_path("rm"));
	fixture_put_dir(fixture_path("rm/tree"));
	fixture_must(berth_fs_mkdir_p(fixture_path("rm/tree/a/b/c"), 0755, NULL) == 0,
		     "mkdir tree");
	fixture_put_file(fixture_path("rm/tree/a/b/c/file"), "1");
	fixture_put_file(fixture_path("rm/tree/a/file2"), "2");
	fixture_put_dir(fixture_path("rm/tree/empty"));
	fixture_put_dir(fixture_path("rm/tree/locked"));
	fixture_put_file(fixture_path("rm/tree/locked/f"), "3");
	fixture_must(chmod(fixture_path("rm/tree/locked"), 0500) == 0, "chmod");
	fixture_put_link(fixture_path("outside"), fixture_path("rm/tree/link-abs"));
	fixture_put_link("../../outside", fixture_path("rm/tree/a/link-rel"));
	fixture_put_link("/nonexistent", fixture_path("rm/tree/dangling"));

	int dfd = open(fixture_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fixture_must(dfd >= 0, "open fixture_dir");
	struct berth_err *e = NULL;
	int r = berth_fs_remove_tree(dfd, "rm/tree", &e);
	tap_is_int(r, 0, "remove_tree of a tree with links");
	tap_is_str(e ? e->msg : NULL, NULL, "remove_tree: no error");
	tap_ok(!exists(fixture_path("rm/tree")), "the tree is gone");
	tap_is_str(fd_content(open(fixture_path("outside/secret"), O_RDONLY)), "host-secret",
		   "the link targets outside are untouched");
	tap_is_str(dir_names(fixture_path("outside")), "secret", "nothing removed outside");

	fixture_put_link(fixture_path("outside"), fixture_path("rm/toplink"));
	r = berth_fs_remove_tree(dfd, "rm/toplink", &e);
	tap_is_int(r, 0, "remove_tree of a symlink to a directory");
	tap_ok(!exists(fixture_path("rm/toplink")) && exists(fixture_path("outside/secret")),
	       "only the link is removed");

	fixture_put_file(fixture_path("rm/plain"), "p");
	r = berth_fs_remove_tree(dfd, "rm/plain", &e);
	tap_ok(r == 0 && !exists(fixture_path("rm/plain")), "remove_tree of a plain file");

	r = berth_fs_remove_tree(dfd, "rm/missing", &e);
	tap_is_int(r, 0, "remove_tree of something missing is not an error");

	r = berth_fs_remove_tree(dfd, "rm/..", &e);
	tap_is_int(r, -BERTH_E_INVALID, "remove_tree of '..' is refused");
	berth_err_free(e);
	close(dfd);
}

/* A kernel without openat2: in a child, a seccomp filter makes the syscall
 * fail with ENOSYS, and the public API must fall back to the walk. */
static void test_fallback(void)
{
	pid_t pid = fork();
	fixture_must(pid >= 0, "fork");
	if (pid == 0) {
		struct sock_filter filter[] = {
		    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {BERTH_ARRAY_SIZE(filter), filter};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(2);
		struct open_how how = {.flags = O_RDONLY};
		if (syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how)) >= 0 || errno != ENOSYS)
			_exit(3);
		int rootfd = open(fixture_path("root"), O_PATH | O_DIRECTORY | O_CLOEXEC);
		int bad = 0;
		if (strcmp(fd_content(open_public(rootfd, "../../etc/passwd", O_RDONLY, 0)),
			   "inside-passwd") != 0)
			bad |= 1 << 4;
		if (strcmp(fd_content(open_public(rootfd, "sub/up/secret", O_RDONLY, 0)),
			   "inside-secret") != 0)
			bad |= 1 << 5;
		if (strcmp(fd_content(open_public(rootfd, "loop1", O_RDONLY, 0)), "<ELOOP>") != 0)
			bad |= 1 << 6;
		if (berth_fs_mkdir_beneath(rootfd, "abs/fallback/x", 0755, NULL) < 0 ||
		    !exists(fixture_path("root/etc/fallback/x")))
			bad |= 1 << 7;
		_exit(bad);
	}
	int ws = 0;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	tap_is_int(code, 0, "with openat2 gone (ENOSYS), the walk contains the same escapes");
}

int main(void)
{
	make_fixture();
	int rootfd = open(fixture_path("root"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	fixture_must(rootfd >= 0, "open root");

	for (size_t i = 0; i < BERTH_ARRAY_SIZE(resolvers); i++)
		test_beneath(&resolvers[i], rootfd);
	test_open_errors(rootfd);
	test_mkdir_beneath(rootfd);
	test_fallback();
	test_write_atomic();
	test_read_file();
	test_mkdir_p();
	test_remove_tree();
	close(rootfd);

	struct berth_err *e = NULL;
	tap_is_int(fixture_cleanup(&e), 0, "clean up the test directory");
	berth_err_free(e);
	return tap_done();
}
