/* opsgenie.c - Opsgenie outgoing webhook integration (FORMATS.md
 * section 6).
 *
 * One alert action per request: {action, alert{alertId, message, tags,
 * tinyId, entity, alias, createdAt, updatedAt, description, details,
 * priority, source, ...}, source{name, type}, integrationId,
 * integrationName, integrationType}.
 *   name        alert.message (required)
 *   status      action Close or Delete -> resolved; every other action
 *               (Create, Acknowledge, AddNote, Escalate, ...) -> firing:
 *               the alert is still open, and an update of one we already
 *               hold is the same fingerprint with the same status, which
 *               dedup absorbs
 *   severity    alert.priority (P1..P5) through ax_severity_parse, else
 *               warning (older payloads carry no priority)
 *   summary     alert.message;  description: alert.description (sent only
 *               for Create and custom actions, when enabled)
 *   service     alert.entity;  host: details.host | hostname
 *   labels      alert.tags (bare words become k=""), then alert.details
 *               (key/value custom properties)
 *   namespace   details.namespace
 *   annotations action, tiny_id, team, alert_source (alert.source)
 *   starts_at   alert.createdAt (epoch ms);  ends_at: alert.updatedAt
 *               (epoch ns, beyond 2^53: cJSON's double keeps it to well
 *               under a millisecond) on Close/Delete
 *   source_ref  id = alert.alertId;  url: none in the payload
 *   fingerprint source + alias: Opsgenie's dedup key, which every action on
 *               the alert repeats; alertId when a payload has no alias
 *   raw         the payload
 * No test notification is documented.  Detection (row 18): action +
 * alert.alertId + integrationName. */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "opsgenie"

static int og_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;
	const cJSON *alert = cJSON_GetObjectItemCaseSensitive(doc, "alert");

	(void)d;
	return cJSON_IsObject(doc) && ax_json_str(doc, "action") != NULL && cJSON_IsObject(alert) &&
	       ax_json_str(alert, "alertId") != NULL &&
	       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "integrationName"));
}

static ax_err og_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	static const char *const host_keys[] = { "host", "hostname", NULL };
	const cJSON *doc = in->doc;
	const cJSON *alert, *v, *tags, *details;
	const char *action, *id, *msg, *prio, *alias;
	struct ax_signal *s;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "action");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"action\" is missing or not a string");
		return AX_EPROTO;
	}
	action = v->valuestring;
	alert = cJSON_GetObjectItemCaseSensitive(doc, "alert");
	if (!cJSON_IsObject(alert)) {
		ax_errfmt(errbuf, errlen, "\"alert\" is missing or not an object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(alert, "alertId");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "alert.alertId is missing or not a string");
		return AX_EPROTO;
	}
	id = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(alert, "message");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "alert.message is missing or not a string");
		return AX_EPROTO;
	}
	msg = v->valuestring;
	tags = cJSON_GetObjectItemCaseSensitive(alert, "tags");
	if (tags != NULL && !cJSON_IsNull(tags) && !cJSON_IsArray(tags)) {
		ax_errfmt(errbuf, errlen, "alert.tags is not an array");
		return AX_EPROTO;
	}
	details = cJSON_GetObjectItemCaseSensitive(alert, "details");
	if (details != NULL && !cJSON_IsNull(details) && !cJSON_IsObject(details)) {
		ax_errfmt(errbuf, errlen, "alert.details is not an object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(alert, "createdAt");
	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsNumber(v)) {
		ax_errfmt(errbuf, errlen, "alert.createdAt is not a number");
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	if (strcmp(action, "Close") == 0 || strcmp(action, "Delete") == 0)
		s->status = AX_STATUS_RESOLVED;
	s->name = ax_xstrdup(msg);
	s->summary = ax_xstrdup(msg);
	s->description = ingest_dup_str(alert, "description");
	prio = ax_json_str(alert, "priority");
	if (prio == NULL || ax_severity_parse(prio, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->service = ingest_dup_str(alert, "entity");
	s->host = ax_xstrdup(ingest_first_str(details, host_keys));
	ingest_copy_tags(s->labels, tags);
	ingest_copy_strmap(s->labels, details);
	s->namespace_ = ingest_dup_str(details, "namespace");
	ax_json_add_str(s->annotations, "action", action, 0);
	ax_json_add_str(s->annotations, "tiny_id", ax_json_str(alert, "tinyId"), 0);
	ax_json_add_str(s->annotations, "team", ax_json_str(alert, "team"), 0);
	ax_json_add_str(s->annotations, "alert_source", ax_json_str(alert, "source"), 0);
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(alert, "createdAt"));
	if (s->status == AX_STATUS_RESOLVED)
		s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(alert, "updatedAt"));
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(id);
	alias = ax_json_str(alert, "alias");
	if (alias != NULL) {
		const char *kv[] = { "alias", alias, NULL };

		ingest_fingerprint_kv(s, kv);
	} else {
		const char *kv[] = { "alert_id", id, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	s->raw = ingest_dup_json(doc);
	return AX_OK;
}

const struct ingest_driver ingest_driver_opsgenie = {
	.name = SOURCE,
	.title = "Opsgenie outgoing webhook",
	.detect = og_detect,
	.normalize = og_normalize,
};
