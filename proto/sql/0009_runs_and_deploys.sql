-- 0009_runs_and_deploys.sql - the reasoning state machine's durable runs,
-- and the deploys and changes incidents are correlated with.
--
-- 1. pipeline_runs (0003) becomes the work queue of the stages after
--    classify.  reason's grouping transaction opens an incident, classifies
--    it and inserts its run in the same COMMIT; the slow stages (retrieval,
--    the model, confidence_check, the decision) run afterwards, each stage
--    its own transaction that also advances pipeline_runs.stage, so a run
--    resumes from its last committed stage after any crash.  A worker takes
--    a run by setting lease_until (nobody else touches a leased run); a
--    failed attempt sets next_at (backoff) and error.  input holds the
--    signal the run started from (the opening alert, or the deploy/change
--    record), minus its raw payload, since the stream entry is gone once
--    acknowledged.
-- 2. incident_events rows carry the run they belong to; a CMDB run has no
--    incident, so incident_id may be NULL when run_id is not.
-- 3. deploys: every deploy and change signal, written in the grouping
--    transaction itself, so an alert read right after the deploy already
--    sees it as a suspect (stream order within a consumer).
ALTER TABLE pipeline_runs
	ADD COLUMN kind        text NOT NULL DEFAULT 'incident' CHECK (kind IN ('incident', 'cmdb')),
	ADD COLUMN input       jsonb,
	ADD COLUMN attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	ADD COLUMN next_at     timestamptz NOT NULL DEFAULT now(),
	ADD COLUMN lease_until timestamptz,
	ADD COLUMN decision    text CHECK (decision IN ('execute', 'clarify', 'escalate', 'recorded'));
-- What a sweeper looks for: runs still running whose time has come.
CREATE INDEX pipeline_runs_due ON pipeline_runs (tenant_id, next_at) WHERE status = 'running';

ALTER TABLE incident_events ADD COLUMN run_id uuid;
ALTER TABLE incident_events ALTER COLUMN incident_id DROP NOT NULL;
ALTER TABLE incident_events ADD CONSTRAINT incident_events_subject
	CHECK (incident_id IS NOT NULL OR run_id IS NOT NULL);
CREATE INDEX incident_events_run ON incident_events (tenant_id, run_id) WHERE run_id IS NOT NULL;

CREATE TABLE deploys (
	tenant_id         text NOT NULL REFERENCES tenants(id),
	id                uuid NOT NULL,
	signal_id         uuid NOT NULL,
	kind              text NOT NULL CHECK (kind IN ('deploy', 'change')),
	name              text NOT NULL,
	status            text NOT NULL CHECK (status IN ('firing', 'resolved')),
	service           text,
	namespace         text,
	host              text,
	version           text,           -- labels sha/version/image tag, when the sender names one
	labels            jsonb NOT NULL DEFAULT '{}'::jsonb,
	source            text NOT NULL,
	source_ref        jsonb,
	at                timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, signal_id)
);
-- "What was deployed on this service lately", newest first.
CREATE INDEX deploys_service ON deploys (tenant_id, service, at DESC);
CREATE INDEX deploys_recent ON deploys (tenant_id, at DESC);

ALTER TABLE deploys ENABLE ROW LEVEL SECURITY;
ALTER TABLE deploys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deploys USING (tenant_id = app_tenant())
	WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT ON deploys TO alexus_app;

-- The tenants with runs due, for the sweeper that picks up what a crashed
-- worker left or what waits for its backoff.  Like active_tenant_ids()
-- (0006) it crosses tenants, so it is SECURITY DEFINER with a pinned
-- search_path, reveals nothing but tenant ids, and refuses rather than
-- answer "none" when its owner is itself subject to row-level security.
CREATE FUNCTION tenants_with_due_runs(lim integer) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
	               WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'tenants_with_due_runs(): its owner % is subject to row-level '
		                'security and would see no run', current_user
			USING ERRCODE = '42501';
	END IF;
	RETURN QUERY SELECT DISTINCT r.tenant_id FROM public.pipeline_runs r
		WHERE r.status = 'running' AND r.next_at <= now()
		  AND (r.lease_until IS NULL OR r.lease_until < now())
		LIMIT lim;
END
$$;
REVOKE ALL ON FUNCTION tenants_with_due_runs(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenants_with_due_runs(integer) TO alexus_app;
