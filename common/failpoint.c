/* failpoint.c - named crash points (see failpoint.h).
 *
 * The list is read once; SIGKILL, not abort(), so nothing runs on the way
 * out: no atexit handler, no buffered write, no sanitizer report -- the
 * same as the kernel's OOM killer or a power cut. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/failpoint.h"

static const char *points;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void load(void)
{
	points = getenv("ALEXUS_FAILPOINTS");
}

void ax_failpoint(const char *name)
{
	const char *p;
	size_t n = strlen(name);

	pthread_once(&once, load);
	if (points == NULL || *points == '\0')
		return;
	for (p = points; (p = strstr(p, name)) != NULL; p += n) {
		int starts = p == points || p[-1] == ',';
		int ends = p[n] == '\0' || p[n] == ',';
		if (starts && ends)
			raise(SIGKILL);
	}
}

#define COUNTED_MAX 8

static struct {
	char name[64];
	long left;
} counted[COUNTED_MAX];
static int ncounted;

int ax_failpoint_fail(const char *name)
{
	const char *p;
	size_t n = strlen(name);
	int i, hit = 0;

	pthread_once(&once, load);
	if (points == NULL || *points == '\0' || n >= sizeof(counted[0].name))
		return 0;
	pthread_mutex_lock(&mu);
	for (i = 0; i < ncounted && strcmp(counted[i].name, name) != 0; i++)
		;
	if (i == ncounted) {
		long times = 0;

		for (p = points; (p = strstr(p, name)) != NULL; p += n)
			if ((p == points || p[-1] == ',') && p[n] == '*') {
				times = strtol(p + n + 1, NULL, 10);
				break;
			}
		if (times > 0 && ncounted < COUNTED_MAX) {
			snprintf(counted[ncounted].name, sizeof(counted[0].name), "%s", name);
			counted[ncounted++].left = times;
		} else {
			pthread_mutex_unlock(&mu);
			return 0;
		}
	}
	if (counted[i].left > 0) {
		counted[i].left--;
		hit = 1;
	}
	pthread_mutex_unlock(&mu);
	return hit;
}
