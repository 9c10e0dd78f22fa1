/* run.h - the reasoning state machine after classify: pipeline runs.
 *
 * handle.c opens an incident and runs stage 1, classify, inside the
 * grouping transaction (the heuristic is fast); in the same COMMIT it
 * inserts a pipeline_runs row (0009).  The remaining stages are slow -- a
 * retrieval over the graph, a model call of seconds -- and must neither
 * hold the grouping transaction's locks nor be lost in a crash, so they
 * run here, each stage its own transaction that also advances
 * pipeline_runs.stage:
 *
 *   incident run:  incident_or_cmdb  retrieval (reason/retrieve.h), the
 *                                    model or the heuristic, calibration
 *                                    (reason/decide.h); an analysis_runs row
 *                  confidence_check  the tenant's thresholds -> decision
 *                  execute | clarify | escalate   the decision's actions in
 *                                    the outbox (and a triage_queue row for
 *                                    clarify), then appended to
 *                                    alexus:actions, then the run succeeds
 *   cmdb run:      incident_or_cmdb  the CMDBAgent (reason/cmdb.h) updates
 *                                    the graph; the run succeeds
 *
 * Every stage writes an incident_events row carrying the run id and the
 * trace, and publishes it on the tenant's channel after COMMIT.
 *
 * Who runs a run.  A run is leased (pipeline_runs.lease_until, for
 * ALEXUS_RUN_LEASE_S): the process that created it holds a lease and
 * hands it to its own
 * runner threads at once (reason_runner_offer); any process's sweeper
 * takes runs whose lease ran out (a crashed worker) or whose backoff is
 * over.  Each stage commits only while the lease it claimed is still the
 * run's (the lease time is the token), so two processes never both
 * advance a run.  A failed stage (Postgres, Redis, the graph) is retried
 * with exponential backoff from the stage it failed in, up to
 * REASON_RUN_MAX_ATTEMPTS claims; then the run is 'failed' with its
 * error.  A model failure is not a stage failure: the heuristic answers
 * and the analysis row says the fallback was used and why.
 *
 * Actions are the outbox pattern again: written in the decision stage's
 * transaction, appended after COMMIT, and the run marked succeeded only
 * after they were appended; a run resumed at its decision stage only
 * re-appends its still pending actions (act is idempotent by action id). */
#ifndef REASON_RUN_H
#define REASON_RUN_H

#include <signal.h>
#include <stddef.h>
#include <hiredis/hiredis.h>

#include "alexus/config.h"
#include "alexus/err.h"

#define REASON_RUN_MAX_ATTEMPTS 8
#define REASON_RUN_BACKOFF_MAX_S 300
#define REASON_RUN_SWEEP_MS 2000   /* how often a runner looks for due runs */
#define REASON_DEPLOY_WINDOW_S 3600 /* deploys this recent are suspects */
#define REASON_PROMPT_BUDGET 12000 /* bytes of context sent to the model */

/* One agent: the connections a thread runs stages with.  Exposed so a
 * test can run a run synchronously. */
struct reason_agent;

struct reason_agent *reason_agent_new(const struct ax_config *cfg, char *errbuf, size_t errlen);
void reason_agent_free(struct reason_agent *a);   /* NULL-safe */

/* Claim run_id of tenant and run its stages to the end.  own: the caller
 * created the run (it may take the creator's lease).  AX_OK: finished,
 * or not claimable (someone else holds it, or it is done) -- *ran says
 * which (1 = this call advanced it).  Anything else: a stage failed; the
 * run was released with a backoff (or marked failed), errbuf says why. */
ax_err reason_agent_run(struct reason_agent *a, const char *tenant, const char *run_id, int own,
			int *ran, char *errbuf, size_t errlen) AX_MUSTCHECK;

/* Run every due run of every tenant (at most max in all); *n gets how
 * many were advanced. */
ax_err reason_agent_sweep(struct reason_agent *a, int max, int *n, char *errbuf,
			  size_t errlen) AX_MUSTCHECK;

/* The process's runner: threads agents, each taking offered runs first
 * and sweeping every REASON_RUN_SWEEP_MS.  stop is the daemon's flag. */
struct reason_runner;

struct reason_runner *reason_runner_start(const struct ax_config *cfg, int threads,
					  volatile sig_atomic_t *stop, char *errbuf,
					  size_t errlen);
/* Hand a run just committed to the runner; never blocks (a full queue
 * leaves it to a sweeper once its offer lease runs out). */
void reason_runner_offer(struct reason_runner *rr, const char *tenant, const char *run_id);
/* Stop the threads (after their current run) and free. */
void reason_runner_stop(struct reason_runner *rr);

/* The system text of an investigation (the analysis shape's instructions
 * are appended by reason_llm_call). */
extern const char REASON_SYSTEM_PROMPT[];

#endif /* REASON_RUN_H */
