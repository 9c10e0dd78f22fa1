-- 0010_grouping.sql - explainable grouping, flapping and incident parents
-- (issue 5, "Correlation before reasoning"; the engine is common/group.c).
--
-- 1. tenant_settings.grouping_rules: the tenant's ordered grouping rules,
--    NULL for the defaults (fingerprint, then one of service,
--    namespace+host, host, name: what reason always did).  The CHECK below
--    refuses the wrong shape; reason's loader (ax_group_rules_parse) also
--    refuses unknown fields and names the first problem.
--    flap_window_s: an alert that fires again within this many seconds of
--    resolving is flapping, and reopens the incident it resolved in.
-- 2. incidents.last_signal_at: when a signal last touched the incident; a
--    rule's window is measured from it.  parent_id: the older open
--    incident of another group this one shares a root CI with.
-- 3. alerts.group_rule / group_match: the rule that attached the alert
--    ("opened" when it opened the incident) and the values that matched;
--    flap_count: how many times it fired again soon after resolving.
--    Rows from before this migration have NULL rule and match.
-- 4. alert_history by time, for `alexusctl replay --from --to`.

CREATE FUNCTION grouping_rules_valid(r jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog AS $$
	SELECT r IS NULL OR (
		jsonb_typeof(r) = 'array' AND jsonb_array_length(r) BETWEEN 1 AND 32 AND
		NOT EXISTS (
			SELECT 1 FROM jsonb_array_elements(r) AS e
			WHERE jsonb_typeof(e) <> 'object'
			   OR jsonb_typeof(e->'name') IS DISTINCT FROM 'string'
			   OR jsonb_typeof(e->'fields') IS DISTINCT FROM 'array'
			   OR jsonb_array_length(CASE jsonb_typeof(e->'fields') WHEN 'array'
			                          THEN e->'fields' ELSE '[]' END) = 0
			   OR (e ? 'unless' AND jsonb_typeof(e->'unless') <> 'array')
			   OR (e ? 'window_s' AND jsonb_typeof(e->'window_s') <> 'number')))
$$;

ALTER TABLE tenant_settings
	ADD COLUMN grouping_rules jsonb CHECK (grouping_rules_valid(grouping_rules)),
	ADD COLUMN flap_window_s  integer NOT NULL DEFAULT 600
	                          CHECK (flap_window_s BETWEEN 0 AND 86400);

ALTER TABLE incidents
	ADD COLUMN last_signal_at timestamptz NOT NULL DEFAULT now(),
	ADD COLUMN parent_id      uuid,
	ADD CONSTRAINT incidents_parent FOREIGN KEY (tenant_id, parent_id)
		REFERENCES incidents (tenant_id, id),
	ADD CONSTRAINT incidents_parent_not_self CHECK (parent_id IS DISTINCT FROM id);
UPDATE incidents SET last_signal_at = updated_at;
CREATE INDEX incidents_children ON incidents (tenant_id, parent_id) WHERE parent_id IS NOT NULL;

ALTER TABLE alerts
	ADD COLUMN group_rule  text,
	ADD COLUMN group_match jsonb,
	ADD COLUMN flap_count  integer NOT NULL DEFAULT 0 CHECK (flap_count >= 0);

CREATE INDEX alert_history_at ON alert_history (tenant_id, at);
