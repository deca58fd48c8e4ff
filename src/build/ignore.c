/* .dockerignore: read the context's ignore file and decide which paths it
 * excludes, with moby's patternmatcher semantics (what `docker build` and
 * BuildKit use). Each pattern is compiled once into a short token list that
 * a small NFA runs over the path, so matching stays linear in the pattern
 * and path lengths whatever stars the file holds. */
#include "build/build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest .dockerignore read; it belongs with the module's other
 * limits in build.h (BERTH_DOCKERIGNORE_MAX) once that header can change. */
#define IGNORE_FILE_MAX (1u << 20)

/* Active NFA states kept on the stack; longer patterns use the heap. */
#define IGNORE_STACK_STATES 128

/* A byte that is not valid UTF-8 becomes its own "rune" above Unicode, so it
 * matches only the same byte (Go would fold them all into U+FFFD). */
#define RUNE_BAD_BASE 0x110000u

enum tok_kind {
	T_LIT,         /* one rune */
	T_ANY,         /* `?`: one rune but '/' */
	T_CLASS,       /* `[...]`: one rune in (or, negated, not in) the ranges */
	T_STAR,        /* `*`: any runes but '/' */
	T_ANYSTAR,     /* `**` at the end: anything */
	T_DSTAR_ENTRY, /* `**` elsewhere, regexp `(.*[/])?`: skip, or enter the body */
	T_DSTAR_BODY,  /* inside `(.*[/])?`: anything; a '/' may leave */
};

struct tok {
	enum tok_kind kind;
	uint32_t rune;      /* T_LIT */
	bool negated;       /* T_CLASS */
	size_t first, nrng; /* T_CLASS: ranges[first .. first+nrng) */
};

struct range {
	uint32_t lo, hi;
};

struct pattern {
	bool exception; /* `!pattern`: re-include */
	bool suffix;    /* moby's suffix match for `**xyz` with nothing special after */
	char *text;     /* cleaned pattern, '!' removed; owned */
	size_t len;
	struct tok *toks; /* owned */
	size_t ntok;
	struct range *ranges; /* owned */
	size_t nranges;
};

struct berth__ignore {
	struct pattern *pats;
	size_t n, cap;
};

/* --------------------------------------------------------------- runes */

/* Decode one rune at s[*i] (len bytes in all), advancing *i; a byte that is
 * not valid UTF-8 becomes RUNE_BAD_BASE + the byte. */
static uint32_t next_rune(const unsigned char *s, size_t len, size_t *i)
{
	size_t w;
	uint32_t r = berth__utf8_decode(s + *i, len - *i, &w);
	if (r == BERTH__RUNE_ERROR && w == 1)
		r = RUNE_BAD_BASE + s[*i];
	*i += w;
	return r;
}

/* ------------------------------------------------------------ cleaning */

/* Go's filepath.Clean of p[0..len), appended to out: one slash between
 * names, no "." names, ".." removes the name before it (at the root it is
 * dropped; leading ones of a relative path stay), "" becomes ".". */
static void clean_path(const char *p, size_t len, struct berth_buf *out)
{
	size_t start = out->len, r = 0;
	bool rooted = len > 0 && p[0] == '/';
	size_t dotdot = start; /* ".." may not remove what is before this */
	if (rooted) {
		berth_buf_addch(out, '/');
		r = 1;
		dotdot = out->len;
	}
	while (r < len) {
		bool end1 = r + 1 == len || p[r + 1] == '/';
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && end1) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == len || p[r + 2] == '/')) {
			r += 2;
			if (out->len > dotdot) {
				size_t w = out->len - 1;
				while (w > dotdot && out->data[w] != '/')
					w--;
				out->len = w;
				out->data[w] = '\0';
			} else if (!rooted) {
				if (out->len > start)
					berth_buf_addch(out, '/');
				berth_buf_add(out, "..", 2);
				dotdot = out->len;
			}
		} else {
			if (out->len != start + (rooted ? 1 : 0))
				berth_buf_addch(out, '/');
			size_t j = r;
			while (j < len && p[j] != '/')
				j++;
			berth_buf_add(out, p + r, j - r);
			r = j;
		}
	}
	if (out->len == start)
		berth_buf_addch(out, '.');
}

/* --------------------------------------------------------- compilation */

static void push_tok(struct pattern *pat, size_t *cap, struct tok t)
{
	pat->toks = berth_xgrow(pat->toks, sizeof(*pat->toks), pat->ntok + 1, cap);
	pat->toks[pat->ntok++] = t;
}

/* One possibly escaped rune of a class (Go's getEsc). Returns false when the
 * class is malformed there. */
static bool class_rune(const unsigned char *s, size_t len, size_t *i, uint32_t *out)
{
	if (*i >= len || s[*i] == '-' || s[*i] == ']')
		return false;
	if (s[*i] == '\\') {
		(*i)++;
		if (*i >= len)
			return false;
	}
	uint32_t r = next_rune(s, len, i);
	if (r >= RUNE_BAD_BASE)
		return false;
	*out = r;
	return *i < len; /* a class must still be closed */
}

/* Compile pat->text into tokens, following moby's pattern-to-regexp
 * translation; syntax errors are those of Go's filepath.Match, which moby
 * checks first. Returns NULL or a static description of the error. */
static const char *compile(struct pattern *pat)
{
	const unsigned char *s = (const unsigned char *)pat->text;
	size_t len = pat->len, i = 0, tcap = 0, rcap = 0;
	/* moby matches `**xyz` (leading `**`, then only plain characters)
	 * with a plain suffix test; anything special after it makes a regexp. */
	bool suffix = len >= 2 && s[0] == '*' && s[1] == '*';

	while (i < len) {
		unsigned char c = s[i];
		if (c == '*') {
			if (i + 1 < len && s[i + 1] == '*') {
				if (i > 0)
					suffix = false; /* only a leading `**` */
				i += 2;
				if (i < len && s[i] == '/')
					i++;
				if (i >= len) {
					push_tok(pat, &tcap, (struct tok){.kind = T_ANYSTAR});
				} else {
					push_tok(pat, &tcap, (struct tok){.kind = T_DSTAR_ENTRY});
					push_tok(pat, &tcap, (struct tok){.kind = T_DSTAR_BODY});
				}
				continue;
			}
			i++;
			suffix = false;
			push_tok(pat, &tcap, (struct tok){.kind = T_STAR});
		} else if (c == '?') {
			i++;
			suffix = false;
			push_tok(pat, &tcap, (struct tok){.kind = T_ANY});
		} else if (c == '\\') {
			i++;
			if (i >= len)
				return "a trailing '\\' escapes nothing";
			suffix = false;
			push_tok(pat, &tcap,
				 (struct tok){.kind = T_LIT, .rune = next_rune(s, len, &i)});
		} else if (c == '[') {
			i++;
			suffix = false;
			struct tok t = {.kind = T_CLASS, .first = pat->nranges};
			if (i < len && s[i] == '^') {
				t.negated = true;
				i++;
			}
			for (;;) {
				if (i < len && s[i] == ']' && t.nrng > 0) {
					i++;
					break;
				}
				struct range rg;
				if (!class_rune(s, len, &i, &rg.lo))
					return "malformed character class (unterminated '[', or "
					       "a '-' or ']' out of place)";
				rg.hi = rg.lo;
				if (s[i] == '-') {
					i++;
					if (!class_rune(s, len, &i, &rg.hi))
						return "malformed range in a character class";
				}
				pat->ranges = berth_xgrow(pat->ranges, sizeof(*pat->ranges),
							  pat->nranges + 1, &rcap);
				pat->ranges[pat->nranges++] = rg;
				t.nrng++;
			}
			push_tok(pat, &tcap, t);
		} else {
			if (c == ']')
				suffix = false;
			push_tok(pat, &tcap,
				 (struct tok){.kind = T_LIT, .rune = next_rune(s, len, &i)});
		}
	}
	pat->suffix = suffix;
	return NULL;
}

/* ------------------------------------------------------------ matching */

/* A sparse set of NFA states (Briggs and Torczon): O(1) insert, clear and
 * iteration in insertion order. */
struct state_set {
	uint32_t *dense, *sparse;
	size_t n;
};

static bool set_has(const struct state_set *st, uint32_t s)
{
	uint32_t k = st->sparse[s];
	return k < st->n && st->dense[k] == s;
}

/* Add s and what it reaches without consuming: a star may match nothing,
 * `(.*[/])?` may be skipped. Each state has at most one such edge, forward. */
static void set_add(const struct pattern *pat, struct state_set *st, uint32_t s)
{
	while (!set_has(st, s)) {
		st->sparse[s] = (uint32_t)st->n;
		st->dense[st->n++] = s;
		if (s == pat->ntok)
			return;
		enum tok_kind k = pat->toks[s].kind;
		if (k == T_STAR || k == T_ANYSTAR)
			s = s + 1;
		else if (k == T_DSTAR_ENTRY)
			s = s + 2;
		else
			return;
	}
}

static bool class_has(const struct pattern *pat, const struct tok *t, uint32_t r)
{
	bool in = false;
	for (size_t k = 0; k < t->nrng && !in; k++) {
		const struct range *rg = &pat->ranges[t->first + k];
		in = rg->lo <= r && r <= rg->hi;
	}
	return in != t->negated;
}

static bool nfa_run(const struct pattern *pat, const unsigned char *s, size_t len,
		    struct state_set *cur, struct state_set *next)
{
	cur->n = 0;
	set_add(pat, cur, 0);
	size_t i = 0;
	while (i < len && cur->n) {
		uint32_t r = next_rune(s, len, &i);
		next->n = 0;
		for (size_t k = 0; k < cur->n; k++) {
			uint32_t q = cur->dense[k];
			if (q == pat->ntok)
				continue;
			const struct tok *t = &pat->toks[q];
			switch (t->kind) {
			case T_LIT:
				if (r == t->rune)
					set_add(pat, next, q + 1);
				break;
			case T_ANY:
				if (r != '/')
					set_add(pat, next, q + 1);
				break;
			case T_CLASS:
				if (class_has(pat, t, r))
					set_add(pat, next, q + 1);
				break;
			case T_STAR:
				if (r != '/')
					set_add(pat, next, q);
				break;
			case T_ANYSTAR:
				set_add(pat, next, q);
				break;
			case T_DSTAR_ENTRY:
			case T_DSTAR_BODY: {
				uint32_t body = t->kind == T_DSTAR_ENTRY ? q + 1 : q;
				set_add(pat, next, body);
				if (r == '/')
					set_add(pat, next, body + 1);
				break;
			}
			}
		}
		struct state_set tmp = *cur;
		*cur = *next;
		*next = tmp;
	}
	return i >= len && set_has(cur, (uint32_t)pat->ntok);
}

/* Does the pattern match s[0..len) as a whole? */
static bool pattern_match(const struct pattern *pat, const char *s, size_t len)
{
	if (pat->suffix) {
		const char *suf = pat->text + 2;
		size_t n = pat->len - 2;
		if (len >= n && memcmp(s + len - n, suf, n) == 0)
			return true;
		/* A suffix "/foo" (pattern `**` "/foo") also matches "foo" itself. */
		return n > 0 && suf[0] == '/' && len == n - 1 && memcmp(s, suf + 1, n - 1) == 0;
	}

	size_t nstates = pat->ntok + 1;
	uint32_t stack[4][IGNORE_STACK_STATES];
	_cleanup_free_ uint32_t *heap = NULL;
	struct state_set a, b;
	if (nstates <= IGNORE_STACK_STATES) {
		a = (struct state_set){stack[0], stack[1], 0};
		b = (struct state_set){stack[2], stack[3], 0};
		/* The sparse-set trick tolerates any values there, but reading
		 * indeterminate ones is better avoided (and MSan-clean). */
		memset(stack[1], 0, nstates * sizeof(stack[1][0]));
		memset(stack[3], 0, nstates * sizeof(stack[3][0]));
	} else {
		heap = berth_xcalloc(nstates, 4 * sizeof(*heap));
		a = (struct state_set){heap, heap + nstates, 0};
		b = (struct state_set){heap + 2 * nstates, heap + 3 * nstates, 0};
	}
	return nfa_run(pat, (const unsigned char *)s, len, &a, &b);
}

/* moby's MatchesOrParentMatches: the last pattern that matches the path, or
 * one of its parent directories, decides. */
bool berth__ignore_match(const struct berth__ignore *ig, const char *relpath)
{
	if (!ig || !ig->n)
		return false;
	size_t len = strlen(relpath);
	if (len == 0 || (len == 1 && relpath[0] == '.'))
		return false; /* the context itself is never excluded */
	bool matched = false;
	for (size_t k = 0; k < ig->n; k++) {
		const struct pattern *pat = &ig->pats[k];
		/* An inclusion cannot change a match, nor an exception a miss. */
		if (pat->exception != matched)
			continue;
		bool m = pattern_match(pat, relpath, len);
		for (size_t i = 0; !m && i < len; i++)
			if (relpath[i] == '/')
				m = pattern_match(pat, relpath, i);
		if (m)
			matched = !pat->exception;
	}
	return matched;
}

/* -------------------------------------------------------------- loading */

static void pattern_release(struct pattern *pat)
{
	free(pat->text);
	free(pat->toks);
	free(pat->ranges);
}

void berth__ignore_free(struct berth__ignore *ig)
{
	if (!ig)
		return;
	for (size_t k = 0; k < ig->n; k++)
		pattern_release(&ig->pats[k]);
	free(ig->pats);
	free(ig);
}

static void ignore_freep(struct berth__ignore **ig)
{
	berth__ignore_free(*ig);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void trim(const char **p, size_t *len)
{
	while (*len && is_space((*p)[0])) {
		(*p)++;
		(*len)--;
	}
	while (*len && is_space((*p)[*len - 1]))
		(*len)--;
}

/* One line of the file: moby's dockerignore.ReadAll, then what
 * patternmatcher.New does again to its result (trim and clean once more:
 * cleaning "a/ /" leaves "a/ ", which then loses its space). Errors name the
 * line in the message, not in err->line: that field means a Dockerfile
 * line to the CLI. */
static int add_line(struct berth__ignore *ig, const char *p, size_t len, int line,
		    struct berth_err **err)
{
	const char *shown = p;
	size_t shown_len = len;
	if (len && p[0] == '#')
		return 0; /* a comment only in the first column */
	trim(&p, &len);
	if (!len)
		return 0;
	bool exception = p[0] == '!';
	if (exception) {
		p++;
		len--;
		trim(&p, &len);
	}

	/* ReadAll's form: "!"? + Clean(pattern) less a leading '/'. */
	_cleanup_buf_ struct berth_buf first;
	berth_buf_init(&first, BERTH_BUF_UNLIMITED);
	if (exception)
		berth_buf_addch(&first, '!');
	if (len) {
		size_t at = first.len;
		clean_path(p, len, &first);
		if (first.len - at > 1 && first.data[at] == '/') {
			memmove(first.data + at, first.data + at + 1, first.len - at);
			first.len--;
		}
	}

	/* New's: trimmed, cleaned as a whole, then the '!' taken off. */
	const char *q = first.data;
	size_t qlen = first.len;
	trim(&q, &qlen);
	if (!qlen)
		return 0;
	_cleanup_buf_ struct berth_buf clean;
	berth_buf_init(&clean, BERTH_BUF_UNLIMITED);
	clean_path(q, qlen, &clean);
	const char *c = clean.data;
	size_t clen = clean.len;
	/* New decides: "/!x" is an exception too, as in moby. */
	exception = c[0] == '!';
	if (exception) {
		if (clen == 1)
			return berth_err_set(
			    err, BERTH_E_INVALID,
			    "'.dockerignore' line %d: '!' needs a pattern after it", line);
		c++;
		clen--;
	}
	/* "." or "/" can match no relative path. */
	if (clen == 1 && (c[0] == '.' || c[0] == '/'))
		return 0;

	struct pattern pat = {.exception = exception, .text = berth_xstrndup(c, clen), .len = clen};
	const char *why = compile(&pat);
	if (why) {
		int r = berth_err_set(err, BERTH_E_INVALID,
				      "'.dockerignore' line %d: bad pattern '%.*s': %s", line,
				      (int)shown_len, shown, why);
		pattern_release(&pat);
		return r;
	}
	ig->pats = berth_xgrow(ig->pats, sizeof(*ig->pats), ig->n + 1, &ig->cap);
	ig->pats[ig->n++] = pat;
	return 0;
}

/* Read at most IGNORE_FILE_MAX bytes of fd into out. */
static int read_capped(int fd, struct berth_buf *out, struct berth_err **err)
{
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "read '.dockerignore'");
		}
		if (n == 0)
			return 0;
		if (berth_buf_add(out, chunk, (size_t)n) < 0)
			return berth_err_set(err, BERTH_E_INVALID,
					     "'.dockerignore' is larger than the limit of %u bytes",
					     IGNORE_FILE_MAX);
	}
}

int berth__ignore_load(int ctx_fd, struct berth__ignore **out, struct berth_err **err)
{
	_cleanup_(ignore_freep) struct berth__ignore *ig = berth_xcalloc(1, sizeof(*ig));
	struct berth_err *open_err = NULL;
	/* O_NONBLOCK: a FIFO planted there must not hang the build. */
	_cleanup_close_ int fd = berth_fs_open_beneath(
	    ctx_fd, ".dockerignore", O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0, &open_err);
	if (fd < 0) {
		bool missing = open_err->sys_errno == ENOENT;
		if (!missing) {
			int e = open_err->sys_errno;
			berth_err_free(open_err);
			return berth_err_sys(err, e, "open '.dockerignore'");
		}
		berth_err_free(open_err);
		*out = steal_pointer(&ig);
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berth_err_sys(err, errno, "stat '.dockerignore'");
	if (!S_ISREG(st.st_mode))
		return berth_err_set(err, BERTH_E_INVALID, "'.dockerignore' is not a regular file");

	_cleanup_buf_ struct berth_buf data;
	berth_buf_init(&data, IGNORE_FILE_MAX);
	int r = read_capped(fd, &data, err);
	if (r < 0)
		return r;

	const char *p = data.data, *end = data.data + data.len;
	/* A UTF-8 byte order mark before the first line is dropped. */
	if (data.len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	for (int line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t len = (size_t)(eol - p);
		if (len && p[len - 1] == '\r')
			len--;
		r = add_line(ig, p, len, line, err);
		if (r < 0)
			return r;
		p = nl ? nl + 1 : end;
	}
	*out = steal_pointer(&ig);
	return 0;
}

struct berth__ignore *berth__ignore_new(void)
{
	return berth_xcalloc(1, sizeof(struct berth__ignore));
}

int berth__ignore_add(struct berth__ignore *ig, const char *pattern, struct berth_err **err)
{
	struct berth_err *e = NULL;
	if (add_line(ig, pattern, strlen(pattern), 0, &e) < 0) {
		berth_err_free(e);
		return berth_err_set(err, BERTH_E_INVALID, "bad pattern '%s'", pattern);
	}
	return 0;
}

/* The public face of the matcher (build.h): the same object. */
struct berth_dockerignore {
	struct berth__ignore *ig;
};

int berth_dockerignore_load(int ctx_fd, struct berth_dockerignore **out, struct berth_err **err)
{
	struct berth__ignore *ig = NULL;
	if (berth__ignore_load(ctx_fd, &ig, err) < 0)
		return -1;
	*out = berth_xcalloc(1, sizeof(**out));
	(*out)->ig = ig;
	return 0;
}

bool berth_dockerignore_match(const struct berth_dockerignore *d, const char *relpath)
{
	return d && berth__ignore_match(d->ig, relpath);
}

void berth_dockerignore_free(struct berth_dockerignore *d)
{
	if (!d)
		return;
	berth__ignore_free(d->ig);
	free(d);
}
