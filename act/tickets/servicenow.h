/* servicenow.h - the ServiceNow Table API client of the ticket sync.
 *
 * Requests (base = the instance, https://acme.service-now.com; <table> is
 * the configured table, incident by default):
 *   find        GET /api/now/table/<table>?sysparm_query=correlation_id%3D<id>
 *               %5EORDERBYsys_created_on&sysparm_fields=sys_id%2Cnumber%2Cstate
 *               &sysparm_limit=1   -> 200 {"result": [...]}
 *   create      POST /api/now/table/<table>  {short_description, description,
 *               urgency, impact, correlation_id, correlation_display "Alexus",
 *               assignment_group}   -> 201 {"result": {sys_id, number, state...}}
 *   comment     PATCH /api/now/table/<table>/<sys_id>  {"work_notes"}   -> 200
 *   transition  GET /api/now/table/<table>/<sys_id>?sysparm_fields=sys_id%2C
 *               number%2Cstate, then (unless it is already there) PATCH
 *               {"state": "6", "close_code", "close_notes"} to resolve or
 *               {"state": "2"} to reopen   -> 200
 * Every request carries Accept: application/json and the credential as
 * Authorization (Basic of "user:password", or an OAuth Bearer token).
 * Errors are {"error": {"message", "detail"}, "status": "failure"}.
 * Choice fields travel as their string codes (no sysparm_display_value).
 *
 * Each function is one attempt (rest.h), as in jira.h. */
#ifndef ACT_TICKETS_SERVICENOW_H
#define ACT_TICKETS_SERVICENOW_H

#include <cjson/cJSON.h>

#include "rest.h"

#define ACT_SNOW_SUMMARY_MAX 160   /* bytes: short_description's default length */

struct act_snow {
	struct act_rest rest;           /* error_of is set by the functions here */
	const char *table;              /* "incident" */
	const char *assignment_group;   /* NULL/"": none */
	const char *resolve_state;      /* NULL/"": "6" (Resolved) */
	const char *reopen_state;       /* NULL/"": "2" (In Progress) */
	const char *close_code;         /* sent with a resolve: "Solved (Permanently)" */
};

/* urgency and impact ("1".."3") for a severity: critical 1/1, high 2/1,
 * warning 2/2, info 3/3 (priorities 1, 2, 3 and 5 by the default
 * lookup); anything else is warning's. */
void act_snow_urgency_impact(const char *severity, const char **urgency, const char **impact);

/* ServiceNow's error document as "message: detail" (or the message). */
void act_snow_error(const cJSON *doc, char *buf, size_t n);

/* 1 when state (a code) is final for the client's table: the resolve
 * state, or for incident 6 Resolved, 7 Closed, 8 Canceled. */
int act_snow_final(const struct act_snow *s, const char *state);

/* The oldest record of the table whose correlation_id is incident_id.
 * 1 found (ref filled), 0 none (out->ok), -1 failed. */
int act_snow_find(const struct act_snow *s, const char *incident_id, struct act_ticket_ref *ref,
		  struct act_outcome *out);

/* Create the record of d.  1 with ref (number, sys_id, state) filled, or 0. */
int act_snow_create(const struct act_snow *s, const struct act_ticket_doc *d,
		    struct act_ticket_ref *ref, struct act_outcome *out);

/* Add d (text and link) to the record's work notes.  1 or 0. */
int act_snow_comment(const struct act_snow *s, const char *sys_id,
		     const struct act_ticket_doc *d, struct act_outcome *out);

/* Resolve the record (close_notes from d's text) or reopen it.  1 moved,
 * 0 already there (nothing sent but the state read), -1 failed;
 * ref->status and ->resolved get its state afterwards. */
int act_snow_transition(const struct act_snow *s, const char *sys_id, int resolve,
			const struct act_ticket_doc *d, struct act_ticket_ref *ref,
			struct act_outcome *out);

#endif /* ACT_TICKETS_SERVICENOW_H */
