/* alertmanager.c - Prometheus Alertmanager webhook (payload version "4").
 *
 * One request is one alert group; it yields one signal per element of
 * "alerts", each with its own status (the group's top-level status is
 * "firing" while any alert in it fires, so it is only a fallback for an
 * alert that carries none).  Mapping (FORMATS.md section 1):
 *   name        labels.alertname (required)
 *   severity    labels.severity through ax_severity_parse, else warning
 *   summary     annotations.summary;  description: annotations.description
 *   service     labels.service | job | app
 *   host        labels.instance | host | node (kept as sent, port included)
 *   namespace   labels.namespace
 *   starts_at   startsAt;  ends_at: endsAt, NULL for Go's zero time, which
 *               Alertmanager sends for a firing alert
 *   source_ref  id = the alert's fingerprint, url = generatorURL
 *   fingerprint ax_signal_fingerprint over every label: the label set is
 *               what identifies a Prometheus alert, and it is the same in
 *               the firing and the resolved notification
 *   raw         {"receiver","groupKey","externalURL","alert":{...}}
 * Label values are strings in Alertmanager; anything else is stringified
 * or dropped by ingest_copy_strmap so the canonical labels stay strings.
 *
 * Detection follows the brief: "alerts" is an array and version is "4" or
 * groupKey is present.  Grafana unified alerting matches too (it reuses
 * the Alertmanager shape); a Grafana driver, when added, goes before this
 * one in the registry. */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "alertmanager"

static const char *const service_keys[] = { "service", "job", "app", NULL };
static const char *const host_keys[] = { "instance", "host", "node", NULL };

static int am_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;
	const char *version;

	(void)d;
	if (!cJSON_IsObject(doc) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "alerts")))
		return 0;
	version = ax_json_str(doc, "version");
	return (version != NULL && strcmp(version, "4") == 0) ||
	       cJSON_GetObjectItemCaseSensitive(doc, "groupKey") != NULL;
}

static void add_context(cJSON *raw, const cJSON *doc, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
	cJSON *c;

	if (v == NULL)
		return;
	c = cJSON_Duplicate(v, 1);
	if (c == NULL)
		abort();
	cJSON_AddItemToObject(raw, key, c);
}

static cJSON *make_raw(const cJSON *doc, const cJSON *alert)
{
	cJSON *raw = cJSON_CreateObject(), *a;

	if (raw == NULL)
		abort();
	add_context(raw, doc, "receiver");
	add_context(raw, doc, "groupKey");
	add_context(raw, doc, "externalURL");
	a = cJSON_Duplicate(alert, 1);
	if (a == NULL)
		abort();
	cJSON_AddItemToObject(raw, "alert", a);
	return raw;
}

static ax_err am_one(const cJSON *doc, const cJSON *alert, int i, const char *group_status,
		     struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *labels, *annotations;
	const char *name, *status, *sev, *ts;
	enum ax_status st;
	struct ax_signal *s;

	if (!cJSON_IsObject(alert)) {
		ax_errfmt(errbuf, errlen, "alerts[%d] is not an object", i);
		return AX_EPROTO;
	}
	labels = cJSON_GetObjectItemCaseSensitive(alert, "labels");
	if (!cJSON_IsObject(labels)) {
		ax_errfmt(errbuf, errlen, "alerts[%d].labels is missing or not an object", i);
		return AX_EPROTO;
	}
	name = ax_json_str(labels, "alertname");
	if (name == NULL) {
		ax_errfmt(errbuf, errlen, "alerts[%d] has no labels.alertname", i);
		return AX_EPROTO;
	}
	status = ax_json_str(alert, "status");
	if (status == NULL)
		status = group_status;
	if (status == NULL || (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0) ||
	    ax_status_parse(status, &st) != 0) {
		ax_errfmt(errbuf, errlen, "alerts[%d].status must be \"firing\" or \"resolved\"", i);
		return AX_EPROTO;
	}
	annotations = cJSON_GetObjectItemCaseSensitive(alert, "annotations");

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = ax_xstrdup(name);
	ingest_copy_strmap(s->labels, labels);
	ingest_copy_strmap(s->annotations, annotations);
	sev = ax_json_str(labels, "severity");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->summary = ingest_dup_str(annotations, "summary");
	s->description = ingest_dup_str(annotations, "description");
	s->service = ax_xstrdup(ingest_first_str(labels, service_keys));
	s->host = ax_xstrdup(ingest_first_str(labels, host_keys));
	s->namespace_ = ingest_dup_str(labels, "namespace");
	ts = ax_json_str(alert, "startsAt");
	if (!ingest_time_unset(ts))
		s->starts_at = ax_xstrdup(ts);
	ts = ax_json_str(alert, "endsAt");
	if (!ingest_time_unset(ts))
		s->ends_at = ax_xstrdup(ts);
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ingest_dup_str(alert, "fingerprint");
	s->source_url = ingest_dup_str(alert, "generatorURL");
	ax_signal_fingerprint(s, NULL);
	s->raw = make_raw(doc, alert);
	return AX_OK;
}

static ax_err am_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *alerts, *a;
	const char *group_status;
	int i = 0, n;
	ax_err rc;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	alerts = cJSON_GetObjectItemCaseSensitive(doc, "alerts");
	if (alerts == NULL) {
		ax_errfmt(errbuf, errlen, "payload has no \"alerts\" array");
		return AX_EPROTO;
	}
	if (!cJSON_IsArray(alerts)) {
		ax_errfmt(errbuf, errlen, "\"alerts\" is not an array");
		return AX_EPROTO;
	}
	n = cJSON_GetArraySize(alerts);
	if (n == 0) {
		ax_errfmt(errbuf, errlen, "\"alerts\" is empty");
		return AX_EPROTO;
	}
	if (n > INGEST_MAX_SIGNALS) {
		ax_errfmt(errbuf, errlen, "%d alerts in one payload; at most %d are accepted", n,
			  INGEST_MAX_SIGNALS);
		return AX_EPROTO;
	}
	group_status = ax_json_str(doc, "status");
	cJSON_ArrayForEach(a, alerts) {
		rc = am_one(doc, a, i++, group_status, out, errbuf, errlen);
		if (rc != AX_OK)
			return rc;
	}
	return AX_OK;
}

const struct ingest_driver ingest_driver_alertmanager = {
	.name = SOURCE,
	.title = "Prometheus Alertmanager",
	.detect = am_detect,
	.normalize = am_normalize,
};
