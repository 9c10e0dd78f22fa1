/* reason.h - one alexus:signals entry, end to end (handle.c).
 *
 * The worker loop (main.c) owns the connections and the retry policy;
 * reason_handle does the work of one entry: validate, one Postgres
 * transaction scoped to the tenant, then the outbox append, the stage
 * events and the acknowledgement. */
#ifndef REASON_REASON_H
#define REASON_REASON_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "alexus/config.h"
#include "alexus/err.h"
#include "alexus/pg.h"
#include "alexus/stream.h"

struct reason_runner;

struct reason {
	const struct ax_config *cfg;
	struct ax_pg *pg;       /* application role; RLS applies */
	struct reason_runner *runner; /* NULL: runs wait for a sweeper (run.h) */
};

/* Process entry e of alexus:signals (group reason).
 *
 * AX_OK: the entry is settled -- acknowledged after its transaction
 * committed, or dead-lettered (malformed, or data Postgres refuses).
 * Anything else: nothing was acknowledged, the transaction (if any) was
 * rolled back, errbuf says why; the caller backs off, reconnects and
 * hands the same entry back (a redelivery after COMMIT is recognised by
 * signals_seen and only re-appends the signal's pending actions). */
ax_err reason_handle(struct reason *r, redisContext *c, const struct ax_entry *e,
		     char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Process es[0..n-1], entries read together, as few units of work as
 * their tenants allow (see handle.c).  done[i] is set to 1 for each entry
 * settled (acknowledged or dead-lettered).  AX_OK: all of them are.
 * Anything else: the entries not done were not acknowledged and their
 * transaction was rolled back; the caller retries them one at a time with
 * reason_handle (which is this function with n = 1). */
ax_err reason_handle_batch(struct reason *r, redisContext *c, const struct ax_entry *const *es,
			   int n, unsigned char *done, char *errbuf, size_t errlen) AX_MUSTCHECK;

#endif /* REASON_REASON_H */
