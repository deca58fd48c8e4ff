/* Growable byte buffers (git's strbuf with curl's size cap) and string views.
 *
 * A berth_buf is always NUL-terminated yet binary-safe, and never grows past
 * `max` bytes of content: an append that would exceed it appends nothing,
 * returns -1 and marks the buffer `full`, so a parser of untrusted input can
 * append freely and check once. Out-of-memory aborts. */
#ifndef BERTH_COMMON_BUF_H
#define BERTH_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct berth_buf {
	char *data; /* NUL-terminated; never NULL after init */
	size_t len;
	size_t cap; /* allocated bytes, including the NUL */
	size_t max; /* cap on len */
	bool full;  /* an append was refused for exceeding max */
};

#define BERTH_BUF_UNLIMITED ((size_t)-1 / 2)

/* Make an empty buffer holding at most `max` bytes. Release with
 * berth_buf_release(). */
void berth_buf_init(struct berth_buf *b, size_t max);
void berth_buf_release(struct berth_buf *b);
void berth_buf_reset(struct berth_buf *b);
/* Hand the contents to the caller (free() them); the buffer is left empty. */
char *berth_buf_steal(struct berth_buf *b, size_t *len);

int berth_buf_add(struct berth_buf *b, const void *p, size_t n);
int berth_buf_addstr(struct berth_buf *b, const char *s);
int berth_buf_addch(struct berth_buf *b, char c);
int berth_buf_addf(struct berth_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void berth__buf_releasep(struct berth_buf *b)
{
	berth_buf_release(b);
}
#define _cleanup_buf_ __attribute__((cleanup(berth__buf_releasep)))

/* A borrowed {pointer, length} view; valid as long as what it points into. */
struct berth_sv {
	const char *p;
	size_t len;
};

#define BERTH_SV(s) ((struct berth_sv){(s), strlen(s)})

static inline bool berth_sv_eq(struct berth_sv a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && memcmp(a.p, s, n) == 0;
}
bool berth_sv_eq_icase(struct berth_sv a, const char *s);
bool berth_sv_has_prefix(struct berth_sv a, const char *prefix);

#endif
