/* Unit tests for lint/validate.c: image validation on hand-made layer
 * directories in overlay form (whiteouts as char 0/0 devices, opaque
 * directories with trusted.overlay.opaque), so every rule of the merged view
 * is checked on its own: symlinks (relative, absolute, through directories,
 * climbing above the root, dangling, looping), whiteouts, opaque
 * directories; then python3 and its version, the CUDA environment, caches
 * left in layers with the step that made them, the per-layer stats through a
 * real store (hard links once, largest files, history matching), the step
 * text, the output formats and the limits. Whiteouts and trusted.* xattrs
 * need root: without it those cases are skipped, and say so. */
#include "image/image.h"
#include "lint/lint.h"
#include "tap.h"
#include "fixture.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

static bool is_root;
static int case_no;

/* ------------------------------------------------------------- helpers */

/* The directory of layer `l` of the current case. */
static const char *L(int l, const char *rel)
{
	return fixture_path("c%d/l%d%s%s", case_no, l, *rel == '/' ? "" : "/", rel);
}

/* mkdir -p of the parents of `path` (inside the fixture). */
static void parents(const char *path)
{
	char buf[FIXTURE_PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + strlen(fixture_dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		fixture_must(mkdir(buf, 0755) == 0 || errno == EEXIST, buf);
		*p = '/';
	}
}

static void put_dir(int l, const char *rel)
{
	const char *p = L(l, rel);
	parents(p);
	fixture_must(mkdir(p, 0755) == 0 || errno == EEXIST, p);
}

static void put_file(int l, const char *rel, const char *content, mode_t mode)
{
	const char *p = L(l, rel);
	parents(p);
	fixture_put_file(p, content);
	fixture_must(chmod(p, mode) == 0, p);
}

/* A file of `size` bytes. */
static void put_sized(int l, const char *rel, size_t size)
{
	const char *p = L(l, rel);
	parents(p);
	FILE *f = fopen(p, "w");
	fixture_must(f != NULL, p);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fixture_must(fclose(f) == 0, p);
}

static void put_link(int l, const char *target, const char *rel)
{
	const char *p = L(l, rel);
	parents(p);
	fixture_put_link(target, p);
}

static void put_whiteout(int l, const char *rel)
{
	const char *p = L(l, rel);
	parents(p);
	fixture_must(mknod(p, S_IFCHR, makedev(0, 0)) == 0, p);
}

static void put_opaque(int l, const char *rel)
{
	put_dir(l, rel);
	const char *p = L(l, rel);
	fixture_must(setxattr(p, "trusted.overlay.opaque", "y", 1, 0) == 0, p);
}

/* A new case with `n` empty layers. */
static int nlayers;
static void new_case(int n)
{
	case_no++;
	nlayers = n;
	for (int i = 0; i < n; i++)
		put_dir(i, "");
}

/* A config: Env entries (NULL-terminated), User (may be NULL), history
 * created_by lines ("-" prefix: an empty_layer entry). */
static json_t *config(const char *const *env, const char *user, const char *const *hist)
{
	json_t *e = json_array();
	for (size_t i = 0; env && env[i]; i++)
		json_array_append_new(e, json_string(env[i]));
	json_t *c = json_pack("{s:o}", "Env", e);
	if (user)
		json_object_set_new(c, "User", json_string(user));
	json_t *h = json_array();
	for (size_t i = 0; hist && hist[i]; i++) {
		bool empty = hist[i][0] == '-';
		json_t *o = json_pack("{s:s}", "created_by", hist[i] + empty);
		if (empty)
			json_object_set_new(o, "empty_layer", json_true());
		json_array_append_new(h, o);
	}
	return json_pack("{s:o, s:o}", "config", c, "history", h);
}

static struct berth_lint_image_result last;

/* Validate the current case's layers: "rule@layer rule@layer ..." ("-" for
 * none), or "ERROR: message". The result stays in `last`. */
static char *run(json_t *cfg, bool sdk, unsigned gpus)
{
	struct berth_strv dirs = BERTH_STRV_INIT;
	for (int i = 0; i < nlayers; i++)
		berth_strv_push(&dirs, L(i, ""));
	berth_lint_image_result_release(&last);
	struct berth_lint_image_opts o = {.sdk_app = sdk, .gpus = gpus};
	struct berth_err *err = NULL;
	int r = berth_lint_image_layers(&dirs, cfg, &o, &last, &err);
	berth_strv_release(&dirs);
	json_decref(cfg);
	if (r < 0) {
		char *s = berth_xasprintf("ERROR: %s", err->msg);
		berth_err_free(err);
		return s;
	}
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < last.n; i++)
		berth_buf_addf(&b, "%s%s@%d", i ? " " : "", last.findings[i].rule,
			       last.findings[i].layer);
	if (!last.n)
		berth_buf_addstr(&b, "-");
	return berth_buf_steal(&b, NULL);
}

#define RUN_IS(cfg, sdk, gpus, want, ...)                \
	do {                                             \
		char *got__ = run((cfg), (sdk), (gpus)); \
		tap_is_str(got__, (want), __VA_ARGS__);  \
		free(got__);                             \
	} while (0)

/* The first finding's message and fix contain `want`. */
static void has_text(const char *want, const char *name)
{
	bool found = last.n &&
		     (strstr(last.findings[0].message, want) || strstr(last.findings[0].fix, want));
	if (!tap_ok(found, "%s", name)) {
		tap_diag("message", last.n ? last.findings[0].message : NULL);
		tap_diag("fix", last.n ? last.findings[0].fix : NULL);
		tap_diag("want", want);
	}
}

static const char *const debian_path[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};

/* -------------------------------------------------------- python3: view */

static void test_python_found(void)
{
	new_case(1);
	put_file(0, "usr/bin/python3", "#!", 0755);
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "-", "python3 as a file on the PATH");
	RUN_IS(config(debian_path, NULL, NULL), false, 0, "-", "a server app is not checked");

	new_case(1);
	put_file(0, "usr/bin/python3.11", "#!", 0755);
	put_link(0, "python3.11", "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "-", "a relative symlink (Debian's)");

	new_case(2);
	put_file(0, "usr/local/bin/python3.12", "#!", 0755);
	put_link(1, "/usr/local/bin/python3.12", "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "-",
	       "an absolute symlink into a lower layer");

	/* Merged /usr: /bin -> usr/bin, and PATH has only /bin. */
	new_case(2);
	put_link(0, "usr/bin", "bin");
	put_file(1, "usr/bin/python3", "#!", 0755);
	RUN_IS(config((const char *const[]){"PATH=/bin", NULL}, NULL, NULL), true, 0, "-",
	       "a symlinked directory on the PATH, its target in another layer");

	/* Climbing above the root stays at the root, as in the container. */
	new_case(1);
	put_file(0, "usr/bin/python3.11", "#!", 0755);
	put_link(0, "../../../../../../../../usr/bin/python3.11", "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "-", "'..' above the root stays inside");

	/* No PATH in the config: the runner's default. */
	new_case(1);
	put_file(0, "usr/local/sbin/python3", "#!", 0755);
	RUN_IS(config(NULL, NULL, NULL), true, 0, "-", "no PATH: the default PATH is searched");
}

static void test_python_missing(void)
{
	/* An absolute symlink to a file that exists on the host, not in the
	 * image: resolved inside the image, so missing. */
	new_case(1);
	fixture_put_file(fixture_path("host-python3"), "#!");
	chmod(fixture_path("host-python3"), 0755);
	put_link(0, fixture_path("host-python3"), "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "a symlink to a host path is resolved inside the image");
	has_text("is a symlink to '", "and named as a symlink to nowhere");

	new_case(1);
	put_file(0, "usr/bin/python3.11", "#!", 0755);
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "only python3.11: the seed's Python binary not found");
	has_text("Python binary not found", "with the seed's words");
	has_text("`RUN ln -sf /usr/bin/python3.11 /usr/bin/python3`", "and the symlink fix");
	tap_is_int(last.findings[0].severity, BERTH_LINT_ERROR, "it is an error");

	new_case(1);
	put_file(0, "usr/local/bin/python3.11", "#!", 0755);
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "python3.11 in /usr/local/bin");
	has_text("python3.11 in /usr/local/bin", "names where it is");
	has_text("ln -sf /usr/local/bin/python3.11 /usr/local/bin/python3", "links it there");

	new_case(1);
	put_file(0, "opt/conda/bin/python3", "#!", 0755);
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "python3 off the PATH (conda)");
	has_text("ln -sf /opt/conda/bin/python3 /usr/local/bin/python3",
		 "links it into a PATH directory");

	new_case(1);
	put_file(0, "usr/bin/python3.9", "#!", 0755);
	put_file(0, "usr/bin/python3.11", "#!", 0755);
	put_file(0, "usr/bin/python2.7", "#!", 0755);
	put_link(0, "python2.7", "usr/bin/python");
	free(run(config(debian_path, NULL, NULL), true, 0));
	has_text("ln -sf /usr/bin/python3.11 /usr/bin/python3", "the newest Python 3 is named");

	new_case(1);
	put_file(0, "usr/bin/python3", "#!", 0644);
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "python3 that is not executable");
	has_text("is not executable (mode 0644)", "says so");

	new_case(1);
	put_link(0, "python3.9", "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "a dangling python3 symlink");
	has_text("'/usr/bin/python3' is a symlink to 'python3.9', which is not in the image",
		 "names the link and its target");
	has_text("apt-get install -y --no-install-recommends python3",
		 "no interpreter at all: install one");

	new_case(1);
	put_link(0, "python3", "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "a symlink loop");
	has_text("which loops", "says it loops");

	new_case(1);
	put_dir(0, "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "a directory named python3");

	new_case(1);
	put_file(0, "usr/bin/python3", "#!", 0755);
	RUN_IS(config((const char *const[]){"PATH=relative/bin:", NULL}, NULL, NULL), true, 0,
	       "image/python-missing@0", "relative PATH entries name nothing");
}

static void test_python_layers(void)
{
	if (!is_root) {
		tap_ok(true, "# SKIP whiteouts and opaque directories need root");
		return;
	}
	new_case(2);
	put_file(0, "usr/bin/python3.11", "#!", 0755);
	put_link(0, "python3.11", "usr/bin/python3");
	put_whiteout(1, "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "a whiteout in an upper layer deletes python3");
	has_text("ln -sf /usr/bin/python3.11 /usr/bin/python3", "python3.11 is still offered");

	new_case(3);
	put_file(0, "usr/bin/python3.11", "#!", 0755);
	put_link(0, "python3.11", "usr/bin/python3");
	put_whiteout(1, "usr/bin/python3");
	put_link(2, "/usr/bin/python3.11", "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "-", "the symlink fix in a later layer");

	new_case(2);
	put_file(0, "usr/bin/python3.11", "#!", 0755);
	put_link(0, "python3.11", "usr/bin/python3");
	put_whiteout(1, "usr/bin/python3.11");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-missing@0",
	       "the link's target whited out: dangling");

	new_case(2);
	put_file(0, "usr/local/bin/python3", "#!", 0755);
	put_opaque(1, "usr/local/bin");
	put_file(1, "usr/local/bin/other", "x", 0755);
	RUN_IS(config((const char *const[]){"PATH=/usr/local/bin", NULL}, NULL, NULL), true, 0,
	       "image/python-missing@0", "an opaque directory hides the layer below");

	new_case(2);
	put_file(0, "usr/local/bin/python3", "#!", 0755);
	put_dir(1, "usr/local/bin");
	put_file(1, "usr/local/bin/other", "x", 0755);
	RUN_IS(config((const char *const[]){"PATH=/usr/local/bin", NULL}, NULL, NULL), true, 0, "-",
	       "near miss: a plain directory merges with it");

	new_case(2);
	put_file(0, "usr/local/bin/python3", "#!", 0755);
	put_whiteout(1, "usr/local");
	put_dir(1, "usr/bin");
	RUN_IS(config((const char *const[]){"PATH=/usr/local/bin", NULL}, NULL, NULL), true, 0,
	       "image/python-missing@0", "a whiteout of a parent directory");

	new_case(2);
	put_file(0, "usr/local/bin/python3", "#!", 0755);
	put_file(1, "usr/local", "now a file", 0644);
	RUN_IS(config((const char *const[]){"PATH=/usr/local/bin", NULL}, NULL, NULL), true, 0,
	       "image/python-missing@0", "a file over a lower directory hides it");
}

static void test_python_version(void)
{
	new_case(1);
	put_file(0, "usr/bin/python3.7", "#!", 0755);
	put_link(0, "python3.7", "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-old@0",
	       "Python 3.7 (from the binary's name)");
	has_text("Python 3.7 (/usr/bin/python3 -> /usr/bin/python3.7)", "names it");
	tap_is_int(last.findings[0].severity, BERTH_LINT_WARNING, "a warning");

	new_case(1);
	put_file(0, "usr/bin/python3.8", "#!", 0755);
	put_link(0, "python3.8", "usr/bin/python3");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "-", "near miss: 3.8 is enough");

	new_case(1);
	put_file(0, "usr/local/bin/python3", "#!", 0755);
	put_file(0, "usr/local/lib/python3.6/os.py", "", 0644);
	put_dir(0, "usr/local/lib/python3.12");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "image/python-old@0",
	       "the version from lib/python3.X with an os.py");

	new_case(1);
	put_file(0, "usr/local/bin/python3", "#!", 0755);
	put_dir(0, "usr/local/lib/python3.6");
	RUN_IS(config(debian_path, NULL, NULL), true, 0, "-",
	       "near miss: a lib dir without os.py says nothing");

	new_case(1);
	put_file(0, "usr/bin/python3.6m", "#!", 0755);
	free(run(config(debian_path, NULL, NULL), true, 0));
	has_text("(and note berth's SDK needs Python 3.8 or newer)",
		 "an old candidate: the fix says it is too old");
}

/* ------------------------------------------------------------------ CUDA */

static void test_cuda(void)
{
	new_case(1);
	put_dir(0, "usr");
	RUN_IS(config(debian_path, NULL, NULL), false, 1, "image/cuda-env@0",
	       "a GPU app with no CUDA environment");
	has_text("ENV CUDA_HOME=/usr/local/cuda", "the seed's ENV lines");
	has_text("No CUDA GPUs are available", "and the seed's symptom");
	RUN_IS(config(debian_path, NULL, NULL), false, 0, "-", "near miss: no GPUs asked for");
	RUN_IS(config((const char *const[]){"NVIDIA_VISIBLE_DEVICES=all", NULL}, NULL, NULL), false,
	       2, "-", "NVIDIA_VISIBLE_DEVICES set (a CUDA base image)");
	RUN_IS(
	    config((const char *const[]){"NVIDIA_DRIVER_CAPABILITIES=compute", NULL}, NULL, NULL),
	    false, 1, "-", "NVIDIA_DRIVER_CAPABILITIES set");

	const char *const seed[] = {"CUDA_HOME=/usr/local/cuda",
				    "PATH=/usr/local/cuda/bin:/usr/bin:/bin",
				    "LD_LIBRARY_PATH=/usr/local/cuda/lib64:", NULL};
	RUN_IS(config(seed, NULL, NULL), false, 1, "image/cuda-env@0",
	       "the seed's ENV lines without /usr/local/cuda in the image");
	has_text("CUDA_HOME is '/usr/local/cuda', which is not a directory in the image",
		 "says CUDA_HOME points nowhere");
	put_dir(0, "usr/local/cuda-12.4/lib64");
	put_link(0, "cuda-12.4", "usr/local/cuda");
	RUN_IS(config(seed, NULL, NULL), false, 1, "-",
	       "near miss: the seed's ENV lines and the toolkit (a symlinked dir)");
	RUN_IS(config((const char *const[]){"LD_LIBRARY_PATH=/usr/local/cuda/lib64", NULL}, NULL,
		      NULL),
	       false, 1, "-", "/usr/local/cuda and LD_LIBRARY_PATH, no CUDA_HOME");
	RUN_IS(config(debian_path, NULL, NULL), false, 1, "image/cuda-env@0",
	       "/usr/local/cuda but no LD_LIBRARY_PATH");
	has_text("no LD_LIBRARY_PATH", "says what is missing");
	RUN_IS(config((const char *const[]){"CUDA_HOME=/usr/local/cuda",
					    "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu", NULL},
		      NULL, NULL),
	       false, 1, "image/cuda-env@0", "LD_LIBRARY_PATH without a CUDA lib dir");
	has_text("LD_LIBRARY_PATH names no CUDA lib dir", "says so");
}

/* ---------------------------------------------------------------- caches */

static void test_caches(void)
{
	const char *const hist[] = {"FROM base", "-ENV A=b",
				    "RUN /bin/sh -c apt-get update # buildkit",
				    "RUN /bin/sh -c pip install flask # buildkit", NULL};
	new_case(3);
	put_file(0, "var/lib/apt/lists/lock", "", 0640);
	put_dir(0, "var/lib/apt/lists/partial");
	put_file(0, "var/cache/apt/archives/lock", "", 0640);
	put_dir(0, "root/.cache");
	RUN_IS(config(NULL, NULL, hist), false, 0, "-",
	       "near miss: apt's lock files and empty dirs are not caches");

	put_sized(1, "var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease", 1500);
	put_sized(1, "var/lib/apt/lists/partial/x", 500);
	put_sized(1, "var/cache/apt/archives/curl_7.88_amd64.deb", 3000);
	put_sized(1, "var/cache/apt/archives/notes.txt", 10);
	put_sized(2, "root/.cache/pip/http/a/b", 2500000);
	put_sized(2, "root/.cache/pip/selfcheck.json", 100);
	RUN_IS(config(NULL, NULL, hist), false, 0,
	       "image/apt-lists@2 image/apt-archives@2 image/pip-cache@3",
	       "apt lists, .deb files and a pip cache, each with its layer");
	tap_is_int(last.findings[0].bytes, 2000, "apt lists: their bytes (lock left out)");
	tap_is_int(last.findings[1].bytes, 3000, "archives: only the .deb files");
	tap_is_int(last.findings[2].bytes, 2500100, "pip cache: every file under it");
	tap_is_str(last.findings[0].step, "RUN /bin/sh -c apt-get update # buildkit",
		   "the step from the history (empty_layer entries skipped)");
	tap_is_str(last.findings[2].path, "/root/.cache/pip", "the path");
	tap_ok(strstr(last.findings[0].message, "layer 2 (`RUN apt-get update`) keeps 2.0 kB "
						"of apt package lists in /var/lib/apt/lists (2 "
						"files)") != NULL,
	       "the message names the layer, its step, bytes and files");
	tap_ok(strstr(last.findings[0].fix, "rm -rf /var/lib/apt/lists/*") != NULL,
	       "apt lists: the fix");
	tap_ok(strstr(last.findings[1].fix, "apt-get clean") != NULL, "archives: the fix");
	tap_ok(strstr(last.findings[2].fix, "--no-cache-dir") != NULL, "pip: the fix");
	tap_ok(strstr(last.findings[2].message, "2.5 MB") != NULL, "sizes in MB");

	/* The image's user: its home from /etc/passwd. */
	new_case(2);
	put_file(0, "etc/passwd",
		 "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n", 0644);
	put_sized(1, "home/app/.cache/pip/wheels/w.whl", 700);
	put_sized(1, "home/app/.npm/_cacache/index-v5/x", 300);
	put_sized(1, "home/other/.cache/pip/x", 5);
	RUN_IS(config(NULL, "app", NULL), false, 0, "image/pip-cache@2 image/npm-cache@2",
	       "USER app: ~app's pip and npm caches");
	tap_is_str(last.findings[1].path, "/home/app/.npm", "the npm cache's path");
	RUN_IS(config(NULL, "1000:1000", NULL), false, 0, "image/pip-cache@2 image/npm-cache@2",
	       "USER 1000:1000: the same user by uid");
	RUN_IS(config(NULL, "nobody", NULL), false, 0, "-",
	       "near miss: a user not in /etc/passwd has no home to look in");
	RUN_IS(config(NULL, NULL, NULL), false, 0, "-", "near miss: root's home is /root");
	RUN_IS(
	    config((const char *const[]){"PIP_CACHE_DIR=/home/app/.cache/pip", NULL}, NULL, NULL),
	    false, 0, "image/pip-cache@2", "$PIP_CACHE_DIR is looked in too");

	/* A literal path only: a symlinked cache dir in the layer is not walked. */
	new_case(1);
	put_dir(0, "elsewhere/pip");
	put_sized(0, "elsewhere/pip/x", 10);
	put_dir(0, "root/.cache");
	put_link(0, "/elsewhere/pip", "root/.cache/pip");
	RUN_IS(config(NULL, NULL, NULL), false, 0, "-", "a symlink is not followed out of place");

	if (!is_root) {
		tap_ok(true, "# SKIP whiteouts need root");
		return;
	}
	new_case(2);
	put_sized(0, "root/.cache/pip/x", 40);
	put_whiteout(1, "root/.cache");
	RUN_IS(config(NULL, NULL, NULL), false, 0, "image/pip-cache@1",
	       "removed by a later step: still in its layer");
	has_text("a later step removed it, but the bytes stay in this layer", "and says so");
	tap_ok(strstr(last.findings[0].message, "layer 1 keeps") != NULL,
	       "a layer with no history is named by number");
}

/* ----------------------------------------------------------- the store */

/* An image in a store: layers made with make_layer(i), a config with the
 * given history, tagged nowhere. Fills digest. */
static struct berth_store *store;

static void stored(size_t n, const char *const *hist, char digest[BERTH_DIGEST_LEN + 1])
{
	json_t *diff = json_array(), *layers = json_array();
	char chain[BERTH_DIGEST_LEN + 1] = "";
	for (size_t i = 0; i < n; i++) {
		char d[BERTH_DIGEST_LEN + 1];
		char text[64];
		snprintf(text, sizeof(text), "case %d layer %zu", case_no, i);
		struct berth_sha256 h;
		berth_sha256_init(&h);
		berth_sha256_update(&h, text, strlen(text));
		berth_sha256_final_digest(&h, d);
		json_array_append_new(diff, json_string(d));
		berth_chain_id(*chain ? chain : NULL, d, chain);
		/* The layer dir: move the case's hand-made tree into place. */
		char *dir = berth_store_layer_dir(store, chain);
		fixture_must(rename(L((int)i, ""), dir) == 0, dir);
		free(dir);
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
							BERTH_MT_OCI_LAYER_GZIP, "digest", d,
							"size", (json_int_t)(1000 + i)));
	}
	json_t *cfg = config(NULL, NULL, hist);
	json_object_set_new(cfg, "rootfs",
			    json_pack("{s:s, s:o}", "type", "layers", "diff_ids", diff));
	json_object_set_new(cfg, "os", json_string("linux"));
	json_object_set_new(cfg, "architecture", json_string("amd64"));
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	berth_json_dump_canonical(cfg, &b);
	char cdig[BERTH_DIGEST_LEN + 1];
	fixture_must(berth_blob_put(store, b.data, b.len, NULL, cdig, NULL) == 0, "config blob");
	json_t *m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
			      BERTH_MT_OCI_MANIFEST, "config", "mediaType", BERTH_MT_OCI_CONFIG,
			      "digest", cdig, "size", (json_int_t)b.len, "layers", layers);
	berth_buf_reset(&b);
	berth_json_dump_canonical(m, &b);
	fixture_must(berth_blob_put(store, b.data, b.len, NULL, digest, NULL) == 0,
		     "manifest blob");
	berth_buf_release(&b);
	json_decref(cfg);
	json_decref(m);
}

static void test_stats(void)
{
	new_case(3);
	put_sized(0, "bin/busybox", 5000);
	put_sized(0, "etc/a", 10);
	put_sized(0, "etc/b", 10);
	put_sized(0, "etc/c", 10);
	put_sized(0, "etc/d", 9);
	put_sized(0, "etc/e", 11);
	put_sized(0, "etc/f", 1);
	fixture_must(link(L(0, "bin/busybox"), L(0, "bin/sh")) == 0, "hard link");
	put_link(0, "busybox", "bin/ls");
	put_sized(1, "app/model.bin", 70000);
	put_dir(2, "tmp");
	if (is_root) {
		put_whiteout(2, "etc/a");
		put_opaque(2, "app");
	}
	const char *const hist[] = {"base layer", "-CMD [\"sh\"]",
				    "RUN |1 V=2 /bin/sh -c fetch model # buildkit",
				    "/bin/sh -c #(nop)  WORKDIR /tmp", NULL};
	char digest[BERTH_DIGEST_LEN + 1];
	stored(3, hist, digest);

	struct berth_lint_layer_stats *st = NULL;
	size_t n = 0;
	struct berth_err *err = NULL;
	int r = berth_lint_layer_stats(store, digest, 5, &st, &n, &err);
	tap_is_int(r, 0, "layer stats of a stored image");
	if (r < 0) {
		tap_diag("error", err->msg);
		berth_err_free(err);
		return;
	}
	tap_is_int(n, 3, "one entry per layer");
	tap_is_int(st[0].unpacked, 5051, "unpacked: regular files, a hard link counted once");
	tap_is_int(st[0].files, 7, "files: the hard link once, symlinks not");
	tap_is_int(st[0].compressed, 1000, "compressed: the manifest's size");
	tap_is_int(st[0].nlargest, 5, "five largest files");
	const char *order = NULL;
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < st[0].nlargest; i++)
		berth_buf_addf(&b, "%s%s=%lld", i ? " " : "", st[0].largest[i].path,
			       (long long)st[0].largest[i].size);
	order = b.data;
	tap_ok(!strcmp(order, "/bin/busybox=5000 /etc/e=11 /etc/a=10 /etc/b=10 /etc/c=10") ||
		   !strcmp(order, "/bin/sh=5000 /etc/e=11 /etc/a=10 /etc/b=10 /etc/c=10"),
	       "largest first, equal sizes by path: %s", order);
	berth_buf_release(&b);
	tap_is_str(st[0].step, "base layer", "layer 1's step");
	tap_is_str(st[1].step, "RUN |1 V=2 /bin/sh -c fetch model # buildkit",
		   "layer 2's step (the empty_layer CMD skipped)");
	tap_is_str(st[2].step, "/bin/sh -c #(nop)  WORKDIR /tmp", "layer 3's step");
	tap_is_int(st[1].unpacked, 70000, "layer 2's bytes");
	tap_is_str(st[1].largest[0].path, "/app/model.bin", "and its largest file");
	tap_is_int(st[2].unpacked, 0, "an empty layer");
	if (is_root)
		tap_is_int(st[2].whiteouts, 2, "a whiteout and an opaque dir: two deletions");
	else
		tap_ok(true, "# SKIP whiteouts need root");
	tap_ok(!strncmp(st[0].diff_id, "sha256:", 7), "the diff_id");
	tap_is_str(st[0].chain_id, st[0].diff_id, "the base layer's chain id is its diff_id");
	tap_is_str(st[0].media_type, BERTH_MT_OCI_LAYER_GZIP, "the media type");
	berth_lint_layer_stats_free(st, n);

	/* Fewer history entries than layers: matched from the top down. */
	new_case(2);
	put_dir(0, "a");
	put_dir(1, "b");
	const char *const short_hist[] = {"-ENV X=1", "RUN /bin/sh -c make # buildkit", NULL};
	stored(2, short_hist, digest);
	r = berth_lint_layer_stats(store, digest, 0, &st, &n, &err);
	tap_is_int(r, 0, "stats with a short history");
	tap_ok(r == 0 && st[0].step == NULL, "the base layer has no step");
	tap_is_str(r == 0 ? st[1].step : NULL, "RUN /bin/sh -c make # buildkit",
		   "the top layer gets the last step");
	tap_is_int(r == 0 ? st[1].nlargest : 99, 0, "top 0: no files listed");
	berth_lint_layer_stats_free(st, n);

	/* berth_lint_image through the store, and a layer that is not unpacked. */
	new_case(1);
	put_file(0, "usr/bin/python3.11", "#!", 0755);
	stored(1, NULL, digest);
	struct berth_lint_image_result res;
	struct berth_lint_image_opts o = {.sdk_app = true};
	r = berth_lint_image(store, digest, &o, &res, &err);
	tap_is_int(r, 0, "berth_lint_image on a stored image");
	tap_is_str(r == 0 && res.n ? res.findings[0].rule : NULL, "image/python-missing",
		   "finds what the layers hold");
	tap_ok(r == 0 && berth_lint_image_failed(&res, false), "and it fails");
	if (r == 0)
		berth_lint_image_result_release(&res);

	new_case(1);
	char chain_dir_digest[BERTH_DIGEST_LEN + 1];
	stored(1, NULL, chain_dir_digest);
	/* Remove its layer dir again: not unpacked. */
	struct berth_manifest m;
	struct berth_image_config cfg;
	fixture_must(berth_image_load(store, chain_dir_digest, &m, &cfg, NULL) == 0, "load");
	char *dir = berth_store_layer_dir(store, cfg.diff_ids.v[0]);
	fixture_must(berth_fs_remove_tree(AT_FDCWD, dir, NULL) == 0, dir);
	free(dir);
	berth_manifest_release(&m);
	berth_image_config_release(&cfg);
	r = berth_lint_image(store, chain_dir_digest, &o, &res, &err);
	tap_is_int(r, -BERTH_E_NOT_FOUND, "a layer that is not unpacked: NOT_FOUND");
	tap_ok(err && strstr(err->msg, "is not unpacked"), "saying so: %s", err ? err->msg : "");
	berth_err_free(err);
	err = NULL;
}

/* ------------------------------------------------------- text and limits */

static void test_step_text(void)
{
	static const struct {
		const char *in, *want;
		size_t max;
	} cases[] = {
	    {"RUN /bin/sh -c apt-get update # buildkit", "RUN apt-get update", 0},
	    {"RUN |2 A=1 B=2 /bin/sh -c make # buildkit", "RUN make", 0},
	    {"/bin/sh -c #(nop)  ENV A=b", "ENV A=b", 0},
	    {"/bin/sh -c apt-get install -y x", "RUN apt-get install -y x", 0},
	    {"COPY app /app # buildkit", "COPY app /app", 0},
	    {"RUN <<EOF\nline\nEOF", "RUN <<EOF line EOF", 0},
	    {"umoci insert", "umoci insert", 0},
	    {"RUN /bin/sh -c 0123456789abcdef # buildkit", "RUN 012345...", 13},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		char *got = berth_lint_step_text(cases[i].in, cases[i].max);
		tap_is_str(got, cases[i].want, "step text: %s", cases[i].want);
		free(got);
	}
	tap_ok(berth_lint_step_text(NULL, 0) == NULL, "step text of NULL is NULL");
}

static void test_output_and_limits(void)
{
	new_case(1);
	put_sized(0, "root/.npm/_cacache/x", 12);
	free(run(config(NULL, NULL, (const char *const[]){"RUN /bin/sh -c npm i # buildkit", NULL}),
		 false, 0));
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	berth_lint_image_format_text(&last, "img:", &b);
	tap_ok(!strncmp(b.data,
			"img: warning: image/npm-cache layer 1 (`RUN npm i`) keeps 12 B of npm "
			"cache in /root/.npm (1 file) (fix: `npm cache clean --force`",
			strlen("img: warning: image/npm-cache layer 1 (`RUN npm i`) keeps 12 B of "
			       "npm cache in /root/.npm (1 file) (fix: `npm cache clean --force`")),
	       "text: PREFIX SEVERITY: RULE MESSAGE (fix: FIX)");
	berth_buf_release(&b);
	json_t *j = berth_lint_image_to_json(&last, "img");
	json_t *o = json_array_get(j, 0);
	tap_is_str(json_string_value(json_object_get(o, "rule")), "image/npm-cache", "json: rule");
	tap_is_int(json_integer_value(json_object_get(o, "layer")), 1, "json: layer");
	tap_is_int(json_integer_value(json_object_get(o, "bytes")), 12, "json: bytes");
	tap_is_str(json_string_value(json_object_get(o, "step")), "RUN /bin/sh -c npm i # buildkit",
		   "json: the step as recorded");
	tap_is_str(json_string_value(json_object_get(o, "image")), "img", "json: image");
	json_decref(j);
	tap_ok(!berth_lint_image_failed(&last, false), "a warning does not fail");
	tap_ok(berth_lint_image_failed(&last, true), "unless strict");

	new_case(1);
	put_file(0, "usr/bin/python3", "#!", 0755);
	free(run(config(NULL, NULL, NULL), true, 1));
	j = berth_lint_image_to_json(&last, "img");
	tap_ok(json_is_null(json_object_get(json_array_get(j, 0), "layer")),
	       "json: layer null for a finding about the whole image");
	json_decref(j);

	size_t n;
	const struct berth_lint_image_check *c = berth_lint_image_checks(&n);
	tap_is_int(n, 7, "seven checks");
	tap_is_str(c[0].id, "image/python-missing", "the first is python-missing");

	struct berth_strv dirs = BERTH_STRV_INIT;
	for (unsigned i = 0; i <= BERTH_LINT_IMAGE_MAX_LAYERS; i++)
		berth_strv_push(&dirs, "/nonexistent");
	struct berth_lint_image_result r;
	struct berth_err *err = NULL;
	json_t *cfg = config(NULL, NULL, NULL);
	tap_is_int(berth_lint_image_layers(&dirs, cfg, NULL, &r, &err), -BERTH_E_LIMIT,
		   "more than %u layers: a limit error", BERTH_LINT_IMAGE_MAX_LAYERS);
	berth_err_free(err);
	err = NULL;
	berth_strv_release(&dirs);
	berth_strv_push(&dirs, fixture_path("no-such-layer"));
	tap_ok(berth_lint_image_layers(&dirs, cfg, NULL, &r, &err) < 0 && err &&
		   strstr(err->msg, "no-such-layer"),
	       "a missing layer dir is an error naming it");
	berth_err_free(err);
	berth_strv_release(&dirs);
	json_decref(cfg);
}

/* Open file descriptors of this process: every fd the view opens is closed. */
static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int main(void)
{
	is_root = geteuid() == 0;
	fixture_init("lintval");
	struct berth_err *err = NULL;
	fixture_must(berth_store_open(fixture_path("home"), &store, &err) == 0, "store");
	int fds = open_fds();
	test_python_found();
	test_python_missing();
	test_python_layers();
	test_python_version();
	test_cuda();
	test_caches();
	test_stats();
	test_step_text();
	test_output_and_limits();
	berth_lint_image_result_release(&last);
	tap_is_int(open_fds(), fds, "no file descriptor is left open");
	berth_store_close(store);
	if (fixture_cleanup(&err) < 0) {
		printf("# cleanup: %s\n", err->msg);
		berth_err_free(err);
	}
	return tap_done();
}
