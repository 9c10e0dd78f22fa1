/* expire.c - approvals nobody decided in time, and decided ones whose
 * action never moved on (act_resume_decided, at the end).
 *
 * Approvals nobody decided in time.  Expired means rejected
 * (issue 6): the approval's decision becomes 'expired' (decided_by
 * 'act'), its action -- if it is still waiting ('pending') -- 'skipped'
 * with result {"reason": "approval expired"}, an audit row
 * approval.expired, and after COMMIT an approval.expired event on the
 * tenant's channel.
 *
 * The due-scan is approvals_pending (0003: decision IS NULL, by
 * expires_at).  The approval is taken FOR UPDATE SKIP LOCKED and changed
 * only WHERE decision IS NULL, so a human's decision racing the expiry
 * wins or loses as a whole: the one that commits first decides, the
 * other changes nothing; and the action only WHERE status = 'pending',
 * so an action already running or finished is left as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "alexus/json.h"
#include "alexus/log.h"

/* The action's trace by a key probe per row (a join would be planned
 * over the tenant's whole actions: tenant_id has no statistics, 0015). */
static const char Q_DUE[] =
	"SELECT ap.id, ap.action_id, "
	"to_char(ap.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"(SELECT a.trace FROM actions a WHERE a.id = ap.action_id) "
	"FROM approvals ap WHERE ap.decision IS NULL AND ap.expires_at <= now() "
	"ORDER BY ap.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED";
static const char Q_EXPIRE[] =
	"UPDATE approvals SET decision = 'expired', decided_by = 'act', decided_at = now() "
	"WHERE id = $1 AND decision IS NULL";
static const char Q_SKIP[] =
	"UPDATE actions SET status = 'skipped', result = '{\"reason\": \"approval expired\"}', "
	"updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING incident_id";

static ax_err expire_one(struct act_job *jb, const char *id, const char *action,
			 const char *expires_at, const char *action_trace)
{
	const char *p[1] = { id }, *pa[1] = { action };
	char trace[AX_TRACE_LEN], subject[64], *text;
	const char *incident = NULL;
	PGresult *res, *sk;
	cJSON *d, *ev;
	ax_err rc;

	res = act_job_q(jb, Q_EXPIRE, 1, p);
	if (res == NULL)
		return AX_EIO;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		PQclear(res);
		return AX_OK;   /* decided meanwhile */
	}
	PQclear(res);
	sk = act_job_q(jb, Q_SKIP, 1, pa);
	if (sk == NULL)
		return AX_EIO;
	if (PQntuples(sk) == 1 && !PQgetisnull(sk, 0, 0))
		incident = PQgetvalue(sk, 0, 0);
	/* The action's trace carries on; a fresh one when it has none. */
	if (action_trace != NULL && action_trace[0] != '\0')
		snprintf(trace, sizeof(trace), "%s", action_trace);
	else
		ax_trace_new(trace);
	d = cJSON_CreateObject();
	if (d == NULL)
		abort();
	cJSON_AddStringToObject(d, "approval_id", id);
	cJSON_AddStringToObject(d, "action_id", action);
	cJSON_AddStringToObject(d, "expires_at", expires_at);
	cJSON_AddBoolToObject(d, "action_skipped", PQntuples(sk) == 1);
	cJSON_AddStringToObject(d, "by", jb->consumer);
	snprintf(subject, sizeof(subject), "action:%s", action);
	rc = act_job_audit(jb, "approval.expired", subject, d, trace);
	cJSON_Delete(d);

	ev = cJSON_CreateObject();
	if (ev == NULL)
		abort();
	cJSON_AddStringToObject(ev, "type", "approval.expired");
	cJSON_AddStringToObject(ev, "tenant", jb->tenant);
	cJSON_AddStringToObject(ev, "approval_id", id);
	cJSON_AddStringToObject(ev, "action_id", action);
	ax_json_add_str(ev, "incident_id", incident, 1);
	cJSON_AddBoolToObject(ev, "action_skipped", PQntuples(sk) == 1);
	cJSON_AddStringToObject(ev, "trace", trace);
	text = ax_json_print(ev);
	cJSON_Delete(ev);
	act_job_event(jb, text);
	free(text);
	PQclear(sk);
	if (rc == AX_OK)
		ax_log(AX_LOG_INFO, trace, jb->tenant, "approval %s of action %s expired", id,
		       action);
	return rc;
}

ax_err act_expire_approvals(struct act_job *jb)
{
	char lim[16];
	const char *p[1] = { lim };
	PGresult *res;
	ax_err rc = AX_OK;
	int i;

	if (act_job_begin(jb) != AX_OK)
		return AX_EIO;
	snprintf(lim, sizeof(lim), "%d", ACT_JOBS_ROWS);
	res = act_job_q(jb, Q_DUE, 1, p);
	if (res == NULL) {
		act_job_abort(jb);
		return AX_EIO;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		act_job_abort(jb);
		return AX_OK;
	}
	for (i = 0; i < PQntuples(res) && rc == AX_OK; i++)
		rc = expire_one(jb, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				PQgetvalue(res, i, 2),
				PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
	PQclear(res);
	if (rc != AX_OK) {
		act_job_abort(jb);
		return AX_EIO;
	}
	return act_job_commit(jb);
}

/* ---------------------------------------------------------------- resume */

/* Decided approvals whose remediate action never moved on.  The join is
 * driven by actions_remediate_pending (0021), a small set per tenant. */
static const char Q_UNRESUMED[] =
	"SELECT x.id, x.payload::text, coalesce(x.trace, '-'), ap.decision "
	"FROM actions x JOIN approvals ap ON ap.action_id = x.id "
	"WHERE x.status = 'pending' AND x.type = 'remediate' "
	"AND ap.decision IN ('approved', 'rejected') "
	"AND ap.decided_at <= now() - make_interval(secs => $1) "
	"ORDER BY x.id LIMIT $2";

ax_err act_resume_decided(struct act_job *jb)
{
	char after[16], lim[16];
	const char *p[2] = { after, lim };
	PGresult *res;
	int i;

	if (act_job_begin(jb) != AX_OK)
		return AX_EIO;
	snprintf(after, sizeof(after), "%d", ACT_RESUME_AFTER_S);
	snprintf(lim, sizeof(lim), "%d", ACT_JOBS_ROWS);
	res = act_job_q(jb, Q_UNRESUMED, 2, p);
	if (res == NULL) {
		act_job_abort(jb);
		return AX_EIO;
	}
	for (i = 0; i < PQntuples(res); i++) {
		const char *trace = PQgetvalue(res, i, 2);

		ax_log(AX_LOG_WARN, trace, jb->tenant,
		       "action %s: %s %d s ago and still pending: appended again",
		       PQgetvalue(res, i, 0), PQgetvalue(res, i, 3), ACT_RESUME_AFTER_S);
		act_job_append(jb, "remediate", PQgetvalue(res, i, 0), trace,
			       PQgetvalue(res, i, 1));
	}
	PQclear(res);
	/* Nothing written: the commit only releases the snapshot and runs
	 * the appends. */
	return act_job_commit(jb);
}
