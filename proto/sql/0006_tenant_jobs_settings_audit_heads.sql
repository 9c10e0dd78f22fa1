-- 0006_tenant_jobs_settings_audit_heads.sql - what 0001-0005 left open in
-- issue 4: the tenant list of the periodic jobs, one home for a tenant's
-- settings, and a head for every audit chain.
--
-- 1. Periodic jobs (act's escalation, the 48-hour Resolution Quality Gate)
--    run as alexus_app, which row-level security confines to the tenant of
--    the transaction, yet they must find every tenant to scope to in turn.
--    active_tenant_ids() is a SECURITY DEFINER function returning the ids,
--    and nothing else, of the tenants not disabled (tenants.disabled_at,
--    new here).  A function and not a wider policy on tenants: alexus_app
--    still reads no other tenant's row or column of tenants, and has no
--    argument to pass that could change what the function reads.  Its
--    search_path is pinned (pg_temp last) so nobody's objects shadow the
--    ones it names, and only alexus_app may EXECUTE it.  It runs as its
--    owner, the migrating role, and sees every tenant only if that role
--    bypasses row-level security (a superuser or BYPASSRLS, which
--    `alexusctl audit verify` without --tenant already needs); for an
--    owner that does not, FORCE on tenants would leave the list empty, so
--    the function refuses (42501) instead of reporting "no tenants".
--
-- 2. Settings: tenant_settings (0003) is the one source of truth for the
--    confidence thresholds, autonomy and allowlists.  tenants.settings
--    (0001) keeps only what the walking skeleton put there, the
--    notify_webhook_url act posts incident events to, and a CHECK now
--    refuses any other key so no setting grows a second home.  Every
--    existing tenant gets its tenant_settings row of defaults here;
--    `alexusctl tenant create` writes it for new ones.  Readers still take
--    the column defaults when no row is found (a tenant made by other
--    means, such as a test's direct INSERT).  A database where some
--    tenants.settings holds another key fails this migration on the CHECK,
--    by name: nothing reads such a key; move its value to tenant_settings,
--    then migrate.
--
-- 3. Audit heads: the chain of 0001 shows an edited or deleted row by the
--    links after it, but the newest rows have no links after them, so the
--    owner could remove them unseen.  audit_heads holds, per tenant, how
--    many rows were ever appended and the hash of the last one, kept by an
--    AFTER INSERT trigger on audit_log that runs as its owner (SECURITY
--    DEFINER): alexus_app may read its own tenant's head but has no grant
--    to write one, so the only way for it to move the head is to append a
--    row.  `alexusctl audit verify` compares the chain it walked with the
--    head ("chain ends at row N but the head records M rows").  The head
--    counts appends, not seq, so it still disagrees after new rows were
--    appended on top of a truncated chain.  It does not stop an owner who
--    also rewrites the head, or turns triggers off while appending: the
--    owner can do anything; this makes the casual removal visible.
--
-- Backfills (settings rows, heads of existing chains) read and write
-- across tenants.  The migrating role owns these tables, and with FORCE
-- lifted a table's owner is exempt from its policies, superuser or not;
-- ALTER TABLE holds an ACCESS EXCLUSIVE lock until this migration's
-- transaction ends, so nobody else ever sees a table unforced, and no
-- audit row is appended between the head backfill and its trigger.

-- 1. The tenant list of the periodic jobs.
ALTER TABLE tenants ADD COLUMN disabled_at timestamptz;
COMMENT ON COLUMN tenants.disabled_at IS
	'set by the owner to take a tenant out of the periodic jobs (active_tenant_ids); '
	'NULL = active';

CREATE FUNCTION active_tenant_ids() RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
	               WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'active_tenant_ids(): its owner % is subject to row-level security '
		                'and would see no tenant', current_user
			USING ERRCODE = '42501',
			      HINT = 'ALTER FUNCTION active_tenant_ids() OWNER TO a role with '
			             'BYPASSRLS';
	END IF;
	RETURN QUERY SELECT t.id FROM public.tenants t WHERE t.disabled_at IS NULL ORDER BY t.id;
END
$$;
COMMENT ON FUNCTION active_tenant_ids() IS
	'ids of the tenants not disabled, for jobs that run as alexus_app over every tenant';
REVOKE ALL ON FUNCTION active_tenant_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION active_tenant_ids() TO alexus_app;

-- 2. Settings live in tenant_settings; tenants.settings is the notify webhook only.
ALTER TABLE tenants ADD CONSTRAINT tenants_settings_notify_only CHECK (
	CASE WHEN jsonb_typeof(settings) = 'object'
	     THEN settings - 'notify_webhook_url' = '{}'::jsonb AND
	          coalesce(jsonb_typeof(settings -> 'notify_webhook_url'), 'string') = 'string'
	     ELSE false END);
COMMENT ON COLUMN tenants.settings IS
	'only notify_webhook_url (act posts incident events there); '
	'every other setting is in tenant_settings';

ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenant_settings NO FORCE ROW LEVEL SECURITY;
INSERT INTO tenant_settings (tenant_id) SELECT id FROM tenants
ON CONFLICT (tenant_id) DO NOTHING;
ALTER TABLE tenant_settings FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;

-- 3. The head of each tenant's audit chain.
CREATE TABLE audit_heads (
	tenant_id   text NOT NULL REFERENCES tenants(id),
	row_count   bigint NOT NULL CHECK (row_count > 0),  -- rows ever appended
	last_hash   bytea NOT NULL,                         -- hash of the last one
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id)
);

ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY;
INSERT INTO audit_heads (tenant_id, row_count, last_hash)
SELECT DISTINCT ON (tenant_id) tenant_id, count(*) OVER (PARTITION BY tenant_id), hash
FROM audit_log ORDER BY tenant_id, seq DESC;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;

-- Runs as the owner: alexus_app, which cannot write audit_heads, moves
-- the head only by appending a row.
CREATE FUNCTION audit_head_advance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	INSERT INTO public.audit_heads AS h (tenant_id, row_count, last_hash)
	VALUES (NEW.tenant_id, 1, NEW.hash)
	ON CONFLICT (tenant_id) DO UPDATE
	SET row_count = h.row_count + 1, last_hash = EXCLUDED.last_hash, updated_at = now();
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit_head_advance() FROM PUBLIC;
CREATE TRIGGER audit_head_advance AFTER INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_head_advance();

ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_heads USING (tenant_id = app_tenant())
	WITH CHECK (tenant_id = app_tenant());
-- Read by `alexusctl audit verify --tenant`, which runs as alexus_app.
GRANT SELECT ON audit_heads TO alexus_app;
