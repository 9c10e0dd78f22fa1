-- 0001_init.sql - tenants, alerts, incidents, stage transitions, actions
-- and the hash-chained audit log; row-level security on every tenant table.
--
-- Applied once, in a transaction, by `alexusctl migrate` connected as the
-- owner role.  The daemons connect as alexus_app, which owns nothing and has
-- no BYPASSRLS: every row they see is filtered by app.tenant_id, which each
-- unit of work sets with SET LOCAL (set_config(..., true)).

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alexus_app') THEN
		CREATE ROLE alexus_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
	END IF;
END
$$;

-- The tenant of the current transaction; NULL when unset, so a forgotten
-- SET LOCAL matches no row rather than failing open.
CREATE FUNCTION app_tenant() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.tenant_id', true), '') $$;

CREATE TABLE tenants (
	id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
	name        text NOT NULL,
	settings    jsonb NOT NULL DEFAULT '{}'::jsonb,  -- notify_webhook_url, thresholds
	created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE incidents (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	id           uuid NOT NULL,
	title        text NOT NULL,
	status       text NOT NULL CHECK (status IN ('open', 'resolved')),
	severity     text NOT NULL CHECK (severity IN ('critical', 'high', 'warning', 'info')),
	category     text,
	confidence   real CHECK (confidence BETWEEN 0 AND 1),
	stage        text NOT NULL,
	group_key    text NOT NULL,
	service      text,
	alert_count  integer NOT NULL DEFAULT 0,
	opened_at    timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	resolved_at  timestamptz,
	trace        text,
	PRIMARY KEY (tenant_id, id)
);
-- At most one open incident per group: grouping is a lookup, not a race.
CREATE UNIQUE INDEX incidents_open_group ON incidents (tenant_id, group_key) WHERE status = 'open';
CREATE INDEX incidents_recent ON incidents (tenant_id, opened_at DESC);

CREATE TABLE alerts (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	id           uuid NOT NULL,
	incident_id  uuid NOT NULL,
	fingerprint  text NOT NULL,
	name         text NOT NULL,
	status       text NOT NULL CHECK (status IN ('firing', 'resolved')),
	severity     text NOT NULL,
	summary      text,
	service      text,
	host         text,
	namespace    text,
	labels       jsonb NOT NULL DEFAULT '{}'::jsonb,
	source       text NOT NULL,
	starts_at    timestamptz,
	ends_at      timestamptz,
	last_signal  uuid NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id),
	UNIQUE (tenant_id, incident_id, fingerprint)
);
CREATE INDEX alerts_fp ON alerts (tenant_id, fingerprint);

-- Every signal reason has committed, so a redelivered entry is recognised
-- and changes nothing (at-least-once delivery, exactly-once effect).
CREATE TABLE signals_seen (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	signal_id    uuid NOT NULL,
	incident_id  uuid,
	seen_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, signal_id)
);

CREATE TABLE incident_events (
	tenant_id     text NOT NULL REFERENCES tenants(id),
	id            bigint GENERATED ALWAYS AS IDENTITY,
	incident_id   uuid NOT NULL,
	signal_id     uuid,
	stage         text NOT NULL,
	input_digest  text,
	output        jsonb NOT NULL DEFAULT '{}'::jsonb,
	duration_ms   real NOT NULL DEFAULT 0,
	provider      text NOT NULL DEFAULT 'heuristic',
	fallback      boolean NOT NULL DEFAULT false,
	trace         text,
	created_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id)
);
CREATE INDEX incident_events_incident ON incident_events (tenant_id, incident_id, id);

-- The outbox: reason writes an action in the same transaction as the state
-- change that caused it, then appends it to alexus:actions.  act moves it
-- through pending -> running -> succeeded | failed.
CREATE TABLE actions (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	id           uuid NOT NULL,
	incident_id  uuid,
	signal_id    uuid,
	type         text NOT NULL,
	status       text NOT NULL DEFAULT 'pending'
	             CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
	payload      jsonb NOT NULL,
	attempts     integer NOT NULL DEFAULT 0,
	result       jsonb,
	trace        text,
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX actions_signal ON actions (tenant_id, signal_id);

-- Append-only and hash-chained per tenant: hash = sha256(prev_hash ||
-- canonical text of the row).  Editing or deleting any row breaks every
-- later link, which `alexusctl audit verify` detects.
CREATE TABLE audit_log (
	tenant_id   text NOT NULL REFERENCES tenants(id),
	seq         bigint NOT NULL,
	at          timestamptz NOT NULL,
	actor       text NOT NULL,
	action      text NOT NULL,
	subject     text NOT NULL,
	detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
	trace       text,
	prev_hash   bytea NOT NULL,
	hash        bytea NOT NULL,
	PRIMARY KEY (tenant_id, seq)
);

-- The canonical text a link hashes; verification recomputes it.
CREATE FUNCTION audit_link_text(t text, s bigint, a timestamptz, actor text,
                                action text, subject text, detail jsonb, trace text)
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT convert_to(concat_ws(E'\n', t, s::text,
		to_char(a AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		actor, action, subject, detail::text, coalesce(trace, '')), 'UTF8')
$$;

-- Append one audit row for the current tenant.  The advisory lock orders
-- concurrent appends of one tenant so the chain never forks.
CREATE FUNCTION audit_append(p_actor text, p_action text, p_subject text,
                             p_detail jsonb, p_trace text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	t     text := app_tenant();
	prev  bytea;
	s     bigint;
	ts    timestamptz := clock_timestamp();
BEGIN
	IF t IS NULL THEN
		RAISE EXCEPTION 'app.tenant_id is not set' USING ERRCODE = '42501';
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('alexus.audit.' || t));
	SELECT seq, hash INTO s, prev FROM audit_log
	 WHERE tenant_id = t ORDER BY seq DESC LIMIT 1;
	s := coalesce(s, 0) + 1;
	prev := coalesce(prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
	INSERT INTO audit_log (tenant_id, seq, at, actor, action, subject, detail, trace, prev_hash, hash)
	VALUES (t, s, ts, p_actor, p_action, p_subject, p_detail, p_trace, prev,
	        sha256(prev || audit_link_text(t, s, ts, p_actor, p_action, p_subject, p_detail, p_trace)));
	RETURN s;
END
$$;

-- Row-level security: enabled and forced on every tenant table, one policy
-- each on the transaction's tenant.
DO $$
DECLARE
	tbl text;
BEGIN
	FOREACH tbl IN ARRAY ARRAY['incidents', 'alerts', 'signals_seen', 'incident_events',
	                           'actions', 'audit_log'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant()) '
		               'WITH CHECK (tenant_id = app_tenant())', tbl);
	END LOOP;
END
$$;
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (id = app_tenant()) WITH CHECK (id = app_tenant());

GRANT USAGE ON SCHEMA public TO alexus_app;
GRANT SELECT ON tenants TO alexus_app;
GRANT SELECT, INSERT, UPDATE ON incidents, alerts, signals_seen, incident_events, actions TO alexus_app;
GRANT SELECT, INSERT ON audit_log TO alexus_app;   -- append-only: no UPDATE, no DELETE
GRANT EXECUTE ON FUNCTION app_tenant(), audit_link_text(text, bigint, timestamptz, text, text, text, jsonb, text),
	audit_append(text, text, text, jsonb, text) TO alexus_app;
