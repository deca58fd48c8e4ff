/* Unit tests for the shell lexer beyond BuildKit's data files: the operator table of BuildKit's
 * lex_test.go (values and matched/unmatched names), the backtick escape, the raw modes the
 * parser tokenises heredoc lines with, word splitting, limits and the error texts. */
#include "dockerfile/dockerfile.h"
#include "tap.h"

#include <stdlib.h>

/* An environment from a NULL-terminated list of "K=V". */
static void env_of(struct berth_strv *env, const char *const *kv)
{
	for (; kv && *kv; kv++)
		berth_strv_push(env, *kv);
}

static char *expand_env(const char *const *kv, const char *word, struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	env_of(&env, kv);
	struct berth_shlex lx = {
	    .escape = '\\', .lookup = berth_shlex_env_lookup, .lookup_ctx = &env};
	char *out = NULL;
	berth_shlex_word(&lx, word, &out, err);
	return out;
}

static void is_word(const char *const *kv, const char *word, const char *want)
{
	struct berth_err *err = NULL;
	_cleanup_free_ char *got = expand_env(kv, word, &err);
	tap_is_str(got, want, "%s -> '%s'", word, want);
	if (err)
		tap_diag("error", err->msg);
	berth_err_free(err);
}

static void is_error(const char *const *kv, const char *word, enum berth_err_code code,
		     const char *want)
{
	struct berth_err *err = NULL;
	_cleanup_free_ char *got = expand_env(kv, word, &err);
	bool ok = !got && err && err->code == code && strcmp(err->msg, want) == 0;
	if (!tap_ok(ok, "%s fails: %s", word, want)) {
		tap_diag("got ", err ? err->msg : got);
		tap_diag("want", want);
	}
	berth_err_free(err);
}

/* Words joined with "|" so that a list compares as one string. */
static char *join(const struct berth_strv *sv)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (size_t i = 0; i < sv->n; i++)
		berth_buf_addf(&b, "%s%s", i ? "|" : "", sv->v[i]);
	return berth_buf_steal(&b, NULL);
}

static void is_words(const struct berth_shlex *lx, const char *word, const char *want)
{
	_cleanup_strv_ struct berth_strv words = BERTH_STRV_INIT;
	struct berth_err *err = NULL;
	int r = berth_shlex_words(lx, word, &words, &err);
	_cleanup_free_ char *got = r < 0 ? berth_xstrdup(err->msg) : join(&words);
	tap_is_str(got, want, "words of %s -> %s", word, want);
	berth_err_free(err);
}

/* BuildKit's TestProcessWithMatches: value, and the names matched and unmatched (joined by
 * "|", in first-reference order). */
static void test_buildkit_matches(void)
{
	static const char *const foo_bar[] = {"FOO=xxx", "BAR=", NULL};
	static const char *const xxyy[] = {"FOO=xxyy", NULL};
	static const char *const xxyy_x[] = {"FOO=xxyy", "BAR=x", NULL};
	static const char *const xxyy_e[] = {"FOO=xxyy", "BAR=", NULL};
	static const char *const regex[] = {"FOO=()[]{}^$.*?|\\x", NULL};
	static const char *const stars[] = {"FOO=xx**", NULL};
	static const char *const qs[] = {"FOO=???y", NULL};
	static const char *const astars[] = {"FOO=a***yy*", NULL};
	static const char *const wild[] = {"FOO=/foo*/*/*.txt", "NEEDLE=\\*/", NULL};
	static const char *const slash[] = {"FOO=/tmp/tmp/bar.txt", "NEEDLE=/tmp", NULL};
	static const char *const q[] = {"FOO=/a/foo/b/c.txt", "NEEDLE=/?/", "REPLACEMENT=/", NULL};
	static const char *const url[] = {"FOO=http://google.de", "NEEDLE=http://",
					  "REPLACEMENT=https://", NULL};
	static const char *const tmp[] = {"FOO=/tmp/foo.txt", NULL};
	static const char *const dummy[] = {"DUMMY=dummy", NULL};
	static const char *const fooy[] = {"FOO=y", NULL};
	static const struct {
		const char *in;
		const char *const *env;
		const char *want; /* NULL: an error */
		const char *matched, *unmatched;
	} cases[] = {
	    {"x", dummy, "x", "", ""},
	    {"x ${UNUSED}", dummy, "x ", "", "UNUSED"},
	    {"x ${FOO}", fooy, "x y", "FOO", ""},
	    {"${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", foo_bar, "xxx  ccc", "FOO|BAR", "BAZ"},
	    {"${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", foo_bar, "xxx bbb ccc", "FOO|BAR", "BAZ"},
	    {"${FOO:-}", foo_bar, "xxx", "FOO", ""},
	    {"${FOO:-}", NULL, "", "", "FOO"},
	    {"${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", foo_bar, "aaa bbb ", "FOO|BAR", "BAZ"},
	    {"${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", foo_bar, "aaa  ", "FOO|BAR", "BAZ"},
	    {"${FOO?aaa}", foo_bar, "xxx", "FOO", ""},
	    {"${BAR?bbb}", foo_bar, "", "BAR", ""},
	    {"${BAZ?ccc}", foo_bar, NULL, "", "BAZ"},
	    {"${FOO:?aaa}", foo_bar, "xxx", "FOO", ""},
	    {"${BAR:?bbb}", foo_bar, NULL, "BAR", ""},
	    {"${BAZ:?ccc}", foo_bar, NULL, "", "BAZ"},
	    {"${BAZ:?}", foo_bar, NULL, "", "BAZ"},
	    {"${FOO=aaa}", foo_bar, NULL, "", ""},
	    {"${FOO=:aaa}", foo_bar, NULL, "", ""},
	    {"${FOO=}", NULL, NULL, "", ""},
	    {"${FOO#()[]{\\}^$.\\*\\?|\\\\}", regex, "x", "FOO", ""},
	    {"${FOO%%\\**}", stars, "xx", "FOO", ""},
	    {"${FOO#*x*y}", xxyy, "y", "FOO", ""},
	    {"${FOO#*}", xxyy, "xxyy", "FOO", ""},
	    {"${FOO#$BAR}", xxyy_x, "xyy", "BAR|FOO", ""},
	    {"${FOO#$BAR}", xxyy_e, "xxyy", "BAR|FOO", ""},
	    {"${FOO#}", xxyy, "xxyy", "FOO", ""},
	    {"${FOO##*x}", xxyy, "yy", "FOO", ""},
	    {"${FOO##}", xxyy, "xxyy", "FOO", ""},
	    {"${FOO#?\\?}", qs, "?y", "FOO", ""},
	    {"${ABC:-.}${FOO%x}${ABC:-.}", xxyy, ".xxyy.", "FOO", "ABC"},
	    {"${FOO%%\\**\\*}", astars, "a", "FOO", ""},
	    {"${FOO%}", xxyy, "xxyy", "FOO", ""},
	    {"${FOO%%$BAR}", xxyy_e, "xxyy", "BAR|FOO", ""},
	    {"${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", wild, "/foo.*/*.txt - /foo..*.txt",
	     "NEEDLE|FOO", ""},
	    {"${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", slash, "/tmp/bar.txt - /bar.txt", "NEEDLE|FOO",
	     ""},
	    {"${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}", q,
	     "/foo/b/c.txt - /foo/c.txt", "NEEDLE|REPLACEMENT|FOO", ""},
	    {"${FOO/$NEEDLE/$REPLACEMENT}", url, "https://google.de", "NEEDLE|REPLACEMENT|FOO", ""},
	    {"${FOO//\\//\\/}", tmp, "\\/tmp\\/foo.txt", "FOO", ""},
	    {"${FOO/$BAR/ww}", xxyy_e, "wwxxyy", "BAR|FOO", ""},
	    {"${FOO//ww}", xxyy, NULL, "", ""},
	    {"${FOO//}", xxyy, NULL, "", ""},
	    {"${FOO///}", xxyy, "xxyy", "FOO", ""},
	    {"${FOO///}", NULL, "", "", "FOO"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
		_cleanup_strv_ struct berth_strv matched = BERTH_STRV_INIT;
		_cleanup_strv_ struct berth_strv unmatched = BERTH_STRV_INIT;
		env_of(&env, cases[i].env);
		struct berth_shlex lx = {.escape = '\\',
					 .lookup = berth_shlex_env_lookup,
					 .lookup_ctx = &env,
					 .matched = &matched,
					 .unmatched = &unmatched};
		_cleanup_free_ char *got = NULL;
		struct berth_err *err = NULL;
		int r = berth_shlex_word(&lx, cases[i].in, &got, &err);
		if (!cases[i].want) {
			if (!tap_ok(r < 0, "buildkit match table: %s fails", cases[i].in))
				tap_diag("got ", got);
			berth_err_free(err);
			continue;
		}
		tap_is_str(r < 0 ? err->msg : got, cases[i].want, "buildkit match table: %s",
			   cases[i].in);
		_cleanup_free_ char *m = join(&matched);
		_cleanup_free_ char *u = join(&unmatched);
		tap_is_str(m, cases[i].matched, "buildkit match table: %s matched", cases[i].in);
		tap_is_str(u, cases[i].unmatched, "buildkit match table: %s unmatched",
			   cases[i].in);
		berth_err_free(err);
	}
}

static void test_mandatory(void)
{
	static const char *const set[] = {"VAR=plain", "ARG=x", NULL};
	static const char *const empty[] = {"VAR=", "ARG=x", NULL};
	static const char *const unset[] = {"ARG=x", NULL};
	is_word(set, "${VAR:?message here$ARG}", "plain");
	is_error(empty, "${VAR:?message here$ARG}", BERTH_E_INVALID, "VAR: message herex");
	is_error(unset, "${VAR:?message here$ARG}", BERTH_E_INVALID, "VAR: message herex");
	is_word(set, "${VAR?message here$ARG}", "plain");
	is_word(empty, "${VAR?message here$ARG}", "");
	is_error(unset, "${VAR?message here$ARG}", BERTH_E_INVALID, "VAR: message herex");
	is_error(empty, "${VAR:?}", BERTH_E_INVALID, "VAR: is not allowed to be empty");
	is_error(unset, "${VAR:?}", BERTH_E_INVALID, "VAR: is not allowed to be unset");
	is_error(unset, "${VAR?}", BERTH_E_INVALID, "VAR: is not allowed to be unset");
}

static void test_patterns(void)
{
	static const char *const path[] = {
	    "P=/usr/src/app.tar.gz", "V=banana", "E=", "NL=a/b\nc/d", "B=a}", NULL};
	is_word(path, "${P##*/}", "app.tar.gz");
	is_word(path, "${P#*/}", "usr/src/app.tar.gz");
	is_word(path, "${P%.*}", "/usr/src/app.tar");
	is_word(path, "${P%%.*}", "/usr/src/app");
	is_word(path, "${P%/*}", "/usr/src");
	is_word(path, "${P%%/*}", "");
	is_word(path, "${P#/usr/}", "src/app.tar.gz");
	is_word(path, "${P%.gz}", "/usr/src/app.tar");
	is_word(path, "${P%.zip}", "/usr/src/app.tar.gz");
	is_word(path, "${P#src}", "/usr/src/app.tar.gz");
	is_word(path, "${V#?a}", "nana");
	is_word(path, "${V%a?a}", "ban");
	is_word(path, "${V%%a?a}", "ban");
	is_word(path, "${V%a*a}", "ban");
	is_word(path, "${V%%a*a}", "b");
	is_word(path, "${V#*a}", "nana");
	is_word(path, "${V##*a}", "");
	/* Substitution: the first match or all; the pattern is greedy and unanchored. */
	is_word(path, "${V/an/AN}", "bANana");
	is_word(path, "${V//an/AN}", "bANANa");
	is_word(path, "${V/a*n/X}", "bXa");
	is_word(path, "${V//a/}", "bnn");
	is_word(path, "${V/#/x}", "banana");
	is_word(path, "${X/a/b}", "");
	/* An empty pattern matches between all characters, as Go's ReplaceAllString. */
	is_word(path, "${V//$E/-}", "-b-a-n-a-n-a-");
	is_word(path, "${V/$E/-}", "-banana");
	/* Replacing all takes the replacement as a Go template: $0 is the match. */
	is_word(path, "${V//a/'<$0>'}", "b<a>n<a>n<a>");
	is_word(path, "${V//a/'${0}$1$$'}", "ba$na$na$");
	is_word(path, "${V/a/'<$0>'}", "b<$0>nana");
	/* `*` and `?` do not cross a newline (Go's `.`). */
	is_word(path, "${NL##*/}", "b\nc/d");
	is_word(path, "${NL%%/*}", "a/b\nc");
	/* `\}` and `\/` are the characters themselves. */
	is_word(path, "${B%\\}}", "a");
	is_word(path, "${P//\\//:}", ":usr:src:app.tar.gz");
	/* Patterns match code points. */
	static const char *const utf[] = {"K=\xed\x95\x9c\xea\xb5\xad", NULL};
	is_word(utf, "${K#?}", "\xea\xb5\xad");
	is_word(utf, "${K%?}", "\xed\x95\x9c");
}

static void test_backtick_escape(void)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	berth_strv_push(&env, "X=1");
	struct berth_shlex lx = {
	    .escape = '`', .lookup = berth_shlex_env_lookup, .lookup_ctx = &env};
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"C:\\path\\$X", "C:\\path\\1"},
	    {"`$X", "$X"},
	    {"a` b", "a b"},
	    {"\"a`\"b\"", "a\"b"},
	    {"\"``\"", "`"},
	    {"\"`n\\\"", "`n\\"},
	    {"'`$X'", "`$X"},
	    {"x``", "x`"},
	    {"x`", "x"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *got = NULL;
		struct berth_err *err = NULL;
		berth_shlex_word(&lx, cases[i].in, &got, &err);
		tap_is_str(got, cases[i].want, "backtick escape: %s", cases[i].in);
		berth_err_free(err);
	}
	is_words(&lx, "a` b c", "a b|c");
}

/* The parser finds heredocs by splitting a line with quotes and escapes kept and unset
 * variables left as written. */
static void test_raw_modes(void)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	berth_strv_push(&env, "SET=1");
	struct berth_shlex lx = {.escape = '\\',
				 .lookup = berth_shlex_env_lookup,
				 .lookup_ctx = &env,
				 .raw_quotes = true,
				 .raw_escapes = true,
				 .skip_unset = true};
	is_words(&lx, "cat <<\"EOF\" > /file", "cat|<<\"EOF\"|>|/file");
	is_words(&lx, "cat <<'EOF' 3<<-eo\\'f", "cat|<<'EOF'|3<<-eo\\'f");
	is_words(&lx, "cat <<$EOF <<${EOF} $SET", "cat|<<$EOF|<<${EOF}|1");
	is_words(&lx, "x ${U:-w} ${U#p} ${U/a/b} ${SET:-w}", "x|${U:-w}|${U#p}|${U/a/b}|1");
	is_words(&lx, "'a b' \"c d\" e\\ f", "'a b'|\"c d\"|e\\ f");
	/* BuildKit writes an escape that escapes nothing twice inside double quotes. */
	is_words(&lx, "\"a\\tb\"", "\"a\\\\tb\"");
	is_words(&lx, "\"unterminated",
		 "unexpected end of statement while looking for matching "
		 "double-quote");

	/* The second pass of heredoc parsing: quotes removed, unset variables kept. */
	struct berth_shlex plain = {.escape = '\\', .skip_unset = true};
	is_words(&plain, "eo'f'", "eof");
	is_words(&plain, "'one two'", "one two");
	is_words(&plain, "$EOF", "$EOF");
	is_words(&plain, "${EOF:+x}", "${EOF:+x}");
	is_words(&plain, "${EOF:?}", "${EOF:?}");
}

static void test_tracking(void)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	_cleanup_strv_ struct berth_strv matched = BERTH_STRV_INIT;
	_cleanup_strv_ struct berth_strv unmatched = BERTH_STRV_INIT;
	berth_strv_push(&env, "A=a");
	berth_strv_push(&unmatched, "B"); /* collected before: not added again */
	struct berth_shlex lx = {.escape = '\\',
				 .lookup = berth_shlex_env_lookup,
				 .lookup_ctx = &env,
				 .matched = &matched,
				 .unmatched = &unmatched};
	_cleanup_free_ char *got = NULL;
	tap_ok(berth_shlex_word(&lx, "$A ${B:-$C} $A \"${D}\" '$E' \\$F $1 ${A:+$G}", &got, NULL) ==
		   0,
	       "tracking: expands");
	tap_is_str(got, "a  a  $E $F  ", "tracking: value");
	_cleanup_free_ char *m = join(&matched);
	_cleanup_free_ char *u = join(&unmatched);
	tap_is_str(m, "A", "tracking: matched");
	tap_is_str(u, "B|C|D|1|G", "tracking: unmatched, in order, once each");

	/* Many distinct names stay linear (hash set) and are all recorded once. */
	struct berth_buf big;
	berth_buf_init(&big, BERTH_BUF_UNLIMITED);
	for (int i = 0; i < 20000; i++)
		berth_buf_addf(&big, "$v%d$v%d", i, i / 2);
	_cleanup_free_ char *out = NULL;
	berth_strv_release(&unmatched);
	tap_ok(berth_shlex_word(&lx, big.data, &out, NULL) == 0 && unmatched.n == 20000,
	       "tracking: 20000 distinct names recorded once (%zu)", unmatched.n);
	berth_buf_release(&big);
}

static const char *big_lookup(void *ctx, const char *name, size_t len)
{
	return len == 1 && name[0] == 'V' ? ctx : NULL;
}

static void test_limits(void)
{
	size_t n = BERTH_DF_MAX_EXPANSION / 2 + 1;
	_cleanup_free_ char *val = berth_xcalloc(n + 1, 1);
	memset(val, 'x', n);
	struct berth_shlex lx = {.escape = '\\', .lookup = big_lookup, .lookup_ctx = val};
	_cleanup_free_ char *out = NULL;
	struct berth_err *err = NULL;
	tap_ok(berth_shlex_word(&lx, "$V", &out, &err) == 0 && strlen(out) == n,
	       "limit: half the maximum expands");
	free(out);
	out = NULL;
	int r = berth_shlex_word(&lx, "$V$V", &out, &err);
	tap_ok(r == -BERTH_E_LIMIT && err && err->code == BERTH_E_LIMIT && !out,
	       "limit: over BERTH_DF_MAX_EXPANSION is BERTH_E_LIMIT: %s", err ? err->msg : "");
	berth_err_free(err);
	err = NULL;
	r = berth_shlex_word(&lx, "${X:-$V$V}", &out, &err);
	tap_ok(r == -BERTH_E_LIMIT && err && err->code == BERTH_E_LIMIT,
	       "limit: inside ${...} too, and not reported as a missing brace");
	berth_err_free(err);
	err = NULL;
	_cleanup_strv_ struct berth_strv words = BERTH_STRV_INIT;
	r = berth_shlex_words(&lx, "a $V $V", &words, &err);
	tap_ok(r == -BERTH_E_LIMIT && words.n == 0, "limit: words mode, nothing appended");
	berth_err_free(err);
	err = NULL;
	/* An expansion through a pattern is capped as well: 108 matches x 20000 bytes. */
	static const char *const kv[] = {"W=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
					 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					 NULL};
	_cleanup_free_ char *rep = berth_xcalloc(20001, 1);
	memset(rep, 'b', 20000);
	_cleanup_free_ char *word = berth_xasprintf("${W//a/%s}", rep);
	is_error(kv, word, BERTH_E_LIMIT, "expanded word is longer than 1048576 bytes");

	/* Nesting: BERTH_DF_MAX_NESTING levels of ${ are fine, one more is not. */
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	for (int i = 0; i < BERTH_DF_MAX_NESTING; i++)
		berth_buf_addstr(&b, "${X:-");
	berth_buf_addstr(&b, "deep");
	for (int i = 0; i < BERTH_DF_MAX_NESTING; i++)
		berth_buf_addch(&b, '}');
	is_word(NULL, b.data, "deep");
	berth_buf_reset(&b);
	for (int i = 0; i <= BERTH_DF_MAX_NESTING; i++)
		berth_buf_addstr(&b, "${X:-");
	berth_buf_addstr(&b, "deep");
	for (int i = 0; i <= BERTH_DF_MAX_NESTING; i++)
		berth_buf_addch(&b, '}');
	is_error(NULL, b.data, BERTH_E_LIMIT, "substitutions nested deeper than 64");

	/* A pattern built to make a backtracking matcher explode stays polynomial. */
	berth_buf_reset(&b);
	berth_buf_addstr(&b, "${Y//");
	for (int i = 0; i < 30; i++)
		berth_buf_addstr(&b, "*a");
	berth_buf_addstr(&b, "*b/x}");
	_cleanup_free_ char *ys = berth_xcalloc(2001, 1);
	memset(ys, 'a', 2000);
	_cleanup_free_ char *yenv = berth_xasprintf("Y=%s", ys);
	const char *const ykv[] = {yenv, NULL};
	_cleanup_free_ char *same = expand_env(ykv, b.data, NULL);
	tap_is_str(same, ys, "limit: a star-heavy pattern without a match finishes");
	berth_buf_release(&b);
}

static void test_errors(void)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
	    {"he'llo", "unexpected end of statement while looking for matching single-quote"},
	    {"\"hello\\\"", "unexpected end of statement while looking for matching double-quote"},
	    {"${}", "syntax error: bad substitution"},
	    {"${:-x}", "syntax error: bad substitution"},
	    {"${{x}", "syntax error: bad substitution"},
	    {"${", "syntax error: missing '}'"},
	    {"${PWD", "syntax error: missing '}'"},
	    {"${x:-y", "syntax error: missing '}'"},
	    {"${x:-\"y}", "syntax error: missing '}'"},
	    {"${x/a", "syntax error: missing '/' in ${}"},
	    {"${x/a/b", "syntax error: missing '}'"},
	    {"${x:=y}", "unsupported modifier (:=) in substitution"},
	    {"${x:y}", "unsupported modifier (:y) in substitution"},
	    {"${x=y}", "unsupported modifier (=) in substitution"},
	    {"${.}", "unsupported modifier (.) in substitution"},
	    {"${x:#y}", "unsupported modifier (:#) in substitution"},
	    {"${x:%y}", "unsupported modifier (:%) in substitution"},
	    {"${x#\\y}", "invalid pattern (\\y) in substitution: invalid escape '\\y'"},
	    {"${x//\\y/z}", "invalid pattern (\\y) in substitution: invalid escape '\\y'"},
	    /* As BuildKit, the suffix forms report the pattern reversed. */
	    {"${x%ab\\y}", "invalid pattern (\\yba) in substitution: invalid escape '\\y'"},
	    {"${x:-${}}", "syntax error: bad substitution"},
	    {"${x:?must be set}", "x: must be set"},
	    {"${x?$y}", "x: is not allowed to be unset"},
	};
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++)
		is_error(NULL, cases[i].in, BERTH_E_INVALID, cases[i].msg);

	/* err may be NULL, and *out is NULL on failure. */
	struct berth_shlex lx = {.escape = '\\'};
	char *out = (char *)"sentinel";
	tap_ok(berth_shlex_word(&lx, "${", &out, NULL) == -BERTH_E_INVALID && !out,
	       "errors: NULL err, *out cleared");
}

static void test_words(void)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	berth_strv_push(&env, "S=a  b");
	berth_strv_push(&env, "N=x\xc2\xa0y");
	berth_strv_push(&env, "E=");
	struct berth_shlex lx = {
	    .escape = '\\', .lookup = berth_shlex_env_lookup, .lookup_ctx = &env};
	is_words(&lx, "  one\ttwo\n three  ", "one|two|three");
	is_words(&lx, "x$S\"$S\"y", "xa|ba  by");
	is_words(&lx, "'' \"\" $E", "");
	is_words(&lx, "p${X:-b c}q", "pb|cq");
	is_words(&lx, "80${X:-}", "80");
	is_words(&lx, "${X:-\"b c\"}d", "b|cd");
	is_words(&lx, "$N", "x|y"); /* Go's unicode.IsSpace: U+00A0 splits */
	is_words(&lx, "\\ a\\ ", " a ");

	/* On error nothing is appended. */
	_cleanup_strv_ struct berth_strv out = BERTH_STRV_INIT;
	berth_strv_push(&out, "kept");
	struct berth_err *err = NULL;
	tap_ok(berth_shlex_words(&lx, "a b 'c", &out, &err) < 0 && out.n == 1,
	       "words: failure leaves the list alone");
	berth_err_free(err);
	tap_ok(berth_shlex_words(&lx, "a b", &out, NULL) == 0 && out.n == 3 &&
		   strcmp(out.v[0], "kept") == 0 && strcmp(out.v[2], "b") == 0,
	       "words: appended after what was there");
}

static void test_modes(void)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	berth_strv_push(&env, "X=1");
	struct berth_shlex verbatim = {.escape = '\\',
				       .lookup = berth_shlex_env_lookup,
				       .lookup_ctx = &env,
				       .skip_processing = true};
	_cleanup_free_ char *got = NULL;
	berth_shlex_word(&verbatim, "'a' $X \\n ${", &got, NULL);
	tap_is_str(got, "'a' $X \\n ${", "skip_processing: verbatim");
	is_words(&verbatim, " 'a b' $X ", "'a|b'|$X");

	/* skip_quotes (BuildKit SkipProcessQuotes, heredoc bodies): quotes are text. */
	struct berth_shlex body = {.escape = '\\',
				   .lookup = berth_shlex_env_lookup,
				   .lookup_ctx = &env,
				   .skip_quotes = true};
	free(got);
	got = NULL;
	berth_shlex_word(&body, "don't \"$X\" \\$X ${Y:-'d'}\n", &got, NULL);
	tap_is_str(got, "don't \"1\" $X 'd'\n", "skip_quotes: only $ and escapes");

	/* skip_unset keeps unset variables as written and expands set ones. */
	struct berth_shlex keep = {.escape = '\\',
				   .lookup = berth_shlex_env_lookup,
				   .lookup_ctx = &env,
				   .skip_unset = true};
	free(got);
	got = NULL;
	berth_shlex_word(&keep, "$X $Y ${Y} ${Y:-d} ${Y##*/} ${Y//a/b} ${X:-d}", &got, NULL);
	tap_is_str(got, "1 $Y ${Y} ${Y:-d} ${Y##*/} ${Y/a/b} 1", "skip_unset");

	/* No lookup: every variable is unset. */
	struct berth_shlex none = {.escape = '\\'};
	free(got);
	got = NULL;
	berth_shlex_word(&none, "[$HOME${PATH:-/bin}]", &got, NULL);
	tap_is_str(got, "[/bin]", "no lookup function");
}

static void test_env_lookup(void)
{
	_cleanup_strv_ struct berth_strv env = BERTH_STRV_INIT;
	berth_strv_push(&env, "A=1");
	berth_strv_push(&env, "AB=2");
	berth_strv_push(&env, "A=3");
	berth_strv_push(&env, "FLAG");
	tap_is_str(berth_shlex_env_lookup(&env, "A", 1), "3", "env lookup: last entry wins");
	tap_is_str(berth_shlex_env_lookup(&env, "AB", 2), "2", "env lookup: whole key");
	tap_is_str(berth_shlex_env_lookup(&env, "ABC", 2), "2", "env lookup: uses len");
	tap_is_str(berth_shlex_env_lookup(&env, "FLAG", 4), "", "env lookup: no '=' is empty");
	tap_ok(!berth_shlex_env_lookup(&env, "B", 1), "env lookup: missing is NULL");
	tap_ok(!berth_shlex_env_lookup(NULL, "A", 1), "env lookup: NULL list");
}

static void test_names_and_bytes(void)
{
	static const char *const kv[] = {"KOREAN=\xed\x95\x9c", "A=a", "A1=b", NULL};
	/* Names are Unicode letters and digits, as Go's unicode.IsLetter/IsDigit. */
	is_word(kv, "$KOREAN\xea\xb5\xad.", ".");
	is_word(kv, "$KOREAN.", "\xed\x95\x9c.");
	is_word(kv, "$A\xc3\xa9", "");
	is_word(kv, "$A-$A1-$1A-${A}1", "a-b-A-a1");
	is_word(kv, "$\xd9\xa3x", "x"); /* an Arabic-Indic digit is a positional name */
	/* Invalid UTF-8 reads as U+FFFD; a leading byte-order mark is skipped. */
	is_word(kv,
		"a\xff"
		"b",
		"a\xef\xbf\xbd"
		"b");
	is_word(kv, "\xef\xbb\xbf$A", "a");
	is_word(kv, "$A\xef\xbb\xbf", "a\xef\xbb\xbf");
}

int main(void)
{
	test_buildkit_matches();
	test_mandatory();
	test_patterns();
	test_backtick_escape();
	test_raw_modes();
	test_tracking();
	test_limits();
	test_errors();
	test_words();
	test_modes();
	test_env_lookup();
	test_names_and_bytes();
	return tap_done();
}
