/* kibana.c - Elastic Kibana alerting through the Webhook connector
 * (FORMATS.md section 14b).
 *
 * Kibana has no fixed webhook body: the user writes a Mustache template.
 * This driver reads the rendering documented in docs and in our fixtures,
 * flat keys named after the action variables:
 *   {"rule_id": "{{rule.id}}", "rule_name": "{{rule.name}}",
 *    "rule_type": "{{rule.type}}", "rule_tags": "{{rule.tags}}",
 *    "rule_url": "{{rule.url}}", "space_id": "{{rule.spaceId}}",
 *    "alert_id": "{{alert.id}}", "alert_uuid": "{{alert.uuid}}",
 *    "alert_action_group": "{{alert.actionGroup}}", "date": "{{date}}",
 *    "context": {{{context}}} ...}
 * and equally the nested spelling {"rule": {id, name, tags, url, type,
 * spaceId}, "alert": {id, uuid, actionGroup}, "date", "context"}.  Anything
 * else belongs to a declarative profile.
 * Mapping:
 *   name        rule name (required)
 *   status      action group "recovered" -> resolved, any other group
 *               ("threshold met", "query matched", custom) -> firing
 *   severity    none in Kibana: a "severity:<level>" rule tag, else a bare
 *               rule tag that is a severity word ("critical", "p2"...),
 *               through ax_severity_parse; else warning
 *   summary     context.title | context.reason; description: context.message
 *   labels      rule_id, alert_id, rule_type, space_id, action_group, then
 *               the rule tags ("a,b" string or array; a bare tag becomes
 *               tag="")
 *   service     tag service:<name>;  host: tag host:<name>
 *   starts_at   date | context.date when firing; ends_at: the same when
 *               recovered
 *   source_ref  id = alert uuid, else alert id; url = rule url |
 *               context.link
 *   fingerprint over rule_id + alert_id: the alert id is the rule's group
 *               (a host, a service...), stable across episodes as a
 *               Prometheus label set is; alert.uuid would split every
 *               active/recovered episode, so it is only the source id
 *   raw         the whole payload
 *
 * Detection: rule_id + rule_name + alert_action_group strings, or the
 * nested rule{id,name} + alert{actionGroup}. */
#include <stdlib.h>
#include <string.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "kibana"

static const char *const ident[] = { "rule_id", "alert_id", NULL };

/* doc[flat], else doc[obj][key]: the flat and the nested rendering. */
static const char *kb_str(const cJSON *doc, const char *flat, const char *obj, const char *key)
{
	const char *v = ax_json_str(doc, flat);

	return v != NULL ? v : ax_json_str(cJSON_GetObjectItemCaseSensitive(doc, obj), key);
}

static const cJSON *kb_item(const cJSON *doc, const char *flat, const char *obj,
			    const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, flat);

	return v != NULL ? v : cJSON_GetObjectItemCaseSensitive(
				       cJSON_GetObjectItemCaseSensitive(doc, obj), key);
}

static int kb_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	const cJSON *doc = in->doc;

	(void)d;
	return kb_str(doc, "rule_id", "rule", "id") != NULL &&
	       kb_str(doc, "rule_name", "rule", "name") != NULL &&
	       kb_str(doc, "alert_action_group", "alert", "actionGroup") != NULL;
}

/* A "severity" tag, else the first bare tag that is a severity word. */
static enum ax_severity kb_severity(const cJSON *tags)
{
	enum ax_severity sev;
	const cJSON *t;

	if (ax_severity_parse(ax_json_str(tags, "severity"), &sev) == 0)
		return sev;
	cJSON_ArrayForEach(t, tags) {
		if (cJSON_IsString(t) && t->valuestring[0] == '\0' &&
		    ax_severity_parse(t->string, &sev) == 0)
			return sev;
	}
	return AX_SEV_WARNING;
}

static ax_err kb_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc, *ctx;
	const char *rule_id, *name, *group, *summary, *url, *id;
	struct ax_signal *s;
	cJSON *tags;
	char *when;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	rule_id = kb_str(doc, "rule_id", "rule", "id");
	if (rule_id == NULL) {
		ax_errfmt(errbuf, errlen, "payload has no rule_id (or rule.id)");
		return AX_EPROTO;
	}
	name = kb_str(doc, "rule_name", "rule", "name");
	if (name == NULL) {
		ax_errfmt(errbuf, errlen, "payload has no rule_name (or rule.name)");
		return AX_EPROTO;
	}
	group = kb_str(doc, "alert_action_group", "alert", "actionGroup");
	if (group == NULL) {
		ax_errfmt(errbuf, errlen,
			  "payload has no alert_action_group (or alert.actionGroup)");
		return AX_EPROTO;
	}
	ctx = cJSON_GetObjectItemCaseSensitive(doc, "context");
	tags = cJSON_CreateObject();
	if (tags == NULL)
		abort();
	ingest_copy_tags(tags, kb_item(doc, "rule_tags", "rule", "tags"));

	s = ingest_batch_add(out);
	s->kind = AX_KIND_ALERT;
	s->status = strcmp(group, "recovered") == 0 ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	s->severity = kb_severity(tags);
	s->name = ax_xstrdup(name);
	summary = ax_json_str(ctx, "title");
	if (summary == NULL)
		summary = ax_json_str(ctx, "reason");
	s->summary = ax_xstrdup(summary);
	s->description = ingest_dup_str(ctx, "message");

	ax_json_add_str(s->labels, "rule_id", rule_id, 0);
	ax_json_add_str(s->labels, "alert_id", kb_str(doc, "alert_id", "alert", "id"), 0);
	ax_json_add_str(s->labels, "rule_type", kb_str(doc, "rule_type", "rule", "type"), 0);
	ax_json_add_str(s->labels, "space_id", kb_str(doc, "space_id", "rule", "spaceId"), 0);
	ax_json_add_str(s->labels, "action_group", group, 0);
	ingest_copy_strmap(s->labels, tags);
	cJSON_Delete(tags);
	s->service = ingest_dup_str(s->labels, "service");
	s->host = ingest_dup_str(s->labels, "host");

	when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(doc, "date"));
	if (when == NULL)
		when = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(ctx, "date"));
	if (s->status == AX_STATUS_RESOLVED)
		s->ends_at = when;
	else
		s->starts_at = when;
	id = kb_str(doc, "alert_uuid", "alert", "uuid");
	if (id == NULL)
		id = kb_str(doc, "alert_id", "alert", "id");
	url = kb_str(doc, "rule_url", "rule", "url");
	if (url == NULL)
		url = ax_json_str(ctx, "link");
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(id);
	s->source_url = ax_xstrdup(url);
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

const struct ingest_driver ingest_driver_kibana = {
	.name = SOURCE,
	.title = "Elastic Kibana alerting (webhook connector)",
	.detect = kb_detect,
	.normalize = kb_normalize,
};
