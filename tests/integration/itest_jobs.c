/* itest_jobs.c - act's periodic jobs (act/jobs.c) on the real servers: a
 * real alexus-reason turns signals appended to alexus:signals into
 * incidents, and real alexus-act processes, started here with short
 * windows (ALEXUS_QUALITY_GATE_S, ALEXUS_JOBS_INTERVAL_MS,
 * ALEXUS_LEADER_TTL_MS), run the jobs.
 *
 *   1. Quality gate, verified: a resolve stays quiet for the gate; the
 *      resolution is verified, its fix is a known_error Issue linked to
 *      the host item, and the verdict is an event and an audit row.
 *   2. Quality gate, regressed: the fingerprint fires again in a new
 *      incident of the same group (still open) -> linked, not reopened;
 *      fires again and resolves again -> the first incident is reopened
 *      with an incident.reopened action act delivers; another alert on
 *      the same host (the CI) -> regressed by CI.  The chain verifies.
 *   3. Flapping: an incident reopened by reason's flap rule regresses its
 *      pending resolution at once (long before the gate), and its next
 *      resolve is a new resolution.
 *   4. Escalation on a schedule in seconds: L1 -> L2 -> L3 each exactly
 *      once (action, event, audit), nothing after the last level; an
 *      acknowledged incident is never escalated; a tenant without a
 *      settings row has the default policy (first level after 900 s).
 *   5. Approval expiry: expired -> decision 'expired', action skipped,
 *      audit row, approval.expired on the tenant's channel; one not yet
 *      due, one decided and one whose action already runs are left alone.
 *   5b. A decided approval whose action was never appended again: the
 *      jobs append it once after a minute, act runs the policy with it.
 *   6. Two act replicas: each effect exactly once; kill -9 the leader and
 *      the other takes over within the lock's TTL, then does the work.
 *   7. A crash between an escalation's COMMIT and its XADD (failpoint):
 *      the restarted act appends the pending action once.
 * Every wait is on a condition with a deadline. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/stream.h"
#include "harness.h"

#define WAIT_MS 20000
#define TTL_MS 1500
#define LEADER_KEY AX_KEY_JOBS_LEADER

/* The first column of sql ($1 = p1, $2 = p2; NULL: none) for tenant t
 * is want. */
#define EXPECT(t, want, sql, p1, p2) assert_int_equal(qv((t), (sql), (p1), (p2)), (want))

static redisContext *redis;
static PGconn *app;
static struct h_proc reason;
static struct h_proc acts[2];

/* ---------------------------------------------------------------- helpers */

static void xadd(const char *tenant, const char *name, const char *status, const char *service,
		 const char *host, const char *fp_seed)
{
	char fp[AX_SHA256_HEX], trace[AX_TRACE_LEN], id[AX_UUID_LEN], *data;
	cJSON *o = cJSON_CreateObject(), *labels;
	redisReply *r;

	ax_uuid4(id);
	ax_trace_new(trace);
	ax_sha256_hex(fp_seed, strlen(fp_seed), fp);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddStringToObject(o, "severity", "warning");
	cJSON_AddStringToObject(o, "summary", name);
	cJSON_AddStringToObject(o, "service", service);
	cJSON_AddStringToObject(o, "host", host);
	labels = cJSON_AddObjectToObject(o, "labels");
	cJSON_AddStringToObject(labels, "alertname", name);
	cJSON_AddStringToObject(o, "source", "alertmanager");
	cJSON_AddStringToObject(o, "fingerprint", fp);
	data = ax_json_print(o);
	cJSON_Delete(o);
	r = redisCommand(redis, "XADD %s * v 1 tenant %s id %s kind alert trace %s data %s",
			 AX_STREAM_SIGNALS, tenant, id, trace, data);
	free(data);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	freeReplyObject(r);
}

static void fp_of(const char *seed, char out[AX_SHA256_HEX])
{
	ax_sha256_hex(seed, strlen(seed), out);
}

/* First column of the first row of sql (params $1..) for tenant, as a
 * long (-1 when no row). */
static long qv(const char *tenant, const char *sql, const char *p1, const char *p2)
{
	const char *p[2] = { p1, p2 };

	return h_pg_long(app, tenant, sql, p2 != NULL ? 2 : p1 != NULL ? 1 : 0, p);
}

/* The text of the first column of the first row ("" when none; owned by
 * the caller's buffer). */
static void qs(const char *tenant, const char *sql, const char *p1, char *out, size_t n)
{
	const char *p[1] = { p1 };
	PGresult *r = h_pg_q(app, tenant, sql, p1 != NULL ? 1 : 0, p);

	out[0] = '\0';
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

struct cond {
	const char *tenant, *sql, *p1, *p2;
	long want;
};

static int cond_true(void *arg)
{
	const struct cond *c = arg;

	return qv(c->tenant, c->sql, c->p1, c->p2) == c->want;
}

static void dump_all(void)
{
	h_dump_log(&reason);
	h_dump_log(&acts[0]);
	h_dump_log(&acts[1]);
}

static void wait_q(const char *tenant, const char *sql, const char *p1, const char *p2, long want)
{
	struct cond c = { tenant, sql, p1, p2, want };

	if (!h_wait_until(cond_true, &c, WAIT_MS)) {
		dump_all();
		fail_msg("timed out waiting for (%s) = %ld [$1=%s], last %ld", sql, want,
			 p1 ? p1 : "", qv(tenant, sql, p1, p2));
	}
}

/* The id of the newest incident of group key (status given). */
static void incident_of(const char *tenant, const char *key, const char *status, char *out)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT id FROM incidents WHERE group_key = $1 "
		 "AND status = '%s' ORDER BY opened_at DESC, id DESC LIMIT 1", status);
	qs(tenant, sql, key, out, AX_UUID_LEN);
	if (out[0] == '\0')
		fail_msg("tenant %s has no %s incident of key %s", tenant, status, key);
}

static void start_reason(void)
{
	const char *env[] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=300",
			      "ALEXUS_CONSUMER=reason-jobs", "ALEXUS_REASON_AGENTS=0", NULL };

	h_spawn(&reason, "alexus-reason", env);
}

/* act number i as consumer name, with the quality gate at gate_s and
 * failpoints (NULL for none). */
static void start_act(int i, const char *name, int gate_s, const char *failpoints)
{
	static char consumer[2][64], gate[2][64], fps[2][160];
	const char *env[] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=300",
			      "ALEXUS_NOTIFY_BACKOFF_MS=20", "ALEXUS_JOBS_INTERVAL_MS=200",
			      "ALEXUS_LEADER_TTL_MS=1500", consumer[i], gate[i], fps[i], NULL };

	snprintf(consumer[i], sizeof(consumer[i]), "ALEXUS_CONSUMER=%s", name);
	snprintf(gate[i], sizeof(gate[i]), "ALEXUS_QUALITY_GATE_S=%d", gate_s);
	snprintf(fps[i], sizeof(fps[i]), "ALEXUS_FAILPOINTS=%s", failpoints ? failpoints : "");
	h_spawn(&acts[i], "alexus-act", env);
}

static void stop_clean(struct h_proc *p)
{
	if (p->pid == 0 || p->reaped)
		return;
	if (h_stop(p, SIGTERM, 10000) != 0) {
		h_dump_log(p);
		fail_msg("%s did not stop on SIGTERM", p->log);
	}
	if (h_log_has_sanitizer_report(p) || !WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0) {
		h_dump_log(p);
		fail_msg("%s exited badly (status %d) or reported a sanitizer error", p->log,
			 p->status);
	}
}

/* The leader lock's value ("" when nobody holds it). */
static void leader(char *out, size_t n)
{
	redisReply *r = redisCommand(redis, "GET %s", LEADER_KEY);

	assert_non_null(r);
	out[0] = '\0';
	if (r->type == REDIS_REPLY_STRING)
		snprintf(out, n, "%s", r->str);
	freeReplyObject(r);
}

static int leads(void *arg)
{
	char v[256];
	size_t n = strlen(arg);

	leader(v, sizeof(v));
	return strncmp(v, arg, n) == 0 && v[n] == ':';
}

static void wait_leader(const char *consumer)
{
	if (!h_wait_until(leads, (void *)consumer, WAIT_MS)) {
		dump_all();
		fail_msg("%s did not take the jobs leader lock", consumer);
	}
}

static int sql_ok(const char *tenant, const char *sql)
{
	PQclear(h_pg_q(app, tenant, sql, 0, NULL));
	return 1;
}

static int audit_chain_ok(const char *tenant)
{
	return qv(tenant, "SELECT count(*) FROM ("
			  " SELECT hash = sha256(prev_hash || audit_link_text(tenant_id, seq, at,"
			  "   actor, action, subject, detail, trace)) AS ok,"
			  "  prev_hash = coalesce(lag(hash) OVER (ORDER BY seq),"
			  "   decode(repeat('00', 32), 'hex')) AS linked"
			  " FROM audit_log) x WHERE NOT (ok AND linked)",
		  NULL, NULL) == 0;
}

static int setup(void **state)
{
	(void)state;
	ax_hash_init();
	redis = h_redis();
	app = h_pg_app();
	memset(&reason, 0, sizeof(reason));
	memset(acts, 0, sizeof(acts));
	start_reason();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stop_clean(&reason);
	PQfinish(app);
	redisFree(redis);
	return 0;
}

/* After each test: every act of it stopped (the leader lock released). */
static int after_each(void **state)
{
	(void)state;
	h_stop(&acts[0], SIGKILL, 5000);
	h_stop(&acts[1], SIGKILL, 5000);
	memset(acts, 0, sizeof(acts));
	return 0;
}

/* ---------------------------------------------------------------- 1 + 2 */

static const char Q_RES_STATE[] =
	"SELECT count(*) FROM resolutions WHERE incident_id = $1::uuid AND state = $2";

static void test_gate(void **state)
{
	char t[64], v[AX_UUID_LEN], rid[AX_UUID_LEN], l1[AX_UUID_LEN], l2[AX_UUID_LEN];
	char r1[AX_UUID_LEN], r2[AX_UUID_LEN], c1[AX_UUID_LEN], c2[AX_UUID_LEN];
	char fp[AX_SHA256_HEX], buf[512], issue[128], act_id[AX_UUID_LEN];
	(void)state;

	h_tenant_new("gate", NULL, t);
	/* flap_window_s 0: a fingerprint firing again after its resolve opens
	 * a new incident of its group instead of reopening the old one. */
	sql_ok(t, "INSERT INTO tenant_settings (tenant_id, flap_window_s) "
		  "VALUES (app_tenant(), 0)");
	sql_ok(t, "INSERT INTO configuration_items (tenant_id, id, type, name) "
		  "VALUES (app_tenant(), 'gate-host-1', 'host', 'gate-host-1')");
	start_act(0, "jobs-gate", 2, NULL);
	wait_leader("jobs-gate");

	/* Verified: fired, resolved, quiet for 2 s. */
	xadd(t, "DiskFull", "firing", "svc-v", "gate-host-1", "gate-v");
	xadd(t, "DiskFull", "resolved", "svc-v", "gate-host-1", "gate-v");
	wait_q(t, "SELECT count(*) FROM incidents WHERE group_key = 'service:svc-v' "
		  "AND status = 'resolved'", NULL, NULL, 1);
	incident_of(t, "service:svc-v", "resolved", v);
	wait_q(t, Q_RES_STATE, v, "verified", 1);
	fp_of("gate-v", fp);
	qs(t, "SELECT id FROM resolutions WHERE incident_id = $1::uuid", v, rid, sizeof(rid));
	EXPECT(t, 1, "SELECT count(*) FROM resolutions WHERE incident_id = $1::uuid", v, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM resolutions r JOIN incidents i "
		      "ON i.id = r.incident_id WHERE r.id = $1::uuid AND r.fingerprint = $2 "
		      "AND r.ci = 'gate-host-1' AND r.summary = 'resolved without action' "
		      "AND r.resolved_at = i.resolved_at "
		      "AND r.verify_after = i.resolved_at + interval '2 seconds' "
		      "AND r.checked_at >= r.verify_after AND r.regressed_incident_id IS NULL",
	       rid, fp);
	snprintf(issue, sizeof(issue), "resolution:%s", rid);
	EXPECT(t, 1, "SELECT count(*) FROM graph_issues WHERE id = $1 "
		      "AND kind = 'known_error' AND fix = 'resolved without action' "
		      "AND title = 'Known fix: DiskFull'", issue, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM issue_items WHERE issue_id = $1 "
		      "AND item_id = 'gate-host-1'", issue, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
		      "AND stage = 'quality_gate' AND output->>'verdict' = 'verified' "
		      "AND output->>'known_fix' = 'resolution:' || (output->>'resolution_id') "
		      "AND output->>'by' = 'jobs-gate'", v, NULL);
	snprintf(buf, sizeof(buf), "incident:%s", v);
	EXPECT(t, 1, "SELECT count(*) FROM audit_log WHERE action = 'resolution.verified' "
		      "AND subject = $1 AND detail->>'resolution_id' = $2", buf, rid);

	/* Regressed, linked: fires again while the new incident is open. */
	xadd(t, "QueueLag", "firing", "svc-l", "gate-host-2", "gate-l");
	xadd(t, "QueueLag", "resolved", "svc-l", "gate-host-2", "gate-l");
	xadd(t, "QueueLag", "firing", "svc-l", "gate-host-2", "gate-l");
	wait_q(t, "SELECT count(*) FROM incidents WHERE group_key = 'service:svc-l'", NULL, NULL,
	       2);
	incident_of(t, "service:svc-l", "resolved", l1);
	incident_of(t, "service:svc-l", "open", l2);
	wait_q(t, Q_RES_STATE, l1, "regressed", 1);
	EXPECT(t, 1, "SELECT count(*) FROM resolutions WHERE incident_id = $1::uuid "
		      "AND regressed_incident_id = $2::uuid", l1, l2);
	EXPECT(t, 1, "SELECT count(*) FROM incidents WHERE id = $1::uuid "
		      "AND status = 'resolved'", l1, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
		      "AND stage = 'quality_gate' AND output->>'verdict' = 'regressed' "
		      "AND output->>'cause' = 'fingerprint' AND output->>'linked_to' = $2 "
		      "AND NOT (output->>'reopened')::boolean", l1, l2);
	EXPECT(t, 1, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
		      "AND stage = 'regression' AND output->>'regressed_from' = $2", l2, l1);
	EXPECT(t, 0, "SELECT count(*) FROM actions WHERE payload->>'event' = "
		      "'incident.reopened'", NULL, NULL);

	/* Regressed, reopened: fired again and resolved again, so the group
	 * has no open incident when the gate looks. */
	xadd(t, "Timeouts", "firing", "svc-r", "gate-host-3", "gate-r");
	xadd(t, "Timeouts", "resolved", "svc-r", "gate-host-3", "gate-r");
	xadd(t, "Timeouts", "firing", "svc-r", "gate-host-3", "gate-r");
	xadd(t, "Timeouts", "resolved", "svc-r", "gate-host-3", "gate-r");
	wait_q(t, "SELECT count(*) FROM incidents WHERE group_key = 'service:svc-r' "
		  "AND status = 'resolved'", NULL, NULL, 2);
	qs(t, "SELECT id FROM incidents WHERE group_key = 'service:svc-r' ORDER BY id LIMIT 1",
	   NULL, r1, sizeof(r1));
	qs(t, "SELECT id FROM incidents WHERE group_key = 'service:svc-r' ORDER BY id DESC LIMIT 1",
	   NULL, r2, sizeof(r2));
	wait_q(t, Q_RES_STATE, r1, "regressed", 1);
	EXPECT(t, 1, "SELECT count(*) FROM resolutions WHERE incident_id = $1::uuid "
		      "AND regressed_incident_id = $2::uuid", r1, r2);
	EXPECT(t, 1, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
		      "status = 'open' AND resolved_at IS NULL AND stage = 'reopened'", r1, NULL);
	qs(t, "SELECT id FROM resolutions WHERE incident_id = $1::uuid", r1, rid, sizeof(rid));
	EXPECT(t, 1, "SELECT count(*) FROM actions WHERE incident_id = $1::uuid "
		      "AND type = 'notify' AND signal_id IS NULL "
		      "AND payload->>'event' = 'incident.reopened' "
		      "AND payload->>'regressed_from' = $2 "
		      "AND payload->'resolution'->>'id' = $2 "
		      "AND payload->'resolution'->>'cause' = 'fingerprint' "
		      "AND payload->'incident'->>'status' = 'open'", r1, rid);
	qs(t, "SELECT id FROM actions WHERE incident_id = $1::uuid AND payload->>'event' = "
	      "'incident.reopened'", r1, act_id, sizeof(act_id));
	EXPECT(t, 1, "SELECT count(*) FROM resolutions WHERE incident_id = $1::uuid "
		      "AND regressed_incident_id = $2::uuid", r1, r2);
	/* act took the action from the stream and settled it. */
	wait_q(t, "SELECT count(*) FROM actions WHERE id = $1::uuid AND status <> 'pending' "
		  "AND status <> 'running'", act_id, NULL, 1);
	EXPECT(t, 1, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
		      "AND stage = 'quality_gate' AND output->>'verdict' = 'regressed' "
		      "AND (output->>'reopened')::boolean AND output->>'action_id' = $2",
	       r1, act_id);
	/* The second resolve held: verified in its turn. */
	wait_q(t, Q_RES_STATE, r2, "verified", 1);

	/* Regressed by CI: another alert (another fingerprint, another
	 * group) on the same host after the resolve. */
	xadd(t, "CpuHigh", "firing", "svc-c", "gate-host-4", "gate-c1");
	xadd(t, "CpuHigh", "resolved", "svc-c", "gate-host-4", "gate-c1");
	wait_q(t, "SELECT count(*) FROM incidents WHERE group_key = 'service:svc-c' "
		  "AND status = 'resolved'", NULL, NULL, 1);
	incident_of(t, "service:svc-c", "resolved", c1);
	xadd(t, "MemHigh", "firing", "svc-c2", "gate-host-4", "gate-c2");
	wait_q(t, Q_RES_STATE, c1, "regressed", 1);
	incident_of(t, "service:svc-c2", "open", c2);
	EXPECT(t, 1, "SELECT count(*) FROM resolutions WHERE incident_id = $1::uuid "
		      "AND regressed_incident_id = $2::uuid AND ci = 'gate-host-4'", c1, c2);
	EXPECT(t, 1, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
		      "AND stage = 'quality_gate' AND output->>'cause' = 'ci'", c1, NULL);

	/* One audit row per verdict, and the chain holds. */
	EXPECT(t, 3, "SELECT count(*) FROM audit_log WHERE action = 'resolution.regressed'",
	       NULL, NULL);
	assert_int_equal(qv(t, "SELECT count(*) FROM audit_log WHERE action IN "
			       "('resolution.verified', 'resolution.regressed')", NULL, NULL),
			 qv(t, "SELECT count(*) FROM resolutions WHERE state <> 'pending'", NULL,
			    NULL));
	assert_true(audit_chain_ok(t));
	stop_clean(&acts[0]);
}

/* ---------------------------------------------------------------- 3 */

static void test_flapping(void **state)
{
	char t[64], f[AX_UUID_LEN];
	(void)state;

	h_tenant_new("flap", NULL, t);
	/* A gate far away: whatever regresses here does so at once. */
	start_act(0, "jobs-flap", 600, NULL);
	wait_leader("jobs-flap");
	xadd(t, "Flappy", "firing", "svc-f", "flap-host", "flap-1");
	xadd(t, "Flappy", "resolved", "svc-f", "flap-host", "flap-1");
	wait_q(t, "SELECT count(*) FROM incidents WHERE status = 'resolved'", NULL, NULL, 1);
	incident_of(t, "service:svc-f", "resolved", f);
	wait_q(t, Q_RES_STATE, f, "pending", 1);
	/* Within the flap window (600 s default): reason reopens it. */
	xadd(t, "Flappy", "firing", "svc-f", "flap-host", "flap-1");
	wait_q(t, Q_RES_STATE, f, "regressed", 1);
	EXPECT(t, 1, "SELECT count(*) FROM resolutions WHERE incident_id = $1::uuid "
		      "AND regressed_incident_id = $1::uuid AND verify_after > now()", f, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
		      "AND stage = 'quality_gate' AND output->>'cause' = 'reopened'", f, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM incidents WHERE id = $1::uuid "
		      "AND status = 'open'", f, NULL);
	/* Its next resolve is a resolution of its own. */
	xadd(t, "Flappy", "resolved", "svc-f", "flap-host", "flap-1");
	wait_q(t, Q_RES_STATE, f, "pending", 1);
	EXPECT(t, 2, "SELECT count(*) FROM resolutions WHERE incident_id = $1::uuid", f, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM audit_log WHERE action = 'resolution.regressed'",
	       NULL, NULL);
	assert_true(audit_chain_ok(t));
	stop_clean(&acts[0]);
}

/* ---------------------------------------------------------------- 4 */

static const char POLICY_SECONDS[] =
	"INSERT INTO tenant_settings (tenant_id, escalation_policy) VALUES (app_tenant(), "
	"'{\"steps\": [{\"level\": 1, \"after_s\": 0}, {\"level\": 2, \"after_s\": 1}, "
	"{\"level\": 3, \"after_s\": 2}]}')";

/* incident e stepped through levels 1..3 exactly once each. */
static void check_escalated(const char *t, const char *e, const char *by)
{
	char subj[64];

	EXPECT(t, 1, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
		      "escalation_level = 3 AND escalated_at IS NOT NULL AND escalate_at IS NULL",
	       e, NULL);
	EXPECT(t, 3, "SELECT count(*) FROM actions WHERE incident_id = $1::uuid "
		      "AND payload->>'event' = 'incident.escalated'", e, NULL);
	EXPECT(t, 3, "SELECT count(DISTINCT (payload->'escalation'->>'level')::int) "
		      "FROM actions WHERE incident_id = $1::uuid AND payload->>'event' = "
		      "'incident.escalated' AND (payload->'escalation'->>'previous')::int = "
		      "(payload->'escalation'->>'level')::int - 1 AND "
		      "(payload->'escalation'->'step'->>'after_s')::int = "
		      "(payload->'escalation'->>'level')::int - 1", e, NULL);
	EXPECT(t, 3, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
		      "AND stage = 'escalated' AND output->>'by' = $2", e, by);
	snprintf(subj, sizeof(subj), "incident:%s", e);
	EXPECT(t, 3, "SELECT count(DISTINCT detail->>'level') FROM audit_log "
		      "WHERE action = 'incident.escalated' AND subject = $1", subj, NULL);
	EXPECT(t, 3, "SELECT count(*) FROM audit_log "
		      "WHERE action = 'incident.escalated' AND subject = $1", subj, NULL);
	/* Every escalation went through the outbox to act. */
	wait_q(t, "SELECT count(*) FROM actions WHERE incident_id = $1::uuid AND "
		  "payload->>'event' = 'incident.escalated' AND status IN ('pending', 'running')",
		  e, NULL, 0);
}

static void test_escalation(void **state)
{
	char t[64], d[64], e1[AX_UUID_LEN], e2[AX_UUID_LEN], e3[AX_UUID_LEN];
	(void)state;

	h_tenant_new("esc", NULL, t);
	h_tenant_new("escdef", NULL, d);   /* no settings row: the default policy */
	sql_ok(t, POLICY_SECONDS);
	xadd(t, "ErrorsUp", "firing", "svc-e1", "esc-host", "esc-1");
	xadd(t, "ErrorsUp", "firing", "svc-e2", "esc-host2", "esc-2");
	xadd(d, "ErrorsUp", "firing", "svc-e3", "esc-host3", "esc-3");
	wait_q(t, "SELECT count(*) FROM incidents WHERE status = 'open'", NULL, NULL, 2);
	wait_q(d, "SELECT count(*) FROM incidents WHERE status = 'open'", NULL, NULL, 1);
	incident_of(t, "service:svc-e1", "open", e1);
	incident_of(t, "service:svc-e2", "open", e2);
	incident_of(d, "service:svc-e3", "open", e3);
	/* Acknowledged before any act runs. */
	EXPECT(t, 1, "UPDATE incidents SET acknowledged_at = now(), acknowledged_by = "
		      "'oncall@example.com' WHERE id = $1::uuid RETURNING 1", e2, NULL);

	start_act(0, "jobs-esc", 172800, NULL);
	wait_q(t, "SELECT escalation_level FROM incidents WHERE id = $1::uuid", e1, NULL, 3);
	check_escalated(t, e1, "jobs-esc");
	EXPECT(t, 1, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
		      "escalation_level = 0 AND escalated_at IS NULL", e2, NULL);
	EXPECT(t, 0, "SELECT count(*) FROM actions WHERE incident_id = $1::uuid "
		      "AND payload->>'event' = 'incident.escalated'", e2, NULL);
	/* The default policy's first level is 900 s after opening: the job
	 * has looked (escalate_at moved there) and paged nobody. */
	wait_q(d, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND escalation_level = 0 "
		  "AND escalate_at = opened_at + interval '900 seconds'", e3, NULL, 1);
	assert_true(audit_chain_ok(t));
	stop_clean(&acts[0]);
}

/* ---------------------------------------------------------------- 5 */

struct approval {
	char action[AX_UUID_LEN], id[AX_UUID_LEN];
};

static void approval_new(const char *t, struct approval *a, const char *action_status,
			 const char *expires_in, const char *decision)
{
	const char *pa[2] = { a->action, action_status };
	const char *pp[4] = { a->id, a->action, expires_in, decision };

	ax_uuid7(a->action);
	ax_uuid7(a->id);
	PQclear(h_pg_q(app, t, "INSERT INTO actions (tenant_id, id, type, status, payload, trace) "
			       "VALUES (app_tenant(), $1, 'remediate', $2, "
			       "'{\"type\": \"remediate\", \"action\": \"restart_pod\"}', "
			       "'0123456789abcdef0123456789abcdef')", 2, pa));
	PQclear(h_pg_q(app, t, "INSERT INTO approvals (tenant_id, id, action_id, requested_by, "
			       "expires_at, decision, decided_by, decided_at) "
			       "VALUES (app_tenant(), $1, $2, 'act', now() + $3::interval, "
			       "$4::text, "
			       "CASE WHEN $4::text IS NULL THEN NULL ELSE 'tester' END, "
			       "CASE WHEN $4::text IS NULL THEN NULL ELSE now() END)", 4, pp));
}

static void test_approval_expiry(void **state)
{
	struct approval due, later, decided, running;
	char t[64], chan[AX_KEY_MAX], err[256], subj[64];
	redisContext *sub;
	redisReply *r;
	int seen_due = 0, seen_running = 0, other = 0;
	struct timespec t0, now;
	(void)state;

	h_tenant_new("appr", NULL, t);
	sub = ax_redis_connect(h_env("ALEXUS_REDIS_URL"), WAIT_MS, err, sizeof(err));
	assert_non_null(sub);
	assert_true(ax_key(chan, sizeof(chan), t, "events", NULL) > 0);
	r = redisCommand(sub, "SUBSCRIBE %s", chan);
	assert_non_null(r);
	freeReplyObject(r);

	approval_new(t, &due, "pending", "1 second", NULL);
	approval_new(t, &later, "pending", "1 hour", NULL);
	approval_new(t, &decided, "pending", "1 second", "approved");
	approval_new(t, &running, "running", "1 second", NULL);
	start_act(0, "jobs-appr", 172800, NULL);

	wait_q(t, "SELECT count(*) FROM approvals WHERE decision = 'expired'", NULL, NULL, 2);
	EXPECT(t, 1, "SELECT count(*) FROM approvals WHERE id = $1::uuid AND "
		      "decision = 'expired' AND decided_by = 'act' AND decided_at >= expires_at",
	       due.id, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM actions WHERE id = $1::uuid AND "
		      "status = 'skipped' AND result->>'reason' = 'approval expired'",
	       due.action, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM approvals WHERE id = $1::uuid AND "
		      "decision = 'expired'", running.id, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM actions WHERE id = $1::uuid AND "
		      "status = 'running' AND result IS NULL", running.action, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM approvals WHERE id = $1::uuid AND "
		      "decision IS NULL", later.id, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM approvals WHERE id = $1::uuid AND "
		      "decision = 'approved' AND decided_by = 'tester'", decided.id, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM actions WHERE id = $1::uuid AND "
		      "status = 'pending'", decided.action, NULL);
	snprintf(subj, sizeof(subj), "action:%s", due.action);
	EXPECT(t, 1, "SELECT count(*) FROM audit_log WHERE action = 'approval.expired' "
		      "AND subject = $1 AND detail->>'approval_id' = $2 "
		      "AND (detail->>'action_skipped')::boolean "
		      "AND trace = '0123456789abcdef0123456789abcdef'", subj, due.id);
	snprintf(subj, sizeof(subj), "action:%s", running.action);
	EXPECT(t, 1, "SELECT count(*) FROM audit_log WHERE action = 'approval.expired' "
		      "AND subject = $1 AND NOT (detail->>'action_skipped')::boolean", subj, NULL);
	EXPECT(t, 2, "SELECT count(*) FROM audit_log", NULL, NULL);
	assert_true(audit_chain_ok(t));

	/* The two events, published after COMMIT. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seen_due + seen_running < 2) {
		cJSON *m;
		const char *ty, *ap;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > WAIT_MS / 1000)
			fail_msg("approval.expired events: %d of 2 seen", seen_due + seen_running);
		if (redisGetReply(sub, (void **)&r) != REDIS_OK) {
			/* a read timeout: reconnecting would lose the subscription */
			fail_msg("subscription broke: %s", sub->errstr);
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
		    strcmp(r->element[0]->str, "message") != 0) {
			freeReplyObject(r);
			continue;
		}
		m = cJSON_Parse(r->element[2]->str);
		freeReplyObject(r);
		assert_non_null(m);
		ty = ax_json_str(m, "type");
		ap = ax_json_str(m, "approval_id");
		if (ty != NULL && strcmp(ty, "approval.expired") == 0 && ap != NULL &&
		    strcmp(ap, due.id) == 0 &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "action_skipped")))
			seen_due++;
		else if (ty != NULL && strcmp(ty, "approval.expired") == 0 && ap != NULL &&
			 strcmp(ap, running.id) == 0)
			seen_running++;
		else
			other++;
		cJSON_Delete(m);
	}
	assert_int_equal(seen_due, 1);
	assert_int_equal(seen_running, 1);
	assert_int_equal(other, 0);
	redisFree(sub);
	stop_clean(&acts[0]);
}


/* ---------------------------------------------------------------- 5b */

/* A decided approval whose action nobody appended again (the decider's
 * XADD failed): appended once by the jobs after ACT_RESUME_AFTER_S (60 s),
 * so act runs the policy with the decision.  One approved (an HTTP action
 * to an allowlisted port nothing listens on: executed, fails), one
 * rejected (refused by the 'rejected' rule), one decided just now (left
 * for the decider: still pending, never appended). */
static void approval_decided(const char *t, struct approval *a, const char *decision,
			     const char *ago)
{
	const char *pa[1] = { a->action };
	const char *pp[4] = { a->id, a->action, decision, ago };

	ax_uuid7(a->action);
	ax_uuid7(a->id);
	PQclear(h_pg_q(app, t, "INSERT INTO actions (tenant_id, id, type, status, payload, trace) "
			       "VALUES (app_tenant(), $1, 'remediate', 'pending', "
			       "'{\"type\": \"remediate\", \"action\": \"http\", \"params\": "
			       "{\"url\": \"http://127.0.0.1:9/hook\", \"method\": \"POST\"}}', "
			       "'0123456789abcdef0123456789abcdef')", 1, pa));
	PQclear(h_pg_q(app, t, "INSERT INTO approvals (tenant_id, id, action_id, requested_by, "
			       "requested_at, expires_at, decision, decided_by, decided_at) "
			       "VALUES (app_tenant(), $1, $2, 'act', now() - interval '10 minutes', "
			       "now() + interval '1 hour', $3, 'tester', now() - $4::interval)",
		       4, pp));
}

/* Entries of alexus:actions whose id is action. */
static int entries_of(const char *action)
{
	redisReply *r = redisCommand(redis, "XRANGE %s - +", AX_STREAM_ACTIONS);
	size_t i, k;
	int n = 0;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	for (i = 0; i < r->elements; i++) {
		redisReply *f = r->element[i]->element[1];

		for (k = 0; k + 1 < f->elements; k += 2)
			if (strcmp(f->element[k]->str, "id") == 0 &&
			    strcmp(f->element[k + 1]->str, action) == 0)
				n++;
	}
	freeReplyObject(r);
	return n;
}

static void test_approval_resume(void **state)
{
	struct approval yes, no, fresh;
	char t[64];
	(void)state;

	h_tenant_new("resume", NULL, t);
	PQclear(h_pg_q(app, t, "INSERT INTO tenant_settings (tenant_id, autonomy, "
			       "http_action_allowlist) VALUES (app_tenant(), 'approval', "
			       "'{http://127.0.0.1:9/}')", 0, NULL));
	approval_decided(t, &yes, "approved", "2 minutes");
	approval_decided(t, &no, "rejected", "2 minutes");
	approval_decided(t, &fresh, "approved", "0 seconds");
	start_act(0, "jobs-resume", 172800, NULL);

	wait_q(t, "SELECT count(*) FROM actions WHERE id IN ($1::uuid, $2::uuid) "
		  "AND status <> 'pending' AND status <> 'running'", yes.action, no.action, 2);
	EXPECT(t, 1, "SELECT count(*) FROM actions WHERE id = $1::uuid AND status = 'failed' "
		     "AND result->>'rule' = 'approved'", yes.action, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM actions WHERE id = $1::uuid AND status = 'skipped' "
		     "AND result->>'rule' = 'rejected'", no.action, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM audit_log WHERE action = 'policy.decision' "
		     "AND subject = 'action:' || $1 AND detail->>'rule' = 'approved'",
	       yes.action, NULL);
	stop_clean(&acts[0]);
	/* Appended once each (the outbox key), the fresh one never. */
	assert_int_equal(entries_of(yes.action), 1);
	assert_int_equal(entries_of(no.action), 1);
	assert_int_equal(entries_of(fresh.action), 0);
	EXPECT(t, 1, "SELECT count(*) FROM actions WHERE id = $1::uuid AND status = 'pending'",
	       fresh.action, NULL);
	assert_true(audit_chain_ok(t));
}

/* ---------------------------------------------------------------- 6 */

static long long mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void test_two_replicas(void **state)
{
	static const char *const names[2] = { "jobs-a", "jobs-b" };
	char t[64], x1[AX_UUID_LEN], x2[AX_UUID_LEN], g[AX_UUID_LEN], v[256];
	long long t0, took;
	int lead, other;
	(void)state;

	h_tenant_new("repl", NULL, t);
	sql_ok(t, POLICY_SECONDS);
	start_act(0, names[0], 2, NULL);
	start_act(1, names[1], 2, NULL);
	xadd(t, "Saturation", "firing", "svc-x1", "repl-host", "repl-x1");
	xadd(t, "Saturation", "firing", "svc-g", "repl-host-g", "repl-g");
	xadd(t, "Saturation", "resolved", "svc-g", "repl-host-g", "repl-g");
	wait_q(t, "SELECT count(*) FROM incidents", NULL, NULL, 2);
	incident_of(t, "service:svc-x1", "open", x1);
	incident_of(t, "service:svc-g", "resolved", g);
	wait_q(t, "SELECT escalation_level FROM incidents WHERE id = $1::uuid", x1, NULL, 3);
	wait_q(t, Q_RES_STATE, g, "verified", 1);

	leader(v, sizeof(v));
	lead = strncmp(v, "jobs-a:", 7) == 0 ? 0 : 1;
	other = 1 - lead;
	assert_true(strncmp(v, names[lead], strlen(names[lead])) == 0);
	/* Each effect once, whoever did it. */
	EXPECT(t, 3, "SELECT count(*) FROM actions WHERE incident_id = $1::uuid "
		      "AND payload->>'event' = 'incident.escalated'", x1, NULL);
	EXPECT(t, 3, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
		      "AND stage = 'escalated'", x1, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM audit_log WHERE action = 'resolution.verified'",
	       NULL, NULL);
	EXPECT(t, 1, "SELECT count(*) FROM resolutions", NULL, NULL);
	check_escalated(t, x1, names[lead]);

	/* The leader dies without a word; the other takes over once the
	 * lock expires. */
	t0 = mono_ms();
	h_stop(&acts[lead], SIGKILL, 5000);
	wait_leader(names[other]);
	took = mono_ms() - t0;
	print_message("takeover after %lld ms (lock ttl %d ms)\n", took, TTL_MS);
	assert_true(took <= TTL_MS + 1000);
	xadd(t, "Saturation", "firing", "svc-x2", "repl-host-2", "repl-x2");
	wait_q(t, "SELECT count(*) FROM incidents WHERE status = 'open'", NULL, NULL, 2);
	incident_of(t, "service:svc-x2", "open", x2);
	wait_q(t, "SELECT escalation_level FROM incidents WHERE id = $1::uuid", x2, NULL, 3);
	check_escalated(t, x2, names[other]);
	assert_true(audit_chain_ok(t));
	stop_clean(&acts[other]);
}

/* ---------------------------------------------------------------- 7 */

static void test_crash_after_commit(void **state)
{
	char t[64], y[AX_UUID_LEN], act_id[AX_UUID_LEN], fps[160], key[AX_KEY_MAX];
	(void)state;

	h_tenant_new("crash", NULL, t);
	sql_ok(t, "INSERT INTO tenant_settings (tenant_id, escalation_policy) VALUES "
		  "(app_tenant(), '{\"steps\": [{\"level\": 1, \"after_s\": 0}]}')");
	xadd(t, "Crashy", "firing", "svc-y", "crash-host", "crash-y");
	wait_q(t, "SELECT count(*) FROM incidents", NULL, NULL, 1);
	incident_of(t, "service:svc-y", "open", y);

	snprintf(fps, sizeof(fps), "act.jobs.after_commit.%s", t);
	start_act(0, "jobs-crash", 172800, fps);
	if (h_wait_exit(&acts[0], WAIT_MS) != 0) {
		dump_all();
		fail_msg("act did not reach failpoint %s", fps);
	}
	assert_true(WIFSIGNALED(acts[0].status) && WTERMSIG(acts[0].status) == SIGKILL);
	/* Committed, never appended. */
	EXPECT(t, 1, "SELECT escalation_level FROM incidents WHERE id = $1::uuid", y, NULL);
	qs(t, "SELECT id FROM actions WHERE incident_id = $1::uuid AND status = 'pending' "
	      "AND payload->>'event' = 'incident.escalated'", y, act_id, sizeof(act_id));
	assert_true(act_id[0] != '\0');
	assert_true(ax_key(key, sizeof(key), t, "outbox", act_id) > 0);
	assert_int_equal(h_redis_int(redis, "EXISTS %s", key), 0);

	start_act(0, "jobs-crash", 172800, NULL);
	wait_q(t, "SELECT count(*) FROM actions WHERE id = $1::uuid AND status NOT IN "
		  "('pending', 'running')", act_id, NULL, 1);
	assert_int_equal(h_redis_int(redis, "EXISTS %s", key), 1);
	EXPECT(t, 1, "SELECT count(*) FROM actions WHERE incident_id = $1::uuid AND "
		      "payload->>'event' = 'incident.escalated'", y, NULL);
	EXPECT(t, 1, "SELECT escalation_level FROM incidents WHERE id = $1::uuid", y, NULL);
	assert_true(audit_chain_ok(t));
	stop_clean(&acts[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_gate, after_each),
		cmocka_unit_test_teardown(test_flapping, after_each),
		cmocka_unit_test_teardown(test_escalation, after_each),
		cmocka_unit_test_teardown(test_approval_expiry, after_each),
		cmocka_unit_test_teardown(test_approval_resume, after_each),
		cmocka_unit_test_teardown(test_two_replicas, after_each),
		cmocka_unit_test_teardown(test_crash_after_commit, after_each),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
