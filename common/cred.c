/* cred.c - tenant credentials in tenant_credentials (see cred.h).
 *
 * Design: a thin layer between the AEAD of crypto.c and one table.  Each
 * row keeps (key_id, nonce, ciphertext); the key id names the master key
 * the value was sealed under, so several master keys can be live during a
 * rotation and a row always says which one opens it.  bytea travels as
 * text in the hex form ('\x...' in, encode(..., 'hex') out) because
 * ax_pg_exec binds text parameters only; only ciphertext and nonces take
 * that path, never a value.
 *
 * Plaintext exists in exactly two places: the caller's buffers (put's
 * input, get's output) and, during ax_cred_rotate, one stack buffer that is
 * wiped before the next row.  get decrypts straight into the caller's
 * buffer so there is no second copy to forget.
 *
 * The keyring comes from the configuration: ALEXUS_MASTER_KEY under
 * ALEXUS_MASTER_KEY_ID, and ALEXUS_MASTER_KEYS (older keys, for opening
 * while a rotation is under way). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alexus/config.h"
#include "alexus/cred.h"
#include "alexus/keys.h"
#include "alexus/mem.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

int ax_cred_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || strlen(name) > AX_CRED_NAME_MAX)
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

ax_err ax_cred_keyring_config(struct ax_keyring *kr, const struct ax_config *cfg, char *errbuf,
			      size_t errlen)
{
	return ax_keyring_init(kr, cfg->master_key, cfg->master_key_id, cfg->master_keys, errbuf,
			       errlen);
}

void ax_cred_wipe(void *buf, size_t len)
{
	if (buf != NULL)
		sodium_memzero(buf, len);
}

/* bytea input text for n bytes: "\x" then hex.  New string. */
static char *bytea_hex(const unsigned char *b, size_t n)
{
	char *s = ax_xmalloc(2 * n + 3);

	s[0] = '\\';
	s[1] = 'x';
	sodium_bin2hex(s + 2, 2 * n + 1, b, n);
	return s;
}

/* encode(x, 'hex') text into out (max bytes); -1 when it is not hex or
 * does not fit. */
static int unhex(const char *hex, unsigned char *out, size_t max, size_t *n)
{
	size_t len = strlen(hex);

	*n = 0;
	if (len % 2 != 0 || len / 2 > max)
		return -1;
	return sodium_hex2bin(out, max, hex, len, NULL, n, NULL) == 0 && *n == len / 2 ? 0 : -1;
}

static int args_ok(const char *tenant, const char *name, char *errbuf, size_t errlen)
{
	if (!ax_tenant_valid(tenant)) {
		ax_errfmt(errbuf, errlen, "invalid tenant id");
		return 0;
	}
	if (!ax_cred_name_valid(name)) {
		ax_errfmt(errbuf, errlen, "invalid credential name: use 1 to %d of A-Z, a-z, 0-9, "
			  "'.', '_' and '-', starting with a letter or digit", AX_CRED_NAME_MAX);
		return 0;
	}
	return 1;
}

/* Seal value for (tenant, name) and write the row.  put inserts or
 * replaces (updated_at moves); rotate updates the row it has locked and
 * leaves updated_at alone, since the value did not change. */
static ax_err store(struct ax_pg *pg, const struct ax_keyring *kr, const char *tenant,
		    const char *name, const unsigned char *value, size_t len, int rotate,
		    unsigned int *key_id, char *errbuf, size_t errlen)
{
	static const char upsert[] =
		"INSERT INTO tenant_credentials (tenant_id, name, key_id, nonce, ciphertext)"
		" VALUES ($1, $2, $3::int, $4::bytea, $5::bytea)"
		" ON CONFLICT (tenant_id, name) DO UPDATE SET key_id = excluded.key_id,"
		" nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = now()";
	static const char update[] =
		"UPDATE tenant_credentials SET key_id = $3::int, nonce = $4::bytea,"
		" ciphertext = $5::bytea WHERE tenant_id = $1 AND name = $2";
	unsigned char nonce[AX_AEAD_NONCE_BYTES], *ct;
	char id[16], *nonce_hex, *ct_hex;
	const char *params[5];
	unsigned int kid = 0;
	PGresult *res;
	size_t ctlen;
	ax_err rc;

	ct = ax_xmalloc(len + AX_AEAD_MAC_BYTES);
	rc = ax_crypto_cred_seal(kr, tenant, name, value, len, nonce, ct, &ctlen, &kid);
	if (rc != AX_OK) {
		free(ct);
		ax_errfmt(errbuf, errlen, "cannot seal credential '%s' (no current master key?)",
			  name);
		return rc;
	}
	snprintf(id, sizeof(id), "%u", kid);
	nonce_hex = bytea_hex(nonce, sizeof(nonce));
	ct_hex = bytea_hex(ct, ctlen);
	free(ct);
	params[0] = tenant;
	params[1] = name;
	params[2] = id;
	params[3] = nonce_hex;
	params[4] = ct_hex;
	res = ax_pg_exec(pg, errbuf, errlen, rotate ? update : upsert, 5, params);
	free(nonce_hex);
	free(ct_hex);
	if (res == NULL)
		return AX_EIO;
	rc = rotate && strcmp(PQcmdTuples(res), "1") != 0 ? AX_ENOTFOUND : AX_OK;
	PQclear(res);
	if (rc != AX_OK) {
		ax_errfmt(errbuf, errlen, "credential '%s' vanished during the rotation", name);
		return rc;
	}
	if (key_id != NULL)
		*key_id = kid;
	return AX_OK;
}

ax_err ax_cred_put(struct ax_pg *pg, const struct ax_keyring *kr, const char *tenant,
		   const char *name, const unsigned char *value, size_t len, unsigned int *key_id,
		   char *errbuf, size_t errlen)
{
	if (!args_ok(tenant, name, errbuf, errlen))
		return AX_EINVAL;
	if (value == NULL || len == 0 || len > AX_CRED_VALUE_MAX) {
		ax_errfmt(errbuf, errlen, "a credential value is 1 to %d bytes", AX_CRED_VALUE_MAX);
		return AX_EINVAL;
	}
	return store(pg, kr, tenant, name, value, len, 0, key_id, errbuf, errlen);
}

/* Open one row's (key_id, nonce hex, ciphertext hex) into buf. */
static ax_err open_row(const struct ax_keyring *kr, const char *tenant, const char *name,
		       const char *key_id, const char *nonce_hex, const char *ct_hex,
		       unsigned char *buf, size_t bufsize, size_t *len, char *errbuf,
		       size_t errlen)
{
	unsigned char nonce[AX_AEAD_NONCE_BYTES], *ct;
	size_t nlen, ctlen;
	unsigned int kid;
	char *end;
	unsigned long v;
	ax_err rc;

	v = strtoul(key_id, &end, 10);
	if (*end != '\0' || v < 1 || v > AX_KEY_ID_MAX) {
		ax_errfmt(errbuf, errlen, "credential '%s' has a bad key id", name);
		return AX_EPROTO;
	}
	kid = (unsigned int)v;
	ct = ax_xmalloc(AX_CRED_VALUE_MAX + AX_AEAD_MAC_BYTES);
	if (unhex(nonce_hex, nonce, sizeof(nonce), &nlen) != 0 || nlen != sizeof(nonce) ||
	    unhex(ct_hex, ct, AX_CRED_VALUE_MAX + AX_AEAD_MAC_BYTES, &ctlen) != 0 ||
	    ctlen < AX_AEAD_MAC_BYTES) {
		free(ct);
		ax_errfmt(errbuf, errlen, "credential '%s' is not a sealed value", name);
		return AX_EPROTO;
	}
	if (bufsize < ctlen - AX_AEAD_MAC_BYTES + 1) {
		free(ct);
		ax_errfmt(errbuf, errlen, "credential '%s' is %zu bytes, more than the buffer "
			  "holds", name, ctlen - AX_AEAD_MAC_BYTES);
		return AX_ETOOBIG;
	}
	rc = ax_crypto_cred_open(kr, kid, tenant, name, nonce, ct, ctlen, buf, len);
	free(ct);
	if (rc == AX_ENOTFOUND) {
		ax_errfmt(errbuf, errlen, "credential '%s' is sealed under key id %u, which is "
			  "neither ALEXUS_MASTER_KEY nor in ALEXUS_MASTER_KEYS", name, kid);
		return AX_EAUTH;
	}
	if (rc != AX_OK) {
		ax_errfmt(errbuf, errlen, "credential '%s' (key id %u) does not open: another "
			  "master key under that id, or the row was altered or copied", name, kid);
		return AX_EAUTH;
	}
	return AX_OK;
}

ax_err ax_cred_get(struct ax_pg *pg, const struct ax_keyring *kr, const char *tenant,
		   const char *name, unsigned char *buf, size_t bufsize, size_t *len, char *errbuf,
		   size_t errlen)
{
	const char *params[2] = { tenant, name };
	PGresult *res;
	ax_err rc;

	*len = 0;
	if (buf == NULL || bufsize == 0) {
		ax_errfmt(errbuf, errlen, "no buffer");
		return AX_EINVAL;
	}
	sodium_memzero(buf, bufsize);
	if (!args_ok(tenant, name, errbuf, errlen))
		return AX_EINVAL;
	res = ax_pg_exec(pg, errbuf, errlen,
			 "SELECT key_id, encode(nonce, 'hex'), encode(ciphertext, 'hex')"
			 " FROM tenant_credentials WHERE tenant_id = $1 AND name = $2",
			 2, params);
	if (res == NULL)
		return AX_EIO;
	if (PQntuples(res) != 1) {
		PQclear(res);
		ax_errfmt(errbuf, errlen, "tenant '%s' has no credential '%s'", tenant, name);
		return AX_ENOTFOUND;
	}
	rc = open_row(kr, tenant, name, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
		      PQgetvalue(res, 0, 2), buf, bufsize, len, errbuf, errlen);
	PQclear(res);
	if (rc != AX_OK) {
		sodium_memzero(buf, bufsize);
		*len = 0;
	}
	return rc;
}

ax_err ax_cred_delete(struct ax_pg *pg, const char *tenant, const char *name, char *errbuf,
		      size_t errlen)
{
	const char *params[2] = { tenant, name };
	PGresult *res;
	int gone;

	if (!args_ok(tenant, name, errbuf, errlen))
		return AX_EINVAL;
	res = ax_pg_exec(pg, errbuf, errlen,
			 "DELETE FROM tenant_credentials WHERE tenant_id = $1 AND name = $2", 2,
			 params);
	if (res == NULL)
		return AX_EIO;
	gone = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	if (!gone) {
		ax_errfmt(errbuf, errlen, "tenant '%s' has no credential '%s'", tenant, name);
		return AX_ENOTFOUND;
	}
	return AX_OK;
}

ax_err ax_cred_list(struct ax_pg *pg, const char *tenant, struct ax_cred_info **out, size_t *n,
		    char *errbuf, size_t errlen)
{
	const char *params[1] = { tenant };
	struct ax_cred_info *v;
	PGresult *res;
	int i, rows;

	*out = NULL;
	*n = 0;
	if (!ax_tenant_valid(tenant)) {
		ax_errfmt(errbuf, errlen, "invalid tenant id");
		return AX_EINVAL;
	}
	res = ax_pg_exec(pg, errbuf, errlen,
			 "SELECT name, key_id, " TS("created_at") ", " TS("updated_at")
			 " FROM tenant_credentials WHERE tenant_id = $1 ORDER BY name",
			 1, params);
	if (res == NULL)
		return AX_EIO;
	rows = PQntuples(res);
	if (rows == 0) {
		PQclear(res);
		return AX_OK;
	}
	v = ax_xcalloc((size_t)rows, sizeof(*v));
	for (i = 0; i < rows; i++) {
		snprintf(v[i].name, sizeof(v[i].name), "%s", PQgetvalue(res, i, 0));
		v[i].key_id = (unsigned int)strtoul(PQgetvalue(res, i, 1), NULL, 10);
		snprintf(v[i].created_at, sizeof(v[i].created_at), "%s", PQgetvalue(res, i, 2));
		snprintf(v[i].updated_at, sizeof(v[i].updated_at), "%s", PQgetvalue(res, i, 3));
	}
	PQclear(res);
	*out = v;
	*n = (size_t)rows;
	return AX_OK;
}

ax_err ax_cred_rotate(struct ax_pg *pg, const struct ax_keyring *kr, const char *tenant,
		      long *rows, long *moved, char *errbuf, size_t errlen)
{
	const char *params[1] = { tenant };
	unsigned char plain[AX_CRED_VALUE_MAX + 1];
	PGresult *res;
	ax_err rc = AX_OK;
	size_t len;
	int i;

	*rows = 0;
	*moved = 0;
	if (!ax_tenant_valid(tenant)) {
		ax_errfmt(errbuf, errlen, "invalid tenant id");
		return AX_EINVAL;
	}
	if (kr == NULL || ax_keyring_master(kr, kr->current) == NULL) {
		ax_errfmt(errbuf, errlen, "no current master key");
		return AX_EINVAL;
	}
	res = ax_pg_exec(pg, errbuf, errlen,
			 "SELECT name, key_id, encode(nonce, 'hex'), encode(ciphertext, 'hex')"
			 " FROM tenant_credentials WHERE tenant_id = $1 ORDER BY name FOR UPDATE",
			 1, params);
	if (res == NULL)
		return AX_EIO;
	for (i = 0; i < PQntuples(res) && rc == AX_OK; i++) {
		const char *name = PQgetvalue(res, i, 0);

		rc = open_row(kr, tenant, name, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
			      PQgetvalue(res, i, 3), plain, sizeof(plain), &len, errbuf, errlen);
		if (rc == AX_OK)
			rc = store(pg, kr, tenant, name, plain, len, 1, NULL, errbuf, errlen);
		sodium_memzero(plain, sizeof(plain));
		if (rc == AX_OK) {
			(*rows)++;
			if (strtoul(PQgetvalue(res, i, 1), NULL, 10) != kr->current)
				(*moved)++;
		}
	}
	PQclear(res);
	return rc;
}
