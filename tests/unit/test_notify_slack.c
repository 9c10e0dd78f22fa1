/* test_notify_slack.c - the Slack channel (act/notify/slack.c) against the
 * local receiver standing in for hooks.slack.com and slack.com/api.
 *
 * Incoming webhook: the request (POST to the webhook's own path, JSON,
 * Block Kit body built from the fixture's incident) and Slack's documented
 * answers: "ok"; 400 invalid_payload, 404 no_service and 410
 * channel_is_archived (permanent), 500 rollup_error and 429 with
 * Retry-After (retried).  chat.postMessage: Bearer token, channel, and the
 * Web API's answers: ok:true; a 200 with ok:false channel_not_found
 * (permanent, not a success); 429 ratelimited with Retry-After (retried).
 * Escaping of incident text in mrkdwn, the approve/reject buttons, the
 * channel template, a missing credential. */
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
#include "../../act/notify/slack.h"
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

/* The block of type type (the n-th of them). */
static const cJSON *block(const cJSON *body, const char *type, int n)
{
	const cJSON *b;

	cJSON_ArrayForEach(b, cJSON_GetObjectItem(body, "blocks"))
		if (strcmp(ax_json_str(b, "type"), type) == 0 && n-- == 0)
			return b;
	return NULL;
}

/* 1 when some section field's text is exactly want. */
static int has_field(const cJSON *body, const char *want)
{
	const cJSON *b, *f;

	cJSON_ArrayForEach(b, cJSON_GetObjectItem(body, "blocks"))
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(b, "fields"))
			if (strcmp(ax_json_str(f, "text"), want) == 0)
				return 1;
	return 0;
}

static const cJSON *button(const cJSON *body, const char *label)
{
	const cJSON *acts = block(body, "actions", 0), *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(acts, "elements"))
		if (strcmp(ax_json_str(cJSON_GetObjectItem(e, "text"), "text"), label) == 0)
			return e;
	return NULL;
}

static void test_payload_opened(void **state)
{
	struct fx f;
	cJSON *cfg = cJSON_CreateObject(), *b;
	char *s, want[512];
	const cJSON *hdr, *btn;
	(void)state;

	fx_load(&f, "incident.opened");
	s = act_slack_payload(&f.ev, cfg);
	b = cJSON_Parse(s);
	assert_non_null(b);
	snprintf(want, sizeof(want), "[CRITICAL] Incident opened: %s",
		 fstr(&f, "incident", "title"));
	assert_string_equal(ax_json_str(b, "text"), want);            /* the fallback */
	assert_null(cJSON_GetObjectItem(b, "channel"));              /* webhook: no channel */
	hdr = block(b, "header", 0);
	assert_non_null(hdr);
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(hdr, "text"), "type"), "plain_text");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(hdr, "text"), "text"), want);
	snprintf(want, sizeof(want), "*Severity*\n%s", fstr(&f, "incident", "severity"));
	assert_true(has_field(b, want));
	snprintf(want, sizeof(want), "*Service*\n%s", fstr(&f, "incident", "service"));
	assert_true(has_field(b, want));
	btn = button(b, "Open incident");
	assert_non_null(btn);
	snprintf(want, sizeof(want), PUBLIC "/v1/incidents/%s", fstr(&f, "incident", "id"));
	assert_string_equal(ax_json_str(btn, "url"), want);
	assert_null(button(b, "Approve"));
	assert_non_null(block(b, "context", 0));
	cJSON_Delete(b);
	free(s);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_payload_approval_escaped(void **state)
{
	struct fx f;
	cJSON *cfg = cJSON_Parse("{\"channel\":\"C0123456789\"}"), *b;
	const cJSON *ap, *rj, *hdr;
	char *s;
	(void)state;

	fx_load(&f, "approval.requested");
	s = act_slack_payload(&f.ev, cfg);
	b = cJSON_Parse(s);
	assert_non_null(b);
	assert_string_equal(ax_json_str(b, "channel"), "C0123456789");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(b, "unfurl_links")));
	ap = button(b, "Approve");
	rj = button(b, "Reject");
	assert_non_null(ap);
	assert_non_null(rj);
	assert_string_equal(ax_json_str(ap, "url"), fstr(&f, "approval", "approve_url"));
	assert_string_equal(ax_json_str(ap, "style"), "primary");
	assert_string_equal(ax_json_str(rj, "url"), fstr(&f, "approval", "reject_url"));
	assert_string_equal(ax_json_str(rj, "style"), "danger");
	assert_true(has_field(b, "*Action*\nrestart_pod"));
	/* The header is plain text: as it is.  mrkdwn gets &, <, > escaped,
	 * so "<primary>" can never become a link or a mention. */
	hdr = block(b, "header", 0);
	assert_non_null(strstr(ax_json_str(cJSON_GetObjectItem(hdr, "text"), "text"),
			       fstr(&f, "incident", "title")));
	assert_non_null(strstr(ax_json_str(b, "text"), "payments-db &lt;primary&gt; pool "
							"exhausted &amp; \"stuck\""));
	{
		/* only the plain_text header holds the raw title */
		char *rest;

		cJSON_DeleteItemFromArray(cJSON_GetObjectItem(b, "blocks"), 0);
		rest = ax_json_print(b);
		assert_null(strstr(rest, "<primary>"));
		free(rest);
	}
	assert_true(has_field(b, "*Parameters*\n{\"namespace\":\"payments\",\"pod\":\"payments-db-0\"}"));
	cJSON_Delete(b);
	free(s);
	s = act_slack_escape("a <b> & <!channel>");
	assert_string_equal(s, "a &lt;b&gt; &amp; &lt;!channel&gt;");
	free(s);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_payload_template(void **state)
{
	struct fx f;
	cJSON *cfg = cJSON_Parse("{\"template\":\"*{{incident.title}}* ({{incident.service}})\"}");
	cJSON *b;
	const cJSON *sec;
	char *s;
	(void)state;

	fx_load(&f, "approval.requested");
	s = act_slack_payload(&f.ev, cfg);
	b = cJSON_Parse(s);
	assert_null(block(b, "header", 0));
	sec = block(b, "section", 0);
	assert_non_null(sec);
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(sec, "text"), "text"),
			    "*payments-db &lt;primary&gt; pool exhausted &amp; \"stuck\" connections* "
			    "(payments-db)");
	/* the buttons stay */
	assert_non_null(button(b, "Approve"));
	cJSON_Delete(b);
	free(s);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

/* One send to the receiver with the next reply scripted. */
static void send_webhook(struct receiver *r, const struct fx *f, const cJSON *cfg,
			 const struct rcv_reply *reply, struct act_outcome *out, char *url,
			 size_t urln)
{
	struct act_send s;

	snprintf(url, urln, "http://127.0.0.1:%d/services/T0000/B0000/XXXXsecretXXXX",
		 rcv_port(r));
	rcv_script_reply(r, reply);
	memset(&s, 0, sizeof(s));
	s.ev = &f->ev;
	s.config = cfg;
	s.credential = url;
	s.channel_id = "8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b";
	s.timeout_ms = 5000;
	act_slack_send(&s, out);
}

static void test_webhook_ok(void **state)
{
	struct receiver *r = rcv_start(599);
	struct rcv_reply ok = { 200, "ok", 0, "Content-Type: text/html", 0 };
	struct act_outcome out;
	struct fx f;
	cJSON *cfg = cJSON_CreateObject(), *b;
	const struct rcv_request *q;
	char url[256], h[128];
	(void)state;

	fx_load(&f, "incident.opened");
	send_webhook(r, &f, cfg, &ok, &out, url, sizeof(url));
	assert_true(out.ok);
	assert_int_equal(out.http_status, 200);
	assert_string_equal(out.host, "127.0.0.1");
	assert_int_equal(rcv_count(r), 1);
	q = rcv_get(r, 0);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/services/T0000/B0000/XXXXsecretXXXX");
	assert_non_null(rcv_header(q, "content-type", h, sizeof(h)));
	assert_string_equal(h, "application/json");
	assert_null(rcv_header(q, "authorization", h, sizeof(h)));
	b = cJSON_Parse(q->body);
	assert_non_null(b);
	assert_non_null(block(b, "header", 0));
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(b, "blocks")) >= 3);
	cJSON_Delete(b);
	rcv_stop(r);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_webhook_errors(void **state)
{
	static const struct {
		int status;
		const char *body, *headers;
		int retryable;
		long retry_after;
		const char *error;
	} cases[] = {
		{ 400, "invalid_payload", NULL, 0, 0, "HTTP 400: invalid_payload" },
		{ 404, "no_service", NULL, 0, 0, "HTTP 404: no_service" },
		{ 410, "channel_is_archived", NULL, 0, 0, "HTTP 410: channel_is_archived" },
		{ 403, "action_prohibited", NULL, 0, 0, "HTTP 403: action_prohibited" },
		{ 500, "rollup_error", NULL, 1, 0, "HTTP 500: rollup_error" },
		{ 429, "rate_limited", "Retry-After: 7", 1, 7, "HTTP 429: rate_limited" },
	};
	struct receiver *r = rcv_start(599);
	struct act_outcome out;
	struct fx f;
	cJSON *cfg = cJSON_CreateObject();
	char url[256];
	size_t i;
	(void)state;

	fx_load(&f, "incident.opened");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rcv_reply rep = { cases[i].status, cases[i].body, 0, cases[i].headers, 0 };

		send_webhook(r, &f, cfg, &rep, &out, url, sizeof(url));
		assert_false(out.ok);
		assert_int_equal(out.http_status, cases[i].status);
		assert_int_equal(out.retryable, cases[i].retryable);
		assert_int_equal(out.retry_after_s, cases[i].retry_after);
		assert_string_equal(out.error, cases[i].error);
		/* never the URL's secret path */
		assert_null(strstr(out.error, "secret"));
		assert_null(strstr(out.host, "secret"));
	}
	assert_int_equal(rcv_count(r), (int)(sizeof(cases) / sizeof(cases[0])));
	rcv_stop(r);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void send_api(struct receiver *r, const struct fx *f, const struct rcv_reply *reply,
		     struct act_outcome *out)
{
	char cfgtext[256];
	struct act_send s;
	cJSON *cfg;

	snprintf(cfgtext, sizeof(cfgtext),
		 "{\"channel\":\"C0123456789\",\"api_url\":\"http://127.0.0.1:%d/api/\"}",
		 rcv_port(r));
	cfg = cJSON_Parse(cfgtext);
	rcv_script_reply(r, reply);
	memset(&s, 0, sizeof(s));
	s.ev = &f->ev;
	s.config = cfg;
	s.credential = "xoxb-1234-5678-abcdefghijkl";
	s.channel_id = "8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b";
	s.timeout_ms = 5000;
	act_slack_send(&s, out);
	cJSON_Delete(cfg);
}

static void test_post_message(void **state)
{
	struct receiver *r = rcv_start(599);
	struct rcv_reply ok = { 200, "{\"ok\":true,\"channel\":\"C0123456789\",\"ts\":\"1700000000.000100\"}",
				0, NULL, 0 };
	struct act_outcome out;
	const struct rcv_request *q;
	struct fx f;
	char h[256];
	cJSON *b;
	(void)state;

	fx_load(&f, "approval.requested");
	send_api(r, &f, &ok, &out);
	assert_true(out.ok);
	assert_int_equal(out.http_status, 200);
	q = rcv_get(r, 0);
	assert_non_null(q);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/api/chat.postMessage");
	assert_non_null(rcv_header(q, "authorization", h, sizeof(h)));
	assert_string_equal(h, "Bearer xoxb-1234-5678-abcdefghijkl");
	assert_non_null(rcv_header(q, "content-type", h, sizeof(h)));
	assert_string_equal(h, "application/json; charset=utf-8");
	b = cJSON_Parse(q->body);
	assert_non_null(b);
	assert_string_equal(ax_json_str(b, "channel"), "C0123456789");
	assert_non_null(cJSON_GetObjectItem(b, "blocks"));
	cJSON_Delete(b);
	rcv_stop(r);
	cJSON_Delete(f.payload);
}

static void test_post_message_errors(void **state)
{
	static const struct {
		int status;
		const char *body, *headers;
		int retryable;
		long retry_after;
		const char *error;
	} cases[] = {
		/* a 200 that is a failure, and no retry will fix it */
		{ 200, "{\"ok\":false,\"error\":\"channel_not_found\"}", NULL, 0, 0,
		  "slack: channel_not_found" },
		{ 200, "{\"ok\":false,\"error\":\"invalid_auth\"}", NULL, 0, 0, "slack: invalid_auth" },
		{ 200, "{\"ok\":false,\"error\":\"not_in_channel\"}", NULL, 0, 0,
		  "slack: not_in_channel" },
		{ 429, "{\"ok\":false,\"error\":\"ratelimited\"}", "Retry-After: 30", 1, 30,
		  "slack: ratelimited" },
		{ 200, "{\"ok\":false,\"error\":\"internal_error\"}", NULL, 1, 0,
		  "slack: internal_error" },
		{ 503, "<html>upstream</html>", NULL, 1, 0, "HTTP 503" },
		/* a 200 that is not the Web API talking */
		{ 200, "<html>captive portal</html>", NULL, 1, 0, "HTTP 200: not a Slack API answer" },
	};
	struct receiver *r = rcv_start(599);
	struct act_outcome out;
	struct fx f;
	size_t i;
	(void)state;

	fx_load(&f, "incident.opened");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rcv_reply rep = { cases[i].status, cases[i].body, 0, cases[i].headers, 0 };

		send_api(r, &f, &rep, &out);
		assert_false(out.ok);
		assert_int_equal(out.http_status, cases[i].status);
		assert_int_equal(out.retryable, cases[i].retryable);
		assert_int_equal(out.retry_after_s, cases[i].retry_after);
		assert_string_equal(out.error, cases[i].error);
		assert_null(strstr(out.error, "xoxb"));
	}
	rcv_stop(r);
	cJSON_Delete(f.payload);
}

static void test_no_credential(void **state)
{
	struct act_outcome out;
	struct act_send s;
	struct fx f;
	cJSON *cfg = cJSON_Parse("{\"channel\":\"C1\"}");
	(void)state;

	fx_load(&f, "incident.opened");
	memset(&s, 0, sizeof(s));
	s.ev = &f.ev;
	s.config = cfg;
	s.timeout_ms = 1000;
	act_slack_send(&s, &out);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_int_equal(out.http_status, 0);
	assert_string_equal(out.error, "slack channel has no credential (bot token)");
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_opened),
		cmocka_unit_test(test_payload_approval_escaped),
		cmocka_unit_test(test_payload_template),
		cmocka_unit_test(test_webhook_ok),
		cmocka_unit_test(test_webhook_errors),
		cmocka_unit_test(test_post_message),
		cmocka_unit_test(test_post_message_errors),
		cmocka_unit_test(test_no_credential),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
