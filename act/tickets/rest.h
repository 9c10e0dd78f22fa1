/* rest.h - what the Jira and ServiceNow clients share: one JSON request to
 * the system with its credential, the answer mapped to a sender outcome;
 * the ticket and content types both clients take; the echo hash.
 *
 * The clients (jira.h, servicenow.h) never touch the database and never
 * retry: one call is one attempt, and the durable retry schedule is the
 * fan-out's (target.h).  An outcome's error names the request ("create
 * issue: HTTP 400: summary: ...") and what the system said, never the
 * credential or a URL. */
#ifndef ACT_TICKETS_REST_H
#define ACT_TICKETS_REST_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "alexus/hash.h"
#include "../target.h"

/* The system's error document -> one line (buf, n bytes). */
typedef void act_rest_error_fn(const cJSON *doc, char *buf, size_t n);

/* How to reach one system.  Borrowed strings. */
struct act_rest {
	const char *base_url;       /* "https://acme.atlassian.net"; a trailing '/' is ignored */
	const char *auth;           /* the "Authorization: ..." header line (act_rest_auth_line) */
	int timeout_ms;             /* per request; <= 0 is 5000 */
	act_rest_error_fn *error_of;
};

/* A ticket as far as the sync tracks it. */
struct act_ticket_ref {
	char key[64];       /* OPS-123, INC0010001 */
	char id[64];        /* Jira issue id, ServiceNow sys_id */
	char status[64];    /* status name (Jira), state code (ServiceNow), "" unknown */
	int resolved;       /* status category done (Jira), state 6/7/8 (ServiceNow) */
};

/* What a ticket or a comment says, system-neutral.  text is plain text,
 * one paragraph per line; link (may be NULL) is the incident's page. */
struct act_ticket_doc {
	const char *incident_id;    /* the correlation: a Jira label, a ServiceNow field */
	const char *severity;       /* critical | high | warning | info */
	const char *summary;        /* one line; clients cut it to the system's limit */
	const char *text;
	const char *link;
};

/* "Authorization: Basic <base64 of cred>" (scheme "basic": user:secret)
 * or "Authorization: Bearer <cred>" (anything else), in a new buffer the
 * caller wipes (ax_cred_wipe over strlen + 1) and frees.  Control
 * characters in cred are dropped so a stored value cannot split the
 * header block. */
char *act_rest_auth_line(const char *scheme, const char *cred, size_t len);

/* One request: method to base_url + path (path already escaped, starts
 * with '/'); body (may be NULL) is sent as JSON.  *doc (doc may be NULL)
 * gets the parsed answer when it is JSON (cJSON_Delete), else NULL.
 * what names the request in errors ("create issue").  Fills out: ok for a
 * 2xx; retryable for a timeout, a transport error, 408, 429 (with
 * retry_after_s) or a 5xx; otherwise a permanent failure; error from the
 * system's document when it has one; host is the base URL's host.
 * Returns out->ok. */
int act_rest_call(const struct act_rest *r, const char *what, const char *method,
		  const char *path, const cJSON *body, cJSON **doc, struct act_outcome *out);

/* Set out to a permanent failure of what with a message (ok 0, retryable
 * 0, http_status kept). */
void act_rest_fail(struct act_outcome *out, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* s cut to at most max bytes, never inside a UTF-8 sequence (the
 * systems count characters, so a byte limit is safe); free() the result. */
char *act_rest_cut(const char *s, size_t max);

/* The host of url into host ("" when it does not parse); 0 or -1. */
int act_rest_host(const char *url, char *host, size_t n);

/* s escaped for a URL path segment or query value (curl_easy_escape);
 * free() the result. */
char *act_rest_escape(const char *s);

/* The loop-prevention hash: hex SHA-256 of "<system>|<key>|resolved" or
 * "<system>|<key>|open", what the ticket looks like after our change.
 * Checklist: reason_ticket_echo_hash (reason/ticket.c) computes the same
 * for an incoming webhook; tests/unit/test_ticket_sync.c holds the two equal. */
void act_ticket_echo_hash(const char *system, const char *key, int resolved,
			  char out[AX_SHA256_HEX]);

#endif /* ACT_TICKETS_REST_H */
