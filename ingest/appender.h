/* appender.h - claim_once + XADD of one canonical signal, in one Redis
 * round trip.
 *
 * An appender owns one async Redis connection (ax_rconn) and the Lua
 * script that does both steps atomically on the server.  One appender per
 * event loop: it is not thread-safe, and a future multi-worker ingest gives
 * each worker its own. */
#ifndef INGEST_APPENDER_H
#define INGEST_APPENDER_H

#include <stddef.h>

#include "alexus/err.h"
#include "alexus/signal.h"

struct event_base;
struct ingest_appender;
struct ax_rconn;

struct ingest_appender_opts {
	const char *host;
	int port;
	int timeout_ms;      /* per command (ax_rconn deadline); 0 = 2000 */
	int dedup_ttl_s;     /* seconds the last status of a fingerprint is kept */
};

enum ingest_append_outcome {
	INGEST_APPENDED,     /* new entry on alexus:signals */
	INGEST_DUPLICATE,    /* same status already claimed for this fingerprint */
};

/* Called exactly once per accepted ingest_appender_add.  rc is AX_OK with
 * an outcome, or the failure (AX_ETIMEDOUT, AX_EIO: connection lost or
 * closed; AX_EPROTO: Redis answered with an error, detail in why).  why is
 * a constant or short-lived string, valid only during the call. */
typedef void ingest_append_fn(ax_err rc, enum ingest_append_outcome outcome, const char *why,
			      void *arg);

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

/* Queue the append of s for tenant.  The script claims
 * t:{tenant}:dedup:<fingerprint> with s's status for dedup_ttl_s seconds
 * unless it already holds that very status (then: INGEST_DUPLICATE), and
 * XADDs {v 1, tenant, id, kind, trace, data} to alexus:signals.  So
 * firing, resolved, firing all append while firing, firing appends once.
 * Everything needed is copied; s may be released on return.
 * AX_EAGAIN when Redis is not connected, AX_EINVAL for a bad tenant: fn is
 * then NOT called. */
ax_err ingest_appender_add(struct ingest_appender *a, const char *tenant, const char *id,
			   const char *trace, const struct ax_signal *s, ingest_append_fn *fn,
			   void *arg) AX_MUSTCHECK;

/* The Lua script (for tests and documentation). */
extern const char ingest_append_script[];

#endif /* INGEST_APPENDER_H */
