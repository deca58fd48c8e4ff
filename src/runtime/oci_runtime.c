/* Finding the OCI runtime binary: crun when installed (fastest start), else
 * runc; a name or path picks any OCI runtime (runsc, youki, ...). */
#include "runtime/runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first executable `name` on $PATH, or NULL. */
static char *path_lookup(const char *name)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path; *p;) {
		const char *colon = strchrnul(p, ':');
		if (colon > p) {
			char *cand = berth_xasprintf("%.*s/%s", (int)(colon - p), p, name);
			if (access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		p = *colon ? colon + 1 : colon;
	}
	return NULL;
}

static int found(struct berth_oci_runtime *out, char *path)
{
	const char *slash = strrchr(path, '/');
	out->path = path;
	out->name = berth_xstrdup(slash ? slash + 1 : path);
	return 0;
}

int berth_oci_runtime_find(const char *want, struct berth_oci_runtime *out, struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (!want || !*want)
		want = getenv("BERTH_RUNTIME");
	if (want && *want) {
		if (strchr(want, '/')) {
			if (access(want, X_OK) < 0)
				return berth_err_sys(err, errno, "runtime '%s'", want);
			char *abs = realpath(want, NULL);
			if (!abs)
				return berth_err_sys(err, errno, "runtime '%s'", want);
			return found(out, abs);
		}
		char *p = path_lookup(want);
		if (!p)
			return berth_err_set(err, BERTH_E_NOT_FOUND,
					     "runtime '%s': not found on PATH; install it or give "
					     "its path to --runtime",
					     want);
		return found(out, p);
	}
	static const char *const preferred[] = {"crun", "runc"};
	for (size_t i = 0; i < sizeof(preferred) / sizeof(preferred[0]); i++) {
		char *p = path_lookup(preferred[i]);
		if (p)
			return found(out, p);
	}
	return berth_err_set(err, BERTH_E_NOT_FOUND,
			     "no OCI runtime: neither crun nor runc is on PATH; install one "
			     "(apt-get install crun) or name one with --runtime");
}

void berth_oci_runtime_release(struct berth_oci_runtime *rt)
{
	free(rt->path);
	free(rt->name);
	memset(rt, 0, sizeof(*rt));
}
