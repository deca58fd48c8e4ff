/* Fuzz target: an image's /etc/passwd and /etc/group, which USER is
 * resolved against. Input: passwd, a NUL, group, a NUL, then the USER spec
 * (all optional). The files go to a scratch root made once. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "runtime/runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[] = "/tmp/berth-fuzz-user-XXXXXX";
static int rootfd = -1;

static void put(const char *name, const char *p, size_t n)
{
	int fd = openat(rootfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		abort();
	if (n && write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void remove_root(void)
{
	berth_fs_remove_tree(AT_FDCWD, root, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rootfd < 0) {
		if (!mkdtemp(root))
			abort();
		atexit(remove_root);
		rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0 || mkdirat(rootfd, "etc", 0755) < 0)
			abort();
	}
	const char *p = (const char *)data, *end = p + size;
	const char *nul1 = memchr(p, '\0', size);
	const char *g = nul1 ? nul1 + 1 : end;
	const char *nul2 = g < end ? memchr(g, '\0', (size_t)(end - g)) : NULL;
	const char *s = nul2 ? nul2 + 1 : end;
	put("etc/passwd", p, (size_t)((nul1 ? nul1 : end) - p));
	put("etc/group", g, (size_t)((nul2 ? nul2 : end) - g));
	char *spec = berth_xstrndup(s, (size_t)(end - s));
	static const char *const fixed[] = {"", "root", "0", "app", "1000:10", "app:wheel", "x:y"};
	for (size_t i = 0; i <= sizeof(fixed) / sizeof(fixed[0]); i++) {
		struct berth_user u;
		struct berth_err *err = NULL;
		const char *sp = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : spec;
		if (berth_user_resolve(rootfd, sp, &u, &err) == 0)
			berth_user_release(&u);
		berth_err_free(err);
	}
	free(spec);
	return 0;
}
