/* Image references with Docker's normalisation: "python:3.11" is
 * "docker.io/library/python:3.11"; a first component is a registry host only
 * when it has a '.' or ':' or is "localhost" (or has upper-case letters). */
#include "image/image.h"

#include <ctype.h>
#include <stdlib.h>

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		size_t sep = i;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !is_lower_alnum(s[i]) || i == sep)
			return false;
	}
	return true;
}

/* host[:port] with host a dotted name of [A-Za-z0-9-] labels or [ipv6]. */
static bool valid_domain(const char *s, size_t n)
{
	size_t i = 0;
	if (n && s[0] == '[') {
		/* An IPv6 literal as Docker takes it: \[[a-fA-F0-9:]+\]. */
		for (i = 1; i < n && (isxdigit((unsigned char)s[i]) || s[i] == ':'); i++)
			;
		if (i == 1 || i == n || s[i] != ']')
			return false;
		i++;
	} else {
		size_t label = 0;
		for (; i < n && s[i] != ':'; i++) {
			char c = s[i];
			if (c == '.') {
				if (label == 0)
					return false;
				label = 0;
			} else if (isalnum((unsigned char)c) || c == '-') {
				label++;
			} else {
				return false;
			}
		}
		if (label == 0)
			return false;
	}
	if (i == n)
		return true;
	if (s[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* [\w][\w.-]{0,127} */
static bool valid_tag(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > BERTH_TAG_MAX || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

void berth_ref_release(struct berth_ref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

int berth_ref_parse(const char *s, struct berth_ref *out, struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (!*s)
		return berth_err_set(err, BERTH_E_INVALID, "empty image reference");
	_cleanup_free_ char *name = berth_xstrdup(s);
	char *at = strchr(name, '@');
	if (at) {
		*at = '\0';
		if (!berth_digest_valid(at + 1))
			return berth_err_set(err, BERTH_E_INVALID,
					     "image reference '%s': invalid digest '%s' "
					     "(expected sha256: and 64 lower-case hex digits)",
					     s, at + 1);
		out->digest = berth_xstrdup(at + 1);
	}
	char *slash = strrchr(name, '/');
	char *colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = '\0';
		if (!valid_tag(colon + 1)) {
			berth_ref_release(out);
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "image reference '%s': invalid tag '%s' (letters, digits, "
			    "'_', '.', '-'; at most %d characters)",
			    s, colon + 1, BERTH_TAG_MAX);
		}
		out->tag = berth_xstrdup(colon + 1);
	}
	/* Split the domain off the first component. */
	char *first = strchr(name, '/');
	const char *path = name;
	if (first) {
		size_t n = (size_t)(first - name);
		bool upper = false;
		for (size_t i = 0; i < n; i++)
			upper |= isupper((unsigned char)name[i]);
		if (memchr(name, '.', n) || memchr(name, ':', n) ||
		    (n == 9 && !memcmp(name, "localhost", 9)) || upper) {
			if (!valid_domain(name, n)) {
				berth_ref_release(out);
				return berth_err_set(
				    err, BERTH_E_INVALID,
				    "image reference '%s': invalid registry host '%.*s'", s, (int)n,
				    name);
			}
			out->domain = berth_xstrndup(name, n);
			path = first + 1;
		}
	}
	if (!out->domain)
		out->domain = berth_xstrdup("docker.io");
	if (!strcmp(out->domain, "index.docker.io")) {
		free(out->domain);
		out->domain = berth_xstrdup("docker.io");
	}
	if (!*path) {
		berth_ref_release(out);
		return berth_err_set(err, BERTH_E_INVALID,
				     "image reference '%s': missing repository name", s);
	}
	/* Each path component. */
	for (const char *p = path; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!valid_component(p, n)) {
			bool upper = false;
			for (size_t i = 0; i < n; i++)
				upper |= isupper((unsigned char)p[i]);
			berth_ref_release(out);
			if (upper)
				return berth_err_set(
				    err, BERTH_E_INVALID,
				    "image reference '%s': repository name must be "
				    "lowercase",
				    s);
			return berth_err_set(err, BERTH_E_INVALID,
					     "image reference '%s': invalid repository component "
					     "'%.*s' (use a-z, 0-9 and single separators . _ __ -)",
					     s, (int)n, p);
		}
		p += n;
		if (*p == '/')
			p++;
		if (e && !*p) {
			berth_ref_release(out);
			return berth_err_set(err, BERTH_E_INVALID,
					     "image reference '%s': empty repository component", s);
		}
	}
	bool hub = !strcmp(out->domain, "docker.io");
	out->path =
	    hub && !strchr(path, '/') ? berth_xasprintf("library/%s", path) : berth_xstrdup(path);
	if (strlen(out->domain) + 1 + strlen(out->path) > BERTH_REF_MAX) {
		berth_ref_release(out);
		return berth_err_set(err, BERTH_E_LIMIT,
				     "image reference '%s': name longer than %d characters", s,
				     BERTH_REF_MAX);
	}
	return 0;
}

char *berth_ref_string(const struct berth_ref *r)
{
	const char *tag = r->tag ? r->tag : r->digest ? NULL : "latest";
	return berth_xasprintf("%s/%s%s%s%s%s", r->domain, r->path, tag ? ":" : "", tag ? tag : "",
			       r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *berth_ref_familiar(const struct berth_ref *r)
{
	const char *tag = r->tag ? r->tag : r->digest ? NULL : "latest";
	const char *path = r->path;
	bool hub = !strcmp(r->domain, "docker.io");
	if (hub && !strncmp(path, "library/", 8) && !strchr(path + 8, '/'))
		path += 8;
	/* "docker.io/localhost/x" or "docker.io/a.b/c" must keep its domain:
	 * without it the first component would be read as a registry host. */
	size_t first = strcspn(path, "/");
	if (hub && path[first] == '/' &&
	    (memchr(path, '.', first) || (first == 9 && !memcmp(path, "localhost", 9))))
		hub = false;
	return berth_xasprintf("%s%s%s%s%s%s%s", hub ? "" : r->domain, hub ? "" : "/", path,
			       tag ? ":" : "", tag ? tag : "", r->digest ? "@" : "",
			       r->digest ? r->digest : "");
}

const char *berth_ref_api_ref(const struct berth_ref *r)
{
	return r->digest ? r->digest : r->tag ? r->tag : "latest";
}

const char *berth_ref_api_host(const struct berth_ref *r)
{
	return !strcmp(r->domain, "docker.io") ? "registry-1.docker.io" : r->domain;
}

void berth_chain_id(const char *parent_chain, const char *diff_id, char out[BERTH_DIGEST_LEN + 1])
{
	if (!parent_chain || !*parent_chain) {
		snprintf(out, BERTH_DIGEST_LEN + 1, "%s", diff_id);
		return;
	}
	_cleanup_free_ char *s = berth_xasprintf("%s %s", parent_chain, diff_id);
	char hex[BERTH_SHA256_HEX_LEN + 1];
	berth_sha256_hex(s, strlen(s), hex);
	snprintf(out, BERTH_DIGEST_LEN + 1, "sha256:%s", hex);
}
