/* `berth lint`: check a Dockerfile against BuildKit's build checks, the
 * hadolint rules that matter for app images and berth's own (docs/lint.md).
 * The library returns findings; this file reads the inputs and prints. */
#include "app/app.h"
#include "cli/cli.h"
#include "dockerfile/dockerfile.h"
#include "image/image.h"
#include "lint/lint.h"
#include "registry/registry.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
    "usage: berth lint [FILE|DIR|-] [--format text|json] [--config FILE] [--strict]\n"
    "                  [--sdk] [--gpu] [--install-last PKG]... [--target NAME]\n"
    "                  [--build-arg K=V]...\n"
    "       berth lint APP [--format text|json] [--config FILE] [--strict] ...\n"
    "       berth lint --image REF [--sdk] [--gpu] [--format text|json] [--strict]\n"
    "       berth lint --list-rules|--list-checks [--format text|json]\n"
    "\n"
    "  FILE                 the Dockerfile (default ./Dockerfile); DIR means\n"
    "                       DIR/Dockerfile; - reads stdin\n"
    "  APP                  an app: FILE.py::Class, a berth.yaml, or a directory\n"
    "                       holding one; its Dockerfile is linted with --sdk and\n"
    "                       --gpu set from the spec, and an image.ref image that\n"
    "                       is in the store is validated\n"
    "      --image REF      validate a built image in the store (python3 on its\n"
    "                       PATH with --sdk, CUDA variables with --gpu, caches\n"
    "                       left in its layers): what berth run checks\n"
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
    "      --list-checks    print every check --image (and berth run) makes\n"
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

static int list_checks(bool json)
{
	size_t n;
	const struct berth_lint_image_check *c = berth_lint_image_checks(&n);
	_cleanup_buf_ struct berth_buf out;
	berth_buf_init(&out, BERTH_BUF_UNLIMITED);
	if (json) {
		_cleanup_json_ json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
			    arr, json_pack("{s:s, s:s, s:s}", "id", c[i].id, "severity",
					   berth_lint_severity_name(c[i].severity), "summary",
					   c[i].summary));
		berth_json_dump_pretty(arr, &out);
	} else {
		for (size_t i = 0; i < n; i++)
			berth_buf_addf(&out, "%-32s %-7s %s\n", c[i].id,
				       berth_lint_severity_name(c[i].severity), c[i].summary);
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

/* What one `berth lint` call prints and how it ends: text lines or one
 * JSON array, whether anything failed. */
struct lint_out {
	bool json, strict, failed;
	struct berth_buf text;
	json_t *arr;
};

/* Lint one Dockerfile's text. `beside` is where .berth-lint is looked for
 * (the Dockerfile's path, or "-"). */
static int lint_text(struct lint_out *lo, const char *text, size_t len, const char *shown,
		     const char *beside, const char *config, const struct berth_lint_opts *base)
{
	struct berth_lint_config cfg;
	berth_lint_config_init(&cfg);
	int r = read_config(config, beside, &cfg);
	if (r != CLI_OK) {
		berth_lint_config_release(&cfg);
		return r;
	}
	struct berth_lint_opts o = *base;
	o.config = &cfg;
	struct berth_lint_result res;
	struct berth_err *err = NULL;
	r = berth_lint_dockerfile(text, len, &o, &res, &err);
	berth_lint_config_release(&cfg);
	if (r < 0)
		return cli_fail(err, shown);
	if (lo->json) {
		json_t *arr = berth_lint_to_json(&res, shown);
		json_array_extend(lo->arr, arr);
		json_decref(arr);
	} else {
		berth_lint_format_text(&res, shown, &lo->text);
	}
	for (size_t i = 0; i < res.notes.n; i++)
		fprintf(stderr, "berth: note: %s\n", res.notes.v[i]);
	if (!lo->json && res.n + res.dropped) {
		_cleanup_buf_ struct berth_buf sum;
		berth_buf_init(&sum, BERTH_BUF_UNLIMITED);
		berth_lint_format_summary(&res, &sum);
		fprintf(stderr, "berth: %s: %s\n", shown, sum.data);
	}
	lo->failed |= berth_lint_failed(&res, lo->strict);
	berth_lint_result_release(&res);
	return CLI_OK;
}

/* Validate the stored image `ref` (unpacking layers that are not yet).
 * `missing_ok`: an image that is not in the store is a note, not a failure
 * (an app's image.ref that was never pulled). */
static int lint_stored_image(struct lint_out *lo, const char *ref, bool sdk, unsigned gpus,
			     bool missing_ok)
{
	_cleanup_free_ char *name = cli_canonical(ref);
	if (!name)
		return CLI_FAIL;
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_err *err = NULL;
	struct berth_image_entry e = {0};
	int r = berth_store_lookup(s, name, &e, &err);
	if (r == -BERTH_E_NOT_FOUND && missing_ok) {
		fprintf(
		    stderr,
		    "berth: note: image '%s' is not in the store, so it was not checked; `berth "
		    "pull %s` (or `berth run`) and lint again to check it\n",
		    ref, ref);
		berth_err_free(err);
		berth_store_close(s);
		return CLI_OK;
	}
	struct timespec t0, t1;
	struct berth_lint_image_opts o = {.sdk_app = sdk, .gpus = gpus};
	struct berth_lint_image_result res = {0};
	if (r == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = berth_lint_image(s, e.digest, &o, &res, &err);
		if (r == -BERTH_E_NOT_FOUND) { /* layers not unpacked yet */
			berth_err_free(err);
			err = NULL;
			r = berth_image_unpack(s, e.digest, NULL, NULL, &err);
			if (r == 0) {
				clock_gettime(CLOCK_MONOTONIC, &t0);
				r = berth_lint_image(s, e.digest, &o, &res, &err);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
	}
	berth_image_entry_release(&e);
	berth_store_close(s);
	if (r < 0)
		return cli_fail(err, NULL);
	if (lo->json) {
		json_t *arr = berth_lint_image_to_json(&res, ref);
		json_array_extend(lo->arr, arr);
		json_decref(arr);
	} else {
		_cleanup_free_ char *prefix = berth_xasprintf("%s:", ref);
		berth_lint_image_format_text(&res, prefix, &lo->text);
	}
	for (size_t i = 0; i < res.notes.n; i++)
		fprintf(stderr, "berth: note: %s\n", res.notes.v[i]);
	if (!lo->json) {
		size_t nerr = 0, nwarn = 0;
		for (size_t i = 0; i < res.n; i++)
			if (res.findings[i].severity == BERTH_LINT_ERROR)
				nerr++;
			else
				nwarn++;
		double ms =
		    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		fprintf(stderr, "berth: %s: %zu finding%s", ref, res.n, res.n == 1 ? "" : "s");
		if (nerr)
			fprintf(stderr, "%s%zu error%s", ": ", nerr, nerr == 1 ? "" : "s");
		if (nwarn)
			fprintf(stderr, "%s%zu warning%s", nerr ? ", " : ": ", nwarn,
				nwarn == 1 ? "" : "s");
		fprintf(stderr, " (image checked in %.1f ms)\n", ms);
	}
	lo->failed |= berth_lint_image_failed(&res, lo->strict);
	berth_lint_image_result_release(&res);
	return CLI_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* An app named on the command line: FILE.py[::Class], a YAML spec, or a
 * directory holding berth.yaml (a directory without one means its
 * Dockerfile, as before). */
static bool is_app(const char *arg)
{
	if (strstr(arg, "::") || ends_with(arg, ".py") || ends_with(arg, ".yaml") ||
	    ends_with(arg, ".yml"))
		return true;
	struct stat st;
	if (stat(arg, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	_cleanup_free_ char *spec = berth_xasprintf("%s/berth.yaml", arg);
	return stat(spec, &st) == 0;
}

/* `berth lint APP`: the app's Dockerfile with what the spec says the app
 * is (--sdk, --gpu, its build args), and its image.ref when it is stored. */
static int lint_app(struct lint_out *lo, const char *arg, const char *config,
		    const struct berth_lint_opts *base)
{
	struct berth_err *err = NULL;
	_cleanup_free_ char *sdk_dir = NULL;
	if (strstr(arg, ".py") && !(sdk_dir = berth_app_sdk_dir(&err)))
		return cli_fail(err, NULL);
	struct berth_app_spec spec = {0};
	if (berth_app_load(arg, sdk_dir, &spec, &err) < 0)
		return cli_fail(err, NULL);
	bool sdk = base->sdk_app || spec.kind == BERTH_APP_SDK;
	unsigned gpus = spec.gpus ? spec.gpus : base->gpu_app ? 1 : 0;
	/* Say what the spec made of the app: the options its Dockerfile gets. */
	fprintf(stderr, "berth: app '%s': %s app", spec.name, sdk ? "an SDK" : "a server");
	if (gpus)
		fprintf(stderr, " asking for %u GPU%s", gpus, gpus == 1 ? "" : "s");
	if (spec.image_ref)
		fprintf(stderr, "; image.ref '%s' has no Dockerfile to lint\n", spec.image_ref);
	else
		fprintf(stderr, "; its Dockerfile is linted as with%s%s\n", sdk ? " --sdk" : "",
			gpus  ? " --gpu"
			: sdk ? ""
			      : " no app options");
	int rc = CLI_OK;
	if (spec.dockerfile) {
		_cleanup_strv_ struct berth_strv args = BERTH_STRV_INIT;
		berth_strv_copy(&args, &spec.build_args);
		for (size_t i = 0; base->build_args && i < base->build_args->n; i++)
			berth_strv_push(&args, base->build_args->v[i]);
		struct berth_lint_opts o = *base;
		o.sdk_app = sdk;
		o.gpu_app = gpus > 0;
		o.build_args = &args;
		/* An inline Dockerfile is named after the spec it is in. */
		struct stat st;
		bool dir = stat(arg, &st) == 0 && S_ISDIR(st.st_mode);
		_cleanup_free_ char *shown =
		    spec.dockerfile_path
			? berth_xstrdup(spec.dockerfile_path)
			: berth_xasprintf("%s%s (image.dockerfile)", arg, dir ? "/berth.yaml" : "");
		_cleanup_free_ char *beside = spec.dockerfile_path
						  ? berth_xstrdup(spec.dockerfile_path)
						  : berth_xasprintf("%s/Dockerfile", spec.dir);
		rc = lint_text(lo, spec.dockerfile, strlen(spec.dockerfile), shown, beside, config,
			       &o);
	}
	if (rc == CLI_OK && spec.image_ref)
		rc = lint_stored_image(lo, spec.image_ref, sdk, gpus, true);
	berth_app_spec_release(&spec);
	return rc;
}

int cmd_lint(int argc, char **argv)
{
	enum { O_IMAGE = 256, O_LIST_CHECKS };
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
	    {"list-checks", no_argument, NULL, O_LIST_CHECKS},
	    {"image", required_argument, NULL, O_IMAGE},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *format = "text", *config = NULL, *target = NULL, *image = NULL;
	bool strict = false, sdk = false, gpu = false, list = false, list_chk = false;
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
		case O_LIST_CHECKS:
			list_chk = true;
			break;
		case O_IMAGE:
			image = optarg;
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
	if (list_chk)
		return list_checks(json);
	if (argc - optind > 1)
		return cli_usage("lint", "unexpected argument '%s' (lint one Dockerfile at a time)",
				 argv[optind + 1]);
	if (image && optind < argc)
		return cli_usage("lint", "--image takes no Dockerfile or app ('%s')", argv[optind]);

	struct lint_out lo = {.json = json, .strict = strict};
	berth_buf_init(&lo.text, BERTH_BUF_UNLIMITED);
	lo.arr = json_array();
	struct berth_lint_opts o = {
	    .sdk_app = sdk,
	    .gpu_app = gpu,
	    .install_last = &install_last,
	    .build_args = &build_args,
	    .target = target,
	};
	int r;
	const char *arg = optind < argc ? argv[optind] : "Dockerfile";
	if (image) {
		r = lint_stored_image(&lo, image, sdk, gpu ? 1 : 0, false);
	} else if (strcmp(arg, "-") && is_app(arg)) {
		r = lint_app(&lo, arg, config, &o);
	} else {
		_cleanup_free_ char *file = NULL;
		struct stat st;
		if (strcmp(arg, "-") && stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
			file = berth_xasprintf("%s/Dockerfile", arg);
		else
			file = berth_xstrdup(arg);
		const char *shown = strcmp(file, "-") ? file : "<stdin>";
		struct berth_err *err = NULL;
		_cleanup_buf_ struct berth_buf in;
		berth_buf_init(&in, BERTH_DF_MAX_SIZE);
		if (berth_fs_read_file(file, BERTH_DF_MAX_SIZE, &in, &err) < 0) {
			/* The config file is read first, as before: its errors win. */
			struct berth_lint_config cfg;
			berth_lint_config_init(&cfg);
			r = read_config(config, file, &cfg);
			berth_lint_config_release(&cfg);
			if (r != CLI_OK)
				berth_err_free(err);
			else
				r = cli_fail(err, NULL);
		} else {
			r = lint_text(&lo, in.data, in.len, shown, file, config, &o);
		}
	}
	if (r == CLI_OK) {
		_cleanup_buf_ struct berth_buf out;
		berth_buf_init(&out, BERTH_BUF_UNLIMITED);
		if (json)
			berth_json_dump_pretty(lo.arr, &out);
		fwrite(json ? out.data : lo.text.data, 1, json ? out.len : lo.text.len, stdout);
	}
	bool failed = lo.failed;
	berth_buf_release(&lo.text);
	json_decref(lo.arr);
	if (r != CLI_OK)
		return r;
	return failed ? CLI_FAIL : CLI_OK;
}
