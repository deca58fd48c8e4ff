/* Docker's USER resolution (runc's GetExecUser): a "user[:group]" spec
 * becomes a uid, gid, supplementary groups and home directory by reading the
 * image's /etc/passwd and /etc/group beneath its root, so a symlinked file
 * can never pull in the host's. */
#include "runtime/runtime_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest uid or gid a spec may name: (uid_t)-1 means "unchanged" to
 * setresuid(2) and chown(2), so it is never a real id. */
#define USER_ID_MAX 4294967294u

#define PASSWD_PATH "/etc/passwd"
#define GROUP_PATH  "/etc/group"

struct passwd_ent {
	struct berth_sv name, home;
	uint32_t uid, gid;
};

struct group_ent {
	struct berth_sv name, members; /* members: comma-separated user names */
	uint32_t gid;
};

/* Walks the lines of a passwd or group file. */
struct db_cursor {
	const char *p, *end;
};

static bool is_db_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The next line, trimmed, that is neither blank nor a comment. */
static bool db_next_line(struct db_cursor *c, struct berth_sv *line)
{
	while (c->p < c->end) {
		const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
		const char *eol = nl ? nl : c->end;
		const char *s = c->p, *e = eol;
		c->p = nl ? nl + 1 : c->end;
		while (s < e && is_db_space(*s))
			s++;
		while (e > s && is_db_space(e[-1]))
			e--;
		if (s == e || *s == '#')
			continue;
		*line = (struct berth_sv){s, (size_t)(e - s)};
		return true;
	}
	return false;
}

/* Split `line` at ':' into exactly `n` fields; false for any other count or
 * a NUL byte (never valid in these files). */
static bool split_fields(struct berth_sv line, struct berth_sv *f, size_t n)
{
	if (memchr(line.p, '\0', line.len))
		return false;
	const char *p = line.p, *end = line.p + line.len;
	for (size_t i = 0; i < n; i++) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if ((colon != NULL) != (i + 1 < n))
			return false;
		const char *fe = colon ? colon : end;
		f[i] = (struct berth_sv){p, (size_t)(fe - p)};
		p = fe + 1;
	}
	return true;
}

static bool sv_is_number(struct berth_sv s)
{
	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return true;
}

/* A decimal id within 0..USER_ID_MAX; false otherwise. */
static bool parse_id(struct berth_sv s, uint32_t *out)
{
	if (!sv_is_number(s))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		v = v * 10 + (uint64_t)(s.p[i] - '0');
		if (v > USER_ID_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* name:password:uid:gid:gecos:home:shell */
static bool parse_passwd_line(struct berth_sv line, struct passwd_ent *e)
{
	struct berth_sv f[7];
	if (!split_fields(line, f, 7) || !f[0].len)
		return false;
	if (!parse_id(f[2], &e->uid) || !parse_id(f[3], &e->gid))
		return false;
	e->name = f[0];
	e->home = f[5];
	return true;
}

/* name:password:gid:member,member,... */
static bool parse_group_line(struct berth_sv line, struct group_ent *e)
{
	struct berth_sv f[4];
	if (!split_fields(line, f, 4) || !f[0].len)
		return false;
	if (!parse_id(f[2], &e->gid))
		return false;
	e->name = f[0];
	e->members = f[3];
	return true;
}

static bool members_contain(struct berth_sv members, struct berth_sv name)
{
	const char *p = members.p, *end = members.p + members.len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *me = comma ? comma : end;
		if ((size_t)(me - p) == name.len && memcmp(p, name.p, name.len) == 0)
			return true;
		p = comma ? comma + 1 : end;
	}
	return false;
}

static bool sv_same(struct berth_sv a, struct berth_sv b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

/* Read the image's `path` into out. A file that is not there (or a path
 * through a non-directory) sets *present false and is not an error; the
 * caller decides whether it needed it. */
static int read_db(int rootfd, const char *path, const char *spec, struct berth_buf *out,
		   bool *present, struct berth_err **err)
{
	struct berth_err *oerr = NULL;
	*present = false;
	/* O_NONBLOCK: a FIFO planted at the path must not hang us before the
	 * regular-file check below. */
	_cleanup_close_ int fd =
	    berth_fs_open_beneath(rootfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, &oerr);
	if (fd < 0) {
		int e = oerr ? oerr->sys_errno : EINVAL;
		berth_err_free(oerr);
		if (e == ENOENT || e == ENOTDIR)
			return 0;
		return berth_err_sys(err, e, "user '%s': open the image's %s", spec, path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berth_err_sys(err, errno, "user '%s': read the image's %s", spec, path);
	if (!S_ISREG(st.st_mode))
		return berth_err_set(err, BERTH_E_INVALID,
				     "user '%s': the image's %s is not a regular file", spec, path);

	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "user '%s': read the image's %s", spec,
					     path);
		}
		if (n == 0)
			break;
		if (berth_buf_add(out, chunk, (size_t)n) < 0)
			return berth_err_set(err, BERTH_E_LIMIT,
					     "user '%s': the image's %s is larger than the limit "
					     "of %u bytes",
					     spec, path, BERTH_USER_DB_MAX);
	}
	*present = true;
	return 0;
}

/* The first passwd entry for a numeric uid (by_uid) or a name. */
static bool find_passwd(const struct berth_buf *db, bool by_uid, uint32_t uid, struct berth_sv name,
			struct passwd_ent *out)
{
	struct db_cursor c = {db->data, db->data + db->len};
	struct berth_sv line;
	while (db_next_line(&c, &line)) {
		struct passwd_ent e;
		if (!parse_passwd_line(line, &e))
			continue;
		if (by_uid ? e.uid == uid : sv_same(e.name, name)) {
			*out = e;
			return true;
		}
	}
	return false;
}

static bool find_group(const struct berth_buf *db, struct berth_sv name, uint32_t *gid)
{
	struct db_cursor c = {db->data, db->data + db->len};
	struct berth_sv line;
	while (db_next_line(&c, &line)) {
		struct group_ent e;
		if (parse_group_line(line, &e) && sv_same(e.name, name)) {
			*gid = e.gid;
			return true;
		}
	}
	return false;
}

/* Every group that lists `user` as a member, except the primary one, each
 * gid once, in file order. */
static void collect_groups(const struct berth_buf *db, struct berth_sv user, uint32_t primary,
			   struct berth_user *u)
{
	struct db_cursor c = {db->data, db->data + db->len};
	struct berth_sv line;
	size_t cap = 0;
	while (db_next_line(&c, &line)) {
		struct group_ent e;
		if (!parse_group_line(line, &e) || e.gid == primary ||
		    !members_contain(e.members, user))
			continue;
		bool seen = false;
		for (size_t i = 0; i < u->ngroups && !seen; i++)
			seen = u->groups[i] == (gid_t)e.gid;
		if (seen)
			continue;
		u->groups = berth_xgrow(u->groups, sizeof(*u->groups), u->ngroups + 1, &cap);
		u->groups[u->ngroups++] = (gid_t)e.gid;
	}
}

/* Split "user[:group]"; both parts must be non-empty when the colon is there. */
static int parse_spec(const char *spec, struct berth_sv *user, struct berth_sv *group,
		      bool *has_group, struct berth_err **err)
{
	const char *colon = strchr(spec, ':');
	*has_group = colon != NULL;
	if (!colon) {
		*user = BERTH_SV(spec);
		return 0;
	}
	*user = (struct berth_sv){spec, (size_t)(colon - spec)};
	*group = BERTH_SV(colon + 1);
	if (!user->len || !group->len || strchr(colon + 1, ':'))
		return berth_err_set(err, BERTH_E_INVALID, "user '%s': expected USER[:GROUP]",
				     spec);
	return 0;
}

int berth_user_resolve(int rootfd, const char *spec, struct berth_user *out, struct berth_err **err)
{
	*out = (struct berth_user){0};
	if (!spec)
		spec = "";

	struct berth_sv uarg, garg = {"", 0};
	bool has_group;
	if (!*spec) {
		/* Root, with root's home and groups when the image lists it. */
		uarg = BERTH_SV("0");
		has_group = false;
	} else {
		int r = parse_spec(spec, &uarg, &garg, &has_group, err);
		if (r < 0)
			return r;
	}

	/* A spec that is all digits is always an id, as in runc. */
	bool user_numeric = sv_is_number(uarg);
	uint32_t uid = 0;
	if (user_numeric && !parse_id(uarg, &uid))
		return berth_err_set(err, BERTH_E_INVALID,
				     "user '%s': uid %.*s is out of range (0 to %u)", spec,
				     (int)uarg.len, uarg.p, USER_ID_MAX);
	bool group_numeric = has_group && sv_is_number(garg);
	uint32_t gid = 0;
	if (group_numeric && !parse_id(garg, &gid))
		return berth_err_set(err, BERTH_E_INVALID,
				     "user '%s': gid %.*s is out of range (0 to %u)", spec,
				     (int)garg.len, garg.p, USER_ID_MAX);

	_cleanup_buf_ struct berth_buf passwd;
	berth_buf_init(&passwd, BERTH_USER_DB_MAX);
	bool have_passwd;
	int r = read_db(rootfd, PASSWD_PATH, spec, &passwd, &have_passwd, err);
	if (r < 0)
		return r;
	struct passwd_ent pw = {0};
	bool matched = have_passwd && find_passwd(&passwd, user_numeric, uid, uarg, &pw);
	if (!matched && !user_numeric) {
		if (!have_passwd)
			return berth_err_set(err, BERTH_E_NOT_FOUND,
					     "user '%s': the image has no %s to look the name up "
					     "in; use a numeric uid",
					     spec, PASSWD_PATH);
		return berth_err_set(err, BERTH_E_NOT_FOUND,
				     "user '%s': no such user in the image's %s", spec,
				     PASSWD_PATH);
	}

	_cleanup_free_ char *home = NULL;
	uint32_t primary = 0;
	if (matched) {
		uid = pw.uid;
		primary = pw.gid;
		if (pw.home.len)
			home = berth_xstrndup(pw.home.p, pw.home.len);
	}
	if (!home)
		home = berth_xstrdup("/");

	/* Supplementary groups only come with the implicit form: "user:group"
	 * asks for exactly that group (runc, and so Docker). */
	_cleanup_buf_ struct berth_buf group;
	berth_buf_init(&group, BERTH_USER_DB_MAX);
	struct berth_user u = {0};
	if (has_group && group_numeric) {
		primary = gid;
	} else if (has_group || matched) {
		bool have_group;
		r = read_db(rootfd, GROUP_PATH, spec, &group, &have_group, err);
		if (r < 0)
			return r;
		if (has_group) {
			if (!have_group)
				return berth_err_set(err, BERTH_E_NOT_FOUND,
						     "user '%s': the image has no %s to look the "
						     "group up in; use a numeric gid",
						     spec, GROUP_PATH);
			if (!find_group(&group, garg, &primary))
				return berth_err_set(err, BERTH_E_NOT_FOUND,
						     "user '%s': no such group in the image's %s",
						     spec, GROUP_PATH);
		} else if (have_group) {
			collect_groups(&group, pw.name, primary, &u);
		}
	}

	u.uid = (uid_t)uid;
	u.gid = (gid_t)primary;
	u.home = steal_pointer(&home);
	*out = u;
	return 0;
}

void berth_user_release(struct berth_user *u)
{
	if (!u)
		return;
	free(u->groups);
	free(u->home);
	*u = (struct berth_user){0};
}
