/* The shell lexer: BuildKit's expansion of Dockerfile words (frontend/dockerfile/shell) with its
 * quotes, escapes, $name and ${name<op>word} substitutions, glob patterns and word splitting,
 * reimplemented from its behaviour so that berth expands exactly what `docker build` expands. */
#include "dockerfile/dockerfile.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Like Go's text/scanner, the lexer works on code points: invalid UTF-8 reads as U+FFFD. */
#define RUNE_EOF   (-1)
#define RUNE_ERROR 0xFFFD
#define RUNE_BOM   0xFEFF

/* Work budget (matcher steps) for all the ${v#p}, ${v%p} and ${v/p/r} of one word. Matching
 * costs O(value x pattern), as in Go's regexp; this bounds a hostile pattern on a big value. */
#define SHLEX_MAX_MATCH_STEPS (1u << 27)

static bool rune_is_letter_or_digit(int32_t r);
static bool rune_is_digit(int32_t r);

/* ------------------------------------------------------------- UTF-8 */

/* Decode one code point as Go's utf8.DecodeRune: an invalid or truncated sequence is
 * RUNE_ERROR of width 1; the end is RUNE_EOF of width 0. */
static int32_t utf8_decode(const char *str, size_t n, size_t *width)
{
	const unsigned char *s = (const unsigned char *)str;
	*width = 0;
	if (n == 0)
		return RUNE_EOF;
	*width = 1;
	if (s[0] < 0x80)
		return s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;
	int32_t r;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		r = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		r = s[0] & 0x0F;
		if (s[0] == 0xE0)
			lo = 0xA0;
		else if (s[0] == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		r = s[0] & 0x07;
		if (s[0] == 0xF0)
			lo = 0x90;
		else if (s[0] == 0xF4)
			hi = 0x8F;
	} else {
		return RUNE_ERROR;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return RUNE_ERROR;
	for (size_t i = 1; i < len; i++) {
		if (i > 1 && (s[i] < 0x80 || s[i] > 0xBF))
			return RUNE_ERROR;
		r = (r << 6) | (s[i] & 0x3F);
	}
	*width = len;
	return r;
}

/* Encode r (RUNE_EOF as U+FFFD, like Go's string(rune(-1))); returns the length. */
static size_t utf8_encode(char dst[4], int32_t r)
{
	if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = RUNE_ERROR;
	if (r < 0x80) {
		dst[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		dst[0] = (char)(0xC0 | (r >> 6));
		dst[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		dst[0] = (char)(0xE0 | (r >> 12));
		dst[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		dst[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	dst[0] = (char)(0xF0 | (r >> 18));
	dst[1] = (char)(0x80 | ((r >> 12) & 0x3F));
	dst[2] = (char)(0x80 | ((r >> 6) & 0x3F));
	dst[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

/* Go's unicode.IsSpace. */
static bool rune_is_space(int32_t r)
{
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000:
		return true;
	}
	return r >= 0x2000 && r <= 0x200A;
}

/* POSIX special parameters: valid names that are never set. */
static bool rune_is_special_param(int32_t r)
{
	return r == '@' || r == '*' || r == '#' || r == '?' || r == '-' || r == '$' || r == '!' ||
	       r == '0';
}

/* ------------------------------------------------------- lexer state */

/* A set over the strings of a caller's strv, so that each name is appended once without a
 * quadratic scan (a heredoc body can reference millions of names). */
struct name_set {
	struct berth_strv *sv; /* NULL: not tracked */
	const char **slot;     /* open addressing; borrowed from sv */
	size_t cap;
	size_t used;
};

struct lexer {
	const struct berth_shlex *cfg;
	int32_t escape;
	const char *s;
	size_t len;
	size_t pos;
	bool raw_escapes; /* the mode of the innermost word being processed */
	int depth;        /* open ${ */
	uint64_t steps;   /* matcher work so far */
	enum berth_err_code code;
	char *msg; /* the first failure, reported by the public entry points */
	struct name_set matched, unmatched;
};

static struct berth_buf new_buf(void)
{
	struct berth_buf b;
	berth_buf_init(&b, BERTH_DF_MAX_EXPANSION);
	return b;
}

__attribute__((format(printf, 3, 4))) static int fail(struct lexer *lx, enum berth_err_code code,
						      const char *fmt, ...)
{
	if (lx->code != BERTH_OK)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&lx->msg, fmt, ap) < 0)
		berth_oom();
	va_end(ap);
	lx->code = code;
	return -1;
}

/* BuildKit reports a word inside ${...} that failed at the end of the input as a syntax
 * error about the missing delimiter, whatever failed inside it; limits stay limits. */
static int fail_missing(struct lexer *lx, const char *msg)
{
	if (lx->code == BERTH_E_LIMIT)
		return -1;
	free(lx->msg);
	lx->msg = NULL;
	lx->code = BERTH_OK;
	return fail(lx, BERTH_E_INVALID, "%s", msg);
}

static int put(struct lexer *lx, struct berth_buf *b, const void *p, size_t n)
{
	if (berth_buf_add(b, p, n) == 0)
		return 0;
	return fail(lx, BERTH_E_LIMIT, "expanded word is longer than %u bytes",
		    BERTH_DF_MAX_EXPANSION);
}

static int put_str(struct lexer *lx, struct berth_buf *b, const char *s)
{
	return put(lx, b, s, strlen(s));
}

static int put_rune(struct lexer *lx, struct berth_buf *b, int32_t r)
{
	char enc[4];
	return put(lx, b, enc, utf8_encode(enc, r));
}

static int32_t peek(const struct lexer *lx)
{
	size_t w;
	return utf8_decode(lx->s + lx->pos, lx->len - lx->pos, &w);
}

static int32_t next(struct lexer *lx)
{
	size_t w;
	int32_t r = utf8_decode(lx->s + lx->pos, lx->len - lx->pos, &w);
	lx->pos += w;
	return r;
}

/* ---------------------------------------------------- matched names */

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211u;
	return h;
}

/* The slot holding name, or the empty slot where it belongs. */
static const char **name_set_find(struct name_set *set, const char *name, size_t len)
{
	size_t i = (size_t)name_hash(name, len) & (set->cap - 1);
	for (;; i = (i + 1) & (set->cap - 1)) {
		const char *s = set->slot[i];
		if (!s || (strlen(s) == len && memcmp(s, name, len) == 0))
			return &set->slot[i];
	}
}

static void name_set_grow(struct name_set *set, size_t want)
{
	size_t cap = 16;
	while (cap < 2 * want)
		cap *= 2;
	const char **old = set->slot;
	size_t oldcap = set->cap;
	set->slot = berth_xcalloc(cap, sizeof(*set->slot));
	set->cap = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			*name_set_find(set, old[i], strlen(old[i])) = old[i];
	free(old);
}

static void name_set_add(struct name_set *set, const char *name, size_t len)
{
	if (!set->sv)
		return;
	if (!set->slot) {
		/* Names the caller collected before count as already there. */
		name_set_grow(set, set->sv->n + 1);
		for (size_t i = 0; i < set->sv->n; i++) {
			const char **slot =
			    name_set_find(set, set->sv->v[i], strlen(set->sv->v[i]));
			if (!*slot) {
				*slot = set->sv->v[i];
				set->used++;
			}
		}
	}
	if (*name_set_find(set, name, len))
		return;
	if (2 * (set->used + 1) > set->cap)
		name_set_grow(set, set->used + 1);
	berth_strv_push_owned(set->sv, berth_xstrndup(name, len));
	*name_set_find(set, name, len) = set->sv->v[set->sv->n - 1];
	set->used++;
}

/* Look a name up (BuildKit getEnv), noting it as matched or unmatched. */
static const char *lookup(struct lexer *lx, const struct berth_buf *name)
{
	const struct berth_shlex *cfg = lx->cfg;
	const char *v = cfg->lookup ? cfg->lookup(cfg->lookup_ctx, name->data, name->len) : NULL;
	name_set_add(v ? &lx->matched : &lx->unmatched, name->data, name->len);
	return v;
}

/* ------------------------------------------------------------ words */

/* Word splitting (BuildKit ProcessWords): unquoted whitespace, including whitespace that an
 * unquoted expansion produced, ends a word; quoted and escaped text never does; empty words
 * are dropped. Only the outermost word is split. */
struct words {
	struct berth_buf cur;
	struct berth_strv list;
};

static void words_flush(struct words *w)
{
	if (w->cur.len)
		berth_strv_push_owned(&w->list, berth_buf_steal(&w->cur, NULL));
}

static int words_add_char(struct lexer *lx, struct words *w, int32_t r)
{
	if (!w)
		return 0;
	if (rune_is_space(r)) {
		words_flush(w);
		return 0;
	}
	return put_rune(lx, &w->cur, r);
}

static int words_add_raw_char(struct lexer *lx, struct words *w, int32_t r)
{
	return w ? put_rune(lx, &w->cur, r) : 0;
}

/* An expansion result: split, and read as code points like Go's range over a string. */
static int words_add_string(struct lexer *lx, struct words *w, const struct berth_buf *b)
{
	if (!w)
		return 0;
	for (size_t i = 0, n; i < b->len; i += n)
		if (words_add_char(lx, w, utf8_decode(b->data + i, b->len - i, &n)) < 0)
			return -1;
	return 0;
}

static int words_add_raw_string(struct lexer *lx, struct words *w, const struct berth_buf *b)
{
	return w ? put(lx, &w->cur, b->data, b->len) : 0;
}

/* ------------------------------------------------------------ patterns */

/* A shell pattern as BuildKit turns it into a Go regexp: `*` is `.*` (or the lazy `.*?`),
 * `?` is `.`, and both stop at a newline, as Go's `.` does. Consecutive stars are one. */
enum patom_kind { PAT_CHAR, PAT_ANY, PAT_STAR };

struct patom {
	enum patom_kind kind;
	int32_t rune;
};

struct pattern {
	struct patom *a;
	size_t n;
	bool greedy;
};

static void pattern_release(struct pattern *p)
{
	free(p->a);
	p->a = NULL;
	p->n = 0;
}

/* BuildKit's convertShellPatternToRegex: the escape is always a backslash here; `\*`, `\?`
 * and `\\` are literal, `\}` and `\/` drop the backslash, any other escape is an error. */
static int pattern_compile(struct lexer *lx, const char *pat, size_t len, bool greedy,
			   struct pattern *p)
{
	size_t pos = 0, w;
	p->a = berth_xcalloc(len + 1, sizeof(*p->a));
	p->n = 0;
	p->greedy = greedy;
	if (utf8_decode(pat, len, &w) == RUNE_BOM) /* text/scanner skips a leading BOM */
		pos = w;
	while (pos < len) {
		int32_t tok = utf8_decode(pat + pos, len - pos, &w);
		pos += w;
		if (tok == '*') {
			if (!p->n || p->a[p->n - 1].kind != PAT_STAR)
				p->a[p->n++] = (struct patom){PAT_STAR, 0};
			continue;
		}
		if (tok == '?') {
			p->a[p->n++] = (struct patom){PAT_ANY, 0};
			continue;
		}
		if (tok == '\\') {
			int32_t nx = utf8_decode(pat + pos, len - pos, &w);
			if (nx == '}' || nx == '/')
				continue;
			pos += w;
			if (nx != '*' && nx != '?' && nx != '\\') {
				char enc[5] = {0};
				utf8_encode(enc, nx);
				pattern_release(p);
				return fail(
				    lx, BERTH_E_INVALID,
				    "invalid pattern (%.*s) in substitution: invalid escape '\\%s'",
				    (int)len, pat, enc);
			}
			tok = nx;
		}
		p->a[p->n++] = (struct patom){PAT_CHAR, tok};
	}
	return 0;
}

/* A Pike VM over the pattern: threads in priority order, so that it finds the match Go's
 * regexp (leftmost-first, Perl-like) finds, in O(text x pattern) time. */
struct pthread {
	size_t pc;
	size_t start;
};

struct matcher {
	const struct pattern *p;
	struct pthread *clist, *nlist;
	size_t nc, nn;
	uint32_t *mark; /* generation in which a pc was last added */
	uint32_t gen;
};

static void matcher_init(struct matcher *m, const struct pattern *p)
{
	m->p = p;
	m->clist = berth_xcalloc(p->n + 1, sizeof(*m->clist));
	m->nlist = berth_xcalloc(p->n + 1, sizeof(*m->nlist));
	m->mark = berth_xcalloc(p->n + 1, sizeof(*m->mark));
	m->nc = m->nn = 0;
	m->gen = 0;
}

static void matcher_release(struct matcher *m)
{
	free(m->clist);
	free(m->nlist);
	free(m->mark);
}

static void matcher_push(struct matcher *m, struct pthread *list, size_t *n, size_t pc,
			 size_t start)
{
	if (m->mark[pc] == m->gen)
		return;
	m->mark[pc] = m->gen;
	list[(*n)++] = (struct pthread){pc, start};
}

/* Add the thread at pc with the closure of a star (loop or leave, in preference order). */
static void matcher_add(struct matcher *m, struct pthread *list, size_t *n, size_t pc, size_t start)
{
	const struct pattern *p = m->p;
	if (pc < p->n && p->a[pc].kind == PAT_STAR && m->mark[pc] != m->gen) {
		if (p->greedy) {
			matcher_push(m, list, n, pc, start);
			matcher_push(m, list, n, pc + 1, start);
		} else {
			m->mark[pc] = m->gen; /* reserve: the loop goes after the exit */
			matcher_push(m, list, n, pc + 1, start);
			list[(*n)++] = (struct pthread){pc, start};
		}
		return;
	}
	matcher_push(m, list, n, pc, start);
}

/* Find the first match starting at or after `from` (exactly at `from` when anchored).
 * Returns 1 with the match in [*ms, *me), 0 when there is none, -1 over the work budget. */
static int matcher_search(struct lexer *lx, struct matcher *m, const char *s, size_t n, size_t from,
			  bool anchored, size_t *ms, size_t *me)
{
	const struct pattern *p = m->p;
	bool matched = false;
	size_t pos = from;
	m->nc = 0;
	m->gen++;
	for (;;) {
		if (!matched && (!anchored || pos == from))
			matcher_add(m, m->clist, &m->nc, 0, pos);
		if (m->nc == 0)
			break;
		size_t w;
		int32_t r = utf8_decode(s + pos, n - pos, &w);
		bool any = r != RUNE_EOF && r != '\n';
		m->nn = 0;
		m->gen++;
		for (size_t i = 0; i < m->nc; i++) {
			if (++lx->steps > SHLEX_MAX_MATCH_STEPS)
				return fail(lx, BERTH_E_LIMIT,
					    "pattern matching needs more than %u steps",
					    SHLEX_MAX_MATCH_STEPS);
			struct pthread t = m->clist[i];
			if (t.pc == p->n) {
				/* Threads after this one only have worse matches. */
				matched = true;
				*ms = t.start;
				*me = pos;
				break;
			}
			const struct patom *a = &p->a[t.pc];
			if ((a->kind == PAT_CHAR && r != RUNE_EOF && r == a->rune) ||
			    (a->kind == PAT_ANY && any))
				matcher_add(m, m->nlist, &m->nn, t.pc + 1, t.start);
			else if (a->kind == PAT_STAR && any)
				matcher_add(m, m->nlist, &m->nn, t.pc, t.start);
		}
		struct pthread *tmp = m->clist;
		m->clist = m->nlist;
		m->nlist = tmp;
		m->nc = m->nn;
		if (r == RUNE_EOF)
			break;
		pos += w;
	}
	return matched ? 1 : 0;
}

/* ${v#p} / ${v##p}: drop the shortest / longest prefix matching pat. */
static int trim_prefix(struct lexer *lx, const char *pat, size_t plen, const char *val, size_t vlen,
		       bool greedy, struct berth_buf *out)
{
	struct pattern p;
	if (pattern_compile(lx, pat, plen, greedy, &p) < 0)
		return -1;
	struct matcher m;
	matcher_init(&m, &p);
	size_t ms = 0, me = 0;
	int r = matcher_search(lx, &m, val, vlen, 0, true, &ms, &me);
	matcher_release(&m);
	pattern_release(&p);
	if (r < 0)
		return -1;
	if (r == 0)
		me = 0;
	return put(lx, out, val + me, vlen - me);
}

/* Code points of s (invalid bytes as U+FFFD, like Go's []rune(s)); *n is their count. */
static int32_t *runes_of(const char *s, size_t len, size_t *n)
{
	int32_t *rs = berth_xcalloc(len + 1, sizeof(*rs));
	size_t w;
	*n = 0;
	for (size_t i = 0; i < len; i += w)
		rs[(*n)++] = utf8_decode(s + i, len - i, &w);
	return rs;
}

static int put_reversed(struct lexer *lx, struct berth_buf *out, const char *s, size_t len)
{
	size_t n;
	_cleanup_free_ int32_t *rs = runes_of(s, len, &n);
	while (n--)
		if (put_rune(lx, out, rs[n]) < 0)
			return -1;
	return 0;
}

/* ${v%p} / ${v%%p}: as BuildKit, reverse the value and the pattern (an escape stays in front
 * of what it escapes) and trim a prefix, since a regexp cannot find the shortest suffix. */
static int trim_suffix(struct lexer *lx, const char *pat, size_t plen, const char *val, size_t vlen,
		       bool greedy, struct berth_buf *out)
{
	size_t n;
	_cleanup_free_ int32_t *pr = runes_of(pat, plen, &n);
	_cleanup_free_ int32_t *rev = berth_xcalloc(n + 1, sizeof(*rev));
	for (size_t i = 0; i < n;) {
		size_t o = n - 1 - i;
		if (pr[i] == '\\' && i != n - 1) {
			rev[o - 1] = '\\';
			rev[o] = pr[i + 1];
			i += 2;
		} else {
			rev[o] = pr[i];
			i++;
		}
	}
	_cleanup_buf_ struct berth_buf rpat = new_buf();
	_cleanup_buf_ struct berth_buf rval = new_buf();
	_cleanup_buf_ struct berth_buf trimmed = new_buf();
	for (size_t i = 0; i < n; i++)
		if (put_rune(lx, &rpat, rev[i]) < 0)
			return -1;
	if (put_reversed(lx, &rval, val, vlen) < 0 ||
	    trim_prefix(lx, rpat.data, rpat.len, rval.data, rval.len, greedy, &trimmed) < 0)
		return -1;
	return put_reversed(lx, out, trimmed.data, trimmed.len);
}

/* Go's Regexp.Expand for a pattern without groups: `$$` is `$`, `$0` / `${0}` the match,
 * any other `$name` / `${name}` nothing, and a `$` that starts no name stays. */
static int expand_template(struct lexer *lx, struct berth_buf *out, const char *t, size_t tlen,
			   const char *match, size_t mlen)
{
	size_t i = 0;
	while (i < tlen) {
		const char *d = memchr(t + i, '$', tlen - i);
		if (!d)
			return put(lx, out, t + i, tlen - i);
		if (put(lx, out, t + i, (size_t)(d - (t + i))) < 0)
			return -1;
		i = (size_t)(d - t) + 1;
		if (i < tlen && t[i] == '$') {
			if (put(lx, out, "$", 1) < 0)
				return -1;
			i++;
			continue;
		}
		size_t j = i, w;
		bool brace = j < tlen && t[j] == '{';
		if (brace)
			j++;
		size_t name = j;
		for (;; j += w) {
			int32_t r = utf8_decode(t + j, tlen - j, &w);
			if (r != '_' && !rune_is_letter_or_digit(r))
				break;
		}
		size_t nlen = j - name;
		if (nlen == 0 || (brace && (j >= tlen || t[j] != '}'))) {
			if (put(lx, out, "$", 1) < 0)
				return -1;
			continue;
		}
		if (brace)
			j++;
		long num = 0;
		for (size_t k = 0; k < nlen; k++) {
			char c = t[name + k];
			if (c < '0' || c > '9' || num >= 100000000) {
				num = -1;
				break;
			}
			num = num * 10 + (c - '0');
		}
		if (t[name] == '0' && nlen > 1)
			num = -1;
		if (num == 0 && put(lx, out, match, mlen) < 0)
			return -1;
		i = j;
	}
	return 0;
}

/* ${v/p/r} and ${v//p/r}: the pattern is greedy and unanchored; replacing all follows Go's
 * ReplaceAllString (an empty match next to the previous match is not replaced, and the
 * replacement is a template), replacing the first inserts the replacement as is. */
static int replace(struct lexer *lx, const char *pat, size_t plen, const char *rep, size_t rlen,
		   const char *val, size_t vlen, bool all, struct berth_buf *out)
{
	struct pattern p;
	if (pattern_compile(lx, pat, plen, true, &p) < 0)
		return -1;
	struct matcher m;
	matcher_init(&m, &p);
	int r = 0;
	size_t ms = 0, me = 0, last = 0, at = 0;
	if (!all) {
		r = matcher_search(lx, &m, val, vlen, 0, false, &ms, &me);
		if (r == 1)
			r = put(lx, out, val, ms) < 0 || put(lx, out, rep, rlen) < 0 ? -1 : 0;
		else if (r == 0)
			me = 0;
		last = me;
	}
	while (all && at <= vlen) {
		r = matcher_search(lx, &m, val, vlen, at, false, &ms, &me);
		if (r <= 0)
			break;
		r = put(lx, out, val + last, ms - last);
		if (r == 0 && (me > last || ms == 0))
			r = expand_template(lx, out, rep, rlen, val + ms, me - ms);
		if (r < 0)
			break;
		last = me;
		size_t w;
		utf8_decode(val + at, vlen - at, &w);
		if (at + w > me)
			at += w;
		else if (at + 1 > me)
			at++;
		else
			at = me;
	}
	matcher_release(&m);
	pattern_release(&p);
	if (r < 0)
		return -1;
	return put(lx, out, val + last, vlen - last);
}

/* ------------------------------------------------------------- words */

static int process_stop_on(struct lexer *lx, int32_t stop, bool raw_escapes, struct berth_buf *out,
			   struct words *w);

/* 'text': everything literal up to the next quote. */
static int single_quote(struct lexer *lx, struct berth_buf *out)
{
	bool raw = lx->cfg->raw_quotes;
	int32_t ch = next(lx);
	if (raw && put_rune(lx, out, ch) < 0)
		return -1;
	for (;;) {
		ch = next(lx);
		if (ch == RUNE_EOF)
			return fail(lx, BERTH_E_INVALID,
				    "unexpected end of statement while looking for matching "
				    "single-quote");
		if (ch == '\'')
			return raw ? put_rune(lx, out, ch) : 0;
		if (put_rune(lx, out, ch) < 0)
			return -1;
	}
}

static int dollar(struct lexer *lx, struct berth_buf *out);

/* "text": $ expands; the escape character escapes only `"`, `$` and itself and is kept
 * before anything else (in raw mode it is then written twice, as BuildKit does). */
static int double_quote(struct lexer *lx, struct berth_buf *out)
{
	bool raw = lx->cfg->raw_quotes;
	int32_t ch = next(lx);
	if (raw && put_rune(lx, out, ch) < 0)
		return -1;
	for (;;) {
		int32_t p = peek(lx);
		if (p == RUNE_EOF)
			return fail(lx, BERTH_E_INVALID,
				    "unexpected end of statement while looking for matching "
				    "double-quote");
		if (p == '"') {
			ch = next(lx);
			return raw ? put_rune(lx, out, ch) : 0;
		}
		if (p == '$') {
			if (dollar(lx, out) < 0)
				return -1;
			continue;
		}
		ch = next(lx);
		if (ch == lx->escape) {
			if (lx->raw_escapes && put_rune(lx, out, ch) < 0)
				return -1;
			p = peek(lx);
			if (p == RUNE_EOF)
				continue;
			if (p == '"' || p == '$' || p == lx->escape)
				ch = next(lx);
		}
		if (put_rune(lx, out, ch) < 0)
			return -1;
	}
}

/* A name: a run of digits, one special parameter, or letters, digits and `_`. */
static int process_name(struct lexer *lx, struct berth_buf *name)
{
	int32_t ch;
	while ((ch = peek(lx)) != RUNE_EOF) {
		if (name->len == 0 && rune_is_digit(ch)) {
			while ((ch = peek(lx)) != RUNE_EOF && rune_is_digit(ch))
				if (put_rune(lx, name, next(lx)) < 0)
					return -1;
			return 0;
		}
		if (name->len == 0 && rune_is_special_param(ch))
			return put_rune(lx, name, next(lx));
		if (ch != '_' && !rune_is_letter_or_digit(ch))
			break;
		if (put_rune(lx, name, next(lx)) < 0)
			return -1;
	}
	return 0;
}

/* `${name` + op + word + `}` as written, for skip_unset. */
static int put_unexpanded(struct lexer *lx, struct berth_buf *out, const struct berth_buf *name,
			  const char *op, const struct berth_buf *word)
{
	if (put_str(lx, out, "${") < 0 || put(lx, out, name->data, name->len) < 0 ||
	    put_str(lx, out, op) < 0 || (word && put(lx, out, word->data, word->len) < 0))
		return -1;
	return put_str(lx, out, "}");
}

/* ${name<op>word} for the operators - + ? # % (op holds them as written, `:` included). */
static int modifier(struct lexer *lx, const struct berth_buf *name, int32_t ch, const char *op,
		    bool null_is_unset, struct berth_buf *out)
{
	bool pattern = ch == '#' || ch == '%';
	if (null_is_unset && pattern)
		return fail(lx, BERTH_E_INVALID, "unsupported modifier (%s) in substitution", op);
	/* The word is processed (and its variables looked up) before the name is. */
	_cleanup_buf_ struct berth_buf word = new_buf();
	if (process_stop_on(lx, '}', pattern, &word, NULL) < 0) {
		if (peek(lx) == RUNE_EOF)
			return fail_missing(lx, "syntax error: missing '}'");
		return -1;
	}
	const char *val = lookup(lx, name);
	if (!val && lx->cfg->skip_unset)
		return put_unexpanded(lx, out, name, op, &word);
	bool empty = !val || (null_is_unset && !*val);
	switch (ch) {
	case '-':
		return empty ? put(lx, out, word.data, word.len) : put_str(lx, out, val);
	case '+':
		return empty ? 0 : put(lx, out, word.data, word.len);
	case '?':
		if (!empty)
			return put_str(lx, out, val);
		return fail(lx, BERTH_E_INVALID, "%s: %s", name->data,
			    word.len ? word.data
			    : val    ? "is not allowed to be empty"
				     : "is not allowed to be unset");
	case '#':
	case '%': {
		const char *pat = word.data;
		size_t plen = word.len;
		bool greedy = plen > 0 && pat[0] == (char)ch;
		if (greedy) {
			pat++;
			plen--;
		}
		if (!val)
			val = "";
		if (ch == '%')
			return trim_suffix(lx, pat, plen, val, strlen(val), greedy, out);
		return trim_prefix(lx, pat, plen, val, strlen(val), greedy, out);
	}
	}
	return fail(lx, BERTH_E_INVALID, "unsupported modifier (%s) in substitution", op);
}

/* ${name/pattern/replacement} and ${name//pattern/replacement}. */
static int substitute(struct lexer *lx, const struct berth_buf *name, struct berth_buf *out)
{
	bool all = peek(lx) == '/';
	if (all)
		next(lx);
	_cleanup_buf_ struct berth_buf pat = new_buf();
	_cleanup_buf_ struct berth_buf rep = new_buf();
	if (process_stop_on(lx, '/', true, &pat, NULL) < 0) {
		if (peek(lx) == RUNE_EOF)
			return fail_missing(lx, "syntax error: missing '/' in ${}");
		return -1;
	}
	if (process_stop_on(lx, '}', true, &rep, NULL) < 0) {
		if (peek(lx) == RUNE_EOF)
			return fail_missing(lx, "syntax error: missing '}'");
		return -1;
	}
	const char *val = lookup(lx, name);
	if (!val && lx->cfg->skip_unset) {
		/* As BuildKit: written back with one slash even for `//`. */
		if (put_str(lx, out, "${") < 0 || put(lx, out, name->data, name->len) < 0 ||
		    put_str(lx, out, "/") < 0 || put(lx, out, pat.data, pat.len) < 0 ||
		    put_str(lx, out, "/") < 0 || put(lx, out, rep.data, rep.len) < 0)
			return -1;
		return put_str(lx, out, "}");
	}
	if (!val)
		val = "";
	return replace(lx, pat.data, pat.len, rep.data, rep.len, val, strlen(val), all, out);
}

/* After `${`: the name and what follows it. */
static int braced(struct lexer *lx, struct berth_buf *name, struct berth_buf *out)
{
	int32_t ch = peek(lx);
	if (ch == RUNE_EOF)
		return fail(lx, BERTH_E_INVALID, "syntax error: missing '}'");
	if (ch == '{' || ch == '}' || ch == ':')
		return fail(lx, BERTH_E_INVALID, "syntax error: bad substitution");
	if (process_name(lx, name) < 0)
		return -1;
	ch = next(lx);
	/* BuildKit would say "unsupported modifier (\uFFFD)" here; the brace is what is missing. */
	if (ch == RUNE_EOF)
		return fail(lx, BERTH_E_INVALID, "syntax error: missing '}'");
	char op[9] = {0};
	size_t oplen = utf8_encode(op, ch);
	if (ch == '}') {
		const char *val = lookup(lx, name);
		if (!val && lx->cfg->skip_unset)
			return put_unexpanded(lx, out, name, "", NULL);
		return val ? put_str(lx, out, val) : 0;
	}
	if (ch == '/')
		return substitute(lx, name, out);
	bool null_is_unset = ch == ':';
	if (null_is_unset) {
		ch = next(lx);
		utf8_encode(op + oplen, ch);
	}
	if (null_is_unset || ch == '+' || ch == '-' || ch == '?' || ch == '#' || ch == '%')
		return modifier(lx, name, ch, op, null_is_unset, out);
	return fail(lx, BERTH_E_INVALID, "unsupported modifier (%s) in substitution", op);
}

/* At `$`: append its expansion to out. */
static int dollar(struct lexer *lx, struct berth_buf *out)
{
	_cleanup_buf_ struct berth_buf name = new_buf();
	next(lx);
	if (peek(lx) != '{') {
		if (process_name(lx, &name) < 0)
			return -1;
		if (name.len == 0)
			return put_str(lx, out, "$");
		const char *val = lookup(lx, &name);
		if (!val && lx->cfg->skip_unset)
			return put_str(lx, out, "$") < 0 ? -1 : put(lx, out, name.data, name.len);
		return val ? put_str(lx, out, val) : 0;
	}
	next(lx);
	if (lx->depth >= BERTH_DF_MAX_NESTING)
		return fail(lx, BERTH_E_LIMIT, "substitutions nested deeper than %d",
			    BERTH_DF_MAX_NESTING);
	lx->depth++;
	int r = braced(lx, &name, out);
	lx->depth--;
	return r;
}

/* Process the input up to the end or up to an unquoted, unescaped `stop` (consumed), with
 * escapes kept when raw_escapes. When w is non-NULL the result is also split into words. */
static int process_stop_on(struct lexer *lx, int32_t stop, bool raw_escapes, struct berth_buf *out,
			   struct words *w)
{
	bool saved = lx->raw_escapes;
	bool quotes = !lx->cfg->skip_quotes;
	int r = -1;
	lx->raw_escapes = raw_escapes;
	for (;;) {
		int32_t ch = peek(lx);
		if (ch == RUNE_EOF)
			break;
		if (stop != RUNE_EOF && ch == stop) {
			next(lx);
			r = 0;
			goto out;
		}
		if (ch == '$' || (quotes && (ch == '\'' || ch == '"'))) {
			_cleanup_buf_ struct berth_buf part = new_buf();
			int rc = ch == '$'    ? dollar(lx, &part)
				 : ch == '\'' ? single_quote(lx, &part)
					      : double_quote(lx, &part);
			if (rc < 0 || put(lx, out, part.data, part.len) < 0)
				goto out;
			rc = ch == '$' ? words_add_string(lx, w, &part)
				       : words_add_raw_string(lx, w, &part);
			if (rc < 0)
				goto out;
			continue;
		}
		ch = next(lx);
		if (ch == lx->escape) {
			if (lx->raw_escapes &&
			    (words_add_raw_char(lx, w, ch) < 0 || put_rune(lx, out, ch) < 0))
				goto out;
			ch = next(lx);
			if (ch == RUNE_EOF) /* a lone escape at the end is dropped */
				break;
			if (words_add_raw_char(lx, w, ch) < 0)
				goto out;
		} else if (words_add_char(lx, w, ch) < 0) {
			goto out;
		}
		if (put_rune(lx, out, ch) < 0)
			goto out;
	}
	if (stop != RUNE_EOF) {
		fail(lx, BERTH_E_INVALID,
		     "unexpected end of statement while looking for matching %c", (char)stop);
		goto out;
	}
	r = 0;
out:
	lx->raw_escapes = saved;
	return r;
}

/* ------------------------------------------------------------ public */

/* skip_processing: the word as written; words are split on whitespace only. */
static int copy_verbatim(struct lexer *lx, struct berth_buf *out, struct words *w)
{
	if (put(lx, out, lx->s, lx->len) < 0)
		return -1;
	while (w && lx->pos < lx->len)
		if (words_add_char(lx, w, next(lx)) < 0)
			return -1;
	return 0;
}

static int run(const struct berth_shlex *cfg, const char *word, struct berth_buf *out,
	       struct words *w, struct berth_err **err)
{
	struct lexer lx = {
	    .cfg = cfg,
	    .escape = cfg->escape ? (unsigned char)cfg->escape : '\\',
	    .s = word,
	    .len = strlen(word),
	    .raw_escapes = cfg->raw_escapes,
	    .matched.sv = cfg->matched,
	    .unmatched.sv = cfg->unmatched,
	};
	int r;
	if (cfg->skip_processing) {
		r = copy_verbatim(&lx, out, w);
	} else {
		if (peek(&lx) == RUNE_BOM) /* as Go's text/scanner */
			next(&lx);
		r = process_stop_on(&lx, RUNE_EOF, cfg->raw_escapes, out, w);
	}
	if (r == 0 && w)
		words_flush(w);
	if (r < 0)
		r = berth_err_set(err, lx.code, "%s", lx.msg);
	free(lx.msg);
	free(lx.matched.slot);
	free(lx.unmatched.slot);
	return r;
}

int berth_shlex_word(const struct berth_shlex *lx, const char *word, char **out,
		     struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf b = new_buf();
	*out = NULL;
	int r = run(lx, word, &b, NULL, err);
	if (r < 0)
		return r;
	*out = berth_buf_steal(&b, NULL);
	return 0;
}

int berth_shlex_words(const struct berth_shlex *lx, const char *word, struct berth_strv *out,
		      struct berth_err **err)
{
	_cleanup_buf_ struct berth_buf b = new_buf();
	struct words w = {.cur = new_buf(), .list = BERTH_STRV_INIT};
	int r = run(lx, word, &b, &w, err);
	if (r == 0)
		for (size_t i = 0; i < w.list.n; i++)
			berth_strv_push_owned(out, steal_pointer(&w.list.v[i]));
	berth_buf_release(&w.cur);
	berth_strv_release(&w.list);
	return r;
}

const char *berth_shlex_env_lookup(void *ctx, const char *name, size_t len)
{
	const struct berth_strv *env = ctx;
	if (!env)
		return NULL;
	/* An entry without '=' sets the name to "" (BuildKit's EnvsFromSlice). */
	for (size_t i = env->n; i-- > 0;) {
		const char *e = env->v[i];
		if (strncmp(e, name, len) == 0 && (e[len] == '=' || e[len] == '\0'))
			return e[len] ? e + len + 1 : e + len;
	}
	return NULL;
}

/* ------------------------------------------------------ Unicode tables */

/* Go's unicode.IsLetter || unicode.IsDigit (categories L* and Nd) and unicode.IsDigit above
 * ASCII, as ranges. Generated from Unicode 14.0 data plus the 15.0 additions, matching the
 * tables of the Go releases BuildKit is built with (1.21 and later). */
/* clang-format off */
static const uint32_t shlex_alnum_ranges[][2] = {
	{0xaa, 0xaa}, {0xb5, 0xb5}, {0xba, 0xba}, {0xc0, 0xd6}, {0xd8, 0xf6}, {0xf8, 0x2c1},
	{0x2c6, 0x2d1}, {0x2e0, 0x2e4}, {0x2ec, 0x2ec}, {0x2ee, 0x2ee}, {0x370, 0x374},
	{0x376, 0x377}, {0x37a, 0x37d}, {0x37f, 0x37f}, {0x386, 0x386}, {0x388, 0x38a},
	{0x38c, 0x38c}, {0x38e, 0x3a1}, {0x3a3, 0x3f5}, {0x3f7, 0x481}, {0x48a, 0x52f},
	{0x531, 0x556}, {0x559, 0x559}, {0x560, 0x588}, {0x5d0, 0x5ea}, {0x5ef, 0x5f2},
	{0x620, 0x64a}, {0x660, 0x669}, {0x66e, 0x66f}, {0x671, 0x6d3}, {0x6d5, 0x6d5},
	{0x6e5, 0x6e6}, {0x6ee, 0x6fc}, {0x6ff, 0x6ff}, {0x710, 0x710}, {0x712, 0x72f},
	{0x74d, 0x7a5}, {0x7b1, 0x7b1}, {0x7c0, 0x7ea}, {0x7f4, 0x7f5}, {0x7fa, 0x7fa},
	{0x800, 0x815}, {0x81a, 0x81a}, {0x824, 0x824}, {0x828, 0x828}, {0x840, 0x858},
	{0x860, 0x86a}, {0x870, 0x887}, {0x889, 0x88e}, {0x8a0, 0x8c9}, {0x904, 0x939},
	{0x93d, 0x93d}, {0x950, 0x950}, {0x958, 0x961}, {0x966, 0x96f}, {0x971, 0x980},
	{0x985, 0x98c}, {0x98f, 0x990}, {0x993, 0x9a8}, {0x9aa, 0x9b0}, {0x9b2, 0x9b2},
	{0x9b6, 0x9b9}, {0x9bd, 0x9bd}, {0x9ce, 0x9ce}, {0x9dc, 0x9dd}, {0x9df, 0x9e1},
	{0x9e6, 0x9f1}, {0x9fc, 0x9fc}, {0xa05, 0xa0a}, {0xa0f, 0xa10}, {0xa13, 0xa28},
	{0xa2a, 0xa30}, {0xa32, 0xa33}, {0xa35, 0xa36}, {0xa38, 0xa39}, {0xa59, 0xa5c},
	{0xa5e, 0xa5e}, {0xa66, 0xa6f}, {0xa72, 0xa74}, {0xa85, 0xa8d}, {0xa8f, 0xa91},
	{0xa93, 0xaa8}, {0xaaa, 0xab0}, {0xab2, 0xab3}, {0xab5, 0xab9}, {0xabd, 0xabd},
	{0xad0, 0xad0}, {0xae0, 0xae1}, {0xae6, 0xaef}, {0xaf9, 0xaf9}, {0xb05, 0xb0c},
	{0xb0f, 0xb10}, {0xb13, 0xb28}, {0xb2a, 0xb30}, {0xb32, 0xb33}, {0xb35, 0xb39},
	{0xb3d, 0xb3d}, {0xb5c, 0xb5d}, {0xb5f, 0xb61}, {0xb66, 0xb6f}, {0xb71, 0xb71},
	{0xb83, 0xb83}, {0xb85, 0xb8a}, {0xb8e, 0xb90}, {0xb92, 0xb95}, {0xb99, 0xb9a},
	{0xb9c, 0xb9c}, {0xb9e, 0xb9f}, {0xba3, 0xba4}, {0xba8, 0xbaa}, {0xbae, 0xbb9},
	{0xbd0, 0xbd0}, {0xbe6, 0xbef}, {0xc05, 0xc0c}, {0xc0e, 0xc10}, {0xc12, 0xc28},
	{0xc2a, 0xc39}, {0xc3d, 0xc3d}, {0xc58, 0xc5a}, {0xc5d, 0xc5d}, {0xc60, 0xc61},
	{0xc66, 0xc6f}, {0xc80, 0xc80}, {0xc85, 0xc8c}, {0xc8e, 0xc90}, {0xc92, 0xca8},
	{0xcaa, 0xcb3}, {0xcb5, 0xcb9}, {0xcbd, 0xcbd}, {0xcdd, 0xcde}, {0xce0, 0xce1},
	{0xce6, 0xcef}, {0xcf1, 0xcf2}, {0xd04, 0xd0c}, {0xd0e, 0xd10}, {0xd12, 0xd3a},
	{0xd3d, 0xd3d}, {0xd4e, 0xd4e}, {0xd54, 0xd56}, {0xd5f, 0xd61}, {0xd66, 0xd6f},
	{0xd7a, 0xd7f}, {0xd85, 0xd96}, {0xd9a, 0xdb1}, {0xdb3, 0xdbb}, {0xdbd, 0xdbd},
	{0xdc0, 0xdc6}, {0xde6, 0xdef}, {0xe01, 0xe30}, {0xe32, 0xe33}, {0xe40, 0xe46},
	{0xe50, 0xe59}, {0xe81, 0xe82}, {0xe84, 0xe84}, {0xe86, 0xe8a}, {0xe8c, 0xea3},
	{0xea5, 0xea5}, {0xea7, 0xeb0}, {0xeb2, 0xeb3}, {0xebd, 0xebd}, {0xec0, 0xec4},
	{0xec6, 0xec6}, {0xed0, 0xed9}, {0xedc, 0xedf}, {0xf00, 0xf00}, {0xf20, 0xf29},
	{0xf40, 0xf47}, {0xf49, 0xf6c}, {0xf88, 0xf8c}, {0x1000, 0x102a}, {0x103f, 0x1049},
	{0x1050, 0x1055}, {0x105a, 0x105d}, {0x1061, 0x1061}, {0x1065, 0x1066}, {0x106e, 0x1070},
	{0x1075, 0x1081}, {0x108e, 0x108e}, {0x1090, 0x1099}, {0x10a0, 0x10c5}, {0x10c7, 0x10c7},
	{0x10cd, 0x10cd}, {0x10d0, 0x10fa}, {0x10fc, 0x1248}, {0x124a, 0x124d}, {0x1250, 0x1256},
	{0x1258, 0x1258}, {0x125a, 0x125d}, {0x1260, 0x1288}, {0x128a, 0x128d}, {0x1290, 0x12b0},
	{0x12b2, 0x12b5}, {0x12b8, 0x12be}, {0x12c0, 0x12c0}, {0x12c2, 0x12c5}, {0x12c8, 0x12d6},
	{0x12d8, 0x1310}, {0x1312, 0x1315}, {0x1318, 0x135a}, {0x1380, 0x138f}, {0x13a0, 0x13f5},
	{0x13f8, 0x13fd}, {0x1401, 0x166c}, {0x166f, 0x167f}, {0x1681, 0x169a}, {0x16a0, 0x16ea},
	{0x16f1, 0x16f8}, {0x1700, 0x1711}, {0x171f, 0x1731}, {0x1740, 0x1751}, {0x1760, 0x176c},
	{0x176e, 0x1770}, {0x1780, 0x17b3}, {0x17d7, 0x17d7}, {0x17dc, 0x17dc}, {0x17e0, 0x17e9},
	{0x1810, 0x1819}, {0x1820, 0x1878}, {0x1880, 0x1884}, {0x1887, 0x18a8}, {0x18aa, 0x18aa},
	{0x18b0, 0x18f5}, {0x1900, 0x191e}, {0x1946, 0x196d}, {0x1970, 0x1974}, {0x1980, 0x19ab},
	{0x19b0, 0x19c9}, {0x19d0, 0x19d9}, {0x1a00, 0x1a16}, {0x1a20, 0x1a54}, {0x1a80, 0x1a89},
	{0x1a90, 0x1a99}, {0x1aa7, 0x1aa7}, {0x1b05, 0x1b33}, {0x1b45, 0x1b4c}, {0x1b50, 0x1b59},
	{0x1b83, 0x1ba0}, {0x1bae, 0x1be5}, {0x1c00, 0x1c23}, {0x1c40, 0x1c49}, {0x1c4d, 0x1c7d},
	{0x1c80, 0x1c88}, {0x1c90, 0x1cba}, {0x1cbd, 0x1cbf}, {0x1ce9, 0x1cec}, {0x1cee, 0x1cf3},
	{0x1cf5, 0x1cf6}, {0x1cfa, 0x1cfa}, {0x1d00, 0x1dbf}, {0x1e00, 0x1f15}, {0x1f18, 0x1f1d},
	{0x1f20, 0x1f45}, {0x1f48, 0x1f4d}, {0x1f50, 0x1f57}, {0x1f59, 0x1f59}, {0x1f5b, 0x1f5b},
	{0x1f5d, 0x1f5d}, {0x1f5f, 0x1f7d}, {0x1f80, 0x1fb4}, {0x1fb6, 0x1fbc}, {0x1fbe, 0x1fbe},
	{0x1fc2, 0x1fc4}, {0x1fc6, 0x1fcc}, {0x1fd0, 0x1fd3}, {0x1fd6, 0x1fdb}, {0x1fe0, 0x1fec},
	{0x1ff2, 0x1ff4}, {0x1ff6, 0x1ffc}, {0x2071, 0x2071}, {0x207f, 0x207f}, {0x2090, 0x209c},
	{0x2102, 0x2102}, {0x2107, 0x2107}, {0x210a, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211d},
	{0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212a, 0x212d}, {0x212f, 0x2139},
	{0x213c, 0x213f}, {0x2145, 0x2149}, {0x214e, 0x214e}, {0x2183, 0x2184}, {0x2c00, 0x2ce4},
	{0x2ceb, 0x2cee}, {0x2cf2, 0x2cf3}, {0x2d00, 0x2d25}, {0x2d27, 0x2d27}, {0x2d2d, 0x2d2d},
	{0x2d30, 0x2d67}, {0x2d6f, 0x2d6f}, {0x2d80, 0x2d96}, {0x2da0, 0x2da6}, {0x2da8, 0x2dae},
	{0x2db0, 0x2db6}, {0x2db8, 0x2dbe}, {0x2dc0, 0x2dc6}, {0x2dc8, 0x2dce}, {0x2dd0, 0x2dd6},
	{0x2dd8, 0x2dde}, {0x2e2f, 0x2e2f}, {0x3005, 0x3006}, {0x3031, 0x3035}, {0x303b, 0x303c},
	{0x3041, 0x3096}, {0x309d, 0x309f}, {0x30a1, 0x30fa}, {0x30fc, 0x30ff}, {0x3105, 0x312f},
	{0x3131, 0x318e}, {0x31a0, 0x31bf}, {0x31f0, 0x31ff}, {0x3400, 0x4dbf}, {0x4e00, 0xa48c},
	{0xa4d0, 0xa4fd}, {0xa500, 0xa60c}, {0xa610, 0xa62b}, {0xa640, 0xa66e}, {0xa67f, 0xa69d},
	{0xa6a0, 0xa6e5}, {0xa717, 0xa71f}, {0xa722, 0xa788}, {0xa78b, 0xa7ca}, {0xa7d0, 0xa7d1},
	{0xa7d3, 0xa7d3}, {0xa7d5, 0xa7d9}, {0xa7f2, 0xa801}, {0xa803, 0xa805}, {0xa807, 0xa80a},
	{0xa80c, 0xa822}, {0xa840, 0xa873}, {0xa882, 0xa8b3}, {0xa8d0, 0xa8d9}, {0xa8f2, 0xa8f7},
	{0xa8fb, 0xa8fb}, {0xa8fd, 0xa8fe}, {0xa900, 0xa925}, {0xa930, 0xa946}, {0xa960, 0xa97c},
	{0xa984, 0xa9b2}, {0xa9cf, 0xa9d9}, {0xa9e0, 0xa9e4}, {0xa9e6, 0xa9fe}, {0xaa00, 0xaa28},
	{0xaa40, 0xaa42}, {0xaa44, 0xaa4b}, {0xaa50, 0xaa59}, {0xaa60, 0xaa76}, {0xaa7a, 0xaa7a},
	{0xaa7e, 0xaaaf}, {0xaab1, 0xaab1}, {0xaab5, 0xaab6}, {0xaab9, 0xaabd}, {0xaac0, 0xaac0},
	{0xaac2, 0xaac2}, {0xaadb, 0xaadd}, {0xaae0, 0xaaea}, {0xaaf2, 0xaaf4}, {0xab01, 0xab06},
	{0xab09, 0xab0e}, {0xab11, 0xab16}, {0xab20, 0xab26}, {0xab28, 0xab2e}, {0xab30, 0xab5a},
	{0xab5c, 0xab69}, {0xab70, 0xabe2}, {0xabf0, 0xabf9}, {0xac00, 0xd7a3}, {0xd7b0, 0xd7c6},
	{0xd7cb, 0xd7fb}, {0xf900, 0xfa6d}, {0xfa70, 0xfad9}, {0xfb00, 0xfb06}, {0xfb13, 0xfb17},
	{0xfb1d, 0xfb1d}, {0xfb1f, 0xfb28}, {0xfb2a, 0xfb36}, {0xfb38, 0xfb3c}, {0xfb3e, 0xfb3e},
	{0xfb40, 0xfb41}, {0xfb43, 0xfb44}, {0xfb46, 0xfbb1}, {0xfbd3, 0xfd3d}, {0xfd50, 0xfd8f},
	{0xfd92, 0xfdc7}, {0xfdf0, 0xfdfb}, {0xfe70, 0xfe74}, {0xfe76, 0xfefc}, {0xff10, 0xff19},
	{0xff21, 0xff3a}, {0xff41, 0xff5a}, {0xff66, 0xffbe}, {0xffc2, 0xffc7}, {0xffca, 0xffcf},
	{0xffd2, 0xffd7}, {0xffda, 0xffdc}, {0x10000, 0x1000b}, {0x1000d, 0x10026},
	{0x10028, 0x1003a}, {0x1003c, 0x1003d}, {0x1003f, 0x1004d}, {0x10050, 0x1005d},
	{0x10080, 0x100fa}, {0x10280, 0x1029c}, {0x102a0, 0x102d0}, {0x10300, 0x1031f},
	{0x1032d, 0x10340}, {0x10342, 0x10349}, {0x10350, 0x10375}, {0x10380, 0x1039d},
	{0x103a0, 0x103c3}, {0x103c8, 0x103cf}, {0x10400, 0x1049d}, {0x104a0, 0x104a9},
	{0x104b0, 0x104d3}, {0x104d8, 0x104fb}, {0x10500, 0x10527}, {0x10530, 0x10563},
	{0x10570, 0x1057a}, {0x1057c, 0x1058a}, {0x1058c, 0x10592}, {0x10594, 0x10595},
	{0x10597, 0x105a1}, {0x105a3, 0x105b1}, {0x105b3, 0x105b9}, {0x105bb, 0x105bc},
	{0x10600, 0x10736}, {0x10740, 0x10755}, {0x10760, 0x10767}, {0x10780, 0x10785},
	{0x10787, 0x107b0}, {0x107b2, 0x107ba}, {0x10800, 0x10805}, {0x10808, 0x10808},
	{0x1080a, 0x10835}, {0x10837, 0x10838}, {0x1083c, 0x1083c}, {0x1083f, 0x10855},
	{0x10860, 0x10876}, {0x10880, 0x1089e}, {0x108e0, 0x108f2}, {0x108f4, 0x108f5},
	{0x10900, 0x10915}, {0x10920, 0x10939}, {0x10980, 0x109b7}, {0x109be, 0x109bf},
	{0x10a00, 0x10a00}, {0x10a10, 0x10a13}, {0x10a15, 0x10a17}, {0x10a19, 0x10a35},
	{0x10a60, 0x10a7c}, {0x10a80, 0x10a9c}, {0x10ac0, 0x10ac7}, {0x10ac9, 0x10ae4},
	{0x10b00, 0x10b35}, {0x10b40, 0x10b55}, {0x10b60, 0x10b72}, {0x10b80, 0x10b91},
	{0x10c00, 0x10c48}, {0x10c80, 0x10cb2}, {0x10cc0, 0x10cf2}, {0x10d00, 0x10d23},
	{0x10d30, 0x10d39}, {0x10e80, 0x10ea9}, {0x10eb0, 0x10eb1}, {0x10f00, 0x10f1c},
	{0x10f27, 0x10f27}, {0x10f30, 0x10f45}, {0x10f70, 0x10f81}, {0x10fb0, 0x10fc4},
	{0x10fe0, 0x10ff6}, {0x11003, 0x11037}, {0x11066, 0x1106f}, {0x11071, 0x11072},
	{0x11075, 0x11075}, {0x11083, 0x110af}, {0x110d0, 0x110e8}, {0x110f0, 0x110f9},
	{0x11103, 0x11126}, {0x11136, 0x1113f}, {0x11144, 0x11144}, {0x11147, 0x11147},
	{0x11150, 0x11172}, {0x11176, 0x11176}, {0x11183, 0x111b2}, {0x111c1, 0x111c4},
	{0x111d0, 0x111da}, {0x111dc, 0x111dc}, {0x11200, 0x11211}, {0x11213, 0x1122b},
	{0x1123f, 0x11240}, {0x11280, 0x11286}, {0x11288, 0x11288}, {0x1128a, 0x1128d},
	{0x1128f, 0x1129d}, {0x1129f, 0x112a8}, {0x112b0, 0x112de}, {0x112f0, 0x112f9},
	{0x11305, 0x1130c}, {0x1130f, 0x11310}, {0x11313, 0x11328}, {0x1132a, 0x11330},
	{0x11332, 0x11333}, {0x11335, 0x11339}, {0x1133d, 0x1133d}, {0x11350, 0x11350},
	{0x1135d, 0x11361}, {0x11400, 0x11434}, {0x11447, 0x1144a}, {0x11450, 0x11459},
	{0x1145f, 0x11461}, {0x11480, 0x114af}, {0x114c4, 0x114c5}, {0x114c7, 0x114c7},
	{0x114d0, 0x114d9}, {0x11580, 0x115ae}, {0x115d8, 0x115db}, {0x11600, 0x1162f},
	{0x11644, 0x11644}, {0x11650, 0x11659}, {0x11680, 0x116aa}, {0x116b8, 0x116b8},
	{0x116c0, 0x116c9}, {0x11700, 0x1171a}, {0x11730, 0x11739}, {0x11740, 0x11746},
	{0x11800, 0x1182b}, {0x118a0, 0x118e9}, {0x118ff, 0x11906}, {0x11909, 0x11909},
	{0x1190c, 0x11913}, {0x11915, 0x11916}, {0x11918, 0x1192f}, {0x1193f, 0x1193f},
	{0x11941, 0x11941}, {0x11950, 0x11959}, {0x119a0, 0x119a7}, {0x119aa, 0x119d0},
	{0x119e1, 0x119e1}, {0x119e3, 0x119e3}, {0x11a00, 0x11a00}, {0x11a0b, 0x11a32},
	{0x11a3a, 0x11a3a}, {0x11a50, 0x11a50}, {0x11a5c, 0x11a89}, {0x11a9d, 0x11a9d},
	{0x11ab0, 0x11af8}, {0x11c00, 0x11c08}, {0x11c0a, 0x11c2e}, {0x11c40, 0x11c40},
	{0x11c50, 0x11c59}, {0x11c72, 0x11c8f}, {0x11d00, 0x11d06}, {0x11d08, 0x11d09},
	{0x11d0b, 0x11d30}, {0x11d46, 0x11d46}, {0x11d50, 0x11d59}, {0x11d60, 0x11d65},
	{0x11d67, 0x11d68}, {0x11d6a, 0x11d89}, {0x11d98, 0x11d98}, {0x11da0, 0x11da9},
	{0x11ee0, 0x11ef2}, {0x11f02, 0x11f02}, {0x11f04, 0x11f10}, {0x11f12, 0x11f33},
	{0x11f50, 0x11f59}, {0x11fb0, 0x11fb0}, {0x12000, 0x12399}, {0x12480, 0x12543},
	{0x12f90, 0x12ff0}, {0x13000, 0x1342f}, {0x13441, 0x13446}, {0x14400, 0x14646},
	{0x16800, 0x16a38}, {0x16a40, 0x16a5e}, {0x16a60, 0x16a69}, {0x16a70, 0x16abe},
	{0x16ac0, 0x16ac9}, {0x16ad0, 0x16aed}, {0x16b00, 0x16b2f}, {0x16b40, 0x16b43},
	{0x16b50, 0x16b59}, {0x16b63, 0x16b77}, {0x16b7d, 0x16b8f}, {0x16e40, 0x16e7f},
	{0x16f00, 0x16f4a}, {0x16f50, 0x16f50}, {0x16f93, 0x16f9f}, {0x16fe0, 0x16fe1},
	{0x16fe3, 0x16fe3}, {0x17000, 0x187f7}, {0x18800, 0x18cd5}, {0x18d00, 0x18d08},
	{0x1aff0, 0x1aff3}, {0x1aff5, 0x1affb}, {0x1affd, 0x1affe}, {0x1b000, 0x1b122},
	{0x1b132, 0x1b132}, {0x1b150, 0x1b152}, {0x1b155, 0x1b155}, {0x1b164, 0x1b167},
	{0x1b170, 0x1b2fb}, {0x1bc00, 0x1bc6a}, {0x1bc70, 0x1bc7c}, {0x1bc80, 0x1bc88},
	{0x1bc90, 0x1bc99}, {0x1d400, 0x1d454}, {0x1d456, 0x1d49c}, {0x1d49e, 0x1d49f},
	{0x1d4a2, 0x1d4a2}, {0x1d4a5, 0x1d4a6}, {0x1d4a9, 0x1d4ac}, {0x1d4ae, 0x1d4b9},
	{0x1d4bb, 0x1d4bb}, {0x1d4bd, 0x1d4c3}, {0x1d4c5, 0x1d505}, {0x1d507, 0x1d50a},
	{0x1d50d, 0x1d514}, {0x1d516, 0x1d51c}, {0x1d51e, 0x1d539}, {0x1d53b, 0x1d53e},
	{0x1d540, 0x1d544}, {0x1d546, 0x1d546}, {0x1d54a, 0x1d550}, {0x1d552, 0x1d6a5},
	{0x1d6a8, 0x1d6c0}, {0x1d6c2, 0x1d6da}, {0x1d6dc, 0x1d6fa}, {0x1d6fc, 0x1d714},
	{0x1d716, 0x1d734}, {0x1d736, 0x1d74e}, {0x1d750, 0x1d76e}, {0x1d770, 0x1d788},
	{0x1d78a, 0x1d7a8}, {0x1d7aa, 0x1d7c2}, {0x1d7c4, 0x1d7cb}, {0x1d7ce, 0x1d7ff},
	{0x1df00, 0x1df1e}, {0x1df25, 0x1df2a}, {0x1e030, 0x1e06d}, {0x1e100, 0x1e12c},
	{0x1e137, 0x1e13d}, {0x1e140, 0x1e149}, {0x1e14e, 0x1e14e}, {0x1e290, 0x1e2ad},
	{0x1e2c0, 0x1e2eb}, {0x1e2f0, 0x1e2f9}, {0x1e4d0, 0x1e4eb}, {0x1e4f0, 0x1e4f9},
	{0x1e7e0, 0x1e7e6}, {0x1e7e8, 0x1e7eb}, {0x1e7ed, 0x1e7ee}, {0x1e7f0, 0x1e7fe},
	{0x1e800, 0x1e8c4}, {0x1e900, 0x1e943}, {0x1e94b, 0x1e94b}, {0x1e950, 0x1e959},
	{0x1ee00, 0x1ee03}, {0x1ee05, 0x1ee1f}, {0x1ee21, 0x1ee22}, {0x1ee24, 0x1ee24},
	{0x1ee27, 0x1ee27}, {0x1ee29, 0x1ee32}, {0x1ee34, 0x1ee37}, {0x1ee39, 0x1ee39},
	{0x1ee3b, 0x1ee3b}, {0x1ee42, 0x1ee42}, {0x1ee47, 0x1ee47}, {0x1ee49, 0x1ee49},
	{0x1ee4b, 0x1ee4b}, {0x1ee4d, 0x1ee4f}, {0x1ee51, 0x1ee52}, {0x1ee54, 0x1ee54},
	{0x1ee57, 0x1ee57}, {0x1ee59, 0x1ee59}, {0x1ee5b, 0x1ee5b}, {0x1ee5d, 0x1ee5d},
	{0x1ee5f, 0x1ee5f}, {0x1ee61, 0x1ee62}, {0x1ee64, 0x1ee64}, {0x1ee67, 0x1ee6a},
	{0x1ee6c, 0x1ee72}, {0x1ee74, 0x1ee77}, {0x1ee79, 0x1ee7c}, {0x1ee7e, 0x1ee7e},
	{0x1ee80, 0x1ee89}, {0x1ee8b, 0x1ee9b}, {0x1eea1, 0x1eea3}, {0x1eea5, 0x1eea9},
	{0x1eeab, 0x1eebb}, {0x1fbf0, 0x1fbf9}, {0x20000, 0x2a6df}, {0x2a700, 0x2b738},
	{0x2b740, 0x2b81d}, {0x2b820, 0x2cea1}, {0x2ceb0, 0x2ebe0}, {0x2f800, 0x2fa1d},
	{0x30000, 0x3134a}, {0x31350, 0x323af},
};

static const uint32_t shlex_digit_ranges[][2] = {
	{0x660, 0x669}, {0x6f0, 0x6f9}, {0x7c0, 0x7c9}, {0x966, 0x96f}, {0x9e6, 0x9ef},
	{0xa66, 0xa6f}, {0xae6, 0xaef}, {0xb66, 0xb6f}, {0xbe6, 0xbef}, {0xc66, 0xc6f},
	{0xce6, 0xcef}, {0xd66, 0xd6f}, {0xde6, 0xdef}, {0xe50, 0xe59}, {0xed0, 0xed9},
	{0xf20, 0xf29}, {0x1040, 0x1049}, {0x1090, 0x1099}, {0x17e0, 0x17e9}, {0x1810, 0x1819},
	{0x1946, 0x194f}, {0x19d0, 0x19d9}, {0x1a80, 0x1a89}, {0x1a90, 0x1a99}, {0x1b50, 0x1b59},
	{0x1bb0, 0x1bb9}, {0x1c40, 0x1c49}, {0x1c50, 0x1c59}, {0xa620, 0xa629}, {0xa8d0, 0xa8d9},
	{0xa900, 0xa909}, {0xa9d0, 0xa9d9}, {0xa9f0, 0xa9f9}, {0xaa50, 0xaa59}, {0xabf0, 0xabf9},
	{0xff10, 0xff19}, {0x104a0, 0x104a9}, {0x10d30, 0x10d39}, {0x11066, 0x1106f},
	{0x110f0, 0x110f9}, {0x11136, 0x1113f}, {0x111d0, 0x111d9}, {0x112f0, 0x112f9},
	{0x11450, 0x11459}, {0x114d0, 0x114d9}, {0x11650, 0x11659}, {0x116c0, 0x116c9},
	{0x11730, 0x11739}, {0x118e0, 0x118e9}, {0x11950, 0x11959}, {0x11c50, 0x11c59},
	{0x11d50, 0x11d59}, {0x11da0, 0x11da9}, {0x11f50, 0x11f59}, {0x16a60, 0x16a69},
	{0x16ac0, 0x16ac9}, {0x16b50, 0x16b59}, {0x1d7ce, 0x1d7ff}, {0x1e140, 0x1e149},
	{0x1e2f0, 0x1e2f9}, {0x1e4f0, 0x1e4f9}, {0x1e950, 0x1e959}, {0x1fbf0, 0x1fbf9},
};
/* clang-format on */

static bool in_ranges(const uint32_t (*ranges)[2], size_t n, int32_t r)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uint32_t)r < ranges[mid][0])
			hi = mid;
		else if ((uint32_t)r > ranges[mid][1])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static bool rune_is_digit(int32_t r)
{
	if (r < 0x80)
		return r >= '0' && r <= '9';
	return in_ranges(shlex_digit_ranges, BERTH_ARRAY_SIZE(shlex_digit_ranges), r);
}

static bool rune_is_letter_or_digit(int32_t r)
{
	if (r < 0)
		return false;
	if (r < 0x80)
		return (r >= '0' && r <= '9') || ((r | 0x20) >= 'a' && (r | 0x20) <= 'z');
	return in_ranges(shlex_alnum_ranges, BERTH_ARRAY_SIZE(shlex_alnum_ranges), r);
}
