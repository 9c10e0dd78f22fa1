/* itest_grouping.c - explainable grouping on the real servers: one
 * alexus-reason consumes signals appended to alexus:signals, and
 * `alexusctl incidents why` must say, per alert, the rule that attached it
 * and the values that matched.
 *
 *   - default rules: alerts join by fingerprint, service, namespace+host,
 *     host and name, each incident opened by its first alert;
 *   - tenant rules (tenant_settings.grouping_rules): the sender's group key
 *     (Alertmanager's groupKey in raw) puts two services in one incident;
 *   - a stale window: an incident that saw no signal within the window is
 *     closed ("superseded") and the alert opens a new one;
 *   - rules the loader refuses leave the tenant on the defaults;
 *   - flapping: an alert that fires again within flap_window_s of
 *     resolving reopens its incident (or joins its group's open one),
 *     counted on the alert and in a flapping event; outside the window it
 *     opens a new incident;
 *   - parent-child: an incident opened on a machine (host, or node label)
 *     that an older open incident of another group has a firing alert on
 *     is that incident's child, with the reason in its opened event;
 *   - `alexusctl replay`: a proposed rules file gives another compression
 *     than live, the tenant's own rules give live's, and no row changes. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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

static redisContext *redis;
static PGconn *app, *admin;
static struct h_proc reason;

struct sig {
	const char *name, *status, *service, *ns, *host, *fp_seed, *group_key;
	const char *node;       /* labels.node */
};

static long long appended;

static void xadd(const char *tenant, const struct sig *s)
{
	char fp[AX_SHA256_HEX], trace[40], id[AX_UUID_LEN], *data;
	cJSON *o = cJSON_CreateObject(), *labels;
	redisReply *r;

	ax_uuid4(id);
	ax_sha256_hex(s->fp_seed, strlen(s->fp_seed), fp);
	snprintf(trace, sizeof(trace), "trace-%.8s", id);
	cJSON_AddStringToObject(o, "name", s->name);
	cJSON_AddStringToObject(o, "status", s->status != NULL ? s->status : "firing");
	cJSON_AddStringToObject(o, "severity", "warning");
	cJSON_AddStringToObject(o, "summary", s->name);
	if (s->service != NULL)
		cJSON_AddStringToObject(o, "service", s->service);
	if (s->ns != NULL)
		cJSON_AddStringToObject(o, "namespace", s->ns);
	if (s->host != NULL)
		cJSON_AddStringToObject(o, "host", s->host);
	labels = cJSON_AddObjectToObject(o, "labels");
	cJSON_AddStringToObject(labels, "alertname", s->name);
	if (s->node != NULL)
		cJSON_AddStringToObject(labels, "node", s->node);
	cJSON_AddStringToObject(o, "source", "alertmanager");
	cJSON_AddStringToObject(o, "fingerprint", fp);
	if (s->group_key != NULL) {
		cJSON *raw = cJSON_AddObjectToObject(o, "raw");

		cJSON_AddStringToObject(raw, "receiver", "alexus");
		cJSON_AddStringToObject(raw, "groupKey", s->group_key);
	}
	data = ax_json_print(o);
	cJSON_Delete(o);
	r = redisCommand(redis, "XADD %s * v 1 tenant %s id %s kind alert trace %s data %s",
			 AX_STREAM_SIGNALS, tenant, id, trace, data);
	free(data);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	freeReplyObject(r);
	appended++;
}

static int all_settled(void *arg)
{
	long long read, pending;
	char err[256];

	(void)arg;
	if (ax_group_progress(redis, AX_STREAM_SIGNALS, AX_GROUP_REASON, &read, &pending, err,
			      sizeof(err)) != AX_OK)
		return 0;
	return read >= appended && pending == 0;
}

static void settle(void)
{
	if (!h_wait_until(all_settled, NULL, WAIT_MS)) {
		h_dump_log(&reason);
		fail_msg("reason did not settle every entry");
	}
}

static long q(const char *tenant, const char *sql)
{
	return h_pg_long(app, tenant, sql, 0, NULL);
}

/* The id of the open incident whose group_key is key ("" when none). */
static void incident_of(const char *tenant, const char *key, const char *status, char *out)
{
	const char *p[2] = { key, status };
	PGresult *r = h_pg_q(app, tenant, "SELECT id FROM incidents WHERE group_key = $1 AND "
			     "status = $2 ORDER BY opened_at DESC LIMIT 1", 2, p);

	out[0] = '\0';
	if (PQntuples(r) == 1)
		snprintf(out, AX_UUID_LEN, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (out[0] == '\0')
		fail_msg("tenant %s has no %s incident of key %s", tenant, status, key);
}

/* `alexusctl incidents why ID --tenant T --json`, parsed. */
static cJSON *why_json(const char *tenant, const char *id)
{
	char *out = NULL;
	cJSON *j;

	assert_int_equal(h_ctl(&out, "incidents", "why", id, "--tenant", tenant, "--json", NULL),
			 0);
	j = cJSON_Parse(out);
	if (j == NULL)
		fail_msg("incidents why --json printed no JSON: %s", out);
	free(out);
	return j;
}

static char *why_text(const char *tenant, const char *id)
{
	char *out = NULL;

	assert_int_equal(h_ctl(&out, "incidents", "why", id, "--tenant", tenant, NULL), 0);
	return out;
}

/* Alert i of a why document: its name, rule and key. */
static void expect_alert(const cJSON *why, int i, const char *name, const char *rule,
			 const char *key)
{
	const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(why, "alerts"), i);
	const cJSON *m;

	assert_non_null(a);
	assert_string_equal(ax_json_str(a, "name"), name);
	assert_string_equal(ax_json_str(a, "rule"), rule);
	assert_int_equal(strlen(ax_json_str(a, "fingerprint")), 64);
	assert_non_null(ax_json_str(a, "at"));
	m = cJSON_GetObjectItem(a, "match");
	assert_string_equal(ax_json_str(m, "key"), key);
}

static void start_reason(void)
{
	const char *env[] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=60000",
			      "ALEXUS_BATCH=64", "ALEXUS_CONSUMER=grouping", NULL };
	appended = h_redis_int(redis, "XLEN %s", AX_STREAM_SIGNALS);
	h_spawn(&reason, "alexus-reason", env);
}

static void test_default_rules(void **state)
{
	static const struct sig story[] = {
		{ "HighLatency", NULL, "pay", "prod", "h9", "d1", NULL },
		{ "ErrorRate", NULL, "pay", NULL, NULL, "d2", NULL },
		{ "DiskFull", NULL, NULL, "prod", "h1", "d3", NULL },
		{ "MemoryHigh", NULL, NULL, "prod", "h1", "d4", NULL },
		{ "CPUHigh", NULL, NULL, NULL, "h2", "d5", NULL },
		{ "LoadHigh", NULL, NULL, NULL, "h2", "d6", NULL },
		{ "Watchdog", NULL, NULL, NULL, NULL, "d7", NULL },
		{ "Watchdog", NULL, NULL, "other", NULL, "d8", NULL },
		{ "HighLatency", NULL, "pay", "prod", "h9", "d1", NULL },   /* again */
	};
	char t[64], id[AX_UUID_LEN];
	cJSON *w;
	char *text;
	size_t i;

	(void)state;
	h_tenant_new("grp", NULL, t);
	for (i = 0; i < sizeof(story) / sizeof(story[0]); i++)
		xadd(t, &story[i]);
	settle();
	assert_int_equal(q(t, "SELECT count(*) FROM incidents WHERE status = 'open'"), 4);
	assert_int_equal(q(t, "SELECT count(*) FROM alerts"), 8);

	incident_of(t, "service:pay", "open", id);
	w = why_json(t, id);
	assert_string_equal(ax_json_str(w, "group_key"), "service:pay");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(w, "alerts")), 2);
	expect_alert(w, 0, "HighLatency", "opened", "service:pay");
	expect_alert(w, 1, "ErrorRate", "service", "service:pay");
	/* The values that matched: the service, and the rule's window. */
	{
		const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(
			cJSON_GetObjectItem(w, "alerts"), 1), "match");

		assert_string_equal(ax_json_str(cJSON_GetObjectItem(m, "values"), "service"), "pay");
		assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "window_s")),
				 300);
		assert_string_equal(ax_json_str(cJSON_GetObjectItem(cJSON_GetArrayItem(
			cJSON_GetObjectItem(w, "alerts"), 0), "match"), "rule"), "service");
	}
	cJSON_Delete(w);
	text = why_text(t, id);
	assert_non_null(strstr(text, "key service:pay"));
	assert_non_null(strstr(text, "service=pay (opened under rule service)"));
	assert_non_null(strstr(text, "ErrorRate"));
	assert_non_null(strstr(text, "service=pay (idle "));
	free(text);

	incident_of(t, "namespace+host:prod/h1", "open", id);
	w = why_json(t, id);
	expect_alert(w, 0, "DiskFull", "opened", "namespace+host:prod/h1");
	expect_alert(w, 1, "MemoryHigh", "namespace+host", "namespace+host:prod/h1");
	cJSON_Delete(w);
	text = why_text(t, id);
	/* jsonb keeps its own key order */
	assert_non_null(strstr(text, "host=h1 namespace=prod"));
	free(text);

	incident_of(t, "host:h2", "open", id);
	w = why_json(t, id);
	expect_alert(w, 0, "CPUHigh", "opened", "host:h2");
	expect_alert(w, 1, "LoadHigh", "host", "host:h2");
	cJSON_Delete(w);

	incident_of(t, "name:Watchdog", "open", id);
	w = why_json(t, id);
	expect_alert(w, 0, "Watchdog", "opened", "name:Watchdog");
	expect_alert(w, 1, "Watchdog", "name", "name:Watchdog");
	cJSON_Delete(w);

	/* The repeat of d1 was the fingerprint rule: its alert, no new row. */
	assert_int_equal(q(t, "SELECT count(*) FROM alerts WHERE name = 'HighLatency'"), 1);
	assert_int_equal(q(t, "SELECT count(*) FROM alerts WHERE group_rule IS NULL OR "
			      "group_match IS NULL"), 0);

	/* Errors: an unknown id, a malformed one. */
	{
		char *out = NULL, other[AX_UUID_LEN];

		ax_uuid4(other);
		assert_int_equal(h_ctl(&out, "incidents", "why", other, "--tenant", t, NULL), 1);
		free(out);
		assert_int_equal(h_ctl(&out, "incidents", "why", "nope", "--tenant", t, NULL), 1);
		free(out);
		assert_int_equal(h_ctl(&out, "incidents", "why", "--tenant", t, NULL), 2);
		free(out);
	}
}

static void set_rules(const char *tenant, const char *rules)
{
	const char *p[2] = { tenant, rules };

	PQclear(h_pg_q(admin, tenant, "INSERT INTO tenant_settings (tenant_id, grouping_rules) "
		       "VALUES ($1, $2::jsonb) ON CONFLICT (tenant_id) DO UPDATE SET "
		       "grouping_rules = excluded.grouping_rules", 2, p));
}

static void test_sender_key_rule(void **state)
{
	static const struct sig story[] = {
		{ "KubePodCrashLooping", NULL, "cart", "shop", "n1", "s1", "{}:{namespace=\"shop\"}" },
		{ "KubeDeploymentReplicasMismatch", NULL, "checkout", "shop", "n2", "s2",
		  "{}:{namespace=\"shop\"}" },
		{ "HighLatency", NULL, "checkout", "shop", "n2", "s3", NULL },
	};
	char t[64], id[AX_UUID_LEN];
	cJSON *w;
	size_t i;

	(void)state;
	h_tenant_new("grp", NULL, t);
	set_rules(t, "[{\"name\":\"fingerprint\",\"fields\":[\"fingerprint\"],\"window_s\":0},"
		  "{\"name\":\"sender\",\"fields\":[\"sender_key\"]},"
		  "{\"name\":\"service\",\"fields\":[\"service\"],\"window_s\":600}]");
	for (i = 0; i < sizeof(story) / sizeof(story[0]); i++)
		xadd(t, &story[i]);
	settle();
	/* cart and checkout in the sender's group; the third alert has no
	 * group key and opens by service. */
	assert_int_equal(q(t, "SELECT count(*) FROM incidents"), 2);
	incident_of(t, "sender:{}:{namespace=\"shop\"}", "open", id);
	w = why_json(t, id);
	expect_alert(w, 0, "KubePodCrashLooping", "opened", "sender:{}:{namespace=\"shop\"}");
	expect_alert(w, 1, "KubeDeploymentReplicasMismatch", "sender",
		     "sender:{}:{namespace=\"shop\"}");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetArrayItem(cJSON_GetObjectItem(w, "alerts"), 1), "match"), "values"),
		"sender_key"), "{}:{namespace=\"shop\"}");
	cJSON_Delete(w);
	incident_of(t, "service:checkout", "open", id);
	w = why_json(t, id);
	expect_alert(w, 0, "HighLatency", "opened", "service:checkout");
	cJSON_Delete(w);

	/* Rules the loader refuses (an unknown field passes the CHECK's
	 * shape test): the tenant is grouped by the defaults, with a warning. */
	set_rules(t, "[{\"name\":\"x\",\"fields\":[\"servce\"]}]");
	{
		struct sig s = { "Lag", NULL, "queue", NULL, NULL, "s4", NULL };

		xadd(t, &s);
	}
	settle();
	incident_of(t, "service:queue", "open", id);
	{
		char *log = h_read_file(reason.log, NULL);

		assert_non_null(strstr(log, "grouping_rules[0].fields[0]: unknown field"));
		assert_non_null(strstr(log, "servce"));
		free(log);
	}
	/* A wrong shape is refused by the database itself. */
	{
		const char *p[1] = { t };
		PGresult *r;

		PQclear(PQexec(admin, "BEGIN"));
		PQclear(PQexecParams(admin, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL,
				     p, NULL, NULL, 0));
		r = PQexecParams(admin, "UPDATE tenant_settings SET grouping_rules = "
				 "'{\"a\":1}' WHERE tenant_id = $1", 1, NULL, p, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
		assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23514");
		PQclear(r);
		PQclear(PQexec(admin, "ROLLBACK"));
	}
}

static void test_stale_window(void **state)
{
	struct sig a = { "HighLatency", NULL, "pay", NULL, NULL, "w1", NULL };
	struct sig b = { "ErrorRate", NULL, "pay", NULL, NULL, "w2", NULL };
	char t[64], old[AX_UUID_LEN], neu[AX_UUID_LEN];
	const char *p[1];
	cJSON *w, *m;
	char *text;

	(void)state;
	h_tenant_new("grp", NULL, t);
	xadd(t, &a);
	settle();
	incident_of(t, "service:pay", "open", old);
	/* Its last signal an hour ago: older than the 300 s window. */
	p[0] = old;
	PQclear(h_pg_q(admin, t, "UPDATE incidents SET last_signal_at = now() - interval '1 hour' "
		       "WHERE id = $1::uuid", 1, p));
	xadd(t, &b);
	settle();
	assert_int_equal(q(t, "SELECT count(*) FROM incidents"), 2);
	incident_of(t, "service:pay", "open", neu);
	assert_string_not_equal(old, neu);
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
				   "status = 'resolved' AND resolved_at IS NOT NULL", 1, p), 1);
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incident_events WHERE "
				   "incident_id = $1::uuid AND stage = 'resolved' AND "
				   "output->>'reason' = 'superseded: no signal within window' AND "
				   "(output->>'idle_s')::int >= 3600 AND "
				   "(output->>'window_s')::int = 300", 1, p), 1);
	w = why_json(t, neu);
	expect_alert(w, 0, "ErrorRate", "opened", "service:pay");
	m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(w, "alerts"), 0), "match");
	assert_string_equal(ax_json_str(m, "superseded"), old);
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "refused"), 0),
					"rule"), "service");
	cJSON_Delete(w);
	text = why_text(t, old);
	assert_non_null(strstr(text, "closed: superseded: no signal within window"));
	assert_non_null(strstr(text, neu));
	free(text);
	text = why_text(t, neu);
	assert_non_null(strstr(text, "refused service:pay by service: idle "));
	free(text);
}

/* `alexusctl incidents ack|note|resolve`: the rows the API writes, a
 * second ack refused naming who acknowledged, another tenant's incident
 * not found, usage errors exit 2 -- and nothing changes on a refusal. */
static void test_ctl_ops(void **state)
{
	struct sig a = { "DiskFull", NULL, "vault", NULL, NULL, "c1", NULL };
	char t[64], other[64], id[AX_UUID_LEN], *out = NULL;
	const char *p[1];
	long events;

	(void)state;
	h_tenant_new("grp", NULL, t);
	h_tenant_new("grp", NULL, other);
	xadd(t, &a);
	settle();
	incident_of(t, "service:vault", "open", id);
	p[0] = id;

	assert_int_equal(h_ctl(&out, "incidents", "ack", id, "--tenant", t, "--by", "dana",
			       "--comment", "looking", NULL), 0);
	assert_non_null(strstr(out, "acknowledged"));
	free(out);
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incidents WHERE id = $1::uuid "
				   "AND acknowledged_by = 'dana' AND acknowledged_at IS NOT NULL",
				   1, p), 1);
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incident_events WHERE "
				   "incident_id = $1::uuid AND stage = 'acknowledged' AND "
				   "provider = 'human'", 1, p), 1);
	events = h_pg_long(app, t, "SELECT count(*) FROM incident_events", 0, NULL);

	/* Refusals change nothing. */
	assert_int_equal(h_ctl(&out, "incidents", "ack", id, "--tenant", t, NULL), 1);
	assert_non_null(strstr(out, "already_acknowledged"));
	assert_non_null(strstr(out, "dana"));
	free(out);
	assert_int_equal(h_ctl(&out, "incidents", "ack", id, "--tenant", other, NULL), 1);
	assert_non_null(strstr(out, "has no incident"));
	free(out);
	assert_int_equal(h_ctl(&out, "incidents", "note", id, "--tenant", t, NULL), 2);
	free(out);
	assert_int_equal(h_ctl(&out, "incidents", "resolve", "nope", "--tenant", t, NULL), 1);
	free(out);
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incident_events", 0, NULL),
			 events);

	assert_int_equal(h_ctl(&out, "incidents", "note", id, "--tenant", t, "--by", "dana",
			       "--text", "rolled back 4.2", NULL), 0);
	free(out);
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incident_notes WHERE "
				   "incident_id = $1::uuid AND author = 'dana' AND "
				   "body = 'rolled back 4.2'", 1, p), 1);
	assert_int_equal(h_ctl(&out, "incidents", "resolve", id, "--tenant", t, "--by", "dana",
			       NULL), 0);
	free(out);
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incidents WHERE id = $1::uuid "
				   "AND status = 'resolved' AND resolved_at IS NOT NULL", 1, p), 1);
	assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM audit_log WHERE actor = 'dana'",
				   0, NULL), 3);
}

static int runs_done(void *arg)
{
	return q(arg, "SELECT count(*) FROM pipeline_runs WHERE status = 'running'") == 0;
}

/* The incidents' pipeline runs (reason/run.c) have finished, so none of
 * them moves an incident's stage under the assertions. */
static void wait_runs(char *tenant)
{
	if (!h_wait_until(runs_done, tenant, WAIT_MS)) {
		h_dump_log(&reason);
		fail_msg("the pipeline runs did not finish");
	}
}

/* The number in column 0 of sql with $1 = id. */
static long q_id(const char *tenant, const char *sql, const char *id)
{
	const char *p[1] = { id };

	return h_pg_long(app, tenant, sql, 1, p);
}

static void test_flapping(void **state)
{
	struct sig up = { "HighLatency", NULL, "pay", NULL, NULL, "f1", NULL, NULL };
	struct sig down = { "HighLatency", "resolved", "pay", NULL, NULL, "f1", NULL, NULL };
	struct sig other = { "ErrorRate", NULL, "pay", NULL, NULL, "f2", NULL, NULL };
	char t[64], i1[AX_UUID_LEN], i2[AX_UUID_LEN], i3[AX_UUID_LEN];
	cJSON *w, *m;
	char *text;
	int k;

	(void)state;
	h_tenant_new("grp", NULL, t);
	/* The default window: 600 s (0010). */
	assert_int_equal(q(t, "SELECT coalesce((SELECT flap_window_s FROM tenant_settings), 600)"),
			 600);
	xadd(t, &up);
	settle();
	wait_runs(t);
	incident_of(t, "service:pay", "open", i1);
	/* Fired, resolved, fired -- twice: one incident, reopened each time. */
	for (k = 1; k <= 2; k++) {
		xadd(t, &down);
		settle();
		assert_int_equal(q_id(t, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
				      "status = 'resolved' AND resolved_at IS NOT NULL", i1), 1);
		xadd(t, &up);
		settle();
		assert_int_equal(q(t, "SELECT count(*) FROM incidents"), 1);
		assert_int_equal(q_id(t, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
				      "status = 'open' AND resolved_at IS NULL AND stage = 'reopened' "
				      "AND firing_count = 1 AND alert_count = 1", i1), 1);
		assert_int_equal(q(t, "SELECT flap_count FROM alerts"), k);
		assert_int_equal(q(t, "SELECT count(*) FROM alerts WHERE status = 'firing'"), 1);
	}
	assert_int_equal(q_id(t, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
			      "AND stage = 'flapping' AND output->>'alert' = 'HighLatency' AND "
			      "(output->>'flap_window_s')::int = 600 AND "
			      "(output->>'resolved_s_ago')::int BETWEEN 0 AND 60 AND "
			      "(output->>'reopened')::boolean", i1), 2);
	assert_int_equal(q_id(t, "SELECT max((output->>'flap_count')::int) FROM incident_events "
			      "WHERE incident_id = $1::uuid AND stage = 'flapping'", i1), 2);
	/* history: NULL->firing, then (firing->resolved, resolved->firing) x2 */
	assert_int_equal(q(t, "SELECT count(*) FROM alert_history"), 5);
	text = why_text(t, i1);
	assert_non_null(strstr(text, "flapping: HighLatency fired again "));
	assert_non_null(strstr(text, "after resolving (flap 2)"));
	free(text);

	/* Resolved again; meanwhile another alert opens the group's new
	 * incident: the flapping alert joins that one, not its old one. */
	xadd(t, &down);
	settle();
	xadd(t, &other);
	settle();
	incident_of(t, "service:pay", "open", i2);
	assert_string_not_equal(i1, i2);
	xadd(t, &up);
	settle();
	assert_int_equal(q(t, "SELECT count(*) FROM incidents"), 2);
	assert_int_equal(q_id(t, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
			      "status = 'resolved'", i1), 1);
	assert_int_equal(q_id(t, "SELECT alert_count FROM incidents WHERE id = $1::uuid", i2), 2);
	w = why_json(t, i2);
	expect_alert(w, 1, "HighLatency", "flapping", "service:pay");
	m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(w, "alerts"), 1), "match");
	assert_string_equal(ax_json_str(m, "resolved_in"), i1);
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(w, "alerts"), 1), "flap_count")), 3);
	cJSON_Delete(w);
	{
		const char *p[2] = { i2, i1 };

		assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incident_events WHERE "
					   "incident_id = $1::uuid AND stage = 'flapping' AND "
					   "output->>'resolved_in' = $2 AND "
					   "NOT (output->>'reopened')::boolean", 2, p), 1);
	}

	/* Outside the window: resolved an hour ago, it opens a new incident. */
	xadd(t, &down);
	xadd(t, &(struct sig){ "ErrorRate", "resolved", "pay", NULL, NULL, "f2", NULL, NULL });
	settle();
	{
		const char *p[1] = { t };

		PQclear(h_pg_q(admin, t, "UPDATE alerts SET updated_at = now() - interval '1 hour' "
			       "WHERE tenant_id = $1", 1, p));
	}
	xadd(t, &up);
	settle();
	assert_int_equal(q(t, "SELECT count(*) FROM incidents"), 3);
	incident_of(t, "service:pay", "open", i3);
	assert_int_equal(q_id(t, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
			      "AND stage = 'flapping'", i3), 0);
	assert_int_equal(q_id(t, "SELECT flap_count FROM alerts WHERE incident_id = $1::uuid",
			      i3), 0);
}

static void test_parent_child(void **state)
{
	static const struct sig story[] = {
		{ "DiskFull", NULL, "db", NULL, "h1", "p1", NULL, NULL },
		{ "HighLatency", NULL, "api", NULL, "h1", "p2", NULL, NULL },
		{ "PodCrashLooping", NULL, "web", "shop", NULL, "p3", NULL, "h1" },
		{ "CPUHigh", NULL, "batch", NULL, "h2", "p4", NULL, NULL },
	};
	char t[64], db[AX_UUID_LEN], api[AX_UUID_LEN], web[AX_UUID_LEN], batch[AX_UUID_LEN];
	cJSON *w;
	char *text;

	(void)state;
	h_tenant_new("grp", NULL, t);
	xadd(t, &story[0]);
	settle();
	/* api and web in one batch: both children of db, the older one. */
	xadd(t, &story[1]);
	xadd(t, &story[2]);
	xadd(t, &story[3]);
	settle();
	incident_of(t, "service:db", "open", db);
	incident_of(t, "service:api", "open", api);
	incident_of(t, "service:web", "open", web);
	incident_of(t, "service:batch", "open", batch);
	assert_int_equal(q_id(t, "SELECT count(*) FROM incidents WHERE parent_id = $1::uuid", db), 2);
	assert_int_equal(q_id(t, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
			      "parent_id IS NULL", db), 1);
	assert_int_equal(q_id(t, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
			      "parent_id IS NULL", batch), 1);
	{
		const char *p[2] = { api, db };

		assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incident_events WHERE "
					   "incident_id = $1::uuid AND stage = 'opened' AND "
					   "output->>'parent_id' = $2 AND output->>'parent_reason' "
					   "LIKE 'shares root CI h1 (the alert''s host)%'", 2, p), 1);
		p[0] = web;
		assert_int_equal(h_pg_long(app, t, "SELECT count(*) FROM incident_events WHERE "
					   "incident_id = $1::uuid AND stage = 'opened' AND "
					   "output->>'parent_id' = $2 AND output->>'parent_reason' "
					   "LIKE 'shares root CI h1 (the alert''s node label)%'", 2, p),
				 1);
	}
	w = why_json(t, api);
	assert_string_equal(ax_json_str(w, "parent_id"), db);
	cJSON_Delete(w);
	text = why_text(t, web);
	{
		char want[128];

		snprintf(want, sizeof(want), "parent %s", db);
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof(want), "opened, child of %s: shares root CI h1", db);
		assert_non_null(strstr(text, want));
	}
	free(text);

	/* The parent resolved: a new incident on h1 has no open parent. */
	xadd(t, &(struct sig){ "DiskFull", "resolved", "db", NULL, "h1", "p1", NULL, NULL });
	xadd(t, &(struct sig){ "HighLatency", "resolved", "api", NULL, "h1", "p2", NULL, NULL });
	xadd(t, &(struct sig){ "PodCrashLooping", "resolved", "web", "shop", NULL, "p3", NULL,
			       "h1" });
	settle();
	xadd(t, &(struct sig){ "MemoryHigh", NULL, "cache", NULL, "h1", "p5", NULL, NULL });
	settle();
	incident_of(t, "service:cache", "open", api);
	assert_int_equal(q_id(t, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
			      "parent_id IS NULL", api), 1);
}

/* Every table's row count, and a digest of the tenant's incidents and
 * alerts, as one string: equal before and after means nothing changed. */
static char *db_state(const char *tenant)
{
	PGresult *tabs = h_pg_q(admin, NULL, "SELECT quote_ident(table_name) FROM "
				"information_schema.tables WHERE table_schema = 'public' AND "
				"table_type = 'BASE TABLE' ORDER BY 1", 0, NULL);
	size_t cap = 16384, len = 0;
	char *out = malloc(cap), sql[256];
	PGresult *r;
	int i;

	assert_non_null(out);
	assert_true(PQntuples(tabs) > 10);
	for (i = 0; i < PQntuples(tabs); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", PQgetvalue(tabs, i, 0));
		r = h_pg_q(admin, tenant, sql, 0, NULL);
		len += (size_t)snprintf(out + len, cap - len, "%s=%s ", PQgetvalue(tabs, i, 0),
					PQgetvalue(r, 0, 0));
		PQclear(r);
		assert_true(len < cap - 256);
	}
	PQclear(tabs);
	r = h_pg_q(app, tenant, "SELECT md5(coalesce((SELECT string_agg(i::text, ',' ORDER BY id) "
		   "FROM incidents i), '') || coalesce((SELECT string_agg(a::text, ',' ORDER BY id) "
		   "FROM alerts a), ''))", 0, NULL);
	snprintf(out + len, cap - len, "digest=%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

static cJSON *replay_json(const char *tenant, const char *from, const char *to,
			  const char *rules)
{
	char *out = NULL;
	cJSON *j;
	int rc;

	if (rules != NULL)
		rc = h_ctl(&out, "replay", "--tenant", tenant, "--from", from, "--to", to,
			   "--rules", rules, "--json", NULL);
	else
		rc = h_ctl(&out, "replay", "--tenant", tenant, "--from", from, "--to", to, "--json",
			   NULL);
	if (rc != 0)
		fail_msg("replay exited %d: %s", rc, out);
	j = cJSON_Parse(out);
	if (j == NULL)
		fail_msg("replay --json printed no JSON: %s", out);
	free(out);
	return j;
}

static double fig(const cJSON *j, const char *which, const char *what)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, which), what));
}

static void test_replay(void **state)
{
	static const struct sig story[] = {
		{ "HighLatency", NULL, "pay", "shop", NULL, "r1", NULL, NULL },
		{ "ErrorRate", NULL, "pay", "shop", NULL, "r2", NULL, NULL },
		{ "PodCrashLooping", NULL, "cart", "shop", NULL, "r3", NULL, NULL },
		{ "HighLatency", NULL, "cart", "shop", NULL, "r4", NULL, NULL },
		{ "ErrorRate", "resolved", "pay", "shop", NULL, "r2", NULL, NULL },
		{ "ErrorRate", NULL, "pay", "shop", NULL, "r2", NULL, NULL },      /* flaps */
	};
	char t[64], from[32], to[32], path[] = "/tmp/alexus-replay-rules-XXXXXX", *before, *after;
	const char *proposed = "[{\"name\":\"fingerprint\",\"fields\":[\"fingerprint\"],"
			       "\"window_s\":0},{\"name\":\"ns\",\"fields\":[\"namespace\"]}]";
	time_t now = time(NULL), t0 = now - 3600, t1 = now + 3600;
	struct tm tm;
	cJSON *live, *prop, *list;
	char *text = NULL;
	size_t i;
	int fd;

	(void)state;
	h_tenant_new("grp", NULL, t);
	for (i = 0; i < sizeof(story) / sizeof(story[0]); i++)
		xadd(t, &story[i]);
	settle();
	wait_runs(t);
	gmtime_r(&t0, &tm);
	strftime(from, sizeof(from), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gmtime_r(&t1, &tm);
	strftime(to, sizeof(to), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, proposed, strlen(proposed)), (ssize_t)strlen(proposed));
	close(fd);
	/* Live: pay and cart, 5 firing signals (4 alerts + 1 flap). */
	assert_int_equal(q(t, "SELECT count(*) FROM incidents"), 2);
	before = db_state(t);

	live = replay_json(t, from, to, NULL);
	assert_string_equal(ax_json_str(live, "rules"), "the defaults");
	assert_int_equal((int)fig(live, "live", "incidents"), 2);
	assert_int_equal((int)fig(live, "live", "alerts"), 4);
	assert_int_equal((int)fig(live, "live", "signals"), 5);
	assert_int_equal((int)fig(live, "replay", "incidents"), 2);
	assert_int_equal((int)fig(live, "replay", "signals"), 5);
	assert_true(fig(live, "replay", "compression") == fig(live, "live", "compression"));
	assert_true(fig(live, "live", "compression") == 2.5);
	list = cJSON_GetObjectItem(cJSON_GetObjectItem(live, "replay"), "incident_list");
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(list, 0), "key"), "service:pay");
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0),
								     "flaps")), 1);

	prop = replay_json(t, from, to, path);
	assert_string_equal(ax_json_str(prop, "rules"), path);
	assert_int_equal((int)fig(prop, "live", "incidents"), 2);
	assert_int_equal((int)fig(prop, "replay", "incidents"), 1);
	assert_int_equal((int)fig(prop, "replay", "signals"), 5);
	assert_true(fig(prop, "replay", "compression") == 5.0);
	assert_true(fig(prop, "replay", "compression") != fig(prop, "live", "compression"));
	list = cJSON_GetObjectItem(cJSON_GetObjectItem(prop, "replay"), "incident_list");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(list, 0), "key"), "ns:shop");
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(list, 0), "rule"), "ns");
	cJSON_Delete(live);
	cJSON_Delete(prop);

	assert_int_equal(h_ctl(&text, "replay", "--tenant", t, "--from", from, "--to", to,
			       "--rules", path, NULL), 0);
	assert_non_null(strstr(text, "ns:shop"));
	assert_non_null(strstr(text, "COMPRESSION"));
	assert_non_null(strstr(text, "5.00"));
	assert_non_null(strstr(text, "2.50"));
	free(text);

	after = db_state(t);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* Errors: a rules file the engine refuses, a range backwards, usage. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	{
		static const char bad[] = "[{\"name\":\"x\",\"fields\":[\"servce\"]}]";

		assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
	}
	close(fd);
	assert_int_equal(h_ctl(&text, "replay", "--tenant", t, "--from", from, "--to", to,
			       "--rules", path, NULL), 1);
	assert_non_null(strstr(text, "grouping_rules[0].fields[0]: unknown field"));
	free(text);
	assert_int_equal(h_ctl(&text, "replay", "--tenant", t, "--from", to, "--to", from, NULL),
			 1);
	assert_non_null(strstr(text, "--from must be before --to"));
	free(text);
	assert_int_equal(h_ctl(&text, "replay", "--tenant", t, NULL), 2);
	free(text);
	unlink(path);
}

static int setup(void **state)
{
	(void)state;
	if (ax_hash_init() != 0)
		return -1;
	redis = h_redis();
	app = h_pg_app();
	admin = h_pg_admin();
	if (redis == NULL || app == NULL || admin == NULL)
		return -1;
	start_reason();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (reason.pid > 0) {
		h_stop(&reason, SIGTERM, WAIT_MS);
		if (h_log_has_sanitizer_report(&reason)) {
			h_dump_log(&reason);
			return -1;
		}
	}
	if (redis != NULL)
		redisFree(redis);
	if (app != NULL)
		PQfinish(app);
	if (admin != NULL)
		PQfinish(admin);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_rules),
		cmocka_unit_test(test_sender_key_rule),
		cmocka_unit_test(test_stale_window),
		cmocka_unit_test(test_ctl_ops),
		cmocka_unit_test(test_flapping),
		cmocka_unit_test(test_parent_child),
		cmocka_unit_test(test_replay),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
