/* appender.h - rate limit, claim_once and XADD of one request's signals,
 * in one Redis round trip.
 *
 * An appender owns one async Redis connection (ax_rconn) and the Lua
 * script that does both steps atomically on the server.  One appender per
 * event loop: it is not thread-safe, and a future multi-worker ingest gives
 * each worker its own. */
#ifndef INGEST_APPENDER_H
#define INGEST_APPENDER_H

#include <stddef.h>

#include "alexus/err.h"
#include "alexus/hash.h"
#include "alexus/signal.h"

struct event_base;
struct ingest_appender;
struct ax_rconn;

struct ingest_appender_opts {
	const char *host;
	int port;
	int timeout_ms;      /* per command (ax_rconn deadline); 0 = 2000 */
	int dedup_ttl_s;     /* seconds the last status of a fingerprint is kept */
	int rate_limit;      /* signals/s per tenant; 0 = no limit */
	int rate_burst;      /* token bucket size */
};

/* Most signals one call may carry (the driver cap). */
#define INGEST_APPEND_MAX 10000

/* What became of one request's signals. */
struct ingest_batch_result {
	size_t n;
	int limited;                 /* the tenant's rate limit refused all of them */
	long retry_after_ms;         /* when limited */
	size_t nappended, nduplicates;
	const unsigned char *appended; /* n flags: 1 appended, 0 duplicate */
	const char *why;             /* failure detail, or "rate limited" */
};

/* Called exactly once per accepted ingest_appender_add_batch.  rc is
 * AX_OK with a result (limited, or every signal appended or a
 * duplicate), or the failure (AX_ETIMEDOUT, AX_EIO: connection lost or
 * closed; AX_EPROTO: Redis answered with an error, detail in r->why).
 * r and its strings are valid only during the call. */
typedef void ingest_batch_fn(ax_err rc, const struct ingest_batch_result *r, void *arg);

/* Starts connecting at once; NULL only on bad options. */
struct ingest_appender *ingest_appender_new(struct event_base *base,
					    const struct ingest_appender_opts *o);
/* Fails every append still in flight (their callbacks run, AX_EIO), then
 * frees.  NULL-safe. */
void ingest_appender_free(struct ingest_appender *a);

/* The appender's Redis connection, for other lookups on the same event
 * loop (webhook tokens, signing secrets); owned by the appender. */
struct ax_rconn *ingest_appender_conn(struct ingest_appender *a);

/* 1 while the Redis connection is up. */
int ingest_appender_ready(const struct ingest_appender *a);

/* Queue one request's signals for tenant, as one script call (see
 * appender.c): first the tenant's token bucket takes n tokens or refuses
 * the whole request (r->limited); then, for each signal, claim_once on
 * t:{tenant}:dedup:<fingerprint> with its status (the same status already
 * claimed = a duplicate, skipped) and XADD {v 1, tenant, id, kind, trace,
 * data} to alexus:signals.  ids[i] is signal i's entry id.  Everything is
 * copied; sigs and ids may be released on return.  AX_EAGAIN when Redis
 * is not connected, AX_EINVAL for a bad tenant or n outside
 * 1..INGEST_APPEND_MAX: fn is then NOT called. */
ax_err ingest_appender_add_batch(struct ingest_appender *a, const char *tenant,
				 const char *trace, const struct ax_signal *sigs, size_t n,
				 const char (*ids)[AX_UUID_LEN], ingest_batch_fn *fn,
				 void *arg) AX_MUSTCHECK;

/* The script (for tests and documentation). */
extern const char ingest_batch_script[];

#endif /* INGEST_APPENDER_H */
