/* app/: what an app is, read from `berth.yaml` (libyaml) or from a Python
 * class (the SDK's `python3 -m berth.spec FILE::Class` prints the same
 * structure as JSON), and checked once, in one place.
 *
 * Both sources go through one validator over a JSON tree: the YAML loader
 * turns the document into jansson values and remembers each node's line,
 * so every error names the line it is about (err->line 12, "scaling.max_runners
 * must be an integer from 1 to 1000, got 0"). Unknown keys are errors that
 * suggest the key meant. Errors from JSON have no line but the same paths.
 *
 * docs/berth-yaml.md is the reference for every key. */
#ifndef BERTH_APP_H
#define BERTH_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

/* The most of a berth.yaml (or of the SDK's JSON) that is read. */
#define BERTH_APP_SPEC_MAX (1u << 20)
/* Values in one berth.yaml, each use of an alias counting everything it
 * stands for (so "billion laughs" documents stop here), and their nesting. */
#define BERTH_APP_YAML_MAX_NODES 20000u
#define BERTH_APP_YAML_MAX_DEPTH 32
/* The most of image.dockerfile_path that is read. */
#define BERTH_APP_DOCKERFILE_MAX (1u << 20)
/* What is kept of `python3 -m berth.spec`'s standard error. */
#define BERTH_APP_SDK_STDERR_MAX (64u << 10)

enum berth_app_kind {
	BERTH_APP_SERVER, /* direct server mode: run.command serves HTTP on $PORT */
	BERTH_APP_SDK,    /* a Python class served by `python3 -m berth.runner` */
};

enum berth_app_auth {
	BERTH_APP_AUTH_PRIVATE, /* the default: calls need a key when keys are on */
	BERTH_APP_AUTH_PUBLIC,
	BERTH_APP_AUTH_SHARED,
};

/* image.registries: credentials for pulling FROM images. `password` is kept
 * as written: "$NAME" is resolved against the secret store when used. */
struct berth_app_registry {
	char *host; /* "docker.io", "us-central1-docker.pkg.dev", ... */
	char *username;
	char *password;
};

/* image.secrets: a build secret. `value` is as written ("$NAME" or text). */
struct berth_app_build_secret {
	char *id;
	char *value;
};

struct berth_app_health {
	char *path;              /* default "/health" */
	char *method;            /* "GET" (default) or "POST", "HEAD" */
	int64_t start_period_ms; /* failures inside it do not count; default 0 */
	int64_t timeout_ms;      /* one probe; default 5000 */
	int64_t interval_ms;     /* between probes while running; default 15000 */
	int failure_threshold;   /* consecutive failures before replacement; default 3 */
};

struct berth_app_scaling {
	int min_runners;          /* default 0 */
	int max_runners;          /* default 1 (fal: max_concurrency) */
	int concurrency_buffer;   /* default 0 */
	int max_multiplexing;     /* requests in flight per runner; default 1 */
	int64_t keep_alive_ms;    /* idle time before scale-down; default 60000 */
	int64_t scaling_delay_ms; /* default 0 */
};

struct berth_app_spec {
	char *name; /* [a-z0-9][a-z0-9-]{0,62}; default: from the file or class */
	enum berth_app_kind kind;
	char *dir; /* absolute directory of the spec file (relative paths start here) */

	/* image: exactly one of dockerfile (text), dockerfile_path, ref */
	char *dockerfile;             /* the text (dockerfile_path is read into it too) */
	char *dockerfile_path;        /* absolute, or NULL */
	char *image_ref;              /* a pre-built image, or NULL */
	char *context;                /* absolute build context; default: dir; NULL for ref */
	struct berth_strv build_args; /* "K=V", in the order written */
	struct berth_app_build_secret *build_secrets;
	size_t nbuild_secrets;
	struct berth_app_registry *registries;
	size_t nregistries;
	/* image.dockerignore: patterns that replace <context>/.dockerignore
	 * (builds only; has_dockerignore with none: nothing is ignored) */
	struct berth_strv dockerignore;
	bool has_dockerignore;

	/* run */
	/* argv: a YAML list is the exec form, taken as is; a string is the
	 * shell form, stored as {"/bin/sh", "-c", STRING} (Docker's CMD shell
	 * form, so $PORT expands). Empty: the image's own ENTRYPOINT/CMD run;
	 * always empty for SDK apps. */
	struct berth_strv command;
	int port; /* the port the app listens on; 0: berth picks one
		   * and passes it as $PORT */
	struct berth_app_health health;

	char *machine_type; /* "S" by default ("GPU" when gpus > 0); the first of a
			     * list; see docs/berth-yaml.md */
	unsigned gpus;      /* default 1 for the GPU* types, else 0 */
	int64_t memory;     /* resources.memory: each runner's limit in bytes; 0: none */
	double cpus;        /* resources.cpus: each runner's CPU limit; 0: none */
	struct berth_app_scaling scaling;
	int64_t request_timeout_ms;    /* 0: none */
	int64_t startup_timeout_ms;    /* default 600000 */
	int64_t termination_grace_ms;  /* default 5000 */
	struct berth_strv secrets;     /* names the app sees as env vars */
	struct berth_strv data_mounts; /* container paths, "/data" or under it;
					* default ["/data"] */
	enum berth_app_auth auth;
	struct berth_strv env; /* run.env: "K=V" given to the app */

	/* SDK apps */
	char *sdk_file;                     /* absolute path of the .py file */
	char *sdk_class;                    /* class name */
	struct berth_strv endpoints;        /* the class's @endpoint paths, sorted (at least one) */
	struct berth_strv stream_endpoints; /* those that are generators (SSE) */
};

/* Free the contents; *s is zeroed. Safe on a zeroed spec. */
void berth_app_spec_release(struct berth_app_spec *s);

/* All the loaders below fill *out only on success (release it with
 * berth_app_spec_release); on error *out is zeroed and *err says why. */

/* Read `path` (a berth.yaml). Errors carry the line (err->line) and name
 * the key; the message does not name the file (cli_fail(err, path) does).
 * The default app name is the directory's name. */
int berth_app_load_yaml(const char *path, struct berth_app_spec *out, struct berth_err **err);

/* Same, from text; `dir` is where relative paths start (NULL: the working
 * directory), `name` is what the default app name is made from, lower-cased
 * and cleaned (berth_app_load_yaml passes the directory's name; NULL: the
 * last component of dir). */
int berth_app_parse_yaml(const char *text, size_t len, const char *dir, const char *name,
			 struct berth_app_spec *out, struct berth_err **err);

/* From the JSON that `python3 -m berth.spec` prints (or any JSON with the
 * berth.yaml structure, "sdk" allowed). `dir` is where relative paths start
 * (NULL: the working directory). */
int berth_app_from_json(const json_t *j, const char *dir, struct berth_app_spec *out,
			struct berth_err **err);

/* The spec as JSON, in the berth.yaml structure with every default filled in
 * (what `berth app show` prints; what `berth deploy` sends): durations in
 * seconds, paths absolute, image as one of dockerfile_path / dockerfile / ref,
 * null for "none" (request_timeout, run.command, run.port). It round-trips:
 * berth_app_from_json(to_json(s), s->dir) gives s back. Runtime secret values
 * are never in a spec, only their names; registry passwords and build secrets
 * are as written (write "$NAME" to keep them in the secret store). A new
 * reference; json_decref(). */
json_t *berth_app_to_json(const struct berth_app_spec *s);

/* Load an app named on the command line: "FILE.py::Class" or "FILE.py" (runs
 * the host's python3 with the SDK at `sdk_dir` (NULL: berth_app_sdk_dir())
 * prepended to PYTHONPATH: `python3 -m berth.spec FILE.py::Class`; on failure
 * the error holds python's last lines of standard error), a berth.yaml file,
 * or a directory holding berth.yaml. The message names the file read
 * ("app/berth.yaml:12: ...", err->line set too): print it with
 * cli_fail(err, NULL). */
int berth_app_load(const char *arg, const char *sdk_dir, struct berth_app_spec *out,
		   struct berth_err **err);

/* Where the SDK is: $BERTH_SDK_DIR, else <dir of the berth binary>/../sdk/python
 * (a build tree), else <prefix>/share/berth/sdk/python. The directory holds
 * the `berth` package. NULL with an error when none exists. free(). */
char *berth_app_sdk_dir(struct berth_err **err);

/* ------------------------------------------------- the app's image (app_image.c) */

struct berth_store;
struct berth_secrets;

struct berth_app_image_opts {
	bool no_cache;       /* build without cache lookups (still records) */
	bool pin;            /* *ref_out names this very image: "...:sha256-<hex>" (a
			      * revision keeps its image when :latest moves on) */
	const char *runtime; /* OCI runtime for RUN steps; NULL: detect */
	FILE *progress;      /* the builder's step lines; NULL: quiet */
	/* Resolves "$NAME" in build secrets and registry passwords; NULL: such
	 * values are an error. */
	struct berth_secrets *secrets;
	/* Pulls an image that is not in the store, with the app's registries
	 * (JSON {"host": {"username", "password"}}, passwords resolved; may be
	 * NULL); NULL: a missing image is an error. */
	int (*pull)(void *ctx, struct berth_store *s, const char *ref, const json_t *registries,
		    char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err);
	void *pull_ctx;
};

/* Make the app's image ready in the store: build the Dockerfile (cached;
 * tagged "localhost/apps/<name>:latest") or find (else pull) image.ref.
 * *ref_out gets the canonical name to run (free()), digest the manifest
 * digest. Secret values are resolved here and wiped after. */
int berth_app_image(struct berth_store *s, const struct berth_app_spec *spec,
		    const struct berth_app_image_opts *o, char **ref_out,
		    char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err);

/* ----------------------------------------- a runner of the app (app_runner.c) */

struct berth_container_opts;

/* Where the SDK and the app's code appear inside an SDK app's container. */
#define BERTH_APP_SDK_MOUNT  "/opt/berth/sdk"
#define BERTH_APP_CODE_MOUNT "/app"

/* Fill o->image, image_digest, lowers and image_config from the stored image
 * `ref` (a canonical name), unpacking layers that are not unpacked yet.
 * NOT_FOUND when the image is not in the store. */
int berth_app_container_image(struct berth_store *s, const char *ref,
			      struct berth_container_opts *o, struct berth_err **err);

/* The rest of a runner's options: the command (the app's, or the SDK runner
 * with the SDK at `sdk_dir` and the app's directory mounted read-only), $PORT
 * = port, BERTH_APP, BERTH_RUNNER_ID, run.env, the secrets the app lists
 * (from `secrets`; a missing one is an error that names it; their values
 * are masked in the output), /data mounts under `home`, GPUs and the grace
 * period. Call after berth_app_container_image(). */
int berth_app_runner_opts(const struct berth_app_spec *spec, const char *home, const char *sdk_dir,
			  unsigned port, struct berth_secrets *secrets,
			  struct berth_container_opts *o, struct berth_err **err);

#endif
