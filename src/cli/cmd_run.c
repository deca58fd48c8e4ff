/* `berth run APP`: an app, standalone and ephemeral, the way `fal run` does
 * it. Build (cached), start one runner, serve it on a local port, stream its
 * logs, and clean everything up on Ctrl-C.
 *
 * Two processes. This one builds the image, then becomes the runner's
 * monitor (berth_runner_run: the container's output goes live to our
 * stdout/stderr; SIGINT stops it with SIGTERM, the grace period, SIGKILL).
 * Before that it forks the front: a child that listens on --port, probes the
 * runner's health until it is ready (or startup_timeout passes), then
 * forwards requests to it. The child reports to us over a pipe: "L" (it
 * listens) or "E <why>", then "R" (ready) or "T" (timed out). */
#include "app/app.h"
#include "cli/cli.h"
#include "cli/validate_image.h"
#include "image/image.h"
#include "runtime/runtime.h"
#include "secrets/secrets.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: berth run APP [--port N] [--no-cache|--force-env-build] [--env K=V]...\n"
    "                 [--runtime NAME|PATH]\n"
    "\n"
    "Run an app locally: build its image (cached), start one runner, and serve\n"
    "it on http://127.0.0.1:PORT (default 8080) until Ctrl-C. APP is FILE.py::Class\n"
    "(a Python class on berth's SDK), a berth.yaml, or a directory holding one.\n"
    "Requests are forwarded to the runner; its logs stream here. App code is\n"
    "mounted, not built in: editing it never rebuilds the image.\n";

/* Lines of the app's log shown when it fails. */
#define TAIL_LINES 12

struct run_cli {
	const char *app;
	unsigned port;
	bool no_cache;
	const char *runtime;
	struct berth_strv env;
};

static double secs_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* ---------------------------------------------------------------- image */

static int pull(void *ctx, struct berth_store *s, const char *ref, const json_t *registries,
		char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	return cli_pull(s, ref, registries, false, digest, err);
}

static int app_image(const struct run_cli *c, const struct berth_app_spec *spec, bool pin,
		     char **ref)
{
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_err *err = NULL;
	struct berth_secrets *secrets = NULL;
	if (berth_secrets_open(cli_home(), &secrets, &err) < 0) {
		berth_store_close(s);
		return cli_fail(err, NULL);
	}
	struct berth_app_image_opts o = {
	    .no_cache = c->no_cache,
	    .pin = pin,
	    .runtime = c->runtime,
	    .progress = stderr,
	    .secrets = secrets,
	    .pull = cli_pull_allowed() ? pull : NULL,
	};
	char digest[BERTH_DIGEST_LEN + 1];
	int r = berth_app_image(s, spec, &o, ref, digest, &err);
	berth_secrets_close(secrets);
	berth_store_close(s);
	if (r < 0)
		return cli_fail(err, err && err->line > 0 ? spec->dockerfile_path : NULL);
	return CLI_OK;
}

/* ------------------------------------------------------ container options */

static int container_opts(const struct run_cli *c, const struct berth_app_spec *spec,
			  const char *sdk_dir, unsigned rport, struct berth_container_opts *o)
{
	struct berth_err *err = NULL;
	struct berth_secrets *secrets = NULL;
	if (spec->secrets.n && berth_secrets_open(cli_home(), &secrets, &err) < 0)
		return cli_fail(err, NULL);
	int r = berth_app_runner_opts(spec, cli_home(), sdk_dir, rport, secrets, o, &err);
	berth_secrets_close(secrets);
	if (r < 0)
		return cli_fail(err, NULL);
	o->runtime = c->runtime ? berth_xstrdup(c->runtime) : NULL;
	/* Where GPU devices, driver libraries and tools are looked for (tests
	 * stand up a fake driver with these). */
	o->gpu_opts.dev_dir = getenv("BERTH_GPU_DEV_DIR");
	o->gpu_opts.lib_dirs = getenv("BERTH_GPU_LIB_DIRS");
	o->gpu_opts.bin_dirs = getenv("BERTH_GPU_BIN_DIRS");
	for (size_t i = 0; i < c->env.n; i++)
		berth_strv_push(&o->env, c->env.v[i]);
	return CLI_OK;
}

/* ------------------------------------------------------------ the front */

struct front_args {
	const struct berth_app_spec *spec;
	unsigned port, rport;
	int report_fd; /* to the parent */
	struct timespec t0;
};

static void report(int fd, const char *line)
{
	size_t len = strlen(line);
	while (len) {
		ssize_t n = write(fd, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

static void print_banner(const struct front_args *a, double setup)
{
	const struct berth_app_spec *s = a->spec;
	fprintf(stderr, "berth: '%s' is ready in %.2f s (setup %.2f s)\n", s->name,
		secs_since(&a->t0), setup);
	fprintf(stderr, "berth: serving on http://127.0.0.1:%u\n", a->port);
	if (s->kind == BERTH_APP_SDK) {
		for (size_t i = 0; i < s->endpoints.n; i++)
			fprintf(stderr,
				"  curl -X POST http://127.0.0.1:%u%s -H 'Content-Type: "
				"application/json' -d '{}'\n",
				a->port, s->endpoints.v[i]);
	} else {
		fprintf(stderr, "  curl http://127.0.0.1:%u/\n", a->port);
	}
	fprintf(stderr, "berth: press Ctrl-C to stop\n");
}

/* The child: listen, wait for the runner to be ready, serve until SIGTERM.
 * Never returns. */
static void front_main(const struct front_args *a)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGINT, SIG_IGN); /* Ctrl-C is the parent's: it stops the runner, then us */
	if (getppid() == 1)
		_exit(0);

	const struct berth_app_spec *s = a->spec;
	_cleanup_free_ char *upstream = berth_xasprintf("http://127.0.0.1:%u", a->rport);
	struct berth_front_opts fo = {
	    .host = "127.0.0.1",
	    .port = a->port,
	    .upstream = upstream,
	    .request_timeout_ms = s->request_timeout_ms,
	    .app = s->name,
	    .access_log = stderr,
	};
	struct berth_front *f = NULL;
	struct berth_err *err = NULL;
	if (berth_front_start(&fo, &f, &err) < 0) {
		_cleanup_free_ char *line = berth_xasprintf("E %s\n", err->msg);
		report(a->report_fd, line);
		berth_err_free(err);
		_exit(1);
	}
	report(a->report_fd, "L\n");

	_cleanup_free_ char *health =
	    berth_xasprintf("%s%s", upstream, s->health.path ? s->health.path : "/health");
	struct timespec started;
	clock_gettime(CLOCK_MONOTONIC, &started);
	long wait_ms = 5;
	bool ready = false;
	while (!ready) {
		long status = 0;
		if (berth_http_probe(health, s->health.method, NULL, s->health.timeout_ms, &status,
				     NULL) == 0 &&
		    status >= 200 && status < 300) {
			ready = true;
			break;
		}
		if (secs_since(&started) * 1000 >= (double)s->startup_timeout_ms)
			break;
		struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
		if (sigtimedwait(&set, NULL, &ts) == SIGTERM) {
			berth_front_stop(f);
			_exit(0);
		}
		/* Every 5 ms while a fast app may be about to answer, then
		 * every 100 ms for slow setups. */
		if (secs_since(&started) > 2)
			wait_ms = 100;
	}
	if (ready) {
		berth_front_set_state(f, BERTH_FRONT_READY);
		report(a->report_fd, "R\n");
		print_banner(a, secs_since(&started));
	} else {
		report(a->report_fd, "T\n");
		kill(getppid(), SIGTERM);
	}
	while (sigwaitinfo(&set, NULL) != SIGTERM)
		;
	berth_front_set_state(f, BERTH_FRONT_STOPPING);
	berth_front_stop(f);
	_exit(0);
}

/* ------------------------------------------------------------- the run */

/* The last lines of the runner's log, to stderr, indented. */
static void show_tail(const char *id)
{
	int fd = memfd_create("berth-log", MFD_CLOEXEC);
	if (fd < 0)
		return;
	struct berth_err *err = NULL;
	if (berth_runner_logs(cli_home(), id, fd, fd, false, &err) < 0) {
		berth_err_free(err);
		close(fd);
		return;
	}
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > 16384 ? size - 16384 : 0;
	char buf[16385];
	ssize_t n = pread(fd, buf, (size_t)(size - from), from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Back up TAIL_LINES newlines from the end. */
	char *p = buf + n;
	if (p > buf && p[-1] == '\n')
		*--p = '\0';
	int lines = 0;
	while (p > buf && lines < TAIL_LINES)
		if (*--p == '\n')
			lines++;
	if (*p == '\n')
		p++;
	for (char *line = p; line && *line;) {
		char *nl = strchr(line, '\n');
		fprintf(stderr, "  | %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
		line = nl ? nl + 1 : NULL;
	}
}

static int run(struct run_cli *c)
{
	/* Ctrl-C must reach us even when a shell started us in the background
	 * (a non-interactive shell gives such jobs SIGINT ignored): until the
	 * runner starts, it simply ends berth run, as in any command. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct berth_err *err = NULL;
	_cleanup_free_ char *sdk_dir = NULL;
	if (strstr(c->app, ".py") && !(sdk_dir = berth_app_sdk_dir(&err)))
		return cli_fail(err, NULL);
	struct berth_app_spec spec = {0};
	if (berth_app_load(c->app, sdk_dir, &spec, &err) < 0)
		return cli_fail(err, NULL);
	int rc = CLI_FAIL;
	_cleanup_free_ char *ref = NULL;
	struct berth_container_opts o = {0};
	struct berth_runner *r = NULL;
	pid_t child = -1;
	int pipefd[2] = {-1, -1};

	if (spec.kind == BERTH_APP_SDK && !sdk_dir && !(sdk_dir = berth_app_sdk_dir(&err))) {
		cli_fail(err, NULL);
		goto out;
	}
	fprintf(stderr, "berth: app '%s'", spec.name);
	if (spec.kind == BERTH_APP_SDK)
		fprintf(stderr, " (class %s of %s)", spec.sdk_class, spec.sdk_file);
	fputc('\n', stderr);
	/* A run killed mid-way leaves a runner like a killed `container run`. */
	cli_recover_runners();
	if (app_image(c, &spec, false, &ref) != CLI_OK)
		goto out;
	fprintf(stderr, "berth: image %s ready (%.2f s)\n", ref, secs_since(&t0));
	if (cli_container_image(ref, &o, true) != CLI_OK)
		goto out;
	if (cli_validate_app_image(&spec, ref) != CLI_OK)
		goto out;
	unsigned rport = (unsigned)spec.port;
	if (!rport && berth_free_port(&rport, &err) < 0) {
		cli_fail(err, NULL);
		goto out;
	}
	if (container_opts(c, &spec, sdk_dir, rport, &o) != CLI_OK)
		goto out;

	/* From here on a stop signal is the monitor's to handle (signalfd): keep
	 * one that comes before it starts instead of dying with a runner made. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);

	/* The front first: a taken port fails before any container starts. */
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("berth: pipe");
		goto out;
	}
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child < 0) {
		perror("berth: fork");
		goto out;
	}
	if (child == 0) {
		close(pipefd[0]);
		struct front_args a = {&spec, c->port, rport, pipefd[1], t0};
		front_main(&a);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	char line[512];
	ssize_t n = read(pipefd[0], line, sizeof(line) - 1);
	line[n > 0 ? n : 0] = '\0';
	if (line[0] != 'L') {
		fprintf(stderr, "berth: %s",
			line[0] == 'E' ? line + 2 : "the front did not start\n");
		goto out;
	}

	if (berth_runner_create(cli_home(), &o, &r, &err) < 0) {
		cli_fail(err, NULL);
		goto out;
	}
	const struct berth_strv *warn = berth_runner_warnings(r);
	for (size_t i = 0; i < warn->n; i++)
		fprintf(stderr, "berth: warning: %s\n", warn->v[i]);
	fprintf(stderr, "berth: runner %s starting on port %u (setup)\n", berth_runner_id(r),
		rport);
	struct berth_runner_io io = {STDOUT_FILENO, STDERR_FILENO};
	int code = 125;
	int runr = berth_runner_run(r, &io, &code, &err);
	bool stopped = berth_runner_stop_signalled(r);

	/* The front: stop it, and read what it saw. */
	kill(child, SIGTERM);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	child = -1;
	bool ready = false, timed_out = false;
	while ((n = read(pipefd[0], line, sizeof(line))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			ready |= line[i] == 'R';
			timed_out |= line[i] == 'T';
		}

	if (runr < 0) {
		cli_fail(err, NULL);
	} else if (timed_out) {
		fprintf(stderr,
			"berth: '%s' was not ready within its startup_timeout (%.0f s): %s%s did "
			"not answer 2xx; the last lines of its log:\n",
			spec.name, (double)spec.startup_timeout_ms / 1000,
			spec.health.method ? spec.health.method : "GET",
			spec.health.path ? spec.health.path : "/health");
		show_tail(berth_runner_id(r));
	} else if (stopped) {
		fprintf(stderr, "berth: stopped '%s'\n", spec.name);
		rc = CLI_OK;
	} else {
		fprintf(stderr,
			"berth: '%s' exited %s with status %d; the last lines of its log:\n",
			spec.name, ready ? "while serving" : "during setup", code);
		show_tail(berth_runner_id(r));
		rc = code > 0 && code < 126 ? code : CLI_FAIL;
	}
	/* Let go of the runner (its lock) before removing it. */
	char id[17];
	memcpy(id, berth_runner_id(r), sizeof(id));
	berth_runner_free(r);
	r = NULL;
	struct berth_runner_info info;
	if (berth_runner_lookup(cli_home(), id, &info, NULL) == 0) {
		berth_runner_remove(cli_home(), &info, true, NULL);
		berth_runner_info_release(&info);
	}
out:
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	berth_runner_free(r);
	berth_container_opts_release(&o);
	berth_app_spec_release(&spec);
	return rc;
}

int cmd_run(int argc, char **argv)
{
	enum { O_NO_CACHE = 256, O_RUNTIME };
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"no-cache", no_argument, NULL, O_NO_CACHE},
	    {"force-env-build", no_argument, NULL, O_NO_CACHE},
	    {"env", required_argument, NULL, 'e'},
	    {"runtime", required_argument, NULL, O_RUNTIME},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct run_cli c = {.port = 8080, .env = BERTH_STRV_INIT};
	int ch, rc = CLI_USAGE;
	char *end;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:e:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': {
			long p = strtol(optarg, &end, 10);
			if (*end || end == optarg || p < 1 || p > 65535) {
				cli_usage("run", "--port '%s': give a port from 1 to 65535",
					  optarg);
				goto out;
			}
			c.port = (unsigned)p;
			break;
		}
		case O_NO_CACHE:
			c.no_cache = true;
			break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				cli_usage("run", "--env '%s': expected K=V", optarg);
				goto out;
			}
			berth_strv_push(&c.env, optarg);
			break;
		case O_RUNTIME:
			c.runtime = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			rc = CLI_OK;
			goto out;
		default:
			cli_usage("run", "invalid option");
			goto out;
		}
	}
	if (optind != argc - 1) {
		cli_usage("run", optind >= argc ? "run needs an app (FILE.py::Class, berth.yaml or "
						  "a directory)"
						: "run takes one app");
		goto out;
	}
	c.app = argv[optind];
	rc = run(&c);
out:
	berth_strv_release(&c.env);
	return rc;
}

/* `berth app-build [--no-cache] SPEC.json`: build an app's image from its
 * spec as JSON; the last line of the output is "image <ref>". berth serve
 * runs it as the build worker of a deploy (a process of its own: the
 * builder needs a single-threaded process). */
int cmd_app_build(int argc, char **argv)
{
	struct run_cli c = {.env = BERTH_STRV_INIT};
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--no-cache")) {
		c.no_cache = true;
		i++;
	}
	if (i != argc - 1)
		return cli_usage("app-build", "app-build takes [--no-cache] SPEC.json");
	struct berth_err *err = NULL;
	json_error_t je;
	json_t *j = json_load_file(argv[i], 0, &je);
	if (!j) {
		fprintf(stderr, "berth: %s:%d: %s\n", argv[i], je.line, je.text);
		return CLI_FAIL;
	}
	_cleanup_free_ char *copy = berth_xstrdup(argv[i]);
	struct berth_app_spec spec = {0};
	int r = berth_app_from_json(j, dirname(copy), &spec, &err);
	json_decref(j);
	if (r < 0)
		return cli_fail(err, argv[i]);
	_cleanup_free_ char *ref = NULL;
	int rc = app_image(&c, &spec, true, &ref);
	/* The checks berth run makes, before a deploy rolls out an image that
	 * cannot start. */
	if (rc == CLI_OK)
		rc = cli_validate_app_image(&spec, ref);
	if (rc == CLI_OK)
		printf("image %s\n", ref);
	berth_app_spec_release(&spec);
	return rc;
}
