/* `berth apps`, `berth runners` and `berth queue`: the admin side of a berth
 * server, over its HTTP API (docs/api.md). */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char apps_usage[] =
    "usage: berth apps list [--json] [--server URL]\n"
    "       berth apps scale APP [--min-runners N] [--max-runners N] [--keep-alive S]\n"
    "                            [--max-multiplexing N] [--concurrency-buffer N]\n"
    "                            [--scaling-delay S] [--server URL]\n"
    "       berth apps rollback APP [--revision N] [--server URL]\n"
    "       berth apps delete APP [--server URL]\n";

static const char runners_usage[] = "usage: berth runners list [APP] [--json] [--server URL]\n"
				    "       berth runners stop ID [--server URL]\n"
				    "       berth runners logs ID [-f]\n";

static const char queue_usage[] = "usage: berth queue size APP [--server URL]\n"
				  "       berth queue flush APP [--server URL]\n";

/* One call with a JSON body (taken; may be NULL); prints the server's
 * error. *out (may be NULL) gets the JSON answer. */
static int call(const char *server, const char *method, const char *path, json_t *body,
		json_t **out)
{
	_cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	return cli_http_json(server, method, path, text ? "application/json" : NULL, text,
			     text ? strlen(text) : 0, out);
}

/* Options shared by the subcommands: --server, --json, and the scale knobs. */
struct opts {
	const char *server;
	bool json;
	json_t *scaling;
	long revision;
	bool follow;
};

static int parse(const char *verb, int argc, char **argv, struct opts *o)
{
	enum { O_SERVER = 256, O_JSON, O_MIN, O_MAX, O_KEEP, O_MUX, O_BUF, O_DELAY, O_REV };
	static const struct option opts[] = {
	    {"server", required_argument, NULL, O_SERVER},
	    {"json", no_argument, NULL, O_JSON},
	    {"min-runners", required_argument, NULL, O_MIN},
	    {"max-runners", required_argument, NULL, O_MAX},
	    {"keep-alive", required_argument, NULL, O_KEEP},
	    {"max-multiplexing", required_argument, NULL, O_MUX},
	    {"concurrency-buffer", required_argument, NULL, O_BUF},
	    {"scaling-delay", required_argument, NULL, O_DELAY},
	    {"revision", required_argument, NULL, O_REV},
	    {"follow", no_argument, NULL, 'f'},
	    {0},
	};
	static const char *const keys[] = {
	    [O_MIN - O_MIN] = "min_runners",        [O_MAX - O_MIN] = "max_runners",
	    [O_KEEP - O_MIN] = "keep_alive",        [O_MUX - O_MIN] = "max_multiplexing",
	    [O_BUF - O_MIN] = "concurrency_buffer", [O_DELAY - O_MIN] = "scaling_delay",
	};
	int ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case O_SERVER:
			o->server = optarg;
			break;
		case O_JSON:
			o->json = true;
			break;
		case 'f':
			o->follow = true;
			break;
		case O_REV:
			o->revision = strtol(optarg, &end, 10);
			if (*end || o->revision < 1)
				return cli_usage(verb, "--revision '%s': a revision number",
						 optarg);
			break;
		case O_MIN:
		case O_MAX:
		case O_KEEP:
		case O_MUX:
		case O_BUF:
		case O_DELAY: {
			double v = strtod(optarg, &end);
			if (*end || end == optarg || v < 0)
				return cli_usage(verb, "--%s '%s': a number >= 0",
						 opts[ch - O_SERVER].name, optarg);
			if (!o->scaling)
				o->scaling = json_object();
			json_object_set_new(o->scaling, keys[ch - O_MIN],
					    v == (double)(long)v ? json_integer((json_int_t)v)
								 : json_real(v));
			break;
		}
		default:
			return cli_usage(verb, "invalid option");
		}
	}
	o->server = cli_server_url(o->server);
	return CLI_OK;
}

int cmd_apps(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(apps_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	struct opts o = {0};
	const char *sub = argv[1];
	int rc = parse("apps", argc, argv, &o);
	const char *app = optind < argc ? argv[optind] : NULL;
	json_t *res = NULL;
	if (rc != CLI_OK) {
		/* usage printed */
	} else if (!strcmp(sub, "list")) {
		rc = call(o.server, "GET", "/v1/apps", NULL, &res);
		if (rc == CLI_OK && o.json) {
			cli_print_json(res);
		} else if (rc == CLI_OK) {
			printf("%-24s %8s %8s  %s\n", "APP", "REVISION", "RUNNERS", "IMAGE");
			size_t i;
			json_t *a;
			json_array_foreach(json_object_get(res, "apps"), i, a)
			    printf("%-24s %8lld %8lld  %s\n",
				   json_string_value(json_object_get(a, "name")),
				   (long long)json_integer_value(json_object_get(a, "revision")),
				   (long long)json_integer_value(json_object_get(a, "runners")),
				   json_string_value(json_object_get(a, "image")));
		}
	} else if (!app || optind != argc - 1) {
		rc = cli_usage("apps", "apps %s needs one app name", sub);
	} else if (!strcmp(sub, "scale")) {
		if (!o.scaling)
			rc = cli_usage("apps", "apps scale: give at least one of --min-runners, "
					       "--max-runners, --keep-alive, ...");
		else {
			_cleanup_free_ char *p = berth_xasprintf("/v1/apps/%s/scale", app);
			rc = call(o.server, "POST", p, o.scaling, NULL);
			o.scaling = NULL;
			if (rc == CLI_OK)
				printf("scaled %s\n", app);
		}
	} else if (!strcmp(sub, "rollback")) {
		_cleanup_free_ char *p = berth_xasprintf("/v1/apps/%s/rollback", app);
		json_t *body = o.revision ? json_pack("{s:I}", "revision", (json_int_t)o.revision)
					  : json_object();
		rc = call(o.server, "POST", p, body, &res);
		if (rc == CLI_OK)
			printf("%s is at revision %lld\n", app,
			       (long long)json_integer_value(json_object_get(res, "revision")));
	} else if (!strcmp(sub, "delete")) {
		_cleanup_free_ char *p = berth_xasprintf("/v1/apps/%s", app);
		rc = call(o.server, "DELETE", p, NULL, NULL);
		if (rc == CLI_OK)
			printf("deleted %s\n", app);
	} else {
		rc = cli_usage("apps", "unknown subcommand '%s' (list, scale, rollback, delete)",
			       sub);
	}
	json_decref(o.scaling);
	json_decref(res);
	return rc;
}

int cmd_runners(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(runners_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	struct opts o = {0};
	const char *sub = argv[1];
	int rc = parse("runners", argc, argv, &o);
	const char *arg = optind < argc ? argv[optind] : NULL;
	json_t *res = NULL;
	if (rc != CLI_OK) {
	} else if (!strcmp(sub, "list")) {
		_cleanup_free_ char *p =
		    arg ? berth_xasprintf("/v1/runners?app=%s", arg) : berth_xstrdup("/v1/runners");
		rc = call(o.server, "GET", p, NULL, &res);
		if (rc == CLI_OK && o.json) {
			cli_print_json(res);
		} else if (rc == CLI_OK) {
			printf("%-16s %-20s %-12s %8s %8s %8s\n", "ID", "APP", "STATE", "REVISION",
			       "INFLIGHT", "AGE");
			size_t i;
			json_t *r;
			json_array_foreach(json_object_get(res, "runners"), i, r)
			    printf("%-16s %-20s %-12s %8lld %8lld %7.0fs\n",
				   json_string_value(json_object_get(r, "id")),
				   json_string_value(json_object_get(r, "app")),
				   json_string_value(json_object_get(r, "state")),
				   (long long)json_integer_value(json_object_get(r, "revision")),
				   (long long)json_integer_value(json_object_get(r, "inflight")),
				   json_real_value(json_object_get(r, "age_s")));
		}
	} else if (!arg || optind != argc - 1) {
		rc = cli_usage("runners", "runners %s needs one runner id", sub);
	} else if (!strcmp(sub, "stop")) {
		_cleanup_free_ char *p = berth_xasprintf("/v1/runners/%s/stop", arg);
		rc = call(o.server, "POST", p, json_object(), NULL);
		if (rc == CLI_OK)
			printf("stopping %s\n", arg);
	} else if (!strcmp(sub, "logs")) {
		/* Runners are containers of this machine's state: read their log. */
		char *args[] = {"container", "logs", (char *)arg, o.follow ? "-f" : NULL, NULL};
		rc = cmd_container(o.follow ? 4 : 3, args);
	} else {
		rc = cli_usage("runners", "unknown subcommand '%s' (list, stop, logs)", sub);
	}
	json_decref(o.scaling);
	json_decref(res);
	return rc;
}

int cmd_queue(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(queue_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	struct opts o = {0};
	const char *sub = argv[1];
	int rc = parse("queue", argc, argv, &o);
	const char *app = optind < argc ? argv[optind] : NULL;
	json_t *res = NULL;
	if (rc != CLI_OK) {
	} else if (!app || optind != argc - 1) {
		rc = cli_usage("queue", "queue %s needs one app name", sub);
	} else if (!strcmp(sub, "size") || !strcmp(sub, "flush")) {
		bool size = !strcmp(sub, "size");
		_cleanup_free_ char *p = berth_xasprintf("/v1/apps/%s/queue", app);
		rc = call(o.server, size ? "GET" : "DELETE", p, NULL, &res);
		if (rc == CLI_OK)
			printf("%lld\n", (long long)json_integer_value(
					     json_object_get(res, size ? "size" : "flushed")));
	} else {
		rc = cli_usage("queue", "unknown subcommand '%s' (size, flush)", sub);
	}
	json_decref(o.scaling);
	json_decref(res);
	return rc;
}
