/* itest_reason_batch.c - reason's batched units of work, on the real
 * servers.
 *
 * The entries are appended to alexus:signals before alexus-reason starts,
 * so one XREADGROUP hands it the whole story at once: alerts opening an
 * incident, joining it, firing again, resolving one by one until the
 * incident resolves, then firing again into a new incident (flapping
 * turned off for these tenants: itest_grouping covers it); the same
 * signal delivered twice; a second tenant with the same fingerprints; and
 * entries of a tenant that does not exist (Postgres refuses them).  The
 * same story runs with ALEXUS_BATCH=64 (one read, one unit per tenant) and
 * ALEXUS_BATCH=1 (the entry-at-a-time path), and both must leave exactly
 * the same rows, actions and dead letters.
 *
 * A last test runs two reason consumers on one storm, so they race to open
 * the same incidents: one incident per group, every alert counted once. */
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
#include "harness.h"

#define WAIT_MS 20000

static redisContext *redis;
static PGconn *app;

static void xadd(const char *tenant, const char *id, const char *name, const char *status,
		 const char *severity, const char *service, const char *fp_seed)
{
	char data[1024], fp[AX_SHA256_HEX], trace[40];
	redisReply *r;

	ax_sha256_hex(fp_seed, strlen(fp_seed), fp);
	snprintf(trace, sizeof(trace), "trace-%.8s", id);
	snprintf(data, sizeof(data),
		 "{\"name\":\"%s\",\"status\":\"%s\",\"severity\":\"%s\",\"summary\":\"%s on %s\","
		 "\"service\":\"%s\",\"labels\":{\"alertname\":\"%s\"},\"source\":\"test\","
		 "\"fingerprint\":\"%s\"}",
		 name, status, severity, name, service, service, name, fp);
	r = redisCommand(redis, "XADD %s * v 1 tenant %s id %s kind alert trace %s data %s",
			 AX_STREAM_SIGNALS, tenant, id, trace, data);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	freeReplyObject(r);
}

static long q(const char *tenant, const char *sql)
{
	return h_pg_long(app, tenant, sql, 0, NULL);
}

struct drained {
	long long xlen_before;
	long long want;
};

/* Group reason has read everything appended since xlen_before, and
 * nothing is left pending. */
static int all_read_and_settled(void *arg)
{
	const struct drained *d = arg;
	long long read, pending;
	char err[256];

	if (ax_group_progress(redis, AX_STREAM_SIGNALS, AX_GROUP_REASON, &read, &pending, err,
			      sizeof(err)) != AX_OK)
		return 0;
	return read >= d->xlen_before + d->want && pending == 0;
}

static long long xlen(const char *stream)
{
	return h_redis_int(redis, "XLEN %s", stream);
}

static void start_reason(struct h_proc *p, const char *batch, const char *consumer)
{
	static char b[2][64], c[2][64];
	static int k;
	/* Only grouping here: the stages after classify add actions of their
	 * own (itest_runs). */
	const char *env[] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=60000", b[k], c[k],
			      "ALEXUS_REASON_AGENTS=0", NULL };

	snprintf(b[k], sizeof(b[k]), "ALEXUS_BATCH=%s", batch);
	snprintf(c[k], sizeof(c[k]), "ALEXUS_CONSUMER=%s", consumer);
	h_spawn(p, "alexus-reason", env);
	k = (k + 1) % 2;
}

/* Lines of p's log that contain needle. */
static int log_count(const struct h_proc *p, const char *needle)
{
	char *text = h_read_file(p->log, NULL), *at;
	int n = 0;

	for (at = text; (at = strstr(at, needle)) != NULL; at += strlen(needle))
		n++;
	free(text);
	return n;
}

static void stop_reason(struct h_proc *p)
{
	assert_int_equal(h_stop(p, SIGTERM, WAIT_MS), 0);
	assert_true(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0);
	assert_false(h_log_has_sanitizer_report(p));
}

/* Flapping off for tenant t (tenant_settings.flap_window_s = 0), through
 * the application role scoped to t, as an operator's tool would. */
static void no_flapping(const char *t)
{
	const char *p[1] = { t };

	PQclear(h_pg_q(app, t, "INSERT INTO tenant_settings (tenant_id, flap_window_s) "
		       "VALUES ($1, 0) ON CONFLICT (tenant_id) DO UPDATE SET flap_window_s = 0",
		       1, p));
	assert_int_equal(h_pg_long(app, t, "SELECT flap_window_s FROM tenant_settings", 0, NULL),
			 0);
}

/* The story, for tenants a and b and a tenant that does not exist. */
static void story(const char *batch)
{
	char a[64], b[64], ghost[64], id[8][AX_UUID_LEN], other[2][AX_UUID_LEN],
		gid[2][AX_UUID_LEN];
	long long dlq0 = xlen(AX_STREAM_DLQ), act0 = xlen(AX_STREAM_ACTIONS);
	struct drained d = { xlen(AX_STREAM_SIGNALS), 11 };
	struct h_proc reason;
	int i;

	h_tenant_new("rb", NULL, a);
	h_tenant_new("rb", NULL, b);
	no_flapping(a);
	no_flapping(b);
	snprintf(ghost, sizeof(ghost), "ghost-%.8s", a + 3);
	for (i = 0; i < 8; i++)
		ax_uuid4(id[i]);
	for (i = 0; i < 2; i++) {
		ax_uuid4(other[i]);
		ax_uuid4(gid[i]);
	}

	xadd(a, id[0], "HighLatency", "firing", "warning", "pay", "a1");
	xadd(ghost, gid[0], "HighLatency", "firing", "warning", "pay", "g1");
	xadd(a, id[1], "ErrorRate", "firing", "high", "pay", "a2");
	xadd(a, id[2], "HighLatency", "firing", "critical", "pay", "a1");
	xadd(b, other[0], "HighLatency", "firing", "warning", "pay", "a1");
	xadd(a, id[2], "HighLatency", "firing", "critical", "pay", "a1"); /* delivered twice */
	xadd(a, id[3], "HighLatency", "resolved", "critical", "pay", "a1");
	xadd(ghost, gid[1], "HighLatency", "resolved", "warning", "pay", "g1");
	xadd(a, id[4], "ErrorRate", "resolved", "high", "pay", "a2");
	xadd(a, id[5], "HighLatency", "firing", "warning", "pay", "a1");
	xadd(a, id[6], "DiskFull", "resolved", "warning", "db", "never-fired");

	start_reason(&reason, batch, "rb-one");
	if (!h_wait_until(all_read_and_settled, &d, WAIT_MS)) {
		h_dump_log(&reason);
		fail_msg("reason did not settle every entry");
	}
	stop_reason(&reason);
	/* The repeated delivery of id[2] was recognised as such, once. */
	assert_int_equal(log_count(&reason, "was already committed"), 1);

	/* Tenant a: I1 opened by a1, joined by a2, a1 fired again as
	 * critical, both resolved -> I1 resolved; a1 fired again -> I2. */
	assert_int_equal(q(a, "SELECT count(*) FROM incidents"), 2);
	assert_int_equal(q(a, "SELECT count(*) FROM incidents WHERE status = 'resolved' "
			      "AND resolved_at IS NOT NULL AND alert_count = 2 "
			      "AND severity = 'critical' AND stage = 'resolved' "
			      "AND category IS NOT NULL"), 1);
	assert_int_equal(q(a, "SELECT count(*) FROM incidents WHERE status = 'open' "
			      "AND alert_count = 1 AND severity = 'warning' AND stage = 'classified'"),
			 1);
	assert_int_equal(q(a, "SELECT count(*) FROM alerts"), 3);
	assert_int_equal(q(a, "SELECT count(*) FROM alerts a JOIN incidents i ON i.id = a.incident_id "
			      "WHERE i.status = 'resolved' AND a.status = 'resolved' "
			      "AND a.ends_at IS NOT NULL"), 2);
	assert_int_equal(q(a, "SELECT count(*) FROM alerts WHERE name = 'HighLatency' "
			      "AND severity = 'critical' AND status = 'resolved'"), 1);
	/* NULL->firing x3, firing->resolved x2: the repeat firing of a1
	 * while firing is not a change. */
	assert_int_equal(q(a, "SELECT count(*) FROM alert_history"), 5);
	assert_int_equal(q(a, "SELECT count(*) FROM alert_history WHERE from_status IS NULL"), 3);
	assert_int_equal(q(a, "SELECT count(*) FROM incident_events"), 5);
	assert_int_equal(q(a, "SELECT count(*) FROM incident_events WHERE stage = 'opened'"), 2);
	assert_int_equal(q(a, "SELECT count(*) FROM incident_events WHERE stage = 'resolved'"), 1);
	/* Each opened incident was diagnosed once by the heuristic: the
	 * classify stage carries the analysis, analysis_runs who made it and
	 * the parts of its confidence, and the incident took its verdict. */
	assert_int_equal(q(a, "SELECT count(*) FROM analysis_runs r JOIN incidents i "
			      "ON i.id = r.incident_id WHERE r.provider = 'heuristic' "
			      "AND NOT r.fallback_used AND abs(r.confidence - i.confidence) < 0.001 "
			      "AND r.confidence_parts <> '{}'"), 2);
	assert_int_equal(q(a, "SELECT count(*) FROM incident_events e JOIN incidents i "
			      "ON i.id = e.incident_id WHERE e.stage = 'classify' "
			      "AND e.output->>'category' = i.category "
			      "AND length(e.output->>'probable_cause') > 0 "
			      "AND jsonb_array_length(e.output->'actions') > 0"), 2);
	assert_int_equal(q(a, "SELECT count(*) FROM incidents WHERE category = 'latency'"), 2);
	assert_int_equal(q(a, "SELECT count(*) FROM actions"), 3);
	assert_int_equal(q(a, "SELECT count(*) FROM actions WHERE payload->>'event' = "
			      "'incident.resolved' AND payload->'incident'->>'status' = 'resolved' "
			      "AND (payload->'incident'->>'alert_count')::int = 2"), 1);
	/* Every signal claimed once (the repeat is not a second row), each
	 * alert signal linked to its incident except the one that matched
	 * nothing. */
	assert_int_equal(q(a, "SELECT count(*) FROM signals_seen"), 7);
	assert_int_equal(q(a, "SELECT count(*) FROM signals_seen WHERE incident_id IS NULL"), 1);

	/* Tenant b: its own incident, untouched by a's. */
	assert_int_equal(q(b, "SELECT count(*) FROM incidents WHERE status = 'open'"), 1);
	assert_int_equal(q(b, "SELECT count(*) FROM alerts"), 1);
	assert_int_equal(q(b, "SELECT count(*) FROM actions"), 1);

	/* Outbox: 3 + 1 actions appended; the ghost's two entries
	 * dead-lettered with Postgres's reason. */
	assert_int_equal(xlen(AX_STREAM_ACTIONS) - act0, 4);
	assert_int_equal(xlen(AX_STREAM_DLQ) - dlq0, 2);
	{
		redisReply *r = redisCommand(redis, "XREVRANGE %s + - COUNT 2", AX_STREAM_DLQ);
		size_t i2, j;
		int seen = 0;

		assert_non_null(r);
		for (i2 = 0; i2 < r->elements; i2++) {
			redisReply *f = r->element[i2]->element[1];

			for (j = 0; j + 1 < f->elements; j += 2)
				if (strcmp(f->element[j]->str, "reason") == 0 &&
				    strstr(f->element[j + 1]->str, "23503") != NULL)
					seen++;
		}
		freeReplyObject(r);
		assert_int_equal(seen, 2);
	}
}

static void test_story_batched(void **state)
{
	(void)state;
	story("64");
}

static void test_story_one_at_a_time(void **state)
{
	(void)state;
	story("1");
}

/* Two consumers, one storm: 40 services x 10 alerts, firing. */
static void test_two_consumers_race(void **state)
{
	char t[64], id[AX_UUID_LEN], svc[32], name[32], seed[64];
	struct drained d = { xlen(AX_STREAM_SIGNALS), 400 };
	struct h_proc r1, r2;
	int s, k;
	(void)state;

	h_tenant_new("race", NULL, t);
	for (k = 0; k < 10; k++)
		for (s = 0; s < 40; s++) {
			ax_uuid4(id);
			snprintf(svc, sizeof(svc), "svc-%02d", s);
			snprintf(name, sizeof(name), "Alert%d", k);
			snprintf(seed, sizeof(seed), "%s/%s", svc, name);
			xadd(t, id, name, "firing", "warning", svc, seed);
		}
	start_reason(&r1, "16", "race-1");
	start_reason(&r2, "16", "race-2");
	if (!h_wait_until(all_read_and_settled, &d, WAIT_MS)) {
		h_dump_log(&r1);
		h_dump_log(&r2);
		fail_msg("the consumers did not settle the storm");
	}
	stop_reason(&r1);
	stop_reason(&r2);
	assert_int_equal(q(t, "SELECT count(*) FROM incidents"), 40);
	assert_int_equal(q(t, "SELECT count(DISTINCT group_key) FROM incidents"), 40);
	assert_int_equal(q(t, "SELECT sum(alert_count) FROM incidents"), 400);
	assert_int_equal(q(t, "SELECT count(*) FROM alerts"), 400);
	assert_int_equal(q(t, "SELECT count(*) FROM alert_history"), 400);
	assert_int_equal(q(t, "SELECT count(*) FROM actions"), 40);
	assert_int_equal(q(t, "SELECT count(*) FROM analysis_runs"), 40);
	assert_int_equal(q(t, "SELECT count(*) FROM signals_seen WHERE incident_id IS NOT NULL"),
			 400);
}

static int setup(void **state)
{
	(void)state;
	redis = h_redis();
	app = h_pg_app();
	return redis != NULL && app != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (redis != NULL)
		redisFree(redis);
	if (app != NULL)
		PQfinish(app);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_story_batched),
		cmocka_unit_test(test_story_one_at_a_time),
		cmocka_unit_test(test_two_consumers_race),
	};

	if (ax_hash_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
