/* newrelic.c - New Relic: workflow notifications with the default webhook
 * template ("newrelic") and the legacy alert notification channel
 * ("newrelic-legacy").
 *
 * newrelic (FORMATS.md section 5a).  One issue per request (an issue may
 * aggregate several incidents; it is still one alert here):
 *   name        title (required)
 *   status      state: ACTIVATED, CREATED, ACKNOWLEDGED -> firing,
 *               CLOSED -> resolved (case-insensitive); others refused
 *   severity    priority (CRITICAL, HIGH, MEDIUM, LOW) through
 *               ax_severity_parse, else warning
 *   service     impactedEntities[0];  host: none in the default template
 *   labels      policy (alertPolicyNames), condition
 *               (alertConditionNames), workflow (workflowName), then tags
 *               when a customised template adds them
 *   annotations impacted_entities, total_incidents, trigger, sources
 *   starts_at   createdAt (epoch ms);  ends_at: updatedAt when CLOSED
 *   source_ref  id = id (the issue id), url = issueUrl
 *   fingerprint source + issue_id: New Relic's id of the issue, the same in
 *               its ACTIVATED and CLOSED notifications
 *   raw         the payload
 * Detection (row 19): issueUrl + state + alertPolicyNames[] or
 * alertConditionNames[].  No test payload is documented.
 *
 * newrelic-legacy (section 5b).  One incident per request:
 *   name        condition_name (required);  summary: "policy_name:
 *               condition_name";  description: details
 *   status      current_state: open, acknowledged -> firing, closed ->
 *               resolved; others refused
 *   severity    severity (CRITICAL, WARNING, INFO) through
 *               ax_severity_parse, else warning
 *   service     targets[0].name, or host when targets[0].type says Host or
 *               Server (infrastructure conditions target hosts)
 *   labels      targets[0].labels, then policy (policy_name)
 *   annotations runbook_url, violation_chart_url
 *   starts_at   timestamp (epoch ms) while open; ends_at: timestamp when
 *               closed
 *   source_ref  id = incident_id, url = incident_url
 *   fingerprint source + account_id + incident_id (incident ids are
 *               numbered per account)
 *   raw         the payload
 * The channel's "Send a test notification" sends incident_id 0 ("New Relic
 * Alert - Test Condition"): a test notification.  Detection (row 20):
 * current_state + condition_name + incident_id. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

/* The strings of arr joined with ", ", or NULL when there is none. */
static char *join_strings(const cJSON *arr)
{
	const cJSON *e;
	char *out = NULL, *t;

	if (!cJSON_IsArray(arr))
		return NULL;
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsString(e) || e->valuestring == NULL || e->valuestring[0] == '\0')
			continue;
		if (out == NULL) {
			out = ax_xstrdup(e->valuestring);
		} else {
			t = ax_xasprintf("%s, %s", out, e->valuestring);
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

/* -1 with errbuf set when obj[key] is present, not null and not an array. */
static int want_array(const cJSON *obj, const char *key, char *errbuf, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsArray(v))
		return ax_errfmt(errbuf, errlen, "\"%s\" is not an array", key);
	return 0;
}

/* -1 with errbuf set when obj[key] is present and neither a number nor a
 * string (epoch ms may come as either). */
static int want_time(const cJSON *obj, const char *key, char *errbuf, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsNumber(v) && !cJSON_IsString(v))
		return ax_errfmt(errbuf, errlen, "\"%s\" is not a timestamp", key);
	return 0;
}

/* ------------------------------------------------------------ workflows */

#define SOURCE "newrelic"

static int nr_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;

	(void)d;
	return cJSON_IsObject(doc) && ax_json_str(doc, "issueUrl") != NULL &&
	       ax_json_str(doc, "state") != NULL &&
	       (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "alertPolicyNames")) ||
		cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "alertConditionNames")));
}

static ax_err nr_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *v, *ents;
	const char *title, *state, *prio;
	enum ax_status st;
	struct ax_signal *s;
	char *id;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "title");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"title\" is missing or not a string");
		return AX_EPROTO;
	}
	title = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(doc, "state");
	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		ax_errfmt(errbuf, errlen, "\"state\" is missing or not a string");
		return AX_EPROTO;
	}
	state = v->valuestring;
	if (strcasecmp(state, "ACTIVATED") == 0 || strcasecmp(state, "CREATED") == 0 ||
	    strcasecmp(state, "ACKNOWLEDGED") == 0) {
		st = AX_STATUS_FIRING;
	} else if (strcasecmp(state, "CLOSED") == 0) {
		st = AX_STATUS_RESOLVED;
	} else {
		ax_errfmt(errbuf, errlen,
			  "\"state\" \"%.32s\" is not one of ACTIVATED, CREATED, ACKNOWLEDGED, "
			  "CLOSED", state);
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "id");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"id\" (the issue id) is missing or not a string");
		return AX_EPROTO;
	}
	if (want_array(doc, "impactedEntities", errbuf, errlen) ||
	    want_array(doc, "alertPolicyNames", errbuf, errlen) ||
	    want_array(doc, "alertConditionNames", errbuf, errlen) ||
	    want_time(doc, "createdAt", errbuf, errlen) ||
	    want_time(doc, "updatedAt", errbuf, errlen))
		return AX_EPROTO;
	id = v->valuestring;

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = ax_xstrdup(title);
	s->summary = ax_xstrdup(title);
	prio = ax_json_str(doc, "priority");
	if (prio == NULL || ax_severity_parse(prio, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	ents = cJSON_GetObjectItemCaseSensitive(doc, "impactedEntities");
	v = cJSON_GetArrayItem(ents, 0);
	if (cJSON_IsString(v) && v->valuestring != NULL && v->valuestring[0] != '\0')
		s->service = ax_xstrdup(v->valuestring);
	add_owned(s->labels, "policy",
		  join_strings(cJSON_GetObjectItemCaseSensitive(doc, "alertPolicyNames")));
	add_owned(s->labels, "condition",
		  join_strings(cJSON_GetObjectItemCaseSensitive(doc, "alertConditionNames")));
	ax_json_add_str(s->labels, "workflow", ax_json_str(doc, "workflowName"), 0);
	ingest_copy_tags(s->labels, cJSON_GetObjectItemCaseSensitive(doc, "tags"));
	add_owned(s->annotations, "impacted_entities", join_strings(ents));
	add_owned(s->annotations, "total_incidents", ingest_dup_scalar(doc, "totalIncidents"));
	ax_json_add_str(s->annotations, "trigger", ax_json_str(doc, "trigger"), 0);
	add_owned(s->annotations, "sources",
		  join_strings(cJSON_GetObjectItemCaseSensitive(doc, "sources")));
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(doc, "createdAt"));
	if (st == AX_STATUS_RESOLVED)
		s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(doc, "updatedAt"));
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(id);
	s->source_url = ingest_dup_str(doc, "issueUrl");
	{
		const char *kv[] = { "issue_id", id, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	s->raw = ingest_dup_json(doc);
	return AX_OK;
}

const struct ingest_driver ingest_driver_newrelic = {
	.name = SOURCE,
	.title = "New Relic workflow webhook",
	.detect = nr_detect,
	.normalize = nr_normalize,
};

#undef SOURCE

/* ------------------------------------------------------------ legacy channel */

#define SOURCE "newrelic-legacy"

static int scalar_present(const cJSON *v)
{
	return cJSON_IsNumber(v) || (cJSON_IsString(v) && v->valuestring != NULL &&
				     v->valuestring[0] != '\0');
}

static int nl_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;

	(void)d;
	return cJSON_IsObject(doc) && ax_json_str(doc, "current_state") != NULL &&
	       ax_json_str(doc, "condition_name") != NULL &&
	       scalar_present(cJSON_GetObjectItemCaseSensitive(doc, "incident_id"));
}

static int host_target(const char *type)
{
	return type != NULL && (strcasecmp(type, "Host") == 0 || strcasecmp(type, "Server") == 0);
}

static ax_err nl_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *v, *target, *targets;
	const char *cond, *state, *sev, *policy, *tname;
	enum ax_status st;
	struct ax_signal *s;
	char *id, *account, *when;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "incident_id");
	if (!scalar_present(v)) {
		ax_errfmt(errbuf, errlen, "\"incident_id\" is missing or not a number");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "condition_name");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"condition_name\" is missing or not a string");
		return AX_EPROTO;
	}
	cond = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(doc, "current_state");
	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		ax_errfmt(errbuf, errlen, "\"current_state\" is missing or not a string");
		return AX_EPROTO;
	}
	state = v->valuestring;
	if (strcasecmp(state, "open") == 0 || strcasecmp(state, "acknowledged") == 0) {
		st = AX_STATUS_FIRING;
	} else if (strcasecmp(state, "closed") == 0) {
		st = AX_STATUS_RESOLVED;
	} else {
		ax_errfmt(errbuf, errlen,
			  "\"current_state\" \"%.32s\" is not one of open, acknowledged, closed",
			  state);
		return AX_EPROTO;
	}
	if (want_array(doc, "targets", errbuf, errlen) ||
	    want_time(doc, "timestamp", errbuf, errlen))
		return AX_EPROTO;
	id = ingest_dup_scalar(doc, "incident_id");
	if (strcmp(id, "0") == 0) {
		free(id);
		out->ignored = "test notification";
		return AX_OK;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = ax_xstrdup(cond);
	policy = ax_json_str(doc, "policy_name");
	s->summary = policy != NULL ? ax_xasprintf("%s: %s", policy, cond) : ax_xstrdup(cond);
	s->description = ingest_dup_str(doc, "details");
	sev = ax_json_str(doc, "severity");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	targets = cJSON_GetObjectItemCaseSensitive(doc, "targets");
	target = cJSON_GetArrayItem(targets, 0);
	tname = ax_json_str(target, "name");
	if (host_target(ax_json_str(target, "type")))
		s->host = ax_xstrdup(tname);
	else
		s->service = ax_xstrdup(tname);
	ingest_copy_tags(s->labels, cJSON_GetObjectItemCaseSensitive(target, "labels"));
	ax_json_add_str(s->labels, "policy", policy, 0);
	ax_json_add_str(s->annotations, "runbook_url", ax_json_str(doc, "runbook_url"), 0);
	ax_json_add_str(s->annotations, "violation_chart_url",
			ax_json_str(doc, "violation_chart_url"), 0);
	when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(doc, "timestamp"));
	if (st == AX_STATUS_RESOLVED)
		s->ends_at = when;
	else
		s->starts_at = when;
	s->source = ax_xstrdup(SOURCE);
	s->source_id = id;
	s->source_url = ingest_dup_str(doc, "incident_url");
	account = ingest_dup_scalar(doc, "account_id");
	{
		const char *kv[] = { "account_id", account, "incident_id", id, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	free(account);
	s->raw = ingest_dup_json(doc);
	return AX_OK;
}

const struct ingest_driver ingest_driver_newrelic_legacy = {
	.name = SOURCE,
	.title = "New Relic legacy alert channel",
	.detect = nl_detect,
	.normalize = nl_normalize,
};
