-- 0002_webhook_tokens.sql - per-tenant webhook tokens and source signing
-- secrets: the credentials of senders that cannot mint a JWT.
--
-- Postgres is the source of truth; `alexusctl token ...` and `alexusctl
-- source secret ...` write here first, then mirror into Redis, where ingest
-- reads them (proto/keys.md: alexus:whtoken:<sha256>, t:{tenant}:secrets).
-- `alexusctl auth sync` rebuilds the Redis side from these tables.
--
-- Nothing secret is stored in the clear: a token is kept only as the hex
-- SHA-256 of its text ("axw_" + 43 base64url characters, 32 random bytes),
-- and a signing secret only sealed with the tenant's key (common/crypto.h:
-- crypto_secretbox with a key derived from ALEXUS_MASTER_KEY).

CREATE TABLE webhook_tokens (
	tenant_id     text NOT NULL REFERENCES tenants(id),
	id            uuid NOT NULL DEFAULT gen_random_uuid(),
	name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
	-- hex SHA-256 of the whole token text; unique across tenants, so a
	-- token maps to exactly one tenant (constraints are not subject to RLS)
	token_sha256  text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
	created_at    timestamptz NOT NULL DEFAULT now(),
	revoked_at    timestamptz,
	PRIMARY KEY (tenant_id, id)
);
-- A name identifies one active token of a tenant (revoke --name); revoked
-- ones keep their name for the record.
CREATE UNIQUE INDEX webhook_tokens_active_name ON webhook_tokens (tenant_id, name)
	WHERE revoked_at IS NULL;

-- One row per secret; a source may hold several at once while the sender's
-- secret is being rotated (a request signed with any of them passes).
CREATE TABLE source_secrets (
	tenant_id          text NOT NULL REFERENCES tenants(id),
	id                 bigint GENERATED ALWAYS AS IDENTITY,
	source             text NOT NULL CHECK (source ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
	secret_ciphertext  bytea NOT NULL,     -- crypto_secretbox_easy output (MAC + text)
	secret_nonce       bytea NOT NULL CHECK (octet_length(secret_nonce) = 24),
	created_at         timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id)
);
CREATE INDEX source_secrets_source ON source_secrets (tenant_id, source, created_at DESC);

-- Row-level security exactly as on the tenant tables of 0001.
DO $$
DECLARE
	tbl text;
BEGIN
	FOREACH tbl IN ARRAY ARRAY['webhook_tokens', 'source_secrets'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant()) '
		               'WITH CHECK (tenant_id = app_tenant())', tbl);
	END LOOP;
END
$$;

-- The daemons may read (a future ingest fallback when Redis lost a key);
-- only the owner, through alexusctl, writes.
GRANT SELECT ON webhook_tokens, source_secrets TO alexus_app;
