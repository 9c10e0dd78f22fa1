/* failpoint.c - named crash points (see failpoint.h).
 *
 * The list is read once; SIGKILL, not abort(), so nothing runs on the way
 * out: no atexit handler, no buffered write, no sanitizer report -- the
 * same as the kernel's OOM killer or a power cut. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/failpoint.h"

static const char *points;
static int loaded;

void ax_failpoint(const char *name)
{
	const char *p;
	size_t n = strlen(name);

	if (!loaded) {
		points = getenv("ALEXUS_FAILPOINTS");
		loaded = 1;
	}
	if (points == NULL || *points == '\0')
		return;
	for (p = points; (p = strstr(p, name)) != NULL; p += n) {
		int starts = p == points || p[-1] == ',';
		int ends = p[n] == '\0' || p[n] == ',';
		if (starts && ends)
			raise(SIGKILL);
	}
}
