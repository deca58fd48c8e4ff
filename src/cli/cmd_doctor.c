/* `berth doctor`: checks this machine for what berth needs and says how to
 * fix each problem, one line per check (ok, warn, fail). Each check asks the
 * module that owns the thing (runtime/ for runtimes, cgroups and GPUs, image/
 * for the store, base/ for base images, app/ for the SDK) or tries it for
 * real: a container is run, an overlay is mounted, SQLite's WAL is written. */
#include "app/app.h"
#include "base/base.h"
#include "cli/cli.h"
#include "image/image.h"
#include "runtime/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DOCTOR_TOOL_TIMEOUT_MS 60000 /* a trial container, nvidia-smi, --version */
#define DOCTOR_OUTPUT_MAX      (64u << 10)
#define DOCTOR_DISK_FAIL       (512ll << 20) /* free bytes below which nothing fits */
#define DOCTOR_DISK_WARN       (5ll << 30)   /* a CUDA image alone is several GB */
#define DOCTOR_CONFIG_MAX      BERTH_JSON_MAX

static const char usage[] =
    "usage: berth doctor [--format text|json]\n"
    "\n"
    "Checks this machine for what berth needs: root, the OCI runtimes (and runs\n"
    "a container on each), overlayfs, cgroups, GPUs, the state directory and its\n"
    "database, registries and logins (names only), python3 for SDK apps,\n"
    "debootstrap and busybox for base images, the seccomp profile, the SDK and a\n"
    "berth server at $BERTH_SERVER. One line per check: ok, warn or fail, and the\n"
    "fix. Exits 1 when a check fails.\n";

enum level { LV_OK, LV_WARN, LV_FAIL };
static const char *const level_names[] = {"ok", "warn", "fail"};

struct report {
	bool json;
	json_t *items;
	int counts[3];
};

static void report(struct report *r, enum level lv, const char *check, const char *fix,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void report(struct report *r, enum level lv, const char *check, const char *fix,
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = berth_xvasprintf(fmt, ap);
	va_end(ap);
	r->counts[lv]++;
	if (r->json) {
		json_array_append_new(r->items, json_pack("{s:s, s:s, s:s, s:s*}", "check", check,
							  "status", level_names[lv], "message", msg,
							  "fix", lv == LV_OK ? NULL : fix));
		return;
	}
	printf("%-4s  %-11s %s", level_names[lv], check, msg);
	if (lv != LV_OK && fix)
		printf(" (fix: %s)", fix);
	putchar('\n');
	fflush(stdout);
}

/* -------------------------------------------------------------- helpers */

/* Run argv with its output (stdout and stderr together) in *out, for at most
 * timeout_ms; *status as berth_spawn_wait(), or -1 when it was killed for
 * taking too long. */
static int run_tool(char *const *argv, char *const *envp, int timeout_ms, int *status,
		    struct berth_buf *out, struct berth_err **err)
{
	_cleanup_close_ int mfd = memfd_create("berth-doctor", MFD_CLOEXEC);
	if (mfd < 0)
		return berth_err_sys(err, errno, "memfd_create");
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.envp = envp;
	sp.stdout_fd = mfd;
	sp.stderr_fd = mfd;
	pid_t pid = berth_spawn_start(&sp, err);
	if (pid < 0)
		return -1;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ws;
	for (;;) {
		pid_t w = waitpid(pid, &ws, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return berth_err_sys(err, errno, "wait for '%s'", argv[0]);
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &ws, 0);
			*status = -1;
			goto read_out;
		}
		struct timespec nap = {0, 5 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
read_out:;
	char buf[4096];
	for (off_t off = 0;;) {
		ssize_t n = pread(mfd, buf, sizeof(buf), off);
		if (n <= 0 || berth_buf_add(out, buf, (size_t)n) < 0)
			break;
		off += n;
	}
	return 0;
}

/* The first line of text (trimmed), or "" — borrowed from a copy in *keep. */
static const char *first_line(const struct berth_buf *b, char **keep)
{
	const char *s = b->data ? b->data : "";
	while (*s == '\n' || *s == ' ')
		s++;
	size_t n = strcspn(s, "\n");
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	*keep = berth_xstrndup(s, n);
	return *keep;
}

/* The last non-empty line of text, or "". */
static char *last_line(const struct berth_buf *b)
{
	const char *s = b->data ? b->data : "";
	size_t end = b->len;
	while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == ' '))
		end--;
	size_t start = end;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	return berth_xstrndup(s + start, end - start);
}

static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs =
	    berth_xasprintf("%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = berth_xasprintf("%s/%s", *d ? d : ".", name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* `prog --version`'s first line, or NULL. free(). */
static char *version_of(const char *prog)
{
	char *const argv[] = {(char *)prog, (char *)"--version", NULL};
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, DOCTOR_OUTPUT_MAX);
	int status;
	if (run_tool(argv, NULL, 10000, &status, &out, NULL) < 0 || status != 0)
		return NULL;
	char *line;
	first_line(&out, &line);
	return line;
}

/* ------------------------------------------------------------- the checks */

static void check_user(struct report *r)
{
	if (geteuid() == 0)
		report(r, LV_OK, "user", NULL, "running as root");
	else
		report(r, LV_FAIL, "user", "run berth as root (sudo berth ...)",
		       "running as uid %d: containers, builds and overlay mounts need root",
		       (int)geteuid());
}

/* One runtime by name, found earlier (`found`) or not: its path and version. */
static void check_runtime(struct report *r, const char *name, bool found, bool other_found,
			  const struct berth_oci_runtime *rt)
{
	if (!found) {
		_cleanup_free_ char *fix = berth_xasprintf("apt-get install %s", name);
		report(r, other_found ? LV_WARN : LV_FAIL, "runtime", fix, "%s is not installed%s",
		       name, other_found ? " (berth uses either crun or runc)" : "");
		return;
	}
	_cleanup_free_ char *v = version_of(rt->path);
	report(r, LV_OK, "runtime", NULL, "%s at %s: %s", name, rt->path,
	       v ? v : "(no --version output)");
}

static void check_default_runtime(struct report *r)
{
	const char *env = getenv("BERTH_RUNTIME");
	struct berth_oci_runtime rt;
	struct berth_err *err = NULL;
	if (berth_oci_runtime_find(NULL, &rt, &err) < 0) {
		report(r, LV_FAIL, "runtime",
		       env && *env ? "unset BERTH_RUNTIME, or set it to crun, runc or a runtime's "
				     "path"
				   : "apt-get install crun runc",
		       "%s", err->msg);
		berth_err_free(err);
		return;
	}
	report(r, LV_OK, "runtime", NULL, "containers run on %s%s%s%s", rt.path,
	       env && *env ? " (BERTH_RUNTIME=" : "", env && *env ? env : "",
	       env && *env ? ")" : "");
	berth_oci_runtime_release(&rt);
}

/* The image a trial container runs: busybox from `berth base create`. */
#define DOCTOR_TRIAL_IMAGE "docker.io/library/busybox:latest"

static void check_container(struct report *r, struct berth_store *s,
			    const struct berth_oci_runtime *rt)
{
	struct berth_image_entry e;
	struct berth_err *err = NULL;
	if (!s) {
		report(r, LV_WARN, "container", "fix the state directory (above) first",
		       "%s not tried: the image store cannot be opened", rt->name);
		return;
	}
	if (berth_store_lookup(s, DOCTOR_TRIAL_IMAGE, &e, &err) < 0) {
		berth_err_free(err);
		report(r, LV_WARN, "container", "berth base create busybox",
		       "%s not tried: no busybox image in the store to run", rt->name);
		return;
	}
	berth_image_entry_release(&e);
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		report(r, LV_WARN, "container", NULL, "cannot find berth's own binary");
		return;
	}
	exe[n] = '\0';
	char *const argv[] = {exe,
			      (char *)"container",
			      (char *)"run",
			      (char *)"--rm",
			      (char *)"--runtime",
			      rt->path,
			      (char *)"--network",
			      (char *)"none",
			      (char *)"busybox:latest",
			      (char *)"true",
			      NULL};
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	for (char **p = environ; *p; p++)
		if (strncmp(*p, "BERTH_PULL=", 11))
			berth_strv_push(&env, *p);
	berth_strv_push(&env, "BERTH_PULL=never");
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, DOCTOR_OUTPUT_MAX);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int status;
	if (run_tool(argv, env.v, DOCTOR_TOOL_TIMEOUT_MS, &status, &out, &err) < 0) {
		report(r, LV_FAIL, "container", NULL, "%s: %s", rt->name, err->msg);
		berth_err_free(err);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	_cleanup_free_ char *why = last_line(&out);
	_cleanup_free_ char *fix = berth_xasprintf(
	    "run `berth container run --rm --runtime %s busybox true` to see the whole error; "
	    "docs/runtime.md",
	    rt->name);
	if (status == 0)
		report(r, LV_OK, "container", NULL, "%s ran `true` in busybox:latest in %ld ms",
		       rt->name, ms);
	else if (status < 0)
		report(r, LV_FAIL, "container", fix,
		       "%s: a trivial container did not finish in %d s", rt->name,
		       DOCTOR_TOOL_TIMEOUT_MS / 1000);
	else
		report(r, LV_FAIL, "container", fix, "%s cannot run a container (status %d): %s",
		       rt->name, status, why);
}

static bool has_overlay_fs(void)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 1u << 20);
	if (berth_fs_read_file("/proc/filesystems", 1u << 20, &b, NULL) < 0 || !b.data)
		return false;
	for (char *line = b.data; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *tab = strrchr(line, '\t');
		if (!strcmp(tab ? tab + 1 : line, "overlay"))
			return true;
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* In a child with its own mount namespace: mount an overlay over `dir`'s
 * lower/upper/work, read through it, delete a lower file (a whiteout must
 * appear in upper) and write a new one. Writes why it failed to `fd`. */
static int overlay_child(const char *dir, int fd)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		dprintf(fd, "enter a private mount namespace: %s", strerror(errno));
		return 1;
	}
	_cleanup_free_ char *opts =
	    berth_xasprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", dir, dir, dir);
	_cleanup_free_ char *merged = berth_xasprintf("%s/merged", dir);
	if (mount("overlay", merged, "overlay", 0, opts) < 0) {
		dprintf(fd, "mount an overlay in '%s': %s", dir, strerror(errno));
		return 1;
	}
	_cleanup_free_ char *f = berth_xasprintf("%s/merged/from-lower", dir);
	_cleanup_free_ char *nf = berth_xasprintf("%s/merged/new", dir);
	_cleanup_free_ char *wh = berth_xasprintf("%s/upper/from-lower", dir);
	_cleanup_free_ char *up = berth_xasprintf("%s/upper/new", dir);
	struct stat st;
	int rc = 0;
	if (access(f, R_OK) < 0) {
		dprintf(fd, "a lower file is not visible through the overlay");
		rc = 1;
	} else if (unlink(f) < 0) {
		dprintf(fd, "delete through the overlay: %s", strerror(errno));
		rc = 1;
	} else if (lstat(wh, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(0, 0)) {
		dprintf(fd, "deleting a lower file left no whiteout in the upper directory");
		rc = 1;
	} else {
		int w = open(nf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (w < 0 || lstat(up, &st) < 0) {
			dprintf(fd, "write through the overlay: %s", strerror(errno));
			rc = 1;
		}
		if (w >= 0)
			close(w);
	}
	umount2(merged, MNT_DETACH);
	return rc;
}

static void check_overlay(struct report *r, const char *home, bool home_ok)
{
	if (!has_overlay_fs()) {
		report(r, LV_FAIL, "overlay", "modprobe overlay, and add 'overlay' to /etc/modules",
		       "the kernel has no overlayfs (/proc/filesystems): containers and builds "
		       "stack image layers with it");
		return;
	}
	if (geteuid() != 0) {
		report(r, LV_WARN, "overlay", "run berth doctor as root",
		       "overlayfs is in the kernel; a test mount needs root");
		return;
	}
	/* Where containers' upper directories live: the state directory's
	 * filesystem decides whether overlay works there. */
	/* In layers/ with this process's pid in front, the store's repair
	 * removes it should doctor be killed half way. */
	_cleanup_free_ char *layers = berth_xasprintf("%s/layers", home);
	struct stat st;
	bool in_layers = home_ok && stat(layers, &st) == 0 && S_ISDIR(st.st_mode);
	_cleanup_free_ char *tmpl =
	    in_layers ? berth_xasprintf("%s/%d-doctor-XXXXXX", layers, (int)getpid())
	    : home_ok ? berth_xasprintf("%s/.doctor-overlay-XXXXXX", home)
		      : berth_xstrdup("/tmp/berth-doctor-XXXXXX");
	char *dir = mkdtemp(tmpl);
	if (!dir) {
		report(r, LV_FAIL, "overlay", NULL, "make a test directory: %s", strerror(errno));
		return;
	}
	static const char *const subs[] = {"lower", "upper", "work", "merged"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(subs); i++) {
		_cleanup_free_ char *p = berth_xasprintf("%s/%s", dir, subs[i]);
		mkdir(p, 0755);
	}
	_cleanup_free_ char *lf = berth_xasprintf("%s/lower/from-lower", dir);
	int lfd = open(lf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (lfd >= 0)
		close(lfd);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		report(r, LV_FAIL, "overlay", NULL, "pipe: %s", strerror(errno));
		berth_fs_remove_tree(AT_FDCWD, dir, NULL);
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(overlay_child(dir, p[1]));
	}
	close(p[1]);
	char why[512] = {0};
	ssize_t got = pid > 0 ? read(p[0], why, sizeof(why) - 1) : -1;
	(void)got;
	close(p[0]);
	int ws = 0;
	if (pid > 0)
		waitpid(pid, &ws, 0);
	berth_fs_remove_tree(AT_FDCWD, dir, NULL);
	if (pid > 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		report(r, LV_OK, "overlay", NULL,
		       "overlayfs mounts, reads, whiteouts and writes work in %s",
		       home_ok ? home : "/tmp");
	else
		report(r, LV_FAIL, "overlay",
		       "put BERTH_HOME on ext4 or xfs (overlayfs needs a local filesystem with "
		       "xattrs for its upper directory)",
		       "%s",
		       pid < 0  ? strerror(errno)
		       : why[0] ? why
				: "the test mount failed");
}

static void check_cgroups(struct report *r)
{
	const char *root = getenv("BERTH_CGROUP_ROOT");
	struct berth_cgroup_info ci;
	berth_cgroup_detect(root && *root ? root : "/sys/fs/cgroup", &ci);
	const char *mode = berth_cgroup_mode_name(ci.mode);
	if (ci.mode == BERTH_CGROUP_NONE) {
		report(r, LV_WARN, "cgroups",
		       "mount cgroup2 at /sys/fs/cgroup (systemd does this at boot)",
		       "no cgroups at %s: --memory, --cpus and --pids-limit cannot apply",
		       root && *root ? root : "/sys/fs/cgroup");
		return;
	}
	_cleanup_buf_ struct berth_buf missing;
	berth_buf_init(&missing, BERTH_BUF_UNLIMITED);
	if (!ci.memory)
		berth_buf_addstr(&missing, " memory (--memory)");
	if (!ci.cpu)
		berth_buf_addstr(&missing, " cpu (--cpus)");
	if (!ci.pids)
		berth_buf_addstr(&missing, " pids (--pids-limit)");
	if (missing.len)
		report(r, LV_WARN, "cgroups",
		       "enable the controllers (cgroup v2: echo '+memory +cpu +pids' > "
		       "/sys/fs/cgroup/cgroup.subtree_control; or boot with "
		       "systemd.unified_cgroup_hierarchy=1)",
		       "%s layout; limits cannot use:%s", mode, missing.data);
	else
		report(r, LV_OK, "cgroups", NULL, "%s layout; memory, cpu and pids limits apply",
		       mode);
}

static void check_gpus(struct report *r)
{
	struct berth_gpu_opts o = {.dev_dir = getenv("BERTH_GPU_DEV_DIR"),
				   .lib_dirs = getenv("BERTH_GPU_LIB_DIRS"),
				   .bin_dirs = getenv("BERTH_GPU_BIN_DIRS")};
	struct berth_gpu_set g;
	struct berth_err *err = NULL;
	if (berth_gpu_discover(&o, 1, &g, &err) < 0) {
		/* The runtime's message speaks to `--gpus 1` and ends with its own
		 * advice: keep what it found, the fix says what to do. */
		const char *m = err->msg;
		if (!strncmp(m, "--gpus", 6) && strstr(m, ": "))
			m = strstr(m, ": ") + 2;
		size_t n = strcspn(m, ";");
		report(r, LV_WARN, "gpu",
		       "GPU apps need the NVIDIA driver: install it (Debian: nvidia-driver from "
		       "non-free) and check `nvidia-smi`; CPU apps need nothing",
		       "%.*s", (int)n, m);
		berth_err_free(err);
		return;
	}
	/* How many: /dev/nvidiaN nodes. */
	const char *dev = o.dev_dir ? o.dev_dir : "/dev";
	unsigned count = 0;
	DIR *d = opendir(dev);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *n = de->d_name;
		if (!strncmp(n, "nvidia", 6) && n[6] >= '0' && n[6] <= '9' &&
		    strspn(n + 6, "0123456789") == strlen(n + 6))
			count++;
	}
	if (d)
		closedir(d);
	/* Their names, from the driver's own tool when it is there. */
	_cleanup_free_ char *names = NULL;
	for (size_t i = 0; i < g.bins.n; i++) {
		const char *b = strrchr(g.bins.v[i], '/');
		if (strcmp(b ? b + 1 : g.bins.v[i], "nvidia-smi"))
			continue;
		char *const argv[] = {g.bins.v[i], (char *)"--query-gpu=name",
				      (char *)"--format=csv,noheader", NULL};
		_cleanup_buf_ struct berth_buf out;
		berth_buf_init(&out, DOCTOR_OUTPUT_MAX);
		int status;
		if (run_tool(argv, NULL, 20000, &status, &out, NULL) == 0 && status == 0) {
			first_line(&out, &names);
		}
	}
	report(r, LV_OK, "gpu", NULL, "%u NVIDIA GPU%s%s%s%s; %zu driver libraries, %zu tools",
	       count, count == 1 ? "" : "s", names ? " (" : "", names ? names : "",
	       names ? (count > 1 ? ", ...)" : ")") : "", g.libs.n, g.bins.n);
	berth_gpu_set_release(&g);
}

/* The state directory: there (or made), writable, with room. Returns whether
 * it can be used. */
static bool check_state(struct report *r, const char *home)
{
	struct berth_err *err = NULL;
	struct stat st;
	bool existed = stat(home, &st) == 0;
	if (!existed && berth_fs_mkdir_p(home, 0700, &err) < 0) {
		report(r, LV_FAIL, "state",
		       "set BERTH_HOME to a writable directory on a local disk, or fix the "
		       "permissions",
		       "cannot create the state directory %s: %s", home, err->msg);
		berth_err_free(err);
		return false;
	}
	_cleanup_free_ char *probe = berth_xasprintf("%s/.doctor-XXXXXX", home);
	int fd = mkstemp(probe);
	if (fd < 0) {
		int e = errno;
		report(r, LV_FAIL, "state",
		       e == EROFS
			   ? "remount it read-write, or set BERTH_HOME to a writable "
			     "directory"
			   : "set BERTH_HOME to a writable directory, or fix the permissions",
		       "the state directory %s is not writable: %s", home, strerror(e));
		return false;
	}
	close(fd);
	unlink(probe);
	report(r, LV_OK, "state", NULL, "%s %s and is writable", home,
	       existed ? "exists" : "was created");
	struct statvfs vfs;
	if (statvfs(home, &vfs) == 0) {
		long long avail = (long long)vfs.f_bavail * (long long)vfs.f_frsize;
		double gb = (double)avail / (1024.0 * 1024 * 1024);
		if (avail < DOCTOR_DISK_FAIL)
			report(r, LV_FAIL, "disk",
			       "free space (berth image rm what is not needed) or move BERTH_HOME",
			       "%.2f GiB free in %s: not enough for images and builds", gb, home);
		else if (avail < DOCTOR_DISK_WARN)
			report(r, LV_WARN, "disk",
			       "free space, or move BERTH_HOME to a larger disk",
			       "%.1f GiB free in %s: GPU images alone take several GB", gb, home);
		else
			report(r, LV_OK, "disk", NULL, "%.1f GiB free in %s", gb, home);
	}
	return true;
}

static int sqlite_exec(sqlite3 *db, const char *sql, char **msg)
{
	char *m = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &m);
	if (rc != SQLITE_OK && msg && !*msg)
		*msg = berth_xstrdup(m ? m : sqlite3_errmsg(db));
	sqlite3_free(m);
	return rc;
}

static char *journal_mode(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	char *mode = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		mode = berth_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return mode;
}

/* SQLite's write-ahead log in the state directory's filesystem: a scratch
 * database written by one connection and read by another (network
 * filesystems break WAL's shared memory). NULL on success, else why. */
static char *wal_works(const char *home)
{
	/* blobs/tmp/<pid>-...: the store's repair removes it if doctor is killed. */
	_cleanup_free_ char *path =
	    berth_xasprintf("%s/blobs/tmp/%d-doctor-wal.db", home, (int)getpid());
	sqlite3 *a = NULL, *b = NULL;
	char *why = NULL;
	if (sqlite3_open(path, &a) != SQLITE_OK)
		why = berth_xstrdup(sqlite3_errmsg(a));
	if (!why) {
		sqlite3_busy_timeout(a, 5000);
		_cleanup_free_ char *mode = NULL;
		if (sqlite_exec(a, "PRAGMA journal_mode=WAL", &why) == SQLITE_OK &&
		    ((mode = journal_mode(a)) == NULL || strcmp(mode, "wal")))
			why = berth_xasprintf("journal_mode is '%s', not 'wal'", mode ? mode : "?");
	}
	if (!why)
		sqlite_exec(a, "CREATE TABLE t(x); INSERT INTO t VALUES (42);", &why);
	if (!why && sqlite3_open(path, &b) != SQLITE_OK)
		why = berth_xstrdup(sqlite3_errmsg(b));
	if (!why) {
		sqlite3_stmt *st = NULL;
		sqlite3_busy_timeout(b, 5000);
		if (sqlite3_prepare_v2(b, "SELECT x FROM t", -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 42)
			why = berth_xasprintf("a second connection did not read the write: %s",
					      sqlite3_errmsg(b));
		sqlite3_finalize(st);
	}
	sqlite3_close(b);
	sqlite3_close(a);
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(sfx); i++) {
		_cleanup_free_ char *p = berth_xasprintf("%s%s", path, sfx[i]);
		unlink(p);
	}
	return why;
}

static struct berth_store *check_database(struct report *r, const char *home)
{
	struct berth_store *s = NULL;
	struct berth_err *err = NULL;
	if (berth_store_open(home, &s, &err) < 0) {
		report(r, LV_FAIL, "database",
		       "move the damaged berth.db away (images must then be pulled or made "
		       "again), or fix the state directory's permissions",
		       "%s", err->msg);
		berth_err_free(err);
		return NULL;
	}
	_cleanup_free_ char *why = wal_works(home);
	if (why) {
		report(r, LV_FAIL, "database",
		       "put BERTH_HOME on a local filesystem (SQLite's WAL does not work on "
		       "network filesystems)",
		       "berth.db opens, but SQLite's write-ahead log fails in %s: %s", home, why);
		return s;
	}
	struct berth_image_entry *list = NULL;
	size_t n = 0;
	if (berth_store_list(s, &list, &n, &err) < 0) {
		report(r, LV_FAIL, "database", "move the damaged berth.db away", "%s", err->msg);
		berth_err_free(err);
		return s;
	}
	for (size_t i = 0; i < n; i++)
		berth_image_entry_release(&list[i]);
	free(list);
	report(r, LV_OK, "database", NULL, "%s/berth.db opens (%zu image tag%s), WAL works", home,
	       n, n == 1 ? "" : "s");
	return s;
}

/* The registry names in a JSON file's "auths" (never anything else). */
static int auth_names(const char *path, const char *label, struct berth_buf *names,
		      struct berth_err **err)
{
	if (access(path, F_OK) < 0)
		return 0;
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, DOCTOR_CONFIG_MAX);
	if (berth_fs_read_file(path, DOCTOR_CONFIG_MAX, &b, err) < 0)
		return -1;
	_cleanup_json_ json_t *j = berth_json_loadb(b.data ? b.data : "", b.len, path, err);
	if (!j)
		return -1;
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(j, "auths"), key, v)
	    berth_buf_addf(names, "%s%s (%s)", names->len ? ", " : "", key, label);
	return 0;
}

static void check_registries(struct report *r, const char *home)
{
	struct berth_err *err = NULL;
	_cleanup_free_ char *cfg = berth_xasprintf("%s/config.json", home);
	_cleanup_buf_ struct berth_buf insecure;
	berth_buf_init(&insecure, BERTH_BUF_UNLIMITED);
	if (access(cfg, F_OK) == 0) {
		_cleanup_buf_ struct berth_buf b;
		berth_buf_init(&b, DOCTOR_CONFIG_MAX);
		_cleanup_json_ json_t *j = NULL;
		if (berth_fs_read_file(cfg, DOCTOR_CONFIG_MAX, &b, &err) == 0)
			j = berth_json_loadb(b.data ? b.data : "", b.len, cfg, &err);
		if (!j) {
			_cleanup_free_ char *fix = berth_xasprintf("correct or remove %s", cfg);
			report(r, LV_FAIL, "registries", fix, "%s", err->msg);
			berth_err_free(err);
			return;
		}
		json_t *list = json_object_get(j, "insecure_registries");
		size_t i;
		json_t *h;
		if (list && !json_is_array(list)) {
			_cleanup_free_ char *fix = berth_xasprintf(
			    "make it a list of hosts in %s: {\"insecure_registries\": "
			    "[\"registry.lan:5000\"]}",
			    cfg);
			report(r, LV_FAIL, "registries", fix,
			       "insecure_registries in %s is not a list", cfg);
			return;
		}
		json_array_foreach(list, i, h) if (json_is_string(h)) berth_buf_addf(
		    &insecure, "%s%s", insecure.len ? ", " : "", json_string_value(h));
	}
	/* Logins: `berth login`, then the Docker and containers files berth
	 * reads (berth_creds_lookup's order). Names only: never passwords. */
	_cleanup_buf_ struct berth_buf names;
	berth_buf_init(&names, BERTH_BUF_UNLIMITED);
	const char *uh = getenv("HOME");
	_cleanup_free_ char *own = berth_xasprintf("%s/auth.json", home);
	_cleanup_free_ char *docker = uh ? berth_xasprintf("%s/.docker/config.json", uh) : NULL;
	_cleanup_free_ char *podman =
	    uh ? berth_xasprintf("%s/.config/containers/auth.json", uh) : NULL;
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	_cleanup_free_ char *xdg_auth =
	    xdg && *xdg ? berth_xasprintf("%s/containers/auth.json", xdg) : NULL;
	const struct {
		const char *path, *label;
	} files[] = {{own, "berth login"},
		     {docker, "~/.docker/config.json"},
		     {xdg_auth, "$XDG_RUNTIME_DIR/containers/auth.json"},
		     {podman, "~/.config/containers/auth.json"}};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(files); i++) {
		if (files[i].path && auth_names(files[i].path, files[i].label, &names, &err) < 0) {
			_cleanup_free_ char *fix =
			    berth_xasprintf("correct or remove %s", files[i].path);
			report(r, LV_FAIL, "registries", fix, "%s", err->msg);
			berth_err_free(err);
			return;
		}
	}
	report(r, LV_OK, "registries", NULL, "insecure (plain HTTP): %s; logins: %s",
	       insecure.len ? insecure.data : "none besides localhost",
	       names.len ? names.data : "none");
}

static void check_python(struct report *r)
{
	_cleanup_free_ char *py = find_program("python3");
	if (!py) {
		report(r, LV_WARN, "python3", "apt-get install python3",
		       "no python3 on this host: berth reads SDK apps (app.py::Class) with it; "
		       "berth.yaml apps do not need it");
		return;
	}
	char *const argv[] = {py, (char *)"-c",
			      (char *)"import sys; print('%d.%d.%d' % sys.version_info[:3])", NULL};
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, DOCTOR_OUTPUT_MAX);
	int status;
	_cleanup_free_ char *v = NULL;
	if (run_tool(argv, NULL, 20000, &status, &out, NULL) < 0 || status != 0) {
		report(r, LV_WARN, "python3",
		       "reinstall python3 (apt-get install --reinstall python3)", "%s does not run",
		       py);
		return;
	}
	first_line(&out, &v);
	int major = 0, minor = 0;
	sscanf(v, "%d.%d", &major, &minor);
	if (major < 3 || (major == 3 && minor < 8))
		report(r, LV_WARN, "python3", "install python3 3.8 or newer",
		       "%s is python %s: the SDK needs 3.8 or newer", py, v);
	else
		report(r, LV_OK, "python3", NULL, "%s is python %s (reads SDK apps)", py, v);
}

static void check_base_tools(struct report *r)
{
	struct berth_err *err = NULL;
	_cleanup_free_ char *deb = berth_base_find_debootstrap(&err);
	if (!deb) {
		report(r, LV_WARN, "debootstrap", "apt-get install debootstrap",
		       "not installed: `berth base create debian:bookworm` needs it");
		berth_err_free(err);
	} else {
		_cleanup_free_ char *v = version_of(deb);
		struct berth_apt_mirror m;
		if (berth_base_pick_mirror(NULL, NULL, "bookworm", &m, &err) < 0) {
			report(r, LV_WARN, "debootstrap", NULL, "%s; %s", v ? v : deb, err->msg);
			berth_err_free(err);
		} else {
			report(r, LV_OK, "debootstrap", NULL, "%s; base images from %s (%s)",
			       v ? v : deb, m.uri, m.origin);
			berth_apt_mirror_release(&m);
		}
	}
	_cleanup_free_ char *bb = NULL;
	if (berth_base_find_busybox(NULL, &bb, &err) < 0) {
		report(r, LV_WARN, "busybox", "apt-get install busybox-static", "%s", err->msg);
		berth_err_free(err);
	} else {
		report(r, LV_OK, "busybox", NULL, "%s is static (berth base create busybox)", bb);
	}
}

static void check_seccomp(struct report *r)
{
	const char *env = getenv("BERTH_SECCOMP_PROFILE");
	const char *path = env && *env ? env : "/usr/share/containers/seccomp.json";
	_cleanup_strv_ struct berth_strv caps = BERTH_STRV_INIT;
	json_t *prof = NULL;
	struct berth_err *err = NULL;
	if (berth_seccomp_default(&caps, &prof, &err) < 0) {
		report(r, LV_FAIL, "seccomp",
		       "fix the profile, or unset BERTH_SECCOMP_PROFILE to use the default", "%s",
		       err->msg);
		berth_err_free(err);
		return;
	}
	if (!prof) {
		if (env && !strcmp(env, "unconfined"))
			report(r, LV_WARN, "seccomp", "unset BERTH_SECCOMP_PROFILE",
			       "BERTH_SECCOMP_PROFILE=unconfined: containers run without syscall "
			       "filtering");
		else
			report(r, LV_WARN, "seccomp",
			       "apt-get install golang-github-containers-common (it installs "
			       "/usr/share/containers/seccomp.json)",
			       "no seccomp profile at %s: containers run without syscall filtering",
			       path);
		return;
	}
	size_t n = json_array_size(json_object_get(prof, "syscalls"));
	report(r, LV_OK, "seccomp", NULL, "%s: %zu syscall rules", path, n);
	json_decref(prof);
}

static void check_sdk(struct report *r)
{
	struct berth_err *err = NULL;
	_cleanup_free_ char *dir = berth_app_sdk_dir(&err);
	if (!dir) {
		report(r, LV_FAIL, "sdk",
		       "set BERTH_SDK_DIR to the directory that holds berth/ (sdk/python in the "
		       "source tree), or reinstall berth",
		       "%s", err->msg);
		berth_err_free(err);
		return;
	}
	report(r, LV_OK, "sdk", NULL, "the python SDK is in %s", dir);
}

static void check_server(struct report *r)
{
	const char *url = cli_server_url(NULL);
	_cleanup_buf_ struct berth_buf body;
	berth_buf_init(&body, DOCTOR_OUTPUT_MAX);
	long status = 0;
	struct berth_err *err = NULL;
	if (cli_http(url, "GET", "/healthz", NULL, NULL, 0, &status, &body, &err) < 0) {
		_cleanup_free_ char *fix = berth_xasprintf(
		    "start one with `berth serve`, or point BERTH_SERVER at it (only deploy, "
		    "apps, queue, files, kv and keys need a server)");
		report(r, LV_WARN, "server", fix, "no berth server answers at %s", url);
		berth_err_free(err);
		return;
	}
	if (status != 200)
		report(r, LV_WARN, "server", "check the server's log",
		       "%s answers GET /healthz with %ld", url, status);
	else
		report(r, LV_OK, "server", NULL, "a berth server answers at %s", url);
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *format = "text";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			format = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("doctor", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage("doctor", "doctor takes no arguments");
	if (strcmp(format, "text") && strcmp(format, "json"))
		return cli_usage("doctor", "--format is text or json, not '%s'", format);
	struct report r = {.json = !strcmp(format, "json")};
	if (r.json)
		r.items = json_array();

	const char *home = cli_home();
	check_user(&r);
	struct berth_oci_runtime crun = {0}, runc = {0};
	bool have_crun = berth_oci_runtime_find("crun", &crun, NULL) == 0;
	bool have_runc = berth_oci_runtime_find("runc", &runc, NULL) == 0;
	check_runtime(&r, "crun", have_crun, have_runc, &crun);
	check_runtime(&r, "runc", have_runc, have_crun, &runc);
	check_default_runtime(&r);
	bool home_ok = check_state(&r, home);
	struct berth_store *s = home_ok ? check_database(&r, home) : NULL;
	if (have_crun)
		check_container(&r, s, &crun);
	if (have_runc)
		check_container(&r, s, &runc);
	check_overlay(&r, home, home_ok);
	check_cgroups(&r);
	check_gpus(&r);
	check_registries(&r, home);
	check_python(&r);
	check_base_tools(&r);
	check_seccomp(&r);
	check_sdk(&r);
	check_server(&r);
	if (s)
		berth_store_close(s);
	berth_oci_runtime_release(&crun);
	berth_oci_runtime_release(&runc);

	if (r.json) {
		_cleanup_buf_ struct berth_buf out;
		berth_buf_init(&out, BERTH_BUF_UNLIMITED);
		berth_json_dump_pretty(r.items, &out);
		fwrite(out.data, 1, out.len, stdout);
		json_decref(r.items);
	}
	fprintf(stderr, "berth doctor: %d ok, %d warning%s, %d failure%s\n", r.counts[LV_OK],
		r.counts[LV_WARN], r.counts[LV_WARN] == 1 ? "" : "s", r.counts[LV_FAIL],
		r.counts[LV_FAIL] == 1 ? "" : "s");
	return r.counts[LV_FAIL] ? CLI_FAIL : CLI_OK;
}
