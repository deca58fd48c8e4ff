/* `berth push LOCAL [REMOTE]`: upload an image from the store. */
#include "cli/cli.h"
#include "registry/registry.h"

#include <getopt.h>
#include <stdio.h>

static const char usage[] =
    "usage: berth push LOCAL [REMOTE] [--insecure-registry HOST]...\n"
    "\n"
    "Push the local image LOCAL to REMOTE (default: LOCAL's own name). Blobs the\n"
    "registry already has are skipped; credentials as for 'berth pull'.\n";

int cmd_push(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_strv_ struct berth_strv insecure = BERTH_STRV_INIT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			berth_strv_push(&insecure, optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("push", "invalid option");
		}
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage("push", "push takes LOCAL and an optional REMOTE");
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_transfer_opts o;
	cli_transfer_init(&o, &insecure);
	struct berth_err *err = NULL;
	int r = berth_push(s, argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL, &o, &err);
	cli_transfer_done();
	berth_store_close(s);
	return r < 0 ? cli_fail(err, NULL) : CLI_OK;
}
