/* pagerduty.c - PagerDuty: V3 webhooks sent by PagerDuty ("pagerduty") and
 * Events API v2 bodies sent to it by monitoring tools ("pagerduty-events",
 * for senders pointed at Alexus as if it were PagerDuty).
 *
 * pagerduty (FORMATS.md section 3a).  Exactly one event per request,
 * {"event": {id, event_type, resource_type, occurred_at, agent, client,
 * data}}.  Incident events whose data is the incident become a signal:
 *   name        data.title (required)
 *   status      resolved for incident.resolved (or data.status resolved),
 *               firing for every other incident.* event: acknowledged,
 *               escalated, reassigned... are updates of an open incident,
 *               which dedup absorbs (same fingerprint, same status)
 *   severity    data.priority.summary (P1..P5) through ax_severity_parse;
 *               without a priority (it is nullable) data.urgency: high ->
 *               high, low -> warning; else warning
 *   summary     data.title
 *   service     data.service.summary;  host: none in PagerDuty
 *   labels      service_id, urgency, priority, team (teams[].summary,
 *               comma-joined), escalation_policy, incident_type
 *   annotations event_type, incident_number, incident_key, assignees
 *   starts_at   data.created_at;  ends_at: event.occurred_at when resolved
 *   source_ref  id = data.id, url = data.html_url
 *   fingerprint source + incident_id (data.id): PagerDuty's own id of the
 *               incident, the same in every event about it
 *   raw         the payload
 * pagey.ping (the subscription's "Send test event") is a test
 * notification.  Other events (service.*, and incident.* events whose data
 * is a note, responder or status update rather than the incident) carry no
 * alert and are answered as ignored.  Detection: the X-PagerDuty-Signature
 * header, or event.{event_type, resource_type, occurred_at} strings.
 *
 * pagerduty-events (section 3b).  One event per request, {routing_key,
 * event_action, dedup_key, payload{summary, source, severity, timestamp,
 * component, group, class, custom_details}, client, client_url, links}:
 *   status      trigger -> firing, resolve -> resolved.  acknowledge is
 *               answered as ignored: a responder took the alert but it
 *               still fires (the firing signal already stands), and the
 *               body carries only routing_key, dedup_key and event_action
 *   name        payload.summary, else (a resolve carries no payload)
 *               dedup_key
 *   severity    payload.severity (critical | error | warning | info, as
 *               PagerDuty requires) through ax_severity_parse: error ->
 *               high; absent on a resolve -> warning
 *   host        payload.source;  service: payload.component
 *   labels      payload.custom_details (scalars), group, class
 *   namespace   custom_details.namespace
 *   starts_at   payload.timestamp
 *   source_ref  id = dedup_key, url = client_url
 *   fingerprint source + dedup_key, PagerDuty's identity of an alert; a
 *               trigger without one (PagerDuty would mint one per event,
 *               which no resolve could ever name) falls back to source +
 *               summary + source host + component
 *   raw         the payload without routing_key, which is a credential
 * Detection: routing_key and event_action strings. */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

/* The "summary" of each reference object in arr, joined with ", ", or
 * NULL when there is none. */
static char *join_summaries(const cJSON *arr)
{
	const cJSON *e;
	char *out = NULL, *t;
	const char *v;

	if (!cJSON_IsArray(arr))
		return NULL;
	cJSON_ArrayForEach(e, arr) {
		if ((v = ax_json_str(e, "summary")) == NULL)
			continue;
		if (out == NULL) {
			out = ax_xstrdup(v);
		} else {
			t = ax_xasprintf("%s, %s", out, v);
			free(out);
			out = t;
		}
	}
	return out;
}

static void add_owned(cJSON *obj, const char *key, char *value)
{
	ax_json_add_str(obj, key, value, 0);
	free(value);
}

/* ------------------------------------------------------------ v3 webhooks */

#define SOURCE "pagerduty"

static int pd_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *ev;

	(void)d;
	if (!cJSON_IsObject(in->doc))
		return 0;
	if (ingest_header(in, "X-PagerDuty-Signature") != NULL)
		return 1;
	ev = cJSON_GetObjectItemCaseSensitive(in->doc, "event");
	return cJSON_IsObject(ev) && ax_json_str(ev, "event_type") != NULL &&
	       ax_json_str(ev, "resource_type") != NULL && ax_json_str(ev, "occurred_at") != NULL;
}

static ax_err pd_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *ev, *data, *v;
	const char *type, *id, *title, *dtype, *prio, *urgency, *status;
	struct ax_signal *s;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	ev = cJSON_GetObjectItemCaseSensitive(doc, "event");
	if (!cJSON_IsObject(ev)) {
		ax_errfmt(errbuf, errlen, "payload has no \"event\" object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(ev, "event_type");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "event.event_type is missing or not a string");
		return AX_EPROTO;
	}
	type = v->valuestring;
	if (strcmp(type, "pagey.ping") == 0) {
		out->ignored = "test notification";
		return AX_OK;
	}
	data = cJSON_GetObjectItemCaseSensitive(ev, "data");
	if (!cJSON_IsObject(data)) {
		ax_errfmt(errbuf, errlen, "event.data is missing or not an object");
		return AX_EPROTO;
	}
	dtype = ax_json_str(data, "type");
	if (strncmp(type, "incident.", 9) != 0 ||
	    (dtype != NULL && strcmp(dtype, "incident") != 0)) {
		out->ignored = "PagerDuty event does not describe an incident";
		return AX_OK;
	}
	v = cJSON_GetObjectItemCaseSensitive(data, "id");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "event.data.id is missing or not a string");
		return AX_EPROTO;
	}
	id = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(data, "title");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "event.data.title is missing or not a string");
		return AX_EPROTO;
	}
	title = v->valuestring;

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	status = ax_json_str(data, "status");
	if (strcmp(type, "incident.resolved") == 0 ||
	    (status != NULL && strcmp(status, "resolved") == 0))
		s->status = AX_STATUS_RESOLVED;
	s->name = ax_xstrdup(title);
	s->summary = ax_xstrdup(title);
	prio = ax_json_str(cJSON_GetObjectItemCaseSensitive(data, "priority"), "summary");
	urgency = ax_json_str(data, "urgency");
	if (prio == NULL || ax_severity_parse(prio, &s->severity) != 0) {
		if (urgency != NULL && strcmp(urgency, "high") == 0)
			s->severity = AX_SEV_HIGH;
		else
			s->severity = AX_SEV_WARNING;
	}
	v = cJSON_GetObjectItemCaseSensitive(data, "service");
	s->service = ingest_dup_str(v, "summary");
	ax_json_add_str(s->labels, "service_id", ax_json_str(v, "id"), 0);
	ax_json_add_str(s->labels, "urgency", urgency, 0);
	ax_json_add_str(s->labels, "priority", prio, 0);
	add_owned(s->labels, "team",
		  join_summaries(cJSON_GetObjectItemCaseSensitive(data, "teams")));
	v = cJSON_GetObjectItemCaseSensitive(data, "escalation_policy");
	ax_json_add_str(s->labels, "escalation_policy", ax_json_str(v, "summary"), 0);
	v = cJSON_GetObjectItemCaseSensitive(data, "incident_type");
	ax_json_add_str(s->labels, "incident_type", ax_json_str(v, "name"), 0);
	ax_json_add_str(s->annotations, "event_type", type, 0);
	add_owned(s->annotations, "incident_number", ingest_dup_scalar(data, "number"));
	ax_json_add_str(s->annotations, "incident_key", ax_json_str(data, "incident_key"), 0);
	add_owned(s->annotations, "assignees",
		  join_summaries(cJSON_GetObjectItemCaseSensitive(data, "assignees")));
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(data, "created_at"));
	if (s->status == AX_STATUS_RESOLVED)
		s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(ev, "occurred_at"));
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(id);
	s->source_url = ingest_dup_str(data, "html_url");
	{
		const char *kv[] = { "incident_id", id, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	s->raw = ingest_dup_json(doc);
	return AX_OK;
}

const struct ingest_driver ingest_driver_pagerduty = {
	.name = SOURCE,
	.title = "PagerDuty (V3 webhooks)",
	.detect = pd_detect,
	.normalize = pd_normalize,
};

#undef SOURCE

/* ------------------------------------------------------------ Events API v2 */

#define SOURCE "pagerduty-events"

static int pe_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	(void)d;
	return cJSON_IsObject(in->doc) &&
	       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(in->doc, "routing_key")) &&
	       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(in->doc, "event_action"));
}

/* obj[key] as a non-empty string; -1 (errbuf set) when present but of
 * another type or empty, or when absent and required. */
static int get_str(const cJSON *obj, const char *key, const char *what, int required,
		   const char **out, char *errbuf, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v)) {
		if (required)
			return ax_errfmt(errbuf, errlen, "%s is missing", what);
		return 0;
	}
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0')
		return ax_errfmt(errbuf, errlen, "%s is not a non-empty string", what);
	*out = v->valuestring;
	return 0;
}

static ax_err pe_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *payload, *details;
	const char *action, *key, *rk, *summary = NULL, *src = NULL, *sev = NULL, *comp = NULL;
	enum ax_status st;
	struct ax_signal *s;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	if (get_str(doc, "routing_key", "\"routing_key\"", 1, &rk, errbuf, errlen) ||
	    get_str(doc, "event_action", "\"event_action\"", 1, &action, errbuf, errlen) ||
	    get_str(doc, "dedup_key", "\"dedup_key\"", 0, &key, errbuf, errlen))
		return AX_EPROTO;
	if (strcmp(action, "trigger") == 0) {
		st = AX_STATUS_FIRING;
	} else if (strcmp(action, "resolve") == 0) {
		st = AX_STATUS_RESOLVED;
	} else if (strcmp(action, "acknowledge") == 0) {
		if (key == NULL) {
			ax_errfmt(errbuf, errlen, "\"dedup_key\" is required with acknowledge");
			return AX_EPROTO;
		}
		out->ignored = "acknowledge does not change whether the alert fires";
		return AX_OK;
	} else {
		ax_errfmt(errbuf, errlen,
			  "\"event_action\" must be trigger, acknowledge or resolve, not \"%.32s\"",
			  action);
		return AX_EPROTO;
	}
	payload = cJSON_GetObjectItemCaseSensitive(doc, "payload");
	if (st == AX_STATUS_FIRING || (payload != NULL && !cJSON_IsNull(payload))) {
		if (!cJSON_IsObject(payload)) {
			ax_errfmt(errbuf, errlen, "\"payload\" is missing or not an object");
			return AX_EPROTO;
		}
		if (get_str(payload, "summary", "payload.summary", st == AX_STATUS_FIRING, &summary,
			    errbuf, errlen) ||
		    get_str(payload, "source", "payload.source", st == AX_STATUS_FIRING, &src,
			    errbuf, errlen) ||
		    get_str(payload, "severity", "payload.severity", st == AX_STATUS_FIRING, &sev,
			    errbuf, errlen) ||
		    get_str(payload, "component", "payload.component", 0, &comp, errbuf, errlen))
			return AX_EPROTO;
		if (sev != NULL && strcmp(sev, "critical") != 0 && strcmp(sev, "error") != 0 &&
		    strcmp(sev, "warning") != 0 && strcmp(sev, "info") != 0) {
			ax_errfmt(errbuf, errlen,
				  "payload.severity must be critical, error, warning or info");
			return AX_EPROTO;
		}
	}
	if (st == AX_STATUS_RESOLVED && key == NULL) {
		ax_errfmt(errbuf, errlen, "\"dedup_key\" is required with resolve");
		return AX_EPROTO;
	}
	details = cJSON_GetObjectItemCaseSensitive(payload, "custom_details");

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = ax_xstrdup(summary != NULL ? summary : key);
	s->summary = ax_xstrdup(summary);
	if (sev != NULL)
		(void)ax_severity_parse(sev, &s->severity);
	s->host = ax_xstrdup(src);
	s->service = ax_xstrdup(comp);
	ingest_copy_strmap(s->labels, details);
	ax_json_add_str(s->labels, "group", ax_json_str(payload, "group"), 0);
	ax_json_add_str(s->labels, "class", ax_json_str(payload, "class"), 0);
	s->namespace_ = ingest_dup_str(details, "namespace");
	ax_json_add_str(s->annotations, "client", ax_json_str(doc, "client"), 0);
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(payload, "timestamp"));
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(key);
	s->source_url = ingest_dup_str(doc, "client_url");
	if (key != NULL) {
		const char *kv[] = { "dedup_key", key, NULL };

		ingest_fingerprint_kv(s, kv);
	} else {
		const char *kv[] = { "component", comp, "source", src, "summary", summary, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	s->raw = ingest_dup_json(doc);
	cJSON_DeleteItemFromObjectCaseSensitive(s->raw, "routing_key");
	return AX_OK;
}

const struct ingest_driver ingest_driver_pagerduty_events = {
	.name = SOURCE,
	.title = "PagerDuty Events API v2 (senders to PagerDuty)",
	.detect = pe_detect,
	.normalize = pe_normalize,
};
