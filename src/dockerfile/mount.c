/* RUN --mount: the CSV option list parsed into a typed mount with BuildKit's
 * defaults (bind read-only, secret 0400 at /run/secrets/<id>, cache shared
 * and keyed by its target, ...) and its errors. */
#include "dockerfile/dockerfile_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>

static const char *const mount_type_names[] = {
    [BERTH_DF_MOUNT_BIND] = "bind",   [BERTH_DF_MOUNT_CACHE] = "cache",
    [BERTH_DF_MOUNT_TMPFS] = "tmpfs", [BERTH_DF_MOUNT_SECRET] = "secret",
    [BERTH_DF_MOUNT_SSH] = "ssh",
};

/* One CSV record (Go's encoding/csv, strict quotes). */
static int csv_fields(const char *s, struct berth_strv *out, struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf f;
	berth_buf_init(&f, BERTH_BUF_UNLIMITED);
	for (;;) {
		berth_buf_reset(&f);
		if (*s == '"') {
			s++;
			for (;;) {
				if (!*s)
					return berth_err_set(
					    err, BERTH_E_INVALID,
					    "extraneous or missing \" in quoted field");
				if (*s == '"' && s[1] == '"') {
					berth_buf_addch(&f, '"');
					s += 2;
				} else if (*s == '"') {
					s++;
					break;
				} else {
					berth_buf_addch(&f, *s++);
				}
			}
			if (*s && *s != ',')
				return berth_err_set(err, BERTH_E_INVALID,
						     "extraneous or missing \" in quoted field");
		} else {
			while (*s && *s != ',') {
				if (*s == '"')
					return berth_err_set(err, BERTH_E_INVALID,
							     "bare \" in non-quoted field");
				berth_buf_addch(&f, *s++);
			}
		}
		berth_strv_push(out, f.data);
		if (!*s)
			return 0;
		s++; /* ',' */
	}
}

/* go-units RAMInBytes: "64m", "1.5g", "512kb", binary multiples. */
static int parse_size(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0 || !isdigit((unsigned char)s[0]))
		return -1;
	while (*end == ' ')
		end++;
	double mul = 1;
	const char *units = "kmgtp";
	if (*end) {
		const char *u = strchr(units, tolower((unsigned char)*end));
		if (u) {
			for (const char *k = units; k <= u; k++)
				mul *= 1024;
			end++;
		}
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
	}
	if (*end || v * mul > (double)INT64_MAX)
		return -1;
	*out = (int64_t)(v * mul);
	return 0;
}

static int parse_ulong(const char *s, int base, long *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	unsigned long v = strtoul(s, &end, base);
	if (*end || errno || v > UINT32_MAX)
		return -1;
	*out = (long)v;
	return 0;
}

static char *path_base(const char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	const char *s = p + n;
	while (s > p && s[-1] != '/')
		s--;
	if (s == p + n)
		return berth_xstrdup(n ? "/" : ".");
	return berth_xstrndup(s, (size_t)(p + n - s));
}

static int set_bool(const char *key, const char *value, bool *dst, struct berth_err **err)
{
	if (berth__df_parse_bool(value, dst) < 0)
		return berth_err_set(err, BERTH_E_INVALID, "invalid value for %s: '%s'", key,
				     value);
	return 0;
}

static int set_str(char **dst, char **value)
{
	free(*dst);
	*dst = steal_pointer(value);
	return 0;
}

/* Apply one key=value option. value is owned by the caller. */
static int mount_option(struct berth_df_mount *m, const char *key, char **value, bool *ro_auto,
			bool *mode_set, bool *uid_set, bool *gid_set, bool *sharing_set,
			const char *field, struct berth_err **err)
{
	const char *v = *value;
	if (!strcmp(key, "type")) {
		for (size_t i = 0; i < BERTH_ARRAY_SIZE(mount_type_names); i++) {
			if (!strcasecmp(v, mount_type_names[i])) {
				m->type = (enum berth_df_mount_type)i;
				return 0;
			}
		}
		return berth_err_set(
		    err, BERTH_E_INVALID,
		    "unsupported mount type '%s' (use bind, cache, tmpfs, secret or ssh)", v);
	}
	if (!strcmp(key, "from"))
		return set_str(&m->from, value);
	if (!strcmp(key, "source") || !strcmp(key, "src"))
		return set_str(&m->source, value);
	if (!strcmp(key, "target") || !strcmp(key, "dst") || !strcmp(key, "destination"))
		return set_str(&m->target, value);
	if (!strcmp(key, "id"))
		return set_str(&m->id, value);
	if (!strcmp(key, "env"))
		return set_str(&m->env, value);
	if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
		*ro_auto = false;
		return set_bool(key, v, &m->readonly, err);
	}
	if (!strcmp(key, "readwrite") || !strcmp(key, "rw")) {
		*ro_auto = false;
		bool rw;
		if (set_bool(key, v, &rw, err) < 0)
			return -BERTH_E_INVALID;
		m->readonly = !rw;
		return 0;
	}
	if (!strcmp(key, "required")) {
		if (m->type != BERTH_DF_MOUNT_SECRET && m->type != BERTH_DF_MOUNT_SSH)
			return berth_err_set(err, BERTH_E_INVALID,
					     "unexpected key 'required' for mount type '%s'",
					     mount_type_names[m->type]);
		return set_bool(key, v, &m->required, err);
	}
	if (!strcmp(key, "size")) {
		if (m->type != BERTH_DF_MOUNT_TMPFS)
			return berth_err_set(err, BERTH_E_INVALID,
					     "unexpected key 'size' for mount type '%s'",
					     mount_type_names[m->type]);
		if (parse_size(v, &m->size) < 0)
			return berth_err_set(err, BERTH_E_INVALID, "invalid value for size: '%s'",
					     v);
		return 0;
	}
	if (!strcmp(key, "sharing")) {
		if (m->type != BERTH_DF_MOUNT_CACHE)
			return berth_err_set(err, BERTH_E_INVALID,
					     "invalid cache sharing set for %s mount",
					     mount_type_names[m->type]);
		*sharing_set = true;
		if (!strcasecmp(v, "shared"))
			m->sharing = BERTH_DF_SHARING_SHARED;
		else if (!strcasecmp(v, "private"))
			m->sharing = BERTH_DF_SHARING_PRIVATE;
		else if (!strcasecmp(v, "locked"))
			m->sharing = BERTH_DF_SHARING_LOCKED;
		else
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "unsupported sharing value '%s' (use shared, private or locked)", v);
		return 0;
	}
	if (!strcmp(key, "mode")) {
		*mode_set = true;
		if (parse_ulong(v, 8, &m->mode) < 0)
			return berth_err_set(err, BERTH_E_INVALID, "invalid value '%s' for mode",
					     v);
		return 0;
	}
	if (!strcmp(key, "uid") || !strcmp(key, "gid")) {
		bool uid = key[0] == 'u';
		*(uid ? uid_set : gid_set) = true;
		if (parse_ulong(v, 10, uid ? &m->uid : &m->gid) < 0)
			return berth_err_set(err, BERTH_E_INVALID, "invalid value '%s' for %s", v,
					     key);
		return 0;
	}
	return berth_err_set(err, BERTH_E_INVALID, "unexpected key '%s' in '%s'", key, field);
}

static int mount_defaults(struct berth_df_mount *m, const char *workdir, int ssh_index,
			  bool ro_auto, bool mode_set, bool uid_set, bool gid_set, bool sharing_set,
			  struct berth_err **err)
{
	const char *tname = mount_type_names[m->type];
	bool file_info = m->type == BERTH_DF_MOUNT_SECRET || m->type == BERTH_DF_MOUNT_SSH ||
			 m->type == BERTH_DF_MOUNT_CACHE;
	if (!file_info && (mode_set || uid_set || gid_set))
		return berth_err_set(err, BERTH_E_INVALID, "%s not allowed for '%s' type mounts",
				     mode_set  ? "mode"
				     : uid_set ? "uid"
					       : "gid",
				     tname);
	if (sharing_set && m->type != BERTH_DF_MOUNT_CACHE)
		return berth_err_set(err, BERTH_E_INVALID, "invalid cache sharing set for %s mount",
				     tname);
	if (m->env && m->type != BERTH_DF_MOUNT_SECRET)
		return berth_err_set(err, BERTH_E_INVALID,
				     "env is only allowed for secret mounts, not '%s'", tname);
	if (ro_auto)
		m->readonly = m->type != BERTH_DF_MOUNT_CACHE && m->type != BERTH_DF_MOUNT_TMPFS;
	if (!file_info) {
		m->mode = m->uid = m->gid = -1;
	} else {
		if (!mode_set)
			m->mode = m->type == BERTH_DF_MOUNT_SECRET ? 0400
				  : m->type == BERTH_DF_MOUNT_SSH  ? 0600
								   : 0755;
		if (!uid_set)
			m->uid = 0;
		if (!gid_set)
			m->gid = 0;
	}

	switch (m->type) {
	case BERTH_DF_MOUNT_SECRET:
		if (m->from)
			return berth_err_set(err, BERTH_E_INVALID,
					     "secret mount should not have a from");
		if (!m->source && !m->target && !m->id)
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "invalid secret mount: one of id, source or target is required");
		if (m->source && m->id)
			return berth_err_set(err, BERTH_E_INVALID,
					     "secret mount: both source and id can't be set");
		if (m->source) {
			free(m->id);
			m->id = steal_pointer(&m->source);
		}
		if (!m->id)
			m->id = path_base(m->target);
		if (!m->target && !m->env) {
			_cleanup_free_ char *base = path_base(m->id);
			m->target = berth_xasprintf("/run/secrets/%s", base);
		}
		break;
	case BERTH_DF_MOUNT_SSH:
		if (!m->id)
			m->id = berth_xstrdup("default");
		if (!m->target)
			m->target = berth_xasprintf("/run/buildkit/ssh_agent.%d", ssh_index);
		break;
	default:
		if (!m->target || !*m->target)
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "mount target is required for type=%s mounts (add target=/path)",
			    tname);
		break;
	}
	if (m->target) {
		char *abs = berth__df_path_join(workdir, m->target);
		free(m->target);
		m->target = abs;
		if (!strcmp(m->target, "/") && m->type != BERTH_DF_MOUNT_SECRET)
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "invalid mount target '/': cannot mount over the root");
	}
	if (m->type == BERTH_DF_MOUNT_CACHE && !m->id)
		m->id = berth_xstrdup(m->target);
	return 0;
}

int berth__df_parse_mount(const char *value, berth__df_expand_fn expand, void *ctx,
			  const char *workdir, int ssh_index, struct berth_df_mount *m,
			  struct berth_err **err)
{
	memset(m, 0, sizeof(*m));
	m->type = BERTH_DF_MOUNT_BIND;
	m->from_stage = -1;
	_cleanup_strv_ struct berth_strv fields = BERTH_STRV_INIT;
	if (csv_fields(value, &fields, err) < 0)
		return berth_err_prefix(err, "--mount '%s'", value);

	bool ro_auto = true, mode_set = false, uid_set = false, gid_set = false,
	     sharing_set = false;
	for (size_t i = 0; i < fields.n; i++) {
		const char *field = fields.v[i];
		const char *eq = strchr(field, '=');
		_cleanup_free_ char *key =
		    berth_xstrndup(field, eq ? (size_t)(eq - field) : strlen(field));
		for (char *c = key; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!eq) {
			if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
				m->readonly = true;
				ro_auto = false;
				continue;
			}
			if (!strcmp(key, "readwrite") || !strcmp(key, "rw")) {
				m->readonly = false;
				ro_auto = false;
				continue;
			}
			if (!strcmp(key, "required") &&
			    (m->type == BERTH_DF_MOUNT_SECRET || m->type == BERTH_DF_MOUNT_SSH)) {
				m->required = true;
				continue;
			}
			if (!strcmp(key, "required"))
				return berth_err_set(
				    err, BERTH_E_INVALID,
				    "unexpected key 'required' for mount type '%s'",
				    mount_type_names[m->type]);
			return berth_err_set(err, BERTH_E_INVALID,
					     "invalid field '%s' must be a key=value pair", field);
		}
		_cleanup_free_ char *v = NULL;
		if (!strcmp(key, "from")) {
			if (strchr(eq + 1, '$'))
				return berth_err_set(err, BERTH_E_INVALID,
						     "'from' doesn't support variable expansion, "
						     "define alias stage instead");
			v = berth_xstrdup(eq + 1);
		} else if (expand) {
			if (expand(ctx, eq + 1, &v, err) < 0)
				return berth_err_prefix(err, "--mount option '%s'", key);
		} else {
			v = berth_xstrdup(eq + 1);
		}
		if (mount_option(m, key, &v, &ro_auto, &mode_set, &uid_set, &gid_set, &sharing_set,
				 field, err) < 0)
			return -BERTH_E_INVALID;
	}
	return mount_defaults(m, workdir, ssh_index, ro_auto, mode_set, uid_set, gid_set,
			      sharing_set, err);
}

void berth__df_mount_release(struct berth_df_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->env);
	memset(m, 0, sizeof(*m));
}

const char *berth__df_mount_type_name(enum berth_df_mount_type t)
{
	return mount_type_names[t];
}
