/* Conformance runner entry: `conformance SUITE DIR` runs one suite as one TAP
 * stream. Suites: buildkit-parser, shell-lex. */
#include <stdio.h>
#include <string.h>

#include "conformance/conformance.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: conformance buildkit-parser|shell-lex DIR\n");
		return 2;
	}
	if (strcmp(argv[1], "buildkit-parser") == 0)
		return conf_buildkit_parser(argv[2]);
	if (strcmp(argv[1], "shell-lex") == 0)
		return conf_shell_lex(argv[2]);
	fprintf(stderr, "conformance: unknown suite '%s'\n", argv[1]);
	return 2;
}
