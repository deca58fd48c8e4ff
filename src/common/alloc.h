/* Memory: allocation that aborts on out-of-memory (one of the two allowed
 * deaths, STYLE.md), BUG() for broken invariants, and small helpers. */
#ifndef BERTH_COMMON_ALLOC_H
#define BERTH_COMMON_ALLOC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define BERTH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

__attribute__((noreturn)) void berth_oom(void);
__attribute__((noreturn, format(printf, 3, 4))) void berth__bug(const char *file, int line,
								const char *fmt, ...);
/* A broken invariant: prints where and aborts. Never for bad input. */
#define BUG(...) berth__bug(__FILE__, __LINE__, __VA_ARGS__)
#define BUG_ON(cond)                                         \
	do {                                                 \
		if (__builtin_expect(!!(cond), 0))           \
			BUG("assertion '%s' failed", #cond); \
	} while (0)

void *berth_xmalloc(size_t n);
void *berth_xcalloc(size_t nmemb, size_t size);
void *berth_xrealloc(void *p, size_t n);
/* Grow an array of nmemb elements of `size` bytes to hold at least `want`;
 * updates *cap. Overflow is treated as out-of-memory. */
void *berth_xgrow(void *p, size_t size, size_t want, size_t *cap);
char *berth_xstrdup(const char *s);
char *berth_xstrndup(const char *s, size_t n);
char *berth_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *berth_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Take ownership out of a cleanup-managed local: returns *pp and sets it NULL. */
#define steal_pointer(pp)                             \
	({                                            \
		__typeof__(*(pp)) steal__tmp = *(pp); \
		*(pp) = NULL;                         \
		steal__tmp;                           \
	})

#endif
