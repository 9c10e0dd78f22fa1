/* test_notify_pagerduty.c - the PagerDuty channel (act/notify/pagerduty.c)
 * against the local receiver standing in for events.pagerduty.com.
 *
 * The bodies are checked against PagerDuty's own documented examples,
 * copied from the shared sender fixtures (tests/fixtures/webhooks/
 * pagerduty-events-v2*.json, what a monitoring tool POSTs to the Events
 * API v2): a trigger has the example's keys and payload keys, with the
 * incident's values; acknowledge and resolve have exactly the keys of the
 * resolve example.  dedup_key is the incident id on every event, so the
 * resolve finds the trigger's alert.  Answers: 202 {"status":"success"}
 * accepted; 400 invalid event not retried (its message kept); 429 with
 * Retry-After and 5xx retried. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../act/notify/notify.h"
#include "../../act/notify/pagerduty.h"
#include "alexus/hash.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "receiver.h"

#define PUBLIC "https://alexus.example.com"
#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define KEY "R0UT1NGKEY0123456789ABCDEFGHIJKL"

struct fx {
	cJSON *payload;
	struct act_event ev;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = ax_xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static cJSON *load_json(const char *path)
{
	char *text = slurp(path);
	cJSON *j = cJSON_Parse(text);

	free(text);
	assert_non_null(j);
	return j;
}

static void fx_load(struct fx *f, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "tests/fixtures/notify/%s.json", name);
	f->payload = load_json(path);
	assert_int_equal(act_event_init(&f->ev, "acme", ax_json_str(f->payload, "action_id"),
					TRACE, f->payload, PUBLIC),
			 0);
}

static const char *fstr(const struct fx *f, const char *obj, const char *key)
{
	const cJSON *o = obj ? cJSON_GetObjectItemCaseSensitive(f->payload, obj) : f->payload;
	const char *s = ax_json_str(o, key);

	assert_non_null(s);
	return s;
}

/* Every key of want is in got (and, when exact, nothing else). */
static void same_keys(const cJSON *want, const cJSON *got, int exact, const char *where)
{
	const cJSON *k;

	cJSON_ArrayForEach(k, want)
		if (cJSON_GetObjectItemCaseSensitive(got, k->string) == NULL &&
		    strcmp(k->string, "images") != 0)
			fail_msg("%s: key %s of PagerDuty's example is missing", where, k->string);
	if (exact)
		assert_int_equal(cJSON_GetArraySize(got), cJSON_GetArraySize(want));
}

static void test_trigger_body(void **state)
{
	cJSON *doc = load_json("tests/fixtures/webhooks/pagerduty-events-v2.json"), *b;
	const cJSON *p;
	struct fx f;
	char *s, want[512];
	(void)state;

	fx_load(&f, "incident.opened");
	s = act_pagerduty_payload(&f.ev, NULL, KEY);
	b = cJSON_Parse(s);
	assert_non_null(b);
	same_keys(doc, b, 0, "trigger");
	same_keys(cJSON_GetObjectItem(doc, "payload"), cJSON_GetObjectItem(b, "payload"), 0,
		  "trigger payload");
	assert_string_equal(ax_json_str(b, "routing_key"), KEY);
	assert_string_equal(ax_json_str(b, "event_action"), "trigger");
	assert_string_equal(ax_json_str(b, "dedup_key"), fstr(&f, "incident", "id"));
	p = cJSON_GetObjectItem(b, "payload");
	snprintf(want, sizeof(want), "[CRITICAL] Incident opened: %s", fstr(&f, "incident", "title"));
	assert_string_equal(ax_json_str(p, "summary"), want);
	assert_string_equal(ax_json_str(p, "source"), fstr(&f, "incident", "service"));
	assert_string_equal(ax_json_str(p, "severity"), "critical");
	assert_string_equal(ax_json_str(p, "timestamp"), fstr(&f, "incident", "opened_at"));
	assert_string_equal(ax_json_str(p, "component"), fstr(&f, "incident", "service"));
	assert_string_equal(ax_json_str(p, "group"), "acme");
	assert_string_equal(ax_json_str(p, "class"), fstr(&f, "incident", "category"));
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(p, "custom_details"), "incident_id"),
			    fstr(&f, "incident", "id"));
	snprintf(want, sizeof(want), PUBLIC "/v1/incidents/%s", fstr(&f, "incident", "id"));
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "links"), 0),
					"href"), want);
	assert_string_equal(ax_json_str(b, "client"), "Alexus");
	assert_string_equal(ax_json_str(b, "client_url"), PUBLIC);
	cJSON_Delete(b);
	free(s);

	/* a template makes the summary, nothing else */
	{
		cJSON *cfg = cJSON_Parse("{\"template\":\"{{incident.service}} is down "
					 "({{incident.alert_count}} alerts)\"}");

		s = act_pagerduty_payload(&f.ev, cfg, KEY);
		b = cJSON_Parse(s);
		snprintf(want, sizeof(want), "%s is down (1 alerts)", fstr(&f, "incident", "service"));
		assert_string_equal(ax_json_str(cJSON_GetObjectItem(b, "payload"), "summary"), want);
		assert_string_equal(ax_json_str(b, "dedup_key"), fstr(&f, "incident", "id"));
		cJSON_Delete(b);
		free(s);
		cJSON_Delete(cfg);
	}
	cJSON_Delete(doc);
	cJSON_Delete(f.payload);
}

static void test_resolve_and_ack_bodies(void **state)
{
	cJSON *doc = load_json("tests/fixtures/webhooks/pagerduty-events-v2.resolved.json"), *b, *p;
	struct fx f;
	char *s;
	(void)state;

	fx_load(&f, "incident.resolved");
	s = act_pagerduty_payload(&f.ev, NULL, KEY);
	b = cJSON_Parse(s);
	same_keys(doc, b, 1, "resolve");
	assert_string_equal(ax_json_str(b, "event_action"), "resolve");
	/* the same incident as the opened fixture: the same dedup key */
	assert_string_equal(ax_json_str(b, "dedup_key"), fstr(&f, "incident", "id"));
	assert_string_equal(ax_json_str(b, "dedup_key"), "9cfb2eba-5fa6-4495-87aa-7342c77e42ba");
	cJSON_Delete(b);
	free(s);

	p = cJSON_Duplicate(f.payload, 1);
	cJSON_ReplaceItemInObject(p, "event", cJSON_CreateString("incident.acknowledged"));
	assert_int_equal(act_event_init(&f.ev, "acme", "x", TRACE, p, PUBLIC), 0);
	s = act_pagerduty_payload(&f.ev, NULL, KEY);
	b = cJSON_Parse(s);
	same_keys(doc, b, 1, "acknowledge");
	assert_string_equal(ax_json_str(b, "event_action"), "acknowledge");
	cJSON_Delete(b);
	free(s);
	cJSON_ReplaceItemInObject(p, "event", cJSON_CreateString("incident.diagnosed"));
	assert_int_equal(act_event_init(&f.ev, "acme", "x", TRACE, p, PUBLIC), 0);
	assert_null(act_pagerduty_payload(&f.ev, NULL, KEY));
	cJSON_Delete(p);
	cJSON_Delete(doc);
	cJSON_Delete(f.payload);
}

static void test_mappings(void **state)
{
	(void)state;
	assert_string_equal(act_pagerduty_action("incident.opened"), "trigger");
	assert_string_equal(act_pagerduty_action("incident.escalated"), "trigger");
	assert_string_equal(act_pagerduty_action("incident.acknowledged"), "acknowledge");
	assert_string_equal(act_pagerduty_action("incident.resolved"), "resolve");
	assert_null(act_pagerduty_action("incident.clarify"));
	assert_null(act_pagerduty_action("approval.requested"));
	assert_null(act_pagerduty_action(NULL));
	assert_string_equal(act_pagerduty_severity("critical"), "critical");
	assert_string_equal(act_pagerduty_severity("high"), "error");
	assert_string_equal(act_pagerduty_severity("warning"), "warning");
	assert_string_equal(act_pagerduty_severity("info"), "info");
	assert_string_equal(act_pagerduty_severity(NULL), "error");
}

static void test_send(void **state)
{
	static const struct {
		int status;
		const char *body, *headers;
		int ok, retryable;
		long retry_after;
		const char *error;
	} cases[] = {
		{ 202, "{\"status\":\"success\",\"message\":\"Event processed\",\"dedup_key\":"
		       "\"9cfb2eba-5fa6-4495-87aa-7342c77e42ba\"}", NULL, 1, 0, 0, "" },
		{ 400, "{\"status\":\"invalid event\",\"message\":\"Event object is invalid\","
		       "\"errors\":[\"Length of 'routing_key' is incorrect (should be 32 characters)\"]}",
		  NULL, 0, 0, 0,
		  "HTTP 400: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 "
		  "characters)" },
		{ 429, "{\"status\":\"throttle event\",\"message\":\"Requests for this service are "
		       "arriving too quickly.  Please retry later.\"}", "Retry-After: 60", 0, 1, 60,
		  "HTTP 429: Requests for this service are arriving too quickly.  Please retry later." },
		{ 500, "", NULL, 0, 1, 0, "HTTP 500" },
		{ 502, "<html>bad gateway</html>", NULL, 0, 1, 0, "HTTP 502" },
	};
	struct receiver *r = rcv_start(599);
	struct act_outcome out;
	struct act_send s;
	struct fx f;
	const struct rcv_request *q;
	char cfgtext[256], h[128];
	cJSON *cfg, *b;
	size_t i;
	(void)state;

	fx_load(&f, "incident.opened");
	snprintf(cfgtext, sizeof(cfgtext), "{\"api_url\":\"http://127.0.0.1:%d/v2/enqueue\"}",
		 rcv_port(r));
	cfg = cJSON_Parse(cfgtext);
	memset(&s, 0, sizeof(s));
	s.ev = &f.ev;
	s.config = cfg;
	s.credential = KEY;
	s.timeout_ms = 5000;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rcv_reply rep = { cases[i].status, cases[i].body, 0, cases[i].headers, 0 };

		rcv_script_reply(r, &rep);
		act_pagerduty_send(&s, &out);
		assert_int_equal(out.ok, cases[i].ok);
		assert_int_equal(out.retryable, cases[i].retryable);
		assert_int_equal(out.http_status, cases[i].status);
		assert_int_equal(out.retry_after_s, cases[i].retry_after);
		assert_string_equal(out.error, cases[i].error);
		assert_null(strstr(out.error, KEY));
	}
	q = rcv_get(r, 0);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/v2/enqueue");
	assert_non_null(rcv_header(q, "content-type", h, sizeof(h)));
	assert_string_equal(h, "application/json");
	b = cJSON_Parse(q->body);
	assert_string_equal(ax_json_str(b, "routing_key"), KEY);
	assert_string_equal(ax_json_str(b, "event_action"), "trigger");
	cJSON_Delete(b);
	rcv_stop(r);

	/* an event PagerDuty takes nothing for: no request at all */
	cJSON_ReplaceItemInObject(f.payload, "event", cJSON_CreateString("incident.clarify"));
	assert_int_equal(act_event_init(&f.ev, "acme", "x", TRACE, f.payload, PUBLIC), 0);
	act_pagerduty_send(&s, &out);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_string_equal(out.error, "pagerduty takes no incident.clarify event");
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trigger_body),
		cmocka_unit_test(test_resolve_and_ack_bodies),
		cmocka_unit_test(test_mappings),
		cmocka_unit_test(test_send),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
