/* ticket.h - what a ticket signal (a Jira or ServiceNow webhook, through
 * ingest's drivers) does to its incident: the inbound half of the two-way
 * ticket sync whose outbound half is act/ticket.c.
 *
 * reason/handle.c calls these inside the open transaction of its unit of
 * work, scoped to the tenant, and applies the verdict with its own helpers
 * (stage event, notify action, the incident write), so a ticket closed by
 * a human resolves the incident exactly as its last alert would have. */
#ifndef REASON_TICKET_H
#define REASON_TICKET_H

#include <stddef.h>
#include <libpq-fe.h>
#include <cjson/cJSON.h>

#include "alexus/hash.h"
#include "alexus/pg.h"
#include "alexus/signal.h"

/* The incident columns reason_ticket_lookup returns in t->inc, in the
 * order of handle.c's Q_LOCK (id, title, severity, category, confidence,
 * stage, group_key, service, alert_count, opened_at, trace, idle seconds,
 * firing_count, status), so handle.c reads both with one function.
 * Checklist: change the two together. */
#define REASON_TICKET_INC_COLS 14

/* A ticket signal, looked up. */
struct reason_ticket {
	PGresult *inc;                  /* the incident, locked (FOR UPDATE); NULL: unknown */
	char incident_id[AX_UUID_LEN];
	char other_open[AX_UUID_LEN];   /* another open incident of its group in the
	                                 * database, "" none */
	char row[AX_UUID_LEN];          /* the tickets row (locked), "" when the ticket was
	                                 * found by its correlation id alone */
	const char *system;             /* jira | servicenow (the signal's source) */
	const char *key;                /* OPS-123 | INC0010001 (label ticket_key) */
	const char *status;             /* its status as the system names it, or NULL */
	int resolved;                   /* the signal says: closed (1) or open (0) */
	int was_resolved;               /* the row's last known state; -1 without a row */
	int echo;                       /* the state hashes to the row's last_echo_hash */
	char by[128];                   /* who changed it, from the payload; "" unknown */
};

/* What the signal does. */
enum reason_ticket_verdict {
	REASON_TICKET_UNKNOWN,  /* no ticket, no incident of its correlation: nothing */
	REASON_TICKET_ECHO,     /* our own change echoed back: a stage event only */
	REASON_TICKET_SAME,     /* no change the incident needs to follow: nothing */
	REASON_TICKET_RESOLVE,  /* closed by a human: resolve the incident */
	REASON_TICKET_REOPEN,   /* reopened: reopen the incident */
	REASON_TICKET_NOTE,     /* reopened while its group has another open incident:
	                         * a stage event only */
};

/* Find s's ticket: the tickets row of (source, ticket_key) -- or of the
 * system's own id (ticket_id / sys_id label), which survives a Jira
 * project move -- else the incident its correlation_id label names.
 * Locks the row and the incident.  0 with t filled (t->inc NULL when
 * unknown), or -1 with errbuf (a database error: the unit fails).
 * reason_ticket_release t in both cases. */
int reason_ticket_lookup(struct ax_pg *pg, const struct ax_signal *s, struct reason_ticket *t,
			 char *errbuf, size_t errlen);
void reason_ticket_release(struct reason_ticket *t);

/* The verdict for t, given whether its incident is open now (as the unit
 * sees it) and whether the incident's group has another open incident.
 * The echo test comes first; then only a change of the ticket's state
 * counts (against the row, or against the incident's state when there is
 * no row), so a comment on an open ticket never reopens anything.  *stage
 * (static) and *out (cJSON_Delete) get the stage event to record, or NULL
 * for none. */
enum reason_ticket_verdict reason_ticket_decide(const struct reason_ticket *t, int incident_open,
						int other_open, const char **stage, cJSON **out);

/* A short static phrase for the log line of the signal. */
const char *reason_ticket_outcome(enum reason_ticket_verdict v);

/* Note the ticket's state on its row (when it has one): resolved,
 * external_status, last_synced_at; and after a human change (not an
 * echo, and a change of state) forget last_echo_hash, so the same change
 * made again later by a human is not taken for ours.  0, or -1 with
 * errbuf. */
int reason_ticket_record(struct ax_pg *pg, const struct reason_ticket *t, char *errbuf,
			 size_t errlen);

/* Hex SHA-256 of "<system>|<key>|resolved" or "...|open".  Checklist: the
 * same as act_ticket_echo_hash (act/tickets/rest.c), which writes the
 * hash this compares with; tests/unit/test_ticket_sync.c holds them equal. */
void reason_ticket_echo_hash(const char *system, const char *key, int resolved,
			     char out[AX_SHA256_HEX]);

#endif /* REASON_TICKET_H */
