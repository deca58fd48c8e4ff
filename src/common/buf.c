/* Growable, capped, NUL-terminated buffers and string-view helpers. */
#include "common/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static char berth__buf_empty[1];

void berth_buf_init(struct berth_buf *b, size_t max)
{
	b->data = berth__buf_empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->full = false;
}

void berth_buf_release(struct berth_buf *b)
{
	if (b->cap)
		free(b->data);
	berth_buf_init(b, b->max);
}

void berth_buf_reset(struct berth_buf *b)
{
	b->len = 0;
	b->full = false;
	if (b->cap)
		b->data[0] = '\0';
}

char *berth_buf_steal(struct berth_buf *b, size_t *len)
{
	char *p = b->cap ? b->data : berth_xstrdup("");
	if (len)
		*len = b->len;
	berth_buf_init(b, b->max);
	return p;
}

static int buf_reserve(struct berth_buf *b, size_t n)
{
	if (n > b->max || b->len > b->max - n) {
		b->full = true;
		return -1;
	}
	size_t want = b->len + n + 1;
	if (want > b->cap) {
		char *old = b->cap ? b->data : NULL;
		size_t cap = b->cap;
		b->data = berth_xgrow(old, 1, want, &cap);
		if (!old)
			b->data[0] = '\0';
		b->cap = cap;
	}
	return 0;
}

int berth_buf_add(struct berth_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int berth_buf_addstr(struct berth_buf *b, const char *s)
{
	return berth_buf_add(b, s, strlen(s));
}

int berth_buf_addch(struct berth_buf *b, char c)
{
	return berth_buf_add(b, &c, 1);
}

int berth_buf_addf(struct berth_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

bool berth_sv_eq_icase(struct berth_sv a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && strncasecmp(a.p, s, n) == 0;
}

bool berth_sv_has_prefix(struct berth_sv a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.len >= n && memcmp(a.p, prefix, n) == 0;
}
