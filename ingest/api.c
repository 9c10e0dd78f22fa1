/* api.c - the operator API's database work on its own threads (see api.h):
 * the queue and its threads, the helpers every call uses, and the approval
 * decision.  The other calls live in api_incidents.c (incidents,
 * approvals list) and api_feed.c (the live feed's reads). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <cjson/cJSON.h>

#include "api.h"
#include "alexus/config.h"
#include "alexus/cred.h"
#include "alexus/json.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/pg.h"
#include "alexus/stream.h"

#define QUEUE_MAX 256

struct qitem {
	STAILQ_ENTRY(qitem) link;
	struct ingest_api_call *c;
};

struct ingest_api {
	const struct ax_config *cfg;
	struct ax_keyring kr;             /* read-only once made: shared by the threads */
	int has_keyring;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	STAILQ_HEAD(, qitem) q;
	int queued;
	int stopping;
	int nthreads;
	pthread_t *th;
};

/* The approval, its action, and whether it may still be decided. */
static const char Q_LOCK[] =
	"SELECT a.action_id, a.decision, a.decided_by, a.expires_at <= now(), x.status, "
	"x.payload::text, coalesce(x.trace, ''), x.incident_id "
	"FROM approvals a JOIN actions x ON x.id = a.action_id "
	"WHERE a.id = $1 FOR UPDATE OF a";
static const char Q_DECIDE[] =
	"UPDATE approvals SET decision = $2, decided_by = $3, decided_at = now(), comment = $4 "
	"WHERE id = $1";
static const char Q_AUDIT[] = "SELECT audit_append('api', $1, $2, $3::jsonb, $4)";

void ingest_api_error(struct ingest_api_call *c, int status, const char *error,
		      const char *field, const char *fmt, ...)
{
	char msg[512];
	cJSON *j = cJSON_CreateObject();
	va_list ap;

	if (j == NULL)
		abort();
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(j, "error", error);
	cJSON_AddStringToObject(j, "message", msg);
	if (field != NULL)
		cJSON_AddStringToObject(j, "field", field);
	free(c->body);
	c->body = ax_json_print(j);
	c->status = status;
	cJSON_Delete(j);
}

#define answer(c, status, error, ...) ingest_api_error(c, status, error, NULL, __VA_ARGS__)

void ingest_api_json(struct ingest_api_call *c, int status, const cJSON *j)
{
	free(c->body);
	c->body = ax_json_print(j);
	c->status = status;
}

redisContext *ingest_api_redis(redisContext **redis, const struct ax_config *cfg)
{
	char err[256];

	if (*redis != NULL && (*redis)->err) {
		redisFree(*redis);
		*redis = NULL;
	}
	if (*redis == NULL)
		*redis = ax_redis_connect(cfg->redis_url, cfg->redis_timeout_ms, err, sizeof(err));
	return *redis;
}

void ingest_api_unavailable(struct ax_pg *pg, struct ingest_api_call *c, const char *err)
{
	ax_pg_rollback(pg);
	ax_log(AX_LOG_WARN, c->trace, c->tenant, "api: %s", err);
	answer(c, 503, "database_unavailable", "the database is unavailable; retry");
}

int ingest_api_begin(struct ax_pg *pg, struct ingest_api_call *c)
{
	char err[512];
	PGresult *r;

	if (ax_pg_begin(pg, c->tenant, err, sizeof(err)) != AX_OK) {
		ingest_api_unavailable(pg, c, err);
		return -1;
	}
	r = ax_pg_exec(pg, err, sizeof(err), "SET LOCAL TimeZone TO 'UTC'", 0, NULL);
	if (r == NULL) {
		ingest_api_unavailable(pg, c, err);
		return -1;
	}
	PQclear(r);
	return 0;
}

void ingest_api_run(struct ax_pg *pg, redisContext **redis, const struct ax_config *cfg,
		    struct ingest_api_call *c)
{
	switch (c->kind) {
	case INGEST_API_DECIDE:
		ingest_api_decide(pg, redis, cfg, c);
		break;
	case INGEST_API_INCIDENTS:
		ingest_api_incidents(pg, c);
		break;
	case INGEST_API_INCIDENT:
		ingest_api_incident(pg, c);
		break;
	case INGEST_API_INCIDENT_OP:
		ingest_api_incident_op(pg, redis, cfg, c);
		break;
	case INGEST_API_APPROVALS:
		ingest_api_approvals(pg, c);
		break;
	case INGEST_API_FEED:
		ingest_api_feed(pg, c);
		break;
	case INGEST_API_SETTINGS_GET:
	case INGEST_API_SETTINGS_PUT:
	case INGEST_API_CHANNELS:
	case INGEST_API_CHANNEL_CREATE:
	case INGEST_API_CHANNEL_DELETE:
	case INGEST_API_CREDENTIALS:
	case INGEST_API_CREDENTIAL_PUT:
		ingest_api_settings(pg, c);
		break;
	default:
		answer(c, 500, "internal", "unknown call %d", (int)c->kind);
		break;
	}
}

/* Append the action again: act takes it from the top, finds the decision
 * and runs the policy with it.  Idempotent on act's side (by action id). */
static ax_err resume(redisContext **redis, const struct ax_config *cfg, const char *tenant,
		     const char *action_id, const char *payload, const char *trace, char *err,
		     size_t errlen)
{
	ax_err rc;

	if (*redis == NULL)
		*redis = ax_redis_connect(cfg->redis_url, cfg->redis_timeout_ms, err, errlen);
	if (*redis == NULL)
		return AX_EIO;
	rc = ax_action_append(*redis, tenant, action_id, "remediate", trace, payload, err, errlen);
	if (rc != AX_OK && (*redis)->err) {
		redisFree(*redis);
		*redis = NULL;
	}
	return rc;
}

void ingest_api_decide(struct ax_pg *pg, redisContext **redis, const struct ax_config *cfg,
		       struct ingest_api_call *c)
{
	char err[512], subject[128], *detail_text;
	const char *p_id[1] = { c->id };
	char *action_id = NULL, *payload = NULL, *trace = NULL;
	PGresult *res;
	cJSON *detail, *ok;
	int expired;

	if (!ax_uuid_valid(c->id)) {
		answer(c, 404, "not_found", "no approval %.64s", c->id);
		return;
	}
	if (ax_pg_begin(pg, c->tenant, err, sizeof(err)) != AX_OK)
		goto unavailable;
	res = ax_pg_exec(pg, err, sizeof(err), Q_LOCK, 1, p_id);
	if (res == NULL)
		goto rollback;
	if (PQntuples(res) != 1) {
		PQclear(res);
		ax_pg_rollback(pg);
		answer(c, 404, "not_found", "no approval %s", c->id);
		return;
	}
	if (!PQgetisnull(res, 0, 1)) {
		int same = strcmp(PQgetvalue(res, 0, 1), c->decision) == 0;

		answer(c, same ? 200 : 409, same ? "already_decided" : "conflict",
		       "approval %s was already %s by %s", c->id, PQgetvalue(res, 0, 1),
		       PQgetvalue(res, 0, 2));
		if (same) { /* a second click on the same button: say so, 200 */
			free(c->body);
			ok = cJSON_CreateObject();
			cJSON_AddStringToObject(ok, "id", c->id);
			cJSON_AddStringToObject(ok, "decision", PQgetvalue(res, 0, 1));
			cJSON_AddStringToObject(ok, "decided_by", PQgetvalue(res, 0, 2));
			cJSON_AddStringToObject(ok, "action_id", PQgetvalue(res, 0, 0));
			cJSON_AddBoolToObject(ok, "already_decided", 1);
			c->body = ax_json_print(ok);
			cJSON_Delete(ok);
		}
		PQclear(res);
		ax_pg_rollback(pg);
		return;
	}
	expired = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	if (expired || strcmp(PQgetvalue(res, 0, 4), "pending") != 0) {
		answer(c, 409, expired ? "expired" : "conflict",
		       expired ? "approval %s expired before it was decided"
			       : "approval %s: its action is no longer waiting",
		       c->id);
		PQclear(res);
		ax_pg_rollback(pg);
		return;
	}
	action_id = ax_xstrdup(PQgetvalue(res, 0, 0));
	payload = ax_xstrdup(PQgetvalue(res, 0, 5));
	trace = ax_xstrdup(PQgetvalue(res, 0, 6));
	if (PQgetisnull(res, 0, 7))
		snprintf(subject, sizeof(subject), "action:%s", action_id);
	else
		snprintf(subject, sizeof(subject), "incident:%s", PQgetvalue(res, 0, 7));
	PQclear(res);
	{
		const char *p[4] = { c->id, c->decision, c->by, c->comment };

		res = ax_pg_exec(pg, err, sizeof(err), Q_DECIDE, 4, p);
	}
	if (res == NULL)
		goto rollback;
	PQclear(res);
	detail = cJSON_CreateObject();
	cJSON_AddStringToObject(detail, "approval_id", c->id);
	cJSON_AddStringToObject(detail, "action_id", action_id);
	cJSON_AddStringToObject(detail, "decision", c->decision);
	cJSON_AddStringToObject(detail, "by", c->by);
	cJSON_AddStringToObject(detail, "via", c->via);
	ax_json_add_str(detail, "comment", c->comment, 1);
	detail_text = ax_json_print(detail);
	cJSON_Delete(detail);
	{
		const char *what = strcmp(c->decision, "approved") == 0 ? "approval.approved"
									 : "approval.rejected";
		const char *p[4] = { what, subject, detail_text, c->trace };

		res = ax_pg_exec(pg, err, sizeof(err), Q_AUDIT, 4, p);
	}
	free(detail_text);
	if (res == NULL)
		goto rollback;
	PQclear(res);
	if (ax_pg_commit(pg, err, sizeof(err)) != AX_OK)
		goto unavailable;

	/* Committed: the decision stands even if the append fails; act's
	 * periodic resume (approvals decided, action still pending) then
	 * picks the action up. */
	ok = cJSON_CreateObject();
	cJSON_AddStringToObject(ok, "id", c->id);
	cJSON_AddStringToObject(ok, "decision", c->decision);
	cJSON_AddStringToObject(ok, "decided_by", c->by);
	cJSON_AddStringToObject(ok, "action_id", action_id);
	if (resume(redis, cfg, c->tenant, action_id, payload, trace[0] ? trace : c->trace, err,
		   sizeof(err)) == AX_OK) {
		cJSON_AddStringToObject(ok, "action", "resumed");
	} else {
		ax_log(AX_LOG_WARN, c->trace, c->tenant,
		       "approval %s decided, action %s not re-appended (%s): act resumes it later",
		       c->id, action_id, err);
		cJSON_AddStringToObject(ok, "action", "resumes_shortly");
	}
	ax_log(AX_LOG_INFO, c->trace, c->tenant, "approval %s %s by %s (%s)", c->id, c->decision,
	       c->by, c->via);
	free(c->body);
	c->body = ax_json_print(ok);
	c->status = 200;
	cJSON_Delete(ok);
	free(action_id);
	free(payload);
	free(trace);
	return;
rollback:
	ax_pg_rollback(pg);
unavailable:
	free(action_id);
	free(payload);
	free(trace);
	ax_log(AX_LOG_WARN, c->trace, c->tenant, "approval %s: %s", c->id, err);
	answer(c, 503, "database_unavailable", "the decision was not recorded; retry");
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_api_call *c = arg;

	(void)fd;
	(void)what;
	c->done(c);
}

static void *api_main(void *arg)
{
	struct ingest_api *api = arg;
	struct ax_pg *pg = ax_pg_new(api->cfg->database_url);
	redisContext *redis = NULL;
	struct timeval now = { 0, 0 };
	struct qitem *it;

	for (;;) {
		pthread_mutex_lock(&api->mu);
		while (STAILQ_EMPTY(&api->q) && !api->stopping)
			pthread_cond_wait(&api->cv, &api->mu);
		it = STAILQ_FIRST(&api->q);
		if (it != NULL) {
			STAILQ_REMOVE_HEAD(&api->q, link);
			api->queued--;
		}
		pthread_mutex_unlock(&api->mu);
		if (it == NULL)
			break; /* stopping and drained */
		it->c->keyring = api->has_keyring ? &api->kr : NULL;
		ingest_api_run(pg, &redis, api->cfg, it->c);
		if (event_base_once(it->c->base, -1, EV_TIMEOUT, on_done, it->c, &now) != 0)
			abort(); /* only fails on allocation failure: see mem.h */
		free(it);
	}
	if (redis != NULL)
		redisFree(redis);
	ax_pg_free(pg);
	return NULL;
}

struct ingest_api *ingest_api_new(const struct ax_config *cfg, int nthreads)
{
	struct ingest_api *api = ax_xcalloc(1, sizeof(*api));
	int i;

	api->cfg = cfg;
	/* Credentials are sealed as act opens them (common/cred.c); without a
	 * master key PUT /v1/credentials answers 503.  A malformed one was
	 * already refused by ingest's start (ingest_auth_new reads it too). */
	if (cfg->master_key != NULL && cfg->master_key[0] != '\0') {
		char err[256];

		if (ax_cred_keyring_config(&api->kr, cfg, err, sizeof(err)) == AX_OK)
			api->has_keyring = 1;
		else
			ax_log(AX_LOG_WARN, NULL, NULL, "api: credentials cannot be stored: %s",
			       err);
	}
	pthread_mutex_init(&api->mu, NULL);
	pthread_cond_init(&api->cv, NULL);
	STAILQ_INIT(&api->q);
	api->nthreads = nthreads > 0 ? nthreads : 1;
	api->th = ax_xcalloc((size_t)api->nthreads, sizeof(*api->th));
	for (i = 0; i < api->nthreads; i++)
		if (pthread_create(&api->th[i], NULL, api_main, api) != 0)
			abort();
	return api;
}

void ingest_api_free(struct ingest_api *api)
{
	int i;

	if (api == NULL)
		return;
	pthread_mutex_lock(&api->mu);
	api->stopping = 1;
	pthread_cond_broadcast(&api->cv);
	pthread_mutex_unlock(&api->mu);
	for (i = 0; i < api->nthreads; i++)
		pthread_join(api->th[i], NULL);
	pthread_cond_destroy(&api->cv);
	pthread_mutex_destroy(&api->mu);
	ax_keyring_wipe(&api->kr);
	free(api->th);
	free(api);
}

ax_err ingest_api_submit(struct ingest_api *api, struct ingest_api_call *c)
{
	struct qitem *it;

	pthread_mutex_lock(&api->mu);
	if (api->stopping || api->queued >= QUEUE_MAX) {
		pthread_mutex_unlock(&api->mu);
		return AX_EAGAIN;
	}
	it = ax_xcalloc(1, sizeof(*it));
	it->c = c;
	STAILQ_INSERT_TAIL(&api->q, it, link);
	api->queued++;
	pthread_cond_signal(&api->cv);
	pthread_mutex_unlock(&api->mu);
	return AX_OK;
}
