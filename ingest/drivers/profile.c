/* profile.c - declarative source profiles (see profile.h).
 * The loader is being written; until then no profile is registered. */
#include "profile.h"

ax_err ingest_profiles_load(const char *dir, size_t *loaded, char *errbuf, size_t errlen)
{
	(void)dir;
	(void)errbuf;
	(void)errlen;
	if (loaded != NULL)
		*loaded = 0;
	return AX_OK;
}
