-- 0019_action_policy.sql - what act's policy engine reads beyond 0003's
-- knobs, and what it needs to count (issue 6).
--
-- tenant_settings gains:
--   autonomous_max_blast   the largest blast radius an autonomous action
--                          may have ('low': one pod, 'medium': one
--                          workload, 'high': a node and all on it); above
--                          it a human approves even an allowlisted action.
--   max_actions_per_hour   real executions per rolling hour before act
--                          refuses more (0: no cap): an alert that keeps
--                          firing must not restart a service forever.
--   http_action_allowlist  URL prefixes the generic HTTP action may call.
--                          Each must be an http(s) URL whose prefix ends
--                          at a path boundary, checked again by act.
-- actions gains executed_at, set when a remediation really ran (not a dry
-- run), which is what the hourly cap counts through a partial index.

ALTER TABLE tenant_settings
	ADD COLUMN autonomous_max_blast text NOT NULL DEFAULT 'medium'
		CHECK (autonomous_max_blast IN ('low', 'medium', 'high')),
	ADD COLUMN max_actions_per_hour integer NOT NULL DEFAULT 20
		CHECK (max_actions_per_hour BETWEEN 0 AND 100000),
	ADD COLUMN http_action_allowlist text[] NOT NULL DEFAULT '{}'
		CHECK (array_position(http_action_allowlist, NULL) IS NULL);

-- A CHECK cannot hold a subquery, so the URL shape of each allowlist entry
-- is a function.
CREATE FUNCTION http_prefixes_valid(a text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(bool_and(p ~ '^https?://[^/?#@[:space:]]+(/[^[:space:]]*)?$'), true)
	FROM unnest(a) AS p
$$;
ALTER TABLE tenant_settings ADD CONSTRAINT tenant_settings_http_allowlist_urls
	CHECK (http_prefixes_valid(http_action_allowlist));

ALTER TABLE actions ADD COLUMN executed_at timestamptz;
CREATE INDEX actions_executed ON actions (tenant_id, executed_at) WHERE executed_at IS NOT NULL;
