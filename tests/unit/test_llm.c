/* test_llm.c - the LLM provider module (reason/llm.c).
 *
 * Every exchange runs against the in-process receiver of tests/lib,
 * answering with the bodies of tests/fixtures/llm/ -- written in the
 * providers' documented request/response and error shapes (see the
 * README there) -- and, from *.headers files, the headers that go with
 * them.  Expected values -- usage, model, the analysis, the Retry-After --
 * are read from those files, not written here.
 *
 * On the wire: the exact request of each provider (path, headers, every
 * body member), Azure's deployment-URL rule, the other URL forms, and a
 * keyless local server.
 * Outcomes: success with usage and cost, fenced JSON, 429 with
 * Retry-After, 500 and 529, 401, a timeout (the receiver holds its reply
 * past the client's timeout), a body cut short, finish_reason length and
 * stop_reason max_tokens, answers that miss the shape, the budget (no
 * request when exhausted), no provider, nothing listening.  The key is
 * looked for in every message, answer and in everything written to
 * stderr meanwhile, including when a proxy echoes it back.
 * Pure parts: the shape validator, fence stripping, prices and the
 * configuration (ALEXUS_LLM_PRICES is read by the same grammar in
 * common/config.c and here; both are held to the same verdicts). */
#include <math.h>
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

#include <cjson/cJSON.h>

#include "../../reason/llm.h"
#include "alexus/config.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "receiver.h"

#define FIX "tests/fixtures/llm/"
#define KEY "sk-alexus-test-5c1e9b7a3f2d4e6a8b0c1d2e3f4a5b6c"
#define SYSTEM "You are the incident analyst of an AIOps platform."
#define USER "Alert KubePodCrashLooping firing for payments-api in prod (OOMKilled, 14 restarts)."

extern char **environ;

/* ---------------------------------------------------------------- helpers */

struct fx {
	char *body;
	size_t len;
	char *headers;   /* the .headers sidecar, NULL when there is none */
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
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

static void fx_load(struct fx *f, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), FIX "%s.json", name);
	f->body = slurp(path, &f->len);
	if (f->body == NULL)
		fail_msg("missing fixture %s", path);
	snprintf(path, sizeof(path), FIX "%s.headers", name);
	f->headers = slurp(path, NULL);
}

static void fx_release(struct fx *f)
{
	free(f->body);
	free(f->headers);
	memset(f, 0, sizeof(*f));
}

/* The value of header name (lower-case) in a fixture's sidecar. */
static long fx_header_long(const struct fx *f, const char *name)
{
	const char *p = f->headers;
	size_t n = strlen(name);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return strtol(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	fail_msg("fixture has no %s header", name);
	return -1;
}

static void script_fx(struct receiver *r, const struct fx *f, int status, size_t len, int delay)
{
	struct rcv_reply rp = { status, f->body, len ? len : f->len, f->headers, delay };

	rcv_script_reply(r, &rp);
}

static void cfg_init(struct reason_llm_config *c, enum reason_llm_provider p, const char *url,
		     const char *key)
{
	memset(c, 0, sizeof(*c));
	c->provider = p;
	c->url = url;
	c->key = key;
	c->timeout_ms = 5000;
	c->max_tokens = 512;
}

static char *local_url(struct receiver *r, const char *path)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", rcv_port(r), path);
	return buf;
}

static struct reason_llm_request req_default(void)
{
	struct reason_llm_request q = { SYSTEM, USER, 0, NULL };

	return q;
}

/* The envelope of a fixture, parsed, to read the expected values from. */
static cJSON *fx_doc(const struct fx *f)
{
	cJSON *d = ax_json_parse(f->body, f->len, 0);

	assert_non_null(d);
	return d;
}

static long num_at(const cJSON *doc, const char *ptr)
{
	const cJSON *v = ax_json_ptr(doc, ptr);

	assert_true(cJSON_IsNumber(v));
	return (long)v->valuedouble;
}

static const char *str_at(const cJSON *doc, const char *ptr)
{
	const cJSON *v = ax_json_ptr(doc, ptr);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static void assert_no_key(const struct reason_llm_result *r)
{
	if (strstr(r->message, KEY) != NULL)
		fail_msg("key in message: %s", r->message);
	if (r->answer != NULL && strstr(r->answer, KEY) != NULL)
		fail_msg("key in answer");
}

/* The analysis the model wrote inside a fixture (the text at ptr, fences
 * removed), which the validated result must equal. */
static void assert_analysis_is(const struct reason_llm_result *r, const cJSON *doc,
			       const char *ptr)
{
	cJSON *want = reason_llm_parse_answer(str_at(doc, ptr));

	assert_non_null(want);
	assert_non_null(r->analysis);
	assert_true(cJSON_Compare(r->analysis, want, 1));
	cJSON_Delete(want);
}

static void assert_cost(double got, double want)
{
	if (fabs(got - want) > 1e-12)
		fail_msg("cost %.12f, want %.12f", got, want);
}

/* ---------------------------------------------------------------- on the wire */

static void test_openai_request_and_success(void **state)
{
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	const struct rcv_request *rq;
	struct fx f;
	cJSON *body, *doc, *m;
	char buf[512], *want_system;

	(void)state;
	fx_load(&f, "openai_ok");
	script_fx(r, &f, 200, 0, 0);
	cfg_init(&c, REASON_LLM_OPENAI, local_url(r, "/v1/"), KEY);
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_OK);
	assert_string_equal(res.message, "");
	assert_string_equal(reason_llm_status_code(res.status), "ok");

	/* the request */
	assert_int_equal(rcv_wait(r, 1, 2000), 1);
	rq = rcv_get(r, 0);
	assert_string_equal(rq->method, "POST");
	assert_string_equal(rq->path, "/v1/chat/completions");
	assert_string_equal(rcv_header(rq, "authorization", buf, sizeof(buf)), "Bearer " KEY);
	assert_string_equal(rcv_header(rq, "content-type", buf, sizeof(buf)), "application/json");
	assert_null(rcv_header(rq, "api-key", buf, sizeof(buf)));
	assert_null(rcv_header(rq, "x-api-key", buf, sizeof(buf)));
	body = ax_json_parse(rq->body, rq->body_len, 0);
	assert_non_null(body);
	assert_int_equal(cJSON_GetArraySize(body), 5);
	assert_string_equal(str_at(body, "/model"), REASON_LLM_OPENAI_MODEL);
	assert_int_equal(cJSON_GetArraySize(ax_json_ptr(body, "/messages")), 2);
	assert_string_equal(str_at(body, "/messages/0/role"), "system");
	want_system = malloc(strlen(SYSTEM) + 2 + strlen(reason_analysis_instructions()) + 1);
	sprintf(want_system, "%s\n\n%s", SYSTEM, reason_analysis_instructions());
	assert_string_equal(str_at(body, "/messages/0/content"), want_system);
	assert_string_equal(str_at(body, "/messages/1/role"), "user");
	assert_string_equal(str_at(body, "/messages/1/content"), USER);
	m = cJSON_GetObjectItem(body, "temperature");
	assert_true(cJSON_IsNumber(m) && m->valuedouble == 0);
	assert_int_equal(num_at(body, "/max_tokens"), 512);
	assert_string_equal(str_at(body, "/response_format/type"), "json_object");
	cJSON_Delete(body);

	/* the result, against the recorded answer */
	doc = fx_doc(&f);
	assert_string_equal(res.provider, "openai");
	assert_string_equal(res.model, str_at(doc, "/model"));
	assert_int_equal(res.input_tokens, num_at(doc, "/usage/prompt_tokens"));
	assert_int_equal(res.output_tokens, num_at(doc, "/usage/completion_tokens"));
	assert_int_equal(res.cost_known, 1);   /* gpt-4o-mini: 0.15 / 0.60 USD per 1M */
	assert_cost(res.cost_usd,
		    (res.input_tokens * 0.15 + res.output_tokens * 0.60) / 1e6);
	assert_int_equal(res.http_status, 200);
	assert_true(res.latency_ms >= 0 && res.latency_ms < 5000);
	assert_analysis_is(&res, doc, "/choices/0/message/content");
	assert_string_equal(res.answer, str_at(doc, "/choices/0/message/content"));
	/* the validated copy holds exactly the shape */
	assert_int_equal(cJSON_GetArraySize(res.analysis), 5);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(res.analysis, "actions")), 2);
	cJSON_Delete(doc);
	reason_llm_result_release(&res);
	reason_llm_result_release(&res);   /* idempotent */
	free(want_system);
	fx_release(&f);
	rcv_stop(r);
}

static void test_anthropic_request_and_success(void **state)
{
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	const struct rcv_request *rq;
	struct fx f;
	cJSON *body, *doc;
	char buf[512];

	(void)state;
	fx_load(&f, "anthropic_ok");
	script_fx(r, &f, 200, 0, 0);
	cfg_init(&c, REASON_LLM_ANTHROPIC, local_url(r, ""), KEY);
	c.model = "claude-3-5-haiku-20241022";
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_OK);

	assert_int_equal(rcv_wait(r, 1, 2000), 1);
	rq = rcv_get(r, 0);
	assert_string_equal(rq->method, "POST");
	assert_string_equal(rq->path, "/v1/messages");
	assert_string_equal(rcv_header(rq, "x-api-key", buf, sizeof(buf)), KEY);
	assert_string_equal(rcv_header(rq, "anthropic-version", buf, sizeof(buf)), "2023-06-01");
	assert_string_equal(rcv_header(rq, "content-type", buf, sizeof(buf)), "application/json");
	assert_null(rcv_header(rq, "authorization", buf, sizeof(buf)));
	body = ax_json_parse(rq->body, rq->body_len, 0);
	assert_non_null(body);
	assert_int_equal(cJSON_GetArraySize(body), 5);
	assert_string_equal(str_at(body, "/model"), "claude-3-5-haiku-20241022");
	assert_int_equal(num_at(body, "/max_tokens"), 512);
	assert_int_equal(num_at(body, "/temperature"), 0);
	assert_true(strncmp(str_at(body, "/system"), SYSTEM "\n\n", strlen(SYSTEM) + 2) == 0);
	assert_string_equal(str_at(body, "/system") + strlen(SYSTEM) + 2,
			    reason_analysis_instructions());
	assert_int_equal(cJSON_GetArraySize(ax_json_ptr(body, "/messages")), 1);
	assert_string_equal(str_at(body, "/messages/0/role"), "user");
	assert_string_equal(str_at(body, "/messages/0/content"), USER);
	assert_null(cJSON_GetObjectItem(body, "response_format"));
	cJSON_Delete(body);

	doc = fx_doc(&f);
	assert_string_equal(res.provider, "anthropic");
	assert_string_equal(res.model, str_at(doc, "/model"));
	assert_int_equal(res.input_tokens, num_at(doc, "/usage/input_tokens"));
	assert_int_equal(res.output_tokens, num_at(doc, "/usage/output_tokens"));
	assert_int_equal(res.cost_known, 1);   /* claude-3-5-haiku: 0.80 / 4.00 */
	assert_cost(res.cost_usd, (res.input_tokens * 0.80 + res.output_tokens * 4.00) / 1e6);
	assert_analysis_is(&res, doc, "/content/0/text");
	cJSON_Delete(doc);
	reason_llm_result_release(&res);
	fx_release(&f);
	rcv_stop(r);
}

/* Azure: a deployment URL gets api-version (the default, or the URL's
 * own) and the key as api-key. */
static void test_azure_deployment(void **state)
{
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	struct fx f;
	char buf[512];

	(void)state;
	fx_load(&f, "openai_ok");
	script_fx(r, &f, 200, 0, 0);
	script_fx(r, &f, 200, 0, 0);
	cfg_init(&c, REASON_LLM_OPENAI, local_url(r, "/openai/deployments/gpt4o-prod/"), KEY);
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_OK);
	reason_llm_result_release(&res);
	cfg_init(&c, REASON_LLM_OPENAI,
		 local_url(r, "/openai/deployments/gpt4o-prod?api-version=2024-06-01"), KEY);
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_OK);
	reason_llm_result_release(&res);

	assert_int_equal(rcv_wait(r, 2, 2000), 2);
	assert_string_equal(rcv_get(r, 0)->path,
			    "/openai/deployments/gpt4o-prod/chat/completions?api-version="
			    REASON_LLM_AZURE_API_VERSION);
	assert_string_equal(rcv_header(rcv_get(r, 0), "api-key", buf, sizeof(buf)), KEY);
	assert_null(rcv_header(rcv_get(r, 0), "authorization", buf, sizeof(buf)));
	assert_string_equal(rcv_get(r, 1)->path, "/openai/deployments/gpt4o-prod/chat/completions"
						 "?api-version=2024-06-01");
	fx_release(&f);
	rcv_stop(r);
}

/* The other URL forms: a full endpoint URL is used as it is, a query
 * string is kept, and Anthropic's base may or may not end in /v1. */
static void test_url_forms(void **state)
{
	static const struct {
		enum reason_llm_provider p;
		const char *base, *fixture, *path;
	} cases[] = {
		{ REASON_LLM_OPENAI, "/v1/chat/completions", "openai_ok", "/v1/chat/completions" },
		{ REASON_LLM_OPENAI, "", "openai_ok", "/chat/completions" },
		{ REASON_LLM_OPENAI, "/litellm/v1/?team=sre", "openai_ok",
		  "/litellm/v1/chat/completions?team=sre" },
		{ REASON_LLM_ANTHROPIC, "/v1/messages", "anthropic_ok", "/v1/messages" },
		{ REASON_LLM_ANTHROPIC, "/proxy/anthropic/", "anthropic_ok",
		  "/proxy/anthropic/v1/messages" },
	};
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	size_t i, n = sizeof(cases) / sizeof(cases[0]);

	(void)state;
	for (i = 0; i < n; i++) {
		struct fx f;

		fx_load(&f, cases[i].fixture);
		script_fx(r, &f, 200, 0, 0);
		cfg_init(&c, cases[i].p, local_url(r, cases[i].base), KEY);
		assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_OK);
		reason_llm_result_release(&res);
		fx_release(&f);
	}
	assert_int_equal(rcv_wait(r, (int)n, 2000), (int)n);
	for (i = 0; i < n; i++)
		assert_string_equal(rcv_get(r, (int)i)->path, cases[i].path);
	rcv_stop(r);
}

/* Fenced answers: Claude's habit, and a local model behind Ollama's
 * OpenAI-compatible endpoint (no key: no Authorization; unknown price). */
static void test_fenced_json(void **state)
{
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	struct fx f, g;
	cJSON *doc;
	char buf[256];

	(void)state;
	fx_load(&f, "anthropic_fenced");
	fx_load(&g, "ollama_fenced");
	script_fx(r, &f, 200, 0, 0);
	script_fx(r, &g, 200, 0, 0);

	cfg_init(&c, REASON_LLM_ANTHROPIC, local_url(r, "/v1"), KEY);
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_OK);
	doc = fx_doc(&f);
	assert_true(strncmp(str_at(doc, "/content/0/text"), "```json\n", 8) == 0);
	assert_analysis_is(&res, doc, "/content/0/text");
	assert_int_equal(res.output_tokens, num_at(doc, "/usage/output_tokens"));
	cJSON_Delete(doc);
	reason_llm_result_release(&res);

	cfg_init(&c, REASON_LLM_OPENAI, local_url(r, "/v1"), NULL);
	c.model = "llama3.1:8b";
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_OK);
	doc = fx_doc(&g);
	assert_analysis_is(&res, doc, "/choices/0/message/content");
	assert_string_equal(res.model, "llama3.1:8b");
	assert_int_equal(res.input_tokens, num_at(doc, "/usage/prompt_tokens"));
	assert_int_equal(res.cost_known, 0);
	assert_cost(res.cost_usd, 0);
	cJSON_Delete(doc);
	reason_llm_result_release(&res);

	assert_int_equal(rcv_wait(r, 2, 2000), 2);
	assert_string_equal(rcv_get(r, 0)->path, "/v1/messages");
	assert_string_equal(rcv_get(r, 1)->path, "/v1/chat/completions");
	assert_null(rcv_header(rcv_get(r, 1), "authorization", buf, sizeof(buf)));
	fx_release(&f);
	fx_release(&g);
	rcv_stop(r);
}

/* One failing exchange: the fixture answered with status, expect st and
 * every fragment in the message. */
static void expect_failure(enum reason_llm_provider p, const char *fixture, int status,
			   enum reason_llm_status st, const char *frag1, const char *frag2,
			   struct reason_llm_result *res)
{
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct fx f;

	fx_load(&f, fixture);
	script_fx(r, &f, status, 0, 0);
	cfg_init(&c, p, local_url(r, p == REASON_LLM_ANTHROPIC ? "" : "/v1"), KEY);
	c.max_tokens = 64;
	if (reason_llm_call(&c, &q, res) != st)
		fail_msg("%s: got %s (%s), want %s", fixture, reason_llm_status_code(res->status),
			 res->message, reason_llm_status_code(st));
	if (frag1 != NULL && strstr(res->message, frag1) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", fixture, res->message, frag1);
	if (frag2 != NULL && strstr(res->message, frag2) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", fixture, res->message, frag2);
	assert_null(res->analysis);
	assert_int_equal(res->http_status, status);
	assert_no_key(res);
	assert_int_equal(rcv_wait(r, 1, 2000), 1);
	fx_release(&f);
	rcv_stop(r);
}

static void test_http_429(void **state)
{
	struct reason_llm_result res;
	struct fx f;

	(void)state;
	fx_load(&f, "anthropic_429");
	expect_failure(REASON_LLM_ANTHROPIC, "anthropic_429", 429, REASON_LLM_HTTP_429,
		       "HTTP 429 rate_limit_error: This request would exceed the rate limit", NULL,
		       &res);
	assert_string_equal(reason_llm_status_code(res.status), "http_429");
	assert_int_equal(res.retry_after_s, fx_header_long(&f, "retry-after"));
	reason_llm_result_release(&res);
	fx_release(&f);

	expect_failure(REASON_LLM_OPENAI, "openai_429", 429, REASON_LLM_HTTP_429,
		       "HTTP 429 tokens rate_limit_exceeded: Rate limit reached", NULL, &res);
	assert_int_equal(res.retry_after_s, 0);   /* OpenAI sent none */
	reason_llm_result_release(&res);
}

static void test_http_5xx(void **state)
{
	struct reason_llm_result res;
	struct fx f;

	(void)state;
	expect_failure(REASON_LLM_OPENAI, "openai_500", 500, REASON_LLM_HTTP_5XX,
		       "HTTP 500 server_error: The server had an error", NULL, &res);
	assert_string_equal(reason_llm_status_code(res.status), "http_5xx");
	reason_llm_result_release(&res);

	fx_load(&f, "anthropic_529");
	expect_failure(REASON_LLM_ANTHROPIC, "anthropic_529", 529, REASON_LLM_HTTP_5XX,
		       "HTTP 529 overloaded_error: Overloaded", NULL, &res);
	assert_int_equal(res.retry_after_s, fx_header_long(&f, "retry-after"));
	reason_llm_result_release(&res);
	fx_release(&f);
}

static void test_http_401(void **state)
{
	struct reason_llm_result res;

	(void)state;
	expect_failure(REASON_LLM_OPENAI, "openai_401", 401, REASON_LLM_HTTP_4XX,
		       "HTTP 401 invalid_request_error invalid_api_key: Incorrect API key", NULL,
		       &res);
	assert_string_equal(reason_llm_status_code(res.status), "http_4xx");
	reason_llm_result_release(&res);
	expect_failure(REASON_LLM_ANTHROPIC, "anthropic_401", 401, REASON_LLM_HTTP_4XX,
		       "HTTP 401 authentication_error: invalid x-api-key", NULL, &res);
	reason_llm_result_release(&res);
}

/* The receiver holds its answer past the client's timeout. */
static void test_timeout(void **state)
{
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	struct fx f;

	(void)state;
	fx_load(&f, "openai_ok");
	script_fx(r, &f, 200, 0, 1500);
	cfg_init(&c, REASON_LLM_OPENAI, local_url(r, "/v1"), KEY);
	c.timeout_ms = 300;
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_TIMEOUT);
	assert_string_equal(reason_llm_status_code(res.status), "timeout");
	assert_non_null(strstr(res.message, "no answer within 300 ms"));
	assert_true(res.latency_ms >= 250 && res.latency_ms < 1400);
	assert_int_equal(res.http_status, 0);
	assert_int_equal(res.input_tokens, 0);
	assert_null(res.analysis);
	assert_int_equal(rcv_count(r), 1);   /* it was sent */
	assert_no_key(&res);
	reason_llm_result_release(&res);
	fx_release(&f);
	rcv_stop(r);   /* sends the held reply to a closed connection */
}

/* A 200 whose body stops half way (a proxy cut it). */
static void test_truncated_body(void **state)
{
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	struct fx f;

	(void)state;
	fx_load(&f, "openai_ok");
	script_fx(r, &f, 200, f.len / 2, 0);
	cfg_init(&c, REASON_LLM_OPENAI, local_url(r, "/v1"), KEY);
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_INVALID_JSON);
	assert_string_equal(reason_llm_status_code(res.status), "invalid_json");
	assert_non_null(strstr(res.message, "is not JSON"));
	assert_int_equal(res.http_status, 200);
	assert_null(res.analysis);
	assert_null(res.answer);
	reason_llm_result_release(&res);
	fx_release(&f);
	rcv_stop(r);
}

/* The model ran out of tokens: usage is still recorded, the cut text kept. */
static void test_max_tokens(void **state)
{
	struct reason_llm_result res;
	struct fx f;
	cJSON *doc;

	(void)state;
	fx_load(&f, "openai_length");
	doc = fx_doc(&f);
	expect_failure(REASON_LLM_OPENAI, "openai_length", 200, REASON_LLM_TRUNCATED,
		       "finish_reason length", "64 tokens", &res);
	assert_string_equal(reason_llm_status_code(res.status), "truncated");
	assert_string_equal(res.answer, str_at(doc, "/choices/0/message/content"));
	assert_int_equal(res.output_tokens, num_at(doc, "/usage/completion_tokens"));
	assert_int_equal(res.input_tokens, num_at(doc, "/usage/prompt_tokens"));
	assert_int_equal(res.cost_known, 1);
	assert_true(res.cost_usd > 0);
	cJSON_Delete(doc);
	reason_llm_result_release(&res);
	fx_release(&f);

	fx_load(&f, "anthropic_max_tokens");
	doc = fx_doc(&f);
	expect_failure(REASON_LLM_ANTHROPIC, "anthropic_max_tokens", 200, REASON_LLM_TRUNCATED,
		       "stop_reason max_tokens", NULL, &res);
	assert_int_equal(res.output_tokens, num_at(doc, "/usage/output_tokens"));
	cJSON_Delete(doc);
	reason_llm_result_release(&res);
	fx_release(&f);
}

static void test_answer_off_shape(void **state)
{
	struct reason_llm_result res;
	struct fx f;
	cJSON *doc, *ans;
	char want[64];

	(void)state;
	/* the recorded answer's confidence, which is out of range */
	fx_load(&f, "openai_bad_shape");
	doc = fx_doc(&f);
	ans = reason_llm_parse_answer(str_at(doc, "/choices/0/message/content"));
	assert_non_null(ans);
	snprintf(want, sizeof(want), "confidence: %g is not in [0, 1]",
		 cJSON_GetObjectItem(ans, "confidence")->valuedouble);
	expect_failure(REASON_LLM_OPENAI, "openai_bad_shape", 200, REASON_LLM_INVALID_SHAPE,
		       want, NULL, &res);
	assert_string_equal(reason_llm_status_code(res.status), "invalid_shape");
	assert_int_equal(res.output_tokens, num_at(doc, "/usage/completion_tokens"));
	cJSON_Delete(ans);
	cJSON_Delete(doc);
	reason_llm_result_release(&res);
	fx_release(&f);

	expect_failure(REASON_LLM_ANTHROPIC, "anthropic_bad_shape", 200, REASON_LLM_INVALID_SHAPE,
		       "probable_cause: missing", NULL, &res);
	reason_llm_result_release(&res);
}

static void test_budget(void **state)
{
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	struct fx f;

	(void)state;
	assert_true(reason_llm_budget_allows(0, 123456789));   /* no limit */
	assert_true(reason_llm_budget_allows(1000, 999));
	assert_false(reason_llm_budget_allows(1000, 1000));
	assert_false(reason_llm_budget_allows(1000, 5000));

	fx_load(&f, "openai_ok");
	script_fx(r, &f, 200, 0, 0);
	cfg_init(&c, REASON_LLM_OPENAI, local_url(r, "/v1"), KEY);
	c.daily_tokens = 1000;
	q.used_today = 1000;
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_BUDGET_EXHAUSTED);
	assert_string_equal(reason_llm_status_code(res.status), "budget_exhausted");
	assert_non_null(strstr(res.message, "1000 of 1000 tokens"));
	assert_int_equal(res.latency_ms, 0);
	reason_llm_result_release(&res);
	assert_int_equal(rcv_wait(r, 1, 300), 0);   /* no request went out */

	q.used_today = 999;
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_OK);
	assert_int_equal(rcv_count(r), 1);
	reason_llm_result_release(&res);
	fx_release(&f);
	rcv_stop(r);
}

static void test_not_configured_and_unreachable(void **state)
{
	struct receiver *r = rcv_start(200);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	int port;

	(void)state;
	cfg_init(&c, REASON_LLM_NONE, NULL, KEY);
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_NOT_CONFIGURED);
	assert_string_equal(res.provider, "none");
	assert_string_equal(reason_llm_status_code(res.status), "not_configured");
	reason_llm_result_release(&res);
	assert_int_equal(reason_llm_call(NULL, &q, &res), REASON_LLM_NOT_CONFIGURED);
	reason_llm_result_release(&res);

	/* the public APIs need a key: refused before any network */
	cfg_init(&c, REASON_LLM_OPENAI, NULL, NULL);
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_NOT_CONFIGURED);
	assert_non_null(strstr(res.message, "no API key"));
	reason_llm_result_release(&res);
	cfg_init(&c, REASON_LLM_ANTHROPIC, "https://api.anthropic.com/", "");
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_NOT_CONFIGURED);
	reason_llm_result_release(&res);
	cfg_init(&c, REASON_LLM_OPENAI, "ftp://models.internal/v1", KEY);
	assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_NOT_CONFIGURED);
	assert_no_key(&res);
	reason_llm_result_release(&res);

	/* nothing listens on a port that was just freed */
	port = rcv_port(r);
	rcv_stop(r);
	{
		char url[64];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", port);
		cfg_init(&c, REASON_LLM_OPENAI, url, KEY);
		assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_UNREACHABLE);
		assert_string_equal(reason_llm_status_code(res.status), "unreachable");
		assert_int_equal(res.http_status, 0);
		assert_no_key(&res);
		reason_llm_result_release(&res);
	}
}

/* Run every outcome with stderr captured; the key must appear nowhere but
 * in the request headers -- not even when a proxy quotes it back. */
static void test_key_never_leaks(void **state)
{
	static const struct {
		enum reason_llm_provider p;
		const char *fixture;
		int status;
	} runs[] = {
		{ REASON_LLM_OPENAI, "openai_ok", 200 },
		{ REASON_LLM_OPENAI, "openai_401", 401 },
		{ REASON_LLM_OPENAI, "openai_429", 429 },
		{ REASON_LLM_OPENAI, "openai_500", 500 },
		{ REASON_LLM_OPENAI, "openai_length", 200 },
		{ REASON_LLM_OPENAI, "openai_bad_shape", 200 },
		{ REASON_LLM_OPENAI, "litellm_401_echo", 401 },
		{ REASON_LLM_ANTHROPIC, "anthropic_ok", 200 },
		{ REASON_LLM_ANTHROPIC, "anthropic_401", 401 },
		{ REASON_LLM_ANTHROPIC, "anthropic_429", 429 },
		{ REASON_LLM_ANTHROPIC, "anthropic_529", 529 },
		{ REASON_LLM_ANTHROPIC, "anthropic_max_tokens", 200 },
	};
	struct receiver *r = rcv_start(500);
	struct reason_llm_config c;
	struct reason_llm_request q = req_default();
	struct reason_llm_result res;
	FILE *cap = tmpfile();
	int saved = dup(STDERR_FILENO), i, n = (int)(sizeof(runs) / sizeof(runs[0]));
	char *logged, buf[256], desc[512];
	size_t len;

	(void)state;
	assert_non_null(cap);
	fflush(stderr);
	dup2(fileno(cap), STDERR_FILENO);
	for (i = 0; i < n; i++) {
		struct fx f;

		fx_load(&f, runs[i].fixture);
		script_fx(r, &f, runs[i].status, 0, 0);
		cfg_init(&c, runs[i].p, local_url(r, runs[i].p == REASON_LLM_OPENAI ? "/v1" : ""),
			 KEY);
		if (reason_llm_call(&c, &q, &res) == REASON_LLM_OK)
			assert_non_null(res.analysis);
		assert_no_key(&res);
		if (strcmp(runs[i].fixture, "litellm_401_echo") == 0) {
			assert_non_null(strstr(f.body, KEY));   /* the proxy did quote it */
			assert_int_equal(res.status, REASON_LLM_HTTP_4XX);
			assert_non_null(strstr(res.message, "Received API Key = ****,"));
		}
		reason_llm_result_release(&res);
		fx_release(&f);
	}
	/* a timeout and a refused connection too */
	{
		struct fx f;

		fx_load(&f, "openai_ok");
		script_fx(r, &f, 200, 0, 800);
		cfg_init(&c, REASON_LLM_OPENAI, local_url(r, "/v1"), KEY);
		c.timeout_ms = 200;
		assert_int_equal(reason_llm_call(&c, &q, &res), REASON_LLM_TIMEOUT);
		assert_no_key(&res);
		reason_llm_result_release(&res);
		fx_release(&f);
	}
	assert_non_null(reason_llm_describe(&c, desc, sizeof(desc)));
	assert_null(strstr(desc, KEY));
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	assert_int_equal(rcv_wait(r, n + 1, 2000), n + 1);
	/* the key did go where it belongs */
	assert_string_equal(rcv_header(rcv_get(r, 0), "authorization", buf, sizeof(buf)),
			    "Bearer " KEY);
	assert_string_equal(rcv_header(rcv_get(r, 7), "x-api-key", buf, sizeof(buf)), KEY);
	rewind(cap);
	fseek(cap, 0, SEEK_END);
	len = (size_t)ftell(cap);
	rewind(cap);
	logged = calloc(1, len + 1);
	if (len > 0)
		assert_int_equal(fread(logged, 1, len, cap), len);
	assert_null(strstr(logged, KEY));
	free(logged);
	fclose(cap);
	rcv_stop(r);
}

/* ---------------------------------------------------------------- pure parts */

#define VALID                                                                              \
	"{\"category\":\"disk\",\"summary\":\"/var is 97% full on db-3.\",\"probable_cause\":" \
	"\"WAL files piling up behind a stuck replica.\",\"confidence\":0.6,\"actions\":["    \
	"{\"type\":\"notify\",\"params\":{},\"reason\":\"a human should look\"}]}"

static void expect_invalid(const char *doc, const char *fragment)
{
	cJSON *j = ax_json_parse(doc, strlen(doc), 0), *out = (cJSON *)1;
	char err[256] = "";

	assert_non_null(j);
	assert_int_equal(reason_analysis_validate(j, &out, err, sizeof(err)), -1);
	assert_null(out);
	if (strstr(err, fragment) == NULL)
		fail_msg("%s: error \"%s\" lacks \"%s\"", doc, err, fragment);
	cJSON_Delete(j);
}

static void test_validator(void **state)
{
	cJSON *j, *out;
	char err[256], many[4096];
	int i;

	(void)state;
	/* valid; extra members are dropped from the copy; 0 and 1 are in range */
	j = cJSON_Parse(VALID);
	cJSON_AddStringToObject(j, "extra", "ignored");
	assert_int_equal(reason_analysis_validate(j, &out, err, sizeof(err)), 0);
	assert_null(cJSON_GetObjectItem(out, "extra"));
	cJSON_DeleteItemFromObject(j, "extra");
	assert_true(cJSON_Compare(out, j, 1));
	cJSON_Delete(out);
	cJSON_ReplaceItemInObject(j, "confidence", cJSON_CreateNumber(0));
	assert_int_equal(reason_analysis_validate(j, NULL, err, sizeof(err)), 0);
	cJSON_ReplaceItemInObject(j, "confidence", cJSON_CreateNumber(1));
	cJSON_ReplaceItemInObject(j, "actions", cJSON_CreateArray());
	assert_int_equal(reason_analysis_validate(j, NULL, err, sizeof(err)), 0);
	cJSON_Delete(j);

	expect_invalid("[]", "not a JSON object");
	expect_invalid("{\"summary\":\"s\",\"probable_cause\":\"p\",\"confidence\":0.5,"
		       "\"actions\":[]}", "category: missing");
	expect_invalid("{\"category\":7,\"summary\":\"s\",\"probable_cause\":\"p\","
		       "\"confidence\":0.5,\"actions\":[]}", "category: not a string");
	expect_invalid("{\"category\":\"cpu\",\"summary\":\"\",\"probable_cause\":\"p\","
		       "\"confidence\":0.5,\"actions\":[]}", "summary: empty");
	expect_invalid("{\"category\":\"cpu\",\"summary\":\"s\",\"probable_cause\":\"p\","
		       "\"confidence\":\"0.5\",\"actions\":[]}", "confidence: not a number");
	expect_invalid("{\"category\":\"cpu\",\"summary\":\"s\",\"probable_cause\":\"p\","
		       "\"confidence\":-0.1,\"actions\":[]}", "confidence: -0.1 is not in [0, 1]");
	expect_invalid("{\"category\":\"cpu\",\"summary\":\"s\",\"probable_cause\":\"p\","
		       "\"confidence\":0.5,\"actions\":{}}", "actions: not an array");
	expect_invalid("{\"category\":\"cpu\",\"summary\":\"s\",\"probable_cause\":\"p\","
		       "\"confidence\":0.5,\"actions\":[\"restart\"]}",
		       "actions[0]: not an object");
	expect_invalid("{\"category\":\"cpu\",\"summary\":\"s\",\"probable_cause\":\"p\","
		       "\"confidence\":0.5,\"actions\":[{\"type\":\"scale\",\"params\":{},"
		       "\"reason\":\"r\"},{\"type\":\"scale\",\"params\":[],\"reason\":\"r\"}]}",
		       "actions[1].params: not an object");
	expect_invalid("{\"category\":\"cpu\",\"summary\":\"s\",\"probable_cause\":\"p\","
		       "\"confidence\":0.5,\"actions\":[{\"params\":{},\"reason\":\"r\"}]}",
		       "actions[0].type: missing");
	/* too many actions */
	i = snprintf(many, sizeof(many), "{\"category\":\"cpu\",\"summary\":\"s\","
		     "\"probable_cause\":\"p\",\"confidence\":0.5,\"actions\":[");
	for (int k = 0; k <= REASON_SHAPE_ACTIONS_MAX; k++)
		i += snprintf(many + i, sizeof(many) - (size_t)i,
			      "%s{\"type\":\"t\",\"params\":{},\"reason\":\"r\"}", k ? "," : "");
	snprintf(many + i, sizeof(many) - (size_t)i, "]}");
	expect_invalid(many, "actions: 17 entries, at most 16");

	/* the instructions name every member of the shape */
#define NAMED(name, kind, text)                                                            \
	assert_non_null(strstr(reason_analysis_instructions(), "\"" #name "\": " text));
	REASON_ANALYSIS_FIELDS(NAMED)
	REASON_ACTION_FIELDS(NAMED)
#undef NAMED
	assert_ptr_equal(reason_analysis_shape.validate, reason_analysis_validate);
	assert_string_equal(reason_analysis_shape.instructions, reason_analysis_instructions());
}

static void test_parse_answer(void **state)
{
	static const char *const good[] = {
		"{\"a\":1}",
		"  \n{\"a\":1}\n\n",
		"```json\n{\"a\":1}\n```",
		"```\n{\"a\":1}\n```\n",
		"```JSON\r\n{\"a\":1}\r\n```",
		"```json\n{\"a\":1}",    /* no closing fence, complete document */
	};
	static const char *const bad[] = {
		"", "   ", "Here is the analysis: {\"a\":1}", "{\"a\":1} Hope this helps!",
		"```json {\"a\":1}```", "```json\n{\"a\":", "{\"a\":1}\n```",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cJSON *j = reason_llm_parse_answer(good[i]);

		if (j == NULL)
			fail_msg("refused \"%s\"", good[i]);
		assert_int_equal(cJSON_GetObjectItem(j, "a")->valueint, 1);
		cJSON_Delete(j);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *j = reason_llm_parse_answer(bad[i]);

		if (j != NULL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_null(reason_llm_parse_answer(NULL));
}

static void unset_alexus(void)
{
	char name[256];
	int again = 1;

	while (again) {
		char **e;

		again = 0;
		for (e = environ; *e != NULL; e++) {
			if (strncmp(*e, "ALEXUS_", 7) == 0) {
				size_t n = strcspn(*e, "=");

				if (n >= sizeof(name))
					n = sizeof(name) - 1;
				memcpy(name, *e, n);
				name[n] = '\0';
				unsetenv(name);
				again = 1;
				break;
			}
		}
	}
}

static void test_prices(void **state)
{
	static const char *const good[] = {
		"", "gpt-4o=2.5/10", "my-model=1/2,openai/gpt-4o-mini=0.15/0.6",
		"a=.5/5.", "azure:gpt4o-prod=2.50/10.00",
	};
	static const char *const bad[] = {
		"gpt-4o", "gpt-4o=2.5", "gpt-4o=2.5/", "gpt-4o=/10", "=1/2", "gpt 4o=1/2",
		"gpt-4o=1/2,", "gpt-4o=1/2;x=1/2", "gpt-4o=-1/2", "gpt-4o=1e3/2", "gpt-4o=abc/2",
		"a=1/1,b=1/1,c=1/1,d=1/1,e=1/1,f=1/1,g=1/1,h=1/1,i=1/1,j=1/1,k=1/1,l=1/1,m=1/1,"
		"n=1/1,o=1/1,p=1/1,q=1/1",
	};
	struct reason_llm_config c;
	struct ax_config ac;
	char err[256];
	size_t i;
	int known;

	(void)state;
	memset(&c, 0, sizeof(c));
	/* built-in: the longest prefix wins */
	assert_cost(reason_llm_cost(NULL, "gpt-4o-2024-08-06", 1000000, 1000000, &known), 12.5);
	assert_int_equal(known, 1);
	assert_cost(reason_llm_cost(NULL, "gpt-4o-mini-2024-07-18", 1000000, 0, &known), 0.15);
	assert_cost(reason_llm_cost(NULL, "claude-opus-4-5-20251101", 0, 1000000, &known), 25);
	assert_cost(reason_llm_cost(NULL, "claude-opus-4-1-20250805", 0, 1000000, &known), 75);
	/* a proxy's provider/model */
	assert_cost(reason_llm_cost(NULL, "openai/gpt-4o-mini", 2000000, 0, &known), 0.30);
	assert_int_equal(known, 1);
	assert_cost(reason_llm_cost(NULL, "mistral-large", 1000, 1000, &known), 0);
	assert_int_equal(known, 0);
	assert_cost(reason_llm_cost(NULL, "", 1000, 1000, &known), 0);
	assert_int_equal(known, 0);

	/* configured entries come first, and extend */
	assert_int_equal(reason_llm_prices_parse(&c, "gpt-4o=2/8,mistral-large=2/6", err,
						 sizeof(err)), AX_OK);
	assert_int_equal(c.nprices, 2);
	assert_string_equal(c.prices[1].prefix, "mistral-large");
	assert_cost(reason_llm_cost(&c, "gpt-4o-2024-08-06", 1000000, 1000000, &known), 10);
	assert_cost(reason_llm_cost(&c, "gpt-4o-mini", 1000000, 0, &known), 0.15);
	assert_cost(reason_llm_cost(&c, "mistral-large-2411", 500000, 500000, &known), 4);
	assert_int_equal(known, 1);

	/* the same verdicts from config load and from the module's parser */
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		unset_alexus();
		setenv("ALEXUS_LLM_PRICES", good[i], 1);
		if (ax_config_load(&ac, err, sizeof(err)) != AX_OK)
			fail_msg("config refused \"%s\": %s", good[i], err);
		ax_config_release(&ac);
		if (reason_llm_prices_parse(&c, good[i], err, sizeof(err)) != AX_OK)
			fail_msg("llm refused \"%s\": %s", good[i], err);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unset_alexus();
		setenv("ALEXUS_LLM_PRICES", bad[i], 1);
		if (ax_config_load(&ac, err, sizeof(err)) != AX_EINVAL)
			fail_msg("config accepted \"%s\"", bad[i]);
		if (strstr(err, "ALEXUS_LLM_PRICES") == NULL)
			fail_msg("\"%s\": %s", bad[i], err);
		if (reason_llm_prices_parse(&c, bad[i], err, sizeof(err)) != AX_EINVAL)
			fail_msg("llm accepted \"%s\"", bad[i]);
	}
	unset_alexus();
}

static void test_config_from(void **state)
{
	struct reason_llm_config c;
	struct ax_config ac;
	enum reason_llm_provider p;
	char err[256], desc[512];

	(void)state;
	unset_alexus();
	assert_int_equal(ax_config_load(&ac, err, sizeof(err)), AX_OK);
	assert_int_equal(reason_llm_config_from(&c, &ac, err, sizeof(err)), AX_OK);
	assert_int_equal(c.provider, REASON_LLM_NONE);
	assert_int_equal(c.timeout_ms, 30000);
	assert_int_equal(c.max_tokens, 1024);
	assert_int_equal(c.daily_tokens, 1000000);
	assert_int_equal(c.nprices, 0);
	assert_string_equal(reason_llm_describe(&c, desc, sizeof(desc)),
			    "llm: none (the heuristic investigation only)");
	ax_config_release(&ac);

	setenv("ALEXUS_LLM_PROVIDER", "openai", 1);
	setenv("ALEXUS_LLM_URL", "https://proxy:s3cr3t@llm.internal:4000/v1?team=sre", 1);
	setenv("ALEXUS_LLM_MODEL", "gpt-4.1-mini", 1);
	setenv("ALEXUS_LLM_KEY", KEY, 1);
	setenv("ALEXUS_LLM_TIMEOUT_MS", "12000", 1);
	setenv("ALEXUS_LLM_MAX_TOKENS", "800", 1);
	setenv("ALEXUS_LLM_DAILY_TOKENS", "250000", 1);
	setenv("ALEXUS_LLM_PRICES", "gpt-4.1-mini=0.4/1.6", 1);
	assert_int_equal(ax_config_load(&ac, err, sizeof(err)), AX_OK);
	assert_int_equal(reason_llm_config_from(&c, &ac, err, sizeof(err)), AX_OK);
	assert_int_equal(c.provider, REASON_LLM_OPENAI);
	assert_string_equal(c.key, KEY);
	assert_string_equal(c.model, "gpt-4.1-mini");
	assert_int_equal(c.timeout_ms, 12000);
	assert_int_equal(c.max_tokens, 800);
	assert_int_equal(c.daily_tokens, 250000);
	assert_int_equal(c.nprices, 1);
	reason_llm_describe(&c, desc, sizeof(desc));
	assert_string_equal(desc, "llm: openai-compatible https://llm.internal:4000 model "
				  "gpt-4.1-mini, timeout 12000 ms, max 800 tokens, 250000 tokens "
				  "per tenant per day");
	ax_config_release(&ac);

	setenv("ALEXUS_LLM_PROVIDER", "anthropic", 1);
	setenv("ALEXUS_LLM_URL", "", 1);
	setenv("ALEXUS_LLM_MODEL", "", 1);
	setenv("ALEXUS_LLM_DAILY_TOKENS", "0", 1);
	assert_int_equal(ax_config_load(&ac, err, sizeof(err)), AX_OK);
	assert_int_equal(reason_llm_config_from(&c, &ac, err, sizeof(err)), AX_OK);
	reason_llm_describe(&c, desc, sizeof(desc));
	assert_string_equal(desc, "llm: anthropic https://api.anthropic.com model "
				  REASON_LLM_ANTHROPIC_MODEL ", timeout 12000 ms, max 800 tokens, "
				  "0 tokens per tenant per day (0: no limit)");
	ax_config_release(&ac);

	setenv("ALEXUS_LLM_PROVIDER", "openai", 1);
	setenv("ALEXUS_LLM_URL", "https://acme.openai.azure.com/openai/deployments/gpt4o", 1);
	assert_int_equal(ax_config_load(&ac, err, sizeof(err)), AX_OK);
	assert_int_equal(reason_llm_config_from(&c, &ac, err, sizeof(err)), AX_OK);
	reason_llm_describe(&c, desc, sizeof(desc));
	assert_true(strncmp(desc, "llm: openai (Azure) https://acme.openai.azure.com model ",
			    56) == 0);
	ax_config_release(&ac);
	unset_alexus();

	assert_int_equal(reason_llm_provider_parse("anthropic", &p), AX_OK);
	assert_int_equal(p, REASON_LLM_ANTHROPIC);
	assert_int_equal(reason_llm_provider_parse("OpenAI", &p), AX_EINVAL);
	assert_string_equal(reason_llm_provider_name(REASON_LLM_OPENAI), "openai");
	assert_string_equal(reason_llm_status_code((enum reason_llm_status)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai_request_and_success),
		cmocka_unit_test(test_anthropic_request_and_success),
		cmocka_unit_test(test_azure_deployment),
		cmocka_unit_test(test_url_forms),
		cmocka_unit_test(test_fenced_json),
		cmocka_unit_test(test_http_429),
		cmocka_unit_test(test_http_5xx),
		cmocka_unit_test(test_http_401),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_truncated_body),
		cmocka_unit_test(test_max_tokens),
		cmocka_unit_test(test_answer_off_shape),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_not_configured_and_unreachable),
		cmocka_unit_test(test_key_never_leaks),
		cmocka_unit_test(test_validator),
		cmocka_unit_test(test_parse_answer),
		cmocka_unit_test(test_prices),
		cmocka_unit_test(test_config_from),
	};

	/* A reply the receiver holds past a client's timeout is written to a
	 * closed socket. */
	signal(SIGPIPE, SIG_IGN);
	if (ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
