/* api.h - the operator API's database work, off the event loops.
 *
 * ingest's event loops never block: a webhook costs one pipelined Redis
 * append.  The operator API needs Postgres (row-level security, the audit
 * log) through libpq's blocking calls, so its calls are queued to a small
 * pool of threads, each with its own Postgres and Redis connections; the
 * answer is handed back to the request's own event loop (event_base_once,
 * thread-safe with evthread_use_pthreads), which replies.  The queue is
 * bounded: a full queue is a 503, never unbounded memory.
 *
 * Calls (one so far; issue 7 adds the rest of the API here):
 *   approval decision  approve or reject a pending approval: lock it, check
 *                      it is undecided and unexpired, record the decision
 *                      and an audit row in one transaction, then append
 *                      the action to alexus:actions again so act resumes
 *                      it (act re-runs the policy with the decision). */
#ifndef INGEST_API_H
#define INGEST_API_H

#include <stddef.h>

#include "alexus/err.h"
#include "alexus/hash.h"
#include "alexus/keys.h"

struct ax_config;
struct event_base;
struct ingest_api;

struct ingest_api_call {
	/* the request */
	char tenant[AX_TENANT_MAX + 1];
	char id[AX_UUID_LEN];      /* the approval's id */
	char decision[16];         /* approved | rejected */
	char by[160];              /* who decided: the token's sub, or "signed link" */
	char via[8];               /* api | link */
	char *comment;             /* NULL or owned by the call */
	char trace[AX_TRACE_LEN];
	/* the answer, set before done runs */
	int status;                /* HTTP status */
	char *body;                /* JSON; free() */
	/* completion, run on base's loop thread */
	struct event_base *base;
	void (*done)(struct ingest_api_call *c);
};

/* Start nthreads threads (>= 1).  Connections are made on first use and
 * remade after a failure.  cfg must outlive the API. */
struct ingest_api *ingest_api_new(const struct ax_config *cfg, int nthreads);
/* Finish queued calls (their done still runs), stop the threads, free.
 * Call after the event loops stopped taking API requests.  NULL-safe. */
void ingest_api_free(struct ingest_api *api);
/* Queue c (the caller keeps it alive until done).  AX_EAGAIN when the
 * queue is full or the API is stopping: c->done will not run. */
ax_err ingest_api_submit(struct ingest_api *api, struct ingest_api_call *c) AX_MUSTCHECK;

/* The answer for c, computed on the calling thread (the threads' work;
 * exported for tests).  pg and redis are the thread's connections. */
struct ax_pg;
struct redisContext;
void ingest_api_decide(struct ax_pg *pg, struct redisContext **redis,
		       const struct ax_config *cfg, struct ingest_api_call *c);

#endif /* INGEST_API_H */
