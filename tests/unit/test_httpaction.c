/* test_httpaction.c - the generic HTTP action (act/httpaction.c) against
 * the in-process receiver.
 *
 * The allowlist is the safety property: every refusal is checked to send
 * nothing (the receiver's count does not move), including URLs that a
 * naive prefix comparison would admit (a longer host, a longer path
 * segment, user info, dot segments that libcurl would resolve after the
 * check).  The rendered body and headers are compared with values read
 * from the document, and the JSON body is parsed back to prove the
 * escaping kept it valid. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "receiver.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "../../act/httpaction.h"

#define KEY "6f1c2a7e-1d2b-4c3d-9e4f-5a6b7c8d9e0f"

static struct receiver *rcv;
static char base[64];     /* http://127.0.0.1:PORT */
static char allow1[128];  /* base/hooks/ */
static char allow2[128];  /* base/ops/run (no trailing slash) */
static const char *allow[2];
static cJSON *doc;

static const char DOC[] =
	"{\"incident\":{\"id\":\"0b7e6a52-3c1d-4f4e-8a9b-1c2d3e4f5a6b\","
	"\"title\":\"checkout \\\"api\\\" 5xx > 20%\\nsince 10:02\",\"severity\":\"critical\","
	"\"service\":\"checkout\",\"count\":7},\"action\":\"notify_ops\","
	"\"crlf\":\"a\\r\\nX-Injected: 1\"}";

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(ax_httpc_global_init(), 0);
	rcv = rcv_start(200);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", rcv_port(rcv));
	snprintf(allow1, sizeof(allow1), "%s/hooks/", base);
	snprintf(allow2, sizeof(allow2), "%s/ops/run", base);
	allow[0] = allow1;
	allow[1] = allow2;
	doc = cJSON_Parse(DOC);
	return doc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rcv_stop(rcv);
	cJSON_Delete(doc);
	return 0;
}

static const char *dstr(const char *ptr)
{
	const cJSON *v = ax_json_ptr(doc, ptr);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

/* params JSON with "@" replaced by base. */
static cJSON *params(const char *fmt)
{
	char buf[2048], *o = buf;
	const char *p;
	cJSON *j;

	for (p = fmt; *p != '\0'; p++) {
		if (*p == '@') {
			o += sprintf(o, "%s", base);
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	j = cJSON_Parse(buf);
	assert_non_null(j);
	return j;
}

static const struct rcv_request *sent(const char *pfmt, int dry, struct act_outcome *out,
				      char *sum, size_t sl)
{
	cJSON *p = params(pfmt);
	int before = rcv_count(rcv);

	assert_int_equal(act_http_run(p, doc, allow, 2, dry, 2000, KEY, out, sum, sl), AX_OK);
	cJSON_Delete(p);
	assert_int_equal(rcv_wait(rcv, before + 1, 3000), before + 1);
	return rcv_get(rcv, before);
}

static void refused(const char *pfmt, ax_err want)
{
	struct act_outcome out;
	char sum[512];
	cJSON *p = params(pfmt);
	int before = rcv_count(rcv);
	ax_err rc = act_http_run(p, doc, allow, 2, 0, 2000, KEY, &out, sum, sizeof(sum));

	if (rc != want)
		fail_msg("%s: got %d, want %d (%s)", pfmt, rc, want, out.error);
	assert_false(out.ok);
	assert_true(out.error[0] != '\0');
	assert_non_null(strstr(sum, "refused"));
	cJSON_Delete(p);
	usleep(50 * 1000);
	assert_int_equal(rcv_count(rcv), before);
}

static void hdr_eq(const struct rcv_request *q, const char *name, const char *want)
{
	char buf[512];
	const char *v = rcv_header(q, name, buf, sizeof(buf));

	if (want == NULL) {
		if (v != NULL)
			fail_msg("header %s present: %s", name, v);
		return;
	}
	if (v == NULL)
		fail_msg("header %s missing", name);
	assert_string_equal(v, want);
}

static void test_post_template(void **state)
{
	const struct rcv_request *q;
	struct act_outcome out;
	char sum[256], want[256];
	cJSON *b;

	(void)state;
	q = sent("{\"method\":\"POST\",\"url\":\"@/hooks/ops?team=sre\","
		 "\"body\":\"{\\\"text\\\":\\\"{{incident.title}}\\\",\\\"n\\\":{{incident.count}},"
		 "\\\"sev\\\":\\\"{{incident.severity}}\\\"}\","
		 "\"headers\":{\"Authorization\":\"Bearer t0k\",\"X-Incident\":\"{{incident.id}}\"}}",
		 0, &out, sum, sizeof(sum));
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/hooks/ops?team=sre");
	hdr_eq(q, "content-type", "application/json");
	hdr_eq(q, "idempotency-key", KEY);
	hdr_eq(q, "authorization", "Bearer t0k");
	hdr_eq(q, "x-incident", dstr("/incident/id"));
	/* the body parses back to the document's values */
	b = ax_json_parse(q->body, q->body_len, 0);
	assert_non_null(b);
	assert_string_equal(ax_json_str(b, "text"), dstr("/incident/title"));
	assert_string_equal(ax_json_str(b, "sev"), dstr("/incident/severity"));
	assert_int_equal(cJSON_GetObjectItem(b, "n")->valueint,
			 ax_json_ptr(doc, "/incident/count")->valueint);
	cJSON_Delete(b);
	assert_true(out.ok);
	assert_false(out.retryable);
	assert_int_equal(out.http_status, 200);
	assert_string_equal(out.host, "127.0.0.1");
	snprintf(want, sizeof(want), "POST 127.0.0.1: HTTP 200");
	assert_string_equal(sum, want);
	/* the summary names no path or query */
	assert_null(strstr(sum, "hooks"));
}

static void test_methods(void **state)
{
	const struct rcv_request *q;
	struct act_outcome out;

	(void)state;
	/* default POST, no body: an empty one, no Content-Type */
	q = sent("{\"url\":\"@/ops/run\"}", 0, &out, NULL, 0);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/ops/run");
	assert_int_equal(q->body_len, 0);
	hdr_eq(q, "content-length", "0");
	hdr_eq(q, "content-type", NULL);
	/* DELETE without a body sends none */
	q = sent("{\"method\":\"DELETE\",\"url\":\"@/ops/run/{{action}}\"}", 0, &out, NULL, 0);
	assert_string_equal(q->method, "DELETE");
	/* the URL is never a template */
	assert_string_equal(q->path, "/ops/run/{{action}}");
	assert_int_equal(q->body_len, 0);
	hdr_eq(q, "content-length", NULL);
	/* GET */
	q = sent("{\"method\":\"GET\",\"url\":\"@/hooks/status\"}", 0, &out, NULL, 0);
	assert_string_equal(q->method, "GET");
	/* PATCH with a plain-text body: values are not JSON-escaped */
	q = sent("{\"method\":\"PATCH\",\"url\":\"@/ops/run?x=1\",\"headers\":"
		 "{\"Content-Type\":\"text/plain\"},\"body\":\"{{incident.title}}\"}", 0, &out,
		 NULL, 0);
	assert_string_equal(q->method, "PATCH");
	assert_string_equal(q->path, "/ops/run?x=1");
	hdr_eq(q, "content-type", "text/plain");
	assert_string_equal(q->body, dstr("/incident/title"));
	/* PUT, an explicit JSON content type with a charset: escaped */
	q = sent("{\"method\":\"PUT\",\"url\":\"@/ops/run\",\"headers\":"
		 "{\"content-type\":\"application/json; charset=utf-8\"},"
		 "\"body\":\"\\\"{{incident.title}}\\\"\"}", 0, &out, NULL, 0);
	assert_string_equal(q->method, "PUT");
	{
		cJSON *s = ax_json_parse(q->body, q->body_len, 0);

		assert_true(cJSON_IsString(s));
		assert_string_equal(s->valuestring, dstr("/incident/title"));
		cJSON_Delete(s);
	}
	hdr_eq(q, "idempotency-key", KEY);
}

static void test_dry_run(void **state)
{
	struct act_outcome out;
	char sum[256];
	int before = rcv_count(rcv);
	cJSON *p = params("{\"url\":\"@/hooks/x\",\"body\":\"{{incident.service}}\"}");

	(void)state;
	assert_int_equal(act_http_run(p, doc, allow, 2, 1, 2000, KEY, &out, sum, sizeof(sum)),
			 AX_OK);
	assert_true(out.ok);
	assert_int_equal(out.http_status, 0);
	assert_string_equal(out.host, "127.0.0.1");
	{
		char want[128];

		snprintf(want, sizeof(want), "POST 127.0.0.1: would send %zu bytes (dry run)",
			 strlen(dstr("/incident/service")));
		assert_string_equal(sum, want);
	}
	usleep(50 * 1000);
	assert_int_equal(rcv_count(rcv), before);
	cJSON_Delete(p);
	/* a dry run still refuses what a real run would */
	p = params("{\"url\":\"http://127.0.0.2/hooks/x\"}");
	assert_int_equal(act_http_run(p, doc, allow, 2, 1, 2000, KEY, &out, NULL, 0), AX_EAUTH);
	cJSON_Delete(p);
}

static void test_allowlist(void **state)
{
	(void)state;
	/* outside every prefix */
	refused("{\"url\":\"@/admin\"}", AX_EAUTH);
	refused("{\"url\":\"@/hooksX/a\"}", AX_EAUTH);     /* prefix ends in '/' */
	refused("{\"url\":\"@/ops/runner\"}", AX_EAUTH);   /* segment boundary */
	refused("{\"url\":\"@/ops\"}", AX_EAUTH);
	refused("{\"url\":\"http://127.0.0.2/hooks/a\"}", AX_EAUTH);
	refused("{\"url\":\"https://127.0.0.1/hooks/a\"}", AX_EAUTH);
	refused("{\"url\":\"http://localhost/hooks/a\"}", AX_EAUTH);
	/* tricks against a textual prefix test */
	refused("{\"url\":\"@/hooks/../admin\"}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/%2e%2e/admin\"}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/%2E%2E/admin\"}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/./a\"}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/..\"}", AX_EINVAL);
	refused("{\"url\":\"http://u:p@127.0.0.1/hooks/a\"}", AX_EINVAL);
	refused("{\"url\":\"file:///etc/passwd\"}", AX_EINVAL);
	refused("{\"url\":\"gopher://127.0.0.1/hooks/\"}", AX_EINVAL);
	refused("{\"url\":\"not a url\"}", AX_EINVAL);
	/* an empty allowlist admits nothing */
	{
		struct act_outcome out;
		cJSON *p = params("{\"url\":\"@/hooks/a\"}");

		assert_int_equal(act_http_run(p, doc, NULL, 0, 0, 2000, KEY, &out, NULL, 0),
				 AX_EAUTH);
		cJSON_Delete(p);
	}
}

static void test_allowlist_normalised(void **state)
{
	const char *up[1];
	char pre[128];
	struct act_outcome out;
	cJSON *p;
	int before;

	(void)state;
	/* a prefix written with an upper-case scheme and without a trailing
	 * slash still compares after normalising, at a boundary only */
	snprintf(pre, sizeof(pre), "HTTP://127.0.0.1:%d/hooks", rcv_port(rcv));
	up[0] = pre;
	before = rcv_count(rcv);
	p = params("{\"url\":\"@/hooks?via=query\"}");
	assert_int_equal(act_http_run(p, doc, up, 1, 0, 2000, KEY, &out, NULL, 0), AX_OK);
	cJSON_Delete(p);
	assert_int_equal(rcv_wait(rcv, before + 1, 3000), before + 1);
	assert_string_equal(rcv_get(rcv, before)->path, "/hooks?via=query");
	p = params("{\"url\":\"@/hooksevil\"}");
	assert_int_equal(act_http_run(p, doc, up, 1, 0, 2000, KEY, &out, NULL, 0), AX_EAUTH);
	cJSON_Delete(p);
}

static void test_bad_params(void **state)
{
	(void)state;
	refused("{}", AX_EINVAL);
	refused("{\"url\":\"\"}", AX_EINVAL);
	refused("{\"url\":7}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"method\":\"TRACE\"}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"method\":\"post\"}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"method\":\"GET\",\"body\":\"x\"}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"body\":{\"a\":1}}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"headers\":[\"X-A: 1\"]}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"headers\":{\"X-A\":1}}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"headers\":{\"Bad Name\":\"1\"}}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"headers\":{\"Host\":\"evil\"}}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"headers\":{\"idempotency-key\":\"x\"}}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"headers\":{\"Content-Length\":\"1\"}}", AX_EINVAL);
	/* a header value that becomes two lines once rendered */
	refused("{\"url\":\"@/hooks/a\",\"headers\":{\"X-Note\":\"{{crlf}}\"}}", AX_EINVAL);
	refused("{\"url\":\"@/hooks/a\",\"headers\":{\"a\":\"1\",\"b\":\"1\",\"c\":\"1\",\"d\":\"1\","
		"\"e\":\"1\",\"f\":\"1\",\"g\":\"1\",\"h\":\"1\",\"i\":\"1\",\"j\":\"1\",\"k\":\"1\","
		"\"l\":\"1\",\"m\":\"1\",\"n\":\"1\",\"o\":\"1\",\"p\":\"1\",\"q\":\"1\"}}", AX_EINVAL);
}

static void test_answers(void **state)
{
	const struct rcv_request *q;
	struct rcv_reply rep = { 0 };
	struct act_outcome out;
	char sum[256];

	(void)state;
	rcv_script(rcv, 404, 1);
	q = sent("{\"url\":\"@/hooks/a\"}", 0, &out, sum, sizeof(sum));
	assert_int_equal(q->answered, 404);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_int_equal(out.http_status, 404);
	assert_string_equal(out.error, "HTTP 404");
	assert_string_equal(sum, "POST 127.0.0.1: failed: HTTP 404");
	rcv_script(rcv, 503, 1);
	sent("{\"url\":\"@/hooks/a\"}", 0, &out, NULL, 0);
	assert_true(out.retryable);
	assert_int_equal(out.http_status, 503);
	rep.status = 429;
	rep.headers = "Retry-After: 30";
	rcv_script_reply(rcv, &rep);
	sent("{\"url\":\"@/hooks/a\"}", 0, &out, NULL, 0);
	assert_true(out.retryable);
	assert_int_equal(out.retry_after_s, 30);
	/* the response body never reaches the outcome */
	memset(&rep, 0, sizeof(rep));
	rep.status = 400;
	rep.body = "{\"error\":\"echo: Bearer t0k\"}";
	rcv_script_reply(rcv, &rep);
	sent("{\"url\":\"@/hooks/a\"}", 0, &out, NULL, 0);
	assert_null(strstr(out.error, "t0k"));
	/* timeout */
	memset(&rep, 0, sizeof(rep));
	rep.status = 200;
	rep.delay_ms = 1200;
	rcv_script_reply(rcv, &rep);
	{
		cJSON *p = params("{\"url\":\"@/hooks/slow\"}");
		int before = rcv_count(rcv);

		assert_int_equal(act_http_run(p, doc, allow, 2, 0, 300, NULL, &out, NULL, 0), AX_OK);
		assert_false(out.ok);
		assert_true(out.retryable);
		assert_int_equal(out.http_status, 0);
		assert_int_equal(rcv_wait(rcv, before + 1, 3000), before + 1);
		/* no key given: no Idempotency-Key header */
		hdr_eq(rcv_get(rcv, before), "idempotency-key", NULL);
		cJSON_Delete(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_template),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_allowlist),
		cmocka_unit_test(test_allowlist_normalised),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
