/* itest_api.c - the operator API served by ingest (issue 7, "API"),
 * against a real ingest, Redis and Postgres.
 *
 * Fixture: two tenants.  Tenant A gets a table of incidents (F[] below:
 * status, severity, service, opened_at spread over days) written through
 * the application role, one of them with alerts, stage transitions, an
 * analysis run, an action with its approval, a ticket and audit rows.
 * Every expectation is computed from F[], never typed in.
 *
 *   list       pages of 3 walk every incident once, newest id first, and
 *              end with next_cursor null; each filter (status, severity,
 *              service, since, until, combined) returns exactly the rows of
 *              F[] that match; bad filters, cursor, limit, an unknown
 *              parameter are 400 naming the field; no or bad token 401;
 *              tenant B sees none of A's incidents.
 *   show       one incident with every section and its values; B's token
 *              on A's id is 404, as is an unknown id.
 *   ops        viewer 403; ack (row, event naming the actor, audit row),
 *              a second ack 409, note 201 (incident_notes row), empty note
 *              400, resolve, resolve again 409, ack of a resolved one 409;
 *              B's operator gets 404 and changes nothing.
 *   approvals  ?status=pending lists exactly the pending one (viewer may),
 *              ?status=decided the decided one, a bad status 400.
 *   feed       an SSE stream opened with ?access_token= gets a row written
 *              and published in reason's shape with id: = the row id, an
 *              ack made through the API, an action.finished event as
 *              published; a reconnect with Last-Event-ID replays what came
 *              after it; a heartbeat comment within 15 s; the token never
 *              appears in ingest's log; access_token is refused elsewhere.
 *   order      a row committed after a larger id was sent is still sent.
 *   slow       a client that stops reading is cut off (rows waiting behind
 *              a full buffer for 5 s); the stream ends (EOF) without all
 *              rows delivered.
 *   settings   admin only; GET gives the schema's defaults (read from the
 *              catalog) and writes nothing; PUT changes exactly the fields
 *              given (row and audit row); every bad value -- type, range,
 *              set, unknown field, and the CHECKs only Postgres judges
 *              (clarify > execute, an ftp:// allowlist entry, an empty
 *              escalation policy) -- is 400 naming the field and changes
 *              nothing, even beside a valid field.
 *   channels   a channel naming a missing credential is 400; after PUT
 *              /v1/credentials/{name} it is 201, a duplicate name 409, a
 *              secret in config 400; DELETE disables it; B sees nothing.
 *   secrets    the credential is stored sealed (the ciphertext is not the
 *              value), listed with name and key id only, and the value is
 *              in no answer of the whole test and not in ingest's log.
 *   drain      SIGTERM with a stream open: the stream ends with its last
 *              chunk, ingest exits 0. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "alexus/hash.h"
#include "alexus/jwt.h"

#define WAIT_MS 20000
#define NF 7
/* A credential value, looked for in every answer and in ingest's log. */
#define SECRET "xoxb-s6api-secret-4f1c9a"

/* The incidents of tenant A. */
static const struct fx {
	const char *status, *severity, *service;
	int days_ago;
} F[NF] = {
    {"open", "critical", "checkout", 6}, {"resolved", "high", "checkout", 5},
    {"open", "warning", "search", 4},    {"open", "critical", "search", 3},
    {"resolved", "info", NULL, 2},       {"open", "high", "payments", 1},
    {"open", "warning", "checkout", 0},
};

static struct {
	char a[64], b[64];
	char ids[NF][AX_UUID_LEN]; /* in F order, ids increasing (uuid7) */
	char opened[NF][40];
	char action[AX_UUID_LEN], approval[AX_UUID_LEN], approval2[AX_UUID_LEN];
	char *viewer, *operator, * admin, *b_operator;
	char url[128];
	int port;
	struct h_proc ingest;
	PGconn *app;
	redisContext *redis;
} E;

static char *mint(const char *tenant, const char *role)
{
	const char *secret = h_env("ALEXUS_JWT_SECRET");
	const char *iss = getenv("ALEXUS_JWT_ISSUER"), *aud = getenv("ALEXUS_JWT_AUDIENCE");
	struct ax_jwt_opts o = {
	    .alg = "HS256",
	    .key = (const unsigned char *)secret,
	    .key_len = strlen(secret),
	    .issuer = iss ? iss : "alexus",
	    .audience = aud ? aud : "alexus",
	};
	char err[128];
	char *t = ax_jwt_mint_role(&o, tenant, role, 3600, err, sizeof(err));

	if (t == NULL)
		fail_msg("mint: %s", err);
	return t;
}

static void q(const char *tenant, const char *sql, int n, const char *const *p)
{
	PQclear(h_pg_q(E.app, tenant, sql, n, p));
}

static long qlong(const char *tenant, const char *sql, int n, const char *const *p)
{
	return h_pg_long(E.app, tenant, sql, n, p);
}

/* HTTP with a bearer token (NULL: none). */
static long api(const char *method, const char *path, const char *token, const char *body,
                char **resp)
{
	char url[1024], auth[1200];
	const char *h[3] = {"Content-Type: application/json", auth, NULL};

	long st;

	snprintf(url, sizeof(url), "%s%s", E.url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token != NULL ? token : "");
	if (token == NULL)
		h[1] = NULL;
	st = h_http(method, url, h, body, body != NULL ? strlen(body) : 0, resp);
	/* No answer of any call ever carries the stored secret. */
	if (resp != NULL && *resp != NULL && strstr(*resp, SECRET) != NULL)
		fail_msg("%s %s answered the secret: %s", method, path, *resp);
	return st;
}

static cJSON *api_json(const char *method, const char *path, const char *token, const char *body,
                       long want)
{
	char *resp = NULL;
	long st = api(method, path, token, body, &resp);
	cJSON *j;

	if (st != want)
		fail_msg("%s %s: %ld, wanted %ld: %s", method, path, st, want, resp ? resp : "");
	j = cJSON_Parse(resp);
	if (j == NULL)
		fail_msg("%s %s: not JSON: %s", method, path, resp ? resp : "");
	free(resp);
	return j;
}

/* A refusal: the status, {"error": error} and, when field is set, "field". */
static void refused(const char *method, const char *path, const char *token, const char *body,
                    long status, const char *error, const char *field)
{
	cJSON *j = api_json(method, path, token, body, status);
	const cJSON *e = cJSON_GetObjectItem(j, "error"), *f = cJSON_GetObjectItem(j, "field");

	assert_true(cJSON_IsString(e));
	assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "message")));
	if (error != NULL)
		assert_string_equal(e->valuestring, error);
	if (field != NULL) {
		assert_true(cJSON_IsString(f));
		assert_string_equal(f->valuestring, field);
	}
	cJSON_Delete(j);
}

/* ------------------------------------------------------------- fixture */

static int setup_all(void **state)
{
	const char *p[8];
	char env_port[64], ready[160], days[16], sev[16];
	int i;

	(void)state;
	ax_hash_init();
	E.app = h_pg_app();
	E.redis = h_redis();
	h_tenant_new("api-a", NULL, E.a);
	h_tenant_new("api-b", NULL, E.b);
	for (i = 0; i < NF; i++) {
		ax_uuid7(E.ids[i]);
		snprintf(days, sizeof(days), "%d", F[i].days_ago);
		p[0] = E.ids[i];
		p[1] = F[i].status;
		p[2] = F[i].severity;
		p[3] = F[i].service;
		p[4] = days;
		q(E.a,
		  "INSERT INTO incidents (tenant_id, id, title, status, severity, stage, "
		  "group_key, "
		  "service, opened_at, resolved_at) VALUES (app_tenant(), $1::uuid, "
		  "'incident ' || $1::text, $2, $3, 'classify', 'g-' || $1::text, $4, "
		  "now() - ($5 || ' days')::interval, "
		  "CASE WHEN $2 = 'resolved' THEN now() END)",
		  5, p);
		{
			PGresult *r = h_pg_q(E.app, E.a,
			                     "SELECT to_char(opened_at AT TIME ZONE 'UTC', "
			                     "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM incidents "
			                     "WHERE id = $1",
			                     1, p);
			snprintf(E.opened[i], sizeof(E.opened[i]), "%s", PQgetvalue(r, 0, 0));
			PQclear(r);
		}
	}
	/* Incident 0's history. */
	p[0] = E.ids[0];
	q(E.a,
	  "INSERT INTO alerts (tenant_id, id, incident_id, fingerprint, name, status, severity, "
	  "service, source, labels, last_signal) VALUES (app_tenant(), gen_random_uuid(), $1, "
	  "'fp-1', 'HighLatency', 'firing', 'critical', 'checkout', 'alertmanager', "
	  "'{\"pod\":\"checkout-1\"}', gen_random_uuid())",
	  1, p);
	q(E.a,
	  "INSERT INTO incident_events (tenant_id, incident_id, stage, output, provider, "
	  "fallback) VALUES (app_tenant(), $1, 'classify', '{\"intent\":\"incident\"}', "
	  "'heuristic', false), (app_tenant(), $1, 'incident_or_cmdb', "
	  "'{\"probable_cause\":\"bad deploy\"}', 'openai', true)",
	  1, p);
	q(E.a,
	  "INSERT INTO analysis_runs (tenant_id, id, incident_id, provider, model, "
	  "fallback_used, fallback_reason, confidence) VALUES (app_tenant(), gen_random_uuid(), "
	  "$1, 'heuristic', NULL, true, 'timeout', 0.42)",
	  1, p);
	ax_uuid7(E.action);
	ax_uuid7(E.approval);
	ax_uuid7(E.approval2);
	p[1] = E.action;
	p[2] = E.approval;
	q(E.a,
	  "INSERT INTO actions (tenant_id, id, incident_id, type, status, payload) VALUES "
	  "(app_tenant(), $2, $1, 'remediate', 'pending', '{\"action\":\"rollout_restart\"}')",
	  2, p);
	p[0] = E.approval;
	q(E.a,
	  "INSERT INTO approvals (tenant_id, id, action_id, requested_by, expires_at) VALUES "
	  "(app_tenant(), $1, $2, 'act', now() + interval '1 hour')",
	  2, p);
	p[0] = E.ids[0];
	q(E.a,
	  "INSERT INTO tickets (tenant_id, id, incident_id, system, external_key) VALUES "
	  "(app_tenant(), gen_random_uuid(), $1, 'jira', 'OPS-7')",
	  1, p);
	q(E.a,
	  "SELECT audit_append('act', 'approval.requested', 'incident:' || $1, "
	  "'{\"rule\":\"approval_required\"}', NULL)",
	  1, p);
	/* A decided approval on incident 3. */
	p[0] = E.ids[3];
	p[1] = E.approval2;
	q(E.a,
	  "WITH a AS (INSERT INTO actions (tenant_id, id, incident_id, type, status, payload) "
	  "VALUES (app_tenant(), gen_random_uuid(), $1, 'remediate', 'skipped', '{}') "
	  "RETURNING id) INSERT INTO approvals (tenant_id, id, action_id, requested_by, "
	  "expires_at, decision, decided_by, decided_at) SELECT app_tenant(), $2, a.id, 'act', "
	  "now() + interval '1 hour', 'rejected', 'someone', now() FROM a",
	  2, p);
	/* One incident of B. */
	{
		char bid[AX_UUID_LEN];

		ax_uuid7(bid);
		p[0] = bid;
		q(E.b,
		  "INSERT INTO incidents (tenant_id, id, title, status, severity, stage, "
		  "group_key) VALUES (app_tenant(), $1, 'b', 'open', 'info', 'classify', 'g')",
		  1, p);
	}
	(void)sev;

	E.viewer = mint(E.a, "viewer");
	E.operator= mint(E.a, "operator");
	E.admin = mint(E.a, "admin");
	E.b_operator = mint(E.b, "operator");
	E.port = h_free_port();
	snprintf(env_port, sizeof(env_port), "ALEXUS_INGEST_PORT=%d", E.port);
	snprintf(E.url, sizeof(E.url), "http://127.0.0.1:%d", E.port);
	{
		const char *env[] = {env_port, NULL};

		h_spawn(&E.ingest, "alexus-ingest", env);
	}
	snprintf(ready, sizeof(ready), "%s/readyz", E.url);
	if (!h_wait_http_200(ready, WAIT_MS)) {
		h_dump_log(&E.ingest);
		return 1;
	}
	return 0;
}

static int teardown_all(void **state)
{
	int bad;

	(void)state;
	h_stop(&E.ingest, SIGTERM, 10000);
	bad = h_log_has_sanitizer_report(&E.ingest);
	if (bad)
		h_dump_log(&E.ingest);
	free(E.viewer);
	free(E.operator);
	free(E.admin);
	free(E.b_operator);
	PQfinish(E.app);
	redisFree(E.redis);
	return bad;
}

/* ---------------------------------------------------------------- list */

static int match(int i, const char *status, const char *severity, const char *service,
                 int since_days, int until_days)
{
	return (status == NULL || strcmp(F[i].status, status) == 0) &&
	       (severity == NULL || strcmp(F[i].severity, severity) == 0) &&
	       (service == NULL || (F[i].service != NULL && strcmp(F[i].service, service) == 0)) &&
	       (since_days < 0 || strcmp(E.opened[i], E.opened[NF - 1 - since_days]) >= 0) &&
	       (until_days < 0 || strcmp(E.opened[i], E.opened[NF - 1 - until_days]) < 0);
}

/* GET the list with query (pages of limit) and check it is exactly the
 * incidents match() selects, newest id first. */
static void check_list(const char *query, int limit, const char *status, const char *severity,
                       const char *service, int since_days, int until_days)
{
	char path[1024], cursor[128] = "";
	int want[NF], nwant = 0, got = 0, i, pages = 0;

	for (i = NF - 1; i >= 0; i--)
		if (match(i, status, severity, service, since_days, until_days))
			want[nwant++] = i;
	for (;;) {
		cJSON *j, *items, *it;
		const cJSON *next;

		snprintf(path, sizeof(path), "/v1/incidents?limit=%d%s%s%s%s", limit,
		         query[0] ? "&" : "", query, cursor[0] ? "&cursor=" : "", cursor);
		j = api_json("GET", path, E.viewer, NULL, 200);
		items = cJSON_GetObjectItem(j, "items");
		assert_true(cJSON_IsArray(items));
		assert_true(cJSON_GetArraySize(items) <= limit);
		cJSON_ArrayForEach(it, items)
		{
			assert_true(got < nwant);
			assert_string_equal(cJSON_GetObjectItem(it, "id")->valuestring,
			                    E.ids[want[got]]);
			assert_string_equal(cJSON_GetObjectItem(it, "status")->valuestring,
			                    F[want[got]].status);
			assert_string_equal(cJSON_GetObjectItem(it, "severity")->valuestring,
			                    F[want[got]].severity);
			assert_non_null(cJSON_GetObjectItem(it, "opened_at"));
			got++;
		}
		next = cJSON_GetObjectItem(j, "next_cursor");
		assert_non_null(next);
		pages++;
		if (cJSON_IsNull(next)) {
			cJSON_Delete(j);
			break;
		}
		assert_true(cJSON_IsString(next));
		snprintf(cursor, sizeof(cursor), "%s", next->valuestring);
		cJSON_Delete(j);
		assert_true(pages <= NF + 1);
	}
	assert_int_equal(got, nwant);
}

static void test_list(void **state)
{
	char qs[256];
	cJSON *j;

	(void)state;
	check_list("", 3, NULL, NULL, NULL, -1, -1);
	check_list("", 200, NULL, NULL, NULL, -1, -1);
	check_list("status=open", 2, "open", NULL, NULL, -1, -1);
	check_list("status=resolved", 50, "resolved", NULL, NULL, -1, -1);
	check_list("severity=critical", 1, NULL, "critical", NULL, -1, -1);
	check_list("service=checkout", 2, NULL, NULL, "checkout", -1, -1);
	check_list("status=open&service=checkout", 1, "open", NULL, "checkout", -1, -1);
	/* since = the opened_at of the incident 3 days old: it and newer. */
	snprintf(qs, sizeof(qs), "since=%s", E.opened[NF - 1 - 3]);
	check_list(qs, 2, NULL, NULL, NULL, 3, -1);
	snprintf(qs, sizeof(qs), "until=%s&severity=high", E.opened[NF - 1 - 1]);
	check_list(qs, 5, NULL, "high", NULL, -1, 1);

	refused("GET", "/v1/incidents?status=closed", E.viewer, NULL, 400, "bad_request", "status");
	refused("GET", "/v1/incidents?severity=bad", E.viewer, NULL, 400, "bad_request",
	        "severity");
	refused("GET", "/v1/incidents?since=yesterday", E.viewer, NULL, 400, "bad_request",
	        "since");
	refused("GET", "/v1/incidents?until=2026-02-31T00:00:00Z", E.viewer, NULL, 400,
	        "bad_request", "until");
	refused("GET", "/v1/incidents?cursor=abc", E.viewer, NULL, 400, "bad_request", "cursor");
	refused("GET", "/v1/incidents?limit=201", E.viewer, NULL, 400, "bad_request", "limit");
	refused("GET", "/v1/incidents?limit=0", E.viewer, NULL, 400, "bad_request", "limit");
	refused("GET", "/v1/incidents?stauts=open", E.viewer, NULL, 400, "bad_request", "stauts");
	refused("GET", "/v1/incidents", NULL, NULL, 401, "unauthorized", NULL);
	refused("GET", "/v1/incidents", "not.a.jwt", NULL, 401, "unauthorized", NULL);
	refused("POST", "/v1/incidents", E.viewer, "{}", 405, NULL, NULL);

	/* B sees its one incident, none of A's. */
	j = api_json("GET", "/v1/incidents", E.b_operator, NULL, 200);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 1);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), 0), "title")
	        ->valuestring,
	    "b");
	cJSON_Delete(j);
}

/* ---------------------------------------------------------------- show */

static const cJSON *get(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	if (v == NULL)
		fail_msg("no \"%s\"", k);
	return v;
}

static void test_show(void **state)
{
	char path[256];
	const cJSON *inc, *tl, *d, *a;
	cJSON *j;

	(void)state;
	snprintf(path, sizeof(path), "/v1/incidents/%s", E.ids[0]);
	j = api_json("GET", path, E.viewer, NULL, 200);
	inc = get(j, "incident");
	assert_string_equal(get(inc, "id")->valuestring, E.ids[0]);
	assert_string_equal(get(inc, "severity")->valuestring, F[0].severity);
	assert_string_equal(get(inc, "service")->valuestring, F[0].service);
	a = get(j, "alerts");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	assert_string_equal(get(cJSON_GetArrayItem(a, 0), "name")->valuestring, "HighLatency");
	assert_string_equal(get(get(cJSON_GetArrayItem(a, 0), "labels"), "pod")->valuestring,
	                    "checkout-1");
	tl = get(j, "timeline");
	assert_int_equal(cJSON_GetArraySize(tl), 2);
	assert_string_equal(get(cJSON_GetArrayItem(tl, 0), "stage")->valuestring, "classify");
	assert_string_equal(get(cJSON_GetArrayItem(tl, 1), "provider")->valuestring, "openai");
	assert_true(cJSON_IsTrue(get(cJSON_GetArrayItem(tl, 1), "fallback")));
	d = get(j, "diagnosis");
	assert_string_equal(get(get(d, "output"), "probable_cause")->valuestring, "bad deploy");
	assert_string_equal(get(d, "provider")->valuestring, "openai");
	a = get(j, "analysis_runs");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	assert_string_equal(get(cJSON_GetArrayItem(a, 0), "fallback_reason")->valuestring,
	                    "timeout");
	assert_true(get(cJSON_GetArrayItem(a, 0), "confidence")->valuedouble > 0.41 &&
	            get(cJSON_GetArrayItem(a, 0), "confidence")->valuedouble < 0.43);
	a = get(j, "actions");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	assert_string_equal(get(cJSON_GetArrayItem(a, 0), "id")->valuestring, E.action);
	a = get(j, "approvals");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	assert_string_equal(get(cJSON_GetArrayItem(a, 0), "id")->valuestring, E.approval);
	a = get(j, "tickets");
	assert_string_equal(get(cJSON_GetArrayItem(a, 0), "external_key")->valuestring, "OPS-7");
	a = get(j, "audit");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	assert_string_equal(get(cJSON_GetArrayItem(a, 0), "action")->valuestring,
	                    "approval.requested");
	assert_true(cJSON_IsArray(get(j, "notes")));
	assert_true(cJSON_IsArray(get(j, "pipeline_runs")));
	cJSON_Delete(j);

	/* Another tenant's id, an unknown id, a malformed one: 404. */
	refused("GET", path, E.b_operator, NULL, 404, "not_found", NULL);
	refused("GET", "/v1/incidents/00000000-0000-7000-8000-000000000000", E.viewer, NULL, 404,
	        "not_found", NULL);
	refused("GET", "/v1/incidents/nope", E.viewer, NULL, 404, "not_found", NULL);
	refused("GET", path, NULL, NULL, 401, "unauthorized", NULL);
}

/* ----------------------------------------------------------------- ops */

static void test_ops(void **state)
{
	char path[256], sub[128];
	const char *p[2];
	cJSON *j;
	long ev;

	(void)state;
	snprintf(sub, sizeof(sub), "tenant:%s", E.a);
	p[0] = E.ids[2];
	p[1] = sub;
	snprintf(path, sizeof(path), "/v1/incidents/%s/ack", E.ids[2]);
	refused("POST", path, E.viewer, NULL, 403, "forbidden", NULL);
	refused("POST", path, E.b_operator, NULL, 404, "not_found", NULL);
	refused("GET", path, E.operator, NULL, 405, NULL, NULL);
	refused("POST", path, E.operator, "[1]", 400, "invalid_json", NULL);
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM incidents WHERE id = $1 AND "
	                       "acknowledged_at IS NOT NULL",
	                       1, p),
	                 0);

	j = api_json("POST", path, E.operator, "{\"comment\":\"on it\"}", 200);
	ev = (long)get(j, "event_id")->valuedouble;
	assert_string_equal(get(j, "by")->valuestring, sub);
	assert_string_equal(get(j, "status")->valuestring, "open");
	cJSON_Delete(j);
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM incidents WHERE id = $1 AND "
	                       "acknowledged_by = $2 AND acknowledged_at IS NOT NULL",
	                       2, p),
	                 1);
	{
		char evs[32];
		const char *pe[3] = {E.ids[2], sub, evs};

		snprintf(evs, sizeof(evs), "%ld", ev);
		assert_int_equal(qlong(E.a,
		                       "SELECT count(*) FROM incident_events WHERE id = $3 "
		                       "AND incident_id = $1 AND stage = 'acknowledged' AND "
		                       "output->>'by' = $2 AND output->>'comment' = 'on it' "
		                       "AND provider = 'human'",
		                       3, pe),
		                 1);
	}
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM audit_log WHERE subject = 'incident:' "
	                       "|| $1 AND action = 'incident.acknowledged' AND actor = $2",
	                       2, p),
	                 1);
	refused("POST", path, E.operator, NULL, 409, "already_acknowledged", NULL);

	snprintf(path, sizeof(path), "/v1/incidents/%s/notes", E.ids[2]);
	refused("POST", path, E.operator, "{\"text\":\"\"}", 400, "bad_request", "text");
	refused("POST", path, E.operator, NULL, 400, "bad_request", "text");
	j = api_json("POST", path, E.operator, "{\"text\":\"rolled back build 42\"}", 201);
	assert_true(cJSON_IsString(get(j, "note_id")));
	cJSON_Delete(j);
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM incident_notes n JOIN incident_events e "
	                       "ON e.id = n.event_id WHERE n.incident_id = $1 AND n.author = "
	                       "$2 AND n.body = 'rolled back build 42' AND e.stage = 'note'",
	                       2, p),
	                 1);

	snprintf(path, sizeof(path), "/v1/incidents/%s/resolve", E.ids[2]);
	refused("POST", path, E.b_operator, NULL, 404, "not_found", NULL);
	j = api_json("POST", path, E.admin, NULL, 200);
	assert_string_equal(get(j, "status")->valuestring, "resolved");
	cJSON_Delete(j);
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM incidents WHERE id = $1 AND status = "
	                       "'resolved' AND resolved_at IS NOT NULL",
	                       1, p),
	                 1);
	refused("POST", path, E.operator, NULL, 409, "already_resolved", NULL);
	snprintf(path, sizeof(path), "/v1/incidents/%s/ack", E.ids[4]);
	refused("POST", path, E.operator, NULL, 409, "already_resolved", NULL);
	snprintf(path, sizeof(path), "/v1/incidents/%s/close", E.ids[4]);
	refused("POST", path, E.operator, NULL, 404, "not_found", NULL);

	/* The show has the note and the transitions in order. */
	snprintf(path, sizeof(path), "/v1/incidents/%s", E.ids[2]);
	j = api_json("GET", path, E.viewer, NULL, 200);
	assert_int_equal(cJSON_GetArraySize(get(j, "notes")), 1);
	{
		const cJSON *tl = get(j, "timeline");

		assert_int_equal(cJSON_GetArraySize(tl), 3);
		assert_string_equal(get(cJSON_GetArrayItem(tl, 0), "stage")->valuestring,
		                    "acknowledged");
		assert_string_equal(get(cJSON_GetArrayItem(tl, 1), "stage")->valuestring, "note");
		assert_string_equal(get(cJSON_GetArrayItem(tl, 2), "stage")->valuestring,
		                    "resolved");
	}
	assert_int_equal(cJSON_GetArraySize(get(j, "audit")), 3);
	cJSON_Delete(j);
}

/* ----------------------------------------------------------- approvals */

static void test_approvals(void **state)
{
	cJSON *j;
	const cJSON *it;

	(void)state;
	j = api_json("GET", "/v1/approvals?status=pending", E.viewer, NULL, 200);
	assert_int_equal(cJSON_GetArraySize(get(j, "items")), 1);
	it = cJSON_GetArrayItem(get(j, "items"), 0);
	assert_string_equal(get(it, "id")->valuestring, E.approval);
	assert_string_equal(get(it, "action_id")->valuestring, E.action);
	assert_string_equal(get(it, "incident_id")->valuestring, E.ids[0]);
	assert_string_equal(get(get(it, "action"), "action")->valuestring, "rollout_restart");
	assert_true(cJSON_IsNull(get(it, "decision")));
	cJSON_Delete(j);
	j = api_json("GET", "/v1/approvals", E.viewer, NULL, 200); /* pending by default */
	assert_int_equal(cJSON_GetArraySize(get(j, "items")), 1);
	cJSON_Delete(j);
	j = api_json("GET", "/v1/approvals?status=decided", E.viewer, NULL, 200);
	assert_int_equal(cJSON_GetArraySize(get(j, "items")), 1);
	it = cJSON_GetArrayItem(get(j, "items"), 0);
	assert_string_equal(get(it, "id")->valuestring, E.approval2);
	assert_string_equal(get(it, "decision")->valuestring, "rejected");
	cJSON_Delete(j);
	j = api_json("GET", "/v1/approvals?status=all", E.b_operator, NULL, 200);
	assert_int_equal(cJSON_GetArraySize(get(j, "items")), 0);
	cJSON_Delete(j);
	refused("GET", "/v1/approvals?status=maybe", E.viewer, NULL, 400, "bad_request", "status");
	refused("GET", "/v1/approvals", NULL, NULL, 401, "unauthorized", NULL);
	refused("DELETE", "/v1/approvals", E.viewer, NULL, 405, NULL, NULL);
}

/* ---------------------------------------------------------------- feed */

struct sse {
	int fd;
	char *buf;
	size_t len, cap;
	int eof;
};

static void sse_open(struct sse *s, const char *token, const char *last_id, int rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)E.port)};
	char req[2048];
	int n;

	memset(s, 0, sizeof(*s));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	if (rcvbuf > 0)
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	assert_int_equal(connect(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	n = snprintf(req, sizeof(req),
	             "GET /v1/events?access_token=%s HTTP/1.1\r\nHost: x\r\n"
	             "Accept: text/event-stream\r\n%s%s%s\r\n",
	             token, last_id ? "Last-Event-ID: " : "", last_id ? last_id : "",
	             last_id ? "\r\n" : "");
	assert_int_equal(write(s->fd, req, (size_t)n), n);
}

static void sse_close(struct sse *s)
{
	close(s->fd);
	free(s->buf);
	s->buf = NULL;
}

/* Read until needle appears after offset from (or timeout/EOF); returns
 * its position or -1. */
static long sse_wait(struct sse *s, size_t from, const char *needle, int timeout_ms)
{
	struct timespec t0, t;
	char *hit;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf = {.fd = s->fd, .events = POLLIN};
		long el;
		ssize_t n;

		if (s->buf != NULL && s->len > from &&
		    (hit = strstr(s->buf + from, needle)) != NULL)
			return hit - s->buf;
		if (s->eof)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= timeout_ms)
			return -1;
		if (poll(&pf, 1, (int)(timeout_ms - el)) <= 0)
			continue;
		if (s->len + 65537 > s->cap) {
			s->cap = (s->len + 65537) * 2;
			s->buf = realloc(s->buf, s->cap);
			assert_non_null(s->buf);
		}
		n = read(s->fd, s->buf + s->len, 65536);
		if (n <= 0) {
			s->eof = 1;
			continue;
		}
		s->len += (size_t)n;
		s->buf[s->len] = '\0';
	}
}

static int subscribed(void *arg)
{
	char ch[128];
	redisReply *r;
	int n = 0;

	snprintf(ch, sizeof(ch), "t:{%s}:events", (const char *)arg);
	r = redisCommand(E.redis, "PUBSUB NUMSUB %s", ch);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
		n = (int)r->element[1]->integer;
	freeReplyObject(r);
	return n > 0;
}

/* A stage row and its PUBLISH, as reason writes them; returns the row id. */
static long reason_event(const char *incident, const char *stage)
{
	const char *p[2] = {incident, stage};
	char msg[512];
	long id = qlong(E.a,
	                "INSERT INTO incident_events (tenant_id, incident_id, stage, output) "
	                "VALUES (app_tenant(), $1, $2, '{\"k\":\"v\"}') RETURNING id",
	                2, p);
	redisReply *r;

	snprintf(msg, sizeof(msg),
	         "{\"type\":\"incident.stage\",\"tenant\":\"%s\","
	         "\"incident_id\":\"%s\",\"stage\":\"%s\",\"output\":{}}",
	         E.a, incident, stage);
	r = redisCommand(E.redis, "PUBLISH t:{%s}:events %s", E.a, msg);
	freeReplyObject(r);
	return id;
}

static void test_feed(void **state)
{
	struct sse s, s2;
	char want[128], path[2048], last[32];
	long pos, e1, e2, e3;
	char *log;
	cJSON *j;

	(void)state;
	sse_open(&s, E.viewer, NULL, 0);
	assert_true(sse_wait(&s, 0, "HTTP/1.1 200", WAIT_MS) >= 0);
	assert_true(sse_wait(&s, 0, "Content-Type: text/event-stream", WAIT_MS) >= 0);
	assert_true(sse_wait(&s, 0, ": alexus live feed", WAIT_MS) >= 0);
	assert_true(h_wait_until(subscribed, E.a, WAIT_MS));

	/* A row written and published as reason does. */
	e1 = reason_event(E.ids[5], "classify");
	snprintf(want, sizeof(want), "id: %ld\nevent: incident.stage\ndata: {", e1);
	pos = sse_wait(&s, 0, want, WAIT_MS);
	assert_true(pos >= 0);
	assert_true(sse_wait(&s, (size_t)pos, E.ids[5], WAIT_MS) >= 0);

	/* An ack through the API: its event id is the one the API answered. */
	snprintf(path, sizeof(path), "/v1/incidents/%s/ack", E.ids[5]);
	j = api_json("POST", path, E.operator, NULL, 200);
	e2 = (long)get(j, "event_id")->valuedouble;
	cJSON_Delete(j);
	assert_true(e2 > e1);
	snprintf(want, sizeof(want), "id: %ld\nevent: incident.stage\n", e2);
	pos = sse_wait(&s, (size_t)pos, want, WAIT_MS);
	assert_true(pos >= 0);
	assert_true(sse_wait(&s, (size_t)pos, "\"stage\" : \"acknowledged\"", WAIT_MS) >= 0 ||
	            sse_wait(&s, (size_t)pos, "\"stage\":\"acknowledged\"", 10) >= 0);

	/* Another kind of event is forwarded as published, without an id. */
	{
		redisReply *r = redisCommand(E.redis, "PUBLISH t:{%s}:events %s", E.a,
		                             "{\"type\":\"action.finished\",\"action_id\":\"x1\"}");
		freeReplyObject(r);
	}
	assert_true(sse_wait(&s, (size_t)pos,
	                     "event: action.finished\ndata: {\"type\":\"action.finished\","
	                     "\"action_id\":\"x1\"}\n\n",
	                     WAIT_MS) >= 0);

	/* Tenant B's rows never reach A's stream (B has no subscriber here:
	 * its channel is another key), and a row while A is disconnected is
	 * replayed on reconnect from Last-Event-ID. */
	sse_close(&s);
	e3 = reason_event(E.ids[6], "incident_or_cmdb");
	snprintf(last, sizeof(last), "%ld", e1);
	sse_open(&s2, E.viewer, last, 0);
	snprintf(want, sizeof(want), "id: %ld\n", e2);
	pos = sse_wait(&s2, 0, want, WAIT_MS);
	assert_true(pos >= 0);
	snprintf(want, sizeof(want), "id: %ld\n", e3);
	assert_true(sse_wait(&s2, (size_t)pos, want, WAIT_MS) > pos);
	snprintf(want, sizeof(want), "id: %ld\n", e1);
	assert_true(sse_wait(&s2, 0, want, 200) < 0); /* not before what it had */
	/* The heartbeat (every 15 s). */
	assert_true(sse_wait(&s2, 0, ": hb\n\n", 17000) >= 0);
	sse_close(&s2);

	/* Refusals. */
	refused("GET", "/v1/events", NULL, NULL, 401, "unauthorized", NULL);
	snprintf(path, sizeof(path), "/v1/incidents?access_token=%s", E.viewer);
	refused("GET", path, NULL, NULL, 401, "unauthorized", NULL);
	snprintf(path, sizeof(path), "/v1/events?access_token=%s", E.viewer);
	{
		char *resp = NULL;
		char url[2400], lh[64];
		const char *h[2] = {lh, NULL};

		snprintf(url, sizeof(url), "%s%s", E.url, path);
		snprintf(lh, sizeof(lh), "Last-Event-ID: nope");
		assert_int_equal(h_http("GET", url, h, NULL, 0, &resp), 400);
		free(resp);
	}
	/* The token never reached the log. */
	log = h_read_file(E.ingest.log, NULL);
	assert_null(strstr(log, E.viewer));
	free(log);
}

/* Rows committed out of id order: a transaction draws an id and holds it
 * while another commits a larger one, which the stream sends; the smaller
 * one, committed later, is still sent. */
static void test_feed_order(void **state)
{
	struct sse s;
	const char *p[2] = { E.a, E.ids[5] };
	char want[64];
	PGresult *r;
	PGconn *held = h_pg_app();
	long small, big, pos;

	(void)state;
	sse_open(&s, E.viewer, NULL, 0);
	assert_true(sse_wait(&s, 0, ": alexus live feed", WAIT_MS) >= 0);
	assert_true(h_wait_until(subscribed, E.a, WAIT_MS));
	PQclear(PQexec(held, "BEGIN"));
	PQclear(PQexecParams(held, "SELECT set_config('app.tenant_id', $1, true)", 1, NULL, p,
			     NULL, NULL, 0));
	r = PQexecParams(held, "INSERT INTO incident_events (tenant_id, incident_id, stage) "
			       "VALUES (app_tenant(), $1::uuid, 'late') RETURNING id",
			 1, NULL, p + 1, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	small = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	big = reason_event(E.ids[5], "early");
	assert_true(big > small);
	snprintf(want, sizeof(want), "id: %ld\n", big);
	pos = sse_wait(&s, 0, want, WAIT_MS);
	assert_true(pos >= 0);
	r = PQexec(held, "COMMIT");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(held);
	{
		redisReply *rr = redisCommand(E.redis, "PUBLISH t:{%s}:events %s", E.a,
					      "{\"type\":\"incident.stage\",\"stage\":\"late\"}");
		freeReplyObject(rr);
	}
	snprintf(want, sizeof(want), "id: %ld\n", small);
	assert_true(sse_wait(&s, (size_t)pos, want, WAIT_MS) > pos);
	sse_close(&s);
}

/* A client that stops reading is cut off at the bound. */
static void test_slow_client(void **state)
{
	struct sse s;
	const char *p[1] = {E.ids[1]};
	long pos, rows;
	char *log;
	int i;

	(void)state;
	sse_open(&s, E.viewer, NULL, 4096);
	assert_true(sse_wait(&s, 0, ": alexus live feed", WAIT_MS) >= 0);
	assert_true(h_wait_until(subscribed, E.a, WAIT_MS));
	/* 3 MB of rows (100 x 30 KB, written at once), then one wake-up. */
	q(E.a,
	  "INSERT INTO incident_events (tenant_id, incident_id, stage, output) "
	  "SELECT app_tenant(), $1, 'bulk', jsonb_build_object('pad', repeat('x', 30000)) "
	  "FROM generate_series(1, 100)",
	  1, p);
	reason_event(E.ids[1], "classify");
	/* Nothing read meanwhile: ingest cuts the client off and says so. */
	for (i = 0; i < 200; i++) {
		log = h_read_file(E.ingest.log, NULL);
		pos = strstr(log, "client too slow") != NULL;
		free(log);
		if (pos)
			break;
		usleep(50000);
	}
	assert_true(pos);
	/* The stream ends (EOF) with fewer than all the rows delivered. */
	(void)sse_wait(&s, 0, "no such text", WAIT_MS);
	assert_true(s.eof);
	rows = 0;
	for (char *c = s.buf; (c = strstr(c, "event: incident.stage")) != NULL; c++)
		rows++;
	assert_true(rows < 101);
	sse_close(&s);
}

/* ------------------------------------------------------------ settings */

static char *setting_default(const char *col)
{
	const char *p[1] = {col};
	PGresult *r = h_pg_q(E.app, NULL,
	                     "SELECT column_default FROM information_schema.columns WHERE "
	                     "table_name = 'tenant_settings' AND column_name = $1",
	                     1, p);
	char *v = strdup(PQgetvalue(r, 0, 0));

	PQclear(r);
	return v;
}

static void test_settings(void **state)
{
	const char *p[1] = {E.a};
	cJSON *j;
	char *def;

	(void)state;
	refused("GET", "/v1/settings", E.operator, NULL, 403, "forbidden", NULL);
	refused("PUT", "/v1/settings", E.viewer, "{}", 403, "forbidden", NULL);
	refused("POST", "/v1/settings", E.admin, "{}", 405, NULL, NULL);
	/* No row yet: the schema's defaults, and still no row after. */
	j = api_json("GET", "/v1/settings", E.admin, NULL, 200);
	def = setting_default("autonomy");
	assert_non_null(strstr(def, get(j, "autonomy")->valuestring));
	free(def);
	def = setting_default("replica_cap");
	assert_int_equal((int)get(j, "replica_cap")->valuedouble, atoi(def));
	free(def);
	assert_true(cJSON_IsArray(get(j, "allowed_namespaces")));
	assert_true(cJSON_IsObject(get(j, "escalation_policy")));
	cJSON_Delete(j);
	assert_int_equal(qlong(E.a, "SELECT count(*) FROM tenant_settings", 0, NULL), 0);

	j = api_json("PUT", "/v1/settings", E.admin,
	             "{\"execute_threshold\":0.9,\"autonomy\":\"approval\","
	             "\"allowed_namespaces\":[\"prod\",\"web\"],\"replica_cap\":5}",
	             200);
	assert_string_equal(get(j, "autonomy")->valuestring, "approval");
	assert_int_equal((int)get(j, "replica_cap")->valuedouble, 5);
	assert_string_equal(cJSON_GetArrayItem(get(j, "allowed_namespaces"), 1)->valuestring,
	                    "web");
	cJSON_Delete(j);
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM tenant_settings WHERE "
	                       "execute_threshold = 0.9 AND autonomy = 'approval' AND "
	                       "allowed_namespaces = '{prod,web}' AND replica_cap = 5",
	                       0, NULL),
	                 1);
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM audit_log WHERE action = "
	                       "'settings.updated' AND detail->'fields' ? 'replica_cap'",
	                       0, NULL),
	                 1);

	refused("PUT", "/v1/settings", E.admin, "{\"clarify_threshold\":0.95}", 400, "bad_request",
	        "clarify_threshold");
	refused("PUT", "/v1/settings", E.admin, "{\"replica_cap\":5000}", 400, "bad_request",
	        "replica_cap");
	refused("PUT", "/v1/settings", E.admin, "{\"replica_cap\":1.5}", 400, "bad_request",
	        "replica_cap");
	refused("PUT", "/v1/settings", E.admin, "{\"autonomy\":\"yolo\"}", 400, "bad_request",
	        "autonomy");
	refused("PUT", "/v1/settings", E.admin, "{\"allowed_namespaces\":[1]}", 400, "bad_request",
	        "allowed_namespaces");
	refused("PUT", "/v1/settings", E.admin, "{\"bogus\":1}", 400, "bad_request", "bogus");
	refused("PUT", "/v1/settings", E.admin, "{\"http_action_allowlist\":[\"ftp://x\"]}", 400,
	        "bad_request", "http_action_allowlist");
	refused("PUT", "/v1/settings", E.admin, "{\"escalation_policy\":{\"steps\":[]}}", 400,
	        "bad_request", "escalation_policy");
	refused("PUT", "/v1/settings", E.admin, "{\"replica_cap\":7,\"autonomy\":\"yolo\"}", 400,
	        "bad_request", "autonomy");
	refused("PUT", "/v1/settings", E.admin, "[]", 400, "invalid_json", NULL);
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM tenant_settings WHERE "
	                       "execute_threshold = 0.9 AND clarify_threshold <> 0.95 AND "
	                       "replica_cap = 5 AND autonomy = 'approval' AND "
	                       "http_action_allowlist = '{}'",
	                       0, NULL),
	                 1);
	(void)p;
}

/* ------------------------------------------------- channels, credentials */

static void test_channels_credentials(void **state)
{
	const char *ch = "{\"kind\":\"slack\",\"name\":\"ops\",\"min_severity\":\"high\","
	                 "\"config\":{\"channel\":\"#ops\"},\"credential\":\"slack-hook\"}";
	char path[128], id[AX_UUID_LEN];
	const cJSON *it;
	char *log, *b_admin;
	cJSON *j;

	(void)state;
	refused("POST", "/v1/channels", E.operator, ch, 403, "forbidden", NULL);
	refused("POST", "/v1/channels", E.admin, ch, 400, "bad_request", "credential");
	refused("PUT", "/v1/credentials/slack-hook", E.operator, "{\"value\":\"" SECRET "\"}", 403,
	        "forbidden", NULL);
	refused("PUT", "/v1/credentials/slack-hook", E.admin, "{\"value\":\"\"}", 400,
	        "bad_request", "value");
	refused("PUT", "/v1/credentials/bad%20name", E.admin, "{\"value\":\"x\"}", 400,
	        "bad_request", "name");
	j = api_json("PUT", "/v1/credentials/slack-hook", E.admin, "{\"value\":\"" SECRET "\"}",
	             200);
	assert_string_equal(get(j, "name")->valuestring, "slack-hook");
	assert_true(get(j, "key_id")->valuedouble >= 1);
	cJSON_Delete(j);
	/* Stored sealed. */
	assert_int_equal(qlong(E.a,
	                       "SELECT count(*) FROM tenant_credentials WHERE name = "
	                       "'slack-hook' AND position('" SECRET "'::bytea IN ciphertext) = 0",
	                       0, NULL),
	                 1);
	j = api_json("GET", "/v1/credentials", E.admin, NULL, 200);
	assert_int_equal(cJSON_GetArraySize(get(j, "items")), 1);
	it = cJSON_GetArrayItem(get(j, "items"), 0);
	assert_string_equal(get(it, "name")->valuestring, "slack-hook");
	assert_true(cJSON_IsNumber(get(it, "key_id")));
	assert_true(cJSON_IsString(get(it, "updated_at")));
	assert_null(cJSON_GetObjectItem(it, "value"));
	cJSON_Delete(j);
	refused("GET", "/v1/credentials", E.viewer, NULL, 403, "forbidden", NULL);

	j = api_json("POST", "/v1/channels", E.admin, ch, 201);
	snprintf(id, sizeof(id), "%s", get(j, "id")->valuestring);
	assert_string_equal(get(j, "min_severity")->valuestring, "high");
	assert_true(cJSON_IsTrue(get(j, "enabled")));
	cJSON_Delete(j);
	refused("POST", "/v1/channels", E.admin, ch, 409, "conflict", "name");
	refused("POST", "/v1/channels", E.admin,
	        "{\"kind\":\"webhook\",\"name\":\"hook\",\"config\":{\"token\":\"abc\"}}", 400,
	        "bad_request", "config");
	refused("POST", "/v1/channels", E.admin, "{\"kind\":\"fax\",\"name\":\"f\"}", 400,
	        "bad_request", "kind");
	refused("POST", "/v1/channels", E.admin, "{\"kind\":\"email\",\"name\":\"a b\"}", 400,
	        "bad_request", "name");
	j = api_json("GET", "/v1/channels", E.admin, NULL, 200);
	assert_int_equal(cJSON_GetArraySize(get(j, "items")), 1);
	assert_string_equal(get(cJSON_GetArrayItem(get(j, "items"), 0), "credential")->valuestring,
	                    "slack-hook");
	cJSON_Delete(j);
	b_admin = mint(E.b, "admin");
	j = api_json("GET", "/v1/channels", b_admin, NULL, 200);
	free(b_admin);
	assert_int_equal(cJSON_GetArraySize(get(j, "items")), 0);
	cJSON_Delete(j);
	snprintf(path, sizeof(path), "/v1/channels/%s", id);
	j = api_json("DELETE", path, E.admin, NULL, 200);
	assert_true(cJSON_IsFalse(get(j, "enabled")));
	cJSON_Delete(j);
	assert_int_equal(
	    qlong(E.a, "SELECT count(*) FROM notification_channels WHERE NOT enabled", 0, NULL), 1);
	refused("DELETE", "/v1/channels/00000000-0000-7000-8000-000000000000", E.admin, NULL, 404,
	        "not_found", NULL);

	log = h_read_file(E.ingest.log, NULL);
	assert_null(strstr(log, SECRET));
	free(log);
}

/* Last: SIGTERM with a stream open ends the stream (the client reads EOF
 * after a complete chunked body) and ingest exits 0 in time. */
static void test_drain(void **state)
{
	struct sse s;

	(void)state;
	sse_open(&s, E.viewer, NULL, 0);
	assert_true(sse_wait(&s, 0, ": alexus live feed", WAIT_MS) >= 0);
	assert_int_equal(h_stop(&E.ingest, SIGTERM, 10000), 0);
	assert_true(WIFEXITED(E.ingest.status));
	assert_int_equal(WEXITSTATUS(E.ingest.status), 0);
	assert_true(sse_wait(&s, 0, "\r\n0\r\n\r\n", WAIT_MS) >= 0); /* the last chunk */
	(void)sse_wait(&s, 0, "no such text", 2000);
	assert_true(s.eof);
	sse_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_show),
		cmocka_unit_test(test_ops),
		cmocka_unit_test(test_approvals),
		cmocka_unit_test(test_feed),
		cmocka_unit_test(test_feed_order),
		cmocka_unit_test(test_slow_client),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_channels_credentials),
		cmocka_unit_test(test_drain), /* last: stops ingest */
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
