/* gcp.c - Google Cloud Monitoring webhook notification channel, schema
 * version 1.2 (1.1 is read the same way; FORMATS.md section 10).
 *
 * One incident per request, {incident{...}, version}.  The "Send test
 * notification" button posts version "test" with dummy values: AX_OK, no
 * signal, out->ignored.
 * Mapping (incident.*):
 *   name        policy_name, else condition_name (one is required)
 *   status      state: open -> firing, closed -> resolved (any case)
 *   severity    severity (Critical, Error, Warning, "No severity"; the case
 *               varies) through ax_severity_parse; unknown -> warning
 *   summary     summary;  description: documentation.content (or
 *               documentation when it is a plain string)
 *   labels      incident_id, scoping_project_id, resource_type,
 *               metric_type, condition_name, then policy_user_labels,
 *               metadata.user_labels, metadata.system_labels,
 *               metric.labels, resource.labels (first value of a key wins)
 *   service     resource.labels.service_name | module_id |
 *               function_name | container_name, else the label "service"
 *               (user labels), else resource_display_name
 *   host        resource.labels.instance_id | node_name | pod_name |
 *               host
 *   namespace   resource.labels.namespace_name | namespace
 *   starts_at   started_at, ends_at: ended_at (epoch seconds; ended_at is
 *               null while open)
 *   source_ref  id = incident_id, url = url
 *   fingerprint over incident_id: Google gives each violating time series
 *               its own incident and keeps its id from open to closed
 *   raw         the whole payload
 *
 * Detection: incident is an object with an incident_id, and version is
 * "1.1", "1.2" or "test", or incident.scoping_project_id is present. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "gcp-monitoring"

static const char *const versions[] = { "1.1", "1.2", "test", NULL };
static const char *const ident[] = { "incident_id", NULL };
static const char *const service_keys[] = { "service_name", "module_id", "function_name",
					    "container_name", NULL };
static const char *const host_keys[] = { "instance_id", "node_name", "pod_name", "host", NULL };
static const char *const ns_keys[] = { "namespace_name", "namespace", NULL };

static int gcp_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(in->doc, "incident");
	const char *version = ax_json_str(in->doc, "version");
	const cJSON *id;
	size_t i;

	(void)d;
	if (!cJSON_IsObject(inc))
		return 0;
	id = cJSON_GetObjectItemCaseSensitive(inc, "incident_id");
	if (!cJSON_IsString(id) && !cJSON_IsNumber(id))
		return 0;
	if (cJSON_GetObjectItemCaseSensitive(inc, "scoping_project_id") != NULL)
		return 1;
	for (i = 0; version != NULL && versions[i] != NULL; i++) {
		if (strcmp(version, versions[i]) == 0)
			return 1;
	}
	return 0;
}

static ax_err gcp_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			    struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc, *inc, *res_labels, *doc_v;
	const char *name, *state, *sev, *version;
	struct ax_signal *s;
	char *id;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	version = ax_json_str(doc, "version");
	if (version != NULL && strcmp(version, "test") == 0) {
		out->ignored = "Google Cloud Monitoring test notification";
		return AX_OK;
	}
	inc = cJSON_GetObjectItemCaseSensitive(doc, "incident");
	if (!cJSON_IsObject(inc)) {
		ax_errfmt(errbuf, errlen, "payload has no \"incident\" object");
		return AX_EPROTO;
	}
	name = ax_json_str(inc, "policy_name");
	if (name == NULL)
		name = ax_json_str(inc, "condition_name");
	if (name == NULL) {
		ax_errfmt(errbuf, errlen, "incident has neither policy_name nor condition_name");
		return AX_EPROTO;
	}
	state = ax_json_str(inc, "state");
	if (state == NULL || (strcasecmp(state, "open") != 0 && strcasecmp(state, "closed") != 0)) {
		ax_errfmt(errbuf, errlen, "incident.state must be \"open\" or \"closed\"");
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(inc, "incident_id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "incident.incident_id is missing");
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = strcasecmp(state, "closed") == 0 ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	sev = ax_json_str(inc, "severity");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->name = ax_xstrdup(name);
	s->summary = ingest_dup_str(inc, "summary");
	doc_v = cJSON_GetObjectItemCaseSensitive(inc, "documentation");
	if (cJSON_IsObject(doc_v))
		s->description = ingest_dup_str(doc_v, "content");
	else if (cJSON_IsString(doc_v) && doc_v->valuestring[0] != '\0')
		s->description = ax_xstrdup(doc_v->valuestring);

	ax_json_add_str(s->labels, "incident_id", id, 0);
	ax_json_add_str(s->labels, "scoping_project_id", ax_json_str(inc, "scoping_project_id"), 0);
	ax_json_add_str(s->labels, "resource_type",
			ax_json_str(cJSON_GetObjectItemCaseSensitive(inc, "resource"), "type"), 0);
	ax_json_add_str(s->labels, "metric_type",
			ax_json_str(cJSON_GetObjectItemCaseSensitive(inc, "metric"), "type"), 0);
	ax_json_add_str(s->labels, "condition_name", ax_json_str(inc, "condition_name"), 0);
	ingest_copy_strmap(s->labels, cJSON_GetObjectItemCaseSensitive(inc, "policy_user_labels"));
	ingest_copy_strmap(s->labels, ax_json_ptr(inc, "/metadata/user_labels"));
	ingest_copy_strmap(s->labels, ax_json_ptr(inc, "/metadata/system_labels"));
	ingest_copy_strmap(s->labels, ax_json_ptr(inc, "/metric/labels"));
	res_labels = ax_json_ptr(inc, "/resource/labels");
	ingest_copy_strmap(s->labels, res_labels);

	s->service = ax_xstrdup(ingest_first_str(res_labels, service_keys));
	if (s->service == NULL)
		s->service = ingest_dup_str(s->labels, "service");
	if (s->service == NULL)
		s->service = ingest_dup_str(inc, "resource_display_name");
	s->host = ax_xstrdup(ingest_first_str(res_labels, host_keys));
	s->namespace_ = ax_xstrdup(ingest_first_str(res_labels, ns_keys));
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(inc, "started_at"));
	s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(inc, "ended_at"));
	s->source = ax_xstrdup(SOURCE);
	s->source_id = id;
	s->source_url = ingest_dup_str(inc, "url");
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

const struct ingest_driver ingest_driver_gcp = {
	.name = SOURCE,
	.title = "Google Cloud Monitoring",
	.detect = gcp_detect,
	.normalize = gcp_normalize,
};
