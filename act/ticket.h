/* ticket.h - an incident's tickets in the tenant's ticket systems (Jira
 * Cloud, ServiceNow), kept in step with the incident: opened with it,
 * commented on as it is diagnosed, acted on, waits for approval or is
 * escalated, resolved (and reopened) with it.
 *
 * A ticket system is one more target of a notify action (target.h): the
 * fan-out asks act_ticket_targets which systems an event goes to, then
 * delivers, retries and records each one like a notification channel.
 * The policy lives in ticket_systems (proto/sql/0018), the tickets in
 * tickets (0003, 0018).  Inbound webhooks from the systems are reason's
 * side (reason/ticket.c); tickets.last_echo_hash, written here before each
 * change, is how reason recognises the webhook our own change causes. */
#ifndef ACT_TICKET_H
#define ACT_TICKET_H

#include <stddef.h>

#include "act.h"
#include "target.h"

/* Inside the claim transaction (a->pg scoped to ev->tenant): the
 * ticket systems ev goes to ("jira", "servicenow"), written into
 * out[i]; returns how many (<= n) or -1 with errbuf. */
int act_ticket_targets(struct act *a, const struct act_event *ev,
		       char out[][16], int n, char *errbuf, size_t errlen);
/* One attempt at syncing ev to system, outside any transaction of the
 * caller (runs its own short ones; the network call between them);
 * fills out like any sender (ok, retryable, http_status, error, host). */
void act_ticket_deliver(struct act *a, const struct act_event *ev,
			const char *system, struct act_outcome *out);

#endif /* ACT_TICKET_H */
