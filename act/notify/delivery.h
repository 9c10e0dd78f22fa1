/* delivery.h - durable delivery of notify actions: a row per target and
 * one per attempt (proto/sql/0016_deliveries.sql), shared by the stream
 * handler (handle.c, an action's first pass) and the retry thread
 * (retry.c, everything after).
 *
 * The steps, each a short transaction of its own with the network calls
 * between them, never inside one:
 *   take     the targets due (or just inserted) get a lease: nobody else
 *            attempts them until it runs out;
 *   attempt  read what the target needs (the channel's config and opened
 *            credential, the webhook URL) in a read-only transaction, then
 *            one attempt through its sender;
 *   record   for each attempt of a batch: lock the action row, append
 *            the attempt, move the target on (succeeded; dead when
 *            permanent or the last allowed attempt; else pending again
 *            after 2^attempts s, at most ALEXUS_NOTIFY_RETRY_MAX_S, or the
 *            receiver's Retry-After), and when no target is pending any
 *            more give the action its final status and its one audit row
 *            -- the whole batch in one transaction, one commit.
 * A target recorded succeeded is never attempted again; a crash between
 * an attempt and its record repeats the attempt once the lease runs out
 * (at least once, with the same Idempotency-Key / dedup key). */
#ifndef ACT_NOTIFY_DELIVERY_H
#define ACT_NOTIFY_DELIVERY_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "../act.h"
#include "../target.h"
#include "route.h"

/* One target taken for an attempt. */
struct act_job {
	char action_id[AX_UUID_LEN];
	char target[ACT_TARGET_NAME];
	int attempts;            /* attempts recorded before this one */
	int first;               /* the action's first pass (webhook in-call retries) */
	char *payload_text;      /* the action's payload; act_jobs_release frees it */
	char trace[128];
	/* set by act_delivery_attempt */
	int done;                /* attempted, or found gone */
	int skipped;             /* gone (channel disabled or removed, URL cleared) */
	struct act_outcome out;
	int requests;            /* requests made (the webhook's in-call retries) */
	double ms;               /* how long the attempt took */
	int recorded;            /* act_delivery_record committed it (or it was given back) */
};

/* What recording did to the action. */
struct act_settle {
	int settled;             /* this transaction gave the action its final status */
	char status[16];         /* succeeded | failed | skipped */
	char event[64];
	char incident_id[AX_UUID_LEN];
	char trace[128];
};

/* One target's row, for the result and the audit detail. */
struct act_target_row {
	char target[ACT_TARGET_NAME];
	char status[16];
	int attempts;
	long http_status;
	char error[256];
	char host[256];
};

void act_jobs_release(struct act_job *jobs, int n);

/* Seconds to wait before the next attempt after attempts failed ones:
 * retry_after_s when the receiver gave one (at most a day), else
 * 2^attempts capped by max_s. */
long act_delivery_backoff_s(int attempts, long retry_after_s, int max_s);

/* How long a lease on n targets lasts (s): every attempt timing out, with
 * the in-call retries of a first pass, plus a margin. */
long act_delivery_lease_s(const struct ax_config *cfg, int n, int first);

/* Inside the caller's tenant transaction: insert the targets of a new
 * action (ON CONFLICT DO NOTHING), leased for this caller's first pass;
 * jobs[] gets those inserted (first = 1, no payload).  *n their count. */
ax_err act_delivery_insert(struct act *a, const char *tenant, const char *action_id,
			   const char *origin_id, char targets[][ACT_TARGET_NAME], int ntargets,
			   struct act_job *jobs, int *n, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Inside the caller's tenant transaction: how many target rows the action
 * has (-1 on error). */
int act_delivery_count(struct act *a, const char *action_id, char *errbuf, size_t errlen);

/* Inside the caller's tenant transaction: lease the targets of one action
 * that are due (a redelivered entry, after a crash) into jobs (at most
 * max).  No payload is read (the caller has it). */
ax_err act_delivery_take_action(struct act *a, const char *action_id, struct act_job *jobs,
				int max, int *n, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Its own transaction scoped to tenant: lease at most max due targets of
 * any action (FOR UPDATE SKIP LOCKED, so replicas share the work), with
 * each action's payload and trace. */
ax_err act_delivery_take_due(struct act *a, const char *tenant, struct act_job *jobs, int max,
			     int *n, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* One attempt at job (payload_text must be set): reads what the target
 * needs in a transaction of its own, sends outside it, fills job's
 * outcome.  Never fails: a database error is a retryable failed attempt. */
void act_delivery_attempt(struct act *a, const char *tenant, struct act_job *job);

/* Record the attempts (or skips) of the jobs of jobs[0..n) that are
 * done and not yet recorded, all in one transaction (a commit per batch,
 * not per attempt), each settling its action when it was the action's
 * last target pending: st[i] (room for n) says what recording jobs[i] did
 * to its action.  AX_OK: every such job has recorded = 1 (also when
 * another taker had recorded that attempt meanwhile and nothing changed).
 * AX_EIO with errbuf: rolled back, nothing recorded, no st[i] settled. */
ax_err act_delivery_record(struct act *a, const char *tenant, struct act_job *jobs, int n,
			   struct act_settle *st, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Give up a lease without an attempt (a stop was requested first). */
void act_delivery_release(struct act *a, const char *tenant, const struct act_job *job);

/* Inside the caller's tenant transaction (the action row locked): give
 * an action without any target its final status status (skipped, or
 * failed for a payload that is no notify document), error in its result,
 * and its audit row. */
ax_err act_delivery_finish_empty(struct act *a, const char *tenant, const char *action_id,
				 const char *event, const char *incident_id, const char *trace,
				 const char *status, const char *error, char *errbuf,
				 size_t errlen) AX_MUSTCHECK;

/* PUBLISH the action.finished event (best effort, c may be NULL). */
void act_delivery_publish(redisContext *c, const char *tenant, const char *action_id,
			  const struct act_settle *st);

/* Write the alexus:dlq entries of at most max dead targets of tenant whose
 * entry is still to be written, each marked in the same transaction
 * (at least once: a failed commit writes it again later).  *n gets how
 * many were written.  AX_EIO for a database or Redis failure. */
ax_err act_delivery_dead_letters(struct act *a, redisContext *c, const char *tenant, int max,
				 int *n, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* record.c: actions.result of a settled notify action --
 * {"http_status", "attempts", "error", "targets": [{"target", "status",
 * "attempts", "http_status", "error", "host"}]}, where the top level
 * repeats the first dead target's status and error (else the first
 * target's), and attempts sums every target's. */
cJSON *act_notify_result(const struct act_target_row *rows, int n, const char *error);

/* record.c: the audit detail of a settled notify action -- act_audit_detail's
 * keys (http_status and host as in the result's top level) plus
 * "targets": [{"target", "status", "attempts", "http_status", "host"}]. */
cJSON *act_notify_audit(const char *action_id, const char *event, const char *status,
			const struct act_target_row *rows, int n);

#endif /* ACT_NOTIFY_DELIVERY_H */
