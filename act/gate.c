/* gate.c - the Resolution Quality Gate: ALEXUS_QUALITY_GATE_S (48 h by
 * default) after an incident resolves, did the fix hold?
 *
 * Two jobs (jobs.h), each one transaction per tenant:
 *
 * act_gate_record finds the incidents whose status changed (the
 * gate_pending flag a trigger sets, 0017).  A resolve becomes a
 * resolutions row: fingerprint and ci of the incident's first alert (ci
 * is its root machine, the host else the Kubernetes node label, as
 * reason's parent rule has it), a summary of what fixed it (the last
 * diagnosis and the remediations that ran, "resolved without action"
 * when none ran), verify_after = resolved_at + the gate, and
 * history_mark (0017).  A reopen -- reason's flapping rule brought the
 * alert back into the same incident -- regresses the incident's pending
 * resolution at once: the fix did not hold, and waiting for the gate
 * would only call it what it is later.  (Superseding it instead would
 * hide the failure; the incident's next resolve gets a new resolution.)
 * No notification for that: reason already reopened the incident, and
 * like reason's flapping it must not page at every flap.
 *
 * act_gate_verify takes the pending resolutions whose verify_after has
 * passed.  The fix failed if, after the resolve, any fingerprint of the
 * incident fired again (an alert_history row to 'firing' of an alert
 * with that fingerprint, in any incident, later than the resolve by time
 * or by history_mark) or an incident opened on the same ci; else it is
 * verified.
 *   verified:  the fix goes into the knowledge graph as a known error
 *              ("resolution:<id>", its fix the summary, linked to the ci
 *              and service items that exist), then the row is marked.
 *              The upsert comes first and is idempotent, so a crash or a
 *              rollback before COMMIT only repeats it.
 *   regressed: regressed_incident_id is where it fired again.  The
 *              incident is reopened (status open, stage "reopened"), with
 *              a notify action incident.reopened -- unless its group has
 *              another open incident (incidents_open_group allows one):
 *              then the two are linked by an event on each and nothing is
 *              reopened, since that open incident already is the live
 *              problem and was notified when it opened.
 * Every verdict is an incident_events row "quality_gate" on the incident
 * (with its incident.stage event) and an audit row (resolution.verified,
 * resolution.regressed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/log.h"
#include "alexus/mem.h"

#define TS "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"
#define TITLE_MAX 1000   /* bytes of the incident title in the known fix's title */

static const char Q_DIRTY[] =
	"SELECT id, status FROM incidents WHERE gate_pending ORDER BY id LIMIT $1 "
	"FOR UPDATE SKIP LOCKED";
/* The incident's pending resolution, and whether the incident was
 * reopened since (open now, or resolved again later). */
static const char Q_PENDING_OF[] =
	"SELECT r.id, (i.status = 'open' OR i.resolved_at IS DISTINCT FROM r.resolved_at) "
	"FROM resolutions r JOIN incidents i ON i.id = r.incident_id "
	"WHERE r.incident_id = $1 AND r.state = 'pending' FOR UPDATE OF r";
static const char Q_CLEAR[] = "UPDATE incidents SET gate_pending = false WHERE id = $1";
static const char Q_DIAG[] =
	"SELECT output->'analysis'->>'summary', output->'analysis'->>'probable_cause' "
	"FROM incident_events WHERE incident_id = $1 AND stage = 'incident_or_cmdb' "
	"ORDER BY id DESC LIMIT 1";
/* Remediations that ran for real (a dry run fixed nothing). */
static const char Q_EXECUTED[] =
	"SELECT string_agg(coalesce(payload->>'action', type), ', ' ORDER BY created_at, id) "
	"FROM actions WHERE incident_id = $1 AND type = 'remediate' AND status = 'succeeded' "
	"AND NOT coalesce(result @> '{\"dry_run\": true}', false)";
/* $1 incident, $2 new id, $3 summary, $4 the gate in seconds.  Nothing
 * when the incident is not resolved, this resolve is recorded, or reason
 * closed it as superseded (its group went quiet and a new incident took
 * over: nothing was fixed, its alerts may still fire). */
static const char Q_RECORD[] =
	"WITH i AS (SELECT id, resolved_at FROM incidents WHERE id = $1 AND status = 'resolved' "
	"AND resolved_at IS NOT NULL AND coalesce((SELECT e.output->>'reason' "
	"FROM incident_events e WHERE e.incident_id = $1 AND e.stage = 'resolved' "
	"ORDER BY e.id DESC LIMIT 1), '') "
	"NOT LIKE 'superseded%'), "
	"f AS (SELECT fingerprint, coalesce(nullif(host, ''), nullif(labels->>'node', '')) AS ci "
	"FROM alerts WHERE incident_id = $1 ORDER BY created_at, id LIMIT 1) "
	"INSERT INTO resolutions (tenant_id, id, incident_id, fingerprint, ci, summary, "
	"resolved_at, verify_after, history_mark) "
	"SELECT app_tenant(), $2, i.id, coalesce(f.fingerprint, ''), f.ci, $3, i.resolved_at, "
	"i.resolved_at + make_interval(secs => $4::int), "
	"(SELECT max(h.id) FROM alerts a JOIN alert_history h ON h.alert_id = a.id "
	"WHERE a.incident_id = $1) "
	"FROM i LEFT JOIN f ON true ON CONFLICT DO NOTHING RETURNING id";
/* Due resolutions, then each one's incident by its key: one join would
 * be planned over the tenant's whole incidents (tenant_id has no
 * statistics, 0015), and an incident reason is writing now is skipped
 * until the next pass instead of waited for. */
static const char Q_DUE[] =
	"SELECT id, incident_id, fingerprint, ci, summary, resolved_at::text, "
	"to_char(resolved_at AT TIME ZONE 'UTC', " TS "), "
	"to_char(verify_after AT TIME ZONE 'UTC', " TS ") "
	"FROM resolutions WHERE state = 'pending' AND verify_after <= now() "
	"ORDER BY verify_after LIMIT $1 FOR UPDATE SKIP LOCKED";
/* $2: the resolution's resolved_at.  Reopened: open now, or resolved
 * again later. */
static const char Q_INCIDENT[] =
	"SELECT status = 'open' OR resolved_at IS DISTINCT FROM $2::timestamptz, title, service "
	"FROM incidents WHERE id = $1 FOR UPDATE SKIP LOCKED";
/* The first firing, after resolution $1's resolve, of any fingerprint
 * of its incident: by time, or by history id past the mark (a firing
 * written in the resolve's own transaction carries that transaction's
 * start as "at").  One index probe per fingerprint and alert (alerts_fp,
 * then alert_history's key), fenced by OFFSET 0 as reason does. */
static const char Q_FIRED[] =
	"SELECT a2.incident_id, a2.fingerprint, to_char(h.at AT TIME ZONE 'UTC', " TS ") "
	"FROM resolutions r "
	"CROSS JOIN LATERAL (SELECT DISTINCT fingerprint FROM alerts "
	"WHERE incident_id = r.incident_id) AS f "
	"CROSS JOIN LATERAL (SELECT id, incident_id, fingerprint FROM alerts "
	"WHERE fingerprint = f.fingerprint OFFSET 0) AS a2 "
	"CROSS JOIN LATERAL (SELECT x.id, x.at FROM alert_history x WHERE x.alert_id = a2.id "
	"AND x.to_status = 'firing' AND (x.at > r.resolved_at OR x.id > r.history_mark) "
	"ORDER BY x.id LIMIT 1) AS h "
	"WHERE r.id = $1 ORDER BY h.at, h.id LIMIT 1";
/* The first incident opened on resolution $1's ci after its resolve.
 * Incident ids are version 7 UUIDs, so "opened after" starts as a range
 * of the key (a second early, for clock granularity) instead of a scan. */
static const char Q_CI[] =
	"SELECT i.id, to_char(i.opened_at AT TIME ZONE 'UTC', " TS ") "
	"FROM resolutions r JOIN incidents i ON i.id >= (lpad(to_hex(((extract(epoch FROM "
	"r.resolved_at) - 1) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid "
	"AND i.opened_at > r.resolved_at AND i.id <> r.incident_id "
	"WHERE r.id = $1 AND r.ci IS NOT NULL AND EXISTS (SELECT 1 FROM alerts a "
	"WHERE a.incident_id = i.id AND (a.host = r.ci OR a.labels->>'node' = r.ci)) "
	"ORDER BY i.opened_at LIMIT 1";
static const char Q_GROUP_OPEN[] =
	"SELECT o.id FROM incidents i JOIN incidents o ON o.group_key = i.group_key "
	"AND o.status = 'open' AND o.id <> i.id WHERE i.id = $1";
static const char Q_REGRESS[] =
	"UPDATE resolutions SET state = 'regressed', checked_at = now(), "
	"regressed_incident_id = $2 WHERE id = $1 AND state = 'pending'";
static const char Q_VERIFY[] =
	"UPDATE resolutions SET state = 'verified', checked_at = now() "
	"WHERE id = $1 AND state = 'pending'";
static const char Q_REOPEN[] =
	"UPDATE incidents SET status = 'open', resolved_at = NULL, stage = 'reopened', "
	"updated_at = now() WHERE id = $1 AND status = 'resolved'";

static int changed_one(PGresult *res)
{
	int one = res != NULL && strcmp(PQcmdTuples(res), "1") == 0;

	PQclear(res);
	return one;
}

static const char *val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static cJSON *obj(void)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	return o;
}

/* ---------------------------------------------------------------- record */

/* "what fixed it": the last diagnosis, then the remediations that ran. */
static char *summary_of(struct act_job *jb, const char *incident)
{
	const char *p[1] = { incident };
	PGresult *d = act_job_q(jb, Q_DIAG, 1, p), *x;
	const char *diag = NULL, *cause = NULL, *ran = NULL;
	char *s, *head = NULL, *tail;

	if (d == NULL)
		return NULL;
	x = act_job_q(jb, Q_EXECUTED, 1, p);
	if (x == NULL) {
		PQclear(d);
		return NULL;
	}
	if (PQntuples(d) == 1) {
		diag = val(d, 0, 0);
		cause = val(d, 0, 1);
	}
	if (PQntuples(x) == 1)
		ran = val(x, 0, 0);
	if (diag != NULL && cause != NULL)
		head = ax_xasprintf("%s (probable cause: %s)", diag, cause);
	else if (diag != NULL || cause != NULL)
		head = ax_xasprintf("%s%s", diag != NULL ? "" : "probable cause: ",
				    diag != NULL ? diag : cause);
	tail = ran != NULL ? ax_xasprintf("executed: %s", ran) :
			     ax_xstrdup("resolved without action");
	if (head != NULL) {
		s = ax_xasprintf("%s; %s", head, tail);
		free(head);
		free(tail);
	} else {
		s = tail;
	}
	PQclear(d);
	PQclear(x);
	return s;
}

/* The verdict's event and audit row.  detail is borrowed. */
static ax_err verdict_rows(struct act_job *jb, const char *incident, const char *action,
			   const char *trace, cJSON *detail)
{
	char subject[64];

	snprintf(subject, sizeof(subject), "incident:%s", incident);
	cJSON_AddStringToObject(detail, "by", jb->consumer);
	act_job_stage(jb, incident, "quality_gate", trace, detail);
	return act_job_audit(jb, action, subject, detail, trace);
}

/* Resolution rid of incident was overtaken by a reopen: regressed now. */
static ax_err regress_reopened(struct act_job *jb, const char *rid, const char *incident)
{
	const char *p[2] = { rid, incident };
	char trace[AX_TRACE_LEN];
	cJSON *d;
	ax_err rc;

	if (!changed_one(act_job_q(jb, Q_REGRESS, 2, p)))
		return AX_OK;   /* someone else judged it meanwhile */
	ax_trace_new(trace);
	d = obj();
	cJSON_AddStringToObject(d, "verdict", "regressed");
	cJSON_AddStringToObject(d, "resolution_id", rid);
	cJSON_AddStringToObject(d, "cause", "reopened");
	cJSON_AddStringToObject(d, "regressed_incident_id", incident);
	cJSON_AddBoolToObject(d, "reopened", 0);
	ax_json_add_str(d, "linked_to", NULL, 1);
	rc = verdict_rows(jb, incident, "resolution.regressed", trace, d);
	cJSON_Delete(d);
	if (rc == AX_OK)
		ax_log(AX_LOG_INFO, trace, jb->tenant,
		       "quality gate: resolution %s of incident %s regressed (reopened)", rid,
		       incident);
	return rc;
}

static ax_err record_one(struct act_job *jb, const char *incident, const char *status)
{
	const char *p[1] = { incident };
	PGresult *res = act_job_q(jb, Q_PENDING_OF, 1, p);
	char rid[AX_UUID_LEN], gate[16], *summary;
	ax_err rc = AX_OK;

	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		rc = regress_reopened(jb, PQgetvalue(res, 0, 0), incident);
	PQclear(res);
	if (rc != AX_OK)
		return rc;
	if (strcmp(status, "resolved") == 0) {
		summary = summary_of(jb, incident);
		if (summary == NULL)
			return AX_EIO;
		ax_uuid7(rid);
		snprintf(gate, sizeof(gate), "%d", jb->cfg->quality_gate_s);
		{
			const char *pr[4] = { incident, rid, summary, gate };

			res = act_job_q(jb, Q_RECORD, 4, pr);
		}
		free(summary);
		if (res == NULL)
			return AX_EIO;
		if (PQntuples(res) == 1)
			ax_log(AX_LOG_DEBUG, NULL, jb->tenant,
			       "quality gate: resolution %s of incident %s recorded", rid,
			       incident);
		PQclear(res);
	}
	return changed_one(act_job_q(jb, Q_CLEAR, 1, p)) ? AX_OK : AX_EIO;
}

ax_err act_gate_record(struct act_job *jb)
{
	char lim[16];
	const char *p[1] = { lim };
	PGresult *res;
	int i;

	if (act_job_begin(jb) != AX_OK)
		return AX_EIO;
	snprintf(lim, sizeof(lim), "%d", ACT_JOBS_ROWS);
	res = act_job_q(jb, Q_DIRTY, 1, p);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		act_job_abort(jb);
		return AX_OK;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (record_one(jb, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)) != AX_OK) {
			PQclear(res);
			goto fail;
		}
	}
	PQclear(res);
	return act_job_commit(jb);
fail:
	act_job_abort(jb);
	return AX_EIO;
}

/* ---------------------------------------------------------------- verify */

struct due {
	const char *rid, *incident, *fingerprint, *ci, *summary, *title, *service;
	const char *resolved_at, *verify_after;
	int reopened;
};

/* The longest prefix of s of at most max bytes that ends on a character. */
static size_t utf8_prefix(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* The known fix: an Issue of kind known_error.  *issue_id (caller frees)
 * is its id; AX_OK with NULL when there is no graph. */
static ax_err known_fix(struct act_job *jb, const struct due *d, char **issue_id)
{
	const char *cand[2] = { d->ci, d->service }, *links[2];
	struct ax_graph_issue is;
	char *title, *body;
	size_t n = 0, i;
	ax_err rc;

	*issue_id = NULL;
	if (jb->g == NULL)
		return AX_OK;
	for (i = 0; i < 2; i++) {
		if (cand[i] == NULL || cand[i][0] == '\0')
			continue;
		if (n == 1 && strcmp(links[0], cand[i]) == 0)
			continue;
		rc = ax_graph_item_exists(jb->g, jb->tenant, cand[i], jb->err, sizeof(jb->err));
		if (rc == AX_OK)
			links[n++] = cand[i];
		else if (rc != AX_ENOTFOUND && rc != AX_EINVAL)
			return rc;
	}
	title = ax_xasprintf("Known fix: %.*s", (int)utf8_prefix(d->title, TITLE_MAX), d->title);
	body = ax_xasprintf("Incident %s: %s\nFingerprint: %s\nCI: %s\n"
			    "Resolved at %s; no recurrence until %s.",
			    d->incident, d->title, d->fingerprint,
			    d->ci != NULL ? d->ci : "unknown", d->resolved_at, d->verify_after);
	*issue_id = ax_xasprintf("resolution:%s", d->rid);
	memset(&is, 0, sizeof(is));
	is.id = *issue_id;
	is.kind = "known_error";
	is.title = title;
	is.body = body;
	is.fix = d->summary;
	is.items = links;
	is.nitems = n;
	rc = ax_graph_upsert_issue(jb->g, jb->tenant, &is, jb->err, sizeof(jb->err));
	free(title);
	free(body);
	if (rc != AX_OK) {
		free(*issue_id);
		*issue_id = NULL;
	}
	return rc;
}

static ax_err verified(struct act_job *jb, const struct due *d)
{
	const char *p[1] = { d->rid };
	char trace[AX_TRACE_LEN], *issue = NULL;
	cJSON *det;
	ax_err rc;

	rc = known_fix(jb, d, &issue);
	if (rc != AX_OK)
		return rc;
	if (!changed_one(act_job_q(jb, Q_VERIFY, 1, p))) {
		free(issue);
		return AX_OK;
	}
	ax_trace_new(trace);
	det = obj();
	cJSON_AddStringToObject(det, "verdict", "verified");
	cJSON_AddStringToObject(det, "resolution_id", d->rid);
	cJSON_AddStringToObject(det, "fingerprint", d->fingerprint);
	ax_json_add_str(det, "ci", d->ci, 1);
	cJSON_AddStringToObject(det, "summary", d->summary);
	ax_json_add_str(det, "known_fix", issue, 1);
	if (jb->g == NULL)
		cJSON_AddStringToObject(det, "graph", "unavailable");
	rc = verdict_rows(jb, d->incident, "resolution.verified", trace, det);
	cJSON_Delete(det);
	if (rc == AX_OK)
		ax_log(AX_LOG_INFO, trace, jb->tenant,
		       "quality gate: resolution %s of incident %s verified%s%s", d->rid,
		       d->incident, issue != NULL ? ", known fix " : "",
		       issue != NULL ? issue : "");
	free(issue);
	return rc;
}

/* The fix failed: it fired again in incident `in` (cause "fingerprint"
 * or "ci"; fp the fingerprint that fired, at when). */
static ax_err regressed(struct act_job *jb, const struct due *d, const char *in,
			const char *cause, const char *fp, const char *at)
{
	const char *p[2] = { d->rid, in }, *pi[1] = { d->incident };
	char trace[AX_TRACE_LEN], linked[AX_UUID_LEN] = "", action[AX_UUID_LEN] = "";
	PGresult *res;
	cJSON *det, *extra, *r;
	ax_err rc;

	if (!changed_one(act_job_q(jb, Q_REGRESS, 2, p)))
		return AX_OK;
	res = act_job_q(jb, Q_GROUP_OPEN, 1, pi);
	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) > 0)
		snprintf(linked, sizeof(linked), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	ax_trace_new(trace);
	det = obj();
	cJSON_AddStringToObject(det, "verdict", "regressed");
	cJSON_AddStringToObject(det, "resolution_id", d->rid);
	cJSON_AddStringToObject(det, "cause", cause);
	cJSON_AddStringToObject(det, "regressed_incident_id", in);
	ax_json_add_str(det, "fingerprint", fp, 1);
	ax_json_add_str(det, "ci", d->ci, 1);
	cJSON_AddStringToObject(det, "fired_at", at);
	cJSON_AddBoolToObject(det, "reopened", linked[0] == '\0');
	ax_json_add_str(det, "linked_to", linked[0] != '\0' ? linked : NULL, 1);

	if (linked[0] != '\0') {
		cJSON *o = obj();

		cJSON_AddStringToObject(o, "resolution_id", d->rid);
		cJSON_AddStringToObject(o, "regressed_from", d->incident);
		cJSON_AddStringToObject(o, "cause", cause);
		act_job_stage(jb, linked, "regression", trace, o);
		cJSON_Delete(o);
	} else {
		jb->err[0] = '\0';
		if (!changed_one(act_job_q(jb, Q_REOPEN, 1, pi))) {
			char why[sizeof(jb->err)];

			snprintf(why, sizeof(why), "%s",
				 jb->err[0] ? jb->err : "no longer resolved");
			cJSON_Delete(det);
			ax_errfmt(jb->err, sizeof(jb->err), "incident %s: cannot reopen: %s",
				  d->incident, why);
			return AX_EIO;
		}
		extra = obj();
		cJSON_AddStringToObject(extra, "regressed_from", d->rid);
		r = cJSON_AddObjectToObject(extra, "resolution");
		if (r == NULL)
			abort();
		cJSON_AddStringToObject(r, "id", d->rid);
		cJSON_AddStringToObject(r, "state", "regressed");
		cJSON_AddStringToObject(r, "cause", cause);
		cJSON_AddStringToObject(r, "regressed_incident_id", in);
		cJSON_AddStringToObject(r, "fingerprint", d->fingerprint);
		ax_json_add_str(r, "ci", d->ci, 1);
		cJSON_AddStringToObject(r, "summary", d->summary);
		cJSON_AddStringToObject(r, "resolved_at", d->resolved_at);
		cJSON_AddStringToObject(r, "verify_after", d->verify_after);
		cJSON_AddStringToObject(r, "fired_at", at);
		if (act_job_notify(jb, d->incident, "incident.reopened", trace, extra, action) !=
		    AX_OK) {
			cJSON_Delete(det);
			return AX_EIO;
		}
		cJSON_AddStringToObject(det, "action_id", action);
	}
	rc = verdict_rows(jb, d->incident, "resolution.regressed", trace, det);
	cJSON_Delete(det);
	if (rc == AX_OK)
		ax_log(AX_LOG_INFO, trace, jb->tenant,
		       "quality gate: resolution %s of incident %s regressed (%s fired again in "
		       "incident %s): %s %s",
		       d->rid, d->incident, cause, in, linked[0] ? "linked to open incident" :
		       "reopened", linked[0] ? linked : d->incident);
	return rc;
}

static ax_err judge(struct act_job *jb, const struct due *d)
{
	const char *p[1] = { d->rid };
	PGresult *res;
	ax_err rc;

	if (d->reopened)
		return regress_reopened(jb, d->rid, d->incident);
	res = act_job_q(jb, Q_FIRED, 1, p);
	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) == 1) {
		rc = regressed(jb, d, PQgetvalue(res, 0, 0), "fingerprint", PQgetvalue(res, 0, 1),
			       PQgetvalue(res, 0, 2));
		PQclear(res);
		return rc;
	}
	PQclear(res);
	if (d->ci != NULL) {
		res = act_job_q(jb, Q_CI, 1, p);
		if (res == NULL)
			return AX_EIO;
		if (PQntuples(res) == 1) {
			rc = regressed(jb, d, PQgetvalue(res, 0, 0), "ci", NULL,
				       PQgetvalue(res, 0, 1));
			PQclear(res);
			return rc;
		}
		PQclear(res);
	}
	return verified(jb, d);
}

ax_err act_gate_verify(struct act_job *jb)
{
	char lim[16];
	const char *p[1] = { lim };
	PGresult *res;
	int i;

	if (act_job_begin(jb) != AX_OK)
		return AX_EIO;
	snprintf(lim, sizeof(lim), "%d", ACT_JOBS_ROWS);
	res = act_job_q(jb, Q_DUE, 1, p);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) == 0) {
		PQclear(res);
		act_job_abort(jb);
		return AX_OK;
	}
	for (i = 0; i < PQntuples(res); i++) {
		const char *pi[2] = { val(res, i, 1), val(res, i, 5) };
		struct due d = {
			.rid = val(res, i, 0), .incident = val(res, i, 1),
			.fingerprint = val(res, i, 2), .ci = val(res, i, 3),
			.summary = val(res, i, 4),
			.resolved_at = val(res, i, 6), .verify_after = val(res, i, 7),
		};
		PGresult *inc;
		ax_err rc;

		if (!act_job_leading(jb)) {
			PQclear(res);
			act_job_abort(jb);
			return AX_EAGAIN;
		}
		inc = act_job_q(jb, Q_INCIDENT, 2, pi);
		if (inc == NULL) {
			PQclear(res);
			goto fail;
		}
		if (PQntuples(inc) != 1) {
			PQclear(inc);   /* reason holds it: next pass */
			continue;
		}
		d.reopened = strcmp(PQgetvalue(inc, 0, 0), "t") == 0;
		d.title = val(inc, 0, 1);
		d.service = val(inc, 0, 2);
		rc = judge(jb, &d);
		PQclear(inc);
		if (rc != AX_OK) {
			PQclear(res);
			goto fail;
		}
	}
	PQclear(res);
	return act_job_commit(jb);
fail:
	act_job_abort(jb);
	return AX_EIO;
}
