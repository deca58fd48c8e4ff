/* The one validator of app specs: it walks the JSON tree of a berth.yaml or
 * of the SDK's output, checks every key against the schema in
 * docs/berth-yaml.md, fills defaults and builds the spec. Errors name the key
 * path ("scaling.max_runners must be ..."), the line when the tree came from
 * YAML, and suggest the key meant when an unknown one is close to a known. */
#include "app/app_int.h"
#include "dockerfile/dockerfile.h"
#include "image/image.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

#define PATH_SHOWN   256   /* a key path in messages */
#define KEY_SHOWN    64    /* a user's key in messages */
#define VALUE_SHOWN  48    /* a string value in messages */
#define NAME_MAX_LEN 256   /* an environment variable or secret name */
#define TEXT_MAX     65536 /* a path, a command word, a value */

struct vctx {
	const struct berth__app_lines *lines; /* NULL for JSON */
	bool yaml;
	const char *dir;
	struct berth_err **err;
};

/* A value being checked and where it is: parent[key] or parent[index]. */
struct vnode {
	const json_t *v; /* NULL when absent */
	const json_t *parent;
	const char *key; /* NULL for an item */
	size_t index;
	const struct vnode *up; /* the container's node; NULL for the root */
	char path[PATH_SHOWN];  /* "" for the root */
};

/* ------------------------------------------------------------ positions */

static bool plain_key(const char *k)
{
	size_t n = strlen(k);
	return n && n <= KEY_SHOWN &&
	       strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_-") == n;
}

/* Paths longer than PATH_SHOWN are cut: they only appear in messages. */
__attribute__((format(printf, 2, 3))) static void set_path(struct vnode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->path, sizeof(n->path), fmt, ap);
	va_end(ap);
}

static struct vnode member(const struct vnode *obj, const char *key)
{
	struct vnode n = {
	    .v = json_object_get(obj->v, key), .parent = obj->v, .key = key, .up = obj};
	if (plain_key(key))
		set_path(&n, "%s%s%s", obj->path, obj->path[0] ? "." : "", key);
	else
		set_path(&n, "%s['%.*s%s']", obj->path, KEY_SHOWN, key,
			 strlen(key) > KEY_SHOWN ? "..." : "");
	return n;
}

static struct vnode item(const struct vnode *arr, size_t i)
{
	struct vnode n = {.v = json_array_get(arr->v, i), .parent = arr->v, .index = i, .up = arr};
	set_path(&n, "%s[%zu]", arr->path, i);
	return n;
}

static const struct berth__app_pos *pos_of(const struct vctx *c, const struct vnode *n)
{
	return berth__app_lines_find(c->lines, n->parent, n->key, n->index);
}

/* The line of the value, or of the nearest container written in the file
 * (an absent key is reported on its mapping's line). */
static int line_of(const struct vctx *c, const struct vnode *n)
{
	if (!c->lines)
		return 0;
	for (; n; n = n->up) {
		const struct berth__app_pos *p = n->v ? pos_of(c, n) : NULL;
		if (p)
			return p->line;
	}
	const struct berth__app_pos *root = berth__app_lines_find(c->lines, NULL, NULL, 0);
	return root ? root->line : 1;
}

/* ------------------------------------------------------------ errors */

__attribute__((format(printf, 3, 4))) static int verr(const struct vctx *c, const struct vnode *n,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = berth_xvasprintf(fmt, ap);
	va_end(ap);
	return berth_err_set_line(c->err, BERTH_E_INVALID, line_of(c, n), "%s", msg);
}

/* Shortest decimal text that reads back as the same double. */
static void real_text(double d, char *buf, size_t size)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* How a value is shown after "got": numbers as written. */
static void describe(const struct vctx *c, const struct vnode *n, char *buf, size_t size)
{
	const json_t *v = n->v;
	const struct berth__app_pos *p = NULL;
	if (!v || json_is_null(v)) {
		snprintf(buf, size, "null");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v), k = 0;
		char shown[VALUE_SHOWN + 1];
		for (; k < len && k < VALUE_SHOWN; k++)
			shown[k] = (unsigned char)s[k] < 0x20 ? '?' : s[k];
		shown[k] = '\0';
		snprintf(buf, size, "'%s%s'", shown, len > VALUE_SHOWN ? "..." : "");
		return;
	}
	case JSON_INTEGER:
	case JSON_REAL:
		p = pos_of(c, n);
		if (p && p->raw)
			snprintf(buf, size, "%.*s", VALUE_SHOWN, p->raw);
		else if (json_is_integer(v))
			snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else
			real_text(json_real_value(v), buf, size);
		return;
	case JSON_TRUE:
		snprintf(buf, size, "true");
		return;
	case JSON_FALSE:
		snprintf(buf, size, "false");
		return;
	case JSON_ARRAY:
		snprintf(buf, size, "a list");
		return;
	default:
		snprintf(buf, size, "a mapping");
		return;
	}
}

/* "<path> must be <what>, got <value>". */
__attribute__((format(printf, 3, 4))) static int vbad(const struct vctx *c, const struct vnode *n,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *what = berth_xvasprintf(fmt, ap);
	va_end(ap);
	char got[VALUE_SHOWN + 16];
	describe(c, n, got, sizeof(got));
	return verr(c, n, "%s must be %s, got %s", n->path, what, got);
}

/* ------------------------------------------------------------ unknown keys */

/* Optimal string alignment distance, or SIZE_MAX for long strings. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > KEY_SHOWN || lb > KEY_SHOWN)
		return SIZE_MAX;
	size_t d[KEY_SHOWN + 1][KEY_SHOWN + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* Lower-case, '-' and ' ' as '_': "Keep-Alive" and "keep_alive" match. */
static void normalize_key(const char *k, char *out, size_t size)
{
	size_t i = 0;
	for (; k[i] && i + 1 < size; i++) {
		char ch = (char)tolower((unsigned char)k[i]);
		out[i] = ch == '-' || ch == ' ' ? '_' : ch;
	}
	out[i] = '\0';
}

/* The closest of `cands` to `key`, or NULL when none is close. */
static const char *closest(const char *key, const char *const *cands, size_t n)
{
	char nk[KEY_SHOWN + 1], nc[KEY_SHOWN + 1];
	normalize_key(key, nk, sizeof(nk));
	size_t limit = strlen(nk) / 3;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	const char *best = NULL;
	size_t bestd = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		normalize_key(cands[i], nc, sizeof(nc));
		size_t d = edit_distance(nk, nc);
		if (d <= limit && d < bestd) {
			best = cands[i];
			bestd = d;
		}
	}
	return best;
}

/* Where each key lives, and fal's names for berth's keys: a key written in
 * the wrong section, or by its fal name, is pointed at its place. */
static const struct {
	const char *key, *path;
} key_homes[] = {
    {"name", "name"},
    {"image", "image"},
    {"run", "run"},
    {"machine_type", "machine_type"},
    {"gpus", "gpus"},
    {"scaling", "scaling"},
    {"resources", "resources"},
    {"memory", "resources.memory"},
    {"cpus", "resources.cpus"},
    {"cpu", "resources.cpus"},
    {"request_timeout", "request_timeout"},
    {"startup_timeout", "startup_timeout"},
    {"termination_grace_period", "termination_grace_period"},
    {"secrets", "secrets"},
    {"data_mounts", "data_mounts"},
    {"auth", "auth"},
    {"dockerfile", "image.dockerfile"},
    {"dockerfile_path", "image.dockerfile_path"},
    {"ref", "image.ref"},
    {"context", "image.context"},
    {"build_args", "image.build_args"},
    {"registries", "image.registries"},
    {"dockerignore", "image.dockerignore"},
    {"command", "run.command"},
    {"port", "run.port"},
    {"env", "run.env"},
    {"health", "run.health"},
    {"path", "run.health.path"},
    {"method", "run.health.method"},
    {"start_period", "run.health.start_period"},
    {"timeout", "run.health.timeout"},
    {"failure_threshold", "run.health.failure_threshold"},
    {"interval", "run.health.interval"},
    {"min_runners", "scaling.min_runners"},
    {"max_runners", "scaling.max_runners"},
    {"concurrency_buffer", "scaling.concurrency_buffer"},
    {"max_multiplexing", "scaling.max_multiplexing"},
    {"keep_alive", "scaling.keep_alive"},
    {"scaling_delay", "scaling.scaling_delay"},
    /* fal's names */
    {"app_name", "name"},
    {"app_auth", "auth"},
    {"num_gpus", "gpus"},
    {"min_concurrency", "scaling.min_runners"},
    {"max_concurrency", "scaling.max_runners"},
    {"termination_grace_period_seconds", "termination_grace_period"},
    {"dockerfile_str", "image.dockerfile"},
    {"context_dir", "image.context"},
    {"exposed_port", "run.port"},
    {"cmd", "run.command"},
    {"entrypoint", "run.command"},
    {"environment", "run.env"},
    {"health_check", "run.health"},
    {"start_period_seconds", "run.health.start_period"},
    {"timeout_seconds", "run.health.timeout"},
};

/* How to point at key_homes[i] from `section`. */
static void point_home(const char *section, size_t i, char *out, size_t size)
{
	const char *path = key_homes[i].path;
	const char *dot = strrchr(path, '.');
	size_t plen = dot ? (size_t)(dot - path) : 0;
	if (plen == strlen(section) && !strncmp(path, section, plen))
		snprintf(out, size, " (did you mean '%s'?)", dot ? dot + 1 : path);
	else if (!dot)
		snprintf(out, size, " (did you mean '%s' at the top level?)", path);
	else
		snprintf(out, size, " (did you mean '%s'?)", path);
}

static bool same_key(const char *a, const char *b)
{
	char na[KEY_SHOWN + 1], nb[KEY_SHOWN + 1];
	normalize_key(a, na, sizeof(na));
	normalize_key(b, nb, sizeof(nb));
	return !strcmp(na, nb);
}

/* " (did you mean 'x'?)", " (did you mean 'scaling.x'?)" or " (known keys:
 * ...)". In order: the same key spelled otherwise, a key of another section
 * or fal's name for it, a known key that starts the same, a near one. */
static void suggest(const char *section, const char *key, const char *const *known, char *out,
		    size_t size)
{
	size_t nknown = 0;
	while (known[nknown])
		nknown++;
	for (size_t i = 0; i < nknown; i++) {
		if (same_key(key, known[i])) {
			snprintf(out, size, " (did you mean '%s'?)", known[i]);
			return;
		}
	}
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(key_homes); i++) {
		if (same_key(key, key_homes[i].key)) {
			point_home(section, i, out, size);
			return;
		}
	}
	size_t klen = strlen(key);
	for (size_t i = 0; klen >= 3 && i < nknown; i++) {
		if (!strncmp(key, known[i], klen)) {
			snprintf(out, size, " (did you mean '%s'?)", known[i]);
			return;
		}
	}
	const char *near = closest(key, known, nknown);
	if (near) {
		snprintf(out, size, " (did you mean '%s'?)", near);
		return;
	}
	const char *homes[BERTH_ARRAY_SIZE(key_homes)];
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(key_homes); i++)
		homes[i] = key_homes[i].key;
	near = closest(key, homes, BERTH_ARRAY_SIZE(key_homes));
	for (size_t i = 0; near && i < BERTH_ARRAY_SIZE(key_homes); i++) {
		if (homes[i] == near) {
			point_home(section, i, out, size);
			return;
		}
	}
	size_t len = (size_t)snprintf(out, size, " (known keys:");
	for (size_t i = 0; i < nknown && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s %s", i ? "," : "", known[i]);
	if (len < size)
		snprintf(out + len, size - len, ")");
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* n must be a mapping (absent/null: an empty one) whose keys are all known. */
static int check_mapping(const struct vctx *c, const struct vnode *n, const char *const *known)
{
	if (!n->v || json_is_null(n->v))
		return 0;
	if (!json_is_object(n->v))
		return vbad(c, n, "a mapping");
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)n->v, k, v)
	{
		if (in_list(k, known))
			continue;
		struct vnode kn = member(n, k);
		char hint[512];
		suggest(n->path, k, known, hint, sizeof(hint));
		const char *dots = strlen(k) > KEY_SHOWN ? "..." : "";
		if (n->path[0])
			return verr(c, &kn, "unknown key '%.*s%s' in %s%s", KEY_SHOWN, k, dots,
				    n->path, hint);
		return verr(c, &kn, "unknown key '%.*s%s'%s", KEY_SHOWN, k, dots, hint);
	}
	return 0;
}

/* ------------------------------------------------------------ scalars */

static bool absent(const struct vnode *n)
{
	return !n->v || json_is_null(n->v);
}

/* A string (and, when `numbers`, a number as the text it was written as).
 * Returns 1 and *out (free()) when set, 0 when absent, <0 on error. */
static int get_text(const struct vctx *c, const struct vnode *n, bool numbers, const char *what,
		    char **out)
{
	*out = NULL;
	if (absent(n))
		return 0;
	if (json_is_string(n->v)) {
		const char *s = json_string_value(n->v);
		if (strlen(s) != json_string_length(n->v))
			return verr(c, n, "%s must not hold a NUL character", n->path);
		if (strlen(s) > TEXT_MAX)
			return verr(c, n, "%s is longer than %d bytes", n->path, TEXT_MAX);
		*out = berth_xstrdup(s);
		return 1;
	}
	if (numbers && json_is_number(n->v)) {
		char buf[64];
		const struct berth__app_pos *p = pos_of(c, n);
		if (p && p->raw)
			*out = berth_xstrdup(p->raw);
		else if (json_is_integer(n->v))
			*out = berth_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(n->v));
		else {
			real_text(json_real_value(n->v), buf, sizeof(buf));
			*out = berth_xstrdup(buf);
		}
		return 1;
	}
	if (numbers && json_is_boolean(n->v))
		return verr(c, n, "%s must be %s, got %s (quote it: '\"%s\"')", n->path, what,
			    json_is_true(n->v) ? "true" : "false",
			    json_is_true(n->v) ? "true" : "false");
	return vbad(c, n, "%s", what);
}

/* Returns 1 and *out when set, 0 when absent. */
static int get_int(const struct vctx *c, const struct vnode *n, long long lo, long long hi,
		   long long *out)
{
	if (absent(n))
		return 0;
	if (!json_is_integer(n->v) || json_integer_value(n->v) < lo ||
	    json_integer_value(n->v) > hi)
		return vbad(c, n, "an integer from %lld to %lld", lo, hi);
	*out = json_integer_value(n->v);
	return 1;
}

/* A duration in Go's shortest words: 90000 -> "1m30s". */
static void fmt_ms(long long ms, char *buf, size_t size)
{
	if (ms == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	size_t len = 0;
	static const struct {
		long long ms;
		const char *unit;
	} units[] = {{HOUR, "h"}, {MIN, "m"}, {SEC, "s"}, {1, "ms"}};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(units) && len < size; i++) {
		if (ms >= units[i].ms) {
			len += (size_t)snprintf(buf + len, size - len, "%lld%s", ms / units[i].ms,
						units[i].unit);
			ms %= units[i].ms;
		}
	}
}

/* Seconds (int or float) or a Go duration string; returns 1 and *ms when
 * set, 0 when absent. */
static int get_duration(const struct vctx *c, const struct vnode *n, long long lo_ms,
			long long hi_ms, int64_t *ms)
{
	if (absent(n))
		return 0;
	char lo[32], hi[32];
	fmt_ms(lo_ms, lo, sizeof(lo));
	fmt_ms(hi_ms, hi, sizeof(hi));
	double v = 0;
	bool ok = false;
	if (json_is_number(n->v)) {
		double secs = json_number_value(n->v);
		v = secs * 1000.0;
		ok = isfinite(v);
		if (ok && v >= 0 && v < 1e15)
			v = (double)(long long)(v + 0.5);
	} else if (json_is_string(n->v)) {
		const char *s = json_string_value(n->v);
		int64_t ns = 0;
		struct berth_err *e = NULL;
		ok = strlen(s) == json_string_length(n->v) && *s &&
		     berth_df_parse_duration(s, &ns, &e) == 0;
		berth_err_free(e);
		v = (double)(ns / 1000000);
		if (ok && ns < 0)
			v = -1;
	}
	if (!ok || v < (double)lo_ms || v > (double)hi_ms)
		return vbad(c, n,
			    "a duration from %s to %s: a number of seconds or a string such as "
			    "'30s', '5m' or '1h30m'",
			    lo, hi);
	*ms = (int64_t)v;
	return 1;
}

static bool env_name_ok(const char *s)
{
	if (!*s || isdigit((unsigned char)*s) || strlen(s) > NAME_MAX_LEN)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* PORT and BERTH_* are set by berth in every runner. */
static bool env_name_reserved(const char *s)
{
	return !strcmp(s, "PORT") || !strncmp(s, "BERTH_", 6);
}

static bool has_space_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A path resolved against dir that must exist as a directory or a regular
 * file; *out is its real path. */
static int get_existing_path(const struct vctx *c, const struct vnode *n, bool want_dir, char **out)
{
	_cleanup_free_ char *p = NULL;
	int r = get_text(c, n, false, want_dir ? "a directory path" : "a file path", &p);
	if (r <= 0)
		return r;
	if (!*p)
		return vbad(c, n, "%s", want_dir ? "a directory path" : "a file path");
	_cleanup_free_ char *joined =
	    p[0] == '/' ? berth_xstrdup(p) : berth_xasprintf("%s/%s", c->dir, p);
	char *real = realpath(joined, NULL);
	if (!real) {
		int e = errno;
		if (p[0] != '/')
			return verr(c, n, "%s '%s': %s (relative paths start at '%s')", n->path, p,
				    strerror(e), c->dir);
		return verr(c, n, "%s '%s': %s", n->path, p, strerror(e));
	}
	struct stat st;
	if (stat(real, &st) < 0 || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		int r2 = verr(c, n, "%s '%s' is not a %s", n->path, p,
			      want_dir ? "directory" : "regular file");
		free(real);
		return r2;
	}
	*out = real;
	return 1;
}

/* ------------------------------------------------------------ sections */

static const char *const top_keys_yaml[] = {
    "name",
    "image",
    "run",
    "machine_type",
    "gpus",
    "scaling",
    "resources",
    "request_timeout",
    "startup_timeout",
    "termination_grace_period",
    "secrets",
    "data_mounts",
    "auth",
    NULL,
};
static const char *const top_keys_json[] = {
    "name",
    "sdk",
    "image",
    "run",
    "machine_type",
    "gpus",
    "scaling",
    "resources",
    "request_timeout",
    "startup_timeout",
    "termination_grace_period",
    "secrets",
    "data_mounts",
    "auth",
    NULL,
};

static bool app_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 63)
		return false;
	if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

char *berth__app_clean_name(const char *s)
{
	char out[64];
	size_t n = 0;
	bool sep = false; /* a '-' is due before the next character */
	for (size_t i = 0; s[i] && n < 63; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x80 || !isalnum(ch)) {
			sep = true;
			continue;
		}
		/* A hump, as the SDK's app_name_for: MyApp -> my-app, v2App ->
		 * v2-app, HTTPServer -> http-server. */
		unsigned char prev = i ? (unsigned char)s[i - 1] : 0,
			      next = (unsigned char)s[i + 1];
		if (isupper(ch) && (islower(prev) || isdigit(prev) ||
				    (isupper(prev) && (islower(next) || isdigit(next)))))
			sep = true;
		if (sep && n > 0) {
			if (n >= 62)
				break;
			out[n++] = '-';
		}
		sep = false;
		out[n++] = (char)tolower(ch);
	}
	out[n] = '\0';
	return berth_xstrdup(n ? out : "app");
}

static int check_name(const struct vctx *c, const struct vnode *top, const char *default_name,
		      struct berth_app_spec *s)
{
	struct vnode n = member(top, "name");
	int r = get_text(c, &n, false, "a string", &s->name);
	if (r < 0)
		return r;
	if (r == 1 && !app_name_ok(s->name))
		return vbad(c, &n,
			    "1 to 63 characters of a-z, 0-9 and '-', starting with a letter or "
			    "a digit");
	if (r == 0) {
		if (default_name)
			s->name = berth__app_clean_name(default_name);
		else if (s->sdk_class)
			s->name = berth__app_clean_name(s->sdk_class);
		else {
			const char *slash = strrchr(c->dir, '/');
			s->name = berth__app_clean_name(slash ? slash + 1 : c->dir);
		}
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A list of endpoint paths into out (sorted, no duplicates). */
static int get_endpoints(const struct vctx *c, const struct vnode *n, struct berth_strv *out)
{
	if (absent(n))
		return 0;
	if (!json_is_array(n->v))
		return vbad(c, n, "a list of paths such as '/' or '/predict'");
	for (size_t i = 0; i < json_array_size(n->v); i++) {
		struct vnode it = item(n, i);
		_cleanup_free_ char *p = NULL;
		int r = get_text(c, &it, false, "a path such as '/' or '/predict'", &p);
		if (r < 0)
			return r;
		if (p[0] != '/' || has_space_or_control(p) || strchr(p, '?') || strchr(p, '#'))
			return vbad(c, &it, "a path such as '/' or '/predict'");
		if (berth_strv_contains(out, p))
			return verr(c, &it, "%s: '%s' is listed twice", n->path, p);
		berth_strv_push_owned(out, steal_pointer(&p));
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	return 0;
}

static bool python_identifier(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static int check_sdk(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	struct vnode n = member(top, "sdk");
	if (absent(&n))
		return 0;
	if (c->yaml)
		return verr(c, &n,
			    "unknown key 'sdk': a berth.yaml describes a server app; an SDK app "
			    "is read from its Python class (berth run app.py::MyApp)");
	static const char *const keys[] = {"file", "class", "endpoints", "stream_endpoints", NULL};
	int r = check_mapping(c, &n, keys);
	if (r < 0)
		return r;
	s->kind = BERTH_APP_SDK;
	struct vnode f = member(&n, "file"), cl = member(&n, "class");
	if ((r = get_existing_path(c, &f, false, &s->sdk_file)) < 0)
		return r;
	if (r == 0)
		return verr(c, &n, "sdk.file is required: the path of the app's .py file");
	if ((r = get_text(c, &cl, false, "a Python class name", &s->sdk_class)) < 0)
		return r;
	if (r == 0)
		return verr(c, &n, "sdk.class is required: the name of the app's class");
	if (!python_identifier(s->sdk_class))
		return vbad(c, &cl, "a Python class name");
	struct vnode ep = member(&n, "endpoints"), st = member(&n, "stream_endpoints");
	if ((r = get_endpoints(c, &ep, &s->endpoints)) < 0)
		return r;
	if (!s->endpoints.n)
		return verr(c, absent(&ep) ? &n : &ep,
			    "sdk.endpoints must list at least one path: mark a method of '%s' "
			    "with @endpoint(\"/\")",
			    s->sdk_class);
	if ((r = get_endpoints(c, &st, &s->stream_endpoints)) < 0)
		return r;
	for (size_t i = 0; i < s->stream_endpoints.n; i++)
		if (!berth_strv_contains(&s->endpoints, s->stream_endpoints.v[i]))
			return verr(c, &st, "sdk.stream_endpoints: '%s' is not in sdk.endpoints",
				    s->stream_endpoints.v[i]);
	return 0;
}

/* A mapping of NAME -> text into "NAME=text" entries (build args, env). */
static int get_string_map(const struct vctx *c, const struct vnode *n, bool env_names,
			  struct berth_strv *out)
{
	if (absent(n))
		return 0;
	if (!json_is_object(n->v))
		return vbad(c, n, "a mapping of %s to values",
			    env_names ? "variable names" : "argument names");
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)n->v, k, v)
	{
		struct vnode e = member(n, k);
		if (env_names ? !env_name_ok(k)
			      : (!*k || strchr(k, '=') || has_space_or_control(k)))
			return verr(c, &e,
				    env_names
					? "%s: '%.*s' is not a variable name (letters, digits "
					  "and '_', not starting with a digit)"
					: "%s: '%.*s' is not a build argument name",
				    n->path, KEY_SHOWN, k);
		if (env_names && env_name_reserved(k))
			return verr(c, &e, "%s: '%s' is set by berth in every runner", n->path, k);
		_cleanup_free_ char *val = NULL;
		int r = get_text(c, &e, true, "a string", &val);
		if (r < 0)
			return r;
		if (r == 0)
			return verr(c, &e, "%s must be a string, got null (write '\"\"' for empty)",
				    e.path);
		berth_strv_pushf(out, "%s=%s", k, val);
	}
	return 0;
}

static int check_registries(const struct vctx *c, const struct vnode *n, struct berth_app_spec *s)
{
	if (absent(n))
		return 0;
	if (!json_is_object(n->v))
		return vbad(c, n, "a mapping of registry hosts to {username, password}");
	static const char *const keys[] = {"username", "password", NULL};
	s->registries = berth_xcalloc(json_object_size(n->v) + 1, sizeof(*s->registries));
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)n->v, k, v)
	{
		struct vnode e = member(n, k);
		if (!*k || has_space_or_control(k))
			return verr(c, &e, "%s: '%.*s' is not a registry host", n->path, KEY_SHOWN,
				    k);
		if (!json_is_object(v))
			return vbad(c, &e, "a mapping with username and password");
		int r = check_mapping(c, &e, keys);
		if (r < 0)
			return r;
		struct berth_app_registry *reg = &s->registries[s->nregistries++];
		reg->host = berth_xstrdup(k);
		const char *names[] = {"username", "password"};
		char **dst[] = {&reg->username, &reg->password};
		for (size_t i = 0; i < 2; i++) {
			struct vnode f = member(&e, names[i]);
			if ((r = get_text(c, &f, true, "a string", dst[i])) < 0)
				return r;
			if (r == 0 || !**dst[i])
				return verr(c, &e, "%s.%s is required", e.path, names[i]);
		}
	}
	return 0;
}

static int check_build_secrets(const struct vctx *c, const struct vnode *n,
			       struct berth_app_spec *s)
{
	if (absent(n))
		return 0;
	if (!json_is_object(n->v))
		return vbad(c, n, "a mapping of secret ids to values (\"$NAME\" or text)");
	s->build_secrets = berth_xcalloc(json_object_size(n->v) + 1, sizeof(*s->build_secrets));
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)n->v, k, v)
	{
		struct vnode e = member(n, k);
		if (!*k || strlen(k) > NAME_MAX_LEN ||
		    strspn(k,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
			strlen(k))
			return verr(c, &e,
				    "%s: '%.*s' is not a secret id (letters, digits, '_', '.' and "
				    "'-', as in RUN --mount=type=secret,id=ID)",
				    n->path, KEY_SHOWN, k);
		_cleanup_free_ char *val = NULL;
		int r = get_text(c, &e, true, "a string (\"$NAME\" or text)", &val);
		if (r < 0)
			return r;
		if (r == 0 || !*val)
			return vbad(c, &e, "a string (\"$NAME\" or text)");
		struct berth_app_build_secret *bs = &s->build_secrets[s->nbuild_secrets++];
		bs->id = berth_xstrdup(k);
		bs->value = steal_pointer(&val);
	}
	return 0;
}

static int check_dockerignore(const struct vctx *c, const struct vnode *n, struct berth_app_spec *s)
{
	if (absent(n))
		return 0;
	if (!json_is_array(n->v))
		return vbad(c, n, "a list of .dockerignore patterns");
	s->has_dockerignore = true;
	for (size_t i = 0; i < json_array_size(n->v); i++) {
		struct vnode it = item(n, i);
		_cleanup_free_ char *p = NULL;
		int r = get_text(c, &it, true, "a .dockerignore pattern", &p);
		if (r < 0)
			return r;
		if (r == 0)
			return vbad(c, &it, "a .dockerignore pattern");
		berth_strv_push_owned(&s->dockerignore, steal_pointer(&p));
	}
	return 0;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

static int check_image(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	static const char *const keys[] = {"dockerfile", "dockerfile_path", "ref",
					   "context",    "build_args",      "secrets",
					   "registries", "dockerignore",    NULL};
	struct vnode n = member(top, "image");
	if (absent(&n) && s->kind == BERTH_APP_SDK)
		return verr(
		    c, &n,
		    "image is required: give the class an image "
		    "(image = ContainerImage.from_dockerfile_str(...), from_dockerfile(path) "
		    "or from_ref(ref)) with a python3 in it");
	if (absent(&n))
		return verr(c, &n,
			    "image is required: give image.dockerfile (the text), "
			    "image.dockerfile_path (a file) or image.ref (a pre-built image)");
	int r = check_mapping(c, &n, keys);
	if (r < 0)
		return r;
	static const char *const sources[] = {"dockerfile", "dockerfile_path", "ref"};
	const char *first = NULL;
	struct vnode first_node = {0};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(sources); i++) {
		struct vnode src = member(&n, sources[i]);
		if (absent(&src))
			continue;
		if (first) /* reported where the second was written */
			return verr(
			    c, line_of(c, &src) >= line_of(c, &first_node) ? &src : &first_node,
			    "image takes one of dockerfile, dockerfile_path and ref, got "
			    "both '%s' and '%s'",
			    first, sources[i]);
		first = sources[i];
		first_node = src;
	}
	if (!first)
		return verr(c, &n,
			    "image needs one of image.dockerfile (the text), image.dockerfile_path "
			    "(a file) or image.ref (a pre-built image)");

	struct vnode df = member(&n, "dockerfile"), dfp = member(&n, "dockerfile_path"),
		     ref = member(&n, "ref");
	if (!absent(&df)) {
		if (!json_is_string(df.v))
			return vbad(c, &df, "the text of a Dockerfile");
		const char *t = json_string_value(df.v);
		if (strlen(t) != json_string_length(df.v))
			return verr(c, &df, "image.dockerfile must not hold a NUL character");
		if (blank(t))
			return verr(c, &df,
				    "image.dockerfile is empty: write the Dockerfile's text, "
				    "or use image.dockerfile_path for a file");
		if (strlen(t) > BERTH_APP_DOCKERFILE_MAX)
			return verr(c, &df, "image.dockerfile is larger than %u bytes",
				    BERTH_APP_DOCKERFILE_MAX);
		s->dockerfile = berth_xstrdup(t);
	} else if (!absent(&dfp)) {
		if ((r = get_existing_path(c, &dfp, false, &s->dockerfile_path)) < 0)
			return r;
		struct berth_buf b;
		struct berth_err *e = NULL;
		berth_buf_init(&b, BERTH_APP_DOCKERFILE_MAX);
		if (berth_fs_read_file(s->dockerfile_path, BERTH_APP_DOCKERFILE_MAX, &b, &e) < 0) {
			berth_buf_release(&b);
			r = verr(c, &dfp, "image.dockerfile_path: %s", e->msg);
			if (c->err && *c->err && e->code == BERTH_E_LIMIT)
				(*c->err)->code = BERTH_E_LIMIT;
			berth_err_free(e);
			return r;
		}
		if (strlen(b.data) != b.len) {
			berth_buf_release(&b);
			return verr(c, &dfp, "image.dockerfile_path '%s' is not a text file",
				    s->dockerfile_path);
		}
		s->dockerfile = berth_buf_steal(&b, NULL);
	} else {
		if ((r = get_text(c, &ref, false, "an image reference such as 'python:3.11'",
				  &s->image_ref)) < 0)
			return r;
		struct berth_ref parsed;
		struct berth_err *e = NULL;
		if (berth_ref_parse(s->image_ref, &parsed, &e) < 0) {
			r = verr(c, &ref, "image.ref: %s", e->msg);
			berth_err_free(e);
			return r;
		}
		berth_ref_release(&parsed);
	}

	struct vnode ctx = member(&n, "context"), args = member(&n, "build_args"),
		     sec = member(&n, "secrets"), reg = member(&n, "registries"),
		     ign = member(&n, "dockerignore");
	if (s->image_ref) {
		const struct vnode *build_only[] = {&ctx, &args, &sec, &ign};
		for (size_t i = 0; i < BERTH_ARRAY_SIZE(build_only); i++)
			if (!absent(build_only[i]))
				return verr(c, build_only[i],
					    "%s is for builds (image.dockerfile or "
					    "image.dockerfile_path); image.ref is not built",
					    build_only[i]->path);
	} else {
		if ((r = get_existing_path(c, &ctx, true, &s->context)) < 0)
			return r;
		if (r == 0)
			s->context = berth_xstrdup(c->dir);
		if ((r = get_string_map(c, &args, false, &s->build_args)) < 0)
			return r;
		if ((r = check_build_secrets(c, &sec, s)) < 0)
			return r;
		if ((r = check_dockerignore(c, &ign, s)) < 0)
			return r;
	}
	return check_registries(c, &reg, s);
}

static int check_command(const struct vctx *c, const struct vnode *n, struct berth_app_spec *s)
{
	if (absent(n))
		return 0;
	if (s->kind == BERTH_APP_SDK)
		return verr(c, n,
			    "run.command is for server apps: an SDK app is served by its class");
	static const char *what = "a list of words (exec form) or a string (run by /bin/sh -c)";
	if (json_is_string(n->v)) {
		_cleanup_free_ char *cmd = NULL;
		int r = get_text(c, n, false, what, &cmd);
		if (r < 0)
			return r;
		if (blank(cmd))
			return verr(c, n,
				    "run.command is empty: leave it out to run the image's own "
				    "ENTRYPOINT and CMD");
		berth_strv_push(&s->command, "/bin/sh");
		berth_strv_push(&s->command, "-c");
		berth_strv_push_owned(&s->command, steal_pointer(&cmd));
		return 0;
	}
	if (!json_is_array(n->v))
		return vbad(c, n, "%s", what);
	if (!json_array_size(n->v))
		return verr(c, n,
			    "run.command is empty: leave it out to run the image's own ENTRYPOINT "
			    "and CMD");
	for (size_t i = 0; i < json_array_size(n->v); i++) {
		struct vnode it = item(n, i);
		_cleanup_free_ char *w = NULL;
		int r = get_text(c, &it, true, "a string", &w);
		if (r < 0)
			return r;
		if (r == 0)
			return vbad(c, &it, "a string");
		if (i == 0 && !*w)
			return verr(c, &it, "%s (the program) is empty", it.path);
		berth_strv_push_owned(&s->command, steal_pointer(&w));
	}
	return 0;
}

static int check_health(const struct vctx *c, const struct vnode *run, struct berth_app_spec *s)
{
	static const char *const keys[] = {
	    "path", "method", "start_period", "timeout", "failure_threshold", "interval", NULL};
	struct vnode n = member(run, "health");
	int r = check_mapping(c, &n, keys);
	if (r < 0)
		return r;
	struct berth_app_health *h = &s->health;
	struct vnode path = member(&n, "path"), method = member(&n, "method");
	if ((r = get_text(c, &path, false, "a path such as '/health'", &h->path)) < 0)
		return r;
	if (r == 0)
		h->path = berth_xstrdup("/health");
	else if (h->path[0] != '/' || has_space_or_control(h->path))
		return vbad(c, &path, "a path such as '/health'");
	if ((r = get_text(c, &method, false, "GET, HEAD or POST", &h->method)) < 0)
		return r;
	if (r == 0)
		h->method = berth_xstrdup("GET");
	for (char *p = h->method; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (strcmp(h->method, "GET") && strcmp(h->method, "HEAD") && strcmp(h->method, "POST"))
		return vbad(c, &method, "GET, HEAD or POST");

	h->start_period_ms = 0;
	h->timeout_ms = 5 * SEC;
	h->interval_ms = 15 * SEC;
	long long threshold = 3;
	struct vnode sp = member(&n, "start_period"), to = member(&n, "timeout"),
		     iv = member(&n, "interval"), ft = member(&n, "failure_threshold");
	if ((r = get_duration(c, &sp, 0, DAY, &h->start_period_ms)) < 0 ||
	    (r = get_duration(c, &to, 1, HOUR, &h->timeout_ms)) < 0 ||
	    (r = get_duration(c, &iv, 100, DAY, &h->interval_ms)) < 0 ||
	    (r = get_int(c, &ft, 1, 100, &threshold)) < 0)
		return r;
	h->failure_threshold = (int)threshold;
	return 0;
}

static int check_run(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	static const char *const keys[] = {"command", "port", "env", "health", NULL};
	struct vnode n = member(top, "run");
	int r = check_mapping(c, &n, keys);
	if (r < 0)
		return r;
	struct vnode cmd = member(&n, "command"), port = member(&n, "port"),
		     env = member(&n, "env");
	if ((r = check_command(c, &cmd, s)) < 0)
		return r;
	if (!absent(&port) && s->kind == BERTH_APP_SDK)
		return verr(c, &port,
			    "run.port is for server apps: an SDK app listens where berth says");
	long long p = 0;
	if ((r = get_int(c, &port, 1, 65535, &p)) < 0)
		return r;
	s->port = (int)p;
	if ((r = get_string_map(c, &env, true, &s->env)) < 0)
		return r;
	return check_health(c, &n, s);
}

static const char *const machine_types[] = {
    "XS",       "S",        "M",        "L",        "XL",       "GPU",
    "GPU-A10G", "GPU-A100", "GPU-H100", "GPU-H200", "GPU-B200", NULL,
};

static int check_machine_type(const struct vctx *c, const struct vnode *n, char **out)
{
	_cleanup_free_ char *t = NULL;
	int r = get_text(c, n, false, "a machine type such as 'S' or 'GPU-H100'", &t);
	if (r < 0)
		return r;
	if (in_list(t, machine_types)) {
		*out = steal_pointer(&t);
		return 0;
	}
	char known[256];
	size_t len = 0;
	for (size_t i = 0; machine_types[i]; i++)
		len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "",
					machine_types[i]);
	const char *near = closest(t, machine_types, BERTH_ARRAY_SIZE(machine_types) - 1);
	if (near)
		return verr(c, n, "%s '%.*s' is not a machine type (did you mean '%s'?)", n->path,
			    VALUE_SHOWN, t, near);
	return verr(c, n, "%s '%.*s' is not a machine type (known: %s)", n->path, VALUE_SHOWN, t,
		    known);
}

static int check_machine(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	struct vnode mt = member(top, "machine_type"), g = member(top, "gpus");
	long long gpus = -1;
	int r = get_int(c, &g, 0, 16, &gpus);
	if (r < 0)
		return r;
	if (json_is_array(mt.v)) {
		if (!json_array_size(mt.v))
			return verr(c, &mt,
				    "machine_type is an empty list: give a type such as 'S' or "
				    "'GPU', or a list of them in order of preference");
		for (size_t i = 0; i < json_array_size(mt.v); i++) {
			struct vnode it = item(&mt, i);
			_cleanup_free_ char *t = NULL;
			if ((r = check_machine_type(c, &it, &t)) < 0)
				return r;
			if (i == 0)
				s->machine_type = steal_pointer(&t);
		}
	} else if (!absent(&mt)) {
		if ((r = check_machine_type(c, &mt, &s->machine_type)) < 0)
			return r;
	} else {
		s->machine_type = berth_xstrdup(gpus > 0 ? "GPU" : "S");
	}
	if (gpus < 0)
		gpus = !strncmp(s->machine_type, "GPU", 3) ? 1 : 0;
	s->gpus = (unsigned)gpus;
	return 0;
}

static int check_scaling(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	static const char *const keys[] = {
	    "min_runners",   "max_runners", "concurrency_buffer", "max_multiplexing", "keep_alive",
	    "scaling_delay", NULL};
	struct vnode n = member(top, "scaling");
	int r = check_mapping(c, &n, keys);
	if (r < 0)
		return r;
	struct berth_app_scaling *sc = &s->scaling;
	long long min = 0, max = 0, buffer = 0, mux = 1;
	sc->keep_alive_ms = 60 * SEC;
	sc->scaling_delay_ms = 0;
	struct vnode vmin = member(&n, "min_runners"), vmax = member(&n, "max_runners"),
		     vbuf = member(&n, "concurrency_buffer"), vmux = member(&n, "max_multiplexing"),
		     vka = member(&n, "keep_alive"), vsd = member(&n, "scaling_delay");
	int has_max;
	if ((r = get_int(c, &vmin, 0, 1000, &min)) < 0 ||
	    (r = has_max = get_int(c, &vmax, 1, 1000, &max)) < 0 ||
	    (r = get_int(c, &vbuf, 0, 1000, &buffer)) < 0 ||
	    (r = get_int(c, &vmux, 1, 1000, &mux)) < 0 ||
	    (r = get_duration(c, &vka, 0, 30 * DAY, &sc->keep_alive_ms)) < 0 ||
	    (r = get_duration(c, &vsd, 0, HOUR, &sc->scaling_delay_ms)) < 0)
		return r;
	if (!has_max)
		max = min > 1 ? min : 1;
	if (min > max)
		return verr(c, &vmin,
			    "scaling.min_runners (%lld) must not be more than scaling.max_runners "
			    "(%lld)",
			    min, max);
	sc->min_runners = (int)min;
	sc->max_runners = (int)max;
	sc->concurrency_buffer = (int)buffer;
	sc->max_multiplexing = (int)mux;
	return 0;
}

/* resources: what one runner may use (cgroup limits). */
static int check_resources(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	static const char *const keys[] = {"memory", "cpus", NULL};
	struct vnode n = member(top, "resources");
	int r = check_mapping(c, &n, keys);
	if (r < 0)
		return r;
	struct vnode mem = member(&n, "memory"), cpus = member(&n, "cpus");
	if (!absent(&mem)) {
		int64_t bytes = -1;
		if (json_is_integer(mem.v))
			bytes = json_integer_value(mem.v);
		else if (json_is_string(mem.v) &&
			 strlen(json_string_value(mem.v)) == json_string_length(mem.v) &&
			 berth_parse_size(json_string_value(mem.v), &bytes) < 0)
			bytes = -1;
		if (bytes < 6 * 1024 * 1024 || bytes > (1ll << 50))
			return vbad(c, &mem,
				    "a size from 6Mi to 1Pi: bytes, or a string such as '512Mi' or "
				    "'4Gi'");
		s->memory = bytes;
	}
	if (!absent(&cpus)) {
		double v = json_is_number(cpus.v) ? json_number_value(cpus.v) : -1;
		if (!(v >= 0.01 && v <= 4096))
			return vbad(c, &cpus,
				    "a number of CPUs from 0.01 to 4096, such as 0.5 or 2");
		s->cpus = v;
	}
	return 0;
}

static int check_timeouts(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	struct vnode rt = member(top, "request_timeout"), st = member(top, "startup_timeout"),
		     tg = member(top, "termination_grace_period");
	s->request_timeout_ms = 0;
	s->startup_timeout_ms = 600 * SEC;
	s->termination_grace_ms = 5 * SEC;
	int r;
	if ((r = get_duration(c, &rt, 1, DAY, &s->request_timeout_ms)) < 0 ||
	    (r = get_duration(c, &st, SEC, DAY, &s->startup_timeout_ms)) < 0 ||
	    (r = get_duration(c, &tg, 0, HOUR, &s->termination_grace_ms)) < 0)
		return r;
	return 0;
}

static int check_secrets(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	struct vnode n = member(top, "secrets");
	if (absent(&n))
		return 0;
	if (!json_is_array(n.v))
		return vbad(c, &n, "a list of secret names such as [HF_TOKEN]");
	for (size_t i = 0; i < json_array_size(n.v); i++) {
		struct vnode it = item(&n, i);
		_cleanup_free_ char *name = NULL;
		int r = get_text(c, &it, false, "a secret name", &name);
		if (r < 0)
			return r;
		if (r == 0 || !env_name_ok(name))
			return vbad(c, &it,
				    "a secret name usable as an environment variable (letters, "
				    "digits and '_', not starting with a digit)");
		if (env_name_reserved(name))
			return verr(c, &it, "%s: '%s' is set by berth in every runner", n.path,
				    name);
		if (berth_strv_contains(&s->secrets, name))
			return verr(c, &it, "secrets lists '%s' twice", name);
		berth_strv_push_owned(&s->secrets, steal_pointer(&name));
	}
	return 0;
}

/* "/data" or a path under it; "//" and a trailing '/' are tidied. */
static int check_data_mounts(const struct vctx *c, const struct vnode *top,
			     struct berth_app_spec *s)
{
	struct vnode n = member(top, "data_mounts");
	if (absent(&n)) {
		berth_strv_push(&s->data_mounts, "/data");
		return 0;
	}
	if (!json_is_array(n.v))
		return vbad(c, &n, "a list of paths: /data or under it");
	for (size_t i = 0; i < json_array_size(n.v); i++) {
		struct vnode it = item(&n, i);
		_cleanup_free_ char *p = NULL;
		int r = get_text(c, &it, false, "a path: /data or under it", &p);
		if (r < 0)
			return r;
		if (r == 0 || p[0] != '/' || has_space_or_control(p))
			return vbad(c, &it, "an absolute path: /data or under it");
		struct berth_buf b;
		berth_buf_init(&b, TEXT_MAX);
		bool ok = true;
		size_t ncomp = 0;
		for (char *save = NULL, *comp = strtok_r(p, "/", &save); comp;
		     comp = strtok_r(NULL, "/", &save), ncomp++) {
			if (!strcmp(comp, ".") || !strcmp(comp, "..") ||
			    (ncomp == 0 && strcmp(comp, "data")))
				ok = false;
			berth_buf_addf(&b, "/%s", comp);
		}
		if (!ok || !ncomp) {
			berth_buf_release(&b);
			return vbad(c, &it, "/data or a path under it, without '.' or '..'");
		}
		if (berth_strv_contains(&s->data_mounts, b.data)) {
			r = verr(c, &it, "data_mounts lists '%s' twice", b.data);
			berth_buf_release(&b);
			return r;
		}
		berth_strv_push_owned(&s->data_mounts, berth_buf_steal(&b, NULL));
	}
	return 0;
}

static int check_auth(const struct vctx *c, const struct vnode *top, struct berth_app_spec *s)
{
	static const char *const modes[] = {"private", "public", "shared"};
	struct vnode n = member(top, "auth");
	_cleanup_free_ char *a = NULL;
	int r = get_text(c, &n, false, "private, public or shared", &a);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(modes); i++)
		if (!strcmp(a, modes[i])) {
			s->auth = (enum berth_app_auth)i;
			return 0;
		}
	return vbad(c, &n, "private, public or shared");
}

int berth__app_validate(const json_t *root, const struct berth__app_lines *lines, bool yaml,
			const char *dir, const char *default_name, struct berth_app_spec *out,
			struct berth_err **err)
{
	*out = (struct berth_app_spec){0};
	struct vctx c = {.lines = lines, .yaml = yaml, .dir = dir, .err = err};
	struct vnode top = {.v = root};
	struct berth_app_spec s = {.kind = BERTH_APP_SERVER, .auth = BERTH_APP_AUTH_PRIVATE};
	s.dir = berth_xstrdup(dir);
	int r;
	if (!json_is_object(root)) {
		r = verr(&c, &top,
			 "an app spec must be a mapping of keys such as 'name' and 'image'");
		goto out;
	}
	/* "sdk" in a berth.yaml gets its own message, not "unknown key". */
	if ((r = yaml ? check_sdk(&c, &top, &s) : 0) < 0 ||
	    (r = check_mapping(&c, &top, yaml ? top_keys_yaml : top_keys_json)) < 0)
		goto out;
	if ((r = check_sdk(&c, &top, &s)) < 0 || (r = check_name(&c, &top, default_name, &s)) < 0 ||
	    (r = check_image(&c, &top, &s)) < 0 || (r = check_run(&c, &top, &s)) < 0 ||
	    (r = check_machine(&c, &top, &s)) < 0 || (r = check_scaling(&c, &top, &s)) < 0 ||
	    (r = check_resources(&c, &top, &s)) < 0 || (r = check_timeouts(&c, &top, &s)) < 0 ||
	    (r = check_secrets(&c, &top, &s)) < 0 || (r = check_data_mounts(&c, &top, &s)) < 0 ||
	    (r = check_auth(&c, &top, &s)) < 0)
		goto out;
	*out = s;
	return 0;
out:
	berth_app_spec_release(&s);
	return r < 0 ? r : -BERTH_E_INVALID;
}
