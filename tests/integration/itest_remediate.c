/* itest_remediate.c - act's remediation path end to end, against real
 * Redis and Postgres, ingest's approval API, and an HTTPS receiver that
 * stands in for the Kubernetes API server.
 *
 * reason is not started: each test writes the remediate action exactly as
 * reason's execute stage does (an actions row, then an alexus:actions
 * entry of kind remediate), so what is under test is act and the API.
 *
 *   approval   autonomy 'approval': act asks (approvals row, audit row, an
 *              approval.requested notification with signed links) and
 *              runs nothing; bad API calls are refused and change nothing;
 *              an operator approves through POST /v1/approvals/{id}; the
 *              rollout restart reaches the API server exactly once, with
 *              the service account's token; a redelivered entry and a
 *              second approval run nothing more; the audit chain holds.
 *   link       the signed reject link: a GET only shows a button, a forged
 *              signature is refused, the POST rejects; nothing runs.
 *   dry run    the default autonomy: the API server's dryRun=All, nothing
 *              counted against the hourly cap.
 *   refused    a namespace the tenant did not open: skipped, no request.
 *   replicas   autonomous, two act processes, the entry appended three
 *              times: one request, one execution audit row.
 *   crash      act killed after claiming the run: the restarted act does
 *              not run it again; the action fails as interrupted.
 *   chain      the whole way, with a real reason: an Alertmanager webhook
 *              of a pod not ready -> reason's heuristic proposes
 *              restart_pod -> the policy asks for approval -> an operator
 *              approves through the API -> the pod is deleted once on the
 *              API server -> the audit rows, in order, chained. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "receiver.h"
#include "system.h"

#define SA_TOKEN "sa-token-for-tests"

static struct rcv_certs certs;
static char sa_dir[300];
static struct receiver *apiserver;

struct env {
	char tenant[64];
	char ingest_url[128];
	struct h_proc ingest, act, act2, reason;
	PGconn *app;
	redisContext *redis;
	char env_api[128], env_sa[340], env_port[64];
};

static struct env E;

static int setup_all(void **state)
{
	char path[400], cmd[1024];
	FILE *f;

	(void)state;
	if (rcv_certs_make(&certs) != 0)
		return -1;
	snprintf(sa_dir, sizeof(sa_dir), "%s/sa", certs.dir);
	mkdir(sa_dir, 0700);
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(SA_TOKEN "\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/ca.crt'", certs.ca, sa_dir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	rcv_certs_remove(&certs);
	return 0;
}

static void start_act(struct h_proc *p, const char *consumer, const char *failpoints)
{
	static char cons[2][64], fp[2][128];
	int i = p == &E.act2;
	const char *env[] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=300",
			      cons[i], fp[i], E.env_api, E.env_sa, NULL };

	snprintf(cons[i], sizeof(cons[i]), "ALEXUS_CONSUMER=%s", consumer);
	snprintf(fp[i], sizeof(fp[i]), "ALEXUS_FAILPOINTS=%s", failpoints ? failpoints : "");
	h_spawn(p, "alexus-act", env);
}

/* A fresh tenant with settings, the API server, ingest (for the API) and
 * one act. */
static void up_fp(const char *prefix, const char *settings_sql, const char *act_failpoints)
{
	const char *p[1];
	char ready[160];
	const char *ienv[] = { E.env_port, NULL };

	memset(&E, 0, sizeof(E));
	E.app = h_pg_app();
	E.redis = h_redis();
	h_tenant_new(prefix, NULL, E.tenant);
	p[0] = E.tenant;
	if (settings_sql != NULL)
		PQclear(h_pg_q(E.app, E.tenant, settings_sql, 1, p));
	apiserver = rcv_start_tls(200, certs.server_cert, certs.server_key);
	snprintf(E.env_api, sizeof(E.env_api), "ALEXUS_K8S_API=https://127.0.0.1:%d",
		 rcv_port(apiserver));
	snprintf(E.env_sa, sizeof(E.env_sa), "ALEXUS_K8S_SA_DIR=%s", sa_dir);
	snprintf(E.env_port, sizeof(E.env_port), "ALEXUS_INGEST_PORT=%d", h_free_port());
	snprintf(E.ingest_url, sizeof(E.ingest_url), "http://127.0.0.1:%s",
		 E.env_port + strlen("ALEXUS_INGEST_PORT="));
	h_spawn(&E.ingest, "alexus-ingest", ienv);
	snprintf(ready, sizeof(ready), "%s/readyz", E.ingest_url);
	if (!h_wait_http_200(ready, WAIT_MS)) {
		h_dump_log(&E.ingest);
		fail_msg("ingest did not become ready");
	}
	start_act(&E.act, "act-a", act_failpoints);
}

static void up(const char *prefix, const char *settings_sql)
{
	up_fp(prefix, settings_sql, NULL);
}

static void stop_clean(struct h_proc *p)
{
	if (p->pid == 0 || p->reaped)
		return;
	if (h_stop(p, SIGTERM, 10000) != 0 || h_log_has_sanitizer_report(p) ||
	    !WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0) {
		h_dump_log(p);
		fail_msg("%s did not exit cleanly", p->log);
	}
}

static void down(void)
{
	stop_clean(&E.reason);
	stop_clean(&E.act);
	stop_clean(&E.act2);
	stop_clean(&E.ingest);
	rcv_stop(apiserver);
	apiserver = NULL;
	PQfinish(E.app);
	redisFree(E.redis);
}

static int teardown(void **state)
{
	(void)state;
	h_stop(&E.reason, SIGKILL, 5000);
	h_stop(&E.act, SIGKILL, 5000);
	h_stop(&E.act2, SIGKILL, 5000);
	h_stop(&E.ingest, SIGKILL, 5000);
	if (apiserver != NULL)
		rcv_stop(apiserver);
	apiserver = NULL;
	return 0;
}

static long q(const char *sql)
{
	return h_pg_long(E.app, E.tenant, sql, 0, NULL);
}

static int q_equals(void *arg)
{
	const struct { const char *sql; long want; } *c = arg;

	return q(c->sql) == c->want;
}

static void wait_q(const char *sql, long want)
{
	struct { const char *sql; long want; } c = { sql, want };

	if (!h_wait_until(q_equals, &c, WAIT_MS)) {
		h_dump_log(&E.act);
		h_dump_log(&E.ingest);
		fail_msg("timed out waiting for (%s) = %ld, last %ld", sql, want, q(sql));
	}
}

/* Group act has read every entry of alexus:actions and acknowledged it
 * (XINFO GROUPS: pending 0 and lag 0). */
static int actions_drained(void *arg)
{
	redisReply *r = redisCommand(E.redis, "XINFO GROUPS alexus:actions");
	long long pending = -1, lag = -1;
	size_t i, j;
	int is_act;

	(void)arg;
	for (i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		redisReply *g = r->element[i];

		is_act = 0;
		for (j = 0; j + 1 < g->elements; j += 2)
			if (strcmp(g->element[j]->str, "name") == 0 &&
			    strcmp(g->element[j + 1]->str, "act") == 0)
				is_act = 1;
		for (j = 0; is_act && j + 1 < g->elements; j += 2) {
			if (strcmp(g->element[j]->str, "pending") == 0)
				pending = g->element[j + 1]->integer;
			if (strcmp(g->element[j]->str, "lag") == 0 &&
			    g->element[j + 1]->type == REDIS_REPLY_INTEGER)
				lag = g->element[j + 1]->integer;
		}
	}
	freeReplyObject(r);
	return pending == 0 && lag == 0;
}

/* What reason's execute stage writes: an incident, the remediate action
 * row, then the entry.  Returns the action id in id. */
static void propose(const char *action, const char *params_json, double confidence,
		    char id[40])
{
	char inc[40], payload[1024], conf[16];
	const char *p[4];
	PGresult *r;

	r = h_pg_q(E.app, E.tenant, "SELECT gen_random_uuid()::text, gen_random_uuid()::text", 0,
		   NULL);
	snprintf(inc, sizeof(inc), "%s", PQgetvalue(r, 0, 0));
	snprintf(id, 40, "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	p[0] = inc;
	PQclear(h_pg_q(E.app, E.tenant,
		       "INSERT INTO incidents (tenant_id, id, title, status, severity, stage, "
		       "group_key, service) VALUES (app_tenant(), $1::uuid, 'api pods crash looping', "
		       "'open', 'critical', 'execute', 'test:' || $1, 'api')",
		       1, p));
	snprintf(conf, sizeof(conf), "%.2f", confidence);
	snprintf(payload, sizeof(payload),
		 "{\"action_id\":\"%s\",\"type\":\"remediate\",\"action\":\"%s\",\"params\":%s,"
		 "\"reason\":\"crash loop after a bad config push\",\"incident_id\":\"%s\","
		 "\"confidence\":%s,\"run_id\":\"%s\",\"seq\":0}",
		 id, action, params_json, inc, conf, inc);
	p[0] = id;
	p[1] = inc;
	p[2] = payload;
	PQclear(h_pg_q(E.app, E.tenant,
		       "INSERT INTO actions (tenant_id, id, incident_id, type, payload, trace) "
		       "VALUES (app_tenant(), $1::uuid, $2::uuid, 'remediate', $3::jsonb, "
		       "'0af7651916cd43dd8448eb211c80319c')",
		       3, p));
}

static void append(const char *id)
{
	char payload[1024];
	const char *p[1] = { id };
	PGresult *r = h_pg_q(E.app, E.tenant, "SELECT payload::text FROM actions WHERE id = $1",
			     1, p);
	redisReply *rep;

	snprintf(payload, sizeof(payload), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	rep = redisCommand(E.redis,
			   "XADD alexus:actions * v 1 tenant %s id %s kind remediate trace %s data %s",
			   E.tenant, id, "0af7651916cd43dd8448eb211c80319c", payload);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_STRING);
	freeReplyObject(rep);
}

static long api(const char *id, const char *token, const char *body, char **resp)
{
	char url[256], auth[1200];
	const char *h[3] = { "Content-Type: application/json", auth, NULL };

	snprintf(url, sizeof(url), "%s/v1/approvals/%s", E.ingest_url, id);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token != NULL ? token : "");
	if (token == NULL)
		h[1] = NULL;
	return h_http("POST", url, h, body, strlen(body), resp);
}

static char *token_role(const char *role)
{
	char *out = NULL, *nl;

	if (h_ctl(&out, "token", "mint", "--tenant", E.tenant, "--ttl", "600", "--role", role,
		  NULL) != 0)
		fail_msg("token mint --role %s failed: %s", role, out ? out : "");
	nl = strrchr(out, '\n');
	if (nl != NULL && nl[1] == '\0')
		*nl = '\0';
	nl = strrchr(out, '\n');
	if (nl != NULL)
		memmove(out, nl + 1, strlen(nl + 1) + 1);
	return out;
}

static void check_k8s_request(int i, const char *path, int dry_run)
{
	const struct rcv_request *r = rcv_get(apiserver, i);
	char buf[512];
	cJSON *b;
	const cJSON *ann;

	assert_non_null(r);
	assert_string_equal(r->method, "PATCH");
	snprintf(buf, sizeof(buf), "%s?%sfieldManager=alexus", path, dry_run ? "dryRun=All&" : "");
	if (strcmp(r->path, buf) != 0) {
		/* The query's order is the adapter's; both parameters must be there. */
		assert_non_null(strstr(r->path, "fieldManager=alexus"));
		assert_true((strstr(r->path, "dryRun=All") != NULL) == dry_run);
		assert_int_equal(strncmp(r->path, path, strlen(path)), 0);
	}
	assert_non_null(rcv_header(r, "authorization", buf, sizeof(buf)));
	assert_string_equal(buf, "Bearer " SA_TOKEN);
	assert_non_null(rcv_header(r, "content-type", buf, sizeof(buf)));
	assert_string_equal(buf, "application/strategic-merge-patch+json");
	b = cJSON_Parse(r->body);
	assert_non_null(b);
	ann = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(b, "spec"), "template"), "metadata"), "annotations"),
				  "kubectl.kubernetes.io/restartedAt");
	assert_true(cJSON_IsString(ann));
	cJSON_Delete(b);
}

static const char SHOP_APPROVAL[] =
	"INSERT INTO tenant_settings (tenant_id, autonomy, allowed_namespaces) "
	"VALUES ($1, 'approval', '{shop}')";

static void test_approval(void **state)
{
	char id[40], sql[512], ap[40], *resp = NULL, *operator, *viewer;
	const char *p[1];
	PGresult *r;

	(void)state;
	up("rem-approve", SHOP_APPROVAL);
	propose("rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"api\"}", 0.9, id);
	append(id);

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM approvals WHERE action_id = '%s' "
		 "AND decision IS NULL AND expires_at > now()", id);
	wait_q(sql, 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' "
		 "AND status = 'pending' AND executed_at IS NULL", id);
	assert_int_equal(q(sql), 1);
	/* The notification people act on: signed links to ingest. */
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM actions WHERE signal_id = '%s' AND type = 'notify' "
		 "AND payload->>'event' = 'approval.requested' "
		 "AND payload->'approval'->>'approve_url' LIKE 'http%%/v1/approvals/%%/approve?"
		 "tenant=%s&exp=%%&sig=%%' AND payload->'incident'->>'severity' = 'critical'",
		 id, E.tenant);
	assert_int_equal(q(sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE action = "
		 "'approval.requested' AND detail->>'action_id' = '%s' "
		 "AND detail->>'rule' = 'approval_required'", id);
	assert_int_equal(q(sql), 1);
	assert_int_equal(rcv_count(apiserver), 0);

	p[0] = id;
	r = h_pg_q(E.app, E.tenant, "SELECT id::text FROM approvals WHERE action_id = $1", 1, p);
	snprintf(ap, sizeof(ap), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	/* Refusals change nothing. */
	operator = token_role("operator");
	viewer = token_role("viewer");
	assert_int_equal(api(ap, NULL, "{\"decision\":\"approve\"}", &resp), 401);
	assert_non_null(strstr(resp, "\"error\":\"unauthorized\""));
	free(resp);
	assert_int_equal(api(ap, viewer, "{\"decision\":\"approve\"}", &resp), 403);
	assert_non_null(strstr(resp, "operator role"));
	free(resp);
	assert_int_equal(api(ap, operator, "{\"decision\":\"maybe\"}", &resp), 400);
	free(resp);
	assert_int_equal(api("0190aaaa-0000-7000-8000-000000000000", operator,
			     "{\"decision\":\"approve\"}", &resp), 404);
	assert_non_null(strstr(resp, "\"error\":\"not_found\""));
	free(resp);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM approvals WHERE id = '%s' "
		 "AND decision IS NULL", ap);
	assert_int_equal(q(sql), 1);

	/* The operator approves: it runs once. */
	assert_int_equal(api(ap, operator, "{\"decision\":\"approve\",\"comment\":\"go\"}", &resp),
			 200);
	assert_non_null(strstr(resp, "\"decision\":\"approved\""));
	free(resp);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' "
		 "AND status = 'succeeded' AND executed_at IS NOT NULL "
		 "AND result->>'verdict' = 'execute' AND result->>'rule' = 'approved' "
		 "AND (result->>'dry_run')::boolean = false", id);
	wait_q(sql, 1);
	assert_int_equal(rcv_count(apiserver), 1);
	check_k8s_request(0, "/apis/apps/v1/namespaces/shop/deployments/api", 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM approvals WHERE id = '%s' "
		 "AND decision = 'approved' AND decided_by = 'tenant:%s' AND comment = 'go'",
		 ap, E.tenant);
	assert_int_equal(q(sql), 1);

	/* Again: the same decision is reported, the other is a conflict;
	 * a redelivered entry runs nothing. */
	assert_int_equal(api(ap, operator, "{\"decision\":\"approve\"}", &resp), 200);
	assert_non_null(strstr(resp, "already_decided"));
	free(resp);
	assert_int_equal(api(ap, operator, "{\"decision\":\"reject\"}", &resp), 409);
	free(resp);
	append(id);
	if (!h_wait_until(actions_drained, NULL, WAIT_MS))
		fail_msg("act did not acknowledge the redelivered entry");
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM audit_log WHERE subject LIKE 'incident:%%' AND "
		 "(detail->>'action_id' = '%s') AND action IN ('approval.requested', "
		 "'approval.approved', 'policy.decision', 'remediate.executed')",
		 id);
	assert_int_equal(q(sql), 4);
	assert_int_equal(rcv_count(apiserver), 1);
	free(operator);
	free(viewer);
	down();
}

static void test_link_reject(void **state)
{
	char id[40], sql[512], url[600], bad[600], *resp = NULL;
	const char *p[1];
	PGresult *r;

	(void)state;
	up("rem-link", SHOP_APPROVAL);
	propose("rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"api\"}", 0.9, id);
	append(id);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE signal_id = '%s' "
		 "AND payload->>'event' = 'approval.requested'", id);
	wait_q(sql, 1);
	p[0] = id;
	r = h_pg_q(E.app, E.tenant,
		   "SELECT payload->'approval'->>'reject_url' FROM actions WHERE signal_id = $1 "
		   "AND payload->>'event' = 'approval.requested'", 1, p);
	/* The link names ALEXUS_PUBLIC_URL; the test reaches this ingest. */
	snprintf(url, sizeof(url), "%s%s", E.ingest_url, strstr(PQgetvalue(r, 0, 0), "/v1/"));
	PQclear(r);

	assert_int_equal(h_http("GET", url, NULL, NULL, 0, &resp), 200);
	assert_non_null(strstr(resp, "<form method=\"post\""));
	free(resp);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM approvals WHERE action_id = '%s' "
		 "AND decision IS NULL", id);
	assert_int_equal(q(sql), 1); /* a GET decides nothing */

	snprintf(bad, sizeof(bad), "%s", url);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	assert_int_equal(h_http("POST", bad, NULL, "", 0, &resp), 401);
	free(resp);
	/* The reject link does not approve: the signature covers the decision. */
	{
		const char *at = strstr(url, "/reject?");

		assert_non_null(at);
		snprintf(bad, sizeof(bad), "%.*s/approve%s", (int)(at - url), url, at + 7);
	}
	assert_int_equal(h_http("POST", bad, NULL, "", 0, &resp), 401);
	free(resp);
	assert_int_equal(q(sql), 1);

	assert_int_equal(h_http("POST", url, NULL, "", 0, &resp), 200);
	assert_non_null(strstr(resp, "rejected"));
	free(resp);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' "
		 "AND status = 'skipped' AND result->>'rule' = 'rejected'", id);
	wait_q(sql, 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM approvals WHERE action_id = '%s' "
		 "AND decision = 'rejected' AND decided_by = 'signed link'", id);
	assert_int_equal(q(sql), 1);
	assert_int_equal(rcv_count(apiserver), 0);
	down();
}

static void test_dry_run_default(void **state)
{
	char id[40], sql[512];

	(void)state;
	up("rem-dry", "INSERT INTO tenant_settings (tenant_id, allowed_namespaces) "
		      "VALUES ($1, '{shop}')");
	propose("rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"api\"}", 0.99, id);
	append(id);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' "
		 "AND status = 'succeeded' AND (result->>'dry_run')::boolean "
		 "AND executed_at IS NULL", id);
	wait_q(sql, 1);
	assert_int_equal(rcv_count(apiserver), 1);
	check_k8s_request(0, "/apis/apps/v1/namespaces/shop/deployments/api", 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE action = "
		 "'remediate.dry_run' AND detail->>'action_id' = '%s'", id);
	assert_int_equal(q(sql), 1);
	down();
}

static void test_refused(void **state)
{
	char id[40], sql[512];

	(void)state;
	up("rem-refuse", SHOP_APPROVAL);
	propose("rollout_restart", "{\"namespace\":\"kube-system\",\"deployment\":\"coredns\"}",
		0.99, id);
	append(id);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' "
		 "AND status = 'skipped' AND result->>'rule' = 'namespace_not_allowed'", id);
	wait_q(sql, 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM approvals WHERE action_id = '%s'", id);
	assert_int_equal(q(sql), 0);
	assert_int_equal(rcv_count(apiserver), 0);
	down();
}

static void test_two_replicas(void **state)
{
	char id[40], sql[512];

	(void)state;
	up("rem-replicas", "INSERT INTO tenant_settings (tenant_id, autonomy, "
			   "allowed_namespaces, autonomous_actions) "
			   "VALUES ($1, 'autonomous', '{shop}', '{rollout_restart}')");
	start_act(&E.act2, "act-b", NULL);
	propose("rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"api\"}", 0.95, id);
	append(id);
	append(id);
	append(id);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' "
		 "AND status = 'succeeded' AND result->>'rule' = 'autonomous'", id);
	wait_q(sql, 1);
	/* Every copy handled (acknowledged) before counting. */
	if (!h_wait_until(actions_drained, NULL, WAIT_MS))
		fail_msg("act did not acknowledge every copy of the entry");
	assert_int_equal(rcv_count(apiserver), 1);
	check_k8s_request(0, "/apis/apps/v1/namespaces/shop/deployments/api", 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE action = "
		 "'remediate.executed' AND detail->>'action_id' = '%s'", id);
	assert_int_equal(q(sql), 1);
	down();
}

static void test_crash_after_claim(void **state)
{
	char id[40], sql[512];

	(void)state;
	up_fp("rem-crash", "INSERT INTO tenant_settings (tenant_id, autonomy, "
			   "allowed_namespaces, autonomous_actions) "
			   "VALUES ($1, 'autonomous', '{shop}', '{rollout_restart}')",
	      "act.remediate.after_claim");
	propose("rollout_restart", "{\"namespace\":\"shop\",\"deployment\":\"api\"}", 0.95, id);
	append(id);
	assert_int_equal(h_wait_exit(&E.act, WAIT_MS), 0); /* killed at the failpoint */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' "
		 "AND status = 'running' AND executed_at IS NOT NULL", id);
	assert_int_equal(q(sql), 1);
	start_act(&E.act, "act-a", NULL);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' "
		 "AND status = 'failed' AND result->>'rule' = 'interrupted'", id);
	wait_q(sql, 1);
	assert_int_equal(rcv_count(apiserver), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE action = "
		 "'remediate.interrupted' AND detail->>'action_id' = '%s'", id);
	assert_int_equal(q(sql), 1);
	down();
}


/* ---------------------------------------------------------------- chain */

static const char CHAIN_SETTINGS[] =
	"INSERT INTO tenant_settings (tenant_id, autonomy, allowed_namespaces, "
	"execute_threshold, clarify_threshold) VALUES ($1, 'approval', '{payments}', 0.1, 0.05)";

static const char CHAIN_WEBHOOK[] =
	"{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"KubePodNotReady\\\"}\","
	"\"status\":\"firing\",\"receiver\":\"alexus\",\"groupLabels\":{},\"commonLabels\":{},"
	"\"commonAnnotations\":{},\"externalURL\":\"http://alertmanager.example:9093\","
	"\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"KubePodNotReady\","
	"\"job\":\"kube-state-metrics\",\"cluster\":\"prod-eu-1\",\"namespace\":\"payments\","
	"\"pod\":\"checkout-api-7d9f8b6c5-p9wq1\",\"severity\":\"warning\"},"
	"\"annotations\":{\"summary\":\"Pod has been in a non-ready state for more than 15 "
	"minutes.\",\"description\":\"Pod payments/checkout-api-7d9f8b6c5-p9wq1 has been in a "
	"non-ready state for longer than 15 minutes.\"},\"startsAt\":\"2026-11-23T10:00:00Z\","
	"\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"http://prometheus.example/graph\","
	"\"fingerprint\":\"5f1c2b7e9a0d4c31\"}]}";

static void test_chain(void **state)
{
	const char *renv[] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=300",
			       "ALEXUS_REASON_AGENTS=1", "ALEXUS_CONSUMER=reason-chain", NULL };
	char url[256], auth[1200], sql[768], id[40], ap[40], *resp = NULL, *jwt, *op;
	const char *h[3] = { "Content-Type: application/json", auth, NULL };
	const struct rcv_request *r;
	PGresult *res;
	(void)state;

	up("rem-chain", CHAIN_SETTINGS);
	h_spawn(&E.reason, "alexus-reason", renv);
	jwt = h_token(E.tenant);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", jwt);
	snprintf(url, sizeof(url), "%s/v1/webhooks/alertmanager", E.ingest_url);
	assert_int_equal(h_http("POST", url, h, CHAIN_WEBHOOK, strlen(CHAIN_WEBHOOK), &resp), 202);
	free(resp);
	free(jwt);

	/* reason proposes, act asks: the approval waits, nothing ran. */
	wait_q("SELECT count(*) FROM approvals ap JOIN actions x ON x.id = ap.action_id "
	       "WHERE ap.decision IS NULL AND x.type = 'remediate' "
	       "AND x.payload->>'action' = 'restart_pod'", 1);
	res = h_pg_q(E.app, E.tenant, "SELECT ap.id::text, x.id::text FROM approvals ap "
		     "JOIN actions x ON x.id = ap.action_id", 0, NULL);
	assert_int_equal(PQntuples(res), 1);
	snprintf(ap, sizeof(ap), "%s", PQgetvalue(res, 0, 0));
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' AND status = "
		 "'pending' AND payload->'params'->>'namespace' = 'payments' AND "
		 "payload->'params'->>'pod' = 'checkout-api-7d9f8b6c5-p9wq1' AND "
		 "signal_id IS NOT NULL AND incident_id IS NOT NULL", id);
	assert_int_equal(q(sql), 1);
	assert_int_equal(rcv_count(apiserver), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE action = "
		 "'approval.requested' AND detail->>'action_id' = '%s' "
		 "AND detail->>'rule' = 'approval_required'", id);
	assert_int_equal(q(sql), 1);

	op = token_role("operator");
	assert_int_equal(api(ap, op, "{\"decision\":\"approve\",\"comment\":\"chain\"}", &resp),
			 200);
	free(resp);
	free(op);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s' AND status = "
		 "'succeeded' AND result->>'rule' = 'approved' AND executed_at IS NOT NULL", id);
	wait_q(sql, 1);

	/* Exactly one request, the pod's DELETE, as kubectl sends it. */
	assert_int_equal(rcv_count(apiserver), 1);
	r = rcv_get(apiserver, 0);
	assert_string_equal(r->method, "DELETE");
	assert_int_equal(strncmp(r->path, "/api/v1/namespaces/payments/pods/"
				 "checkout-api-7d9f8b6c5-p9wq1", 56), 0);
	assert_null(strstr(r->path, "dryRun"));

	/* The audit trail of the action, in order. */
	snprintf(sql, sizeof(sql), "SELECT string_agg(action, ',' ORDER BY seq) FROM audit_log "
		 "WHERE action IN ('policy.decision', 'approval.requested', 'approval.approved', "
		 "'remediate.executed') AND (detail->>'action_id' = '%s' OR subject LIKE '%%%s')",
		 id, id);
	res = h_pg_q(E.app, E.tenant, sql, 0, NULL);
	assert_int_equal(PQntuples(res), 1);
	/* (The first verdict, "needs approval", is the approval.requested
	 * row itself.) */
	if (strcmp(PQgetvalue(res, 0, 0), "approval.requested,approval.approved,policy.decision,"
					   "remediate.executed") != 0)
		fail_msg("audit trail: %s", PQgetvalue(res, 0, 0));
	PQclear(res);
	assert_int_equal(q("SELECT count(*) FROM ("
			   " SELECT hash = sha256(prev_hash || audit_link_text(tenant_id, seq, at,"
			   "   actor, action, subject, detail, trace)) AS ok"
			   " FROM audit_log) x WHERE NOT ok"), 0);
	down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_approval, teardown),
		cmocka_unit_test_teardown(test_link_reject, teardown),
		cmocka_unit_test_teardown(test_dry_run_default, teardown),
		cmocka_unit_test_teardown(test_refused, teardown),
		cmocka_unit_test_teardown(test_two_replicas, teardown),
		cmocka_unit_test_teardown(test_crash_after_claim, teardown),
		cmocka_unit_test_teardown(test_chain, teardown),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
