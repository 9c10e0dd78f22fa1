/* mem.c - allocation wrappers that abort on out-of-memory (see mem.h).
 *
 * On failure one fixed message goes to stderr with write(2) (no
 * allocation, no stdio) and the process aborts so the supervisor restarts
 * it.  Zero-size requests are rounded up to one byte so that a NULL return
 * always means failure. */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alexus/mem.h"

static void oom(void)
{
	static const char msg[] = "{\"level\":\"error\",\"msg\":\"out of memory\"}\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)r;
	abort();
}

void *ax_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *ax_xcalloc(size_t nmemb, size_t n)
{
	void *p;

	if (nmemb == 0 || n == 0)
		nmemb = n = 1;
	p = calloc(nmemb, n);   /* calloc checks nmemb * n for overflow */
	if (p == NULL)
		oom();
	return p;
}

void *ax_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom();
	return q;
}

char *ax_xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		oom();
	return d;
}

char *ax_xstrndup(const char *s, size_t n)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strndup(s, n);
	if (d == NULL)
		oom();
	return d;
}

char *ax_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}
