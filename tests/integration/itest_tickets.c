/* itest_tickets.c - two-way ticket sync on the whole system: the real
 * daemons, the test stack, Jira and ServiceNow webhooks through ingest.
 *
 *   - A ticket closed by a human resolves its incident: an Alertmanager
 *     alert opens the incident, its tickets row is what act writes at
 *     creation (key OPS-1423 of the Jira fixtures, the echo hash of "open"),
 *     the Jira webhook of the fixture moving the issue to Done (by Dana
 *     Oncall) resolves the incident -- stage event "resolved" saying why
 *     and by whom, one incident.resolved action, notified like any
 *     resolve -- and the row follows (resolved, status Done, echo hash
 *     forgotten).  The webhook of the issue back in progress reopens it
 *     (stage "reopened", no second incident, no notification).  The
 *     earlier "In Progress" webhook, whose state is the one act created,
 *     is an echo: a stage event and nothing else.
 *   - Our own change echoed back changes nothing: the incident resolved by
 *     its alerts, act about to resolve the ticket (echo hash of
 *     "resolved"), the alert flapping back (incident reopened), then the
 *     late webhook of our resolve: the incident stays open.
 *   - The same for a ServiceNow record (its fixture resolved, state 6):
 *     found by number, resolved by sys_updated_by.
 *   - An unknown ticket changes nothing; a ticket not yet recorded by act
 *     is found by its correlation label alexus:<incident id> (a webhook
 *     composed from the fixture for a new key) and resolves the incident.
 *
 * The tickets rows of those three are written here as act writes them
 * (act/ticket.c), through the application role and row-level security.
 * End to end, with act's fan-out and a local receiver answering as Jira
 * Cloud does (tests/fixtures/tickets/), the tenant's Jira configured in
 * ticket_systems and its credential sealed in tenant_credentials:
 *   - ticket created, closed by a Jira webhook, incident resolved: an
 *     alert opens the incident and act makes exactly one Jira create
 *     (after the search for our label found nothing) with the project,
 *     issue type, summary, ADF description, labels and priority Jira
 *     needs; the created-issue webhook is our echo; the webhook closing
 *     the created key resolves the incident, and act's incident.resolved
 *     then sends Jira nothing (the ticket is already closed).
 *   - act resolves the ticket when the alerts resolve the incident (status
 *     read, transition into "done" posted), and that change's webhook
 *     comes back as an echo that changes nothing.
 *   - a create retried after a crash adopts the issue the search finds
 *     instead of opening a second one. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "alexus/cred.h"
#include "alexus/crypto.h"
#include "alexus/hash.h"
#include "alexus/pg.h"
#include "alexus/json.h"
#include "harness.h"
#include "receiver.h"
#include "system.h"

#define FIX "tests/fixtures/webhooks/"
#define FIX_FIRING FIX "alertmanager.json"
#define FIX_RESOLVED FIX "alertmanager.resolved.json"
#define FIX_JIRA_OPEN FIX "jira-issue-updated.json"        /* To Do -> In Progress */
#define FIX_JIRA_DONE FIX "jira.resolved.json"             /* In Progress -> Done */
#define FIX_SNOW FIX "servicenow-outbound.json"
#define FIX_SNOW_DONE FIX "servicenow.resolved.json"      /* state 6, by dana.oncall */
#define TFIX "tests/fixtures/tickets/"
#define CRED "ops@example.com:atl-token-123"
/* CRED in base64, worked out independently */
#define BASIC "Basic b3BzQGV4YW1wbGUuY29tOmF0bC10b2tlbi0xMjM="

/* The fixture's issue: key, id and who moved it. */
struct issue {
	char key[32], id[32], by[64], status_done[32];
};

static void read_issue(struct issue *is)
{
	size_t len;
	char *text = h_read_file(FIX_JIRA_DONE, &len);
	cJSON *d = cJSON_Parse(text);
	const cJSON *issue = cJSON_GetObjectItem(d, "issue");

	assert_non_null(d);
	snprintf(is->key, sizeof(is->key), "%s", ax_json_str(issue, "key"));
	snprintf(is->id, sizeof(is->id), "%s", ax_json_str(issue, "id"));
	snprintf(is->by, sizeof(is->by), "%s",
		 ax_json_str(cJSON_GetObjectItem(d, "user"), "displayName"));
	snprintf(is->status_done, sizeof(is->status_done), "%s",
		 ax_json_str(ax_json_ptr(issue, "/fields/status"), "name"));
	cJSON_Delete(d);
	free(text);
}

/* The hash act stores before a change: sha256("system|key|state"). */
static void echo_hash(const char *system, const char *key, const char *state,
		      char out[AX_SHA256_HEX])
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s|%s|%s", system, key, state);
	ax_sha256_hex(buf, strlen(buf), out);
}

/* The one incident of the tenant. */
static void incident_id(struct sys *s, char out[AX_UUID_LEN])
{
	PGresult *r = h_pg_q(s->app, s->tenant, "SELECT id FROM incidents ORDER BY opened_at", 0,
			     NULL);

	assert_int_equal(PQntuples(r), 1);
	snprintf(out, AX_UUID_LEN, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

static void post(struct sys *s, const char *source, const char *file)
{
	char path[64];
	cJSON *r;

	snprintf(path, sizeof(path), "/v1/webhooks/%s", source);
	assert_int_equal(sys_post_file(s, path, file, &r), 202);
	assert_int_equal(sys_json_int(r, "accepted"), 1);
	cJSON_Delete(r);
}

/* The tickets row act writes when it creates the incident's issue. */
static void ticket_row(struct sys *s, const char *incident, const struct issue *is)
{
	char hash[AX_SHA256_HEX], id[AX_UUID_LEN], url[128];
	const char *p[6] = { id, incident, is->key, is->id, url, hash };

	ax_uuid4(id);
	echo_hash("jira", is->key, "open", hash);
	snprintf(url, sizeof(url), "https://acme.atlassian.net/browse/%s", is->key);
	PQclear(h_pg_q(s->app, s->tenant,
		       "INSERT INTO tickets (tenant_id, id, incident_id, system, external_key, "
		       "remote_id, url, resolved, last_echo_hash, last_synced_at) "
		       "VALUES (app_tenant(), $1::uuid, $2::uuid, 'jira', $3, $4, $5, false, $6, "
		       "now())",
		       6, p));
}

static long q1(struct sys *s, const char *sql, const char *arg)
{
	const char *p[1] = { arg };

	return h_pg_long(s->app, s->tenant, sql, 1, p);
}

static void open_incident(struct sys *s, char id[AX_UUID_LEN])
{
	cJSON *r;

	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, &r), 202);
	cJSON_Delete(r);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'open'", 1);
	sys_wait_settled(s);
	incident_id(s, id);
}

static void test_closed_by_jira_resolves(void **state)
{
	char inc[AX_UUID_LEN];
	struct issue is;
	struct sys *s;
	PGresult *r;
	const char *p[1] = { inc };

	(void)state;
	read_issue(&is);
	s = sys_up("tkt-close", NULL);
	open_incident(s, inc);
	ticket_row(s, inc, &is);

	/* In Progress: the state act created it in -- an echo. */
	post(s, "jira", FIX_JIRA_OPEN);
	sys_wait_sql(s, "SELECT count(*) FROM incident_events WHERE stage = 'ticket_echo_ignored'",
		     1);
	sys_wait_settled(s);
	assert_int_equal(q1(s, "SELECT count(*) FROM incidents WHERE id = $1::uuid AND "
			       "status = 'open'", inc), 1);

	/* Done, by a human: the incident resolves. */
	post(s, "jira", FIX_JIRA_DONE);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'resolved' AND "
		     "resolved_at IS NOT NULL AND stage = 'resolved'", 1);
	sys_wait_settled(s);
	r = h_pg_q(s->app, s->tenant,
		   "SELECT output->>'reason', output->>'by', output->>'ticket', output->>'system', "
		   "output->>'ticket_status' FROM incident_events WHERE incident_id = $1::uuid "
		   "AND stage = 'resolved'", 1, p);
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), "ticket closed");
	assert_string_equal(PQgetvalue(r, 0, 1), is.by);
	assert_string_equal(PQgetvalue(r, 0, 2), is.key);
	assert_string_equal(PQgetvalue(r, 0, 3), "jira");
	assert_string_equal(PQgetvalue(r, 0, 4), is.status_done);
	PQclear(r);
	/* Notified like any resolve: one incident.resolved action, done. */
	assert_int_equal(q1(s, "SELECT count(*) FROM actions WHERE incident_id = $1::uuid AND "
			       "payload->>'event' = 'incident.resolved' AND status = 'succeeded'",
			    inc), 1);
	assert_int_equal(rcv_wait(s->rcv, 2, WAIT_MS), 2);
	sys_check_delivery(s, 1, "incident.resolved");
	/* The row follows the human's change; the echo hash is forgotten. */
	r = h_pg_q(s->app, s->tenant,
		   "SELECT resolved, external_status, last_echo_hash IS NULL FROM tickets", 0,
		   NULL);
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), "t");
	assert_string_equal(PQgetvalue(r, 0, 1), is.status_done);
	assert_string_equal(PQgetvalue(r, 0, 2), "t");
	PQclear(r);

	/* Back in progress: reopened, no second incident, nobody paged. */
	post(s, "jira", FIX_JIRA_OPEN);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'open' AND "
		     "resolved_at IS NULL AND stage = 'reopened'", 1);
	sys_wait_settled(s);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incidents"), 1);
	assert_int_equal(q1(s, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
			       "AND stage = 'reopened' AND output->>'reason' = 'ticket reopened'",
			    inc), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions"), 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM tickets WHERE NOT resolved"), 1);
	assert_true(sys_audit_chain_ok(s));
	sys_down(s);
}

static void test_own_echo_changes_nothing(void **state)
{
	char inc[AX_UUID_LEN], hash[AX_SHA256_HEX];
	const char *p[1] = { hash };
	struct issue is;
	struct sys *s;
	cJSON *r;

	(void)state;
	read_issue(&is);
	s = sys_up("tkt-echo", NULL);
	open_incident(s, inc);
	ticket_row(s, inc, &is);
	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_RESOLVED, &r), 202);
	cJSON_Delete(r);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'resolved'", 1);
	sys_wait_settled(s);
	/* act, resolving the ticket, first notes what it will look like. */
	echo_hash("jira", is.key, "resolved", hash);
	PQclear(h_pg_q(s->app, s->tenant, "UPDATE tickets SET last_echo_hash = $1", 1, p));
	/* The alert flaps back: the incident reopens. */
	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_FIRING, &r), 202);
	cJSON_Delete(r);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'open'", 1);
	sys_wait_settled(s);

	/* Then our resolve comes back from Jira: nothing changes. */
	post(s, "jira", FIX_JIRA_DONE);
	sys_wait_sql(s, "SELECT count(*) FROM incident_events WHERE stage = 'ticket_echo_ignored' "
		     "AND output->>'ticket_state' = 'resolved'", 1);
	sys_wait_settled(s);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incidents WHERE status = 'open' AND "
				  "resolved_at IS NULL"), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incident_events WHERE stage = 'resolved'"),
			 1);    /* the alerts' resolve only */
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions WHERE "
				  "payload->>'event' = 'incident.resolved'"), 1);
	/* The hash stays: the next echo of the same change is ignored too. */
	assert_int_equal(q1(s, "SELECT count(*) FROM tickets WHERE last_echo_hash = $1", hash), 1);
	sys_down(s);
}

static void test_closed_in_servicenow_resolves(void **state)
{
	char inc[AX_UUID_LEN], hash[AX_SHA256_HEX], id[AX_UUID_LEN];
	const char *number, *sys_id, *by;
	const char *p[5] = { id, inc, NULL, NULL, hash };
	size_t len;
	char *text = h_read_file(FIX_SNOW_DONE, &len);
	cJSON *rec = cJSON_Parse(text);
	struct sys *s;

	(void)state;
	assert_non_null(rec);
	number = ax_json_str(rec, "number");
	sys_id = ax_json_str(rec, "sys_id");
	by = ax_json_str(rec, "sys_updated_by");
	s = sys_up("tkt-snow", NULL);
	open_incident(s, inc);
	ax_uuid4(id);
	echo_hash("servicenow", number, "open", hash);
	p[2] = number;
	p[3] = sys_id;
	PQclear(h_pg_q(s->app, s->tenant,
		       "INSERT INTO tickets (tenant_id, id, incident_id, system, external_key, "
		       "remote_id, resolved, last_echo_hash) VALUES (app_tenant(), $1::uuid, "
		       "$2::uuid, 'servicenow', $3, $4, false, $5)", 5, p));
	post(s, "servicenow", FIX_SNOW_DONE);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'resolved'", 1);
	sys_wait_settled(s);
	{
		const char *pe[3] = { inc, number, by };

		assert_int_equal(h_pg_long(s->app, s->tenant,
					   "SELECT count(*) FROM incident_events WHERE "
					   "incident_id = $1::uuid AND stage = 'resolved' AND "
					   "output->>'system' = 'servicenow' AND output->>'ticket' = $2 "
					   "AND output->>'by' = $3", 3, pe), 1);
	}
	assert_int_equal(sys_q(s, "SELECT count(*) FROM tickets WHERE resolved AND "
				  "external_status = '6' AND last_echo_hash IS NULL"), 1);
	sys_down(s);
	cJSON_Delete(rec);
	free(text);
}

/* A Jira fixture rewritten for another issue (key, id), carrying our label
 * when incident is not NULL. */
static char *compose_from(const char *file, const char *key, const char *id,
			  const char *incident)
{
	size_t len;
	char *text = h_read_file(file, &len), *out, label[64];
	cJSON *d = cJSON_Parse(text), *issue = cJSON_GetObjectItem(d, "issue");
	cJSON *fields = cJSON_GetObjectItem(issue, "fields");
	char self[128];

	assert_non_null(d);
	snprintf(self, sizeof(self), "https://acme.atlassian.net/rest/api/2/issue/%s", id);
	cJSON_ReplaceItemInObject(issue, "key", cJSON_CreateString(key));
	cJSON_ReplaceItemInObject(issue, "id", cJSON_CreateString(id));
	cJSON_ReplaceItemInObject(issue, "self", cJSON_CreateString(self));
	if (incident != NULL) {
		snprintf(label, sizeof(label), "alexus:%s", incident);
		cJSON_AddItemToArray(cJSON_GetObjectItem(fields, "labels"),
				     cJSON_CreateString("alexus"));
		cJSON_AddItemToArray(cJSON_GetObjectItem(fields, "labels"),
				     cJSON_CreateString(label));
	}
	out = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);
	free(text);
	return out;
}

static char *compose_jira(const char *key, const char *id, const char *incident)
{
	return compose_from(FIX_JIRA_DONE, key, id, incident);
}

static void test_unknown_and_correlated(void **state)
{
	char inc[AX_UUID_LEN], *body;
	struct sys *s;
	cJSON *r;

	(void)state;
	s = sys_up("tkt-corr", NULL);
	/* A ServiceNow record Alexus never opened (its correlation_id is
	 * another tool's): settled, nothing else. */
	post(s, "servicenow", FIX_SNOW);
	sys_wait_sql(s, "SELECT count(*) FROM signals_seen WHERE incident_id IS NULL", 1);
	sys_wait_settled(s);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incidents"), 0);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incident_events"), 0);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions"), 0);

	/* A Jira issue act created but had not recorded yet: found by its
	 * label alexus:<incident id>, and closed, it resolves the incident. */
	open_incident(s, inc);
	body = compose_jira("OPS-2001", "20001", inc);
	assert_int_equal(sys_post(s, "/v1/webhooks/jira", body, strlen(body), &r), 202);
	cJSON_Delete(r);
	free(body);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'resolved'", 1);
	sys_wait_settled(s);
	assert_int_equal(q1(s, "SELECT count(*) FROM incident_events WHERE incident_id = $1::uuid "
			       "AND stage = 'resolved' AND output->>'ticket' = 'OPS-2001'", inc),
			 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions WHERE "
				  "payload->>'event' = 'incident.resolved'"), 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM tickets"), 0);
	sys_down(s);
}

/* ------------------------------------------------------------ end to end */

/* A value of a fixture of tests/fixtures/tickets/ (JSON pointer). */
static char *tfix_str(const char *name, const char *ptr)
{
	char path[128], *text, *v;
	size_t len;
	cJSON *d;

	snprintf(path, sizeof(path), TFIX "%s", name);
	text = h_read_file(path, &len);
	d = cJSON_Parse(text);
	assert_non_null(d);
	assert_non_null(cJSON_GetStringValue(ax_json_ptr(d, ptr)));
	v = strdup(cJSON_GetStringValue(ax_json_ptr(d, ptr)));
	cJSON_Delete(d);
	free(text);
	return v;
}

/* Answer the next request of r with a fixture (NULL: no body). */
static void jira_reply(struct receiver *r, int status, const char *name)
{
	struct rcv_reply rp = { status, NULL, 0, NULL, 0 };
	char path[128], *body = NULL;

	if (name != NULL) {
		snprintf(path, sizeof(path), TFIX "%s", name);
		body = h_read_file(path, &rp.body_len);
	}
	rp.body = body;
	rcv_script_reply(r, &rp);
	free(body);
}

/* The tenant's Jira at receiver j: credential sealed with the stack's
 * master key (act opens it with the same), settings row. */
static void jira_system(struct sys *s, struct receiver *j)
{
	struct ax_pg *pg = ax_pg_new(h_env("ALEXUS_DATABASE_URL"));
	struct ax_keyring kr;
	char err[256], base[64];
	const char *p[1] = { base };

	if (ax_keyring_init(&kr, h_env("ALEXUS_MASTER_KEY"), NULL, NULL, err, sizeof(err)) != AX_OK)
		fail_msg("keyring: %s", err);
	if (ax_pg_begin(pg, s->tenant, err, sizeof(err)) != AX_OK ||
	    ax_cred_put(pg, &kr, s->tenant, "jira-api", (const unsigned char *)CRED, strlen(CRED),
			NULL, err, sizeof(err)) != AX_OK ||
	    ax_pg_commit(pg, err, sizeof(err)) != AX_OK)
		fail_msg("credential: %s", err);
	ax_keyring_wipe(&kr);
	ax_pg_free(pg);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", rcv_port(j));
	PQclear(h_pg_q(s->app, s->tenant,
		       "INSERT INTO ticket_systems (tenant_id, system, base_url, credential, auth, "
		       "min_severity, project_key, issue_type) VALUES (app_tenant(), 'jira', $1, "
		       "'jira-api', 'basic', 'high', 'OPS', 'Incident')", 1, p));
}

static const struct rcv_request *jreq(struct receiver *j, int i)
{
	assert_true(rcv_wait(j, i + 1, WAIT_MS) >= i + 1);
	return rcv_get(j, i);
}

/* Request i of j: method and path, with our credential. */
static void check_jreq(struct receiver *j, int i, const char *method, const char *path)
{
	const struct rcv_request *q = jreq(j, i);
	char buf[256];

	assert_string_equal(q->method, method);
	assert_string_equal(q->path, path);
	assert_non_null(rcv_header(q, "authorization", buf, sizeof(buf)));
	assert_string_equal(buf, BASIC);
}

/* Alert -> incident -> exactly one search and one create in Jira; the
 * tickets row.  *key gets the created key (free()). */
static void created(struct sys *s, struct receiver *j, char inc[AX_UUID_LEN], char **key)
{
	char *id = tfix_str("jira-create.json", "/id"), label[64], sql[256];
	const struct rcv_request *q;
	const cJSON *f, *labels;
	cJSON *b;

	*key = tfix_str("jira-create.json", "/key");
	jira_reply(j, 200, "jira-search-empty.json");
	jira_reply(j, 201, "jira-create.json");
	open_incident(s, inc);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tickets WHERE system = 'jira' AND "
		 "external_key = '%s' AND remote_id = '%s' AND NOT resolved", *key, id);
	sys_wait_sql(s, sql, 1);
	sys_wait_settled(s);
	assert_int_equal(rcv_count(j), 2);
	check_jreq(j, 0, "POST", "/rest/api/3/search/jql");
	check_jreq(j, 1, "POST", "/rest/api/3/issue");
	q = jreq(j, 1);
	b = cJSON_Parse(q->body);
	assert_non_null(b);
	f = cJSON_GetObjectItem(b, "fields");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(f, "project"), "key"), "OPS");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(f, "issuetype"), "name"), "Incident");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(f, "priority"), "name"), "Highest");
	assert_string_equal(ax_json_str(cJSON_GetObjectItem(f, "description"), "type"), "doc");
	assert_true(strncmp(ax_json_str(f, "summary"), "[critical] ", 11) == 0);
	labels = cJSON_GetObjectItem(f, "labels");
	snprintf(label, sizeof(label), "alexus:%s", inc);
	assert_int_equal(cJSON_GetArraySize(labels), 2);
	assert_string_equal(cJSON_GetArrayItem(labels, 1)->valuestring, label);
	cJSON_Delete(b);
	assert_int_equal(q1(s, "SELECT count(*) FROM deliveries d JOIN actions a ON "
			       "a.id = d.action_id WHERE a.incident_id = $1::uuid AND "
			       "d.target = 'ticket:jira' AND d.status = 'succeeded'", inc), 1);
	free(id);
}

static void test_e2e_created_closed_resolved(void **state)
{
	struct receiver *j = rcv_start(500);
	char inc[AX_UUID_LEN], *key, *id = tfix_str("jira-create.json", "/id"), *body;
	struct issue is;
	struct sys *s;
	cJSON *r;

	(void)state;
	read_issue(&is);
	s = sys_up("tkt-e2e", NULL);
	jira_system(s, j);
	created(s, j, inc, &key);

	/* The created issue's webhook (open, as act made it): an echo. */
	body = compose_from(FIX_JIRA_OPEN, key, id, inc);
	assert_int_equal(sys_post(s, "/v1/webhooks/jira", body, strlen(body), &r), 202);
	cJSON_Delete(r);
	free(body);
	sys_wait_sql(s, "SELECT count(*) FROM incident_events WHERE stage = 'ticket_echo_ignored'",
		     1);

	/* Closed by Dana in Jira: the incident resolves. */
	body = compose_jira(key, id, inc);
	assert_int_equal(sys_post(s, "/v1/webhooks/jira", body, strlen(body), &r), 202);
	cJSON_Delete(r);
	free(body);
	sys_wait_sql(s, "SELECT count(*) FROM incidents WHERE status = 'resolved'", 1);
	sys_wait_settled(s);
	assert_int_equal(q1(s, "SELECT count(*) FROM incident_events WHERE stage = 'resolved' AND "
			       "output->>'reason' = 'ticket closed' AND output->>'by' = $1", is.by),
			 1);
	/* act's incident.resolved reached the ticket target and sent Jira
	 * nothing: the ticket is closed already. */
	assert_int_equal(sys_q(s, "SELECT count(*) FROM deliveries d JOIN actions a ON "
				  "a.id = d.action_id WHERE "
				  "a.payload->>'event' = 'incident.resolved' AND "
				  "d.target = 'ticket:jira' AND d.status = 'succeeded'"), 1);
	assert_int_equal(rcv_count(j), 2);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM tickets WHERE resolved"), 1);
	assert_true(sys_audit_chain_ok(s));
	sys_down(s);
	rcv_stop(j);
	free(key);
	free(id);
}

static void test_e2e_act_resolves_and_echo(void **state)
{
	struct receiver *j = rcv_start(500);
	char inc[AX_UUID_LEN], hash[AX_SHA256_HEX], *key, *body, *done_id;
	char *id = tfix_str("jira-create.json", "/id");
	struct sys *s;
	cJSON *r, *b, *tr;
	char path[128];

	(void)state;
	s = sys_up("tkt-e2e-res", NULL);
	jira_system(s, j);
	created(s, j, inc, &key);

	/* The alerts resolve the incident; act resolves the issue. */
	jira_reply(j, 200, "jira-issue-in-progress.json");
	jira_reply(j, 200, "jira-transitions.json");
	jira_reply(j, 204, NULL);
	assert_int_equal(sys_post_file(s, "/v1/webhooks/alertmanager", FIX_RESOLVED, &r), 202);
	cJSON_Delete(r);
	sys_wait_sql(s, "SELECT count(*) FROM tickets WHERE resolved AND external_status = 'Done'",
		     1);
	sys_wait_settled(s);
	assert_int_equal(rcv_count(j), 5);
	snprintf(path, sizeof(path), "/rest/api/3/issue/%s?fields=status", key);
	check_jreq(j, 2, "GET", path);
	snprintf(path, sizeof(path), "/rest/api/3/issue/%s/transitions", key);
	check_jreq(j, 3, "GET", path);
	check_jreq(j, 4, "POST", path);
	/* The transition into "done" of the fixture's list. */
	{
		size_t len;
		char *text = h_read_file(TFIX "jira-transitions.json", &len);
		cJSON *t = cJSON_Parse(text), *it;

		done_id = NULL;
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(t, "transitions")) {
			const cJSON *cat = ax_json_ptr(it, "/to/statusCategory/key");

			if (done_id == NULL && strcmp(cJSON_GetStringValue(cat), "done") == 0)
				done_id = strdup(ax_json_str(it, "id"));
		}
		cJSON_Delete(t);
		free(text);
	}
	b = cJSON_Parse(jreq(j, 4)->body);
	tr = cJSON_GetObjectItem(b, "transition");
	assert_string_equal(ax_json_str(tr, "id"), done_id);
	cJSON_Delete(b);
	free(done_id);
	echo_hash("jira", key, "resolved", hash);
	assert_int_equal(q1(s, "SELECT count(*) FROM tickets WHERE last_echo_hash = $1", hash), 1);

	/* Jira's webhook of that change: an echo, nothing moves. */
	body = compose_jira(key, id, inc);
	assert_int_equal(sys_post(s, "/v1/webhooks/jira", body, strlen(body), &r), 202);
	cJSON_Delete(r);
	free(body);
	sys_wait_sql(s, "SELECT count(*) FROM incident_events WHERE stage = 'ticket_echo_ignored'",
		     1);
	sys_wait_settled(s);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM incident_events WHERE stage = 'resolved'"),
			 1);
	assert_int_equal(sys_q(s, "SELECT count(*) FROM actions"), 2);
	assert_int_equal(rcv_count(j), 5);
	sys_down(s);
	rcv_stop(j);
	free(key);
	free(id);
}

static void test_e2e_create_adopts_existing(void **state)
{
	struct receiver *j = rcv_start(500);
	char *key = tfix_str("jira-search.json", "/issues/0/key");
	char *id = tfix_str("jira-search.json", "/issues/0/id");
	char inc[AX_UUID_LEN], sql[256];
	struct sys *s;

	(void)state;
	/* The issue exists already: a create before a crash made it. */
	jira_reply(j, 200, "jira-search.json");
	s = sys_up("tkt-e2e-adopt", NULL);
	jira_system(s, j);
	open_incident(s, inc);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tickets WHERE external_key = '%s' AND "
		 "remote_id = '%s'", key, id);
	sys_wait_sql(s, sql, 1);
	sys_wait_settled(s);
	assert_int_equal(rcv_count(j), 1);      /* the search, no create */
	check_jreq(j, 0, "POST", "/rest/api/3/search/jql");
	assert_int_equal(sys_q(s, "SELECT count(*) FROM tickets"), 1);
	sys_down(s);
	rcv_stop(j);
	free(key);
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_closed_by_jira_resolves, sys_teardown),
		cmocka_unit_test_teardown(test_own_echo_changes_nothing, sys_teardown),
		cmocka_unit_test_teardown(test_closed_in_servicenow_resolves, sys_teardown),
		cmocka_unit_test_teardown(test_unknown_and_correlated, sys_teardown),
		cmocka_unit_test_teardown(test_e2e_created_closed_resolved, sys_teardown),
		cmocka_unit_test_teardown(test_e2e_act_resolves_and_echo, sys_teardown),
		cmocka_unit_test_teardown(test_e2e_create_adopts_existing, sys_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	if (ax_hash_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
