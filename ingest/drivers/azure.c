/* azure.c - Azure Monitor action-group webhook with the common alert schema
 * (FORMATS.md section 9).
 *
 * One alert instance per request: {schemaId, data{essentials, alertContext,
 * customProperties}}.  Only the common schema is read; the older per-type
 * schemas (AzureMonitorMetricAlert, activity log, log search with a
 * top-level SearchQuery) have other shapes and are not claimed.
 * Mapping (data.essentials unless said otherwise):
 *   name        alertRule (required)
 *   status      monitorCondition: Fired -> firing, Resolved -> resolved
 *               (required; log and activity-log alerts are often stateless
 *               and simply never send Resolved)
 *   severity    Sev0 -> critical, Sev1 -> high, Sev2 -> warning,
 *               Sev3 -> info, Sev4 (verbose) -> info; Azure's own scale
 *               (Sev0 highest), so not ax_severity_parse, which reads
 *               "sev1" as the top level; anything else -> warning
 *   summary     description
 *   description one line per alertContext.condition.allOf[] criterion:
 *               "<metricName | searchQuery> <operator> <threshold>
 *               (value <metricValue>)"
 *   labels      alert_id, alert_rule, signal_type, monitoring_service,
 *               target_resource_type, target_resource_group, then
 *               customProperties (the user's key/values), then the
 *               dimensions of every allOf[] criterion ({name,value})
 *   service     label "service" (customProperties or a dimension)
 *   host        configurationItems[0] (the target resource's name)
 *   namespace   targetResourceGroup (the scope Azure groups resources by)
 *   starts_at   firedDateTime; ends_at: resolvedDateTime (7-digit
 *               fractions are cut to milliseconds by ingest_time_str)
 *   source_ref  id = alertId
 *   fingerprint over alert_id: the alert instance's ARM id, the same in
 *               the Fired and the Resolved notification
 *   raw         the whole payload
 *
 * Detection: schemaId == "azureMonitorCommonAlertSchema". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "azure-monitor"
#define SCHEMA "azureMonitorCommonAlertSchema"

static const char *const ident[] = { "alert_id", NULL };

static int az_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const char *schema = ax_json_str(in->doc, "schemaId");

	(void)d;
	return schema != NULL && strcmp(schema, SCHEMA) == 0;
}

static enum ax_severity az_severity(const char *s)
{
	static const enum ax_severity map[] = { AX_SEV_CRITICAL, AX_SEV_HIGH, AX_SEV_WARNING,
						AX_SEV_INFO, AX_SEV_INFO };

	if (s != NULL && strncasecmp(s, "Sev", 3) == 0 && s[3] >= '0' && s[3] <= '4' &&
	    s[4] == '\0')
		return map[s[3] - '0'];
	return AX_SEV_WARNING;
}

/* A scalar JSON value as text for the description ("85", "92.384"). */
static void scalar_text(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v) && v->valuestring != NULL)
		snprintf(buf, len, "%s", v->valuestring);
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.15g", v->valuedouble);
	else
		snprintf(buf, len, "?");
}

/* The criteria of alertContext.condition.allOf[], one line each; also
 * copies their dimensions into labels.  NULL when there are none. */
static char *az_criteria(const cJSON *context, cJSON *labels)
{
	const cJSON *all = ax_json_ptr(context, "/condition/allOf"), *c;
	char *text = NULL, *next;
	char thr[64], val[64];

	if (!cJSON_IsArray(all))
		return NULL;
	cJSON_ArrayForEach(c, all) {
		const char *what = ax_json_str(c, "metricName");
		const char *op = ax_json_str(c, "operator");

		if (!cJSON_IsObject(c))
			continue;
		ingest_copy_tags(labels, cJSON_GetObjectItemCaseSensitive(c, "dimensions"));
		if (what == NULL)
			what = ax_json_str(c, "searchQuery");
		if (what == NULL)
			continue;
		scalar_text(cJSON_GetObjectItemCaseSensitive(c, "threshold"), thr, sizeof(thr));
		scalar_text(cJSON_GetObjectItemCaseSensitive(c, "metricValue"), val, sizeof(val));
		next = ax_xasprintf("%s%s%s %s %s (value %s)", text ? text : "", text ? "\n" : "",
				    what, op ? op : "?", thr, val);
		free(text);
		text = next;
	}
	return text;
}

static ax_err az_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc, *data, *ess, *items;
	const char *rule, *cond, *id, *schema;
	struct ax_signal *s;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	schema = ax_json_str(doc, "schemaId");
	if (schema == NULL || strcmp(schema, SCHEMA) != 0) {
		ax_errfmt(errbuf, errlen,
			  "schemaId is not \"" SCHEMA "\": enable the common alert schema on the "
			  "action group");
		return AX_EPROTO;
	}
	data = cJSON_GetObjectItemCaseSensitive(doc, "data");
	ess = cJSON_GetObjectItemCaseSensitive(data, "essentials");
	if (!cJSON_IsObject(ess)) {
		ax_errfmt(errbuf, errlen, "data.essentials is missing or not an object");
		return AX_EPROTO;
	}
	rule = ax_json_str(ess, "alertRule");
	if (rule == NULL) {
		ax_errfmt(errbuf, errlen, "data.essentials.alertRule is missing");
		return AX_EPROTO;
	}
	id = ax_json_str(ess, "alertId");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "data.essentials.alertId is missing");
		return AX_EPROTO;
	}
	cond = ax_json_str(ess, "monitorCondition");
	if (cond == NULL || (strcmp(cond, "Fired") != 0 && strcmp(cond, "Resolved") != 0)) {
		ax_errfmt(errbuf, errlen,
			  "data.essentials.monitorCondition must be \"Fired\" or \"Resolved\"");
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = strcmp(cond, "Resolved") == 0 ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	s->severity = az_severity(ax_json_str(ess, "severity"));
	s->name = ax_xstrdup(rule);
	s->summary = ingest_dup_str(ess, "description");

	ax_json_add_str(s->labels, "alert_id", id, 0);
	ax_json_add_str(s->labels, "alert_rule", rule, 0);
	ax_json_add_str(s->labels, "signal_type", ax_json_str(ess, "signalType"), 0);
	ax_json_add_str(s->labels, "monitoring_service", ax_json_str(ess, "monitoringService"), 0);
	ax_json_add_str(s->labels, "target_resource_type", ax_json_str(ess, "targetResourceType"),
			0);
	ax_json_add_str(s->labels, "target_resource_group",
			ax_json_str(ess, "targetResourceGroup"), 0);
	ingest_copy_strmap(s->labels, cJSON_GetObjectItemCaseSensitive(data, "customProperties"));
	s->description = az_criteria(cJSON_GetObjectItemCaseSensitive(data, "alertContext"),
				     s->labels);

	s->service = ingest_dup_str(s->labels, "service");
	items = cJSON_GetObjectItemCaseSensitive(ess, "configurationItems");
	if (cJSON_IsArray(items))
		s->host = ax_xstrdup(cJSON_GetStringValue(cJSON_GetArrayItem(items, 0)));
	if (s->host != NULL && s->host[0] == '\0') {
		free(s->host);
		s->host = NULL;
	}
	s->namespace_ = ingest_dup_str(ess, "targetResourceGroup");
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(ess, "firedDateTime"));
	s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(ess, "resolvedDateTime"));
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(id);
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

const struct ingest_driver ingest_driver_azure = {
	.name = SOURCE,
	.title = "Azure Monitor (common alert schema)",
	.detect = az_detect,
	.normalize = az_normalize,
};
