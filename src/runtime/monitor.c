/* The monitor: one per running container. It makes a private mount
 * namespace (so the rootfs overlay and the secrets tmpfs exist only for this
 * container and vanish with it), writes the bundle, runs `RUNTIME run`,
 * copies the output to the log and to the caller, handles stop signals, and
 * records how the container ended. */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Output kept back until the runtime says the container started, so that a
 * failed start reads as one error instead of runtime noise. */
#define EARLY_OUTPUT_MAX (256u * 1024)
/* Redaction works on lines of at most this much; values shorter than
 * REDACT_MIN are left alone (masking "a" would mask everything). */
#define REDACT_LINE_MAX (64u * 1024)
#define REDACT_MIN      3

/* How often to look for the runtime's pid file while the container starts. */
#define START_POLL_MS 2

static int enter_private_namespace(const struct berth_runner *r, struct berth_err **err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return berth_err_sys(err, errno,
				     "enter a private mount namespace (containers need root)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return berth_err_sys(err, errno, "make the mount namespace private");
	/* crun refuses hybrid hosts whose cgroup2 mount holds controllers; in
	 * this private namespace the host's v1 hierarchies are all it needs. */
	if (r->host_hybrid)
		umount2("/sys/fs/cgroup/unified", MNT_DETACH);
	return 0;
}

/* The rootfs: an overlay of the image's layers with a private upper. */
static int mount_rootfs(const struct berth_runner *r, struct berth_err **err)
{
	const struct berth_container_opts *o = r->o;
	_cleanup_close_ int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "open '%s'", r->dir);
	if (mkdirat(dfd, "rootfs", 0755) < 0 || (!o->upper_dir && mkdirat(dfd, "upper", 0755) < 0))
		return berth_err_sys(err, errno, "prepare the rootfs in '%s'", r->dir);
	return berth_rootfs_mount(r->dir, &o->lowers, o->upper_dir ? o->upper_dir : "upper",
				  "rootfs", err);
}

/* --- the run loop --- */

struct loop {
	struct berth_runner *r;
	const struct berth_runner_io *io;
	struct berth__log_writer log;
	struct berth_buf early[2];   /* output before the start is known */
	struct berth_buf pending[2]; /* a partial line, when redacting */
	bool started, stopping;
	struct timespec kill_at; /* when stopping: SIGKILL then */
	int notify_fd;
};

static void write_fd(int fd, const char *p, size_t n)
{
	while (fd >= 0 && n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a caller that went away stops getting output */
		p += w;
		n -= (size_t)w;
	}
}

static void emit_now(struct loop *l, int stream, const char *p, size_t n)
{
	berth__log_add(&l->log, stream, p, n);
	write_fd(stream ? l->io->err_fd : l->io->out_fd, p, n);
}

/* Output with every o->redact value replaced by "****", line by line so a
 * value split across reads is still caught (a line over the buffer's cap
 * goes out in pieces). */
static void emit_redacted(struct loop *l, int stream, bool flush)
{
	struct berth_buf *p = &l->pending[stream];
	const struct berth_strv *rd = &l->r->o->redact;
	while (p->len) {
		char *nl = memchr(p->data, '\n', p->len);
		if (!nl && !flush && p->len < REDACT_LINE_MAX)
			return;
		size_t take = nl ? (size_t)(nl - p->data) + 1 : p->len;
		_cleanup_buf_ struct berth_buf out;
		berth_buf_init(&out, 2 * REDACT_LINE_MAX + 64);
		for (size_t i = 0; i < take;) {
			size_t hit = 0;
			for (size_t k = 0; k < rd->n && !hit; k++) {
				size_t vl = strlen(rd->v[k]);
				if (vl >= REDACT_MIN && vl <= take - i &&
				    !memcmp(p->data + i, rd->v[k], vl))
					hit = vl;
			}
			if (hit) {
				berth_buf_addstr(&out, "****");
				i += hit;
			} else {
				berth_buf_addch(&out, p->data[i++]);
			}
		}
		emit_now(l, stream, out.data, out.len);
		memmove(p->data, p->data + take, p->len - take);
		p->len -= take;
		p->data[p->len] = '\0';
	}
}

static void emit(struct loop *l, int stream, const char *p, size_t n)
{
	if (!l->r->o->redact.n) {
		emit_now(l, stream, p, n);
		return;
	}
	while (n) {
		size_t room = REDACT_LINE_MAX - l->pending[stream].len;
		size_t take = n < room ? n : room;
		berth_buf_add(&l->pending[stream], p, take);
		p += take;
		n -= take;
		emit_redacted(l, stream, false);
	}
}

static void mark_started(struct loop *l)
{
	if (l->started)
		return;
	l->started = true;
	for (int s = 0; s < 2; s++) {
		emit(l, s, l->early[s].data ? l->early[s].data : "", l->early[s].len);
		berth_buf_release(&l->early[s]);
	}
	struct berth_runner_info *i = &l->r->info;
	i->status = BERTH_RUNNER_RUNNING;
	i->monitor_pid = getpid();
	berth__state_write(l->r->dir, i, l->r->o->rm, NULL);
	if (l->notify_fd >= 0) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "ok %d\n", (int)getpid());
		write_fd(l->notify_fd, msg, (size_t)n);
		close(l->notify_fd);
		l->notify_fd = -1;
	}
}

static void on_output(struct loop *l, int stream, const char *p, size_t n)
{
	if (l->started) {
		emit(l, stream, p, n);
		return;
	}
	if (berth_buf_add(&l->early[stream], p, n) < 0) {
		/* A flood before the start is known: it did start. */
		mark_started(l);
		emit(l, stream, p, n);
	}
}

static void runtime_kill(struct loop *l, const char *sig)
{
	const char *args[] = {"kill", l->r->id, sig, NULL};
	berth__runtime_call(l->r->rt.path, l->r->rt_root, args, NULL);
}

static void on_stop_signal(struct loop *l)
{
	if (l->stopping) {
		runtime_kill(l, "KILL");
		return;
	}
	l->stopping = true;
	l->r->stop_signalled = true;
	int grace = l->r->o->stop_grace > 0 ? l->r->o->stop_grace : 10;
	clock_gettime(CLOCK_MONOTONIC, &l->kill_at);
	l->kill_at.tv_sec += grace;
	runtime_kill(l, "TERM");
}

static int ms_until(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

/* A start failure's exit code, Docker's way: 127 not found, 126 not
 * executable, 125 anything else. */
static int start_failure_code(const char *msg)
{
	if (strstr(msg, "not found") || strstr(msg, "No such file"))
		return 127;
	if (strstr(msg, "ermission denied") || strstr(msg, "exec format error"))
		return 126;
	return 125;
}

/* The runtime's message: its last non-empty line, without log prefixes. */
static char *failure_message(struct berth_buf *b)
{
	char *text = b->data ? b->data : (char *)"";
	size_t len = b->len;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	size_t start = len;
	while (start && text[start - 1] != '\n')
		start--;
	char *line = berth_xstrndup(text + start, len - start);
	/* runc logs as: time="..." level=error msg="..." */
	char *msg = strstr(line, "msg=\"");
	if (msg) {
		char *end = strrchr(msg + 5, '"');
		char *out =
		    berth_xstrndup(msg + 5, end ? (size_t)(end - msg - 5) : strlen(msg + 5));
		free(line);
		return out;
	}
	return line;
}

static int spawn_runtime(struct berth_runner *r, int out_w, int err_w, struct berth_err **err)
{
	_cleanup_free_ char *pidfile = berth_xasprintf("%s/pid", r->dir);
	_cleanup_free_ char *bundle = berth_xasprintf("%s/bundle", r->dir);
	char *argv[12], **a = argv;
	*a++ = r->rt.path;
	if (r->no_cgroup)
		*a++ = (char *)"--cgroup-manager=disabled";
	*a++ = (char *)"--root";
	*a++ = r->rt_root;
	*a++ = (char *)"run";
	*a++ = (char *)"--bundle";
	*a++ = bundle;
	*a++ = (char *)"--pid-file";
	*a++ = pidfile;
	*a++ = r->id;
	*a = NULL;
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.stdout_fd = out_w;
	sp.stderr_fd = err_w;
	return berth_spawn_start(&sp, err);
}

/* Has the runtime written the pid file (it does so once the process runs)? */
static bool pid_file_written(const struct berth_runner *r)
{
	_cleanup_free_ char *pidfile = berth_xasprintf("%s/pid", r->dir);
	struct stat st;
	return stat(pidfile, &st) == 0 && st.st_size > 0;
}

static int run_loop(struct loop *l, pid_t child, int out_r, int err_r, int sfd, int *exit_code)
{
	int fds[2] = {out_r, err_r};
	bool reaped = false;
	int status = 0;
	char buf[65536];
	while (!reaped || fds[0] >= 0 || fds[1] >= 0) {
		struct pollfd p[3] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {sfd, POLLIN, 0}};
		/* Until the pid file shows up, look for it every few ms: cheaper
		 * than inotify, whose teardown costs milliseconds per container. */
		int timeout = l->started ? -1 : START_POLL_MS;
		if (l->stopping && !reaped && (timeout < 0 || ms_until(&l->kill_at) < timeout))
			timeout = ms_until(&l->kill_at);
		if (reaped)
			timeout = 2000; /* drain: a leftover writer must not hang us */
		int n = poll(p, 3, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (!l->started && !reaped && pid_file_written(l->r))
			mark_started(l);
		if (n == 0) {
			if (reaped)
				break;
			if (l->stopping && ms_until(&l->kill_at) == 0) {
				runtime_kill(l, "KILL");
				l->kill_at.tv_sec += 3600;
			}
			continue;
		}
		for (int s = 0; s < 2; s++) {
			if (fds[s] < 0 || !(p[s].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t k = read(fds[s], buf, sizeof(buf));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				close(fds[s]);
				fds[s] = -1;
				continue;
			}
			on_output(l, s, buf, (size_t)k);
		}
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				continue;
			if (si.ssi_signo == SIGCHLD) {
				int ws;
				if (!reaped && waitpid(child, &ws, WNOHANG) == child) {
					reaped = true;
					status = WIFEXITED(ws)     ? WEXITSTATUS(ws)
						 : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws)
								   : 255;
				}
			} else if (!reaped) {
				on_stop_signal(l);
			}
		}
	}
	for (int s = 0; s < 2; s++)
		if (fds[s] >= 0)
			close(fds[s]);
	*exit_code = status;
	return 0;
}

static void report_failure(struct loop *l, struct berth_err *e)
{
	if (l->notify_fd < 0 || !e)
		return;
	char msg[4096];
	int n = snprintf(msg, sizeof(msg), "error %s\n", e->msg);
	write_fd(l->notify_fd, msg,
		 n < 0                      ? 0
		 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1
					    : (size_t)n);
	close(l->notify_fd);
	l->notify_fd = -1;
}

/* "out of memory: ..." when the kernel's OOM killer ended the container
 * (SIGKILL that berth did not send, with a memory limit), else NULL. */
static char *oom_message(const struct berth_runner *r, int code)
{
	if (code != 128 + SIGKILL || r->stop_signalled || !r->o->memory || !r->cg.memory)
		return NULL;
	_cleanup_free_ char *cg = berth_xasprintf("/berth/%s", r->id);
	if (!berth__oom_killed(cg))
		return NULL;
	return berth_xasprintf("out of memory: the kernel's OOM killer ended container %s at its "
			       "memory limit of %lld bytes (raise --memory)",
			       r->id, (long long)r->o->memory);
}

/* After the container: unmount, then record the end or remove the runner. */
static void finish(struct berth_runner *r, int exit_code, const char *error, bool background)
{
	if (r->o->rm) {
		berth__runner_discard(r->home, r->id, background);
		return;
	}
	berth__runner_unmount(r->dir);
	struct berth_runner_info *i = &r->info;
	i->status = BERTH_RUNNER_EXITED;
	i->exit_code = exit_code;
	i->finished = (int64_t)time(NULL);
	free(i->error);
	i->error = error ? berth_xstrdup(error) : NULL;
	berth__state_write(r->dir, i, false, NULL);
}

int berth__monitor(struct berth_runner *r, const struct berth_runner_io *io, int notify_fd,
		   int *exit_code, struct berth_err **err)
{
	struct loop l = {.r = r, .io = io, .notify_fd = notify_fd};
	*exit_code = 125;
	sigset_t mask, old;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	int sfd = -1, pout[2] = {-1, -1}, perr[2] = {-1, -1}, logfd = -1;
	int rc = -1;
	struct berth_err *e = NULL;
	_cleanup_free_ char *logpath = berth_xasprintf("%s/container.log", r->dir);
	_cleanup_free_ char *why = NULL; /* how it ended, when berth can say */

	if (enter_private_namespace(r, &e) < 0 || mount_rootfs(r, &e) < 0 ||
	    berth__bundle_write(r, &e) < 0)
		goto fail;
	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (logfd < 0 || sfd < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		berth_err_sys(&e, errno, "runner %s: set up the monitor", r->id);
		goto fail;
	}
	berth__log_init(&l.log, logfd);
	berth_buf_init(&l.early[0], EARLY_OUTPUT_MAX);
	berth_buf_init(&l.early[1], EARLY_OUTPUT_MAX);
	berth_buf_init(&l.pending[0], REDACT_LINE_MAX);
	berth_buf_init(&l.pending[1], REDACT_LINE_MAX);
	pid_t child = spawn_runtime(r, pout[1], perr[1], &e);
	close(pout[1]);
	close(perr[1]);
	if (child < 0) {
		close(pout[0]);
		close(perr[0]);
		goto fail_log;
	}
	int code = 0;
	run_loop(&l, child, pout[0], perr[0], sfd, &code);
	if (!l.started && pid_file_written(r))
		mark_started(&l);
	if (!l.started) {
		/* The runtime gave up before the process ran: its stderr says why. */
		_cleanup_free_ char *msg = failure_message(&l.early[1]);
		berth__log_add(&l.log, 1, l.early[1].data ? l.early[1].data : "", l.early[1].len);
		const char *args[] = {"delete", "--force", r->id, NULL};
		berth__runtime_call(r->rt.path, r->rt_root, args, NULL);
		berth_err_set(&e, BERTH_E_SYS, "container %s did not start: %s", r->id,
			      *msg ? msg : "the runtime failed without a message");
		*exit_code = start_failure_code(msg);
		goto fail_log;
	}
	*exit_code = code;
	emit_redacted(&l, 0, true);
	emit_redacted(&l, 1, true);
	why = oom_message(r, code);
	if (why) {
		_cleanup_free_ char *line = berth_xasprintf("berth: %s\n", why);
		emit_now(&l, 1, line, strlen(line));
	}
	berth__log_finish(&l.log);
	finish(r, code, why, notify_fd < 0);
	rc = 0;
	goto out;

fail_log:
	berth__log_finish(&l.log);
fail:
	report_failure(&l, e);
	finish(r, *exit_code, e ? e->msg : NULL, notify_fd < 0);
	if (err)
		*err = e;
	else
		berth_err_free(e);
	e = NULL;
out:
	berth_buf_release(&l.early[0]);
	berth_buf_release(&l.early[1]);
	berth_buf_release(&l.pending[0]);
	berth_buf_release(&l.pending[1]);
	if (sfd >= 0)
		close(sfd);
	if (logfd >= 0)
		close(logfd);
	if (l.notify_fd >= 0)
		close(l.notify_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
