/* server.h - the ingest HTTP server: one evhttp listener, one Redis
 * appender, one event loop -- one per worker thread.
 *
 * Routes: POST /v1/webhooks/{source} and POST /v1/webhooks (detected
 * source), GET /healthz, GET /readyz, GET /metrics, and the operator API
 * (/v1/incidents, /v1/approvals, /v1/events, /v1/settings, /v1/channels,
 * /v1/credentials: docs/api.md, proto/openapi.json).  Every answer is JSON
 * (metrics: Prometheus text; /v1/events: text/event-stream), every
 * refusal is {"error","message"[,"field"]}.
 *
 * A server is bound to the event base it was created on and is not
 * thread-safe; several workers would each create their own server on their
 * own base (SO_REUSEPORT or a shared listener is then the caller's
 * choice), which is why all state lives in the struct and none in
 * globals beyond a per-thread list used to find the server of a request
 * that libevent refused by itself (see server.c). */
#ifndef INGEST_SERVER_H
#define INGEST_SERVER_H

#include <stddef.h>

struct event_base;
struct ax_config;
struct ingest_server;
struct ingest_metrics;
struct ingest_api;

/* Header block limit: far above any sender's headers (a JWT is a few
 * hundred bytes), far below what would matter for memory. */
#define INGEST_MAX_HEADERS (64 * 1024)
/* JWT exp/nbf clock skew tolerated, seconds. */
#define INGEST_JWT_LEEWAY_S 30

/* How one worker's server joins the others; all optional. */
struct ingest_server_opts {
	struct ingest_metrics *metrics; /* shared counters; NULL: the server's own */
	int port;                       /* > 0: listen here instead of cfg's port */
	int reuseport;                  /* bind with SO_REUSEPORT (several workers) */
	struct ingest_api *api;         /* operator API threads; NULL: API routes answer 503 */
};

/* Listen on cfg->ingest_addr:cfg->ingest_port (0 = any free port) and
 * start connecting to cfg->redis_url.  cfg (and opts->metrics) must
 * outlive the server; opts may be NULL.  NULL with errbuf set when the
 * address cannot be bound or the configuration is unusable. */
struct ingest_server *ingest_server_new(struct event_base *base, const struct ax_config *cfg,
					const struct ingest_server_opts *opts, char *errbuf,
					size_t errlen);

/* The TCP port actually bound. */
int ingest_server_port(const struct ingest_server *s);

/* Graceful stop.  The first call closes the listening socket; from then
 * on webhooks get 503 "shutting_down" (with Connection: close) and every
 * request already waiting for Redis is answered when Redis answers.  When
 * none is left, or deadline_ms has passed (those still waiting are then
 * answered 503 at once), done(clean, arg) runs once from the event loop;
 * clean is 0 when the deadline had to cut requests short.  A second call
 * cuts them short now (a second SIGTERM). */
typedef void ingest_server_done_fn(int clean, void *arg);
void ingest_server_drain(struct ingest_server *s, int deadline_ms, ingest_server_done_fn *done,
			 void *arg);

/* Answers whatever is still waiting (503), then frees everything.  Must
 * not be called from inside one of the server's own callbacks.
 * NULL-safe. */
void ingest_server_free(struct ingest_server *s);

/* Read-only view of the counters (tests, /metrics). */
const struct ingest_metrics *ingest_server_metrics(const struct ingest_server *s);

#endif /* INGEST_SERVER_H */
