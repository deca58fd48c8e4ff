/* Allocation wrappers that abort on out-of-memory. */
#include "common/common.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void berth_oom(void)
{
	static const char msg[] = "berth: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void berth__bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "berth: BUG at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void *berth_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		berth_oom();
	return p;
}

void *berth_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		berth_oom();
	return p;
}

void *berth_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		berth_oom();
	return q;
}

void *berth_xgrow(void *p, size_t size, size_t want, size_t *cap)
{
	if (want <= *cap)
		return p;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2)
			berth_oom();
		ncap *= 2;
	}
	if (size && ncap > SIZE_MAX / size)
		berth_oom();
	p = berth_xrealloc(p, ncap * size);
	*cap = ncap;
	return p;
}

char *berth_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		berth_oom();
	return p;
}

char *berth_xstrndup(const char *s, size_t n)
{
	char *p = berth_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *berth_xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		berth_oom();
	return s;
}

char *berth_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = berth_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}
