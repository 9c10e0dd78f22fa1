/* jira.h - the Jira Cloud REST API v3 client of the ticket sync.
 *
 * Requests (base = the site, https://acme.atlassian.net):
 *   find        POST /rest/api/3/search/jql  {"jql": "project = \"OPS\" AND
 *               labels = \"alexus:<incident id>\" ORDER BY created ASC",
 *               "fields": ["status"], "maxResults": 1}   -> 200 {"issues": [...]}
 *   create      POST /rest/api/3/issue  {"fields": {project.key, issuetype.name,
 *               summary, description (ADF), labels ["alexus", "alexus:<id>"],
 *               priority.name}}   -> 201 {"id", "key", "self"}
 *   comment     POST /rest/api/3/issue/{key}/comment  {"body": ADF}   -> 201
 *   transition  GET /rest/api/3/issue/{key}?fields=status, then (unless it is
 *               already there) GET .../transitions and POST .../transitions
 *               {"transition": {"id"}}   -> 204
 * Every request carries Accept: application/json and the credential as
 * Authorization (Basic of "email:api_token", or Bearer).  Errors are
 * Jira's {"errorMessages": [...], "errors": {field: message}}.  v3 takes
 * rich text only as Atlassian Document Format (act_jira_adf).
 *
 * Each function is one attempt (rest.h): it returns as documented and
 * fills out; nothing here retries, logs or touches the database. */
#ifndef ACT_TICKETS_JIRA_H
#define ACT_TICKETS_JIRA_H

#include <cjson/cJSON.h>

#include "rest.h"

#define ACT_JIRA_SUMMARY_MAX 255   /* bytes; Jira refuses a longer summary */

struct act_jira {
	struct act_rest rest;       /* error_of is set by the functions here */
	const char *project;        /* project key */
	const char *issue_type;     /* issue type name ("Incident", "Bug"...) */
	const char *resolve;        /* transition or status name; NULL/"": into category done */
	const char *reopen;         /* likewise; NULL/"": into category new, else indeterminate */
	const cJSON *priorities;    /* severity -> priority name; NULL: the defaults */
};

/* An ADF document of text (one paragraph per non-empty line) and, when
 * link is not NULL, a last paragraph linking to it.  cJSON_Delete. */
cJSON *act_jira_adf(const char *text, const char *link);

/* The priority name for severity: j->priorities[severity] when the map is
 * set (NULL when it lacks the severity: send none), else Highest, High,
 * Medium, Low for critical, high, warning, info (NULL for anything else). */
const char *act_jira_priority(const struct act_jira *j, const char *severity);

/* Jira's error document as one line: errorMessages joined by "; ", then
 * each "field: message" of errors. */
void act_jira_error(const cJSON *doc, char *buf, size_t n);

/* The issue of project carrying the label alexus:<incident_id>, oldest
 * first.  1 found (ref filled), 0 none (out->ok), -1 failed. */
int act_jira_find(const struct act_jira *j, const char *incident_id, struct act_ticket_ref *ref,
		  struct act_outcome *out);

/* Create the issue of d.  1 with ref (key, id; open) filled, or 0. */
int act_jira_create(const struct act_jira *j, const struct act_ticket_doc *d,
		    struct act_ticket_ref *ref, struct act_outcome *out);

/* Comment d (text and link) on issue key.  1 or 0. */
int act_jira_comment(const struct act_jira *j, const char *key, const struct act_ticket_doc *d,
		     struct act_outcome *out);

/* Move issue key to done (resolve) or back out of it (!resolve).  1 moved,
 * 0 already there (nothing sent but the status read), -1 failed (no
 * transition fits is a permanent failure).  ref->status and ->resolved
 * get the state it is in afterwards. */
int act_jira_transition(const struct act_jira *j, const char *key, int resolve,
			struct act_ticket_ref *ref, struct act_outcome *out);

#endif /* ACT_TICKETS_JIRA_H */
