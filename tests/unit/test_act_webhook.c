/* test_act_webhook.c - the webhook adapter (act/notify/webhook.c) and the
 * documents act records (act/record.c).
 *
 * Pure parts are asserted exactly (body, header lines, backoff, retry
 * classification, host extraction, result and audit JSON).  Delivery runs
 * against a tiny loopback HTTP responder on a thread that answers with
 * scripted statuses and keeps the requests, so retry counts and headers
 * are checked on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../act/act.h"
#include "../../act/notify/webhook.h"
#include "alexus/httpc.h"

/* A loopback responder: answers request i with statuses[i]. */
struct responder {
	int fd, port, n, served;
	int statuses[8];
	char requests[8][4096];
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct responder *r = arg;

	while (r->served < r->n) {
		int c = accept(r->fd, NULL, NULL);
		char *buf = r->requests[r->served], reply[128];
		size_t len = 0;
		const char *end;

		if (c < 0)
			break;
		/* Read headers, then the Content-Length body. */
		for (;;) {
			ssize_t k = read(c, buf + len, sizeof(r->requests[0]) - 1 - len);
			if (k <= 0)
				break;
			len += (size_t)k;
			buf[len] = '\0';
			end = strstr(buf, "\r\n\r\n");
			if (end != NULL) {
				const char *cl = strstr(buf, "Content-Length: ");
				size_t want = cl ? strtoul(cl + 16, NULL, 10) : 0;
				if (len >= (size_t)(end + 4 - buf) + want)
					break;
			}
		}
		snprintf(reply, sizeof(reply),
			 "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
			 r->statuses[r->served]);
		if (write(c, reply, strlen(reply)) < 0)
			break;
		close(c);
		r->served++;
	}
	return NULL;
}

static void responder_start(struct responder *r, int n, const int *statuses)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int one = 1;

	memset(r, 0, sizeof(*r));
	r->n = n;
	memcpy(r->statuses, statuses, sizeof(int) * (size_t)n);
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(r->fd, 8), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &al), 0);
	r->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&r->thread, NULL, serve, r), 0);
}

static void responder_stop(struct responder *r)
{
	shutdown(r->fd, SHUT_RDWR);
	close(r->fd);
	pthread_join(r->thread, NULL);
}

static void expect_json(cJSON *j, const char *want)
{
	char *s = cJSON_PrintUnformatted(j);

	assert_string_equal(s, want);
	cJSON_free(s);
	cJSON_Delete(j);
}

static void test_body(void **state)
{
	cJSON *inc = cJSON_Parse("{\"id\":\"0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70\",\"status\":\"open\"}");
	cJSON *pl;
	char *b;
	(void)state;

	b = act_webhook_body("incident.opened", "acme", "7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d",
			     "4bf92f3577b34da6a3ce929d0e0e4736", inc, NULL);
	assert_string_equal(b, "{\"event\":\"incident.opened\",\"tenant\":\"acme\",\"action_id\":"
			       "\"7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d\",\"trace\":"
			       "\"4bf92f3577b34da6a3ce929d0e0e4736\",\"incident\":{\"id\":"
			       "\"0b6f7c1e-8a51-4f7e-9a1e-5d2c3b4a6f70\",\"status\":\"open\"}}");
	free(b);
	cJSON_Delete(inc);
	b = act_webhook_body("incident.resolved", "acme", "x", NULL, NULL, NULL);
	assert_string_equal(b, "{\"event\":\"incident.resolved\",\"tenant\":\"acme\",\"action_id\":"
			       "\"x\",\"trace\":null,\"incident\":null}");
	free(b);
	/* The event's details follow the incident; act's own fields do not. */
	pl = cJSON_Parse("{\"type\":\"notify\",\"channel\":\"webhook\",\"signal_id\":null,"
			 "\"escalation\":{\"level\":2,\"previous\":1,\"step\":{\"level\":2,"
			 "\"after_s\":1800}},\"result\":null}");
	assert_non_null(pl);
	b = act_webhook_body("incident.escalated", "acme", "x", NULL, NULL, pl);
	assert_string_equal(b, "{\"event\":\"incident.escalated\",\"tenant\":\"acme\",\"action_id\":"
			       "\"x\",\"trace\":null,\"incident\":null,\"escalation\":{\"level\":2,"
			       "\"previous\":1,\"step\":{\"level\":2,\"after_s\":1800}}}");
	free(b);
	cJSON_Delete(pl);
}

static void test_header_line(void **state)
{
	char buf[64], tiny[12];
	(void)state;

	assert_string_equal(act_header_line(buf, sizeof(buf), "X-Alexus-Event", "incident.opened"),
			    "X-Alexus-Event: incident.opened");
	/* CR/LF and other controls cannot split the header block. */
	assert_string_equal(act_header_line(buf, sizeof(buf), "X-Alexus-Trace",
					    "abc\r\nEvil: 1\x7f\t"),
			    "X-Alexus-Trace: abcEvil: 1");
	assert_string_equal(act_header_line(buf, sizeof(buf), "X", NULL), "X: ");
	/* Truncated, still terminated. */
	assert_string_equal(act_header_line(tiny, sizeof(tiny), "Key", "0123456789"), "Key: 012345");
}

static void test_backoff(void **state)
{
	(void)state;
	/* base doubled per retry, jitter rnd % (d/4 + 1) */
	assert_int_equal(act_backoff_ms(200, 1, 0), 200);
	assert_int_equal(act_backoff_ms(200, 2, 0), 400);
	assert_int_equal(act_backoff_ms(200, 3, 0), 800);
	assert_int_equal(act_backoff_ms(200, 4, 0), 1600);
	assert_int_equal(act_backoff_ms(200, 1, 7), 207);
	assert_int_equal(act_backoff_ms(200, 1, 51), 200);     /* 51 % 51 */
	assert_int_equal(act_backoff_ms(200, 1, 50), 250);     /* the most jitter: +25% */
	assert_int_equal(act_backoff_ms(200, 2, 1000), 400 + 1000 % 101);
	/* capped, and no overflow for absurd retry counts */
	assert_int_equal(act_backoff_ms(200, 30, 0), ACT_BACKOFF_CAP_MS);
	assert_int_equal(act_backoff_ms(200, 1000000, 0), ACT_BACKOFF_CAP_MS);
	assert_int_equal(act_backoff_ms(600000, 1, 0), ACT_BACKOFF_CAP_MS);
	assert_true(act_backoff_ms(200, 30, 0xffffffffu) <= ACT_BACKOFF_CAP_MS * 5 / 4);
	assert_int_equal(act_backoff_ms(0, 3, 12345), 0);
	assert_int_equal(act_backoff_ms(-5, 3, 12345), 0);
	assert_int_equal(act_backoff_ms(20, 1, 0), 20);
	assert_int_equal(act_backoff_ms(1, 1, 99), 1);          /* 99 % 1 */
}

static void test_worst_case(void **state)
{
	struct act_webhook_opts o = { 5000, 3, 200, NULL };
	(void)state;

	/* 4 attempts of 5 s, backoffs 200 + 400 + 800 each at +25% jitter */
	assert_int_equal(act_webhook_worst_ms(&o), 20000 + 250 + 500 + 1000);
	o.retries = 0;
	assert_int_equal(act_webhook_worst_ms(&o), 5000);
	o.retries = 2;
	o.backoff_ms = 0;
	assert_int_equal(act_webhook_worst_ms(&o), 15000);
}

static void test_retryable(void **state)
{
	(void)state;
	assert_true(act_webhook_retryable(AX_ETIMEDOUT, 0));
	assert_true(act_webhook_retryable(AX_EIO, 0));
	assert_true(act_webhook_retryable(AX_OK, 500));
	assert_true(act_webhook_retryable(AX_OK, 503));
	assert_true(act_webhook_retryable(AX_OK, 599));
	assert_false(act_webhook_retryable(AX_OK, 200));
	assert_false(act_webhook_retryable(AX_OK, 302));
	assert_false(act_webhook_retryable(AX_OK, 400));
	assert_false(act_webhook_retryable(AX_OK, 404));
	assert_false(act_webhook_retryable(AX_OK, 429));
	assert_false(act_webhook_retryable(AX_EINVAL, 0));   /* a URL httpc refuses */
}

static void test_url_host(void **state)
{
	char h[64];
	(void)state;

	assert_int_equal(act_url_host("http://127.0.0.1:8099/hook?x=1", h, sizeof(h)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(act_url_host("https://user:secret@hooks.example.com/T0/B1/xyz", h,
				      sizeof(h)), 0);
	assert_string_equal(h, "hooks.example.com");
	assert_int_equal(act_url_host("not a url", h, sizeof(h)), -1);
	assert_string_equal(h, "");
	assert_int_equal(act_url_host(NULL, h, sizeof(h)), -1);
}

static void test_record_json(void **state)
{
	(void)state;
	expect_json(act_result_json(200, 1, ""),
		    "{\"http_status\":200,\"attempts\":1,\"error\":null}");
	expect_json(act_result_json(503, 4, "HTTP 503"),
		    "{\"http_status\":503,\"attempts\":4,\"error\":\"HTTP 503\"}");
	expect_json(act_result_json(0, 0, "no notify_webhook_url configured"),
		    "{\"http_status\":null,\"attempts\":0,\"error\":"
		    "\"no notify_webhook_url configured\"}");
	expect_json(act_audit_detail("7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d", "incident.opened",
				     "succeeded", 200, "127.0.0.1"),
		    "{\"action_id\":\"7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d\",\"event\":"
		    "\"incident.opened\",\"status\":\"succeeded\",\"http_status\":200,\"host\":"
		    "\"127.0.0.1\"}");
	expect_json(act_audit_detail("a", "incident.resolved", "skipped", 0, ""),
		    "{\"action_id\":\"a\",\"event\":\"incident.resolved\",\"status\":\"skipped\","
		    "\"http_status\":null,\"host\":null}");
}

static void deliver(int port, int retries, volatile sig_atomic_t *stop,
		    struct act_webhook_result *r)
{
	char url[64];
	struct act_webhook_opts o = { 2000, retries, 1, stop };

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	act_webhook_deliver(url, "{\"event\":\"incident.opened\"}",
			    "7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d", "incident.opened",
			    "4bf92f3577b34da6a3ce929d0e0e4736", &o, r);
}

static void test_deliver_2xx_with_headers(void **state)
{
	struct responder s;
	struct act_webhook_result r;
	const int st[] = { 202 };
	(void)state;

	responder_start(&s, 1, st);
	deliver(s.port, 3, NULL, &r);
	responder_stop(&s);
	assert_int_equal(r.outcome, ACT_DELIVERED);
	assert_int_equal(r.http_status, 202);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(r.error, "");
	assert_non_null(strstr(s.requests[0], "POST /hook HTTP/1.1\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(s.requests[0],
			       "\r\nIdempotency-Key: 7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nX-Alexus-Event: incident.opened\r\n"));
	assert_non_null(strstr(s.requests[0],
			       "\r\nX-Alexus-Trace: 4bf92f3577b34da6a3ce929d0e0e4736\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\n\r\n{\"event\":\"incident.opened\"}"));
}

static void test_deliver_retries_5xx_then_succeeds(void **state)
{
	struct responder s;
	struct act_webhook_result r;
	const int st[] = { 500, 503, 200 };
	(void)state;

	responder_start(&s, 3, st);
	deliver(s.port, 3, NULL, &r);
	responder_stop(&s);
	assert_int_equal(r.outcome, ACT_DELIVERED);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.http_status, 200);
	/* the same key on every attempt */
	assert_non_null(strstr(s.requests[2], "Idempotency-Key: 7d1c4a52-3e0f-4b8e-a1d2-9c8b7a6f5e4d"));
}

static void test_deliver_5xx_exhausts_retries(void **state)
{
	struct responder s;
	struct act_webhook_result r;
	const int st[] = { 502, 502, 502 };
	(void)state;

	responder_start(&s, 3, st);
	deliver(s.port, 2, NULL, &r);
	responder_stop(&s);
	assert_int_equal(r.outcome, ACT_FAILED);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.http_status, 502);
	assert_string_equal(r.error, "HTTP 502");
}

static void test_deliver_4xx_is_permanent(void **state)
{
	struct responder s;
	struct act_webhook_result r;
	const int st[] = { 404 };
	(void)state;

	responder_start(&s, 1, st);
	deliver(s.port, 3, NULL, &r);
	responder_stop(&s);
	assert_int_equal(r.outcome, ACT_FAILED);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.http_status, 404);
	assert_int_equal(s.served, 1);
}

static void test_deliver_connection_refused(void **state)
{
	struct responder s;
	struct act_webhook_result r;
	volatile sig_atomic_t stop = 1;
	const int st[] = { 200 };
	int port;
	(void)state;

	/* A port nobody listens on: take one, then close it. */
	responder_start(&s, 1, st);
	port = s.port;
	responder_stop(&s);

	deliver(port, 2, NULL, &r);
	assert_int_equal(r.outcome, ACT_FAILED);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.http_status, 0);
	assert_true(r.error[0] != '\0');

	/* A stop request ends the retries: abandoned, not failed. */
	deliver(port, 5, &stop, &r);
	assert_int_equal(r.outcome, ACT_ABANDONED);
	assert_int_equal(r.attempts, 1);
}

static void test_deliver_refused_scheme(void **state)
{
	struct act_webhook_result r;
	struct act_webhook_opts o = { 1000, 3, 1, NULL };
	(void)state;

	act_webhook_deliver("file:///etc/passwd", "{}", "k", "incident.opened", "t", &o, &r);
	assert_int_equal(r.outcome, ACT_FAILED);
	assert_int_equal(r.attempts, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_header_line),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_worst_case),
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_record_json),
		cmocka_unit_test(test_deliver_2xx_with_headers),
		cmocka_unit_test(test_deliver_retries_5xx_then_succeeds),
		cmocka_unit_test(test_deliver_5xx_exhausts_retries),
		cmocka_unit_test(test_deliver_4xx_is_permanent),
		cmocka_unit_test(test_deliver_connection_refused),
		cmocka_unit_test(test_deliver_refused_scheme),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0 || ax_httpc_global_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
