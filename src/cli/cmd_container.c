/* `berth container run|ls|logs|stop|rm|inspect`: containers from stored
 * images on an OCI runtime (crun or runc). */
#include "cli/cli.h"
#include "common/size.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: berth container run [options] IMAGE [--] [CMD ARG...]\n"
    "       berth container ls [-a] [-q] [--json]\n"
    "       berth container logs ID [-f]\n"
    "       berth container stop [-t SECONDS] ID...\n"
    "       berth container rm [-f] ID...\n"
    "       berth container inspect ID\n"
    "\n"
    "run options:\n"
    "  --rm                 remove the container when it exits\n"
    "  -d, --detach         start it in the background and print its id\n"
    "  --name NAME          a name to use instead of the id\n"
    "  -e, --env K=V|K      set a variable (K alone: from this environment)\n"
    "  -v, --volume SRC:DST[:ro]  bind mount a host path\n"
    "  --tmpfs DST[:OPTS]   mount a tmpfs\n"
    "  --secret-file DST=SRC  put the content of SRC at DST on a tmpfs (0400)\n"
    "  --data               mount the persistent volume $BERTH_HOME/data at /data\n"
    "  -w, --workdir DIR    working directory\n"
    "  -u, --user USER[:GROUP]  user, resolved in the image's /etc/passwd\n"
    "  --entrypoint CMD     replace the image's entrypoint\n"
    "  --hostname NAME      hostname (default: the id)\n"
    "  --network host|none  the host's network (default) or only loopback\n"
    "  --gpus N             give the container N NVIDIA GPUs\n"
    "  --memory BYTES       memory limit (suffixes k, m, g, t)\n"
    "  --cpus N             CPU limit (e.g. 0.5)\n"
    "  --pids-limit N       process limit\n"
    "  --stop-timeout S     seconds between SIGTERM and SIGKILL (default 10)\n"
    "  --runtime NAME|PATH  the OCI runtime (default: crun, else runc)\n"
    "\n"
    "run exits with the container's exit status; 125 when berth could not run\n"
    "it (bad options included), 126/127 when the command cannot be executed or\n"
    "is not found.\n";

/* Exit status of `container run` when berth itself fails (Docker's). */
enum { RUN_FAILED = 125 };

static int fail(struct berth_err *err)
{
	cli_fail(err, NULL);
	return CLI_FAIL;
}

static int add_volume(struct berth_container_opts *o, const char *spec)
{
	_cleanup_free_ char *copy = berth_xstrdup(spec);
	char *dst = strchr(copy, ':');
	if (!dst || dst == copy)
		return -1;
	*dst++ = '\0';
	bool ro = false;
	char *mode = strchr(dst, ':');
	if (mode) {
		*mode++ = '\0';
		if (strcmp(mode, "ro") == 0)
			ro = true;
		else if (strcmp(mode, "rw") != 0)
			return -1;
	}
	if (*dst != '/')
		return -1;
	char *src = realpath(copy, NULL);
	if (!src) {
		fprintf(stderr, "berth: volume '%s': %s: %s\n", spec, copy, strerror(errno));
		return -2;
	}
	o->binds = berth_xrealloc(o->binds, (o->nbinds + 1) * sizeof(*o->binds));
	o->binds[o->nbinds++] = (struct berth_bind){src, berth_xstrdup(dst), ro};
	return 0;
}

static int add_secret_file(struct berth_container_opts *o, const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || spec[0] != '/' || !eq[1])
		return -1;
	struct berth_buf b;
	berth_buf_init(&b, 1u << 20);
	struct berth_err *err = NULL;
	if (berth_fs_read_file(eq + 1, 1u << 20, &b, &err) < 0) {
		berth_err_prefix(&err, "--secret-file '%s'", spec);
		cli_fail(err, NULL);
		berth_buf_release(&b);
		return -2;
	}
	o->secrets = berth_xrealloc(o->secrets, (o->nsecrets + 1) * sizeof(*o->secrets));
	struct berth_secret_file *s = &o->secrets[o->nsecrets++];
	s->dest = berth_xstrndup(spec, (size_t)(eq - spec));
	s->len = b.len;
	s->data = berth_buf_steal(&b, NULL);
	return 0;
}

static int run(int argc, char **argv)
{
	enum {
		O_RM = 256,
		O_NAME,
		O_TMPFS,
		O_SECRET,
		O_ENTRY,
		O_HOSTNAME,
		O_NET,
		O_GPUS,
		O_MEM,
		O_CPUS,
		O_PIDS,
		O_RUNTIME,
		O_STOP,
		O_DATA,
	};
	static const struct option opts[] = {
	    {"rm", no_argument, NULL, O_RM},
	    {"detach", no_argument, NULL, 'd'},
	    {"name", required_argument, NULL, O_NAME},
	    {"env", required_argument, NULL, 'e'},
	    {"volume", required_argument, NULL, 'v'},
	    {"tmpfs", required_argument, NULL, O_TMPFS},
	    {"secret-file", required_argument, NULL, O_SECRET},
	    {"data", no_argument, NULL, O_DATA},
	    {"workdir", required_argument, NULL, 'w'},
	    {"user", required_argument, NULL, 'u'},
	    {"entrypoint", required_argument, NULL, O_ENTRY},
	    {"hostname", required_argument, NULL, O_HOSTNAME},
	    {"network", required_argument, NULL, O_NET},
	    {"gpus", required_argument, NULL, O_GPUS},
	    {"memory", required_argument, NULL, O_MEM},
	    {"cpus", required_argument, NULL, O_CPUS},
	    {"pids-limit", required_argument, NULL, O_PIDS},
	    {"runtime", required_argument, NULL, O_RUNTIME},
	    {"stop-timeout", required_argument, NULL, O_STOP},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct berth_container_opts o = {0};
	bool detach = false;
	int c, rc = RUN_FAILED;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+de:v:w:u:h", opts, NULL)) != -1) {
		switch (c) {
		case O_RM:
			o.rm = true;
			break;
		case 'd':
			detach = true;
			break;
		case O_NAME:
			free(o.name);
			o.name = berth_xstrdup(optarg);
			break;
		case 'e':
			if (strchr(optarg, '=')) {
				berth_strv_push(&o.env, optarg);
			} else if (getenv(optarg)) {
				berth_strv_pushf(&o.env, "%s=%s", optarg, getenv(optarg));
			}
			break;
		case 'v': {
			int r = add_volume(&o, optarg);
			if (r == -1) {
				cli_usage("container",
					  "-v '%s': expected SRC:DST[:ro] with DST absolute",
					  optarg);
				goto out;
			}
			if (r < 0)
				goto out;
			break;
		}
		case O_DATA:
			o.data_volume = true;
			break;
		case O_TMPFS:
			berth_strv_push(&o.tmpfs, optarg);
			break;
		case O_SECRET: {
			int r = add_secret_file(&o, optarg);
			if (r == -1) {
				cli_usage("container", "--secret-file '%s': expected /DEST=SRCFILE",
					  optarg);
				goto out;
			}
			if (r < 0)
				goto out;
			break;
		}
		case 'w':
			free(o.cwd);
			o.cwd = berth_xstrdup(optarg);
			break;
		case 'u':
			free(o.user);
			o.user = berth_xstrdup(optarg);
			break;
		case O_ENTRY:
			berth_strv_release(&o.entrypoint);
			if (*optarg)
				berth_strv_push(&o.entrypoint, optarg);
			o.set_entrypoint = true;
			break;
		case O_HOSTNAME:
			free(o.hostname);
			o.hostname = berth_xstrdup(optarg);
			break;
		case O_NET:
			if (strcmp(optarg, "host") == 0)
				o.network = BERTH_NET_HOST;
			else if (strcmp(optarg, "none") == 0)
				o.network = BERTH_NET_NONE;
			else {
				cli_usage("container", "--network '%s': use host or none", optarg);
				goto out;
			}
			break;
		case O_GPUS: {
			unsigned long n = strtoul(optarg, &end, 10);
			if (*end || end == optarg || n > 64) {
				cli_usage("container", "--gpus '%s': give a number of GPUs",
					  optarg);
				goto out;
			}
			o.gpus = (unsigned)n;
			break;
		}
		case O_MEM:
			if (berth_parse_size(optarg, &o.memory) < 0 || o.memory < 6 * 1024 * 1024) {
				cli_usage(
				    "container",
				    "--memory '%s': give bytes (suffix k, m or g), at least 6m",
				    optarg);
				goto out;
			}
			break;
		case O_CPUS:
			o.cpus = strtod(optarg, &end);
			if (*end || end == optarg || o.cpus <= 0 || o.cpus > 4096) {
				cli_usage("container", "--cpus '%s': give a number like 0.5 or 2",
					  optarg);
				goto out;
			}
			break;
		case O_PIDS:
			o.pids = strtoll(optarg, &end, 10);
			if (*end || end == optarg || o.pids <= 0) {
				cli_usage("container", "--pids-limit '%s': give a positive number",
					  optarg);
				goto out;
			}
			break;
		case O_RUNTIME:
			free(o.runtime);
			o.runtime = berth_xstrdup(optarg);
			break;
		case O_STOP:
			o.stop_grace = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || o.stop_grace < 0) {
				cli_usage("container", "--stop-timeout '%s': give seconds", optarg);
				goto out;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			rc = CLI_OK;
			goto out;
		default:
			cli_usage("container", "invalid option");
			goto out;
		}
	}
	if (optind >= argc) {
		cli_usage("container", "run needs an image");
		goto out;
	}
	const char *image = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	for (; optind < argc; optind++)
		berth_strv_push(&o.cmd, argv[optind]);

	/* Where GPU devices, driver libraries and tools are looked for: the
	 * host's by default; these let tests stand up a fake driver. */
	o.gpu_opts.dev_dir = getenv("BERTH_GPU_DEV_DIR");
	o.gpu_opts.lib_dirs = getenv("BERTH_GPU_LIB_DIRS");
	o.gpu_opts.bin_dirs = getenv("BERTH_GPU_BIN_DIRS");

	cli_recover_runners();
	if (cli_container_image(image, &o, detach) != CLI_OK)
		goto out;
	struct berth_err *err = NULL;
	struct berth_runner *r = NULL;
	if (berth_runner_create(cli_home(), &o, &r, &err) < 0) {
		fail(err);
		goto out;
	}
	const struct berth_strv *warn = berth_runner_warnings(r);
	for (size_t i = 0; i < warn->n; i++)
		fprintf(stderr, "berth: warning: %s\n", warn->v[i]);
	if (detach) {
		if (berth_runner_start(r, NULL, &err) < 0) {
			fail(err);
		} else {
			printf("%s\n", berth_runner_id(r));
			rc = CLI_OK;
		}
	} else {
		fflush(stdout);
		struct berth_runner_io io = {STDOUT_FILENO, STDERR_FILENO};
		int code = RUN_FAILED;
		if (berth_runner_run(r, &io, &code, &err) < 0)
			fail(err);
		rc = code;
	}
	berth_runner_free(r);
out:
	berth_container_opts_release(&o);
	return rc;
}

static void ago(int64_t t, char *buf, size_t len)
{
	int64_t d = (int64_t)time(NULL) - t;
	if (d < 60)
		snprintf(buf, len, "%llds ago", (long long)(d < 0 ? 0 : d));
	else if (d < 3600)
		snprintf(buf, len, "%lldm ago", (long long)(d / 60));
	else if (d < 86400)
		snprintf(buf, len, "%lldh ago", (long long)(d / 3600));
	else
		snprintf(buf, len, "%lldd ago", (long long)(d / 86400));
}

static const char *status_word(const struct berth_runner_info *i)
{
	switch (i->status) {
	case BERTH_RUNNER_CREATED:
		return "created";
	case BERTH_RUNNER_RUNNING:
		return "running";
	case BERTH_RUNNER_EXITED:
		break;
	}
	return "exited";
}

static json_t *info_json(const struct berth_runner_info *i)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:b}", "id", i->id, "status", status_word(i),
			      "created", (json_int_t)i->created, "monitor_pid",
			      (json_int_t)i->monitor_pid, "rm", i->rm);
	if (i->name)
		json_object_set_new(j, "name", json_string(i->name));
	if (i->image)
		json_object_set_new(j, "image", json_string(i->image));
	if (i->command)
		json_object_set_new(j, "command", json_string(i->command));
	if (i->runtime_path)
		json_object_set_new(j, "runtime", json_string(i->runtime_path));
	if (i->runtime_root)
		json_object_set_new(j, "runtime_root", json_string(i->runtime_root));
	if (i->status == BERTH_RUNNER_EXITED) {
		json_object_set_new(j, "exit_code", json_integer(i->exit_code));
		json_object_set_new(j, "finished", json_integer(i->finished));
	}
	if (i->error)
		json_object_set_new(j, "error", json_string(i->error));
	return j;
}

static int ls(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool all = false, quiet = false, as_json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "aqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("container", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("container", "ls takes no arguments");
	cli_recover_runners();
	struct berth_runner_info *v = NULL;
	size_t n = 0;
	struct berth_err *err = NULL;
	if (berth_runner_list(cli_home(), &v, &n, &err) < 0)
		return fail(err);
	json_t *arr = as_json ? json_array() : NULL;
	if (!quiet && !as_json)
		printf("%-16s  %-24s  %-28s  %-12s  %-18s  %s\n", "ID", "IMAGE", "COMMAND",
		       "CREATED", "STATUS", "NAME");
	for (size_t k = 0; k < n; k++) {
		struct berth_runner_info *i = &v[k];
		if (all || i->status == BERTH_RUNNER_RUNNING) {
			if (as_json) {
				json_array_append_new(arr, info_json(i));
			} else if (quiet) {
				printf("%s\n", i->id);
			} else {
				char created[32], status[48];
				ago(i->created, created, sizeof(created));
				if (i->status == BERTH_RUNNER_EXITED)
					snprintf(status, sizeof(status), "exited (%d)",
						 i->exit_code);
				else
					snprintf(status, sizeof(status), "%s", status_word(i));
				printf("%-16s  %-24.24s  %-28.28s  %-12s  %-18s  %s\n", i->id,
				       i->image ? i->image : "", i->command ? i->command : "",
				       created, status, i->name ? i->name : "");
			}
		}
		berth_runner_info_release(i);
	}
	free(v);
	if (arr) {
		char *s = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(arr);
	}
	return CLI_OK;
}

static int logs(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool follow = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("container", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("container", "logs takes one container");
	cli_recover_runners();
	struct berth_runner_info i;
	struct berth_err *err = NULL;
	if (berth_runner_lookup(cli_home(), argv[optind], &i, &err) < 0)
		return fail(err);
	fflush(stdout);
	int r = berth_runner_logs(cli_home(), i.id, STDOUT_FILENO, STDERR_FILENO, follow, &err);
	berth_runner_info_release(&i);
	return r < 0 ? fail(err) : CLI_OK;
}

/* stop and rm: the same loop over ids. */
static int each(int argc, char **argv, bool is_rm)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"time", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool force = false;
	int grace = 10, c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, is_rm ? "fh" : "t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 't':
			grace = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || grace < 0)
				return cli_usage("container", "-t '%s': give seconds", optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("container", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage("container", "%s needs a container", is_rm ? "rm" : "stop");
	cli_recover_runners();
	int rc = CLI_OK;
	for (; optind < argc; optind++) {
		struct berth_runner_info i;
		struct berth_err *err = NULL;
		int r = berth_runner_lookup(cli_home(), argv[optind], &i, &err);
		if (r == 0)
			r = is_rm ? berth_runner_remove(cli_home(), &i, force, &err)
				  : berth_runner_stop(cli_home(), &i, grace, &err);
		if (r < 0)
			rc = fail(err);
		else
			printf("%s\n", i.id);
		berth_runner_info_release(&i);
	}
	return rc;
}

static int inspect(int argc, char **argv)
{
	if (argc != 2)
		return cli_usage("container", "inspect takes one container");
	cli_recover_runners();
	struct berth_runner_info i;
	struct berth_err *err = NULL;
	if (berth_runner_lookup(cli_home(), argv[1], &i, &err) < 0)
		return fail(err);
	json_t *j = info_json(&i);
	char *s = json_dumps(j, JSON_INDENT(2));
	printf("%s\n", s);
	free(s);
	json_decref(j);
	berth_runner_info_release(&i);
	return CLI_OK;
}

int cmd_container(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "run"))
		return run(argc - 1, argv + 1);
	if (!strcmp(sub, "ls") || !strcmp(sub, "ps"))
		return ls(argc - 1, argv + 1);
	if (!strcmp(sub, "logs"))
		return logs(argc - 1, argv + 1);
	if (!strcmp(sub, "stop"))
		return each(argc - 1, argv + 1, false);
	if (!strcmp(sub, "rm"))
		return each(argc - 1, argv + 1, true);
	if (!strcmp(sub, "inspect"))
		return inspect(argc - 1, argv + 1);
	return cli_usage("container", "unknown subcommand '%s'", sub);
}
