/* jira.c - the Jira Cloud REST API v3 client (see jira.h).
 *
 * Design notes:
 * - Idempotency of a create rests on the label alexus:<incident id>: the
 *   caller asks act_jira_find before creating, so a create retried after a
 *   crash (issue made, tickets row not written) finds the issue instead of
 *   opening a second one.  The search uses the enhanced JQL endpoint
 *   (/rest/api/3/search/jql; the older /search was withdrawn from Jira
 *   Cloud in 2025) with a bounded query, as it now requires.  Jira's
 *   search index trails writes by a moment, so a retry within that moment
 *   of a crash could still miss the issue (a known limit, narrow in
 *   practice: a crashed attempt is retried once its lease has run out).
 * - Resolving reads the issue's status first.  A human may have closed it
 *   already (then nothing is sent: the loop that would otherwise follow is
 *   exactly what the echo hash and this check prevent), and transitions
 *   are relative to the current status: the one into "done" is found by
 *   the target status's category, which is stable across workflows,
 *   unless the tenant named one.
 * - Text goes out as Atlassian Document Format, the only rich text v3
 *   accepts for description and comment bodies: paragraphs of text nodes
 *   (a text node may not be empty, so blank lines are dropped) and a link
 *   mark for the incident's page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jira.h"
#include "alexus/json.h"
#include "alexus/mem.h"

#define LABEL "alexus"

static cJSON *obj(void)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	return o;
}

static cJSON *arr(void)
{
	cJSON *a = cJSON_CreateArray();

	if (a == NULL)
		abort();
	return a;
}

static void add(cJSON *to, const char *key, cJSON *item)
{
	if (item == NULL || !(key != NULL ? cJSON_AddItemToObject(to, key, item) :
					    cJSON_AddItemToArray(to, item)))
		abort();
}

static void add_s(cJSON *to, const char *key, const char *v)
{
	add(to, key, cJSON_CreateString(v));
}

/* {"type": "text", "text": s[0..n)} with a link mark when href. */
static cJSON *text_node(const char *s, size_t n, const char *href)
{
	cJSON *t = obj();
	char *v = ax_xstrndup(s, n);

	add_s(t, "type", "text");
	add_s(t, "text", v);
	free(v);
	if (href != NULL) {
		cJSON *marks = arr(), *m = obj(), *attrs = obj();

		add_s(m, "type", "link");
		add_s(attrs, "href", href);
		add(m, "attrs", attrs);
		add(marks, NULL, m);
		add(t, "marks", marks);
	}
	return t;
}

static void add_paragraph(cJSON *content, cJSON *node)
{
	cJSON *p = obj(), *c = arr();

	add_s(p, "type", "paragraph");
	add(c, NULL, node);
	add(p, "content", c);
	add(content, NULL, p);
}

cJSON *act_jira_adf(const char *text, const char *link)
{
	cJSON *doc = obj(), *content = arr();
	const char *p = text != NULL ? text : "";

	add_s(doc, "type", "doc");
	add(doc, "version", cJSON_CreateNumber(1));
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");

		if (n > 0)
			add_paragraph(content, text_node(p, n, NULL));
		p += n;
		if (*p == '\n')
			p++;
	}
	if (link != NULL && link[0] != '\0')
		add_paragraph(content, text_node("Open in Alexus", 14, link));
	add(doc, "content", content);
	return doc;
}

const char *act_jira_priority(const struct act_jira *j, const char *severity)
{
	static const char *const defaults[][2] = {
		{ "critical", "Highest" }, { "high", "High" }, { "warning", "Medium" },
		{ "info", "Low" },
	};
	size_t i;

	if (severity == NULL)
		return NULL;
	if (j->priorities != NULL)
		return ax_json_str(j->priorities, severity);
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (strcmp(defaults[i][0], severity) == 0)
			return defaults[i][1];
	return NULL;
}

/* Append s to buf (n bytes, NUL-terminated), "; " between parts. */
static void append(char *buf, size_t n, const char *s)
{
	size_t k = strlen(buf);

	if (k > 0 && k + 2 < n) {
		memcpy(buf + k, "; ", 3);
		k += 2;
	}
	snprintf(buf + k, n - k, "%s", s);
}

void act_jira_error(const cJSON *doc, char *buf, size_t n)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(doc, "errorMessages");
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(doc, "errors"), *e;

	if (n == 0)
		return;
	buf[0] = '\0';
	if (!cJSON_IsArray(msgs))
		msgs = NULL;
	if (!cJSON_IsObject(errs))
		errs = NULL;
	cJSON_ArrayForEach(e, msgs) {
		if (cJSON_IsString(e) && e->valuestring[0] != '\0')
			append(buf, n, e->valuestring);
	}
	cJSON_ArrayForEach(e, errs) {
		if (cJSON_IsString(e) && e->string != NULL) {
			char *part = ax_xasprintf("%s: %s", e->string, e->valuestring);

			append(buf, n, part);
			free(part);
		}
	}
}

static struct act_rest rest_of(const struct act_jira *j)
{
	struct act_rest r = j->rest;

	r.error_of = act_jira_error;
	return r;
}

/* s quoted as a JQL string: "..." with \ and " escaped. */
static char *jql_quote(const char *s)
{
	char *q = ax_xmalloc(2 * strlen(s) + 3), *w = q;

	*w++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*w++ = '\\';
		*w++ = *s;
	}
	*w++ = '"';
	*w = '\0';
	return q;
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

/* ref's status from an issue's fields.status. */
static void read_status(struct act_ticket_ref *ref, const cJSON *issue)
{
	const cJSON *st = ax_json_ptr(issue, "/fields/status");
	const char *cat = ax_json_str(ax_json_ptr(issue, "/fields/status/statusCategory"), "key");

	copy(ref->status, sizeof(ref->status), ax_json_str(st, "name"));
	ref->resolved = cat != NULL && strcmp(cat, "done") == 0;
}

static void read_ids(struct act_ticket_ref *ref, const cJSON *issue)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(issue, "id");

	copy(ref->key, sizeof(ref->key), ax_json_str(issue, "key"));
	if (cJSON_IsNumber(id))
		snprintf(ref->id, sizeof(ref->id), "%.0f", id->valuedouble);
	else
		copy(ref->id, sizeof(ref->id), ax_json_str(issue, "id"));
}

int act_jira_find(const struct act_jira *j, const char *incident_id, struct act_ticket_ref *ref,
		  struct act_outcome *out)
{
	struct act_rest r = rest_of(j);
	cJSON *body = obj(), *fields = arr(), *doc = NULL;
	const cJSON *issues, *first;
	char *project = jql_quote(j->project), *label, *qlabel, *jql;
	int found;

	memset(ref, 0, sizeof(*ref));
	label = ax_xasprintf(LABEL ":%s", incident_id);
	qlabel = jql_quote(label);
	jql = ax_xasprintf("project = %s AND labels = %s ORDER BY created ASC", project, qlabel);
	add_s(body, "jql", jql);
	add_s(fields, NULL, "status");
	add(body, "fields", fields);
	add(body, "maxResults", cJSON_CreateNumber(1));
	free(project);
	free(label);
	free(qlabel);
	free(jql);
	act_rest_call(&r, "search issues", "POST", "/rest/api/3/search/jql", body, &doc, out);
	cJSON_Delete(body);
	if (!out->ok) {
		cJSON_Delete(doc);
		return -1;
	}
	issues = cJSON_GetObjectItemCaseSensitive(doc, "issues");
	if (!cJSON_IsArray(issues)) {
		act_rest_fail(out, "search issues", "the answer has no \"issues\" array");
		cJSON_Delete(doc);
		return -1;
	}
	first = cJSON_GetArrayItem(issues, 0);
	found = first != NULL;
	if (found) {
		read_ids(ref, first);
		read_status(ref, first);
		if (ref->key[0] == '\0') {
			act_rest_fail(out, "search issues", "an issue without a key");
			found = -1;
		}
	}
	cJSON_Delete(doc);
	return found;
}

int act_jira_create(const struct act_jira *j, const struct act_ticket_doc *d,
		    struct act_ticket_ref *ref, struct act_outcome *out)
{
	struct act_rest r = rest_of(j);
	cJSON *body = obj(), *f = obj(), *o, *labels = arr(), *doc = NULL;
	const char *prio = act_jira_priority(j, d->severity);
	char *summary = act_rest_cut(d->summary != NULL ? d->summary : "", ACT_JIRA_SUMMARY_MAX);
	char *label = ax_xasprintf(LABEL ":%s", d->incident_id);

	memset(ref, 0, sizeof(*ref));
	o = obj();
	add_s(o, "key", j->project);
	add(f, "project", o);
	o = obj();
	add_s(o, "name", j->issue_type);
	add(f, "issuetype", o);
	add_s(f, "summary", summary);
	add(f, "description", act_jira_adf(d->text, d->link));
	add_s(labels, NULL, LABEL);
	add_s(labels, NULL, label);
	add(f, "labels", labels);
	if (prio != NULL) {
		o = obj();
		add_s(o, "name", prio);
		add(f, "priority", o);
	}
	add(body, "fields", f);
	free(summary);
	free(label);
	act_rest_call(&r, "create issue", "POST", "/rest/api/3/issue", body, &doc, out);
	cJSON_Delete(body);
	if (out->ok) {
		read_ids(ref, doc);
		if (ref->key[0] == '\0' || ref->id[0] == '\0')
			act_rest_fail(out, "create issue", "the answer has no issue key and id");
	}
	cJSON_Delete(doc);
	return out->ok;
}

int act_jira_comment(const struct act_jira *j, const char *key, const struct act_ticket_doc *d,
		     struct act_outcome *out)
{
	struct act_rest r = rest_of(j);
	cJSON *body = obj();
	char *ekey = act_rest_escape(key), *path;

	add(body, "body", act_jira_adf(d->text, d->link));
	path = ax_xasprintf("/rest/api/3/issue/%s/comment", ekey);
	act_rest_call(&r, "add comment", "POST", path, body, NULL, out);
	cJSON_Delete(body);
	free(path);
	free(ekey);
	return out->ok;
}

/* The transition of list that takes the issue where want says: named
 * (transition or target status name, case-insensitively), else by the
 * target's status category. */
static const cJSON *pick_transition(const cJSON *list, int resolve, const char *want)
{
	static const char *const reopen_cats[] = { "new", "indeterminate" };
	const cJSON *t;
	size_t i;

	if (want != NULL && want[0] != '\0') {
		cJSON_ArrayForEach(t, list) {
			const char *name = ax_json_str(t, "name");
			const char *to = ax_json_str(ax_json_ptr(t, "/to"), "name");

			if ((name != NULL && strcasecmp(name, want) == 0) ||
			    (to != NULL && strcasecmp(to, want) == 0))
				return t;
		}
		return NULL;
	}
	for (i = 0; i < (resolve ? 1 : 2); i++) {
		const char *cat = resolve ? "done" : reopen_cats[i];

		cJSON_ArrayForEach(t, list) {
			const char *k = ax_json_str(ax_json_ptr(t, "/to/statusCategory"), "key");

			if (k != NULL && strcmp(k, cat) == 0)
				return t;
		}
	}
	return NULL;
}

int act_jira_transition(const struct act_jira *j, const char *key, int resolve,
			struct act_ticket_ref *ref, struct act_outcome *out)
{
	const char *what = resolve ? "resolve issue" : "reopen issue";
	const char *want = resolve ? j->resolve : j->reopen;
	struct act_rest r = rest_of(j);
	char *ekey = act_rest_escape(key), *path;
	const cJSON *list, *t, *id;
	cJSON *doc = NULL, *body;
	int rc = -1;

	copy(ref->key, sizeof(ref->key), key);
	path = ax_xasprintf("/rest/api/3/issue/%s?fields=status", ekey);
	act_rest_call(&r, what, "GET", path, NULL, &doc, out);
	free(path);
	if (!out->ok)
		goto out;
	read_ids(ref, doc);
	copy(ref->key, sizeof(ref->key), key);
	read_status(ref, doc);
	if (ref->status[0] == '\0') {
		act_rest_fail(out, what, "the issue has no status");
		goto out;
	}
	/* Already there: a human moved it (or our earlier attempt did).  Any
	 * status of category done is resolved, whichever one was named. */
	if (ref->resolved == resolve) {
		rc = 0;
		goto out;
	}
	cJSON_Delete(doc);
	doc = NULL;
	path = ax_xasprintf("/rest/api/3/issue/%s/transitions", ekey);
	act_rest_call(&r, what, "GET", path, NULL, &doc, out);
	if (!out->ok) {
		free(path);
		goto out;
	}
	list = cJSON_GetObjectItemCaseSensitive(doc, "transitions");
	t = cJSON_IsArray(list) ? pick_transition(list, resolve, want) : NULL;
	id = cJSON_GetObjectItemCaseSensitive(t, "id");
	if (t == NULL || !(cJSON_IsString(id) || cJSON_IsNumber(id))) {
		if (want != NULL && want[0] != '\0')
			act_rest_fail(out, what, "no transition \"%s\" from status \"%s\"", want,
				      ref->status);
		else
			act_rest_fail(out, what, "no transition to a %s status from \"%s\"",
				      resolve ? "done" : "to-do or in-progress", ref->status);
		free(path);
		goto out;
	}
	body = obj();
	{
		cJSON *tr = obj();
		char idtext[32];

		if (cJSON_IsNumber(id))
			snprintf(idtext, sizeof(idtext), "%.0f", id->valuedouble);
		else
			snprintf(idtext, sizeof(idtext), "%s", id->valuestring);
		add_s(tr, "id", idtext);
		add(body, "transition", tr);
	}
	copy(ref->status, sizeof(ref->status),
	     ax_json_str(cJSON_GetObjectItemCaseSensitive(t, "to"), "name"));
	act_rest_call(&r, what, "POST", path, body, NULL, out);
	cJSON_Delete(body);
	free(path);
	if (out->ok) {
		ref->resolved = resolve;
		rc = 1;
	}
out:
	cJSON_Delete(doc);
	free(ekey);
	return rc;
}
