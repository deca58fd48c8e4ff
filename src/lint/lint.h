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

#endif
