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
 * Calls (kind):
 *   DECIDE        approve or reject a pending approval: lock it, check it
 *                 is undecided and unexpired, record the decision and an
 *                 audit row in one transaction, then append the action to
 *                 alexus:actions again so act resumes it (act re-runs the
 *                 policy with the decision).
 *   INCIDENTS     the incident list: filters and cursor from the query
 *                 string (api_incidents.c).
 *   INCIDENT      one incident with its alerts, stage transitions, runs,
 *                 diagnosis, actions, approvals, tickets, notes, audit rows.
 *   INCIDENT_OP   acknowledge, resolve, note (common/incident.c).
 *   APPROVALS     the approval list (?status=pending|decided|all).
 *   FEED          incident_events rows of the tenant after an id, for the
 *                 live feed (api_feed.c): SSE text in body.
 *   SETTINGS_*, CHANNEL*, CREDENTIAL*  tenant settings, notification
 *                 channels, credentials (api_settings.c; admin).
 * Every call runs in one transaction scoped to the call's tenant (row-level
 * security): another tenant's id simply is not found (404). */
#ifndef INGEST_API_H
#define INGEST_API_H

#include <stddef.h>

#include "alexus/err.h"
#include "alexus/hash.h"
#include "alexus/keys.h"

struct ax_config;
struct ax_keyring;
struct event_base;
struct ingest_api;

enum ingest_api_kind {
	INGEST_API_DECIDE = 0,
	INGEST_API_INCIDENTS,
	INGEST_API_INCIDENT,
	INGEST_API_INCIDENT_OP,
	INGEST_API_APPROVALS,
	INGEST_API_FEED,
	INGEST_API_SETTINGS_GET,
	INGEST_API_SETTINGS_PUT,
	INGEST_API_CHANNELS,          /* list */
	INGEST_API_CHANNEL_CREATE,
	INGEST_API_CHANNEL_DELETE,    /* disables: history is kept (0003) */
	INGEST_API_CREDENTIALS,       /* list: names, key ids, times; never a value */
	INGEST_API_CREDENTIAL_PUT,
};

struct ingest_api_call {
	/* the request */
	enum ingest_api_kind kind;
	char tenant[AX_TENANT_MAX + 1];
	char id[AX_UUID_LEN];      /* the approval's or the incident's id */
	char op[16];               /* INCIDENT_OP: ack | resolve | notes */
	char name[64];             /* CREDENTIAL_PUT: the credential's name */
	char *query;               /* NULL or the raw query string, owned by the call */
	char *input;               /* NULL or the request body (NUL-terminated), owned */
	long long after;           /* FEED: incident_events id to read after */
	int limit;                 /* FEED: at most this many rows */
	int more;                  /* FEED answer: the page was full, more may wait */
	char *skip;                /* FEED: ids not to send again, "{1,2}", owned */
	char *got;                 /* FEED answer: the ids sent, "1,2", owned */
	const struct ax_keyring *keyring; /* CREDENTIAL_PUT: set by the API thread;
					   * NULL without ALEXUS_MASTER_KEY */
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
void ingest_api_run(struct ax_pg *pg, struct redisContext **redis, const struct ax_config *cfg,
		    struct ingest_api_call *c);
void ingest_api_decide(struct ax_pg *pg, struct redisContext **redis,
		       const struct ax_config *cfg, struct ingest_api_call *c);

/* For the api_*.c files. */
struct cJSON;
/* c's answer: {"error": error, "message": ...}, and "field" when not NULL. */
void ingest_api_error(struct ingest_api_call *c, int status, const char *error,
		      const char *field, const char *fmt, ...) AX_PRINTF(5, 6);
/* c's answer: status and the JSON of j (j is not freed). */
void ingest_api_json(struct ingest_api_call *c, int status, const struct cJSON *j);
/* The redis context of the thread, (re)connected; NULL when Redis is down. */
struct redisContext *ingest_api_redis(struct redisContext **redis, const struct ax_config *cfg);
/* Postgres failed: log it and answer 503 (the transaction is rolled back). */
void ingest_api_unavailable(struct ax_pg *pg, struct ingest_api_call *c, const char *err);
/* Begin c's transaction under its tenant with TimeZone UTC, so every
 * timestamp Postgres formats reads as RFC 3339 with +00:00.  0, or -1
 * with c answered (503). */
int ingest_api_begin(struct ax_pg *pg, struct ingest_api_call *c);
void ingest_api_incidents(struct ax_pg *pg, struct ingest_api_call *c);
void ingest_api_incident(struct ax_pg *pg, struct ingest_api_call *c);
void ingest_api_incident_op(struct ax_pg *pg, struct redisContext **redis,
			    const struct ax_config *cfg, struct ingest_api_call *c);
void ingest_api_approvals(struct ax_pg *pg, struct ingest_api_call *c);
void ingest_api_feed(struct ax_pg *pg, struct ingest_api_call *c);
void ingest_api_settings(struct ax_pg *pg, struct ingest_api_call *c);
/* 1 when s is an RFC 3339 date-time (the shape; Postgres parses it). */
int ingest_api_rfc3339(const char *s);

/* The live feed of one worker (api_feed.c): SSE streams on base, its own
 * pub/sub connection, reads through api.  idle(arg) runs when the last
 * stream and read are gone (a drain waits for that).  NULL on a bad
 * Redis URL. */
struct evhttp_request;
struct ingest_feed;
typedef void ingest_feed_idle_fn(void *arg);
struct ingest_feed *ingest_feed_new(struct event_base *base, const struct ax_config *cfg,
				    struct ingest_api *api, ingest_feed_idle_fn *idle, void *arg);
/* Take req over (authenticated, tenant from its token) and start its
 * stream after event id last (-1: from now).  -1 when the worker has
 * FEED_MAX_STREAMS streams already or the request has no connection: the
 * caller answers (503). */
int ingest_feed_open(struct ingest_feed *f, struct evhttp_request *req, const char *tenant,
		     long long last);
/* End every stream (drain).  NULL-safe. */
void ingest_feed_close_all(struct ingest_feed *f);
/* Streams open plus reads in flight: the feed is idle at 0. */
int ingest_feed_busy(const struct ingest_feed *f);
/* Streams cut off for reading too slowly, since start. */
unsigned long ingest_feed_cut_off(const struct ingest_feed *f);
/* Close everything and free; call when ingest_feed_busy() is 0.  NULL-safe. */
void ingest_feed_free(struct ingest_feed *f);

#endif /* INGEST_API_H */
