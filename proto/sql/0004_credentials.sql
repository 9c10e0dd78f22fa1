-- 0004_credentials.sql - tenant credentials (Slack, Jira, LLM keys...),
-- encrypted, with the key id each value was sealed under.
--
-- A value is XChaCha20-Poly1305-IETF ciphertext (common/crypto.h,
-- ax_crypto_cred_seal): the key is derived from the master key of key_id
-- and the tenant, and (tenant, name, key_id) is authenticated with it, so
-- a ciphertext copied to another row, tenant or key id does not open.
-- Nothing here is plaintext; `alexusctl credentials list` shows names and
-- key ids only.  `alexusctl credentials rotate` re-encrypts rows under the
-- current key id (ALEXUS_MASTER_KEY_ID) while older ids stay listed in
-- ALEXUS_MASTER_KEYS.

CREATE TABLE tenant_credentials (
	tenant_id   text NOT NULL REFERENCES tenants(id),
	name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
	key_id      integer NOT NULL CHECK (key_id > 0),
	nonce       bytea NOT NULL CHECK (octet_length(nonce) = 24),
	-- ciphertext || 16-byte tag; values are at most 4096 bytes
	ciphertext  bytea NOT NULL CHECK (octet_length(ciphertext) BETWEEN 16 AND 4112),
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),   -- last time the value was set
	PRIMARY KEY (tenant_id, name)
);
-- rotate looks for rows not yet under the current key
CREATE INDEX tenant_credentials_key ON tenant_credentials (key_id);

-- Row-level security exactly as on the tenant tables of 0001.
ALTER TABLE tenant_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_credentials USING (tenant_id = app_tenant())
	WITH CHECK (tenant_id = app_tenant());

-- act and reason read credentials and may store ones they obtain (an OAuth
-- refresh, say); deleting is for the owner, through alexusctl.
GRANT SELECT, INSERT, UPDATE ON tenant_credentials TO alexus_app;
