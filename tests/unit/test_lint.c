/* Unit tests for lint/: the shell splitter (operators, quotes, redirections,
 * wrappers, sh -c, heredocs and their lines), package installs and pinning,
 * the config file and `# check=` directive, and the library API: the app
 * options, severity overrides, twins, the callbacks for base images and
 * .dockerignore (with build/'s real matcher), limits and output formats.
 * The rule cases with Dockerfiles are in tests/e2e/lint_cases/. */
#include "build/build_int.h"
#include "lint/lint_int.h"
#include "tap.h"

#include <stdlib.h>

/* --------------------------------------------------------------- helpers */

/* Commands of a script as "argv|argv|..." (words joined by spaces). */
static char *cmds_text(const struct berth__sh_script *s)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			berth_buf_addch(&b, '|');
		for (size_t k = 0; k < s->cmds[i].argv.n; k++)
			berth_buf_addf(&b, "%s%s", k ? " " : "", s->cmds[i].argv.v[k]);
	}
	return berth_buf_steal(&b, NULL);
}

static void is_split(const char *script, const char *want)
{
	struct berth__sh_script s;
	berth__sh_script_parse(script, 1, true, &s);
	_cleanup_free_ char *got = cmds_text(&s);
	/* One TAP line per check: newlines in the name shown as \n. */
	struct berth_buf name;
	berth_buf_init(&name, BERTH_BUF_UNLIMITED);
	for (const char *p = script; *p; p++)
		berth_buf_addstr(&name, *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : (char[]){*p, 0});
	tap_is_str(got, want, "split: %s", name.data);
	berth_buf_release(&name);
	berth__sh_script_release(&s);
}

/* Lint `text` with opts; returns the findings as "LINE SEV RULE, ...". */
static char *lint(const char *text, const struct berth_lint_opts *o, struct berth_lint_result *keep)
{
	struct berth_lint_result r;
	struct berth_err *err = NULL;
	if (berth_lint_dockerfile(text, strlen(text), o, &r, &err) < 0) {
		char *s = berth_xasprintf("ERROR %d: %s", err->line, err->msg);
		berth_err_free(err);
		return s;
	}
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < r.n; i++)
		berth_buf_addf(&b, "%s%d %s %s", i ? ", " : "", r.findings[i].line,
			       berth_lint_severity_name(r.findings[i].severity),
			       r.findings[i].rule);
	if (keep)
		*keep = r;
	else
		berth_lint_result_release(&r);
	return berth_buf_steal(&b, NULL);
}

static void is_lint(const char *text, const struct berth_lint_opts *o, const char *want,
		    const char *what)
{
	_cleanup_free_ char *got = lint(text, o, NULL);
	tap_is_str(got, want, "%s", what);
}

/* ------------------------------------------------------------ the splitter */

static void test_split(void)
{
	is_split("apt-get update && apt-get install -y curl; echo hi | tee x || true",
		 "apt-get update|apt-get install -y curl|echo hi|tee x|true");
	is_split("echo \"a && b\" 'c; d' e\\;f", "echo a && b c; d e;f");
	is_split("apt-get install -y curl >/dev/null 2>&1 </dev/null && make 2> err.log",
		 "apt-get install -y curl|make");
	is_split("DEBIAN_FRONTEND=noninteractive sudo -u root env -i A=1 apt-get install x",
		 "apt-get install x");
	is_split("exec nohup command -p pip install y", "pip install y");
	is_split("sh -c \"pip install torch && cd /x\"",
		 "sh -c pip install torch && cd /x|pip install torch|cd /x");
	is_split("bash -euxc 'npm i a'", "bash -euxc npm i a|npm i a");
	is_split("cat <<EOF >f\napt-get install x\nEOF\npip install y", "cat|pip install y");
	is_split("cat <<-'END' | sh\n\tapt-get install x\n\tEND\nls", "cat|sh|ls");
	is_split("echo a # && apt-get install b\necho c", "echo a|echo c");
	is_split("echo $(apt-get install x; true) `pip install y; z`",
		 "echo $(apt-get install x; true) `pip install y; z`");
	is_split("if [ -f x ]; then apt-get install y; else pip install z; fi",
		 "[ -f x ]|apt-get install y|pip install z");
	is_split("for p in a b; do pip install $p; done", "pip install $p");
	is_split("( cd /x && make ) & wait", "cd /x|make|wait");
	is_split("apt-get install \\\n  curl \\\n  git", "apt-get install curl git");
	is_split("echo ${A:-x y} $B", "echo ${A:-x y} $B");
	is_split("grep x <<< \"$v\"", "grep x");
	is_split("", "");

	struct berth__sh_script s;
	berth__sh_script_parse("set -euo pipefail\ncurl x | sh", 7, true, &s);
	tap_ok(s.has_pipe && s.pipefail, "set -euo pipefail and a pipe are seen");
	tap_ok(s.n == 3 && s.cmds[0].line == 7 && s.cmds[1].line == 8 && s.cmds[1].piped &&
		   !s.cmds[2].piped,
	       "commands carry their line; the writer into a pipe is marked");
	berth__sh_script_release(&s);
	berth__sh_script_parse("curl x | sh && set -e -o pipefail", 1, false, &s);
	tap_ok(s.has_pipe && s.pipefail, "set -e -o pipefail counts too");
	berth__sh_script_release(&s);
	berth__sh_script_parse("sudo make install && ./configure", 1, false, &s);
	tap_ok(s.n == 2 && s.cmds[0].sudo && !s.cmds[1].sudo && s.opaque,
	       "sudo is noted; a local script makes the run opaque");
	berth__sh_script_release(&s);
}

/* RUN instructions as the rules see them: heredocs, lines, exec form. */
static void test_run_scripts(void)
{
	static const char df[] = "FROM debian:bookworm-slim\n"
				 "RUN <<EOF\n"
				 "apt-get update\n"
				 "pip install x\n"
				 "EOF\n"
				 "RUN python3 <<EOF\n"
				 "import os\n"
				 "EOF\n"
				 "RUN bash -e <<EOF && echo done\n"
				 "  npm i y\n"
				 "EOF\n"
				 "RUN [\"sh\", \"-c\", \"pip install z | tee log\"]\n"
				 "RUN [\"pip\", \"install\", \"w\"]\n"
				 "RUN cat <<A >/f <<B\n"
				 "not a command\n"
				 "A\n"
				 "B\n"
				 "RUN <<EOF\n"
				 "#!/usr/bin/env python3\n"
				 "print(1)\n"
				 "EOF\n";
	struct berth_df_file f;
	struct berth_err *err = NULL;
	if (!tap_ok(berth_df_load(df, strlen(df), NULL, &f, &err) == 0, "the RUN file loads")) {
		tap_diag("error", err->msg);
		berth_err_free(err);
		return;
	}
	static const struct {
		const char *cmds;
		int first_line;
		bool opaque;
	} want[] = {
	    {"apt-get update|pip install x", 3, false},
	    {"python3", 6, true},
	    {"bash -e|npm i y|echo done", 9, false},
	    {"sh -c pip install z | tee log|pip install z|tee log", 12, false},
	    {"pip install w", 13, false},
	    {"cat", 14, false},
	    {"", 0, true},
	};
	const struct berth_df_stage *st = &f.stages[0];
	tap_is_int(st->n, BERTH_ARRAY_SIZE(want), "seven RUNs");
	for (size_t i = 0; i < st->n && i < BERTH_ARRAY_SIZE(want); i++) {
		struct berth__sh_script s;
		berth__sh_script_of_run(&st->instrs[i], &s);
		_cleanup_free_ char *got = cmds_text(&s);
		tap_is_str(got, want[i].cmds, "RUN at line %d: commands", st->instrs[i].line);
		if (s.n)
			tap_is_int(s.cmds[0].line, want[i].first_line, "RUN at line %d: first line",
				   st->instrs[i].line);
		tap_is_int(s.opaque, want[i].opaque, "RUN at line %d: opaque", st->instrs[i].line);
		berth__sh_script_release(&s);
	}
	/* The heredoc body's commands are on their own lines. */
	struct berth__sh_script s;
	berth__sh_script_of_run(&st->instrs[2], &s);
	tap_ok(s.n == 3 && s.cmds[1].line == 10 && s.cmds[2].line == 9,
	       "a shell's heredoc body is split on the lines it sits on");
	berth__sh_script_release(&s);
	berth_df_file_release(&f);
}

/* ---------------------------------------------------------- installs */

static bool install_of(const char *cmd, struct berth__install *in, struct berth__sh_script *s)
{
	berth__sh_script_parse(cmd, 1, false, s);
	return s->n && berth__install_parse(&s->cmds[0], in);
}

static char *join_strv(const struct berth_strv *sv)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < sv->n; i++)
		berth_buf_addf(&b, "%s%s", i ? " " : "", sv->v[i]);
	return berth_buf_steal(&b, NULL);
}

static void test_installs(void)
{
	static const struct {
		const char *cmd;
		enum berth__pm pm;
		const char *pkgs;
		bool yes, norec, nocache, files, update;
	} cases[] = {
	    {"apt-get -o Dpkg::Options::=--force-confold install -y --no-install-recommends "
	     "curl=1 git",
	     BERTH__PM_APT_GET, "curl=1 git", true, true, false, false, false},
	    {"apt-get -qy install -t bookworm-backports x", BERTH__PM_APT_GET, "x", true, false,
	     false, false, false},
	    {"apt-get install -o APT::Install-Recommends=0 -qq x", BERTH__PM_APT_GET, "x", true,
	     true, false, false, false},
	    {"apt-get update", BERTH__PM_APT_GET, "", false, false, false, false, true},
	    {"python3 -m pip install --no-cache-dir -r req.txt torch==2 -i https://x numpy",
	     BERTH__PM_PIP, "torch==2 numpy", false, false, true, true, false},
	    {"/opt/venv/bin/pip3.11 install --user -e . --extra-index-url https://x y",
	     BERTH__PM_PIP, "y", false, false, false, true, false},
	    {"uv pip install --system --no-cache x==1", BERTH__PM_PIP, "x==1", false, false, true,
	     false, false},
	    {"npm i -g --prefix /usr @scope/pkg@1.2 left-pad", BERTH__PM_NPM,
	     "@scope/pkg@1.2 left-pad", false, false, false, false, false},
	    {"npm install", BERTH__PM_NPM, "", false, false, false, true, false},
	    {"apk add --no-cache --virtual .deps curl=8.5.0-r0", BERTH__PM_APK, "curl=8.5.0-r0",
	     false, false, true, false, false},
	    {"dnf install -y --setopt=tsflags=nodocs python3", BERTH__PM_DNF, "python3", true,
	     false, false, false, false},
	    {"conda install -y -c conda-forge python=3.11", BERTH__PM_CONDA, "python=3.11", true,
	     false, false, false, false},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		struct berth__sh_script s;
		struct berth__install in;
		if (!tap_ok(install_of(cases[i].cmd, &in, &s), "an install: %s", cases[i].cmd)) {
			berth__sh_script_release(&s);
			continue;
		}
		_cleanup_free_ char *pkgs = join_strv(&in.pkgs);
		tap_is_str(pkgs, cases[i].pkgs, "  its packages");
		tap_ok(in.pm == cases[i].pm && in.yes == cases[i].yes &&
			   in.no_recommends == cases[i].norec && in.no_cache == cases[i].nocache &&
			   in.from_files == cases[i].files && in.update == cases[i].update,
		       "  its manager and switches");
		berth__install_release(&in);
		berth__sh_script_release(&s);
	}
	static const char *const not_installs[] = {"apt-get upgrade -y", "pip download x",
						   "python3 app.py",     "npm run build",
						   "apk del x",          "apt-cache policy curl"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(not_installs); i++) {
		struct berth__sh_script s;
		struct berth__install in;
		tap_ok(!install_of(not_installs[i], &in, &s), "not an install: %s",
		       not_installs[i]);
		berth__sh_script_release(&s);
	}

	static const struct {
		enum berth__pm pm;
		const char *pkg, *name;
		int pinned; /* 1 yes, 0 no, -1 cannot tell */
	} pins[] = {
	    {BERTH__PM_PIP, "torch==2.6.0", "torch", 1},
	    {BERTH__PM_PIP, "Pydantic_Core[email]===2.0", "pydantic-core", 1},
	    {BERTH__PM_PIP, "torch>=2", "torch", 0},
	    {BERTH__PM_PIP, "torch==2.*", "torch", 0},
	    {BERTH__PM_PIP, "torch>=2,==2.1", "torch", 0},
	    {BERTH__PM_PIP, "./wheels/x-1.0-py3-none-any.whl", "-/wheels/x-1-0-py3-none-any-whl",
	     1},
	    {BERTH__PM_PIP, "pkg@https://example.com/pkg.zip", "pkg", 1},
	    {BERTH__PM_PIP, "$PKG", "$pkg", -1},
	    {BERTH__PM_APT_GET, "curl=7.88.1-10+deb12u5", "curl", 1},
	    {BERTH__PM_APT_GET, "curl", "curl", 0},
	    {BERTH__PM_APT_GET, "curl/bookworm-backports", "curl", 0},
	    {BERTH__PM_APT_GET, "./local.deb", ".", 1},
	    {BERTH__PM_NPM, "left-pad@1.3.0", "left-pad", 1},
	    {BERTH__PM_NPM, "left-pad@latest", "left-pad", 0},
	    {BERTH__PM_NPM, "@scope/x", "@scope/x", 0},
	    {BERTH__PM_NPM, "@scope/x@2", "@scope/x", 1},
	    {BERTH__PM_NPM, "github:user/repo", "github:user/repo", 1},
	    {BERTH__PM_APK, "curl~8.5", "curl", 1},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(pins); i++) {
		bool unknown;
		bool p = berth__install_pinned(pins[i].pm, pins[i].pkg, &unknown);
		int got = unknown ? -1 : p;
		tap_is_int(got, pins[i].pinned, "pinned: %s", pins[i].pkg);
		_cleanup_free_ char *name = berth__install_name(pins[i].pm, pins[i].pkg);
		tap_is_str(name, pins[i].name, "  name of %s", pins[i].pkg);
	}
}

/* --------------------------------------------------------------- config */

static void test_config(void)
{
	struct berth_lint_config c;
	berth_lint_config_init(&c);
	struct berth_err *err = NULL;
	static const char text[] = "# comment\n"
				   "skip = DL3008, DL3059  # trailing comment\n"
				   "\n"
				   "error = DL3007\n"
				   "warning=berth/python-missing\n"
				   "info = DL3013 DL3016\n"
				   "experimental = all\n"
				   "install_last = pydantic==2.10.6, protobuf boto3\n"
				   "skip = DL3008\n";
	tap_is_int(berth_lint_config_parse(text, strlen(text), &c, &err), 0, "a config parses");
	_cleanup_free_ char *skip = join_strv(&c.skip), *il = join_strv(&c.install_last),
			    *info = join_strv(&c.info);
	tap_is_str(skip, "DL3008 DL3059", "skip: commas, comments, no repeats");
	tap_is_str(info, "DL3013 DL3016", "info: spaces separate too");
	tap_is_str(il, "pydantic==2.10.6 protobuf boto3", "install_last keeps what is written");
	tap_ok(c.error.n == 1 && c.warning.n == 1 && c.experimental.n == 1 && !c.error_all,
	       "error, warning, experimental");
	static const char t2[] = "error = true\n";
	tap_ok(berth_lint_config_parse(t2, strlen(t2), &c, &err) == 0 && c.error_all,
	       "error = true turns every warning into an error");
	berth_lint_config_release(&c);

	static const struct {
		const char *text;
		int line;
		const char *msg;
	} bad[] = {
	    {"skip = DL3008\nskip = DL9999\n", 2,
	     "skip: unknown rule 'DL9999' (see 'berth lint --list-rules')"},
	    {"\nno equals here\n", 2, "expected 'key = value', got 'no equals here'"},
	    {"skip =\n", 1, "'skip' has no value"},
	    {"colour = red\n", 1,
	     "unknown key 'colour' (use skip, error, warning, info, experimental or "
	     "install_last)"},
	    {"error = all\n", 1, "error: unknown rule 'all' (see 'berth lint --list-rules')"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(bad); i++) {
		berth_lint_config_init(&c);
		err = NULL;
		int r = berth_lint_config_parse(bad[i].text, strlen(bad[i].text), &c, &err);
		tap_ok(r < 0 && err && err->line == bad[i].line, "bad config %zu fails on line %d",
		       i, bad[i].line);
		tap_is_str(err ? err->msg : NULL, bad[i].msg, "  says why");
		berth_err_free(err);
		berth_lint_config_release(&c);
	}
	berth_lint_config_init(&c);
	err = NULL;
	tap_ok(berth_lint_config_parse("skip = x\0y", 10, &c, &err) < 0, "a NUL byte is refused");
	berth_err_free(err);
	berth_lint_config_release(&c);

	berth_lint_config_init(&c);
	err = NULL;
	tap_is_int(berth_lint_check_directive(
		       "skip=DL3008,JSONArgsRecommended; ERROR=true ;experimental=all", &c, &err),
		   0, "a check directive parses (keys in any case, spaces around)");
	tap_ok(c.skip.n == 2 && c.error_all && c.experimental.n == 1, "  and sets what it says");
	berth_lint_config_release(&c);
	static const struct {
		const char *value, *msg;
	} dbad[] = {
	    {"foo=bar", "check directive: unknown option 'foo' (use skip, error or experimental)"},
	    {"error=maybe", "check directive: error=maybe is not a boolean (use true or false)"},
	    {"skip", "check directive: expected key=value, got 'skip'"},
	    {"skip=Nope", "check directive: skip: unknown rule 'Nope' (see 'berth lint "
			  "--list-rules')"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(dbad); i++) {
		berth_lint_config_init(&c);
		err = NULL;
		tap_ok(berth_lint_check_directive(dbad[i].value, &c, &err) < 0, "bad directive: %s",
		       dbad[i].value);
		tap_is_str(err ? err->msg : NULL, dbad[i].msg, "  says why");
		berth_err_free(err);
		berth_lint_config_release(&c);
	}
}

/* --------------------------------------------------------------- the API */

static void test_api_errors(void)
{
	_cleanup_free_ char *got = lint("FROM a\nRUN <<EOF\n", NULL, NULL);
	tap_is_str(got, "ERROR 2: unterminated heredoc 'EOF'",
		   "a parse error comes back with its line");
	free(got);
	got =
	    lint("# syntax=docker/dockerfile:1\n#  CHECK = error=perhaps\nFROM a:1\n", NULL, NULL);
	tap_is_str(got,
		   "ERROR 2: check directive: error=perhaps is not a boolean (use true or false)",
		   "a bad check directive is an error on its line");
	free(got);
	got = lint("", NULL, NULL);
	tap_is_str(got, "ERROR 1: file with no instructions", "an empty file");
}

static void test_severities_and_twins(void)
{
	static const char df[] = "FROM debian:latest\n"
				 "CMD echo hi\n";
	is_lint(df, NULL, "1 warning DL3007, 2 warning JSONArgsRecommended",
		"defaults: the BuildKit rule reports, its hadolint twin gives way");

	struct berth_lint_config c;
	berth_lint_config_init(&c);
	berth_strv_push(&c.skip, "JSONArgsRecommended");
	berth_strv_push(&c.info, "DL3007");
	struct berth_lint_opts o = {.config = &c};
	is_lint(df, &o, "1 info DL3007, 2 warning DL3025",
		"the twin reports when the BuildKit rule is skipped; info lowers");
	c.error_all = true;
	is_lint(df, &o, "1 info DL3007, 2 error DL3025", "error_all raises warnings, not info");
	berth_strv_push(&c.warning, "DL3025");
	is_lint(df, &o, "1 info DL3007, 2 warning DL3025", "a per-rule level beats error_all");
	berth_strv_push(&c.skip, "all");
	is_lint(df, &o, "", "skip = all");
	berth_lint_config_release(&c);

	is_lint("FROM debian:bookworm-slim\nMAINTAINER a\nMAINTAINER b\nCMD a\nCMD b\n", NULL,
		"2 warning MaintainerDeprecated, 3 warning MaintainerDeprecated, "
		"4 warning JSONArgsRecommended, 4 warning MultipleInstructionsDisallowed, "
		"5 warning JSONArgsRecommended",
		"several twin pairs: each hadolint twin gives way on its own line");

	/* Experimental rules are off until turned on. */
	static const char desc[] = "FROM debian:bookworm-slim\n# not the name\nARG X=1\n";
	is_lint(desc, NULL, "", "InvalidDefinitionDescription is experimental: off");
	berth_lint_config_init(&c);
	berth_strv_push(&c.experimental, "all");
	o = (struct berth_lint_opts){.config = &c};
	is_lint(desc, &o, "3 warning InvalidDefinitionDescription",
		"experimental = all turns it on");
	berth_lint_config_release(&c);
	is_lint("FROM debian:bookworm-slim\n\n# X the value\nARG X=1\n# unrelated\n\nARG Y=2\n", &o,
		"", "comments directly above with the name, or apart from the ARG, are fine");
}

static void test_app_options(void)
{
	static const char df[] =
	    "FROM debian:bookworm-slim\n"
	    "RUN apt-get update && apt-get install -y --no-install-recommends "
	    "python3-pip=23.0.1+dfsg-1 && rm -rf /var/lib/apt/lists/*\n"
	    "RUN pip3 install --no-cache-dir --break-system-packages pydantic==2.10.6\n"
	    "# the app's own packages\n"
	    "RUN pip3 install --no-cache-dir --break-system-packages torch==2.6.0\n";
	is_lint(df, NULL, "3 info DL3059", "no app options: nothing of berth's");
	struct berth_strv last = BERTH_STRV_INIT;
	berth_strv_push(&last, "pydantic");
	struct berth_lint_opts o = {.sdk_app = true, .gpu_app = true, .install_last = &last};
	is_lint(df, &o, "1 warning berth/cuda-env, 3 warning berth/install-last",
		"SDK + GPU + install_last: python3 comes with python3-pip; CUDA is missing; "
		"pydantic is not last");
	berth_strv_release(&last);

	/* A stage chain: the final stage builds on one that installed python3. */
	static const char chain[] = "FROM debian:bookworm-slim AS py\n"
				    "RUN apt-get update && apt-get install -y "
				    "--no-install-recommends python3=3.11.2-1+b1 "
				    "&& rm -rf /var/lib/apt/lists/*\n"
				    "FROM debian:bookworm-slim AS other\n"
				    "FROM py\n";
	o = (struct berth_lint_opts){.sdk_app = true};
	is_lint(chain, &o, "", "python3 installed in the stage the target builds on");
	o.target = "other";
	is_lint(chain, &o, "3 error berth/python-missing", "--target picks the final stage");
	is_lint("FROM busybox:1.36\nRUN ./install-python.sh\n",
		&(struct berth_lint_opts){.sdk_app = true}, "1 warning berth/python-missing",
		"a script we cannot see makes it a warning");
}

/* base_env: the environment of a base image when the caller knows it. */
static int fake_store_env(void *ctx, const char *ref, struct berth_strv *env)
{
	const char *const *known = ctx;
	if (strcmp(ref, "registry.example.com/cuda-base:1"))
		return -1;
	for (; *known; known++)
		berth_strv_push(env, *known);
	return 0;
}

static void test_base_env(void)
{
	static const char df[] = "FROM registry.example.com/cuda-base:1\n"
				 "ENV LD_LIBRARY_PATH=/opt/lib:$LD_LIBRARY_PATH\n"
				 "WORKDIR $APP_DIR\n";
	struct berth_lint_result r;
	_cleanup_free_ char *got = lint(df, NULL, &r);
	tap_is_str(got, "", "an unknown base: variables it may set are not reported");
	tap_ok(r.notes.n == 1 &&
		   strstr(r.notes.v[0], "'registry.example.com/cuda-base:1' is unknown"),
	       "  and a note says so");
	berth_lint_result_release(&r);

	static const char *const env[] = {"PATH=/usr/bin", "LD_LIBRARY_PATH=/usr/local/cuda/lib64",
					  "NVIDIA_VISIBLE_DEVICES=all", NULL};
	struct berth_lint_opts o = {
	    .gpu_app = true, .base_env = fake_store_env, .base_env_ctx = (void *)env};
	is_lint(df, &o, "3 warning UndefinedVar",
		"a known base: its LD_LIBRARY_PATH is defined, APP_DIR is not; its NVIDIA_* "
		"satisfies cuda-env");
}

/* CopyIgnoredFile with build/'s .dockerignore matcher. */
static bool ignored(void *ctx, const char *path)
{
	return berth__ignore_match(ctx, path);
}

static void test_copy_ignored(void)
{
	struct berth__ignore *ig = berth__ignore_new();
	struct berth_err *err = NULL;
	tap_ok(berth__ignore_add(ig, "*.log", &err) == 0 &&
		   berth__ignore_add(ig, "secrets", &err) == 0,
	       "a .dockerignore matcher");
	static const char df[] = "FROM debian:bookworm-slim AS base\n"
				 "RUN touch /var/app.log\n"
				 "FROM base\n"
				 "COPY app.log /srv/\n"
				 "COPY ./secrets/token app.py /srv/\n"
				 "COPY --from=base /var/app.log /srv/\n"
				 "ADD https://example.com/x.log /srv/\n";
	struct berth_lint_config c;
	berth_lint_config_init(&c);
	struct berth_lint_opts o = {.config = &c, .ignored = ignored, .ignored_ctx = ig};
	is_lint(df, &o, "", "CopyIgnoredFile is experimental: off");
	berth_strv_push(&c.experimental, "CopyIgnoredFile");
	struct berth_lint_result r;
	_cleanup_free_ char *got = lint(df, &o, &r);
	tap_is_str(got, "4 warning CopyIgnoredFile, 5 warning CopyIgnoredFile",
		   "context sources the .dockerignore excludes; --from and URLs are not");
	tap_ok(r.n == 2 && strstr(r.findings[1].message, "\"secrets/token\""),
	       "  the path is cleaned as BuildKit does");
	berth_lint_result_release(&r);
	berth_lint_config_release(&c);
	berth__ignore_free(ig);
}

static void test_output_and_limits(void)
{
	/* More findings than the cap: each legacy ENV is one. */
	struct berth_buf df;
	berth_buf_init(&df, BERTH_BUF_UNLIMITED);
	berth_buf_addstr(&df, "FROM debian:bookworm-slim\n");
	for (int i = 0; i < BERTH_LINT_MAX_FINDINGS + 5; i++)
		berth_buf_addf(&df, "ENV K%d v\n", i);
	struct berth_lint_result r;
	struct berth_err *err = NULL;
	tap_is_int(berth_lint_dockerfile(df.data, df.len, NULL, &r, &err), 0, "a huge file lints");
	tap_ok(r.n == BERTH_LINT_MAX_FINDINGS && r.dropped == 5,
	       "findings over the cap are counted");
	tap_ok(berth_lint_failed(&r, true) && !berth_lint_failed(&r, false),
	       "warnings fail only --strict");
	struct berth_buf sum;
	berth_buf_init(&sum, BERTH_BUF_UNLIMITED);
	berth_lint_format_summary(&r, &sum);
	tap_is_str(sum.data, "10005 findings: 10000 warnings (5 not shown: over 10000)",
		   "the summary says so");
	berth_buf_release(&sum);
	berth_lint_result_release(&r);
	berth_buf_release(&df);

	static const char two[] = "FROM debian\nEXPOSE 99999\n";
	tap_is_int(berth_lint_dockerfile(two, strlen(two), NULL, &r, &err), 0,
		   "a small file lints");
	struct berth_buf text;
	berth_buf_init(&text, BERTH_BUF_UNLIMITED);
	berth_lint_format_text(&r, "Dockerfile", &text);
	tap_is_str(text.data,
		   "Dockerfile:1: warning: DL3006 always tag the version of an image explicitly: "
		   "'debian' has no tag (fix: pin a version: `FROM debian:<version>` (or "
		   "`debian@sha256:<digest>`))\n"
		   "Dockerfile:2: error: DL3011 valid UNIX ports range from 0 to 65535: '99999' "
		   "(fix: use a port number from 0 to 65535)\n",
		   "text lines, sorted by line");
	berth_buf_release(&text);
	_cleanup_json_ json_t *j = berth_lint_to_json(&r, "Dockerfile");
	tap_ok(json_array_size(j) == 2 &&
		   !strcmp(berth_json_str(json_array_get(j, 1), "severity"), "error") &&
		   json_integer_value(json_object_get(json_array_get(j, 1), "end_line")) == 2,
	       "json objects");
	tap_ok(berth_lint_failed(&r, false), "an error fails");
	berth_lint_result_release(&r);

	size_t n;
	const struct berth_lint_rule *rules = berth_lint_rules(&n);
	bool ids_ok = true;
	for (size_t i = 0; i < n; i++) {
		ids_ok &= berth_lint_rule_find(rules[i].id) == &rules[i];
		ids_ok &= !rules[i].twin || berth_lint_rule_find(rules[i].twin) != NULL;
	}
	tap_ok(ids_ok && !berth_lint_rule_find("dl3008"), "rule ids are unique, twins exist, "
							  "ids are case-sensitive");
}

int main(void)
{
	test_split();
	test_run_scripts();
	test_installs();
	test_config();
	test_api_errors();
	test_severities_and_twins();
	test_app_options();
	test_base_env();
	test_copy_ignored();
	test_output_and_limits();
	return tap_done();
}
