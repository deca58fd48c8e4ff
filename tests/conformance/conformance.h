/* The conformance runner: one binary, one TAP stream per suite, every case
 * named. Suites read BuildKit's data in place under ../shared/conformance. */
#ifndef BERTH_TESTS_CONFORMANCE_H
#define BERTH_TESTS_CONFORMANCE_H

/* Each suite lives in its own file, prints "ok N - <suite>/<case>" lines
 * with tap.h, and returns tap_done() (0 when every case passed). `dir` is the
 * data directory (../shared/conformance, or tests/conformance/cases). */
int conf_buildkit_parser(const char *dir);
int conf_shell_lex(const char *dir);

#endif
