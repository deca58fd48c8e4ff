/* The bundle a runtime runs: config.json plus the files it mounts (hosts,
 * hostname, resolv.conf, secrets). Runs inside the monitor's private mount
 * namespace with the rootfs already mounted, because the user's name is
 * resolved from the image's own /etc/passwd and secrets live on a tmpfs that
 * only that namespace can see. */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Most mounts one container can ask for (binds, tmpfs, secrets, GPU files). */
#define BUNDLE_MOUNTS_MAX 512

struct mounts {
	struct berth__mount v[BUNDLE_MOUNTS_MAX];
	size_t n;
	struct berth_strv owned; /* strings the entries point into */
};

static const char *keep(struct mounts *m, char *s)
{
	berth_strv_push_owned(&m->owned, s);
	return s;
}

static int add_mount(struct mounts *m, const char *dest, const char *type, const char *source,
		     const char *const *options, struct berth_err **err)
{
	if (m->n == BUNDLE_MOUNTS_MAX)
		return berth_err_set(err, BERTH_E_LIMIT, "more than %d mounts", BUNDLE_MOUNTS_MAX);
	struct berth__mount *x = &m->v[m->n++];
	memset(x, 0, sizeof(*x));
	x->dest = dest;
	x->type = type;
	x->source = source;
	for (size_t i = 0; options && options[i] && i < 8; i++)
		x->options[i] = options[i];
	return 0;
}

static int add_bind(struct mounts *m, const char *src, const char *dest, bool ro,
		    struct berth_err **err)
{
	static const char *const rw[] = {"rbind", "rprivate", NULL};
	static const char *const rdonly[] = {"rbind", "rprivate", "ro", NULL};
	return add_mount(m, dest, "bind", src, ro ? rdonly : rw, err);
}

/* "DEST" or "DEST:opt,opt". */
static int add_tmpfs(struct mounts *m, const char *spec, struct berth_err **err)
{
	const char *colon = strchr(spec, ':');
	const char *dest =
	    keep(m, colon ? berth_xstrndup(spec, (size_t)(colon - spec)) : berth_xstrdup(spec));
	if (*dest != '/')
		return berth_err_set(err, BERTH_E_INVALID, "tmpfs '%s': the path must be absolute",
				     spec);
	const char *opts[9] = {"nosuid", "nodev"};
	size_t n = 2;
	if (colon) {
		char *copy = (char *)keep(m, berth_xstrdup(colon + 1));
		char *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (n == 8)
				return berth_err_set(err, BERTH_E_LIMIT,
						     "tmpfs '%s': at most 6 options", spec);
			opts[n++] = t;
		}
	}
	opts[n] = NULL;
	return add_mount(m, dest, "tmpfs", "tmpfs", opts, err);
}

/* A new file in the runner's own directory: nobody reads it before the
 * runtime starts, so no temp file and rename are needed. */
static int write_new_file(const char *dir, const char *name, const char *data, size_t len,
			  mode_t mode, struct berth_err **err)
{
	_cleanup_free_ char *p = berth_xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd =
	    open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return berth_err_sys(err, errno, "write '%s'", p);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return berth_err_sys(err, errno, "write '%s'", p);
		off += (size_t)w;
	}
	return 0;
}

static int write_side_file(const char *dir, const char *name, const char *text,
			   struct berth_err **err)
{
	return write_new_file(dir, name, text, strlen(text), 0644, err);
}

/* /etc/hosts, /etc/hostname and (host network) /etc/resolv.conf. */
static int side_files(struct berth_runner *r, const char *hostname, struct mounts *m,
		      struct berth_err **err)
{
	_cleanup_free_ char *hosts = berth_xasprintf(
	    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
	    hostname);
	_cleanup_free_ char *hn = berth_xasprintf("%s\n", hostname);
	if (write_side_file(r->dir, "hosts", hosts, err) < 0 ||
	    write_side_file(r->dir, "hostname", hn, err) < 0 ||
	    add_bind(m, keep(m, berth_xasprintf("%s/hosts", r->dir)), "/etc/hosts", false, err) <
		0 ||
	    add_bind(m, keep(m, berth_xasprintf("%s/hostname", r->dir)), "/etc/hostname", false,
		     err) < 0)
		return -1;
	if (r->o->network != BERTH_NET_HOST)
		return 0;
	_cleanup_buf_ struct berth_buf rc;
	berth_buf_init(&rc, 64 * 1024);
	if (berth_fs_read_file("/etc/resolv.conf", 64 * 1024, &rc, NULL) < 0)
		return 0; /* no resolver on the host: nothing to share */
	if (write_side_file(r->dir, "resolv.conf", rc.data, err) < 0)
		return -1;
	return add_bind(m, keep(m, berth_xasprintf("%s/resolv.conf", r->dir)), "/etc/resolv.conf",
			false, err);
}

/* Secrets: a tmpfs at <dir>/secrets, visible only in this namespace (and the
 * container's copy of it); one file per secret, 0400, owned by the user. */
static int secrets(struct berth_runner *r, const struct berth_user *u, struct mounts *m,
		   struct berth_err **err)
{
	const struct berth_container_opts *o = r->o;
	if (!o->nsecrets)
		return 0;
	size_t total = 0;
	for (size_t i = 0; i < o->nsecrets; i++)
		total += o->secrets[i].len + 4096;
	_cleanup_free_ char *dir = berth_xasprintf("%s/secrets", r->dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return berth_err_sys(err, errno, "secrets: create '%s'", dir);
	_cleanup_free_ char *data = berth_xasprintf("mode=0700,size=%zu", total + (1u << 20));
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data) < 0)
		return berth_err_sys(err, errno, "secrets: mount a tmpfs on '%s'", dir);
	for (size_t i = 0; i < o->nsecrets; i++) {
		const struct berth_secret_file *s = &o->secrets[i];
		if (!s->dest || s->dest[0] != '/')
			return berth_err_set(err, BERTH_E_INVALID,
					     "secret file '%s': the path must be absolute",
					     s->dest ? s->dest : "");
		char *path = (char *)keep(m, berth_xasprintf("%s/%zu", dir, i));
		_cleanup_close_ int fd =
		    open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
		if (fd < 0)
			return berth_err_sys(err, errno, "secret file '%s'", s->dest);
		for (size_t off = 0; off < s->len;) {
			ssize_t w = write(fd, s->data + off, s->len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return berth_err_sys(err, errno, "secret file '%s'", s->dest);
			off += (size_t)w;
		}
		if (fchown(fd, u->uid, u->gid) < 0)
			return berth_err_sys(err, errno, "secret file '%s': chown", s->dest);
		if (add_bind(m, path, s->dest, true, err) < 0)
			return -1;
	}
	return 0;
}

static void env_append_path(struct berth_strv *env, const char *key, const char *dir)
{
	const char *cur = berth_env_get(env, key, strlen(key));
	_cleanup_free_ char *v =
	    cur && *cur ? berth_xasprintf("%s:%s", cur, dir) : berth_xstrdup(dir);
	berth_env_set(env, key, v);
}

static int gpus(struct berth_runner *r, struct berth_gpu_set *g, struct berth_strv *env,
		struct mounts *m, struct berth_err **err)
{
	if (!r->o->gpus)
		return 0;
	if (berth_gpu_discover(&r->o->gpu_opts, r->o->gpus, g, err) < 0)
		return -1;
	for (size_t i = 0; i < g->libs.n; i++) {
		char *dest = berth_xasprintf("%s/%s", BERTH_GPU_LIB_DIR, g->lib_names.v[i]);
		if (add_bind(m, g->libs.v[i], keep(m, dest), true, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < g->bins.n; i++) {
		const char *slash = strrchr(g->bins.v[i], '/');
		char *dest =
		    berth_xasprintf("%s/%s", BERTH_GPU_BIN_DIR, slash ? slash + 1 : g->bins.v[i]);
		if (add_bind(m, g->bins.v[i], keep(m, dest), true, err) < 0)
			return -1;
	}
	berth_env_set(env, "NVIDIA_VISIBLE_DEVICES", g->visible);
	if (!berth_env_get(env, "NVIDIA_DRIVER_CAPABILITIES", 26))
		berth_env_set(env, "NVIDIA_DRIVER_CAPABILITIES", "compute,utility");
	env_append_path(env, "LD_LIBRARY_PATH", BERTH_GPU_LIB_DIR);
	env_append_path(env, "PATH", BERTH_GPU_BIN_DIR);
	return 0;
}

/* config.json holds the process's environment, secrets included, so it goes
 * on a tmpfs at <dir>/bundle mounted in this private namespace: never on
 * disk, seen by no other process's view of the state dir, gone with the
 * monitor. The runtime is run with --bundle <dir>/bundle; root.path is
 * absolute. */
static int write_config(struct berth_runner *r, const struct berth_buf *b, struct berth_err **err)
{
	_cleanup_free_ char *dir = berth_xasprintf("%s/bundle", r->dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return berth_err_sys(err, errno, "bundle: create '%s'", dir);
	_cleanup_free_ char *data = berth_xasprintf("mode=0700,size=%zu", b->len + (1u << 20));
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data) < 0)
		return berth_err_sys(err, errno, "bundle: mount a tmpfs on '%s'", dir);
	return write_new_file(dir, "config.json", b->data, b->len, 0600, err);
}

int berth__bundle_write(struct berth_runner *r, struct berth_err **err)
{
	const struct berth_container_opts *o = r->o;
	_cleanup_free_ char *rootfs = berth_xasprintf("%s/rootfs", r->dir);
	_cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return berth_err_sys(err, errno, "open the container's rootfs '%s'", rootfs);

	struct berth_user user = {0};
	if (berth_user_resolve(rootfd, berth__process_user(o), &user, err) < 0)
		return -1;
	const char *cwd = berth__process_cwd(o);
	int rc = 0;
	struct mounts *m = berth_xcalloc(1, sizeof(*m));
	struct berth_gpu_set g = {0};
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	json_t *seccomp = NULL, *cfg = NULL;
	const char *hostname = o->hostname && *o->hostname ? o->hostname : r->id;
	_cleanup_free_ char *bpf = NULL;
	_cleanup_free_ char *cache = berth_xasprintf("%s/cache/seccomp", r->home);
	_cleanup_free_ char *cgpath = NULL;
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 16u << 20);
	_cleanup_strv_ struct berth_strv caps = BERTH_STRV_INIT;

	if (cwd[0] != '/') {
		rc = berth_err_set(err, BERTH_E_INVALID,
				   "working directory '%s': the path must be absolute", cwd);
		goto out;
	}
	/* Docker creates a missing working directory; it lands in the upper. */
	if (berth_fs_mkdir_beneath(rootfd, cwd, 0755, err) < 0) {
		rc = berth_err_prefix(err, "working directory '%s'", cwd);
		goto out;
	}
	berth__process_env(o, hostname, user.home ? user.home : "/", &env);
	if (o->id_env)
		berth_env_set(&env, o->id_env, r->id);
	if (side_files(r, hostname, m, err) < 0 || secrets(r, &user, m, err) < 0 ||
	    gpus(r, &g, &env, m, err) < 0) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < o->nbinds; i++) {
		const struct berth_bind *v = &o->binds[i];
		if (v->dest[0] != '/') {
			rc = berth_err_set(err, BERTH_E_INVALID,
					   "volume '%s': the container path must be absolute",
					   v->dest);
			goto out;
		}
		if (add_bind(m, v->source, v->dest, v->readonly, err) < 0) {
			rc = -1;
			goto out;
		}
	}
	if (o->data_volume) {
		/* The persistent volume every app shares, like fal's /data. */
		char *data = (char *)keep(m, berth_xasprintf("%s/data", r->home));
		if (berth_fs_mkdir_p(data, 0755, err) < 0 ||
		    add_bind(m, data, "/data", false, err) < 0) {
			rc = -1;
			goto out;
		}
	}
	for (size_t i = 0; i < o->tmpfs.n; i++)
		if (add_tmpfs(m, o->tmpfs.v[i], err) < 0) {
			rc = -1;
			goto out;
		}
	for (const char *const *c = berth__default_caps; *c; c++)
		berth_strv_push(&caps, *c);
	/* crun gets the filter precompiled (cached) in an annotation and no
	 * linux.seccomp to parse; other runtimes compile linux.seccomp. */
	if (strcmp(r->rt.name, "crun") == 0
		? berth__seccomp_default_bpf_b64(&caps, cache, &bpf, err) < 0
		: berth_seccomp_default(&caps, &seccomp, err) < 0) {
		rc = berth_err_prefix(err, "seccomp profile");
		goto out;
	}
	if (r->cg.mode != BERTH_CGROUP_NONE && !r->no_cgroup)
		cgpath = berth_xasprintf("/berth/%s", r->id);
	struct berth__spec_in in = {
	    .rootfs = rootfs,
	    .args = r->args.v,
	    .env = env.v,
	    .cwd = cwd,
	    .user = &user,
	    .hostname = hostname,
	    .network = o->network,
	    .mounts = m->v,
	    .nmounts = m->n,
	    .devices = g.devices,
	    .ndevices = g.ndevices,
	    .memory = r->cg.memory ? o->memory : 0,
	    .pids = r->cg.pids ? o->pids : 0,
	    .cpus = r->cg.cpu ? o->cpus : 0,
	    .cgroups_path = cgpath,
	    .seccomp = seccomp,
	    .seccomp_bpf = bpf,
	};
	cfg = berth__spec_build(&in);
	if (!cfg || berth_json_dump_canonical(cfg, &b) < 0) {
		rc = berth_err_set(err, BERTH_E_INTERNAL, "config.json: cannot encode");
		goto out;
	}
	rc = write_config(r, &b, err);
out:
	json_decref(cfg);
	json_decref(seccomp);
	berth_gpu_set_release(&g);
	berth_user_release(&user);
	berth_strv_release(&m->owned);
	free(m);
	return rc < 0 ? rc : 0;
}
