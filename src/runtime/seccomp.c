/* Seccomp profiles: Docker's / containers-common's profile format turned into
 * the OCI `linux.seccomp` object for one machine, as moby's setupSeccomp does
 * it: pick the architectures from archMap, keep the rules whose
 * includes/excludes (capabilities, architectures, kernel version) match, and
 * copy actions, errno values and argument filters through. */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#define SECCOMP_DEFAULT_PATH BERTH_SECCOMP_DEFAULT_PATH
#define SECCOMP_ENV          "BERTH_SECCOMP_PROFILE"

/* One machine: the uname names it goes by, its libseccomp architecture (as
 * archMap spells it), and the names profiles use for it in
 * includes/excludes.arches (Go's GOARCH, or libseccomp's "x86"). */
struct seccomp_arch {
	const char *machines[6];
	const char *scmp;
	const char *names[4];
};

static const struct seccomp_arch seccomp_arches[] = {
    {{"x86_64", "amd64"}, "SCMP_ARCH_X86_64", {"amd64", "x86_64"}},
    {{"aarch64", "arm64"}, "SCMP_ARCH_AARCH64", {"arm64", "aarch64"}},
    {{"i386", "i486", "i586", "i686", "x86"}, "SCMP_ARCH_X86", {"386", "x86", "i386"}},
    {{"armv7l", "armv6l", "armv8l", "armv5tel", "armv7", "arm"}, "SCMP_ARCH_ARM", {"arm"}},
    {{"ppc64le"}, "SCMP_ARCH_PPC64LE", {"ppc64le"}},
    {{"ppc64"}, "SCMP_ARCH_PPC64", {"ppc64"}},
    {{"s390x"}, "SCMP_ARCH_S390X", {"s390x"}},
    {{"s390"}, "SCMP_ARCH_S390", {"s390"}},
    {{"riscv64"}, "SCMP_ARCH_RISCV64", {"riscv64"}},
    {{"loongarch64"}, "SCMP_ARCH_LOONGARCH64", {"loong64", "loongarch64"}},
};

struct convert_ctx {
	const struct seccomp_arch *arch; /* NULL: a machine not in the table */
	const char *machine;
	const struct berth_strv *caps; /* may be NULL */
	const char *what;              /* names the profile in errors */
	bool have_kernel;
	unsigned kmajor, kminor;
	struct berth_err **err;
};

static const struct seccomp_arch *arch_lookup(const char *machine)
{
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(seccomp_arches); i++)
		for (const char *const *m = seccomp_arches[i].machines; *m; m++)
			if (strcmp(*m, machine) == 0)
				return &seccomp_arches[i];
	return NULL;
}

/* Does a profile's arch name (includes/excludes.arches) mean this machine? */
static bool arch_matches(const struct convert_ctx *c, const char *name)
{
	if (!c->arch)
		return strcmp(name, c->machine) == 0;
	for (const char *const *n = c->arch->names; *n; n++)
		if (strcmp(*n, name) == 0)
			return true;
	return false;
}

/* "CAP_SYS_ADMIN", "cap_sys_admin" and "SYS_ADMIN" are one capability. */
static const char *cap_base(const char *cap)
{
	return strncasecmp(cap, "CAP_", 4) == 0 ? cap + 4 : cap;
}

static bool has_cap(const struct convert_ctx *c, const char *want)
{
	if (!c->caps)
		return false;
	for (size_t i = 0; i < c->caps->n; i++)
		if (strcasecmp(cap_base(c->caps->v[i]), cap_base(want)) == 0)
			return true;
	return false;
}

/* "MAJOR.MINOR" at the start of s (what follows is ignored, as in
 * "6.1.0-13-amd64"); moby compares only these two. */
static bool parse_kernel(const char *s, unsigned *major, unsigned *minor)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long a = strtoul(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9' || errno || a > 0xffff)
		return false;
	unsigned long b = strtoul(end + 1, &end, 10);
	if (errno || b > 0xffff)
		return false;
	*major = (unsigned)a;
	*minor = (unsigned)b;
	return true;
}

static int invalid(struct convert_ctx *c, const char *field, const char *expected)
{
	return berth_err_set(c->err, BERTH_E_INVALID, "%s: '%s': expected %s", c->what, field,
			     expected);
}

/* Is the running kernel at least `min`? 1 yes, 0 no, or an error. */
static int kernel_at_least(struct convert_ctx *c, const char *field, const char *min)
{
	unsigned major, minor;
	if (!parse_kernel(min, &major, &minor))
		return berth_err_set(c->err, BERTH_E_INVALID,
				     "%s: '%s': expected a kernel version such as \"4.8\", not "
				     "\"%s\"",
				     c->what, field, min);
	if (!c->have_kernel) {
		struct utsname u;
		if (uname(&u) < 0)
			return berth_err_sys(c->err, errno, "%s: uname", c->what);
		if (!parse_kernel(u.release, &c->kmajor, &c->kminor))
			return berth_err_set(c->err, BERTH_E_UNSUPPORTED,
					     "%s: cannot compare '%s' with the running kernel's "
					     "release \"%s\"",
					     c->what, field, u.release);
		c->have_kernel = true;
	}
	return c->kmajor > major || (c->kmajor == major && c->kminor >= minor);
}

/* An optional array of strings (missing or null reads as empty). */
static int check_strings(struct convert_ctx *c, const json_t *v, const char *field)
{
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return invalid(c, field, "an array of strings");
	size_t i;
	const json_t *s;
	json_array_foreach(v, i, s)
	{
		if (!json_is_string(s))
			return invalid(c, field, "an array of strings");
	}
	return 0;
}

static void append_strings(json_t *dst, const json_t *src)
{
	size_t i;
	const json_t *s;
	json_array_foreach(src, i, s)
	{
		json_array_append_new(dst, json_string(json_string_value(s)));
	}
}

static bool strings_contain_arch(const struct convert_ctx *c, const json_t *v)
{
	size_t i;
	const json_t *s;
	json_array_foreach(v, i, s)
	{
		if (arch_matches(c, json_string_value(s)))
			return true;
	}
	return false;
}

/* An optional non-negative integer; *out NULL when missing or null. */
static int check_uint(struct convert_ctx *c, const json_t *v, const char *field, const json_t **out)
{
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return invalid(c, field, "a non-negative integer");
	*out = v;
	return 0;
}

/* Check includes/excludes at `field`; *keep false when it rules the rule
 * out. `include` selects the sense of each test. */
static int filter_rule(struct convert_ctx *c, const json_t *cond, bool include, const char *field,
		       bool *keep)
{
	if (!cond || json_is_null(cond))
		return 0;
	if (!json_is_object(cond))
		return invalid(c, field, "an object");

	_cleanup_free_ char *caps_field = berth_xasprintf("%s.caps", field);
	_cleanup_free_ char *arches_field = berth_xasprintf("%s.arches", field);
	_cleanup_free_ char *kernel_field = berth_xasprintf("%s.minKernel", field);
	const json_t *caps = json_object_get(cond, "caps");
	const json_t *arches = json_object_get(cond, "arches");
	const json_t *min_kernel = json_object_get(cond, "minKernel");
	int r;
	if ((r = check_strings(c, caps, caps_field)) < 0 ||
	    (r = check_strings(c, arches, arches_field)) < 0)
		return r;
	if (min_kernel && !json_is_null(min_kernel) && !json_is_string(min_kernel))
		return invalid(c, kernel_field, "a kernel version string such as \"4.8\"");

	if (json_array_size(arches) && strings_contain_arch(c, arches) != include)
		*keep = false;
	/* includes: every cap must be held; excludes: none may be. */
	size_t i;
	const json_t *s;
	json_array_foreach(caps, i, s)
	{
		if (has_cap(c, json_string_value(s)) != include)
			*keep = false;
	}
	if (json_is_string(min_kernel)) {
		r = kernel_at_least(c, kernel_field, json_string_value(min_kernel));
		if (r < 0)
			return r;
		if ((r == 1) != include)
			*keep = false;
	}
	return 0;
}

/* The OCI form of one argument filter; only the spec's fields are kept. */
static json_t *convert_arg(struct convert_ctx *c, const json_t *arg, const char *field)
{
	if (!json_is_object(arg)) {
		invalid(c, field, "an object with index, value and op");
		return NULL;
	}
	const json_t *index = json_object_get(arg, "index");
	const json_t *value = json_object_get(arg, "value");
	const json_t *value_two = json_object_get(arg, "valueTwo");
	const json_t *op = json_object_get(arg, "op");
	_cleanup_free_ char *f_index = berth_xasprintf("%s.index", field);
	_cleanup_free_ char *f_value = berth_xasprintf("%s.value", field);
	_cleanup_free_ char *f_value_two = berth_xasprintf("%s.valueTwo", field);
	_cleanup_free_ char *f_op = berth_xasprintf("%s.op", field);
	if (!json_is_integer(index) || json_integer_value(index) < 0) {
		invalid(c, f_index, "a non-negative integer");
		return NULL;
	}
	if (!json_is_integer(value) || json_integer_value(value) < 0) {
		invalid(c, f_value, "a non-negative integer");
		return NULL;
	}
	if (check_uint(c, value_two, f_value_two, &value_two) < 0)
		return NULL;
	if (!json_is_string(op)) {
		invalid(c, f_op, "a string such as \"SCMP_CMP_EQ\"");
		return NULL;
	}
	json_t *out = json_object();
	json_object_set_new(out, "index", json_integer(json_integer_value(index)));
	json_object_set_new(out, "value", json_integer(json_integer_value(value)));
	if (value_two)
		json_object_set_new(out, "valueTwo", json_integer(json_integer_value(value_two)));
	json_object_set_new(out, "op", json_string(json_string_value(op)));
	return out;
}

/* One syscalls[] entry: 1 and *out set when kept, 0 when filtered out, or
 * an error. Every entry is checked, kept or not, so a broken profile fails
 * on every machine alike. */
static int convert_rule(struct convert_ctx *c, const json_t *rule, size_t idx, json_t **out)
{
	_cleanup_free_ char *field = berth_xasprintf("syscalls[%zu]", idx);
	if (!json_is_object(rule))
		return invalid(c, field, "an object");
	_cleanup_free_ char *f_names = berth_xasprintf("%s.names", field);
	_cleanup_free_ char *f_name = berth_xasprintf("%s.name", field);
	_cleanup_free_ char *f_action = berth_xasprintf("%s.action", field);
	_cleanup_free_ char *f_errno = berth_xasprintf("%s.errnoRet", field);
	_cleanup_free_ char *f_args = berth_xasprintf("%s.args", field);
	_cleanup_free_ char *f_inc = berth_xasprintf("%s.includes", field);
	_cleanup_free_ char *f_exc = berth_xasprintf("%s.excludes", field);

	const json_t *names = json_object_get(rule, "names");
	const json_t *name = json_object_get(rule, "name");
	const json_t *action = json_object_get(rule, "action");
	const json_t *args = json_object_get(rule, "args");
	const json_t *errno_ret;
	int r;

	if ((r = check_strings(c, names, f_names)) < 0)
		return r;
	if (name && !json_is_null(name) && !json_is_string(name))
		return invalid(c, f_name, "a string");
	bool has_names = json_array_size(names) > 0;
	bool has_name = json_is_string(name) && *json_string_value(name);
	if (has_names && has_name)
		return berth_err_set(c->err, BERTH_E_INVALID,
				     "%s: '%s': has both 'name' and 'names'; use one", c->what,
				     field);
	if (!has_names && !has_name)
		return berth_err_set(c->err, BERTH_E_INVALID,
				     "%s: '%s': has no syscall names ('names' or 'name')", c->what,
				     field);
	if (!json_is_string(action))
		return invalid(c, f_action, "a string such as \"SCMP_ACT_ALLOW\"");
	if ((r = check_uint(c, json_object_get(rule, "errnoRet"), f_errno, &errno_ret)) < 0)
		return r;
	if (args && !json_is_null(args) && !json_is_array(args))
		return invalid(c, f_args, "an array of argument filters");

	_cleanup_json_ json_t *oargs = json_array();
	size_t i;
	const json_t *arg;
	json_array_foreach(args, i, arg)
	{
		_cleanup_free_ char *f_arg = berth_xasprintf("%s[%zu]", f_args, i);
		json_t *a = convert_arg(c, arg, f_arg);
		if (!a)
			return -BERTH_E_INVALID;
		json_array_append_new(oargs, a);
	}

	bool keep = true;
	if ((r = filter_rule(c, json_object_get(rule, "includes"), true, f_inc, &keep)) < 0 ||
	    (r = filter_rule(c, json_object_get(rule, "excludes"), false, f_exc, &keep)) < 0)
		return r;
	if (!keep)
		return 0;

	json_t *o = json_object();
	json_t *onames = json_array();
	if (has_names)
		append_strings(onames, names);
	else
		json_array_append_new(onames, json_string(json_string_value(name)));
	json_object_set_new(o, "names", onames);
	json_object_set_new(o, "action", json_string(json_string_value(action)));
	if (errno_ret)
		json_object_set_new(o, "errnoRet", json_integer(json_integer_value(errno_ret)));
	if (json_array_size(oargs))
		json_object_set(o, "args", oargs);
	*out = o;
	return 1;
}

/* The architectures: the profile's own list, or archMap's entry for this
 * machine (itself and its sub-architectures). */
static int convert_arches(struct convert_ctx *c, const json_t *profile, json_t *out)
{
	const json_t *list = json_object_get(profile, "architectures");
	const json_t *map = json_object_get(profile, "archMap");
	int r;
	if ((r = check_strings(c, list, "architectures")) < 0)
		return r;
	if (map && !json_is_null(map) && !json_is_array(map))
		return invalid(c, "archMap", "an array of {architecture, subArchitectures}");
	if (json_array_size(list) && json_array_size(map))
		return berth_err_set(c->err, BERTH_E_INVALID,
				     "%s: has both 'architectures' and 'archMap'; use one",
				     c->what);

	json_t *arches = json_array();
	json_object_set_new(out, "architectures", arches);
	append_strings(arches, list);

	size_t i;
	const json_t *m;
	json_array_foreach(map, i, m)
	{
		_cleanup_free_ char *field = berth_xasprintf("archMap[%zu]", i);
		_cleanup_free_ char *f_arch = berth_xasprintf("%s.architecture", field);
		_cleanup_free_ char *f_sub = berth_xasprintf("%s.subArchitectures", field);
		if (!json_is_object(m))
			return invalid(c, field, "an object");
		const json_t *arch = json_object_get(m, "architecture");
		const json_t *sub = json_object_get(m, "subArchitectures");
		if (!json_is_string(arch))
			return invalid(c, f_arch, "a string such as \"SCMP_ARCH_X86_64\"");
		if ((r = check_strings(c, sub, f_sub)) < 0)
			return r;
		/* The first match wins, as in moby; the rest is still checked. */
		if (c->arch && !json_array_size(arches) &&
		    strcmp(json_string_value(arch), c->arch->scmp) == 0) {
			json_array_append_new(arches, json_string(json_string_value(arch)));
			append_strings(arches, sub);
		}
	}
	/* None: the runtime uses the native architecture alone. */
	if (!json_array_size(arches))
		json_object_del(out, "architectures");
	return 0;
}

static json_t *convert(const json_t *profile, const char *machine, const struct berth_strv *caps,
		       const char *what, struct berth_err **err)
{
	struct convert_ctx c = {
	    .arch = arch_lookup(machine),
	    .machine = machine,
	    .caps = caps,
	    .what = what,
	    .err = err,
	};
	if (!json_is_object(profile)) {
		berth_err_set(err, BERTH_E_INVALID, "%s: expected a JSON object", what);
		return NULL;
	}
	const json_t *action = json_object_get(profile, "defaultAction");
	const json_t *errno_ret;
	if (!json_is_string(action) || !*json_string_value(action)) {
		invalid(&c, "defaultAction", "a string such as \"SCMP_ACT_ERRNO\"");
		return NULL;
	}
	if (check_uint(&c, json_object_get(profile, "defaultErrnoRet"), "defaultErrnoRet",
		       &errno_ret) < 0)
		return NULL;

	_cleanup_json_ json_t *out = json_object();
	json_object_set_new(out, "defaultAction", json_string(json_string_value(action)));
	if (errno_ret)
		json_object_set_new(out, "defaultErrnoRet",
				    json_integer(json_integer_value(errno_ret)));
	if (convert_arches(&c, profile, out) < 0)
		return NULL;

	/* OCI fields a profile may carry as they are (moby embeds them). */
	const json_t *flags = json_object_get(profile, "flags");
	if (check_strings(&c, flags, "flags") < 0)
		return NULL;
	if (json_array_size(flags))
		json_object_set_new(out, "flags", json_deep_copy(flags));
	static const char *const string_fields[] = {"listenerPath", "listenerMetadata"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(string_fields); i++) {
		const json_t *v = json_object_get(profile, string_fields[i]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v)) {
			invalid(&c, string_fields[i], "a string");
			return NULL;
		}
		json_object_set_new(out, string_fields[i], json_string(json_string_value(v)));
	}

	const json_t *syscalls = json_object_get(profile, "syscalls");
	if (syscalls && !json_is_null(syscalls) && !json_is_array(syscalls)) {
		invalid(&c, "syscalls", "an array of rules");
		return NULL;
	}
	json_t *rules = json_array();
	json_object_set_new(out, "syscalls", rules);
	size_t i;
	const json_t *rule;
	json_array_foreach(syscalls, i, rule)
	{
		json_t *o = NULL;
		int r = convert_rule(&c, rule, i, &o);
		if (r < 0)
			return NULL;
		if (r)
			json_array_append_new(rules, o);
	}
	return steal_pointer(&out);
}

json_t *berth_seccomp_convert(const json_t *profile, const char *arch,
			      const struct berth_strv *caps, struct berth_err **err)
{
	return convert(profile, arch, caps, "seccomp profile", err);
}

int berth_seccomp_default(const struct berth_strv *caps, json_t **out, struct berth_err **err)
{
	*out = NULL;
	const char *env = getenv(SECCOMP_ENV);
	bool from_env = env && *env;
	if (from_env && strcmp(env, "unconfined") == 0)
		return 0;
	const char *path = from_env ? env : SECCOMP_DEFAULT_PATH;
	if (strcmp(path, "-") == 0) /* berth_fs_read_file's name for stdin */
		return berth_err_set(err, BERTH_E_INVALID,
				     "%s='-': expected a profile's path or 'unconfined'",
				     SECCOMP_ENV);

	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_SECCOMP_PROFILE_MAX);
	struct berth_err *rerr = NULL;
	if (berth_fs_read_file(path, BERTH_SECCOMP_PROFILE_MAX, &b, &rerr) < 0) {
		bool missing = rerr->sys_errno == ENOENT;
		if (missing && !from_env) {
			berth_err_free(rerr); /* no profile installed: unconfined */
			return 0;
		}
		if (missing) {
			berth_err_free(rerr);
			return berth_err_set(err, BERTH_E_NOT_FOUND,
					     "seccomp profile '%s' (from %s): no such file; set "
					     "%s to a profile's path or to 'unconfined'",
					     path, SECCOMP_ENV, SECCOMP_ENV);
		}
		if (err && !*err)
			*err = rerr;
		else
			berth_err_free(rerr);
		return berth_err_prefix(err, "seccomp profile");
	}

	_cleanup_free_ char *what = berth_xasprintf("seccomp profile '%s'", path);
	_cleanup_json_ json_t *profile = berth_json_loadb(b.data, b.len, what, err);
	if (!profile)
		return -BERTH_E_INVALID;
	struct utsname u;
	if (uname(&u) < 0)
		return berth_err_sys(err, errno, "%s: uname", what);
	*out = convert(profile, u.machine, caps, what, err);
	if (!*out)
		return err && *err ? -(int)(*err)->code : -BERTH_E_INVALID;
	return 0;
}
