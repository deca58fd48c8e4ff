/* Which Debian mirror a base image comes from: --mirror, else the one the
 * host's apt already uses (so a machine behind a local mirror or proxy needs
 * no flag), else deb.debian.org. Reads apt's one-line (sources.list, *.list)
 * and deb822 (*.sources) formats. */
#include "base/base_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void berth_apt_mirror_release(struct berth_apt_mirror *m)
{
	free(m->uri);
	free(m->security);
	free(m->origin);
	memset(m, 0, sizeof(*m));
}

/* What one sources file says about a suite. */
struct scan {
	const char *suite;
	const char *file;
	struct berth_apt_mirror *out;
	char *updates; /* a SUITE-updates entry, used when SUITE itself is missing */
	char *updates_origin;
};

static bool usable_uri(const char *u)
{
	return !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8) || !strncmp(u, "file:", 5);
}

static char *tidy_uri(const char *u, size_t n)
{
	while (n > 0 && u[n - 1] == '/')
		n--;
	return berth_xstrndup(u, n);
}

/* One (uri, suite) pair of an enabled "deb" entry. */
static void saw(struct scan *sc, const char *uri, size_t ulen, const char *suite, size_t slen)
{
	_cleanup_free_ char *u = tidy_uri(uri, ulen);
	if (!usable_uri(u))
		return;
	size_t n = strlen(sc->suite);
	if (slen < n || memcmp(suite, sc->suite, n))
		return;
	const char *rest = suite + n;
	size_t rlen = slen - n;
	while (rlen > 0 && rest[rlen - 1] == '/') /* "bookworm/" */
		rlen--;
	if (rlen == 0) {
		if (!sc->out->uri) {
			sc->out->uri = steal_pointer(&u);
			free(sc->out->origin);
			sc->out->origin = berth_xstrdup(sc->file);
		}
	} else if ((rlen == 9 && !memcmp(rest, "-security", 9)) ||
		   (rlen == 8 && !memcmp(rest, "/updates", 8))) {
		if (!sc->out->security)
			sc->out->security = steal_pointer(&u);
	} else if (rlen == 8 && !memcmp(rest, "-updates", 8)) {
		if (!sc->updates) {
			sc->updates = steal_pointer(&u);
			sc->updates_origin = berth_xstrdup(sc->file);
		}
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The next blank-separated word of [*p, end); false at the end. */
static bool word(const char **p, const char *end, const char **w, size_t *n)
{
	const char *s = *p;
	while (s < end && is_space(*s))
		s++;
	if (s == end)
		return false;
	const char *e = s;
	while (e < end && !is_space(*e))
		e++;
	*w = s;
	*n = (size_t)(e - s);
	*p = e;
	return true;
}

/* "deb [opts] uri suite comp...": one line of the one-line format. */
static void one_line(struct scan *sc, const char *s, const char *end)
{
	const char *hash = memchr(s, '#', (size_t)(end - s));
	if (hash)
		end = hash;
	const char *w;
	size_t n;
	if (!word(&s, end, &w, &n) || n != 3 || memcmp(w, "deb", 3))
		return;
	if (!word(&s, end, &w, &n))
		return;
	if (w[0] == '[') { /* options: up to the closing bracket */
		const char *close = memchr(w, ']', (size_t)(end - w));
		if (!close)
			return;
		s = close + 1;
		if (!word(&s, end, &w, &n))
			return;
	}
	const char *uri = w;
	size_t ulen = n;
	if (word(&s, end, &w, &n))
		saw(sc, uri, ulen, w, n);
}

static void scan_list(struct scan *sc, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		one_line(sc, p, le);
		p = nl ? nl + 1 : end;
	}
}

/* One deb822 stanza's fields of interest, as views into the text. */
struct stanza {
	struct berth_sv types, uris, suites, enabled;
};

static void stanza_done(struct scan *sc, struct stanza *st)
{
	bool deb = false;
	const char *p = st->types.p, *end = st->types.p + st->types.len, *w;
	size_t n;
	while (st->types.p && word(&p, end, &w, &n))
		deb |= n == 3 && !memcmp(w, "deb", 3);
	bool enabled = !st->enabled.p || !berth_sv_eq_icase(st->enabled, "no");
	if (deb && enabled && st->uris.p && st->suites.p) {
		const char *up = st->uris.p, *uend = st->uris.p + st->uris.len, *u;
		size_t un;
		while (word(&up, uend, &u, &un)) {
			const char *sp = st->suites.p, *send = st->suites.p + st->suites.len, *s;
			size_t sn;
			while (word(&sp, send, &s, &sn))
				saw(sc, u, un, s, sn);
		}
	}
	memset(st, 0, sizeof(*st));
}

/* deb822 stanzas, continuation lines already joined (see fold()). */
static void scan_deb822(struct scan *sc, const char *text, size_t len)
{
	struct stanza st = {0};
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *q = p;
		while (q < le && is_space(*q))
			q++;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (q == le) { /* a blank line ends the stanza */
			stanza_done(sc, &st);
		} else if (*p != '#' && colon) {
			struct berth_sv key = {p, (size_t)(colon - p)};
			struct berth_sv *field = berth_sv_eq_icase(key, "Types")     ? &st.types
						 : berth_sv_eq_icase(key, "URIs")    ? &st.uris
						 : berth_sv_eq_icase(key, "Suites")  ? &st.suites
						 : berth_sv_eq_icase(key, "Enabled") ? &st.enabled
										     : NULL;
			const char *v = colon + 1, *ve = le;
			while (v < ve && is_space(*v))
				v++;
			while (ve > v && is_space(ve[-1]))
				ve--;
			if (field)
				*field = (struct berth_sv){v, (size_t)(ve - v)};
		}
		p = nl ? nl + 1 : end;
	}
	stanza_done(sc, &st);
}

/* Join deb822 continuation lines (they start with a space or tab) onto
 * their field's line, so that "Suites: a\n b" reads as "Suites: a b".
 * Comment lines are dropped. */
static void fold(const char *text, size_t len, struct berth_buf *out)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *q = p;
		while (q < le && is_space(*q))
			q++;
		if (*p == '#') {
			/* a comment */
		} else if (q < le && q > p && out->len > 0 && out->data[out->len - 1] == '\n') {
			out->len--;
			berth_buf_addch(out, ' ');
			berth_buf_add(out, q, (size_t)(le - q));
			berth_buf_addch(out, '\n');
		} else {
			berth_buf_add(out, p, (size_t)(le - p));
			berth_buf_addch(out, '\n');
		}
		p = nl ? nl + 1 : end;
	}
}

static int scan_file(struct scan *sc, const char *path, bool deb822, struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf b;
	berth_buf_init(&b, BERTH_BASE_SOURCES_MAX);
	struct berth_err *e = NULL;
	if (berth_fs_read_file(path, BERTH_BASE_SOURCES_MAX, &b, &e) < 0) {
		if (e->sys_errno == ENOENT) {
			berth_err_free(e);
			return 0;
		}
		int code = -(int)e->code;
		if (!err) {
			berth_err_free(e);
			return code;
		}
		*err = e;
		return berth_err_prefix(err, "read apt sources");
	}
	sc->file = path;
	if (deb822) {
		_cleanup_buf_ struct berth_buf folded;
		berth_buf_init(&folded, BERTH_BASE_SOURCES_MAX);
		fold(b.data ? b.data : "", b.len, &folded);
		scan_deb822(sc, folded.data ? folded.data : "", folded.len);
	} else {
		scan_list(sc, b.data ? b.data : "", b.len);
	}
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

int berth_base_host_mirror(const char *root, const char *suite, struct berth_apt_mirror *out,
			   struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (!root)
		root = "";
	struct scan sc = {.suite = suite, .out = out};
	_cleanup_free_ char *list = berth_xasprintf("%s/etc/apt/sources.list", root);
	int r = scan_file(&sc, list, false, err);
	_cleanup_free_ char *dir = berth_xasprintf("%s/etc/apt/sources.list.d", root);
	struct dirent **names = NULL;
	int n = r < 0 ? 0 : scandir(dir, &names, NULL, by_name);
	for (int i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		bool deb822 = ends_with(f, ".sources");
		if (r == 0 && f[0] != '.' && (deb822 || ends_with(f, ".list"))) {
			_cleanup_free_ char *path = berth_xasprintf("%s/%s", dir, f);
			r = scan_file(&sc, path, deb822, err);
		}
		free(names[i]);
	}
	free(names);
	if (r == 0 && !out->uri && sc.updates) {
		out->uri = steal_pointer(&sc.updates);
		out->origin = steal_pointer(&sc.updates_origin);
	}
	free(sc.updates);
	free(sc.updates_origin);
	if (r < 0 || !out->uri) {
		berth_apt_mirror_release(out);
		return r;
	}
	return 0;
}

int berth_base_pick_mirror(const char *explicit, const char *apt_root, const char *suite,
			   struct berth_apt_mirror *out, struct berth_err **err)
{
	memset(out, 0, sizeof(*out));
	if (explicit) {
		if (!usable_uri(explicit))
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "--mirror '%s': give an http://, https:// or file: URL "
			    "of a Debian mirror (like %s)",
			    explicit, BERTH_BASE_DEFAULT_MIRROR);
		out->uri = tidy_uri(explicit, strlen(explicit));
		if (!strcmp(out->uri, BERTH_BASE_DEFAULT_MIRROR))
			out->security = berth_xstrdup(BERTH_BASE_DEFAULT_SECURITY);
		out->origin = berth_xstrdup("--mirror");
		return 0;
	}
	if (berth_base_host_mirror(apt_root, suite, out, err) < 0)
		return -1;
	if (out->uri)
		return 0;
	out->uri = berth_xstrdup(BERTH_BASE_DEFAULT_MIRROR);
	out->security = berth_xstrdup(BERTH_BASE_DEFAULT_SECURITY);
	out->origin = berth_xstrdup("the default");
	return 0;
}
