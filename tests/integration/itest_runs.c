/* itest_runs.c - the reasoning state machine after classify, on the real
 * daemons: pipeline runs from incident_or_cmdb to a decision and its
 * actions.
 *
 *   - each decision (execute, clarify, escalate), forced through the
 *     tenant's thresholds: the stage rows in order with the run id and
 *     trace, the analysis row, the actions the decision implies (remediate
 *     actions matching the analysis, a triage item, a page) and what act
 *     did with them;
 *   - a model (an OpenAI-compatible receiver answering as the API
 *     documents): its answer is used and its tokens recorded; then a 500,
 *     and the heuristic answers with the fallback and its reason recorded;
 *   - reason killed after a committed stage, and after appending the
 *     decision's actions: a new reason resumes the run from where it
 *     stood, every stage once, no action twice;
 *   - a stage that fails twice is retried after its backoff and goes
 *     through;
 *   - a deploy, then an alert on the deployed service: the deploy is
 *     recorded, the CMDB run ends "recorded", the incident names it as a
 *     suspect. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/hash.h"
#include "alexus/keys.h"
#include "alexus/stream.h"
#include "system.h"

#define RUN_WAIT_MS 30000

static int seq;

/* Append a signal to alexus:signals as ingest would; id is filled. */
static void xadd(struct sys *s, const char *kind, const char *data, char id[AX_UUID_LEN],
		 const char *trace)
{
	redisReply *r;

	ax_uuid7(id);
	r = redisCommand(s->redis, "XADD %s * v 1 tenant %s id %s kind %s trace %s data %s",
			 AX_STREAM_SIGNALS, s->tenant, id, kind, trace, data);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	freeReplyObject(r);
}

static void alert(struct sys *s, const char *name, const char *severity, const char *summary,
		  const char *service, const char *labels, char id[AX_UUID_LEN], const char *trace)
{
	char data[2048], fp[AX_SHA256_HEX], seed[128];

	snprintf(seed, sizeof(seed), "%s-%s-%d", name, service, seq++);
	ax_sha256_hex(seed, strlen(seed), fp);
	snprintf(data, sizeof(data),
		 "{\"name\":\"%s\",\"status\":\"firing\",\"severity\":\"%s\",\"summary\":\"%s\","
		 "\"service\":\"%s\",\"labels\":%s,\"source\":\"test\",\"fingerprint\":\"%s\"}",
		 name, severity, summary, service, labels, fp);
	xadd(s, "alert", data, id, trace);
}

static void thresholds(struct sys *s, const char *execute, const char *clarify)
{
	const char *p[2] = { execute, clarify };

	PQclear(h_pg_q(s->app, s->tenant,
		       "INSERT INTO tenant_settings (tenant_id, execute_threshold, clarify_threshold) "
		       "VALUES (current_setting('app.tenant_id'), $1, $2) ON CONFLICT (tenant_id) "
		       "DO UPDATE SET execute_threshold = $1, clarify_threshold = $2",
		       2, p));
}

static long qp(struct sys *s, const char *sql, const char *param)
{
	const char *p[1] = { param };

	return h_pg_long(s->app, s->tenant, sql, 1, p);
}

/* Text of the first column of the first row ("" when none); free() it. */
static char *qs(struct sys *s, const char *sql, const char *param)
{
	const char *p[1] = { param };
	PGresult *r = h_pg_q(s->app, s->tenant, sql, 1, p);
	char *v = strdup(PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");

	PQclear(r);
	return v;
}

struct run_wait {
	struct sys *s;
	const char *signal;
};

static int run_done(void *arg)
{
	const struct run_wait *w = arg;

	return qp(w->s, "SELECT count(*) FROM pipeline_runs WHERE signal_id = $1 AND "
			"status = 'succeeded'", w->signal) == 1;
}

/* Wait for the run of signal to succeed; its id into run. */
static void wait_run(struct sys *s, const char *signal, char run[AX_UUID_LEN])
{
	struct run_wait w = { s, signal };
	char *id;

	if (!h_wait_until(run_done, &w, RUN_WAIT_MS)) {
		h_dump_log(&s->reason);
		fail_msg("the run of signal %s did not succeed", signal);
	}
	id = qs(s, "SELECT id FROM pipeline_runs WHERE signal_id = $1", signal);
	snprintf(run, AX_UUID_LEN, "%s", id);
	free(id);
}

/* The stage output of run as JSON. */
static cJSON *stage_output(struct sys *s, const char *run, const char *stage)
{
	const char *p[2] = { run, stage };
	PGresult *r = h_pg_q(s->app, s->tenant,
			     "SELECT output::text FROM incident_events WHERE run_id = $1 AND stage = $2",
			     2, p);
	cJSON *j;

	assert_int_equal(PQntuples(r), 1);
	j = cJSON_Parse(PQgetvalue(r, 0, 0));
	PQclear(r);
	assert_non_null(j);
	return j;
}

/* The stage rows of run, in order, each exactly once, with the trace. */
static void check_stages(struct sys *s, const char *run, const char *decision,
			 const char *trace)
{
	char want[128], *got;
	const char *p[2] = { run, trace };

	snprintf(want, sizeof(want), "classify,incident_or_cmdb,confidence_check,%s", decision);
	got = qs(s, "SELECT string_agg(stage, ',' ORDER BY id) FROM incident_events "
		    "WHERE run_id = $1", run);
	assert_string_equal(got, want);
	free(got);
	assert_int_equal(h_pg_long(s->app, s->tenant,
				   "SELECT count(*) FROM incident_events WHERE run_id = $1 "
				   "AND trace = $2", 2, p),
			 4);
	got = qs(s, "SELECT decision FROM pipeline_runs WHERE id = $1", run);
	assert_string_equal(got, decision);
	free(got);
	got = qs(s, "SELECT i.stage FROM incidents i JOIN pipeline_runs r ON r.incident_id = i.id "
		    "WHERE r.id = $1", run);
	assert_string_equal(got, decision);
	free(got);
	/* Two analyses: classify's, in the grouping transaction, and this one. */
	assert_int_equal(qp(s, "SELECT count(*) FROM analysis_runs WHERE pipeline_run_id = $1",
			    run), 2);
}

/* Deliveries to the tenant's webhook carrying event. */
static int deliveries(struct sys *s, const char *event)
{
	char buf[128];
	int i, n = 0;

	for (i = 0; i < rcv_count(s->rcv); i++)
		if (rcv_header(rcv_get(s->rcv, i), "x-alexus-event", buf, sizeof(buf)) != NULL &&
		    strcmp(buf, event) == 0)
			n++;
	return n;
}

static void test_execute(void **state)
{
	struct sys *s;
	char id[AX_UUID_LEN], run[AX_UUID_LEN];
	cJSON *out, *acts, *a;
	PGresult *r;
	int i, want = 0;

	(void)state;
	sys_reason_env(1, NULL);
	s = sys_up("runs-x", NULL);
	thresholds(s, "0", "0");
	alert(s, "NodeFilesystemAlmostFull", "critical", "Filesystem / on web-3 is 97% full",
	      "web", "{\"instance\":\"web-3\",\"mountpoint\":\"/\",\"host\":\"web-3\"}", id,
	      "trace-exec");
	wait_run(s, id, run);
	check_stages(s, run, "execute", "trace-exec");

	/* One action per proposed action, in order: remediate for what
	 * names a target, notify for notify_only and escalate. */
	out = stage_output(s, run, "incident_or_cmdb");
	acts = cJSON_GetObjectItem(cJSON_GetObjectItem(out, "analysis"), "actions");
	assert_true(cJSON_GetArraySize(acts) >= 1);
	r = h_pg_q(s->app, s->tenant,
		   "SELECT type, coalesce(payload->>'action', payload->>'event') FROM actions "
		   "WHERE payload->>'run_id' = $1 ORDER BY (payload->>'seq')::int",
		   1, (const char *[]){ run });
	i = 0;
	cJSON_ArrayForEach(a, acts)
	{
		const char *t = cJSON_GetObjectItem(a, "type")->valuestring;

		assert_true(i < PQntuples(r));
		if (strcmp(t, "notify_only") == 0 || strcmp(t, "escalate") == 0) {
			assert_string_equal(PQgetvalue(r, i, 0), "notify");
			assert_string_equal(PQgetvalue(r, i, 1), t[0] == 'n' ? "incident.diagnosed" :
									       "incident.escalated");
		} else {
			assert_string_equal(PQgetvalue(r, i, 0), "remediate");
			assert_string_equal(PQgetvalue(r, i, 1), t);
			want++;
		}
		i++;
	}
	assert_int_equal(PQntuples(r), i);
	PQclear(r);
	cJSON_Delete(out);
	/* Default settings (dry_run, no namespace opened, no cluster): act's
	 * policy refuses each remediation, skipped and audited. */
	sys_wait_settled(s);
	assert_int_equal(qp(s, "SELECT count(*) FROM actions WHERE payload->>'run_id' = $1 AND "
			       "type = 'remediate' AND status = 'skipped'", run), want);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM audit_log WHERE action = "
				  "'remediate.refused' AND detail->>'verdict' = 'refuse'"), want);
	assert_true(sys_audit_chain_ok(s));
	sys_down(s);
}

static void test_clarify_and_escalate(void **state)
{
	struct sys *s;
	char id1[AX_UUID_LEN], id2[AX_UUID_LEN], run[AX_UUID_LEN];
	cJSON *chk;

	(void)state;
	sys_reason_env(1, NULL);
	s = sys_up("runs-c", NULL);
	thresholds(s, "1", "0");
	alert(s, "KubePodCrashLooping", "warning", "Pod api-7f9 is crash looping", "api",
	      "{\"namespace\":\"prod\",\"pod\":\"api-7f9\"}", id1, "trace-clar");
	wait_run(s, id1, run);
	chk = stage_output(s, run, "confidence_check");
	/* Unless the analysis itself asks for on-call, execute 1 / clarify 0
	 * can only mean clarify. */
	if (strcmp(cJSON_GetObjectItem(chk, "first_action")->valuestring, "escalate") != 0) {
		check_stages(s, run, "clarify", "trace-clar");
		assert_int_equal(qp(s, "SELECT count(*) FROM triage_queue t JOIN pipeline_runs r "
				       "ON r.incident_id = t.incident_id WHERE r.id = $1 AND "
				       "t.reason = 'low_confidence' AND t.closed_at IS NULL", run), 1);
	}
	cJSON_Delete(chk);

	thresholds(s, "1", "1");
	alert(s, "HighErrorRate", "critical", "5xx ratio above 20% on checkout", "checkout",
	      "{\"namespace\":\"shop\"}", id2, "trace-esc");
	wait_run(s, id2, run);
	check_stages(s, run, "escalate", "trace-esc");
	chk = stage_output(s, run, "confidence_check");
	assert_string_equal(cJSON_GetObjectItem(chk, "decision")->valuestring, "escalate");
	assert_true(cJSON_GetObjectItem(chk, "clarify_threshold")->valuedouble == 1.0);
	cJSON_Delete(chk);
	sys_wait_settled(s);
	/* The page goes out through the tenant's webhook with the analysis. */
	assert_int_equal(deliveries(s, "incident.escalated"), 1);
	assert_int_equal(deliveries(s, "incident.clarify") + deliveries(s, "incident.escalated"),
			 2);
	sys_down(s);
}

static void test_model_then_fallback(void **state)
{
	struct sys *s;
	struct receiver *llm;
	static char url[128];
	const char *env[] = { "ALEXUS_LLM_PROVIDER=openai", url, "ALEXUS_LLM_KEY=sk-test-key",
			      "ALEXUS_LLM_MODEL=gpt-4o-mini", "ALEXUS_LLM_TIMEOUT_MS=5000", NULL };
	char id1[AX_UUID_LEN], id2[AX_UUID_LEN], run[AX_UUID_LEN], buf[256], *body, *v;
	struct rcv_reply ok = { .status = 200 }, err = { .status = 500 };
	const struct rcv_request *rq;
	cJSON *req, *msgs;

	(void)state;
	llm = rcv_start(500);
	body = h_read_file("tests/fixtures/llm/openai_ok.json", NULL);
	ok.body = body;
	rcv_script_reply(llm, &ok);
	err.body = h_read_file("tests/fixtures/llm/openai_500.json", NULL);
	rcv_script_reply(llm, &err);
	snprintf(url, sizeof(url), "ALEXUS_LLM_URL=http://127.0.0.1:%d/v1/", rcv_port(llm));
	sys_reason_env(1, env);
	s = sys_up("runs-m", NULL);
	thresholds(s, "1", "1");

	alert(s, "KubeContainerOOMKilled", "high", "payments-api OOMKilled", "payments-api",
	      "{\"namespace\":\"prod\",\"deployment\":\"payments-api\"}", id1, "trace-m1");
	wait_run(s, id1, run);
	/* The model's answer is the analysis, its usage recorded. */
	v = qs(s, "SELECT provider || '/' || model || '/' || fallback_used || '/' || "
		  "(tokens_in > 0 AND tokens_out > 0) || '/' || (confidence_parts->>'from') "
		  "FROM analysis_runs WHERE pipeline_run_id = $1 AND provider <> 'heuristic'", run);
	assert_string_equal(v, "openai/gpt-4o-mini-2024-07-18/false/true/model");
	free(v);
	v = qs(s, "SELECT category FROM incidents i JOIN pipeline_runs r ON r.incident_id = i.id "
		  "WHERE r.id = $1", run);
	assert_string_equal(v, "memory");
	free(v);
	/* The request was the documented one, the incident in the prompt. */
	assert_true(rcv_count(llm) >= 1);
	rq = rcv_get(llm, 0);
	assert_string_equal(rq->path, "/v1/chat/completions");
	assert_string_equal(rcv_header(rq, "authorization", buf, sizeof(buf)),
			    "Bearer sk-test-key");
	req = cJSON_Parse(rq->body);
	assert_non_null(req);
	assert_string_equal(cJSON_GetObjectItem(req, "model")->valuestring, "gpt-4o-mini");
	msgs = cJSON_GetObjectItem(req, "messages");
	assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")
				       ->valuestring, "KubeContainerOOMKilled"));
	cJSON_Delete(req);

	/* Then the API fails: the heuristic answers, and says why. */
	alert(s, "DiskPressure", "high", "node-2 disk pressure", "storage",
	      "{\"node\":\"node-2\"}", id2, "trace-m2");
	wait_run(s, id2, run);
	v = qs(s, "SELECT provider || '/' || fallback_used || '/' || "
		  "(fallback_reason LIKE 'http_5xx%') FROM analysis_runs "
		  "WHERE pipeline_run_id = $1 ORDER BY created_at DESC LIMIT 1", run);
	assert_string_equal(v, "heuristic/true/true");
	free(v);
	assert_int_equal(qp(s, "SELECT count(*) FROM incident_events WHERE run_id = $1 AND "
			       "stage = 'incident_or_cmdb' AND fallback", run), 1);
	check_stages(s, run, "escalate", "trace-m2");
	sys_wait_settled(s);
	sys_down(s);
	rcv_stop(llm);
	free(body);
	free((char *)err.body);
}

/* reason dies at failpoint; a new one finishes the run from there. */
static void killed_and_resumed(const char *failpoint)
{
	static const char *env[] = { "ALEXUS_RUN_LEASE_S=2", NULL };
	struct sys *s;
	char id[AX_UUID_LEN], run[AX_UUID_LEN], *v;

	sys_reason_env(1, env);
	s = sys_up("runs-k", failpoint);
	thresholds(s, "1", "1");
	alert(s, "HostDown", "critical", "db-1 is unreachable", "db",
	      "{\"host\":\"db-1\"}", id, "trace-kill");
	if (h_wait_exit(&s->reason, RUN_WAIT_MS) != 0)
		fail_msg("reason did not reach failpoint %s", failpoint);
	assert_true(WIFSIGNALED(s->reason.status));
	assert_int_equal(WTERMSIG(s->reason.status), SIGKILL);
	assert_int_equal(qp(s, "SELECT count(*) FROM pipeline_runs WHERE signal_id = $1 AND "
			       "status = 'running'", id), 1);

	sys_start_reason(&s->reason, NULL);
	wait_run(s, id, run);
	check_stages(s, run, "escalate", "trace-kill");
	assert_int_equal(qp(s, "SELECT attempts FROM pipeline_runs WHERE id = $1", run), 2);
	assert_int_equal(qp(s, "SELECT count(*) FROM actions WHERE payload->>'run_id' = $1", run),
			 1);
	sys_wait_settled(s);
	/* Delivered once, however often the entry was appended. */
	assert_int_equal(deliveries(s, "incident.escalated"), 1);
	v = qs(s, "SELECT status FROM actions WHERE payload->>'run_id' = $1", run);
	assert_string_equal(v, "succeeded");
	free(v);
	sys_down(s);
}

static void test_killed_after_stage(void **state)
{
	(void)state;
	killed_and_resumed("reason.run.after_stage");
}

static void test_killed_after_append(void **state)
{
	(void)state;
	killed_and_resumed("reason.run.after_append");
}

/* A stage that fails is retried from where it failed, after a backoff,
 * by the sweeper: two injected failures, then the run goes through. */
static void test_stage_retried(void **state)
{
	struct sys *s;
	char id[AX_UUID_LEN], run[AX_UUID_LEN], *log, *at;
	int n = 0;

	(void)state;
	sys_reason_env(1, NULL);
	s = sys_up("runs-r", "reason.run.stage_error*2");
	thresholds(s, "1", "1");
	alert(s, "HostDown", "critical", "cache-2 is unreachable", "cache",
	      "{\"host\":\"cache-2\"}", id, "trace-retry");
	wait_run(s, id, run);
	check_stages(s, run, "escalate", "trace-retry");
	assert_int_equal(qp(s, "SELECT attempts FROM pipeline_runs WHERE id = $1", run), 3);
	/* The backoff was taken: 2 s after the first failure, 4 s after the second. */
	assert_int_equal(qp(s, "SELECT (finished_at - started_at >= interval '6 seconds')::int "
			       "FROM pipeline_runs WHERE id = $1", run), 1);
	log = h_read_file(s->reason.log, NULL);
	for (at = log; (at = strstr(at, "failpoint reason.run.stage_error")) != NULL; at++)
		n++;
	free(log);
	assert_int_equal(n, 2);
	sys_wait_settled(s);
	assert_int_equal(deliveries(s, "incident.escalated"), 1);
	sys_down(s);
}

static void test_deploy_suspect(void **state)
{
	struct sys *s;
	char dep[AX_UUID_LEN], id[AX_UUID_LEN], run[AX_UUID_LEN], crun[AX_UUID_LEN], *v;
	cJSON *out, *sus;

	(void)state;
	sys_reason_env(1, NULL);
	s = sys_up("runs-d", NULL);
	xadd(s, "deploy",
	     "{\"kind\":\"deploy\",\"name\":\"acme/checkout deploy to prod\",\"status\":\"resolved\","
	     "\"severity\":\"info\",\"service\":\"checkout\",\"namespace\":\"shop\","
	     "\"labels\":{\"sha\":\"4f2a9c1\",\"environment\":\"prod\",\"repository\":"
	     "\"acme/checkout\"},\"source\":\"github\",\"fingerprint\":"
	     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	     dep, "trace-dep");
	alert(s, "HighErrorRate", "high", "checkout 5xx ratio 12%", "checkout",
	      "{\"namespace\":\"shop\"}", id, "trace-dep2");
	wait_run(s, dep, crun);
	wait_run(s, id, run);
	v = qs(s, "SELECT kind || '/' || service || '/' || version FROM deploys WHERE signal_id = $1",
	       dep);
	assert_string_equal(v, "deploy/checkout/4f2a9c1");
	free(v);
	v = qs(s, "SELECT kind || '/' || stage || '/' || decision FROM pipeline_runs WHERE id = $1",
	       crun);
	assert_string_equal(v, "cmdb/incident_or_cmdb/recorded");
	free(v);
	assert_int_equal(qp(s, "SELECT count(*) FROM incident_events WHERE run_id = $1 AND "
			       "incident_id IS NULL", crun), 2);
	out = stage_output(s, run, "incident_or_cmdb");
	sus = cJSON_GetObjectItem(out, "suspects");
	assert_int_equal(cJSON_GetArraySize(sus), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(sus, 0), "version")->valuestring,
			    "4f2a9c1");
	cJSON_Delete(out);
	sys_wait_settled(s);
	sys_down(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_execute, sys_teardown),
		cmocka_unit_test_teardown(test_clarify_and_escalate, sys_teardown),
		cmocka_unit_test_teardown(test_model_then_fallback, sys_teardown),
		cmocka_unit_test_teardown(test_killed_after_stage, sys_teardown),
		cmocka_unit_test_teardown(test_killed_after_append, sys_teardown),
		cmocka_unit_test_teardown(test_stage_retried, sys_teardown),
		cmocka_unit_test_teardown(test_deploy_suspect, sys_teardown),
	};

	if (ax_hash_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
