/* GPU discovery for `--gpus N`, after the NVIDIA container toolkit
 * (libnvidia-container): the device nodes a container needs, the driver's
 * user-space libraries (from the ld.so cache or given directories) and its
 * tools. Only what exists on the host is handed out; nothing is created. */
#include "runtime/runtime_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Cap on what `ldconfig -p` prints: a host with thousands of libraries
 * prints a few hundred kilobytes. */
#define GPU_LDCONFIG_MAX (4u << 20)
/* Cap on ldconfig's complaints kept for an error message. */
#define GPU_LDCONFIG_ERR_MAX 4096u

/* Where to look for the tools when $PATH is unset. */
#define GPU_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The flag `ldconfig -p` shows for libraries of this process's ABI (glibc's
 * ldconfig print_entry). Unknown ABIs take every entry. */
#if defined(__x86_64__) && defined(__ILP32__)
#define GPU_LD_ARCH "x32"
#elif defined(__x86_64__)
#define GPU_LD_ARCH "x86-64"
#elif defined(__aarch64__)
#define GPU_LD_ARCH "AArch64"
#elif defined(__powerpc64__) || defined(__s390x__)
#define GPU_LD_ARCH "64bit"
#else
#define GPU_LD_ARCH NULL
#endif

/* The driver's libraries a compute container needs, as soname stems:
 * libnvidia-container's "utility" and "compute" sets. A library matches when
 * its soname is the stem followed by a version ("libcuda.so.1"); the bare
 * stem is the development symlink, which dlopen never asks for. */
static const char *const gpu_libs[] = {
    "libnvidia-ml.so",              /* management (NVML, nvidia-smi) */
    "libnvidia-cfg.so",             /* GPU configuration */
    "libnvidia-nscq.so",            /* NVSwitch topology */
    "libcuda.so",                   /* the CUDA driver API */
    "libcudadebugger.so",           /* CUDA debugger backend */
    "libnvidia-opencl.so",          /* OpenCL ICD */
    "libnvidia-ptxjitcompiler.so",  /* PTX JIT (used by libcuda) */
    "libnvidia-fatbinaryloader.so", /* fatbin loader (older drivers) */
    "libnvidia-allocator.so",       /* allocator runtime */
    "libnvidia-compiler.so",        /* NVVM-PTX compiler for OpenCL */
    "libnvidia-nvvm.so",            /* NVVM compiler */
    "libnvidia-gpucomp.so",         /* shared shader/JIT compiler */
    "libnvidia-pkcs11.so",          /* confidential computing crypto */
    "libnvidia-pkcs11-openssl3.so", /* the same on OpenSSL 3 */
};

/* The driver's tools: libnvidia-container's "utility" and "compute" sets. */
static const char *const gpu_bins[] = {
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
};

/* Control nodes handed out besides nvidia<N>. */
static const struct {
	const char *name;
	bool required;
} gpu_ctl_nodes[] = {
    {"nvidiactl", true},         /* every driver call goes through it */
    {"nvidia-uvm", false},       /* unified memory: CUDA needs it when loaded */
    {"nvidia-uvm-tools", false}, /* profilers */
    {"nvidia-modeset", false},   /* display; harmless to pass */
};

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	return berth_xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

/* The absolute, non-empty components of a ':'-separated list. A relative
 * one (or an empty one, which means "." in $PATH) would make what is bound
 * into the container depend on our working directory. */
static void split_dirs(const char *list, struct berth_strv *out)
{
	const char *p = list;
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n && p[0] == '/')
			berth_strv_push_owned(out, berth_xstrndup(p, n));
		p += n + (colon ? 1 : 0);
	}
}

/* ------------------------------------------------------------- devices */

/* stat a device node: 0 and *exists = false when it is missing. Anything but
 * a character device is an error: binding it would not give a GPU. */
static int stat_node(const char *path, struct stat *st, bool *exists, struct berth_err **err)
{
	*exists = false;
	if (stat(path, st) < 0) {
		if (errno == ENOENT)
			return 0;
		return berth_err_sys(err, errno, "stat '%s'", path);
	}
	if (!S_ISCHR(st->st_mode))
		return berth_err_set(err, BERTH_E_INVALID,
				     "'%s' is not a character device; is the NVIDIA driver "
				     "installed correctly?",
				     path);
	*exists = true;
	return 0;
}

static void add_device(struct berth_gpu_set *g, size_t *cap, const char *dev_dir, const char *name,
		       const struct stat *st)
{
	g->devices = berth_xgrow(g->devices, sizeof(*g->devices), g->ndevices + 1, cap);
	g->devices[g->ndevices++] = (struct berth_gpu_device){
	    .host_path = path_join(dev_dir, name),
	    .container_path = berth_xasprintf("/dev/%s", name),
	    .major = (int64_t)major(st->st_rdev),
	    .minor = (int64_t)minor(st->st_rdev),
	    .mode = st->st_mode & 0777,
	};
}

static int find_devices(const char *dev_dir, unsigned count, struct berth_gpu_set *g,
			struct berth_err **err)
{
	_cleanup_free_ char *ctl = path_join(dev_dir, "nvidiactl");
	_cleanup_free_ char *gpu0 = path_join(dev_dir, "nvidia0");
	struct stat st;
	bool have_ctl, have_gpu0;
	int r = stat_node(ctl, &st, &have_ctl, err);
	if (r < 0 || (r = stat_node(gpu0, &st, &have_gpu0, err)) < 0)
		return r;
	if (!have_ctl && !have_gpu0)
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "no NVIDIA GPU on this host (no %s or %s); install the NVIDIA "
				     "driver or run without --gpus",
				     ctl, gpu0);
	if (!have_ctl)
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "'%s' is missing though '%s' exists; load the NVIDIA driver "
				     "(nvidia-modprobe) or run without --gpus",
				     ctl, gpu0);

	/* Check every GPU asked for before building anything. */
	_cleanup_free_ struct stat *gpu_st = berth_xcalloc(count, sizeof(*gpu_st));
	for (unsigned i = 0; i < count; i++) {
		_cleanup_free_ char *name = berth_xasprintf("nvidia%u", i);
		_cleanup_free_ char *path = path_join(dev_dir, name);
		bool exists;
		if ((r = stat_node(path, &gpu_st[i], &exists, err)) < 0)
			return r;
		if (exists)
			continue;
		if (i == 0)
			return berth_err_set(err, BERTH_E_NOT_FOUND,
					     "no NVIDIA GPU on this host ('%s' exists, '%s' does "
					     "not); check the driver with nvidia-smi",
					     ctl, path);
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "this host has %u NVIDIA GPU%s ('%s' is missing); ask for at "
				     "most %u",
				     i, i == 1 ? "" : "s", path, i);
	}

	size_t cap = 0;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(gpu_ctl_nodes); i++) {
		_cleanup_free_ char *path = path_join(dev_dir, gpu_ctl_nodes[i].name);
		bool exists;
		if ((r = stat_node(path, &st, &exists, err)) < 0)
			return r;
		/* nvidiactl vanished since the check above: a driver unload. */
		if (!exists && gpu_ctl_nodes[i].required)
			return berth_err_set(err, BERTH_E_NOT_FOUND, "'%s' disappeared", path);
		if (exists)
			add_device(g, &cap, dev_dir, gpu_ctl_nodes[i].name, &st);
	}
	for (unsigned i = 0; i < count; i++) {
		_cleanup_free_ char *name = berth_xasprintf("nvidia%u", i);
		add_device(g, &cap, dev_dir, name, &gpu_st[i]);
	}
	return 0;
}

/* ----------------------------------------------------------- libraries */

/* The best candidate so far for each of gpu_libs. */
struct lib_pick {
	char *path; /* host path */
	char *name; /* soname in the container */
};

static void picks_release(struct lib_pick (*picks)[BERTH_ARRAY_SIZE(gpu_libs)])
{
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(gpu_libs); i++) {
		free((*picks)[i].path);
		free((*picks)[i].name);
	}
}

/* Which of gpu_libs `name` is a versioned soname of, or -1. */
static int lib_index(const char *name, size_t len)
{
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(gpu_libs); i++) {
		size_t stem = strlen(gpu_libs[i]);
		if (len > stem + 1 && memcmp(name, gpu_libs[i], stem) == 0 && name[stem] == '.')
			return (int)i;
	}
	return -1;
}

static bool is_regular_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Offer a candidate; the shortest soname wins ("libcuda.so.1" over
 * "libcuda.so.535.104.05"), then the alphabetically first; an equal name
 * keeps the earlier offer, as ld.so takes the first cache entry. A stale
 * entry whose file is gone is passed over. */
static void pick_offer(struct lib_pick *p, const char *name, size_t nlen, const char *path,
		       size_t plen)
{
	if (p->name) {
		size_t cur = strlen(p->name);
		if (nlen > cur || (nlen == cur && strncmp(name, p->name, nlen) >= 0))
			return;
	}
	_cleanup_free_ char *path_z = berth_xstrndup(path, plen);
	if (!is_regular_file(path_z))
		return;
	free(p->path);
	free(p->name);
	p->path = steal_pointer(&path_z);
	p->name = berth_xstrndup(name, nlen);
}

static void picks_take(struct lib_pick *picks, struct berth_strv *libs, struct berth_strv *names)
{
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(gpu_libs); i++) {
		/* One file under two sonames is fine; one soname twice would be
		 * two binds onto the same path. */
		if (!picks[i].path || berth_strv_contains(names, picks[i].name))
			continue;
		berth_strv_push_owned(libs, steal_pointer(&picks[i].path));
		berth_strv_push_owned(names, steal_pointer(&picks[i].name));
	}
}

/* Whether the comma-separated flags of an ldconfig entry ("libc6,x86-64,
 * OS ABI: Linux 3.2.0") name `arch`. */
static bool ld_flags_match(const char *flags, size_t len, const char *arch)
{
	if (!arch)
		return true;
	size_t alen = strlen(arch);
	const char *p = flags, *end = flags + len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		while (p < e && *p == ' ')
			p++;
		if ((size_t)(e - p) == alen && memcmp(p, arch, alen) == 0)
			return true;
		p = comma ? comma + 1 : end;
	}
	return false;
}

/* Parse the output of `ldconfig -p`: after a count line, one entry a line,
 * "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1".
 * Entries of other ABIs than `arch` (NULL: any) are skipped. Appends the
 * driver libraries found to libs and names. Declared here for the unit test. */
void berth__gpu_parse_ldcache(const char *text, size_t len, const char *arch,
			      struct berth_strv *libs, struct berth_strv *names);
void berth__gpu_parse_ldcache(const char *text, size_t len, const char *arch,
			      struct berth_strv *libs, struct berth_strv *names)
{
	_cleanup_(picks_release) struct lib_pick picks[BERTH_ARRAY_SIZE(gpu_libs)] = {0};
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		p = nl ? nl + 1 : end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\r'))
			e--;
		const char *sp = memchr(s, ' ', (size_t)(e - s));
		if (!sp || sp == s || e - sp < 2 || sp[1] != '(')
			continue;
		const char *flags = sp + 2;
		const char *arrow = memmem(flags, (size_t)(e - flags), ") => ", 5);
		if (!arrow)
			continue;
		const char *path = arrow + 5;
		if (path >= e || *path != '/')
			continue;
		int i = lib_index(s, (size_t)(sp - s));
		if (i < 0 || !ld_flags_match(flags, (size_t)(arrow - flags), arch))
			continue;
		pick_offer(&picks[i], s, (size_t)(sp - s), path, (size_t)(e - path));
	}
	picks_take(picks, libs, names);
}

/* Ask the ld.so cache, as the dynamic loader in a container would. */
static int libs_from_ldcache(struct berth_gpu_set *g, struct berth_err **err)
{
	/* ldconfig lives in /sbin, which an unprivileged $PATH may lack. */
	const char *prog = "ldconfig";
	if (access("/sbin/ldconfig", X_OK) == 0)
		prog = "/sbin/ldconfig";
	else if (access("/usr/sbin/ldconfig", X_OK) == 0)
		prog = "/usr/sbin/ldconfig";
	char *argv[] = {(char *)prog, (char *)"-p", NULL};
	_cleanup_buf_ struct berth_buf out, errout;
	berth_buf_init(&out, GPU_LDCONFIG_MAX);
	berth_buf_init(&errout, GPU_LDCONFIG_ERR_MAX);
	struct berth_spawn sp = BERTH_SPAWN_INIT;
	sp.argv = argv;
	sp.capture_out = &out;
	sp.capture_err = &errout;
	int status, r = berth_spawn_run(&sp, &status, err);
	if (r < 0) {
		berth_err_prefix(err, "list the driver's libraries");
		return r;
	}
	if (status != 0) {
		while (errout.len && (errout.data[errout.len - 1] == '\n'))
			errout.data[--errout.len] = '\0';
		return berth_err_set(
		    err, BERTH_E_SYS,
		    "list the driver's libraries: '%s -p' exited with status %d%s%s", prog, status,
		    errout.len ? ": " : "", errout.data);
	}
	if (out.full)
		return berth_err_set(
		    err, BERTH_E_LIMIT,
		    "list the driver's libraries: '%s -p' printed more than %u bytes", prog,
		    GPU_LDCONFIG_MAX);
	berth__gpu_parse_ldcache(out.data, out.len, GPU_LD_ARCH, &g->libs, &g->lib_names);
	return 0;
}

/* Look in the given directories: for each library, the first directory that
 * has a versioned soname of it wins. */
static int libs_from_dirs(const char *lib_dirs, struct berth_gpu_set *g, struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv dirs = BERTH_STRV_INIT;
	_cleanup_(picks_release) struct lib_pick picks[BERTH_ARRAY_SIZE(gpu_libs)] = {0};
	split_dirs(lib_dirs, &dirs);
	for (size_t d = 0; d < dirs.n; d++) {
		bool settled[BERTH_ARRAY_SIZE(gpu_libs)];
		for (size_t i = 0; i < BERTH_ARRAY_SIZE(gpu_libs); i++)
			settled[i] = picks[i].path != NULL;
		DIR *dir = opendir(dirs.v[d]);
		if (!dir) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return berth_err_sys(err, errno, "read the library directory '%s'",
					     dirs.v[d]);
		}
		struct dirent *de;
		errno = 0;
		while ((de = readdir(dir))) {
			size_t nlen = strlen(de->d_name);
			int i = lib_index(de->d_name, nlen);
			if (i >= 0 && !settled[i]) {
				_cleanup_free_ char *path = path_join(dirs.v[d], de->d_name);
				pick_offer(&picks[i], de->d_name, nlen, path, strlen(path));
			}
			errno = 0;
		}
		int saved = errno;
		closedir(dir);
		if (saved)
			return berth_err_sys(err, saved, "read the library directory '%s'",
					     dirs.v[d]);
	}
	picks_take(picks, &g->libs, &g->lib_names);
	return 0;
}

/* ------------------------------------------------------------ binaries */

static void find_bins(const char *bin_dirs, struct berth_gpu_set *g)
{
	_cleanup_strv_ struct berth_strv dirs = BERTH_STRV_INIT;
	split_dirs(bin_dirs, &dirs);
	for (size_t b = 0; b < BERTH_ARRAY_SIZE(gpu_bins); b++) {
		for (size_t d = 0; d < dirs.n; d++) {
			_cleanup_free_ char *path = path_join(dirs.v[d], gpu_bins[b]);
			if (!is_regular_file(path) || access(path, X_OK) < 0)
				continue;
			if (!berth_strv_contains(&g->bins, path))
				berth_strv_push_owned(&g->bins, steal_pointer(&path));
			break;
		}
	}
}

/* --------------------------------------------------------------- public */

int berth_gpu_discover(const struct berth_gpu_opts *o, unsigned count, struct berth_gpu_set *out,
		       struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (!count)
		return 0;
	const char *dev_dir = o && o->dev_dir ? o->dev_dir : "/dev";
	const char *bin_dirs = o && o->bin_dirs ? o->bin_dirs : getenv("PATH");
	if (!bin_dirs)
		bin_dirs = GPU_DEFAULT_PATH;

	int r = find_devices(dev_dir, count, out, err);
	if (r == 0)
		r = o && o->lib_dirs ? libs_from_dirs(o->lib_dirs, out, err)
				     : libs_from_ldcache(out, err);
	if (r < 0) {
		berth_gpu_set_release(out);
		berth_err_prefix(err, "--gpus %u", count);
		return r;
	}
	find_bins(bin_dirs, out);

	_cleanup_buf_ struct berth_buf visible;
	berth_buf_init(&visible, BERTH_BUF_UNLIMITED);
	for (unsigned i = 0; i < count; i++)
		berth_buf_addf(&visible, "%s%u", i ? "," : "", i);
	out->visible = berth_buf_steal(&visible, NULL);
	return 0;
}

void berth_gpu_set_release(struct berth_gpu_set *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->ndevices; i++) {
		free(g->devices[i].host_path);
		free(g->devices[i].container_path);
	}
	free(g->devices);
	berth_strv_release(&g->libs);
	berth_strv_release(&g->lib_names);
	berth_strv_release(&g->bins);
	free(g->visible);
	memset(g, 0, sizeof(*g));
}
