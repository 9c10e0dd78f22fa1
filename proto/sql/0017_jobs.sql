-- 0017_jobs.sql - what act's periodic jobs (issue 6, act/jobs.c) need:
-- the Resolution Quality Gate's bookkeeping, escalation, and the due-scans
-- of both and of approval expiry.
--
-- 1. Quality gate: which incidents changed status since the gate last
--    looked.  A BEFORE UPDATE trigger on incidents sets gate_pending when
--    status changes (open -> resolved, or resolved -> open: a reopen),
--    and a BEFORE INSERT one when an incident is inserted resolved (one
--    batch of reason opened and resolved it).  They only flip a column of
--    the row reason is already writing, and their WHEN clauses are
--    evaluated without calling the function on any other write, so
--    reason's hot path gains no statement and no round trip.
--    Why not an AFTER trigger that inserts the resolutions row itself:
--    verify_after is resolved_at + ALEXUS_QUALITY_GATE_S, a setting of
--    act, which a trigger in reason's transaction cannot know; and the
--    row's summary (the last diagnosis, the executed actions) is a few
--    reads best kept off reason's transaction.  Why not have the job scan
--    resolved incidents without a resolutions row: that scan grows with
--    every incident ever resolved, while incidents_gate_pending holds only
--    what is waiting for the job (normally nothing).  act/gate.c reads the
--    flagged incidents, records a resolution for a resolve, regresses the
--    pending one of a reopened incident, and clears the flag.
--
--    resolutions (0003) had UNIQUE (tenant_id, incident_id): one
--    resolution per incident, ever.  An incident that is reopened and
--    resolved again needs a second one, so the key becomes (tenant_id,
--    incident_id, resolved_at) (a job that records the same resolve twice
--    finds it), and at most one resolution of an incident is pending.
--    history_mark is the largest alert_history id of the incident's alerts
--    when its resolution was recorded (their resolving transitions): a
--    firing row of the same fingerprint with a larger id came later, even
--    one reason wrote in the very transaction that resolved the incident
--    (whose "at" is that transaction's start, before resolved_at).
--
-- 2. Escalation: incidents.acknowledged_at/_by (a human took it; by SQL
--    for now, the API comes in issue 7), escalation_level (0 = not
--    escalated, else the last level paged), escalated_at, and escalate_at,
--    when the job should look at the incident next.  New incidents get
--    escalate_at = now() (the column default), so reason writes nothing
--    new; the job then computes the real due time from the tenant's
--    policy.  Incidents opened before this migration get NULL: they are
--    not escalated (an upgrade must not page for every old open incident
--    at once).  tenant_settings.escalation_policy is the schedule, levels
--    1..n in order, each after_s seconds after the incident opened; the
--    default pages level 1 after 15 minutes unacknowledged (the opening
--    notification itself is level 0), level 2 after 30, level 3 after 60.
--    act/escalate.c keeps the same default for a tenant without a
--    settings row (ACT_ESCALATION_DEFAULT): change both together.
--
-- 3. Due-scans: a partial index per job, each holding only what waits
--    (resolutions_due and approvals_pending exist since 0003), and
--    jobs_due_tenants(), the active tenants with any due work, so a pass
--    visits only those.  It crosses tenants, so like tenants_with_due_runs
--    (0009) it is SECURITY DEFINER with a pinned search_path, reveals only
--    tenant ids and refuses rather than answer "none" when its owner is
--    itself subject to row-level security.  Each condition is one probe
--    of a partial index per tenant (an EXISTS on (tenant_id, ...)), so its
--    cost is the number of tenants, not of rows.
--
-- 4. actions: the incident's actions (the gate's summary of what fixed
--    it), and the job's own outbox rows still pending (act re-appends
--    them after a crash between COMMIT and XADD, see act/jobs.c).  Both
--    partial, so neither can win a foreign-key check's plan from the key
--    (0014), and a notify row of reason (signal_id set) costs no entry in
--    the second.

-- 1. Quality gate.
ALTER TABLE incidents ADD COLUMN gate_pending boolean NOT NULL DEFAULT false;
CREATE INDEX incidents_gate_pending ON incidents (tenant_id) WHERE gate_pending;

CREATE FUNCTION incidents_gate_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.gate_pending := true;
	RETURN NEW;
END
$$;
CREATE TRIGGER incidents_gate_mark BEFORE UPDATE OF status ON incidents
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION incidents_gate_mark();
-- An incident opened and resolved by one batch of reason is inserted
-- resolved.
CREATE TRIGGER incidents_gate_mark_insert BEFORE INSERT ON incidents
	FOR EACH ROW WHEN (NEW.status = 'resolved')
	EXECUTE FUNCTION incidents_gate_mark();

ALTER TABLE resolutions DROP CONSTRAINT resolutions_tenant_id_incident_id_key;
ALTER TABLE resolutions
	ADD CONSTRAINT resolutions_incident_resolve UNIQUE (tenant_id, incident_id, resolved_at),
	ADD COLUMN history_mark bigint;
CREATE UNIQUE INDEX resolutions_pending_incident ON resolutions (tenant_id, incident_id)
	WHERE state = 'pending';

-- 2. Escalation.
ALTER TABLE incidents
	ADD COLUMN acknowledged_at  timestamptz,
	ADD COLUMN acknowledged_by  text,
	ADD COLUMN escalation_level integer NOT NULL DEFAULT 0
	                            CHECK (escalation_level BETWEEN 0 AND 10),
	ADD COLUMN escalated_at     timestamptz,
	ADD COLUMN escalate_at      timestamptz,
	ADD CONSTRAINT incidents_acknowledged CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL)),
	ADD CONSTRAINT incidents_escalated CHECK ((escalation_level = 0) = (escalated_at IS NULL));
-- After the ADD COLUMN, so existing rows keep NULL (see 2. above).
ALTER TABLE incidents ALTER COLUMN escalate_at SET DEFAULT now();
CREATE INDEX incidents_escalation_due ON incidents (tenant_id, escalate_at)
	WHERE status = 'open' AND acknowledged_at IS NULL AND escalate_at IS NOT NULL;

-- {"steps": [{"level": 1, "after_s": 900}, ...]}: 1..10 steps, nothing else
-- in the object or a step, levels 1, 2, 3... in order, after_s whole
-- seconds in [0, 30 days], never smaller than the step before.  Nested
-- CASEs guard every operator that would raise on another shape (jsonb -
-- text on a scalar, a cast), so a wrong shape is false, never an error:
-- SQL does not promise to evaluate OR from left to right.
CREATE FUNCTION escalation_step_valid(e jsonb, n bigint, prev jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog AS $$
	SELECT CASE
		WHEN jsonb_typeof(e) IS DISTINCT FROM 'object' THEN false
		WHEN e - 'level' - 'after_s' <> '{}'::jsonb THEN false
		WHEN jsonb_typeof(e -> 'level') IS DISTINCT FROM 'number' THEN false
		WHEN jsonb_typeof(e -> 'after_s') IS DISTINCT FROM 'number' THEN false
		WHEN (e ->> 'level')::numeric <> n THEN false
		WHEN (e ->> 'after_s')::numeric NOT BETWEEN 0 AND 2592000 THEN false
		WHEN (e ->> 'after_s')::numeric <> trunc((e ->> 'after_s')::numeric) THEN false
		WHEN prev IS NULL THEN true
		WHEN jsonb_typeof(prev -> 'after_s') IS DISTINCT FROM 'number' THEN false
		ELSE (e ->> 'after_s')::numeric >= (prev ->> 'after_s')::numeric
	END
$$;

CREATE FUNCTION escalation_policy_valid(p jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT CASE
		WHEN jsonb_typeof(p) IS DISTINCT FROM 'object' THEN false
		WHEN p - 'steps' <> '{}'::jsonb THEN false
		WHEN jsonb_typeof(p -> 'steps') IS DISTINCT FROM 'array' THEN false
		WHEN jsonb_array_length(p -> 'steps') NOT BETWEEN 1 AND 10 THEN false
		ELSE NOT EXISTS (
			SELECT 1 FROM jsonb_array_elements(p -> 'steps') WITH ORDINALITY AS s(e, n)
			WHERE NOT public.escalation_step_valid(e, n,
				CASE WHEN n > 1 THEN p -> 'steps' -> (n::int - 2) END))
	END
$$;

ALTER TABLE tenant_settings ADD COLUMN escalation_policy jsonb NOT NULL
	DEFAULT '{"steps": [{"level": 1, "after_s": 900}, {"level": 2, "after_s": 1800}, {"level": 3, "after_s": 3600}]}'::jsonb
	CONSTRAINT tenant_settings_escalation_policy CHECK (escalation_policy_valid(escalation_policy));

-- 4. actions.
CREATE INDEX actions_incident ON actions (tenant_id, incident_id, created_at)
	WHERE incident_id IS NOT NULL;
CREATE INDEX actions_jobs_pending ON actions (tenant_id, created_at, id)
	WHERE status = 'pending' AND signal_id IS NULL;

-- 3. The tenants a pass visits: active ones with due work, in id order,
-- after p_after (NULL: from the start), at most p_limit.
CREATE FUNCTION jobs_due_tenants(p_after text, p_limit integer) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
	               WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'jobs_due_tenants(): its owner % is subject to row-level security '
		                'and would see no work', current_user
			USING ERRCODE = '42501';
	END IF;
	RETURN QUERY SELECT t.id FROM public.tenants t
	WHERE t.disabled_at IS NULL AND (p_after IS NULL OR t.id > p_after) AND (
		EXISTS (SELECT 1 FROM public.incidents i
		        WHERE i.tenant_id = t.id AND i.gate_pending)
		OR EXISTS (SELECT 1 FROM public.resolutions r
		           WHERE r.tenant_id = t.id AND r.state = 'pending' AND r.verify_after <= now())
		OR EXISTS (SELECT 1 FROM public.incidents i
		           WHERE i.tenant_id = t.id AND i.status = 'open' AND i.acknowledged_at IS NULL
		             AND i.escalate_at IS NOT NULL AND i.escalate_at <= now())
		OR EXISTS (SELECT 1 FROM public.approvals a
		           WHERE a.tenant_id = t.id AND a.decision IS NULL AND a.expires_at <= now()))
	ORDER BY t.id LIMIT p_limit;
END
$$;
REVOKE ALL ON FUNCTION jobs_due_tenants(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jobs_due_tenants(text, integer) TO alexus_app;
