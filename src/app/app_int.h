/* Internals shared by the files of app/; included by nothing outside the
 * module. The YAML loader (yaml.c) turns a berth.yaml into a jansson tree
 * plus a side table of where each value was written; the one validator
 * (validate.c) reads that tree, or the SDK's JSON with no table. */
#ifndef BERTH_APP_INT_H
#define BERTH_APP_INT_H

#include "app/app.h"

/* Where one value of the tree was written: the member `key` (or the item
 * `index` when key is NULL) of the container `parent`. Containers are keyed by
 * pointer: jansson shares true/false/null, so a value cannot name itself. A
 * container reached through several aliases is shared, and so are its
 * entries, which name the lines of the anchored original. */
struct berth__app_pos {
	const json_t *parent; /* borrowed: lives as long as the tree */
	char *key;            /* owned, or NULL for an array item */
	size_t index;
	int line; /* 1-based */
	/* The source text of a plain scalar that resolved to a number ("1.10",
	 * "0x1F"), so that a string field takes what was written. Owned. */
	char *raw;
};

struct berth__app_lines {
	struct berth__app_pos *v; /* in document order */
	size_t n, cap;
	size_t *slots; /* open-addressing index: entry number + 1, 0 = free */
	size_t nslots; /* a power of two, at least twice n */
};

void berth__app_lines_release(struct berth__app_lines *l);
/* The entry for parent[key] (key non-NULL) or parent[index], or NULL; the
 * root's own entry is (NULL, NULL, 0). `l` may be NULL (a JSON source). */
const struct berth__app_pos *berth__app_lines_find(const struct berth__app_lines *l,
						   const json_t *parent, const char *key,
						   size_t index);

/* Parse one YAML document into *out (a new reference: a mapping) and fill
 * `lines` (which the caller releases after the tree). Plain scalars resolve
 * as YAML 1.2's core schema; quoted ones are strings. Errors carry the line;
 * on error nothing is left in *out or lines. */
int berth__app_yaml_parse(const char *text, size_t len, json_t **out,
			  struct berth__app_lines *lines, struct berth_err **err);

/* Check the tree `root` and fill *out. `lines` is NULL for JSON (errors then
 * have no line). `yaml` says the tree came from a berth.yaml (no "sdk" key).
 * `dir` is absolute; `default_name` is cleaned into the app name when the
 * tree has none (may be NULL). On error *out is zeroed. */
int berth__app_validate(const json_t *root, const struct berth__app_lines *lines, bool yaml,
			const char *dir, const char *default_name, struct berth_app_spec *out,
			struct berth_err **err);

/* An app name made from any text: lower-case, runs of other characters and
 * camelCase humps become one '-', at most 63 characters; "app" when nothing
 * is left. free(). */
char *berth__app_clean_name(const char *s);

#endif
