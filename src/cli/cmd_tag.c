/* `berth tag SRC DST`: give a stored image another name. */
#include "cli/cli.h"
#include "image/image.h"

#include <stdio.h>
#include <string.h>

int cmd_tag(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		puts("usage: berth tag SRC DST\n\nName the stored image SRC also DST.");
		return CLI_OK;
	}
	if (argc != 3)
		return cli_usage("tag", "tag takes SRC and DST");
	_cleanup_free_ char *src = cli_canonical(argv[1]);
	_cleanup_free_ char *dst = src ? cli_canonical(argv[2]) : NULL;
	if (!dst)
		return CLI_FAIL;
	struct berth_store *s;
	if (cli_open_store(&s) != CLI_OK)
		return CLI_FAIL;
	struct berth_image_entry e;
	struct berth_err *err = NULL;
	int r = berth_store_lookup(s, src, &e, &err);
	if (r == 0) {
		r = berth_store_tag(s, dst, e.digest, e.media_type, e.size, &err);
		berth_image_entry_release(&e);
	}
	berth_store_close(s);
	return r < 0 ? cli_fail(err, NULL) : CLI_OK;
}
