/* berth's own rules, from the seed's container checklist, where they apply
 * to berth: an SDK app needs a python3 on PATH (berth runs `python3 -m
 * berth.runner`), a GPU app needs CUDA's variables or a CUDA base image, and
 * packages the app declares "install last" must come after every other
 * install of their package manager. All look at the stages the target
 * builds on. What they cannot see (a script file, an image's contents) they
 * say they are unsure about. */
#include "lint/lint_int.h"
#include "image/image.h"

#include <ctype.h>
#include <strings.h>

/* The root stage of the target's chain (its FROM is an image). */
static const struct berth_df_stage *root_stage(const struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	int s = f->target;
	while (f->stages[s].base_stage >= 0)
		s = f->stages[s].base_stage;
	return &f->stages[s];
}

/* The repository path ("library/python", "nvidia/cuda") and tag of an image
 * name, lower-case; false when it does not parse. */
static bool split_ref(const char *image, char **path, char **tag)
{
	struct berth_ref ref;
	if (berth_ref_parse(image, &ref, NULL) < 0)
		return false;
	*path = berth_xasprintf("%s/%s", ref.domain, ref.path);
	*tag = berth_xstrdup(ref.tag ? ref.tag : "");
	berth_ref_release(&ref);
	return true;
}

static bool path_ends(const char *path, const char *name)
{
	size_t a = strlen(path), b = strlen(name);
	return a >= b && !strcmp(path + a - b, name) && (a == b || path[a - b - 1] == '/');
}

enum py_base { PY_YES, PY_NO, PY_UNKNOWN };
enum distro { D_DEBIAN, D_ALPINE, D_RPM, D_NONE };

/* What the base image is known to hold, from its name alone. */
static enum py_base python_in_base(const char *image, enum distro *d)
{
	static const char *const with_python[] = {"library/python",
						  "library/pypy",
						  "falai/base",
						  "pytorch/pytorch",
						  "tensorflow/tensorflow",
						  "continuumio/miniconda3",
						  "continuumio/anaconda3",
						  "condaforge/miniforge3",
						  "condaforge/mambaforge",
						  "nvidia/pytorch",
						  "nvidia/tensorflow",
						  "rayproject/ray",
						  "apache/airflow",
						  NULL};
	static const char *const debian[] = {"library/debian", "library/ubuntu", "nvidia/cuda",
					     "library/buildpack-deps", NULL};
	static const char *const rpm[] = {"library/fedora",
					  "library/centos",
					  "library/rockylinux",
					  "library/almalinux",
					  "library/amazonlinux",
					  "ubi8/ubi",
					  "ubi9/ubi",
					  "ubi8/ubi-minimal",
					  "ubi9/ubi-minimal",
					  NULL};
	*d = D_DEBIAN;
	if (!strcmp(image, "scratch")) {
		*d = D_NONE;
		return PY_NO;
	}
	_cleanup_free_ char *path = NULL, *tag = NULL;
	if (!split_ref(image, &path, &tag))
		return PY_UNKNOWN;
	for (const char *const *p = with_python; *p; p++)
		if (path_ends(path, *p))
			return PY_YES;
	const char *last = strrchr(path, '/') + 1;
	if (strstr(last, "python") || strstr(tag, "python"))
		return PY_YES;
	for (const char *const *p = debian; *p; p++)
		if (path_ends(path, *p))
			return PY_NO;
	for (const char *const *p = rpm; *p; p++)
		if (path_ends(path, *p)) {
			*d = D_RPM;
			return PY_NO;
		}
	if (path_ends(path, "library/alpine")) {
		*d = D_ALPINE;
		return PY_NO;
	}
	if (path_ends(path, "library/busybox") || strstr(path, "distroless/static") ||
	    strstr(path, "distroless/base") || strstr(path, "distroless/cc")) {
		*d = D_NONE;
		return PY_NO;
	}
	return PY_UNKNOWN;
}

/* "python3.11" -> true (a versioned interpreter without `python3`). */
static bool versioned_python(const char *name)
{
	if (strncmp(name, "python3.", 8) || !isdigit((unsigned char)name[8]))
		return false;
	const char *p = name + 8;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0' || *p == '-'; /* python3.11, python3.11-venv */
}

struct py_evidence {
	bool yes;        /* something provides python3 */
	int yes_line;    /* where */
	char *versioned; /* "python3.11" installed, or NULL */
	int versioned_line;
	bool opaque; /* a step we cannot see into */
};

static void note_package(struct py_evidence *ev, enum berth__pm pm, const char *name, int line)
{
	bool yes = false;
	if (versioned_python(name)) {
		if (!ev->versioned) {
			ev->versioned = berth_xstrndup(name, strcspn(name, "-"));
			ev->versioned_line = line;
		}
		return;
	}
	switch (pm) {
	case BERTH__PM_APT_GET:
	case BERTH__PM_DNF:
		/* python3-* packages (python3-pip, python3-pil) depend on python3 */
		yes = !strcmp(name, "python3") || !strncmp(name, "python3-", 8) ||
		      !strcmp(name, "python-is-python3");
		break;
	case BERTH__PM_APK:
		yes = !strcmp(name, "python3") || !strncmp(name, "py3-", 4);
		break;
	case BERTH__PM_CONDA:
		yes = !strcmp(name, "python");
		break;
	default:
		break;
	}
	if (yes && !ev->yes) {
		ev->yes = true;
		ev->yes_line = line;
	}
}

static void note_command(struct py_evidence *ev, const struct berth__sh_cmd *c)
{
	const struct berth_strv *a = &c->argv;
	const char *a0 = berth__sh_basename(a->v[0]);
	/* The build runs these, so python3 exists when they run. */
	if (!strcmp(a0, "python3") || !strcmp(a0, "pip3")) {
		if (!ev->yes) {
			ev->yes = true;
			ev->yes_line = c->line;
		}
		return;
	}
	if (!strcmp(a0, "ln") && a->n > 2 &&
	    !strcmp(berth__sh_basename(a->v[a->n - 1]), "python3")) {
		if (!ev->yes) {
			ev->yes = true;
			ev->yes_line = c->line;
		}
		return;
	}
	struct berth__install in;
	if (!berth__install_parse(c, &in))
		return;
	for (size_t i = 0; i < in.pkgs.n; i++) {
		_cleanup_free_ char *name = berth__install_name(in.pm, in.pkgs.v[i]);
		note_package(ev, in.pm, name, c->line);
	}
	berth__install_release(&in);
}

static void python_missing(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	const struct berth_df_stage *target = berth__lint_target(L);
	const struct berth_df_stage *root = root_stage(L);
	struct py_evidence ev = {0};
	for (size_t s = 0; s < f->n; s++) {
		if (!L->in_final[s])
			continue;
		const struct berth_df_stage *st = &f->stages[s];
		for (size_t i = 0; i < st->n; i++) {
			const struct berth_df_instr *in = &st->instrs[i];
			if (in->kind == BERTH_DF_COPY && in->from && in->from_stage < 0 &&
			    strstr(in->from, "python") && !ev.yes) {
				ev.yes = true; /* COPY --from=python:3.11-slim ... */
				ev.yes_line = in->line;
			}
			if (in->kind == BERTH_DF_COPY && in->from)
				for (size_t k = 0; k < in->args.n && !ev.yes; k++)
					if (strstr(in->args.v[k], "python3")) {
						ev.yes = true;
						ev.yes_line = in->line;
					}
			const struct berth__sh_script *sc = berth__lint_script(L, s, i);
			if (!sc)
				continue;
			ev.opaque |= sc->opaque;
			for (size_t k = 0; k < sc->n; k++)
				note_command(&ev, &sc->cmds[k]);
		}
	}
	enum distro d;
	enum py_base base = python_in_base(root->base, &d);
	if (ev.yes || base == PY_YES)
		goto out;
	if (ev.versioned) {
		_cleanup_free_ char *fix = berth_xasprintf(
		    "add `RUN ln -sf /usr/bin/%s /usr/bin/python3 && ln -sf /usr/bin/%s "
		    "/usr/bin/python`",
		    ev.versioned, ev.versioned);
		berth__lint_report(
		    L, "berth/python-missing", false, ev.versioned_line, ev.versioned_line, fix,
		    "%s is installed but nothing provides `python3`, which berth runs "
		    "SDK apps with (`python3 -m berth.runner`)",
		    ev.versioned);
		goto out;
	}
	if (base == PY_UNKNOWN) {
		berth__lint_report(
		    L, "berth/python-missing", false, target->line, target->line,
		    "make sure `python3` is on PATH in the image: install it in a "
		    "RUN, or check with `berth container run IMAGE python3 --version`",
		    "cannot tell whether '%s' has python3, and no step installs it; "
		    "berth runs SDK apps with `python3 -m berth.runner`",
		    root->base);
		goto out;
	}
	static const char *const fixes[] = {
	    [D_DEBIAN] =
		"install it: `RUN apt-get update && apt-get install -y "
		"--no-install-recommends python3=<version> && rm -rf /var/lib/apt/lists/*`",
	    [D_ALPINE] = "install it: `RUN apk add --no-cache python3=<version>`",
	    [D_RPM] = "install it: `RUN dnf install -y python3 && dnf clean all`",
	    [D_NONE] = "start FROM an image with python3 (e.g. python:3.12-slim), or COPY a "
		       "python3 in from one",
	};
	berth__lint_report(
	    L, "berth/python-missing", !ev.opaque, target->line, target->line, fixes[d],
	    "no python3 in the final image: '%s' has none and no step installs "
	    "it%s; berth runs SDK apps with `python3 -m berth.runner`",
	    root->base, ev.opaque ? " (a script this file runs might: check it)" : "");
out:
	free(ev.versioned);
}

static bool is_cuda_image(const char *image)
{
	_cleanup_free_ char *path = NULL, *tag = NULL;
	if (!split_ref(image, &path, &tag))
		return false;
	/* falai/base:3.11-12.1.0 is python 3.11 on CUDA 12.1 (the seed). */
	return strstr(path, "cuda") || strstr(tag, "cuda") || strstr(path, "nvcr.io/nvidia/") ||
	       path_ends(path, "falai/base") || !strncmp(tag, "cu1", 3) || strstr(tag, "-cu1");
}

static bool env_has(const struct berth_strv *env, const char *key)
{
	return berth_env_get(env, key, strlen(key)) != NULL;
}

static bool env_has_nvidia(const struct berth_strv *env)
{
	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], "NVIDIA_", 7))
			return true;
	return false;
}

static void cuda_env(struct berth__lint *L)
{
	const struct berth_df_stage *target = berth__lint_target(L);
	const struct berth_df_stage *root = root_stage(L);
	if (is_cuda_image(root->base))
		return;
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	berth_strv_copy(&env, &target->env);
	if (L->opt->base_env && !root->scratch)
		L->opt->base_env(L->opt->base_env_ctx, root->base, &env);
	if (env_has_nvidia(&env))
		return;
	bool home = env_has(&env, "CUDA_HOME"), libs = env_has(&env, "LD_LIBRARY_PATH");
	if (home && libs)
		return;
	const char *missing = home   ? "LD_LIBRARY_PATH is"
			      : libs ? "CUDA_HOME is"
				     : "CUDA_HOME and LD_LIBRARY_PATH are";
	berth__lint_report(L, "berth/cuda-env", true, target->line, target->line,
			   "set `ENV CUDA_HOME=/usr/local/cuda`, `ENV PATH=$CUDA_HOME/bin:$PATH` "
			   "and `ENV LD_LIBRARY_PATH=$CUDA_HOME/lib64:$LD_LIBRARY_PATH`, or start "
			   "FROM a CUDA image (nvidia/cuda:<version>-runtime-<os>)",
			   "the app asks for GPUs but '%s' is not a CUDA image and %s not set: "
			   "it may fail with \"No CUDA GPUs are available\"",
			   root->base, missing);
}

/* pip and conda install Python packages into the same place; the other
 * managers are each their own family. */
static int family(enum berth__pm pm)
{
	return pm == BERTH__PM_CONDA ? BERTH__PM_PIP : (int)pm;
}

/* Only pip, setuptools and wheel: a tool upgrade, not an install step. */
static bool tooling_only(const struct berth__install *in)
{
	if (in->from_files || in->pkgs.n == 0)
		return false;
	for (size_t i = 0; i < in->pkgs.n; i++) {
		_cleanup_free_ char *n = berth__install_name(in->pm, in->pkgs.v[i]);
		if (strcmp(n, "pip") && strcmp(n, "setuptools") && strcmp(n, "wheel"))
			return false;
	}
	return true;
}

struct install_step {
	int family;
	int line;
	struct berth_strv names; /* normalised package names */
	bool tooling;
};

static void install_last(struct berth__lint *L)
{
	const struct berth_df_file *f = L->file;
	struct install_step *steps = NULL;
	size_t n = 0, cap = 0;
	for (size_t s = 0; s < f->n; s++) {
		if (!L->in_final[s])
			continue;
		for (size_t i = 0; i < f->stages[s].n; i++) {
			const struct berth__sh_script *sc = berth__lint_script(L, s, i);
			for (size_t k = 0; sc && k < sc->n; k++) {
				struct berth__install in;
				if (!berth__install_parse(&sc->cmds[k], &in))
					continue;
				if (!in.update) {
					steps = berth_xgrow(steps, sizeof(*steps), n + 1, &cap);
					struct install_step *st = &steps[n++];
					memset(st, 0, sizeof(*st));
					st->family = family(in.pm);
					st->line = sc->cmds[k].line;
					st->tooling = tooling_only(&in);
					for (size_t p = 0; p < in.pkgs.n; p++)
						berth_strv_push_owned(
						    &st->names,
						    berth__install_name(in.pm, in.pkgs.v[p]));
				}
				berth__install_release(&in);
			}
		}
	}
	const struct berth_df_stage *target = berth__lint_target(L);
	for (size_t d = 0; d < L->cfg.install_last.n; d++) {
		const char *decl = L->cfg.install_last.v[d];
		_cleanup_free_ char *want = berth__install_name(BERTH__PM_PIP, decl);
		_cleanup_free_ char *want_raw = berth__install_name(BERTH__PM_APT_GET, decl);
		ssize_t last = -1;
		for (size_t k = 0; k < n; k++)
			if (berth_strv_contains(&steps[k].names, want) ||
			    berth_strv_contains(&steps[k].names, want_raw))
				last = (ssize_t)k;
		if (last < 0) {
			_cleanup_free_ char *fix = berth_xasprintf(
			    "add it as the last install step: `RUN pip install --no-cache-dir %s`",
			    decl);
			berth__lint_report(L, "berth/install-last", true, target->line,
					   target->line, fix,
					   "'%s' is declared install-last but no step in the final "
					   "image installs it",
					   decl);
			continue;
		}
		for (size_t k = (size_t)last + 1; k < n; k++) {
			if (steps[k].family != steps[last].family || steps[k].tooling)
				continue;
			_cleanup_free_ char *fix = berth_xasprintf(
			    "move '%s' into a final install step after line %d (with the other "
			    "install-last packages)",
			    decl, steps[k].line);
			berth__lint_report(
			    L, "berth/install-last", true, steps[last].line, steps[last].line, fix,
			    "'%s' must be installed last, but the install at line %d "
			    "comes after it and may replace its version",
			    decl, steps[k].line);
			break;
		}
	}
	for (size_t k = 0; k < n; k++)
		berth_strv_release(&steps[k].names);
	free(steps);
}

void berth__lint_berth(struct berth__lint *L)
{
	if (L->opt->sdk_app)
		python_missing(L);
	if (L->opt->gpu_app)
		cuda_env(L);
	if (L->cfg.install_last.n)
		install_last(L);
}
