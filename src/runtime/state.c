/* A runner's state.json, its lock, and calls to the OCI runtime that are
 * not the container's own run (kill, delete). */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static const char *const status_names[] = {
    [BERTH_RUNNER_CREATED] = "created",
    [BERTH_RUNNER_RUNNING] = "running",
    [BERTH_RUNNER_EXITED] = "exited",
};

static char *dup_or_null(const json_t *v)
{
	const char *s = json_string_value(v);
	return s ? berth_xstrdup(s) : NULL;
}

int berth__state_read(const char *dir, struct berth_runner_info *out, struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_free_ char *path = berth_xasprintf("%s/state.json", dir);
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_RUNNER_STATE_MAX);
	if (berth_fs_read_file(path, BERTH_RUNNER_STATE_MAX, &b, err) < 0)
		return -BERTH_E_NOT_FOUND;
	json_error_t je;
	_cleanup_json_ json_t *j = json_loadb(b.data, b.len, 0, &je);
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *st = json_string_value(json_object_get(j, "status"));
	if (!j || !id || strlen(id) >= sizeof(out->id) || !st)
		return berth_err_set(err, BERTH_E_INVALID, "%s: not a runner state file", path);
	memcpy(out->id, id, strlen(id) + 1);
	out->status = BERTH_RUNNER_EXITED;
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(st, status_names[i]) == 0)
			out->status = (enum berth_runner_status)i;
	out->name = dup_or_null(json_object_get(j, "name"));
	out->image = dup_or_null(json_object_get(j, "image"));
	out->command = dup_or_null(json_object_get(j, "command"));
	out->runtime_path = dup_or_null(json_object_get(j, "runtime"));
	out->runtime_root = dup_or_null(json_object_get(j, "runtime_root"));
	out->error = dup_or_null(json_object_get(j, "error"));
	out->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	out->created = json_integer_value(json_object_get(j, "created"));
	out->finished = json_integer_value(json_object_get(j, "finished"));
	out->monitor_pid = (pid_t)json_integer_value(json_object_get(j, "monitor_pid"));
	if (json_is_true(json_object_get(j, "rm")))
		out->rm = true;
	return 0;
}

static void set_str(json_t *j, const char *key, const char *v)
{
	if (v)
		json_object_set_new(j, key, json_string(v));
}

int berth__state_write(const char *dir, const struct berth_runner_info *i, bool rm,
		       struct berth_err **err)
{
	_cleanup_json_ json_t *j = json_pack(
	    "{s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "id", i->id, "status", status_names[i->status],
	    "exit_code", (json_int_t)i->exit_code, "created", (json_int_t)i->created, "finished",
	    (json_int_t)i->finished, "monitor_pid", (json_int_t)i->monitor_pid, "rm", rm);
	set_str(j, "name", i->name);
	set_str(j, "image", i->image);
	set_str(j, "command", i->command);
	set_str(j, "runtime", i->runtime_path);
	set_str(j, "runtime_root", i->runtime_root);
	set_str(j, "error", i->error);
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_RUNNER_STATE_MAX);
	if (berth_json_dump_canonical(j, &b) < 0)
		return berth_err_set(err, BERTH_E_LIMIT, "runner state: too large");
	berth_buf_addch(&b, '\n');
	_cleanup_free_ char *path = berth_xasprintf("%s/state.json", dir);
	return berth_fs_write_replace(AT_FDCWD, path, b.data, b.len, 0600, err);
}

bool berth__runner_locked(const char *dir)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/lock", dir);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return false; /* closing drops it again */
	return errno == EWOULDBLOCK;
}

int berth__runtime_call(const char *path, const char *root, const char *const *args,
			struct berth_err **err)
{
	char *argv[12];
	size_t n = 0;
	argv[n++] = (char *)path;
	argv[n++] = (char *)"--root";
	argv[n++] = (char *)root;
	for (; *args && n < sizeof(argv) / sizeof(argv[0]) - 1; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, 64 * 1024);
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.capture_out = &out;
	sp.capture_err = &out;
	int status = 0;
	if (berth_spawn_run(&sp, &status, err) < 0)
		return berth_err_prefix(err, "%s %s", path, argv[3]);
	if (status != 0) {
		while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == ' '))
			out.data[--out.len] = '\0';
		return berth_err_set(err, BERTH_E_SYS, "%s %s: exit status %d%s%s", path, argv[3],
				     status, out.len ? ": " : "", out.data);
	}
	return 0;
}
