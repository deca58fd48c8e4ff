/* `berth init NAME --template python|pytorch|cuda|server`: a new app written
 * from the templates installed next to berth (templates/ of the source tree,
 * or <prefix>/share/berth/templates), with its name, class and base image
 * filled in. Never overwrites a file. docs/templates.md. */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INIT_TEMPLATE_FILE_MAX (1u << 20) /* one template file */
#define INIT_TEMPLATE_FILES    32         /* files in one template */
#define INIT_NAME_MAX          63         /* as app names: [a-z0-9][a-z0-9-]{0,62} */
/* A file used instead of NAME when --base is given (python: a base that
 * already has python3 needs no apt step). */
#define INIT_CUSTOM_BASE_SUFFIX ".custom-base"

static const char usage[] =
    "usage: berth init NAME --template python|pytorch|cuda|server [--dir DIR]\n"
    "                  [--base IMAGE]\n"
    "\n"
    "  NAME               the app's name: lower-case letters, digits and '-'\n"
    "  -t, --template T   python   an SDK app: a class with setup() and an endpoint\n"
    "                     pytorch  an SDK app on PyTorch (CUDA wheels), two stages\n"
    "                     cuda     an SDK app on NVIDIA's CUDA runtime image\n"
    "                     server   a berth.yaml app: busybox httpd serving a page\n"
    "  -d, --dir DIR      where to write (default ./NAME); made when missing\n"
    "      --base IMAGE   the FROM image instead of the template's default\n"
    "                     (python: a base that already has python3)\n"
    "\n"
    "Writes only new files: an existing one is an error and nothing is written.\n"
    "Each template passes `berth lint`; see docs/templates.md.\n";

struct template
{
	const char *name;
	const char *base; /* the default FROM */
	bool sdk, gpu;    /* what `berth lint` is told */
};

static const struct template templates[] = {
    {"python", "debian:bookworm-slim", true, false},
    {"pytorch", "debian:bookworm-slim", true, true},
    {"cuda", "nvidia/cuda:12.8.0-runtime-ubuntu22.04", true, true},
    {"server", "busybox:1.35.0", false, false},
};

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The templates directory: $BERTH_TEMPLATES_DIR, else next to the binary
 * (build/berth -> templates/, <prefix>/bin/berth ->
 * <prefix>/share/berth/templates), as the SDK is found. free(). */
static char *templates_dir(void)
{
	const char *env = getenv("BERTH_TEMPLATES_DIR");
	if (env && *env) {
		_cleanup_free_ char *probe = berth_xasprintf("%s/python", env);
		if (is_dir(probe))
			return realpath(env, NULL);
		fprintf(stderr,
			"berth: BERTH_TEMPLATES_DIR '%s' holds no templates: point it at the "
			"directory that holds python/, server/, ... (templates/ in berth's "
			"source tree)\n",
			env);
		return NULL;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "berth: find the templates: read '/proc/self/exe': %s\n",
			strerror(errno));
		return NULL;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	static const char *const rel[] = {"/../templates", "/../../templates",
					  "/../share/berth/templates"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(rel); i++) {
		_cleanup_free_ char *cand = berth_xasprintf("%s%s", exe, rel[i]);
		_cleanup_free_ char *probe = berth_xasprintf("%s/python", cand);
		if (is_dir(probe))
			return realpath(cand, NULL);
	}
	fprintf(stderr,
		"berth: the app templates were not found (looked in %s/../templates, "
		"%s/../../templates and %s/../share/berth/templates): set "
		"BERTH_TEMPLATES_DIR to the directory that holds them\n",
		exe, exe, exe);
	return NULL;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > INIT_NAME_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* "my-app-2" -> "MyApp2"; a leading digit gets "App" in front (a Python
 * class name cannot start with one). */
static char *class_name(const char *name)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	if (name[0] >= '0' && name[0] <= '9')
		berth_buf_addstr(&b, "App");
	bool up = true;
	for (const char *p = name; *p; p++) {
		if (*p == '-') {
			up = true;
			continue;
		}
		berth_buf_addch(&b, up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p);
		up = false;
	}
	return berth_buf_steal(&b, NULL);
}

struct vars {
	const char *name, *cls, *base;
};

/* Replace {{name}}, {{class}} and {{base}}; anything else in {{...}} is a
 * mistake in the template. */
static int render(const char *file, const char *text, size_t len, const struct vars *v,
		  struct berth_buf *out)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *open = memmem(p, (size_t)(end - p), "{{", 2);
		if (!open) {
			berth_buf_add(out, p, (size_t)(end - p));
			break;
		}
		berth_buf_add(out, p, (size_t)(open - p));
		const char *close = memmem(open + 2, (size_t)(end - open - 2), "}}", 2);
		struct berth_sv key = {open + 2, close ? (size_t)(close - open - 2) : 0};
		const char *val = !close                      ? NULL
				  : berth_sv_eq(key, "name")  ? v->name
				  : berth_sv_eq(key, "class") ? v->cls
				  : berth_sv_eq(key, "base")  ? v->base
							      : NULL;
		if (!val) {
			fprintf(stderr, "berth: template file '%s': unknown placeholder '%.*s'\n",
				file, (int)(close ? key.len + 4 : 2), open);
			return CLI_FAIL;
		}
		berth_buf_addstr(out, val);
		p = close + 2;
	}
	return CLI_OK;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* One file to write: its name in the app and the template file it comes from. */
struct out_file {
	char *name;
	char *src;
};

/* The template's files, with the .custom-base variants chosen. */
static int list_files(const char *dir, bool custom_base, struct out_file *files, size_t *n)
{
	struct dirent **names = NULL;
	int count = scandir(dir, &names, NULL, by_name);
	if (count < 0) {
		fprintf(stderr, "berth: read the template '%s': %s\n", dir, strerror(errno));
		return CLI_FAIL;
	}
	int rc = CLI_OK;
	*n = 0;
	for (int i = 0; i < count; i++) {
		const char *f = names[i]->d_name;
		_cleanup_free_ char *src = berth_xasprintf("%s/%s", dir, f);
		struct stat st;
		bool variant = ends_with(f, INIT_CUSTOM_BASE_SUFFIX);
		_cleanup_free_ char *plain =
		    variant ? berth_xstrndup(f, strlen(f) - strlen(INIT_CUSTOM_BASE_SUFFIX)) : NULL;
		_cleanup_free_ char *variant_src =
		    berth_xasprintf("%s/%s" INIT_CUSTOM_BASE_SUFFIX, dir, f);
		if (rc != CLI_OK || !strcmp(f, ".") || !strcmp(f, "..") || stat(src, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			goto next;
		/* A variant replaces its plain file with --base, and is skipped
		 * without; a plain file with a variant is skipped with --base. */
		if (variant && !custom_base)
			goto next;
		if (!variant && custom_base && access(variant_src, F_OK) == 0)
			goto next;
		if (*n == INIT_TEMPLATE_FILES) {
			fprintf(stderr, "berth: the template '%s' has more than %d files\n", dir,
				INIT_TEMPLATE_FILES);
			rc = CLI_FAIL;
			goto next;
		}
		files[*n].name = variant ? steal_pointer(&plain) : berth_xstrdup(f);
		files[(*n)++].src = steal_pointer(&src);
	next:
		free(names[i]);
	}
	free(names);
	return rc;
}

static int write_new(const char *path, const char *data, size_t len)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "berth: write '%s': %s%s\n", path, strerror(errno),
			errno == EEXIST ? " (init never overwrites a file)" : "");
		return CLI_FAIL;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fprintf(stderr, "berth: write '%s': %s\n", path, strerror(errno));
			return CLI_FAIL;
		}
		off += (size_t)w;
	}
	return CLI_OK;
}

static int init_app(const struct template *t, const char *name, const char *dir, const char *base)
{
	_cleanup_free_ char *root = templates_dir();
	if (!root)
		return CLI_FAIL;
	_cleanup_free_ char *tdir = berth_xasprintf("%s/%s", root, t->name);
	struct out_file files[INIT_TEMPLATE_FILES];
	size_t n = 0;
	int rc = list_files(tdir, base != NULL, files, &n);
	_cleanup_free_ char *cls = class_name(name);
	struct vars v = {.name = name, .cls = cls, .base = base ? base : t->base};
	/* Render everything and check every target first: either all files
	 * are written or none. */
	struct berth_buf bodies[INIT_TEMPLATE_FILES];
	size_t rendered = 0;
	for (size_t i = 0; rc == CLI_OK && i < n; i++, rendered++) {
		berth_buf_init(&bodies[i], BERTH_BUF_UNLIMITED);
		_cleanup_buf_ struct berth_buf text;
		berth_buf_init(&text, INIT_TEMPLATE_FILE_MAX);
		struct berth_err *err = NULL;
		if (berth_fs_read_file(files[i].src, INIT_TEMPLATE_FILE_MAX, &text, &err) < 0)
			rc = cli_fail(err, NULL);
		else
			rc = render(files[i].src, text.data ? text.data : "", text.len, &v,
				    &bodies[i]);
	}
	_cleanup_buf_ struct berth_buf clash;
	berth_buf_init(&clash, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; rc == CLI_OK && i < n; i++) {
		_cleanup_free_ char *path = berth_xasprintf("%s/%s", dir, files[i].name);
		struct stat st;
		if (lstat(path, &st) == 0)
			berth_buf_addf(&clash, "%s%s", clash.len ? ", " : "", path);
	}
	if (rc == CLI_OK && clash.len) {
		fprintf(stderr,
			"berth: %s already exist%s: init writes only new files (choose another "
			"--dir, or move them away)\n",
			clash.data, strchr(clash.data, ',') ? "" : "s");
		rc = CLI_FAIL;
	}
	struct berth_err *err = NULL;
	if (rc == CLI_OK && berth_fs_mkdir_p(dir, 0755, &err) < 0)
		rc = cli_fail(err, NULL);
	for (size_t i = 0; rc == CLI_OK && i < n; i++) {
		_cleanup_free_ char *path = berth_xasprintf("%s/%s", dir, files[i].name);
		rc = write_new(path, bodies[i].data ? bodies[i].data : "", bodies[i].len);
		if (rc == CLI_OK)
			printf("%s\n", path);
	}
	if (rc == CLI_OK) {
		bool has_base =
		    !strcmp(v.base, "debian:bookworm-slim") || !strncmp(v.base, "busybox", 7);
		fprintf(stderr, "berth: wrote the %s template for '%s' in %s\n", t->name, name,
			dir);
		fprintf(stderr, "next:\n");
		if (has_base)
			fprintf(stderr, "  berth base create %s   # the base image, made offline\n",
				!strncmp(v.base, "busybox", 7) ? "busybox" : v.base);
		fprintf(stderr, "  berth lint%s%s %s/Dockerfile\n", t->sdk ? " --sdk" : "",
			t->gpu ? " --gpu" : "", dir);
		if (t->sdk)
			fprintf(stderr, "  berth run %s/app.py::%s\n", dir, cls);
		else
			fprintf(stderr, "  berth run %s\n", dir);
	}
	for (size_t i = 0; i < rendered; i++)
		berth_buf_release(&bodies[i]);
	for (size_t i = 0; i < n; i++) {
		free(files[i].name);
		free(files[i].src);
	}
	return rc;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"template", required_argument, NULL, 't'},
	    {"dir", required_argument, NULL, 'd'},
	    {"base", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *tname = NULL, *dir = NULL, *base = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tname = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'b':
			base = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			return cli_usage("init", "bad option");
		}
	}
	if (optind == argc)
		return cli_usage("init", "name the app: berth init NAME --template T");
	if (optind + 1 != argc)
		return cli_usage("init", "one app at a time (got '%s' after '%s')",
				 argv[optind + 1], argv[optind]);
	const char *name = argv[optind];
	if (!name_ok(name))
		return cli_usage("init",
				 "invalid app name '%s': use lower-case letters, digits and '-', "
				 "starting with a letter or digit, at most %d characters",
				 name, INIT_NAME_MAX);
	if (!tname)
		return cli_usage("init",
				 "choose a template: --template python|pytorch|cuda|server");
	const struct template *t = NULL;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(templates); i++)
		if (!strcmp(templates[i].name, tname))
			t = &templates[i];
	if (!t)
		return cli_usage("init", "unknown template '%s' (python, pytorch, cuda, server)",
				 tname);
	if (base) {
		_cleanup_free_ char *canon = cli_canonical(base);
		if (!canon)
			return CLI_USAGE;
	}
	return init_app(t, name, dir ? dir : name, base);
}
