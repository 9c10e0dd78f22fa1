/* health.h - the probe listener of the consumer daemons (alexus-reason,
 * alexus-act): GET /healthz and GET /readyz on ALEXUS_HEALTH_ADDR.
 *
 * ingest serves both paths on its own HTTP port; reason and act have no
 * HTTP server, so this module gives them a tiny one on its own thread and
 * its own libevent base, touching nothing of the worker loop but one
 * atomic timestamp.
 *
 *   /healthz  200 {"status":"ok"} while the process runs (liveness).
 *   /readyz   200 {"ready":true,"beat_age_ms":N} while the worker loop
 *             has beaten (ax_health_beat) within max_age_ms; otherwise 503
 *             {"ready":false,"reason":"..."}: no beat yet, the last one too
 *             old, or a stop requested.
 *
 * The beat is process-wide (one worker loop per process): the loop calls
 * ax_health_beat() each time it has reached Redis and Postgres -- after a
 * read that answered, after an entry handled -- so a loop that is stuck,
 * or cannot reach either server, turns /readyz to 503 within max_age_ms.
 * Nothing else about readiness is cached: a probe reads the clock and the
 * timestamp, so it cannot itself block on a server. */
#ifndef AX_HEALTH_H
#define AX_HEALTH_H

#include <signal.h>
#include <stddef.h>
#include "alexus/err.h"

struct ax_health;                         /* opaque, common/health.c */

/* Split "host:port" ("0.0.0.0:9090", "[::]:9090", "localhost:9090") into
 * host (caller buffer, brackets removed) and port (0..65535; 0 lets the
 * kernel choose, which only tests want).  AX_EINVAL for any other shape. */
ax_err ax_health_addr_parse(const char *addr, char *host, size_t hostlen, int *port)
	AX_MUSTCHECK;

/* Record that the worker loop reached Redis and Postgres just now.
 * Async-signal-unsafe but thread-safe (one relaxed atomic store); cheap
 * enough for every loop turn. */
void ax_health_beat(void);

/* Forget the last beat (the next /readyz says "no heartbeat yet"); for
 * tests that start several listeners in one process. */
void ax_health_reset(void);

/* Start the listener on addr ("host:port", see ax_health_addr_parse) on a
 * thread of its own.  /readyz is 200 while the last beat is at most
 * max_age_ms old and *stop (may be NULL) is not set.  Returns NULL with
 * errbuf on a bad address or a bind failure.  Stop with ax_health_stop. */
struct ax_health *ax_health_start(const char *addr, int max_age_ms,
				  volatile sig_atomic_t *stop, char *errbuf, size_t errlen);

/* The port the listener is bound to (the kernel's choice for port 0). */
int ax_health_port(const struct ax_health *h);

/* Stop the listener thread, close the socket and free h.  NULL-safe. */
void ax_health_stop(struct ax_health *h);

#endif /* AX_HEALTH_H */
