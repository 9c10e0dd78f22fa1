/* api_incidents.c - the operator API's incident and approval reads, and
 * the incident operations (see api.h), run on the API threads.
 *
 * The JSON documents are built by Postgres (json_build_object, json_agg)
 * in one statement per call: the server already has every row, the C side
 * only wraps the answer, and a single statement reads one consistent
 * snapshot.  Each transaction first sets TimeZone to UTC so every
 * timestamp reads as RFC 3339 with +00:00.
 *
 * The list's cursor is opaque to clients: "i1" followed by the 32 hex
 * digits of the last incident id of the page (a UUIDv7, so id order is
 * time order, 0020_api.sql).  Anything else is a 400 naming "cursor". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "api.h"
#include "alexus/config.h"
#include "alexus/incident.h"
#include "alexus/json.h"
#include "alexus/log.h"
#include "alexus/mem.h"
#include "alexus/pg.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200
#define CURSOR_PREFIX "i1"
#define SERVICE_MAX 200


#define INCIDENT_JSON(i)                                                                           \
	"json_build_object('id', " i ".id, 'title', " i ".title, 'status', " i ".status, "         \
	"'severity', " i ".severity, 'category', " i ".category, 'confidence', " i                 \
	".confidence, 'stage', " i ".stage, 'service', " i ".service, 'alert_count', " i           \
	".alert_count, 'firing_count', " i ".firing_count, 'opened_at', " i ".opened_at, "         \
	"'updated_at', " i ".updated_at, 'resolved_at', " i ".resolved_at, "                       \
	"'acknowledged_at', " i ".acknowledged_at, 'acknowledged_by', " i ".acknowledged_by, "     \
	"'escalation_level', " i ".escalation_level, 'parent_id', " i ".parent_id, "               \
	"'trace', " i ".trace)"

/* One incident and everything about it.  The diagnosis is the latest
 * incident_or_cmdb transition (the IncidentAgent's answer) with the
 * provider and fallback that produced it. */
static const char Q_SHOW[] =
    "SELECT json_build_object("
    "'incident', " INCIDENT_JSON(
        "i") ", "
             "'alerts', coalesce((SELECT json_agg(json_build_object('id', a.id, 'name', a.name, "
             " 'status', a.status, 'severity', a.severity, 'summary', a.summary, 'service', "
             "a.service, "
             " 'host', a.host, 'namespace', a.namespace, 'labels', a.labels, 'source', a.source, "
             " 'fingerprint', a.fingerprint, 'starts_at', a.starts_at, 'ends_at', a.ends_at, "
             " 'flap_count', a.flap_count, 'created_at', a.created_at, 'updated_at', a.updated_at) "
             " ORDER BY a.created_at, a.id) FROM alerts a WHERE a.incident_id = i.id), '[]'), "
             "'timeline', coalesce((SELECT json_agg(json_build_object('id', e.id, 'stage', "
             "e.stage, "
             " 'provider', e.provider, 'fallback', e.fallback, 'duration_ms', e.duration_ms, "
             " 'output', e.output, 'signal_id', e.signal_id, 'run_id', e.run_id, "
             " 'created_at', e.created_at) ORDER BY e.id) "
             " FROM incident_events e WHERE e.incident_id = i.id), '[]'), "
             "'pipeline_runs', coalesce((SELECT json_agg(json_build_object('id', r.id, "
             " 'signal_id', r.signal_id, 'kind', r.kind, 'stage', r.stage, 'status', r.status, "
             " 'decision', r.decision, 'error', r.error, 'attempts', r.attempts, "
             " 'started_at', r.started_at, 'finished_at', r.finished_at) ORDER BY r.started_at, "
             "r.id) "
             " FROM pipeline_runs r WHERE r.incident_id = i.id), '[]'), "
             "'analysis_runs', coalesce((SELECT json_agg(json_build_object('id', x.id, "
             " 'provider', x.provider, 'model', x.model, 'fallback_used', x.fallback_used, "
             " 'fallback_reason', x.fallback_reason, 'confidence', x.confidence, "
             " 'confidence_parts', x.confidence_parts, 'tokens_in', x.tokens_in, "
             " 'tokens_out', x.tokens_out, 'cost_usd', x.cost_usd, 'duration_ms', x.duration_ms, "
             " 'created_at', x.created_at) ORDER BY x.created_at, x.id) "
             " FROM analysis_runs x WHERE x.incident_id = i.id), '[]'), "
             "'diagnosis', (SELECT json_build_object('event_id', d.id, 'provider', d.provider, "
             " 'fallback', d.fallback, 'output', d.output, 'created_at', d.created_at) "
             " FROM incident_events d WHERE d.incident_id = i.id AND d.stage = 'incident_or_cmdb' "
             " ORDER BY d.id DESC LIMIT 1), "
             "'actions', coalesce((SELECT json_agg(json_build_object('id', c.id, 'type', c.type, "
             " 'status', c.status, 'payload', c.payload, 'result', c.result, 'attempts', "
             "c.attempts, "
             " 'created_at', c.created_at, 'updated_at', c.updated_at, 'executed_at', "
             "c.executed_at) "
             " ORDER BY c.created_at, c.id) FROM actions c WHERE c.incident_id = i.id), '[]'), "
             "'approvals', coalesce((SELECT json_agg(json_build_object('id', p.id, "
             " 'action_id', p.action_id, 'requested_by', p.requested_by, "
             " 'requested_at', p.requested_at, 'expires_at', p.expires_at, 'decision', p.decision, "
             " 'decided_by', p.decided_by, 'decided_at', p.decided_at, 'comment', p.comment) "
             " ORDER BY p.requested_at, p.id) FROM approvals p JOIN actions c ON c.id = "
             "p.action_id "
             " WHERE c.incident_id = i.id), '[]'), "
             "'tickets', coalesce((SELECT json_agg(json_build_object('id', t.id, 'system', "
             "t.system, "
             " 'external_key', t.external_key, 'url', t.url, 'external_status', t.external_status, "
             " 'resolved', t.resolved, 'last_synced_at', t.last_synced_at, "
             " 'created_at', t.created_at) ORDER BY t.created_at, t.id) "
             " FROM tickets t WHERE t.incident_id = i.id), '[]'), "
             "'notes', coalesce((SELECT json_agg(json_build_object('id', n.id, 'author', n.author, "
             " 'text', n.body, 'event_id', n.event_id, 'created_at', n.created_at) "
             " ORDER BY n.created_at, n.id) FROM incident_notes n WHERE n.incident_id = i.id), "
             "'[]'), "
             "'audit', coalesce((SELECT json_agg(json_build_object('seq', l.seq, 'at', l.at, "
             " 'actor', l.actor, 'action', l.action, 'subject', l.subject, 'detail', l.detail, "
             " 'hash', encode(l.hash, 'hex')) ORDER BY l.seq) FROM audit_log l "
             " WHERE l.subject = 'incident:' || i.id OR l.subject IN "
             " (SELECT 'action:' || c.id FROM actions c WHERE c.incident_id = i.id)), '[]')"
             ")::text FROM incidents i WHERE i.id = $1";

/* Approvals with their action: what an operator needs to decide. */
static const char Q_APPROVALS[] =
    "SELECT coalesce(json_agg(json_build_object('id', p.id, 'action_id', p.action_id, "
    " 'incident_id', c.incident_id, 'action_type', c.type, "
    " 'action', c.payload, 'action_status', c.status, 'requested_by', p.requested_by, "
    " 'requested_at', p.requested_at, 'expires_at', p.expires_at, 'decision', p.decision, "
    " 'decided_by', p.decided_by, 'decided_at', p.decided_at, 'comment', p.comment) "
    " ORDER BY p.requested_at DESC, p.id), '[]')::text FROM ("
    " SELECT * FROM approvals WHERE CASE $1 "
    "  WHEN 'pending' THEN decision IS NULL AND expires_at > now() "
    "  WHEN 'decided' THEN decision IS NOT NULL "
    "  WHEN 'expired' THEN decision = 'expired' OR (decision IS NULL AND expires_at <= now()) "
    "  ELSE true END ORDER BY requested_at DESC, id LIMIT $2) p "
    "JOIN actions c ON c.id = p.action_id";

/* ------------------------------------------------------------ helpers */

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM).  The
 * shape only; Postgres then parses it (a day 31 of February is its 400). */
int ingest_api_rfc3339(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i;

	if (s == NULL || strlen(s) < sizeof(shape))
		return 0;
	for (i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd'
		        ? !isdigit((unsigned char)s[i])
		        : (shape[i] == 'T' ? (s[i] != 'T' && s[i] != 't') : s[i] != shape[i]))
			return 0;
	}
	s += i;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return 1;
	return (*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
	       isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
	       isdigit((unsigned char)s[5]) && s[6] == '\0';
}

static int one_of(const char *v, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(v, *set) == 0)
			return 1;
	return 0;
}

/* "i1" + 32 hex -> UUID text; 0 when it is not one of ours. */
static int cursor_decode(const char *cur, char out[AX_UUID_LEN])
{
	const char *h = cur + strlen(CURSOR_PREFIX);
	size_t i, o = 0;

	if (strncmp(cur, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) != 0 || strlen(h) != 32)
		return 0;
	for (i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)h[i]) || isupper((unsigned char)h[i]))
			return 0;
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = h[i];
	}
	out[o] = '\0';
	return ax_uuid_valid(out);
}

static void cursor_encode(const char *uuid, char *out, size_t len)
{
	size_t o = 0;

	o = (size_t)snprintf(out, len, "%s", CURSOR_PREFIX);
	for (; *uuid != '\0' && o + 1 < len; uuid++)
		if (*uuid != '-')
			out[o++] = *uuid;
	out[o] = '\0';
}

/* The query parameters; an unknown or repeated one is refused (400) so a
 * typo never silently returns the unfiltered list.  0 when parsed. */
static int parse_query(struct ingest_api_call *c, struct evkeyvalq *kv, const char *const *known)
{
	struct evkeyval *e, *f;

	TAILQ_INIT(kv);
	if (c->query == NULL || c->query[0] == '\0')
		return 0;
	if (evhttp_parse_query_str(c->query, kv) != 0) {
		evhttp_clear_headers(kv);
		ingest_api_error(c, 400, "bad_request", NULL, "the query string is malformed");
		return -1;
	}
	TAILQ_FOREACH(e, kv, next)
	{
		if (!one_of(e->key, known)) {
			ingest_api_error(c, 400, "bad_request", e->key,
			                 "unknown query parameter \"%.64s\"", e->key);
			evhttp_clear_headers(kv);
			return -1;
		}
		for (f = TAILQ_NEXT(e, next); f != NULL; f = TAILQ_NEXT(f, next)) {
			if (strcmp(e->key, f->key) == 0) {
				ingest_api_error(c, 400, "bad_request", e->key,
				                 "query parameter \"%s\" is repeated", e->key);
				evhttp_clear_headers(kv);
				return -1;
			}
		}
	}
	return 0;
}

static int parse_limit(struct ingest_api_call *c, const char *v, int def, int max, int *out)
{
	char *end;
	long n;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	n = strtol(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || n < 1 || n > max) {
		ingest_api_error(c, 400, "bad_request", "limit", "limit must be 1..%d", max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* ------------------------------------------------------------ incidents */

void ingest_api_incidents(struct ax_pg *pg, struct ingest_api_call *c)
{
	static const char *const known[] = {"status", "severity", "service", "since",
	                                    "until",  "cursor",   "limit",   NULL};
	static const char *const statuses[] = {"open", "resolved", NULL};
	static const char *const severities[] = {"critical", "high", "warning", "info", NULL};
	struct evkeyvalq kv;
	const char *status, *severity, *service, *since, *until, *cursor;
	const char *params[8];
	char sql[2048], after[AX_UUID_LEN], lim[16], err[512], next[64];
	int np = 0, limit, n, i;
	size_t off;
	PGresult *res;
	cJSON *out, *items;

	if (parse_query(c, &kv, known) != 0)
		return;
	status = evhttp_find_header(&kv, "status");
	severity = evhttp_find_header(&kv, "severity");
	service = evhttp_find_header(&kv, "service");
	since = evhttp_find_header(&kv, "since");
	until = evhttp_find_header(&kv, "until");
	cursor = evhttp_find_header(&kv, "cursor");
	if (status != NULL && !one_of(status, statuses)) {
		ingest_api_error(c, 400, "bad_request", "status",
		                 "status must be open or resolved");
		goto out;
	}
	if (severity != NULL && !one_of(severity, severities)) {
		ingest_api_error(c, 400, "bad_request", "severity",
		                 "severity must be critical, high, warning or info");
		goto out;
	}
	if (service != NULL && (service[0] == '\0' || strlen(service) > SERVICE_MAX)) {
		ingest_api_error(c, 400, "bad_request", "service", "service must be 1..%d bytes",
		                 SERVICE_MAX);
		goto out;
	}
	if (since != NULL && !ingest_api_rfc3339(since)) {
		ingest_api_error(c, 400, "bad_request", "since",
		                 "since must be an RFC 3339 date-time (2026-01-02T03:04:05Z)");
		goto out;
	}
	if (until != NULL && !ingest_api_rfc3339(until)) {
		ingest_api_error(c, 400, "bad_request", "until",
		                 "until must be an RFC 3339 date-time (2026-01-02T03:04:05Z)");
		goto out;
	}
	if (cursor != NULL && !cursor_decode(cursor, after)) {
		ingest_api_error(c, 400, "bad_request", "cursor",
		                 "cursor is not one this API returned (next_cursor)");
		goto out;
	}
	if (parse_limit(c, evhttp_find_header(&kv, "limit"), LIST_DEFAULT, LIST_MAX, &limit) != 0)
		goto out;

	/* "opened_at IS NOT NULL" is always true; it is the predicate of the
	 * status and severity indexes (0020), which a query may use only if
	 * it states it. */
	off = (size_t)snprintf(
	    sql, sizeof(sql),
	    "SELECT id::text, " INCIDENT_JSON("i") "::text FROM incidents i "
	    "WHERE opened_at IS NOT NULL");
#define FILTER(cond, val)                                                                          \
	do {                                                                                       \
		params[np++] = (val);                                                              \
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, cond, np);                   \
	} while (0)
	if (status != NULL)
		FILTER(" AND status = $%d", status);
	if (severity != NULL)
		FILTER(" AND severity = $%d", severity);
	if (service != NULL)
		FILTER(" AND service = $%d", service);
	if (since != NULL)
		FILTER(" AND opened_at >= $%d::timestamptz", since);
	if (until != NULL)
		FILTER(" AND opened_at < $%d::timestamptz", until);
	if (cursor != NULL)
		FILTER(" AND id < $%d::uuid", after);
	snprintf(lim, sizeof(lim), "%d", limit + 1);
	FILTER(" ORDER BY id DESC LIMIT $%d", lim);
#undef FILTER

	if (ingest_api_begin(pg, c) != 0)
		goto out;
	res = ax_pg_exec(pg, err, sizeof(err), sql, np, params);
	if (res == NULL) {
		/* 22007/22008: a date Postgres would not take (Feb 31st). */
		if (strncmp(ax_pg_sqlstate(pg), "2200", 4) == 0) {
			ax_pg_rollback(pg);
			ingest_api_error(c, 400, "bad_request", since != NULL ? "since" : "until",
			                 "not a valid date-time");
		} else {
			ingest_api_unavailable(pg, c, err);
		}
		goto out;
	}
	ax_pg_rollback(pg); /* read only */
	out = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(out, "items");
	if (out == NULL || items == NULL)
		abort();
	n = PQntuples(res);
	for (i = 0; i < n && i < limit; i++) {
		cJSON *it = cJSON_Parse(PQgetvalue(res, i, 1));

		if (it == NULL)
			abort(); /* Postgres made it: only an allocation failure */
		cJSON_AddItemToArray(items, it);
	}
	if (n > limit) {
		cursor_encode(PQgetvalue(res, limit - 1, 0), next, sizeof(next));
		cJSON_AddStringToObject(out, "next_cursor", next);
	} else {
		cJSON_AddNullToObject(out, "next_cursor");
	}
	PQclear(res);
	ingest_api_json(c, 200, out);
	cJSON_Delete(out);
out:
	evhttp_clear_headers(&kv);
}

void ingest_api_incident(struct ax_pg *pg, struct ingest_api_call *c)
{
	const char *p[1] = {c->id};
	char err[512];
	PGresult *res;

	if (!ax_uuid_valid(c->id)) {
		ingest_api_error(c, 404, "not_found", NULL, "no incident %.64s", c->id);
		return;
	}
	if (ingest_api_begin(pg, c) != 0)
		return;
	res = ax_pg_exec(pg, err, sizeof(err), Q_SHOW, 1, p);
	if (res == NULL) {
		ingest_api_unavailable(pg, c, err);
		return;
	}
	ax_pg_rollback(pg);
	if (PQntuples(res) != 1) {
		ingest_api_error(c, 404, "not_found", NULL, "no incident %s", c->id);
	} else {
		free(c->body);
		c->body = ax_xstrdup(PQgetvalue(res, 0, 0));
		c->status = 200;
	}
	PQclear(res);
}

/* POST /v1/incidents/{id}/{ack,resolve,notes}: the body is optional for
 * ack and resolve ({"comment": "..."}), required for notes ({"text": ...}). */
void ingest_api_incident_op(struct ax_pg *pg, struct redisContext **redis,
                            const struct ax_config *cfg, struct ingest_api_call *c)
{
	enum ax_incident_op op = strcmp(c->op, "ack") == 0       ? AX_INCIDENT_ACK
	                         : strcmp(c->op, "resolve") == 0 ? AX_INCIDENT_RESOLVE
	                                                         : AX_INCIDENT_NOTE;
	const char *field = op == AX_INCIDENT_NOTE ? "text" : "comment";
	struct ax_incident_result r;
	const cJSON *v;
	cJSON *doc = NULL, *out;
	char err[512];
	ax_err rc;

	if (c->input != NULL && c->input[0] != '\0') {
		doc = ax_json_parse(c->input, strlen(c->input), 8);
		if (!cJSON_IsObject(doc)) {
			cJSON_Delete(doc);
			ingest_api_error(c, 400, "invalid_json", NULL,
			                 "the body must be a JSON object {\"%s\": \"...\"}", field);
			return;
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, field);
	if ((v != NULL && !cJSON_IsString(v) && !cJSON_IsNull(v)) ||
	    (op == AX_INCIDENT_NOTE && (!cJSON_IsString(v) || v->valuestring[0] == '\0')) ||
	    (cJSON_IsString(v) && strlen(v->valuestring) > AX_INCIDENT_NOTE_MAX)) {
		cJSON_Delete(doc);
		ingest_api_error(c, 400, "bad_request", field,
		                 op == AX_INCIDENT_NOTE
		                     ? "text must be a string of 1..%d bytes"
		                     : "comment must be a string of at most %d bytes",
		                 AX_INCIDENT_NOTE_MAX);
		return;
	}
	rc = ax_incident_apply(pg, ingest_api_redis(redis, cfg), c->tenant, c->id, op, c->by,
	                       cJSON_IsString(v) ? v->valuestring : NULL, c->trace, &r, err,
	                       sizeof(err));
	cJSON_Delete(doc);
	switch (rc) {
	case AX_OK:
		break;
	case AX_ENOTFOUND:
		ingest_api_error(c, 404, "not_found", NULL, "no incident %s", c->id);
		return;
	case AX_EDUP:
		ingest_api_error(c, 409, r.conflict, NULL, "%s", err);
		return;
	case AX_EINVAL:
		ingest_api_error(c, 400, "bad_request", NULL, "%s", err);
		return;
	default:
		ingest_api_unavailable(pg, c, err);
		return;
	}
	out = cJSON_CreateObject();
	if (out == NULL)
		abort();
	cJSON_AddStringToObject(out, "id", c->id);
	cJSON_AddStringToObject(out, "status", r.status);
	cJSON_AddStringToObject(out, "stage", ax_incident_op_stage(op));
	cJSON_AddNumberToObject(out, "event_id", (double)r.event_id);
	cJSON_AddStringToObject(out, "by", c->by);
	cJSON_AddStringToObject(out, "at", r.at);
	if (op == AX_INCIDENT_NOTE)
		cJSON_AddStringToObject(out, "note_id", r.note_id);
	ingest_api_json(c, op == AX_INCIDENT_NOTE ? 201 : 200, out);
	cJSON_Delete(out);
	ax_log(AX_LOG_INFO, c->trace, c->tenant, "incident %s %s by %s (event %lld%s)", c->id,
	       ax_incident_op_stage(op), c->by, r.event_id, r.published ? "" : ", not published");
}

/* ------------------------------------------------------------ approvals */

void ingest_api_approvals(struct ax_pg *pg, struct ingest_api_call *c)
{
	static const char *const known[] = {"status", "limit", NULL};
	static const char *const statuses[] = {"pending", "decided", "expired", "all", NULL};
	struct evkeyvalq kv;
	const char *status;
	char lim[16], err[512];
	int limit;
	PGresult *res;

	if (parse_query(c, &kv, known) != 0)
		return;
	status = evhttp_find_header(&kv, "status");
	if (status == NULL)
		status = "pending";
	if (!one_of(status, statuses)) {
		ingest_api_error(c, 400, "bad_request", "status",
		                 "status must be pending, decided, expired or all");
		goto out;
	}
	if (parse_limit(c, evhttp_find_header(&kv, "limit"), LIST_DEFAULT, LIST_MAX, &limit) != 0)
		goto out;
	snprintf(lim, sizeof(lim), "%d", limit);
	if (ingest_api_begin(pg, c) != 0)
		goto out;
	{
		const char *p[2] = {status, lim};

		res = ax_pg_exec(pg, err, sizeof(err), Q_APPROVALS, 2, p);
	}
	if (res == NULL) {
		ingest_api_unavailable(pg, c, err);
		goto out;
	}
	ax_pg_rollback(pg);
	free(c->body);
	{
		const char *items = PQgetvalue(res, 0, 0);
		size_t len = strlen(items) + 32;

		c->body = ax_xmalloc(len);
		snprintf(c->body, len, "{\"items\":%s}", items);
	}
	c->status = 200;
	PQclear(res);
out:
	evhttp_clear_headers(&kv);
}
