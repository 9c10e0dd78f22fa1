/* remediate.c - a remediation reason proposed (kind remediate on
 * alexus:actions): policy, approval, execution (see act.h).
 *
 * Design: the same two-transactions-around-the-side-effect shape as a
 * notification (handle.c), with one difference that matters: a
 * notification may be sent twice (at-least-once, with an Idempotency-Key
 * the receiver can use), a remediation must not run twice.  The action
 * row is the idempotency key's claim: it moves pending -> running under a
 * row lock in the transaction that commits the decision, and only the
 * holder of that transition runs the adapter.
 *
 *   1. Decide: lock the action row; gather the tenant's settings, the
 *      approval row, the executions of the last hour; ask the policy
 *      (policy.h).  Then, in the same transaction:
 *        refuse         -> skipped, with the rule and reason;
 *        needs approval -> an approvals row with an expiry and an
 *                          approval.requested notification carrying signed
 *                          approve / reject links; the action stays pending
 *                          until a decision re-appends it (ingest's API);
 *        dry run, execute -> running (executed_at set for a real run).
 *      Every verdict is an audit row ('policy.decision').  COMMIT.
 *   2. Run the adapter (Kubernetes, or the generic HTTP action), a dry run
 *      through the API server's own dryRun=All.
 *   3. Record: if the row is still 'running', write the outcome and the
 *      'remediate.executed' (or '.dry_run') audit row, and an
 *      action.executed notification; COMMIT; XADD; XACK.
 *
 * Failure: a crash in step 2 leaves the row 'running' with nobody to
 * finish it.  The redelivered entry finds it so and does NOT run it again:
 * the outcome is unknown, so the row becomes 'failed' ("interrupted") and
 * people are told -- an operator can re-run it knowingly, a loop cannot.
 * A Postgres failure in step 3 keeps the outcome in memory (memo) and the
 * retry records it without running again.  Notifications written here
 * carry this action's id as their signal_id and are re-appended (act is
 * idempotent per action id) whenever the entry is handled again, so a
 * crash between COMMIT and XADD loses none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "act.h"
#include "httpaction.h"
#include "k8s.h"
#include "policy.h"
#include "target.h"
#include "alexus/failpoint.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/worker.h"

static const char Q_LOCK[] =
	"SELECT status, type, payload::text FROM actions WHERE id = $1 FOR UPDATE";
/* The tenant's knobs (column defaults when it has no row) and the real
 * executions of the last hour (actions_executed). */
static const char Q_SETTINGS[] =
	"SELECT coalesce(s.autonomy, 'dry_run'), coalesce(s.execute_threshold, 0.85)::float8, "
	"coalesce(s.replica_cap, 10), coalesce(s.max_actions_per_hour, 20), "
	"coalesce(s.autonomous_max_blast, 'medium'), "
	"to_jsonb(coalesce(s.allowed_namespaces, '{}'))::text, "
	"to_jsonb(coalesce(s.autonomous_actions, '{}'))::text, "
	"to_jsonb(coalesce(s.http_action_allowlist, '{}'))::text, "
	"(SELECT count(*) FROM actions WHERE executed_at > now() - interval '1 hour') "
	"FROM (SELECT 1) AS one LEFT JOIN tenant_settings s ON true";
/* An undecided approval past its expiry counts as expired at once; the
 * expiry job may not have marked it yet. */
static const char Q_APPROVAL[] =
	"SELECT id, coalesce(decision, CASE WHEN expires_at <= now() THEN 'expired' "
	"ELSE 'pending' END), decided_by FROM approvals WHERE action_id = $1";
static const char Q_INCIDENT[] =
	"SELECT json_build_object('id', id, 'title', title, 'status', status, "
	"'severity', severity, 'category', category, 'confidence', confidence, "
	"'service', service, 'alert_count', alert_count, "
	"'opened_at', to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"'resolved_at', to_char(resolved_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))::text FROM incidents WHERE id = $1";
static const char Q_SET[] =
	"UPDATE actions SET status = $2, result = $3::jsonb, updated_at = now() WHERE id = $1";
static const char Q_RUNNING[] =
	"UPDATE actions SET status = 'running', attempts = attempts + 1, updated_at = now(), "
	"executed_at = CASE WHEN $2 THEN now() END WHERE id = $1";
static const char Q_EXPIRE[] =
	"UPDATE approvals SET decision = 'expired', decided_by = 'act', decided_at = now() "
	"WHERE action_id = $1 AND decision IS NULL";
static const char Q_ASK[] =
	"INSERT INTO approvals (tenant_id, id, action_id, requested_by, expires_at) "
	"VALUES (app_tenant(), $1, $2, 'act', now() + make_interval(secs => $3::int)) "
	"RETURNING extract(epoch FROM expires_at)::bigint, "
	"to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
static const char Q_OUTBOX[] =
	"INSERT INTO actions (tenant_id, id, incident_id, signal_id, type, payload, trace) "
	"VALUES (app_tenant(), $1, $2, $3, 'notify', $4::jsonb, $5)";
static const char Q_CAUSED[] =
	"SELECT id, payload::text FROM actions WHERE signal_id = $1 AND status = 'pending' "
	"AND type = 'notify' ORDER BY created_at, id";
static const char Q_AUDIT[] = "SELECT audit_append('act', $1, $2, $3::jsonb, $4)";

#define MAX_LIST 64

/* Everything step 1 learned about the action. */
struct rem {
	char *status;
	char *payload_text;
	cJSON *payload;
	const char *action;
	const cJSON *params;
	const char *incident_id;
	cJSON *incident;        /* snapshot for notifications, or NULL */
	/* settings */
	char *autonomy;
	double execute_threshold;
	int replica_cap, max_per_hour, executed_last_hour;
	enum act_blast max_blast;
	cJSON *namespaces, *autonomous, *http_allow;
	/* approval */
	char approval_id[AX_UUID_LEN];
	char approval[16];
	char decided_by[128];
	struct act_policy_out pol;
	char subject[128];
};

/* The outcome of a run whose record has not committed yet (see above). */
static struct {
	char action_id[AX_UUID_LEN];
	int dry_run;
	struct act_outcome out;
	char summary[256];
} memo;

/* Lazily opened on the first Kubernetes action: a process whose tenants
 * never remediate does not need a cluster.  Opening is retried at most
 * once a minute when it fails (a kubeconfig mounted late).  Lives until
 * exit (reachable, so not a leak). */
static struct act_k8s *k8s;
static time_t k8s_tried;
static char k8s_why[256];

static struct act_k8s *cluster(const struct ax_config *cfg)
{
	time_t now = time(NULL);

	if (k8s != NULL || now - k8s_tried < 60)
		return k8s;
	k8s_tried = now;
	if (act_k8s_open(&k8s, cfg, k8s_why, sizeof(k8s_why)) != AX_OK) {
		k8s = NULL;
		ax_warn("Kubernetes adapter unavailable: %s", k8s_why);
	}
	return k8s;
}

static void rem_release(struct rem *r)
{
	free(r->status);
	free(r->payload_text);
	free(r->autonomy);
	cJSON_Delete(r->payload);
	cJSON_Delete(r->incident);
	cJSON_Delete(r->namespaces);
	cJSON_Delete(r->autonomous);
	cJSON_Delete(r->http_allow);
	memset(r, 0, sizeof(*r));
}

static char *col(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL : ax_xstrdup(PQgetvalue(res, 0, c));
}

static cJSON *col_json(const PGresult *res, int c)
{
	const char *v = PQgetisnull(res, 0, c) ? NULL : PQgetvalue(res, 0, c);

	return v != NULL ? ax_json_parse(v, strlen(v), AX_JSON_ENTRY_DEPTH) : NULL;
}

/* A JSON array of strings as a C array (pointers into the JSON). */
static size_t strings(const cJSON *arr, const char *out[MAX_LIST])
{
	const cJSON *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, arr) {
		if (n < MAX_LIST && cJSON_IsString(it))
			out[n++] = it->valuestring;
	}
	return n;
}

static int is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

static int x(struct act *a, const char *sql, int n, const char *const *p, char *errbuf,
	     size_t errlen)
{
	PGresult *res = ax_pg_exec(a->pg, errbuf, errlen, sql, n, p);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int audit(struct act *a, const struct ax_entry *e, const struct rem *r, const char *what,
		 cJSON *detail, char *errbuf, size_t errlen)
{
	char *d = ax_json_print(detail);
	const char *p[4] = { what, r->subject, d, e->trace };
	int rc;

	cJSON_Delete(detail);
	rc = x(a, Q_AUDIT, 4, p, errbuf, errlen);
	free(d);
	return rc;
}

static cJSON *decision_json(const struct ax_entry *e, const struct rem *r)
{
	cJSON *d = cJSON_CreateObject();

	if (d == NULL)
		abort();
	cJSON_AddStringToObject(d, "action_id", e->id);
	ax_json_add_str(d, "action", r->action, 1);
	cJSON_AddStringToObject(d, "verdict", act_verdict_str(r->pol.verdict));
	cJSON_AddStringToObject(d, "rule", r->pol.rule);
	cJSON_AddStringToObject(d, "why", r->pol.why);
	ax_json_add_str(d, "namespace", ax_json_str(r->params, "namespace"), 0);
	return d;
}

/* Step 1's reads.  AX_OK, AX_ENOTFOUND (no such action), or AX_EIO with
 * the transaction still open (the caller rolls back). */
static ax_err load(struct act *a, const struct ax_entry *e, struct rem *r, char *errbuf,
		   size_t errlen)
{
	const char *p_id[1] = { e->id };
	PGresult *res;

	res = ax_pg_exec(a->pg, errbuf, errlen, Q_LOCK, 1, p_id);
	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 1), "remediate") != 0) {
		PQclear(res);
		return AX_ENOTFOUND;
	}
	r->status = col(res, 0);
	r->payload_text = col(res, 2);
	PQclear(res);
	r->payload = ax_json_parse(r->payload_text, strlen(r->payload_text), AX_JSON_ENTRY_DEPTH);
	r->action = ax_json_str(r->payload, "action");
	r->params = cJSON_GetObjectItemCaseSensitive(r->payload, "params");
	r->incident_id = ax_json_str(r->payload, "incident_id");
	if (r->incident_id != NULL)
		snprintf(r->subject, sizeof(r->subject), "incident:%s", r->incident_id);
	else
		snprintf(r->subject, sizeof(r->subject), "action:%s", e->id);
	if (strcmp(r->status, "pending") != 0)
		return AX_OK;

	res = ax_pg_exec(a->pg, errbuf, errlen, Q_SETTINGS, 0, NULL);
	if (res == NULL)
		return AX_EIO;
	r->autonomy = col(res, 0);
	r->execute_threshold = strtod(PQgetvalue(res, 0, 1), NULL);
	r->replica_cap = atoi(PQgetvalue(res, 0, 2));
	r->max_per_hour = atoi(PQgetvalue(res, 0, 3));
	if (act_blast_parse(PQgetvalue(res, 0, 4), &r->max_blast) != 0)
		r->max_blast = ACT_BLAST_LOW;
	r->namespaces = col_json(res, 5);
	r->autonomous = col_json(res, 6);
	r->http_allow = col_json(res, 7);
	r->executed_last_hour = atoi(PQgetvalue(res, 0, 8));
	PQclear(res);

	res = ax_pg_exec(a->pg, errbuf, errlen, Q_APPROVAL, 1, p_id);
	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) == 1) {
		snprintf(r->approval_id, sizeof(r->approval_id), "%s", PQgetvalue(res, 0, 0));
		snprintf(r->approval, sizeof(r->approval), "%s", PQgetvalue(res, 0, 1));
		snprintf(r->decided_by, sizeof(r->decided_by), "%s", PQgetvalue(res, 0, 2));
	}
	PQclear(res);

	if (r->incident_id != NULL) {
		const char *p_inc[1] = { r->incident_id };

		res = ax_pg_exec(a->pg, errbuf, errlen, Q_INCIDENT, 1, p_inc);
		if (res == NULL)
			return AX_EIO;
		if (PQntuples(res) == 1)
			r->incident = col_json(res, 0);
		PQclear(res);
	}
	return AX_OK;
}

static void decide(struct act *a, struct rem *r)
{
	const char *ns[MAX_LIST], *au[MAX_LIST], *allow[MAX_LIST];
	struct act_policy_in in;
	int is_http = is(r->action, "http");
	const cJSON *rep = cJSON_GetObjectItemCaseSensitive(r->params, "replicas");

	memset(&in, 0, sizeof(in));
	in.autonomy = r->autonomy;
	in.action = r->action;
	in.supported = is_http || (r->action != NULL && act_k8s_supports(r->action) &&
				   cluster(a->cfg) != NULL);
	in.namespace = is_http || is(r->action, "cordon_node") ? NULL :
				   ax_json_str(r->params, "namespace");
	if (!is_http && !is(r->action, "cordon_node") && in.namespace == NULL)
		in.namespace = "default";
	in.n_allowed_namespaces = strings(r->namespaces, ns);
	in.allowed_namespaces = ns;
	in.n_autonomous_actions = strings(r->autonomous, au);
	in.autonomous_actions = au;
	in.max_autonomous_blast = r->max_blast;
	in.replicas = -1;
	if (is(r->action, "scale_deployment"))
		in.replicas = cJSON_IsNumber(rep) ? (int)rep->valuedouble :
			      cJSON_IsString(rep) ? atoi(rep->valuestring) : 0;
	in.replica_cap = r->replica_cap;
	in.url_allowed = is_http && act_http_url_allowed(ax_json_str(r->params, "url"), allow,
							 (int)strings(r->http_allow, allow));
	in.executed_last_hour = r->executed_last_hour;
	in.max_per_hour = r->max_per_hour;
	in.confidence = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r->payload,
									      "confidence"));
	in.execute_threshold = r->execute_threshold;
	in.approval = r->approval[0] != '\0' ? r->approval : NULL;
	in.approved_by = r->decided_by[0] != '\0' ? r->decided_by : NULL;
	act_policy_decide(&in, &r->pol);
}

/* A notify action caused by this one, written in the open transaction;
 * appended after COMMIT (and again on any redelivery of e). */
static int notify(struct act *a, const struct ax_entry *e, const struct rem *r,
		  const char *event, cJSON *extra_key, const char *extra_name, char *errbuf,
		  size_t errlen)
{
	char id[AX_UUID_LEN], *text;
	cJSON *p = cJSON_CreateObject();
	int rc;

	if (p == NULL)
		abort();
	ax_uuid7(id);
	cJSON_AddStringToObject(p, "action_id", id);
	cJSON_AddStringToObject(p, "type", "notify");
	cJSON_AddStringToObject(p, "channel", "webhook");
	ax_json_add_str(p, "incident_id", r->incident_id, 1);
	cJSON_AddStringToObject(p, "signal_id", e->id);
	cJSON_AddStringToObject(p, "event", event);
	if (r->incident != NULL)
		cJSON_AddItemToObject(p, "incident", cJSON_Duplicate(r->incident, 1));
	else
		cJSON_AddNullToObject(p, "incident");
	cJSON_AddItemToObject(p, extra_name, extra_key);
	text = ax_json_print(p);
	cJSON_Delete(p);
	{
		const char *q[5] = { id, r->incident_id, e->id, text, e->trace };

		rc = x(a, Q_OUTBOX, 5, q, errbuf, errlen);
	}
	free(text);
	return rc;
}

/* The result document of actions.result and of action.executed. */
static cJSON *result_json(const struct rem *r, const char *status, int dry_run,
			  const struct act_outcome *o, const char *summary)
{
	cJSON *j = cJSON_CreateObject();

	if (j == NULL)
		abort();
	ax_json_add_str(j, "action", r->action, 1);
	cJSON_AddStringToObject(j, "status", status);
	cJSON_AddStringToObject(j, "verdict", act_verdict_str(r->pol.verdict));
	cJSON_AddStringToObject(j, "rule", r->pol.rule != NULL ? r->pol.rule : "");
	cJSON_AddStringToObject(j, "why", r->pol.why);
	cJSON_AddBoolToObject(j, "dry_run", dry_run);
	if (o != NULL) {
		if (o->http_status > 0)
			cJSON_AddNumberToObject(j, "http_status", (double)o->http_status);
		else
			cJSON_AddNullToObject(j, "http_status");
		ax_json_add_str(j, "error", o->error[0] != '\0' ? o->error : NULL, 1);
		ax_json_add_str(j, "host", o->host[0] != '\0' ? o->host : NULL, 1);
	}
	ax_json_add_str(j, "summary", summary != NULL && summary[0] != '\0' ? summary : NULL, 1);
	return j;
}

/* Settle the action in the open transaction: status, result, the audit
 * row and the action.executed notification. */
static int settle(struct act *a, const struct ax_entry *e, const struct rem *r,
		  const char *status, const char *audit_what, int dry_run,
		  const struct act_outcome *o, const char *summary, char *errbuf, size_t errlen)
{
	cJSON *res = result_json(r, status, dry_run, o, summary);
	char *text = ax_json_print(res);
	const char *p[3] = { e->id, status, text };
	cJSON *detail;
	int rc;

	rc = x(a, Q_SET, 3, p, errbuf, errlen);
	free(text);
	if (rc == 0) {
		detail = cJSON_Duplicate(res, 1);
		cJSON_AddStringToObject(detail, "action_id", e->id);
		rc = audit(a, e, r, audit_what, detail, errbuf, errlen);
	}
	if (rc == 0)
		rc = notify(a, e, r, "action.executed", res, "result", errbuf, errlen);
	else
		cJSON_Delete(res);
	return rc;
}

/* The approve / reject links, or none without a master key. */
static void links(struct act *a, const struct ax_entry *e, const char *approval_id,
		  long long exp, cJSON *ap)
{
	static const char *const decisions[2] = { "approve", "reject" };
	const unsigned char *m = a->has_keyring ? ax_keyring_master(&a->kr, a->kr.current) : NULL;
	char sig[AX_LINK_SIG_LEN + 1], url[1024], key[16];
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), "%s_url", decisions[i]);
		if (m == NULL || ax_link_sign(m, e->tenant, approval_id, decisions[i], exp, sig) !=
					 AX_OK) {
			cJSON_AddNullToObject(ap, key);
			continue;
		}
		snprintf(url, sizeof(url), "%s/v1/approvals/%s/%s?tenant=%s&exp=%lld&sig=%s",
			 a->cfg->public_url, approval_id, decisions[i], e->tenant, exp, sig);
		cJSON_AddStringToObject(ap, key, url);
	}
}

static int ask(struct act *a, const struct ax_entry *e, struct rem *r, char *errbuf,
	       size_t errlen)
{
	char id[AX_UUID_LEN], ttl[16];
	const char *p[3] = { id, e->id, ttl };
	PGresult *res;
	long long exp;
	cJSON *ap, *d;

	ax_uuid7(id);
	snprintf(ttl, sizeof(ttl), "%d", a->cfg->approval_ttl_s);
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_ASK, 3, p);
	if (res == NULL)
		return -1;
	exp = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	ap = cJSON_CreateObject();
	if (ap == NULL)
		abort();
	cJSON_AddStringToObject(ap, "id", id);
	cJSON_AddStringToObject(ap, "action_id", e->id);
	ax_json_add_str(ap, "action", r->action, 1);
	cJSON_AddItemToObject(ap, "params", r->params != NULL ? cJSON_Duplicate(r->params, 1) :
								 cJSON_CreateObject());
	cJSON_AddStringToObject(ap, "why", r->pol.why);
	cJSON_AddStringToObject(ap, "expires_at", PQgetvalue(res, 0, 1));
	PQclear(res);
	links(a, e, id, exp, ap);
	d = decision_json(e, r);
	cJSON_AddStringToObject(d, "approval_id", id);
	if (audit(a, e, r, "approval.requested", d, errbuf, errlen) != 0) {
		cJSON_Delete(ap);
		return -1;
	}
	return notify(a, e, r, "approval.requested", ap, "approval", errbuf, errlen);
}

/* After COMMIT: the notifications this action caused that act has not
 * handled yet, appended (again) to alexus:actions. */
static ax_err append_caused(struct act *a, redisContext *c, const struct ax_entry *e,
			    char *errbuf, size_t errlen)
{
	const char *p[1] = { e->id };
	PGresult *res;
	ax_err rc = AX_OK;
	int i;

	if (ax_pg_begin(a->pg, e->tenant, errbuf, errlen) != AX_OK)
		return AX_EIO;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_CAUSED, 1, p);
	if (res == NULL) {
		ax_pg_rollback(a->pg);
		return AX_EIO;
	}
	ax_pg_rollback(a->pg); /* read only */
	for (i = 0; i < PQntuples(res) && rc == AX_OK; i++)
		rc = ax_action_append(c, e->tenant, PQgetvalue(res, i, 0), "notify", e->trace,
				      PQgetvalue(res, i, 1), errbuf, errlen);
	PQclear(res);
	return rc;
}

static void publish(redisContext *c, const struct ax_entry *e, const struct rem *r,
		    const char *status)
{
	act_publish_finished(c, e->tenant, e->id, r->incident_id, "action", r->action, status,
			     e->trace);
}

/* Step 2. */
static void run(struct act *a, const struct ax_entry *e, struct rem *r, int dry_run)
{
	struct act_outcome *o = &memo.out;

	memset(&memo, 0, sizeof(memo));
	snprintf(memo.action_id, sizeof(memo.action_id), "%s", e->id);
	memo.dry_run = dry_run;
	if (is(r->action, "http")) {
		const char *allow[MAX_LIST];
		size_t n = strings(r->http_allow, allow);
		cJSON *doc = cJSON_CreateObject();

		if (doc == NULL)
			abort();
		cJSON_AddItemReferenceToObject(doc, "incident", r->incident);
		cJSON_AddItemReferenceToObject(doc, "action", r->payload);
		if (act_http_run(r->params, doc, allow, (int)n, dry_run, a->cfg->notify_timeout_ms,
				 e->id, o, memo.summary, sizeof(memo.summary)) != AX_OK &&
		    o->error[0] == '\0')
			snprintf(o->error, sizeof(o->error), "the HTTP action was refused");
		cJSON_Delete(doc);
		return;
	}
	if (cluster(a->cfg) == NULL) {
		snprintf(o->error, sizeof(o->error), "no Kubernetes cluster: %.200s", k8s_why);
		return;
	}
	if (act_k8s_run(k8s, r->action, r->params, dry_run, e->id, o, memo.summary,
			sizeof(memo.summary)) != AX_OK && o->error[0] == '\0')
		snprintf(o->error, sizeof(o->error), "%s: invalid parameters", r->action);
}

/* Step 3.  *recorded = 0 when the row was no longer 'running'. */
static ax_err record(struct act *a, const struct ax_entry *e, struct rem *r, int *recorded,
		     char *errbuf, size_t errlen)
{
	const char *p_id[1] = { e->id };
	const char *status = memo.out.ok ? "succeeded" : "failed";
	PGresult *res;
	int running;

	*recorded = 0;
	if (ax_pg_begin(a->pg, e->tenant, errbuf, errlen) != AX_OK)
		return AX_EIO;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_LOCK, 1, p_id);
	if (res == NULL)
		goto fail;
	running = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "running") == 0;
	PQclear(res);
	if (!running) {
		ax_pg_rollback(a->pg);
		return AX_OK;
	}
	if (settle(a, e, r, status, memo.dry_run ? "remediate.dry_run" : "remediate.executed",
		   memo.dry_run, &memo.out, memo.summary, errbuf, errlen) != 0)
		goto fail;
	if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK)
		return AX_EIO;
	*recorded = 1;
	return AX_OK;
fail:
	ax_pg_rollback(a->pg);
	return AX_EIO;
}

/* After the decision committed: append what it caused, XACK. */
static ax_err finish(struct act *a, redisContext *c, const struct ax_entry *e, char *errbuf,
		     size_t errlen)
{
	if (append_caused(a, c, e, errbuf, errlen) != AX_OK)
		return AX_EIO;
	return ax_group_ack(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e->stream_id, errbuf, errlen);
}

ax_err act_remediate(struct act *a, redisContext *c, const struct ax_entry *e, char *errbuf,
		     size_t errlen)
{
	struct rem r;
	const char *p_id[1] = { e->id };
	int dry_run = 0, recorded = 0;
	ax_err rc;

	memset(&r, 0, sizeof(r));
	if (ax_pg_begin(a->pg, e->tenant, errbuf, errlen) != AX_OK)
		return AX_EIO;
	rc = load(a, e, &r, errbuf, errlen);
	if (rc != AX_OK) {
		ax_pg_rollback(a->pg);
		rem_release(&r);
		if (rc == AX_ENOTFOUND)
			return ax_worker_dead_letter(c, AX_STREAM_ACTIONS, AX_GROUP_ACT, e,
						     "unknown remediate action", errbuf, errlen);
		return rc;
	}

	if (strcmp(r.status, "running") == 0 && strcmp(memo.action_id, e->id) == 0) {
		/* Our own run whose record failed: record it now. */
		ax_pg_rollback(a->pg);
		r.pol.verdict = memo.dry_run ? ACT_DRY_RUN : ACT_EXECUTE;
		r.pol.rule = "recorded_late";
		goto record;
	}
	if (strcmp(r.status, "running") == 0) {
		struct act_outcome o;

		memset(&o, 0, sizeof(o));
		snprintf(o.error, sizeof(o.error),
			 "interrupted while running: the outcome is unknown, so it is not run "
			 "again");
		r.pol.verdict = ACT_EXECUTE;
		r.pol.rule = "interrupted";
		snprintf(r.pol.why, sizeof(r.pol.why), "a worker stopped during the run");
		if (settle(a, e, &r, "failed", "remediate.interrupted", 0, &o, NULL, errbuf,
			   errlen) != 0)
			goto fail;
		goto commit;
	}
	if (strcmp(r.status, "pending") != 0) {
		ax_pg_rollback(a->pg); /* finished: a duplicate delivery */
		goto done;
	}

	decide(a, &r);
	switch (r.pol.verdict) {
	case ACT_REFUSE:
		if (is(r.approval, "expired") && x(a, Q_EXPIRE, 1, p_id, errbuf, errlen) != 0)
			goto fail;
		if (audit(a, e, &r, "policy.decision", decision_json(e, &r), errbuf, errlen) != 0 ||
		    settle(a, e, &r, "skipped", "remediate.refused", 0, NULL, NULL, errbuf,
			   errlen) != 0)
			goto fail;
		goto commit;
	case ACT_NEEDS_APPROVAL:
		if (r.approval_id[0] != '\0') {
			ax_pg_rollback(a->pg); /* still waiting: nothing to do */
			goto done;
		}
		if (ask(a, e, &r, errbuf, errlen) != 0)
			goto fail;
		goto commit;
	case ACT_DRY_RUN:
	case ACT_EXECUTE:
		dry_run = r.pol.verdict == ACT_DRY_RUN;
		{
			const char *p[2] = { e->id, dry_run ? "false" : "true" };

			if (audit(a, e, &r, "policy.decision", decision_json(e, &r), errbuf,
				  errlen) != 0 ||
			    x(a, Q_RUNNING, 2, p, errbuf, errlen) != 0)
				goto fail;
		}
		if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK) {
			rc = AX_EIO;
			goto out;
		}
		ax_failpoint("act.remediate.after_claim");
		run(a, e, &r, dry_run);
		ax_failpoint("act.remediate.after_run");
		goto record;
	}

commit:
	if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK) {
		rc = AX_EIO;
		goto out;
	}
	publish(c, e, &r, r.pol.verdict == ACT_NEEDS_APPROVAL ? "awaiting_approval" :
			  r.pol.verdict == ACT_REFUSE ? "skipped" : "failed");
	ax_log(AX_LOG_INFO, e->trace, e->tenant, "remediate %s %s: %s (%s)", e->id,
	       r.action != NULL ? r.action : "?", act_verdict_str(r.pol.verdict), r.pol.why);
	goto done;

record:
	rc = record(a, e, &r, &recorded, errbuf, errlen);
	if (rc != AX_OK)
		goto out; /* the memo keeps the outcome for the retry */
	if (recorded) {
		publish(c, e, &r, memo.out.ok ? "succeeded" : "failed");
		ax_log(AX_LOG_INFO, e->trace, e->tenant, "remediate %s %s%s: %s%s%s", e->id,
		       r.action != NULL ? r.action : "?", memo.dry_run ? " (dry run)" : "",
		       memo.out.ok ? "succeeded" : "failed",
		       memo.summary[0] != '\0' ? ": " : "",
		       memo.summary[0] != '\0' ? memo.summary : memo.out.error);
	}
	memset(&memo, 0, sizeof(memo));
done:
	rc = finish(a, c, e, errbuf, errlen);
	goto out;
fail:
	ax_pg_rollback(a->pg);
	rc = AX_EIO;
out:
	rem_release(&r);
	return rc;
}
