/* Process spawning: run a program with argv/env, optionally in a working
 * directory, with its stdin/stdout/stderr from given fds or captured into
 * capped buffers, and wait for its exit status. Used to drive the OCI
 * runtime, helpers and tests. */
#ifndef BERTH_COMMON_SPAWN_H
#define BERTH_COMMON_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/err.h"

struct berth_spawn {
	char *const *argv;             /* argv[0] is looked up in PATH when it has no '/' */
	char *const *envp;             /* NULL: inherit the caller's environment */
	const char *cwd;               /* NULL: inherit */
	int stdin_fd;                  /* -1: /dev/null */
	int stdout_fd;                 /* -1: inherit, unless capture_out */
	int stderr_fd;                 /* -1: inherit, unless capture_err */
	struct berth_buf *capture_out; /* collect stdout here (its cap applies) */
	struct berth_buf *capture_err;
};

#define BERTH_SPAWN_INIT                                         \
	{                                                        \
		.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 \
	}

/* Start the process; returns its pid or a negative code. The caller must
 * reap it with berth_spawn_wait() (captures require berth_spawn_run()). */
pid_t berth_spawn_start(const struct berth_spawn *sp, struct berth_err **err);

/* Wait for pid; on success returns 0 and sets *status to the exit code, or
 * 128 + signal number when it was killed. */
int berth_spawn_wait(pid_t pid, int *status, struct berth_err **err);

/* Start, collect captures, wait. *status as above. */
int berth_spawn_run(const struct berth_spawn *sp, int *status, struct berth_err **err);

#endif
