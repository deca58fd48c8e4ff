/* `berth build`: a Dockerfile to an image in the store, BuildKit's way. */
#include "build/build.h"
#include "cli/cli.h"
#include "image/image.h"
#include "registry/registry.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: berth build [-f FILE|-] [--dockerfile-str STR] [-t NAME:TAG] [--context DIR]\n"
    "                   [--target STAGE] [--build-arg K=V]... [--no-cache|--force-env-build]\n"
    "                   [--runtime NAME|PATH] [-q]\n"
    "\n"
    "Build an image from a Dockerfile with BuildKit's semantics: only the stages the\n"
    "target needs, RUN steps in containers, COPY from the build context (honouring\n"
    ".dockerignore) or from other stages, and a layer cache keyed like BuildKit's\n"
    "(--no-cache skips lookups but still records). The context defaults to the\n"
    "Dockerfile's directory with -f FILE, and to none otherwise. Prints the image's\n"
    "manifest digest last.\n";

/* FROM images that are not in the store are pulled, as docker build does. */
static int pull(void *ctx, struct berth_store *s, const char *ref,
		char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err)
{
	bool quiet = *(bool *)ctx;
	_cleanup_strv_ struct berth_strv insecure = BERTH_STRV_INIT;
	struct berth_transfer_opts t;
	cli_transfer_init(&t, &insecure);
	if (quiet)
		t.status = NULL, t.progress = NULL;
	struct berth_image_entry e;
	int r = berth_pull(s, ref, &t, &e, err);
	cli_transfer_done();
	if (r < 0)
		return r;
	memcpy(digest, e.digest, BERTH_DIGEST_LEN + 1);
	berth_image_entry_release(&e);
	return 0;
}

int cmd_build(int argc, char **argv)
{
	enum { O_STR = 256, O_CTX, O_TARGET, O_ARG, O_NOCACHE, O_RUNTIME };
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"dockerfile-str", required_argument, NULL, O_STR},
	    {"tag", required_argument, NULL, 't'},
	    {"context", required_argument, NULL, O_CTX},
	    {"target", required_argument, NULL, O_TARGET},
	    {"build-arg", required_argument, NULL, O_ARG},
	    {"no-cache", no_argument, NULL, O_NOCACHE},
	    {"force-env-build", no_argument, NULL, O_NOCACHE},
	    {"runtime", required_argument, NULL, O_RUNTIME},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *file = NULL, *str = NULL, *tag = NULL, *context = NULL, *target = NULL,
		   *runtime = NULL;
	_cleanup_strv_ struct berth_strv args = BERTH_STRV_INIT;
	bool no_cache = false, quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case O_STR:
			str = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		case O_CTX:
			context = optarg;
			break;
		case O_TARGET:
			target = optarg;
			break;
		case O_ARG:
			berth_strv_push(&args, optarg);
			break;
		case O_NOCACHE:
			no_cache = true;
			break;
		case O_RUNTIME:
			runtime = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("build", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage("build", "unexpected argument '%s' (the context is --context DIR)",
				 argv[optind]);
	if (!!file + !!str != 1)
		return cli_usage("build", "give the Dockerfile with -f FILE (or -f - for standard "
					  "input) or --dockerfile-str STR");
	_cleanup_buf_ struct berth_buf df;
	berth_buf_init(&df, 16u << 20);
	struct berth_err *err = NULL;
	if (file && berth_fs_read_file(file, 16u << 20, &df, &err) < 0)
		return cli_fail(err, NULL);
	if (str)
		berth_buf_addstr(&df, str);
	_cleanup_free_ char *dir = NULL;
	if (!context && file && strcmp(file, "-") != 0) {
		_cleanup_free_ char *copy = berth_xstrdup(file);
		dir = berth_xstrdup(dirname(copy));
		context = dir;
	}
	_cleanup_free_ char *name = tag ? cli_canonical(tag) : NULL;
	if (tag && !name)
		return CLI_USAGE;
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_build_opts o = {
	    .dockerfile = df.data ? df.data : "",
	    .dockerfile_len = df.len,
	    .dockerfile_name = file ? file : "Dockerfile",
	    .context = context,
	    .target = target,
	    .build_args = &args,
	    .tag = name,
	    .no_cache = no_cache,
	    .runtime = runtime,
	    .progress = quiet ? NULL : stderr,
	    .pull = cli_pull_allowed() ? pull : NULL,
	    .pull_ctx = &quiet,
	};
	char digest[BERTH_DIGEST_LEN + 1];
	int r = berth_build(s, &o, digest, &err);
	berth_store_close(s);
	if (r < 0)
		return cli_fail(err, err && err->line > 0 ? o.dockerfile_name : NULL);
	printf("%s\n", digest);
	return CLI_OK;
}
