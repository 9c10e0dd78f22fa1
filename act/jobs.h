/* jobs.h - act's periodic jobs: one scheduler thread, a leader lock in
 * Redis so one act replica runs them, and the jobs themselves (issue 6):
 * the Resolution Quality Gate (gate.c), escalation (escalate.c) and
 * approval expiry (expire.c).
 *
 * The scheduler (jobs.c) owns the thread and its connections; each job is
 * a function over one tenant's transaction, given a struct act_job that
 * collects what must happen after COMMIT (outbox appends, pub/sub
 * events) and answers whether this replica still leads. */
#ifndef ACT_JOBS_H
#define ACT_JOBS_H

#include <signal.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/config.h"
#include "alexus/err.h"
#include "alexus/graph.h"
#include "alexus/hash.h"
#include "alexus/pg.h"
#include "alexus/store.h"

/* Key kind of the idempotent outbox append: t:{tenant}:outbox:<action id>. */
#define ACT_JOBS_OUTBOX_KIND "outbox"
/* How long an outbox claim stays: a pending job action is appended at
 * most once while it lives, ms (a day). */
#define ACT_JOBS_OUTBOX_TTL_MS 86400000
/* Rows each job takes per tenant and pass: a tenant with a backlog is
 * worked off over several passes, never in one long transaction. */
#define ACT_JOBS_ROWS 50
/* Tenants read per jobs_due_tenants() page. */
#define ACT_JOBS_TENANT_PAGE 100

struct act_jobs;   /* opaque: the scheduler */

/* Start the scheduler thread for cfg (borrowed: it must outlive the
 * thread) with its own Postgres and Redis connections.  The thread stops
 * when *stop is set (the daemon's signal flag) or act_jobs_stop is
 * called.  Signals are blocked in it, so SIGTERM always interrupts the
 * main thread's sleeps.  NULL (logged) only when the thread cannot be
 * created: act then runs without its periodic jobs. */
struct act_jobs *act_jobs_start(const struct ax_config *cfg, volatile sig_atomic_t *stop);
/* Ask the thread to stop, join it (it finishes the tenant in hand, then
 * releases the leader lock if it holds it), free everything.  NULL-safe. */
void act_jobs_stop(struct act_jobs *j);

/* ---------------------------------------------------------------- one job */

/* What runs after COMMIT: an action to append to alexus:actions, or an
 * event to publish.  Strings owned. */
struct act_job_out {
	const char *kind;  /* the entry's kind ("notify", "remediate"); NULL: an event */
	char *id;          /* action id */
	char *trace;
	char *text;        /* the action's payload, or the event's JSON */
};

struct act_job {
	const struct ax_config *cfg;
	struct act_jobs *owner;      /* NULL in unit tests: always leading */
	struct ax_pg *pg;
	struct ax_graph *g;          /* NULL: the knowledge graph is unavailable */
	const char *tenant;          /* the transaction's tenant */
	const char *consumer;        /* who runs the job, for rows and audit details */
	struct ax_store_batch *w;    /* incident_events and actions of this transaction */
	struct act_job_out *out;
	size_t nout, capout;
	char err[512];
};

/* ax_pg_begin for jb->tenant, with an empty batch and queue. */
ax_err act_job_begin(struct act_job *jb) AX_MUSTCHECK;
/* Write jb->w, then COMMIT -- only while this replica still leads (else
 * roll back, AX_EAGAIN) -- then append the queued actions and publish the
 * queued events.  A failed append leaves its action pending in Postgres
 * and makes the scheduler re-append the jobs' pending actions (they are
 * appended idempotently, see jobs.c).  AX_OK once committed. */
ax_err act_job_commit(struct act_job *jb) AX_MUSTCHECK;
/* Roll back and forget the batch and the queue. */
void act_job_abort(struct act_job *jb);
/* 1 while this replica holds the leader lock (jb->owner NULL: 1). */
int act_job_leading(const struct act_job *jb);

/* ax_pg_exec on jb's connection with jb->err. */
PGresult *act_job_q(struct act_job *jb, const char *sql, int n, const char *const *params);

/* An incident_events row on incident (stage, output: borrowed) and its
 * incident.stage event, published after COMMIT. */
void act_job_stage(struct act_job *jb, const char *incident_id, const char *stage,
		   const char *trace, const cJSON *output);
/* A notify action on incident: the actions row (pending, no signal) now,
 * appended to alexus:actions after COMMIT.  event is the payload's
 * "event"; extra (may be NULL, consumed) holds more top-level payload
 * fields.  The incident snapshot is read in this transaction.  id
 * receives the action id.  AX_EIO with jb->err. */
ax_err act_job_notify(struct act_job *jb, const char *incident_id, const char *event,
		      const char *trace, cJSON *extra, char id[AX_UUID_LEN]) AX_MUSTCHECK;
/* SELECT audit_append('act', action, subject, detail, trace).  AX_EIO. */
ax_err act_job_audit(struct act_job *jb, const char *action, const char *subject,
		     const cJSON *detail, const char *trace) AX_MUSTCHECK;
/* An event (JSON text, copied) published after COMMIT. */
void act_job_event(struct act_job *jb, const char *json);
/* An existing action (id, its kind, trace and payload text: copied)
 * appended to alexus:actions after COMMIT -- once per ACT_JOBS_OUTBOX_TTL_MS
 * (the outbox key), so a job that finds it again appends nothing. */
void act_job_append(struct act_job *jb, const char *kind, const char *id, const char *trace,
		    const char *payload);

/* ---------------------------------------------------------------- the jobs
 *
 * Each takes at most ACT_JOBS_ROWS rows of jb->tenant in one transaction
 * (begun and committed inside), and is safe without the leader lock: rows
 * are taken FOR UPDATE SKIP LOCKED and every change is guarded by the
 * state it moves from.  AX_OK (also when there was nothing to do), or an
 * error with jb->err (rolled back; the next pass retries). */

/* gate.c: incidents whose status changed (gate_pending, 0017) -- a
 * resolve records a resolutions row, a reopen regresses the pending one. */
ax_err act_gate_record(struct act_job *jb) AX_MUSTCHECK;
/* gate.c: pending resolutions past verify_after: verified (a known fix in
 * the knowledge graph) or regressed (the incident reopened, or linked to
 * its group's open incident). */
ax_err act_gate_verify(struct act_job *jb) AX_MUSTCHECK;
/* escalate.c: unacknowledged open incidents one level up their tenant's
 * escalation policy when the next step is due. */
ax_err act_escalate(struct act_job *jb) AX_MUSTCHECK;
/* expire.c: pending approvals past expires_at. */
ax_err act_expire_approvals(struct act_job *jb) AX_MUSTCHECK;
/* expire.c: remediate actions still pending ACT_RESUME_AFTER_S after
 * their approval was decided (the decider's append to alexus:actions
 * failed): appended again, so act runs the policy with the decision. */
ax_err act_resume_decided(struct act_job *jb) AX_MUSTCHECK;
/* Seconds a decided approval's action may wait for the decider's own
 * append before the jobs append it.  jobs_due_tenants() (0021) uses the
 * same figure: change both together. */
#define ACT_RESUME_AFTER_S 60

/* ---------------------------------------------------------------- escalation policy */

#define ACT_ESCALATION_STEPS_MAX 10
/* The column default of tenant_settings.escalation_policy (0017), for a
 * tenant without a settings row.  Change both together. */
#define ACT_ESCALATION_DEFAULT                                                   \
	"{\"steps\": [{\"level\": 1, \"after_s\": 900}, {\"level\": 2, \"after_s\": 1800}, " \
	"{\"level\": 3, \"after_s\": 3600}]}"

struct act_escalation_policy {
	long after_s[ACT_ESCALATION_STEPS_MAX];  /* after_s[i]: level i + 1 */
	int n;
};

/* Parse a policy document (the shape 0017's CHECK enforces: steps of
 * levels 1..n in order, whole non-negative after_s, non-decreasing).
 * AX_EINVAL with errbuf naming the first problem. */
ax_err act_escalation_policy_parse(const char *text, struct act_escalation_policy *p,
				   char *errbuf, size_t errlen) AX_MUSTCHECK;

/* What to do with an incident at level (0 = not escalated) that opened
 * age_s seconds ago. */
struct act_escalation_step {
	int due;          /* 1: escalate to level + 1 now */
	int next;         /* level + 1, or 0 when level is the policy's last */
	long after_s;     /* the next level's after_s (when next > 0) */
	long then_s;      /* after escalating: the level after next's after_s, -1 when none */
};
void act_escalation_next(const struct act_escalation_policy *p, int level, double age_s,
			 struct act_escalation_step *s);

#endif /* ACT_JOBS_H */
