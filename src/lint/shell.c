/* RUN commands as simple commands: a small splitter finds the shell's
 * operators (&&, ||, ;, |, &, newlines, parentheses), redirections and
 * heredocs outside quotes; the front end's shell lexer then turns each
 * command's text into words (quotes removed, variables left as written).
 * Rules read apt-get, pip and npm invocations from the result wherever they
 * sit: after `&&`, across continuations, inside `sh -c "..."` or inside a
 * heredoc a shell reads. Best effort by design: it never fails, and marks
 * what it could not read as opaque. */
#include "lint/lint_int.h"

#include <ctype.h>

struct splitter {
	const char *p, *end;
	int line;
	bool count_lines;
	bool inline_bodies; /* heredoc bodies follow in the text (a script) */
	int depth;
	struct berth__sh_script *out;
	struct berth_buf cur; /* the current command's text */
	int cur_line;
	int cur_heredoc;           /* instruction heredoc the current command reads */
	int heredocs_seen;         /* instruction heredocs met so far */
	struct berth_strv pending; /* inline heredocs to skip at the next newline:
				    * "-" or "+" (chomp or not) + delimiter */
};

static void script_parse(const char *text, size_t len, int line, bool count_lines,
			 bool inline_bodies, int depth, struct berth__sh_script *out);

const char *berth__sh_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

bool berth__sh_is_shell(const char *argv0)
{
	static const char *const shells[] = {"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"};
	const char *b = berth__sh_basename(argv0);
	for (size_t i = 0; i < BERTH_ARRAY_SIZE(shells); i++)
		if (!strcmp(b, shells[i]))
			return true;
	return false;
}

void berth__sh_script_release(struct berth__sh_script *s)
{
	for (size_t i = 0; i < s->n; i++)
		berth_strv_release(&s->cmds[i].argv);
	free(s->cmds);
	memset(s, 0, sizeof(*s));
}

static struct berth__sh_cmd *push_cmd(struct berth__sh_script *s)
{
	s->cmds = berth_xgrow(s->cmds, sizeof(*s->cmds), s->n + 1, &s->cap);
	struct berth__sh_cmd *c = &s->cmds[s->n++];
	memset(c, 0, sizeof(*c));
	c->heredoc = -1;
	return c;
}

static bool is_name(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static bool is_assignment(const char *w)
{
	const char *eq = strchr(w, '=');
	return eq && is_name(w, (size_t)(eq - w));
}

/* Drop `n` words from the front of argv. */
static void shift(struct berth_strv *argv, size_t n)
{
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		free(argv->v[i]);
	memmove(argv->v, argv->v + n, (argv->n - n + 1) * sizeof(*argv->v));
	argv->n -= n;
}

/* Take reserved words, assignments and wrappers off the front. Returns
 * false when the "command" is a loop or case header, not a command. */
static bool strip_front(struct berth__sh_cmd *c)
{
	static const char *const reserved[] = {"if", "then", "else",  "elif",  "fi",
					       "do", "done", "while", "until", "!",
					       "{",  "}",    "esac"};
	static const char *const wrappers[] = {"exec", "command", "nohup", "time", "nice"};
	struct berth_strv *a = &c->argv;
	size_t i = 0;
	while (i < a->n) {
		const char *w = a->v[i];
		bool hit = false;
		if (!strcmp(w, "for") || !strcmp(w, "case") || !strcmp(w, "select"))
			return false;
		for (size_t k = 0; k < BERTH_ARRAY_SIZE(reserved); k++)
			hit |= !strcmp(w, reserved[k]);
		if (hit || is_assignment(w)) {
			i++;
			continue;
		}
		if (!strcmp(w, "sudo")) {
			c->sudo = true;
			for (i++; i < a->n && a->v[i][0] == '-'; i++)
				if (strchr("ugpCUrtDh", a->v[i][1]) && a->v[i][1] && !a->v[i][2])
					i++; /* an option with a value */
			continue;
		}
		if (!strcmp(w, "env")) {
			for (i++; i < a->n && (a->v[i][0] == '-' || is_assignment(a->v[i])); i++)
				if (!strcmp(a->v[i], "-u") || !strcmp(a->v[i], "-C"))
					i++;
			continue;
		}
		for (size_t k = 0; k < BERTH_ARRAY_SIZE(wrappers); k++)
			hit |= !strcmp(w, wrappers[k]);
		if (hit) {
			for (i++; i < a->n && a->v[i][0] == '-'; i++)
				;
			continue;
		}
		break;
	}
	shift(a, i < a->n ? i : a->n);
	return true;
}

/* `set -o pipefail`, `set -euo pipefail`, `set -eo pipefail`. */
static bool sets_pipefail(const struct berth_strv *a)
{
	if (a->n < 3 || strcmp(a->v[0], "set"))
		return false;
	for (size_t i = 2; i < a->n; i++) {
		const char *o = a->v[i - 1];
		if (!strcmp(a->v[i], "pipefail") && o[0] == '-' && o[strlen(o) - 1] == 'o')
			return true;
	}
	return false;
}

/* The -c string of a shell command line, or NULL. */
static const char *shell_c_string(const struct berth_strv *a)
{
	if (a->n < 2 || !berth__sh_is_shell(a->v[0]))
		return NULL;
	for (size_t i = 1; i < a->n; i++) {
		const char *o = a->v[i];
		if (o[0] != '-' || o[1] == '-')
			return NULL;
		if (strchr(o + 1, 'c'))
			return i + 1 < a->n ? a->v[i + 1] : NULL;
		if (!strcmp(o, "-o") || !strcmp(o, "+o"))
			i++; /* -o pipefail */
	}
	return NULL;
}

/* A shell running a script file (`bash install.sh`) or a local program
 * (`./install.sh`): what it does is not in the Dockerfile. */
static bool runs_unseen_file(const struct berth_strv *a)
{
	if (a->n == 0)
		return false;
	const char *b = a->v[0];
	size_t n = strlen(b);
	if (!strncmp(b, "./", 2) || (n > 3 && !strcmp(b + n - 3, ".sh")))
		return true;
	if (!berth__sh_is_shell(b))
		return false;
	for (size_t i = 1; i < a->n; i++) {
		if (a->v[i][0] != '-')
			return true;
		if (strchr(a->v[i] + 1, 'c'))
			return false;
	}
	return false;
}

static void words_of(const char *text, struct berth_strv *out)
{
	struct berth_shlex lx = {.escape = '\\', .skip_unset = true};
	if (berth_shlex_words(&lx, text, out, NULL) == 0)
		return;
	/* The lexer refused it (an unclosed ${): plain whitespace words. */
	berth_strv_release(out);
	const char *p = text;
	while (*p) {
		while (*p && isspace((unsigned char)*p))
			p++;
		const char *s = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (p > s)
			berth_strv_push_owned(out, berth_xstrndup(s, (size_t)(p - s)));
	}
}

static void flush(struct splitter *S, bool piped)
{
	bool blank = true;
	for (size_t i = 0; i < S->cur.len; i++)
		blank &= isspace((unsigned char)S->cur.data[i]) != 0;
	if (blank && S->cur_heredoc < 0)
		goto out;
	struct berth__sh_script *o = S->out;
	struct berth__sh_cmd *c = push_cmd(o);
	c->line = S->cur_line;
	c->heredoc = S->cur_heredoc;
	words_of(S->cur.data, &c->argv);
	if (!strip_front(c) || (c->argv.n == 0 && c->heredoc < 0)) {
		berth_strv_release(&c->argv);
		o->n--;
		goto out;
	}
	c->piped = piped;
	o->has_pipe |= piped;
	o->pipefail |= sets_pipefail(&c->argv);
	o->opaque |= runs_unseen_file(&c->argv);
	const char *inner = shell_c_string(&c->argv);
	if (inner && S->depth < BERTH__LINT_MAX_SHELL_DEPTH) {
		/* c may move when the nested commands are appended. */
		int line = c->line;
		struct berth__sh_script sub = {0};
		script_parse(inner, strlen(inner), line, false, true, S->depth + 1, &sub);
		for (size_t i = 0; i < sub.n; i++) {
			struct berth__sh_cmd *d = push_cmd(o);
			*d = sub.cmds[i];
			d->line = line;
		}
		o->has_pipe |= sub.has_pipe;
		o->pipefail |= sub.pipefail;
		o->opaque |= sub.opaque;
		free(sub.cmds);
	} else if (inner) {
		o->opaque = true;
	}
out:
	berth_buf_reset(&S->cur);
	S->cur_heredoc = -1;
	S->cur_line = S->line;
}

static bool at_word_start(const struct splitter *S)
{
	return S->cur.len == 0 || isspace((unsigned char)S->cur.data[S->cur.len - 1]);
}

static void newline(struct splitter *S)
{
	if (S->count_lines)
		S->line++;
}

/* Copy a quoted run starting at S->p (a quote or backtick) into cur. */
static void copy_quoted(struct splitter *S)
{
	char q = *S->p;
	berth_buf_addch(&S->cur, *S->p++);
	while (S->p < S->end) {
		char c = *S->p;
		if (c == '\n')
			newline(S);
		if (c == '\\' && q != '\'' && S->p + 1 < S->end) {
			berth_buf_add(&S->cur, S->p, 2);
			if (S->p[1] == '\n')
				newline(S);
			S->p += 2;
			continue;
		}
		berth_buf_addch(&S->cur, c);
		S->p++;
		if (c == q)
			return;
	}
}

/* Copy `$(...)` (or `$((...))`) with its nesting into cur. */
static void copy_subst(struct splitter *S)
{
	int depth = 0;
	while (S->p < S->end) {
		char c = *S->p;
		if (c == '\'' || c == '"' || c == '`') {
			copy_quoted(S);
			continue;
		}
		if (c == '\\' && S->p + 1 < S->end) {
			berth_buf_add(&S->cur, S->p, 2);
			S->p += 2;
			continue;
		}
		if (c == '\n')
			newline(S);
		berth_buf_addch(&S->cur, c);
		S->p++;
		if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			return;
	}
}

static bool is_op_char(char c)
{
	return c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || c == '(' || c == ')' ||
	       c == '\n';
}

/* Read one word at S->p (after blanks) without adding it to cur; quotes are
 * removed into *word when word is not NULL. */
static void read_word(struct splitter *S, struct berth_buf *word)
{
	while (S->p < S->end && (*S->p == ' ' || *S->p == '\t'))
		S->p++;
	while (S->p < S->end && !isspace((unsigned char)*S->p) && !is_op_char(*S->p)) {
		char c = *S->p++;
		if (c == '\'' || c == '"') {
			while (S->p < S->end && *S->p != c) {
				if (word)
					berth_buf_addch(word, *S->p);
				S->p++;
			}
			if (S->p < S->end)
				S->p++;
			continue;
		}
		if (c == '\\' && S->p < S->end)
			c = *S->p++;
		if (word)
			berth_buf_addch(word, c);
	}
}

/* At '<' or '>': a redirection, its target dropped from the command. */
static void redirection(struct splitter *S)
{
	const char *p = S->p;
	if (p + 1 < S->end && p[0] == '<' && p[1] == '<') {
		if (p + 2 < S->end && p[2] == '<') { /* here-string */
			S->p += 3;
			read_word(S, NULL);
			return;
		}
		S->p += 2;
		bool chomp = S->p < S->end && *S->p == '-';
		if (chomp)
			S->p++;
		_cleanup_buf_ struct berth_buf delim;
		berth_buf_init(&delim, BERTH_DF_MAX_LINE);
		read_word(S, &delim);
		if (S->inline_bodies)
			berth_strv_pushf(&S->pending, "%c%s", chomp ? '-' : '+', delim.data);
		else
			S->cur_heredoc = S->heredocs_seen++;
		return;
	}
	S->p++;
	if (S->p < S->end && (*S->p == '>' || *S->p == '|' || *S->p == '&'))
		S->p++;
	read_word(S, NULL);
}

/* After a newline: skip the bodies of inline heredocs opened on that line. */
static void skip_bodies(struct splitter *S)
{
	for (size_t k = 0; k < S->pending.n; k++) {
		const char *name = S->pending.v[k] + 1;
		bool chomp = S->pending.v[k][0] == '-';
		while (S->p < S->end) {
			const char *nl = memchr(S->p, '\n', (size_t)(S->end - S->p));
			const char *eol = nl ? nl : S->end;
			const char *s = S->p;
			if (chomp)
				while (s < eol && *s == '\t')
					s++;
			bool last =
			    (size_t)(eol - s) == strlen(name) && !memcmp(s, name, strlen(name));
			S->p = nl ? nl + 1 : S->end;
			newline(S);
			if (last)
				break;
		}
	}
	berth_strv_release(&S->pending);
}

static void script_parse(const char *text, size_t len, int line, bool count_lines,
			 bool inline_bodies, int depth, struct berth__sh_script *out)
{
	struct splitter S = {.p = text,
			     .end = text + len,
			     .line = line,
			     .count_lines = count_lines,
			     .inline_bodies = inline_bodies,
			     .depth = depth,
			     .out = out,
			     .cur_line = line,
			     .cur_heredoc = -1};
	berth_buf_init(&S.cur, BERTH_DF_MAX_SIZE);
	while (S.p < S.end) {
		char c = *S.p;
		char n = S.p + 1 < S.end ? S.p[1] : '\0';
		if (c == '\\') {
			if (n == '\n') { /* a continuation */
				S.p += 2;
				newline(&S);
				continue;
			}
			berth_buf_add(&S.cur, S.p, n ? 2 : 1);
			S.p += n ? 2 : 1;
		} else if (c == '\'' || c == '"' || c == '`') {
			copy_quoted(&S);
		} else if (c == '$' && n == '(') {
			copy_subst(&S);
		} else if (c == '#' && at_word_start(&S)) {
			while (S.p < S.end && *S.p != '\n')
				S.p++;
		} else if (c == '\n') {
			S.p++;
			flush(&S, false);
			newline(&S);
			S.cur_line = S.line;
			skip_bodies(&S);
			S.cur_line = S.line;
		} else if (c == ';' || c == '(' || c == ')') {
			S.p += (c == ';' && n == ';') ? 2 : 1;
			flush(&S, false);
		} else if (c == '&' && n == '>') {
			S.p++;
			redirection(&S);
		} else if (c == '&') {
			S.p += n == '&' ? 2 : 1;
			flush(&S, false);
		} else if (c == '|') {
			S.p += (n == '|' || n == '&') ? 2 : 1;
			flush(&S, n != '|');
		} else if (c == '<' || c == '>') {
			redirection(&S);
		} else if (isdigit((unsigned char)c) && at_word_start(&S)) {
			const char *q = S.p;
			while (q < S.end && isdigit((unsigned char)*q))
				q++;
			if (q < S.end && (*q == '<' || *q == '>')) {
				S.p = q;
				redirection(&S);
			} else {
				berth_buf_add(&S.cur, S.p, (size_t)(q - S.p));
				S.p = q;
			}
		} else {
			berth_buf_addch(&S.cur, c);
			S.p++;
		}
	}
	flush(&S, false);
	berth_buf_release(&S.cur);
	berth_strv_release(&S.pending);
}

void berth__sh_script_parse(const char *text, int line, bool count_lines,
			    struct berth__sh_script *out)
{
	memset(out, 0, sizeof(*out));
	script_parse(text, strlen(text), line, count_lines, true, 0, out);
}

/* A heredoc body as the shell sees it: `<<-` strips leading tabs. */
static char *body_text(const struct berth_df_heredoc *h)
{
	if (!h->chomp)
		return berth_xstrdup(h->content);
	struct berth_buf b;
	berth_buf_init(&b, BERTH_BUF_UNLIMITED);
	bool bol = true;
	for (const char *p = h->content; *p; p++) {
		if (bol && *p == '\t')
			continue;
		bol = *p == '\n';
		berth_buf_addch(&b, *p);
	}
	return berth_buf_steal(&b, NULL);
}

static int count_newlines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The interpreter of a `#!` line ("#!/usr/bin/env python3" -> "python3"),
 * or NULL. free(). */
static char *shebang(const char *body)
{
	if (strncmp(body, "#!", 2))
		return NULL;
	const char *p = body + 2;
	size_t n = strcspn(p, "\n");
	_cleanup_strv_ struct berth_strv w = BERTH_STRV_INIT;
	_cleanup_free_ char *line = berth_xstrndup(p, n);
	words_of(line, &w);
	if (w.n == 0)
		return berth_xstrdup("");
	size_t i = 0;
	if (!strcmp(berth__sh_basename(w.v[0]), "env"))
		for (i = 1; i < w.n && w.v[i][0] == '-'; i++)
			;
	return berth_xstrdup(i < w.n ? berth__sh_basename(w.v[i]) : "");
}

void berth__sh_script_of_run(const struct berth_df_instr *in, struct berth__sh_script *out)
{
	memset(out, 0, sizeof(*out));
	if (in->kind != BERTH_DF_RUN || in->args.n == 0)
		return;
	if (in->json) {
		struct berth__sh_cmd *c = push_cmd(out);
		c->line = in->line;
		berth_strv_copy(&c->argv, &in->args);
		const char *inner = shell_c_string(&c->argv);
		if (inner)
			script_parse(inner, strlen(inner), in->line, false, true, 1, out);
		else if (!strip_front(c) || c->argv.n == 0)
			berth_strv_release(&out->cmds[--out->n].argv);
		return;
	}
	const struct berth_df_node *node = in->node;
	struct berth__sh_script top = {0};
	script_parse(in->args.v[0], strlen(in->args.v[0]), in->line, false, false, 0, &top);
	out->has_pipe = top.has_pipe;
	out->pipefail = top.pipefail;
	out->opaque = top.opaque;

	/* Where each body starts: the instruction's own lines come first. */
	int body_lines = 0;
	for (size_t k = 0; k < node->nheredocs; k++)
		body_lines += count_newlines(node->heredocs[k].content) + 1;
	int first_body = node->end_line - body_lines + 1;

	for (size_t i = 0; i < top.n; i++) {
		struct berth__sh_cmd *c = &top.cmds[i];
		int k = c->heredoc;
		bool reads = k >= 0 && (size_t)k < node->nheredocs;
		bool shell = c->argv.n == 0 ||
			     (berth__sh_is_shell(c->argv.v[0]) && !shell_c_string(&c->argv));
		if (c->argv.n) {
			*push_cmd(out) = *c;
			if (shell && reads)
				out->cmds[out->n - 1].heredoc = k;
		} else {
			berth_strv_release(&c->argv);
		}
		if (!reads)
			continue;
		_cleanup_free_ char *body = body_text(&node->heredocs[k]);
		_cleanup_free_ char *interp = c->argv.n == 0 ? shebang(body) : NULL;
		if (interp && *interp && !berth__sh_is_shell(interp))
			shell = false;
		if (!shell) {
			/* `cat <<EOF >file` is data; an interpreter's script is unseen. */
			const char *prog = c->argv.n ? berth__sh_basename(c->argv.v[0]) : interp;
			if (prog && strcmp(prog, "cat") && strcmp(prog, "tee"))
				out->opaque = true;
			continue;
		}
		int line = first_body;
		for (int j = 0; j < k; j++)
			line += count_newlines(node->heredocs[j].content) + 1;
		struct berth__sh_script sub = {0};
		script_parse(body, strlen(body), line, true, true, 1, &sub);
		for (size_t j = 0; j < sub.n; j++)
			*push_cmd(out) = sub.cmds[j];
		out->has_pipe |= sub.has_pipe;
		out->pipefail |= sub.pipefail;
		out->opaque |= sub.opaque;
		free(sub.cmds);
	}
	free(top.cmds);
}
