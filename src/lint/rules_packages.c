/* Package rules (hadolint): pinned versions for apt-get, apk, pip and npm
 * (berth/pinned is these: one rule per manager, no second id), apt-get's
 * -y and --no-install-recommends, apt instead of apt-get, and caches left
 * in the final image (apt lists, apk and pip caches). Cache rules look only
 * at stages the target builds on: a builder stage's cache never ships. */
#include "lint/lint_int.h"

#include <strings.h>

#define LIST_MAX 5 /* packages named in one message */

/* "a, b, c and 2 more" of the unpinned packages of `in`; NULL when all are
 * pinned (or cannot be judged). *first gets the first one. free(). */
static char *unpinned(const struct berth__install *in, const char **first)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	size_t n = 0;
	for (size_t i = 0; i < in->pkgs.n; i++) {
		bool unknown;
		if (berth__install_pinned(in->pm, in->pkgs.v[i], &unknown) || unknown)
			continue;
		if (n == 0)
			*first = in->pkgs.v[i];
		if (n < LIST_MAX)
			berth_buf_addf(&b, "%s%s", n ? ", " : "", in->pkgs.v[i]);
		n++;
	}
	if (n > LIST_MAX)
		berth_buf_addf(&b, " and %zu more", n - LIST_MAX);
	if (n == 0) {
		berth_buf_release(&b);
		return NULL;
	}
	return berth_buf_steal(&b, NULL);
}

/* A RUN --mount of type cache or tmpfs over `dir` (or a parent). */
static bool mounted_over(const struct berth_df_instr *in, const char *dir)
{
	for (size_t i = 0; i < in->nmounts; i++) {
		const struct berth_df_mount *m = &in->mounts[i];
		if ((m->type != BERTH_DF_MOUNT_CACHE && m->type != BERTH_DF_MOUNT_TMPFS) ||
		    !m->target)
			continue;
		size_t n = strlen(m->target);
		while (n > 1 && m->target[n - 1] == '/')
			n--;
		if (!strncmp(dir, m->target, n) && (dir[n] == '/' || dir[n] == '\0'))
			return true;
	}
	return false;
}

/* Does the script run `rm` on `dir` (or something under it)? */
static bool removes(const struct berth__sh_script *sc, const char *dir)
{
	size_t n = strlen(dir);
	for (size_t k = 0; k < sc->n; k++) {
		const struct berth_strv *a = &sc->cmds[k].argv;
		if (strcmp(berth__sh_basename(a->v[0]), "rm"))
			continue;
		for (size_t i = 1; i < a->n; i++)
			if (!strncmp(a->v[i], dir, n))
				return true;
	}
	return false;
}

/* Is PIP_NO_CACHE_DIR set (to anything) before instruction i of stage s? */
static bool pip_cache_off(const struct berth_df_file *f, int s, size_t upto)
{
	for (; s >= 0; s = f->stages[s].base_stage, upto = (size_t)-1) {
		const struct berth_df_stage *st = &f->stages[s];
		for (size_t i = 0; i < st->n && i < upto; i++) {
			const struct berth_df_instr *in = &st->instrs[i];
			if (in->kind != BERTH_DF_ENV && in->kind != BERTH_DF_ARG)
				continue;
			for (size_t k = 0; k < in->nkvs; k++)
				if (!strcmp(in->kvs[k].key, "PIP_NO_CACHE_DIR") &&
				    in->kvs[k].value && *in->kvs[k].value)
					return true;
		}
	}
	return false;
}

struct run_state {
	bool apt_seen, apt_reported;
	bool apk_seen;
	bool apt_tool_reported;
};

static void apt_rules(struct berth__lint *L, const struct berth__install *in, struct run_state *rs)
{
	int line = in->cmd->line;
	if (!strcmp(in->tool, "apt") && !rs->apt_tool_reported) {
		rs->apt_tool_reported = true;
		berth__lint_report(L, "DL3027", true, line, line,
				   "use `apt-get` (and `apt-cache` to search)",
				   "do not use apt: its command line is meant for people and may "
				   "change; use apt-get or apt-cache");
	}
	rs->apt_seen = true;
	if (in->update)
		return;
	const char *first = NULL;
	_cleanup_free_ char *list = unpinned(in, &first);
	if (list) {
		_cleanup_free_ char *fix = berth_xasprintf(
		    "write `%s=<version>` (`apt-cache policy %s` lists the versions)", first,
		    first);
		berth__lint_report(L, "DL3008", true, line, line, fix,
				   "pin versions in apt-get install: %s", list);
	}
	if (!in->yes)
		berth__lint_report(L, "DL3014", true, line, line, "write `apt-get install -y ...`",
				   "use the -y switch to avoid manual input: without it apt-get "
				   "asks, and the build has no one to answer");
	if (!in->no_recommends && in->pkgs.n)
		berth__lint_report(L, "DL3015", true, line, line,
				   "write `apt-get install -y --no-install-recommends ...`",
				   "avoid additional packages by specifying "
				   "--no-install-recommends");
}

static void pip_rules(struct berth__lint *L, int s, size_t i, const struct berth__install *in,
		      const struct berth_df_instr *run)
{
	int line = in->cmd->line;
	const char *first = NULL;
	_cleanup_free_ char *list = unpinned(in, &first);
	if (list) {
		_cleanup_free_ char *name = berth__install_name(in->pm, first);
		_cleanup_free_ char *fix = berth_xasprintf(
		    "write `%s==<version>` (`pip index versions %s` lists them), or install "
		    "from a requirements file with pinned versions",
		    name, name);
		bool range = strpbrk(list, "<>~!") != NULL;
		berth__lint_report(L, "DL3013", true, line, line, fix,
				   "pin versions in pip install: %s%s", list,
				   range ? " (a range is not a pin)" : "");
	}
	if (!L->in_final[s] || in->no_cache || pip_cache_off(L->file, s, i) ||
	    mounted_over(run, "/root/.cache/pip"))
		return;
	berth__lint_report(L, "DL3042", true, line, line,
			   "write `pip install --no-cache-dir ...` (uv: --no-cache), or set "
			   "`ENV PIP_NO_CACHE_DIR=1`",
			   "avoid keeping the pip cache in the image: pip install without "
			   "--no-cache-dir");
}

static void packages_in_run(struct berth__lint *L, int s, size_t i)
{
	const struct berth_df_instr *run = &L->file->stages[s].instrs[i];
	const struct berth__sh_script *sc = berth__lint_script(L, (size_t)s, i);
	struct run_state rs = {0};
	int apt_line = run->line, apk_line = run->line;
	for (size_t k = 0; k < sc->n; k++) {
		struct berth__install in;
		if (!berth__install_parse(&sc->cmds[k], &in))
			continue;
		const char *first = NULL;
		_cleanup_free_ char *list = NULL;
		switch (in.pm) {
		case BERTH__PM_APT_GET:
			if (!rs.apt_seen)
				apt_line = in.cmd->line;
			apt_rules(L, &in, &rs);
			break;
		case BERTH__PM_APK:
			if (in.update)
				break;
			if (!rs.apk_seen && !in.no_cache)
				apk_line = in.cmd->line;
			rs.apk_seen |= !in.no_cache;
			if ((list = unpinned(&in, &first))) {
				_cleanup_free_ char *fix = berth_xasprintf(
				    "write `%s=<version>` (`apk policy %s` lists the versions)",
				    first, first);
				berth__lint_report(L, "DL3018", true, in.cmd->line, in.cmd->line,
						   fix, "pin versions in apk add: %s", list);
			}
			break;
		case BERTH__PM_PIP:
			pip_rules(L, s, i, &in, run);
			break;
		case BERTH__PM_NPM:
			if ((list = unpinned(&in, &first))) {
				_cleanup_free_ char *name = berth__install_name(in.pm, first);
				_cleanup_free_ char *fix = berth_xasprintf(
				    "write `%s@<version>`, or `npm ci` with a lock file", name);
				berth__lint_report(L, "DL3016", true, in.cmd->line, in.cmd->line,
						   fix, "pin versions in npm install: %s", list);
			}
			break;
		default:
			break;
		}
		berth__install_release(&in);
	}
	if (!L->in_final[s])
		return;
	if (rs.apt_seen && !removes(sc, "/var/lib/apt/lists") &&
	    !mounted_over(run, "/var/lib/apt/lists"))
		berth__lint_report(L, "DL3009", true, apt_line, apt_line,
				   "end the same RUN with `&& rm -rf /var/lib/apt/lists/*`",
				   "apt lists not cleaned: they stay in the image's layer "
				   "(tens of MB)");
	if (rs.apk_seen && !removes(sc, "/var/cache/apk") && !mounted_over(run, "/var/cache/apk"))
		berth__lint_report(
		    L, "DL3019", true, apk_line, apk_line, "write `apk add --no-cache ...`",
		    "use the --no-cache switch to avoid keeping the apk index in the "
		    "image");
}

void berth__lint_packages(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	for (size_t s = 0; s < f->n; s++)
		for (size_t i = 0; i < f->stages[s].n; i++)
			if (f->stages[s].instrs[i].kind == BERTH_DF_RUN)
				packages_in_run(L, (int)s, i);
}
