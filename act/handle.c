/* handle.c - one alexus:actions entry, end to end (see act.h).
 *
 * Design: three steps, two short transactions, and the external side
 * effect between them, never inside one (a transaction must not stay
 * open across a network call of unbounded length).
 *
 *   1. Claim: lock the action row (FOR UPDATE), refuse unknown ones,
 *      acknowledge finished ones (a duplicate delivery: reason may append
 *      an action twice after a crash), else mark it 'running', count the
 *      attempt, read the tenant's notify_webhook_url; COMMIT.
 *   2. Deliver the webhook with retries (notify/webhook.c), or skip when
 *      no URL is configured.
 *   3. Record: lock the row again; if it is still 'running' write the
 *      final status and result and append the one audit row of this
 *      action (audit_append) in the same transaction; COMMIT; XACK.
 *
 * A crash in step 2 leaves the row 'running'; the reclaimed entry is
 * delivered again with the same Idempotency-Key, which is the documented
 * at-least-once contract towards external systems.  A Postgres failure in
 * step 3 is not a crash: the outcome is kept in memory (struct act_memo)
 * and the retry records it without delivering twice.  Step 3 writes only
 * over 'running', so even two consumers racing on one action produce one
 * final status and one audit row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "notify/webhook.h"
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
static const char Q_WEBHOOK_URL[] =
	"SELECT settings->>'notify_webhook_url' FROM tenants WHERE id = $1";
static const char Q_LOCK[] = "SELECT status FROM actions WHERE id = $1 FOR UPDATE";
static const char Q_FINISH[] =
	"UPDATE actions SET status = $2, result = $3::jsonb, updated_at = now() WHERE id = $1";
static const char Q_AUDIT[] = "SELECT audit_append('act', 'notify.webhook', $1, $2::jsonb, $3)";
/* What step 1 learned. */
struct claim {
	char *status;
	char *type;
	char *payload_text;
	char *url;
	cJSON *payload;
	const char *event;       /* inside payload */
	const char *incident_id; /* inside payload */
	const cJSON *incident;   /* inside payload */
};

static void claim_release(struct claim *cl)
{
	free(cl->status);
	free(cl->type);
	free(cl->payload_text);
	free(cl->url);
	cJSON_Delete(cl->payload);
	memset(cl, 0, sizeof(*cl));
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

static char *col(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL : ax_xstrdup(PQgetvalue(res, 0, c));
}

/* Step 1.  AX_OK with cl filled, or AX_ENOTFOUND (no such action), or a
 * failure (rolled back).  *memo_hit: the row is 'running' and this
 * process holds its unrecorded outcome. */
static ax_err claim(struct act *a, const struct ax_entry *e, struct claim *cl, int *memo_hit,
		    char *errbuf, size_t errlen)
{
	const char *p_id[1] = { e->id }, *p_t[1] = { e->tenant };
	PGresult *res;
	ax_err rc;

	*memo_hit = 0;
	rc = ax_pg_begin(a->pg, e->tenant, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_CLAIM, 1, p_id);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		ax_pg_rollback(a->pg);
		return AX_ENOTFOUND;
	}
	cl->status = col(res, 0);
	cl->type = col(res, 1);
	cl->payload_text = col(res, 2);
	PQclear(res);
	if (finished(cl->status) || strcmp(cl->type, "notify") != 0) {
		ax_pg_rollback(a->pg);
		return AX_OK;
	}
	*memo_hit = strcmp(cl->status, "running") == 0 && strcmp(a->memo.action_id, e->id) == 0;
	if (!*memo_hit) {
		res = ax_pg_exec(a->pg, errbuf, errlen, Q_RUNNING, 1, p_id);
		if (res == NULL)
			goto fail;
		PQclear(res);
		res = ax_pg_exec(a->pg, errbuf, errlen, Q_WEBHOOK_URL, 1, p_t);
		if (res == NULL)
			goto fail;
		if (PQntuples(res) == 1)
			cl->url = col(res, 0);
		PQclear(res);
	}
	rc = ax_pg_commit(a->pg, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	cl->payload = cl->payload_text != NULL ? ax_json_parse(cl->payload_text,
							       strlen(cl->payload_text), AX_JSON_ENTRY_DEPTH)
					       : NULL;
	cl->event = ax_json_str(cl->payload, "event");
	cl->incident_id = ax_json_str(cl->payload, "incident_id");
	cl->incident = cJSON_GetObjectItemCaseSensitive(cl->payload, "incident");
	return AX_OK;
fail:
	ax_pg_rollback(a->pg);
	return AX_EIO;
}

/* Step 2: fill the memo with the outcome.  AX_EAGAIN when abandoned. */
static ax_err deliver(struct act *a, const struct ax_entry *e, const struct claim *cl)
{
	struct act_memo *m = &a->memo;

	memset(m, 0, sizeof(*m));
	snprintf(m->action_id, sizeof(m->action_id), "%s", e->id);
	if (cl->payload == NULL || cl->event == NULL) {
		m->status = "failed";
		snprintf(m->error, sizeof(m->error), "action payload is not a notify document");
	} else if (cl->url == NULL || cl->url[0] == '\0') {
		m->status = "skipped";
		snprintf(m->error, sizeof(m->error), "no notify_webhook_url configured");
	} else {
		struct act_webhook_opts o = { a->cfg->notify_timeout_ms, a->cfg->notify_retries,
					      a->cfg->notify_backoff_ms, a->stop };
		struct act_webhook_result r;
		char *body = act_webhook_body(cl->event, e->tenant, e->id, e->trace, cl->incident);

		(void)act_url_host(cl->url, m->host, sizeof(m->host));
		act_webhook_deliver(cl->url, body, e->id, cl->event, e->trace, &o, &r);
		free(body);
		if (r.outcome == ACT_ABANDONED) {
			m->action_id[0] = '\0';
			return AX_EAGAIN;
		}
		m->status = r.outcome == ACT_DELIVERED ? "succeeded" : "failed";
		m->http_status = r.http_status;
		m->attempts = r.attempts;
		snprintf(m->error, sizeof(m->error), "%s", r.error);
	}
	return AX_OK;
}

/* Step 3.  *recorded = 0 when another consumer finished the row first. */
static ax_err record(struct act *a, const struct ax_entry *e, const struct claim *cl,
		     int *recorded, char *errbuf, size_t errlen)
{
	const struct act_memo *m = &a->memo;
	const char *p_id[1] = { e->id };
	char subject[128], *result, *detail;
	cJSON *j;
	PGresult *res;
	ax_err rc;
	int running;

	*recorded = 0;
	rc = ax_pg_begin(a->pg, e->tenant, errbuf, errlen);
	if (rc != AX_OK)
		return rc;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_LOCK, 1, p_id);
	if (res == NULL) {
		ax_pg_rollback(a->pg);
		return AX_EIO;
	}
	running = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "running") == 0;
	PQclear(res);
	if (!running) {
		ax_pg_rollback(a->pg);
		return AX_OK;
	}
	j = act_result_json(m->http_status, m->attempts, m->error);
	result = ax_json_print(j);
	cJSON_Delete(j);
	j = act_audit_detail(e->id, cl->event, m->status, m->http_status, m->host);
	detail = ax_json_print(j);
	cJSON_Delete(j);
	if (cl->incident_id != NULL)
		snprintf(subject, sizeof(subject), "incident:%s", cl->incident_id);
	else
		snprintf(subject, sizeof(subject), "action:%s", e->id);
	{
		const char *pf[3] = { e->id, m->status, result };
		const char *pa[3] = { subject, detail, e->trace };

		res = ax_pg_exec(a->pg, errbuf, errlen, Q_FINISH, 3, pf);
		if (res != NULL) {
			PQclear(res);
			res = ax_pg_exec(a->pg, errbuf, errlen, Q_AUDIT, 3, pa);
		}
	}
	free(result);
	free(detail);
	if (res == NULL) {
		ax_pg_rollback(a->pg);
		return AX_EIO;
	}
	PQclear(res);
	rc = ax_pg_commit(a->pg, errbuf, errlen);
	if (rc == AX_OK)
		*recorded = 1;
	return rc;
}

static void publish(redisContext *c, const struct ax_entry *e, const struct claim *cl,
		    const char *status)
{
	cJSON *ev = cJSON_CreateObject();
	char err[256], *s;

	if (ev == NULL)
		abort();
	cJSON_AddStringToObject(ev, "type", "action.finished");
	cJSON_AddStringToObject(ev, "tenant", e->tenant);
	cJSON_AddStringToObject(ev, "action_id", e->id);
	ax_json_add_str(ev, "incident_id", cl->incident_id, 1);
	ax_json_add_str(ev, "event", cl->event, 1);
	cJSON_AddStringToObject(ev, "status", status);
	cJSON_AddStringToObject(ev, "trace", e->trace);
	s = ax_json_print(ev);
	cJSON_Delete(ev);
	if (ax_publish_event(c, e->tenant, s, err, sizeof(err)) != AX_OK)
		ax_log(AX_LOG_WARN, e->trace, e->tenant, "action event not published: %s", err);
	free(s);
}

ax_err act_handle(struct act *a, redisContext *c, const struct ax_entry *e, char *errbuf,
		  size_t errlen)
{
	struct claim cl;
	const char *why;
	int memo_hit = 0, recorded = 0;
	ax_err rc;

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

	memset(&cl, 0, sizeof(cl));
	rc = claim(a, e, &cl, &memo_hit, errbuf, errlen);
	if (rc == AX_ENOTFOUND) {
		rc = dead_letter(c, e, "unknown action", errbuf, errlen);
		goto out;
	}
	if (rc != AX_OK)
		goto out;
	if (strcmp(cl.type, "notify") != 0) {
		rc = dead_letter(c, e, "unsupported action type", errbuf, errlen);
		goto out;
	}
	if (finished(cl.status)) {
		rc = ax_group_ack(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e->stream_id, errbuf, errlen);
		if (rc == AX_OK)
			ax_log(AX_LOG_INFO, e->trace, e->tenant,
			       "action %s already %s: duplicate delivery acknowledged", e->id,
			       cl.status);
		goto out;
	}

	if (!memo_hit) {
		ax_failpoint("act.after_claim");
		rc = deliver(a, e, &cl);
		if (rc == AX_EAGAIN) {
			ax_log(AX_LOG_INFO, e->trace, e->tenant,
			       "stopping during retries: action %s stays running and will be "
			       "delivered again", e->id);
			goto out;
		}
	}
	ax_failpoint("act.after_deliver");
	rc = record(a, e, &cl, &recorded, errbuf, errlen);
	if (rc != AX_OK)
		goto out; /* the memo keeps the outcome for the retry */
	ax_failpoint("act.after_commit");
	if (recorded)
		publish(c, e, &cl, a->memo.status);
	rc = ax_group_ack(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e->stream_id, errbuf, errlen);
	if (rc != AX_OK)
		goto out;
	if (!recorded)
		ax_log(AX_LOG_INFO, e->trace, e->tenant,
		       "action %s was finished by another consumer meanwhile", e->id);
	else if (a->memo.http_status > 0)
		ax_log(AX_LOG_INFO, e->trace, e->tenant,
		       "notify %s for incident %s: %s (HTTP %ld after %d attempt(s), %s)",
		       cl.event ? cl.event : "?", cl.incident_id ? cl.incident_id : "?",
		       a->memo.status, a->memo.http_status, a->memo.attempts, a->memo.host);
	else
		ax_log(AX_LOG_INFO, e->trace, e->tenant, "notify %s for incident %s: %s (%s)",
		       cl.event ? cl.event : "?", cl.incident_id ? cl.incident_id : "?",
		       a->memo.status, a->memo.error);
	memset(&a->memo, 0, sizeof(a->memo));
out:
	claim_release(&cl);
	return rc;
}
