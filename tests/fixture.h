/* Setup helpers for unit tests that build files in a temporary directory:
 * make the directory, name paths inside it, create files, directories and
 * links, and remove the tree at the end. Setup failures are not test results:
 * they print "Bail out!" and exit. */
#ifndef BERTH_TESTS_FIXTURE_H
#define BERTH_TESTS_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

/* Paths from fixture_path() live in a ring of this many buffers: one call
 * (a test case table, an argument list) may hold up to this many at once. */
#define FIXTURE_PATH_SLOTS 16
#define FIXTURE_PATH_MAX   4096

/* The test's directory, "/tmp/berth-test-<prefix>-XXXXXX" once fixture_init()
 * has made it; empty before. */
static char fixture_dir[256];

/* Abort the run on a setup failure, naming `what` and errno. */
static inline void fixture_must(bool ok, const char *what)
{
	if (!ok) {
		printf("Bail out! setup: %s: %s\n", what, strerror(errno));
		exit(1);
	}
}

/* Make fixture_dir, a fresh directory named after `prefix` ("fs", "gpu"). */
static inline void fixture_init(const char *prefix)
{
	int n = snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/berth-test-%s-XXXXXX", prefix);
	if (n < 0 || (size_t)n >= sizeof(fixture_dir)) {
		errno = ENAMETOOLONG;
		fixture_must(false, prefix);
	}
	fixture_must(mkdtemp(fixture_dir) != NULL, "mkdtemp");
}

/* fixture_dir + "/" + the formatted relative path. Borrowed: the buffer is
 * reused FIXTURE_PATH_SLOTS calls later. */
__attribute__((format(printf, 1, 2))) static inline char *fixture_path(const char *fmt, ...)
{
	static char buf[FIXTURE_PATH_SLOTS][FIXTURE_PATH_MAX];
	static unsigned slot;
	char rel[FIXTURE_PATH_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	char *out = buf[slot++ % FIXTURE_PATH_SLOTS];
	snprintf(out, sizeof(buf[0]), "%s/%s", fixture_dir, rel);
	return out;
}

/* A regular file holding `content`, created or truncated. */
static inline void fixture_put_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	fixture_must(f != NULL, path);
	fputs(content, f);
	fixture_must(fclose(f) == 0, path);
}

/* A new directory, mode 0755 less the umask. */
static inline void fixture_put_dir(const char *path)
{
	fixture_must(mkdir(path, 0755) == 0, path);
}

/* A new symlink at `path` pointing to `target`. */
static inline void fixture_put_link(const char *target, const char *path)
{
	fixture_must(symlink(target, path) == 0, path);
}

/* Remove fixture_dir and everything in it, links not followed. Returns 0 or
 * a negative code with *err set (err may be NULL); the caller reports it. */
static inline int fixture_cleanup(struct berth_err **err)
{
	return berth_fs_remove_tree(AT_FDCWD, fixture_dir, err);
}

#endif
