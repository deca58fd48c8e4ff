/* `berth lint`: check a Dockerfile against BuildKit's build checks, the
 * hadolint rules that matter for app images and berth's own (docs/lint.md).
 * The library returns findings; this file reads the inputs and prints. */
#include "cli/cli.h"
#include "dockerfile/dockerfile.h"
#include "lint/lint.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: berth lint [FILE|DIR|-] [--format text|json] [--config FILE] [--strict]\n"
    "                  [--sdk] [--gpu] [--install-last PKG]... [--target NAME]\n"
    "                  [--build-arg K=V]...\n"
    "       berth lint --list-rules [--format text|json]\n"
    "\n"
    "  FILE                 the Dockerfile (default ./Dockerfile); DIR means\n"
    "                       DIR/Dockerfile; - reads stdin\n"
    "      --format F       text (one line per finding) or json (one array)\n"
    "      --config FILE    rule selection (default: .berth-lint beside the\n"
    "                       Dockerfile, when there is one)\n"
    "      --strict         exit 1 on any finding, not only on errors\n"
    "      --sdk            the Dockerfile is for an SDK app: python3 must be there\n"
    "      --gpu            the app asks for GPUs: CUDA variables or a CUDA image\n"
    "      --install-last P a package that must be installed last (repeatable)\n"
    "      --target NAME    the stage that makes the image (default: the last)\n"
    "      --build-arg K=V  a build argument, as for berth build (repeatable)\n"
    "      --list-rules     print every rule: id, severity, origin, what fires it\n"
    "\n"
    "Each finding has a rule id, a severity (error, warning, info), the line, a\n"
    "message and a fix. `# check=skip=A,B;error=true` in the Dockerfile and the\n"
    "config file (skip = ..., error = ..., install_last = ...) select rules; see\n"
    "docs/lint.md. Exits 0 when there is no error finding, 1 when there is one (or\n"
    "any finding with --strict) or the Dockerfile does not parse, 2 on usage errors.\n";

static int list_rules(bool json)
{
	size_t n;
	const struct berth_lint_rule *rules = berth_lint_rules(&n);
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	if (json) {
		_cleanup_json_ json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *o = json_object();
			json_object_set_new(o, "id", json_string(rules[i].id));
			json_object_set_new(o, "origin", json_string(rules[i].origin));
			json_object_set_new(
			    o, "severity",
			    json_string(berth_lint_severity_name(rules[i].severity)));
			json_object_set_new(o, "experimental", json_boolean(rules[i].experimental));
			json_object_set_new(
			    o, "twin", rules[i].twin ? json_string(rules[i].twin) : json_null());
			json_object_set_new(o, "summary", json_string(rules[i].summary));
			json_array_append_new(arr, o);
		}
		berth_json_dump_pretty(arr, &out);
	} else {
		for (size_t i = 0; i < n; i++)
			berth_buf_addf(&out, "%-32s %-7s %-8s %s%s\n", rules[i].id,
				       berth_lint_severity_name(rules[i].severity), rules[i].origin,
				       rules[i].experimental ? "(experimental) " : "",
				       rules[i].summary);
	}
	fwrite(out.data, 1, out.len, stdout);
	return CLI_OK;
}

/* Read the config file: `explicit` must exist; else .berth-lint beside the
 * Dockerfile is read when present. */
static int read_config(const char *explicit, const char *dockerfile, struct berth_lint_config *cfg)
{
	_cleanup_free_ char *path = NULL;
	if (explicit) {
		path = berth_xstrdup(explicit);
	} else if (strcmp(dockerfile, "-")) {
		_cleanup_free_ char *copy = berth_xstrdup(dockerfile);
		path = berth_xasprintf("%s/.berth-lint", dirname(copy));
		struct stat st;
		if (stat(path, &st) < 0)
			return CLI_OK;
	} else {
		return CLI_OK;
	}
	struct berth_err *err = NULL;
	_cleanup_buf_ struct berth_buf text;
	berth_buf_init(&text, BERTH_LINT_CONFIG_MAX);
	if (berth_fs_read_file(path, BERTH_LINT_CONFIG_MAX, &text, &err) < 0 ||
	    berth_lint_config_parse(text.data, text.len, cfg, &err) < 0)
		return cli_fail(err, path);
	return CLI_OK;
}

int cmd_lint(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'F'},
	    {"config", required_argument, NULL, 'c'},
	    {"strict", no_argument, NULL, 's'},
	    {"sdk", no_argument, NULL, 'S'},
	    {"gpu", no_argument, NULL, 'G'},
	    {"install-last", required_argument, NULL, 'i'},
	    {"target", required_argument, NULL, 't'},
	    {"build-arg", required_argument, NULL, 'b'},
	    {"list-rules", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *format = "text", *config = NULL, *target = NULL;
	bool strict = false, sdk = false, gpu = false, list = false;
	_cleanup_strv_ struct berth_strv install_last = BERTH_STRV_INIT;
	_cleanup_strv_ struct berth_strv build_args = BERTH_STRV_INIT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			format = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 's':
			strict = true;
			break;
		case 'S':
			sdk = true;
			break;
		case 'G':
			gpu = true;
			break;
		case 'i':
			berth_strv_push(&install_last, optarg);
			break;
		case 't':
			target = optarg;
			break;
		case 'b':
			berth_strv_push(&build_args, optarg);
			break;
		case 'l':
			list = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("lint", "invalid option");
		}
	}
	bool json = !strcmp(format, "json");
	if (!json && strcmp(format, "text"))
		return cli_usage("lint", "--format must be text or json, not '%s'", format);
	if (list)
		return list_rules(json);
	if (argc - optind > 1)
		return cli_usage("lint", "unexpected argument '%s' (lint one Dockerfile at a time)",
				 argv[optind + 1]);

	const char *arg = optind < argc ? argv[optind] : "Dockerfile";
	_cleanup_free_ char *file = NULL;
	struct stat st;
	if (strcmp(arg, "-") && stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		file = berth_xasprintf("%s/Dockerfile", arg);
	else
		file = berth_xstrdup(arg);
	const char *shown = strcmp(file, "-") ? file : "<stdin>";

	struct berth_lint_config cfg;
	berth_lint_config_init(&cfg);
	int r = read_config(config, file, &cfg);
	if (r != CLI_OK) {
		berth_lint_config_release(&cfg);
		return r;
	}

	struct berth_err *err = NULL;
	_cleanup_buf_ struct berth_buf in;
	berth_buf_init(&in, BERTH_DF_MAX_SIZE);
	if (berth_fs_read_file(file, BERTH_DF_MAX_SIZE, &in, &err) < 0) {
		berth_lint_config_release(&cfg);
		return cli_fail(err, NULL);
	}
	struct berth_lint_opts o = {
	    .sdk_app = sdk,
	    .gpu_app = gpu,
	    .install_last = &install_last,
	    .config = &cfg,
	    .build_args = &build_args,
	    .target = target,
	};
	struct berth_lint_result res;
	r = berth_lint_dockerfile(in.data, in.len, &o, &res, &err);
	berth_lint_config_release(&cfg);
	if (r < 0)
		return cli_fail(err, shown);

	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	if (json) {
		_cleanup_json_ json_t *arr = berth_lint_to_json(&res, shown);
		berth_json_dump_pretty(arr, &out);
	} else {
		berth_lint_format_text(&res, shown, &out);
	}
	fwrite(out.data, 1, out.len, stdout);
	for (size_t i = 0; i < res.notes.n; i++)
		fprintf(stderr, "berth: note: %s\n", res.notes.v[i]);
	if (!json && res.n + res.dropped) {
		_cleanup_buf_ struct berth_buf sum;
		berth_buf_init(&sum, BERTH_BUF_UNLIMITED);
		berth_lint_format_summary(&res, &sum);
		fprintf(stderr, "berth: %s: %s\n", shown, sum.data);
	}
	bool failed = berth_lint_failed(&res, strict);
	berth_lint_result_release(&res);
	return failed ? CLI_FAIL : CLI_OK;
}
