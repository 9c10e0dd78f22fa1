/* escalate.c - unacknowledged open incidents step up their tenant's
 * escalation policy (tenant_settings.escalation_policy, 0017): level 1,
 * 2, 3... each after_s seconds after the incident opened.
 *
 * The due-scan is incidents.escalate_at (partial index
 * incidents_escalation_due): a new incident starts with escalate_at =
 * now(), and the job, finding it due, either escalates it or -- when the
 * next step's time has not come -- moves escalate_at to that time; after
 * the last level escalate_at is NULL.  So each incident is looked at
 * about once per level, however often the job ticks.
 *
 * One step: the level goes up by one in an UPDATE guarded by the level
 * read (WHERE escalation_level = previous), so no level is ever paged
 * twice, whatever the replicas do; in the same transaction a notify
 * action incident.escalated (payload "escalation": {level, previous,
 * step}), an incident_events row "escalated" and an audit row
 * incident.escalated.  The action reaches alexus:actions after COMMIT
 * through the jobs' idempotent outbox (jobs.c).  An incident several
 * levels behind (act was down) climbs one level per pass, each paged.
 * acknowledged_at stops it: the due-scan skips acknowledged incidents and
 * the guard refuses one acknowledged meanwhile.  Incidents reason is
 * writing right now are skipped (SKIP LOCKED) and taken next pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "alexus/json.h"
#include "alexus/log.h"

static const char Q_POLICY[] =
	"SELECT s.escalation_policy::text FROM (SELECT 1) AS one "
	"LEFT JOIN tenant_settings s ON true";
static const char Q_DUE[] =
	"SELECT id, escalation_level, extract(epoch FROM now() - opened_at) FROM incidents "
	"WHERE status = 'open' AND acknowledged_at IS NULL AND escalate_at IS NOT NULL "
	"AND escalate_at <= now() ORDER BY escalate_at LIMIT $1 FOR UPDATE SKIP LOCKED";
/* $2 NULL: no later step. */
static const char Q_LATER[] =
	"UPDATE incidents SET escalate_at = CASE WHEN $2::int IS NULL THEN NULL "
	"ELSE opened_at + make_interval(secs => $2::int) END WHERE id = $1";
/* $2 the new level, $3 the step after it (NULL: none). */
static const char Q_BUMP[] =
	"UPDATE incidents SET escalation_level = $2::int, escalated_at = now(), "
	"updated_at = now(), "
	"escalate_at = CASE WHEN $3::int IS NULL THEN NULL "
	"ELSE opened_at + make_interval(secs => $3::int) END "
	"WHERE id = $1 AND escalation_level = $2::int - 1 AND status = 'open' "
	"AND acknowledged_at IS NULL";

ax_err act_escalation_policy_parse(const char *text, struct act_escalation_policy *p,
				   char *errbuf, size_t errlen)
{
	cJSON *doc = text != NULL ? ax_json_parse(text, strlen(text), 8) : NULL;
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(doc, "steps"), *s;
	ax_err rc = AX_EINVAL;
	int n = 0;

	memset(p, 0, sizeof(*p));
	if (!cJSON_IsObject(doc) || !cJSON_IsArray(steps) || cJSON_GetArraySize(steps) < 1 ||
	    cJSON_GetArraySize(steps) > ACT_ESCALATION_STEPS_MAX) {
		ax_errfmt(errbuf, errlen, "escalation policy: want {\"steps\": [1..%d steps]}",
			  ACT_ESCALATION_STEPS_MAX);
		goto out;
	}
	cJSON_ArrayForEach(s, steps)
	{
		const cJSON *lv = cJSON_GetObjectItemCaseSensitive(s, "level");
		const cJSON *af = cJSON_GetObjectItemCaseSensitive(s, "after_s");

		if (!cJSON_IsNumber(lv) || lv->valuedouble != n + 1) {
			ax_errfmt(errbuf, errlen, "escalation policy: step %d: level must be %d",
				  n + 1, n + 1);
			goto out;
		}
		if (!cJSON_IsNumber(af) || af->valuedouble < 0 || af->valuedouble > 2592000 ||
		    af->valuedouble != (double)(long)af->valuedouble ||
		    (n > 0 && (long)af->valuedouble < p->after_s[n - 1])) {
			ax_errfmt(errbuf, errlen,
				  "escalation policy: step %d: after_s must be whole seconds in "
				  "[0, 2592000], not before the step above", n + 1);
			goto out;
		}
		p->after_s[n++] = (long)af->valuedouble;
	}
	p->n = n;
	rc = AX_OK;
out:
	cJSON_Delete(doc);
	if (rc != AX_OK)
		memset(p, 0, sizeof(*p));
	return rc;
}

void act_escalation_next(const struct act_escalation_policy *p, int level, double age_s,
			 struct act_escalation_step *s)
{
	memset(s, 0, sizeof(*s));
	s->then_s = -1;
	if (level < 0 || level >= p->n)
		return;
	s->next = level + 1;
	s->after_s = p->after_s[level];
	s->due = age_s >= (double)s->after_s;
	if (level + 1 < p->n)
		s->then_s = p->after_s[level + 1];
}

static ax_err escalate_one(struct act_job *jb, const char *id, int level, double after_s,
			   long then_s)
{
	char lv[16], then[24], trace[AX_TRACE_LEN], action[AX_UUID_LEN], subject[64];
	const char *p[3] = { id, lv, then_s >= 0 ? then : NULL };
	PGresult *res;
	cJSON *extra, *e, *step, *out;
	ax_err rc;

	snprintf(lv, sizeof(lv), "%d", level);
	snprintf(then, sizeof(then), "%ld", then_s);
	res = act_job_q(jb, Q_BUMP, 3, p);
	if (res == NULL)
		return AX_EIO;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		PQclear(res);
		return AX_OK;   /* acknowledged or escalated meanwhile */
	}
	PQclear(res);
	ax_trace_new(trace);
	extra = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(extra, "escalation");
	if (e == NULL)
		abort();
	cJSON_AddNumberToObject(e, "level", level);
	cJSON_AddNumberToObject(e, "previous", level - 1);
	step = cJSON_AddObjectToObject(e, "step");
	if (step == NULL)
		abort();
	cJSON_AddNumberToObject(step, "level", level);
	cJSON_AddNumberToObject(step, "after_s", after_s);
	out = cJSON_Duplicate(e, 1);
	if (out == NULL)
		abort();
	if (act_job_notify(jb, id, "incident.escalated", trace, extra, action) != AX_OK) {
		cJSON_Delete(out);
		return AX_EIO;
	}
	cJSON_AddStringToObject(out, "action_id", action);
	cJSON_AddStringToObject(out, "by", jb->consumer);
	act_job_stage(jb, id, "escalated", trace, out);
	snprintf(subject, sizeof(subject), "incident:%s", id);
	rc = act_job_audit(jb, "incident.escalated", subject, out, trace);
	cJSON_Delete(out);
	if (rc == AX_OK)
		ax_log(AX_LOG_INFO, trace, jb->tenant,
		       "incident %s escalated to level %d (action %s)", id, level, action);
	return rc;
}

ax_err act_escalate(struct act_job *jb)
{
	struct act_escalation_policy pol;
	char lim[16];
	const char *p[1] = { lim };
	PGresult *res, *due;
	ax_err rc = AX_OK;
	int i;

	if (act_job_begin(jb) != AX_OK)
		return AX_EIO;
	snprintf(lim, sizeof(lim), "%d", ACT_JOBS_ROWS);
	due = act_job_q(jb, Q_DUE, 1, p);
	if (due == NULL)
		goto fail;
	if (PQntuples(due) == 0) {
		PQclear(due);
		act_job_abort(jb);
		return AX_OK;
	}
	res = act_job_q(jb, Q_POLICY, 0, NULL);
	if (res == NULL) {
		PQclear(due);
		goto fail;
	}
	rc = act_escalation_policy_parse(PQgetisnull(res, 0, 0) ? ACT_ESCALATION_DEFAULT :
				       PQgetvalue(res, 0, 0), &pol, jb->err, sizeof(jb->err));
	PQclear(res);
	if (rc != AX_OK) {
		PQclear(due);
		goto fail;
	}
	for (i = 0; i < PQntuples(due) && rc == AX_OK; i++) {
		const char *id = PQgetvalue(due, i, 0);
		struct act_escalation_step st;
		char when[24];

		act_escalation_next(&pol, atoi(PQgetvalue(due, i, 1)),
				    strtod(PQgetvalue(due, i, 2), NULL), &st);
		if (st.due) {
			rc = escalate_one(jb, id, st.next, (double)st.after_s, st.then_s);
		} else {
			const char *pl[2] = { id, st.next > 0 ? when : NULL };

			snprintf(when, sizeof(when), "%ld", st.after_s);
			res = act_job_q(jb, Q_LATER, 2, pl);
			rc = res != NULL ? AX_OK : AX_EIO;
			PQclear(res);
		}
	}
	PQclear(due);
	if (rc != AX_OK)
		goto fail;
	return act_job_commit(jb);
fail:
	act_job_abort(jb);
	return AX_EIO;
}
