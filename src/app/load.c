/* Loading an app named on the command line: a berth.yaml, a directory that
 * holds one, or a Python class read by the host's python3 with the SDK
 * (`python3 -m berth.spec FILE.py::Class` prints the spec as JSON). Also
 * where the SDK is. */
#include "app/app_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The lines of python's standard error kept in an error. */
#define SDK_ERROR_LINES 12
/* How the SDK reports a mistake in the app: exit status 2 and one line. */
#define SDK_USER_ERROR   2
#define SDK_ERROR_PREFIX "berth.spec: error: "

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A directory that holds the `berth` package. */
static bool has_sdk(const char *dir)
{
	_cleanup_free_ char *pkg = berth_xasprintf("%s/berth", dir);
	return is_dir(pkg);
}

char *berth_app_sdk_dir(struct berth_err **err)
{
	const char *env = getenv("BERTH_SDK_DIR");
	if (env && *env) {
		char *real = has_sdk(env) ? realpath(env, NULL) : NULL;
		if (!real)
			berth_err_set(err, BERTH_E_NOT_FOUND,
				      "BERTH_SDK_DIR '%s' holds no 'berth' package: point it at "
				      "the directory that holds berth/ (sdk/python in berth's "
				      "source tree)",
				      env);
		return real;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return berth_err_sys(err, errno, "find the python SDK: read '/proc/self/exe'"),
		       NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	/* A build tree (build/berth, build/san/berth, build/tests/...), then an
	 * installed prefix (<prefix>/bin/berth). */
	static const char *const rel[] = {"/../sdk/python", "/../../sdk/python",
					  "/../share/berth/sdk/python"};
	struct berth_buf looked;
	berth_buf_init(&looked, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(rel); i++) {
		_cleanup_free_ char *cand = berth_xasprintf("%s%s", exe, rel[i]);
		char *real = has_sdk(cand) ? realpath(cand, NULL) : NULL;
		if (real) {
			berth_buf_release(&looked);
			return real;
		}
		berth_buf_addf(&looked, "%s'%s'", i ? ", " : "", cand);
	}
	berth_err_set(err, BERTH_E_NOT_FOUND,
		      "the python SDK was not found (looked in %s): set BERTH_SDK_DIR to the "
		      "directory that holds the 'berth' package",
		      looked.data);
	berth_buf_release(&looked);
	return NULL;
}

/* `name` in $PATH (an executable regular file), or NULL. free(). */
static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		_cleanup_free_ char *cand = len ? berth_xasprintf("%.*s/%s", (int)len, p, name)
						: berth_xasprintf("./%s", name);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return steal_pointer(&cand);
		if (!end)
			return NULL;
		p = end;
	}
}

/* The last `max` lines of text; trailing line ends are cut off text. */
static const char *last_lines(char *text, size_t len, int max)
{
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	text[len] = '\0';
	size_t i = len;
	for (int lines = 0; i > 0; i--)
		if (text[i - 1] == '\n' && ++lines == max)
			break;
	return text + i;
}

/* The tail of what the child wrote to fd (a memfd), at most
 * BERTH_APP_SDK_STDERR_MAX bytes, into out. */
static void read_tail(int fd, struct berth_buf *out)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return;
	off_t start = st.st_size > (off_t)BERTH_APP_SDK_STDERR_MAX
			  ? st.st_size - (off_t)BERTH_APP_SDK_STDERR_MAX
			  : 0;
	char chunk[4096];
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), start);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		berth_buf_add(out, chunk, (size_t)n);
		start += n;
	}
}

/* What python said on success goes to the log: the SDK's notes (settings
 * berth ignores) as warnings, the app's own prints at import as debug. */
static void log_notes(struct berth_buf *se)
{
	char *save = NULL;
	for (char *line = strtok_r(se->data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "berth.spec: ", 12))
			berth_log_warn("%s", line);
		else if (*line)
			berth_log_debug("python3 -m berth.spec: %s", line);
	}
}

/* The environment for python: ours with sdk_dir in front of PYTHONPATH and
 * no .pyc files written next to the user's code or the SDK. */
static void python_env(const char *sdk_dir, struct berth_strv *env)
{
	for (char **e = environ; e && *e; e++)
		berth_strv_push(env, *e);
	const char *old = getenv("PYTHONPATH");
	_cleanup_free_ char *pp =
	    old && *old ? berth_xasprintf("%s:%s", sdk_dir, old) : berth_xstrdup(sdk_dir);
	berth_env_set(env, "PYTHONPATH", pp);
	berth_env_set(env, "PYTHONDONTWRITEBYTECODE", "1");
}

static int load_python(const char *arg, const char *file, const char *cls, const char *sdk_dir,
		       struct berth_app_spec *out, struct berth_err **err)
{
	struct stat st;
	if (stat(file, &st) < 0) {
		if (errno == ENOENT)
			return berth_err_set(err, BERTH_E_NOT_FOUND, "'%s' does not exist", file);
		return berth_err_sys(err, errno, "'%s'", file);
	}
	if (!S_ISREG(st.st_mode))
		return berth_err_set(err, BERTH_E_INVALID, "'%s' is not a file", file);
	if (cls && !*cls)
		return berth_err_set(err, BERTH_E_INVALID,
				     "'%s' names no class after '::' (write FILE.py::MyApp)", arg);
	_cleanup_free_ char *abs = realpath(file, NULL);
	if (!abs)
		return berth_err_sys(err, errno, "'%s'", file);
	_cleanup_free_ char *own_sdk = NULL;
	if (!sdk_dir && !(sdk_dir = own_sdk = berth_app_sdk_dir(err)))
		return -BERTH_E_NOT_FOUND;
	_cleanup_free_ char *python = find_program("python3");
	if (!python)
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "python3 not found: SDK apps need the host's python3 to read "
				     "the class (apt-get install python3)");

	_cleanup_free_ char *target =
	    cls ? berth_xasprintf("%s::%s", abs, cls) : berth_xstrdup(abs);
	char *argv[] = {python, "-m", "berth.spec", target, NULL};
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	python_env(sdk_dir, &env);
	_cleanup_close_ int errfd = memfd_create("berth-spec-stderr", MFD_CLOEXEC);
	if (errfd < 0)
		return berth_err_sys(err, errno, "read '%s': make a file for python's errors", arg);
	struct berth_buf so;
	berth_buf_init(&so, BERTH_APP_SPEC_MAX);
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.envp = env.v;
	sp.stderr_fd = errfd;
	sp.capture_out = &so;
	int status = 0;
	int r = berth_spawn_run(&sp, &status, err);
	if (r < 0) {
		berth_buf_release(&so);
		berth_err_prefix(err, "read '%s'", arg);
		return r;
	}
	struct berth_buf se;
	berth_buf_init(&se, BERTH_APP_SDK_STDERR_MAX);
	read_tail(errfd, &se);
	if (status == 0) {
		log_notes(&se);
		berth_buf_release(&se);
	} else {
		const char *tail = last_lines(se.data, se.len, SDK_ERROR_LINES);
		const char *last = last_lines(se.data, se.len, 1);
		if (status == SDK_USER_ERROR &&
		    !strncmp(last, SDK_ERROR_PREFIX, strlen(SDK_ERROR_PREFIX))) {
			/* The SDK's own one-line diagnosis: nothing else is needed. */
			r = berth_err_set(err, BERTH_E_INVALID, "%s: %s", arg,
					  last + strlen(SDK_ERROR_PREFIX));
			berth_buf_release(&se);
			berth_buf_release(&so);
			return r;
		}
		bool no_sdk = strstr(se.data, "No module named 'berth'") ||
			      strstr(se.data, "No module named berth");
		_cleanup_free_ char *hint =
		    no_sdk
			? berth_xasprintf(" (the SDK is not at '%s': set BERTH_SDK_DIR)", sdk_dir)
			: berth_xstrdup("");
		r = berth_err_set(err, BERTH_E_INVALID,
				  "read '%s': python3 -m berth.spec exited with status %d%s%s%s",
				  arg, status, hint, *tail ? ":\n" : "", tail);
		berth_buf_release(&se);
		berth_buf_release(&so);
		return r;
	}
	if (so.full) {
		berth_buf_release(&so);
		return berth_err_set(err, BERTH_E_LIMIT,
				     "read '%s': python3 -m berth.spec printed more than %u bytes",
				     arg, BERTH_APP_SPEC_MAX);
	}
	_cleanup_json_ json_t *j =
	    berth_json_loadb(so.data, so.len, "the output of python3 -m berth.spec", err);
	berth_buf_release(&so);
	if (!j) {
		berth_err_prefix(err, "read '%s'", arg);
		return -BERTH_E_INVALID;
	}
	char *slash = strrchr(abs, '/');
	*slash = '\0';
	r = berth_app_from_json(j, slash == abs ? "/" : abs, out, err);
	if (r < 0)
		berth_err_prefix(err, "%s", arg);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

int berth_app_load(const char *arg, const char *sdk_dir, struct berth_app_spec *out,
		   struct berth_err **err)
{
	*out = (struct berth_app_spec){0};
	if (!arg || !*arg)
		return berth_err_set(err, BERTH_E_INVALID,
				     "no app given: name a berth.yaml, a directory that holds one, "
				     "or a Python app as FILE.py::MyApp");
	const char *sep = strstr(arg, "::");
	if (sep) {
		_cleanup_free_ char *file = berth_xstrndup(arg, (size_t)(sep - arg));
		return load_python(arg, file, sep + 2, sdk_dir, out, err);
	}
	if (ends_with(arg, ".py"))
		return load_python(arg, arg, NULL, sdk_dir, out, err);

	struct stat st;
	if (stat(arg, &st) < 0) {
		if (errno == ENOENT)
			return berth_err_set(err, BERTH_E_NOT_FOUND,
					     "'%s' does not exist: name a berth.yaml, a directory "
					     "that holds one, or FILE.py::MyApp",
					     arg);
		return berth_err_sys(err, errno, "'%s'", arg);
	}
	_cleanup_free_ char *path =
	    S_ISDIR(st.st_mode) ? berth_xasprintf("%s/berth.yaml", arg) : berth_xstrdup(arg);
	if (S_ISDIR(st.st_mode) && access(path, F_OK) < 0 && errno == ENOENT)
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "no berth.yaml in '%s': create one with 'name:', 'image:' and "
				     "'run:' (see docs/berth-yaml.md), or name a Python app as "
				     "FILE.py::MyApp",
				     arg);
	int r = berth_app_load_yaml(path, out, err);
	if (r < 0 && err && *err && (*err)->code != BERTH_E_SYS) {
		if ((*err)->line > 0)
			berth_err_prefix(err, "%s:%d", path, (*err)->line);
		else
			berth_err_prefix(err, "%s", path);
	}
	return r;
}
