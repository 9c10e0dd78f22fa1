/* test_notify_message.c - what every sender shares (act/notify/message.c),
 * the durable schedule's arithmetic (delivery.c) and the documents a
 * settled notify action records (act/record.c).
 *
 * The events are the fixtures of tests/fixtures/notify (the proto example
 * of incident.opened, an approval request, an executed action, a
 * diagnosis with a non-ASCII title and an analysis); expectations are
 * built from the values read out of them.  Outcomes of HTTP exchanges are
 * mapped from every class of answer; the result and audit JSON are pinned
 * byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../act/act.h"
#include "../../act/notify/delivery.h"
#include "../../act/notify/notify.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define PUBLIC "https://alexus.example.com/"
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

static void test_event_init(void **state)
{
	struct fx f;
	struct act_event ev;
	cJSON *bad = cJSON_Parse("{\"incident\":{}}");
	(void)state;

	fx_load(&f, "incident.opened");
	assert_string_equal(f.ev.event, fstr(&f, NULL, "event"));
	assert_ptr_equal(f.ev.incident, cJSON_GetObjectItemCaseSensitive(f.payload, "incident"));
	assert_string_equal(act_incident_str(&f.ev, "service"), fstr(&f, "incident", "service"));
	assert_null(act_incident_str(&f.ev, "resolved_at"));        /* null in the fixture */
	assert_null(act_event_obj(&f.ev, "approval"));
	assert_int_equal(act_event_init(&ev, "acme", "x", NULL, bad, NULL), -1);
	cJSON_Delete(bad);
	cJSON_Delete(f.payload);
}

static void test_headline_and_url(void **state)
{
	struct fx f;
	char *h, *u, want[512];
	(void)state;

	fx_load(&f, "incident.opened");
	h = act_headline(&f.ev);
	snprintf(want, sizeof(want), "[CRITICAL] Incident opened: %s", fstr(&f, "incident", "title"));
	assert_string_equal(h, want);
	free(h);
	u = act_incident_url(&f.ev);
	/* the trailing slash of the public URL is not doubled */
	snprintf(want, sizeof(want), "https://alexus.example.com/v1/incidents/%s",
		 fstr(&f, "incident", "id"));
	assert_string_equal(u, want);
	free(u);
	f.ev.public_url = "";
	assert_null(act_incident_url(&f.ev));
	cJSON_Delete(f.payload);

	fx_load(&f, "approval.requested");
	h = act_headline(&f.ev);
	snprintf(want, sizeof(want), "[HIGH] Approval requested: %s - %s",
		 fstr(&f, "approval", "action"), fstr(&f, "incident", "title"));
	assert_string_equal(h, want);
	free(h);
	cJSON_Delete(f.payload);

	fx_load(&f, "action.executed");
	h = act_headline(&f.ev);
	snprintf(want, sizeof(want), "[WARNING] Action executed: %s (%s, dry run) - %s",
		 fstr(&f, "result", "action"), fstr(&f, "result", "status"),
		 fstr(&f, "incident", "title"));
	assert_string_equal(h, want);
	free(h);
	assert_string_equal(act_event_summary(&f.ev), fstr(&f, "result", "summary"));
	cJSON_Delete(f.payload);
}

/* Every event the action contract names (proto/action.schema.json) has a
 * human label, so no notification's headline is a bare event name. */
static void test_every_event_labelled(void **state)
{
	char *text = slurp("proto/action.schema.json");
	cJSON *schema, *ev, *e;
	int n = 0;
	(void)state;

	schema = cJSON_Parse(text);
	free(text);
	assert_non_null(schema);
	ev = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(schema, "properties"), "event"),
		"enum");
	assert_true(cJSON_IsArray(ev));
	cJSON_ArrayForEach(e, ev) {
		const char *label = act_event_label(e->valuestring);

		if (strcmp(label, e->valuestring) == 0)
			fail_msg("event %s has no label in act/notify/message.c", e->valuestring);
		n++;
	}
	assert_true(n >= 8);
	assert_string_equal(act_event_label("incident.reopened"), "Incident reopened");
	cJSON_Delete(schema);
}

static void test_headline_drops_controls(void **state)
{
	cJSON *p = cJSON_Parse("{\"event\":\"incident.opened\",\"incident\":{\"title\":"
			       "\"a\\r\\nBcc: evil@example.com\\tb\",\"severity\":\"info\"}}");
	struct act_event ev;
	char *h;
	(void)state;

	assert_int_equal(act_event_init(&ev, "acme", "x", NULL, p, NULL), 0);
	h = act_headline(&ev);
	assert_string_equal(h, "[INFO] Incident opened: a  Bcc: evil@example.com b");
	assert_null(strchr(h, '\r'));
	assert_null(strchr(h, '\n'));
	free(h);
	cJSON_Delete(p);
}

static void test_plain_text(void **state)
{
	struct fx f;
	char *t, line[512];
	(void)state;

	fx_load(&f, "approval.requested");
	t = act_plain_text(&f.ev);
	snprintf(line, sizeof(line), "\nService: %s\n", fstr(&f, "incident", "service"));
	assert_non_null(strstr(t, line));
	snprintf(line, sizeof(line), "\nSeverity: %s\n", fstr(&f, "incident", "severity"));
	assert_non_null(strstr(t, line));
	assert_non_null(strstr(t, "\nAlerts: 3\n"));
	assert_non_null(strstr(t, "\nConfidence: 0.91\n"));
	snprintf(line, sizeof(line), "\nAction: %s\n", fstr(&f, "approval", "action"));
	assert_non_null(strstr(t, line));
	assert_non_null(strstr(t, "\nParameters: {\"namespace\":\"payments\",\"pod\":\"payments-db-0\"}\n"));
	snprintf(line, sizeof(line), "\nApprove: %s\n", fstr(&f, "approval", "approve_url"));
	assert_non_null(strstr(t, line));
	snprintf(line, sizeof(line), "\nReject: %s\n", fstr(&f, "approval", "reject_url"));
	assert_non_null(strstr(t, line));
	snprintf(line, sizeof(line), "\nIncident: https://alexus.example.com/v1/incidents/%s\n",
		 fstr(&f, "incident", "id"));
	assert_non_null(strstr(t, line));
	assert_null(strstr(t, "Resolved:"));      /* null: left out */
	free(t);
	cJSON_Delete(f.payload);

	fx_load(&f, "incident.diagnosed");
	t = act_plain_text(&f.ev);
	assert_non_null(strstr(t, fstr(&f, "analysis", "summary")));
	free(t);
	cJSON_Delete(f.payload);
}

static void test_template_doc_and_render(void **state)
{
	struct fx f;
	cJSON *doc, *cfg;
	char *s, want[512];
	(void)state;

	fx_load(&f, "approval.requested");
	doc = act_template_doc(&f.ev);
	assert_string_equal(ax_json_str(doc, "event"), "approval.requested");
	assert_string_equal(ax_json_str(doc, "label"), "Approval requested");
	assert_string_equal(ax_json_str(doc, "tenant"), "acme");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(doc, "approval"), "approve_url"),
			    fstr(&f, "approval", "approve_url"));
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(doc, "links"), "reject"),
			    fstr(&f, "approval", "reject_url"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "result")));
	cJSON_Delete(doc);

	cfg = cJSON_Parse("{\"template\":\"{{label}}: {{incident.title}} ({{approval.params.pod}})\"}");
	s = act_render(cfg, &f.ev, 0);
	snprintf(want, sizeof(want), "Approval requested: %s (payments-db-0)",
		 fstr(&f, "incident", "title"));
	assert_string_equal(s, want);
	free(s);
	/* JSON escaping of what the incident brings in */
	cJSON_Delete(cfg);
	cfg = cJSON_Parse("{\"template\":\"{\\\"t\\\":\\\"{{incident.title}}\\\"}\"}");
	s = act_render(cfg, &f.ev, 1);
	doc = cJSON_Parse(s);
	assert_non_null(doc);
	assert_string_equal(ax_json_str(doc, "t"), fstr(&f, "incident", "title"));
	cJSON_Delete(doc);
	free(s);
	cJSON_Delete(cfg);
	cfg = cJSON_Parse("{\"template\":\"\"}");
	assert_null(act_render(cfg, &f.ev, 0));
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_utf8_cut(void **state)
{
	const char *s = "\xc3\x9c" "berlast"; /* "Überlast": 8 characters, 9 bytes */
	char *c;
	(void)state;

	assert_int_equal(act_utf8_prefix(s, 1, 100), 2);
	assert_int_equal(act_utf8_prefix(s, 100, 1), 0);   /* never half a character */
	assert_int_equal(act_utf8_prefix(s, 100, 100), 9);
	c = act_utf8_cut(s, 5, 100);
	assert_string_equal(c, "\xc3\x9c" "b...");
	free(c);
	c = act_utf8_cut(s, 8, 9);
	assert_string_equal(c, s);
	free(c);
	/* a stray continuation byte counts as one character */
	assert_int_equal(act_utf8_prefix("\x80\x80" "a", 2, 100), 2);
}

static void test_outcome_http(void **state)
{
	struct act_outcome o;
	struct ax_httpc_resp r;
	(void)state;

	memset(&r, 0, sizeof(r));
	act_outcome_http(&o, "https://hooks.example.com/services/T0/B1/secret", AX_EIO, &r,
			 "Could not connect");
	assert_false(o.ok);
	assert_true(o.retryable);
	assert_string_equal(o.host, "hooks.example.com");
	assert_string_equal(o.error, "Could not connect");
	act_outcome_http(&o, "file:///etc/passwd", AX_EINVAL, &r, "");
	assert_false(o.retryable);
	assert_string_equal(o.error, ax_strerror(AX_EINVAL));

	r.status = 204;
	act_outcome_http(&o, "http://127.0.0.1:9/x", AX_OK, &r, "");
	assert_true(o.ok);
	assert_false(o.retryable);
	assert_int_equal(o.http_status, 204);
	assert_string_equal(o.error, "");
	r.status = 429;
	r.retry_after_s = 30;
	act_outcome_http(&o, "http://127.0.0.1:9/x", AX_OK, &r, "");
	assert_false(o.ok);
	assert_true(o.retryable);
	assert_int_equal(o.retry_after_s, 30);
	assert_string_equal(o.error, "HTTP 429");
	r.retry_after_s = 0;
	r.status = 503;
	act_outcome_http(&o, "http://127.0.0.1:9/x", AX_OK, &r, "");
	assert_true(o.retryable);
	r.status = 404;
	act_outcome_http(&o, "http://127.0.0.1:9/x", AX_OK, &r, "");
	assert_false(o.retryable);
	assert_false(o.ok);
	r.status = 302;
	act_outcome_http(&o, "http://127.0.0.1:9/x", AX_OK, &r, "");
	assert_false(o.ok);
	assert_false(o.retryable);
}

static void test_auth_header_and_excerpt(void **state)
{
	char buf[64];
	(void)state;

	assert_string_equal(act_auth_header(buf, sizeof(buf), "Bearer", "xoxb-1\r\nX: y"),
			    "Authorization: Bearer xoxb-1X:y");
	assert_string_equal(act_body_excerpt("invalid_payload\nmore", buf, sizeof(buf)),
			    "invalid_payload");
	assert_string_equal(act_body_excerpt("\x01ok \xc3\xa9 ", buf, sizeof(buf)), "ok");
	assert_string_equal(act_body_excerpt(NULL, buf, sizeof(buf)), "");
}

static void test_backoff(void **state)
{
	(void)state;
	/* 2^attempts s, capped by ALEXUS_NOTIFY_RETRY_MAX_S */
	assert_int_equal(act_delivery_backoff_s(1, 0, 300), 2);
	assert_int_equal(act_delivery_backoff_s(2, 0, 300), 4);
	assert_int_equal(act_delivery_backoff_s(8, 0, 300), 256);
	assert_int_equal(act_delivery_backoff_s(9, 0, 300), 300);
	assert_int_equal(act_delivery_backoff_s(1000000, 0, 300), 300);
	assert_int_equal(act_delivery_backoff_s(5, 0, 1), 1);
	/* the receiver's Retry-After wins, up to a day */
	assert_int_equal(act_delivery_backoff_s(1, 34, 1), 34);
	assert_int_equal(act_delivery_backoff_s(1, 999999, 300), 86400);
}

static void expect_json(cJSON *j, const char *want)
{
	char *s = ax_json_print(j);

	assert_string_equal(s, want);
	free(s);
	cJSON_Delete(j);
}

static void test_result_and_audit(void **state)
{
	struct act_target_row rows[3];
	(void)state;

	memset(rows, 0, sizeof(rows));
	snprintf(rows[0].target, sizeof(rows[0].target), "channel:8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b");
	snprintf(rows[0].status, sizeof(rows[0].status), "succeeded");
	rows[0].attempts = 1;
	rows[0].http_status = 200;
	snprintf(rows[0].host, sizeof(rows[0].host), "hooks.slack.com");
	snprintf(rows[1].target, sizeof(rows[1].target), "channel:9b2e7a1c-0000-4000-8000-000000000001");
	snprintf(rows[1].status, sizeof(rows[1].status), "dead");
	rows[1].attempts = 12;
	rows[1].http_status = 503;
	snprintf(rows[1].error, sizeof(rows[1].error), "HTTP 503");
	snprintf(rows[1].host, sizeof(rows[1].host), "events.pagerduty.com");
	snprintf(rows[2].target, sizeof(rows[2].target), "webhook");
	snprintf(rows[2].status, sizeof(rows[2].status), "skipped");
	snprintf(rows[2].error, sizeof(rows[2].error), "notify_webhook_url was cleared");

	expect_json(act_notify_result(rows, 3, NULL),
		    "{\"http_status\":503,\"attempts\":13,\"error\":\"HTTP 503\",\"targets\":["
		    "{\"target\":\"channel:8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b\",\"status\":\"succeeded\","
		    "\"attempts\":1,\"http_status\":200,\"error\":null,\"host\":\"hooks.slack.com\"},"
		    "{\"target\":\"channel:9b2e7a1c-0000-4000-8000-000000000001\",\"status\":\"dead\","
		    "\"attempts\":12,\"http_status\":503,\"error\":\"HTTP 503\",\"host\":"
		    "\"events.pagerduty.com\"},"
		    "{\"target\":\"webhook\",\"status\":\"skipped\",\"attempts\":0,\"http_status\":null,"
		    "\"error\":\"notify_webhook_url was cleared\",\"host\":null}]}");
	/* One delivered target: the old single-webhook keys, unchanged. */
	expect_json(act_notify_result(rows, 1, NULL),
		    "{\"http_status\":200,\"attempts\":1,\"error\":null,\"targets\":[{\"target\":"
		    "\"channel:8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b\",\"status\":\"succeeded\","
		    "\"attempts\":1,\"http_status\":200,\"error\":null,\"host\":\"hooks.slack.com\"}]}");
	expect_json(act_notify_result(NULL, 0, "no notification target for this event"),
		    "{\"http_status\":null,\"attempts\":0,\"error\":"
		    "\"no notification target for this event\",\"targets\":[]}");
	/* The audit detail: no error texts. */
	expect_json(act_notify_audit("7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d", "incident.opened",
				     "failed", rows, 2),
		    "{\"action_id\":\"7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d\",\"event\":"
		    "\"incident.opened\",\"status\":\"failed\",\"http_status\":503,\"host\":"
		    "\"events.pagerduty.com\",\"targets\":[{\"target\":"
		    "\"channel:8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b\",\"status\":\"succeeded\","
		    "\"attempts\":1,\"http_status\":200,\"host\":\"hooks.slack.com\"},{\"target\":"
		    "\"channel:9b2e7a1c-0000-4000-8000-000000000001\",\"status\":\"dead\",\"attempts\":12,"
		    "\"http_status\":503,\"host\":\"events.pagerduty.com\"}]}");
}

static void test_lease(void **state)
{
	struct ax_config cfg;
	(void)state;

	memset(&cfg, 0, sizeof(cfg));
	cfg.notify_timeout_ms = 5000;
	cfg.notify_retries = 3;
	cfg.notify_backoff_ms = 200;
	/* first pass: 4 attempts of 5 s plus backoffs (21.75 s) per target */
	assert_int_equal(act_delivery_lease_s(&cfg, 1, 1), 21 + 1 + 10);
	assert_int_equal(act_delivery_lease_s(&cfg, 2, 1), 2 * 22 + 10);
	/* later passes: one request (a ticket sync may make two) */
	assert_int_equal(act_delivery_lease_s(&cfg, 32, 0), 32 * 11 + 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_init),
		cmocka_unit_test(test_headline_and_url),
		cmocka_unit_test(test_every_event_labelled),
		cmocka_unit_test(test_headline_drops_controls),
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_template_doc_and_render),
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_outcome_http),
		cmocka_unit_test(test_auth_header_and_excerpt),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_result_and_audit),
		cmocka_unit_test(test_lease),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
