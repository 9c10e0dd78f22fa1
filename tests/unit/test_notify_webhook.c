/* test_notify_webhook.c - the webhook targets (act/notify/webhook.c): a
 * channel of kind webhook and the legacy notify_webhook_url, against the
 * local receiver.
 *
 * A webhook channel sends exactly the legacy request (the body of
 * act_webhook_body and the Idempotency-Key, X-Alexus-Event and
 * X-Alexus-Trace headers) to its credential URL, one request per attempt;
 * with a template the body is the rendered template, JSON-escaped so any
 * incident title keeps it valid.  Outcomes: 2xx delivered; 429 (with
 * Retry-After) and 5xx retried; 4xx not.  The legacy target keeps its
 * short in-call retries: two 503s then 200 is one delivered attempt of
 * three requests, and 429 ends the in-call retries but stays retryable
 * for the durable schedule. */
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
#include "../../act/notify/webhook.h"
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

static void check_headers(const struct rcv_request *q, const struct fx *f)
{
	char h[256];

	assert_string_equal(q->method, "POST");
	assert_non_null(rcv_header(q, "content-type", h, sizeof(h)));
	assert_string_equal(h, "application/json");
	assert_non_null(rcv_header(q, "idempotency-key", h, sizeof(h)));
	assert_string_equal(h, ax_json_str(f->payload, "action_id"));
	assert_non_null(rcv_header(q, "x-alexus-event", h, sizeof(h)));
	assert_string_equal(h, ax_json_str(f->payload, "event"));
	assert_non_null(rcv_header(q, "x-alexus-trace", h, sizeof(h)));
	assert_string_equal(h, TRACE);
}

static void test_channel_send(void **state)
{
	struct receiver *r = rcv_start(599);
	struct act_outcome out;
	struct act_send s;
	struct fx f;
	cJSON *cfg = cJSON_CreateObject(), *body, *tcfg;
	const struct rcv_request *q;
	char url[128], *legacy;
	(void)state;

	fx_load(&f, "incident.opened");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/alexus?token=s3cret", rcv_port(r));
	memset(&s, 0, sizeof(s));
	s.ev = &f.ev;
	s.config = cfg;
	s.credential = url;
	s.channel_id = "8a1f6f8e-9d0b-4c55-a1a0-0c9d1e2f3a4b";
	s.timeout_ms = 5000;
	rcv_script(r, 202, 1);
	act_webhook_channel_send(&s, &out);
	assert_true(out.ok);
	assert_int_equal(out.http_status, 202);
	assert_string_equal(out.host, "127.0.0.1");
	q = rcv_get(r, 0);
	assert_string_equal(q->path, "/hooks/alexus?token=s3cret");
	check_headers(q, &f);
	/* byte for byte the legacy body */
	legacy = act_webhook_body(f.ev.event, "acme", f.ev.action_id, TRACE, f.ev.incident,
				  f.ev.payload);
	assert_string_equal(q->body, legacy);
	free(legacy);

	/* a template: the body is the template, escaped values inside */
	cJSON_Delete(f.payload);
	fx_load(&f, "approval.requested");
	tcfg = cJSON_Parse("{\"template\":\"{\\\"text\\\":\\\"{{headline}}\\\",\\\"approve\\\":"
			   "\\\"{{links.approve}}\\\",\\\"pod\\\":\\\"{{approval.params.pod}}\\\"}\"}");
	s.config = tcfg;
	rcv_script(r, 200, 1);
	act_webhook_channel_send(&s, &out);
	assert_true(out.ok);
	q = rcv_get(r, 1);
	check_headers(q, &f);
	body = cJSON_Parse(q->body);
	assert_non_null(body);                      /* quotes in the title did not break it */
	assert_non_null(strstr(ax_json_str(body, "text"), "payments-db <primary> pool exhausted & "
							  "\"stuck\" connections"));
	assert_string_equal(ax_json_str(body, "approve"),
			    ax_json_str(cJSON_GetObjectItem(f.payload, "approval"), "approve_url"));
	assert_string_equal(ax_json_str(body, "pod"), "payments-db-0");
	cJSON_Delete(body);

	/* answers */
	s.config = cfg;
	{
		struct rcv_reply r429 = { 429, "slow down", 0, "Retry-After: 9", 0 };

		rcv_script_reply(r, &r429);
		act_webhook_channel_send(&s, &out);
		assert_false(out.ok);
		assert_true(out.retryable);
		assert_int_equal(out.retry_after_s, 9);
	}
	rcv_script(r, 500, 1);
	act_webhook_channel_send(&s, &out);
	assert_true(out.retryable);
	assert_string_equal(out.error, "HTTP 500");
	rcv_script(r, 410, 1);
	act_webhook_channel_send(&s, &out);
	assert_false(out.retryable);
	assert_false(out.ok);
	assert_int_equal(rcv_count(r), 5);           /* one request per attempt */
	assert_null(strstr(out.error, "s3cret"));

	s.credential = NULL;
	act_webhook_channel_send(&s, &out);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_int_equal(rcv_count(r), 5);
	rcv_stop(r);
	cJSON_Delete(tcfg);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_legacy_send(void **state)
{
	struct receiver *r = rcv_start(599);
	struct act_webhook_opts o = { 5000, 3, 1, NULL };
	struct act_outcome out;
	struct fx f;
	char url[128];
	int requests;
	(void)state;

	fx_load(&f, "incident.resolved");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", rcv_port(r));
	rcv_script(r, 503, 2);
	rcv_script(r, 200, 1);
	act_webhook_legacy_send(&f.ev, url, &o, &out, &requests);
	assert_true(out.ok);
	assert_int_equal(requests, 3);
	assert_int_equal(out.http_status, 200);
	assert_int_equal(rcv_count(r), 3);
	check_headers(rcv_get(r, 2), &f);

	/* a 429 is not retried in the call, but later */
	{
		struct rcv_reply r429 = { 429, NULL, 0, "Retry-After: 5", 0 };

		rcv_script_reply(r, &r429);
		act_webhook_legacy_send(&f.ev, url, &o, &out, &requests);
		assert_false(out.ok);
		assert_true(out.retryable);
		assert_int_equal(requests, 1);
		assert_int_equal(out.retry_after_s, 5);
	}
	/* retries exhausted on 5xx: still retryable later */
	o.retries = 1;
	rcv_script(r, 502, 2);
	act_webhook_legacy_send(&f.ev, url, &o, &out, &requests);
	assert_false(out.ok);
	assert_true(out.retryable);
	assert_int_equal(requests, 2);
	assert_string_equal(out.error, "HTTP 502");
	/* a 404 is permanent */
	rcv_script(r, 404, 1);
	act_webhook_legacy_send(&f.ev, url, &o, &out, &requests);
	assert_false(out.retryable);
	assert_int_equal(requests, 1);
	rcv_stop(r);
	cJSON_Delete(f.payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channel_send),
		cmocka_unit_test(test_legacy_send),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
