/* `berth serve`: the platform server (server/). */
#include "cli/cli.h"
#include "server/server.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: berth serve [--listen HOST:PORT] [--home DIR]\n"
    "\n"
    "Run the berth platform: the gateway (sync calls at /run/APP, the durable\n"
    "queue at /queue/APP, files, KV) and the admin API that berth deploy, apps,\n"
    "runners, queue, files and keys talk to. Deployed apps scale from zero as\n"
    "requests come and back to zero after their keep_alive. State is in the\n"
    "home directory ($BERTH_HOME); a restart resumes every app and every queued\n"
    "request. Listens on 127.0.0.1:8686 by default. Stops on SIGINT or SIGTERM.\n";

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *listen = "127.0.0.1:8686";
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'H':
			setenv("BERTH_HOME", optarg, 1);
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("serve", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("serve", "serve takes no arguments");
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		perror("berth: /proc/self/exe");
		return CLI_FAIL;
	}
	self[n] = '\0';
	/* Signals are waited for by the main thread; every other thread (the
	 * HTTP server's, the supervisor's) inherits them blocked. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	cli_recover_runners();
	struct berth_server_opts o = {.home = cli_home(), .listen = listen, .berth = self};
	struct berth_err *err = NULL;
	if (berth_server_run(&o, &err) < 0)
		return cli_fail(err, NULL);
	return CLI_OK;
}
