/* lint/ — Dockerfile rules: BuildKit's build checks, the hadolint rules that
 * matter for berth apps, and berth's own rules from the seed's checklist
 * (python3 reachable for SDK apps, CUDA variables for GPU apps, packages an
 * app installs last). The library returns findings; it never prints.
 *
 * Input is Dockerfile text plus options; the front end (dockerfile/) parses
 * it and the rules read its AST, its typed stages and, for RUN, the shell
 * commands split out of each instruction. docs/lint.md lists every rule. */
#ifndef BERTH_LINT_H
#define BERTH_LINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Named limits. */
#define BERTH_LINT_CONFIG_MAX   (64u << 10) /* bytes of a .berth-lint file */
#define BERTH_LINT_MAX_FINDINGS 10000       /* per Dockerfile; more are counted, not kept */

enum berth_lint_severity {
	BERTH_LINT_INFO,
	BERTH_LINT_WARNING,
	BERTH_LINT_ERROR,
};

/* "info", "warning", "error". */
const char *berth_lint_severity_name(enum berth_lint_severity s);

/* One rule of the table (static data). */
struct berth_lint_rule {
	const char *id;                    /* "DL3008", "UndefinedVar", "berth/python-missing" */
	const char *origin;                /* "buildkit", "hadolint" or "berth" */
	enum berth_lint_severity severity; /* default */
	bool experimental;                 /* off unless turned on (experimental=) */
	/* A rule that reports the same problem: when both fire on one line,
	 * only the twin's finding is kept (skip the twin to get this one). */
	const char *twin;
	const char *summary; /* one line: what fires it */
};

/* The table, in documentation order; *n gets its length. */
const struct berth_lint_rule *berth_lint_rules(size_t *n);
/* The rule named `id` (exact, case-sensitive as BuildKit's), or NULL. */
const struct berth_lint_rule *berth_lint_rule_find(const char *id);

struct berth_lint_finding {
	const char *rule; /* the rule's id: static, never freed */
	enum berth_lint_severity severity;
	int line, end_line; /* 1-based; the instruction (or command) it is about */
	char *message;      /* lower-case, says what is wrong; owned */
	char *fix;          /* what to write instead; owned, never NULL */
};

struct berth_lint_result {
	struct berth_lint_finding *findings; /* sorted by line, then in rule order */
	size_t n, cap;
	size_t dropped; /* findings over BERTH_LINT_MAX_FINDINGS, not kept */
	/* What could not be checked, one sentence each ("the typed rules did
	 * not run: ..."); owned. */
	struct berth_strv notes;
};

void berth_lint_result_release(struct berth_lint_result *r);
/* Findings of severity s. */
size_t berth_lint_count(const struct berth_lint_result *r, enum berth_lint_severity s);
/* True when the result should fail a check: any error, or (strict) any
 * finding at all. */
bool berth_lint_failed(const struct berth_lint_result *r, bool strict);

/* Which rules run and how severe they are. From a config file, the
 * Dockerfile's `# check=` directive, or both (merged). */
struct berth_lint_config {
	struct berth_strv skip;                 /* rule ids, or "all" */
	struct berth_strv error, warning, info; /* rule ids raised or lowered */
	bool error_all;                         /* every warning is an error */
	struct berth_strv experimental;         /* rule ids turned on, or "all" */
	struct berth_strv install_last;         /* package names (berth/install-last) */
};

void berth_lint_config_init(struct berth_lint_config *c);
void berth_lint_config_release(struct berth_lint_config *c);

/* Merge a config file (`key = value` lines, '#' comments; keys skip, error,
 * warning, info, experimental take comma- or space-separated rule ids,
 * error also takes true/false; install_last takes package names) into *c.
 * Errors name the line (err->line): unknown key, unknown rule, bad value. */
int berth_lint_config_parse(const char *text, size_t len, struct berth_lint_config *c,
			    struct berth_err **err);

/* Merge the value of a `# check=` directive (BuildKit's syntax:
 * "skip=A,B;error=true;experimental=C") into *c. Errors: an unknown key,
 * a value that is not a boolean, an unknown rule. */
int berth_lint_check_directive(const char *value, struct berth_lint_config *c,
			       struct berth_err **err);

/* The environment (config Env, "K=V") of a base image, when the caller knows
 * it: return 0 and append to *env, or -1 when the image is unknown. */
typedef int (*berth_lint_base_env_fn)(void *ctx, const char *ref, struct berth_strv *env);
/* True when `path` (relative to the build context, cleaned) is excluded by
 * the context's .dockerignore. */
typedef bool (*berth_lint_ignored_fn)(void *ctx, const char *path);

struct berth_lint_opts {
	/* The app the Dockerfile is for (berth's own rules). */
	bool sdk_app; /* served by `python3 -m berth.runner`: python3 must be reachable */
	bool gpu_app; /* asks for GPUs: CUDA variables or a CUDA base image */
	const struct berth_strv *install_last;  /* more package names, e.g. from the
						 * app spec; merged with the config's */
	const struct berth_lint_config *config; /* NULL: defaults */
	const struct berth_strv *build_args;    /* "K=V", as for a build; may be NULL */
	const char *target;                     /* stage name or index; NULL: the last */
	/* Optional knowledge the library cannot get by itself. */
	berth_lint_base_env_fn base_env; /* UndefinedVar against the base image's env */
	void *base_env_ctx;
	berth_lint_ignored_fn ignored; /* CopyIgnoredFile (experimental) */
	void *ignored_ctx;
};

/* Lint one Dockerfile. `opts` may be NULL (defaults). On success fills *out
 * (release with berth_lint_result_release(); findings may be empty) and
 * returns 0. Fails, with err->line set, when the text does not parse or
 * when the `# check=` directive is invalid; a file that parses but does
 * not load as stages (an error the build would report) is still linted by
 * the rules that need only the parse, and the load error comes back as an
 * error finding "berth/invalid" unless a rule already reported that line. */
int berth_lint_dockerfile(const char *text, size_t len, const struct berth_lint_opts *opts,
			  struct berth_lint_result *out, struct berth_err **err);

/* --- output (report.c): formatting as data, the caller prints --- */

/* One line per finding: "FILE:LINE: SEVERITY: RULE MESSAGE (fix: FIX)\n". */
void berth_lint_format_text(const struct berth_lint_result *r, const char *file,
			    struct berth_buf *out);
/* A summary line without newline: "3 findings: 1 error, 2 warnings". */
void berth_lint_format_summary(const struct berth_lint_result *r, struct berth_buf *out);
/* An array of {"file", "rule", "severity", "line", "end_line", "message",
 * "fix"} objects (a new reference). */
json_t *berth_lint_to_json(const struct berth_lint_result *r, const char *file);

/* --- validation of a built image (validate.c) ---
 *
 * What the Dockerfile rules cannot know until the image exists, checked on
 * the image itself: python3 on the image's PATH for SDK apps (symlinks
 * resolved inside the image), the CUDA environment for GPU apps, and package
 * caches left in layers. Reads the unpacked layers (layers/<chain-id>, in
 * overlay form: char 0/0 whiteouts, trusted.overlay.opaque directories, the
 * top layer wins) and the image config; never runs the image. Fast enough
 * for every `berth run`: a few lookups per PATH entry and a walk of the
 * cache directories of each layer, nothing else. */

struct berth_store;

#define BERTH_LINT_IMAGE_MAX_LAYERS 512     /* layers read (overlayfs stacks ~500) */
#define BERTH_LINT_IMAGE_MAX_LINKS  40      /* symlinks followed in one lookup, as ELOOP */
#define BERTH_LINT_IMAGE_WALK_MAX   1000000 /* entries walked in one layer; more are not counted */
#define BERTH_LINT_IMAGE_WALK_DEPTH 128     /* directory depth walked */
#define BERTH_LINT_IMAGE_PASSWD_MAX (1u << 20) /* bytes of the image's /etc/passwd read */
#define BERTH_LINT_IMAGE_TOP_MAX    100        /* largest files kept per layer, at most */

/* One check of the table (static data), like berth_lint_rule. */
struct berth_lint_image_check {
	const char *id; /* "image/python-missing", ... */
	enum berth_lint_severity severity;
	const char *summary;
};

/* The checks, in documentation order; *n gets the count. */
const struct berth_lint_image_check *berth_lint_image_checks(size_t *n);

struct berth_lint_image_opts {
	bool sdk_app;  /* served by `python3 -m berth.runner`: python3 must be on PATH */
	unsigned gpus; /* GPUs the app asks for; > 0 checks the CUDA environment */
};

struct berth_lint_image_finding {
	const char *rule; /* the check's id: static */
	enum berth_lint_severity severity;
	int layer;     /* 1-based, base first; 0: about the whole image */
	char *step;    /* the history line that made the layer, or NULL; owned */
	char *path;    /* the path in the image it is about, or NULL; owned */
	int64_t bytes; /* what a cache costs its layer; 0 for other checks */
	char *message; /* lower-case, names the layer and its step; owned */
	char *fix;     /* owned, never NULL */
};

struct berth_lint_image_result {
	struct berth_lint_image_finding *findings; /* image checks first, then by layer */
	size_t n, cap;
	struct berth_strv notes; /* what could not be checked, one sentence each */
};

void berth_lint_image_result_release(struct berth_lint_image_result *r);
/* True when any finding is an error (strict: any finding at all). */
bool berth_lint_image_failed(const struct berth_lint_image_result *r, bool strict);

/* Validate the stored image `manifest_digest` (an image manifest, not an
 * index). Its layers must be unpacked (berth_image_unpack): a missing one is
 * NOT_FOUND naming it. Fills *out (release it) and returns 0, or fails on a
 * store or filesystem error. */
int berth_lint_image(struct berth_store *s, const char *manifest_digest,
		     const struct berth_lint_image_opts *o, struct berth_lint_image_result *out,
		     struct berth_err **err);

/* The same on layer directories (base first, overlay form) and an image
 * config (the whole config JSON: "config" with Env and User, "history");
 * what berth_lint_image() calls, and what tests give hand-made layers. */
int berth_lint_image_layers(const struct berth_strv *dirs, const json_t *config,
			    const struct berth_lint_image_opts *o,
			    struct berth_lint_image_result *out, struct berth_err **err);

/* One line per finding: "PREFIX SEVERITY: RULE MESSAGE (fix: FIX)\n". */
void berth_lint_image_format_text(const struct berth_lint_image_result *r, const char *prefix,
				  struct berth_buf *out);
/* An array of {"image", "rule", "severity", "layer", "step", "path", "bytes",
 * "message", "fix"} objects (layer, step and path null when not about one);
 * a new reference. */
json_t *berth_lint_image_to_json(const struct berth_lint_image_result *r, const char *image);

/* A history line as the user wrote the step: BuildKit's "RUN /bin/sh -c X
 * # buildkit" (and "RUN |1 A=b /bin/sh -c X") becomes "RUN X", Docker's
 * "/bin/sh -c #(nop) ENV A=b" becomes "ENV A=b"; newlines become spaces; cut
 * to `max` characters with "..." (max 0: not cut). NULL for NULL; free(). */
char *berth_lint_step_text(const char *created_by, size_t max);

/* --- what each layer holds (validate.c): `berth image inspect --layers` --- */

struct berth_lint_layer_file {
	char *path; /* absolute in the image; owned */
	int64_t size;
};

struct berth_lint_layer_stats {
	char digest[BERTH_DIGEST_LEN + 1];  /* the compressed blob */
	char diff_id[BERTH_DIGEST_LEN + 1]; /* "" when the config lacks it */
	char chain_id[BERTH_DIGEST_LEN + 1];
	char *media_type;   /* owned */
	int64_t compressed; /* the blob's size, from the manifest */
	int64_t unpacked;   /* bytes of regular files, hard links counted once */
	int64_t files;      /* regular files (hard links once) */
	int64_t whiteouts;  /* paths this layer deletes (opaque directories count one) */
	bool truncated;     /* over BERTH_LINT_IMAGE_WALK_MAX or _DEPTH: sizes are at least */
	char *step;         /* history created_by of the step that made it, or NULL; owned */
	struct berth_lint_layer_file *largest; /* biggest first; ties by path */
	size_t nlargest;
};

/* Walk each unpacked layer of the stored image `manifest_digest`: sizes,
 * counts, the `top` largest files (at most BERTH_LINT_IMAGE_TOP_MAX) and the
 * step that made it (history entries without empty_layer, matched to the
 * layers in order; from the top down when the counts differ). Layers must be
 * unpacked. *out (n entries) is freed with berth_lint_layer_stats_free(). */
int berth_lint_layer_stats(struct berth_store *s, const char *manifest_digest, size_t top,
			   struct berth_lint_layer_stats **out, size_t *n, struct berth_err **err);
void berth_lint_layer_stats_free(struct berth_lint_layer_stats *st, size_t n);

#endif
