/* Looking after runners from any berth process: list, find, signal, stop,
 * remove, read logs, and clean up after monitors that died. */
#include "runtime/runtime_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void berth_runner_info_release(struct berth_runner_info *i)
{
	free(i->name);
	free(i->image);
	free(i->command);
	free(i->runtime_path);
	free(i->runtime_root);
	free(i->error);
	memset(i, 0, sizeof(*i));
}

void berth_container_opts_release(struct berth_container_opts *o)
{
	free(o->image);
	free(o->image_digest);
	berth_strv_release(&o->lowers);
	json_decref(o->image_config);
	berth_strv_release(&o->entrypoint);
	berth_strv_release(&o->cmd);
	berth_strv_release(&o->env);
	free(o->cwd);
	free(o->user);
	free(o->name);
	free(o->hostname);
	free(o->id_env);
	for (size_t i = 0; i < o->nbinds; i++) {
		free(o->binds[i].source);
		free(o->binds[i].dest);
	}
	free(o->binds);
	berth_strv_release(&o->tmpfs);
	for (size_t i = 0; i < o->nsecrets; i++) {
		free(o->secrets[i].dest);
		if (o->secrets[i].data)
			explicit_bzero(o->secrets[i].data, o->secrets[i].len);
		free(o->secrets[i].data);
	}
	free(o->secrets);
	for (size_t i = 0; i < o->redact.n; i++)
		explicit_bzero(o->redact.v[i], strlen(o->redact.v[i]));
	berth_strv_release(&o->redact);
	free(o->upper_dir);
	free(o->runtime);
	memset(o, 0, sizeof(*o));
}

static char *runner_dir(const char *home, const char *id)
{
	return berth_xasprintf("%s/runners/%s", home, id);
}

/* Read one runner; `stale` when it claims to run but nobody holds it. */
static int read_info(const char *home, const char *id, struct berth_runner_info *out,
		     struct berth_err **err)
{
	_cleanup_free_ char *dir = runner_dir(home, id);
	if (berth__state_read(dir, out, err) < 0)
		return -1;
	if (out->status != BERTH_RUNNER_EXITED && !berth__runner_locked(dir))
		out->stale = true;
	return 0;
}

static int cmp_created(const void *a, const void *b)
{
	const struct berth_runner_info *x = a, *y = b;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

int berth_runner_list(const char *home, struct berth_runner_info **out, size_t *n,
		      struct berth_err **err)
{
	*out = NULL;
	*n = 0;
	_cleanup_free_ char *path = berth_xasprintf("%s/runners", home);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : berth_err_sys(err, errno, "list '%s'", path);
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ".", "..", and runners still being created */
		struct berth_runner_info info;
		if (read_info(home, de->d_name, &info, NULL) < 0)
			continue; /* removed while we looked, or not a runner */
		*out = berth_xgrow(*out, sizeof(**out), *n + 1, &cap);
		(*out)[(*n)++] = info;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_created);
	return 0;
}

int berth_runner_lookup(const char *home, const char *key, struct berth_runner_info *out,
			struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	struct berth_runner_info *all = NULL;
	size_t n = 0;
	if (!key || !*key)
		return berth_err_set(err, BERTH_E_INVALID, "no container given");
	if (berth_runner_list(home, &all, &n, err) < 0)
		return -1;
	ssize_t hit = -1;
	size_t prefix_hits = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].id, key) == 0 || (all[i].name && strcmp(all[i].name, key) == 0)) {
			hit = (ssize_t)i;
			prefix_hits = 1;
			break;
		}
		if (strncmp(all[i].id, key, strlen(key)) == 0) {
			hit = (ssize_t)i;
			prefix_hits++;
		}
	}
	int rc = 0;
	if (hit < 0)
		rc = berth_err_set(err, BERTH_E_NOT_FOUND,
				   "no container '%s'; see berth container ls", key);
	else if (prefix_hits > 1)
		rc = berth_err_set(err, BERTH_E_INVALID,
				   "'%s' matches %zu containers; give more of the id", key,
				   prefix_hits);
	else {
		*out = all[hit];
		memset(&all[hit], 0, sizeof(all[hit]));
	}
	for (size_t i = 0; i < n; i++)
		berth_runner_info_release(&all[i]);
	free(all);
	return rc;
}

int berth_runner_signal(const struct berth_runner_info *i, int sig, struct berth_err **err)
{
	if (i->status != BERTH_RUNNER_RUNNING || i->stale)
		return berth_err_set(err, BERTH_E_INVALID, "container %s is not running", i->id);
	char num[16];
	snprintf(num, sizeof(num), "%d", sig);
	const char *args[] = {"kill", i->id, num, NULL};
	return berth__runtime_call(i->runtime_path, i->runtime_root, args, err);
}

int berth_runner_wait_exit(const char *home, const char *id, int timeout_ms, struct berth_err **err)
{
	_cleanup_free_ char *dir = runner_dir(home, id);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int delay = 1;; delay = delay < 50 ? delay * 2 : 50) {
		if (!berth__runner_locked(dir))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t ms =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (timeout_ms >= 0 && ms >= timeout_ms)
			return berth_err_set(err, BERTH_E_TIMEOUT,
					     "container %s is still running after %d ms", id,
					     timeout_ms);
		poll(NULL, 0, delay);
	}
}

int berth_runner_stop(const char *home, const struct berth_runner_info *i, int grace,
		      struct berth_err **err)
{
	if (i->status != BERTH_RUNNER_RUNNING || i->stale)
		return 0;
	const char *term[] = {"kill", i->id, "TERM", NULL};
	const char *kill[] = {"kill", i->id, "KILL", NULL};
	/* The container may end between our look and the kill: not an error. */
	berth__runtime_call(i->runtime_path, i->runtime_root, term, NULL);
	if (berth_runner_wait_exit(home, i->id, grace * 1000, NULL) == 0)
		return 0;
	berth__runtime_call(i->runtime_path, i->runtime_root, kill, NULL);
	if (berth_runner_wait_exit(home, i->id, 30000, err) < 0)
		return berth_err_prefix(err, "stop container %s", i->id);
	return 0;
}

int berth_runner_remove(const char *home, const struct berth_runner_info *i, bool force,
			struct berth_err **err)
{
	if (i->status == BERTH_RUNNER_RUNNING && !i->stale) {
		if (!force)
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "container %s is running; stop it first or use --force", i->id);
		if (berth_runner_stop(home, i, 0, err) < 0)
			return -1;
	}
	_cleanup_free_ char *dir = runner_dir(home, i->id);
	if (berth__runner_locked(dir)) /* its monitor is still finishing */
		berth_runner_wait_exit(home, i->id, 5000, NULL);
	return berth_fs_remove_tree(AT_FDCWD, dir, err);
}

/* Unmount what this namespace has in the runner directory, then delete it. */
void berth__runner_unmount(const char *dir)
{
	static const char *const mounts[] = {"rootfs", "secrets", "bundle"};
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		_cleanup_free_ char *path = berth_xasprintf("%s/%s", dir, mounts[i]);
		umount2(path, MNT_DETACH);
	}
}

static void unmount_and_remove(const char *dir)
{
	berth__runner_unmount(dir);
	berth_fs_remove_tree(AT_FDCWD, dir, NULL);
}

void berth__runner_discard(const char *home, const char *id, bool background)
{
	_cleanup_free_ char *dir = runner_dir(home, id);
	_cleanup_free_ char *trash = berth_xasprintf("%s/runners/.trash-%s", home, id);
	const char *victim = rename(dir, trash) == 0 ? trash : dir;
	if (background) {
		/* The grandchild shares this mount namespace: it unmounts and
		 * deletes, and the namespace's teardown happens when it exits,
		 * not when the caller does. */
		pid_t child = fork();
		if (child == 0) {
			if (fork() == 0) {
				/* Let go of the caller's output, or a shell reading
				 * it would wait for the deletion. */
				int null = open("/dev/null", O_RDWR | O_CLOEXEC);
				for (int fd = 0; null >= 0 && fd < 3; fd++)
					dup2(null, fd);
				unmount_and_remove(victim);
			}
			_exit(0);
		}
		if (child > 0) {
			while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
				;
			return;
		}
	}
	unmount_and_remove(victim);
}

/* Trash is left alone this long: its deleter may still be at work. */
#define TRASH_GRACE_SECONDS 60

/* Trash left by a discard that did not finish, and directories of creators
 * that died before the rename (".<id>" whose lock nobody holds). */
static void sweep(const char *home)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/runners", home);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] != '.' || !strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		_cleanup_free_ char *p = berth_xasprintf("%s/%s", path, n);
		struct stat st;
		if (strncmp(n, ".trash-", 7) == 0) {
			/* The rename that made it trash set its ctime. */
			if (lstat(p, &st) == 0 &&
			    st.st_ctime + TRASH_GRACE_SECONDS < (time_t)time(NULL))
				berth_fs_remove_tree(AT_FDCWD, p, NULL);
		} else if (!berth__runner_locked(p)) {
			berth_fs_remove_tree(AT_FDCWD, p, NULL);
		}
	}
	closedir(d);
}

int berth_runners_recover(const char *home, int *cleaned, struct berth_err **err)
{
	sweep(home);
	if (cleaned)
		*cleaned = 0;
	struct berth_runner_info *all = NULL;
	size_t n = 0;
	if (berth_runner_list(home, &all, &n, err) < 0)
		return -1;
	for (size_t k = 0; k < n; k++) {
		struct berth_runner_info *i = &all[k];
		if (i->stale) {
			_cleanup_free_ char *dir = runner_dir(home, i->id);
			const char *kill[] = {"kill", i->id, "KILL", NULL};
			const char *del[] = {"delete", "--force", i->id, NULL};
			if (i->runtime_path && i->runtime_root) {
				berth__runtime_call(i->runtime_path, i->runtime_root, kill, NULL);
				berth__runtime_call(i->runtime_path, i->runtime_root, del, NULL);
			}
			/* Normally mounted only in the dead monitor's namespace. */
			_cleanup_free_ char *rootfs = berth_xasprintf("%s/rootfs", dir);
			_cleanup_free_ char *secrets = berth_xasprintf("%s/secrets", dir);
			umount2(rootfs, MNT_DETACH);
			umount2(secrets, MNT_DETACH);
			if (i->rm) {
				berth_fs_remove_tree(AT_FDCWD, dir, NULL);
			} else {
				i->status = BERTH_RUNNER_EXITED;
				i->exit_code = -1;
				i->finished = (int64_t)time(NULL);
				free(i->error);
				i->error = berth_xstrdup(
				    "its monitor died (berth was killed or the machine restarted); "
				    "the container was stopped");
				berth__state_write(dir, i, false, NULL);
			}
			if (cleaned)
				(*cleaned)++;
		}
		berth_runner_info_release(i);
	}
	free(all);
	return 0;
}
