/* common/dl: libraries loaded on first use. */
#include "common/common.h"
#include "common/dl.h"
#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/* Run berth_dl_load in a child; returns its wait status and its stderr. */
static int load_in_child(const char *soname, const char *sym, char *msg, size_t cap)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		const char *names[] = {sym};
		void *slot;
		berth_dl_load(soname, "some-package", names, &slot, 1);
		_exit(slot ? 0 : 3);
	}
	close(p[1]);
	ssize_t n = read(p[0], msg, cap - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	return st;
}

int main(void)
{
	const char *names[] = {"zlibVersion"};
	void *slot = NULL;
	berth_dl_load("libz.so.1", "zlib1g", names, &slot, 1);
	tap_ok(slot != NULL, "a present library resolves");
	const char *(*version)(void) = (const char *(*)(void))slot;
	tap_is_str(version(), zlibVersion(), "and calls the same code");

	char msg[1024];
	int st = load_in_child("libnot-there.so.9", "x", msg, sizeof(msg));
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a missing library aborts");
	tap_ok(strstr(msg, "libnot-there.so.9") && strstr(msg, "some-package"),
	       "saying which library and which package to install");
	st = load_in_child("libz.so.1", "no_such_function_here", msg, sizeof(msg));
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(msg, "no_such_function_here"),
	       "a missing symbol aborts and names it");
	return tap_done();
}
