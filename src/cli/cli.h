/* The berth command line: a table of verbs, one file per verb. Only the CLI
 * prints; library code returns errors. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include "common/common.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0-dev"
#endif

/* Exit statuses. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_verb {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the verb */
	const char *summary;               /* NULL: hidden from --help */
};

int cmd_version(int argc, char **argv);
int cmd_dockerfile(int argc, char **argv);
int cmd_debug(int argc, char **argv);

/* Print "berth: <context>: <message>" (or "berth: <file>:<line>: <message>"
 * when the error names a line of `file`) and free the error. Returns
 * CLI_FAIL. */
int cli_fail(struct berth_err *err, const char *file);
/* Print "berth: <message>" plus a usage hint; returns CLI_USAGE. */
int cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
