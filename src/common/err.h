/* Errors: one heap object per failure, created exactly once at the failure
 * site and given context by each layer on the way up.
 *
 * Contract (STYLE.md): a function that can fail takes `struct berth_err **err`
 * last, returns 0 (or a pointer) on success and a negative code (or NULL) on
 * failure, and sets *err exactly once. `err` may be NULL when the caller does
 * not want the details. The caller owns *err and frees it with
 * berth_err_free(). */
#ifndef BERTH_COMMON_ERR_H
#define BERTH_COMMON_ERR_H

#include <stdarg.h>

/* Error kinds. The server maps them to HTTP statuses in one table; the CLI to
 * exit codes. Keep berth_err_code_name() in sync. */
enum berth_err_code {
	BERTH_OK = 0,
	BERTH_E_INVALID = 1, /* bad input: syntax, flags, arguments */
	BERTH_E_NOT_FOUND = 2,
	BERTH_E_EXISTS = 3,
	BERTH_E_LIMIT = 4, /* input over a named limit */
	BERTH_E_SYS = 5,   /* a system call failed; sys_errno says why */
	BERTH_E_AUTH = 6,
	BERTH_E_UNSUPPORTED = 7,
	BERTH_E_INTERNAL = 8,
	BERTH_E_TIMEOUT = 9,      /* waited as long as asked; the thing is still going */
	BERTH_E_UNAVAILABLE = 10, /* cannot serve now; trying later may work */
};

struct berth_err {
	enum berth_err_code code;
	int sys_errno; /* errno captured at the failure site, or 0 */
	int line;      /* 1-based source line (Dockerfile, YAML) or 0 */
	char *msg;     /* lower-case, no full stop; owned */
};

/* Create the error. Returns -code so call sites can `return berth_err_set(...)`.
 * If *err is already set (a bug in the caller), the first error is kept. */
int berth_err_set(struct berth_err **err, enum berth_err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int berth_err_setv(struct berth_err **err, enum berth_err_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like berth_err_set() with a source line number attached. */
int berth_err_set_line(struct berth_err **err, enum berth_err_code code, int line, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));

/* A system call failed with `errnum`: message is "<fmt>: <strerror>". */
int berth_err_sys(struct berth_err **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add context in front: "<fmt>: <old message>". No-op when err or *err is
 * NULL. Returns the (negative) code of the existing error, or -BERTH_E_INTERNAL. */
int berth_err_prefix(struct berth_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void berth_err_free(struct berth_err *e);

/* Stable lower-case name of a code ("invalid", "not_found", ...). */
const char *berth_err_code_name(enum berth_err_code code);

#endif
