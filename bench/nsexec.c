/* nsexec CMD ARG...: run CMD in a private mount namespace with
 * /sys/fs/cgroup/unified unmounted, which is what crun needs on a hybrid
 * cgroup host (see docs/runtime.md). bench/start times `nsexec crun run`
 * as the raw runtime: the least any launcher of crun pays on this host,
 * one exec, no shell. */
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: nsexec CMD [ARG...]\n", stderr);
		return 2;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		perror("nsexec: private mount namespace");
		return 1;
	}
	umount2("/sys/fs/cgroup/unified", MNT_DETACH); /* absent on other layouts */
	execvp(argv[1], argv + 1);
	perror("nsexec: exec");
	return 127;
}
