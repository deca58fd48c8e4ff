/* Fuzz target: what a registry sends about authentication. The first byte
 * picks the parser: WWW-Authenticate headers (one per line, parsed and then
 * learned by a session as a 401 would teach it), base64 (auth-file "auth"
 * fields), or an auth-file key (normalised to a host). Must never crash or
 * leak; what parses must be well-formed. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_AUTH_HEADERS 8 /* WWW-Authenticate headers per input, at most */

static bool is_lower(const char *s)
{
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return false;
	return true;
}

static void challenges(const char *text)
{
	struct berth_strv headers = BERTH_STRV_INIT;
	for (const char *p = text; *p && headers.n < FUZZ_AUTH_HEADERS;) {
		size_t n = strcspn(p, "\n");
		berth_strv_push_owned(&headers, berth_xstrndup(p, n));
		p += n;
		if (*p)
			p++;
	}
	struct berth__challenge *list = NULL;
	size_t n = 0;
	for (size_t i = 0; i < headers.n; i++) {
		struct berth_err *err = NULL;
		size_t before = n;
		if (berth__challenges_parse(headers.v[i], &list, &n, &err) < 0) {
			if (!err || err->code != BERTH_E_INVALID || !err->msg)
				abort();
			berth_err_free(err);
		} else if (err) {
			abort(); /* success leaves err alone */
		}
		if (n < before)
			abort(); /* challenges are only ever appended */
	}
	for (size_t i = 0; i < n; i++) {
		if (!list[i].scheme || !*list[i].scheme || !is_lower(list[i].scheme))
			abort();
		for (size_t k = 0; k < list[i].params.n; k++) {
			const char *kv = list[i].params.v[k];
			const char *eq = strchr(kv, '=');
			if (!eq || eq == kv)
				abort();
			char *key = berth_xstrndup(kv, (size_t)(eq - kv));
			if (!is_lower(key) || !berth__challenge_param(&list[i], key))
				abort();
			free(key);
		}
	}
	berth__challenges_free(list, n);

	/* A session learns from the same headers twice (the second 401 of a
	 * pull), then forgets. */
	struct berth_registry r = {0};
	struct berth_strv scopes = BERTH_STRV_INIT;
	berth__auth_learn(&r, &headers, &scopes);
	if (r.auth == BERTH__AUTH_BEARER && !r.realm)
		abort(); /* Bearer without a token endpoint */
	berth__auth_learn(&r, &headers, &scopes);
	char *key = berth__scopes_key(&scopes);
	if (!key)
		abort();
	free(key);
	berth__auth_forget(&r, &scopes);
	berth__auth_release(&r);
	berth_strv_release(&scopes);
	berth_strv_release(&headers);
}

static void base64(const char *text)
{
	size_t len;
	unsigned char *raw = berth__base64_decode(text, &len);
	if (!raw)
		return;
	if (raw[len] != '\0')
		abort(); /* the result is NUL-terminated */
	char *enc = berth_base64_encode(raw, len);
	size_t len2;
	unsigned char *raw2 = berth__base64_decode(enc, &len2);
	if (!raw2 || len2 != len || memcmp(raw, raw2, len))
		abort(); /* encode then decode must give the bytes back */
	free(raw2);
	free(enc);
	free(raw);
}

static void creds_key(const char *text)
{
	char *host = berth__creds_normalize(text);
	if (strchr(host, '/') || !is_lower(host))
		abort();
	char *again = berth__creds_normalize(host);
	if (strcmp(host, again))
		abort(); /* normalising is idempotent */
	free(again);
	free(host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 16384)
		return 0;
	char *text = berth_xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		challenges(text);
		break;
	case 1:
		base64(text);
		break;
	default:
		creds_key(text);
	}
	free(text);
	return 0;
}
