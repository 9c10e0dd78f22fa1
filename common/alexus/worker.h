/* worker.h - the consumer-group worker loop shared by alexus-reason and
 * alexus-act.
 *
 * Daemon scaffolding, not plain library code: unlike the rest of
 * libalexus this module logs (through alexus/log.h), because the loop's
 * outages, retries and dead letters are the daemon's own story.
 *
 * The loop: connect (retrying with backoff, one log line per outage),
 * ensure the group, reclaim pending entries idle longer than
 * cfg->claim_idle_ms (XAUTOCLAIM: what a crashed consumer left behind)
 * before reading new ones and again every claim_idle_ms / 2, then
 * XREADGROUP with a finite BLOCK of cfg->block_ms.  An entry delivered
 * more than cfg->max_deliveries times is dead-lettered.  Every read Redis
 * answered beats the process's heartbeat (ax_health_beat, alexus/health.h),
 * which /readyz of reason and act follows.
 *
 * With a batch handler, the entries of one read go to it together first
 * (those over max_deliveries excepted); whatever it leaves unsettled is
 * then handled one entry at a time as below, so a poison entry costs its
 * batch one extra attempt and nothing else.
 *
 * An entry whose handler fails is not acknowledged; the loop backs off
 * (100 ms doubling to 5 s), reconnects and retries the same entry before
 * anything else.  An entry that keeps failing while both servers answer
 * is dead-lettered after cfg->max_deliveries attempts.  A handler that
 * returns AX_EAGAIN asks to leave the entry pending without a retry (a
 * stop requested mid-work).
 *
 * The caller installs the SIGTERM / SIGINT handler that sets *stop
 * (ax_worker_stop_on_signals); the loop then finishes the entry in hand and returns.  A
 * retry waiting on its backoff gives up at once and leaves the entry
 * pending for another consumer. */
#ifndef AX_WORKER_H
#define AX_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include "alexus/config.h"
#include "alexus/err.h"
#include "alexus/pg.h"
#include "alexus/stream.h"

struct ax_worker_opts {
	const char *stream;               /* e.g. AX_STREAM_SIGNALS */
	const char *group;                /* e.g. AX_GROUP_REASON */
	const struct ax_config *cfg;      /* Redis URL, consumer, batch, timings */
	struct ax_pg *pg;                 /* ensured before each entry */
	volatile sig_atomic_t *stop;      /* set by the caller's signal handler */
	/* Do the work of one entry and settle it (XACK or dead letter).
	 * AX_OK: done.  AX_EAGAIN: leave it pending, no retry.  Anything else:
	 * transient failure, described in err; the entry is retried. */
	ax_err (*handle)(void *ctx, redisContext *c, const struct ax_entry *e, char *err,
			 size_t errlen);
	/* Optional: do the work of the entries of one read together (es in
	 * stream order) and set done[i] = 1 for each entry settled.  AX_OK:
	 * all settled.  AX_EAGAIN: leave the rest pending, no retry.
	 * Anything else: the loop logs err and takes the entries not done one
	 * at a time through handle, with its retries and dead letters. */
	ax_err (*handle_batch)(void *ctx, redisContext *c, const struct ax_entry *const *es,
			       int n, unsigned char *done, char *err, size_t errlen);
	void *ctx;
};

/* Install SIGTERM and SIGINT handlers (no SA_RESTART, so a sleep ends
 * when asked to stop) that set the returned flag, and ignore SIGPIPE. */
volatile sig_atomic_t *ax_worker_stop_on_signals(void);

/* Run the loop until *o->stop is set.  Owns the Redis connection and the
 * batch buffer, both released on return; the Postgres handle stays the
 * caller's. */
void ax_worker_run(const struct ax_worker_opts *o);

/* Settle an entry that can never succeed: ax_dead_letter, plus a warning
 * line (with the entry's trace and tenant) when that worked. */
ax_err ax_worker_dead_letter(redisContext *c, const char *stream, const char *group,
			     const struct ax_entry *e, const char *why, char *errbuf,
			     size_t errlen);

#endif /* AX_WORKER_H */
