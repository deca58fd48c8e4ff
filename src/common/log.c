/* Leveled logging: library code formats a line and hands it to the sink that
 * main installed; with no sink (the default) lines are discarded. */
#include "common/common.h"

#include <stdarg.h>
#include <stdio.h>

static berth_log_sink_fn log_sink;
static void *log_ctx;
static enum berth_log_level log_min = BERTH_LOG_INFO;

void berth_log_set_sink(berth_log_sink_fn sink, void *ctx, enum berth_log_level min)
{
	log_sink = sink;
	log_ctx = ctx;
	log_min = min;
}

void berth_log_stderr_sink(void *ctx, enum berth_log_level level, const char *msg)
{
	static const char *const prefix[] = {
	    [BERTH_LOG_DEBUG] = "debug: ",
	    [BERTH_LOG_INFO] = "",
	    [BERTH_LOG_WARN] = "warning: ",
	    [BERTH_LOG_ERROR] = "error: ",
	};
	const char *pre = (unsigned)level < BERTH_ARRAY_SIZE(prefix) ? prefix[level] : "";
	/* One call per line so that lines from threads do not interleave. */
	fprintf(stderr, "berth: %s%s\n", pre, msg);
}

void berth_log(enum berth_log_level level, const char *fmt, ...)
{
	if (!log_sink || level < log_min)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = berth_xvasprintf(fmt, ap);
	va_end(ap);
	log_sink(log_ctx, level, msg);
	free(msg);
}
