/* The seccomp filter compiled once to BPF with libseccomp and cached, for
 * crun's `run.oci.seccomp_bpf_data` annotation: crun then loads the program
 * as is instead of compiling the profile on every start (about 30 ms here).
 * Other runtimes keep reading linux.seccomp. */
#include "runtime/runtime_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A compiled default profile is a few KiB; anything near this is wrong. */
#define BPF_MAX (1u << 20)

static int action_of(const char *name, const json_t *errno_ret, uint32_t *out)
{
	uint32_t e = json_is_integer(errno_ret) ? (uint32_t)json_integer_value(errno_ret) : EPERM;
	static const struct {
		const char *name;
		uint32_t act;
	} fixed[] = {
	    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
	    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL},
	    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
	    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
	    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
	    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
	};
	if (!name)
		return -1;
	if (strcmp(name, "SCMP_ACT_ERRNO") == 0) {
		*out = SCMP_ACT_ERRNO(e);
		return 0;
	}
	if (strcmp(name, "SCMP_ACT_TRACE") == 0) {
		*out = SCMP_ACT_TRACE(e);
		return 0;
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(name, fixed[i].name) == 0) {
			*out = fixed[i].act;
			return 0;
		}
	return -1;
}

static int op_of(const char *name, enum scmp_compare *out)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
	    {"SCMP_CMP_NE", SCMP_CMP_NE},
	    {"SCMP_CMP_LT", SCMP_CMP_LT},
	    {"SCMP_CMP_LE", SCMP_CMP_LE},
	    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
	    {"SCMP_CMP_GE", SCMP_CMP_GE},
	    {"SCMP_CMP_GT", SCMP_CMP_GT},
	    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
	};
	for (size_t i = 0; name && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(name, ops[i].name) == 0) {
			*out = ops[i].op;
			return 0;
		}
	return -1;
}

/* One rule: args with distinct indexes are ANDed in one rule; repeated
 * indexes become one rule per arg (libseccomp cannot AND two conditions on
 * the same argument), as runc and crun do. */
static int add_rule(scmp_filter_ctx ctx, int nr, uint32_t act, const json_t *args,
		    struct berth_err **err)
{
	struct scmp_arg_cmp cmp[6];
	size_t n = 0;
	bool repeated = false;
	size_t i;
	const json_t *a;
	json_array_foreach(args, i, a)
	{
		enum scmp_compare op;
		json_int_t index = json_integer_value(json_object_get(a, "index"));
		if (n == 6 || index < 0 || index > 5 ||
		    op_of(json_string_value(json_object_get(a, "op")), &op) < 0)
			return berth_err_set(err, BERTH_E_INVALID, "seccomp: bad argument rule");
		for (size_t k = 0; k < n; k++)
			repeated |= cmp[k].arg == (unsigned)index;
		cmp[n++] = (struct scmp_arg_cmp){
		    (unsigned)index, op,
		    (scmp_datum_t)json_integer_value(json_object_get(a, "value")),
		    (scmp_datum_t)json_integer_value(json_object_get(a, "valueTwo"))};
	}
	int r = 0;
	if (!repeated) {
		r = seccomp_rule_add_array(ctx, act, nr, (unsigned)n, cmp);
	} else {
		for (size_t k = 0; k < n && r == 0; k++)
			r = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[k]);
	}
	/* -EACCES: the rule repeats the default action; harmless. */
	return r == 0 || r == -EACCES || r == -EEXIST ? 0 : r;
}

static int compile(const json_t *oci, int fd, struct berth_err **err)
{
	uint32_t def;
	if (action_of(json_string_value(json_object_get(oci, "defaultAction")),
		      json_object_get(oci, "defaultErrnoRet"), &def) < 0)
		return berth_err_set(err, BERTH_E_INVALID, "seccomp: unknown defaultAction");
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return berth_err_set(err, BERTH_E_INTERNAL, "seccomp: libseccomp init failed");
	int rc = 0;
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(oci, "architectures"), i, v)
	{
		const char *name = json_string_value(v);
		if (!name || strncmp(name, "SCMP_ARCH_", 10) != 0)
			continue;
		char low[32];
		size_t k = 0;
		for (const char *p = name + 10; *p && k + 1 < sizeof(low); p++)
			low[k++] = (char)tolower((unsigned char)*p);
		low[k] = '\0';
		uint32_t arch = seccomp_arch_resolve_name(low);
		if (arch && seccomp_arch_exist(ctx, arch) == -EEXIST)
			seccomp_arch_add(ctx, arch);
	}
	json_array_foreach(json_object_get(oci, "syscalls"), i, v)
	{
		uint32_t act;
		if (action_of(json_string_value(json_object_get(v, "action")),
			      json_object_get(v, "errnoRet"), &act) < 0) {
			rc = berth_err_set(err, BERTH_E_INVALID,
					   "seccomp: unknown action in rule %zu", i);
			goto out;
		}
		size_t k;
		const json_t *name;
		json_array_foreach(json_object_get(v, "names"), k, name)
		{
			int nr = seccomp_syscall_resolve_name(json_string_value(name));
			if (nr == __NR_SCMP_ERROR)
				continue; /* a syscall this libseccomp does not know */
			int r = add_rule(ctx, nr, act, json_object_get(v, "args"), err);
			if (r < 0) {
				rc = err && *err
					 ? r
					 : berth_err_set(err, BERTH_E_INVALID,
							 "seccomp: rule for '%s': %s",
							 json_string_value(name), strerror(-r));
				goto out;
			}
		}
	}
	if (seccomp_export_bpf(ctx, fd) < 0)
		rc = berth_err_sys(err, errno, "seccomp: export the filter");
out:
	seccomp_release(ctx);
	return rc;
}

/* Cache files are named by a 64-bit FNV-1a of the key and start with the
 * key itself and a NUL, checked on every read: a cheap name (SHA-256 would
 * cost the first-use set-up of libcrypto, a millisecond per start) without
 * ever taking one profile's program for another's. */
uint64_t berth__fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* Read the program cached under `key` into bpf, or load the default
 * profile, compile it and cache it. */
static int cached_bpf(const char *cache_dir, const struct berth_buf *key,
		      const struct berth_strv *caps, struct berth_buf *bpf, struct berth_err **err)
{
	_cleanup_free_ char *path = berth_xasprintf(
	    "%s/%016llx.bpf", cache_dir, (unsigned long long)berth__fnv1a(key->data, key->len));
	_cleanup_buf_ struct berth_buf file;
	berth_buf_init(&file, BPF_MAX + key->len + 1);
	if (berth_fs_read_file(path, BPF_MAX + key->len + 1, &file, NULL) == 0 &&
	    file.len > key->len + 1 && memcmp(file.data, key->data, key->len) == 0 &&
	    file.data[key->len] == '\0')
		return berth_buf_add(bpf, file.data + key->len + 1, file.len - key->len - 1);
	_cleanup_json_ json_t *oci = NULL;
	if (berth_seccomp_default(caps, &oci, err) < 0)
		return -1;
	if (!oci)
		return 0; /* no profile after all */
	/* Compile into a temp file, then rename: concurrent starts either see
	 * a whole program or none. */
	if (berth_fs_mkdir_p(cache_dir, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *tmp = berth_xasprintf("%s.%d.tmp", path, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_err_sys(err, errno, "seccomp cache '%s'", tmp);
	int r = 0;
	if (write(fd, key->data, key->len + 1) != (ssize_t)(key->len + 1))
		r = berth_err_sys(err, errno, "seccomp cache '%s'", tmp);
	if (r == 0)
		r = compile(oci, fd, err);
	if (r == 0 && rename(tmp, path) < 0)
		r = berth_err_sys(err, errno, "seccomp cache '%s'", path);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	berth_buf_reset(&file);
	if (berth_fs_read_file(path, BPF_MAX + key->len + 1, &file, err) < 0)
		return -1;
	return berth_buf_add(bpf, file.data + key->len + 1, file.len - key->len - 1);
}

int berth__seccomp_default_bpf_b64(const struct berth_strv *caps, const char *cache_dir, char **out,
				   struct berth_err **err)
{
	*out = NULL;
	const char *env = getenv("BERTH_SECCOMP_PROFILE");
	bool from_env = env && *env;
	if (from_env && strcmp(env, "unconfined") == 0)
		return 0;
	const char *path = from_env ? env : BERTH_SECCOMP_DEFAULT_PATH;
	struct stat st;
	if (stat(path, &st) < 0 && errno == ENOENT && !from_env)
		return 0; /* no profile installed: unconfined */
	/* The key: which file, which version of it, for which caps and kernel
	 * (rules depend on both) and which libseccomp compiles it (the
	 * header's version: asking the library would make it probe the
	 * kernel on every start). */
	struct utsname u;
	uname(&u);
	_cleanup_buf_ struct berth_buf key;
	berth_buf_init(&key, 64 * 1024);
	berth_buf_addf(&key, "%s\n%llu %llu %lld %lld.%09ld\n%s %s\n%u.%u.%u\n", path,
		       (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		       (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		       u.machine, u.release, SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO);
	for (size_t i = 0; caps && i < caps->n; i++)
		berth_buf_addf(&key, "%s\n", caps->v[i]);
	_cleanup_buf_ struct berth_buf bpf;
	berth_buf_init(&bpf, BPF_MAX);
	if (cached_bpf(cache_dir, &key, caps, &bpf, err) < 0)
		return -1;
	*out = bpf.len ? berth_base64_encode(bpf.data, bpf.len) : NULL;
	return 0;
}
