/* berth's entry point: dispatch to the verb named by argv[1]. */
#include "cli/cli.h"
#include "runtime/runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct cli_verb verbs[] = {
    {"dockerfile", cmd_dockerfile, "read Dockerfiles: parse, dump, show the typed model"},
    {"pull", cmd_pull, "pull an image from a registry into the local store"},
    {"push", cmd_push, "push a stored image to a registry"},
    {"tag", cmd_tag, "give a stored image another name"},
    {"images", cmd_images, "list stored images"},
    {"image", cmd_image, "inspect, remove, save and load images (OCI layouts)"},
    {"build", cmd_build, "build an image from a Dockerfile (BuildKit semantics, cached)"},
    {"lint", cmd_lint, "check a Dockerfile: BuildKit's checks, hadolint's, berth's own"},
    {"base", cmd_base, "make base images from the distribution (debootstrap, busybox)"},
    {"run", cmd_run, "run an app locally: build, start one runner, serve it until Ctrl-C"},
    {"serve", cmd_serve, "run the platform: gateway, queue, autoscaler, admin API"},
    {"deploy", cmd_deploy, "deploy an app to a berth server: build, new revision, roll out"},
    {"apps", cmd_apps, "deployed apps: list, scale, rollback, delete"},
    {"runners", cmd_runners, "a server's runners: list, stop, logs"},
    {"queue", cmd_queue, "an app's queue on a server: size, flush"},
    {"files", cmd_files, "a server's file store: upload, list, download, rm"},
    {"kv", cmd_kv, "a server's KV store: get, set (with a TTL), delete, list"},
    {"keys", cmd_keys, "a server's API keys: create, list, revoke"},
    {"container", cmd_container, "run containers from stored images (run, ls, logs, stop, rm)"},
    {"secrets", cmd_secrets, "keep secrets encrypted at rest (set, list, unset)"},
    {"login", cmd_login, "keep credentials for a registry"},
    {"logout", cmd_logout, "forget the credentials for a registry"},
    {"init", cmd_init, "write a new app from a template (python, pytorch, cuda, server)"},
    {"doctor", cmd_doctor, "check this machine for what berth needs, with the fixes"},
    {"version", cmd_version, "print the version"},
    {"debug", cmd_debug, NULL},
    {"app-build", cmd_app_build, NULL},
};

static void help(FILE *out)
{
	fprintf(out, "usage: berth <command> [options]\n\n"
		     "berth is a self-hosted serverless platform for container apps.\n\n"
		     "commands:\n");
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(verbs); i++)
		if (verbs[i].summary)
			fprintf(out, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out, "\nrun 'berth <command> --help' for a command's options\n");
}

int cli_fail(struct berth_err *err, const char *file)
{
	if (file && err->line > 0)
		fprintf(stderr, "berth: %s:%d: %s\n", file, err->line, err->msg);
	else if (file)
		fprintf(stderr, "berth: %s: %s\n", file, err->msg);
	else
		fprintf(stderr, "berth: %s\n", err->msg);
	berth_err_free(err);
	return CLI_FAIL;
}

int cli_usage(const char *verb, const char *fmt, ...)
{
	va_list ap;
	fputs("berth: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nrun 'berth %s --help' for usage\n", verb);
	return CLI_USAGE;
}

int main(int argc, char **argv)
{
	berth_log_set_sink(berth_log_stderr_sink, NULL, BERTH_LOG_WARN);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	/* Not a command for people: a detached runner's monitor, exec'd by
	 * berth_runner_start() with the runner on descriptor 3. */
	if (!strcmp(argv[1], "__monitor") && argc == 2)
		return berth_runner_monitor_main();
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(verbs); i++)
		if (!strcmp(argv[1], verbs[i].name))
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "berth: unknown command '%s'\nrun 'berth --help' for the list\n", argv[1]);
	return CLI_USAGE;
}
