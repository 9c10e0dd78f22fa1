/* delivery.c - durable delivery of notify actions (see delivery.h).
 *
 * Design: Postgres holds the whole schedule.  A target is a deliveries
 * row; taking it for an attempt is setting its lease (lease_until) in a
 * short transaction with FOR UPDATE SKIP LOCKED, so any number of act
 * replicas share the due rows without waiting on each other and a
 * crashed taker's rows come back when the lease runs out.  Nothing about
 * a target lives in act's memory between attempts: a backlog of any size
 * costs rows, and each pass holds at most one batch.
 *
 * Recording locks the action row first.  Two takers recording the last
 * two pending targets of one action would otherwise each see the other's
 * target still pending (neither has committed) and neither would settle
 * the action; with the lock the second waits for the first's commit and
 * then sees it.  The state update is guarded by the attempt count the
 * taker saw (attempts = $n): if another taker got the row meanwhile (a
 * lease that ran out during a very slow attempt) and recorded first, this
 * record changes nothing -- the attempt row is still appended, since the
 * attempt did happen.
 *
 * A batch is recorded in one transaction: a commit (its WAL flush) is
 * most of what recording costs, so one per batch rather than one per
 * attempt is what lets a recovering receiver drain a backlog quickly.  The action rows are
 * locked in action-id order, so two batches touching the same actions
 * cannot deadlock; a batch that fails to record is attempted again once
 * its leases run out, like after a crash.
 *
 * Credentials are opened in the attempt's own read-only transaction, just
 * before the request, and wiped right after it: a batch of jobs never
 * holds more than one secret at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery.h"
#include "notify.h"
#include "webhook.h"
#include "../ticket.h"
#include "alexus/cred.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/stream.h"

static const char Q_INSERT[] =
	"INSERT INTO deliveries (tenant_id, action_id, target, lease_until, origin_id) "
	"SELECT $1, $2::uuid, t, now() + make_interval(secs => $4::double precision), "
	"nullif($5, '') FROM unnest($3::text[]) AS t "
	"ON CONFLICT DO NOTHING RETURNING target";
static const char Q_COUNT[] = "SELECT count(*) FROM deliveries WHERE action_id = $1";
/* The rows to take are chosen once, in a MATERIALIZED CTE: as a plain
 * subquery of the UPDATE the planner may rescan it, and every rescan of
 * a LIMIT ... SKIP LOCKED picks further rows -- leasing more than the
 * LIMIT, rows nobody would then attempt until their lease ran out. */
static const char Q_TAKE_ACTION[] =
	"WITH due AS MATERIALIZED (SELECT action_id, target FROM deliveries WHERE action_id = $1 "
	"AND status = 'pending' AND next_at <= now() "
	"AND (lease_until IS NULL OR lease_until < now()) "
	"ORDER BY target LIMIT $3 FOR UPDATE SKIP LOCKED) "
	"UPDATE deliveries d SET "
	"lease_until = now() + make_interval(secs => $2::double precision), "
	"updated_at = now() FROM due "
	"WHERE d.action_id = due.action_id AND d.target = due.target "
	"RETURNING d.target, d.attempts";
static const char Q_TAKE_DUE[] =
	"WITH due AS MATERIALIZED (SELECT action_id, target FROM deliveries "
	"WHERE status = 'pending' AND next_at <= now() "
	"AND (lease_until IS NULL OR lease_until < now()) "
	"ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
	"UPDATE deliveries d SET "
	"lease_until = now() + make_interval(secs => $2::double precision), "
	"updated_at = now() FROM due, actions a "
	"WHERE d.action_id = due.action_id AND d.target = due.target "
	"AND a.tenant_id = d.tenant_id AND a.id = d.action_id "
	"RETURNING d.action_id, d.target, d.attempts, a.payload::text, coalesce(a.trace, '')";
static const char Q_RELEASE[] =
	"UPDATE deliveries SET lease_until = NULL, updated_at = now() "
	"WHERE action_id = $1 AND target = $2 AND status = 'pending' AND attempts = $3";
static const char Q_CHANNEL[] =
	"SELECT kind, config::text, credential, enabled FROM notification_channels WHERE id = $1";
static const char Q_WEBHOOK_URL[] =
	"SELECT settings->>'notify_webhook_url' FROM tenants WHERE id = $1";
static const char Q_LOCK[] =
	"SELECT status, coalesce(payload->>'event', ''), coalesce(payload->>'incident_id', ''), "
	"coalesce(trace, '') FROM actions WHERE id = $1 FOR UPDATE";
static const char Q_ATTEMPT[] =
	"INSERT INTO delivery_attempts (tenant_id, action_id, target, attempt, ok, retryable, "
	"status, error, host, requests, duration_ms, trace) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), nullif($9, ''), $10, $11, "
	"nullif($12, ''))";
static const char Q_STATE[] =
	"UPDATE deliveries SET attempts = attempts + 1, status = $3, "
	"next_at = CASE WHEN $3 = 'pending' "
	"THEN now() + make_interval(secs => $4::double precision) ELSE next_at END, lease_until = NULL, last_status = $5, last_error = nullif($6, ''), "
	"host = coalesce(nullif($7, ''), host), updated_at = now(), "
	"settled_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END "
	"WHERE action_id = $1 AND target = $2 AND status = 'pending' AND attempts = $8";
static const char Q_SKIP[] =
	"UPDATE deliveries SET status = 'skipped', lease_until = NULL, last_error = $3, "
	"updated_at = now(), settled_at = now() "
	"WHERE action_id = $1 AND target = $2 AND status = 'pending' AND attempts = $4";
static const char Q_ROWS[] =
	"SELECT target, status, attempts, coalesce(last_status, 0), coalesce(last_error, ''), "
	"coalesce(host, '') FROM deliveries WHERE action_id = $1 ORDER BY target LIMIT 64";
static const char Q_FINISH[] =
	"UPDATE actions SET status = $2, result = $3::jsonb, updated_at = now() WHERE id = $1";
static const char Q_AUDIT[] = "SELECT audit_append('act', 'notify', $1, $2::jsonb, $3)";
static const char Q_DEAD[] =
	"SELECT d.action_id, d.target, d.attempts, coalesce(d.last_error, ''), "
	"coalesce(d.origin_id, ''), coalesce(a.trace, ''), a.payload::text "
	"FROM deliveries d JOIN actions a ON a.tenant_id = d.tenant_id AND a.id = d.action_id "
	"WHERE d.status = 'dead' AND d.dlq_at IS NULL "
	"AND (d.lease_until IS NULL OR d.lease_until < now()) "
	"ORDER BY d.settled_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED";
static const char Q_DLQ_DONE[] =
	"UPDATE deliveries SET dlq_at = now(), updated_at = now() WHERE action_id = $1 "
	"AND target = $2";

void act_jobs_release(struct act_job *jobs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(jobs[i].payload_text);
		jobs[i].payload_text = NULL;
	}
}

long act_delivery_backoff_s(int attempts, long retry_after_s, int max_s)
{
	long d = 1;
	int i;

	if (retry_after_s > 0)
		return retry_after_s > 86400 ? 86400 : retry_after_s;
	for (i = 0; i < attempts && d < max_s; i++)
		d *= 2;
	return d > max_s ? max_s : d;
}

long act_delivery_lease_s(const struct ax_config *cfg, int n, int first)
{
	struct act_webhook_opts o = { cfg->notify_timeout_ms, first ? cfg->notify_retries : 0,
				      cfg->notify_backoff_ms, NULL };
	long worst = act_webhook_worst_ms(&o);

	/* A ticket sync may make a couple of requests of its own. */
	if (worst < 2L * cfg->notify_timeout_ms)
		worst = 2L * cfg->notify_timeout_ms;
	return (long)n * (worst / 1000 + 1) + 10;
}

static void set_text(char *dst, size_t n, const PGresult *res, int row, int col)
{
	snprintf(dst, n, "%s", PQgetvalue(res, row, col));
}

static long num(const PGresult *res, int row, int col)
{
	return strtol(PQgetvalue(res, row, col), NULL, 10);
}

ax_err act_delivery_insert(struct act *a, const char *tenant, const char *action_id,
			   const char *origin_id, char targets[][ACT_TARGET_NAME], int ntargets,
			   struct act_job *jobs, int *n, char *errbuf, size_t errlen)
{
	char lease[32], *arr;
	size_t len = 3, k = 0;
	PGresult *res;
	int i;

	*n = 0;
	for (i = 0; i < ntargets; i++)
		len += strlen(targets[i]) + 1;
	arr = ax_xmalloc(len);
	/* Target names are [a-z0-9:-] only: no quoting needed in the array. */
	arr[k++] = '{';
	for (i = 0; i < ntargets; i++) {
		size_t t = strlen(targets[i]);

		if (i > 0)
			arr[k++] = ',';
		memcpy(arr + k, targets[i], t);
		k += t;
	}
	arr[k++] = '}';
	arr[k] = '\0';
	snprintf(lease, sizeof(lease), "%ld", act_delivery_lease_s(a->cfg, ntargets, 1));
	{
		const char *p[5] = { tenant, action_id, arr, lease, origin_id ? origin_id : "" };

		res = ax_pg_exec(a->pg, errbuf, errlen, Q_INSERT, 5, p);
	}
	free(arr);
	if (res == NULL)
		return AX_EIO;
	for (i = 0; i < PQntuples(res) && i < ACT_TARGET_MAX; i++) {
		struct act_job *j = &jobs[i];

		memset(j, 0, sizeof(*j));
		snprintf(j->action_id, sizeof(j->action_id), "%s", action_id);
		set_text(j->target, sizeof(j->target), res, i, 0);
		j->first = 1;
	}
	*n = i;
	PQclear(res);
	return AX_OK;
}

int act_delivery_count(struct act *a, const char *action_id, char *errbuf, size_t errlen)
{
	const char *p[1] = { action_id };
	PGresult *res = ax_pg_exec(a->pg, errbuf, errlen, Q_COUNT, 1, p);
	int n;

	if (res == NULL)
		return -1;
	n = (int)num(res, 0, 0);
	PQclear(res);
	return n;
}

ax_err act_delivery_take_action(struct act *a, const char *action_id, struct act_job *jobs,
				int max, int *n, char *errbuf, size_t errlen)
{
	char lease[32], lim[16];
	const char *p[3] = { action_id, lease, lim };
	PGresult *res;
	int i;

	*n = 0;
	snprintf(lease, sizeof(lease), "%ld", act_delivery_lease_s(a->cfg, max, 0));
	snprintf(lim, sizeof(lim), "%d", max);
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_TAKE_ACTION, 3, p);
	if (res == NULL)
		return AX_EIO;
	for (i = 0; i < PQntuples(res) && i < max; i++) {
		struct act_job *j = &jobs[i];

		memset(j, 0, sizeof(*j));
		snprintf(j->action_id, sizeof(j->action_id), "%s", action_id);
		set_text(j->target, sizeof(j->target), res, i, 0);
		j->attempts = (int)num(res, i, 1);
	}
	*n = i;
	PQclear(res);
	return AX_OK;
}

ax_err act_delivery_take_due(struct act *a, const char *tenant, struct act_job *jobs, int max,
			     int *n, char *errbuf, size_t errlen)
{
	char lease[32], lim[16];
	const char *p[2] = { lim, lease };
	PGresult *res;
	int i;

	*n = 0;
	snprintf(lease, sizeof(lease), "%ld", act_delivery_lease_s(a->cfg, max, 0));
	snprintf(lim, sizeof(lim), "%d", max);
	if (ax_pg_begin(a->pg, tenant, errbuf, errlen) != AX_OK)
		return AX_EIO;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_TAKE_DUE, 2, p);
	if (res == NULL) {
		ax_pg_rollback(a->pg);
		return AX_EIO;
	}
	if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK) {
		PQclear(res);
		return AX_EIO;
	}
	for (i = 0; i < PQntuples(res) && i < max; i++) {
		struct act_job *j = &jobs[i];

		memset(j, 0, sizeof(*j));
		set_text(j->action_id, sizeof(j->action_id), res, i, 0);
		set_text(j->target, sizeof(j->target), res, i, 1);
		j->attempts = (int)num(res, i, 2);
		j->payload_text = ax_xstrdup(PQgetvalue(res, i, 3));
		set_text(j->trace, sizeof(j->trace), res, i, 4);
	}
	*n = i;
	PQclear(res);
	return AX_OK;
}

void act_delivery_release(struct act *a, const char *tenant, const struct act_job *job)
{
	char att[16], err[256];
	const char *p[3] = { job->action_id, job->target, att };
	PGresult *res;

	snprintf(att, sizeof(att), "%d", job->attempts);
	if (ax_pg_begin(a->pg, tenant, err, sizeof(err)) != AX_OK)
		return;
	res = ax_pg_exec(a->pg, err, sizeof(err), Q_RELEASE, 3, p);
	if (res == NULL) {
		ax_pg_rollback(a->pg);
		return;
	}
	PQclear(res);
	/* Best effort: a lease that stays simply runs out. */
	if (ax_pg_commit(a->pg, err, sizeof(err)) != AX_OK)
		return;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1000.0 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* What a channel target needs for its attempt. */
struct channel_info {
	int gone;              /* removed or disabled */
	char kind[16];
	cJSON *config;
	char cred_name[AX_CRED_NAME_MAX + 1];
	int has_cred;
	unsigned char cred[AX_CRED_VALUE_MAX + 1];
	size_t cred_len;
	char problem[200];     /* a failure that makes sending pointless */
};

/* Read the channel's row and open its credential in a read-only
 * transaction.  -1 with errbuf on a database error. */
static int read_channel(struct act *a, const char *tenant, const char *id,
			struct channel_info *ci, char *errbuf, size_t errlen)
{
	const char *p[1] = { id };
	PGresult *res;
	ax_err rc;

	if (ax_pg_begin(a->pg, tenant, errbuf, errlen) != AX_OK)
		return -1;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_CHANNEL, 1, p);
	if (res == NULL) {
		ax_pg_rollback(a->pg);
		return -1;
	}
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
		ci->gone = 1;
		PQclear(res);
		ax_pg_rollback(a->pg);
		return 0;
	}
	snprintf(ci->kind, sizeof(ci->kind), "%s", PQgetvalue(res, 0, 0));
	ci->config = ax_json_parse(PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)), 16);
	if (!cJSON_IsObject(ci->config)) {
		cJSON_Delete(ci->config);
		ci->config = cJSON_CreateObject();
		if (ci->config == NULL)
			abort();
	}
	if (!PQgetisnull(res, 0, 2)) {
		snprintf(ci->cred_name, sizeof(ci->cred_name), "%s", PQgetvalue(res, 0, 2));
		ci->has_cred = 1;
	}
	PQclear(res);
	if (ci->has_cred) {
		char cerr[256];

		if (!a->has_keyring) {
			snprintf(ci->problem, sizeof(ci->problem),
				 "credential '%s' cannot be opened: ALEXUS_MASTER_KEY is not set",
				 ci->cred_name);
		} else {
			rc = ax_cred_get(a->pg, &a->kr, tenant, ci->cred_name, ci->cred,
					 sizeof(ci->cred), &ci->cred_len, cerr, sizeof(cerr));
			if (rc == AX_EIO) {
				snprintf(errbuf, errlen, "%s", cerr);
				ax_pg_rollback(a->pg);
				return -1;
			}
			if (rc == AX_ENOTFOUND)
				snprintf(ci->problem, sizeof(ci->problem),
					 "credential '%s' does not exist", ci->cred_name);
			else if (rc != AX_OK)
				snprintf(ci->problem, sizeof(ci->problem),
					 "credential '%s' does not open with this keyring (%s)",
					 ci->cred_name, ax_strerror(rc));
		}
	}
	ax_pg_rollback(a->pg);
	return 0;
}

/* The tenant's notify_webhook_url (malloc'd, NULL when unset), or -1. */
static int read_webhook_url(struct act *a, const char *tenant, char **url, char *errbuf,
			    size_t errlen)
{
	const char *p[1] = { tenant };
	PGresult *res;

	*url = NULL;
	if (ax_pg_begin(a->pg, tenant, errbuf, errlen) != AX_OK)
		return -1;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_WEBHOOK_URL, 1, p);
	ax_pg_rollback(a->pg);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && PQgetvalue(res, 0, 0)[0] != '\0')
		*url = ax_xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static void attempt_channel(struct act *a, const char *tenant, const struct act_event *ev,
			    struct act_job *j)
{
	struct channel_info *ci = ax_xcalloc(1, sizeof(*ci));
	const char *id = j->target + strlen("channel:");
	char err[256];

	if (read_channel(a, tenant, id, ci, err, sizeof(err)) != 0) {
		act_outcome_fail(&j->out, "database: %s", err);
		j->out.retryable = 1;
	} else if (ci->gone) {
		j->skipped = 1;
		snprintf(j->out.error, sizeof(j->out.error), "channel disabled or removed");
	} else if (ci->problem[0] != '\0') {
		act_outcome_fail(&j->out, "%s", ci->problem);
	} else {
		struct act_send s = { ev, ci->config,
				      ci->has_cred ? (const char *)ci->cred : NULL, id,
				      a->cfg->notify_timeout_ms };

		act_send(ci->kind, &s, &j->out);
	}
	ax_cred_wipe(ci->cred, sizeof(ci->cred));
	cJSON_Delete(ci->config);
	free(ci);
}

static void attempt_webhook(struct act *a, const char *tenant, const struct act_event *ev,
			    struct act_job *j)
{
	char err[256], *url = NULL;

	if (read_webhook_url(a, tenant, &url, err, sizeof(err)) != 0) {
		act_outcome_fail(&j->out, "database: %s", err);
		j->out.retryable = 1;
	} else if (url == NULL) {
		j->skipped = 1;
		snprintf(j->out.error, sizeof(j->out.error), "notify_webhook_url was cleared");
	} else {
		struct act_webhook_opts o = { a->cfg->notify_timeout_ms,
					      j->first ? a->cfg->notify_retries : 0,
					      a->cfg->notify_backoff_ms, a->stop };

		act_webhook_legacy_send(ev, url, &o, &j->out, &j->requests);
	}
	free(url);
}

void act_delivery_attempt(struct act *a, const char *tenant, struct act_job *j)
{
	struct timespec t0;
	struct act_event ev;
	cJSON *payload;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&j->out, 0, sizeof(j->out));
	j->requests = 1;
	j->skipped = 0;
	j->done = 1;
	payload = NULL;
	if (j->payload_text != NULL)
		payload = ax_json_parse(j->payload_text, strlen(j->payload_text),
					AX_JSON_ENTRY_DEPTH);
	if (payload == NULL || act_event_init(&ev, tenant, j->action_id, j->trace, payload,
					      a->cfg->public_url) != 0) {
		act_outcome_fail(&j->out, "action payload is not a notify document");
		j->requests = 0;
	} else if (strcmp(j->target, "webhook") == 0) {
		attempt_webhook(a, tenant, &ev, j);
	} else if (strncmp(j->target, "channel:", 8) == 0) {
		attempt_channel(a, tenant, &ev, j);
	} else if (strncmp(j->target, "ticket:", 7) == 0) {
		act_ticket_deliver(a, &ev, j->target + 7, &j->out);
	} else {
		act_outcome_fail(&j->out, "unknown target '%s'", j->target);
		j->requests = 0;
	}
	/* A permanent failure said so; "ok" and "retryable" never both. */
	if (j->out.ok)
		j->out.retryable = 0;
	if (j->skipped)
		j->requests = 0;
	cJSON_Delete(payload);
	j->ms = ms_since(&t0);
}

static int final_status(const char *s)
{
	return strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 ||
	       strcmp(s, "skipped") == 0;
}

static void subject_of(char *buf, size_t n, const char *action_id, const char *incident_id)
{
	if (incident_id != NULL && incident_id[0] != '\0')
		snprintf(buf, n, "incident:%s", incident_id);
	else
		snprintf(buf, n, "action:%s", action_id);
}

/* Write the final status, result and audit row (inside the caller's
 * transaction, the action row locked). */
static ax_err finish(struct act *a, const char *action_id, const char *status,
		     const char *event, const char *incident_id, const char *trace,
		     const struct act_target_row *rows, int n, const char *error, char *errbuf,
		     size_t errlen)
{
	char subject[128], *result, *detail;
	cJSON *j;
	PGresult *res;

	j = act_notify_result(rows, n, error);
	result = ax_json_print(j);
	cJSON_Delete(j);
	j = act_notify_audit(action_id, event, status, rows, n);
	detail = ax_json_print(j);
	cJSON_Delete(j);
	subject_of(subject, sizeof(subject), action_id, incident_id);
	{
		const char *pf[3] = { action_id, status, result };
		const char *pa[3] = { subject, detail,
				      trace != NULL && trace[0] != '\0' ? trace : NULL };

		res = ax_pg_exec(a->pg, errbuf, errlen, Q_FINISH, 3, pf);
		if (res != NULL) {
			PQclear(res);
			res = ax_pg_exec(a->pg, errbuf, errlen, Q_AUDIT, 3, pa);
		}
	}
	free(result);
	free(detail);
	if (res == NULL)
		return AX_EIO;
	PQclear(res);
	return AX_OK;
}

ax_err act_delivery_finish_empty(struct act *a, const char *tenant, const char *action_id,
				 const char *event, const char *incident_id, const char *trace,
				 const char *status, const char *error, char *errbuf,
				 size_t errlen)
{
	(void)tenant;
	return finish(a, action_id, status, event, incident_id, trace, NULL, 0, error, errbuf,
		      errlen);
}

/* Settle the action if none of its targets is pending (caller's
 * transaction, action row locked). */
static ax_err settle(struct act *a, const char *action_id, struct act_settle *st, char *errbuf,
		     size_t errlen)
{
	const char *p[1] = { action_id };
	struct act_target_row *rows;
	PGresult *res;
	int n, i, pending = 0, dead = 0, ok = 0;
	ax_err rc = AX_OK;

	res = ax_pg_exec(a->pg, errbuf, errlen, Q_ROWS, 1, p);
	if (res == NULL)
		return AX_EIO;
	n = PQntuples(res);
	rows = ax_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*rows));
	for (i = 0; i < n; i++) {
		struct act_target_row *r = &rows[i];

		set_text(r->target, sizeof(r->target), res, i, 0);
		set_text(r->status, sizeof(r->status), res, i, 1);
		r->attempts = (int)num(res, i, 2);
		r->http_status = num(res, i, 3);
		set_text(r->error, sizeof(r->error), res, i, 4);
		set_text(r->host, sizeof(r->host), res, i, 5);
		pending += strcmp(r->status, "pending") == 0;
		dead += strcmp(r->status, "dead") == 0;
		ok += strcmp(r->status, "succeeded") == 0;
	}
	PQclear(res);
	if (n > 0 && pending == 0) {
		snprintf(st->status, sizeof(st->status), "%s",
			 dead > 0 ? "failed" : ok > 0 ? "succeeded" : "skipped");
		rc = finish(a, action_id, st->status, st->event, st->incident_id, st->trace, rows,
			    n, NULL, errbuf, errlen);
		st->settled = rc == AX_OK;
	}
	free(rows);
	return rc;
}

/* Record one job inside the caller's transaction. */
static ax_err record_one(struct act *a, const char *tenant, struct act_job *j,
			 struct act_settle *st, char *errbuf, size_t errlen)
{
	const char *pl[1] = { j->action_id };
	char status[16], attempt[16], seen[16], ok[8], retry[8], code[24], req[16], ms[32];
	char delay[32];
	const char *next;
	PGresult *res;
	int running;

	memset(st, 0, sizeof(*st));
	/* The action row first: whoever records the last pending target of
	 * an action sees every other one committed (see the top). */
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_LOCK, 1, pl);
	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) != 1) {
		/* The action is gone (it cannot be: no DELETE grant). */
		PQclear(res);
		return AX_OK;
	}
	set_text(status, sizeof(status), res, 0, 0);
	set_text(st->event, sizeof(st->event), res, 0, 1);
	set_text(st->incident_id, sizeof(st->incident_id), res, 0, 2);
	set_text(st->trace, sizeof(st->trace), res, 0, 3);
	PQclear(res);
	running = !final_status(status);

	snprintf(seen, sizeof(seen), "%d", j->attempts);
	if (j->skipped) {
		const char *p[4] = { j->action_id, j->target, j->out.error, seen };

		res = ax_pg_exec(a->pg, errbuf, errlen, Q_SKIP, 4, p);
		if (res == NULL)
			return AX_EIO;
		PQclear(res);
	} else {
		const char *pa[12] = { tenant, j->action_id, j->target, attempt, ok, retry,
				       j->out.http_status > 0 ? code : NULL, j->out.error,
				       j->out.host, req, ms, j->trace };

		snprintf(attempt, sizeof(attempt), "%d", j->attempts + 1);
		snprintf(ok, sizeof(ok), "%s", j->out.ok ? "true" : "false");
		snprintf(retry, sizeof(retry), "%s", j->out.retryable ? "true" : "false");
		snprintf(code, sizeof(code), "%ld", j->out.http_status);
		snprintf(req, sizeof(req), "%d", j->requests);
		snprintf(ms, sizeof(ms), "%.3f", j->ms > 0 ? j->ms : 0.0);
		res = ax_pg_exec(a->pg, errbuf, errlen, Q_ATTEMPT, 12, pa);
		if (res == NULL)
			return AX_EIO;
		PQclear(res);

		if (j->out.ok)
			next = "succeeded";
		else if (!j->out.retryable || j->attempts + 1 >= a->cfg->notify_max_attempts)
			next = "dead";
		else
			next = "pending";
		snprintf(delay, sizeof(delay), "%ld",
			 act_delivery_backoff_s(j->attempts + 1, j->out.retry_after_s,
						a->cfg->notify_retry_max_s));
		{
			const char *ps[8] = { j->action_id, j->target, next, delay,
					      j->out.http_status > 0 ? code : NULL, j->out.error,
					      j->out.host, seen };

			res = ax_pg_exec(a->pg, errbuf, errlen, Q_STATE, 8, ps);
			if (res == NULL)
				return AX_EIO;
			PQclear(res);
		}
	}
	if (running && settle(a, j->action_id, st, errbuf, errlen) != AX_OK)
		return AX_EIO;
	return AX_OK;
}

/* Order of recording: by action id, so two batches that touch the same
 * actions lock their rows in the same order and cannot deadlock. */
static int by_action(const void *x, const void *y)
{
	const struct act_job *const *a = x, *const *b = y;
	int c = strcmp((*a)->action_id, (*b)->action_id);

	return c != 0 ? c : strcmp((*a)->target, (*b)->target);
}

ax_err act_delivery_record(struct act *a, const char *tenant, struct act_job *jobs, int n,
			   struct act_settle *st, char *errbuf, size_t errlen)
{
	struct act_job **order;
	int i, k = 0;

	for (i = 0; i < n; i++)
		memset(&st[i], 0, sizeof(st[i]));
	order = ax_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*order));
	for (i = 0; i < n; i++)
		if (jobs[i].done && !jobs[i].recorded)
			order[k++] = &jobs[i];
	if (k == 0) {
		free(order);
		return AX_OK;
	}
	qsort(order, (size_t)k, sizeof(*order), by_action);
	if (ax_pg_begin(a->pg, tenant, errbuf, errlen) != AX_OK)
		goto fail;
	for (i = 0; i < k; i++) {
		struct act_settle *sti = &st[order[i] - jobs];

		if (record_one(a, tenant, order[i], sti, errbuf, errlen) != AX_OK) {
			ax_pg_rollback(a->pg);
			goto fail;
		}
	}
	if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK)
		goto fail;
	for (i = 0; i < k; i++)
		order[i]->recorded = 1;
	free(order);
	return AX_OK;
fail:
	for (i = 0; i < n; i++)
		st[i].settled = 0;
	free(order);
	return AX_EIO;
}

void act_delivery_publish(redisContext *c, const char *tenant, const char *action_id,
			  const struct act_settle *st)
{
	if (c == NULL || !st->settled)
		return;
	act_publish_finished(c, tenant, action_id, st->incident_id[0] ? st->incident_id : NULL,
			     "event", st->event[0] ? st->event : NULL, st->status, st->trace);
}

/* XADD one dead target to alexus:dlq in the format of ax_dead_letter,
 * plus the target. */
static ax_err dlq_add(redisContext *c, const char *tenant, const PGresult *res, int i,
		      char *errbuf, size_t errlen)
{
	const char *argv[32];
	char reason[512], deliv[16];
	redisReply *r;
	int argc = 0;
	ax_err rc = AX_OK;

	snprintf(reason, sizeof(reason), "notify target %s dead after %s attempt(s): %s",
		 PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	snprintf(deliv, sizeof(deliv), "%s", PQgetvalue(res, i, 2));
	argv[argc++] = "XADD";
	argv[argc++] = AX_STREAM_DLQ;
	argv[argc++] = "*";
	argv[argc++] = "v";
	argv[argc++] = AX_ENTRY_VERSION;
	argv[argc++] = "tenant";
	argv[argc++] = tenant;
	argv[argc++] = "id";
	argv[argc++] = PQgetvalue(res, i, 0);
	argv[argc++] = "kind";
	argv[argc++] = "notify";
	argv[argc++] = "trace";
	argv[argc++] = PQgetvalue(res, i, 5);
	argv[argc++] = "data";
	argv[argc++] = PQgetvalue(res, i, 6);
	argv[argc++] = "reason";
	argv[argc++] = reason;
	argv[argc++] = "origin_stream";
	argv[argc++] = AX_STREAM_ACTIONS;
	if (PQgetvalue(res, i, 4)[0] != '\0') {
		argv[argc++] = "origin_id";
		argv[argc++] = PQgetvalue(res, i, 4);
	}
	argv[argc++] = "origin_group";
	argv[argc++] = AX_GROUP_ACT;
	argv[argc++] = "deliveries";
	argv[argc++] = deliv;
	argv[argc++] = "target";
	argv[argc++] = PQgetvalue(res, i, 1);
	r = redisCommandArgv(c, argc, argv, NULL);
	if (r == NULL) {
		ax_errfmt(errbuf, errlen, "dead letter: %s", c->errstr);
		return AX_EIO;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		ax_errfmt(errbuf, errlen, "dead letter: %s", r->str);
		rc = AX_EIO;
	}
	freeReplyObject(r);
	return rc;
}

ax_err act_delivery_dead_letters(struct act *a, redisContext *c, const char *tenant, int max,
				 int *n, char *errbuf, size_t errlen)
{
	char lim[16];
	const char *p[1] = { lim };
	PGresult *res;
	int i;

	*n = 0;
	if (c == NULL || c->err) {
		ax_errfmt(errbuf, errlen, "dead letter: no redis connection");
		return AX_EIO;
	}
	snprintf(lim, sizeof(lim), "%d", max);
	if (ax_pg_begin(a->pg, tenant, errbuf, errlen) != AX_OK)
		return AX_EIO;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_DEAD, 1, p);
	if (res == NULL)
		goto fail;
	for (i = 0; i < PQntuples(res); i++) {
		const char *pd[2] = { PQgetvalue(res, i, 0), PQgetvalue(res, i, 1) };
		PGresult *u;

		if (dlq_add(c, tenant, res, i, errbuf, errlen) != AX_OK) {
			/* Keep what was written marked; the rest waits for Redis. */
			if (*n == 0) {
				PQclear(res);
				goto fail;
			}
			break;
		}
		u = ax_pg_exec(a->pg, errbuf, errlen, Q_DLQ_DONE, 2, pd);
		if (u == NULL) {
			PQclear(res);
			goto fail;
		}
		PQclear(u);
		ax_log(AX_LOG_WARN, PQgetvalue(res, i, 5), tenant,
		       "notify action %s: target %s dead after %s attempt(s) (%s); sent to %s",
		       PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		       PQgetvalue(res, i, 3), AX_STREAM_DLQ);
		(*n)++;
	}
	PQclear(res);
	if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK) {
		*n = 0;
		return AX_EIO;
	}
	return AX_OK;
fail:
	ax_pg_rollback(a->pg);
	*n = 0;
	return AX_EIO;
}
