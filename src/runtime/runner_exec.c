/* A detached runner's monitor in a process of its own: berth_runner_start()
 * writes the runner to a memfd, forks, and the child execs `berth
 * __monitor`, which reads it back and runs the monitor. A plain fork of a
 * threaded caller (berth serve) would run the monitor with whatever locks
 * other threads held at the fork (ASan's allocator, once, for good) and with
 * a copy of the whole server; after the exec it is a small single-threaded
 * process that holds nothing of its parent's.
 *
 * The hand-over is a private binary record (the same binary writes and
 * reads it): strings as a 32-bit length and bytes (all ones: NULL), numbers
 * as 64 bits, lists as a count and items. Bytes, not JSON: environment
 * values and secrets need not be UTF-8. It lives in a memfd, never on
 * disk; the monitor closes it once read. Descriptors the monitor gets: 3
 * the record, 4 the report pipe, 5 the runner's lock. */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define FD_RECORD    3
#define FD_REPORT    4
#define FD_LOCK      5
#define NULL_LEN     0xffffffffu
#define RECORD_MAGIC "berth-runner-1"

/* --- writing --- */

static void put_u64(struct berth_buf *b, uint64_t v)
{
	berth_buf_add(b, &v, sizeof(v));
}

static void put_bytes(struct berth_buf *b, const void *p, size_t n)
{
	uint32_t len = p ? (uint32_t)n : NULL_LEN;
	berth_buf_add(b, &len, sizeof(len));
	if (p)
		berth_buf_add(b, p, n);
}

static void put_str(struct berth_buf *b, const char *s)
{
	put_bytes(b, s, s ? strlen(s) : 0);
}

static void put_strv(struct berth_buf *b, const struct berth_strv *sv)
{
	put_u64(b, sv->n);
	for (size_t i = 0; i < sv->n; i++)
		put_str(b, sv->v[i]);
}

static void put_opts(struct berth_buf *b, const struct berth_container_opts *o)
{
	put_str(b, o->image);
	put_str(b, o->image_digest);
	put_strv(b, &o->lowers);
	char *cfg = o->image_config ? json_dumps(o->image_config, JSON_COMPACT) : NULL;
	put_str(b, cfg);
	free(cfg);
	put_strv(b, &o->entrypoint);
	put_u64(b, o->set_entrypoint);
	put_strv(b, &o->cmd);
	put_strv(b, &o->env);
	put_str(b, o->cwd);
	put_str(b, o->user);
	put_str(b, o->name);
	put_str(b, o->hostname);
	put_str(b, o->id_env);
	put_u64(b, (uint64_t)o->network);
	put_u64(b, o->nbinds);
	for (size_t i = 0; i < o->nbinds; i++) {
		put_str(b, o->binds[i].source);
		put_str(b, o->binds[i].dest);
		put_u64(b, o->binds[i].readonly);
	}
	put_strv(b, &o->tmpfs);
	put_u64(b, o->nsecrets);
	for (size_t i = 0; i < o->nsecrets; i++) {
		put_str(b, o->secrets[i].dest);
		put_bytes(b, o->secrets[i].data ? o->secrets[i].data : "", o->secrets[i].len);
	}
	put_u64(b, o->data_volume);
	put_strv(b, &o->redact);
	put_u64(b, o->gpus);
	put_str(b, o->gpu_opts.dev_dir);
	put_str(b, o->gpu_opts.lib_dirs);
	put_str(b, o->gpu_opts.bin_dirs);
	put_u64(b, (uint64_t)o->memory);
	uint64_t cpus;
	memcpy(&cpus, &o->cpus, sizeof(cpus));
	put_u64(b, cpus);
	put_u64(b, (uint64_t)o->pids);
	put_str(b, o->upper_dir);
	put_u64(b, o->rm);
	put_str(b, o->runtime);
	put_u64(b, (uint64_t)(int64_t)o->stop_grace);
}

static void put_runner(struct berth_buf *b, const struct berth_runner *r)
{
	put_str(b, RECORD_MAGIC);
	put_str(b, r->home);
	put_str(b, r->dir);
	put_str(b, r->id);
	put_str(b, r->rt.path);
	put_str(b, r->rt.name);
	put_str(b, r->rt_root);
	put_u64(b, (uint64_t)r->cg.mode);
	put_u64(b, r->cg.memory);
	put_u64(b, r->cg.cpu);
	put_u64(b, r->cg.pids);
	put_u64(b, r->host_hybrid);
	put_u64(b, r->no_cgroup);
	put_strv(b, &r->args);
	put_opts(b, r->o);
}

/* --- reading --- */

struct rd {
	const char *p;
	size_t left;
	bool bad;
};

static bool take(struct rd *d, void *out, size_t n)
{
	if (d->bad || d->left < n) {
		d->bad = true;
		return false;
	}
	memcpy(out, d->p, n);
	d->p += n;
	d->left -= n;
	return true;
}

static uint64_t get_u64(struct rd *d)
{
	uint64_t v = 0;
	take(d, &v, sizeof(v));
	return v;
}

/* A new NUL-terminated copy (the length in *len when wanted), or NULL. */
static char *get_bytes(struct rd *d, size_t *len)
{
	uint32_t n;
	if (!take(d, &n, sizeof(n)) || n == NULL_LEN)
		return NULL;
	if (d->left < n) {
		d->bad = true;
		return NULL;
	}
	char *s = berth_xmalloc((size_t)n + 1);
	take(d, s, n);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

static char *get_str(struct rd *d)
{
	return get_bytes(d, NULL);
}

static void get_strv(struct rd *d, struct berth_strv *sv)
{
	uint64_t n = get_u64(d);
	for (uint64_t i = 0; i < n && !d->bad; i++) {
		char *s = get_str(d);
		if (s)
			berth_strv_push_owned(sv, s);
	}
}

static bool get_bool(struct rd *d)
{
	return get_u64(d) != 0;
}

/* Bounded: a count is never more than the bytes left could hold. */
static size_t get_count(struct rd *d)
{
	uint64_t n = get_u64(d);
	if (n > d->left / sizeof(uint32_t)) {
		d->bad = true;
		return 0;
	}
	return (size_t)n;
}

/* gpu_opts borrow their strings: the monitor keeps them in `keep`. */
static void get_opts(struct rd *d, struct berth_container_opts *o, struct berth_strv *keep)
{
	o->image = get_str(d);
	o->image_digest = get_str(d);
	get_strv(d, &o->lowers);
	char *cfg = get_str(d);
	if (cfg)
		o->image_config = json_loads(cfg, 0, NULL);
	free(cfg);
	get_strv(d, &o->entrypoint);
	o->set_entrypoint = get_bool(d);
	get_strv(d, &o->cmd);
	get_strv(d, &o->env);
	o->cwd = get_str(d);
	o->user = get_str(d);
	o->name = get_str(d);
	o->hostname = get_str(d);
	o->id_env = get_str(d);
	o->network = (enum berth_network)get_u64(d);
	o->nbinds = get_count(d);
	o->binds = berth_xcalloc(o->nbinds ? o->nbinds : 1, sizeof(*o->binds));
	for (size_t i = 0; i < o->nbinds; i++) {
		o->binds[i].source = get_str(d);
		o->binds[i].dest = get_str(d);
		o->binds[i].readonly = get_bool(d);
	}
	get_strv(d, &o->tmpfs);
	o->nsecrets = get_count(d);
	o->secrets = berth_xcalloc(o->nsecrets ? o->nsecrets : 1, sizeof(*o->secrets));
	for (size_t i = 0; i < o->nsecrets; i++) {
		o->secrets[i].dest = get_str(d);
		o->secrets[i].data = get_bytes(d, &o->secrets[i].len);
	}
	o->data_volume = get_bool(d);
	get_strv(d, &o->redact);
	o->gpus = (unsigned)get_u64(d);
	const char **gpu[] = {&o->gpu_opts.dev_dir, &o->gpu_opts.lib_dirs, &o->gpu_opts.bin_dirs};
	for (size_t i = 0; i < sizeof(gpu) / sizeof(gpu[0]); i++) {
		char *s = get_str(d);
		*gpu[i] = s;
		if (s)
			berth_strv_push_owned(keep, s);
	}
	o->memory = (int64_t)get_u64(d);
	uint64_t cpus = get_u64(d);
	memcpy(&o->cpus, &cpus, sizeof(cpus));
	o->pids = (int64_t)get_u64(d);
	o->upper_dir = get_str(d);
	o->rm = get_bool(d);
	o->runtime = get_str(d);
	o->stop_grace = (int)(int64_t)get_u64(d);
}

static int get_runner(struct rd *d, struct berth_runner *r, struct berth_container_opts *o,
		      struct berth_strv *keep, struct berth_err **err)
{
	_cleanup_free_ char *magic = get_str(d);
	if (!magic || strcmp(magic, RECORD_MAGIC) != 0)
		return berth_err_set(err, BERTH_E_INVALID, "__monitor: not a runner record");
	r->home = get_str(d);
	r->dir = get_str(d);
	_cleanup_free_ char *id = get_str(d);
	snprintf(r->id, sizeof(r->id), "%s", id ? id : "");
	r->rt.path = get_str(d);
	r->rt.name = get_str(d);
	r->rt_root = get_str(d);
	r->cg.mode = (enum berth_cgroup_mode)get_u64(d);
	r->cg.memory = get_bool(d);
	r->cg.cpu = get_bool(d);
	r->cg.pids = get_bool(d);
	r->host_hybrid = get_bool(d);
	r->no_cgroup = get_bool(d);
	get_strv(d, &r->args);
	get_opts(d, o, keep);
	if (d->bad || d->left || !r->home || !r->dir || !r->rt.path || !r->rt.name || !r->rt_root ||
	    !*r->id)
		return berth_err_set(err, BERTH_E_INVALID, "__monitor: a cut or garbled record");
	r->o = o;
	return berth__state_read(r->dir, &r->info, err);
}

/* --- both ends --- */

int berth__runner_exec_monitor(struct berth_runner *r, int report_fd, struct berth_err **err)
{
	int rec = memfd_create("berth-runner", MFD_CLOEXEC);
	if (rec < 0)
		return berth_err_sys(err, errno, "start runner: memfd");
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	put_runner(&b, r);
	for (size_t off = 0; off < b.len;) {
		ssize_t w = write(rec, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			explicit_bzero(b.data, b.len);
			close(rec);
			return berth_err_sys(err, e, "start runner: write the record");
		}
		off += (size_t)w;
	}
	explicit_bzero(b.data, b.len); /* it holds the secrets */
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(rec);
		return berth_err_sys(err, e, "start runner: fork");
	}
	if (child == 0) {
		/* Only async-signal-safe calls from here to the exec: a threaded
		 * parent's locks are not ours. A new session, then the monitor
		 * as a grandchild so that it is nobody's zombie. */
		setsid();
		if (fork() != 0)
			_exit(0);
		int fds[3] = {
		    fcntl(rec, F_DUPFD, 10),
		    fcntl(report_fd, F_DUPFD, 10),
		    fcntl(r->lock_fd, F_DUPFD, 10),
		};
		if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || dup2(fds[0], FD_RECORD) < 0 ||
		    dup2(fds[1], FD_REPORT) < 0 || dup2(fds[2], FD_LOCK) < 0)
			_exit(1);
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		close_range(FD_LOCK + 1, ~0U, 0);
		char *const argv[] = {(char *)"berth", (char *)"__monitor", NULL};
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(rec);
	int status;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

int berth_runner_monitor_main(void)
{
	struct berth_err *err = NULL;
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	struct berth_runner *r = berth_xcalloc(1, sizeof(*r));
	struct berth_container_opts o = {0};
	struct berth_strv keep = BERTH_STRV_INIT;
	r->lock_fd = FD_LOCK;
	int rc = berth_fs_read_file("/proc/self/fd/3", BERTH_BUF_UNLIMITED, &b, &err);
	close(FD_RECORD);
	if (rc == 0) {
		struct rd d = {b.data, b.len, false};
		rc = get_runner(&d, r, &o, &keep, &err);
		explicit_bzero(b.data, b.len);
	}
	int code = 0;
	if (rc == 0) {
		rc = berth__monitor(r, &(struct berth_runner_io){-1, -1}, FD_REPORT, &code, &err);
	} else {
		/* Tell the caller waiting on the report pipe. */
		dprintf(FD_REPORT, "error %s\n", err->msg);
	}
	berth_err_free(err);
	berth_runner_free(r);
	berth_container_opts_release(&o);
	berth_strv_release(&keep);
	return rc < 0 ? 1 : 0;
}
