/* Logging for long-running parts (server, builds): leveled lines to a sink
 * that main installs. Library code logs; only main decides where it goes. */
#ifndef BERTH_COMMON_LOG_H
#define BERTH_COMMON_LOG_H

enum berth_log_level { BERTH_LOG_DEBUG, BERTH_LOG_INFO, BERTH_LOG_WARN, BERTH_LOG_ERROR };

typedef void (*berth_log_sink_fn)(void *ctx, enum berth_log_level level, const char *msg);

/* Install the sink (NULL: discard) and the minimum level. Not thread-safe:
 * call before starting threads. */
void berth_log_set_sink(berth_log_sink_fn sink, void *ctx, enum berth_log_level min);
/* A ready-made sink: "berth: warning: msg" lines on stderr. */
void berth_log_stderr_sink(void *ctx, enum berth_log_level level, const char *msg);

void berth_log(enum berth_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define berth_log_debug(...) berth_log(BERTH_LOG_DEBUG, __VA_ARGS__)
#define berth_log_info(...)  berth_log(BERTH_LOG_INFO, __VA_ARGS__)
#define berth_log_warn(...)  berth_log(BERTH_LOG_WARN, __VA_ARGS__)
#define berth_log_error(...) berth_log(BERTH_LOG_ERROR, __VA_ARGS__)

#endif
