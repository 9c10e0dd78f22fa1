/* itest_ingest_redis.c - Redis stopped under load: ingest answers 503,
 * never 202 for an entry Redis did not keep, and recovers by itself.
 *
 * The test runs its own redis-server (AOF on, appendfsync always, in a
 * temporary folder, on a free port) so it may stop and restart it without
 * disturbing the shared test stack, and the real alexus-ingest daemon with
 * two workers against it.  Four client threads post single-alert
 * Alertmanager webhooks, each alert unique, as fast as they can, and
 * record every answer.  The main thread waits for 202s, stops Redis with
 * SIGTERM (a clean stop: what it acknowledged is on disk), waits until
 * the clients have seen 503s, restarts Redis on the same folder and port,
 * and waits for 202s again.  Then:
 *   - every answer was 202 or 503 (503 with Retry-After), nothing else;
 *   - there were 503s during the outage and 202s after it: ingest
 *     reconnected without help;
 *   - every id a 202 returned is on alexus:signals after the restart
 *     (no 202 for a lost entry), and no id is there twice.
 * Waiting is always for a condition with a deadline. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "harness.h"

#define CLIENTS 4
#define MAX_IDS 200000

static struct h_proc redis, ingest;
static int redis_port, ingest_port;
static char dir[256];
static char *token;

/* Answers, shared by the client threads under mu. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long n202, n503, nother, n503_bad_body, seq;
static char (*ids)[40];
static long nids;
static volatile int stop_clients;
static char other_example[256];

static int redis_up(void *arg)
{
	redisContext *c = redisConnect("127.0.0.1", redis_port);
	int ok;

	(void)arg;
	ok = c != NULL && c->err == 0;
	if (ok) {
		redisReply *r = redisCommand(c, "PING");

		ok = r != NULL && r->type == REDIS_REPLY_STATUS;
		if (r != NULL)
			freeReplyObject(r);
	}
	if (c != NULL)
		redisFree(c);
	return ok;
}

static void start_redis(void)
{
	char port[16];
	const char *argv[] = { "redis-server", "--port", port, "--bind", "127.0.0.1",
			       "--dir", dir, "--appendonly", "yes", "--appendfsync", "always",
			       "--save", "", NULL };

	snprintf(port, sizeof(port), "%d", redis_port);
	h_spawn_argv(&redis, "/usr/bin/redis-server", argv, NULL);
	if (!h_wait_until(redis_up, NULL, 10000))
		fail_msg("redis-server did not come up on port %d", redis_port);
}

static redisContext *rc(void)
{
	redisContext *c = redisConnect("127.0.0.1", redis_port);

	assert_non_null(c);
	assert_int_equal(c->err, 0);
	return c;
}

static void record(long code, const char *body)
{
	cJSON *j;

	pthread_mutex_lock(&mu);
	if (code == 202) {
		n202++;
		j = cJSON_Parse(body != NULL ? body : "");
		if (j != NULL) {
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "ids"), *e;

			cJSON_ArrayForEach(e, a) {
				if (cJSON_IsString(e) && nids < MAX_IDS)
					snprintf(ids[nids++], sizeof(ids[0]), "%s", e->valuestring);
			}
			cJSON_Delete(j);
		}
	} else if (code == 503) {
		n503++;
		if (body == NULL || strstr(body, "\"error\":\"unavailable\"") == NULL)
			n503_bad_body++;
	} else {
		nother++;
		snprintf(other_example, sizeof(other_example), "%ld %.200s", code,
			 body ? body : "");
	}
	pthread_mutex_unlock(&mu);
}

static void *client(void *arg)
{
	char url[128], auth[1024], body[1024];
	const char *h[] = { auth, "Content-Type: application/json", NULL };

	(void)arg;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/webhooks/alertmanager", ingest_port);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	while (!stop_clients) {
		long n, code;
		char *resp = NULL;
		int len;

		pthread_mutex_lock(&mu);
		n = ++seq;
		pthread_mutex_unlock(&mu);
		len = snprintf(body, sizeof(body),
			       "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"Load\\\"}\","
			       "\"status\":\"firing\",\"receiver\":\"alexus\",\"alerts\":[{"
			       "\"status\":\"firing\",\"labels\":{\"alertname\":\"Load\","
			       "\"seq\":\"%ld\",\"severity\":\"warning\"},\"annotations\":{},"
			       "\"startsAt\":\"2026-11-23T10:00:00Z\","
			       "\"endsAt\":\"0001-01-01T00:00:00Z\"}]}",
			       n);
		code = h_http("POST", url, h, body, (size_t)len, &resp);
		record(code, resp);
		free(resp);
	}
	return NULL;
}

static long count(long *v)
{
	long n;

	pthread_mutex_lock(&mu);
	n = *v;
	pthread_mutex_unlock(&mu);
	return n;
}

struct more { long *v; long above; };

static int grew(void *arg)
{
	struct more *m = arg;

	return count(m->v) > m->above;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_redis_stopped_under_load(void **state)
{
	pthread_t th[CLIENTS];
	char env_redis[96], env_port[64], ready[128];
	const char *env[] = { env_redis, env_port, "ALEXUS_INGEST_WORKERS=2",
			      "ALEXUS_RATE_LIMIT=0", "ALEXUS_REDIS_TIMEOUT_MS=500", NULL };
	struct more m;
	long on_stream = 0, dups = 0, missing = 0, i, after_restart;
	redisContext *c;
	redisReply *r;
	char last[64] = "-";

	(void)state;
	ids = calloc(MAX_IDS, sizeof(*ids));
	assert_non_null(ids);
	snprintf(dir, sizeof(dir), "/tmp/alexus-itest-redis-XXXXXX");
	assert_non_null(mkdtemp(dir));
	redis_port = h_free_port();
	ingest_port = h_free_port();
	start_redis();
	snprintf(env_redis, sizeof(env_redis), "ALEXUS_REDIS_URL=redis://127.0.0.1:%d", redis_port);
	snprintf(env_port, sizeof(env_port), "ALEXUS_INGEST_PORT=%d", ingest_port);
	h_spawn(&ingest, "alexus-ingest", env);
	snprintf(ready, sizeof(ready), "http://127.0.0.1:%d/readyz", ingest_port);
	assert_true(h_wait_http_200(ready, 15000));
	token = h_token("loadtest");

	for (i = 0; i < CLIENTS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, client, NULL), 0);

	/* Accepting under load. */
	m.v = &n202;
	m.above = 50;
	assert_true(h_wait_until(grew, &m, 30000));

	/* Redis stops: clients must start seeing 503. */
	assert_int_equal(h_stop(&redis, SIGTERM, 10000), 0);
	m.v = &n503;
	m.above = 20;
	assert_true(h_wait_until(grew, &m, 30000));

	/* Redis comes back on the same data: 202s resume by themselves. */
	start_redis();
	after_restart = count(&n202);
	m.v = &n202;
	m.above = after_restart + 50;
	assert_true(h_wait_until(grew, &m, 30000));

	stop_clients = 1;
	for (i = 0; i < CLIENTS; i++)
		pthread_join(th[i], NULL);

	printf("# answers: %ld x 202 (%ld ids), %ld x 503, %ld other\n", n202, nids, n503,
	       nother);
	if (nother != 0)
		fail_msg("%ld answers were neither 202 nor 503, e.g. %s", nother, other_example);
	/* (Retry-After on every 503 is checked in test_ingest_http.) */
	assert_int_equal(n503_bad_body, 0);
	assert_true(n202 > 100);

	/* Every acknowledged id is on the stream, once. */
	qsort(ids, (size_t)nids, sizeof(ids[0]), cmp_id);
	c = rc();
	{
		char (*seen)[40] = calloc(MAX_IDS * 2, sizeof(*seen));
		long nseen = 0;

		assert_non_null(seen);
		for (;;) {
			size_t k;

			/* "(" makes the start exclusive (Redis 6.2+). */
			r = redisCommand(c, "XRANGE alexus:signals %s%s + COUNT 1000",
					 strcmp(last, "-") == 0 ? "" : "(", last);
			assert_non_null(r);
			assert_int_equal(r->type, REDIS_REPLY_ARRAY);
			if (r->elements == 0) {
				freeReplyObject(r);
				break;
			}
			for (k = 0; k < r->elements; k++) {
				redisReply *e = r->element[k], *f = e->element[1];
				size_t j;

				for (j = 0; j + 1 < f->elements; j += 2) {
					if (strcmp(f->element[j]->str, "id") == 0 &&
					    nseen < MAX_IDS * 2)
						snprintf(seen[nseen++], sizeof(seen[0]), "%s",
							 f->element[j + 1]->str);
				}
			}
			snprintf(last, sizeof(last), "%s",
				 r->element[r->elements - 1]->element[0]->str);
			freeReplyObject(r);
		}
		qsort(seen, (size_t)nseen, sizeof(seen[0]), cmp_id);
		for (i = 1; i < nseen; i++)
			dups += strcmp(seen[i - 1], seen[i]) == 0;
		for (i = 0; i < nids; i++) {
			if (bsearch(ids[i], seen, (size_t)nseen, sizeof(seen[0]), cmp_id) == NULL)
				missing++;
		}
		on_stream = nseen;
		free(seen);
	}
	redisFree(c);
	printf("# stream: %ld entries, %ld duplicate ids, %ld acknowledged ids missing\n",
	       on_stream, dups, missing);
	assert_int_equal(missing, 0);
	assert_int_equal(dups, 0);

	assert_int_equal(h_stop(&ingest, SIGTERM, 10000), 0);
	assert_false(h_log_has_sanitizer_report(&ingest));
	assert_true(WIFEXITED(ingest.status) && WEXITSTATUS(ingest.status) == 0);
	free(token);
	free(ids);
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	stop_clients = 1;
	h_stop(&ingest, SIGKILL, 5000);
	h_stop(&redis, SIGKILL, 5000);
	if (dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_redis_stopped_under_load, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
