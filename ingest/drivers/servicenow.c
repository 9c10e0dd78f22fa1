/* servicenow.c - ServiceNow outbound REST messages (a Business Rule or a
 * Flow Designer step posting a record), as ticket signals for the two-way
 * ticket sync (FORMATS.md section 14g).
 *
 * ServiceNow has no standard outbound payload; the admin builds it.  This
 * driver reads the Table API record shape most integrations copy, either
 * as the body itself or wrapped as {"incident"|"record"|"result": {...}}.
 * Field values come as strings ("" for empty), as {"value", "link"} or
 * {"value", "display_value"} objects, or as display strings, depending on
 * how the script serialises them; all three are read.
 * Mapping:
 *   name        number ("INC0010234"; required)
 *   status      resolved when state is final for the record's table:
 *               incident 6 Resolved, 7 Closed, 8 Canceled (a canceled
 *               ticket is closed too, so the sync stops tracking it);
 *               problem 106, 107; change_request 3, 4; other task tables
 *               3, 4, 7 (closed complete / incomplete / skipped).  Also
 *               when the state is given as a display word (Resolved,
 *               Closed..., Canceled) or active is false.  Otherwise firing
 *               (the ticket is open).  incident_state stands in for state.
 *   severity    priority 1 -> critical, 2 -> high, 3 -> warning,
 *               4 / 5 -> info (the leading digit, so "1 - Critical" works);
 *               else warning
 *   summary     short_description;  description: description
 *   labels      ticket_key (number), sys_id, table (sys_class_name, else
 *               from the number's prefix), ticket_status (state),
 *               state_from / state_to (when the payload carries
 *               previous_state, as our recommended Business Rule does with
 *               previous.state: the transition), correlation_id and
 *               correlation_display (our id, written by the sync), priority,
 *               impact, urgency, assignment_group, instance
 *   service     the display value of business_service | cmdb_ci (a bare
 *               sys_id is not a name)
 *   starts_at   opened_at | sys_created_on;  ends_at (resolved only):
 *               resolved_at | closed_at | sys_updated_on.  Date-times have
 *               no zone ("2025-06-10 08:16:05") and are UTC as the Table
 *               API gives them; ingest_time_str reads them so.
 *   source_ref  id = sys_id, url = <instance>/<table>.do?sys_id=<sys_id>,
 *               the instance being the base of any reference "link" (or
 *               instance_url when the payload has one)
 *   fingerprint over sys_id: stable for the record's life, unlike the
 *               number, which an admin can renumber
 *   raw         the whole payload
 *
 * Detection: a record (the body or one of the wrappers) with a sys_id of 32
 * hex digits and a non-empty number. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alexus/json.h"
#include "alexus/mem.h"
#include "driver.h"

#define SOURCE "servicenow"

static const char *const ident[] = { "sys_id", NULL };
static const char *const wrappers[] = { "incident", "record", "result", NULL };

static int is_sys_id(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 32)
		return 0;
	for (i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int is_record(const cJSON *r)
{
	return is_sys_id(ax_json_str(r, "sys_id")) && ax_json_str(r, "number") != NULL;
}

/* The record in doc (the body or a wrapper), or NULL. */
static const cJSON *record_of(const cJSON *doc)
{
	size_t i;

	if (is_record(doc))
		return doc;
	for (i = 0; wrappers[i] != NULL; i++) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, wrappers[i]);

		if (is_record(r))
			return r;
	}
	return NULL;
}

static int sn_detect(const struct ingest_driver *d, const struct ingest_input *in)
{
	(void)d;
	return cJSON_IsObject(in->doc) && record_of(in->doc) != NULL;
}

/* A field's value as an owned string: a non-empty string or number as it
 * is, the "value" of a reference / display object; else NULL. */
static char *sn_value(const cJSON *rec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);

	if (cJSON_IsObject(v))
		return ingest_dup_scalar(v, "value");
	return ingest_dup_scalar(rec, key);
}

/* A field's display value: display_value of an object, or a string that is
 * not a bare sys_id.  Not copied. */
static const char *sn_display(const cJSON *rec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
	const char *s;

	if (cJSON_IsObject(v))
		return ax_json_str(v, "display_value");
	s = cJSON_GetStringValue(v);
	return s != NULL && s[0] != '\0' && !is_sys_id(s) ? s : NULL;
}

/* The record's table: sys_class_name, else from the number's prefix. */
static const char *table_of(const cJSON *rec, const char *number)
{
	static const struct {
		const char *prefix, *table;
	} prefixes[] = {
		{ "INC", "incident" }, { "PRB", "problem" }, { "CHG", "change_request" },
		{ "RITM", "sc_req_item" }, { "REQ", "sc_request" }, { "SCTASK", "sc_task" },
	};
	const char *t = ax_json_str(rec, "sys_class_name");
	size_t i;

	if (t != NULL)
		return t;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(number, prefixes[i].prefix, strlen(prefixes[i].prefix)) == 0)
			return prefixes[i].table;
	}
	return "task";
}

static int final_code(const char *table, long code)
{
	if (strcmp(table, "incident") == 0)
		return code == 6 || code == 7 || code == 8;
	if (strcmp(table, "problem") == 0)
		return code == 106 || code == 107;
	if (strcmp(table, "change_request") == 0)
		return code == 3 || code == 4;
	return code == 3 || code == 4 || code == 7;
}

/* 1 if the state text (a code or a display word) is final for table. */
static int final_state(const char *table, const char *state)
{
	char *end;
	long code;

	if (state == NULL)
		return 0;
	code = strtol(state, &end, 10);
	if (end != state && *end == '\0')
		return final_code(table, code);
	return strcasecmp(state, "resolved") == 0 || strncasecmp(state, "closed", 6) == 0 ||
	       strcasecmp(state, "canceled") == 0 || strcasecmp(state, "cancelled") == 0;
}

static int is_resolved(const cJSON *rec, const char *table, const char *state)
{
	const cJSON *active = cJSON_GetObjectItemCaseSensitive(rec, "active");
	const char *disp = sn_display(rec, "state");

	if (cJSON_IsFalse(active) ||
	    (cJSON_IsString(active) && strcmp(active->valuestring, "false") == 0))
		return 1;
	return final_state(table, state) || final_state(table, disp);
}

static enum ax_severity sn_severity(const char *prio)
{
	if (prio == NULL)
		return AX_SEV_WARNING;
	switch (prio[0]) {
	case '1':
		return AX_SEV_CRITICAL;
	case '2':
		return AX_SEV_HIGH;
	case '3':
		return AX_SEV_WARNING;
	case '4':
	case '5':
		return AX_SEV_INFO;
	default:
		return AX_SEV_WARNING;
	}
}

/* The instance base URL from instance_url or any reference's "link"
 * ("https://acme.service-now.com/api/now/table/..."), owned, or NULL. */
static char *instance_of(const cJSON *doc, const cJSON *rec)
{
	const char *u = ax_json_str(doc, "instance_url"), *p;
	const cJSON *f;

	if (u == NULL)
		u = ax_json_str(rec, "instance_url");
	if (u != NULL) {
		size_t n = strlen(u);

		while (n > 0 && u[n - 1] == '/')
			n--;
		return ax_xstrndup(u, n);
	}
	cJSON_ArrayForEach(f, rec) {
		const char *link = ax_json_str(f, "link");

		if (link != NULL && (p = strstr(link, "/api/now/")) != NULL && p != link)
			return ax_xstrndup(link, (size_t)(p - link));
	}
	return NULL;
}

/* Add key = the field's value (see sn_value) when present. */
static void add_value(cJSON *labels, const char *key, const cJSON *rec, const char *field)
{
	char *v = sn_value(rec, field);

	ax_json_add_str(labels, key, v, 0);
	free(v);
}

/* The first time among keys (values read by sn_value), owned, or NULL. */
static char *first_time(const cJSON *rec, const char *const *keys)
{
	char out[INGEST_TIME_LEN];
	size_t i;

	for (i = 0; keys[i] != NULL; i++) {
		char *v = sn_value(rec, keys[i]);
		int rc = ingest_time_str(v, out);

		free(v);
		if (rc == 0)
			return ax_xstrdup(out);
	}
	return NULL;
}

static ax_err sn_normalize(const struct ingest_driver *d, const struct ingest_input *in,
			   struct ingest_batch *out, char *errbuf, size_t errlen)
{
	static const char *const start_keys[] = { "opened_at", "sys_created_on", NULL };
	static const char *const end_keys[] = { "resolved_at", "closed_at", "sys_updated_on",
						NULL };
	const cJSON *doc = in->doc, *rec;
	const char *number, *sys_id, *table, *svc;
	char *state, *prev, *instance;
	struct ax_signal *s;

	(void)d;
	if (!cJSON_IsObject(doc)) {
		ax_errfmt(errbuf, errlen, "payload is not a JSON object");
		return AX_EPROTO;
	}
	rec = record_of(doc);
	if (rec == NULL) {
		/* Say which of the two is wrong, in the record most likely meant. */
		const cJSON *r = doc;
		size_t i;

		for (i = 0; wrappers[i] != NULL; i++) {
			if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, wrappers[i])))
				r = cJSON_GetObjectItemCaseSensitive(doc, wrappers[i]);
		}
		if (!is_sys_id(ax_json_str(r, "sys_id")))
			ax_errfmt(errbuf, errlen, "record has no \"sys_id\" of 32 hex digits");
		else
			ax_errfmt(errbuf, errlen, "record has no \"number\"");
		return AX_EPROTO;
	}
	number = ax_json_str(rec, "number");
	sys_id = ax_json_str(rec, "sys_id");
	table = table_of(rec, number);
	state = sn_value(rec, "state");
	if (state == NULL)
		state = sn_value(rec, "incident_state");

	s = ingest_batch_add(out);
	s->kind = AX_KIND_TICKET;
	s->status = is_resolved(rec, table, state) ? AX_STATUS_RESOLVED : AX_STATUS_FIRING;
	{
		char *prio = sn_value(rec, "priority");

		s->severity = sn_severity(prio);
		free(prio);
	}
	s->name = ax_xstrdup(number);
	s->summary = ingest_dup_str(rec, "short_description");
	s->description = ingest_dup_str(rec, "description");

	ax_json_add_str(s->labels, "ticket_key", number, 0);
	ax_json_add_str(s->labels, "sys_id", sys_id, 0);
	ax_json_add_str(s->labels, "table", table, 0);
	ax_json_add_str(s->labels, "ticket_status", state, 0);
	prev = sn_value(rec, "previous_state");
	if (prev == NULL)
		prev = sn_value(doc, "previous_state");
	if (prev != NULL) {
		ax_json_add_str(s->labels, "state_from", prev, 0);
		ax_json_add_str(s->labels, "state_to", state, 0);
	}
	free(prev);
	add_value(s->labels, "correlation_id", rec, "correlation_id");
	add_value(s->labels, "correlation_display", rec, "correlation_display");
	add_value(s->labels, "priority", rec, "priority");
	add_value(s->labels, "impact", rec, "impact");
	add_value(s->labels, "urgency", rec, "urgency");
	add_value(s->labels, "assignment_group", rec, "assignment_group");
	instance = instance_of(doc, rec);
	ax_json_add_str(s->labels, "instance", instance, 0);

	svc = sn_display(rec, "business_service");
	if (svc == NULL)
		svc = sn_display(rec, "cmdb_ci");
	s->service = ax_xstrdup(svc);
	s->starts_at = first_time(rec, start_keys);
	if (s->status == AX_STATUS_RESOLVED)
		s->ends_at = first_time(rec, end_keys);
	s->source = ax_xstrdup(SOURCE);
	s->source_id = ax_xstrdup(sys_id);
	if (instance != NULL)
		s->source_url = ax_xasprintf("%s/%s.do?sys_id=%s", instance, table, sys_id);
	free(instance);
	free(state);
	ax_signal_fingerprint(s, ident);
	s->raw = cJSON_Duplicate(doc, 1);
	if (s->raw == NULL)
		abort();
	return AX_OK;
}

const struct ingest_driver ingest_driver_servicenow = {
	.name = SOURCE,
	.title = "ServiceNow (outbound REST)",
	.detect = sn_detect,
	.normalize = sn_normalize,
};
