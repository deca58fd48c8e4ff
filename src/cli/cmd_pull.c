/* `berth pull REF [--insecure-registry HOST]...`: fetch an image into the
 * store; prints the manifest digest last. */
#include "cli/cli.h"
#include "registry/registry.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: berth pull REF [--insecure-registry HOST]... [--platform OS/ARCH]\n"
    "\n"
    "Pull an image from its registry into the local store. Credentials come from\n"
    "'berth login', then ~/.docker/config.json, then the containers auth.json.\n"
    "Plain HTTP is used for localhost and 127.0.0.0/8, and for each HOST given\n"
    "with --insecure-registry (or listed in $BERTH_HOME/config.json).\n";

int cmd_pull(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"platform", required_argument, NULL, 'p'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_strv_ struct berth_strv insecure = BERTH_STRV_INIT;
	_cleanup_free_ char *os = NULL;
	const char *arch = NULL;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			berth_strv_push(&insecure, optarg);
			break;
		case 'p': {
			os = berth_xstrdup(optarg);
			char *slash = strchr(os, '/');
			if (!slash)
				return cli_usage("pull",
						 "--platform wants OS/ARCH, e.g. linux/amd64");
			*slash = '\0';
			arch = slash + 1;
			break;
		}
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("pull", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("pull", "pull takes one image reference");
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_transfer_opts o;
	cli_transfer_init(&o, &insecure);
	o.os = os;
	o.arch = arch;
	if (quiet)
		o.status = NULL, o.progress = NULL;
	struct berth_image_entry e;
	struct berth_err *err = NULL;
	int r = berth_pull(s, argv[optind], &o, &e, &err);
	cli_transfer_done();
	berth_store_close(s);
	if (r < 0)
		return cli_fail(err, NULL);
	printf("%s\n", e.digest);
	berth_image_entry_release(&e);
	return CLI_OK;
}
