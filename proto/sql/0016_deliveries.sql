-- 0016_deliveries.sql - durable notification delivery: one row per target
-- of a notify action, and one row per attempt at it.
--
-- A notify action (actions.type 'notify') fans out to the tenant's targets:
-- the notification channels routing picked (target 'channel:<uuid>'), the
-- legacy tenants.settings.notify_webhook_url ('webhook') and the ticket
-- systems ('ticket:jira', 'ticket:servicenow').  act inserts every target's
-- row in the transaction that claims the action, so the set is fixed once
-- and a redelivered entry finds it instead of routing again.  Each target
-- is then attempted, retried and settled on its own: a Slack outage delays
-- Slack and nothing else, and a receiver that is down for hours costs rows
-- here, never memory in act.
--
-- The life of a row:
--   pending    waiting for its next attempt (next_at).  Whoever attempts
--              it first takes a lease (lease_until) in a short transaction,
--              attempts outside any transaction, then records the attempt
--              and the new state in another; nobody else takes a leased
--              row, and a crashed taker's lease simply runs out.
--   succeeded  delivered; never sent again.
--   dead       a permanent failure, or the last of ALEXUS_NOTIFY_MAX_ATTEMPTS;
--              dlq_at is set once its alexus:dlq entry was written (act's
--              retry thread writes it, so a Redis outage delays the dead
--              letter and does not lose it).
--   skipped    the channel was disabled or removed, or the webhook URL
--              cleared, before the target was delivered.
-- When no row of an action is pending any more, the same transaction
-- gives the action its final status (succeeded, or failed when a target is
-- dead) and its one audit row.
--
-- Rows with a life cycle are updated in place and never deleted by a
-- daemon (no DELETE grant, as in 0003); attempts are append-only history.
CREATE TABLE deliveries (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	action_id    uuid NOT NULL,
	target       text NOT NULL
	             CHECK (target IN ('webhook', 'ticket:jira', 'ticket:servicenow') OR
	                    target ~ ('^channel:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-'
	                              '[0-9a-f]{4}-[0-9a-f]{12}$')),
	status       text NOT NULL DEFAULT 'pending'
	             CHECK (status IN ('pending', 'succeeded', 'dead', 'skipped')),
	attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_at      timestamptz NOT NULL DEFAULT now(),   -- the next attempt is due
	lease_until  timestamptz,                          -- taken for an attempt until then
	last_status  integer,     -- HTTP status (SMTP reply code for email) of the last attempt
	last_error   text,        -- why the last attempt failed; never a secret or a URL path
	host         text,        -- the receiver's host, never its path
	origin_id    text,        -- the alexus:actions entry id that created the row
	dlq_at       timestamptz, -- a dead row's alexus:dlq entry was written then
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	settled_at   timestamptz,
	PRIMARY KEY (tenant_id, action_id, target),
	FOREIGN KEY (tenant_id, action_id) REFERENCES actions (tenant_id, id),
	CHECK ((status = 'pending') = (settled_at IS NULL)),
	CHECK (status = 'dead' OR dlq_at IS NULL)
);
-- The retry pass of one tenant, and whether a tenant has work at all:
-- pending rows by due time.
CREATE INDEX deliveries_due ON deliveries (tenant_id, next_at) WHERE status = 'pending';
-- Dead rows whose dead letter is still to be written.
CREATE INDEX deliveries_dlq ON deliveries (tenant_id) WHERE status = 'dead' AND dlq_at IS NULL;

-- One row per attempt at a target: what was sent where and what came
-- back.  requests counts the HTTP requests of the attempt (more than one
-- only for a webhook's short in-call retries).  Append-only.
CREATE TABLE delivery_attempts (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	id           bigint GENERATED ALWAYS AS IDENTITY,
	action_id    uuid NOT NULL,
	target       text NOT NULL,
	attempt      integer NOT NULL CHECK (attempt >= 1),
	ok           boolean NOT NULL,
	retryable    boolean NOT NULL,
	status       integer,     -- HTTP status or SMTP reply code, NULL when none came
	error        text,
	host         text,
	requests     integer NOT NULL DEFAULT 1 CHECK (requests >= 0),
	duration_ms  real NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
	trace        text,
	at           timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, action_id, target)
		REFERENCES deliveries (tenant_id, action_id, target),
	CHECK (NOT (ok AND retryable))
);
CREATE INDEX delivery_attempts_target ON delivery_attempts (tenant_id, action_id, target, id);

-- Row-level security and planner statistics exactly as on every tenant
-- table (0003, 0015).
DO $$
DECLARE
	tbl text;
BEGIN
	FOREACH tbl IN ARRAY ARRAY['deliveries', 'delivery_attempts'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant()) '
		               'WITH CHECK (tenant_id = app_tenant())', tbl);
		EXECUTE format('ALTER TABLE %I ALTER COLUMN tenant_id SET STATISTICS 0', tbl);
	END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE ON deliveries TO alexus_app;
GRANT SELECT, INSERT ON delivery_attempts TO alexus_app;

-- The tenants with deliveries due (a pending row whose time came and whose
-- lease, if any, ran out) or a dead letter still to write, for act's retry
-- thread.  Like tenants_with_due_runs() (0009) it crosses tenants, so it is
-- SECURITY DEFINER with a pinned search_path, reveals nothing but tenant
-- ids, skips disabled tenants, and refuses rather than answer "none" when
-- its owner is itself subject to row-level security.
CREATE FUNCTION tenants_with_due_deliveries(lim integer) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
	               WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'tenants_with_due_deliveries(): its owner % is subject to row-level '
		                'security and would see no delivery', current_user
			USING ERRCODE = '42501';
	END IF;
	-- Per tenant, two EXISTS probes down the partial indexes above: the
	-- cost follows the number of tenants, not the size of a backlog (a
	-- DISTINCT over every due row would read the whole backlog four
	-- times a second while a receiver is down).
	RETURN QUERY SELECT t.id FROM public.tenants t
		WHERE t.disabled_at IS NULL
		  AND (EXISTS (SELECT 1 FROM public.deliveries p
		               WHERE p.tenant_id = t.id AND p.status = 'pending'
		                 AND p.next_at <= now()
		                 AND (p.lease_until IS NULL OR p.lease_until < now()))
		       OR EXISTS (SELECT 1 FROM public.deliveries q
		                  WHERE q.tenant_id = t.id AND q.status = 'dead'
		                    AND q.dlq_at IS NULL
		                    AND (q.lease_until IS NULL OR q.lease_until < now())))
		LIMIT lim;
END
$$;
REVOKE ALL ON FUNCTION tenants_with_due_deliveries(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenants_with_due_deliveries(integer) TO alexus_app;
