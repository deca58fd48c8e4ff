/* String vectors and KEY=VALUE environment lists. */
#include "common/common.h"

#include <stdarg.h>
#include <stdio.h>

void berth_strv_push_owned(struct berth_strv *sv, char *s)
{
	sv->v = berth_xgrow(sv->v, sizeof(char *), sv->n + 2, &sv->cap);
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void berth_strv_push(struct berth_strv *sv, const char *s)
{
	berth_strv_push_owned(sv, berth_xstrdup(s));
}

void berth_strv_pushf(struct berth_strv *sv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = berth_xvasprintf(fmt, ap);
	va_end(ap);
	berth_strv_push_owned(sv, s);
}

void berth_strv_release(struct berth_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void berth_strv_copy(struct berth_strv *dst, const struct berth_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		berth_strv_push(dst, src->v[i]);
}

bool berth_strv_contains(const struct berth_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

static bool env_key_is(const char *entry, const char *key, size_t keylen)
{
	return strncmp(entry, key, keylen) == 0 && entry[keylen] == '=';
}

const char *berth_env_get(const struct berth_strv *env, const char *key, size_t keylen)
{
	for (size_t i = env->n; i-- > 0;)
		if (env_key_is(env->v[i], key, keylen))
			return env->v[i] + keylen + 1;
	return NULL;
}

void berth_env_set(struct berth_strv *env, const char *key, const char *value)
{
	size_t keylen = strlen(key);
	char *entry = berth_xasprintf("%s=%s", key, value);
	for (size_t i = 0; i < env->n; i++) {
		if (env_key_is(env->v[i], key, keylen)) {
			free(env->v[i]);
			env->v[i] = entry;
			return;
		}
	}
	berth_strv_push_owned(env, entry);
}
