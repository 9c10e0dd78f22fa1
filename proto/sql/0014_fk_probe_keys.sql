-- 0014_fk_probe_keys.sql - foreign-key checks that can only probe the key,
-- and the retention of signals_seen.
--
-- 1. A foreign-key check is "SELECT 1 FROM parent WHERE tenant_id = $1 AND
--    id = $2 FOR KEY SHARE", planned once per session and kept.  Planned on
--    a brand-new database (no statistics: a tenant_id is estimated at one
--    row), an index that starts with tenant_id and matches nothing else
--    costs the same as the key and wins: alert_history -> alerts took
--    alerts_fp (tenant_id, fingerprint), every child of incidents
--    incidents_recent (tenant_id, opened_at).  Each check then read all of
--    the tenant's rows until autovacuum's first ANALYZE invalidated the plan
--    (make bench-store warm-up: 1,181 alerts/s instead of 12,000; make
--    bench-latency on a new database: p99 17 s and rows lost).  Reversing
--    the other indexes, as 0007 did for signals_seen (whose key is its only
--    index), does not work for these tables: row-level security adds
--    "tenant_id = app_tenant()" to every query of the daemons, estimated at
--    one row too, and then the key (tenant_id, id) wins reason's
--    fingerprint probes over an index (fingerprint, tenant_id) once the
--    tables have statistics (EXPLAIN of reason's Q_LOCK and Q_ALERTS after
--    50,000 alerts and an ANALYZE: alerts_pkey, the fingerprint a filter).
--    So, per parent:
--    - alert_history -> alerts: dropped.  alert_history is append-only and
--      the highest-volume table (a row per status change); reason writes
--      each row in the transaction that inserted or updated its alert
--      (common/store.c, one pipeline), alexus_app has no DELETE on alerts
--      or alert_history, and the rows keep their tenant_id foreign key and
--      row-level security.  An owner-side deletion of alerts (retention,
--      alexusctl) must delete their history first; that is the owner's to
--      guarantee.  alerts_fp stays (tenant_id, fingerprint) for reason.
--    - incidents: incidents_recent goes.  Incident ids are version 7
--      UUIDs (time first, common/hash.c), so the key read backwards is the
--      tenant's incidents newest first.  The nine foreign keys to incidents
--      (alerts, incident_events, pipeline_runs, analysis_runs, ...) are
--      kept, and their checks can now only probe the key.
--    And two per-row costs of the storm's tables that guard nothing:
--    - alerts -> tenants goes: alerts -> incidents (tenant_id, incident_id)
--      with incidents -> tenants already implies it (all NOT NULL).
--    - alert_history's key becomes (tenant_id, alert_id, id), which is
--      what alert_history_alert indexed: one index less per row, the
--      same uniqueness (id is an identity), the same lookups.
--    make bench-store, one connection, two runs each (machine shared):
--    11,057 -> 11,239 / 11,945 alerts/s with the foreign key dropped,
--    11,876 / 12,400 with these two as well.
--    Not here: pipeline_runs (parent of analysis_runs, one check per
--    analysis) and actions (parent of approvals) have (tenant_id,
--    signal_id) indexes that daemons need under row-level security and
--    that win the same tie; their checks are rare, and they are named in
--    itest_store.c.
--    tests/integration/itest_store.c plans every foreign-key check of the
--    schema on empty, never-analyzed copies of the parents and fails if
--    one does not use its key.
--
-- 2. signals_prune(tenant, older_than, max_rows): the owner-side retention
--    of signals_seen (reason's "committed before" claims, one per signal).
--    A claim only matters while its stream entry can still be delivered
--    again: an entry reason committed but did not acknowledge stays
--    pending, and is redelivered to a live consumer after claim_idle_ms
--    (30 s by default), at most max_deliveries (5) times before it goes to
--    alexus:dlq -- minutes, plus however long no reason runs at all.  A
--    day is ample; the function refuses less than an hour.  Signal ids are
--    version 7 UUIDs, so "older than" is a range of the key's leading
--    column (no index on seen_at, no scan of the table); seen_at is checked
--    as well, so an id from a skewed clock is never taken for an old one.
--    SECURITY DEFINER like tenants_with_due_runs (0009): alexus_app has no
--    DELETE on any table, and gets this one bounded delete instead.

ALTER TABLE alert_history DROP CONSTRAINT alert_history_tenant_id_alert_id_fkey;
DROP INDEX incidents_recent;
ALTER TABLE alerts DROP CONSTRAINT alerts_tenant_id_fkey;
ALTER TABLE alert_history DROP CONSTRAINT alert_history_pkey;
DROP INDEX alert_history_alert;
ALTER TABLE alert_history ADD PRIMARY KEY (tenant_id, alert_id, id);

-- Deletes at most max_rows claims older than older_than, of one tenant or
-- (tenant NULL) of all; returns how many.  Call it until it returns less
-- than max_rows.
CREATE FUNCTION signals_prune(p_tenant text, p_older_than interval, p_max_rows integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	cutoff  timestamptz := now() - p_older_than;
	key     uuid;
	n       integer;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
	               WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'signals_prune(): its owner % is subject to row-level '
		                'security and would see no claim', current_user
			USING ERRCODE = '42501';
	END IF;
	IF p_older_than IS NULL OR p_older_than < interval '1 hour' THEN
		RAISE EXCEPTION 'signals_prune(): older_than % is under an hour; a claim must '
		                'outlive any redelivery of its entry', p_older_than
			USING ERRCODE = '22023';
	END IF;
	IF p_max_rows IS NULL OR p_max_rows < 1 OR p_max_rows > 1000000 THEN
		RAISE EXCEPTION 'signals_prune(): max_rows % is not in 1..1000000', p_max_rows
			USING ERRCODE = '22023';
	END IF;
	-- The smallest version 7 UUID of the cutoff's millisecond: 48 bits of
	-- Unix milliseconds first, then zeros.
	key := (pg_catalog.lpad(pg_catalog.to_hex((extract(epoch FROM cutoff) * 1000)::bigint),
	                        12, '0') || '00000000000000000000')::uuid;
	DELETE FROM public.signals_seen s
	WHERE (s.signal_id, s.tenant_id) IN (
		SELECT o.signal_id, o.tenant_id FROM public.signals_seen o
		WHERE o.signal_id < key AND o.seen_at < cutoff
		  AND (p_tenant IS NULL OR o.tenant_id = p_tenant)
		ORDER BY o.signal_id LIMIT p_max_rows);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION signals_prune(text, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION signals_prune(text, interval, integer) TO alexus_app;
