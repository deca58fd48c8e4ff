/* runtime/: containers on an OCI runtime.
 *
 * A runner is one container. berth stacks the image's unpacked layers as an
 * overlay (read-only lowers + a private upper), writes an OCI runtime-spec
 * config.json, and has an OCI runtime (crun, runc, or any by path) run it.
 *
 * Process model: every runner has a monitor process. The monitor enters a
 * private mount namespace, mounts the overlay and any secret tmpfs there
 * (so they vanish with the namespace, whatever happens to berth), starts
 * `RUNTIME run` (one exec: the runtime creates, starts, waits and deletes),
 * copies the container's stdout/stderr to the log file and to the caller,
 * and records the exit status. The monitor holds an exclusive flock on the
 * runner's `lock` file for its whole life, so "is anyone looking after this
 * runner?" is one non-blocking flock, immune to pid reuse. A runner whose
 * lock is free but whose state says running is stale: berth_runners_recover()
 * kills what is left of it and cleans up.
 *
 * State, under $BERTH_HOME:
 *   runners/<id>/state.json   what `berth container ls` shows (atomic writes)
 *   runners/<id>/bundle/      the bundle: config.json (mode 0600), on a tmpfs
 *                             mounted only in the monitor's namespace (the
 *                             process env holds secrets: never on disk)
 *   runners/<id>/upper, work  the overlay's private layer
 *   runners/<id>/rootfs       mount point (mounted only inside the monitor's namespace)
 *   runners/<id>/l/<n>        short links to the lower layer dirs (mount(2)
 *                             option data is one page; these keep it short)
 *   runners/<id>/container.log  CRI log lines: "<RFC3339Nano> stdout|stderr F|P <text>"
 *   run/<runtime>/            the OCI runtime's own state (--root), only when
 *                             no tmpfs is found: it goes to /run/berth-<hash>/
 *                             or /dev/shm/berth-<hash>/ (it copies config.json)
 */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

/* ------------------------------------------------------------ host facts */

enum berth_cgroup_mode {
	BERTH_CGROUP_NONE,    /* nothing mounted at /sys/fs/cgroup */
	BERTH_CGROUP_LEGACY,  /* v1 hierarchies only */
	BERTH_CGROUP_HYBRID,  /* v1 hierarchies + cgroup2 at <root>/unified */
	BERTH_CGROUP_UNIFIED, /* cgroup2 at <root> */
};

struct berth_cgroup_info {
	enum berth_cgroup_mode mode;
	bool memory, cpu, pids; /* controllers the runtime can use for limits */
};

/* Look at `root` (normally "/sys/fs/cgroup"). Never fails: unknown layouts
 * read as NONE with no controllers. */
void berth_cgroup_detect(const char *root, struct berth_cgroup_info *out);
const char *berth_cgroup_mode_name(enum berth_cgroup_mode m);

/* An OCI runtime binary. */
struct berth_oci_runtime {
	char *path; /* absolute */
	char *name; /* basename: "crun", "runc", ... (names its state dir) */
};

/* Pick the runtime: `want` is NULL (crun if installed, else runc), a name
 * looked up in PATH, or a path. BERTH_RUNTIME in the environment is used
 * when want is NULL. NOT_FOUND says what to install. */
int berth_oci_runtime_find(const char *want, struct berth_oci_runtime *out, struct berth_err **err);
void berth_oci_runtime_release(struct berth_oci_runtime *rt);

/* ------------------------------------------------------------------ users */

/* The most of an image's /etc/passwd or /etc/group that is read. */
#define BERTH_USER_DB_MAX (1u << 20)

struct berth_user {
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary groups from /etc/group (may be NULL) */
	size_t ngroups;
	char *home; /* from /etc/passwd, or "/" */
};

/* Resolve a Docker USER value ("name", "uid", "name:group", "uid:gid",
 * "name:gid", "uid:group"; empty means root) against the image's
 * /etc/passwd and /etc/group, read beneath `rootfd`. Names that are not in
 * the files are errors; numbers need not be there. */
int berth_user_resolve(int rootfd, const char *spec, struct berth_user *out,
		       struct berth_err **err);
void berth_user_release(struct berth_user *u);

/* ---------------------------------------------------------------- seccomp */

/* The largest seccomp profile read (Docker's default.json is about 20 KiB). */
#define BERTH_SECCOMP_PROFILE_MAX (4u << 20)

/* Turn a Docker/containers-format seccomp profile (the JSON of
 * /usr/share/containers/seccomp.json or Docker's default.json) into the OCI
 * `linux.seccomp` object for architecture `arch` (uname machine, e.g.
 * "x86_64", "aarch64"), keeping the rules whose includes/excludes match
 * `caps` (capability names, "CAP_CHOWN", ...). Returns a new reference or
 * NULL with an error. */
json_t *berth_seccomp_convert(const json_t *profile, const char *arch,
			      const struct berth_strv *caps, struct berth_err **err);

/* The default profile: $BERTH_SECCOMP_PROFILE, else
 * /usr/share/containers/seccomp.json, converted. 0 with *out NULL when no
 * profile is installed ("unconfined" also gives NULL). */
int berth_seccomp_default(const struct berth_strv *caps, json_t **out, struct berth_err **err);

/* ------------------------------------------------------------------- GPUs */

struct berth_gpu_opts {
	const char *dev_dir;  /* NULL: "/dev" */
	const char *lib_dirs; /* ':'-separated dirs to search for the driver's
			       * libraries; NULL: ask `ldconfig -p` */
	const char *bin_dirs; /* ':'-separated dirs for nvidia-smi etc.; NULL: $PATH */
};

struct berth_gpu_device {
	char *host_path;      /* /dev/nvidia0 */
	char *container_path; /* /dev/nvidia0 */
	int64_t major, minor;
	mode_t mode; /* permission bits */
};

struct berth_gpu_set {
	struct berth_gpu_device *devices; /* control nodes + the first N GPUs */
	size_t ndevices;
	struct berth_strv libs;      /* host paths of the driver's user-space libraries */
	struct berth_strv lib_names; /* their names inside the container (sonames) */
	struct berth_strv bins;      /* host paths of the driver's tools */
	char *visible;               /* NVIDIA_VISIBLE_DEVICES value, "0,1" */
};

/* Where GPU files go inside the container (LD_LIBRARY_PATH and PATH get
 * these appended). */
#define BERTH_GPU_LIB_DIR "/usr/local/nvidia/lib64"
#define BERTH_GPU_BIN_DIR "/usr/local/nvidia/bin"

/* Find `count` NVIDIA GPUs and what a container needs to use them, as the
 * NVIDIA container toolkit does. A clear error when the host has none or
 * fewer than asked. */
int berth_gpu_discover(const struct berth_gpu_opts *o, unsigned count, struct berth_gpu_set *out,
		       struct berth_err **err);
void berth_gpu_set_release(struct berth_gpu_set *g);

/* ---------------------------------------------------------------- rootfs */

/* Mount the layers `lowers` (directories, base first) at dir/MOUNTPOINT in
 * the caller's mount namespace. With `upper` (a path, relative to dir or
 * absolute; dir/work is made as overlay's work dir) the mount is writable;
 * with upper NULL it is a read-only view (one layer: a read-only bind mount;
 * none: an empty directory dir/empty). The lowers are named through short
 * links dir/l/<n>, so that a hundred layers fit mount(2)'s one page of
 * options. */
int berth_rootfs_mount(const char *dir, const struct berth_strv *lowers, const char *upper,
		       const char *mountpoint, struct berth_err **err);

/* ------------------------------------------------------------- containers */

enum berth_network {
	BERTH_NET_HOST, /* share the host's network namespace (the default) */
	BERTH_NET_NONE, /* a private namespace with only loopback */
};

struct berth_bind {
	char *source; /* host path */
	char *dest;   /* absolute path in the container */
	bool readonly;
};

/* A file placed on a tmpfs that exists only inside the runner's mount
 * namespace: mode 0400, owned by the container user, never on disk. */
struct berth_secret_file {
	char *dest; /* absolute path in the container, e.g. /run/secrets/token */
	char *data;
	size_t len;
};

struct berth_container_opts {
	char *image;              /* reference shown by `container ls` */
	char *image_digest;       /* manifest digest or NULL */
	struct berth_strv lowers; /* unpacked layer dirs, base first (may be empty) */
	json_t *image_config;     /* the image config's "config" object, or NULL */

	struct berth_strv entrypoint; /* replaces the image's Entrypoint when set_entrypoint */
	bool set_entrypoint;
	struct berth_strv cmd; /* replaces the image's Cmd when non-empty */
	struct berth_strv env; /* K=V, applied over the image's Env */
	char *cwd;             /* NULL: the image's WorkingDir, else "/" */
	char *user;            /* NULL: the image's User */
	char *name;            /* NULL: none */
	char *hostname;        /* NULL: the short id */
	char *id_env;          /* an env var that gets the runner's id (e.g.
				* "BERTH_RUNNER_ID"), or NULL */
	enum berth_network network;

	struct berth_bind *binds;
	size_t nbinds;
	struct berth_strv tmpfs; /* "DEST" or "DEST:OPTIONS" */
	struct berth_secret_file *secrets;
	size_t nsecrets;
	bool data_volume; /* bind $BERTH_HOME/data (made when missing) at /data */
	/* Values masked as "****" wherever they appear in the output and the
	 * log (secret values; those under 3 bytes are not masked). */
	struct berth_strv redact;

	unsigned gpus;
	struct berth_gpu_opts gpu_opts;
	int64_t memory; /* bytes, 0 = no limit */
	double cpus;    /* 0 = no limit */
	int64_t pids;   /* 0 = no limit */

	char *upper_dir; /* NULL: runners/<id>/upper; else the caller's (kept) */
	bool rm;         /* remove the runner when it exits */
	char *runtime;   /* NULL: detect */
	int stop_grace;  /* seconds between SIGTERM and SIGKILL on stop; 0: 10 */
};

void berth_container_opts_release(struct berth_container_opts *o);

/* The states `container ls` shows. */
enum berth_runner_status {
	BERTH_RUNNER_CREATED,
	BERTH_RUNNER_RUNNING,
	BERTH_RUNNER_EXITED,
};

/* What a runner's state.json says, plus whether its monitor is alive. */
struct berth_runner_info {
	char id[17];
	char *name, *image, *command;
	enum berth_runner_status status;
	int exit_code;   /* EXITED: the process's status, 128+signal, or -1 unknown */
	int64_t created; /* unix seconds */
	int64_t finished;
	pid_t monitor_pid;
	bool rm;    /* removed when it exits */
	bool stale; /* said running, but no monitor holds it (cleaned by recover) */
	char *runtime_path, *runtime_root;
	char *error; /* why it did not start, or NULL */
};
void berth_runner_info_release(struct berth_runner_info *i);

struct berth_runner; /* one prepared container */

/* Make runners/<id>/ and its bundle: pick the runtime, generate the id,
 * write state.json (CREATED). Nothing is mounted yet. */
int berth_runner_create(const char *home, const struct berth_container_opts *o,
			struct berth_runner **out, struct berth_err **err);
const char *berth_runner_id(const struct berth_runner *r);
/* One-line warnings about what could not be honoured (a limit the cgroup
 * layout cannot apply); borrowed. */
const struct berth_strv *berth_runner_warnings(const struct berth_runner *r);
void berth_runner_free(struct berth_runner *r);

/* Where the container's output goes live, besides the log file (-1: nowhere). */
struct berth_runner_io {
	int out_fd, err_fd;
};

/* Run the container with this process as its monitor; returns when it has
 * exited, with *exit_code its status (128+signal when killed). The caller
 * must be single-threaded: this process enters a private mount namespace.
 * SIGINT or SIGTERM stops the container (SIGTERM, SIGKILL after the grace
 * period; a second signal kills at once). */
int berth_runner_run(struct berth_runner *r, const struct berth_runner_io *io, int *exit_code,
		     struct berth_err **err);

/* After berth_runner_run(): whether it stopped the container because this
 * process got SIGINT, SIGTERM or SIGHUP (rather than the container exiting
 * on its own). */
bool berth_runner_stop_signalled(const struct berth_runner *r);

/* Start the container under a forked, detached monitor and return once it is
 * running (or failed to start: the error says why). *monitor (may be NULL)
 * gets the monitor's pid. Safe from threaded callers. */
int berth_runner_start(struct berth_runner *r, pid_t *monitor, struct berth_err **err);

/* `berth __monitor`: the detached monitor berth_runner_start() execs (a
 * fresh process, not a fork of a threaded caller). The exit status. */
int berth_runner_monitor_main(void);

/* Find a runner by id, unique id prefix or name. */
int berth_runner_lookup(const char *home, const char *key, struct berth_runner_info *out,
			struct berth_err **err);
/* All runners, oldest first. */
int berth_runner_list(const char *home, struct berth_runner_info **out, size_t *n,
		      struct berth_err **err);
/* Send a signal to a running container (through the OCI runtime). */
int berth_runner_signal(const struct berth_runner_info *i, int sig, struct berth_err **err);
/* Stop: SIGTERM, wait up to `grace` seconds, then SIGKILL; waits until the
 * monitor has recorded the exit. A no-op for a runner that is not running. */
int berth_runner_stop(const char *home, const struct berth_runner_info *i, int grace,
		      struct berth_err **err);
/* Wait until the runner is no longer running (its monitor gone); timeout_ms
 * < 0 waits forever. BERTH_E_TIMEOUT when it is still running. */
int berth_runner_wait_exit(const char *home, const char *id, int timeout_ms,
			   struct berth_err **err);
/* Remove a runner that is not running (force: stop it first). */
int berth_runner_remove(const char *home, const struct berth_runner_info *i, bool force,
			struct berth_err **err);
/* Print the log: each line's text to out_fd or err_fd by its stream.
 * follow: keep reading until the runner has exited. */
int berth_runner_logs(const char *home, const char *id, int out_fd, int err_fd, bool follow,
		      struct berth_err **err);

/* Clean up after monitors that died (berth killed, machine rebooted): kill
 * and delete what the runtime still has, unmount, and either remove the
 * runner (--rm) or mark it EXITED with exit code -1. Call before anything
 * else touches runners. *cleaned (may be NULL) counts them. */
int berth_runners_recover(const char *home, int *cleaned, struct berth_err **err);

#endif
