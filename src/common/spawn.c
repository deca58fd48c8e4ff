/* Process spawning with posix_spawn: stdio from given fds, /dev/null or pipes,
 * every other fd closed in the child, signals reset to their defaults, and
 * both captures drained with poll so that neither pipe can fill and stall the
 * child. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#define SPAWN_CHUNK 16384

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_pair(int p[2])
{
	close_fd(&p[0]);
	close_fd(&p[1]);
}

/* posix_spawn_file_actions_* and posix_spawnattr_* fail only for lack of
 * memory or a bad fd number. */
static int spawn_check(int rc, const char *prog, const char *what, struct berth_err **err)
{
	if (rc == 0)
		return 0;
	if (rc == ENOMEM)
		berth_oom();
	return berth_err_sys(err, rc, "start '%s': %s", prog, what);
}

/* The child's dup2 actions run in order 0, 1, 2; a source in 0..2 other than
 * its own target could be overwritten by an earlier one, so move it above
 * stdio first (into *moved, which the caller closes). *fd is updated. */
static int spawn_source_fd(int *fd, int target, int *moved, const char *prog,
			   struct berth_err **err)
{
	if (*fd < 0 || *fd > STDERR_FILENO || *fd == target)
		return 0;
	*moved = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (*moved < 0)
		return berth_err_sys(err, errno, "start '%s': duplicate fd %d", prog, *fd);
	*fd = *moved;
	return 0;
}

static int spawn_pipe(int p[2], const char *prog, struct berth_err **err)
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return berth_err_sys(err, errno, "start '%s': create pipe", prog);
	return 0;
}

/* Start the process. With out_r/err_r non-NULL, the captures named in sp are
 * set up and their read ends handed back (-1 for none). */
static pid_t spawn_start(const struct berth_spawn *sp, int *out_r, int *err_r,
			 struct berth_err **err)
{
	if (!sp->argv || !sp->argv[0])
		return berth_err_set(err, BERTH_E_INVALID, "start process: empty argv");
	const char *prog = sp->argv[0];
	int pout[2] = {-1, -1}, perr[2] = {-1, -1};
	int moved[3] = {-1, -1, -1};
	int src[3];
	pid_t pid = -1;
	int r;

	if (sp->capture_out && (r = spawn_pipe(pout, prog, err)) < 0)
		return r;
	if (sp->capture_err && (r = spawn_pipe(perr, prog, err)) < 0) {
		close_pair(pout);
		return r;
	}

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	if (posix_spawn_file_actions_init(&fa) != 0 || posix_spawnattr_init(&attr) != 0)
		berth_oom();

	src[0] = sp->stdin_fd;
	src[1] = sp->capture_out ? pout[1] : sp->stdout_fd;
	src[2] = sp->capture_err ? perr[1] : sp->stderr_fd;
	for (int i = 0; i < 3; i++) {
		r = spawn_source_fd(&src[i], i, &moved[i], prog, err);
		if (r < 0)
			goto out;
	}

	if (src[0] >= 0)
		r = spawn_check(posix_spawn_file_actions_adddup2(&fa, src[0], STDIN_FILENO), prog,
				"bad stdin fd", err);
	else
		r = spawn_check(
		    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0),
		    prog, "open '/dev/null'", err);
	if (r == 0 && src[1] >= 0)
		r = spawn_check(posix_spawn_file_actions_adddup2(&fa, src[1], STDOUT_FILENO), prog,
				"bad stdout fd", err);
	if (r == 0 && src[2] >= 0)
		r = spawn_check(posix_spawn_file_actions_adddup2(&fa, src[2], STDERR_FILENO), prog,
				"bad stderr fd", err);
	if (r == 0 && sp->cwd)
		r = spawn_check(posix_spawn_file_actions_addchdir_np(&fa, sp->cwd), prog,
				"working directory", err);
	/* Whatever the caller forgot to mark close-on-exec stays here. */
	if (r == 0)
		r = spawn_check(posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1),
				prog, "close fds", err);
	if (r < 0)
		goto out;

	/* The child starts clean even if we block or handle signals (a server
	 * ignores SIGPIPE; the child must not inherit that). */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

	char *const *envp = sp->envp ? sp->envp : environ;
	int rc = strchr(prog, '/') ? posix_spawn(&pid, prog, &fa, &attr, sp->argv, envp)
				   : posix_spawnp(&pid, prog, &fa, &attr, sp->argv, envp);
	if (rc != 0) {
		if (sp->cwd)
			r = berth_err_sys(err, rc, "start '%s' in '%s'", prog, sp->cwd);
		else
			r = berth_err_sys(err, rc, "start '%s'", prog);
	}
out:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (int i = 0; i < 3; i++)
		close_fd(&moved[i]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	if (r < 0) {
		close_fd(&pout[0]);
		close_fd(&perr[0]);
		return r;
	}
	if (out_r)
		*out_r = pout[0];
	if (err_r)
		*err_r = perr[0];
	return pid;
}

pid_t berth_spawn_start(const struct berth_spawn *sp, struct berth_err **err)
{
	if (sp->capture_out || sp->capture_err)
		return berth_err_set(err, BERTH_E_INVALID,
				     "start '%s': captures need berth_spawn_run",
				     sp->argv && sp->argv[0] ? sp->argv[0] : "");
	return spawn_start(sp, NULL, NULL, err);
}

int berth_spawn_wait(pid_t pid, int *status, struct berth_err **err)
{
	int ws;
	for (;;) {
		pid_t r = waitpid(pid, &ws, 0);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR)
			continue;
		return berth_err_sys(err, errno, "wait for process '%d'", (int)pid);
	}
	if (WIFEXITED(ws))
		*status = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		*status = 128 + WTERMSIG(ws);
	else
		BUG("waitpid returned status %#x for a blocking wait", ws);
	return 0;
}

/* Append what fits under the buffer's cap; the rest is read and dropped (the
 * child must never block on a full pipe) and the buffer marked full. */
static void capture_add(struct berth_buf *b, const char *p, size_t n)
{
	size_t room = b->max - b->len;
	if (n > room) {
		berth_buf_add(b, p, room);
		b->full = true;
		return;
	}
	berth_buf_add(b, p, n);
}

/* Drain both pipes until each reaches end of file. Closes them. */
static int capture_collect(int fds[2], struct berth_buf *bufs[2], const char *prog,
			   struct berth_err **err)
{
	char chunk[SPAWN_CHUNK];
	for (;;) {
		struct pollfd pfd[2];
		int which[2];
		nfds_t n = 0;
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0)
				continue;
			pfd[n] = (struct pollfd){.fd = fds[i], .events = POLLIN};
			which[n++] = i;
		}
		if (!n)
			return 0;
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "collect output of '%s'", prog);
		}
		for (nfds_t k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			int i = which[k];
			ssize_t got = read(fds[i], chunk, sizeof(chunk));
			if (got < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				return berth_err_sys(err, errno, "collect output of '%s'", prog);
			}
			if (got == 0)
				close_fd(&fds[i]);
			else
				capture_add(bufs[i], chunk, (size_t)got);
		}
	}
}

int berth_spawn_run(const struct berth_spawn *sp, int *status, struct berth_err **err)
{
	int fds[2] = {-1, -1};
	pid_t pid = spawn_start(sp, &fds[0], &fds[1], err);
	if (pid < 0)
		return pid;
	struct berth_buf *bufs[2] = {sp->capture_out, sp->capture_err};
	int r = capture_collect(fds, bufs, sp->argv[0], err);
	/* On a collect error the closed pipes end the child with SIGPIPE at
	 * its next write; reap it either way so no zombie is left. */
	close_fd(&fds[0]);
	close_fd(&fds[1]);
	int st = 0;
	int w = berth_spawn_wait(pid, &st, r < 0 ? NULL : err);
	if (r < 0)
		return r;
	if (w < 0)
		return w;
	*status = st;
	return 0;
}
