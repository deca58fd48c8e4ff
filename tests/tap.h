/* A tiny TAP producer for berth's C tests: each check prints "ok N - name"
 * or "not ok N - name" plus both sides on failure; tap_done() prints the plan
 * and returns the exit status. */
#ifndef BERTH_TESTS_TAP_H
#define BERTH_TESTS_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap__n, tap__failed;

__attribute__((format(printf, 2, 3))) static inline bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;
	printf("%s %d - ", cond ? "ok" : "not ok", ++tap__n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap__failed++;
	fflush(stdout);
	return cond;
}

static inline void tap_diag(const char *label, const char *s)
{
	printf("#   %s: ", label);
	if (!s) {
		puts("(null)");
		return;
	}
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", stdout);
		else if (*s == '\t')
			fputs("\\t", stdout);
		else
			putchar(*s);
	}
	puts("'");
}

#define tap_is_str(got, want, ...)                                             \
	do {                                                                   \
		const char *g__ = (got), *w__ = (want);                        \
		bool eq__ = (g__ && w__) ? strcmp(g__, w__) == 0 : g__ == w__; \
		if (!tap_ok(eq__, __VA_ARGS__)) {                              \
			tap_diag("got ", g__);                                 \
			tap_diag("want", w__);                                 \
		}                                                              \
	} while (0)

#define tap_is_int(got, want, ...)                                          \
	do {                                                                \
		long long g__ = (long long)(got), w__ = (long long)(want);  \
		if (!tap_ok(g__ == w__, __VA_ARGS__))                       \
			printf("#   got  %lld\n#   want %lld\n", g__, w__); \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap__n);
	return tap__failed ? 1 : 0;
}

#endif
