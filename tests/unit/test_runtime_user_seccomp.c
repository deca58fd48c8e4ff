/* Unit tests for runtime/user.c and runtime/seccomp.c: every USER spec form
 * against a small image root (comments, malformed lines, a symlinked
 * /etc/passwd that must resolve inside the root), and profile conversion:
 * archMap, includes/excludes, minKernel, errnoRet and argument filters, the
 * installed containers-common profile, and $BERTH_SECCOMP_PROFILE. */
#include "runtime/runtime.h"
#include "fixture.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fixture_must(fd >= 0, path);
	return fd;
}

/* ------------------------------------------------------------------ users */

static const char passwd_text[] = "# the image's users\n"
				  "root:x:0:0:root:/root:/bin/sh\n"
				  "\n"
				  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
				  "this line is not an entry\n"
				  "broken:x:notanumber:5:bad uid:/broken:/bin/sh\n"
				  "short:x:7:7:too few fields\n"
				  "toolong:x:8:8:a:/b:/bin/sh:extra\n"
				  "  bob:x:1000:1000:Bob:/home/bob:/bin/sh  \r\n"
				  "alice:x:1001:100::/home/alice:/bin/sh\n"
				  "homeless:x:1002:1002:::/bin/sh\n"
				  "bob:x:2000:2000:second bob, never used:/nope:/bin/sh\n"
				  "big:x:4294967295:1:uid out of range:/big:/bin/sh";

static const char group_text[] = "# the image's groups\n"
				 "root:x:0:\n"
				 "wheel:x:10:alice,bob\n"
				 "staff:x:50:bob\n"
				 "users:x:100:alice\n"
				 "bob:x:1000:bob\n"  /* bob's primary group: not supplementary */
				 "wheel2:x:10:bob\n" /* the same gid again: listed once */
				 "notmember:x:60:bobby,bo\n"
				 "malformed line\n"
				 "badgid:x:abc:bob\n"
				 "#comment:x:70:bob\n"
				 "daemon:x:1:\n";

/* "10,50" */
static const char *groups_str(const struct berth_user *u)
{
	static char out[256];
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < u->ngroups; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%u", i ? "," : "",
					(unsigned)u->groups[i]);
	return out;
}

struct user_case {
	const char *spec;
	int code; /* 0: success */
	unsigned uid, gid;
	const char *home, *groups;
	const char *msg; /* for errors: the whole message */
};

static void check_user(const char *root_name, int rootfd, const struct user_case *c)
{
	struct berth_user u;
	struct berth_err *e = NULL;
	int r = berth_user_resolve(rootfd, c->spec, &u, &e);
	if (c->code) {
		tap_is_int(r, -c->code, "%s: user '%s' fails", root_name, c->spec);
		tap_is_int(e ? (int)e->code : 0, c->code, "%s: user '%s': error code", root_name,
			   c->spec);
		tap_is_str(e ? e->msg : NULL, c->msg, "%s: user '%s': message", root_name, c->spec);
		tap_ok(!u.groups && !u.home, "%s: user '%s': nothing left in out", root_name,
		       c->spec);
	} else {
		tap_is_int(r, 0, "%s: user '%s' resolves", root_name, c->spec);
		tap_is_str(e ? e->msg : NULL, NULL, "%s: user '%s': no error", root_name, c->spec);
		if (r == 0) {
			tap_ok(u.uid == c->uid && u.gid == c->gid, "%s: user '%s': uid:gid %u:%u",
			       root_name, c->spec, c->uid, c->gid);
			if (u.uid != c->uid || u.gid != c->gid)
				printf("#   got  %u:%u\n", (unsigned)u.uid, (unsigned)u.gid);
			tap_is_str(u.home, c->home, "%s: user '%s': home", root_name, c->spec);
			tap_is_str(groups_str(&u), c->groups, "%s: user '%s': groups", root_name,
				   c->spec);
		}
	}
	berth_user_release(&u);
	berth_err_free(e);
}

static void test_user_image(void)
{
	fixture_put_dir(fixture_path("img"));
	fixture_put_dir(fixture_path("img/etc"));
	fixture_put_file(fixture_path("img/etc/passwd.real"), passwd_text);
	/* Absolute: only right when resolved with the image root as "/". */
	fixture_must(symlink("/etc/passwd.real", fixture_path("img/etc/passwd")) == 0, "symlink");
	fixture_put_file(fixture_path("img/etc/group"), group_text);

	static const struct user_case cases[] = {
	    {"", 0, 0, 0, "/root", "", NULL},
	    {"root", 0, 0, 0, "/root", "", NULL},
	    {"bob", 0, 1000, 1000, "/home/bob", "10,50", NULL},
	    {"1000", 0, 1000, 1000, "/home/bob", "10,50", NULL},
	    {"alice", 0, 1001, 100, "/home/alice", "10", NULL},
	    {"homeless", 0, 1002, 1002, "/", "", NULL},
	    {"daemon", 0, 1, 1, "/usr/sbin", "", NULL},
	    {"bob:staff", 0, 1000, 50, "/home/bob", "", NULL},
	    {"bob:4242", 0, 1000, 4242, "/home/bob", "", NULL},
	    {"1000:staff", 0, 1000, 50, "/home/bob", "", NULL},
	    {"4242", 0, 4242, 0, "/", "", NULL},
	    {"4242:wheel", 0, 4242, 10, "/", "", NULL},
	    {"4242:4343", 0, 4242, 4343, "/", "", NULL},
	    {"4294967294", 0, 4294967294u, 0, "/", "", NULL},
	    {"0:0", 0, 0, 0, "/root", "", NULL},
	    {"nobody", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user 'nobody': no such user in the image's /etc/passwd"},
	    {"broken", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user 'broken': no such user in the image's /etc/passwd"},
	    {"short", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user 'short': no such user in the image's /etc/passwd"},
	    {"big", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user 'big': no such user in the image's /etc/passwd"},
	    {"bob:nogroup", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user 'bob:nogroup': no such group in the image's /etc/group"},
	    {"bob:badgid", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user 'bob:badgid': no such group in the image's /etc/group"},
	    {"a:b:c", BERTH_E_INVALID, 0, 0, NULL, NULL, "user 'a:b:c': expected USER[:GROUP]"},
	    {"bob:", BERTH_E_INVALID, 0, 0, NULL, NULL, "user 'bob:': expected USER[:GROUP]"},
	    {":staff", BERTH_E_INVALID, 0, 0, NULL, NULL, "user ':staff': expected USER[:GROUP]"},
	    {"4294967295", BERTH_E_INVALID, 0, 0, NULL, NULL,
	     "user '4294967295': uid 4294967295 is out of range (0 to 4294967294)"},
	    {"99999999999999999999999", BERTH_E_INVALID, 0, 0, NULL, NULL,
	     "user '99999999999999999999999': uid 99999999999999999999999 is out of range "
	     "(0 to 4294967294)"},
	    {"bob:4294967296", BERTH_E_INVALID, 0, 0, NULL, NULL,
	     "user 'bob:4294967296': gid 4294967296 is out of range (0 to 4294967294)"},
	};
	int rootfd = open_dir(fixture_path("img"));
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++)
		check_user("image", rootfd, &cases[i]);

	struct berth_user u;
	tap_is_int(berth_user_resolve(rootfd, NULL, &u, NULL), 0, "a NULL spec is root");
	tap_ok(u.uid == 0 && u.gid == 0, "a NULL spec: uid and gid 0");
	berth_user_release(&u);
	berth_user_release(&u); /* released twice: a no-op */
	close(rootfd);
}

/* No /etc at all: numbers work, names do not. */
static void test_user_bare(void)
{
	fixture_put_dir(fixture_path("bare"));
	static const struct user_case cases[] = {
	    {"", 0, 0, 0, "/", "", NULL},
	    {"1234", 0, 1234, 0, "/", "", NULL},
	    {"1234:55", 0, 1234, 55, "/", "", NULL},
	    {"bob", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user 'bob': the image has no /etc/passwd to look the name up in; use a numeric "
	     "uid"},
	    {"1234:staff", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user '1234:staff': the image has no /etc/group to look the group up in; use a "
	     "numeric gid"},
	};
	int rootfd = open_dir(fixture_path("bare"));
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++)
		check_user("bare", rootfd, &cases[i]);
	close(rootfd);

	/* A passwd but no group file: no supplementary groups, no names. */
	fixture_put_dir(fixture_path("nogroup"));
	fixture_put_dir(fixture_path("nogroup/etc"));
	fixture_put_file(fixture_path("nogroup/etc/passwd"), passwd_text);
	static const struct user_case cases2[] = {
	    {"bob", 0, 1000, 1000, "/home/bob", "", NULL},
	    {"bob:1", 0, 1000, 1, "/home/bob", "", NULL},
	    {"bob:staff", BERTH_E_NOT_FOUND, 0, 0, NULL, NULL,
	     "user 'bob:staff': the image has no /etc/group to look the group up in; use a "
	     "numeric gid"},
	};
	rootfd = open_dir(fixture_path("nogroup"));
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases2); i++)
		check_user("no group file", rootfd, &cases2[i]);
	close(rootfd);
}

/* Hostile files: over the size cap, and a FIFO that would block a read. */
static void test_user_hostile(void)
{
	fixture_put_dir(fixture_path("big"));
	fixture_put_dir(fixture_path("big/etc"));
	FILE *f = fopen(fixture_path("big/etc/passwd"), "w");
	fixture_must(f != NULL, "big passwd");
	for (int i = 0; i < 40000; i++)
		fprintf(f, "user%d:x:%d:%d::/home/user%d:/bin/sh\n", i, 10000 + i, 10000 + i, i);
	fixture_must(fclose(f) == 0, "big passwd");
	int rootfd = open_dir(fixture_path("big"));
	struct berth_user u;
	struct berth_err *e = NULL;
	int r = berth_user_resolve(rootfd, "user1", &u, &e);
	tap_is_int(r, -BERTH_E_LIMIT, "a passwd over the cap is refused");
	tap_is_str(
	    e ? e->msg : NULL,
	    "user 'user1': the image's /etc/passwd is larger than the limit of 1048576 bytes",
	    "over the cap: message");
	berth_err_free(e);
	berth_user_release(&u);
	close(rootfd);

	fixture_put_dir(fixture_path("fifo"));
	fixture_put_dir(fixture_path("fifo/etc"));
	fixture_must(mkfifo(fixture_path("fifo/etc/passwd"), 0644) == 0, "mkfifo");
	rootfd = open_dir(fixture_path("fifo"));
	e = NULL;
	r = berth_user_resolve(rootfd, "1000", &u, &e);
	tap_is_int(r, -BERTH_E_INVALID, "a FIFO passwd is refused, not read");
	tap_is_str(e ? e->msg : NULL, "user '1000': the image's /etc/passwd is not a regular file",
		   "FIFO: message");
	berth_err_free(e);
	berth_user_release(&u);
	close(rootfd);
}

/* ---------------------------------------------------------------- seccomp */

static const char profile_text[] =
    "{\n"
    "  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"
    "  \"defaultErrnoRet\": 38,\n"
    "  \"defaultErrno\": \"ENOSYS\",\n"
    "  \"archMap\": [\n"
    "    {\"architecture\": \"SCMP_ARCH_X86_64\",\n"
    "     \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]},\n"
    "    {\"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": [\"SCMP_ARCH_ARM\"]},\n"
    "    {\"architecture\": \"SCMP_ARCH_S390X\", \"subArchitectures\": null}\n"
    "  ],\n"
    "  \"syscalls\": [\n"
    "    {\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [],\n"
    "     \"comment\": \"\", \"includes\": {}, \"excludes\": {}},\n"
    "    {\"name\": \"arch_prctl\", \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"arches\": [\"amd64\", \"x32\"]}},\n"
    "    {\"names\": [\"breakpoint\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"arches\": [\"arm\", \"arm64\"]}},\n"
    "    {\"names\": [\"modify_ldt\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"arches\": [\"amd64\", \"x32\", \"x86\"]}},\n"
    "    {\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
    "    {\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1,\n"
    "     \"errno\": \"EPERM\", \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
    "    {\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"caps\": [\"sys_admin\", \"CAP_NET_ADMIN\"]}},\n"
    "    {\"names\": [\"notonamd64\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"excludes\": {\"arches\": [\"amd64\"]}},\n"
    "    {\"names\": [\"future\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"minKernel\": \"99.0\"}},\n"
    "    {\"names\": [\"past\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"minKernel\": \"2.6\"}},\n"
    "    {\"names\": [\"oldonly\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"excludes\": {\"minKernel\": \"2.6\"}},\n"
    "    {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"args\": [{\"index\": 0, \"value\": 4294967295, \"valueTwo\": 0,\n"
    "               \"op\": \"SCMP_CMP_EQ\"}]},\n"
    "    {\"names\": [\"big\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [\n"
    "      {\"index\": 1, \"value\": 9223372036854775807, \"op\": \"SCMP_CMP_MASKED_EQ\",\n"
    "       \"valueTwo\": 2114060288},\n"
    "      {\"index\": 5, \"value\": 0, \"op\": \"SCMP_CMP_NE\"}]}\n"
    "  ]\n"
    "}\n";

static json_t *load(const char *text)
{
	struct berth_err *e = NULL;
	json_t *j = berth_json_loadb(text, strlen(text), "test profile", &e);
	if (!j) {
		printf("Bail out! %s\n", e->msg);
		exit(1);
	}
	return j;
}

/* Rules as "names:action" joined by '|', names by ' '. */
static const char *rules_str(const json_t *oci)
{
	static char out[2048];
	size_t len = 0;
	out[0] = '\0';
	size_t i, k;
	const json_t *rule, *name;
	json_array_foreach(json_object_get(oci, "syscalls"), i, rule)
	{
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s", i ? "|" : "");
		json_array_foreach(json_object_get(rule, "names"), k, name)
		{
			len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", k ? " " : "",
						json_string_value(name));
		}
		const char *action = berth_json_str(rule, "action");
		if (action && strncmp(action, "SCMP_ACT_", 9) == 0)
			action += 9;
		len += (size_t)snprintf(out + len, sizeof(out) - len, ":%s", action);
	}
	return out;
}

static const char *arches_str(const json_t *oci)
{
	static char out[512];
	const json_t *a = json_object_get(oci, "architectures");
	if (!a)
		return "(none)";
	size_t len = 0, i;
	const json_t *s;
	out[0] = '\0';
	json_array_foreach(a, i, s)
	{
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "",
					json_string_value(s));
	}
	return out;
}

/* The first rule naming `name` with `action` (NULL: any). */
static const json_t *find_rule(const json_t *oci, const char *name, const char *action)
{
	size_t i, k;
	const json_t *rule, *n;
	json_array_foreach(json_object_get(oci, "syscalls"), i, rule)
	{
		if (action && strcmp(berth_json_str(rule, "action"), action) != 0)
			continue;
		json_array_foreach(json_object_get(rule, "names"), k, n)
		{
			if (strcmp(json_string_value(n), name) == 0)
				return rule;
		}
	}
	return NULL;
}

static const char *dump(const json_t *j)
{
	static char out[1024];
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	snprintf(out, sizeof(out), "%s", s ? s : "(null)");
	free(s);
	return out;
}

static void test_seccomp_inline(void)
{
	json_t *profile = load(profile_text);
	struct berth_err *e = NULL;

	_cleanup_strv_ struct berth_strv few = BERTH_STRV_INIT;
	berth_strv_push(&few, "CAP_CHOWN");
	berth_strv_push(&few, "CAP_SETUID");
	json_t *oci = berth_seccomp_convert(profile, "x86_64", &few, &e);
	tap_ok(oci != NULL, "x86_64: converts");
	tap_is_str(e ? e->msg : NULL, NULL, "x86_64: no error");
	tap_is_str(berth_json_str(oci, "defaultAction"), "SCMP_ACT_ERRNO", "defaultAction");
	tap_is_int(json_integer_value(json_object_get(oci, "defaultErrnoRet")), 38,
		   "defaultErrnoRet");
	tap_ok(!json_object_get(oci, "defaultErrno") && !json_object_get(oci, "archMap"),
	       "profile-only keys are not copied");
	tap_is_str(arches_str(oci), "SCMP_ARCH_X86_64,SCMP_ARCH_X86,SCMP_ARCH_X32",
		   "x86_64: archMap entry and its sub-architectures");
	tap_is_str(rules_str(oci),
		   "read write:ALLOW|arch_prctl:ALLOW|modify_ldt:ALLOW|bpf:ERRNO|past:ALLOW|"
		   "personality:ALLOW|big:ALLOW",
		   "x86_64 without CAP_SYS_ADMIN: the rules kept");
	tap_is_str(dump(find_rule(oci, "bpf", NULL)),
		   "{\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1,\"names\":[\"bpf\"]}",
		   "errnoRet copied; errno, comment, includes and excludes are not");
	tap_is_str(dump(find_rule(oci, "read", NULL)),
		   "{\"action\":\"SCMP_ACT_ALLOW\",\"names\":[\"read\",\"write\"]}",
		   "empty args are left out");
	tap_is_str(dump(json_object_get(find_rule(oci, "personality", NULL), "args")),
		   "[{\"index\":0,\"op\":\"SCMP_CMP_EQ\",\"value\":4294967295,\"valueTwo\":0}]",
		   "args copied");
	tap_is_str(dump(json_object_get(find_rule(oci, "big", NULL), "args")),
		   "[{\"index\":1,\"op\":\"SCMP_CMP_MASKED_EQ\",\"value\":9223372036854775807,"
		   "\"valueTwo\":2114060288},{\"index\":5,\"op\":\"SCMP_CMP_NE\",\"value\":0}]",
		   "args with large values and without valueTwo copied");
	json_decref(oci);

	/* aarch64 with the caps written every way a profile might. */
	_cleanup_strv_ struct berth_strv admin = BERTH_STRV_INIT;
	berth_strv_push(&admin, "CAP_SYS_ADMIN");
	berth_strv_push(&admin, "net_admin");
	oci = berth_seccomp_convert(profile, "aarch64", &admin, &e);
	tap_is_str(e ? e->msg : NULL, NULL, "aarch64: no error");
	tap_is_str(arches_str(oci), "SCMP_ARCH_AARCH64,SCMP_ARCH_ARM", "aarch64: architectures");
	tap_is_str(rules_str(oci),
		   "read write:ALLOW|breakpoint:ALLOW|bpf:ALLOW|mount:ALLOW|notonamd64:ALLOW|"
		   "past:ALLOW|personality:ALLOW|big:ALLOW",
		   "aarch64 with CAP_SYS_ADMIN and NET_ADMIN: the rules kept");
	json_decref(oci);

	/* Only one of the two caps "mount" needs: dropped. */
	_cleanup_strv_ struct berth_strv half = BERTH_STRV_INIT;
	berth_strv_push(&half, "cap_sys_admin");
	oci = berth_seccomp_convert(profile, "i686", &half, &e);
	tap_is_str(arches_str(oci), "(none)", "i686: no archMap entry, no architectures");
	tap_is_str(rules_str(oci),
		   "read write:ALLOW|modify_ldt:ALLOW|bpf:ALLOW|notonamd64:ALLOW|past:ALLOW|"
		   "personality:ALLOW|big:ALLOW",
		   "i686 (x86) with only SYS_ADMIN: the rules kept");
	json_decref(oci);

	oci = berth_seccomp_convert(profile, "s390x", NULL, &e);
	tap_is_str(arches_str(oci), "SCMP_ARCH_S390X", "s390x: null subArchitectures");
	tap_ok(find_rule(oci, "bpf", "SCMP_ACT_ERRNO") && !find_rule(oci, "bpf", "SCMP_ACT_ALLOW"),
	       "NULL caps: no capabilities");
	json_decref(oci);

	oci = berth_seccomp_convert(profile, "riscv64", &few, &e);
	tap_is_str(arches_str(oci), "(none)", "riscv64: not in the archMap");
	tap_ok(!find_rule(oci, "arch_prctl", NULL) && find_rule(oci, "notonamd64", NULL),
	       "riscv64: arch-gated rules follow its name");
	json_decref(oci);
	json_decref(profile);

	/* The older "architectures" list and "name". */
	profile = load("{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n"
		       " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],\n"
		       " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],\n"
		       " \"syscalls\": [{\"name\": \"kexec_load\", \"action\": \"SCMP_ACT_ERRNO\","
		       " \"args\": null}]}");
	oci = berth_seccomp_convert(profile, "aarch64", &few, &e);
	tap_is_str(dump(oci),
		   "{\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"],"
		   "\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
		   "\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\",\"names\":[\"kexec_load\"]}]}",
		   "'architectures' copied as is; 'name' becomes 'names'");
	json_decref(oci);
	json_decref(profile);
}

static void test_seccomp_invalid(void)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
	    {"[]", "seccomp profile: expected a JSON object"},
	    {"{\"syscalls\": []}",
	     "seccomp profile: 'defaultAction': expected a string such as \"SCMP_ACT_ERRNO\""},
	    {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": \"1\"}",
	     "seccomp profile: 'defaultErrnoRet': expected a non-negative integer"},
	    {"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": {}}",
	     "seccomp profile: 'syscalls': expected an array of rules"},
	    {"{\"defaultAction\": \"A\", \"architectures\": [\"X\"],"
	     " \"archMap\": [{\"architecture\": \"X\"}]}",
	     "seccomp profile: has both 'architectures' and 'archMap'; use one"},
	    {"{\"defaultAction\": \"A\", \"archMap\": [{\"architecture\": 1}]}",
	     "seccomp profile: 'archMap[0].architecture': expected a string such as "
	     "\"SCMP_ARCH_X86_64\""},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": \"read\", \"action\": \"B\"}]}",
	     "seccomp profile: 'syscalls[0].names': expected an array of strings"},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"B\"},"
	     " {\"names\": [\"read\"], \"name\": \"write\", \"action\": \"B\"}]}",
	     "seccomp profile: 'syscalls[1]': has both 'name' and 'names'; use one"},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"action\": \"B\"}]}",
	     "seccomp profile: 'syscalls[0]': has no syscall names ('names' or 'name')"},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"]}]}",
	     "seccomp profile: 'syscalls[0].action': expected a string such as "
	     "\"SCMP_ACT_ALLOW\""},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"B\","
	     " \"errnoRet\": -1}]}",
	     "seccomp profile: 'syscalls[0].errnoRet': expected a non-negative integer"},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"B\","
	     " \"args\": [{\"index\": \"0\", \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
	     "seccomp profile: 'syscalls[0].args[0].index': expected a non-negative integer"},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"B\","
	     " \"args\": [{\"index\": 0, \"value\": 1}]}]}",
	     "seccomp profile: 'syscalls[0].args[0].op': expected a string such as "
	     "\"SCMP_CMP_EQ\""},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"B\","
	     " \"includes\": {\"caps\": \"CAP_SYS_ADMIN\"}}]}",
	     "seccomp profile: 'syscalls[0].includes.caps': expected an array of strings"},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"B\","
	     " \"excludes\": {\"arches\": [1]}}]}",
	     "seccomp profile: 'syscalls[0].excludes.arches': expected an array of strings"},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"B\","
	     " \"includes\": {\"arches\": [\"arm64\"], \"minKernel\": \"four\"}}]}",
	     "seccomp profile: 'syscalls[0].includes.minKernel': expected a kernel version such "
	     "as \"4.8\", not \"four\""},
	    {"{\"defaultAction\": \"A\", \"syscalls\": [{\"names\": [\"a\"], \"action\": \"B\","
	     " \"includes\": []}]}",
	     "seccomp profile: 'syscalls[0].includes': expected an object"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		json_t *profile = load(cases[i].json);
		struct berth_err *e = NULL;
		json_t *oci = berth_seccomp_convert(profile, "x86_64", NULL, &e);
		tap_ok(!oci && e && e->code == BERTH_E_INVALID, "invalid profile %zu is refused",
		       i);
		tap_is_str(e ? e->msg : NULL, cases[i].msg, "invalid profile %zu: message", i);
		json_decref(oci);
		berth_err_free(e);
		json_decref(profile);
	}
}

static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

#define INSTALLED_PROFILE "/usr/share/containers/seccomp.json"

static void test_seccomp_installed(void)
{
	if (access(INSTALLED_PROFILE, R_OK) != 0) {
		tap_ok(true, "# SKIP %s is not installed", INSTALLED_PROFILE);
		return;
	}
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, 4u << 20);
	struct berth_err *e = NULL;
	fixture_must(berth_fs_read_file(INSTALLED_PROFILE, 4u << 20, &b, &e) == 0,
		     INSTALLED_PROFILE);
	json_t *profile = load(b.data);

	struct utsname u;
	fixture_must(uname(&u) == 0, "uname");
	_cleanup_strv_ struct berth_strv caps = BERTH_STRV_INIT;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(default_caps); i++)
		berth_strv_push(&caps, default_caps[i]);

	json_t *oci = berth_seccomp_convert(profile, u.machine, &caps, &e);
	tap_ok(oci != NULL, "installed profile converts for %s", u.machine);
	tap_is_str(e ? e->msg : NULL, NULL, "installed profile: no error");
	tap_is_str(berth_json_str(oci, "defaultAction"), "SCMP_ACT_ERRNO",
		   "installed profile: defaultAction");
	if (strcmp(u.machine, "x86_64") == 0)
		tap_ok(strstr(arches_str(oci), "SCMP_ARCH_X86_64") != NULL,
		       "installed profile: architectures has SCMP_ARCH_X86_64 (%s)",
		       arches_str(oci));
	tap_ok(find_rule(oci, "read", "SCMP_ACT_ALLOW") != NULL, "installed profile: read allowed");
	tap_ok(!find_rule(oci, "bpf", "SCMP_ACT_ALLOW"),
	       "installed profile: no bpf allow rule without CAP_SYS_ADMIN");
	tap_ok(find_rule(oci, "bpf", "SCMP_ACT_ERRNO") != NULL,
	       "installed profile: bpf denied without CAP_SYS_ADMIN");
	tap_ok(find_rule(oci, "chroot", "SCMP_ACT_ALLOW") != NULL,
	       "installed profile: chroot allowed with CAP_SYS_CHROOT");
	json_decref(oci);

	berth_strv_push(&caps, "CAP_SYS_ADMIN");
	oci = berth_seccomp_convert(profile, u.machine, &caps, &e);
	tap_ok(find_rule(oci, "bpf", "SCMP_ACT_ALLOW") != NULL,
	       "installed profile: bpf allowed with CAP_SYS_ADMIN");
	tap_ok(!find_rule(oci, "bpf", "SCMP_ACT_ERRNO"),
	       "installed profile: no bpf deny rule with CAP_SYS_ADMIN");
	json_decref(oci);
	json_decref(profile);
}

static void test_seccomp_default(void)
{
	const char *old = getenv("BERTH_SECCOMP_PROFILE");
	char *saved = old ? berth_xstrdup(old) : NULL;
	json_t *out = (json_t *)1;
	struct berth_err *e = NULL;

	setenv("BERTH_SECCOMP_PROFILE", "unconfined", 1);
	tap_is_int(berth_seccomp_default(NULL, &out, &e), 0, "unconfined: no error");
	tap_ok(out == NULL, "unconfined: no profile");

	setenv("BERTH_SECCOMP_PROFILE", "/nonexistent", 1);
	int r = berth_seccomp_default(NULL, &out, &e);
	tap_is_int(r, -BERTH_E_NOT_FOUND, "a missing named profile is an error");
	tap_is_str(e ? e->msg : NULL,
		   "seccomp profile '/nonexistent' (from BERTH_SECCOMP_PROFILE): no such file; "
		   "set BERTH_SECCOMP_PROFILE to a profile's path or to 'unconfined'",
		   "missing named profile: message");
	tap_ok(out == NULL, "missing named profile: no profile");
	berth_err_free(e);
	e = NULL;

	fixture_put_file(fixture_path("profile.json"), profile_text);
	setenv("BERTH_SECCOMP_PROFILE", fixture_path("profile.json"), 1);
	r = berth_seccomp_default(NULL, &out, &e);
	tap_is_int(r, 0, "a named profile loads");
	tap_is_str(e ? e->msg : NULL, NULL, "named profile: no error");
	tap_ok(out && find_rule(out, "read", "SCMP_ACT_ALLOW"), "named profile: converted");
	json_decref(out);
	out = NULL;

	fixture_put_file(fixture_path("bad.json"),
			 "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  oops\n}\n");
	setenv("BERTH_SECCOMP_PROFILE", fixture_path("bad.json"), 1);
	r = berth_seccomp_default(NULL, &out, &e);
	tap_is_int(r, -BERTH_E_INVALID, "a broken profile is an error");
	tap_ok(e && strstr(e->msg, "bad.json': line 3") != NULL,
	       "broken profile: the message names the file and line");
	if (e)
		tap_diag("message", e->msg);
	berth_err_free(e);
	e = NULL;

	fixture_put_file(fixture_path("wrong.json"), "{\"defaultAction\": 1}");
	setenv("BERTH_SECCOMP_PROFILE", fixture_path("wrong.json"), 1);
	r = berth_seccomp_default(NULL, &out, &e);
	tap_is_int(r, -BERTH_E_INVALID, "a profile of the wrong shape is an error");
	tap_ok(e && strstr(e->msg, "wrong.json': 'defaultAction'") != NULL,
	       "wrong shape: the message names the file and field");
	berth_err_free(e);
	e = NULL;

	unsetenv("BERTH_SECCOMP_PROFILE");
	r = berth_seccomp_default(NULL, &out, &e);
	tap_is_int(r, 0, "the default profile loads, or there is none");
	tap_ok(access(INSTALLED_PROFILE, R_OK) == 0 ? out != NULL : out == NULL,
	       "default: converted when installed, NULL when not");
	berth_err_free(e);
	json_decref(out);

	if (saved)
		setenv("BERTH_SECCOMP_PROFILE", saved, 1);
	free(saved);
}

int main(void)
{
	fixture_init("user");
	test_user_image();
	test_user_bare();
	test_user_hostile();
	test_seccomp_inline();
	test_seccomp_invalid();
	test_seccomp_installed();
	test_seccomp_default();

	struct berth_err *e = NULL;
	tap_is_int(fixture_cleanup(&e), 0, "clean up the test directory");
	berth_err_free(e);
	return tap_done();
}
