/* `berth version`: the version and the libraries it was built with. */
#include "cli/cli.h"

#include <openssl/opensslv.h>
#include <stdio.h>

int cmd_version(int argc, char **argv)
{
	printf("berth %s\n", BERTH_VERSION);
	printf("jansson %s, %s\n", JANSSON_VERSION, OPENSSL_VERSION_TEXT);
	return CLI_OK;
}
