/* servicenow.c - the ServiceNow Table API client (see servicenow.h).
 *
 * Design notes:
 * - Idempotency of a create rests on correlation_id, the Table API's field
 *   for "the id of this record in another system": the caller asks
 *   act_snow_find before creating, so a create retried after a crash finds
 *   the record instead of opening a second one.
 * - Records are addressed by sys_id (stable; an admin may renumber), the
 *   number is what people read and what the webhooks carry as the key.
 * - Resolving reads the state first: a human may have resolved or closed
 *   the record already, and a closed incident is read-only (a PATCH would
 *   be refused by its ACL).  A resolve sends close_code and close_notes
 *   because the stock data policy for state 6 requires both.
 * - work_notes and close_notes are plain text: the link goes on a line of
 *   its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servicenow.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define RESOLVE_STATE "6"
#define REOPEN_STATE "2"
static const char FIELDS[] = "sys_id%2Cnumber%2Cstate";   /* sys_id,number,state */

static cJSON *obj(void)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	return o;
}

static void add_s(cJSON *to, const char *key, const char *v)
{
	if (cJSON_AddStringToObject(to, key, v) == NULL)
		abort();
}

void act_snow_urgency_impact(const char *severity, const char **urgency, const char **impact)
{
	static const char *const map[][3] = {
		{ "critical", "1", "1" }, { "high", "2", "1" }, { "warning", "2", "2" },
		{ "info", "3", "3" },
	};
	size_t i;

	*urgency = *impact = "2";
	for (i = 0; severity != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i][0], severity) == 0) {
			*urgency = map[i][1];
			*impact = map[i][2];
		}
	}
}

void act_snow_error(const cJSON *doc, char *buf, size_t n)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	const char *msg = ax_json_str(e, "message"), *detail = ax_json_str(e, "detail");

	if (n == 0)
		return;
	if (msg != NULL && detail != NULL)
		snprintf(buf, n, "%s: %s", msg, detail);
	else
		snprintf(buf, n, "%s", msg != NULL ? msg : detail != NULL ? detail : "");
}

static const char *or_default(const char *v, const char *def)
{
	return v != NULL && v[0] != '\0' ? v : def;
}

int act_snow_final(const struct act_snow *s, const char *state)
{
	if (state == NULL || state[0] == '\0')
		return 0;
	if (strcmp(state, or_default(s->resolve_state, RESOLVE_STATE)) == 0)
		return 1;
	return strcmp(or_default(s->table, "incident"), "incident") == 0 &&
	       (strcmp(state, "6") == 0 || strcmp(state, "7") == 0 || strcmp(state, "8") == 0);
}

static struct act_rest rest_of(const struct act_snow *s)
{
	struct act_rest r = s->rest;

	r.error_of = act_snow_error;
	return r;
}

/* A field of a record as text: a string, or the "value" of a reference. */
static const char *field(const cJSON *rec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);

	if (cJSON_IsObject(v))
		return ax_json_str(v, "value");
	return cJSON_GetStringValue(v);
}

static void read_record(const struct act_snow *s, struct act_ticket_ref *ref, const cJSON *rec)
{
	const char *number = field(rec, "number"), *id = field(rec, "sys_id");
	const char *state = field(rec, "state");

	snprintf(ref->key, sizeof(ref->key), "%s", number != NULL ? number : "");
	snprintf(ref->id, sizeof(ref->id), "%s", id != NULL ? id : "");
	snprintf(ref->status, sizeof(ref->status), "%s", state != NULL ? state : "");
	ref->resolved = act_snow_final(s, ref->status);
}

static char *table_path(const struct act_snow *s)
{
	char *t = act_rest_escape(or_default(s->table, "incident"));
	char *p = ax_xasprintf("/api/now/table/%s", t);

	free(t);
	return p;
}

int act_snow_find(const struct act_snow *s, const char *incident_id, struct act_ticket_ref *ref,
		  struct act_outcome *out)
{
	struct act_rest r = rest_of(s);
	char *base = table_path(s), *q, *eq, *path;
	const cJSON *list, *first;
	cJSON *doc = NULL;
	int found;

	memset(ref, 0, sizeof(*ref));
	q = ax_xasprintf("correlation_id=%s^ORDERBYsys_created_on", incident_id);
	eq = act_rest_escape(q);
	path = ax_xasprintf("%s?sysparm_query=%s&sysparm_fields=%s&sysparm_limit=1", base, eq,
			    FIELDS);
	act_rest_call(&r, "find record", "GET", path, NULL, &doc, out);
	free(base);
	free(q);
	free(eq);
	free(path);
	if (!out->ok) {
		cJSON_Delete(doc);
		return -1;
	}
	list = cJSON_GetObjectItemCaseSensitive(doc, "result");
	if (!cJSON_IsArray(list)) {
		act_rest_fail(out, "find record", "the answer has no \"result\" array");
		cJSON_Delete(doc);
		return -1;
	}
	first = cJSON_GetArrayItem(list, 0);
	found = first != NULL;
	if (found) {
		read_record(s, ref, first);
		if (ref->key[0] == '\0' || ref->id[0] == '\0') {
			act_rest_fail(out, "find record", "a record without number or sys_id");
			found = -1;
		}
	}
	cJSON_Delete(doc);
	return found;
}

/* d's text with the link on a line of its own; owned. */
static char *plain(const struct act_ticket_doc *d)
{
	const char *t = d->text != NULL ? d->text : "";

	if (d->link == NULL || d->link[0] == '\0')
		return ax_xstrdup(t);
	return ax_xasprintf("%s%s%s", t, t[0] != '\0' ? "\n" : "", d->link);
}

int act_snow_create(const struct act_snow *s, const struct act_ticket_doc *d,
		    struct act_ticket_ref *ref, struct act_outcome *out)
{
	struct act_rest r = rest_of(s);
	cJSON *body = obj(), *doc = NULL;
	const char *urgency, *impact;
	char *summary = act_rest_cut(d->summary != NULL ? d->summary : "", ACT_SNOW_SUMMARY_MAX);
	char *text = plain(d), *path = table_path(s);

	memset(ref, 0, sizeof(*ref));
	act_snow_urgency_impact(d->severity, &urgency, &impact);
	add_s(body, "short_description", summary);
	add_s(body, "description", text);
	add_s(body, "urgency", urgency);
	add_s(body, "impact", impact);
	add_s(body, "correlation_id", d->incident_id);
	add_s(body, "correlation_display", "Alexus");
	if (s->assignment_group != NULL && s->assignment_group[0] != '\0')
		add_s(body, "assignment_group", s->assignment_group);
	free(summary);
	free(text);
	act_rest_call(&r, "create record", "POST", path, body, &doc, out);
	cJSON_Delete(body);
	free(path);
	if (out->ok) {
		read_record(s, ref, cJSON_GetObjectItemCaseSensitive(doc, "result"));
		if (ref->key[0] == '\0' || ref->id[0] == '\0')
			act_rest_fail(out, "create record", "the answer has no number and sys_id");
	}
	cJSON_Delete(doc);
	return out->ok;
}

static char *record_path(const struct act_snow *s, const char *sys_id)
{
	char *base = table_path(s), *id = act_rest_escape(sys_id);
	char *p = ax_xasprintf("%s/%s", base, id);

	free(base);
	free(id);
	return p;
}

int act_snow_comment(const struct act_snow *s, const char *sys_id,
		     const struct act_ticket_doc *d, struct act_outcome *out)
{
	struct act_rest r = rest_of(s);
	cJSON *body = obj();
	char *text = plain(d), *path = record_path(s, sys_id);

	add_s(body, "work_notes", text);
	free(text);
	act_rest_call(&r, "add work note", "PATCH", path, body, NULL, out);
	cJSON_Delete(body);
	free(path);
	return out->ok;
}

int act_snow_transition(const struct act_snow *s, const char *sys_id, int resolve,
			const struct act_ticket_doc *d, struct act_ticket_ref *ref,
			struct act_outcome *out)
{
	const char *what = resolve ? "resolve record" : "reopen record";
	struct act_rest r = rest_of(s);
	char *path = record_path(s, sys_id), *get;
	cJSON *doc = NULL, *body;
	int rc = -1;

	get = ax_xasprintf("%s?sysparm_fields=%s", path, FIELDS);
	act_rest_call(&r, what, "GET", get, NULL, &doc, out);
	free(get);
	if (!out->ok)
		goto out;
	read_record(s, ref, cJSON_GetObjectItemCaseSensitive(doc, "result"));
	if (ref->status[0] == '\0') {
		act_rest_fail(out, what, "the record has no state");
		goto out;
	}
	if (ref->resolved == resolve) {
		rc = 0;
		goto out;
	}
	body = obj();
	if (resolve) {
		char *text = plain(d);

		add_s(body, "state", or_default(s->resolve_state, RESOLVE_STATE));
		add_s(body, "close_code", or_default(s->close_code, "Solved (Permanently)"));
		add_s(body, "close_notes", text[0] != '\0' ? text : "Resolved in Alexus");
		free(text);
	} else {
		add_s(body, "state", or_default(s->reopen_state, REOPEN_STATE));
	}
	act_rest_call(&r, what, "PATCH", path, body, NULL, out);
	cJSON_Delete(body);
	if (out->ok) {
		snprintf(ref->status, sizeof(ref->status), "%s",
			 resolve ? or_default(s->resolve_state, RESOLVE_STATE) :
				   or_default(s->reopen_state, REOPEN_STATE));
		ref->resolved = resolve;
		rc = 1;
	}
out:
	cJSON_Delete(doc);
	free(path);
	return rc;
}
