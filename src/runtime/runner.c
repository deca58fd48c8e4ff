/* Creating a runner (its directory, id and state) and starting it, either
 * with the calling process as the monitor or under a detached one. */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Shell-like rendering of argv for `container ls`. */
static char *render_command(const struct berth_strv *args)
{
	struct berth_buf b;
	berth_buf_init(&b, 4096);
	for (size_t i = 0; i < args->n; i++) {
		const char *a = args->v[i];
		if (i)
			berth_buf_addch(&b, ' ');
		if (*a && !strpbrk(a, " \t\n\"'\\$`")) {
			berth_buf_addstr(&b, a);
			continue;
		}
		berth_buf_addch(&b, '"');
		for (; *a; a++) {
			if (strchr("\"\\$`", *a))
				berth_buf_addch(&b, '\\');
			berth_buf_addch(&b, *a);
		}
		berth_buf_addch(&b, '"');
	}
	return berth_buf_steal(&b, NULL);
}

static void new_id(char id[17])
{
	uint8_t raw[8];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x =
		    (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
		memcpy(raw, &x, sizeof(raw));
	}
	berth_hex_encode(raw, sizeof(raw), id);
}

static int check_name(const char *home, const char *name, struct berth_err **err)
{
	struct berth_runner_info *all = NULL;
	size_t n = 0;
	if (berth_runner_list(home, &all, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rc && all[i].name && strcmp(all[i].name, name) == 0)
			rc = berth_err_set(err, BERTH_E_EXISTS,
					   "name '%s' is already used by container %s; remove it "
					   "(berth container rm %s) or pick another name",
					   name, all[i].id, name);
		berth_runner_info_release(&all[i]);
	}
	free(all);
	return rc;
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 128 ||
	    !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    *s))
			return false;
	return true;
}

/* Is dir a directory of ours that nobody else can write or read? */
static bool private_dir(const char *dir)
{
	struct stat st;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return false;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	       (st.st_mode & 0077) == 0;
}

/* The runtime's --root. It keeps a copy of config.json, whose environment
 * holds the app's secrets, so it goes on a tmpfs when there is one (like
 * podman's runroot): /run, else /dev/shm, in a 0700 directory per state
 * dir. Else $BERTH_HOME/run. */
static char *runtime_root(const char *home, const char *name)
{
	char hex[17];
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)berth__fnv1a(home, strlen(home)));
	const char *const tmpfs[] = {"/run", "/dev/shm"};
	for (size_t i = 0; i < sizeof(tmpfs) / sizeof(tmpfs[0]); i++) {
		struct statfs fs;
		if (statfs(tmpfs[i], &fs) < 0 || fs.f_type != TMPFS_MAGIC)
			continue;
		_cleanup_free_ char *dir = berth_xasprintf("%s/berth-%s", tmpfs[i], hex);
		if (private_dir(dir))
			return berth_xasprintf("%s/%s", dir, name);
	}
	return berth_xasprintf("%s/run/%s", home, name);
}

int berth_runner_create(const char *home, const struct berth_container_opts *o,
			struct berth_runner **out, struct berth_err **err)
{
	*out = NULL;
	if (o->name && !valid_name(o->name))
		return berth_err_set(err, BERTH_E_INVALID,
				     "name '%s': use letters, digits, '_', '.' and '-', starting "
				     "with a letter or digit",
				     o->name);
	struct berth_runner *r = berth_xcalloc(1, sizeof(*r));
	r->lock_fd = -1;
	r->o = o;
	r->home = berth_xstrdup(home);
	int rc = -1;
	_cleanup_free_ char *runners = berth_xasprintf("%s/runners", home);
	_cleanup_free_ char *tmp = NULL, *lock = NULL;
	if (berth__process_args(o, &r->args, err) < 0 ||
	    berth_oci_runtime_find(o->runtime, &r->rt, err) < 0)
		goto fail;
	if (o->name && check_name(home, o->name, err) < 0)
		goto fail;
	if (o->gpus) {
		/* Say now, before anything is made, when the GPUs are not there. */
		struct berth_gpu_set g;
		int gr = berth_gpu_discover(&o->gpu_opts, o->gpus, &g, err);
		berth_gpu_set_release(&g);
		if (gr < 0)
			goto fail;
	}
	/* BERTH_CGROUP_ROOT: where to look instead of /sys/fs/cgroup (tests
	 * use it to see the warning for a layout without controllers). */
	const char *cg_root = getenv("BERTH_CGROUP_ROOT");
	berth_cgroup_detect("/sys/fs/cgroup", &r->cg);
	r->host_hybrid = r->cg.mode == BERTH_CGROUP_HYBRID;
	if (cg_root && *cg_root)
		berth_cgroup_detect(cg_root, &r->cg);
	if ((o->memory && !r->cg.memory) || (o->cpus > 0 && !r->cg.cpu) || (o->pids && !r->cg.pids))
		berth_strv_pushf(&r->warnings,
				 "resource limits not applied: the %s cgroup layout here has no "
				 "%s controller",
				 berth_cgroup_mode_name(r->cg.mode),
				 o->memory && !r->cg.memory  ? "memory"
				 : o->cpus > 0 && !r->cg.cpu ? "cpu"
							     : "pids");

	r->no_cgroup = !strcmp(r->rt.name, "crun") && !(o->memory && r->cg.memory) &&
		       !(o->cpus > 0 && r->cg.cpu) && !(o->pids && r->cg.pids);
	r->rt_root = runtime_root(home, r->rt.name);
	if (berth_fs_mkdir_p(runners, 0700, err) < 0 || berth_fs_mkdir_p(r->rt_root, 0700, err) < 0)
		goto fail;

	/* Build the directory under a hidden name with the lock held, then
	 * rename: recover() never sees a runner that nobody holds. */
	for (int attempt = 0;; attempt++) {
		new_id(r->id);
		free(tmp);
		tmp = berth_xasprintf("%s/.%s", runners, r->id);
		if (mkdir(tmp, 0700) == 0)
			break;
		if (errno != EEXIST || attempt == 10) {
			berth_err_sys(err, errno, "create runner directory '%s'", tmp);
			goto fail;
		}
	}
	r->dir = berth_xasprintf("%s/%s", runners, r->id);
	lock = berth_xasprintf("%s/lock", tmp);
	r->lock_fd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX) < 0) {
		berth_err_sys(err, errno, "runner lock '%s'", lock);
		goto fail_tmp;
	}
	struct berth_runner_info *i = &r->info;
	memcpy(i->id, r->id, sizeof(i->id));
	i->status = BERTH_RUNNER_CREATED;
	i->created = (int64_t)time(NULL);
	i->name = o->name ? berth_xstrdup(o->name) : NULL;
	i->image = o->image ? berth_xstrdup(o->image) : NULL;
	i->command = render_command(&r->args);
	i->runtime_path = berth_xstrdup(r->rt.path);
	i->runtime_root = berth_xstrdup(r->rt_root);
	i->rm = o->rm;
	if (berth__state_write(tmp, i, o->rm, err) < 0)
		goto fail_tmp;
	if (rename(tmp, r->dir) < 0) {
		berth_err_sys(err, errno, "create runner directory '%s'", r->dir);
		goto fail_tmp;
	}
	*out = r;
	return 0;
fail_tmp:
	berth_fs_remove_tree(AT_FDCWD, tmp, NULL);
fail:
	berth_runner_free(r);
	return rc;
}

const char *berth_runner_id(const struct berth_runner *r)
{
	return r->id;
}

const struct berth_strv *berth_runner_warnings(const struct berth_runner *r)
{
	return &r->warnings;
}

void berth_runner_free(struct berth_runner *r)
{
	if (!r)
		return;
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r->home);
	free(r->dir);
	free(r->rt_root);
	berth_oci_runtime_release(&r->rt);
	berth_strv_release(&r->args);
	berth_strv_release(&r->warnings);
	berth_runner_info_release(&r->info);
	free(r);
}

int berth_runner_run(struct berth_runner *r, const struct berth_runner_io *io, int *exit_code,
		     struct berth_err **err)
{
	return berth__monitor(r, io, -1, exit_code, err);
}

bool berth_runner_stop_signalled(const struct berth_runner *r)
{
	return r->stop_signalled;
}

/* Read the monitor's one-line report. */
static int read_report(int fd, pid_t *monitor, struct berth_err **err)
{
	char buf[4096];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (strncmp(buf, "ok ", 3) == 0) {
		if (monitor)
			*monitor = (pid_t)strtol(buf + 3, NULL, 10);
		return 0;
	}
	if (strncmp(buf, "error ", 6) == 0)
		return berth_err_set(err, BERTH_E_SYS, "%s", buf + 6);
	return berth_err_set(err, BERTH_E_INTERNAL, "the runner's monitor died before it started");
}

int berth_runner_start(struct berth_runner *r, pid_t *monitor, struct berth_err **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return berth_err_sys(err, errno, "start runner: pipe");
	int rc = berth__runner_exec_monitor(r, p[1], err);
	close(p[1]);
	if (rc == 0)
		rc = read_report(p[0], monitor, err);
	close(p[0]);
	if (rc == 0 && r->lock_fd >= 0) {
		close(r->lock_fd); /* the monitor holds the lock now */
		r->lock_fd = -1;
	}
	return rc;
}
