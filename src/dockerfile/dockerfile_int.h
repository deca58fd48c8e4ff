/* Internals shared by the files of dockerfile/; included by nothing outside
 * the module. */
#ifndef BERTH_DOCKERFILE_INT_H
#define BERTH_DOCKERFILE_INT_H

#include "dockerfile/dockerfile.h"

/* Go's unicode.IsSpace restricted to ASCII: what BuildKit trims. */
static inline bool berth__df_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* BuildKit's reWhitespace `[\t\v\f\r ]+`: what separates words on a line. */
static inline bool berth__df_is_word_sep(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

#endif

/* --- instruction flags (BuildKit's BFlags), flags.c --- */

enum berth__df_flag_type { BERTH__FLAG_STRING, BERTH__FLAG_BOOL, BERTH__FLAG_STRINGS };

struct berth__df_flag {
	const char *name; /* without the leading "--" */
	enum berth__df_flag_type type;
	bool seen;
	char *value;              /* STRING: owned */
	bool bval;                /* BOOL */
	struct berth_strv values; /* STRINGS (repeatable) */
};

/* Match the node's "--x=y" words against defs. Errors: unknown flag,
 * missing value, bad boolean, a non-repeatable flag given twice. */
int berth__df_parse_flags(const struct berth_strv *flags, struct berth__df_flag *defs, size_t n,
			  const char *instr, struct berth_err **err);
void berth__df_flags_release(struct berth__df_flag *defs, size_t n);

/* --- RUN --mount, mount.c --- */

/* Parse one --mount value. `expand` expands option values (never `from`);
 * `workdir` makes relative targets absolute. */
typedef int (*berth__df_expand_fn)(void *ctx, const char *word, char **out, struct berth_err **err);
int berth__df_parse_mount(const char *value, berth__df_expand_fn expand, void *ctx,
			  const char *workdir, int ssh_index, struct berth_df_mount *m,
			  struct berth_err **err);
void berth__df_mount_release(struct berth_df_mount *m);
const char *berth__df_mount_type_name(enum berth_df_mount_type t);

/* Go's strconv.ParseBool. */
int berth__df_parse_bool(const char *s, bool *out);
/* path.Join(base, p) when p is relative, path.Clean(p) otherwise. */
char *berth__df_path_join(const char *base, const char *p);

/* Fill each stage's deps, f->target and f->order (stages.c). `target` is a
 * stage name or index; NULL means the last stage. */
int berth__df_stage_graph(struct berth_df_file *f, const char *target, struct berth_err **err);
