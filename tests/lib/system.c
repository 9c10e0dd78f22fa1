/* system.c - one running Alexus for an integration test (see system.h). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/cred.h"
#include "alexus/crypto.h"
#include "alexus/hash.h"
#include "alexus/keys.h"
#include "alexus/pg.h"
#include "harness.h"
#include "receiver.h"
#include "system.h"


static char env_port[64];

/* The one system under test: static, so the teardown can still reach it
 * after a failed assertion has unwound the test function. */
static struct sys current;

/* Tests of the grouping path count its actions exactly, so the stages
 * after classify (which add the decision's actions) are off unless a
 * test turns them on. */
static char agents[64] = "ALEXUS_REASON_AGENTS=0";
static const char *extra_env[8];

void sys_reason_env(int n_agents, const char *const *extra)
{
	int i;

	snprintf(agents, sizeof(agents), "ALEXUS_REASON_AGENTS=%d", n_agents);
	for (i = 0; extra != NULL && extra[i] != NULL && i < 7; i++)
		extra_env[i] = extra[i];
	extra_env[i] = NULL;
}

void sys_start_reason(struct h_proc *p, const char *failpoints)
{
	static char fp[128];
	const char *env[16] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=300",
				"ALEXUS_CONSUMER=reason-test", fp, agents, NULL };
	int i;

	for (i = 0; extra_env[i] != NULL; i++)
		env[5 + i] = extra_env[i];
	snprintf(fp, sizeof(fp), "ALEXUS_FAILPOINTS=%s", failpoints ? failpoints : "");
	h_spawn(p, "alexus-reason", env);
}

void sys_start_act(struct h_proc *p)
{
	const char *env[] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=300",
			      "ALEXUS_CONSUMER=act-test", "ALEXUS_NOTIFY_BACKOFF_MS=20", NULL };

	h_spawn(p, "alexus-act", env);
}

struct sys *sys_up(const char *prefix, const char *reason_failpoints)
{
	struct sys *s = &current;
	const char *env[] = { env_port, NULL };
	char ready[160];

	memset(s, 0, sizeof(*s));
	s->up = 1;
	s->app = h_pg_app();
	s->redis = h_redis();
	s->rcv = rcv_start(200);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/hook", rcv_port(s->rcv));
	h_tenant_new(prefix, s->url, s->tenant);
	s->token = h_token(s->tenant);
	snprintf(s->auth, sizeof(s->auth), "Authorization: Bearer %s", s->token);
	s->port = h_free_port();
	snprintf(env_port, sizeof(env_port), "ALEXUS_INGEST_PORT=%d", s->port);
	h_spawn(&s->ingest, "alexus-ingest", env);
	sys_start_reason(&s->reason, reason_failpoints);
	sys_start_act(&s->act);
	snprintf(ready, sizeof(ready), "http://127.0.0.1:%d/readyz", s->port);
	if (!h_wait_http_200(ready, WAIT_MS)) {
		h_dump_log(&s->ingest);
		fail_msg("ingest did not become ready");
	}
	return s;
}

static void release(struct sys *s)
{
	rcv_stop(s->rcv);
	PQfinish(s->app);
	redisFree(s->redis);
	free(s->token);
	memset(s, 0, sizeof(*s));
}

static void check_clean_exit(struct h_proc *p)
{
	if (p->pid == 0 || p->reaped)
		return;
	if (h_stop(p, SIGTERM, 10000) != 0) {
		h_dump_log(p);
		fail_msg("%s did not stop on SIGTERM", p->log);
	}
	if (h_log_has_sanitizer_report(p) || !WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0) {
		h_dump_log(p);
		fail_msg("%s exited badly (status %d) or reported a sanitizer error", p->log,
			 p->status);
	}
}

void sys_down(struct sys *s)
{
	check_clean_exit(&s->ingest);
	check_clean_exit(&s->reason);
	check_clean_exit(&s->act);
	release(s);
}

int sys_teardown(void **state)
{
	struct sys *s = &current;
	(void)state;

	/* Only after a failed test: stop the daemons so they cannot consume
	 * the next test's entries, and keep the logs for the reader. */
	if (s->up) {
		h_stop(&s->ingest, SIGKILL, 5000);
		h_stop(&s->reason, SIGKILL, 5000);
		h_stop(&s->act, SIGKILL, 5000);
		release(s);
	}
	return 0;
}

long sys_post(struct sys *s, const char *path, const char *body, size_t len, cJSON **out)
{
	char url[256], *resp = NULL;
	const char *hdr[] = { s->auth, "Content-Type: application/json", NULL };
	long st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	st = h_http("POST", url, hdr, body, len, &resp);
	if (out) {
		*out = cJSON_Parse(resp);
		if (*out == NULL)
			fail_msg("response to %s is not JSON: %s", path, resp);
	}
	free(resp);
	return st;
}

long sys_post_file(struct sys *s, const char *path, const char *file, cJSON **out)
{
	size_t len;
	char *body = h_read_file(file, &len);
	long st = sys_post(s, path, body, len, out);

	free(body);
	return st;
}

int sys_json_int(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		fail_msg("response has no number '%s'", k);
	return v->valueint;
}

long sys_q(struct sys *s, const char *sql)
{
	return h_pg_long(s->app, s->tenant, sql, 0, NULL);
}

long long sys_pending(struct sys *s, const char *stream, const char *group)
{
	redisReply *r = redisCommand(s->redis, "XPENDING %s %s", stream, group);
	long long n = -1;

	if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1)
		n = r->element[0]->integer;
	freeReplyObject(r);
	return n;
}

/* Conditions polled with a deadline. */
struct cond {
	struct sys *s;
	const char *tenant;
	const char *sql;
	long want;
};

static int sql_equals(void *arg)
{
	struct cond *c = arg;
	return h_pg_long(c->s->app, c->tenant, c->sql, 0, NULL) == c->want;
}

/* Wait until sql, run through the application role scoped to tenant,
 * yields want. */
void sys_wait_tenant_sql(struct sys *s, const char *tenant, const char *sql, long want)
{
	struct cond c = { s, tenant, sql, want };

	if (!h_wait_until(sql_equals, &c, WAIT_MS)) {
		h_dump_log(&s->reason);
		h_dump_log(&s->act);
		fail_msg("timed out waiting for (%s) = %ld, last %ld", sql, want,
			 h_pg_long(s->app, tenant, sql, 0, NULL));
	}
}

void sys_wait_sql(struct sys *s, const char *sql, long want)
{
	sys_wait_tenant_sql(s, s->tenant, sql, want);
}

static int all_settled(void *arg)
{
	struct sys *s = arg;

	return sys_pending(s, AX_STREAM_SIGNALS, AX_GROUP_REASON) == 0 &&
	       sys_pending(s, AX_STREAM_ACTIONS, AX_GROUP_ACT) == 0 &&
	       sys_q(s, "SELECT count(*) FROM actions WHERE status IN ('pending','running')") == 0;
}

/* Wait until both groups have acknowledged everything and no action is
 * outstanding: only then is "exactly once" a fact rather than a guess. */
void sys_wait_settled(struct sys *s)
{
	if (!h_wait_until(all_settled, s, WAIT_MS)) {
		h_dump_log(&s->reason);
		h_dump_log(&s->act);
		fail_msg("pipeline did not settle");
	}
}

int sys_audit_chain_ok(struct sys *s)
{
	return sys_q(s, "SELECT count(*) FROM ("
			 " SELECT hash = sha256(prev_hash || audit_link_text(tenant_id, seq, at, actor,"
			 "   action, subject, detail, trace)) AS ok,"
			 "  prev_hash = coalesce(lag(hash) OVER (ORDER BY seq),"
			 "   '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)"
			 "   AS linked FROM audit_log) x WHERE NOT (ok AND linked)") == 0;
}

/* Checks one delivery against the action row it claims to carry. */
void sys_check_delivery(struct sys *s, int i, const char *event)
{
	const struct rcv_request *q = rcv_get(s->rcv, i);
	char buf[256], sql[512];
	cJSON *b, *inc;
	const char *key;

	assert_non_null(q);
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->path, "/hook");
	assert_non_null(rcv_header(q, "content-type", buf, sizeof(buf)));
	assert_string_equal(buf, "application/json");
	assert_non_null(rcv_header(q, "x-alexus-event", buf, sizeof(buf)));
	assert_string_equal(buf, event);
	key = rcv_header(q, "idempotency-key", buf, sizeof(buf));
	assert_non_null(key);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM actions WHERE id = '%s' AND status = 'succeeded' "
		 "AND payload->>'event' = '%s'",
		 key, event);
	assert_int_equal(sys_q(s, sql), 1);
	b = cJSON_Parse(q->body);
	assert_non_null(b);
	assert_string_equal(cJSON_GetObjectItem(b, "event")->valuestring, event);
	assert_string_equal(cJSON_GetObjectItem(b, "tenant")->valuestring, s->tenant);
	assert_string_equal(cJSON_GetObjectItem(b, "action_id")->valuestring, key);
	inc = cJSON_GetObjectItem(b, "incident");
	assert_non_null(inc);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM incidents WHERE id = '%s'",
		 cJSON_GetObjectItem(inc, "id")->valuestring);
	assert_int_equal(sys_q(s, sql), 1);
	cJSON_Delete(b);
}


/* ---- notifications (issue 6) ------------------------------------------ */

void sys_restart_act(struct sys *s, const char *const *extra)
{
	const char *env[16] = { "ALEXUS_BLOCK_MS=100", "ALEXUS_CLAIM_IDLE_MS=300",
				"ALEXUS_CONSUMER=act-test", "ALEXUS_NOTIFY_BACKOFF_MS=20", NULL };
	int i;

	check_clean_exit(&s->act);
	for (i = 0; extra != NULL && extra[i] != NULL && i < 11; i++)
		env[4 + i] = extra[i];
	env[4 + i] = NULL;
	h_spawn(&s->act, "alexus-act", env);
}

void sys_channel(struct sys *s, const char *kind, const char *name, const char *min_severity,
		 const char *service, const char *config, int enabled, const char *cred_name,
		 const char *cred_value, char *id)
{
	const char *p[8];
	char uuid[AX_UUID_LEN];

	ax_uuid4(uuid);
	p[0] = s->tenant;
	p[1] = uuid;
	p[2] = kind;
	p[3] = name;
	p[4] = min_severity;
	p[5] = service;
	p[6] = config;
	p[7] = enabled ? "true" : "false";
	PQclear(h_pg_q(s->app, s->tenant,
		       "INSERT INTO notification_channels (tenant_id, id, kind, name, min_severity,"
		       " service, config, enabled, credential) VALUES ($1, $2, $3, $4, $5, $6,"
		       " $7::jsonb, $8::boolean, NULL)",
		       8, p));
	if (cred_name != NULL) {
		struct ax_keyring kr;
		struct ax_pg *pg = ax_pg_new(h_env("ALEXUS_DATABASE_URL"));
		const char *pc[3] = { uuid, cred_name, NULL };
		char err[256];

		if (ax_keyring_init(&kr, h_env("ALEXUS_MASTER_KEY"), getenv("ALEXUS_MASTER_KEY_ID"),
				    getenv("ALEXUS_MASTER_KEYS"), err, sizeof(err)) != AX_OK)
			fail_msg("keyring: %s", err);
		if (ax_pg_begin(pg, s->tenant, err, sizeof(err)) != AX_OK ||
		    ax_cred_put(pg, &kr, s->tenant, cred_name, (const unsigned char *)cred_value,
				strlen(cred_value), NULL, err, sizeof(err)) != AX_OK ||
		    ax_pg_commit(pg, err, sizeof(err)) != AX_OK)
			fail_msg("credential %s: %s", cred_name, err);
		ax_keyring_wipe(&kr);
		ax_pg_free(pg);
		PQclear(h_pg_q(s->app, s->tenant,
			       "UPDATE notification_channels SET credential = $2 WHERE id = $1", 2,
			       pc));
	}
	snprintf(id, AX_UUID_LEN, "%s", uuid);
}

void sys_set_webhook(struct sys *s, const char *url)
{
	PGconn *c = h_pg_admin();
	const char *p[2] = { s->tenant, url };

	PQclear(h_pg_q(c, NULL,
		       "UPDATE tenants SET settings = CASE WHEN $2::text IS NULL THEN '{}'::jsonb"
		       " ELSE jsonb_build_object('notify_webhook_url', $2::text) END WHERE id = $1",
		       2, p));
	PQfinish(c);
}

long sys_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

long sys_dlq_count(struct sys *s, const char *kind, cJSON **out)
{
	redisReply *r = redisCommand(s->redis, "XRANGE %s - +", AX_STREAM_DLQ);
	long n = 0;
	size_t i, j;

	if (out != NULL)
		*out = NULL;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		fail_msg("XRANGE %s failed", AX_STREAM_DLQ);
	for (i = 0; i < r->elements; i++) {
		redisReply *fields = r->element[i]->element[1];
		const char *tenant = NULL, *k = NULL;

		for (j = 0; j + 1 < fields->elements; j += 2) {
			if (strcmp(fields->element[j]->str, "tenant") == 0)
				tenant = fields->element[j + 1]->str;
			else if (strcmp(fields->element[j]->str, "kind") == 0)
				k = fields->element[j + 1]->str;
		}
		if (tenant == NULL || strcmp(tenant, s->tenant) != 0 ||
		    (kind != NULL && (k == NULL || strcmp(k, kind) != 0)))
			continue;
		n++;
		if (out != NULL) {
			cJSON_Delete(*out);
			*out = cJSON_CreateObject();
			for (j = 0; j + 1 < fields->elements; j += 2)
				cJSON_AddStringToObject(*out, fields->element[j]->str,
							fields->element[j + 1]->str);
		}
	}
	freeReplyObject(r);
	return n;
}
