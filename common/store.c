/* store.c - batched writes of the incident tables; see alexus/store.h.
 *
 * Each kind of change keeps its rows as a cJSON array of objects whose
 * keys are the column names; writing sends each non-empty array as the
 * one parameter of a statement that reads it with jsonb_to_recordset.
 * JSON rather than COPY because the writes need ON CONFLICT and UPDATE
 * ... FROM, which COPY cannot do, and rather than arrays of text because
 * JSON needs no escaping of our own.  Measured by make bench-store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/mem.h"
#include "alexus/store.h"

enum kind {
	K_INCIDENT_UPDATE,
	K_INCIDENT_INSERT,
	K_ALERT_UPDATE,
	K_ALERT_INSERT,
	K_RUN,
	K_DEPLOY,
	K_HISTORY,
	K_EVENT,
	K_ANALYSIS,
	K_ACTION,
	K_SIGNAL,
	K_COUNT
};

/* In the order they run ($1 the tenant, $2 the rows). */
static const char *const SQL[K_COUNT] = {
	[K_INCIDENT_UPDATE] =
		"UPDATE incidents i SET status = r.status, severity = r.severity, "
		"category = r.category, confidence = r.confidence, stage = r.stage, "
		"alert_count = r.alert_count, firing_count = r.firing_count, "
		"resolved_at = r.resolved_at, updated_at = now(), "
		"last_signal_at = CASE WHEN r.touched THEN now() ELSE i.last_signal_at END "
		"FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, status text, severity text, "
		"category text, confidence real, stage text, alert_count integer, "
		"firing_count integer, resolved_at timestamptz, touched boolean) "
		"WHERE i.tenant_id = $1 AND i.id = r.id",
	[K_INCIDENT_INSERT] =
		"INSERT INTO incidents (tenant_id, id, title, status, severity, category, "
		"confidence, stage, group_key, service, alert_count, firing_count, opened_at, "
		"resolved_at, trace, parent_id) "
		"SELECT $1, r.id, r.title, r.status, r.severity, r.category, r.confidence, r.stage, "
		"r.group_key, r.service, r.alert_count, r.firing_count, coalesce(r.opened_at, now()), "
		"r.resolved_at, r.trace, r.parent_id "
		"FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, title text, status text, "
		"severity text, category text, confidence real, stage text, group_key text, "
		"service text, alert_count integer, firing_count integer, opened_at timestamptz, "
		"resolved_at timestamptz, trace text, parent_id uuid)",
	[K_ALERT_UPDATE] =
		"UPDATE alerts a SET status = r.status, severity = r.severity, "
		"summary = coalesce(r.summary, a.summary), ends_at = r.ends_at, "
		"last_signal = r.last_signal, flap_count = coalesce(r.flap_count, a.flap_count), "
		"updated_at = now() "
		"FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, status text, severity text, "
		"summary text, ends_at timestamptz, last_signal uuid, flap_count integer) "
		"WHERE a.tenant_id = $1 AND a.id = r.id",
	[K_ALERT_INSERT] =
		"INSERT INTO alerts (tenant_id, id, incident_id, fingerprint, name, status, "
		"severity, summary, service, host, namespace, labels, source, starts_at, ends_at, "
		"last_signal, group_rule, group_match, flap_count) "
		"SELECT $1, r.id, r.incident_id, r.fingerprint, r.name, r.status, r.severity, "
		"r.summary, r.service, r.host, r.namespace, coalesce(r.labels, '{}'), r.source, "
		"r.starts_at, r.ends_at, r.last_signal, r.group_rule, r.group_match, "
		"coalesce(r.flap_count, 0) "
		"FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, incident_id uuid, "
		"fingerprint text, name text, status text, severity text, summary text, "
		"service text, host text, namespace text, labels jsonb, source text, "
		"starts_at timestamptz, ends_at timestamptz, last_signal uuid, group_rule text, "
		"group_match jsonb, flap_count integer)",
	[K_RUN] =
		"INSERT INTO pipeline_runs (tenant_id, id, signal_id, incident_id, kind, stage, "
		"input, trace, lease_until) "
		"SELECT $1, r.id, r.signal_id, r.incident_id, r.kind, r.stage, r.input, r.trace, "
		"CASE WHEN r.lease_s > 0 THEN now() + make_interval(secs => r.lease_s) END "
		"FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, signal_id uuid, incident_id uuid, "
		"kind text, stage text, input jsonb, trace text, lease_s integer)",
	[K_DEPLOY] =
		"INSERT INTO deploys (tenant_id, id, signal_id, kind, name, status, service, "
		"namespace, host, version, labels, source, source_ref, at) "
		"SELECT $1, r.id, r.signal_id, r.kind, r.name, r.status, r.service, r.namespace, "
		"r.host, r.version, coalesce(r.labels, '{}'), r.source, r.source_ref, "
		"coalesce(r.at, now()) "
		"FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, signal_id uuid, kind text, "
		"name text, status text, service text, namespace text, host text, version text, "
		"labels jsonb, source text, source_ref jsonb, at timestamptz) "
		"ON CONFLICT (tenant_id, signal_id) DO NOTHING",
	[K_HISTORY] =
		"INSERT INTO alert_history (tenant_id, alert_id, from_status, to_status, "
		"signal_id, trace) "
		"SELECT $1, r.alert_id, r.from_status, r.to_status, r.signal_id, r.trace "
		"FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (alert_id uuid, "
		"from_status text, to_status text, signal_id uuid, trace text)) "
		"WITH ORDINALITY AS r(alert_id, from_status, to_status, signal_id, trace, n) "
		"ORDER BY r.n",
	[K_EVENT] =
		"INSERT INTO incident_events (tenant_id, incident_id, signal_id, stage, "
		"input_digest, output, duration_ms, provider, fallback, trace, run_id) "
		"SELECT $1, r.incident_id, r.signal_id, r.stage, r.input_digest, "
		"coalesce(r.output, '{}'), r.duration_ms, coalesce(r.provider, 'heuristic'), "
		"r.fallback, r.trace, r.run_id "
		"FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (incident_id uuid, "
		"signal_id uuid, stage text, input_digest text, output jsonb, duration_ms real, "
		"provider text, fallback boolean, trace text, run_id uuid)) "
		"WITH ORDINALITY AS r(incident_id, signal_id, stage, input_digest, output, "
		"duration_ms, provider, fallback, trace, run_id, n) "
		"ORDER BY r.n",
	[K_ANALYSIS] =
		"INSERT INTO analysis_runs (tenant_id, id, incident_id, pipeline_run_id, provider, "
		"model, fallback_used, fallback_reason, tokens_in, tokens_out, cost_usd, "
		"confidence, confidence_parts, duration_ms, trace) "
		"SELECT $1, r.id, r.incident_id, r.pipeline_run_id, r.provider, r.model, "
		"r.fallback_used, r.fallback_reason, r.tokens_in, r.tokens_out, r.cost_usd, "
		"r.confidence, coalesce(r.confidence_parts, '{}'), r.duration_ms, r.trace "
		"FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, incident_id uuid, "
		"pipeline_run_id uuid, provider text, model text, fallback_used boolean, "
		"fallback_reason text, tokens_in integer, tokens_out integer, cost_usd numeric, "
		"confidence real, confidence_parts jsonb, duration_ms real, trace text)",
	[K_ACTION] =
		"INSERT INTO actions (tenant_id, id, incident_id, signal_id, type, status, "
		"payload, trace) "
		"SELECT $1, r.id, r.incident_id, r.signal_id, r.type, 'pending', r.payload, r.trace "
		"FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, incident_id uuid, "
		"signal_id uuid, type text, payload jsonb, trace text)",
	[K_SIGNAL] =
		"INSERT INTO signals_seen (tenant_id, signal_id, incident_id) "
		"SELECT $1, r.signal_id, r.incident_id "
		"FROM jsonb_to_recordset($2::jsonb) AS r(signal_id uuid, incident_id uuid) "
		"ON CONFLICT DO NOTHING",
};

struct ax_store_batch {
	cJSON *rows[K_COUNT];   /* arrays */
	size_t n[K_COUNT];
};

static cJSON *new_array(void)
{
	cJSON *a = cJSON_CreateArray();

	if (a == NULL)
		abort();
	return a;
}

struct ax_store_batch *ax_store_batch_new(void)
{
	struct ax_store_batch *b = ax_xcalloc(1, sizeof(*b));
	int k;

	for (k = 0; k < K_COUNT; k++)
		b->rows[k] = new_array();
	return b;
}

void ax_store_batch_free(struct ax_store_batch *b)
{
	int k;

	if (b == NULL)
		return;
	for (k = 0; k < K_COUNT; k++)
		cJSON_Delete(b->rows[k]);
	free(b);
}

void ax_store_batch_clear(struct ax_store_batch *b)
{
	int k;

	for (k = 0; k < K_COUNT; k++) {
		cJSON_Delete(b->rows[k]);
		b->rows[k] = new_array();
		b->n[k] = 0;
	}
}

size_t ax_store_batch_rows(const struct ax_store_batch *b)
{
	size_t t = 0;
	int k;

	for (k = 0; k < K_COUNT; k++)
		t += b->n[k];
	return t;
}

static cJSON *row(struct ax_store_batch *b, enum kind k)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddItemToArray(b->rows[k], o))
		abort();
	b->n[k]++;
	return o;
}

static void str(cJSON *o, const char *key, const char *v)
{
	if ((v != NULL ? cJSON_AddStringToObject(o, key, v) : cJSON_AddNullToObject(o, key)) == NULL)
		abort();
}

static void num(cJSON *o, const char *key, double v)
{
	if (cJSON_AddNumberToObject(o, key, v) == NULL)
		abort();
}

static void obj(cJSON *o, const char *key, const cJSON *v)
{
	cJSON *c = v != NULL ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

	if (c == NULL || !cJSON_AddItemToObject(o, key, c))
		abort();
}

static void incident(cJSON *o, const struct ax_incident_row *r)
{
	str(o, "id", r->id);
	str(o, "status", r->status);
	str(o, "severity", r->severity);
	str(o, "category", r->category);
	if (r->has_confidence)
		num(o, "confidence", r->confidence);
	str(o, "stage", r->stage);
	num(o, "alert_count", (double)r->alert_count);
	num(o, "firing_count", (double)r->firing_count);
	str(o, "resolved_at", r->resolved_at);
	if (cJSON_AddBoolToObject(o, "touched", r->touched != 0) == NULL)
		abort();
}

void ax_store_incident_insert(struct ax_store_batch *b, const struct ax_incident_row *r)
{
	cJSON *o = row(b, K_INCIDENT_INSERT);

	incident(o, r);
	str(o, "title", r->title);
	str(o, "group_key", r->group_key);
	str(o, "service", r->service);
	str(o, "opened_at", r->opened_at);
	str(o, "trace", r->trace);
	str(o, "parent_id", r->parent_id);
}

void ax_store_incident_update(struct ax_store_batch *b, const struct ax_incident_row *r)
{
	incident(row(b, K_INCIDENT_UPDATE), r);
}

static void alert(cJSON *o, const struct ax_alert_row *r)
{
	str(o, "id", r->id);
	str(o, "status", r->status);
	str(o, "severity", r->severity);
	str(o, "summary", r->summary);
	str(o, "ends_at", r->ends_at);
	str(o, "last_signal", r->last_signal);
	/* Absent (0) keeps the stored count: a writer that does not know of
	 * flapping leaves it alone. */
	if (r->flap_count > 0)
		num(o, "flap_count", (double)r->flap_count);
}

void ax_store_alert_insert(struct ax_store_batch *b, const struct ax_alert_row *r)
{
	cJSON *o = row(b, K_ALERT_INSERT);

	alert(o, r);
	str(o, "incident_id", r->incident_id);
	str(o, "fingerprint", r->fingerprint);
	str(o, "name", r->name);
	str(o, "service", r->service);
	str(o, "host", r->host);
	str(o, "namespace", r->namespace_);
	obj(o, "labels", r->labels);
	str(o, "source", r->source);
	str(o, "starts_at", r->starts_at);
	str(o, "group_rule", r->group_rule);
	obj(o, "group_match", r->group_match);
}

void ax_store_alert_update(struct ax_store_batch *b, const struct ax_alert_row *r)
{
	alert(row(b, K_ALERT_UPDATE), r);
}

void ax_store_run(struct ax_store_batch *b, const struct ax_run_row *r)
{
	cJSON *o = row(b, K_RUN);

	str(o, "id", r->id);
	str(o, "signal_id", r->signal_id);
	str(o, "incident_id", r->incident_id);
	str(o, "kind", r->kind);
	str(o, "stage", r->stage);
	obj(o, "input", r->input);
	str(o, "trace", r->trace);
	num(o, "lease_s", r->lease_s);
}

void ax_store_deploy(struct ax_store_batch *b, const struct ax_deploy_row *r)
{
	cJSON *o = row(b, K_DEPLOY);

	str(o, "id", r->id);
	str(o, "signal_id", r->signal_id);
	str(o, "kind", r->kind);
	str(o, "name", r->name);
	str(o, "status", r->status);
	str(o, "service", r->service);
	str(o, "namespace", r->namespace_);
	str(o, "host", r->host);
	str(o, "version", r->version);
	obj(o, "labels", r->labels);
	str(o, "source", r->source);
	obj(o, "source_ref", r->source_ref);
	str(o, "at", r->at);
}

void ax_store_history(struct ax_store_batch *b, const struct ax_history_row *r)
{
	cJSON *o = row(b, K_HISTORY);

	str(o, "alert_id", r->alert_id);
	str(o, "from_status", r->from_status);
	str(o, "to_status", r->to_status);
	str(o, "signal_id", r->signal_id);
	str(o, "trace", r->trace);
}

void ax_store_event(struct ax_store_batch *b, const struct ax_event_row *r)
{
	cJSON *o = row(b, K_EVENT);

	str(o, "incident_id", r->incident_id);
	str(o, "signal_id", r->signal_id);
	str(o, "stage", r->stage);
	str(o, "input_digest", r->input_digest);
	obj(o, "output", r->output);
	num(o, "duration_ms", r->duration_ms);
	str(o, "provider", r->provider);
	if (cJSON_AddBoolToObject(o, "fallback", r->fallback != 0) == NULL)
		abort();
	str(o, "trace", r->trace);
	str(o, "run_id", r->run_id);
}

void ax_store_analysis(struct ax_store_batch *b, const struct ax_analysis_row *r)
{
	cJSON *o = row(b, K_ANALYSIS);

	str(o, "id", r->id);
	str(o, "incident_id", r->incident_id);
	str(o, "pipeline_run_id", r->run_id);
	str(o, "provider", r->provider);
	str(o, "model", r->model);
	if (cJSON_AddBoolToObject(o, "fallback_used", r->fallback_used != 0) == NULL)
		abort();
	str(o, "fallback_reason", r->fallback_reason);
	num(o, "tokens_in", (double)r->tokens_in);
	num(o, "tokens_out", (double)r->tokens_out);
	num(o, "cost_usd", r->cost_usd);
	num(o, "confidence", r->confidence);
	obj(o, "confidence_parts", r->confidence_parts);
	num(o, "duration_ms", r->duration_ms);
	str(o, "trace", r->trace);
}

void ax_store_action(struct ax_store_batch *b, const struct ax_action_row *r)
{
	cJSON *o = row(b, K_ACTION), *payload;

	str(o, "id", r->id);
	str(o, "incident_id", r->incident_id);
	str(o, "signal_id", r->signal_id);
	str(o, "type", r->type);
	/* Raw, so the column gets the document itself and not a string
	 * holding it; the caller's text is JSON it printed. */
	payload = cJSON_CreateRaw(r->payload != NULL ? r->payload : "{}");
	if (payload == NULL || !cJSON_AddItemToObject(o, "payload", payload))
		abort();
	str(o, "trace", r->trace);
}

void ax_store_signal_seen(struct ax_store_batch *b, const char *signal_id,
			  const char *incident_id)
{
	cJSON *o = row(b, K_SIGNAL);

	str(o, "signal_id", signal_id);
	str(o, "incident_id", incident_id);
}

ax_err ax_store_write(struct ax_pg *pg, const char *tenant, struct ax_store_batch *b,
		      char *errbuf, size_t errlen)
{
	struct ax_pg_stmt st[K_COUNT];
	const char *params[K_COUNT][2];
	char *text[K_COUNT];
	PGresult *res[K_COUNT];
	int k, n = 0, seen = -1;
	ax_err rc;

	for (k = 0; k < K_COUNT; k++) {
		text[k] = NULL;
		if (b->n[k] == 0)
			continue;
		text[k] = cJSON_PrintUnformatted(b->rows[k]);
		if (text[k] == NULL)
			abort();
		params[k][0] = tenant;
		params[k][1] = text[k];
		if (k == K_SIGNAL)
			seen = n;
		st[n].sql = SQL[k];
		st[n].nparams = 2;
		st[n].params = params[k];
		n++;
	}
	rc = n > 0 ? ax_pg_pipeline(pg, st, n, res, errbuf, errlen) : AX_OK;
	for (k = 0; k < K_COUNT; k++)
		free(text[k]);
	if (rc == AX_OK && seen >= 0 &&
	    strtoul(PQcmdTuples(res[seen]), NULL, 10) != (unsigned long)b->n[K_SIGNAL]) {
		/* Another writer claimed one of these signals meanwhile. */
		ax_errfmt(errbuf, errlen, "a signal of the batch was claimed concurrently");
		rc = AX_EDUP;
	}
	for (k = 0; rc != AX_EIO && k < n; k++)
		PQclear(res[k]);
	if (rc == AX_EIO && strcmp(ax_pg_sqlstate(pg), "23505") == 0 &&
	    strcmp(ax_pg_constraint(pg), "incidents_open_group") == 0)
		return AX_EDUP;
	return rc;
}

ax_err ax_store_prune_signals(struct ax_pg *pg, const char *tenant, long older_s,
			      long max_rows, long *deleted, char *errbuf, size_t errlen)
{
	char age[32], max[32];
	const char *params[3] = { tenant, age, max };
	PGresult *res;

	if (older_s < 3600 || max_rows < 1 || max_rows > 1000000) {
		ax_errfmt(errbuf, errlen, "signals_prune: older than %ld s (>= 3600), "
			  "at most %ld rows (1..1000000)", older_s, max_rows);
		return AX_EINVAL;
	}
	if (ax_pg_ensure(pg, errbuf, errlen) != AX_OK)
		return AX_EIO;
	snprintf(age, sizeof(age), "%ld seconds", older_s);
	snprintf(max, sizeof(max), "%ld", max_rows);
	res = ax_pg_exec(pg, errbuf, errlen,
			 "SELECT signals_prune($1, $2::interval, $3::integer)", 3, params);
	if (res == NULL)
		return AX_EIO;
	if (deleted != NULL)
		*deleted = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return AX_OK;
}
