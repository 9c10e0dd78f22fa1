/* profile.h - declarative source profiles: a JSON file per long-tail
 * sender (detection rule, JSON-pointer field mapping, severity map,
 * resolved and ignore rules), turned into registry drivers at start.  The
 * format is documented in ingest/profiles/README.md. */
#ifndef INGEST_PROFILE_H
#define INGEST_PROFILE_H

#include <stddef.h>
#include "alexus/err.h"

struct ingest_driver;

/* Load every *.json in dir (sorted by file name) and register one driver
 * per profile (ingest_driver_register).  *loaded (may be NULL) receives
 * the count.  A missing dir is AX_ENOTFOUND; any invalid profile fails the
 * whole load with AX_EINVAL and errbuf naming the file and the problem
 * (a daemon must not start with half its sources); a file that cannot be
 * read is AX_EIO.  On failure nothing is registered.  Call once, before
 * any worker thread starts; the drivers live until exit. */
ax_err ingest_profiles_load(const char *dir, size_t *loaded, char *errbuf,
			    size_t errlen) AX_MUSTCHECK;

/* Test helpers. */

/* Free every profile ingest_profiles_load registered, so leak checkers
 * see a clean exit.  The registry keeps pointing at them: call it only
 * when nothing will use the registry again (the end of a test program). */
void ingest_profiles_unload(void);

/* Validate and compile one profile from text (len bytes) as if it were
 * the file called file ("x.json": the profile's name must be "x"),
 * without registering it.  *out receives a driver whose detect() and
 * normalize() work like a registered one's; free it with
 * ingest_profile_free.  A name the registry already holds is refused as
 * ingest_profiles_load refuses it.  AX_EINVAL with errbuf as
 * "file: member: why" when the profile is invalid. */
ax_err ingest_profile_compile(const char *file, const char *text, size_t len,
			      const struct ingest_driver **out, char *errbuf,
			      size_t errlen) AX_MUSTCHECK;

/* Free a driver from ingest_profile_compile (NULL is a no-op).  Never
 * pass a driver ingest_profiles_load registered. */
void ingest_profile_free(const struct ingest_driver *d);

#endif /* INGEST_PROFILE_H */
