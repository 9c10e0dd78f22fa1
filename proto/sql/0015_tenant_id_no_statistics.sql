-- 0015_tenant_id_no_statistics.sql - no planner statistics on tenant_id.
--
-- Every query a daemon runs is scoped to one tenant by row-level security
-- (tenant_id = app_tenant()).  Postgres estimates that condition from the
-- column's statistics, and those describe the mix of tenants, not the one
-- asking: when a big tenant fills the most-common-values list (or the
-- only tenant at the last ANALYZE was another one), every other tenant is
-- estimated at one row.  With one row expected, any index that starts
-- with tenant_id looks as good as the right one, and the planner took
-- alerts_fp, filtering the tenant's whole range, for lookups by incident
-- (make bench-latency: reason's retrieval of a new incident's alerts took
-- 342 ms, 38,908 rows filtered to find none).  Without statistics the
-- column gets the default equality selectivity (0.5 % of the table), so a
-- tenant is never "one row" and an index that also matches the query's
-- other columns always wins.  (The per-tenant share of a table is not
-- something a tenant-scoped query's plan should depend on.)
--
-- ANALYZE skips a column without a statistics target but leaves what it
-- collected before, so the old rows are deleted here when the migrating
-- role may (a superuser); otherwise a notice says so, and only databases
-- analysed before this migration keep the old estimate.
DO $$
DECLARE
	t regclass;
	su boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
	FOR t IN
		SELECT c.oid::regclass FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'tenant_id'
		  AND NOT a.attisdropped
	LOOP
		EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET STATISTICS 0', t);
		IF su THEN
			DELETE FROM pg_statistic s USING pg_attribute a
			WHERE s.starelid = t AND a.attrelid = t AND a.attname = 'tenant_id'
			  AND s.staattnum = a.attnum;
		END IF;
	END LOOP;
	IF NOT su THEN
		RAISE NOTICE '0015: not a superuser: tenant_id statistics collected before stay until '
		             'a superuser deletes them from pg_statistic';
	END IF;
END
$$;
