/* itest_notify.c - notification channels, routing and durable delivery
 * (issue 6), with the three real daemons on the test stack.
 *
 *   1. Fan-out: a tenant with a notify webhook and one channel of every
 *      kind (Slack incoming webhook, Slack chat.postMessage, Teams,
 *      PagerDuty, Telegram, a webhook channel, email over SMTP) configured
 *      by SQL, credentials sealed with ax_cred_put, plus a Slack channel of
 *      another service and a disabled email channel.  An Alertmanager
 *      webhook opens an incident: every target gets exactly one request
 *      (the SMTP receiver one message), each as its service expects it,
 *      the two others nothing; the action is succeeded with one audit row
 *      listing the 8 targets, every delivery and attempt row says so.  The
 *      resolved webhook: one more request each, PagerDuty a resolve with
 *      the trigger's dedup_key.
 *   2. Backlog: the receiver answers 503 while 1,000 notify actions with
 *      16 KiB payloads (two targets each) are queued; act's VmRSS, read
 *      from /proc, stays within a bound while the backlog grows five-fold
 *      (a design that held pending work in memory would need tens of MB);
 *      then the receiver recovers and every notification arrives exactly
 *      once per target (counted by Idempotency-Key), nothing dead, nothing
 *      in alexus:dlq, one audit row per action, the chain intact.
 *   3. Dead letters: with ALEXUS_NOTIFY_MAX_ATTEMPTS=3 a target answering
 *      503 forever is dead after exactly 3 attempts and one answering 404
 *      after 1; each has one alexus:dlq entry naming the action, the
 *      target and why; the action is failed with one audit row and the
 *      chain verifies.
 *
 * The counting receiver here (not tests/lib/receiver.c, which keeps the
 * first 256 requests) answers 503 while told to fail, 404 on /gone, else
 * 200, and only counts: 2xx answers per (path, Idempotency-Key). */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "alexus/hash.h"
#include "alexus/keys.h"
#include "alexus/stream.h"
#include "harness.h"
#include "receiver.h"
#include "smtp.h"
#include "system.h"

#define FIX_FIRING "tests/fixtures/webhooks/alertmanager.json"
#define FIX_RESOLVED "tests/fixtures/webhooks/alertmanager.resolved.json"
#define LONG_WAIT_MS 240000

/* ------------------------------------------------------ counting receiver */

#define SLOTS (1 << 15)

struct slot {
	char key[96];      /* "<path> <idempotency key>", "" = free */
	int ok;            /* 2xx answers */
	int seen;          /* requests */
};

struct counter {
	struct event_base *base;
	struct evhttp *http;
	struct event *quit;
	pthread_t thread;
	int port;
	int failing;       /* __atomic */
	pthread_mutex_t mu;
	struct slot *slots;
	long requests, used;
};

static struct slot *find(struct counter *c, const char *key)
{
	unsigned long h = 1469598103934665603UL;
	const char *p;

	for (p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211UL;
	for (h &= SLOTS - 1;; h = (h + 1) & (SLOTS - 1)) {
		if (c->slots[h].key[0] == '\0') {
			snprintf(c->slots[h].key, sizeof(c->slots[h].key), "%s", key);
			c->used++;
			return &c->slots[h];
		}
		if (strcmp(c->slots[h].key, key) == 0)
			return &c->slots[h];
	}
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct counter *c = arg;
	const char *uri = evhttp_request_get_uri(req);
	const char *k = evhttp_find_header(evhttp_request_get_input_headers(req), "Idempotency-Key");
	int status = __atomic_load_n(&c->failing, __ATOMIC_SEQ_CST) ? 503 : 200;
	struct evbuffer *out = evbuffer_new();
	char key[96];
	struct slot *s;

	if (strcmp(uri, "/gone") == 0)
		status = 404;
	snprintf(key, sizeof(key), "%s %s", uri, k != NULL ? k : "-");
	pthread_mutex_lock(&c->mu);
	c->requests++;
	s = find(c, key);
	s->seen++;
	if (status < 300)
		s->ok++;
	pthread_mutex_unlock(&c->mu);
	evbuffer_add_printf(out, "{}");
	evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", out);
	evbuffer_free(out);
}

static void on_quit(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	event_base_loopbreak(((struct counter *)arg)->base);
}

static void *run(void *arg)
{
	event_base_dispatch(((struct counter *)arg)->base);
	return NULL;
}

static struct counter *counter_start(int failing)
{
	struct counter *c = calloc(1, sizeof(*c));
	struct evhttp_bound_socket *sock;
	struct sockaddr_storage ss;
	ev_socklen_t sl = sizeof(ss);

	evthread_use_pthreads();
	c->slots = calloc(SLOTS, sizeof(*c->slots));
	c->failing = failing;
	pthread_mutex_init(&c->mu, NULL);
	c->base = event_base_new();
	c->http = evhttp_new(c->base);
	evhttp_set_gencb(c->http, on_request, c);
	sock = evhttp_bind_socket_with_handle(c->http, "127.0.0.1", 0);
	assert_non_null(sock);
	getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl);
	c->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	c->quit = event_new(c->base, -1, 0, on_quit, c);
	pthread_create(&c->thread, NULL, run, c);
	return c;
}

static void counter_stop(struct counter *c)
{
	event_active(c->quit, 0, 1);
	pthread_join(c->thread, NULL);
	event_free(c->quit);
	evhttp_free(c->http);
	event_base_free(c->base);
	pthread_mutex_destroy(&c->mu);
	free(c->slots);
	free(c);
}

/* Over the keys of path: how many, and how many were answered 2xx
 * exactly once / more than once. */
static void counter_tally(struct counter *c, const char *path, long *keys, long *once, long *dup,
			  long *requests)
{
	size_t n = strlen(path);
	long i;

	*keys = *once = *dup = 0;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < SLOTS; i++) {
		const struct slot *s = &c->slots[i];

		if (s->key[0] == '\0' || strncmp(s->key, path, n) != 0 || s->key[n] != ' ')
			continue;
		(*keys)++;
		*once += s->ok == 1;
		*dup += s->ok > 1;
	}
	*requests = c->requests;
	pthread_mutex_unlock(&c->mu);
}

/* --------------------------------------------------------------- helpers */

struct sql_cond {
	struct sys *s;
	const char *sql;
	long want;
};

static int sql_at_least(void *arg)
{
	struct sql_cond *c = arg;

	return sys_q(c->s, c->sql) >= c->want;
}

/* Wait until sql yields at least want, up to timeout_ms. */
static void wait_at_least(struct sys *s, const char *sql, long want, int timeout_ms)
{
	struct sql_cond c = { s, sql, want };

	if (!h_wait_until(sql_at_least, &c, timeout_ms)) {
		h_dump_log(&s->act);
		fail_msg("timed out waiting for (%s) >= %ld, last %ld", sql, want, sys_q(s, sql));
	}
}

/* The receiver's request whose path starts with prefix; fails unless
 * exactly one does (from request first on). */
static const struct rcv_request *one_request(struct receiver *r, const char *prefix, int first)
{
	const struct rcv_request *found = NULL;
	int i, n = rcv_count(r);

	for (i = first; i < n; i++) {
		const struct rcv_request *q = rcv_get(r, i);

		if (strncmp(q->path, prefix, strlen(prefix)) == 0) {
			if (found != NULL)
				fail_msg("more than one request to %s", prefix);
			found = q;
		}
	}
	if (found == NULL)
		fail_msg("no request to %s", prefix);
	return found;
}

/* ------------------------------------------------------------ 1. fan-out */

static void test_fan_out(void **state)
{
	struct sys *s;
	struct smtp_server *mail;
	const struct rcv_request *q;
	const struct smtp_msg *m;
	char id[AX_UUID_LEN], cfg[512], url[256], inc[64], h[256], sql[512];
	cJSON *b;
	PGresult *res;
	int port, first;
	(void)state;

	s = sys_up("notify", NULL);
	mail = smtp_start();
	port = rcv_port(s->rcv);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/T0/B0/slack-secret", port);
	sys_channel(s, "slack", "slack-hook", "warning", NULL, "{}", 1, "slack-hook-url", url, id);
	snprintf(cfg, sizeof(cfg), "{\"channel\":\"C0123456789\",\"api_url\":"
		 "\"http://127.0.0.1:%d/slack-api\"}", port);
	sys_channel(s, "slack", "slack-bot", "high", NULL, cfg, 1, "slack-bot-token",
		    "xoxb-itest-token", id);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/teams/IncomingWebhook/teams-secret", port);
	sys_channel(s, "teams", "teams", "critical", NULL, "{}", 1, "teams-url", url, id);
	snprintf(cfg, sizeof(cfg), "{\"api_url\":\"http://127.0.0.1:%d/pd/v2/enqueue\"}", port);
	sys_channel(s, "pagerduty", "pd", "high", "checkout-api", cfg, 1, "pd-key",
		    "R0UT1NGKEY0123456789ABCDEFGHIJKL", id);
	snprintf(cfg, sizeof(cfg), "{\"chat_id\":\"-1001234567890\",\"api_url\":"
		 "\"http://127.0.0.1:%d/tg\"}", port);
	sys_channel(s, "telegram", "tg", "warning", NULL, cfg, 1, "tg-token",
		    "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", id);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/channel-hook", port);
	sys_channel(s, "webhook", "hook", "info", NULL, "{}", 1, "hook-url", url, id);
	snprintf(cfg, sizeof(cfg), "{\"smtp_url\":\"smtp://127.0.0.1:%d\",\"from\":"
		 "\"Alexus <alerts@example.com>\",\"to\":[\"oncall@example.com\"]}",
		 smtp_port(mail));
	sys_channel(s, "email", "mail", "warning", NULL, cfg, 1, NULL, NULL, id);
	/* these two must get nothing */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/other-service", port);
	sys_channel(s, "slack", "other", "info", "other-service", "{}", 1, "other-url", url, id);
	sys_channel(s, "email", "mail-off", "info", NULL, cfg, 0, NULL, NULL, id);

	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, NULL), 202);
	sys_wait_sql(s, "SELECT count(*) FROM actions WHERE status = 'succeeded'", 1);
	sys_wait_settled(s);
	assert_int_equal(smtp_wait(mail, 1, WAIT_MS), 1);
	res = h_pg_q(s->app, s->tenant, "SELECT id FROM incidents", 0, NULL);
	assert_int_equal(PQntuples(res), 1);
	snprintf(inc, sizeof(inc), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);

	/* exactly one request per target, nothing to the other two */
	assert_int_equal(rcv_count(s->rcv), 7);
	assert_int_equal(smtp_count(mail), 1);
	for (first = 0; first < 7; first++)
		if (strcmp(rcv_get(s->rcv, first)->path, "/hook") == 0)
			sys_check_delivery(s, first, "incident.opened");
	one_request(s->rcv, "/hook", 0);
	q = one_request(s->rcv, "/services/T0/B0/slack-secret", 0);
	b = cJSON_Parse(q->body);
	assert_non_null(cJSON_GetObjectItem(b, "blocks"));
	assert_non_null(strstr(cJSON_GetObjectItem(b, "text")->valuestring, "[CRITICAL] Incident opened"));
	cJSON_Delete(b);
	q = one_request(s->rcv, "/slack-api/chat.postMessage", 0);
	assert_non_null(rcv_header(q, "authorization", h, sizeof(h)));
	assert_string_equal(h, "Bearer xoxb-itest-token");
	b = cJSON_Parse(q->body);
	assert_string_equal(cJSON_GetObjectItem(b, "channel")->valuestring, "C0123456789");
	cJSON_Delete(b);
	q = one_request(s->rcv, "/teams/", 0);
	b = cJSON_Parse(q->body);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(b,
			    "attachments"), 0), "contentType")->valuestring,
			    "application/vnd.microsoft.card.adaptive");
	cJSON_Delete(b);
	q = one_request(s->rcv, "/pd/v2/enqueue", 0);
	b = cJSON_Parse(q->body);
	assert_string_equal(cJSON_GetObjectItem(b, "event_action")->valuestring, "trigger");
	assert_string_equal(cJSON_GetObjectItem(b, "dedup_key")->valuestring, inc);
	assert_string_equal(cJSON_GetObjectItem(b, "routing_key")->valuestring,
			    "R0UT1NGKEY0123456789ABCDEFGHIJKL");
	cJSON_Delete(b);
	q = one_request(s->rcv, "/tg/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage", 0);
	b = cJSON_Parse(q->body);
	assert_string_equal(cJSON_GetObjectItem(b, "chat_id")->valuestring, "-1001234567890");
	cJSON_Delete(b);
	q = one_request(s->rcv, "/channel-hook", 0);
	assert_non_null(rcv_header(q, "idempotency-key", h, sizeof(h)));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM actions WHERE id = '%s'"
		 " AND payload->>'event' = 'incident.opened'", h);
	assert_int_equal(sys_q(s, sql), 1);
	m = smtp_get(mail, 0);
	assert_int_equal(m->final, 250);
	assert_string_equal(m->from, "alerts@example.com");
	assert_string_equal(m->rcpt[0], "oncall@example.com");
	assert_non_null(smtp_header(m, "subject", h, sizeof(h)));
	assert_non_null(strstr(h, "[CRITICAL] Incident opened"));

	/* the durable record: 8 targets delivered on their first attempt */
	assert_int_equal(sys_q(s, "SELECT count(*) FROM deliveries"), 8);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM deliveries WHERE status = 'succeeded'"
				  " AND attempts = 1 AND settled_at IS NOT NULL"), 8);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM delivery_attempts WHERE ok"), 8);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM delivery_attempts WHERE target = 'webhook'"
				  " AND status = 200 AND host = '127.0.0.1'"), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM delivery_attempts d JOIN"
				  " notification_channels c ON d.target = 'channel:' || c.id"
				  " WHERE c.kind = 'email' AND d.status = 250"), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM audit_log"), 1);
	assert_int_equal(sys_q(s, "SELECT jsonb_array_length(detail->'targets') FROM audit_log"
				  " WHERE action = 'notify' AND detail->>'status' = 'succeeded'"), 8);
	/* no secret in what was recorded */
	assert_int_equal(sys_q(s, "SELECT count(*) FROM audit_log WHERE detail::text LIKE '%secret%'"
				  " OR detail::text LIKE '%xoxb%' OR detail::text LIKE '%AAHdq%'"), 0);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions WHERE result::text LIKE '%secret%'"
				  " OR result::text LIKE '%AAHdq%'"), 0);

	/* resolved: one more each; PagerDuty resolves the same alert */
	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_RESOLVED, NULL), 202);
	sys_wait_sql(s, "SELECT count(*) FROM actions WHERE status = 'succeeded'", 2);
	sys_wait_settled(s);
	assert_int_equal(smtp_wait(mail, 2, WAIT_MS), 2);
	assert_int_equal(rcv_count(s->rcv), 14);
	q = one_request(s->rcv, "/pd/v2/enqueue", 7);
	b = cJSON_Parse(q->body);
	assert_string_equal(cJSON_GetObjectItem(b, "event_action")->valuestring, "resolve");
	assert_string_equal(cJSON_GetObjectItem(b, "dedup_key")->valuestring, inc);
	assert_null(cJSON_GetObjectItem(b, "payload"));
	cJSON_Delete(b);
	for (first = 0; first < rcv_count(s->rcv); first++)
		assert_null(strstr(rcv_get(s->rcv, first)->path, "/other-service"));
	assert_int_equal(sys_q(s, "SELECT count(*) FROM audit_log"), 2);
	assert_true(sys_audit_chain_ok(s));
	smtp_stop(mail);
	sys_down(s);
}

/* ------------------------------------------------------------ 2. backlog */

#define BACKLOG_FIRST 200
#define BACKLOG_TOTAL 1000
#define PAD_BYTES (16 * 1024)
#define RSS_GROWTH_MAX_KB (8 * 1024)

/* Write notify actions [from, to) as reason would: the row, then the
 * stream entry.  Each carries a PAD_BYTES analysis summary. */
static void queue_actions(struct sys *s, int from, int to)
{
	char *pad = malloc(PAD_BYTES + 1), *text, err[256];
	int i;

	memset(pad, 'x', PAD_BYTES);
	pad[PAD_BYTES] = '\0';
	for (i = from; i < to; i++) {
		char id[AX_UUID_LEN], inc[AX_UUID_LEN], sig[AX_UUID_LEN], title[64];
		cJSON *p = cJSON_CreateObject(), *in = cJSON_CreateObject(), *an = cJSON_CreateObject();
		struct ax_entry e;

		ax_uuid7(id);
		ax_uuid4(inc);
		ax_uuid4(sig);
		snprintf(title, sizeof(title), "backlog incident %d", i);
		cJSON_AddStringToObject(p, "action_id", id);
		cJSON_AddStringToObject(p, "type", "notify");
		cJSON_AddStringToObject(p, "channel", "webhook");
		cJSON_AddStringToObject(p, "incident_id", inc);
		cJSON_AddStringToObject(p, "signal_id", sig);
		cJSON_AddStringToObject(p, "event", "incident.opened");
		cJSON_AddStringToObject(in, "id", inc);
		cJSON_AddStringToObject(in, "title", title);
		cJSON_AddStringToObject(in, "status", "open");
		cJSON_AddStringToObject(in, "severity", "critical");
		cJSON_AddStringToObject(in, "service", "checkout-api");
		cJSON_AddNullToObject(in, "category");
		cJSON_AddNullToObject(in, "confidence");
		cJSON_AddNumberToObject(in, "alert_count", 1);
		cJSON_AddStringToObject(in, "opened_at", "2026-11-23T09:00:00.000Z");
		cJSON_AddNullToObject(in, "resolved_at");
		cJSON_AddItemToObject(p, "incident", in);
		cJSON_AddStringToObject(an, "summary", pad);
		cJSON_AddStringToObject(an, "probable_cause", "backlog");
		cJSON_AddArrayToObject(an, "actions");
		cJSON_AddStringToObject(an, "why", "backlog test");
		cJSON_AddItemToObject(p, "analysis", an);
		text = cJSON_PrintUnformatted(p);
		cJSON_Delete(p);
		{
			const char *q[4] = { s->tenant, id, text, "backlog-trace" };

			PQclear(h_pg_q(s->app, s->tenant,
				       "INSERT INTO actions (tenant_id, id, type, payload, trace)"
				       " VALUES ($1, $2, 'notify', $3::jsonb, $4)", 4, q));
		}
		memset(&e, 0, sizeof(e));
		e.tenant = s->tenant;
		e.id = id;
		e.kind = (char *)"notify";
		e.trace = (char *)"backlog-trace";
		e.data = text;
		if (ax_stream_add(s->redis, AX_STREAM_ACTIONS, &e, NULL, 0, err, sizeof(err)) != AX_OK)
			fail_msg("XADD: %s", err);
		free(text);
	}
	free(pad);
}

static int acked(void *arg)
{
	return sys_pending(arg, AX_STREAM_ACTIONS, AX_GROUP_ACT) == 0;
}

static void test_backlog_bounded_then_recovers(void **state)
{
	/* warn: a failure's log dump then shows what went wrong, not the
	 * thousands of expected 503s.  Under AddressSanitizer freed memory
	 * sits in a quarantine (256 MB by default) and counts in VmRSS: a
	 * small one keeps the measure about what act holds, not what ASan
	 * does (the plain build ignores the variable). */
	const char *env[] = { "ALEXUS_NOTIFY_RETRY_MAX_S=1", "ALEXUS_NOTIFY_MAX_ATTEMPTS=1000",
			      "ALEXUS_NOTIFY_RETRIES=0", "ALEXUS_LOG_LEVEL=warn",
			      "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:quarantine_size_mb=1",
			      NULL };
	struct counter *c;
	struct sys *s;
	char url[128], id[AX_UUID_LEN], sql[256];
	long rss1, rss2, rss3, pend1, pend2, keys, once, dup, reqs;
	struct timespec t0, t1;
	(void)state;

	s = sys_up("backlog", NULL);
	c = counter_start(1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/legacy", c->port);
	sys_set_webhook(s, url);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/channel", c->port);
	sys_channel(s, "webhook", "hook", "info", NULL, "{}", 1, "hook-url", url, id);
	sys_restart_act(s, env);

	/* A first slice of the outage: every action claimed, each target
	 * attempted at least twice (the retry thread has been through it). */
	queue_actions(s, 0, BACKLOG_FIRST);
	wait_at_least(s, "SELECT count(*) FROM deliveries", 2 * BACKLOG_FIRST, LONG_WAIT_MS);
	wait_at_least(s, "SELECT count(*) FROM deliveries WHERE attempts >= 2", 2 * BACKLOG_FIRST,
		      LONG_WAIT_MS);
	rss1 = sys_rss_kb(s->act.pid);
	pend1 = sys_q(s, "SELECT count(*) FROM deliveries WHERE status = 'pending'");

	/* Five times the backlog, still failing. */
	queue_actions(s, BACKLOG_FIRST, BACKLOG_TOTAL);
	wait_at_least(s, "SELECT count(*) FROM deliveries", 2 * BACKLOG_TOTAL, LONG_WAIT_MS);
	wait_at_least(s, "SELECT count(*) FROM deliveries WHERE attempts >= 2", 2 * BACKLOG_TOTAL,
		      LONG_WAIT_MS);
	rss2 = sys_rss_kb(s->act.pid);
	pend2 = sys_q(s, "SELECT count(*) FROM deliveries WHERE status = 'pending'");
	print_message("act VmRSS: %ld kB with %ld targets pending, %ld kB with %ld pending (%ld KiB "
		      "of payloads queued)\n", rss1, pend1, rss2, pend2,
		      (long)BACKLOG_TOTAL * PAD_BYTES / 1024);
	assert_int_equal(pend1, 2 * BACKLOG_FIRST);
	assert_int_equal(pend2, 2 * BACKLOG_TOTAL);
	/* Every entry acknowledged: the targets are durable rows.  (act
	 * acknowledges right after recording a first attempt, so the last
	 * one may still be on its way.) */
	if (!h_wait_until(acked, s, LONG_WAIT_MS))
		fail_msg("%lld entries of alexus:actions still pending",
			 sys_pending(s, AX_STREAM_ACTIONS, AX_GROUP_ACT));
	assert_true(rss1 > 0 && rss2 > 0);
	if (rss2 - rss1 > RSS_GROWTH_MAX_KB)
		fail_msg("act grew %ld kB while the backlog grew from %ld to %ld targets", rss2 - rss1,
			 pend1, pend2);

	/* The receiver recovers: every notification arrives, once per target. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	__atomic_store_n(&c->failing, 0, __ATOMIC_SEQ_CST);
	wait_at_least(s, "SELECT count(*) FROM deliveries WHERE status = 'succeeded'",
		      2 * BACKLOG_TOTAL, LONG_WAIT_MS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wait_at_least(s, "SELECT count(*) FROM actions WHERE status = 'succeeded'", BACKLOG_TOTAL,
		      LONG_WAIT_MS);
	rss3 = sys_rss_kb(s->act.pid);
	print_message("%d targets delivered %.1f s after the recovery; act VmRSS then %ld kB; "
		      "attempts recorded: %ld\n", 2 * BACKLOG_TOTAL,
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		      rss3, sys_q(s, "SELECT count(*) FROM delivery_attempts"));
	counter_tally(c, "/legacy", &keys, &once, &dup, &reqs);
	assert_int_equal(keys, BACKLOG_TOTAL);
	assert_int_equal(once, BACKLOG_TOTAL);
	assert_int_equal(dup, 0);
	counter_tally(c, "/channel", &keys, &once, &dup, &reqs);
	assert_int_equal(keys, BACKLOG_TOTAL);
	assert_int_equal(once, BACKLOG_TOTAL);
	assert_int_equal(dup, 0);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM deliveries WHERE status <> 'succeeded'"), 0);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM delivery_attempts WHERE ok"),
			 2 * BACKLOG_TOTAL);
	/* every failed attempt was a 503, recorded as retryable */
	assert_int_equal(sys_q(s, "SELECT count(*) FROM delivery_attempts WHERE NOT ok"
				  " AND NOT (retryable AND status = 503)"), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE action = 'notify'"
		 " AND detail->>'status' = 'succeeded'");
	assert_int_equal(sys_q(s, sql), BACKLOG_TOTAL);
	assert_int_equal(sys_dlq_count(s, NULL, NULL), 0);
	sys_wait_settled(s);
	assert_true(sys_audit_chain_ok(s));
	counter_stop(c);
	sys_down(s);
}

/* ------------------------------------------------------- 3. dead letters */

static void test_dead_letter(void **state)
{
	const char *env[] = { "ALEXUS_NOTIFY_RETRY_MAX_S=1", "ALEXUS_NOTIFY_MAX_ATTEMPTS=3",
			      "ALEXUS_NOTIFY_RETRIES=0", NULL };
	struct counter *c;
	struct sys *s;
	char url[128], chan[AX_UUID_LEN], action[64], sql[256], target[64];
	const char *reason;
	cJSON *last, *data;
	PGresult *res;
	long keys, once, dup, reqs;
	(void)state;

	s = sys_up("dead", NULL);
	c = counter_start(1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/legacy", c->port);
	sys_set_webhook(s, url);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/gone", c->port);
	sys_channel(s, "webhook", "gone", "info", NULL, "{}", 1, "gone-url", url, chan);
	sys_restart_act(s, env);

	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, NULL), 202);
	sys_wait_sql(s, "SELECT count(*) FROM actions WHERE status = 'failed'", 1);
	sys_wait_sql(s, "SELECT count(*) FROM deliveries WHERE dlq_at IS NOT NULL", 2);
	sys_wait_settled(s);
	res = h_pg_q(s->app, s->tenant, "SELECT id FROM actions", 0, NULL);
	assert_int_equal(PQntuples(res), 1);
	snprintf(action, sizeof(action), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);

	/* 503 forever: dead after exactly the 3 attempts allowed; 404: at once */
	assert_int_equal(sys_q(s, "SELECT count(*) FROM deliveries WHERE target = 'webhook'"
				  " AND status = 'dead' AND attempts = 3 AND last_status = 503"), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM deliveries WHERE target = 'channel:%s'"
		 " AND status = 'dead' AND attempts = 1 AND last_status = 404", chan);
	assert_int_equal(sys_q(s, sql), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM delivery_attempts WHERE target = 'webhook'"
				  " AND NOT ok AND retryable AND status = 503"), 3);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM delivery_attempts WHERE target <> 'webhook'"
				  " AND NOT ok AND NOT retryable AND status = 404"), 1);
	counter_tally(c, "/legacy", &keys, &once, &dup, &reqs);
	assert_int_equal(keys, 1);
	assert_int_equal(once, 0);
	assert_int_equal(reqs, 4);           /* 3 to /legacy, 1 to /gone */

	/* one dead letter per dead target, saying which and why */
	assert_int_equal(sys_dlq_count(s, "notify", &last), 2);
	assert_string_equal(cJSON_GetObjectItem(last, "id")->valuestring, action);
	assert_string_equal(cJSON_GetObjectItem(last, "origin_stream")->valuestring,
			    AX_STREAM_ACTIONS);
	assert_string_equal(cJSON_GetObjectItem(last, "origin_group")->valuestring, AX_GROUP_ACT);
	snprintf(target, sizeof(target), "%s", cJSON_GetObjectItem(last, "target")->valuestring);
	reason = cJSON_GetObjectItem(last, "reason")->valuestring;
	if (strcmp(target, "webhook") == 0) {
		assert_non_null(strstr(reason, "notify target webhook dead after 3 attempt(s): HTTP 503"));
		assert_string_equal(cJSON_GetObjectItem(last, "deliveries")->valuestring, "3");
	} else {
		snprintf(sql, sizeof(sql), "notify target channel:%s dead after 1 attempt(s): HTTP 404",
			 chan);
		assert_non_null(strstr(reason, sql));
		assert_string_equal(cJSON_GetObjectItem(last, "deliveries")->valuestring, "1");
	}
	data = cJSON_Parse(cJSON_GetObjectItem(last, "data")->valuestring);
	assert_non_null(data);
	assert_string_equal(cJSON_GetObjectItem(data, "event")->valuestring, "incident.opened");
	cJSON_Delete(data);
	cJSON_Delete(last);

	/* the action: failed, one audit row, the chain intact */
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions WHERE status = 'failed'"
				  " AND result->>'error' = 'HTTP 404'"
				  " AND jsonb_array_length(result->'targets') = 2"), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM audit_log"), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM audit_log WHERE action = 'notify'"
				  " AND detail->>'status' = 'failed'"), 1);
	assert_true(sys_audit_chain_ok(s));
	counter_stop(c);
	sys_down(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fan_out, sys_teardown),
		cmocka_unit_test_teardown(test_dead_letter, sys_teardown),
		cmocka_unit_test_teardown(test_backlog_bounded_then_recovers, sys_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	ax_hash_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
