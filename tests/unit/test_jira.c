/* test_jira.c - the Jira Cloud REST v3 client of the ticket sync
 * (act/tickets/jira.c, over act/tickets/rest.c).
 *
 * Every request goes to the in-process receiver (tests/lib/receiver),
 * scripted with Jira's answers from tests/fixtures/tickets/, and is checked
 * as Jira would see it: method, path, Accept / Content-Type /
 * Authorization headers, and the JSON body field by field (the Atlassian
 * Document Format shape of description and comment bodies, the labels
 * that make a create idempotent, the priority mapping, the JQL of the
 * search, the transition picked).  Expected values (keys, ids, statuses,
 * error messages, transition ids) are read from the fixtures.  Jira's
 * documented errors map to the outcome: 400/401/403/404 permanent with
 * Jira's message, 429 retryable with Retry-After, 5xx and no answer
 * retryable. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../act/tickets/jira.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "receiver.h"

#define FIX "tests/fixtures/tickets/"
#define INCIDENT "0190a0c0-0000-7000-8000-0000000000aa"
/* "ops@example.com:atl-token-123" in base64, worked out independently */
#define BASIC "Basic b3BzQGV4YW1wbGUuY29tOmF0bC10b2tlbi0xMjM="
#define CRED "ops@example.com:atl-token-123"

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

/* Queue a reply with the fixture's body (NULL: the receiver's default). */
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
	struct act_jira j;
};

static void ctx_init(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->r = rcv_start(500);
	snprintf(c->base, sizeof(c->base), "http://127.0.0.1:%d/", rcv_port(c->r));
	c->auth = act_rest_auth_line("basic", CRED, strlen(CRED));
	c->j.rest.base_url = c->base;
	c->j.rest.auth = c->auth;
	c->j.rest.timeout_ms = 3000;
	c->j.project = "OPS";
	c->j.issue_type = "Incident";
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

/* The headers every request carries; json: a body was sent. */
static void check_headers(const struct rcv_request *q, int json)
{
	char buf[256];

	assert_non_null(rcv_header(q, "authorization", buf, sizeof(buf)));
	assert_string_equal(buf, BASIC);
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

/* The ADF document doc has these paragraphs of text, the last one linking
 * to link when link is not NULL. */
static void check_adf(const cJSON *doc, const char *const *paras, int n, const char *link)
{
	const cJSON *content = cJSON_GetObjectItem(doc, "content");
	int i;

	assert_string_equal(ax_json_str(doc, "type"), "doc");
	assert_int_equal(cJSON_GetObjectItem(doc, "version")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(content), n + (link != NULL));
	for (i = 0; i < n + (link != NULL); i++) {
		const cJSON *p = cJSON_GetArrayItem(content, i);
		const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "content"), 0);

		assert_string_equal(ax_json_str(p, "type"), "paragraph");
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "content")), 1);
		assert_string_equal(ax_json_str(t, "type"), "text");
		if (i < n) {
			assert_string_equal(ax_json_str(t, "text"), paras[i]);
			assert_null(cJSON_GetObjectItem(t, "marks"));
		} else {
			const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "marks"), 0);

			assert_string_equal(ax_json_str(m, "type"), "link");
			assert_string_equal(ax_json_str(ax_json_ptr(m, "/attrs"), "href"), link);
			assert_true(strlen(ax_json_str(t, "text")) > 0);
		}
	}
}

/* ---------------------------------------------------------------- pure */

static void test_adf(void **state)
{
	static const char *const paras[] = { "Incident opened in Alexus: disk full",
					     "Severity: critical" };
	cJSON *d;

	(void)state;
	/* Blank lines are dropped: ADF text nodes may not be empty. */
	d = act_jira_adf("Incident opened in Alexus: disk full\n\nSeverity: critical\n",
			 "https://alexus.example/incidents/" INCIDENT);
	check_adf(d, paras, 2, "https://alexus.example/incidents/" INCIDENT);
	cJSON_Delete(d);
	d = act_jira_adf(paras[0], NULL);
	check_adf(d, paras, 1, NULL);
	cJSON_Delete(d);
	d = act_jira_adf("", NULL);
	check_adf(d, paras, 0, NULL);
	cJSON_Delete(d);
}

static void test_priority(void **state)
{
	struct act_jira j;
	cJSON *map = cJSON_Parse("{\"critical\": \"P1\", \"warning\": \"P3\"}");

	(void)state;
	memset(&j, 0, sizeof(j));
	assert_string_equal(act_jira_priority(&j, "critical"), "Highest");
	assert_string_equal(act_jira_priority(&j, "high"), "High");
	assert_string_equal(act_jira_priority(&j, "warning"), "Medium");
	assert_string_equal(act_jira_priority(&j, "info"), "Low");
	assert_null(act_jira_priority(&j, "bogus"));
	assert_null(act_jira_priority(&j, NULL));
	j.priorities = map;
	assert_string_equal(act_jira_priority(&j, "critical"), "P1");
	assert_string_equal(act_jira_priority(&j, "warning"), "P3");
	assert_null(act_jira_priority(&j, "high"));     /* not in the map: send none */
	cJSON_Delete(map);
}

static void test_error_document(void **state)
{
	cJSON *e400 = fixture("jira-error-400.json"), *e404 = fixture("jira-error-404.json");
	const cJSON *f = cJSON_GetObjectItem(e400, "errors")->child;
	char buf[256], want[256];

	(void)state;
	act_jira_error(e400, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%s: %s", f->string, f->valuestring);
	assert_string_equal(buf, want);
	act_jira_error(e404, buf, sizeof(buf));
	assert_string_equal(buf, cJSON_GetArrayItem(cJSON_GetObjectItem(e404, "errorMessages"),
						    0)->valuestring);
	/* Both parts, joined. */
	cJSON_AddItemToArray(cJSON_GetObjectItem(e400, "errorMessages"),
			     cJSON_CreateString("Something else"));
	act_jira_error(e400, buf, sizeof(buf));
	snprintf(want, sizeof(want), "Something else; %s: %s", f->string, f->valuestring);
	assert_string_equal(buf, want);
	cJSON_Delete(e400);
	cJSON_Delete(e404);
}

static void test_auth_lines(void **state)
{
	char *l;

	(void)state;
	l = act_rest_auth_line("basic", CRED, strlen(CRED));
	assert_string_equal(l, "Authorization: " BASIC);
	free(l);
	/* A personal access token goes as a Bearer token, as it is. */
	l = act_rest_auth_line("bearer", "pat-XYZ", 7);
	assert_string_equal(l, "Authorization: Bearer pat-XYZ");
	free(l);
	/* A stored value cannot split the header block. */
	l = act_rest_auth_line("bearer", "pat\r\nX-Evil: 1", 14);
	assert_string_equal(l, "Authorization: Bearer patX-Evil: 1");
	assert_null(strchr(l, '\n'));
	free(l);
}

/* ---------------------------------------------------------------- search */

static void test_find_found(void **state)
{
	cJSON *fx = fixture("jira-search.json"), *b;
	const cJSON *issue = cJSON_GetArrayItem(cJSON_GetObjectItem(fx, "issues"), 0);
	const cJSON *st = ax_json_ptr(issue, "/fields/status");
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	script(c.r, 200, "jira-search.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_find(&c.j, INCIDENT, &ref, &out), 1);
	assert_true(out.ok);
	assert_string_equal(out.error, "");
	assert_int_equal(out.http_status, 200);
	assert_string_equal(out.host, "127.0.0.1");
	assert_string_equal(ref.key, ax_json_str(issue, "key"));
	assert_string_equal(ref.id, ax_json_str(issue, "id"));
	assert_string_equal(ref.status, ax_json_str(st, "name"));
	assert_int_equal(ref.resolved, 0);

	assert_int_equal(rcv_count(c.r), 1);
	assert_string_equal(req(&c, 0)->method, "POST");
	assert_string_equal(req(&c, 0)->path, "/rest/api/3/search/jql");
	check_headers(req(&c, 0), 1);
	b = body_of(req(&c, 0));
	assert_string_equal(ax_json_str(b, "jql"),
			    "project = \"OPS\" AND labels = \"alexus:" INCIDENT
			    "\" ORDER BY created ASC");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(b, "fields")), 1);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "fields"), 0)->valuestring,
			    "status");
	assert_int_equal(cJSON_GetObjectItem(b, "maxResults")->valueint, 1);
	cJSON_Delete(b);
	cJSON_Delete(fx);
	ctx_release(&c);
}

static void test_find_none_and_quoting(void **state)
{
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;
	cJSON *b;

	(void)state;
	ctx_init(&c);
	c.j.project = "O\"PS";      /* quoted, never spliced into the JQL as is */
	script(c.r, 200, "jira-search-empty.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_find(&c.j, INCIDENT, &ref, &out), 0);
	assert_true(out.ok);
	assert_string_equal(ref.key, "");
	b = body_of(req(&c, 0));
	assert_string_equal(ax_json_str(b, "jql"), "project = \"O\\\"PS\" AND labels = \"alexus:"
						 INCIDENT "\" ORDER BY created ASC");
	cJSON_Delete(b);
	/* A 200 that is not a search answer is a failure, not "none". */
	script(c.r, 200, "jira-create.json", NULL);
	assert_int_equal(act_jira_find(&c.j, INCIDENT, &ref, &out), -1);
	assert_false(out.ok);
	assert_false(out.retryable);
	ctx_release(&c);
}

/* ---------------------------------------------------------------- create */

static const struct act_ticket_doc DOC = {
	INCIDENT, "critical", "[critical] checkout-api 5xx ratio above 5%",
	"Incident opened in Alexus: checkout-api 5xx ratio above 5%\nSeverity: critical\n"
	"Alexus incident " INCIDENT,
	"https://alexus.example/incidents/" INCIDENT,
};

static void test_create(void **state)
{
	static const char *const paras[] = {
		"Incident opened in Alexus: checkout-api 5xx ratio above 5%",
		"Severity: critical", "Alexus incident " INCIDENT,
	};
	cJSON *fx = fixture("jira-create.json"), *b;
	const cJSON *f, *labels;
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	script(c.r, 201, "jira-create.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_create(&c.j, &DOC, &ref, &out), 1);
	assert_true(out.ok);
	assert_int_equal(out.http_status, 201);
	assert_string_equal(ref.key, ax_json_str(fx, "key"));
	assert_string_equal(ref.id, ax_json_str(fx, "id"));
	assert_int_equal(ref.resolved, 0);

	assert_string_equal(req(&c, 0)->method, "POST");
	assert_string_equal(req(&c, 0)->path, "/rest/api/3/issue");
	check_headers(req(&c, 0), 1);
	b = body_of(req(&c, 0));
	f = cJSON_GetObjectItem(b, "fields");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(f, "project"), "key"), "OPS");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(f, "issuetype"), "name"), "Incident");
	assert_string_equal(ax_json_str(f, "summary"), DOC.summary);
	check_adf(cJSON_GetObjectItem(f, "description"), paras, 3, DOC.link);
	labels = cJSON_GetObjectItem(f, "labels");
	assert_int_equal(cJSON_GetArraySize(labels), 2);
	assert_string_equal(cJSON_GetArrayItem(labels, 0)->valuestring, "alexus");
	assert_string_equal(cJSON_GetArrayItem(labels, 1)->valuestring, "alexus:" INCIDENT);
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(f, "priority"), "name"), "Highest");
	assert_int_equal(cJSON_GetArraySize(b), 1);     /* "fields" only */
	cJSON_Delete(b);
	cJSON_Delete(fx);
	ctx_release(&c);
}

static void test_create_summary_and_no_priority(void **state)
{
	struct act_ticket_doc d = DOC;
	struct act_ticket_ref ref;
	struct act_outcome out;
	char longer[400];
	const char *s;
	struct ctx c;
	cJSON *b, *map = cJSON_Parse("{}");
	size_t i;

	(void)state;
	/* 254 ASCII bytes, then "é" (2 bytes) straddling the 255 limit. */
	for (i = 0; i < 254; i++)
		longer[i] = 'x';
	snprintf(longer + 254, sizeof(longer) - 254, "\xc3\xa9 and more");
	d.summary = longer;
	ctx_init(&c);
	c.j.priorities = map;
	script(c.r, 201, "jira-create.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_create(&c.j, &d, &ref, &out), 1);
	b = body_of(req(&c, 0));
	s = ax_json_str(cJSON_GetObjectItem(b, "fields"), "summary");
	assert_int_equal(strlen(s), 254);       /* cut before the split character */
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "fields"), "priority"));
	cJSON_Delete(b);
	cJSON_Delete(map);
	ctx_release(&c);
}

/* ---------------------------------------------------------------- errors */

static void test_create_400(void **state)
{
	cJSON *fx = fixture("jira-error-400.json");
	const cJSON *f = cJSON_GetObjectItem(fx, "errors")->child;
	struct act_ticket_ref ref;
	struct act_outcome out;
	char want[256];
	struct ctx c;

	(void)state;
	ctx_init(&c);
	script(c.r, 400, "jira-error-400.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_create(&c.j, &DOC, &ref, &out), 0);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_int_equal(out.http_status, 400);
	snprintf(want, sizeof(want), "create issue: HTTP 400: %s: %s", f->string, f->valuestring);
	assert_string_equal(out.error, want);
	assert_string_equal(out.host, "127.0.0.1");
	cJSON_Delete(fx);
	ctx_release(&c);
}

static void test_permanent_statuses(void **state)
{
	static const int st[] = { 401, 403, 404 };
	cJSON *fx = fixture("jira-error-404.json");
	struct act_outcome out;
	struct ctx c;
	char want[256];
	size_t i;

	(void)state;
	ctx_init(&c);
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		script(c.r, st[i], st[i] == 404 ? "jira-error-404.json" : NULL, NULL);
		memset(&out, 0, sizeof(out));
		assert_int_equal(act_jira_comment(&c.j, "OPS-1502", &DOC, &out), 0);
		assert_false(out.ok);
		assert_false(out.retryable);
		assert_int_equal(out.http_status, st[i]);
		assert_int_equal(out.retry_after_s, 0);
		if (st[i] == 404)
			snprintf(want, sizeof(want), "add comment: HTTP 404: %s",
				 cJSON_GetArrayItem(cJSON_GetObjectItem(fx, "errorMessages"), 0)
					 ->valuestring);
		else
			snprintf(want, sizeof(want), "add comment: HTTP %d", st[i]);
		assert_string_equal(out.error, want);
		/* Never the credential, never the URL. */
		assert_null(strstr(out.error, "b3Bz"));
		assert_null(strstr(out.error, "/rest/"));
	}
	cJSON_Delete(fx);
	ctx_release(&c);
}

static void test_retryable(void **state)
{
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	script(c.r, 429, NULL, "Retry-After: 7");
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_find(&c.j, INCIDENT, &ref, &out), -1);
	assert_true(out.retryable);
	assert_int_equal(out.http_status, 429);
	assert_int_equal(out.retry_after_s, 7);
	assert_string_equal(out.error, "search issues: HTTP 429");
	script(c.r, 503, NULL, NULL);
	assert_int_equal(act_jira_create(&c.j, &DOC, &ref, &out), 0);
	assert_true(out.retryable);
	assert_int_equal(out.http_status, 503);
	ctx_release(&c);

	/* Nobody listening (port 1 of loopback): no answer at all. */
	ctx_init(&c);
	c.j.rest.base_url = "http://127.0.0.1:1";
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_comment(&c.j, "OPS-1", &DOC, &out), 0);
	assert_true(out.retryable);
	assert_int_equal(out.http_status, 0);
	assert_true(strncmp(out.error, "add comment: ", 13) == 0);
	/* A URL httpc refuses (not http/https) will never work. */
	c.j.rest.base_url = "file:///etc";
	assert_int_equal(act_jira_comment(&c.j, "OPS-1", &DOC, &out), 0);
	assert_false(out.retryable);
	ctx_release(&c);
}

/* ---------------------------------------------------------------- comment */

static void test_comment(void **state)
{
	static const char *const paras[] = {
		"Incident opened in Alexus: checkout-api 5xx ratio above 5%",
		"Severity: critical", "Alexus incident " INCIDENT,
	};
	struct act_outcome out;
	struct ctx c;
	cJSON *b;

	(void)state;
	ctx_init(&c);
	script(c.r, 201, NULL, NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_comment(&c.j, "OPS-1502", &DOC, &out), 1);
	assert_string_equal(req(&c, 0)->method, "POST");
	assert_string_equal(req(&c, 0)->path, "/rest/api/3/issue/OPS-1502/comment");
	check_headers(req(&c, 0), 1);
	b = body_of(req(&c, 0));
	assert_int_equal(cJSON_GetArraySize(b), 1);
	check_adf(cJSON_GetObjectItem(b, "body"), paras, 3, DOC.link);
	cJSON_Delete(b);
	ctx_release(&c);
}

/* ---------------------------------------------------------------- transitions */

/* The id of the first transition of the fixture whose target status has
 * category cat, or whose name or target name is name. */
static const char *fixture_transition(const cJSON *fx, const char *cat, const char *name)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, cJSON_GetObjectItem(fx, "transitions")) {
		const char *k = ax_json_str(ax_json_ptr(t, "/to/statusCategory"), "key");
		const char *to = ax_json_str(cJSON_GetObjectItem(t, "to"), "name");

		if (cat != NULL && strcmp(k, cat) == 0)
			return ax_json_str(t, "id");
		if (name != NULL && (strcasecmp(ax_json_str(t, "name"), name) == 0 ||
				     strcasecmp(to, name) == 0))
			return ax_json_str(t, "id");
	}
	fail_msg("fixture has no such transition");
	return NULL;
}

/* Resolve (or reopen) with want configured; the transition sent must be
 * expect_id. */
static void run_transition(int resolve, const char *from, const char *want, const char *expect_id)
{
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;
	cJSON *b;

	ctx_init(&c);
	if (resolve)
		c.j.resolve = want;
	else
		c.j.reopen = want;
	script(c.r, 200, from, NULL);
	script(c.r, 200, "jira-transitions.json", NULL);
	script(c.r, 204, NULL, NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_transition(&c.j, "OPS-1502", resolve, &ref, &out), 1);
	assert_true(out.ok);
	assert_int_equal(out.http_status, 204);
	assert_int_equal(ref.resolved, resolve);
	assert_string_equal(req(&c, 0)->method, "GET");
	assert_string_equal(req(&c, 0)->path, "/rest/api/3/issue/OPS-1502?fields=status");
	check_headers(req(&c, 0), 0);
	assert_string_equal(req(&c, 1)->method, "GET");
	assert_string_equal(req(&c, 1)->path, "/rest/api/3/issue/OPS-1502/transitions");
	assert_string_equal(req(&c, 2)->method, "POST");
	assert_string_equal(req(&c, 2)->path, "/rest/api/3/issue/OPS-1502/transitions");
	check_headers(req(&c, 2), 1);
	b = body_of(req(&c, 2));
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(b, "transition"), "id"), expect_id);
	assert_int_equal(cJSON_GetArraySize(b), 1);
	cJSON_Delete(b);
	assert_int_equal(rcv_count(c.r), 3);
	ctx_release(&c);
}

static void test_transitions(void **state)
{
	cJSON *fx = fixture("jira-transitions.json");

	(void)state;
	/* By category: the first into "done". */
	run_transition(1, "jira-issue-in-progress.json", NULL,
		       fixture_transition(fx, "done", NULL));
	/* Named, by transition name and by target status name. */
	run_transition(1, "jira-issue-in-progress.json", "close",
		       fixture_transition(fx, NULL, "Close"));
	run_transition(1, "jira-issue-in-progress.json", "Closed",
		       fixture_transition(fx, NULL, "Closed"));
	/* Reopen: the first into "new". */
	run_transition(0, "jira-issue-done.json", NULL, fixture_transition(fx, "new", NULL));
	cJSON_Delete(fx);
}

static void test_transition_already_there(void **state)
{
	cJSON *done = fixture("jira-issue-done.json");
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	/* A human closed it: nothing but the status read is sent. */
	script(c.r, 200, "jira-issue-done.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_transition(&c.j, "OPS-1502", 1, &ref, &out), 0);
	assert_true(out.ok);
	assert_int_equal(ref.resolved, 1);
	assert_string_equal(ref.status, ax_json_str(ax_json_ptr(done, "/fields/status"), "name"));
	assert_string_equal(ref.id, ax_json_str(done, "id"));
	/* Reopening an open issue: likewise. */
	script(c.r, 200, "jira-issue-in-progress.json", NULL);
	assert_int_equal(act_jira_transition(&c.j, "OPS-1502", 0, &ref, &out), 0);
	assert_int_equal(ref.resolved, 0);
	assert_int_equal(rcv_count(c.r), 2);
	cJSON_Delete(done);
	ctx_release(&c);
}

static void test_transition_none_fits(void **state)
{
	struct act_ticket_ref ref;
	struct act_outcome out;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	c.j.resolve = "Won't Do";
	script(c.r, 200, "jira-issue-in-progress.json", NULL);
	script(c.r, 200, "jira-transitions.json", NULL);
	memset(&out, 0, sizeof(out));
	assert_int_equal(act_jira_transition(&c.j, "OPS-1502", 1, &ref, &out), -1);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_string_equal(out.error, "resolve issue: no transition \"Won't Do\" from status "
				       "\"In Progress\"");
	assert_int_equal(rcv_count(c.r), 2);    /* nothing posted */
	/* The issue is gone: Jira's 404, permanent. */
	script(c.r, 404, "jira-error-404.json", NULL);
	assert_int_equal(act_jira_transition(&c.j, "OPS-1502", 1, &ref, &out), -1);
	assert_int_equal(out.http_status, 404);
	assert_false(out.retryable);
	ctx_release(&c);
}

static void test_key_escaped(void **state)
{
	struct act_outcome out;
	struct ctx c;

	(void)state;
	ctx_init(&c);
	script(c.r, 201, NULL, NULL);
	memset(&out, 0, sizeof(out));
	/* A key from storage never changes the path it goes to. */
	assert_int_equal(act_jira_comment(&c.j, "OPS-1/../../x?y", &DOC, &out), 1);
	assert_string_equal(req(&c, 0)->path,
			    "/rest/api/3/issue/OPS-1%2F..%2F..%2Fx%3Fy/comment");
	ctx_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adf),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_error_document),
		cmocka_unit_test(test_auth_lines),
		cmocka_unit_test(test_find_found),
		cmocka_unit_test(test_find_none_and_quoting),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_create_summary_and_no_priority),
		cmocka_unit_test(test_create_400),
		cmocka_unit_test(test_permanent_statuses),
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_comment),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_transition_already_there),
		cmocka_unit_test(test_transition_none_fits),
		cmocka_unit_test(test_key_escaped),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
