/* itest_shutdown.c - SIGTERM in the middle of work, in every plane, on the
 * real servers and the real daemon binaries.
 *
 * reason, work in hand finishes: the test holds a SHARE lock on the
 * alerts table (owner role), appends six signals and starts reason with
 * ALEXUS_BATCH=4, so reason reads four and blocks inside their
 * transaction.  SIGTERM then: /readyz turns 503 "stopping" (within a
 * second: as soon as the handler ran), the
 * process is still there 300 ms later (it finishes, it does not drop),
 * and once the lock goes it commits, acknowledges and exits 0 within
 * STOP_BOUND_MS.  The four are committed and acknowledged, the other two
 * were never delivered; a second consumer commits those two, and every
 * signal is in signals_seen and alerts exactly once.
 *
 * reason, work in hand fails during the stop: the same, but while reason
 * waits the test terminates its Postgres backend.  The stop is already
 * requested, so the worker does not retry: it exits 0 at once, nothing is
 * committed, nothing acknowledged -- XPENDING lists exactly the four
 * entries it had read.  A restarted consumer reclaims them and finishes
 * all six exactly once.
 *
 * act: a notification in flight to a receiver that holds its reply for
 * two seconds, four more actions read in the same batch.  SIGTERM: the
 * delivery in flight completes and is recorded, the four stay pending
 * (XPENDING) with no delivery attempted; a restarted act delivers each of
 * them once (five requests, five distinct Idempotency-Keys, five
 * succeeded actions).
 *
 * ingest: Redis pauses writes (CLIENT PAUSE WRITE), eight webhook
 * requests wait on their appends, SIGTERM: the listener closes (a new
 * connection is refused), the eight are answered once Redis resumes, and
 * every id a 202 returned is on alexus:signals; ingest exits 0.
 *
 * Probes are checked on the way: a reason that cannot reach Redis serves
 * /healthz 200 and /readyz 503 with its reason (and still stops cleanly
 * on SIGTERM), and /readyz is 200 once it has settled entries.
 *
 * The reason tests first point group reason past whatever earlier tests
 * left unread on alexus:signals, and their first consumers reclaim
 * nothing younger than an hour, so a batch of four is exactly this
 * test's four. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/hash.h"
#include "alexus/keys.h"
#include "alexus/stream.h"
#include "harness.h"
#include "system.h"

/* From SIGTERM (or the end of the work in hand) to exit: the loop checks
 * the flag between entries and its XREADGROUP BLOCK is 100 ms here; the
 * bound leaves room for the sanitizer build. */
#define STOP_BOUND_MS 3000
#define NSIGS 6
#define INHAND 4

static redisContext *redis;
static PGconn *app;

static long long mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Append a firing alert of tenant with signal id id; its stream id into sid. */
static void xadd(const char *tenant, const char *id, int n, char *sid, size_t sidlen)
{
	char data[1024], fp[AX_SHA256_HEX], seed[128], trace[40];
	redisReply *r;

	snprintf(seed, sizeof(seed), "%s-%d", tenant, n);
	ax_sha256_hex(seed, strlen(seed), fp);
	snprintf(trace, sizeof(trace), "trace-%.8s", id);
	snprintf(data, sizeof(data),
		 "{\"name\":\"Stop%d\",\"status\":\"firing\",\"severity\":\"warning\","
		 "\"summary\":\"stop test %d\",\"service\":\"svc%d\",\"labels\":{\"alertname\":"
		 "\"Stop%d\"},\"source\":\"test\",\"fingerprint\":\"%s\"}",
		 n, n, n, n, fp);
	r = redisCommand(redis, "XADD %s * v 1 tenant %s id %s kind alert trace %s data %s",
			 AX_STREAM_SIGNALS, tenant, id, trace, data);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	snprintf(sid, sidlen, "%s", r->str);
	freeReplyObject(r);
}

/* Stream ids pending for consumer in group (at most max, into ids). */
static int pending_of(const char *stream, const char *group, const char *consumer,
		      char ids[][64], int max)
{
	redisReply *r = redisCommand(redis, "XPENDING %s %s - + 1000 %s", stream, group, consumer);
	int n = 0;
	size_t i;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	for (i = 0; i < r->elements; i++) {
		if (n < max && ids != NULL)
			snprintf(ids[n], 64, "%s", r->element[i]->element[0]->str);
		n++;
	}
	freeReplyObject(r);
	return n;
}

/* The group's last-delivered-id, from XINFO GROUPS; 0 when there is no
 * such group (yet). */
static int find_last_delivered(const char *stream, const char *group, char *out, size_t len)
{
	redisReply *r = redisCommand(redis, "XINFO GROUPS %s", stream);
	size_t i, k;

	out[0] = '\0';
	if (r == NULL)
		return 0;
	for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *g = r->element[i];
		const char *name = NULL, *last = NULL;

		for (k = 0; k + 1 < g->elements; k += 2) {
			if (strcmp(g->element[k]->str, "name") == 0)
				name = g->element[k + 1]->str;
			else if (strcmp(g->element[k]->str, "last-delivered-id") == 0)
				last = g->element[k + 1]->str;
		}
		if (name != NULL && last != NULL && strcmp(name, group) == 0)
			snprintf(out, len, "%s", last);
	}
	freeReplyObject(r);
	return out[0] != '\0';
}

static void last_delivered(const char *stream, const char *group, char *out, size_t len)
{
	if (!find_last_delivered(stream, group, out, len))
		fail_msg("no group %s on %s", group, stream);
}

/* The group has been handed every entry of its stream (what earlier
 * tests left there included), and, with settled, none is pending: a
 * consumer started later sees only what is appended after. */
struct caught {
	const char *stream, *group;
	int settled;
};

static int caught_up(void *arg)
{
	const struct caught *c = arg;
	char last[64], gen[64] = "";
	redisReply *r = redisCommand(redis, "XINFO STREAM %s", c->stream);
	size_t k;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		return 0;
	}
	for (k = 0; k + 1 < r->elements; k += 2) {
		if (r->element[k]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[k]->str, "last-generated-id") == 0)
			snprintf(gen, sizeof(gen), "%s", r->element[k + 1]->str);
	}
	freeReplyObject(r);
	if (!find_last_delivered(c->stream, c->group, last, sizeof(last)) || strcmp(gen, last) != 0)
		return 0;
	if (!c->settled)
		return 1;
	r = redisCommand(redis, "XPENDING %s %s", c->stream, c->group);
	k = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == 0;
	if (r != NULL)
		freeReplyObject(r);
	return (int)k;
}

/* Point group reason past everything on alexus:signals: entries earlier
 * tests left unread (ingest's drain test appends signals no reason
 * consumes) must not land in a test's batch of four. */
static void reason_group_to_end(void)
{
	redisReply *r = redisCommand(redis, "XGROUP SETID %s %s $", AX_STREAM_SIGNALS,
				     AX_GROUP_REASON);

	assert_non_null(r);
	if (r->type == REDIS_REPLY_ERROR) {
		/* A fresh stack: no stream or group yet. */
		freeReplyObject(r);
		r = redisCommand(redis, "XGROUP CREATE %s %s $ MKSTREAM", AX_STREAM_SIGNALS,
				 AX_GROUP_REASON);
		assert_non_null(r);
	}
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
}

static long q(const char *tenant, const char *sql)
{
	return h_pg_long(app, tenant, sql, 0, NULL);
}

static long seen(const char *tenant, const char *signal_id)
{
	const char *p[1] = { signal_id };

	return h_pg_long(app, tenant, "SELECT count(*) FROM signals_seen WHERE signal_id = $1", 1,
			 p);
}

/* What a reason test holds, for its teardown after a failure: the
 * daemons it started (killed) and the connections holding the lock. */
static struct {
	struct h_proc p[2];
	PGconn *locker, *mon;
} held;

static int release_held(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		if (held.p[i].pid > 0 && !held.p[i].reaped)
			h_stop(&held.p[i], SIGKILL, 5000);
	}
	if (held.locker != NULL)
		PQfinish(held.locker);
	if (held.mon != NULL)
		PQfinish(held.mon);
	memset(&held, 0, sizeof(held));
	return 0;
}

/* Postgres backends of the application role waiting on a lock. */
struct waiters {
	PGconn *mon;
	long pid;
};

static int someone_waits(void *arg)
{
	struct waiters *w = arg;

	w->pid = h_pg_long(w->mon, NULL,
			   "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
			   "AND usename <> current_user ORDER BY pid LIMIT 1",
			   0, NULL);
	return w->pid > 0;
}

static void start_reason(struct h_proc *p, const char *consumer, const char *claim_idle,
			 const char *health)
{
	static char c[4][64], ci[4][64], h[4][64];
	static int k;
	const char *env[] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_BATCH=4", "ALEXUS_REASON_AGENTS=0",
			      c[k], ci[k], h[k], NULL };

	snprintf(c[k], sizeof(c[k]), "ALEXUS_CONSUMER=%s", consumer);
	snprintf(ci[k], sizeof(ci[k]), "ALEXUS_CLAIM_IDLE_MS=%s", claim_idle);
	snprintf(h[k], sizeof(h[k]), "ALEXUS_HEALTH_ADDR=%s", health != NULL ? health : "");
	h_spawn(p, "alexus-reason", env);
	k = (k + 1) % 4;
}

static void assert_clean_exit(struct h_proc *p)
{
	if (h_log_has_sanitizer_report(p) || !WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0) {
		h_dump_log(p);
		fail_msg("%s exited with status %d or reported a sanitizer error", p->log,
			 p->status);
	}
}

/* GET url; status, and whether the body contains needle (NULL: not checked). */
static long probe(const char *url, const char *needle)
{
	char *body = NULL;
	long code = h_http("GET", url, NULL, NULL, 0, &body);

	if (needle != NULL && (body == NULL || strstr(body, needle) == NULL))
		fail_msg("%s: %ld '%s' lacks '%s'", url, code, body ? body : "", needle);
	free(body);
	return code;
}

/* Poll url until it answers 503 with "stopping" (the signal handler has
 * run) or timeout_ms passes; 1 when it did. */
static int stopping(void *arg)
{
	char *body = NULL;
	long code = h_http("GET", arg, NULL, NULL, 0, &body);
	int yes = code == 503 && body != NULL && strstr(body, "stopping") != NULL;

	free(body);
	return yes;
}

struct all_seen {
	const char *tenant;
	long want;
};

static int tenant_committed(void *arg)
{
	struct all_seen *a = arg;

	return q(a->tenant, "SELECT count(*) FROM signals_seen") >= a->want;
}

/* ---------------------------------------------------------------- probes */

static void test_reason_probes_without_redis(void **state)
{
	struct h_proc p;
	char addr[64], url[128], redis_url[64];
	const char *env[] = { redis_url, "ALEXUS_HEALTH_ADDR", NULL };
	long long t0;

	(void)state;
	snprintf(redis_url, sizeof(redis_url), "ALEXUS_REDIS_URL=redis://127.0.0.1:%d",
		 h_free_port());
	snprintf(addr, sizeof(addr), "ALEXUS_HEALTH_ADDR=127.0.0.1:%d", h_free_port());
	env[1] = addr;
	h_spawn(&p, "alexus-reason", env);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/healthz", strchr(addr, ':') + 1);
	if (!h_wait_http_200(url, WAIT_MS)) {
		h_dump_log(&p);
		fail_msg("reason's /healthz did not answer");
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/readyz", strchr(addr, ':') + 1);
	assert_int_equal(probe(url, "\"ready\":false"), 503);
	assert_int_equal(probe(url, "no heartbeat yet"), 503);
	/* A stop during the reconnect backoff is a clean exit too. */
	t0 = mono_ms();
	assert_int_equal(h_stop(&p, SIGTERM, STOP_BOUND_MS), 0);
	assert_clean_exit(&p);
	assert_true(mono_ms() - t0 < STOP_BOUND_MS);
}

/* -------------------------------------------------------- reason, finish */

static void test_reason_finishes_work_in_hand(void **state)
{
	char t[64], id[NSIGS][AX_UUID_LEN], sid[NSIGS][64], last[64], addr[64], ready[128];
	struct waiters w = { held.mon = h_pg_admin(), 0 };
	PGconn *locker = held.locker = h_pg_admin();
	struct all_seen all;
	struct h_proc *r1 = &held.p[0], *r2 = &held.p[1];
	long long t0;
	int i, port = h_free_port();

	(void)state;
	h_tenant_new("sdr", NULL, t);
	reason_group_to_end();
	for (i = 0; i < NSIGS; i++)
		ax_uuid4(id[i]);
	PQclear(PQexec(locker, "BEGIN"));
	PQclear(PQexec(locker, "LOCK TABLE alerts IN SHARE MODE"));
	for (i = 0; i < NSIGS; i++)
		xadd(t, id[i], i, sid[i], sizeof(sid[i]));

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	snprintf(ready, sizeof(ready), "http://%s/readyz", addr);
	start_reason(r1, "sd-finish", "3600000", addr);
	if (!h_wait_until(someone_waits, &w, WAIT_MS)) {
		h_dump_log(r1);
		fail_msg("reason never blocked on the alerts lock");
	}
	/* It has read exactly one batch: four entries in hand, pending. */
	assert_int_equal(pending_of(AX_STREAM_SIGNALS, AX_GROUP_REASON, "sd-finish", NULL, 0),
			 INHAND);

	kill(r1->pid, SIGTERM);
	/* The probe turns as soon as the signal is handled; the work in hand
	 * is not dropped. */
	assert_true(h_wait_until(stopping, ready, 1000));
	assert_int_not_equal(h_wait_exit(r1, 300), 0);
	assert_int_equal(probe(ready, "\"ready\":false"), 503);

	PQclear(PQexec(locker, "COMMIT"));
	t0 = mono_ms();
	if (h_wait_exit(r1, STOP_BOUND_MS) != 0) {
		h_dump_log(r1);
		fail_msg("reason did not exit within %d ms of finishing", STOP_BOUND_MS);
	}
	assert_clean_exit(r1);
	assert_true(mono_ms() - t0 < STOP_BOUND_MS);

	/* Finished means committed and acknowledged; the rest never left
	 * the stream. */
	assert_int_equal(pending_of(AX_STREAM_SIGNALS, AX_GROUP_REASON, "sd-finish", NULL, 0), 0);
	for (i = 0; i < INHAND; i++)
		assert_int_equal(seen(t, id[i]), 1);
	for (i = INHAND; i < NSIGS; i++)
		assert_int_equal(seen(t, id[i]), 0);
	last_delivered(AX_STREAM_SIGNALS, AX_GROUP_REASON, last, sizeof(last));
	assert_string_equal(last, sid[INHAND - 1]);
	assert_int_equal(q(t, "SELECT count(*) FROM alerts"), INHAND);

	/* A second consumer finishes the rest, once. */
	start_reason(r2, "sd-finish-2", "3600000", NULL);
	all.tenant = t;
	all.want = NSIGS;
	if (!h_wait_until(tenant_committed, &all, WAIT_MS)) {
		h_dump_log(r2);
		fail_msg("the restarted consumer did not finish the rest");
	}
	t0 = mono_ms();
	assert_int_equal(h_stop(r2, SIGTERM, STOP_BOUND_MS), 0);
	assert_clean_exit(r2);
	assert_true(mono_ms() - t0 < STOP_BOUND_MS);
	for (i = 0; i < NSIGS; i++)
		assert_int_equal(seen(t, id[i]), 1);
	assert_int_equal(q(t, "SELECT count(*) FROM alerts"), NSIGS);
	assert_int_equal(q(t, "SELECT count(*) FROM alert_history"), NSIGS);
	assert_int_equal(pending_of(AX_STREAM_SIGNALS, AX_GROUP_REASON, "sd-finish-2", NULL, 0),
			 0);
	PQfinish(held.locker);
	PQfinish(held.mon);
	held.locker = held.mon = NULL;
}

/* --------------------------------------------------- reason, hand back */

static void test_reason_hands_back_unfinished(void **state)
{
	char t[64], id[NSIGS][AX_UUID_LEN], sid[NSIGS][64], pend[16][64], addr[64], ready[128];
	struct waiters w = { held.mon = h_pg_admin(), 0 };
	PGconn *locker = held.locker = h_pg_admin();
	struct all_seen all;
	struct h_proc *r1 = &held.p[0], *r2 = &held.p[1];
	long long t0;
	char pid[32];
	const char *p[1] = { pid };
	int i, n;

	(void)state;
	h_tenant_new("sdh", NULL, t);
	reason_group_to_end();
	for (i = 0; i < NSIGS; i++)
		ax_uuid4(id[i]);
	PQclear(PQexec(locker, "BEGIN"));
	PQclear(PQexec(locker, "LOCK TABLE alerts IN SHARE MODE"));
	for (i = 0; i < NSIGS; i++)
		xadd(t, id[i], i, sid[i], sizeof(sid[i]));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", h_free_port());
	start_reason(r1, "sd-handback", "3600000", addr);
	if (!h_wait_until(someone_waits, &w, WAIT_MS)) {
		h_dump_log(r1);
		fail_msg("reason never blocked on the alerts lock");
	}
	kill(r1->pid, SIGTERM);
	assert_int_not_equal(h_wait_exit(r1, 200), 0);
	/* Its transaction dies under it: with the stop requested there is no
	 * retry, and nothing of the batch may be acknowledged. */
	snprintf(pid, sizeof(pid), "%ld", w.pid);
	assert_int_equal(h_pg_long(w.mon, NULL, "SELECT count(*) FROM pg_terminate_backend($1::int)"
				   , 1, p), 1);
	t0 = mono_ms();
	if (h_wait_exit(r1, STOP_BOUND_MS) != 0) {
		h_dump_log(r1);
		fail_msg("reason did not exit within %d ms of its work failing", STOP_BOUND_MS);
	}
	assert_clean_exit(r1);
	assert_true(mono_ms() - t0 < STOP_BOUND_MS);
	PQclear(PQexec(locker, "COMMIT"));

	n = pending_of(AX_STREAM_SIGNALS, AX_GROUP_REASON, "sd-handback", pend, 16);
	assert_int_equal(n, INHAND);
	for (i = 0; i < INHAND; i++)
		assert_string_equal(pend[i], sid[i]);
	for (i = 0; i < NSIGS; i++)
		assert_int_equal(seen(t, id[i]), 0);
	assert_int_equal(q(t, "SELECT count(*) FROM alerts"), 0);

	/* A restarted consumer reclaims the four (idle over 100 ms), reads the
	 * two, and commits each once. */
	snprintf(ready, sizeof(ready), "http://%s/readyz", addr);
	start_reason(r2, "sd-handback-2", "100", addr);
	all.tenant = t;
	all.want = NSIGS;
	if (!h_wait_until(tenant_committed, &all, WAIT_MS)) {
		h_dump_log(r2);
		fail_msg("the restarted consumer did not finish the entries handed back");
	}
	/* It has settled entries: ready. */
	assert_int_equal(probe(ready, "\"ready\":true"), 200);
	assert_int_equal(h_stop(r2, SIGTERM, STOP_BOUND_MS), 0);
	assert_clean_exit(r2);
	for (i = 0; i < NSIGS; i++)
		assert_int_equal(seen(t, id[i]), 1);
	assert_int_equal(q(t, "SELECT count(*) FROM alerts"), NSIGS);
	assert_int_equal(q(t, "SELECT count(*) FROM alert_history"), NSIGS);
	assert_int_equal(pending_of(AX_STREAM_SIGNALS, AX_GROUP_REASON, "sd-handback", NULL, 0), 0);
	PQfinish(held.locker);
	PQfinish(held.mon);
	held.locker = held.mon = NULL;
}

/* ------------------------------------------------------------------ act */

#define NACT 5

static int actions_queued(void *arg)
{
	struct sys *s = arg;
	char last[64];
	redisReply *r;
	size_t i;
	int n = 0;

	last_delivered(AX_STREAM_ACTIONS, AX_GROUP_ACT, last, sizeof(last));
	r = redisCommand(redis, "XRANGE %s (%s +", AX_STREAM_ACTIONS, last);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		return 0;
	}
	for (i = 0; i < r->elements; i++) {
		const redisReply *f = r->element[i]->element[1];
		size_t k;

		for (k = 0; k + 1 < f->elements; k += 2) {
			if (strcmp(f->element[k]->str, "tenant") == 0 &&
			    strcmp(f->element[k + 1]->str, s->tenant) == 0)
				n++;
		}
	}
	freeReplyObject(r);
	return n >= NACT;
}

static void test_act_finishes_delivery_in_hand(void **state)
{
	struct sys *s;
	struct rcv_reply slow = { 200, NULL, 0, NULL, 2000 };
	char body[4096], addr[64], health[96], ready[128], keys[NACT][128];
	const char *extra[] = { "ALEXUS_CONSUMER=sd-act", health, NULL };
	long long t0;
	int i, j, len;

	(void)state;
	s = sys_up("sda", NULL);
	/* act stopped first (once reason and act have settled what earlier
	 * tests left), so its next read takes all five at once. */
	{
		struct caught sig = { AX_STREAM_SIGNALS, AX_GROUP_REASON, 1 };
		struct caught act = { AX_STREAM_ACTIONS, AX_GROUP_ACT, 1 };

		if (!h_wait_until(caught_up, &sig, WAIT_MS) || !h_wait_until(caught_up, &act, WAIT_MS))
			fail_msg("reason and act did not settle what earlier tests left");
	}
	assert_int_equal(h_stop(&s->act, SIGTERM, WAIT_MS), 0);
	assert_clean_exit(&s->act);

	rcv_script_reply(s->rcv, &slow);
	len = snprintf(body, sizeof(body), "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[");
	for (i = 0; i < NACT; i++)
		len += snprintf(body + len, sizeof(body) - (size_t)len,
				"%s{\"status\":\"firing\",\"labels\":{\"alertname\":\"Stop%d\","
				"\"service\":\"stop-svc-%d\",\"severity\":\"critical\"},"
				"\"annotations\":{\"summary\":\"stop %d\"},"
				"\"startsAt\":\"2026-11-23T10:00:00Z\"}",
				i ? "," : "", i, i, i);
	len += snprintf(body + len, sizeof(body) - (size_t)len, "]}");
	assert_int_equal(sys_post(s, "/v1/webhooks/alertmanager", body, (size_t)len, NULL), 202);
	sys_wait_sql(s, "SELECT count(*) FROM actions", NACT);
	if (!h_wait_until(actions_queued, s, WAIT_MS))
		fail_msg("reason did not append the %d actions", NACT);

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", h_free_port());
	snprintf(health, sizeof(health), "ALEXUS_HEALTH_ADDR=%s", addr);
	snprintf(ready, sizeof(ready), "http://%s/readyz", addr);
	sys_restart_act(s, extra);
	/* The first delivery is in flight (the receiver holds its reply). */
	assert_int_equal(rcv_wait(s->rcv, 1, WAIT_MS), 1);
	assert_int_equal(pending_of(AX_STREAM_ACTIONS, AX_GROUP_ACT, "sd-act", NULL, 0), NACT);

	kill(s->act.pid, SIGTERM);
	t0 = mono_ms();
	assert_true(h_wait_until(stopping, ready, 1000));
	assert_int_not_equal(h_wait_exit(&s->act, 300), 0);
	/* The delivery in hand ends (2 s) and is recorded; then exit 0. */
	if (h_wait_exit(&s->act, 2000 + STOP_BOUND_MS) != 0) {
		h_dump_log(&s->act);
		fail_msg("act did not exit after its delivery in hand");
	}
	assert_clean_exit(&s->act);
	assert_true(mono_ms() - t0 < 2000 + STOP_BOUND_MS);
	assert_int_equal(rcv_count(s->rcv), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions WHERE status = 'succeeded'"), 1);
	assert_int_equal(pending_of(AX_STREAM_ACTIONS, AX_GROUP_ACT, "sd-act", NULL, 0),
			 NACT - 1);

	/* A restarted act reclaims the four and delivers each once. */
	sys_restart_act(s, NULL);
	assert_int_equal(rcv_wait(s->rcv, NACT, WAIT_MS), NACT);
	sys_wait_settled(s);
	assert_int_equal(rcv_count(s->rcv), NACT);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions WHERE status = 'succeeded'"),
			 NACT);
	for (i = 0; i < NACT; i++) {
		assert_non_null(rcv_header(rcv_get(s->rcv, i), "idempotency-key", keys[i],
					   sizeof(keys[i])));
		assert_true(keys[i][0] != '\0');
		for (j = 0; j < i; j++)
			assert_string_not_equal(keys[i], keys[j]);
	}
	assert_int_equal(pending_of(AX_STREAM_ACTIONS, AX_GROUP_ACT, "sd-act", NULL, 0), 0);
	sys_down(s);
}

/* --------------------------------------------------------------- ingest */

#define NREQ 8

struct client {
	pthread_t th;
	const char *url, *auth;
	int n;
	long code;
	char *resp;
};

static void *post_one(void *arg)
{
	struct client *c = arg;
	const char *h[] = { c->auth, "Content-Type: application/json", NULL };
	char body[1024];
	int len;

	len = snprintf(body, sizeof(body),
		       "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"status\":"
		       "\"firing\",\"labels\":{\"alertname\":\"Drain%d\",\"severity\":\"warning\"},"
		       "\"annotations\":{},\"startsAt\":\"2026-11-23T10:00:00Z\"}]}",
		       c->n);
	c->code = h_http("POST", c->url, h, body, (size_t)len, &c->resp);
	return NULL;
}

struct metric_wait {
	const char *url;
	long want;
};

static int inflight_at_least(void *arg)
{
	struct metric_wait *m = arg;
	char *body = NULL, *at;
	long v = -1;

	if (h_http("GET", m->url, NULL, NULL, 0, &body) == 200 && body != NULL &&
	    (at = strstr(body, "\nalexus_ingest_inflight ")) != NULL)
		v = strtol(at + strlen("\nalexus_ingest_inflight "), NULL, 10);
	free(body);
	return v >= m->want;
}

/* 1 if a signal with this id is on alexus:signals (scanned from the end). */
static int on_stream(const char *signal_id)
{
	redisReply *r = redisCommand(redis, "XREVRANGE %s + - COUNT 2000", AX_STREAM_SIGNALS);
	size_t i, k;
	int found = 0;

	assert_non_null(r);
	for (i = 0; i < r->elements && !found; i++) {
		const redisReply *f = r->element[i]->element[1];

		for (k = 0; k + 1 < f->elements; k += 2) {
			if (strcmp(f->element[k]->str, "id") == 0 &&
			    strcmp(f->element[k + 1]->str, signal_id) == 0)
				found = 1;
		}
	}
	freeReplyObject(r);
	return found;
}

static void test_ingest_drains_in_flight(void **state)
{
	struct h_proc ing;
	struct client c[NREQ];
	struct metric_wait mw;
	char t[64], *token, auth[1024], url[128], metrics[128], ready[128], port_env[64];
	const char *env[] = { port_env, "ALEXUS_INGEST_WORKERS=1", "ALEXUS_RATE_LIMIT=0",
			      "ALEXUS_REDIS_TIMEOUT_MS=10000", NULL };
	redisReply *r;
	long long t0;
	int i, port = h_free_port(), ids = 0;

	(void)state;
	h_tenant_new("sdi", NULL, t);
	token = h_token(t);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	snprintf(port_env, sizeof(port_env), "ALEXUS_INGEST_PORT=%d", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/webhooks/alertmanager", port);
	snprintf(metrics, sizeof(metrics), "http://127.0.0.1:%d/metrics", port);
	snprintf(ready, sizeof(ready), "http://127.0.0.1:%d/readyz", port);
	h_spawn(&ing, "alexus-ingest", env);
	if (!h_wait_http_200(ready, WAIT_MS)) {
		h_dump_log(&ing);
		fail_msg("ingest did not become ready");
	}
	/* Writes wait in Redis for 1.5 s: every request is then in flight. */
	r = redisCommand(redis, "CLIENT PAUSE 1500 WRITE");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	for (i = 0; i < NREQ; i++) {
		c[i].url = url;
		c[i].auth = auth;
		c[i].n = i;
		c[i].code = 0;
		c[i].resp = NULL;
		assert_int_equal(pthread_create(&c[i].th, NULL, post_one, &c[i]), 0);
	}
	mw.url = metrics;
	mw.want = NREQ;
	if (!h_wait_until(inflight_at_least, &mw, 1200))
		fail_msg("the requests never waited on Redis together");

	kill(ing.pid, SIGTERM);
	t0 = mono_ms();
	/* The listener closes: a new request finds nobody (status 0). */
	for (i = 0; i < 100; i++) {
		struct timespec ts = { 0, 10 * 1000000L };
		char *b = NULL;
		long code = h_http("GET", ready, NULL, NULL, 0, &b);

		free(b);
		if (code == 0)
			break;
		nanosleep(&ts, NULL);
	}
	assert_true(i < 100);
	for (i = 0; i < NREQ; i++)
		pthread_join(c[i].th, NULL);
	if (h_wait_exit(&ing, STOP_BOUND_MS) != 0) {
		h_dump_log(&ing);
		fail_msg("ingest did not exit after draining");
	}
	assert_clean_exit(&ing);
	assert_true(mono_ms() - t0 < 1500 + STOP_BOUND_MS);

	/* Every request in flight was answered, and a 202 means on the stream. */
	for (i = 0; i < NREQ; i++) {
		cJSON *j, *e;

		if (c[i].code != 202) {
			h_dump_log(&ing);
			fail_msg("request %d in flight got %ld: %s", i, c[i].code,
				 c[i].resp ? c[i].resp : "");
		}
		j = cJSON_Parse(c[i].resp);
		assert_non_null(j);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "ids")) {
			assert_true(cJSON_IsString(e));
			assert_true(on_stream(e->valuestring));
			ids++;
		}
		cJSON_Delete(j);
		free(c[i].resp);
	}
	assert_int_equal(ids, NREQ);
	free(token);
	/* No reason runs here: leave no unread signals to later tests. */
	reason_group_to_end();
}

static int setup(void **state)
{
	(void)state;
	redis = h_redis();
	app = h_pg_app();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	redisFree(redis);
	PQfinish(app);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_probes_without_redis),
		cmocka_unit_test_teardown(test_reason_finishes_work_in_hand, release_held),
		cmocka_unit_test_teardown(test_reason_hands_back_unfinished, release_held),
		cmocka_unit_test_teardown(test_act_finishes_delivery_in_hand, sys_teardown),
		cmocka_unit_test(test_ingest_drains_in_flight),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
