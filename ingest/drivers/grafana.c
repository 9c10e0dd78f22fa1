/* grafana.c - Grafana alerting webhooks: unified alerting (Grafana 8+,
 * body version "1") as "grafana", and legacy dashboard alerting (Grafana
 * <= 10) as "grafana-legacy".
 *
 * grafana (FORMATS.md section 2a).  The body is the Alertmanager shape plus
 * orgId, state, title, message and version "1"; one request is one alert
 * group and yields one signal per element of "alerts", each with its own
 * status (the top-level status and state say "firing"/"alerting" while any
 * alert in the group fires).  Mapping per alert:
 *   name        labels.alertname (required)
 *   status      alerts[].status (firing | resolved), else the group's
 *   severity    labels.severity through ax_severity_parse, else warning
 *   summary     annotations.summary;  description: annotations.description
 *   service     labels.service | job | app
 *   host        labels.instance | host | node (kept as sent, port included)
 *   namespace   labels.namespace
 *   labels      every label;  annotations: every annotation, plus
 *               value_string, dashboard_url, panel_url, silence_url and
 *               image_url from the alert's extras when it has them
 *   starts_at   startsAt;  ends_at: endsAt (Go's zero time = not ended)
 *   source_ref  id = the alert's fingerprint, url = generatorURL, joined
 *               with externalURL when relative (Grafana 12 test alerts
 *               carry "?orgId=1")
 *   fingerprint source + org_id (orgId) + fingerprint (the alert's).
 *               Grafana computes its fingerprint over the full label set
 *               including the internal __alert_rule_uid__, which the
 *               webhook strips from labels, so it tells apart two rules
 *               whose visible labels agree; it is the same in the firing
 *               and the resolved notification.  An alert without one falls
 *               back to ax_signal_fingerprint over its labels.
 *   raw         {"receiver","groupKey","externalURL","orgId","alert":{...}}
 * A contact-point test ("Test" in the UI) sends one alert with the labels
 * alertname=TestAlert, instance=Grafana (grafana/alerting
 * notify/receivers.go, newTestAlert); a payload made only of such alerts
 * is answered as a test notification.
 *
 * Detection (section 0, row 12): alerts[] + groupKey + (version "1", or a
 * numeric orgId, or state and title), and version not "4".  Alertmanager's
 * detector accepts this shape too, which is why this driver is registered
 * before it.
 *
 * grafana-legacy (section 2b).  One rule notification per request:
 *   name        ruleName, else title without its "[State] " prefix
 *   status      state: alerting -> firing, ok -> resolved, no_data ->
 *               firing (the rule was configured to alert when its query
 *               returns nothing, so the missing data is the problem);
 *               pending and paused are not notifications of an alert (a
 *               pending rule has not fired yet, a paused one is not
 *               evaluated) and are answered as ignored
 *   severity    tags.severity through ax_severity_parse, else warning
 *   summary     title;  description: message
 *   labels      tags (an object of strings)
 *   service     tags.service | job | app;  host: tags.instance | host |
 *               node, else the same keys in the first evalMatches[].tags
 *   annotations metric and value of the first evalMatches element,
 *               image_url
 *   starts_at   none: the legacy payload has no timestamp (the server
 *               knows when it received the request)
 *   source_ref  id = ruleId, url = ruleUrl
 *   fingerprint source + org_id + rule_id (ruleId is stable and unique per
 *               Grafana instance; orgId keeps two orgs apart), or
 *               rule_name when a payload lacks ruleId
 *   raw         the payload
 * Grafana's "Send test" builds ruleId 0, ruleName "Test notification"
 * (pkg/services/alerting/test_notification.go), answered as a test.
 * Detection (row 13): evalMatches[] + state + (ruleId or ruleName). */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

static const char *const service_keys[] = { "service", "job", "app", NULL };
static const char *const host_keys[] = { "instance", "host", "node", NULL };

/* Add obj[key] to dst as annotation name when it is a non-empty string
 * and dst has no such key yet. */
static void add_extra(cJSON *dst, const char *name, const cJSON *obj, const char *key)
{
	const char *v = ax_json_str(obj, key);

	if (v != NULL && cJSON_GetObjectItemCaseSensitive(dst, name) == NULL)
		ax_json_add_str(dst, name, v, 0);
}

/* ------------------------------------------------------------ unified */

#define SOURCE "grafana"

static int gf_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;
	const char *version;

	(void)d;
	if (!cJSON_IsObject(doc) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "alerts")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "groupKey")))
		return 0;
	version = ax_json_str(doc, "version");
	if (version != NULL && strcmp(version, "4") == 0)
		return 0;
	return (version != NULL && strcmp(version, "1") == 0) ||
	       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "orgId")) ||
	       (ax_json_str(doc, "state") != NULL && ax_json_str(doc, "title") != NULL);
}

static int is_test_alert(const cJSON *alert)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(alert, "labels");
	const char *name = ax_json_str(labels, "alertname");
	const char *inst = ax_json_str(labels, "instance");

	return name != NULL && inst != NULL && strcmp(name, "TestAlert") == 0 &&
	       strcmp(inst, "Grafana") == 0;
}

/* generatorURL as an absolute URL: Grafana 12 test alerts send a relative
 * one ("?orgId=1"), which only makes sense against externalURL. */
static char *absolute_url(const char *url, const char *base)
{
	size_t n;

	if (url == NULL)
		return NULL;
	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0 || base == NULL)
		return ax_xstrdup(url);
	n = strlen(base);
	if (url[0] == '/' && n > 0 && base[n - 1] == '/')
		n--;
	return ax_xasprintf("%.*s%s", (int)n, base, url);
}

static cJSON *gf_raw(const cJSON *doc, const cJSON *alert)
{
	static const char *const ctx[] = { "receiver", "groupKey", "externalURL", "orgId", NULL };
	cJSON *raw = cJSON_CreateObject();
	const cJSON *v;
	size_t i;

	if (raw == NULL)
		abort();
	for (i = 0; ctx[i] != NULL; i++) {
		if ((v = cJSON_GetObjectItemCaseSensitive(doc, ctx[i])) != NULL)
			cJSON_AddItemToObject(raw, ctx[i], ingest_dup_json(v));
	}
	cJSON_AddItemToObject(raw, "alert", ingest_dup_json(alert));
	return raw;
}

static ax_err gf_one(const cJSON *doc, const cJSON *alert, int i, const char *group_status,
		     struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *labels, *annotations, *sv;
	const char *name, *status, *sev;
	enum ax_status st;
	struct ax_signal *s;
	char *org, *fp;

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
	sv = cJSON_GetObjectItemCaseSensitive(alert, "status");
	if (sv != NULL && !cJSON_IsString(sv)) {
		ax_errfmt(errbuf, errlen, "alerts[%d].status is not a string", i);
		return AX_EPROTO;
	}
	status = ax_json_str(alert, "status");
	if (status == NULL)
		status = group_status;
	if (status == NULL || (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0) ||
	    ax_status_parse(status, &st) != 0) {
		ax_errfmt(errbuf, errlen, "alerts[%d].status must be \"firing\" or \"resolved\"",
			  i);
		return AX_EPROTO;
	}
	annotations = cJSON_GetObjectItemCaseSensitive(alert, "annotations");
	if (annotations != NULL && !cJSON_IsNull(annotations) && !cJSON_IsObject(annotations)) {
		ax_errfmt(errbuf, errlen, "alerts[%d].annotations is not an object", i);
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = ax_xstrdup(name);
	ingest_copy_strmap(s->labels, labels);
	ingest_copy_strmap(s->annotations, annotations);
	add_extra(s->annotations, "value_string", alert, "valueString");
	add_extra(s->annotations, "dashboard_url", alert, "dashboardURL");
	add_extra(s->annotations, "panel_url", alert, "panelURL");
	add_extra(s->annotations, "silence_url", alert, "silenceURL");
	add_extra(s->annotations, "image_url", alert, "imageURL");
	sev = ax_json_str(labels, "severity");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->summary = ingest_dup_str(annotations, "summary");
	s->description = ingest_dup_str(annotations, "description");
	s->service = ax_xstrdup(ingest_first_str(labels, service_keys));
	s->host = ax_xstrdup(ingest_first_str(labels, host_keys));
	s->namespace_ = ingest_dup_str(labels, "namespace");
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(alert, "startsAt"));
	s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(alert, "endsAt"));
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ingest_dup_str(alert, "fingerprint");
	s->source_url = absolute_url(ax_json_str(alert, "generatorURL"),
				     ax_json_str(doc, "externalURL"));
	fp = s->source_id;
	if (fp != NULL) {
		org = ingest_dup_scalar(doc, "orgId");
		if (org == NULL)
			org = ingest_dup_scalar(alert, "orgId");
		{
			const char *kv[] = { "fingerprint", fp, "org_id", org, NULL };

			ingest_fingerprint_kv(s, kv);
		}
		free(org);
	} else {
		ax_signal_fingerprint(s, NULL);
	}
	s->raw = gf_raw(doc, alert);
	return AX_OK;
}

static ax_err gf_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *alerts, *a;
	const char *group_status;
	int i = 0, n, tests = 0;
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
	cJSON_ArrayForEach(a, alerts)
		tests += is_test_alert(a);
	if (tests == n) {
		out->ignored = "test notification";
		return AX_OK;
	}
	group_status = ax_json_str(doc, "status");
	cJSON_ArrayForEach(a, alerts) {
		rc = gf_one(doc, a, i++, group_status, out, errbuf, errlen);
		if (rc != AX_OK)
			return rc;
	}
	return AX_OK;
}

const struct ingest_driver ingest_driver_grafana = {
	.name = SOURCE,
	.title = "Grafana unified alerting",
	.detect = gf_detect,
	.normalize = gf_normalize,
};

#undef SOURCE

/* ------------------------------------------------------------ legacy */

#define SOURCE "grafana-legacy"

static int gl_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;

	(void)d;
	return cJSON_IsObject(doc) &&
	       cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "evalMatches")) &&
	       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "state")) &&
	       (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(doc, "ruleId")) ||
		ax_json_str(doc, "ruleName") != NULL);
}

/* title without a leading "[Alerting] " / "[OK] " state tag. */
static char *strip_state_tag(const char *title)
{
	const char *p = title;

	if (p[0] == '[' && (p = strchr(p, ']')) != NULL) {
		p++;
		while (*p == ' ')
			p++;
		if (*p != '\0')
			return ax_xstrdup(p);
	}
	return ax_xstrdup(title);
}

static ax_err gl_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *matches, *first, *tags, *rule_id, *v;
	const char *state, *rule_name, *title, *sev, *host;
	enum ax_status st;
	struct ax_signal *s;
	char *org, *rid;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "state");
	if (!cJSON_IsString(v) || v->valuestring == NULL) {
		ax_errfmt(errbuf, errlen, "\"state\" is missing or not a string");
		return AX_EPROTO;
	}
	state = v->valuestring;
	rule_id = cJSON_GetObjectItemCaseSensitive(doc, "ruleId");
	if (rule_id != NULL && !cJSON_IsNumber(rule_id)) {
		ax_errfmt(errbuf, errlen, "\"ruleId\" is not a number");
		return AX_EPROTO;
	}
	matches = cJSON_GetObjectItemCaseSensitive(doc, "evalMatches");
	if (matches != NULL && !cJSON_IsNull(matches) && !cJSON_IsArray(matches)) {
		ax_errfmt(errbuf, errlen, "\"evalMatches\" is not an array");
		return AX_EPROTO;
	}
	tags = cJSON_GetObjectItemCaseSensitive(doc, "tags");
	if (tags != NULL && !cJSON_IsNull(tags) && !cJSON_IsObject(tags)) {
		ax_errfmt(errbuf, errlen, "\"tags\" is not an object");
		return AX_EPROTO;
	}
	rule_name = ax_json_str(doc, "ruleName");
	title = ax_json_str(doc, "title");
	if (rule_name == NULL && title == NULL) {
		ax_errfmt(errbuf, errlen, "payload has no \"ruleName\" or \"title\"");
		return AX_EPROTO;
	}
	if (cJSON_IsNumber(rule_id) && rule_id->valuedouble == 0 && rule_name != NULL &&
	    strcmp(rule_name, "Test notification") == 0) {
		out->ignored = "test notification";
		return AX_OK;
	}
	if (strcmp(state, "alerting") == 0 || strcmp(state, "no_data") == 0) {
		st = AX_STATUS_FIRING;
	} else if (strcmp(state, "ok") == 0) {
		st = AX_STATUS_RESOLVED;
	} else if (strcmp(state, "pending") == 0 || strcmp(state, "paused") == 0) {
		out->ignored = "rule is pending or paused: no alert to report";
		return AX_OK;
	} else {
		ax_errfmt(errbuf, errlen,
			  "\"state\" \"%.32s\" is not one of alerting, ok, no_data, pending, "
			  "paused", state);
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = st;
	s->name = rule_name != NULL ? ax_xstrdup(rule_name) : strip_state_tag(title);
	ingest_copy_tags(s->labels, tags);
	sev = ax_json_str(tags, "severity");
	if (sev == NULL || ax_severity_parse(sev, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
	s->summary = ax_xstrdup(title);
	s->description = ingest_dup_str(doc, "message");
	s->service = ax_xstrdup(ingest_first_str(tags, service_keys));
	first = cJSON_GetArrayItem(matches, 0);
	host = ingest_first_str(tags, host_keys);
	if (host == NULL)
		host = ingest_first_str(cJSON_GetObjectItemCaseSensitive(first, "tags"), host_keys);
	s->host = ax_xstrdup(host);
	s->namespace_ = ingest_dup_str(tags, "namespace");
	add_extra(s->annotations, "metric", first, "metric");
	{
		char *val = ingest_dup_scalar(first, "value");

		ax_json_add_str(s->annotations, "value", val, 0);
		free(val);
	}
	add_extra(s->annotations, "image_url", doc, "imageUrl");
	s->source = ax_xstrdup(SOURCE);
	rid = ingest_dup_scalar(doc, "ruleId");
	s->source_id = rid;
	s->source_url = ingest_dup_str(doc, "ruleUrl");
	org = ingest_dup_scalar(doc, "orgId");
	if (rid != NULL) {
		const char *kv[] = { "org_id", org, "rule_id", rid, NULL };

		ingest_fingerprint_kv(s, kv);
	} else {
		const char *kv[] = { "org_id", org, "rule_name", s->name, NULL };

		ingest_fingerprint_kv(s, kv);
	}
	free(org);
	s->raw = ingest_dup_json(doc);
	return AX_OK;
}

const struct ingest_driver ingest_driver_grafana_legacy = {
	.name = SOURCE,
	.title = "Grafana legacy alerting",
	.detect = gl_detect,
	.normalize = gl_normalize,
};
