/* Unit tests for runtime/gpu: discovery against a fake /dev (character
 * devices made with mknod), fake library and tool directories, a canned
 * `ldconfig -p` listing, and the real ldconfig of this host. */
#include "common/common.h"
#include "runtime/runtime.h"
#include "fixture.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* The ldconfig -p parser in gpu.c. */
void berth__gpu_parse_ldcache(const char *text, size_t len, const char *arch,
			      struct berth_strv *libs, struct berth_strv *names);

static int mknod_errno; /* why the fake device nodes could not be made */

/* A one-byte file with exactly `mode`, past the umask. */
static void put_file_mode(const char *path, mode_t mode)
{
	fixture_put_file(path, "x");
	fixture_must(chmod(path, mode) == 0, path);
}

/* A character device; false (errno set) when mknod is not permitted here. */
static bool put_chr(const char *path, unsigned maj, unsigned min)
{
	if (mknod(path, S_IFCHR | 0666, makedev(maj, min)) == 0) {
		fixture_must(chmod(path, 0666) == 0, path); /* past the umask */
		return true;
	}
	fixture_must(errno == EPERM || errno == EACCES, path);
	mknod_errno = errno;
	return false;
}

/* The entries of a string vector joined with ','; "" when empty. */
static const char *joined(const struct berth_strv *sv)
{
	static char out[4][4096];
	static int slot;
	char *o = out[slot++ % 4];
	size_t len = 0;
	o[0] = '\0';
	for (size_t i = 0; i < sv->n && len < sizeof(out[0]); i++)
		len +=
		    (size_t)snprintf(o + len, sizeof(out[0]) - len, "%s%s", i ? "," : "", sv->v[i]);
	return o;
}

/* The devices' container paths joined with ','. */
static const char *device_names(const struct berth_gpu_set *g)
{
	_cleanup_strv_ struct berth_strv names = BERTH_STRV_INIT;
	for (size_t i = 0; i < g->ndevices; i++)
		berth_strv_push(&names, g->devices[i].container_path);
	return joined(&names);
}

static const struct berth_gpu_device *find_device(const struct berth_gpu_set *g,
						  const char *container_path)
{
	for (size_t i = 0; i < g->ndevices; i++)
		if (strcmp(g->devices[i].container_path, container_path) == 0)
			return &g->devices[i];
	return NULL;
}

static bool is_zeroed(const struct berth_gpu_set *g)
{
	static const struct berth_gpu_set zero;
	return memcmp(g, &zero, sizeof(zero)) == 0;
}

static void skip(const char *what, const char *why)
{
	tap_ok(true, "%s # SKIP %s", what, why);
}

/* Fake host: dev/ (GPUs 0 and 1, nvidiactl, nvidia-uvm), dev-empty/,
 * dev-regular/ (nvidia0 a regular file), lib/ and lib2/ (driver libraries
 * and decoys), bin/ (tools). Returns whether the device nodes could be made. */
static bool make_fixture(void)
{
	fixture_init("gpu");
	fixture_put_dir(fixture_path("dev"));
	fixture_put_dir(fixture_path("dev-empty"));
	fixture_put_dir(fixture_path("dev-regular"));
	put_file_mode(fixture_path("dev-regular/nvidia0"), 0644);
	bool nodes = put_chr(fixture_path("dev/nvidia0"), 195, 0);
	if (nodes) {
		fixture_must(put_chr(fixture_path("dev/nvidia1"), 195, 1), "mknod nvidia1");
		fixture_must(put_chr(fixture_path("dev/nvidiactl"), 195, 255), "mknod nvidiactl");
		fixture_must(put_chr(fixture_path("dev/nvidia-uvm"), 511, 0), "mknod nvidia-uvm");
		fixture_must(put_chr(fixture_path("dev-regular/nvidiactl"), 195, 255),
			     "mknod nvidiactl");
	}

	fixture_put_dir(fixture_path("lib"));
	put_file_mode(fixture_path("lib/libcuda.so.535.1"), 0755);
	fixture_put_link("libcuda.so.535.1", fixture_path("lib/libcuda.so.1"));
	fixture_put_link("libcuda.so.1", fixture_path("lib/libcuda.so"));
	put_file_mode(fixture_path("lib/libnvidia-ml.so.1"), 0755);
	put_file_mode(fixture_path("lib/libfoo.so.1"), 0755);
	put_file_mode(fixture_path("lib/libcudart.so.12"), 0755);
	fixture_put_link("gone.so", fixture_path("lib/libnvidia-cfg.so.1"));
	fixture_put_dir(fixture_path("lib2"));
	put_file_mode(fixture_path("lib2/libcuda.so.1"), 0755);
	put_file_mode(fixture_path("lib2/libnvidia-nvvm.so.4"), 0755);

	fixture_put_dir(fixture_path("bin"));
	put_file_mode(fixture_path("bin/nvidia-smi"), 0755);
	put_file_mode(fixture_path("bin/nvidia-debugdump"), 0644); /* not executable */
	fixture_put_dir(fixture_path("bin2"));
	put_file_mode(fixture_path("bin2/nvidia-smi"), 0755);
	put_file_mode(fixture_path("bin2/nvidia-cuda-mps-control"), 0755);
	return nodes;
}

static struct berth_gpu_opts fake_opts(const char *dev)
{
	static char dev_dir[4096], lib_dirs[8192], bin_dirs[8192];
	snprintf(dev_dir, sizeof(dev_dir), "%s", fixture_path("%s", dev));
	snprintf(lib_dirs, sizeof(lib_dirs), "%s:relative/lib:%s::%s", fixture_path("lib"),
		 fixture_path("missing"), fixture_path("lib2"));
	snprintf(bin_dirs, sizeof(bin_dirs), "%s:%s", fixture_path("bin"), fixture_path("bin2"));
	return (struct berth_gpu_opts){dev_dir, lib_dirs, bin_dirs};
}

static void test_zero(void)
{
	struct berth_gpu_opts o = fake_opts("dev-empty");
	struct berth_gpu_set g;
	memset(&g, 0xa5, sizeof(g));
	struct berth_err *e = NULL;
	tap_is_int(berth_gpu_discover(&o, 0, &g, &e), 0, "count 0 succeeds even without GPUs");
	tap_ok(is_zeroed(&g), "count 0 gives an empty set");
	berth_err_free(e);
	tap_is_int(berth_gpu_discover(NULL, 0, &g, NULL), 0, "count 0 with default options");
	berth_gpu_set_release(&g);
}

static void test_one(void)
{
	struct berth_gpu_opts o = fake_opts("dev");
	struct berth_gpu_set g;
	struct berth_err *e = NULL;
	int r = berth_gpu_discover(&o, 1, &g, &e);
	tap_is_int(r, 0, "count 1 succeeds");
	if (r < 0)
		tap_diag("error", e->msg);
	berth_err_free(e);
	tap_is_str(device_names(&g), "/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia0",
		   "count 1: nvidiactl, nvidia-uvm and nvidia0, not nvidia1");
	const struct berth_gpu_device *d = find_device(&g, "/dev/nvidia0");
	tap_ok(d != NULL, "nvidia0 is in the set");
	if (d) {
		tap_is_str(d->host_path, fixture_path("dev/nvidia0"), "nvidia0's host path");
		tap_is_int(d->major, 195, "nvidia0's major");
		tap_is_int(d->minor, 0, "nvidia0's minor");
		tap_is_int(d->mode, 0666, "nvidia0's mode is its permission bits");
	}
	d = find_device(&g, "/dev/nvidiactl");
	tap_ok(d && d->major == 195 && d->minor == 255, "nvidiactl is 195:255");
	d = find_device(&g, "/dev/nvidia-uvm");
	tap_ok(d && d->major == 511 && d->minor == 0, "nvidia-uvm is 511:0");
	tap_is_str(g.visible, "0", "count 1: NVIDIA_VISIBLE_DEVICES is 0");

	_cleanup_free_ char *want_libs = berth_xasprintf(
	    "%s,%s,%s", fixture_path("lib/libnvidia-ml.so.1"), fixture_path("lib/libcuda.so.1"),
	    fixture_path("lib2/libnvidia-nvvm.so.4"));
	tap_is_str(joined(&g.libs), want_libs,
		   "libraries: the first directory with each, never libfoo or a dangling link");
	tap_is_str(joined(&g.lib_names), "libnvidia-ml.so.1,libcuda.so.1,libnvidia-nvvm.so.4",
		   "library names are sonames, not libcuda.so or libcuda.so.535.1");
	_cleanup_free_ char *want_bins = berth_xasprintf(
	    "%s,%s", fixture_path("bin/nvidia-smi"), fixture_path("bin2/nvidia-cuda-mps-control"));
	tap_is_str(joined(&g.bins), want_bins, "tools: first hit per name, executables only");

	berth_gpu_set_release(&g);
	tap_ok(is_zeroed(&g), "release leaves the set zeroed");
	berth_gpu_set_release(&g);
	tap_ok(is_zeroed(&g), "a second release is harmless");
}

static void test_two(void)
{
	struct berth_gpu_opts o = fake_opts("dev");
	char dev_slash[4096];
	snprintf(dev_slash, sizeof(dev_slash), "%s/", o.dev_dir);
	o.dev_dir = dev_slash;
	struct berth_gpu_set g;
	struct berth_err *e = NULL;
	tap_is_int(berth_gpu_discover(&o, 2, &g, &e), 0, "count 2 succeeds");
	berth_err_free(e);
	tap_is_str(device_names(&g), "/dev/nvidiactl,/dev/nvidia-uvm,/dev/nvidia0,/dev/nvidia1",
		   "count 2: both GPUs");
	const struct berth_gpu_device *d = find_device(&g, "/dev/nvidia1");
	tap_ok(d && d->major == 195 && d->minor == 1, "nvidia1 is 195:1");
	tap_is_str(d ? d->host_path : NULL, fixture_path("dev/nvidia1"),
		   "a trailing slash on the dev dir is not doubled");
	tap_is_str(g.visible, "0,1", "count 2: NVIDIA_VISIBLE_DEVICES is 0,1");
	berth_gpu_set_release(&g);
}

static void test_too_many(void)
{
	struct berth_gpu_opts o = fake_opts("dev");
	struct berth_gpu_set g;
	struct berth_err *e = NULL;
	tap_ok(berth_gpu_discover(&o, 3, &g, &e) < 0, "count 3 of 2 fails");
	tap_is_int(e ? e->code : 0, BERTH_E_NOT_FOUND, "count 3 of 2 is not_found");
	bool says = e && strstr(e->msg, "has 2 NVIDIA GPUs") && strstr(e->msg, "--gpus 3");
	if (!tap_ok(says, "the message says how many there are"))
		tap_diag("message", e ? e->msg : NULL);
	tap_ok(is_zeroed(&g), "a failed discovery leaves the set zeroed");
	berth_err_free(e);
}

static void test_no_gpu(void)
{
	struct berth_gpu_opts o = fake_opts("dev-empty");
	struct berth_gpu_set g;
	struct berth_err *e = NULL;
	tap_ok(berth_gpu_discover(&o, 1, &g, &e) < 0, "an empty dev dir fails");
	tap_is_int(e ? e->code : 0, BERTH_E_NOT_FOUND, "an empty dev dir is not_found");
	char *want =
	    berth_xasprintf("--gpus 1: no NVIDIA GPU on this host (no %s or %s); install "
			    "the NVIDIA driver or run without --gpus",
			    fixture_path("dev-empty/nvidiactl"), fixture_path("dev-empty/nvidia0"));
	tap_is_str(e ? e->msg : NULL, want, "the message names the dev dir and what to do");
	free(want);
	tap_ok(is_zeroed(&g), "the set stays zeroed");
	berth_err_free(e);
}

static void test_regular_file(void)
{
	struct berth_gpu_opts o = fake_opts("dev-regular");
	struct berth_gpu_set g;
	struct berth_err *e = NULL;
	tap_ok(berth_gpu_discover(&o, 1, &g, &e) < 0, "a regular file named nvidia0 fails");
	bool says = e && strstr(e->msg, "not a character device") &&
		    strstr(e->msg, fixture_path("dev-regular/nvidia0"));
	if (!tap_ok(says, "the message names the file and says what is wrong"))
		tap_diag("message", e ? e->msg : NULL);
	tap_ok(is_zeroed(&g), "the set stays zeroed");
	berth_err_free(e);
}

static void test_parse_ldcache(void)
{
	_cleanup_free_ char *text = berth_xasprintf(
	    "9 libs found in cache `/etc/ld.so.cache'\n"
	    "\tlibcuda.so.1 (libc6,x86-64) => %s\n"
	    "\tlibcuda.so (libc6,x86-64) => %s\n"
	    "\tlibcuda.so.1 (libc6,x86-64) => %s\n"
	    "\tlibnvidia-cfg.so.1 (libc6) => %s\n"
	    "\tlibnvidia-ml.so.1 (libc6,x86-64, OS ABI: Linux 3.2.0) => %s\r\n"
	    "\tlibnvidia-nvvm.so.4 (libc6,x86-64) => %s\n"
	    "\tlibfoo.so.1 (libc6,x86-64) => %s\n"
	    "\tlibcudadebugger.so.1 (libc6,AArch64) => %s\n"
	    "\tlibnvidia-opencl.so.1 (libc6,x86-64) => relative/libnvidia-opencl.so.1\n"
	    "garbage\n"
	    "\tlibnvidia-allocator.so.1 (libc6,x86-64) =>",
	    fixture_path("lib/libcuda.so.1"), fixture_path("lib/libcuda.so"),
	    fixture_path("lib2/libcuda.so.1"), fixture_path("lib/libnvidia-ml.so.1"),
	    fixture_path("lib/libnvidia-ml.so.1"), fixture_path("gone/libnvidia-nvvm.so.4"),
	    fixture_path("lib/libfoo.so.1"), fixture_path("lib/libfoo.so.1"));

	_cleanup_strv_ struct berth_strv libs = BERTH_STRV_INIT, names = BERTH_STRV_INIT;
	berth__gpu_parse_ldcache(text, strlen(text), "x86-64", &libs, &names);
	_cleanup_free_ char *want = berth_xasprintf("%s,%s", fixture_path("lib/libnvidia-ml.so.1"),
						    fixture_path("lib/libcuda.so.1"));
	tap_is_str(joined(&libs), want,
		   "ldcache: native sonames whose files exist, the first of equal names");
	tap_is_str(joined(&names), "libnvidia-ml.so.1,libcuda.so.1", "ldcache: soname list");

	_cleanup_strv_ struct berth_strv any = BERTH_STRV_INIT, any_names = BERTH_STRV_INIT;
	berth__gpu_parse_ldcache(text, strlen(text), NULL, &any, &any_names);
	tap_is_str(joined(&any_names),
		   "libnvidia-ml.so.1,libnvidia-cfg.so.1,libcuda.so.1,libcudadebugger.so.1",
		   "ldcache: with no arch filter every ABI counts");
}

static void test_real_ldconfig(bool nodes)
{
	if (!nodes) {
		skip("discovery through the host's ldconfig", strerror(mknod_errno));
		return;
	}
	struct berth_gpu_opts o = fake_opts("dev");
	o.lib_dirs = NULL;
	struct berth_gpu_set g;
	struct berth_err *e = NULL;
	int r = berth_gpu_discover(&o, 1, &g, &e);
	tap_is_int(r, 0, "discovery through the host's ldconfig succeeds");
	if (r < 0)
		tap_diag("error", e->msg);
	berth_err_free(e);
	bool sane = g.libs.n == g.lib_names.n;
	for (size_t i = 0; sane && i < g.libs.n; i++)
		sane = g.libs.v[i][0] == '/' && strchr(g.lib_names.v[i], '/') == NULL &&
		       strcmp(g.lib_names.v[i], "libcuda.so") != 0;
	tap_ok(sane, "ldconfig: absolute paths with versioned sonames (%zu found)", g.libs.n);
	printf("# host driver libraries: %s\n", g.libs.n ? joined(&g.lib_names) : "none");
	berth_gpu_set_release(&g);
}

int main(void)
{
	bool nodes = make_fixture();
	test_zero();
	if (nodes) {
		test_one();
		test_two();
		test_too_many();
	} else {
		skip("device discovery against fake nodes", strerror(mknod_errno));
	}
	test_no_gpu();
	test_regular_file();
	test_parse_ldcache();
	test_real_ldconfig(nodes);

	struct berth_err *e = NULL;
	tap_is_int(fixture_cleanup(&e), 0, "clean up the test directory");
	berth_err_free(e);
	return tap_done();
}
