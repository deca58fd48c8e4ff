/* runtime/: config.json generation, the image config's process rules, CRI
 * log records, cgroup detection and runtime lookup. */
#include "common/common.h"
#include "runtime/runtime_int.h"
#include "tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *jstr(const json_t *j, const char *path)
{
	/* "a.b.0.c": objects by key, arrays by index. */
	_cleanup_free_ char *copy = berth_xstrdup(path);
	char *save = NULL;
	for (char *t = strtok_r(copy, ".", &save); t && j; t = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, (size_t)atoi(t)) : json_object_get(j, t);
	return json_string_value(j);
}

static json_int_t jint(const json_t *j, const char *key1, const char *key2)
{
	return json_integer_value(json_object_get(json_object_get(j, key1), key2));
}

static bool array_has(const json_t *a, const char *field, const char *value)
{
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v)
	{
		const json_t *x = field ? json_object_get(v, field) : v;
		if (json_is_string(x) && strcmp(json_string_value(x), value) == 0)
			return true;
	}
	return false;
}

static void test_spec(void)
{
	char *args[] = {"/bin/sh", "-c", "true", NULL};
	char *env[] = {"PATH=/bin", "A=1", NULL};
	gid_t groups[] = {10, 20};
	struct berth_user u = {.uid = 1000, .gid = 1000, .groups = groups, .ngroups = 2};
	struct berth__mount extra[] = {
	    {"/etc/hosts", "bind", "/r/hosts", {"rbind", "rprivate", NULL}},
	    {"/scratch", "tmpfs", "tmpfs", {"nosuid", "nodev", "size=1m", NULL}},
	};
	struct berth_gpu_device dev = {"/x/nvidia0", "/dev/nvidia0", 195, 0, 0666};
	json_t *sec = json_pack("{s:s}", "defaultAction", "SCMP_ACT_ERRNO");
	struct berth__spec_in in = {
	    .rootfs = "/r/rootfs",
	    .args = args,
	    .env = env,
	    .cwd = "/work",
	    .user = &u,
	    .hostname = "h1",
	    .network = BERTH_NET_NONE,
	    .mounts = extra,
	    .nmounts = 2,
	    .devices = &dev,
	    .ndevices = 1,
	    .memory = 64 << 20,
	    .pids = 50,
	    .cpus = 1.5,
	    .cgroups_path = "/berth/abc",
	    .seccomp = sec,
	    .seccomp_bpf = "QUJD",
	};
	json_t *c = berth__spec_build(&in);
	tap_ok(c != NULL, "spec: built");
	tap_is_str(jstr(c, "ociVersion"), "1.0.2", "spec: ociVersion");
	tap_is_str(jstr(c, "root.path"), "/r/rootfs", "spec: root.path");
	tap_is_str(jstr(c, "hostname"), "h1", "spec: hostname");
	json_t *p = json_object_get(c, "process");
	tap_ok(json_is_false(json_object_get(p, "terminal")), "spec: no terminal");
	tap_ok(json_is_true(json_object_get(p, "noNewPrivileges")), "spec: no new privileges");
	tap_ok(!json_object_get(p, "rlimits"), "spec: rlimits left alone");
	tap_is_str(jstr(p, "args.2"), "true", "spec: args");
	tap_is_str(jstr(p, "env.1"), "A=1", "spec: env");
	tap_is_str(jstr(p, "cwd"), "/work", "spec: cwd");
	tap_is_int(jint(p, "user", "uid"), 1000, "spec: uid");
	tap_is_int(jint(p, "user", "gid"), 1000, "spec: gid");
	json_t *gids = json_object_get(json_object_get(p, "user"), "additionalGids");
	tap_is_int(json_array_size(gids), 3, "spec: additional gids");
	tap_is_int(json_integer_value(json_array_get(gids, 0)), 1000,
		   "spec: the primary group is one of them, as Docker does");
	json_t *caps = json_object_get(json_object_get(p, "capabilities"), "bounding");
	tap_ok(array_has(caps, NULL, "CAP_CHOWN") && array_has(caps, NULL, "CAP_NET_BIND_SERVICE"),
	       "spec: default capabilities");
	tap_ok(!array_has(caps, NULL, "CAP_SYS_ADMIN") &&
		   !array_has(caps, NULL, "CAP_SYS_RESOURCE"),
	       "spec: no SYS_ADMIN or SYS_RESOURCE");
	json_t *mounts = json_object_get(c, "mounts");
	static const char *const std[] = {"/proc",    "/dev",        "/dev/pts",
					  "/dev/shm", "/dev/mqueue", "/sys"};
	for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++)
		tap_ok(array_has(mounts, "destination", std[i]), "spec: mount %s", std[i]);
	tap_ok(array_has(mounts, "destination", "/etc/hosts") &&
		   array_has(mounts, "destination", "/scratch"),
	       "spec: caller's mounts follow");
	json_t *sys = NULL;
	size_t i;
	json_t *m;
	json_array_foreach(mounts, i, m) if (strcmp(jstr(m, "destination"), "/sys") == 0) sys = m;
	tap_ok(array_has(json_object_get(sys, "options"), NULL, "ro"), "spec: /sys read-only");
	json_t *lx = json_object_get(c, "linux");
	json_t *ns = json_object_get(lx, "namespaces");
	tap_ok(array_has(ns, "type", "pid") && array_has(ns, "type", "mount") &&
		   array_has(ns, "type", "ipc") && array_has(ns, "type", "uts"),
	       "spec: pid, mount, ipc, uts namespaces");
	tap_ok(array_has(ns, "type", "network"), "spec: network none -> own namespace");
	tap_ok(array_has(json_object_get(lx, "maskedPaths"), NULL, "/proc/kcore"),
	       "spec: masked paths");
	tap_ok(array_has(json_object_get(lx, "readonlyPaths"), NULL, "/proc/sys"),
	       "spec: read-only paths");
	json_t *res = json_object_get(lx, "resources");
	tap_is_int(jint(res, "memory", "limit"), 64 << 20, "spec: memory limit");
	tap_is_int(jint(res, "pids", "limit"), 50, "spec: pids limit");
	tap_is_int(jint(res, "cpu", "quota"), 150000, "spec: cpu quota");
	tap_is_int(jint(res, "cpu", "period"), 100000, "spec: cpu period");
	json_t *rdev = json_object_get(res, "devices");
	tap_ok(json_is_false(json_object_get(json_array_get(rdev, 0), "allow")),
	       "spec: devices denied by default");
	tap_is_int(json_integer_value(json_object_get(json_array_get(rdev, 1), "major")), 195,
		   "spec: GPU device allowed in the cgroup");
	tap_is_str(jstr(lx, "devices.0.path"), "/dev/nvidia0", "spec: GPU device node");
	tap_is_str(jstr(lx, "cgroupsPath"), "/berth/abc", "spec: cgroups path");
	tap_is_str(jstr(lx, "seccomp.defaultAction"), "SCMP_ACT_ERRNO", "spec: seccomp");
	tap_is_str(json_string_value(json_object_get(json_object_get(c, "annotations"),
						     "run.oci.seccomp_bpf_data")),
		   "QUJD", "spec: crun's precompiled seccomp annotation");
	json_decref(c);

	/* Host network: no network namespace, no annotation without BPF. */
	in.network = BERTH_NET_HOST;
	in.seccomp_bpf = NULL;
	in.seccomp = NULL;
	in.ndevices = 0;
	in.memory = in.pids = 0;
	in.cpus = 0;
	c = berth__spec_build(&in);
	lx = json_object_get(c, "linux");
	tap_ok(!array_has(json_object_get(lx, "namespaces"), "type", "network"),
	       "spec: host network shares the namespace");
	tap_ok(!json_object_get(c, "annotations") && !json_object_get(lx, "seccomp"),
	       "spec: no seccomp when none is given");
	res = json_object_get(lx, "resources");
	tap_ok(!json_object_get(res, "memory") && !json_object_get(res, "pids") &&
		   !json_object_get(res, "cpu"),
	       "spec: no limits unless asked");
	tap_ok(!json_object_get(lx, "devices"), "spec: no device nodes without GPUs");
	json_decref(c);
	json_decref(sec);
}

static void test_process(void)
{
	struct berth_container_opts o = {0};
	o.image_config =
	    json_pack("{s:[s], s:[s,s], s:[s,s], s:s, s:s}", "Entrypoint", "/ep", "Cmd", "a", "b",
		      "Env", "PATH=/img", "HOME=/h", "WorkingDir", "/srv", "User", "app");
	struct berth_strv v = BERTH_STRV_INIT;
	tap_ok(berth__process_args(&o, &v, NULL) == 0 && v.n == 3 && !strcmp(v.v[0], "/ep") &&
		   !strcmp(v.v[2], "b"),
	       "process: Entrypoint + Cmd");
	berth_strv_release(&v);
	berth_strv_push(&o.cmd, "x");
	tap_ok(berth__process_args(&o, &v, NULL) == 0 && v.n == 2 && !strcmp(v.v[1], "x"),
	       "process: args replace Cmd, keep Entrypoint");
	berth_strv_release(&v);
	o.set_entrypoint = true;
	berth_strv_push(&o.entrypoint, "/other");
	berth_strv_release(&o.cmd);
	tap_ok(berth__process_args(&o, &v, NULL) == 0 && v.n == 1 && !strcmp(v.v[0], "/other"),
	       "process: --entrypoint drops the image's Cmd");
	berth_strv_release(&v);
	berth_strv_release(&o.entrypoint);
	struct berth_err *err = NULL;
	tap_ok(berth__process_args(&o, &v, &err) < 0 && err && strstr(err->msg, "no command"),
	       "process: empty entrypoint and no args is an error that says so");
	berth_err_free(err);
	berth_strv_release(&v);
	o.set_entrypoint = false;

	berth_strv_push(&o.env, "A=1");
	berth_strv_push(&o.env, "PATH=/mine");
	berth__process_env(&o, "host1", "/home/x", &v);
	tap_is_str(berth_env_get(&v, "PATH", 4), "/mine", "env: caller overrides the image");
	tap_is_str(berth_env_get(&v, "HOME", 4), "/h", "env: image HOME kept");
	tap_is_str(berth_env_get(&v, "HOSTNAME", 8), "host1", "env: HOSTNAME");
	tap_is_str(berth_env_get(&v, "A", 1), "1", "env: caller variable");
	berth_strv_release(&v);
	tap_is_str(berth__process_cwd(&o), "/srv", "cwd: image WorkingDir");
	tap_is_str(berth__process_user(&o), "app", "user: image User");
	o.cwd = berth_xstrdup("/w");
	o.user = berth_xstrdup("");
	tap_is_str(berth__process_cwd(&o), "/w", "cwd: -w wins");
	tap_is_str(berth__process_user(&o), "", "user: -u '' wins (root)");
	json_decref(o.image_config);
	o.image_config = NULL;
	berth__process_env(&o, "h", "/root", &v);
	tap_is_str(berth_env_get(&v, "PATH", 4), "/mine", "env: caller PATH without image");
	berth_strv_release(&v);
	berth_strv_release(&o.env);
	berth__process_env(&o, "h", "/root", &v);
	tap_ok(berth_env_get(&v, "PATH", 4) != NULL, "env: a default PATH when nobody sets one");
	tap_is_str(berth_env_get(&v, "HOME", 4), "/root", "env: HOME from the user");
	berth_strv_release(&v);
	free(o.cwd);
	free(o.user);
}

static void test_crilog(void)
{
	char path[] = "/tmp/berth-crilog-XXXXXX";
	int fd = mkstemp(path);
	struct berth__log_writer w;
	berth__log_init(&w, fd);
	berth__log_add(&w, 0, "one\ntw", 6);
	berth__log_add(&w, 1, "err\n", 4);
	berth__log_add(&w, 0, "o\nthree", 7);
	static char big[20000];
	memset(big, 'x', sizeof(big));
	berth__log_add(&w, 1, big, sizeof(big));
	berth__log_finish(&w);
	close(fd);
	struct berth_buf b;
	berth_buf_init(&b, 1 << 20);
	berth_fs_read_file(path, 1 << 20, &b, NULL);
	int lines = 0, partial = 0;
	for (char *p = b.data; p && *p; p = strchr(p, '\n') + 1) {
		lines++;
		partial += strstr(p, "Z stdout P ") == strchr(p, 'Z') ||
			   strstr(p, "Z stderr P ") == strchr(p, 'Z');
		if (!strchr(p, '\n'))
			break;
	}
	tap_is_int(lines, 6, "crilog: records (3 stdout lines incl. tail, 1 err, 2 pieces)");
	tap_is_int(partial, 3, "crilog: long line and unterminated tails are P records");
	tap_ok(strstr(b.data, " stdout F one\n") && strstr(b.data, " stdout F two\n") &&
		   strstr(b.data, " stderr F err\n") && strstr(b.data, " stdout P three\n"),
	       "crilog: lines joined across writes, streams kept apart");
	tap_ok(b.data[4] == '-' && b.data[10] == 'T' && strstr(b.data, "Z stdout"),
	       "crilog: RFC 3339 UTC timestamps");

	/* Reading back: a fake runner directory with that log. */
	char home[] = "/tmp/berth-home-XXXXXX";
	mkdtemp(home);
	_cleanup_free_ char *dir = berth_xasprintf("%s/runners/0123456789abcdef", home);
	berth_fs_mkdir_p(dir, 0700, NULL);
	_cleanup_free_ char *log = berth_xasprintf("%s/container.log", dir);
	rename(path, log);
	char out[] = "/tmp/berth-out-XXXXXX", errp[] = "/tmp/berth-err-XXXXXX";
	int ofd = mkstemp(out), efd = mkstemp(errp);
	tap_ok(berth_runner_logs(home, "0123456789abcdef", ofd, efd, false, NULL) == 0,
	       "logs: read back");
	close(ofd);
	close(efd);
	struct berth_buf o2, e2;
	berth_buf_init(&o2, 1 << 20);
	berth_buf_init(&e2, 1 << 20);
	berth_fs_read_file(out, 1 << 20, &o2, NULL);
	berth_fs_read_file(errp, 1 << 20, &e2, NULL);
	tap_is_str(o2.data, "one\ntwo\nthree", "logs: stdout rebuilt byte for byte");
	tap_is_int(e2.len, 4 + sizeof(big), "logs: stderr rebuilt (long line joined)");
	unlink(out);
	unlink(errp);
	berth_fs_remove_tree(AT_FDCWD, home, NULL);
	berth_buf_release(&b);
	berth_buf_release(&o2);
	berth_buf_release(&e2);
}

static void test_host(void)
{
	struct berth_cgroup_info cg;
	berth_cgroup_detect("/nonexistent", &cg);
	tap_ok(cg.mode == BERTH_CGROUP_NONE && !cg.memory, "cgroup: nothing there reads as none");
	berth_cgroup_detect("/sys/fs/cgroup", &cg);
	tap_ok(cg.mode != BERTH_CGROUP_NONE, "cgroup: this host has a layout (%s)",
	       berth_cgroup_mode_name(cg.mode));

	struct berth_oci_runtime rt;
	struct berth_err *err = NULL;
	tap_ok(berth_oci_runtime_find("no-such-runtime-x", &rt, &err) == -BERTH_E_NOT_FOUND &&
		   strstr(err->msg, "no-such-runtime-x"),
	       "runtime: an unknown name is not found, and the error names it");
	berth_err_free(err);
	err = NULL;
	_cleanup_free_ char *real = realpath("/bin/sh", NULL);
	tap_ok(berth_oci_runtime_find("/bin/sh", &rt, &err) == 0 && real &&
		   !strcmp(rt.path, real) && !strcmp(rt.name, strrchr(real, '/') + 1),
	       "runtime: a path is taken as given (resolved, named by its file)");
	berth_oci_runtime_release(&rt);
	tap_ok(berth_oci_runtime_find("/nonexistent/crun", &rt, &err) < 0 && err,
	       "runtime: a missing path is an error");
	berth_err_free(err);
}

int main(void)
{
	test_spec();
	test_process();
	test_crilog();
	test_host();
	return tap_done();
}
