/* build/: Dockerfile to OCI image, with BuildKit's semantics
 * (../shared/reference/dockerfile-semantics.md sections 3 to 7).
 *
 * The builder walks the stages the target needs (dockerfile/ plans them),
 * runs RUN steps as containers (runtime/), copies files from the build
 * context or other stages, keys each layer-making step like BuildKit does
 * and reuses a cached layer when the key matches, and writes the image's
 * config, manifest and layers into the store (image/), tagged. */
#ifndef BERTH_BUILD_H
#define BERTH_BUILD_H

#include <stdbool.h>
#include <stdio.h>

#include "common/common.h"

struct berth_store;

/* A build secret: RUN --mount=type=secret,id=ID sees its value. */
struct berth_build_secret {
	char *id;
	char *value;
	size_t len;
};

/* An SSH agent a RUN --mount=type=ssh,id=ID reaches (berth build --ssh). */
struct berth_build_ssh {
	char *id;
	char *socket; /* the agent's socket on this host */
};

struct berth_build_opts {
	const char *dockerfile; /* the text */
	size_t dockerfile_len;
	const char *dockerfile_name; /* for messages ("Dockerfile", "-") */
	const char *context;         /* directory, or NULL: no context (COPY from it fails) */
	const char *target;          /* stage name or index, or NULL */
	const struct berth_strv *build_args; /* "K=V" */
	const char *tag;                     /* canonical name to tag the result, or NULL */
	bool no_cache;                       /* skip lookups, still record */
	bool explain;                        /* print each step's cache key inputs */
	const char *runtime;                 /* OCI runtime, NULL: detect */
	const struct berth_build_secret *secrets;
	size_t nsecrets;
	const struct berth_build_ssh *ssh; /* also used by ADD of a git@ source ("default") */
	size_t nssh;
	FILE *progress;     /* step lines, RUN output; NULL: quiet */
	bool progress_json; /* one JSON object per line per event instead (docs/build.md) */
	/* Pulls FROM images that are not in the store; NULL: missing is an error. */
	int (*pull)(void *ctx, struct berth_store *s, const char *ref,
		    char digest[BERTH_DIGEST_LEN + 1], struct berth_err **err);
	void *pull_ctx;
};

/* A context's .dockerignore, as the builder applies it (moby's pattern
 * rules). Load reads <ctx_fd>/.dockerignore (missing: matches nothing);
 * match takes a path relative to the context ("a/b.txt"). */
struct berth_dockerignore;
int berth_dockerignore_load(int ctx_fd, struct berth_dockerignore **out, struct berth_err **err);
bool berth_dockerignore_match(const struct berth_dockerignore *ig, const char *relpath);
void berth_dockerignore_free(struct berth_dockerignore *ig);

/* Build; *digest_out gets the manifest digest. The calling process must be
 * single-threaded: it enters a private mount namespace (for read-only views
 * of stages), which it keeps. */
int berth_build(struct berth_store *s, const struct berth_build_opts *o,
		char digest_out[BERTH_DIGEST_LEN + 1], struct berth_err **err);

#endif
