/* test_servicenow.c - the ServiceNow Table API client of the ticket sync
 * (act/tickets/servicenow.c, over act/tickets/rest.c).
 *
 * As test_jira.c: the in-process receiver answers with ServiceNow's
 * documented answers from tests/fixtures/tickets/, and every request is
 * checked as the instance would see it -- method, path with its encoded
 * sysparm_query, headers (Basic auth of user:password, or an OAuth
 * Bearer token), and the record fields (urgency and impact from the
 * severity, correlation_id / correlation_display, the resolve's state,
 * close_code and close_notes).  Expected numbers, sys_ids, states and
 * error messages come from the fixtures.  The error document
 * {"error": {"message", "detail"}, "status": "failure"} becomes the
 * outcome's message; 429 and 5xx are retryable. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../act/tickets/servicenow.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "receiver.h"

#define FIX "tests/fixtures/tickets/"
#define INCIDENT "0190a0c0-0000-7000-8000-0000000000aa"
#define CRED "alexus.integration:s3cr3t!"
/* CRED in base64, worked out independently */
#define BASIC "Basic YWxleHVzLmludGVncmF0aW9uOnMzY3IzdCE="
#define LINK "https://alexus.example/incidents/" INCIDENT
#define TEXT "Incident opened in Alexus: checkout-api 5xx ratio above 5%\nSeverity: critical"

static char *slurp(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), FIX "%s", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("missing fixture %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static cJSON *fixture(const char *name)
{
	char *s = slurp(name, NULL);
	cJSON *j = cJSON_Parse(s);

	free(s);
	assert_non_null(j);
	return j;
}

static void script(struct receiver *r, int status, const char *name, const char *headers)
{
	struct rcv_reply rp = { status, NULL, 0, headers, 0 };
	char *body = name != NULL ? slurp(name, &rp.body_len) : NULL;

	rp.body = body;
	rcv_script_reply(r, &rp);
	free(body);
}

struct ctx {
	struct receiver *r;
	char base[64];
	char *auth;
	struct act_snow s;
};

static void ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->r = rcv_start(500);
	snprintf(c->base, sizeof(c->base), "http://127.0.0.1:%d", rcv_port(c->r));
	c->auth = act_rest_auth_line("basic", CRED, strlen(CRED));
	c->s.rest.base_url = c->base;
	c->s.rest.auth = c->auth;
	c->s.rest.timeout_ms = 3000;
	c->s.table = "incident";
	c->s.close_code = "Solved (Permanently)";
}

static void ctx_release(struct ctx *c)
{
	rcv_stop(c->r);
	free(c->auth);
}

static const struct rcv_request *req(struct ctx *c, int i)
{
	const struct rcv_request *q;

	assert_true(rcv_wait(c->r, i + 1, 3000) >= i + 1);
	q = rcv_get(c->r, i);
	assert_non_null(q);
	return q;
}

static void check_headers(const struct rcv_request *q, int json, const char *auth)
{
	char buf[256];

	assert_non_null(rcv_header(q, "authorization", buf, sizeof(buf)));
	assert_string_equal(buf, auth);
	assert_non_null(rcv_header(q, "accept", buf, sizeof(buf)));
	assert_string_equal(buf, "application/json");
	if (json) {
		assert_non_null(rcv_header(q, "content-type", buf, sizeof(buf)));
		assert_string_equal(buf, "application/json");
	} else {
		assert_null(rcv_header(q, "content-type", buf, sizeof(buf)));
	}
}

static cJSON *body_of(const struct rcv_request *q)
{
	cJSON *b = cJSON_Parse(q->body);

	assert_non_null(b);
	return b;
}

static const struct act_ticket_doc DOC = {
	INCIDENT, "critical", "[critical] checkout-api 5xx ratio above 5%", TEXT, LINK,
};

/* ---------------------------------------------------------------- pure */

static void test_urgency_impact(void **state)
{
	static const char *const want[][3] = {
		{ "critical", "1", "1" }, { "high", "2", "1" }, { "warning", "2", "2" },
		{ "info", "3", "3" }, { "bogus", "2", "2" },
	};
	const char *u, *i;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		act_snow_urgency_impact(want[k][0], &u, &i);
		assert_string_equal(u, want[k][1]);
		assert_string_equal(i, want[k][2]);
	}
}

static void test_final_states(void **state)
{
	struct act_snow s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.table = "incident";
	assert_true(act_snow_final(&s, "6"));
	assert_true(act_snow_final(&s, "7"));
	assert_true(act_snow_final(&s, "8"));
	assert_false(act_snow_final(&s, "2"));
	assert_false(act_snow_final(&s, ""));
	assert_false(act_snow_final(&s, NULL));
	/* Another table: only its configured resolve state. */
	s.table = "sn_si_incident";
	s.resolve_state = "3";
	assert_true(act_snow_final(&s, "3"));
	assert_false(act_snow_final(&s, "6"));
}

static void test_error_document(void **state)
{
	cJSON *e = fixture("servicenow-error-401.json");
	const cJSON *err = cJSON_GetObjectItem(e, "error");
	char buf[256], want[256];

	(void)state;
	act_snow_error(e, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%s: %s", ax_json_str(err, "message"),
		 ax_json_str(err, "detail"));
	assert_string_equal(buf, want);
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(e, "error"), "detail");
	act_snow_error(e, buf, sizeof(buf));
	assert_string_equal(buf, ax_json_str(err, "message"));
	cJSON_Delete(e);
}

/* ---------------------------------------------------------------- find */

static void test_find(void **state)
{
	cJSON *fx = fixture("servicenow-find.json");
	const cJSON *rec = cJSON_GetArrayItem(cJSON_GetObjectItem(fx, "result"), 0);
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	script(c.r, 200, "servicenow-find.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_snow_find(&c.s, INCIDENT, &ref, &out), 1);
	assert_true(out.ok);
	assert_string_equal(out.host, "127.0.0.1");
	assert_string_equal(ref.key, ax_json_str(rec, "number"));
	assert_string_equal(ref.id, ax_json_str(rec, "sys_id"));
	assert_string_equal(ref.status, ax_json_str(rec, "state"));
	assert_int_equal(ref.resolved, 0);
	assert_string_equal(req(&c, 0)->method, "GET");
	/* correlation_id=<id>^ORDERBYsys_created_on, encoded */
	assert_string_equal(req(&c, 0)->path,
			    "/api/now/table/incident?sysparm_query=correlation_id%3D" INCIDENT
			    "%5EORDERBYsys_created_on&sysparm_fields=sys_id%2Cnumber%2Cstate"
			    "&sysparm_limit=1");
	check_headers(req(&c, 0), 0, BASIC);
	assert_int_equal(req(&c, 0)->body_len, 0);

	script(c.r, 200, "servicenow-find-empty.json", NULL);
	assert_int_equal(act_snow_find(&c.s, INCIDENT, &ref, &out), 0);
	assert_true(out.ok);
	cJSON_Delete(fx);
	ctx_release(&c);
}

/* ---------------------------------------------------------------- create */

static void test_create(void **state)
{
	cJSON *fx = fixture("servicenow-create.json"), *b;
	const cJSON *res = cJSON_GetObjectItem(fx, "result");
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	c.s.assignment_group = "8a4dde73c6112278017a6a4baf547aa7";
	script(c.r, 201, "servicenow-create.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_snow_create(&c.s, &DOC, &ref, &out), 1);
	assert_int_equal(out.http_status, 201);
	assert_string_equal(ref.key, ax_json_str(res, "number"));
	assert_string_equal(ref.id, ax_json_str(res, "sys_id"));
	assert_string_equal(ref.status, ax_json_str(res, "state"));
	assert_int_equal(ref.resolved, 0);

	assert_string_equal(req(&c, 0)->method, "POST");
	assert_string_equal(req(&c, 0)->path, "/api/now/table/incident");
	check_headers(req(&c, 0), 1, BASIC);
	b = body_of(req(&c, 0));
	assert_string_equal(ax_json_str(b, "short_description"), DOC.summary);
	assert_string_equal(ax_json_str(b, "description"), TEXT "\n" LINK);
	assert_string_equal(ax_json_str(b, "urgency"), "1");
	assert_string_equal(ax_json_str(b, "impact"), "1");
	assert_string_equal(ax_json_str(b, "correlation_id"), INCIDENT);
	assert_string_equal(ax_json_str(b, "correlation_display"), "Alexus");
	assert_string_equal(ax_json_str(b, "assignment_group"), c.s.assignment_group);
	assert_int_equal(cJSON_GetArraySize(b), 7);
	cJSON_Delete(b);
	cJSON_Delete(fx);
	ctx_release(&c);
}

static void test_create_bearer_and_table(void **state)
{
	struct act_ticket_doc d = DOC;
	struct act_ticket_ref ref;
	struct act_outcome out;
	char longer[300];
	struct ctx c;
	cJSON *b;

	(void)state;
	memset(longer, 'y', 200);
	longer[200] = '\0';
	d.summary = longer;
	d.severity = "info";
	d.link = NULL;
	ctx_init(&c);
	free(c.auth);
	c.auth = act_rest_auth_line("bearer", "oauth-access-token", 18);
	c.s.rest.auth = c.auth;
	c.s.table = "sn_si_incident";
	script(c.r, 201, "servicenow-create.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_snow_create(&c.s, &d, &ref, &out), 1);
	assert_string_equal(req(&c, 0)->path, "/api/now/table/sn_si_incident");
	check_headers(req(&c, 0), 1, "Bearer oauth-access-token");
	b = body_of(req(&c, 0));
	assert_int_equal(strlen(ax_json_str(b, "short_description")), ACT_SNOW_SUMMARY_MAX);
	assert_string_equal(ax_json_str(b, "description"), TEXT);
	assert_string_equal(ax_json_str(b, "urgency"), "3");
	assert_string_equal(ax_json_str(b, "impact"), "3");
	assert_null(cJSON_GetObjectItem(b, "assignment_group"));
	cJSON_Delete(b);
	ctx_release(&c);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void **state)
{
	static const struct {
		int status;
		const char *fixture;
		int retryable;
	} cases[] = {
		{ 401, "servicenow-error-401.json", 0 },
		{ 403, "servicenow-error-403.json", 0 },
		{ 400, "servicenow-error-403.json", 0 },
		{ 500, "servicenow-error-403.json", 1 },
		{ 502, NULL, 1 },
	};
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;
	size_t i;

	(void)state;
	ctx_init(&c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[256];

		script(c.r, cases[i].status, cases[i].fixture, NULL);
		memset(&out, 0, sizeof(out));
		assert_int_equal(act_snow_create(&c.s, &DOC, &ref, &out), 0);
		assert_false(out.ok);
		assert_int_equal(out.retryable, cases[i].retryable);
		assert_int_equal(out.http_status, cases[i].status);
		if (cases[i].fixture != NULL) {
			cJSON *e = fixture(cases[i].fixture);
			const cJSON *err = cJSON_GetObjectItem(e, "error");

			snprintf(want, sizeof(want), "create record: HTTP %d: %s: %s",
				 cases[i].status, ax_json_str(err, "message"),
				 ax_json_str(err, "detail"));
			cJSON_Delete(e);
		} else {
			snprintf(want, sizeof(want), "create record: HTTP %d", cases[i].status);
		}
		assert_string_equal(out.error, want);
		assert_null(strstr(out.error, "YWxl"));
	}
	script(c.r, 429, NULL, "Retry-After: 30");
	assert_int_equal(act_snow_comment(&c.s, "9d385017c611228701d22104cc95c371", &DOC, &out), 0);
	assert_true(out.retryable);
	assert_int_equal(out.retry_after_s, 30);
	ctx_release(&c);
}

/* ---------------------------------------------------------------- updates */

static void test_work_note(void **state)
{
	cJSON *fx = fixture("servicenow-get-in-progress.json"), *b;
	const char *sys_id = ax_json_str(cJSON_GetObjectItem(fx, "result"), "sys_id");
	struct act_outcome out;
	char path[128];
	struct ctx c;

	(void)state;
	ctx_init(&c);
	script(c.r, 200, "servicenow-get-in-progress.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_snow_comment(&c.s, sys_id, &DOC, &out), 1);
	assert_string_equal(req(&c, 0)->method, "PATCH");
	snprintf(path, sizeof(path), "/api/now/table/incident/%s", sys_id);
	assert_string_equal(req(&c, 0)->path, path);
	check_headers(req(&c, 0), 1, BASIC);
	b = body_of(req(&c, 0));
	assert_string_equal(ax_json_str(b, "work_notes"), TEXT "\n" LINK);
	assert_int_equal(cJSON_GetArraySize(b), 1);
	cJSON_Delete(b);
	cJSON_Delete(fx);
	ctx_release(&c);
}

static void test_resolve(void **state)
{
	cJSON *fx = fixture("servicenow-get-in-progress.json"), *b;
	const char *sys_id = ax_json_str(cJSON_GetObjectItem(fx, "result"), "sys_id");
	struct act_ticket_ref ref;
	struct act_outcome out;
	char path[160];
	struct ctx c;

	(void)state;
	ctx_init(&c);
	script(c.r, 200, "servicenow-get-in-progress.json", NULL);
	script(c.r, 200, "servicenow-get-resolved.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_snow_transition(&c.s, sys_id, 1, &DOC, &ref, &out), 1);
	assert_true(out.ok);
	assert_int_equal(ref.resolved, 1);
	assert_string_equal(ref.status, "6");
	assert_string_equal(ref.key, ax_json_str(cJSON_GetObjectItem(fx, "result"), "number"));
	assert_string_equal(req(&c, 0)->method, "GET");
	snprintf(path, sizeof(path), "/api/now/table/incident/%s?sysparm_fields=sys_id%%2Cnumber"
		 "%%2Cstate", sys_id);
	assert_string_equal(req(&c, 0)->path, path);
	check_headers(req(&c, 0), 0, BASIC);
	assert_string_equal(req(&c, 1)->method, "PATCH");
	snprintf(path, sizeof(path), "/api/now/table/incident/%s", sys_id);
	assert_string_equal(req(&c, 1)->path, path);
	check_headers(req(&c, 1), 1, BASIC);
	b = body_of(req(&c, 1));
	assert_string_equal(ax_json_str(b, "state"), "6");
	assert_string_equal(ax_json_str(b, "close_code"), "Solved (Permanently)");
	assert_string_equal(ax_json_str(b, "close_notes"), TEXT "\n" LINK);
	assert_int_equal(cJSON_GetArraySize(b), 3);
	cJSON_Delete(b);
	assert_int_equal(rcv_count(c.r), 2);

	/* Already resolved by a human: only the read. */
	script(c.r, 200, "servicenow-get-resolved.json", NULL);
	assert_int_equal(act_snow_transition(&c.s, sys_id, 1, &DOC, &ref, &out), 0);
	assert_true(out.ok);
	assert_int_equal(ref.resolved, 1);
	assert_int_equal(rcv_count(c.r), 3);

	/* Reopen: state 2, nothing else. */
	script(c.r, 200, "servicenow-get-resolved.json", NULL);
	script(c.r, 200, "servicenow-get-in-progress.json", NULL);
	assert_int_equal(act_snow_transition(&c.s, sys_id, 0, &DOC, &ref, &out), 1);
	b = body_of(req(&c, 4));
	assert_string_equal(req(&c, 4)->method, "PATCH");
	assert_string_equal(ax_json_str(b, "state"), "2");
	assert_int_equal(cJSON_GetArraySize(b), 1);
	cJSON_Delete(b);

	/* A closed record refuses the change (ACL): permanent. */
	script(c.r, 200, "servicenow-get-in-progress.json", NULL);
	script(c.r, 403, "servicenow-error-403.json", NULL);
	assert_int_equal(act_snow_transition(&c.s, sys_id, 1, &DOC, &ref, &out), -1);
	assert_false(out.retryable);
	assert_int_equal(out.http_status, 403);
	assert_true(strncmp(out.error, "resolve record: HTTP 403: ", 26) == 0);
	cJSON_Delete(fx);
	ctx_release(&c);
}

static void test_configured_states(void **state)
{
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;
	cJSON *b;

	(void)state;
	ctx_init(&c);
	c.s.resolve_state = "7";
	c.s.close_code = "Closed/Resolved by Caller";
	script(c.r, 200, "servicenow-get-in-progress.json", NULL);
	script(c.r, 200, NULL, NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_snow_transition(&c.s, "9d385017c611228701d22104cc95c371", 1, &DOC,
					     &ref, &out), 1);
	b = body_of(req(&c, 1));
	assert_string_equal(ax_json_str(b, "state"), "7");
	assert_string_equal(ax_json_str(b, "close_code"), "Closed/Resolved by Caller");
	cJSON_Delete(b);
	ctx_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urgency_impact),
		cmocka_unit_test(test_final_states),
		cmocka_unit_test(test_error_document),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_create_bearer_and_table),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_work_note),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_configured_states),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
