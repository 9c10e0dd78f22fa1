/* incident.c - acknowledge, resolve, note: a human's operations on an
 * incident (see incident.h).
 *
 * The incident row is locked first (SELECT ... FOR UPDATE) so two
 * operators clicking at once are serialised: the second sees the first
 * one's result and gets AX_EDUP, never a double acknowledgement.  The
 * incident_events row and the note are written in the same transaction
 * with one pipelined round trip; the event row's id comes back from its
 * INSERT ... RETURNING and is what the PUBLISHed event and the API answer
 * carry (the live feed's SSE id).  Timestamps are formatted by Postgres in
 * UTC so every client sees the same RFC 3339 text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "alexus/incident.h"
#include "alexus/json.h"
#include "alexus/keys.h"
#include "alexus/mem.h"
#include "alexus/pg.h"
#include "alexus/stream.h"

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static const char Q_LOCK[] = "SELECT status, coalesce(acknowledged_by, ''), " RFC3339(
    "now()") " "
             "FROM incidents WHERE id = $1 FOR UPDATE";
static const char Q_ACK[] =
    "UPDATE incidents SET acknowledged_at = now(), acknowledged_by = $2, updated_at = now() "
    "WHERE id = $1";
/* The escalation job stops at acknowledged_at; a resolved incident is not
 * escalated either (its partial index holds only open ones). */
static const char Q_RESOLVE[] =
    "UPDATE incidents SET status = 'resolved', resolved_at = now(), updated_at = now() "
    "WHERE id = $1";
static const char Q_EVENT[] =
    "INSERT INTO incident_events (tenant_id, incident_id, stage, output, provider, trace) "
    "VALUES (app_tenant(), $1, $2, $3::jsonb, 'human', $4) RETURNING id";
/* The note and its event in one statement: the note row carries the
 * event's id. */
static const char Q_NOTE[] =
    "WITH ev AS (INSERT INTO incident_events (tenant_id, incident_id, stage, output, "
    "provider, trace) VALUES (app_tenant(), $2, 'note', $6::jsonb, 'human', $5) RETURNING id) "
    "INSERT INTO incident_notes (tenant_id, id, incident_id, author, body, event_id, trace) "
    "SELECT app_tenant(), $1, $2, $3, $4, ev.id, $5 FROM ev RETURNING event_id";
static const char Q_AUDIT[] = "SELECT audit_append($1, $2, $3, $4::jsonb, $5)";

const char *ax_incident_op_stage(enum ax_incident_op op)
{
	switch (op) {
	case AX_INCIDENT_ACK:
		return "acknowledged";
	case AX_INCIDENT_RESOLVE:
		return "resolved";
	case AX_INCIDENT_NOTE:
		return "note";
	}
	return "?";
}

static const char *audit_action(enum ax_incident_op op)
{
	switch (op) {
	case AX_INCIDENT_ACK:
		return "incident.acknowledged";
	case AX_INCIDENT_RESOLVE:
		return "incident.resolved";
	case AX_INCIDENT_NOTE:
		return "incident.note";
	}
	return "?";
}

/* After COMMIT: the event in reason's shape (reason_stage_event) plus the
 * incident_events id. */
static int publish(struct redisContext *redis, const char *tenant, const char *id,
                   const char *stage, const char *trace, long long event_id, const cJSON *output)
{
	cJSON *ev = cJSON_CreateObject();
	char err[256], *text;
	ax_err rc;

	if (ev == NULL)
		abort();
	cJSON_AddStringToObject(ev, "type", "incident.stage");
	cJSON_AddStringToObject(ev, "tenant", tenant);
	cJSON_AddStringToObject(ev, "incident_id", id);
	cJSON_AddStringToObject(ev, "stage", stage);
	ax_json_add_str(ev, "trace", trace, 1);
	cJSON_AddNumberToObject(ev, "event_id", (double)event_id);
	cJSON_AddItemToObject(ev, "output", cJSON_Duplicate(output, 1));
	text = ax_json_print(ev);
	cJSON_Delete(ev);
	rc = ax_publish_event(redis, tenant, text, err, sizeof(err));
	free(text);
	return rc == AX_OK;
}

ax_err ax_incident_apply(struct ax_pg *pg, struct redisContext *redis, const char *tenant,
                         const char *id, enum ax_incident_op op, const char *actor,
                         const char *text, const char *trace, struct ax_incident_result *out,
                         char *errbuf, size_t errlen)
{
	const char *stage = ax_incident_op_stage(op);
	char subject[64], event_id[32], note_id[AX_UUID_LEN];
	char *output_text = NULL, *detail_text = NULL;
	cJSON *output = NULL, *detail;
	PGresult *res;
	ax_err rc;

	memset(out, 0, sizeof(*out));
	if (!ax_uuid_valid(id))
		return AX_ENOTFOUND;
	if (actor == NULL || actor[0] == '\0' || strlen(actor) > AX_INCIDENT_ACTOR_MAX) {
		ax_errfmt(errbuf, errlen, "actor: 1..%d bytes", AX_INCIDENT_ACTOR_MAX);
		return AX_EINVAL;
	}
	if (op == AX_INCIDENT_NOTE &&
	    (text == NULL || text[0] == '\0' || strlen(text) > AX_INCIDENT_NOTE_MAX)) {
		ax_errfmt(errbuf, errlen, "text: a note needs 1..%d bytes", AX_INCIDENT_NOTE_MAX);
		return AX_EINVAL;
	}
	if (text != NULL && strlen(text) > AX_INCIDENT_NOTE_MAX) {
		ax_errfmt(errbuf, errlen, "comment: at most %d bytes", AX_INCIDENT_NOTE_MAX);
		return AX_EINVAL;
	}
	rc = ax_pg_begin(pg, tenant, errbuf, errlen);
	if (rc != AX_OK)
		return rc == AX_EINVAL ? AX_EINVAL : AX_EIO;
	{
		const char *p[1] = {id};

		res = ax_pg_exec(pg, errbuf, errlen, Q_LOCK, 1, p);
	}
	if (res == NULL)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		ax_pg_rollback(pg);
		ax_errfmt(errbuf, errlen, "no incident %s", id);
		return AX_ENOTFOUND;
	}
	snprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, 0, 0));
	snprintf(out->at, sizeof(out->at), "%s", PQgetvalue(res, 0, 2));
	if (op != AX_INCIDENT_NOTE && strcmp(out->status, "resolved") == 0) {
		snprintf(out->conflict, sizeof(out->conflict), "already_resolved");
		ax_errfmt(errbuf, errlen, "incident %s is already resolved", id);
	} else if (op == AX_INCIDENT_ACK && PQgetvalue(res, 0, 1)[0] != '\0') {
		snprintf(out->conflict, sizeof(out->conflict), "already_acknowledged");
		snprintf(out->by, sizeof(out->by), "%s", PQgetvalue(res, 0, 1));
		ax_errfmt(errbuf, errlen, "incident %s was already acknowledged by %s", id,
		          out->by);
	}
	PQclear(res);
	if (out->conflict[0] != '\0') {
		ax_pg_rollback(pg);
		return AX_EDUP;
	}

	output = cJSON_CreateObject();
	if (output == NULL)
		abort();
	cJSON_AddStringToObject(output, "by", actor);
	if (op == AX_INCIDENT_NOTE) {
		ax_uuid7(note_id);
		cJSON_AddStringToObject(output, "note_id", note_id);
		cJSON_AddStringToObject(output, "text", text);
	} else {
		ax_json_add_str(output, "comment", text, 0);
	}
	output_text = ax_json_print(output);
	{
		const char *p_id[2] = {id, actor};
		const char *p_ev[4] = {id, stage, output_text, trace};
		const char *p_note[6] = {note_id, id, actor, text, trace, output_text};
		struct ax_pg_stmt st[2];
		PGresult *r[2] = {NULL, NULL};
		int n = 0, ev_at, i;

		if (op == AX_INCIDENT_ACK)
			st[n++] = (struct ax_pg_stmt){Q_ACK, 2, p_id};
		else if (op == AX_INCIDENT_RESOLVE)
			st[n++] = (struct ax_pg_stmt){Q_RESOLVE, 1, p_id};
		ev_at = n;
		if (op == AX_INCIDENT_NOTE)
			st[n++] = (struct ax_pg_stmt){Q_NOTE, 6, p_note};
		else
			st[n++] = (struct ax_pg_stmt){Q_EVENT, 4, p_ev};
		if (ax_pg_pipeline(pg, st, n, r, errbuf, errlen) != AX_OK)
			goto fail;
		out->event_id = strtoll(PQgetvalue(r[ev_at], 0, 0), NULL, 10);
		for (i = 0; i < n; i++)
			PQclear(r[i]);
	}
	if (op == AX_INCIDENT_RESOLVE)
		snprintf(out->status, sizeof(out->status), "resolved");
	if (op == AX_INCIDENT_NOTE)
		snprintf(out->note_id, sizeof(out->note_id), "%s", note_id);

	snprintf(subject, sizeof(subject), "incident:%s", id);
	snprintf(event_id, sizeof(event_id), "%lld", out->event_id);
	detail = cJSON_Duplicate(output, 1);
	if (detail == NULL)
		abort();
	cJSON_DeleteItemFromObjectCaseSensitive(detail, "text"); /* the note is in its table */
	cJSON_AddNumberToObject(detail, "event_id", (double)out->event_id);
	detail_text = ax_json_print(detail);
	cJSON_Delete(detail);
	{
		const char *p[5] = {actor, audit_action(op), subject, detail_text, trace};

		res = ax_pg_exec(pg, errbuf, errlen, Q_AUDIT, 5, p);
	}
	if (res == NULL)
		goto fail;
	PQclear(res);
	if (ax_pg_commit(pg, errbuf, errlen) != AX_OK)
		goto fail_committed;
	if (redis != NULL)
		out->published = publish(redis, tenant, id, stage, trace, out->event_id, output);
	cJSON_Delete(output);
	free(output_text);
	free(detail_text);
	return AX_OK;
fail:
	ax_pg_rollback(pg);
fail_committed:
	cJSON_Delete(output);
	free(output_text);
	free(detail_text);
	return AX_EIO;
}
