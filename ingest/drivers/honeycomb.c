/* honeycomb.c - Honeycomb trigger notifications, default webhook body
 * (FORMATS.md section 14e).
 *
 * The body is {version, id, name, trigger_url, status, summary,
 * description, operator, threshold, result_url, result_groups[],
 * result_groups_triggered[]}, each group {Group: {column: value}, Result}.
 * One signal per element of result_groups_triggered, or one when it is
 * empty (a resolution, or a trigger without GROUP BY):
 *   name        name (required: the trigger's name)
 *   status      status: TRIGGERED -> firing, OK -> resolved
 *   severity    severity when a custom template or a burn alert sends one
 *               (through ax_severity_parse), else warning: triggers have
 *               no severity
 *   summary     summary;  description: description
 *   labels      the group's Group map (column -> value)
 *   service     labels service.name | service | service_name | app;
 *   host        labels host.name | host | hostname
 *   annotations result (the group's Result), threshold, operator,
 *               result_url
 *   starts_at   none: the body has no time (the server knows when it got
 *               the request)
 *   source_ref  id = id (the trigger id), url = trigger_url
 *   fingerprint source + trigger_id.  Honeycomb resolves a trigger, not a
 *               group: the OK notification has an empty
 *               result_groups_triggered, so a fingerprint that included the
 *               group could never be resolved.  The groups of one firing
 *               notification therefore share the trigger's fingerprint
 *               (dedup then keeps the first of them; the others are still
 *               in each signal's raw and labels for reason to see).
 *   raw         the payload, with result_groups_triggered narrowed to the
 *               signal's own group
 * No test notification is documented.  Detection (row 16): the
 * X-Honeycomb-Webhook-Token header with an id and a status in the body,
 * or result_groups_triggered[] + trigger_url. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "honeycomb"

static int hc_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;

	(void)d;
	if (!cJSON_IsObject(doc))
		return 0;
	if (ingest_header(in, "X-Honeycomb-Webhook-Token") != NULL &&
	    ax_json_str(doc, "id") != NULL && ax_json_str(doc, "status") != NULL)
		return 1;
	return cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "result_groups_triggered")) &&
	       ax_json_str(doc, "trigger_url") != NULL;
}

static void add_owned(cJSON *obj, const char *key, char *value)
{
	ax_json_add_str(obj, key, value, 0);
	free(value);
}

static void hc_one(const cJSON *doc, const cJSON *group, enum ax_status st,
		   struct ingest_batch *out)
{
	static const char *const service_keys[] = { "service.name", "service", "service_name",
						    "app", NULL };
	static const char *const host_keys[] = { "host.name", "host", "hostname", NULL };
	const char *id = ax_json_str(doc, "id"), *sev = ax_json_str(doc, "severity");
	struct ax_signal *s = ingest_batch_add(out);

	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = ingest_dup_str(doc, "name");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->summary = ingest_dup_str(doc, "summary");
	s->description = ingest_dup_str(doc, "description");
	ingest_copy_strmap(s->labels, cJSON_GetObjectItemCaseSensitive(group, "Group"));
	s->service = ax_xstrdup(ingest_first_str(s->labels, service_keys));
	s->host = ax_xstrdup(ingest_first_str(s->labels, host_keys));
	add_owned(s->annotations, "result", ingest_dup_scalar(group, "Result"));
	add_owned(s->annotations, "threshold", ingest_dup_scalar(doc, "threshold"));
	ax_json_add_str(s->annotations, "operator", ax_json_str(doc, "operator"), 0);
	ax_json_add_str(s->annotations, "result_url", ax_json_str(doc, "result_url"), 0);
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(id);
	s->source_url = ingest_dup_str(doc, "trigger_url");
	{
		const char *kv[] = { "trigger_id", id, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	s->raw = ingest_dup_json(doc);
	if (group != NULL) {
		cJSON *only = cJSON_CreateArray();

		if (only == NULL)
			abort();
		cJSON_AddItemToArray(only, ingest_dup_json(group));
		cJSON_ReplaceItemInObjectCaseSensitive(s->raw, "result_groups_triggered", only);
	}
}

static ax_err hc_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *v, *groups, *g;
	const char *status;
	enum ax_status st;
	int i = 0, n;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "id");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"id\" (the trigger id) is missing or not a string");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "name");
	if (!cJSON_IsString(v) || v->valuestring == NULL || v->valuestring[0] == '\0') {
		ax_errfmt(errbuf, errlen, "\"name\" is missing or not a string");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "status");
	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		ax_errfmt(errbuf, errlen, "\"status\" is missing or not a string");
		return AX_EPROTO;
	}
	status = v->valuestring;
	if (strcasecmp(status, "TRIGGERED") == 0) {
		st = AX_STATUS_FIRING;
	} else if (strcasecmp(status, "OK") == 0) {
		st = AX_STATUS_RESOLVED;
	} else {
		ax_errfmt(errbuf, errlen, "\"status\" \"%.32s\" is not TRIGGERED or OK", status);
		return AX_EPROTO;
	}
	groups = cJSON_GetObjectItemCaseSensitive(doc, "result_groups_triggered");
	if (groups != NULL && !cJSON_IsNull(groups) && !cJSON_IsArray(groups)) {
		ax_errfmt(errbuf, errlen, "\"result_groups_triggered\" is not an array");
		return AX_EPROTO;
	}
	n = cJSON_GetArraySize(groups);
	if (n > INGEST_MAX_SIGNALS) {
		ax_errfmt(errbuf, errlen,
			  "%d result groups in one payload; at most %d are accepted", n,
			  INGEST_MAX_SIGNALS);
		return AX_EPROTO;
	}
	cJSON_ArrayForEach(g, groups) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(g, "Group");

		if (!cJSON_IsObject(g) || (m != NULL && !cJSON_IsNull(m) && !cJSON_IsObject(m))) {
			ax_errfmt(errbuf, errlen,
				  "result_groups_triggered[%d] is not an object with a Group "
				  "object", i);
			return AX_EPROTO;
		}
		i++;
	}
	if (n == 0) {
		hc_one(doc, NULL, st, out);
		return AX_OK;
	}
	cJSON_ArrayForEach(g, groups)
		hc_one(doc, g, st, out);
	return AX_OK;
}

const struct ingest_driver ingest_driver_honeycomb = {
	.name = SOURCE,
	.title = "Honeycomb trigger",
	.detect = hc_detect,
	.normalize = hc_normalize,
};
