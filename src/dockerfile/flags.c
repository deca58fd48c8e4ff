/* Instruction flags with BuildKit's rules: `--name=value` or a bare `--name`
 * for booleans; unknown, duplicate and malformed flags are errors. Also small
 * value parsers shared by the instruction layer (booleans, paths). */
#include "dockerfile/dockerfile_int.h"

#include <stdlib.h>

int berth__df_parse_bool(const char *s, bool *out)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(t); i++) {
		if (!strcmp(s, t[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, f[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int berth__df_parse_flags(const struct berth_strv *flags, struct berth__df_flag *defs, size_t n,
			  const char *instr, struct berth_err **err)
{
	for (size_t i = 0; i < flags->n; i++) {
		const char *arg = flags->v[i];
		if (strncmp(arg, "--", 2) != 0)
			return berth_err_set(err, BERTH_E_INVALID,
					     "%s: arg should start with -- : '%s'", instr, arg);
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		struct berth__df_flag *f = NULL;
		for (size_t j = 0; j < n; j++)
			if (strlen(defs[j].name) == nlen && !strncmp(defs[j].name, name, nlen))
				f = &defs[j];
		if (!f)
			return berth_err_set(
			    err, BERTH_E_INVALID, "%s: unknown flag: --%.*s (allowed: %s)", instr,
			    (int)nlen, name, n ? "see 'berth dockerfile --help'" : "none");
		if (f->seen && f->type != BERTH__FLAG_STRINGS)
			return berth_err_set(err, BERTH_E_INVALID,
					     "%s: duplicate flag specified: --%s", instr, f->name);
		f->seen = true;
		switch (f->type) {
		case BERTH__FLAG_BOOL:
			f->bval = true;
			if (eq && berth__df_parse_bool(eq + 1, &f->bval) < 0)
				return berth_err_set(
				    err, BERTH_E_INVALID,
				    "%s: expecting boolean value for flag --%s, not: '%s'", instr,
				    f->name, eq + 1);
			break;
		case BERTH__FLAG_STRING:
			if (!eq)
				return berth_err_set(err, BERTH_E_INVALID,
						     "%s: missing a value on flag: --%s", instr,
						     f->name);
			f->value = berth_xstrdup(eq + 1);
			break;
		case BERTH__FLAG_STRINGS:
			if (!eq)
				return berth_err_set(err, BERTH_E_INVALID,
						     "%s: missing a value on flag: --%s", instr,
						     f->name);
			berth_strv_push(&f->values, eq + 1);
			break;
		}
	}
	return 0;
}

void berth__df_flags_release(struct berth__df_flag *defs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(defs[i].value);
		defs[i].value = NULL;
		berth_strv_release(&defs[i].values);
	}
}

/* path.Clean: lexical, always absolute here. */
static char *path_clean(const char *p)
{
	_cleanup_strv_ struct berth_strv parts = BERTH_STRV_INIT;
	const char *s = p;
	while (*s) {
		while (*s == '/')
			s++;
		const char *e = s;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - s);
		if (len == 0 || (len == 1 && s[0] == '.')) {
			/* skip */
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (parts.n) {
				free(parts.v[--parts.n]);
				parts.v[parts.n] = NULL;
			}
		} else {
			berth_strv_push_owned(&parts, berth_xstrndup(s, len));
		}
		s = e;
	}
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < parts.n; i++) {
		berth_buf_addch(&b, '/');
		berth_buf_addstr(&b, parts.v[i]);
	}
	if (!b.len)
		berth_buf_addch(&b, '/');
	return berth_buf_steal(&b, NULL);
}

char *berth__df_path_join(const char *base, const char *p)
{
	if (p[0] == '/')
		return path_clean(p);
	_cleanup_free_ char *joined = berth_xasprintf("%s/%s", base && *base ? base : "/", p);
	return path_clean(joined);
}
