-- 0020_api.sql - what the operator API served by ingest needs (issue 7):
-- notes on incidents, and the indexes behind the incident list's filters
-- and cursor.
--
-- 1. incident_notes: free text an operator adds to an incident (POST
--    /v1/incidents/{id}/notes).  The note is also an incident_events row
--    (stage 'note', naming the author) so the live feed and the timeline
--    show it; event_id links the two.  Append-only like the other
--    histories: no UPDATE, no DELETE granted.
--
-- 2. The list (GET /v1/incidents) pages newest first over the incident
--    id, a UUIDv7 (time-ordered; reason makes every id with ax_uuid7), so
--    the cursor is the last id of a page and the next page is
--    "id < cursor ORDER BY id DESC": one index range scan, stable while
--    new incidents arrive (they sort before the first page, not into the
--    one being read).  The primary key (tenant_id, id) serves the
--    unfiltered list; each equality filter gets an index that starts with
--    it and ends with id, so a filtered page is one range scan too.
--    since/until (opened_at) are residual conditions on those scans.
--    The live feed reads incident_events by (tenant_id, id > last), the
--    primary key.

CREATE TABLE incident_notes (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	id           uuid NOT NULL,
	incident_id  uuid NOT NULL,
	author       text NOT NULL CHECK (length(author) BETWEEN 1 AND 160),
	body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
	event_id     bigint,          -- the incident_events row of the note
	trace        text,
	created_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id)
);
CREATE INDEX incident_notes_incident ON incident_notes (tenant_id, incident_id, created_at);

ALTER TABLE incident_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE incident_notes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON incident_notes USING (tenant_id = app_tenant())
	WITH CHECK (tenant_id = app_tenant());
-- As 0015: no planner statistics on tenant_id.
ALTER TABLE incident_notes ALTER COLUMN tenant_id SET STATISTICS 0;
GRANT SELECT, INSERT ON incident_notes TO alexus_app;

-- The status and severity indexes are partial on a predicate that is
-- always true (opened_at is NOT NULL) and that the list query states:
-- the planner uses an index only where the query implies its predicate,
-- and the foreign-key checks into incidents (tenant_id, id) never do, so
-- on a new, never-analysed database they cannot pick these over the key
-- (0014; itest_store plans every check that way).  The service index is
-- partial on service IS NOT NULL, which "service = $n" implies.
CREATE INDEX incidents_status_id ON incidents (tenant_id, status, id)
	WHERE opened_at IS NOT NULL;
CREATE INDEX incidents_severity_id ON incidents (tenant_id, severity, id)
	WHERE opened_at IS NOT NULL;
CREATE INDEX incidents_service_id ON incidents (tenant_id, service, id)
	WHERE service IS NOT NULL;

-- 3. An incident's audit rows (GET /v1/incidents/{id}: subject
--    'incident:<id>' and 'action:<id>' of its actions) without walking the
--    tenant's whole chain.
CREATE INDEX audit_log_subject ON audit_log (tenant_id, subject, seq);
