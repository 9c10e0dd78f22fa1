-- 0003_tenant_schema.sql - the rest of the tenant tables of issue 4: the
-- tenant's settings, what each signal went through (alert history, pipeline
-- and analysis runs), the humans' side (triage queue, approvals), the
-- outside world's side (tickets, notification channels) and the 48-hour
-- Resolution Quality Gate (resolutions).
--
-- Every table follows 0001: tenant_id references tenants, the primary key
-- starts with tenant_id (so each tenant's rows cluster in the index and a
-- row can only ever be addressed together with its tenant), composite
-- foreign keys carry tenant_id (a row cannot point at another tenant's
-- incident even through the owner role), and row-level security is ENABLEd
-- and FORCEd with the one tenant_isolation policy on app_tenant().
-- tests/integration/itest_schema.c finds these tables from the catalog and
-- proves the isolation for each.
--
-- Grants are the least alexus_app needs.  No table here grants DELETE:
-- history is kept (a run, an approval, a resolution is never removed by a
-- daemon), and what the API "removes" is closed or disabled instead (a
-- channel's enabled, a triage item's closed_at).  Retention, if it comes,
-- is an owner job (alexusctl), not a daemon.  TRUNCATE is never granted: it
-- is not subject to row-level security.
--
-- Secrets never live here: a notification channel names its credential in
-- tenant_credentials (0004), whose value is encrypted there.

-- One row per tenant: the knobs of confidence_check and of action safety.
-- A tenant without a row gets the column defaults (readers use the
-- defaults when no row is found), so creating a tenant needs no row here.
-- Written by the API (served by ingest) and alexusctl; read by reason
-- (thresholds, grouping window) and act (autonomy, allowlists, caps).
CREATE TABLE tenant_settings (
	tenant_id           text NOT NULL REFERENCES tenants(id),
	-- confidence >= execute_threshold: execute; >= clarify_threshold:
	-- clarify (triage queue); below: escalate
	execute_threshold   numeric(4,3) NOT NULL DEFAULT 0.850
	                    CHECK (execute_threshold BETWEEN 0 AND 1),
	clarify_threshold   numeric(4,3) NOT NULL DEFAULT 0.500
	                    CHECK (clarify_threshold BETWEEN 0 AND 1),
	-- what act may do with an action: nothing, pretend (the default),
	-- ask first, or run the allowlisted ones on its own
	autonomy            text NOT NULL DEFAULT 'dry_run'
	                    CHECK (autonomy IN ('off', 'dry_run', 'approval', 'autonomous')),
	allowed_namespaces  text[] NOT NULL DEFAULT '{}',    -- Kubernetes namespaces act may touch
	autonomous_actions  text[] NOT NULL DEFAULT '{}',    -- action types that may skip approval
	replica_cap         integer NOT NULL DEFAULT 10 CHECK (replica_cap BETWEEN 0 AND 1000),
	-- an alert joins the open incident of its group if that incident saw
	-- a signal within this many seconds
	grouping_window_s   integer NOT NULL DEFAULT 300
	                    CHECK (grouping_window_s BETWEEN 1 AND 604800),
	updated_at          timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id),
	CHECK (clarify_threshold <= execute_threshold),
	CHECK (array_position(allowed_namespaces, NULL) IS NULL),
	CHECK (array_position(autonomous_actions, NULL) IS NULL)
);

-- One row per tenant: which knowledge files the IncidentAgent retrieves
-- over.  knowledge_files is a JSON array of objects such as
-- {"name": "runbook.md", "uri": "s3://...", "sha256": "..."}; the documents
-- themselves are knowledge_docs (0005).  Written by the API and alexusctl;
-- read by reason.
CREATE TABLE tenant_rag_settings (
	tenant_id        text NOT NULL REFERENCES tenants(id),
	knowledge_files  jsonb NOT NULL DEFAULT '[]'::jsonb
	                 CHECK (jsonb_typeof(knowledge_files) = 'array'),
	updated_at       timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id)
);

-- Every status an alert went through (firing, resolved, firing again...),
-- one row per change, in the transaction that changed alerts.status.
-- alerts keeps only the current status; this is how "flapping" is seen.
-- Written by reason; append-only.
CREATE TABLE alert_history (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	id           bigint GENERATED ALWAYS AS IDENTITY,
	alert_id     uuid NOT NULL,
	from_status  text CHECK (from_status IN ('firing', 'resolved')),  -- NULL: first sighting
	to_status    text NOT NULL CHECK (to_status IN ('firing', 'resolved')),
	signal_id    uuid,           -- the signal that caused the change
	trace        text,
	at           timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, alert_id) REFERENCES alerts (tenant_id, id)
);
CREATE INDEX alert_history_alert ON alert_history (tenant_id, alert_id, id);

-- One row per signal that went through the reasoning state machine: how
-- far it got and how it ended.  incident_events holds the individual
-- transitions; this is the run they belong to, so a stuck or failed run is
-- one indexed lookup instead of a scan of the events.  The signal id is
-- unique, so a redelivered entry finds its run instead of starting another.
-- Written by reason.
CREATE TABLE pipeline_runs (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	id           uuid NOT NULL,
	signal_id    uuid NOT NULL,
	incident_id  uuid,           -- once grouping found or opened one
	trace        text,
	stage        text NOT NULL DEFAULT 'received'
	             CHECK (stage IN ('received', 'classify', 'incident_or_cmdb',
	                              'confidence_check', 'execute', 'clarify', 'escalate')),
	status       text NOT NULL DEFAULT 'running'
	             CHECK (status IN ('running', 'succeeded', 'failed', 'dead_lettered')),
	error        text,           -- why it failed, when it did
	started_at   timestamptz NOT NULL DEFAULT now(),
	finished_at  timestamptz,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, signal_id),
	FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id),
	CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX pipeline_runs_recent ON pipeline_runs (tenant_id, started_at DESC);
CREATE INDEX pipeline_runs_running ON pipeline_runs (tenant_id, started_at)
	WHERE status = 'running';

-- One row per diagnosis of an incident: which provider and model answered
-- (or that the heuristic did, and why the model was not used), what it
-- cost, and the parts the confidence was computed from.  The figures for
-- the LLM bill and for "how often does the fallback fire".  Written by
-- reason; append-only.
CREATE TABLE analysis_runs (
	tenant_id         text NOT NULL REFERENCES tenants(id),
	id                uuid NOT NULL,
	incident_id       uuid NOT NULL,
	pipeline_run_id   uuid,
	provider          text NOT NULL,          -- 'heuristic', 'openai', ...
	model             text,                   -- NULL for the heuristic
	fallback_used     boolean NOT NULL DEFAULT false,
	fallback_reason   text,                   -- timeout, http_5xx, malformed, ...
	tokens_in         integer NOT NULL DEFAULT 0 CHECK (tokens_in >= 0),
	tokens_out        integer NOT NULL DEFAULT 0 CHECK (tokens_out >= 0),
	cost_usd          numeric(12,6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
	confidence        real CHECK (confidence BETWEEN 0 AND 1),
	-- e.g. {"retrieval": 0.7, "model": 0.9, "agreement": 1}
	confidence_parts  jsonb NOT NULL DEFAULT '{}'::jsonb
	                  CHECK (jsonb_typeof(confidence_parts) = 'object'),
	duration_ms       real NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
	trace             text,
	created_at        timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id),
	FOREIGN KEY (tenant_id, pipeline_run_id) REFERENCES pipeline_runs (tenant_id, id),
	CHECK (fallback_used OR fallback_reason IS NULL)
);
CREATE INDEX analysis_runs_incident ON analysis_runs (tenant_id, incident_id, created_at);

-- Incidents waiting for a human: the "clarify" outcome of confidence_check,
-- or anything a plane could not decide.  At most one open item per
-- incident.  Written by reason (adds), the API (take, close) and act's
-- escalation job (reads what waits too long).
CREATE TABLE triage_queue (
	tenant_id    text NOT NULL REFERENCES tenants(id),
	id           uuid NOT NULL,
	incident_id  uuid NOT NULL,
	reason       text NOT NULL,   -- low_confidence, conflicting_signals, ...
	created_at   timestamptz NOT NULL DEFAULT now(),
	taken_by     text,            -- the user working on it
	taken_at     timestamptz,
	closed_at    timestamptz,
	PRIMARY KEY (tenant_id, id),
	FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id),
	CHECK ((taken_by IS NULL) = (taken_at IS NULL))
);
CREATE UNIQUE INDEX triage_queue_open_incident ON triage_queue (tenant_id, incident_id)
	WHERE closed_at IS NULL;
CREATE INDEX triage_queue_open ON triage_queue (tenant_id, created_at) WHERE closed_at IS NULL;

-- The approval gate of an action (autonomy 'approval', or an action not in
-- autonomous_actions): act requests it and waits; a human approves or
-- rejects through the API; act expires what nobody decided in time.  One
-- per action.  The decision is also an audit_log row.
CREATE TABLE approvals (
	tenant_id     text NOT NULL REFERENCES tenants(id),
	id            uuid NOT NULL,
	action_id     uuid NOT NULL,
	requested_by  text NOT NULL,            -- 'act', or the user who asked
	requested_at  timestamptz NOT NULL DEFAULT now(),
	expires_at    timestamptz NOT NULL,
	decided_by    text,                     -- user, or 'act' for an expiry
	decision      text CHECK (decision IN ('approved', 'rejected', 'expired')),
	decided_at    timestamptz,
	comment       text,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, action_id),
	FOREIGN KEY (tenant_id, action_id) REFERENCES actions (tenant_id, id),
	CHECK (expires_at > requested_at),
	CHECK ((decision IS NULL) = (decided_at IS NULL)),
	CHECK (decision IS NULL OR decision = 'expired' OR decided_by IS NOT NULL)
);
CREATE INDEX approvals_pending ON approvals (tenant_id, expires_at) WHERE decision IS NULL;

-- An incident's ticket in an external system.  act opens and syncs it;
-- reason reads it when a ticket-update signal arrives.  last_echo_hash is
-- the hex SHA-256 of the last update we sent: the sender echoes our own
-- change back as a webhook, and a matching hash marks it as ours so it
-- does not bounce back and forth (loop prevention).
CREATE TABLE tickets (
	tenant_id       text NOT NULL REFERENCES tenants(id),
	id              uuid NOT NULL,
	incident_id     uuid NOT NULL,
	system          text NOT NULL CHECK (system IN ('jira', 'servicenow')),
	external_key    text NOT NULL,          -- OPS-123, INC0010001
	url             text,
	external_status text,
	last_synced_at  timestamptz,
	last_echo_hash  text CHECK (last_echo_hash ~ '^[0-9a-f]{64}$'),
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, system, external_key),
	FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id)
);
CREATE INDEX tickets_incident ON tickets (tenant_id, incident_id);

-- Where act sends notifications.  config holds only what is not secret
-- (channel name, email address, chat id...); the secret part (a Slack
-- webhook URL, a bot token, a PagerDuty routing key) is the tenant_credentials
-- entry named by credential, and the CHECK refuses the usual secret keys so
-- one cannot slip into config by mistake.  service, when set, makes the
-- channel receive that service's incidents instead of the tenant-wide
-- channels of its kind.  Written by the API and alexusctl; read by act.
CREATE TABLE notification_channels (
	tenant_id     text NOT NULL REFERENCES tenants(id),
	id            uuid NOT NULL,
	kind          text NOT NULL
	              CHECK (kind IN ('slack', 'teams', 'pagerduty', 'email', 'telegram',
	                              'webhook')),
	name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
	min_severity  text NOT NULL DEFAULT 'warning'
	              CHECK (min_severity IN ('critical', 'high', 'warning', 'info')),
	service       text,
	config        jsonb NOT NULL DEFAULT '{}'::jsonb
	              CHECK (jsonb_typeof(config) = 'object' AND
	                     NOT (config ?| ARRAY['secret', 'token', 'password', 'api_key',
	                                         'webhook_url', 'routing_key', 'bot_token',
	                                         'integration_key'])),
	credential    text,          -- tenant_credentials name, NULL when none is needed
	enabled       boolean NOT NULL DEFAULT true,
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, name)
);
CREATE INDEX notification_channels_enabled ON notification_channels (tenant_id, kind)
	WHERE enabled;

-- The 48-hour Resolution Quality Gate.  When an incident resolves, reason
-- records what fixed it; act's periodic job looks at each pending row
-- once verify_after has passed: still quiet, it is verified (and becomes
-- evidence for retrieval); the same fingerprint fired again, it regressed
-- (and regressed_incident_id says where).  Written by reason (insert) and
-- act (verify, regress).
CREATE TABLE resolutions (
	tenant_id              text NOT NULL REFERENCES tenants(id),
	id                     uuid NOT NULL,
	incident_id            uuid NOT NULL,
	fingerprint            text NOT NULL,
	ci                     text,       -- configuration_items.id (0005), when known
	summary                text NOT NULL,
	resolved_at            timestamptz NOT NULL DEFAULT now(),
	verify_after           timestamptz NOT NULL,   -- resolved_at + 48 hours by default
	state                  text NOT NULL DEFAULT 'pending'
	                       CHECK (state IN ('pending', 'verified', 'regressed')),
	checked_at             timestamptz,
	regressed_incident_id  uuid,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, incident_id),
	FOREIGN KEY (tenant_id, incident_id) REFERENCES incidents (tenant_id, id),
	FOREIGN KEY (tenant_id, regressed_incident_id) REFERENCES incidents (tenant_id, id),
	CHECK (verify_after >= resolved_at),
	CHECK ((state = 'pending') = (checked_at IS NULL)),
	CHECK (state = 'regressed' OR regressed_incident_id IS NULL)
);
CREATE INDEX resolutions_due ON resolutions (tenant_id, verify_after) WHERE state = 'pending';
CREATE INDEX resolutions_fingerprint ON resolutions (tenant_id, fingerprint, resolved_at DESC);

-- Row-level security exactly as on the tenant tables of 0001.
DO $$
DECLARE
	tbl text;
BEGIN
	FOREACH tbl IN ARRAY ARRAY['tenant_settings', 'tenant_rag_settings', 'alert_history',
	                           'pipeline_runs', 'analysis_runs', 'triage_queue', 'approvals',
	                           'tickets', 'notification_channels', 'resolutions'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant()) '
		               'WITH CHECK (tenant_id = app_tenant())', tbl);
	END LOOP;
END
$$;

-- Settings are upserted by the API (INSERT ... ON CONFLICT DO UPDATE).
GRANT SELECT, INSERT, UPDATE ON tenant_settings, tenant_rag_settings TO alexus_app;
-- Append-only history: reason adds rows, nobody changes them.
GRANT SELECT, INSERT ON alert_history, analysis_runs TO alexus_app;
-- Rows with a life cycle (a run finishes, an item is taken and closed, an
-- approval is decided, a ticket synced, a channel disabled, a resolution
-- verified): updated in place, never deleted by a daemon.
GRANT SELECT, INSERT, UPDATE ON pipeline_runs, triage_queue, approvals, tickets,
	notification_channels, resolutions TO alexus_app;
