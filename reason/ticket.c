/* ticket.c - a ticket signal's effect on its incident (see ticket.h).
 *
 * Design: the inbound half of the two-way sync.  act opens the incident's
 * ticket and writes a tickets row; the systems then send a webhook for
 * every change to the ticket -- a human's and our own alike -- which
 * ingest's drivers (ingest/drivers/jira.c, servicenow.c) turn into ticket
 * signals: the ticket's key and id, its status, open or resolved, and the
 * correlation id we put on it (Jira label alexus:<incident id>,
 * ServiceNow correlation_id).
 *
 * Loop prevention has two parts.  Before each change act stores the hash
 * of what the ticket will look like afterwards (system, key, open or
 * resolved) in tickets.last_echo_hash; a webhook whose state hashes to it
 * is our change coming back and changes nothing.  And only a change of
 * the ticket's state counts: tickets.resolved is its last known state,
 * so the many webhooks that report no transition (comments, assignee,
 * priority...) do nothing, and the incident follows a human's transition
 * once.  A ticket found by its correlation alone (its webhook came before
 * act recorded the row) is compared with the incident instead.
 *
 * Lock order: handle.c locks the batch's alert incidents first, in id
 * order, and a ticket's incident here afterwards.  A deadlock with another
 * consumer is therefore possible in principle (ticket signals are rare
 * next to alerts); Postgres detects it and fails one unit, which the
 * worker loop retries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticket.h"
#include "alexus/json.h"
#include "alexus/mem.h"

/* The ticket by key, or by the system's own id (a moved Jira issue keeps
 * its id), the key first. */
static const char Q_ROW[] =
	"SELECT id, incident_id, resolved, last_echo_hash, external_key FROM tickets "
	"WHERE system = $1 AND (external_key = $2 OR ($3::text IS NOT NULL AND remote_id = $3)) "
	"ORDER BY external_key = $2 DESC LIMIT 1 FOR UPDATE";
/* The incident in Q_LOCK's layout (handle.c), then another open incident
 * of its group.  Checklist: REASON_TICKET_INC_COLS. */
static const char Q_INCIDENT[] =
	"SELECT i.id, i.title, i.severity, i.category, i.confidence, i.stage, i.group_key, "
	"i.service, i.alert_count, "
	"to_char(i.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	"i.trace, extract(epoch FROM now() - i.last_signal_at), i.firing_count, i.status, "
	"(SELECT o.id FROM incidents o WHERE o.status = 'open' AND o.group_key = i.group_key "
	"AND o.id <> i.id LIMIT 1) "
	"FROM incidents i WHERE i.id = $1::uuid FOR UPDATE OF i";
static const char Q_RECORD[] =
	"UPDATE tickets SET resolved = $2::boolean, "
	"external_status = coalesce($3, external_status), "
	"last_echo_hash = CASE WHEN $4::boolean THEN NULL ELSE last_echo_hash END, "
	"last_synced_at = now(), updated_at = now() WHERE id = $1::uuid";

void reason_ticket_echo_hash(const char *system, const char *key, int resolved,
			     char out[AX_SHA256_HEX])
{
	char *s = ax_xasprintf("%s|%s|%s", system, key, resolved ? "resolved" : "open");

	ax_sha256_hex(s, strlen(s), out);
	free(s);
}

static const char *label(const struct ax_signal *s, const char *k)
{
	return ax_json_str(s->labels, k);
}

/* Who made the change: Jira's event user, ServiceNow's sys_updated_by
 * (in the record, which may be wrapped). */
static void who(const struct ax_signal *s, char *by, size_t n)
{
	static const char *const wrappers[] = { "incident", "record", "result" };
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(s->raw, "user");
	const char *v = ax_json_str(user, "displayName");
	size_t i;

	if (v == NULL)
		v = ax_json_str(user, "accountId");
	if (v == NULL)
		v = ax_json_str(s->raw, "sys_updated_by");
	for (i = 0; v == NULL && i < sizeof(wrappers) / sizeof(wrappers[0]); i++)
		v = ax_json_str(cJSON_GetObjectItemCaseSensitive(s->raw, wrappers[i]),
				"sys_updated_by");
	snprintf(by, n, "%s", v != NULL ? v : "");
}

void reason_ticket_release(struct reason_ticket *t)
{
	if (t->inc != NULL)
		PQclear(t->inc);
	t->inc = NULL;
}

int reason_ticket_lookup(struct ax_pg *pg, const struct ax_signal *s, struct reason_ticket *t,
			 char *errbuf, size_t errlen)
{
	const char *remote = label(s, strcmp(s->source != NULL ? s->source : "", "jira") == 0 ?
					      "ticket_id" : "sys_id");
	const char *corr = label(s, "correlation_id");
	PGresult *res;

	memset(t, 0, sizeof(*t));
	t->system = s->source;
	t->key = label(s, "ticket_key");
	t->status = label(s, "ticket_status");
	t->resolved = s->status == AX_STATUS_RESOLVED;
	t->was_resolved = -1;
	who(s, t->by, sizeof(t->by));
	if (t->system == NULL || t->key == NULL ||
	    (strcmp(t->system, "jira") != 0 && strcmp(t->system, "servicenow") != 0))
		return 0;
	{
		const char *p[3] = { t->system, t->key, remote };

		res = ax_pg_exec(pg, errbuf, errlen, Q_ROW, 3, p);
	}
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		char hash[AX_SHA256_HEX];

		snprintf(t->row, sizeof(t->row), "%s", PQgetvalue(res, 0, 0));
		snprintf(t->incident_id, sizeof(t->incident_id), "%s", PQgetvalue(res, 0, 1));
		t->was_resolved = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		/* With the key act hashed: the row's (a moved issue's new key
		 * is not the one act knows). */
		reason_ticket_echo_hash(t->system, PQgetvalue(res, 0, 4), t->resolved, hash);
		t->echo = !PQgetisnull(res, 0, 3) && strcmp(PQgetvalue(res, 0, 3), hash) == 0;
	} else if (corr != NULL && ax_uuid_valid(corr)) {
		snprintf(t->incident_id, sizeof(t->incident_id), "%s", corr);
	}
	PQclear(res);
	if (t->incident_id[0] == '\0')
		return 0;
	{
		const char *p[1] = { t->incident_id };

		res = ax_pg_exec(pg, errbuf, errlen, Q_INCIDENT, 1, p);
	}
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		/* A correlation id naming no incident of this tenant. */
		PQclear(res);
		t->incident_id[0] = t->row[0] = '\0';
		return 0;
	}
	if (!PQgetisnull(res, 0, REASON_TICKET_INC_COLS))
		snprintf(t->other_open, sizeof(t->other_open), "%s",
			 PQgetvalue(res, 0, REASON_TICKET_INC_COLS));
	t->inc = res;
	return 0;
}

static cJSON *output(const struct reason_ticket *t, const char *reason)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		abort();
	ax_json_add_str(o, "reason", reason, 0);
	ax_json_add_str(o, "system", t->system, 0);
	ax_json_add_str(o, "ticket", t->key, 0);
	ax_json_add_str(o, "ticket_status", t->status, 0);
	ax_json_add_str(o, "ticket_state", t->resolved ? "resolved" : "open", 0);
	ax_json_add_str(o, "by", t->by[0] != '\0' ? t->by : NULL, 0);
	return o;
}

enum reason_ticket_verdict reason_ticket_decide(const struct reason_ticket *t, int incident_open,
						int other_open, const char **stage, cJSON **out)
{
	int changed;

	*stage = NULL;
	*out = NULL;
	if (t->inc == NULL)
		return REASON_TICKET_UNKNOWN;
	if (t->echo) {
		*stage = "ticket_echo_ignored";
		*out = output(t, "our own change, echoed back by the ticket system");
		return REASON_TICKET_ECHO;
	}
	changed = t->was_resolved >= 0 ? t->resolved != t->was_resolved :
					 t->resolved == incident_open;
	if (!changed || t->resolved != incident_open)
		return REASON_TICKET_SAME;
	if (t->resolved) {
		*stage = "resolved";
		*out = output(t, "ticket closed");
		return REASON_TICKET_RESOLVE;
	}
	if (other_open) {
		*stage = "ticket";
		*out = output(t, "ticket reopened; its group has another open incident, which "
				 "carries on instead");
		return REASON_TICKET_NOTE;
	}
	*stage = "reopened";
	*out = output(t, "ticket reopened");
	return REASON_TICKET_REOPEN;
}

const char *reason_ticket_outcome(enum reason_ticket_verdict v)
{
	switch (v) {
	case REASON_TICKET_UNKNOWN:
		return "unknown ticket: nothing changed";
	case REASON_TICKET_ECHO:
		return "ticket echo ignored";
	case REASON_TICKET_SAME:
		return "ticket updated: nothing for the incident to follow";
	case REASON_TICKET_RESOLVE:
		return "ticket closed: resolved the incident";
	case REASON_TICKET_REOPEN:
		return "ticket reopened: reopened the incident";
	case REASON_TICKET_NOTE:
		return "ticket reopened: its group has another open incident";
	}
	return "?";
}

int reason_ticket_record(struct ax_pg *pg, const struct reason_ticket *t, char *errbuf,
			 size_t errlen)
{
	int human_change = !t->echo && t->was_resolved >= 0 && t->resolved != t->was_resolved;
	const char *p[4] = { t->row, t->resolved ? "true" : "false", t->status,
			     human_change ? "true" : "false" };
	PGresult *res;

	if (t->row[0] == '\0')
		return 0;
	res = ax_pg_exec(pg, errbuf, errlen, Q_RECORD, 4, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}
