/* debian:SUITE and debian:SUITE-slim, the way Docker's official images are
 * made (debuerreotype): `debootstrap --variant=minbase`, the minimizing
 * config (no service starts, no sync per package, apt caches dropped after
 * every install, compressed and translation-free indexes), the suite's
 * updates and security fixes applied, slimified for -slim, then logs,
 * caches, apt lists, /dev and host-specific files removed and every date
 * clamped to the newest Release date of the mirror (SOURCE_DATE_EPOCH).
 * docs/base-images.md has the list and the reasons. */
#include "base/base_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* debootstrap, apt and dpkg find their helpers through this PATH. */
#define DEBIAN_TOOL_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* `name` as an executable in the directories of `dirs` (':'-separated). */
static char *find_in(const char *dirs, const char *name)
{
	_cleanup_free_ char *copy = berth_xstrdup(dirs);
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = berth_xasprintf("%s/%s", d, name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static char *find_tool(const char *name)
{
	const char *path = getenv("PATH");
	char *p = path && *path ? find_in(path, name) : NULL;
	return p ? p : find_in("/usr/sbin:/sbin:/usr/bin:/bin", name);
}

char *berth_base_find_debootstrap(struct berth_err **err)
{
	char *p = find_tool("debootstrap");
	if (!p)
		berth_err_set(err, BERTH_E_NOT_FOUND,
			      "debootstrap is not installed: apt-get install debootstrap");
	return p;
}

void berth_base_debootstrap_argv(const char *debootstrap, const char *suite, const char *dir,
				 const char *mirror, const char *cache_dir, struct berth_strv *out)
{
	berth_strv_push(out, debootstrap);
	berth_strv_push(out, "--variant=minbase");
	if (cache_dir)
		berth_strv_pushf(out, "--cache-dir=%s", cache_dir);
	berth_strv_push(out, suite);
	berth_strv_push(out, dir);
	berth_strv_push(out, mirror);
}

/* Whatever debootstrap mounted must vanish with this process, even when it
 * is killed: a private mount namespace (the process keeps it). */
static int private_mounts(struct berth_err **err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return berth_err_sys(err, errno, "enter a private mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return berth_err_sys(err, errno, "make the mount namespace private");
	return 0;
}

/* Unmount whatever is still mounted at or under `dir` (debootstrap mounts
 * proc and sys in the target and unmounts them when it exits normally),
 * deepest first. */
static void unmount_under(const char *dir)
{
	size_t n = strlen(dir);
	for (int pass = 0; pass < 8; pass++) {
		_cleanup_buf_ struct berth_buf mi;
		berth_buf_init(&mi, 16u << 20);
		if (berth_fs_read_file("/proc/self/mountinfo", 16u << 20, &mi, NULL) < 0)
			return;
		_cleanup_strv_ struct berth_strv points = BERTH_STRV_INIT;
		for (char *line = mi.data; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			/* "id parent major:minor root mountpoint ..." */
			char *save = NULL, *f = strtok_r(line, " ", &save);
			for (int i = 0; f && i < 4; i++)
				f = strtok_r(NULL, " ", &save);
			if (f && !strncmp(f, dir, n) && (f[n] == '/' || f[n] == '\0'))
				berth_strv_push(&points, f);
			line = nl ? nl + 1 : NULL;
		}
		if (points.n == 0)
			return;
		for (size_t i = points.n; i-- > 0;)
			umount2(points.v[i], MNT_DETACH);
	}
}

/* The last lines of `path` (a tool's log), for an error message. */
static char *log_tail(const char *path)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 64u << 20);
	if (berth_fs_read_file(path, 64u << 20, &b, NULL) < 0 || b.len == 0)
		return NULL;
	size_t end = b.len;
	while (end > 0 && b.data[end - 1] == '\n')
		end--;
	size_t start = end;
	for (int lines = 0; start > 0 && lines < BERTH_BASE_LOG_LINES; start--)
		if (b.data[start - 1] == '\n' && ++lines == BERTH_BASE_LOG_LINES)
			break;
	return berth_xasprintf("\n%.*s", (int)(end - start), b.data + start);
}

static int run_tool(char *const *argv, char *const *envp, int log_fd, int *status,
		    struct berth_err **err)
{
	_cleanup_close_ int devnull = -1;
	if (log_fd < 0) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull < 0)
			return berth_err_sys(err, errno, "open '/dev/null'");
		log_fd = devnull;
	}
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.envp = envp;
	sp.stdout_fd = log_fd;
	sp.stderr_fd = log_fd;
	return berth_spawn_run(&sp, status, err);
}

/* The environment debootstrap and apt run with: nothing from the caller's
 * but the proxy settings (a host behind a proxy reaches its mirror through
 * it). */
static void tool_env(struct berth_strv *env)
{
	berth_strv_push(env, "PATH=" DEBIAN_TOOL_PATH);
	berth_strv_push(env, "LC_ALL=C");
	berth_strv_push(env, "DEBIAN_FRONTEND=noninteractive");
	berth_strv_push(env, "HOME=/root");
	static const char *const keep[] = {"http_proxy", "https_proxy", "no_proxy",
					   "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(keep); i++) {
		const char *v = getenv(keep[i]);
		if (v)
			berth_strv_pushf(env, "%s=%s", keep[i], v);
	}
}

/* --------------------------------------------- debuerreotype's config */

static const char policy_rc_d[] =
    "#!/bin/sh\n"
    "\n"
    "# Package installs happen in image builds, where starting services does not\n"
    "# work: stop them from trying (debuerreotype's minimizing config).\n"
    "\n"
    "exit 101\n";

static const struct {
	const char *path, *text;
} minimizing[] = {
    {"/etc/dpkg/dpkg.cfg.d/docker-apt-speedup",
     "# Package installs happen in image builds, which are restarted clean after a\n"
     "# power loss anyway: no sync() after each package.\n"
     "\n"
     "force-unsafe-io\n"},
    {"/etc/apt/apt.conf.d/docker-autoremove-suggests",
     "# Remove what was installed only because another package suggested it, so\n"
     "# that `apt-get purge --auto-remove` really shrinks an image.\n"
     "Apt::AutoRemove::SuggestsImportant \"false\";\n"},
    {"/etc/apt/apt.conf.d/docker-clean",
     "# Each install is a layer: the caches apt keeps would only make it larger.\n"
     "# This is `apt-get clean` after every install.\n"
     "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb "
     "/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\n"
     "APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb "
     "/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\n"
     "\n"
     "Dir::Cache::pkgcache \"\";\n"
     "Dir::Cache::srcpkgcache \"\";\n"},
    {"/etc/apt/apt.conf.d/docker-gzip-indexes",
     "# Keep the package lists compressed on disk: much smaller layers for\n"
     "# Dockerfiles that forget to remove /var/lib/apt/lists.\n"
     "Acquire::GzipIndexes \"true\";\n"},
    {"/etc/apt/apt.conf.d/docker-no-languages",
     "# No translated descriptions: faster `apt-get update`, smaller lists.\n"
     "Acquire::Languages \"none\";\n"},
};

static int minimizing_config(int rootfd, struct berth_err **err)
{
	if (berth__base_put(rootfd, "/usr/sbin/policy-rc.d", policy_rc_d, 0755, err) < 0)
		return -1;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(minimizing); i++)
		if (berth__base_put(rootfd, minimizing[i].path, minimizing[i].text, 0644, err) < 0)
			return -1;
	return 0;
}

/* The image's apt sources: deb822, as Debian 12's own images have them. */
static int write_sources(int rootfd, const char *suite, const struct berth_apt_mirror *m,
			 struct berth_err **err)
{
	_cleanup_free_ char *text =
	    berth_xasprintf("Types: deb\n"
			    "URIs: %s\n"
			    "Suites: %s %s-updates\n"
			    "Components: main\n"
			    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
			    m->uri, suite, suite);
	if (m->security) {
		char *both =
		    berth_xasprintf("%s\n"
				    "Types: deb\n"
				    "URIs: %s\n"
				    "Suites: %s-security\n"
				    "Components: main\n"
				    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
				    text, m->security, suite);
		free(text);
		text = both;
	}
	if (berth_fs_mkdir_beneath(rootfd, "/etc/apt/sources.list.d", 0755, err) < 0 ||
	    berth__base_put(rootfd, "/etc/apt/sources.list.d/debian.sources", text, 0644, err) <
		0 ||
	    berth__base_remove(rootfd, "/etc/apt/sources.list", err) < 0)
		return -1;
	return 0;
}

/* -------------------------------------------------------------- fixup */

/* Files that hold the time of the build or the host's details (debuerreotype's
 * fixup and .tar-exclude, and what debootstrap copies from the host). */
static const char *const drop_files[] = {
    "/var/log/dpkg.log",
    "/var/log/bootstrap.log",
    "/var/log/alternatives.log",
    "/var/log/apt/history.log",
    "/var/log/apt/term.log",
    "/var/log/apt/eipp.log.xz",
    "/var/cache/ldconfig/aux-cache",
    "/run/mount/utab",
    "/etc/machine-id",
    "/etc/apt/apt.conf.d/01autoremove-kernels",
    "/debootstrap",
};
/* Directories emptied: apt's lists and caches (apt makes them again on
 * `apt-get update`), /dev (the runtime mounts its own), /proc and /sys. */
static const char *const empty_dirs[] = {
    "/var/lib/apt/lists", "/var/cache/apt", "/dev", "/proc", "/sys", "/tmp",
};

/* /etc/shadow's "last changed" days clamped to the epoch (Debian bug 857803:
 * the day of the build made the file differ between runs). */
static int clamp_shadow(int rootfd, const char *path, int64_t epoch, struct berth_err **err)
{
	_cleanup_close_ int fd =
	    berth_fs_open_beneath(rootfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0, NULL);
	if (fd < 0)
		return 0;
	_cleanup_buf_ struct berth_buf in, out;
	berth_buf_init(&in, 16u << 20);
	berth_buf_init(&out, 16u << 20);
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berth_err_sys(err, errno, "read '%s' in the new system", path);
		if (n == 0)
			break;
		if (berth_buf_add(&in, chunk, (size_t)n) < 0)
			return berth_err_set(err, BERTH_E_LIMIT, "'%s' is too large", path);
	}
	long days = (long)(epoch / 86400);
	bool changed = false;
	for (char *line = in.data; line && *line;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		/* name:password:lastchg:... */
		char *c1 = memchr(line, ':', len);
		char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
		char *c3 = c2 ? memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - line)) : NULL;
		char *end = NULL;
		long v = c3 && c3 > c2 + 1 ? strtol(c2 + 1, &end, 10) : -1;
		if (c3 && end == c3 && v > days) {
			berth_buf_add(&out, line, (size_t)(c2 + 1 - line));
			berth_buf_addf(&out, "%ld", days);
			berth_buf_add(&out, c3, len - (size_t)(c3 - line));
			changed = true;
		} else {
			berth_buf_add(&out, line, len);
		}
		if (nl)
			berth_buf_addch(&out, '\n');
		line = nl ? nl + 1 : NULL;
	}
	if (!changed)
		return 0;
	struct stat st;
	mode_t mode = fstat(fd, &st) == 0 ? st.st_mode & 07777 : 0640;
	return berth__base_put(rootfd, path, out.data, mode, err);
}

static int fixup(int rootfd, int64_t epoch, struct berth_err **err)
{
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(drop_files); i++)
		if (berth__base_remove(rootfd, drop_files[i], err) < 0)
			return -1;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(empty_dirs); i++)
		if (berth__base_empty_dir(rootfd, empty_dirs[i], err) < 0)
			return -1;
	/* debootstrap copied the host's; the runtime mounts the container's own
	 * hostname and resolv.conf over these. */
	if (berth__base_put(rootfd, "/etc/hostname", "localhost\n", 0644, err) < 0 ||
	    berth__base_put(rootfd, "/etc/resolv.conf", "", 0644, err) < 0 ||
	    clamp_shadow(rootfd, "/etc/shadow", epoch, err) < 0 ||
	    clamp_shadow(rootfd, "/etc/shadow-", epoch, err) < 0)
		return -1;
	/* run/mount is left empty by the removal of utab. */
	_cleanup_close_ int run =
	    berth_fs_open_beneath(rootfd, "/run", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, NULL);
	if (run >= 0)
		unlinkat(run, "mount", AT_REMOVEDIR); /* only when empty */
	return 0;
}

/* The Debian major version from /etc/debian_version ("12.11" -> "12"), or
 * NULL (testing and unstable say "trixie/sid"). free(). */
static char *debian_major(int rootfd)
{
	_cleanup_close_ int fd =
	    berth_fs_open_beneath(rootfd, "/etc/debian_version", O_RDONLY | O_CLOEXEC, 0, NULL);
	if (fd < 0)
		return NULL;
	char buf[64] = {0};
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	size_t i = 0;
	while (i < (size_t)n && buf[i] >= '0' && buf[i] <= '9')
		i++;
	return i > 0 && i < 4 ? berth_xstrndup(buf, i) : NULL;
}

static void default_tags(const struct berth_base_spec *spec, const char *major,
			 struct berth_strv *tags)
{
	const char *slim = spec->kind == BERTH_BASE_DEBIAN_SLIM ? "-slim" : "";
	berth_strv_pushf(tags, "docker.io/library/debian:%s%s", spec->suite, slim);
	if (major && strcmp(major, spec->suite))
		berth_strv_pushf(tags, "docker.io/library/debian:%s%s", major, slim);
}

/* ------------------------------------------------------------- create */

static int chroot_apt(const char *chroot_bin, const char *dir, const char *const *args,
		      const struct berth_base_opts *o, struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv argv = BERTH_STRV_INIT, env = BERTH_STRV_INIT;
	berth_strv_push(&argv, chroot_bin);
	berth_strv_push(&argv, dir);
	_cleanup_buf_ struct berth_buf shown;
	berth_buf_init(&shown, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; args[i]; i++) {
		berth_strv_push(&argv, args[i]);
		berth_buf_addf(&shown, "%s%s", i ? " " : "", args[i]);
	}
	tool_env(&env);
	int status;
	if (run_tool(argv.v, env.v, o->log_fd, &status, err) < 0)
		return -1;
	if (status != 0)
		return berth_err_set(
		    err, BERTH_E_SYS, "'%s' in the new system exited with status %d%s", shown.data,
		    status, o->log_fd < 0 ? " (run without --quiet to see its output)" : "");
	return 0;
}

static int build_rootfs(struct berth_store *s, const struct berth_base_spec *spec,
			const struct berth_base_opts *o, const char *dir,
			const struct berth_apt_mirror *m, int64_t *epoch,
			struct berth_base_result *out, struct berth_err **err)
{
	_cleanup_free_ char *debootstrap = berth_base_find_debootstrap(err);
	if (!debootstrap)
		return -1;
	_cleanup_free_ char *chroot_bin = find_tool("chroot");
	if (!chroot_bin)
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "chroot is not installed: apt-get install coreutils");
	_cleanup_free_ char *cache = berth_xasprintf("%s/cache/debootstrap", berth_store_home(s));
	if (berth_fs_mkdir_p(cache, 0700, err) < 0)
		return -1;

	berth__base_step(o, "debootstrap --variant=minbase %s from %s (mirror from %s)",
			 spec->suite, m->uri, m->origin);
	_cleanup_strv_ struct berth_strv argv = BERTH_STRV_INIT, env = BERTH_STRV_INIT;
	berth_base_debootstrap_argv(debootstrap, spec->suite, dir, m->uri, cache, &argv);
	tool_env(&env);
	int status;
	int r = run_tool(argv.v, env.v, o->log_fd, &status, err);
	unmount_under(dir);
	if (r < 0)
		return -1;
	if (status != 0) {
		_cleanup_free_ char *log = berth_xasprintf("%s/debootstrap/debootstrap.log", dir);
		_cleanup_free_ char *tail = log_tail(log);
		return berth_err_set(err, BERTH_E_SYS,
				     "debootstrap %s from %s exited with status %d; is the mirror "
				     "reachable (--mirror URL)?%s",
				     spec->suite, m->uri, status, tail ? tail : "");
	}

	_cleanup_close_ int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return berth_err_sys(err, errno, "open the new system '%s'", dir);
	if (minimizing_config(rootfd, err) < 0 || write_sources(rootfd, spec->suite, m, err) < 0)
		return -1;

	berth__base_step(o, "apt-get update && apt-get full-upgrade: %s-updates%s", spec->suite,
			 m->security ? " and security fixes" : " (no security mirror known)");
	static const char *const update[] = {"apt-get", "update", "-qq", NULL};
	static const char *const upgrade[] = {"apt-get", "full-upgrade", "-yqq", NULL};
	r = chroot_apt(chroot_bin, dir, update, o, err);
	if (r == 0)
		r = chroot_apt(chroot_bin, dir, upgrade, o, err);
	unmount_under(dir);
	if (r < 0)
		return -1;

	*epoch = o->source_date_epoch;
	if (*epoch < 0) {
		_cleanup_close_ int lists = berth_fs_open_beneath(
		    rootfd, "/var/lib/apt/lists", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, err);
		if (lists < 0)
			return -1;
		*epoch = berth__base_release_epoch(lists);
		if (*epoch < 0)
			return berth_err_set(err, BERTH_E_INVALID,
					     "no Release file in the new system's apt lists has a "
					     "Date: set SOURCE_DATE_EPOCH");
	}
	if (spec->kind == BERTH_BASE_DEBIAN_SLIM) {
		berth__base_step(o, "slimify: documentation, man pages and translations");
		size_t files;
		int64_t bytes;
		if (berth__base_slimify(rootfd, &files, &bytes, err) < 0)
			return -1;
		out->removed_summary =
		    berth_xasprintf("%zu files, %lld bytes", files, (long long)bytes);
	}
	berth__base_step(o, "clean: apt lists and caches, logs, /dev, host files; dates clamped "
			    "to SOURCE_DATE_EPOCH");
	return fixup(rootfd, *epoch, err);
}

int berth__base_debian(struct berth_store *s, const struct berth_base_spec *spec,
		       const struct berth_base_opts *o, struct berth_base_result *out,
		       struct berth_err **err)
{
	struct berth_apt_mirror m;
	if (berth_base_pick_mirror(o->mirror, o->apt_root, spec->suite, &m, err) < 0)
		return -1;
	out->mirror = berth_xstrdup(m.uri);
	int r = private_mounts(err);
	_cleanup_free_ char *dir = r == 0 ? berth_store_layer_scratch(s, "base", err) : NULL;
	if (r < 0 || !dir) {
		berth_apt_mirror_release(&m);
		return -1;
	}
	int64_t epoch = -1;
	r = build_rootfs(s, spec, o, dir, &m, &epoch, out, err);
	_cleanup_strv_ struct berth_strv tags = BERTH_STRV_INIT;
	if (r == 0) {
		_cleanup_close_ int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		_cleanup_free_ char *major = rootfd >= 0 ? debian_major(rootfd) : NULL;
		if (o->tag)
			berth_strv_push(&tags, o->tag);
		else
			default_tags(spec, major, &tags);
		_cleanup_json_ json_t *config =
		    json_pack("{s:[s], s:[s]}", "Env", BERTH__BASE_PATH, "Cmd", "bash");
		_cleanup_free_ char *by = berth_xasprintf(
		    "berth base create %s: debootstrap --variant=minbase %s %s%s", spec->name,
		    spec->suite, m.uri, spec->kind == BERTH_BASE_DEBIAN_SLIM ? ", slimified" : "");
		struct berth__base_image img = {.rootfs = dir,
						.epoch = epoch,
						.config = config,
						.created_by = by,
						.tags = &tags};
		berth__base_step(o, "pack the system as one layer");
		r = berth__base_commit(s, &img, out, err);
	}
	if (r < 0) {
		unmount_under(dir);
		berth_fs_remove_tree(AT_FDCWD, dir, NULL);
	}
	berth_apt_mirror_release(&m);
	return r;
}
