/* run.c - pipeline runs: the stages after classify; see run.h.
 *
 * A stage reads what it needs from Postgres -- the run row, and the output
 * of the stage before it from incident_events -- rather than from memory,
 * so the code that continues a run in the same claim is the code that
 * resumes one after a crash, and the resume path is exercised on every
 * run. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run.h"
#include "cmdb.h"
#include "decide.h"
#include "heuristic.h"
#include "incident.h"
#include "llm.h"
#include "retrieve.h"
#include "alexus/cred.h"
#include "alexus/crypto.h"
#include "alexus/failpoint.h"
#include "alexus/graph.h"
#include "alexus/hash.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/pg.h"
#include "alexus/signal.h"
#include "alexus/store.h"
#include "alexus/stream.h"

#define QUEUE_CAP 1024
#define PRUNE_EVERY_S 3600          /* signals_seen retention, per runner thread */
#define PRUNE_AGE_S 86400           /* a day: far beyond any redelivery (0014) */
#define PRUNE_BATCH 10000
#define PRUNE_BATCHES 20            /* at most this many per round */
#define SWEEP_MAX 64
#define LLM_KEY_CRED "llm_key"

/* Claim: the creator (own) may take its run while nobody has claimed it
 * yet (attempts = 0) even though its offer lease still runs; anyone may
 * take a run whose lease ran out or never was. */
static const char Q_CLAIM[] =
	"UPDATE pipeline_runs SET lease_until = clock_timestamp() + make_interval(secs => $2), "
	"attempts = attempts + 1 "
	"WHERE id = $1 AND status = 'running' AND next_at <= now() AND "
	"(lease_until IS NULL OR lease_until < now() OR ($3::boolean AND attempts = 0)) "
	"RETURNING kind, stage, incident_id, signal_id, input::text, coalesce(trace, '-'), "
	"lease_until::text, decision";
static const char Q_ADVANCE[] =
	"UPDATE pipeline_runs SET stage = $3, decision = coalesce($4, decision) "
	"WHERE id = $1 AND lease_until = $2::timestamptz AND status = 'running'";
static const char Q_FINISH[] =
	"UPDATE pipeline_runs SET status = 'succeeded', finished_at = now(), lease_until = NULL, "
	"error = NULL, decision = coalesce(decision, 'recorded') "
	"WHERE id = $1 AND lease_until = $2::timestamptz AND status = 'running'";
/* Backoff 2^attempts seconds, capped; the last attempt fails the run. */
static const char Q_RELEASE[] =
	"UPDATE pipeline_runs SET lease_until = NULL, error = $3, "
	"next_at = now() + make_interval(secs => least(power(2, attempts), $4)), "
	"status = CASE WHEN attempts >= $5 THEN 'failed' ELSE 'running' END, "
	"finished_at = CASE WHEN attempts >= $5 THEN now() END "
	"WHERE id = $1 AND lease_until = $2::timestamptz AND status = 'running' "
	"RETURNING status";
static const char Q_STAGE_OUTPUT[] =
	"SELECT output::text FROM incident_events WHERE run_id = $1 AND stage = $2 "
	"ORDER BY id DESC LIMIT 1";
static const char Q_INCIDENT[] =
	"SELECT title, status, severity, category, confidence, service, alert_count, "
	"to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
	"FROM incidents WHERE id = $1";
static const char Q_SETTINGS[] =
	"SELECT execute_threshold::float8, clarify_threshold::float8 FROM tenant_settings";
static const char Q_TOKENS_TODAY[] =
	"SELECT coalesce(sum(tokens_in + tokens_out), 0) FROM analysis_runs "
	"WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' "
	"AND provider <> 'heuristic'";
static const char Q_ANALYSED[] =
	"UPDATE incidents SET category = $2, confidence = $3, updated_at = now(), "
	"stage = CASE WHEN status = 'open' THEN 'incident_or_cmdb' ELSE stage END WHERE id = $1";
static const char Q_INCIDENT_STAGE[] =
	"UPDATE incidents SET stage = $2, updated_at = now() WHERE id = $1 AND status = 'open'";
static const char Q_TRIAGE[] =
	"INSERT INTO triage_queue (tenant_id, id, incident_id, reason) "
	"VALUES (app_tenant(), $1, $2, $3) "
	"ON CONFLICT (tenant_id, incident_id) WHERE closed_at IS NULL DO NOTHING";
static const char Q_RUN_PENDING[] =
	"SELECT id, type, payload::text FROM actions WHERE signal_id = $1 AND status = 'pending' "
	"AND payload->>'run_id' = $2 ORDER BY created_at, id";
static const char Q_DUE[] =
	"SELECT id FROM pipeline_runs WHERE status = 'running' AND next_at <= now() "
	"AND (lease_until IS NULL OR lease_until < now()) ORDER BY next_at LIMIT $1";
static const char Q_DUE_TENANTS[] = "SELECT t FROM tenants_with_due_runs($1) AS t";

const char REASON_SYSTEM_PROMPT[] =
	"You are the incident investigator of Alexus, an AIOps platform. You get one "
	"incident: its alerts, recent deploys of the services involved, the configuration "
	"items around them, similar past incidents with how they were fixed, and excerpts "
	"of the team's runbooks. Find the most probable cause and propose at most three "
	"remediation actions, the safest first, naming only targets the context names. "
	"Be calibrated: say 0.5 when unsure.";

struct reason_agent {
	const struct ax_config *cfg;
	struct ax_pg *pg;
	redisContext *c;
	struct ax_embedder *emb;
	struct ax_graph *g;           /* NULL when it cannot open; retrieval goes without */
	struct reason_llm_config llm;
	struct ax_keyring kr;
	int has_keyring;
	int sweep_refused;            /* tenants_with_due_runs() refused: stop asking */
};

/* What one claim of a run holds. */
struct run {
	struct reason_agent *a;
	const char *tenant;
	const char *id;
	char kind[16], stage[32], decision[16];
	char incident[AX_UUID_LEN], signal[AX_UUID_LEN];
	char trace[128];
	char lease[64];
	cJSON *input;
	char digest[AX_SHA256_HEX]; /* of input: every stage row's input digest */
	char *err;
	size_t errlen;
};

static PGresult *q(struct run *r, const char *sql, int n, const char *const *p)
{
	return ax_pg_exec(r->a->pg, r->err, r->errlen, sql, n, p);
}

/* Run sql and forget the result; -1 on error. */
static int x(struct run *r, const char *sql, int n, const char *const *p)
{
	PGresult *res = q(r, sql, n, p);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* ---------------------------------------------------------------- agent */

struct reason_agent *reason_agent_new(const struct ax_config *cfg, char *errbuf, size_t errlen)
{
	struct reason_agent *a = ax_xcalloc(1, sizeof(*a));
	char gerr[256];

	a->cfg = cfg;
	if (reason_llm_config_from(&a->llm, cfg, errbuf, errlen) != AX_OK) {
		free(a);
		return NULL;
	}
	a->pg = ax_pg_new(cfg->database_url);
	/* The tenant's own model key is a sealed credential; without a
	 * master key there are none to open, and the environment's key
	 * serves every tenant. */
	if (cfg->master_key != NULL && cfg->master_key[0] != '\0')
		a->has_keyring = ax_cred_keyring_config(&a->kr, cfg, gerr, sizeof(gerr)) == AX_OK;
	a->emb = ax_embedder_from_env(gerr, sizeof(gerr));
	if (a->emb != NULL)
		a->g = ax_graph_open_env(cfg->database_url, a->emb, gerr, sizeof(gerr));
	if (a->g == NULL)
		ax_warn("knowledge graph unavailable, retrieval goes without it: %s", gerr);
	return a;
}

void reason_agent_free(struct reason_agent *a)
{
	if (a == NULL)
		return;
	ax_graph_close(a->g);
	ax_embedder_free(a->emb);
	if (a->has_keyring)
		ax_keyring_wipe(&a->kr);
	if (a->c != NULL)
		redisFree(a->c);
	ax_pg_free(a->pg);
	free(a);
}

static ax_err redis_ready(struct reason_agent *a, char *errbuf, size_t errlen)
{
	if (a->c != NULL && a->c->err == 0)
		return AX_OK;
	if (a->c != NULL)
		redisFree(a->c);
	a->c = ax_redis_connect(a->cfg->redis_url, a->cfg->redis_timeout_ms, errbuf, errlen);
	return a->c != NULL ? AX_OK : AX_EIO;
}

/* ---------------------------------------------------------------- stage rows */

/* Best effort, after COMMIT: a lost event is logged, never retried. */
static void publish(struct run *r, const char *stage, const cJSON *output)
{
	cJSON *ev = reason_stage_event(r->tenant, r->incident[0] ? r->incident : NULL, stage,
				       r->signal, r->trace, r->id, output);
	char perr[256], *text;

	text = ax_json_print(ev);
	cJSON_Delete(ev);
	if (redis_ready(r->a, perr, sizeof(perr)) != AX_OK ||
	    ax_publish_event(r->a->c, r->tenant, text, perr, sizeof(perr)) != AX_OK)
		ax_log(AX_LOG_WARN, r->trace, r->tenant, "stage event not published: %s", perr);
	free(text);
}

static void stage_row(struct run *r, struct ax_store_batch *w, const char *stage,
		      const cJSON *output, double ms, const char *provider, int fallback)
{
	struct ax_event_row ev = {
		.incident_id = r->incident[0] ? r->incident : NULL, .signal_id = r->signal,
		.stage = stage, .output = output, .duration_ms = ms, .provider = provider,
		.fallback = fallback, .trace = r->trace, .run_id = r->id,
		.input_digest = r->digest,
	};

	ax_store_event(w, &ev);
}

/* Write w, advance the run to stage (and decision), commit, all under
 * the lease.  -1 on any failure (rolled back; r->err says why). */
static int commit_stage(struct run *r, struct ax_store_batch *w, const char *stage,
			const char *decision)
{
	const char *p[4] = { r->id, r->lease, stage, decision };
	PGresult *res;

	if (ax_store_write(r->a->pg, r->tenant, w, r->err, r->errlen) != AX_OK)
		goto fail;
	res = q(r, Q_ADVANCE, 4, p);
	if (res == NULL)
		goto fail;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		PQclear(res);
		ax_errfmt(r->err, r->errlen, "run %s: lease lost before stage %s committed", r->id,
			  stage);
		goto fail;
	}
	PQclear(res);
	if (ax_pg_commit(r->a->pg, r->err, r->errlen) != AX_OK)
		return -1;
	snprintf(r->stage, sizeof(r->stage), "%s", stage);
	if (decision != NULL)
		snprintf(r->decision, sizeof(r->decision), "%s", decision);
	return 0;
fail:
	ax_pg_rollback(r->a->pg);
	return -1;
}

/* The output of this run's stage, parsed; NULL when absent or on error
 * (r->err set for an error).  Inside the caller's transaction. */
static cJSON *stage_output(struct run *r, const char *stage)
{
	const char *p[2] = { r->id, stage };
	PGresult *res = q(r, Q_STAGE_OUTPUT, 2, p);
	cJSON *out = NULL;

	if (res == NULL)
		return NULL;
	if (PQntuples(res) == 1)
		out = cJSON_Parse(PQgetvalue(res, 0, 0));
	else
		ax_errfmt(r->err, r->errlen, "run %s: no %s output to resume from", r->id, stage);
	PQclear(res);
	return out;
}

/* ---------------------------------------------------------------- the model */

/* The tenant's own key, when it stored one; else the environment's.  In
 * the caller's tenant transaction.  key (keylen) is wiped by the caller. */
static const char *model_key(struct run *r, char *key, size_t keylen)
{
	size_t n;
	char kerr[256];
	ax_err rc;

	if (!r->a->has_keyring)
		return r->a->llm.key;
	rc = ax_cred_get(r->a->pg, &r->a->kr, r->tenant, LLM_KEY_CRED, (unsigned char *)key,
			 keylen, &n, kerr, sizeof(kerr));
	if (rc == AX_OK)
		return key;
	if (rc != AX_ENOTFOUND)
		ax_log(AX_LOG_WARN, r->trace, r->tenant, "credential %s unusable (%s): %s",
		       LLM_KEY_CRED, ax_strerror(rc), kerr);
	return r->a->llm.key;
}

struct answer {
	cJSON *analysis;            /* what is acted on: the model's or the heuristic's */
	cJSON *heuristic;           /* the heuristic's, always */
	const char *provider;       /* static */
	char model[128];
	int fallback;
	char fallback_reason[400];
	long tokens_in, tokens_out;
	double cost;
};

/* Ask the model, when one is configured, for the incident's analysis;
 * the heuristic's is the answer otherwise or on any failure. */
static void investigate(struct run *r, const struct reason_retrieval *ret, struct answer *ans)
{
	struct reason_analysis an;
	struct reason_llm_config llm = r->a->llm;
	struct reason_llm_result res;
	struct reason_llm_request rq;
	char key[512];
	long used = 0;
	PGresult *pr;

	memset(ans, 0, sizeof(*ans));
	reason_investigate(ret->alerts, ret->nalerts, &ret->ctx, &an);
	ans->heuristic = reason_analysis_json(&an);
	reason_analysis_release(&an);
	ans->provider = "heuristic";
	if (llm.provider == REASON_LLM_NONE)
		return;

	key[0] = '\0';
	memset(&rq, 0, sizeof(rq));
	if (ax_pg_begin(r->a->pg, r->tenant, r->err, r->errlen) == AX_OK) {
		llm.key = model_key(r, key, sizeof(key));
		pr = q(r, Q_TOKENS_TODAY, 0, NULL);
		if (pr != NULL) {
			used = strtol(PQgetvalue(pr, 0, 0), NULL, 10);
			PQclear(pr);
		}
		ax_pg_rollback(r->a->pg);
	}
	rq.system = REASON_SYSTEM_PROMPT;
	rq.user = reason_prompt_build(ret, REASON_PROMPT_BUDGET);
	rq.used_today = used;
	if (reason_llm_call(&llm, &rq, &res) == REASON_LLM_OK) {
		ans->analysis = res.analysis;
		res.analysis = NULL;
		ans->provider = res.provider;
	} else {
		ans->fallback = 1;
		snprintf(ans->fallback_reason, sizeof(ans->fallback_reason), "%s%s%s",
			 reason_llm_status_code(res.status), res.message[0] ? ": " : "",
			 res.message);
		ax_log(AX_LOG_WARN, r->trace, r->tenant,
		       "model %s failed (%s), the heuristic answers instead", res.provider,
		       ans->fallback_reason);
	}
	snprintf(ans->model, sizeof(ans->model), "%s", res.model);
	ans->tokens_in = res.input_tokens;
	ans->tokens_out = res.output_tokens;
	ans->cost = res.cost_usd;
	ax_cred_wipe(key, sizeof(key));
	free((char *)rq.user);
	reason_llm_result_release(&res);
}

/* ---------------------------------------------------------------- stages */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Stage 2 of an incident run: retrieval, the model or the heuristic, the
 * calibrated confidence; an analysis_runs row. */
static int stage_incident(struct run *r)
{
	struct reason_retrieval ret;
	struct reason_calibration cal;
	struct ax_signal root;
	struct answer ans;
	struct timespec t0;
	struct ax_store_batch *w;
	struct ax_analysis_row row;
	cJSON *out, *retj, *calj, *analysis;
	char aid[AX_UUID_LEN], conf[32];
	const char *category;
	int rc = -1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ax_signal_from_json(&root, r->input, r->err, r->errlen) != AX_OK) {
		ax_signal_release(&root);
		return -1;
	}
	memset(&ret, 0, sizeof(ret));
	if (reason_retrieve(r->a->pg, r->a->g, r->tenant, r->incident, &root,
			    REASON_DEPLOY_WINDOW_S, &ret, r->err, r->errlen) != AX_OK) {
		ax_signal_release(&root);
		return -1;
	}
	investigate(r, &ret, &ans);
	analysis = ans.analysis != NULL ? ans.analysis : ans.heuristic;
	retj = reason_retrieval_json(&ret);
	reason_calibrate(ans.analysis, ans.heuristic,
			 cJSON_GetObjectItemCaseSensitive(retj, "similar"), &cal);
	calj = reason_calibration_json(&cal);
	cJSON_DeleteItemFromObjectCaseSensitive(analysis, "confidence");
	if (cJSON_AddNumberToObject(analysis, "confidence", cal.confidence) == NULL)
		abort();
	ms = reason_ms_since(&t0);

	out = cJSON_CreateObject();
	if (out == NULL)
		abort();
	cJSON_AddItemReferenceToObject(out, "analysis", analysis);
	if (ans.analysis != NULL)
		cJSON_AddItemReferenceToObject(out, "heuristic", ans.heuristic);
	cJSON_AddItemReferenceToObject(out, "retrieval", retj);
	cJSON_AddItemReferenceToObject(out, "calibration", calj);
	cJSON_AddItemReferenceToObject(out, "suspects",
				       cJSON_GetObjectItemCaseSensitive(retj, "deploys"));
	if (ans.fallback)
		cJSON_AddStringToObject(out, "fallback_reason", ans.fallback_reason);

	w = ax_store_batch_new();
	stage_row(r, w, "incident_or_cmdb", out, ms, ans.provider, ans.fallback);
	ax_uuid7(aid);
	memset(&row, 0, sizeof(row));
	row.id = aid;
	row.incident_id = r->incident;
	row.run_id = r->id;
	row.provider = ans.provider;
	row.model = ans.model[0] != '\0' ? ans.model : NULL;
	row.fallback_used = ans.fallback;
	row.fallback_reason = ans.fallback ? ans.fallback_reason : NULL;
	row.tokens_in = ans.tokens_in;
	row.tokens_out = ans.tokens_out;
	row.cost_usd = ans.cost;
	row.confidence = cal.confidence;
	row.confidence_parts = calj;
	row.duration_ms = ms;
	row.trace = r->trace;
	ax_store_analysis(w, &row);
	category = jstr(analysis, "category");
	snprintf(conf, sizeof(conf), "%.2f", cal.confidence);
	{
		const char *p[3] = { r->incident, category, conf };

		if (ax_pg_begin(r->a->pg, r->tenant, r->err, r->errlen) == AX_OK) {
			if (x(r, Q_ANALYSED, 3, p) != 0)
				ax_pg_rollback(r->a->pg);
			else
				rc = commit_stage(r, w, "incident_or_cmdb", NULL);
		}
	}
	if (rc == 0) {
		char gerr[256];

		publish(r, "incident_or_cmdb", out);
		/* So later incidents find this one; retrieval without it is
		 * poorer, not wrong, hence best effort. */
		if (r->a->g != NULL &&
		    reason_cmdb_index_incident(r->a->g, r->tenant, r->incident, root.summary != NULL ?
			    root.summary : root.name, analysis, ret.alerts, ret.nalerts, gerr,
			    sizeof(gerr)) != AX_OK)
			ax_log(AX_LOG_WARN, r->trace, r->tenant, "incident not indexed: %s", gerr);
	}
	ax_store_batch_free(w);
	cJSON_Delete(out);
	cJSON_Delete(retj);
	cJSON_Delete(calj);
	cJSON_Delete(ans.analysis);
	cJSON_Delete(ans.heuristic);
	reason_retrieval_release(&ret);
	ax_signal_release(&root);
	return rc;
}

/* Stage 2 of a cmdb run: the CMDBAgent; the run ends here. */
static int stage_cmdb(struct run *r)
{
	struct ax_signal s;
	struct timespec t0;
	struct ax_store_batch *w;
	cJSON *out = NULL;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ax_signal_from_json(&s, r->input, r->err, r->errlen) != AX_OK) {
		ax_signal_release(&s);
		return -1;
	}
	if (reason_cmdb_apply(r->a->g, r->tenant, &s, &out, r->err, r->errlen) != AX_OK) {
		ax_signal_release(&s);
		return -1;
	}
	w = ax_store_batch_new();
	stage_row(r, w, "incident_or_cmdb", out, reason_ms_since(&t0), "cmdb", 0);
	if (ax_pg_begin(r->a->pg, r->tenant, r->err, r->errlen) == AX_OK)
		rc = commit_stage(r, w, "incident_or_cmdb", "recorded");
	if (rc == 0)
		publish(r, "incident_or_cmdb", out);
	ax_store_batch_free(w);
	cJSON_Delete(out);
	ax_signal_release(&s);
	return rc;
}

/* Stage 3: the tenant's thresholds decide. */
static int stage_check(struct run *r)
{
	struct reason_thresholds th = REASON_THRESHOLDS_DEFAULT;
	struct ax_store_batch *w;
	struct timespec t0;
	cJSON *prev, *out;
	const cJSON *analysis, *acts;
	const char *decision, *first = NULL, *status = "open";
	char why[160];
	PGresult *res;
	double conf;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ax_pg_begin(r->a->pg, r->tenant, r->err, r->errlen) != AX_OK)
		return -1;
	prev = stage_output(r, "incident_or_cmdb");
	if (prev == NULL)
		goto out_rollback;
	res = q(r, Q_SETTINGS, 0, NULL);
	if (res == NULL)
		goto out_rollback;
	if (PQntuples(res) == 1) {
		th.execute = strtod(PQgetvalue(res, 0, 0), NULL);
		th.clarify = strtod(PQgetvalue(res, 0, 1), NULL);
	}
	PQclear(res);
	{
		const char *p[1] = { r->incident };

		res = q(r, Q_INCIDENT, 1, p);
		if (res == NULL)
			goto out_rollback;
		if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "open") != 0)
			status = "resolved";
		PQclear(res);
	}
	analysis = cJSON_GetObjectItemCaseSensitive(prev, "analysis");
	conf = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(analysis, "confidence"));
	acts = cJSON_GetObjectItemCaseSensitive(analysis, "actions");
	first = jstr(cJSON_GetArrayItem(acts, 0), "type");
	if (strcmp(status, "open") != 0) {
		decision = "recorded";
		snprintf(why, sizeof(why), "the incident resolved before a decision was needed");
	} else {
		decision = reason_decide(conf, first, &th, why, sizeof(why));
	}
	out = cJSON_CreateObject();
	if (out == NULL)
		abort();
	cJSON_AddNumberToObject(out, "confidence", conf);
	cJSON_AddNumberToObject(out, "execute_threshold", th.execute);
	cJSON_AddNumberToObject(out, "clarify_threshold", th.clarify);
	ax_json_add_str(out, "first_action", first, 1);
	cJSON_AddStringToObject(out, "decision", decision);
	cJSON_AddStringToObject(out, "why", why);
	w = ax_store_batch_new();
	stage_row(r, w, "confidence_check", out, reason_ms_since(&t0), "heuristic", 0);
	rc = commit_stage(r, w, "confidence_check", decision);
	if (rc == 0)
		publish(r, "confidence_check", out);
	ax_store_batch_free(w);
	cJSON_Delete(out);
	cJSON_Delete(prev);
	return rc;
out_rollback:
	cJSON_Delete(prev);
	ax_pg_rollback(r->a->pg);
	return -1;
}

/* The incident as the notify payload shows it; strings owned by inc. */
static int load_incident(struct run *r, struct reason_incident *inc)
{
	const char *p[1] = { r->incident };
	PGresult *res = q(r, Q_INCIDENT, 1, p);

	memset(inc, 0, sizeof(*inc));
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		ax_errfmt(r->err, r->errlen, "incident %s not found", r->incident);
		return -1;
	}
	snprintf(inc->id, sizeof(inc->id), "%s", r->incident);
#define COL(c) (PQgetisnull(res, 0, c) ? NULL : ax_xstrdup(PQgetvalue(res, 0, c)))
	inc->title = COL(0);
	inc->status = COL(1);
	inc->severity = COL(2);
	inc->category = COL(3);
	inc->has_confidence = !PQgetisnull(res, 0, 4);
	inc->confidence = inc->has_confidence ? strtod(PQgetvalue(res, 0, 4), NULL) : 0;
	inc->service = COL(5);
	inc->alert_count = strtol(PQgetvalue(res, 0, 6), NULL, 10);
	inc->opened_at = COL(7);
	inc->resolved_at = COL(8);
#undef COL
	PQclear(res);
	return 0;
}

/* payload gets the action's id, the run and its place among the run's
 * actions (seq: ids made in one millisecond do not sort in order). */
static void add_action(struct run *r, struct ax_store_batch *w, const char *type, cJSON *payload,
		       int seq)
{
	struct ax_action_row row = { .incident_id = r->incident, .signal_id = r->signal,
				     .type = type, .trace = r->trace };
	char id[AX_UUID_LEN], *text;

	ax_uuid7(id);
	cJSON_DeleteItemFromObjectCaseSensitive(payload, "action_id");
	cJSON_AddStringToObject(payload, "action_id", id);
	cJSON_AddStringToObject(payload, "run_id", r->id);
	cJSON_AddNumberToObject(payload, "seq", seq);
	text = ax_json_print(payload);
	row.id = id;
	row.payload = text;
	ax_store_action(w, &row);
	free(text);
	cJSON_Delete(payload);
}

/* A notify action for the decision: the incident and the analysis. */
static void notify(struct run *r, struct ax_store_batch *w, const char *event,
		   const struct reason_incident *inc, const cJSON *analysis, const char *why, int seq)
{
	cJSON *d = reason_action_data("", r->signal, event, inc), *sum;

	sum = cJSON_CreateObject();
	if (sum == NULL || !cJSON_AddItemToObject(d, "analysis", sum))
		abort();
	ax_json_add_str(sum, "summary", jstr(analysis, "summary"), 1);
	ax_json_add_str(sum, "probable_cause", jstr(analysis, "probable_cause"), 1);
	cJSON_AddItemToObject(sum, "actions", cJSON_Duplicate(
		cJSON_GetObjectItemCaseSensitive(analysis, "actions"), 1));
	cJSON_AddStringToObject(sum, "why", why);
	add_action(r, w, "notify", d, seq);
}

/* Stage 4: the decision's actions into the outbox. */
static int stage_decide(struct run *r)
{
	struct reason_incident inc;
	struct ax_store_batch *w;
	struct timespec t0;
	cJSON *prev = NULL, *check = NULL, *out;
	const cJSON *analysis, *a;
	const char *why;
	int rc = -1, nact = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&inc, 0, sizeof(inc));
	if (ax_pg_begin(r->a->pg, r->tenant, r->err, r->errlen) != AX_OK)
		return -1;
	prev = stage_output(r, "incident_or_cmdb");
	check = prev != NULL ? stage_output(r, "confidence_check") : NULL;
	if (check == NULL || load_incident(r, &inc) != 0)
		goto out_rollback;
	analysis = cJSON_GetObjectItemCaseSensitive(prev, "analysis");
	why = jstr(check, "why");
	w = ax_store_batch_new();
	if (strcmp(r->decision, "execute") == 0) {
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(analysis, "actions"))
		{
			const char *type = jstr(a, "type");
			cJSON *d;

			if (type == NULL)
				continue;
			if (strcmp(type, "notify_only") == 0) {
				notify(r, w, "incident.diagnosed", &inc, analysis, why, nact);
			} else if (strcmp(type, "escalate") == 0) {
				/* Paging is a notification, not a remediation. */
				notify(r, w, "incident.escalated", &inc, analysis, why, nact);
			} else {
				/* act's policy engine decides whether and how it runs
				 * (dry-run by default). */
				d = cJSON_CreateObject();
				if (d == NULL)
					abort();
				cJSON_AddStringToObject(d, "type", "remediate");
				cJSON_AddStringToObject(d, "action", type);
				cJSON_AddItemToObject(d, "params", cJSON_Duplicate(
					cJSON_GetObjectItemCaseSensitive(a, "params"), 1));
				ax_json_add_str(d, "reason", jstr(a, "reason"), 1);
				cJSON_AddStringToObject(d, "incident_id", r->incident);
				cJSON_AddNumberToObject(d, "confidence", inc.confidence);
				add_action(r, w, "remediate", d, nact);
			}
			nact++;
		}
	} else if (strcmp(r->decision, "clarify") == 0) {
		char tid[AX_UUID_LEN];
		const char *p[3] = { tid, r->incident, "low_confidence" };

		ax_uuid7(tid);
		if (x(r, Q_TRIAGE, 3, p) != 0) {
			ax_store_batch_free(w);
			goto out_rollback;
		}
		notify(r, w, "incident.clarify", &inc, analysis, why, 0);
		nact++;
	} else {
		notify(r, w, "incident.escalated", &inc, analysis, why, 0);
		nact++;
	}
	out = cJSON_CreateObject();
	if (out == NULL)
		abort();
	cJSON_AddStringToObject(out, "decision", r->decision);
	cJSON_AddNumberToObject(out, "actions", nact);
	ax_json_add_str(out, "why", why, 1);
	stage_row(r, w, r->decision, out, reason_ms_since(&t0), "heuristic", 0);
	{
		const char *p[2] = { r->incident, r->decision };

		if (x(r, Q_INCIDENT_STAGE, 2, p) != 0) {
			ax_store_batch_free(w);
			cJSON_Delete(out);
			goto out_rollback;
		}
	}
	rc = commit_stage(r, w, r->decision, NULL);
	if (rc == 0)
		publish(r, r->decision, out);
	ax_store_batch_free(w);
	cJSON_Delete(out);
	cJSON_Delete(prev);
	cJSON_Delete(check);
	reason_incident_release(&inc);
	return rc;
out_rollback:
	ax_pg_rollback(r->a->pg);
	cJSON_Delete(prev);
	cJSON_Delete(check);
	reason_incident_release(&inc);
	return -1;
}

/* The decision's pending actions onto alexus:actions, then the run is
 * done.  Also the whole of a resumed run whose decision committed. */
static int finish(struct run *r)
{
	const char *p[2] = { r->signal, r->id }, *pf[2] = { r->id, r->lease };
	PGresult *res;
	int i;

	if (ax_pg_begin(r->a->pg, r->tenant, r->err, r->errlen) != AX_OK)
		return -1;
	res = q(r, Q_RUN_PENDING, 2, p);
	ax_pg_rollback(r->a->pg);
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0 && redis_ready(r->a, r->err, r->errlen) != AX_OK) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res); i++)
		if (ax_action_append(r->a->c, r->tenant, PQgetvalue(res, i, 0),
					 PQgetvalue(res, i, 1), r->trace, PQgetvalue(res, i, 2),
					 r->err, r->errlen) != AX_OK) {
			PQclear(res);
			return -1;
		}
	PQclear(res);
	ax_failpoint("reason.run.after_append");
	if (ax_pg_begin(r->a->pg, r->tenant, r->err, r->errlen) != AX_OK)
		return -1;
	res = q(r, Q_FINISH, 2, pf);
	if (res == NULL) {
		ax_pg_rollback(r->a->pg);
		return -1;
	}
	PQclear(res);
	return ax_pg_commit(r->a->pg, r->err, r->errlen) == AX_OK ? 0 : -1;
}

static int is_decision(const char *stage)
{
	return strcmp(stage, "execute") == 0 || strcmp(stage, "clarify") == 0 ||
	       strcmp(stage, "escalate") == 0;
}

/* The stages from where the run stands to its end. */
static int advance(struct run *r)
{
	for (;;) {
		int rc;

		if (ax_failpoint_fail("reason.run.stage_error")) {
			ax_errfmt(r->err, r->errlen, "failpoint reason.run.stage_error");
			return -1;
		}
		if (strcmp(r->stage, "classify") == 0)
			rc = strcmp(r->kind, "cmdb") == 0 ? stage_cmdb(r) : stage_incident(r);
		else if (strcmp(r->stage, "incident_or_cmdb") == 0 && strcmp(r->kind, "incident") == 0)
			rc = stage_check(r);
		else if (strcmp(r->stage, "confidence_check") == 0 && is_decision(r->decision))
			rc = stage_decide(r);
		else
			return finish(r);
		if (rc != 0)
			return -1;
		ax_failpoint("reason.run.after_stage");
	}
}

static void run_release(struct run *r)
{
	cJSON_Delete(r->input);
	r->input = NULL;
}

/* After a failed stage: back off, or fail the run for good. */
static void release(struct run *r)
{
	char msg[600], state[16], rerr[256];
	char cap[16], max[16];
	const char *p[5] = { r->id, r->lease, msg, cap, max };
	PGresult *res;

	snprintf(msg, sizeof(msg), "stage after %s: %s", r->stage, r->err);
	snprintf(cap, sizeof(cap), "%d", REASON_RUN_BACKOFF_MAX_S);
	snprintf(max, sizeof(max), "%d", REASON_RUN_MAX_ATTEMPTS);
	if (ax_pg_begin(r->a->pg, r->tenant, rerr, sizeof(rerr)) != AX_OK)
		return;         /* the lease runs out; a sweeper retries */
	res = ax_pg_exec(r->a->pg, rerr, sizeof(rerr), Q_RELEASE, 5, p);
	if (res == NULL) {
		ax_pg_rollback(r->a->pg);
		return;
	}
	snprintf(state, sizeof(state), "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	if (ax_pg_commit(r->a->pg, rerr, sizeof(rerr)) == AX_OK && strcmp(state, "failed") == 0)
		ax_log(AX_LOG_ERROR, r->trace, r->tenant, "run %s failed for good: %s", r->id, msg);
}

ax_err reason_agent_run(struct reason_agent *a, const char *tenant, const char *run_id, int own,
			int *ran, char *errbuf, size_t errlen)
{
	struct run r;
	char lease_s[16];
	const char *p[3] = { run_id, lease_s, own ? "true" : "false" };
	PGresult *res;
	int rc;

	*ran = 0;
	memset(&r, 0, sizeof(r));
	r.a = a;
	r.tenant = tenant;
	r.id = run_id;
	r.err = errbuf;
	r.errlen = errlen;
	snprintf(lease_s, sizeof(lease_s), "%d", a->cfg->run_lease_s);
	if (ax_pg_begin(a->pg, tenant, errbuf, errlen) != AX_OK)
		return AX_EIO;
	res = q(&r, Q_CLAIM, 3, p);
	if (res == NULL) {
		ax_pg_rollback(a->pg);
		return AX_EIO;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		ax_pg_rollback(a->pg);
		return AX_OK;
	}
	snprintf(r.kind, sizeof(r.kind), "%s", PQgetvalue(res, 0, 0));
	snprintf(r.stage, sizeof(r.stage), "%s", PQgetvalue(res, 0, 1));
	snprintf(r.incident, sizeof(r.incident), "%s", PQgetvalue(res, 0, 2));
	snprintf(r.signal, sizeof(r.signal), "%s", PQgetvalue(res, 0, 3));
	r.input = cJSON_Parse(PQgetvalue(res, 0, 4));
	snprintf(r.trace, sizeof(r.trace), "%s", PQgetvalue(res, 0, 5));
	snprintf(r.lease, sizeof(r.lease), "%s", PQgetvalue(res, 0, 6));
	snprintf(r.decision, sizeof(r.decision), "%s", PQgetvalue(res, 0, 7));
	PQclear(res);
	if (ax_pg_commit(a->pg, errbuf, errlen) != AX_OK) {
		run_release(&r);
		return AX_EIO;
	}
	*ran = 1;
	if (r.input == NULL) {
		ax_errfmt(errbuf, errlen, "run %s has no usable input", run_id);
		rc = -1;
	} else {
		char *text = ax_json_print(r.input);

		ax_sha256_hex(text, strlen(text), r.digest);
		free(text);
		rc = advance(&r);
	}
	if (rc != 0)
		release(&r);
	else
		ax_log(AX_LOG_INFO, r.trace, tenant, "run %s (%s) done at %s, decision %s", run_id,
		       r.kind, r.stage, r.decision[0] ? r.decision : "recorded");
	run_release(&r);
	return rc == 0 ? AX_OK : AX_EIO;
}

ax_err reason_agent_sweep(struct reason_agent *a, int max, int *n, char *errbuf, size_t errlen)
{
	char lim[16], ids[SWEEP_MAX][AX_UUID_LEN], tenant[AX_TENANT_MAX + 1];
	const char *p[1] = { lim };
	PGresult *tr, *res;
	int i, j, k, ran;
	ax_err rc = AX_OK;

	*n = 0;
	if (a->sweep_refused)
		return AX_OK;
	if (max > SWEEP_MAX)
		max = SWEEP_MAX;
	snprintf(lim, sizeof(lim), "%d", max);
	if (ax_pg_ensure(a->pg, errbuf, errlen) != AX_OK)
		return AX_EIO;
	tr = ax_pg_exec(a->pg, errbuf, errlen, Q_DUE_TENANTS, 1, p);
	if (tr == NULL) {
		if (strcmp(ax_pg_sqlstate(a->pg), "42501") == 0) {
			ax_warn("no sweeping for pipeline runs: %s", errbuf);
			a->sweep_refused = 1;
			return AX_OK;
		}
		return AX_EIO;
	}
	for (i = 0; i < PQntuples(tr) && *n < max; i++) {
		snprintf(tenant, sizeof(tenant), "%s", PQgetvalue(tr, i, 0));
		if (ax_pg_begin(a->pg, tenant, errbuf, errlen) != AX_OK) {
			rc = AX_EIO;
			break;
		}
		res = ax_pg_exec(a->pg, errbuf, errlen, Q_DUE, 1, p);
		ax_pg_rollback(a->pg);
		if (res == NULL) {
			rc = AX_EIO;
			break;
		}
		k = PQntuples(res);
		for (j = 0; j < k; j++)
			snprintf(ids[j], sizeof(ids[j]), "%s", PQgetvalue(res, j, 0));
		PQclear(res);
		for (j = 0; j < k && *n < max; j++) {
			char rerr[512];

			if (reason_agent_run(a, tenant, ids[j], 0, &ran, rerr, sizeof(rerr)) != AX_OK)
				ax_log(AX_LOG_WARN, NULL, tenant, "run %s: %s", ids[j], rerr);
			*n += ran;
		}
	}
	PQclear(tr);
	return rc;
}

/* ---------------------------------------------------------------- runner */

struct offer {
	char tenant[AX_TENANT_MAX + 1];
	char run[AX_UUID_LEN];
};

struct reason_runner {
	const struct ax_config *cfg;
	volatile sig_atomic_t *stop;
	int quit;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct offer q[QUEUE_CAP];
	int head, len;
	int nthreads;
	pthread_t *threads;
	struct reason_agent **agents;
};

static int take(struct reason_runner *rr, struct offer *o, int wait_ms)
{
	struct timespec until;
	int got = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rr->mu);
	while (rr->len == 0 && !rr->quit && !*rr->stop)
		if (pthread_cond_timedwait(&rr->cv, &rr->mu, &until) != 0)
			break;
	if (rr->len > 0) {
		*o = rr->q[rr->head];
		rr->head = (rr->head + 1) % QUEUE_CAP;
		rr->len--;
		got = 1;
	}
	pthread_mutex_unlock(&rr->mu);
	return got;
}

struct thread_arg {
	struct reason_runner *rr;
	struct reason_agent *a;
};

/* Claims of signals no delivery can bring back any more (0014's
 * signals_prune explains the age), a bounded amount per round. */
static void prune_seen(struct reason_agent *a)
{
	char err[256];
	long n = PRUNE_BATCH, total = 0;
	int i;

	for (i = 0; i < PRUNE_BATCHES && n == PRUNE_BATCH; i++) {
		if (ax_pg_ensure(a->pg, err, sizeof(err)) != AX_OK ||
		    ax_store_prune_signals(a->pg, NULL, PRUNE_AGE_S, PRUNE_BATCH, &n, err,
					   sizeof(err)) != AX_OK) {
			ax_warn("pruning signals_seen: %s", err);
			return;
		}
		total += n;
	}
	if (total > 0)
		ax_info("pruned %ld signal claims older than %d s", total, PRUNE_AGE_S);
}

static void *agent_main(void *arg)
{
	struct thread_arg *ta = arg;
	struct reason_runner *rr = ta->rr;
	struct reason_agent *a = ta->a;
	struct timespec last, now, pruned;
	struct offer o;
	char err[512];
	int ran, n;

	free(ta);
	clock_gettime(CLOCK_MONOTONIC, &last);
	last.tv_sec -= REASON_RUN_SWEEP_MS / 1000 + 1;   /* sweep at once: resume at start */
	pruned = last;
	pruned.tv_sec -= PRUNE_EVERY_S;                 /* and prune once at start */
	while (!rr->quit && !*rr->stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >=
		    REASON_RUN_SWEEP_MS) {
			last = now;
			if (reason_agent_sweep(a, SWEEP_MAX, &n, err, sizeof(err)) != AX_OK)
				ax_warn("sweeping pipeline runs: %s", err);
			if (now.tv_sec - pruned.tv_sec >= PRUNE_EVERY_S) {
				pruned = now;
				prune_seen(a);
			}
		}
		if (!take(rr, &o, REASON_RUN_SWEEP_MS))
			continue;
		if (reason_agent_run(a, o.tenant, o.run, 1, &ran, err, sizeof(err)) != AX_OK)
			ax_log(AX_LOG_WARN, NULL, o.tenant, "run %s: %s (will be retried)", o.run,
			       err);
	}
	return NULL;
}

struct reason_runner *reason_runner_start(const struct ax_config *cfg, int threads,
					  volatile sig_atomic_t *stop, char *errbuf,
					  size_t errlen)
{
	struct reason_runner *rr = ax_xcalloc(1, sizeof(*rr));
	int i;

	rr->cfg = cfg;
	rr->stop = stop;
	pthread_mutex_init(&rr->mu, NULL);
	pthread_cond_init(&rr->cv, NULL);
	rr->threads = ax_xcalloc((size_t)threads, sizeof(*rr->threads));
	rr->agents = ax_xcalloc((size_t)threads, sizeof(*rr->agents));
	for (i = 0; i < threads; i++) {
		struct thread_arg *ta;

		rr->agents[i] = reason_agent_new(cfg, errbuf, errlen);
		if (rr->agents[i] == NULL)
			break;
		ta = ax_xmalloc(sizeof(*ta));
		ta->rr = rr;
		ta->a = rr->agents[i];
		if (pthread_create(&rr->threads[i], NULL, agent_main, ta) != 0) {
			free(ta);
			reason_agent_free(rr->agents[i]);
			rr->agents[i] = NULL;
			ax_errfmt(errbuf, errlen, "pthread_create failed");
			break;
		}
		rr->nthreads++;
	}
	if (rr->nthreads < threads) {
		reason_runner_stop(rr);
		return NULL;
	}
	return rr;
}

void reason_runner_offer(struct reason_runner *rr, const char *tenant, const char *run_id)
{
	pthread_mutex_lock(&rr->mu);
	if (rr->len < QUEUE_CAP) {
		struct offer *o = &rr->q[(rr->head + rr->len) % QUEUE_CAP];

		snprintf(o->tenant, sizeof(o->tenant), "%s", tenant);
		snprintf(o->run, sizeof(o->run), "%s", run_id);
		rr->len++;
		pthread_cond_signal(&rr->cv);
	}
	pthread_mutex_unlock(&rr->mu);
}

void reason_runner_stop(struct reason_runner *rr)
{
	int i;

	if (rr == NULL)
		return;
	pthread_mutex_lock(&rr->mu);
	rr->quit = 1;
	pthread_cond_broadcast(&rr->cv);
	pthread_mutex_unlock(&rr->mu);
	for (i = 0; i < rr->nthreads; i++)
		pthread_join(rr->threads[i], NULL);
	for (i = 0; i < rr->nthreads; i++)
		reason_agent_free(rr->agents[i]);
	pthread_mutex_destroy(&rr->mu);
	pthread_cond_destroy(&rr->cv);
	free(rr->threads);
	free(rr->agents);
	free(rr);
}
