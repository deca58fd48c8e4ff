/* The berth command line: a table of verbs, one file per verb. Only the CLI
 * prints; library code returns errors. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include "common/common.h"

#include <jansson.h>

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
int cmd_pull(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_images(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_container(int argc, char **argv);
int cmd_secrets(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_app_build(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_apps(int argc, char **argv);
int cmd_runners(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_files(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_kv(int argc, char **argv);
int cmd_base(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_init(int argc, char **argv);

/* --- a berth server over HTTP (client.c) --- */

/* The server: --server value, else $BERTH_SERVER, else http://127.0.0.1:8686.
 * Borrowed (flag or the environment), valid until exit. */
const char *cli_server_url(const char *flag);
/* One request to the server (Authorization: Key $BERTH_KEY when set). *status
 * gets the HTTP status, `out` the body (under out's limit: a larger answer
 * is a LIMIT error). body may be NULL. Any answer, 4xx and 5xx included, is
 * a success here: check *status. Cannot connect: "cannot reach the berth
 * server at URL (is `berth serve` running? --server or $BERTH_SERVER)". */
int cli_http(const char *server, const char *method, const char *path, const char *content_type,
	     const void *body, size_t len, long *status, struct berth_buf *out,
	     struct berth_err **err);
/* The same, the response body handed to `chunk` as it arrives (deploy logs,
 * SSE), whatever the status. */
int cli_http_stream(const char *server, const char *method, const char *path,
		    const char *content_type, const void *body, size_t len, long *status,
		    void (*chunk)(void *ctx, const char *p, size_t n), void *ctx,
		    struct berth_err **err);
/* Print a server error ({"error": {"code", "message"}} or the raw body) as
 * "berth: ..." (plus a hint about $BERTH_KEY on 401); returns CLI_FAIL. */
int cli_http_fail(long status, const struct berth_buf *body);
/* One call whose answer is JSON: prints the server's error (or why the
 * answer is not JSON) and returns CLI_FAIL; *out (may be NULL) gets the
 * answer. body may be NULL. */
int cli_http_json(const char *server, const char *method, const char *path, const char *type,
		  const void *body, size_t len, json_t **out);
/* JSON for people: indented, keys sorted, on stdout. */
void cli_print_json(const json_t *j);

/* --- shared by the verbs (state.c, progress.c) --- */

struct berth_store;
struct berth_strv;
struct berth_transfer_opts;

/* $BERTH_HOME, else /var/lib/berth as root, else ~/.local/share/berth.
 * Borrowed, valid until exit. */
const char *cli_home(void);
/* Open the store or print why not (returns CLI_FAIL). */
int cli_open_store(struct berth_store **out);
/* Hosts allowed over plain HTTP: --insecure-registry values plus the
 * "insecure_registries" list of $BERTH_HOME/config.json. */
void cli_insecure_registries(struct berth_strv *out);
/* Fill transfer options with credentials, insecure hosts and progress
 * output on stderr (redrawn per layer on a terminal, plain lines
 * otherwise). Call cli_transfer_done() after. */
void cli_transfer_init(struct berth_transfer_opts *o, struct berth_strv *insecure);
void cli_transfer_done(void);
/* Canonical name of a reference typed by the user, or NULL with an error
 * printed. free(). */
char *cli_canonical(const char *ref);

/* Resolve IMAGE for a container: look it up in the store (pulling it when
 * absent), unpack missing layers, and fill o->image, image_digest, lowers
 * and image_config. Prints errors; returns CLI_OK or CLI_FAIL. */
struct berth_container_opts;
int cli_container_image(const char *ref, struct berth_container_opts *o, bool quiet);

/* Pull `ref` into the store with the usual credentials, plus `registries`
 * ({"host": {"username", "password"}}, may be NULL) before them; progress
 * on stderr unless quiet. */
int cli_pull(struct berth_store *s, const char *ref, const json_t *registries, bool quiet,
	     char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err);

/* Clean up after runner monitors that died (berth killed, a reboot) before
 * anything looks at runners; says how many it cleaned. */
void cli_recover_runners(void);

/* False when $BERTH_PULL is "never": images missing from the store are an
 * error instead of a pull (air-gapped machines, and the tests, which must
 * never reach a public registry). */
bool cli_pull_allowed(void);

/* Print "berth: <context>: <message>" (or "berth: <file>:<line>: <message>"
 * when the error names a line of `file`) and free the error. Returns
 * CLI_FAIL. */
int cli_fail(struct berth_err *err, const char *file);
/* Print "berth: <message>" plus a usage hint; returns CLI_USAGE. */
int cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
