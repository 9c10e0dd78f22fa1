/* jobs.c - act's periodic jobs: the scheduler thread, its leader lock,
 * and what every job shares (see jobs.h).
 *
 * Design.  One thread per act process, beside the worker loop, with its
 * own Postgres connection, Redis connection and knowledge-graph store (a
 * blocking connection is one thread's: nothing is shared with the loop).
 * It ticks every ALEXUS_JOBS_INTERVAL_MS; on a tick, if it leads, it asks
 * jobs_due_tenants() (0017) for the active tenants with due work and runs
 * each job for each of them, every job in its own transaction scoped to
 * the tenant (ax_pg_begin), at most ACT_JOBS_ROWS rows each.
 *
 * Leader lock.  Only one replica should run the jobs, or every replica
 * would page for the same escalation.  The lock is one Redis key,
 *   SET alexus:jobs:leader <consumer>:<random token> NX PX <ttl>,
 * renewed every ttl/3 by a script that extends it only if it still holds
 * our value (compare-and-PEXPIRE), and deleted on stop by one that
 * deletes it only if it does (compare-and-DEL), so a replica can never
 * extend or release another's lock.  Replicas that do not lead try to
 * take it every min(interval, ttl/3).  A leader whose renewal fails (the
 * key holds another value, Redis errs or is gone) stops at once; so does
 * one whose last successful renewal is older than 9/10 of the ttl
 * (valid_until), even while a Redis call hangs.  Each job checks
 * act_job_leading before it commits and between tenants.
 *
 * A lock in Redis is not a mutex: a paused process (GC-less C still
 * stops: swapping, a stopped VM, a partition) can believe it leads after
 * its key expired and another replica took over, and Redis failover can
 * lose the key.  So the lock only makes duplicate work rare; correctness
 * comes from each job itself: it takes its rows FOR UPDATE SKIP LOCKED
 * and changes them only from the state it read (UPDATE ... WHERE state =
 * 'pending', WHERE escalation_level = previous, WHERE decision IS NULL),
 * so two replicas running the same job at once produce each effect once.
 *
 * Outbox.  A job that notifies writes the actions row in its transaction
 * and appends the entry to alexus:actions after COMMIT, like reason.  A
 * crash between the two would lose the notification, and reason's remedy
 * (re-append on redelivery) has no redelivery here.  So the append is
 * idempotent -- one script does SET t:{tenant}:outbox:<action id> NX PX
 * <a day> and XADDs only when the SET succeeded -- and whenever this
 * replica takes the lead (so on start) or an append failed, it first
 * re-appends every pending action the jobs wrote (signal_id NULL, events
 * incident.escalated and incident.reopened): those already appended are
 * skipped by the claim, the lost ones go out.  act itself settles a
 * duplicate entry of one action (a finished action is only acknowledged).
 * Like ingest's script, this one names a stream and a tenant key, so it
 * needs one Redis (or the stream in the tenant's slot) under Cluster. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs.h"
#include "alexus/embed.h"
#include "alexus/failpoint.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/stream.h"

#define TS "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"  /* reason's snapshot shape */
#define NAP_SLICE_MS 50           /* longest sleep between two looks at the stop flags */
#define REDIS_BACKOFF_MAX_MS 5000

static const char RENEW_LUA[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then "
	"return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
static const char RELEASE_LUA[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then "
	"return redis.call('DEL', KEYS[1]) end return 0";
/* KEYS: alexus:actions, t:{tenant}:outbox:<id>; ARGV: claim ttl ms, then
 * the entry's v, tenant, id, kind, trace, data.  The entry id, or nil
 * when this action was appended before. */
static const char APPEND_LUA[] =
	"if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then "
	"return redis.call('XADD', KEYS[1], '*', 'v', ARGV[2], 'tenant', ARGV[3], 'id', ARGV[4], "
	"'kind', ARGV[5], 'trace', ARGV[6], 'data', ARGV[7]) end return false";

static const char Q_DUE_TENANTS[] = "SELECT t FROM jobs_due_tenants($1, $2) AS t";
static const char Q_ACTIVE_TENANTS[] = "SELECT t FROM active_tenant_ids() AS t";
/* The jobs' own pending notify actions, by id (version 7: time order). */
static const char Q_JOB_PENDING[] =
	"SELECT id, payload::text, coalesce(trace, '-') FROM actions "
	"WHERE status = 'pending' AND signal_id IS NULL AND type = 'notify' "
	"AND payload->>'event' IN ('incident.escalated', 'incident.reopened') "
	"AND ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2";
static const char Q_SNAPSHOT[] =
	"SELECT json_build_object('id', id, 'title', title, 'status', status, "
	"'severity', severity, 'category', category, 'confidence', confidence, "
	"'service', service, 'alert_count', alert_count, "
	"'opened_at', to_char(opened_at AT TIME ZONE 'UTC', " TS "), "
	"'resolved_at', to_char(resolved_at AT TIME ZONE 'UTC', " TS "))::text "
	"FROM incidents WHERE id = $1";
static const char Q_AUDIT[] = "SELECT audit_append('act', $1, $2, $3::jsonb, $4)";

struct act_jobs {
	const struct ax_config *cfg;
	volatile sig_atomic_t *stop;
	atomic_int quit;
	pthread_t thread;
	struct ax_pg *pg;
	redisContext *c;               /* NULL while Redis is unreachable */
	struct ax_embedder *emb;
	struct ax_graph *g;            /* NULL: verified fixes are not written to the graph */
	char value[320];               /* the lock's value: consumer:token */
	int leading;
	long long valid_until;         /* monotonic ms: the lock is surely ours until then */
	long long next_renew, next_try, next_run, redis_retry;
	int redis_backoff;
	int redis_down;                /* logged the outage */
	int recover;                   /* re-append the jobs' pending actions first */
};

static long long mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int stopping(const struct act_jobs *j)
{
	return *j->stop || atomic_load(&j->quit);
}

static int leading_now(const struct act_jobs *j)
{
	return j->leading && mono_ms() < j->valid_until;
}

/* ---------------------------------------------------------------- Redis */

static void drop_redis(struct act_jobs *j)
{
	if (j->c != NULL)
		redisFree(j->c);
	j->c = NULL;
}

static void lose(struct act_jobs *j, const char *why)
{
	if (j->leading)
		ax_warn("jobs: no longer the leader (%s): periodic jobs stop here", why);
	j->leading = 0;
	j->next_try = mono_ms();
}

/* 0 with j->c usable, -1 while Redis cannot be reached. */
static int ensure_redis(struct act_jobs *j)
{
	char err[256];
	long long now = mono_ms();

	if (j->c != NULL && j->c->err == 0)
		return 0;
	drop_redis(j);
	if (now < j->redis_retry)
		return -1;
	j->c = ax_redis_connect(j->cfg->redis_url, j->cfg->redis_timeout_ms, err, sizeof(err));
	if (j->c == NULL) {
		if (!j->redis_down)
			ax_warn("jobs: Redis unavailable, retrying: %s", err);
		j->redis_down = 1;
		j->redis_backoff = j->redis_backoff == 0 ? 100 : j->redis_backoff * 2;
		if (j->redis_backoff > REDIS_BACKOFF_MAX_MS)
			j->redis_backoff = REDIS_BACKOFF_MAX_MS;
		j->redis_retry = now + j->redis_backoff;
		return -1;
	}
	if (j->redis_down)
		ax_info("jobs: Redis is back");
	j->redis_down = 0;
	j->redis_backoff = 0;
	return 0;
}

/* One command; the reply, or NULL (the connection dropped on a transport
 * error, errbuf says why). */
static redisReply *cmd(struct act_jobs *j, int argc, const char **argv, char *errbuf,
		       size_t errlen)
{
	redisReply *r;

	if (j->c == NULL) {
		ax_errfmt(errbuf, errlen, "not connected");
		return NULL;
	}
	r = redisCommandArgv(j->c, argc, argv, NULL);
	if (r == NULL) {
		ax_errfmt(errbuf, errlen, "%s", j->c->errstr);
		drop_redis(j);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		ax_errfmt(errbuf, errlen, "%s", r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static void acquire(struct act_jobs *j)
{
	char ttl[24], err[256];
	const char *argv[] = { "SET", AX_KEY_JOBS_LEADER, j->value, "NX", "PX", ttl };
	long long t0 = mono_ms();
	redisReply *r;

	j->next_try = t0 + (j->cfg->jobs_interval_ms < j->cfg->leader_ttl_ms / 3 ?
			    j->cfg->jobs_interval_ms : j->cfg->leader_ttl_ms / 3);
	snprintf(ttl, sizeof(ttl), "%d", j->cfg->leader_ttl_ms);
	r = cmd(j, 6, argv, err, sizeof(err));
	if (r == NULL) {
		ax_warn("jobs: taking the leader lock: %s", err);
		return;
	}
	if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) {
		j->leading = 1;
		j->valid_until = t0 + (long long)j->cfg->leader_ttl_ms * 9 / 10;
		j->next_renew = t0 + j->cfg->leader_ttl_ms / 3;
		j->next_run = t0;
		j->recover = 1;
		ax_info("jobs: leading as %s (lock %s, ttl %d ms)", j->value, AX_KEY_JOBS_LEADER,
			j->cfg->leader_ttl_ms);
	}
	freeReplyObject(r);
}

static void renew(struct act_jobs *j)
{
	char ttl[24], err[256];
	const char *argv[] = { "EVAL", RENEW_LUA, "1", AX_KEY_JOBS_LEADER, j->value, ttl };
	long long t0 = mono_ms();
	redisReply *r;

	snprintf(ttl, sizeof(ttl), "%d", j->cfg->leader_ttl_ms);
	r = cmd(j, 6, argv, err, sizeof(err));
	if (r == NULL) {
		lose(j, err);
		return;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		j->valid_until = t0 + (long long)j->cfg->leader_ttl_ms * 9 / 10;
		j->next_renew = t0 + j->cfg->leader_ttl_ms / 3;
	} else {
		lose(j, "the lock expired or another replica holds it");
	}
	freeReplyObject(r);
}

static void maybe_renew(struct act_jobs *j)
{
	if (j->leading && mono_ms() >= j->next_renew)
		renew(j);
}

static void release(struct act_jobs *j)
{
	const char *argv[] = { "EVAL", RELEASE_LUA, "1", AX_KEY_JOBS_LEADER, j->value };
	char err[256];
	redisReply *r;

	if (!j->leading || j->c == NULL)
		return;
	j->leading = 0;
	r = cmd(j, 5, argv, err, sizeof(err));
	if (r == NULL) {
		ax_warn("jobs: releasing the leader lock: %s (it expires on its own)", err);
		return;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
		ax_info("jobs: released the leader lock");
	freeReplyObject(r);
}

/* Append one job action, unless it was appended before.  AX_OK either way. */
static ax_err append(struct act_jobs *j, const char *tenant, const char *kind, const char *id,
		     const char *trace, const char *payload, char *errbuf, size_t errlen)
{
	char key[AX_KEY_MAX], ttl[24];
	const char *argv[] = { "EVAL", APPEND_LUA, "2", AX_STREAM_ACTIONS, key, ttl,
			       AX_ENTRY_VERSION, tenant, id, kind, trace, payload };
	redisReply *r;

	if (ax_key(key, sizeof(key), tenant, ACT_JOBS_OUTBOX_KIND, id) < 0) {
		ax_errfmt(errbuf, errlen, "no outbox key for tenant %s", tenant);
		return AX_EINVAL;
	}
	snprintf(ttl, sizeof(ttl), "%d", ACT_JOBS_OUTBOX_TTL_MS);
	r = cmd(j, 12, argv, errbuf, errlen);
	if (r == NULL)
		return AX_EIO;
	freeReplyObject(r);
	return AX_OK;
}

/* ---------------------------------------------------------------- one job */

static void out_push(struct act_job *jb, const char *kind, const char *id, const char *trace,
		     const char *text)
{
	struct act_job_out *o;

	if (jb->nout == jb->capout) {
		jb->capout = jb->capout ? jb->capout * 2 : 8;
		jb->out = ax_xrealloc(jb->out, jb->capout * sizeof(*jb->out));
	}
	o = &jb->out[jb->nout++];
	o->kind = kind;
	o->id = ax_xstrdup(id);
	o->trace = ax_xstrdup(trace);
	o->text = ax_xstrdup(text);
}

static void out_clear(struct act_job *jb)
{
	size_t i;

	for (i = 0; i < jb->nout; i++) {
		free(jb->out[i].id);
		free(jb->out[i].trace);
		free(jb->out[i].text);
	}
	jb->nout = 0;
	if (jb->w != NULL)
		ax_store_batch_clear(jb->w);
}

int act_job_leading(const struct act_job *jb)
{
	return jb->owner == NULL || leading_now(jb->owner);
}

ax_err act_job_begin(struct act_job *jb)
{
	if (jb->w == NULL)
		jb->w = ax_store_batch_new();
	out_clear(jb);
	jb->err[0] = '\0';
	return ax_pg_begin(jb->pg, jb->tenant, jb->err, sizeof(jb->err));
}

void act_job_abort(struct act_job *jb)
{
	ax_pg_rollback(jb->pg);
	out_clear(jb);
}

PGresult *act_job_q(struct act_job *jb, const char *sql, int n, const char *const *params)
{
	return ax_pg_exec(jb->pg, jb->err, sizeof(jb->err), sql, n, params);
}

static void flush(struct act_job *jb)
{
	struct act_jobs *j = jb->owner;
	char err[256];
	size_t i;

	for (i = 0; i < jb->nout; i++) {
		const struct act_job_out *o = &jb->out[i];

		if (j == NULL)
			break;
		if (o->kind != NULL) {
			int down = j->c == NULL && ensure_redis(j) != 0;

			if (down || append(j, jb->tenant, o->kind, o->id, o->trace, o->text, err,
					   sizeof(err)) != AX_OK) {
				ax_log(AX_LOG_WARN, o->trace, jb->tenant,
				       "jobs: action %s not appended yet (%s): re-appended later",
				       o->id, j->c == NULL ? "Redis unavailable" : err);
				j->recover = 1;
			}
		} else if (j->c != NULL &&
			   ax_publish_event(j->c, jb->tenant, o->text, err, sizeof(err)) != AX_OK) {
			ax_log(AX_LOG_WARN, o->trace, jb->tenant, "jobs: event not published: %s",
			       err);
		}
	}
}

ax_err act_job_commit(struct act_job *jb)
{
	size_t i, nact = 0;
	ax_err rc;

	if (ax_store_write(jb->pg, jb->tenant, jb->w, jb->err, sizeof(jb->err)) != AX_OK) {
		act_job_abort(jb);
		return AX_EIO;
	}
	if (!act_job_leading(jb)) {
		act_job_abort(jb);
		ax_errfmt(jb->err, sizeof(jb->err), "no longer the leader: rolled back");
		return AX_EAGAIN;
	}
	rc = ax_pg_commit(jb->pg, jb->err, sizeof(jb->err));
	if (rc != AX_OK) {
		out_clear(jb);
		return rc;
	}
	for (i = 0; i < jb->nout; i++)
		nact += jb->out[i].kind != NULL;
	if (nact > 0) {
		/* Per tenant, so a test can crash exactly after its own
		 * tenant's commit whatever else is due. */
		char fp[AX_TENANT_MAX + 32];

		snprintf(fp, sizeof(fp), "act.jobs.after_commit.%s", jb->tenant);
		ax_failpoint(fp);
	}
	flush(jb);
	out_clear(jb);
	return AX_OK;
}

void act_job_event(struct act_job *jb, const char *json)
{
	out_push(jb, NULL, "", "-", json);
}

void act_job_append(struct act_job *jb, const char *kind, const char *id, const char *trace,
		    const char *payload)
{
	out_push(jb, kind, id, trace, payload);
}

void act_job_stage(struct act_job *jb, const char *incident_id, const char *stage,
		   const char *trace, const cJSON *output)
{
	struct ax_event_row ev = {
		.incident_id = incident_id, .signal_id = NULL, .stage = stage, .output = output,
		.provider = "act", .trace = trace,
	};
	cJSON *o = cJSON_CreateObject(), *copy;
	char *text;

	ax_store_event(jb->w, &ev);
	copy = output != NULL ? cJSON_Duplicate(output, 1) : cJSON_CreateObject();
	if (o == NULL || copy == NULL)
		abort();
	cJSON_AddStringToObject(o, "type", "incident.stage");
	cJSON_AddStringToObject(o, "tenant", jb->tenant);
	cJSON_AddStringToObject(o, "incident_id", incident_id);
	cJSON_AddStringToObject(o, "stage", stage);
	ax_json_add_str(o, "signal_id", NULL, 1);
	cJSON_AddStringToObject(o, "trace", trace);
	cJSON_AddItemToObject(o, "output", copy);
	text = ax_json_print(o);
	cJSON_Delete(o);
	out_push(jb, NULL, "", trace, text);
	free(text);
}

ax_err act_job_notify(struct act_job *jb, const char *incident_id, const char *event,
		      const char *trace, cJSON *extra, char id[AX_UUID_LEN])
{
	const char *p[1] = { incident_id };
	PGresult *res = act_job_q(jb, Q_SNAPSHOT, 1, p);
	cJSON *d, *inc, *it;
	char *text;

	if (res == NULL || PQntuples(res) != 1) {
		if (res != NULL)
			ax_errfmt(jb->err, sizeof(jb->err), "incident %s not found", incident_id);
		PQclear(res);
		cJSON_Delete(extra);
		return AX_EIO;
	}
	inc = ax_json_parse(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), 0);
	PQclear(res);
	d = cJSON_CreateObject();
	if (inc == NULL || d == NULL)
		abort();
	ax_uuid7(id);
	cJSON_AddStringToObject(d, "action_id", id);
	cJSON_AddStringToObject(d, "type", "notify");
	cJSON_AddStringToObject(d, "channel", "webhook");
	cJSON_AddStringToObject(d, "incident_id", incident_id);
	ax_json_add_str(d, "signal_id", NULL, 1);
	cJSON_AddStringToObject(d, "event", event);
	cJSON_AddItemToObject(d, "incident", inc);
	while (extra != NULL && extra->child != NULL) {
		it = extra->child;
		cJSON_DetachItemViaPointer(extra, it);
		cJSON_AddItemToObject(d, it->string, it);
	}
	cJSON_Delete(extra);
	text = ax_json_print(d);
	cJSON_Delete(d);
	{
		struct ax_action_row row = { .id = id, .incident_id = incident_id,
					     .signal_id = NULL, .type = "notify", .payload = text,
					     .trace = trace };

		ax_store_action(jb->w, &row);
	}
	out_push(jb, "notify", id, trace, text);
	free(text);
	return AX_OK;
}

ax_err act_job_audit(struct act_job *jb, const char *action, const char *subject,
		     const cJSON *detail, const char *trace)
{
	char *d = ax_json_print(detail);
	const char *p[4] = { action, subject, d, trace };
	PGresult *res = act_job_q(jb, Q_AUDIT, 4, p);

	free(d);
	if (res == NULL)
		return AX_EIO;
	PQclear(res);
	return AX_OK;
}

/* ---------------------------------------------------------------- the pass */

static void job_release(struct act_job *jb)
{
	out_clear(jb);
	free(jb->out);
	ax_store_batch_free(jb->w);
	memset(jb, 0, sizeof(*jb));
}

static void job_init(struct act_jobs *j, struct act_job *jb, const char *tenant)
{
	memset(jb, 0, sizeof(*jb));
	jb->cfg = j->cfg;
	jb->owner = j;
	jb->pg = j->pg;
	jb->g = j->g;
	jb->tenant = tenant;
	jb->consumer = j->cfg->consumer;
}

/* Re-append the jobs' pending actions of every active tenant (see the
 * top of the file).  AX_OK when every one was appended or found appended. */
static ax_err recover_outbox(struct act_jobs *j)
{
	char err[512], last[AX_UUID_LEN], lim[16];
	PGresult *tenants;
	ax_err rc = AX_OK;
	int i, k, n = 0;

	if (ax_pg_ensure(j->pg, err, sizeof(err)) != AX_OK) {
		ax_warn("jobs: outbox recovery: %s", err);
		return AX_EIO;
	}
	tenants = ax_pg_exec(j->pg, err, sizeof(err), Q_ACTIVE_TENANTS, 0, NULL);
	if (tenants == NULL) {
		ax_warn("jobs: outbox recovery: %s", err);
		return AX_EIO;
	}
	snprintf(lim, sizeof(lim), "%d", ACT_JOBS_ROWS);
	for (i = 0; i < PQntuples(tenants) && rc == AX_OK && !stopping(j); i++) {
		const char *tenant = PQgetvalue(tenants, i, 0);

		last[0] = '\0';
		for (;;) {
			const char *p[2] = { last[0] != '\0' ? last : NULL, lim };
			PGresult *res;

			if (ax_pg_begin(j->pg, tenant, err, sizeof(err)) != AX_OK) {
				rc = AX_EIO;
				break;
			}
			res = ax_pg_exec(j->pg, err, sizeof(err), Q_JOB_PENDING, 2, p);
			ax_pg_rollback(j->pg);
			if (res == NULL) {
				rc = AX_EIO;
				break;
			}
			for (k = 0; k < PQntuples(res) && rc == AX_OK; k++) {
				rc = append(j, tenant, "notify", PQgetvalue(res, k, 0),
					    PQgetvalue(res, k, 2),
					    PQgetvalue(res, k, 1), err, sizeof(err));
				snprintf(last, sizeof(last), "%s", PQgetvalue(res, k, 0));
				n += rc == AX_OK;
			}
			k = PQntuples(res);
			PQclear(res);
			if (rc != AX_OK || k < ACT_JOBS_ROWS)
				break;
		}
		if (rc != AX_OK)
			ax_log(AX_LOG_WARN, NULL, tenant, "jobs: outbox recovery: %s", err);
	}
	PQclear(tenants);
	if (rc == AX_OK && n > 0)
		ax_info("jobs: outbox recovery looked at %d pending job action(s)", n);
	return rc;
}

static const struct {
	const char *name;
	ax_err (*run)(struct act_job *jb);
} JOBS[] = {
	{ "quality gate (record)", act_gate_record },
	{ "quality gate (verify)", act_gate_verify },
	{ "escalation", act_escalate },
	{ "approval expiry", act_expire_approvals },
	{ "approval resume", act_resume_decided },
};

static void run_tenant(struct act_jobs *j, const char *tenant)
{
	struct act_job jb;
	size_t i;

	job_init(j, &jb, tenant);
	for (i = 0; i < sizeof(JOBS) / sizeof(JOBS[0]); i++) {
		ax_err rc;

		if (stopping(j) || !leading_now(j))
			break;
		rc = JOBS[i].run(&jb);
		if (rc != AX_OK && rc != AX_EAGAIN)
			ax_log(AX_LOG_WARN, NULL, tenant, "jobs: %s: %s", JOBS[i].name, jb.err);
	}
	job_release(&jb);
}

static void pass(struct act_jobs *j)
{
	char err[512], after[AX_TENANT_MAX + 1] = "", lim[16];
	int i, n;

	if (j->recover && recover_outbox(j) == AX_OK)
		j->recover = 0;
	if (ax_pg_ensure(j->pg, err, sizeof(err)) != AX_OK) {
		ax_warn("jobs: %s", err);
		return;
	}
	snprintf(lim, sizeof(lim), "%d", ACT_JOBS_TENANT_PAGE);
	do {
		const char *p[2] = { after[0] != '\0' ? after : NULL, lim };
		PGresult *res = ax_pg_exec(j->pg, err, sizeof(err), Q_DUE_TENANTS, 2, p);

		if (res == NULL) {
			ax_warn("jobs: due tenants: %s", err);
			return;
		}
		n = PQntuples(res);
		for (i = 0; i < n; i++) {
			maybe_renew(j);
			if (stopping(j) || !leading_now(j))
				break;
			snprintf(after, sizeof(after), "%s", PQgetvalue(res, i, 0));
			run_tenant(j, after);
		}
		PQclear(res);
	} while (n == ACT_JOBS_TENANT_PAGE && i == n);
}

/* Sleep until wake (monotonic ms) or a stop, whichever is first. */
static void nap(struct act_jobs *j, long long wake)
{
	for (;;) {
		long long left = wake - mono_ms();
		struct timespec ts;

		if (left <= 0 || stopping(j))
			return;
		if (left > NAP_SLICE_MS)
			left = NAP_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

static void *run(void *arg)
{
	struct act_jobs *j = arg;

	while (!stopping(j)) {
		long long wake;

		if (ensure_redis(j) != 0) {
			lose(j, "Redis unavailable");
			nap(j, j->redis_retry);
			continue;
		}
		if (j->leading && mono_ms() >= j->next_renew)
			renew(j);
		if (j->leading && !leading_now(j))
			lose(j, "the lock was not renewed in time");
		if (!j->leading && mono_ms() >= j->next_try)
			acquire(j);
		if (leading_now(j) && mono_ms() >= j->next_run) {
			pass(j);
			j->next_run = mono_ms() + j->cfg->jobs_interval_ms;
		}
		if (j->leading)
			wake = j->next_renew < j->next_run ? j->next_renew : j->next_run;
		else
			wake = j->next_try;
		nap(j, wake);
	}
	release(j);
	return NULL;
}

/* ---------------------------------------------------------------- start, stop */

static void jobs_free(struct act_jobs *j)
{
	drop_redis(j);
	ax_pg_free(j->pg);
	ax_graph_close(j->g);
	ax_embedder_free(j->emb);
	free(j);
}

struct act_jobs *act_jobs_start(const struct ax_config *cfg, volatile sig_atomic_t *stop)
{
	struct act_jobs *j = ax_xcalloc(1, sizeof(*j));
	char token[AX_TRACE_LEN], gerr[512];
	sigset_t block, old;
	int rc;

	j->cfg = cfg;
	j->stop = stop;
	atomic_init(&j->quit, 0);
	j->pg = ax_pg_new(cfg->database_url);
	ax_trace_new(token);
	snprintf(j->value, sizeof(j->value), "%s:%s", cfg->consumer, token);
	j->emb = ax_embedder_from_env(gerr, sizeof(gerr));
	if (j->emb != NULL)
		j->g = ax_graph_open_env(cfg->database_url, j->emb, gerr, sizeof(gerr));
	if (j->g == NULL)
		ax_warn("jobs: knowledge graph unavailable, verified fixes are not written to "
			"it: %s", gerr);
	/* The thread inherits this mask: signals go to the main thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&j->thread, NULL, run, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		ax_error("jobs: cannot start the scheduler thread (%s): no periodic jobs here",
			 strerror(rc));
		jobs_free(j);
		return NULL;
	}
	ax_info("jobs: scheduler started (every %d ms, leader ttl %d ms, quality gate %d s)",
		cfg->jobs_interval_ms, cfg->leader_ttl_ms, cfg->quality_gate_s);
	return j;
}

void act_jobs_stop(struct act_jobs *j)
{
	if (j == NULL)
		return;
	atomic_store(&j->quit, 1);
	pthread_join(j->thread, NULL);
	jobs_free(j);
}
