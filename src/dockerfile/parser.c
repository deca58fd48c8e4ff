/* The Dockerfile parser (BuildKit's parser layer): physical lines to
 * instruction nodes. Handles the BOM, parser directives, comments, line
 * continuation, flags, JSON vs shell form, per-instruction argument splitting,
 * ONBUILD nesting and heredoc bodies. No variable expansion happens here. */
#include "dockerfile/dockerfile_int.h"

#include <ctype.h>
#include <stdlib.h>

struct directives {
	char escape;
	bool done; /* directive scanning has stopped for good */
	bool seen_syntax, seen_escape, seen_check;
	char *syntax;
	char *check;
};

struct scanner {
	const char *p, *end;
};

/* Next physical line including its '\n' (BuildKit's scanLines). */
static bool scan_line(struct scanner *s, struct berth_sv *tok)
{
	if (s->p >= s->end)
		return false;
	const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
	size_t n = nl ? (size_t)(nl - s->p) + 1 : (size_t)(s->end - s->p);
	*tok = (struct berth_sv){s->p, n};
	s->p += n;
	return true;
}

static struct berth_sv trim_newline(struct berth_sv v)
{
	while (v.len && (v.p[v.len - 1] == '\n' || v.p[v.len - 1] == '\r'))
		v.len--;
	return v;
}

static struct berth_sv trim_left_space(struct berth_sv v)
{
	while (v.len && berth__df_is_space(v.p[0])) {
		v.p++;
		v.len--;
	}
	return v;
}

static struct berth_sv trim_space(struct berth_sv v)
{
	v = trim_left_space(v);
	while (v.len && berth__df_is_space(v.p[v.len - 1]))
		v.len--;
	return v;
}

static bool is_comment(struct berth_sv raw)
{
	struct berth_sv v = trim_left_space(trim_newline(raw));
	return v.len && v.p[0] == '#';
}

static bool is_blank(struct berth_sv v)
{
	return trim_left_space(trim_newline(v)).len == 0;
}

/* `#[ \t]*key[ \t]*=[ \t]*value[ \t]*` with key [A-Za-z][A-Za-z0-9]*. */
static bool match_directive(struct berth_sv line, struct berth_sv *key, struct berth_sv *value)
{
	size_t i = 0;
	if (i >= line.len || line.p[i] != '#')
		return false;
	i++;
	while (i < line.len && (line.p[i] == ' ' || line.p[i] == '\t'))
		i++;
	size_t k = i;
	if (i >= line.len || !isalpha((unsigned char)line.p[i]))
		return false;
	while (i < line.len && isalnum((unsigned char)line.p[i]))
		i++;
	*key = (struct berth_sv){line.p + k, i - k};
	while (i < line.len && (line.p[i] == ' ' || line.p[i] == '\t'))
		i++;
	if (i >= line.len || line.p[i] != '=')
		return false;
	i++;
	while (i < line.len && (line.p[i] == ' ' || line.p[i] == '\t'))
		i++;
	size_t e = line.len;
	while (e > i && (line.p[e - 1] == ' ' || line.p[e - 1] == '\t'))
		e--;
	if (e == i)
		return false; /* the value must not be empty */
	*value = (struct berth_sv){line.p + i, e - i};
	return true;
}

/* BuildKit's directive parser: runs on every line until the first line that
 * is not a known directive, then never again. */
static int possible_directive(struct directives *d, struct berth_sv line, int lineno,
			      struct berth_err **err)
{
	struct berth_sv key, value;
	if (d->done)
		return 0;
	if (!match_directive(line, &key, &value)) {
		d->done = true;
		return 0;
	}
	bool *seen;
	char **store = NULL;
	if (berth_sv_eq_icase(key, "escape")) {
		seen = &d->seen_escape;
	} else if (berth_sv_eq_icase(key, "syntax")) {
		seen = &d->seen_syntax;
		store = &d->syntax;
	} else if (berth_sv_eq_icase(key, "check")) {
		seen = &d->seen_check;
		store = &d->check;
	} else {
		d->done = true;
		return 0;
	}
	_cleanup_free_ char *k = berth_xstrndup(key.p, key.len);
	for (char *c = k; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (*seen)
		return berth_err_set_line(err, BERTH_E_INVALID, lineno,
					  "only one %s parser directive can be used", k);
	*seen = true;
	if (store) {
		*store = berth_xstrndup(value.p, value.len);
		return 0;
	}
	if (value.len != 1 || (value.p[0] != '\\' && value.p[0] != '`'))
		return berth_err_set_line(err, BERTH_E_INVALID, lineno,
					  "invalid escape token '%.*s' does not match ` or \\",
					  (int)value.len, value.p);
	d->escape = value.p[0];
	return 0;
}

/* The line with its newline and (for a first line) leading blanks removed,
 * and emptied when it is a comment. */
static int process_line(struct directives *d, struct berth_sv tok, bool strip_left, int lineno,
			struct berth_sv *out, struct berth_err **err)
{
	struct berth_sv v = trim_newline(tok);
	if (strip_left)
		v = trim_left_space(v);
	*out = is_comment(v) ? (struct berth_sv){v.p, 0} : v;
	return possible_directive(d, v, lineno, err);
}

/* An escape token at the end of the line (followed only by blanks), not
 * itself escaped, continues the instruction: drop it and the blanks. */
static bool trim_continuation(const struct directives *d, struct berth_sv *v)
{
	size_t e = v->len;
	while (e && (v->p[e - 1] == ' ' || v->p[e - 1] == '\t'))
		e--;
	if (e == 0 || v->p[e - 1] != d->escape)
		return true;
	if (e >= 2 && v->p[e - 2] == d->escape)
		return true;
	v->len = e - 1;
	return false;
}

static void node_add_arg(struct berth_df_node *n, const char *s, size_t len)
{
	size_t cap = n->args.cap;
	berth_strv_push_owned(&n->args, berth_xstrndup(s, len));
	if (n->args.cap != cap || !n->arg_lens)
		n->arg_lens = berth_xrealloc(n->arg_lens, n->args.cap * sizeof(size_t));
	n->arg_lens[n->args.n - 1] = len;
}

/* --- argument splitting, one function per BuildKit dispatch entry --- */

static void split_whitespace(struct berth_df_node *n, struct berth_sv rest)
{
	size_t i = 0;
	while (i < rest.len) {
		while (i < rest.len && berth__df_is_word_sep(rest.p[i]))
			i++;
		size_t s = i;
		while (i < rest.len && !berth__df_is_word_sep(rest.p[i]))
			i++;
		if (i > s)
			node_add_arg(n, rest.p + s, i - s);
	}
}

/* JSON array of strings. Returns 1 when it was one (args filled), 0 when the
 * text is not a JSON array (shell form), negative on a non-string element. */
static int parse_json(struct berth_df_node *n, struct berth_sv rest, struct berth_err **err)
{
	rest = trim_left_space(rest);
	if (!rest.len || rest.p[0] != '[')
		return 0;
	json_error_t jerr;
	/* Like Go's json.Decoder, text after the array is ignored. */
	_cleanup_json_ json_t *arr =
	    json_loadb(rest.p, rest.len, JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &jerr);
	if (!arr || !json_is_array(arr))
		return 0;
	size_t i;
	json_t *el;
	json_array_foreach(arr, i, el)
	{
		if (!json_is_string(el)) {
			berth_strv_release(&n->args);
			return berth_err_set(err, BERTH_E_INVALID,
					     "dockerfile: json array must contain only strings");
		}
	}
	json_array_foreach(arr, i, el)
	    node_add_arg(n, json_string_value(el), json_string_length(el));
	n->json = true;
	return 1;
}

static int parse_maybe_json(struct berth_df_node *n, struct berth_sv rest, struct berth_err **err)
{
	if (!rest.len)
		return 0;
	int r = parse_json(n, rest, err);
	if (r < 0)
		return r;
	if (r == 0)
		node_add_arg(n, rest.p, rest.len);
	return 0;
}

static int parse_maybe_json_to_list(struct berth_df_node *n, struct berth_sv rest,
				    struct berth_err **err)
{
	int r = parse_json(n, rest, err);
	if (r < 0)
		return r;
	if (r == 0 && rest.len)
		split_whitespace(n, rest);
	return 0;
}

/* BuildKit's parseWords: split on blanks honouring quotes and the escape
 * token, but keep quotes and escapes in the words. */
static void parse_words(struct berth_sv rest, char esc, struct berth_strv *words)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	_cleanup_buf_ struct berth_buf word;
	berth_buf_init(&word, BERTH_BUF_UNLIMITED);
	bool blank_ok = false;
	char quote = 0;

	for (size_t pos = 0; pos <= rest.len; pos++) {
		char ch = pos < rest.len ? rest.p[pos] : 0;
		if (phase == IN_SPACES) {
			if (pos == rest.len)
				break;
			if (berth__df_is_space(ch))
				continue;
			phase = IN_WORD;
		}
		if (pos == rest.len) {
			if (blank_ok || word.len)
				berth_strv_push(words, word.data);
			break;
		}
		if (phase == IN_WORD) {
			if (berth__df_is_space(ch)) {
				phase = IN_SPACES;
				if (blank_ok || word.len)
					berth_strv_push(words, word.data);
				berth_buf_reset(&word);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
			}
			if (ch == esc) {
				if (pos + 1 == rest.len)
					continue; /* an escape at the very end is dropped */
				berth_buf_addch(&word, ch);
				ch = rest.p[++pos];
			}
			berth_buf_addch(&word, ch);
			continue;
		}
		/* IN_QUOTE */
		if (ch == quote)
			phase = IN_WORD;
		if (ch == esc && quote != '\'') {
			if (pos + 1 == rest.len) {
				phase = IN_WORD;
				continue;
			}
			berth_buf_addch(&word, ch);
			ch = rest.p[++pos];
		}
		berth_buf_addch(&word, ch);
	}
}

/* ENV and LABEL: `k=v ...` (new form) or `k rest-of-line` (legacy). */
static int parse_name_val(struct berth_df_node *n, struct berth_sv rest, const char *key, char esc,
			  struct berth_err **err)
{
	_cleanup_strv_ struct berth_strv words = BERTH_STRV_INIT;
	parse_words(rest, esc, &words);
	if (words.n == 0)
		return 0;
	if (!strchr(words.v[0], '=')) {
		size_t i = 0;
		while (i < rest.len && !berth__df_is_word_sep(rest.p[i]))
			i++;
		size_t k = i;
		while (i < rest.len && berth__df_is_word_sep(rest.p[i]))
			i++;
		if (i >= rest.len)
			return berth_err_set(err, BERTH_E_INVALID, "%s must have two arguments",
					     key);
		node_add_arg(n, rest.p, k);
		node_add_arg(n, rest.p + i, rest.len - i);
		node_add_arg(n, "", 0);
		return 0;
	}
	for (size_t i = 0; i < words.n; i++) {
		char *eq = strchr(words.v[i], '=');
		if (!eq)
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "syntax error - can't find = in '%s'. must be of the form: name=value",
			    words.v[i]);
		node_add_arg(n, words.v[i], (size_t)(eq - words.v[i]));
		node_add_arg(n, eq + 1, strlen(eq + 1));
		node_add_arg(n, "=", 1);
	}
	return 0;
}

static int parse_health(struct berth_df_node *n, struct berth_sv rest, struct berth_err **err)
{
	size_t sep = 0;
	while (sep < rest.len && !berth__df_is_space(rest.p[sep]))
		sep++;
	if (sep == 0)
		return 0;
	size_t next = sep;
	while (next < rest.len && berth__df_is_space(rest.p[next]))
		next++;
	node_add_arg(n, rest.p, sep);
	return parse_maybe_json(n, (struct berth_sv){rest.p + next, rest.len - next}, err);
}

/* Leading `--flag` words (BuildKit's extractBuilderFlags): quotes removed,
 * the escape token escapes the next character, a bare `--` ends the flags.
 * Returns what follows the flags. */
static struct berth_sv extract_flags(struct berth_sv line, char esc, struct berth_strv *flags)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	_cleanup_buf_ struct berth_buf word;
	berth_buf_init(&word, BERTH_BUF_UNLIMITED);
	bool blank_ok = false;
	char quote = 0;

	for (size_t pos = 0; pos <= line.len; pos++) {
		char ch = pos < line.len ? line.p[pos] : 0;
		if (phase == IN_SPACES) {
			if (pos == line.len)
				break;
			if (berth__df_is_space(ch))
				continue;
			if (ch != '-' || pos + 1 == line.len || line.p[pos + 1] != '-')
				return (struct berth_sv){line.p + pos, line.len - pos};
			phase = IN_WORD;
		}
		if (pos == line.len) {
			if (strcmp(word.data, "--") != 0 && (blank_ok || word.len))
				berth_strv_push(flags, word.data);
			break;
		}
		if (phase == IN_WORD) {
			if (berth__df_is_space(ch)) {
				phase = IN_SPACES;
				if (strcmp(word.data, "--") == 0)
					return (struct berth_sv){line.p + pos, line.len - pos};
				if (blank_ok || word.len)
					berth_strv_push(flags, word.data);
				berth_buf_reset(&word);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
				continue;
			}
			if (ch == esc) {
				if (pos + 1 == line.len)
					continue;
				ch = line.p[++pos];
			}
			berth_buf_addch(&word, ch);
			continue;
		}
		/* IN_QUOTE */
		if (ch == quote) {
			phase = IN_WORD;
			continue;
		}
		if (ch == esc) {
			if (pos + 1 == line.len) {
				phase = IN_WORD;
				continue;
			}
			ch = line.p[++pos];
		}
		berth_buf_addch(&word, ch);
	}
	return (struct berth_sv){line.p + line.len, 0};
}

static int node_from_line(struct berth_sv line, const struct directives *d, struct berth_df_node *n,
			  struct berth_err **err);

static int dispatch(struct berth_df_node *n, struct berth_sv rest, const struct directives *d,
		    struct berth_err **err)
{
	const char *k = n->keyword;
	if (!strcmp(k, "add") || !strcmp(k, "copy") || !strcmp(k, "volume"))
		return parse_maybe_json_to_list(n, rest, err);
	if (!strcmp(k, "run") || !strcmp(k, "cmd") || !strcmp(k, "entrypoint") ||
	    !strcmp(k, "shell"))
		return parse_maybe_json(n, rest, err);
	if (!strcmp(k, "from") || !strcmp(k, "expose")) {
		split_whitespace(n, rest);
		return 0;
	}
	if (!strcmp(k, "env"))
		return parse_name_val(n, rest, "ENV", d->escape, err);
	if (!strcmp(k, "label"))
		return parse_name_val(n, rest, "LABEL", d->escape, err);
	if (!strcmp(k, "arg")) {
		_cleanup_strv_ struct berth_strv words = BERTH_STRV_INIT;
		parse_words(rest, d->escape, &words);
		for (size_t i = 0; i < words.n; i++)
			node_add_arg(n, words.v[i], strlen(words.v[i]));
		return 0;
	}
	if (!strcmp(k, "healthcheck"))
		return parse_health(n, rest, err);
	if (!strcmp(k, "maintainer") || !strcmp(k, "user") || !strcmp(k, "workdir") ||
	    !strcmp(k, "stopsignal")) {
		if (rest.len)
			node_add_arg(n, rest.p, rest.len);
		return 0;
	}
	if (!strcmp(k, "onbuild")) {
		if (!rest.len)
			return 0;
		n->sub = berth_xcalloc(1, sizeof(*n->sub));
		return node_from_line(rest, d, n->sub, err);
	}
	/* Unknown instructions are kept with one empty argument; the
	 * instruction layer reports them. */
	node_add_arg(n, "", 0);
	return 0;
}

static int node_from_line(struct berth_sv line, const struct directives *d, struct berth_df_node *n,
			  struct berth_err **err)
{
	n->original = berth_xstrndup(line.p, line.len);
	struct berth_sv v = trim_space(line);
	size_t i = 0;
	while (i < v.len && !berth__df_is_word_sep(v.p[i]))
		i++;
	n->keyword = berth_xstrndup(v.p, i);
	for (char *c = n->keyword; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	struct berth_sv rest = {v.p + v.len, 0};
	if (i < v.len) {
		while (i < v.len && berth__df_is_word_sep(v.p[i]))
			i++;
		rest = trim_space(
		    extract_flags((struct berth_sv){v.p + i, v.len - i}, d->escape, &n->flags));
	}
	return dispatch(n, rest, d, err);
}

/* --- heredocs --- */

static bool can_contain_heredoc(const struct berth_df_node *n)
{
	if (!strcmp(n->keyword, "onbuild") && n->sub)
		n = n->sub;
	if (strcmp(n->keyword, "run") && strcmp(n->keyword, "copy") && strcmp(n->keyword, "add"))
		return false;
	return !n->json;
}

static size_t count_quotes(const char *s)
{
	size_t c = 0;
	for (; *s; s++)
		c += *s == '\'' || *s == '"';
	return c;
}

/* A word of the form `[digits]<<[-]delimiter`: fills h and returns 1, 0 when
 * the word is not a heredoc. */
static int parse_heredoc_word(const char *w, struct berth_df_heredoc *h, struct berth_err **err)
{
	const char *p = w;
	int fd = 0;
	while (isdigit((unsigned char)*p)) {
		if (fd < 100000)
			fd = fd * 10 + (*p - '0');
		p++;
	}
	if (p[0] != '<' || p[1] != '<')
		return 0;
	p += 2;
	bool chomp = *p == '-';
	if (chomp)
		p++;
	if (!*p || strchr(p, '<'))
		return 0;

	struct berth_shlex lx = {.escape = '\\', .skip_unset = true};
	_cleanup_strv_ struct berth_strv words = BERTH_STRV_INIT;
	_cleanup_strv_ struct berth_strv raw = BERTH_STRV_INIT;
	if (berth_shlex_words(&lx, p, &words, err) < 0)
		return berth_err_prefix(err, "heredoc '%s'", w);
	if (words.n != 1)
		return 0;
	lx.raw_quotes = true;
	if (berth_shlex_words(&lx, p, &raw, err) < 0)
		return berth_err_prefix(err, "heredoc '%s'", w);
	if (raw.n != 1)
		return berth_err_set(err, BERTH_E_INTERNAL,
				     "lexing heredoc '%s' gave inconsistent results", w);
	h->name = berth_xstrdup(words.v[0]);
	h->expand = count_quotes(words.v[0]) == count_quotes(raw.v[0]);
	h->chomp = chomp;
	h->fd = fd;
	return 1;
}

static int heredocs_from_line(const char *line, struct berth_df_node *n, struct berth_err **err)
{
	struct berth_shlex lx = {
	    .escape = '\\', .raw_quotes = true, .raw_escapes = true, .skip_unset = true};
	_cleanup_strv_ struct berth_strv words = BERTH_STRV_INIT;
	/* Like BuildKit, a line the lexer cannot tokenise has no heredocs. */
	if (berth_shlex_words(&lx, line, &words, NULL) < 0)
		return 0;
	size_t cap = 0;
	for (size_t i = 0; i < words.n; i++) {
		struct berth_df_heredoc h = {0};
		int r = parse_heredoc_word(words.v[i], &h, err);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		n->heredocs = berth_xgrow(n->heredocs, sizeof(h), n->nheredocs + 1, &cap);
		n->heredocs[n->nheredocs++] = h;
	}
	return 0;
}

static bool trim_leading_tabs_eq(struct berth_sv line, const char *name, bool chomp)
{
	if (chomp)
		while (line.len && line.p[0] == '\t') {
			line.p++;
			line.len--;
		}
	return berth_sv_eq(line, name);
}

/* --- the main loop --- */

static void add_warning(struct berth_df_ast *ast, int line, const char *rule, char *msg)
{
	size_t cap = ast->nwarnings;
	ast->warnings = berth_xrealloc(ast->warnings, (cap + 1) * sizeof(*ast->warnings));
	ast->warnings[ast->nwarnings++] = (struct berth_df_warning){line, berth_xstrdup(rule), msg};
}

static int check_line_len(struct berth_sv tok, int lineno, struct berth_err **err)
{
	if (trim_newline(tok).len > BERTH_DF_MAX_LINE)
		return berth_err_set_line(err, BERTH_E_LIMIT, lineno,
					  "dockerfile line greater than max allowed size of %d",
					  BERTH_DF_MAX_LINE);
	return 0;
}

static int set_err_line(struct berth_err **err, int line, int r)
{
	if (err && *err && !(*err)->line)
		(*err)->line = line;
	return r;
}

static int parse_all(struct scanner *sc, struct directives *d, struct berth_df_ast *ast,
		     struct berth_err **err)
{
	int cur = 0;
	struct berth_sv tok;
	_cleanup_buf_ struct berth_buf line;
	berth_buf_init(&line, BERTH_DF_MAX_SIZE);
	_cleanup_strv_ struct berth_strv comments = BERTH_STRV_INIT;

	while (scan_line(sc, &tok)) {
		if (check_line_len(tok, cur + 1, err) < 0)
			return -BERTH_E_LIMIT;
		if (cur == 0 && tok.len >= 3 && memcmp(tok.p, "\xEF\xBB\xBF", 3) == 0) {
			tok.p += 3;
			tok.len -= 3;
		}
		if (is_comment(tok)) {
			struct berth_sv c = trim_space(trim_left_space(trim_newline(tok)));
			c = trim_space((struct berth_sv){c.p + 1, c.len - 1});
			if (c.len)
				berth_strv_push_owned(&comments, berth_xstrndup(c.p, c.len));
			else
				berth_strv_release(&comments);
		}
		struct berth_sv v;
		if (process_line(d, tok, true, cur + 1, &v, err) < 0)
			return -BERTH_E_INVALID;
		cur++;
		int start = cur;
		bool eol = trim_continuation(d, &v);
		if (eol && v.len == 0)
			continue;
		berth_buf_reset(&line);
		berth_buf_add(&line, v.p, v.len);

		bool empty_cont = false;
		while (!eol && scan_line(sc, &tok)) {
			if (check_line_len(tok, cur + 1, err) < 0)
				return -BERTH_E_LIMIT;
			if (process_line(d, tok, false, cur + 1, &v, err) < 0)
				return -BERTH_E_INVALID;
			cur++;
			if (is_comment(tok))
				continue;
			if (is_blank(v)) {
				empty_cont = true;
				continue;
			}
			eol = trim_continuation(d, &v);
			berth_buf_add(&line, v.p, v.len);
		}
		if (line.full)
			return berth_err_set_line(err, BERTH_E_LIMIT, start,
						  "instruction longer than %u bytes",
						  BERTH_DF_MAX_SIZE);
		if (empty_cont)
			add_warning(
			    ast, cur, "NoEmptyContinuation",
			    berth_xasprintf("empty continuation line found in: %s", line.data));

		ast->nodes = berth_xgrow(ast->nodes, sizeof(*ast->nodes), ast->n + 1, &ast->cap);
		struct berth_df_node *n = &ast->nodes[ast->n];
		memset(n, 0, sizeof(*n));
		ast->n++;
		n->comments = comments;
		comments = (struct berth_strv)BERTH_STRV_INIT;
		int r = node_from_line((struct berth_sv){line.data, line.len}, d, n, err);
		if (r < 0)
			return set_err_line(err, start, r);

		if (can_contain_heredoc(n) && strstr(line.data, "<<")) {
			r = heredocs_from_line(line.data, n, err);
			if (r < 0)
				return set_err_line(err, start, r);
			for (size_t h = 0; h < n->nheredocs; h++) {
				struct berth_df_heredoc *hd = &n->heredocs[h];
				_cleanup_buf_ struct berth_buf body;
				berth_buf_init(&body, BERTH_DF_MAX_SIZE);
				bool terminated = false;
				while (scan_line(sc, &tok)) {
					cur++;
					if (trim_leading_tabs_eq(trim_newline(tok), hd->name,
								 hd->chomp)) {
						terminated = true;
						break;
					}
					berth_buf_add(&body, tok.p, tok.len);
				}
				if (!terminated)
					return berth_err_set_line(err, BERTH_E_INVALID, start,
								  "unterminated heredoc '%s'",
								  hd->name);
				hd->content = berth_buf_steal(&body, NULL);
			}
		}
		n->start_line = start;
		n->end_line = cur;
		if (ast->n == 1)
			ast->start_line = start;
		ast->end_line = cur;
	}
	if (ast->n == 0)
		return berth_err_set_line(err, BERTH_E_INVALID, cur > 0 ? cur : 1,
					  "file with no instructions");
	return 0;
}

int berth_df_parse(const char *data, size_t len, struct berth_df_ast *ast, struct berth_err **err)
{
	memset(ast, 0, sizeof(*ast));
	if (len > BERTH_DF_MAX_SIZE)
		return berth_err_set(err, BERTH_E_LIMIT, "dockerfile is larger than %u bytes",
				     BERTH_DF_MAX_SIZE);
	struct directives d = {.escape = '\\'};
	struct scanner sc = {data, data + len};
	int r = parse_all(&sc, &d, ast, err);
	ast->escape = d.escape;
	ast->syntax = d.syntax;
	ast->check = d.check;
	if (r < 0)
		berth_df_ast_release(ast);
	return r;
}

void berth_df_node_release(struct berth_df_node *n)
{
	free(n->keyword);
	free(n->original);
	berth_strv_release(&n->flags);
	berth_strv_release(&n->args);
	free(n->arg_lens);
	if (n->sub) {
		berth_df_node_release(n->sub);
		free(n->sub);
	}
	for (size_t i = 0; i < n->nheredocs; i++) {
		free(n->heredocs[i].name);
		free(n->heredocs[i].content);
	}
	free(n->heredocs);
	berth_strv_release(&n->comments);
	memset(n, 0, sizeof(*n));
}

void berth_df_ast_release(struct berth_df_ast *ast)
{
	for (size_t i = 0; i < ast->n; i++)
		berth_df_node_release(&ast->nodes[i]);
	free(ast->nodes);
	for (size_t i = 0; i < ast->nwarnings; i++) {
		free(ast->warnings[i].rule);
		free(ast->warnings[i].msg);
	}
	free(ast->warnings);
	free(ast->syntax);
	free(ast->check);
	memset(ast, 0, sizeof(*ast));
}
