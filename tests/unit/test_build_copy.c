/* Unit tests for COPY's parts in build/: .dockerignore matching (moby's
 * rules), source resolution inside a root, the content checksum that keys a
 * COPY, and the copy into a layer directory (placement, parents from the
 * view, ownership, modes, times, links, and nothing written outside). */
#include "build/build_int.h"
#include "fixture.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

static void put_file(const char *path, const char *content, mode_t mode)
{
	fixture_put_file(path, content);
	fixture_must(chmod(path, mode) == 0, path);
}

static void put_dir(const char *path, mode_t mode)
{
	fixture_put_dir(path);
	fixture_must(chmod(path, mode) == 0, path);
}

static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};
	fixture_must(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0, path);
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fixture_must(fd >= 0, path);
	return fd;
}

/* The file's content (up to 255 bytes), or "<missing>". */
static const char *content(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return "<missing>";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static struct stat lstat_of(const char *path)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	if (lstat(path, &st) < 0)
		st.st_mode = 0;
	return st;
}

/* Sorted, comma-joined names in a directory ("<missing>" if none). */
static const char *names_in(const char *path)
{
	static char out[1024];
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	DIR *d = opendir(path);
	if (!d)
		return "<missing>";
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

/* ------------------------------------------------------- .dockerignore */

/* Load `text` as a context's .dockerignore; NULL (with *err) on failure. */
static struct berth__ignore *ignore_of(const char *text, struct berth_err **err)
{
	static int n;
	char dir[FIXTURE_PATH_MAX], file[FIXTURE_PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%s", fixture_path("ig%d", n++));
	snprintf(file, sizeof(file), "%s/.dockerignore", dir);
	fixture_put_dir(dir);
	fixture_put_file(file, text);
	int fd = open_dir(dir);
	struct berth__ignore *ig = NULL;
	int r = berth__ignore_load(fd, &ig, err);
	close(fd);
	return r < 0 ? NULL : ig;
}

/* `text` with newlines shown as "\n", for test names (a few at once). */
static const char *one_line(const char *text)
{
	static char buf[4][256];
	static unsigned slot;
	char *out = buf[slot++ % 4];
	size_t n = 0;
	for (; *text && n + 3 < sizeof(buf[0]); text++) {
		if (*text == '\n' || *text == '\r') {
			out[n++] = '\\';
			out[n++] = *text == '\n' ? 'n' : 'r';
		} else {
			out[n++] = *text;
		}
	}
	out[n] = '\0';
	return out;
}

struct match_case {
	const char *path;
	bool excluded;
};

static void check_matches(const char *text, const struct match_case *cases, size_t n)
{
	struct berth_err *err = NULL;
	struct berth__ignore *ig = ignore_of(text, &err);
	if (!tap_ok(ig != NULL, "load '%s'", one_line(text))) {
		tap_diag("error", err ? err->msg : NULL);
		berth_err_free(err);
		return;
	}
	for (size_t i = 0; i < n; i++)
		tap_is_int(berth__ignore_match(ig, cases[i].path), cases[i].excluded,
			   "pattern(s) '%s': '%s' is %s", one_line(text), one_line(cases[i].path),
			   cases[i].excluded ? "excluded" : "kept");
	berth__ignore_free(ig);
}

#define MATCHES(text, ...)                                              \
	do {                                                            \
		const struct match_case c__[] = {__VA_ARGS__};          \
		check_matches(text, c__, sizeof(c__) / sizeof(c__[0])); \
	} while (0)

static void check_ignore_error(const char *text, const char *want_in_msg, const char *what)
{
	struct berth_err *err = NULL;
	struct berth__ignore *ig = ignore_of(text, &err);
	tap_ok(ig == NULL && err && err->code == BERTH_E_INVALID, "%s is refused as invalid", what);
	bool named = err && strstr(err->msg, want_in_msg);
	if (!tap_ok(named, "%s: the error says '%s'", what, want_in_msg))
		tap_diag("message", err ? err->msg : NULL);
	berth__ignore_free(ig);
	berth_err_free(err);
}

static void test_ignore(void)
{
	/* No file: nothing is excluded. */
	{
		struct berth_err *err = NULL;
		struct berth__ignore *ig = NULL;
		char *dir = fixture_path("noignore");
		fixture_put_dir(dir);
		int fd = open_dir(dir);
		int r = berth__ignore_load(fd, &ig, &err);
		close(fd);
		tap_ok(r == 0 && ig, "a context without .dockerignore loads");
		tap_ok(ig && !berth__ignore_match(ig, "anything"), "and excludes nothing");
		berth__ignore_free(ig);
		berth_err_free(err);
	}

	MATCHES("# a comment\n\n   \nbuild\n", {"# a comment", false}, {"build", true},
		{"build/x/y.o", true}, {"builder", false}, {"src/build", false});
	/* '#' starts a comment only in the first column (moby). */
	MATCHES(" #x\n", {"#x", true});
	MATCHES("*.md\n!README.md\n", {"a.md", true}, {"README.md", false}, {"doc/a.md", false});
	MATCHES("!keep\nkeep\n", {"keep", true});
	MATCHES("keep\n!keep\n", {"keep", false});
	MATCHES("**/*.go\n", {"a.go", true}, {"x/y/a.go", true}, {"a.goo", false});
	MATCHES("a/**/b\n", {"a/b", true}, {"a/x/y/b", true}, {"a/xb", false}, {"b", false});
	MATCHES("foo/**\n", {"foo", false}, {"foo/x", true}, {"foo/x/y", true}, {"foox", false});
	MATCHES("*/temp*\n", {"a/temporary", true}, {"a/temp/x", true}, {"temp", false},
		{"a/b/temp", false});
	MATCHES("?.txt\n", {"a.txt", true}, {"ab.txt", false}, {".txt", false});
	MATCHES("[a-c].txt\n[^x]y\n\\*.z\n", {"b.txt", true}, {"d.txt", false}, {"ay", true},
		{"xy", false}, {"*.z", true}, {"a.z", false});
	/* A directory matched excludes what is below it, unless an exception
	 * re-includes part of it. */
	MATCHES("dir\n!dir/keep\n", {"dir", true}, {"dir/other", true}, {"dir/keep", false},
		{"dir/keep/sub", false});
	MATCHES("vendor/*\n", {"vendor", false}, {"vendor/a/b/c", true});
	/* Cleaned like filepath.Clean, a leading '/' dropped; "." matches
	 * nothing; CRLF lines. */
	MATCHES("/abs/./x/../y\n.\n", {"abs/y", true}, {"abs", false}, {"x", false});
	MATCHES("a\r\nb\r\n", {"a", true}, {"b", true}, {"a\r", false});
	MATCHES("\xef\xbb\xbf"
		"bom\n",
		{"bom", true});
	/* moby matches a leading `**` followed by plain text as a suffix. */
	MATCHES("**foo\n", {"xfoo", true}, {"a/foo", true}, {"foox", false});
	MATCHES("*\n", {"a", true}, {"a/b", true}, {".", false});
	/* moby cleans twice: "x/ /" is "x/ " after the first pass, then "x";
	 * "/!y" loses its '/' in the first and is an exception in the second. */
	MATCHES("x/ /\n", {"x", true}, {"x/ ", true}, {"y", false});
	MATCHES("y*\n/!yes\n", {"yo", true}, {"yes", false});

	check_ignore_error("ok\n[abc\n", "line 2", "an unterminated '['");
	check_ignore_error("ok\n[abc\n", "[abc", "an unterminated '['");
	check_ignore_error("x\\", "line 1", "a trailing backslash");
	check_ignore_error("a\n!\n", "line 2", "a lone '!'");

	{
		size_t big = (1u << 20) + 1;
		char *text = berth_xmalloc(big + 1);
		memset(text, 'a', big);
		text[big] = '\0';
		check_ignore_error(text, "limit", "a .dockerignore over 1 MiB");
		free(text);
	}
}

/* -------------------------------------------------------------- sources */

static int ctx_fd = -1;
static struct berth__ignore *ctx_ig;

/* The context every source and copy test reads. */
static void make_context(void)
{
	fixture_put_dir(fixture_path("ctx"));
	put_file(fixture_path("ctx/.dockerignore"),
		 "secret.txt\n*.log\nignored_dir\n!ignored_dir/keep\nnode_modules\nignored_link\n",
		 0644);
	put_file(fixture_path("ctx/a.txt"), "A", 0644);
	put_file(fixture_path("ctx/b.txt"), "B", 0600);
	put_file(fixture_path("ctx/c.md"), "C", 0644);
	put_file(fixture_path("ctx/secret.txt"), "S", 0644);
	put_file(fixture_path("ctx/x.log"), "L", 0644);
	put_dir(fixture_path("ctx/dir"), 0711);
	put_file(fixture_path("ctx/dir/f1"), "F1", 0640);
	put_dir(fixture_path("ctx/dir/sub"), 0755);
	put_file(fixture_path("ctx/dir/sub/deep.txt"), "DEEP", 0644);
	fixture_put_link("../f1", fixture_path("ctx/dir/sub/rel_link"));
	fixture_put_dir(fixture_path("ctx/ignored_dir"));
	put_file(fixture_path("ctx/ignored_dir/keep"), "K", 0644);
	put_file(fixture_path("ctx/ignored_dir/drop"), "D", 0644);
	fixture_put_dir(fixture_path("ctx/node_modules"));
	fixture_put_dir(fixture_path("ctx/node_modules/pkg"));
	put_file(fixture_path("ctx/node_modules/pkg/index.js"), "J", 0644);
	fixture_put_link("a.txt", fixture_path("ctx/ignored_link"));
	fixture_put_dir(fixture_path("ctx/other"));
	put_file(fixture_path("ctx/other/a.txt"), "OTHER-A", 0644);
	fixture_put_link("/dir", fixture_path("ctx/link_abs"));
	fixture_put_link("../../../../../../etc", fixture_path("ctx/link_out"));
	fixture_put_link("a.txt", fixture_path("ctx/lnk_file"));
	fixture_put_link("secret.txt", fixture_path("ctx/to_secret"));
	put_file(fixture_path("ctx/h1"), "HARD", 0644);
	fixture_must(link(fixture_path("ctx/h1"), fixture_path("ctx/h2")) == 0, "link");
	set_mtime(fixture_path("ctx/dir/f1"), 1000000000);
	set_mtime(fixture_path("ctx/dir/sub"), 1100000000);
	set_mtime(fixture_path("ctx/dir"), 1200000000);
	ctx_fd = open_dir(fixture_path("ctx"));
	struct berth_err *err = NULL;
	fixture_must(berth__ignore_load(ctx_fd, &ctx_ig, &err) == 0, "load .dockerignore");
}

/* Resolve patterns (NULL-terminated) in the context; "a.txt,dir/" (a
 * trailing '/' marks is_dir) or "<error code: message>". */
static const char *resolve_str(int root, const struct berth__ignore *ig, const char *what,
			       const char *const *pats)
{
	static char out[1024];
	_cleanup_strv_ struct berth_strv sv = BERTH_STRV_INIT;
	for (; *pats; pats++)
		berth_strv_push(&sv, *pats);
	struct berth__source *src = NULL;
	size_t n = 0;
	struct berth_err *err = NULL;
	if (berth__sources_resolve(root, &sv, ig, what, &src, &n, &err) < 0) {
		snprintf(out, sizeof(out), "<%s: %s>", berth_err_code_name(err->code), err->msg);
		berth_err_free(err);
		return out;
	}
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s%s", i ? "," : "",
					src[i].path, src[i].is_dir ? "/" : "");
	berth__sources_free(src, n);
	return out;
}

#define RESOLVES(want, ...)                                                             \
	do {                                                                            \
		const char *p__[] = {__VA_ARGS__, NULL};                                \
		tap_is_str(resolve_str(ctx_fd, ctx_ig, "the build context", p__), want, \
			   "sources %s", #__VA_ARGS__);                                 \
	} while (0)

static void test_sources(void)
{
	RESOLVES("a.txt", "a.txt");
	RESOLVES("dir/", "dir");
	RESOLVES("/", ".");
	RESOLVES("a.txt,b.txt", "*.txt");
	RESOLVES("", "*.nope");
	RESOLVES("", "nodir/*.txt");
	RESOLVES("dir/sub/deep.txt", "dir/*/deep.txt");
	RESOLVES("dir/f1,dir/sub/", "dir/*");
	RESOLVES("b.txt", "[b-z].txt");
	RESOLVES("<not_found: 'nope.txt' not found in the build context>", "nope.txt");
	RESOLVES("a.txt", "../../a.txt");
	RESOLVES("a.txt", "/a.txt");
	RESOLVES("a.txt", "dir/../../a.txt");
	/* An absolute symlink is resolved inside the context. */
	RESOLVES("link_abs/", "link_abs");
	RESOLVES("link_abs/f1", "link_abs/f1");
	/* ... and one that climbs out lands inside it too, where there is no
	 * etc (the host's /etc must not be found). */
	RESOLVES("<not_found: 'link_out' not found in the build context>", "link_out");
	RESOLVES("<not_found: 'link_out/passwd' not found in the build context>",
		 "link_out/passwd");
	RESOLVES("lnk_file", "lnk_file");
	/* Ignored paths are not there. */
	RESOLVES("<not_found: 'secret.txt' not found in the build context: .dockerignore "
		 "excludes it>",
		 "secret.txt");
	RESOLVES("<not_found: 'x.log' not found in the build context: .dockerignore excludes it>",
		 "x.log");
	RESOLVES("", "*.log");
	RESOLVES("<not_found: 'to_secret' not found in the build context: .dockerignore "
		 "excludes it>",
		 "to_secret");
	RESOLVES("<not_found: 'ignored_link' not found in the build context>", "ignored_link");
	RESOLVES("<not_found: 'node_modules' not found in the build context: .dockerignore "
		 "excludes it>",
		 "node_modules");
	/* An excluded directory that an exception keeps something of. */
	RESOLVES("ignored_dir/", "ignored_dir");
	RESOLVES("ignored_dir/keep", "ignored_dir/keep");
	RESOLVES("<not_found: 'ignored_dir/drop' not found in the build context: .dockerignore "
		 "excludes it>",
		 "ignored_dir/drop");
	RESOLVES("ignored_dir/keep", "ignored_dir/*");
	/* In the order written (a later source wins, as in BuildKit), each
	 * wildcard's matches sorted; a path named twice is there twice. */
	RESOLVES("c.md,a.txt,b.txt,a.txt", "c.md", "*.txt", "a.txt");
	RESOLVES("<invalid: bad pattern 'x/[a': malformed character class>", "x/[a");

	const char *stage[] = {"secret2.txt", NULL};
	tap_is_str(resolve_str(ctx_fd, NULL, "stage 'builder'", stage),
		   "<not_found: 'secret2.txt' not found in stage 'builder'>",
		   "the message names the stage");
	const char *stage_ok[] = {"secret.txt", NULL};
	tap_is_str(resolve_str(ctx_fd, NULL, "stage 'builder'", stage_ok), "secret.txt",
		   "without an ignore matcher nothing is excluded");
}

/* ------------------------------------------------------------- checksum */

static char last_sum[BERTH_DIGEST_LEN + 1];

static const char *sum_of(const char *root, const char *const *pats, const struct berth__ignore *ig)
{
	int fd = open_dir(root);
	_cleanup_strv_ struct berth_strv sv = BERTH_STRV_INIT;
	for (; *pats; pats++)
		berth_strv_push(&sv, *pats);
	struct berth__source *src = NULL;
	size_t n = 0;
	struct berth_err *err = NULL;
	int r = berth__sources_resolve(fd, &sv, ig, "the build context", &src, &n, &err);
	if (r == 0)
		r = berth__sources_checksum(fd, src, n, ig, last_sum, &err);
	close(fd);
	berth__sources_free(src, n);
	if (r < 0) {
		snprintf(last_sum, sizeof(last_sum), "<%s>", err->msg);
		berth_err_free(err);
	}
	return last_sum;
}

static void test_checksum(void)
{
	char root[FIXTURE_PATH_MAX];
	snprintf(root, sizeof(root), "%s", fixture_path("sum"));
	fixture_put_dir(root);
	put_dir(fixture_path("sum/app"), 0755);
	put_file(fixture_path("sum/app/main.c"), "int main;", 0644);
	put_file(fixture_path("sum/app/run.sh"), "#!/bin/sh", 0755);
	put_file(fixture_path("sum/app/debug.log"), "noise", 0644);
	fixture_put_link("main.c", fixture_path("sum/app/link"));
	fixture_put_dir(fixture_path("sum/app/sub"));
	put_file(fixture_path("sum/app/sub/x"), "x", 0644);
	fixture_put_file(fixture_path("sum/.dockerignore"), "app/*.log\napp/cache\n");
	fixture_put_dir(fixture_path("sum/app/cache"));
	put_file(fixture_path("sum/app/cache/blob"), "1", 0644);
	int rfd = open_dir(root);
	struct berth__ignore *ig = NULL;
	fixture_must(berth__ignore_load(rfd, &ig, NULL) == 0, "load sum/.dockerignore");
	close(rfd);
	const char *app[] = {"app", NULL};
	char base[BERTH_DIGEST_LEN + 1], again[BERTH_DIGEST_LEN + 1];

	snprintf(base, sizeof(base), "%s", sum_of(root, app, ig));
	tap_ok(berth_digest_valid(base), "the checksum is a sha256 digest");
	if (!berth_digest_valid(base))
		tap_diag("got", base);
	tap_is_str(sum_of(root, app, ig), base, "the same tree gives the same checksum");

	set_mtime(fixture_path("sum/app/main.c"), 1234567890);
	set_mtime(fixture_path("sum/app"), 1234567890);
	tap_is_str(sum_of(root, app, ig), base, "touching files keeps the checksum");

	fixture_must(chmod(fixture_path("sum/app/main.c"), 0600) == 0, "chmod");
	snprintf(again, sizeof(again), "%s", sum_of(root, app, ig));
	tap_ok(strcmp(again, base) != 0, "a chmod changes the checksum");
	fixture_must(chmod(fixture_path("sum/app/main.c"), 0644) == 0, "chmod back");
	tap_is_str(sum_of(root, app, ig), base, "and chmod back restores it");

	fixture_put_file(fixture_path("sum/app/main.c"), "int mayn;");
	snprintf(again, sizeof(again), "%s", sum_of(root, app, ig));
	tap_ok(strcmp(again, base) != 0, "a changed byte (same size) changes the checksum");
	fixture_put_file(fixture_path("sum/app/main.c"), "int main;");
	tap_is_str(sum_of(root, app, ig), base, "and the old content restores it");

	fixture_must(rename(fixture_path("sum/app/sub/x"), fixture_path("sum/app/sub/y")) == 0,
		     "rename");
	snprintf(again, sizeof(again), "%s", sum_of(root, app, ig));
	tap_ok(strcmp(again, base) != 0, "a rename changes the checksum");
	fixture_must(rename(fixture_path("sum/app/sub/y"), fixture_path("sum/app/sub/x")) == 0,
		     "rename back");

	fixture_put_file(fixture_path("sum/app/debug.log"), "other noise");
	fixture_put_file(fixture_path("sum/app/new.log"), "more");
	fixture_put_file(fixture_path("sum/app/cache/blob"), "22");
	fixture_put_dir(fixture_path("sum/app/cache/more"));
	tap_is_str(sum_of(root, app, ig), base, "ignored files changing keep the checksum");
	snprintf(again, sizeof(again), "%s", sum_of(root, app, NULL));
	tap_ok(strcmp(again, base) != 0, "and count without the ignore matcher");

	unlink(fixture_path("sum/app/link"));
	fixture_put_link("run.sh", fixture_path("sum/app/link"));
	snprintf(again, sizeof(again), "%s", sum_of(root, app, ig));
	tap_ok(strcmp(again, base) != 0, "a symlink's new target changes the checksum");
	unlink(fixture_path("sum/app/link"));
	fixture_put_link("main.c", fixture_path("sum/app/link"));
	tap_is_str(sum_of(root, app, ig), base, "the old target restores it");

	if (geteuid() == 0) {
		fixture_must(lchown(fixture_path("sum/app/run.sh"), 1000, 1000) == 0, "chown");
		snprintf(again, sizeof(again), "%s", sum_of(root, app, ig));
		tap_ok(strcmp(again, base) != 0, "a chown changes the checksum");
		fixture_must(lchown(fixture_path("sum/app/run.sh"), 0, 0) == 0, "chown back");
	} else {
		tap_ok(true, "a chown changes the checksum # SKIP needs root");
	}

	if (lsetxattr(fixture_path("sum/app/run.sh"), "user.berth", "1", 1, 0) == 0) {
		snprintf(again, sizeof(again), "%s", sum_of(root, app, ig));
		tap_ok(strcmp(again, base) != 0, "a user xattr changes the checksum");
		fixture_must(lremovexattr(fixture_path("sum/app/run.sh"), "user.berth") == 0,
			     "removexattr");
		tap_is_str(sum_of(root, app, ig), base, "and removing it restores it");
	} else {
		tap_ok(true, "a user xattr changes the checksum # SKIP no user xattrs here");
		tap_ok(true, "and removing it restores it # SKIP no user xattrs here");
	}

	const char *main_c[] = {"app/main.c", NULL}, *run_sh[] = {"app/run.sh", NULL};
	snprintf(again, sizeof(again), "%s", sum_of(root, main_c, ig));
	tap_ok(strcmp(again, sum_of(root, run_sh, ig)) != 0, "two files differ");
	berth__ignore_free(ig);
}

/* ----------------------------------------------------------------- copy */

static int view_fd = -1;
static int upper_n;
static char upper[FIXTURE_PATH_MAX / 2];

/* The view: the image as it stands before the COPY. */
static void make_view(void)
{
	fixture_put_dir(fixture_path("view"));
	put_dir(fixture_path("view/etc"), 0750);
	put_file(fixture_path("view/etc/existing"), "E", 0644);
	fixture_must(lchown(fixture_path("view/etc"), 1, 2) == 0, "chown view/etc");
	set_mtime(fixture_path("view/etc"), 900000000);
	put_dir(fixture_path("view/real"), 0705);
	fixture_must(lchown(fixture_path("view/real"), 3, 4) == 0, "chown view/real");
	set_mtime(fixture_path("view/real"), 800000000);
	fixture_put_link("/real", fixture_path("view/lnk"));
	fixture_put_link("../../../../../../../outside", fixture_path("view/evil"));
	put_file(fixture_path("view/afile"), "F", 0644);
	fixture_put_dir(fixture_path("outside"));
	view_fd = open_dir(fixture_path("view"));
}

/* Up to four patterns; a fresh upper each time (path in `upper`). */
struct copy_req {
	const char *pats[4];
	const char *dest;
	long uid, gid, mode;
};

static int run_copy(const struct copy_req *q, struct berth_err **err)
{
	snprintf(upper, sizeof(upper), "%s", fixture_path("upper%d", upper_n++));
	fixture_put_dir(upper);
	int ufd = open_dir(upper);
	_cleanup_strv_ struct berth_strv sv = BERTH_STRV_INIT;
	for (size_t i = 0; i < 4 && q->pats[i]; i++)
		berth_strv_push(&sv, q->pats[i]);
	struct berth__source *src = NULL;
	size_t n = 0;
	bool wildcard = false;
	for (size_t i = 0; i < sv.n; i++)
		wildcard = wildcard || strpbrk(sv.v[i], "*?[");
	int r = berth__sources_resolve(ctx_fd, &sv, ctx_ig, "the build context", &src, &n, err);
	if (r == 0) {
		struct berth__copy_opts o = {
		    .src_root_fd = ctx_fd,
		    .src = src,
		    .nsrc = n,
		    .wildcard = wildcard,
		    .ig = ctx_ig,
		    .dest = q->dest,
		    .view_fd = view_fd,
		    .upper_fd = ufd,
		    .uid = q->uid,
		    .gid = q->gid,
		    .mode = q->mode,
		};
		r = berth__copy(&o, err);
	}
	berth__sources_free(src, n);
	close(ufd);
	return r;
}

static char *up(const char *rel)
{
	static char buf[8][FIXTURE_PATH_MAX + 16];
	static unsigned slot;
	char *out = buf[slot++ % 8];
	snprintf(out, sizeof(buf[0]), "%.*s/%s", FIXTURE_PATH_MAX / 2, upper, rel);
	return out;
}

#define COPY_OK(q)                                                        \
	do {                                                              \
		struct berth_err *e__ = NULL;                             \
		int r__ = run_copy(&(q), &e__);                           \
		if (!tap_ok(r__ == 0, "COPY to '%s' succeeds", (q).dest)) \
			tap_diag("error", e__ ? e__->msg : NULL);         \
		berth_err_free(e__);                                      \
	} while (0)

static struct copy_req req(const char *dest, const char *p0, const char *p1, const char *p2)
{
	return (struct copy_req){{p0, p1, p2, NULL}, dest, -1, -1, -1};
}

static void test_copy_placement(void)
{
	struct copy_req q = req("/dst/", "a.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(content(up("dst/a.txt")), "A", "a file to dir/ lands inside it");
	tap_is_int(lstat_of(up("dst")).st_mode & 07777, 0755, "a new parent gets 0755");

	q = req("/newname", "a.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(content(up("newname")), "A", "a file to a new name takes that name");
	tap_is_str(names_in(upper), "newname", "and nothing else is written");

	q = req("/etc", "a.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(content(up("etc/a.txt")), "A", "a file to a directory of the view goes in it");
	struct stat st = lstat_of(up("etc"));
	tap_is_int(st.st_mode & 07777, 0750, "the copied-up parent has the view's mode");
	tap_is_int(st.st_uid * 1000 + st.st_gid, 1 * 1000 + 2, "and the view's owner");
	tap_is_int(st.st_mtime, 900000000, "and the view's mtime");
	tap_is_str(names_in(up("etc")), "a.txt", "the view's other entries are not copied up");

	q = req("/d", "dir", NULL, NULL);
	COPY_OK(q);
	tap_is_str(names_in(up("d")), "f1,sub", "a directory's contents go into dest");
	tap_is_str(content(up("d/sub/deep.txt")), "DEEP", "recursively");
	st = lstat_of(up("d"));
	tap_is_int(st.st_mode & 07777, 0711, "the new dest has the source directory's mode");
	tap_is_int(st.st_mtime, 1200000000, "and its mtime");
	tap_is_int(lstat_of(up("d/sub")).st_mtime, 1100000000, "a subdirectory's mtime sticks");
	tap_is_int(lstat_of(up("d/f1")).st_mtime, 1000000000, "a file's mtime is kept");
	tap_is_int(lstat_of(up("d/f1")).st_mode & 07777, 0640, "and its mode");
	st = lstat_of(up("d/sub/rel_link"));
	tap_ok(S_ISLNK(st.st_mode), "a symlink below the source is copied as a symlink");
	char target[64] = "";
	ssize_t tn = readlink(up("d/sub/rel_link"), target, sizeof(target) - 1);
	target[tn < 0 ? 0 : tn] = '\0';
	tap_is_str(target, "../f1", "with its target");

	q = req("/etc/", "dir", NULL, NULL);
	COPY_OK(q);
	st = lstat_of(up("etc"));
	tap_is_int(st.st_mode & 07777, 0750, "a directory into an existing one keeps its mode");
	tap_is_int(st.st_mtime, 900000000, "and its mtime");

	q = req("/multi/", "a.txt", "b.txt", "c.md");
	COPY_OK(q);
	tap_is_str(names_in(up("multi")), "a.txt,b.txt,c.md", "several sources into dir/");

	q = req("/multi", "a.txt", "b.txt", NULL);
	struct berth_err *err = NULL;
	int r = run_copy(&q, &err);
	tap_ok(r < 0 && err && err->code == BERTH_E_INVALID,
	       "several sources without a trailing '/' are refused");
	tap_is_str(err ? err->msg : NULL,
		   "When using COPY with more than one source file, the destination must be a "
		   "directory and end with a /",
		   "with Docker's message");
	berth_err_free(err);

	q = req("/w/", "*.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(names_in(up("w")), "a.txt,b.txt", "a wildcard copies what it matches");

	q = req("/none/", "*.nope", NULL, NULL);
	COPY_OK(q);
	tap_ok(exists(up("none")), "a wildcard matching nothing still makes dest/");

	q = req("/one", "a.t?t", NULL, NULL);
	COPY_OK(q);
	tap_is_str(content(up("one")), "A", "a wildcard matching one file may name the file");

	q = req("/r/", "a.txt", "other/a.txt", NULL);
	COPY_OK(q);
	tap_is_str(content(up("r/a.txt")), "OTHER-A", "a later source replaces an earlier one");

	q = req("/x/", "lnk_file", NULL, NULL);
	COPY_OK(q);
	st = lstat_of(up("x/lnk_file"));
	tap_ok(S_ISREG(st.st_mode), "a symlink named as the source is followed");
	tap_is_str(content(up("x/lnk_file")), "A", "and its target's content copied");

	q = req("/la", "link_abs", NULL, NULL);
	COPY_OK(q);
	tap_is_str(names_in(up("la")), "f1,sub", "a symlinked source directory is followed");

	q = req("/c/", ".", NULL, NULL);
	COPY_OK(q);
	tap_ok(!exists(up("c/secret.txt")) && !exists(up("c/x.log")),
	       "ignored files are not copied");
	tap_is_str(names_in(up("c/ignored_dir")), "keep",
		   "an excluded directory keeps only what an exception re-includes");
	tap_ok(!exists(up("c/node_modules")),
	       "an excluded directory with nothing kept is not made");
	tap_ok(!exists(up("c/ignored_link")), "an excluded symlink is not copied");
	tap_ok(exists(up("c/a.txt")) && exists(up("c/.dockerignore")), "the rest is copied");
	struct stat h1 = lstat_of(up("c/h1")), h2 = lstat_of(up("c/h2"));
	tap_ok(h1.st_ino && h1.st_ino == h2.st_ino, "hardlinks stay hardlinks");

	q = req("/", "a.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(names_in(upper), "a.txt", "a file to / lands at the root");

	if (lsetxattr(fixture_path("ctx/c.md"), "user.berth", "v1", 2, 0) == 0 &&
	    lsetxattr(fixture_path("ctx/c.md"), "trusted.berth", "t", 1, 0) == 0) {
		q = req("/xa/", "c.md", NULL, NULL);
		COPY_OK(q);
		char v[16] = "";
		ssize_t n = lgetxattr(up("xa/c.md"), "user.berth", v, sizeof(v) - 1);
		v[n < 0 ? 0 : n] = '\0';
		tap_is_str(v, "v1", "user xattrs are copied");
		tap_ok(lgetxattr(up("xa/c.md"), "trusted.berth", v, sizeof(v)) < 0,
		       "trusted ones are not");
		lremovexattr(fixture_path("ctx/c.md"), "user.berth");
		lremovexattr(fixture_path("ctx/c.md"), "trusted.berth");
	} else {
		tap_ok(true, "user xattrs are copied # SKIP no user xattrs here");
		tap_ok(true, "trusted ones are not # SKIP no user xattrs here");
	}
}

static void test_copy_owner_mode(void)
{
	struct copy_req q = req("/new/deep/", "dir", NULL, NULL);
	q.uid = 1000;
	q.gid = 1001;
	COPY_OK(q);
	struct stat st = lstat_of(up("new/deep/f1"));
	tap_is_int(st.st_uid * 10000 + st.st_gid, 1000 * 10000 + 1001, "--chown owns the files");
	st = lstat_of(up("new/deep/sub"));
	tap_is_int(st.st_uid * 10000 + st.st_gid, 1000 * 10000 + 1001, "and the directories");
	st = lstat_of(up("new/deep/sub/rel_link"));
	tap_is_int(st.st_uid * 10000 + st.st_gid, 1000 * 10000 + 1001, "and the symlinks");
	st = lstat_of(up("new"));
	tap_is_int(st.st_uid * 10000 + st.st_gid, 1000 * 10000 + 1001,
		   "and the parents it had to make");

	q = req("/m/", "a.txt", "dir", NULL);
	q.mode = 0604;
	COPY_OK(q);
	tap_is_int(lstat_of(up("m/a.txt")).st_mode & 07777, 0604, "--chmod sets a file's mode");
	tap_is_int(lstat_of(up("m/sub")).st_mode & 07777, 0604, "and a directory's");
	tap_is_int(lstat_of(up("m")).st_mode & 07777, 0755, "but not a made parent's");

	q = req("/k/", "b.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_int(lstat_of(up("k/b.txt")).st_mode & 07777, 0600,
		   "without --chmod the source's mode is kept");
	tap_is_int(lstat_of(up("k/b.txt")).st_uid, 0, "without --chown the source's owner");
}

static void test_copy_dest_links(void)
{
	struct copy_req q = req("/lnk/x.txt", "a.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(content(up("real/x.txt")), "A",
		   "a symlinked parent of dest is followed in the view");
	tap_ok(!exists(up("lnk")), "and the link itself is not replaced");
	struct stat st = lstat_of(up("real"));
	tap_is_int(st.st_mode & 07777, 0705, "the resolved parent has the view's mode");
	tap_is_int(st.st_uid * 1000 + st.st_gid, 3 * 1000 + 4, "and owner");
	tap_is_int(st.st_mtime, 800000000, "and mtime");

	q = req("/lnk/", "a.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(content(up("real/a.txt")), "A", "a symlink to a directory as dest is followed");

	q = req("/evil/x", "a.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(content(up("outside/x")), "A",
		   "a dest symlink climbing out is resolved inside the image");
	tap_is_str(names_in(fixture_path("outside")), "", "nothing is written outside the layer");

	q = req("/../../../../esc", "a.txt", NULL, NULL);
	COPY_OK(q);
	tap_is_str(content(up("esc")), "A", "'..' in dest stays inside the layer");
	tap_is_str(names_in(fixture_path("view")), "afile,etc,evil,lnk,real",
		   "the view is left as it was");
	tap_is_str(names_in(fixture_path("view/etc")), "existing", "to the last entry");

	q = req("/afile/x", "a.txt", NULL, NULL);
	struct berth_err *err = NULL;
	int r = run_copy(&q, &err);
	tap_ok(r < 0 && err && err->code == BERTH_E_INVALID,
	       "a file of the view in dest's way is refused");
	if (err)
		tap_diag("message", err->msg);
	berth_err_free(err);

	q = req("/afile", "dir", NULL, NULL);
	err = NULL;
	r = run_copy(&q, &err);
	tap_ok(r < 0 && err && err->code == BERTH_E_INVALID,
	       "a directory onto a file of the view is refused");
	berth_err_free(err);

	q = req("/missing/", "nope.txt", NULL, NULL);
	err = NULL;
	r = run_copy(&q, &err);
	tap_ok(r < 0 && err && err->code == BERTH_E_NOT_FOUND, "a missing source is not found");
	berth_err_free(err);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int main(void)
{
	fixture_init("build-copy");
	int fds = count_fds();
	test_ignore();
	make_context();
	test_sources();
	test_checksum();
	if (geteuid() != 0) {
		tap_ok(true, "copy tests # SKIP need root (owners of the view and the copies)");
	} else {
		make_view();
		test_copy_placement();
		test_copy_owner_mode();
		test_copy_dest_links();
	}
	berth__ignore_free(ctx_ig);
	close(ctx_fd);
	if (view_fd >= 0)
		close(view_fd);
	tap_is_int(count_fds(), fds, "no fd is left open");
	struct berth_err *err = NULL;
	if (fixture_cleanup(&err) < 0)
		printf("# cleanup: %s\n", err->msg);
	berth_err_free(err);
	return tap_done();
}
