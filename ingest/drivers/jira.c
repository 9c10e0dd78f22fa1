/* jira.c - Jira Cloud / Data Center issue webhooks, as ticket signals for
 * the two-way ticket sync (FORMATS.md section 14f).
 *
 * Body {timestamp, webhookEvent, issue_event_type_name, user, issue{id, key,
 * self, fields{...}}, changelog{items[]}}.  Every event that carries an
 * issue (jira:issue_created|updated|deleted, comment_*, ...) gives one
 * signal of kind ticket with the issue's current state; events without an
 * issue (sprints, versions, issue links...) give none (out->ignored).
 * Mapping:
 *   name        issue.key (required)
 *   status      resolved when fields.resolution is set, or
 *               fields.status.statusCategory.key is "done", or the issue
 *               was deleted (jira:issue_deleted: the ticket is gone);
 *               otherwise firing (the ticket is open)
 *   severity    fields.priority.name: Highest, Blocker -> critical;
 *               Lowest, Trivial -> info; else ax_severity_parse (High,
 *               Critical, Medium, Major, Low...); else warning
 *   summary     fields.summary;  description: fields.description when it
 *               is a string (REST v3 sends Atlassian Document Format, an
 *               object, which is not text)
 *   labels      ticket_key, ticket_id, jira_site (the base URL in
 *               issue.self), project (fields.project.key), ticket_status
 *               (status name), status_category, priority, jira_event
 *               (webhookEvent), issue_event (issue_event_type_name),
 *               status_from / status_to (the changelog item whose field is
 *               "status": the transition this event reports),
 *               correlation_id (from a Jira label "alexus:<id>", the
 *               convention our sync writes), then every custom field whose
 *               value is a string or a number, under its own id
 *               ("customfield_10071"): which custom field holds our id is a
 *               per-site setting the sync knows and the driver does not,
 *               then fields.labels (bare Jira labels become label="")
 *   service     fields.components[0].name (teams name components after
 *               services)
 *   starts_at   fields.created; ends_at (resolved only): fields.
 *               resolutiondate, else the event's timestamp (epoch ms)
 *   source_ref  id = issue.id, url = <jira_site>/browse/<key>
 *   fingerprint over jira_site + ticket_id: the issue id survives a move to
 *               another project (the key does not), and two sites can have
 *               the same id
 *   raw         the whole payload
 * Loop prevention (dropping events caused by our own integration user) is
 * the sync's decision: it knows its account id; the event's user is kept
 * in raw.
 *
 * Detection: webhookEvent is a string and timestamp a number (Atlassian's
 * envelope). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "jira"
#define CORRELATION_TAG "alexus:"

static const char *const ident[] = { "jira_site", "ticket_id", NULL };

static int jira_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	(void)d;
	return ax_json_str(in->doc, "webhookEvent") != NULL &&
	       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(in->doc, "timestamp"));
}

static enum ax_severity jira_severity(const char *prio)
{
	enum ax_severity sev;

	if (prio == NULL)
		return AX_SEV_WARNING;
	if (strcasecmp(prio, "highest") == 0 || strcasecmp(prio, "blocker") == 0)
		return AX_SEV_CRITICAL;
	if (strcasecmp(prio, "lowest") == 0 || strcasecmp(prio, "trivial") == 0)
		return AX_SEV_INFO;
	return ax_severity_parse(prio, &sev) == 0 ? sev : AX_SEV_WARNING;
}

/* "https://acme.atlassian.net" from ".../rest/api/2/issue/10231", owned. */
static char *site_of(const char *self)
{
	const char *p = self != NULL ? strstr(self, "/rest/") : NULL;

	return p != NULL && p != self ? ax_xstrndup(self, (size_t)(p - self)) : NULL;
}

/* status_from / status_to from the changelog's status item, if any. */
static void add_transition(cJSON *labels, const cJSON *changelog)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(changelog, "items"), *it;
	const char *field;

	if (!cJSON_IsArray(items))
		return;
	cJSON_ArrayForEach(it, items) {
		field = ax_json_str(it, "field");
		if (field == NULL || strcmp(field, "status") != 0)
			continue;
		ax_json_add_str(labels, "status_from", ax_json_str(it, "fromString"), 0);
		ax_json_add_str(labels, "status_to", ax_json_str(it, "toString"), 0);
		return;
	}
}

/* The id in a Jira label "alexus:<id>", or NULL. */
static const char *correlation_of(const cJSON *jlabels)
{
	const cJSON *l;

	if (!cJSON_IsArray(jlabels))
		return NULL;
	cJSON_ArrayForEach(l, jlabels) {
		const char *v = cJSON_GetStringValue(l);

		if (v != NULL && strncmp(v, CORRELATION_TAG, strlen(CORRELATION_TAG)) == 0 &&
		    v[strlen(CORRELATION_TAG)] != '\0')
			return v + strlen(CORRELATION_TAG);
	}
	return NULL;
}

/* Custom fields holding a string or a number, under their own ids. */
static void add_custom_fields(cJSON *labels, const cJSON *fields)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, fields) {
		char *v;

		if (f->string == NULL || strncmp(f->string, "customfield_", 12) != 0 ||
		    !(cJSON_IsString(f) || cJSON_IsNumber(f)) ||
		    cJSON_GetObjectItemCaseSensitive(labels, f->string) != NULL)
			continue;
		v = ingest_dup_scalar(fields, f->string);
		ax_json_add_str(labels, f->string, v, 0);
		free(v);
	}
}

static int is_resolved(const char *event, const cJSON *fields)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(fields, "resolution");
	const char *cat = ax_json_str(ax_json_ptr(fields, "/status/statusCategory"), "key");

	return strcmp(event, "jira:issue_deleted") == 0 ||
	       (res != NULL && !cJSON_IsNull(res)) || (cat != NULL && strcmp(cat, "done") == 0);
}

static ax_err jira_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			     struct ingest_batch *out, char *errbuf, size_t errlen)
{
	const cJSON *doc = in->doc, *issue, *fields, *status, *comps;
	const char *event, *key, *prio;
	struct ax_signal *s;
	char *id, *site;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	event = ax_json_str(doc, "webhookEvent");
	if (event == NULL) {
		ax_errfmt(errbuf, errlen, "payload has no \"webhookEvent\"");
		return AX_EPROTO;
	}
	issue = cJSON_GetObjectItemCaseSensitive(doc, "issue");
	if (issue == NULL) {
		out->ignored = "Jira event without an issue";
		return AX_OK;
	}
	if (!cJSON_IsObject(issue)) {
		ax_errfmt(errbuf, errlen, "\"issue\" is not an object");
		return AX_EPROTO;
	}
	key = ax_json_str(issue, "key");
	if (key == NULL) {
		ax_errfmt(errbuf, errlen, "issue.key is missing");
		return AX_EPROTO;
	}
	id = ingest_dup_scalar(issue, "id");
	if (id == NULL) {
		ax_errfmt(errbuf, errlen, "issue.id is missing");
		return AX_EPROTO;
	}
	fields = cJSON_GetObjectItemCaseSensitive(issue, "fields");
	if (!cJSON_IsObject(fields))
		fields = NULL;
	status = cJSON_GetObjectItemCaseSensitive(fields, "status");

	s = ingest_batch_add(out);
	s->kind = AX_KIND_TICKET;
	s->status = is_resolved(event, fields) ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	prio = ax_json_str(cJSON_GetObjectItemCaseSensitive(fields, "priority"), "name");
	s->severity = jira_severity(prio);
	s->name = ax_xstrdup(key);
	s->summary = ingest_dup_str(fields, "summary");
	s->description = ingest_dup_str(fields, "description");

	site = site_of(ax_json_str(issue, "self"));
	ax_json_add_str(s->labels, "ticket_key", key, 0);
	ax_json_add_str(s->labels, "ticket_id", id, 0);
	ax_json_add_str(s->labels, "jira_site", site, 0);
	ax_json_add_str(s->labels, "project", ax_json_str(ax_json_ptr(fields, "/project"), "key"),
			0);
	ax_json_add_str(s->labels, "ticket_status", ax_json_str(status, "name"), 0);
	ax_json_add_str(s->labels, "status_category",
			ax_json_str(cJSON_GetObjectItemCaseSensitive(status, "statusCategory"),
				    "key"), 0);
	ax_json_add_str(s->labels, "priority", prio, 0);
	ax_json_add_str(s->labels, "jira_event", event, 0);
	ax_json_add_str(s->labels, "issue_event", ax_json_str(doc, "issue_event_type_name"), 0);
	add_transition(s->labels, cJSON_GetObjectItemCaseSensitive(doc, "changelog"));
	ax_json_add_str(s->labels, "correlation_id",
			correlation_of(cJSON_GetObjectItemCaseSensitive(fields, "labels")), 0);
	add_custom_fields(s->labels, fields);
	ingest_copy_tags(s->labels, cJSON_GetObjectItemCaseSensitive(fields, "labels"));

	comps = cJSON_GetObjectItemCaseSensitive(fields, "components");
	if (cJSON_IsArray(comps))
		s->service = ingest_dup_str(cJSON_GetArrayItem(comps, 0), "name");
	s->starts_at = ingest_time_dup(cJSON_GetObjectItemCaseSensitive(fields, "created"));
	if (s->status == AX_STATUS_RESOLVED) {
		const cJSON *when = cJSON_GetObjectItemCaseSensitive(fields, "resolutiondate");

		s->ends_at = ingest_time_dup(when);
		if (s->ends_at == NULL) {
			when = cJSON_GetObjectItemCaseSensitive(doc, "timestamp");
			s->ends_at = ingest_time_dup(when);
		}
	}
	s->source = ax_xstrdup(SOURCE);
	s->source_id = id;
	if (site != NULL)
		s->source_url = ax_xasprintf("%s/browse/%s", site, key);
	free(site);
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

const struct ingest_driver ingest_driver_jira = {
	.name = SOURCE,
	.title = "Jira (issue webhooks)",
	.detect = jira_detect,
	.normalize = jira_normalize,
};
