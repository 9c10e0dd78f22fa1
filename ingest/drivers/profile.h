/* profile.h - declarative source profiles: a JSON file per long-tail
 * sender (detection rule, JSON-pointer field mapping, severity map,
 * resolved rule), turned into registry drivers at start.  The format is
 * documented in ingest/profiles/README.md. */
#ifndef INGEST_PROFILE_H
#define INGEST_PROFILE_H

#include <stddef.h>
#include "alexus/err.h"

/* Load every *.json in dir (sorted by file name) and register one driver
 * per profile (ingest_driver_register).  *loaded (may be NULL) receives
 * the count.  A missing dir is AX_ENOTFOUND; any invalid profile fails the
 * whole load with AX_EINVAL and errbuf naming the file and the problem
 * (a daemon must not start with half its sources).  Call once, before any
 * worker thread starts; the drivers live until exit. */
ax_err ingest_profiles_load(const char *dir, size_t *loaded, char *errbuf,
			    size_t errlen) AX_MUSTCHECK;

#endif /* INGEST_PROFILE_H */
