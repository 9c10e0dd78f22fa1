/* test_notify_telegram.c - the Telegram channel (act/notify/telegram.c)
 * against the local receiver standing in for api.telegram.org.
 *
 * The request: POST /bot<token>/sendMessage, JSON with chat_id (string or
 * integer, as configured), the plain text built from the fixture (cut to
 * 4,096 characters), link previews off, and inline keyboard URL buttons
 * (the incident; approve and reject).  The Bot API's answers: ok:true;
 * 429 with parameters.retry_after (retried after it); 400 "chat not
 * found", 401, 403 "bot was blocked by the user" (not retried); 5xx
 * (retried).  The token is in the URL path and never in an outcome. */
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
#include "../../act/notify/telegram.h"
#include "alexus/hash.h"
#include "alexus/httpc.h"
#include "alexus/json.h"
#include "alexus/mem.h"
#include "receiver.h"

#define PUBLIC "https://alexus.example.com"
#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define TOKEN "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

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

static const cJSON *kb_button(const cJSON *b, int row, int col)
{
	const cJSON *kb = cJSON_GetObjectItem(cJSON_GetObjectItem(b, "reply_markup"),
					      "inline_keyboard");

	return cJSON_GetArrayItem(cJSON_GetArrayItem(kb, row), col);
}

static void test_payload(void **state)
{
	struct fx f;
	cJSON *cfg = cJSON_Parse("{\"chat_id\":\"-1001234567890\"}"), *b;
	char *s, *text, want[512];
	(void)state;

	fx_load(&f, "approval.requested");
	s = act_telegram_payload(&f.ev, cfg);
	b = cJSON_Parse(s);
	assert_non_null(b);
	assert_string_equal(ax_json_str(b, "chat_id"), "-1001234567890");
	text = act_plain_text(&f.ev);
	assert_string_equal(ax_json_str(b, "text"), text);
	free(text);
	assert_null(cJSON_GetObjectItem(b, "parse_mode"));   /* plain text: nothing to escape */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "link_preview_options"),
						     "is_disabled")));
	snprintf(want, sizeof(want), PUBLIC "/v1/incidents/%s", fstr(&f, "incident", "id"));
	assert_string_equal(ax_json_str(kb_button(b, 0, 0), "url"), want);
	assert_string_equal(ax_json_str(kb_button(b, 1, 0), "text"), "Approve");
	assert_string_equal(ax_json_str(kb_button(b, 1, 0), "url"), fstr(&f, "approval", "approve_url"));
	assert_string_equal(ax_json_str(kb_button(b, 1, 1), "text"), "Reject");
	assert_string_equal(ax_json_str(kb_button(b, 1, 1), "url"), fstr(&f, "approval", "reject_url"));
	cJSON_Delete(b);
	free(s);
	cJSON_Delete(cfg);

	/* an integer chat id stays an integer; no chat id, no body */
	cfg = cJSON_Parse("{\"chat_id\":42}");
	s = act_telegram_payload(&f.ev, cfg);
	b = cJSON_Parse(s);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(b, "chat_id")));
	assert_int_equal(cJSON_GetObjectItem(b, "chat_id")->valueint, 42);
	cJSON_Delete(b);
	free(s);
	cJSON_Delete(cfg);
	cfg = cJSON_Parse("{\"chat\":42}");
	assert_null(act_telegram_payload(&f.ev, cfg));
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_text_limit(void **state)
{
	struct fx f;
	cJSON *cfg, *b;
	char *big = ax_xmalloc(10001), *s, *tmpl;
	(void)state;

	memset(big, 'x', 10000);
	big[10000] = '\0';
	fx_load(&f, "incident.opened");
	tmpl = ax_xasprintf("{\"chat_id\":1,\"template\":\"%s\"}", big);
	cfg = cJSON_Parse(tmpl);
	s = act_telegram_payload(&f.ev, cfg);
	b = cJSON_Parse(s);
	assert_int_equal(strlen(ax_json_str(b, "text")), ACT_TELEGRAM_TEXT_MAX);
	assert_string_equal(ax_json_str(b, "text") + ACT_TELEGRAM_TEXT_MAX - 3, "...");
	cJSON_Delete(b);
	free(s);
	free(tmpl);
	free(big);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

static void test_send(void **state)
{
	static const struct {
		int status;
		const char *body;
		int ok, retryable;
		long retry_after;
		const char *error;
	} cases[] = {
		{ 200, "{\"ok\":true,\"result\":{\"message_id\":7,\"chat\":{\"id\":-1001234567890}}}", 1,
		  0, 0, "" },
		{ 429, "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry "
		       "after 34\",\"parameters\":{\"retry_after\":34}}", 0, 1, 34,
		  "HTTP 429: Too Many Requests: retry after 34" },
		{ 400, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not "
		       "found\"}", 0, 0, 0, "HTTP 400: Bad Request: chat not found" },
		{ 401, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}", 0, 0, 0,
		  "HTTP 401: Unauthorized" },
		{ 403, "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot was blocked "
		       "by the user\"}", 0, 0, 0, "HTTP 403: Forbidden: bot was blocked by the user" },
		{ 502, "<html>Bad Gateway</html>", 0, 1, 0, "HTTP 502" },
		{ 200, "not json", 0, 1, 0, "HTTP 200: not a Bot API answer" },
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
	snprintf(cfgtext, sizeof(cfgtext), "{\"chat_id\":\"-1001234567890\",\"api_url\":"
		 "\"http://127.0.0.1:%d/\"}", rcv_port(r));
	cfg = cJSON_Parse(cfgtext);
	memset(&s, 0, sizeof(s));
	s.ev = &f.ev;
	s.config = cfg;
	s.credential = TOKEN;
	s.timeout_ms = 5000;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rcv_reply rep = { cases[i].status, cases[i].body, 0, NULL, 0 };

		rcv_script_reply(r, &rep);
		act_telegram_send(&s, &out);
		assert_int_equal(out.ok, cases[i].ok);
		assert_int_equal(out.retryable, cases[i].retryable);
		assert_int_equal(out.http_status, cases[i].status);
		assert_int_equal(out.retry_after_s, cases[i].retry_after);
		assert_string_equal(out.error, cases[i].error);
		assert_string_equal(out.host, "127.0.0.1");
		assert_null(strstr(out.error, "AAHdq"));
	}
	q = rcv_get(r, 0);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/bot" TOKEN "/sendMessage");
	assert_non_null(rcv_header(q, "content-type", h, sizeof(h)));
	assert_string_equal(h, "application/json");
	b = cJSON_Parse(q->body);
	assert_string_equal(ax_json_str(b, "chat_id"), "-1001234567890");
	cJSON_Delete(b);
	assert_int_equal(rcv_count(r), (int)(sizeof(cases) / sizeof(cases[0])));

	/* a "token" that would change the URL is refused before any request */
	s.credential = "123:abc/../../admin?x=";
	act_telegram_send(&s, &out);
	assert_false(out.ok);
	assert_false(out.retryable);
	assert_int_equal(rcv_count(r), (int)(sizeof(cases) / sizeof(cases[0])));
	rcv_stop(r);
	cJSON_Delete(cfg);
	cJSON_Delete(f.payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_text_limit),
		cmocka_unit_test(test_send),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
