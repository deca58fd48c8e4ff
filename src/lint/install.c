/* Package installs read from simple commands: apt-get/apt, apk, dnf/yum,
 * pip (pip3, python -m pip, uv pip), npm, conda. Each manager's options
 * that take a value are known, so a value is never taken for a package. */
#include "lint/lint_int.h"

#include <ctype.h>
#include <strings.h>

void berth__install_release(struct berth__install *in)
{
	berth_strv_release(&in->pkgs);
	memset(in, 0, sizeof(*in));
}

static bool in_list(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(w, *list))
			return true;
	return false;
}

/* "pip", "pip3", "pip3.11". */
static bool is_pip(const char *b)
{
	if (strncmp(b, "pip", 3))
		return false;
	for (b += 3; *b; b++)
		if (!isdigit((unsigned char)*b) && *b != '.')
			return false;
	return true;
}

/* "python", "python3", "python3.11". */
static bool is_python(const char *b)
{
	if (strncmp(b, "python", 6))
		return false;
	for (b += 6; *b; b++)
		if (!isdigit((unsigned char)*b) && *b != '.')
			return false;
	return true;
}

/* A short-option cluster ("-qy") holding the letter c. */
static bool cluster_has(const char *w, char c)
{
	return w[0] == '-' && w[1] != '-' && strchr(w + 1, c);
}

static void parse_apt(const struct berth_strv *a, size_t i, struct berth__install *o)
{
	static const char *const with_value[] = {
	    "-o", "-c", "-t", "--option", "--config-file", "--target-release", "--default-release",
	    NULL};
	const char *sub = NULL;
	for (; i < a->n; i++) {
		const char *w = a->v[i];
		if (w[0] == '-') {
			if (in_list(w, with_value) && i + 1 < a->n) {
				const char *v = a->v[++i];
				if (!strcmp(w, "-o") || !strcmp(w, "--option")) {
					if (!strncasecmp(v, "APT::Install-Recommends=", 24))
						o->no_recommends |= strchr("0fFnN", v[24]) != NULL;
					if (!strncasecmp(v, "APT::Get::Assume-Yes=", 21))
						o->yes |= strchr("1tTyY", v[21]) != NULL;
				}
				continue;
			}
			if (!strcmp(w, "--no-install-recommends"))
				o->no_recommends = true;
			else if (!strcmp(w, "--yes") || !strcmp(w, "--assume-yes") ||
				 !strcmp(w, "-qq") || !strcmp(w, "-q=2") ||
				 !strcmp(w, "--quiet=2") || cluster_has(w, 'y'))
				o->yes = true;
			continue;
		}
		if (!sub) {
			sub = w;
			continue;
		}
		berth_strv_push(&o->pkgs, w);
	}
	o->update = sub && !strcmp(sub, "update");
	if (!sub || (strcmp(sub, "install") && !o->update)) {
		berth_strv_release(&o->pkgs);
		o->tool = NULL;
	}
}

static void parse_apk(const struct berth_strv *a, size_t i, struct berth__install *o)
{
	static const char *const with_value[] = {
	    "-X",     "--repository", "-t",          "--virtual",  "-p",
	    "--root", "--arch",       "--cache-dir", "--keys-dir", NULL};
	const char *sub = NULL;
	for (; i < a->n; i++) {
		const char *w = a->v[i];
		if (w[0] == '-') {
			if (in_list(w, with_value))
				i++;
			else if (!strcmp(w, "--no-cache"))
				o->no_cache = true;
			continue;
		}
		if (!sub)
			sub = w;
		else
			berth_strv_push(&o->pkgs, w);
	}
	o->update = sub && !strcmp(sub, "update");
	if (!sub || (strcmp(sub, "add") && !o->update)) {
		berth_strv_release(&o->pkgs);
		o->tool = NULL;
	}
}

static void parse_dnf(const struct berth_strv *a, size_t i, struct berth__install *o)
{
	static const char *const with_value[] = {
	    "--setopt",      "--enablerepo", "--disablerepo", "--releasever",
	    "--installroot", "-c",           "--config",      NULL};
	const char *sub = NULL;
	for (; i < a->n; i++) {
		const char *w = a->v[i];
		if (w[0] == '-') {
			if (in_list(w, with_value))
				i++;
			else if (!strcmp(w, "-y") || !strcmp(w, "--assumeyes"))
				o->yes = true;
			continue;
		}
		if (!sub)
			sub = w;
		else
			berth_strv_push(&o->pkgs, w);
	}
	if (!sub || strcmp(sub, "install")) {
		berth_strv_release(&o->pkgs);
		o->tool = NULL;
	}
}

static void parse_pip(const struct berth_strv *a, size_t i, struct berth__install *o)
{
	static const char *const with_value[] = {"-i",
						 "--index-url",
						 "--extra-index-url",
						 "-f",
						 "--find-links",
						 "-t",
						 "--target",
						 "--prefix",
						 "--root",
						 "--src",
						 "--platform",
						 "--python-version",
						 "--implementation",
						 "--abi",
						 "--progress-bar",
						 "--trusted-host",
						 "--cache-dir",
						 "--log",
						 "--proxy",
						 "--retries",
						 "--timeout",
						 "--exists-action",
						 "--cert",
						 "--client-cert",
						 "--global-option",
						 "-C",
						 "--config-settings",
						 "--upgrade-strategy",
						 "--only-binary",
						 "--no-binary",
						 "--report",
						 "--python",
						 "-p",
						 "--constraint",
						 "--index-strategy",
						 "--python-platform",
						 NULL};
	static const char *const files[] = {"-r", "--requirement", "-c", "-e", "--editable", NULL};
	const char *sub = NULL;
	for (; i < a->n; i++) {
		const char *w = a->v[i];
		if (w[0] == '-' && w[1]) {
			if (in_list(w, files)) {
				o->from_files = true;
				i++;
			} else if (!strncmp(w, "--requirement=", 14) ||
				   !strncmp(w, "--editable=", 11) || !strncmp(w, "-r", 2) ||
				   !strncmp(w, "-e", 2)) {
				o->from_files = true;
			} else if (in_list(w, with_value)) {
				i++;
			} else if (!strcmp(w, "--no-cache-dir") || !strcmp(w, "--no-cache")) {
				o->no_cache = true;
			} else if (!strcmp(w, "-U") || !strcmp(w, "--upgrade")) {
				o->upgrade = true;
			}
			continue;
		}
		if (!sub)
			sub = w;
		else
			berth_strv_push(&o->pkgs, w);
	}
	if (!sub || strcmp(sub, "install")) {
		berth_strv_release(&o->pkgs);
		o->tool = NULL;
	}
}

static void parse_npm(const struct berth_strv *a, size_t i, struct berth__install *o)
{
	static const char *const subs[] = {"install", "i", "add", "isntall", NULL};
	static const char *const with_value[] = {"--prefix",    "--registry", "--cache", "-w",
						 "--workspace", "--tag",      NULL};
	const char *sub = NULL;
	for (; i < a->n; i++) {
		const char *w = a->v[i];
		if (w[0] == '-') {
			if (in_list(w, with_value))
				i++;
			continue;
		}
		if (!sub)
			sub = w;
		else
			berth_strv_push(&o->pkgs, w);
	}
	if (!sub || !in_list(sub, subs)) {
		berth_strv_release(&o->pkgs);
		o->tool = NULL;
		return;
	}
	o->from_files = o->pkgs.n == 0; /* package.json */
}

static void parse_conda(const struct berth_strv *a, size_t i, struct berth__install *o)
{
	static const char *const with_value[] = {"-c", "--channel", "-n",     "--name",
						 "-p", "--prefix",  "--file", NULL};
	const char *sub = NULL;
	for (; i < a->n; i++) {
		const char *w = a->v[i];
		if (w[0] == '-') {
			if (!strcmp(w, "--file"))
				o->from_files = true;
			if (in_list(w, with_value))
				i++;
			else if (!strcmp(w, "-y") || !strcmp(w, "--yes"))
				o->yes = true;
			continue;
		}
		if (!sub)
			sub = w;
		else
			berth_strv_push(&o->pkgs, w);
	}
	if (!sub || strcmp(sub, "install")) {
		berth_strv_release(&o->pkgs);
		o->tool = NULL;
	}
}

bool berth__install_parse(const struct berth__sh_cmd *cmd, struct berth__install *out)
{
	memset(out, 0, sizeof(*out));
	const struct berth_strv *a = &cmd->argv;
	if (a->n == 0)
		return false;
	const char *b = berth__sh_basename(a->v[0]);
	out->cmd = cmd;
	out->tool = b;
	if (!strcmp(b, "apt-get") || !strcmp(b, "apt")) {
		out->pm = BERTH__PM_APT_GET;
		parse_apt(a, 1, out);
	} else if (!strcmp(b, "apk")) {
		out->pm = BERTH__PM_APK;
		parse_apk(a, 1, out);
	} else if (!strcmp(b, "dnf") || !strcmp(b, "yum") || !strcmp(b, "microdnf")) {
		out->pm = BERTH__PM_DNF;
		parse_dnf(a, 1, out);
	} else if (is_pip(b)) {
		out->pm = BERTH__PM_PIP;
		parse_pip(a, 1, out);
	} else if (!strcmp(b, "uv") && a->n > 1 && !strcmp(a->v[1], "pip")) {
		out->pm = BERTH__PM_PIP;
		parse_pip(a, 2, out);
	} else if (is_python(b)) {
		/* python3 [-X opts] -m pip install ... */
		size_t i = 1;
		while (i < a->n && a->v[i][0] == '-' && strcmp(a->v[i], "-m"))
			i += (!strcmp(a->v[i], "-X") || !strcmp(a->v[i], "-W")) ? 2 : 1;
		if (i + 1 >= a->n || strcmp(a->v[i], "-m") || strcmp(a->v[i + 1], "pip"))
			return false;
		out->pm = BERTH__PM_PIP;
		parse_pip(a, i + 2, out);
	} else if (!strcmp(b, "npm")) {
		out->pm = BERTH__PM_NPM;
		parse_npm(a, 1, out);
	} else if (!strcmp(b, "conda") || !strcmp(b, "mamba") || !strcmp(b, "micromamba")) {
		out->pm = BERTH__PM_CONDA;
		parse_conda(a, 1, out);
	} else {
		out->tool = NULL;
	}
	if (!out->tool) {
		berth__install_release(out);
		return false;
	}
	return true;
}

char *berth__install_name(enum berth__pm pm, const char *pkg)
{
	size_t n;
	switch (pm) {
	case BERTH__PM_PIP:
		/* name[extras] (op) version ; markers, or name @ url */
		n = strcspn(pkg, "[=<>!~;@ ");
		break;
	case BERTH__PM_NPM:
		n = strcspn(pkg + (pkg[0] == '@'), "@") + (pkg[0] == '@');
		break;
	case BERTH__PM_CONDA:
		n = strcspn(pkg, "=<>! ");
		break;
	default: /* apt pkg=ver pkg/release; apk pkg=ver pkg~ver; dnf pkg-ver */
		n = strcspn(pkg, "=~/<>");
		break;
	}
	char *s = berth_xstrndup(pkg, n);
	for (char *c = s; *c; c++) {
		*c = (char)tolower((unsigned char)*c);
		if (pm == BERTH__PM_PIP && (*c == '_' || *c == '.'))
			*c = '-';
	}
	return s;
}

static bool is_url_or_path(const char *p)
{
	return strstr(p, "://") || !strncmp(p, "git+", 4) || p[0] == '/' || p[0] == '.' ||
	       p[0] == '~';
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcasecmp(s + a - b, suffix);
}

bool berth__install_pinned(enum berth__pm pm, const char *pkg, bool *unknown)
{
	*unknown = strchr(pkg, '$') != NULL;
	if (*unknown)
		return false;
	switch (pm) {
	case BERTH__PM_PIP: {
		if (is_url_or_path(pkg) || has_suffix(pkg, ".whl") || has_suffix(pkg, ".tar.gz") ||
		    has_suffix(pkg, ".zip"))
			return true;
		if (strchr(pkg, '@'))
			return true; /* name @ url */
		const char *eq = strstr(pkg, "==");
		/* Exactly one version: "==" with no wildcard and no other bound. */
		return eq && !strchr(eq, '*') && !strchr(pkg, ',') && !strpbrk(pkg, "<>!~");
	}
	case BERTH__PM_NPM: {
		if (is_url_or_path(pkg) || strchr(pkg, ':') || has_suffix(pkg, ".tgz"))
			return true;
		const char *at = strchr(pkg + (pkg[0] == '@'), '@');
		return at && at[1] && strcmp(at + 1, "latest") && strcmp(at + 1, "next");
	}
	case BERTH__PM_APT_GET:
		return strchr(pkg, '=') || has_suffix(pkg, ".deb") || is_url_or_path(pkg);
	case BERTH__PM_APK:
		return strchr(pkg, '=') || strchr(pkg, '~') || has_suffix(pkg, ".apk") ||
		       is_url_or_path(pkg);
	case BERTH__PM_DNF:
	case BERTH__PM_CONDA:
		return strchr(pkg, '=') != NULL || is_url_or_path(pkg);
	}
	return false;
}
