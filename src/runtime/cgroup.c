/* Which cgroup layout the host has, and which controllers a runtime can use
 * for limits. Decides whether crun needs the hybrid work-around and whether
 * --memory/--cpus/--pids can be honoured. */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

static bool is_fs(const char *path, long magic)
{
	struct statfs st;
	return statfs(path, &st) == 0 && (long)st.f_type == magic;
}

/* Does the space-separated list in `path` name `word`? */
static bool file_has_word(const char *path, const char *word)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 4096);
	if (berth_fs_read_file(path, 4096, &b, NULL) < 0)
		return false;
	size_t wl = strlen(word);
	for (char *p = b.data; (p = strstr(p, word)); p += wl) {
		bool start = p == b.data || p[-1] == ' ' || p[-1] == '\n';
		bool end = p[wl] == ' ' || p[wl] == '\n' || p[wl] == '\0';
		if (start && end)
			return true;
	}
	return false;
}

void berth_cgroup_detect(const char *root, struct berth_cgroup_info *out)
{
	memset(out, 0, sizeof(*out));
	if (is_fs(root, CGROUP2_SUPER_MAGIC)) {
		out->mode = BERTH_CGROUP_UNIFIED;
		_cleanup_free_ char *ctl = berth_xasprintf("%s/cgroup.controllers", root);
		out->memory = file_has_word(ctl, "memory");
		out->cpu = file_has_word(ctl, "cpu");
		out->pids = file_has_word(ctl, "pids");
		return;
	}
	if (!is_fs(root, TMPFS_MAGIC))
		return;
	_cleanup_free_ char *unified = berth_xasprintf("%s/unified", root);
	out->mode = is_fs(unified, CGROUP2_SUPER_MAGIC) ? BERTH_CGROUP_HYBRID : BERTH_CGROUP_LEGACY;
	static const struct {
		const char *dir;
		size_t off;
	} v1[] = {
	    {"memory", offsetof(struct berth_cgroup_info, memory)},
	    {"cpu", offsetof(struct berth_cgroup_info, cpu)},
	    {"pids", offsetof(struct berth_cgroup_info, pids)},
	};
	bool any = false;
	for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
		_cleanup_free_ char *p = berth_xasprintf("%s/%s", root, v1[i].dir);
		bool have = is_fs(p, CGROUP_SUPER_MAGIC);
		*(bool *)((char *)out + v1[i].off) = have;
		any |= have;
	}
	if (!any && out->mode == BERTH_CGROUP_LEGACY) {
		/* A tmpfs with nothing cgroup in it: no layout at all. */
		_cleanup_free_ char *sd = berth_xasprintf("%s/systemd", root);
		if (!is_fs(sd, CGROUP_SUPER_MAGIC))
			out->mode = BERTH_CGROUP_NONE;
	}
}

const char *berth_cgroup_mode_name(enum berth_cgroup_mode m)
{
	switch (m) {
	case BERTH_CGROUP_LEGACY:
		return "legacy (v1)";
	case BERTH_CGROUP_HYBRID:
		return "hybrid (v1 + v2)";
	case BERTH_CGROUP_UNIFIED:
		return "unified (v2)";
	case BERTH_CGROUP_NONE:
		break;
	}
	return "none";
}

bool berth__oom_killed(const char *cgroup_path)
{
	/* The kernel names the memory cgroup of every OOM kill in its log
	 * ("oom-kill:...,oom_memcg=/berth/<id>,task_memcg=..."): the same line
	 * on cgroup v1 and v2, and it outlives the cgroup, which the runtime
	 * removes before berth can read its counters. Root reads /dev/kmsg;
	 * without it (a container without the device) the answer is no. */
	_cleanup_close_ int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	_cleanup_free_ char *needle = berth_xasprintf("oom_memcg=%s,", cgroup_path);
	char rec[8192];
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && (errno == EINTR || errno == EPIPE)) /* EPIPE: overwritten, go on */
			continue;
		if (n <= 0)
			return false; /* EAGAIN: the end of the log */
		rec[n] = '\0';
		if (strstr(rec, needle))
			return true;
	}
}
