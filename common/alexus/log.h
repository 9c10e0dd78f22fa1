/* log.h - structured JSON log lines on stderr.
 *
 * One line per event: {"ts":"RFC3339","level":"info","svc":"ingest",
 * "msg":"...","trace":"...","tenant":"..."}.  trace and tenant are left
 * out when NULL.  The level is checked before the message is formatted;
 * the message is truncated at 4 KiB.
 * Thread-safe: each line is written with a single write(2). */
#ifndef AX_LOG_H
#define AX_LOG_H

enum ax_log_level { AX_LOG_DEBUG, AX_LOG_INFO, AX_LOG_WARN, AX_LOG_ERROR };

extern enum ax_log_level ax_log_min;

/* Set the service name carried by every line and the minimum level
 * ("debug", "info", "warn", "error"; unknown means info). */
void ax_log_init(const char *service, const char *level);

void ax_log_write(enum ax_log_level lvl, const char *trace, const char *tenant,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define ax_log(lvl, trace, tenant, ...)                                  \
	do {                                                             \
		if ((lvl) >= ax_log_min)                                 \
			ax_log_write((lvl), (trace), (tenant), __VA_ARGS__); \
	} while (0)

#define ax_info(...) ax_log(AX_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define ax_warn(...) ax_log(AX_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define ax_error(...) ax_log(AX_LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define ax_debug(...) ax_log(AX_LOG_DEBUG, NULL, NULL, __VA_ARGS__)

#endif /* AX_LOG_H */
