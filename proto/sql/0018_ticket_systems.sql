-- 0018_ticket_systems.sql - the tenant's ticket systems (Jira Cloud,
-- ServiceNow) and what two-way ticket sync keeps on each ticket.
--
-- act (act/ticket.c) opens a ticket in every enabled system of the tenant
-- when an incident at or above the system's min_severity opens, comments on
-- it as the incident is diagnosed, acted on, waits for approval or is
-- escalated, and resolves (or reopens) it with the incident.  reason
-- (reason/ticket.c) reads the systems' webhooks (ticket signals from
-- ingest) and resolves or reopens the incident when a human closes or
-- reopens its ticket.
--
-- One row per system and tenant: a tenant has one Jira site and one
-- ServiceNow instance at most, so the system is the key and a target is
-- named by it alone.  Secrets never live here: credential names the
-- tenant_credentials entry (0004) holding "email:api_token" or a Jira
-- personal access token, "user:password" or a ServiceNow OAuth access
-- token; auth says whether it is sent as HTTP Basic or as a Bearer token.
-- Written by the API and alexusctl; read by act.
CREATE TABLE ticket_systems (
	tenant_id         text NOT NULL REFERENCES tenants(id),
	system            text NOT NULL CHECK (system IN ('jira', 'servicenow')),
	-- https://acme.atlassian.net, https://acme.service-now.com (act
	-- refuses anything but http(s) and appends the API paths)
	base_url          text NOT NULL,
	credential        text NOT NULL CHECK (credential ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
	auth              text NOT NULL DEFAULT 'basic' CHECK (auth IN ('basic', 'bearer')),
	-- the least severity of an incident that opens a ticket
	min_severity      text NOT NULL DEFAULT 'high'
	                  CHECK (min_severity IN ('critical', 'high', 'warning', 'info')),
	-- Jira: the project key and issue type name of new issues, and the
	-- priority name per severity ({"critical": "Highest", ...}); NULL
	-- gives Highest / High / Medium / Low, a severity missing from the
	-- object sends no priority (for projects whose create screen has none)
	project_key       text,
	issue_type        text,
	priority_map      jsonb
	                  CHECK (priority_map IS NULL OR jsonb_typeof(priority_map) = 'object'),
	-- ServiceNow: the table of new records and their assignment group
	-- (a sys_id or a name, as the instance accepts it)
	table_name        text NOT NULL DEFAULT 'incident'
	                  CHECK (table_name ~ '^[a-z][a-z0-9_]{0,79}$'),
	assignment_group  text,
	-- Resolving and reopening.  Jira: the transition (or its target
	-- status) by name; NULL takes the first transition into a status of
	-- category done (resolve), or of category "new", else "indeterminate"
	-- (reopen).  ServiceNow: the state code to write; NULL is 6 Resolved
	-- (resolve) and 2 In Progress (reopen); close_code goes with a resolve
	-- (ServiceNow's data policy wants a close code and close notes).
	resolve_status    text,
	reopen_status     text,
	close_code        text NOT NULL DEFAULT 'Solved (Permanently)',
	enabled           boolean NOT NULL DEFAULT true,
	created_at        timestamptz NOT NULL DEFAULT now(),
	updated_at        timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, system),
	CHECK (system <> 'jira' OR (project_key IS NOT NULL AND issue_type IS NOT NULL))
);

ALTER TABLE ticket_systems ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_systems FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ticket_systems USING (tenant_id = app_tenant())
	WITH CHECK (tenant_id = app_tenant());
-- As the other settings: upserted by the API, disabled rather than deleted.
GRANT SELECT, INSERT, UPDATE ON ticket_systems TO alexus_app;
-- As every tenant table since 0015.
ALTER TABLE ticket_systems ALTER COLUMN tenant_id SET STATISTICS 0;

-- What the sync keeps on each ticket besides its key:
--   remote_id  the system's own id (Jira issue id, ServiceNow sys_id): a
--              Jira key changes when the issue moves to another project,
--              and ServiceNow's Table API addresses records by sys_id;
--   resolved   the ticket's last known state, written by act after its
--              own change and by reason from the system's webhooks.  reason
--              acts on a change of this state only, so a comment on an open
--              ticket of a resolved incident reopens nothing.
-- last_echo_hash (0003) is the contract between the two: act writes the
-- hex SHA-256 of "<system>|<external_key>|open" or "...|resolved" -- what
-- the ticket will look like after its change -- before making the change,
-- and reason ignores a webhook whose state hashes to it (our own change,
-- echoed back).  reason forgets the hash after a human's change of state.
-- One ticket per incident and system: act looks it up before creating
-- one (a create retried after a crash must not open a second ticket).
ALTER TABLE tickets ADD COLUMN remote_id text;
ALTER TABLE tickets ADD COLUMN resolved boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX tickets_incident_system ON tickets (tenant_id, incident_id, system);
CREATE INDEX tickets_remote ON tickets (tenant_id, system, remote_id) WHERE remote_id IS NOT NULL;
