/* ticket.c - an incident's tickets in Jira and ServiceNow (see ticket.h).
 *
 * Design: act_ticket_deliver is one attempt, in three steps like every
 * delivery of act (handle.c): a short transaction reads the system's
 * settings (ticket_systems), the incident's ticket (tickets) and the
 * credential; the REST calls run with no transaction open; a last short
 * transaction records what they did.  The REST clients are
 * act/tickets/jira.c and act/tickets/servicenow.c.
 *
 * What an event does (op_of):
 *   incident.opened     create, when the incident's severity is at least
 *                       the system's min_severity.  Idempotent in two
 *                       layers: a tickets row for (incident, system) means
 *                       done; otherwise the system is searched for our
 *                       correlation (the Jira label alexus:<incident id>,
 *                       ServiceNow's correlation_id) so a create that
 *                       happened before a crash is adopted, not repeated.
 *                       A ticket made but not recorded (Postgres gone after
 *                       the create) is a retryable failure: the retry finds
 *                       it by that search.
 *   incident.diagnosed, action.executed, approval.requested,
 *   incident.escalated  a comment (Jira) or work note (ServiceNow) on the
 *                       incident's ticket
 *   incident.resolved   resolve the ticket; incident.reopened reopens it
 * Follow-ups go only to systems where the incident has a ticket.
 *
 * Loop prevention.  The systems send a webhook for every change, ours
 * included, and reason turns ticket webhooks into incident changes.
 * Before each change we write tickets.last_echo_hash = the hash of what
 * the ticket will look like afterwards (act_ticket_echo_hash: system, key,
 * open or resolved); reason ignores a webhook whose state hashes to it.
 * A change that fails restores the previous hash, so a later human change
 * of the same shape is not mistaken for our echo.  And a resolve of a
 * ticket already resolved -- the human closed it, reason resolved the
 * incident, and the incident.resolved that caused comes here -- sends
 * nothing: tickets.resolved (kept by reason from the webhooks, and by us)
 * says so, and the clients read the live state before transitioning. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticket.h"
#include "tickets/jira.h"
#include "tickets/servicenow.h"
#include "alexus/cred.h"
#include "alexus/json.h"
#include "alexus/mem.h"

enum op { OP_NONE, OP_CREATE, OP_COMMENT, OP_RESOLVE, OP_REOPEN };

/* Severity order in SQL: array_position over this list. */
#define SEV_ORDER "ARRAY['info','warning','high','critical']"

static const char Q_TARGETS[] =
	"SELECT s.system FROM ticket_systems s WHERE s.enabled AND CASE WHEN $1 = 'create' "
	"THEN array_position(" SEV_ORDER ", $2) >= array_position(" SEV_ORDER ", s.min_severity) "
	"ELSE EXISTS (SELECT 1 FROM tickets t WHERE t.incident_id = $3::uuid "
	"AND t.system = s.system) END ORDER BY s.system";
static const char Q_SYSTEM[] =
	"SELECT base_url, credential, auth, project_key, issue_type, priority_map::text, "
	"table_name, assignment_group, resolve_status, reopen_status, close_code, enabled "
	"FROM ticket_systems WHERE system = $1";
static const char Q_TICKET[] =
	"SELECT id, external_key, remote_id, resolved, last_echo_hash FROM tickets "
	"WHERE incident_id = $1::uuid AND system = $2";
static const char Q_INSERT[] =
	"INSERT INTO tickets (tenant_id, id, incident_id, system, external_key, remote_id, url, "
	"external_status, resolved, last_echo_hash, last_synced_at) "
	"VALUES ($1, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9::boolean, $10, now()) "
	"ON CONFLICT DO NOTHING";
static const char Q_ECHO[] =
	"UPDATE tickets SET last_echo_hash = $2, updated_at = now() WHERE id = $1::uuid";
/* Put the hash back unless something else (reason) changed it meanwhile. */
static const char Q_UNECHO[] =
	"UPDATE tickets SET last_echo_hash = $2, updated_at = now() "
	"WHERE id = $1::uuid AND last_echo_hash IS NOT DISTINCT FROM $3";
static const char Q_SYNCED[] =
	"UPDATE tickets SET resolved = coalesce($2::boolean, resolved), "
	"external_status = coalesce($3, external_status), last_synced_at = now(), "
	"updated_at = now() WHERE id = $1::uuid";

static enum op op_of(const char *event)
{
	static const char *const comments[] = { "incident.diagnosed", "action.executed",
						"approval.requested", "incident.escalated" };
	size_t i;

	if (event == NULL)
		return OP_NONE;
	if (strcmp(event, "incident.opened") == 0)
		return OP_CREATE;
	if (strcmp(event, "incident.resolved") == 0)
		return OP_RESOLVE;
	if (strcmp(event, "incident.reopened") == 0)
		return OP_REOPEN;
	for (i = 0; i < sizeof(comments) / sizeof(comments[0]); i++)
		if (strcmp(event, comments[i]) == 0)
			return OP_COMMENT;
	return OP_NONE;
}

/* The incident's id from the snapshot, else from the payload; NULL when
 * neither is a UUID. */
static const char *incident_of(const struct act_event *ev)
{
	const char *id = ax_json_str(ev->incident, "id");

	if (id == NULL)
		id = ax_json_str(ev->payload, "incident_id");
	return id != NULL && ax_uuid_valid(id) ? id : NULL;
}

int act_ticket_targets(struct act *a, const struct act_event *ev, char out[][16], int n,
		       char *errbuf, size_t errlen)
{
	enum op op = op_of(ev->event);
	const char *id = incident_of(ev), *sev = ax_json_str(ev->incident, "severity");
	const char *p[3] = { op == OP_CREATE ? "create" : "follow-up", sev, id };
	PGresult *res;
	int i, k = 0;

	if (op == OP_NONE || id == NULL)
		return 0;
	res = ax_pg_exec(a->pg, errbuf, errlen, Q_TARGETS, 3, p);
	if (res == NULL)
		return -1;
	for (i = 0; i < PQntuples(res) && k < n; i++)
		snprintf(out[k++], 16, "%s", PQgetvalue(res, i, 0));
	PQclear(res);
	return k;
}

/* ---------------------------------------------------------------- step 1 */

/* A system's settings (Q_SYSTEM), owned strings. */
struct sysconf {
	int found, enabled;
	char *base_url, *credential, *auth, *project, *issue_type, *priorities, *table, *group;
	char *resolve, *reopen, *close_code;
};

/* The incident's ticket in the system (Q_TICKET). */
struct tkt {
	int exists, resolved;
	char id[AX_UUID_LEN];
	char *key, *remote_id, *echo;
};

static char *col(const PGresult *res, int c)
{
	return PQgetisnull(res, 0, c) ? NULL : ax_xstrdup(PQgetvalue(res, 0, c));
}

static void sysconf_release(struct sysconf *s)
{
	free(s->base_url);
	free(s->credential);
	free(s->auth);
	free(s->project);
	free(s->issue_type);
	free(s->priorities);
	free(s->table);
	free(s->group);
	free(s->resolve);
	free(s->reopen);
	free(s->close_code);
	memset(s, 0, sizeof(*s));
}

static void tkt_release(struct tkt *t)
{
	free(t->key);
	free(t->remote_id);
	free(t->echo);
	memset(t, 0, sizeof(*t));
}

static void fail(struct act_outcome *out, int retryable, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct act_outcome *out, int retryable, const char *fmt, ...)
{
	va_list ap;

	out->ok = 0;
	out->retryable = retryable;
	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
}

/* Step 1: settings, ticket and the Authorization line (*authline, wiped
 * and freed by the caller).  0, or -1 with out filled. */
static int load(struct act *a, const struct act_event *ev, const char *system,
		const char *incident, struct sysconf *sc, struct tkt *t, char **authline,
		struct act_outcome *out)
{
	const char *ps[1] = { system }, *pt[2] = { incident, system };
	unsigned char *cred = NULL;
	size_t len = 0;
	char err[256];
	PGresult *res;
	ax_err rc;

	*authline = NULL;
	if (ax_pg_begin(a->pg, ev->tenant, err, sizeof(err)) != AX_OK) {
		fail(out, 1, "database: %s", err);
		return -1;
	}
	res = ax_pg_exec(a->pg, err, sizeof(err), Q_SYSTEM, 1, ps);
	if (res == NULL)
		goto db;
	if (PQntuples(res) == 1) {
		sc->found = 1;
		sc->base_url = col(res, 0);
		sc->credential = col(res, 1);
		sc->auth = col(res, 2);
		sc->project = col(res, 3);
		sc->issue_type = col(res, 4);
		sc->priorities = col(res, 5);
		sc->table = col(res, 6);
		sc->group = col(res, 7);
		sc->resolve = col(res, 8);
		sc->reopen = col(res, 9);
		sc->close_code = col(res, 10);
		sc->enabled = strcmp(PQgetvalue(res, 0, 11), "t") == 0;
	}
	PQclear(res);
	res = ax_pg_exec(a->pg, err, sizeof(err), Q_TICKET, 2, pt);
	if (res == NULL)
		goto db;
	if (PQntuples(res) == 1) {
		t->exists = 1;
		snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
		t->key = col(res, 1);
		t->remote_id = col(res, 2);
		t->resolved = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
		t->echo = col(res, 4);
	}
	PQclear(res);
	if (!sc->found || !sc->enabled) {
		ax_pg_rollback(a->pg);
		fail(out, 0, "ticket system %s is %s", system,
		     sc->found ? "disabled" : "not configured");
		return -1;
	}
	(void)act_rest_host(sc->base_url, out->host, sizeof(out->host));
	if (!a->has_keyring) {
		ax_pg_rollback(a->pg);
		fail(out, 0, "credential %s: no master key configured (ALEXUS_MASTER_KEY)",
		     sc->credential);
		return -1;
	}
	cred = ax_xmalloc(AX_CRED_VALUE_MAX + 1);
	rc = ax_cred_get(a->pg, &a->kr, ev->tenant, sc->credential, cred, AX_CRED_VALUE_MAX + 1,
			 &len, err, sizeof(err));
	if (rc == AX_OK)
		*authline = act_rest_auth_line(sc->auth, (const char *)cred, len);
	ax_cred_wipe(cred, AX_CRED_VALUE_MAX + 1);
	free(cred);
	if (rc != AX_OK) {
		ax_pg_rollback(a->pg);
		if (rc == AX_ENOTFOUND)
			fail(out, 0, "credential %s not found", sc->credential);
		else if (rc == AX_EIO)
			fail(out, 1, "credential %s: %s", sc->credential, err);
		else
			fail(out, 0, "credential %s cannot be opened: %s", sc->credential, err);
		return -1;
	}
	if (ax_pg_commit(a->pg, err, sizeof(err)) != AX_OK) {
		fail(out, 1, "database: %s", err);
		return -1;
	}
	return 0;
db:
	ax_pg_rollback(a->pg);
	fail(out, 1, "database: %s", err);
	return -1;
}

/* ---------------------------------------------------------------- content */

static void line(char **buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append one formatted line to *buf (owned, may be NULL). */
static void line(char **buf, const char *fmt, ...)
{
	char *l, *n;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0)
		abort();
	l = ax_xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(l, (size_t)len + 1, fmt, ap);
	va_end(ap);
	n = ax_xasprintf("%s%s%s", *buf != NULL ? *buf : "", *buf != NULL ? "\n" : "", l);
	free(l);
	free(*buf);
	*buf = n;
}

static const char *str_or(const cJSON *o, const char *k, const char *def)
{
	const char *v = ax_json_str(o, k);

	return v != NULL ? v : def;
}

/* A payload member as text for a comment: a string, a number, or an
 * object's "type"/"name" (an action); NULL otherwise. */
static const char *payload_text(const cJSON *p, const char *k, char *num, size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);

	if (cJSON_IsString(v) && v->valuestring[0] != '\0')
		return v->valuestring;
	if (cJSON_IsNumber(v)) {
		snprintf(num, n, "%g", v->valuedouble);
		return num;
	}
	if (cJSON_IsObject(v))
		return ax_json_str(v, "type") != NULL ? ax_json_str(v, "type") :
							 ax_json_str(v, "name");
	return NULL;
}

/* The text of op for ev into d (d->text and the link are owned by the
 * caller through *text and *link). */
static void compose(const struct act_event *ev, enum op op, const char *incident,
		    struct act_ticket_doc *d, char **summary, char **text, char **link)
{
	static const struct {
		const char *key, *label;
	} extra[] = {
		{ "summary", "Summary" }, { "probable_cause", "Probable cause" },
		{ "action", "Action" }, { "action_type", "Action" }, { "status", "Status" },
		{ "result", "Result" }, { "level", "Level" }, { "reason", "Reason" },
		{ "approval_url", "Approve or reject" }, { "expires_at", "Expires at" },
	};
	const cJSON *inc = ev->incident;
	const char *title = str_or(inc, "title", "incident"), *sev = str_or(inc, "severity", "");
	char num[32];
	size_t i;

	*summary = *text = *link = NULL;
	d->incident_id = incident;
	d->severity = sev;
	if (ev->public_url != NULL && ev->public_url[0] != '\0') {
		size_t n = strlen(ev->public_url);

		while (n > 0 && ev->public_url[n - 1] == '/')
			n--;
		*link = ax_xasprintf("%.*s/incidents/%s", (int)n, ev->public_url, incident);
	}
	switch (op) {
	case OP_CREATE:
		*summary = sev[0] != '\0' ? ax_xasprintf("[%s] %s", sev, title) : ax_xstrdup(title);
		line(text, "Incident opened in Alexus: %s", title);
		if (sev[0] != '\0')
			line(text, "Severity: %s", sev);
		if (ax_json_str(inc, "service") != NULL)
			line(text, "Service: %s", ax_json_str(inc, "service"));
		break;
	case OP_COMMENT:
		if (strcmp(ev->event, "incident.diagnosed") == 0)
			line(text, "Alexus diagnosed the incident.");
		else if (strcmp(ev->event, "action.executed") == 0)
			line(text, "Alexus executed an action.");
		else if (strcmp(ev->event, "approval.requested") == 0)
			line(text, "An action waits for approval.");
		else
			line(text, "The incident was escalated.");
		break;
	case OP_RESOLVE:
		line(text, "Resolved in Alexus%s%s.", ax_json_str(inc, "resolved_at") ? " at " : "",
		     str_or(inc, "resolved_at", ""));
		break;
	case OP_REOPEN:
		line(text, "Reopened in Alexus.");
		break;
	case OP_NONE:
		break;
	}
	if (ax_json_str(inc, "category") != NULL) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(inc, "confidence");

		if (cJSON_IsNumber(c))
			line(text, "Category: %s (confidence %.2f)", ax_json_str(inc, "category"),
			     c->valuedouble);
		else
			line(text, "Category: %s", ax_json_str(inc, "category"));
	}
	for (i = 0; op == OP_COMMENT && i < sizeof(extra) / sizeof(extra[0]); i++) {
		const char *v = payload_text(ev->payload, extra[i].key, num, sizeof(num));

		if (v != NULL)
			line(text, "%s: %s", extra[i].label, v);
	}
	if (op == OP_CREATE && ax_json_str(inc, "opened_at") != NULL)
		line(text, "Opened at: %s", ax_json_str(inc, "opened_at"));
	line(text, "Alexus incident %s", incident);
	d->summary = *summary != NULL ? *summary : title;
	d->text = *text;
	d->link = *link;
}

/* ---------------------------------------------------------------- step 2 */

/* One system's client, whichever it is. */
struct client {
	int jira;
	struct act_jira j;
	struct act_snow s;
	cJSON *priorities;
};

static void client_init(struct client *c, const struct act *a, const char *system,
			const struct sysconf *sc, const char *authline)
{
	struct act_rest r = { sc->base_url, authline, a->cfg->notify_timeout_ms, NULL };

	memset(c, 0, sizeof(*c));
	c->jira = strcmp(system, "jira") == 0;
	if (c->jira) {
		c->j.rest = r;
		c->j.project = sc->project;
		c->j.issue_type = sc->issue_type;
		c->j.resolve = sc->resolve;
		c->j.reopen = sc->reopen;
		if (sc->priorities != NULL)
			c->priorities = ax_json_parse(sc->priorities, strlen(sc->priorities), 0);
		c->j.priorities = c->priorities;
	} else {
		c->s.rest = r;
		c->s.table = sc->table;
		c->s.assignment_group = sc->group;
		c->s.resolve_state = sc->resolve;
		c->s.reopen_state = sc->reopen;
		c->s.close_code = sc->close_code;
	}
}

static int c_find(const struct client *c, const char *incident, struct act_ticket_ref *ref,
		  struct act_outcome *out)
{
	return c->jira ? act_jira_find(&c->j, incident, ref, out) :
			 act_snow_find(&c->s, incident, ref, out);
}

static int c_create(const struct client *c, const struct act_ticket_doc *d,
		    struct act_ticket_ref *ref, struct act_outcome *out)
{
	return c->jira ? act_jira_create(&c->j, d, ref, out) : act_snow_create(&c->s, d, ref, out);
}

/* Jira addresses an issue by key, ServiceNow a record by sys_id. */
static const char *c_address(const struct client *c, const struct tkt *t)
{
	return c->jira || t->remote_id == NULL ? t->key : t->remote_id;
}

static int c_comment(const struct client *c, const struct tkt *t,
		     const struct act_ticket_doc *d, struct act_outcome *out)
{
	return c->jira ? act_jira_comment(&c->j, c_address(c, t), d, out) :
			 act_snow_comment(&c->s, c_address(c, t), d, out);
}

static int c_transition(const struct client *c, const struct tkt *t, int resolve,
			const struct act_ticket_doc *d, struct act_ticket_ref *ref,
			struct act_outcome *out)
{
	memset(ref, 0, sizeof(*ref));
	return c->jira ? act_jira_transition(&c->j, c_address(c, t), resolve, ref, out) :
			 act_snow_transition(&c->s, c_address(c, t), resolve, d, ref, out);
}

/* ---------------------------------------------------------------- step 3 */

/* Run one statement in a transaction of its own.  0, or -1 with err. */
static int write1(struct act *a, const char *tenant, const char *sql, int n,
		  const char *const *p, char *err, size_t errlen)
{
	PGresult *res;

	if (ax_pg_begin(a->pg, tenant, err, errlen) != AX_OK)
		return -1;
	res = ax_pg_exec(a->pg, err, errlen, sql, n, p);
	if (res == NULL) {
		ax_pg_rollback(a->pg);
		return -1;
	}
	PQclear(res);
	return ax_pg_commit(a->pg, err, errlen) == AX_OK ? 0 : -1;
}

static char *ticket_url(const char *system, const struct sysconf *sc,
			const struct act_ticket_ref *ref)
{
	size_t n = strlen(sc->base_url);

	while (n > 0 && sc->base_url[n - 1] == '/')
		n--;
	if (strcmp(system, "jira") == 0)
		return ax_xasprintf("%.*s/browse/%s", (int)n, sc->base_url, ref->key);
	return ax_xasprintf("%.*s/%s.do?sys_id=%s", (int)n, sc->base_url,
			    sc->table != NULL ? sc->table : "incident", ref->id);
}

static void create(struct act *a, const struct act_event *ev, const char *system,
		   const char *incident, const struct sysconf *sc, const struct client *c,
		   const struct act_ticket_doc *d, struct act_outcome *out)
{
	struct act_ticket_ref ref;
	char id[AX_UUID_LEN], hash[AX_SHA256_HEX], err[256], *url;
	int found;

	found = c_find(c, incident, &ref, out);
	if (found < 0)
		return;
	if (!found && !c_create(c, d, &ref, out))
		return;
	ax_uuid7(id);
	act_ticket_echo_hash(system, ref.key, ref.resolved, hash);
	url = ticket_url(system, sc, &ref);
	{
		const char *p[10] = { ev->tenant, id, incident, system, ref.key, ref.id, url,
				      ref.status[0] != '\0' ? ref.status : NULL,
				      ref.resolved ? "true" : "false", hash };

		if (write1(a, ev->tenant, Q_INSERT, 10, p, err, sizeof(err)) != 0)
			fail(out, 1, "%s %s %s but not recorded: %s", system, ref.key,
			     found ? "found" : "created", err);
	}
	free(url);
}

/* Comment, resolve or reopen the existing ticket t. */
static void follow_up(struct act *a, const struct act_event *ev, const char *system,
		      enum op op, const struct client *c, const struct tkt *t,
		      const struct act_ticket_doc *d, struct act_outcome *out)
{
	int resolve = op == OP_RESOLVE, rc;
	struct act_ticket_ref ref;
	char hash[AX_SHA256_HEX], err[256];
	const char *pe[2] = { t->id, hash };

	memset(&ref, 0, sizeof(ref));
	if (op != OP_COMMENT && t->resolved == resolve) {
		/* Already so: a human did it, reason followed; nothing to send. */
		out->ok = 1;
		return;
	}
	act_ticket_echo_hash(system, t->key, op == OP_COMMENT ? t->resolved : resolve, hash);
	if (write1(a, ev->tenant, Q_ECHO, 2, pe, err, sizeof(err)) != 0) {
		fail(out, 1, "database: %s", err);
		return;
	}
	if (op == OP_COMMENT) {
		rc = c_comment(c, t, d, out) ? 1 : -1;
	} else {
		rc = c_transition(c, t, resolve, d, &ref, out);
	}
	if (rc < 0) {
		/* Not ours after all: a human change of that shape is the
		 * human's.  Best effort; the error reported is the change's. */
		const char *pu[3] = { t->id, t->echo, hash };

		(void)write1(a, ev->tenant, Q_UNECHO, 3, pu, err, sizeof(err));
		return;
	}
	{
		const char *state = op == OP_COMMENT ? NULL : resolve ? "true" : "false";
		const char *status = op == OP_COMMENT || ref.status[0] == '\0' ? NULL : ref.status;
		const char *ps[3] = { t->id, state, status };

		/* The change is made; failing to note it costs only the record. */
		(void)write1(a, ev->tenant, Q_SYNCED, 3, ps, err, sizeof(err));
	}
}

void act_ticket_deliver(struct act *a, const struct act_event *ev, const char *system,
			struct act_outcome *out)
{
	enum op op = op_of(ev->event);
	const char *incident = incident_of(ev);
	struct sysconf sc;
	struct tkt t;
	struct client c;
	struct act_ticket_doc d;
	char *authline = NULL, *summary, *text, *link;

	memset(out, 0, sizeof(*out));
	memset(&sc, 0, sizeof(sc));
	memset(&t, 0, sizeof(t));
	if (strcmp(system, "jira") != 0 && strcmp(system, "servicenow") != 0) {
		fail(out, 0, "unknown ticket system %s", system);
		return;
	}
	if (op == OP_NONE || incident == NULL) {
		fail(out, 0, "event %s has no ticket counterpart",
		     ev->event != NULL ? ev->event : "(none)");
		return;
	}
	if (load(a, ev, system, incident, &sc, &t, &authline, out) != 0)
		goto out;
	if (op != OP_CREATE && !t.exists) {
		fail(out, 0, "the incident has no %s ticket", system);
		goto out;
	}
	client_init(&c, a, system, &sc, authline);
	compose(ev, op, incident, &d, &summary, &text, &link);
	if (op == OP_CREATE) {
		if (t.exists)
			out->ok = 1;    /* a redelivery: made and recorded before */
		else
			create(a, ev, system, incident, &sc, &c, &d, out);
	} else {
		follow_up(a, ev, system, op, &c, &t, &d, out);
	}
	free(summary);
	free(text);
	free(link);
	cJSON_Delete(c.priorities);
out:
	if (authline != NULL) {
		ax_cred_wipe(authline, strlen(authline));
		free(authline);
	}
	if (out->ok)
		out->error[0] = '\0';
	sysconf_release(&sc);
	tkt_release(&t);
}
