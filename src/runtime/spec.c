/* The OCI runtime-spec config.json of a container: Docker's defaults for
 * namespaces, mounts, capabilities, masked paths and devices, plus what the
 * caller asks for. Pure: no I/O, so it is unit-tested field by field. */
#include "runtime/runtime_int.h"

#include <string.h>

const char *const berth__default_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

/* Hidden from the container (Docker's list). */
static const char *const masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    NULL,
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* Every container gets these, in this order. */
static const struct berth__mount standard_mounts[] = {
    {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
};

static json_t *strings(const char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *mount_json(const struct berth__mount *m)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", m->dest, "type", m->type, "source",
			 m->source, "options", strings(m->options));
}

static json_t *process_json(const struct berth__spec_in *in)
{
	/* Like Docker: the primary group is in the supplementary list too. */
	json_t *groups = json_array();
	if (in->user->ngroups)
		json_array_append_new(groups, json_integer(in->user->gid));
	for (size_t i = 0; i < in->user->ngroups; i++)
		json_array_append_new(groups, json_integer(in->user->groups[i]));
	json_t *user = json_pack("{s:I, s:I}", "uid", (json_int_t)in->user->uid, "gid",
				 (json_int_t)in->user->gid);
	if (in->user->ngroups)
		json_object_set_new(user, "additionalGids", groups);
	else
		json_decref(groups);
	json_t *caps = json_object();
	json_object_set_new(caps, "bounding", strings(berth__default_caps));
	json_object_set_new(caps, "effective", strings(berth__default_caps));
	json_object_set_new(caps, "permitted", strings(berth__default_caps));
	/* No "rlimits": this process's limits are inherited as they are (a
	 * config that raises them fails without CAP_SYS_RESOURCE). */
	return json_pack("{s:b, s:o, s:o, s:o, s:s, s:o, s:b}", "terminal", 0, "user", user, "args",
			 strings((const char *const *)in->args), "env",
			 strings((const char *const *)in->env), "cwd", in->cwd, "capabilities",
			 caps, "noNewPrivileges", 1);
}

static json_t *resources_json(const struct berth__spec_in *in)
{
	json_t *devs = json_array();
	json_array_append_new(devs, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
	for (size_t i = 0; i < in->ndevices; i++)
		json_array_append_new(
		    devs, json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", "c", "major",
				    (json_int_t)in->devices[i].major, "minor",
				    (json_int_t)in->devices[i].minor, "access", "rwm"));
	json_t *r = json_pack("{s:o}", "devices", devs);
	if (in->memory > 0)
		json_object_set_new(r, "memory",
				    json_pack("{s:I}", "limit", (json_int_t)in->memory));
	if (in->cpus > 0) {
		const json_int_t period = 100000;
		json_object_set_new(r, "cpu",
				    json_pack("{s:I, s:I}", "quota",
					      (json_int_t)(in->cpus * (double)period + 0.5),
					      "period", period));
	}
	if (in->pids > 0)
		json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)in->pids));
	return r;
}

static json_t *linux_json(const struct berth__spec_in *in)
{
	static const char *const ns[] = {"pid", "ipc", "uts", "mount", NULL};
	json_t *nss = json_array();
	for (const char *const *n = ns; *n; n++)
		json_array_append_new(nss, json_pack("{s:s}", "type", *n));
	if (in->network == BERTH_NET_NONE)
		json_array_append_new(nss, json_pack("{s:s}", "type", "network"));
	json_t *l = json_pack("{s:o, s:o, s:o, s:o}", "namespaces", nss, "maskedPaths",
			      strings(masked_paths), "readonlyPaths", strings(readonly_paths),
			      "resources", resources_json(in));
	if (in->ndevices) {
		json_t *devs = json_array();
		for (size_t i = 0; i < in->ndevices; i++) {
			const struct berth_gpu_device *d = &in->devices[i];
			json_array_append_new(
			    devs, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path",
					    d->container_path, "type", "c", "major",
					    (json_int_t)d->major, "minor", (json_int_t)d->minor,
					    "fileMode", (json_int_t)d->mode, "uid", (json_int_t)0,
					    "gid", (json_int_t)0));
		}
		json_object_set_new(l, "devices", devs);
	}
	if (in->cgroups_path)
		json_object_set_new(l, "cgroupsPath", json_string(in->cgroups_path));
	if (in->seccomp)
		json_object_set_new(l, "seccomp", json_deep_copy(in->seccomp));
	return l;
}

json_t *berth__spec_build(const struct berth__spec_in *in)
{
	json_t *mounts = json_array();
	for (size_t i = 0; i < sizeof(standard_mounts) / sizeof(standard_mounts[0]); i++)
		json_array_append_new(mounts, mount_json(&standard_mounts[i]));
	for (size_t i = 0; i < in->nmounts; i++)
		json_array_append_new(mounts, mount_json(&in->mounts[i]));
	json_t *cfg =
	    json_pack("{s:s, s:{s:s, s:b}, s:o, s:s, s:o, s:o}", "ociVersion", "1.0.2", "root",
		      "path", in->rootfs, "readonly", 0, "process", process_json(in), "hostname",
		      in->hostname, "mounts", mounts, "linux", linux_json(in));
	if (in->seccomp_bpf)
		json_object_set_new(
		    cfg, "annotations",
		    json_pack("{s:s}", "run.oci.seccomp_bpf_data", in->seccomp_bpf));
	return cfg;
}

/* --- the image config's part --- */

static void push_json_strings(struct berth_strv *out, const json_t *a)
{
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v)
	{
		if (json_is_string(v))
			berth_strv_push(out, json_string_value(v));
	}
}

static const json_t *image_field(const struct berth_container_opts *o, const char *key)
{
	return o->image_config ? json_object_get(o->image_config, key) : NULL;
}

int berth__process_args(const struct berth_container_opts *o, struct berth_strv *out,
			struct berth_err **err)
{
	if (o->set_entrypoint) {
		for (size_t i = 0; i < o->entrypoint.n; i++)
			berth_strv_push(out, o->entrypoint.v[i]);
	} else {
		push_json_strings(out, image_field(o, "Entrypoint"));
	}
	if (o->cmd.n) {
		for (size_t i = 0; i < o->cmd.n; i++)
			berth_strv_push(out, o->cmd.v[i]);
	} else if (!o->set_entrypoint) {
		push_json_strings(out, image_field(o, "Cmd"));
	}
	if (!out->n || !*out->v[0])
		return berth_err_set(err, BERTH_E_INVALID,
				     "no command to run: the image has no Entrypoint or Cmd; give "
				     "one after the image name");
	return 0;
}

void berth__process_env(const struct berth_container_opts *o, const char *hostname,
			const char *home, struct berth_strv *out)
{
	const json_t *env = image_field(o, "Env");
	size_t i;
	const json_t *v;
	json_array_foreach(env, i, v)
	{
		const char *kv = json_string_value(v);
		const char *eq = kv ? strchr(kv, '=') : NULL;
		if (eq && eq > kv) {
			_cleanup_free_ char *k = berth_xstrndup(kv, (size_t)(eq - kv));
			berth_env_set(out, k, eq + 1);
		}
	}
	if (!berth_env_get(out, "PATH", 4))
		berth_env_set(out, "PATH",
			      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	berth_env_set(out, "HOSTNAME", hostname);
	if (!berth_env_get(out, "HOME", 4))
		berth_env_set(out, "HOME", home);
	for (i = 0; i < o->env.n; i++) {
		const char *kv = o->env.v[i];
		const char *eq = strchr(kv, '=');
		if (!eq || eq == kv)
			continue; /* the CLI resolves a bare KEY from its own environment */
		_cleanup_free_ char *k = berth_xstrndup(kv, (size_t)(eq - kv));
		berth_env_set(out, k, eq + 1);
	}
}

const char *berth__process_cwd(const struct berth_container_opts *o)
{
	if (o->cwd && *o->cwd)
		return o->cwd;
	const char *w = json_string_value(image_field(o, "WorkingDir"));
	return w && *w ? w : "/";
}

const char *berth__process_user(const struct berth_container_opts *o)
{
	if (o->user)
		return o->user;
	const char *u = json_string_value(image_field(o, "User"));
	return u ? u : "";
}
