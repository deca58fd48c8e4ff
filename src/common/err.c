/* Error objects: creation at the failure site, context on the way up. */
#include "common/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int berth_err_setv(struct berth_err **err, enum berth_err_code code, const char *fmt, va_list ap)
{
	if (code == BERTH_OK)
		code = BERTH_E_INTERNAL;
	if (!err || *err)
		return -(int)code;
	struct berth_err *e = berth_xcalloc(1, sizeof(*e));
	e->code = code;
	e->msg = berth_xvasprintf(fmt, ap);
	*err = e;
	return -(int)code;
}

int berth_err_set(struct berth_err **err, enum berth_err_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = berth_err_setv(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int berth_err_set_line(struct berth_err **err, enum berth_err_code code, int line, const char *fmt,
		       ...)
{
	bool fresh = err && !*err;
	va_list ap;
	va_start(ap, fmt);
	int r = berth_err_setv(err, code, fmt, ap);
	va_end(ap);
	if (fresh)
		(*err)->line = line;
	return r;
}

int berth_err_sys(struct berth_err **err, int errnum, const char *fmt, ...)
{
	if (!err || *err)
		return -BERTH_E_SYS;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *head = berth_xvasprintf(fmt, ap);
	va_end(ap);
	int r = berth_err_set(err, BERTH_E_SYS, "%s: %s", head, strerror(errnum));
	(*err)->sys_errno = errnum;
	return r;
}

int berth_err_prefix(struct berth_err **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -BERTH_E_INTERNAL;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *head = berth_xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = berth_xasprintf("%s: %s", head, (*err)->msg);
	free((*err)->msg);
	(*err)->msg = msg;
	return -(int)(*err)->code;
}

void berth_err_free(struct berth_err *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}

const char *berth_err_code_name(enum berth_err_code code)
{
	static const char *const names[] = {
	    [BERTH_OK] = "ok",
	    [BERTH_E_INVALID] = "invalid",
	    [BERTH_E_NOT_FOUND] = "not_found",
	    [BERTH_E_EXISTS] = "exists",
	    [BERTH_E_LIMIT] = "limit",
	    [BERTH_E_SYS] = "system",
	    [BERTH_E_AUTH] = "auth",
	    [BERTH_E_UNSUPPORTED] = "unsupported",
	    [BERTH_E_INTERNAL] = "internal",
	    [BERTH_E_TIMEOUT] = "timeout",
	    [BERTH_E_UNAVAILABLE] = "unavailable",
	};
	if ((unsigned)code >= sizeof(names) / sizeof(names[0]) || !names[code])
		return "internal";
	return names[code];
}
