/* handle.c - one alexus:signals entry, end to end (see reason.h).
 *
 * Design: a unit of work is one Postgres transaction scoped to the
 * entry's tenant, followed by the Redis side.  Inside the transaction the
 * signal id is claimed in signals_seen first; a signal already there was
 * committed by an earlier delivery, so the entry is a redelivery and the
 * only thing owed is the outbox: every action of that signal still
 * 'pending' is appended to alexus:actions again (act is idempotent by
 * action id), then the entry is acknowledged.  That is what makes a crash
 * between COMMIT and XADD lose nothing.
 *
 * A firing alert joins the open incident that already holds its
 * fingerprint, else the open incident of its group key, else opens one.
 * Opening relies on the partial unique index incidents_open_group:
 * INSERT ... ON CONFLICT DO NOTHING waits for a concurrent opener and
 * then yields nothing, and the re-select finds the winner's row, so two
 * consumers never open two incidents for one group.  Rows are locked
 * (FOR UPDATE) incident first, so counting the incident's firing alerts on
 * resolution cannot race an alert joining it.
 *
 * Actions and stage events are collected while the transaction runs and
 * go out only after COMMIT: XADD each action, PUBLISH each stage event
 * (best effort: a lost event is logged, never retried), XACK last.  Any
 * failure before the XACK leaves the entry pending; the caller retries it
 * and the signals_seen check turns the retry into a redelivery.
 *
 * Malformed entries (envelope, JSON, signal) and data Postgres refuses
 * (SQLSTATE class 22, or 23503: the tenant does not exist) can never
 * succeed and are dead-lettered at once; every other failure is treated
 * as transient. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reason.h"
#include "classify.h"
#include "incident.h"
#include "alexus/failpoint.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/worker.h"
#include "alexus/signal.h"

#define MAX_OUT 4

static const char Q_SEEN[] =
	"INSERT INTO signals_seen (tenant_id, signal_id) VALUES ($1, $2) "
	"ON CONFLICT DO NOTHING RETURNING signal_id";
static const char Q_SEEN_INCIDENT[] =
	"UPDATE signals_seen SET incident_id = $2 WHERE signal_id = $1";
static const char Q_PENDING[] =
	"SELECT id, payload::text, trace FROM actions WHERE signal_id = $1 AND status = 'pending' "
	"ORDER BY created_at, id";
static const char Q_FIND_ALERT[] =
	"SELECT a.id, a.incident_id, i.severity FROM alerts a "
	"JOIN incidents i ON i.tenant_id = a.tenant_id AND i.id = a.incident_id "
	"WHERE a.fingerprint = $1 AND i.status = 'open' "
	"ORDER BY i.opened_at DESC LIMIT 1 FOR UPDATE OF i, a";
static const char Q_REFIRE_ALERT[] =
	"UPDATE alerts SET status = 'firing', severity = $2, summary = coalesce($3, summary), "
	"ends_at = NULL, last_signal = $4, updated_at = now() WHERE id = $1";
static const char Q_FIND_OPEN[] =
	"SELECT id, severity FROM incidents WHERE group_key = $1 AND status = 'open' FOR UPDATE";
static const char Q_OPEN_INCIDENT[] =
	"INSERT INTO incidents (tenant_id, id, title, status, severity, stage, group_key, service, "
	"trace) VALUES ($1, $2, $3, 'open', $4, 'classify', $5, $6, $7) "
	"ON CONFLICT (tenant_id, group_key) WHERE status = 'open' DO NOTHING RETURNING id";
static const char Q_UPSERT_ALERT[] =
	"INSERT INTO alerts (tenant_id, id, incident_id, fingerprint, name, status, severity, "
	"summary, service, host, namespace, labels, source, starts_at, last_signal) "
	"VALUES ($1, $2, $3, $4, $5, 'firing', $6, $7, $8, $9, $10, $11::jsonb, $12, "
	"$13::timestamptz, $14) "
	"ON CONFLICT (tenant_id, incident_id, fingerprint) DO UPDATE SET status = 'firing', "
	"severity = EXCLUDED.severity, summary = EXCLUDED.summary, ends_at = NULL, "
	"last_signal = EXCLUDED.last_signal, updated_at = now() "
	"RETURNING (xmax = 0)";
static const char Q_BUMP[] =
	"UPDATE incidents SET alert_count = alert_count + $2, severity = $3, updated_at = now() "
	"WHERE id = $1";
static const char Q_STAGE[] =
	"INSERT INTO incident_events (tenant_id, incident_id, signal_id, stage, input_digest, "
	"output, duration_ms, provider, fallback, trace) "
	"VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, 'heuristic', false, $8)";
static const char Q_CLASSIFIED[] =
	"UPDATE incidents SET category = $2, confidence = $3, stage = 'classified', "
	"updated_at = now() WHERE id = $1";
static const char Q_SNAPSHOT[] =
	"SELECT id, title, status, severity, category, confidence, service, alert_count, "
	"to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
	"FROM incidents WHERE id = $1";
static const char Q_ACTION[] =
	"INSERT INTO actions (tenant_id, id, incident_id, signal_id, type, status, payload, trace) "
	"VALUES ($1, $2, $3, $4, 'notify', 'pending', $5::jsonb, $6)";
static const char Q_RESOLVE_ALERT[] =
	"UPDATE alerts SET status = 'resolved', ends_at = coalesce($2::timestamptz, now()), "
	"last_signal = $3, updated_at = now() WHERE id = $1";
static const char Q_FIRING_LEFT[] =
	"SELECT count(*) FROM alerts WHERE incident_id = $1 AND status = 'firing'";
static const char Q_RESOLVE_INCIDENT[] =
	"UPDATE incidents SET status = 'resolved', resolved_at = now(), stage = 'resolved', "
	"updated_at = now() WHERE id = $1";
static const char Q_TOUCH_INCIDENT[] =
	"UPDATE incidents SET severity = coalesce($2, severity), updated_at = now() WHERE id = $1";

struct out_action {
	char id[AX_UUID_LEN];
	const char *event;  /* static */
	char *payload;
};

struct job {
	struct reason *r;
	redisContext *c;
	const struct ax_entry *e;
	struct ax_signal sig;
	char digest[AX_SHA256_HEX];
	char *err;
	size_t errlen;
	struct timespec t0;
	char incident_id[AX_UUID_LEN]; /* "" when no incident was touched */
	const char *outcome;           /* static, for the log line */
	const char *category;          /* static, set by the classify stage */
	double confidence;
	int nact;
	struct out_action act[MAX_OUT];
	int nev;
	char *ev[MAX_OUT];
};

static void job_release(struct job *j)
{
	int i;

	for (i = 0; i < j->nact; i++)
		free(j->act[i].payload);
	for (i = 0; i < j->nev; i++)
		free(j->ev[i]);
	ax_signal_release(&j->sig);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1000.0 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static PGresult *q(struct job *j, const char *sql, int n, const char *const *p)
{
	return ax_pg_exec(j->r->pg, j->err, j->errlen, sql, n, p);
}

static int run(struct job *j, const char *sql, int n, const char *const *p)
{
	PGresult *res = q(j, sql, n, p);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : ax_xstrdup(PQgetvalue(res, row, c));
}

/* Settle an entry that can never succeed. */
static ax_err dead_letter(redisContext *c, const struct ax_entry *e, const char *why,
			  char *errbuf, size_t errlen)
{
	return ax_worker_dead_letter(c, AX_STREAM_SIGNALS, AX_GROUP_REASON, e, why, errbuf, errlen);
}

/* The envelope every entry must have; NULL when fine, else the reason. */
static const char *envelope_problem(const struct ax_entry *e)
{
	enum ax_kind k;

	if (e->v == NULL || strcmp(e->v, AX_ENTRY_VERSION) != 0)
		return "unsupported or missing format version (v)";
	if (e->tenant == NULL || !ax_tenant_valid(e->tenant))
		return "missing or invalid tenant";
	if (e->id == NULL || !ax_uuid_valid(e->id))
		return "missing id or not a UUID";
	if (e->kind == NULL || ax_kind_parse(e->kind, &k) != 0)
		return "missing or unknown kind";
	if (e->trace == NULL || e->trace[0] == '\0')
		return "missing trace";
	if (e->data == NULL)
		return "missing data";
	return NULL;
}

/* One incident_events row, and its pub/sub event for after COMMIT. */
static int add_stage(struct job *j, const char *stage, const cJSON *output, double duration_ms)
{
	const struct ax_entry *e = j->e;
	char dur[32], *out = output != NULL ? ax_json_print(output) : ax_xstrdup("{}");
	const char *p[8] = { e->tenant, j->incident_id, e->id, stage, j->digest, out, dur, e->trace };
	int rc;

	snprintf(dur, sizeof(dur), "%.3f", duration_ms);
	rc = run(j, Q_STAGE, 8, p);
	free(out);
	if (rc == 0 && j->nev < MAX_OUT) {
		cJSON *ev = reason_stage_event(e->tenant, j->incident_id, stage, e->id, e->trace,
					       output);
		j->ev[j->nev++] = ax_json_print(ev);
		cJSON_Delete(ev);
	}
	return rc;
}

static int load_incident(struct job *j, struct reason_incident *inc)
{
	const char *p[1] = { j->incident_id };
	PGresult *res = q(j, Q_SNAPSHOT, 1, p);

	memset(inc, 0, sizeof(*inc));
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ax_errfmt(j->err, j->errlen, "incident %s not found", j->incident_id);
	}
	snprintf(inc->id, sizeof(inc->id), "%s", PQgetvalue(res, 0, 0));
	inc->title = col(res, 0, 1);
	inc->status = col(res, 0, 2);
	inc->severity = col(res, 0, 3);
	inc->category = col(res, 0, 4);
	if (!PQgetisnull(res, 0, 5)) {
		inc->has_confidence = 1;
		inc->confidence = strtod(PQgetvalue(res, 0, 5), NULL);
	}
	inc->service = col(res, 0, 6);
	inc->alert_count = strtol(PQgetvalue(res, 0, 7), NULL, 10);
	inc->opened_at = col(res, 0, 8);
	inc->resolved_at = col(res, 0, 9);
	PQclear(res);
	return 0;
}

/* A notify action for the incident as it stands now, into the outbox
 * table (same transaction) and into the list to append after COMMIT. */
static int add_action(struct job *j, const char *event)
{
	const struct ax_entry *e = j->e;
	struct reason_incident inc;
	struct out_action *a;
	cJSON *data;

	if (j->nact >= MAX_OUT)
		return ax_errfmt(j->err, j->errlen, "too many actions for one signal");
	if (load_incident(j, &inc) != 0)
		return -1;
	a = &j->act[j->nact];
	ax_uuid4(a->id);
	a->event = event;
	data = reason_action_data(a->id, e->id, event, &inc);
	a->payload = ax_json_print(data);
	cJSON_Delete(data);
	reason_incident_release(&inc);
	{
		const char *p[6] = { e->tenant, a->id, j->incident_id, e->id, a->payload, e->trace };

		if (run(j, Q_ACTION, 6, p) != 0) {
			free(a->payload);
			a->payload = NULL;
			return -1;
		}
	}
	j->nact++;
	return 0;
}

static int classify_stage(struct job *j)
{
	const struct ax_signal *s = &j->sig;
	struct reason_class cl;
	struct timespec t;
	char conf[16];
	cJSON *out;
	double dur;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t);
	reason_classify(s->name, s->summary, s->labels, s->service, s->severity, &cl);
	dur = ms_since(&t);
	out = reason_class_json(&cl);
	rc = add_stage(j, "classify", out, dur);
	cJSON_Delete(out);
	if (rc != 0)
		return -1;
	j->category = cl.category;
	j->confidence = cl.confidence;
	snprintf(conf, sizeof(conf), "%.2f", cl.confidence);
	{
		const char *p[3] = { j->incident_id, cl.category, conf };
		return run(j, Q_CLASSIFIED, 3, p);
	}
}

/* The open incident of group_key, opening it if there is none.  *created
 * tells which.  The current severity goes to *sev. */
static int open_or_join(struct job *j, const char *group_key, int *created, enum ax_severity *sev)
{
	const struct ax_signal *s = &j->sig;
	const struct ax_entry *e = j->e;
	const char *title = s->summary != NULL && s->summary[0] != '\0' ? s->summary : s->name;
	int attempt;

	*created = 0;
	for (attempt = 0; attempt < 3; attempt++) {
		const char *pf[1] = { group_key };
		char id[AX_UUID_LEN];
		PGresult *res = q(j, Q_FIND_OPEN, 1, pf);

		if (res == NULL)
			return -1;
		if (PQntuples(res) > 0) {
			snprintf(j->incident_id, sizeof(j->incident_id), "%s", PQgetvalue(res, 0, 0));
			if (ax_severity_parse(PQgetvalue(res, 0, 1), sev) != 0)
				*sev = AX_SEV_INFO;
			PQclear(res);
			return 0;
		}
		PQclear(res);

		ax_uuid4(id);
		{
			const char *p[7] = { e->tenant, id, title, ax_severity_str(s->severity),
					     group_key, s->service, e->trace };

			res = q(j, Q_OPEN_INCIDENT, 7, p);
		}
		if (res == NULL)
			return -1;
		if (PQntuples(res) == 1) {
			PQclear(res);
			snprintf(j->incident_id, sizeof(j->incident_id), "%s", id);
			*sev = s->severity;
			*created = 1;
			return 0;
		}
		/* A concurrent consumer opened it first and has committed by
		 * now (ON CONFLICT waited for it): look again. */
		PQclear(res);
		ax_log(AX_LOG_DEBUG, e->trace, e->tenant,
		       "incident of group '%s' was opened concurrently; joining it", group_key);
	}
	return ax_errfmt(j->err, j->errlen, "cannot open or find the incident of group '%s'",
			 group_key);
}

static int on_firing(struct job *j)
{
	const struct ax_signal *s = &j->sig;
	const struct ax_entry *e = j->e;
	const char *pf[1] = { s->fingerprint };
	enum ax_severity cur;
	char *group_key = NULL, *labels = NULL;
	int created = 0, inserted = 0, rc = -1;
	PGresult *res;

	res = q(j, Q_FIND_ALERT, 1, pf);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		/* The alert fires again (or still) in its open incident. */
		char alert_id[AX_UUID_LEN];
		const char *sev;

		snprintf(alert_id, sizeof(alert_id), "%s", PQgetvalue(res, 0, 0));
		snprintf(j->incident_id, sizeof(j->incident_id), "%s", PQgetvalue(res, 0, 1));
		if (ax_severity_parse(PQgetvalue(res, 0, 2), &cur) != 0)
			cur = AX_SEV_INFO;
		PQclear(res);
		sev = ax_severity_str(reason_severity_max(cur, s->severity));
		{
			const char *pa[4] = { alert_id, ax_severity_str(s->severity), s->summary,
					      e->id };
			const char *pi[2] = { j->incident_id, sev };

			if (run(j, Q_REFIRE_ALERT, 4, pa) != 0 || run(j, Q_TOUCH_INCIDENT, 2, pi) != 0)
				return -1;
		}
		j->outcome = "updated its alert";
		return 0;
	}
	PQclear(res);

	group_key = reason_group_key(s->service, s->namespace_, s->host, s->name);
	if (group_key == NULL) {
		ax_errfmt(j->err, j->errlen, "signal has no service, host or name to group by");
		goto out;
	}
	if (open_or_join(j, group_key, &created, &cur) != 0)
		goto out;
	if (created) {
		cJSON *o = cJSON_CreateObject();
		int st;

		if (o == NULL)
			abort();
		cJSON_AddStringToObject(o, "group_key", group_key);
		cJSON_AddStringToObject(o, "severity", ax_severity_str(s->severity));
		cJSON_AddStringToObject(o, "first_alert", s->name);
		cJSON_AddStringToObject(o, "fingerprint", s->fingerprint);
		st = add_stage(j, "opened", o, ms_since(&j->t0));
		cJSON_Delete(o);
		if (st != 0)
			goto out;
	}

	labels = ax_json_print(s->labels);
	{
		char alert_id[AX_UUID_LEN];
		const char *starts = reason_time_usable(s->starts_at) ? s->starts_at : NULL;
		const char *p[14] = { e->tenant, alert_id, j->incident_id, s->fingerprint, s->name,
				      ax_severity_str(s->severity), s->summary, s->service, s->host,
				      s->namespace_, labels, s->source, starts, e->id };

		ax_uuid4(alert_id);
		res = q(j, Q_UPSERT_ALERT, 14, p);
		if (res == NULL)
			goto out;
		inserted = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
	}
	{
		const char *p[3] = { j->incident_id, inserted ? "1" : "0",
				     ax_severity_str(reason_severity_max(cur, s->severity)) };

		if (run(j, Q_BUMP, 3, p) != 0)
			goto out;
	}
	if (created) {
		if (classify_stage(j) != 0 || add_action(j, "incident.opened") != 0)
			goto out;
		j->outcome = "opened the incident";
	} else {
		j->outcome = inserted ? "joined the open incident" : "updated its alert";
	}
	rc = 0;
out:
	free(group_key);
	free(labels);
	return rc;
}

static int on_resolved(struct job *j)
{
	const struct ax_signal *s = &j->sig;
	const struct ax_entry *e = j->e;
	const char *pf[1] = { s->fingerprint };
	char alert_id[AX_UUID_LEN];
	const char *ends = reason_time_usable(s->ends_at) ? s->ends_at : NULL;
	long firing;
	PGresult *res;

	res = q(j, Q_FIND_ALERT, 1, pf);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		j->outcome = "matched no open alert";
		return 0;
	}
	snprintf(alert_id, sizeof(alert_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(j->incident_id, sizeof(j->incident_id), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	{
		const char *p[3] = { alert_id, ends, e->id };

		if (run(j, Q_RESOLVE_ALERT, 3, p) != 0)
			return -1;
	}
	{
		const char *p[1] = { j->incident_id };

		res = q(j, Q_FIRING_LEFT, 1, p);
		if (res == NULL)
			return -1;
		firing = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (firing > 0) {
			const char *pt[2] = { j->incident_id, NULL };

			j->outcome = "resolved its alert, others still firing";
			return run(j, Q_TOUCH_INCIDENT, 2, pt);
		}
		if (run(j, Q_RESOLVE_INCIDENT, 1, p) != 0)
			return -1;
	}
	{
		cJSON *out = cJSON_CreateObject();
		int rc;

		if (out == NULL)
			abort();
		cJSON_AddStringToObject(out, "reason", "all alerts resolved");
		cJSON_AddStringToObject(out, "last_alert", s->name);
		rc = add_stage(j, "resolved", out, ms_since(&j->t0));
		cJSON_Delete(out);
		if (rc != 0)
			return -1;
	}
	if (add_action(j, "incident.resolved") != 0)
		return -1;
	j->outcome = "resolved the incident";
	return 0;
}

/* The entry was committed before: append its still-pending actions again
 * and acknowledge.  Called inside the (useless) transaction, which it
 * rolls back. */
static ax_err redelivered(struct job *j)
{
	const struct ax_entry *e = j->e;
	const char *p[1] = { e->id };
	PGresult *res = q(j, Q_PENDING, 1, p);
	ax_err rc = AX_OK;
	int i, n;

	ax_pg_rollback(j->r->pg);
	if (res == NULL)
		return AX_EIO;
	n = PQntuples(res);
	for (i = 0; i < n && rc == AX_OK; i++) {
		struct ax_entry a;

		memset(&a, 0, sizeof(a));
		a.v = (char *)AX_ENTRY_VERSION;
		a.tenant = e->tenant;
		a.id = PQgetvalue(res, i, 0);
		a.kind = (char *)"notify";
		a.trace = PQgetisnull(res, i, 2) ? e->trace : PQgetvalue(res, i, 2);
		a.data = PQgetvalue(res, i, 1);
		rc = ax_stream_add(j->c, AX_STREAM_ACTIONS, &a, NULL, 0, j->err, j->errlen);
	}
	PQclear(res);
	if (rc != AX_OK)
		return rc;
	rc = ax_group_ack(j->c, AX_STREAM_SIGNALS, AX_GROUP_REASON, e->stream_id, j->err, j->errlen);
	if (rc == AX_OK)
		ax_log(AX_LOG_INFO, e->trace, e->tenant,
		       "signal %s was already committed (redelivery of %s): re-appended %d pending "
		       "action(s)", e->id, e->stream_id, n);
	return rc;
}

/* After COMMIT: outbox, events, acknowledgement. */
static ax_err after_commit(struct job *j)
{
	const struct ax_entry *e = j->e;
	char perr[256];
	ax_err rc;
	int i;

	ax_failpoint("reason.after_commit");
	for (i = 0; i < j->nact; i++) {
		struct ax_entry a;

		memset(&a, 0, sizeof(a));
		a.v = (char *)AX_ENTRY_VERSION;
		a.tenant = e->tenant;
		a.id = j->act[i].id;
		a.kind = (char *)"notify";
		a.trace = e->trace;
		a.data = j->act[i].payload;
		rc = ax_stream_add(j->c, AX_STREAM_ACTIONS, &a, NULL, 0, j->err, j->errlen);
		if (rc != AX_OK)
			return rc;
	}
	ax_failpoint("reason.after_append");
	for (i = 0; i < j->nev; i++) {
		if (ax_publish_event(j->c, e->tenant, j->ev[i], perr, sizeof(perr)) != AX_OK)
			ax_log(AX_LOG_WARN, e->trace, e->tenant, "stage event not published: %s",
			       perr);
	}
	rc = ax_group_ack(j->c, AX_STREAM_SIGNALS, AX_GROUP_REASON, e->stream_id, j->err, j->errlen);
	if (rc != AX_OK)
		return rc;
	if (j->category != NULL)
		ax_log(AX_LOG_INFO, e->trace, e->tenant,
		       "%s %s %s: %s (incident %s, category %s, confidence %.2f), %d action(s)",
		       ax_kind_str(j->sig.kind), j->sig.name, ax_status_str(j->sig.status),
		       j->outcome, j->incident_id, j->category, j->confidence, j->nact);
	else if (j->incident_id[0] != '\0')
		ax_log(AX_LOG_INFO, e->trace, e->tenant, "%s %s %s: %s (incident %s), %d action(s)",
		       ax_kind_str(j->sig.kind), j->sig.name, ax_status_str(j->sig.status),
		       j->outcome, j->incident_id, j->nact);
	else
		ax_log(AX_LOG_INFO, e->trace, e->tenant, "%s %s %s: %s", ax_kind_str(j->sig.kind),
		       j->sig.name, ax_status_str(j->sig.status), j->outcome);
	return AX_OK;
}

/* Postgres refused the data itself: retrying cannot help. */
static int refused_data(const char *sqlstate)
{
	return strncmp(sqlstate, "22", 2) == 0 || strcmp(sqlstate, "23503") == 0;
}

ax_err reason_handle(struct reason *r, redisContext *c, const struct ax_entry *e,
		     char *errbuf, size_t errlen)
{
	struct job j;
	const char *why;
	char msg[512];
	cJSON *data;
	PGresult *res;
	ax_err rc;
	int fresh;

	ax_failpoint("reason.after_read");
	if (e->deleted)
		return ax_group_ack(c, AX_STREAM_SIGNALS, AX_GROUP_REASON, e->stream_id, errbuf,
				    errlen);
	why = envelope_problem(e);
	if (why != NULL)
		return dead_letter(c, e, why, errbuf, errlen);
	data = ax_json_parse(e->data, strlen(e->data), AX_JSON_ENTRY_DEPTH);
	if (data == NULL)
		return dead_letter(c, e, "data is not valid JSON", errbuf, errlen);

	memset(&j, 0, sizeof(j));
	j.r = r;
	j.c = c;
	j.e = e;
	j.err = errbuf;
	j.errlen = errlen;
	j.outcome = "recorded";
	clock_gettime(CLOCK_MONOTONIC, &j.t0);
	rc = ax_signal_from_json(&j.sig, data, msg, sizeof(msg));
	cJSON_Delete(data);
	if (rc != AX_OK) {
		char reason[600];

		snprintf(reason, sizeof(reason), "invalid signal: %s", msg);
		ax_signal_release(&j.sig);
		return dead_letter(c, e, reason, errbuf, errlen);
	}
	ax_sha256_hex(e->data, strlen(e->data), j.digest);
	/* The entry's kind routes it; the data's kind is informational. */
	(void)ax_kind_parse(e->kind, &j.sig.kind);

	rc = ax_pg_begin(r->pg, e->tenant, errbuf, errlen);
	if (rc != AX_OK)
		goto out;
	{
		const char *p[2] = { e->tenant, e->id };

		res = q(&j, Q_SEEN, 2, p);
	}
	if (res == NULL)
		goto failed;
	fresh = PQntuples(res) == 1;
	PQclear(res);
	if (!fresh) {
		rc = redelivered(&j);
		goto out;
	}
	if (j.sig.kind == AX_KIND_ALERT) {
		if ((j.sig.status == AX_STATUS_FIRING ? on_firing(&j) : on_resolved(&j)) != 0)
			goto failed;
		if (j.incident_id[0] != '\0') {
			const char *p[2] = { e->id, j.incident_id };

			if (run(&j, Q_SEEN_INCIDENT, 2, p) != 0)
				goto failed;
		}
	}
	rc = ax_pg_commit(r->pg, errbuf, errlen);
	if (rc != AX_OK)
		goto out;
	rc = after_commit(&j);
	goto out;

failed:
	{
		char state[8];

		snprintf(state, sizeof(state), "%s", ax_pg_sqlstate(r->pg));
		ax_pg_rollback(r->pg);
		if (refused_data(state)) {
			char reason[600];

			snprintf(reason, sizeof(reason), "postgres refused the signal (%s): %s", state,
				 errbuf);
			rc = dead_letter(c, e, reason, errbuf, errlen);
		} else {
			rc = AX_EIO;
		}
	}
out:
	job_release(&j);
	return rc;
}
