/* itest_openapi.c - proto/openapi.json against a running ingest.
 *
 * The test walks the document: every operation (path x method) and every
 * status code it documents.  R[] below holds one request per (operation,
 * status) that provokes that status on a real ingest (with Redis and
 * Postgres); a documented code without a request must be in SKIP[] with
 * the reason (and where it is tested instead), and a request whose code
 * the document does not list fails the test -- so the document and the
 * server cannot drift apart in either direction.
 *
 * For every answer the document describes as application/json, the body
 * must parse and pass a schema subset check: the schema's $ref resolved
 * (#/components/schemas/X), its top-level "required" properties present,
 * each present property of a declared "type" (string, integer, number,
 * boolean, object, array, null, or a list of them) of that JSON type, and
 * for an array property whose items are a $ref, its first element checked
 * the same way (one level).  Not covered: formats, enums, patterns,
 * ranges, additionalProperties, nested objects below that level.  An
 * event-stream answer is checked by its status line and Content-Type. */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "alexus/hash.h"
#include "alexus/jwt.h"

#define WAIT_MS 20000
#define MAX_BODY 65536

static struct {
	char tenant[64], other[64];
	char inc[AX_UUID_LEN], inc2[AX_UUID_LEN], appr[AX_UUID_LEN], chan[AX_UUID_LEN];
	char *tok[8]; /* by role letter, see token() */
	char url[128];
	int port;
	struct h_proc ingest;
	PGconn *app;
	cJSON *doc;
} E;

/* One request: the documented operation (tmpl + op) and status it proves,
 * and what is actually sent.  who: v viewer, o operator, a admin, t a
 * token without role, b operator of another tenant, x a forged token,
 * - none.  Paths may hold {inc} {inc2} {appr} {chan} {rnd}. */
static const struct recipe {
	const char *op, *tmpl;
	int status;
	const char *method, *path;
	char who;
	const char *ctype, *body, *file;
	int stream;
} R[] = {
    {"get", "/healthz", 200, "GET", "/healthz", '-', NULL, NULL, NULL, 0},
    {"get", "/healthz", 405, "POST", "/healthz", '-', NULL, "", NULL, 0},
    {"get", "/readyz", 200, "GET", "/readyz", '-', NULL, NULL, NULL, 0},
    {"get", "/readyz", 405, "DELETE", "/readyz", '-', NULL, NULL, NULL, 0},
    {"get", "/metrics", 200, "GET", "/metrics", '-', NULL, NULL, NULL, 0},
    {"get", "/metrics", 405, "PUT", "/metrics", '-', NULL, "", NULL, 0},

    {"post", "/v1/webhooks/{source}", 200, "POST", "/v1/webhooks/gcp-monitoring", 't',
     "application/json", NULL, "tests/fixtures/webhooks/gcp-monitoring.test.json", 0},
    {"post", "/v1/webhooks", 200, "POST", "/v1/webhooks", 't', "application/json", NULL,
     "tests/fixtures/webhooks/gcp-monitoring.test.json", 0},
    {"post", "/v1/webhooks/{source}", 202, "POST", "/v1/webhooks/alertmanager", 't',
     "application/json", NULL, "tests/fixtures/webhooks/alertmanager.json", 0},
    {"post", "/v1/webhooks/{source}", 400, "POST", "/v1/webhooks/alertmanager", 't',
     "application/json", "{not json", NULL, 0},
    {"post", "/v1/webhooks/{source}", 401, "POST", "/v1/webhooks/alertmanager", '-',
     "application/json", NULL, "tests/fixtures/webhooks/alertmanager.json", 0},
    {"post", "/v1/webhooks/{source}", 404, "POST", "/v1/webhooks/nosuchsource", 't',
     "application/json", "{}", NULL, 0},
    {"post", "/v1/webhooks/{source}", 405, "GET", "/v1/webhooks/alertmanager", 't', NULL, NULL,
     NULL, 0},
    {"post", "/v1/webhooks/{source}", 413, "POST", "/v1/webhooks/alertmanager", 't',
     "application/json", "BIG", NULL, 0},
    {"post", "/v1/webhooks/{source}", 415, "POST", "/v1/webhooks/alertmanager", 't',
     "application/xml", "<a/>", NULL, 0},
    {"post", "/v1/webhooks/{source}", 422, "POST", "/v1/webhooks/alertmanager", 't',
     "application/json", NULL, "tests/fixtures/webhooks/bad-am-no-alertname.json", 0},
    {"post", "/v1/webhooks", 202, "POST", "/v1/webhooks", 't', "application/json", NULL,
     "tests/fixtures/webhooks/alertmanager.json", 0},
    {"post", "/v1/webhooks", 400, "POST", "/v1/webhooks", 't', "application/json", "[", NULL, 0},
    {"post", "/v1/webhooks", 401, "POST", "/v1/webhooks", 'x', "application/json", "{}", NULL, 0},
    {"post", "/v1/webhooks", 405, "GET", "/v1/webhooks", 't', NULL, NULL, NULL, 0},
    {"post", "/v1/webhooks", 413, "POST", "/v1/webhooks", 't', "application/json", "BIG", NULL, 0},
    {"post", "/v1/webhooks", 415, "POST", "/v1/webhooks", 't', "image/png", "x", NULL, 0},
    {"post", "/v1/webhooks", 422, "POST", "/v1/webhooks", 't', "application/json",
     "{\"nothing\":\"recognisable\"}", NULL, 0},

    {"get", "/v1/approvals", 200, "GET", "/v1/approvals?status=pending", 'v', NULL, NULL, NULL, 0},
    {"get", "/v1/approvals", 400, "GET", "/v1/approvals?status=x", 'v', NULL, NULL, NULL, 0},
    {"get", "/v1/approvals", 401, "GET", "/v1/approvals", '-', NULL, NULL, NULL, 0},
    {"get", "/v1/approvals", 403, "GET", "/v1/approvals", 't', NULL, NULL, NULL, 0},
    {"get", "/v1/approvals", 405, "DELETE", "/v1/approvals", 'v', NULL, NULL, NULL, 0},
    {"post", "/v1/approvals/{id}", 400, "POST", "/v1/approvals/{appr}", 'o', "application/json",
     "{}", NULL, 0},
    {"post", "/v1/approvals/{id}", 401, "POST", "/v1/approvals/{appr}", '-', "application/json",
     "{\"decision\":\"approve\"}", NULL, 0},
    {"post", "/v1/approvals/{id}", 403, "POST", "/v1/approvals/{appr}", 'v', "application/json",
     "{\"decision\":\"approve\"}", NULL, 0},
    {"post", "/v1/approvals/{id}", 404, "POST", "/v1/approvals/{rnd}", 'o', "application/json",
     "{\"decision\":\"approve\"}", NULL, 0},
    {"post", "/v1/approvals/{id}", 405, "GET", "/v1/approvals/{appr}", 'o', NULL, NULL, NULL, 0},
    {"post", "/v1/approvals/{id}", 200, "POST", "/v1/approvals/{appr}", 'o', "application/json",
     "{\"decision\":\"approve\"}", NULL, 0},
    {"post", "/v1/approvals/{id}", 409, "POST", "/v1/approvals/{appr}", 'o', "application/json",
     "{\"decision\":\"reject\"}", NULL, 0},
    {"get", "/v1/approvals/{id}/{decision}", 401, "GET", "/v1/approvals/{appr}/approve", '-', NULL,
     NULL, NULL, 0},
    {"get", "/v1/approvals/{id}/{decision}", 404, "GET", "/v1/approvals/nope/approve", '-', NULL,
     NULL, NULL, 0},
    {"post", "/v1/approvals/{id}/{decision}", 401, "POST", "/v1/approvals/{appr}/reject", '-', NULL,
     "", NULL, 0},
    {"post", "/v1/approvals/{id}/{decision}", 404, "POST", "/v1/approvals/{appr}/maybe", '-', NULL,
     "", NULL, 0},

    {"get", "/v1/incidents", 200, "GET", "/v1/incidents?status=open&limit=1", 'v', NULL, NULL, NULL,
     0},
    {"get", "/v1/incidents", 400, "GET", "/v1/incidents?cursor=zz", 'v', NULL, NULL, NULL, 0},
    {"get", "/v1/incidents", 401, "GET", "/v1/incidents", 'x', NULL, NULL, NULL, 0},
    {"get", "/v1/incidents", 403, "GET", "/v1/incidents", 't', NULL, NULL, NULL, 0},
    {"get", "/v1/incidents", 405, "POST", "/v1/incidents", 'o', "application/json", "{}", NULL, 0},
    {"get", "/v1/incidents/{id}", 200, "GET", "/v1/incidents/{inc}", 'v', NULL, NULL, NULL, 0},
    {"get", "/v1/incidents/{id}", 401, "GET", "/v1/incidents/{inc}", '-', NULL, NULL, NULL, 0},
    {"get", "/v1/incidents/{id}", 403, "GET", "/v1/incidents/{inc}", 't', NULL, NULL, NULL, 0},
    {"get", "/v1/incidents/{id}", 404, "GET", "/v1/incidents/{inc}", 'b', NULL, NULL, NULL, 0},
    {"get", "/v1/incidents/{id}", 405, "DELETE", "/v1/incidents/{inc}", 'a', NULL, NULL, NULL, 0},
    {"post", "/v1/incidents/{id}/ack", 400, "POST", "/v1/incidents/{inc}/ack", 'o',
     "application/json", "[1]", NULL, 0},
    {"post", "/v1/incidents/{id}/ack", 401, "POST", "/v1/incidents/{inc}/ack", '-', NULL, "", NULL,
     0},
    {"post", "/v1/incidents/{id}/ack", 403, "POST", "/v1/incidents/{inc}/ack", 'v', NULL, "", NULL,
     0},
    {"post", "/v1/incidents/{id}/ack", 404, "POST", "/v1/incidents/{inc}/ack", 'b', NULL, "", NULL,
     0},
    {"post", "/v1/incidents/{id}/ack", 405, "GET", "/v1/incidents/{inc}/ack", 'o', NULL, NULL, NULL,
     0},
    {"post", "/v1/incidents/{id}/ack", 200, "POST", "/v1/incidents/{inc}/ack", 'o',
     "application/json", "{\"comment\":\"mine\"}", NULL, 0},
    {"post", "/v1/incidents/{id}/ack", 409, "POST", "/v1/incidents/{inc}/ack", 'o', NULL, "", NULL,
     0},
    {"post", "/v1/incidents/{id}/notes", 201, "POST", "/v1/incidents/{inc}/notes", 'o',
     "application/json", "{\"text\":\"looking\"}", NULL, 0},
    {"post", "/v1/incidents/{id}/notes", 400, "POST", "/v1/incidents/{inc}/notes", 'o',
     "application/json", "{\"text\":7}", NULL, 0},
    {"post", "/v1/incidents/{id}/notes", 401, "POST", "/v1/incidents/{inc}/notes", 'x',
     "application/json", "{\"text\":\"x\"}", NULL, 0},
    {"post", "/v1/incidents/{id}/notes", 403, "POST", "/v1/incidents/{inc}/notes", 'v',
     "application/json", "{\"text\":\"x\"}", NULL, 0},
    {"post", "/v1/incidents/{id}/notes", 404, "POST", "/v1/incidents/{rnd}/notes", 'o',
     "application/json", "{\"text\":\"x\"}", NULL, 0},
    {"post", "/v1/incidents/{id}/notes", 405, "PUT", "/v1/incidents/{inc}/notes", 'o',
     "application/json", "{\"text\":\"x\"}", NULL, 0},
    {"post", "/v1/incidents/{id}/resolve", 400, "POST", "/v1/incidents/{inc2}/resolve", 'o',
     "application/json", "{\"comment\":1}", NULL, 0},
    {"post", "/v1/incidents/{id}/resolve", 401, "POST", "/v1/incidents/{inc2}/resolve", '-', NULL,
     "", NULL, 0},
    {"post", "/v1/incidents/{id}/resolve", 403, "POST", "/v1/incidents/{inc2}/resolve", 't', NULL,
     "", NULL, 0},
    {"post", "/v1/incidents/{id}/resolve", 404, "POST", "/v1/incidents/{inc2}/resolve", 'b', NULL,
     "", NULL, 0},
    {"post", "/v1/incidents/{id}/resolve", 405, "GET", "/v1/incidents/{inc2}/resolve", 'o', NULL,
     NULL, NULL, 0},
    {"post", "/v1/incidents/{id}/resolve", 200, "POST", "/v1/incidents/{inc2}/resolve", 'o', NULL,
     "", NULL, 0},
    {"post", "/v1/incidents/{id}/resolve", 409, "POST", "/v1/incidents/{inc2}/resolve", 'a', NULL,
     "", NULL, 0},

    {"get", "/v1/events", 200, "GET", "/v1/events", 'v', NULL, NULL, NULL, 1},
    {"get", "/v1/events", 400, "GET", "/v1/events?last_event_id=x", 'v', NULL, NULL, NULL, 0},
    {"get", "/v1/events", 401, "GET", "/v1/events", 'x', NULL, NULL, NULL, 0},
    {"get", "/v1/events", 403, "GET", "/v1/events", 't', NULL, NULL, NULL, 0},
    {"get", "/v1/events", 405, "POST", "/v1/events", 'v', NULL, "", NULL, 0},

    {"get", "/v1/settings", 200, "GET", "/v1/settings", 'a', NULL, NULL, NULL, 0},
    {"get", "/v1/settings", 401, "GET", "/v1/settings", '-', NULL, NULL, NULL, 0},
    {"get", "/v1/settings", 403, "GET", "/v1/settings", 'o', NULL, NULL, NULL, 0},
    {"get", "/v1/settings", 405, "POST", "/v1/settings", 'a', "application/json", "{}", NULL, 0},
    {"put", "/v1/settings", 200, "PUT", "/v1/settings", 'a', "application/json",
     "{\"replica_cap\":3}", NULL, 0},
    {"put", "/v1/settings", 400, "PUT", "/v1/settings", 'a', "application/json",
     "{\"replica_cap\":-3}", NULL, 0},
    {"put", "/v1/settings", 401, "PUT", "/v1/settings", 'x', "application/json", "{}", NULL, 0},
    {"put", "/v1/settings", 403, "PUT", "/v1/settings", 'o', "application/json", "{}", NULL, 0},
    {"put", "/v1/settings", 405, "PATCH", "/v1/settings", 'a', "application/json", "{}", NULL, 0},

    {"put", "/v1/credentials/{name}", 200, "PUT", "/v1/credentials/hook", 'a', "application/json",
     "{\"value\":\"s3cr3t-openapi\"}", NULL, 0},
    {"put", "/v1/credentials/{name}", 400, "PUT", "/v1/credentials/hook", 'a', "application/json",
     "{\"value\":null}", NULL, 0},
    {"put", "/v1/credentials/{name}", 401, "PUT", "/v1/credentials/hook", '-', "application/json",
     "{\"value\":\"x\"}", NULL, 0},
    {"put", "/v1/credentials/{name}", 403, "PUT", "/v1/credentials/hook", 'o', "application/json",
     "{\"value\":\"x\"}", NULL, 0},
    {"put", "/v1/credentials/{name}", 405, "GET", "/v1/credentials/hook", 'a', NULL, NULL, NULL, 0},
    {"get", "/v1/credentials", 200, "GET", "/v1/credentials", 'a', NULL, NULL, NULL, 0},
    {"get", "/v1/credentials", 401, "GET", "/v1/credentials", 'x', NULL, NULL, NULL, 0},
    {"get", "/v1/credentials", 403, "GET", "/v1/credentials", 'v', NULL, NULL, NULL, 0},
    {"get", "/v1/credentials", 405, "POST", "/v1/credentials", 'a', "application/json", "{}", NULL,
     0},

    {"post", "/v1/channels", 201, "POST", "/v1/channels", 'a', "application/json",
     "{\"kind\":\"slack\",\"name\":\"oncall\",\"credential\":\"hook\"}", NULL, 0},
    {"post", "/v1/channels", 400, "POST", "/v1/channels", 'a', "application/json",
     "{\"kind\":\"pigeon\",\"name\":\"p\"}", NULL, 0},
    {"post", "/v1/channels", 401, "POST", "/v1/channels", '-', "application/json", "{}", NULL, 0},
    {"post", "/v1/channels", 403, "POST", "/v1/channels", 'o', "application/json", "{}", NULL, 0},
    {"post", "/v1/channels", 409, "POST", "/v1/channels", 'a', "application/json",
     "{\"kind\":\"email\",\"name\":\"oncall\"}", NULL, 0},
    {"get", "/v1/channels", 200, "GET", "/v1/channels", 'a', NULL, NULL, NULL, 0},
    {"get", "/v1/channels", 401, "GET", "/v1/channels", 'x', NULL, NULL, NULL, 0},
    {"get", "/v1/channels", 403, "GET", "/v1/channels", 'v', NULL, NULL, NULL, 0},
    {"get", "/v1/channels", 405, "PUT", "/v1/channels", 'a', "application/json", "{}", NULL, 0},
    {"post", "/v1/channels", 405, "DELETE", "/v1/channels", 'a', NULL, NULL, NULL, 0},
    {"delete", "/v1/channels/{id}", 200, "DELETE", "/v1/channels/{chan}", 'a', NULL, NULL, NULL, 0},
    {"delete", "/v1/channels/{id}", 401, "DELETE", "/v1/channels/{chan}", '-', NULL, NULL, NULL, 0},
    {"delete", "/v1/channels/{id}", 403, "DELETE", "/v1/channels/{chan}", 'o', NULL, NULL, NULL, 0},
    {"delete", "/v1/channels/{id}", 404, "DELETE", "/v1/channels/{rnd}", 'a', NULL, NULL, NULL, 0},
    {"delete", "/v1/channels/{id}", 405, "GET", "/v1/channels/{chan}", 'a', NULL, NULL, NULL, 0},
};
#define NR (sizeof(R) / sizeof(R[0]))

/* Documented codes not provoked here, and why. */
static const struct skip {
	const char *op, *tmpl;
	int status;
	const char *why;
} SKIP[] = {
    {"*", "*", 503,
     "needs Postgres or Redis down, a full queue or a drain: itest_ingest_redis, "
     "test_ingest_http"},
    {"post", "/v1/webhooks/{source}", 429, "the tenant rate limit: itest_ingest_redis"},
    {"post", "/v1/webhooks", 429, "the tenant rate limit: itest_ingest_redis"},
    {"get", "/v1/approvals/{id}/{decision}", 200, "a signed link: itest_remediate"},
    {"get", "/v1/approvals/{id}/{decision}", 410, "an expired signed link: itest_remediate"},
    {"post", "/v1/approvals/{id}/{decision}", 200, "a signed link: itest_remediate"},
    {"post", "/v1/approvals/{id}/{decision}", 409, "a signed link: itest_remediate"},
    {"post", "/v1/approvals/{id}/{decision}", 410, "an expired signed link: itest_remediate"},
};

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

static const char *token(char who)
{
	static const char roles[] = "voatbx";
	const char *p = strchr(roles, who);

	return who == '-' || p == NULL ? NULL : E.tok[p - roles];
}

static int setup(void **state)
{
	const char *p[3];
	char env_port[64], ready[160];
	const char *env[] = {env_port, "ALEXUS_MAX_BODY=65536", NULL};
	char act[AX_UUID_LEN];

	(void)state;
	ax_hash_init();
	{
		char *text = h_read_file("proto/openapi.json", NULL);

		E.doc = cJSON_Parse(text);
		free(text);
	}
	if (E.doc == NULL)
		fail_msg("proto/openapi.json is not JSON");
	E.app = h_pg_app();
	h_tenant_new("oapi", NULL, E.tenant);
	h_tenant_new("oapi-b", NULL, E.other);
	ax_uuid7(E.inc);
	ax_uuid7(E.inc2);
	ax_uuid7(act);
	ax_uuid7(E.appr);
	p[0] = E.inc;
	p[1] = E.inc2;
	PQclear(
	    h_pg_q(E.app, E.tenant,
	           "INSERT INTO incidents (tenant_id, id, title, status, severity, stage, "
	           "group_key) VALUES (app_tenant(), $1, 't1', 'open', 'high', 'classify', 'g1'), "
	           "(app_tenant(), $2, 't2', 'open', 'info', 'classify', 'g2')",
	           2, p));
	p[1] = act;
	p[2] = E.appr;
	PQclear(
	    h_pg_q(E.app, E.tenant,
	           "WITH a AS (INSERT INTO actions (tenant_id, id, incident_id, type, status, "
	           "payload) VALUES (app_tenant(), $2, $1, 'remediate', 'pending', '{}') "
	           "RETURNING id) INSERT INTO approvals (tenant_id, id, action_id, requested_by, "
	           "expires_at) SELECT app_tenant(), $3, id, 'act', now() + interval '1 hour' "
	           "FROM a",
	           3, p));
	E.tok[0] = mint(E.tenant, "viewer");
	E.tok[1] = mint(E.tenant, "operator");
	E.tok[2] = mint(E.tenant, "admin");
	E.tok[3] = mint(E.tenant, NULL);
	E.tok[4] = mint(E.other, "operator");
	E.tok[5] = strdup("eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnRfaWQiOiJ4In0.forged");
	E.port = h_free_port();
	snprintf(env_port, sizeof(env_port), "ALEXUS_INGEST_PORT=%d", E.port);
	snprintf(E.url, sizeof(E.url), "http://127.0.0.1:%d", E.port);
	h_spawn(&E.ingest, "alexus-ingest", env);
	snprintf(ready, sizeof(ready), "%s/readyz", E.url);
	if (!h_wait_http_200(ready, WAIT_MS)) {
		h_dump_log(&E.ingest);
		return 1;
	}
	return 0;
}

static int teardown(void **state)
{
	int bad, i;

	(void)state;
	h_stop(&E.ingest, SIGTERM, 10000);
	bad = h_log_has_sanitizer_report(&E.ingest);
	if (bad)
		h_dump_log(&E.ingest);
	for (i = 0; i < 6; i++)
		free(E.tok[i]);
	cJSON_Delete(E.doc);
	PQfinish(E.app);
	return bad;
}

/* ------------------------------------------------------ schema subset */

static const cJSON *resolve(const cJSON *schema)
{
	const cJSON *r = cJSON_GetObjectItem(schema, "$ref");
	const char *pfx = "#/components/schemas/";

	if (!cJSON_IsString(r))
		return schema;
	if (strncmp(r->valuestring, pfx, strlen(pfx)) != 0)
		fail_msg("unsupported $ref %s", r->valuestring);
	schema = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(E.doc, "components"), "schemas"),
	    r->valuestring + strlen(pfx));
	if (schema == NULL)
		fail_msg("dangling $ref %s", r->valuestring);
	return schema;
}

static int type_ok(const char *t, const cJSON *v)
{
	if (strcmp(t, "string") == 0)
		return cJSON_IsString(v);
	if (strcmp(t, "number") == 0)
		return cJSON_IsNumber(v);
	if (strcmp(t, "integer") == 0)
		return cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble;
	if (strcmp(t, "boolean") == 0)
		return cJSON_IsBool(v);
	if (strcmp(t, "object") == 0)
		return cJSON_IsObject(v);
	if (strcmp(t, "array") == 0)
		return cJSON_IsArray(v);
	if (strcmp(t, "null") == 0)
		return cJSON_IsNull(v);
	return 1;
}

static int types_ok(const cJSON *type, const cJSON *v)
{
	const cJSON *t;

	if (cJSON_IsString(type))
		return type_ok(type->valuestring, v);
	if (!cJSON_IsArray(type))
		return 1;
	cJSON_ArrayForEach(t, type) if (cJSON_IsString(t) && type_ok(t->valuestring, v)) return 1;
	return 0;
}

static void check_schema(const cJSON *schema, const cJSON *v, const char *where, int depth)
{
	const cJSON *req, *props, *k, *ps;

	schema = resolve(schema);
	if (!types_ok(cJSON_GetObjectItem(schema, "type"), v))
		fail_msg("%s: wrong JSON type", where);
	req = cJSON_GetObjectItem(schema, "required");
	cJSON_ArrayForEach(k, req) if (cJSON_GetObjectItem(v, k->valuestring) == NULL)
	    fail_msg("%s: required property \"%s\" missing", where, k->valuestring);
	props = cJSON_GetObjectItem(schema, "properties");
	cJSON_ArrayForEach(ps, props)
	{
		const cJSON *pv = cJSON_GetObjectItem(v, ps->string);
		const cJSON *items;

		if (pv == NULL)
			continue;
		if (!types_ok(cJSON_GetObjectItem(resolve(ps), "type"), pv))
			fail_msg("%s: property \"%s\" has the wrong JSON type", where, ps->string);
		items = cJSON_GetObjectItem(ps, "items");
		if (depth == 0 && cJSON_IsArray(pv) && cJSON_GetArraySize(pv) > 0 &&
		    cJSON_GetObjectItem(items, "$ref") != NULL)
			check_schema(items, cJSON_GetArrayItem(pv, 0), ps->string, 1);
		else if (depth == 0 && cJSON_GetObjectItem(ps, "$ref") != NULL &&
		         cJSON_IsObject(pv))
			check_schema(ps, pv, ps->string, 1);
	}
}

/* --------------------------------------------------------------- walk */

static void subst(const char *in, char *out, size_t len)
{
	static const char rnd[] = "00000000-0000-7000-8000-00000000abcd";
	size_t o = 0;

	while (*in != '\0' && o + 1 < len) {
		const char *v = NULL;
		size_t skip = 0;

		if (strncmp(in, "{inc2}", 6) == 0)
			v = E.inc2, skip = 6;
		else if (strncmp(in, "{inc}", 5) == 0)
			v = E.inc, skip = 5;
		else if (strncmp(in, "{appr}", 6) == 0)
			v = E.appr, skip = 6;
		else if (strncmp(in, "{chan}", 6) == 0)
			v = E.chan, skip = 6;
		else if (strncmp(in, "{rnd}", 5) == 0)
			v = rnd, skip = 5;
		if (v != NULL) {
			o += (size_t)snprintf(out + o, len - o, "%s", v);
			in += skip;
		} else {
			out[o++] = *in++;
		}
	}
	out[o < len ? o : len - 1] = '\0';
}

/* The status line and Content-Type of a stream, then hang up. */
static long stream_status(const char *path, const char *tok, char *ctype, size_t clen)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)E.port)};
	char req[2048], buf[4096];
	size_t got = 0;
	long st = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	const char *ct;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
	         path, tok);
	assert_true(write(fd, req, strlen(req)) > 0);
	while (got < sizeof(buf) - 1 && strstr(buf, "\r\n\r\n") == NULL) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
	}
	close(fd);
	sscanf(buf, "HTTP/1.1 %ld", &st);
	ct = strcasestr(buf, "Content-Type: ");
	snprintf(ctype, clen, "%.*s", ct != NULL ? (int)strcspn(ct + 14, "\r;") : 0,
	         ct != NULL ? ct + 14 : "");
	return st;
}

static const cJSON *operation(const char *tmpl, const char *op)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(E.doc, "paths"), tmpl),
	                           op);
}

static void run(const struct recipe *r)
{
	const cJSON *o = operation(r->tmpl, r->op), *resp, *content, *json;
	char path[1024], url[1200], auth[1200], ct[128], code[8];
	const char *h[3] = {NULL, NULL, NULL};
	char *body = NULL, *big = NULL, *answer = NULL;
	size_t len = 0;
	long st;
	int nh = 0;

	if (o == NULL)
		fail_msg("%s %s is not in the document", r->op, r->tmpl);
	snprintf(code, sizeof(code), "%d", r->status);
	resp = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "responses"), code);
	if (resp == NULL)
		fail_msg("%s %s does not document %d", r->op, r->tmpl, r->status);
	subst(r->path, path, sizeof(path));
	if (r->stream) {
		st = stream_status(path, token(r->who), ct, sizeof(ct));
		if (st != r->status)
			fail_msg("%s %s: %ld, wanted %d", r->method, path, st, r->status);
		content = cJSON_GetObjectItem(resp, "content");
		if (cJSON_GetObjectItem(content, ct) == NULL)
			fail_msg("%s %s: Content-Type %s is not documented", r->method, path, ct);
		return;
	}
	if (r->file != NULL) {
		body = h_read_file(r->file, &len);
	} else if (r->body != NULL && strcmp(r->body, "BIG") == 0) {
		len = MAX_BODY + 1;
		big = malloc(len);
		memset(big, ' ', len);
		big[0] = '{';
		big[len - 1] = '}';
	} else if (r->body != NULL) {
		len = strlen(r->body);
	}
	if (r->ctype != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", r->ctype);
		h[nh++] = ct;
	}
	if (token(r->who) != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token(r->who));
		h[nh++] = auth;
	}
	snprintf(url, sizeof(url), "%s%s", E.url, path);
	st = h_http(r->method, url, h,
	            body != NULL  ? body
	            : big != NULL ? big
	                          : r->body,
	            len, &answer);
	free(body);
	free(big);
	if (st != r->status)
		fail_msg("%s %s: %ld, wanted %d: %s", r->method, path, st, r->status,
		         answer ? answer : "");
	content = cJSON_GetObjectItem(resp, "content");
	json = cJSON_GetObjectItem(cJSON_GetObjectItem(content, "application/json"), "schema");
	if (json != NULL) {
		cJSON *v = cJSON_Parse(answer);

		if (v == NULL)
			fail_msg("%s %s: %d answer is not JSON: %s", r->method, path, r->status,
			         answer ? answer : "");
		snprintf(url, sizeof(url), "%s %s %d", r->method, path, r->status);
		check_schema(json, v, url, 0);
		/* The channel made here is the one the DELETE recipes use. */
		if (r->status == 201 && strcmp(r->tmpl, "/v1/channels") == 0)
			snprintf(E.chan, sizeof(E.chan), "%s",
			         cJSON_GetObjectItem(v, "id")->valuestring);
		cJSON_Delete(v);
	}
	free(answer);
}

static int skipped(const char *op, const char *tmpl, int status)
{
	size_t i;

	for (i = 0; i < sizeof(SKIP) / sizeof(SKIP[0]); i++)
		if ((strcmp(SKIP[i].op, "*") == 0 ||
		     (strcmp(SKIP[i].op, op) == 0 && strcmp(SKIP[i].tmpl, tmpl) == 0)) &&
		    SKIP[i].status == status)
			return 1;
	return 0;
}

static void test_walk(void **state)
{
	const cJSON *path, *op, *code;
	size_t i, ops = 0, codes = 0, proved = 0;

	(void)state;
	assert_string_equal(cJSON_GetObjectItem(E.doc, "openapi")->valuestring, "3.1.0");
	for (i = 0; i < NR; i++)
		run(&R[i]);
	/* Every documented (operation, code) was proved, or is skipped with a
	 * reason; every operation documents its error bodies as Error. */
	cJSON_ArrayForEach(path, cJSON_GetObjectItem(E.doc, "paths"))
	{
		cJSON_ArrayForEach(op, path)
		{
			ops++;
			assert_true(cJSON_IsString(cJSON_GetObjectItem(op, "operationId")));
			cJSON_ArrayForEach(code, cJSON_GetObjectItem(op, "responses"))
			{
				int st = atoi(code->string), found = 0;

				codes++;
				for (i = 0; i < NR && !found; i++)
					found = strcmp(R[i].tmpl, path->string) == 0 &&
					        strcmp(R[i].op, op->string) == 0 &&
					        R[i].status == st;
				if (!found && !skipped(op->string, path->string, st))
					fail_msg("%s %s documents %d but nothing here provokes it",
					         op->string, path->string, st);
				proved += found;
			}
		}
	}
	printf("openapi: %zu operations, %zu documented codes, %zu proved against ingest, "
	       "%zu requests\n",
	       ops, codes, proved, NR);
	assert_true(ops >= 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_walk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
