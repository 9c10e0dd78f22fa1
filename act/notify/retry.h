/* retry.h - act's retry thread: every later attempt of a notification
 * target, and the dead letters.
 *
 * The stream handler makes each target's first attempt and acknowledges
 * the entry whatever came of it; from then on a target still pending
 * belongs to this thread (of whichever act replica takes it first).  About
 * every 250 ms it asks Postgres which tenants have due targets
 * (tenants_with_due_deliveries(), 0016) and, per tenant, takes at most
 * ALEXUS_NOTIFY_BATCH of them (FOR UPDATE SKIP LOCKED), attempts them one
 * by one and records the batch in one transaction (delivery.c); it then
 * writes the alexus:dlq entries of the tenant's dead targets.  A full batch means more work:
 * the next pass starts at once.  Memory stays one batch, whatever the
 * backlog.
 *
 * It has its own Postgres and Redis connections, reconnects on its own
 * after failures (one log line per outage), and stops when *stop is set
 * (SIGTERM / SIGINT, which it blocks itself so the main thread gets them),
 * finishing the attempt in hand and giving back the leases of the rest. */
#ifndef ACT_NOTIFY_RETRY_H
#define ACT_NOTIFY_RETRY_H

#include <pthread.h>

#include "../act.h"

struct act_retry {
	struct act a;          /* its own pg; cfg, keyring and stop from the parent */
	pthread_t thread;
	int started;
};

/* Start the thread with parent's configuration, keyring (copied) and stop
 * flag.  0, or -1 when the thread could not be created. */
int act_retry_start(struct act_retry *r, const struct act *parent);

/* Wait for the thread to finish (after *stop was set) and release what it
 * held.  Safe on a retry that never started. */
void act_retry_join(struct act_retry *r);

#endif /* ACT_NOTIFY_RETRY_H */
