/* sentry.c - Sentry: integration-platform webhooks and the legacy
 * per-project WebHooks plugin (FORMATS.md section 11).
 *
 * The integration platform names its resource in the Sentry-Hook-Resource
 * header; the body is {action, installation, data{...}, actor}.  By
 * resource:
 *   event_alert   an issue alert rule fired (action "triggered"): firing
 *   error         an error event (same event shape under data.error): firing
 *   issue         action resolved -> resolved; created, unresolved ->
 *                 firing; any other action (assigned, archived...) follows
 *                 data.issue.status: "resolved" -> resolved, else firing.
 *                 Archiving ("ignored") is a human muting the issue, not a
 *                 fix, so it does not resolve the incident by itself
 *   metric_alert  action critical / warning -> firing at that severity,
 *                 resolved -> resolved (the payload does not say which
 *                 level cleared: warning)
 *   installation  no signal, out->ignored; so is any other resource
 *                 (comment, seer...), which carries no alert
 * The legacy plugin has no header; its body is {id, project_slug, level,
 * culprit, message, url, triggering_rules[], event{...}} and always means
 * "an alert rule fired".
 *
 * Mapping for events (event_alert, error, legacy):
 *   name        event.title, else message
 *   severity    event.level (legacy: level) via ax_severity_parse: fatal ->
 *               critical, error -> high, warning, info/debug -> info;
 *               absent -> warning
 *   summary     event.metadata.value (legacy: message); description: culprit
 *   labels      issue_id, project, environment, release, rule
 *               (triggered_rule / triggering_rules[0]), then event.tags
 *               ([["k","v"], ...])
 *   service     tag "service", else the project slug (legacy: project_slug;
 *               event_alert: parsed from event.url ".../projects/<org>/
 *               <slug>/events/...", as the event holds only a numeric id)
 *   host        tag server_name
 *   starts_at   event.datetime, else event.timestamp (epoch float)
 *   source_ref  id = the issue id (event.issue_id, legacy: id),
 *               url = event.web_url | issue_url (legacy: url)
 * For issue: name = issue.title, severity = issue.level, summary =
 * metadata.value, description = culprit, labels issue_id, project,
 * short_id, issue_type; service = project.slug; starts_at = firstSeen;
 * ends_at (resolved only) = the Sentry-Hook-Timestamp header, the moment
 * Sentry sent the resolution; url = web_url | permalink.
 * For metric_alert: name = alert_rule.name | title, summary =
 * description_title, description = description_text, labels
 * metric_alert_id, alert_rule_id, project (projects[0]), environment,
 * aggregate, dataset; starts_at = date_started, ends_at = date_closed;
 * id = metric_alert.id, url = data.web_url.
 *
 * Fingerprint: events and issues over issue_id, the Sentry group id, which
 * every event of one issue shares; so an event_alert and the later issue
 * "resolved" of the same issue (and the legacy plugin's alert) fold into
 * one.  Metric alerts over metric_alert_id, the id of the metric incident,
 * the same in its critical, warning and resolved notifications.
 * raw is the whole payload.
 *
 * Detection: header Sentry-Hook-Resource, or the legacy body shape
 * (project_slug + triggering_rules array + event object). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "sentry"

static const char *const ident_issue[] = { "issue_id", NULL };
static const char *const ident_metric[] = { "metric_alert_id", NULL };

static int is_legacy(const cJSON *doc)
{
	return ax_json_str(doc, "project_slug") != NULL &&
	       cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "triggering_rules")) &&
	       cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "event"));
}

static int sentry_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	(void)d;
	return ingest_header(in, "Sentry-Hook-Resource") != NULL || is_legacy(in->doc);
}

static void set_severity(struct ax_signal *s, const char *level)
{
	if (level == NULL || ax_severity_parse(level, &s->severity) != 0)
		s->severity = AX_SEV_WARNING;
}

static void finish(struct ax_signal *s, const cJSON *doc, const char *const *ident)
{
	s->source = ax_xstrdup(SOURCE);
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
}

/* The project slug in an API URL ".../projects/<org>/<slug>/...", or NULL. */
static char *slug_from_url(const char *url)
{
	const char *p = url != NULL ? strstr(url, "/projects/") : NULL;
	const char *end;

	if (p == NULL)
		return NULL;
	p = strchr(p + strlen("/projects/"), '/');  /* skip <org> */
	if (p == NULL)
		return NULL;
	p++;
	end = strchr(p, '/');
	if (end == NULL || end == p)
		return NULL;
	return ax_xstrndup(p, (size_t)(end - p));
}

/* One event (event_alert, error, legacy).  issue_id, project, rule, level
 * and url come from the caller because the legacy plugin keeps them
 * outside the event. */
static ax_err event_signal(const cJSON *doc, const cJSON *ev, const char *where,
			   const char *issue_id, const char *project, const char *rule,
			   const char *level, const char *url, const char *summary,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const char *name = ax_json_str(ev, "title");
	struct ax_signal *s;
	char *slug = NULL;
	const cJSON *ts;

	if (name == NULL)
		name = ax_json_str(ev, "message");
	if (name == NULL) {
		ax_errfmt(errbuf, errlen, "%s has no title", where);
		return AX_EPROTO;
	}
	if (issue_id == NULL) {
		ax_errfmt(errbuf, errlen, "%s has no issue_id", where);
		return AX_EPROTO;
	}
	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = AX_STATUS_FIRING;
	set_severity(s, level);
	s->name = ax_xstrdup(name);
	if (summary == NULL)
		summary = ax_json_str(cJSON_GetObjectItemCaseSensitive(ev, "metadata"), "value");
	s->summary = ax_xstrdup(summary);
	s->description = ingest_dup_str(ev, "culprit");

	if (project == NULL)
		project = slug = slug_from_url(ax_json_str(ev, "url"));
	ax_json_add_str(s->labels, "issue_id", issue_id, 0);
	ax_json_add_str(s->labels, "project", project, 0);
	ax_json_add_str(s->labels, "environment", ax_json_str(ev, "environment"), 0);
	ax_json_add_str(s->labels, "release", ax_json_str(ev, "release"), 0);
	ax_json_add_str(s->labels, "rule", rule, 0);
	ingest_copy_tags(s->labels, cJSON_GetObjectItemCaseSensitive(ev, "tags"));
	s->service = ingest_dup_str(s->labels, "service");
	if (s->service == NULL)
		s->service = ax_xstrdup(project);
	free(slug);
	s->host = ingest_dup_str(s->labels, "server_name");
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(ev, "datetime"));
	if (s->starts_at == NULL) {
		ts = cJSON_GetObjectItemCaseSensitive(ev, "timestamp");
		s->starts_at = ingest_time_dup(ts);
	}
	s->source_id = ax_xstrdup(issue_id);
	s->source_url = ax_xstrdup(url);
	finish(s, doc, ident_issue);
	return AX_OK;
}

static ax_err sentry_event(const cJSON *doc, const char *key, struct ingest_batch *out,
			   char *errbuf, size_t errlen)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(data, key);
	const char *url;
	char where[32];
	char *issue_id;
	ax_err rc;

	snprintf(where, sizeof(where), "data.%s", key);
	if (!cJSON_IsObject(ev)) {
		ax_errfmt(errbuf, errlen, "%s is missing or not an object", where);
		return AX_EPROTO;
	}
	issue_id = ingest_dup_scalar(ev, "issue_id");
	url = ax_json_str(ev, "web_url");
	if (url == NULL)
		url = ax_json_str(ev, "issue_url");
	rc = event_signal(doc, ev, where, issue_id, NULL, ax_json_str(data, "triggered_rule"),
			  ax_json_str(ev, "level"), url, NULL, out, errbuf, errlen);
	free(issue_id);
	return rc;
}

static ax_err sentry_legacy(const cJSON *doc, struct ingest_batch *out, char *errbuf,
			    size_t errlen)
{
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(doc, "event");
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(doc, "triggering_rules");
	const char *level = ax_json_str(doc, "level");
	char *issue_id = ingest_dup_scalar(doc, "id");
	ax_err rc;

	if (level == NULL)
		level = ax_json_str(ev, "level");
	rc = event_signal(doc, ev, "legacy webhook event", issue_id,
			  ax_json_str(doc, "project_slug"),
			  cJSON_GetStringValue(cJSON_GetArrayItem(rules, 0)), level,
			  ax_json_str(doc, "url"), ax_json_str(doc, "message"), out, errbuf,
			  errlen);
	free(issue_id);
	return rc;
}

static ax_err sentry_issue(const struct ingest_input *in, struct ingest_batch *out,
			   char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const cJSON *issue = ax_json_ptr(doc, "/data/issue");
	const char *action = ax_json_str(doc, "action"), *title, *status, *url;
	struct ax_signal *s;
	char *id;

	if (!cJSON_IsObject(issue)) {
		ax_errfmt(errbuf, errlen, "data.issue is missing or not an object");
		return AX_EPROTO;
	}
	if (action == NULL) {
		ax_errfmt(errbuf, errlen, "issue webhook has no \"action\"");
		return AX_EPROTO;
	}
	title = ax_json_str(issue, "title");
	if (title == NULL) {
		ax_errfmt(errbuf, errlen, "data.issue.title is missing");
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(issue, "id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "data.issue.id is missing");
		return AX_EPROTO;
	}
	status = ax_json_str(issue, "status");

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	if (strcmp(action, "resolved") == 0)
		s->status = AX_STATUS_RESOLVED;
	else if (strcmp(action, "created") == 0 || strcmp(action, "unresolved") == 0)
		s->status = AX_STATUS_FIRING;
	else
		s->status = status != NULL && strcmp(status, "resolved") == 0 ? AX_STATUS_RESOLVED
									     : AX_STATUS_FIRING;
	set_severity(s, ax_json_str(issue, "level"));
	s->name = ax_xstrdup(title);
	s->summary = ax_xstrdup(ax_json_str(ax_json_ptr(issue, "/metadata"), "value"));
	s->description = ingest_dup_str(issue, "culprit");
	ax_json_add_str(s->labels, "issue_id", id, 0);
	ax_json_add_str(s->labels, "project", ax_json_str(ax_json_ptr(issue, "/project"), "slug"),
			0);
	ax_json_add_str(s->labels, "short_id", ax_json_str(issue, "shortId"), 0);
	ax_json_add_str(s->labels, "issue_type", ax_json_str(issue, "type"), 0);
	s->service = ingest_dup_str(s->labels, "project");
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(issue, "firstSeen"));
	if (s->status == AX_STATUS_RESOLVED) {
		char t[INGEST_TIME_LEN];

		if (ingest_time_str(ingest_header(in, "Sentry-Hook-Timestamp"), t) == 0)
			s->ends_at = ax_xstrdup(t);
	}
	url = ax_json_str(issue, "web_url");
	if (url == NULL)
		url = ax_json_str(issue, "permalink");
	s->source_id = id;
	s->source_url = ax_xstrdup(url);
	finish(s, doc, ident_issue);
	return AX_OK;
}

static ax_err sentry_metric(const cJSON *doc, struct ingest_batch *out, char *errbuf,
			    size_t errlen)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
	const cJSON *ma = cJSON_GetObjectItemCaseSensitive(data, "metric_alert");
	const cJSON *rule = cJSON_GetObjectItemCaseSensitive(ma, "alert_rule");
	const char *action = ax_json_str(doc, "action"), *name;
	struct ax_signal *s;
	char *id, *rule_id;

	if (!cJSON_IsObject(ma)) {
		ax_errfmt(errbuf, errlen, "data.metric_alert is missing or not an object");
		return AX_EPROTO;
	}
	if (action == NULL || (strcmp(action, "critical") != 0 && strcmp(action, "warning") != 0 &&
			       strcmp(action, "resolved") != 0)) {
		ax_errfmt(errbuf, errlen,
			  "metric_alert action must be \"critical\", \"warning\" or \"resolved\"");
		return AX_EPROTO;
	}
	name = ax_json_str(rule, "name");
	if (name == NULL)
		name = ax_json_str(ma, "title");
	if (name == NULL) {
		ax_errfmt(errbuf, errlen, "data.metric_alert has no alert_rule.name or title");
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(ma, "id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "data.metric_alert.id is missing");
		return AX_EPROTO;
	}

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = strcmp(action, "resolved") == 0 ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	s->severity = strcmp(action, "critical") == 0 ? AX_SEV_CRITICAL : AX_SEV_WARNING;
	s->name = ax_xstrdup(name);
	s->summary = ingest_dup_str(data, "description_title");
	s->description = ingest_dup_str(data, "description_text");
	ax_json_add_str(s->labels, "metric_alert_id", id, 0);
	rule_id = ingest_dup_scalar(rule, "id");
	ax_json_add_str(s->labels, "alert_rule_id", rule_id, 0);
	free(rule_id);
	ax_json_add_str(s->labels, "project",
			cJSON_GetStringValue(cJSON_GetArrayItem(
				cJSON_GetObjectItemCaseSensitive(ma, "projects"), 0)), 0);
	ax_json_add_str(s->labels, "environment", ax_json_str(rule, "environment"), 0);
	ax_json_add_str(s->labels, "aggregate", ax_json_str(rule, "aggregate"), 0);
	ax_json_add_str(s->labels, "dataset", ax_json_str(rule, "dataset"), 0);
	s->service = ingest_dup_str(s->labels, "project");
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(ma, "date_started"));
	s->ends_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(ma, "date_closed"));
	s->source_id = id;
	s->source_url = ingest_dup_str(data, "web_url");
	finish(s, doc, ident_metric);
	return AX_OK;
}

static ax_err sentry_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			       struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc;
	const char *res;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	res = ingest_header(in, "Sentry-Hook-Resource");
	if (res == NULL) {
		if (is_legacy(doc))
			return sentry_legacy(doc, out, errbuf, errlen);
		ax_errfmt(errbuf, errlen,
			  "no Sentry-Hook-Resource header, and not the legacy plugin payload "
			  "(project_slug, triggering_rules, event)");
		return AX_EPROTO;
	}
	if (strcmp(res, "event_alert") == 0)
		return sentry_event(doc, "event", out, errbuf, errlen);
	if (strcmp(res, "error") == 0)
		return sentry_event(doc, "error", out, errbuf, errlen);
	if (strcmp(res, "issue") == 0)
		return sentry_issue(in, out, errbuf, errlen);
	if (strcmp(res, "metric_alert") == 0)
		return sentry_metric(doc, out, errbuf, errlen);
	out->ignored = strcmp(res, "installation") == 0 ? "Sentry installation event"
							 : "Sentry resource that carries no alert";
	return AX_OK;
}

const struct ingest_driver ingest_driver_sentry = {
	.name = SOURCE,
	.title = "Sentry",
	.detect = sentry_detect,
	.normalize = sentry_normalize,
};
