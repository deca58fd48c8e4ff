/* hadolint's structural rules: FROM tags, WORKDIR and cd, RUN shells and
 * pipes, consecutive RUNs, ADD for local files, COPY destinations, EXPOSE
 * ranges and the final USER. Package rules are in rules_packages.c. */
#include "lint/lint_int.h"
#include "image/image.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

static void from_tags(struct berth__lint *L, const struct berth_df_stage *st)
{
	if (st->base_stage >= 0 || st->scratch || strchr(st->base, '$'))
		return;
	struct berth_ref ref;
	if (berth_ref_parse(st->base, &ref, NULL) < 0)
		return;
	_cleanup_free_ char *name = berth_xstrndup(st->base, strcspn(st->base, "@"));
	/* The name without the tag: a ':' after the last '/' starts it. */
	const char *slash = strrchr(name, '/');
	char *colon = strrchr(slash ? slash : name, ':');
	if (colon)
		*colon = '\0';
	if (!ref.tag && !ref.digest) {
		_cleanup_free_ char *fix = berth_xasprintf(
		    "pin a version: `FROM %s:<version>` (or `%s@sha256:<digest>`)", name, name);
		berth__lint_report(L, "DL3006", true, st->line, st->line, fix,
				   "always tag the version of an image explicitly: '%s' has no tag",
				   st->base);
	} else if (ref.tag && !strcmp(ref.tag, "latest") && !ref.digest) {
		_cleanup_free_ char *fix =
		    berth_xasprintf("pin a version: `FROM %s:<version>`", name);
		berth__lint_report(L, "DL3007", true, st->line, st->line, fix,
				   "using latest is prone to errors if the image will ever update: "
				   "'%s'",
				   st->base);
	}
	berth_ref_release(&ref);
}

/* The SHELL in effect before instruction `upto` of stage s, or NULL. */
static const struct berth_df_instr *shell_in_effect(const struct berth_df_file *f, int s,
						    size_t upto)
{
	for (; s >= 0; s = f->stages[s].base_stage, upto = (size_t)-1) {
		const struct berth_df_stage *st = &f->stages[s];
		const struct berth_df_instr *last = NULL;
		for (size_t i = 0; i < st->n && i < upto; i++)
			if (st->instrs[i].kind == BERTH_DF_SHELL)
				last = &st->instrs[i];
		if (last)
			return last;
	}
	return NULL;
}

static bool args_pipefail(const struct berth_strv *a)
{
	for (size_t i = 1; i < a->n; i++) {
		const char *o = a->v[i - 1];
		if (!strcmp(a->v[i], "pipefail") && o[0] == '-' && o[strlen(o) - 1] == 'o')
			return true;
	}
	return false;
}

static void run_commands(struct berth__lint *L, int s, size_t i)
{
	const struct berth_df_instr *in = &L->file->stages[s].instrs[i];
	const struct berth__sh_script *sc = berth__lint_script(L, (size_t)s, i);
	bool cd = false, sudo = false, relink = false;
	for (size_t k = 0; k < sc->n; k++) {
		const struct berth__sh_cmd *c = &sc->cmds[k];
		const char *a0 = berth__sh_basename(c->argv.v[0]);
		if (!cd && !strcmp(a0, "cd")) {
			cd = true;
			const char *dir = c->argv.n > 1 ? c->argv.v[1] : "/app";
			_cleanup_free_ char *fix =
			    berth_xasprintf("use `WORKDIR %s` instead of `RUN cd %s`", dir, dir);
			berth__lint_report(L, "DL3003", true, c->line, c->line, fix,
					   "use WORKDIR to switch to a directory: `cd` lasts only "
					   "until the end of this RUN");
		}
		if (!sudo && c->sudo) {
			sudo = true;
			berth__lint_report(
			    L, "DL3004", true, c->line, c->line,
			    "drop sudo: RUN runs as the stage's USER; use `USER root` "
			    "before the steps that need it",
			    "do not use sudo: it has unpredictable TTY and signal "
			    "behaviour and is not needed in a build");
		}
		if (!relink && !strcmp(a0, "ln") && c->argv.n > 2 &&
		    !strcmp(c->argv.v[c->argv.n - 1], "/bin/sh")) {
			relink = true;
			_cleanup_free_ char *fix = berth_xasprintf(
			    "use `SHELL [\"%s\", \"-c\"]` instead of relinking /bin/sh",
			    c->argv.v[c->argv.n - 2]);
			berth__lint_report(L, "DL4005", true, c->line, c->line, fix,
					   "use SHELL to change the default shell");
		}
	}
	if (in->json || !sc->has_pipe || sc->pipefail)
		return;
	const struct berth_df_instr *sh = shell_in_effect(L->file, s, i);
	if (sh && sh->args.n) {
		const char *b = berth__sh_basename(sh->args.v[0]);
		if (!berth__sh_is_shell(b) || args_pipefail(&sh->args))
			return; /* pwsh, cmd: no pipefail; or it is set */
	}
	berth__lint_report(
	    L, "DL4006", true, in->line, in->end_line,
	    "put `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before this RUN "
	    "(or start the command with `set -o pipefail &&` in a shell that has it)",
	    "set the SHELL option -o pipefail before RUN with a pipe in it: a failing "
	    "command before '|' does not fail the build");
}

/* Does the script install one of the declared install-last packages? */
static bool installs_last(const struct berth__lint *L, const struct berth__sh_script *sc)
{
	for (size_t k = 0; k < sc->n; k++) {
		struct berth__install in;
		if (!berth__install_parse(&sc->cmds[k], &in))
			continue;
		bool hit = false;
		for (size_t p = 0; p < in.pkgs.n && !hit; p++) {
			_cleanup_free_ char *name = berth__install_name(in.pm, in.pkgs.v[p]);
			for (size_t d = 0; d < L->cfg.install_last.n && !hit; d++) {
				_cleanup_free_ char *want =
				    berth__install_name(in.pm, L->cfg.install_last.v[d]);
				hit = !strcmp(name, want);
			}
		}
		berth__install_release(&in);
		if (hit)
			return true;
	}
	return false;
}

/* Two RUNs in a row that could be one: not when flags differ, a comment
 * explains the split, or the second is the declared install-last step. */
static void consecutive_runs(struct berth__lint *L, size_t s)
{
	const struct berth_df_stage *st = &L->file->stages[s];
	for (size_t i = 1; i < st->n; i++) {
		const struct berth_df_instr *a = &st->instrs[i - 1], *b = &st->instrs[i];
		if (a->kind != BERTH_DF_RUN || b->kind != BERTH_DF_RUN)
			continue;
		if (a->node->flags.n || b->node->flags.n || b->node->comments.n ||
		    installs_last(L, berth__lint_script(L, s, i)))
			continue;
		berth__lint_report(L, "DL3059", true, b->line, b->end_line,
				   "join them with `&&` into one RUN, or say in a comment above "
				   "this RUN why it is separate",
				   "multiple consecutive RUN instructions (lines %d and %d): "
				   "consider consolidation",
				   a->line, b->line);
	}
}

static bool is_tar_name(const char *s)
{
	static const char *const ext[] = {".tar",     ".tar.gz", ".tgz",   ".tar.bz2", ".tbz2",
					  ".tbz",     ".tar.xz", ".txz",   ".tar.zst", ".tzst",
					  ".tar.lz4", ".tar.lz", ".tar.Z", NULL};
	size_t n = strlen(s);
	for (const char *const *e = ext; *e; e++) {
		size_t m = strlen(*e);
		if (n >= m && !strcasecmp(s + n - m, *e))
			return true;
	}
	return false;
}

static void add_local(struct berth__lint *L, const struct berth_df_instr *in)
{
	if (in->node->nheredocs || in->args.n == 0)
		return;
	for (size_t i = 0; i < in->args.n; i++) {
		const char *src = in->args.v[i];
		if (strstr(src, "://") || !strncmp(src, "git@", 4) || is_tar_name(src) ||
		    strchr(src, '$'))
			return;
	}
	/* The arguments as written, after the keyword. */
	struct berth_sv k = berth__lint_keyword(in->node);
	const char *rest = k.p + k.len;
	while (isspace((unsigned char)*rest))
		rest++;
	_cleanup_free_ char *fix = berth_xasprintf("write `COPY %s`", rest);
	berth__lint_report(L, "DL3020", true, in->line, in->end_line, fix,
			   "use COPY instead of ADD for files and folders: ADD is for URLs and "
			   "tar archives");
}

static bool workdir_set(const struct berth_df_file *f, int s, size_t upto)
{
	for (; s >= 0; s = f->stages[s].base_stage, upto = (size_t)-1) {
		const struct berth_df_stage *st = &f->stages[s];
		for (size_t i = 0; i < st->n && i < upto; i++)
			if (st->instrs[i].kind == BERTH_DF_WORKDIR)
				return true;
	}
	return false;
}

static void copy_relative(struct berth__lint *L, int s, size_t i)
{
	const struct berth_df_instr *in = &L->file->stages[s].instrs[i];
	const struct berth_df_node *n = in->node;
	if (!in->resolved || n->args.n == 0)
		return;
	const char *raw = n->args.v[n->args.n - 1];
	const char *dest = in->resolved;
	if (dest[0] == '/' || raw[0] == '$' || (isalpha((unsigned char)dest[0]) && dest[1] == ':'))
		return;
	if (workdir_set(L->file, s, i))
		return;
	_cleanup_free_ char *fix =
	    berth_xasprintf("set `WORKDIR /app` before it, or copy to an absolute path (`/app/%s`)",
			    strcmp(dest, ".") && strcmp(dest, "./") ? dest : "");
	berth__lint_report(L, "DL3045", true, in->line, in->end_line, fix,
			   "COPY to a relative destination '%s' without WORKDIR set: it lands "
			   "wherever the base image's working directory is",
			   dest);
}

static bool port_ok(const char *s, size_t n)
{
	if (n == 0 || n > 5)
		return false;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535;
}

static void expose_range(struct berth__lint *L, const struct berth_df_instr *in)
{
	for (size_t i = 0; i < in->args.n; i++) {
		const char *p = in->args.v[i];
		if (strchr(p, ':') || strchr(p, '$'))
			continue;
		size_t n = strcspn(p, "/");
		size_t dash = strcspn(p, "-");
		bool ok = dash < n ? port_ok(p, dash) && port_ok(p + dash + 1, n - dash - 1)
				   : port_ok(p, n);
		if (!ok)
			berth__lint_report(L, "DL3011", true, in->line, in->end_line,
					   "use a port number from 0 to 65535",
					   "valid UNIX ports range from 0 to 65535: '%s'", p);
	}
}

static void last_user(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	const struct berth_df_instr *last = NULL;
	/* The chain from the root stage to the target, in build order. */
	for (size_t s = 0; s < f->n; s++) {
		if (!L->in_final[s])
			continue;
		for (size_t i = 0; i < f->stages[s].n; i++)
			if (f->stages[s].instrs[i].kind == BERTH_DF_USER)
				last = &f->stages[s].instrs[i];
	}
	if (!last || last->args.n == 0)
		return;
	const char *u = last->args.v[0];
	size_t n = strcspn(u, ":");
	if ((n == 4 && !strncmp(u, "root", 4)) || (n == 1 && u[0] == '0'))
		berth__lint_report(L, "DL3002", true, last->line, last->end_line,
				   "add `USER app` (a user made with `useradd --create-home app`) "
				   "after the steps that need root",
				   "last USER should not be root: the app runs as root");
}

void berth__lint_instructions(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	for (size_t s = 0; s < f->n; s++) {
		const struct berth_df_stage *st = &f->stages[s];
		from_tags(L, st);
		consecutive_runs(L, s);
		for (size_t i = 0; i < st->n; i++) {
			const struct berth_df_instr *in = &st->instrs[i];
			switch (in->kind) {
			case BERTH_DF_RUN:
				run_commands(L, (int)s, i);
				break;
			case BERTH_DF_ADD:
				add_local(L, in);
				break;
			case BERTH_DF_COPY:
				copy_relative(L, (int)s, i);
				break;
			case BERTH_DF_EXPOSE:
				expose_range(L, in);
				break;
			default:
				break;
			}
		}
	}
	last_user(L);
}
