/* handle.c - one alexus:actions entry, end to end (see act.h).
 *
 * A remediate entry goes to act_remediate (remediate.c).  A notify entry
 * fans out to the tenant's targets (notify/route.h), each delivered,
 * retried and recorded on its own (notify/delivery.h).  This file makes
 * the action's first pass:
 *
 *   1. Claim, one short transaction: lock the action row (FOR UPDATE),
 *      refuse unknown ones, acknowledge finished ones (a duplicate
 *      delivery: reason may append an action twice after a crash), mark
 *      it 'running' and count the delivery.  The first time, route the
 *      event and insert one deliveries row per target, leased to this
 *      pass; an action without any target is settled 'skipped' right
 *      there.  A redelivered entry (after a crash) finds the rows instead
 *      and takes only the targets that are due and not leased.  COMMIT.
 *   2. One attempt per target taken, outside any transaction (the legacy
 *      webhook with its short in-call retries).
 *   3. Record every attempt and its target's new state in one
 *      transaction; when no target is left pending it also gives the
 *      action its final status and its one audit row.
 *   4. Publish action.finished if the action settled here, then XACK.  A
 *      target still pending does not hold the entry: the retry thread
 *      (notify/retry.c) owns it from now on.
 *
 * A crash between 2 and 3 repeats the attempts later, with the same
 * Idempotency-Key (at least once towards external systems).  A Postgres
 * failure in 3 is not a crash: the pass -- outcomes and leases -- stays
 * in memory and the worker's retry of the same entry resumes it,
 * recording what was sent instead of sending it again.  Only the worker
 * thread calls act_handle, so that one pass can live in a static. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "notify/delivery.h"
#include "notify/notify.h"
#include "notify/route.h"
#include "alexus/failpoint.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/worker.h"

static const char Q_CLAIM[] =
	"SELECT status, type, payload::text FROM actions WHERE id = $1 FOR UPDATE";
static const char Q_RUNNING[] =
	"UPDATE actions SET status = 'running', attempts = attempts + 1, updated_at = now() "
	"WHERE id = $1";

enum verdict {
	V_UNKNOWN,     /* no such action: dead letter */
	V_NOT_NOTIFY,  /* not a notify action: dead letter */
	V_FINISHED,    /* already final: acknowledge */
	V_SETTLED,     /* the claim gave it its final status (no target, bad payload) */
	V_WORK,        /* jobs to attempt and record */
};

/* One first pass of one action.  Kept between calls only while its
 * recording waits for Postgres (see the top of the file). */
struct pass {
	char action_id[AX_UUID_LEN];
	char tenant[AX_TENANT_MAX + 1];
	int active;                  /* a pass to resume for this action */
	int n;
	struct act_job jobs[ACT_TARGET_MAX];
	struct act_settle settled;   /* the record that settled the action, if one did */
};

static struct pass cur;

static void pass_reset(struct pass *p)
{
	act_jobs_release(p->jobs, p->n);
	memset(p, 0, sizeof(*p));
}

static int finished(const char *status)
{
	return strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
	       strcmp(status, "skipped") == 0;
}

static ax_err dead_letter(redisContext *c, const struct ax_entry *e, const char *why,
			  char *errbuf, size_t errlen)
{
	return ax_worker_dead_letter(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e, why, errbuf, errlen);
}

/* Settle the action without targets inside the claim transaction. */
static ax_err settle_now(struct act *a, const struct ax_entry *e, struct pass *p,
			 const char *event, const char *incident_id, const char *status,
			 const char *why, char *errbuf, size_t errlen)
{
	struct act_settle *st = &p->settled;

	if (act_delivery_finish_empty(a, e->tenant, e->id, event, incident_id, e->trace, status,
				      why, errbuf, errlen) != AX_OK)
		return AX_EIO;
	st->settled = 1;
	snprintf(st->status, sizeof(st->status), "%s", status);
	snprintf(st->event, sizeof(st->event), "%s", event != NULL ? event : "");
	snprintf(st->incident_id, sizeof(st->incident_id), "%s",
		 incident_id != NULL ? incident_id : "");
	snprintf(st->trace, sizeof(st->trace), "%s", e->trace != NULL ? e->trace : "");
	return AX_OK;
}

/* Step 1.  Fills p (a fresh pass) and *v; a failure is rolled back. */
static ax_err claim(struct act *a, const struct ax_entry *e, struct pass *p, enum verdict *v,
		    char *errbuf, size_t errlen)
{
	const char *p_id[1] = { e->id };
	char targets[ACT_TARGET_MAX][ACT_TARGET_NAME];
	char *status = NULL, *type = NULL, *payload_text = NULL;
	cJSON *payload = NULL;
	struct act_event ev;
	PGresult *res;
	ax_err rc = AX_EIO;
	int n, k, i;

	if (ax_pg_begin(a->pg, e->tenant, errbuf, errlen) != AX_OK)
		return AX_EIO;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_CLAIM, 1, p_id);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		ax_pg_rollback(a->pg);
		*v = V_UNKNOWN;
		return AX_OK;
	}
	status = ax_xstrdup(PQgetvalue(res, 0, 0));
	type = ax_xstrdup(PQgetvalue(res, 0, 1));
	payload_text = ax_xstrdup(PQgetvalue(res, 0, 2));
	PQclear(res);
	if (strcmp(type, "notify") != 0 || finished(status)) {
		ax_pg_rollback(a->pg);
		*v = strcmp(type, "notify") != 0 ? V_NOT_NOTIFY : V_FINISHED;
		rc = AX_OK;
		goto out;
	}
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_RUNNING, 1, p_id);
	if (res == NULL)
		goto fail;
	PQclear(res);

	snprintf(p->action_id, sizeof(p->action_id), "%s", e->id);
	snprintf(p->tenant, sizeof(p->tenant), "%s", e->tenant);
	payload = ax_json_parse(payload_text, strlen(payload_text), AX_JSON_ENTRY_DEPTH);
	if (payload == NULL || act_event_init(&ev, e->tenant, e->id, e->trace, payload,
					      a->cfg->public_url) != 0) {
		if (settle_now(a, e, p, ax_json_str(payload, "event"),
			       ax_json_str(payload, "incident_id"), "failed",
			       "action payload is not a notify document", errbuf, errlen) != AX_OK)
			goto fail;
		*v = V_SETTLED;
		goto commit;
	}
	n = act_delivery_count(a, e->id, errbuf, errlen);
	if (n < 0)
		goto fail;
	if (n == 0) {
		k = act_route(a, &ev, targets, ACT_TARGET_MAX, errbuf, errlen);
		if (k < 0)
			goto fail;
		if (k == 0) {
			if (settle_now(a, e, p, ev.event, ax_json_str(payload, "incident_id"),
				       "skipped", "no notification target for this event", errbuf,
				       errlen) != AX_OK)
				goto fail;
			*v = V_SETTLED;
			goto commit;
		}
		if (act_delivery_insert(a, e->tenant, e->id, e->stream_id, targets, k, p->jobs,
					&p->n, errbuf, errlen) != AX_OK)
			goto fail;
	} else if (act_delivery_take_action(a, e->id, p->jobs, n < ACT_TARGET_MAX ? n :
					    ACT_TARGET_MAX, &p->n, errbuf, errlen) != AX_OK) {
		goto fail;
	}
	for (i = 0; i < p->n; i++) {
		p->jobs[i].payload_text = ax_xstrdup(payload_text);
		snprintf(p->jobs[i].trace, sizeof(p->jobs[i].trace), "%s",
			 e->trace != NULL ? e->trace : "");
	}
	*v = V_WORK;
commit:
	if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK) {
		pass_reset(p);
		goto out;
	}
	rc = AX_OK;
	goto out;
fail:
	ax_pg_rollback(a->pg);
	pass_reset(p);
out:
	cJSON_Delete(payload);
	free(status);
	free(type);
	free(payload_text);
	return rc;
}

static void log_job(const struct ax_entry *e, const struct act_job *j, const char *event)
{
	if (j->skipped)
		ax_log(AX_LOG_INFO, e->trace, e->tenant, "notify %s, action %s: %s skipped (%s)",
		       event, e->id, j->target, j->out.error);
	else if (j->out.ok)
		ax_log(AX_LOG_INFO, e->trace, e->tenant,
		       "notify %s, action %s: %s delivered (status %ld after %d request(s), %s)",
		       event, e->id, j->target, j->out.http_status, j->requests, j->out.host);
	else
		ax_log(AX_LOG_INFO, e->trace, e->tenant,
		       "notify %s, action %s: %s failed (%s)%s", event, e->id, j->target,
		       j->out.error, j->out.retryable ? ", will retry" : "");
}

/* Steps 2 and 3 over the pass (fresh or resumed): the attempts not made
 * yet, then one transaction recording every attempt not recorded yet. */
static ax_err run_pass(struct act *a, const struct ax_entry *e, struct pass *p, char *errbuf,
		       size_t errlen)
{
	struct act_settle st[ACT_TARGET_MAX];
	int i, touched = 0;

	for (i = 0; i < p->n; i++) {
		struct act_job *j = &p->jobs[i];

		if (j->done || j->recorded)
			continue;
		if (*a->stop) {
			/* Leave it to the retry schedule, at once. */
			act_delivery_release(a, e->tenant, j);
			j->recorded = 1;
			continue;
		}
		if (!touched++)
			ax_failpoint("act.after_claim");
		act_delivery_attempt(a, e->tenant, j);
	}
	ax_failpoint("act.after_deliver");
	if (act_delivery_record(a, e->tenant, p->jobs, p->n, st, errbuf, errlen) != AX_OK)
		return AX_EIO;      /* the pass stays, to be resumed */
	for (i = 0; i < p->n; i++) {
		if (p->jobs[i].done)
			log_job(e, &p->jobs[i], st[i].event[0] ? st[i].event : "?");
		if (st[i].settled)
			p->settled = st[i];
	}
	return AX_OK;
}

static ax_err notify(struct act *a, redisContext *c, const struct ax_entry *e, char *errbuf,
		     size_t errlen)
{
	struct pass *p = &cur;
	enum verdict v = V_WORK;
	ax_err rc;

	if (!(p->active && strcmp(p->action_id, e->id) == 0 && strcmp(p->tenant, e->tenant) == 0)) {
		pass_reset(p);
		rc = claim(a, e, p, &v, errbuf, errlen);
		if (rc != AX_OK)
			return rc;
		if (v == V_UNKNOWN || v == V_NOT_NOTIFY) {
			pass_reset(p);
			return dead_letter(c, e, v == V_UNKNOWN ? "unknown action" :
						   "unsupported action type", errbuf, errlen);
		}
		if (v == V_FINISHED) {
			pass_reset(p);
			rc = ax_group_ack(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e->stream_id, errbuf,
					  errlen);
			if (rc == AX_OK)
				ax_log(AX_LOG_INFO, e->trace, e->tenant,
				       "action %s already finished: duplicate delivery "
				       "acknowledged", e->id);
			return rc;
		}
		p->active = 1;
	} else {
		ax_log(AX_LOG_INFO, e->trace, e->tenant,
		       "action %s: recording the attempts already made", e->id);
	}

	rc = run_pass(a, e, p, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	ax_failpoint("act.after_commit");
	act_delivery_publish(c, e->tenant, e->id, &p->settled);
	if (p->settled.settled)
		ax_log(AX_LOG_INFO, e->trace, e->tenant, "notify %s for incident %s: action %s %s",
		       p->settled.event[0] ? p->settled.event : "?",
		       p->settled.incident_id[0] ? p->settled.incident_id : "?", e->id,
		       p->settled.status);
	pass_reset(p);
	return ax_group_ack(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e->stream_id, errbuf, errlen);
}

ax_err act_handle(struct act *a, redisContext *c, const struct ax_entry *e, char *errbuf,
		  size_t errlen)
{
	const char *why;

	ax_failpoint("act.after_read");
	if (e->deleted)
		return ax_group_ack(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e->stream_id, errbuf, errlen);
	if (e->kind != NULL && strcmp(e->kind, "remediate") == 0) {
		why = ax_entry_problem(e, "remediate");
		return why != NULL ? dead_letter(c, e, why, errbuf, errlen) :
				     act_remediate(a, c, e, errbuf, errlen);
	}
	why = ax_entry_problem(e, "notify");
	if (why != NULL)
		return dead_letter(c, e, why, errbuf, errlen);
	return notify(a, c, e, errbuf, errlen);
}
