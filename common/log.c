/* log.c - structured JSON log lines on stderr (see log.h).
 *
 * Each line is built in memory (cJSON does the string escaping, so a
 * message or tenant containing quotes, newlines or control bytes cannot
 * break the one-object-per-line framing) and handed to the kernel in one
 * write(2), so lines from several threads never interleave on a pipe (up to
 * PIPE_BUF) or an O_APPEND file; no lock is needed.  A short write (full
 * pipe, signal) is continued, which is the only case where a line takes
 * more than one call.  The formatted message is capped at 4 KiB.  The
 * service name is set once at start-up, before threads exist. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alexus/log.h"

enum ax_log_level ax_log_min = AX_LOG_INFO;
static char log_svc[64] = "alexus";

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void ax_log_init(const char *service, const char *level)
{
	size_t i;

	if (service != NULL)
		snprintf(log_svc, sizeof(log_svc), "%s", service);
	ax_log_min = AX_LOG_INFO;
	if (level == NULL)
		return;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(level, level_names[i]) == 0)
			ax_log_min = (enum ax_log_level)i;
	}
	if (strcasecmp(level, "warning") == 0)
		ax_log_min = AX_LOG_WARN;
}

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void ax_log_write(enum ax_log_level lvl, const char *trace, const char *tenant,
		  const char *fmt, ...)
{
	char msg[4096], ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	cJSON *o;
	char *line;
	size_t n;

	if ((unsigned)lvl > AX_LOG_ERROR)
		lvl = AX_LOG_ERROR;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	{
		size_t k = strftime(ts, sizeof(ts) - 6, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + k, sizeof(ts) - k, ".%03uZ",
			 (unsigned)(now.tv_nsec / 1000000L) % 1000u);
	}

	o = cJSON_CreateObject();
	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "ts", ts);
	cJSON_AddStringToObject(o, "level", level_names[lvl]);
	cJSON_AddStringToObject(o, "svc", log_svc);
	cJSON_AddStringToObject(o, "msg", msg);
	if (trace != NULL)
		cJSON_AddStringToObject(o, "trace", trace);
	if (tenant != NULL)
		cJSON_AddStringToObject(o, "tenant", tenant);
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (line == NULL)
		return;
	n = strlen(line);
	/* The buffer cJSON returned has room only for the NUL; grow by one
	 * for the newline so the line still goes out in one write. */
	{
		char *l2 = realloc(line, n + 2);
		if (l2 == NULL) {
			free(line);
			return;
		}
		line = l2;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	write_all(line, n + 1);
	free(line);
}
