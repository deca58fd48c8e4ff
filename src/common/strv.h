/* String vectors: a growable, always NULL-terminated array of owned strings
 * (argv, env lists, word lists). */
#ifndef BERTH_COMMON_STRV_H
#define BERTH_COMMON_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct berth_strv {
	char **v; /* v[n] == NULL once anything was pushed; may be NULL when empty */
	size_t n;
	size_t cap;
};

#define BERTH_STRV_INIT    \
	{                  \
		NULL, 0, 0 \
	}

/* Append a copy of s / take ownership of s. */
void berth_strv_push(struct berth_strv *sv, const char *s);
void berth_strv_push_owned(struct berth_strv *sv, char *s);
void berth_strv_pushf(struct berth_strv *sv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void berth_strv_release(struct berth_strv *sv);
/* Deep copy. */
void berth_strv_copy(struct berth_strv *dst, const struct berth_strv *src);
bool berth_strv_contains(const struct berth_strv *sv, const char *s);

/* Environment lists of "KEY=VALUE" entries. Lookup returns the value of the
 * last entry for key (a borrowed pointer into sv) or NULL. Set replaces an
 * existing key in place, keeping its position, or appends. */
const char *berth_env_get(const struct berth_strv *env, const char *key, size_t keylen);
void berth_env_set(struct berth_strv *env, const char *key, const char *value);

static inline void berth__strv_releasep(struct berth_strv *sv)
{
	berth_strv_release(sv);
}
#define _cleanup_strv_ __attribute__((cleanup(berth__strv_releasep)))

#endif
