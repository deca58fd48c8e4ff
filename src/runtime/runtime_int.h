/* Internals shared by the runtime module's files. */
#ifndef BERTH_RUNTIME_INT_H
#define BERTH_RUNTIME_INT_H

#include "runtime/runtime.h"

/* The default capability set (Docker's): what a container's root keeps. */
extern const char *const berth__default_caps[];

/* A mount in config.json terms. */
struct berth__mount {
	const char *dest, *type, *source;
	const char *options[9]; /* NULL-terminated */
};

/* Everything config.json is made of; all borrowed. */
struct berth__spec_in {
	const char *rootfs; /* absolute */
	char *const *args;  /* NULL-terminated, non-empty */
	char *const *env;   /* NULL-terminated */
	const char *cwd;
	const struct berth_user *user;
	const char *hostname;
	enum berth_network network;
	const struct berth__mount *mounts; /* after the standard ones */
	size_t nmounts;
	const struct berth_gpu_device *devices;
	size_t ndevices;
	int64_t memory, pids; /* 0: no limit */
	double cpus;
	const char *cgroups_path; /* NULL: none */
	const json_t *seccomp;    /* NULL: none */
	const char *seccomp_bpf;  /* base64 BPF for crun's annotation, or NULL */
};

/* config.json for `in`; a new reference. */
json_t *berth__spec_build(const struct berth__spec_in *in);

/* The default profile (berth_seccomp_default()) compiled to BPF with
 * libseccomp, base64 for crun's run.oci.seccomp_bpf_data annotation. Cached
 * in cache_dir, keyed by the profile file's identity, caps, kernel and
 * libseccomp, so a cached start reads one small file and parses no JSON.
 * *out (free()) NULL: unconfined. */
int berth__seccomp_default_bpf_b64(const struct berth_strv *caps, const char *cache_dir, char **out,
				   struct berth_err **err);

#define BERTH_SECCOMP_DEFAULT_PATH "/usr/share/containers/seccomp.json"

/* The process a container runs, from the image config and the overrides
 * (Docker's rules: --entrypoint drops the image's Cmd; args after the image
 * replace Cmd). Empty is an error that says what to do. */
int berth__process_args(const struct berth_container_opts *o, struct berth_strv *out,
			struct berth_err **err);
/* Env: the image's, PATH when missing, HOSTNAME, HOME, then o->env. */
void berth__process_env(const struct berth_container_opts *o, const char *hostname,
			const char *home, struct berth_strv *out);
/* WorkingDir, else "/". Borrowed from o. */
const char *berth__process_cwd(const struct berth_container_opts *o);
/* User, else "". Borrowed from o. */
const char *berth__process_user(const struct berth_container_opts *o);

/* --- runners --- */

struct berth_runner {
	char *home;
	char *dir; /* $BERTH_HOME/runners/<id> */
	char id[17];
	const struct berth_container_opts *o; /* borrowed until berth_runner_free() */
	struct berth_oci_runtime rt;
	char *rt_root;               /* the runtime's --root */
	struct berth_cgroup_info cg; /* what limits can use */
	bool host_hybrid;            /* the real /sys/fs/cgroup is hybrid (crun's work-around) */
	/* No limit asked for and the runtime is crun: it runs the container
	 * with --cgroup-manager=disabled (making the cgroups is a third of
	 * its start on a v1 host). The pid namespace still ends every process
	 * with the container's first. */
	bool no_cgroup;
	struct berth_strv args; /* the process */
	struct berth_strv warnings;
	int lock_fd;         /* flock held by the creator, then by the monitor */
	bool stop_signalled; /* the monitor got SIGINT/SIGTERM/SIGHUP */
	struct berth_runner_info info;
};

/* Inside the monitor's mount namespace, with the rootfs mounted: resolve
 * the user, write the side files and secrets, find GPUs, and write
 * config.json. */
int berth__bundle_write(struct berth_runner *r, struct berth_err **err);

/* Unmount what a monitor mounts under a runner's dir (rootfs, secrets,
 * bundle), in the calling process's mount namespace. */
void berth__runner_unmount(const char *dir);

/* 64-bit FNV-1a: names for cache and state files on the start path,
 * where SHA-256 would cost libcrypto's first-use set-up (a millisecond). */
uint64_t berth__fnv1a(const char *s, size_t n);

/* Did the kernel's OOM killer end a process of the memory cgroup at
 * cgroup_path ("/berth/<id>")? Read from the kernel log. */
bool berth__oom_killed(const char *cgroup_path);

/* Fork and exec `berth __monitor` with the runner handed over (see
 * runner_exec.c); it reports on report_fd as berth__monitor() does. */
int berth__runner_exec_monitor(struct berth_runner *r, int report_fd, struct berth_err **err);

/* The monitor: everything from the private namespace to the recorded exit.
 * notify_fd (or -1) gets "ok <pid>\n" once the container runs, or
 * "error <message>\n". */
int berth__monitor(struct berth_runner *r, const struct berth_runner_io *io, int notify_fd,
		   int *exit_code, struct berth_err **err);

/* --- runner state (runners/<id>/state.json) --- */

#define BERTH_RUNNER_STATE_MAX (1u << 20)

int berth__state_read(const char *dir, struct berth_runner_info *out, struct berth_err **err);
int berth__state_write(const char *dir, const struct berth_runner_info *i, bool rm,
		       struct berth_err **err);
/* Remove runners/<id>: renamed to runners/.trash-<id> at once (so it is
 * gone for every reader), then deleted; `background`: by a detached child,
 * so a foreground `run --rm` returns without waiting for the disk. Leftover
 * trash is deleted by berth_runners_recover(). */
void berth__runner_discard(const char *home, const char *id, bool background);

/* Is a monitor holding runners/<id>/lock? */
bool berth__runner_locked(const char *dir);
/* `RUNTIME --root ROOT ARGS...` (args NULL-terminated, e.g. {"kill", id,
 * "TERM", NULL}), output captured; 0 or an error with the runtime's own
 * message. */
int berth__runtime_call(const char *path, const char *root, const char *const *args,
			struct berth_err **err);

/* --- CRI log lines --- */

struct berth__log_writer {
	int fd;
	struct berth_buf pending[2]; /* partial line per stream: 0 stdout, 1 stderr */
};
void berth__log_init(struct berth__log_writer *w, int fd);
/* Append output of stream 0/1; whole lines become "F" records, a partial
 * line over the cap becomes a "P" record. */
void berth__log_add(struct berth__log_writer *w, int stream, const char *data, size_t len);
/* Write what is pending as "P" records and release. */
void berth__log_finish(struct berth__log_writer *w);

#endif
