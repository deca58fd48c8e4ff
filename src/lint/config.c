/* Which rules run: the `.berth-lint` config file (`key = value` lines) and
 * the Dockerfile's `# check=` directive (BuildKit's syntax), both merged
 * into one berth_lint_config. Unknown keys and rule ids are errors, so a
 * typo never silently turns a rule back on. */
#include "lint/lint_int.h"

#include <ctype.h>
#include <strings.h>

void berth_lint_config_init(struct berth_lint_config *c)
{
	memset(c, 0, sizeof(*c));
}

void berth_lint_config_release(struct berth_lint_config *c)
{
	berth_strv_release(&c->skip);
	berth_strv_release(&c->error);
	berth_strv_release(&c->warning);
	berth_strv_release(&c->info);
	berth_strv_release(&c->experimental);
	berth_strv_release(&c->install_last);
	memset(c, 0, sizeof(*c));
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Append the comma/space-separated items of `value` to *list, checking each
 * is a rule id (or "all" when allowed). */
static int add_rules(const char *key, const char *value, bool all_ok, struct berth_strv *list,
		     struct berth_err **err)
{
	_cleanup_free_ char *copy = berth_xstrdup(value);
	for (char *save = NULL, *t = strtok_r(copy, ", \t", &save); t;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (!(all_ok && !strcmp(t, "all")) && !berth_lint_rule_find(t))
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "%s: unknown rule '%s' (see 'berth lint --list-rules')", key, t);
		if (!berth_strv_contains(list, t))
			berth_strv_push(list, t);
	}
	return 0;
}

static int set_key(const char *key, const char *value, struct berth_lint_config *c,
		   struct berth_err **err)
{
	if (!strcmp(key, "skip"))
		return add_rules(key, value, true, &c->skip, err);
	if (!strcmp(key, "experimental"))
		return add_rules(key, value, true, &c->experimental, err);
	if (!strcmp(key, "warning"))
		return add_rules(key, value, false, &c->warning, err);
	if (!strcmp(key, "info"))
		return add_rules(key, value, false, &c->info, err);
	if (!strcmp(key, "error")) {
		bool b;
		if (parse_bool(value, &b) == 0) {
			c->error_all = b;
			return 0;
		}
		return add_rules(key, value, false, &c->error, err);
	}
	if (!strcmp(key, "install_last")) {
		_cleanup_free_ char *copy = berth_xstrdup(value);
		for (char *save = NULL, *t = strtok_r(copy, ", \t", &save); t;
		     t = strtok_r(NULL, ", \t", &save))
			if (!berth_strv_contains(&c->install_last, t))
				berth_strv_push(&c->install_last, t);
		return 0;
	}
	return berth_err_set(err, BERTH_E_INVALID,
			     "unknown key '%s' (use skip, error, warning, info, experimental or "
			     "install_last)",
			     key);
}

int berth_lint_config_parse(const char *text, size_t len, struct berth_lint_config *c,
			    struct berth_err **err)
{
	if (len > BERTH_LINT_CONFIG_MAX)
		return berth_err_set(err, BERTH_E_LIMIT, "lint config is larger than %u bytes",
				     BERTH_LINT_CONFIG_MAX);
	if (memchr(text, '\0', len))
		return berth_err_set(err, BERTH_E_INVALID, "lint config holds a NUL byte");
	_cleanup_free_ char *copy = berth_xstrndup(text, len);
	int lineno = 0;
	for (char *line = copy, *next; line; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *l = trim(line);
		if (!*l)
			continue;
		char *eq = strchr(l, '=');
		if (!eq)
			return berth_err_set_line(err, BERTH_E_INVALID, lineno,
						  "expected 'key = value', got '%s'", l);
		*eq = '\0';
		char *key = trim(l), *value = trim(eq + 1);
		if (!*value)
			return berth_err_set_line(err, BERTH_E_INVALID, lineno, "'%s' has no value",
						  key);
		if (set_key(key, value, c, err) < 0) {
			(*err)->line = lineno;
			return -BERTH_E_INVALID;
		}
	}
	return 0;
}

int berth_lint_check_directive(const char *value, struct berth_lint_config *c,
			       struct berth_err **err)
{
	_cleanup_free_ char *copy = berth_xstrdup(value);
	for (char *save = NULL, *part = strtok_r(copy, ";", &save); part;
	     part = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(part, '=');
		if (!eq)
			return berth_err_set(err, BERTH_E_INVALID,
					     "check directive: expected key=value, got '%s'",
					     trim(part));
		*eq = '\0';
		char *key = trim(part), *v = trim(eq + 1);
		for (char *k = key; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		if (!strcmp(key, "error")) {
			bool b;
			if (parse_bool(v, &b) < 0)
				return berth_err_set(err, BERTH_E_INVALID,
						     "check directive: error=%s is not a boolean "
						     "(use true or false)",
						     v);
			c->error_all |= b;
			continue;
		}
		if (strcmp(key, "skip") && strcmp(key, "experimental"))
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "check directive: unknown option '%s' (use skip, error "
			    "or experimental)",
			    key);
		if (add_rules(key, v, true, !strcmp(key, "skip") ? &c->skip : &c->experimental,
			      err) < 0)
			return berth_err_prefix(err, "check directive");
	}
	return 0;
}
