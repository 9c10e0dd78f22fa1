/* test_notify_teams.c - the Microsoft Teams channel (act/notify/teams.c)
 * against the local receiver standing in for a Teams incoming webhook.
 *
 * The body is the documented incoming-webhook wrapping of an Adaptive
 * Card (type message, one attachment of contentType
 * application/vnd.microsoft.card.adaptive, contentUrl null, content an
 * AdaptiveCard with $schema and version), carrying the fixture's facts and
 * Action.OpenUrl buttons.  Answers: 200 "1" (connector) and 202
 * (Workflows) delivered; a connector's 200 that reports "Microsoft Teams
 * endpoint returned HTTP error 429" (retried) or "... 400" (not); 400,
 * 404, 413 (not retried); 429 with Retry-After and 503 (retried). */
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
#include "../../act/notify/teams.h"
#include "alexus/hash.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "receiver.h"

#define PUBLIC "https://alexus.example.com"
#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"

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

static void fx_load(struct fx *f, const char *name)
{
	char path[256], *text;

	snprintf(path, sizeof(path), "tests/fixtures/notify/%s.json", name);
	text = slurp(path);
	f->payload = cJSON_Parse(text);
	free(text);
	assert_non_null(f->payload);
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

static const cJSON *card_of(const cJSON *msg)
{
	const cJSON *atts = cJSON_GetObjectItem(msg, "attachments"), *att;

	assert_string_equal(ax_json_str(msg, "type"), "message");
	assert_int_equal(cJSON_GetArraySize(atts), 1);
	att = cJSON_GetArrayItem(atts, 0);
	assert_string_equal(ax_json_str(att, "contentType"), "application/vnd.microsoft.card.adaptive");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(att, "contentUrl")));
	return cJSON_GetObjectItem(att, "content");
}

static const char *fact(const cJSON *card, const char *title)
{
	const cJSON *b, *f;

	cJSON_ArrayForEach(b, cJSON_GetObjectItem(card, "body"))
		if (strcmp(ax_json_str(b, "type"), "FactSet") == 0)
			cJSON_ArrayForEach(f, cJSON_GetObjectItem(b, "facts"))
				if (strcmp(ax_json_str(f, "title"), title) == 0)
					return ax_json_str(f, "value");
	return NULL;
}

static const char *action_url(const cJSON *card, const char *title)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, cJSON_GetObjectItem(card, "actions"))
		if (strcmp(ax_json_str(a, "title"), title) == 0) {
			assert_string_equal(ax_json_str(a, "type"), "Action.OpenUrl");
			return ax_json_str(a, "url");
		}
	return NULL;
}

static void test_card(void **state)
{
	struct fx f;
	cJSON *cfg = cJSON_CreateObject(), *m;
	const cJSON *card, *first;
	char *s, want[512];
	(void)state;

	fx_load(&f, "approval.requested");
	s = act_teams_payload(&f.ev, cfg);
	m = cJSON_Parse(s);
	assert_non_null(m);
	card = card_of(m);
	assert_string_equal(ax_json_str(card, "type"), "AdaptiveCard");
	assert_string_equal(ax_json_str(card, "$schema"),
			    "http://adaptivecards.io/schemas/adaptive-card.json");
	assert_string_equal(ax_json_str(card, "version"), "1.4");
	first = cJSON_GetArrayItem(cJSON_GetObjectItem(card, "body"), 0);
	assert_string_equal(ax_json_str(first, "type"), "TextBlock");
	snprintf(want, sizeof(want), "[HIGH] Approval requested: %s - %s",
		 fstr(&f, "approval", "action"), fstr(&f, "incident", "title"));
	assert_string_equal(ax_json_str(first, "text"), want);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(first, "wrap")));
	assert_string_equal(fact(card, "Severity"), fstr(&f, "incident", "severity"));
	assert_string_equal(fact(card, "Service"), fstr(&f, "incident", "service"));
	assert_string_equal(fact(card, "Expires"), fstr(&f, "approval", "expires_at"));
	assert_string_equal(action_url(card, "Approve"), fstr(&f, "approval", "approve_url"));
	assert_string_equal(action_url(card, "Reject"), fstr(&f, "approval", "reject_url"));
	snprintf(want, sizeof(want), PUBLIC "/v1/incidents/%s", fstr(&f, "incident", "id"));
	assert_string_equal(action_url(card, "Open incident"), want);
	cJSON_Delete(m);
	free(s);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);

	/* a template replaces headline, facts and summary with its text */
	fx_load(&f, "action.executed");
	cfg = cJSON_Parse("{\"template\":\"{{result.action}}: {{result.summary}}\"}");
	s = act_teams_payload(&f.ev, cfg);
	m = cJSON_Parse(s);
	card = card_of(m);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(card, "body")), 1);
	snprintf(want, sizeof(want), "%s: %s", fstr(&f, "result", "action"),
		 fstr(&f, "result", "summary"));
	assert_string_equal(ax_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(card, "body"), 0),
					"text"), want);
	assert_null(fact(card, "Service"));
	cJSON_Delete(m);
	free(s);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
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
		{ 200, "1", NULL, 1, 0, 0, "" },
		{ 202, "", NULL, 1, 0, 0, "" },
		{ 200, "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
		       "HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,"
		       "cv=deadbeef.0..", NULL, 0, 1, 0, "HTTP 200: Teams answered HTTP 429" },
		{ 200, "Webhook message delivery failed with error: Microsoft Teams endpoint returned "
		       "HTTP error 400 with ContextId MS-CV=BpnM40HzPUqdFC5CL5d1Gg.0..", NULL, 0, 0, 0,
		  "HTTP 200: Teams answered HTTP 400" },
		{ 400, "Summary or Text is required.", NULL, 0, 0, 0,
		  "HTTP 400: Summary or Text is required." },
		{ 404, "", NULL, 0, 0, 0, "HTTP 404" },
		{ 413, "Payload too large", NULL, 0, 0, 0, "HTTP 413: Payload too large" },
		{ 429, "", "Retry-After: 12", 0, 1, 12, "HTTP 429" },
		{ 503, "", NULL, 0, 1, 0, "HTTP 503" },
	};
	struct receiver *r = rcv_start(599);
	struct act_outcome out;
	struct act_send s;
	struct fx f;
	cJSON *cfg = cJSON_CreateObject(), *m;
	const struct rcv_request *q;
	char url[256], h[128];
	size_t i;
	(void)state;

	fx_load(&f, "incident.opened");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhookb2/abc@def/IncomingWebhook/xyz/secret",
		 rcv_port(r));
	memset(&s, 0, sizeof(s));
	s.ev = &f.ev;
	s.config = cfg;
	s.credential = url;
	s.channel_id = "8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b";
	s.timeout_ms = 5000;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rcv_reply rep = { cases[i].status, cases[i].body, 0,
					 cases[i].headers ? cases[i].headers : "Content-Type: text/plain",
					 0 };

		rcv_script_reply(r, &rep);
		act_teams_send(&s, &out);
		assert_int_equal(out.ok, cases[i].ok);
		assert_int_equal(out.retryable, cases[i].retryable);
		assert_int_equal(out.http_status, cases[i].status);
		assert_int_equal(out.retry_after_s, cases[i].retry_after);
		assert_string_equal(out.error, cases[i].error);
		assert_string_equal(out.host, "127.0.0.1");
	}
	q = rcv_get(r, 0);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/webhookb2/abc@def/IncomingWebhook/xyz/secret");
	assert_non_null(rcv_header(q, "content-type", h, sizeof(h)));
	assert_string_equal(h, "application/json");
	m = cJSON_Parse(q->body);
	assert_non_null(m);
	assert_string_equal(ax_json_str(card_of(m), "type"), "AdaptiveCard");
	cJSON_Delete(m);
	rcv_stop(r);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_card),
		cmocka_unit_test(test_send),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
