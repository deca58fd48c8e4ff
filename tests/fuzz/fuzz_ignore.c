/* Fuzz target: a build context's .dockerignore (untrusted: it comes with the
 * context). Input: the file's bytes, then optionally a NUL and paths to
 * match, one a line. The file goes to a scratch context made once. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/build_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_IGNORE_PATHS 64 /* paths matched per input, at most */

static char root[] = "/tmp/berth-fuzz-ignore-XXXXXX";
static int rootfd = -1;

static void remove_root(void)
{
	berth_fs_remove_tree(AT_FDCWD, root, NULL);
}

static void match(const struct berth__ignore *ig, const char *path)
{
	bool m = berth__ignore_match(ig, path);
	/* Deterministic, and the context itself is never excluded. */
	if (m != berth__ignore_match(ig, path))
		abort();
	if ((!*path || strcmp(path, ".") == 0) && m)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rootfd < 0) {
		if (!mkdtemp(root))
			abort();
		atexit(remove_root);
		rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			abort();
	}
	const char *p = (const char *)data, *end = p + size;
	const char *nul = memchr(p, '\0', size);
	size_t flen = (size_t)((nul ? nul : end) - p);
	int fd = openat(rootfd, ".dockerignore", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (flen && write(fd, p, flen) != (ssize_t)flen))
		abort();
	close(fd);

	struct berth__ignore *ig = NULL;
	struct berth_err *err = NULL;
	if (berth__ignore_load(rootfd, &ig, &err) < 0) {
		if (!err || err->code != BERTH_E_INVALID || !err->msg)
			abort();
		berth_err_free(err);
		return 0;
	}
	static const char *const fixed[] = {
	    "",          ".",         "a",
	    "a/b",       "a/b/c.txt", "node_modules/x/y.js",
	    ".git",      ".git/HEAD", "dir/keep",
	    "README.md", "x.go",      "\xc3\xa9t\xc3\xa9/\xff",
	    "a/*/b",     "[x]",       "**",
	    "-",         "a\\b",      "very/deep/path/of/many/names"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		match(ig, fixed[i]);
	const char *q = nul ? nul + 1 : end;
	for (int n = 0; q < end && n < FUZZ_IGNORE_PATHS; n++) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		const char *e = nl ? nl : end;
		char *path = berth_xstrndup(q, (size_t)(e - q));
		match(ig, path);
		free(path);
		q = nl ? nl + 1 : end;
	}
	berth__ignore_free(ig);
	return 0;
}
