/* Conformance suite over BuildKit's shell-lexer test data, run as BuildKit's lex_test.go runs
 * it: envVarTest through single-word expansion (the A and U lines; W is Windows-only) and
 * wordsTest through word splitting with its accumulating ENV lines. */
#include <stdlib.h>

#include "dockerfile/dockerfile.h"
#include "conformance/conformance.h"
#include "tap.h"

#define SHELL_LEX_MAX_DATA (1u << 20)

static int read_file(const char *path, struct berth_buf *out)
{
	struct berth_err *err = NULL;
	int r = berth_fs_read_file(path, SHELL_LEX_MAX_DATA, out, &err);
	if (r < 0) {
		tap_ok(false, "shell-lex: read '%s': %s", path, err->msg);
		berth_err_free(err);
	}
	return r;
}

/* The next line of buf from *pos, without its "\n" or "\r\n" (as bufio.ScanLines). */
static bool next_line(const struct berth_buf *buf, size_t *pos, struct berth_sv *line)
{
	if (*pos >= buf->len)
		return false;
	const char *p = buf->data + *pos;
	const char *nl = memchr(p, '\n', buf->len - *pos);
	size_t len = nl ? (size_t)(nl - p) : buf->len - *pos;
	*pos += len + (nl ? 1 : 0);
	if (len && p[len - 1] == '\r')
		len--;
	*line = (struct berth_sv){p, len};
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static struct berth_sv trim_left(struct berth_sv s)
{
	while (s.len && is_space(s.p[0])) {
		s.p++;
		s.len--;
	}
	return s;
}

static struct berth_sv trim(struct berth_sv s)
{
	s = trim_left(s);
	while (s.len && is_space(s.p[s.len - 1]))
		s.len--;
	return s;
}

/* Split s on sep into at most max fields; returns the number of fields there are. */
static size_t split(struct berth_sv s, char sep, struct berth_sv *f, size_t max)
{
	size_t n = 0;
	for (;;) {
		const char *q = memchr(s.p, sep, s.len);
		size_t len = q ? (size_t)(q - s.p) : s.len;
		if (n < max)
			f[n] = (struct berth_sv){s.p, len};
		n++;
		if (!q)
			return n;
		s.p += len + 1;
		s.len -= len + 1;
	}
}

/* The case name for TAP: '#' would start a directive, so it is escaped. */
static char *case_name(struct berth_sv input)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < input.len; i++) {
		if (input.p[i] == '#')
			berth_buf_addch(&b, '\\');
		berth_buf_addch(&b, input.p[i]);
	}
	return berth_buf_steal(&b, NULL);
}

static void env_var_test(const char *dir)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/shell-lex/envVarTest", dir);
	_cleanup_buf_ struct berth_buf data;
	berth_buf_init(&data, SHELL_LEX_MAX_DATA);
	if (read_file(path, &data) < 0)
		return;
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	berth_strv_push(&env, "PWD=/home");
	berth_strv_push(&env, "SHELL=bash");
	berth_strv_push(&env, "KOREAN=\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4");
	berth_strv_push(&env, "NULL=");
	struct berth_shlex lx = {
	    .escape = '\\', .lookup = berth_shlex_env_lookup, .lookup_ctx = &env};

	size_t pos = 0;
	int lineno = 0, ncases = 0;
	struct berth_sv line;
	while (next_line(&data, &pos, &line)) {
		lineno++;
		if (line.len && line.p[0] == '#')
			continue;
		line = trim(line);
		if (!line.len)
			continue;
		struct berth_sv f[3];
		if (split(line, '|', f, 3) != 3) {
			tap_ok(false, "shell-lex/envVarTest:%d malformed line", lineno);
			continue;
		}
		struct berth_sv platform = trim(f[0]), input = trim(f[1]), expected = trim(f[2]);
		if (berth_sv_eq(platform, "W"))
			continue;
		if (!berth_sv_eq(platform, "A") && !berth_sv_eq(platform, "U")) {
			tap_ok(false, "shell-lex/envVarTest:%d unknown platform", lineno);
			continue;
		}
		ncases++;
		_cleanup_free_ char *in = berth_xstrndup(input.p, input.len);
		_cleanup_free_ char *want = berth_xstrndup(expected.p, expected.len);
		_cleanup_free_ char *name = case_name(input);
		_cleanup_free_ char *got = NULL;
		struct berth_err *err = NULL;
		int r = berth_shlex_word(&lx, in, &got, &err);
		if (strcmp(want, "error") == 0) {
			if (!tap_ok(r < 0, "shell-lex/envVarTest:%d %s", lineno, name)) {
				tap_diag("got ", got);
				tap_diag("want", "(an error)");
			}
		} else if (r < 0) {
			tap_ok(false, "shell-lex/envVarTest:%d %s", lineno, name);
			tap_diag("got error", err->msg);
			tap_diag("want", want);
		} else {
			tap_is_str(got, want, "shell-lex/envVarTest:%d %s", lineno, name);
		}
		berth_err_free(err);
	}
	if (ncases != 228) /* a truncated file must not pass */
		tap_ok(false, "shell-lex/envVarTest: 228 A and U cases expected, found %d", ncases);
}

/* Words joined with "," for the diagnostics. */
static char *join_words(const struct berth_strv *words)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < words->n; i++) {
		if (i)
			berth_buf_addch(&b, ',');
		berth_buf_addstr(&b, words->v[i]);
	}
	return berth_buf_steal(&b, NULL);
}

static void words_test(const char *dir)
{
	_cleanup_free_ char *path = berth_xasprintf("%s/shell-lex/wordsTest", dir);
	_cleanup_buf_ struct berth_buf data;
	berth_buf_init(&data, SHELL_LEX_MAX_DATA);
	if (read_file(path, &data) < 0)
		return;
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	struct berth_shlex lx = {
	    .escape = '\\', .lookup = berth_shlex_env_lookup, .lookup_ctx = &env};

	size_t pos = 0;
	int lineno = 0, ncases = 0;
	struct berth_sv line;
	while (next_line(&data, &pos, &line)) {
		lineno++;
		if (line.len && line.p[0] == '#')
			continue;
		if (berth_sv_has_prefix(line, "ENV ")) {
			/* The value keeps its trailing spaces. */
			struct berth_sv kv = {line.p + 3, line.len - 3};
			while (kv.len && kv.p[0] == ' ') {
				kv.p++;
				kv.len--;
			}
			berth_strv_push_owned(&env, berth_xstrndup(kv.p, kv.len));
			continue;
		}
		struct berth_sv f[2];
		if (split(line, '|', f, 2) != 2) {
			tap_ok(false, "shell-lex/wordsTest:%d malformed line", lineno);
			continue;
		}
		ncases++;
		struct berth_sv input = trim(f[0]), expected = f[1];
		while (expected.len && expected.p[0] == ' ') {
			expected.p++;
			expected.len--;
		}
		_cleanup_free_ char *in = berth_xstrndup(input.p, input.len);
		_cleanup_free_ char *want = berth_xstrndup(expected.p, expected.len);
		_cleanup_free_ char *name = case_name(input);
		_cleanup_strv_ struct berth_strv words = BERTH_STRV_INIT;
		struct berth_err *err = NULL;
		if (berth_shlex_words(&lx, in, &words, &err) < 0) {
			berth_strv_release(&words);
			berth_strv_push(&words, "error");
		}
		/* As the upstream test: the expectation split on ',', an error is "error". */
		struct berth_sv wf[64];
		size_t nwant = split(expected, ',', wf, BERTH_ARRAY_SIZE(wf));
		bool eq = nwant == words.n && nwant <= BERTH_ARRAY_SIZE(wf);
		for (size_t i = 0; eq && i < nwant; i++)
			eq = berth_sv_eq(wf[i], words.v[i]);
		if (!tap_ok(eq, "shell-lex/wordsTest:%d %s", lineno, name)) {
			_cleanup_free_ char *got = join_words(&words);
			tap_diag("got ", got);
			tap_diag("want", want);
			if (err)
				tap_diag("error", err->msg);
		}
		berth_err_free(err);
	}
	if (ncases != 24)
		tap_ok(false, "shell-lex/wordsTest: 24 cases expected, found %d", ncases);
}

int conf_shell_lex(const char *dir)
{
	env_var_test(dir);
	words_test(dir);
	return tap_done();
}
