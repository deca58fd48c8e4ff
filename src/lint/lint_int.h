/* Internals shared by the files of lint/; included by nothing outside the
 * module. */
#ifndef BERTH_LINT_INT_H
#define BERTH_LINT_INT_H

#include "dockerfile/dockerfile.h"
#include "lint/lint.h"

/* Nested `sh -c "..."` strings parsed as scripts, at most this deep. */
#define BERTH__LINT_MAX_SHELL_DEPTH 4

/* ------------------------------------------------ shell commands (shell.c) */

/* One simple command of a RUN script. */
struct berth__sh_cmd {
	/* Words with quotes removed and variables left as written; leading
	 * assignments, reserved words (if, then, do, !, ...) and wrappers
	 * (sudo, env, exec, command, nohup, time) taken off. */
	struct berth_strv argv;
	int line;    /* Dockerfile line it is on */
	bool sudo;   /* was run through sudo */
	bool piped;  /* its output goes into a pipe (`a | b`: a) */
	int heredoc; /* index of the instruction heredoc it reads, or -1 */
};

struct berth__sh_script {
	struct berth__sh_cmd *cmds;
	size_t n, cap;
	bool has_pipe; /* some command writes into a pipe */
	bool pipefail; /* `set -o pipefail` (or -eo pipefail, ...) runs in it */
	bool opaque;   /* part of it could not be read (an interpreter's heredoc
			* body, a non-shell #! script): rules must not assume
			* they saw everything */
};

/* Split the command of a RUN into simple commands: shell form (with its
 * heredoc bodies, when a shell reads them) or exec form (a shell's -c
 * string, or the argv itself). Never fails: what it cannot read it marks
 * opaque. Release with berth__sh_script_release(). */
void berth__sh_script_of_run(const struct berth_df_instr *in, struct berth__sh_script *out);
/* Split shell text (a script) into simple commands, all on `line`, each
 * newline moving to the next line when `count_lines`. */
void berth__sh_script_parse(const char *text, int line, bool count_lines,
			    struct berth__sh_script *out);
void berth__sh_script_release(struct berth__sh_script *s);

/* The last path component ("/usr/bin/pip3" -> "pip3"). Borrowed. */
const char *berth__sh_basename(const char *path);
/* sh, bash, dash, ash, zsh, ksh, busybox sh. */
bool berth__sh_is_shell(const char *argv0);

/* --------------------------------------------- package installs (install.c) */

enum berth__pm {
	BERTH__PM_APT_GET, /* apt-get (and apt, reported by DL3027) */
	BERTH__PM_APK,
	BERTH__PM_DNF, /* dnf, yum, microdnf */
	BERTH__PM_PIP, /* pip, pip3, python -m pip, uv pip */
	BERTH__PM_NPM,
	BERTH__PM_CONDA, /* conda, mamba, micromamba */
};

/* An install (or, for apt, also an update) recognised in one command. */
struct berth__install {
	enum berth__pm pm;
	const struct berth__sh_cmd *cmd; /* borrowed */
	const char *tool;                /* argv[0]'s basename as written */
	bool update;                     /* apt-get update / apk update: no packages */
	struct berth_strv pkgs;          /* package arguments as written */
	bool yes;                        /* apt: -y / --yes / -qq; dnf: -y */
	bool no_recommends;              /* apt: --no-install-recommends */
	bool no_cache;                   /* pip: --no-cache-dir; apk: --no-cache */
	bool from_files;                 /* pip -r/-c/-e, npm with no names: unseen packages */
	bool upgrade;                    /* pip -U / --upgrade */
};

/* Recognise an install in cmd; returns false (and leaves *out empty) when it
 * is none. Release a filled one with berth__install_release(). */
bool berth__install_parse(const struct berth__sh_cmd *cmd, struct berth__install *out);
void berth__install_release(struct berth__install *in);
/* The package name without its version or extras ("pydantic==2.10.6" ->
 * "pydantic", "curl=7.88" -> "curl", "@scope/x@1" -> "@scope/x"), lower-case,
 * with '_' and '.' as '-' for pip (PEP 503). free(). */
char *berth__install_name(enum berth__pm pm, const char *pkg);
/* Is the package argument pinned to one version (or a file, URL or path)?
 * *unknown is set when it holds a variable and cannot be judged. */
bool berth__install_pinned(enum berth__pm pm, const char *pkg, bool *unknown);

/* ------------------------------------------------------ the run (lint.c) */

struct berth__lint {
	const struct berth_lint_opts *opt;
	struct berth_lint_config cfg; /* opts->config + `# check=` + install_last */
	const char *text;
	size_t len;
	const struct berth_df_ast *ast;   /* always */
	const struct berth_df_file *file; /* the typed model, or NULL when it did
					   * not load */
	/* Typed model only: */
	bool *in_final;                    /* by stage: the target builds on it */
	struct berth__sh_script **scripts; /* by stage, by instruction (RUNs) */
	struct berth_lint_result *out;
	int seq;
};

/* Is the rule on (not skipped; experimental ones turned on)? */
bool berth__lint_enabled(const struct berth__lint *L, const char *rule);

/* Add a finding for `rule` (BUG() when the id is not in the table) with the
 * rule's severity after the config's overrides. `sure` false lowers an error
 * to a warning (a best guess); `fix` is copied. */
void berth__lint_report(struct berth__lint *L, const char *rule, bool sure, int line, int end_line,
			const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Stage chain helpers (typed model). */
const struct berth_df_stage *berth__lint_target(const struct berth__lint *L);
/* The script of a RUN instruction (NULL for other kinds). */
const struct berth__sh_script *berth__lint_script(const struct berth__lint *L, size_t stage,
						  size_t instr);

/* Physical line `line` (1-based) of the Dockerfile text, without its
 * newline; false past the end. */
bool berth__lint_text_line(const struct berth__lint *L, int line, struct berth_sv *out);
/* The instruction keyword as written ("Run"), a view into node->original. */
struct berth_sv berth__lint_keyword(const struct berth_df_node *node);
/* The name in `names` closest to `name` (same letters in another case, or
 * at most two edits away), for "did you mean"; NULL when none. Borrowed. */
const char *berth__lint_suggest(const char *name, const struct berth_strv *names);
/* `KEY=value` with the value quoted when it holds blanks or quotes. free(). */
char *berth__lint_kv_text(const char *key, const char *value);

/* The rule groups; each reports through berth__lint_report(). */
void berth__lint_buildkit_parse(struct berth__lint *L); /* needs the AST only */
void berth__lint_buildkit_model(struct berth__lint *L);
void berth__lint_instructions(struct berth__lint *L);
void berth__lint_packages(struct berth__lint *L);
void berth__lint_berth(struct berth__lint *L);

/* The rule table (rules.c). */
extern const struct berth_lint_rule berth__lint_rule_table[];
extern const size_t berth__lint_rule_count;

#endif
