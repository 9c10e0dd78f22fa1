/* itest_pipeline.c - the walking skeleton end to end, on the real servers.
 *
 * Each test starts the three real daemons (ALEXUS_BIN_DIR) against the
 * test stack's Redis and PostgreSQL, with a receiver standing in for the
 * tenant's webhook endpoint, and asserts on what the receiver got and on
 * what landed in Postgres and Redis:
 *   - an Alertmanager webhook opens an incident, notifies once, audits;
 *     the resolved webhook resolves it and notifies once more;
 *   - a repeated firing webhook is deduplicated before the stream;
 *   - tenant B cannot see or change tenant A's rows (application role,
 *     so it is row-level security that refuses);
 *   - reason killed (SIGKILL) between reading and acknowledging an entry,
 *     before or after its commit, loses nothing and duplicates nothing;
 *   - bad input gets a JSON 4xx and nothing reaches the stream. */
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

#include "alexus/keys.h"
#include "harness.h"
#include "receiver.h"
#include "system.h"

#define FIX_FIRING "tests/fixtures/webhooks/alertmanager.json"
#define FIX_RESOLVED "tests/fixtures/webhooks/alertmanager.resolved.json"

static void test_firing_then_resolved(void **state)
{
	struct sys *s;
	cJSON *r;
	(void)state;

	s = sys_up("fire", NULL);
	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, &r), 202);
	assert_int_equal(sys_json_int(r, "accepted"), 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "ids")), 2);
	cJSON_Delete(r);

	/* Both alerts share service checkout-api: one incident, two alerts. */
	sys_wait_sql(s, "SELECT count(*) FROM alerts WHERE status = 'firing'", 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incidents WHERE status = 'open'"), 1);
	assert_int_equal(sys_q(s, "SELECT alert_count FROM incidents"), 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incidents WHERE severity = 'critical'"
				    " AND service = 'checkout-api' AND category IS NOT NULL"),
			 1);
	assert_true(sys_q(s, "SELECT count(*) FROM incident_events WHERE stage = 'classify'") ==
		    1);
	assert_int_equal(rcv_wait(s->rcv, 1, WAIT_MS), 1);
	sys_wait_settled(s);
	sys_check_delivery(s, 0, "incident.opened");

	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_RESOLVED, &r), 202);
	assert_int_equal(sys_json_int(r, "accepted"), 2);
	cJSON_Delete(r);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'resolved'"
		     " AND resolved_at IS NOT NULL", 1);
	assert_int_equal(rcv_wait(s->rcv, 2, WAIT_MS), 2);
	sys_wait_settled(s);
	sys_check_delivery(s, 1, "incident.resolved");

	/* Exactly one audit row per action, and the chain verifies. */
	assert_int_equal(rcv_count(s->rcv), 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions"), 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM audit_log"), 2);
	assert_true(sys_audit_chain_ok(s));
	sys_down(s);
}

static void test_repeated_firing_is_deduplicated(void **state)
{
	struct sys *s;
	cJSON *r;
	long long before;
	(void)state;

	s = sys_up("dedup", NULL);
	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, &r), 202);
	assert_int_equal(sys_json_int(r, "accepted"), 2);
	cJSON_Delete(r);
	before = h_redis_int(s->redis, "XLEN %s", AX_STREAM_SIGNALS);

	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, &r), 202);
	assert_int_equal(sys_json_int(r, "accepted"), 0);
	assert_int_equal(sys_json_int(r, "duplicates"), 2);
	cJSON_Delete(r);
	assert_int_equal(h_redis_int(s->redis, "XLEN %s", AX_STREAM_SIGNALS), before);

	sys_wait_sql(s, "SELECT count(*) FROM alerts", 2);
	sys_wait_settled(s);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM signals_seen"), 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incidents"), 1);
	assert_int_equal(rcv_count(s->rcv), 1);
	sys_down(s);
}

static void test_tenants_are_isolated(void **state)
{
	struct sys *a;
	char b[64], *tok_b, auth_b[1024], url[128], id[64], sql[256];
	const char *hdr[] = { auth_b, "Content-Type: application/json", NULL };
	const char *p[2];
	PGresult *res;
	size_t len;
	char *body;
	(void)state;

	a = sys_up("iso-a", NULL);
	assert_int_equal(sys_post_file(a, "/v1/webhooks/alertmanager", FIX_FIRING, NULL), 202);
	sys_wait_sql(a, "SELECT count(*) FROM alerts", 2);
	res = h_pg_q(a->app, a->tenant, "SELECT id FROM incidents", 0, NULL);
	assert_int_equal(PQntuples(res), 1);
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);

	/* B posts the same payload with its own token: its own incident. */
	h_tenant_new("iso-b", NULL, b);
	tok_b = h_token(b);
	snprintf(auth_b, sizeof(auth_b), "Authorization: Bearer %s", tok_b);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/webhooks/alertmanager", a->port);
	body = h_read_file(FIX_FIRING, &len);
	assert_int_equal(h_http("POST", url, hdr, body, len, NULL), 202);
	free(body);
	p[0] = id;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM incidents WHERE id <> '%s'", id);
	sys_wait_tenant_sql(a, b, "SELECT count(*) FROM alerts", 2);

	/* Through the application role, scoped to B, A's incident does not exist. */
	assert_int_equal(h_pg_long(a->app, b, "SELECT count(*) FROM incidents WHERE id = $1", 1, p),
			 0);
	assert_int_equal(h_pg_long(a->app, b, "SELECT count(*) FROM alerts WHERE tenant_id <> "
					     "current_setting('app.tenant_id')",
				   0, NULL),
			 0);
	res = h_pg_q(a->app, b, "UPDATE incidents SET title = 'pwned' WHERE id = $1", 1, p);
	assert_string_equal(PQcmdTuples(res), "0");
	PQclear(res);
	/* Unscoped, the application role sees nothing at all. */
	assert_int_equal(h_pg_long(a->app, NULL, "SELECT count(*) FROM incidents", 0, NULL), 0);
	/* Writing a row into A while scoped to B is refused by the policy. */
	{
		const char *ins[2] = { a->tenant, b };
		PGresult *r;
		PQclear(PQexec(a->app, "BEGIN"));
		PQclear(PQexecParams(a->app, "SELECT set_config('app.tenant_id', $1, true)", 1,
				     NULL, &ins[1], NULL, NULL, 0));
		r = PQexecParams(a->app,
				 "INSERT INTO audit_log (tenant_id, seq, at, actor, action, subject,"
				 " prev_hash, hash) VALUES ($1, 999, now(), 'x', 'x', 'x', '\\x00',"
				 " '\\x00')",
				 1, NULL, ins, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
		PQclear(r);
		PQclear(PQexec(a->app, "ROLLBACK"));
	}
	/* A's incident is untouched and A still sees only its own. */
	assert_int_equal(sys_q(a, "SELECT count(*) FROM incidents WHERE title = 'pwned'"), 0);
	assert_int_equal(sys_q(a, "SELECT count(*) FROM incidents"), 1);
	assert_int_equal(sys_q(a, sql), 0);
	free(tok_b);
	sys_wait_settled(a);
	sys_down(a);
}

/* reason dies with SIGKILL at a failpoint; a fresh reason reclaims the
 * pending entries and the end state is exactly as without the crash. */
static void crash_and_recover(const char *failpoint)
{
	struct sys *s;
	cJSON *r;

	s = sys_up("crash", failpoint);
	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, &r), 202);
	cJSON_Delete(r);
	if (h_wait_exit(&s->reason, WAIT_MS) != 0)
		fail_msg("reason did not reach failpoint %s", failpoint);
	assert_true(WIFSIGNALED(s->reason.status));
	assert_int_equal(WTERMSIG(s->reason.status), SIGKILL);
	assert_true(sys_pending(s, AX_STREAM_SIGNALS, AX_GROUP_REASON) >= 1);

	sys_start_reason(&s->reason, NULL);
	sys_wait_sql(s, "SELECT count(*) FROM alerts", 2);
	assert_int_equal(rcv_wait(s->rcv, 1, WAIT_MS), 1);
	sys_wait_settled(s);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM signals_seen"), 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incidents"), 1);
	assert_int_equal(sys_q(s, "SELECT alert_count FROM incidents"), 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions"), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM audit_log"), 1);
	assert_int_equal(rcv_count(s->rcv), 1);
	sys_check_delivery(s, 0, "incident.opened");
	sys_down(s);
}

static void test_reason_killed_before_commit(void **state)
{
	(void)state;
	crash_and_recover("reason.after_read");
}

static void test_reason_killed_after_commit(void **state)
{
	(void)state;
	crash_and_recover("reason.after_commit");
}

static void expect_refusal(struct sys *s, const char *path, const char *const *hdr,
			   const char *body, size_t len, long status, const char *code)
{
	char url[256], *resp = NULL;
	cJSON *j;
	const cJSON *e;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	assert_int_equal(h_http("POST", url, hdr, body, len, &resp), status);
	j = cJSON_Parse(resp);
	if (j == NULL)
		fail_msg("%s: refusal body is not JSON: %s", path, resp);
	e = cJSON_GetObjectItem(j, "error");
	assert_true(cJSON_IsString(e));
	if (code)
		assert_string_equal(e->valuestring, code);
	assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "message")));
	cJSON_Delete(j);
	free(resp);
}

static void test_bad_input_is_refused(void **state)
{
	struct sys *s;
	long long before;
	const char *ok[] = { NULL, "Content-Type: application/json", NULL };
	const char *none[] = { "Content-Type: application/json", NULL };
	const char *bad[] = { "Authorization: Bearer not.a.token", NULL };
	const char *fixture;
	char *big, *body;
	size_t len, n = 2u << 20;
	(void)state;

	s = sys_up("bad", NULL);
	ok[0] = s->auth;
	fixture = body = h_read_file(FIX_FIRING, &len);
	before = h_redis_int(s->redis, "XLEN %s", AX_STREAM_SIGNALS);

	expect_refusal(s, "/v1/webhooks/alertmanager", ok, "{\"alerts\": [", 12, 400, NULL);
	expect_refusal(s, "/v1/webhooks/no-such-source", ok, fixture, len, 404, NULL);
	expect_refusal(s, "/v1/webhooks/alertmanager", none, fixture, len, 401, NULL);
	expect_refusal(s, "/v1/webhooks/alertmanager", bad, fixture, len, 401, NULL);
	big = malloc(n);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	expect_refusal(s, "/v1/webhooks/alertmanager", ok, big, n, 413, NULL);
	free(big);
	expect_refusal(s, "/v1/webhooks", ok, "{\"unrelated\": true}", 19, 422, NULL);

	assert_int_equal(h_redis_int(s->redis, "XLEN %s", AX_STREAM_SIGNALS), before);
	free(body);
	sys_down(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_firing_then_resolved, sys_teardown),
		cmocka_unit_test_teardown(test_repeated_firing_is_deduplicated, sys_teardown),
		cmocka_unit_test_teardown(test_tenants_are_isolated, sys_teardown),
		cmocka_unit_test_teardown(test_reason_killed_before_commit, sys_teardown),
		cmocka_unit_test_teardown(test_reason_killed_after_commit, sys_teardown),
		cmocka_unit_test_teardown(test_bad_input_is_refused, sys_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
